/*
 * Secure links between stores in one process, bytes moved by hand in
 * random slices: the handshake (208 bytes of Noise messages without
 * compression), sync over the channel until both stores hold the same
 * feeds, the peer's node key bound to its handshake key; a wrong network
 * key fails at the responder's first read, before it sends or learns
 * anything; altered bytes close the link.
 *
 * Compression (docs/sync.md, "Compression"): the handshake chooses the
 * best mode both sides allow (every combination, with exact handshake
 * sizes); a node from before compression (an empty payload, played by
 * "rogue", an independent implementation of the link's wire format on
 * kz_noise, kz_sync and libzstd) gets none; sync converges over
 * compressed links; an altered or undecodable compressed stream closes the
 * link with nothing ingested; decompression bombs are refused within the
 * bounds; and a backlog of 500 Japanese chat posts costs far fewer bytes
 * with the dictionary (the figures are printed).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "chatgen.h"
#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/noise.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/util.h"
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
link_with(struct node *n, const uint8_t *netkey, bool initiator,
    enum kz_compress c, int level, const struct kz_link_dict *dicts,
    size_t n_dicts)
{
	struct kz_link_opts o = { .st = n->st, .node = &n->kp,
	    .network_key = netkey, .initiator = initiator, .compress = c,
	    .level = level, .dicts = dicts, .n_dicts = n_dicts };
	struct kz_link *l;

	assert_int_equal(kz_link_new(&l, &o), 0);
	return l;
}

static struct kz_link *
link_for(struct node *n, const uint8_t *netkey, bool initiator)
{
	return link_with(n, netkey, initiator, KZ_COMPRESS_NONE, 0, NULL, 0);
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
	assert_int_equal(sa.compress, KZ_COMPRESS_NONE);
	assert_int_equal(sa.stream_out, sa.packed_out);
	assert_int_equal(sa.stream_out, sb.stream_in);
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

/* ------------------------------------------------------------ compression */

/* A growing byte buffer of the tests. */
struct bb {
	uint8_t *p;
	size_t len, cap;
};

static void
bb_put(struct bb *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
bb_free(struct bb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/*
 * rogue: the other end of a link written from the documented wire format
 * alone (kizuna/link.h), on kz_noise, an optional kz_sync session and
 * libzstd.  It sends the handshake payloads it is given (an old node's are
 * empty), compresses or not as told, and can alter its compressed bytes
 * or send any compressed bytes at all.
 */
struct rogue {
	struct kz_noise_handshake *hs;
	struct kz_noise_cipher tx, rx;
	bool initiator, open;
	const uint8_t *reply;		/* the responder's message-2 payload */
	size_t reply_len;
	uint8_t got[64];		/* the last handshake payload read */
	size_t got_len;
	enum kz_compress mode;
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
	struct kz_sync *sync;		/* NULL: what arrives is dropped */
	struct bb in, stream, out;
	bool corrupt_runs;		/* alter each compressed run message */
	size_t corrupt_at;		/* which byte (mod its length) */
	bool all_ff;			/* or replace it all with 0xff */
	int runs_altered;
};

static void
rogue_write(struct rogue *r, const uint8_t *payload, size_t n)
{
	uint8_t msg[KZ_NOISE_MAX_MSG + 2];
	size_t mlen;

	assert_int_equal(kz_noise_write_message(r->hs, payload, n, msg + 2,
	    sizeof(msg) - 2, &mlen), 0);
	msg[0] = (uint8_t)(mlen >> 8);
	msg[1] = (uint8_t)mlen;
	bb_put(&r->out, msg, mlen + 2);
}

static void
rogue_init(struct rogue *r, struct node *n, const uint8_t *netkey,
    bool initiator, const uint8_t *offer, size_t offer_len,
    enum kz_compress mode, bool with_sync)
{
	const uint8_t *psks[2] = { netkey, netkey };
	uint8_t x[32];

	memset(r, 0, sizeof(*r));
	r->initiator = initiator;
	r->mode = mode;
	assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(x, n->kp.sk), 0);
	assert_int_equal(kz_noise_new(&r->hs, KZ_LINK_PROTOCOL, initiator,
	    (const uint8_t *)"kizuna link 1", 13, x, NULL, psks, 2, NULL), 0);
	if (with_sync) {
		assert_int_equal(kz_sync_new(&r->sync, n->st, n->kp.pk, NULL), 0);
		assert_int_equal(kz_sync_start(r->sync), 0);
	}
	if (initiator)
		rogue_write(r, offer, offer_len);
}

static void
rogue_free(struct rogue *r)
{
	kz_noise_free(r->hs);
	kz_noise_cipher_wipe(&r->tx);
	kz_noise_cipher_wipe(&r->rx);
	ZSTD_freeCCtx(r->zc);
	ZSTD_freeDCtx(r->zd);
	kz_sync_free(r->sync);
	bb_free(&r->in);
	bb_free(&r->stream);
	bb_free(&r->out);
}

static void
rogue_open(struct rogue *r)
{
	assert_int_equal(kz_noise_split(r->hs, &r->tx, &r->rx), 0);
	r->open = true;
	if (r->mode == KZ_COMPRESS_NONE)
		return;
	r->zc = ZSTD_createCCtx();
	r->zd = ZSTD_createDCtx();
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(r->zc,
	    ZSTD_c_windowLog, KZ_LINK_WINDOW_LOG)));
	if (r->mode == KZ_COMPRESS_DICT) {
		size_t nd;
		const struct kz_link_dict *d = kz_link_builtin_dicts(&nd);

		assert_false(ZSTD_isError(ZSTD_CCtx_loadDictionary(r->zc, d->bytes,
		    d->len)));
		assert_false(ZSTD_isError(ZSTD_DCtx_loadDictionary(r->zd, d->bytes,
		    d->len)));
	}
}

