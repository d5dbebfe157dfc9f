/*
 * kizunad's wiring: the one struct that owns the node (key, store, config)
 * and every libuv handle of the daemon's single loop.
 *
 * Lifetime of the loop (main.c):
 *
 *   starting --kzd_start()--> running --SIGTERM/SIGINT: kzd_stop()--> stopping
 *   stopping --last control client closed: kzd_maybe_done()--> done
 *
 * In "stopping" the control listener is closed and its socket file removed,
 * clients stop being read, their queued answers are flushed (or cut off
 * after KZD_STOP_GRACE_MS), and once no client is left every remaining
 * handle is closed, so uv_run() returns and uv_loop_close() succeeds.  Each
 * request is handled whole inside one read callback, so the request in
 * flight when a signal arrives always completes first.
 *
 * Every SQLite call happens on the loop's thread.
 */
#ifndef KZD_KIZUNAD_H
#define KZD_KIZUNAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/un.h>

#include <uv.h>

#include "kizuna/config.h"
#include "kizuna/keys.h"
#include "kizuna/log.h"
#include "kizuna/store.h"

#ifndef KZ_VERSION
#define KZ_VERSION "0"
#endif

/* How long queued answers may take to drain once stopping. */
#define KZD_STOP_GRACE_MS 2000
/* Control connections served at once; more are answered "busy". */
#define KZD_CONTROL_CLIENTS_MAX 64
/* Requests one client is served per loop iteration before it yields. */
#define KZD_CONTROL_BATCH 32
/* Bytes queued to one client before its requests stop being read. */
#define KZD_CONTROL_QUEUE_MAX (1024 * 1024)

#define KZD_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define KZD_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct kzd;

/* One control connection; owned by the control server, freed on close. */
struct kzd_client {
	uv_pipe_t pipe;			/* first: closed before the struct is freed */
	uv_shutdown_t shutdown;
	struct kzd *d;
	struct kzd_client *next, *prev;
	unsigned long id;		/* for log lines */
	char *buf;			/* bytes read and not yet handled */
	size_t len, cap, scanned;	/* scanned: no newline in buf[0..scanned) */
	bool paused;			/* reading stopped: too much queued to it */
	bool yielded;			/* reading stopped: served a batch already */
	bool eof;			/* the client sent all it will send */
	unsigned batch;			/* requests served in the iteration... */
	uint64_t batch_ms;		/* ...whose uv_now() this is */
	bool finishing;			/* no more requests: flushing, then close */
	bool closing;			/* uv_close called */
};

struct kzd_control {
	uv_pipe_t listener;
	bool listener_open;
	uv_idle_t idle;			/* resumes clients that yielded */
	bool idle_open;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct kzd_client *clients;
	size_t n_clients;
	unsigned long next_id;
	uint64_t requests, bad_requests;
};

struct kzd {
	uv_loop_t loop;
	bool loop_open;
	struct kz_logger log;
	char home[4096];
	char conf_path[4096];
	struct kz_config cfg;
	struct kz_keypair kp;
	bool have_key;
	struct kz_store *st;
	int lock_fd;
	uint64_t started_ns;		/* uv_hrtime() at start */

	uv_signal_t sigs[3];		/* SIGTERM, SIGINT, SIGHUP */
	bool sig_open[3];
	uv_timer_t watchdog;
	bool watchdog_open;
	uv_timer_t grace;		/* bounds the drain when stopping */
	bool grace_open;

	bool stopping, done;
	struct kzd_control ctl;
};

/* ------------------------------------------------------------ main.c */

/* Begins a graceful stop (idempotent); reason is logged. */
void kzd_stop(struct kzd *d, const char *reason);

/* When stopping and no client is left, closes the remaining handles. */
void kzd_maybe_done(struct kzd *d);

/* The wall clock in milliseconds since the epoch. */
uint64_t kzd_now_ms(void);

/* ------------------------------------------------------------ control.c */

/*
 * Creates the control socket at path (a stale one from a crashed kizunad is
 * replaced; a live one means another kizunad: refused) with mode 0600 and
 * listens.  Returns 0 or -1 after logging why.
 */
int kzd_control_start(struct kzd *d, const char *path);

/* Stops accepting, removes the socket file, finishes every client. */
void kzd_control_stop(struct kzd *d);

/* Closes every client at once (the grace period ran out). */
void kzd_control_abort(struct kzd *d);

/* ------------------------------------------------------------ request.c */

/*
 * Handles one request line (borrowed, not NUL-terminated) and returns its
 * response as a malloc'd JSON text without a newline (NULL only when out of
 * memory).  Sets *bad when the request was malformed, for counting.
 */
char *kzd_request(struct kzd *d, struct kzd_client *from, const char *line,
    size_t len, bool *bad);

/* The response to a line over KZ_CONTROL_LINE_MAX (malloc'd). */
char *kzd_error_text(const char *code, const char *message);

/* ------------------------------------------------------------ notify.c */

/* READY=1 and the state line; starts the watchdog timer if asked for. */
void kzd_notify_ready(struct kzd *d);

/* A fresh STATUS= line (after a change worth showing). */
void kzd_notify_status(struct kzd *d);

/* STOPPING=1 and stops the watchdog timer. */
void kzd_notify_stopping(struct kzd *d);

#endif
