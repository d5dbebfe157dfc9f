/*
 * Search tests: the "kizuna" FTS5 tokenizer (exact token streams and byte
 * offsets), kz_search_query() (exact MATCH expressions, errors, injection),
 * and end-to-end queries over a fixed corpus of municipal chat messages,
 * each with the exact set of rows it must return.  The expected sets were
 * written by reading the corpus, not by running the code.  Last, the index
 * size on a generated 50,000-message corpus is checked against the 1.5x
 * budget of the raw text.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/search.h"
#include "kizuna/util.h"
#include "store/fts_int.h"
#include "testutil.h"

/* ------------------------------------------------------------ corpus */

static const struct {
	int64_t rowid;
	const char *body;
} corpus[] = {
	{ 1, "「避難所を開設しました。」" },
	{ 2, "第一小学校の体育館を避難所として開放します" },
	{ 3, "避難。所の確認をお願いします" },
	{ 4, "停電 復旧見込み 18:00" },
	{ 5, "北町で停電2件、現在復旧作業中" },
	{ 6, "給水車は14時に到着" },
	{ 7, "給水所：中央公園、南小学校" },
	{ 8, "ＬＩＮＥで連絡してください" },
	{ 9, "LINEが使えない方は電話で" },
	{ 10, "ｶﾞｽ漏れの通報あり、付近は立入禁止" },
	{ 11, "ガス漏れは止まりました" },
	{ 12, "kizuna node at city-hall is online" },
	{ 13, "ｋｉｚｕｎａの端末を２台追加" },
	{ 14, "水道は断水中です" },
	{ 15, "飲料水を配布します（１人２本まで）" },
	{ 16, "Battery 80% on the relay at 公民館" },
	{ 17, "毛布が足りません！至急" },
	{ 18, "高齢者の安否確認を進めています" },
	{ 19, "外国人住民向けにEnglishで案内" },
	{ 20, "土砂崩れのため県道12号は通行止め" },
	{ 21, "避難指示が解除されました" },
	{ 22, "避難勧告→避難指示に変更" },
	{ 23, "避難経路：東側の階段を使用" },
	{ 24, "ボランティア受付は9:00から" },
	{ 25, "ﾎﾞﾗﾝﾃｨｱの方は受付へ" },
	{ 26, "炊き出しは正午から、場所は市役所前" },
	{ 27, "仮設トイレを3基設置" },
	{ 28, "医療班が到着、けが人2名を搬送" },
	{ 29, "道路の冠水に注意" },
	{ 30, "雨量が増えています。川に近づかないで" },
	{ 31, "電話がつながりにくい状況です" },
	{ 32, "Wi-Fiは「kizuna-guest」に接続" },
	{ 33, "停電中の信号機に警察官を配置" },
	{ 34, "発電機の燃料（軽油）を補給" },
	{ 35, "避難所の水が不足" },
	{ 36, "明日の給水は8時から" },
	{ 37, "ｶﾀｶﾅ表記のテスト" },
	{ 38, "ひらがなだけのぶんしょうです" },
	{ 39, "市長が避難所を視察" },
	{ 40, "ORDER #12 for blankets confirmed" },
	{ 41, "所長より：明日の会議は中止" },
	{ 42, "電気・ガス・水道の復旧状況" },
	{ 43, "空き部屋あり（３名まで）" },
	{ 44, "水" },
	{ 45, "給水" },
	{ 46, "22時以降の外出は控えてください" },
	{ 47, "連絡先：０９０－１２３４－５６７８" },
	{ 48, "ｴﾝｼﾞﾝ音がします" },
	{ 49, "住民の避難が完了した地区" },
	{ 50, "ﾊﾟﾝとﾐﾙｸを配布" },
	{ 51, "避難所 supply order: 毛布20枚" },
	{ 52, "地域の人々へ周知" },
};

#define N_CORPUS (sizeof(corpus) / sizeof(corpus[0]))

/* ------------------------------------------------------------ helpers */