/* Bytes from the link. */
static void
rogue_recv(struct rogue *r, const uint8_t *p, size_t n)
{
	bb_put(&r->in, p, n);
	while (r->in.len >= 2) {
		size_t mlen = (size_t)r->in.p[0] << 8 | r->in.p[1];
		uint8_t plain[KZ_NOISE_MAX_MSG];
		size_t plen;

		if (r->in.len - 2 < mlen)
			break;
		if (!r->open) {
			assert_int_equal(kz_noise_read_message(r->hs, r->in.p + 2, mlen,
			    plain, sizeof(plain), &plen), 0);
			assert_true(plen <= sizeof(r->got));
			memcpy(r->got, plain, plen);
			r->got_len = plen;
			if (kz_noise_action(r->hs) == KZ_NOISE_WRITE)
				rogue_write(r, r->initiator ? NULL : r->reply,
				    r->initiator ? 0 : r->reply_len);
			if (kz_noise_action(r->hs) == KZ_NOISE_SPLIT)
				rogue_open(r);
		} else {
			assert_int_equal(kz_noise_decrypt(&r->rx, r->in.p + 2, mlen,
			    plain, sizeof(plain), &plen), 0);
			if (r->zd != NULL) {
				ZSTD_inBuffer in = { plain, plen, 0 };
				uint8_t o[65536];

				while (in.pos < in.size) {
					ZSTD_outBuffer ob = { o, sizeof(o), 0 };

					assert_false(ZSTD_isError(ZSTD_decompressStream(r->zd,
					    &ob, &in)));
					bb_put(&r->stream, o, ob.pos);
				}
			} else {
				bb_put(&r->stream, plain, plen);
			}
		}
		memmove(r->in.p, r->in.p + 2 + mlen, r->in.len - 2 - mlen);
		r->in.len -= 2 + mlen;
	}
	/* Whole frames to the session. */
	while (r->stream.len >= 4) {
		size_t flen = kz_get_be32(r->stream.p);

		if (r->stream.len - 4 < flen)
			break;
		if (r->sync != NULL && kz_sync_state(r->sync) != KZ_SYNC_CLOSED)
			(void)kz_sync_receive(r->sync, r->stream.p + 4, flen);
		memmove(r->stream.p, r->stream.p + 4 + flen, r->stream.len - 4 - flen);
		r->stream.len -= 4 + flen;
	}
}

/* Seals bytes (already compressed, or plain) into transport messages. */
static void
rogue_seal(struct rogue *r, const uint8_t *p, size_t n)
{
	uint8_t msg[KZ_NOISE_MAX_MSG + 2];

	while (n > 0) {
		size_t k = n < KZ_NOISE_MAX_PAYLOAD ? n : KZ_NOISE_MAX_PAYLOAD, mlen;

		assert_int_equal(kz_noise_encrypt(&r->tx, p, k, msg + 2,
		    sizeof(msg) - 2, &mlen), 0);
		msg[0] = (uint8_t)(mlen >> 8);
		msg[1] = (uint8_t)mlen;
		bb_put(&r->out, msg, mlen + 2);
		p += k;
		n -= k;
	}
}

/* Compresses (flushed) into z. */
static void
rogue_deflate(struct rogue *r, const uint8_t *p, size_t n, ZSTD_EndDirective e,
    struct bb *z)
{
	ZSTD_inBuffer in = { p, n, 0 };
	uint8_t o[65536];
	size_t rem;

	do {
		ZSTD_outBuffer ob = { o, sizeof(o), 0 };

		rem = ZSTD_compressStream2(r->zc, &ob, &in, e);
		assert_false(ZSTD_isError(rem));
		bb_put(z, o, ob.pos);
	} while (e == ZSTD_e_continue ? in.pos < in.size : rem != 0);
}

/* Sends what the session has to send, as the link would (or altered). */
static void
rogue_flush(struct rogue *r)
{
	struct bb plain = { 0 };
	uint8_t *f;
	size_t len;
	bool has_run = false;

	if (!r->open || r->sync == NULL)
		return;
	while (kz_sync_next(r->sync, &f, &len) == 0) {
		uint8_t pre[4];

		kz_put_be32(pre, (uint32_t)len);
		bb_put(&plain, pre, 4);
		bb_put(&plain, f, len);
		has_run |= len > 0 && f[0] == 0x1a;	/* SyncMsg.run */
		free(f);
	}
	if (plain.len > 0 && r->zc == NULL) {
		rogue_seal(r, plain.p, plain.len);
	} else if (plain.len > 0) {
		struct bb z = { 0 };

		rogue_deflate(r, plain.p, plain.len, ZSTD_e_flush, &z);
		if (has_run && r->corrupt_runs) {
			if (r->all_ff)
				memset(z.p, 0xff, z.len);
			else
				z.p[r->corrupt_at % z.len] ^= 0x10;
			r->runs_altered++;
		}
		rogue_seal(r, z.p, z.len);
		bb_free(&z);
	}
	bb_free(&plain);
}

/* Moves bytes both ways until nothing moves or the link fails; returns the
 * link's last error (0 if none). */
static int
rogue_pump(struct rogue *r, struct kz_link *l)
{
	for (int i = 0; i < 10000; i++) {
		uint8_t *b;
		size_t len;
		bool moved = false;
		int rc = kz_link_send(l, &b, &len);

		assert_true(rc >= 0);
		if (rc == 0) {
			rogue_recv(r, b, len);
			free(b);
			moved = true;
		}
		rogue_flush(r);
		if (r->out.len > 0) {
			if (kz_link_state(l) == KZ_LINK_CLOSED) {
				r->out.len = 0;
			} else {
				rc = kz_link_recv(l, r->out.p, r->out.len);
				r->out.len = 0;
				if (rc < 0)
					return rc;
				moved = true;
			}
		}
		if (!moved)
			return 0;
	}
	fail_msg("rogue and link did not settle");
	return 0;
}

