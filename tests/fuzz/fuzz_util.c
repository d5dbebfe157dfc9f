/*
 * Fixtures shared by the fuzz targets and the corpus generator (see
 * fuzz_util.h).  The randombytes replacement is a splitmix64 stream: not a
 * secure generator, only for fuzzing, where a handshake must replay from
 * a recorded transcript.
 */
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/views.h"

const uint8_t kzf_network_key[32] = {
	0x4b, 0x5a, 0x46, 0x55, 0x5a, 0x5a, 0x2d, 0x6e, 0x65, 0x74, 0x77, 0x6f,
	0x72, 0x6b, 0x2d, 0x6b, 0x65, 0x79, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
	0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
};

/* ------------------------------------------------------------ randomness */

static uint64_t rng_state = 1;

static uint64_t
splitmix(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *
rb_name(void)
{
	return "kizuna-fuzz";
}

static uint32_t
rb_random(void)
{
	return (uint32_t)splitmix();
}

static void
rb_stir(void)
{
}

static uint32_t
rb_uniform(const uint32_t upper)
{
	return upper < 2 ? 0 : (uint32_t)(splitmix() % upper);
}

static void
rb_buf(void *buf, const size_t size)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < size; i += 8) {
		uint64_t v = splitmix();
		size_t n = size - i < 8 ? size - i : 8;

		memcpy(p + i, &v, n);
	}
}

static int
rb_close(void)
{
	return 0;
}

static randombytes_implementation rb_impl = {
	rb_name, rb_random, rb_stir, rb_uniform, rb_buf, rb_close
};

static struct kz_keypair nodes[KZF_NODES];

void
kzf_init(void)
{
	static bool done;
	int i;

	if (done)
		return;
	done = true;
	if (randombytes_set_implementation(&rb_impl) != 0 || sodium_init() < 0)
		kzf_fail("sodium_init failed");
	for (i = 0; i < KZF_NODES; i++) {
		uint8_t seed[32];

		memset(seed, 0x10 + i, sizeof(seed));
		if (kz_keypair_from_seed(&nodes[i], seed) != 0)
			kzf_fail("key %d", i);
	}
}

void
kzf_rng_reset(uint64_t seed)
{
	rng_state = seed;
}

const struct kz_keypair *
kzf_node(int i)
{
	return &nodes[i];
}

void
kzf_node_x25519(int i, uint8_t priv[32], uint8_t pub[32])
{
	if (crypto_sign_ed25519_sk_to_curve25519(priv, nodes[i].sk) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(pub, nodes[i].pk) != 0)
		kzf_fail("x25519 of node %d", i);
}

void
kzf_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kizuna fuzz invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void
log_stderr(void *ctx, enum kz_log_level level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "log %s: %s\n", kz_log_level_name(level), msg);
}

const struct kz_logger *
kzf_logger(void)
{
	static const struct kz_logger lg = { log_stderr, NULL, KZ_LOG_DEBUG };

	return getenv("KZF_DEBUG") != NULL ? &lg : NULL;
}

bool
kzf_known_bug(const char *id)
{
	static int on = -1;

	if (on < 0)
		on = getenv("KZF_SKIP_KNOWN") != NULL;
	if (on)
		kzf_debug("stepping around known bug %s", id);
	return on;
}

void
kzf_debug(const char *fmt, ...)
{
	static int on = -1;
	va_list ap;

	if (on < 0)
		on = getenv("KZF_DEBUG") != NULL;
	if (!on)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ stores */

#define WALL_MS 1790000000000ull

static void
append(struct kz_store *st, int node, uint64_t wall, const struct kz_op *op,
    uint8_t hash[32])
{
	struct kz_appended a;
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = kz_op_encode(&buf, &len, op)) < 0)
		kzf_fail("fixture op: %s", kz_strerror(rc));
	if ((rc = kz_store_append(st, &nodes[node], WALL_MS + wall, buf, len,
	    &a)) < 0)
		kzf_fail("fixture append: %s", kz_strerror(rc));
	free(buf);
	if (hash != NULL)
		memcpy(hash, a.hash, 32);
}

static struct kz_store *
open_mem(void)
{
	struct kz_store *st;
	int rc;

	if ((rc = kz_store_open(&st, ":memory:", kzf_logger())) < 0)
		kzf_fail("store open: %s", kz_strerror(rc));
	if ((rc = kz_views_set_root(st, nodes[0].pk)) < 0)
		kzf_fail("set root: %s", kz_strerror(rc));
	return st;
}

static const uint8_t CHAN_B[32] = { 0xc4, 0x01, 0xb0 };

struct kz_store *
kzf_store_b(void)
{
	struct kz_store *st = open_mem();
	struct kz_op op = { .type = KZ_OP_POST };
	int i;

	if (kz_store_begin(st) < 0)
		kzf_fail("begin");
	op.u.post.channel = CHAN_B;
	for (i = 0; i < 3; i++) {
		op.u.post.text = i == 1 ? "停電 復旧見込み 18:00" : "給水車 到着";
		append(st, 1, (uint64_t)i, &op, NULL);
	}
	if (kz_store_commit(st) < 0)
		kzf_fail("commit");
	return st;
}

