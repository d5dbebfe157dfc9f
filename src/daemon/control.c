/*
 * The control server: a unix stream socket, mode 0600, speaking
 * newline-delimited JSON (the protocol is in kizuna/control.h).
 *
 * Invariants:
 * - A client struct is freed only in on_client_closed(), after uv_close().
 * - Callbacks only move bytes: on_read() appends to the client's buffer,
 *   handle_lines() hands each complete line to kzd_request() and queues the
 *   answer with send_line().
 * - A client with more than KZD_CONTROL_QUEUE_MAX bytes of answers queued is
 *   not read until they drain (on_write() resumes it), so a client that
 *   never reads cannot make the daemon buffer without limit; nor can one
 *   that never sends a newline (KZ_CONTROL_LINE_MAX).
 * - A client is served at most KZD_CONTROL_BATCH requests per loop
 *   iteration; then it yields (on_idle() resumes it in the next one), so a
 *   client pipelining thousands of appends delays signals, other clients
 *   and, later, peer links by one batch, not by everything it sent.
 *
 * A client is held (not read) while paused or yielded; client_resume()
 * reads on once neither holds.
 *
 * A client's states:
 *
 *   reading --EOF, an oversize line, "busy", kzd_control_stop():
 *             client_finish()--> finishing (no more reads; answers flush)
 *   finishing --uv_shutdown done: on_shutdown() -> client_close()--> closing
 *   reading|finishing --write or read error, grace period over:
 *             client_close()--> closing
 *   closing --on_client_closed()--> freed
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/kizunad.h"
#include "kizuna/control.h"

/* The read buffer grows from this to a line plus its newline. */
#define READ_CHUNK (16 * 1024)
#define READ_BUF_MAX (KZ_CONTROL_LINE_MAX + 1)

/* One queued answer; it lives until its write callback runs. */
struct out_req {
	uv_write_t req;
	struct kzd_client *c;
	size_t len;
	char buf[];
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void handle_lines(struct kzd_client *c);

static void
on_client_closed(uv_handle_t *h)
{
	struct kzd_client *c = KZD_CONTAINER_OF(h, struct kzd_client, pipe);
	struct kzd *d = c->d;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		d->ctl.clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	d->ctl.n_clients--;
	kz_log(&d->log, KZ_LOG_DEBUG, "control client %lu: closed", c->id);
	free(c->buf);
	free(c);
	kzd_maybe_done(d);
}

static void
client_close(struct kzd_client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	client_close(KZD_CONTAINER_OF(req, struct kzd_client, shutdown));
}

/* Reads nothing more; closes once the queued answers are written. */
static void
client_finish(struct kzd_client *c)
{
	if (c->finishing || c->closing)
		return;
	c->finishing = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, on_shutdown) < 0)
		client_close(c);
}

static bool
client_held(const struct kzd_client *c)
{
	return c->paused || c->yielded || c->finishing || c->closing;
}

/* A hold was lifted: handles the lines read meanwhile, then reads on. */
static void
client_resume(struct kzd_client *c)
{
	if (client_held(c))
		return;
	handle_lines(c);
	if (client_held(c) || c->eof)
		return;
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
		client_close(c);
}

static void
on_idle(uv_idle_t *h)
{
	struct kzd *d = KZD_CONTAINER_OF(h, struct kzd, ctl.idle);
	struct kzd_client *c;

	uv_idle_stop(h);
	for (c = d->ctl.clients; c != NULL; c = c->next) {
		if (!c->yielded)
			continue;
		c->yielded = false;
		c->batch = 0;
		c->batch_ms = uv_now(&d->loop);
		client_resume(c);	/* may yield again, restarting the idle */
	}
}

/* Served a batch this iteration: stop reading until the next one. */
static void
client_yield(struct kzd_client *c)
{
	uv_read_stop((uv_stream_t *)&c->pipe);
	c->yielded = true;
	uv_idle_start(&c->d->ctl.idle, on_idle);
}

static void
on_write(uv_write_t *req, int status)
{
	struct out_req *o = KZD_CONTAINER_OF(req, struct out_req, req);
	struct kzd_client *c = o->c;

	free(o);
	if (status < 0) {
		if (status != UV_ECANCELED)
			kz_log(&c->d->log, KZ_LOG_DEBUG, "control client %lu: %s",
			    c->id, uv_strerror(status));
		client_close(c);
		return;
	}
	if (c->paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) == 0) {
		c->paused = false;
		client_resume(c);
	}
}

/* Queues text and a newline to c.  Returns 0, or -1 and closes c. */
static int
send_line(struct kzd_client *c, const char *text)
{
	size_t n = strlen(text);
	struct out_req *o;
	uv_buf_t b;

	if (c->closing)
		return -1;
	o = malloc(sizeof(*o) + n + 1);
	if (o == NULL) {
		client_close(c);
		return -1;
	}
	memcpy(o->buf, text, n);
	o->buf[n] = '\n';
	o->len = n + 1;
	o->c = c;
	b = uv_buf_init(o->buf, (unsigned int)o->len);
	if (uv_write(&o->req, (uv_stream_t *)&c->pipe, &b, 1, on_write) < 0) {
		free(o);
		client_close(c);
		return -1;
	}
	return 0;
}

