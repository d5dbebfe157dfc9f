/*
 * kizuna mesh, user, channel and digest, and the helpers every workspace
 * command shares (declared in cli/cli.h).
 *
 * A workspace command writes one operation to this node's feed with
 * kz_store_append, outside any group, so each entry carries its own
 * signature.  The store materializes the views in the same transaction,
 * under the rules of kizuna/workspace.h; the command then reads the views
 * back to tell whether its entry counts.  An entry that does not (a node
 * that is not admitted, a user without the right) stays stored, because the
 * rules are a function of the whole set of entries and a later one may
 * change the outcome, and the command warns and says why.  The CLI never
 * decides who may do what itself: it only explains what the views show.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <qrencode.h>
#include <sodium.h>

#include "cli/cli.h"
#include "kizuna/err.h"
#include "kizuna/mesh.h"
#include "kizuna/util.h"

#define PASSWORD_MAX 1024
#define NO_MESH "this node has not joined a mesh (run 'kizuna mesh create' " \
	"or 'kizuna mesh join TOKEN')"

/* ------------------------------------------------------------ appending */

int
cli_append_op(struct cli *c, struct kz_op *op, const char *what,
    const char *too_big, const char *inval, struct kz_appended *app)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	op->actor = c->actor;
	if (c->actor != NULL) {
		struct cli_user u;

		rc = cli_user_read(c, c->actor, &u);
		if (rc == KZ_ERR_NOT_FOUND)
			return cli_fail(c, "%s refused: no user '%s' in this workspace "
			    "(--as or KIZUNA_USER names who acts)", what, c->actor);
		if (rc < 0)
			return cli_fail_workspace(c, rc);
	}
	rc = kz_op_encode(&buf, &len, op);
	switch (rc) {
	case 0:
		break;
	case KZ_ERR_TOO_BIG:
		return cli_fail(c, "%s refused: %s", what, too_big);
	case KZ_ERR_BAD_UTF8:
		return cli_fail(c, "%s refused: names and text must be valid UTF-8",
		    what);
	case KZ_ERR_INVAL:
		return cli_fail(c, "%s refused: %s", what, inval);
	default:
		return cli_fail(c, "%s refused: %s", what, kz_strerror(rc));
	}
	/* A running kizunad owns the feed (it pushes new entries to its
	 * peers at once); without one, append here. */
	rc = cli_daemon_append(c, buf, len, app);
	if (rc < 0) {
		free(buf);
		return 1;	/* cli_daemon_append said why */
	}
	if (rc == 1)
		rc = kz_store_append(c->st, &c->kp, cli_now_ms(), buf, len, app);
	free(buf);
	if (rc == KZ_ERR_FORK)
		return cli_fail(c, "%s not stored: this node's own feed is forked; "
		    "it must not write until an operator resolves the fork (see "
		    "'kizuna log')", what);
	if (rc < 0)
		return cli_fail(c, "%s not stored: %s%s", what, kz_strerror(rc),
		    rc == KZ_ERR_FULL ? " (free some space and try again)" : "");
	return 0;
}

struct node_state {
	const uint8_t *key;
	bool found, admin, revoked;
	uint64_t last_seq;
};

static int
on_node_state(void *ctx, const struct kz_view_node *n)
{
	struct node_state *ns = ctx;

	if (memcmp(n->key, ns->key, 32) != 0)
		return 0;
	ns->found = true;
	ns->admin = n->admin;
	ns->revoked = n->revoked;
	ns->last_seq = n->last_seq;
	return 1;
}

static int
node_state(struct cli *c, const uint8_t key[32], struct node_state *ns)
{
	int rc;

	memset(ns, 0, sizeof(*ns));
	ns->key = key;
	rc = kz_views_nodes(c->st, on_node_state, ns);
	return rc < 0 ? rc : 0;
}

const char *
cli_ws_why(struct cli *c, enum cli_need need, const char *fallback)
{
	struct node_state ns;
	struct cli_user u;
	uint8_t root[32];
	const char *a = c->actor;
	int rc;

	if (kz_views_root(c->st, root) == KZ_ERR_NOT_FOUND) {
		snprintf(c->why, sizeof(c->why), "%s", NO_MESH);
		return c->why;
	}
	if (node_state(c, c->kp.pk, &ns) < 0 || !ns.found) {
		snprintf(c->why, sizeof(c->why), "this node is not admitted to the "
		    "mesh (an admin node runs 'kizuna mesh admit' with this node's "
		    "key, and its feed must reach this node)");
		return c->why;
	}
	if (ns.revoked) {
		snprintf(c->why, sizeof(c->why), "this node was revoked: its entries "
		    "after seq %llu do not count", (unsigned long long)ns.last_seq);
		return c->why;
	}
	if (need == CLI_NEED_ADMIN_NODE && !ns.admin) {
		snprintf(c->why, sizeof(c->why), "only an admin node may do this, "
		    "and this node is not one");
		return c->why;
	}
	if (a == NULL || *a == '\0') {
		if (need == CLI_NEED_USER)
			snprintf(c->why, sizeof(c->why), "it needs a user: act as one "
			    "with --as USER");
		else if (!ns.admin)
			snprintf(c->why, sizeof(c->why), "this node is not an admin "
			    "node, so it cannot act without a user: act as one with "
			    "--as USER");
		else if (fallback == NULL)
			return NULL;
		else
			snprintf(c->why, sizeof(c->why), "%s", fallback);
		return c->why;
	}
	rc = cli_user_read(c, a, &u);
	if (rc < 0)
		snprintf(c->why, sizeof(c->why), "no user '%s' in this workspace", a);
	else if (!u.active)
		snprintf(c->why, sizeof(c->why), "user '%s' is deactivated", a);
	else if (need == CLI_NEED_ADMIN && u.role != KZ_ROLE_ADMIN)
		snprintf(c->why, sizeof(c->why), "user '%s' is not an admin", a);
	else if (fallback == NULL)
		return NULL;
	else
		snprintf(c->why, sizeof(c->why), "%s", fallback);
	return c->why;
}

