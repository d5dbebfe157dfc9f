/*
 * Convergence property test (DESIGN invariant 1).
 *
 * A seeded generator writes a random history on six nodes' feeds: the mesh
 * root creating the mesh, admitting nodes and creating users; then channels,
 * posts, replies, concurrent edits, deletes after edits, reactions toggled on
 * and off, acknowledgements, safety reports, renames, a revoked node, a
 * deactivated user, an admin purge and a non-admin one, and a node never
 * admitted.  The feeds are cut into runs of random length; each trial
 * ingests them into a fresh store in a random interleaving, with duplicate
 * runs, overlapping runs and runs past the tip thrown in.  Every store must
 * end with the same workspace digest, equal to that of a store rebuilt from
 * scratch.  KZ_SEED=N replays; KZ_TRIALS=N changes the number of orders.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/views.h"
#include "testutil.h"

#define N_NODES 6		/* 0 root, 1 admin, 2-3 members, 4 revoked, 5 outsider */
#define N_USERS 12
#define STEPS 2300
#define MAX_IDS 4096
#define MAX_CHUNKS 4096

static uint64_t seed;
static uint64_t rng;

static uint64_t
rnd(uint64_t n)
{
	return kz_test_rand(&rng) % n;
}

struct post_ref {
	uint8_t id[32];
	int user;
	enum kz_priority prio;
};

struct gen {
	char *dir;
	struct kz_store *st[N_NODES];
	struct kz_keypair kp[N_NODES];
	uint64_t wall[N_NODES];
	char users[N_USERS][8];
	uint8_t channels[64][32];
	int n_channels;
	struct post_ref posts[MAX_IDS];
	int n_posts;
	uint64_t entries;
	uint64_t by_type[KZ__OP_LAST];
};

static void
append(struct gen *g, int node, struct kz_op *op, uint8_t hash_out[32])
{
	struct kz_appended app;
	uint8_t *buf;
	size_t len;
	int rc;

	rc = kz_op_encode(&buf, &len, op);
	if (rc < 0)
		fail_msg("encode %s: %s (KZ_SEED=%" PRIu64 ")",
		    kz_op_type_name(op->type), kz_strerror(rc), seed);
	g->wall[node] += 1 + rnd(4000);
	assert_int_equal(kz_store_append(g->st[node], &g->kp[node], g->wall[node],
	    buf, len, &app), 0);
	free(buf);
	if (hash_out != NULL)
		memcpy(hash_out, app.hash, 32);
	g->entries++;
	g->by_type[op->type]++;
}

static const char *
user(struct gen *g, int i)
{
	return g->users[i];
}

static void
gen_control_start(struct gen *g)
{
	uint8_t mesh_id[32];
	struct kz_op op;
	int i;

	memset(mesh_id, 0x5a, sizeof(mesh_id));
	op = (struct kz_op){ .type = KZ_OP_MESH_CREATE,
	    .u.mesh_create = { mesh_id, "谷川市" } };
	append(g, 0, &op, NULL);
	for (i = 1; i <= 4; i++) {
		op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
		    .u.node_admit = { g->kp[i].pk, i == 1 ? "city-hall-2" :
		    i == 2 ? "branch" : i == 3 ? "station" : "school", i == 1 } };
		append(g, 0, &op, NULL);
	}
	for (i = 0; i < N_USERS; i++) {
		op = (struct kz_op){ .type = KZ_OP_USER_SET,
		    .u.user_set = { .user = user(g, i), .set = KZ_USER_SET_ALL,
		    .display_name = "職員", .department = "防災課",
		    .role = i < 2 ? KZ_ROLE_ADMIN : KZ_ROLE_MEMBER,
		    .password_hash = "", .active = true } };
		/* Half the users are created by the admin node, half by the
		 * root; the admin node writes after it saw its admission (as
		 * hybrid logical clocks guarantee between real nodes). */
		if (i % 2 && g->wall[1] <= g->wall[0])
			g->wall[1] = g->wall[0] + 1;
		append(g, i % 2 ? 1 : 0, &op, NULL);
	}
}

