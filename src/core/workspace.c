/*
 * Workspace merge rules (see kizuna/workspace.h for the rules themselves).
 *
 * Control state is a fold of the control facts in total order.  Revocations
 * act on every entry of the revoked node past the named seq, including
 * control entries that come earlier in the order, so the fold is repeated
 * with the revocations the previous pass found until they stop changing
 * (bounded; each pass is a pure function of the set, so every node takes
 * the same passes).  Content rules then read the final control state.
 */
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/workspace.h"

#define MAX_PASSES 8

static int
key_cmp(uint64_t ah, const uint8_t *aa, uint64_t as, uint64_t bh,
    const uint8_t *ba, uint64_t bs)
{
	int c;

	if (ah != bh)
		return ah < bh ? -1 : 1;
	if ((c = memcmp(aa, ba, 32)) != 0)
		return c < 0 ? -1 : 1;
	if (as != bs)
		return as < bs ? -1 : 1;
	return 0;
}

int
kz_ws_fact_cmp(const struct kz_ws_fact *a, const struct kz_ws_fact *b)
{
	return key_cmp(a->hlc, a->author, a->seq, b->hlc, b->author, b->seq);
}

static int
fact_ptr_cmp(const void *a, const void *b)
{
	return kz_ws_fact_cmp(*(const struct kz_ws_fact *const *)a,
	    *(const struct kz_ws_fact *const *)b);
}

