/*
 * The whole radio stack above the modem (kz_rlink: Noise, compression,
 * sync, ARQ) between two stores over the simulated 1200-baud half-duplex
 * link (tests/linksim): a backlog crosses and both stores end with the
 * same feeds; an emergency post written while the backlog is in flight
 * arrives before the backlog's end; live posts after the catch-up cross
 * in batches; 10 % frame loss only slows it; a link that goes dead ends
 * both sessions with a reason.  KZ_SEED replays a seed.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/rlink.h"
#include "kizuna/store.h"
#include "linksim.h"
#include "testutil.h"

static const uint8_t CHAN[32] = { 0xc4, 0x02 };
static const uint8_t NETKEY[32] = { 0x4b, 0x5a, 0x01 };

struct end {
	struct kz_store *st;
	struct kz_keypair kp;
	struct kz_rlink *r;
	uint64_t *now;
};

struct net {
	struct linksim *ls;
	struct end e[2];
	uint64_t now;
};

static uint64_t
clock_of(void *ctx)
{
	return *((struct end *)ctx)->now;
}

static void
post(struct end *e, int i, enum kz_priority prio)
{
	char text[200];
	struct kz_post p = { .channel = CHAN, .text = text, .priority = prio };
	uint8_t *op;
	size_t len;

	snprintf(text, sizeof(text), "避難所 %d: 給水は 14 時から、毛布と飲料水が"
	    "不足しています。道路は県道 12 号が通行止め", i);
	assert_int_equal(kz_op_encode_post(&op, &len, &p), 0);
	assert_int_equal(kz_store_append(e->st, &e->kp, 1790000000000ull +
	    (uint64_t)i * 1000, op, len, NULL), 0);
	free(op);
}

static void
end_init(struct end *e, uint8_t seedbyte, uint64_t *now)
{
	uint8_t seed[32];

	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(kz_keypair_from_seed(&e->kp, seed), 0);
	assert_int_equal(kz_store_open(&e->st, ":memory:", NULL), 0);
	e->now = now;
}

static void
rlink_start(struct net *n, int i, uint32_t session)
{
	struct end *e = &n->e[i];
	struct kz_rlink_opts o;

	kz_rlink_opts_radio(&o, 1200);
	o.arq.session = session;
	o.link.st = e->st;
	o.link.node = &e->kp;
	o.link.network_key = NETKEY;
	o.link.initiator = i == 0;
	o.link.sync.now_ms = clock_of;
	o.link.sync.ctx = e;
	assert_int_equal(kz_rlink_new(&e->r, &o, n->now), 0);
}

static void
net_init(struct net *n, uint64_t seed, double loss)
{
	struct linksim_params p = { 0 };

	memset(n, 0, sizeof(*n));
	n->now = 1000;
	p.bytes_per_s = 150;
	p.frame_overhead = 19;
	p.txdelay_ms = 300;
	p.txtail_ms = 100;
	p.latency_ms = 30;
	p.half_duplex = true;
	p.csma = true;
	p.slot_ms = 100;
	p.dcd_ms = 50;
	p.persist = 63;
	p.loss = loss;
	assert_int_equal(linksim_new(&n->ls, &p, seed), 0);
	end_init(&n->e[0], 0xa1, &n->now);
	end_init(&n->e[1], 0xb2, &n->now);
}

static void
net_free(struct net *n)
{
	int i;

	for (i = 0; i < 2; i++) {
		kz_rlink_free(n->e[i].r);
		kz_store_free(n->e[i].st);
	}
	linksim_free(n->ls);
}

/* Moves frames both ways until now; then the next time anything is due. */
static uint64_t
step(struct net *n)
{
	uint8_t buf[KZ_ARQ_MTU_MAX];
	uint64_t next = UINT64_MAX, t;
	size_t len;
	int i;

	for (i = 0; i < 2; i++) {
		struct kz_rlink *r = n->e[i].r;

		while (linksim_recv(n->ls, i, n->now, buf, sizeof(buf), &len) == 1)
			(void)kz_rlink_input(r, buf, len, n->now);
		while (kz_rlink_output(r, n->now, buf, &len) == 0)
			assert_int_equal(linksim_send(n->ls, i, buf, len, n->now), 0);
		t = kz_rlink_next_event(r, n->now);
		if (t < next)
			next = t;
	}
	t = linksim_next_event(n->ls);
	if (t < next)
		next = t;
	return next;
}

static uint64_t
tip(struct end *holder, const struct end *feed)
{
	uint64_t t;

	assert_int_equal(kz_store_tip(holder->st, feed->kp.pk, &t, NULL), 0);
	return t;
}

/* Runs until done(n) or until limit_ms of simulated time. */
static bool
run(struct net *n, bool (*done)(struct net *n, void *ctx), void *ctx,
    uint64_t limit_ms)
{
	uint64_t end = n->now + limit_ms;

	while (n->now <= end) {
		uint64_t next = step(n);

		if (done(n, ctx))
			return true;
		if (next == UINT64_MAX)
			return done(n, ctx);
		n->now = next > n->now ? next : n->now + 1;
	}
	return false;
}

static bool
b_has(struct net *n, void *ctx)
{
	return tip(&n->e[1], &n->e[0]) >= *(uint64_t *)ctx;
}

/* The emergency (seq em) held on B, alone or in the chain. */
struct em {
	uint64_t seq, at, backlog_done_at;
	uint64_t want;
};