/* The built-in dictionary relabelled as "version 2", which nobody else
 * holds (its id lives in its header). */
static struct kz_link_dict dict_v2;
static uint8_t *dict_v2_bytes;

static void
make_dict_v2(void)
{
	size_t n;
	const struct kz_link_dict *d = kz_link_builtin_dicts(&n);

	assert_int_equal(n, 1);
	assert_int_equal(d->id, KZ_LINK_DICT_JA_CHAT_1);
	assert_int_equal(ZSTD_getDictID_fromDict(d->bytes, d->len),
	    KZ_LINK_DICT_JA_CHAT_1);
	free(dict_v2_bytes);
	dict_v2_bytes = malloc(d->len);
	assert_non_null(dict_v2_bytes);
	memcpy(dict_v2_bytes, d->bytes, d->len);
	dict_v2_bytes[4] = 0x02;	/* little-endian id 0x4b5a0002 */
	dict_v2 = (struct kz_link_dict){ 0x4b5a0002u, dict_v2_bytes, d->len };
	assert_int_equal(ZSTD_getDictID_fromDict(dict_v2.bytes, dict_v2.len),
	    0x4b5a0002u);
}

static void
test_options_checked(void **state)
{
	struct node a;
	uint8_t k[32] = { 1 };
	struct kz_link_opts o;
	struct kz_link *l;
	struct kz_link_dict bad, many[KZ_LINK_DICTS_MAX + 1];

	(void)state;
	node_init(&a, 1, 0);
	make_dict_v2();
	memset(&o, 0, sizeof(o));
	o.st = a.st;
	o.node = &a.kp;
	o.network_key = k;
	o.compress = (enum kz_compress)3;
	assert_int_equal(kz_link_new(&l, &o), KZ_ERR_INVAL);
	o.compress = KZ_COMPRESS_DICT;
	o.level = 20;
	assert_int_equal(kz_link_new(&l, &o), KZ_ERR_INVAL);
	o.level = -1;
	assert_int_equal(kz_link_new(&l, &o), KZ_ERR_INVAL);
	o.level = 19;
	bad = dict_v2;
	bad.id = KZ_LINK_DICT_JA_CHAT_1;	/* not the id in its header */
	o.dicts = &bad;
	o.n_dicts = 1;
	assert_int_equal(kz_link_new(&l, &o), KZ_ERR_INVAL);
	for (size_t i = 0; i < KZ_LINK_DICTS_MAX + 1; i++)
		many[i] = dict_v2;
	o.dicts = many;
	o.n_dicts = KZ_LINK_DICTS_MAX + 1;
	assert_int_equal(kz_link_new(&l, &o), KZ_ERR_INVAL);
	o.n_dicts = KZ_LINK_DICTS_MAX;
	assert_int_equal(kz_link_new(&l, &o), 0);
	kz_link_free(l);
	kz_store_free(a.st);
}

struct nego_case {
	const char *name;
	enum kz_compress ca, cb;	/* initiator a, responder b */
	int dicts_a, dicts_b;		/* 0 built in, 2 v2 only, 3 v2 then v1 */
	enum kz_compress want;
	uint32_t want_id;
	uint64_t hs_bytes;
};

static void
test_negotiation(void **state)
{
	static const struct nego_case cases[] = {
		{ "dict, dict", KZ_COMPRESS_DICT, KZ_COMPRESS_DICT, 0, 0,
		    KZ_COMPRESS_DICT, KZ_LINK_DICT_JA_CHAT_1, 48 + 6 + 96 + 6 + 64 },
		{ "dict, zstd", KZ_COMPRESS_DICT, KZ_COMPRESS_ZSTD, 0, 0,
		    KZ_COMPRESS_ZSTD, 0, 48 + 6 + 96 + 2 + 64 },
		{ "zstd, dict", KZ_COMPRESS_ZSTD, KZ_COMPRESS_DICT, 0, 0,
		    KZ_COMPRESS_ZSTD, 0, 48 + 2 + 96 + 2 + 64 },
		{ "no common dictionary", KZ_COMPRESS_DICT, KZ_COMPRESS_DICT, 2, 0,
		    KZ_COMPRESS_ZSTD, 0, 48 + 6 + 96 + 2 + 64 },
		{ "responder lacks the first", KZ_COMPRESS_DICT, KZ_COMPRESS_DICT,
		    3, 0, KZ_COMPRESS_DICT, KZ_LINK_DICT_JA_CHAT_1,
		    48 + 10 + 96 + 6 + 64 },
		{ "initiator lacks the first", KZ_COMPRESS_DICT, KZ_COMPRESS_DICT,
		    0, 3, KZ_COMPRESS_DICT, KZ_LINK_DICT_JA_CHAT_1,
		    48 + 6 + 96 + 6 + 64 },
		{ "none, dict", KZ_COMPRESS_NONE, KZ_COMPRESS_DICT, 0, 0,
		    KZ_COMPRESS_NONE, 0, 208 },
		{ "dict, none", KZ_COMPRESS_DICT, KZ_COMPRESS_NONE, 0, 0,
		    KZ_COMPRESS_NONE, 0, 48 + 6 + 96 + 2 + 64 },
	};
	struct node a, b;
	uint8_t k[32];
	struct kz_link_dict both[2];

	(void)state;
	randombytes_buf(k, sizeof(k));
	make_dict_v2();
	both[0] = dict_v2;
	both[1] = kz_link_builtin_dicts(&(size_t){ 0 })[0];
	node_init(&a, 1, 30);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct nego_case *c = &cases[i];
		struct kz_link *la, *lb;
		struct kz_link_stats sa, sb;

		node_init(&b, 2, 5);
		la = link_with(&a, k, true, c->ca, 0, c->dicts_a == 2 ? &dict_v2 :
		    c->dicts_a == 3 ? both : NULL, (size_t)(c->dicts_a == 2 ? 1 :
		    c->dicts_a == 3 ? 2 : 0));
		lb = link_with(&b, k, false, c->cb, 0, c->dicts_b == 3 ? both : NULL,
		    c->dicts_b == 3 ? 2 : 0);
		pump(la, lb);
		kz_link_get_stats(la, &sa);
		kz_link_get_stats(lb, &sb);
		print_message("  %-26s -> mode %d, dictionary %08x, handshake %llu "
		    "bytes\n", c->name, (int)sa.compress, sa.dict_id,
		    (unsigned long long)sa.handshake_bytes);
		assert_int_equal(kz_link_state(la), KZ_LINK_OPEN);
		assert_int_equal(kz_link_sync_state(la), KZ_SYNC_LIVE);
		assert_int_equal(sa.compress, c->want);
		assert_int_equal(sb.compress, c->want);
		assert_int_equal(sa.dict_id, c->want_id);
		assert_int_equal(sb.dict_id, c->want_id);
		assert_int_equal(sa.handshake_bytes, c->hs_bytes);
		assert_int_equal(sb.handshake_bytes, c->hs_bytes);
		assert_int_equal(sa.stream_out, sb.stream_in);
		assert_int_equal(sa.packed_out, sb.packed_in);
		if (c->want == KZ_COMPRESS_NONE)
			assert_int_equal(sa.packed_out, sa.stream_out);
		else
			assert_true(sa.packed_out < sa.stream_out);
		assert_int_equal(tip(&b, &a), 30);
		assert_int_equal(tip(&a, &b), 5);
		kz_link_free(la);
		kz_link_free(lb);
		kz_store_free(b.st);
	}
	kz_store_free(a.st);
}

