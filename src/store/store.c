/*
 * The SQLite store: feeds, entries, signatures, fork proofs.
 *
 * Invariants kept here:
 *  - entries(feed, seq) holds, for every feed, the contiguous prefix
 *    1..feeds.tip, plus detached entries above it: urgent entries that
 *    travelled ahead of their feed's backlog (kz_store_ingest_entry), each
 *    with its own signature; every entry has the exact 120 signed header
 *    bytes and, unless purged, the exact op bytes that were hashed;
 *  - every stored entry is covered by a held signature at or after it (the
 *    tip always has one), so each prefix re-verifies from the store alone;
 *  - a detached entry joins the prefix only when the chain reaches it with
 *    the very same hash (anything else is a fork);
 *  - a write is one BEGIN IMMEDIATE transaction committed with
 *    synchronous=FULL before success is returned; on any failure it is
 *    rolled back and the store is as it was;
 *  - the next seq and prev hash of an append come from the store inside the
 *    writing transaction, never from a cache.
 *
 * Schema versions live in PRAGMA user_version and only move forward
 * (migrations[] below); a store newer than this program is refused.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/util.h"
#include "store/fts_int.h"
#include "store/store_int.h"

/* ------------------------------------------------------------ migrations */

/*
 * Each step moves the schema from version i to i + 1 inside one
 * transaction.  Never edit a released step: add a new one.
 */
static const char *const migrations[] = {
	/* 0 -> 1: feeds, entries, signatures. */
	"CREATE TABLE feeds("
	"  id INTEGER PRIMARY KEY,"
	"  key BLOB NOT NULL UNIQUE CHECK(length(key) = 32),"
	"  tip INTEGER NOT NULL DEFAULT 0,"
	"  tip_hash BLOB,"
	"  forked INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE entries("
	"  feed INTEGER NOT NULL REFERENCES feeds(id),"
	"  seq INTEGER NOT NULL,"
	"  hlc INTEGER NOT NULL,"
	"  hash BLOB NOT NULL,"
	"  header BLOB NOT NULL,"
	"  op BLOB,"
	"  PRIMARY KEY(feed, seq));"
	"CREATE UNIQUE INDEX entries_hash ON entries(hash);"	/* dropped in 3 */
	"CREATE TABLE sigs("
	"  feed INTEGER NOT NULL REFERENCES feeds(id),"
	"  seq INTEGER NOT NULL,"
	"  sig BLOB NOT NULL,"
	"  PRIMARY KEY(feed, seq)) WITHOUT ROWID;",

	/*
	 * 1 -> 2: fork proofs, and the hybrid logical clock's highest seen
	 * value kept in meta instead of recomputed from every entry.
	 */
	"CREATE TABLE forks("
	"  id INTEGER PRIMARY KEY,"
	"  feed INTEGER NOT NULL REFERENCES feeds(id),"
	"  seq INTEGER NOT NULL,"
	"  other_hash BLOB NOT NULL,"
	"  run BLOB NOT NULL,"
	"  UNIQUE(feed, seq, other_hash));"
	"CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO meta(k, v) SELECT 'hlc', coalesce(max(hlc), 0) FROM entries;",

	/*
	 * 2 -> 3: drop the index on entry hashes.  No query used it, and its
	 * random 32-byte keys dirtied a different page for nearly every
	 * insert: dropping it doubles ingest speed (kizuna-bench ingest).
	 */
	"DROP INDEX IF EXISTS entries_hash;",

	/*
	 * 3 -> 4: the workspace.  ws_facts files each entry under the id it
	 * is about; the ws_ views are recomputed from the facts of each id
	 * (src/store/views.c).  Existing entries are filed by the first
	 * kz_views_rebuild (they predate the workspace: a mesh root must be
	 * set before any of them counts).
	 */
	"CREATE TABLE ws_meta(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;"
	"CREATE TABLE ws_facts("
	"  entry INTEGER PRIMARY KEY,"
	"  key BLOB,"
	"  type INTEGER NOT NULL,"
	"  actor TEXT NOT NULL);"
	"CREATE INDEX ws_facts_key ON ws_facts(key);"
	"CREATE INDEX ws_facts_actor ON ws_facts(actor) WHERE actor <> '';"
	"CREATE TABLE ws_users("
	"  id TEXT PRIMARY KEY, display_name TEXT NOT NULL, department TEXT NOT NULL,"
	"  role INTEGER NOT NULL, active INTEGER NOT NULL, password_hash TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE ws_nodes("
	"  key BLOB PRIMARY KEY, name TEXT NOT NULL, admin INTEGER NOT NULL,"
	"  last_seq INTEGER) WITHOUT ROWID;"
	"CREATE TABLE ws_channels("
	"  id BLOB PRIMARY KEY, name TEXT NOT NULL, topic TEXT NOT NULL,"
	"  archived INTEGER NOT NULL, created_hlc INTEGER NOT NULL,"
	"  creator TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE ws_messages("
	"  doc INTEGER PRIMARY KEY,"	/* (minute << 4) | slot: sorts by time */
	"  id BLOB NOT NULL UNIQUE, channel BLOB NOT NULL, hlc INTEGER NOT NULL,"
	"  author BLOB NOT NULL, seq INTEGER NOT NULL, actor TEXT NOT NULL,"
	"  thread_root BLOB, priority INTEGER NOT NULL, text TEXT NOT NULL,"
	"  edited INTEGER NOT NULL, deleted INTEGER NOT NULL,"
	"  reply_count INTEGER NOT NULL DEFAULT 0,"
	/* Filter values as search terms, so a filtered search intersects
	 * term lists inside the index instead of reading every match. */
	"  meta TEXT GENERATED ALWAYS AS ('c' || lower(hex(substr(channel, 1, 8)))"
	"    || ' a' || lower(hex(actor)) || ' p' || priority) VIRTUAL);"
	"CREATE INDEX ws_messages_channel ON ws_messages(channel, hlc, author, seq);"
	"CREATE INDEX ws_messages_thread ON ws_messages(thread_root, hlc, author, seq)"
	"  WHERE thread_root IS NOT NULL;"
	"CREATE VIRTUAL TABLE ws_search USING fts5(text, meta, content='ws_messages',"
	"  content_rowid='doc', tokenize='kizuna');"
	"CREATE TABLE ws_reactions("
	"  target BLOB NOT NULL, user TEXT NOT NULL, emoji TEXT NOT NULL,"
	"  PRIMARY KEY(target, user, emoji)) WITHOUT ROWID;"
	"CREATE TABLE ws_acks("
	"  target BLOB NOT NULL, user TEXT NOT NULL,"
	"  PRIMARY KEY(target, user)) WITHOUT ROWID;"
	"CREATE TABLE ws_rollcall("
	"  user TEXT PRIMARY KEY, status INTEGER NOT NULL, place TEXT NOT NULL,"
	"  note TEXT NOT NULL, hlc INTEGER NOT NULL, reporter TEXT NOT NULL"
	") WITHOUT ROWID;",

	/*
	 * 4 -> 5: urgent entries (kz_op_is_urgent) whose own signature this
	 * node holds, so they can travel alone ahead of their feed's backlog.
	 * Entries stored before this version travel in their feed's order.
	 */
	"CREATE TABLE urgent("
	"  feed INTEGER NOT NULL REFERENCES feeds(id),"
	"  seq INTEGER NOT NULL,"
	"  PRIMARY KEY(feed, seq)) WITHOUT ROWID;",

	/*
	 * 5 -> 6: the urgent and emergency messages by time, for the web
	 * page's banner (kz_views_unacked): a few rows among millions.
	 */
	"CREATE INDEX ws_messages_urgent ON ws_messages(doc) WHERE priority > 0;",

	/*
	 * 6 -> 7: a thread reply also sent to the channel (an imported
	 * thread_broadcast) shows in the channel's flow too.  Messages stored
	 * before this version show there once the views are rebuilt.
	 */
	"ALTER TABLE ws_messages ADD COLUMN broadcast INTEGER NOT NULL DEFAULT 0;",

	/*
	 * 7 -> 8: the mesh map.  Each admitted node's latest link report
	 * (kz_ws_links_merge): which entry won, so a reader decodes its
	 * links.  A report stored before this version (by a build that did
	 * not know the op) is not filed: the node's next report, due within
	 * [net] link_report_refresh, takes its place.
	 */
	"CREATE TABLE ws_link_reports("
	"  node BLOB PRIMARY KEY, hlc INTEGER NOT NULL, seq INTEGER NOT NULL,"
	"  entry INTEGER NOT NULL) WITHOUT ROWID;",

	/*
	 * 8 -> 9: what an imported message was in its source (docs/slack.md):
	 * its subtype, whether it is a system event (a join, a topic change:
	 * shown as such, not as chat), whether it was pinned; the hlc of a
	 * message's last edit here (0: none), for an export's edited.ts; and
	 * its file references, in a table of their own written only for the
	 * messages that have some (ws_messages.files counts them, so a reader
	 * looks there only for those).  Messages stored before this version
	 * show these once the views are rebuilt.
	 */
	"ALTER TABLE ws_messages ADD COLUMN subtype TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE ws_messages ADD COLUMN system INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE ws_messages ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE ws_messages ADD COLUMN files INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE ws_messages ADD COLUMN edited_hlc INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE ws_files("
	"  message BLOB NOT NULL, pos INTEGER NOT NULL, id TEXT NOT NULL,"
	"  name TEXT NOT NULL, title TEXT NOT NULL, mimetype TEXT NOT NULL,"
	"  size INTEGER NOT NULL, url TEXT NOT NULL,"
	"  PRIMARY KEY(message, pos)) WITHOUT ROWID;",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

_Static_assert(N_MIGRATIONS == KZ_STORE_SCHEMA_VERSION,
    "one migration per schema version");

/* ------------------------------------------------------------ statements */

enum {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_FEED_GET,
	S_FEED_ADD,
	S_FEED_SET_TIP,
	S_FEED_SET_FORKED,
	S_ENTRY_HASH,
	S_ENTRY_HASHES,
	S_ENTRY_ADD,
	S_SIG_ADD,
	S_HLC_GET,
	S_HLC_SET,
	S_FORK_ADD,
	S_RUN_READ,
	S_ENTRY_NEXT,
	S_ENTRY_ABOVE,
	S_URGENT_ADD,
	S_ENTRY_HLC,
	N_STMTS
};

static const char *const stmt_sql[N_STMTS] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_FEED_GET] = "SELECT id, tip, tip_hash, forked FROM feeds WHERE key = ?1",
	[S_FEED_ADD] = "INSERT INTO feeds(key) VALUES (?1)",
	[S_FEED_SET_TIP] = "UPDATE feeds SET tip = ?2, tip_hash = ?3 WHERE id = ?1",
	[S_FEED_SET_FORKED] = "UPDATE feeds SET forked = 1 WHERE id = ?1",
	[S_ENTRY_HASH] = "SELECT hash FROM entries WHERE feed = ?1 AND seq = ?2",
	[S_ENTRY_HASHES] = "SELECT seq, hash FROM entries"
	    " WHERE feed = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
	[S_ENTRY_ADD] = "INSERT INTO entries(feed, seq, hlc, hash, header, op)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_SIG_ADD] = "INSERT OR IGNORE INTO sigs(feed, seq, sig) VALUES (?1, ?2, ?3)",
	[S_HLC_GET] = "SELECT v FROM meta WHERE k = 'hlc'",
	[S_HLC_SET] = "UPDATE meta SET v = max(v, ?1) WHERE k = 'hlc'",
	[S_FORK_ADD] = "INSERT OR IGNORE INTO forks(feed, seq, other_hash, run)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[S_RUN_READ] = "SELECT e.seq, e.header, e.op, s.sig FROM entries e"
	    " LEFT JOIN sigs s ON s.feed = e.feed AND s.seq = e.seq"
	    " WHERE e.feed = ?1 AND e.seq BETWEEN ?2 AND ?3 ORDER BY e.seq",
	[S_ENTRY_NEXT] = "SELECT hash, header FROM entries WHERE feed = ?1 AND seq = ?2",
	[S_ENTRY_ABOVE] = "SELECT 1 FROM entries WHERE feed = ?1 AND seq > ?2 LIMIT 1",
	[S_URGENT_ADD] = "INSERT OR IGNORE INTO urgent(feed, seq) VALUES (?1, ?2)",
	[S_ENTRY_HLC] = "SELECT e.hlc FROM feeds f JOIN entries e ON e.feed = f.id"
	    " WHERE f.key = ?1 AND e.seq = ?2",
};

