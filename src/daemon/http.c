/*
 * The HTTP server of the web workspace: h2o on kizunad's loop, serving the
 * UI's static files from the web root and the JSON API under /api
 * (api.c), and holding the sessions and the login rate limits.
 *
 * Invariants:
 * - h2o parses every byte from the network; nothing here reads HTTP.
 * - Every answer, static or API, carries the security headers (a CSP that
 *   forbids inline script, nosniff, no framing, no referrer), set by h2o's
 *   headers filter on both paths.
 * - A session is a random 256-bit id in an HttpOnly, SameSite=Strict
 *   cookie; the server keeps only its BLAKE2b hash, so a memory dump does
 *   not sign anyone in.  Sessions end on logout, after [http]
 *   session_idle_s without a request, or when their user is deactivated.
 * - A login's password is checked on the thread pool (Argon2id is slow and
 *   big on purpose); the user is looked up before, on the loop's thread.
 *   Each attempt counts at once as a failure of its user and of its
 *   address and is forgiven when it succeeds, so a burst of parallel
 *   guesses is limited like a sequence: once KZD_HTTP_LOGIN_FAILS are
 *   counted in KZD_HTTP_LOGIN_WINDOW_MS, the next attempt is answered 429
 *   without checking the password.
 * - A request whose password check is running keeps its h2o request; if
 *   h2o frees the request first (its pool's dispose hook), the answer is
 *   dropped, never written to freed memory.
 *
 * The states of the server are in http.h.
 */
#define _XOPEN_SOURCE 700	/* realpath */

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/http.h"
#include "kizuna/err.h"
#include "kizuna/util.h"
#include "kizuna/views.h"

#ifndef KZ_WEB_ROOT_BUILD
#define KZ_WEB_ROOT_BUILD ""
#endif

#define COOKIE_NAME KZD_HTTP_COOKIE

/*
 * Checked when a login names no user with a password, so that an unknown
 * user costs the same time as a wrong password (no probing for names).
 * The hash of 32 random bytes nobody kept, made with the CLI's parameters.
 */
static const char dummy_hash[] =
    "$argon2id$v=19$m=65536,t=2,p=1$bkS3PWAxhqMscxyWfnMXIw$"
    "Hj3oLx4onLr/f4chSjqS+7tsgVjIvHhwIrzpgeFRhUE";

/* ------------------------------------------------------------ answers */

static const char *
reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default: return "Internal Server Error";
	}
}

void
kzd_http_json(h2o_req_t *req, int status, json_t *body)
{
	static const char oom[] = "{\"error\":{\"code\":\"internal\","
	    "\"message\":\"out of memory\"}}";
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (text == NULL)
		status = 500;
	req->res.status = status;
	req->res.reason = reason_of(status);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
	    NULL, H2O_STRLIT("application/json; charset=utf-8"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
	    NULL, H2O_STRLIT("no-store"));
	if (text == NULL) {
		h2o_send_inline(req, oom, sizeof(oom) - 1);
		return;
	}
	h2o_send_inline(req, text, strlen(text));	/* copied into the pool */
	free(text);
}

void
kzd_http_error(h2o_req_t *req, int status, const char *code,
    const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kzd_http_json(req, status, json_pack("{s:{s:s,s:s}}", "error", "code",
	    code, "message", msg));
}

