/*
 * kizuna-dict-train: trains the zstd dictionary that links compress their
 * sync stream with (docs/sync.md, "Compression"), from synthetic Japanese
 * disaster-coordination chat as it appears on the wire.
 *
 *   kizuna-dict-train [--out FILE] [--check FILE] [--size BYTES]
 *                     [--meshes N] [--events N]
 *
 * For each of N meshes (fresh node keys each, so that no key or channel id
 * is frequent enough to enter the dictionary) five nodes in memory live
 * through a day cut off from each other: the admin node founds the mesh,
 * admits the others, creates users and channels; then every node's staff
 * post (tools/dict/chatgen.c, the TRAIN variant), reply in threads, react,
 * acknowledge urgent posts, edit, and report safety statuses, with times
 * from a simulated clock.  When the links come back each node syncs with
 * the admin node through two kz_sync sessions, and a few posts follow in
 * live mode.  Every frame is recorded as the link carries it in its
 * stream (u32 length, SyncMsg), each direction of each session its own
 * stream; the streams cut at frame boundaries into samples of at most 8 KiB
 * are the training set.
 *
 * ZDICT_trainFromBuffer picks the content; ZDICT_finalizeDictionary then
 * writes the entropy tables for level 19 and the fixed dictionary id
 * KZ_LINK_DICT_JA_CHAT_1 (0x4b5a0001, "KZ" and version 1).  Everything is
 * seeded (KZ_CHATGEN_TRAIN_SEED), so a run with the same libzstd gives the
 * same bytes: `--check src/sync/dict/ja-chat-1.zdict` trains again and
 * compares.  The shipped file was made by
 *
 *   build/bin/kizuna-dict-train --out src/sync/dict/ja-chat-1.zdict
 *
 * with libzstd 1.5.4 (Debian 12).  The run ends with a held-out check: the
 * streams of meshes generated from the HELDOUT variant and another seed,
 * compressed as a link would (one zstd stream per direction, flushed per
 * frame, level 19, window 2^18) without and with the new dictionary.
 */
#include <err.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

#include "chatgen.h"
#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/sync.h"
#include "kizuna/util.h"

