/*
 * Reading the store as a whole: feed listing, the entry log in hlc order,
 * full verification, statistics and a content digest.  None of these write.
 *
 * kz_store_verify trusts nothing it reads: every header is re-parsed and
 * re-hashed, every op re-hashed against its header, every chain link and
 * seq re-checked, and every held signature re-verified, so a byte altered
 * anywhere in the entry rows (or the signature rows) is named.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kizuna/err.h"
#include "kizuna/store.h"
#include "kizuna/util.h"
#include "store/store_int.h"

static int
prepare(struct kz_store *st, const char *sql, sqlite3_stmt **s)
{
	int rc = sqlite3_prepare_v2(kz__store_db(st), sql, -1, s, NULL);

	return rc == SQLITE_OK ? 0 : kz__store_err(st, rc, sql);
}

int
kz_store_feeds(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_feed_info *feed), void *ctx)
{
	sqlite3_stmt *s;
	int rc, src;

	rc = prepare(st, "SELECT key, tip, forked FROM feeds ORDER BY key", &s);
	if (rc < 0)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		struct kz_feed_info fi;

		if (sqlite3_column_bytes(s, 0) != KZ_PK_BYTES) {
			rc = KZ_ERR_CORRUPT;
			break;
		}
		memcpy(fi.key, sqlite3_column_blob(s, 0), KZ_PK_BYTES);
		fi.tip = (uint64_t)sqlite3_column_int64(s, 1);
		fi.forked = sqlite3_column_int(s, 2) != 0;
		if ((rc = cb(ctx, &fi)) != 0)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "list feeds");
	sqlite3_finalize(s);
	return rc;
}

int
kz_store_log(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_entry_view *e), void *ctx)
{
	sqlite3_stmt *s;
	int rc, src;

	rc = prepare(st, "SELECT e.header, e.hash, e.op FROM entries e"
	    " JOIN feeds f ON f.id = e.feed ORDER BY e.hlc, f.key, e.seq", &s);
	if (rc < 0)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		struct kz_entry_view v;

		if (kz_header_decode(&v.h, sqlite3_column_blob(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0)) < 0 ||
		    sqlite3_column_bytes(s, 1) != KZ_HASH_BYTES) {
			rc = KZ_ERR_CORRUPT;
			break;
		}
		memcpy(v.hash, sqlite3_column_blob(s, 1), KZ_HASH_BYTES);
		v.op_len = (size_t)sqlite3_column_bytes(s, 2);
		v.op = sqlite3_column_type(s, 2) == SQLITE_NULL ? NULL :
		    (v.op_len ? sqlite3_column_blob(s, 2) : (const void *)"");
		if ((rc = cb(ctx, &v)) != 0)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "read log");
	sqlite3_finalize(s);
	return rc;
}

int
kz_store_forks(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_fork_proof *proof), void *ctx)
{
	sqlite3_stmt *s;
	int rc, src;

	rc = prepare(st, "SELECT f.key, k.seq, k.other_hash, k.run FROM forks k"
	    " JOIN feeds f ON f.id = k.feed ORDER BY f.key, k.seq, k.id", &s);
	if (rc < 0)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		struct kz_fork_proof p;

		if (sqlite3_column_bytes(s, 0) != KZ_PK_BYTES ||
		    sqlite3_column_bytes(s, 2) != KZ_HASH_BYTES) {
			rc = KZ_ERR_CORRUPT;
			break;
		}
		memcpy(p.feed, sqlite3_column_blob(s, 0), KZ_PK_BYTES);
		p.seq = (uint64_t)sqlite3_column_int64(s, 1);
		memcpy(p.other_hash, sqlite3_column_blob(s, 2), KZ_HASH_BYTES);
		p.run = sqlite3_column_blob(s, 3);
		p.run_len = (size_t)sqlite3_column_bytes(s, 3);
		if ((rc = cb(ctx, &p)) != 0)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "list forks");
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------------ verify */

