/*
 * Store tests: append, ingest rules (gap, chain, signature, overlap, fork),
 * tamper detection by verify, migrations, limits and disk-full behaviour.
 * Every rejection is checked to leave the store's content digest unchanged.
 */
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "store/store_int.h"
#include "testutil.h"

/* A channel id (the hash of a channel_create entry in a real workspace). */
static const uint8_t CHAN[32] = { 0xc4, 0x01 };

#define T0 1790000000000ull	/* a wall clock value in ms */

struct fx {
	char *dir;
	struct kz_keypair ka, kb;
	struct kz_store *a, *b;
	struct kz_test_log log;
};

static struct kz_store *
open_store(struct fx *f, const char *name)
{
	struct kz_store *st = NULL;
	char *p = kz_test_path(f->dir, name);

	assert_int_equal(kz_store_open(&st, p, &f->log.lg), 0);
	free(p);
	return st;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t seed[32];

	assert_non_null(f);
	f->dir = kz_test_tmpdir();
	kz_test_log_init(&f->log);
	memset(seed, 0xa1, sizeof(seed));
	assert_int_equal(kz_keypair_from_seed(&f->ka, seed), 0);
	memset(seed, 0xb2, sizeof(seed));
	assert_int_equal(kz_keypair_from_seed(&f->kb, seed), 0);
	f->a = open_store(f, "a.db");
	f->b = open_store(f, "b.db");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kz_store_free(f->a);
	kz_store_free(f->b);
	kz_test_rmtree(f->dir);
	free(f);
	return 0;
}

/* Appends n posts "text i" to st's feed of kp; returns the last hash. */
static void
append_posts(struct kz_store *st, const struct kz_keypair *kp, int first, int n,
    uint64_t wall)
{
	for (int i = first; i < first + n; i++) {
		char text[64];
		struct kz_post post = { .channel = CHAN, .text = text };
		uint8_t *op;
		size_t len;
		struct kz_appended app;

		snprintf(text, sizeof(text), "給水 %d", i);
		assert_int_equal(kz_op_encode_post(&op, &len, &post), 0);
		assert_int_equal(kz_store_append(st, kp, wall + (uint64_t)i, op, len,
		    &app), 0);
		free(op);
	}
}

static void
digest(struct kz_store *st, uint8_t out[32])
{
	assert_int_equal(kz_store_content_digest(st, out), 0);
}

static struct kz_run *
read_run(struct kz_store *st, const uint8_t *author, uint64_t from, size_t max)
{
	struct kz_run *run = NULL;

	assert_int_equal(kz_store_read_run(st, author, from, max, 0, &run), 0);
	return run;
}

static uint64_t
tip_of(struct kz_store *st, const uint8_t *author)
{
	uint64_t tip;

	assert_int_equal(kz_store_tip(st, author, &tip, NULL), 0);
	return tip;
}

static void
assert_verifies(struct kz_store *st)
{
	struct kz_verify_report rep;

	assert_int_equal(kz_store_verify(st, &rep), 0);
	if (!rep.ok)
		fail_msg("verify: seq %llu: %s", (unsigned long long)rep.bad_seq,
		    rep.reason);
}

/* ------------------------------------------------------------ tests */

/*
 * Opening a store turns SQLite's memory statistics off (every allocation
 * would take a global mutex): with stores open and written, SQLite counts
 * no memory in use.
 */
static void
test_no_memory_statistics(void **state)
{
	struct fx *f = *state;

	append_posts(f->a, &f->ka, 1, 20, T0);
	assert_int_equal(sqlite3_memory_used(), 0);
	assert_int_equal(sqlite3_memory_highwater(0), 0);
}

static void
test_append_and_round_trip(void **state)
{
	struct fx *f = *state;
	struct kz_run *run;
	struct kz_ingest_result res;
	uint8_t ha[32], hb[32];
	uint64_t seq;

	append_posts(f->a, &f->ka, 1, 5, T0);
	assert_int_equal(tip_of(f->a, f->ka.pk), 5);
	run = read_run(f->a, f->ka.pk, 1, 100);
	assert_int_equal(run->n, 5);
	assert_int_equal(run->first_seq, 1);
	assert_false(run->has_prev);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	assert_int_equal(res.added, 5);
	assert_int_equal(res.duplicate, 0);
	assert_int_equal(res.tip, 5);
	kz_run_free(run);
	assert_int_equal(kz_store_tip(f->a, f->ka.pk, &seq, ha), 0);
	assert_int_equal(kz_store_tip(f->b, f->ka.pk, &seq, hb), 0);
	assert_int_equal(seq, 5);
	assert_memory_equal(ha, hb, 32);
	assert_verifies(f->a);
	assert_verifies(f->b);
	/* An unknown feed has tip 0. */
	assert_int_equal(tip_of(f->b, f->kb.pk), 0);
}

/* Collects the log of a store as text for comparison. */
struct logbuf {
	char buf[8192];
	size_t len;
};

static int
on_entry(void *ctx, const struct kz_entry_view *e)
{
	struct logbuf *lb = ctx;
	char hex[65];

	kz_hex(hex, e->hash, 32);
	lb->len += (size_t)snprintf(lb->buf + lb->len, sizeof(lb->buf) - lb->len,
	    "%llu %llu %s %zu|", (unsigned long long)e->h.seq,
	    (unsigned long long)e->h.hlc, hex, e->op_len);
	return 0;
}

