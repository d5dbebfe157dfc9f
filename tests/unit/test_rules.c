/*
 * Unit tests of the workspace merge rules (src/core/workspace.c), called
 * directly on facts built in memory: no store, no files.  Each op is
 * encoded and decoded through the real codec so the rules see exactly what a
 * node would hand them.
 *
 * Node keys are constant bytes chosen so their order is known: NA < ROOT <
 * NB < NC < ND < NE.  Hlcs are small integers; only their order matters.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/util.h"
#include "kizuna/workspace.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static uint8_t NA[32], ROOT[32], NB[32], NC[32], ND[32], NE[32];
static uint8_t CHAN[32], MESH[32];

#define PWHASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
#define THUMBS "\xf0\x9f\x91\x8d"	/* U+1F44D */
#define HEART "\xe2\x9d\xa4"		/* U+2764 */

#define MAX_FACTS 96

/* A history: decoded ops (owned) and the facts that borrow them. */
struct hist {
	size_t n;
	struct kz_op *ops[MAX_FACTS];
	struct kz_ws_fact facts[MAX_FACTS];	/* may be reordered */
	uint8_t ids[MAX_FACTS][32];		/* by insertion index */
	struct { const uint8_t *key; uint64_t seq; } tips[8];
	size_t n_tips;
	struct kz_ws_control ctl;
	bool built;
};

/* Where and when a fact was written: node, seq (0: the node's next), hlc,
 * and the acting user (NULL: the node itself). */
struct at {
	const uint8_t *node;
	uint64_t seq;
	uint64_t hlc;
	const char *actor;
};

#define AT(node, seq, hlc, actor) ((struct at){ (node), (seq), (hlc), (actor) })

static void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

static void
hist_free(struct hist *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		kz_op_free(h->ops[i]);
	if (h->built)
		kz_ws_control_free(&h->ctl);
	memset(h, 0, sizeof(*h));
}

static uint64_t
next_seq(struct hist *h, const uint8_t *key, uint64_t want)
{
	size_t i;

	for (i = 0; i < h->n_tips; i++)
		if (h->tips[i].key == key)
			break;
	if (i == h->n_tips) {
		assert_true(h->n_tips < 8);
		h->tips[h->n_tips].key = key;
		h->tips[h->n_tips].seq = 0;
		h->n_tips++;
	}
	if (want == 0)
		want = h->tips[i].seq + 1;
	if (want > h->tips[i].seq)
		h->tips[i].seq = want;
	return want;
}

/* Encodes, decodes and appends op as a fact; returns its index. */
static size_t
add(struct hist *h, struct at at, struct kz_op op)
{
	struct kz_ws_fact *f;
	uint8_t *buf = NULL, *pre;
	size_t len = 0, i = h->n;

	assert_true(i < MAX_FACTS);
	op.actor = at.actor;
	assert_int_equal(kz_op_encode(&buf, &len, &op), 0);
	assert_int_equal(kz_op_decode(&h->ops[i], buf, len), 0);
	f = &h->facts[i];
	memset(f, 0, sizeof(*f));
	f->hlc = at.hlc;
	memcpy(f->author, at.node, 32);
	f->seq = next_seq(h, at.node, at.seq);
	f->op = h->ops[i];
	/* A distinct hash per entry: BLAKE2b of author, seq and op bytes. */
	pre = malloc(40 + len);
	assert_non_null(pre);
	memcpy(pre, at.node, 32);
	kz_put_be64(pre + 32, f->seq);
	memcpy(pre + 40, buf, len);
	kz_hash(f->hash, pre, 40 + len);
	memcpy(h->ids[i], f->hash, 32);
	free(pre);
	free(buf);
	h->n++;
	if (h->built) {
		kz_ws_control_free(&h->ctl);
		h->built = false;
	}
	return i;
}

/* The control state of the whole history (rebuilt after each add). */
static const struct kz_ws_control *
ctl(struct hist *h)
{
	if (!h->built) {
		assert_int_equal(kz_ws_control_build(&h->ctl, ROOT, h->facts, h->n), 0);
		h->built = true;
	}
	return &h->ctl;
}

/* The hash of the i-th fact added (the id of what it creates). */
static const uint8_t *
id_of(struct hist *h, size_t i)
{
	return h->ids[i];
}

/* The i-th fact added, wherever it now is in the array. */
static const struct kz_ws_fact *
fact_of(struct hist *h, size_t i)
{
	size_t j;

	for (j = 0; j < h->n; j++)
		if (h->facts[j].op == h->ops[i])
			return &h->facts[j];
	fail_msg("fact %zu not found", i);
	return NULL;
}

static bool
ok(struct hist *h, size_t i)
{
	return kz_ws_fact_ok(ctl(h), fact_of(h, i));
}

/* --- op builders (all pointers borrowed until add() returns) --- */

static size_t
mesh_create(struct hist *h, struct at at, const char *name)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_MESH_CREATE,
	    .u.mesh_create = { MESH, name } });
}

static size_t
admit(struct hist *h, struct at at, const uint8_t *node, const char *name,
    bool admin)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
	    .u.node_admit = { node, name, admin } });
}

static size_t
revoke(struct hist *h, struct at at, const uint8_t *node, uint64_t last_seq)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_NODE_REVOKE,
	    .u.node_revoke = { node, last_seq, "lost" } });
}

static size_t
user_set(struct hist *h, struct at at, struct kz_user_set s)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_USER_SET, .u.user_set = s });
}

/* Creates (or renames) a user, with a role. */
static size_t
user_new(struct hist *h, struct at at, const char *user, const char *display,
    enum kz_role role)
{
	struct kz_user_set s = { .user = user,
	    .set = KZ_USER_SET_DISPLAY_NAME | KZ_USER_SET_ROLE,
	    .display_name = display, .role = role };

	return user_set(h, at, s);
}

static size_t
user_active(struct hist *h, struct at at, const char *user, bool active)
{
	struct kz_user_set s = { .user = user, .set = KZ_USER_SET_ACTIVE,
	    .active = active };

	return user_set(h, at, s);
}

static size_t
post(struct hist *h, struct at at, const char *text, enum kz_priority prio)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_POST,
	    .u.post = { .channel = CHAN, .text = text, .priority = prio } });
}

static size_t
edit(struct hist *h, struct at at, const uint8_t *target, const char *text)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_EDIT,
	    .u.edit = { target, text } });
}

static size_t
del(struct hist *h, struct at at, const uint8_t *target)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_DELETE,
	    .u.del = { target } });
}

static size_t
purge(struct hist *h, struct at at, const uint8_t *target)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_PURGE,
	    .u.purge = { target } });
}

static size_t
react(struct hist *h, struct at at, const uint8_t *target, const char *emoji,
    bool on)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_REACT,
	    .u.react = { target, emoji, on } });
}

static size_t
ack(struct hist *h, struct at at, const uint8_t *target)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_ACK, .u.ack = { target } });
}

static size_t
safety(struct hist *h, struct at at, const char *user, enum kz_safety status,
    const char *place, const char *note)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_SAFETY,
	    .u.safety = { user, status, place, note } });
}

static size_t
chan_create(struct hist *h, struct at at, const char *name, const char *topic)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_CHANNEL_CREATE,
	    .u.channel_create = { name, topic } });
}

static size_t
chan_set(struct hist *h, struct at at, const uint8_t *chan, uint32_t set,
    const char *name, const char *topic, bool archived)
{
	return add(h, at, (struct kz_op){ .type = KZ_OP_CHANNEL_SET,
	    .u.channel_set = { chan, set, name, topic, archived } });
}

/* The history of the running test, freed by teardown() even when an
 * assertion fails half-way. */
static struct hist g_hist;

static int
teardown(void **state)
{
	(void)state;
	hist_free(&g_hist);
	return 0;
}

/*
 * The usual start: the root creates the mesh, admits NB (not admin) and
 * creates boss (admin), alice, bob and carol (members), all before hlc 100.
 */
static void
base(struct hist *h)
{
	hist_init(h);
	mesh_create(h, AT(ROOT, 0, 10, NULL), "city hall");
	admit(h, AT(ROOT, 0, 11, NULL), NB, "branch", false);
	user_new(h, AT(ROOT, 0, 12, NULL), "boss", "Boss", KZ_ROLE_ADMIN);
	user_new(h, AT(ROOT, 0, 13, NULL), "alice", "Alice", KZ_ROLE_MEMBER);
	user_new(h, AT(ROOT, 0, 14, NULL), "bob", "Bob", KZ_ROLE_MEMBER);
	user_new(h, AT(ROOT, 0, 15, NULL), "carol", "Carol", KZ_ROLE_MEMBER);
}