void
cli_report(struct cli *c, const struct kz_appended *app, json_t *obj,
    bool counted, const char *why, const char *fmt, ...)
{
	char hex[2 * KZ_HASH_BYTES + 1];
	va_list ap;

	kz_hex(hex, app->hash, KZ_HASH_BYTES);
	if (c->json) {
		if (obj == NULL)
			obj = json_object();
		json_object_set_new(obj, "seq", json_integer((json_int_t)app->seq));
		json_object_set_new(obj, "hlc", json_integer((json_int_t)app->hlc));
		json_object_set_new(obj, "hash", json_string(hex));
		json_object_set_new(obj, "counted", json_boolean(counted));
		if (!counted)
			json_object_set_new(obj, "warning", json_string(why));
		cli_json_line(obj);
	} else {
		json_decref(obj);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	if (!counted)
		cli_warn(c, "warning: stored as seq %llu, but it does not count in "
		    "the workspace: %s", (unsigned long long)app->seq, why);
}

/* ------------------------------------------------------------ users */

static int
on_user_copy(void *ctx, const struct kz_view_user *v)
{
	struct cli_user *u = ctx;

	snprintf(u->id, sizeof(u->id), "%s", v->id);
	snprintf(u->display_name, sizeof(u->display_name), "%s", v->display_name);
	snprintf(u->department, sizeof(u->department), "%s", v->department);
	snprintf(u->password_hash, sizeof(u->password_hash), "%s", v->password_hash);
	u->role = v->role;
	u->active = v->active;
	u->has_password = v->has_password;
	return 0;
}

int
cli_user_read(struct cli *c, const char *id, struct cli_user *out)
{
	memset(out, 0, sizeof(*out));
	return kz_views_user(c->st, id, on_user_copy, out);
}

int
cli_user_get(struct cli *c, const char *id, struct cli_user *out)
{
	int rc;

	if ((rc = cli_check_user_id(c, id, NULL)) != 0)
		return rc;
	rc = cli_user_read(c, id, out);
	if (rc == KZ_ERR_NOT_FOUND)
		return cli_fail(c, "no user '%s' in this workspace (see 'kizuna user "
		    "list')", id);
	if (rc < 0)
		return cli_fail_workspace(c, rc);
	return 0;
}

/* ------------------------------------------------------------ channels */

struct channel_read {
	const uint8_t *id;
	struct cli_channel *out;
	bool found;
};

static int
on_channel_read(void *ctx, const struct kz_view_channel *v)
{
	struct channel_read *cr = ctx;

	if (memcmp(v->id, cr->id, KZ_ID_BYTES) != 0)
		return 0;
	memcpy(cr->out->id, v->id, KZ_ID_BYTES);
	snprintf(cr->out->name, sizeof(cr->out->name), "%s", v->name);
	snprintf(cr->out->topic, sizeof(cr->out->topic), "%s", v->topic);
	cr->out->archived = v->archived;
	cr->out->messages = v->messages;
	cr->found = true;
	return 1;
}

int
cli_channel_read(struct cli *c, const uint8_t id[KZ_ID_BYTES],
    struct cli_channel *out)
{
	struct channel_read cr = { id, out, false };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = kz_views_channels(c->st, on_channel_read, &cr);
	if (rc < 0)
		return rc;
	return cr.found ? 0 : KZ_ERR_NOT_FOUND;
}

int
cli_channel_get(struct cli *c, const char *arg, struct cli_channel *out)
{
	uint8_t id[KZ_ID_BYTES];
	int rc;

	rc = kz_views_channel_find(c->st, arg, id);
	if (rc == KZ_ERR_NOT_FOUND && arg[0] == '#')
		rc = kz_views_channel_find(c->st, arg + 1, id);
	if (rc == KZ_ERR_NOT_FOUND)
		return cli_fail(c, "no channel '%s' (see 'kizuna channel list'; "
		    "create one with 'kizuna channel create')", arg);
	if (rc == KZ_ERR_EXISTS)
		return cli_fail(c, "'%s' names more than one channel: give more "
		    "digits of its id (see 'kizuna channel list')", arg);
	if (rc == 0)
		rc = cli_channel_read(c, id, out);
	if (rc < 0)
		return cli_fail_workspace(c, rc);
	return 0;
}

int
cli_open_channel(struct cli *c, const char *arg, struct cli_channel *out)
{
	int rc;

	if ((rc = cli_open_node(c)) != 0)
		return rc;
	return cli_channel_get(c, arg, out);
}

/* ------------------------------------------------------------ messages */

int
cli_message_copy(struct cli_message *m, const struct kz_view_message *v)
{
	memcpy(m->id, v->id, KZ_ID_BYTES);
	memcpy(m->channel, v->channel, KZ_ID_BYTES);
	memcpy(m->author, v->author, 32);
	m->hlc = v->hlc;
	m->seq = v->seq;
	snprintf(m->actor, sizeof(m->actor), "%s", v->actor);
	m->has_thread_root = v->has_thread_root;
	memcpy(m->thread_root, v->thread_root, KZ_ID_BYTES);
	m->priority = v->priority;
	free(m->text);
	m->text = strdup(v->text);
	m->edited = v->edited;
	m->deleted = v->deleted;
	m->reply_count = v->reply_count;
	m->acks = v->acks;
	m->reactions = v->reactions;
	return m->text != NULL ? 0 : KZ_ERR_NOMEM;
}

struct message_read {
	const uint8_t *id;
	struct cli_message *out;
	bool found;
	int rc;
};

static int
on_message_read(void *ctx, const struct kz_view_message *v)
{
	struct message_read *mr = ctx;

	if (memcmp(v->id, mr->id, KZ_ID_BYTES) != 0)
		return 0;
	mr->found = true;
	mr->rc = cli_message_copy(mr->out, v);
	return 1;
}

int
cli_message_read(struct cli *c, const uint8_t id[KZ_ID_BYTES],
    struct cli_message *out)
{
	struct message_read mr = { id, out, false, 0 };
	int rc;

	/* A thread read starts with the message itself, root or reply. */
	rc = kz_views_thread(c->st, id, on_message_read, &mr);
	if (rc < 0)
		return rc;
	if (mr.rc < 0)
		return mr.rc;
	return mr.found ? 0 : KZ_ERR_NOT_FOUND;
}

static bool
hex_prefix_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 8 || n > 2 * KZ_ID_BYTES)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

int
cli_message_get(struct cli *c, const char *prefix, struct cli_message *out)
{
	uint8_t id[KZ_ID_BYTES];
	int rc;

	if (!hex_prefix_ok(prefix))
		return cli_bad(c, "invalid message id '%s': give 8 to 64 hex digits "
		    "of it (see 'kizuna tail')", prefix);
	rc = kz_views_message_find(c->st, prefix, id);
	if (rc == KZ_ERR_NOT_FOUND)
		return cli_fail(c, "no message '%s' (see 'kizuna tail CHANNEL')",
		    prefix);
	if (rc == KZ_ERR_EXISTS)
		return cli_fail(c, "message id '%s' is ambiguous: give more digits",
		    prefix);
	if (rc == 0)
		rc = cli_message_read(c, id, out);
	if (rc == KZ_ERR_NOT_FOUND)
		return cli_fail(c, "no message '%s'", prefix);
	if (rc < 0)
		return cli_fail_workspace(c, rc);
	return 0;
}

int
cli_open_message(struct cli *c, const char *prefix, struct cli_message *out)
{
	int rc;

	if ((rc = cli_open_node(c)) != 0)
		return rc;
	return cli_message_get(c, prefix, out);
}

const uint8_t *
cli_message_root(const struct cli_message *m)
{
	return m->has_thread_root ? m->thread_root : m->id;
}

void
cli_message_free(struct cli_message *m)
{
	free(m->text);
	m->text = NULL;
}

/* ------------------------------------------------------------ names */

static int
name_add(struct cli_name **arr, size_t *n, const uint8_t id[32], const char *name)
{
	struct cli_name *p = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (p == NULL)
		return KZ_ERR_NOMEM;
	*arr = p;
	memcpy(p[*n].id, id, 32);
	snprintf(p[*n].name, sizeof(p[*n].name), "%s", name);
	(*n)++;
	return 0;
}

static int
on_name_node(void *ctx, const struct kz_view_node *v)
{
	struct cli_names *n = ctx;

	return name_add(&n->nodes, &n->n_nodes, v->key, v->name);
}

static int
on_name_channel(void *ctx, const struct kz_view_channel *v)
{
	struct cli_names *n = ctx;

	return name_add(&n->channels, &n->n_channels, v->id, v->name);
}

int
cli_names_load(struct cli *c, struct cli_names *n)
{
	int rc;

	memset(n, 0, sizeof(*n));
	if ((rc = kz_views_nodes(c->st, on_name_node, n)) < 0 ||
	    (rc = kz_views_channels(c->st, on_name_channel, n)) < 0)
		cli_names_free(n);
	return rc;
}

void
cli_names_free(struct cli_names *n)
{
	free(n->nodes);
	free(n->channels);
	memset(n, 0, sizeof(*n));
}

static const char *
name_find(const struct cli_name *arr, size_t n, const uint8_t id[32])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(arr[i].id, id, 32) == 0 && arr[i].name[0] != '\0')
			return arr[i].name;
	return NULL;
}

const char *
cli_names_node(const struct cli_names *n, const uint8_t key[32],
    char buf[KZ_NAME_MAX + 1])
{
	const char *s = name_find(n->nodes, n->n_nodes, key);
	char fp[KZ_FINGERPRINT_CHARS + 1];

	if (s == NULL) {
		kz_fingerprint(fp, key);
		s = fp;
	}
	snprintf(buf, KZ_NAME_MAX + 1, "%s", s);
	return buf;
}

const char *
cli_names_channel(const struct cli_names *n, const uint8_t id[KZ_ID_BYTES],
    char buf[KZ_NAME_MAX + 1])
{
	const char *s = name_find(n->channels, n->n_channels, id);
	char hex[CLI_HEX_ID];

	if (s == NULL) {
		kz_hex(hex, id, KZ_ID_BYTES);
		hex[8] = '\0';
		s = hex;
	}
	snprintf(buf, KZ_NAME_MAX + 1, "%s", s);
	return buf;
}

/* ------------------------------------------------------------ mesh */

/*
 * Parses a node key operand, before the node is opened so that a bad one
 * is a usage error even without a node; then opens the node.  Returns 0 or
 * the exit status.
 */
static int
node_key_open(struct cli *c, const char *arg, uint8_t key[32])
{
	if (kz_unhex(key, 32, arg) < 0)
		return cli_bad(c, "invalid node key '%s': give all 64 hex digits "
		    "(see 'kizuna status' on that node)", arg);
	return cli_open_node(c);
}

/* The mesh's root key: 0, or prints that there is no mesh and returns 1. */
static int
mesh_root(struct cli *c, uint8_t root[32])
{
	if (kz_views_root(c->st, root) < 0)
		return cli_fail(c, "%s", NO_MESH);
	return 0;
}

/* Refuses to found or join a mesh besides the one of root; returns 1. */
static int
other_mesh(struct cli *c, const uint8_t root[32])
{
	char hex[CLI_HEX_ID];

	kz_hex(hex, root, 32);
	return cli_fail(c, "this node already belongs to the mesh whose root is "
	    "%s; a node belongs to one mesh", hex);
}