#define NODES 5
#define USERS_PER_NODE 3
#define CHANNELS 3
#define SAMPLE_MAX 8192
#define DICT_LEVEL 19

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void
put(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (cap < b->len + n)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			err(1, "realloc");
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Recorded streams: one per direction of each session, frames in order. */
struct streams {
	struct bytes *s;
	size_t n, cap;
};

static struct bytes *
new_stream(struct streams *ss)
{
	if (ss->n == ss->cap) {
		ss->cap = ss->cap ? ss->cap * 2 : 64;
		if ((ss->s = realloc(ss->s, ss->cap * sizeof(*ss->s))) == NULL)
			err(1, "realloc");
	}
	memset(&ss->s[ss->n], 0, sizeof(ss->s[0]));
	return &ss->s[ss->n++];
}

static void
check(int rc, const char *what)
{
	if (rc < 0)
		errx(1, "%s: %s", what, kz_strerror(rc));
}

struct node {
	struct kz_store *st;
	struct kz_keypair kp;
	char users[USERS_PER_NODE][32];
};

struct mesh {
	struct node n[NODES];
	uint8_t chan[CHANNELS][32];
	uint8_t posts[64][32];		/* recent post ids, a ring */
	bool urgent[64];
	size_t n_posts;
	uint64_t now_ms;
};

static void
append(struct node *nd, uint64_t ms, const struct kz_op *op, uint8_t *id)
{
	uint8_t *b;
	size_t len;
	struct kz_appended a;

	check(kz_op_encode(&b, &len, op), "op encode");
	check(kz_store_append(nd->st, &nd->kp, ms, b, len, &a), "append");
	free(b);
	if (id != NULL)
		memcpy(id, a.hash, 32);
}

static void
mesh_new(struct mesh *m, struct kz_chatgen *g, uint64_t seed, unsigned idx)
{
	static const char *const chans[CHANNELS] = {
		"災害対策本部", "避難所運営", "インフラ被害",
	};
	uint8_t s[32], mesh_id[32];
	struct kz_op op;

	memset(m, 0, sizeof(*m));
	/* A day in autumn 2026, in milliseconds since 1970. */
	m->now_ms = 1790000000000ull + (uint64_t)kz_chatgen_rand(g, 86400) * 1000;
	for (int i = 0; i < NODES; i++) {
		struct node *nd = &m->n[i];
		uint64_t in[3] = { seed, idx, (uint64_t)i };

		crypto_generichash(s, sizeof(s), (const uint8_t *)in, sizeof(in),
		    NULL, 0);
		check(kz_keypair_from_seed(&nd->kp, s), "key");
		check(kz_store_open(&nd->st, ":memory:", NULL), "store");
		for (int u = 0; u < USERS_PER_NODE; u++)
			kz_chatgen_user(g, nd->users[u], sizeof(nd->users[u]));
	}
	crypto_generichash(mesh_id, 32, s, 32, NULL, 0);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_MESH_CREATE;
	op.u.mesh_create.mesh_id = mesh_id;
	op.u.mesh_create.name = "上川市防災ネットワーク";
	append(&m->n[0], m->now_ms, &op, NULL);
	for (int i = 1; i < NODES; i++) {
		static const char *const names[NODES] = {
			"本庁舎", "東沢支所", "上町支所", "駅前出張所", "西沢支所",
		};

		memset(&op, 0, sizeof(op));
		op.type = KZ_OP_NODE_ADMIT;
		op.u.node_admit.node = m->n[i].kp.pk;
		op.u.node_admit.name = names[i];
		append(&m->n[0], m->now_ms += 1000, &op, NULL);
	}
	for (int i = 0; i < NODES; i++) {
		for (int u = 0; u < USERS_PER_NODE; u++) {
			static const char *const depts[] = {
				"危機管理課", "福祉課", "建設課", "水道課", "総務課",
			};

			memset(&op, 0, sizeof(op));
			op.type = KZ_OP_USER_SET;
			op.u.user_set.user = m->n[i].users[u];
			op.u.user_set.set = KZ_USER_SET_DISPLAY_NAME |
			    KZ_USER_SET_DEPARTMENT | KZ_USER_SET_ACTIVE;
			op.u.user_set.display_name = "職員";
			op.u.user_set.department =
			    depts[kz_chatgen_rand(g, sizeof(depts) / sizeof(depts[0]))];
			op.u.user_set.active = true;
			append(&m->n[0], m->now_ms += 1000, &op, NULL);
		}
	}
	for (int c = 0; c < CHANNELS; c++) {
		memset(&op, 0, sizeof(op));
		op.type = KZ_OP_CHANNEL_CREATE;
		op.u.channel_create.name = chans[c];
		op.u.channel_create.topic = "発災対応の連絡用";
		append(&m->n[0], m->now_ms += 1000, &op, m->chan[c]);
	}
}

/* One event of the day: a node's user writes something. */
static void
event(struct mesh *m, struct kz_chatgen *g)
{
	struct node *nd = &m->n[kz_chatgen_rand(g, NODES)];
	char text[512], note[128];
	struct kz_op op;
	uint32_t r = kz_chatgen_rand(g, 100);
	size_t slot = m->n_posts % 64;
	const uint8_t *recent = m->n_posts > 0 ?
	    m->posts[kz_chatgen_rand(g, (uint32_t)(m->n_posts < 64 ? m->n_posts :
	    64))] : NULL;

	m->now_ms += 5000 + (uint64_t)kz_chatgen_rand(g, 300) * 1000;
	memset(&op, 0, sizeof(op));
	op.actor = nd->users[kz_chatgen_rand(g, USERS_PER_NODE)];
	if (recent == NULL || r < 62) {
		op.type = KZ_OP_POST;
		op.u.post.channel = m->chan[kz_chatgen_rand(g, CHANNELS)];
		kz_chatgen_message(g, text, sizeof(text), 20 + kz_chatgen_rand(g, 30),
		    90);
		op.u.post.text = text;
		if (kz_chatgen_rand(g, 8) == 0)
			op.u.post.priority = KZ_PRIO_URGENT;
		m->urgent[slot] = op.u.post.priority != KZ_PRIO_NORMAL;
		append(nd, m->now_ms, &op, m->posts[slot]);
		m->n_posts++;
	} else if (r < 72) {
		op.type = KZ_OP_POST;
		op.u.post.channel = m->chan[kz_chatgen_rand(g, CHANNELS)];
		op.u.post.thread_root = recent;
		op.u.post.text = kz_chatgen_reply(g);
		append(nd, m->now_ms, &op, NULL);
	} else if (r < 82) {
		op.type = KZ_OP_REACT;
		op.u.react.target = recent;
		op.u.react.emoji = kz_chatgen_emoji(g);
		op.u.react.on = true;
		append(nd, m->now_ms, &op, NULL);
	} else if (r < 90) {
		op.type = KZ_OP_ACK;
		op.u.ack.target = recent;
		append(nd, m->now_ms, &op, NULL);
	} else if (r < 97) {
		static const enum kz_safety st[] = {
			KZ_SAFETY_SAFE, KZ_SAFETY_SAFE, KZ_SAFETY_SAFE,
			KZ_SAFETY_NEEDS_HELP, KZ_SAFETY_INJURED,
		};

		op.type = KZ_OP_SAFETY;
		op.u.safety.status = st[kz_chatgen_rand(g, 5)];
		op.u.safety.place = kz_chatgen_place(g);
		kz_chatgen_note(g, note, sizeof(note));
		op.u.safety.note = kz_chatgen_rand(g, 2) ? note : "";
		append(nd, m->now_ms, &op, NULL);
	} else {
		op.type = KZ_OP_EDIT;
		op.u.edit.target = recent;
		kz_chatgen_message(g, text, sizeof(text), 20, 80);
		op.u.edit.text = text;
		append(nd, m->now_ms, &op, NULL);
	}
}

/* Moves every frame due between two sessions, recording each direction. */
static void
pump(struct kz_sync *a, struct kz_sync *b, struct bytes *ab, struct bytes *ba)
{
	for (int round = 0; round < 100000; round++) {
		bool moved = false;

		for (int dir = 0; dir < 2; dir++) {
			struct kz_sync *from = dir ? b : a, *to = dir ? a : b;
			struct bytes *rec = dir ? ba : ab;
			uint8_t *f, pre[4];
			size_t len;

			while (kz_sync_next(from, &f, &len) == 0) {
				kz_put_be32(pre, (uint32_t)len);
				put(rec, pre, 4);
				put(rec, f, len);
				check(kz_sync_receive(to, f, len), "receive");
				free(f);
				moved = true;
			}
		}
		if (!moved)
			return;
	}
	errx(1, "sessions did not settle");
}

/* The day of one mesh, then its links: streams recorded into ss. */
static void
mesh_day(struct streams *ss, uint64_t seed, unsigned idx, int events,
    enum kz_chatgen_variant v)
{
	struct mesh *m = calloc(1, sizeof(*m));
	struct kz_chatgen g;

	if (m == NULL)
		err(1, "calloc");
	if (kz_chatgen_init(&g, seed + idx, v) < 0)
		errx(1, "cannot read the word list %s", KZ_CHATGEN_WORDS);
	mesh_new(m, &g, seed, idx);
	for (int e = 0; e < events; e++)
		event(m, &g);
	/* The links come back: each node meets the admin node, which then
	 * carries the others' news on to the nodes after it. */
	for (int i = 1; i < NODES; i++) {
		struct kz_sync *a, *b;
		struct bytes *ab = new_stream(ss), *ba = new_stream(ss);

		check(kz_sync_new(&a, m->n[0].st, m->n[0].kp.pk, NULL), "sync");
		check(kz_sync_new(&b, m->n[i].st, m->n[i].kp.pk, NULL), "sync");
		check(kz_sync_start(a), "start");
		check(kz_sync_start(b), "start");
		pump(a, b, ab, ba);
		/* Live: a few posts on each side while the link stands. */
		for (int k = 0; k < 6; k++) {
			struct mesh *mm = m;
			int side = (int)kz_chatgen_rand(&g, 2);
			struct node *nd = &mm->n[side ? i : 0];
			char text[512];
			struct kz_op op;

			memset(&op, 0, sizeof(op));
			op.type = KZ_OP_POST;
			op.actor = nd->users[kz_chatgen_rand(&g, USERS_PER_NODE)];
			op.u.post.channel = m->chan[kz_chatgen_rand(&g, CHANNELS)];
			kz_chatgen_message(&g, text, sizeof(text), 20, 80);
			op.u.post.text = text;
			m->now_ms += 20000;
			append(nd, m->now_ms, &op, NULL);
			kz_sync_feed_grew(side ? b : a, nd->kp.pk);
			pump(a, b, ab, ba);
		}
		kz_sync_free(a);
		kz_sync_free(b);
	}
	for (int i = 0; i < NODES; i++)
		kz_store_free(m->n[i].st);
	free(m);
	kz_chatgen_free(&g);
}

/* Cuts streams into samples of whole frames, at most SAMPLE_MAX bytes
 * each (a larger frame alone, in pieces). */
static void
samples_of(const struct streams *ss, struct bytes *all, size_t **sizes,
    size_t *n)
{
	size_t cap = 1024;

	*n = 0;
	if ((*sizes = malloc(cap * sizeof(**sizes))) == NULL)
		err(1, "malloc");
	for (size_t i = 0; i < ss->n; i++) {
		const struct bytes *s = &ss->s[i];
		size_t off = 0, start = 0;

		while (start < s->len) {
			size_t end = off;

			if (off < s->len) {
				size_t flen = 4 + kz_get_be32(s->p + off);

				if (off + flen - start <= SAMPLE_MAX || off == start) {
					off += flen;
					if (off < s->len)
						continue;
				}
				end = off;
			}
			/* Emit start..end, in pieces when one frame is larger. */
			while (start < end) {
				size_t k = end - start < SAMPLE_MAX ? end - start :
				    SAMPLE_MAX;

				if (*n == cap && (*sizes = realloc(*sizes,
				    (cap *= 2) * sizeof(**sizes))) == NULL)
					err(1, "realloc");
				(*sizes)[(*n)++] = k;
				put(all, s->p + start, k);
				start += k;
			}
		}
	}
}

/* Bytes of the streams compressed as a link does (flush per frame). */
static size_t
link_bytes(const struct streams *ss, const void *dict, size_t dict_len)
{
	size_t total = 0;
	uint8_t out[1 << 16];

	for (size_t i = 0; i < ss->n; i++) {
		const struct bytes *s = &ss->s[i];
		ZSTD_CCtx *c = ZSTD_createCCtx();
		size_t off = 0;

		ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, DICT_LEVEL);
		ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, KZ_LINK_WINDOW_LOG);
		ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0);
		if (dict != NULL)
			ZSTD_CCtx_loadDictionary(c, dict, dict_len);
		while (off < s->len) {
			size_t flen = 4 + kz_get_be32(s->p + off), r;
			ZSTD_inBuffer in = { s->p + off, flen, 0 };

			do {
				ZSTD_outBuffer o = { out, sizeof(out), 0 };

				r = ZSTD_compressStream2(c, &o, &in, ZSTD_e_flush);
				if (ZSTD_isError(r))
					errx(1, "compress: %s", ZSTD_getErrorName(r));
				total += o.pos;
			} while (r != 0);
			off += flen;
		}
		ZSTD_freeCCtx(c);
	}
	return total;
}

