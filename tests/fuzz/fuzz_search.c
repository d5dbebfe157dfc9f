/*
 * Fuzz target: the search query builder (kz_search_query) and, behind it,
 * the "kizuna" FTS5 tokenizer and kz_highlight()/kz_snippet()
 * (src/store/fts.c).
 *
 * Input: the user's query up to the first NUL byte; after it, a message
 * text.  A table `t USING fts5(body, tokenize='kizuna')` on an in-memory
 * database holds the text (when it is valid UTF-8, as every stored message
 * is) while the query runs against it.
 *
 * Invariants:
 *  - kz_search_query returns 0, BAD_UTF8 (exactly for invalid UTF-8) or
 *    INVAL, never TOO_BIG with KZ_SEARCH_QUERY_MAX room; a smaller buffer
 *    gives the same expression or TOO_BIG and an empty string;
 *  - an expression is valid UTF-8 made only of "phrases" (no quote inside),
 *    optional '*' and " AND ", and FTS5 runs it without an error;
 *  - kz_highlight gives the text back once its marks are removed, and
 *    kz_snippet a piece of the text between optional ellipses.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/err.h"
#include "kizuna/search.h"
#include "kizuna/util.h"
#include "store/fts_int.h"

#define QUERY_MAX 4096
#define TEXT_MAX 20000

/* Marks and ellipsis: bytes that never occur in valid UTF-8. */
#define OPEN "\xff"
#define CLOSE "\xfe"
#define ELLIPSIS "\xfd"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;
static sqlite3_stmt *ins, *sel, *del;

static void
prep(const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
		kzf_fail("search: prepare %s: %s", sql, sqlite3_errmsg(db));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kzf_init();
	if (sqlite3_open(":memory:", &db) != SQLITE_OK || kz__fts_register(db) < 0 ||
	    sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(body, "
	    "tokenize='kizuna')", NULL, NULL, NULL) != SQLITE_OK)
		kzf_fail("search: database setup");
	prep("INSERT INTO t(rowid, body) VALUES (1, ?1)", &ins);
	prep("SELECT kz_highlight(t, 0, ?2, ?3), kz_snippet(t, 0, ?2, ?3, ?4, ?5)"
	    " FROM t WHERE t MATCH ?1", &sel);
	prep("DELETE FROM t", &del);
	return 0;
}

/* "phrase"[*] { AND "phrase"[*] }, no quote inside a phrase. */
static void
check_syntax(const char *q)
{
	const char *p = q;

	for (;;) {
		const char *end;

		KZF_CHECK(*p == '"', "search: expression '%s': no quote at %td", q,
		    p - q);
		end = strchr(p + 1, '"');
		KZF_CHECK(end != NULL && end > p + 1, "search: expression '%s': "
		    "empty or open phrase", q);
		p = end + 1;
		if (*p == '*')
			p++;
		if (*p == '\0')
			return;
		KZF_CHECK(strncmp(p, " AND ", 5) == 0, "search: expression '%s': "
		    "junk at %td", q, p - q);
		p += 5;
	}
}

/* Removes every byte of drop from s (in place); returns the new length. */
static size_t
strip(char *s, size_t n, const char *drop)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++)
		if (strchr(drop, s[i]) == NULL || s[i] == '\0')
			s[o++] = s[i];
	return o;
}

/* True if needle[0..nl) occurs in hay[0..hl). */
static bool
contains(const char *hay, size_t hl, const char *needle, size_t nl)
{
	size_t i;

	for (i = 0; i + nl <= hl; i++)
		if (memcmp(hay + i, needle, nl) == 0)
			return true;
	return false;
}