struct mesh_opts {
	const char *name;
	bool admin;
	bool have_last_seq;
	uint64_t last_seq;
	const char *reason;
	const char *address;	/* mesh invite --address */
	bool qr;		/* mesh invite --qr */
	bool root;		/* mesh join --root */
};

static int
on_mesh_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct mesh_opts *mo = ctx;
	int rc;

	switch (ch) {
	case 'n':
		mo->name = arg;
		break;
	case 'a':
		mo->admin = true;
		break;
	case 'l':
		if ((rc = cli_parse_range(c, arg, 0, UINT64_MAX, &mo->last_seq,
		    "--last-seq takes a seq (0 or more)")) != 0)
			return rc;
		mo->have_last_seq = true;
		break;
	case 'r':
		mo->reason = arg;
		break;
	case 'A':
		if (kz_mesh_address_check(arg) < 0)
			return cli_bad(c, "invalid --address '%s': give HOST:PORT, "
			    "where HOST is a name, an IPv4 address or an IPv6 address "
			    "in brackets, and PORT is 1 to 65535", arg);
		mo->address = arg;
		break;
	case 'Q':
		mo->qr = true;
		break;
	case 'R':
		mo->root = true;
		break;
	}
	return -1;
}

static const struct cli_cmd mesh_cmds[];

/*
 * Reads this node's mesh file into *mc.  Returns 0, KZ_ERR_NOT_FOUND (no
 * file: the node holds no network key), or prints why the file cannot be
 * used and returns 1.  *mc is zeroed unless 0 is returned.
 */
static int
mesh_creds_read(struct cli *c, struct kz_mesh_creds *mc)
{
	int rc = kz_mesh_file_read(c->home, mc);

	switch (rc) {
	case 0:
	case KZ_ERR_NOT_FOUND:
		return rc;
	case KZ_ERR_KEY_PERMS:
		return cli_fail(c, "%s/%s is readable by group or others; refusing "
		    "to use it (fix with: chmod 600 %s/%s)", c->home, KZ_MESH_FILE,
		    c->home, KZ_MESH_FILE);
	case KZ_ERR_SCHEMA:
		return cli_fail(c, "%s/%s was written by a newer kizuna", c->home,
		    KZ_MESH_FILE);
	case KZ_ERR_BAD_KEY:
		return cli_fail(c, "%s/%s is not a kizuna mesh file", c->home,
		    KZ_MESH_FILE);
	case KZ_ERR_IO:
		return cli_fail(c, "%s/%s: %s", c->home, KZ_MESH_FILE,
		    strerror(errno));
	default:
		return cli_fail(c, "%s/%s: %s", c->home, KZ_MESH_FILE,
		    kz_strerror(rc));
	}
}

/* Prints why the mesh file could not be written; returns 1. */
static int
mesh_creds_write_failed(struct cli *c, int rc)
{
	if (rc == KZ_ERR_IO)
		return cli_fail(c, "cannot write %s/%s: %s", c->home, KZ_MESH_FILE,
		    strerror(errno));
	return cli_fail(c, "cannot write %s/%s: %s", c->home, KZ_MESH_FILE,
	    kz_strerror(rc));
}

/* Refuses credentials of another mesh already in the mesh file; returns 1. */
static int
mesh_creds_other(struct cli *c, const struct kz_mesh_creds *held)
{
	char id[CLI_HEX_ID], root[CLI_HEX_ID];

	kz_hex(id, held->mesh_id, KZ_MESH_ID_BYTES);
	kz_hex(root, held->root, 32);
	return cli_fail(c, "%s/%s already holds the credentials of another mesh "
	    "(id %s, root %s); a node belongs to one mesh", c->home, KZ_MESH_FILE,
	    id, root);
}

static int
mesh_create(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct mesh_opts mo = { .name = "kizuna" };
	struct kz_op op = { .type = KZ_OP_MESH_CREATE };
	struct kz_mesh_creds mc;
	struct kz_appended app;
	uint8_t mesh_id[KZ_ID_BYTES], root[32];
	char idhex[CLI_HEX_ID], keyhex[CLI_HEX_ID], fp[KZ_MESH_KEY_FP_CHARS + 1];
	bool wrote = false;
	json_t *o;
	int rc;

	memset(&mc, 0, sizeof(mc));
	rc = cli_getopt(c, &mesh_cmds[0], argc, argv, opts, "", 0, on_mesh_opt, &mo);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	rc = kz_views_root(c->st, root);
	if (rc == 0)
		return other_mesh(c, root);
	if (rc != KZ_ERR_NOT_FOUND)
		return cli_fail_workspace(c, rc);
	/*
	 * The network key is written before the mesh entry, so that a mesh never
	 * exists without one.  A mesh file of this node's own mesh with no root
	 * set yet is what an interrupted create left: it is used again.
	 */
	rc = mesh_creds_read(c, &mc);
	if (rc == 1)
		return rc;
	if (rc == 0 && memcmp(mc.root, c->kp.pk, 32) != 0) {
		rc = mesh_creds_other(c, &mc);
		goto out;
	}
	if (rc == KZ_ERR_NOT_FOUND) {
		kz_mesh_creds_new(&mc, c->kp.pk);
		if ((rc = kz_mesh_file_write(c->home, &mc)) < 0) {
			rc = mesh_creds_write_failed(c, rc);
			goto out;
		}
		wrote = true;
	} else {
		cli_warn(c, "using the network key already in %s/%s (left by an "
		    "interrupted 'mesh create')", c->home, KZ_MESH_FILE);
	}
	memcpy(mesh_id, mc.mesh_id, KZ_ID_BYTES);
	kz_mesh_key_fingerprint(fp, mc.network_key);
	op.u.mesh_create.mesh_id = mesh_id;
	op.u.mesh_create.name = mo.name;
	/* The mesh's own entry is the node's, whoever runs the command. */
	c->actor = NULL;
	rc = cli_append_op(c, &op, "mesh create",
	    "the mesh name may be at most 80 bytes", "the mesh name is empty", &app);
	if (rc != 0) {
		if (wrote)
			kz_mesh_file_remove(c->home);
		goto out;
	}
	if ((rc = kz_views_set_root(c->st, c->kp.pk)) < 0) {
		rc = cli_fail(c, "mesh entry stored as seq %llu, but the root key "
		    "could not be set: %s", (unsigned long long)app.seq,
		    kz_strerror(rc));
		goto out;
	}
	kz_hex(idhex, mesh_id, KZ_ID_BYTES);
	kz_hex(keyhex, c->kp.pk, 32);
	o = json_object();
	json_object_set_new(o, "mesh_id", json_string(idhex));
	json_object_set_new(o, "name", json_string(mo.name));
	json_object_set_new(o, "root", json_string(keyhex));
	json_object_set_new(o, "network_key_fingerprint", json_string(fp));
	cli_report(c, &app, o, true, NULL, "created mesh %s (id %s)\n"
	    "root node: %s (this node)\n"
	    "network key: in %s/%s (fingerprint %s); 'kizuna mesh invite' "
	    "hands it to a new node", mo.name, idhex, keyhex, c->home,
	    KZ_MESH_FILE, fp);
	rc = 0;
out:
	kz_mesh_creds_wipe(&mc);
	return rc;
}

/*
 * The address an invite gives when --address is not: the [net] listen
 * setting, if it names an address another node can reach.  Returns 0 with
 * the address in out, or prints why there is none and returns EXIT_USAGE.
 */
static int
mesh_invite_address(struct cli *c, char out[KZ_MESH_ADDR_MAX + 1])
{
	const char *l = c->cfg.net_listen;
	int rc = kz_mesh_listen_address(l, out);

	if (rc == KZ_ERR_NOT_FOUND) {
		cli_warn(c, "mesh invite needs --address HOST:PORT: the address at "
		    "which the new node reaches this one ([net] listen is not set)");
		return cli_usage(c, &mesh_cmds[1]);
	}
	if (rc < 0) {
		cli_warn(c, "mesh invite needs --address HOST:PORT: the [net] listen "
		    "setting (%s) names no address another node can reach", l);
		return cli_usage(c, &mesh_cmds[1]);
	}
	return 0;
}

/*
 * Draws token as a QR code (error correction M) with Unicode half blocks,
 * two rows of modules to a line, inside a 4-module quiet zone.  It encodes
 * the token's upper-case form, which the QR alphanumeric mode carries in
 * 5.5 bits a character.  On a terminal (color) the code is drawn black on
 * white whatever the terminal's colours; otherwise the blocks are the dark
 * modules, for a light background or paper.  Returns 0 or 1 (printed).
 */
