/*
 * Two KISS ports (kz_radio, the serial path) on two pseudo-terminals, and
 * a relay between the masters standing in for the radio channel, all on
 * one libuv loop:
 *
 *   kz_radio A -- slave1 | master1 --relay--> master2 | slave2 -- kz_radio B
 *              <------------------------------relay--
 *
 * 1. The slaves are set raw at 9600 baud, 8N1, no flow control (read back
 *    through the masters).
 * 2. Clean: 150 frames each way at once (payloads of 2-256 bytes, a third
 *    of their bytes FEND or FESC) arrive exactly and in order; each side
 *    sees the other's five KISS parameter commands and nothing else.
 * 3. Errors: 300 frames A->B while the relay flips, drops and inserts FEND
 *    bytes at a seeded rate.  The relay parses the clean stream, so it
 *    knows which frames it touched.  Every frame it did not touch arrives
 *    intact, in order, once: the deframer resynchronises after every
 *    damaged frame.  Touched frames are dropped (counted by reason) or,
 *    where the damage is itself valid KISS and AX.25, arrive altered: at
 *    most one altered delivery per touched frame.
 * 4. B's device hangs up (master2 closed): B reports the port down.
 * 5. Both ports close; the loop ends with no handle left.
 *
 * KZ_SEED=N replays another error pattern (default 1).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "daemon/radio.h"
#include "kizuna/err.h"
#include "kizuna/kiss.h"
#include "testutil.h"

#define N_CLEAN 150
#define N_ERR 300
#define MAX_SENT 300
#define RELAY_BUF (1 << 20)
#define DEADLINE_MS 20000
#define QUIET_MS 150

struct sent {
	size_t n, len[MAX_SENT];
	uint8_t data[MAX_SENT][256];
};

struct side {
	const char *name;
	struct kz_radio *r;
	bool up, closed;
	int downs;
	char last_why[200];
	struct sent out;		/* what this side sent */
	size_t sent_next;		/* next index of out to send */
	size_t to_send;
	/* What arrived: the index of the exact match in the peer's sent list,
	 * or -1 for a payload that matches none. */
	size_t n_in;
	long in_idx[2 * MAX_SENT];
};

/* The clean stream's frame structure, to know which frames an error hits. */
struct tracker {
	bool after_fend, in_data;
	size_t next_idx;		/* data frames begun so far */
};

struct dir {
	int from, to;			/* master fds */
	uint8_t *buf;			/* bytes for `to` not yet written */
	size_t off, len;
	bool errors;
	double rate;
	struct tracker tr;
	bool touched[MAX_SENT + 1];
	uint64_t flips, drops, inserts;
};

struct pty {
	int master;
	char slave[128];
	uv_poll_t poll;
	bool polling, closed;
	struct dir *in;			/* the direction writing to this master */
};

static uv_loop_t loop;
static struct side A = { .name = "A" }, B = { .name = "B" };
static struct pty P1, P2;
static struct dir d12, d21;
static uint64_t rng;
static uint64_t last_activity;
static uv_timer_t ticker, deadline;
static int phase;

static struct kz_radio_opts
opts(const char *device, const char *me, const char *peer)
{
	struct kz_radio_opts o;

	kz_radio_opts_default(&o);
	o.device = device;
	o.speed = 9600;
	snprintf(o.mycall, sizeof(o.mycall), "%s", me);
	snprintf(o.peercall, sizeof(o.peercall), "%s", peer);
	o.txdelay_ms = 100;
	o.persist = 192;		/* 0xC0: sent escaped */
	o.slottime_ms = 10;
	o.txtail_ms = 20;
	return o;
}

static void
pty_open(struct pty *p)
{
	char *name;

	p->master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(p->master >= 0);
	assert_int_equal(grantpt(p->master), 0);
	assert_int_equal(unlockpt(p->master), 0);
	name = ptsname(p->master);
	assert_non_null(name);
	snprintf(p->slave, sizeof(p->slave), "%s", name);
	assert_int_equal(fcntl(p->master, F_SETFL,
	    fcntl(p->master, F_GETFL) | O_NONBLOCK), 0);
}

