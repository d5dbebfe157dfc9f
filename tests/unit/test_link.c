/*
 * Secure links between stores in one process, bytes moved by hand in
 * random slices: the handshake (208 bytes of Noise messages), sync over
 * the channel until both stores hold the same feeds, the peer's node key
 * bound to its handshake key; a wrong network key fails at the responder's
 * first read, before it sends or learns anything; altered bytes close the
 * link.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "testutil.h"

static const uint8_t CHAN[32] = { 0xc4, 0x01 };
static uint64_t rng = 42;

struct node {
	struct kz_store *st;
	struct kz_keypair kp;
};

static void
node_init(struct node *n, uint8_t seedbyte, int posts)
{
	uint8_t seed[32];
	char text[128];
	struct kz_post p = { .channel = CHAN, .text = text };

	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(kz_keypair_from_seed(&n->kp, seed), 0);
	assert_int_equal(kz_store_open(&n->st, ":memory:", NULL), 0);
	assert_int_equal(kz_store_begin(n->st), 0);
	for (int i = 0; i < posts; i++) {
		uint8_t *op;
		size_t len;

		snprintf(text, sizeof(text), "停電 %d: 復旧見込み 18:00", i);
		assert_int_equal(kz_op_encode_post(&op, &len, &p), 0);
		assert_int_equal(kz_store_append(n->st, &n->kp, 1790000000000ull +
		    (uint64_t)i, op, len, NULL), 0);
		free(op);
	}
	assert_int_equal(kz_store_commit(n->st), 0);
}

static uint64_t
tip(struct node *n, const struct node *feed)
{
	uint64_t t;

	assert_int_equal(kz_store_tip(n->st, feed->kp.pk, &t, NULL), 0);
	return t;
}

static struct kz_link *
link_for(struct node *n, const uint8_t *netkey, bool initiator)
{
	struct kz_link_opts o = { .st = n->st, .node = &n->kp,
	    .network_key = netkey, .initiator = initiator };
	struct kz_link *l;

	assert_int_equal(kz_link_new(&l, &o), 0);
	return l;
}

/* Moves what from has for the wire into to, in random slices; returns the
 * bytes moved, or -(error) from to. */
static long
move(struct kz_link *from, struct kz_link *to)
{
	uint8_t *b;
	size_t len, off = 0;
	int rc = kz_link_send(from, &b, &len);

	assert_true(rc >= 0);
	if (rc == 1)
		return 0;
	while (off < len) {
		size_t n = 1 + (size_t)(kz_test_rand(&rng) % 5000);

		if (n > len - off)
			n = len - off;
		rc = kz_link_recv(to, b + off, n);
		if (rc < 0) {
			free(b);
			return rc;
		}
		off += n;
	}
	free(b);
	return (long)len;
}

static void
pump(struct kz_link *a, struct kz_link *b)
{
	for (int i = 0; i < 100000; i++) {
		long x = move(a, b), y = move(b, a);

		assert_true(x >= 0 && y >= 0);
		if (x == 0 && y == 0)
			return;
	}
	fail_msg("links did not settle");
}

static void
test_sync_over_a_secure_link(void **state)
{
	struct node a, b;
	uint8_t netkey[32];
	struct kz_link *la, *lb;
	struct kz_link_stats sa, sb;

	(void)state;
	randombytes_buf(netkey, sizeof(netkey));
	node_init(&a, 1, 2500);
	node_init(&b, 2, 300);
	la = link_for(&a, netkey, true);
	lb = link_for(&b, netkey, false);
	assert_int_equal(kz_link_state(la), KZ_LINK_HANDSHAKE);
	pump(la, lb);
	assert_int_equal(kz_link_state(la), KZ_LINK_OPEN);
	assert_int_equal(kz_link_state(lb), KZ_LINK_OPEN);
	assert_int_equal(kz_link_sync_state(la), KZ_SYNC_LIVE);
	assert_int_equal(tip(&b, &a), 2500);
	assert_int_equal(tip(&a, &b), 300);
	assert_non_null(kz_link_peer(la));
	assert_memory_equal(kz_link_peer(la), b.kp.pk, 32);
	assert_memory_equal(kz_link_peer(lb), a.kp.pk, 32);
	kz_link_get_stats(la, &sa);
	kz_link_get_stats(lb, &sb);
	assert_int_equal(sa.handshake_bytes, 208);
	assert_int_equal(sb.handshake_bytes, 208);
	assert_int_equal(sa.bytes_out, sb.bytes_in);
	assert_int_equal(sb.bytes_out, sa.bytes_in);
	assert_int_equal(sa.sync.entries_out, 2500);
	assert_true(kz_link_idle(la) && kz_link_idle(lb));

	/* Live: a new post travels at once. */
	{
		struct kz_post p = { .channel = CHAN, .text = "給水車 到着" };
		uint8_t *op;
		size_t len;

		assert_int_equal(kz_op_encode_post(&op, &len, &p), 0);
		assert_int_equal(kz_store_append(a.st, &a.kp, 1790000009999ull, op,
		    len, NULL), 0);
		free(op);
		kz_link_feed_grew(la, a.kp.pk);
		pump(la, lb);
		assert_int_equal(tip(&b, &a), 2501);
	}
	/* A close says why. */
	kz_link_close(la, "shutting down");
	assert_true(move(la, lb) > 0);
	assert_int_equal(kz_link_state(lb), KZ_LINK_CLOSED);
	assert_string_equal(kz_link_reason(lb), "shutting down");
	kz_link_free(la);
	kz_link_free(lb);
	kz_store_free(a.st);
	kz_store_free(b.st);
}

