/*
 * The sync protocol of one link, sans I/O (docs/sync.md).
 *
 * A session consumes the frames its peer sent (kz_sync_receive) and produces
 * the frames to send (kz_sync_next); the caller moves bytes.  A frame is one
 * encoded SyncMsg; the transport adds the u32 length prefix.  The session
 * reads and writes the store (runs are ingested, and committed, before they
 * are acknowledged), and never touches sockets, files or the clock: the
 * time, when an option needs it, comes from the caller's opts.now_ms.
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
 * grows here (kz_sync_feed_grew) is pushed at once (or, with
 * opts.live_delay_ms, after at most that long, several posts in one run).
 * Urgent entries the peer lacks (kz_store_urgent) go first, each alone with
 * its own signature, outside the window, and are checked before every run
 * frame; then runs, in opts.order.
 *
 * Slow links (docs/sync.md, "Slow links"): kz_sync_opts_slow_link sets small
 * runs, a small window, "recent first", batched acks and batched live
 * posts; the defaults (all zero) are those of a LAN link.
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

/* The order in which feeds' runs are sent (urgent entries always first). */
enum kz_sync_order {
	/* The feed with the fewest entries left first (a short feed, news of
	 * the last hours, before a long backlog).  The default. */
	KZ_SYNC_LEAST_LEFT = 0,
	/*
	 * Recent first: a feed whose newest entry to send is within
	 * opts.recent_ms of the newest entry any scheduled feed has to send is
	 * "recent" and goes before every other ("backfill"); within each
	 * class, the feed whose next entry to send is newest goes first (then
	 * the fewest left, then the order scheduled).  Within a feed the chain
	 * forces seq order.  docs/sync.md, "Slow links", states it exactly.
	 */
	KZ_SYNC_RECENT_FIRST = 1
};

struct kz_sync_opts {
	size_t window;		/* unacknowledged run bytes; 0: 1 MiB */
	size_t run_entries;	/* entries per run sent; 0: 1,000 */
	size_t run_bytes;	/* op bytes per run sent; 0: 256 KiB */
	/*
	 * Runs sent without their prev_hash (32 bytes that do not compress;
	 * optional in the protocol, for diagnosis: a run that does not link
	 * is then refused as KZ_ERR_BAD_SIG rather than KZ_ERR_CHAIN).
	 * Entries alone always carry it (their receiver needs it).
	 */
	bool omit_prev;
	enum kz_sync_order order;	/* 0: KZ_SYNC_LEAST_LEFT */
	uint64_t recent_ms;	/* with KZ_SYNC_RECENT_FIRST; 0: 24 hours */
	/*
	 * Acknowledgement batching.  0: a SyncAck after every run committed
	 * (as before).  Else a SyncAck goes when this many run-frame bytes
	 * are committed and unacknowledged, when the peer asks (a Ping), the
	 * first time this node holds everything the peer is known to hold
	 * (the end of a catch-up), or riding ahead of a run or entry this
	 * side sends anyway.  A session with ack_bytes set also asks its peer
	 * (a Ping after its runs) when its window is full, and while catching
	 * up (EXCHANGE) when it has nothing left and bytes are
	 * unacknowledged, so two such sessions never deadlock whatever their
	 * windows.  Keep it at most any peer's window (a peer that does not
	 * ask, at its defaults, has 1 MiB).  In LIVE, acks of live runs may
	 * wait for the threshold or a keepalive Ping (kz_sync_idle is false
	 * meanwhile).
	 */
	size_t ack_bytes;
	/*
	 * Live batching: in LIVE, entries that grow here wait up to this long
	 * (from the first of them) so that several travel as one run with one
	 * signature; a full run (run_entries) goes at once.  Urgent entries
	 * are never delayed.  Needs now_ms; 0 or no clock: pushed at once.
	 */
	uint32_t live_delay_ms;
	/*
	 * The caller's clock, in ms on any monotonic scale (the session never
	 * reads one itself), called with ctx from kz_sync_* only.  NULL: no
	 * clock, so nothing is delayed.
	 */
	uint64_t (*now_ms)(void *ctx);
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
	uint64_t runs_out;			/* run frames sent */
	uint64_t acks_out;			/* SyncAck frames sent */
	uint64_t asks_out;			/* Pings sent to ask for an ack */
	/* Entries still to send the peer (scheduled), and entries the peer
	 * said it holds that this node lacks (read from the store). */
	uint64_t pending_out, pending_in;
	/* The entries of the runs received, stored or not, and their stored
	 * size (KZ_HEADER_BYTES plus the op bytes, none when purged). */
	uint64_t sized_in, sized_bytes_in;
};

/*
 * A session over st (borrowed; must outlive it) for this node (its key,
 * copied).  opts is copied (NULL: defaults).  Returns 0 or KZ_ERR_NOMEM.
 */
int kz_sync_new(struct kz_sync **out, struct kz_store *st,
    const uint8_t node[32], const struct kz_sync_opts *opts);

/* Accepts NULL. */
void kz_sync_free(struct kz_sync *s);

/*
 * Sets o's airtime fields for a slow radio link (1200 baud, ~120 bytes/s
 * usable), leaving its callbacks, ctx, log and clock as they are: runs of
 * at most 16 entries and 1,536 op bytes without their prev_hash, a window
 * of 1,536 bytes (one run in flight), recent first (24 h), an ack per
 * window, live posts batched for 2 s.  The numbers' rationale is in
 * docs/sync.md, "Slow links".  Live batching works only with o->now_ms.
 */
void kz_sync_opts_slow_link(struct kz_sync_opts *o);

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
 * *len; 1 when nothing may be sent now (nothing due, the window is full,
 * or live runs are held back: kz_sync_wake says until when); or an error.
 * Call it until it returns 1.
 */
int kz_sync_next(struct kz_sync *s, uint8_t **frame, size_t *len);

/*
 * feed grew in the store: in LIVE, schedule what the peer lacks of it (its
 * urgent entries go on the next kz_sync_next; with live batching, its runs
 * after at most opts.live_delay_ms).
 */
void kz_sync_feed_grew(struct kz_sync *s, const uint8_t feed[32]);

/*
 * When kz_sync_next will have held-back runs to send (live batching): true
 * with *at_ms on the opts.now_ms clock, false when nothing is held.  The
 * caller calls kz_sync_next again (and sends) at that time.
 */
bool kz_sync_wake(const struct kz_sync *s, uint64_t *at_ms);

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

/*
 * Calls cb (with ctx) for each feed the peer is known to hold and the
 * highest seq it holds of it: its Vector's tips, raised by the runs either
 * side sent since (a run sent counts as held).  Feeds it did not list are
 * not called; cb NULL: none is.  Returns whether the tips are known: false,
 * calling nothing, until its Hello or Vector told them (equal digests in a
 * Hello say it holds exactly this node's tips).
 */
bool kz_sync_peer_tips(const struct kz_sync *s,
    void (*cb)(void *ctx, const uint8_t feed[32], uint64_t tip), void *ctx);

/* The 16-byte digest of this node's version vector (as Hello carries it). */
int kz_sync_vector_digest(struct kz_store *st,
    bool (*accept_feed)(void *ctx, const uint8_t feed[32]), void *ctx,
    uint8_t out[16]);

#endif
