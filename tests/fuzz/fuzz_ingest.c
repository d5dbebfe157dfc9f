/*
 * Fuzz target: ingesting runs into a store (kz_store_ingest), which also
 * files every entry as a workspace fact and applies the merge rules
 * (src/store/views.c) and the search index.
 *
 * Input: records of  flags u8 | length u16 (big-endian) | encoded Run.
 * Each record is decoded with kz_run_decode and ingested twice into a
 * fresh in-memory store whose mesh root is fixed node 0.  A signature
 * cannot be guessed, so a record with flags bit 0 set is first re-signed
 * by fixed node (flags >> 1 & 3) % 3 as the next run of that node's feed
 * (bit 3: keep the decoded first_seq, clamped to the tip + 1, to reach the
 * overlap and fork paths; bit 4: keep a decoded prev_hash instead of the
 * right one): the ops the fuzzer writes then reach the views.  Bit 5 with
 * a run of one entry: it travels alone (kz_store_ingest_entry), re-signed
 * (with bit 0) 0..3 seqs past the tip's next onto the decoded prev_hash,
 * so urgent ops land detached above the tip and later runs reach them.
 *
 * Invariants:
 *  - ingest returns only its documented codes, never KZ_ERR_DB/CORRUPT;
 *  - a refused run (gap, chain, bad signature) changes nothing;
 *  - ingesting the same run again changes nothing and adds nothing;
 *  - a run re-signed onto the right prev is accepted (or is a fork);
 *  - afterwards kz_store_verify finds every entry intact, the views equal
 *    a rebuild from scratch (views are a function of the entries), and the
 *    FTS5 index passes its integrity-check.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/store.h"
#include "kizuna/util.h"
#include "kizuna/views.h"
#include "store/store_int.h"

#define MAX_RECORDS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct find_hash {
	const uint8_t *author;
	uint64_t seq;
	uint8_t hash[KZ_HASH_BYTES];
	bool found;
};

static int
on_entry(void *ctx, const struct kz_entry_view *e)
{
	struct find_hash *f = ctx;

	if (e->h.seq == f->seq && memcmp(e->h.author, f->author, 32) == 0) {
		memcpy(f->hash, e->hash, KZ_HASH_BYTES);
		f->found = true;
		return 1;
	}
	return 0;
}

/* The stored hash of author's entry seq (zeros for seq 0). */
static void
stored_hash(struct kz_store *st, const uint8_t *author, uint64_t seq,
    uint8_t out[KZ_HASH_BYTES])
{
	struct find_hash f = { .author = author, .seq = seq };
	int rc;

	memset(out, 0, KZ_HASH_BYTES);
	if (seq == 0)
		return;
	rc = kz_store_log(st, on_entry, &f);
	KZF_CHECK(rc >= 0, "ingest: kz_store_log: %s", kz_errname(rc));
	KZF_CHECK(f.found, "ingest: entry %llu below the tip not found",
	    (unsigned long long)seq);
	memcpy(out, f.hash, KZ_HASH_BYTES);
}

/* Makes run a validly signed continuation of node's feed; returns true if
 * its prev is the stored one (so the store must accept it or see a fork). */
static bool
resign(struct kz_store *st, struct kz_run *run, uint8_t flags)
{
	const struct kz_keypair *kp = kzf_node(((flags >> 1) & 3) % KZF_NODES);
	uint8_t prev[KZ_HASH_BYTES], (*hashes)[KZ_HASH_BYTES];
	uint64_t tip;
	bool right_prev = true;
	int rc;

	memcpy(run->author, kp->pk, KZ_PK_BYTES);
	rc = kz_store_tip(st, run->author, &tip, NULL);
	KZF_CHECK(rc == 0, "ingest: tip: %s", kz_errname(rc));
	if (!(flags & 8) || run->first_seq > tip + 1)
		run->first_seq = tip + 1;
	stored_hash(st, run->author, run->first_seq - 1, prev);
	if (run->has_prev && !(flags & 16))
		memcpy(run->prev, prev, KZ_HASH_BYTES);
	if (run->has_prev && memcmp(run->prev, prev, KZ_HASH_BYTES) != 0)
		right_prev = false;
	hashes = malloc(run->n * sizeof(*hashes));
	KZF_CHECK(hashes != NULL, "ingest: out of memory");
	rc = kz_run_rebuild(run, prev, hashes, NULL);
	KZF_CHECK(rc == 0, "ingest: rebuild: %s", kz_errname(rc));
	rc = kz_sign_hash(run->sig, hashes[run->n - 1], kp);
	KZF_CHECK(rc == 0, "ingest: sign");
	free(hashes);
	return right_prev;
}

