/*
 * Writes the seed corpus of every fuzz target: real encodings produced by
 * the library itself (entries, runs, ops, run files, recorded sync
 * sessions and link transcripts against the very stores the targets use,
 * Noise handshakes with the targets' fixed keys, config files, queries,
 * join tokens, KISS streams of AX.25 frames).
 *
 *   kz-fuzz-gen OUTDIR      writes OUTDIR/<target>/<name> for each seed
 *
 * It is deterministic: running it again writes the same bytes, so the
 * committed corpus can be regenerated after a format change
 * (tools/fuzz.sh gen).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zstd.h>

#include "fuzz_util.h"
#include "kizuna.pb-c.h"
#include "kizuna/arq.h"
#include "kizuna/config.h"
#include "kizuna/entry.h"
#include "kizuna/kiss.h"
#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/mesh.h"
#include "kizuna/noise.h"
#include "kizuna/op.h"
#include "kizuna/runfile.h"
#include "kizuna/bundle.h"
#include "kizuna/store.h"
#include "kizuna/sync.h"
#include "kizuna/util.h"

static const char *outdir;
static int n_written;

/* A growable byte buffer. */
struct bb {
	uint8_t *p;
	size_t n, cap;
};

static void
bb_put(struct bb *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			kzf_fail("gen: out of memory");
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
bb_u8(struct bb *b, uint8_t v)
{
	bb_put(b, &v, 1);
}

static void
bb_u16(struct bb *b, size_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	if (v > 0xffff)
		kzf_fail("gen: record of %zu bytes", v);
	bb_put(b, x, 2);
}

static void
bb_u32(struct bb *b, size_t v)
{
	uint8_t x[4];

	kz_put_be32(x, (uint32_t)v);
	bb_put(b, x, 4);
}

static void
bb_free(struct bb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void
seed(const char *target, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		kzf_fail("gen: mkdir %s", path);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		kzf_fail("gen: write %s", path);
	n_written++;
}

static void
seed_bb(const char *target, const char *name, const struct bb *b)
{
	seed(target, name, b->p, b->n);
}

static void
check(int rc, const char *what)
{
	if (rc < 0)
		kzf_fail("gen: %s: %s", what, kz_strerror(rc));
}

/* ------------------------------------------------------------ entries */

struct entry {
	struct kz_entry_header h;
	uint8_t hash[32];
	uint8_t *op;
	size_t op_len;
};

static struct entry entries[64];
static size_t n_entries;

static int
on_entry(void *ctx, const struct kz_entry_view *e)
{
	struct entry *x = &entries[n_entries++];

	(void)ctx;
	if (n_entries > 64)
		kzf_fail("gen: too many entries");
	x->h = e->h;
	memcpy(x->hash, e->hash, 32);
	x->op_len = e->op_len;
	x->op = malloc(e->op_len ? e->op_len : 1);
	memcpy(x->op, e->op, e->op_len);
	return 0;
}

/* The hash of node's entry seq in store A (entries[]). */
static const uint8_t *
hash_of(int node, uint64_t seq)
{
	size_t i;

	for (i = 0; i < n_entries; i++)
		if (entries[i].h.seq == seq &&
		    memcmp(entries[i].h.author, kzf_node(node)->pk, 32) == 0)
			return entries[i].hash;
	kzf_fail("gen: no entry %d/%llu", node, (unsigned long long)seq);
}

static void
gen_header(void)
{
	uint8_t out[KZ_HEADER_BYTES];
	size_t i;
	char name[32];

	for (i = 0; i < n_entries && i < 6; i++) {
		kz_header_encode(out, &entries[i].h);
		snprintf(name, sizeof(name), "entry-%zu", i);
		seed("header", name, out, sizeof(out));
	}
	{
		struct kz_entry_header h = entries[0].h;

		h.op_len = KZ_OP_MAX;
		h.seq = KZ_SEQ_MAX;
		kz_header_encode(out, &h);
		seed("header", "limits", out, sizeof(out));
	}
}

static void
gen_op(void)
{
	static const uint8_t id[32] = { 0x1d };
	static const char *const mentions[] = { "sato", "tanaka.h", "a@b-c_d" };
	static const uint8_t peer[32] = { 0x2e };
	static const struct kz_report_link links[] = {
		{ id, "tcp", true, 1790000000, 4 },
		{ peer, "radio", false, 1790000100, 0 },
	};
	struct kz_op extra[9];
	char name[32];
	size_t i;
	uint8_t *buf;
	size_t len;

	for (i = 0; i < n_entries; i++) {
		snprintf(name, sizeof(name), "entry-%zu", i);
		seed("op", name, entries[i].op, entries[i].op_len);
	}
	memset(extra, 0, sizeof(extra));
	extra[0].type = KZ_OP_CHANNEL_SET;
	extra[0].u.channel_set.channel = id;
	extra[0].u.channel_set.set = KZ_CHANNEL_SET_ALL;
	extra[0].u.channel_set.name = "避難所";
	extra[0].u.channel_set.topic = "topic";
	extra[0].u.channel_set.archived = true;
	extra[1].type = KZ_OP_DELETE;
	extra[1].actor = "tanaka.h";
	extra[1].u.del.target = id;
	extra[2].type = KZ_OP_PURGE;
	extra[2].u.purge.target = id;
	extra[3].type = KZ_OP_NODE_REVOKE;
	extra[3].u.node_revoke.node = id;
	extra[3].u.node_revoke.last_seq = 7;
	extra[3].u.node_revoke.reason = "lost";
	extra[4].type = KZ_OP_USER_SET;
	extra[4].u.user_set.user = "sato";
	extra[4].u.user_set.set = KZ_USER_SET_ALL;
	extra[4].u.user_set.display_name = "佐藤";
	extra[4].u.user_set.department = "総務";
	extra[4].u.user_set.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
	extra[4].u.user_set.active = true;
	extra[5].type = KZ_OP_POST;
	extra[5].actor = "sato";
	extra[5].u.post.channel = id;
	extra[5].u.post.thread_root = id;
	extra[5].u.post.text = "返信 ｶﾞｽ １８：００";
	extra[5].u.post.priority = KZ_PRIO_EMERGENCY;
	extra[5].u.post.n_mentions = 3;
	extra[5].u.post.mentions = mentions;
	extra[6].type = KZ_OP_SAFETY;
	extra[6].actor = "sato";
	extra[6].u.safety.user = "tanaka.h";
	extra[6].u.safety.status = KZ_SAFETY_INJURED;
	extra[6].u.safety.place = "病院";
	extra[6].u.safety.note = "軽傷";
	extra[7].type = KZ_OP_REACT;
	extra[7].u.react.target = id;
	extra[7].u.react.emoji = "🙏";
	extra[8].type = KZ_OP_LINK_REPORT;
	extra[8].u.link_report.n_links = 2;
	extra[8].u.link_report.links = links;
	for (i = 0; i < 9; i++) {
		check(kz_op_encode(&buf, &len, &extra[i]), "op encode");
		snprintf(name, sizeof(name), "extra-%zu", i);
		seed("op", name, buf, len);
		free(buf);
	}
}

/* ------------------------------------------------------------ runs */

/* A run of ops (borrowed) with a zero author and signature, seq 1. */
static void
encode_ops(struct bb *out, const uint8_t *const *ops, const size_t *lens,
    size_t n, uint64_t hlc0)
{
	struct kz_run *run;
	uint8_t *buf;
	size_t len, i;

	check(kz_run_new(&run, n, 0), "run new");
	run->first_seq = 1;
	for (i = 0; i < n; i++) {
		run->entries[i].hlc = hlc0 + i * 1000;
		run->entries[i].op = ops[i];
		run->entries[i].op_len = (uint32_t)lens[i];
	}
	check(kz_run_encode(&buf, &len, run), "run encode");
	bb_put(out, buf, len);
	free(buf);
	kz_run_free(run);
}

static void
encode_run(struct bb *out, const struct kz_run *run)
{
	uint8_t *buf;
	size_t len;

	check(kz_run_encode(&buf, &len, run), "run encode");
	bb_put(out, buf, len);
	free(buf);
}

static struct kz_run *
read_run(struct kz_store *st, int node, uint64_t from, size_t max)
{
	struct kz_run *run;

	check(kz_store_read_run(st, kzf_node(node)->pk, from, max, 1 << 20, &run),
	    "read run");
	return run;
}

static void
gen_run(struct kz_store *a)
{
	struct kz_run *run;
	struct bb b = { 0 };

	run = read_run(a, 0, 1, 100);
	encode_run(&b, run);
	seed_bb("run", "feed0-all", &b);
	bb_free(&b);
	kz_run_free(run);
	run = read_run(a, 0, 4, 3);
	run->has_prev = true;
	memcpy(run->prev, hash_of(0, 3), 32);
	encode_run(&b, run);
	seed_bb("run", "feed0-mid-prev", &b);
	bb_free(&b);
	/* A purged entry travels as its hash and length. */
	kz_hash(run->entries[1].op_hash, run->entries[1].op,
	    run->entries[1].op_len);
	run->entries[1].op = NULL;
	encode_run(&b, run);
	seed_bb("run", "purged", &b);
	bb_free(&b);
	kz_run_free(run);
	run = read_run(a, 2, 1, 1);
	encode_run(&b, run);
	seed_bb("run", "feed2", &b);
	bb_free(&b);
	kz_run_free(run);
}

static void
gen_runfile(struct kz_store *a)
{
	char path[256];
	struct kz_runfile_writer *w;
	struct kz_run *r1 = read_run(a, 0, 1, 4), *r2 = read_run(a, 0, 5, 100),
	    *r3 = read_run(a, 2, 1, 1);
	FILE *f;
	struct bb b = { 0 };
	uint8_t buf[65536];
	size_t n;

	snprintf(path, sizeof(path), "%s/.runfile.tmp", outdir);
	check(kz_runfile_writer_new(&w, path), "runfile new");
	check(kz_runfile_writer_add(w, r1), "runfile add");
	check(kz_runfile_writer_add(w, r2), "runfile add");
	check(kz_runfile_writer_add(w, r3), "runfile add");
	check(kz_runfile_writer_close(w), "runfile close");
	f = fopen(path, "rb");
	if (f == NULL)
		kzf_fail("gen: read %s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		bb_put(&b, buf, n);
	fclose(f);
	unlink(path);
	seed_bb("runfile", "three-runs", &b);
	/* A damaged record between intact ones, then a cut-off record. */
	{
		struct bb d = { 0 };
		uint32_t l1 = kz_get_be32(b.p + 4);

		bb_put(&d, b.p, 4 + 4 + l1);
		bb_u32(&d, 3);
		bb_put(&d, "\x0a\x01\x00", 3);
		bb_put(&d, b.p + 4 + 4 + l1, b.n - 4 - 4 - l1 - 5);
		seed_bb("runfile", "damaged", &d);
		bb_free(&d);
	}
	seed("runfile", "empty", KZ_RUNFILE_MAGIC, 4);
	bb_free(&b);
	kz_run_free(r1);
	kz_run_free(r2);
	kz_run_free(r3);
}

/* ------------------------------------------------------------ ingest */

static void
ingest_record(struct bb *b, uint8_t flags, const struct bb *run)
{
	bb_u8(b, flags);
	bb_u16(b, run->n);
	bb_put(b, run->p, run->n);
}

static void
gen_ingest(struct kz_store *a)
{
	const uint8_t *post = NULL, *chan = NULL;
	struct kz_run *r;
	struct bb all = { 0 }, run = { 0 }, b = { 0 };
	struct kz_op ops[6];
	uint8_t *enc[6];
	size_t lens[6], i;

	/* The real, signed runs of store A. */
	r = read_run(a, 0, 1, 5);
	encode_run(&run, r);
	kz_run_free(r);
	ingest_record(&all, 0, &run);
	seed_bb("ingest", "signed-first", &all);
	bb_free(&run);
	r = read_run(a, 0, 6, 100);
	encode_run(&run, r);
	kz_run_free(r);
	ingest_record(&all, 0, &run);
	bb_free(&run);
	r = read_run(a, 2, 1, 1);
	encode_run(&run, r);
	kz_run_free(r);
	ingest_record(&all, 0, &run);
	bb_free(&run);
	seed_bb("ingest", "signed-all", &all);
	/* The same again: every entry a duplicate. */
	bb_put(&b, all.p, all.n);
	bb_put(&b, all.p, all.n);
	seed_bb("ingest", "signed-twice", &b);
	bb_free(&b);

	for (i = 0; i < n_entries; i++) {
		struct kz_op *op;

		if (kz_op_decode(&op, entries[i].op, entries[i].op_len) < 0)
			continue;
		if (op->type == KZ_OP_POST && post == NULL &&
		    memcmp(entries[i].h.author, kzf_node(0)->pk, 32) == 0)
			post = entries[i].hash;
		if (op->type == KZ_OP_CHANNEL_CREATE)
			chan = entries[i].hash;
		kz_op_free(op);
	}
	if (post == NULL || chan == NULL)
		kzf_fail("gen: no post or channel");
	/* Then ops the fuzzer may change, re-signed by the harness. */
	memset(ops, 0, sizeof(ops));
	ops[0].type = KZ_OP_POST;
	ops[0].actor = "tanaka.h";
	ops[0].u.post.channel = chan;
	ops[0].u.post.thread_root = post;
	ops[0].u.post.text = "了解 給水は10時";
	ops[1].type = KZ_OP_REACT;
	ops[1].u.react.target = post;
	ops[1].u.react.emoji = "👍";
	ops[1].u.react.on = false;
	ops[2].type = KZ_OP_CHANNEL_SET;
	ops[2].actor = "tanaka.h";
	ops[2].u.channel_set.channel = chan;
	ops[2].u.channel_set.set = KZ_CHANNEL_SET_TOPIC | KZ_CHANNEL_SET_ARCHIVED;
	ops[2].u.channel_set.topic = "閉鎖";
	ops[2].u.channel_set.archived = true;
	ops[3].type = KZ_OP_EDIT;
	ops[3].actor = "tanaka.h";
	ops[3].u.edit.target = post;
	ops[3].u.edit.text = "避難所は公民館です";
	ops[4].type = KZ_OP_DELETE;
	ops[4].actor = "tanaka.h";
	ops[4].u.del.target = post;
	ops[5].type = KZ_OP_PURGE;
	ops[5].u.purge.target = post;
	for (i = 0; i < 6; i++)
		check(kz_op_encode(&enc[i], &lens[i], &ops[i]), "ingest op");

	/* Node 0 (admin) writes them after its real feed. */
	encode_ops(&run, (const uint8_t *const *)enc, lens, 6, 1790000100000ull << 16);
	bb_put(&b, all.p, all.n);
	ingest_record(&b, 1 | 0 << 1, &run);
	seed_bb("ingest", "resigned-admin", &b);
	bb_free(&b);
	/* Node 1 (admitted member) posts, edits and reacts. */
	bb_put(&b, all.p, all.n);
	ingest_record(&b, 1 | 1 << 1, &run);
	seed_bb("ingest", "resigned-member", &b);
	bb_free(&b);
	bb_free(&run);
	/* Node 1 alone, and a fork: the same seqs written twice. */
	encode_ops(&run, (const uint8_t *const *)enc, lens, 2, 1790000200000ull << 16);
	bb_put(&b, all.p, all.n);
	ingest_record(&b, 1 | 1 << 1, &run);
	bb_free(&run);
	encode_ops(&run, (const uint8_t *const *)enc + 3, lens + 3, 2,
	    1790000300000ull << 16);
	ingest_record(&b, 1 | 1 << 1 | 8, &run);
	seed_bb("ingest", "fork", &b);
	bb_free(&b);
	bb_free(&run);
	/* An emergency post of node 1, alone, ahead of its feed (detached);
	 * then a run of two from its tip that reaches the detached seq. */
	{
		struct kz_op urgent = { .type = KZ_OP_POST, .actor = "tanaka.h",
		    .u.post = { .channel = chan, .text = "堤防決壊 避難せよ",
		    .priority = KZ_PRIO_EMERGENCY } };
		uint8_t *ue;
		size_t ul;

		check(kz_op_encode(&ue, &ul, &urgent), "urgent op");
		encode_ops(&run, (const uint8_t *const *)&ue, &ul, 1,
		    1790000400000ull << 16);
		bb_put(&b, all.p, all.n);
		ingest_record(&b, 1 | 1 << 1 | 32, &run);
		seed_bb("ingest", "alone-detached", &b);
		bb_free(&run);
		encode_ops(&run, (const uint8_t *const *)enc, lens, 2,
		    1790000500000ull << 16);
		ingest_record(&b, 1 | 1 << 1, &run);
		seed_bb("ingest", "alone-then-run", &b);
		bb_free(&b);
		bb_free(&run);
		free(ue);
	}
	/* Without the mesh's own entries: nothing is admitted. */
	encode_ops(&run, (const uint8_t *const *)enc, lens, 6, 1);
	ingest_record(&b, 1 | 2 << 1, &run);
	seed_bb("ingest", "resigned-alone", &b);
	bb_free(&b);
	bb_free(&run);
	for (i = 0; i < 6; i++)
		free(enc[i]);
	bb_free(&all);
}

/* ------------------------------------------------------------ sync */

struct session {
	struct bb to_b;		/* u16-framed frames A sent to B (sync seed) */
	struct bb to_b32;	/* the same frames, u32-framed (link stream) */
	size_t frames;
};

static void
take_frame(struct session *rec, const uint8_t *f, size_t len)
{
	bb_u16(&rec->to_b, len);
	bb_put(&rec->to_b, f, len);
	bb_u32(&rec->to_b32, len);
	bb_put(&rec->to_b32, f, len);
	rec->frames++;
}

/* Delivers everything B has to send to A (at most 64 frames, as the
 * target drains). */
static void
b_to_a(struct kz_sync *b, struct kz_sync *a)
{
	int i;

	for (i = 0; i < 64; i++) {
		uint8_t *f;
		size_t len;
		int rc = kz_sync_next(b, &f, &len);

		if (rc == 1)
			break;
		check(rc, "sync next b");
		if (kz_sync_state(a) != KZ_SYNC_CLOSED)
			(void)kz_sync_receive(a, f, len);
		free(f);
	}
}

/*
 * Runs a session between A (node 0 on store A) and B (node 1 on store B
 * with the target's options), recording A's frames as the target will
 * receive them.  With grow, A appends a post in LIVE and pushes it.
 */
static void
record_session(struct session *rec, const struct kz_sync_opts *bo, bool grow,
    size_t max_frames)
{
	struct kz_store *sa = kzf_store_a(), *sb = kzf_store_b();
	struct kz_sync *a, *b;
	struct kz_sync_opts ao = { 0 };
	bool grown = false;
	int idle = 0;

	memset(rec, 0, sizeof(*rec));
	check(kz_sync_new(&a, sa, kzf_node(0)->pk, &ao), "sync new a");
	check(kz_sync_new(&b, sb, kzf_node(1)->pk, bo), "sync new b");
	check(kz_sync_start(a), "start a");
	check(kz_sync_start(b), "start b");
	b_to_a(b, a);
	while (rec->frames < max_frames && idle < 3) {
		uint8_t *f;
		size_t len;
		int rc = kz_sync_next(a, &f, &len);

		if (rc == 1) {
			if (grow && !grown && kz_sync_state(a) == KZ_SYNC_LIVE) {
				static const uint8_t chan[32] = { 0xc4 };
				struct kz_post p = { .channel = chan,
				    .text = "追加の投稿" };
				uint8_t *op;
				size_t n;

				check(kz_op_encode_post(&op, &n, &p), "grow op");
				check(kz_store_append(sa, kzf_node(0), 1790000999000ull,
				    op, n, NULL), "grow append");
				free(op);
				kz_sync_feed_grew(a, kzf_node(0)->pk);
				grown = true;
				continue;
			}
			idle++;
			b_to_a(b, a);
			continue;
		}
		check(rc, "sync next a");
		idle = 0;
		take_frame(rec, f, len);
		if (kz_sync_state(b) != KZ_SYNC_CLOSED)
			(void)kz_sync_receive(b, f, len);
		free(f);
		b_to_a(b, a);
	}
	kz_sync_free(a);
	kz_sync_free(b);
	kz_store_free(sa);
	kz_store_free(sb);
}

static void
frame_msg(struct bb *out, const Kizuna__SyncMsg *m)
{
	size_t n = kizuna__sync_msg__get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);

	kizuna__sync_msg__pack(m, buf);
	bb_u16(out, n);
	bb_put(out, buf, n);
	free(buf);
}

static void
gen_sync(void)
{
	struct kz_sync_opts bo;
	struct session rec;
	struct bb b = { 0 };

	kzf_sync_opts(&bo);
	record_session(&rec, &bo, false, 200);
	seed_bb("sync", "session", &rec.to_b);
	fprintf(stderr, "sync session: %zu frames, %zu bytes\n", rec.frames,
	    rec.to_b.n);
	bb_free(&rec.to_b);
	bb_free(&rec.to_b32);
	record_session(&rec, &bo, true, 200);
	seed_bb("sync", "session-live-push", &rec.to_b);
	bb_free(&rec.to_b);
	bb_free(&rec.to_b32);
	record_session(&rec, &bo, false, 1);
	seed_bb("sync", "hello", &rec.to_b);
	bb_free(&rec.to_b);
	bb_free(&rec.to_b32);
	{
		/* Hand-made frames: a hello of a later version, an ack, a bye. */
		Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
		Kizuna__Hello h = KIZUNA__HELLO__INIT;
		Kizuna__SyncAck ack = KIZUNA__SYNC_ACK__INIT;
		Kizuna__Bye bye = KIZUNA__BYE__INIT;
		uint8_t digest[16] = { 0 };

		h.version = 2;
		h.node.data = (uint8_t *)kzf_node(0)->pk;
		h.node.len = 32;
		h.digest.data = digest;
		h.digest.len = 16;
		m.body_case = KIZUNA__SYNC_MSG__BODY_HELLO;
		m.hello = &h;
		frame_msg(&b, &m);
		seed_bb("sync", "hello-v2", &b);
		bb_free(&b);
		h.version = 1;
		frame_msg(&b, &m);
		ack.bytes = 12345;
		m.body_case = KIZUNA__SYNC_MSG__BODY_ACK;
		m.ack = &ack;
		frame_msg(&b, &m);
		bye.reason = "shutting down";
		m.body_case = KIZUNA__SYNC_MSG__BODY_BYE;
		m.bye = &bye;
		frame_msg(&b, &m);
		seed_bb("sync", "hello-ack-bye", &b);
		bb_free(&b);
	}
}

/* ------------------------------------------------------------ link */

/*
 * Replays what the link target's sealed mode does and records the bytes it
 * feeds the responder: message 1, message 3, then the sync stream in
 * transport messages (plain: the records for sealed mode; raw: the exact
 * transport bytes for raw mode).
 */
static void
gen_link(void)
{
	const uint8_t *psks[2] = { kzf_network_key, kzf_network_key };
	uint8_t x_init[32], x_pub[32], msg[KZ_NOISE_MAX_MSG + 2];
	uint8_t pay[KZ_NOISE_MAX_MSG];
	struct kz_noise_handshake *hs;
	struct kz_noise_cipher tx, rx;
	struct kz_link_opts lo;
	struct kz_store *st;
	struct kz_link *l;
	struct session rec;
	struct bb raw = { 0 }, sealed = { 0 }, hs_only = { 0 };
	size_t mlen, off, plen;
	uint8_t *out;
	size_t outlen;
	int i;

	kzf_node_x25519(0, x_init, x_pub);
	kzf_rng_reset(KZF_LINK_RNG_SEED);
	st = kzf_store_b();
	kzf_link_opts(&lo, st);
	check(kz_link_new(&l, &lo), "link new");
	/* The sync stream A sends to a B with the link's options. */
	record_session(&rec, &lo.sync, false, 200);

	check(kz_noise_new(&hs, KZ_LINK_PROTOCOL, 1,
	    (const uint8_t *)KZF_LINK_PROLOGUE, strlen(KZF_LINK_PROLOGUE), x_init,
	    NULL, psks, 2, kzf_link_e_init), "noise new");
	bb_u8(&raw, 0x02);		/* raw, all at once */
	bb_u8(&sealed, 0x01);
	bb_u8(&hs_only, 0x00);
	for (i = 0; i < 2; i++) {
		check(kz_noise_write_message(hs, NULL, 0, msg + 2, sizeof(msg) - 2,
		    &mlen), "write");
		msg[0] = (uint8_t)(mlen >> 8);
		msg[1] = (uint8_t)mlen;
		bb_put(&raw, msg, mlen + 2);
		bb_put(&hs_only, msg, mlen + 2);
		check(kz_link_recv(l, msg, mlen + 2), "link recv");
		if (i == 1)
			break;
		check(kz_link_send(l, &out, &outlen), "link send");
		if (outlen < 2 || (size_t)(out[0] << 8 | out[1]) != outlen - 2)
			kzf_fail("gen: message 2 framing");
		check(kz_noise_read_message(hs, out + 2, outlen - 2, pay, sizeof(pay),
		    &plen), "read message 2");
		free(out);
	}
	if (kz_link_state(l) != KZ_LINK_OPEN)
		kzf_fail("gen: link not open");
	check(kz_noise_split(hs, &tx, &rx), "split");
	seed_bb("link", "handshake", &hs_only);
	/* One sync frame per transport message. */
	for (off = 0; off < rec.to_b32.n;) {
		size_t flen = 4 + kz_get_be32(rec.to_b32.p + off);

		bb_u16(&sealed, flen);
		bb_put(&sealed, rec.to_b32.p + off, flen);
		check(kz_noise_encrypt(&tx, rec.to_b32.p + off, flen, msg + 2,
		    sizeof(msg) - 2, &mlen), "encrypt");
		msg[0] = (uint8_t)(mlen >> 8);
		msg[1] = (uint8_t)mlen;
		bb_put(&raw, msg, mlen + 2);
		off += flen;
	}
	seed_bb("link", "session-raw", &raw);
	raw.p[0] = 0x00;		/* the same, in small chunks */
	seed_bb("link", "session-raw-chunked", &raw);
	seed_bb("link", "session-sealed", &sealed);
	/* A sealed stream whose frames are split across messages. */
	{
		struct bb s2 = { 0 };

		bb_u8(&s2, 0x03);
		for (off = 0; off < rec.to_b32.n; off += 37) {
			size_t k = rec.to_b32.n - off < 37 ? rec.to_b32.n - off : 37;

			bb_u16(&s2, k);
			bb_put(&s2, rec.to_b32.p + off, k);
		}
		seed_bb("link", "session-sealed-split", &s2);
		bb_free(&s2);
	}
	kz_noise_free(hs);
	kz_noise_cipher_wipe(&tx);
	kz_noise_cipher_wipe(&rx);
	kz_link_free(l);
	kz_store_free(st);
	bb_free(&raw);
	bb_free(&sealed);
	bb_free(&hs_only);
	bb_free(&rec.to_b);
	bb_free(&rec.to_b32);
}

/*
 * Compressed link sessions (fuzz_link's mode bit 0x04): the same recorded
 * stream as gen_link, after a handshake that offers the dictionary (or
 * plain zstd), as raw transport bytes compressed by a zstd stream like the
 * link's (mode 0x06 / 0x0e), as sealed plaintext records the harness
 * compresses (0x05 / 0x0d), and as sealed records that are the compressed
 * stream itself (0x15 / 0x1d).
 */
static void
gen_link_z(void)
{
	const uint8_t *psks[2] = { kzf_network_key, kzf_network_key };
	static uint8_t msg[KZ_NOISE_MAX_MSG + 2], pay[KZ_NOISE_MAX_MSG];
	static uint8_t z[1 << 17];
	uint8_t x_init[32], x_pub[32];
	size_t nd;
	const struct kz_link_dict *d = kz_link_builtin_dicts(&nd);

	for (int v = 0; v < 2; v++) {
		struct kz_noise_handshake *hs;
		struct kz_noise_cipher tx, rx;
		struct kz_link_opts lo;
		struct kz_store *st;
		struct kz_link *l;
		struct session rec;
		struct bb raw = { 0 }, sealed = { 0 }, zraw = { 0 };
		uint8_t offer[6] = { 1, v ? KZ_COMPRESS_ZSTD : KZ_COMPRESS_DICT };
		size_t olen = v ? 2 : 6, mlen, plen, off, outlen;
		uint8_t *out;
		ZSTD_CCtx *zc;

		if (!v)
			kz_put_be32(offer + 2, d->id);
		kzf_node_x25519(0, x_init, x_pub);
		kzf_rng_reset(KZF_LINK_RNG_SEED);
		st = kzf_store_b();
		kzf_link_opts(&lo, st);
		lo.compress = KZ_COMPRESS_DICT;
		lo.level = 1;
		check(kz_link_new(&l, &lo), "link new");
		record_session(&rec, &lo.sync, false, 200);
		check(kz_noise_new(&hs, KZ_LINK_PROTOCOL, 1,
		    (const uint8_t *)KZF_LINK_PROLOGUE, strlen(KZF_LINK_PROLOGUE),
		    x_init, NULL, psks, 2, kzf_link_e_init), "noise new");
		bb_u8(&raw, v ? 0x0e : 0x06);
		bb_u8(&sealed, v ? 0x0d : 0x05);
		bb_u8(&zraw, v ? 0x1d : 0x15);
		for (int i = 0; i < 2; i++) {
			check(kz_noise_write_message(hs, i == 0 ? offer : NULL,
			    i == 0 ? olen : 0, msg + 2, sizeof(msg) - 2, &mlen), "write");
			msg[0] = (uint8_t)(mlen >> 8);
			msg[1] = (uint8_t)mlen;
			bb_put(&raw, msg, mlen + 2);
			check(kz_link_recv(l, msg, mlen + 2), "link recv");
			if (i == 1)
				break;
			check(kz_link_send(l, &out, &outlen), "link send");
			check(kz_noise_read_message(hs, out + 2, outlen - 2, pay,
			    sizeof(pay), &plen), "read message 2");
			free(out);
			if (plen < 2 || pay[1] != offer[1])
				kzf_fail("gen: the link chose %d, not %d", plen < 2 ? -1 :
				    pay[1], offer[1]);
		}
		if (kz_link_state(l) != KZ_LINK_OPEN)
			kzf_fail("gen: link not open");
		check(kz_noise_split(hs, &tx, &rx), "split");
		zc = ZSTD_createCCtx();
		if (zc == NULL)
			kzf_fail("gen: zstd");
		ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, 1);
		ZSTD_CCtx_setParameter(zc, ZSTD_c_windowLog, KZ_LINK_WINDOW_LOG);
		if (!v)
			ZSTD_CCtx_loadDictionary(zc, d->bytes, d->len);
		for (off = 0; off < rec.to_b32.n;) {
			size_t flen = 4 + kz_get_be32(rec.to_b32.p + off), r;
			ZSTD_inBuffer in = { rec.to_b32.p + off, flen, 0 };
			ZSTD_outBuffer zo = { z, sizeof(z), 0 };

			r = ZSTD_compressStream2(zc, &zo, &in, ZSTD_e_flush);
			if (ZSTD_isError(r) || r != 0 || zo.pos > KZ_NOISE_MAX_PAYLOAD ||
			    flen > 0xffff)
				kzf_fail("gen: a frame too large for one message");
			bb_u16(&sealed, flen);
			bb_put(&sealed, rec.to_b32.p + off, flen);
			bb_u16(&zraw, zo.pos);
			bb_put(&zraw, z, zo.pos);
			check(kz_noise_encrypt(&tx, z, zo.pos, msg + 2, sizeof(msg) - 2,
			    &mlen), "encrypt");
			msg[0] = (uint8_t)(mlen >> 8);
			msg[1] = (uint8_t)mlen;
			bb_put(&raw, msg, mlen + 2);
			off += flen;
		}
		seed_bb("link", v ? "session-zstd-raw" : "session-dict-raw", &raw);
		seed_bb("link", v ? "session-zstd-sealed" : "session-dict-sealed",
		    &sealed);
		seed_bb("link", v ? "session-zstd-stream" : "session-dict-stream",
		    &zraw);
		ZSTD_freeCCtx(zc);
		kz_noise_free(hs);
		kz_noise_cipher_wipe(&tx);
		kz_noise_cipher_wipe(&rx);
		kz_link_free(l);
		kz_store_free(st);
		bb_free(&raw);
		bb_free(&sealed);
		bb_free(&zraw);
		bb_free(&rec.to_b);
		bb_free(&rec.to_b32);
	}
}

/* ------------------------------------------------------------ noise */

static const uint8_t E_RESP[32] = {
	0x52, 0x45, 0x53, 0x50, 0x2d, 0x65, 0x70, 0x68, 0x65, 0x6d, 0x65, 0x72,
	0x61, 0x6c, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
};
static const uint8_t K_FIXED[32] = {
	0x54, 0x52, 0x41, 0x4e, 0x53, 0x50, 0x4f, 0x52, 0x54, 0x2d, 0x6b, 0x65,
	0x79, 0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6,
	0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0, 0xef, 0xee,
};

static void
gen_noise(void)
{
	static const char *const names[] = {
		"Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b",
		"Noise_NN_25519_ChaChaPoly_BLAKE2b",
		"Noise_N_25519_ChaChaPoly_BLAKE2b",
		"Noise_Kpsk0_25519_ChaChaPoly_BLAKE2b",
		"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b",
		"Noise_X1X1_25519_ChaChaPoly_BLAKE2b",
		"Noise_NXpsk0+psk1+psk2_25519_ChaChaPoly_BLAKE2b",
		"Noise_KK1psk0_25519_ChaChaPoly_BLAKE2b",
	};
	const uint8_t *psks[2] = { kzf_network_key, kzf_network_key };
	uint8_t s_i[32], s_i_pub[32], s_r[32], s_r_pub[32];
	uint8_t m[KZ_NOISE_MAX_MSG], pay[KZ_NOISE_MAX_MSG];
	struct kz_noise_handshake *hi, *hr;
	struct kz_noise_cipher ti, ri, tr, rr;
	struct bb b = { 0 };
	size_t mlen, plen, i;
	char name[32];

	kzf_node_x25519(0, s_i, s_i_pub);
	kzf_node_x25519(1, s_r, s_r_pub);
	kzf_rng_reset(99);
	check(kz_noise_new(&hi, "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b", 1,
	    (const uint8_t *)KZF_LINK_PROLOGUE, strlen(KZF_LINK_PROLOGUE), s_i,
	    NULL, psks, 2, NULL), "noise i");
	check(kz_noise_new(&hr, "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b", 0,
	    (const uint8_t *)KZF_LINK_PROLOGUE, strlen(KZF_LINK_PROLOGUE), s_r,
	    NULL, psks, 2, E_RESP), "noise r");
	bb_u8(&b, 0);
	check(kz_noise_write_message(hi, (const uint8_t *)"m1", 2, m, sizeof(m),
	    &mlen), "m1");
	bb_u16(&b, mlen);
	bb_put(&b, m, mlen);
	check(kz_noise_read_message(hr, m, mlen, pay, sizeof(pay), &plen), "r m1");
	check(kz_noise_write_message(hr, (const uint8_t *)"kizuna", 6, m,
	    sizeof(m), &mlen), "m2");
	check(kz_noise_read_message(hi, m, mlen, pay, sizeof(pay), &plen), "i m2");
	check(kz_noise_write_message(hi, (const uint8_t *)"m3", 2, m, sizeof(m),
	    &mlen), "m3");
	bb_u16(&b, mlen);
	bb_put(&b, m, mlen);
	seed_bb("noise", "handshake", &b);
	check(kz_noise_read_message(hr, m, mlen, pay, sizeof(pay), &plen), "r m3");
	check(kz_noise_split(hi, &ti, &ri), "split i");
	check(kz_noise_split(hr, &tr, &rr), "split r");
	for (i = 0; i < 4; i++) {
		if (i == 2) {
			bb_u16(&b, 0);	/* rekey both ends */
			check(kz_noise_rekey(&ti), "rekey");
			continue;
		}
		check(kz_noise_encrypt(&ti, (const uint8_t *)"transport data", 14, m,
		    sizeof(m), &mlen), "encrypt");
		bb_u16(&b, mlen);
		bb_put(&b, m, mlen);
	}
	seed_bb("noise", "handshake-transport", &b);
	bb_free(&b);
	kz_noise_free(hi);
	kz_noise_free(hr);

	/* Fixed-key transport: nonces 0, 1 and 2^64-3, 2^64-2. */
	{
		struct kz_noise_cipher c;
		int hi_n;

		for (hi_n = 0; hi_n < 2; hi_n++) {
			memcpy(c.k, K_FIXED, 32);
			c.has_key = 1;
			c.n = hi_n ? UINT64_MAX - 3 : 0;
			bb_u8(&b, hi_n ? 0x82 : 0x01);
			bb_u8(&b, hi_n ? 3 : 0);
			for (i = 0; i < 3; i++) {
				check(kz_noise_encrypt(&c, (const uint8_t *)"abc", 3, m,
				    sizeof(m), &mlen), "encrypt");
				bb_u16(&b, mlen);
				bb_put(&b, m, mlen);
			}
			seed_bb("noise", hi_n ? "fixed-key-high" : "fixed-key", &b);
			bb_free(&b);
		}
	}
	/* Protocol names for the loopback mode. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bb_u8(&b, 2);
		bb_u16(&b, strlen(names[i]));
		bb_put(&b, names[i], strlen(names[i]));
		bb_u16(&b, 6);
		bb_put(&b, "prolog", 6);
		bb_u16(&b, 5);
		bb_put(&b, "hello", 5);
		bb_u16(&b, 0);
		snprintf(name, sizeof(name), "name-%zu", i);
		seed_bb("noise", name, &b);
		bb_free(&b);
	}
}

/* ------------------------------------------------------------ text */

static void
gen_config(void)
{
	static const char *const files[] = {
		"[node]\nname = city-hall\n[store]\npath = /var/lib/kizuna/store.db\n"
		"[log]\nlevel = debug\n[control]\nsocket = control.sock\n"
		"[net]\nlisten = [::]:7420\npeers = 192.0.2.20:7420, "
		"[2001:db8::20]:7420,branch.example:7420\ndiscovery = off\n"
		"discovery_port = 7421\nkeepalive_s = 300\nreconnect_max_s = 1\n"
		"[http]\nlisten = 127.0.0.1:0\n",
		"; comment\n# comment\n[net]\nlisten =\npeers =\n[http]\nlisten=\n",
		"[net]\npeers = a.example:1, a.example:1\n",
		"[nope]\nkey = value\n",
		"[node]\nname = 避難所\n",
		"[net]\nkeepalive_s = 0x10\n",
		"[node]\nname = " "0123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789\n",
		"no section = 1\n[",
		"[net]\nprofile = slow\ncompress = zstd\n[courier]\n"
		"folder = /media/usb\ninterval_s = 30\nwrite = off\n",
		"[net]\nprofile = wan\n",
		"[radio]\ndevice = tcp:127.0.0.1:8001\nspeed = 9600\n"
		"bit_rate = 1200\nmycall = JA1ABC-3\npeercall = JA1XYZ-15\n"
		"ax25 = on\nkiss_port = 1\npid = 0xf1\ntxdelay_ms = 250\n"
		"persist = 63\nslottime_ms = 100\ntxtail_ms = 50\n"
		"frame_max = 256\ncompress = zstd\nkeepalive_s = 120\n",
		"[radio]\nmycall = ja1abc-16\npid = 0xff\n",
	};
	char name[32], *text;
	size_t i;

	check(kz_config_default_text(&text), "default text");
	seed("config", "default", text, strlen(text));
	free(text);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(name, sizeof(name), "file-%zu", i);
		seed("config", name, files[i], strlen(files[i]));
	}
}

static void
gen_search(void)
{
	static const char *const q[] = {
		"避難所", "kizu 18:00", "ｶﾞｽ 水", "ＡＢＣ　給水", "\"quoted\" AND OR NOT *^:()",
		"停電2件", "Ελληνικά Кириллица", "葛\xf3\xa0\x84\x80 ー々〆〇 한국어",
		"a b c d e f g h", "!!!", "x\xc3\x28",
	};
	static const char *const doc =
	    "停電2件、給水道は18:00に復旧。避難所は体育館（２階）です kizuna ｶﾞｽ";
	struct bb b = { 0 };
	char name[32];
	size_t i;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		bb_put(&b, q[i], strlen(q[i]));
		bb_u8(&b, 0);
		bb_put(&b, doc, strlen(doc));
		snprintf(name, sizeof(name), "query-%zu", i);
		seed_bb("search", name, &b);
		bb_free(&b);
	}
	seed("search", "bigram-overlap", "給水 水道\0給水道 ああああ ああ",
	    sizeof("給水 水道\0給水道 ああああ ああ") - 1);
}

