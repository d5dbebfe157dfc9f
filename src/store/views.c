/*
 * The materialized workspace (see kizuna/views.h).
 *
 * Facts: ws_facts files each decodable entry under the id it is about:
 *   post, channel_create             its own hash (the new message / channel)
 *   channel_set                      the channel
 *   edit, delete, purge, react, ack  the message
 *   safety                           "u:" + the subject's user id
 *   link_report                      "n:" + the author's node key
 *   mesh, node and user entries      NULL: control facts
 *
 * recompute_key() rebuilds every view row of one id from all of its facts
 * through the pure merge rules; apply() runs it for each id the new entries
 * touched, inside the caller's transaction.  A control fact changes who may
 * do what anywhere, so it rebuilds the control state and every view.
 * A valid purge drops the op bytes of the message's post and edits from
 * entries (secure_delete overwrites the freed bytes), and no view keeps them.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/util.h"
#include "kizuna/views.h"
#include "kizuna/workspace.h"
#include "store/store_int.h"

#define USER_KEY_PREFIX "u:"
#define NODE_KEY_PREFIX "n:"

/* Kinds of facts an id has (fact_kinds). */
#define KIND_CHANNEL 1u
#define KIND_MESSAGE 2u
#define KIND_REACT 4u
#define KIND_ACK 8u

/* Dirty ids, each with the entry of this call that made it dirty (-1: none). */
struct keylist {
	uint8_t (*keys)[2 + KZ_USER_ID_MAX];
	uint8_t *lens;
	int32_t *facts;	/* the fact's index in its factset, | FACT_FLAGS */
	size_t n, cap;
};

/* The fact was filed just now (not already filed by an earlier apply). */
#define FACT_FRESH 0x40000000
/* No fact was filed under its key before (struct keyfilter). */
#define FACT_NEWKEY 0x20000000
#define FACT_FLAGS (FACT_FRESH | FACT_NEWKEY)

/*
 * The keys ws_facts holds, as a Bloom filter, so that a bulk group (an
 * import) need not look up whether each new post's id already has facts
 * (new_post's count: 3.6% of an import's store thread, callgrind).
 * It never misses a key: it is built from the table, and file_facts adds
 * every key it files; a rollback or a deletion leaves keys it no longer
 * holds, which only costs the look-up.  Another connection's commit
 * (PRAGMA data_version moves) may have filed keys it does not know: it is
 * then dropped for good.  Built at the first bulk apply (a scan of the
 * key index) with room for half as many keys again, about 3 bytes a fact,
 * and built again bigger when it fills; not past 32 MiB (a store of more
 * than ~11 million facts looks every new post up, as before).
 */
struct keyfilter {
	uint64_t *bits;		/* NULL: not built */
	uint64_t nbits;		/* a power of two */
	uint64_t keys, cap;	/* keys added; rebuilt past cap */
	int64_t data_version;
	bool off;		/* dropped for good */
};

#define KEYFILTER_MIN_BITS (1u << 20)
#define KEYFILTER_MAX_BITS (1ull << 28)	/* 32 MiB: ~11 million facts */
#define KEYFILTER_BITS_PER_KEY 16	/* 3 probes: 0.2-0.5% false hits */

#define STMT_CACHE 64

struct kz__views {
	/* Prepared statements, found by the address of their SQL text. */
	struct {
		const char *sql;
		sqlite3_stmt *s;
	} cache[STMT_CACHE];
	bool loaded;		/* root and control state read */
	bool has_root;
	uint8_t root[32];
	struct kz_ws_control ctl;
	struct keylist dirty;
	bool control_dirty;
	bool purged;		/* this call applied a purge */
	bool merge_set;		/* the index's automerge and hashsize are set */
	uint64_t indexed;	/* documents this call added to the index */
	uint64_t merge_owed;	/* index pages to merge (fts_merge_step) */
	size_t defer_min;	/* defer runs longer than this; 0: never */
	/* The last doc new_doc gave in this call, and for which minute. */
	struct {
		bool valid;
		bool spilled;	/* past its minute: the highest doc >= base */
		int64_t base, last;
	} doc;
	struct keyfilter kf;
	uint64_t posts_unlooked;	/* new posts the filter spared a look-up */
};

/* One id's facts, decoded. */
struct factset {
	struct kz_ws_fact *f;
	struct kz_op **ops;
	int64_t *rowids;
	size_t n, cap;
};

static sqlite3 *
db_of(struct kz_store *st)
{
	return kz__store_db(st);
}

static struct kz__views *views_state(struct kz_store *st, int *rc);

/*
 * A prepared statement for sql (a string literal: the cache is keyed by its
 * address), reset and unbound.  Callers sqlite3_reset() it when done.
 */
static int
prep(struct kz_store *st, sqlite3_stmt **s, const char *sql)
{
	struct kz__views *v;
	int rc, i;

	if ((v = views_state(st, &rc)) == NULL)
		return rc;
	for (i = 0; i < STMT_CACHE && v->cache[i].sql != NULL; i++) {
		if (v->cache[i].sql == sql) {
			*s = v->cache[i].s;
			sqlite3_reset(*s);
			sqlite3_clear_bindings(*s);
			return 0;
		}
	}
	rc = sqlite3_prepare_v3(db_of(st), sql, -1, SQLITE_PREPARE_PERSISTENT,
	    s, NULL);
	if (rc != SQLITE_OK)
		return kz__store_err(st, rc, sql);
	if (i == STMT_CACHE) {
		/* Full: should not happen (a fixed set of statements). */
		sqlite3_finalize(v->cache[0].s);
		i = 0;
	}
	v->cache[i].sql = sql;
	v->cache[i].s = *s;
	return 0;
}

/* Runs a statement that returns no rows (bindings already done). */
static int
run(struct kz_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : kz__store_err(st, rc, what);
}

static void
factset_free(struct factset *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		kz_op_free(fs->ops[i]);
	free(fs->f);
	free(fs->ops);
	free(fs->rowids);
	memset(fs, 0, sizeof(*fs));
}

/* Adds one fact to fs, taking op (not on failure). */
static int
factset_push(struct factset *fs, int64_t rowid, uint64_t hlc,
    const uint8_t author[32], uint64_t seq, const uint8_t hash[KZ_HASH_BYTES],
    struct kz_op *op)
{
	struct kz_ws_fact *f;

	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 16;
		void *a = realloc(fs->f, cap * sizeof(*fs->f));
		void *b = a ? realloc(fs->ops, cap * sizeof(*fs->ops)) : NULL;
		void *c = b ? realloc(fs->rowids, cap * sizeof(*fs->rowids)) : NULL;

		if (a)
			fs->f = a;
		if (b)
			fs->ops = b;
		if (c == NULL)
			return KZ_ERR_NOMEM;
		fs->rowids = c;
		fs->cap = cap;
	}
	f = &fs->f[fs->n];
	f->hlc = hlc;
	memcpy(f->author, author, 32);
	f->seq = seq;
	memcpy(f->hash, hash, KZ_HASH_BYTES);
	f->op = fs->ops[fs->n] = op;
	fs->rowids[fs->n] = rowid;
	fs->n++;
	return 0;
}

/* Adds one entry row (rowid, header, hash, op) from s to fs. */
static int
factset_add(struct factset *fs, sqlite3_stmt *s)
{
	struct kz_entry_header h;
	struct kz_op *op = NULL;
	int rc;

	if (kz_header_decode(&h, sqlite3_column_blob(s, 1),
	    (size_t)sqlite3_column_bytes(s, 1)) < 0 ||
	    sqlite3_column_bytes(s, 2) != KZ_HASH_BYTES)
		return KZ_ERR_CORRUPT;
	if (sqlite3_column_type(s, 3) != SQLITE_NULL)
		(void)kz_op_decode(&op, sqlite3_column_blob(s, 3),
		    (size_t)sqlite3_column_bytes(s, 3));
	if ((rc = factset_push(fs, sqlite3_column_int64(s, 0), h.hlc, h.author,
	    h.seq, sqlite3_column_blob(s, 2), op)) < 0)
		kz_op_free(op);
	return rc;
}

/*
 * Fills fs from the rows a bulk group appended, taking their ops: the same
 * factset that reading those entries back with factset_add would give.
 */
static int
factset_from_rows(struct factset *fs, const uint8_t author[KZ_PK_BYTES],
    struct kz__bulk_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (factset_push(fs, rows[i].rowid, rows[i].hlc, author,
		    rows[i].seq, rows[i].hash, rows[i].op) < 0) {
			factset_free(fs);
			return KZ_ERR_NOMEM;
		}
		rows[i].op = NULL;
	}
	return 0;
}

/* The facts filed under key (NULL: the control facts). */
static int
load_facts(struct kz_store *st, const uint8_t *key, size_t key_len,
    struct factset *fs)
{
	sqlite3_stmt *s;
	int rc, src;

	rc = prep(st, &s, key != NULL ?
	    "SELECT e.rowid, e.header, e.hash, e.op FROM ws_facts w"
	    " JOIN entries e ON e.rowid = w.entry WHERE w.key = ?1" :
	    "SELECT e.rowid, e.header, e.hash, e.op FROM ws_facts w"
	    " JOIN entries e ON e.rowid = w.entry WHERE w.key IS NULL");
	if (rc < 0)
		return rc;
	if (key != NULL)
		sqlite3_bind_blob(s, 1, key, (int)key_len, SQLITE_STATIC);
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		if ((rc = factset_add(fs, s)) < 0)
			break;
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "load facts");
	sqlite3_reset(s);
	return rc;
}

/* ------------------------------------------------------------ control */

static int
load_root(struct kz_store *st, struct kz__views *v)
{
	sqlite3_stmt *s;
	int rc = prep(st, &s, "SELECT v FROM ws_meta WHERE k = 'root'");

	if (rc < 0)
		return rc;
	v->has_root = false;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32) {
		memcpy(v->root, sqlite3_column_blob(s, 0), 32);
		v->has_root = true;
	}
	sqlite3_reset(s);
	return 0;
}

