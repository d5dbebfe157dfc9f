/*
 * Reading the workspace views: channels, messages in their total order,
 * threads, users, the roll call, nodes, acknowledgements.  Read-only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/search.h"
#include "kizuna/util.h"
#include "kizuna/views.h"
#include "store/store_int.h"

static int
prepare(struct kz_store *st, const char *sql, sqlite3_stmt **s)
{
	int rc = sqlite3_prepare_v2(kz__store_db(st), sql, -1, s, NULL);

	return rc == SQLITE_OK ? 0 : kz__store_err(st, rc, sql);
}

static const char *
text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL ? (const char *)t : "";
}

static void
blob32(uint8_t out[32], sqlite3_stmt *s, int col)
{
	if (sqlite3_column_bytes(s, col) == 32)
		memcpy(out, sqlite3_column_blob(s, col), 32);
	else
		memset(out, 0, 32);
}

/* Steps s, calling row() for each row; finalizes s. */
static int
each_row(struct kz_store *st, sqlite3_stmt *s,
    int (*row)(sqlite3_stmt *s, void (*cb)(void), void *ctx), void (*cb)(void),
    void *ctx)
{
	int rc = 0, src;

	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		if ((rc = row(s, cb, ctx)) != 0)
			break;
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "read view");
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------------ channels */

static int
channel_row(sqlite3_stmt *s, void (*cb)(void), void *ctx)
{
	struct kz_view_channel c;

	blob32(c.id, s, 0);
	c.name = text(s, 1);
	c.topic = text(s, 2);
	c.archived = sqlite3_column_int(s, 3) != 0;
	c.messages = (uint64_t)sqlite3_column_int64(s, 4);
	c.created_hlc = (uint64_t)sqlite3_column_int64(s, 5);
	return ((int (*)(void *, const struct kz_view_channel *))cb)(ctx, &c);
}

int
kz_views_channels(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_channel *c), void *ctx)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT c.id, c.name, c.topic, c.archived,"
	    " (SELECT count(*) FROM ws_messages m WHERE m.channel = c.id AND"
	    " m.deleted = 0 AND m.system = 0), c.created_hlc FROM ws_channels c"
	    " ORDER BY c.name, c.id", &s);

	if (rc < 0)
		return rc;
	return each_row(st, s, channel_row, (void (*)(void))cb, ctx);
}

