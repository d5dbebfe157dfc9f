/*
 * The store: a node's SQLite database of feeds, entries and signatures.
 *
 * One connection, used from one thread.  Every write is a short BEGIN
 * IMMEDIATE transaction committed with synchronous=FULL before the function
 * returns success: what a caller was told is stored survives kill -9 and
 * power loss (DESIGN invariant 3).  src/store/ is the only code holding SQL.
 *
 * Return codes: 0 or a negative KZ_ERR_* (kizuna/err.h).  SQLite's "disk
 * full" is KZ_ERR_FULL; other SQLite failures are KZ_ERR_DB and are logged.
 * A failed write leaves the store exactly as it was.
 */
#ifndef KIZUNA_STORE_H
#define KIZUNA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/entry.h"
#include "kizuna/keys.h"
#include "kizuna/log.h"

#define KZ_STORE_SCHEMA_VERSION 9

struct kz_store;

/*
 * Opens (creating if needed) the store at path and migrates it forward to
 * KZ_STORE_SCHEMA_VERSION.  log is borrowed and must outlive the store (may
 * be NULL).  Returns 0, KZ_ERR_SCHEMA if the file was written by a newer
 * program, KZ_ERR_DB, KZ_ERR_FULL or KZ_ERR_NOMEM.
 */
int kz_store_open(struct kz_store **out, const char *path,
    const struct kz_logger *log);

/* Closes and frees; accepts NULL and a store whose open failed half-way. */
void kz_store_free(struct kz_store *st);

/*
 * How far ahead of this node's wall clock a received entry's hlc may pull
 * the node's clock (kz_hlc_observe): 5 minutes.
 */
#define KZ_HLC_AHEAD_MAX_MS (5 * 60 * 1000ull)

/*
 * The wall clock the store bounds received clocks by (now_ms(ctx) in ms
 * since the epoch); NULL: CLOCK_REALTIME.  A simulator passes its own.
 */
void kz_store_set_clock(struct kz_store *st, uint64_t (*now_ms)(void *ctx),
    void *ctx);

/*
 * A peer holds author's feed up to tip; the caller tells only of the feed
 * this node writes (the sync session, of its own node key).  When tip is
 * past what the store holds (the node was restored from
 * an old backup), kz_store_append refuses with KZ_ERR_BEHIND until the
 * store has caught up to tip: appending now would fork its own feed.  The
 * bound lives in memory only (a restart forgets it; the next sync learns it
 * again).  Returns 0 or a store error.
 */
int kz_store_note_peer_tip(struct kz_store *st, const uint8_t author[32],
    uint64_t tip);

/* The schema version of the open store. */
int kz_store_schema_version(struct kz_store *st);

/*
 * Groups the following appends and ingests into one transaction, committed
 * by kz_store_commit (durably) or dropped by kz_store_rollback.  Nothing in
 * the group may be announced to anyone before kz_store_commit returns 0.
 * A call in the group that is refused before it writes anything (a gap, a
 * bad signature, an op too big) leaves the group as it was; one that fails
 * after writing (disk full, say) fails the group: later calls return its
 * error and kz_store_commit rolls the whole group back and returns it.
 *
 * Appends alone are each signed.  In a group, only the last entry appended
 * to a feed is signed (at commit): the hash chain authenticates those before
 * it, as on the wire, and a signature costs ~25 us and 64 bytes.  Append
 * entries that must travel alone with their own signature (urgent posts,
 * acknowledgements, safety statuses, membership) outside a group.  The key
 * pair passed to appends in a group is borrowed until the group ends.
 */
int kz_store_begin(struct kz_store *st);
int kz_store_commit(struct kz_store *st);
void kz_store_rollback(struct kz_store *st);

/*
 * A bulk group (an import): appends only, of one key pair, whose views are
 * brought up to date at kz_store_commit (or kz_store_bulk_apply) in one
 * pass instead of after every append, and whose feed row and clock are
 * read once.  Until then the views do not show the group's entries: a
 * caller that reads them (to skip what is already there) must remember
 * what it appended itself, or call kz_store_bulk_apply first.  Ingests in
 * a bulk group return KZ_ERR_INVAL.  Committed, the store holds the
 * entries and views the same appends in a plain group would have made;
 * only its search index is cut into segments differently (a bulk group
 * runs no merge steps: its commits flush large segments, which FTS5's
 * crisis merge folds).
 */
int kz_store_begin_bulk(struct kz_store *st);

/*
 * A bulk group's commit does not wait for the disk: a crash of the
 * program loses nothing, a power cut may lose the last bulk groups whole.
 * kz_store_sync waits until everything committed is on the disk; call it
 * before reporting a bulk job done.  KZ_ERR_INVAL inside a group.
 */
int kz_store_sync(struct kz_store *st);

/* In a bulk group, applies what it appended so far to the views; else 0. */
int kz_store_bulk_apply(struct kz_store *st);