static sqlite3 *
open_db(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(kz__fts_register(db), 0);
	assert_int_equal(sqlite3_exec(db,
	    "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='kizuna')",
	    NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void
insert(sqlite3 *db, int64_t rowid, const char *body)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(db,
	    "INSERT INTO t(rowid, body) VALUES (?1, ?2)", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(st, 1, rowid);
	sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static int
group_setup(void **state)
{
	sqlite3 *db = open_db();
	size_t i;

	for (i = 0; i < N_CORPUS; i++)
		insert(db, corpus[i].rowid, corpus[i].body);
	*state = db;
	return 0;
}

static int
group_teardown(void **state)
{
	assert_int_equal(sqlite3_close(*state), SQLITE_OK);
	return 0;
}

/* Runs a MATCH expression and checks the rowids are exactly want. */
static void
expect_match(sqlite3 *db, const char *user, const char *q,
    const int64_t *want, size_t nwant)
{
	char got_s[512] = "", want_s[512] = "";
	int64_t got[N_CORPUS + 1];
	size_t ngot = 0, i;
	sqlite3_stmt *st = NULL;
	int rc;

	assert_int_equal(sqlite3_prepare_v2(db,
	    "SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY rowid", -1, &st,
	    NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		assert_true(ngot < N_CORPUS + 1);
		got[ngot++] = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE)
		fail_msg("query %s (%s): %s", user, q, sqlite3_errmsg(db));
	sqlite3_finalize(st);

	for (i = 0; i < ngot; i++)
		snprintf(got_s + strlen(got_s), sizeof(got_s) - strlen(got_s),
		    " %" PRId64, got[i]);
	for (i = 0; i < nwant; i++)
		snprintf(want_s + strlen(want_s),
		    sizeof(want_s) - strlen(want_s), " %" PRId64, want[i]);
	if (strcmp(got_s, want_s) != 0)
		fail_msg("query %s (%s): got {%s } want {%s }", user, q, got_s,
		    want_s);
}

/* What a person types, through kz_search_query(), then the table. */
static void
expect_rows(sqlite3 *db, const char *user, const int64_t *want,
    size_t nwant)
{
	char q[1024];

	assert_int_equal(kz_search_query(q, sizeof(q), user), 0);
	expect_match(db, user, q, want, nwant);
}

/* A MATCH expression written by hand, tokenized by FTS5 as a query. */
static void
expect_raw(sqlite3 *db, const char *q, const int64_t *want, size_t nwant)
{
	expect_match(db, q, q, want, nwant);
}

#define ROWS(...) (const int64_t[]){ __VA_ARGS__ }, \
	sizeof((const int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)
#define NO_ROWS NULL, 0

/* One token as the tokenizer reported it. */
struct tok {
	char text[64];
	int start, end;
	int colocated;
};

struct tok_list {
	struct tok v[64];
	int n;
};

static int
on_tok(void *ctx, int tflags, const char *text, int ntext, int start,
    int end)
{
	struct tok_list *l = ctx;

	assert_true(l->n < 64);
	assert_true(ntext > 0 && ntext < 64);
	memcpy(l->v[l->n].text, text, (size_t)ntext);
	l->v[l->n].text[ntext] = '\0';
	l->v[l->n].start = start;
	l->v[l->n].end = end;
	l->v[l->n].colocated = (tflags & FTS5_TOKEN_COLOCATED) != 0;
	l->n++;
	return SQLITE_OK;
}

static fts5_api *
get_api(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st,
	    NULL), SQLITE_OK);
	sqlite3_bind_pointer(st, 1, &api, "fts5_api_ptr", NULL);
	sqlite3_step(st);
	sqlite3_finalize(st);
	assert_non_null(api);
	return api;
}

/* Tokenizes n bytes of text with the registered "kizuna" tokenizer. */
static void
tokenize(sqlite3 *db, int flags, const char *text, int n,
    struct tok_list *out)
{
	fts5_api *api = get_api(db);
	fts5_tokenizer tk;
	Fts5Tokenizer *t = NULL;
	void *udata = NULL;

	memset(out, 0, sizeof(*out));
	assert_int_equal(api->xFindTokenizer(api, "kizuna", &udata, &tk),
	    SQLITE_OK);
	assert_int_equal(tk.xCreate(udata, NULL, 0, &t), SQLITE_OK);
	assert_int_equal(tk.xTokenize(t, out, flags, text, n, on_tok),
	    SQLITE_OK);
	tk.xDelete(t);
}

/* Checks a token stream: text, byte range and the colocated flag. */
static void
expect_tokens(const struct tok_list *got, const struct tok *want, int n)
{
	int i;

	for (i = 0; i < got->n && i < n; i++) {
		if (strcmp(got->v[i].text, want[i].text) != 0 ||
		    got->v[i].start != want[i].start ||
		    got->v[i].end != want[i].end ||
		    got->v[i].colocated != want[i].colocated)
			fail_msg("token %d: got %s [%d,%d)%s want %s [%d,%d)%s",
			    i, got->v[i].text, got->v[i].start, got->v[i].end,
			    got->v[i].colocated ? " colocated" : "",
			    want[i].text, want[i].start, want[i].end,
			    want[i].colocated ? " colocated" : "");
	}
	assert_int_equal(got->n, n);
}

#define TOKS(...) (const struct tok[]){ __VA_ARGS__ }, \
	(int)(sizeof((const struct tok[]){ __VA_ARGS__ }) / sizeof(struct tok))

/* The first row's value of a one-column query with one text parameter. */
static void
expect_text(sqlite3 *db, const char *sql, const char *param,
    const char *want)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), want);
	sqlite3_finalize(st);
}

/* ------------------------------------------------------------ tokenizer */

static void
test_tokens_cjk_bigrams(void **state)
{
	struct tok_list l;

	/* A run of >= 2 gives bigrams plus its last character, colocated. */
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT, "避難所を開設", 18, &l);
	expect_tokens(&l, TOKS(
	    { "避難", 0, 6, 0 }, { "難所", 3, 9, 0 }, { "所を", 6, 12, 0 },
	    { "を開", 9, 15, 0 }, { "開設", 12, 18, 0 },
	    { "設", 15, 18, 1 }));

	/* Queries never get the colocated last character. */
	tokenize(*state, FTS5_TOKENIZE_QUERY, "避難所", 9, &l);
	expect_tokens(&l, TOKS({ "避難", 0, 6, 0 }, { "難所", 3, 9, 0 }));
	tokenize(*state, FTS5_TOKENIZE_QUERY | FTS5_TOKENIZE_PREFIX, "水", 3,
	    &l);
	expect_tokens(&l, TOKS({ "水", 0, 3, 0 }));

	/* Punctuation ends a run: no token spans 。 */
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT, "避難。所", 12, &l);
	expect_tokens(&l, TOKS(
	    { "避難", 0, 6, 0 }, { "難", 3, 6, 1 }, { "所", 9, 12, 0 }));

	/* 々 and ー are part of runs; ・ separates. */
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT, "人々・データー", 21, &l);
	expect_tokens(&l, TOKS(
	    { "人々", 0, 6, 0 }, { "々", 3, 6, 1 }, { "デー", 9, 15, 0 },
	    { "ータ", 12, 18, 0 }, { "ター", 15, 21, 0 },
	    { "ー", 18, 21, 1 }));
}