/* Finds one id in table by exact name or by hex prefix of its id. */
static int
find_id(struct kz_store *st, const char *sql_name, const char *sql_prefix,
    const char *name_or_prefix, uint8_t id[32])
{
	sqlite3_stmt *s;
	size_t len = strlen(name_or_prefix), i;
	uint8_t lo[32], hi[32];
	int rc, n = 0;

	if (sql_name != NULL) {
		if ((rc = prepare(st, sql_name, &s)) < 0)
			return rc;
		sqlite3_bind_text(s, 1, name_or_prefix, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			blob32(id, s, 0);
			n++;
		}
		sqlite3_finalize(s);
		if (n == 1)
			return 0;
		if (n > 1)
			return KZ_ERR_EXISTS;
	}
	/* A hex prefix of at least 8 digits: the range [prefix00.., prefixff..]. */
	if (len < 8 || len > 64)
		return KZ_ERR_NOT_FOUND;
	memset(lo, 0, 32);
	memset(hi, 0xff, 32);
	for (i = 0; i < len; i++) {
		char c = name_or_prefix[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
		    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (v < 0)
			return KZ_ERR_NOT_FOUND;
		if (i % 2 == 0) {
			lo[i / 2] = (uint8_t)(v << 4);
			hi[i / 2] = (uint8_t)(v << 4 | 0x0f);
		} else {
			lo[i / 2] |= (uint8_t)v;
			hi[i / 2] = (uint8_t)((hi[i / 2] & 0xf0) | v);
		}
	}
	if ((rc = prepare(st, sql_prefix, &s)) < 0)
		return rc;
	sqlite3_bind_blob(s, 1, lo, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, hi, 32, SQLITE_STATIC);
	n = 0;
	while (sqlite3_step(s) == SQLITE_ROW && n < 2) {
		blob32(id, s, 0);
		n++;
	}
	sqlite3_finalize(s);
	return n == 1 ? 0 : n == 0 ? KZ_ERR_NOT_FOUND : KZ_ERR_EXISTS;
}

int
kz_views_channel_find(struct kz_store *st, const char *name_or_id,
    uint8_t id[KZ_ID_BYTES])
{
	return find_id(st, "SELECT id FROM ws_channels WHERE name = ?1",
	    "SELECT id FROM ws_channels WHERE id BETWEEN ?1 AND ?2 LIMIT 2",
	    name_or_id, id);
}

int
kz_views_message_find(struct kz_store *st, const char *id_prefix,
    uint8_t id[KZ_ID_BYTES])
{
	return find_id(st, NULL,
	    "SELECT id FROM ws_messages WHERE id BETWEEN ?1 AND ?2 LIMIT 2",
	    id_prefix, id);
}

/* ------------------------------------------------------------ messages */

#define MESSAGE_COLS "m.id, m.channel, m.hlc, m.author, m.seq, m.actor," \
	" m.thread_root, m.priority, m.text, m.edited, m.deleted, m.reply_count," \
	" (SELECT count(*) FROM ws_acks a WHERE a.target = m.id)," \
	" (SELECT count(*) FROM ws_reactions r WHERE r.target = m.id), m.broadcast," \
	" m.subtype, m.system, m.pinned, m.files, m.edited_hlc"
/* The columns of MESSAGE_COLS: a query's own come after them. */
#define MESSAGE_NCOLS 20

/* A channel's flow: its top-level messages and the replies also sent to it. */
#define IN_FLOW "(m.thread_root IS NULL OR m.broadcast = 1)"

static void
message_row_fill(struct kz_view_message *mp, sqlite3_stmt *s)
{
	blob32(mp->id, s, 0);
	blob32(mp->channel, s, 1);
	mp->hlc = (uint64_t)sqlite3_column_int64(s, 2);
	blob32(mp->author, s, 3);
	mp->seq = (uint64_t)sqlite3_column_int64(s, 4);
	mp->actor = text(s, 5);
	mp->has_thread_root = sqlite3_column_bytes(s, 6) == 32;
	blob32(mp->thread_root, s, 6);
	mp->priority = (enum kz_priority)sqlite3_column_int(s, 7);
	mp->text = text(s, 8);
	mp->edited = sqlite3_column_int(s, 9) != 0;
	mp->deleted = sqlite3_column_int(s, 10) != 0;
	mp->reply_count = (uint64_t)sqlite3_column_int64(s, 11);
	mp->acks = (uint64_t)sqlite3_column_int64(s, 12);
	mp->reactions = (uint64_t)sqlite3_column_int64(s, 13);
	mp->broadcast = sqlite3_column_int(s, 14) != 0;
	mp->subtype = text(s, 15);
	mp->system = sqlite3_column_int(s, 16) != 0;
	mp->pinned = sqlite3_column_int(s, 17) != 0;
	mp->n_files = (size_t)sqlite3_column_int64(s, 18);
	mp->edited_hlc = (uint64_t)sqlite3_column_int64(s, 19);
	mp->files = NULL;
}

void
kz__views_files_free(struct kz_view_file *f, size_t n)
{
	size_t i;

	for (i = 0; f != NULL && i < n; i++) {
		free((char *)f[i].id);
		free((char *)f[i].name);
		free((char *)f[i].title);
		free((char *)f[i].mimetype);
		free((char *)f[i].url);
	}
	free(f);
}

int
kz__views_message_files(struct kz_store *st, struct kz_view_message *m,
    struct kz_view_file **out)
{
	sqlite3_stmt *s;
	struct kz_view_file *v;
	size_t cap = m->n_files, n = 0;
	int rc = 0, src = SQLITE_DONE;

	*out = NULL;
	m->n_files = 0;
	m->files = NULL;
	if (cap == 0)
		return 0;
	if ((v = calloc(cap, sizeof(*v))) == NULL)
		return KZ_ERR_NOMEM;
	if ((rc = prepare(st, "SELECT id, name, title, mimetype, size, url FROM"
	    " ws_files WHERE message = ?1 ORDER BY pos", &s)) < 0) {
		free(v);
		return rc;
	}
	sqlite3_bind_blob(s, 1, m->id, KZ_ID_BYTES, SQLITE_STATIC);
	while (n < cap && (src = sqlite3_step(s)) == SQLITE_ROW) {
		struct kz_view_file *f = &v[n++];

		f->id = strdup(text(s, 0));
		f->name = strdup(text(s, 1));
		f->title = strdup(text(s, 2));
		f->mimetype = strdup(text(s, 3));
		f->size = (uint64_t)sqlite3_column_int64(s, 4);
		f->url = strdup(text(s, 5));
		if (f->id == NULL || f->name == NULL || f->title == NULL ||
		    f->mimetype == NULL || f->url == NULL) {
			rc = KZ_ERR_NOMEM;
			break;
		}
	}
	if (rc == 0 && n < cap && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "read file references");
	sqlite3_finalize(s);
	if (rc < 0) {
		kz__views_files_free(v, n);
		return rc;
	}
	*out = v;
	m->n_files = n;
	m->files = v;
	return 0;
}

/* Steps s over MESSAGE_COLS rows, each to cb with its file references. */
static int
each_message(struct kz_store *st, sqlite3_stmt *s,
    int (*cb)(void *ctx, const struct kz_view_message *m), void *ctx)
{
	int rc = 0, src;

	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		struct kz_view_message m;
		struct kz_view_file *files;

		message_row_fill(&m, s);
		if ((rc = kz__views_message_files(st, &m, &files)) < 0)
			break;
		rc = cb(ctx, &m);
		kz__views_files_free(files, m.n_files);
		if (rc != 0)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "read view");
	sqlite3_finalize(s);
	return rc;
}