static size_t
raw_bytes(const struct streams *ss)
{
	size_t t = 0;

	for (size_t i = 0; i < ss->n; i++)
		t += ss->s[i].len;
	return t;
}

static void
streams_free(struct streams *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		free(ss->s[i].p);
	free(ss->s);
	memset(ss, 0, sizeof(*ss));
}

static void
usage(void)
{
	fprintf(stderr, "usage: kizuna-dict-train [--out FILE] [--check FILE] "
	    "[--size BYTES] [--meshes N] [--events N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *out_path = NULL, *check_path = NULL;
	size_t dict_cap = 32 * 1024, *sizes, n_samples, dlen, hlen;
	int meshes = 24, events = 400;
	struct streams train = { 0 }, held = { 0 };
	struct bytes all = { 0 };
	uint8_t *dict, *content;
	ZDICT_params_t zp;

	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--out") == 0)
			out_path = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--check") == 0)
			check_path = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--size") == 0)
			dict_cap = strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && strcmp(argv[i], "--meshes") == 0)
			meshes = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--events") == 0)
			events = atoi(argv[++i]);
		else
			usage();
	}
	if (sodium_init() < 0)
		errx(1, "sodium_init");
	if (dict_cap < 1024 || meshes < 1 || events < 1)
		usage();
	for (int m = 0; m < meshes; m++)
		mesh_day(&train, KZ_CHATGEN_TRAIN_SEED, (unsigned)m, events,
		    KZ_CHATGEN_TRAIN);
	samples_of(&train, &all, &sizes, &n_samples);
	fprintf(stderr, "corpus: %zu streams, %zu samples, %zu bytes\n", train.n,
	    n_samples, all.len);
	if ((dict = malloc(dict_cap)) == NULL || (content = malloc(dict_cap)) == NULL)
		err(1, "malloc");
	dlen = ZDICT_trainFromBuffer(dict, dict_cap, all.p, sizes,
	    (unsigned)n_samples);
	if (ZDICT_isError(dlen))
		errx(1, "train: %s", ZDICT_getErrorName(dlen));
	hlen = ZDICT_getDictHeaderSize(dict, dlen);
	if (ZDICT_isError(hlen))
		errx(1, "header: %s", ZDICT_getErrorName(hlen));
	memcpy(content, dict + hlen, dlen - hlen);
	memset(&zp, 0, sizeof(zp));
	zp.compressionLevel = DICT_LEVEL;
	zp.dictID = KZ_LINK_DICT_JA_CHAT_1;
	dlen = ZDICT_finalizeDictionary(dict, dict_cap, content, dlen - hlen,
	    all.p, sizes, (unsigned)n_samples, zp);
	if (ZDICT_isError(dlen))
		errx(1, "finalize: %s", ZDICT_getErrorName(dlen));
	fprintf(stderr, "dictionary: %zu bytes, id 0x%08x\n", dlen,
	    ZDICT_getDictID(dict, dlen));

	/* Held out: other meshes, other seed, the HELDOUT variant. */
	for (int m = 0; m < 4; m++)
		mesh_day(&held, 0x6e657731u, (unsigned)m, events, KZ_CHATGEN_HELDOUT);
	{
		size_t raw = raw_bytes(&held), plain = link_bytes(&held, NULL, 0),
		    withd = link_bytes(&held, dict, dlen);

		fprintf(stderr, "held out: %zu bytes of sync stream; zstd %zu "
		    "(%.3f), with the dictionary %zu (%.3f)\n", raw, plain,
		    (double)plain / (double)raw, withd, (double)withd / (double)raw);
	}
	if (out_path != NULL) {
		FILE *f = fopen(out_path, "wb");

		if (f == NULL || fwrite(dict, 1, dlen, f) != dlen || fclose(f) != 0)
			err(1, "%s", out_path);
		fprintf(stderr, "wrote %s\n", out_path);
	}
	if (check_path != NULL) {
		FILE *f = fopen(check_path, "rb");
		uint8_t *old = malloc(dict_cap + 1);
		size_t olen;

		if (f == NULL || old == NULL)
			err(1, "%s", check_path);
		olen = fread(old, 1, dict_cap + 1, f);
		fclose(f);
		if (olen != dlen || memcmp(old, dict, dlen) != 0)
			errx(1, "%s differs from what training gives now (%zu bytes "
			    "vs %zu)", check_path, olen, dlen);
		fprintf(stderr, "%s: the same bytes\n", check_path);
		free(old);
	}
	free(dict);
	free(content);
	free(sizes);
	free(all.p);
	streams_free(&train);
	streams_free(&held);
	return 0;
}