static void
test_tokens_script_boundaries(void **state)
{
	struct tok_list l;
	const char *s = "停電2件、Kizuna-Node 2024年";

	/* CJK and letters/digits split; each word is one lowercase token. */
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT, s, (int)strlen(s), &l);
	expect_tokens(&l, TOKS(
	    { "停電", 0, 6, 0 }, { "電", 3, 6, 1 }, { "2", 6, 7, 0 },
	    { "件", 7, 10, 0 }, { "kizuna", 13, 19, 0 },
	    { "node", 20, 24, 0 }, { "2024", 25, 29, 0 },
	    { "年", 29, 32, 0 }));
}

static void
test_tokens_width_offsets(void **state)
{
	struct tok_list l;
	const char *s = "ＬＩＮＥで連絡、ｶﾞｽ　ﾊﾟﾝ２";

	/*
	 * Full-width letters fold to ASCII but keep their 3-byte offsets;
	 * ｶﾞ is one kana covering both half-width characters; U+3000 is a
	 * space.
	 */
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT, s, (int)strlen(s), &l);
	expect_tokens(&l, TOKS(
	    { "line", 0, 12, 0 }, { "で連", 12, 18, 0 },
	    { "連絡", 15, 21, 0 }, { "絡", 18, 21, 1 },
	    { "ガス", 24, 33, 0 }, { "ス", 30, 33, 1 },
	    { "パン", 36, 45, 0 }, { "ン", 42, 45, 1 }, { "2", 45, 48, 0 }));
	assert_memory_equal(s + 0, "ＬＩＮＥ", 12);
	assert_memory_equal(s + 24, "ｶﾞｽ", 9);
	assert_memory_equal(s + 36, "ﾊﾟﾝ", 9);
	assert_memory_equal(s + 45, "２", 3);

	/* Voicing marks compose, and alone become ゛/゜. */
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT, "ｳﾞｧ ﾞ ｱﾞ", 20, &l);
	expect_tokens(&l, TOKS(
	    { "ヴァ", 0, 9, 0 }, { "ァ", 6, 9, 1 }, { "゛", 10, 13, 0 },
	    { "ア゛", 14, 20, 0 }, { "゛", 17, 20, 1 }));

	/* Combining marks (NFD text) compose too. */
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT,
	    "\xe3\x81\x8b\xe3\x82\x99\xe3\x81\xb8\xe3\x82\x9a", 12, &l);
	expect_tokens(&l, TOKS({ "がぺ", 0, 12, 0 }, { "ぺ", 6, 12, 1 }));

	/* Accented Latin, Greek and Cyrillic lowercase; symbols separate. */
	s = "Café ÀÉ ΑΒΓ ДОМ ★ NGUYỄN";
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT, s, (int)strlen(s), &l);
	expect_tokens(&l, TOKS(
	    { "café", 0, 5, 0 }, { "àé", 6, 10, 0 }, { "αβγ", 11, 17, 0 },
	    { "дом", 18, 24, 0 }, { "nguyễn", 29, 37, 0 }));
}

static void
test_tokens_invalid_utf8(void **state)
{
	struct tok_list l;
	/* 避, a stray 0xff, 難, an overlong '/', NUL, a cut-off 避. */
	const char s[] = "\xe9\x81\xbf\xff\xe9\x9b\xa3" "\xc0\xaf" "a\0b"
	    "\xe9\x81";

	/* Invalid bytes are separators: never part of a token, no loop. */
	tokenize(*state, FTS5_TOKENIZE_DOCUMENT, s, (int)sizeof(s) - 1, &l);
	expect_tokens(&l, TOKS(
	    { "避", 0, 3, 0 }, { "難", 4, 7, 0 }, { "a", 9, 10, 0 },
	    { "b", 11, 12, 0 }));
}

#define NPIECES(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A random text of pieces (a "" piece is one NUL byte) until it is at
 * least min bytes long (a piece is at most 4 bytes; buf has min + 4);
 * with noise, one piece in eight is replaced by a random byte.  Returns
 * its length.
 */
static int
random_text(char *buf, int min, const char *const *pieces, size_t n_pieces,
    bool noise, uint64_t *seed)
{
	int n = 0;

	while (n < min) {
		const char *p = pieces[kz_test_rand(seed) % n_pieces];
		size_t len = p[0] ? strlen(p) : 1;

		if (noise && kz_test_rand(seed) % 8 == 0) {
			buf[n++] = (char)kz_test_rand(seed);
			continue;
		}
		memcpy(buf + n, p, len);
		n += (int)len;
	}
	return n;
}

/*
 * Random bytes, biased towards UTF-8 lead bytes and the characters the
 * tokenizer treats specially: every token must be non-empty valid UTF-8
 * with an in-bounds byte range, and ranges must not go backwards.
 */