static const struct kz_ws_user *
user(struct hist *h, const char *id)
{
	return kz_ws_user_find(ctl(h), id);
}

static const struct kz_ws_node *
node(struct hist *h, const uint8_t *key)
{
	return kz_ws_node_find(ctl(h), key);
}

static bool
msg(struct hist *h, size_t post_idx, struct kz_ws_message *m)
{
	uint8_t id[32];

	memcpy(id, id_of(h, post_idx), 32);
	return kz_ws_message_merge(ctl(h), id, h->facts, h->n, m);
}

/* Reverses h's facts in place (a different array order, same set). */
static void
reverse(struct hist *h)
{
	size_t i;

	for (i = 0; i < h->n / 2; i++) {
		struct kz_ws_fact t = h->facts[i];

		h->facts[i] = h->facts[h->n - 1 - i];
		h->facts[h->n - 1 - i] = t;
	}
}

/* ------------------------------------------------------- control: nodes */

static void
test_control_root_and_mesh(void **state)
{
	struct kz_ws_control c;
	const struct kz_ws_node *n;
	struct hist *h = &g_hist;
	size_t nb_post;

	(void)state;
	/* No facts at all: the root alone, admin, not revoked, no mesh. */
	assert_int_equal(kz_ws_control_build(&c, ROOT, NULL, 0), 0);
	assert_int_equal(c.n_nodes, 1);
	assert_memory_equal(c.nodes[0].key, ROOT, 32);
	assert_true(c.nodes[0].admin);
	assert_true(c.nodes[0].last_seq == UINT64_MAX);
	assert_false(c.has_mesh);
	assert_int_equal(c.n_users, 0);
	assert_null(kz_ws_node_find(&c, NB));
	kz_ws_control_free(&c);

	hist_init(h);
	/* NB (admitted by the root) writes a mesh_create earlier than the
	 * root's: it does not count; the root's first one does. */
	admit(h, AT(ROOT, 0, 5, NULL), NB, "branch", true);
	mesh_create(h, AT(NB, 0, 6, NULL), "usurper");
	mesh_create(h, AT(ROOT, 0, 20, NULL), "city hall");
	mesh_create(h, AT(ROOT, 0, 30, NULL), "renamed");
	assert_true(ctl(h)->has_mesh);
	assert_string_equal(ctl(h)->mesh_name, "city hall");
	assert_memory_equal(ctl(h)->mesh_id, MESH, 32);
	assert_memory_equal(ctl(h)->root, ROOT, 32);
	n = node(h, ROOT);
	assert_non_null(n);
	assert_true(n->admin);
	assert_true(n->last_seq == UINT64_MAX);
	n = node(h, NB);
	assert_non_null(n);
	assert_true(n->admin);
	assert_string_equal(n->name, "branch");
	/* Nodes come out sorted by key. */
	assert_int_equal(ctl(h)->n_nodes, 2);
	assert_memory_equal(ctl(h)->nodes[0].key, ROOT, 32);
	assert_memory_equal(ctl(h)->nodes[1].key, NB, 32);
	hist_free(h);

	/* Only the root's mesh_create counts: alone, NB's gives no mesh. */
	hist_init(h);
	admit(h, AT(ROOT, 0, 5, NULL), NB, "branch", true);
	mesh_create(h, AT(NB, 0, 6, NULL), "usurper");
	assert_false(ctl(h)->has_mesh);
	/* A stranger's facts do not count at all. */
	nb_post = post(h, AT(NC, 0, 7, NULL), "who am I", KZ_PRIO_NORMAL);
	assert_false(ok(h, nb_post));
	hist_free(h);
}

static void
test_control_admit(void **state)
{
	struct hist *h = &g_hist;
	size_t i;

	(void)state;
	hist_init(h);
	/* The root is admin and admits NB as a plain node, ND as an admin. */
	admit(h, AT(ROOT, 0, 10, NULL), NB, "branch", false);
	admit(h, AT(ROOT, 0, 11, NULL), ND, "station", true);
	/* NB's admission of NC is ignored; ND's admission of NE counts. */
	admit(h, AT(NB, 0, 20, NULL), NC, "school", true);
	admit(h, AT(ND, 0, 21, NULL), NE, "shelter", false);
	/* An admission written by ND before ND itself was admitted (in the
	 * total order) does not count either. */
	admit(h, AT(ND, 0, 5, NULL), NA, "early", false);

	assert_non_null(node(h, NB));
	assert_false(node(h, NB)->admin);
	assert_string_equal(node(h, NB)->name, "branch");
	assert_null(node(h, NC));
	assert_non_null(node(h, ND));
	assert_true(node(h, ND)->admin);
	assert_non_null(node(h, NE));
	assert_false(node(h, NE)->admin);
	assert_string_equal(node(h, NE)->name, "shelter");
	assert_null(node(h, NA));
	assert_int_equal(ctl(h)->n_nodes, 4);

	/* Node facts with no actor: only admin nodes' count. */
	i = post(h, AT(ROOT, 0, 30, NULL), "root", KZ_PRIO_NORMAL);
	assert_true(ok(h, i));
	assert_true(kz_ws_fact_admin(ctl(h), fact_of(h, i)));
	i = post(h, AT(ND, 0, 30, NULL), "nd", KZ_PRIO_NORMAL);
	assert_true(ok(h, i));
	i = post(h, AT(NB, 0, 30, NULL), "nb", KZ_PRIO_NORMAL);
	assert_false(ok(h, i));
	assert_false(kz_ws_fact_admin(ctl(h), fact_of(h, i)));
	i = post(h, AT(NC, 0, 30, NULL), "nc", KZ_PRIO_NORMAL);
	assert_false(ok(h, i));
	hist_free(h);

	/* A node admitted first as plain and later as admin is admin. */
	hist_init(h);
	admit(h, AT(ROOT, 0, 10, NULL), NB, "branch", false);
	admit(h, AT(ROOT, 0, 20, NULL), NB, "branch", true);
	admit(h, AT(NB, 0, 30, NULL), NC, "school", false);
	assert_true(node(h, NB)->admin);
	assert_non_null(node(h, NC));
	/* Grow-only: a later admission without admin keeps it admin. */
	admit(h, AT(ROOT, 0, 40, NULL), NB, "branch 2", false);
	assert_true(node(h, NB)->admin);
	assert_string_equal(node(h, NB)->name, "branch 2");
	admit(h, AT(NB, 0, 50, NULL), ND, "station", false);
	assert_non_null(node(h, ND));
	hist_free(h);
}

