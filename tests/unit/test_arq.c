/*
 * The reliable link layer (kizuna/arq.h) over the simulated link
 * (tests/linksim.h): the frame codec and its damage; exact delivery of
 * 1 MiB both ways at once at 0, 10 and 30 % loss with corruption,
 * truncation, duplication and reordering, for 100 seeds, and of a smaller
 * amount over a simulated 1200-baud half-duplex radio with collisions; a
 * dead link and a restarted peer reported down; foreign frames ignored;
 * pacing within the exact airtime bound and silence when idle; batched
 * acks and goodput on half duplex; flow control with a slow reader.
 *
 * Seeded runs print the seed that failed; KZ_SEED=N runs that seed alone,
 * KZ_TEST=test_name that test alone, KZ_TRACE=1 prints every frame.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/arq.h"
#include "kizuna/err.h"
#include "kizuna/util.h"
#include "linksim.h"
#include "testutil.h"

#define NEVER UINT64_MAX
#define SEC ((uint64_t)1000)
#define MIN (60 * SEC)
#define MIB (1024 * 1024)

/* ------------------------------------------------------------ helpers */

static uint64_t
mix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t v = mix(&seed);

		memcpy(p + i, &v, 8);
	}
	for (; i < n; i++)
		p[i] = (uint8_t)mix(&seed);
}

static struct kz_arq *
arq_new(const struct kz_arq_opts *o, uint32_t session, uint64_t now)
{
	struct kz_arq_opts c = *o;
	struct kz_arq *a;

	c.session = session;
	assert_int_equal(kz_arq_new(&a, &c, now), 0);
	return a;
}

/* The seeds to run: KZ_SEED alone when set, else first .. first + n - 1. */
static int
seeds(uint64_t *first, int n)
{
	const char *s = getenv("KZ_SEED");

	if (s != NULL && *s != '\0') {
		*first = strtoull(s, NULL, 10);
		return 1;
	}
	return n;
}

/* A radio link as the README's Direwolf measured it at 1200 baud. */
static void
radio_link(struct linksim_params *lp, uint32_t txdelay, uint32_t txtail)
{
	memset(lp, 0, sizeof(*lp));
	lp->bytes_per_s = 150;
	lp->frame_overhead = 19;
	lp->txdelay_ms = txdelay;
	lp->txtail_ms = txtail;
	lp->latency_ms = 50;
	lp->half_duplex = true;
	lp->csma = true;
	lp->slot_ms = 100;
	lp->dcd_ms = 30;
	lp->persist = 63;
}

/* The matching ARQ options (the link's exact rate and overheads). */
static void
radio_opts(struct kz_arq_opts *o, uint32_t tx_overhead)
{
	kz_arq_opts_radio(o, 1200);
	o->bytes_per_s = 150;
	o->tx_overhead_ms = tx_overhead;
}

/* ------------------------------------------------------------ transfers */

/* Stream bytes one end writes and the other reads. */
struct dir {
	uint8_t *data;
	size_t n, wr, rd;
};

struct xfer {
	struct dir d[2];		/* d[i] is written at end i */
	uint64_t rng;
	size_t max_write, max_read;
	uint64_t start, done_at;
	bool mismatch;
	uint8_t *rbuf;
	bool hold_reads;		/* the reader does not read */
	bool borrowed;			/* data belongs to the caller */
};

static void
xfer_init(struct xfer *x, size_t n0, size_t n1, uint64_t seed)
{
	memset(x, 0, sizeof(*x));
	x->d[0].n = n0;
	x->d[1].n = n1;
	x->d[0].data = malloc(n0 ? n0 : 1);
	x->d[1].data = malloc(n1 ? n1 : 1);
	x->rbuf = malloc(64 * 1024);
	assert_non_null(x->d[0].data);
	assert_non_null(x->d[1].data);
	assert_non_null(x->rbuf);
	fill_random(x->d[0].data, n0, seed * 2 + 1);
	fill_random(x->d[1].data, n1, seed * 2 + 2);
	x->rng = seed;
	x->max_write = 64 * 1024;
	x->max_read = 64 * 1024;
}

/* The same, over data the caller keeps (borrowed). */
static void
xfer_init_from(struct xfer *x, uint8_t *d0, size_t n0, uint8_t *d1,
    size_t n1, uint64_t seed)
{
	xfer_init(x, 0, 0, seed);
	free(x->d[0].data);
	free(x->d[1].data);
	x->d[0].data = d0;
	x->d[0].n = n0;
	x->d[1].data = d1;
	x->d[1].n = n1;
	x->borrowed = true;
}

static void
xfer_free(struct xfer *x)
{
	if (!x->borrowed) {
		free(x->d[0].data);
		free(x->d[1].data);
	}
	free(x->rbuf);
}

static void
xfer_write(struct xfer *x, struct kz_arq *a, struct dir *d, uint64_t now)
{
	while (d->wr < d->n) {
		size_t want = 1 + (size_t)(mix(&x->rng) % x->max_write), k;

		if (want > d->n - d->wr)
			want = d->n - d->wr;
		k = kz_arq_write(a, d->data + d->wr, want, now);
		d->wr += k;
		if (k < want)
			break;
	}
}

static void
xfer_read(struct xfer *x, struct kz_arq *a, struct dir *d)
{
	for (;;) {
		size_t cap = 1 + (size_t)(mix(&x->rng) % x->max_read);
		size_t k = kz_arq_read(a, x->rbuf, cap);

		if (k == 0)
			return;
		if (k > cap || d->rd + k > d->n ||
		    memcmp(x->rbuf, d->data + d->rd, k) != 0) {
			x->mismatch = true;
			return;
		}
		d->rd += k;
	}
}

static bool
xfer_complete(const struct xfer *x)
{
	return x->d[0].rd == x->d[0].n && x->d[1].rd == x->d[1].n;
}

static int
xfer_step(void *ctx, struct linksim_pair *p, uint64_t *wake)
{
	struct xfer *x = ctx;
	int i;

	(void)wake;
	for (i = 0; i < 2; i++) {
		xfer_write(x, p->arq[i], &x->d[i], p->now);
		if (!x->hold_reads)
			xfer_read(x, p->arq[1 - i], &x->d[i]);
	}
	if (x->mismatch || kz_arq_down(p->arq[0]) || kz_arq_down(p->arq[1]))
		return 1;
	if (xfer_complete(x) && kz_arq_idle(p->arq[0]) &&
	    kz_arq_idle(p->arq[1])) {
		x->done_at = p->now;
		return 1;
	}
	return 0;
}