static void
test_tokens_random_bytes(void **state)
{
	static const char *const pieces[] = {
		"避", "難", "ｶ", "ﾞ", "ﾟ", "\xe3\x82\x99", "ー", "々", "Ａ",
		"a", "Z", "9", " ", "。", "\xef\xb8\x8f", "\xc3", "\xe3\x81",
		"\xff", "\x80", "\0", "é", "😀",
	};
	uint64_t seed = 0x5eedf75ull;
	char buf[96];
	struct tok_list l;
	int iter, n, i, prev_start;

	for (iter = 0; iter < 20000; iter++) {
		n = random_text(buf, 80, pieces, NPIECES(pieces), true, &seed);
		tokenize(*state, iter % 2 ? FTS5_TOKENIZE_QUERY :
		    FTS5_TOKENIZE_DOCUMENT, buf, n, &l);
		prev_start = 0;
		for (i = 0; i < l.n; i++) {
			assert_true(kz_utf8_valid((const uint8_t *)l.v[i].text,
			    strlen(l.v[i].text)));
			assert_true(strlen(l.v[i].text) > 0);
			assert_true(l.v[i].start >= 0);
			assert_true(l.v[i].start < l.v[i].end);
			assert_true(l.v[i].end <= n);
			assert_true(l.v[i].start >= prev_start);
			assert_true(!l.v[i].colocated || i > 0);
			prev_start = l.v[i].start;
		}
	}
}

/*
 * The tokenizer's fast path for common characters (fast_char in fts.c)
 * gives exactly what its general path gives: random texts made of the
 * characters it takes, the ones next to which it must not take them
 * (voicing marks, absorbed characters), look-alikes just outside its
 * ranges and broken sequences, tokenized both ways.
 */
static void
test_tokens_fast_path(void **state)
{
	static const char *const pieces[] = {
		"避", "難", "一", "\xe9\xbf\xbf", "㐀", "\xe4\xb6\xbf",
		"か", "は", "う", "ぁ", "ゖ", "\xe3\x82\x97", "ゝ", "ゟ",
		"カ", "ハ", "ウ", "ァ", "ヺ", "・", "ー", "ヽ", "ヿ", "々",
		"\xe3\x82\x99", "\xe3\x82\x9a", "ﾞ", "ﾟ", "ｶ", "ﾊ", "。",
		"\xc2\xad", "\xe2\x80\x8d", "\xe2\x81\xa0",
		"\xef\xb8\x8f", "\xef\xbb\xbf", "\xf3\xa0\x84\x80",
		"Ａ", "ｚ", "\xe3\x80\x80", "가", "é", "Σ", "😀",
		"a", "Z", "0", "9", " ", "-", "_", "@", "\x7f",
		"\xe4\xb8", "\xe3\x82", "\xe0\x80\x80", "\xed\xa0\x80",
		"\xc3", "\x80", "\xff", "\0",
	};
	uint64_t seed = 0xfa57ull;
	char buf[80];
	struct tok_list fast, general;
	int iter, n, i, flags;

	for (iter = 0; iter < 20000; iter++) {
		n = random_text(buf, 56, pieces, NPIECES(pieces), false, &seed);
		flags = iter % 2 ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT;
		tokenize(*state, flags, buf, n, &fast);
		kz__fts_general_path_only(true);
		tokenize(*state, flags, buf, n, &general);
		kz__fts_general_path_only(false);
		expect_tokens(&fast, general.v, general.n);
		for (i = 0; i < fast.n; i++)
			assert_int_equal(fast.v[i].colocated,
			    general.v[i].colocated);
	}
}

static void
test_tokenizer_rejects_arguments(void **state)
{
	sqlite3 *db = *state;

	assert_int_not_equal(sqlite3_exec(db,
	    "CREATE VIRTUAL TABLE bad USING fts5(x, tokenize='kizuna nope')",
	    NULL, NULL, NULL), SQLITE_OK);
}

