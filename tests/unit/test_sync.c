/*
 * The sync protocol between stores in one process, frames moved by hand:
 * catch-up both ways, a reconnect in sync costing a few bytes, the
 * flow-control window, resumption after a cut, live push, forwarding along
 * a chain, admission filtering, and refusals (unknown version, bad frames).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna.pb-c.h"
#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/sync.h"
#include "testutil.h"

#define T0 1790000000000ull

static const uint8_t CHAN[32] = { 0xc4, 0x01 };

struct node {
	struct kz_store *st;
	struct kz_keypair kp;
};

static void
node_init(struct node *n, uint8_t seedbyte)
{
	uint8_t seed[32];

	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(kz_keypair_from_seed(&n->kp, seed), 0);
	assert_int_equal(kz_store_open(&n->st, ":memory:", NULL), 0);
}

static void
node_fini(struct node *n)
{
	kz_store_free(n->st);
}

/* n posts of ~200 bytes to n's own feed, in groups of 500. */
static void
write_posts(struct node *n, int count, uint64_t *op_bytes)
{
	char text[256];
	struct kz_post p = { .channel = CHAN, .text = text };
	uint8_t *op;
	size_t len;

	assert_int_equal(kz_store_begin(n->st), 0);
	for (int i = 0; i < count; i++) {
		snprintf(text, sizeof(text), "避難所 %d: 給水車は14時に到着予定、毛布"
		    "と発電機を運搬中。道路は通行止め、迂回路を確認してください。", i);
		assert_int_equal(kz_op_encode_post(&op, &len, &p), 0);
		assert_int_equal(kz_store_append(n->st, &n->kp, T0 + (uint64_t)i, op,
		    len, NULL), 0);
		if (op_bytes != NULL)
			*op_bytes += len;
		free(op);
		if (i % 500 == 499) {
			assert_int_equal(kz_store_commit(n->st), 0);
			assert_int_equal(kz_store_begin(n->st), 0);
		}
	}
	assert_int_equal(kz_store_commit(n->st), 0);
}

struct link {
	struct kz_sync *a, *b;
	uint64_t bytes;		/* frame bytes both ways, with 4-byte prefixes */
	uint64_t frames;
};

static void
link_open(struct link *l, struct node *a, struct node *b,
    const struct kz_sync_opts *oa, const struct kz_sync_opts *ob)
{
	memset(l, 0, sizeof(*l));
	assert_int_equal(kz_sync_new(&l->a, a->st, a->kp.pk, oa), 0);
	assert_int_equal(kz_sync_new(&l->b, b->st, b->kp.pk, ob), 0);
	assert_int_equal(kz_sync_start(l->a), 0);
	assert_int_equal(kz_sync_start(l->b), 0);
}

static void
link_close(struct link *l)
{
	kz_sync_free(l->a);
	kz_sync_free(l->b);
	l->a = l->b = NULL;
}

/* Moves one frame from -> to; returns 1 if one moved. */
static int
move(struct link *l, struct kz_sync *from, struct kz_sync *to)
{
	uint8_t *f;
	size_t len;
	int rc = kz_sync_next(from, &f, &len);

	assert_true(rc >= 0);
	if (rc == 1)
		return 0;
	assert_int_equal(kz_sync_receive(to, f, len), 0);
	l->bytes += len + 4;
	l->frames++;
	free(f);
	return 1;
}

/* Pumps until neither side has anything to send, or max frames moved. */
static void
pump(struct link *l, uint64_t max)
{
	uint64_t start = l->frames;

	while (l->frames - start < max) {
		int moved = move(l, l->a, l->b) + move(l, l->b, l->a);

		if (!moved)
			break;
	}
}

static uint64_t
tip(struct node *n, const struct node *feed)
{
	uint64_t t;

	assert_int_equal(kz_store_tip(n->st, feed->kp.pk, &t, NULL), 0);
	return t;
}

/* ------------------------------------------------------------ tests */

