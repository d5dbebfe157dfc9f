/*
 * KISS framing and the AX.25 UI header, sans I/O.
 *
 * A KISS TNC (a hardware modem on a serial port, or a software TNC such as
 * Direwolf over TCP) carries one frame per KISS frame:
 *
 *   FEND | type | escaped data | FEND        type = port << 4 | command
 *
 * where every FEND (0xC0) in the data is sent as FESC TFEND (0xDB 0xDC) and
 * every FESC (0xDB) as FESC TFESC (0xDB 0xDD).  Command 0 carries a data
 * frame; 1-5 set the TNC's channel-access parameters (one byte each, times
 * in units of 10 ms).
 *
 * The data frame is an AX.25 UI frame when the modem is a packet radio TNC:
 *
 *   dest(7) | src(7) [| digipeater(7) ...] | control 0x03 | PID | payload
 *
 * each address six characters (upper-case letters or digits, space padded)
 * shifted left one bit, then an SSID byte whose bit 0 marks the last
 * address.  The header this module writes is the 16-byte one with no
 * digipeaters.
 *
 * The deframer is a streaming state machine: bytes in any split, frames
 * out, one buffer of frame_max bytes allocated once, nothing per byte.
 * Errors never stop it; it counts them and resynchronises at the next FEND:
 *
 *   HUNT ──FEND──▶ FRAME ──FEND (nothing collected)──▶ FRAME   (back-to-back)
 *                  FRAME ──FEND──▶ (a data frame is returned, or a
 *                                   command frame counted) ──▶ FRAME
 *                  FRAME ──FESC──▶ ESCAPE ──TFEND/TFESC──▶ FRAME
 *                  ESCAPE ──any other byte: bad_escape──▶ HUNT
 *                  ESCAPE ──FEND: bad_escape──▶ FRAME (that FEND opens the next)
 *                  FRAME ──a byte past frame_max: oversize──▶ HUNT
 *   It starts in HUNT: bytes before the first FEND may be the tail of a
 *   frame the port joined half way, and are dropped.
 */
#ifndef KIZUNA_KISS_H
#define KIZUNA_KISS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KZ_KISS_FEND 0xC0
#define KZ_KISS_FESC 0xDB
#define KZ_KISS_TFEND 0xDC
#define KZ_KISS_TFESC 0xDD

/* KISS commands (the low nibble of the type byte). */
#define KZ_KISS_DATA 0x0
#define KZ_KISS_TXDELAY 0x1
#define KZ_KISS_PERSIST 0x2
#define KZ_KISS_SLOTTIME 0x3
#define KZ_KISS_TXTAIL 0x4
#define KZ_KISS_FULLDUP 0x5

#define KZ_KISS_PORT_MAX 15

/* Bytes kz_kiss_encode may write for len data bytes: two FENDs, the type
 * byte escaped (port 12's data type is 0xC0) and every data byte escaped. */
#define KZ_KISS_ENCODED_MAX(len) (2 * (size_t)(len) + 4)

/*
 * The largest frame (unescaped, without the type byte) that passes
 * Direwolf 1.6 whatever its bytes: Direwolf keeps at most 2,048 bytes of a
 * KISS frame as it arrives (FEND, type, escaped data) and silently
 * truncates the rest, so 2,046 escaped bytes, and 1,023 bytes if every one
 * needs escaping.  Frame limits above this are refused (kz_kiss_mtu).
 */
#define KZ_KISS_FRAME_SAFE_MAX 1023

/* Bytes of escaped data for len data bytes (each FEND and FESC counts 2). */
size_t kz_kiss_escaped_len(const uint8_t *data, size_t len);

/*
 * Writes one KISS frame (FEND, port << 4 | cmd, escaped data, FEND) into
 * out (cap bytes; KZ_KISS_ENCODED_MAX(len) always suffice).  data is
 * borrowed and may be NULL when len is 0.  Returns 0 with *outlen, or
 * KZ_ERR_INVAL (port > 15 or cmd > 15) or KZ_ERR_TOO_BIG (out too small).
 */