static void
test_control_revoke(void **state)
{
	struct hist *h = &g_hist;
	size_t b3, b4, user_late;

	(void)state;
	hist_init(h);
	admit(h, AT(ROOT, 0, 10, NULL), NB, "branch", true);
	admit(h, AT(ROOT, 0, 11, NULL), NE, "shelter", false);
	/* NB, an admin node, writes seqs 1..5. */
	admit(h, AT(NB, 1, 12, NULL), ND, "station", true);
	post(h, AT(NB, 2, 13, NULL), "b2", KZ_PRIO_NORMAL);
	b3 = post(h, AT(NB, 3, 14, NULL), "b3", KZ_PRIO_NORMAL);
	b4 = post(h, AT(NB, 4, 15, NULL), "b4", KZ_PRIO_NORMAL);
	/* Seq 5 admits NC at hlc 16, before the revocation's hlc 100. */
	admit(h, AT(NB, 5, 16, NULL), NC, "school", false);
	user_late = user_new(h, AT(NB, 6, 17, NULL), "mallory", "M",
	    KZ_ROLE_ADMIN);
	(void)user_late;
	/* Before the revocation: everything of NB counts. */
	assert_non_null(node(h, NC));
	assert_true(ok(h, b4));
	assert_non_null(user(h, "mallory"));

	revoke(h, AT(ROOT, 0, 100, NULL), NB, 3);
	assert_non_null(node(h, NB));
	assert_true(node(h, NB)->last_seq == 3);
	assert_true(ok(h, b3));
	assert_false(ok(h, b4));
	/* NB's seq 1 admission stands; its seq 5 admission is void although
	 * its hlc is earlier than the revocation's. */
	assert_non_null(node(h, ND));
	assert_null(node(h, NC));
	assert_null(user(h, "mallory"));

	/* The root cannot be revoked, even by an admin node. */
	revoke(h, AT(ND, 0, 110, NULL), ROOT, 0);
	assert_true(node(h, ROOT)->last_seq == UINT64_MAX);
	assert_true(ok(h, post(h, AT(ROOT, 0, 120, NULL), "r", KZ_PRIO_NORMAL)));

	/* A revocation by a non-admin node is ignored. */
	revoke(h, AT(NE, 0, 130, NULL), ND, 0);
	assert_true(node(h, ND)->last_seq == UINT64_MAX);
	assert_true(ok(h, post(h, AT(ND, 0, 140, NULL), "d", KZ_PRIO_NORMAL)));

	/* Two revocations of the same node: the lower seq wins. */
	revoke(h, AT(ND, 0, 150, NULL), NB, 2);
	assert_true(node(h, NB)->last_seq == 2);
	assert_false(ok(h, b3));
	hist_free(h);

	/* A revoked admin's revocation written after its last seq is void. */
	hist_init(h);
	admit(h, AT(ROOT, 0, 10, NULL), NB, "branch", true);
	admit(h, AT(ROOT, 0, 11, NULL), ND, "station", true);
	revoke(h, AT(NB, 1, 20, NULL), ND, 0);	/* counts: seq 1 <= 1 */
	revoke(h, AT(NB, 2, 21, NULL), NE, 0);	/* NE is never admitted */
	assert_true(node(h, ND)->last_seq == 0);
	revoke(h, AT(ROOT, 0, 30, NULL), NB, 0);
	assert_true(node(h, NB)->last_seq == 0);
	assert_true(node(h, ND)->last_seq == UINT64_MAX);
	hist_free(h);
}

/* ------------------------------------------------------- control: users */

static void
test_users_create(void **state)
{
	struct hist *h = &g_hist;
	struct kz_user_set s = { .user = "dora", .set = KZ_USER_SET_ALL,
	    .display_name = "Dora", .department = "Water", .role = KZ_ROLE_MEMBER,
	    .password_hash = PWHASH, .active = true };
	const struct kz_ws_user *u;

	(void)state;
	base(h);
	/* Created by an admin node with no actor, every field. */
	user_set(h, AT(ROOT, 0, 100, NULL), s);
	u = user(h, "dora");
	assert_non_null(u);
	assert_string_equal(u->id, "dora");
	assert_string_equal(u->display_name, "Dora");
	assert_string_equal(u->department, "Water");
	assert_string_equal(u->password_hash, PWHASH);
	assert_int_equal(u->role, KZ_ROLE_MEMBER);
	assert_true(u->active);
	assert_int_equal(u->n_epochs, 1);
	u = user(h, "boss");
	assert_non_null(u);
	assert_int_equal(u->role, KZ_ROLE_ADMIN);
	assert_true(u->active);

	/* By an active admin user, on a plain node. */
	user_new(h, AT(NB, 0, 101, "boss"), "erin", "Erin", KZ_ROLE_MEMBER);
	assert_non_null(user(h, "erin"));
	/* Not by a member user on a plain node. */
	user_new(h, AT(NB, 0, 102, "alice"), "fred", "Fred", KZ_ROLE_ADMIN);
	assert_null(user(h, "fred"));
	/* Not by the node itself when it is not an admin node. */
	user_new(h, AT(NB, 0, 103, NULL), "gina", "Gina", KZ_ROLE_MEMBER);
	assert_null(user(h, "gina"));
	/* Not by a user that does not exist. */
	user_new(h, AT(NB, 0, 104, "ghost"), "hana", "Hana", KZ_ROLE_MEMBER);
	assert_null(user(h, "hana"));
	/* Not by an admin user before that user exists in the total order. */
	user_new(h, AT(ROOT, 0, 200, NULL), "ivan", "Ivan", KZ_ROLE_ADMIN);
	user_new(h, AT(NB, 0, 150, "ivan"), "jun", "Jun", KZ_ROLE_MEMBER);
	assert_non_null(user(h, "ivan"));
	assert_null(user(h, "jun"));
	/* Not by an admin user once deactivated. */
	user_active(h, AT(ROOT, 0, 300, NULL), "ivan", false);
	user_new(h, AT(NB, 0, 301, "ivan"), "ken", "Ken", KZ_ROLE_MEMBER);
	assert_null(user(h, "ken"));
	/* A member made admin can. */
	user_set(h, AT(ROOT, 0, 400, NULL), (struct kz_user_set){ .user = "bob",
	    .set = KZ_USER_SET_ROLE, .role = KZ_ROLE_ADMIN });
	user_new(h, AT(NB, 0, 401, "bob"), "lin", "Lin", KZ_ROLE_MEMBER);
	assert_non_null(user(h, "lin"));
	/* Users come out sorted by id. */
	for (size_t i = 1; i < ctl(h)->n_users; i++)
		assert_true(strcmp(ctl(h)->users[i - 1].id, ctl(h)->users[i].id) < 0);
	assert_int_equal(ctl(h)->n_users, 8);	/* 4 + dora erin ivan lin */
	hist_free(h);
}

/*
 * A member user acting through an admin node (the appliance at city hall
 * serves every user's web session) is still a member: users are created and
 * changed by "admin nodes or active admin users", and an op by a user is
 * that user's, as kz_ws_fact_admin reads it.
 */
static void
test_users_member_on_admin_node(void **state)
{
	struct hist *h = &g_hist;
	size_t i;

	(void)state;
	base(h);
	i = post(h, AT(ROOT, 0, 100, "alice"), "x", KZ_PRIO_NORMAL);
	assert_true(ok(h, i));
	assert_false(kz_ws_fact_admin(ctl(h), fact_of(h, i)));
	/* alice, on the root node, tries to create a user ... */
	user_new(h, AT(ROOT, 0, 101, "alice"), "mole", "Mole", KZ_ROLE_ADMIN);
	assert_null(user(h, "mole"));
	/* ... and to make herself admin. */
	user_set(h, AT(ROOT, 0, 102, "alice"), (struct kz_user_set){
	    .user = "alice", .set = KZ_USER_SET_ROLE, .role = KZ_ROLE_ADMIN });
	assert_int_equal(user(h, "alice")->role, KZ_ROLE_MEMBER);
	/* ... and to deactivate bob. */
	user_active(h, AT(ROOT, 0, 103, "alice"), "bob", false);
	assert_true(user(h, "bob")->active);
	hist_free(h);
}

static void
test_users_self_change(void **state)
{
	struct hist *h = &g_hist;
	const struct kz_ws_user *u;

	(void)state;
	base(h);
	/* alice changes her display name, department and password. */
	user_set(h, AT(NB, 0, 100, "alice"), (struct kz_user_set){
	    .user = "alice", .set = KZ_USER_SET_DISPLAY_NAME |
	    KZ_USER_SET_DEPARTMENT | KZ_USER_SET_PASSWORD,
	    .display_name = "Alice T.", .department = "Water supply",
	    .password_hash = PWHASH });
	u = user(h, "alice");
	assert_string_equal(u->display_name, "Alice T.");
	assert_string_equal(u->department, "Water supply");
	assert_string_equal(u->password_hash, PWHASH);
	assert_int_equal(u->n_epochs, 2);

	/* Not her own role ... */
	user_set(h, AT(NB, 0, 101, "alice"), (struct kz_user_set){
	    .user = "alice", .set = KZ_USER_SET_ROLE, .role = KZ_ROLE_ADMIN });
	assert_int_equal(user(h, "alice")->role, KZ_ROLE_MEMBER);
	/* ... nor her active flag ... */
	user_active(h, AT(NB, 0, 102, "alice"), "alice", false);
	assert_true(user(h, "alice")->active);
	/* ... nor her name with her role in the same op. */
	user_set(h, AT(NB, 0, 103, "alice"), (struct kz_user_set){
	    .user = "alice", .set = KZ_USER_SET_DISPLAY_NAME | KZ_USER_SET_ROLE,
	    .display_name = "Admin Alice", .role = KZ_ROLE_ADMIN });
	assert_string_equal(user(h, "alice")->display_name, "Alice T.");
	assert_int_equal(user(h, "alice")->role, KZ_ROLE_MEMBER);
	/* ... nor bob's display name. */
	user_set(h, AT(NB, 0, 104, "alice"), (struct kz_user_set){
	    .user = "bob", .set = KZ_USER_SET_DISPLAY_NAME,
	    .display_name = "Bobby" });
	assert_string_equal(user(h, "bob")->display_name, "Bob");
	assert_int_equal(user(h, "alice")->n_epochs, 2);

	/* An admin user changes alice's role; she may then write it, since
	 * admins may change any user. */
	user_set(h, AT(NB, 0, 105, "boss"), (struct kz_user_set){
	    .user = "alice", .set = KZ_USER_SET_ROLE, .role = KZ_ROLE_ADMIN });
	assert_int_equal(user(h, "alice")->role, KZ_ROLE_ADMIN);
	user_set(h, AT(NB, 0, 106, "alice"), (struct kz_user_set){
	    .user = "bob", .set = KZ_USER_SET_DISPLAY_NAME,
	    .display_name = "Bobby" });
	assert_string_equal(user(h, "bob")->display_name, "Bobby");

	/* Last writer wins per field: a later display name, written first
	 * into the array, still wins; the department is kept. */
	hist_free(h);
	base(h);
	user_set(h, AT(NB, 0, 300, "alice"), (struct kz_user_set){
	    .user = "alice", .set = KZ_USER_SET_DISPLAY_NAME,
	    .display_name = "late" });
	user_set(h, AT(NB, 0, 200, "alice"), (struct kz_user_set){
	    .user = "alice", .set = KZ_USER_SET_DISPLAY_NAME |
	    KZ_USER_SET_DEPARTMENT, .display_name = "early",
	    .department = "Fire" });
	assert_string_equal(user(h, "alice")->display_name, "late");
	assert_string_equal(user(h, "alice")->department, "Fire");
	hist_free(h);
}