static void digest(struct kz_store *st, uint8_t out[KZ_HASH_BYTES]);

/* Signs a run of one as node's entry a few seqs past its tip. */
static void
resign_alone(struct kz_store *st, struct kz_run *run, uint8_t flags)
{
	const struct kz_keypair *kp = kzf_node(((flags >> 1) & 3) % KZF_NODES);
	struct kz_entry_header h;
	uint8_t header[KZ_HEADER_BYTES], hash[KZ_HASH_BYTES];
	uint64_t tip, skip = run->first_seq % 4;
	int rc;

	memcpy(run->author, kp->pk, KZ_PK_BYTES);
	rc = kz_store_tip(st, run->author, &tip, NULL);
	KZF_CHECK(rc == 0, "ingest: tip: %s", kz_errname(rc));
	run->first_seq = tip + 1 + skip;
	if (skip == 0 || !run->has_prev)
		stored_hash(st, run->author, tip, run->prev);
	run->has_prev = true;
	if (run->entries[0].op == NULL)
		return;		/* purged: refused before any signature */
	rc = kz_entry_build(&h, header, hash, run->author, run->first_seq,
	    run->prev, run->entries[0].hlc, run->entries[0].op,
	    run->entries[0].op_len);
	if (rc < 0)
		return;
	rc = kz_sign_hash(run->sig, hash, kp);
	KZF_CHECK(rc == 0, "ingest: sign");
}

/* A run of one, alone: only documented refusals, none changing anything;
 * again, the same answer and nothing more. */
static void
ingest_alone(struct kz_store *st, struct kz_run *run, uint8_t flags)
{
	struct kz_ingest_result r1, r2;
	uint8_t d0[KZ_HASH_BYTES], d1[KZ_HASH_BYTES], d2[KZ_HASH_BYTES];
	int rc1, rc2;

	if (flags & 1)
		resign_alone(st, run, flags);
	digest(st, d0);
	rc1 = kz_store_ingest_entry(st, run, &r1);
	digest(st, d1);
	KZF_CHECK(rc1 == 0 || rc1 == KZ_ERR_GAP || rc1 == KZ_ERR_CHAIN ||
	    rc1 == KZ_ERR_BAD_SIG || rc1 == KZ_ERR_FORK || rc1 == KZ_ERR_TOO_BIG ||
	    rc1 == KZ_ERR_INVAL || rc1 == KZ_ERR_NOT_URGENT,
	    "ingest alone: unexpected %s", kz_errname(rc1));
	if (rc1 != 0 && rc1 != KZ_ERR_FORK)
		KZF_CHECK(memcmp(d0, d1, sizeof(d0)) == 0,
		    "ingest alone: a refused entry (%s) changed the store",
		    kz_errname(rc1));
	kzf_debug("ingest alone: seq %llu: %s, added %llu",
	    (unsigned long long)run->first_seq, rc1 == 0 ? "ok" : kz_errname(rc1),
	    (unsigned long long)r1.added);
	rc2 = kz_store_ingest_entry(st, run, &r2);
	digest(st, d2);
	KZF_CHECK(rc2 == rc1, "ingest alone: the same entry gave %s, then %s",
	    kz_errname(rc1), kz_errname(rc2));
	KZF_CHECK(r2.added == 0, "ingest alone: the same entry added twice");
	KZF_CHECK(memcmp(d1, d2, sizeof(d1)) == 0,
	    "ingest alone: the same entry again (%s) changed the store",
	    kz_errname(rc2));
}

static void
digest(struct kz_store *st, uint8_t out[KZ_HASH_BYTES])
{
	int rc = kz_store_content_digest(st, out);

	KZF_CHECK(rc == 0, "ingest: content digest: %s", kz_errname(rc));
}