struct kz_store *
kzf_store_a(void)
{
	static const uint8_t mesh_id[32] = { 0x3e, 0x54 };
	static const char *const mentions[] = { "sato" };
	struct kz_store *st = open_mem();
	struct kz_op op;
	uint8_t chan[32], post[32];

	if (kz_store_begin(st) < 0)
		kzf_fail("begin");
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_MESH_CREATE;
	op.u.mesh_create.mesh_id = mesh_id;
	op.u.mesh_create.name = "city";
	append(st, 0, 1, &op, NULL);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_NODE_ADMIT;
	op.u.node_admit.node = nodes[1].pk;
	op.u.node_admit.name = "shelter-b";
	append(st, 0, 2, &op, NULL);
	op.u.node_admit.node = nodes[2].pk;
	op.u.node_admit.name = "clinic";
	op.u.node_admit.admin = true;
	append(st, 0, 3, &op, NULL);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_USER_SET;
	op.u.user_set.user = "tanaka.h";
	op.u.user_set.set = KZ_USER_SET_DISPLAY_NAME | KZ_USER_SET_ROLE |
	    KZ_USER_SET_ACTIVE;
	op.u.user_set.display_name = "田中";
	op.u.user_set.role = KZ_ROLE_ADMIN;
	op.u.user_set.active = true;
	append(st, 0, 4, &op, NULL);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_CHANNEL_CREATE;
	op.actor = "tanaka.h";
	op.u.channel_create.name = "general";
	op.u.channel_create.topic = "避難所の連絡";
	append(st, 0, 5, &op, chan);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_POST;
	op.actor = "tanaka.h";
	op.u.post.channel = chan;
	op.u.post.text = "避難所は体育館です kizuna";
	op.u.post.priority = KZ_PRIO_URGENT;
	op.u.post.n_mentions = 1;
	op.u.post.mentions = mentions;
	append(st, 0, 6, &op, post);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_EDIT;
	op.actor = "tanaka.h";
	op.u.edit.target = post;
	op.u.edit.text = "避難所は体育館です（２階）";
	append(st, 0, 7, &op, NULL);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_REACT;
	op.u.react.target = post;
	op.u.react.emoji = "👍";
	op.u.react.on = true;
	append(st, 0, 8, &op, NULL);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_ACK;
	op.u.ack.target = post;
	append(st, 0, 9, &op, NULL);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_SAFETY;
	op.actor = "tanaka.h";
	op.u.safety.status = KZ_SAFETY_SAFE;
	op.u.safety.place = "体育館";
	append(st, 0, 10, &op, NULL);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_POST;
	op.u.post.channel = chan;
	op.u.post.text = "clinic open";
	append(st, 2, 11, &op, NULL);
	if (kz_store_commit(st) < 0)
		kzf_fail("commit");
	return st;
}

bool
kzf_accept_feed(void *ctx, const uint8_t feed[32])
{
	(void)ctx;
	return memcmp(feed, nodes[2].pk, 32) != 0;
}

void
kzf_sync_opts(struct kz_sync_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->window = 4096;
	o->run_entries = 2;
	o->run_bytes = 1024;
	o->accept_feed = kzf_accept_feed;
}

const uint8_t kzf_link_e_init[32] = {
	0x49, 0x4e, 0x49, 0x54, 0x2d, 0x65, 0x70, 0x68, 0x2d, 0x6b, 0x65, 0x79,
	0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c,
	0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34,
};

void
kzf_link_opts(struct kz_link_opts *o, struct kz_store *st)
{
	memset(o, 0, sizeof(*o));
	o->st = st;
	o->node = &nodes[1];
	o->network_key = kzf_network_key;
	o->initiator = false;
	kzf_sync_opts(&o->sync);
	o->sync.run_bytes = 0;
}

/* ------------------------------------------------------------ files */

static char tmp_paths[4][64];
static int n_tmp;

static void
remove_tmp(void)
{
	int i;

	for (i = 0; i < n_tmp; i++)
		unlink(tmp_paths[i]);
}

const char *
kzf_tmpfile(const char *tag, const uint8_t *data, size_t len)
{
	char *path = NULL;
	int i, fd;

	for (i = 0; i < n_tmp; i++)
		if (strstr(tmp_paths[i], tag) != NULL)
			path = tmp_paths[i];
	if (path == NULL) {
		if (n_tmp == 4)
			kzf_fail("too many temp files");
		path = tmp_paths[n_tmp++];
		snprintf(path, sizeof(tmp_paths[0]), "/tmp/kzfuzz-%s-%ld", tag,
		    (long)getpid());
		if (n_tmp == 1)
			atexit(remove_tmp);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		kzf_fail("open %s", path);
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w <= 0)
			kzf_fail("write %s", path);
		data += w;
		len -= (size_t)w;
	}
	close(fd);
	return path;
}

/* ------------------------------------------------------------ input */

uint8_t
kzf_u8(struct kzf_in *in)
{
	uint8_t v;

	if (in->n == 0)
		return 0;
	v = in->p[0];
	in->p++;
	in->n--;
	return v;
}

uint16_t
kzf_u16(struct kzf_in *in)
{
	uint16_t hi = kzf_u8(in);

	return (uint16_t)(hi << 8 | kzf_u8(in));
}

const uint8_t *
kzf_take(struct kzf_in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

void
kzf_check_store(struct kz_store *st, const char *what)
{
	struct kz_verify_report rep;
	int rc = kz_store_verify(st, &rep);

	KZF_CHECK(rc == 0, "%s: kz_store_verify: %s", what, kz_strerror(rc));
	KZF_CHECK(rep.ok, "%s: store holds an entry that does not verify: seq "
	    "%llu: %s", what, (unsigned long long)rep.bad_seq, rep.reason);
}

/*
 * The targets' libFuzzer initializer unless one defines its own (those
 * that need more fixtures than kzf_init's): the shared fixtures.
 */
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kzf_init();
	return 0;
}