/* ------------------------------------------------------------ relay */

/*
 * Steps the tracker over one clean byte; *lo .. *hi (inclusive) are the
 * data frames an error on this byte would touch (none when *lo > *hi).
 */
static void
track(struct tracker *t, uint8_t c, long *lo, long *hi)
{
	*lo = 1;
	*hi = 0;
	if (c == KZ_KISS_FEND) {
		/* A FEND dropped or altered merges the frames on both sides. */
		*lo = (long)t->next_idx - 1;
		*hi = (long)t->next_idx;
		t->after_fend = true;
		t->in_data = false;
		return;
	}
	if (t->after_fend) {
		t->after_fend = false;
		t->in_data = c == 0x00;	/* port 0 data; else a command */
		if (t->in_data)
			t->next_idx++;
	}
	if (t->in_data)
		*lo = *hi = (long)t->next_idx - 1;
}

static void
put(struct dir *d, uint8_t c)
{
	assert_true(d->len < RELAY_BUF);
	d->buf[d->len++] = c;
}

static void
relay_bytes(struct dir *d, const uint8_t *p, size_t n)
{
	size_t i;

	if (d->off == d->len)
		d->off = d->len = 0;
	for (i = 0; i < n; i++) {
		long lo, hi, k;
		uint64_t r;

		track(&d->tr, p[i], &lo, &hi);
		if (!d->errors ||
		    (double)(kz_test_rand(&rng) % 1000000) >= d->rate * 1e6) {
			put(d, p[i]);
			continue;
		}
		for (k = lo < 0 ? 0 : lo; k <= hi && k <= MAX_SENT; k++)
			d->touched[k] = true;
		r = kz_test_rand(&rng);
		switch (r % 3) {
		case 0:
			put(d, (uint8_t)(p[i] ^ (1 + (r >> 8) % 255)));
			d->flips++;
			break;
		case 1:
			d->drops++;
			break;
		default:
			put(d, KZ_KISS_FEND);
			put(d, p[i]);
			d->inserts++;
			break;
		}
	}
}

static void on_pty(uv_poll_t *h, int status, int events);

static void
pty_events(struct pty *p)
{
	int ev = UV_READABLE;

	if (p->closed)
		return;
	if (p->in->len > p->in->off)
		ev |= UV_WRITABLE;
	assert_int_equal(uv_poll_start(&p->poll, ev, on_pty), 0);
}

static void
pty_write(struct pty *p)
{
	struct dir *d = p->in;

	while (d->len > d->off) {
		ssize_t w = write(p->master, d->buf + d->off, d->len - d->off);

		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		assert_true(w > 0);
		d->off += (size_t)w;
		last_activity = uv_now(&loop);
	}
	pty_events(p);
}

static void
on_pty(uv_poll_t *h, int status, int events)
{
	struct pty *p = h->data, *other = p == &P1 ? &P2 : &P1;
	struct dir *out = p == &P1 ? &d12 : &d21;
	uint8_t buf[4096];
	int i;

	assert_int_equal(status, 0);
	if (events & UV_READABLE) {
		for (i = 0; i < 8; i++) {
			ssize_t n = read(p->master, buf, sizeof(buf));

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			assert_true(n > 0);
			last_activity = uv_now(&loop);
			relay_bytes(out, buf, (size_t)n);
		}
		if (!other->closed)
			pty_write(other);
	}
	if (events & UV_WRITABLE)
		pty_write(p);
}

static void
relay_start(struct pty *p)
{
	if (p->polling)
		return;
	assert_int_equal(uv_poll_init(&loop, &p->poll, p->master), 0);
	p->poll.data = p;
	p->polling = true;
	pty_events(p);
}

/* ------------------------------------------------------------ ports */