static void
gen_mesh_token(void)
{
	struct kz_mesh_creds c;
	char tok[KZ_MESH_TOKEN_MAX];
	uint8_t payload[1 + 96 + 1 + 32];
	size_t i, j;
	static const char *const addrs[] = { "", "192.0.2.1:7420",
	    "[2001:db8::1]:7420", "shelter.example:65535" };
	char name[32];

	for (i = 0; i < 4; i++) {
		memset(&c, 0, sizeof(c));
		memset(c.mesh_id, 0x11 + (int)i, 32);
		memset(c.network_key, 0x22, 32);
		memcpy(c.root, kzf_node(0)->pk, 32);
		snprintf(c.address, sizeof(c.address), "%s", addrs[i]);
		check(kz_mesh_token_encode(tok + 1, sizeof(tok) - 1, &c), "token");
		tok[0] = 0;
		snprintf(name, sizeof(name), "token-%zu", i);
		seed("mesh_token", name, tok, strlen(tok + 1) + 1);
		for (j = 1; tok[j] != '\0'; j++)
			if (tok[j] >= 'a' && tok[j] <= 'z')
				tok[j] = (char)(tok[j] - 'a' + 'A');
		snprintf(name, sizeof(name), "token-upper-%zu", i);
		seed("mesh_token", name, tok, strlen(tok + 1) + 1);
		/* The binary form the target checksums and encodes itself. */
		payload[0] = 1;
		memcpy(payload + 1, c.mesh_id, 32);
		memcpy(payload + 33, c.network_key, 32);
		memcpy(payload + 65, c.root, 32);
		payload[97] = (uint8_t)strlen(c.address);
		memcpy(payload + 98, c.address, strlen(c.address));
		{
			struct bb b = { 0 };

			bb_u8(&b, i % 2 ? 0x03 : 0x01);
			bb_put(&b, payload, 98 + strlen(c.address));
			snprintf(name, sizeof(name), "binary-%zu", i);
			seed_bb("mesh_token", name, &b);
			bb_free(&b);
		}
	}
}