static const char *
actor_of(const struct kz_ws_fact *f)
{
	return f->op->actor != NULL ? f->op->actor : "";
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;	/* cannot happen for validated ops */
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ------------------------------------------------------------ control */

bool
kz_ws_is_control(enum kz_op_type t)
{
	return t == KZ_OP_MESH_CREATE || t == KZ_OP_NODE_ADMIT ||
	    t == KZ_OP_NODE_REVOKE || t == KZ_OP_USER_SET;
}

/* Working state of one node during the fold. */
struct wnode {
	struct kz_ws_node n;
	bool admitted;
	uint64_t revoke;	/* revocation applied in this pass */
	uint64_t found;		/* revocation found by this pass */
};

struct wuser {
	struct kz_ws_user u;
	bool exists;
	size_t cap_epochs;
};

struct fold {
	const uint8_t *root;
	struct wnode *nodes;
	size_t n_nodes;
	struct wuser *users;
	size_t n_users;
	bool has_mesh;
	uint8_t mesh_id[KZ_ID_BYTES];
	char mesh_name[KZ_NAME_MAX + 1];
};

static int
wnode_cmp(const void *a, const void *b)
{
	return memcmp(((const struct wnode *)a)->n.key,
	    ((const struct wnode *)b)->n.key, 32);
}

static int
wuser_cmp(const void *a, const void *b)
{
	return strcmp(((const struct wuser *)a)->u.id, ((const struct wuser *)b)->u.id);
}

static struct wnode *
fold_node(struct fold *fd, const uint8_t key[32])
{
	struct wnode k;

	memcpy(k.n.key, key, 32);
	return bsearch(&k, fd->nodes, fd->n_nodes, sizeof(k), wnode_cmp);
}

static struct wuser *
fold_user(struct fold *fd, const char *id)
{
	struct wuser k;

	if (id == NULL || strlen(id) > KZ_USER_ID_MAX)
		return NULL;
	copy_str(k.u.id, sizeof(k.u.id), id);
	return bsearch(&k, fd->users, fd->n_users, sizeof(k), wuser_cmp);
}

/* Node administration: an admin node, acting itself or for an admin user. */
static bool fold_user_admin(struct fold *fd, const char *id);

static bool
fold_node_admin_act(struct fold *fd, const struct kz_ws_fact *f);

/* Whether a fact's node may act at this point of the fold. */
static bool
fold_node_ok(struct fold *fd, const struct kz_ws_fact *f, bool need_admin)
{
	struct wnode *w = fold_node(fd, f->author);

	if (w == NULL || !w->admitted || f->seq > w->revoke)
		return false;
	return !need_admin || w->n.admin;
}

static bool
fold_user_admin(struct fold *fd, const char *id)
{
	struct wuser *w;

	if (id == NULL || *id == '\0')
		return false;
	w = fold_user(fd, id);
	return w != NULL && w->exists && w->u.active && w->u.role == KZ_ROLE_ADMIN;
}

static bool
fold_node_admin_act(struct fold *fd, const struct kz_ws_fact *f)
{
	const char *actor = actor_of(f);

	return fold_node_ok(fd, f, true) &&
	    (*actor == '\0' || fold_user_admin(fd, actor));
}

static int
push_epoch(struct wuser *w, const struct kz_ws_fact *f)
{
	struct kz_ws_user_epoch *e;

	if (w->u.n_epochs == w->cap_epochs) {
		size_t cap = w->cap_epochs ? w->cap_epochs * 2 : 4;
		void *p = realloc(w->u.epochs, cap * sizeof(*w->u.epochs));

		if (p == NULL)
			return KZ_ERR_NOMEM;
		w->u.epochs = p;
		w->cap_epochs = cap;
	}
	e = &w->u.epochs[w->u.n_epochs++];
	e->hlc = f->hlc;
	memcpy(e->author, f->author, 32);
	e->seq = f->seq;
	e->active = w->u.active;
	e->role = w->u.role;
	return 0;
}

static int
apply_user_set(struct fold *fd, const struct kz_ws_fact *f)
{
	const struct kz_user_set *s = &f->op->u.user_set;
	const char *actor = actor_of(f);
	struct wuser *w = fold_user(fd, s->user);
	bool admin_ok, self_ok;

	if (w == NULL || !fold_node_ok(fd, f, false))
		return 0;
	/* An admin node acts for itself only with no actor: a member user
	 * writing through it (its web UI, say) has a member's rights. */
	admin_ok = (*actor == '\0' && fold_node_ok(fd, f, true)) ||
	    fold_user_admin(fd, actor);
	self_ok = w->exists && w->u.active && strcmp(actor, s->user) == 0 &&
	    (s->set & ~(KZ_USER_SET_DISPLAY_NAME | KZ_USER_SET_DEPARTMENT |
	    KZ_USER_SET_PASSWORD)) == 0;
	if (!admin_ok && !self_ok)
		return 0;
	if (!w->exists) {
		w->exists = true;
		w->u.active = true;
		w->u.role = KZ_ROLE_MEMBER;
	}
	if (s->set & KZ_USER_SET_DISPLAY_NAME)
		copy_str(w->u.display_name, sizeof(w->u.display_name), s->display_name);
	if (s->set & KZ_USER_SET_DEPARTMENT)
		copy_str(w->u.department, sizeof(w->u.department), s->department);
	if (s->set & KZ_USER_SET_ROLE)
		w->u.role = s->role;
	if (s->set & KZ_USER_SET_PASSWORD)
		copy_str(w->u.password_hash, sizeof(w->u.password_hash),
		    s->password_hash);
	if (s->set & KZ_USER_SET_ACTIVE)
		w->u.active = s->active;
	return push_epoch(w, f);
}

/* One pass over the sorted control facts. */
static int
fold_pass(struct fold *fd, const struct kz_ws_fact *const *cf, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < fd->n_nodes; i++) {
		struct wnode *w = &fd->nodes[i];
		bool is_root = memcmp(w->n.key, fd->root, 32) == 0;

		w->admitted = is_root;
		w->n.admin = is_root;
		w->n.name[0] = '\0';
		w->found = UINT64_MAX;
	}
	for (i = 0; i < fd->n_users; i++) {
		struct wuser *w = &fd->users[i];

		w->exists = false;
		w->u.display_name[0] = w->u.department[0] = '\0';
		w->u.password_hash[0] = '\0';
		w->u.role = KZ_ROLE_MEMBER;
		w->u.active = false;
		w->u.n_epochs = 0;
	}
	fd->has_mesh = false;

	for (i = 0; i < n; i++) {
		const struct kz_ws_fact *f = cf[i];
		const struct kz_op *op = f->op;

		switch (op->type) {
		case KZ_OP_MESH_CREATE:
			if (!fd->has_mesh && memcmp(f->author, fd->root, 32) == 0) {
				fd->has_mesh = true;
				memcpy(fd->mesh_id, op->u.mesh_create.mesh_id, KZ_ID_BYTES);
				copy_str(fd->mesh_name, sizeof(fd->mesh_name),
				    op->u.mesh_create.name);
			}
			break;
		case KZ_OP_NODE_ADMIT: {
			struct wnode *w = fold_node(fd, op->u.node_admit.node);

			if (w == NULL || !fold_node_admin_act(fd, f))
				break;
			w->admitted = true;
			w->n.admin = w->n.admin || op->u.node_admit.admin;
			copy_str(w->n.name, sizeof(w->n.name), op->u.node_admit.name);
			break;
		}
		case KZ_OP_NODE_REVOKE: {
			struct wnode *w = fold_node(fd, op->u.node_revoke.node);

			if (w == NULL || !fold_node_admin_act(fd, f) ||
			    memcmp(w->n.key, fd->root, 32) == 0)
				break;
			if (op->u.node_revoke.last_seq < w->found)
				w->found = op->u.node_revoke.last_seq;
			break;
		}
		case KZ_OP_USER_SET:
			if ((rc = apply_user_set(fd, f)) < 0)
				return rc;
			break;
		default:
			break;
		}
	}
	return 0;
}