static void
report_bad(struct kz_verify_report *rep, const uint8_t feed[KZ_PK_BYTES],
    uint64_t seq, const char *reason)
{
	if (!rep->ok)
		return;		/* keep the first */
	rep->ok = false;
	memcpy(rep->bad_feed, feed, KZ_PK_BYTES);
	rep->bad_seq = seq;
	snprintf(rep->reason, sizeof(rep->reason), "%s", reason);
}

/* Checks one entry row against its feed and its predecessor's hash. */
static const char *
check_entry(sqlite3_stmt *s, const uint8_t key[KZ_PK_BYTES], uint64_t seq,
    const uint8_t prev[KZ_HASH_BYTES], uint8_t hash_out[KZ_HASH_BYTES])
{
	struct kz_entry_header h;
	uint8_t h2[KZ_HASH_BYTES];
	const uint8_t *header = sqlite3_column_blob(s, 2);
	int header_len = sqlite3_column_bytes(s, 2);

	if (kz_header_decode(&h, header, (size_t)header_len) < 0)
		return "header is malformed";
	if (memcmp(h.author, key, KZ_PK_BYTES) != 0)
		return "header names another author";
	if (h.seq != seq)
		return "header seq differs from its row";
	if (memcmp(h.prev, prev, KZ_HASH_BYTES) != 0)
		return "header does not link to the previous entry";
	if (h.hlc != (uint64_t)sqlite3_column_int64(s, 1))
		return "hlc differs from the signed header";
	if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
		size_t op_len = (size_t)sqlite3_column_bytes(s, 4);

		if (op_len != h.op_len)
			return "op length differs from the signed header";
		kz_hash(h2, op_len ? sqlite3_column_blob(s, 4) : (const void *)"",
		    op_len);
		if (memcmp(h2, h.op_hash, KZ_HASH_BYTES) != 0)
			return "op bytes do not match the signed op hash";
	}
	kz_hash(hash_out, header, KZ_HEADER_BYTES);
	if (sqlite3_column_bytes(s, 3) != KZ_HASH_BYTES ||
	    memcmp(sqlite3_column_blob(s, 3), hash_out, KZ_HASH_BYTES) != 0)
		return "stored hash differs from the header's hash";
	return NULL;
}

/*
 * A detached entry (row s of verify_feed's query, above the tip): its
 * header and op as check_entry checks them, linked to whatever its header
 * names, and a signature of its own that verifies.  NULL if sound.
 */
static const char *
check_detached(struct kz_store *st, sqlite3_stmt *s, int64_t id,
    const uint8_t key[KZ_PK_BYTES], uint64_t seq)
{
	struct kz_entry_header h;
	uint8_t hash[KZ_HASH_BYTES];
	sqlite3_stmt *q = NULL;
	const char *why;
	bool ok = false;

	if (kz_header_decode(&h, sqlite3_column_blob(s, 2),
	    (size_t)sqlite3_column_bytes(s, 2)) < 0)
		return "header is malformed";
	if ((why = check_entry(s, key, seq, h.prev, hash)) != NULL)
		return why;
	if (prepare(st, "SELECT sig FROM sigs WHERE feed = ?1 AND seq = ?2", &q) < 0)
		return "signature could not be read";
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, (int64_t)seq);
	if (sqlite3_step(q) == SQLITE_ROW)
		ok = sqlite3_column_bytes(q, 0) == KZ_SIG_BYTES &&
		    kz_verify_hash(sqlite3_column_blob(q, 0), hash, key) == 0;
	sqlite3_finalize(q);
	return ok ? NULL : "detached entry has no signature of its own that verifies";
}

static int
verify_feed(struct kz_store *st, int64_t id, const uint8_t key[KZ_PK_BYTES],
    uint64_t tip, const void *tip_hash, int tip_hash_len,
    struct kz_verify_report *rep)
{
	sqlite3_stmt *s = NULL;
	uint8_t (*hashes)[KZ_HASH_BYTES] = NULL;
	uint8_t prev[KZ_HASH_BYTES] = { 0 };
	uint64_t seq = 0, last_sig = 0;
	const char *why;
	int rc, src;