/*
 * Rebuilds the control state from the control facts and writes its views.
 * The previous state is handed back in *old (the caller frees it) so that
 * only the ids whose rules changed need recomputing.
 */
static int
rebuild_control(struct kz_store *st, struct kz__views *v,
    struct kz_ws_control *old)
{
	struct factset fs = { 0 };
	uint8_t zero[32] = { 0 };
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc;

	*old = v->ctl;
	memset(&v->ctl, 0, sizeof(v->ctl));
	if ((rc = load_facts(st, NULL, 0, &fs)) < 0)
		goto out;
	rc = kz_ws_control_build(&v->ctl, v->has_root ? v->root : zero, fs.f,
	    v->has_root ? fs.n : 0);
	if (rc < 0)
		goto out;
	if ((rc = prep(st, &s, "DELETE FROM ws_users")) < 0 ||
	    (rc = run(st, s, "clear users")) < 0 ||
	    (rc = prep(st, &s, "DELETE FROM ws_nodes")) < 0 ||
	    (rc = run(st, s, "clear nodes")) < 0 ||
	    (rc = prep(st, &s, "DELETE FROM ws_meta WHERE k IN ('mesh_id', 'mesh_name')")) < 0 ||
	    (rc = run(st, s, "clear mesh")) < 0)
		goto out;
	s = NULL;
	for (i = 0; i < v->ctl.n_users; i++) {
		const struct kz_ws_user *u = &v->ctl.users[i];

		if ((rc = prep(st, &s, "INSERT INTO ws_users(id, display_name,"
		    " department, role, active, password_hash) VALUES (?1, ?2, ?3,"
		    " ?4, ?5, ?6)")) < 0)
			goto out;
		sqlite3_bind_text(s, 1, u->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, u->display_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, u->department, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 4, (int)u->role);
		sqlite3_bind_int(s, 5, u->active);
		sqlite3_bind_text(s, 6, u->password_hash, -1, SQLITE_STATIC);
		if ((rc = run(st, s, "write user")) < 0)
			goto out;
	}
	for (i = 0; i < v->ctl.n_nodes; i++) {
		const struct kz_ws_node *n = &v->ctl.nodes[i];

		if ((rc = prep(st, &s, "INSERT INTO ws_nodes(key, name, admin,"
		    " last_seq) VALUES (?1, ?2, ?3, ?4)")) < 0)
			goto out;
		sqlite3_bind_blob(s, 1, n->key, 32, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, n->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, n->admin);
		if (n->last_seq == UINT64_MAX)
			sqlite3_bind_null(s, 4);
		else
			sqlite3_bind_int64(s, 4, (int64_t)n->last_seq);
		if ((rc = run(st, s, "write node")) < 0)
			goto out;
	}
	if (v->ctl.has_mesh) {
		if ((rc = prep(st, &s, "INSERT INTO ws_meta(k, v) VALUES"
		    " ('mesh_id', ?1), ('mesh_name', CAST(?2 AS BLOB))")) < 0)
			goto out;
		sqlite3_bind_blob(s, 1, v->ctl.mesh_id, KZ_ID_BYTES, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, v->ctl.mesh_name, -1, SQLITE_STATIC);
		if ((rc = run(st, s, "write mesh")) < 0)
			goto out;
	}
	rc = 0;
out:
	factset_free(&fs);
	return rc;
}

static struct kz__views *
views_state(struct kz_store *st, int *rc)
{
	struct kz__views **vp = kz__store_views(st), *v = *vp;

	*rc = 0;
	if (v == NULL) {
		v = calloc(1, sizeof(*v));
		if (v == NULL) {
			*rc = KZ_ERR_NOMEM;
			return NULL;
		}
		*vp = v;
	}
	return v;
}

static struct kz__views *
views_of(struct kz_store *st, int *rc)
{
	struct kz__views *v = views_state(st, rc);

	if (v == NULL)
		return NULL;
	if (!v->loaded) {
		if ((*rc = load_root(st, v)) < 0)
			return NULL;
		kz_ws_control_free(&v->ctl);
		/* The control views are persisted; rebuild the in-memory
		 * state from the facts (pure, no writes needed if unchanged). */
		{
			struct factset fs = { 0 };
			uint8_t zero[32] = { 0 };

			*rc = load_facts(st, NULL, 0, &fs);
			if (*rc == 0)
				*rc = kz_ws_control_build(&v->ctl, v->has_root ?
				    v->root : zero, fs.f, v->has_root ? fs.n : 0);
			factset_free(&fs);
			if (*rc < 0)
				return NULL;
		}
		v->loaded = true;
	}
	return v;
}

void
kz__views_free(struct kz__views *v)
{
	int i;

	if (v == NULL)
		return;
	for (i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(v->cache[i].s);
	kz_ws_control_free(&v->ctl);
	free(v->kf.bits);
	free(v->dirty.keys);
	free(v->dirty.lens);
	free(v->dirty.facts);
	free(v);
}

uint64_t
kz__views_posts_unlooked(struct kz_store *st)
{
	struct kz__views *v = *kz__store_views(st);

	return v != NULL ? v->posts_unlooked : 0;
}

void
kz__views_forget(struct kz_store *st)
{
	struct kz__views *v = *kz__store_views(st);

	if (v != NULL) {
		v->loaded = false;
		v->merge_set = false;
		v->dirty.n = 0;
		v->control_dirty = false;
	}
}

/* ------------------------------------------------------------ one id */

static int
exec1(struct kz_store *st, const char *sql, const void *key, size_t key_len)
{
	sqlite3_stmt *s;
	int rc = prep(st, &s, sql);

	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, key, (int)key_len, SQLITE_STATIC);
	return run(st, s, sql);
}

static int
update_reply_count(struct kz_store *st, const void *root)
{
	return exec1(st, "UPDATE ws_messages SET reply_count = (SELECT count(*)"
	    " FROM ws_messages r WHERE r.thread_root = ?1 AND r.deleted = 0)"
	    " WHERE id = ?1", root, KZ_ID_BYTES);
}

/*
 * A reply that was not there before and is not deleted: its root's count
 * goes up by one.  The count above reads every reply of the thread, which
 * made a thread of n replies arriving one by one cost n^2 / 2 row reads.
 * A root that is not there yet counts its replies when it comes
 * (MESSAGE_INSERT).
 */
static int
add_reply(struct kz_store *st, const void *root)
{
	return exec1(st, "UPDATE ws_messages SET reply_count = reply_count + 1"
	    " WHERE id = ?1", root, KZ_ID_BYTES);
}

static int
write_channel(struct kz_store *st, const uint8_t *id, const struct factset *fs,
    struct kz__views *v)
{
	struct kz_ws_channel ch;
	sqlite3_stmt *s;
	int rc;

	if (!kz_ws_channel_merge(&v->ctl, id, fs->f, fs->n, &ch))
		return exec1(st, "DELETE FROM ws_channels WHERE id = ?1", id, 32);
	if ((rc = prep(st, &s, "INSERT OR REPLACE INTO ws_channels(id, name, topic,"
	    " archived, created_hlc, creator) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")) < 0)
		return rc;
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, ch.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, ch.topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, ch.archived);
	sqlite3_bind_int64(s, 5, (int64_t)ch.created_hlc);
	sqlite3_bind_text(s, 6, ch.creator, -1, SQLITE_STATIC);
	return run(st, s, "write channel");
}

/*
 * The file references of a message (n of them) in their order, replacing
 * the `had` rows it had (old_message).  Called only for a message that has
 * or had some, so an ordinary post costs no statement here.
 */
static int
write_files(struct kz_store *st, const uint8_t *id,
    const struct kz_imported_file *files, size_t n, int64_t had)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	if (had > 0 &&
	    (rc = exec1(st, "DELETE FROM ws_files WHERE message = ?1", id, 32)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		const struct kz_imported_file *f = &files[i];

		if ((rc = prep(st, &s, "INSERT INTO ws_files(message, pos, id, name,"
		    " title, mimetype, size, url) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
		    " ?7, ?8)")) < 0)
			return rc;
		sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_text(s, 3, f->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, f->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, f->title, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, f->mimetype, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, (int64_t)f->size);
		sqlite3_bind_text(s, 8, f->url, -1, SQLITE_STATIC);
		if ((rc = run(st, s, "write file reference")) < 0)
			return rc;
	}
	return 0;
}

/* Drops the op bytes of the post and edits of a purged message. */
static int
drop_purged_bytes(struct kz_store *st, const struct factset *fs)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	for (i = 0; i < fs->n; i++) {
		const struct kz_op *op = fs->ops[i];

		if (op == NULL || (op->type != KZ_OP_POST && op->type != KZ_OP_EDIT))
			continue;
		if ((rc = prep(st, &s, "UPDATE entries SET op = NULL WHERE rowid = ?1")) < 0)
			return rc;
		sqlite3_bind_int64(s, 1, fs->rowids[i]);
		if ((rc = run(st, s, "purge op bytes")) < 0)
			return rc;
	}
	return 0;
}

/* What the views held for a message before this recompute. */
struct old_message {
	bool exists;
	int64_t doc;
	bool has_root;
	uint8_t root[32];
	char *text;		/* malloc'd; what the search index holds, or NULL */
	char *meta;		/* malloc'd, with text */
	int64_t files;		/* its rows in ws_files */
};

