/*
 * A KISS port on libuv (the contract and the states are in radio.h).
 *
 * Invariants:
 * - One struct kz_radio owns its handles: a uv_timer_t for the whole
 *   lifetime (retries, the close deadline) and, while the device is open,
 *   either a uv_poll_t on the tty fd or a uv_tcp_t.  A device handle is
 *   re-initialised only after on_handle_closed(); r is freed only after the
 *   timer's close callback (on_timer_closed()).
 * - Serial: the fd is opened O_RDWR|O_NOCTTY|O_NONBLOCK, set raw by hand
 *   (no cfmakeraw: it is not POSIX), 8N1, no flow control, and watched with
 *   uv_poll_t; reads and writes expect EAGAIN (spurious wakeups).
 * - The send queue is one buffer of KZ_RADIO_QUEUE_MAX bytes allocated at
 *   open: whole KISS frames are appended or refused, never split by a
 *   refusal.  On TCP one uv_write() at a time covers [out_off, out_off +
 *   inflight); those bytes stay put until on_write().
 * - The receive side holds one read buffer and the deframer's buffer of
 *   frame_max bytes: memory is bounded whatever the TNC or a peer sends.
 * - Callbacks run only from libuv callbacks, never from kz_radio_open(),
 *   kz_radio_send() or kz_radio_close(); after kz_radio_close() only done
 *   runs.
 */
#define _DEFAULT_SOURCE	/* CRTSCTS, to clear hardware flow control */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "daemon/radio.h"
#include "kizuna/err.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 10000
#define CLOSE_FLUSH_MS 2000
#define CLOSE_POLL_MS 20
#define READ_BUF 4096
#define READS_PER_WAKEUP 8

#define RADIO_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum dev_state {
	DEV_IDLE,		/* no device handle; the timer may retry */
	DEV_OPENING,		/* tcp connect in flight */
	DEV_UP,
	DEV_SHUTTING,		/* tcp shutdown in flight (closing) */
	DEV_CLOSING		/* uv_close in flight */
};

struct kz_radio {
	uv_loop_t *loop;
	struct kz_radio_opts o;
	char *device;
	bool is_tcp;
	struct sockaddr_storage addr;
	struct kz_ax25_addr mycall, peercall;
	uint8_t header[KZ_AX25_HEADER_LEN];
	size_t mtu;

	void (*on_frame)(void *arg, const uint8_t *payload, size_t len);
	void (*on_state)(void *arg, bool up, const char *why);
	void (*done)(void *arg);
	void *arg;

	enum dev_state dev;
	bool closing, finished;
	uint64_t close_deadline;
	unsigned backoff_ms;
	uint64_t rng;
	char last_why[160];

	uv_timer_t timer;
	uv_poll_t poll;
	int fd;
	uv_tcp_t tcp;
	uv_connect_t connect;
	uv_write_t wreq;
	uv_shutdown_t sreq;

	struct kz_kiss_deframer *df;
	struct kz_kiss_stats df_seen;	/* deframer counters already added */
	struct kz_radio_stats st;

	uint8_t *frame;			/* frame_max bytes: header + payload */
	uint8_t *out;			/* the send queue */
	size_t out_off, out_len, inflight;
	uint8_t rbuf[READ_BUF];
};

static void attempt(struct kz_radio *r);
static void close_step(struct kz_radio *r);
static void flush(struct kz_radio *r);

static const struct {
	unsigned baud;
	speed_t code;
} speeds[] = {
	{ 300, B300 }, { 600, B600 }, { 1200, B1200 }, { 2400, B2400 },
	{ 4800, B4800 }, { 9600, B9600 }, { 19200, B19200 },
	{ 38400, B38400 }, { 57600, B57600 }, { 115200, B115200 },
	{ 230400, B230400 },
};

