/*
 * The web workspace's HTTP server inside kizunad (http.c) and its JSON API
 * (api.c): what the two files share.  Only they include h2o.
 *
 * h2o (Debian's libh2o, built on libuv) parses HTTP and runs on the
 * daemon's own loop, so every handler runs on the loop's thread and may use
 * the store; only password checks (Argon2id, ~0.1-0.5 s and 64 MiB each)
 * run on libuv's thread pool.
 *
 * Lifetime (driven from main.c):
 *
 *   kzd_http_start() --> serving --kzd_http_stop()--> draining
 *   draining: the listener is closed, h2o is asked to shut down (no more
 *     keep-alive) and each connection's read side is shut, so an idle one
 *     reads EOF and h2o closes it; one with a request in flight (a password
 *     check) answers it first
 *   draining --last connection closed, no check running: finish()-->
 *     drained, then kzd_maybe_done(), whose kzd_http_close_handles()
 *     disposes h2o's context (its timers) after every other handle
 *   draining --grace period over: kzd_http_abort()--> both directions shut
 */
#ifndef KZD_HTTP_H
#define KZD_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>
#include <jansson.h>
#include <sodium.h>

#include "daemon/http_parse.h"
#include "daemon/kizunad.h"

/*
 * Bytes of a body h2o buffers at all: over this h2o itself answers 413
 * (as plain text) before any handler runs.  Between the two limits the
 * API answers 413 in JSON.
 */
#define KZD_HTTP_ENTITY_MAX (1024 * 1024)
/* Sessions held at once; the least recently used one goes first. */
#define KZD_HTTP_SESSIONS_MAX 1024
/* The sessions file is written at most this often when only sessions'
 * last use moved (at once when one begins or ends). */
#define KZD_HTTP_SESSIONS_SAVE_MS 30000
/* Failed logins counted per user and per address, and over what window. */
#define KZD_HTTP_LOGIN_FAILS 5
#define KZD_HTTP_LOGIN_WINDOW_MS 60000
/* Keys (users and addresses) whose recent failures are remembered. */
#define KZD_HTTP_LIMITS_MAX 4096
/* Password checks running or queued at once; more are answered 503. */
#define KZD_HTTP_CHECKS_MAX 8
/* Longest password accepted (bytes). */
#define KZD_HTTP_PASSWORD_MAX 1024
/* Connections at once; more are closed as they come. */
#define KZD_HTTP_CONNS_MAX 1024

/* 32 random bytes in URL-safe base64 without padding, NUL included. */
#define KZD_HTTP_TOKEN_CHARS 44

/* One signed-in browser.  Only a hash of the cookie's id is kept. */
struct kzd_http_session {
	bool used;
	uint8_t id_hash[crypto_generichash_BYTES];
	char user[KZ_USER_ID_MAX + 1];
	char csrf[KZD_HTTP_TOKEN_CHARS];
	uint64_t last_ms;		/* uv_now() of its last request */
};

/* Recent failed logins of one key ("u:USER" or "a:ADDRESS"). */
struct kzd_http_limit {
	char key[KZ_USER_ID_MAX + 64];
	uint64_t at[KZD_HTTP_LOGIN_FAILS];	/* uv_now() of each; 0: free */
};

/* How often the store is looked at for changes to stream, and the most
 * one stream is sent in a second; a comment keeps idle streams alive. */
#define KZD_HTTP_EVENTS_TICK_MS 100
#define KZD_HTTP_EVENTS_MIN_GAP_MS 250
#define KZD_HTTP_EVENTS_PING_MS 15000
/* Event streams at once; more are answered 503. */
#define KZD_HTTP_STREAMS_MAX 512

/*
 * One GET /api/events stream (Server-Sent Events).  It lives in its
 * request's pool: h2o frees it with the request (on_stream_gone unlinks
 * it).  One h2o_send at a time: the next waits for proceed.
 */
struct kzd_http_stream {
	h2o_generator_t gen;		/* first: h2o calls back with it */
	struct kzd_http *h;
	h2o_req_t *req;			/* NULL once h2o stopped it */
	struct kzd_http_stream *next, *prev;
	bool inflight;			/* an h2o_send awaits proceed */
	bool due;			/* a change waits to be sent */
	bool ended;			/* the final send went */
	uint64_t sent_ms;		/* uv_now() of the last send */
	uint64_t events;
	char buf[160];			/* what is in flight */
};

/* One TCP connection; h2o owns its socket, we own the struct. */
struct kzd_http_conn {
	uv_tcp_t tcp;			/* first: h2o closes it, then we free */
	struct kzd_http *h;
	struct kzd_http_conn *next, *prev;
};