struct feed_row {
	int64_t id;		/* 0: not stored yet */
	uint64_t tip;
	uint8_t tip_hash[KZ_HASH_BYTES];
	bool forked;
};

struct kz_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[N_STMTS];
	const struct kz_logger *log;
	char *path;
	int schema;
	bool in_group;		/* kz_store_begin() is open */
	int group_rc;		/* a call in the group failed after writing */
	int64_t changes_at_begin;	/* sqlite3_total_changes64 at txn_begin */
	struct kz__views *views;	/* src/store/views.c */
	uint64_t (*now_ms)(void *ctx);	/* wall clock, for hlc_observe */
	/* The highest tip of a feed written here that a peer reported
	 * (kz_store_note_peer_tip); 0: none. */
	uint8_t floor_feed[KZ_PK_BYTES];
	uint64_t floor_tip;
	void *now_ctx;
	bool ahead_logged;
	/*
	 * In a group, the last entry appended to a feed is signed when the
	 * group commits (or when the group moves on to another feed): the
	 * hash chain authenticates the entries before it.
	 */
	struct pending_sig {
		bool active;
		int64_t feed;
		uint64_t seq;
		uint8_t hash[KZ_HASH_BYTES];
		const struct kz_keypair *kp;	/* borrowed until the commit */
	} pend;
	/*
	 * A bulk group (kz_store_begin_bulk): its appends from..to of feed
	 * f.id wait to be applied to the views, and f (tip and tip hash) and
	 * hlc, the clock, are what the store will hold once bulk_flush has
	 * written them.
	 */
	bool bulk;
	struct bulk {
		bool active;
		struct feed_row f;
		uint8_t key[KZ_PK_BYTES];
		uint64_t hlc;
		uint64_t from, to;
		/* The appends' decoded ops (kz_store_append_decoded) in seq
		 * order from from: used when every append of from..to gave
		 * one, i.e. there are to - from + 1 of them. */
		struct kz__bulk_row *rows;
		size_t n_rows, cap_rows;
	} bk;
	struct ckpt *ckpt;	/* kz_store_checkpoint_thread */
	/* Commits wait for the disk (synchronous = FULL), but a bulk
	 * group's (NORMAL: kz_store_begin_bulk). */
	bool relaxed;
};

/*
 * The checkpoint thread: its own connection, woken after each commit to
 * copy what the WAL holds into the database file (a passive checkpoint:
 * it never waits for, nor blocks, the writer).
 */
struct ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db;
	bool kick, stop;
	uint64_t runs;
};

static uint64_t wall_now_ms(void *ctx);

/* Maps a SQLite result code to ours, logging unexpected failures. */
int
kz__store_err(struct kz_store *st, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_FULL:
		kz_log(st->log, KZ_LOG_ERR, "store %s: %s: disk full", st->path, what);
		return KZ_ERR_FULL;
	case SQLITE_NOMEM:
		return KZ_ERR_NOMEM;
	default:
		kz_log(st->log, KZ_LOG_ERR, "store %s: %s: %s", st->path, what,
		    st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		return KZ_ERR_DB;
	}
}

/* A prepared statement, reset and unbound, ready for use. */
static sqlite3_stmt *
stmt(struct kz_store *st, int which)
{
	sqlite3_stmt *s = st->stmt[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Runs a statement that returns no rows. */
static int
step_done(struct kz_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return kz__store_err(st, rc, what);
}

static int
exec_sql(struct kz_store *st, const char *sql, const char *what)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return kz__store_err(st, rc, what);
}

static int
migrate(struct kz_store *st)
{
	sqlite3_stmt *s = NULL;
	int rc, version = 0;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		return kz__store_err(st, rc, "read schema version");
	if (version > N_MIGRATIONS) {
		kz_log(st->log, KZ_LOG_ERR,
		    "store %s has schema version %d; this program knows up to %d",
		    st->path, version, N_MIGRATIONS);
		return KZ_ERR_SCHEMA;
	}
	while (version < N_MIGRATIONS) {
		char pragma[64];

		rc = exec_sql(st, "BEGIN IMMEDIATE", "begin migration");
		if (rc == 0)
			rc = exec_sql(st, migrations[version], "migrate");
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    version + 1);
		if (rc == 0)
			rc = exec_sql(st, pragma, "set schema version");
		if (rc == 0)
			rc = exec_sql(st, "COMMIT", "commit migration");
		if (rc < 0) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		if (version > 0)
			kz_log(st->log, KZ_LOG_INFO,
			    "store %s: migrated schema %d -> %d", st->path,
			    version, version + 1);
		version++;
	}
	st->schema = version;
	return 0;
}