static int
mesh_qr_print(struct cli *c, const char *token, bool color)
{
	static const char *cell[4] = { " ", "\u2580", "\u2584", "\u2588" };
	char upper[KZ_MESH_TOKEN_MAX];
	QRinput *in = NULL;
	QRcode *qr = NULL;
	size_t i, n = strlen(token);
	int x, y, w, m = 4, rc = 0;

	for (i = 0; i <= n && i < sizeof(upper); i++)
		upper[i] = token[i] >= 'a' && token[i] <= 'z' ?
		    (char)(token[i] - 'a' + 'A') : token[i];
	if ((in = QRinput_new2(0, QR_ECLEVEL_M)) == NULL ||
	    QRinput_append(in, QR_MODE_AN, (int)n, (unsigned char *)upper) < 0 ||
	    (qr = QRcode_encodeInput(in)) == NULL) {
		rc = cli_fail(c, "cannot draw the QR code: %s", strerror(errno));
		goto out;
	}
	w = qr->width;
	for (y = -m; y < w + m; y += 2) {
		if (color)
			fputs("\033[30;47m", stdout);
		for (x = -m; x < w + m; x++) {
			int top = 0, bottom = 0;

			if (x >= 0 && x < w && y >= 0 && y < w)
				top = qr->data[y * w + x] & 1;
			if (x >= 0 && x < w && y + 1 >= 0 && y + 1 < w)
				bottom = qr->data[(y + 1) * w + x] & 1;
			fputs(cell[top | bottom << 1], stdout);
		}
		if (color)
			fputs("\033[0m", stdout);
		putchar('\n');
	}
out:
	/* The code carries the network key too. */
	if (qr != NULL)
		sodium_memzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	QRinput_free(in);
	sodium_memzero(upper, sizeof(upper));
	return rc;
}

static int
mesh_invite(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'A' },
		{ "qr", no_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	struct mesh_opts mo = { 0 };
	struct kz_mesh_creds mc;
	uint8_t root[32];
	char token[KZ_MESH_TOKEN_MAX], id[CLI_HEX_ID], roothex[CLI_HEX_ID];
	bool tty = isatty(STDOUT_FILENO) != 0;
	int rc;

	memset(&mc, 0, sizeof(mc));
	memset(token, 0, sizeof(token));
	rc = cli_getopt(c, &mesh_cmds[1], argc, argv, opts, "", 0, on_mesh_opt, &mo);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if ((rc = mesh_root(c, root)) != 0)
		return rc;
	rc = mesh_creds_read(c, &mc);
	if (rc == KZ_ERR_NOT_FOUND)
		return cli_fail(c, "this node holds no network key (no %s/%s): it "
		    "joined the mesh with its root key only, so it cannot invite; "
		    "run 'kizuna mesh invite' on the founding node or on a node that "
		    "joined with a token", c->home, KZ_MESH_FILE);
	if (rc != 0)
		return rc;
	if (memcmp(mc.root, root, 32) != 0) {
		kz_hex(roothex, mc.root, 32);
		rc = cli_fail(c, "%s/%s names the root %s, not this node's mesh "
		    "root: it is not this mesh's file", c->home, KZ_MESH_FILE,
		    roothex);
		goto out;
	}
	if (mo.address != NULL)
		snprintf(mc.address, sizeof(mc.address), "%s", mo.address);
	else if ((rc = mesh_invite_address(c, mc.address)) != 0)
		goto out;
	if ((rc = kz_mesh_token_encode(token, sizeof(token), &mc)) < 0) {
		rc = cli_fail(c, "cannot make a token: %s", kz_strerror(rc));
		goto out;
	}
	kz_hex(id, mc.mesh_id, KZ_MESH_ID_BYTES);
	kz_hex(roothex, mc.root, 32);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "token", json_string(token));
		json_object_set_new(o, "mesh_id", json_string(id));
		json_object_set_new(o, "root", json_string(roothex));
		json_object_set_new(o, "address", json_string(mc.address));
		cli_json_line(o);
	} else {
		printf("%s\n", token);
		if (tty || mo.qr) {
			putchar('\n');
			if ((rc = mesh_qr_print(c, token, tty)) != 0)
				goto out;
		}
		if (tty)
			printf("\non the new node: kizuna mesh join TOKEN\n");
	}
	if (tty)
		cli_warn(c, "this token holds the mesh's network key: give it only "
		    "to the new node's operator");
	rc = 0;
out:
	sodium_memzero(token, sizeof(token));
	kz_mesh_creds_wipe(&mc);
	return rc;
}

/* Whether s is all hex digits: a root key, whole or mistyped, not a token. */
static bool
mesh_is_hex(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		    (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

/* mesh join --root ROOTKEY: the mesh's root only, without a network key. */
static int
mesh_join_root(struct cli *c, const char *arg)
{
	struct kz_mesh_creds mc;
	uint8_t key[32], root[32];
	char hex[CLI_HEX_ID];
	int rc;

	if ((rc = node_key_open(c, arg, key)) != 0)
		return rc;
	if (memcmp(key, c->kp.pk, 32) == 0)
		return cli_fail(c, "%s is this node's own key: to found a mesh, run "
		    "'kizuna mesh create'", arg);
	if (kz_views_root(c->st, root) == 0 && memcmp(root, key, 32) != 0)
		return other_mesh(c, root);
	if ((rc = mesh_creds_read(c, &mc)) == 1)
		return rc;
	if (rc == 0 && memcmp(mc.root, key, 32) != 0) {
		rc = mesh_creds_other(c, &mc);
		kz_mesh_creds_wipe(&mc);
		return rc;
	}
	kz_mesh_creds_wipe(&mc);
	if ((rc = kz_views_set_root(c->st, key)) < 0)
		return cli_fail(c, "cannot set the mesh root: %s", kz_strerror(rc));
	kz_hex(hex, key, 32);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "root", json_string(hex));
		cli_json_line(o);
	} else {
		printf("joined the mesh whose root node is %s\n", hex);
		kz_hex(hex, c->kp.pk, 32);
		printf("an admin node admits this one with: kizuna mesh admit %s "
		    "--name NAME\n", hex);
	}
	return 0;
}

/* mesh join TOKEN: the mesh file from the token, then the root. */
static int
mesh_join_token(struct cli *c, const char *arg)
{
	struct kz_mesh_creds mc, held;
	uint8_t root[32], mesh_id[KZ_ID_BYTES];
	char name[KZ_NAME_MAX + 1], id[CLI_HEX_ID], hex[CLI_HEX_ID];
	char fp[KZ_FINGERPRINT_CHARS + 1], kfp[KZ_MESH_KEY_FP_CHARS + 1];
	int rc;

	memset(&held, 0, sizeof(held));
	if ((rc = kz_mesh_token_decode(&mc, arg)) < 0)
		return cli_fail(c, "%s", kz_mesh_token_strerror(rc));
	if ((rc = cli_open_node(c)) != 0)
		goto out;
	kz_hex(id, mc.mesh_id, KZ_MESH_ID_BYTES);
	if (memcmp(mc.root, c->kp.pk, 32) == 0) {
		rc = cli_fail(c, "the token's root node is this node: it founded "
		    "mesh %s, and needs no token", id);
		goto out;
	}
	rc = kz_views_root(c->st, root);
	if (rc == 0 && memcmp(root, mc.root, 32) != 0) {
		rc = other_mesh(c, root);
		goto out;
	}
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND) {
		rc = cli_fail_workspace(c, rc);
		goto out;
	}
	/* The root's own mesh entry, when it has arrived, must agree. */
	rc = kz_views_mesh(c->st, mesh_id, name);
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND) {
		rc = cli_fail_workspace(c, rc);
		goto out;
	}
	if (rc == 0 && memcmp(mesh_id, mc.mesh_id, KZ_ID_BYTES) != 0) {
		kz_hex(hex, mesh_id, KZ_ID_BYTES);
		rc = cli_fail(c, "the token is for mesh id %s, but this node's mesh "
		    "(root node's entry) has id %s: ask the admin for a new token",
		    id, hex);
		goto out;
	}
	rc = mesh_creds_read(c, &held);
	if (rc == 1)
		goto out;
	if (rc == 0) {
		/* Joining again with the same token changes nothing. */
		if (memcmp(held.mesh_id, mc.mesh_id, KZ_MESH_ID_BYTES) != 0 ||
		    memcmp(held.root, mc.root, 32) != 0 ||
		    sodium_memcmp(held.network_key, mc.network_key,
		    KZ_MESH_KEY_BYTES) != 0) {
			rc = mesh_creds_other(c, &held);
			goto out;
		}
		if (strcmp(held.address, mc.address) != 0)
			cli_warn(c, "already joined: %s/%s keeps its bootstrap "
			    "address %s", c->home, KZ_MESH_FILE,
			    held.address[0] ? held.address : "(none)");
		memcpy(mc.address, held.address, sizeof(mc.address));
	} else if ((rc = kz_mesh_file_write(c->home, &mc)) < 0) {
		rc = mesh_creds_write_failed(c, rc);
		goto out;
	}
	if ((rc = kz_views_set_root(c->st, mc.root)) < 0) {
		rc = cli_fail(c, "cannot set the mesh root: %s", kz_strerror(rc));
		goto out;
	}
	kz_hex(hex, mc.root, 32);
	kz_fingerprint(fp, mc.root);
	kz_mesh_key_fingerprint(kfp, mc.network_key);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "mesh_id", json_string(id));
		json_object_set_new(o, "root", json_string(hex));
		json_object_set_new(o, "bootstrap", mc.address[0] ?
		    json_string(mc.address) : json_null());
		json_object_set_new(o, "network_key_fingerprint", json_string(kfp));
		cli_json_line(o);
	} else {
		printf("joined mesh %s\n", id);
		printf("root node:   %s\n", fp);
		printf("bootstrap:   %s\n", mc.address[0] ? mc.address : "(none)");
		printf("network key: in %s/%s (fingerprint %s)\n", c->home,
		    KZ_MESH_FILE, kfp);
		kz_hex(hex, c->kp.pk, 32);
		printf("an admin node admits this one with: kizuna mesh admit %s "
		    "--name NAME\n", hex);
	}
	rc = 0;
