/*
 * What the HTTP API reads from a request (src/daemon/http_parse.c), with
 * exact outcomes: JSON bodies and their refusals, the session cookie among
 * others, query values and their decoding, paging limits and cursors.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/http_parse.h"
#include "testutil.h"

#define CT "application/json"

static void
test_body(void **state)
{
	struct kzd_http_fail f;
	char big[KZD_HTTP_BODY_MAX + 2];
	json_t *o;

	(void)state;
	o = kzd_http_parse_body(CT, strlen(CT), "{\"a\":\"給水\"}",
	    strlen("{\"a\":\"給水\"}"), false, &f);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "a")), "給水");
	json_decref(o);
	/* Parameters after the type; the type in capitals. */
	o = kzd_http_parse_body("Application/JSON; charset=utf-8", 31, "{}", 2,
	    false, &f);
	assert_non_null(o);
	json_decref(o);
	/* An empty body is {} only where one may be empty. */
	o = kzd_http_parse_body(NULL, 0, "", 0, true, &f);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	assert_null(kzd_http_parse_body(CT, strlen(CT), "", 0, false, &f));
	assert_int_equal(f.status, 400);
	assert_string_equal(f.code, "bad_json");

	assert_null(kzd_http_parse_body(NULL, 0, "{}", 2, false, &f));
	assert_int_equal(f.status, 415);
	assert_string_equal(f.code, "unsupported_media_type");
	assert_null(kzd_http_parse_body("application/jsonx", 17, "{}", 2, false,
	    &f));
	assert_int_equal(f.status, 415);
	assert_null(kzd_http_parse_body("text/plain", 10, "{}", 2, true, &f));
	assert_int_equal(f.status, 415);

	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	assert_null(kzd_http_parse_body(CT, strlen(CT), big, sizeof(big), false,
	    &f));
	assert_int_equal(f.status, 413);
	assert_string_equal(f.code, "body_too_large");
	/* Exactly at the bound is read. */
	big[KZD_HTTP_BODY_MAX - 1] = '}';
	o = kzd_http_parse_body(CT, strlen(CT), big, KZD_HTTP_BODY_MAX, false, &f);
	assert_non_null(o);
	json_decref(o);

	assert_null(kzd_http_parse_body(CT, strlen(CT), "{\"a\":\"\xc3\x28\"}", 10,
	    false, &f));
	assert_int_equal(f.status, 400);
	assert_string_equal(f.code, "bad_utf8");
	assert_null(kzd_http_parse_body(CT, strlen(CT), "{\"a\":1,\"a\":2}", 13,
	    false, &f));
	assert_string_equal(f.code, "bad_json");
	assert_null(kzd_http_parse_body(CT, strlen(CT), "[1]", 3, false, &f));
	assert_string_equal(f.code, "bad_json");
	assert_string_equal(f.message, "the body must be a JSON object");
	/* jansson's message is quoted back in printable ASCII only. */
	assert_null(kzd_http_parse_body(CT, strlen(CT), "{\"\xe7\xb5\xa6\"",
	    6, false, &f));
	assert_string_equal(f.code, "bad_json");
	for (size_t i = 0; f.message[i] != '\0'; i++)
		assert_true(f.message[i] >= 0x20 && f.message[i] < 0x7f);
}