static void
fold_free(struct fold *fd)
{
	size_t i;

	for (i = 0; i < fd->n_users; i++)
		free(fd->users[i].u.epochs);
	free(fd->users);
	free(fd->nodes);
}

/* Collects the distinct nodes and users the facts name. */
static int
fold_init(struct fold *fd, const uint8_t root[32],
    const struct kz_ws_fact *const *cf, size_t n)
{
	size_t i, j;

	memset(fd, 0, sizeof(*fd));
	fd->root = root;
	fd->nodes = calloc(n + 1, sizeof(*fd->nodes));
	fd->users = calloc(n + 1, sizeof(*fd->users));
	if (fd->nodes == NULL || fd->users == NULL)
		return KZ_ERR_NOMEM;
	memcpy(fd->nodes[fd->n_nodes++].n.key, root, 32);
	for (i = 0; i < n; i++) {
		const struct kz_op *op = cf[i]->op;

		if (op->type == KZ_OP_NODE_ADMIT)
			memcpy(fd->nodes[fd->n_nodes++].n.key, op->u.node_admit.node, 32);
		else if (op->type == KZ_OP_NODE_REVOKE)
			memcpy(fd->nodes[fd->n_nodes++].n.key, op->u.node_revoke.node, 32);
		else if (op->type == KZ_OP_USER_SET)
			copy_str(fd->users[fd->n_users++].u.id, KZ_USER_ID_MAX + 1,
			    op->u.user_set.user);
	}
	qsort(fd->nodes, fd->n_nodes, sizeof(*fd->nodes), wnode_cmp);
	for (i = j = 0; i < fd->n_nodes; i++)
		if (j == 0 || wnode_cmp(&fd->nodes[j - 1], &fd->nodes[i]) != 0)
			fd->nodes[j++] = fd->nodes[i];
	fd->n_nodes = j;
	qsort(fd->users, fd->n_users, sizeof(*fd->users), wuser_cmp);
	for (i = j = 0; i < fd->n_users; i++)
		if (j == 0 || wuser_cmp(&fd->users[j - 1], &fd->users[i]) != 0)
			fd->users[j++] = fd->users[i];
	fd->n_users = j;
	for (i = 0; i < fd->n_nodes; i++)
		fd->nodes[i].revoke = UINT64_MAX;
	return 0;
}