/* Answers one failure that ends the connection (an oversize line, busy). */
static void
send_final_error(struct kzd_client *c, const char *code, const char *message)
{
	char *text = kzd_error_text(code, message);

	if (text == NULL || send_line(c, text) == 0)
		client_finish(c);
	free(text);
}

/* Handles one request line (without its newline). */
static void
handle_one(struct kzd_client *c, const char *line, size_t len)
{
	struct kzd *d = c->d;
	char *resp;
	size_t i;
	bool bad;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' ||
	    line[i] == '\r'); i++)
		;
	if (i == len)
		return;		/* blank lines are not requests */
	d->ctl.requests++;
	if (c->batch_ms != uv_now(&d->loop)) {
		c->batch_ms = uv_now(&d->loop);
		c->batch = 0;
	}
	c->batch++;
	resp = kzd_request(d, c, line, len, &bad);
	if (bad)
		d->ctl.bad_requests++;
	if (resp == NULL) {
		kz_log(&d->log, KZ_LOG_ERR, "control client %lu: out of memory",
		    c->id);
		client_close(c);
		return;
	}
	(void)send_line(c, resp);
	free(resp);
	if (!c->closing && uv_stream_get_write_queue_size(
	    (uv_stream_t *)&c->pipe) > KZD_CONTROL_QUEUE_MAX) {
		uv_read_stop((uv_stream_t *)&c->pipe);
		c->paused = true;
	}
}

static void
oversize(struct kzd_client *c)
{
	char msg[80];

	c->d->ctl.bad_requests++;
	kz_log(&c->d->log, KZ_LOG_WARN, "control client %lu: request line over "
	    "%d bytes; closing the connection", c->id, KZ_CONTROL_LINE_MAX);
	snprintf(msg, sizeof(msg), "request line over %d bytes; closing the "
	    "connection", KZ_CONTROL_LINE_MAX);
	send_final_error(c, KZ_CONTROL_E_BAD_REQUEST, msg);
}

/*
 * Handles the complete lines in c's buffer, up to a batch per iteration and
 * unless held, and keeps the rest.  After EOF the rest is a last request
 * without its newline, and the client is finished.  (A trailing CR is
 * whitespace to the JSON parser.)
 */
static void
handle_lines(struct kzd_client *c)
{
	size_t start = 0;
	char *nl;

	for (;;) {
		if (client_held(c) || c->d->stopping)
			break;
		if (c->batch >= KZD_CONTROL_BATCH &&
		    c->batch_ms == uv_now(&c->d->loop)) {
			client_yield(c);
			break;
		}
		nl = c->scanned < c->len ?
		    memchr(c->buf + c->scanned, '\n', c->len - c->scanned) : NULL;
		if (nl == NULL) {
			c->scanned = c->len;
			if (c->len - start > KZ_CONTROL_LINE_MAX) {
				oversize(c);
			} else if (c->eof) {
				if (c->len > start)
					handle_one(c, c->buf + start, c->len - start);
				start = c->len;
				client_finish(c);
			}
			break;
		}
		if ((size_t)(nl - c->buf) - start > KZ_CONTROL_LINE_MAX) {
			oversize(c);
			break;
		}
		handle_one(c, c->buf + start, (size_t)(nl - c->buf) - start);
		start = (size_t)(nl - c->buf) + 1;
		c->scanned = start;
	}
	if (start > 0 && !c->closing) {
		memmove(c->buf, c->buf + start, c->len - start);
		c->len -= start;
		c->scanned = c->scanned > start ? c->scanned - start : 0;
	}
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct kzd_client *c = KZD_CONTAINER_OF(h, struct kzd_client, pipe);
	size_t cap;
	char *p;

	if (c->cap - c->len < READ_CHUNK && c->cap < READ_BUF_MAX) {
		cap = c->cap == 0 ? READ_CHUNK : 2 * c->cap;
		if (cap > READ_BUF_MAX)
			cap = READ_BUF_MAX;
		p = realloc(c->buf, cap);
		if (p != NULL) {
			c->buf = p;
			c->cap = cap;
		}
	}
	/* An empty buffer makes libuv report UV_ENOBUFS to on_read. */
	*buf = uv_buf_init(c->buf + c->len, (unsigned int)(c->cap - c->len));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct kzd_client *c = KZD_CONTAINER_OF(s, struct kzd_client, pipe);

	if (nread > 0) {
		c->len += (size_t)nread;
		handle_lines(c);
	} else if (nread == UV_EOF) {
		c->eof = true;
		handle_lines(c);
	} else if (nread < 0) {
		kz_log(&c->d->log, KZ_LOG_DEBUG, "control client %lu: %s", c->id,
		    uv_strerror((int)nread));
		client_close(c);
	}
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct kzd *d = KZD_CONTAINER_OF(server, struct kzd, ctl.listener);
	struct kzd_client *c;

	if (status < 0) {
		kz_log(&d->log, KZ_LOG_WARN, "control socket: %s",
		    uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		kz_log(&d->log, KZ_LOG_ERR, "control socket: out of memory");
		return;
	}
	c->d = d;
	c->id = ++d->ctl.next_id;
	uv_pipe_init(&d->loop, &c->pipe, 0);
	c->next = d->ctl.clients;
	if (c->next != NULL)
		c->next->prev = c;
	d->ctl.clients = c;
	d->ctl.n_clients++;
	if ((status = uv_accept(server, (uv_stream_t *)&c->pipe)) < 0) {
		kz_log(&d->log, KZ_LOG_WARN, "control socket: %s",
		    uv_strerror(status));
		client_close(c);
		return;
	}
	if (d->ctl.n_clients > KZD_CONTROL_CLIENTS_MAX) {
		kz_log(&d->log, KZ_LOG_WARN, "control socket: over %d clients; "
		    "refusing one", KZD_CONTROL_CLIENTS_MAX);
		send_final_error(c, KZ_CONTROL_E_BUSY, "too many control "
		    "connections; try again");
		return;
	}
	kz_log(&d->log, KZ_LOG_DEBUG, "control client %lu: connected", c->id);
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
		client_close(c);
}

/*
 * Whether something accepts connections at path: 0 if so, else the errno
 * of the attempt (ECONNREFUSED: a socket file nobody listens on).  The
 * socket is non-blocking, so a daemon too busy to accept still counts.
 */
static int
probe(const char *path)
{
	struct sockaddr_un sun;
	int fd, rc = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
	    errno != EAGAIN && errno != EINPROGRESS)
		rc = errno;
	close(fd);
	return rc;
}