static int
old_message(struct kz_store *st, const uint8_t *id, struct old_message *o)
{
	sqlite3_stmt *s;
	int rc = prep(st, &s, "SELECT doc, thread_root, text, deleted, meta, files"
	    " FROM ws_messages WHERE id = ?1");

	memset(o, 0, sizeof(*o));
	if (rc < 0)
		return rc;
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		o->exists = true;
		o->doc = sqlite3_column_int64(s, 0);
		o->files = sqlite3_column_int64(s, 5);
		if (sqlite3_column_bytes(s, 1) == 32) {
			memcpy(o->root, sqlite3_column_blob(s, 1), 32);
			o->has_root = true;
		}
		if (sqlite3_column_int(s, 3) == 0 && sqlite3_column_bytes(s, 2) > 0) {
			o->text = strdup((const char *)sqlite3_column_text(s, 2));
			o->meta = strdup((const char *)sqlite3_column_text(s, 4));
			if (o->text == NULL || o->meta == NULL)
				rc = KZ_ERR_NOMEM;
		}
	}
	sqlite3_reset(s);
	return rc;
}

/* Removes what the search index holds of a message (its old values). */
static int
fts_remove(struct kz_store *st, int64_t doc, const char *text, const char *meta)
{
	sqlite3_stmt *s;
	int rc = prep(st, &s, "INSERT INTO ws_search(ws_search, rowid, text, meta)"
	    " VALUES ('delete', ?1, ?2, ?3)");

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, doc);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, meta, -1, SQLITE_STATIC);
	return run(st, s, "update search index");
}

/*
 * The terms FTS5 holds in memory before it writes them as a segment (its
 * 'hashsize', 1 MiB by default; a commit writes them anyway, so this only
 * matters to big transactions).  A 10,000-post import batch holds several
 * MiB: cut into a segment a MiB, FTS5's crisis merge then merged those
 * again inside the import (kizuna-bench slack, 100,000 messages: the
 * store thread's CPU time 4.3 s -> 4.0 s median, 397 -> 369 MiB written).
 */
#define FTS_HASH_BYTES (16 * 1024 * 1024)

/*
 * Sets the index's automerge to 0 (fts_merge_step merges instead) and its
 * hashsize to FTS_HASH_BYTES, once per views state, before the first
 * document is indexed.
 */
static int
fts_configure(struct kz_store *st, struct kz__views *v)
{
	sqlite3_stmt *s;
	bool off = false, hash = false;
	int rc;

	if ((rc = prep(st, &s, "SELECT k, v FROM ws_search_config"
	    " WHERE k IN ('automerge', 'hashsize')")) < 0)
		return rc;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);

		if (k != NULL && strcmp(k, "automerge") == 0)
			off = sqlite3_column_type(s, 1) != SQLITE_NULL &&
			    sqlite3_column_int(s, 1) == 0;
		else if (k != NULL)
			hash = sqlite3_column_int64(s, 1) == FTS_HASH_BYTES;
	}
	sqlite3_reset(s);
	if (!off && ((rc = prep(st, &s, "INSERT INTO ws_search(ws_search,"
	    " rank) VALUES ('automerge', 0)")) < 0 ||
	    (rc = run(st, s, "configure search index")) < 0))
		return rc;
	if (!hash && ((rc = prep(st, &s, "INSERT INTO ws_search(ws_search,"
	    " rank) VALUES ('hashsize', ?1)")) < 0 ||
	    sqlite3_bind_int64(s, 1, FTS_HASH_BYTES) != SQLITE_OK ||
	    (rc = run(st, s, "configure search index")) < 0))
		return rc < 0 ? rc : KZ_ERR_DB;
	v->merge_set = true;
	return 0;
}

/*
 * Indexes a message.  meta is ws_messages.meta's formula computed here, so
 * the statement is a single-row VALUES insert: an INSERT ... SELECT opens a
 * statement journal, whose savepoint makes FTS5 flush its pending terms as
 * a new segment for every message (measured: 60% of ingest time).
 */
static int
fts_add(struct kz_store *st, int64_t doc, const char *text,
    const uint8_t channel[32], const char *actor, enum kz_priority prio)
{
	sqlite3_stmt *s;
	char chan[17], *meta, *p;
	size_t alen = strlen(actor);
	struct kz__views *v = *kz__store_views(st);
	int rc;

	if (!v->merge_set && (rc = fts_configure(st, v)) < 0)
		return rc;
	meta = malloc(2 * alen + 40);
	if (meta == NULL)
		return KZ_ERR_NOMEM;
	kz_hex(chan, channel, 8);
	p = meta + sprintf(meta, "c%s a", chan);
	kz_hex(p, (const uint8_t *)actor, alen);
	sprintf(p + 2 * alen, " p%d", (int)prio);
	rc = prep(st, &s, "INSERT INTO ws_search(rowid, text, meta) VALUES (?1, ?2, ?3)");
	if (rc == 0) {
		sqlite3_bind_int64(s, 1, doc);
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, meta, -1, SQLITE_STATIC);
		rc = run(st, s, "update search index");
	}
	free(meta);
	if (rc == 0)
		v->indexed++;
	return rc;
}

/*
 * Index merging, in steps of bounded size instead of FTS5's automerge.
 * Automerge counts leaf pages written and, every 64 of them, merges
 * 64 x (number of levels) pages at once: with about one leaf per live post
 * that was a 20-40 ms stall every 64 posts on a store of 100,000 messages
 * (measured), the whole of the live p99.  Here automerge is 0 (a setting
 * FTS5 keeps in the index) and each write owes MERGE_OWED_PER_TXN pages
 * plus MERGE_OWED_PER_DOC per document it indexed; once MERGE_STEP_MIN
 * pages are owed, one 'merge' pays them.  A 'merge' costs ~0.5 ms to set
 * up whatever its size, hence steps and not a few pages with every post.
 * A positive 'merge' only merges a level holding usermerge (4) segments or
 * goes on with a merge already begun, so the work done is the work
 * automerge would do (a post's terms take about one leaf when flushed and
 * are rewritten once per level); the rate here stays ahead of it, and
 * FTS5's crisis merge (16 segments on level 0) still bounds the index if
 * an older program writes to the store.  What is owed lives in memory: a
 * restart forgets at most one step.
 */
#define MERGE_OWED_PER_TXN 10
#define MERGE_OWED_PER_DOC 2
#define MERGE_STEP_MIN 32

/*
 * A bulk group (an import) owes nothing: each of its commits flushes one
 * segment of thousands of documents, not a leaf per post, and merging
 * those four at a time rewrote every posting once per level (a tenth of an
 * import's time).  FTS5's crisis merge folds sixteen of them at once when
 * they pile up, so each posting is rewritten about once; the live writes
 * after the import owe pages again and merge what is left.
 */
static int
fts_merge_step(struct kz_store *st, struct kz__views *v, bool bulk)
{
	sqlite3_stmt *s;
	int64_t pages;
	int rc;

	if (!v->merge_set && (rc = fts_configure(st, v)) < 0)
		return rc;
	if (bulk)
		return 0;
	v->merge_owed += MERGE_OWED_PER_TXN + MERGE_OWED_PER_DOC *
	    (v->indexed < 1000000 ? v->indexed : 1000000);
	if (v->merge_owed < MERGE_STEP_MIN)
		return 0;
	pages = (int64_t)v->merge_owed;
	v->merge_owed = 0;
	if ((rc = prep(st, &s, "INSERT INTO ws_search(ws_search, rank) VALUES"
	    " ('merge', ?1)")) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, pages);
	return run(st, s, "merge search index");
}

#define DOC_SLOT_BITS 4

/*
 * A new message's doc: the minute of its hlc << 4 plus a slot, so that the
 * search index's rowid order is time order ("newest first" needs no sort)
 * while rowids stay dense enough for the index's delta coding (one message
 * every 30 s keeps the index ~1.1x the text; milliseconds << 20 made it
 * 2.4x).  A minute with more than 16 messages spills to the doc after the
 * last one at or after it (an overflowing old minute's message then sorts
 * as newer than it is; its hlc, which every view shows, stays right).
 */
static int
new_doc(struct kz_store *st, struct kz__views *v, uint64_t hlc, int64_t *doc)
{
	sqlite3_stmt *s;
	int64_t base = (int64_t)(kz_hlc_ms(hlc) / 60000) << DOC_SLOT_BITS, d = base;
	int rc;

	/*
	 * The docs of one call are all given here, and apply_range writes a
	 * batch's new posts in time order: the next doc of the minute just
	 * served follows the last one given without a look-up.  After a
	 * spill the last one given is the highest at or after the minute.
	 */
	if (v->doc.valid && v->doc.base == base && (v->doc.spilled ||
	    v->doc.last + 1 < base + (1 << DOC_SLOT_BITS))) {
		d = v->doc.last + 1;
		goto done;
	}
	if ((rc = prep(st, &s, "SELECT max(doc) FROM ws_messages"
	    " WHERE doc >= ?1 AND doc < ?2")) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, base);
	sqlite3_bind_int64(s, 2, base + (1 << DOC_SLOT_BITS));
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		d = sqlite3_column_int64(s, 0) + 1;
	sqlite3_reset(s);
	if (d < base + (1 << DOC_SLOT_BITS))
		goto done;
	/*
	 * The minute is full (a bulk import, or posts of one busy minute):
	 * the doc after the last one at or after this minute.  One index
	 * look-up, never a walk over the taken ones.
	 */
	if ((rc = prep(st, &s, "SELECT max(doc) FROM ws_messages"
	    " WHERE doc >= ?1")) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, base);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		d = sqlite3_column_int64(s, 0) + 1;
	sqlite3_reset(s);
done:
	v->doc.valid = true;
	v->doc.base = base;
	v->doc.last = d;
	v->doc.spilled = d >= base + (1 << DOC_SLOT_BITS);
	*doc = d;
	return 0;
}

/* A message's row; write_message binds the parameters. */
#define MESSAGE_INSERT "INSERT INTO ws_messages(doc, id, channel, hlc," \
	" author, seq, actor, thread_root, priority, text, edited, deleted," \
	" reply_count, broadcast, subtype, system, pinned, files, edited_hlc)" \
	" VALUES (?12, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8," \
	" ?9, ?10, ?11, (SELECT count(*) FROM ws_messages r WHERE" \
	" r.thread_root = ?1 AND r.deleted = 0), ?13, ?14, ?15, ?16, ?17, ?18)"