static void
test_users_deactivate(void **state)
{
	struct hist *h = &g_hist;
	size_t before, at_same_hlc_lo, at_same_hlc_hi, during, after, early;
	size_t boss_before, boss_after, ghost, anon_nb, anon_root;

	(void)state;
	base(h);
	admit(h, AT(ROOT, 0, 16, NULL), NA, "annex", false);
	early = post(h, AT(NB, 0, 5, "alice"), "before she existed",
	    KZ_PRIO_NORMAL);
	before = post(h, AT(NB, 0, 200, "alice"), "one", KZ_PRIO_NORMAL);
	boss_before = post(h, AT(NB, 0, 200, "boss"), "b", KZ_PRIO_NORMAL);
	/* The root deactivates alice and boss at hlc 300. */
	user_active(h, AT(ROOT, 0, 300, NULL), "alice", false);
	user_active(h, AT(ROOT, 0, 300, NULL), "boss", false);
	/* Same hlc: NA's key sorts before the root's, NB's after. */
	at_same_hlc_lo = post(h, AT(NA, 0, 300, "alice"), "lo", KZ_PRIO_NORMAL);
	at_same_hlc_hi = post(h, AT(NB, 0, 300, "alice"), "hi", KZ_PRIO_NORMAL);
	during = post(h, AT(NB, 0, 400, "alice"), "two", KZ_PRIO_NORMAL);
	boss_after = post(h, AT(NB, 0, 400, "boss"), "b2", KZ_PRIO_NORMAL);
	/* Reactivated at hlc 500. */
	user_active(h, AT(ROOT, 0, 500, NULL), "alice", true);
	after = post(h, AT(NB, 0, 600, "alice"), "three", KZ_PRIO_NORMAL);
	ghost = post(h, AT(NB, 0, 600, "ghost"), "boo", KZ_PRIO_NORMAL);
	anon_nb = post(h, AT(NB, 0, 600, NULL), "node", KZ_PRIO_NORMAL);
	anon_root = post(h, AT(ROOT, 0, 600, NULL), "node", KZ_PRIO_NORMAL);

	assert_false(ok(h, early));
	assert_true(ok(h, before));
	assert_true(ok(h, at_same_hlc_lo));
	assert_false(ok(h, at_same_hlc_hi));
	assert_false(ok(h, during));
	assert_true(ok(h, after));
	assert_true(user(h, "alice")->active);
	assert_int_equal(user(h, "alice")->n_epochs, 3);
	assert_false(user(h, "boss")->active);

	/* boss: an admin while active only. */
	assert_true(ok(h, boss_before));
	assert_true(kz_ws_fact_admin(ctl(h), fact_of(h, boss_before)));
	assert_false(ok(h, boss_after));
	assert_false(kz_ws_fact_admin(ctl(h), fact_of(h, boss_after)));
	assert_false(kz_ws_fact_admin(ctl(h), fact_of(h, before)));

	/* An admin deactivating herself: the op itself still counts (the
	 * state in force is the one just before it). */
	{
		size_t self_off = user_active(h, AT(NB, 0, 700, "boss"), "boss",
		    false);
		size_t later = post(h, AT(NB, 0, 700, "boss"), "later",
		    KZ_PRIO_NORMAL);

		user_active(h, AT(ROOT, 0, 650, NULL), "boss", true);
		assert_true(ok(h, self_off));
		assert_true(kz_ws_fact_admin(ctl(h), fact_of(h, self_off)));
		assert_false(ok(h, later));	/* same hlc and node, next seq */
		assert_false(user(h, "boss")->active);
	}

	/* No such user; no actor on a plain node; no actor on the root. */
	assert_false(ok(h, ghost));
	assert_false(ok(h, anon_nb));
	assert_true(ok(h, anon_root));
	hist_free(h);
}

/* ------------------------------------------------------------ messages */

static void
check_msg(struct hist *h, size_t p, bool exists, const char *text,
    bool edited, bool deleted)
{
	struct kz_ws_message m;

	assert_int_equal(msg(h, p, &m), exists);
	assert_false(m.purged);
	assert_non_null(m.post);
	assert_ptr_equal(m.post, fact_of(h, p));
	assert_string_equal(m.text, text);
	assert_int_equal(m.edited, edited);
	assert_int_equal(m.deleted, deleted);
}

static void
test_message_edit(void **state)
{
	struct kz_ws_message m;
	struct hist *h = &g_hist;
	size_t p;

	(void)state;
	base(h);
	p = post(h, AT(NB, 0, 1000, "alice"), "water at 3", KZ_PRIO_NORMAL);
	check_msg(h, p, true, "water at 3", false, false);
	assert_true(msg(h, p, &m));
	assert_true(m.edited_hlc == 0);

	/* By another member: ignored. */
	edit(h, AT(NB, 0, 1100, "bob"), id_of(h, p), "bob was here");
	check_msg(h, p, true, "water at 3", false, false);
	/* By the post's own user: applies. */
	edit(h, AT(NB, 0, 1050, "alice"), id_of(h, p), "water at 4");
	check_msg(h, p, true, "water at 4", true, false);
	assert_true(msg(h, p, &m));
	assert_true(m.edited_hlc == 1050);
	/* By an admin user: applies (and is the latest). */
	edit(h, AT(NB, 0, 1200, "boss"), id_of(h, p), "water at 5");
	check_msg(h, p, true, "water at 5", true, false);
	assert_true(msg(h, p, &m));
	assert_true(m.edited_hlc == 1200);
	/* By a member through the root (an admin node): still a member. */
	edit(h, AT(ROOT, 0, 1300, "carol"), id_of(h, p), "carol");
	check_msg(h, p, true, "water at 5", true, false);
	/* By the root node itself, no actor: an admin. */
	edit(h, AT(ROOT, 0, 1400, NULL), id_of(h, p), "root");
	check_msg(h, p, true, "root", true, false);
	/* An edit naming another message does not touch this one. */
	edit(h, AT(NB, 0, 1500, "alice"), CHAN, "elsewhere");
	check_msg(h, p, true, "root", true, false);
	hist_free(h);

	/* Edits whose post is absent: no message. */
	base(h);
	p = post(h, AT(NB, 0, 1000, "alice"), "x", KZ_PRIO_NORMAL);
	edit(h, AT(NB, 0, 1100, "alice"), id_of(h, p), "y");
	{
		uint8_t id[32];

		memcpy(id, id_of(h, p), 32);
		/* Drop the post: the edit alone is in the set. */
		h->facts[p] = h->facts[h->n - 1];
		assert_false(kz_ws_message_merge(ctl(h), id, h->facts, h->n - 1, &m));
		assert_null(m.post);
		assert_false(m.purged);
		assert_false(m.deleted);
	}
	hist_free(h);

	/* A post by a user that does not exist, or by a plain node with no
	 * actor, is not a message. */
	base(h);
	p = post(h, AT(NB, 0, 1000, "ghost"), "x", KZ_PRIO_NORMAL);
	assert_false(msg(h, p, &m));
	p = post(h, AT(NB, 0, 1000, NULL), "x", KZ_PRIO_NORMAL);
	assert_false(msg(h, p, &m));
	hist_free(h);
}

