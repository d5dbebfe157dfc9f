/*
 * Full-text search for Japanese-first chat: the "kizuna" FTS5 tokenizer and
 * kz_search_query(), which turns what a person types into a MATCH
 * expression that tokenizer can answer.
 *
 * Why bigrams.  Japanese has no spaces between words, and the words people
 * search for most (避難, 給水, 停電) are two characters long.  SQLite 3.40's
 * trigram tokenizer cannot answer a two-character query and a LIKE scan
 * reads every message, so CJK text is indexed as overlapping character
 * bigrams: 避難所 -> 避難 難所.  A query for a longer word is the phrase of
 * its bigrams, which matches only where they are adjacent, i.e. where the
 * word occurs.
 *
 * Normalization, applied to documents and queries alike (norm_char()):
 *  - full-width ASCII U+FF01..FF5E -> ASCII; U+3000 -> space;
 *  - half-width katakana U+FF61..FF9F -> full-width, with a following
 *    ﾞ/ﾟ (or combining U+3099/309A) composed into the voiced kana, so
 *    ｶﾞｽ == ガス; a mark with nothing to compose with becomes ゛/゜;
 *  - Latin, Greek and Cyrillic letters are lowercased (simple one-to-one
 *    mappings only; accents are kept, so "cafe" does not find "café");
 *  - variation selectors, joiners and the soft hyphen are absorbed into
 *    the character before them, so 葛 + VS17 is still 葛.
 *
 * Token rules (fts_scan()), on the normalized characters:
 *  - CJK characters (Han incl. extensions and compatibility ideographs,
 *    hiragana, katakana incl. ー, 々〆〇, Hangul syllables) form runs; a
 *    run of one character is one token, a longer run gives each adjacent
 *    pair as a token;
 *  - letters and digits of other scripts form words, one token each
 *    (truncated to FTS_WORD_MAX bytes);
 *  - everything else (spaces, punctuation, symbols, emoji, invalid UTF-8
 *    bytes, NUL) separates runs and is never part of a token;
 *  - a change between CJK and a word character also ends a run:
 *    "停電2件" -> 停電 | 2 | 件.  Splitting keeps the dictionary free of
 *    mixed tokens such as 電2 that nobody would type alone, and a query for
 *    the whole string still matches, as the phrase "停電 2 件".
 * No token ever spans a separator, so 避難。所 contains 避難 but not 避難所.
 *
 * Single characters.  A bigram index alone cannot find a character that
 * ends a run (給水 has no token starting with 水).  Indexing every
 * character again would double the index, so documents get one extra token
 * per run of two or more CJK characters: its last character, at the same
 * position as the last bigram (FTS5_TOKEN_COLOCATED).  Every character of
 * a document is then the first character of some token at its position,
 * and the query builder answers a one-character term with the prefix
 * query "水"*.  Because the extra token shares a position it does not
 * disturb phrases, and it also lets a term that starts with a single
 * character ("電2件") match text where that character ends a longer run
 * ("停電2件").  Queries (FTS5_TOKENIZE_QUERY) never get the extra token:
 * as a colocated query token it would be an alternative at that position
 * and "避難所" would match "避難。所" (and "給水" the message "水").
 * FTS5_TOKENIZE_PREFIX needs nothing special: FTS5 itself makes the last
 * token of the phrase a prefix.
 *
 * Index size.  On the generated 50,000-message corpus of test_search
 * (test_index_ratio) the index is 1.11x the raw text bytes, against 0.99x
 * for bigrams alone; the budget is 1.5x.  A unigram for every character
 * would not fit it.
 *
 * Offsets.  Every token reports the byte range of the ORIGINAL text it came
 * from (a composed ｶﾞ covers both half-width characters; a bigram covers
 * both characters), so highlight() and snippet() mark the right bytes.
 * Both skip colocated tokens, so the extra token never shows up there.
 * Two matches at adjacent positions overlap in bytes, which the built-ins
 * mishandle; kz_highlight() and kz_snippet() below merge them.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/search.h"
#include "kizuna/util.h"
#include "store/fts_int.h"

/*
 * Longest word token in bytes.  Longer runs (URLs, base64, keys) are
 * indexed by their first FTS_WORD_MAX bytes; queries are truncated the same
 * way, and a word at the end of a query is a prefix anyway.
 */
#define FTS_WORD_MAX 64

/* ------------------------------------------------------------ characters */

enum fts_class {
	FC_SEP,		/* separates runs, never part of a token */
	FC_CJK,		/* indexed as bigrams */
	FC_WORD,	/* indexed as whole words */
};