static void
test_invalid_utf8_row(void **state)
{
	sqlite3 *db = open_db();

	(void)state;
	/* Bytes no UTF-8 decoder accepts, stored as TEXT through a blob. */
	assert_int_equal(sqlite3_exec(db,
	    "INSERT INTO t(rowid, body) VALUES "
	    "(1, CAST(X'E981BFFFE99BA3C0AF6B697A756E6180E981' AS TEXT)),"
	    "(2, CAST(X'FFFEFDFC' AS TEXT)),"
	    "(3, '避難所')", NULL, NULL, NULL), SQLITE_OK);
	/* 避 and 難 are separate one-character runs there, "kizuna" a word. */
	expect_rows(db, "避", ROWS(1, 3));
	expect_rows(db, "kizuna", ROWS(1));
	expect_rows(db, "避難", ROWS(3));
	expect_text(db, "SELECT highlight(t, 0, '[', ']') FROM t "
	    "WHERE t MATCH ?1", "\"kizuna\"*",
	    "\xe9\x81\xbf\xff\xe9\x9b\xa3\xc0\xaf[kizuna]\x80\xe9\x81");
	assert_int_equal(sqlite3_exec(db,
	    "INSERT INTO t(t) VALUES ('integrity-check')", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* ------------------------------------------------------------ builder */

static void
expect_query(const char *user, const char *want)
{
	char out[512];

	assert_int_equal(kz_search_query(out, sizeof(out), user), 0);
	assert_string_equal(out, want);
}

static void
test_query_builder(void **state)
{
	(void)state;
	expect_query("避難所", "\"避難 難所\"");
	expect_query("避難", "\"避難\"");
	expect_query("水", "\"水\"*");
	expect_query("kizu", "\"kizu\"*");
	expect_query("  ｋｉｚｕｎａ　避難 ", "\"kizuna\"* AND \"避難\"");
	expect_query("停電2件", "\"停電 2 件\"*");
	expect_query("LINEで連絡", "\"line で連 連絡\"");
	expect_query("18:00", "\"18 00\"*");
	expect_query("ｶﾞｽ漏れ", "\"ガス ス漏 漏れ\"");
	expect_query("電2件", "\"電 2 件\"*");
	/* Syntax characters are punctuation; keywords become words. */
	expect_query("\"避難\" OR *", "\"避難\" AND \"or\"*");
	expect_query("NEAR(避難 指示)", "\"near 避難\" AND \"指示\"");
	expect_query("a:b ^c d\"\"e -f +g",
	    "\"a b\"* AND \"c\"* AND \"d e\"* AND \"f\"* AND \"g\"*");
	expect_query("AND NOT", "\"and\"* AND \"not\"*");
	/* A term of only punctuation is dropped, not an error. */
	expect_query("避難 ！ ***", "\"避難\"");
}

static void
test_query_errors(void **state)
{
	char out[64];
	size_t i;
	static const char *const empty[] = {
		"", " ", "\t\n ", "　　", "。、！？", "★ ☆ 🙏", "\"\" * ()",
	};

	(void)state;
	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		strcpy(out, "junk");
		assert_int_equal(kz_search_query(out, sizeof(out), empty[i]),
		    KZ_ERR_INVAL);
		assert_string_equal(out, "");
	}
	assert_int_equal(kz_search_query(out, sizeof(out), "避難\xff"),
	    KZ_ERR_BAD_UTF8);
	assert_string_equal(out, "");
	assert_int_equal(kz_search_query(out, sizeof(out), "\xc0\xaf"),
	    KZ_ERR_BAD_UTF8);
	assert_int_equal(kz_search_query(out, sizeof(out), "\xed\xa0\x80"),
	    KZ_ERR_BAD_UTF8);
	assert_int_equal(kz_search_query(NULL, 10, "a"), KZ_ERR_INVAL);
	assert_int_equal(kz_search_query(out, 0, "a"), KZ_ERR_INVAL);
	assert_int_equal(kz_search_query(out, sizeof(out), NULL),
	    KZ_ERR_INVAL);

	/* "水"* is 6 bytes: 7 fits with the NUL, 6 does not. */
	assert_int_equal(kz_search_query(out, 7, "水"), 0);
	assert_string_equal(out, "\"水\"*");
	strcpy(out, "junk");
	assert_int_equal(kz_search_query(out, 6, "水"), KZ_ERR_TOO_BIG);
	assert_string_equal(out, "");
	assert_int_equal(kz_search_query(out, 1, "a"), KZ_ERR_TOO_BIG);
}

/*
 * Whatever a person types, the result fits KZ_SEARCH_QUERY_MAX and is a
 * MATCH expression FTS5 accepts: no input can produce a syntax error.
 */
static void
test_query_never_injects(void **state)
{
	static const char *const pieces[] = {
		"\"", "*", "^", ":", "(", ")", "{", "}", "-", "+", " ", "　",
		"AND", "OR", "NOT", "NEAR", "NEAR(", ",", "body", "t", "避難",
		"水", "ｶﾞ", "Ａ", "x", "9", "。", "'", "\\", "\t", "😀", "ー",
	};
	uint64_t seed = 42;
	char in[128], out[KZ_SEARCH_QUERY_MAX(sizeof(in))];
	sqlite3 *db = *state;
	sqlite3_stmt *st = NULL;
	int iter, rc;
	size_t n;

	assert_int_equal(sqlite3_prepare_v2(db,
	    "SELECT count(*) FROM t WHERE t MATCH ?1", -1, &st, NULL),
	    SQLITE_OK);
	for (iter = 0; iter < 3000; iter++) {
		n = 0;
		for (;;) {
			const char *p = pieces[kz_test_rand(&seed) %
			    (sizeof(pieces) / sizeof(pieces[0]))];

			if (n + strlen(p) >= sizeof(in) ||
			    kz_test_rand(&seed) % 12 == 0)
				break;
			memcpy(in + n, p, strlen(p));
			n += strlen(p);
		}
		in[n] = '\0';
		rc = kz_search_query(out, KZ_SEARCH_QUERY_MAX(n), in);
		if (rc == KZ_ERR_INVAL)
			continue;
		assert_int_equal(rc, 0);
		assert_true(strlen(out) < KZ_SEARCH_QUERY_MAX(n));
		sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			fail_msg("%s -> %s: %s", in, out, sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);

	/* The worst case for the bound: one-letter terms. */
	assert_int_equal(kz_search_query(out, KZ_SEARCH_QUERY_MAX(7),
	    "a b c d"), 0);
	assert_string_equal(out, "\"a\"* AND \"b\"* AND \"c\"* AND \"d\"*");
}

/* ------------------------------------------------------------ corpus queries */

static void
test_two_char_words(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "避難", ROWS(1, 2, 3, 21, 22, 23, 35, 39, 49, 51));
	expect_rows(db, "給水", ROWS(6, 7, 36, 45));
	expect_rows(db, "停電", ROWS(4, 5, 33));
	expect_rows(db, "確認", ROWS(3, 18));
	expect_rows(db, "連絡", ROWS(8, 47));
	expect_rows(db, "電話", ROWS(9, 31));
	expect_rows(db, "水道", ROWS(14, 42));
	expect_rows(db, "人々", ROWS(52));
}

static void
test_longer_and_partial_words(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "避難所", ROWS(1, 2, 35, 39, 51));
	expect_rows(db, "小学校", ROWS(2, 7));
	expect_rows(db, "学校", ROWS(2, 7));
	expect_rows(db, "ランティ", ROWS(24, 25));
	expect_rows(db, "所の確認", ROWS(3));
	expect_rows(db, "所長", ROWS(41));
	expect_rows(db, "ぶんしょう", ROWS(38));
}

static void
test_single_char(void **state)
{
	sqlite3 *db = *state;

	/* Start, middle, end of runs, and a message that is only 水. */
	expect_rows(db, "水", ROWS(6, 7, 14, 15, 29, 35, 36, 42, 44, 45));
	expect_rows(db, "所", ROWS(1, 2, 3, 7, 26, 35, 39, 41, 51));
	expect_rows(db, "電", ROWS(4, 5, 9, 31, 33, 34, 42));
	/* 置 only ever ends a run (設置, 配置). */
	expect_rows(db, "置", ROWS(27, 33));
	expect_rows(db, "示", ROWS(21, 22));
	expect_rows(db, "々", ROWS(52));
	expect_rows(db, "ガ", ROWS(10, 11, 42));
}

static void
test_latin_words(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "kizu", ROWS(12, 13, 32));
	expect_rows(db, "KIZUNA", ROWS(12, 13, 32));
	expect_rows(db, "line", ROWS(8, 9));
	expect_rows(db, "Battery", ROWS(16));
	expect_rows(db, "BATTERY", ROWS(16));
	expect_rows(db, "eng", ROWS(19));
	expect_rows(db, "order", ROWS(40, 51));
	expect_rows(db, "city-hall", ROWS(12));
	expect_rows(db, "cityhall", NO_ROWS);
	expect_rows(db, "18:00", ROWS(4));
	expect_rows(db, "9:00", ROWS(24));
	expect_rows(db, "12", ROWS(20, 40, 47));
}

