/*
 * Bundles: what one node holds (or what another lacks) in a single file,
 * carried on a USB stick where no link exists.
 *
 *   "KZB1"
 *   u32 length | BundleHeader   (protobuf: source, target, created, items)
 *   u32 length | seal           (64 bytes: Ed25519 of the source node over
 *                                BLAKE2b-256("kizuna bundle 1" | header))
 *   u32 length | record ...     (an encoded Run per item, in item order)
 *
 * Authenticity comes from the runs' own signatures, so a bundle may travel
 * on an untrusted medium; the sealed header adds what the runs alone cannot
 * say: who wrote the bundle (a bundle from a node that is not a member is
 * refused whole), and what each record should be (feed, seqs, length and a
 * BLAKE2b-128 of its bytes), so a damaged record is named by feed and seq
 * and a truncated file reports the records it lacks.  A header whose seal
 * does not verify is not trusted at all: the records are then read one
 * after another and each run still stands or falls by its signature.
 *
 * All sizes are bounded before allocation: a header of at most
 * KZ_BUNDLE_HEADER_MAX bytes and KZ_BUNDLE_ITEMS_MAX items, records of at
 * most KZ_RUN_MAX_BYTES.
 */
#ifndef KIZUNA_BUNDLE_H
#define KIZUNA_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/entry.h"
#include "kizuna/keys.h"
#include "kizuna/store.h"

#define KZ_BUNDLE_MAGIC "KZB1"
#define KZ_BUNDLE_VERSION 1
#define KZ_BUNDLE_HEADER_MAX (64u * 1024 * 1024)
#define KZ_BUNDLE_ITEMS_MAX 1000000u
#define KZ_VECTOR_MAGIC "KZV1"

struct kz_bundle_item {
	uint8_t feed[KZ_PK_BYTES];
	uint64_t first_seq;
	uint32_t entries;
	bool alone;			/* an urgent entry with its own signature */
	uint8_t hash[16];
	uint32_t length;
};

struct kz_bundle_info {
	uint32_t version;
	uint8_t source[KZ_PK_BYTES];
	bool has_target;
	uint8_t target[KZ_PK_BYTES];
	uint64_t created_ms;
	struct kz_bundle_item *items;	/* in file order */
	size_t n_items;
	uint64_t entries;		/* sum over the items */
	uint64_t record_bytes;		/* sum of the records' lengths */
	bool sealed;			/* header read and its seal verified */
	int header_err;			/* why not sealed (0 when sealed) */
};

/* ---------------------------------------------------------------- writing */

struct kz_bundle_writer;

/*
 * Starts a bundle at path, sealed by source; target (may be NULL) names the
 * node it is for.  Records are spooled beside path and the file appears
 * under path only when kz_bundle_writer_close succeeds.  Returns 0,
 * KZ_ERR_IO (errno set) or KZ_ERR_NOMEM.
 */
int kz_bundle_writer_new(struct kz_bundle_writer **out, const char *path,
    const struct kz_keypair *source, const uint8_t *target, uint64_t created_ms);

/* Adds a run (borrowed); alone: an urgent entry read by kz_store_read_entry.
 * Returns 0, KZ_ERR_TOO_BIG (item limit), KZ_ERR_IO, KZ_ERR_FULL or a codec
 * error. */
int kz_bundle_writer_add(struct kz_bundle_writer *w, const struct kz_run *run,
    bool alone);

/* Writes header, seal and records, fsyncs, renames into place, frees w.
 * Returns 0, KZ_ERR_IO, KZ_ERR_FULL or KZ_ERR_NOMEM (nothing under path). */
int kz_bundle_writer_close(struct kz_bundle_writer *w);

/* Drops an unfinished bundle; accepts NULL. */
void kz_bundle_writer_free(struct kz_bundle_writer *w);

/* ---------------------------------------------------------------- reading */

struct kz_bundle_reader;

/*
 * Opens a bundle and reads its header.  Returns 0 (see
 * kz_bundle_reader_info()->sealed: a header that does not verify is
 * reported there, and reading goes on without it), KZ_ERR_IO (errno set),
 * KZ_ERR_MALFORMED (not a bundle: no magic, or no readable header frame) or
 * KZ_ERR_NOMEM.
 */
int kz_bundle_reader_new(struct kz_bundle_reader **out, const char *path);

const struct kz_bundle_info *kz_bundle_reader_info(const struct kz_bundle_reader *r);

/*
 * The next record: 0 with *run (caller frees) and *index (its item in a
 * sealed header, else its position in the file); 1 at the end; or an
 * error for the record at *index: KZ_ERR_CORRUPT (its bytes are not what
 * the header lists), KZ_ERR_MALFORMED or KZ_ERR_TOO_BIG (it does not
 * decode), KZ_ERR_TRUNCATED (the file ends inside it, or before a record
 * the header lists), KZ_ERR_IO.  After an error, kz_bundle_reader_ended()
 * says whether reading can go on: not after a file that ends, fails, or
 * holds a record length over the bound; then every later call returns the
 * same error, and a sealed header's items from *index on never arrive.
 */