/* A node from before compression, as initiator and as responder. */
static void
test_old_peer_gets_no_compression(void **state)
{
	struct node a, b;
	uint8_t k[32];
	struct rogue r;
	struct kz_link *l;
	struct kz_link_stats s;

	(void)state;
	randombytes_buf(k, sizeof(k));
	node_init(&a, 1, 40);
	node_init(&b, 2, 0);
	/* An old initiator: empty payload; the link answers with an empty one. */
	rogue_init(&r, &a, k, true, NULL, 0, KZ_COMPRESS_NONE, true);
	l = link_with(&b, k, false, KZ_COMPRESS_DICT, 19, NULL, 0);
	assert_int_equal(rogue_pump(&r, l), 0);
	kz_link_get_stats(l, &s);
	assert_int_equal(kz_link_state(l), KZ_LINK_OPEN);
	assert_int_equal(s.compress, KZ_COMPRESS_NONE);
	assert_int_equal(s.handshake_bytes, 208);
	assert_int_equal(r.got_len, 0);
	assert_int_equal(s.packed_in, s.stream_in);
	assert_int_equal(tip(&b, &a), 40);
	kz_link_free(l);
	rogue_free(&r);
	/* An old responder ignores the offer and answers empty. */
	{
		uint8_t pl[6] = { 1, 2, 0x4b, 0x5a, 0x00, 0x01 };

		l = link_with(&b, k, true, KZ_COMPRESS_DICT, 19, NULL, 0);
		rogue_init(&r, &a, k, false, NULL, 0, KZ_COMPRESS_NONE, true);
		assert_int_equal(rogue_pump(&r, l), 0);
		kz_link_get_stats(l, &s);
		assert_int_equal(kz_link_state(l), KZ_LINK_OPEN);
		assert_int_equal(s.compress, KZ_COMPRESS_NONE);
		assert_int_equal(s.handshake_bytes, 208 + 6);
		/* What the old node was offered: exactly the documented bytes. */
		assert_int_equal(r.got_len, 0);	/* message 3's payload */
		kz_link_free(l);
		rogue_free(&r);
		/* The offer itself, read by a rogue responder: */
		l = link_with(&b, k, true, KZ_COMPRESS_DICT, 19, NULL, 0);
		rogue_init(&r, &a, k, false, NULL, 0, KZ_COMPRESS_NONE, true);
		{
			uint8_t *out;
			size_t len;
			uint8_t plain[KZ_NOISE_MAX_MSG];
			size_t plen;

			assert_int_equal(kz_link_send(l, &out, &len), 0);
			assert_int_equal(len, 2 + 48 + 6);
			assert_int_equal(kz_noise_read_message(r.hs, out + 2, len - 2,
			    plain, sizeof(plain), &plen), 0);
			assert_int_equal(plen, 6);
			assert_memory_equal(plain, pl, 6);
			free(out);
		}
		kz_link_free(l);
		rogue_free(&r);
	}
	/* The independent implementation speaks the new format too: */
	{
		uint8_t pl[6] = { 1, 2, 0x4b, 0x5a, 0x00, 0x01 };
		struct node c;

		node_init(&c, 3, 0);
		rogue_init(&r, &a, k, true, pl, sizeof(pl), KZ_COMPRESS_DICT, true);
		l = link_with(&c, k, false, KZ_COMPRESS_DICT, 19, NULL, 0);
		assert_int_equal(rogue_pump(&r, l), 0);
		kz_link_get_stats(l, &s);
		assert_int_equal(s.compress, KZ_COMPRESS_DICT);
		assert_int_equal(r.got_len, 6);
		assert_memory_equal(r.got, pl, 6);
		assert_int_equal(tip(&c, &a), 40);
		assert_true(s.packed_in < s.stream_in);
		kz_link_free(l);
		rogue_free(&r);
		kz_store_free(c.st);
	}
	kz_store_free(a.st);
	kz_store_free(b.st);
}

