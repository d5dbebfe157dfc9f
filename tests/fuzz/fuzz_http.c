/*
 * Fuzz target: what the HTTP API reads from a request besides what h2o
 * parses (src/daemon/http_parse.c): the JSON body with its Content-Type,
 * the session cookie, the query string, the paging limit and cursor.
 *
 * Input: a flags byte (bit 0: an empty body reads as {}; bit 1: no
 * Content-Type header at all), then three length-prefixed strings (one
 * byte each: the Content-Type, a Cookie header value, a query string), then
 * the body.
 *
 * Invariants: a body is accepted only as a JSON object, only when it is
 * JSON, within the bound and valid UTF-8 (or empty with empty_ok), and it
 * survives a dump and reload unchanged; a refusal is one of the documented
 * status and code pairs, with a message of printable ASCII (nothing of the
 * input's raw bytes goes back); a cookie found is "kz_session=" and 43
 * characters whose decoding encodes back to a string that decodes the same;
 * a query value lies inside the query right after "KEY=", and decodes to
 * valid UTF-8 without NUL that decodes back the same when escaped again; a
 * limit is 1 to 200 and all digits; a cursor read writes back as the input
 * in lower case.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "daemon/http_parse.h"
#include "fuzz_util.h"
#include "kizuna/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Takes a one-byte-length-prefixed string off the input. */
static bool
take(const uint8_t **p, size_t *left, const char **s, size_t *len)
{
	if (*left < 1 || (size_t)(*p)[0] > *left - 1)
		return false;
	*len = (*p)[0];
	*s = (const char *)*p + 1;
	*p += 1 + *len;
	*left -= 1 + *len;
	return true;
}

static void
check_body(const char *ct, size_t ctlen, const char *body, size_t len,
    bool empty_ok)
{
	struct kzd_http_fail f;
	json_t *o, *again;
	char *text;
	size_t i;

	memset(&f, 0, sizeof(f));
	o = kzd_http_parse_body(ct, ctlen, body, len, empty_ok, &f);
	if (o != NULL) {
		KZF_CHECK(json_is_object(o), "http: a body that is no object");
		if (!(len == 0 && empty_ok)) {
			KZF_CHECK(len > 0 && len <= KZD_HTTP_BODY_MAX,
			    "http: a body of %zu bytes accepted", len);
			KZF_CHECK(kz_utf8_valid((const uint8_t *)body, len),
			    "http: invalid UTF-8 accepted");
			KZF_CHECK(ct != NULL && ctlen >= 16 &&
			    strncasecmp(ct, "application/json", 16) == 0,
			    "http: a body accepted without the JSON type");
		}
		text = json_dumps(o, JSON_COMPACT);
		KZF_CHECK(text != NULL, "http: an accepted body does not dump");
		again = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
		KZF_CHECK(again != NULL && json_equal(o, again),
		    "http: an accepted body does not reload equal");
		json_decref(again);
		free(text);
		json_decref(o);
		return;
	}
	KZF_CHECK((f.status == 413 && strcmp(f.code, "body_too_large") == 0) ||
	    (f.status == 415 && strcmp(f.code, "unsupported_media_type") == 0) ||
	    (f.status == 400 && (strcmp(f.code, "bad_json") == 0 ||
	    strcmp(f.code, "bad_utf8") == 0)),
	    "http: refused with %d %s", f.status, f.code ? f.code : "(null)");
	KZF_CHECK(f.message[0] != '\0', "http: a refusal without a message");
	for (i = 0; f.message[i] != '\0'; i++)
		KZF_CHECK(f.message[i] >= 0x20 && f.message[i] < 0x7f,
		    "http: byte 0x%02x in an error message",
		    (unsigned char)f.message[i]);
}