static void
test_catch_up_both_ways(void **state)
{
	struct node a, b;
	struct link l;
	uint64_t op_bytes = 0;
	struct kz_sync_stats sa;
	struct kz_verify_report rep;

	(void)state;
	node_init(&a, 1);
	node_init(&b, 2);
	write_posts(&a, 3000, &op_bytes);
	write_posts(&b, 700, NULL);
	link_open(&l, &a, &b, NULL, NULL);
	pump(&l, 100000);
	assert_int_equal(kz_sync_state(l.a), KZ_SYNC_LIVE);
	assert_int_equal(kz_sync_state(l.b), KZ_SYNC_LIVE);
	assert_true(kz_sync_idle(l.a) && kz_sync_idle(l.b));
	assert_int_equal(tip(&b, &a), 3000);
	assert_int_equal(tip(&a, &b), 700);
	assert_memory_equal(kz_sync_peer(l.a), b.kp.pk, 32);
	kz_sync_get_stats(l.a, &sa);
	assert_int_equal(sa.entries_out, 3000);
	assert_int_equal(sa.entries_in, 700);
	assert_int_equal(sa.runs_rejected, 0);
	assert_int_equal(kz_store_verify(b.st, &rep), 0);
	assert_true(rep.ok);
	/* Bytes on the wire: near the op bytes, plus headers per entry. */
	fprintf(stderr, "test_sync: %llu wire bytes for %llu op bytes of a's feed\n",
	    (unsigned long long)l.bytes, (unsigned long long)op_bytes);
	link_close(&l);

	/* A reconnect in sync: two hellos, nothing more. */
	link_open(&l, &a, &b, NULL, NULL);
	pump(&l, 1000);
	assert_int_equal(kz_sync_state(l.a), KZ_SYNC_LIVE);
	assert_int_equal(l.frames, 2);
	assert_true(l.bytes <= 200);
	link_close(&l);
	node_fini(&a);
	node_fini(&b);
}

static void
test_window_bounds_what_is_in_flight(void **state)
{
	struct node a, b;
	struct link l;
	struct kz_sync_opts o = { .window = 64 * 1024, .run_entries = 50 };
	uint64_t sent = 0;
	uint8_t *f;
	size_t len, biggest = 0;

	(void)state;
	node_init(&a, 1);
	node_init(&b, 2);
	write_posts(&a, 2000, NULL);
	link_open(&l, &a, &b, &o, &o);
	/* Hellos and vectors. */
	assert_int_equal(move(&l, l.a, l.b), 1);
	assert_int_equal(move(&l, l.b, l.a), 1);
	assert_int_equal(move(&l, l.a, l.b), 1);
	assert_int_equal(move(&l, l.b, l.a), 1);
	/* a sends runs to b, but b's acks are held back. */
	while (kz_sync_next(l.a, &f, &len) == 0) {
		/* Nothing starts once the window is full. */
		assert_true(sent < 64 * 1024);
		assert_int_equal(kz_sync_receive(l.b, f, len), 0);
		sent += len;
		biggest = len > biggest ? len : biggest;
		free(f);
	}
	assert_true(sent >= 64 * 1024);
	assert_true(sent < 64 * 1024 + biggest);
	assert_true(tip(&b, &a) < 2000);
	/* The acks arrive: the rest follows. */
	pump(&l, 100000);
	assert_int_equal(tip(&b, &a), 2000);
	link_close(&l);
	node_fini(&a);
	node_fini(&b);
}

static void
test_resume_after_cut(void **state)
{
	struct node a, b, c;
	struct link l;
	uint64_t whole, cut_total;

	(void)state;
	/* The uninterrupted transfer, for comparison. */
	node_init(&a, 1);
	node_init(&c, 3);
	write_posts(&a, 4000, NULL);
	link_open(&l, &a, &c, NULL, NULL);
	pump(&l, 100000);
	whole = l.bytes;
	link_close(&l);
	assert_int_equal(tip(&c, &a), 4000);

	/* Cut after 6 frames, then a new session. */
	node_init(&b, 2);
	link_open(&l, &a, &b, NULL, NULL);
	pump(&l, 6);
	cut_total = l.bytes;
	link_close(&l);
	assert_true(tip(&b, &a) > 0 && tip(&b, &a) < 4000);
	link_open(&l, &a, &b, NULL, NULL);
	pump(&l, 100000);
	cut_total += l.bytes;
	link_close(&l);
	assert_int_equal(tip(&b, &a), 4000);
	fprintf(stderr, "test_sync: %llu bytes uninterrupted, %llu with a cut\n",
	    (unsigned long long)whole, (unsigned long long)cut_total);
	assert_true(cut_total <= whole + whole / 10);
	node_fini(&a);
	node_fini(&b);
	node_fini(&c);
}

struct relay {
	struct kz_sync *to_c;	/* b's session towards c */
	int grew;
};