/* Offers and choices out of the format close the handshake. */
static void
test_bad_payloads_refused(void **state)
{
	static const struct {
		uint8_t p[8];
		size_t n;
	} offers[] = {
		{ { 1 }, 1 },				/* no mode */
		{ { 1, 3 }, 2 },			/* unknown mode */
		{ { 1, 2, 0x4b, 0x5a, 0 }, 5 },		/* a partial id */
		{ { 1, 1, 0x4b, 0x5a, 0, 1 }, 6 },	/* ids without dict */
	};
	struct node a, b;
	uint8_t k[32];
	struct rogue r;
	struct kz_link *l;

	(void)state;
	randombytes_buf(k, sizeof(k));
	node_init(&a, 1, 5);
	node_init(&b, 2, 0);
	for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
		rogue_init(&r, &a, k, true, offers[i].p, offers[i].n,
		    KZ_COMPRESS_NONE, false);
		l = link_with(&b, k, false, KZ_COMPRESS_DICT, 0, NULL, 0);
		assert_int_equal(rogue_pump(&r, l), KZ_ERR_MALFORMED);
		assert_int_equal(kz_link_state(l), KZ_LINK_CLOSED);
		assert_non_null(strstr(kz_link_reason(l), "compression offer"));
		kz_link_free(l);
		rogue_free(&r);
	}
	/* A format this node does not know (a later version): no compression. */
	{
		uint8_t later[3] = { 2, 9, 9 };
		struct kz_link_stats s;

		rogue_init(&r, &a, k, true, later, 3, KZ_COMPRESS_NONE, true);
		l = link_with(&b, k, false, KZ_COMPRESS_DICT, 0, NULL, 0);
		assert_int_equal(rogue_pump(&r, l), 0);
		kz_link_get_stats(l, &s);
		assert_int_equal(s.compress, KZ_COMPRESS_NONE);
		assert_int_equal(r.got_len, 0);
		assert_int_equal(tip(&b, &a), 5);
		kz_link_free(l);
		rogue_free(&r);
	}
	/* Choices the initiator did not offer. */
	{
		static const uint8_t dict_when_zstd[6] = { 1, 2, 0x4b, 0x5a, 0, 1 };
		static const uint8_t unknown_dict[6] = { 1, 2, 0x4b, 0x5a, 0, 9 };
		static const uint8_t trailing[3] = { 1, 1, 0 };
		const struct {
			enum kz_compress offer;
			const uint8_t *p;
			size_t n;
		} replies[] = {
			{ KZ_COMPRESS_ZSTD, dict_when_zstd, 6 },
			{ KZ_COMPRESS_DICT, unknown_dict, 6 },
			{ KZ_COMPRESS_DICT, trailing, 3 },
		};

		for (size_t i = 0; i < 3; i++) {
			l = link_with(&b, k, true, replies[i].offer, 0, NULL, 0);
			rogue_init(&r, &a, k, false, NULL, 0, KZ_COMPRESS_NONE, false);
			r.reply = replies[i].p;
			r.reply_len = replies[i].n;
			assert_int_equal(rogue_pump(&r, l), KZ_ERR_MALFORMED);
			assert_int_equal(kz_link_state(l), KZ_LINK_CLOSED);
			assert_non_null(strstr(kz_link_reason(l), "did not offer"));
			kz_link_free(l);
			rogue_free(&r);
		}
	}
	kz_store_free(a.st);
	kz_store_free(b.st);
}

static void
test_sync_over_a_compressed_link(void **state)
{
	struct node a, b;
	uint8_t netkey[32];
	struct kz_link *la, *lb;
	struct kz_link_stats sa, sb;

	(void)state;
	randombytes_buf(netkey, sizeof(netkey));
	node_init(&a, 1, 2500);
	node_init(&b, 2, 300);
	la = link_with(&a, netkey, true, KZ_COMPRESS_DICT, KZ_LINK_LEVEL_RADIO,
	    NULL, 0);
	lb = link_with(&b, netkey, false, KZ_COMPRESS_DICT, KZ_LINK_LEVEL_LAN,
	    NULL, 0);
	pump(la, lb);
	assert_int_equal(kz_link_state(la), KZ_LINK_OPEN);
	assert_int_equal(kz_link_sync_state(la), KZ_SYNC_LIVE);
	assert_int_equal(kz_link_sync_state(lb), KZ_SYNC_LIVE);
	assert_int_equal(tip(&b, &a), 2500);
	assert_int_equal(tip(&a, &b), 300);
	assert_memory_equal(kz_link_peer(la), b.kp.pk, 32);
	assert_memory_equal(kz_link_peer(lb), a.kp.pk, 32);
	kz_link_get_stats(la, &sa);
	kz_link_get_stats(lb, &sb);
	assert_int_equal(sa.compress, KZ_COMPRESS_DICT);
	assert_int_equal(sa.stream_out, sb.stream_in);
	assert_int_equal(sb.stream_out, sa.stream_in);
	assert_int_equal(sa.packed_out, sb.packed_in);
	/* Each side's stream is what its sync session framed. */
	assert_int_equal(sa.stream_out, sa.sync.bytes_out + 4 * sa.sync.frames_out);
	assert_int_equal(sb.stream_in, sb.sync.bytes_in + 4 * sb.sync.frames_in);
	assert_true(sa.packed_out * 2 < sa.stream_out);
	assert_true(sb.packed_out * 2 < sb.stream_out);
	/* Transport bytes: the packed stream, 18 bytes a Noise message. */
	assert_int_equal(sa.bytes_out, sb.bytes_in);
	assert_true(sa.bytes_out > sa.packed_out);
	assert_true(sb.rx_buffer_peak <= KZ_SYNC_FRAME_MAX + 4 + 65536);
	assert_true(kz_link_idle(la) && kz_link_idle(lb));
	/* Live, both ways: the history carries over. */
	for (int i = 0; i < 3; i++) {
		struct node *n = i == 1 ? &b : &a;
		struct kz_post p = { .channel = CHAN, .text = "給水車 到着" };
		uint8_t *op;
		size_t len;

		assert_int_equal(kz_op_encode_post(&op, &len, &p), 0);
		assert_int_equal(kz_store_append(n->st, &n->kp, 1790000009999ull +
		    (uint64_t)i, op, len, NULL), 0);
		free(op);
		kz_link_feed_grew(i == 1 ? lb : la, n->kp.pk);
		pump(la, lb);
	}
	assert_int_equal(tip(&b, &a), 2502);
	assert_int_equal(tip(&a, &b), 301);
	kz_link_close(la, "shutting down");
	assert_true(move(la, lb) > 0);
	assert_int_equal(kz_link_state(lb), KZ_LINK_CLOSED);
	assert_string_equal(kz_link_reason(lb), "shutting down");
	kz_link_free(la);
	kz_link_free(lb);
	kz_store_free(a.st);
	kz_store_free(b.st);
}