int
kz_views_messages(struct kz_store *st, const uint8_t channel[KZ_ID_BYTES],
    uint64_t limit, int (*cb)(void *ctx, const struct kz_view_message *m),
    void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	/* The newest `limit` top-level messages, shown oldest first. */
	rc = prepare(st, "SELECT * FROM (SELECT " MESSAGE_COLS " FROM ws_messages m"
	    " WHERE m.channel = ?1 AND " IN_FLOW
	    " ORDER BY m.hlc DESC, m.author DESC, m.seq DESC LIMIT ?2)"
	    " ORDER BY 3, 4, 5", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, channel, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, limit == 0 ? -1 : (int64_t)limit);
	return each_message(st, s, cb, ctx);
}

int
kz_views_channel_messages(struct kz_store *st, const uint8_t channel[KZ_ID_BYTES],
    int (*cb)(void *ctx, const struct kz_view_message *m), void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	rc = prepare(st, "SELECT " MESSAGE_COLS " FROM ws_messages m"
	    " WHERE m.channel = ?1 ORDER BY m.hlc, m.author, m.seq", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, channel, 32, SQLITE_STATIC);
	return each_message(st, s, cb, ctx);
}

int
kz_views_messages_page(struct kz_store *st,
    const uint8_t channel[KZ_ID_BYTES], const struct kz_view_cursor *before,
    uint64_t limit, int (*cb)(void *ctx, const struct kz_view_message *m),
    void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	/* A row value compared with the index's own columns: one range scan. */
	rc = prepare(st, before != NULL ?
	    "SELECT " MESSAGE_COLS " FROM ws_messages m"
	    " WHERE m.channel = ?1 AND " IN_FLOW
	    " AND (m.hlc, m.author, m.seq) < (?3, ?4, ?5)"
	    " ORDER BY m.hlc DESC, m.author DESC, m.seq DESC LIMIT ?2" :
	    "SELECT " MESSAGE_COLS " FROM ws_messages m"
	    " WHERE m.channel = ?1 AND " IN_FLOW
	    " ORDER BY m.hlc DESC, m.author DESC, m.seq DESC LIMIT ?2", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, channel, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, limit == 0 ? -1 : (int64_t)limit);
	if (before != NULL) {
		sqlite3_bind_int64(s, 3, (int64_t)before->hlc);
		sqlite3_bind_blob(s, 4, before->author, 32, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, (int64_t)before->seq);
	}
	return each_message(st, s, cb, ctx);
}