static void
on_grew(void *ctx, const uint8_t feed[32])
{
	struct relay *r = ctx;

	r->grew++;
	if (r->to_c != NULL)
		kz_sync_feed_grew(r->to_c, feed);
}

static void
test_live_push_and_forwarding(void **state)
{
	struct node a, b, c;
	struct link ab, bc;
	struct relay r = { 0 };
	struct kz_sync_opts ob = { .feed_grew = on_grew, .ctx = &r };

	(void)state;
	node_init(&a, 1);
	node_init(&b, 2);
	node_init(&c, 3);
	write_posts(&a, 10, NULL);
	link_open(&ab, &a, &b, NULL, &ob);
	link_open(&bc, &b, &c, NULL, NULL);
	r.to_c = bc.a;
	pump(&ab, 1000);
	pump(&bc, 1000);
	assert_int_equal(tip(&c, &a), 10);
	assert_int_equal(kz_sync_state(bc.a), KZ_SYNC_LIVE);
	/* A new post on a: pushed to b at once, and forwarded on to c. */
	write_posts(&a, 1, NULL);
	kz_sync_feed_grew(ab.a, a.kp.pk);
	pump(&ab, 1000);
	assert_int_equal(tip(&b, &a), 11);
	pump(&bc, 1000);
	assert_int_equal(tip(&c, &a), 11);
	assert_true(r.grew >= 2);
	link_close(&ab);
	link_close(&bc);
	node_fini(&a);
	node_fini(&b);
	node_fini(&c);
}

static int
count_detached(void *ctx, const uint8_t feed[32], uint64_t seq)
{
	(void)feed;
	(void)seq;
	(*(int *)ctx)++;
	return 0;
}

static int
detached_on(struct node *n)
{
	int count = 0;

	assert_int_equal(kz_store_detached(n->st, count_detached, &count), 0);
	return count;
}

/* Whether n holds entry seq of feed's log (detached or not). */
static bool
holds(struct node *n, const struct node *feed, uint64_t seq)
{
	struct kz_run *run = NULL;
	int rc = kz_store_read_entry(n->st, feed->kp.pk, seq, &run);

	kz_run_free(run);
	return rc == 0;
}

/*
 * An urgent post written on a while b is catching up on a's long backlog
 * overtakes it: the next frame a sends is that entry, alone; b holds it
 * detached and forwards it to c (LIVE with b) ahead of the backlog too;
 * then everything arrives and the detached entries join their chains.
 */
static void
test_urgent_overtakes_backlog(void **state)
{
	struct node a, b, c;
	struct link ab, bc;
	struct relay r = { 0 };
	struct kz_sync_opts small = { .window = 64 * 1024, .run_entries = 100 };
	struct kz_sync_opts ob = { .feed_grew = on_grew, .ctx = &r,
	    .window = 64 * 1024, .run_entries = 100 };
	struct kz_sync_stats st;
	struct kz_post p = { .channel = CHAN, .text = "堤防決壊、直ちに避難",
	    .priority = KZ_PRIO_EMERGENCY };
	uint8_t *op, da[16], db[16], dc[16];
	size_t len;
	int i;

	(void)state;
	node_init(&a, 1);
	node_init(&b, 2);
	node_init(&c, 3);
	write_posts(&a, 5000, NULL);
	link_open(&ab, &a, &b, &small, &ob);
	link_open(&bc, &b, &c, &small, &small);
	r.to_c = bc.a;
	pump(&bc, 100);			/* b and c: in sync, LIVE */
	assert_int_equal(kz_sync_state(bc.a), KZ_SYNC_LIVE);
	pump(&ab, 12);			/* the backlog is under way */
	assert_true(tip(&b, &a) > 0);
	assert_true(tip(&b, &a) < 4000);

	assert_int_equal(kz_op_encode_post(&op, &len, &p), 0);
	assert_int_equal(kz_store_append(a.st, &a.kp, T0 + 9000, op, len, NULL), 0);
	free(op);
	kz_sync_feed_grew(ab.a, a.kp.pk);
	/* a's very next frame is the urgent entry (b's acks aside). */
	assert_int_equal(move(&ab, ab.a, ab.b), 1);
	assert_true(holds(&b, &a, 5001));
	assert_true(tip(&b, &a) < 4000);
	assert_int_equal(detached_on(&b), 1);
	kz_sync_get_stats(ab.b, &st);
	assert_int_equal(st.urgent_in, 1);
	/* b pushed it on to c at once, also alone: b's next frame to c. */
	assert_int_equal(move(&bc, bc.a, bc.b), 1);
	assert_true(holds(&c, &a, 5001));
	assert_true(tip(&c, &a) < 4000);
	assert_int_equal(detached_on(&c), 1);

	/* Then the rest: every chain whole, nothing left detached. */
	for (i = 0; i < 100 && (tip(&b, &a) < 5001 || tip(&c, &a) < 5001); i++) {
		pump(&ab, 1000);
		pump(&bc, 1000);
	}
	assert_int_equal(tip(&b, &a), 5001);
	assert_int_equal(tip(&c, &a), 5001);
	assert_int_equal(detached_on(&b), 0);
	assert_int_equal(detached_on(&c), 0);
	kz_sync_get_stats(ab.a, &st);
	assert_int_equal(st.urgent_out, 1);
	assert_int_equal(st.entries_out, 5001);
	assert_int_equal(kz_sync_vector_digest(a.st, NULL, NULL, da), 0);
	assert_int_equal(kz_sync_vector_digest(b.st, NULL, NULL, db), 0);
	assert_int_equal(kz_sync_vector_digest(c.st, NULL, NULL, dc), 0);
	assert_memory_equal(da, db, 16);
	assert_memory_equal(da, dc, 16);
	link_close(&ab);
	link_close(&bc);
	node_fini(&a);
	node_fini(&b);
	node_fini(&c);
}