static struct side *
peer_of(struct side *s)
{
	return s == &A ? &B : &A;
}

static void
on_frame(void *arg, const uint8_t *payload, size_t len)
{
	struct side *s = arg;
	const struct sent *from = &peer_of(s)->out;
	size_t i;
	long idx = -1;

	for (i = 0; i < from->n; i++)
		if (from->len[i] == len && memcmp(from->data[i], payload, len) == 0) {
			idx = (long)i;
			break;
		}
	assert_true(s->n_in < 2 * MAX_SENT);
	s->in_idx[s->n_in++] = idx;
}

static void on_ticker(uv_timer_t *t);

static void
on_state(void *arg, bool up, const char *why)
{
	struct side *s = arg;

	s->up = up;
	if (!up)
		s->downs++;
	snprintf(s->last_why, sizeof(s->last_why), "%s", why);
	if (phase == 0 && A.up && B.up) {
		phase = 1;
		uv_stop(&loop);
	}
}

/* Fresh random payloads for s: 2-256 bytes, a third FEND or FESC. */
static void
make_payloads(struct side *s, size_t n, size_t mtu)
{
	size_t i, k;

	assert_true(n <= MAX_SENT);
	s->out.n = n;
	for (i = 0; i < n; i++) {
		/* At least the two bytes of the index, so no two are equal. */
		s->out.len[i] = 2 + (size_t)(kz_test_rand(&rng) % (mtu - 1));
		if (i % 50 == 0)
			s->out.len[i] = mtu;
		for (k = 0; k < s->out.len[i]; k++) {
			uint64_t r = kz_test_rand(&rng);

			s->out.data[i][k] = r % 3 == 0 ? (r & 8 ? 0xC0 : 0xDB) :
			    (uint8_t)(r >> 8);
		}
		s->out.data[i][0] = (uint8_t)(i >> 8);
		s->out.data[i][1] = (uint8_t)i;
	}
	s->sent_next = 0;
	s->to_send = n;
	peer_of(s)->n_in = 0;	/* what the peer received was of the old set */
}

/* Keeps each sender's queue topped up; ends a phase once all is quiet. */
static void
on_ticker(uv_timer_t *t)
{
	struct side *ss[2] = { &A, &B };
	int i;

	(void)t;
	for (i = 0; i < 2; i++) {
		struct side *s = ss[i];

		while (s->sent_next < s->to_send && kz_radio_queued(s->r) < 8192) {
			size_t k = s->sent_next++;

			assert_int_equal(kz_radio_send(s->r, s->out.data[k],
			    s->out.len[k]), 0);
		}
	}
	if (A.sent_next == A.to_send && B.sent_next == B.to_send &&
	    kz_radio_queued(A.r) == 0 && kz_radio_queued(B.r) == 0 &&
	    d12.off == d12.len && d21.off == d21.len &&
	    uv_now(&loop) - last_activity > QUIET_MS)
		uv_stop(&loop);
}

static void
on_deadline(uv_timer_t *t)
{
	(void)t;
	fail_msg("phase %d did not finish within %d ms", phase, DEADLINE_MS);
}

static void
run_phase(void)
{
	last_activity = uv_now(&loop);
	assert_int_equal(uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0),
	    0);
	assert_int_equal(uv_timer_start(&ticker, on_ticker, 1, 1), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_timer_stop(&ticker);
	uv_timer_stop(&deadline);
}

static void
on_closed(void *arg)
{
	((struct side *)arg)->closed = true;
	uv_stop(&loop);
}