static void
test_log_order_is_hlc(void **state)
{
	struct fx *f = *state;
	struct kz_run *run;
	struct logbuf la = { .len = 0 }, lb = { .len = 0 };

	/* a writes at T0+1.., b at T0+100..; b's entries come later. */
	append_posts(f->a, &f->ka, 1, 2, T0);
	append_posts(f->b, &f->kb, 1, 2, T0 + 100);
	run = read_run(f->b, f->kb.pk, 1, 10);
	assert_int_equal(kz_store_ingest(f->a, run, NULL), 0);
	kz_run_free(run);
	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	kz_run_free(run);
	assert_int_equal(kz_store_log(f->a, on_entry, &la), 0);
	assert_int_equal(kz_store_log(f->b, on_entry, &lb), 0);
	assert_string_equal(la.buf, lb.buf);
	/* Four entries, the two of a first (lower hlc). */
	assert_int_equal(strlen(la.buf) > 0, 1);
	{
		int bars = 0;
		for (size_t i = 0; i < la.len; i++)
			bars += la.buf[i] == '|';
		assert_int_equal(bars, 4);
	}
	assert_true(strncmp(la.buf, "1 ", 2) == 0);
}

static void
test_flipped_bit_anywhere_rejected(void **state)
{
	struct fx *f = *state;
	struct kz_run *run, *bad;
	uint8_t *buf, before[32], after[32];
	size_t len, bit, decoded_but_rejected = 0;
	struct kz_ingest_result res;

	append_posts(f->a, &f->ka, 1, 3, T0);
	/* b already holds seq 1, so the run both overlaps and extends. */
	run = read_run(f->a, f->ka.pk, 1, 1);
	assert_int_equal(run->n, 1);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	kz_run_free(run);
	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(run->n, 3);
	assert_int_equal(kz_run_encode(&buf, &len, run), 0);
	kz_run_free(run);
	digest(f->b, before);

	for (bit = 0; bit < len * 8; bit++) {
		int rc;

		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = kz_run_decode(&bad, buf, len);
		if (rc == 0) {
			rc = kz_store_ingest(f->b, bad, &res);
			kz_run_free(bad);
			if (rc == 0)
				fail_msg("bit %zu flipped: run accepted", bit);
			assert_int_not_equal(rc, KZ_ERR_FORK);
			assert_int_equal(res.added, 0);
			decoded_but_rejected++;
		}
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	digest(f->b, after);
	assert_memory_equal(before, after, 32);
	assert_int_equal(tip_of(f->b, f->ka.pk), 1);
	/* Most flips land in hashed content and must be caught by the chain. */
	assert_true(decoded_but_rejected > len * 4);

	/* The intact run still goes in. */
	assert_int_equal(kz_run_decode(&run, buf, len), 0);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	assert_int_equal(res.added, 2);
	assert_int_equal(res.duplicate, 1);
	kz_run_free(run);
	free(buf);
	assert_verifies(f->b);
}

static void
test_gap_and_skip_rejected(void **state)
{
	struct fx *f = *state;
	struct kz_run *run, *skip;
	uint8_t before[32], after[32];
	struct kz_ingest_result res;

	append_posts(f->a, &f->ka, 1, 5, T0);
	digest(f->b, before);

	/* Starts past the tip (b holds nothing; the run starts at 3). */
	run = read_run(f->a, f->ka.pk, 3, 10);
	assert_int_equal(run->first_seq, 3);
	assert_int_equal(kz_store_ingest(f->b, run, &res), KZ_ERR_GAP);
	assert_int_equal(res.added, 0);
	kz_run_free(run);

	/* Skips seq 3: entries 1, 2, 4, 5 with seq 5's signature. */
	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(run->n, 5);
	assert_int_equal(kz_run_new(&skip, 4, 0), 0);
	memcpy(skip->author, run->author, 32);
	memcpy(skip->sig, run->sig, 64);
	skip->first_seq = 1;
	skip->entries[0] = run->entries[0];
	skip->entries[1] = run->entries[1];
	skip->entries[2] = run->entries[3];
	skip->entries[3] = run->entries[4];
	assert_int_equal(kz_store_ingest(f->b, skip, &res), KZ_ERR_BAD_SIG);
	assert_int_equal(res.added, 0);
	kz_run_free(skip);

	/* A different key's signature. */
	{
		uint8_t saved[64];

		memcpy(saved, run->sig, 64);
		memcpy(run->author, f->kb.pk, 32);
		assert_int_equal(kz_store_ingest(f->b, run, NULL), KZ_ERR_BAD_SIG);
		memcpy(run->author, f->ka.pk, 32);
	}
	digest(f->b, after);
	assert_memory_equal(before, after, 32);
	kz_run_free(run);
}

static void
test_overlap_idempotent(void **state)
{
	struct fx *f = *state;
	struct kz_run *run;
	struct kz_ingest_result res;
	uint8_t d1[32], d2[32];

	append_posts(f->a, &f->ka, 1, 5, T0);
	run = read_run(f->a, f->ka.pk, 1, 3);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	assert_int_equal(res.added, 3);
	kz_run_free(run);

	run = read_run(f->a, f->ka.pk, 2, 10);
	assert_int_equal(run->n, 4);
	assert_true(run->has_prev);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	assert_int_equal(res.added, 2);
	assert_int_equal(res.duplicate, 2);
	assert_int_equal(res.tip, 5);
	kz_run_free(run);

	digest(f->b, d1);
	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	assert_int_equal(res.added, 0);
	assert_int_equal(res.duplicate, 5);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	assert_int_equal(res.added, 0);
	kz_run_free(run);
	digest(f->b, d2);
	assert_memory_equal(d1, d2, 32);
	assert_verifies(f->b);
}

static void
test_chain_mismatch_rejected(void **state)
{
	struct fx *f = *state;
	struct kz_run *run;
	uint8_t before[32], after[32];

	append_posts(f->a, &f->ka, 1, 4, T0);
	run = read_run(f->a, f->ka.pk, 1, 2);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	kz_run_free(run);
	digest(f->b, before);
	run = read_run(f->a, f->ka.pk, 3, 10);
	assert_true(run->has_prev);
	run->prev[7] ^= 0x40;
	assert_int_equal(kz_store_ingest(f->b, run, NULL), KZ_ERR_CHAIN);
	run->prev[7] ^= 0x40;
	digest(f->b, after);
	assert_memory_equal(before, after, 32);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	assert_int_equal(tip_of(f->b, f->ka.pk), 4);
	kz_run_free(run);
}

struct fork_check {
	int n;
	uint64_t seq;
	int proof_verifies;
	struct kz_store *st;
};

static int
on_fork(void *ctx, const struct kz_fork_proof *p)
{
	struct fork_check *fc = ctx;
	struct kz_run *run = NULL;
	uint8_t prev[32], (*hashes)[32];

	fc->n++;
	fc->seq = p->seq;
	assert_int_equal(kz_run_decode(&run, p->run, p->run_len), 0);
	assert_true(run->has_prev);
	memcpy(prev, run->prev, 32);
	hashes = malloc(run->n * 32);
	assert_non_null(hashes);
	assert_int_equal(kz_run_rebuild(run, prev, hashes, NULL), 0);
	fc->proof_verifies = kz_verify_hash(run->sig, hashes[run->n - 1],
	    run->author) == 0 &&
	    memcmp(hashes[p->seq - run->first_seq], p->other_hash, 32) == 0;
	free(hashes);
	kz_run_free(run);
	return 0;
}

static void
test_fork_detected_and_proof_kept(void **state)
{
	struct fx *f = *state;
	struct kz_store *y = open_store(f, "y.db");
	struct kz_run *run, *other;
	struct kz_ingest_result res;
	struct kz_store_stats stats;
	struct fork_check fc = { 0 };
	uint8_t tip_before[32], tip_after[32];
	uint64_t seq;

	/* x = f->a holds 1..3; y holds 1..2 and then writes its own seq 3
	 * with the same key: a node restored from an old backup. */
	append_posts(f->a, &f->ka, 1, 3, T0);
	run = read_run(f->a, f->ka.pk, 1, 2);
	assert_int_equal(kz_store_ingest(y, run, NULL), 0);
	kz_run_free(run);
	append_posts(y, &f->ka, 100, 2, T0 + 50);	/* seq 3, 4 */
	assert_int_equal(tip_of(y, f->ka.pk), 4);

	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	kz_run_free(run);
	assert_int_equal(kz_store_tip(f->b, f->ka.pk, &seq, tip_before), 0);

	other = read_run(y, f->ka.pk, 2, 10);
	assert_int_equal(kz_store_ingest(f->b, other, &res), KZ_ERR_FORK);
	assert_int_equal(res.fork_seq, 3);
	assert_int_equal(res.added, 0);
	/* Seen again: still one proof. */
	assert_int_equal(kz_store_ingest(f->b, other, &res), KZ_ERR_FORK);
	assert_int_equal(kz_store_stats(f->b, &stats), 0);
	assert_int_equal(stats.forks, 1);
	fc.st = f->b;
	assert_int_equal(kz_store_forks(f->b, on_fork, &fc), 0);
	assert_int_equal(fc.n, 1);
	assert_int_equal(fc.seq, 3);
	assert_true(fc.proof_verifies);

	/* The first-seen branch is still what b holds and serves. */
	assert_int_equal(kz_store_tip(f->b, f->ka.pk, &seq, tip_after), 0);
	assert_int_equal(seq, 3);
	assert_memory_equal(tip_before, tip_after, 32);
	assert_verifies(f->b);
	assert_true(f->log.count >= 1);
	assert_non_null(strstr(f->log.last, "fork detected"));

	/* The author's own node, once it learns of the fork, stops writing. */
	assert_int_equal(kz_store_ingest(f->a, other, &res), KZ_ERR_FORK);
	{
		struct kz_post post = { .channel = CHAN, .text = "t" };
		uint8_t *op;
		size_t len;

		assert_int_equal(kz_op_encode_post(&op, &len, &post), 0);
		assert_int_equal(kz_store_append(f->a, &f->ka, T0 + 99, op, len,
		    NULL), KZ_ERR_FORK);
		free(op);
	}
	assert_int_equal(tip_of(f->a, f->ka.pk), 3);
	kz_run_free(other);
	kz_store_free(y);
}

/* Flips one byte of the first occurrence of needle in a file. */
static void
flip_in_file(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "r+b");
	char *buf;
	long size;
	size_t nl = strlen(needle);

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)size);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
	for (long i = 0; i + (long)nl <= size; i++) {
		if (memcmp(buf + i, needle, nl) == 0) {
			uint8_t b = (uint8_t)buf[i + 1] ^ 0x01;
			fseek(fp, i + 1, SEEK_SET);
			assert_int_equal(fwrite(&b, 1, 1, fp), 1);
			fclose(fp);
			free(buf);
			return;
		}
	}
	fail_msg("'%s' not found in %s", needle, path);
}

