/*
 * Entries and runs: the signed, hash-chained records of a feed.
 *
 * Signed bytes of entry i of a feed (fixed layout, big-endian integers, so
 * every implementation rebuilds the same 120 bytes):
 *
 *   "KZE1" | author[32] | seq u64 | prev_hash[32] | hlc u64 | op_len u32 | op_hash[32]
 *
 *   op_hash = BLAKE2b-256(op bytes)       hash_i = BLAKE2b-256(signed bytes)
 *   sig_i   = Ed25519(author, hash_i)     prev_hash of seq 1 = 32 zero bytes
 *
 * The chain covers the op's hash, not its bytes, so a purged entry (op bytes
 * dropped) stays verifiable.  A run is a contiguous slice of one feed that
 * travels with a single signature, over its last entry's hash; the receiver
 * rebuilds author, seq and prev_hash itself (kz_run_hashes).
 */
#ifndef KIZUNA_ENTRY_H
#define KIZUNA_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/hlc.h"
#include "kizuna/keys.h"
#include "kizuna/util.h"

#define KZ_ENTRY_MAGIC "KZE1"
#define KZ_HEADER_BYTES 120
#define KZ_OP_MAX (64 * 1024)		/* largest operation, bytes */
#define KZ_RUN_MAX_ENTRIES 4096		/* most entries in one run */
#define KZ_RUN_MAX_BYTES (4 * 1024 * 1024) /* largest encoded run */
/* Largest seq: seqs are stored as SQLite's signed 64-bit integers. */
#define KZ_SEQ_MAX ((uint64_t)INT64_MAX)

struct kz_entry_header {
	uint8_t author[KZ_PK_BYTES];
	uint64_t seq;			/* 1, 2, 3 ... */
	uint8_t prev[KZ_HASH_BYTES];	/* hash of seq - 1, zeros for seq 1 */
	uint64_t hlc;
	uint32_t op_len;		/* <= KZ_OP_MAX */
	uint8_t op_hash[KZ_HASH_BYTES];
};

/* Writes the 120 signed bytes of h. */
void kz_header_encode(uint8_t out[KZ_HEADER_BYTES], const struct kz_entry_header *h);

/*
 * Parses signed bytes.  Returns 0, KZ_ERR_TRUNCATED if len is not exactly
 * KZ_HEADER_BYTES, KZ_ERR_MALFORMED on a wrong magic or seq 0, KZ_ERR_TOO_BIG
 * if op_len exceeds KZ_OP_MAX.
 */
int kz_header_decode(struct kz_entry_header *h, const uint8_t *in, size_t len);

/*
 * Fills h (author, seq, prev, hlc, op_len, op_hash) for op following prev, and
 * writes its signed bytes and hash.  Returns 0, KZ_ERR_TOO_BIG (op over
 * KZ_OP_MAX) or KZ_ERR_INVAL (seq 0).
 */
int kz_entry_build(struct kz_entry_header *h, uint8_t bytes[KZ_HEADER_BYTES],
    uint8_t hash[KZ_HASH_BYTES], const uint8_t author[KZ_PK_BYTES], uint64_t seq,
    const uint8_t prev[KZ_HASH_BYTES], uint64_t hlc, const uint8_t *op,
    size_t op_len);

/* ------------------------------------------------------------------ runs */

struct kz_run_entry {
	uint64_t hlc;
	const uint8_t *op;		/* NULL when purged (borrowed from the run) */
	uint32_t op_len;		/* the op's length, also when purged */
	uint8_t op_hash[KZ_HASH_BYTES];	/* meaningful when op is NULL */
};

struct kz_run {
	uint8_t author[KZ_PK_BYTES];
	uint64_t first_seq;
	size_t n;
	struct kz_run_entry *entries;
	uint8_t sig[KZ_SIG_BYTES];	/* over the hash of entries[n - 1] */
	bool has_prev;			/* prev is optional, for diagnosis */
	uint8_t prev[KZ_HASH_BYTES];
	/* Owned storage the entries' op pointers refer to. */
	void *pb;
	uint8_t *buf;
};

/*
 * Allocates a run with room for n entries (zeroed) and, when buf_len > 0, an
 * owned buffer run->buf of buf_len bytes for op bytes.  Free with kz_run_free.
 */
int kz_run_new(struct kz_run **out, size_t n, size_t buf_len);

/* Frees a run from kz_run_new or kz_run_decode; accepts NULL. */
void kz_run_free(struct kz_run *run);

/*
 * Decodes a run.  Accepts only the canonical encoding (the exact bytes that
 * kz_run_encode produces for the decoded value), so no bit of the input can
 * change without changing the value.  Checks every bound: at most
 * KZ_RUN_MAX_BYTES and KZ_RUN_MAX_ENTRIES, each op at most KZ_OP_MAX, key,
 * signature and hash sizes, seqs not overflowing.  Returns 0,
 * KZ_ERR_MALFORMED, KZ_ERR_TOO_BIG or KZ_ERR_NOMEM.  The caller owns *out.
 */
int kz_run_decode(struct kz_run **out, const uint8_t *buf, size_t len);

/*
 * Encodes a run into a malloc'd buffer the caller frees.  Returns 0,
 * KZ_ERR_INVAL (no entries, seq 0, an hlc over KZ_HLC_MAX or an op over
 * KZ_OP_MAX), KZ_ERR_TOO_BIG (over KZ_RUN_MAX_BYTES) or KZ_ERR_NOMEM.
 */
int kz_run_encode(uint8_t **out, size_t *out_len, const struct kz_run *run);

/*
 * Rebuilds the headers of a run that follows prev (the hash of entry
 * first_seq - 1; zeros when first_seq is 1) and writes each entry's hash into
 * hashes[i] and, if headers is not NULL, its signed bytes into headers[i].
 * Does not check the signature.  Returns 0 or KZ_ERR_TOO_BIG.
 */
int kz_run_rebuild(const struct kz_run *run, const uint8_t prev[KZ_HASH_BYTES],
    uint8_t (*hashes)[KZ_HASH_BYTES], uint8_t (*headers)[KZ_HEADER_BYTES]);

#endif
