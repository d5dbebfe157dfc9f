/*
 * The reliable link layer for radio modems: selective-repeat ARQ, sans I/O.
 *
 * It sits under the secure channel (kz_link, a byte stream) and over a
 * datagram channel whose frames are at most `mtu` bytes (a KISS modem, a
 * LoRa modem, a UDP socket or a pipe; the AX.25 header and KISS framing are
 * added below by another module).  It delivers an exact byte stream in both
 * directions at once, or reports the link down: never a corrupted,
 * duplicated or reordered byte.  Bytes from above go in with kz_arq_write
 * and come out at the peer's kz_arq_read; frames go down with
 * kz_arq_output and come up with kz_arq_input; the time is always passed
 * in (milliseconds on any monotonic clock).
 *
 * Frame (big-endian, 22 bytes of overhead; docs/radio.md has the rationale):
 *
 *   off size field
 *    0   1   flags   bits 7-6 version (01), bit 5 POLL, bits 4-0 zero
 *    1   4   src     the sender's session id (nonzero)
 *    5   4   dst     the session the sender has locked onto (0 = none yet)
 *    9   2   ack     next seq the sender expects (all before it received)
 *   11   2   sack    bit i (LSB first) set: seq ack+1+i received too
 *   13   1   wnd     frames the sender will take from ack on (0..16)
 *   14   2   seq     this frame's sequence number (a pure ack: the next one)
 *   16   2   len     payload bytes (0: a pure ack)
 *   18   len payload a slice of the byte stream
 *   18+len 4 crc     CRC-32C (Castagnoli) of every byte before it
 *
 * ack, sack and wnd mean something only when dst is set.  A frame whose
 * size disagrees with its len field, or whose CRC does not match, is
 * dropped and counted (bad_crc); one with a valid CRC but an impossible
 * field is dropped and counted (malformed).  Neither changes any state.
 *
 * States of one end (transitions in src/sync/arq.c):
 *
 *   LOCKING ──the first valid frame addressed to us or to no one
 *             (lock_on)──▶ LOCKED
 *   LOCKING, LOCKED ──data pending and nothing valid heard for dead_ms
 *             (check_dead)──▶ DOWN
 *   LOCKED ──a frame from another session of the peer (kz_arq_input)──▶ DOWN
 *   DOWN is final.
 *
 *   On a half-duplex link, whose turn it is to transmit:
 *
 *   MINE ──a frame sent with POLL (sent_frame)──▶ YIELDED
 *   YIELDED ──a frame heard (on_frame_from), or the yield ran out──▶ MINE
 *   and the peer is busy from a frame heard without POLL until a POLL or
 *   ack_delay_ms of silence (on_frame_from).
 *
 * Reliability: every data frame carries a sequence number; the receiver
 * answers with its cumulative ack and a bitmap of what it holds beyond,
 * piggybacked on its own data or in a pure ack frame.  A frame is sent
 * again when a frame sent after it was acknowledged first (the link does
 * not reorder) or when the retransmission timeout (RFC 6298 srtt/rttvar,
 * Karn's rule, exponential backoff) expires.  Memory is fixed at
 * kz_arq_new: the send buffer (send_buffer bytes) and window receive slots
 * of mtu - KZ_ARQ_OVERHEAD bytes each, whatever a peer sends.
 */
#ifndef KIZUNA_ARQ_H
#define KIZUNA_ARQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KZ_ARQ_VERSION 1
#define KZ_ARQ_HEADER 18		/* bytes before the payload */
#define KZ_ARQ_TRAILER 4		/* the CRC-32C */
#define KZ_ARQ_OVERHEAD (KZ_ARQ_HEADER + KZ_ARQ_TRAILER)
#define KZ_ARQ_MTU_MIN 48
#define KZ_ARQ_MTU_MAX 2048
#define KZ_ARQ_WINDOW_MAX 16		/* what the 16-bit sack covers */

struct kz_arq;

struct kz_arq_opts {
	size_t mtu;			/* largest frame handed down, bytes
					   (KZ_ARQ_MTU_MIN..KZ_ARQ_MTU_MAX);
					   both ends use the same */
	uint32_t bytes_per_s;		/* airtime budget, 0 = unlimited */
	uint32_t frame_overhead;	/* bytes added below per frame (AX.25
					   16 + FCS and flag 3), for pacing */
	uint32_t tx_overhead_ms;	/* fixed cost of one transmission
					   (TXDELAY + TXTAIL), for pacing */
	bool half_duplex;		/* take turns; batch acks */
	uint16_t window;		/* max frames in flight and receive
					   slots (1..KZ_ARQ_WINDOW_MAX) */
	uint16_t burst;			/* frames per turn (half duplex) and
					   frames the modem may hold queued */
	uint32_t rto_initial_ms, rto_min_ms, rto_max_ms;
	uint32_t ack_delay_ms;		/* batch acks: half duplex, until the
					   peer was silent this long; full
					   duplex, at most this long */
	uint32_t dead_ms;		/* down after this long without a
					   valid frame while data is pending */
	size_t send_buffer;		/* bytes kz_arq_write accepts before
					   the oldest are acknowledged */
	uint32_t session;		/* this end's session id: nonzero,
					   random in production */
};