/*
 * SQLite's memory statistics off, before SQLite is first used: with them
 * on (Debian's build), every allocation and free of every connection takes
 * one global mutex, 1.7% of an import's store thread (perf record,
 * kizuna-bench slack).  kizuna reads no memory statistics.  (Once SQLite
 * has been initialized, by a program's own use of it, this fails and
 * changes nothing.)
 */
static pthread_once_t sqlite_setup_once = PTHREAD_ONCE_INIT;

static void
sqlite_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
kz_store_open(struct kz_store **out, const char *path, const struct kz_logger *log)
{
	struct kz_store *st;
	int rc, i;

	*out = NULL;
	pthread_once(&sqlite_setup_once, sqlite_setup);
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return KZ_ERR_NOMEM;
	st->log = log;
	st->now_ms = wall_now_ms;
	st->path = strdup(path);
	if (st->path == NULL) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	rc = sqlite3_open_v2(path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = kz__store_err(st, rc, "open");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	rc = exec_sql(st,
	    "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL;"
	    "PRAGMA secure_delete = ON;"
	    "PRAGMA cache_size = -32768;"	/* 32 MiB: views and search pages */
	    "PRAGMA foreign_keys = ON;", "configure");
	if (rc < 0)
		goto fail;
	/* The search tokenizer must exist before any schema that names it. */
	if ((rc = kz__fts_register(st->db)) < 0) {
		kz_log(log, KZ_LOG_ERR, "store %s: cannot register the search tokenizer",
		    path);
		goto fail;
	}
	rc = migrate(st);
	if (rc < 0)
		goto fail;
	for (i = 0; i < N_STMTS; i++) {
		int src = sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL);
		if (src != SQLITE_OK) {
			rc = kz__store_err(st, src, stmt_sql[i]);
			goto fail;
		}
	}
	*out = st;
	return 0;
fail:
	kz_store_free(st);
	return rc;
}

void
kz_store_free(struct kz_store *st)
{
	int i;

	if (st == NULL)
		return;
	if (st->in_group)
		kz_store_rollback(st);
	kz_store_checkpoint_thread(st, false);
	for (i = 0; i < N_STMTS; i++)
		sqlite3_finalize(st->stmt[i]);
	kz__views_free(st->views);
	free(st->bk.rows);
	if (st->db != NULL)
		sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int
kz_store_schema_version(struct kz_store *st)
{
	return st->schema;
}

sqlite3 *
kz__store_db(struct kz_store *st)
{
	return st->db;
}

const char *
kz__store_path(struct kz_store *st)
{
	return st->path;
}

struct kz__views **
kz__store_views(struct kz_store *st)
{
	return &st->views;
}

bool
kz__store_in_bulk(struct kz_store *st)
{
	return st->in_group && st->bulk;
}

/* ------------------------------------------------------------ transactions */

/*
 * One call's writes: a transaction of its own, or inside a group part of
 * the group's transaction.  No savepoint per call: FTS5 flushes its pending
 * index data at every RELEASE, which made bulk appends three times slower.
 * Instead a call that fails after it wrote anything marks the group failed
 * (group_rc), and kz_store_commit then rolls the whole group back; a call
 * refused before writing (a gap, a bad signature ...) leaves it as it was.
 */
static void ckpt_kick(struct kz_store *st);

/*
 * Whether the next transaction's commit waits for the disk.  SQLite takes
 * the setting only outside a transaction, so it is made before BEGIN.
 */
static int
set_relaxed(struct kz_store *st, bool relaxed)
{
	int rc;

	if (st->relaxed == relaxed)
		return 0;
	rc = exec_sql(st, relaxed ? "PRAGMA synchronous = NORMAL" :
	    "PRAGMA synchronous = FULL", "set synchronous");
	if (rc == 0)
		st->relaxed = relaxed;
	return rc;
}

static int
txn_begin_as(struct kz_store *st, bool relaxed)
{
	int rc;

	st->changes_at_begin = sqlite3_total_changes64(st->db);
	if (st->in_group)
		return st->group_rc;
	if ((rc = set_relaxed(st, relaxed)) < 0)
		return rc;
	return step_done(st, stmt(st, S_BEGIN), "begin");
}

static int
txn_begin(struct kz_store *st)
{
	return txn_begin_as(st, false);
}

static int
txn_commit(struct kz_store *st)
{
	int rc;

	if (st->in_group)
		return 0;
	rc = step_done(st, stmt(st, S_COMMIT), "commit");
	if (rc < 0)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	else
		ckpt_kick(st);
	return rc;
}

/* Undoes a failed call (why: its error). */
static void
txn_rollback(struct kz_store *st, int why)
{
	kz__views_forget(st);
	if (st->in_group) {
		if (st->group_rc == 0 &&
		    sqlite3_total_changes64(st->db) != st->changes_at_begin)
			st->group_rc = why < 0 ? why : KZ_ERR_DB;
		return;
	}
	if (!sqlite3_get_autocommit(st->db))
		step_done(st, stmt(st, S_ROLLBACK), "rollback");
}

static int sig_add(struct kz_store *st, int64_t feed, uint64_t seq,
    const uint8_t sig[KZ_SIG_BYTES]);

/* Signs and stores the group's pending run end, if any. */
static int
flush_pending_sig(struct kz_store *st)
{
	uint8_t sig[KZ_SIG_BYTES];
	int rc;

	if (!st->pend.active)
		return 0;
	rc = kz_sign_hash(sig, st->pend.hash, st->pend.kp);
	if (rc == 0)
		rc = sig_add(st, st->pend.feed, st->pend.seq, sig);
	if (rc == 0)
		st->pend.active = false;
	return rc;
}

uint64_t
kz_store_changes(struct kz_store *st)
{
	return (uint64_t)sqlite3_total_changes64(st->db);
}

static int
group_begin(struct kz_store *st, bool bulk)
{
	int rc;

	if (st->in_group)
		return KZ_ERR_INVAL;
	st->group_rc = 0;
	rc = txn_begin_as(st, bulk);
	if (rc == 0) {
		st->in_group = true;
		st->pend.active = false;
		st->bulk = bulk;
		st->bk.active = false;
	}
	return rc;
}

int
kz_store_begin(struct kz_store *st)
{
	return group_begin(st, false);
}

static int feed_set_tip(struct kz_store *st, int64_t id, uint64_t tip,
    const uint8_t hash[KZ_HASH_BYTES]);
static int hlc_set(struct kz_store *st, uint64_t hlc);

/* Forgets the decoded ops a bulk run kept. */
static void
bulk_rows_drop(struct kz_store *st)
{
	size_t i;

	for (i = 0; i < st->bk.n_rows; i++)
		kz_op_free(st->bk.rows[i].op);
	st->bk.n_rows = 0;
}

/* Keeps the decoded op of the entry just appended; false: no room. */
static bool
bulk_row_keep(struct kz_store *st, int64_t rowid,
    const struct kz_entry_header *h, const uint8_t hash[KZ_HASH_BYTES],
    struct kz_op *op)
{
	struct bulk *b = &st->bk;
	struct kz__bulk_row *r;

	if (b->n_rows == b->cap_rows) {
		size_t cap = b->cap_rows ? 2 * b->cap_rows : 256;

		if ((r = realloc(b->rows, cap * sizeof(*r))) == NULL)
			return false;
		b->rows = r;
		b->cap_rows = cap;
	}
	r = &b->rows[b->n_rows++];
	r->rowid = rowid;
	r->seq = h->seq;
	r->hlc = h->hlc;
	memcpy(r->hash, hash, KZ_HASH_BYTES);
	r->op = op;
	return true;
}

/* Writes a bulk group's feed tip and clock and applies its appends. */
static int
bulk_flush(struct kz_store *st)
{
	struct bulk *b = &st->bk;
	int rc;

	if (!b->active)
		return 0;
	b->active = false;
	rc = feed_set_tip(st, b->f.id, b->f.tip, b->f.tip_hash);
	if (rc == 0)
		rc = hlc_set(st, b->hlc);
	if (rc == 0 && b->n_rows == b->to - b->from + 1)
		rc = kz__views_apply_rows(st, b->f.id, b->key, b->from, b->to,
		    b->rows, b->n_rows);
	else if (rc == 0)
		rc = kz__views_apply(st, b->f.id, b->from, b->to);
	bulk_rows_drop(st);
	if (rc < 0 && st->group_rc == 0)
		st->group_rc = rc;	/* it wrote: the group is undone */
	return rc;
}

/*
 * A bulk group commits without waiting for the disk: its WAL frames are
 * written, not flushed.  A crash of the program loses nothing; a power cut
 * may lose the last groups (whole: the database stays consistent), which
 * an import adds again when it is run again.  A 10,000-entry commit's
 * flush took 12-16 ms of the store thread's wall time (perf sched,
 * kizuna-bench slack).  kz_store_sync makes them durable.
 */
int
kz_store_begin_bulk(struct kz_store *st)
{
	return group_begin(st, true);
}

int
kz_store_sync(struct kz_store *st)
{
	sqlite3_file *f = NULL;
	int rc;

	if (st->in_group)
		return KZ_ERR_INVAL;
	rc = sqlite3_file_control(st->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &f);
	if (rc != SQLITE_OK)
		return kz__store_err(st, rc, "find the WAL");
	if (f == NULL || f->pMethods == NULL)
		return 0;	/* no WAL open: nothing written since */
	rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
	return rc == SQLITE_OK ? 0 : kz__store_err(st, rc, "flush the WAL");
}

int
kz_store_bulk_apply(struct kz_store *st)
{
	if (!st->in_group || !st->bulk)
		return 0;
	if (st->group_rc < 0)
		return st->group_rc;
	return bulk_flush(st);
}

static void *
ckpt_main(void *arg)
{
	struct ckpt *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->kick && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->kick = false;
		pthread_mutex_unlock(&c->mu);
		/* A failure (the disk full, say) leaves the frames in the WAL,
		 * where they are safe; the writer's own checkpoint retries. */
		(void)sqlite3_wal_checkpoint_v2(c->db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->mu);
		c->runs++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/*
 * The WAL pages at which the writer checkpoints by itself.  With the
 * thread, the WAL can start over only when the thread has copied all of
 * it before the writer's next transaction begins, which a run of commits
 * never leaves time for: the writer's own checkpoint then copies the last
 * commit's frames itself, once per CKPT_PAGES_THREAD pages written (an
 * import's 10,000-entry commit writes ~40 MiB).  At 64 MiB those took
 * 2.5% of the store thread's samples (perf record, kizuna-bench slack,
 * 100,000 messages); at 256 MiB none ran.  The WAL file stays that big
 * until the thread ends.
 */
#define CKPT_PAGES_OWN 1000
#define CKPT_PAGES_THREAD 65536

int
kz_store_checkpoint_thread(struct kz_store *st, bool on)
{
	struct ckpt *c = st->ckpt;
	char sql[64];
	int rc;

	if (on == (c != NULL))
		return 0;
	if (!on) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
		sqlite3_close(c->db);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		free(c);
		st->ckpt = NULL;
		snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %d",
		    CKPT_PAGES_OWN);
		if ((rc = exec_sql(st, sql, "checkpoint by itself")) < 0)
			return rc;
		/* The WAL grew to tens of MiB: copied over, it is cut to
		 * nothing (unless a reader holds it: then it stays). */
		(void)sqlite3_wal_checkpoint_v2(st->db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		return 0;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KZ_ERR_NOMEM;
	rc = sqlite3_open_v2(st->path, &c->db, SQLITE_OPEN_READWRITE, NULL);
	/*
	 * A connection learns that the database is in WAL mode when it first
	 * reads it: before, sqlite3_wal_checkpoint_v2 on it does nothing (and
	 * did nothing here, until this read: the writer copied everything
	 * itself, at 64 MiB of WAL and at the end).
	 */
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(c->db, 5000);
		rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL,
		    NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		rc = kz__store_err(st, rc, "open for checkpoints");
		sqlite3_close(c->db);
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		sqlite3_close(c->db);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		free(c);
		return KZ_ERR_NOMEM;
	}
	st->ckpt = c;
	/* Should the thread fall far behind, the writer still bounds the WAL. */
	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %d",
	    CKPT_PAGES_THREAD);
	return exec_sql(st, sql, "checkpoint on a thread");
}