	hashes = malloc((tip ? tip : 1) * sizeof(*hashes));
	if (hashes == NULL)
		return KZ_ERR_NOMEM;
	rc = prepare(st, "SELECT seq, hlc, header, hash, op FROM entries"
	    " WHERE feed = ?1 ORDER BY seq", &s);
	if (rc < 0)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t row_seq = (uint64_t)sqlite3_column_int64(s, 0);

		if (row_seq > tip && seq == tip) {
			/* Detached entries: each alone under its own signature. */
			why = check_detached(st, s, id, key, row_seq);
			if (why != NULL) {
				report_bad(rep, key, row_seq, why);
				goto out;
			}
			rep->entries++;
			continue;
		}
		seq++;
		if (row_seq != seq) {
			report_bad(rep, key, seq, "entry missing from the chain");
			goto out;
		}
		why = check_entry(s, key, seq, prev, hashes[seq - 1]);
		if (why != NULL) {
			report_bad(rep, key, seq, why);
			goto out;
		}
		memcpy(prev, hashes[seq - 1], KZ_HASH_BYTES);
		rep->entries++;
	}
	if (src != SQLITE_DONE) {
		rc = kz__store_err(st, src, "verify entries");
		goto out;
	}
	if (seq != tip) {
		report_bad(rep, key, seq + 1, "entry missing below the feed's tip");
		goto out;
	}
	if (tip > 0 && (tip_hash_len != KZ_HASH_BYTES ||
	    memcmp(tip_hash, prev, KZ_HASH_BYTES) != 0)) {
		report_bad(rep, key, tip, "feed's tip hash differs from its entry");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;

	rc = prepare(st, "SELECT seq, sig FROM sigs WHERE feed = ?1 ORDER BY seq", &s);
	if (rc < 0)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t sseq = (uint64_t)sqlite3_column_int64(s, 0);

		if (sseq > tip && sseq != 0)
			continue;	/* a detached entry's: checked with it */
		if (sseq == 0) {
			report_bad(rep, key, sseq, "signature for an entry not held");
			goto out;
		}
		if (sqlite3_column_bytes(s, 1) != KZ_SIG_BYTES ||
		    kz_verify_hash(sqlite3_column_blob(s, 1), hashes[sseq - 1],
		    key) < 0) {
			report_bad(rep, key, sseq, "signature does not verify");
			goto out;
		}
		last_sig = sseq;
		rep->signatures++;
	}
	if (src != SQLITE_DONE) {
		rc = kz__store_err(st, src, "verify signatures");
		goto out;
	}
	if (tip > 0 && last_sig != tip)
		report_bad(rep, key, tip, "no signature covers the feed's tip");
out:
	sqlite3_finalize(s);
	free(hashes);
	return rc;
}

int
kz_store_verify(struct kz_store *st, struct kz_verify_report *rep)
{
	sqlite3_stmt *s;
	int rc, src;

	memset(rep, 0, sizeof(*rep));
	rep->ok = true;
	rc = prepare(st, "SELECT id, key, tip, tip_hash FROM feeds ORDER BY key", &s);
	if (rc < 0)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		uint8_t key[KZ_PK_BYTES];

		rep->feeds++;
		if (sqlite3_column_bytes(s, 1) != KZ_PK_BYTES) {
			memset(key, 0, sizeof(key));
			report_bad(rep, key, 0, "feed key is malformed");
			break;
		}
		memcpy(key, sqlite3_column_blob(s, 1), KZ_PK_BYTES);
		rc = verify_feed(st, sqlite3_column_int64(s, 0), key,
		    (uint64_t)sqlite3_column_int64(s, 2), sqlite3_column_blob(s, 3),
		    sqlite3_column_bytes(s, 3), rep);
		if (rc < 0 || !rep->ok)
			break;
	}
	if (rc == 0 && rep->ok && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "verify feeds");
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------------ stats, digest */

static int
count(struct kz_store *st, const char *sql, uint64_t *out)
{
	sqlite3_stmt *s;
	int rc = prepare(st, sql, &s);

	if (rc < 0)
		return rc;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = kz__store_err(st, rc, sql);
	}
	sqlite3_finalize(s);
	return rc;
}