static void
gen_step(struct gen *g, int step)
{
	static const char *const emojis[] = { "👍", "✅", "🙏", "eyes" };
	int node = (int)rnd(N_NODES);
	int u = (int)rnd(N_USERS);
	uint64_t k = rnd(100);
	struct kz_op op = { .actor = user(g, u) };
	char text[96];

	/* Control events at fixed points of the history. */
	if (step == STEPS / 2) {
		/* u7 deactivated by admin user u0 writing from node 2. */
		op = (struct kz_op){ .type = KZ_OP_USER_SET, .actor = user(g, 0),
		    .u.user_set = { .user = user(g, 7), .set = KZ_USER_SET_ACTIVE,
		    .active = false } };
		append(g, 2, &op, NULL);
		return;
	}
	if (step == STEPS * 3 / 4) {
		uint64_t tip = 0;

		assert_int_equal(kz_store_tip(g->st[4], g->kp[4].pk, &tip, NULL), 0);
		op = (struct kz_op){ .type = KZ_OP_NODE_REVOKE,
		    .u.node_revoke = { g->kp[4].pk, tip > 5 ? tip - 5 : 0, "lost" } };
		append(g, 0, &op, NULL);
		return;
	}
	if (g->n_channels == 0 || k < 4) {
		snprintf(text, sizeof(text), "チャンネル%d", g->n_channels);
		op.type = KZ_OP_CHANNEL_CREATE;
		op.u.channel_create = (struct kz_channel_create){ text, "避難所の連絡", NULL };
		if (g->n_channels < 64)
			append(g, node, &op, g->channels[g->n_channels++]);
		return;
	}
	if (g->n_posts == 0 || k < 40) {
		struct post_ref *p = &g->posts[g->n_posts < MAX_IDS ? g->n_posts : 0];
		enum kz_priority prio = rnd(10) == 0 ? KZ_PRIO_URGENT :
		    rnd(20) == 0 ? KZ_PRIO_EMERGENCY : KZ_PRIO_NORMAL;

		snprintf(text, sizeof(text), "給水 %d 停電 %" PRIu64, step, rnd(1000));
		op.type = KZ_OP_POST;
		op.u.post = (struct kz_post){ g->channels[rnd((uint64_t)g->n_channels)],
		    text, NULL, prio, 0, NULL, NULL };
		if (g->n_posts > 0 && rnd(5) == 0)
			op.u.post.thread_root = g->posts[rnd((uint64_t)g->n_posts)].id;
		append(g, node, &op, p->id);
		p->user = u;
		p->prio = prio;
		if (g->n_posts < MAX_IDS)
			g->n_posts++;
		return;
	}
	{
		struct post_ref *p = &g->posts[rnd((uint64_t)g->n_posts)];

		if (k < 54) {
			/* Mostly the post's own user; sometimes someone else. */
			op.actor = rnd(10) < 7 ? user(g, p->user) : user(g, u);
			snprintf(text, sizeof(text), "訂正 %d", step);
			op.type = KZ_OP_EDIT;
			op.u.edit = (struct kz_edit){ p->id, text };
		} else if (k < 59) {
			op.actor = rnd(10) < 7 ? user(g, p->user) : user(g, u);
			op.type = KZ_OP_DELETE;
			op.u.del.target = p->id;
		} else if (k < 75) {
			op.type = KZ_OP_REACT;
			op.u.react = (struct kz_react){ p->id, emojis[rnd(4)], rnd(3) != 0 };
		} else if (k < 84) {
			op.type = KZ_OP_ACK;
			op.u.ack.target = p->id;
		} else if (k < 91) {
			op.type = KZ_OP_SAFETY;
			op.u.safety = (struct kz_safety_status){
			    rnd(2) ? user(g, (int)rnd(N_USERS)) : "",
			    (enum kz_safety)rnd(4), "第二小学校", "" };
		} else if (k < 94) {
			/* The node's links: the latest report per node wins
			 * (node 4's go with its revocation). */
			struct kz_report_link links[2] = {
				{ g->kp[(node + 1) % N_NODES].pk, "tcp", rnd(2) != 0,
				    rnd(1000), rnd(5) },
				{ g->kp[(node + 2) % N_NODES].pk, "radio", rnd(2) != 0,
				    rnd(1000), 0 },
			};

			op = (struct kz_op){ .type = KZ_OP_LINK_REPORT,
			    .u.link_report = { 1 + rnd(2), links } };
			append(g, node, &op, NULL);
			return;
		} else if (k < 97) {
			op.type = KZ_OP_CHANNEL_SET;
			op.u.channel_set = (struct kz_channel_set){
			    g->channels[rnd((uint64_t)g->n_channels)],
			    KZ_CHANNEL_SET_TOPIC | (rnd(2) ? KZ_CHANNEL_SET_ARCHIVED : 0),
			    NULL, "更新", rnd(2) != 0 };
		} else if (k < 99) {
			/* A display name change: by the user, or by admin u1. */
			op.actor = rnd(2) ? user(g, u) : user(g, 1);
			op.type = KZ_OP_USER_SET;
			op.u.user_set = (struct kz_user_set){ .user = user(g, u),
			    .set = KZ_USER_SET_DISPLAY_NAME, .display_name = "避難担当" };
		} else {
			/* A purge: by the root (counts) or member node 2 (ignored). */
			op = (struct kz_op){ .type = KZ_OP_PURGE };
			op.u.purge.target = p->id;
			append(g, rnd(2) ? 0 : 2, &op, NULL);
			return;
		}
		append(g, node, &op, NULL);
	}
}