/*
 * Writes the views of message id from its facts fs.  fresh: fs is the id's
 * only fact and was filed just now, so the views hold no row of it yet
 * (rows exist only for ids with a post fact) and there is nothing old to
 * read back or take out of the search index.
 */
static int
write_message(struct kz_store *st, const uint8_t *id, const struct factset *fs,
    struct kz__views *v, unsigned kinds, bool fresh)
{
	struct kz_ws_message m;
	struct kz_ws_reaction *reacts = NULL;
	const char **acks = NULL;
	struct old_message old;
	sqlite3_stmt *s;
	int64_t doc = 0;
	uint64_t hlc;
	size_t cap, n_files;
	const char *actor;
	int rc = 0, nr, na, i;
	bool exists = kz_ws_message_merge(&v->ctl, id, fs->f, fs->n, &m);

	if (fresh)
		memset(&old, 0, sizeof(old));
	else if ((rc = old_message(st, id, &old)) < 0)
		goto out;
	if (m.purged) {
		if ((rc = drop_purged_bytes(st, fs)) < 0)
			goto out;
		v->purged = true;
	}
	if ((kinds & KIND_REACT) && !fresh &&
	    (rc = exec1(st, "DELETE FROM ws_reactions WHERE target = ?1", id, 32)) < 0)
		goto out;
	if ((kinds & KIND_ACK) && !fresh &&
	    (rc = exec1(st, "DELETE FROM ws_acks WHERE target = ?1", id, 32)) < 0)
		goto out;
	if (old.text != NULL && (rc = fts_remove(st, old.doc, old.text, old.meta)) < 0)
		goto out;
	if (!exists) {
		if (old.exists) {
			rc = exec1(st, "DELETE FROM ws_messages WHERE id = ?1", id, 32);
			if (rc == 0 && old.has_root)
				rc = update_reply_count(st, old.root);
			if (rc == 0 && old.files > 0)
				rc = write_files(st, id, NULL, 0, old.files);
		}
		goto out;
	}
	const struct kz_post *p = &m.post->op->u.post;

	/* An imported message is placed by its original time and shown as
	 * written by its imported author (the node that signed it vouches for
	 * the import, and stays its author). */
	hlc = m.post->hlc;
	actor = m.post->op->actor ? m.post->op->actor : "";
	if (m.imported != NULL) {
		hlc = kz_ws_import_hlc(m.imported->time_us);
		actor = m.imported->author;
	}
	if (old.exists)
		doc = old.doc;
	else if ((rc = new_doc(st, v, hlc, &doc)) < 0)
		goto out;
	/* A fresh post has no row yet: a plain insert, without the upsert's
	 * work (which also computes the generated meta column). */
	if ((rc = prep(st, &s, fresh ? MESSAGE_INSERT : MESSAGE_INSERT
	    " ON CONFLICT(id) DO UPDATE"
	    " SET text = excluded.text, edited = excluded.edited, deleted ="
	    " excluded.deleted, reply_count = excluded.reply_count, broadcast ="
	    " excluded.broadcast, subtype = excluded.subtype, system ="
	    " excluded.system, pinned = excluded.pinned, files = excluded.files,"
	    " edited_hlc = excluded.edited_hlc")) < 0)
		goto out;
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, p->channel, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)hlc);
	sqlite3_bind_blob(s, 4, m.post->author, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)m.post->seq);
	sqlite3_bind_text(s, 6, actor, -1, SQLITE_STATIC);
	if (p->thread_root != NULL)
		sqlite3_bind_blob(s, 7, p->thread_root, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, (int)p->priority);
	sqlite3_bind_text(s, 9, m.text, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, m.edited);
	sqlite3_bind_int(s, 11, m.deleted);
	sqlite3_bind_int64(s, 12, doc);
	/* A reply also sent to the channel shows in its flow too. */
	sqlite3_bind_int(s, 13, p->thread_root != NULL && m.imported != NULL &&
	    m.imported->broadcast);
	/* What an imported message was in its source; a deleted message
	 * keeps no file references. */
	n_files = m.imported != NULL && !m.deleted ? m.imported->n_files : 0;
	sqlite3_bind_text(s, 14, m.imported != NULL ? m.imported->subtype : "",
	    -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 15, m.imported != NULL && m.imported->system);
	sqlite3_bind_int(s, 16, m.imported != NULL && m.imported->pinned);
	sqlite3_bind_int64(s, 17, (int64_t)n_files);
	sqlite3_bind_int64(s, 18, (int64_t)m.edited_hlc);
	if ((rc = run(st, s, "write message")) < 0)
		goto out;
	if ((n_files > 0 || old.files > 0) && (rc = write_files(st, id,
	    n_files > 0 ? m.imported->files : NULL, n_files, old.files)) < 0)
		goto out;
	/* Deleted and purged messages are not searchable; edited ones by
	 * their current text only; imported system events (joins, leaves:
	 * a fifth of a real export) not at all. */
	if (!m.deleted && *m.text != '\0' &&
	    (m.imported == NULL || !m.imported->system) &&
	    (rc = fts_add(st, doc, m.text, p->channel, actor, p->priority)) < 0)
		goto out;
	if (p->thread_root != NULL && (fresh ? !m.deleted &&
	    (rc = add_reply(st, p->thread_root)) < 0 :
	    (rc = update_reply_count(st, p->thread_root)) < 0))
		goto out;
	if (old.has_root && (p->thread_root == NULL ||
	    memcmp(old.root, p->thread_root, 32) != 0) &&
	    (rc = update_reply_count(st, old.root)) < 0)
		goto out;

	if ((kinds & (KIND_REACT | KIND_ACK)) == 0) {
		rc = 0;
		goto out;
	}
	/* At most one reaction or ack per fact, plus an imported message's
	 * own reactions. */
	cap = fs->n;
	for (i = 0; m.imported != NULL && (size_t)i < m.imported->n_reactions; i++)
		cap += m.imported->reactions[i].n_users;
	reacts = calloc(cap, sizeof(*reacts));
	acks = calloc(fs->n, sizeof(*acks));
	if (reacts == NULL || acks == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	nr = kz_ws_reactions_merge(&v->ctl, id, fs->f, fs->n, reacts, cap);
	na = kz_ws_acks_merge(&v->ctl, &m, fs->f, fs->n, acks, fs->n);
	if (nr < 0 || na < 0) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if ((rc = prep(st, &s, "INSERT INTO ws_reactions(target, user, emoji)"
		    " VALUES (?1, ?2, ?3)")) < 0)
			goto out;
		sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, reacts[i].user, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, reacts[i].emoji, -1, SQLITE_STATIC);
		if ((rc = run(st, s, "write reaction")) < 0)
			goto out;
	}
	for (i = 0; i < na; i++) {
		if ((rc = prep(st, &s, "INSERT INTO ws_acks(target, user) VALUES (?1, ?2)")) < 0)
			goto out;
		sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, acks[i], -1, SQLITE_STATIC);
		if ((rc = run(st, s, "write ack")) < 0)
			goto out;
	}
	rc = 0;
out:
	free(old.text);
	free(old.meta);
	free(reacts);
	free(acks);
	return rc;
}

static int
write_safety(struct kz_store *st, const char *user, const struct factset *fs,
    struct kz__views *v)
{
	struct kz_ws_safety sf;
	sqlite3_stmt *s;
	int rc;

	if (!kz_ws_safety_merge(&v->ctl, user, fs->f, fs->n, &sf)) {
		if ((rc = prep(st, &s, "DELETE FROM ws_rollcall WHERE user = ?1")) < 0)
			return rc;
		sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
		return run(st, s, "clear roll call");
	}
	if ((rc = prep(st, &s, "INSERT OR REPLACE INTO ws_rollcall(user, status,"
	    " place, note, hlc, reporter) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")) < 0)
		return rc;
	sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)sf.status);
	sqlite3_bind_text(s, 3, sf.place, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, sf.note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)sf.fact->hlc);
	sqlite3_bind_text(s, 6, sf.reporter, -1, SQLITE_STATIC);
	return run(st, s, "write roll call");
}

/*
 * The node's latest link report, or none (kz_ws_links_merge).
 *
 * A node writes a report every few minutes for as long as it runs, and
 * recomputing its key reads every fact filed under it: left alone, each
 * new report would read back all of the node's earlier ones.  But the
 * reports of one node are valid all together or not at all (admitted and
 * not revoked, whatever their seq), so once one wins, the ones before it
 * in the order can never win again, whatever arrives later: their facts
 * are dropped and the key keeps one fact plus the new ones.  While none
 * wins (the node not admitted yet, or revoked, which a later fold may
 * undo) every fact is kept.  A rebuild files them all again and drops
 * them again.
 */
static int
write_links(struct kz_store *st, const uint8_t node[32],
    const struct factset *fs, struct kz__views *v)
{
	const struct kz_ws_fact *best;
	uint8_t key[2 + 32];
	sqlite3_stmt *s;
	int64_t entry;
	int rc;

	best = kz_ws_links_merge(&v->ctl, node, fs->f, fs->n);
	if (best == NULL)
		return exec1(st, "DELETE FROM ws_link_reports WHERE node = ?1",
		    node, 32);
	entry = fs->rowids[best - fs->f];
	if ((rc = prep(st, &s, "INSERT OR REPLACE INTO ws_link_reports(node, hlc,"
	    " seq, entry) VALUES (?1, ?2, ?3, ?4)")) < 0)
		return rc;
	sqlite3_bind_blob(s, 1, node, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)best->hlc);
	sqlite3_bind_int64(s, 3, (int64_t)best->seq);
	sqlite3_bind_int64(s, 4, entry);
	if ((rc = run(st, s, "write link report")) < 0 || fs->n == 1)
		return rc;
	memcpy(key, NODE_KEY_PREFIX, 2);
	memcpy(key + 2, node, 32);
	if ((rc = prep(st, &s, "DELETE FROM ws_facts WHERE key = ?1"
	    " AND entry <> ?2")) < 0)
		return rc;
	sqlite3_bind_blob(s, 1, key, sizeof(key), SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, entry);
	return run(st, s, "drop superseded link reports");
}