/*
 * A node holding an entry detached tells a new peer so in its Vector (the
 * entry is not sent back), and passes it on to a peer that lacks it, first.
 */
static void
test_detached_in_vectors(void **state)
{
	struct node a, b, d;
	struct link ab, bd, db;
	struct kz_post p = { .channel = CHAN, .text = "安否確認をお願いします",
	    .priority = KZ_PRIO_URGENT };
	struct kz_run *e = NULL;
	struct kz_sync_stats st;
	uint8_t *op, *f;
	size_t len;

	(void)state;
	node_init(&a, 1);
	node_init(&b, 2);
	node_init(&d, 4);
	write_posts(&a, 100, NULL);
	assert_int_equal(kz_op_encode_post(&op, &len, &p), 0);
	assert_int_equal(kz_store_append(a.st, &a.kp, T0 + 9000, op, len, NULL), 0);
	free(op);
	/* b holds a's 101 alone (as if it had come ahead of the backlog). */
	assert_int_equal(kz_store_read_entry(a.st, a.kp.pk, 101, &e), 0);
	assert_int_equal(kz_store_ingest_entry(b.st, e, NULL), 0);
	kz_run_free(e);
	assert_int_equal(detached_on(&b), 1);

	/* b to d: d learns of 101 first, alone, before any run. */
	link_open(&bd, &b, &d, NULL, NULL);
	assert_int_equal(move(&bd, bd.a, bd.b), 1);	/* hellos */
	assert_int_equal(move(&bd, bd.b, bd.a), 1);
	assert_int_equal(move(&bd, bd.a, bd.b), 1);	/* vectors */
	assert_int_equal(move(&bd, bd.b, bd.a), 1);
	assert_int_equal(move(&bd, bd.a, bd.b), 1);	/* the entry */
	assert_true(holds(&d, &a, 101));
	pump(&bd, 100);
	assert_int_equal(detached_on(&d), 1);
	link_close(&bd);
	/* A second session: d and b hold the same, so they are in sync. */
	link_open(&db, &d, &b, NULL, NULL);
	pump(&db, 100);
	assert_true(db.frames <= 2);
	link_close(&db);

	/* a to b: b's Vector lists 101, so a sends only the backlog. */
	link_open(&ab, &a, &b, NULL, NULL);
	pump(&ab, 1000);
	kz_sync_get_stats(ab.a, &st);
	assert_int_equal(st.urgent_out, 0);
	/* 1..101: a holds no signature at 100 to end a run there. */
	assert_int_equal(st.entries_out, 101);
	kz_sync_get_stats(ab.b, &st);
	assert_int_equal(st.entries_in, 100);
	assert_int_equal(tip(&b, &a), 101);
	assert_int_equal(detached_on(&b), 0);
	/* The frame kz_sync_next hands out is never an entry b holds. */
	assert_int_equal(kz_sync_next(ab.a, &f, &len), 1);
	link_close(&ab);
	node_fini(&a);
	node_fini(&b);
	node_fini(&d);
}