struct kzd_http {
	struct kzd *d;
	h2o_globalconf_t config;
	bool config_open;
	h2o_context_t ctx;
	bool ctx_open;
	h2o_accept_ctx_t accept_ctx;
	uv_tcp_t listener;
	bool listener_open;
	int port;			/* the bound port; -1: not serving */
	char web_root[4096];
	bool draining, drained;
	struct kzd_http_conn *conns;
	size_t n_conns;
	size_t checks;			/* password checks not yet answered */
	uint64_t idle_ms;		/* a session unused this long ends */
	struct kzd_http_session sessions[KZD_HTTP_SESSIONS_MAX];
	bool sessions_touched;		/* a last use moved since the save */
	uint64_t sessions_saved_ms;	/* uv_now() of the last save */
	struct kzd_http_limit *limits;	/* KZD_HTTP_LIMITS_MAX of them */
	uint64_t requests, logins, login_failures, login_limited;
	uv_timer_t tick;		/* looks for changes to stream */
	bool tick_open;
	uint64_t changes;		/* kz_store_changes() when last looked */
	struct kzd_http_stream *streams;
	size_t n_streams;
	uint64_t events_sent;
	/* Loop time spent handling API requests (a histogram for /metrics):
	 * counts at or under each of KZD_HTTP_BUCKETS_MS, then the sum. */
	uint64_t lat_buckets[8];
	uint64_t lat_count;
	uint64_t lat_sum_ns;
	json_t *channels_cache;		/* GET /api/channels' answer... */
	uint64_t channels_changes;	/* ...at this kz_store_changes() */
};

/* The signed-in user of a request, as the API handlers see it. */
struct kzd_http_user {
	struct kzd_http_session *s;
	char id[KZ_USER_ID_MAX + 1];
	char display_name[KZ_NAME_MAX + 1];
	char department[KZ_NAME_MAX + 1];
	enum kz_role role;
};

/* ------------------------------------------------------------ http.c */

/*
 * Answers req with status and body (taken over; NULL answers 500), as
 * application/json, never cached.
 */
void kzd_http_json(h2o_req_t *req, int status, json_t *body);

/*
 * Answers req with {"error":{"code":CODE,"message":...}} and status.  The
 * codes are stable (docs/api.md lists them); messages are for people.
 */
void kzd_http_error(h2o_req_t *req, int status, const char *code,
    const char *fmt, ...) KZ_PRINTF(4, 5);

/*
 * The session of req's cookie, when one is live (its idle clock is reset
 * and its user still active): fills u and returns 0.  Otherwise answers
 * 401 unauthenticated and returns -1.
 */
int kzd_http_auth(struct kzd_http *h, h2o_req_t *req, struct kzd_http_user *u);

/*
 * Whether req carries the session's CSRF token in X-CSRF-Token; if not,
 * answers 403 csrf and returns false.
 */
bool kzd_http_csrf_ok(h2o_req_t *req, const struct kzd_http_user *u);

/*
 * Reads req's body as a JSON object: Content-Type application/json, at
 * most KZD_HTTP_BODY_MAX bytes, valid UTF-8, well-formed.  An empty body
 * reads as {} when empty_ok.  Returns the object (the caller decrefs), or
 * NULL after answering 415, 413 or 400.
 */
json_t *kzd_http_body(h2o_req_t *req, bool empty_ok);

/*
 * The sessions file (http_sessions.c): restores the sessions of HOME/
 * http_sessions not idle too long (at start, into empty slots); writes
 * every live session's id hash, user, CSRF token and last use atomically;
 * writes it when last uses moved and KZD_HTTP_SESSIONS_SAVE_MS passed.
 * Failures are logged: the sessions then live in memory only.
 */
void kzd_http_sessions_load(struct kzd_http *h);
void kzd_http_sessions_save(struct kzd_http *h);
void kzd_http_sessions_tick(struct kzd_http *h);

/* POST /api/login and POST /api/logout (they hold the sessions). */
void kzd_http_login(struct kzd_http *h, h2o_req_t *req);
void kzd_http_logout(struct kzd_http *h, h2o_req_t *req,
    const struct kzd_http_user *u);

/*
 * Work on the thread pool that a request waits for (a password hashed)
 * counts in h->checks, so that stopping waits for it; this ends one.
 */
void kzd_http_check_end(struct kzd_http *h);

/* The address of req's peer, without the port ("?" if unknown). */
void kzd_http_peer(h2o_req_t *req, char *out, size_t outlen);

/*
 * GET /api/events: a Server-Sent Events stream for a signed-in user.  It
 * sends "event: change" (data: {"n":COUNT}) within KZD_HTTP_EVENTS_TICK_MS
 * of anything stored on this node, whoever wrote it (this node, a link, a
 * bundle), at most one every KZD_HTTP_EVENTS_MIN_GAP_MS; the page then
 * fetches what it shows.  Stopping ends every stream.
 */
void kzd_http_events(struct kzd_http *h, h2o_req_t *req);

/*
 * GET /metrics: Prometheus text (no session, so a scraper may read it;
 * counts and link addresses only, no names or text).
 */
void kzd_http_metrics(struct kzd_http *h, h2o_req_t *req);

/* ------------------------------------------------------------ api.c */

/* Routes one request under /api.  Always answers. */
void kzd_api_handle(struct kzd_http *h, h2o_req_t *req);

/* The JSON of a signed-in user (id, display_name, department, role). */
json_t *kzd_api_user_json(const struct kzd_http_user *u);

#endif