int
kz_views_thread(struct kz_store *st, const uint8_t root[KZ_ID_BYTES],
    int (*cb)(void *ctx, const struct kz_view_message *m), void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	rc = prepare(st, "SELECT " MESSAGE_COLS " FROM ws_messages m"
	    " WHERE m.id = ?1 OR m.thread_root = ?1"
	    " ORDER BY m.id <> ?1, m.hlc, m.author, m.seq", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, root, 32, SQLITE_STATIC);
	return each_message(st, s, cb, ctx);
}

int
kz_views_unacked(struct kz_store *st, const char *user, uint64_t limit,
    int (*cb)(void *ctx, const struct kz_view_message *m), void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	/* The partial index ws_messages_urgent: newest first by doc. */
	rc = prepare(st, "SELECT " MESSAGE_COLS " FROM ws_messages m"
	    " INDEXED BY ws_messages_urgent"
	    " WHERE m.priority > 0 AND m.deleted = 0 AND m.actor <> ?1"
	    " AND NOT EXISTS (SELECT 1 FROM ws_acks a"
	    "   WHERE a.target = m.id AND a.user = ?1)"
	    " ORDER BY m.doc DESC LIMIT ?2", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, limit == 0 ? -1 : (int64_t)limit);
	return each_message(st, s, cb, ctx);
}

/* ------------------------------------------------------------ users */

static int
user_row(sqlite3_stmt *s, void (*cb)(void), void *ctx)
{
	struct kz_view_user u;

	u.id = text(s, 0);
	u.display_name = text(s, 1);
	u.department = text(s, 2);
	u.role = (enum kz_role)sqlite3_column_int(s, 3);
	u.active = sqlite3_column_int(s, 4) != 0;
	u.password_hash = text(s, 5);
	u.has_password = *u.password_hash != '\0';
	return ((int (*)(void *, const struct kz_view_user *))cb)(ctx, &u);
}

int
kz_views_users(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_user *u), void *ctx)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT id, display_name, department, role, active,"
	    " password_hash FROM ws_users ORDER BY id", &s);

	if (rc < 0)
		return rc;
	return each_row(st, s, user_row, (void (*)(void))cb, ctx);
}

struct one_user {
	int found;
	int (*cb)(void *ctx, const struct kz_view_user *u);
	void *ctx;
};

static int
one_user_cb(void *ctx, const struct kz_view_user *u)
{
	struct one_user *o = ctx;

	o->found = 1;
	return o->cb(o->ctx, u);
}

int
kz_views_user(struct kz_store *st, const char *id,
    int (*cb)(void *ctx, const struct kz_view_user *u), void *ctx)
{
	struct one_user o = { 0, cb, ctx };
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT id, display_name, department, role, active,"
	    " password_hash FROM ws_users WHERE id = ?1", &s);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = each_row(st, s, user_row, (void (*)(void))one_user_cb, &o);
	if (rc == 0 && !o.found)
		rc = KZ_ERR_NOT_FOUND;
	return rc;
}

/* ------------------------------------------------------------ roll call */

static int
safety_row(sqlite3_stmt *s, void (*cb)(void), void *ctx)
{
	struct kz_view_safety v;

	v.user = text(s, 0);
	v.display_name = text(s, 1);
	v.status = (enum kz_safety)sqlite3_column_int(s, 2);
	v.place = text(s, 3);
	v.note = text(s, 4);
	v.reporter = text(s, 5);
	v.hlc = (uint64_t)sqlite3_column_int64(s, 6);
	return ((int (*)(void *, const struct kz_view_safety *))cb)(ctx, &v);
}