static void
test_cookie(void **state)
{
	uint8_t raw[32], want[32];
	char tok[KZD_HTTP_COOKIE_CHARS + 1], hdr[200];

	(void)state;
	randombytes_buf(want, sizeof(want));
	sodium_bin2base64(tok, sizeof(tok), want, 32,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(hdr, sizeof(hdr), "theme=dark; kz_session=%s; lang=ja", tok);
	assert_true(kzd_http_parse_cookie(hdr, strlen(hdr), raw));
	assert_memory_equal(raw, want, 32);
	snprintf(hdr, sizeof(hdr), "kz_session=%s", tok);
	assert_true(kzd_http_parse_cookie(hdr, strlen(hdr), raw));
	assert_memory_equal(raw, want, 32);
	/* A longer or shorter value, another name, padding: none. */
	snprintf(hdr, sizeof(hdr), "kz_session=%sA", tok);
	assert_false(kzd_http_parse_cookie(hdr, strlen(hdr), raw));
	snprintf(hdr, sizeof(hdr), "kz_session=%.42s", tok);
	assert_false(kzd_http_parse_cookie(hdr, strlen(hdr), raw));
	snprintf(hdr, sizeof(hdr), "xkz_session=%s", tok);
	assert_false(kzd_http_parse_cookie(hdr, strlen(hdr), raw));
	snprintf(hdr, sizeof(hdr), "kz_session=%.42s=", tok);
	assert_false(kzd_http_parse_cookie(hdr, strlen(hdr), raw));
	assert_false(kzd_http_parse_cookie("", 0, raw));
	assert_false(kzd_http_parse_cookie(";;;", 3, raw));
}

static void
test_query(void **state)
{
	const char *q = "limit=50&before=abc&q=%E7%B5%A6+x&limit=7&xq=1";
	char out[64];
	const char *v;
	size_t n;

	(void)state;
	v = kzd_http_query(q, strlen(q), "limit", &n);
	assert_non_null(v);
	assert_int_equal(n, 2);
	assert_memory_equal(v, "50", 2);	/* the first of repeated keys */
	v = kzd_http_query(q, strlen(q), "q", &n);
	assert_non_null(v);
	assert_int_equal(kzd_http_unescape(v, n, out, sizeof(out)), 5);
	assert_string_equal(out, "給 x");
	assert_null(kzd_http_query(q, strlen(q), "x", &n));
	assert_null(kzd_http_query(q, strlen(q), "befor", &n));
	v = kzd_http_query("a=", 2, "a", &n);
	assert_non_null(v);
	assert_int_equal(n, 0);

	assert_int_equal(kzd_http_unescape("%41%42c", 7, out, sizeof(out)), 3);
	assert_string_equal(out, "ABc");
	assert_int_equal(kzd_http_unescape("%4", 2, out, sizeof(out)), -1);
	assert_int_equal(kzd_http_unescape("%", 1, out, sizeof(out)), -1);
	assert_int_equal(kzd_http_unescape("%zz", 3, out, sizeof(out)), -1);
	assert_int_equal(kzd_http_unescape("a%00b", 5, out, sizeof(out)), -1);
	assert_int_equal(kzd_http_unescape("%FF", 3, out, sizeof(out)), -1);
	assert_int_equal(kzd_http_unescape("abcd", 4, out, 4), -1);
	assert_int_equal(kzd_http_unescape("abc", 3, out, 4), 3);
}

static void
test_limit_cursor(void **state)
{
	struct kz_view_cursor c, c2;
	char text[KZD_HTTP_CURSOR_CHARS + 1], upper[KZD_HTTP_CURSOR_CHARS + 1];
	uint64_t n;
	size_t i;

	(void)state;
	assert_int_equal(kzd_http_parse_limit("50", 2, 200, &n), 0);
	assert_int_equal(n, 50);
	assert_int_equal(kzd_http_parse_limit("200", 3, 200, &n), 0);
	assert_int_equal(kzd_http_parse_limit("201", 3, 200, &n), -1);
	assert_int_equal(kzd_http_parse_limit("0", 1, 200, &n), -1);
	assert_int_equal(kzd_http_parse_limit("", 0, 200, &n), -1);
	assert_int_equal(kzd_http_parse_limit("-1", 2, 200, &n), -1);
	assert_int_equal(kzd_http_parse_limit("1e2", 3, 200, &n), -1);
	assert_int_equal(kzd_http_parse_limit("9999999999", 10, UINT64_MAX, &n),
	    -1);

	c.hlc = 0x01a24a1ef81e0000ull;
	for (i = 0; i < 32; i++)
		c.author[i] = (uint8_t)(0xf0 + i);
	c.seq = 4;
	kzd_http_cursor(text, &c);
	assert_int_equal(strlen(text), KZD_HTTP_CURSOR_CHARS);
	assert_memory_equal(text, "01a24a1ef81e0000f0f1", 20);
	assert_string_equal(text + 80, "0000000000000004");
	assert_int_equal(kzd_http_parse_cursor(text, strlen(text), &c2), 0);
	assert_int_equal(c2.hlc, c.hlc);
	assert_memory_equal(c2.author, c.author, 32);
	assert_int_equal(c2.seq, 4);
	for (i = 0; text[i] != '\0'; i++)
		upper[i] = (char)(text[i] >= 'a' && text[i] <= 'f' ?
		    text[i] - 32 : text[i]);
	upper[i] = '\0';
	assert_int_equal(kzd_http_parse_cursor(upper, strlen(upper), &c2), 0);
	assert_int_equal(c2.hlc, c.hlc);
	assert_int_equal(kzd_http_parse_cursor(text, strlen(text) - 1, &c2), -1);
	text[5] = 'g';
	assert_int_equal(kzd_http_parse_cursor(text, strlen(text), &c2), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_limit_cursor),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