void
kzd_http_peer(h2o_req_t *req, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t n;

	n = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
	if (n == 0 || getnameinfo((struct sockaddr *)&ss, n, out, (socklen_t)outlen,
	    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, outlen, "?");
}

/* ------------------------------------------------------------ bodies */

json_t *
kzd_http_body(h2o_req_t *req, bool empty_ok)
{
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	struct kzd_http_fail f;
	json_t *o;

	o = kzd_http_parse_body(i >= 0 ? req->headers.entries[i].value.base : NULL,
	    i >= 0 ? req->headers.entries[i].value.len : 0, req->entity.base,
	    req->entity.base != NULL ? req->entity.len : 0, empty_ok, &f);
	if (o == NULL)
		kzd_http_error(req, f.status, f.code, "%s", f.message);
	return o;
}

/* ------------------------------------------------------------ sessions */

/* 32 random bytes as URL-safe base64 without padding (43 characters). */
static void
random_token(char out[KZD_HTTP_TOKEN_CHARS], uint8_t raw[32])
{
	randombytes_buf(raw, 32);
	sodium_bin2base64(out, KZD_HTTP_TOKEN_CHARS, raw, 32,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void
session_end(struct kzd_http_session *s)
{
	sodium_memzero(s, sizeof(*s));
}

/* A new session for user; writes the cookie's id into token. */
static struct kzd_http_session *
session_new(struct kzd_http *h, const char *user,
    char token[KZD_HTTP_TOKEN_CHARS])
{
	struct kzd_http_session *s = NULL;
	uint8_t raw[32];
	size_t i;

	for (i = 0; i < KZD_HTTP_SESSIONS_MAX; i++) {
		if (!h->sessions[i].used) {
			s = &h->sessions[i];
			break;
		}
		if (s == NULL || h->sessions[i].last_ms < s->last_ms)
			s = &h->sessions[i];
	}
	session_end(s);
	random_token(token, raw);
	crypto_generichash(s->id_hash, sizeof(s->id_hash), raw, sizeof(raw),
	    NULL, 0);
	sodium_memzero(raw, sizeof(raw));
	random_token(s->csrf, raw);
	sodium_memzero(raw, sizeof(raw));
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->last_ms = uv_now(&h->d->loop);
	s->used = true;
	return s;
}

/* The session cookie's id in any of req's Cookie headers, into raw. */
static bool
cookie_id(h2o_req_t *req, uint8_t raw[32])
{
	ssize_t i = -1;

	while ((i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0)
		if (kzd_http_parse_cookie(req->headers.entries[i].value.base,
		    req->headers.entries[i].value.len, raw))
			return true;
	return false;
}

static struct kzd_http_session *
session_find(struct kzd_http *h, h2o_req_t *req)
{
	uint8_t raw[32], hash[crypto_generichash_BYTES];
	size_t i;

	if (!cookie_id(req, raw))
		return NULL;
	crypto_generichash(hash, sizeof(hash), raw, sizeof(raw), NULL, 0);
	sodium_memzero(raw, sizeof(raw));
	for (i = 0; i < KZD_HTTP_SESSIONS_MAX; i++)
		if (h->sessions[i].used &&
		    sodium_memcmp(h->sessions[i].id_hash, hash, sizeof(hash)) == 0)
			return &h->sessions[i];
	return NULL;
}

/* The user's fields, if the user exists and is active. */
struct user_look {
	struct kzd_http_user *u;
	bool active;
	bool has_password;
	char hash[KZ_PWHASH_MAX + 1];
};

static int
on_user(void *ctx, const struct kz_view_user *v)
{
	struct user_look *l = ctx;

	l->active = v->active;
	l->has_password = v->has_password &&
	    strlen(v->password_hash) <= KZ_PWHASH_MAX;
	if (l->has_password)
		snprintf(l->hash, sizeof(l->hash), "%s", v->password_hash);
	if (l->u != NULL) {
		snprintf(l->u->id, sizeof(l->u->id), "%s", v->id);
		snprintf(l->u->display_name, sizeof(l->u->display_name), "%s",
		    v->display_name);
		snprintf(l->u->department, sizeof(l->u->department), "%s",
		    v->department);
		l->u->role = v->role;
	}
	return 0;
}

/* Looks id up; 0 and l filled, or a KZ_ERR_* (KZ_ERR_NOT_FOUND). */
static int
user_lookup(struct kzd_http *h, const char *id, struct user_look *l)
{
	l->active = l->has_password = false;
	l->hash[0] = '\0';
	return kz_views_user(h->d->st, id, on_user, l);
}

int
kzd_http_auth(struct kzd_http *h, h2o_req_t *req, struct kzd_http_user *u)
{
	struct kzd_http_session *s = session_find(h, req);
	uint64_t now = uv_now(&h->d->loop);
	struct user_look l = { .u = u };

	memset(u, 0, sizeof(*u));
	if (s != NULL && now - s->last_ms > h->idle_ms) {
		kz_log(&h->d->log, KZ_LOG_INFO, "http: the session of %s ended "
		    "(idle)", s->user);
		session_end(s);
		kzd_http_sessions_save(h);
		s = NULL;
	}
	if (s != NULL && (user_lookup(h, s->user, &l) < 0 || !l.active)) {
		kz_log(&h->d->log, KZ_LOG_INFO, "http: the session of %s ended "
		    "(the user is unknown or deactivated)", s->user);
		session_end(s);
		kzd_http_sessions_save(h);
		s = NULL;
	}
	sodium_memzero(l.hash, sizeof(l.hash));
	if (s == NULL) {
		kzd_http_error(req, 401, "unauthenticated", "sign in first "
		    "(POST /api/login)");
		return -1;
	}
	s->last_ms = now;
	h->sessions_touched = true;
	u->s = s;
	return 0;
}

bool
kzd_http_csrf_ok(h2o_req_t *req, const struct kzd_http_user *u)
{
	ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-csrf-token"),
	    -1);
	size_t want = strlen(u->s->csrf);

	if (i >= 0 && req->headers.entries[i].value.len == want &&
	    sodium_memcmp(req->headers.entries[i].value.base, u->s->csrf,
	    want) == 0)
		return true;
	kzd_http_error(req, 403, "csrf", "this request needs the session's "
	    "X-CSRF-Token header (from the login answer or GET /api/me)");
	return false;
}

/* ------------------------------------------------------------ login limits */

static struct kzd_http_limit *
limit_find(struct kzd_http *h, const char *key, uint64_t now, bool make)
{
	struct kzd_http_limit *free_one = NULL, *oldest = NULL;
	uint64_t newest, oldest_newest = UINT64_MAX;
	size_t i, j;

	for (i = 0; i < KZD_HTTP_LIMITS_MAX; i++) {
		struct kzd_http_limit *l = &h->limits[i];

		if (l->key[0] != '\0' && strcmp(l->key, key) == 0)
			return l;
		if (!make)
			continue;
		newest = 0;
		for (j = 0; j < KZD_HTTP_LOGIN_FAILS; j++)
			if (l->at[j] > newest)
				newest = l->at[j];
		if (l->key[0] == '\0' || now - newest >= KZD_HTTP_LOGIN_WINDOW_MS) {
			if (free_one == NULL)
				free_one = l;
		} else if (newest < oldest_newest) {
			oldest_newest = newest;
			oldest = l;
		}
	}
	if (!make)
		return NULL;
	/* Full of recent failures: the one quiet longest is forgotten. */
	if (free_one == NULL)
		free_one = oldest;
	memset(free_one, 0, sizeof(*free_one));
	snprintf(free_one->key, sizeof(free_one->key), "%s", key);
	return free_one;
}

/*
 * Whether key has KZD_HTTP_LOGIN_FAILS failures within the window; if so,
 * *retry_s is when the oldest of them leaves it.
 */
static bool
limit_blocked(struct kzd_http *h, const char *key, uint64_t now,
    uint64_t *retry_s)
{
	struct kzd_http_limit *l = limit_find(h, key, now, false);
	uint64_t oldest = UINT64_MAX;
	size_t i, n = 0;

	if (l == NULL)
		return false;
	for (i = 0; i < KZD_HTTP_LOGIN_FAILS; i++)
		if (l->at[i] != 0 && now - l->at[i] < KZD_HTTP_LOGIN_WINDOW_MS) {
			n++;
			if (l->at[i] < oldest)
				oldest = l->at[i];
		}
	if (n < KZD_HTTP_LOGIN_FAILS)
		return false;
	*retry_s = (oldest + KZD_HTTP_LOGIN_WINDOW_MS - now + 999) / 1000;
	return true;
}

/* Counts a failure of key at now (the oldest slot is reused). */
static void
limit_add(struct kzd_http *h, const char *key, uint64_t now, size_t *slot)
{
	struct kzd_http_limit *l = limit_find(h, key, now, true);
	size_t i, at = 0;

	for (i = 1; i < KZD_HTTP_LOGIN_FAILS; i++)
		if (l->at[i] < l->at[at])
			at = i;
	l->at[at] = now;
	*slot = at;
}

/* Forgives the failure limit_add counted, unless its slot was reused. */
static void
limit_forgive(struct kzd_http *h, const char *key, uint64_t at, size_t slot)
{
	struct kzd_http_limit *l = limit_find(h, key, at, false);

	if (l != NULL && l->at[slot] == at)
		l->at[slot] = 0;
}

/* ------------------------------------------------------------ login */

struct login_job;

/* Lives in the request's pool: tells the job when h2o frees the request. */
struct login_ref {
	struct login_job *job;
};

struct login_job {
	uv_work_t work;
	struct kzd_http *h;
	h2o_req_t *req;			/* NULL once h2o freed it */
	struct login_ref *ref;
	char user[KZ_USER_ID_MAX + 1];
	char addr[64];
	char ukey[KZ_USER_ID_MAX + 3], akey[67];
	uint64_t at;
	size_t uslot, aslot;
	bool known;			/* an active user with a password */
	bool ok;			/* the password matched */
	size_t pwlen;
	char hash[KZ_PWHASH_MAX + 1];
	char pw[KZD_HTTP_PASSWORD_MAX + 1];
};

static void
on_req_gone(void *p)
{
	struct login_ref *ref = p;

	if (ref->job != NULL)
		ref->job->req = NULL;
}

/* On the thread pool: touches nothing but the job. */
static void
check_work(uv_work_t *w)
{
	struct login_job *job = KZD_CONTAINER_OF(w, struct login_job, work);

	job->ok = crypto_pwhash_str_verify(job->hash, job->pw, job->pwlen) == 0;
}

static void finish(struct kzd_http *h);

static void
check_done(uv_work_t *w, int status)
{
	struct login_job *job = KZD_CONTAINER_OF(w, struct login_job, work);
	struct kzd_http *h = job->h;
	struct kzd_http_user u;
	struct user_look l = { .u = &u };
	char token[KZD_HTTP_TOKEN_CHARS], cookie[128];
	struct kzd_http_session *s;
	h2o_req_t *req = job->req;
	bool ok = status == 0 && job->known && job->ok;
	h2o_iovec_t v;

	h->checks--;
	sodium_memzero(job->pw, sizeof(job->pw));
	if (req != NULL)
		job->ref->job = NULL;
	memset(&u, 0, sizeof(u));
	/* The user may have been deactivated while the password was checked. */
	if (ok && (user_lookup(h, job->user, &l) < 0 || !l.active))
		ok = false;
	sodium_memzero(l.hash, sizeof(l.hash));
	if (ok) {
		limit_forgive(h, job->ukey, job->at, job->uslot);
		limit_forgive(h, job->akey, job->at, job->aslot);
		h->logins++;
	} else {
		h->login_failures++;
	}
	if (req == NULL) {
		kz_log(&h->d->log, KZ_LOG_INFO, "http: a login of %s from %s was "
		    "abandoned by its client", job->user, job->addr);
	} else if (!ok) {
		kz_log(&h->d->log, KZ_LOG_WARN, "http: login failed for user %s "
		    "from %s", job->user, job->addr);
		kzd_http_error(req, 401, "bad_credentials", "wrong user or "
		    "password");
	} else {
		s = session_new(h, job->user, token);
		kzd_http_sessions_save(h);
		u.s = s;
		snprintf(cookie, sizeof(cookie), COOKIE_NAME "=%s; Path=/; "
		    "HttpOnly; SameSite=Strict", token);
		sodium_memzero(token, sizeof(token));
		/* h2o keeps the value's pointer: the copy lives in the pool. */
		v = h2o_strdup(&req->pool, cookie, strlen(cookie));
		sodium_memzero(cookie, sizeof(cookie));
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE,
		    NULL, v.base, v.len);
		kz_log(&h->d->log, KZ_LOG_INFO, "http: %s signed in from %s",
		    job->user, job->addr);
		kzd_http_json(req, 200, json_pack("{s:o,s:s}", "user",
		    kzd_api_user_json(&u), "csrf", s->csrf));
	}
	sodium_memzero(job->hash, sizeof(job->hash));
	free(job);
	finish(h);
}

void
kzd_http_login(struct kzd_http *h, h2o_req_t *req)
{
	struct kzd *d = h->d;
	uint64_t now = uv_now(&d->loop), retry_s = 0;
	struct user_look l = { .u = NULL };
	struct login_job *job;
	json_t *body, *ju, *jp;
	h2o_iovec_t v;
	char rs[24];
	int rc;

	if ((body = kzd_http_body(req, false)) == NULL)
		return;
	ju = json_object_get(body, "user");
	jp = json_object_get(body, "password");
	if (!json_is_string(ju) || !json_is_string(jp)) {
		json_decref(body);
		kzd_http_error(req, 400, "missing_field", "login needs \"user\" "
		    "and \"password\" strings");
		return;
	}
	if (json_string_length(ju) == 0 ||
	    json_string_length(ju) > KZ_USER_ID_MAX ||
	    strlen(json_string_value(ju)) != json_string_length(ju) ||
	    json_string_length(jp) > KZD_HTTP_PASSWORD_MAX ||
	    strlen(json_string_value(jp)) != json_string_length(jp)) {
		json_decref(body);
		kzd_http_error(req, 400, "invalid_field", "\"user\" must be 1 to %d "
		    "bytes and \"password\" at most %d", KZ_USER_ID_MAX,
		    KZD_HTTP_PASSWORD_MAX);
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		json_decref(body);
		kzd_http_error(req, 500, "internal", "out of memory");
		return;
	}
	job->h = h;
	job->at = now;
	snprintf(job->user, sizeof(job->user), "%s", json_string_value(ju));
	job->pwlen = json_string_length(jp);
	memcpy(job->pw, json_string_value(jp), job->pwlen);
	/* jansson's copy of the password goes too. */
	sodium_memzero((char *)json_string_value(jp), job->pwlen);
	json_decref(body);
	kzd_http_peer(req, job->addr, sizeof(job->addr));
	snprintf(job->ukey, sizeof(job->ukey), "u:%s", job->user);
	snprintf(job->akey, sizeof(job->akey), "a:%s", job->addr);

	if (limit_blocked(h, job->ukey, now, &retry_s) ||
	    limit_blocked(h, job->akey, now, &retry_s)) {
		h->login_limited++;
		kz_log(&d->log, KZ_LOG_WARN, "http: login of %s from %s refused "
		    "unchecked: %d failures within %d s", job->user, job->addr,
		    KZD_HTTP_LOGIN_FAILS, KZD_HTTP_LOGIN_WINDOW_MS / 1000);
		snprintf(rs, sizeof(rs), "%llu", (unsigned long long)retry_s);
		v = h2o_strdup(&req->pool, rs, strlen(rs));
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER,
		    NULL, v.base, v.len);
		kzd_http_error(req, 429, "rate_limited", "too many failed logins; "
		    "try again in %llu s", (unsigned long long)retry_s);
		goto refused;
	}
	if (h->checks >= KZD_HTTP_CHECKS_MAX) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER,
		    NULL, H2O_STRLIT("1"));
		kzd_http_error(req, 503, "busy", "too many logins at once; try "
		    "again in a second");
		goto refused;
	}
	rc = user_lookup(h, job->user, &l);
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND) {
		kzd_http_error(req, 500, "store", "cannot read the users: %s",
		    kz_strerror(rc));
		goto refused;
	}
	job->known = rc == 0 && l.active && l.has_password;
	snprintf(job->hash, sizeof(job->hash), "%s", job->known ? l.hash :
	    dummy_hash);
	sodium_memzero(l.hash, sizeof(l.hash));
	limit_add(h, job->ukey, now, &job->uslot);
	limit_add(h, job->akey, now, &job->aslot);

	job->ref = h2o_mem_alloc_shared(&req->pool, sizeof(*job->ref),
	    on_req_gone);
	job->ref->job = job;
	job->req = req;
	if ((rc = uv_queue_work(&d->loop, &job->work, check_work,
	    check_done)) < 0) {
		job->ref->job = NULL;
		limit_forgive(h, job->ukey, job->at, job->uslot);
		limit_forgive(h, job->akey, job->at, job->aslot);
		kzd_http_error(req, 500, "internal", "cannot check the password: "
		    "%s", uv_strerror(rc));
		goto refused;
	}
	h->checks++;
	return;