struct kz_arq_stats {
	uint64_t frames_out, bytes_out;	/* everything handed down, with
					   headers */
	uint64_t frames_in, bytes_in;	/* everything given to kz_arq_input */
	uint64_t data_frames;		/* frames sent with a payload, again
					   included */
	uint64_t retransmits;		/* of which sent again */
	uint64_t acks_sent;		/* pure ack frames sent */
	uint64_t data_in;		/* new payload frames taken */
	uint64_t bad_crc;		/* dropped: CRC or size mismatch */
	uint64_t malformed;		/* dropped: valid CRC, impossible field */
	uint64_t duplicates;		/* payload frames already held */
	uint64_t out_of_window;		/* payload frames beyond the window */
	uint64_t foreign;		/* addressed to another session */
	uint64_t timeouts;		/* retransmission timer expiries */
	uint64_t stream_out;		/* stream bytes acknowledged by the
					   peer */
	uint64_t stream_in;		/* stream bytes received in order */
	uint32_t srtt_ms, rttvar_ms, rto_ms;
	uint32_t peer;			/* the locked peer session, or 0 */
	uint64_t down_ms;		/* when the link went down, or 0 */
};

/*
 * Defaults for a KISS radio modem of bit_rate bits/s (1200 AFSK, 9600
 * G3RUH): MTU 200, half duplex, bursts of 8 frames, a budget of bit_rate/8
 * less 5 % for HDLC bit stuffing, 19 bytes of AX.25 per frame, 400 ms per
 * transmission (Direwolf's default TXDELAY + TXTAIL), timers scaled to the
 * airtime of a frame.  session is left 0: the caller sets it.
 */
void kz_arq_opts_radio(struct kz_arq_opts *o, uint32_t bit_rate);

/*
 * Defaults for a fast full-duplex datagram channel (a LAN, a pipe): MTU
 * 1400, no budget, acks at least every second frame.  session is left 0.
 */
void kz_arq_opts_lan(struct kz_arq_opts *o);

/*
 * Creates one end.  *o is copied.  Returns 0, KZ_ERR_INVAL (an option out
 * of range, session 0, rto_min > rto_initial > rto_max) or KZ_ERR_NOMEM.
 * now_ms is the current time.
 */
int kz_arq_new(struct kz_arq **out, const struct kz_arq_opts *o,
    uint64_t now_ms);

/* Accepts NULL. */
void kz_arq_free(struct kz_arq *a);

/*
 * Queues up to n stream bytes (p is copied); returns how many were taken:
 * what fits in the send buffer, 0 once the link is down.
 */
size_t kz_arq_write(struct kz_arq *a, const uint8_t *p, size_t n,
    uint64_t now_ms);

/*
 * One frame from below (borrowed).  Damaged, malformed, foreign, duplicate
 * or out-of-window frames are dropped and counted; a frame from a new
 * session of the locked peer takes the link down ("peer restarted").
 * Returns 0: bad input is never an error, and nothing is allocated here.
 */
int kz_arq_input(struct kz_arq *a, const uint8_t *frame, size_t len,
    uint64_t now_ms);

/*
 * Copies up to cap stream bytes received in order into buf; returns how
 * many.  Bytes received before the link went down can still be read.
 */
size_t kz_arq_read(struct kz_arq *a, uint8_t *buf, size_t cap);

/*
 * The next frame to hand down now: returns 0 with the frame in frame
 * (room for mtu bytes) and its size in *len, or 1 when nothing is due
 * (kz_arq_next_event says when to ask again).  Runs the timers: a call may
 * take the link down.  Call it until it returns 1.
 */
int kz_arq_output(struct kz_arq *a, uint64_t now_ms, uint8_t *frame,
    size_t *len);

/*
 * When kz_arq_output may have something to do: a time <= now_ms means
 * now, UINT64_MAX means nothing until the next write, read or input (an
 * idle link sends nothing).  After kz_arq_output returned 1 at now_ms the
 * answer is later than now_ms.
 */
uint64_t kz_arq_next_event(const struct kz_arq *a, uint64_t now_ms);

/* The link is down (for good; kz_arq_reason says why). */
bool kz_arq_down(const struct kz_arq *a);

/* Why the link went down ("" while up). */
const char *kz_arq_reason(const struct kz_arq *a);

/* Everything written so far was acknowledged by the peer. */
bool kz_arq_idle(const struct kz_arq *a);

void kz_arq_get_stats(const struct kz_arq *a, struct kz_arq_stats *out);

/* One frame, decoded: payload points into the frame it came from. */
struct kz_arq_frame {
	bool poll;
	uint32_t src, dst;
	uint16_t ack, sack;
	uint8_t wnd;
	uint16_t seq;
	const uint8_t *payload;		/* borrowed */
	size_t len;
};

/*
 * Encodes f into out (cap bytes); *n is the frame's size.  Returns 0,
 * KZ_ERR_TOO_BIG (it does not fit in cap or in KZ_ARQ_MTU_MAX) or
 * KZ_ERR_INVAL (src 0 or wnd over KZ_ARQ_WINDOW_MAX).
 */
int kz_arq_frame_encode(const struct kz_arq_frame *f, uint8_t *out,
    size_t cap, size_t *n);

/*
 * Decodes a frame of n bytes (borrowed; f->payload points into it).
 * Returns 0, KZ_ERR_TRUNCATED (shorter than the overhead, or a size other
 * than the len field says), KZ_ERR_CORRUPT (the CRC does not match: bits
 * damaged in transit) or KZ_ERR_MALFORMED (a valid CRC but another
 * version, reserved bits set, src 0, or wnd over KZ_ARQ_WINDOW_MAX).
 */
int kz_arq_frame_decode(struct kz_arq_frame *f, const uint8_t *frame,
    size_t n);

/* CRC-32C (Castagnoli, reflected, init and final xor 0xffffffff). */
uint32_t kz_arq_crc32c(const uint8_t *p, size_t n);

#endif
