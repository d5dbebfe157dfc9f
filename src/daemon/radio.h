/*
 * A KISS port on a libuv loop: a serial TNC on a tty, or a software TNC
 * (Direwolf, soundmodem) over TCP.  The framing is the pure codec of
 * kizuna/kiss.h; this file only moves bytes and keeps the port open.
 *
 * Each payload the layer above sends becomes one AX.25 UI frame
 * (mycall -> peercall, the configured PID; or the bare payload when ax25 is
 * off) in one KISS data frame on kiss_port.  Each KISS data frame received
 * on kiss_port whose header is well formed, addressed from peercall to
 * mycall with our PID, is handed up as its payload; everything else is
 * counted and dropped.  The port never reorders, never retransmits and
 * never checks payload integrity: the ARQ layer above does (a frame can be
 * truncated or, at KISS level, undetectably altered on a serial line).
 *
 * The port's states (on_state reports each change):
 *
 *   closed/waiting --timer: attempt()--> opening (tcp connect)
 *   opening --on_connect()/serial open ok: port_up()--> up (KISS
 *             parameters sent first)
 *   opening/up --error, EOF, hangup: port_down()--> closing handle
 *   closing handle --on_handle_closed()--> waiting (retry with backoff:
 *             0.5 s doubling to 10 s, +-20 %)
 *   any --kz_radio_close()--> drains the send queue (at most 2 s), TCP
 *             shutdown(), closes every handle, then done(arg) and frees
 */
#ifndef KZ_DAEMON_RADIO_H
#define KZ_DAEMON_RADIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "kizuna/kiss.h"
#include "kizuna/log.h"

/* Default frame limit: 256 payload bytes (AX.25's default N1) + header. */
#define KZ_RADIO_FRAME_DEFAULT (256 + KZ_AX25_HEADER_LEN)

/* Bytes of KISS frames queued to the device at most (kz_radio_send). */
#define KZ_RADIO_QUEUE_MAX (64 * 1024)

struct kz_radio;

struct kz_radio_opts {
	/* "/dev/ttyUSB0" (a serial TNC) or "tcp:HOST:PORT" with HOST an IPv4
	 * address, [IPv6] or localhost.  Borrowed; copied at open. */
	const char *device;
	unsigned speed;			/* serial baud rate (ignored on tcp) */
	unsigned kiss_port;		/* 0 .. 15 */
	bool ax25;			/* add and check the AX.25 UI header */
	char mycall[KZ_AX25_CALL_STR];	/* "JA1ABC-3" */
	char peercall[KZ_AX25_CALL_STR];
	uint8_t pid;
	unsigned txdelay_ms, persist, slottime_ms, txtail_ms;
	bool fullduplex;
	size_t frame_max;		/* the modem's frame limit, unescaped */
	const struct kz_logger *log;	/* borrowed, may be NULL */
};

struct kz_radio_stats {
	uint64_t frames_in;		/* payloads handed up */
	uint64_t frames_out;		/* payloads queued to the TNC */
	uint64_t bytes_in, bytes_out;	/* on the device (KISS, escaped) */
	/* frames dropped, by reason */
	uint64_t bad_oversize;		/* over frame_max */
	uint64_t bad_escape;		/* invalid KISS escape */
	uint64_t bad_header;		/* AX.25 header malformed */
	uint64_t non_data;		/* KISS command frames from the TNC */
	uint64_t other_port;		/* data frames of another KISS port */
	uint64_t not_for_us;		/* another destination, source or PID */
	uint64_t send_down;		/* sends refused: the port was down */
	uint64_t send_full;		/* sends refused: the queue was full */
	uint64_t ups, downs;		/* times the port came up / went down */
};

/*
 * Fills o with the defaults: speed 9600, KISS port 0, AX.25 on, PID
 * KZ_AX25_PID_KIZUNA, Direwolf's own channel-access defaults (TXDELAY
 * 300 ms, PERSIST 63, SLOTTIME 100 ms, TXTAIL 100 ms, half duplex), frame
 * limit KZ_RADIO_FRAME_DEFAULT.  device, mycall and peercall stay empty.
 */
void kz_radio_opts_default(struct kz_radio_opts *o);

/*
 * Checks o without opening anything.  Returns 0, or KZ_ERR_CONFIG with a
 * sentence in why (whylen bytes) naming the field: a device that is not a
 * path nor tcp:HOST:PORT, a speed not in the table (300 .. 230400), a KISS
 * port over 15, an invalid or missing callsign, a destination Direwolf
 * treats specially, PID 0xFF, a channel-access value out of range, or a
 * frame limit over KZ_KISS_FRAME_SAFE_MAX or without a payload byte.
 */
int kz_radio_check_opts(const struct kz_radio_opts *o, char *why,
    size_t whylen);

/*
 * Starts a port on loop: checks o (as above; the reason is logged), then
 * opens the device from a zero timer, so on_state and on_frame are never
 * called before this returns.  A device that cannot be opened is reported
 * through on_state(arg, false, why) and tried again with backoff.
 * on_frame gets each payload (borrowed, valid during the call); either
 * callback may call kz_radio_send or kz_radio_close.  Returns 0 with *out,
 * KZ_ERR_CONFIG or KZ_ERR_NOMEM.
 */
int kz_radio_open(uv_loop_t *loop, struct kz_radio **out,
    const struct kz_radio_opts *o,
    void (*on_frame)(void *arg, const uint8_t *payload, size_t len),
    void (*on_state)(void *arg, bool up, const char *why), void *arg);

/*
 * Queues one payload (copied) as one frame.  Returns 0, KZ_ERR_IO (the port
 * is down or closing: the frame is dropped, the ARQ above resends),
 * KZ_ERR_TOO_BIG (len over kz_radio_mtu, or the send queue is full:
 * kz_radio_queued tells which) or KZ_ERR_INVAL (an empty payload without
 * the AX.25 header).
 */
int kz_radio_send(struct kz_radio *r, const uint8_t *payload, size_t len);

/* The payload bytes one frame carries (frame_max less the header). */
size_t kz_radio_mtu(const struct kz_radio *r);

/* Bytes queued to the device and not yet written. */
size_t kz_radio_queued(const struct kz_radio *r);

bool kz_radio_up(const struct kz_radio *r);

void kz_radio_get_stats(const struct kz_radio *r, struct kz_radio_stats *out);

/*
 * Closes the port, libuv-style: what is queued is written first (for at
 * most 2 s), a TCP connection is shut down so the TNC sees EOF and frees
 * its client slot, every handle is closed, then done(arg) runs (done may
 * be NULL) and r is freed.  No callback runs after this returns, except
 * done.  Call it once; never free r otherwise.
 */
void kz_radio_close(struct kz_radio *r, void (*done)(void *arg));

#endif