static void
test_wrong_network_key_learns_nothing(void **state)
{
	struct node a, b;
	uint8_t k1[32], k2[32], *out;
	size_t len;
	struct kz_link *la, *lb;
	struct kz_link_stats sb;

	(void)state;
	randombytes_buf(k1, sizeof(k1));
	memcpy(k2, k1, 32);
	k2[31] ^= 1;
	node_init(&a, 1, 10);
	node_init(&b, 2, 10);
	la = link_for(&a, k1, true);
	lb = link_for(&b, k2, false);
	/* The responder refuses message 1 ... */
	assert_int_equal(kz_link_send(la, &out, &len), 0);
	assert_int_equal(len, 2 + 48);	/* e and an empty payload's tag */
	assert_int_equal(kz_link_recv(lb, out, len), KZ_ERR_BAD_SIG);
	free(out);
	assert_int_equal(kz_link_state(lb), KZ_LINK_CLOSED);
	assert_non_null(strstr(kz_link_reason(lb), "wrong network key"));
	/* ... sends nothing, learns no key, and stores nothing. */
	assert_int_equal(kz_link_send(lb, &out, &len), 1);
	assert_null(kz_link_peer(lb));
	kz_link_get_stats(lb, &sb);
	assert_int_equal(sb.bytes_out, 0);
	assert_int_equal(sb.sync.entries_in, 0);
	assert_int_equal(tip(&b, &a), 0);
	kz_link_free(la);
	kz_link_free(lb);
	kz_store_free(a.st);
	kz_store_free(b.st);
}

static void
test_altered_bytes_close_the_link(void **state)
{
	struct node a, b;
	uint8_t k[32], *out;
	size_t len;
	struct kz_link *la, *lb;

	(void)state;
	randombytes_buf(k, sizeof(k));
	node_init(&a, 1, 50);
	node_init(&b, 2, 0);
	la = link_for(&a, k, true);
	lb = link_for(&b, k, false);
	pump(la, lb);
	assert_int_equal(kz_link_state(lb), KZ_LINK_OPEN);
	assert_int_equal(tip(&b, &a), 50);
	/* One more entry in flight, altered on the way. */
	{
		struct kz_post p = { .channel = CHAN, .text = "道路 通行止め" };
		uint8_t *op;
		size_t oplen;

		assert_int_equal(kz_op_encode_post(&op, &oplen, &p), 0);
		assert_int_equal(kz_store_append(a.st, &a.kp, 1790000009999ull, op,
		    oplen, NULL), 0);
		free(op);
	}
	kz_link_feed_grew(la, a.kp.pk);
	assert_int_equal(kz_link_send(la, &out, &len), 0);
	out[len / 2] ^= 0x20;
	assert_int_equal(kz_link_recv(lb, out, len), KZ_ERR_BAD_SIG);
	free(out);
	assert_int_equal(kz_link_state(lb), KZ_LINK_CLOSED);
	assert_int_equal(kz_link_recv(lb, (const uint8_t *)"x", 1), KZ_ERR_INVAL);
	assert_int_equal(tip(&b, &a), 50);
	kz_link_free(la);
	kz_link_free(lb);
	kz_store_free(a.st);
	kz_store_free(b.st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_over_a_secure_link),
		cmocka_unit_test(test_wrong_network_key_learns_nothing),
		cmocka_unit_test(test_altered_bytes_close_the_link),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