static bool
em_watch(struct net *n, void *ctx)
{
	struct em *em = ctx;
	struct kz_run *run = NULL;

	if (em->at == 0 && kz_store_read_entry(n->e[1].st, n->e[0].kp.pk,
	    em->seq, &run) == 0)
		em->at = n->now;
	kz_run_free(run);
	if (em->backlog_done_at == 0 && tip(&n->e[1], &n->e[0]) >= em->want)
		em->backlog_done_at = n->now;
	return em->at != 0 && em->backlog_done_at != 0;
}

static uint64_t
seed_of(uint64_t dflt)
{
	const char *s = getenv("KZ_SEED");

	return s != NULL ? strtoull(s, NULL, 10) : dflt;
}

static void
backlog_then_emergency(double loss, uint64_t seed)
{
	struct net n;
	struct em em = { 0 };
	uint64_t want = 120, start, third = 40;
	int i;

	net_init(&n, seed, loss);
	for (i = 1; i <= (int)want; i++)
		post(&n.e[0], i, KZ_PRIO_NORMAL);
	rlink_start(&n, 0, 0xa0000001u);
	rlink_start(&n, 1, 0xb0000001u);
	start = n.now;
	if (!run(&n, b_has, &third, 30 * 60 * 1000))
		fail_msg("seed %llu: a third of the backlog did not cross in 30 min",
		    (unsigned long long)seed);
	/* The emergency, written while two thirds are still to come. */
	post(&n.e[0], 999, KZ_PRIO_EMERGENCY);
	kz_link_feed_grew(kz_rlink_link(n.e[0].r), n.e[0].kp.pk);
	em.seq = want + 1;
	em.want = want;
	em.at = 0;
	{
		uint64_t written = n.now;

		if (!run(&n, em_watch, &em, 60 * 60 * 1000))
			fail_msg("seed %llu: emergency or backlog not across",
			    (unsigned long long)seed);
		printf("# loss %.0f%% seed %llu: backlog %llu posts in %.1f s; "
		    "emergency after %.1f s, %.1f s before the backlog's end\n",
		    loss * 100, (unsigned long long)seed,
		    (unsigned long long)want, (double)(em.backlog_done_at - start) /
		    1000, (double)(em.at - written) / 1000,
		    (double)((int64_t)em.backlog_done_at - (int64_t)em.at) / 1000);
		assert_true(em.at < em.backlog_done_at);
		assert_true(em.at - written <= 10000);
	}
	want += 1;
	assert_true(run(&n, b_has, &want, 10 * 60 * 1000));
	assert_int_equal(tip(&n.e[1], &n.e[0]), want);
	net_free(&n);
}

static void
test_backlog_emergency_clean(void **state)
{
	(void)state;
	backlog_then_emergency(0.0, seed_of(1));
}

static void
test_backlog_emergency_lossy(void **state)
{
	(void)state;
	backlog_then_emergency(0.10, seed_of(2));
}

static bool
both_hold(struct net *n, void *ctx)
{
	uint64_t *want = ctx;

	return tip(&n->e[1], &n->e[0]) >= want[0] &&
	    tip(&n->e[0], &n->e[1]) >= want[1];
}

static void
test_live_both_ways(void **state)
{
	struct net n;
	uint64_t want[2] = { 0, 0 };
	struct kz_arq_stats st;
	int i;

	(void)state;
	net_init(&n, seed_of(3), 0.0);
	rlink_start(&n, 0, 0xa0000002u);
	rlink_start(&n, 1, 0xb0000002u);
	/* Catch up on nothing, then posts on both sides as they are written. */
	assert_true(run(&n, both_hold, want, 60 * 1000));
	for (i = 1; i <= 6; i++) {
		post(&n.e[0], i, KZ_PRIO_NORMAL);
		post(&n.e[1], 100 + i, KZ_PRIO_NORMAL);
		kz_link_feed_grew(kz_rlink_link(n.e[0].r), n.e[0].kp.pk);
		kz_link_feed_grew(kz_rlink_link(n.e[1].r), n.e[1].kp.pk);
		n.now += 300;
	}
	want[0] = want[1] = 6;
	assert_true(run(&n, both_hold, want, 5 * 60 * 1000));
	kz_arq_get_stats(kz_rlink_arq(n.e[0].r), &st);
	assert_false(kz_rlink_ended(n.e[0].r));
	assert_false(kz_rlink_ended(n.e[1].r));
	net_free(&n);
}

static bool
ended(struct net *n, void *ctx)
{
	(void)ctx;
	return kz_rlink_ended(n->e[0].r) && kz_rlink_ended(n->e[1].r);
}

static void
test_dead_link_ends(void **state)
{
	struct net n;
	uint64_t third = 10;
	int i;

	(void)state;
	net_init(&n, seed_of(4), 0.0);
	for (i = 1; i <= 60; i++)
		post(&n.e[0], i, KZ_PRIO_NORMAL);
	rlink_start(&n, 0, 0xa0000003u);
	rlink_start(&n, 1, 0xb0000003u);
	assert_true(run(&n, b_has, &third, 30 * 60 * 1000));
	linksim_params(n.ls)->loss = 1.0;	/* the antenna falls */
	/* Both ends hear nothing: the sender with data pending gives up
	 * within its dead time; the idle receiver's keepalive never comes
	 * through either, so it gives up too once it has something to say. */
	kz_link_ping(kz_rlink_link(n.e[1].r));
	assert_true(run(&n, ended, NULL, 30 * 60 * 1000));
	assert_non_null(strstr(kz_rlink_reason(n.e[0].r), "no frame from the peer"));
	net_free(&n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backlog_emergency_clean),
		cmocka_unit_test(test_backlog_emergency_lossy),
		cmocka_unit_test(test_live_both_ways),
		cmocka_unit_test(test_dead_link_ends),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