static bool
speed_code(unsigned baud, speed_t *code)
{
	size_t i;

	for (i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
		if (speeds[i].baud == baud) {
			*code = speeds[i].code;
			return true;
		}
	return false;
}

/* "tcp:HOST:PORT" into *ss; false if it is not one. */
static bool
parse_tcp(const char *dev, struct sockaddr_storage *ss)
{
	char host[64];
	const char *h = dev + 4, *colon;
	char *end;
	unsigned long port;
	size_t hlen;

	if (strncmp(dev, "tcp:", 4) != 0)
		return false;
	if (*h == '[') {
		const char *close = strchr(h, ']');

		if (close == NULL || close[1] != ':')
			return false;
		hlen = (size_t)(close - h - 1);
		h++;
		colon = close + 1;
	} else {
		colon = strrchr(h, ':');
		if (colon == NULL)
			return false;
		hlen = (size_t)(colon - h);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (colon[1] < '0' || colon[1] > '9')
		return false;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		return false;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
		return true;
	return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0;
}

void
kz_radio_opts_default(struct kz_radio_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->speed = 9600;
	o->ax25 = true;
	o->pid = KZ_AX25_PID_KIZUNA;
	o->txdelay_ms = 300;
	o->persist = 63;
	o->slottime_ms = 100;
	o->txtail_ms = 100;
	o->frame_max = KZ_RADIO_FRAME_DEFAULT;
}

static int bad(char *why, size_t whylen, const char *fmt, ...) KZ_PRINTF(3, 4);

static int
bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return KZ_ERR_CONFIG;
}

int
kz_radio_check_opts(const struct kz_radio_opts *o, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	struct kz_ax25_addr a;
	struct kz_kiss_params kp = { o->txdelay_ms, o->persist, o->slottime_ms,
	    o->txtail_ms, o->fullduplex };
	uint8_t tmp[KZ_KISS_PARAMS_MAX];
	size_t n;
	speed_t sc;
	const char *w = NULL;

	snprintf(why, whylen, "ok");
	if (o->device == NULL || o->device[0] == '\0')
		return bad(why, whylen, "radio device: missing");
	if (strncmp(o->device, "tcp:", 4) == 0) {
		if (!parse_tcp(o->device, &ss))
			return bad(why, whylen, "radio device '%s': not tcp:HOST:PORT "
			    "with HOST an IPv4 address, [IPv6] or localhost, and "
			    "PORT 1-65535", o->device);
	} else if (o->device[0] != '/') {
		return bad(why, whylen, "radio device '%s': neither a path (a "
		    "serial port such as /dev/ttyUSB0) nor tcp:HOST:PORT",
		    o->device);
	} else if (!speed_code(o->speed, &sc)) {
		return bad(why, whylen, "radio speed %u: not one of 300, 600, "
		    "1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400",
		    o->speed);
	}
	if (o->kiss_port > KZ_KISS_PORT_MAX)
		return bad(why, whylen, "radio kiss_port %u: 0 to 15",
		    o->kiss_port);
	if (o->ax25) {
		if (kz_ax25_addr_parse(&a, o->mycall, &w) < 0)
			return bad(why, whylen, "radio mycall '%.16s': %s",
			    o->mycall, w);
		if (kz_ax25_addr_parse(&a, o->peercall, &w) < 0)
			return bad(why, whylen, "radio peercall '%.16s': %s",
			    o->peercall, w);
		if (kz_ax25_dest_reserved(&a))
			return bad(why, whylen, "radio peercall '%.16s': Direwolf "
			    "does not transmit frames to SPEECH, MORSE or DTMF as "
			    "data", o->peercall);
		if (o->pid == 0xFF)
			return bad(why, whylen, "radio pid 0xFF: AX.25's escape to a "
			    "second PID byte, not a protocol");
	}
	if (kz_kiss_encode_params(tmp, sizeof(tmp), &n, 0, &kp) < 0)
		return bad(why, whylen, "radio txdelay, slottime and txtail: 0 to "
		    "2550 ms; persist: 0 to 255");
	if (kz_kiss_mtu(o->frame_max, o->ax25, &n) < 0)
		return bad(why, whylen, "radio frame_max %zu: %s", o->frame_max,
		    o->ax25 ? "17 to 1023 bytes with the AX.25 header (Direwolf "
		    "truncates longer KISS frames)" : "1 to 1023 bytes (Direwolf "
		    "truncates longer KISS frames)");
	return 0;
}

/* ------------------------------------------------------------ state */

static void
report(struct kz_radio *r, bool up, const char *why)
{
	if (r->closing)
		return;
	/* While down, a failed attempt is reported only when its reason is
	 * new, so a TNC that stays away does not fill the log. */
	if (!up && strcmp(why, r->last_why) == 0)
		return;
	snprintf(r->last_why, sizeof(r->last_why), "%s", up ? "" : why);
	kz_log(r->o.log, up ? KZ_LOG_INFO : KZ_LOG_WARN, "radio %s: %s",
	    r->device, why);
	if (r->on_state != NULL)
		r->on_state(r->arg, up, why);
}

static uint64_t
next_rand(struct kz_radio *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return r->rng;
}

static void
on_timer(uv_timer_t *t)
{
	struct kz_radio *r = RADIO_CONTAINER_OF(t, struct kz_radio, timer);

	if (r->closing)
		close_step(r);
	else if (r->dev == DEV_IDLE)
		attempt(r);
}

static void
schedule_retry(struct kz_radio *r)
{
	uint64_t wait;

	if (r->backoff_ms == 0)
		r->backoff_ms = BACKOFF_FIRST_MS;
	/* +-20 % so two ports that failed together do not retry in step. */
	wait = (uint64_t)r->backoff_ms * (800 + next_rand(r) % 401) / 1000;
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    r->backoff_ms * 2;
	uv_timer_start(&r->timer, on_timer, wait, 0);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct kz_radio *r = RADIO_CONTAINER_OF(h, struct kz_radio, timer);
	void (*done)(void *) = r->done;
	void *arg = r->arg;

	kz_kiss_deframer_free(r->df);
	free(r->frame);
	free(r->out);
	free(r->device);
	free(r);
	if (done != NULL)
		done(arg);
}

static void
finish(struct kz_radio *r)
{
	if (r->finished)
		return;
	r->finished = true;
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct kz_radio *r = h->data;

	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	r->dev = DEV_IDLE;
	r->out_off = r->out_len = r->inflight = 0;
	if (r->closing)
		finish(r);
	else
		schedule_retry(r);
}

/* Closes the device handle (cancelling a connect, a write, a shutdown). */
static void
handle_close(struct kz_radio *r)
{
	if (r->dev == DEV_IDLE || r->dev == DEV_CLOSING)
		return;
	r->dev = DEV_CLOSING;
	if (r->is_tcp) {
		r->tcp.data = r;
		uv_close((uv_handle_t *)&r->tcp, on_handle_closed);
	} else {
		/* Unsent bytes in the tty would make close() wait for them at
		 * the line's speed (up to the driver's closing_wait): drop. */
		tcflush(r->fd, TCOFLUSH);
		r->poll.data = r;
		uv_close((uv_handle_t *)&r->poll, on_handle_closed);
	}
}

static void
port_down(struct kz_radio *r, const char *why)
{
	bool was_up = r->dev == DEV_UP;

	if (r->dev == DEV_IDLE || r->dev == DEV_CLOSING)
		return;
	if (was_up)
		r->st.downs++;
	report(r, false, why);
	handle_close(r);
}

static void
port_down_errno(struct kz_radio *r, const char *what, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
	port_down(r, why);
}

static void
port_up(struct kz_radio *r, const char *why)
{
	struct kz_kiss_params kp = { r->o.txdelay_ms, r->o.persist,
	    r->o.slottime_ms, r->o.txtail_ms, r->o.fullduplex };
	size_t n;

	r->dev = DEV_UP;
	r->backoff_ms = 0;
	r->st.ups++;
	kz_kiss_deframer_reset(r->df);
	/* The TNC's channel-access parameters go first (checked at open, so
	 * this cannot fail: the queue is empty and large enough). */
	if (kz_kiss_encode_params(r->out, KZ_RADIO_QUEUE_MAX, &n, r->o.kiss_port,
	    &kp) == 0) {
		r->out_off = 0;
		r->out_len = n;
	}
	report(r, true, why);
	if (r->dev == DEV_UP)
		flush(r);
}

/* ------------------------------------------------------------ receive */

/* Adds what the deframer counted since the last call to the port's stats. */
static void
take_deframer_stats(struct kz_radio *r)
{
	struct kz_kiss_stats s;

	kz_kiss_deframer_stats(r->df, &s);
	r->st.bad_oversize += s.oversize - r->df_seen.oversize;
	r->st.bad_escape += s.bad_escape - r->df_seen.bad_escape;
	r->st.non_data += s.non_data - r->df_seen.non_data;
	r->df_seen = s;
}

static void
take_frame(struct kz_radio *r, const struct kz_kiss_frame *f)
{
	struct kz_ax25_ui h;
	size_t off = 0;

	if (f->port != r->o.kiss_port) {
		r->st.other_port++;
		return;
	}
	if (r->o.ax25) {
		if (kz_ax25_ui_parse(f->data, f->len, &h) < 0) {
			r->st.bad_header++;
			kz_log(r->o.log, KZ_LOG_DEBUG, "radio %s: a frame of %zu "
			    "bytes with a malformed AX.25 header dropped",
			    r->device, f->len);
			return;
		}
		if (!kz_ax25_addr_equal(&h.dest, &r->mycall) ||
		    !kz_ax25_addr_equal(&h.src, &r->peercall) ||
		    h.pid != r->o.pid) {
			r->st.not_for_us++;
			return;
		}
		off = h.payload_off;
	} else if (f->len == 0) {
		r->st.bad_header++;
		return;
	}
	r->st.frames_in++;
	if (r->on_frame != NULL)
		r->on_frame(r->arg, f->data + off, f->len - off);
}

static void
take_bytes(struct kz_radio *r, const uint8_t *p, size_t n)
{
	struct kz_kiss_frame f;

	r->st.bytes_in += n;
	while (!r->closing && r->dev == DEV_UP &&
	    kz_kiss_next(r->df, &p, &n, &f) == 1)
		take_frame(r, &f);
	take_deframer_stats(r);
}

/* ------------------------------------------------------------ serial */

static void on_poll(uv_poll_t *h, int status, int events);

static void
serial_events(struct kz_radio *r)
{
	int ev = UV_READABLE;

	if (r->out_len > r->out_off)
		ev |= UV_WRITABLE;
	uv_poll_start(&r->poll, ev, on_poll);
}

static void
serial_flush(struct kz_radio *r)
{
	while (r->out_len > r->out_off) {
		ssize_t w = write(r->fd, r->out + r->out_off, r->out_len - r->out_off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			port_down_errno(r, "write", w < 0 ? errno : EIO);
			return;
		}
		r->out_off += (size_t)w;
		r->st.bytes_out += (uint64_t)w;
	}
	if (r->out_off == r->out_len)
		r->out_off = r->out_len = 0;
	serial_events(r);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct kz_radio *r = RADIO_CONTAINER_OF(h, struct kz_radio, poll);
	int i;

	if (r->dev != DEV_UP)
		return;
	if (status < 0) {
		char why[160];
		ssize_t n;

		/* libuv reports POLLERR (a hangup, an unplugged adapter) as
		 * UV_EBADF; a read says what really happened. */
		n = read(r->fd, r->rbuf, sizeof(r->rbuf));
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			port_down_errno(r, "read", errno);
		} else if (n == 0) {
			port_down(r, "device hung up");
		} else {
			snprintf(why, sizeof(why), "poll: %s", uv_strerror(status));
			port_down(r, why);
		}
		return;
	}
	if (events & UV_READABLE) {
		for (i = 0; i < READS_PER_WAKEUP && r->dev == DEV_UP &&
		    !r->closing; i++) {
			ssize_t n = read(r->fd, r->rbuf, sizeof(r->rbuf));

			if (n > 0) {
				take_bytes(r, r->rbuf, (size_t)n);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			/* 0 is a hangup; EIO is what a pty or an unplugged
			 * USB serial adapter gives. */
			if (n == 0)
				port_down(r, "device hung up");
			else
				port_down_errno(r, "read", errno);
			return;
		}
	}
	if (r->dev == DEV_UP && (events & UV_WRITABLE))
		serial_flush(r);
	if (r->closing)
		close_step(r);
}

/* Opens the tty raw; returns the fd or -errno. */
static int
serial_open(const struct kz_radio *r)
{
	struct termios t;
	speed_t sc;
	int fd, err;

	if (!speed_code(r->o.speed, &sc))
		return -EINVAL;
	fd = open(r->device, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (!isatty(fd)) {
		err = ENOTTY;
		goto fail;
	}
#ifdef TIOCEXCL
	/* One process per modem: a second open fails with EBUSY. */
	(void)ioctl(fd, TIOCEXCL);
#endif
	if (tcgetattr(fd, &t) < 0)
		goto fail_errno;
	/* Raw, by hand: no input or output processing, no echo, no signals,
	 * 8 data bits, no parity, one stop bit, no flow control. */
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR |
	    IGNCR | ICRNL | IXON | IXOFF | INPCK);
#ifdef IXANY
	t.c_iflag &= ~(tcflag_t)IXANY;
#endif
	t.c_oflag &= ~(tcflag_t)OPOST;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB);
	t.c_cflag |= CS8 | CREAD | CLOCAL;
#ifdef CRTSCTS
	t.c_cflag &= ~(tcflag_t)CRTSCTS;
#endif
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, sc) < 0 || cfsetospeed(&t, sc) < 0 ||
	    tcsetattr(fd, TCSANOW, &t) < 0)
		goto fail_errno;
	/* Whatever sat in the buffers belongs to no frame of ours. */
	tcflush(fd, TCIOFLUSH);
	return fd;