out:
	kz_mesh_creds_wipe(&mc);
	kz_mesh_creds_wipe(&held);
	return rc;
}

static int
mesh_join(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct mesh_opts mo = { 0 };
	int rc;

	rc = cli_getopt(c, &mesh_cmds[2], argc, argv, opts, "", 1, on_mesh_opt, &mo);
	if (rc >= 0)
		return rc;
	/* Hex digits alone are a root key (the form before tokens), never a token. */
	if (mo.root || mesh_is_hex(argv[optind]))
		return mesh_join_root(c, argv[optind]);
	return mesh_join_token(c, argv[optind]);
}

static int
mesh_admit(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "admin", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct mesh_opts mo = { 0 };
	struct kz_op op = { .type = KZ_OP_NODE_ADMIT };
	struct kz_appended app;
	struct node_state ns;
	uint8_t key[32];
	char hex[CLI_HEX_ID], fp[KZ_FINGERPRINT_CHARS + 1];
	bool counted;
	json_t *o;
	int rc;

	rc = cli_getopt(c, &mesh_cmds[3], argc, argv, opts, "", 1, on_mesh_opt, &mo);
	if (rc >= 0)
		return rc;
	if (mo.name == NULL) {
		cli_warn(c, "mesh admit needs --name NAME");
		return cli_usage(c, &mesh_cmds[3]);
	}
	if ((rc = node_key_open(c, argv[optind], key)) != 0)
		return rc;
	op.u.node_admit.node = key;
	op.u.node_admit.name = mo.name;
	op.u.node_admit.admin = mo.admin;
	rc = cli_append_op(c, &op, "mesh admit",
	    "a node name may be at most 80 bytes", "the node name is empty", &app);
	if (rc != 0)
		return rc;
	if ((rc = node_state(c, key, &ns)) < 0)
		return cli_fail_workspace(c, rc);
	counted = ns.found && (!mo.admin || ns.admin);
	kz_hex(hex, key, 32);
	kz_fingerprint(fp, key);
	o = json_object();
	json_object_set_new(o, "node", json_string(hex));
	json_object_set_new(o, "name", json_string(mo.name));
	json_object_set_new(o, "admin", json_boolean(mo.admin));
	cli_report(c, &app, o, counted, counted ? NULL :
	    cli_ws_why(c, CLI_NEED_ADMIN_NODE, CLI_NOT_TAKEN),
	    "admitted node %s as %s%s (seq %llu)", fp, mo.name,
	    mo.admin ? ", an admin node" : "", (unsigned long long)app.seq);
	return 0;
}

static int
mesh_revoke(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "last-seq", required_argument, NULL, 'l' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct mesh_opts mo = { .reason = "" };
	struct kz_op op = { .type = KZ_OP_NODE_REVOKE };
	struct kz_appended app;
	struct node_state ns;
	uint8_t key[32], root[32];
	char hex[CLI_HEX_ID], fp[KZ_FINGERPRINT_CHARS + 1];
	bool counted;
	json_t *o;
	int rc;

	rc = cli_getopt(c, &mesh_cmds[4], argc, argv, opts, "", 1, on_mesh_opt, &mo);
	if (rc >= 0)
		return rc;
	if ((rc = node_key_open(c, argv[optind], key)) != 0)
		return rc;
	kz_fingerprint(fp, key);
	if (kz_views_root(c->st, root) == 0 && memcmp(root, key, 32) == 0)
		return cli_fail(c, "node %s is the mesh's root and cannot be revoked",
		    fp);
	if ((rc = node_state(c, key, &ns)) < 0)
		return cli_fail_workspace(c, rc);
	if (!ns.found)
		return cli_fail(c, "node %s is not admitted to this mesh (see "
		    "'kizuna mesh nodes')", fp);
	if (!mo.have_last_seq &&
	    (rc = kz_store_tip(c->st, key, &mo.last_seq, NULL)) < 0)
		return cli_fail(c, "cannot read the store: %s", kz_strerror(rc));
	op.u.node_revoke.node = key;
	op.u.node_revoke.last_seq = mo.last_seq;
	op.u.node_revoke.reason = mo.reason;
	rc = cli_append_op(c, &op, "mesh revoke",
	    "the reason may be at most 200 bytes", "--last-seq is out of range",
	    &app);
	if (rc != 0)
		return rc;
	if ((rc = node_state(c, key, &ns)) < 0)
		return cli_fail_workspace(c, rc);
	counted = !ns.found || (ns.revoked && ns.last_seq <= mo.last_seq);
	kz_hex(hex, key, 32);
	o = json_object();
	json_object_set_new(o, "node", json_string(hex));
	json_object_set_new(o, "last_seq", json_integer((json_int_t)mo.last_seq));
	json_object_set_new(o, "reason", json_string(mo.reason));
	cli_report(c, &app, o, counted, counted ? NULL :
	    cli_ws_why(c, CLI_NEED_ADMIN_NODE, CLI_NOT_TAKEN),
	    "revoked node %s: its entries after seq %llu do not count (seq %llu)",
	    fp, (unsigned long long)mo.last_seq, (unsigned long long)app.seq);
	return 0;
}

struct nodes_ctx {
	struct cli *c;
	uint8_t root[32];
	bool has_root;
};

static int
on_mesh_node(void *ctx, const struct kz_view_node *n)
{
	struct nodes_ctx *nc = ctx;
	struct cli *c = nc->c;
	bool root = nc->has_root && memcmp(n->key, nc->root, 32) == 0;
	bool self = memcmp(n->key, c->kp.pk, 32) == 0;
	char hex[CLI_HEX_ID];

	kz_hex(hex, n->key, 32);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "key", json_string(hex));
		json_object_set_new(o, "name", json_string(n->name));
		json_object_set_new(o, "admin", json_boolean(n->admin));
		json_object_set_new(o, "root", json_boolean(root));
		json_object_set_new(o, "self", json_boolean(self));
		json_object_set_new(o, "revoked", json_boolean(n->revoked));
		json_object_set_new(o, "last_seq", n->revoked ?
		    json_integer((json_int_t)n->last_seq) : json_null());
		cli_json_line(o);
		return 0;
	}
	printf("%s  %s", hex, n->name[0] ? n->name : "(no name)");
	if (root)
		printf(", root");
	if (n->admin)
		printf(", admin");
	if (n->revoked)
		printf(", revoked after seq %llu", (unsigned long long)n->last_seq);
	if (self)
		printf(" (this node)");
	putchar('\n');
	return 0;
}

static int
mesh_nodes(struct cli *c, int argc, char **argv)
{
	struct nodes_ctx nc = { .c = c };
	int rc;

	if ((rc = cli_no_args_open(c, &mesh_cmds[5], argc, argv)) >= 0)
		return rc;
	if ((rc = mesh_root(c, nc.root)) != 0)
		return rc;
	nc.has_root = true;
	if ((rc = kz_views_nodes(c->st, on_mesh_node, &nc)) < 0)
		return cli_fail_workspace(c, rc);
	return 0;
}