static void
test_message_last_edit_wins(void **state)
{
	struct hist *h = &g_hist;
	size_t p;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		base(h);
		p = post(h, AT(NB, 0, 1000, "alice"), "v0", KZ_PRIO_NORMAL);
		edit(h, AT(NB, 0, 1100, "alice"), id_of(h, p), "v1");
		edit(h, AT(NB, 0, 1300, "alice"), id_of(h, p), "v3");
		edit(h, AT(NB, 0, 1200, "alice"), id_of(h, p), "v2");
		if (round == 1)
			reverse(h);
		check_msg(h, p, true, "v3", true, false);
		hist_free(h);
	}

	/* Equal hlcs: the larger author key wins, then the larger seq. */
	for (round = 0; round < 2; round++) {
		base(h);
		p = post(h, AT(NB, 0, 1000, "alice"), "v0", KZ_PRIO_NORMAL);
		edit(h, AT(NB, 0, 1500, "alice"), id_of(h, p), "nb");
		edit(h, AT(ROOT, 0, 1500, "alice"), id_of(h, p), "root");
		if (round == 1)
			reverse(h);
		check_msg(h, p, true, "nb", true, false);
		hist_free(h);

		base(h);
		p = post(h, AT(NB, 0, 1000, "alice"), "v0", KZ_PRIO_NORMAL);
		edit(h, AT(NB, 21, 1500, "alice"), id_of(h, p), "seq21");
		edit(h, AT(NB, 20, 1500, "alice"), id_of(h, p), "seq20");
		if (round == 1)
			reverse(h);
		check_msg(h, p, true, "seq21", true, false);
		hist_free(h);
	}
}

static void
test_message_delete(void **state)
{
	struct kz_ws_message m;
	struct hist *h = &g_hist;
	size_t p;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		/* A delete beats an edit with a later hlc. */
		base(h);
		p = post(h, AT(NB, 0, 1000, "alice"), "v0", KZ_PRIO_NORMAL);
		del(h, AT(NB, 0, 1100, "alice"), id_of(h, p));
		edit(h, AT(NB, 0, 1200, "alice"), id_of(h, p), "v1");
		edit(h, AT(NB, 0, 1300, "boss"), id_of(h, p), "v2");
		if (round == 1)
			reverse(h);
		assert_true(msg(h, p, &m));
		assert_true(m.deleted);
		assert_false(m.purged);
		assert_string_equal(m.text, "");
		hist_free(h);
	}

	/* A delete by another member is ignored. */
	base(h);
	p = post(h, AT(NB, 0, 1000, "alice"), "v0", KZ_PRIO_NORMAL);
	del(h, AT(NB, 0, 1100, "bob"), id_of(h, p));
	check_msg(h, p, true, "v0", false, false);
	/* By an admin user it counts. */
	del(h, AT(NB, 0, 1200, "boss"), id_of(h, p));
	check_msg(h, p, true, "", false, true);
	hist_free(h);

	/* A delete by a deactivated author is ignored. */
	base(h);
	p = post(h, AT(NB, 0, 1000, "alice"), "v0", KZ_PRIO_NORMAL);
	user_active(h, AT(ROOT, 0, 1050, NULL), "alice", false);
	del(h, AT(NB, 0, 1100, "alice"), id_of(h, p));
	check_msg(h, p, true, "v0", false, false);
	hist_free(h);
}

static void
test_message_purge(void **state)
{
	struct kz_ws_message m;
	struct hist *h = &g_hist;
	size_t p;
	uint8_t id[32];

	(void)state;
	base(h);
	p = post(h, AT(NB, 0, 1000, "alice"), "secret", KZ_PRIO_NORMAL);
	memcpy(id, id_of(h, p), 32);
	/* By a plain node (no actor, or an admin user's): ignored. */
	purge(h, AT(NB, 0, 1100, NULL), id);
	purge(h, AT(NB, 0, 1101, "boss"), id);
	assert_false(kz_ws_purged(ctl(h), id, h->facts, h->n));
	check_msg(h, p, true, "secret", false, false);
	/* By an admin node: purged. */
	purge(h, AT(ROOT, 0, 1200, NULL), id);
	assert_true(kz_ws_purged(ctl(h), id, h->facts, h->n));
	assert_false(kz_ws_message_merge(ctl(h), id, h->facts, h->n, &m));
	assert_true(m.purged);
	assert_true(m.deleted);
	/* Even with the post absent (purged before it arrived). */
	h->facts[p] = h->facts[h->n - 1];
	assert_true(kz_ws_purged(ctl(h), id, h->facts, h->n - 1));
	assert_false(kz_ws_message_merge(ctl(h), id, h->facts, h->n - 1, &m));
	assert_true(m.purged);
	hist_free(h);

	/* A purge from a revoked node past its last seq is ignored. */
	base(h);
	admit(h, AT(ROOT, 0, 20, NULL), ND, "station", true);
	p = post(h, AT(NB, 0, 1000, "alice"), "secret", KZ_PRIO_NORMAL);
	memcpy(id, id_of(h, p), 32);
	purge(h, AT(ND, 5, 1100, NULL), id);
	assert_true(kz_ws_purged(ctl(h), id, h->facts, h->n));
	revoke(h, AT(ROOT, 0, 1200, NULL), ND, 4);
	assert_false(kz_ws_purged(ctl(h), id, h->facts, h->n));
	assert_true(msg(h, p, &m));
	hist_free(h);
}

/* ------------------------------------------------------------ channels */

static void
test_channels(void **state)
{
	struct kz_ws_channel c;
	struct hist *h = &g_hist;
	size_t cc;
	uint8_t id[32], other[32];
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		base(h);
		cc = chan_create(h, AT(NB, 0, 1000, "alice"), "general", "hello");
		memcpy(id, id_of(h, cc), 32);
		assert_true(kz_ws_channel_merge(ctl(h), id, h->facts, h->n, &c));
		assert_string_equal(c.name, "general");
		assert_string_equal(c.topic, "hello");
		assert_false(c.archived);
		assert_true(c.created_hlc == 1000);
		assert_string_equal(c.creator, "alice");

		/* Renames: the latest in total order wins, whatever the array
		 * order; the topic and the archive flag are separate fields. */
		chan_set(h, AT(NB, 0, 1300, "bob"), id, KZ_CHANNEL_SET_NAME,
		    "ops-3", NULL, false);
		chan_set(h, AT(NB, 0, 1100, "alice"), id, KZ_CHANNEL_SET_NAME |
		    KZ_CHANNEL_SET_TOPIC, "ops-1", "water", false);
		chan_set(h, AT(NB, 0, 1200, "alice"), id, KZ_CHANNEL_SET_NAME,
		    "ops-2", "ignored: not in the mask", true);
		chan_set(h, AT(NB, 0, 1400, "boss"), id, KZ_CHANNEL_SET_ARCHIVED,
		    NULL, NULL, true);
		/* A set for another channel. */
		memset(other, 0x99, 32);
		chan_set(h, AT(NB, 0, 1500, "boss"), other, KZ_CHANNEL_SET_NAME,
		    "other", NULL, false);
		if (round == 1)
			reverse(h);
		assert_true(kz_ws_channel_merge(ctl(h), id, h->facts, h->n, &c));
		assert_string_equal(c.name, "ops-3");
		assert_string_equal(c.topic, "water");
		assert_true(c.archived);
		assert_true(c.created_hlc == 1000);
		/* The id of another channel has no create. */
		assert_false(kz_ws_channel_merge(ctl(h), other, h->facts, h->n, &c));
		hist_free(h);
	}

	/* Unarchived again later. */
	base(h);
	cc = chan_create(h, AT(NB, 0, 1000, "alice"), "general", "");
	memcpy(id, id_of(h, cc), 32);
	chan_set(h, AT(NB, 0, 1100, "alice"), id, KZ_CHANNEL_SET_ARCHIVED, NULL,
	    NULL, true);
	chan_set(h, AT(NB, 0, 1200, "alice"), id, KZ_CHANNEL_SET_ARCHIVED, NULL,
	    NULL, false);
	assert_true(kz_ws_channel_merge(ctl(h), id, h->facts, h->n, &c));
	assert_false(c.archived);
	assert_string_equal(c.topic, "");
	hist_free(h);

	/* A channel_set ordered before the create is ignored. */
	base(h);
	cc = chan_create(h, AT(NB, 0, 1000, "alice"), "general", "t");
	memcpy(id, id_of(h, cc), 32);
	chan_set(h, AT(NB, 0, 900, "alice"), id, KZ_CHANNEL_SET_ALL, "early",
	    "early topic", true);
	assert_true(kz_ws_channel_merge(ctl(h), id, h->facts, h->n, &c));
	assert_string_equal(c.name, "general");
	assert_string_equal(c.topic, "t");
	assert_false(c.archived);
	/* Same hlc as the create, smaller author key: still before it. */
	chan_set(h, AT(NA, 0, 1000, NULL), id, KZ_CHANNEL_SET_NAME, "tie",
	    NULL, false);
	admit(h, AT(ROOT, 0, 20, NULL), NA, "annex", true);
	assert_true(kz_ws_channel_merge(ctl(h), id, h->facts, h->n, &c));
	assert_string_equal(c.name, "general");
	/* A set by someone who may not write is ignored. */
	chan_set(h, AT(NB, 0, 2000, "ghost"), id, KZ_CHANNEL_SET_NAME, "ghost",
	    NULL, false);
	assert_true(kz_ws_channel_merge(ctl(h), id, h->facts, h->n, &c));
	assert_string_equal(c.name, "general");
	hist_free(h);

	/* A create by a user that does not exist: no channel. */
	base(h);
	cc = chan_create(h, AT(NB, 0, 1000, "ghost"), "general", "t");
	memcpy(id, id_of(h, cc), 32);
	assert_false(kz_ws_channel_merge(ctl(h), id, h->facts, h->n, &c));
	hist_free(h);
}