int
kz_ws_control_build(struct kz_ws_control *ctl, const uint8_t root[32],
    const struct kz_ws_fact *facts, size_t n)
{
	const struct kz_ws_fact **cf = NULL;
	struct fold fd;
	size_t i, m = 0;
	int rc, pass;

	memset(ctl, 0, sizeof(*ctl));
	memcpy(ctl->root, root, 32);
	memset(&fd, 0, sizeof(fd));
	cf = malloc((n + 1) * sizeof(*cf));
	if (cf == NULL)
		return KZ_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (facts[i].op != NULL && kz_ws_is_control(facts[i].op->type))
			cf[m++] = &facts[i];
	qsort(cf, m, sizeof(*cf), fact_ptr_cmp);
	if ((rc = fold_init(&fd, root, cf, m)) < 0)
		goto out;

	for (pass = 0; pass < MAX_PASSES; pass++) {
		bool changed = false;

		if ((rc = fold_pass(&fd, cf, m)) < 0)
			goto out;
		for (i = 0; i < fd.n_nodes; i++) {
			if (fd.nodes[i].found != fd.nodes[i].revoke) {
				fd.nodes[i].revoke = fd.nodes[i].found;
				changed = true;
			}
		}
		if (!changed)
			break;
	}

	/* Keep admitted nodes and existing users, sorted. */
	ctl->nodes = calloc(fd.n_nodes + 1, sizeof(*ctl->nodes));
	ctl->users = calloc(fd.n_users + 1, sizeof(*ctl->users));
	if (ctl->nodes == NULL || ctl->users == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < fd.n_nodes; i++) {
		if (!fd.nodes[i].admitted)
			continue;
		ctl->nodes[ctl->n_nodes] = fd.nodes[i].n;
		ctl->nodes[ctl->n_nodes].last_seq = fd.nodes[i].revoke;
		ctl->n_nodes++;
	}
	for (i = 0; i < fd.n_users; i++) {
		if (!fd.users[i].exists)
			continue;
		ctl->users[ctl->n_users++] = fd.users[i].u;
		fd.users[i].u.epochs = NULL;	/* moved */
	}
	ctl->has_mesh = fd.has_mesh;
	memcpy(ctl->mesh_id, fd.mesh_id, KZ_ID_BYTES);
	memcpy(ctl->mesh_name, fd.mesh_name, sizeof(ctl->mesh_name));
	rc = 0;
out:
	fold_free(&fd);
	free(cf);
	if (rc < 0)
		kz_ws_control_free(ctl);
	return rc;
}

void
kz_ws_control_free(struct kz_ws_control *ctl)
{
	size_t i;

	for (i = 0; i < ctl->n_users; i++)
		free(ctl->users[i].epochs);
	free(ctl->users);
	free(ctl->nodes);
	ctl->users = NULL;
	ctl->nodes = NULL;
	ctl->n_users = ctl->n_nodes = 0;
}

static int
node_key_cmp(const void *k, const void *e)
{
	return memcmp(k, ((const struct kz_ws_node *)e)->key, 32);
}

static int
user_id_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct kz_ws_user *)e)->id);
}

const struct kz_ws_node *
kz_ws_node_find(const struct kz_ws_control *ctl, const uint8_t key[32])
{
	return bsearch(key, ctl->nodes, ctl->n_nodes, sizeof(*ctl->nodes),
	    node_key_cmp);
}

const struct kz_ws_user *
kz_ws_user_find(const struct kz_ws_control *ctl, const char *id)
{
	if (id == NULL || *id == '\0')
		return NULL;
	return bsearch(id, ctl->users, ctl->n_users, sizeof(*ctl->users),
	    user_id_cmp);
}