static unsigned
fact_kinds(const struct factset *fs)
{
	unsigned k = 0;
	size_t i;

	for (i = 0; i < fs->n; i++) {
		const struct kz_op *op = fs->ops[i];

		if (op == NULL)
			continue;
		switch (op->type) {
		case KZ_OP_CHANNEL_CREATE:
		case KZ_OP_CHANNEL_SET:
			k |= KIND_CHANNEL;
			break;
		case KZ_OP_REACT:
			k |= KIND_MESSAGE | KIND_REACT;
			break;
		case KZ_OP_ACK:
			k |= KIND_MESSAGE | KIND_ACK;
			break;
		case KZ_OP_POST:
			k |= KIND_MESSAGE;
			if (op->u.post.imported != NULL &&
			    op->u.post.imported->n_reactions > 0)
				k |= KIND_REACT;
			break;
		case KZ_OP_EDIT:
		case KZ_OP_DELETE:
		case KZ_OP_PURGE:
			k |= KIND_MESSAGE;
			break;
		default:
			break;
		}
	}
	return k;
}

static int
recompute_key(struct kz_store *st, struct kz__views *v, const uint8_t *key,
    size_t len)
{
	struct factset fs = { 0 };
	int rc;

	if ((rc = load_facts(st, key, len, &fs)) < 0)
		goto out;
	if (len == KZ_ID_BYTES) {
		unsigned kinds = fact_kinds(&fs);

		/* Facts are only ever added, so an id with no fact of a kind
		 * has no row of that kind to update or remove. */
		if (kinds & KIND_CHANNEL)
			rc = write_channel(st, key, &fs, v);
		if (rc == 0 && (kinds & KIND_MESSAGE))
			rc = write_message(st, key, &fs, v, kinds, false);
	} else if (len == 2 + 32 && memcmp(key, NODE_KEY_PREFIX, 2) == 0) {
		rc = write_links(st, key + 2, &fs, v);
	} else if (len > 2 && memcmp(key, USER_KEY_PREFIX, 2) == 0) {
		char user[KZ_USER_ID_MAX + 1];

		memcpy(user, key + 2, len - 2);
		user[len - 2] = '\0';
		rc = write_safety(st, user, &fs, v);
	}
out:
	factset_free(&fs);
	return rc;
}

/*
 * The common case of an id dirtied by one new entry: a post whose id has
 * no other fact (no edit, reaction or reply target that arrived before
 * it).  Its views are then those of the post alone, computed from the
 * entry already decoded in fs instead of reading and decoding the id's
 * facts back.  Returns 1 when the general recompute is needed instead.
 */
static int
new_post(struct kz_store *st, struct kz__views *v, const struct factset *fs,
    int32_t fact, const uint8_t *key, size_t len)
{
	struct factset one;
	sqlite3_stmt *s;
	int64_t n = -1;
	int32_t i = fact & ~FACT_FLAGS;
	int rc;

	if (len != KZ_ID_BYTES || fs->ops[i] == NULL ||
	    fs->ops[i]->type != KZ_OP_POST)
		return 1;
	if (fact & FACT_NEWKEY) {
		/* Nothing was filed under it before, and of this call only
		 * this fact (else fact would be -1): it is the only one. */
		v->posts_unlooked++;
	} else {
		if ((rc = prep(st, &s, "SELECT count(*) FROM ws_facts"
		    " WHERE key = ?1")) < 0)
			return rc;
		sqlite3_bind_blob(s, 1, key, (int)len, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		if (n != 1)
			return 1;
	}
	one.f = &fs->f[i];
	one.ops = &fs->ops[i];
	one.rowids = &fs->rowids[i];
	one.n = one.cap = 1;
	return write_message(st, key, &one, v, fact_kinds(&one),
	    (fact & FACT_FRESH) != 0);
}

static int
rebuild_all(struct kz_store *st, struct kz__views *v)
{
	static const char *const clear[] = {
		"DELETE FROM ws_channels", "DELETE FROM ws_messages",
		"INSERT INTO ws_search(ws_search) VALUES ('delete-all')",
		"DELETE FROM ws_reactions", "DELETE FROM ws_acks",
		"DELETE FROM ws_rollcall", "DELETE FROM ws_link_reports",
		"DELETE FROM ws_files",
	};
	sqlite3_stmt *s;
	size_t i;
	int rc, src;

	struct kz_ws_control old;

	rc = rebuild_control(st, v, &old);
	kz_ws_control_free(&old);
	if (rc < 0)
		return rc;
	v->indexed = 0;
	v->doc.valid = false;
	for (i = 0; i < sizeof(clear) / sizeof(clear[0]); i++)
		if ((rc = prep(st, &s, clear[i])) < 0 || (rc = run(st, s, clear[i])) < 0)
			return rc;
	if ((rc = prep(st, &s, "SELECT DISTINCT key FROM ws_facts"
	    " WHERE key IS NOT NULL ORDER BY key")) < 0)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		uint8_t key[2 + KZ_USER_ID_MAX];
		size_t len = (size_t)sqlite3_column_bytes(s, 0);

		if (len > sizeof(key))
			continue;
		memcpy(key, sqlite3_column_blob(s, 0), len);
		if ((rc = recompute_key(st, v, key, len)) < 0)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "list fact keys");
	sqlite3_reset(s);
	if (rc == 0 && v->indexed > 0)
		rc = fts_merge_step(st, v, false);
	return rc;
}

/* ------------------------------------------------------------ apply */

static int
dirty_add(struct keylist *d, const uint8_t *key, size_t len, int32_t fact)
{
	if (len > sizeof(d->keys[0]))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		void *a = realloc(d->keys, cap * sizeof(*d->keys));
		void *b = a ? realloc(d->lens, cap) : NULL;
		void *c = b ? realloc(d->facts, cap * sizeof(*d->facts)) : NULL;

		if (a)
			d->keys = a;
		if (b)
			d->lens = b;
		if (c == NULL)
			return KZ_ERR_NOMEM;
		d->facts = c;
		d->cap = cap;
	}
	memcpy(d->keys[d->n], key, len);
	d->facts[d->n] = fact;
	d->lens[d->n++] = (uint8_t)len;
	return 0;
}

/* A dirty id; fact is the one entry of this call filed under it, else -1. */
struct keyref {
	const uint8_t *key;
	size_t len;
	int32_t fact;	/* the one fact that dirtied it, | FACT_FLAGS, or -1 */
	uint64_t when;	/* a post's time in the views (post_order); else 0 */
};

static int
keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* By when, then by key. */
static int
keyref_when_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return keyref_cmp(a, b);
}

/*
 * Puts the ids that a single post dirtied last, in the order of their time
 * in the views: new messages then get their docs (new_doc) in time order,
 * so the search index is written in rowid order.  FTS5 flushes the terms
 * it holds as a new segment whenever a document's rowid is below the last
 * one's: in id order (random) that was a flush every eight documents of an
 * import, a third of its work.  The order of the recomputes does not change
 * what the views hold; the rest keep their id order.
 */
static void
post_order(struct keyref *r, size_t n, const struct factset *fs)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct kz_op *op;

		r[i].when = 0;
		if (r[i].fact < 0 || r[i].len != KZ_ID_BYTES)
			continue;
		op = fs->ops[r[i].fact & ~FACT_FLAGS];
		if (op == NULL || op->type != KZ_OP_POST)
			continue;
		r[i].when = op->u.post.imported != NULL ?
		    kz_ws_import_hlc(op->u.post.imported->time_us) :
		    fs->f[r[i].fact & ~FACT_FLAGS].hlc;
		if (r[i].when == 0)
			r[i].when = 1;
	}
	qsort(r, n, sizeof(*r), keyref_when_cmp);
}

/* The dirty ids sorted, without repeats; the caller frees the array. */
static struct keyref *
dirty_unique(struct keylist *d, size_t *n_out)
{
	struct keyref *r = malloc((d->n + 1) * sizeof(*r));
	size_t i, j;

	*n_out = 0;
	if (r == NULL)
		return NULL;
	for (i = 0; i < d->n; i++)
		r[i] = (struct keyref){ d->keys[i], d->lens[i], d->facts[i], 0 };
	qsort(r, d->n, sizeof(*r), keyref_cmp);
	for (i = j = 0; i < d->n; i++) {
		if (j == 0 || keyref_cmp(&r[j - 1], &r[i]) != 0)
			r[j++] = r[i];
		else
			r[j - 1].fact = -1;	/* dirty twice: no single fact */
	}
	*n_out = j;
	return r;
}

static bool
user_changed(const struct kz_ws_user *a, const struct kz_ws_user *b)
{
	size_t i;

	if (strcmp(a->display_name, b->display_name) != 0 || a->role != b->role ||
	    a->active != b->active || a->n_epochs != b->n_epochs)
		return true;
	for (i = 0; i < a->n_epochs; i++) {
		const struct kz_ws_user_epoch *x = &a->epochs[i], *y = &b->epochs[i];

		if (x->hlc != y->hlc || x->seq != y->seq || x->active != y->active ||
		    x->role != y->role || memcmp(x->author, y->author, 32) != 0)
			return true;
	}
	return false;
}

/* Adds the ids of every fact matching sql (one bound text or blob). */
static int
dirty_from_query(struct kz_store *st, struct kz__views *v, const char *sql,
    const void *arg, int arg_len, bool is_text)
{
	sqlite3_stmt *s;
	int rc, src;

	if ((rc = prep(st, &s, sql)) < 0)
		return rc;
	if (is_text)
		sqlite3_bind_text(s, 1, arg, arg_len, SQLITE_STATIC);
	else
		sqlite3_bind_blob(s, 1, arg, arg_len, SQLITE_STATIC);
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		if ((rc = dirty_add(&v->dirty, sqlite3_column_blob(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0), -1)) < 0)
			break;
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "find affected facts");
	sqlite3_reset(s);
	return rc;
}