uint64_t
kz_store_checkpoints(struct kz_store *st)
{
	uint64_t n;

	if (st->ckpt == NULL)
		return 0;
	pthread_mutex_lock(&st->ckpt->mu);
	n = st->ckpt->runs;
	pthread_mutex_unlock(&st->ckpt->mu);
	return n;
}

/* After a commit: the checkpoint thread, if any, copies it over. */
static void
ckpt_kick(struct kz_store *st)
{
	if (st->ckpt == NULL)
		return;
	pthread_mutex_lock(&st->ckpt->mu);
	st->ckpt->kick = true;
	pthread_cond_signal(&st->ckpt->cv);
	pthread_mutex_unlock(&st->ckpt->mu);
}

int
kz_store_commit(struct kz_store *st)
{
	int rc;

	if (!st->in_group)
		return KZ_ERR_INVAL;
	rc = st->group_rc;
	if (rc == 0)
		rc = bulk_flush(st);
	if (rc == 0)
		rc = flush_pending_sig(st);
	st->in_group = false;
	st->bulk = false;
	st->bk.active = false;
	bulk_rows_drop(st);
	st->pend.active = false;
	st->group_rc = 0;
	if (rc < 0) {
		txn_rollback(st, rc);
		return rc;
	}
	return txn_commit(st);
}

void
kz_store_rollback(struct kz_store *st)
{
	if (!st->in_group)
		return;
	st->in_group = false;
	st->bulk = false;
	st->bk.active = false;
	bulk_rows_drop(st);
	st->pend.active = false;
	st->group_rc = 0;
	txn_rollback(st, 0);
}

/* ------------------------------------------------------------ feeds */

static int
feed_get(struct kz_store *st, const uint8_t key[KZ_PK_BYTES], struct feed_row *f)
{
	sqlite3_stmt *s = stmt(st, S_FEED_GET);
	int rc;

	memset(f, 0, sizeof(*f));
	sqlite3_bind_blob(s, 1, key, KZ_PK_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		f->id = sqlite3_column_int64(s, 0);
		f->tip = (uint64_t)sqlite3_column_int64(s, 1);
		if (sqlite3_column_bytes(s, 2) == KZ_HASH_BYTES)
			memcpy(f->tip_hash, sqlite3_column_blob(s, 2), KZ_HASH_BYTES);
		f->forked = sqlite3_column_int(s, 3) != 0;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(s);
	return kz__store_err(st, rc, "read feed");
}

static int
feed_add(struct kz_store *st, const uint8_t key[KZ_PK_BYTES], struct feed_row *f)
{
	sqlite3_stmt *s = stmt(st, S_FEED_ADD);
	int rc;

	sqlite3_bind_blob(s, 1, key, KZ_PK_BYTES, SQLITE_STATIC);
	rc = step_done(st, s, "add feed");
	if (rc == 0)
		f->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

static int
feed_set_tip(struct kz_store *st, int64_t id, uint64_t tip,
    const uint8_t hash[KZ_HASH_BYTES])
{
	sqlite3_stmt *s = stmt(st, S_FEED_SET_TIP);

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)tip);
	sqlite3_bind_blob(s, 3, hash, KZ_HASH_BYTES, SQLITE_STATIC);
	return step_done(st, s, "set tip");
}

static int
entry_hash(struct kz_store *st, int64_t feed, uint64_t seq,
    uint8_t hash[KZ_HASH_BYTES])
{
	sqlite3_stmt *s = stmt(st, S_ENTRY_HASH);
	int rc;

	sqlite3_bind_int64(s, 1, feed);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != KZ_HASH_BYTES) {
			sqlite3_reset(s);
			return KZ_ERR_CORRUPT;
		}
		memcpy(hash, sqlite3_column_blob(s, 0), KZ_HASH_BYTES);
		sqlite3_reset(s);
		return 0;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return KZ_ERR_CORRUPT;	/* a seq below the tip must exist */
	return kz__store_err(st, rc, "read entry hash");
}