/* The user's epoch in force just before f, or NULL. */
static const struct kz_ws_user_epoch *
epoch_at(const struct kz_ws_user *u, const struct kz_ws_fact *f)
{
	size_t lo = 0, hi = u->n_epochs;

	/* The first epoch not before f; the one before it is in force. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct kz_ws_user_epoch *e = &u->epochs[mid];

		if (key_cmp(e->hlc, e->author, e->seq, f->hlc, f->author, f->seq) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? &u->epochs[lo - 1] : NULL;
}

static bool
node_ok(const struct kz_ws_control *ctl, const struct kz_ws_fact *f,
    bool need_admin)
{
	const struct kz_ws_node *n = kz_ws_node_find(ctl, f->author);

	return n != NULL && f->seq <= n->last_seq && (!need_admin || n->admin);
}

/*
 * Whether f counts: its node may act and its actor is active at f's place
 * in the total order (with need_admin: also an admin user), or, with no
 * actor, its node is an admin node.
 */
static bool
fact_allowed(const struct kz_ws_control *ctl, const struct kz_ws_fact *f,
    bool need_admin)
{
	const char *actor;
	const struct kz_ws_user *u;
	const struct kz_ws_user_epoch *e;

	if (f->op == NULL || !node_ok(ctl, f, false))
		return false;
	actor = actor_of(f);
	if (*actor == '\0')
		return node_ok(ctl, f, true);
	u = kz_ws_user_find(ctl, actor);
	e = u != NULL ? epoch_at(u, f) : NULL;
	return e != NULL && e->active && (!need_admin || e->role == KZ_ROLE_ADMIN);
}

bool
kz_ws_fact_ok(const struct kz_ws_control *ctl, const struct kz_ws_fact *f)
{
	return fact_allowed(ctl, f, false);
}

bool
kz_ws_fact_admin(const struct kz_ws_control *ctl, const struct kz_ws_fact *f)
{
	return fact_allowed(ctl, f, true);
}

/* ------------------------------------------------------------ content */

static bool
is(const struct kz_ws_fact *f, enum kz_op_type t)
{
	return f->op != NULL && f->op->type == t;
}

static bool
targets(const struct kz_ws_fact *f, const uint8_t id[32])
{
	const uint8_t *t = kz_op_target(f->op);

	return t != NULL && memcmp(t, id, 32) == 0;
}

/*
 * The fact that creates id with an op of type t (a post or channel_create):
 * the entry whose hash is id, or an imported op that names id.  Imports
 * of one item on several nodes (or twice) give several: the first in the
 * total order wins, on every node alike.
 */
static const struct kz_ws_fact *
creator_of(const struct kz_ws_control *ctl, const uint8_t id[32],
    enum kz_op_type t, const struct kz_ws_fact *facts, size_t n)
{
	const struct kz_ws_fact *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct kz_ws_fact *f = &facts[i];

		if (!is(f, t) || memcmp(kz_op_created_id(f->op, f->hash), id, 32) != 0 ||
		    !kz_ws_fact_ok(ctl, f))
			continue;
		if (best == NULL || kz_ws_fact_cmp(f, best) < 0)
			best = f;
	}
	return best;
}

uint64_t
kz_ws_import_hlc(uint64_t time_us)
{
	return ((time_us / 1000) << KZ_HLC_COUNTER_BITS) | (time_us % 1000);
}

/* The valid facts of one type naming id, sorted; the caller frees. */
static const struct kz_ws_fact **
select_sorted(const struct kz_ws_control *ctl, const uint8_t *id,
    enum kz_op_type t, const struct kz_ws_fact *facts, size_t n, size_t *m)
{
	const struct kz_ws_fact **v = malloc((n + 1) * sizeof(*v));
	size_t i;