fail_errno:
	err = errno;
fail:
	close(fd);
	return -err;
}

static void
serial_attempt(struct kz_radio *r)
{
	char why[200];
	int fd = serial_open(r), rc;

	if (fd == -ENOTTY) {
		snprintf(why, sizeof(why), "open %s: not a terminal (a serial port "
		    "was expected)", r->device);
		report(r, false, why);
		schedule_retry(r);
		return;
	}
	if (fd < 0) {
		snprintf(why, sizeof(why), "open %s: %s", r->device, strerror(-fd));
		report(r, false, why);
		schedule_retry(r);
		return;
	}
	r->fd = fd;
	if ((rc = uv_poll_init(r->loop, &r->poll, fd)) < 0) {
		close(fd);
		r->fd = -1;
		snprintf(why, sizeof(why), "poll %s: %s", r->device, uv_strerror(rc));
		report(r, false, why);
		schedule_retry(r);
		return;
	}
	snprintf(why, sizeof(why), "opened at %u baud", r->o.speed);
	port_up(r, why);
	if (r->dev == DEV_UP)
		serial_events(r);
}

/* ------------------------------------------------------------ tcp */

static void tcp_flush(struct kz_radio *r);

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct kz_radio *r = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)r->rbuf, sizeof(r->rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct kz_radio *r = s->data;

	(void)buf;
	if (r->dev != DEV_UP && r->dev != DEV_SHUTTING)
		return;
	if (nread > 0) {
		take_bytes(r, r->rbuf, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	if (r->closing) {
		handle_close(r);
		return;
	}
	if (nread == UV_EOF) {
		port_down(r, "the TNC closed the connection");
	} else {
		char why[160];

		snprintf(why, sizeof(why), "read: %s", uv_strerror((int)nread));
		port_down(r, why);
	}
}

static void
on_write(uv_write_t *req, int status)
{
	struct kz_radio *r = req->data;

	if (status < 0) {
		r->inflight = 0;
		if (status != UV_ECANCELED) {
			char why[160];

			snprintf(why, sizeof(why), "write: %s", uv_strerror(status));
			port_down(r, why);
		}
		return;
	}
	r->out_off += r->inflight;
	r->st.bytes_out += r->inflight;
	r->inflight = 0;
	if (r->out_off == r->out_len)
		r->out_off = r->out_len = 0;
	if (r->dev == DEV_UP)
		tcp_flush(r);
	if (r->closing)
		close_step(r);
}

static void
tcp_flush(struct kz_radio *r)
{
	uv_buf_t b;
	int rc;

	if (r->inflight > 0 || r->out_len == r->out_off)
		return;
	b = uv_buf_init((char *)r->out + r->out_off,
	    (unsigned)(r->out_len - r->out_off));
	r->inflight = r->out_len - r->out_off;
	r->wreq.data = r;
	if ((rc = uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, on_write)) < 0) {
		char why[160];

		r->inflight = 0;
		snprintf(why, sizeof(why), "write: %s", uv_strerror(rc));
		port_down(r, why);
	}
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct kz_radio *r = req->data;
	char why[200];
	int rc;

	if (status == UV_ECANCELED || r->dev != DEV_OPENING)
		return;
	if (status < 0) {
		snprintf(why, sizeof(why), "connect %s: %s", r->device,
		    uv_strerror(status));
		port_down(r, why);
		return;
	}
	uv_tcp_nodelay(&r->tcp, 1);
	if ((rc = uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read)) < 0) {
		snprintf(why, sizeof(why), "read %s: %s", r->device, uv_strerror(rc));
		port_down(r, why);
		return;
	}
	snprintf(why, sizeof(why), "connected to %s", r->device);
	port_up(r, why);
}

