/*
 * A secure link over a datagram channel (a radio modem), sans I/O: the
 * secure link (kz_link: Noise, compression, the sync protocol) on top of
 * the reliable link layer (kz_arq: fragments, CRC, selective repeat).
 *
 *   modem frames ──kz_rlink_input──▶ kz_arq ──stream──▶ kz_link ──▶ store
 *   modem frames ◀─kz_rlink_output── kz_arq ◀─stream── kz_link ◀── store
 *
 * What it adds to the two: pacing from above.  The secure link is asked
 * for bytes only while fewer than `lead` stream bytes sit in the ARQ
 * unacknowledged, and (with link.send_chunk 1) one sync frame at a time, so
 * an urgent entry written while a backlog is in flight waits behind at
 * most one frame and `lead` bytes, never behind the whole backlog.
 *
 * Ends when the ARQ goes down (the peer is silent, or restarted) or the
 * secure link closes and its last bytes were acknowledged; either way the
 * caller drops it and builds a new one for the next session (a new ARQ
 * session id, a new handshake).
 */
#ifndef KIZUNA_RLINK_H
#define KIZUNA_RLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/arq.h"
#include "kizuna/link.h"

struct kz_rlink;

struct kz_rlink_opts {
	struct kz_link_opts link;	/* the secure link (copied by it) */
	struct kz_arq_opts arq;		/* the link layer (copied) */
	size_t lead;			/* stream bytes queued in the ARQ ahead
					   of acknowledgement; 0: one burst of
					   full frames */
};

/*
 * Fills o for a radio modem of bit_rate bits/s: kz_arq_opts_radio, the
 * secure link with compression up to the dictionary at
 * KZ_LINK_LEVEL_RADIO and send_chunk 1, and kz_sync_opts_slow_link for
 * the sync session.  The caller sets link.st, link.node, link.network_key,
 * link.initiator, the sync callbacks and arq.session.
 */
void kz_rlink_opts_radio(struct kz_rlink_opts *o, uint32_t bit_rate);

/* Returns 0, KZ_ERR_INVAL (an option kz_arq_new or kz_link_new refuses)
 * or KZ_ERR_NOMEM. */
int kz_rlink_new(struct kz_rlink **out, const struct kz_rlink_opts *o,
    uint64_t now_ms);

/* Accepts NULL. */
void kz_rlink_free(struct kz_rlink *r);

/*
 * One frame from the modem (borrowed).  Returns 0, or the secure link's
 * error (the link is then closed: kz_rlink_ended once its Bye is out, and
 * kz_rlink_reason says why); a store error from the sync session leaves
 * it open (as kz_link_recv).
 */
int kz_rlink_input(struct kz_rlink *r, const uint8_t *frame, size_t len,
    uint64_t now_ms);

/*
 * The next frame for the modem now: 0 with it in frame (room for arq.mtu
 * bytes) and *len, 1 when none is due (kz_rlink_next_event says when to
 * ask again), or an error from the secure link.
 */
int kz_rlink_output(struct kz_rlink *r, uint64_t now_ms, uint8_t *frame,
    size_t *len);

/* When kz_rlink_output may have something (<= now_ms: now; UINT64_MAX:
 * nothing until the next input or a feed grows). */
uint64_t kz_rlink_next_event(const struct kz_rlink *r, uint64_t now_ms);

/* The session is over (see above); the caller frees it. */
bool kz_rlink_ended(const struct kz_rlink *r);

/* Why it ended ("" while running). */
const char *kz_rlink_reason(const struct kz_rlink *r);

/* The secure link, for kz_link_feed_grew, kz_link_ping, kz_link_peer and
 * kz_link_get_stats; the ARQ, for kz_arq_get_stats. */
struct kz_link *kz_rlink_link(struct kz_rlink *r);
struct kz_arq *kz_rlink_arq(struct kz_rlink *r);

#endif