static int
entry_add(struct kz_store *st, int64_t feed, uint64_t seq, uint64_t hlc,
    const uint8_t hash[KZ_HASH_BYTES], const uint8_t header[KZ_HEADER_BYTES],
    const uint8_t *op, size_t op_len)
{
	sqlite3_stmt *s = stmt(st, S_ENTRY_ADD);

	sqlite3_bind_int64(s, 1, feed);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	sqlite3_bind_int64(s, 3, (int64_t)hlc);
	sqlite3_bind_blob(s, 4, hash, KZ_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, header, KZ_HEADER_BYTES, SQLITE_STATIC);
	if (op != NULL)
		sqlite3_bind_blob(s, 6, op, (int)op_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	return step_done(st, s, "add entry");
}

static int
sig_add(struct kz_store *st, int64_t feed, uint64_t seq,
    const uint8_t sig[KZ_SIG_BYTES])
{
	sqlite3_stmt *s = stmt(st, S_SIG_ADD);

	sqlite3_bind_int64(s, 1, feed);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	sqlite3_bind_blob(s, 3, sig, KZ_SIG_BYTES, SQLITE_STATIC);
	return step_done(st, s, "add signature");
}

static int
hlc_get(struct kz_store *st, uint64_t *hlc)
{
	sqlite3_stmt *s = stmt(st, S_HLC_GET);
	int rc = sqlite3_step(s);

	*hlc = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : kz__store_err(st, rc, "read clock");
}


static uint64_t
wall_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
kz_store_set_clock(struct kz_store *st, uint64_t (*now_ms)(void *ctx),
    void *ctx)
{
	st->now_ms = now_ms != NULL ? now_ms : wall_now_ms;
	st->now_ctx = ctx;
}

/*
 * Folds a received hlc into the clock, but never past the local wall clock
 * plus KZ_HLC_AHEAD_MAX_MS: one box whose clock runs days ahead must not
 * drag every node's clock (and every later entry's time) with it.  Its
 * entries are kept, signed as they are; they merely sort late.
 */
static int
hlc_observe(struct kz_store *st, uint64_t hlc)
{
	uint64_t cap = st->now_ms(st->now_ctx) + KZ_HLC_AHEAD_MAX_MS;

	if (cap < KZ_HLC_MAX >> KZ_HLC_COUNTER_BITS &&
	    hlc > cap << KZ_HLC_COUNTER_BITS) {
		if (!st->ahead_logged)
			kz_log(st->log, KZ_LOG_WARN, "store %s: an entry's clock is "
			    "%llu s ahead of this node's; not followed",
			    st->path, (unsigned long long)((kz_hlc_ms(hlc) -
			    (cap - KZ_HLC_AHEAD_MAX_MS)) / 1000));
		st->ahead_logged = true;
		hlc = cap << KZ_HLC_COUNTER_BITS;
	}
	return hlc_set(st, hlc);
}

static int
hlc_set(struct kz_store *st, uint64_t hlc)
{
	sqlite3_stmt *s = stmt(st, S_HLC_SET);

	sqlite3_bind_int64(s, 1, (int64_t)hlc);
	return step_done(st, s, "set clock");
}

/* 1 if the feed holds an entry past seq (a detached one), else 0. */
static int
entry_above(struct kz_store *st, int64_t feed, uint64_t seq)
{
	sqlite3_stmt *s = stmt(st, S_ENTRY_ABOVE);
	int src;

	sqlite3_bind_int64(s, 1, feed);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	src = sqlite3_step(s);
	sqlite3_reset(s);
	if (src == SQLITE_ROW)
		return 1;
	return src == SQLITE_DONE ? 0 : kz__store_err(st, src, "look past the tip");
}

static int
urgent_add(struct kz_store *st, int64_t feed, uint64_t seq)
{
	sqlite3_stmt *s = stmt(st, S_URGENT_ADD);

	sqlite3_bind_int64(s, 1, feed);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	return step_done(st, s, "add urgent entry");
}

/*
 * Moves f's tip over the detached entries that now follow it, each of
 * which must link to the one before.  One that does not stays detached
 * (its author signed two entries at the seq before it: the run that
 * brings that seq records the fork).
 */
static int record_fork(struct kz_store *st, const struct feed_row *f,
    const struct kz_run *run, uint64_t seq, const uint8_t other[KZ_HASH_BYTES]);

static int
extend_tip(struct kz_store *st, struct feed_row *f,
    const uint8_t author[KZ_PK_BYTES])
{
	sqlite3_stmt *s = stmt(st, S_ENTRY_NEXT);
	uint64_t tip = f->tip;
	uint8_t hash[KZ_HASH_BYTES];
	int rc = 0, src;

	memcpy(hash, f->tip_hash, KZ_HASH_BYTES);
	for (;;) {
		struct kz_entry_header h;

		sqlite3_bind_int64(s, 1, f->id);
		sqlite3_bind_int64(s, 2, (int64_t)(tip + 1));
		src = sqlite3_step(s);
		if (src != SQLITE_ROW) {
			if (src != SQLITE_DONE)
				rc = kz__store_err(st, src, "read detached entry");
			break;
		}
		if (sqlite3_column_bytes(s, 0) != KZ_HASH_BYTES ||
		    kz_header_decode(&h, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1)) < 0) {
			rc = KZ_ERR_CORRUPT;
			break;
		}
		if (memcmp(h.prev, hash, KZ_HASH_BYTES) != 0) {
			/*
			 * Its author signed another entry at seq tip than the
			 * one held (a node restored from a backup wrote it
			 * again): a fork, the detached entry its proof.
			 */
			struct kz_run *proof = NULL;

			sqlite3_reset(s);
			rc = kz_store_read_entry(st, author, tip + 1, &proof);
			if (rc == 0)
				rc = record_fork(st, f, proof, tip, h.prev);
			kz_run_free(proof);
			break;
		}
		memcpy(hash, sqlite3_column_blob(s, 0), KZ_HASH_BYTES);
		sqlite3_reset(s);
		tip++;
	}
	sqlite3_reset(s);
	if (rc == 0 && tip > f->tip) {
		rc = feed_set_tip(st, f->id, tip, hash);
		if (rc == 0) {
			f->tip = tip;
			memcpy(f->tip_hash, hash, KZ_HASH_BYTES);
		}
	}
	return rc;
}

/* ------------------------------------------------------------ append */

static int
out_appended(struct kz_appended *out, const struct kz_entry_header *h,
    uint64_t hlc, const uint8_t hash[KZ_HASH_BYTES])
{
	if (out != NULL) {
		out->seq = h->seq;
		out->hlc = hlc;
		memcpy(out->hash, hash, KZ_HASH_BYTES);
	}
	return 0;
}

/*
 * kz_store_append; dec (kz_store_append_decoded, or NULL) is the op's
 * decoded form, owned from here on.
 */
static int
append(struct kz_store *st, const struct kz_keypair *kp, uint64_t wall_ms,
    const uint8_t *op, size_t op_len, struct kz_op *dec,
    struct kz_appended *out)
{
	struct kz_entry_header h;
	struct feed_row f;
	struct pending_sig saved = st->pend;
	uint8_t header[KZ_HEADER_BYTES], hash[KZ_HASH_BYTES], sig[KZ_SIG_BYTES];
	uint64_t last, hlc;
	int64_t rowid = 0;
	bool urgent;
	int rc;