static void
check_cookie(const char *v, size_t len)
{
	uint8_t raw[32], raw2[32];
	char enc[KZD_HTTP_COOKIE_CHARS + 1], hdr[64];
	size_t binlen;

	if (!kzd_http_parse_cookie(v, len, raw))
		return;
	KZF_CHECK(len >= 11 + KZD_HTTP_COOKIE_CHARS,
	    "http: a cookie found in %zu bytes", len);
	sodium_bin2base64(enc, sizeof(enc), raw, 32,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	KZF_CHECK(strlen(enc) == KZD_HTTP_COOKIE_CHARS, "http: cookie length");
	/* What the server writes reads back as the same id. */
	memcpy(hdr, KZD_HTTP_COOKIE "=", 11);
	memcpy(hdr + 11, enc, KZD_HTTP_COOKIE_CHARS);
	KZF_CHECK(kzd_http_parse_cookie(hdr, 11 + KZD_HTTP_COOKIE_CHARS, raw2) &&
	    memcmp(raw, raw2, 32) == 0, "http: a written cookie reads back "
	    "differently");
	KZF_CHECK(sodium_base642bin(raw2, 32, enc, KZD_HTTP_COOKIE_CHARS, NULL,
	    &binlen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
	    binlen == 32, "http: cookie decoding");
}

/* A decoded value is valid UTF-8 without NUL; escaping it all decodes back. */
static void
check_unescape(const char *v, size_t vlen)
{
	char out[256], esc[3 * 255 + 1], again[256];
	int n, m, i;

	if ((n = kzd_http_unescape(v, vlen, out, sizeof(out))) < 0)
		return;
	KZF_CHECK((size_t)n < sizeof(out) && out[n] == '\0' &&
	    strlen(out) == (size_t)n, "http: unescaped length %d", n);
	KZF_CHECK(kz_utf8_valid((const uint8_t *)out, (size_t)n),
	    "http: unescaped to invalid UTF-8");
	KZF_CHECK((size_t)n <= vlen, "http: unescaping grew %zu to %d", vlen, n);
	for (i = 0; i < n; i++)
		snprintf(esc + 3 * i, 4, "%%%02X", (unsigned char)out[i]);
	m = kzd_http_unescape(esc, 3 * (size_t)n, again, sizeof(again));
	KZF_CHECK(m == n && memcmp(out, again, (size_t)n) == 0,
	    "http: escaping the decoded value does not decode back");
}

static void
check_query(const char *q, size_t qlen)
{
	static const char *const keys[] = { "limit", "before", "q", NULL };
	struct kz_view_cursor c;
	char back[KZD_HTTP_CURSOR_CHARS + 1];
	uint64_t limit = 0;
	const char *v;
	size_t vlen, i, k;

	for (k = 0; keys[k] != NULL; k++) {
		size_t klen = strlen(keys[k]);

		v = kzd_http_query(q, qlen, keys[k], &vlen);
		if (v == NULL)
			continue;
		KZF_CHECK(v >= q + klen + 1 && v + vlen <= q + qlen,
		    "http: a query value outside the query");
		KZF_CHECK(memcmp(v - klen - 1, keys[k], klen) == 0 &&
		    v[-1] == '=', "http: a value not after %s=", keys[k]);
		KZF_CHECK(v - klen - 1 == q || *(v - klen - 2) == '&',
		    "http: a key found inside another");
		KZF_CHECK(memchr(v, '&', vlen) == NULL, "http: '&' in a value");
		if (kzd_http_parse_limit(v, vlen, 200, &limit) == 0) {
			KZF_CHECK(limit >= 1 && limit <= 200, "http: limit %llu",
			    (unsigned long long)limit);
			for (i = 0; i < vlen; i++)
				KZF_CHECK(v[i] >= '0' && v[i] <= '9',
				    "http: a limit with a non-digit");
		}
		check_unescape(v, vlen);
		if (kzd_http_parse_cursor(v, vlen, &c) == 0) {
			KZF_CHECK(vlen == KZD_HTTP_CURSOR_CHARS, "http: cursor "
			    "length %zu", vlen);
			kzd_http_cursor(back, &c);
			for (i = 0; i < vlen; i++)
				KZF_CHECK(back[i] == tolower((unsigned char)v[i]),
				    "http: a cursor writes back differently");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size, ctlen, cklen, qlen;
	const char *ct, *ck, *q;
	uint8_t flags;

	if (left < 1)
		return 0;
	flags = p[0];
	p++;
	left--;
	if (!take(&p, &left, &ct, &ctlen) || !take(&p, &left, &ck, &cklen) ||
	    !take(&p, &left, &q, &qlen))
		return 0;
	check_body(flags & 2 ? NULL : ct, flags & 2 ? 0 : ctlen,
	    (const char *)p, left, flags & 1);
	check_cookie(ck, cklen);
	check_query(q, qlen);
	return 0;
}
