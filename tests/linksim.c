/*
 * The simulated link (model in linksim.h).
 *
 * Each end's modem is a small state machine stepped by advance(): the next
 * event of each end (a CSMA attempt, the end of the preamble, of a frame,
 * of the tail) is kept in next_us and processed in time order, end 0 first
 * on ties.  A frame's fate is decided when it ends on air: by then every
 * transmission that could overlap it has started.  Deliveries wait in a
 * list sorted by time (then by the order they were decided in).
 */
#include <stdlib.h>
#include <string.h>

#include "kizuna/arq.h"
#include "linksim.h"

#define NEVER UINT64_MAX
#define HIST 16			/* past transmissions kept per end */

enum mstate { M_IDLE, M_WAIT, M_PREAMBLE, M_FRAME, M_TAIL };

struct frame {
	uint8_t *p;
	size_t len;
};

struct delivery {
	uint64_t at_us, order;
	int to;
	struct frame f;
};

struct end {
	enum mstate state;
	uint64_t next_us;		/* this end's next event */
	struct frame *q;		/* the modem queue (FIFO from qhead) */
	size_t qhead, qn, qcap;
	struct frame cur;		/* on air (M_FRAME) */
	uint64_t cur_start;
	uint64_t tx_start;		/* keyed since (PREAMBLE .. TAIL) */
	uint64_t hist_s[HIST], hist_e[HIST];
	size_t nhist;
	bool ge_bad;
	struct linksim_stats st;
};

struct linksim {
	struct linksim_params p;
	uint64_t rng;
	uint64_t now_us;
	struct end e[2];
	struct delivery *d;
	size_t dn, dcap;
	uint64_t order;
};