/* On the wire, Noise catches any change; inside the stream (a member whose
 * compressed bytes are wrong), the decoder, the frame parser or the run's
 * signature does: never is anything stored. */
static void
test_altered_compressed_stream(void **state)
{
	struct node a, b;
	uint8_t k[32], *out;
	size_t len;
	struct kz_link *la, *lb;
	const uint8_t offer[2] = { 1, 1 };
	int closed = 0, refused = 0;

	(void)state;
	randombytes_buf(k, sizeof(k));
	node_init(&a, 1, 50);
	node_init(&b, 2, 0);
	/* Altered on the wire. */
	la = link_with(&a, k, true, KZ_COMPRESS_DICT, 19, NULL, 0);
	lb = link_with(&b, k, false, KZ_COMPRESS_DICT, 19, NULL, 0);
	pump(la, lb);
	assert_int_equal(tip(&b, &a), 50);
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
	assert_int_equal(tip(&b, &a), 50);
	kz_link_free(la);
	kz_link_free(lb);
	kz_store_free(b.st);
	node_init(&b, 2, 0);

	/* A run's compressed message replaced by bytes zstd cannot decode. */
	{
		struct rogue r;
		struct kz_link_stats s;

		rogue_init(&r, &a, k, true, offer, 2, KZ_COMPRESS_ZSTD, true);
		r.corrupt_runs = true;
		r.all_ff = true;
		lb = link_with(&b, k, false, KZ_COMPRESS_DICT, 0, NULL, 0);
		assert_int_equal(rogue_pump(&r, lb), KZ_ERR_MALFORMED);
		assert_int_equal(r.runs_altered, 1);
		assert_int_equal(kz_link_state(lb), KZ_LINK_CLOSED);
		assert_non_null(strstr(kz_link_reason(lb), "compressed stream"));
		kz_link_get_stats(lb, &s);
		assert_int_equal(s.sync.entries_in, 0);
		assert_int_equal(tip(&b, &a), 0);
		kz_link_free(lb);
		rogue_free(&r);
	}
	/* One byte flipped, at 24 places in turn. */
	for (size_t at = 0; at < 24; at++) {
		struct rogue r;
		struct kz_link_stats s;
		int rc;

		rogue_init(&r, &a, k, true, offer, 2, KZ_COMPRESS_ZSTD, true);
		r.corrupt_runs = true;
		r.corrupt_at = at * 131 + at / 3;
		lb = link_with(&b, k, false, KZ_COMPRESS_DICT, 0, NULL, 0);
		rc = rogue_pump(&r, lb);
		kz_link_get_stats(lb, &s);
		assert_true(rc == 0 || rc == KZ_ERR_MALFORMED || rc == KZ_ERR_TOO_BIG);
		assert_true(r.runs_altered >= 1);
		closed += kz_link_state(lb) == KZ_LINK_CLOSED;
		refused += s.sync.runs_rejected > 0;
		assert_int_equal(s.sync.entries_in, 0);
		assert_int_equal(tip(&b, &a), 0);
		kz_link_free(lb);
		rogue_free(&r);
	}
	print_message("  24 single-byte alterations: %d closed the link, %d runs "
	    "refused, nothing stored\n", closed, refused);
	assert_true(closed + refused > 0);
	kz_store_free(a.st);
	kz_store_free(b.st);
}

/* Compresses (with the rogue's stream) n bytes of fill after a prefix. */
static void
bomb(struct rogue *r, const uint8_t *prefix, size_t plen, uint8_t fill,
    size_t n, struct bb *z)
{
	uint8_t *chunk = malloc(1 << 20);

	assert_non_null(chunk);
	memset(chunk, fill, 1 << 20);
	rogue_deflate(r, prefix, plen, ZSTD_e_continue, z);
	while (n > 0) {
		size_t k = n < (1u << 20) ? n : (1u << 20);

		rogue_deflate(r, chunk, k, ZSTD_e_continue, z);
		n -= k;
	}
	rogue_deflate(r, NULL, 0, ZSTD_e_flush, z);
	free(chunk);
}