static void
test_width_variants(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "ｋｉｚｕｎａ", ROWS(12, 13, 32));
	expect_rows(db, "Ｅｎｇｌｉｓｈ", ROWS(19));
	expect_rows(db, "２", ROWS(5, 13, 15, 28, 46, 51));
	expect_rows(db, "2", ROWS(5, 13, 15, 28, 46, 51));
	expect_rows(db, "１２３４", ROWS(47));
	expect_rows(db, "３名", ROWS(43));
}

static void
test_halfwidth_katakana(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "ｶﾞｽ", ROWS(10, 11, 42));
	expect_rows(db, "ガス漏れ", ROWS(10, 11));
	expect_rows(db, "ボランティア", ROWS(24, 25));
	expect_rows(db, "ﾎﾞﾗﾝﾃｨｱ", ROWS(24, 25));
	expect_rows(db, "パン", ROWS(50));
	expect_rows(db, "エンジン", ROWS(48));
	expect_rows(db, "ｶﾀｶﾅ", ROWS(37));
}

static void
test_punctuation_boundaries(void **state)
{
	sqlite3 *db = *state;

	/* 避難。所 (row 3) holds 避難 and 所 but not the word 避難所. */
	expect_rows(db, "避難所", ROWS(1, 2, 35, 39, 51));
	/* 電気・ガス・水道: ・ separates. */
	expect_rows(db, "ガス水道", NO_ROWS);
	expect_rows(db, "気ガ", NO_ROWS);
	/* 給水所：中央公園 */
	expect_rows(db, "所中", NO_ROWS);
	expect_rows(db, "給水所", ROWS(7));
	/*
	 * Barewords and strings written straight into MATCH are tokenized
	 * in query mode, which must not add the colocated last character:
	 * as an alternative at that position it would let 避難所 match
	 * 避難。所.
	 */
	expect_raw(db, "避難所", ROWS(1, 2, 35, 39, 51));
	expect_raw(db, "\"避難所\"", ROWS(1, 2, 35, 39, 51));
	expect_raw(db, "避難所*", ROWS(1, 2, 35, 39, 51));
	expect_raw(db, "所*", ROWS(1, 2, 3, 7, 26, 35, 39, 41, 51));
}

static void
test_mixed_terms(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "LINEで連絡", ROWS(8));
	expect_rows(db, "ＬＩＮＥで", ROWS(8));
	expect_rows(db, "停電2件", ROWS(5));
	expect_rows(db, "電2件", ROWS(5));
	expect_rows(db, "14時", ROWS(6));
	expect_rows(db, "Englishで案内", ROWS(19));
	expect_rows(db, "at 公民館", ROWS(16));
}

static void
test_and_terms(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "避難 指示", ROWS(21, 22));
	expect_rows(db, "避難所　水", ROWS(35));
	expect_rows(db, "停電 18", ROWS(4));
	expect_rows(db, "kizuna guest", ROWS(32));
	expect_rows(db, "給水 停電", NO_ROWS);
}

static void
test_syntax_is_text(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "\"避難\" OR *", ROWS(51));
	expect_rows(db, "kizuna\" OR \"停電", NO_ROWS);
	expect_rows(db, "NEAR(避難 指示)", NO_ROWS);
	expect_rows(db, "(給水)", ROWS(6, 7, 36, 45));
	expect_rows(db, "-停電^", ROWS(4, 5, 33));
	expect_rows(db, "body:停電", NO_ROWS);
}

static void
test_no_match(void **state)
{
	sqlite3 *db = *state;

	expect_rows(db, "地震", NO_ROWS);
	expect_rows(db, "tsunami", NO_ROWS);
	expect_rows(db, "難所長", NO_ROWS);
	expect_rows(db, "がス", NO_ROWS);
}