/* KZ_TRACE=1: every frame handed down and delivered, decoded. */
static void
trace(void *ctx, int end, const uint8_t *f, size_t len, uint64_t now,
    const char *dir)
{
	struct kz_arq_frame g;
	int rc = kz_arq_frame_decode(&g, f, len);

	(void)ctx;
	if (rc < 0) {
		printf("%8" PRIu64 " %d %s %4zu bytes, %s\n", now, end, dir, len,
		    kz_errname(rc));
		return;
	}
	printf("%8" PRIu64 " %d %s seq %5u len %4zu ack %5u sack %04x wnd %2u"
	    "%s%s\n", now, end, dir, g.seq, g.len, g.ack, g.sack, g.wnd,
	    g.poll ? " POLL" : "", g.dst ? "" : " (no dst)");
}

static void
trace_out(void *ctx, int end, const uint8_t *f, size_t len, uint64_t now)
{
	trace(ctx, end, f, len, now, "out");
}

static void
trace_in(void *ctx, int end, const uint8_t *f, size_t len, uint64_t now)
{
	trace(ctx, end, f, len, now, " in");
}

struct run {
	struct linksim *ls;
	struct linksim_pair p;
	struct xfer x;
	int rc;
};

/* Two ends over a new linksim, moving n0 bytes from end 0 and n1 from
 * end 1: data0 and data1 when given (borrowed), else random bytes. */
static void
run_setup(struct run *r, const struct linksim_params *lp,
    const struct kz_arq_opts *o0, const struct kz_arq_opts *o1,
    uint64_t seed, uint8_t *data0, size_t n0, uint8_t *data1, size_t n1)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(linksim_new(&r->ls, lp, seed), 0);
	if (data0 != NULL && data1 != NULL)
		xfer_init_from(&r->x, data0, n0, data1, n1, seed);
	else
		xfer_init(&r->x, n0, n1, seed);
	r->p.ls = r->ls;
	r->p.arq[0] = arq_new(o0, 0x1000 + (uint32_t)seed * 2, 0);
	r->p.arq[1] = arq_new(o1, 0x1001 + (uint32_t)seed * 2, 0);
	r->p.step = xfer_step;
	r->p.ctx = &r->x;
	if (getenv("KZ_TRACE") != NULL) {
		r->p.tap_out = trace_out;
		r->p.tap_in = trace_in;
	}
}

static void
run_free(struct run *r)
{
	kz_arq_free(r->p.arq[0]);
	kz_arq_free(r->p.arq[1]);
	linksim_free(r->ls);
	xfer_free(&r->x);
}

/* Fails naming the seed, its loss and what went wrong. */
static void
run_check(struct run *r, const char *what, uint64_t seed)
{
	const char *why = NULL;

	if (r->rc < 0)
		why = "the clock stood still";
	else if (r->x.mismatch)
		why = "a byte read differs from the byte written";
	else if (kz_arq_down(r->p.arq[0]) || kz_arq_down(r->p.arq[1]))
		why = kz_arq_down(r->p.arq[0]) ? kz_arq_reason(r->p.arq[0]) :
		    kz_arq_reason(r->p.arq[1]);
	else if (r->rc == 0 || !xfer_complete(&r->x))
		why = "not delivered within the time limit";
	if (why != NULL) {
		fprintf(stderr, "%s: seed %" PRIu64 " failed (replay with "
		    "KZ_SEED=%" PRIu64 "): %s; read %zu/%zu and %zu/%zu at "
		    "%" PRIu64 " ms\n", what, seed, seed, why, r->x.d[0].rd,
		    r->x.d[0].n, r->x.d[1].rd, r->x.d[1].n, r->p.now);
		fail_msg("%s: seed %" PRIu64 ": %s", what, seed, why);
	}
}

/* ------------------------------------------------------------ codec */

static void
test_crc32c(void **state)
{
	(void)state;
	/* The check value of CRC-32C (RFC 3720, iSCSI). */
	assert_int_equal(kz_arq_crc32c((const uint8_t *)"123456789", 9),
	    0xe3069283u);
	assert_int_equal(kz_arq_crc32c(NULL, 0), 0);
}