static void
test_decompression_bombs(void **state)
{
	struct node a, b;
	uint8_t k[32];
	const uint8_t offer[2] = { 1, 1 };
	struct rogue r;
	struct kz_link *l;
	struct kz_link_stats s;
	struct bb z = { 0 };
	const uint64_t bound = KZ_SYNC_FRAME_MAX + 4 + 65536;

	(void)state;
	randombytes_buf(k, sizeof(k));
	node_init(&a, 1, 3);
	node_init(&b, 2, 0);

	/* A frame of the largest size, then 256 MiB of zeros: a few KiB. */
	{
		uint8_t pre[4];

		rogue_init(&r, &a, k, true, offer, 2, KZ_COMPRESS_ZSTD, false);
		l = link_with(&b, k, false, KZ_COMPRESS_ZSTD, 0, NULL, 0);
		assert_int_equal(rogue_pump(&r, l), 0);
		assert_int_equal(kz_link_state(l), KZ_LINK_OPEN);
		kz_put_be32(pre, KZ_SYNC_FRAME_MAX);
		bomb(&r, pre, 4, 0, 256u << 20, &z);
		print_message("  bomb 1: 256 MiB in %zu bytes\n", z.len);
		assert_true(z.len < KZ_NOISE_MAX_PAYLOAD);
		rogue_seal(&r, z.p, z.len);
		assert_int_equal(kz_link_recv(l, r.out.p, r.out.len), KZ_ERR_MALFORMED);
		kz_link_get_stats(l, &s);
		assert_int_equal(kz_link_state(l), KZ_LINK_CLOSED);
		assert_true(s.rx_buffer_peak <= bound);
		assert_true(s.stream_in <= bound);	/* decoding stopped there */
		assert_int_equal(s.sync.frames_in, 0);
		print_message("  bomb 1: refused after %llu bytes decoded, %llu held "
		    "at most\n", (unsigned long long)s.stream_in,
		    (unsigned long long)s.rx_buffer_peak);
		bb_free(&z);
		kz_link_free(l);
		rogue_free(&r);
	}
	/* Millions of tiny valid frames (pings) after a real Hello. */
	{
		static const uint8_t ping[6] = { 0, 0, 0, 2, 0x3a, 0x00 };
		struct bb pings = { 0 };
		uint64_t before;

		rogue_init(&r, &a, k, true, offer, 2, KZ_COMPRESS_ZSTD, true);
		l = link_with(&b, k, false, KZ_COMPRESS_ZSTD, 0, NULL, 0);
		assert_int_equal(rogue_pump(&r, l), 0);
		assert_int_equal(kz_link_sync_state(l), KZ_SYNC_LIVE);
		kz_link_get_stats(l, &s);
		before = s.sync.frames_in;
		for (int i = 0; i < 100000; i++)
			bb_put(&pings, ping, sizeof(ping));
		for (int i = 0; i < 10; i++)
			rogue_deflate(&r, pings.p, pings.len, ZSTD_e_continue, &z);
		rogue_deflate(&r, NULL, 0, ZSTD_e_flush, &z);
		print_message("  bomb 2: 1,000,000 pings in %zu bytes\n", z.len);
		rogue_seal(&r, z.p, z.len);
		assert_int_equal(kz_link_recv(l, r.out.p, r.out.len), KZ_ERR_MALFORMED);
		kz_link_get_stats(l, &s);
		assert_int_equal(kz_link_state(l), KZ_LINK_CLOSED);
		assert_non_null(strstr(kz_link_reason(l), "more frames"));
		assert_true(s.sync.frames_in - before <= 64 + z.len / 4 + 1);
		assert_true(s.rx_buffer_peak <= bound);
		bb_free(&pings);
		bb_free(&z);
		kz_link_free(l);
		rogue_free(&r);
	}
	/* A stream that needs a 16 MiB window. */
	{
		uint8_t hello[4] = { 0, 0, 0, 0 };

		rogue_init(&r, &a, k, true, offer, 2, KZ_COMPRESS_ZSTD, false);
		l = link_with(&b, k, false, KZ_COMPRESS_ZSTD, 0, NULL, 0);
		assert_int_equal(rogue_pump(&r, l), 0);
		assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(r.zc,
		    ZSTD_c_windowLog, 24)));
		rogue_deflate(&r, hello, 4, ZSTD_e_flush, &z);
		rogue_seal(&r, z.p, z.len);
		assert_int_equal(kz_link_recv(l, r.out.p, r.out.len), KZ_ERR_MALFORMED);
		assert_int_equal(kz_link_state(l), KZ_LINK_CLOSED);
		assert_non_null(strstr(kz_link_reason(l), "compressed stream"));
		bb_free(&z);
		kz_link_free(l);
		rogue_free(&r);
	}
	kz_store_free(a.st);
	kz_store_free(b.st);
}