int
kz_views_rollcall(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_safety *s), void *ctx)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT u.id, u.display_name, coalesce(r.status, 0),"
	    " coalesce(r.place, ''), coalesce(r.note, ''), coalesce(r.reporter, ''),"
	    " coalesce(r.hlc, 0) FROM ws_users u LEFT JOIN ws_rollcall r"
	    " ON r.user = u.id WHERE u.active = 1 ORDER BY u.id", &s);

	if (rc < 0)
		return rc;
	return each_row(st, s, safety_row, (void (*)(void))cb, ctx);
}

/* ------------------------------------------------------------ nodes, acks, mesh */

static int
node_row(sqlite3_stmt *s, void (*cb)(void), void *ctx)
{
	struct kz_view_node n;

	blob32(n.key, s, 0);
	n.name = text(s, 1);
	n.admin = sqlite3_column_int(s, 2) != 0;
	n.revoked = sqlite3_column_type(s, 3) != SQLITE_NULL;
	n.last_seq = (uint64_t)sqlite3_column_int64(s, 3);
	return ((int (*)(void *, const struct kz_view_node *))cb)(ctx, &n);
}

int
kz_views_nodes(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_node *n), void *ctx)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT key, name, admin, last_seq FROM ws_nodes"
	    " ORDER BY name, key", &s);

	if (rc < 0)
		return rc;
	return each_row(st, s, node_row, (void (*)(void))cb, ctx);
}

int
kz_views_node_admitted(struct kz_store *st, const uint8_t key[32],
    bool *admitted)
{
	uint8_t root[32];
	sqlite3_stmt *s;
	int rc = kz_views_root(st, root), src;

	*admitted = false;
	if (rc == KZ_ERR_NOT_FOUND || (rc == 0 && memcmp(root, key, 32) == 0)) {
		*admitted = true;
		return 0;
	}
	if (rc < 0 || (rc = prepare(st, "SELECT 1 FROM ws_nodes WHERE key = ?1",
	    &s)) < 0)
		return rc;
	sqlite3_bind_blob(s, 1, key, 32, SQLITE_STATIC);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		*admitted = true;
	else if (src != SQLITE_DONE)
		rc = kz__store_err(st, src, "read view");
	sqlite3_finalize(s);
	return rc;
}

static int
link_report_row(sqlite3_stmt *s, void (*cb)(void), void *ctx)
{
	struct kz_view_link_report r;
	struct kz_op *op = NULL;
	int rc;

	memset(&r, 0, sizeof(r));
	blob32(r.node, s, 0);
	r.hlc = (uint64_t)sqlite3_column_int64(s, 1);
	r.seq = (uint64_t)sqlite3_column_int64(s, 2);
	if (sqlite3_column_type(s, 3) == SQLITE_NULL ||
	    kz_op_decode(&op, sqlite3_column_blob(s, 3),
	    (size_t)sqlite3_column_bytes(s, 3)) < 0 ||
	    op->type != KZ_OP_LINK_REPORT) {
		kz_op_free(op);
		return KZ_ERR_CORRUPT;
	}
	r.n_links = op->u.link_report.n_links;
	r.links = op->u.link_report.links;
	rc = ((int (*)(void *, const struct kz_view_link_report *))cb)(ctx, &r);
	kz_op_free(op);
	return rc;
}

int
kz_views_link_reports(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_link_report *r), void *ctx)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT r.node, r.hlc, r.seq, e.op FROM"
	    " ws_link_reports r JOIN entries e ON e.rowid = r.entry"
	    " ORDER BY r.node", &s);

	if (rc < 0)
		return rc;
	return each_row(st, s, link_report_row, (void (*)(void))cb, ctx);
}

