/*
 * Sizes of what the store holds (include/kizuna/store_size.h).  Each call
 * is one bounded query: a range of one feed read through its primary key
 * (feed, seq), or the last 256 rows by rowid.  length() of a blob reads
 * only the record header, never the op bytes themselves.
 */
#include <sqlite3.h>

#include "kizuna/err.h"
#include "kizuna/store_size.h"
#include "store/store_int.h"

static int
one_int(struct kz_store *st, sqlite3_stmt *s, const char *what, int64_t *out)
{
	int rc = sqlite3_step(s);

	*out = 0;
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = kz__store_err(st, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
		    what);
	}
	sqlite3_finalize(s);
	return rc;
}

int
kz_store_range_bytes(struct kz_store *st, const uint8_t feed[32],
    uint64_t from, uint64_t to, uint64_t *bytes)
{
	static const char sql[] =
	    "SELECT coalesce(sum(length(e.header) + coalesce(length(e.op), 0)),"
	    " 0) FROM feeds f JOIN entries e ON e.feed = f.id"
	    " WHERE f.key = ?1 AND e.seq BETWEEN ?2 AND ?3";
	sqlite3_stmt *s = NULL;
	int64_t v;
	int rc;

	*bytes = 0;
	if (from > to || from > INT64_MAX)
		return 0;
	if (to > INT64_MAX)
		to = INT64_MAX;
	rc = sqlite3_prepare_v2(kz__store_db(st), sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return kz__store_err(st, rc, "prepare range size");
	sqlite3_bind_blob(s, 1, feed, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)from);
	sqlite3_bind_int64(s, 3, (int64_t)to);
	if ((rc = one_int(st, s, "range size", &v)) == 0)
		*bytes = v > 0 ? (uint64_t)v : 0;
	return rc;
}

int
kz_store_recent_mean_size(struct kz_store *st, uint64_t *mean)
{
	static const char sql[] =
	    "SELECT coalesce(CAST(round(avg(n)) AS INTEGER), 0) FROM"
	    " (SELECT length(header) + coalesce(length(op), 0) AS n"
	    " FROM entries ORDER BY rowid DESC LIMIT 256)";
	sqlite3_stmt *s = NULL;
	int64_t v;
	int rc;

	*mean = 0;
	rc = sqlite3_prepare_v2(kz__store_db(st), sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return kz__store_err(st, rc, "prepare mean size");
	if ((rc = one_int(st, s, "mean size", &v)) == 0)
		*mean = v > 0 ? (uint64_t)v : 0;
	return rc;
}