	*m = 0;
	if (v == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct kz_ws_fact *f = &facts[i];

		if (!is(f, t) || (id != NULL && !targets(f, id)) ||
		    !kz_ws_fact_ok(ctl, f))
			continue;
		v[(*m)++] = f;
	}
	qsort(v, *m, sizeof(*v), fact_ptr_cmp);
	return v;
}

bool
kz_ws_channel_merge(const struct kz_ws_control *ctl, const uint8_t id[32],
    const struct kz_ws_fact *facts, size_t n, struct kz_ws_channel *out)
{
	const struct kz_ws_fact *create, **sets;
	size_t i, m;

	memset(out, 0, sizeof(*out));
	create = creator_of(ctl, id, KZ_OP_CHANNEL_CREATE, facts, n);
	if (create == NULL)
		return false;
	copy_str(out->name, sizeof(out->name), create->op->u.channel_create.name);
	copy_str(out->topic, sizeof(out->topic), create->op->u.channel_create.topic);
	copy_str(out->creator, sizeof(out->creator), actor_of(create));
	out->created_hlc = create->hlc;
	if (create->op->u.channel_create.imported != NULL) {
		const struct kz_imported_channel *im =
		    create->op->u.channel_create.imported;

		out->created_hlc = kz_ws_import_hlc(im->time_us);
		out->archived = im->archived;
	}
	sets = select_sorted(ctl, id, KZ_OP_CHANNEL_SET, facts, n, &m);
	/* Last writer wins per field; a set ordered before the create (a
	 * clock gone wrong) loses to it. */
	for (i = 0; sets != NULL && i < m; i++) {
		const struct kz_channel_set *s = &sets[i]->op->u.channel_set;

		if (kz_ws_fact_cmp(sets[i], create) < 0)
			continue;
		if (s->set & KZ_CHANNEL_SET_NAME)
			copy_str(out->name, sizeof(out->name), s->name);
		if (s->set & KZ_CHANNEL_SET_TOPIC)
			copy_str(out->topic, sizeof(out->topic), s->topic);
		if (s->set & KZ_CHANNEL_SET_ARCHIVED)
			out->archived = s->archived;
	}
	free(sets);
	return true;
}

static bool
purge_ok(const struct kz_ws_control *ctl, const struct kz_ws_fact *f,
    const uint8_t id[32])
{
	/* An admin node, acting itself or for an admin user. */
	return is(f, KZ_OP_PURGE) && targets(f, id) && node_ok(ctl, f, true) &&
	    kz_ws_fact_admin(ctl, f);
}

bool
kz_ws_purged(const struct kz_ws_control *ctl, const uint8_t id[32],
    const struct kz_ws_fact *facts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (purge_ok(ctl, &facts[i], id))
			return true;
	return false;
}

/* Whether f (an edit or delete) was written by the post's user or an admin. */
static bool
may_change(const struct kz_ws_control *ctl, const struct kz_ws_fact *post,
    const struct kz_ws_fact *f)
{
	const char *a = actor_of(f), *p = actor_of(post);

	return (*a != '\0' && strcmp(a, p) == 0) || kz_ws_fact_admin(ctl, f);
}

/*
 * A planted bug for the simulator's own test (tests/sim, sim.planted_bug):
 * when set, a message's current edit is the last one the store hands over
 * (arrival order) instead of the greatest in (hlc, author, seq).  Only
 * kizuna-sim --flip-rule sets it; false everywhere else.
 */
bool kz__test_flip_rule = false;