	if (op_len > KZ_OP_MAX) {
		kz_op_free(dec);
		return KZ_ERR_TOO_BIG;
	}
	if ((rc = txn_begin(st)) < 0) {
		kz_op_free(dec);
		return rc;
	}
	if (st->bulk && st->bk.active &&
	    memcmp(st->bk.key, kp->pk, KZ_PK_BYTES) == 0) {
		/* Checked by the group's first append; only we wrote since. */
		f = st->bk.f;
		last = st->bk.hlc;
		goto build;
	}
	if (st->bulk && (rc = bulk_flush(st)) < 0)
		goto fail;
	rc = feed_get(st, kp->pk, &f);
	if (rc == 0 && f.id == 0)
		rc = feed_add(st, kp->pk, &f);
	if (rc < 0)
		goto fail;
	if (f.forked) {
		/* Someone else signed with our key, or we were restored from
		 * an old backup: appending now would deepen the fork. */
		rc = KZ_ERR_FORK;
		goto fail;
	}
	if (st->floor_tip > f.tip &&
	    memcmp(st->floor_feed, kp->pk, KZ_PK_BYTES) == 0) {
		/* A peer holds more of our own feed than we do. */
		rc = KZ_ERR_BEHIND;
		goto fail;
	}
	if ((rc = entry_above(st, f.id, f.tip)) != 0) {
		/* An entry of our own feed came back past our tip: we were
		 * restored from a backup and must not write that seq again. */
		if (rc > 0)
			rc = KZ_ERR_BEHIND;
		goto fail;
	}
	if ((rc = hlc_get(st, &last)) < 0)
		goto fail;
build:
	hlc = kz_hlc_next(last, wall_ms);
	if (hlc > KZ_HLC_MAX) {
		rc = KZ_ERR_INVAL;
		goto fail;
	}
	rc = kz_entry_build(&h, header, hash, kp->pk, f.tip + 1, f.tip_hash, hlc,
	    op, op_len);
	if (rc == 0)
		rc = entry_add(st, f.id, h.seq, hlc, hash, header, op, op_len);
	if (rc == 0)
		rowid = sqlite3_last_insert_rowid(st->db);
	urgent = kz_op_bytes_urgent(op, op_len);
	if (rc == 0 && st->in_group && !urgent) {
		/* Another feed's pending run end is signed now; ours waits. */
		if (st->pend.active && st->pend.feed != f.id)
			rc = flush_pending_sig(st);
		st->pend = (struct pending_sig){ .active = true, .feed = f.id,
		    .seq = h.seq, .kp = kp };
		memcpy(st->pend.hash, hash, KZ_HASH_BYTES);
	} else if (rc == 0) {
		/* Signed alone: an urgent entry travels ahead of the rest. */
		if (st->in_group && st->pend.active) {
			if (st->pend.feed != f.id)
				rc = flush_pending_sig(st);
			else
				st->pend.active = false;	/* covered by ours */
		}
		if (rc == 0)
			rc = kz_sign_hash(sig, hash, kp);
		if (rc == 0)
			rc = sig_add(st, f.id, h.seq, sig);
		if (rc == 0 && urgent)
			rc = urgent_add(st, f.id, h.seq);
	}
	if (rc == 0 && st->bulk) {
		/* The tip, the clock and the views follow in bulk_flush. */
		if (!st->bk.active) {
			st->bk.active = true;
			memcpy(st->bk.key, kp->pk, KZ_PK_BYTES);
			st->bk.from = h.seq;
			bulk_rows_drop(st);
		}
		/* Used only if decoded from these very bytes; one not kept
		 * leaves the run short, and it is read back. */
		if (dec == NULL || !dec->hashed ||
		    memcmp(dec->src_hash, h.op_hash, KZ_HASH_BYTES) != 0 ||
		    !bulk_row_keep(st, rowid, &h, hash, dec))
			kz_op_free(dec);
		st->bk.f = f;
		st->bk.f.tip = h.seq;
		memcpy(st->bk.f.tip_hash, hash, KZ_HASH_BYTES);
		st->bk.hlc = hlc;
		st->bk.to = h.seq;
		return out_appended(out, &h, hlc, hash);
	}
	kz_op_free(dec);
	dec = NULL;
	if (rc == 0)
		rc = feed_set_tip(st, f.id, h.seq, hash);
	if (rc == 0)
		rc = hlc_set(st, hlc);
	if (rc == 0)
		rc = kz__views_apply(st, f.id, h.seq, h.seq);
	if (rc == 0)
		rc = txn_commit(st);
	if (rc < 0)
		goto fail;
	return out_appended(out, &h, hlc, hash);
fail:
	kz_op_free(dec);
	txn_rollback(st, rc);
	st->pend = saved;
	return rc;
}

int
kz_store_append(struct kz_store *st, const struct kz_keypair *kp,
    uint64_t wall_ms, const uint8_t *op, size_t op_len, struct kz_appended *out)
{
	return append(st, kp, wall_ms, op, op_len, NULL, out);
}

int
kz_store_append_decoded(struct kz_store *st, const struct kz_keypair *kp,
    uint64_t wall_ms, const uint8_t *op, size_t op_len, struct kz_op *decoded,
    struct kz_appended *out)
{
	return append(st, kp, wall_ms, op, op_len, decoded, out);
}

int
kz_store_note_peer_tip(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t tip)
{
	struct feed_row f;
	char fp[KZ_FINGERPRINT_CHARS + 1];
	int rc = feed_get(st, author, &f);

	if (rc < 0 || tip <= f.tip)
		return rc;
	if (tip > st->floor_tip || memcmp(st->floor_feed, author, KZ_PK_BYTES) != 0) {
		kz_fingerprint(fp, author);
		kz_log(st->log, KZ_LOG_WARN, "store %s: a peer holds this node's own "
		    "feed %s up to seq %llu, this store only to %llu (restored from "
		    "a backup?): no writing until it has caught up", st->path, fp,
		    (unsigned long long)tip, (unsigned long long)f.tip);
		memcpy(st->floor_feed, author, KZ_PK_BYTES);
		st->floor_tip = tip;
	}
	return 0;
}

/* ------------------------------------------------------------ ingest */

/* Keeps the other branch of a fork as proof and flags the feed. */
static int
record_fork(struct kz_store *st, const struct feed_row *f,
    const struct kz_run *run, uint64_t seq, const uint8_t other[KZ_HASH_BYTES])
{
	sqlite3_stmt *s;
	uint8_t *buf = NULL;
	size_t len;
	int rc;
	char fp[KZ_FINGERPRINT_CHARS + 1];

	rc = kz_run_encode(&buf, &len, run);
	if (rc < 0)
		return rc;
	s = stmt(st, S_FORK_ADD);
	sqlite3_bind_int64(s, 1, f->id);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	sqlite3_bind_blob(s, 3, other, KZ_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, buf, (int)len, SQLITE_STATIC);
	rc = step_done(st, s, "add fork proof");
	sqlite3_clear_bindings(s);
	free(buf);
	if (rc == 0) {
		s = stmt(st, S_FEED_SET_FORKED);
		sqlite3_bind_int64(s, 1, f->id);
		rc = step_done(st, s, "flag fork");
	}
	if (rc == 0 && !f->forked) {
		kz_fingerprint(fp, run->author);
		kz_log(st->log, KZ_LOG_WARN,
		    "fork detected in feed %s at seq %llu: proof kept, first-seen "
		    "branch still served", fp, (unsigned long long)seq);
	}
	return rc;
}

int
kz_store_ingest(struct kz_store *st, const struct kz_run *run,
    struct kz_ingest_result *res)
{
	struct kz_ingest_result dummy;
	struct feed_row f;
	uint8_t prev[KZ_HASH_BYTES];
	uint8_t (*hashes)[KZ_HASH_BYTES] = NULL;
	uint8_t (*headers)[KZ_HEADER_BYTES] = NULL;
	bool *held = NULL;
	uint64_t last_seq, k, seg, max_hlc = 0;
	size_t i;
	int rc;