struct chunk {
	int node;
	uint64_t first;
	struct kz_run *run;
	struct kz_run *overlap;	/* this chunk and the one before, or NULL */
};

static struct chunk chunks[MAX_CHUNKS];
static int n_chunks;
static int feed_first[N_NODES], feed_count[N_NODES];

static void
make_chunks(struct gen *g)
{
	int node;

	n_chunks = 0;
	for (node = 0; node < N_NODES; node++) {
		uint64_t tip, seq = 1, prev_first = 0;

		assert_int_equal(kz_store_tip(g->st[node], g->kp[node].pk, &tip, NULL), 0);
		feed_first[node] = n_chunks;
		while (seq <= tip) {
			struct chunk *c = &chunks[n_chunks++];
			size_t len = 1 + rnd(40);

			assert_true(n_chunks < MAX_CHUNKS);
			c->node = node;
			c->first = seq;
			assert_int_equal(kz_store_read_run(g->st[node], g->kp[node].pk,
			    seq, len, 0, &c->run), 0);
			c->overlap = NULL;
			if (prev_first != 0)
				assert_int_equal(kz_store_read_run(g->st[node],
				    g->kp[node].pk, prev_first,
				    (size_t)(seq - prev_first) + c->run->n, 0,
				    &c->overlap), 0);
			prev_first = seq;
			seq += c->run->n;
		}
		feed_count[node] = n_chunks - feed_first[node];
	}
}

static void
free_chunks(void)
{
	for (int i = 0; i < n_chunks; i++) {
		kz_run_free(chunks[i].run);
		kz_run_free(chunks[i].overlap);
	}
	n_chunks = 0;
}

static struct kz_store *
fresh_store(struct gen *g)
{
	struct kz_store *st = NULL;

	(void)g;
	assert_int_equal(kz_store_open(&st, ":memory:", NULL), 0);
	assert_int_equal(kz_views_set_root(st, g->kp[0].pk), 0);
	return st;
}

static void
digest_of(struct kz_store *st, uint8_t out[32])
{
	assert_int_equal(kz_views_digest(st, out), 0);
}