/* ----------------------------------------------------------- reactions */

static int
reactions(struct hist *h, size_t p, struct kz_ws_reaction *out, size_t cap)
{
	uint8_t id[32];

	memcpy(id, id_of(h, p), 32);
	return kz_ws_reactions_merge(ctl(h), id, h->facts, h->n, out, cap);
}

static void
test_reactions(void **state)
{
	struct kz_ws_reaction r[8];
	struct hist *h = &g_hist;
	size_t p;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		/* On then off: none. */
		base(h);
		p = post(h, AT(NB, 0, 1000, "alice"), "x", KZ_PRIO_NORMAL);
		react(h, AT(NB, 0, 1200, "bob"), id_of(h, p), THUMBS, false);
		react(h, AT(NB, 0, 1100, "bob"), id_of(h, p), THUMBS, true);
		if (round == 1)
			reverse(h);
		assert_int_equal(reactions(h, p, r, 8), 0);
		hist_free(h);

		/* Off then on: one. */
		base(h);
		p = post(h, AT(NB, 0, 1000, "alice"), "x", KZ_PRIO_NORMAL);
		react(h, AT(NB, 0, 1200, "bob"), id_of(h, p), THUMBS, true);
		react(h, AT(NB, 0, 1100, "bob"), id_of(h, p), THUMBS, false);
		react(h, AT(NB, 0, 1150, "bob"), id_of(h, p), THUMBS, true);
		if (round == 1)
			reverse(h);
		assert_int_equal(reactions(h, p, r, 8), 1);
		assert_string_equal(r[0].user, "bob");
		assert_string_equal(r[0].emoji, THUMBS);
		hist_free(h);

		/* Two users, two emoji: sorted by user, then emoji bytes. */
		base(h);
		p = post(h, AT(NB, 0, 1000, "alice"), "x", KZ_PRIO_NORMAL);
		react(h, AT(NB, 0, 1100, "bob"), id_of(h, p), THUMBS, true);
		react(h, AT(NB, 0, 1101, "alice"), id_of(h, p), THUMBS, true);
		react(h, AT(NB, 0, 1102, "alice"), id_of(h, p), HEART, true);
		react(h, AT(NB, 0, 1103, "bob"), id_of(h, p), THUMBS, true);
		/* On another message: not counted here. */
		react(h, AT(NB, 0, 1104, "carol"), CHAN, THUMBS, true);
		if (round == 1)
			reverse(h);
		assert_int_equal(reactions(h, p, r, 8), 3);
		assert_string_equal(r[0].user, "alice");
		assert_string_equal(r[0].emoji, HEART);
		assert_string_equal(r[1].user, "alice");
		assert_string_equal(r[1].emoji, THUMBS);
		assert_string_equal(r[2].user, "bob");
		assert_string_equal(r[2].emoji, THUMBS);
		/* cap bounds what is filled. */
		memset(r, 0, sizeof(r));
		assert_int_equal(reactions(h, p, r, 2), 2);
		assert_string_equal(r[1].emoji, THUMBS);
		assert_null(r[2].user);
		hist_free(h);
	}

	/* Reactions by an inactive, unknown or absent user are ignored. */
	base(h);
	p = post(h, AT(NB, 0, 1000, "alice"), "x", KZ_PRIO_NORMAL);
	user_active(h, AT(ROOT, 0, 1050, NULL), "carol", false);
	react(h, AT(NB, 0, 1100, "carol"), id_of(h, p), THUMBS, true);
	react(h, AT(NB, 0, 1100, "ghost"), id_of(h, p), THUMBS, true);
	react(h, AT(ROOT, 0, 1100, NULL), id_of(h, p), THUMBS, true);
	react(h, AT(NB, 0, 1100, "bob"), id_of(h, p), HEART, true);
	assert_int_equal(reactions(h, p, r, 8), 1);
	assert_string_equal(r[0].user, "bob");
	/* carol's "off" while inactive does not cancel her earlier "on". */
	react(h, AT(NB, 0, 1040, "carol"), id_of(h, p), HEART, true);
	react(h, AT(NB, 0, 1060, "carol"), id_of(h, p), HEART, false);
	assert_int_equal(reactions(h, p, r, 8), 2);
	assert_string_equal(r[1].user, "carol");
	assert_string_equal(r[1].emoji, HEART);
	hist_free(h);
}

/* ---------------------------------------------------------------- acks */

static int
acks(struct hist *h, size_t p, const char **out, size_t cap)
{
	struct kz_ws_message m;

	assert_true(msg(h, p, &m));
	return kz_ws_acks_merge(ctl(h), &m, h->facts, h->n, out, cap);
}

static void
test_acks(void **state)
{
	const char *a[8];
	struct hist *h = &g_hist;
	size_t pn, pu, pe;

	(void)state;
	base(h);
	pn = post(h, AT(NB, 0, 1000, "boss"), "lunch", KZ_PRIO_NORMAL);
	pu = post(h, AT(NB, 0, 1001, "boss"), "evacuate", KZ_PRIO_URGENT);
	pe = post(h, AT(NB, 0, 1002, "boss"), "tsunami", KZ_PRIO_EMERGENCY);
	ack(h, AT(NB, 0, 1100, "bob"), id_of(h, pn));
	ack(h, AT(NB, 0, 1101, "bob"), id_of(h, pu));
	ack(h, AT(NB, 0, 1102, "alice"), id_of(h, pu));
	ack(h, AT(ROOT, 0, 1103, "bob"), id_of(h, pu));	/* duplicate */
	ack(h, AT(NB, 0, 1104, "carol"), id_of(h, pe));
	ack(h, AT(NB, 0, 1105, "ghost"), id_of(h, pu));	/* no such user */
	ack(h, AT(ROOT, 0, 1106, NULL), id_of(h, pu));	/* no user */

	/* Normal posts have no acknowledgements. */
	assert_int_equal(acks(h, pn, a, 8), 0);
	memset(a, 0, sizeof(a));
	assert_int_equal(acks(h, pu, a, 8), 2);
	assert_string_equal(a[0], "alice");
	assert_string_equal(a[1], "bob");
	assert_int_equal(acks(h, pe, a, 8), 1);
	assert_string_equal(a[0], "carol");

	/* Inactive users' acks do not count; more users, still sorted. */
	user_active(h, AT(ROOT, 0, 1200, NULL), "carol", false);
	ack(h, AT(NB, 0, 1300, "carol"), id_of(h, pu));
	ack(h, AT(NB, 0, 1301, "boss"), id_of(h, pu));
	reverse(h);
	memset(a, 0, sizeof(a));
	assert_int_equal(acks(h, pu, a, 8), 3);
	assert_string_equal(a[0], "alice");
	assert_string_equal(a[1], "bob");
	assert_string_equal(a[2], "boss");
	/* carol's earlier ack (while active) stands. */
	assert_int_equal(acks(h, pe, a, 8), 1);
	assert_string_equal(a[0], "carol");
	hist_free(h);
}