/*
 * A node restored from an old backup learns from its first peer that its
 * own feed is longer than its store: it refuses to write (which would fork
 * its own feed) until it has caught up, then writes on from the real tip.
 */
static void
test_restored_node_catches_up_before_writing(void **state)
{
	struct node a, old, p;
	struct link ap, op;
	struct kz_run *run = NULL;
	struct kz_post post = { .channel = CHAN, .text = "復旧しました" };
	struct kz_appended app;
	uint8_t *bytes;
	size_t len;

	(void)state;
	node_init(&a, 1);
	node_init(&p, 5);
	write_posts(&a, 50, NULL);
	/* The backup: a's store when it held 50 entries, a's key. */
	node_init(&old, 1);
	assert_int_equal(kz_store_read_run(a.st, a.kp.pk, 1, 0, 0, &run), 0);
	assert_int_equal(kz_store_ingest(old.st, run, NULL), 0);
	kz_run_free(run);
	write_posts(&a, 50, NULL);
	link_open(&ap, &a, &p, NULL, NULL);
	pump(&ap, 1000);
	link_close(&ap);
	assert_int_equal(tip(&p, &a), 100);

	/* The box dies; the backup is put in its place and meets p. */
	assert_int_equal(kz_op_encode_post(&bytes, &len, &post), 0);
	link_open(&op, &old, &p, NULL, NULL);
	assert_int_equal(move(&op, op.a, op.b), 1);	/* hellos */
	assert_int_equal(move(&op, op.b, op.a), 1);
	assert_int_equal(move(&op, op.a, op.b), 1);	/* vectors */
	assert_int_equal(move(&op, op.b, op.a), 1);
	assert_int_equal(kz_store_append(old.st, &old.kp, T0 + 500, bytes, len,
	    &app), KZ_ERR_BEHIND);
	assert_int_equal(tip(&old, &a), 50);
	pump(&op, 1000);
	assert_int_equal(tip(&old, &a), 100);
	assert_int_equal(kz_store_append(old.st, &old.kp, T0 + 500, bytes, len,
	    &app), 0);
	assert_int_equal(app.seq, 101);
	free(bytes);
	link_close(&op);
	node_fini(&a);
	node_fini(&old);
	node_fini(&p);
}

/* A Ping is sent only once the session is under way, and changes nothing. */
static void
test_ping(void **state)
{
	struct node a, b;
	struct link ab;
	struct kz_sync_stats st;
	uint8_t *f;
	size_t len;

	(void)state;
	node_init(&a, 1);
	node_init(&b, 2);
	write_posts(&a, 3, NULL);
	assert_int_equal(kz_sync_new(&ab.a, a.st, a.kp.pk, NULL), 0);
	assert_int_equal(kz_sync_ping(ab.a), 0);
	assert_int_equal(kz_sync_next(ab.a, &f, &len), 1);	/* no Hello yet */
	kz_sync_free(ab.a);
	link_open(&ab, &a, &b, NULL, NULL);
	pump(&ab, 100);
	assert_int_equal(kz_sync_state(ab.b), KZ_SYNC_LIVE);
	kz_sync_get_stats(ab.b, &st);
	assert_int_equal(kz_sync_ping(ab.a), 0);
	assert_int_equal(move(&ab, ab.a, ab.b), 1);
	assert_int_equal(move(&ab, ab.b, ab.a), 0);	/* no answer */
	{
		struct kz_sync_stats st2;

		kz_sync_get_stats(ab.b, &st2);
		assert_int_equal(st2.frames_in, st.frames_in + 1);
		assert_int_equal(st2.entries_in, st.entries_in);
	}
	assert_int_equal(kz_sync_state(ab.b), KZ_SYNC_LIVE);
	assert_true(kz_sync_idle(ab.a));
	link_close(&ab);
	node_fini(&a);
	node_fini(&b);
}

static const uint8_t *banned;

static bool
not_banned(void *ctx, const uint8_t feed[32])
{
	(void)ctx;
	return banned == NULL || memcmp(feed, banned, 32) != 0;
}

static int refused_why, refused_n;

static void
on_refused(void *ctx, const uint8_t feed[32], int why)
{
	(void)ctx;
	assert_memory_equal(feed, banned, 32);
	refused_why = why;
	refused_n++;
}