static void
run_match(const char *expr, const char *text, size_t tlen, uint8_t ntok)
{
	int rc;

	sqlite3_bind_text(sel, 1, expr, -1, SQLITE_STATIC);
	sqlite3_bind_text(sel, 2, OPEN, -1, SQLITE_STATIC);
	sqlite3_bind_text(sel, 3, CLOSE, -1, SQLITE_STATIC);
	sqlite3_bind_text(sel, 4, ELLIPSIS, -1, SQLITE_STATIC);
	sqlite3_bind_int(sel, 5, ntok % 40);
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(sel, 0);
		size_t hl = (size_t)sqlite3_column_bytes(sel, 0);
		const char *sn = (const char *)sqlite3_column_text(sel, 1);
		size_t sl = (size_t)sqlite3_column_bytes(sel, 1);
		char *c;

		KZF_CHECK(text != NULL, "search: a match in an empty table");
		KZF_CHECK(h != NULL && sn != NULL, "search: NULL highlight");
		c = malloc(hl + sl + 1);
		KZF_CHECK(c != NULL, "search: out of memory");
		memcpy(c, h, hl);
		hl = strip(c, hl, OPEN CLOSE);
		KZF_CHECK(hl == tlen && memcmp(c, text, tlen) == 0,
		    "search: kz_highlight('%s') does not give the text back",
		    expr);
		memcpy(c, sn, sl);
		sl = strip(c, sl, OPEN CLOSE);
		c[sl] = '\0';
		{
			char *b = c;
			size_t bl = sl;

			if (bl > 0 && b[0] == ELLIPSIS[0]) {
				b++;
				bl--;
			}
			if (bl > 0 && b[bl - 1] == ELLIPSIS[0])
				bl--;
			KZF_CHECK(memchr(b, ELLIPSIS[0], bl) == NULL,
			    "search: kz_snippet('%s'): ellipsis inside", expr);
			KZF_CHECK(bl <= tlen && (bl == 0 ||
			    contains(text, tlen, b, bl)),
			    "search: kz_snippet('%s') is not a piece of the text",
			    expr);
			KZF_CHECK(kz_utf8_valid((const uint8_t *)b, bl),
			    "search: kz_snippet('%s') cuts a character", expr);
		}
		free(c);
	}
	KZF_CHECK(rc == SQLITE_DONE, "search: MATCH '%s': %s", expr,
	    sqlite3_errmsg(db));
	sqlite3_reset(sel);
	sqlite3_clear_bindings(sel);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t qlen = nul != NULL ? (size_t)(nul - data) : size;
	const char *text = NULL;
	size_t tlen = 0, cap, small_cap;
	char *query, *out, *small;
	int rc, rc2;
	bool valid;

	if (qlen > QUERY_MAX)
		return 0;
	query = malloc(qlen + 1);
	KZF_CHECK(query != NULL, "search: out of memory");
	memcpy(query, data, qlen);
	query[qlen] = '\0';
	if (nul != NULL) {
		text = (const char *)nul + 1;
		tlen = size - qlen - 1;
		if (tlen > TEXT_MAX || !kz_utf8_valid((const uint8_t *)text, tlen))
			text = NULL;
	}
	valid = kz_utf8_valid((const uint8_t *)query, qlen);

	cap = KZ_SEARCH_QUERY_MAX(qlen);
	out = malloc(cap);
	KZF_CHECK(out != NULL, "search: out of memory");
	rc = kz_search_query(out, cap, query);
	KZF_CHECK(rc == 0 || rc == KZ_ERR_BAD_UTF8 || rc == KZ_ERR_INVAL,
	    "search: query '%s': %s", query, kz_errname(rc));
	KZF_CHECK((rc == KZ_ERR_BAD_UTF8) == !valid, "search: BAD_UTF8 for a "
	    "%svalid query", valid ? "" : "in");
	KZF_CHECK(memchr(out, 0, cap) != NULL, "search: not terminated");
	if (rc < 0)
		KZF_CHECK(out[0] == '\0', "search: output left on failure");

	/* The same query into a smaller buffer. */
	small_cap = 1 + (qlen > 0 ? data[qlen - 1] % (cap < 64 ? cap : 64) : 0);
	small = malloc(small_cap);
	KZF_CHECK(small != NULL, "search: out of memory");
	rc2 = kz_search_query(small, small_cap, query);
	if (rc2 == 0)
		KZF_CHECK(rc == 0 && strcmp(small, out) == 0,
		    "search: a smaller buffer gave another expression");
	else
		KZF_CHECK(small[0] == '\0' && (rc2 == rc || (rc == 0 &&
		    rc2 == KZ_ERR_TOO_BIG && strlen(out) >= small_cap)),
		    "search: %s with %zu bytes, %s with %zu", kz_errname(rc2),
		    small_cap, kz_errname(rc), cap);
	free(small);

	if (rc == 0) {
		KZF_CHECK(kz_utf8_valid((const uint8_t *)out, strlen(out)),
		    "search: expression is not valid UTF-8");
		check_syntax(out);
		if (text != NULL && tlen > 0) {
			sqlite3_bind_text(ins, 1, text, (int)tlen, SQLITE_STATIC);
			KZF_CHECK(sqlite3_step(ins) == SQLITE_DONE,
			    "search: insert: %s", sqlite3_errmsg(db));
			sqlite3_reset(ins);
		} else {
			text = NULL;
			tlen = 0;
		}
		run_match(out, text, tlen, qlen > 0 ? data[0] : 0);
		KZF_CHECK(sqlite3_step(del) == SQLITE_DONE, "search: delete: %s",
		    sqlite3_errmsg(db));
		sqlite3_reset(del);
	}
	free(out);
	free(query);
	return 0;
}