bool
kz_ws_message_merge(const struct kz_ws_control *ctl, const uint8_t id[32],
    const struct kz_ws_fact *facts, size_t n, struct kz_ws_message *out)
{
	const struct kz_ws_fact *post, *last_edit = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	post = creator_of(ctl, id, KZ_OP_POST, facts, n);
	if (kz_ws_purged(ctl, id, facts, n)) {
		out->purged = out->deleted = true;
		return false;
	}
	if (post == NULL)
		return false;
	out->post = post;
	out->text = post->op->u.post.text;
	out->imported = post->op->u.post.imported;
	if (out->imported != NULL)
		out->edited = out->imported->edited;
	for (i = 0; i < n; i++) {
		const struct kz_ws_fact *f = &facts[i];

		if ((!is(f, KZ_OP_EDIT) && !is(f, KZ_OP_DELETE)) || !targets(f, id) ||
		    !kz_ws_fact_ok(ctl, f) || !may_change(ctl, post, f))
			continue;
		if (is(f, KZ_OP_DELETE)) {
			out->deleted = true;
		} else if (last_edit == NULL || kz__test_flip_rule ||
		    kz_ws_fact_cmp(f, last_edit) > 0) {
			last_edit = f;
		}
	}
	if (last_edit != NULL) {
		out->edited = true;
		out->text = last_edit->op->u.edit.text;
		out->edited_hlc = last_edit->hlc;
	}
	if (out->deleted)
		out->text = "";
	return true;
}

static int
reaction_cmp(const void *a, const void *b)
{
	const struct kz_ws_fact *fa = *(const struct kz_ws_fact *const *)a;
	const struct kz_ws_fact *fb = *(const struct kz_ws_fact *const *)b;
	int c = strcmp(actor_of(fa), actor_of(fb));

	if (c == 0)
		c = strcmp(fa->op->u.react.emoji, fb->op->u.react.emoji);
	return c != 0 ? c : kz_ws_fact_cmp(fa, fb);
}

/* A reaction decided so far, on or off, for the merge below. */
struct decided {
	const char *user;
	const char *emoji;
	bool on;
};

static int
decided_cmp(const void *a, const void *b)
{
	const struct decided *x = a, *y = b;
	int c = strcmp(x->user, y->user);

	return c != 0 ? c : strcmp(x->emoji, y->emoji);
}

int
kz_ws_reactions_merge(const struct kz_ws_control *ctl, const uint8_t id[32],
    const struct kz_ws_fact *facts, size_t n, struct kz_ws_reaction *out,
    size_t cap)
{
	const struct kz_imported_post *im = NULL;
	const struct kz_ws_fact **v, *post;
	struct decided *d = NULL;
	size_t i, j, m, nd = 0, n_base, total = 0, k = 0;

	v = select_sorted(ctl, id, KZ_OP_REACT, facts, n, &m);
	if (v == NULL)
		return KZ_ERR_NOMEM;
	/* An imported message's reactions are where every reaction on it
	 * starts: a react op by the same user with the same emoji, anywhere
	 * in the order, decides instead. */
	if ((post = creator_of(ctl, id, KZ_OP_POST, facts, n)) != NULL)
		im = post->op->u.post.imported;
	for (i = 0; im != NULL && i < im->n_reactions; i++)
		total += im->reactions[i].n_users;
	if ((d = malloc((m + total + 1) * sizeof(*d))) == NULL) {
		free(v);
		return KZ_ERR_NOMEM;
	}
	qsort(v, m, sizeof(*v), reaction_cmp);
	for (i = 0; i < m; i++) {
		const struct kz_ws_fact *f = v[i];

		/* The last of each (user, emoji) group decides. */
		if (i + 1 < m && strcmp(actor_of(f), actor_of(v[i + 1])) == 0 &&
		    strcmp(f->op->u.react.emoji, v[i + 1]->op->u.react.emoji) == 0)
			continue;
		if (*actor_of(f) == '\0')
			continue;
		d[nd++] = (struct decided){ actor_of(f), f->op->u.react.emoji,
		    f->op->u.react.on };
	}
	n_base = nd;	/* sorted by user, then emoji */
	for (i = 0; im != NULL && i < im->n_reactions; i++) {
		for (j = 0; j < im->reactions[i].n_users; j++) {
			struct decided x = { im->reactions[i].users[j],
			    im->reactions[i].emoji, true };

			if (bsearch(&x, d, n_base, sizeof(*d), decided_cmp) == NULL)
				d[nd++] = x;
		}
	}
	qsort(d, nd, sizeof(*d), decided_cmp);
	for (i = 0; i < nd; i++) {
		if (!d[i].on || (i > 0 && decided_cmp(&d[i - 1], &d[i]) == 0))
			continue;
		if (k < cap) {
			out[k].user = d[i].user;
			out[k].emoji = d[i].emoji;
		}
		k++;
	}
	free(d);
	free(v);
	return (int)(k < cap ? k : cap);
}

