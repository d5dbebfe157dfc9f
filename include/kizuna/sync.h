/*
 * The sync protocol of one link, sans I/O (docs/sync.md).
 *
 * A session consumes the frames its peer sent (kz_sync_receive) and produces
 * the frames to send (kz_sync_next); the caller moves bytes.  A frame is one
 * encoded SyncMsg; the transport adds the u32 length prefix.  The session
 * reads and writes the store (runs are ingested, and committed, before they
 * are acknowledged), and never touches sockets, files or the clock.
 *
 *   HELLO ──(Hello received; digests equal)──────────────▶ LIVE
 *     │  (kz_sync_start queued our Hello)                    ▲
 *     └──(digests differ: Vector sent)──▶ EXCHANGE ──────────┘
 *                                         (peer's Vector received and
 *                                          every run it lacked sent)
 *   any state ──(Bye received, bad frame, unknown version)──▶ CLOSED
 *
 * Flow control: at most opts.window bytes of run frames are unacknowledged;
 * the receiver acknowledges what it has committed.  In LIVE, a feed that
 * grows here (kz_sync_feed_grew) is pushed at once.  Urgent entries the
 * peer lacks (kz_store_urgent) go first, each alone with its own
 * signature, outside the window; then runs, the feed with the least left
 * first.
 */
#ifndef KIZUNA_SYNC_H
#define KIZUNA_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/entry.h"
#include "kizuna/log.h"
#include "kizuna/store.h"

#define KZ_SYNC_VERSION 1
/* The largest frame: a run of KZ_RUN_MAX_BYTES plus the message around it. */
#define KZ_SYNC_FRAME_MAX (KZ_RUN_MAX_BYTES + 4096)
/* Feeds one Vector may list (a mesh of municipal nodes has tens). */
#define KZ_SYNC_FEEDS_MAX 4096
/* Detached seqs one FeedTip of a Vector may list. */
#define KZ_SYNC_DETACHED_MAX 4096

struct kz_sync;

struct kz_sync_opts {
	size_t window;		/* unacknowledged run bytes; 0: 1 MiB */
	size_t run_entries;	/* entries per run sent; 0: 1,000 */
	size_t run_bytes;	/* op bytes per run sent; 0: 256 KiB */
	/*
	 * Whether a feed may be accepted from and forwarded to peers (admitted
	 * to the mesh); NULL: every feed.  Called from kz_sync_* only.
	 */
	bool (*accept_feed)(void *ctx, const uint8_t feed[32]);
	/* A run of feed added entries here: tell the other links. */
	void (*feed_grew)(void *ctx, const uint8_t feed[32]);
	/*
	 * A run or entry of feed was refused: why is a KZ_ERR_ code
	 * (KZ_ERR_NOT_FOUND: the feed is not admitted here).  May be NULL.
	 */
	void (*refused)(void *ctx, const uint8_t feed[32], int why);
	/*
	 * An entry of feed was stored (validly signed, in its chain) but its
	 * op bytes are no operation this node knows: why is kz_op_decode's
	 * error (KZ_ERR_BAD_UTF8, KZ_ERR_TOO_BIG, KZ_ERR_MALFORMED ...).  The
	 * workspace ignores it.  May be NULL.
	 */
	void (*inert)(void *ctx, const uint8_t feed[32], int why);
	void *ctx;
	const struct kz_logger *log;	/* borrowed, may be NULL */
	const char *peer_name;		/* for log lines, borrowed */
};

enum kz_sync_state {
	KZ_SYNC_HELLO,
	KZ_SYNC_EXCHANGE,
	KZ_SYNC_LIVE,
	KZ_SYNC_CLOSED
};

struct kz_sync_stats {
	uint64_t frames_in, frames_out;
	uint64_t bytes_in, bytes_out;		/* frame bytes, prefixes excluded */
	uint64_t entries_in, entries_out;	/* entries newly stored / sent */
	uint64_t runs_rejected;			/* refused by ingest or admission */
	uint64_t bad_frames;			/* that ended the session */
	uint64_t inert_in;			/* stored, op not understood */
	uint64_t urgent_in, urgent_out;		/* of those, entries alone */
	/* Entries still to send the peer (scheduled), and entries the peer
	 * said it holds that this node lacks (read from the store). */
	uint64_t pending_out, pending_in;
};

/*
 * A session over st (borrowed; must outlive it) for this node (its key,
 * copied).  opts is copied (NULL: defaults).  Returns 0 or KZ_ERR_NOMEM.
 */
int kz_sync_new(struct kz_sync **out, struct kz_store *st,
    const uint8_t node[32], const struct kz_sync_opts *opts);

/* Accepts NULL. */
void kz_sync_free(struct kz_sync *s);

/* Queues our Hello.  Returns 0 or a store error. */
int kz_sync_start(struct kz_sync *s);

/*
 * Consumes one frame from the peer.  Returns 0; KZ_ERR_MALFORMED or
 * KZ_ERR_TOO_BIG for a frame that is not a valid SyncMsg (the session is
 * CLOSED: the link should close); or a store error (KZ_ERR_FULL, KZ_ERR_DB,
 * ...: the run was not stored; the session says Bye with the reason and is
 * CLOSED, and a new session resumes from what was committed).  An urgent
 * entry alone that cannot be stored is only dropped (it comes again in its
 * run).  A run that the store refuses (gap,
 * bad signature, fork, not admitted) is counted and logged once, and the
 * session goes on.
 */
int kz_sync_receive(struct kz_sync *s, const uint8_t *frame, size_t len);

/*
 * The next frame to send: 0 with *frame (malloc'd, the caller frees) and
 * *len; 1 when nothing may be sent now (nothing due, or the window is
 * full); or an error.
 */
int kz_sync_next(struct kz_sync *s, uint8_t **frame, size_t *len);

/* feed grew in the store: in LIVE, schedule what the peer lacks of it. */
void kz_sync_feed_grew(struct kz_sync *s, const uint8_t feed[32]);

/*
 * After the feeds this node accepts changed (a node was admitted): sends
 * the peer a Vector marked "again" listing the feeds this session refused
 * as not admitted and now accepts, at what this node holds of them; the
 * peer sends them from there.  Nothing when there are none.  Returns 0 or
 * an error.
 */
int kz_sync_vector_again(struct kz_sync *s);

/*
 * Queues a Ping (a link with nothing to send for a keepalive interval
 * sends one, so its peer can tell it is alive).  Nothing before the Hello
 * exchange or after close.  Returns 0 or KZ_ERR_NOMEM.
 */
int kz_sync_ping(struct kz_sync *s);

/* Ends the session: queues a Bye carrying reason (the next frame out). */
int kz_sync_bye(struct kz_sync *s, const char *reason);

enum kz_sync_state kz_sync_state(const struct kz_sync *s);

/* True when nothing is due to send and nothing sent is unacknowledged. */
bool kz_sync_idle(const struct kz_sync *s);

/* The peer's node key once its Hello arrived (else NULL). */
const uint8_t *kz_sync_peer(const struct kz_sync *s);

/* Why the session closed ("" while open). */
const char *kz_sync_reason(const struct kz_sync *s);

void kz_sync_get_stats(const struct kz_sync *s, struct kz_sync_stats *out);

/* The 16-byte digest of this node's version vector (as Hello carries it). */
int kz_sync_vector_digest(struct kz_store *st,
    bool (*accept_feed)(void *ctx, const uint8_t feed[32]), void *ctx,
    uint8_t out[16]);

#endif