/* One normalized character and the original bytes it came from. */
struct fts_char {
	uint32_t cp;
	int start, end;	/* byte offsets into the original text */
	enum fts_class cls;
};

/*
 * Decodes one UTF-8 sequence at s[i] (n bytes in all) with the rules of
 * kz_utf8_valid(): no overlong forms, surrogates or values past U+10FFFF.
 * Returns its length, or 0 if s[i] does not start a valid sequence.
 */
static int
utf8_decode(const unsigned char *s, int n, int i, uint32_t *cp)
{
	unsigned c = s[i];
	int len, k;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (n - i < len)
		return 0;
	for (k = 1; k < len; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i + k] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
	    v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* Appends the UTF-8 form of cp to buf; returns the bytes written (1..4). */
static inline int
utf8_encode(char *buf, uint32_t cp)
{
	unsigned char *b = (unsigned char *)buf;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (unsigned char)(0xf0 | cp >> 18);
	b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	b[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Full-width forms of the half-width katakana block U+FF61..FF9F (NFKC). */
static const uint16_t halfwidth_kana[0xff9f - 0xff61 + 1] = {
	0x3002, 0x300c, 0x300d, 0x3001, 0x30fb, 0x30f2, 0x30a1, 0x30a3,
	0x30a5, 0x30a7, 0x30a9, 0x30e3, 0x30e5, 0x30e7, 0x30c3, 0x30fc,
	0x30a2, 0x30a4, 0x30a6, 0x30a8, 0x30aa, 0x30ab, 0x30ad, 0x30af,
	0x30b1, 0x30b3, 0x30b5, 0x30b7, 0x30b9, 0x30bb, 0x30bd, 0x30bf,
	0x30c1, 0x30c4, 0x30c6, 0x30c8, 0x30ca, 0x30cb, 0x30cc, 0x30cd,
	0x30ce, 0x30cf, 0x30d2, 0x30d5, 0x30d8, 0x30db, 0x30de, 0x30df,
	0x30e0, 0x30e1, 0x30e2, 0x30e4, 0x30e6, 0x30e8, 0x30e9, 0x30ea,
	0x30eb, 0x30ec, 0x30ed, 0x30ef, 0x30f3, 0x3099, 0x309a,
};

/*
 * The kana cp with a voiced (゛) or, if semi, semi-voiced (゜) mark
 * composed in, as NFC would; 0 if there is no such character.
 */
static uint32_t
kana_compose(uint32_t cp, bool semi)
{
	uint32_t h = cp;	/* the hiragana with the same sound */

	if (!semi) {
		switch (cp) {
		case 0x3046: return 0x3094;	/* う -> ゔ */
		case 0x309d: return 0x309e;	/* ゝ -> ゞ */
		case 0x30a6: return 0x30f4;	/* ウ -> ヴ */
		case 0x30fd: return 0x30fe;	/* ヽ -> ヾ */
		default: break;
		}
		if (cp >= 0x30ef && cp <= 0x30f2)	/* ワヰヱヲ -> ヷヸヹヺ */
			return cp + 8;
	}
	if (cp >= 0x30a1 && cp <= 0x30f6)
		h = cp - 0x60;
	/* は ひ ふ へ ほ take both marks: ば ぱ. */
	if (h >= 0x306f && h <= 0x307b && (h - 0x306f) % 3 == 0)
		return cp + (semi ? 2 : 1);
	if (semi)
		return 0;
	/* か..ぢ at odd code points, then つ て と. */
	if ((h >= 0x304b && h <= 0x3061 && (h & 1)) || h == 0x3064 ||
	    h == 0x3066 || h == 0x3068)
		return cp + 1;
	return 0;
}

/* Voicing marks: half-width ﾞﾟ and combining U+3099/309A. */
static int
voicing_mark(uint32_t cp)
{
	if (cp == 0xff9e || cp == 0x3099)
		return 1;
	if (cp == 0xff9f || cp == 0x309a)
		return 2;
	return 0;
}

/*
 * Invisible characters that belong to the character before them:
 * variation selectors (ideographic ones pick a glyph of the same kanji),
 * zero-width (non-)joiners, word joiner, BOM and the soft hyphen.
 */
static bool
absorbed(uint32_t cp)
{
	return cp == 0x00ad || cp == 0x200c || cp == 0x200d || cp == 0x2060 ||
	    cp == 0xfeff || (cp >= 0xfe00 && cp <= 0xfe0f) ||
	    (cp >= 0xe0100 && cp <= 0xe01ef);
}

/*
 * Simple lowercase mappings for Latin, Greek and Cyrillic: in each range
 * either every character maps by delta, or (pair) the uppercase letters
 * are the even (pair 2) or odd (pair 1) code points and map to the next
 * one.  Every mapping here agrees with Unicode's lower(); letters left
 * out (most of Latin Extended-B, Armenian, Georgian) are not folded.
 */
static const struct {
	uint32_t first, last;
	int32_t delta;
	uint8_t pair;
} case_ranges[] = {
	{ 0x00c0, 0x00d6, 32, 0 },
	{ 0x00d8, 0x00de, 32, 0 },
	{ 0x0100, 0x012f, 1, 2 },
	{ 0x0132, 0x0137, 1, 2 },
	{ 0x0139, 0x0148, 1, 1 },
	{ 0x014a, 0x0177, 1, 2 },
	{ 0x0178, 0x0178, -121, 0 },	/* Ÿ -> ÿ */
	{ 0x0179, 0x017e, 1, 1 },
	{ 0x01a0, 0x01a0, 1, 0 },	/* Ơ, Vietnamese */
	{ 0x01af, 0x01af, 1, 0 },	/* Ư, Vietnamese */
	{ 0x01cd, 0x01dc, 1, 1 },	/* pinyin tones */
	{ 0x01de, 0x01ef, 1, 2 },
	{ 0x01f8, 0x021f, 1, 2 },
	{ 0x0222, 0x0233, 1, 2 },
	{ 0x0386, 0x0386, 38, 0 },
	{ 0x0388, 0x038a, 37, 0 },
	{ 0x038c, 0x038c, 64, 0 },
	{ 0x038e, 0x038f, 63, 0 },
	{ 0x0391, 0x03a1, 32, 0 },
	{ 0x03a3, 0x03ab, 32, 0 },
	{ 0x0400, 0x040f, 80, 0 },
	{ 0x0410, 0x042f, 32, 0 },
	{ 0x0460, 0x0481, 1, 2 },
	{ 0x048a, 0x04bf, 1, 2 },
	{ 0x04c1, 0x04ce, 1, 1 },
	{ 0x04d0, 0x052f, 1, 2 },
	{ 0x1e00, 0x1e95, 1, 2 },
	{ 0x1ea0, 0x1eff, 1, 2 },	/* Vietnamese tone marks */
};

static uint32_t
lower(uint32_t cp)
{
	size_t i;

	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp < 0xc0 || cp > 0x1eff)
		return cp;
	for (i = 0; i < sizeof(case_ranges) / sizeof(case_ranges[0]); i++) {
		if (cp < case_ranges[i].first || cp > case_ranges[i].last)
			continue;
		if (case_ranges[i].pair == 2 && (cp & 1))
			return cp;
		if (case_ranges[i].pair == 1 && !(cp & 1))
			return cp;
		return (uint32_t)((int32_t)cp + case_ranges[i].delta);
	}
	return cp;
}

/* The class of a normalized code point. */
static enum fts_class
classify(uint32_t cp)
{
	if (cp < 0x80) {
		if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
		    (cp >= 'A' && cp <= 'Z'))
			return FC_WORD;
		return FC_SEP;
	}
	/* Han, kana and Hangul: bigrams. */
	if ((cp >= 0x3005 && cp <= 0x3007) || cp == 0x303b ||
	    (cp >= 0x3041 && cp <= 0x309f) ||
	    (cp >= 0x30a1 && cp <= 0x30ff && cp != 0x30fb) ||
	    (cp >= 0x31f0 && cp <= 0x31ff) ||
	    (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0x20000 && cp <= 0x3ffff))
		return FC_CJK;
	/*
	 * Punctuation and symbol blocks separate.  Any other character is
	 * taken as a letter of some script (Vietnamese, Nepali, Tagalog...),
	 * so text in the languages of residents stays searchable by word.
	 */
	if ((cp <= 0xbf && cp != 0xaa && cp != 0xb5 && cp != 0xba) ||
	    cp == 0xd7 || cp == 0xf7 || cp == 0x37e || cp == 0x387 ||
	    (cp >= 0x2000 && cp <= 0x2bff) || (cp >= 0x2e00 && cp <= 0x2e7f) ||
	    (cp >= 0x2ff0 && cp <= 0x303f) || cp == 0x30a0 || cp == 0x30fb ||
	    (cp >= 0x3200 && cp <= 0x33ff) || (cp >= 0xe000 && cp <= 0xf8ff) ||
	    (cp >= 0xfe10 && cp <= 0xfe1f) || (cp >= 0xfe30 && cp <= 0xfe6f) ||
	    cp == 0xfeff || (cp >= 0xff00 && cp <= 0xffff) ||
	    (cp >= 0x1f000 && cp <= 0x1fbff) || cp >= 0xe0000 ||
	    absorbed(cp))
		return FC_SEP;
	return FC_WORD;
}

/* Width and case folding of one code point (no composition). */
static uint32_t
fold(uint32_t cp)
{
	if (cp >= 0xff01 && cp <= 0xff5e)
		cp -= 0xfee0;
	else if (cp == 0x3000)
		cp = 0x20;
	else if (cp >= 0xff61 && cp <= 0xff9f)
		cp = halfwidth_kana[cp - 0xff61];
	return lower(cp);
}

/*
 * A UTF-8 reader that remembers the last sequence it decoded.  norm_char()
 * looks at the character after the one it returns (a voicing mark to
 * compose? something absorbed?) and the next call starts right there, so
 * each sequence is decoded once instead of two or three times (decoding was
 * a fifth of the tokenizer's work on an import).
 */
struct utf8_reader {
	const unsigned char *s;
	int n;
	int at;		/* where cp and len were decoded; -1: nowhere yet */
	uint32_t cp;
	int len;	/* 0: s[at] does not start a valid sequence */
};

static int
read_at(struct utf8_reader *r, int i, uint32_t *cp)
{
	if (i != r->at) {
		r->at = i;
		r->len = utf8_decode(r->s, r->n, i, &r->cp);
	}
	*cp = r->cp;
	return r->len;
}

/*
 * Reads the character at *pos of r's text, normalized, into c and moves
 * *pos past it and anything composed or absorbed into it.  Returns false
 * at the end of the text.  An invalid byte is one separator character, so
 * no input can stop the scan or make it loop.
 */
static bool
norm_char(struct utf8_reader *r, int *pos, struct fts_char *c)
{
	uint32_t cp, next;
	int len, mark, n = r->n;

	if (*pos >= n)
		return false;
	c->start = *pos;
	len = read_at(r, *pos, &cp);
	if (len == 0) {
		c->cp = 0xfffd;
		c->cls = FC_SEP;
		c->end = ++*pos;
		return true;
	}
	*pos += len;
	cp = fold(cp);
	/* A voicing mark on the following character composes into kana. */
	if (*pos < n && (len = read_at(r, *pos, &next)) > 0 &&
	    (mark = voicing_mark(next)) != 0 && kana_compose(cp, mark == 2)) {
		cp = kana_compose(cp, mark == 2);
		*pos += len;
	}
	/* A mark with nothing to compose with is the spacing ゛ or ゜. */
	if ((mark = voicing_mark(cp)) != 0)
		cp = mark == 1 ? 0x309b : 0x309c;
	while (*pos < n && (len = read_at(r, *pos, &next)) > 0 &&
	    absorbed(next))
		*pos += len;
	c->cp = cp;
	c->cls = classify(cp);
	c->end = *pos;
	return true;
}

/*
 * False when the character at s[i] may be one that norm_char() folds into
 * the character before it: a voicing mark (U+3099 U+309A U+FF9E U+FF9F)
 * or an absorbed one (U+00AD, U+200C U+200D U+2060, U+FE00..FE0F,
 * U+FEFF, U+E0100..E01EF).  Their UTF-8 all start with one of the bytes
 * below (U+3099 and U+309A with E3 82); true means certainly neither.
 */
static inline bool
next_plain(const unsigned char *s, int n, int i)
{
	if (i >= n)
		return true;
	switch (s[i]) {
	case 0xc2:
	case 0xe2:
	case 0xef:
	case 0xf3:
		return false;
	case 0xe3:
		return n - i < 3 || s[i + 1] != 0x82 ||
		    (s[i + 2] != 0x99 && s[i + 2] != 0x9a);
	default:
		return true;
	}
}

/* Whether fts_scan() takes every character through norm_char(). */
static bool slow_only;

void
kz__fts_general_path_only(bool on)
{
	slow_only = on;
}

/*
 * norm_char() for the characters most text is made of, without its general
 * path (decode, fold, look at the next character, classify): ASCII, and
 * the kana and kanji of U+3041..U+9FFF that folding leaves as they are,
 * when next_plain() holds for the character after them.  Returns false,
 * having changed nothing, for any other character; else what norm_char()
 * would give (test_tokens_fast_path compares the two).  On an import this
 * halved the tokenizer's instructions, a tenth of the store thread's.
 */
static bool
fast_char(const struct utf8_reader *r, int *pos, struct fts_char *c)
{
	const unsigned char *s = r->s;
	int i = *pos, n = r->n;
	unsigned b = s[i];
	uint32_t cp;

	if (slow_only)
		return false;
	if (b < 0x80) {
		if (!next_plain(s, n, i + 1))
			return false;
		cp = b >= 'A' && b <= 'Z' ? b + 32 : b;
		c->cls = (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ?
		    FC_WORD : FC_SEP;
		c->end = i + 1;
	} else {
		/* Lead bytes E3..E9: U+3000..9FFF, never overlong or a
		 * surrogate once the two continuation bytes are right. */
		if (b < 0xe3 || b > 0xe9 || n - i < 3 ||
		    (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80)
			return false;
		cp = (b & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 |
		    (s[i + 2] & 0x3f);
		if (!((cp >= 0x4e00 && cp <= 0x9fff) ||
		    (cp >= 0x3041 && cp <= 0x3096) ||
		    (cp >= 0x30a1 && cp <= 0x30ff && cp != 0x30fb) ||
		    (cp >= 0x3400 && cp <= 0x4dbf)) || !next_plain(s, n, i + 3))
			return false;
		c->cls = FC_CJK;
		c->end = i + 3;
	}
	c->cp = cp;
	c->start = i;
	*pos = c->end;
	return true;
}

/* ------------------------------------------------------------ tokens */

enum fts_kind {
	FK_WORD,	/* a word of letters/digits */
	FK_CJK1,	/* a CJK run of exactly one character */
	FK_CJK2,	/* a bigram of a longer CJK run */
	FK_TAIL,	/* the last character of a longer run, colocated */
};

typedef int (*fts_emit_cb)(void *ctx, enum fts_kind kind, const char *tok,
    int ntok, int start, int end);

/*
 * Splits text (n bytes, any bytes at all) into tokens by the rules at the
 * top of this file and hands each to emit in text order.  With query set,
 * FK_TAIL tokens are left out.  Returns SQLITE_OK or the first non-OK value
 * emit returned.
 */
static int
fts_scan(const char *text, int n, bool query, fts_emit_cb emit, void *ctx)
{
	struct utf8_reader r = { (const unsigned char *)text, n, -1, 0, 0 };
	struct fts_char c, prev = { 0 };
	/* prev's UTF-8 (the first half of the next bigram) and c's. */
	char word[FTS_WORD_MAX], tok[8], cur[4] = { 0 };
	int pos = 0, run = 0, wlen = 0, wstart = -1, wend = 0, plen = 0, clen;
	int rc;
	bool more;

	do {
		more = (pos < n && fast_char(&r, &pos, &c)) ||
		    norm_char(&r, &pos, &c);
		if (!more)
			c.cls = FC_SEP;
		if (c.cls != FC_CJK && run > 0) {
			rc = SQLITE_OK;
			if (run == 1)
				rc = emit(ctx, FK_CJK1, tok, plen, prev.start,
				    prev.end);
			else if (!query)
				rc = emit(ctx, FK_TAIL, tok, plen, prev.start,
				    prev.end);
			if (rc != SQLITE_OK)
				return rc;
			run = 0;
		}
		if (c.cls != FC_WORD && wstart >= 0) {
			rc = emit(ctx, FK_WORD, word, wlen, wstart, wend);
			if (rc != SQLITE_OK)
				return rc;
			wstart = -1;
			wlen = 0;
		}
		if (c.cls == FC_CJK) {
			clen = utf8_encode(cur, c.cp);
			if (run > 0) {
				/* tok holds prev's bytes: add c's for the pair
				 * (all four of cur: a copy of known size). */
				memcpy(tok + plen, cur, sizeof(cur));
				rc = emit(ctx, FK_CJK2, tok, plen + clen,
				    prev.start, c.end);
				if (rc != SQLITE_OK)
					return rc;
			}
			memcpy(tok, cur, sizeof(cur));
			plen = clen;
			prev = c;
			run++;
		} else if (c.cls == FC_WORD) {
			if (wstart < 0)
				wstart = c.start;
			/* Whole characters only, so truncation stays UTF-8. */
			if (wlen <= FTS_WORD_MAX - 4)
				wlen += utf8_encode(word + wlen, c.cp);
			wend = c.end;
		}
	} while (more);
	return SQLITE_OK;
}

/* ------------------------------------------------------------ FTS5 glue */

struct tokenize_ctx {
	void *fts_ctx;
	int (*token_cb)(void *, int, const char *, int, int, int);
};

static int
on_token(void *ctx, enum fts_kind kind, const char *tok, int ntok, int start,
    int end)
{
	struct tokenize_ctx *t = ctx;

	return t->token_cb(t->fts_ctx,
	    kind == FK_TAIL ? FTS5_TOKEN_COLOCATED : 0, tok, ntok, start, end);
}

/*
 * The tokenizer keeps no state between calls; xCreate hands back a
 * pointer to this object only because FTS5 wants a non-NULL handle.
 */
static int tokenizer_instance;

static int
tok_create(void *udata, const char **argv, int argc, Fts5Tokenizer **out)
{
	*out = NULL;
	if (argc != 0)
		return SQLITE_ERROR;	/* no options yet; refuse typos */
	*out = (Fts5Tokenizer *)&tokenizer_instance;
	return SQLITE_OK;
}

static void
tok_delete(Fts5Tokenizer *tok)
{
}

static int
tok_tokenize(Fts5Tokenizer *tok, void *fts_ctx, int flags, const char *text,
    int ntext, int (*token_cb)(void *, int, const char *, int, int, int))
{
	struct tokenize_ctx t = { fts_ctx, token_cb };

	if (text == NULL || ntext <= 0)
		return SQLITE_OK;
	return fts_scan(text, ntext, (flags & FTS5_TOKENIZE_QUERY) != 0,
	    on_token, &t);
}

/* ------------------------------------------------------------ highlighting */

/*
 * kz_highlight(t, col, open, close) and
 * kz_snippet(t, col, open, close, ellipsis, ntokens) do what FTS5's
 * highlight() and snippet() do, for this tokenizer.
 *
 * Why our own: bigrams overlap, so two matches at adjacent positions
 * overlap in bytes ("給水 水道" in 給水道, or "ああ" in ああああ).  FTS5's
 * built-ins assume the end of one match never lies past the start of the
 * next; when it does they copy part of the text twice.  Here each match
 * becomes a byte range, overlapping ranges are merged, and the text is
 * copied once, in order.  A match of a one-character query marks the whole
 * token it matched (給[水道]): the API of SQLite 3.40 does not say which of
 * two colocated tokens matched.
 */

struct byte_range {
	int start, end;
};

struct range_list {
	struct byte_range *v;
	int n, cap;
};

static int
range_add(struct range_list *l, int start, int end)
{
	struct byte_range *v;
	int cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 64;
		v = sqlite3_realloc64(l->v, (sqlite3_uint64)cap * sizeof(*v));
		if (v == NULL)
			return SQLITE_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].start = start;
	l->v[l->n].end = end;
	l->n++;
	return SQLITE_OK;
}

/* Collects the byte range of each position (colocated tokens add none). */
static int
on_aux_token(void *ctx, int tflags, const char *tok, int ntok, int start,
    int end)
{
	if (tflags & FTS5_TOKEN_COLOCATED)
		return SQLITE_OK;
	return range_add(ctx, start, end);
}

static int
range_cmp(const void *a, const void *b)
{
	const struct byte_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

/*
 * Appends text[from, to) to out with each match in marks (sorted, merged)
 * wrapped in open/close, clipped to the window.
 */
static void
append_marked(sqlite3_str *out, const char *text, int from, int to,
    const struct range_list *marks, const char *open, const char *close)
{
	int i, at = from, s, e;

	for (i = 0; i < marks->n; i++) {
		s = marks->v[i].start > from ? marks->v[i].start : from;
		e = marks->v[i].end < to ? marks->v[i].end : to;
		if (s >= e)
			continue;
		sqlite3_str_append(out, text + at, s - at);
		sqlite3_str_appendall(out, open);
		sqlite3_str_append(out, text + s, e - s);
		sqlite3_str_appendall(out, close);
		at = e;
	}
	sqlite3_str_append(out, text + at, to - at);
}

/*
 * The common body of kz_highlight() (val: col, open, close) and
 * kz_snippet() (val: col, open, close, ellipsis, ntokens).
 */
static void
aux_mark(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
    sqlite3_value **val, bool snippet)
{
	struct range_list pos = { 0 }, marks = { 0 };
	const char *text = NULL, *open, *close, *ellipsis = NULL;
	sqlite3_str *out = NULL;
	char *res;
	int col, ninst, i, j, s, phrase, icol, off, size, hits, rc;
	int ntext = 0, ntok = 0, len, first, last, from, to, best_hits = -1;

	col = sqlite3_value_int(val[0]);
	open = (const char *)sqlite3_value_text(val[1]);
	close = (const char *)sqlite3_value_text(val[2]);
	if (snippet) {
		ellipsis = (const char *)sqlite3_value_text(val[3]);
		ntok = sqlite3_value_int(val[4]);
		if (ntok < 1)
			ntok = 1;
	}

	rc = api->xColumnText(fts, col, &text, &ntext);
	if (rc != SQLITE_OK || text == NULL)
		goto out;	/* a NULL column gives NULL, as highlight() */
	rc = api->xTokenize(fts, text, ntext, &pos, on_aux_token);
	if (rc == SQLITE_OK)
		rc = api->xInstCount(fts, &ninst);
	for (i = 0; rc == SQLITE_OK && i < ninst; i++) {
		rc = api->xInst(fts, i, &phrase, &icol, &off);
		if (rc != SQLITE_OK || icol != col)
			continue;
		size = api->xPhraseSize(fts, phrase);
		if (off < 0 || size < 1 || off + size > pos.n)
			continue;
		rc = range_add(&marks, pos.v[off].start,
		    pos.v[off + size - 1].end);
	}
	if (rc != SQLITE_OK)
		goto out;
	if (marks.n > 0)
		qsort(marks.v, (size_t)marks.n, sizeof(marks.v[0]), range_cmp);
	/* Overlapping matches become one; touching ones stay two. */
	for (i = 0, j = 0; i < marks.n; i++) {
		if (j > 0 && marks.v[i].start < marks.v[j - 1].end) {
			if (marks.v[i].end > marks.v[j - 1].end)
				marks.v[j - 1].end = marks.v[i].end;
		} else {
			marks.v[j++] = marks.v[i];
		}
	}
	marks.n = j;

	first = 0;
	last = pos.n - 1;
	if (snippet && pos.n > ntok) {
		/*
		 * The window of ntok positions holding the most matches,
		 * the earliest on ties.  Candidates start a quarter window
		 * before each match, so a match comes with some lead-in.
		 */
		for (i = 0; i < marks.n; i++) {
			s = 0;
			while (s < pos.n && pos.v[s].start < marks.v[i].start)
				s++;
			s -= ntok / 4;
			if (s > pos.n - ntok)
				s = pos.n - ntok;
			if (s < 0)
				s = 0;
			for (hits = 0, j = 0; j < marks.n; j++)
				hits += marks.v[j].start >= pos.v[s].start &&
				    marks.v[j].end <= pos.v[s + ntok - 1].end;
			if (hits > best_hits) {
				best_hits = hits;
				first = s;
			}
		}
		last = first + ntok - 1;
	}

	from = first > 0 ? pos.v[first].start : 0;
	to = last < pos.n - 1 ? pos.v[last].end : ntext;
	/* A match cut by the window's edge is shown whole. */
	for (i = 0; i < marks.n; i++) {
		if (marks.v[i].start < from && marks.v[i].end > from)
			from = marks.v[i].start;
		if (marks.v[i].start < to && marks.v[i].end > to)
			to = marks.v[i].end;
	}

	out = sqlite3_str_new(sqlite3_context_db_handle(ctx));
	if (first > 0 && pos.v[0].start < from && ellipsis != NULL)
		sqlite3_str_appendall(out, ellipsis);
	append_marked(out, text, from, to, &marks, open ? open : "",
	    close ? close : "");
	if (last < pos.n - 1 && pos.v[pos.n - 1].end > to && ellipsis != NULL)
		sqlite3_str_appendall(out, ellipsis);
	rc = sqlite3_str_errcode(out);
	len = sqlite3_str_length(out);
	res = sqlite3_str_finish(out);
	out = NULL;
	if (rc == SQLITE_OK && res == NULL)
		res = sqlite3_mprintf("%s", "");	/* empty, not NULL */
	if (rc == SQLITE_OK && res == NULL)
		rc = SQLITE_NOMEM;
	if (rc == SQLITE_OK)
		sqlite3_result_text(ctx, res, len, sqlite3_free);
	else
		sqlite3_free(res);

out:
	sqlite3_free(sqlite3_str_finish(out));
	sqlite3_free(marks.v);
	sqlite3_free(pos.v);
	if (rc != SQLITE_OK)
		sqlite3_result_error_code(ctx, rc);
}

static void
aux_highlight(const Fts5ExtensionApi *api, Fts5Context *fts,
    sqlite3_context *ctx, int nval, sqlite3_value **val)
{
	if (nval != 3) {
		sqlite3_result_error(ctx,
		    "wrong number of arguments to kz_highlight()", -1);
		return;
	}
	aux_mark(api, fts, ctx, val, false);
}

static void
aux_snippet(const Fts5ExtensionApi *api, Fts5Context *fts,
    sqlite3_context *ctx, int nval, sqlite3_value **val)
{
	if (nval != 5) {
		sqlite3_result_error(ctx,
		    "wrong number of arguments to kz_snippet()", -1);
		return;
	}
	aux_mark(api, fts, ctx, val, true);
}

int
kz__fts_register(sqlite3 *db)
{
	static fts5_tokenizer tokenizer = {
		tok_create, tok_delete, tok_tokenize
	};
	sqlite3_stmt *stmt = NULL;
	fts5_api *api = NULL;
	int rc;

	/* The documented way to reach FTS5's C API from a connection. */
	rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_pointer(stmt, 1, &api, "fts5_api_ptr", NULL);
	if (rc == SQLITE_OK && sqlite3_step(stmt) != SQLITE_ROW)
		rc = SQLITE_ERROR;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_OK || api == NULL || api->iVersion < 2)
		return KZ_ERR_DB;
	rc = api->xCreateTokenizer(api, "kizuna", NULL, &tokenizer, NULL);
	if (rc == SQLITE_OK)
		rc = api->xCreateFunction(api, "kz_highlight", NULL,
		    aux_highlight, NULL);
	if (rc == SQLITE_OK)
		rc = api->xCreateFunction(api, "kz_snippet", NULL,
		    aux_snippet, NULL);
	return rc == SQLITE_OK ? 0 : KZ_ERR_DB;
}

/* ------------------------------------------------------------ queries */

/* The MATCH expression being built, and the term being added to it. */
struct query_buf {
	char *out;
	size_t cap, len;
	bool overflow;
	int nterms;		/* terms with at least one token */
	int ntok;		/* tokens of the current term */
	enum fts_kind last;	/* kind of its last token */
};

static void
qb_put(struct query_buf *b, const char *s, size_t n)
{
	/* One byte stays free for the NUL. */
	if (b->overflow || n >= b->cap - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->out + b->len, s, n);
	b->len += n;
}

/*
 * Tokens are normalized letters, digits and CJK characters, never a quote
 * or a space, so writing them between double quotes cannot end the phrase
 * early: whatever the person typed stays text.
 */
static int
on_query_token(void *ctx, enum fts_kind kind, const char *tok, int ntok,
    int start, int end)
{
	struct query_buf *b = ctx;

	if (b->ntok == 0)
		qb_put(b, b->nterms > 0 ? " AND \"" : "\"",
		    b->nterms > 0 ? 6 : 1);
	else
		qb_put(b, " ", 1);
	qb_put(b, tok, (size_t)ntok);
	b->ntok++;
	b->last = kind;
	return SQLITE_OK;
}

/* Whitespace that separates terms: ASCII, no-break and typographic spaces. */
static bool
is_space(uint32_t cp)
{
	return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0xa0 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x202f || cp == 0x205f ||
	    cp == 0x3000;
}

int
kz_search_query(char *out, size_t outlen, const char *user_query)
{
	struct query_buf b = { 0 };
	const unsigned char *s = (const unsigned char *)user_query;
	size_t n;
	int i, len, start;
	uint32_t cp;

	if (out == NULL || outlen == 0)
		return KZ_ERR_INVAL;
	out[0] = '\0';
	if (user_query == NULL)
		return KZ_ERR_INVAL;
	n = strlen(user_query);
	if (!kz_utf8_valid(s, n))
		return KZ_ERR_BAD_UTF8;
	if (n > INT32_MAX / 8)
		return KZ_ERR_TOO_BIG;	/* offsets below are ints */
	b.out = out;
	b.cap = outlen;

	for (i = 0; i < (int)n;) {
		len = utf8_decode(s, (int)n, i, &cp);
		if (is_space(cp)) {
			i += len;
			continue;
		}
		start = i;
		while (i < (int)n) {
			len = utf8_decode(s, (int)n, i, &cp);
			if (is_space(cp))
				break;
			i += len;
		}
		b.ntok = 0;
		fts_scan(user_query + start, i - start, true, on_query_token,
		    &b);
		if (b.ntok == 0)
			continue;	/* only punctuation: nothing to find */
		qb_put(&b, "\"", 1);
		/*
		 * A word at the end may be the start of a longer word
		 * ("kizu"), and a single CJK character at the end may start
		 * a bigram (水 in 水道) or be the colocated last character of
		 * a run (水 in 給水).  A bigram at the end needs no '*'.
		 */
		if (b.last == FK_WORD || b.last == FK_CJK1)
			qb_put(&b, "*", 1);
		b.nterms++;
	}
	if (b.nterms == 0) {
		out[0] = '\0';
		return KZ_ERR_INVAL;
	}
	if (b.overflow) {
		out[0] = '\0';
		return KZ_ERR_TOO_BIG;
	}
	out[b.len] = '\0';
	return 0;
}