static void
on_handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void
test_kiss_pty(void **state)
{
	struct termios t;
	struct kz_radio_opts oa, ob;
	struct kz_radio_stats sa, sb;
	const char *seed = getenv("KZ_SEED");
	size_t i, intact = 0, altered = 0, touched = 0, resyncs = 0;
	long last;
	bool got[MAX_SENT];
	uint64_t t0;

	(void)state;
	rng = seed != NULL ? strtoull(seed, NULL, 10) : 1;
	if (rng == 0)
		rng = 1;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(uv_timer_init(&loop, &ticker), 0);
	assert_int_equal(uv_timer_init(&loop, &deadline), 0);
	d12.buf = malloc(RELAY_BUF);
	d21.buf = malloc(RELAY_BUF);
	assert_non_null(d12.buf);
	assert_non_null(d21.buf);
	pty_open(&P1);
	pty_open(&P2);
	d12.from = P1.master;
	d12.to = P2.master;
	d21.from = P2.master;
	d21.to = P1.master;
	P1.in = &d21;
	P2.in = &d12;
	t0 = uv_hrtime();

	oa = opts(P1.slave, "JA1ABC-3", "JA1XYZ-12");
	ob = opts(P2.slave, "JA1XYZ-12", "JA1ABC-3");
	assert_int_equal(kz_radio_open(&loop, &A.r, &oa, on_frame, on_state, &A),
	    0);
	assert_int_equal(kz_radio_open(&loop, &B.r, &ob, on_frame, on_state, &B),
	    0);
	/* Nothing is called back before the loop runs. */
	assert_false(A.up);
	assert_int_equal(kz_radio_send(A.r, (const uint8_t *)"x", 1), KZ_ERR_IO);
	assert_int_equal(uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0),
	    0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_timer_stop(&deadline);
	assert_true(A.up && B.up);
	assert_string_equal(A.last_why, "opened at 9600 baud");

	/* 1. The slaves' line settings, read through the masters. */
	assert_int_equal(tcgetattr(P1.master, &t), 0);
	assert_int_equal(cfgetospeed(&t), B9600);
	assert_int_equal(cfgetispeed(&t), B9600);
	assert_int_equal(t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0);
	assert_int_equal(t.c_iflag & (ICRNL | IXON | IXOFF | ISTRIP | INLCR), 0);
	assert_int_equal(t.c_oflag & OPOST, 0);
	assert_int_equal(t.c_cflag & (CSIZE | PARENB | CSTOPB), CS8);
	assert_int_equal(kz_radio_mtu(A.r), 256);

	/* 2. Clean, both ways at once. */
	make_payloads(&A, N_CLEAN, kz_radio_mtu(A.r));
	make_payloads(&B, N_CLEAN, kz_radio_mtu(B.r));
	relay_start(&P1);
	relay_start(&P2);
	run_phase();
	assert_int_equal(B.n_in, N_CLEAN);
	assert_int_equal(A.n_in, N_CLEAN);
	for (i = 0; i < N_CLEAN; i++) {
		assert_int_equal(B.in_idx[i], (long)i);
		assert_int_equal(A.in_idx[i], (long)i);
	}
	kz_radio_get_stats(A.r, &sa);
	kz_radio_get_stats(B.r, &sb);
	assert_int_equal(sb.frames_in, N_CLEAN);
	assert_int_equal(sa.frames_out, N_CLEAN);
	assert_int_equal(sb.non_data, 5);	/* A's parameter commands */
	assert_int_equal(sa.non_data, 5);
	assert_int_equal(sb.bad_escape + sb.bad_oversize + sb.bad_header +
	    sb.not_for_us + sb.other_port, 0);
	assert_int_equal(sa.bytes_out, sb.bytes_in);
	assert_int_equal(sb.bytes_out, sa.bytes_in);
	printf("clean: %d frames each way, %llu bytes A->B\n", N_CLEAN,
	    (unsigned long long)sa.bytes_out);

	/* 3. Errors on A->B. */
	make_payloads(&A, N_ERR, kz_radio_mtu(A.r));
	B.out.n = 0;
	B.to_send = B.sent_next = 0;
	d12.errors = true;
	d12.rate = 1.0 / 1500;
	d12.tr.next_idx = 0;	/* the clean phase's frames are past */
	d12.tr.after_fend = d12.tr.in_data = false;
	run_phase();
	kz_radio_get_stats(B.r, &sb);
	memset(got, 0, sizeof(got));
	last = -1;
	for (i = 0; i < B.n_in; i++) {
		long k = B.in_idx[i];

		if (k < 0) {
			altered++;
			continue;
		}
		/* Intact frames arrive in order and once. */
		assert_true(k > last);
		last = k;
		got[k] = true;
		intact++;
	}
	for (i = 0; i < N_ERR; i++) {
		if (d12.touched[i]) {
			touched++;
			if (i + 1 < N_ERR && !d12.touched[i + 1])
				resyncs++;
			continue;
		}
		if (!got[i])
			fail_msg("frame %zu was not touched by the relay and did "
			    "not arrive intact", i);
	}
	printf("errors (seed %llu): %llu flips, %llu drops, %llu FENDs "
	    "inserted; %zu of %d frames touched; %zu intact, %zu altered "
	    "delivered; dropped: %llu bad escape, %llu oversize, %llu bad "
	    "header, %llu not for us, %llu other port, %llu command frames\n",
	    seed != NULL ? strtoull(seed, NULL, 10) : 1ull,
	    (unsigned long long)d12.flips, (unsigned long long)d12.drops,
	    (unsigned long long)d12.inserts, touched, N_ERR, intact, altered,
	    (unsigned long long)sb.bad_escape,
	    (unsigned long long)sb.bad_oversize,
	    (unsigned long long)sb.bad_header,
	    (unsigned long long)sb.not_for_us,
	    (unsigned long long)sb.other_port,
	    (unsigned long long)sb.non_data - 5);
	/* The rate must have hit frames, and frames right after hit ones. */
	assert_true(touched >= 10);
	assert_true(resyncs >= 5);
	assert_true(intact >= N_ERR - touched);
	assert_true(altered <= touched);
	assert_int_equal(sb.frames_in, N_CLEAN + intact + altered);
	/* Damage was seen and counted, not only suffered. */
	assert_true(sb.bad_escape + sb.bad_oversize + sb.bad_header +
	    sb.not_for_us + sb.other_port + sb.non_data - 5 > 0);

	/* 4. B's device hangs up. */
	assert_int_equal(B.downs, 0);
	uv_poll_stop(&P2.poll);
	P2.closed = true;
	uv_close((uv_handle_t *)&P2.poll, on_handle_closed);
	close(P2.master);
	assert_int_equal(uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0),
	    0);
	while (B.up)
		uv_run(&loop, UV_RUN_ONCE);
	uv_timer_stop(&deadline);
	assert_int_equal(B.downs, 1);
	assert_false(kz_radio_up(B.r));
	printf("B down: %s\n", B.last_why);
	assert_true(strstr(B.last_why, "read: ") != NULL ||
	    strstr(B.last_why, "hung up") != NULL ||
	    strstr(B.last_why, "poll: ") != NULL);
	assert_int_equal(kz_radio_send(B.r, (const uint8_t *)"x", 1), KZ_ERR_IO);
	kz_radio_get_stats(B.r, &sb);
	assert_int_equal(sb.downs, 1);
	assert_int_equal(sb.send_down, 1);

	/* 5. Close everything; nothing may be left on the loop. */
	kz_radio_close(A.r, on_closed);
	kz_radio_close(B.r, on_closed);
	uv_poll_stop(&P1.poll);
	uv_close((uv_handle_t *)&P1.poll, on_handle_closed);
	uv_close((uv_handle_t *)&ticker, on_handle_closed);
	uv_close((uv_handle_t *)&deadline, on_handle_closed);
	while (uv_run(&loop, UV_RUN_DEFAULT) != 0)
		;
	assert_true(A.closed && B.closed);
	assert_int_equal(uv_loop_close(&loop), 0);
	close(P1.master);
	free(d12.buf);
	free(d21.buf);
	printf("total %.2f s\n", (double)(uv_hrtime() - t0) / 1e9);
}