static uint64_t
file_size(const char *path, const char *suffix)
{
	char buf[4096];
	struct stat sb;

	snprintf(buf, sizeof(buf), "%s%s", path, suffix);
	return stat(buf, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

int
kz_store_stats(struct kz_store *st, struct kz_store_stats *stats)
{
	int rc;

	memset(stats, 0, sizeof(*stats));
	rc = count(st, "SELECT count(*) FROM feeds", &stats->feeds);
	if (rc == 0)
		rc = count(st, "SELECT coalesce(sum(tip), 0) FROM feeds", &stats->entries);
	if (rc == 0)
		rc = count(st, "SELECT count(*) FROM forks", &stats->forks);
	stats->db_bytes = file_size(kz__store_path(st), "") +
	    file_size(kz__store_path(st), "-wal");
	stats->schema_version = kz_store_schema_version(st);
	return rc;
}

/* Hashes one value with a type tag so that NULL, 0, '' and x'' differ. */
static void
digest_value(crypto_generichash_state *h, sqlite3_stmt *s, int col)
{
	uint8_t tag = (uint8_t)sqlite3_column_type(s, col), lenb[8];
	int64_t iv;

	crypto_generichash_update(h, &tag, 1);
	switch (tag) {
	case SQLITE_INTEGER:
		iv = sqlite3_column_int64(s, col);
		kz_put_be64(lenb, (uint64_t)iv);
		crypto_generichash_update(h, lenb, 8);
		break;
	case SQLITE_FLOAT: {
		double d = sqlite3_column_double(s, col);
		crypto_generichash_update(h, (const uint8_t *)&d, sizeof(d));
		break;
	}
	case SQLITE_TEXT:
	case SQLITE_BLOB: {
		const void *p = sqlite3_column_blob(s, col);
		size_t n = (size_t)sqlite3_column_bytes(s, col);

		kz_put_be64(lenb, n);
		crypto_generichash_update(h, lenb, 8);
		if (n > 0)
			crypto_generichash_update(h, p, n);
		break;
	}
	default:
		break;
	}
}

int
kz__store_digest_query(struct kz_store *st, crypto_generichash_state *h,
    const char *sql)
{
	sqlite3_stmt *s;
	int rc, src, c;

	if ((rc = prepare(st, sql, &s)) < 0)
		return rc;
	crypto_generichash_update(h, (const uint8_t *)sql, strlen(sql));
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		for (c = 0; c < sqlite3_column_count(s); c++)
			digest_value(h, s, c);
	if (src != SQLITE_DONE)
		rc = kz__store_err(st, src, sql);
	sqlite3_finalize(s);
	return rc;
}

int
kz_store_content_digest(struct kz_store *st, uint8_t out[KZ_HASH_BYTES])
{
	/* Every table of the schema, each in the order of its key. */
	static const char *const dumps[] = {
		"SELECT * FROM feeds ORDER BY id",
		"SELECT * FROM entries ORDER BY feed, seq",
		"SELECT * FROM sigs ORDER BY feed, seq",
		"SELECT * FROM forks ORDER BY id",
		"SELECT * FROM urgent ORDER BY feed, seq",
		"SELECT * FROM meta ORDER BY k",
		"SELECT * FROM ws_meta ORDER BY k",
		"SELECT * FROM ws_facts ORDER BY entry",
		"SELECT * FROM ws_users ORDER BY id",
		"SELECT * FROM ws_nodes ORDER BY key",
		"SELECT * FROM ws_channels ORDER BY id",
		"SELECT * FROM ws_messages ORDER BY id",
		"SELECT * FROM ws_reactions ORDER BY target, user, emoji",
		"SELECT * FROM ws_acks ORDER BY target, user",
		"SELECT * FROM ws_rollcall ORDER BY user",
	};
	crypto_generichash_state h;
	size_t i;
	int rc = 0;

	crypto_generichash_init(&h, NULL, 0, KZ_HASH_BYTES);
	for (i = 0; i < sizeof(dumps) / sizeof(dumps[0]) && rc == 0; i++)
		rc = kz__store_digest_query(st, &h, dumps[i]);
	crypto_generichash_final(&h, out, KZ_HASH_BYTES);
	return rc;
}