/*
 * Duplicates must not use up the caller's room: two distinct users fit in
 * cap = 2 whatever the array order.
 */
static void
test_acks_cap_with_duplicates(void **state)
{
	const char *a[2];
	struct hist *h = &g_hist;
	size_t pu;

	(void)state;
	base(h);
	pu = post(h, AT(NB, 0, 1000, "boss"), "evacuate", KZ_PRIO_URGENT);
	ack(h, AT(NB, 0, 1100, "bob"), id_of(h, pu));
	ack(h, AT(ROOT, 0, 1101, "bob"), id_of(h, pu));
	ack(h, AT(NB, 0, 1102, "alice"), id_of(h, pu));
	memset(a, 0, sizeof(a));
	assert_int_equal(acks(h, pu, a, 2), 2);
	assert_string_equal(a[0], "alice");
	assert_string_equal(a[1], "bob");
	hist_free(h);
}

/* -------------------------------------------------------------- safety */

static void
test_safety(void **state)
{
	struct kz_ws_safety s;
	struct hist *h = &g_hist;
	size_t self, late;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		base(h);
		/* alice reports herself (no subject: the actor), then boss
		 * reports her later; bob reports himself earliest. */
		self = safety(h, AT(NB, 0, 1100, "alice"), NULL, KZ_SAFETY_SAFE,
		    "gym", "");
		assert_string_equal(kz_ws_safety_subject(fact_of(h, self)->op), "alice");
		safety(h, AT(NB, 0, 1200, "boss"), "alice",
		    KZ_SAFETY_INJURED, "clinic", "leg");
		safety(h, AT(NB, 0, 1000, "bob"), "", KZ_SAFETY_NEEDS_HELP,
		    "roof", "stuck");
		if (round == 1)
			reverse(h);
		assert_true(kz_ws_safety_merge(ctl(h), "alice", h->facts, h->n, &s));
		assert_int_equal(s.status, KZ_SAFETY_INJURED);
		assert_string_equal(s.place, "clinic");
		assert_string_equal(s.note, "leg");
		assert_string_equal(s.reporter, "boss");
		assert_non_null(s.fact);
		assert_true(s.fact->hlc == 1200);
		assert_true(kz_ws_safety_merge(ctl(h), "bob", h->facts, h->n, &s));
		assert_int_equal(s.status, KZ_SAFETY_NEEDS_HELP);
		assert_string_equal(s.place, "roof");
		assert_string_equal(s.reporter, "bob");
		/* Nobody reported carol. */
		assert_false(kz_ws_safety_merge(ctl(h), "carol", h->facts, h->n, &s));
		hist_free(h);
	}

	/* alice's later self-report wins again. */
	base(h);
	safety(h, AT(NB, 0, 1200, "boss"), "alice", KZ_SAFETY_INJURED, "clinic",
	    "leg");
	late = safety(h, AT(NB, 0, 1300, "alice"), NULL, KZ_SAFETY_SAFE, "home",
	    "ok now");
	assert_true(kz_ws_safety_merge(ctl(h), "alice", h->facts, h->n, &s));
	assert_ptr_equal(s.fact, fact_of(h, late));
	assert_int_equal(s.status, KZ_SAFETY_SAFE);
	assert_string_equal(s.reporter, "alice");
	/* Reports about unknown users are ignored. */
	safety(h, AT(NB, 0, 1400, "boss"), "ghost", KZ_SAFETY_SAFE, "", "");
	assert_false(kz_ws_safety_merge(ctl(h), "ghost", h->facts, h->n, &s));
	/* A self-report by an unknown actor neither. */
	safety(h, AT(NB, 0, 1400, "phantom"), NULL, KZ_SAFETY_SAFE, "", "");
	assert_false(kz_ws_safety_merge(ctl(h), "phantom", h->facts, h->n, &s));
	/* A later report by an inactive user is ignored. */
	user_active(h, AT(ROOT, 0, 1500, NULL), "bob", false);
	safety(h, AT(NB, 0, 1600, "bob"), "alice", KZ_SAFETY_UNKNOWN, "", "");
	assert_true(kz_ws_safety_merge(ctl(h), "alice", h->facts, h->n, &s));
	assert_int_equal(s.status, KZ_SAFETY_SAFE);
	/* A report with no actor (a node's) is ignored. */
	safety(h, AT(ROOT, 0, 1700, NULL), "alice", KZ_SAFETY_UNKNOWN, "", "");
	assert_true(kz_ws_safety_merge(ctl(h), "alice", h->facts, h->n, &s));
	assert_int_equal(s.status, KZ_SAFETY_SAFE);
	hist_free(h);
}

/* ----------------------------------------------------- order independence */

static void
app(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	assert_true(len < cap);
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
	assert_true(strlen(buf) < cap - 1);
}

/* Everything the rules compute from facts[0..n), as text. */
static void
summarize(char *buf, size_t cap, const struct kz_ws_fact *facts, size_t n,
    const uint8_t (*ids)[32], size_t n_ids, const char *const *users,
    size_t n_users)
{
	struct kz_ws_control c;
	struct kz_ws_channel ch;
	struct kz_ws_message m;
	struct kz_ws_reaction r[16];
	struct kz_ws_safety s;
	const char *a[16];
	char hex[65];
	size_t i, j;
	int k;

	buf[0] = '\0';
	assert_int_equal(kz_ws_control_build(&c, ROOT, facts, n), 0);
	app(buf, cap, "mesh %d %s\n", c.has_mesh, c.mesh_name);
	for (i = 0; i < c.n_nodes; i++)
		app(buf, cap, "node %02x %s %d %llu\n", c.nodes[i].key[0],
		    c.nodes[i].name, c.nodes[i].admin,
		    (unsigned long long)c.nodes[i].last_seq);
	for (i = 0; i < c.n_users; i++) {
		const struct kz_ws_user *u = &c.users[i];

		app(buf, cap, "user %s %s %s %d %d %zu\n", u->id, u->display_name,
		    u->department, u->role, u->active, u->n_epochs);
		for (j = 0; j < u->n_epochs; j++)
			app(buf, cap, " epoch %llu %d %d\n",
			    (unsigned long long)u->epochs[j].hlc,
			    u->epochs[j].active, u->epochs[j].role);
	}
	for (i = 0; i < n_ids; i++) {
		kz_hex(hex, ids[i], 32);
		if (kz_ws_channel_merge(&c, ids[i], facts, n, &ch))
			app(buf, cap, "chan %.8s %s %s %d %s\n", hex, ch.name, ch.topic,
			    ch.archived, ch.creator);
		app(buf, cap, "msg %.8s %d", hex,
		    kz_ws_message_merge(&c, ids[i], facts, n, &m));
		app(buf, cap, " %s %d %d %d %llu\n", m.text ? m.text : "-",
		    m.edited, m.deleted, m.purged,
		    (unsigned long long)m.edited_hlc);
		if (m.post == NULL)
			continue;
		assert_memory_equal(m.post->hash, ids[i], 32);
		k = kz_ws_reactions_merge(&c, ids[i], facts, n, r, 16);
		assert_true(k >= 0);
		for (j = 0; j < (size_t)k; j++)
			app(buf, cap, " react %s %s\n", r[j].user, r[j].emoji);
		k = kz_ws_acks_merge(&c, &m, facts, n, a, 16);
		assert_true(k >= 0);
		for (j = 0; j < (size_t)k; j++)
			app(buf, cap, " ack %s\n", a[j]);
	}
	for (i = 0; i < n_users; i++) {
		if (kz_ws_safety_merge(&c, users[i], facts, n, &s))
			app(buf, cap, "safety %s %s %s %s %s %llu\n", users[i],
			    kz_safety_name(s.status), s.place, s.note, s.reporter,
			    (unsigned long long)s.fact->hlc);
	}
	kz_ws_control_free(&c);
}