refused:
	sodium_memzero(job, sizeof(*job));
	free(job);
}

void
kzd_http_logout(struct kzd_http *h, h2o_req_t *req,
    const struct kzd_http_user *u)
{
	static const char gone[] = COOKIE_NAME "=; Path=/; Max-Age=0; "
	    "HttpOnly; SameSite=Strict";

	kz_log(&h->d->log, KZ_LOG_INFO, "http: %s signed out", u->s->user);
	session_end(u->s);
	/* At once: a restart must not undo a logout. */
	kzd_http_sessions_save(h);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL,
	    gone, sizeof(gone) - 1);
	kzd_http_json(req, 200, json_pack("{s:b}", "ok", 1));
}

/* ------------------------------------------------------------ events */

/* Sends text (copied into the stream) with state; one send at a time. */
static void
stream_send(struct kzd_http_stream *s, const char *text, h2o_send_state_t st)
{
	h2o_iovec_t v;

	snprintf(s->buf, sizeof(s->buf), "%s", text);
	v = h2o_iovec_init(s->buf, strlen(s->buf));
	s->inflight = true;
	s->sent_ms = uv_now(&s->h->d->loop);
	if (st == H2O_SEND_STATE_FINAL)
		s->ended = true;
	h2o_send(s->req, &v, v.len > 0 ? 1 : 0, st);
}