static int
user_affected(struct kz_store *st, struct kz__views *v, const char *id)
{
	uint8_t key[2 + KZ_USER_ID_MAX];
	size_t len = strlen(id);
	int rc;

	memcpy(key, USER_KEY_PREFIX, 2);
	memcpy(key + 2, id, len);
	if ((rc = dirty_add(&v->dirty, key, 2 + len, -1)) < 0)
		return rc;
	return dirty_from_query(st, v, "SELECT DISTINCT key FROM ws_facts"
	    " WHERE actor = ?1 AND key IS NOT NULL", id, -1, true);
}

static int
node_affected(struct kz_store *st, struct kz__views *v, const uint8_t key[32])
{
	return dirty_from_query(st, v, "SELECT DISTINCT w.key FROM feeds f"
	    " JOIN entries e ON e.feed = f.id JOIN ws_facts w ON w.entry = e.rowid"
	    " WHERE f.key = ?1 AND w.key IS NOT NULL", key, 32, false);
}

/*
 * After the control state changed from old to v->ctl: marks dirty the ids
 * of every fact whose actor's or node's standing changed.  Nothing else can
 * change: a content rule reads the control state only through its fact's
 * own actor and node (and a roll call entry through its subject).
 */
static int
mark_affected(struct kz_store *st, struct kz__views *v,
    const struct kz_ws_control *old)
{
	const struct kz_ws_control *nw = &v->ctl;
	size_t i = 0, j = 0;
	int rc = 0;

	while (rc == 0 && (i < old->n_users || j < nw->n_users)) {
		int c = i == old->n_users ? 1 : j == nw->n_users ? -1 :
		    strcmp(old->users[i].id, nw->users[j].id);

		if (c < 0)
			rc = user_affected(st, v, old->users[i++].id);
		else if (c > 0)
			rc = user_affected(st, v, nw->users[j++].id);
		else {
			if (user_changed(&old->users[i], &nw->users[j]))
				rc = user_affected(st, v, nw->users[j].id);
			i++;
			j++;
		}
	}
	i = j = 0;
	while (rc == 0 && (i < old->n_nodes || j < nw->n_nodes)) {
		int c = i == old->n_nodes ? 1 : j == nw->n_nodes ? -1 :
		    memcmp(old->nodes[i].key, nw->nodes[j].key, 32);

		if (c < 0)
			rc = node_affected(st, v, old->nodes[i++].key);
		else if (c > 0)
			rc = node_affected(st, v, nw->nodes[j++].key);
		else {
			if (old->nodes[i].admin != nw->nodes[j].admin ||
			    old->nodes[i].last_seq != nw->nodes[j].last_seq)
				rc = node_affected(st, v, nw->nodes[j].key);
			i++;
			j++;
		}
	}
	return rc;
}

/* The id an op is filed under; len 0 for control ops. */
static void
fact_key(const struct kz_ws_fact *f, uint8_t *key, size_t *len)
{
	const struct kz_op *op = f->op;
	const uint8_t *hash = f->hash;
	const char *subject;

	*len = 0;
	switch (op->type) {
	case KZ_OP_LINK_REPORT:
		/* A node's reports are about the node: the latest wins. */
		memcpy(key, NODE_KEY_PREFIX, 2);
		memcpy(key + 2, f->author, 32);
		*len = 2 + 32;
		break;
	case KZ_OP_POST:
	case KZ_OP_CHANNEL_CREATE:
		memcpy(key, kz_op_created_id(op, hash), 32);
		*len = 32;
		break;
	case KZ_OP_CHANNEL_SET:
	case KZ_OP_EDIT:
	case KZ_OP_DELETE:
	case KZ_OP_PURGE:
	case KZ_OP_REACT:
	case KZ_OP_ACK:
		memcpy(key, kz_op_target(op), 32);
		*len = 32;
		break;
	case KZ_OP_SAFETY:
		subject = kz_ws_safety_subject(op);
		if (*subject == '\0')
			break;	/* nobody to file it under: ignored */
		memcpy(key, USER_KEY_PREFIX, 2);
		memcpy(key + 2, subject, strlen(subject));
		*len = 2 + strlen(subject);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------ key filter */

static uint64_t
key_hash(const uint8_t *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	/* splitmix64's finalizer: every bit depends on every byte. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/* Adds key; true if it was certainly not there before (false: maybe). */
static bool
keyfilter_add(struct keyfilter *kf, const uint8_t *key, size_t len)
{
	uint64_t h, step, at, bit;
	bool fresh = false;
	int i;

	if (kf->bits == NULL)
		return false;
	h = key_hash(key, len);
	step = (h >> 32) | 1;
	for (i = 0; i < 3; i++) {
		at = (h + (uint64_t)i * step) & (kf->nbits - 1);
		bit = (uint64_t)1 << (at & 63);
		if ((kf->bits[at >> 6] & bit) == 0) {
			fresh = true;
			kf->bits[at >> 6] |= bit;
		}
	}
	if (fresh)
		kf->keys++;
	return fresh;
}

static void
keyfilter_drop(struct keyfilter *kf)
{
	free(kf->bits);
	kf->bits = NULL;
	kf->keys = 0;
}

static int
data_version(struct kz_store *st, int64_t *out)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prep(st, &s, "PRAGMA data_version")) < 0)
		return rc;
	rc = sqlite3_step(s);
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : kz__store_err(st, rc, "read data version");
}

/* Builds the filter from the table, room for half as many keys again. */
static int
keyfilter_build(struct kz_store *st, struct keyfilter *kf)
{
	sqlite3_stmt *s;
	uint64_t want, n = 0;
	int rc, src;

	if ((rc = prep(st, &s, "SELECT max(entry) FROM ws_facts")) < 0)
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (kf->keys > n)
		n = kf->keys;	/* rebuilding one that filled */
	want = KEYFILTER_BITS_PER_KEY * (n + n / 2 + 65536);
	keyfilter_drop(kf);
	if (want > KEYFILTER_MAX_BITS) {
		kf->off = true;	/* a store that big looks each post up */
		return 0;
	}
	for (kf->nbits = KEYFILTER_MIN_BITS; kf->nbits < want; kf->nbits *= 2)
		;
	kf->cap = kf->nbits / KEYFILTER_BITS_PER_KEY;
	if ((kf->bits = calloc(kf->nbits / 64, sizeof(uint64_t))) == NULL)
		return KZ_ERR_NOMEM;
	if ((rc = data_version(st, &kf->data_version)) < 0 ||
	    (rc = prep(st, &s, "SELECT key FROM ws_facts"
	    " WHERE key IS NOT NULL")) < 0) {
		keyfilter_drop(kf);
		return rc;
	}
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		keyfilter_add(kf, sqlite3_column_blob(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0));
	sqlite3_reset(s);
	if (src != SQLITE_DONE) {
		keyfilter_drop(kf);
		return kz__store_err(st, src, "read fact keys");
	}
	return 0;
}

/*
 * Before an apply files anything: the filter is dropped for good if
 * another connection committed since it was checked, built (in a bulk
 * group) if it is not, and rebuilt bigger if it filled up.
 */
static int
keyfilter_ready(struct kz_store *st, struct kz__views *v, bool bulk)
{
	struct keyfilter *kf = &v->kf;
	int64_t dv;
	int rc;

	if (kf->off)
		return 0;
	if (kf->bits != NULL) {
		if ((rc = data_version(st, &dv)) < 0)
			return rc;
		if (dv != kf->data_version) {
			keyfilter_drop(kf);
			kf->off = true;
			return 0;
		}
	}
	if (bulk && (kf->bits == NULL || kf->keys > kf->cap))
		return keyfilter_build(st, kf);
	return 0;
}

/* Files the decodable entries of fs; marks what they touch as dirty. */
static int
file_facts(struct kz_store *st, struct kz__views *v, const struct factset *fs,
    bool track)
{
	sqlite3_stmt *s;
	size_t i;
	int rc;

	for (i = 0; i < fs->n; i++) {
		const struct kz_op *op = fs->ops[i];
		uint8_t key[2 + KZ_USER_ID_MAX];
		size_t len;
		bool control, newkey;

		if (op == NULL)
			continue;	/* purged or not an operation we know */
		control = kz_ws_is_control(op->type);
		fact_key(&fs->f[i], key, &len);
		if (!control && len == 0)
			continue;
		newkey = !control && keyfilter_add(&v->kf, key, len);
		if ((rc = prep(st, &s, "INSERT OR IGNORE INTO ws_facts(entry, key, type,"
		    " actor) VALUES (?1, ?2, ?3, ?4)")) < 0)
			return rc;
		sqlite3_bind_int64(s, 1, fs->rowids[i]);
		if (!control)
			sqlite3_bind_blob(s, 2, key, (int)len, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, (int)op->type);
		sqlite3_bind_text(s, 4, op->actor ? op->actor : "", -1, SQLITE_STATIC);
		if ((rc = run(st, s, "file fact")) < 0)
			return rc;
		if (!track)
			continue;
		if (control)
			v->control_dirty = true;
		else if ((rc = dirty_add(&v->dirty, key, len, (int32_t)i |
		    (sqlite3_changes(db_of(st)) == 1 ? FACT_FRESH : 0) |
		    (newkey ? FACT_NEWKEY : 0))) < 0)
			return rc;
	}
	return 0;
}

