/*
 * Reading what a request carries (http_parse.h): pure functions over the
 * bytes h2o hands over, never trusting them.  Text quoted back in an error
 * message is reduced to printable ASCII first.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "daemon/http_parse.h"
#include "kizuna/util.h"

static void
fail(struct kzd_http_fail *f, int status, const char *code, const char *msg)
{
	f->status = status;
	f->code = code;
	snprintf(f->message, sizeof(f->message), "%s", msg);
}

/* Whether ctype is application/json, with or without parameters. */
static bool
is_json_type(const char *ctype, size_t len)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (ctype == NULL || len < n || strncasecmp(ctype, want, n) != 0)
		return false;
	return len == n || ctype[n] == ';' || ctype[n] == ' ';
}

json_t *
kzd_http_parse_body(const char *ctype, size_t ctlen, const char *body,
    size_t len, bool empty_ok, struct kzd_http_fail *f)
{
	json_error_t jerr;
	char shown[160], msg[200];
	json_t *o;
	size_t i;

	if (len == 0 && empty_ok)
		return json_object();
	if (len > KZD_HTTP_BODY_MAX) {
		snprintf(msg, sizeof(msg), "the request body is over %d bytes",
		    KZD_HTTP_BODY_MAX);
		fail(f, 413, "body_too_large", msg);
		return NULL;
	}
	if (!is_json_type(ctype, ctlen)) {
		fail(f, 415, "unsupported_media_type", "the body must be JSON, "
		    "sent as Content-Type: application/json");
		return NULL;
	}
	if (len == 0) {
		fail(f, 400, "bad_json", "the body is empty; a JSON object is "
		    "expected");
		return NULL;
	}
	if (!kz_utf8_valid((const uint8_t *)body, len)) {
		fail(f, 400, "bad_utf8", "the body is not valid UTF-8");
		return NULL;
	}
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		/* jansson's message may quote the input. */
		for (i = 0; i + 1 < sizeof(shown) && jerr.text[i] != '\0'; i++)
			shown[i] = jerr.text[i] >= 0x20 && jerr.text[i] < 0x7f ?
			    jerr.text[i] : '?';
		shown[i] = '\0';
		snprintf(msg, sizeof(msg), "malformed JSON at line %d, column %d: "
		    "%.150s", jerr.line, jerr.column, shown);
		fail(f, 400, "bad_json", msg);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		fail(f, 400, "bad_json", "the body must be a JSON object");
		return NULL;
	}
	return o;
}

bool
kzd_http_parse_cookie(const char *v, size_t len, uint8_t raw[32])
{
	static const char name[] = KZD_HTTP_COOKIE "=";
	const size_t nlen = sizeof(name) - 1;
	const char *p = v, *end = v + len;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi != NULL ? semi : end;
		size_t binlen;

		while (p < e && *p == ' ')
			p++;
		if ((size_t)(e - p) == nlen + KZD_HTTP_COOKIE_CHARS &&
		    memcmp(p, name, nlen) == 0 &&
		    sodium_base642bin(raw, 32, p + nlen, KZD_HTTP_COOKIE_CHARS,
		    NULL, &binlen, NULL,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
		    binlen == 32)
			return true;
		p = e + 1;
	}
	return false;
}

const char *
kzd_http_query(const char *q, size_t qlen, const char *key, size_t *vlen)
{
	const char *end = q + qlen, *amp;
	size_t klen = strlen(key);

	while (q < end) {
		amp = memchr(q, '&', (size_t)(end - q));
		if (amp == NULL)
			amp = end;
		if ((size_t)(amp - q) > klen && memcmp(q, key, klen) == 0 &&
		    q[klen] == '=') {
			*vlen = (size_t)(amp - q) - klen - 1;
			return q + klen + 1;
		}
		q = amp + 1;
	}
	return NULL;
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool
kzd_http_unhex(uint8_t *out, const char *s, size_t len, size_t n)
{
	size_t i;

	if (len != 2 * n)
		return false;
	for (i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

int
kzd_http_unescape(const char *v, size_t len, char *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)v[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hexval(v[i + 1]);
			lo = hexval(v[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == 0 || n + 1 >= cap)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	if (!kz_utf8_valid((const uint8_t *)out, n))
		return -1;
	return (int)n;
}

int
kzd_http_parse_limit(const char *v, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (len == 0 || len > 9)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n < 1 || n > max)
		return -1;
	*out = n;
	return 0;
}

static bool
unhex_u64(uint64_t *out, const char *s)
{
	uint8_t b[8];
	size_t i;

	if (!kzd_http_unhex(b, s, 16, 8))
		return false;
	*out = 0;
	for (i = 0; i < 8; i++)
		*out = *out << 8 | b[i];
	return true;
}

int
kzd_http_parse_cursor(const char *v, size_t len, struct kz_view_cursor *c)
{
	if (len != KZD_HTTP_CURSOR_CHARS || !unhex_u64(&c->hlc, v) ||
	    !kzd_http_unhex(c->author, v + 16, 64, 32) ||
	    !unhex_u64(&c->seq, v + 80))
		return -1;
	return 0;
}

void
kzd_http_cursor(char out[KZD_HTTP_CURSOR_CHARS + 1],
    const struct kz_view_cursor *c)
{
	char author[65];

	kz_hex(author, c->author, 32);
	snprintf(out, KZD_HTTP_CURSOR_CHARS + 1, "%016llx%s%016llx",
	    (unsigned long long)c->hlc, author, (unsigned long long)c->seq);
}