/* Sends what is due, if the stream may send now. */
static void
stream_flush(struct kzd_http_stream *s, uint64_t now)
{
	char text[96];

	if (s->req == NULL || s->inflight || s->ended)
		return;
	if (s->h->draining) {
		stream_send(s, "", H2O_SEND_STATE_FINAL);
		return;
	}
	if (s->due && now - s->sent_ms >= KZD_HTTP_EVENTS_MIN_GAP_MS) {
		s->due = false;
		s->events++;
		s->h->events_sent++;
		snprintf(text, sizeof(text), "event: change\ndata: {\"n\":%llu}\n\n",
		    (unsigned long long)s->events);
		stream_send(s, text, H2O_SEND_STATE_IN_PROGRESS);
	} else if (now - s->sent_ms >= KZD_HTTP_EVENTS_PING_MS) {
		stream_send(s, ": ping\n\n", H2O_SEND_STATE_IN_PROGRESS);
	}
}

static void
on_stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	struct kzd_http_stream *s = (struct kzd_http_stream *)gen;

	s->inflight = false;
	if (!s->ended)
		stream_flush(s, uv_now(&s->h->d->loop));
}

static void
on_stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	struct kzd_http_stream *s = (struct kzd_http_stream *)gen;

	s->req = NULL;		/* the client went: never send again */
}

/* The request's pool is freed: so is the stream. */
static void
on_stream_gone(void *p)
{
	struct kzd_http_stream *s = p;
	struct kzd_http *h = s->h;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		h->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	h->n_streams--;
}

static void
on_tick(uv_timer_t *t)
{
	struct kzd_http *h = KZD_CONTAINER_OF(t, struct kzd_http, tick);
	uint64_t now = uv_now(&h->d->loop), changes;
	struct kzd_http_stream *s;

	kzd_http_sessions_tick(h);
	changes = kz_store_changes(h->d->st);
	for (s = h->streams; s != NULL; s = s->next) {
		if (changes != h->changes)
			s->due = true;
		stream_flush(s, now);
	}
	h->changes = changes;
}