static void
test_order_independence(void **state)
{
	static const char *const users[] = { "alice", "bob", "boss", "carol",
	    "dora", "ghost" };
	static char ref[16384], got[16384];
	static struct kz_ws_fact shuffled[MAX_FACTS];
	uint8_t ids[5][32];
	struct kz_ws_fact *facts;
	struct hist *h = &g_hist;
	size_t p1, p2, p3, cc, i, j;
	uint64_t rng = 0x6b697a756e61ull;
	int round;

	(void)state;
	base(h);
	admit(h, AT(ROOT, 0, 20, NULL), ND, "station", true);
	admit(h, AT(ND, 1, 30, NULL), NE, "shelter", false);
	admit(h, AT(ND, 3, 31, NULL), NC, "school", false);	/* voided */
	revoke(h, AT(ROOT, 0, 900, NULL), ND, 2);
	user_new(h, AT(ND, 2, 40, NULL), "dora", "Dora", KZ_ROLE_ADMIN);
	user_new(h, AT(ND, 4, 41, NULL), "eve", "Eve", KZ_ROLE_ADMIN); /* voided */
	user_active(h, AT(ROOT, 0, 1500, NULL), "carol", false);
	user_set(h, AT(NB, 0, 1600, "alice"), (struct kz_user_set){
	    .user = "alice", .set = KZ_USER_SET_DEPARTMENT,
	    .department = "Fire" });
	cc = chan_create(h, AT(NB, 0, 1000, "alice"), "general", "t0");
	memcpy(ids[0], id_of(h, cc), 32);
	chan_set(h, AT(NE, 0, 1100, "bob"), ids[0], KZ_CHANNEL_SET_NAME, "ops",
	    NULL, false);
	chan_set(h, AT(NB, 0, 1100, "carol"), ids[0], KZ_CHANNEL_SET_TOPIC, NULL,
	    "water", false);
	chan_set(h, AT(NB, 0, 950, "boss"), ids[0], KZ_CHANNEL_SET_ARCHIVED,
	    NULL, NULL, true);
	p1 = post(h, AT(NB, 0, 1200, "alice"), "v0", KZ_PRIO_URGENT);
	memcpy(ids[1], id_of(h, p1), 32);
	edit(h, AT(NB, 0, 1300, "alice"), ids[1], "v1");
	edit(h, AT(NE, 0, 1300, "alice"), ids[1], "v1-ne");
	edit(h, AT(NB, 0, 1400, "bob"), ids[1], "bob");
	edit(h, AT(ROOT, 0, 1250, "boss"), ids[1], "boss");
	react(h, AT(NB, 0, 1310, "bob"), ids[1], THUMBS, true);
	react(h, AT(NE, 0, 1320, "bob"), ids[1], THUMBS, false);
	react(h, AT(NB, 0, 1330, "carol"), ids[1], HEART, true);
	react(h, AT(NB, 0, 1600, "carol"), ids[1], THUMBS, true);	/* inactive */
	react(h, AT(ROOT, 0, 1340, "alice"), ids[1], HEART, true);
	ack(h, AT(NB, 0, 1350, "bob"), ids[1]);
	ack(h, AT(NE, 0, 1351, "bob"), ids[1]);
	ack(h, AT(NB, 0, 1352, "dora"), ids[1]);
	ack(h, AT(NB, 0, 1353, "alice"), ids[1]);
	p2 = post(h, AT(NE, 0, 1210, "bob"), "gone", KZ_PRIO_EMERGENCY);
	memcpy(ids[2], id_of(h, p2), 32);
	edit(h, AT(NE, 0, 1700, "bob"), ids[2], "late edit");
	del(h, AT(NB, 0, 1220, "boss"), ids[2]);
	ack(h, AT(NB, 0, 1230, "alice"), ids[2]);
	p3 = post(h, AT(NB, 0, 1240, "carol"), "purged", KZ_PRIO_NORMAL);
	memcpy(ids[3], id_of(h, p3), 32);
	purge(h, AT(ROOT, 0, 1800, NULL), ids[3]);
	memset(ids[4], 0x5a, 32);
	purge(h, AT(ROOT, 0, 1801, NULL), ids[4]);
	safety(h, AT(NB, 0, 1100, "alice"), NULL, KZ_SAFETY_SAFE, "gym", "");
	safety(h, AT(NE, 0, 1100, "boss"), "alice", KZ_SAFETY_INJURED, "clinic",
	    "");
	safety(h, AT(NB, 0, 1000, "bob"), "bob", KZ_SAFETY_NEEDS_HELP, "roof",
	    "");
	safety(h, AT(NB, 0, 1700, "carol"), "bob", KZ_SAFETY_SAFE, "", "");
	safety(h, AT(NB, 0, 1700, "boss"), "ghost", KZ_SAFETY_SAFE, "", "");
	/* NE is admitted by ND at its seq 1, before ND's revocation at 2. */
	assert_non_null(node(h, NE));
	assert_null(node(h, NC));

	summarize(ref, sizeof(ref), h->facts, h->n, (const uint8_t (*)[32])ids, 5,
	    users, 6);
	/* Spot checks, so that a wrong but stable answer also fails. */
	assert_non_null(strstr(ref, "chan "));
	assert_non_null(strstr(ref, " ops water 0 alice\n"));
	assert_non_null(strstr(ref, " 1 v1-ne 1 0 0 1300\n"));
	assert_non_null(strstr(ref, " react alice " HEART "\n react carol "
	    HEART "\n ack alice\n ack bob\n ack dora\n"));
	assert_non_null(strstr(ref, " 1  1 1 0 1700\n"));	/* deleted */
	assert_non_null(strstr(ref, " 0 - 0 1 1 0\n"));		/* purged */
	assert_non_null(strstr(ref, "safety alice injured clinic  boss 1100\n"));
	assert_non_null(strstr(ref, "safety bob needs-help roof  bob 1000\n"));
	assert_null(strstr(ref, "ghost"));
	assert_null(strstr(ref, "user eve"));
	assert_non_null(strstr(ref, "user dora Dora  1 1 1\n"));
	assert_non_null(strstr(ref, "user alice Alice Fire 0 1 2\n"));

	facts = shuffled;
	for (round = 0; round < 200; round++) {
		memcpy(facts, h->facts, h->n * sizeof(*facts));
		for (i = h->n - 1; i > 0; i--) {
			struct kz_ws_fact t;

			j = (size_t)(kz_test_rand(&rng) % (i + 1));
			t = facts[i];
			facts[i] = facts[j];
			facts[j] = t;
		}
		summarize(got, sizeof(got), facts, h->n, (const uint8_t (*)[32])ids,
		    5, users, 6);
		if (strcmp(got, ref) != 0)
			print_error("round %d differs:\n--- ref\n%s--- got\n%s", round,
			    ref, got);
		assert_string_equal(got, ref);
	}
	hist_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_control_root_and_mesh, teardown),
		cmocka_unit_test_teardown(test_control_admit, teardown),
		cmocka_unit_test_teardown(test_control_revoke, teardown),
		cmocka_unit_test_teardown(test_users_create, teardown),
		cmocka_unit_test_teardown(test_users_member_on_admin_node, teardown),
		cmocka_unit_test_teardown(test_users_self_change, teardown),
		cmocka_unit_test_teardown(test_users_deactivate, teardown),
		cmocka_unit_test_teardown(test_message_edit, teardown),
		cmocka_unit_test_teardown(test_message_last_edit_wins, teardown),
		cmocka_unit_test_teardown(test_message_delete, teardown),
		cmocka_unit_test_teardown(test_message_purge, teardown),
		cmocka_unit_test_teardown(test_channels, teardown),
		cmocka_unit_test_teardown(test_reactions, teardown),
		cmocka_unit_test_teardown(test_acks, teardown),
		cmocka_unit_test_teardown(test_acks_cap_with_duplicates, teardown),
		cmocka_unit_test_teardown(test_safety, teardown),
		cmocka_unit_test_teardown(test_order_independence, teardown),
	};

	memset(NA, 0x05, 32);
	memset(ROOT, 0x10, 32);
	memset(NB, 0x20, 32);
	memset(NC, 0x30, 32);
	memset(ND, 0x40, 32);
	memset(NE, 0x50, 32);
	memset(CHAN, 0x77, 32);
	memset(MESH, 0x88, 32);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