static void
tcp_attempt(struct kz_radio *r)
{
	char why[200];
	int rc;

	if ((rc = uv_tcp_init(r->loop, &r->tcp)) < 0) {
		snprintf(why, sizeof(why), "tcp: %s", uv_strerror(rc));
		report(r, false, why);
		schedule_retry(r);
		return;
	}
	r->tcp.data = r;
	r->connect.data = r;
	r->dev = DEV_OPENING;
	if ((rc = uv_tcp_connect(&r->connect, &r->tcp,
	    (const struct sockaddr *)&r->addr, on_connect)) < 0) {
		snprintf(why, sizeof(why), "connect %s: %s", r->device,
		    uv_strerror(rc));
		port_down(r, why);
	}
}

/* ------------------------------------------------------------ common */

static void
attempt(struct kz_radio *r)
{
	if (r->is_tcp)
		tcp_attempt(r);
	else
		serial_attempt(r);
}

static void
flush(struct kz_radio *r)
{
	if (r->dev != DEV_UP)
		return;
	if (r->is_tcp)
		tcp_flush(r);
	else
		serial_flush(r);
}

int
kz_radio_open(uv_loop_t *loop, struct kz_radio **out,
    const struct kz_radio_opts *o,
    void (*on_frame)(void *arg, const uint8_t *payload, size_t len),
    void (*on_state)(void *arg, bool up, const char *why), void *arg)
{
	struct kz_radio *r = NULL;
	char why[256];
	int rc;

	*out = NULL;
	if ((rc = kz_radio_check_opts(o, why, sizeof(why))) < 0) {
		kz_log(o->log, KZ_LOG_ERR, "%s", why);
		return rc;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return KZ_ERR_NOMEM;
	r->fd = -1;
	r->loop = loop;
	r->o = *o;
	r->on_frame = on_frame;
	r->on_state = on_state;
	r->arg = arg;
	r->rng = uv_hrtime() | 1;
	r->device = strdup(o->device);
	r->frame = malloc(o->frame_max);
	r->out = malloc(KZ_RADIO_QUEUE_MAX);
	rc = kz_kiss_deframer_new(&r->df, o->frame_max);
	if (r->device == NULL || r->frame == NULL || r->out == NULL || rc < 0) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	r->o.device = r->device;
	r->is_tcp = parse_tcp(o->device, &r->addr);
	(void)kz_kiss_mtu(o->frame_max, o->ax25, &r->mtu);
	if (o->ax25) {
		(void)kz_ax25_addr_parse(&r->mycall, o->mycall, NULL);
		(void)kz_ax25_addr_parse(&r->peercall, o->peercall, NULL);
		if ((rc = kz_ax25_ui_header(r->header, &r->peercall, &r->mycall,
		    o->pid)) < 0)
			goto fail;
	}
	if ((rc = uv_timer_init(loop, &r->timer)) < 0) {
		rc = KZ_ERR_IO;
		goto fail;
	}
	/* The first attempt runs from the loop, never inside this call. */
	uv_timer_start(&r->timer, on_timer, 0, 0);
	*out = r;
	return 0;
fail:
	kz_kiss_deframer_free(r->df);
	free(r->frame);
	free(r->out);
	free(r->device);
	free(r);
	return rc;
}

int
kz_radio_send(struct kz_radio *r, const uint8_t *payload, size_t len)
{
	size_t flen = 0, n, room;
	int rc;

	if (r->closing || r->dev != DEV_UP) {
		r->st.send_down++;
		return KZ_ERR_IO;
	}
	if (len > r->mtu)
		return KZ_ERR_TOO_BIG;
	if (!r->o.ax25 && len == 0)
		return KZ_ERR_INVAL;
	if (r->o.ax25) {
		memcpy(r->frame, r->header, KZ_AX25_HEADER_LEN);
		flen = KZ_AX25_HEADER_LEN;
	}
	if (len > 0)
		memcpy(r->frame + flen, payload, len);
	flen += len;
	room = KZ_RADIO_QUEUE_MAX - r->out_len;
	rc = kz_kiss_encode(r->out + r->out_len, room, &n, r->o.kiss_port,
	    KZ_KISS_DATA, r->frame, flen);
	if (rc == KZ_ERR_TOO_BIG && r->inflight == 0 && r->out_off > 0) {
		/* Compact: nothing is pinned by a write in flight. */
		memmove(r->out, r->out + r->out_off, r->out_len - r->out_off);
		r->out_len -= r->out_off;
		r->out_off = 0;
		room = KZ_RADIO_QUEUE_MAX - r->out_len;
		rc = kz_kiss_encode(r->out + r->out_len, room, &n,
		    r->o.kiss_port, KZ_KISS_DATA, r->frame, flen);
	}
	if (rc < 0) {
		r->st.send_full++;
		return KZ_ERR_TOO_BIG;
	}
	r->out_len += n;
	r->st.frames_out++;
	flush(r);
	return 0;
}

size_t
kz_radio_mtu(const struct kz_radio *r)
{
	return r->mtu;
}

size_t
kz_radio_queued(const struct kz_radio *r)
{
	return r->out_len - r->out_off;
}

bool
kz_radio_up(const struct kz_radio *r)
{
	return r->dev == DEV_UP && !r->closing;
}

void
kz_radio_get_stats(const struct kz_radio *r, struct kz_radio_stats *out)
{
	*out = r->st;
}

/* ------------------------------------------------------------ close */

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct kz_radio *r = req->data;

	(void)status;
	handle_close(r);
}