void
kzd_http_events(struct kzd_http *h, h2o_req_t *req)
{
	struct kzd_http_stream *s;

	if (h->n_streams >= KZD_HTTP_STREAMS_MAX) {
		kzd_http_error(req, 503, "busy", "too many event streams");
		return;
	}
	s = h2o_mem_alloc_shared(&req->pool, sizeof(*s), on_stream_gone);
	memset(s, 0, sizeof(*s));
	s->gen.proceed = on_stream_proceed;
	s->gen.stop = on_stream_stop;
	s->h = h;
	s->req = req;
	s->next = h->streams;
	if (s->next != NULL)
		s->next->prev = s;
	h->streams = s;
	h->n_streams++;
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
	    NULL, H2O_STRLIT("text/event-stream; charset=utf-8"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
	    NULL, H2O_STRLIT("no-store"));
	h2o_start_response(req, &s->gen);
	/* The browser reconnects 2 s after the stream ends (a restart). */
	stream_send(s, "retry: 2000\n: kizuna events\n\n",
	    H2O_SEND_STATE_IN_PROGRESS);
}

/* ------------------------------------------------------------ server */

struct api_handler {
	h2o_handler_t super;
	struct kzd_http *h;
};

/* The histogram's upper bounds in ms (the last bucket is +Inf). */
static const double buckets_ms[] = { 0.5, 1, 2.5, 5, 10, 50, 250 };

static int
on_api_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct api_handler *ah = (struct api_handler *)self;
	struct kzd_http *h = ah->h;
	uint64_t t0 = uv_hrtime(), ns;
	size_t i;

	h->requests++;
	kzd_api_handle(h, req);
	ns = uv_hrtime() - t0;
	for (i = 0; i < KZD_NELEM(buckets_ms); i++)
		if ((double)ns / 1e6 <= buckets_ms[i])
			h->lat_buckets[i]++;
	h->lat_count++;
	h->lat_sum_ns += ns;
	return 0;
}

static int
on_metrics_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct api_handler *ah = (struct api_handler *)self;

	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
	    !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW,
		    NULL, H2O_STRLIT("GET"));
		kzd_http_error(req, 405, "method_not_allowed", "use GET here");
		return 0;
	}
	kzd_http_metrics(ah->h, req);
	return 0;
}

/* ------------------------------------------------------------ metrics */

/* Appends to a growing text; on failure the text is dropped (NULL). */
struct text {
	char *p;
	size_t len, cap;
};

static void
put(struct text *t, const char *fmt, ...) KZ_PRINTF(2, 3);

static void
put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *q;
	int n;

	if (t->p == NULL)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			free(t->p);
			t->p = NULL;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		q = realloc(t->p, 2 * t->cap + (size_t)n);
		if (q == NULL) {
			free(t->p);
			t->p = NULL;
			return;
		}
		t->p = q;
		t->cap = 2 * t->cap + (size_t)n;
	}
}

/* A label value with \, " and newlines escaped (Prometheus text format). */
static void
label(char *out, size_t outlen, const char *v)
{
	size_t n = 0;

	for (; v != NULL && *v != '\0' && n + 3 < outlen; v++) {
		if (*v == '\\' || *v == '"') {
			out[n++] = '\\';
			out[n++] = *v;
		} else if (*v == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *v;
		}
	}
	out[n] = '\0';
}

static json_int_t
int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* The per-link families of /metrics, from the status rows' fields. */
static const struct link_metric {
	const char *name, *help, *type;
	const char *dir;	/* the direction label, or NULL */
	const char *key;	/* the row's field */
} link_metrics[] = {
	{ "bytes_total", "Bytes over a link.", "counter", "in", "bytes_in" },
	{ "bytes_total", "", "", "out", "bytes_out" },
	{ "entries_total", "Entries over a link.", "counter", "in",
	    "entries_in" },
	{ "entries_total", "", "", "out", "entries_out" },
	{ "pending_entries", "Entries one side lacks, as the link last learnt.",
	    "gauge", "in", "pending_in" },
	{ "pending_entries", "", "", "out", "pending_out" },
	{ "pending_bytes", "Stored size of the entries one side lacks (in: "
	    "estimated).", "gauge", "in", "pending_bytes_in" },
	{ "pending_bytes", "", "", "out", "pending_bytes_out" },
	{ "lag_seconds", "Seconds since the link was last in sync both ways "
	    "(0: in sync).", "gauge", NULL, "lag_s" },
	{ "last_contact_seconds", "When the peer was last heard on the link "
	    "(unix time).", "gauge", NULL, "last_contact" },
};