static int
mesh_show(struct cli *c, int argc, char **argv)
{
	uint8_t root[32], mesh_id[KZ_ID_BYTES];
	char name[KZ_NAME_MAX + 1] = "", idhex[CLI_HEX_ID], roothex[CLI_HEX_ID];
	char selfhex[CLI_HEX_ID], kfp[KZ_MESH_KEY_FP_CHARS + 1] = "";
	const char *standing;
	struct kz_mesh_creds mc;
	struct node_state ns;
	bool has_mesh, has_id, has_key;
	int rc;

	if ((rc = cli_no_args_open(c, &mesh_cmds[6], argc, argv)) >= 0)
		return rc;
	if ((rc = mesh_root(c, root)) != 0)
		return rc;
	rc = kz_views_mesh(c->st, mesh_id, name);
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND)
		return cli_fail_workspace(c, rc);
	has_mesh = rc == 0;
	if ((rc = node_state(c, c->kp.pk, &ns)) < 0)
		return cli_fail_workspace(c, rc);
	if ((rc = mesh_creds_read(c, &mc)) == 1)
		return rc;
	has_key = rc == 0;
	has_id = has_mesh || has_key;
	if (has_key) {
		kz_mesh_key_fingerprint(kfp, mc.network_key);
		if (memcmp(mc.root, root, 32) != 0)
			cli_warn(c, "warning: %s/%s names another root node than this "
			    "node's mesh", c->home, KZ_MESH_FILE);
		else if (has_mesh && memcmp(mc.mesh_id, mesh_id, KZ_ID_BYTES) != 0)
			cli_warn(c, "warning: %s/%s names another mesh id than the "
			    "root node's mesh entry", c->home, KZ_MESH_FILE);
		if (!has_mesh)
			memcpy(mesh_id, mc.mesh_id, KZ_ID_BYTES);
	}
	standing = !ns.found ? "not admitted" : ns.revoked ? "revoked" :
	    ns.admin ? "admin" : "member";
	kz_hex(idhex, mesh_id, KZ_ID_BYTES);
	kz_hex(roothex, root, 32);
	kz_hex(selfhex, c->kp.pk, 32);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "mesh_id", has_id ? json_string(idhex) :
		    json_null());
		json_object_set_new(o, "name", has_mesh ? json_string(name) :
		    json_null());
		json_object_set_new(o, "root", json_string(roothex));
		json_object_set_new(o, "node_key", json_string(selfhex));
		json_object_set_new(o, "standing", json_string(standing));
		json_object_set_new(o, "network_key", json_boolean(has_key));
		json_object_set_new(o, "network_key_fingerprint", has_key ?
		    json_string(kfp) : json_null());
		json_object_set_new(o, "bootstrap", has_key && mc.address[0] ?
		    json_string(mc.address) : json_null());
		cli_json_line(o);
		kz_mesh_creds_wipe(&mc);
		return 0;
	}
	if (has_mesh)
		printf("mesh:      %s\n", name);
	else
		printf("mesh:      (not known yet: the root node's feed has not "
		    "arrived)\n");
	if (has_id)
		printf("mesh id:   %s\n", idhex);
	printf("root node: %s\n", roothex);
	printf("this node: %s (%s)\n", selfhex, standing);
	if (has_key)
		printf("net key:   present (fingerprint %s)\n", kfp);
	else
		printf("net key:   none (joined with the root key only: it links to "
		    "no peer until it joins with a token from 'kizuna mesh "
		    "invite')\n");
	if (has_key && mc.address[0])
		printf("bootstrap: %s\n", mc.address);
	kz_mesh_creds_wipe(&mc);
	return 0;
}

static const struct cli_cmd mesh_cmds[] = {
	{ "mesh create", mesh_create, "[--name NAME]",
	  "found a new mesh with this node as its root (admin) node, and its "
	  "network key" },
	{ "mesh invite", mesh_invite, "[--address HOST:PORT] [--qr]",
	  "print a join token for a new node (mesh id, network key, root key and "
	  "HOST:PORT, this node's address; default: the [net] listen setting), "
	  "as a QR code too on a terminal or with --qr" },
	{ "mesh join", mesh_join, "TOKEN | --root ROOTKEY",
	  "make this node a member of the mesh of a token from 'kizuna mesh "
	  "invite' (or, with --root or 64 hex digits, of the root node key alone, "
	  "without the network key)" },
	{ "mesh admit", mesh_admit, "--name NAME [--admin] NODEKEY",
	  "admit a node to the mesh (admin nodes)" },
	{ "mesh revoke", mesh_revoke, "[--last-seq N] [--reason TEXT] NODEKEY",
	  "revoke a node: its entries after seq N (default: all this node holds "
	  "of it) stop counting (admin nodes)" },
	{ "mesh nodes", mesh_nodes, "", "list the admitted nodes" },
	{ "mesh show", mesh_show, "",
	  "show the mesh's id, name and root node, and whether this node holds "
	  "the network key" },
};

int
cmd_mesh(struct cli *c, int argc, char **argv)
{
	return cli_group(c, cli_find_cmd("mesh"), mesh_cmds,
	    CLI_NELEM(mesh_cmds), argc, argv);
}

/* ------------------------------------------------------------ users */

static const struct cli_cmd user_cmds[];

/* Parses a role into out: 0, or prints why not and returns EXIT_USAGE. */
static int
parse_role(struct cli *c, const char *arg, enum kz_role *out)
{
	if (kz_role_parse(out, arg) >= 0)
		return 0;
	return cli_bad(c, "unknown role '%s' (member or admin)", arg);
}

/*
 * Reads a password: one line from stdin, without echo on a terminal.  The
 * caller wipes buf.  Returns 0 or the exit status.
 */
static int
read_password(struct cli *c, char buf[PASSWORD_MAX])
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) != 0, restore = false;
	size_t len;
	char *got;

	if (tty) {
		fprintf(stderr, "password: ");
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
	}
	got = fgets(buf, PASSWORD_MAX, stdin);
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (got == NULL)
		return cli_fail(c, "no password on standard input");
	len = strlen(buf);
	if (len == PASSWORD_MAX - 1 && buf[len - 1] != '\n')
		return cli_fail(c, "password too long: at most %d bytes",
		    PASSWORD_MAX - 2);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len == 0)
		return cli_fail(c, "empty password refused");
	return 0;
}