	if (st->bulk)
		return KZ_ERR_INVAL;	/* appends only (kz_store_begin_bulk) */
	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (run->n == 0 || run->n > KZ_RUN_MAX_ENTRIES || run->first_seq == 0 ||
	    run->first_seq > KZ_SEQ_MAX || run->n - 1 > KZ_SEQ_MAX - run->first_seq)
		return KZ_ERR_INVAL;
	last_seq = run->first_seq + run->n - 1;
	hashes = malloc(run->n * sizeof(*hashes));
	headers = malloc(run->n * sizeof(*headers));
	held = calloc(run->n, sizeof(*held));
	if (hashes == NULL || headers == NULL || held == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	if ((rc = txn_begin(st)) < 0)
		goto out;
	if ((rc = feed_get(st, run->author, &f)) < 0)
		goto fail;
	res->tip = f.tip;
	if (run->first_seq > f.tip + 1) {
		rc = KZ_ERR_GAP;
		goto fail;
	}
	if (run->first_seq == 1)
		memset(prev, 0, sizeof(prev));
	else if (run->first_seq - 1 == f.tip)
		memcpy(prev, f.tip_hash, sizeof(prev));
	else if ((rc = entry_hash(st, f.id, run->first_seq - 1, prev)) < 0)
		goto fail;
	if (run->has_prev && memcmp(prev, run->prev, KZ_HASH_BYTES) != 0) {
		rc = KZ_ERR_CHAIN;
		goto fail;
	}
	if ((rc = kz_run_rebuild(run, prev, hashes, headers)) < 0)
		goto fail;
	if ((rc = kz_verify_hash(run->sig, hashes[run->n - 1], run->author)) < 0)
		goto fail;

	/*
	 * Entries we already hold (the prefix up to the tip, and detached
	 * entries above it) must be the very same entries.
	 */
	{
		uint64_t hi = last_seq < f.tip ? last_seq : f.tip;
		uint64_t below = 0;
		sqlite3_stmt *s = stmt(st, S_ENTRY_HASHES);
		int src;

		sqlite3_bind_int64(s, 1, f.id);
		sqlite3_bind_int64(s, 2, (int64_t)run->first_seq);
		sqlite3_bind_int64(s, 3, (int64_t)last_seq);
		k = 0;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0);
			const void *h = sqlite3_column_blob(s, 1);

			if (seq < run->first_seq || seq > last_seq ||
			    sqlite3_column_bytes(s, 1) != KZ_HASH_BYTES) {
				sqlite3_reset(s);
				rc = KZ_ERR_CORRUPT;
				goto fail;
			}
			if (memcmp(h, hashes[seq - run->first_seq], KZ_HASH_BYTES) != 0) {
				k = seq;
				break;
			}
			held[seq - run->first_seq] = true;
			if (seq <= f.tip)
				below++;
		}
		sqlite3_reset(s);
		if (src != SQLITE_ROW && src != SQLITE_DONE) {
			rc = kz__store_err(st, src, "read entry hashes");
			goto fail;
		}
		if (k != 0) {
			res->fork_seq = k;
			rc = record_fork(st, &f, run, k, hashes[k - run->first_seq]);
			if (rc == 0)
				rc = txn_commit(st);
			if (rc == 0)
				rc = KZ_ERR_FORK;
			else
				txn_rollback(st, rc);
			goto out;
		}
		if (run->first_seq <= f.tip) {
			if (below != hi - run->first_seq + 1) {
				rc = KZ_ERR_CORRUPT;	/* a hole below the tip */
				goto fail;
			}
			res->duplicate = below;
		}
	}

	if (f.id == 0 && (rc = feed_add(st, run->author, &f)) < 0)
		goto fail;
	/*
	 * Store what is new; the workspace takes each stretch of new entries
	 * (a detached entry in the middle was applied when it came).
	 */
	seg = 0;
	for (k = f.tip + 1; k <= last_seq; k++) {
		i = k - run->first_seq;
		if (held[i]) {
			res->duplicate++;
			if (seg != 0 && (rc = kz__views_apply(st, f.id, seg, k - 1)) < 0)
				goto fail;
			seg = 0;
			continue;
		}
		rc = entry_add(st, f.id, k, run->entries[i].hlc, hashes[i],
		    headers[i], run->entries[i].op, run->entries[i].op_len);
		if (rc < 0)
			goto fail;
		if (run->entries[i].hlc > max_hlc)
			max_hlc = run->entries[i].hlc;
		if (seg == 0)
			seg = k;
		res->added++;
	}
	/* The signature is worth keeping even over entries we held: it is
	 * one more possible run end. */
	if ((rc = sig_add(st, f.id, last_seq, run->sig)) < 0)
		goto fail;
	/* A run's last entry is signed alone: an urgent one may travel so. */
	i = run->n - 1;
	if (kz_op_bytes_urgent(run->entries[i].op, run->entries[i].op_len) &&
	    (rc = urgent_add(st, f.id, last_seq)) < 0)
		goto fail;
	if (last_seq > f.tip) {
		f.tip = last_seq;
		memcpy(f.tip_hash, hashes[run->n - 1], KZ_HASH_BYTES);
		rc = feed_set_tip(st, f.id, last_seq, hashes[run->n - 1]);
		if (rc == 0 && max_hlc > 0)
			rc = hlc_observe(st, max_hlc);
		if (rc == 0 && seg != 0)
			rc = kz__views_apply(st, f.id, seg, last_seq);
		if (rc == 0)
			rc = extend_tip(st, &f, run->author);
		if (rc < 0)
			goto fail;
	}
	res->tip = f.tip;
	if ((rc = txn_commit(st)) < 0)
		goto fail;
	goto out;
fail:
	txn_rollback(st, rc);
	res->added = 0;
out:
	free(hashes);
	free(headers);
	free(held);
	return rc;
}

int
kz_store_tip(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t *seq, uint8_t hash[KZ_HASH_BYTES])
{
	struct feed_row f;
	int rc = feed_get(st, author, &f);

	if (rc < 0)
		return rc;
	*seq = f.tip;
	if (hash != NULL)
		memcpy(hash, f.tip_hash, KZ_HASH_BYTES);
	return 0;
}