/* Ingests every chunk in a random interleaving; returns the digest. */
static void
trial(struct gen *g, int t, uint8_t out[32])
{
	struct kz_store *st = fresh_store(g);
	int next[N_NODES] = { 0 }, left = n_chunks;
	/* Every other trial defers the views of runs longer than a few
	 * entries, and catches up in random batches along the way. */
	bool defer = t % 2 == 1;

	if (defer)
		kz_views_set_deferral(st, 1 + rnd(8));
	while (left > 0) {
		int node = (int)rnd(N_NODES), rc;
		struct chunk *c;
		struct kz_ingest_result res;

		if (next[node] == feed_count[node])
			continue;
		c = &chunks[feed_first[node] + next[node]];
		/* Now and then: a run past the tip, refused, changing nothing. */
		if (rnd(20) == 0 && next[node] + 1 < feed_count[node]) {
			rc = kz_store_ingest(st, chunks[feed_first[node] + next[node] +
			    1].run, NULL);
			if (rc != KZ_ERR_GAP)
				fail_msg("trial %d: gap run: %s (KZ_SEED=%" PRIu64 ")", t,
				    kz_strerror(rc), seed);
		}
		/* The run itself, or one overlapping the previous run. */
		rc = kz_store_ingest(st, c->overlap != NULL && rnd(6) == 0 ?
		    c->overlap : c->run, &res);
		if (rc != 0)
			fail_msg("trial %d: ingest of node %d seq %" PRIu64 ": %s"
			    " (KZ_SEED=%" PRIu64 ")", t, node, c->first,
			    kz_strerror(rc), seed);
		/* And sometimes an old run again: a duplicate. */
		if (rnd(8) == 0) {
			int j = (int)rnd((uint64_t)next[node] + 1);

			rc = kz_store_ingest(st, chunks[feed_first[node] + j].run, &res);
			if (rc != 0 || res.added != 0)
				fail_msg("trial %d: duplicate run: %s added %" PRIu64
				    " (KZ_SEED=%" PRIu64 ")", t, kz_strerror(rc),
				    res.added, seed);
		}
		next[node]++;
		left--;
		if (defer && rnd(10) == 0) {
			uint64_t rest;

			rc = kz_views_catch_up(st, 1 + rnd(300), &rest);
			if (rc != 0)
				fail_msg("trial %d: catch up: %s (KZ_SEED=%" PRIu64 ")",
				    t, kz_strerror(rc), seed);
		}
	}
	if (defer) {
		uint64_t rest, backlog;

		assert_int_equal(kz_views_catch_up(st, 0, &rest), 0);
		assert_int_equal(rest, 0);
		assert_int_equal(kz_views_backlog(st, &backlog), 0);
		assert_int_equal(backlog, 0);
	}
	digest_of(st, out);
	if (t % 25 == 0) {
		uint8_t again[32];

		/* Recomputed from scratch: the same workspace. */
		assert_int_equal(kz_views_rebuild(st), 0);
		digest_of(st, again);
		if (memcmp(out, again, 32) != 0)
			fail_msg("trial %d: rebuilt workspace differs (KZ_SEED=%"
			    PRIu64 ")", t, seed);
	}
	kz_store_free(st);
}

struct counts {
	int messages, deleted, edited, reactions, acks, channels, users, inactive;
	int nodes, rollcall;
};

static int
count_msg(void *ctx, const struct kz_view_message *m)
{
	struct counts *c = ctx;

	c->messages++;
	c->deleted += m->deleted;
	c->edited += m->edited;
	c->reactions += (int)m->reactions;
	c->acks += (int)m->acks;
	return 0;
}

static int
count_channel(void *ctx, const struct kz_view_channel *ch)
{
	struct kz_store *st = ((void **)ctx)[0];
	struct counts *c = ((void **)ctx)[1];

	c->channels++;
	return kz_views_messages(st, ch->id, 0, count_msg, c);
}

static int
count_user(void *ctx, const struct kz_view_user *u)
{
	struct counts *c = ctx;

	c->users++;
	c->inactive += !u->active;
	return 0;
}

static int
count_node(void *ctx, const struct kz_view_node *n)
{
	(void)n;
	((struct counts *)ctx)->nodes++;
	return 0;
}