static int
ack_row(sqlite3_stmt *s, void (*cb)(void), void *ctx)
{
	return ((int (*)(void *, const char *))cb)(ctx, text(s, 0));
}

int
kz_views_acks(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    int (*cb)(void *ctx, const char *user), void *ctx)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT user FROM ws_acks WHERE target = ?1"
	    " ORDER BY user", &s);

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	return each_row(st, s, ack_row, (void (*)(void))cb, ctx);
}

int
kz_views_mesh(struct kz_store *st, uint8_t mesh_id[KZ_ID_BYTES],
    char name[KZ_NAME_MAX + 1])
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT (SELECT v FROM ws_meta WHERE k = 'mesh_id'),"
	    " (SELECT CAST(v AS TEXT) FROM ws_meta WHERE k = 'mesh_name')", &s);

	if (rc < 0)
		return rc;
	rc = KZ_ERR_NOT_FOUND;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32) {
		memcpy(mesh_id, sqlite3_column_blob(s, 0), 32);
		snprintf(name, KZ_NAME_MAX + 1, "%s", text(s, 1));
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------------ search */

/* The newest matches a ranked search scores (bm25 costs ~2 us a match). */
#define RANK_WINDOW 25000
#define DOC_SLOT_BITS 4	/* as in views.c: doc = (minute << 4) | slot */

/* Appends printf output to a malloc'd string; returns -1 when out of memory. */
static int
append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < *cap - *len) {
			*len += (size_t)n;
			return 0;
		}
		{
			size_t ncap = (*cap + (size_t)n) * 2;
			char *p = realloc(*buf, ncap);

			if (p == NULL)
				return -1;
			*buf = p;
			*cap = ncap;
		}
	}
}

/*
 * The MATCH expression: the person's query on the text column, and each
 * filter as a term of the meta column (see ws_messages.meta), so FTS5
 * intersects term lists instead of reading every match of the text.
 */
static int
match_expr(char **out, const char *query, const struct kz_search_filter *f)
{
	size_t qcap = KZ_SEARCH_QUERY_MAX(strlen(query)), len = 0, cap;
	char *q = malloc(qcap), *buf = NULL, hex[2 * KZ_USER_ID_MAX + 1];
	int rc;

	*out = NULL;
	if (q == NULL)
		return KZ_ERR_NOMEM;
	if ((rc = kz_search_query(q, qcap, query)) < 0)
		goto out;
	cap = qcap + 256;
	rc = KZ_ERR_NOMEM;
	if ((buf = malloc(cap)) == NULL ||
	    append(&buf, &len, &cap, "{text} : (%s)", q) < 0)
		goto out;
	if (f->channel != NULL) {
		kz_hex(hex, f->channel, 8);
		if (append(&buf, &len, &cap, " AND {meta} : c%s", hex) < 0)
			goto out;
	}
	if (f->author != NULL) {
		if (!kz_user_id_valid(f->author)) {
			rc = KZ_ERR_INVAL;
			goto out;
		}
		kz_hex(hex, (const uint8_t *)f->author, strlen(f->author));
		if (append(&buf, &len, &cap, " AND {meta} : \"a%.63s\"", hex) < 0)
			goto out;
	}
	if (f->min_priority == KZ_PRIO_URGENT &&
	    append(&buf, &len, &cap, " AND {meta} : (p1 OR p2)") < 0)
		goto out;
	if (f->min_priority == KZ_PRIO_EMERGENCY &&
	    append(&buf, &len, &cap, " AND {meta} : p2") < 0)
		goto out;
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	free(q);
	return rc;
}