/* Files every stored entry again, from scratch. */
static int
refile_all(struct kz_store *st, struct kz__views *v)
{
	struct factset fs = { 0 };
	sqlite3_stmt *s;
	int rc, src;

	if ((rc = prep(st, &s, "DELETE FROM ws_facts")) < 0 ||
	    (rc = run(st, s, "clear facts")) < 0)
		return rc;
	/* Every entry is filed and applied below: no backlog is left. */
	if ((rc = prep(st, &s, "DELETE FROM ws_meta WHERE k >= 'pending:'"
	    " AND k < 'pending;'")) < 0 || (rc = run(st, s, "clear backlog")) < 0)
		return rc;
	if ((rc = prep(st, &s, "SELECT rowid, header, hash, op FROM entries"
	    " WHERE op IS NOT NULL")) < 0)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = factset_add(&fs, s)) < 0)
			break;
		if (fs.n == 4096) {
			rc = file_facts(st, v, &fs, false);
			factset_free(&fs);
			if (rc < 0)
				break;
		}
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "read entries");
	sqlite3_reset(s);
	if (rc == 0)
		rc = file_facts(st, v, &fs, false);
	factset_free(&fs);
	return rc;
}

/*
 * Applies the entries of feed with seq in from..to.  skip_filed: leave out
 * entries filed already (those a deferred stretch holds that were applied
 * on arrival: control entries, urgent entries that came alone).
 * control_only: file and apply only the control entries (membership and
 * users: who may do what must never wait), the rest waits in the backlog.
 */
static int
apply_range(struct kz_store *st, struct kz__views *v, int64_t feed,
    uint64_t from, uint64_t to, bool skip_filed, bool control_only,
    struct factset *given)
{
	struct factset fs = { 0 };
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc, src;

	v->dirty.n = 0;
	v->control_dirty = false;
	v->purged = false;
	v->indexed = 0;
	v->doc.valid = false;
	if (given != NULL) {
		/* The entries as appended (kz__views_apply_rows). */
		fs = *given;
		memset(given, 0, sizeof(*given));
		rc = 0;
		goto read;
	}
	if ((rc = prep(st, &s, skip_filed ?
	    "SELECT rowid, header, hash, op FROM entries e"
	    " WHERE feed = ?1 AND seq BETWEEN ?2 AND ?3"
	    " AND NOT EXISTS (SELECT 1 FROM ws_facts w WHERE w.entry = e.rowid)" :
	    "SELECT rowid, header, hash, op FROM entries"
	    " WHERE feed = ?1 AND seq BETWEEN ?2 AND ?3")) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, feed);
	sqlite3_bind_int64(s, 2, (int64_t)from);
	sqlite3_bind_int64(s, 3, (int64_t)to);
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		if ((rc = factset_add(&fs, s)) < 0)
			break;
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "read new entries");
	sqlite3_reset(s);
	if (rc < 0)
		goto out;
read:
	if (control_only) {
		for (i = 0; i < fs.n; i++)
			if (fs.ops[i] != NULL && !kz_ws_is_control(fs.ops[i]->type)) {
				kz_op_free(fs.ops[i]);
				fs.ops[i] = NULL;
				fs.f[i].op = NULL;
			}
	}

	/* Before anything of this call is filed under its key. */
	if ((rc = keyfilter_ready(st, v, kz__store_in_bulk(st))) < 0 ||
	    (rc = file_facts(st, v, &fs, true)) < 0)
		goto out;
	if (v->control_dirty) {
		struct kz_ws_control old;

		rc = rebuild_control(st, v, &old);
		if (rc == 0)
			rc = mark_affected(st, v, &old);
		kz_ws_control_free(&old);
		if (rc < 0)
			goto out;
	}
	{
		size_t n;
		struct keyref *keys = dirty_unique(&v->dirty, &n);

		if (keys == NULL) {
			rc = KZ_ERR_NOMEM;
			goto out;
		}
		post_order(keys, n, &fs);
		for (i = 0; i < n && rc == 0; i++) {
			rc = keys[i].fact >= 0 ? new_post(st, v, &fs, keys[i].fact,
			    keys[i].key, keys[i].len) : 1;
			if (rc > 0)
				rc = recompute_key(st, v, keys[i].key, keys[i].len);
		}
		free(keys);
	}
	if (rc == 0 && v->purged) {
		/* Rewrite the search index so no segment keeps the purged
		 * text's terms behind a delete marker. */
		if ((rc = prep(st, &s, "INSERT INTO ws_search(ws_search) VALUES"
		    " ('optimize')")) == 0)
			rc = run(st, s, "optimize search index");
	} else if (rc == 0 && v->indexed > 0)
		rc = fts_merge_step(st, v, kz__store_in_bulk(st));
out:
	factset_free(&fs);
	return rc;
}

/* ------------------------------------------------------------ backlog */

/*
 * A feed whose entries wait to be applied has the row ('pending:ID', seq)
 * in ws_meta: entries 1..seq are applied (less: none of them waits), those
 * after it up to the tip wait, but for the ones filed on arrival.  It is
 * written in the transaction that stores the entries, and moved in the one
 * that applies them, so a crash loses no entry's turn.
 */
static void
pending_key(char out[40], int64_t feed)
{
	snprintf(out, 40, "pending:%lld", (long long)feed);
}

/* The feed's applied-up-to seq, or -1 when nothing of it waits. */
static int
pending_get(struct kz_store *st, int64_t feed, int64_t *applied)
{
	sqlite3_stmt *s;
	char k[40];
	int rc, src;

	*applied = -1;
	pending_key(k, feed);
	if ((rc = prep(st, &s, "SELECT v FROM ws_meta WHERE k = ?1")) < 0)
		return rc;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_TRANSIENT);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		*applied = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return src == SQLITE_ROW || src == SQLITE_DONE ? 0 :
	    kz__store_err(st, src, "read backlog");
}

static int
pending_set(struct kz_store *st, int64_t feed, int64_t applied)
{
	sqlite3_stmt *s;
	char k[40];
	int rc;

	pending_key(k, feed);
	if (applied < 0) {
		if ((rc = prep(st, &s, "DELETE FROM ws_meta WHERE k = ?1")) < 0)
			return rc;
		sqlite3_bind_text(s, 1, k, -1, SQLITE_TRANSIENT);
	} else {
		if ((rc = prep(st, &s, "INSERT OR REPLACE INTO ws_meta(k, v)"
		    " VALUES (?1, ?2)")) < 0)
			return rc;
		sqlite3_bind_text(s, 1, k, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, applied);
	}
	return run(st, s, "write backlog");
}

/* kz__views_apply; given: the entries from..to as appended, or NULL. */
static int
views_apply(struct kz_store *st, int64_t feed, uint64_t from, uint64_t to,
    struct factset *given)
{
	struct kz__views *v;
	int64_t applied;
	int rc;

	if ((v = views_of(st, &rc)) == NULL)
		return rc;
	/* Without a mesh root nothing counts; kz_views_set_root files every
	 * stored entry when the root becomes known. */
	if (!v->has_root)
		return 0;
	if (v->defer_min > 0) {
		if ((rc = pending_get(st, feed, &applied)) < 0)
			goto fail;
		/* A long run, or one behind a backlog: its control entries
		 * now, the rest in turn (kz_views_catch_up). */
		if (applied >= 0 || to - from + 1 > v->defer_min) {
			if (applied < 0 &&
			    (rc = pending_set(st, feed, (int64_t)from - 1)) < 0)
				goto fail;
			rc = apply_range(st, v, feed, from, to, false, true,
			    given);
			if (rc < 0)
				goto fail;
			return 0;
		}
	}
	if ((rc = apply_range(st, v, feed, from, to, false, false, given)) < 0)
		goto fail;
	return 0;
fail:
	kz__views_forget(st);	/* the transaction rolls back */
	return rc;
}

int
kz__views_apply(struct kz_store *st, int64_t feed, uint64_t from, uint64_t to)
{
	return views_apply(st, feed, from, to, NULL);
}

int
kz__views_apply_rows(struct kz_store *st, int64_t feed,
    const uint8_t author[KZ_PK_BYTES], uint64_t from, uint64_t to,
    struct kz__bulk_row *rows, size_t n)
{
	struct factset fs = { 0 };
	int rc;

	if (n != to - from + 1)
		return KZ_ERR_INVAL;
	if ((rc = factset_from_rows(&fs, author, rows, n)) < 0)
		return rc;
	rc = views_apply(st, feed, from, to, &fs);
	factset_free(&fs);	/* what apply_range did not take (no root) */
	return rc;
}

int
kz__views_apply_now(struct kz_store *st, int64_t feed, uint64_t from,
    uint64_t to)
{
	struct kz__views *v;
	int rc;

	if ((v = views_of(st, &rc)) == NULL)
		return rc;
	if (!v->has_root)
		return 0;
	if ((rc = apply_range(st, v, feed, from, to, false, false, NULL)) < 0)
		kz__views_forget(st);
	return rc;
}

void
kz_views_set_deferral(struct kz_store *st, size_t min_run)
{
	struct kz__views *v;
	int rc;

	if ((v = views_state(st, &rc)) != NULL)
		v->defer_min = min_run;
}

/* One feed with a backlog: its id, applied-up-to seq and tip. */
struct pending_feed {
	int64_t feed;
	int64_t applied;
	uint64_t tip;
};

static int
pending_list(struct kz_store *st, struct pending_feed **out, size_t *n)
{
	sqlite3_stmt *s;
	size_t cap = 0;
	int rc, src;

	*out = NULL;
	*n = 0;
	if ((rc = prep(st, &s, "SELECT CAST(substr(m.k, 9) AS INTEGER), m.v, f.tip"
	    " FROM ws_meta m JOIN feeds f ON f.id = CAST(substr(m.k, 9) AS INTEGER)"
	    " WHERE m.k >= 'pending:' AND m.k < 'pending;' ORDER BY 1")) < 0)
		return rc;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *p = realloc(*out, ncap * sizeof(**out));

			if (p == NULL) {
				rc = KZ_ERR_NOMEM;
				break;
			}
			*out = p;
			cap = ncap;
		}
		(*out)[*n].feed = sqlite3_column_int64(s, 0);
		(*out)[*n].applied = sqlite3_column_int64(s, 1);
		(*out)[*n].tip = (uint64_t)sqlite3_column_int64(s, 2);
		(*n)++;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "list backlog");
	sqlite3_reset(s);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