int kz_kiss_encode(uint8_t *out, size_t cap, size_t *outlen, unsigned port,
    unsigned cmd, const uint8_t *data, size_t len);

/*
 * The channel-access parameters a TNC is given when a port opens.  Times
 * are milliseconds, sent in units of 10 ms rounded up (a preamble shorter
 * than asked for loses replies: see docs/radio.md), each at most 2,550 ms.
 * persist is p-persistence p = (persist + 1) / 256.
 */
struct kz_kiss_params {
	unsigned txdelay_ms;	/* keyed carrier before the data */
	unsigned persist;	/* 0 .. 255 */
	unsigned slottime_ms;	/* wait between p-persistence tries */
	unsigned txtail_ms;	/* keyed carrier after the data */
	bool fullduplex;	/* transmit without carrier sense */
};

/* The bytes kz_kiss_encode_params may write: 5 commands of 1 byte. */
#define KZ_KISS_PARAMS_MAX (5 * KZ_KISS_ENCODED_MAX(1))

/*
 * Writes the five parameter commands (TXDELAY, PERSIST, SLOTTIME, TXTAIL,
 * FULLDUP, in that order) for port into out.  Returns 0 with *outlen,
 * KZ_ERR_INVAL (port > 15, a time over 2,550 ms, persist > 255) or
 * KZ_ERR_TOO_BIG (cap too small).
 */
int kz_kiss_encode_params(uint8_t *out, size_t cap, size_t *outlen,
    unsigned port, const struct kz_kiss_params *p);

struct kz_kiss_stats {
	uint64_t bytes;		/* fed in */
	uint64_t frames;	/* data frames returned */
	uint64_t oversize;	/* frames dropped: longer than frame_max */
	uint64_t bad_escape;	/* frames dropped: FESC not followed by
				 * TFEND or TFESC */
	uint64_t non_data;	/* command frames from the TNC, ignored */
	uint64_t dropped;	/* bytes discarded while hunting for a FEND */
};

struct kz_kiss_deframer;

/* One data frame, pointing into the deframer (valid until its next call). */
struct kz_kiss_frame {
	unsigned port;
	const uint8_t *data;
	size_t len;		/* 0 .. frame_max */
};

/*
 * A deframer for frames of at most frame_max bytes (the data, without the
 * type byte; 1 .. 65,535).  Returns 0, KZ_ERR_INVAL or KZ_ERR_NOMEM.
 */
int kz_kiss_deframer_new(struct kz_kiss_deframer **out, size_t frame_max);

/* Accepts NULL. */
void kz_kiss_deframer_free(struct kz_kiss_deframer *d);

/* Forgets a half-collected frame and hunts for a FEND (a new connection);
 * the counters stay. */
void kz_kiss_deframer_reset(struct kz_kiss_deframer *d);

/*
 * Consumes bytes from *p (*n of them, borrowed) until a whole data frame is
 * ready.  Returns 1 with *f filled and *p, *n advanced past the frame's
 * closing FEND, or 0 once every byte is consumed without completing one.
 * Call it again with the remaining bytes until it returns 0.  Malformed
 * input is counted (kz_kiss_deframer_stats), never an error.
 */
int kz_kiss_next(struct kz_kiss_deframer *d, const uint8_t **p, size_t *n,
    struct kz_kiss_frame *f);

void kz_kiss_deframer_stats(const struct kz_kiss_deframer *d,
    struct kz_kiss_stats *out);

/* ------------------------------------------------------------ AX.25 */