int
kz_views_search(struct kz_store *st, const char *query,
    const struct kz_search_filter *filter,
    int (*cb)(void *ctx, const struct kz_search_hit *hit), void *ctx)
{
	static const struct kz_search_filter none = { 0 };
	const struct kz_search_filter *f = filter != NULL ? filter : &none;
	char *match = NULL;
	sqlite3_stmt *s = NULL;
	int64_t lo, hi;
	int rc, src;

	if ((rc = match_expr(&match, query, f)) < 0)
		return rc;
	/* A time range is a doc range (to the minute), then exact on hlc. */
	lo = (int64_t)(f->since_ms / 60000) << DOC_SLOT_BITS;
	hi = f->until_ms != 0 ?
	    (int64_t)((f->until_ms + 59999) / 60000 + 1) << DOC_SLOT_BITS : INT64_MAX;
	if (f->ranked) {
		/* Score only the newest RANK_WINDOW matches. */
		if ((rc = prepare(st, "SELECT rowid FROM ws_search WHERE ws_search"
		    " MATCH ?1 AND rowid >= ?2 AND rowid < ?3 ORDER BY rowid DESC"
		    " LIMIT 1 OFFSET ?4", &s)) < 0)
			goto out;
		sqlite3_bind_text(s, 1, match, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, lo);
		sqlite3_bind_int64(s, 3, hi);
		sqlite3_bind_int(s, 4, RANK_WINDOW - 1);
		if (sqlite3_step(s) == SQLITE_ROW)
			lo = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		s = NULL;
	}
	rc = prepare(st, f->ranked ?
	    "SELECT " MESSAGE_COLS ", kz_snippet(ws_search, 0, ?9, ?10, '…', 16),"
	    " bm25(ws_search) FROM ws_search JOIN ws_messages m ON m.doc = ws_search.rowid"
	    " WHERE ws_search MATCH ?1 AND ws_search.rowid >= ?2 AND ws_search.rowid < ?3"
	    " AND (?4 IS NULL OR m.channel = ?4) AND (?5 IS NULL OR m.actor = ?5)"
	    " AND m.priority >= ?6 AND m.hlc >= ?11 AND m.hlc < ?12"
	    " ORDER BY bm25(ws_search) LIMIT ?7 OFFSET ?8" :
	    "SELECT " MESSAGE_COLS ", kz_snippet(ws_search, 0, ?9, ?10, '…', 16),"
	    " 0.0 FROM ws_search JOIN ws_messages m ON m.doc = ws_search.rowid"
	    " WHERE ws_search MATCH ?1 AND ws_search.rowid >= ?2 AND ws_search.rowid < ?3"
	    " AND (?4 IS NULL OR m.channel = ?4) AND (?5 IS NULL OR m.actor = ?5)"
	    " AND m.priority >= ?6 AND m.hlc >= ?11 AND m.hlc < ?12"
	    " ORDER BY ws_search.rowid DESC LIMIT ?7 OFFSET ?8", &s);
	if (rc < 0)
		goto out;
	sqlite3_bind_text(s, 1, match, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, lo);
	sqlite3_bind_int64(s, 3, hi);
	if (f->channel != NULL)
		sqlite3_bind_blob(s, 4, f->channel, 32, SQLITE_STATIC);
	if (f->author != NULL)
		sqlite3_bind_text(s, 5, f->author, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, (int)f->min_priority);
	sqlite3_bind_int64(s, 7, f->limit != 0 ? (int64_t)f->limit : 20);
	sqlite3_bind_int64(s, 8, (int64_t)f->offset);
	sqlite3_bind_text(s, 9, f->mark_open ? f->mark_open : "[", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, f->mark_close ? f->mark_close : "]", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 11, (int64_t)(f->since_ms << 16));
	sqlite3_bind_int64(s, 12, f->until_ms != 0 ? (int64_t)(f->until_ms << 16) :
	    INT64_MAX);
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		struct kz_search_hit hit;
		struct kz_view_file *files;

		message_row_fill(&hit.m, s);
		hit.snippet = text(s, MESSAGE_NCOLS);
		hit.score = sqlite3_column_double(s, MESSAGE_NCOLS + 1);
		if ((rc = kz__views_message_files(st, &hit.m, &files)) < 0)
			break;
		rc = cb(ctx, &hit);
		kz__views_files_free(files, hit.m.n_files);
		if (rc != 0)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "search");
out:
	sqlite3_finalize(s);
	free(match);
	return rc;
}