kz_views_backlog(struct kz_store *st, uint64_t *entries)
{
	struct pending_feed *pf;
	size_t n, i;
	int rc;

	*entries = 0;
	if (views_of(st, &rc) == NULL)
		return rc;
	if ((rc = pending_list(st, &pf, &n)) < 0)
		return rc;
	for (i = 0; i < n; i++)
		if (pf[i].tip > (uint64_t)pf[i].applied)
			*entries += pf[i].tip - (uint64_t)pf[i].applied;
	free(pf);
	return 0;
}

int
kz_views_catch_up(struct kz_store *st, size_t budget, uint64_t *left)
{
	struct kz__views *v;
	struct pending_feed *pf = NULL;
	size_t n = 0, i;
	uint64_t remain = 0;
	int rc;

	if (left != NULL)
		*left = 0;
	if ((v = views_of(st, &rc)) == NULL)
		return rc;
	if (budget == 0)
		budget = SIZE_MAX;
	if ((rc = kz_store_begin(st)) < 0)
		return rc;
	if ((rc = pending_list(st, &pf, &n)) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		uint64_t from = (uint64_t)pf[i].applied + 1, to = pf[i].tip;

		if (from > to) {		/* nothing waits any more */
			if ((rc = pending_set(st, pf[i].feed, -1)) < 0)
				goto fail;
			continue;
		}
		if (budget == 0) {
			remain += to - from + 1;
			continue;
		}
		if (to - from + 1 > budget)
			to = from + budget - 1;
		if ((rc = apply_range(st, v, pf[i].feed, from, to, true, false, NULL)) < 0)
			goto fail;
		budget -= (size_t)(to - from + 1);
		rc = pending_set(st, pf[i].feed, to >= pf[i].tip ? -1 : (int64_t)to);
		if (rc < 0)
			goto fail;
		remain += pf[i].tip - to;
	}
	free(pf);
	if ((rc = kz_store_commit(st)) < 0) {
		kz__views_forget(st);
		return rc;
	}
	if (left != NULL)
		*left = remain;
	return 0;
fail:
	free(pf);
	kz_store_rollback(st);
	kz__views_forget(st);
	return rc;
}

/* ------------------------------------------------------------ public */

int
kz_views_set_root(struct kz_store *st, const uint8_t root[32])
{
	struct kz__views *v;
	sqlite3_stmt *s;
	int rc;

	if ((v = views_of(st, &rc)) == NULL)
		return rc;
	if (v->has_root)
		return memcmp(v->root, root, 32) == 0 ? 0 : KZ_ERR_EXISTS;
	if ((rc = kz_store_begin(st)) < 0)
		return rc;
	if ((rc = prep(st, &s, "INSERT INTO ws_meta(k, v) VALUES ('root', ?1)")) < 0)
		goto fail;
	sqlite3_bind_blob(s, 1, root, 32, SQLITE_STATIC);
	if ((rc = run(st, s, "set root")) < 0)
		goto fail;
	memcpy(v->root, root, 32);
	v->has_root = true;
	if ((rc = refile_all(st, v)) < 0 || (rc = rebuild_all(st, v)) < 0)
		goto fail;
	return kz_store_commit(st);
fail:
	kz_store_rollback(st);
	kz__views_forget(st);
	return rc;
}

int
kz_views_root(struct kz_store *st, uint8_t root[32])
{
	struct kz__views *v;
	int rc;

	if ((v = views_of(st, &rc)) == NULL)
		return rc;
	if (!v->has_root)
		return KZ_ERR_NOT_FOUND;
	memcpy(root, v->root, 32);
	return 0;
}

int
kz_views_rebuild(struct kz_store *st)
{
	struct kz__views *v;
	int rc;

	if ((v = views_of(st, &rc)) == NULL)
		return rc;
	if ((rc = kz_store_begin(st)) < 0)
		return rc;
	if ((rc = refile_all(st, v)) < 0 || (rc = rebuild_all(st, v)) < 0) {
		kz_store_rollback(st);
		kz__views_forget(st);
		return rc;
	}
	return kz_store_commit(st);
}

int
kz_views_digest(struct kz_store *st, uint8_t out[32])
{
	static const char *const dumps[] = {
		"SELECT k, v FROM ws_meta WHERE k IN ('mesh_id', 'mesh_name') ORDER BY k",
		"SELECT key, name, admin, last_seq FROM ws_nodes ORDER BY key",
		"SELECT id, display_name, department, role, active, password_hash"
		" FROM ws_users ORDER BY id",
		"SELECT id, name, topic, archived, created_hlc, creator FROM ws_channels"
		" ORDER BY id",
		"SELECT id, channel, hlc, author, seq, actor, thread_root, priority,"
		" text, edited, deleted, reply_count, broadcast, subtype, system,"
		" pinned, files, edited_hlc FROM ws_messages ORDER BY id",
		"SELECT message, pos, id, name, title, mimetype, size, url FROM"
		" ws_files ORDER BY message, pos",
		"SELECT target, user, emoji FROM ws_reactions ORDER BY target, user, emoji",
		"SELECT target, user FROM ws_acks ORDER BY target, user",
		"SELECT user, status, place, note, hlc, reporter FROM ws_rollcall"
		" ORDER BY user",
		"SELECT node, hlc, seq FROM ws_link_reports ORDER BY node",
	};
	crypto_generichash_state h;
	size_t i;
	int rc = 0;

	crypto_generichash_init(&h, NULL, 0, 32);
	for (i = 0; i < sizeof(dumps) / sizeof(dumps[0]) && rc == 0; i++)
		rc = kz__store_digest_query(st, &h, dumps[i]);
	crypto_generichash_final(&h, out, 32);
	return rc;
}

int
kz_views_has_created(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    enum kz_op_type type, bool *found)
{
	sqlite3_stmt *s;
	int rc, src;

	*found = false;
	if ((rc = prep(st, &s, "SELECT 1 FROM ws_facts WHERE key = ?1 AND"
	    " type = ?2 LIMIT 1")) < 0)
		return rc;
	sqlite3_bind_blob(s, 1, id, KZ_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)type);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		*found = true;
	else if (src != SQLITE_DONE)
		rc = kz__store_err(st, src, "look up a fact");
	sqlite3_reset(s);
	return rc;
}

/* ------------------------------------------------------------ export */

int
kz_views_channel_digest(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    uint8_t out[32])
{
	static const char *const dumps[] = {
		"SELECT name, topic, archived, created_hlc, creator FROM ws_channels"
		" WHERE id = X'%s'",
		"SELECT id, hlc, actor, thread_root, priority, text, edited, deleted,"
		" reply_count, subtype, system, pinned, files FROM ws_messages"
		" WHERE channel = X'%s' ORDER BY id",
		"SELECT f.message, f.pos, f.id, f.name, f.title, f.mimetype, f.size,"
		" f.url FROM ws_files f JOIN ws_messages m ON m.id = f.message"
		" WHERE m.channel = X'%s' ORDER BY 1, 2",
		"SELECT r.target, r.user, r.emoji FROM ws_reactions r JOIN ws_messages"
		" m ON m.id = r.target WHERE m.channel = X'%s' ORDER BY 1, 2, 3",
		"SELECT a.target, a.user FROM ws_acks a JOIN ws_messages m ON"
		" m.id = a.target WHERE m.channel = X'%s' ORDER BY 1, 2",
		"SELECT id, display_name, active FROM ws_users WHERE id IN (SELECT"
		" actor FROM ws_messages WHERE channel = X'%s') ORDER BY id",
	};
	crypto_generichash_state h;
	char hex[2 * KZ_ID_BYTES + 1], sql[512];
	size_t i;
	int rc = 0;

	kz_hex(hex, id, KZ_ID_BYTES);
	crypto_generichash_init(&h, NULL, 0, 32);
	for (i = 0; i < sizeof(dumps) / sizeof(dumps[0]) && rc == 0; i++) {
		snprintf(sql, sizeof(sql), dumps[i], hex);
		rc = kz__store_digest_query(st, &h, sql);
	}
	crypto_generichash_final(&h, out, 32);
	return rc;
}

int
kz_views_reactions(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    int (*cb)(void *ctx, const char *user, const char *emoji), void *ctx)
{
	sqlite3_stmt *s;
	int rc, src;

	if ((rc = prep(st, &s, "SELECT user, emoji FROM ws_reactions"
	    " WHERE target = ?1 ORDER BY emoji, user")) < 0)
		return rc;
	sqlite3_bind_blob(s, 1, id, KZ_ID_BYTES, SQLITE_STATIC);
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		if ((rc = cb(ctx, (const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1))) != 0)
			break;
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "list reactions");
	sqlite3_reset(s);
	return rc;
}

int
kz_views_created_op(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    enum kz_op_type type, struct kz_op **out)
{
	struct factset fs = { 0 };
	const struct kz_ws_fact *best = NULL;
	size_t i, at = 0;
	int rc;

	*out = NULL;
	if ((rc = load_facts(st, id, KZ_ID_BYTES, &fs)) < 0)
		goto done;
	/* The creating entry the views show: the first in the total order
	 * (kz_ws_message_merge, kz_ws_channel_merge). */
	for (i = 0; i < fs.n; i++) {
		const struct kz_op *op = fs.ops[i];

		if (op == NULL || op->type != type ||
		    memcmp(kz_op_created_id(op, fs.f[i].hash), id, KZ_ID_BYTES) != 0)
			continue;
		if (best == NULL || kz_ws_fact_cmp(&fs.f[i], best) < 0) {
			best = &fs.f[i];
			at = i;
		}
	}
	if (best == NULL) {
		rc = KZ_ERR_NOT_FOUND;
		goto done;
	}
	*out = fs.ops[at];
	fs.ops[at] = NULL;	/* the caller's now */
done:
	factset_free(&fs);
	return rc;
}