static void
ingest_record(struct kz_store *st, const uint8_t *buf, size_t len,
    uint8_t flags)
{
	struct kz_run *run = NULL;
	struct kz_ingest_result r1, r2;
	uint8_t d0[KZ_HASH_BYTES], d1[KZ_HASH_BYTES], d2[KZ_HASH_BYTES];
	bool must_take = false;
	int rc1, rc2;

	if (kz_run_decode(&run, buf, len) < 0) {
		kzf_debug("ingest: record of %zu bytes does not decode", len);
		return;
	}
	if ((flags & 32) && run->n == 1) {
		ingest_alone(st, run, flags);
		kz_run_free(run);
		return;
	}
	if (flags & 1)
		must_take = resign(st, run, flags);
	digest(st, d0);
	rc1 = kz_store_ingest(st, run, &r1);
	digest(st, d1);
	KZF_CHECK(rc1 == 0 || rc1 == KZ_ERR_GAP || rc1 == KZ_ERR_CHAIN ||
	    rc1 == KZ_ERR_BAD_SIG || rc1 == KZ_ERR_FORK || rc1 == KZ_ERR_TOO_BIG,
	    "ingest: unexpected %s", kz_errname(rc1));
	if (must_take)
		KZF_CHECK(rc1 == 0 || rc1 == KZ_ERR_FORK, "ingest: a run signed "
		    "onto the stored chain was refused: %s", kz_errname(rc1));
	if (rc1 != 0 && rc1 != KZ_ERR_FORK)
		KZF_CHECK(memcmp(d0, d1, sizeof(d0)) == 0,
		    "ingest: a refused run (%s) changed the store",
		    kz_errname(rc1));
	if (rc1 == 0)
		KZF_CHECK(r1.tip >= run->first_seq + run->n - 1,
		    "ingest: tip %llu short of the run",
		    (unsigned long long)r1.tip);
	kzf_debug("ingest: flags %#x, %zu entries from %llu: %s, added %llu",
	    flags, run->n, (unsigned long long)run->first_seq,
	    rc1 == 0 ? "ok" : kz_errname(rc1), (unsigned long long)r1.added);
	rc2 = kz_store_ingest(st, run, &r2);
	digest(st, d2);
	KZF_CHECK(rc2 == rc1, "ingest: the same run gave %s, then %s",
	    kz_errname(rc1), kz_errname(rc2));
	KZF_CHECK(r2.added == 0, "ingest: the same run added %llu entries twice",
	    (unsigned long long)r2.added);
	KZF_CHECK(memcmp(d1, d2, sizeof(d1)) == 0,
	    "ingest: ingesting the same run again (%s) changed the store",
	    kz_errname(rc2));
	kz_run_free(run);
}

static void
check_fts(struct kz_store *st)
{
	char *err = NULL;
	int rc = sqlite3_exec(kz__store_db(st),
	    "INSERT INTO ws_search(ws_search) VALUES('integrity-check')", NULL,
	    NULL, &err);

	KZF_CHECK(rc == SQLITE_OK, "ingest: FTS5 integrity-check: %s",
	    err != NULL ? err : sqlite3_errstr(rc));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kzf_in in = { data, size };
	struct kz_store *st = NULL;
	uint8_t v1[32], v2[32];
	int rc, n;

	if ((rc = kz_store_open(&st, ":memory:", kzf_logger())) < 0)
		kzf_fail("ingest: open: %s", kz_errname(rc));
	if ((rc = kz_views_set_root(st, kzf_node(0)->pk)) < 0)
		kzf_fail("ingest: set root: %s", kz_errname(rc));
	for (n = 0; n < MAX_RECORDS && in.n > 3; n++) {
		uint8_t flags = kzf_u8(&in);
		size_t len = kzf_u16(&in), got;
		const uint8_t *p = kzf_take(&in, len, &got);

		ingest_record(st, p, got, flags);
	}
	kzf_check_store(st, "ingest");
	check_fts(st);
	rc = kz_views_digest(st, v1);
	KZF_CHECK(rc == 0, "ingest: views digest: %s", kz_errname(rc));
	rc = kz_views_rebuild(st);
	KZF_CHECK(rc == 0, "ingest: views rebuild: %s", kz_errname(rc));
	rc = kz_views_digest(st, v2);
	KZF_CHECK(rc == 0, "ingest: views digest: %s", kz_errname(rc));
	KZF_CHECK(memcmp(v1, v2, 32) == 0, "ingest: the views differ from a "
	    "rebuild of the same entries");
	check_fts(st);
	kz_store_free(st);
	return 0;
}