int
kzd_control_start(struct kzd *d, const char *path)
{
	struct kzd_control *ctl = &d->ctl;
	struct stat sb;
	mode_t old;
	int rc;

	if (strlen(path) >= sizeof(ctl->path)) {
		kz_log(&d->log, KZ_LOG_ERR, "control socket path too long: %s", path);
		return -1;
	}
	memcpy(ctl->path, path, strlen(path) + 1);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			kz_log(&d->log, KZ_LOG_ERR, "%s exists and is not a socket; "
			    "refusing to replace it", path);
			return -1;
		}
		rc = probe(path);
		if (rc == 0) {
			kz_log(&d->log, KZ_LOG_ERR, "another kizunad is running: "
			    "something answers on %s", path);
			return -1;
		}
		if (rc != ECONNREFUSED) {
			kz_log(&d->log, KZ_LOG_ERR, "cannot check the old control "
			    "socket %s: %s", path, strerror(rc));
			return -1;
		}
		kz_log(&d->log, KZ_LOG_WARN, "removing the stale control socket %s "
		    "(its kizunad did not stop cleanly)", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			kz_log(&d->log, KZ_LOG_ERR, "cannot remove %s: %s", path,
			    strerror(errno));
			return -1;
		}
	} else if (errno != ENOENT) {
		kz_log(&d->log, KZ_LOG_ERR, "%s: %s", path, strerror(errno));
		return -1;
	}

	if ((rc = uv_idle_init(&d->loop, &ctl->idle)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "control socket: %s", uv_strerror(rc));
		return -1;
	}
	ctl->idle_open = true;
	if ((rc = uv_pipe_init(&d->loop, &ctl->listener, 0)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "control socket: %s", uv_strerror(rc));
		return -1;
	}
	ctl->listener_open = true;
	/* Born 0600: no moment in which others could connect. */
	old = umask(0177);
	rc = uv_pipe_bind(&ctl->listener, path);
	umask(old);
	if (rc < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "cannot create the control socket %s: %s",
		    path, uv_strerror(rc));
		return -1;
	}
	/* libuv unlinks what it bound when the listener closes. */
	if (chmod(path, 0600) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "cannot set the mode of %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((rc = uv_listen((uv_stream_t *)&ctl->listener, 16, on_connection)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "cannot listen on %s: %s", path,
		    uv_strerror(rc));
		return -1;
	}
	kz_log(&d->log, KZ_LOG_INFO, "control socket %s", path);
	return 0;
}

void
kzd_control_stop(struct kzd *d)
{
	struct kzd_client *c;

	if (d->ctl.listener_open && !uv_is_closing((uv_handle_t *)&d->ctl.listener))
		uv_close((uv_handle_t *)&d->ctl.listener, NULL);
	d->ctl.listener_open = false;
	for (c = d->ctl.clients; c != NULL; c = c->next)
		client_finish(c);
}

void
kzd_control_abort(struct kzd *d)
{
	struct kzd_client *c;

	for (c = d->ctl.clients; c != NULL; c = c->next)
		client_close(c);
}