/* Hashes a password read from stdin with Argon2id into hash. */
static int
password_hash(struct cli *c, char hash[crypto_pwhash_STRBYTES])
{
	char pw[PASSWORD_MAX];
	int rc;

	if ((rc = read_password(c, pw)) == 0 &&
	    crypto_pwhash_str_alg(hash, pw, strlen(pw),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		rc = cli_fail(c, "cannot hash the password: out of memory");
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

struct user_opts {
	const char *name;
	const char *department;
	bool have_role;
	enum kz_role role;
	bool password;
};

static int
on_user_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct user_opts *uo = ctx;
	int rc;

	switch (ch) {
	case 'n':
		uo->name = arg;
		break;
	case 'd':
		uo->department = arg;
		break;
	case 'r':
		if ((rc = parse_role(c, arg, &uo->role)) != 0)
			return rc;
		uo->have_role = true;
		break;
	case 'p':
		uo->password = true;
		break;
	}
	return -1;
}

#define USER_TOO_BIG "a display name or department may be at most 80 bytes"
#define USER_INVAL "the display name is empty"

/*
 * Whether the user_set in op took effect: the user's view now shows each
 * field it set.
 */
static bool
user_set_counted(struct cli *c, const struct kz_user_set *s)
{
	struct cli_user u;

	if (cli_user_read(c, s->user, &u) < 0)
		return false;
	if ((s->set & KZ_USER_SET_DISPLAY_NAME) &&
	    strcmp(u.display_name, s->display_name) != 0)
		return false;
	if ((s->set & KZ_USER_SET_DEPARTMENT) &&
	    strcmp(u.department, s->department ? s->department : "") != 0)
		return false;
	if ((s->set & KZ_USER_SET_ROLE) && u.role != s->role)
		return false;
	if ((s->set & KZ_USER_SET_PASSWORD) &&
	    strcmp(u.password_hash, s->password_hash) != 0)
		return false;
	if ((s->set & KZ_USER_SET_ACTIVE) && u.active != s->active)
		return false;
	return true;
}

/* Appends a user_set and reports it with the human line msg. */
static int
user_set_append(struct cli *c, struct kz_op *op, const char *what,
    const char *msg)
{
	const struct kz_user_set *s = &op->u.user_set;
	struct kz_appended app;
	bool self, counted;
	json_t *o;
	int rc;

	rc = cli_append_op(c, op, what, USER_TOO_BIG, USER_INVAL, &app);
	if (rc != 0)
		return rc;
	counted = user_set_counted(c, s);
	self = c->actor != NULL && strcmp(c->actor, s->user) == 0 &&
	    (s->set & ~(KZ_USER_SET_DISPLAY_NAME | KZ_USER_SET_DEPARTMENT |
	    KZ_USER_SET_PASSWORD)) == 0;
	o = json_object();
	json_object_set_new(o, "user", json_string(s->user));
	cli_report(c, &app, o, counted, counted ? NULL :
	    cli_ws_why(c, self ? CLI_NEED_MEMBER : CLI_NEED_ADMIN,
	    "only admins change other users"), "%s (seq %llu)", msg,
	    (unsigned long long)app.seq);
	return 0;
}

static int
user_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "department", required_argument, NULL, 'd' },
		{ "role", required_argument, NULL, 'r' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct user_opts uo = { .department = "" };
	struct kz_op op = { .type = KZ_OP_USER_SET };
	struct kz_user_set *s = &op.u.user_set;
	char hash[crypto_pwhash_STRBYTES] = "", msg[200];
	struct cli_user u;
	const char *id;
	int rc;

	rc = cli_getopt(c, &user_cmds[0], argc, argv, opts, "", 1, on_user_opt, &uo);
	if (rc >= 0)
		return rc;
	id = argv[optind];
	if (uo.name == NULL) {
		cli_warn(c, "user add needs --name DISPLAY");
		return cli_usage(c, &user_cmds[0]);
	}
	if ((rc = cli_check_user_id(c, id, NULL)) != 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	rc = cli_user_read(c, id, &u);
	if (rc == 0)
		return cli_fail(c, "user '%s' already exists (change it with 'kizuna "
		    "user passwd|role|activate|deactivate')", id);
	if (rc != KZ_ERR_NOT_FOUND)
		return cli_fail_workspace(c, rc);
	if (uo.password && (rc = password_hash(c, hash)) != 0)
		return rc;
	s->user = id;
	s->set = KZ_USER_SET_DISPLAY_NAME | KZ_USER_SET_DEPARTMENT |
	    KZ_USER_SET_ROLE | KZ_USER_SET_ACTIVE;
	if (uo.password)
		s->set |= KZ_USER_SET_PASSWORD;
	s->display_name = uo.name;
	s->department = uo.department;
	s->role = uo.have_role ? uo.role : KZ_ROLE_MEMBER;
	s->password_hash = hash;
	s->active = true;
	snprintf(msg, sizeof(msg), "added user %s (%s)", id, kz_role_name(s->role));
	rc = user_set_append(c, &op, "user add", msg);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

static int
on_user_list(void *ctx, const struct kz_view_user *u)
{
	struct cli *c = ctx;

	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_string(u->id));
		json_object_set_new(o, "display_name", json_string(u->display_name));
		json_object_set_new(o, "department", json_string(u->department));
		json_object_set_new(o, "role", json_string(kz_role_name(u->role)));
		json_object_set_new(o, "active", json_boolean(u->active));
		json_object_set_new(o, "has_password", json_boolean(u->has_password));
		cli_json_line(o);
		return 0;
	}
	printf("%s: %s", u->id, u->display_name);
	if (u->department[0])
		printf(", %s", u->department);
	printf(", %s", kz_role_name(u->role));
	if (!u->active)
		printf(", deactivated");
	if (!u->has_password)
		printf(", no password");
	putchar('\n');
	return 0;
}

static int
user_list(struct cli *c, int argc, char **argv)
{
	int rc;

	if ((rc = cli_no_args_open(c, &user_cmds[1], argc, argv)) >= 0)
		return rc;
	if ((rc = kz_views_users(c->st, on_user_list, c)) < 0)
		return cli_fail_workspace(c, rc);
	return 0;
}

/*
 * The user id operand of a command that changes a user: checked before the
 * node is opened, so that a bad one is a usage error even without a node;
 * then the node and the user.  Returns 0 or the exit status.
 */
static int
user_open(struct cli *c, const char *id, struct cli_user *u)
{
	int rc;

	if ((rc = cli_check_user_id(c, id, NULL)) != 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	return cli_user_get(c, id, u);
}

/*
 * The common start of passwd, deactivate and activate: options, then
 * user_open.  Returns -1 to go on or the exit status.
 */
static int
user_change(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
    struct cli_user *u)
{
	int rc;

	rc = cli_getopt(c, cmd, argc, argv, NULL, NULL, 1, NULL, NULL);
	if (rc >= 0)
		return rc;
	rc = user_open(c, argv[optind], u);
	return rc == 0 ? -1 : rc;
}

static int
user_passwd(struct cli *c, int argc, char **argv)
{
	struct kz_op op = { .type = KZ_OP_USER_SET };
	char hash[crypto_pwhash_STRBYTES], msg[200];
	struct cli_user u;
	int rc;

	if ((rc = user_change(c, &user_cmds[2], argc, argv, &u)) >= 0)
		return rc;
	if ((rc = password_hash(c, hash)) != 0)
		return rc;
	op.u.user_set.user = u.id;
	op.u.user_set.set = KZ_USER_SET_PASSWORD;
	op.u.user_set.password_hash = hash;
	snprintf(msg, sizeof(msg), "changed the password of %s", u.id);
	rc = user_set_append(c, &op, "user passwd", msg);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

static int
user_active(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
    bool active)
{
	struct kz_op op = { .type = KZ_OP_USER_SET };
	char msg[200];
	struct cli_user u;
	int rc;

	if ((rc = user_change(c, cmd, argc, argv, &u)) >= 0)
		return rc;
	op.u.user_set.user = u.id;
	op.u.user_set.set = KZ_USER_SET_ACTIVE;
	op.u.user_set.active = active;
	snprintf(msg, sizeof(msg), "%s %s", active ? "activated" : "deactivated",
	    u.id);
	return user_set_append(c, &op, cmd->name, msg);
}

static int
user_deactivate(struct cli *c, int argc, char **argv)
{
	return user_active(c, &user_cmds[3], argc, argv, false);
}

static int
user_activate(struct cli *c, int argc, char **argv)
{
	return user_active(c, &user_cmds[4], argc, argv, true);
}

static int
user_role(struct cli *c, int argc, char **argv)
{
	struct kz_op op = { .type = KZ_OP_USER_SET };
	enum kz_role role;
	char msg[200];
	struct cli_user u;
	int rc;

	rc = cli_getopt(c, &user_cmds[5], argc, argv, NULL, NULL, 2, NULL, NULL);
	if (rc >= 0)
		return rc;
	if (parse_role(c, argv[optind + 1], &role) != 0)
		return cli_usage(c, &user_cmds[5]);
	if ((rc = user_open(c, argv[optind], &u)) != 0)
		return rc;
	op.u.user_set.user = u.id;
	op.u.user_set.set = KZ_USER_SET_ROLE;
	op.u.user_set.role = role;
	snprintf(msg, sizeof(msg), "%s is now %s %s", u.id,
	    role == KZ_ROLE_ADMIN ? "an" : "a", kz_role_name(role));
	return user_set_append(c, &op, "user role", msg);
}

static const struct cli_cmd user_cmds[] = {
	{ "user add", user_add, "--name DISPLAY [--department D] "
	  "[--role member|admin] [--password-stdin] ID",
	  "add a user (admins); --password-stdin reads the password as one line" },
	{ "user list", user_list, "", "list the users" },
	{ "user passwd", user_passwd, "ID",
	  "set a user's password, read as one line from standard input" },
	{ "user deactivate", user_deactivate, "ID",
	  "deactivate a user: their later entries stop counting (admins)" },
	{ "user activate", user_activate, "ID", "activate a user again (admins)" },
	{ "user role", user_role, "ID member|admin", "set a user's role (admins)" },
};

int
cmd_user(struct cli *c, int argc, char **argv)
{
	return cli_group(c, cli_find_cmd("user"), user_cmds,
	    CLI_NELEM(user_cmds), argc, argv);
}

/* ------------------------------------------------------------ channels */

static const struct cli_cmd channel_cmds[];

#define CHANNEL_TOO_BIG "a channel name may be at most 80 bytes and a topic " \
	"at most 250 bytes"

static int
on_channel_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	*(const char **)ctx = arg;
	return -1;
}

/* Fails if another channel already has this name. */
static int
name_free(struct cli *c, const char *name, const uint8_t *except)
{
	uint8_t id[KZ_ID_BYTES];
	int rc = kz_views_channel_find(c->st, name, id);

	if (rc == KZ_ERR_NOT_FOUND || (rc == 0 && except != NULL &&
	    memcmp(id, except, KZ_ID_BYTES) == 0))
		return 0;
	if (rc == 0 || rc == KZ_ERR_EXISTS)
		return cli_fail(c, "a channel named '%s' already exists", name);
	return cli_fail_workspace(c, rc);
}

static int
channel_create(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "topic", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct kz_op op = { .type = KZ_OP_CHANNEL_CREATE };
	struct kz_appended app;
	struct cli_channel ch;
	const char *topic = "", *name;
	char hex[CLI_HEX_ID];
	bool counted;
	json_t *o;
	int rc;

	rc = cli_getopt(c, &channel_cmds[0], argc, argv, opts, "", 1,
	    on_channel_opt, &topic);
	if (rc >= 0)
		return rc;
	name = argv[optind];
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if ((rc = name_free(c, name, NULL)) != 0)
		return rc;
	op.u.channel_create.name = name;
	op.u.channel_create.topic = topic;
	rc = cli_append_op(c, &op, "channel create", CHANNEL_TOO_BIG,
	    "the channel name is empty", &app);
	if (rc != 0)
		return rc;
	counted = cli_channel_read(c, app.hash, &ch) == 0;
	kz_hex(hex, app.hash, KZ_ID_BYTES);
	o = json_object();
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "name", json_string(name));
	cli_report(c, &app, o, counted, counted ? NULL :
	    cli_ws_why(c, CLI_NEED_MEMBER, CLI_NOT_TAKEN),
	    "created #%s as seq %llu (id %.16s)", name,
	    (unsigned long long)app.seq, hex);
	return 0;
}

static int
on_channel_list(void *ctx, const struct kz_view_channel *v)
{
	struct cli *c = ctx;
	char hex[CLI_HEX_ID];

	kz_hex(hex, v->id, KZ_ID_BYTES);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_string(hex));
		json_object_set_new(o, "name", json_string(v->name));
		json_object_set_new(o, "topic", json_string(v->topic));
		json_object_set_new(o, "archived", json_boolean(v->archived));
		json_object_set_new(o, "messages", json_integer((json_int_t)v->messages));
		cli_json_line(o);
		return 0;
	}
	printf("#%s (%.8s): %llu message%s%s", v->name, hex,
	    (unsigned long long)v->messages, v->messages == 1 ? "" : "s",
	    v->archived ? ", archived" : "");
	if (v->topic[0])
		printf(" - %s", v->topic);
	putchar('\n');
	return 0;
}