int
kz_store_entry_hlc(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t seq, uint64_t *hlc)
{
	sqlite3_stmt *s = stmt(st, S_ENTRY_HLC);
	int rc;

	*hlc = 0;
	sqlite3_bind_blob(s, 1, author, KZ_PK_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*hlc = (uint64_t)sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		return 0;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return KZ_ERR_NOT_FOUND;
	return kz__store_err(st, rc, "read entry hlc");
}

/* ------------------------------------------------------------ urgent entries */

int
kz_store_ingest_entry(struct kz_store *st, const struct kz_run *run,
    struct kz_ingest_result *res)
{
	struct kz_ingest_result dummy;
	struct kz_entry_header h;
	struct feed_row f;
	const struct kz_run_entry *e;
	uint8_t header[KZ_HEADER_BYTES], hash[KZ_HASH_BYTES], held[KZ_HASH_BYTES];
	uint64_t seq;
	int rc;

	if (st->bulk)
		return KZ_ERR_INVAL;	/* appends only (kz_store_begin_bulk) */
	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (run->n != 1 || !run->has_prev || run->first_seq == 0 ||
	    run->first_seq > KZ_SEQ_MAX || run->entries[0].op == NULL)
		return KZ_ERR_INVAL;
	e = &run->entries[0];
	seq = run->first_seq;
	if (!kz_op_bytes_urgent(e->op, e->op_len))
		return KZ_ERR_NOT_URGENT;
	if ((rc = feed_get(st, run->author, &f)) < 0)
		return rc;
	/* At or below the tip's next seq it is an ordinary run of one. */
	if (seq <= f.tip + 1)
		return kz_store_ingest(st, run, res);

	rc = kz_entry_build(&h, header, hash, run->author, seq, run->prev, e->hlc,
	    e->op, e->op_len);
	if (rc == 0)
		rc = kz_verify_hash(run->sig, hash, run->author);
	if (rc < 0)
		return rc;
	if ((rc = txn_begin(st)) < 0)
		return rc;
	if ((rc = feed_get(st, run->author, &f)) < 0)
		goto fail;
	res->tip = f.tip;
	if (f.id == 0 && (rc = feed_add(st, run->author, &f)) < 0)
		goto fail;
	rc = entry_hash(st, f.id, seq, held);
	if (rc == 0) {
		/* Held already (it came before, alone or not). */
		if (memcmp(held, hash, KZ_HASH_BYTES) != 0) {
			res->fork_seq = seq;
			rc = record_fork(st, &f, run, seq, hash);
			if (rc == 0)
				rc = txn_commit(st);
			if (rc == 0)
				return KZ_ERR_FORK;
			goto fail;
		}
		res->duplicate = 1;
	} else if (rc == KZ_ERR_CORRUPT) {
		/* Not held: detached, shown at once. */
		rc = entry_add(st, f.id, seq, e->hlc, hash, header, e->op, e->op_len);
		if (rc == 0)
			rc = hlc_observe(st, e->hlc);
		if (rc == 0)
			rc = kz__views_apply_now(st, f.id, seq, seq);
		if (rc == 0)
			res->added = 1;
	}
	if (rc == 0)
		rc = sig_add(st, f.id, seq, run->sig);
	if (rc == 0)
		rc = urgent_add(st, f.id, seq);
	if (rc == 0)
		rc = txn_commit(st);
	if (rc == 0)
		return 0;
fail:
	txn_rollback(st, rc);
	res->added = 0;
	return rc;
}

int
kz_store_read_entry(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t seq, struct kz_run **out)
{
	struct feed_row f;
	struct kz_entry_header h;
	struct kz_run *run = NULL;
	sqlite3_stmt *s;
	int rc, src;

	*out = NULL;
	if ((rc = feed_get(st, author, &f)) < 0)
		return rc;
	if (f.id == 0 || seq == 0)
		return KZ_ERR_NOT_FOUND;
	s = stmt(st, S_RUN_READ);
	sqlite3_bind_int64(s, 1, f.id);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	sqlite3_bind_int64(s, 3, (int64_t)seq);
	src = sqlite3_step(s);
	if (src != SQLITE_ROW) {
		rc = src == SQLITE_DONE ? KZ_ERR_NOT_FOUND :
		    kz__store_err(st, src, "read entry");
		goto out;
	}
	/* Only an entry whose own signature is held can travel alone. */
	if (sqlite3_column_type(s, 3) == SQLITE_NULL ||
	    sqlite3_column_type(s, 2) == SQLITE_NULL) {
		rc = KZ_ERR_NOT_FOUND;
		goto out;
	}
	if (kz_header_decode(&h, sqlite3_column_blob(s, 1),
	    (size_t)sqlite3_column_bytes(s, 1)) < 0 || h.seq != seq ||
	    sqlite3_column_bytes(s, 3) != KZ_SIG_BYTES ||
	    (size_t)sqlite3_column_bytes(s, 2) != h.op_len) {
		rc = KZ_ERR_CORRUPT;
		goto out;
	}
	if ((rc = kz_run_new(&run, 1, h.op_len)) < 0)
		goto out;
	memcpy(run->author, author, KZ_PK_BYTES);
	run->first_seq = seq;
	run->has_prev = true;
	memcpy(run->prev, h.prev, KZ_HASH_BYTES);
	memcpy(run->sig, sqlite3_column_blob(s, 3), KZ_SIG_BYTES);
	run->entries[0].hlc = h.hlc;
	run->entries[0].op_len = h.op_len;
	memcpy(run->entries[0].op_hash, h.op_hash, KZ_HASH_BYTES);
	if (h.op_len > 0)
		memcpy(run->buf, sqlite3_column_blob(s, 2), h.op_len);
	run->entries[0].op = h.op_len > 0 ? run->buf : (const uint8_t *)"";
	*out = run;
	rc = 0;
out:
	sqlite3_reset(s);
	return rc;
}

int
kz_store_urgent(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t after, uint64_t *seqs, size_t max, size_t *n)
{
	struct feed_row f;
	sqlite3_stmt *s = NULL;
	int rc, src;

	*n = 0;
	if ((rc = feed_get(st, author, &f)) < 0 || f.id == 0)
		return rc;
	rc = sqlite3_prepare_v3(st->db, "SELECT seq FROM urgent WHERE feed = ?1"
	    " AND seq > ?2 ORDER BY seq LIMIT ?3", -1, 0, &s, NULL);
	if (rc != SQLITE_OK)
		return kz__store_err(st, rc, "list urgent entries");
	sqlite3_bind_int64(s, 1, f.id);
	sqlite3_bind_int64(s, 2, (int64_t)after);
	sqlite3_bind_int64(s, 3, (int64_t)max);
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		seqs[(*n)++] = (uint64_t)sqlite3_column_int64(s, 0);
	if (src != SQLITE_DONE)
		rc = kz__store_err(st, src, "list urgent entries");
	sqlite3_finalize(s);
	return rc;
}

int
kz_store_detached(struct kz_store *st,
    int (*cb)(void *ctx, const uint8_t feed[KZ_PK_BYTES], uint64_t seq),
    void *ctx)
{
	sqlite3_stmt *s = NULL;
	int rc, src;

	rc = sqlite3_prepare_v2(st->db, "SELECT f.key, e.seq FROM feeds f"
	    " JOIN entries e ON e.feed = f.id AND e.seq > f.tip"
	    " ORDER BY f.key, e.seq", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return kz__store_err(st, rc, "list detached entries");
	rc = 0;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != KZ_PK_BYTES) {
			rc = KZ_ERR_CORRUPT;
			break;
		}
		if ((rc = cb(ctx, sqlite3_column_blob(s, 0),
		    (uint64_t)sqlite3_column_int64(s, 1))) != 0)
			break;
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = kz__store_err(st, src, "list detached entries");
	sqlite3_finalize(s);
	return rc;
}

/* ------------------------------------------------------------ reading runs */

struct run_item {
	uint64_t hlc;
	size_t off;		/* into the op buffer; SIZE_MAX when purged */
	uint32_t op_len;
	uint8_t op_hash[KZ_HASH_BYTES];
};

int
kz_store_read_run(struct kz_store *st, const uint8_t author[KZ_PK_BYTES],
    uint64_t from_seq, size_t max_entries, size_t max_bytes, struct kz_run **out)
{
	struct feed_row f;
	struct run_item *items = NULL;
	struct kz_run *run = NULL;
	uint8_t *ops = NULL, sig[KZ_SIG_BYTES];
	size_t n = 0, cap = 0, ops_len = 0, ops_cap = 0, best = 0;
	size_t best_bytes = 0;
	sqlite3_stmt *s;
	int rc, src;

	*out = NULL;
	if (max_entries == 0 || max_entries > KZ_RUN_MAX_ENTRIES)
		max_entries = KZ_RUN_MAX_ENTRIES;
	if (max_bytes == 0 || max_bytes > KZ_RUN_MAX_BYTES / 2)
		max_bytes = KZ_RUN_MAX_BYTES / 2;
	if ((rc = feed_get(st, author, &f)) < 0)
		return rc;
	if (f.id == 0 || from_seq == 0 || from_seq > f.tip)
		return KZ_ERR_NOT_FOUND;

	s = stmt(st, S_RUN_READ);
	sqlite3_bind_int64(s, 1, f.id);
	sqlite3_bind_int64(s, 2, (int64_t)from_seq);
	sqlite3_bind_int64(s, 3, (int64_t)f.tip);
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		struct kz_entry_header h;
		const void *op = sqlite3_column_blob(s, 2);
		size_t op_len = (size_t)sqlite3_column_bytes(s, 2);
		bool purged = sqlite3_column_type(s, 2) == SQLITE_NULL;

		if ((uint64_t)sqlite3_column_int64(s, 0) != from_seq + n ||
		    kz_header_decode(&h, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1)) < 0) {
			rc = KZ_ERR_CORRUPT;
			goto out;
		}
		/* Past the limits, stop at the first held signature. */
		if (best > 0 && (n >= max_entries || ops_len + op_len > max_bytes))
			break;
		if (n == KZ_RUN_MAX_ENTRIES || ops_len + op_len > KZ_RUN_MAX_BYTES / 2)
			break;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *p = realloc(items, ncap * sizeof(*items));
			if (p == NULL) {
				rc = KZ_ERR_NOMEM;
				goto out;
			}
			items = p;
			cap = ncap;
		}
		items[n].hlc = h.hlc;
		items[n].op_len = h.op_len;
		memcpy(items[n].op_hash, h.op_hash, KZ_HASH_BYTES);
		items[n].off = SIZE_MAX;
		if (!purged) {
			if (ops_len + op_len > ops_cap) {
				size_t ncap = ops_cap ? ops_cap * 2 : 16384;
				void *p;

				while (ncap < ops_len + op_len)
					ncap *= 2;
				p = realloc(ops, ncap);
				if (p == NULL) {
					rc = KZ_ERR_NOMEM;
					goto out;
				}
				ops = p;
				ops_cap = ncap;
			}
			if (op_len > 0)
				memcpy(ops + ops_len, op, op_len);
			items[n].off = ops_len;
			ops_len += op_len;
		}
		n++;
		if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
			if (sqlite3_column_bytes(s, 3) != KZ_SIG_BYTES) {
				rc = KZ_ERR_CORRUPT;
				goto out;
			}
			memcpy(sig, sqlite3_column_blob(s, 3), KZ_SIG_BYTES);
			best = n;
			best_bytes = ops_len;
		}
	}
	if (src != SQLITE_ROW && src != SQLITE_DONE) {
		rc = kz__store_err(st, src, "read run");
		goto out;
	}
	if (best == 0) {
		/* No held signature within the largest run we may send. */
		rc = KZ_ERR_CORRUPT;
		goto out;
	}
	/* sig changes only together with best: it is the signature at best. */
	rc = kz_run_new(&run, best, best_bytes);
	if (rc < 0)
		goto out;
	if (best_bytes > 0)
		memcpy(run->buf, ops, best_bytes);
	memcpy(run->author, author, KZ_PK_BYTES);
	memcpy(run->sig, sig, KZ_SIG_BYTES);
	run->first_seq = from_seq;
	if (from_seq > 1) {
		if ((rc = entry_hash(st, f.id, from_seq - 1, run->prev)) < 0)
			goto out;
		run->has_prev = true;
	}
	for (size_t i = 0; i < best; i++) {
		struct kz_run_entry *e = &run->entries[i];

		e->hlc = items[i].hlc;
		e->op_len = items[i].op_len;
		memcpy(e->op_hash, items[i].op_hash, KZ_HASH_BYTES);
		e->op = items[i].off == SIZE_MAX ? NULL :
		    (run->buf != NULL ? run->buf + items[i].off : (const uint8_t *)"");
	}
	*out = run;
	run = NULL;
	rc = 0;
out:
	sqlite3_reset(s);
	kz_run_free(run);
	free(items);
	free(ops);
	return rc;
}