void
kzd_http_metrics(struct kzd_http *h, h2o_req_t *req)
{
	static const char *const states[] = { "connecting", "handshake", "open",
	    "closed", NULL };
	struct text t = { malloc(4096), 0, 4096 };
	json_t *st = kzd_status_json(h->d), *peers, *row, *rej;
	char addr[200], node[20], tr[20], why[80];
	const char *k;
	size_t i, j, n;
	json_t *v;

	if (st == NULL || t.p == NULL) {
		json_decref(st);
		free(t.p);
		kzd_http_error(req, 500, "internal", "out of memory");
		return;
	}
	put(&t, "# HELP kizuna_store_bytes Size of the store file.\n"
	    "# TYPE kizuna_store_bytes gauge\nkizuna_store_bytes %lld\n",
	    (long long)int_of(st, "store_bytes"));
	put(&t, "# HELP kizuna_entries Entries held.\n"
	    "# TYPE kizuna_entries gauge\nkizuna_entries %lld\n",
	    (long long)int_of(st, "entries"));
	put(&t, "# HELP kizuna_feeds Feeds held.\n"
	    "# TYPE kizuna_feeds gauge\nkizuna_feeds %lld\n",
	    (long long)int_of(st, "feeds"));
	put(&t, "# HELP kizuna_views_backlog Entries stored, not yet in the "
	    "workspace.\n# TYPE kizuna_views_backlog gauge\n"
	    "kizuna_views_backlog %lld\n", (long long)int_of(st, "views_backlog"));
	peers = json_object_get(st, "peers");
	put(&t, "# HELP kizuna_links Links by state.\n"
	    "# TYPE kizuna_links gauge\n");
	for (i = 0; states[i] != NULL; i++) {
		n = 0;
		json_array_foreach(peers, j, row)
			if (json_is_string(json_object_get(row, "state")) &&
			    strcmp(json_string_value(json_object_get(row, "state")),
			    states[i]) == 0)
				n++;
		put(&t, "kizuna_links{state=\"%s\"} %zu\n", states[i], n);
	}
	/*
	 * One family at a time, every link's sample in it (the text format
	 * wants a family's lines together).  A null field (a figure the link
	 * does not know yet: docs/api.md) has no sample.
	 */
	for (i = 0; i < KZD_NELEM(link_metrics); i++) {
		const struct link_metric *lm = &link_metrics[i];

		if (i == 0 || strcmp(lm->name, link_metrics[i - 1].name) != 0)
			put(&t, "# HELP kizuna_link_%s %s\n# TYPE kizuna_link_%s "
			    "%s\n", lm->name, lm->help, lm->name, lm->type);
		json_array_foreach(peers, j, row) {
			if (!json_is_integer(v = json_object_get(row, lm->key)))
				continue;
			label(addr, sizeof(addr), json_string_value(
			    json_object_get(row, "address")));
			label(tr, sizeof(tr), json_string_value(
			    json_object_get(row, "transport")));
			v = json_object_get(row, "node_key");
			snprintf(node, sizeof(node), "%.16s", json_is_string(v) ?
			    json_string_value(v) : "");
			put(&t, "kizuna_link_%s{transport=\"%s\",address=\"%s\","
			    "node=\"%s\"%s%s%s} %lld\n", lm->name, tr, addr, node,
			    lm->dir != NULL ? ",direction=\"" : "",
			    lm->dir != NULL ? lm->dir : "",
			    lm->dir != NULL ? "\"" : "",
			    (long long)int_of(row, lm->key));
		}
	}
	rej = json_object_get(st, "rejected");
	put(&t, "# HELP kizuna_rejections_total What peers sent that was "
	    "refused, by reason.\n# TYPE kizuna_rejections_total counter\n");
	json_object_foreach(rej, k, v) {
		label(why, sizeof(why), k);
		put(&t, "kizuna_rejections_total{reason=\"%s\"} %lld\n", why,
		    (long long)json_integer_value(v));
	}
	put(&t, "# HELP kizuna_http_requests_total API requests.\n"
	    "# TYPE kizuna_http_requests_total counter\n"
	    "kizuna_http_requests_total %llu\n"
	    "# HELP kizuna_http_logins_total Logins by outcome.\n"
	    "# TYPE kizuna_http_logins_total counter\n"
	    "kizuna_http_logins_total{outcome=\"ok\"} %llu\n"
	    "kizuna_http_logins_total{outcome=\"failed\"} %llu\n"
	    "kizuna_http_logins_total{outcome=\"limited\"} %llu\n"
	    "# HELP kizuna_http_event_streams Open event streams.\n"
	    "# TYPE kizuna_http_event_streams gauge\n"
	    "kizuna_http_event_streams %zu\n",
	    (unsigned long long)h->requests, (unsigned long long)h->logins,
	    (unsigned long long)h->login_failures,
	    (unsigned long long)h->login_limited, h->n_streams);
	put(&t, "# HELP kizuna_http_request_duration_seconds Loop time "
	    "handling an API request (a password check's pool time not "
	    "included).\n# TYPE kizuna_http_request_duration_seconds "
	    "histogram\n");
	for (i = 0; i < KZD_NELEM(buckets_ms); i++)
		put(&t, "kizuna_http_request_duration_seconds_bucket{le=\"%g\"} "
		    "%llu\n", buckets_ms[i] / 1000,
		    (unsigned long long)h->lat_buckets[i]);
	put(&t, "kizuna_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "kizuna_http_request_duration_seconds_sum %.6f\n"
	    "kizuna_http_request_duration_seconds_count %llu\n",
	    (unsigned long long)h->lat_count, (double)h->lat_sum_ns / 1e9,
	    (unsigned long long)h->lat_count);
	json_decref(st);
	if (t.p == NULL) {
		kzd_http_error(req, 500, "internal", "out of memory");
		return;
	}
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
	    NULL, H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
	    NULL, H2O_STRLIT("no-store"));
	h2o_send_inline(req, t.p, t.len);
	free(t.p);
}

/* Every answer's security headers (h2o's headers filter sets them). */
static h2o_iovec_t hdr_csp = { H2O_STRLIT("content-security-policy") };
static h2o_iovec_t hdr_nosniff = { H2O_STRLIT("x-content-type-options") };
static h2o_iovec_t hdr_frame = { H2O_STRLIT("x-frame-options") };
static h2o_iovec_t hdr_referrer = { H2O_STRLIT("referrer-policy") };
static h2o_headers_command_t security_headers[] = {
	{ H2O_HEADERS_CMD_SET, &hdr_csp, { H2O_STRLIT("default-src 'self'; "
	    "script-src 'self'; style-src 'self'; img-src 'self' data:; "
	    "connect-src 'self'; object-src 'none'; base-uri 'none'; "
	    "form-action 'self'; frame-ancestors 'none'") } },
	{ H2O_HEADERS_CMD_SET, &hdr_nosniff, { H2O_STRLIT("nosniff") } },
	{ H2O_HEADERS_CMD_SET, &hdr_frame, { H2O_STRLIT("DENY") } },
	{ H2O_HEADERS_CMD_SET, &hdr_referrer, { H2O_STRLIT("no-referrer") } },
	{ H2O_HEADERS_CMD_NULL, NULL, { NULL, 0 } },
};

static void
on_conn_closed(uv_handle_t *hd)
{
	struct kzd_http_conn *c = KZD_CONTAINER_OF(hd, struct kzd_http_conn, tcp);
	struct kzd_http *h = c->h;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	h->n_conns--;
	free(c);
	finish(h);
}

/* Shuts how (SHUT_RD, SHUT_RDWR) of c's socket; h2o sees EOF or errors. */
static void
conn_shut(struct kzd_http_conn *c, int how)
{
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
		(void)shutdown(fd, how);
}