static int
channel_list(struct cli *c, int argc, char **argv)
{
	int rc;

	if ((rc = cli_no_args_open(c, &channel_cmds[1], argc, argv)) >= 0)
		return rc;
	if ((rc = kz_views_channels(c->st, on_channel_list, c)) < 0)
		return cli_fail_workspace(c, rc);
	return 0;
}

/* Appends a channel_set for ch and reports it with the human line msg. */
static int
channel_set_append(struct cli *c, struct kz_op *op, const char *what,
    const char *msg)
{
	const struct kz_channel_set *s = &op->u.channel_set;
	struct kz_appended app;
	struct cli_channel ch;
	char hex[CLI_HEX_ID];
	bool counted;
	json_t *o;
	int rc;

	rc = cli_append_op(c, op, what, CHANNEL_TOO_BIG,
	    "the channel name is empty", &app);
	if (rc != 0)
		return rc;
	counted = cli_channel_read(c, s->channel, &ch) == 0 &&
	    (!(s->set & KZ_CHANNEL_SET_NAME) || strcmp(ch.name, s->name) == 0) &&
	    (!(s->set & KZ_CHANNEL_SET_TOPIC) || strcmp(ch.topic, s->topic) == 0) &&
	    (!(s->set & KZ_CHANNEL_SET_ARCHIVED) || ch.archived == s->archived);
	kz_hex(hex, s->channel, KZ_ID_BYTES);
	o = json_object();
	json_object_set_new(o, "channel", json_string(hex));
	cli_report(c, &app, o, counted, counted ? NULL :
	    cli_ws_why(c, CLI_NEED_MEMBER, CLI_NOT_TAKEN),
	    "%s (seq %llu)", msg, (unsigned long long)app.seq);
	return 0;
}

static int
channel_rename(struct cli *c, int argc, char **argv)
{
	struct kz_op op = { .type = KZ_OP_CHANNEL_SET };
	struct cli_channel ch;
	char msg[2 * KZ_NAME_MAX + 40];
	const char *name;
	int rc;

	rc = cli_getopt(c, &channel_cmds[2], argc, argv, NULL, NULL, 2, NULL, NULL);
	if (rc >= 0)
		return rc;
	name = argv[optind + 1];
	if ((rc = cli_open_channel(c, argv[optind], &ch)) != 0 ||
	    (rc = name_free(c, name, ch.id)) != 0)
		return rc;
	op.u.channel_set.channel = ch.id;
	op.u.channel_set.set = KZ_CHANNEL_SET_NAME;
	op.u.channel_set.name = name;
	snprintf(msg, sizeof(msg), "renamed #%s to #%s", ch.name, name);
	return channel_set_append(c, &op, "channel rename", msg);
}

static int
channel_topic(struct cli *c, int argc, char **argv)
{
	struct kz_op op = { .type = KZ_OP_CHANNEL_SET };
	struct cli_channel ch;
	char msg[KZ_NAME_MAX + 40];
	int rc;

	rc = cli_getopt(c, &channel_cmds[3], argc, argv, NULL, NULL, 2, NULL, NULL);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_channel(c, argv[optind], &ch)) != 0)
		return rc;
	op.u.channel_set.channel = ch.id;
	op.u.channel_set.set = KZ_CHANNEL_SET_TOPIC;
	op.u.channel_set.topic = argv[optind + 1];
	snprintf(msg, sizeof(msg), "set the topic of #%s", ch.name);
	return channel_set_append(c, &op, "channel topic", msg);
}

static int
channel_archived(struct cli *c, const struct cli_cmd *cmd, int argc,
    char **argv, bool archived)
{
	struct kz_op op = { .type = KZ_OP_CHANNEL_SET };
	struct cli_channel ch;
	char msg[KZ_NAME_MAX + 40];
	int rc;

	rc = cli_getopt(c, cmd, argc, argv, NULL, NULL, 1, NULL, NULL);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_channel(c, argv[optind], &ch)) != 0)
		return rc;
	op.u.channel_set.channel = ch.id;
	op.u.channel_set.set = KZ_CHANNEL_SET_ARCHIVED;
	op.u.channel_set.archived = archived;
	snprintf(msg, sizeof(msg), "%s #%s", archived ? "archived" : "unarchived",
	    ch.name);
	return channel_set_append(c, &op, cmd->name, msg);
}

static int
channel_archive(struct cli *c, int argc, char **argv)
{
	return channel_archived(c, &channel_cmds[4], argc, argv, true);
}

static int
channel_unarchive(struct cli *c, int argc, char **argv)
{
	return channel_archived(c, &channel_cmds[5], argc, argv, false);
}

static const struct cli_cmd channel_cmds[] = {
	{ "channel create", channel_create, "[--topic TEXT] NAME",
	  "create a channel" },
	{ "channel list", channel_list, "", "list the channels" },
	{ "channel rename", channel_rename, "CHANNEL NEWNAME",
	  "rename a channel (CHANNEL: its name or 8+ hex digits of its id)" },
	{ "channel topic", channel_topic, "CHANNEL TEXT", "set a channel's topic" },
	{ "channel archive", channel_archive, "CHANNEL",
	  "archive a channel: kept, read-only" },
	{ "channel unarchive", channel_unarchive, "CHANNEL",
	  "take a channel out of the archive" },
};

int
cmd_channel(struct cli *c, int argc, char **argv)
{
	return cli_group(c, cli_find_cmd("channel"), channel_cmds,
	    CLI_NELEM(channel_cmds), argc, argv);
}

/* ------------------------------------------------------------ digest */

struct digest_args {
	const char *channel;
	bool rebuild;
};

static int
digest_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct digest_args *a = ctx;

	(void)c;
	if (ch == 'c')
		a->channel = arg;
	else if (ch == 'r')
		a->rebuild = true;
	return -1;
}

int
cmd_digest(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "channel", required_argument, NULL, 'c' },
		{ "rebuild", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct digest_args a = { NULL, false };
	const char *channel;
	struct cli_channel ch;
	uint8_t d[32];
	char hex[CLI_HEX_ID];
	int rc;

	rc = cli_getopt(c, cli_find_cmd("digest"), argc, argv, opts, NULL, 0,
	    digest_opt, &a);
	if (rc >= 0)
		return rc;
	channel = a.channel;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	/* Every view recomputed from the stored entries first: what an
	 * upgrade whose views gained columns needs for what was stored
	 * before it (schema 9: imported subtypes, pins, files). */
	if (a.rebuild && (rc = kz_views_rebuild(c->st)) < 0)
		return cli_fail_workspace(c, rc);
	if (channel != NULL) {
		/* One channel's content, whichever node wrote it (an export
		 * imported elsewhere reads the same). */
		if ((rc = cli_channel_get(c, channel, &ch)) != 0)
			return rc;
		rc = kz_views_channel_digest(c->st, ch.id, d);
	} else {
		rc = kz_views_digest(c->st, d);
	}
	if (rc < 0)
		return cli_fail_workspace(c, rc);
	kz_hex(hex, d, sizeof(d));
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "digest", json_string(hex));
		cli_json_line(o);
	} else {
		printf("%s\n", hex);
	}
	return 0;
}