static uint64_t
rnd(struct linksim *ls)
{
	uint64_t z = (ls->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool
chance(struct linksim *ls, double p)
{
	if (p <= 0)
		return false;
	return (double)(rnd(ls) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static uint64_t
air_us(const struct linksim *ls, size_t len)
{
	uint64_t bytes = (uint64_t)len + ls->p.frame_overhead;

	if (ls->p.bytes_per_s == 0)
		return 0;
	return (bytes * 1000000u + ls->p.bytes_per_s - 1) / ls->p.bytes_per_s;
}

int
linksim_new(struct linksim **out, const struct linksim_params *p,
    uint64_t seed)
{
	struct linksim *ls = calloc(1, sizeof(*ls));

	*out = NULL;
	if (ls == NULL)
		return -1;
	ls->p = *p;
	ls->rng = seed * 0x2545f4914f6cdd1dull + 1;
	ls->e[0].next_us = ls->e[1].next_us = NEVER;
	*out = ls;
	return 0;
}

void
linksim_free(struct linksim *ls)
{
	int i;
	size_t k;

	if (ls == NULL)
		return;
	for (i = 0; i < 2; i++) {
		struct end *e = &ls->e[i];

		for (k = 0; k < e->qn; k++)
			free(e->q[(e->qhead + k) % e->qcap].p);
		free(e->q);
		free(e->cur.p);
	}
	for (k = 0; k < ls->dn; k++)
		free(ls->d[k].f.p);
	free(ls->d);
	free(ls);
}

struct linksim_params *
linksim_params(struct linksim *ls)
{
	return &ls->p;
}

void
linksim_get_stats(const struct linksim *ls, int end,
    struct linksim_stats *out)
{
	*out = ls->e[end].st;
}

/* ------------------------------------------------------------ queues */

static int
q_push(struct end *e, struct frame f)
{
	if (e->qn == e->qcap) {
		size_t cap = e->qcap ? e->qcap * 2 : 16, k;
		struct frame *q = malloc(cap * sizeof(*q));

		if (q == NULL)
			return -1;
		for (k = 0; k < e->qn; k++)
			q[k] = e->q[(e->qhead + k) % e->qcap];
		free(e->q);
		e->q = q;
		e->qcap = cap;
		e->qhead = 0;
	}
	e->q[(e->qhead + e->qn) % e->qcap] = f;
	e->qn++;
	return 0;
}

static struct frame
q_pop(struct end *e)
{
	struct frame f = e->q[e->qhead];

	e->qhead = (e->qhead + 1) % e->qcap;
	e->qn--;
	return f;
}

static int
deliver_at(struct linksim *ls, int to, uint64_t at_us, const uint8_t *p,
    size_t len)
{
	struct delivery d = { at_us, ls->order++, to, { NULL, len } };
	size_t i;

	if (ls->dn == ls->dcap) {
		size_t cap = ls->dcap ? ls->dcap * 2 : 64;
		struct delivery *nd = realloc(ls->d, cap * sizeof(*nd));

		if (nd == NULL)
			return -1;
		ls->d = nd;
		ls->dcap = cap;
	}
	if ((d.f.p = malloc(len ? len : 1)) == NULL)
		return -1;
	memcpy(d.f.p, p, len);
	i = ls->dn;
	while (i > 0 && ls->d[i - 1].at_us > at_us)
		i--;
	memmove(ls->d + i + 1, ls->d + i, (ls->dn - i) * sizeof(*ls->d));
	ls->d[i] = d;
	ls->dn++;
	return 0;
}

/* ------------------------------------------------------------ the air */

/* end was keyed during part of [s, e). */
static bool
was_keyed(const struct end *x, uint64_t s, uint64_t e)
{
	size_t k, n = x->nhist < HIST ? x->nhist : HIST;

	if (x->state >= M_PREAMBLE && x->tx_start < e)
		return true;
	for (k = 0; k < n; k++)
		if (x->hist_s[k] < e && x->hist_e[k] > s)
			return true;
	return false;
}

static bool
lost_by_chance(struct linksim *ls, struct end *from)
{
	if (from->ge_bad) {
		if (chance(ls, ls->p.ge_leave))
			from->ge_bad = false;
	} else if (chance(ls, ls->p.ge_enter)) {
		from->ge_bad = true;
	}
	return chance(ls, ls->p.loss) ||
	    (from->ge_bad && chance(ls, ls->p.ge_loss));
}

/* Alters a copy of what is delivered; returns its length. */
static size_t
damage(struct linksim *ls, struct end *from, uint8_t *p, size_t len)
{
	if (len > 0 && chance(ls, ls->p.corrupt)) {
		int flips = 1 + (int)(rnd(ls) % 3), i;

		for (i = 0; i < flips; i++) {
			uint64_t bit = rnd(ls) % (len * 8);

			p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		from->st.corrupted++;
	}
	if (len > 1 && chance(ls, ls->p.truncate)) {
		len = (size_t)(rnd(ls) % len);
		from->st.truncated++;
	}
	return len;
}

/* The frame `from` just finished sending reaches the other end, or not. */
static int
frame_done(struct linksim *ls, int from_i, uint64_t fs, uint64_t fe)
{
	struct end *from = &ls->e[from_i], *to = &ls->e[1 - from_i];
	struct frame *f = &from->cur;
	uint64_t at = fe + (uint64_t)ls->p.latency_ms * 1000u;
	size_t len;
	int rc = 0;

	if (ls->p.half_duplex && was_keyed(to, fs, fe)) {
		from->st.collided++;
		return 0;
	}
	if (lost_by_chance(ls, from)) {
		from->st.lost++;
		return 0;
	}
	len = damage(ls, from, f->p, f->len);
	if (chance(ls, ls->p.reorder)) {
		at += (uint64_t)ls->p.reorder_ms * 1000u;
		from->st.reordered++;
	}
	from->st.delivered++;
	rc = deliver_at(ls, 1 - from_i, at, f->p, len);
	if (rc == 0 && chance(ls, ls->p.dup)) {
		from->st.duplicated++;
		from->st.delivered++;
		rc = deliver_at(ls, 1 - from_i, at + 1000u + rnd(ls) % 50000u,
		    f->p, len);
	}
	return rc;
}

static bool
carrier_sensed(const struct linksim *ls, int who, uint64_t t)
{
	const struct end *o = &ls->e[1 - who];

	return o->state >= M_PREAMBLE &&
	    t >= o->tx_start + (uint64_t)ls->p.dcd_ms * 1000u;
}

static void
start_frame(struct linksim *ls, struct end *e, uint64_t t)
{
	e->cur = q_pop(e);
	e->cur_start = t;
	e->state = M_FRAME;
	e->next_us = t + air_us(ls, e->cur.len);
	e->st.bytes_on_air += e->cur.len + ls->p.frame_overhead;
}

static void
key_down(struct end *e, uint64_t t)
{
	e->hist_s[e->nhist % HIST] = e->tx_start;
	e->hist_e[e->nhist % HIST] = t;
	e->nhist++;
	e->st.air_us += t - e->tx_start;
	if (e->qn > 0) {
		e->state = M_WAIT;
		e->next_us = t;
	} else {
		e->state = M_IDLE;
		e->next_us = NEVER;
	}
}

/* One event of end i at its next_us. */
static int
step_end(struct linksim *ls, int i)
{
	struct end *e = &ls->e[i];
	uint64_t t = e->next_us;
	bool csma = ls->p.half_duplex && ls->p.csma;
	int rc = 0;

	switch (e->state) {
	case M_WAIT:
		if (csma && (carrier_sensed(ls, i, t) ||
		    (rnd(ls) & 255) > ls->p.persist)) {
			e->next_us = t + (uint64_t)(ls->p.slot_ms ?
			    ls->p.slot_ms : 1) * 1000u;
			break;
		}
		e->state = M_PREAMBLE;
		e->tx_start = t;
		e->st.transmissions++;
		e->next_us = t + (uint64_t)ls->p.txdelay_ms * 1000u;
		break;
	case M_PREAMBLE:
		start_frame(ls, e, t);
		break;
	case M_FRAME:
		rc = frame_done(ls, i, e->cur_start, t);
		free(e->cur.p);
		e->cur.p = NULL;
		if (e->qn > 0) {
			start_frame(ls, e, t);
		} else {
			e->state = M_TAIL;
			e->next_us = t + (uint64_t)ls->p.txtail_ms * 1000u;
		}
		break;
	case M_TAIL:
		key_down(e, t);
		break;
	case M_IDLE:
		e->next_us = NEVER;
		break;
	}
	return rc;
}

/* Processes every modem event up to t (µs). */
static int
advance(struct linksim *ls, uint64_t t)
{
	for (;;) {
		int i = ls->e[1].next_us < ls->e[0].next_us ? 1 : 0;

		if (ls->e[i].next_us > t)
			break;
		if (step_end(ls, i) < 0)
			return -1;
	}
	if (t > ls->now_us)
		ls->now_us = t;
	return 0;
}

int
linksim_send(struct linksim *ls, int end, const uint8_t *frame, size_t len,
    uint64_t now_ms)
{
	struct end *e = &ls->e[end];
	uint64_t t = now_ms * 1000u;
	struct frame f;

	if (advance(ls, t) < 0)
		return -1;
	e->st.sent++;
	if (ls->p.queue_max != 0 && e->qn >= ls->p.queue_max) {
		e->st.queue_drops++;
		return 0;
	}
	if (ls->p.frame_max != 0 && len > ls->p.frame_max) {
		len = ls->p.frame_max;
		e->st.cut++;
	}
	f.len = len;
	if ((f.p = malloc(len ? len : 1)) == NULL)
		return -1;
	memcpy(f.p, frame, len);
	if (q_push(e, f) < 0) {
		free(f.p);
		return -1;
	}
	if (e->qn > e->st.max_queue)
		e->st.max_queue = e->qn;
	if (e->state == M_IDLE) {
		e->state = M_WAIT;
		e->next_us = t;
	}
	return advance(ls, t);
}

int
linksim_recv(struct linksim *ls, int end, uint64_t now_ms, uint8_t *buf,
    size_t cap, size_t *len)
{
	uint64_t t = now_ms * 1000u;
	size_t i;

	if (advance(ls, t) < 0)
		return -1;
	for (i = 0; i < ls->dn && ls->d[i].at_us <= t; i++) {
		struct delivery d = ls->d[i];

		if (d.to != end)
			continue;
		*len = d.f.len < cap ? d.f.len : cap;
		memcpy(buf, d.f.p, *len);
		free(d.f.p);
		memmove(ls->d + i, ls->d + i + 1,
		    (ls->dn - i - 1) * sizeof(*ls->d));
		ls->dn--;
		return 1;
	}
	return 0;
}

uint64_t
linksim_next_event(const struct linksim *ls)
{
	uint64_t t = ls->e[0].next_us < ls->e[1].next_us ? ls->e[0].next_us :
	    ls->e[1].next_us;

	if (ls->dn > 0 && ls->d[0].at_us < t)
		t = ls->d[0].at_us;
	return t == NEVER ? NEVER : (t + 999) / 1000;
}

bool
linksim_busy(const struct linksim *ls)
{
	return ls->dn > 0 || ls->e[0].state != M_IDLE ||
	    ls->e[1].state != M_IDLE;
}

/* ------------------------------------------------------------ driver */

/* Returns the frames delivered, or -1. */
static int
deliver_due(struct linksim_pair *p, uint8_t *buf)
{
	int i, rc, n = 0;

	for (i = 0; i < 2; i++) {
		size_t len;

		while ((rc = linksim_recv(p->ls, i, p->now, buf,
		    KZ_ARQ_MTU_MAX + 64, &len)) == 1) {
			if (p->tap_in != NULL)
				p->tap_in(p->ctx, i, buf, len, p->now);
			if (kz_arq_input(p->arq[i], buf, len, p->now) < 0)
				return -1;
			n++;
		}
		if (rc < 0)
			return -1;
	}
	return n;
}

/* Returns the frames handed down, or -1. */
static int
hand_down(struct linksim_pair *p, uint8_t *buf)
{
	int i, n = 0;

	for (i = 0; i < 2; i++) {
		size_t len;
		int rc;

		while ((rc = kz_arq_output(p->arq[i], p->now, buf, &len)) == 0) {
			if (p->tap_out != NULL)
				p->tap_out(p->ctx, i, buf, len, p->now);
			if (linksim_send(p->ls, i, buf, len, p->now) < 0)
				return -1;
			n++;
		}
		if (rc < 0)
			return -1;
	}
	return n;
}

int
linksim_run(struct linksim_pair *p, uint64_t until_ms)
{
	uint8_t buf[KZ_ARQ_MTU_MAX + 64];
	unsigned still = 0;

	for (;;) {
		uint64_t wake = NEVER, t;
		int i, in, out;

		p->steps++;
		if ((in = deliver_due(p, buf)) < 0)
			return -1;
		if (p->step != NULL && p->step(p->ctx, p, &wake))
			return 1;
		if ((out = hand_down(p, buf)) < 0)
			return -1;
		t = linksim_next_event(p->ls);
		for (i = 0; i < 2; i++) {
			uint64_t a = kz_arq_next_event(p->arq[i], p->now);

			t = a < t ? a : t;
		}
		t = wake < t ? wake : t;
		if (t > until_ms) {
			p->now = until_ms;
			return 0;
		}
		if (t <= p->now) {
			/* Frames moving at one instant is progress; an end or
			 * the step asking for "now" again and again is not. */
			still = in + out > 0 ? 0 : still + 1;
			if (still > 100)
				return -1;
			continue;
		}
		still = 0;
		p->now = t;
	}
}