/* Is needle (n bytes) anywhere in hay? */
static bool
contains(const uint8_t *hay, size_t hn, const char *needle, size_t n)
{
	for (size_t i = 0; n <= hn && i <= hn - n; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

#define BACKLOG 500
#define LIVE 20

/* Posts of 40-80 characters on A's feed by four staff in three channels,
 * minutes apart, each appended as staff post them (signed alone). */
static uint64_t
post_chat(struct node *a, struct kz_chatgen *g, uint8_t chans[3][32], int posts,
    uint64_t *ms)
{
	static const char *const actors[] = {
		"sato.k", "tanaka.m", "suzuki.a", "ito.r",
	};
	uint64_t text_bytes = 0;
	size_t nd;
	const struct kz_link_dict *d = kz_link_builtin_dicts(&nd);

	for (int i = 0; i < posts; i++) {
		char text[512];
		size_t tl = kz_chatgen_message(g, text, sizeof(text), 40, 80);
		struct kz_op op = { .type = KZ_OP_POST,
		    .actor = actors[kz_chatgen_rand(g, 4)] };
		uint8_t *b;
		size_t len;

		/* Held out: never a piece of the dictionary. */
		assert_false(contains(d->bytes, d->len, text, tl));
		op.u.post.channel = chans[kz_chatgen_rand(g, 3)];
		op.u.post.text = text;
		assert_int_equal(kz_op_encode(&b, &len, &op), 0);
		*ms += 10000 + (uint64_t)kz_chatgen_rand(g, 290) * 1000;
		assert_int_equal(kz_store_append(a->st, &a->kp, *ms, b, len, NULL), 0);
		free(b);
		text_bytes += tl;
	}
	return text_bytes;
}

/*
 * The measure: a backlog of 500 Japanese chat posts of 40-80
 * characters (120-240 UTF-8 bytes) crossing a link from a node that holds
 * them to one that holds nothing, in each mode, at the radio profile's
 * level; every byte either way counts (handshake, Hello, Vector, run,
 * acks, Noise tags and lengths).  Then 20 posts one at a time in live mode.
 */
static void
test_japanese_backlog_bytes(void **state)
{
	static const char *const names[] = { "none", "zstd", "dict" };
	static const int sizes[2] = { BACKLOG, 10 };
	uint8_t k[32];
	uint64_t total[2][3], live[3];

	(void)state;
	randombytes_buf(k, sizeof(k));
	for (int sz = 0; sz < 2; sz++)
	for (int m = 0; m < 3; m++) {
		struct node a, b;
		uint8_t seed[32], chans[3][32];
		struct kz_chatgen g;
		struct kz_link *la, *lb;
		struct kz_link_stats sa;
		uint64_t text, live_text, ms = 1790000000000ull, before;
		int n = sizes[sz];

		/* The same A every time: same key, channels and posts. */
		memset(seed, 0x61, sizeof(seed));
		assert_int_equal(kz_keypair_from_seed(&a.kp, seed), 0);
		assert_int_equal(kz_store_open(&a.st, ":memory:", NULL), 0);
		memset(seed, 0x62, sizeof(seed));
		assert_int_equal(kz_keypair_from_seed(&b.kp, seed), 0);
		assert_int_equal(kz_store_open(&b.st, ":memory:", NULL), 0);
		assert_int_equal(kz_chatgen_init(&g, 0x7e57ab1e, KZ_CHATGEN_HELDOUT), 0);
		for (int c = 0; c < 3; c++)
			for (int i = 0; i < 32; i++)
				chans[c][i] = (uint8_t)kz_chatgen_rand(&g, 256);
		text = post_chat(&a, &g, chans, n, &ms);

		la = link_with(&a, k, true, (enum kz_compress)m, KZ_LINK_LEVEL_RADIO,
		    NULL, 0);
		lb = link_with(&b, k, false, (enum kz_compress)m, KZ_LINK_LEVEL_RADIO,
		    NULL, 0);
		pump(la, lb);
		assert_int_equal(tip(&b, &a), n);
		kz_link_get_stats(la, &sa);
		assert_int_equal(sa.compress, m);
		total[sz][m] = sa.bytes_out + sa.bytes_in;
		print_message("  %s: %llu bytes on the link for %d posts of %llu text "
		    "bytes: %.1f bytes a post, %.3f x the text (A to B %llu, B to A "
		    "%llu, handshake %llu; sync stream out %llu, packed %llu)\n",
		    names[m], (unsigned long long)total[sz][m], n,
		    (unsigned long long)text, (double)total[sz][m] / n,
		    (double)total[sz][m] / (double)text,
		    (unsigned long long)sa.bytes_out, (unsigned long long)sa.bytes_in,
		    (unsigned long long)sa.handshake_bytes,
		    (unsigned long long)sa.stream_out,
		    (unsigned long long)sa.packed_out);
		if (sz == 0) {
			/* Then posts one at a time in live mode. */
			before = total[sz][m];
			live_text = 0;
			for (int i = 0; i < LIVE; i++) {
				live_text += post_chat(&a, &g, chans, 1, &ms);
				kz_link_feed_grew(la, a.kp.pk);
				pump(la, lb);
			}
			assert_int_equal(tip(&b, &a), n + LIVE);
			kz_link_get_stats(la, &sa);
			live[m] = sa.bytes_out + sa.bytes_in - before;
			print_message("  %s, live after it: %.1f bytes a post on the "
			    "link, %.3f x its text\n", names[m], (double)live[m] / LIVE,
			    (double)live[m] / (double)live_text);
		}
		kz_link_free(la);
		kz_link_free(lb);
		kz_store_free(a.st);
		kz_store_free(b.st);
		kz_chatgen_free(&g);
	}
	/* Notably fewer bytes with the dictionary; zstd alone helps too. */
	assert_true(total[0][KZ_COMPRESS_ZSTD] < total[0][KZ_COMPRESS_NONE]);
	assert_true(total[0][KZ_COMPRESS_DICT] < total[0][KZ_COMPRESS_ZSTD]);
	assert_true(total[0][KZ_COMPRESS_DICT] * 2 < total[0][KZ_COMPRESS_NONE]);
	/* The dictionary matters most where there is little history: a
	 * short session. */
	assert_true(total[1][KZ_COMPRESS_ZSTD] < total[1][KZ_COMPRESS_NONE]);
	assert_true(total[1][KZ_COMPRESS_DICT] * 10 < total[1][KZ_COMPRESS_ZSTD] * 9);
	/* Live posts after a backlog: the history serves both alike. */
	assert_true(live[KZ_COMPRESS_ZSTD] * 10 < live[KZ_COMPRESS_NONE] * 6);
	assert_true(live[KZ_COMPRESS_DICT] * 10 < live[KZ_COMPRESS_NONE] * 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_over_a_secure_link),
		cmocka_unit_test(test_wrong_network_key_learns_nothing),
		cmocka_unit_test(test_altered_bytes_close_the_link),
		cmocka_unit_test(test_options_checked),
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_old_peer_gets_no_compression),
		cmocka_unit_test(test_bad_payloads_refused),
		cmocka_unit_test(test_sync_over_a_compressed_link),
		cmocka_unit_test(test_altered_compressed_stream),
		cmocka_unit_test(test_decompression_bombs),
		cmocka_unit_test(test_japanese_backlog_bytes),
	};
	int rc;

	if (sodium_init() < 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(dict_v2_bytes);
	return rc;
}