/*
 * on: WAL checkpoints move to a thread of the store's own, with its own
 * connection, woken after each commit to copy it into the database file (a
 * passive checkpoint: it neither waits for nor blocks the writer), so that
 * a long run of commits (an import) only writes the WAL.  The writer still
 * checkpoints when the WAL holds 256 MiB, by then cheaply (the thread copied
 * most of it): only the writer's own checkpoint lets the WAL start over
 * while it keeps writing.  off (or kz_store_free): the thread ends, the
 * WAL is copied over and cut to nothing (unless a reader holds it), and
 * the writer checkpoints every 4 MiB again, as by default.  Returns 0,
 * KZ_ERR_NOMEM or KZ_ERR_DB.
 */
int kz_store_checkpoint_thread(struct kz_store *st, bool on);

/* Checkpoints the thread has run so far (0 without one). */
uint64_t kz_store_checkpoints(struct kz_store *st);

struct kz_appended {
	uint64_t seq;
	uint64_t hlc;
	uint8_t hash[KZ_HASH_BYTES];
};

/*
 * Appends op (copied) to kp's feed: next seq and prev hash read from the
 * store inside the transaction, hlc from kz_hlc_next(highest seen, wall_ms),
 * hashed, signed and stored; committed before return unless a group is
 * open.  Returns 0, KZ_ERR_TOO_BIG, KZ_ERR_FULL, KZ_ERR_DB, KZ_ERR_FORK (the
 * feed is flagged forked: this node must not write to it until an operator
 * resolves it), KZ_ERR_BEHIND (see kz_store_note_peer_tip).
 */
int kz_store_append(struct kz_store *st, const struct kz_keypair *kp,
    uint64_t wall_ms, const uint8_t *op, size_t op_len, struct kz_appended *out);

struct kz_op;

/*
 * kz_store_append for a caller that decoded the op already, on a thread of
 * its own (an import's reader), with kz_op_decode_hashed of exactly these
 * bytes: decoded is the store's from here on, whatever the result.  In a
 * bulk group the views then use it at kz_store_commit instead of reading
 * the entry back and decoding it again.  NULL, an op decoded from other
 * bytes (its src_hash is not the entry's op_hash) or one decoded without
 * its hash is dropped, and the entry is read back as usual: the store and
 * its views are the same either way.
 */
int kz_store_append_decoded(struct kz_store *st, const struct kz_keypair *kp,
    uint64_t wall_ms, const uint8_t *op, size_t op_len, struct kz_op *decoded,
    struct kz_appended *out);

struct kz_ingest_result {
	uint64_t added;		/* entries newly stored */
	uint64_t duplicate;	/* entries already held, identical */
	uint64_t tip;		/* the feed's tip afterwards */
	uint64_t fork_seq;	/* with KZ_ERR_FORK: first seq that differs */
};

/*
 * Ingests a run of one feed (borrowed) in one transaction: rebuilds the
 * headers from the stored chain, verifies the run's signature, stores the
 * entries past the tip.  Entries already held are checked and skipped, so
 * an overlapping run is accepted idempotently.  Returns:
 *   0               stored (res says how much was new)
 *   KZ_ERR_GAP      first_seq is past tip + 1; nothing changed
 *   KZ_ERR_CHAIN    the run's prev_hash is not the stored hash; nothing changed
 *   KZ_ERR_BAD_SIG  the signature does not cover the run as rebuilt (an
 *                   altered, missing or reordered entry, or a wrong key);
 *                   nothing changed
 *   KZ_ERR_FORK     validly signed but differs from a stored entry at
 *                   res->fork_seq: the run is kept as proof, the feed is
 *                   flagged, the stored (first-seen) branch stays served
 *   KZ_ERR_TOO_BIG, KZ_ERR_FULL, KZ_ERR_DB, KZ_ERR_NOMEM
 * res may be NULL.
 */
int kz_store_ingest(struct kz_store *st, const struct kz_run *run,
    struct kz_ingest_result *res);

/*
 * Ingests one urgent entry (kz_op_is_urgent) that travelled alone ahead of
 * its feed's backlog: run holds exactly that entry, with its prev_hash and
 * its own signature.  At or below the tip's next seq it is an ordinary run
 * of one (kz_store_ingest).  Past it, the header is built from the run
 * (prev_hash included), the signature verified, and the entry stored
 * detached: shown in the workspace at once, not part of the feed's tip
 * until a run reaches it with the very same hash.  Returns 0 (res->added 1
 * if new, res->duplicate 1 if held), KZ_ERR_INVAL (not one entry with prev
 * and op bytes), KZ_ERR_NOT_URGENT, KZ_ERR_BAD_SIG, KZ_ERR_FORK (another
 * entry is held at that seq: proof kept, feed flagged), or what
 * kz_store_ingest returns.
 */