static void
on_accept(uv_stream_t *server, int status)
{
	struct kzd_http *h = KZD_CONTAINER_OF(server, struct kzd_http, listener);
	struct kzd_http_conn *c;
	h2o_socket_t *sock;

	if (status < 0) {
		kz_log(&h->d->log, KZ_LOG_WARN, "http: %s", uv_strerror(status));
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		kz_log(&h->d->log, KZ_LOG_ERR, "http: out of memory");
		return;
	}
	c->h = h;
	uv_tcp_init(&h->d->loop, &c->tcp);
	c->next = h->conns;
	if (c->next != NULL)
		c->next->prev = c;
	h->conns = c;
	h->n_conns++;
	if ((status = uv_accept(server, (uv_stream_t *)&c->tcp)) < 0 ||
	    h->draining || h->n_conns > KZD_HTTP_CONNS_MAX) {
		if (h->n_conns > KZD_HTTP_CONNS_MAX)
			kz_log(&h->d->log, KZ_LOG_WARN, "http: over %d connections; "
			    "refusing one", KZD_HTTP_CONNS_MAX);
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
		return;
	}
	/* h2o owns the stream now and closes it with on_conn_closed. */
	sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
	h2o_accept(&h->accept_ctx, sock);
}

/*
 * The web root: [http] web_root (relative: inside the home), else the
 * installed share/kizuna/web beside the binary's bin/, else the source
 * tree's src/web (a build tree).  Returns 0 or -1 (logged).
 */
static int
find_web_root(struct kzd_http *h)
{
	struct kzd *d = h->d;
	char path[4096], exe[4096], real[PATH_MAX], *slash;
	struct stat sb;
	ssize_t n;

	if (d->cfg.http_web_root[0] != '\0') {
		if (kz_config_home_path(path, sizeof(path), d->home,
		    d->cfg.http_web_root) < 0 || realpath(path, real) == NULL ||
		    stat(real, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			kz_log(&d->log, KZ_LOG_ERR, "http: [http] web_root %s is not "
			    "a folder", d->cfg.http_web_root);
			return -1;
		}
		goto found;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		if (snprintf(path, sizeof(path), "%.3000s/../share/kizuna/web/"
		    "index.html", exe) < (int)sizeof(path) &&
		    stat(path, &sb) == 0 && (slash = strrchr(path, '/')) != NULL) {
			*slash = '\0';
			if (realpath(path, real) != NULL)
				goto found;
		}
	}
	if (KZ_WEB_ROOT_BUILD[0] != '\0' &&
	    realpath(KZ_WEB_ROOT_BUILD, real) != NULL)
		goto found;
	kz_log(&d->log, KZ_LOG_ERR, "http: no web root found (set [http] "
	    "web_root)");
	return -1;
found:
	if (strlen(real) + 2 > sizeof(h->web_root)) {
		kz_log(&d->log, KZ_LOG_ERR, "http: the web root's path is too long");
		return -1;
	}
	memcpy(h->web_root, real, strlen(real));
	memcpy(h->web_root + strlen(real), "/", 2);
	return 0;
}

/* Binds and listens on [http] listen.  Returns 0 or a libuv error. */
static int
listen_on(struct kzd_http *h, const struct kz_hostport *hp, char *addr,
    size_t addrlen)
{
	struct sockaddr_storage ss;
	int rc, len = sizeof(ss);
	char host[64];

	memset(&ss, 0, sizeof(ss));
	if ((rc = uv_ip4_addr(hp->host, hp->port, (struct sockaddr_in *)&ss)) < 0 &&
	    (rc = uv_ip6_addr(hp->host, hp->port, (struct sockaddr_in6 *)&ss)) < 0)
		return rc;
	if ((rc = uv_tcp_init(&h->d->loop, &h->listener)) < 0)
		return rc;
	h->listener_open = true;
	if ((rc = uv_tcp_bind(&h->listener, (struct sockaddr *)&ss, 0)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&h->listener, 128, on_accept)) < 0 ||
	    (rc = uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss,
	    &len)) < 0)
		return rc;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		uv_ip6_name(s6, host, sizeof(host));
		h->port = ntohs(s6->sin6_port);
		snprintf(addr, addrlen, "[%s]:%d", host, h->port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		uv_ip4_name(s4, host, sizeof(host));
		h->port = ntohs(s4->sin_port);
		snprintf(addr, addrlen, "%s:%d", host, h->port);
	}
	return 0;
}

int
kzd_http_start(struct kzd *d)
{
	struct kzd_http *h;
	struct kz_hostport hp;
	h2o_hostconf_t *host;
	h2o_pathconf_t *path;
	struct api_handler *ah;
	static const char *index_files[] = { "index.html", NULL };
	char addr[KZD_ADDR_MAX];
	int rc;

	if (d->cfg.http_listen[0] == '\0') {
		kz_log(&d->log, KZ_LOG_INFO, "http: [http] listen is empty: no web "
		    "workspace");
		return 0;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->limits = calloc(KZD_HTTP_LIMITS_MAX, sizeof(*h->limits))) == NULL) {
		free(h);
		kz_log(&d->log, KZ_LOG_ERR, "http: out of memory");
		return -1;
	}
	d->http = h;
	h->d = d;
	h->port = -1;
	h->idle_ms = (uint64_t)d->cfg.http_session_idle_s * 1000;
	kzd_http_sessions_load(h);
	if (kz_hostport_parse(&hp, d->cfg.http_listen, true) < 0) {
		/* The config's check passed it: only a bug gets here. */
		kz_log(&d->log, KZ_LOG_ERR, "http: bad [http] listen %s",
		    d->cfg.http_listen);
		return -1;
	}
	if (find_web_root(h) < 0)
		return -1;
	/*
	 * A web UI that cannot bind (the port is taken) must not stop the
	 * node: links and the CLI matter more in a disaster.  It is logged as
	 * an error and shown in status; the node runs on without it.
	 */
	if ((rc = listen_on(h, &hp, addr, sizeof(addr))) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "http: cannot listen on %s ([http] "
		    "listen): %s; running without the web workspace",
		    d->cfg.http_listen, uv_strerror(rc));
		if (h->listener_open)
			uv_close((uv_handle_t *)&h->listener, NULL);
		h->listener_open = false;
		h->port = -1;
		return 0;
	}

	h2o_config_init(&h->config);
	h->config_open = true;
	h->config.server_name = h2o_iovec_init(H2O_STRLIT("kizuna"));
	h->config.max_request_entity_size = KZD_HTTP_ENTITY_MAX;
	h->config.http1.upgrade_to_http2 = 0;
	host = h2o_config_register_host(&h->config,
	    h2o_iovec_init(H2O_STRLIT("default")), 65535);
	path = h2o_config_register_path(host, "/api", 0);
	ah = (struct api_handler *)h2o_create_handler(path, sizeof(*ah));
	ah->super.on_req = on_api_req;
	ah->h = h;
	h2o_headers_register(path, security_headers);
	path = h2o_config_register_path(host, "/metrics", 0);
	ah = (struct api_handler *)h2o_create_handler(path, sizeof(*ah));
	ah->super.on_req = on_metrics_req;
	ah->h = h;
	h2o_headers_register(path, security_headers);
	path = h2o_config_register_path(host, "/", 0);
	h2o_file_register(path, h->web_root, index_files, NULL, 0);
	h2o_headers_register(path, security_headers);

	h2o_context_init(&h->ctx, &d->loop, &h->config);
	h->ctx_open = true;
	h->accept_ctx.ctx = &h->ctx;
	h->accept_ctx.hosts = h->config.hosts;
	uv_timer_init(&d->loop, &h->tick);
	h->tick_open = true;
	h->changes = kz_store_changes(d->st);
	uv_timer_start(&h->tick, on_tick, KZD_HTTP_EVENTS_TICK_MS,
	    KZD_HTTP_EVENTS_TICK_MS);
	kz_log(&d->log, KZ_LOG_INFO, "http: serving the web workspace at "
	    "http://%s/ (files from %s)", addr, h->web_root);
	return 0;
}