/* ------------------------------------------------------------ tcp */

/*
 * The TCP path against a TNC played by the test: a refused connection is
 * reported and retried; on connect the five parameter commands come
 * first, byte for byte; only the frame from peercall to mycall on our
 * port is handed up (the others counted by reason); a send arrives as its
 * exact KISS frame; a connection the TNC drops is redialled and the
 * parameters sent again; kz_radio_close shuts the connection down so the
 * TNC reads EOF (Direwolf frees a client slot only then).
 */
struct conn {
	uv_tcp_t tcp;
	uint8_t in[4096];
	size_t len;
	bool eof, closed;
};

static uv_tcp_t server;
static struct conn conns[2];
static int n_conns;
static struct side T = { .name = "T" };
static uint8_t tcp_got[64];
static size_t tcp_got_len;
static int tcp_frames;

static void
on_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)c->in + c->len, (unsigned)(sizeof(c->in) -
	    c->len));
}

static void
on_conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	(void)buf;
	if (n > 0)
		c->len += (size_t)n;
	else if (n == UV_EOF)
		c->eof = true;
	else if (n < 0)
		fail_msg("server read: %s", uv_strerror((int)n));
	uv_stop(&loop);
}

static void
on_conn_closed(uv_handle_t *h)
{
	((struct conn *)h->data)->closed = true;
}