int kz_store_ingest_entry(struct kz_store *st, const struct kz_run *run,
    struct kz_ingest_result *res);

/*
 * Reads entry seq of a feed as a run of one with its prev_hash and its own
 * signature, to send alone.  Returns 0, or KZ_ERR_NOT_FOUND (not held, its
 * op purged, or no signature of its own held).
 */
int kz_store_read_entry(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t seq, struct kz_run **out);

/*
 * The seqs (ascending, at most max, into seqs[]) of a feed's urgent entries
 * after seq `after` whose own signature this node holds: those that travel
 * alone.  *n says how many.
 */
int kz_store_urgent(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t after, uint64_t *seqs, size_t max, size_t *n);

/*
 * Calls cb for every detached entry (held above its feed's tip), ordered by
 * feed key and seq.  A non-zero return from cb stops the walk.
 */
int kz_store_detached(struct kz_store *st,
    int (*cb)(void *ctx, const uint8_t feed[KZ_PK_BYTES], uint64_t seq),
    void *ctx);

/*
 * The verified contiguous tip of a feed (0 and a zero hash for an unknown
 * feed).  hash may be NULL.
 */
int kz_store_tip(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t *seq, uint8_t hash[KZ_HASH_BYTES]);

/*
 * The hlc of entry seq of a feed (held in its chain or detached): one
 * indexed read, for the sync scheduler's "recent first" order.  Returns 0,
 * KZ_ERR_NOT_FOUND (not held; *hlc is 0) or a store error.
 */
int kz_store_entry_hlc(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t seq, uint64_t *hlc);

/*
 * Reads a run of a feed starting at from_seq, ending at an entry whose
 * signature this node holds, of at most max_entries entries and
 * max_bytes op bytes where a held signature allows (a run always has at
 * least one entry).  The caller owns *out (kz_run_free).  Returns 0,
 * KZ_ERR_NOT_FOUND (unknown feed or from_seq past the tip) or an error.
 */
int kz_store_read_run(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t from_seq, size_t max_entries, size_t max_bytes,
    struct kz_run **out);

struct kz_feed_info {
	uint8_t key[KZ_PK_BYTES];
	uint64_t tip;
	bool forked;
};

/*
 * Calls cb for every feed, ordered by key.  A non-zero return from cb stops
 * the walk and is returned.
 */
int kz_store_feeds(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_feed_info *feed), void *ctx);

/* One stored entry, borrowed for the duration of a callback. */
struct kz_entry_view {
	struct kz_entry_header h;
	uint8_t hash[KZ_HASH_BYTES];
	const uint8_t *op;	/* NULL when purged */
	size_t op_len;
};

/*
 * Calls cb for every stored entry in (hlc, author, seq) order.  A non-zero
 * return from cb stops the walk and is returned.
 */
int kz_store_log(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_entry_view *e), void *ctx);

/* One kept fork proof, borrowed for the duration of a callback. */
struct kz_fork_proof {
	uint8_t feed[KZ_PK_BYTES];
	uint64_t seq;			/* first seq at which the branches differ */
	uint8_t other_hash[KZ_HASH_BYTES]; /* the other branch's entry hash there */
	const uint8_t *run;		/* the other branch's run, kz_run_encode form */
	size_t run_len;
};

/*
 * Calls cb for every kept fork proof (by feed key, seq).  A non-zero return
 * from cb stops the walk and is returned.
 */
int kz_store_forks(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_fork_proof *proof), void *ctx);

struct kz_verify_report {
	uint64_t feeds;
	uint64_t entries;
	uint64_t signatures;
	bool ok;
	/* When !ok: the first bad entry found. */
	uint8_t bad_feed[KZ_PK_BYTES];
	uint64_t bad_seq;
	char reason[160];
};

/*
 * Re-hashes every stored entry and op, re-checks every chain link and
 * re-verifies every held signature.  Returns 0 with rep->ok telling the
 * outcome, or an error if the store could not be read.
 */
int kz_store_verify(struct kz_store *st, struct kz_verify_report *rep);

struct kz_store_stats {
	uint64_t feeds;
	uint64_t entries;
	uint64_t forks;		/* fork proofs kept */
	uint64_t db_bytes;	/* database plus WAL files */
	int schema_version;
};

int kz_store_stats(struct kz_store *st, struct kz_store_stats *stats);

/*
 * Rows written through this open store since it was opened (SQLite's
 * total changes, views included): a cheap test, for a poller on the same
 * thread, whether anything was stored since it last looked.
 */
uint64_t kz_store_changes(struct kz_store *st);

/*
 * A BLAKE2b-256 digest of every row of every table, in key order: equal
 * digests mean equal stored content.  For tests and diagnostics.
 */
int kz_store_content_digest(struct kz_store *st, uint8_t out[KZ_HASH_BYTES]);

#endif