/*
 * Draining and nothing left: the daemon may finish.  h2o's context is
 * disposed only in kzd_http_close_handles(), once every other handle is
 * closing: with libuv, h2o_context_dispose() runs the loop itself
 * (UV_RUN_NOWAIT) to free its timers, and nothing else must be left to run
 * inside that.
 */
static void
finish(struct kzd_http *h)
{
	if (!h->draining || h->drained || h->n_conns > 0 || h->checks > 0)
		return;
	h->drained = true;
	kzd_maybe_done(h->d);
}

void
kzd_http_check_end(struct kzd_http *h)
{
	h->checks--;
	finish(h);
}

void
kzd_http_stop(struct kzd *d)
{
	struct kzd_http *h = d->http;
	struct kzd_http_stream *s;
	struct kzd_http_conn *c;

	if (h == NULL || h->draining)
		return;
	h->draining = true;
	/* The sessions' last uses, for the next start. */
	if (h->sessions_touched)
		kzd_http_sessions_save(h);
	if (h->listener_open && !uv_is_closing((uv_handle_t *)&h->listener))
		uv_close((uv_handle_t *)&h->listener, NULL);
	h->listener_open = false;
	if (h->ctx_open)
		h2o_context_request_shutdown(&h->ctx);
	for (c = h->conns; c != NULL; c = c->next)
		conn_shut(c, SHUT_RD);
	/* Each event stream ends now, or when its send in flight is done. */
	for (s = h->streams; s != NULL; s = s->next)
		stream_flush(s, uv_now(&d->loop));
	finish(h);
}

void
kzd_http_abort(struct kzd *d)
{
	struct kzd_http_conn *c;

	if (d->http == NULL)
		return;
	if (d->http->n_conns > 0)
		kz_log(&d->log, KZ_LOG_WARN, "http: %zu connection(s) did not "
		    "close in time; cutting them off", d->http->n_conns);
	for (c = d->http->conns; c != NULL; c = c->next)
		conn_shut(c, SHUT_RDWR);
}

bool
kzd_http_busy(const struct kzd *d)
{
	return d->http != NULL && d->http->draining && !d->http->drained;
}

void
kzd_http_close_handles(struct kzd *d)
{
	struct kzd_http *h = d->http;

	if (h == NULL)
		return;
	if (h->listener_open && !uv_is_closing((uv_handle_t *)&h->listener))
		uv_close((uv_handle_t *)&h->listener, NULL);
	h->listener_open = false;
	if (h->tick_open && !uv_is_closing((uv_handle_t *)&h->tick))
		uv_close((uv_handle_t *)&h->tick, NULL);
	h->tick_open = false;
	/* Drained, or a failed start (no connection was ever accepted). */
	if (h->ctx_open && h->n_conns == 0 && h->checks == 0) {
		h->ctx_open = false;	/* first: dispose runs the loop */
		/*
		 * h2o_context_request_shutdown() armed HTTP/2's GOAWAY timer
		 * (for connections that spoke h2c); with none left it is only
		 * in the way of disposing, which asserts that no timer waits.
		 */
		if (h2o_timeout_is_linked(&h->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
		h2o_context_dispose(&h->ctx);
	}
}

void
kzd_http_free(struct kzd *d)
{
	struct kzd_http *h = d->http;

	if (h == NULL)
		return;
	if (h->config_open)
		h2o_config_dispose(&h->config);
	sodium_memzero(h->sessions, sizeof(h->sessions));
	json_decref(h->channels_cache);
	free(h->limits);
	free(h);
	d->http = NULL;
}

void
kzd_http_status(struct kzd *d, json_t *o)
{
	struct kzd_http *h = d->http;
	size_t i, n = 0;

	if (o == NULL)
		return;
	if (h == NULL || h->port < 0) {
		json_object_set_new(o, "http", json_null());
		return;
	}
	for (i = 0; i < KZD_HTTP_SESSIONS_MAX; i++)
		n += h->sessions[i].used;
	json_object_set_new(o, "http", json_pack("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,"
	    "s:I,s:I}",
	    "port", h->port,
	    "connections", (json_int_t)h->n_conns,
	    "sessions", (json_int_t)n,
	    "event_streams", (json_int_t)h->n_streams,
	    "events_sent", (json_int_t)h->events_sent,
	    "api_requests", (json_int_t)h->requests,
	    "logins", (json_int_t)h->logins,
	    "login_failures", (json_int_t)h->login_failures,
	    "logins_limited", (json_int_t)h->login_limited));
}