static void
on_connection(uv_stream_t *s, int status)
{
	struct conn *c;

	assert_int_equal(status, 0);
	assert_true(n_conns < 2);
	c = &conns[n_conns++];
	assert_int_equal(uv_tcp_init(&loop, &c->tcp), 0);
	c->tcp.data = c;
	assert_int_equal(uv_accept(s, (uv_stream_t *)&c->tcp), 0);
	assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc,
	    on_conn_read), 0);
	uv_stop(&loop);
}

static void
tcp_on_frame(void *arg, const uint8_t *p, size_t len)
{
	(void)arg;
	assert_true(len <= sizeof(tcp_got));
	memcpy(tcp_got, p, len);
	tcp_got_len = len;
	tcp_frames++;
	uv_stop(&loop);
}

static void
tcp_on_state(void *arg, bool up, const char *why)
{
	struct side *s = arg;

	s->up = up;
	if (!up)
		s->downs++;
	snprintf(s->last_why, sizeof(s->last_why), "%s", why);
	uv_stop(&loop);
}

/* Runs the loop until cond holds (checked after each stop). */
#define RUN_UNTIL(cond)							\
	do {								\
		assert_int_equal(uv_timer_start(&deadline, on_deadline,	\
		    DEADLINE_MS, 0), 0);				\
		while (!(cond))						\
			uv_run(&loop, UV_RUN_DEFAULT);			\
		uv_timer_stop(&deadline);				\
	} while (0)

static void
server_write(struct conn *c, const uint8_t *p, size_t n)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);

	assert_int_equal(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)n);
}

/* Appends one KISS data frame dest <- src (port, pid) with text to w. */
static size_t
tnc_frame(uint8_t *w, unsigned port, const char *dest, const char *src,
    uint8_t pid, const char *text)
{
	struct kz_ax25_addr d, s;
	uint8_t f[64];
	size_t n, tl = strlen(text);

	assert_int_equal(kz_ax25_addr_parse(&d, dest, NULL), 0);
	assert_int_equal(kz_ax25_addr_parse(&s, src, NULL), 0);
	assert_int_equal(kz_ax25_ui_header(f, &d, &s, pid), 0);
	memcpy(f + 16, text, tl);
	assert_int_equal(kz_kiss_encode(w, 256, &n, port, KZ_KISS_DATA, f,
	    16 + tl), 0);
	return n;
}