/* Reads a whole file into b and removes it. */
static void
slurp(struct bb *b, const char *path)
{
	uint8_t buf[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		kzf_fail("gen: read %s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		bb_put(b, buf, n);
	fclose(f);
	unlink(path);
}

static void
gen_bundle(struct kz_store *a)
{
	char path[256];
	struct kz_vector v;
	struct bb b = { 0 }, d = { 0 };

	snprintf(path, sizeof(path), "%s/.bundle.tmp", outdir);
	if (kz_bundle_export(a, path, kzf_node(0), NULL, NULL, 1790000000000ull,
	    NULL) != 0)
		kzf_fail("gen: bundle export");
	slurp(&b, path);
	seed_bb("bundle", "everything", &b);
	/* The same with one byte flipped in the last record, and cut short. */
	bb_put(&d, b.p, b.n);
	d.p[d.n - 10] ^= 0x40;
	seed_bb("bundle", "flipped", &d);
	d.n = b.n - b.n / 4;
	seed_bb("bundle", "truncated", &d);
	bb_free(&d);
	bb_free(&b);
	check(kz_vector_of_store(a, kzf_node(1)->pk, 1790000000000ull, &v), "vector");
	if (v.n > 0)
		v.feeds[0].tip /= 2;
	check(kz_vector_write(path, &v), "vector write");
	if (kz_bundle_export(a, path, kzf_node(0), kzf_node(1)->pk, &v,
	    1790000000000ull, NULL) != 0)
		kzf_fail("gen: bundle export --since");
	slurp(&b, path);
	seed_bb("bundle", "since", &b);
	bb_free(&b);
	check(kz_vector_write(path, &v), "vector write");
	slurp(&b, path);
	seed_bb("bundle", "vector", &b);
	bb_free(&b);
	kz_vector_free(&v);
	seed("bundle", "empty", KZ_BUNDLE_MAGIC, 4);
}

/* ------------------------------------------------------------ kiss */

/* One KISS data frame: an AX.25 UI frame dest <- src (digis optional). */
static void
kiss_ui(struct bb *b, unsigned port, const char *dest, const char *src,
    const char *digi, const uint8_t *payload, size_t len)
{
	struct kz_ax25_addr d, s, g;
	uint8_t f[KZ_KISS_FRAME_SAFE_MAX], w[KZ_KISS_ENCODED_MAX(
	    KZ_KISS_FRAME_SAFE_MAX)];
	size_t n = KZ_AX25_HEADER_LEN, wl;

	check(kz_ax25_addr_parse(&d, dest, NULL), "kiss dest");
	check(kz_ax25_addr_parse(&s, src, NULL), "kiss src");
	check(kz_ax25_ui_header(f, &d, &s, KZ_AX25_PID_KIZUNA), "kiss header");
	if (digi != NULL) {
		/* One digipeater after the source: the source's end bit moves
		 * to the digipeater's SSID byte. */
		uint8_t dg[KZ_AX25_HEADER_LEN];

		check(kz_ax25_addr_parse(&g, digi, NULL), "kiss digi");
		check(kz_ax25_ui_header(dg, &s, &g, KZ_AX25_PID_KIZUNA),
		    "kiss digi");
		f[13] &= 0xFE;
		memcpy(f + 14, dg + 7, 7);
		f[21] = KZ_AX25_CONTROL_UI;
		f[22] = KZ_AX25_PID_KIZUNA;
		n = 23;
	}
	if (n + len > sizeof(f))
		kzf_fail("gen: kiss frame too long");
	memcpy(f + n, payload, len);
	check(kz_kiss_encode(w, sizeof(w), &wl, port, KZ_KISS_DATA, f, n + len),
	    "kiss encode");
	bb_put(b, w, wl);
}

static void
gen_kiss(void)
{
	struct kz_kiss_params kp = { 300, 63, 100, 100, false };
	uint8_t params[KZ_KISS_PARAMS_MAX], pay[1007];
	size_t plen, i;
	struct bb b = { 0 };

	for (i = 0; i < sizeof(pay); i++)
		pay[i] = i % 3 == 0 ? 0xC0 : i % 3 == 1 ? 0xDB : (uint8_t)i;
	check(kz_kiss_encode_params(params, sizeof(params), &plen, 0, &kp),
	    "kiss params");

	/* What a port sends on open, then frames; mode 0, frame_max 276. */
	bb_u8(&b, 0);
	bb_u8(&b, 55);
	bb_put(&b, params, plen);
	kiss_ui(&b, 0, "JA1XYZ-12", "JA1ABC-3", NULL, (const uint8_t *)"hello",
	    5);
	kiss_ui(&b, 0, "JA1XYZ-12", "JA1ABC-3", NULL, pay, 256);
	kiss_ui(&b, 2, "KIZUNA", "N0CALL", NULL, pay + 1, 40);
	seed_bb("kiss", "session", &b);
	b.n = 0;

	/* A digipeated frame and a full-size one (frame_max 1021), byte by
	 * byte; the callsign mode reads the start as "JA1ABC-3". */
	bb_u8(&b, 1);
	bb_u8(&b, 204);
	kiss_ui(&b, 0, "JA1XYZ-12", "JA1ABC-3", "NEJMH-1", pay, 30);
	kiss_ui(&b, 0, "JA1XYZ-12", "JA1ABC-3", NULL, pay, 1005);
	seed_bb("kiss", "digi-and-full", &b);
	b.n = 0;
	bb_u8(&b, 2);
	bb_u8(&b, 55);
	bb_put(&b, "JA1ABC-3", 8);
	kiss_ui(&b, 0, "JA1ABC-3", "JA1XYZ-12", NULL, pay, 12);
	seed_bb("kiss", "callsign", &b);
	b.n = 0;

	/* Damage: garbage, back-to-back FENDs, a bad escape, an escape cut
	 * by a FEND, an oversize frame (frame_max 26), a RETURN. */
	bb_u8(&b, 4);
	bb_u8(&b, 5);
	bb_put(&b, "\x12\x34\xC0\xC0\xC0", 5);
	kiss_ui(&b, 0, "JA1XYZ", "JA1ABC", NULL, (const uint8_t *)"ok", 2);
	bb_put(&b, "\xC0\x00\x41\xDB\x41\x42\xC0", 7);
	bb_put(&b, "\xC0\x00\x41\xDB\xC0", 5);
	kiss_ui(&b, 0, "JA1XYZ", "JA1ABC", NULL, pay, 40);
	bb_put(&b, "garbage\xC0\xFF\xC0", 10);
	kiss_ui(&b, 0, "JA1XYZ", "JA1ABC", NULL, (const uint8_t *)"end", 3);
	seed_bb("kiss", "damage", &b);
	bb_free(&b);
}

/* ------------------------------------------------------------ arq */

/* The options of fuzz_arq.c for a config byte (its opts_for, repeated
 * here: the harness is a separate program). */
static void
arq_opts_for(uint8_t c, struct kz_arq_opts *o, uint32_t session)
{
	static const size_t mtus[4] = { 64, 200, 512, 2048 };

	if (c & 1)
		kz_arq_opts_radio(o, 1200);
	else
		kz_arq_opts_lan(o);
	o->mtu = mtus[(c >> 1) & 3];
	o->window = (uint16_t)(1 + ((c >> 3) & 15));
	o->send_buffer = 4096;
	o->session = session;
}

/* A time step record: op 1 advances the harness's clock by u16 << k. */
static void
arq_time(struct bb *b, uint64_t dt)
{
	unsigned k = 0;

	while ((dt >> k) > 0xffff && k < 7)
		k++;
	bb_u8(b, (uint8_t)(1 | k << 5));
	bb_u16(b, (size_t)((dt >> k) > 0xffff ? 0xffff : dt >> k));
}

/*
 * A recorded session: a real sender (session "SEND") writes bytes to a
 * real receiver with fuzz_arq's session and options; every frame the
 * sender hands down becomes an input record (every fifth dropped when
 * lossy), the time steps between them time records, with reads after
 * each step.  With both, the receiver writes too (write records), so that
 * the sender's frames carry data both ways.
 */
static void
arq_session(const char *name, uint8_t config, bool lossy, bool both)
{
	struct kz_arq_opts ot, orx;
	struct kz_arq *tx, *rx;
	uint8_t f[KZ_ARQ_MTU_MAX], data[3000], back[441], sink[4096];
	uint64_t now = 0, next;
	size_t n, sent = 0;
	struct bb b = { 0 };
	int steps, k = 0;

	for (n = 0; n < sizeof(data); n++)
		data[n] = (uint8_t)(n * 7 + n / 256);
	for (n = 0; n < sizeof(back); n++)
		back[n] = (uint8_t)(0xc0 + n);
	arq_opts_for(config, &ot, 0x53454e44);
	arq_opts_for(config, &orx, 0x52454356);
	check(kz_arq_new(&tx, &ot, 0), "arq sender");
	check(kz_arq_new(&rx, &orx, 0), "arq receiver");
	bb_u8(&b, config);
	if (both) {
		bb_u8(&b, (uint8_t)(3 | 63 << 2));
		bb_put(&b, back, sizeof(back));
		if (kz_arq_write(rx, back, sizeof(back), 0) != sizeof(back))
			kzf_fail("gen: arq write back");
	}
	for (steps = 0; steps < 400; steps++) {
		sent += kz_arq_write(tx, data + sent, sizeof(data) - sent, now);
		while (kz_arq_output(rx, now, f, &n) == 0)
			check(kz_arq_input(tx, f, n, now), "arq input");
		while (kz_arq_output(tx, now, f, &n) == 0) {
			if (lossy && k++ % 5 == 2)
				continue;
			bb_u8(&b, 0);
			bb_u16(&b, n);
			bb_put(&b, f, n);
			check(kz_arq_input(rx, f, n, now), "arq input");
		}
		bb_u8(&b, 2);
		bb_u16(&b, sizeof(sink));
		(void)kz_arq_read(rx, sink, sizeof(sink));
		(void)kz_arq_read(tx, sink, sizeof(sink));
		if (sent == sizeof(data) && kz_arq_idle(tx) && kz_arq_idle(rx))
			break;
		next = kz_arq_next_event(tx, now);
		if (kz_arq_next_event(rx, now) < next)
			next = kz_arq_next_event(rx, now);
		if (next == UINT64_MAX || next <= now)
			next = now + 10;
		arq_time(&b, next - now);
		now = next;
	}
	seed_bb("arq", name, &b);
	bb_free(&b);
	kz_arq_free(tx);
	kz_arq_free(rx);
}

static void
gen_arq(void)
{
	/* config: bit 0 radio, bits 1-2 MTU 64/200/512/2048, bits 3-6 the
	 * window - 1. */
	arq_session("lan-512-w16", 0x04 | 15 << 3, false, false);
	arq_session("lan-200-w4-lossy", 0x02 | 3 << 3, true, false);
	arq_session("lan-64-w1", 0x00, false, true);
	arq_session("radio-200-w16", 0x01 | 0x02 | 15 << 3, false, false);
	arq_session("radio-200-w8-lossy-both", 0x01 | 0x02 | 7 << 3, true,
	    true);
	arq_session("lan-2048-w16-both", 0x06 | 15 << 3, true, true);
}

/* fuzz_http: flags, Content-Type, Cookie and query (a length byte each),
 * then the body. */
static void
http_seed(const char *name, int flags, const char *ct, const char *cookie,
    const char *query, const char *body)
{
	struct bb b = { 0 };
	uint8_t fl = (uint8_t)flags, n;

	bb_put(&b, &fl, 1);
	n = (uint8_t)strlen(ct);
	bb_put(&b, &n, 1);
	bb_put(&b, ct, n);
	n = (uint8_t)strlen(cookie);
	bb_put(&b, &n, 1);
	bb_put(&b, cookie, n);
	n = (uint8_t)strlen(query);
	bb_put(&b, &n, 1);
	bb_put(&b, query, n);
	bb_put(&b, body, strlen(body));
	seed_bb("http", name, &b);
	bb_free(&b);
}

static void
gen_http(void)
{
	static const char cookie[] = "theme=dark; kz_session="
	    "-LC6E1IpzukOO3dMpeJ3J0hYL5tTmtc0CLpjZqrYJk4; lang=ja";
	static const char cursor[] = "before=01a24a178387000020b23ebd662a3bb4"
	    "36751e47de2bcf8b3d18614e4d22d60a4175c80d12e180a80000000000000004"
	    "&limit=50";

	http_seed("login", 0, "application/json", "", "",
	    "{\"user\":\"alice\",\"password\":\"pw\"}");
	http_seed("post", 0, "application/json; charset=utf-8", cookie, cursor,
	    "{\"text\":\"避難所の給水 <img src=x onerror=alert(1)>\","
	    "\"priority\":\"urgent\",\"thread_root\":null}");
	http_seed("react", 0, "application/json", cookie, "limit=3",
	    "{\"emoji\":\"\\ud83d\\udc4d\",\"on\":false}");
	http_seed("empty", 1, "", cookie, "", "");
	http_seed("form", 2, "", "", "q=a&limit=0200", "user=alice&password=x");
	http_seed("dup", 0, "application/json", "kz_session=short", "limit=",
	    "{\"user\":\"a\",\"user\":\"b\"}");
	http_seed("badutf8", 0, "application/json", "", "before=zz",
	    "{\"text\":\"\xc3\x28\"}");
	http_seed("array", 0, "APPLICATION/JSON", "", "", "[1,2,{\"a\":[]}]");
}

/* fuzz_slack: day files of channel general, and a whole export as a ZIP. */
static const char slack_day[] =
    "[\n"
    "    {\"type\": \"message\", \"user\": \"U01\", \"text\": \"給水車が14時に到着 <@U02> &amp;lt;b&amp;gt; :+1::skin-tone-2:\",\n"
    "     \"ts\": \"1589871634.304500\", \"thread_ts\": \"1589871634.304500\", \"reply_count\": 2,\n"
    "     \"reactions\": [{\"name\": \"+1::skin-tone-2\", \"users\": [\"U02\", \"U01\"], \"count\": 2}]},\n"
    "    {\"type\": \"message\", \"subtype\": \"channel_join\", \"user\": \"U02\", \"text\": \"<@U02|bob> has joined the channel\", \"ts\": \"1589871600.000100\"},\n"
    "    {\"type\": \"message\", \"user\": \"U01\", \"text\": \"了解 <https:\\/\\/example.com\\/a?b=1&amp;c=2|地図> <#C01|old> <!here|here> <!date^1590580774^{date_short}|May 27>\",\n"
    "     \"ts\": \"1589871700.000000\", \"thread_ts\": \"1589871634.304500\", \"edited\": {\"user\": \"B01\", \"ts\": \"1589871701.000000\"}},\n"
    "    {\"type\": \"message\", \"subtype\": \"bot_message\", \"username\": \"alertbot\", \"text\": \"\", \"ts\": \"1589871750\",\n"
    "     \"attachments\": [{\"pretext\": \"警報\", \"fields\": [{\"title\": \"地域\", \"value\": \"北区\"}]}, {\"fallback\": \"fb\"}]},\n"
    "    {\"type\": \"message\", \"user\": \"U03\", \"text\": \"\", \"ts\": \"1589871760.000000\", \"user_profile\": {\"display_name\": \"ゲスト\"},\n"
    "     \"files\": [{\"id\": \"F1\", \"name\": \"map.pdf\", \"size\": 2048, \"url_private\": \"https:\\/\\/files.slack.com\\/a.pdf?t=xoxe-1\"}],\n"
    "     \"file\": {\"id\": \"F2\", \"name\": \"r.txt\", \"size\": \"10\"}},\n"
    "    {\"type\": \"message\", \"subtype\": \"huddle_future\", \"text\": \"x\", \"ts\": \"1589871780.000000\", \"pinned_to\": [\"C01\"]},\n"
    "    {\"type\": \"message\", \"text\": \"no ts\"},\n"
    "    {\"type\": \"message\", \"user\": \"U01\", \"text\": \"a\\u0000b\", \"ts\": \"1589871850.000000\"}\n"
    "]\n";

static void
gen_slack(void)
{
	static const char *const names[] = { "users.json", "channels.json",
	    "general/2020-05-19.json", "../evil.json" };
	const char *bodies[] = {
	    "[{\"id\":\"U01\",\"name\":\"tanaka\",\"profile\":{\"display_name\":\"はなこ\"}}]",
	    "[{\"id\":\"C01\",\"name\":\"general\",\"created\":1,\"pins\":[{\"id\":\"1589871634.304500\"}]}]",
	    slack_day, "[]" };
	char path[512];
	struct bb b = { 0 };
	zip_t *za;
	FILE *f;
	size_t i;
	long n;
	int err;

	seed("slack", "day", slack_day, sizeof(slack_day) - 1);
	static const char bad_utf8[] = "[{\"ts\":\"1.0\",\"text\":\"\xff\"},"
	    "{\"ts\":\"2.0\",\"text\":\"ok\"}]";
	static const char not_json[] = "[{\"ts\":\"1.0\"},\n{\"ts\": ";

	seed("slack", "day-bad-utf8", bad_utf8, sizeof(bad_utf8) - 1);
	seed("slack", "day-not-json", not_json, sizeof(not_json) - 1);
	seed("slack", "empty", "[]", 2);
	snprintf(path, sizeof(path), "%s/slack-seed.zip", outdir);
	if ((za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err)) == NULL)
		kzf_fail("gen: zip_open %s", path);
	for (i = 0; i < 4; i++) {
		zip_source_t *zs = zip_source_buffer(za, bodies[i],
		    strlen(bodies[i]), 0);

		if (zs == NULL || zip_file_add(za, names[i], zs, ZIP_FL_ENC_UTF_8) < 0)
			kzf_fail("gen: zip_file_add %s", names[i]);
	}
	if (zip_close(za) != 0)
		kzf_fail("gen: zip_close %s", path);
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		kzf_fail("gen: read %s", path);
	b.p = malloc((size_t)n);
	if (b.p == NULL || fread(b.p, 1, (size_t)n, f) != (size_t)n)
		kzf_fail("gen: read %s", path);
	b.n = (size_t)n;
	fclose(f);
	unlink(path);
	seed_bb("slack", "export-zip", &b);
	bb_free(&b);
}

int
main(int argc, char **argv)
{
	struct kz_store *a;
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: kz-fuzz-gen OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST)
		kzf_fail("gen: mkdir %s", outdir);
	kzf_init();
	a = kzf_store_a();
	check(kz_store_log(a, on_entry, NULL), "log");
	gen_header();
	gen_op();
	gen_run(a);
	gen_runfile(a);
	gen_bundle(a);
	gen_ingest(a);
	gen_sync();
	gen_link();
	gen_link_z();
	gen_noise();
	gen_config();
	gen_search();
	gen_mesh_token();
	gen_kiss();
	gen_arq();
	gen_slack();
	gen_http();
	kz_store_free(a);
	for (i = 0; i < n_entries; i++)
		free(entries[i].op);
	printf("%d seeds written to %s\n", n_written, outdir);
	return 0;
}