static void
test_admission_filter(void **state)
{
	struct node a, b, x;
	struct link l;
	struct kz_sync_opts filt = { .accept_feed = not_banned,
	    .refused = on_refused };
	struct kz_sync_stats sb;
	struct kz_run *run;

	(void)state;
	node_init(&a, 1);
	node_init(&b, 2);
	node_init(&x, 9);
	write_posts(&a, 5, NULL);
	write_posts(&x, 5, NULL);
	/* a holds x's feed too. */
	assert_int_equal(kz_store_read_run(x.st, x.kp.pk, 1, 10, 0, &run), 0);
	assert_int_equal(kz_store_ingest(a.st, run, NULL), 0);
	kz_run_free(run);
	banned = x.kp.pk;
	/* b accepts no run of x, whatever a sends. */
	link_open(&l, &a, &b, NULL, &filt);
	pump(&l, 1000);
	assert_int_equal(tip(&b, &a), 5);
	assert_int_equal(tip(&b, &x), 0);
	kz_sync_get_stats(l.b, &sb);
	assert_int_equal(sb.runs_rejected, 1);
	assert_int_equal(refused_n, 1);
	assert_int_equal(refused_why, KZ_ERR_NOT_FOUND);
	/* x is admitted on b: b's Vector, sent again, brings x's feed. */
	banned = NULL;
	assert_int_equal(kz_sync_vector_again(l.b), 0);
	pump(&l, 1000);
	assert_int_equal(tip(&b, &x), 5);
	banned = x.kp.pk;
	link_close(&l);

	/* The same while a's long feed is in flight: x comes again, and not
	 * one entry of a's is sent twice. */
	node_fini(&b);
	node_init(&b, 2);
	write_posts(&a, 2000, NULL);
	{
		struct kz_sync_opts small = { .window = 64 * 1024, .run_entries = 100,
		    .accept_feed = not_banned, .refused = on_refused };
		struct kz_sync_opts sa = { .window = 64 * 1024, .run_entries = 100 };
		struct kz_sync_stats sa_st;

		link_open(&l, &a, &b, &sa, &small);
		pump(&l, 8);
		assert_true(tip(&b, &a) < 2005);
		banned = NULL;
		assert_int_equal(kz_sync_vector_again(l.b), 0);
		pump(&l, 10000);
		assert_int_equal(tip(&b, &a), 2005);
		assert_int_equal(tip(&b, &x), 5);
		kz_sync_get_stats(l.a, &sa_st);
		assert_int_equal(sa_st.entries_out, 2005 + 5 + 5);
		banned = x.kp.pk;
		link_close(&l);
	}
	/* And a that does not forward x sends none. */
	node_fini(&b);
	node_init(&b, 2);
	link_open(&l, &a, &b, &filt, NULL);
	pump(&l, 1000);
	assert_int_equal(tip(&b, &a), 2005);
	assert_int_equal(tip(&b, &x), 0);
	link_close(&l);
	node_fini(&a);
	node_fini(&b);
	node_fini(&x);
}