static void
test_verify_catches_altered_bytes(void **state)
{
	struct fx *f = *state;
	struct kz_verify_report rep;
	char *path = kz_test_path(f->dir, "t.db");
	struct kz_store *st;
	struct {
		const char *sql;
		uint64_t seq;
		const char *reason;
	} cases[] = {
		{ "UPDATE entries SET header = substr(header, 1, 99) || "
		  "x'00' || substr(header, 101) WHERE seq = 4", 4,
		  "op bytes do not match the signed op hash" },
		{ "UPDATE entries SET header = substr(header, 1, 44) || "
		  "x'ff' || substr(header, 46) WHERE seq = 4", 4,
		  "header does not link to the previous entry" },
		{ "UPDATE entries SET op = NULL WHERE seq = 4", 0, NULL },
		{ "UPDATE entries SET hash = zeroblob(32) WHERE seq = 2", 2,
		  "stored hash differs from the header's hash" },
		{ "UPDATE sigs SET sig = zeroblob(64) WHERE seq = 5", 5,
		  "signature does not verify" },
		{ "UPDATE entries SET hlc = hlc + 1 WHERE seq = 3", 3,
		  "hlc differs from the signed header" },
		{ "DELETE FROM entries WHERE seq = 2", 2,
		  "entry missing from the chain" },
	};

	/* At the file level: one byte of a message's text in the db file. */
	st = NULL;
	assert_int_equal(kz_store_open(&st, path, NULL), 0);
	append_posts(st, &f->ka, 1, 5, T0);
	kz_store_free(st);	/* the last close checkpoints the WAL */
	flip_in_file(path, "給水 3");
	assert_int_equal(kz_store_open(&st, path, NULL), 0);
	assert_int_equal(kz_store_verify(st, &rep), 0);
	assert_false(rep.ok);
	assert_int_equal(rep.bad_seq, 3);
	assert_memory_equal(rep.bad_feed, f->ka.pk, 32);
	assert_string_equal(rep.reason, "op bytes do not match the signed op hash");
	kz_store_free(st);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		char *p;

		snprintf(name, sizeof(name), "c%zu.db", i);
		p = kz_test_path(f->dir, name);
		assert_int_equal(kz_store_open(&st, p, NULL), 0);
		append_posts(st, &f->ka, 1, 5, T0);
		assert_int_equal(kz_store_verify(st, &rep), 0);
		assert_true(rep.ok);
		assert_int_equal(rep.entries, 5);
		assert_int_equal(rep.signatures, 5);
		assert_int_equal(sqlite3_exec(kz__store_db(st), cases[i].sql, NULL,
		    NULL, NULL), SQLITE_OK);
		assert_int_equal(kz_store_verify(st, &rep), 0);
		if (cases[i].reason == NULL) {
			/* A purged op is not damage: the chain still verifies. */
			assert_true(rep.ok);
			kz_store_free(st);
			free(p);
			continue;
		}
		assert_false(rep.ok);
		assert_int_equal(rep.bad_seq, cases[i].seq);
		assert_string_equal(rep.reason, cases[i].reason);
		kz_store_free(st);
		free(p);
	}
	free(path);
}