static int
str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
kz_ws_acks_merge(const struct kz_ws_control *ctl,
    const struct kz_ws_message *msg, const struct kz_ws_fact *facts, size_t n,
    const char **out, size_t cap)
{
	const char **all;
	size_t i, k = 0, j;

	if (msg->post == NULL || msg->post->op->u.post.priority == KZ_PRIO_NORMAL)
		return 0;
	/* Every acknowledger first, then the first cap distinct ones in
	 * order: which ones fit must not depend on the facts' order. */
	all = malloc((n + 1) * sizeof(*all));
	if (all == NULL)
		return KZ_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		const struct kz_ws_fact *f = &facts[i];

		if (is(f, KZ_OP_ACK) && targets(f, msg->post->hash) &&
		    *actor_of(f) != '\0' && kz_ws_fact_ok(ctl, f))
			all[k++] = actor_of(f);
	}
	qsort(all, k, sizeof(*all), str_ptr_cmp);
	for (i = j = 0; i < k && j < cap; i++)
		if (j == 0 || strcmp(out[j - 1], all[i]) != 0)
			out[j++] = all[i];
	free(all);
	return (int)j;
}

const char *
kz_ws_safety_subject(const struct kz_op *op)
{
	const char *u = op->u.safety.user;

	if (u != NULL && *u != '\0')
		return u;
	return op->actor != NULL ? op->actor : "";
}

bool
kz_ws_safety_merge(const struct kz_ws_control *ctl, const char *user,
    const struct kz_ws_fact *facts, size_t n, struct kz_ws_safety *out)
{
	const struct kz_ws_fact *best = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (kz_ws_user_find(ctl, user) == NULL)
		return false;
	for (i = 0; i < n; i++) {
		const struct kz_ws_fact *f = &facts[i];

		if (!is(f, KZ_OP_SAFETY) || *actor_of(f) == '\0' ||
		    strcmp(kz_ws_safety_subject(f->op), user) != 0 ||
		    !kz_ws_fact_ok(ctl, f))
			continue;
		if (best == NULL || kz_ws_fact_cmp(f, best) > 0)
			best = f;
	}
	if (best == NULL)
		return false;
	out->fact = best;
	out->status = best->op->u.safety.status;
	out->place = best->op->u.safety.place;
	out->note = best->op->u.safety.note;
	out->reporter = actor_of(best);
	return true;
}

const struct kz_ws_fact *
kz_ws_links_merge(const struct kz_ws_control *ctl, const uint8_t node[32],
    const struct kz_ws_fact *facts, size_t n)
{
	const struct kz_ws_node *nd = kz_ws_node_find(ctl, node);
	const struct kz_ws_fact *best = NULL;
	size_t i;

	if (nd == NULL || nd->last_seq != UINT64_MAX)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct kz_ws_fact *f = &facts[i];

		/* Not kz_ws_fact_ok: a report has no actor, yet any admitted
		 * node (not only an admin node) reports its own links. */
		if (!is(f, KZ_OP_LINK_REPORT) || memcmp(f->author, node, 32) != 0 ||
		    !node_ok(ctl, f, false))
			continue;
		if (best == NULL || kz_ws_fact_cmp(f, best) > 0)
			best = f;
	}
	return best;
}