int kz_bundle_reader_next(struct kz_bundle_reader *r, struct kz_run **run,
    size_t *index);

/* Whether the file can be read no further (see kz_bundle_reader_next). */
bool kz_bundle_reader_ended(const struct kz_bundle_reader *r);

/* File offset of the record last read or found damaged. */
uint64_t kz_bundle_reader_offset(const struct kz_bundle_reader *r);

void kz_bundle_reader_free(struct kz_bundle_reader *r);

/* ---------------------------------------------------------------- vectors */

/* What a node holds: per feed its contiguous tip and detached seqs. */
struct kz_vector_feed {
	uint8_t feed[KZ_PK_BYTES];
	uint64_t tip;
	uint64_t *detached;		/* ascending, all > tip */
	size_t n_detached;
};

struct kz_vector {
	uint8_t node[KZ_PK_BYTES];
	uint64_t created_ms;
	struct kz_vector_feed *feeds;	/* sorted by feed key */
	size_t n;
};

/* This store's vector (feeds, tips and detached entries).  Free with
 * kz_vector_free.  Returns 0 or a store error. */
int kz_vector_of_store(struct kz_store *st, const uint8_t node[KZ_PK_BYTES],
    uint64_t created_ms, struct kz_vector *out);

/* Writes a vector file atomically.  Returns 0, KZ_ERR_IO or KZ_ERR_FULL. */
int kz_vector_write(const char *path, const struct kz_vector *v);

/* Reads a vector file.  Returns 0, KZ_ERR_IO, KZ_ERR_MALFORMED,
 * KZ_ERR_TOO_BIG or KZ_ERR_NOMEM. */
int kz_vector_read(const char *path, struct kz_vector *out);

void kz_vector_free(struct kz_vector *v);

/* ---------------------------------------------------------------- export, import */

struct kz_bundle_summary {
	uint64_t feeds, runs, alone, entries, bytes;
};

/*
 * Writes to path every entry of st that the holder of `since` lacks (NULL:
 * everything): for each feed the runs past since's tip, and each urgent
 * entry held alone (detached here, or urgent past since's tip) that since
 * lacks.  Sealed by source; target may be NULL.  Writes nothing and
 * returns 1 when there is nothing to send.  Returns 0, 1, or an error.
 */
int kz_bundle_export(struct kz_store *st, const char *path,
    const struct kz_keypair *source, const uint8_t *target,
    const struct kz_vector *since, uint64_t now_ms, struct kz_bundle_summary *sum);

/* One record an import could not use. */
struct kz_bundle_problem {
	size_t index;			/* item (sealed) or file position */
	bool known;			/* feed/seqs below are known */
	uint8_t feed[KZ_PK_BYTES];
	uint64_t first_seq, last_seq;
	uint64_t offset;		/* in the file */
	int err;			/* KZ_ERR_ code */
	bool missing;			/* never read: the file ended before it */
};

struct kz_bundle_import_opts {
	/* Whether a feed may be accepted (admitted); NULL: every feed. */
	bool (*accept_feed)(void *ctx, const uint8_t feed[KZ_PK_BYTES]);
	/* Each record that could not be used; may be NULL. */
	void (*problem)(void *ctx, const struct kz_bundle_problem *p);
	/* A record added entries of feed (to push them on); may be NULL. */
	void (*grew)(void *ctx, const uint8_t feed[KZ_PK_BYTES]);
	void *ctx;
};

struct kz_bundle_report {
	uint64_t records, added, duplicate;
	uint64_t damaged, rejected, missing, forks;
	bool sealed;
	bool refused;			/* the source is not a member: nothing read */
	int stop_err;			/* a store error that ended the import, or 0 */
};

/*
 * Verifies every record of the bundle at path and ingests it into st,
 * idempotently (what is held is counted duplicate).  A sealed bundle whose
 * source accept_feed refuses is refused whole (report->refused, returns
 * KZ_ERR_NOT_FOUND).  Runs of feeds not (yet) accepted are tried again
 * after the rest, since the bundle may admit their node.  Damaged, refused
 * and missing records are reported through opts->problem and counted; the
 * import goes on past them.  Returns 0 (see the report), KZ_ERR_IO /
 * KZ_ERR_MALFORMED (not a readable bundle), KZ_ERR_NOT_FOUND (refused), or
 * a store error that stopped it (KZ_ERR_FULL, KZ_ERR_DB, KZ_ERR_NOMEM).
 */
int kz_bundle_import(struct kz_store *st, const char *path,
    const struct kz_bundle_import_opts *opts, struct kz_bundle_report *report);

#endif