static void
test_converges_in_any_order(void **state)
{
	const char *env_seed = getenv("KZ_SEED"), *env_trials = getenv("KZ_TRIALS");
	int trials = env_trials ? atoi(env_trials) : 200;
	struct gen *g = calloc(1, sizeof(*g));
	uint8_t ref[32], d[32];
	struct kz_store *scratch;
	struct counts cnt = { 0 };
	void *ctx[2];
	int i, t;

	(void)state;
	assert_non_null(g);
	seed = env_seed ? strtoull(env_seed, NULL, 10) : (uint64_t)time(NULL);
	rng = seed;
	fprintf(stderr, "test_converge: KZ_SEED=%" PRIu64 " trials=%d\n", seed, trials);

	g->dir = kz_test_tmpdir();
	for (i = 0; i < N_NODES; i++) {
		char name[16];
		char *p;

		snprintf(name, sizeof(name), "g%d.db", i);
		p = kz_test_path(g->dir, name);
		assert_int_equal(kz_store_open(&g->st[i], p, NULL), 0);
		free(p);
		assert_int_equal(kz_keypair_generate(&g->kp[i]), 0);
		/* The mesh is set up first; the nodes' clocks then run up to
		 * an hour apart. */
		g->wall[i] = 1790000000000ull + (i > 1 ? 3600000 + rnd(3600000) : 0);
	}
	for (i = 0; i < N_USERS; i++)
		snprintf(g->users[i], sizeof(g->users[i]), "u%d", i);

	gen_control_start(g);
	for (i = 0; i < STEPS; i++)
		gen_step(g, i);
	assert_true(g->entries >= 2000);
	for (i = 1; i < KZ__OP_LAST; i++)
		if (g->by_type[i] == 0)
			fail_msg("no %s op generated (KZ_SEED=%" PRIu64 ")",
			    kz_op_type_name((enum kz_op_type)i), seed);
	make_chunks(g);

	/* The reference: every feed in order, then rebuilt from scratch. */
	scratch = fresh_store(g);
	for (i = 0; i < n_chunks; i++)
		assert_int_equal(kz_store_ingest(scratch, chunks[i].run, NULL), 0);
	assert_int_equal(kz_views_rebuild(scratch), 0);
	digest_of(scratch, ref);

	/* The history must exercise the rules, or the test proves little. */
	ctx[0] = scratch;
	ctx[1] = &cnt;
	assert_int_equal(kz_views_channels(scratch, count_channel, ctx), 0);
	assert_int_equal(kz_views_users(scratch, count_user, &cnt), 0);
	assert_int_equal(kz_views_nodes(scratch, count_node, &cnt), 0);
	fprintf(stderr, "test_converge: %" PRIu64 " entries in %d runs; %d channels,"
	    " %d top-level messages (%d edited, %d deleted), %d reactions, %d acks,"
	    " %d users (%d inactive), %d nodes\n", g->entries, n_chunks,
	    cnt.channels, cnt.messages, cnt.edited, cnt.deleted, cnt.reactions,
	    cnt.acks, cnt.users, cnt.inactive, cnt.nodes);
	assert_true(cnt.messages > 100);
	assert_true(cnt.edited > 10 && cnt.deleted > 5);
	assert_true(cnt.reactions > 10 && cnt.acks > 0);
	assert_int_equal(cnt.users, N_USERS);
	assert_int_equal(cnt.inactive, 1);
	assert_int_equal(cnt.nodes, 5);	/* the outsider never admitted */

	for (t = 0; t < trials; t++) {
		trial(g, t, d);
		if (memcmp(d, ref, 32) != 0)
			fail_msg("trial %d: workspace digest differs from the "
			    "reference (KZ_SEED=%" PRIu64 ")", t, seed);
	}

	kz_store_free(scratch);
	free_chunks();
	for (i = 0; i < N_NODES; i++) {
		kz_store_free(g->st[i]);
		kz_keypair_wipe(&g->kp[i]);
	}
	kz_test_rmtree(g->dir);
	free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converges_in_any_order),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