static void
test_refusals(void **state)
{
	struct node a;
	struct kz_sync *s;
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Hello h = KIZUNA__HELLO__INIT;
	uint8_t node[32] = { 7 }, digest[16] = { 0 }, buf[256], *f;
	size_t len, flen;
	Kizuna__SyncMsg *bye;

	(void)state;
	node_init(&a, 1);
	/* A peer speaking another version gets a Bye saying why. */
	assert_int_equal(kz_sync_new(&s, a.st, a.kp.pk, NULL), 0);
	h.version = 99;
	h.node.data = node;
	h.node.len = 32;
	h.digest.data = digest;
	h.digest.len = 16;
	m.body_case = KIZUNA__SYNC_MSG__BODY_HELLO;
	m.hello = &h;
	len = kizuna__sync_msg__pack(&m, buf);
	assert_int_equal(kz_sync_receive(s, buf, len), 0);
	assert_int_equal(kz_sync_state(s), KZ_SYNC_CLOSED);
	assert_int_equal(kz_sync_next(s, &f, &flen), 0);
	bye = kizuna__sync_msg__unpack(NULL, flen, f);
	assert_non_null(bye);
	assert_int_equal(bye->body_case, KIZUNA__SYNC_MSG__BODY_BYE);
	assert_string_equal(bye->bye->reason,
	    "protocol version 99 is not supported (this node speaks 1)");
	assert_string_equal(kz_sync_reason(s), bye->bye->reason);
	kizuna__sync_msg__free_unpacked(bye, NULL);
	free(f);
	assert_int_equal(kz_sync_next(s, &f, &flen), 1);
	kz_sync_free(s);

	/* Garbage closes the session. */
	assert_int_equal(kz_sync_new(&s, a.st, a.kp.pk, NULL), 0);
	memset(buf, 0xff, 16);
	assert_int_equal(kz_sync_receive(s, buf, 16), KZ_ERR_MALFORMED);
	assert_int_equal(kz_sync_state(s), KZ_SYNC_CLOSED);
	{
		struct kz_sync_stats st;

		kz_sync_get_stats(s, &st);
		assert_int_equal(st.bad_frames, 1);
	}
	kz_sync_free(s);

	/* A Vector of more feeds than any mesh has is refused with a Bye. */
	{
		struct link l2;
		struct node b;
		Kizuna__SyncMsg vm = KIZUNA__SYNC_MSG__INIT;
		Kizuna__Vector vec = KIZUNA__VECTOR__INIT;
		size_t nf = KZ_SYNC_FEEDS_MAX + 1, k;
		Kizuna__FeedTip *tips = calloc(nf, sizeof(*tips));
		Kizuna__FeedTip **ptrs = calloc(nf, sizeof(*ptrs));
		uint8_t (*keys)[32] = calloc(nf, sizeof(*keys));
		uint8_t *vbuf;
		size_t vlen;

		assert_non_null(tips);
		assert_non_null(ptrs);
		assert_non_null(keys);
		node_init(&b, 2);
		write_posts(&b, 1, NULL);
		link_open(&l2, &a, &b, NULL, NULL);
		assert_int_equal(move(&l2, l2.a, l2.b), 1);	/* hellos */
		assert_int_equal(move(&l2, l2.b, l2.a), 1);
		for (k = 0; k < nf; k++) {
			kizuna__feed_tip__init(&tips[k]);
			keys[k][0] = (uint8_t)k;
			keys[k][1] = (uint8_t)(k >> 8);
			tips[k].feed.data = keys[k];
			tips[k].feed.len = 32;
			tips[k].tip = 1;
			ptrs[k] = &tips[k];
		}
		vec.n_feeds = nf;
		vec.feeds = ptrs;
		vm.body_case = KIZUNA__SYNC_MSG__BODY_VECTOR;
		vm.vector = &vec;
		vlen = kizuna__sync_msg__get_packed_size(&vm);
		vbuf = malloc(vlen);
		assert_non_null(vbuf);
		kizuna__sync_msg__pack(&vm, vbuf);
		assert_int_equal(kz_sync_receive(l2.a, vbuf, vlen), 0);
		assert_int_equal(kz_sync_state(l2.a), KZ_SYNC_CLOSED);
		assert_string_equal(kz_sync_reason(l2.a), "vector too large");
		free(vbuf);
		free(tips);
		free(ptrs);
		free(keys);
		link_close(&l2);
		node_fini(&b);
	}

	/* A run before any hello is refused with a Bye. */
	assert_int_equal(kz_sync_new(&s, a.st, a.kp.pk, NULL), 0);
	m = (Kizuna__SyncMsg)KIZUNA__SYNC_MSG__INIT;
	m.body_case = KIZUNA__SYNC_MSG__BODY_RUN;
	m.run.data = buf;
	m.run.len = 4;
	len = kizuna__sync_msg__pack(&m, buf + 16);
	assert_int_equal(kz_sync_receive(s, buf + 16, len), 0);
	assert_int_equal(kz_sync_state(s), KZ_SYNC_CLOSED);
	assert_string_equal(kz_sync_reason(s), "no hello first");
	{
		struct kz_sync_stats st;

		kz_sync_get_stats(s, &st);
		assert_int_equal(st.bad_frames, 1);
	}
	kz_sync_free(s);
	node_fini(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catch_up_both_ways),
		cmocka_unit_test(test_window_bounds_what_is_in_flight),
		cmocka_unit_test(test_resume_after_cut),
		cmocka_unit_test(test_live_push_and_forwarding),
		cmocka_unit_test(test_urgent_overtakes_backlog),
		cmocka_unit_test(test_detached_in_vectors),
		cmocka_unit_test(test_restored_node_catches_up_before_writing),
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_admission_filter),
		cmocka_unit_test(test_refusals),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