#define KZ_AX25_HEADER_LEN 16	/* dest, src, control, PID */
#define KZ_AX25_ADDR_LEN 7
#define KZ_AX25_DIGIS_MAX 8
#define KZ_AX25_CONTROL_UI 0x03
#define KZ_AX25_PID_NO_L3 0xF0	/* "no layer 3": APRS to Direwolf */
/*
 * kizuna's default PID: unassigned in the AX.25 2.2 table (not a layer 3
 * class, not NET/ROM 0xCF nor IP 0xCC), so no node on the channel parses
 * our frames as its own protocol, and not 0xF0, which Direwolf queues as
 * APRS and discards past 100 frames.  docs/radio.md explains the choice.
 */
#define KZ_AX25_PID_KIZUNA 0xF1

/* "JA1ABC-15" and a NUL. */
#define KZ_AX25_CALL_STR 10

/* A callsign: 1-6 upper-case letters or digits, and an SSID 0-15. */
struct kz_ax25_addr {
	char call[7];		/* NUL-terminated */
	uint8_t ssid;
};

/*
 * Parses "JA1ABC-3", "KIZUNA" (SSID 0) or "ja1abc-3" (letters are
 * upper-cased).  Returns 0, or KZ_ERR_INVAL with *why (static, may be NULL)
 * saying what is wrong: empty, more than 6 characters, a character other
 * than a letter or digit, an SSID that is missing, not a number without
 * leading zeros, or over 15.
 */
int kz_ax25_addr_parse(struct kz_ax25_addr *out, const char *s,
    const char **why);

/* Writes "JA1ABC-3", or "KIZUNA" when the SSID is 0. */
void kz_ax25_addr_format(char out[KZ_AX25_CALL_STR],
    const struct kz_ax25_addr *a);

bool kz_ax25_addr_equal(const struct kz_ax25_addr *a,
    const struct kz_ax25_addr *b);

/*
 * Destinations Direwolf treats specially on transmit (SPEECH, MORSE, DTMF;
 * any SSID): a frame sent to them is not transmitted as data.
 */
bool kz_ax25_dest_reserved(const struct kz_ax25_addr *a);

/*
 * Writes the 16-byte UI command header: dest (C bit set), src (C bit
 * clear, end-of-address bit set), control 0x03, pid.  Returns 0, or
 * KZ_ERR_INVAL when an address is not a valid callsign or pid is 0xFF
 * (AX.25's escape to a second PID byte).
 */
int kz_ax25_ui_header(uint8_t out[KZ_AX25_HEADER_LEN],
    const struct kz_ax25_addr *dest, const struct kz_ax25_addr *src,
    uint8_t pid);

/* A received UI frame's header. */
struct kz_ax25_ui {
	struct kz_ax25_addr dest, src;
	struct kz_ax25_addr digis[KZ_AX25_DIGIS_MAX];
	unsigned n_digis;
	uint8_t control;	/* 0x03, or 0x13 with the poll bit */
	uint8_t pid;
	size_t payload_off;	/* the payload is frame[payload_off .. len) */
};

/*
 * Reads the header of an AX.25 frame (without FCS, as KISS carries it).
 * Each address must be 1-6 letters or digits (shifted left one bit) then
 * spaces, with bit 0 clear in every byte but the last address's SSID byte;
 * at most 8 digipeaters; the control field a UI frame's; a PID present and
 * not 0xFF.  Returns 0 with *out, or KZ_ERR_TRUNCATED (the frame ends in
 * the header) or KZ_ERR_MALFORMED.  frame is borrowed.
 */
int kz_ax25_ui_parse(const uint8_t *frame, size_t len, struct kz_ax25_ui *out);

/*
 * The payload bytes a frame may carry for the layer above: frame_max (the
 * modem's limit on one frame, unescaped, without the KISS type byte) less
 * the 16-byte header when ax25.  Returns 0 with *mtu, or KZ_ERR_INVAL when
 * frame_max exceeds KZ_KISS_FRAME_SAFE_MAX or leaves no payload byte.
 */
int kz_kiss_mtu(size_t frame_max, bool ax25, size_t *mtu);

#endif