static void
test_kiss_tcp(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	int namelen = sizeof(ss);
	char dev[64];
	struct kz_radio_opts o;
	struct kz_kiss_params kp = { 100, 192, 10, 20, false };
	uint8_t params[KZ_KISS_PARAMS_MAX], w[1024], want[256];
	size_t plen, wl = 0, n;
	struct kz_radio_stats st;
	struct conn *c;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(uv_timer_init(&loop, &deadline), 0);
	assert_int_equal(uv_tcp_init(&loop, &server), 0);
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sin), 0);
	assert_int_equal(uv_tcp_bind(&server, (struct sockaddr *)&sin, 0), 0);
	assert_int_equal(uv_tcp_getsockname(&server, (struct sockaddr *)&ss,
	    &namelen), 0);
	snprintf(dev, sizeof(dev), "tcp:127.0.0.1:%d",
	    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	assert_int_equal(kz_kiss_encode_params(params, sizeof(params), &plen, 0,
	    &kp), 0);

	/* Bound, not listening: refused, reported, retried. */
	o = opts(dev, "JA1ABC-3", "JA1XYZ-12");
	assert_int_equal(kz_radio_open(&loop, &T.r, &o, tcp_on_frame,
	    tcp_on_state, &T), 0);
	RUN_UNTIL(T.downs == 1);
	assert_false(T.up);
	if (strstr(T.last_why, "connection refused") == NULL)
		fail_msg("refused: '%s'", T.last_why);
	assert_int_equal(uv_listen((uv_stream_t *)&server, 4, on_connection), 0);
	RUN_UNTIL(T.up && n_conns == 1 && conns[0].len >= plen);
	assert_true(strncmp(T.last_why, "connected to tcp:127.0.0.1:", 27) == 0);
	c = &conns[0];
	assert_int_equal(c->len, plen);
	assert_memory_equal(c->in, params, plen);
	c->len = 0;

	/* From the TNC: garbage, a frame on port 1, one for another station,
	 * one from another station, one with another PID, one with a broken
	 * header, a command frame, then ours. */
	memcpy(w, "\x01garbage\xC0", 9);
	wl = 9;
	wl += tnc_frame(w + wl, 1, "JA1ABC-3", "JA1XYZ-12", 0xF1, "port 1");
	wl += tnc_frame(w + wl, 0, "JA1ABC-4", "JA1XYZ-12", 0xF1, "not me");
	wl += tnc_frame(w + wl, 0, "JA1ABC-3", "JA1XYZ-11", 0xF1, "stranger");
	wl += tnc_frame(w + wl, 0, "JA1ABC-3", "JA1XYZ-12", 0xF0, "aprs");
	memcpy(w + wl, "\xC0\x00\x01\x02\x03\xC0\xC0\x06\x00\xC0", 10);
	wl += 10;
	wl += tnc_frame(w + wl, 0, "JA1ABC-3", "JA1XYZ-12", 0xF1, "hello");
	server_write(c, w, wl);
	RUN_UNTIL(tcp_frames == 1);
	assert_int_equal(tcp_got_len, 5);
	assert_memory_equal(tcp_got, "hello", 5);
	kz_radio_get_stats(T.r, &st);
	assert_int_equal(st.frames_in, 1);
	assert_int_equal(st.other_port, 1);
	assert_int_equal(st.not_for_us, 3);
	assert_int_equal(st.bad_header, 1);
	assert_int_equal(st.non_data, 1);
	assert_int_equal(st.bytes_in, wl);

	/* To the TNC: the exact frame, JA1XYZ-12 <- JA1ABC-3. */
	assert_int_equal(kz_radio_send(T.r, (const uint8_t *)"w\xC0rld", 5), 0);
	n = tnc_frame(want, 0, "JA1XYZ-12", "JA1ABC-3", 0xF1, "w\xC0rld");
	RUN_UNTIL(c->len >= n);
	assert_int_equal(c->len, n);
	assert_memory_equal(c->in, want, n);
	/* Too big for the MTU, and without AX.25 the empty payload. */
	memset(w, 'x', sizeof(w));
	assert_int_equal(kz_radio_send(T.r, w, 257), KZ_ERR_TOO_BIG);
	c->len = 0;
	assert_int_equal(kz_radio_send(T.r, w, 256), 0);
	RUN_UNTIL(c->len >= 2 + 1 + 16 + 256);
	assert_int_equal(c->len, 2 + 1 + 16 + 256);

	/* The TNC drops the connection: down, redialled, parameters again. */
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
	RUN_UNTIL(T.downs == 2);
	assert_string_equal(T.last_why, "the TNC closed the connection");
	assert_int_equal(kz_radio_send(T.r, w, 10), KZ_ERR_IO);
	RUN_UNTIL(T.up && n_conns == 2 && conns[1].len >= plen);
	c = &conns[1];
	assert_int_equal(c->len, plen);
	assert_memory_equal(c->in, params, plen);
	kz_radio_get_stats(T.r, &st);
	assert_int_equal(st.ups, 2);
	assert_int_equal(st.downs, 1);
	assert_int_equal(st.send_down, 1);

	/* A graceful close: what is queued goes out, then EOF. */
	c->len = 0;
	assert_int_equal(kz_radio_send(T.r, (const uint8_t *)"bye", 3), 0);
	T.closed = false;
	kz_radio_close(T.r, on_closed);
	RUN_UNTIL(T.closed && c->eof);
	n = tnc_frame(want, 0, "JA1XYZ-12", "JA1ABC-3", 0xF1, "bye");
	assert_int_equal(c->len, n);
	assert_memory_equal(c->in, want, n);

	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&server, NULL);
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(conns[0].closed && conns[1].closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A port that never opened (a missing device) closes at once. */
static void
test_kiss_missing(void **state)
{
	struct kz_radio_opts o;
	struct kz_radio *r;
	struct side M = { .name = "M" };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(uv_timer_init(&loop, &deadline), 0);
	o = opts("/dev/kizuna-no-such-modem", "JA1ABC-3", "JA1XYZ-12");
	assert_int_equal(kz_radio_open(&loop, &r, &o, tcp_on_frame, tcp_on_state,
	    &M), 0);
	RUN_UNTIL(M.downs == 1);
	assert_string_equal(M.last_why, "open /dev/kizuna-no-such-modem: No such "
	    "file or directory");
	/* /dev/null opens but is no tty. */
	{
		struct kz_radio *r2 = NULL, *r3 = (struct kz_radio *)&o;
		struct side N = { .name = "N" };

		o.device = "/dev/null";
		o.speed = 4800;
		assert_int_equal(kz_radio_open(&loop, &r2, &o, tcp_on_frame,
		    tcp_on_state, &N), 0);
		RUN_UNTIL(N.downs == 1);
		assert_string_equal(N.last_why, "open /dev/null: not a terminal "
		    "(a serial port was expected)");
		N.closed = false;
		kz_radio_close(r2, on_closed);
		RUN_UNTIL(N.closed);
		/* An invalid option: refused at open, nothing started. */
		o.speed = 12345;
		assert_int_equal(kz_radio_open(&loop, &r3, &o, tcp_on_frame,
		    tcp_on_state, &N), KZ_ERR_CONFIG);
		assert_null(r3);
	}
	M.closed = false;
	kz_radio_close(r, on_closed);
	RUN_UNTIL(M.closed);
	/* It did not retry after the close, nor report anything. */
	assert_int_equal(M.downs, 1);
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest pty[] = {
		cmocka_unit_test(test_kiss_pty),
	};
	const struct CMUnitTest tcp[] = {
		cmocka_unit_test(test_kiss_tcp),
		cmocka_unit_test(test_kiss_missing),
	};

	if (argc > 1 && strcmp(argv[1], "tcp") == 0)
		return cmocka_run_group_tests(tcp, NULL, NULL);
	return cmocka_run_group_tests(pty, NULL, NULL);
}