static void
test_migration_from_v1_fixture(void **state)
{
	struct fx *f = *state;
	const char *fixtures = getenv("KZ_FIXTURES");
	char *sqlpath, *dbpath, *sql;
	sqlite3 *db;
	struct kz_store *st = NULL;
	struct kz_verify_report rep;
	struct kz_store_stats stats;
	FILE *fp;
	long size;
	sqlite3_stmt *s;
	int64_t max_hlc = 0, meta_hlc = -1;

	assert_non_null(fixtures);
	sqlpath = kz_test_path(fixtures, "store-v1.sql");
	dbpath = kz_test_path(f->dir, "v1.db");
	fp = fopen(sqlpath, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	rewind(fp);
	sql = calloc(1, (size_t)size + 1);
	assert_int_equal(fread(sql, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE name = 'entries_hash'", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT max(hlc) FROM entries", -1,
	    &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	max_hlc = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(sql);

	assert_int_equal(kz_store_open(&st, dbpath, &f->log.lg), 0);
	assert_int_equal(kz_store_schema_version(st), KZ_STORE_SCHEMA_VERSION);
	assert_non_null(strstr(f->log.last, "migrated schema 8 -> 9"));
	/* Step 7 added the broadcast column, 0 for the rows before it. */
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(st), "SELECT count(*) FROM"
	    " pragma_table_info('ws_messages') WHERE name = 'broadcast'", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	/* Step 6 made the urgent messages' index. */
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(st), "SELECT count(*) FROM"
	    " sqlite_master WHERE name = 'ws_messages_urgent'", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	/* Step 8 made the mesh map's table, empty. */
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(st), "SELECT count(*) FROM"
	    " ws_link_reports", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
	/* Step 9 added what an imported message was (its columns 0 or "" for
	 * the rows before it) and the file references' table, empty. */
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(st), "SELECT count(*) FROM"
	    " pragma_table_info('ws_messages') WHERE name IN ('subtype', 'system',"
	    " 'pinned', 'files', 'edited_hlc')", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 5);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(st), "SELECT count(*) FROM"
	    " ws_files", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
	/* Step 3 dropped the hash index that step 1 made. */
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(st), "SELECT count(*) FROM"
	    " sqlite_master WHERE name = 'entries_hash'", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
	assert_int_equal(kz_store_stats(st, &stats), 0);
	assert_int_equal(stats.feeds, 2);
	assert_int_equal(stats.entries, 5);
	assert_int_equal(stats.forks, 0);
	assert_int_equal(kz_store_verify(st, &rep), 0);
	assert_true(rep.ok);
	assert_int_equal(rep.entries, 5);
	/* The migration carried the clock over from the entries. */
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(st),
	    "SELECT v FROM meta WHERE k = 'hlc'", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	meta_hlc = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	assert_true(max_hlc > 0);
	assert_int_equal(meta_hlc, max_hlc);
	/* The migrated store takes new entries of a new feed. */
	append_posts(st, &f->kb, 1, 2, 1);
	assert_int_equal(kz_store_stats(st, &stats), 0);
	assert_int_equal(stats.entries, 7);
	kz_store_free(st);
	/* Reopening does not migrate again. */
	f->log.count = 0;
	assert_int_equal(kz_store_open(&st, dbpath, &f->log.lg), 0);
	assert_int_equal(f->log.count, 0);
	assert_verifies(st);
	kz_store_free(st);
	free(sqlpath);
	free(dbpath);
}

static void
test_newer_schema_refused(void **state)
{
	struct fx *f = *state;
	char *p = kz_test_path(f->dir, "new.db");
	struct kz_store *st = NULL;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(kz_store_open(&st, p, &f->log.lg), KZ_ERR_SCHEMA);
	assert_null(st);
	assert_non_null(strstr(f->log.last, "schema version 99"));
	free(p);
}

static void
test_hlc_monotonic_and_observes(void **state)
{
	struct fx *f = *state;
	struct kz_appended a1, a2, a3;
	struct kz_run *run;
	struct kz_post post = { .channel = CHAN, .text = "t" };
	uint8_t *op;
	size_t len;

	assert_int_equal(kz_op_encode_post(&op, &len, &post), 0);
	assert_int_equal(kz_store_append(f->a, &f->ka, T0, op, len, &a1), 0);
	/* The wall clock steps back an hour: hlc still increases. */
	assert_int_equal(kz_store_append(f->a, &f->ka, T0 - 3600000, op, len,
	    &a2), 0);
	assert_int_equal(a1.hlc, T0 << 16);
	assert_int_equal(a2.hlc, a1.hlc + 1);
	/* b's clock is a day behind; after seeing a's entries it writes after them. */
	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	kz_run_free(run);
	assert_int_equal(kz_store_append(f->b, &f->kb, T0 - 86400000, op, len,
	    &a3), 0);
	assert_int_equal(a3.hlc, a2.hlc + 1);
	free(op);
}

static uint64_t
fixed_clock(void *ctx)
{
	return *(uint64_t *)ctx;
}

/*
 * A node whose clock runs a day ahead: its entries are kept, but they pull
 * the receiver's clock no further than 5 minutes past the receiver's wall
 * clock, and the receiver's next entry is timed by its own clock.
 */
static void
test_hlc_far_future_not_followed(void **state)
{
	struct fx *f = *state;
	struct kz_appended a1, b1;
	struct kz_ingest_result res;
	struct kz_run *run;
	struct kz_post post = { .channel = CHAN, .text = "t" };
	uint64_t now = T0;
	uint8_t *op;
	size_t len;

	kz_store_set_clock(f->b, fixed_clock, &now);
	assert_int_equal(kz_op_encode_post(&op, &len, &post), 0);
	assert_int_equal(kz_store_append(f->a, &f->ka, T0 + 86400000, op, len,
	    &a1), 0);
	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	assert_int_equal(res.added, 1);
	kz_run_free(run);
	assert_non_null(strstr(f->log.last, "ahead of this node's; not followed"));
	assert_int_equal(kz_store_append(f->b, &f->kb, T0, op, len, &b1), 0);
	assert_int_equal(b1.hlc, ((T0 + KZ_HLC_AHEAD_MAX_MS) << 16) + 1);
	/* Within the bound, a received clock is followed as before. */
	now = T0 + 86400000 - 60000;
	assert_int_equal(kz_store_append(f->a, &f->ka, T0 + 86400000, op, len,
	    &a1), 0);
	run = read_run(f->a, f->ka.pk, 2, 10);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	kz_run_free(run);
	assert_int_equal(kz_store_append(f->b, &f->kb, now, op, len, &b1), 0);
	assert_int_equal(b1.hlc, a1.hlc + 1);
	free(op);
}

static void
test_limits_and_groups(void **state)
{
	struct fx *f = *state;
	uint8_t before[32], after[32], *big;
	struct kz_run *run;

	/* An op over 64 KiB is refused, nothing stored. */
	digest(f->a, before);
	big = calloc(1, KZ_OP_MAX + 1);
	assert_non_null(big);
	assert_int_equal(kz_store_append(f->a, &f->ka, T0, big, KZ_OP_MAX + 1,
	    NULL), KZ_ERR_TOO_BIG);
	/* Exactly 64 KiB is fine. */
	assert_int_equal(kz_store_append(f->a, &f->ka, T0, big, KZ_OP_MAX, NULL), 0);
	free(big);

	/* A rolled-back group leaves nothing; a committed one everything. */
	digest(f->a, before);
	assert_int_equal(kz_store_begin(f->a), 0);
	assert_int_equal(kz_store_begin(f->a), KZ_ERR_INVAL);
	append_posts(f->a, &f->ka, 1, 3, T0);
	kz_store_rollback(f->a);
	digest(f->a, after);
	assert_memory_equal(before, after, 32);
	assert_int_equal(kz_store_begin(f->a), 0);
	append_posts(f->a, &f->ka, 1, 2, T0);
	/* A call that fails inside the group is undone alone ... */
	{
		struct kz_run *r2 = read_run(f->a, f->ka.pk, 1, 1);

		r2->first_seq = 9;
		assert_int_equal(kz_store_ingest(f->a, r2, NULL), KZ_ERR_GAP);
		r2->first_seq = 1;
		r2->sig[0] ^= 1;
		assert_int_equal(kz_store_ingest(f->b, r2, NULL), KZ_ERR_BAD_SIG);
		kz_run_free(r2);
	}
	/* ... and the group goes on: b's feed in between flushes a's run end. */
	append_posts(f->a, &f->kb, 1, 1, T0);
	append_posts(f->a, &f->ka, 3, 1, T0);
	assert_int_equal(kz_store_commit(f->a), 0);
	assert_int_equal(tip_of(f->a, f->ka.pk), 4);
	assert_int_equal(tip_of(f->a, f->kb.pk), 1);
	assert_int_equal(kz_store_commit(f->a), KZ_ERR_INVAL);
	{
		struct kz_verify_report rep;

		/* Signed: the 64 KiB append alone, a's seq 3 (flushed when the
		 * group moved to b's feed), b's seq 1 and a's seq 4 at commit. */
		assert_int_equal(kz_store_verify(f->a, &rep), 0);
		assert_true(rep.ok);
		assert_int_equal(rep.entries, 5);
		assert_int_equal(rep.signatures, 4);
	}

	/* A feed held with signatures only at run ends is served in runs
	 * that end at one of them. */
	append_posts(f->a, &f->ka, 10, 6, T0);	/* seq 5..10 */
	run = read_run(f->a, f->ka.pk, 1, 4);
	assert_int_equal(run->n, 4);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	kz_run_free(run);
	run = read_run(f->a, f->ka.pk, 5, 6);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	kz_run_free(run);
	/* b holds signatures at 4 and 10: from 2 with room for 3, the run
	 * must still reach 4; from 5 it must reach 10 even when asked for 2. */
	run = read_run(f->b, f->ka.pk, 2, 3);
	assert_int_equal(run->first_seq, 2);
	assert_int_equal(run->n, 3);
	kz_run_free(run);
	run = read_run(f->b, f->ka.pk, 5, 2);
	assert_int_equal(run->n, 6);
	kz_run_free(run);
	assert_int_equal(kz_store_read_run(f->b, f->ka.pk, 11, 10, 0, &run),
	    KZ_ERR_NOT_FOUND);
	assert_int_equal(kz_store_read_run(f->b, f->kb.pk, 1, 10, 0, &run),
	    KZ_ERR_NOT_FOUND);
}

static void
test_disk_full_refuses_and_keeps_store(void **state)
{
	struct fx *f = *state;
	uint8_t before[32], after[32];
	struct kz_post post = { .channel = CHAN };
	char *text = malloc(KZ_TEXT_MAX + 1);
	struct kz_run *run;
	uint8_t *op;
	size_t len;
	sqlite3_stmt *s;
	int64_t pages;
	char sql[64];
	int rc = 0, n;

	assert_non_null(text);
	memset(text, 'x', KZ_TEXT_MAX);
	text[KZ_TEXT_MAX] = '\0';
	post.text = text;
	assert_int_equal(kz_op_encode_post(&op, &len, &post), 0);
	append_posts(f->a, &f->ka, 1, 3, T0);
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(f->a), "PRAGMA page_count",
	    -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	pages = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	/* Cap the database a few pages above its size: a full disk. */
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
	    (long long)pages + 6);
	assert_int_equal(sqlite3_exec(kz__store_db(f->a), sql, NULL, NULL, NULL),
	    SQLITE_OK);
	for (n = 0; n < 50; n++) {
		digest(f->a, before);
		rc = kz_store_append(f->a, &f->ka, T0, op, len, NULL);
		if (rc < 0)
			break;
	}
	assert_int_equal(rc, KZ_ERR_FULL);
	digest(f->a, after);
	assert_memory_equal(before, after, 32);
	assert_verifies(f->a);
	/* Ingest into a full store is refused the same way. */
	run = read_run(f->a, f->ka.pk, 1, 100);
	assert_int_equal(sqlite3_exec(kz__store_db(f->b),
	    "PRAGMA max_page_count = 8", NULL, NULL, NULL), SQLITE_OK);
	digest(f->b, before);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), KZ_ERR_FULL);
	digest(f->b, after);
	assert_memory_equal(before, after, 32);
	/* In a group: the call that hits the full disk fails the group, later
	 * calls return the same error, and commit rolls all of it back. */
	assert_int_equal(kz_store_begin(f->b), 0);
	rc = kz_store_append(f->b, &f->kb, T0, op, len, NULL);
	assert_int_equal(rc, KZ_ERR_FULL);
	assert_int_equal(kz_store_append(f->b, &f->kb, T0, (const uint8_t *)"", 0,
	    NULL), KZ_ERR_FULL);
	assert_int_equal(kz_store_commit(f->b), KZ_ERR_FULL);
	digest(f->b, after);
	assert_memory_equal(before, after, 32);
	/* Space freed: it goes on. */
	assert_int_equal(sqlite3_exec(kz__store_db(f->b),
	    "PRAGMA max_page_count = 1000000", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	assert_verifies(f->b);
	kz_run_free(run);
	free(op);
	free(text);
}

/* Appends one post of priority prio to st's feed of kp. */
static void
append_prio(struct kz_store *st, const struct kz_keypair *kp, const char *text,
    enum kz_priority prio, uint64_t wall)
{
	struct kz_post post = { .channel = CHAN, .text = text, .priority = prio };
	uint8_t *op;
	size_t len;

	assert_int_equal(kz_op_encode_post(&op, &len, &post), 0);
	assert_int_equal(kz_store_append(st, kp, wall, op, len, NULL), 0);
	free(op);
}

static int
on_detached(void *ctx, const uint8_t feed[32], uint64_t seq)
{
	uint64_t *got = ctx;

	(void)feed;
	got[got[0] + 1] = seq;
	got[0]++;
	return 0;
}

static int
count_entry(void *ctx, const struct kz_entry_view *e)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

/*
 * An urgent entry written in a group is signed alone; it travels alone
 * (read_entry / ingest_entry), is held detached above the tip, survives
 * duplicates, refuses a bad signature or a non-urgent class without a
 * trace, joins the chain when a run reaches it, and a different entry at
 * its seq is a fork.
 */
static void
test_urgent_entries_travel_alone(void **state)
{
	struct fx *f = *state;
	struct kz_store *y = open_store(f, "y.db"), *c = open_store(f, "c.db");
	struct kz_store *z = open_store(f, "z.db");
	struct kz_run *e4, *e5, *z4, *run, *bad;
	struct kz_ingest_result res;
	uint8_t d1[32], d2[32];
	uint64_t seqs[8], got[8] = { 0 };
	size_t n;
	int count = 0;

	/* a: 1..3 normal, 4 urgent, 5 normal, all in one group. */
	assert_int_equal(kz_store_begin(f->a), 0);
	append_posts(f->a, &f->ka, 1, 3, T0);
	append_prio(f->a, &f->ka, "堤防決壊の恐れ、避難せよ", KZ_PRIO_EMERGENCY, T0 + 10);
	append_prio(f->a, &f->ka, "了解", KZ_PRIO_NORMAL, T0 + 20);
	assert_int_equal(kz_store_commit(f->a), 0);
	assert_verifies(f->a);
	assert_int_equal(kz_store_urgent(f->a, f->ka.pk, 0, seqs, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], 4);
	assert_int_equal(kz_store_read_entry(f->a, f->ka.pk, 4, &e4), 0);
	assert_int_equal(e4->n, 1);
	assert_true(e4->has_prev);
	assert_int_equal(kz_store_read_entry(f->a, f->ka.pk, 5, &e5), 0);
	/* Seq 3 has no signature of its own: it cannot travel alone. */
	assert_int_equal(kz_store_read_entry(f->a, f->ka.pk, 3, &run),
	    KZ_ERR_NOT_FOUND);

	/* b: 4 arrives alone, ahead of 1..3. */
	assert_int_equal(kz_store_ingest_entry(f->b, e4, &res), 0);
	assert_int_equal(res.added, 1);
	assert_int_equal(res.tip, 0);
	assert_int_equal(tip_of(f->b, f->ka.pk), 0);
	assert_int_equal(kz_store_detached(f->b, on_detached, got), 0);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 4);
	assert_int_equal(kz_store_urgent(f->b, f->ka.pk, 0, seqs, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kz_store_read_run(f->b, f->ka.pk, 1, 0, 0, &run),
	    KZ_ERR_NOT_FOUND);
	assert_int_equal(kz_store_log(f->b, count_entry, &count), 0);
	assert_int_equal(count, 1);
	assert_verifies(f->b);

	/* Again: a duplicate, nothing changes. */
	digest(f->b, d1);
	assert_int_equal(kz_store_ingest_entry(f->b, e4, &res), 0);
	assert_int_equal(res.added, 0);
	assert_int_equal(res.duplicate, 1);
	digest(f->b, d2);
	assert_memory_equal(d1, d2, 32);
	/* Altered (its hlc): the signature fails; nothing changes. */
	assert_int_equal(kz_store_read_entry(f->a, f->ka.pk, 4, &bad), 0);
	bad->entries[0].hlc++;
	bad->first_seq = 6;
	assert_int_equal(kz_store_ingest_entry(f->b, bad, &res), KZ_ERR_BAD_SIG);
	kz_run_free(bad);
	/* Not urgent: refused before anything is checked or written. */
	assert_int_equal(kz_store_ingest_entry(f->b, e5, &res), KZ_ERR_NOT_URGENT);
	digest(f->b, d2);
	assert_memory_equal(d1, d2, 32);

	/* The backlog arrives: the chain runs through 4 to 5. */
	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(run->n, 5);
	assert_int_equal(kz_store_ingest(f->b, run, &res), 0);
	assert_int_equal(res.added, 4);
	assert_int_equal(res.duplicate, 1);
	assert_int_equal(res.tip, 5);
	kz_run_free(run);
	got[0] = 0;
	assert_int_equal(kz_store_detached(f->b, on_detached, got), 0);
	assert_int_equal(got[0], 0);
	assert_verifies(f->b);

	/* c: kb's 4 alone, then kb's 1..3 (each signed: written outside a
	 * group): the tip moves over 4 by itself. */
	append_posts(z, &f->kb, 1, 3, T0);
	append_prio(z, &f->kb, "至急", KZ_PRIO_URGENT, T0 + 10);
	assert_int_equal(kz_store_read_entry(z, f->kb.pk, 4, &z4), 0);
	assert_int_equal(kz_store_ingest_entry(c, z4, &res), 0);
	run = read_run(z, f->kb.pk, 1, 3);
	assert_int_equal(run->n, 3);
	assert_int_equal(kz_store_ingest(c, run, &res), 0);
	assert_int_equal(res.added, 3);
	assert_int_equal(res.tip, 4);
	assert_int_equal(tip_of(c, f->kb.pk), 4);
	assert_int_equal(kz_store_ingest(y, run, NULL), 0);
	kz_run_free(run);
	assert_verifies(c);

	/* y: kb's key writes another seq 4 (a restored backup): a node
	 * holding z's 4 detached sees the fork when y's branch arrives. */
	append_prio(y, &f->kb, "別の4番", KZ_PRIO_URGENT, T0 + 30);
	assert_int_equal(kz_store_ingest_entry(f->b, z4, &res), 0);
	run = read_run(y, f->kb.pk, 1, 10);
	assert_int_equal(run->n, 4);
	assert_int_equal(kz_store_ingest(f->b, run, &res), KZ_ERR_FORK);
	assert_int_equal(res.fork_seq, 4);
	kz_run_free(run);
	/* And the other way round: y's 4 alone against c's 4 in its chain. */
	assert_int_equal(kz_store_read_entry(y, f->kb.pk, 4, &run), 0);
	assert_int_equal(kz_store_ingest_entry(c, run, &res), KZ_ERR_FORK);
	assert_int_equal(res.fork_seq, 4);
	assert_int_equal(tip_of(c, f->kb.pk), 4);
	kz_run_free(run);

	kz_run_free(z4);
	kz_store_free(z);
	kz_run_free(e4);
	kz_run_free(e5);
	kz_store_free(c);
	kz_store_free(y);
}

/*
 * A node restored from an old backup (y: a's key, a's store of two
 * entries ago): a's seq 4, urgent, reached peer b alone while a's seq 3
 * reached nobody.  Once y holds its own seq 4 back it refuses to write
 * (KZ_ERR_BEHIND, not a database error); had it written a new seq 3
 * first, the peer holding the old seq 4 detached sees a fork when the new
 * seq 3 arrives, and keeps the proof.
 */
static void
test_restored_node_own_entry_detached(void **state)
{
	struct fx *f = *state;
	struct kz_store *y = open_store(f, "y.db"), *p2 = open_store(f, "p2.db");
	struct kz_run *run, *e4;
	struct kz_ingest_result res;
	struct kz_store_stats stats;
	struct kz_post post = { .channel = CHAN, .text = "新しい3番" };
	uint8_t *op;
	size_t len;

	append_posts(f->a, &f->ka, 1, 2, T0);
	run = read_run(f->a, f->ka.pk, 1, 10);
	assert_int_equal(kz_store_ingest(y, run, NULL), 0);	/* the backup */
	assert_int_equal(kz_store_ingest(f->b, run, NULL), 0);
	assert_int_equal(kz_store_ingest(p2, run, NULL), 0);
	kz_run_free(run);
	append_posts(f->a, &f->ka, 3, 1, T0 + 10);		/* seq 3: nobody */
	append_prio(f->a, &f->ka, "要救助者あり", KZ_PRIO_EMERGENCY, T0 + 20);
	assert_int_equal(kz_store_read_entry(f->a, f->ka.pk, 4, &e4), 0);
	assert_int_equal(kz_store_ingest_entry(f->b, e4, NULL), 0);
	assert_int_equal(kz_store_ingest_entry(p2, e4, NULL), 0);

	/* y gets its own seq 4 back: it may not write seq 3 again. */
	assert_int_equal(kz_store_ingest_entry(y, e4, &res), 0);
	assert_int_equal(res.added, 1);
	assert_int_equal(kz_op_encode_post(&op, &len, &post), 0);
	assert_int_equal(kz_store_append(y, &f->ka, T0 + 30, op, len, NULL),
	    KZ_ERR_BEHIND);
	/* Still after a restart (the entry is in the store). */
	kz_store_free(y);
	y = open_store(f, "y.db");
	assert_int_equal(kz_store_append(y, &f->ka, T0 + 30, op, len, NULL),
	    KZ_ERR_BEHIND);
	assert_int_equal(tip_of(y, f->ka.pk), 2);
	kz_store_free(y);

	/* A backup that wrote a new seq 3 before hearing of seq 4 (y2): its
	 * seq 3 reaching b, which holds the old seq 4 detached, is a fork. */
	y = open_store(f, "y2.db");
	run = read_run(f->a, f->ka.pk, 1, 2);
	assert_int_equal(kz_store_ingest(y, run, NULL), 0);
	kz_run_free(run);
	assert_int_equal(kz_store_append(y, &f->ka, T0 + 30, op, len, NULL), 0);
	run = read_run(y, f->ka.pk, 3, 10);
	assert_int_equal(kz_store_ingest(p2, run, &res), 0);
	kz_run_free(run);
	assert_int_equal(kz_store_stats(p2, &stats), 0);
	assert_int_equal(stats.forks, 1);
	assert_int_equal(tip_of(p2, f->ka.pk), 3);	/* 4 stays detached */
	assert_non_null(strstr(f->log.last, "fork detected"));
	free(op);
	kz_run_free(e4);
	kz_store_free(y);
	kz_store_free(p2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_memory_statistics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_and_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_order_is_hlc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_bit_anywhere_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_and_skip_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_mismatch_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_detected_and_proof_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_catches_altered_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v1_fixture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hlc_monotonic_and_observes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hlc_far_future_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_refuses_and_keeps_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_urgent_entries_travel_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restored_node_own_entry_detached, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