static void
test_codec_roundtrip(void **state)
{
	static const uint8_t pay[5] = { 1, 2, 3, 0xc0, 0xdb };
	struct kz_arq_frame f = { .poll = true, .src = 0xdeadbeef,
	    .dst = 0x01020304, .ack = 0xfffe, .sack = 0x8001, .wnd = 16,
	    .seq = 0x1234, .payload = pay, .len = sizeof(pay) }, g;
	uint8_t buf[64];
	size_t n;

	(void)state;
	assert_int_equal(kz_arq_frame_encode(&f, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, KZ_ARQ_OVERHEAD + sizeof(pay));
	/* The documented layout, byte for byte. */
	assert_int_equal(buf[0], 0x60);
	assert_int_equal(buf[1], 0xde);
	assert_int_equal(buf[8], 0x04);
	assert_int_equal(buf[9], 0xff);
	assert_int_equal(buf[10], 0xfe);
	assert_int_equal(buf[11], 0x80);
	assert_int_equal(buf[13], 16);
	assert_int_equal(buf[14], 0x12);
	assert_int_equal(buf[17], 5);
	assert_memory_equal(buf + KZ_ARQ_HEADER, pay, sizeof(pay));
	assert_int_equal(kz_get_be32(buf + n - 4), kz_arq_crc32c(buf, n - 4));
	assert_int_equal(kz_arq_frame_decode(&g, buf, n), 0);
	assert_true(g.poll);
	assert_int_equal(g.src, f.src);
	assert_int_equal(g.dst, f.dst);
	assert_int_equal(g.ack, f.ack);
	assert_int_equal(g.sack, f.sack);
	assert_int_equal(g.wnd, f.wnd);
	assert_int_equal(g.seq, f.seq);
	assert_int_equal(g.len, sizeof(pay));
	assert_memory_equal(g.payload, pay, sizeof(pay));

	/* A pure ack: no payload, no POLL. */
	f.poll = false;
	f.len = 0;
	assert_int_equal(kz_arq_frame_encode(&f, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, KZ_ARQ_OVERHEAD);
	assert_int_equal(buf[0], 0x40);
	assert_int_equal(kz_arq_frame_decode(&g, buf, n), 0);
	assert_false(g.poll);
	assert_int_equal(g.len, 0);

	/* What cannot be encoded. */
	f.src = 0;
	assert_int_equal(kz_arq_frame_encode(&f, buf, sizeof(buf), &n),
	    KZ_ERR_INVAL);
	f.src = 1;
	f.wnd = KZ_ARQ_WINDOW_MAX + 1;
	assert_int_equal(kz_arq_frame_encode(&f, buf, sizeof(buf), &n),
	    KZ_ERR_INVAL);
	f.wnd = 0;
	f.payload = pay;
	f.len = sizeof(pay);
	assert_int_equal(kz_arq_frame_encode(&f, buf, KZ_ARQ_OVERHEAD + 4,
	    &n), KZ_ERR_TOO_BIG);
	f.len = KZ_ARQ_MTU_MAX;
	assert_int_equal(kz_arq_frame_encode(&f, buf, sizeof(buf), &n),
	    KZ_ERR_TOO_BIG);
}

/* A frame with a valid CRC over whatever bytes the test chose. */
static size_t
forge(uint8_t *buf, uint8_t flags, uint32_t src, uint32_t dst, uint8_t wnd,
    uint16_t seq, size_t len)
{
	struct kz_arq_frame f = { .src = src ? src : 1, .dst = dst, .wnd = 0,
	    .seq = seq, .len = len, .payload = buf + KZ_ARQ_HEADER };
	size_t n;

	assert_int_equal(kz_arq_frame_encode(&f, buf, 256, &n), 0);
	buf[0] = flags;
	buf[1] = (uint8_t)(src >> 24);
	buf[2] = (uint8_t)(src >> 16);
	buf[3] = (uint8_t)(src >> 8);
	buf[4] = (uint8_t)src;
	buf[13] = wnd;
	kz_put_be32(buf + n - 4, kz_arq_crc32c(buf, n - 4));
	return n;
}

/* Everything an outsider can see of an end. */
struct snap {
	struct kz_arq_stats st;
	uint64_t next;
	bool down, idle;
};

static void
snap(struct kz_arq *a, uint64_t now, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	kz_arq_get_stats(a, &s->st);
	s->next = kz_arq_next_event(a, now);
	s->down = kz_arq_down(a);
	s->idle = kz_arq_idle(a);
}

/* An end took one frame of len bytes that it dropped: frames_in and
 * bytes_in moved, the drop counters by the deltas given, nothing else. */
static void
assert_unchanged(const struct snap *before, const struct snap *after,
    size_t len, int bad, int malformed, int foreign)
{
	struct snap b = *before;

	b.st.frames_in++;
	b.st.bytes_in += len;
	b.st.bad_crc += (uint64_t)bad;
	b.st.malformed += (uint64_t)malformed;
	b.st.foreign += (uint64_t)foreign;
	assert_memory_equal(&b.st, &after->st, sizeof(b.st));
	assert_true(b.next == after->next);
	assert_int_equal(b.down, after->down);
	assert_int_equal(b.idle, after->idle);
}

/* Every single-bit flip and every truncation of f is dropped, counted as
 * bad_crc, and leaves rx as it was (no lock-on, no bytes, no timer). */
static void
damage_all(struct kz_arq *rx, const uint8_t *f, size_t n, uint64_t now)
{
	uint8_t m[KZ_ARQ_MTU_MAX];
	struct kz_arq_frame g;
	struct snap before, after;
	size_t bit, len;

	snap(rx, now, &before);
	for (bit = 0; bit < n * 8; bit++) {
		memcpy(m, f, n);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		/* A flip in the len field makes the size disagree; any other
		 * the CRC catches. */
		assert_true(kz_arq_frame_decode(&g, m, n) == (bit / 8 == 16 ||
		    bit / 8 == 17 ? KZ_ERR_TRUNCATED : KZ_ERR_CORRUPT));
		assert_int_equal(kz_arq_input(rx, m, n, now), 0);
		snap(rx, now, &after);
		assert_unchanged(&before, &after, n, 1, 0, 0);
		before = after;
	}
	for (len = 0; len < n; len++) {
		assert_int_equal(kz_arq_frame_decode(&g, f, len),
		    KZ_ERR_TRUNCATED);
		assert_int_equal(kz_arq_input(rx, f, len, now), 0);
		snap(rx, now, &after);
		assert_unchanged(&before, &after, len, 1, 0, 0);
		before = after;
	}
}

static void
test_codec_damage(void **state)
{
	struct kz_arq_opts o;
	struct kz_arq *tx, *rx;
	uint8_t f1[KZ_ARQ_MTU_MAX], f2[KZ_ARQ_MTU_MAX], buf[512], msg[300];
	size_t n1, n2, len;
	struct kz_arq_stats st;

	(void)state;
	kz_arq_opts_lan(&o);
	o.mtu = 256;
	tx = arq_new(&o, 0xa1a1a1a1, 0);
	rx = arq_new(&o, 0xb2b2b2b2, 0);
	fill_random(msg, sizeof(msg), 7);
	assert_int_equal(kz_arq_write(tx, msg, sizeof(msg), 0), sizeof(msg));
	assert_int_equal(kz_arq_output(tx, 0, f1, &n1), 0);
	assert_int_equal(kz_arq_output(tx, 0, f2, &n2), 0);
	assert_int_equal(n1, 256);
	assert_int_equal(n2, KZ_ARQ_OVERHEAD + sizeof(msg) - (256 -
	    KZ_ARQ_OVERHEAD));
	assert_int_equal(kz_arq_output(tx, 0, buf, &len), 1);

	/* Before lock-on: nothing damaged may name a peer. */
	damage_all(rx, f1, n1, 1);
	kz_arq_get_stats(rx, &st);
	assert_int_equal(st.peer, 0);
	assert_int_equal(st.bad_crc, n1 * 8 + n1);
	assert_int_equal(kz_arq_read(rx, buf, sizeof(buf)), 0);
	assert_int_equal(kz_arq_output(rx, 1, buf, &len), 1);
	assert_true(kz_arq_next_event(rx, 1) == NEVER);

	/* The frame itself is taken, and locks rx onto tx. */
	assert_int_equal(kz_arq_input(rx, f1, n1, 2), 0);
	kz_arq_get_stats(rx, &st);
	assert_int_equal(st.peer, 0xa1a1a1a1);
	assert_int_equal(st.data_in, 1);

	/* After lock-on: a damaged frame neither restarts the peer nor
	 * delivers anything. */
	damage_all(rx, f2, n2, 3);
	assert_false(kz_arq_down(rx));
	assert_int_equal(kz_arq_read(rx, buf, sizeof(buf)), n1 -
	    KZ_ARQ_OVERHEAD);
	assert_memory_equal(buf, msg, n1 - KZ_ARQ_OVERHEAD);
	assert_int_equal(kz_arq_input(rx, f2, n2, 4), 0);
	assert_int_equal(kz_arq_read(rx, buf, sizeof(buf)), n2 -
	    KZ_ARQ_OVERHEAD);
	assert_memory_equal(buf, msg + n1 - KZ_ARQ_OVERHEAD,
	    n2 - KZ_ARQ_OVERHEAD);

	/* Valid CRCs over impossible fields: counted as malformed. */
	kz_arq_get_stats(rx, &st);
	len = forge(buf, 0x80, 0xa1a1a1a1, 0, 0, 9, 4);	/* version 2 */
	assert_int_equal(kz_arq_frame_decode(&(struct kz_arq_frame){ 0 },
	    buf, len), KZ_ERR_MALFORMED);
	assert_int_equal(kz_arq_input(rx, buf, len, 5), 0);
	len = forge(buf, 0x41, 0xa1a1a1a1, 0, 0, 9, 4);	/* reserved bit */
	assert_int_equal(kz_arq_input(rx, buf, len, 5), 0);
	len = forge(buf, 0x40, 0xa1a1a1a1, 0, 17, 9, 4);	/* window 17 */
	assert_int_equal(kz_arq_input(rx, buf, len, 5), 0);
	len = forge(buf, 0x40, 0, 0, 0, 9, 4);		/* src 0 */
	buf[1] = buf[2] = buf[3] = buf[4] = 0;
	kz_put_be32(buf + len - 4, kz_arq_crc32c(buf, len - 4));
	assert_int_equal(kz_arq_input(rx, buf, len, 5), 0);
	{
		struct kz_arq_stats st2;

		kz_arq_get_stats(rx, &st2);
		assert_int_equal(st2.malformed, st.malformed + 4);
		assert_int_equal(st2.data_in, st.data_in);
		assert_int_equal(kz_arq_read(rx, buf, sizeof(buf)), 0);
	}
	kz_arq_free(tx);
	kz_arq_free(rx);
}

/* ------------------------------------------------------------ acceptance */

/* One seed of the fast link: a full-duplex link at 2 MB/s (most seeds) or
 * a half-duplex one with CSMA (every fourth), 1 MiB and a few KiB each way
 * at once, the seed choosing MTU, window, delays, the write and read sizes
 * and the faults. */
static void
fast_run(uint64_t seed, double loss, uint8_t *data[2], size_t n0, size_t n1,
    struct kz_arq_stats *sum)
{
	struct linksim_params lp = { 0 };
	struct kz_arq_opts o;
	uint64_t r = seed * 7919;
	struct kz_arq_stats st;
	struct run run;
	int i;

	lp.bytes_per_s = 2000000;
	lp.latency_ms = 1 + (uint32_t)(mix(&r) % 20);
	lp.loss = loss;
	lp.corrupt = 0.01 + (double)(mix(&r) % 3) / 100;
	lp.truncate = 0.01;
	lp.dup = 0.02;
	if (seed % 2 == 0) {
		lp.reorder = 0.02;
		lp.reorder_ms = 2 + (uint32_t)(mix(&r) % 20);
	}
	if (seed % 3 == 0 && loss > 0) {
		lp.ge_enter = 0.01;
		lp.ge_leave = 0.3;
		lp.ge_loss = 0.7;
	}
	kz_arq_opts_lan(&o);
	o.mtu = 200 + (size_t)(mix(&r) % (KZ_ARQ_MTU_MAX - 199));
	o.window = (uint16_t)(4 + mix(&r) % (KZ_ARQ_WINDOW_MAX - 3));
	o.ack_delay_ms = 2 + (uint32_t)(mix(&r) % 30);
	o.rto_min_ms = 50;
	o.rto_initial_ms = 300;
	o.rto_max_ms = 2000;
	o.dead_ms = 120 * SEC;
	o.send_buffer = 4096 + (size_t)(mix(&r) % (256 * 1024));
	if (seed % 4 == 1) {
		lp.half_duplex = true;
		lp.csma = true;
		lp.slot_ms = 1;
		lp.dcd_ms = 1;
		lp.persist = 127;
		lp.txdelay_ms = 1;
		o.half_duplex = true;
		o.burst = 8;
		o.ack_delay_ms = 3 + lp.latency_ms;
	}
	run_setup(&run, &lp, &o, &o, seed, data[0], n0, data[1], n1);
	run.x.max_write = 1 + (size_t)(mix(&r) % (seed % 5 == 0 ? 100 :
	    64 * 1024));
	run.x.max_read = 1 + (size_t)(mix(&r) % (seed % 7 == 0 ? 50 :
	    64 * 1024));
	run.rc = linksim_run(&run.p, 2 * 3600 * SEC);
	run_check(&run, "acceptance (fast link)", seed);
	for (i = 0; i < 2; i++) {
		kz_arq_get_stats(run.p.arq[i], &st);
		sum->data_frames += st.data_frames;
		sum->retransmits += st.retransmits;
		sum->acks_sent += st.acks_sent;
		sum->bad_crc += st.bad_crc;
		sum->duplicates += st.duplicates;
		sum->timeouts += st.timeouts;
		sum->stream_in += st.stream_in;
	}
	run_free(&run);
}

static void
test_acceptance_fast(void **state)
{
	static const double losses[] = { 0, 0.10, 0.30 };
	uint8_t *data[2] = { malloc(MIB + 4096), malloc(MIB + 4096) };
	struct kz_arq_stats sum[3];
	uint64_t first = 1;
	int n = seeds(&first, 100), i, l;

	(void)state;
	assert_non_null(data[0]);
	assert_non_null(data[1]);
	memset(sum, 0, sizeof(sum));
	for (i = 0; i < n; i++) {
		uint64_t seed = first + (uint64_t)i, r = seed;
		size_t n0 = MIB + mix(&r) % 4096, n1 = MIB + mix(&r) % 4096;

		fill_random(data[0], n0, seed * 2 + 1);
		fill_random(data[1], n1, seed * 2 + 2);
		for (l = 0; l < 3; l++)
			fast_run(seed, losses[l], data, n0, n1, &sum[l]);
	}
	for (l = 0; l < 3; l++) {
		printf("acceptance at %2.0f %% loss: %d seeds, %" PRIu64 " bytes "
		    "delivered exactly; %" PRIu64 " data frames (%" PRIu64
		    " sent again), %" PRIu64 " acks, %" PRIu64 " damaged "
		    "frames dropped, %" PRIu64 " duplicates, %" PRIu64
		    " timeouts\n", losses[l] * 100, n, sum[l].stream_in,
		    sum[l].data_frames, sum[l].retransmits, sum[l].acks_sent,
		    sum[l].bad_crc, sum[l].duplicates, sum[l].timeouts);
		/* The faults did reach the ends. */
		assert_true(sum[l].bad_crc > 0 && sum[l].duplicates > 0);
	}
	assert_true(sum[2].retransmits > sum[1].retransmits);
	free(data[0]);
	free(data[1]);
}

/* 1200 baud, 1 s of TXDELAY + TXTAIL per transmission, half duplex, 10 %
 * loss, corruption and duplicates: a few KiB each way at once.  Odd seeds
 * have CSMA (collisions only when both key up in the same slot); even
 * seeds have none (the other station is hidden, or the TNC is in FULLDUP
 * mode), so transmissions collide whenever they overlap. */
static void
test_acceptance_radio(void **state)
{
	uint64_t first = 1001, collided = 0;
	int n = seeds(&first, 8), i;

	(void)state;
	for (i = 0; i < n; i++) {
		uint64_t seed = first + (uint64_t)i, r = seed;
		struct linksim_params lp;
		struct kz_arq_opts o;
		struct linksim_stats s0, s1;
		struct run run;
		double secs;

		radio_link(&lp, 800, 200);
		lp.csma = seed % 2 == 1;
		lp.loss = 0.10;
		lp.corrupt = 0.01;
		lp.truncate = 0.01;
		lp.dup = 0.01;
		radio_opts(&o, 1000);
		run_setup(&run, &lp, &o, &o, seed, NULL, 2048 + mix(&r) % 4096,
		    NULL, 2048 + mix(&r) % 4096);
		run.x.max_write = 1 + (size_t)(mix(&r) % 600);
		run.rc = linksim_run(&run.p, 6 * 3600 * SEC);
		run_check(&run, "acceptance (1200 baud)", seed);
		linksim_get_stats(run.ls, 0, &s0);
		linksim_get_stats(run.ls, 1, &s1);
		secs = (double)run.x.done_at / 1000;
		printf("1200 baud seed %" PRIu64 "%s: %zu + %zu bytes in %.0f s, "
		    "goodput %.2f of 150 B/s (frames collided %" PRIu64 "+%"
		    PRIu64 ", lost %" PRIu64 "+%" PRIu64 ")\n", seed,
		    lp.csma ? " (CSMA)" : "", run.x.d[0].n, run.x.d[1].n, secs,
		    (double)(run.x.d[0].n + run.x.d[1].n) / secs / 150,
		    s0.collided, s1.collided, s0.lost, s1.lost);
		collided += s0.collided + s1.collided;
		run_free(&run);
	}
	/* The runs did meet collisions (unless one seed was replayed). */
	assert_true(n == 1 || collided > 0);
}

/* ------------------------------------------------------------ down */

struct watch {
	struct xfer x;
	uint64_t last_in[2];		/* latest frame delivered to each end */
	uint64_t frames_out[2];
	uint64_t stop_at;
};

static void
watch_in(void *ctx, int end, const uint8_t *f, size_t len, uint64_t now)
{
	struct watch *w = ctx;

	(void)f;
	(void)len;
	w->last_in[end] = now;
}

static void
watch_out(void *ctx, int end, const uint8_t *f, size_t len, uint64_t now)
{
	struct watch *w = ctx;

	(void)f;
	(void)len;
	(void)now;
	w->frames_out[end]++;
}

static int
watch_step(void *ctx, struct linksim_pair *p, uint64_t *wake)
{
	struct watch *w = ctx;
	int i;

	for (i = 0; i < 2; i++) {
		xfer_write(&w->x, p->arq[i], &w->x.d[i], p->now);
		xfer_read(&w->x, p->arq[1 - i], &w->x.d[i]);
	}
	*wake = w->stop_at;
	return w->x.mismatch || p->now >= w->stop_at;
}

static void
test_dead_link(void **state)
{
	struct linksim_params lp;
	struct kz_arq_opts o;
	struct kz_arq_stats st, st2;
	struct linksim *ls;
	struct linksim_pair p = { 0 };
	struct watch w = { 0 };
	uint64_t cut = 100 * SEC;
	uint8_t buf[KZ_ARQ_MTU_MAX];
	size_t len;

	(void)state;
	radio_link(&lp, 300, 100);
	radio_opts(&o, 400);
	o.dead_ms = 90 * SEC;
	assert_int_equal(linksim_new(&ls, &lp, 5), 0);
	/* One way only: end 1 never has anything to send. */
	xfer_init(&w.x, 64 * 1024, 0, 5);
	p.ls = ls;
	p.arq[0] = arq_new(&o, 0x51, 0);
	p.arq[1] = arq_new(&o, 0x52, 0);
	p.step = watch_step;
	p.tap_in = watch_in;
	p.tap_out = watch_out;
	p.ctx = &w;
	w.stop_at = cut;
	assert_int_equal(linksim_run(&p, NEVER - 1), 1);
	assert_false(w.x.mismatch);
	assert_true(w.x.d[0].rd > 0 && w.x.d[0].rd < w.x.d[0].n);
	kz_arq_get_stats(p.arq[0], &st);

	/* From now on every frame is lost. */
	linksim_params(ls)->loss = 1;
	w.stop_at = cut + 20 * MIN;
	assert_int_equal(linksim_run(&p, NEVER - 1), 1);
	assert_true(kz_arq_down(p.arq[0]));
	assert_non_null(strstr(kz_arq_reason(p.arq[0]),
	    "no frame from the peer for 90000 ms"));
	/* Down exactly dead_ms after the last frame it heard, which came
	 * before the cut (+ the link's latency): within dead_ms + one RTO of
	 * the cut at most. */
	assert_true(w.last_in[0] <= cut + lp.latency_ms);
	kz_arq_get_stats(p.arq[0], &st2);
	assert_true(st2.down_ms == w.last_in[0] + o.dead_ms);
	assert_true(st2.down_ms <= cut + o.dead_ms + st.rto_ms);
	printf("dead link: cut at %" PRIu64 " s, last frame heard at %" PRIu64
	    " ms, down at %" PRIu64 " ms (dead_ms %u, rto %u ms)\n",
	    cut / SEC, w.last_in[0], st2.down_ms, o.dead_ms, st.rto_ms);
	/* A down link takes nothing, sends nothing, wants no wake-up. */
	assert_int_equal(kz_arq_write(p.arq[0], buf, 10, p.now), 0);
	assert_int_equal(kz_arq_output(p.arq[0], p.now, buf, &len), 1);
	assert_true(kz_arq_next_event(p.arq[0], p.now) == NEVER);
	/* The receiver owes nothing and has nothing to send: it is not
	 * down, and silent. */
	assert_false(kz_arq_down(p.arq[1]));
	assert_true(kz_arq_next_event(p.arq[1], p.now) == NEVER);

	/* An end that never hears anything: down dead_ms after the write. */
	{
		struct kz_arq *lone = arq_new(&o, 0x53, 1000);
		uint64_t t;

		assert_int_equal(kz_arq_write(lone, buf, 100, 5000), 100);
		for (t = 5000; !kz_arq_down(lone);
		    t = kz_arq_next_event(lone, t)) {
			assert_true(t <= 5000 + o.dead_ms);
			while (kz_arq_output(lone, t, buf, &len) == 0)
				;
		}
		kz_arq_get_stats(lone, &st2);
		assert_true(st2.down_ms == 5000 + o.dead_ms);
		kz_arq_free(lone);
	}
	kz_arq_free(p.arq[0]);
	kz_arq_free(p.arq[1]);
	linksim_free(ls);
	xfer_free(&w.x);
}

/* Hands every frame a has for now to b; returns how many. */
static int
pass(struct kz_arq *a, struct kz_arq *b, uint64_t now)
{
	uint8_t f[KZ_ARQ_MTU_MAX];
	size_t len;
	int n = 0;

	while (kz_arq_output(a, now, f, &len) == 0) {
		if (b != NULL)
			assert_int_equal(kz_arq_input(b, f, len, now), 0);
		n++;
	}
	return n;
}

static void
test_peer_restart(void **state)
{
	struct kz_arq_opts o;
	struct kz_arq *a, *b, *b2;
	struct kz_arq_stats st;
	uint8_t buf[4096], f[KZ_ARQ_MTU_MAX];
	size_t len;
	uint64_t now = 0;
	int i, n;

	(void)state;
	kz_arq_opts_lan(&o);
	a = arq_new(&o, 0xaaaa0001, 0);
	b = arq_new(&o, 0xbbbb0001, 0);
	assert_int_equal(kz_arq_write(a, (const uint8_t *)"hello", 5, now), 5);
	assert_int_equal(kz_arq_write(b, (const uint8_t *)"world", 5, now), 5);
	for (i = 0; i < 10; i++, now += 50) {
		pass(a, b, now);
		pass(b, a, now);
	}
	assert_int_equal(kz_arq_read(b, buf, sizeof(buf)), 5);
	assert_int_equal(kz_arq_read(a, buf, sizeof(buf)), 5);
	assert_true(kz_arq_idle(a) && kz_arq_idle(b));

	/* A frame from a third session addressed to someone else: ignored. */
	{
		struct kz_arq_frame ff = { .src = 0xcccc0001, .dst = 0xdddd0001,
		    .seq = 0, .payload = (const uint8_t *)"evil", .len = 4 };
		struct snap before, after;

		assert_int_equal(kz_arq_frame_encode(&ff, f, sizeof(f), &len),
		    0);
		snap(a, now, &before);
		assert_int_equal(kz_arq_input(a, f, len, now), 0);
		snap(a, now, &after);
		assert_unchanged(&before, &after, len, 0, 0, 1);
	}

	/* b restarts as b2.  What a sends to b's session reaches b2 and is
	 * ignored: b2 does not lock onto a. */
	kz_arq_free(b);
	b2 = arq_new(&o, 0xbbbb0002, now);
	assert_int_equal(kz_arq_write(a, (const uint8_t *)"again", 5, now), 5);
	n = pass(a, b2, now);
	assert_true(n >= 1);
	kz_arq_get_stats(b2, &st);
	assert_int_equal(st.foreign, n);
	assert_int_equal(st.peer, 0);
	assert_int_equal(kz_arq_read(b2, buf, sizeof(buf)), 0);
	assert_true(kz_arq_next_event(b2, now) == NEVER);

	/* b2 speaks: a sees a new session of its peer and goes down. */
	assert_int_equal(kz_arq_write(b2, (const uint8_t *)"hi", 2, now), 2);
	assert_int_equal(pass(b2, a, now), 1);
	assert_true(kz_arq_down(a));
	assert_string_equal(kz_arq_reason(a),
	    "peer restarted (session bbbb0002, was bbbb0001)");
	/* Down is final: later frames change nothing, nothing goes out. */
	assert_int_equal(kz_arq_write(a, buf, 1, now), 0);
	assert_int_equal(kz_arq_output(a, now + 100000, f, &len), 1);
	kz_arq_free(a);
	kz_arq_free(b2);
}

/* ------------------------------------------------------------ pacing */

#define TAP_MAX 4096

struct tap {
	struct xfer x;
	uint64_t t[2][TAP_MAX];
	size_t len[2][TAP_MAX];
	size_t n[2];
	uint64_t stop_at;
	enum { T_SILENT, T_STREAM, T_FINISH } mode;
};

static void
tap_out(void *ctx, int end, const uint8_t *f, size_t len, uint64_t now)
{
	struct tap *t = ctx;

	(void)f;
	assert_true(t->n[end] < TAP_MAX);
	t->t[end][t->n[end]] = now;
	t->len[end][t->n[end]++] = len;
}

static int
tap_step(void *ctx, struct linksim_pair *p, uint64_t *wake)
{
	struct tap *t = ctx;

	if (t->mode == T_FINISH && xfer_step(&t->x, p, wake))
		return 1;
	if (t->mode == T_STREAM) {
		xfer_write(&t->x, p->arq[0], &t->x.d[0], p->now);
		xfer_read(&t->x, p->arq[1], &t->x.d[0]);
	}
	*wake = t->stop_at;
	return p->now >= t->stop_at || t->x.mismatch;
}

/* Over every stretch of frames end handed down, from the i-th to the
 * j-th, the bytes on air (with the per-frame overhead) stay within what
 * bytes_per_s allows over t_j - t_i, plus one transmission: TXDELAY and
 * `burst` full frames (a frame is charged in whole µs, rounded up). */
static void
assert_paced(const struct tap *t, int end, const struct kz_arq_opts *o,
    uint64_t *worst_ppm)
{
	uint64_t frame_us = ((o->mtu + o->frame_overhead) * 1000000u +
	    o->bytes_per_s - 1) / o->bytes_per_s;
	uint64_t budget_us = o->tx_overhead_ms * 1000u + o->burst * frame_us;
	size_t i, j;

	for (i = 0; i < t->n[end]; i++) {
		uint64_t bytes = 0;

		for (j = i; j < t->n[end]; j++) {
			uint64_t allowed = (uint64_t)o->bytes_per_s *
			    ((t->t[end][j] - t->t[end][i]) * 1000u + budget_us);

			bytes += t->len[end][j] + o->frame_overhead;
			if (bytes * 1000000u > allowed)
				fail_msg("end %d: frames %zu..%zu: %" PRIu64
				    " bytes in %" PRIu64 " ms", end, i, j, bytes,
				    t->t[end][j] - t->t[end][i]);
			if (bytes * 1000000u * 1000000u / allowed > *worst_ppm)
				*worst_ppm = bytes * 1000000u * 1000000u /
				    allowed;
		}
	}
}

static void
pacing_run(bool half_duplex)
{
	struct linksim_params lp;
	struct kz_arq_opts o;
	struct linksim *ls;
	struct linksim_pair p = { 0 };
	struct tap *t = calloc(1, sizeof(*t));
	struct linksim_stats s0;
	uint64_t total = 0, worst = 0, bound;
	uint8_t buf[KZ_ARQ_MTU_MAX];
	size_t i;

	assert_non_null(t);
	radio_link(&lp, 1000, 0);
	lp.half_duplex = half_duplex;
	radio_opts(&o, 1000);
	o.half_duplex = half_duplex;
	o.burst = 4;
	assert_int_equal(linksim_new(&ls, &lp, 11), 0);
	xfer_init(&t->x, 32 * 1024, 0, 11);
	p.ls = ls;
	p.arq[0] = arq_new(&o, 0x61, 0);
	p.arq[1] = arq_new(&o, 0x62, 0);
	p.step = tap_step;
	p.tap_out = tap_out;
	p.ctx = t;

	/* Nothing written: ten minutes of silence, no wake-up wanted. */
	t->stop_at = 10 * MIN;
	assert_int_equal(linksim_run(&p, NEVER - 1), 1);
	assert_int_equal(t->n[0] + t->n[1], 0);
	assert_true(kz_arq_next_event(p.arq[0], p.now) == NEVER);

	/* A simulated minute of a transfer bigger than a minute's budget. */
	t->mode = T_STREAM;
	t->stop_at = p.now + MIN;
	assert_int_equal(linksim_run(&p, NEVER - 1), 1);
	assert_false(t->x.mismatch);
	assert_paced(t, 0, &o, &worst);
	assert_paced(t, 1, &o, &worst);
	for (i = 0; i < t->n[0]; i++)
		total += t->len[0][i] + o.frame_overhead;
	bound = (uint64_t)o.bytes_per_s * (60 + o.tx_overhead_ms / 1000) +
	    o.burst * (o.mtu + o.frame_overhead);
	assert_true(total <= bound);
	assert_true(total >= bound / 2);	/* and it does use the link */
	linksim_get_stats(ls, 0, &s0);
	/* The modem never held more than one transmission's frames. */
	assert_true(s0.max_queue <= o.burst);
	printf("pacing (%s): %zu frames, %" PRIu64 " bytes on air in a "
	    "minute (bound %" PRIu64 "), worst stretch at %.3f of its bound, "
	    "modem queue <= %zu\n", half_duplex ? "half duplex" : "full duplex",
	    t->n[0], total, bound, (double)worst / 1000000, s0.max_queue);

	/* Finish the transfer, then an idle half hour: not one frame. */
	t->mode = T_FINISH;
	t->stop_at = NEVER - 1;
	assert_int_equal(linksim_run(&p, p.now + 2 * 3600 * SEC), 1);
	assert_true(xfer_complete(&t->x));
	while (linksim_busy(ls))
		assert_int_equal(linksim_run(&p, linksim_next_event(ls)), 0);
	{
		size_t n0 = t->n[0], n1 = t->n[1];

		t->mode = T_SILENT;
		t->stop_at = p.now + 30 * MIN;
		assert_int_equal(linksim_run(&p, NEVER - 1), 1);
		assert_int_equal(t->n[0], n0);
		assert_int_equal(t->n[1], n1);
		assert_true(kz_arq_next_event(p.arq[0], p.now) == NEVER);
		assert_true(kz_arq_next_event(p.arq[1], p.now) == NEVER);
		assert_int_equal(kz_arq_output(p.arq[0], p.now, buf, &i), 1);
	}
	kz_arq_free(p.arq[0]);
	kz_arq_free(p.arq[1]);
	linksim_free(ls);
	xfer_free(&t->x);
	free(t);
}

static void
test_pacing(void **state)
{
	(void)state;
	pacing_run(true);
	pacing_run(false);
}

/* ------------------------------------------------------------ half duplex */

/* A one-way transfer over 1200-baud half duplex with a tuned TNC
 * (TXDELAY 100 ms, TXTAIL 20 ms, SLOTTIME 10 ms, PERSIST 255: the
 * README's "tuned" rows), or Direwolf's defaults when tuned is false.
 * Returns stream bytes delivered per second over the link's 150 B/s. */
static double
one_way(uint64_t seed, double loss, bool tuned, size_t bytes,
    struct kz_arq_stats *tx, struct kz_arq_stats *rx)
{
	struct linksim_params lp;
	struct kz_arq_opts o;
	struct run run;
	double g;

	if (tuned) {
		radio_link(&lp, 100, 20);
		lp.slot_ms = 10;
		lp.persist = 255;
		radio_opts(&o, 120);
	} else {
		radio_link(&lp, 300, 100);
		radio_opts(&o, 400);
	}
	lp.loss = loss;
	run_setup(&run, &lp, &o, &o, seed, NULL, bytes, NULL, 0);
	run.rc = linksim_run(&run.p, 6 * 3600 * SEC);
	run_check(&run, "one-way 1200 baud", seed);
	kz_arq_get_stats(run.p.arq[0], tx);
	kz_arq_get_stats(run.p.arq[1], rx);
	g = (double)bytes / ((double)run.x.done_at / 1000) / 150;
	run_free(&run);
	return g;
}

static void
test_half_duplex_acks(void **state)
{
	struct kz_arq_stats tx, rx;

	(void)state;
	one_way(21, 0, false, 16 * 1024, &tx, &rx);
	printf("half duplex: %" PRIu64 " data frames received, %" PRIu64
	    " ack frames sent (1 per %.1f)\n", rx.data_in, rx.acks_sent,
	    (double)rx.data_in / (double)rx.acks_sent);
	assert_int_equal(rx.data_frames, 0);
	assert_int_equal(tx.retransmits, 0);
	assert_true(rx.acks_sent * 3 <= rx.data_in);
	assert_true(rx.acks_sent > 0);
}

static void
test_goodput(void **state)
{
	struct kz_arq_stats tx, rx;
	double g0, g10, gd;

	(void)state;
	g0 = one_way(31, 0, true, 16 * 1024, &tx, &rx);
	printf("goodput, 1200 baud half duplex, tuned TNC, 0 %% loss: %.3f "
	    "(%.1f of 150 B/s; %" PRIu64 " data frames, %" PRIu64 " acks)\n",
	    g0, g0 * 150, tx.data_frames, rx.acks_sent);
	assert_true(g0 >= 0.75);
	g10 = one_way(32, 0.10, true, 16 * 1024, &tx, &rx);
	printf("goodput, 1200 baud half duplex, tuned TNC, 10 %% loss: %.3f "
	    "(%" PRIu64 " retransmits, %" PRIu64 " timeouts, srtt %u ms, rto "
	    "%u ms)\n", g10, tx.retransmits, tx.timeouts, tx.srtt_ms,
	    tx.rto_ms);
	assert_true(g10 >= 0.5);
	gd = one_way(33, 0, false, 16 * 1024, &tx, &rx);
	printf("goodput, 1200 baud half duplex, Direwolf defaults, 0 %% loss: "
	    "%.3f\n", gd);
	assert_true(gd >= 0.6);
}

/* ------------------------------------------------------------ buffers */

static void
test_flow_control(void **state)
{
	struct linksim_params lp = { 0 };
	struct kz_arq_opts o;
	struct kz_arq_stats st, tx;
	struct run run;
	uint8_t *big = malloc(10000);
	struct kz_arq *lone;

	(void)state;
	assert_non_null(big);
	/* kz_arq_write takes what fits in send_buffer, no more. */
	kz_arq_opts_lan(&o);
	o.send_buffer = 3000;
	lone = arq_new(&o, 0x71, 0);
	assert_int_equal(kz_arq_write(lone, big, 10000, 0), 3000);
	assert_int_equal(kz_arq_write(lone, big, 10, 0), 0);
	kz_arq_free(lone);
	free(big);

	/* A reader that stops reading: the receiver holds at most window
	 * frames (the sender stops at the advertised window), then reads
	 * and everything arrives exactly. */
	lp.bytes_per_s = 100000;
	lp.latency_ms = 5;
	lp.loss = 0.05;
	kz_arq_opts_lan(&o);
	o.mtu = 500;
	o.window = 8;
	run_setup(&run, &lp, &o, &o, 77, NULL, 200000, NULL, 0);
	run.x.hold_reads = true;
	run.rc = linksim_run(&run.p, 60 * SEC);
	assert_int_equal(run.rc, 0);
	kz_arq_get_stats(run.p.arq[1], &st);
	assert_int_equal(st.stream_in, 8 * (500 - KZ_ARQ_OVERHEAD));
	/* Once the window closed, the sender only probed it, once per
	 * (backed-off) timeout; the probes were dropped. */
	kz_arq_get_stats(run.p.arq[0], &tx);
	assert_true(st.out_of_window >= 1);
	assert_true(st.out_of_window <= tx.timeouts);
	assert_false(kz_arq_down(run.p.arq[0]));
	run.x.hold_reads = false;
	run.rc = linksim_run(&run.p, run.p.now + 3600 * SEC);
	run_check(&run, "flow control", 77);
	run_free(&run);
}

static void
test_opts(void **state)
{
	struct kz_arq_opts o, bad;
	struct kz_arq *a = NULL;

	(void)state;
	kz_arq_opts_radio(&o, 1200);
	assert_int_equal(o.mtu, 200);
	assert_true(o.half_duplex);
	assert_int_equal(o.bytes_per_s, 142);	/* 1200 / 8, less 5 % */
	assert_int_equal(o.session, 0);
	assert_int_equal(kz_arq_new(&a, &o, 0), KZ_ERR_INVAL);
	assert_null(a);
	o.session = 1;
	assert_int_equal(kz_arq_new(&a, &o, 0), 0);
	kz_arq_free(a);
	kz_arq_free(NULL);
#define BAD(field, value)                                                     \
	do {                                                                  \
		bad = o;                                                      \
		bad.field = value;                                            \
		assert_int_equal(kz_arq_new(&a, &bad, 0), KZ_ERR_INVAL);      \
	} while (0)
	BAD(mtu, KZ_ARQ_MTU_MIN - 1);
	BAD(mtu, KZ_ARQ_MTU_MAX + 1);
	BAD(window, 0);
	BAD(window, KZ_ARQ_WINDOW_MAX + 1);
	BAD(burst, 0);
	BAD(rto_min_ms, 0);
	BAD(rto_min_ms, o.rto_initial_ms + 1);
	BAD(rto_max_ms, o.rto_initial_ms - 1);
	BAD(dead_ms, 0);
	BAD(send_buffer, 0);
#undef BAD
	kz_arq_opts_lan(&o);
	assert_false(o.half_duplex);
	assert_int_equal(o.bytes_per_s, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_damage),
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_peer_restart),
		cmocka_unit_test(test_dead_link),
		cmocka_unit_test(test_pacing),
		cmocka_unit_test(test_half_duplex_acks),
		cmocka_unit_test(test_goodput),
		cmocka_unit_test(test_flow_control),
		cmocka_unit_test(test_acceptance_radio),
		cmocka_unit_test(test_acceptance_fast),
	};

	/* KZ_TEST=test_name runs one test (with KZ_SEED and KZ_TRACE, to
	 * replay a failure). */
	if (getenv("KZ_TEST") != NULL)
		cmocka_set_test_filter(getenv("KZ_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