static void
test_highlight(void **state)
{
	sqlite3 *db = *state;
	const char *hl = "SELECT highlight(t, 0, '[', ']') FROM t "
	    "WHERE t MATCH ?1 ORDER BY rowid";

	/* FTS5's own highlight() marks the original bytes. */
	expect_text(db, hl, "\"避難 難所\"", "「[避難所]を開設しました。」");
	expect_text(db, hl, "\"kizuna\"* AND \"2\"*",
	    "[ｋｉｚｕｎａ]の端末を[２]台追加");
	expect_text(db, hl, "\"ガス ス漏 漏れ\"",
	    "[ｶﾞｽ漏れ]の通報あり、付近は立入禁止");
}

static void
test_kz_highlight_overlaps(void **state)
{
	sqlite3 *db = open_db();
	const char *hl = "SELECT kz_highlight(t, 0, '[', ']') FROM t "
	    "WHERE t MATCH ?1 ORDER BY rowid";
	const char *sn = "SELECT kz_snippet(t, 0, '[', ']', '…', 4) FROM t "
	    "WHERE t MATCH ?1 ORDER BY rowid";

	(void)state;
	insert(db, 1, "給水道の給水");
	insert(db, 2, "ああああ、ｶﾞｽ");
	insert(db, 3, "本日の給水は市役所前の広場で14時から行います");
	/* Matches that overlap in bytes are one mark, text copied once. */
	expect_text(db, hl, "\"給水\" AND \"水道\"", "[給水道]の[給水]");
	expect_text(db, hl, "\"ああ\"", "[ああああ]、ｶﾞｽ");
	expect_text(db, hl, "\"ガス\"", "ああああ、[ｶﾞｽ]");
	/* A one-character match marks the token it matched. */
	expect_text(db, hl, "\"水\"* AND \"給水\"", "[給水道]の[給水]");
	/* Snippets: four positions around the match, ellipses outside. */
	expect_text(db, sn, "\"14\"*", "…場で[14]時から…");
	expect_text(db, sn, "\"本日\"", "[本日]の給水…");
	expect_text(db, sn, "\"行い\"", "…ら[行い]ます");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* ------------------------------------------------------------ index size */

/*
 * A seeded generator of municipal chat: templates over word lists, with
 * times, counts, names, English status lines, full-width and half-width
 * forms, so the dictionary grows as it does in real use.
 */
static const char *const g_place[] = {
	"市役所", "第一小学校", "北公民館", "中央図書館", "東町集会所",
	"駅前広場", "西区体育館", "南消防署", "市民病院", "浄水場",
	"第二中学校", "総合運動公園", "老人ホームさくら", "保育園",
	"県立高校", "港湾事務所", "道の駅", "コミュニティセンター",
};
static const char *const g_item[] = {
	"飲料水", "毛布", "非常食", "発電機", "簡易トイレ", "乳児用ミルク",
	"医薬品", "おむつ", "携帯電話の充電器", "段ボールベッド", "マスク",
	"消毒液", "タオル", "懐中電灯", "乾電池", "ブルーシート", "灯油",
	"テント", "アレルギー対応食", "生理用品",
};
static const char *const g_action[] = {
	"配布します", "受け付けています", "手配しました", "確認中です",
	"不足しています", "到着しました", "搬入をお願いします", "追加で必要です",
	"在庫があります", "回収します",
};
static const char *const g_incident[] = {
	"停電", "断水", "ガス漏れ", "土砂崩れ", "道路の冠水", "倒木",
	"火災", "家屋の倒壊", "通信障害", "落石",
};
static const char *const g_status[] = {
	"現在対応中", "復旧しました", "復旧見込みは未定", "職員が向かっています",
	"通行止めです", "消防に連絡済み", "住民は避難済み",
};
static const char *const g_name[] = {
	"佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村",
	"小林", "加藤", "吉田", "山田", "佐々木", "山口", "松本", "井上",
	"木村", "林", "斎藤", "清水", "Nguyen", "Smith", "Gurung",
};
static const char *const g_area[] = {
	"北町", "南町", "東町", "西町", "本町", "栄町", "緑ヶ丘", "桜台",
	"川端", "旭", "港", "新田",
};
static const char *const g_english[] = {
	"kizuna node %s synced %u ops", "relay %s battery %u%%",
	"link to %s down, retry in %u s", "radio check from %s: signal %u",
	"%s needs %u volunteers", "ETA to %s: %u min",
};
static const char *const g_node[] = {
	"city-hall", "school-1", "library", "fire-south", "hospital",
	"station", "port",
};
static const char *const g_hw[] = {
	"ﾎﾞﾗﾝﾃｨｱ", "ﾀｵﾙ", "ﾏｽｸ", "ﾃﾝﾄ", "ﾊﾞｯﾃﾘｰ", "ｶﾞｿﾘﾝ", "ﾐﾙｸ",
};
static const char *const g_fw[] = {
	"ＬＩＮＥ", "ｋｉｚｕｎａ", "ＳＮＳ", "ＦＡＸ", "ＡＥＤ",
};

#define PICK(a) ((a)[kz_test_rand(seed) % (sizeof(a) / sizeof((a)[0]))])

static void
gen_message(uint64_t *seed, char *out, size_t len)
{
	unsigned n = (unsigned)(kz_test_rand(seed) % 200);
	unsigned h = (unsigned)(kz_test_rand(seed) % 24);
	unsigned m = (unsigned)(kz_test_rand(seed) % 4) * 15;

	switch (kz_test_rand(seed) % 10) {
	case 0:
		snprintf(out, len, "%sで%sを%s。", PICK(g_place), PICK(g_item),
		    PICK(g_action));
		break;
	case 1:
		snprintf(out, len, "%u:%02u現在、%sの避難者は%u名です", h, m,
		    PICK(g_place), n);
		break;
	case 2:
		snprintf(out, len, "%s%u丁目で%sが発生、%s", PICK(g_area),
		    n % 9 + 1, PICK(g_incident), PICK(g_status));
		break;
	case 3:
		snprintf(out, len, "%sさんから：%sの%sが%s", PICK(g_name),
		    PICK(g_place), PICK(g_item), PICK(g_action));
		break;
	case 4:
		/* Every English template takes a node name, then a number. */
		snprintf(out, len, PICK(g_english), PICK(g_node), n);
		break;
	case 5:
		snprintf(out, len, "【緊急】%s地区に避難指示が発令されました。"
		    "%sへ避難してください", PICK(g_area), PICK(g_place));
		break;
	case 6:
		snprintf(out, len, "%sの給水は%u時から、お一人%u本まで",
		    PICK(g_place), h, n % 6 + 1);
		break;
	case 7:
		snprintf(out, len, "%sの%sを%u個お願いします（%s）", PICK(g_hw),
		    PICK(g_item), n % 50 + 1, PICK(g_place));
		break;
	case 8:
		snprintf(out, len, "%sです。%sに到着しました。%sの件、%s",
		    PICK(g_name), PICK(g_place), PICK(g_incident),
		    PICK(g_status));
		break;
	default:
		snprintf(out, len, "%sで%u件の連絡あり。%s%u丁目の%sは%s",
		    PICK(g_fw), n % 20, PICK(g_area), n % 9 + 1,
		    PICK(g_incident), PICK(g_status));
		break;
	}
}

static int64_t
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * The index (FTS5's shadow tables other than the copy of the text) must
 * stay within 1.5x the raw text.  dbstat counts whole pages, free space
 * included, so this is the size on disk.
 */
static void
test_index_ratio(void **state)
{
	sqlite3 *db = open_db();
	sqlite3_stmt *st = NULL;
	uint64_t seed = 20240101;
	char msg[512];
	int64_t raw, idx, i;
	double ratio;

	(void)state;
	if (sqlite3_exec(db, "SELECT count(*) FROM dbstat", NULL, NULL,
	    NULL) != SQLITE_OK) {
		sqlite3_close(db);
		skip();	/* SQLite built without SQLITE_ENABLE_DBSTAT_VTAB */
	}
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	    "INSERT INTO t(body) VALUES (?1)", -1, &st, NULL), SQLITE_OK);
	for (i = 0; i < 50000; i++) {
		gen_message(&seed, msg, sizeof(msg));
		sqlite3_bind_text(st, 1, msg, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);

	raw = query_int(db, "SELECT sum(length(CAST(body AS BLOB))) FROM t");
	idx = query_int(db, "SELECT sum(pgsize) FROM dbstat WHERE name IN "
	    "('t_data', 't_idx', 't_docsize', 't_config')");
	ratio = (double)idx / (double)raw;
	print_message("index %" PRId64 " bytes / text %" PRId64
	    " bytes = %.3f\n", idx, raw, ratio);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name, sum(pgsize) "
	    "FROM dbstat WHERE name LIKE 't\\_%' ESCAPE '\\' GROUP BY name",
	    -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		print_message("  %s %" PRId64 "\n",
		    (const char *)sqlite3_column_text(st, 0),
		    (int64_t)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	assert_true(ratio <= 1.5);

	/* The same after FTS5 merges every segment into one. */
	assert_int_equal(sqlite3_exec(db,
	    "INSERT INTO t(t) VALUES ('optimize')", NULL, NULL, NULL),
	    SQLITE_OK);
	idx = query_int(db, "SELECT sum(pgsize) FROM dbstat WHERE name IN "
	    "('t_data', 't_idx', 't_docsize', 't_config')");
	ratio = (double)idx / (double)raw;
	print_message("optimized: index %" PRId64 " bytes = %.3f\n", idx,
	    ratio);
	assert_true(ratio <= 1.5);

	/* The generated corpus is searchable as the small one is. */
	assert_true(query_int(db, "SELECT count(*) FROM t WHERE t MATCH "
	    "'\"避難 難指 指示\"'") > 0);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_cjk_bigrams),
		cmocka_unit_test(test_tokens_script_boundaries),
		cmocka_unit_test(test_tokens_width_offsets),
		cmocka_unit_test(test_tokens_invalid_utf8),
		cmocka_unit_test(test_tokens_random_bytes),
		cmocka_unit_test(test_tokens_fast_path),
		cmocka_unit_test(test_tokenizer_rejects_arguments),
		cmocka_unit_test(test_invalid_utf8_row),
		cmocka_unit_test(test_query_builder),
		cmocka_unit_test(test_query_errors),
		cmocka_unit_test(test_query_never_injects),
		cmocka_unit_test(test_two_char_words),
		cmocka_unit_test(test_longer_and_partial_words),
		cmocka_unit_test(test_single_char),
		cmocka_unit_test(test_latin_words),
		cmocka_unit_test(test_width_variants),
		cmocka_unit_test(test_halfwidth_katakana),
		cmocka_unit_test(test_punctuation_boundaries),
		cmocka_unit_test(test_mixed_terms),
		cmocka_unit_test(test_and_terms),
		cmocka_unit_test(test_syntax_is_text),
		cmocka_unit_test(test_no_match),
		cmocka_unit_test(test_highlight),
		cmocka_unit_test(test_kz_highlight_overlaps),
		cmocka_unit_test(test_index_ratio),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