/* True when the tty still holds bytes it has not sent. */
static bool
tty_pending(const struct kz_radio *r)
{
#ifdef TIOCOUTQ
	int q = 0;

	if (ioctl(r->fd, TIOCOUTQ, &q) == 0 && q > 0)
		return true;
#endif
	return false;
}

/*
 * One step of a close: runs from kz_radio_close, then again whenever a
 * write completes or the timer fires, until every handle is closed.
 */
static void
close_step(struct kz_radio *r)
{
	bool late = uv_now(r->loop) >= r->close_deadline;
	bool drained;

	switch (r->dev) {
	case DEV_IDLE:
		finish(r);
		return;
	case DEV_OPENING:
		handle_close(r);
		return;
	case DEV_SHUTTING:
		if (late)
			handle_close(r);
		return;
	case DEV_CLOSING:
		return;
	case DEV_UP:
		break;
	}
	drained = r->out_len == r->out_off && r->inflight == 0 &&
	    (r->is_tcp || !tty_pending(r));
	if (!drained && !late) {
		uint64_t left = r->close_deadline - uv_now(r->loop);

		uv_timer_start(&r->timer, on_timer,
		    left < CLOSE_POLL_MS ? left : CLOSE_POLL_MS, 0);
		return;
	}
	if (r->is_tcp && drained) {
		int rc;

		/* The TNC frees a client slot only when it reads EOF. */
		r->sreq.data = r;
		r->dev = DEV_SHUTTING;
		rc = uv_shutdown(&r->sreq, (uv_stream_t *)&r->tcp, on_shutdown);
		if (rc == 0) {
			uv_timer_start(&r->timer, on_timer, r->close_deadline >
			    uv_now(r->loop) ? r->close_deadline - uv_now(r->loop) :
			    0, 0);
			return;
		}
		r->dev = DEV_UP;
	}
	handle_close(r);
}

void
kz_radio_close(struct kz_radio *r, void (*done)(void *arg))
{
	if (r == NULL || r->closing)
		return;
	r->closing = true;
	r->done = done;
	r->close_deadline = uv_now(r->loop) + CLOSE_FLUSH_MS;
	uv_timer_stop(&r->timer);
	close_step(r);
}
