/*
 * What the HTTP API reads from a request besides what h2o parses: the JSON
 * body, the session cookie, the query string, ids and paging cursors.
 * Pure functions over borrowed bytes (no h2o, no loop, no store), so that
 * tests/fuzz/fuzz_http.c drives them with arbitrary input.
 */
#ifndef KZD_HTTP_PARSE_H
#define KZD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kizuna/views.h"

/* Bytes of a JSON request body the API reads; larger: 413. */
#define KZD_HTTP_BODY_MAX (64 * 1024)
/* A paging cursor: hlc, author and seq in hex. */
#define KZD_HTTP_CURSOR_CHARS (16 + 64 + 16)
/* The session cookie's name and its value's length (256 bits, base64url). */
#define KZD_HTTP_COOKIE "kz_session"
#define KZD_HTTP_COOKIE_CHARS 43

/* Why a request's input was refused: its answer. */
struct kzd_http_fail {
	int status;			/* 400, 413, 415 */
	const char *code;		/* a stable code of docs/api.md */
	char message[200];
};

/*
 * Reads a request body as a JSON object.  ctype (ctlen bytes, NULL: no
 * header) must be application/json, with or without parameters; body (len
 * bytes) at most KZD_HTTP_BODY_MAX, valid UTF-8, well-formed, without
 * duplicate keys.  An empty body reads as {} when empty_ok (whatever its
 * type).  Returns the object (the caller decrefs), or NULL with f filled:
 * 413 body_too_large, 415 unsupported_media_type, 400 bad_utf8 or bad_json.
 */
json_t *kzd_http_parse_body(const char *ctype, size_t ctlen, const char *body,
    size_t len, bool empty_ok, struct kzd_http_fail *f);

/*
 * Finds the session cookie in one Cookie header value (v, len bytes):
 * "kz_session=" and 43 characters of URL-safe base64, decoded into raw.
 * Returns false when there is none of that form.
 */
bool kzd_http_parse_cookie(const char *v, size_t len, uint8_t raw[32]);

/*
 * The value of key in a query string (q, qlen bytes, without the '?'),
 * undecoded, with its length in *vlen; NULL if absent.  The first of
 * repeated keys counts.
 */
const char *kzd_http_query(const char *q, size_t qlen, const char *key,
    size_t *vlen);

/*
 * Decodes a query value (v, len bytes: %XX escapes, '+' for a space) into
 * out (cap bytes, NUL-terminated).  Returns the decoded length, or -1 for
 * a bad escape, a NUL, invalid UTF-8 or a result that does not fit.
 */
int kzd_http_unescape(const char *v, size_t len, char *out, size_t cap);

/* Parses exactly 2 * n hex digits (either case) of s into out. */
bool kzd_http_unhex(uint8_t *out, const char *s, size_t len, size_t n);

/* A decimal 1..max of at most 9 digits.  Returns 0 or -1. */
int kzd_http_parse_limit(const char *v, size_t len, uint64_t max,
    uint64_t *out);

/* A cursor as kzd_http_cursor writes it.  Returns 0 or -1. */
int kzd_http_parse_cursor(const char *v, size_t len, struct kz_view_cursor *c);

/* The cursor of a message (lower-case hex), NUL-terminated. */
void kzd_http_cursor(char out[KZD_HTTP_CURSOR_CHARS + 1],
    const struct kz_view_cursor *c);

#endif
