/*
 * The workspace inside the store: views follow appends and ingests in the
 * same transaction; nothing counts before the mesh root is known; the
 * authorization rules hold whichever order entries arrive in; a purge
 * leaves the purged text nowhere in the database file or its WAL.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/views.h"
#include "store/store_int.h"
#include "testutil.h"

#define T0 1790000000000ull

struct node {
	struct kz_store *st;
	struct kz_keypair kp;
	uint64_t wall;
	char *path;
	/* put: the appends with these bits (counted from 1, bit 0 unused)
	 * pass the op decoded (kz_store_append_decoded); puts counts them. */
	uint64_t decoded;
	unsigned puts;
};

static void
node_open(struct node *n, const char *dir, const char *name, uint8_t seedbyte)
{
	uint8_t seed[32];

	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(kz_keypair_from_seed(&n->kp, seed), 0);
	n->path = kz_test_path(dir, name);
	assert_int_equal(kz_store_open(&n->st, n->path, NULL), 0);
	n->wall = T0 + seedbyte;
	n->decoded = 0;
	n->puts = 0;
}

static void
node_close(struct node *n)
{
	kz_store_free(n->st);
	n->st = NULL;
	free(n->path);
}

static void
put(struct node *n, struct kz_op *op, uint8_t id[32])
{
	struct kz_appended app;
	uint8_t *buf;
	size_t len;

	assert_int_equal(kz_op_encode(&buf, &len, op), 0);
	n->wall += 10;
	n->puts++;
	if (n->puts < 64 && (n->decoded >> n->puts & 1)) {
		struct kz_op *dec;

		assert_int_equal(kz_op_decode_hashed(&dec, buf, len), 0);
		assert_int_equal(kz_store_append_decoded(n->st, &n->kp, n->wall,
		    buf, len, dec, &app), 0);
	} else {
		assert_int_equal(kz_store_append(n->st, &n->kp, n->wall, buf, len,
		    &app), 0);
	}
	free(buf);
	if (id != NULL)
		memcpy(id, app.hash, 32);
}

static void
mesh(struct node *n)
{
	uint8_t mesh_id[32] = { 9 };
	struct kz_op op = { .type = KZ_OP_MESH_CREATE,
	    .u.mesh_create = { mesh_id, "谷川市" } };

	put(n, &op, NULL);
	assert_int_equal(kz_views_set_root(n->st, n->kp.pk), 0);
}

static void
add_user(struct node *n, const char *id, enum kz_role role)
{
	struct kz_op op = { .type = KZ_OP_USER_SET, .u.user_set = { .user = id,
	    .set = KZ_USER_SET_ALL, .display_name = id, .department = "防災課",
	    .role = role, .password_hash = "", .active = true } };

	put(n, &op, NULL);
}

static void
channel(struct node *n, const char *name, uint8_t id[32])
{
	struct kz_op op = { .type = KZ_OP_CHANNEL_CREATE, .actor = "",
	    .u.channel_create = { name, "" } };

	put(n, &op, id);
}

static void
post(struct node *n, const char *actor, const uint8_t ch[32], const char *text,
    enum kz_priority prio, uint8_t id[32])
{
	struct kz_op op = { .type = KZ_OP_POST, .actor = actor,
	    .u.post = { ch, text, NULL, prio, 0, NULL } };

	put(n, &op, id);
}

/* Moves all of from's own feed into to's store. */
static void
carry(struct node *from, struct node *to)
{
	uint64_t tip, seq = 1;

	assert_int_equal(kz_store_tip(from->st, from->kp.pk, &tip, NULL), 0);
	while (seq <= tip) {
		struct kz_run *run;

		assert_int_equal(kz_store_read_run(from->st, from->kp.pk, seq, 1000,
		    0, &run), 0);
		assert_int_equal(kz_store_ingest(to->st, run, NULL), 0);
		seq += run->n;
		kz_run_free(run);
	}
}

/* The first column of the first row of sql on n's store. */
static int64_t
count_rows(struct node *n, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(kz__store_db(n->st), sql, -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

struct texts {
	char all[4096];
	int n;
};

static int
on_msg(void *ctx, const struct kz_view_message *m)
{
	struct texts *t = ctx;
	size_t len = strlen(t->all);

	snprintf(t->all + len, sizeof(t->all) - len, "%s%s%s|", m->text,
	    m->edited ? "*" : "", m->deleted ? "(deleted)" : "");
	t->n++;
	return 0;
}

static int
count_msg(void *ctx, const struct kz_view_message *m)
{
	struct texts *t = ctx;

	(void)m;
	t->n++;
	return 0;
}

static const char *
texts_of(struct node *n, const uint8_t ch[32], struct texts *t)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(kz_views_messages(n->st, ch, 0, on_msg, t), 0);
	return t->all;
}

/* ------------------------------------------------------------ tests */

static void
test_nothing_counts_before_root(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32], id[32], d1[32], d2[32], root[32];
	struct texts t;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	assert_int_equal(kz_views_root(a.st, root), KZ_ERR_NOT_FOUND);
	channel(&a, "general", ch);
	post(&a, "", ch, "停電しています", KZ_PRIO_NORMAL, id);
	assert_string_equal(texts_of(&a, ch, &t), "");
	assert_int_equal(kz_views_digest(a.st, d1), 0);
	/* The root known: the same entries now count (the node is the root,
	 * acting for itself). */
	assert_int_equal(kz_views_set_root(a.st, a.kp.pk), 0);
	assert_string_equal(texts_of(&a, ch, &t), "停電しています|");
	assert_int_equal(kz_views_digest(a.st, d2), 0);
	assert_memory_not_equal(d1, d2, 32);
	assert_int_equal(kz_views_root(a.st, root), 0);
	assert_memory_equal(root, a.kp.pk, 32);
	/* Setting it again: same is fine, another is refused. */
	assert_int_equal(kz_views_set_root(a.st, a.kp.pk), 0);
	root[0] ^= 1;
	assert_int_equal(kz_views_set_root(a.st, root), KZ_ERR_EXISTS);
	node_close(&a);
	kz_test_rmtree(dir);
}

static void
test_edit_rules_and_deactivation(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32], m1[32], m2[32];
	struct texts t;
	struct kz_op op;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "tanaka", KZ_ROLE_MEMBER);
	add_user(&a, "sato", KZ_ROLE_MEMBER);
	add_user(&a, "chief", KZ_ROLE_ADMIN);
	channel(&a, "災害対策本部", ch);
	post(&a, "tanaka", ch, "給水車 14時", KZ_PRIO_URGENT, m1);
	/* sato (a member) cannot edit tanaka's post; tanaka and chief can. */
	op = (struct kz_op){ .type = KZ_OP_EDIT, .actor = "sato",
	    .u.edit = { m1, "いたずら" } };
	put(&a, &op, NULL);
	assert_string_equal(texts_of(&a, ch, &t), "給水車 14時|");
	op.actor = "tanaka";
	op.u.edit.text = "給水車 15時";
	put(&a, &op, NULL);
	assert_string_equal(texts_of(&a, ch, &t), "給水車 15時*|");
	op.actor = "chief";
	op.u.edit.text = "給水車 16時";
	put(&a, &op, NULL);
	assert_string_equal(texts_of(&a, ch, &t), "給水車 16時*|");
	/* Deactivated: tanaka's later posts do not count, earlier ones do. */
	op = (struct kz_op){ .type = KZ_OP_USER_SET, .actor = "chief",
	    .u.user_set = { .user = "tanaka", .set = KZ_USER_SET_ACTIVE,
	    .active = false } };
	put(&a, &op, NULL);
	post(&a, "tanaka", ch, "退職後の投稿", KZ_PRIO_NORMAL, m2);
	assert_string_equal(texts_of(&a, ch, &t), "給水車 16時*|");
	/* Deleting beats the edits. */
	op = (struct kz_op){ .type = KZ_OP_DELETE, .actor = "chief",
	    .u.del = { m1 } };
	put(&a, &op, NULL);
	assert_string_equal(texts_of(&a, ch, &t), "*(deleted)|");
	node_close(&a);
	kz_test_rmtree(dir);
}

static int
count_ack(void *ctx, const char *user)
{
	char *buf = ctx;

	strcat(buf, user);
	strcat(buf, ",");
	return 0;
}

static void
test_acks_listed(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32], m1[32], m2[32];
	struct kz_op op;
	char buf[256] = "";

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "sato", KZ_ROLE_MEMBER);
	add_user(&a, "chief", KZ_ROLE_ADMIN);
	channel(&a, "general", ch);
	post(&a, "chief", ch, "避難指示", KZ_PRIO_EMERGENCY, m1);
	post(&a, "chief", ch, "お昼です", KZ_PRIO_NORMAL, m2);
	op = (struct kz_op){ .type = KZ_OP_ACK, .actor = "sato", .u.ack = { m1 } };
	put(&a, &op, NULL);
	put(&a, &op, NULL);
	op.actor = "chief";
	put(&a, &op, NULL);
	op.u.ack.target = m2;	/* a normal post: acks do not apply */
	put(&a, &op, NULL);
	assert_int_equal(kz_views_acks(a.st, m1, count_ack, buf), 0);
	assert_string_equal(buf, "chief,sato,");
	buf[0] = '\0';
	assert_int_equal(kz_views_acks(a.st, m2, count_ack, buf), 0);
	assert_string_equal(buf, "");
	node_close(&a);
	kz_test_rmtree(dir);
}

static void
test_revoked_node_in_either_order(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b, c;
	uint8_t ch[32], d_a[32], d_c[32];
	struct texts t;
	struct kz_op op;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	node_open(&b, dir, "b.db", 2);
	node_open(&c, dir, "c.db", 3);
	mesh(&a);
	assert_int_equal(kz_views_set_root(c.st, a.kp.pk), 0);
	add_user(&a, "ito", KZ_ROLE_MEMBER);
	op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
	    .u.node_admit = { b.kp.pk, "branch", false } };
	put(&a, &op, NULL);
	channel(&a, "general", ch);
	b.wall = a.wall + 100;
	post(&b, "ito", ch, "b1", KZ_PRIO_NORMAL, NULL);
	post(&b, "ito", ch, "b2", KZ_PRIO_NORMAL, NULL);
	post(&b, "ito", ch, "b3", KZ_PRIO_NORMAL, NULL);

	/* c sees b's posts first, then the revocation. */
	carry(&a, &c);
	carry(&b, &c);
	assert_string_equal(texts_of(&c, ch, &t), "b1|b2|b3|");
	op = (struct kz_op){ .type = KZ_OP_NODE_REVOKE,
	    .u.node_revoke = { b.kp.pk, 2, "stolen" } };
	put(&a, &op, NULL);
	carry(&a, &c);
	assert_string_equal(texts_of(&c, ch, &t), "b1|b2|");
	/* a sees the revocation first, then b's posts. */
	carry(&b, &a);
	assert_string_equal(texts_of(&a, ch, &t), "b1|b2|");
	assert_int_equal(kz_views_digest(a.st, d_a), 0);
	assert_int_equal(kz_views_digest(c.st, d_c), 0);
	assert_memory_equal(d_a, d_c, 32);
	node_close(&a);
	node_close(&b);
	node_close(&c);
	kz_test_rmtree(dir);
}

/* Counts occurrences of needle in a file (0 if the file is absent). */
static int
occurrences(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	size_t nl = strlen(needle), size, i;
	char *buf;
	int n = 0;

	if (fp == NULL)
		return 0;
	fseek(fp, 0, SEEK_END);
	size = (size_t)ftell(fp);
	rewind(fp);
	buf = malloc(size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, size, fp), size);
	fclose(fp);
	for (i = 0; i + nl <= size; i++)
		n += memcmp(buf + i, needle, nl) == 0;
	free(buf);
	return n;
}

static int
in_db(struct node *n, const char *needle)
{
	char wal[4096];

	assert_int_equal(sqlite3_exec(kz__store_db(n->st),
	    "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	snprintf(wal, sizeof(wal), "%s-wal", n->path);
	return occurrences(n->path, needle) + occurrences(wal, needle);
}

static int
op_null_count(void *ctx, const struct kz_entry_view *e)
{
	*(int *)ctx += e->op == NULL;
	return 0;
}

static void
test_purge_leaves_no_trace(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b;
	uint8_t ch[32], m1[32], m2[32];
	struct kz_verify_report rep;
	struct texts t;
	struct kz_op op;
	int nulls = 0;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	node_open(&b, dir, "b.db", 2);
	mesh(&a);
	assert_int_equal(kz_views_set_root(b.st, a.kp.pk), 0);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
	    .u.node_admit = { b.kp.pk, "branch", false } };
	put(&a, &op, NULL);
	channel(&a, "救護", ch);
	post(&a, "kato", ch, "山田様 持病SECRET-DIAG-4711 服薬中", KZ_PRIO_NORMAL, m1);
	op = (struct kz_op){ .type = KZ_OP_EDIT, .actor = "kato",
	    .u.edit = { m1, "山田様 持病SECRET-EDIT-0815" } };
	put(&a, &op, NULL);
	post(&a, "kato", ch, "毛布 20枚 到着", KZ_PRIO_NORMAL, m2);
	assert_true(in_db(&a, "SECRET-DIAG-4711") > 0);	/* the scan works */
	assert_true(in_db(&a, "SECRET-EDIT-0815") > 0);
	/* The search index holds the words too (lowercased, and the bigram). */
	assert_true(in_db(&a, "4711") > 0);
	assert_true(in_db(&a, "持病") > 0);

	/* A member node's purge is ignored: b is admitted but not admin. */
	b.wall = a.wall + 100;
	op = (struct kz_op){ .type = KZ_OP_PURGE, .u.purge = { m1 } };
	put(&b, &op, NULL);
	carry(&a, &b);
	carry(&b, &a);
	assert_string_equal(texts_of(&a, ch, &t),
	    "山田様 持病SECRET-EDIT-0815*|毛布 20枚 到着|");
	assert_true(in_db(&a, "SECRET-DIAG-4711") > 0);

	/* The root's purge: gone from views and from the entries. */
	put(&a, &op, NULL);
	assert_string_equal(texts_of(&a, ch, &t), "毛布 20枚 到着|");
	assert_int_equal(in_db(&a, "SECRET-DIAG-4711"), 0);
	assert_int_equal(in_db(&a, "SECRET-EDIT-0815"), 0);
	assert_int_equal(in_db(&a, "4711"), 0);
	assert_int_equal(in_db(&a, "0815"), 0);
	assert_int_equal(in_db(&a, "持病"), 0);
	assert_int_equal(kz_store_log(a.st, op_null_count, &nulls), 0);
	assert_int_equal(nulls, 2);	/* the post and its edit */
	assert_int_equal(kz_store_verify(a.st, &rep), 0);
	assert_true(rep.ok);

	/* b learns of the purge and drops the bytes too. */
	assert_true(in_db(&b, "SECRET-DIAG-4711") > 0);
	carry(&a, &b);
	assert_int_equal(in_db(&b, "SECRET-DIAG-4711"), 0);
	assert_int_equal(in_db(&b, "SECRET-EDIT-0815"), 0);
	assert_string_equal(texts_of(&b, ch, &t), "毛布 20枚 到着|");
	assert_int_equal(kz_store_verify(b.st, &rep), 0);
	assert_true(rep.ok);
	node_close(&a);
	node_close(&b);
	kz_test_rmtree(dir);
}

struct hits {
	char buf[2048];
	int n;
};

static int
on_hit(void *ctx, const struct kz_search_hit *h)
{
	struct hits *hs = ctx;
	size_t len = strlen(hs->buf);

	snprintf(hs->buf + len, sizeof(hs->buf) - len, "%s|", h->snippet);
	hs->n++;
	return 0;
}

static const char *
search(struct node *n, const char *q, const struct kz_search_filter *f,
    struct hits *hs)
{
	memset(hs, 0, sizeof(*hs));
	assert_int_equal(kz_views_search(n->st, q, f, on_hit, hs), 0);
	return hs->buf;
}

static void
test_search_current_text_only(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch1[32], ch2[32], m1[32], m2[32], m3[32], m4[32];
	struct kz_search_filter f = { 0 };
	struct hits hs;
	struct kz_op op;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	add_user(&a, "mori", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch1);
	channel(&a, "支所", ch2);
	post(&a, "kato", ch1, "第二小学校で給水を開始", KZ_PRIO_NORMAL, m1);
	post(&a, "mori", ch2, "給水車が到着しました", KZ_PRIO_URGENT, m2);
	post(&a, "kato", ch1, "停電のため給水ポンプ停止", KZ_PRIO_NORMAL, m3);
	post(&a, "mori", ch1, "避難所の毛布が不足", KZ_PRIO_NORMAL, m4);

	/* Newest first, highlighted. */
	assert_string_equal(search(&a, "給水", NULL, &hs),
	    "停電のため[給水]ポンプ停止|[給水]車が到着しました|第二小学校で[給水]を開始|");
	/* Filters: channel, author, priority, time. */
	f.channel = ch1;
	assert_int_equal((search(&a, "給水", &f, &hs), hs.n), 2);
	f = (struct kz_search_filter){ .author = "mori" };
	assert_string_equal(search(&a, "給水", &f, &hs), "[給水]車が到着しました|");
	f = (struct kz_search_filter){ .min_priority = KZ_PRIO_URGENT };
	assert_string_equal(search(&a, "給水", &f, &hs), "[給水]車が到着しました|");
	f = (struct kz_search_filter){ .until_ms = T0 + 1 };
	assert_int_equal((search(&a, "給水", &f, &hs), hs.n), 0);
	f = (struct kz_search_filter){ .since_ms = T0, .limit = 1, .offset = 1 };
	assert_string_equal(search(&a, "給水", &f, &hs), "[給水]車が到着しました|");
	/* Two terms, both needed. */
	assert_string_equal(search(&a, "停電 給水", NULL, &hs),
	    "[停電]のため[給水]ポンプ停止|");
	/* Edited: found by the new text only. */
	op = (struct kz_op){ .type = KZ_OP_EDIT, .actor = "kato",
	    .u.edit = { m1, "第二小学校で炊き出しを開始" } };
	put(&a, &op, NULL);
	assert_int_equal((search(&a, "給水", NULL, &hs), hs.n), 2);
	assert_string_equal(search(&a, "炊き出し", NULL, &hs),
	    "第二小学校で[炊き出し]を開始|");
	/* Deleted: not at all. */
	op = (struct kz_op){ .type = KZ_OP_DELETE, .actor = "mori",
	    .u.del = { m2 } };
	put(&a, &op, NULL);
	assert_string_equal(search(&a, "給水", NULL, &hs),
	    "停電のため[給水]ポンプ停止|");
	/* Purged: not at all, and after a rebuild still not. */
	op = (struct kz_op){ .type = KZ_OP_PURGE, .u.purge = { m4 } };
	put(&a, &op, NULL);
	assert_int_equal((search(&a, "毛布", NULL, &hs), hs.n), 0);
	assert_int_equal(kz_views_rebuild(a.st), 0);
	assert_int_equal((search(&a, "毛布", NULL, &hs), hs.n), 0);
	assert_int_equal((search(&a, "給水", NULL, &hs), hs.n), 1);
	/* Ranked by relevance. */
	f = (struct kz_search_filter){ .ranked = true, .mark_open = "<",
	    .mark_close = ">" };
	assert_string_equal(search(&a, "停電", &f, &hs), "<停電>のため給水ポンプ停止|");
	/* Nothing searchable. */
	assert_int_equal(kz_views_search(a.st, " 、。 ", NULL, on_hit, &hs),
	    KZ_ERR_INVAL);
	/* The index holds exactly what the messages' rows say (FTS5 checks an
	 * external-content index against its table). */
	assert_int_equal(sqlite3_exec(kz__store_db(a.st), "INSERT INTO "
	    "ws_search(ws_search) VALUES ('integrity-check')", NULL, NULL, NULL),
	    SQLITE_OK);
	node_close(&a);
	kz_test_rmtree(dir);
}

/*
 * More messages in one minute than it has doc slots (16): each gets a doc
 * of its own (every one found, newest first, none lost to a taken doc),
 * and the index still matches the rows.
 */
static void
test_search_busy_minute(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32];
	struct kz_search_filter f = { .limit = 100 };
	struct hits hs;
	char text[64];
	sqlite3_stmt *s;
	int i;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	/* 40 posts 10 ms apart: one minute. */
	for (i = 0; i < 40; i++) {
		snprintf(text, sizeof(text), "給水 %02d", i);
		post(&a, "kato", ch, text, KZ_PRIO_NORMAL, NULL);
	}
	/* Then 20 a minute later (the first minute's spill is there). */
	a.wall += 60000;
	for (i = 40; i < 60; i++) {
		snprintf(text, sizeof(text), "給水 %02d", i);
		post(&a, "kato", ch, text, KZ_PRIO_NORMAL, NULL);
	}
	assert_int_equal((search(&a, "給水", &f, &hs), hs.n), 60);
	assert_true(strncmp(hs.buf, "[給水] 59|[給水] 58|", 24) == 0);
	assert_non_null(strstr(hs.buf, "[給水] 01|[給水] 00|"));
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(a.st), "SELECT"
	    " count(DISTINCT doc), count(*) FROM ws_messages", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 60);
	assert_int_equal(sqlite3_column_int(s, 1), 60);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_exec(kz__store_db(a.st), "INSERT INTO "
	    "ws_search(ws_search) VALUES ('integrity-check')", NULL, NULL, NULL),
	    SQLITE_OK);
	node_close(&a);
	kz_test_rmtree(dir);
}

/* Reply counts of a thread's messages, "text:count|" each. */
static int
on_thread(void *ctx, const struct kz_view_message *m)
{
	struct texts *t = ctx;
	size_t len = strlen(t->all);

	snprintf(t->all + len, sizeof(t->all) - len, "%s:%llu|", m->text,
	    (unsigned long long)m->reply_count);
	t->n++;
	return 0;
}

static void
assert_same_digest(struct node *x, struct node *y)
{
	uint8_t dx[32], dy[32];

	assert_int_equal(kz_views_digest(x->st, dx), 0);
	assert_int_equal(kz_views_digest(y->st, dy), 0);
	assert_memory_equal(dx, dy, 32);
}

/* A rebuild of n's views from its entries gives the views n holds. */
static void
assert_rebuild_same(struct node *n)
{
	uint8_t before[32], after[32];

	assert_int_equal(kz_views_digest(n->st, before), 0);
	assert_int_equal(kz_views_rebuild(n->st), 0);
	assert_int_equal(kz_views_digest(n->st, after), 0);
	assert_memory_equal(before, after, 32);
}

/*
 * A post that arrives alone, its id holding no other fact, takes the short
 * way (its views from the decoded entry); one that arrives with an edit or
 * a reaction in the same run, or after its reply, takes the general
 * recompute.  Both must give what a full rebuild gives, byte for byte.
 */
static void
test_new_post_paths_match_rebuild(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b, c;
	uint8_t ch[32], p1[32], p2[32];
	struct kz_op op;
	struct texts t;
	uint64_t tip, seq;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	node_open(&b, dir, "b.db", 2);
	node_open(&c, dir, "c.db", 3);
	mesh(&a);
	assert_int_equal(kz_views_set_root(b.st, a.kp.pk), 0);
	assert_int_equal(kz_views_set_root(c.st, a.kp.pk), 0);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	add_user(&a, "mori", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	post(&a, "kato", ch, "給水車が到着", KZ_PRIO_NORMAL, p1);
	op = (struct kz_op){ .type = KZ_OP_POST, .actor = "mori",
	    .u.post = { ch, "了解、受け取りに行きます", p1, KZ_PRIO_NORMAL, 0,
	    NULL } };
	put(&a, &op, NULL);
	post(&a, "mori", ch, "停電は復旧", KZ_PRIO_URGENT, p2);
	op = (struct kz_op){ .type = KZ_OP_EDIT, .actor = "mori",
	    .u.edit = { p2, "停電は一部復旧" } };
	put(&a, &op, NULL);
	op = (struct kz_op){ .type = KZ_OP_REACT, .actor = "kato",
	    .u.react = { p1, "👍", true } };
	put(&a, &op, NULL);

	/* b: one entry per run (every post alone); c: the whole feed in one
	 * run (p2 with its edit, p1 with its reaction and reply). */
	assert_int_equal(kz_store_tip(a.st, a.kp.pk, &tip, NULL), 0);
	for (seq = 1; seq <= tip; seq++) {
		struct kz_run *run;

		assert_int_equal(kz_store_read_run(a.st, a.kp.pk, seq, 1, 0,
		    &run), 0);
		assert_int_equal(run->n, 1);
		assert_int_equal(kz_store_ingest(b.st, run, NULL), 0);
		kz_run_free(run);
	}
	carry(&a, &c);
	assert_same_digest(&a, &b);
	assert_same_digest(&a, &c);
	memset(&t, 0, sizeof(t));
	assert_int_equal(kz_views_thread(b.st, p1, on_thread, &t), 0);
	assert_string_equal(t.all, "給水車が到着:1|了解、受け取りに行きます:0|");
	assert_string_equal(texts_of(&b, ch, &t), "給水車が到着|停電は一部復旧*|");
	assert_rebuild_same(&b);
	node_close(&c);
	node_close(&b);
	node_close(&a);
	kz_test_rmtree(dir);
}

/* The first column of sql's row, %s in it replaced by id as a blob. */
static int64_t
value_for(struct node *n, const char *sql, const uint8_t id[32])
{
	char hex[65], q[256];

	kz_hex(hex, id, 32);
	snprintf(q, sizeof(q), sql, hex);
	return count_rows(n, q);
}

/* The reply_count of message id in n's views; -1: no such row. */
static int
reply_count_of(struct node *n, const uint8_t id[32])
{
	return (int)value_for(n, "SELECT coalesce((SELECT reply_count FROM"
	    " ws_messages WHERE id = X'%s'), -1)", id);
}

static void carry_upto(struct node *from, struct node *to, uint64_t upto);

/* A reply to root by actor on n; its id in id. */
static void
reply(struct node *n, const char *actor, const uint8_t ch[32],
    const uint8_t root[32], const char *text, uint8_t id[32])
{
	struct kz_op op = { .type = KZ_OP_POST, .actor = actor,
	    .u.post = { ch, text, root, KZ_PRIO_NORMAL, 0, NULL } };

	put(n, &op, id);
}

/*
 * A thread's reply count, whatever order its root, its replies and a
 * deletion arrive in: replies one by one after the root (a), replies
 * before their root (c gets b's replies first), all in one run (d); a
 * deleted reply stops counting.  Each store ends as a rebuild makes it.
 */
static void
test_reply_counts(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b, c, d;
	uint8_t ch[32], root[32], r1[32], r2[32], r3[32];
	uint64_t admitted;
	struct kz_op op;
	struct node *all[] = { &a, &c, &d };
	size_t i;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	node_open(&b, dir, "b.db", 2);
	node_open(&c, dir, "c.db", 3);
	node_open(&d, dir, "d.db", 4);
	mesh(&a);
	assert_int_equal(kz_views_set_root(b.st, a.kp.pk), 0);
	assert_int_equal(kz_views_set_root(c.st, a.kp.pk), 0);
	assert_int_equal(kz_views_set_root(d.st, a.kp.pk), 0);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	add_user(&a, "mori", KZ_ROLE_MEMBER);
	op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
	    .u.node_admit = { b.kp.pk, "branch", false } };
	put(&a, &op, NULL);
	channel(&a, "本部", ch);
	assert_int_equal(kz_store_tip(a.st, a.kp.pk, &admitted, NULL), 0);
	post(&a, "kato", ch, "給水車の手配", KZ_PRIO_NORMAL, root);
	carry(&a, &b);
	b.wall = a.wall + 100;
	reply(&b, "mori", ch, root, "北町に一台", r1);
	reply(&b, "mori", ch, root, "南町にも一台", r2);

	/* c: the channel, then b's replies, then the root. */
	carry_upto(&a, &c, admitted);
	carry(&b, &c);
	assert_int_equal(reply_count_of(&c, r1), 0);
	assert_int_equal(reply_count_of(&c, root), -1);
	carry(&a, &c);
	assert_int_equal(reply_count_of(&c, root), 2);

	/* a: the replies after the root, then one of its own. */
	assert_int_equal(reply_count_of(&a, root), 0);
	carry(&b, &a);
	assert_int_equal(reply_count_of(&a, root), 2);
	a.wall = b.wall + 100;
	reply(&a, "kato", ch, root, "了解", r3);
	assert_int_equal(reply_count_of(&a, root), 3);
	assert_int_equal(reply_count_of(&a, r3), 0);

	/* A deleted reply no longer counts. */
	b.wall = a.wall + 100;
	op = (struct kz_op){ .type = KZ_OP_DELETE, .actor = "mori",
	    .u.del = { r1 } };
	put(&b, &op, NULL);
	carry(&b, &a);
	assert_int_equal(reply_count_of(&a, root), 2);
	carry(&a, &c);
	carry(&b, &c);
	assert_int_equal(reply_count_of(&c, root), 2);

	/* d: b's feed in one run (the deletion with the replies), then a's
	 * in one run (the root with its own reply). */
	carry(&b, &d);
	carry(&a, &d);
	assert_int_equal(reply_count_of(&d, root), 2);
	assert_int_equal(reply_count_of(&d, r2), 0);

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_rebuild_same(all[i]);
		assert_int_equal(reply_count_of(all[i], root), 2);
	}
	assert_same_digest(&a, &c);
	assert_same_digest(&a, &d);
	node_close(&d);
	node_close(&c);
	node_close(&b);
	node_close(&a);
	kz_test_rmtree(dir);
}

/* The same ops on a (a plain group) and b (a bulk group, same key). */
static void
bulk_ops(struct node *n, const uint8_t ch[32], uint8_t p1[32])
{
	struct kz_op op;

	post(n, "kato", ch, "避難所の毛布が足りません", KZ_PRIO_NORMAL, p1);
	op = (struct kz_op){ .type = KZ_OP_POST, .actor = "mori",
	    .u.post = { ch, "倉庫から50枚送ります", p1, KZ_PRIO_NORMAL, 0,
	    NULL } };
	put(n, &op, NULL);
	op = (struct kz_op){ .type = KZ_OP_EDIT, .actor = "kato",
	    .u.edit = { p1, "避難所の毛布が30枚足りません" } };
	put(n, &op, NULL);
	op = (struct kz_op){ .type = KZ_OP_REACT, .actor = "mori",
	    .u.react = { p1, "👍", true } };
	put(n, &op, NULL);
	post(n, "mori", ch, "橋が通行止め", KZ_PRIO_URGENT, NULL);
}

/*
 * A bulk group (an import) makes exactly the store a plain group makes:
 * the same entries and tip, the same views, the urgent post signed alone;
 * only the views wait for kz_store_bulk_apply or the commit.  It holds
 * appends only, and a rollback leaves nothing.
 */
static void
test_bulk_group_matches_plain(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b;
	uint8_t ch[32], p1[32], p1b[32], ha[32], hb[32];
	uint64_t ta, tb, tip_before;
	struct kz_run *run;
	struct texts t;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	node_open(&b, dir, "b.db", 1);
	mesh(&a);
	mesh(&b);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	add_user(&b, "kato", KZ_ROLE_MEMBER);
	add_user(&a, "mori", KZ_ROLE_MEMBER);
	add_user(&b, "mori", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	channel(&b, "本部", ch);

	assert_int_equal(kz_store_begin(a.st), 0);
	bulk_ops(&a, ch, p1);
	assert_int_equal(kz_store_commit(a.st), 0);

	/* A bulk group that is rolled back leaves nothing. */
	assert_int_equal(kz_store_tip(b.st, b.kp.pk, &tip_before, NULL), 0);
	assert_int_equal(kz_store_begin_bulk(b.st), 0);
	post(&b, "kato", ch, "取り消される投稿", KZ_PRIO_NORMAL, NULL);
	kz_store_rollback(b.st);
	b.wall -= 10;
	assert_int_equal(kz_store_tip(b.st, b.kp.pk, &tb, NULL), 0);
	assert_int_equal(tb, tip_before);
	assert_string_equal(texts_of(&b, ch, &t), "");

	assert_int_equal(kz_store_begin_bulk(b.st), 0);
	assert_int_equal(kz_store_begin_bulk(b.st), KZ_ERR_INVAL);
	post(&b, "kato", ch, "避難所の毛布が足りません", KZ_PRIO_NORMAL, p1b);
	/* Not in the views before they are applied ... */
	assert_string_equal(texts_of(&b, ch, &t), "");
	assert_int_equal(kz_store_bulk_apply(b.st), 0);
	/* ... and there after. */
	assert_string_equal(texts_of(&b, ch, &t), "避難所の毛布が足りません|");
	/* Rolled back too, so that b's feed stays where a's was before
	 * bulk_ops (the same entries, seqs and clocks follow). */
	b.wall -= 10;
	kz_store_rollback(b.st);
	assert_string_equal(texts_of(&b, ch, &t), "");

	assert_int_equal(kz_store_begin_bulk(b.st), 0);
	bulk_ops(&b, ch, p1b);
	assert_memory_equal(p1, p1b, 32);
	/* Appends only: a run from elsewhere is refused, the group goes on. */
	assert_int_equal(kz_store_read_run(a.st, a.kp.pk, 1, 1, 0, &run), 0);
	assert_int_equal(kz_store_ingest(b.st, run, NULL), KZ_ERR_INVAL);
	kz_run_free(run);
	assert_int_equal(kz_store_commit(b.st), 0);

	assert_int_equal(kz_store_tip(a.st, a.kp.pk, &ta, ha), 0);
	assert_int_equal(kz_store_tip(b.st, b.kp.pk, &tb, hb), 0);
	assert_int_equal(ta, tb);
	assert_memory_equal(ha, hb, 32);
	assert_same_digest(&a, &b);
	assert_string_equal(texts_of(&b, ch, &t),
	    "避難所の毛布が30枚足りません*|橋が通行止め|");
	assert_rebuild_same(&b);
	node_close(&b);
	node_close(&a);
	kz_test_rmtree(dir);
}

/*
 * A bulk group commits without waiting for the disk (synchronous NORMAL);
 * every other write, in a group or alone, after one as before, waits
 * (FULL).  kz_store_sync works outside a group only.
 */
static void
test_bulk_commit_relaxed(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32];
	struct texts t;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	assert_int_equal(count_rows(&a, "PRAGMA synchronous"), 2);
	channel(&a, "本部", ch);
	assert_int_equal(kz_store_sync(a.st), 0);

	assert_int_equal(kz_store_begin_bulk(a.st), 0);
	assert_int_equal(count_rows(&a, "PRAGMA synchronous"), 1);
	post(&a, "kato", ch, "一括の投稿", KZ_PRIO_NORMAL, NULL);
	assert_int_equal(kz_store_sync(a.st), KZ_ERR_INVAL);
	assert_int_equal(kz_store_commit(a.st), 0);
	assert_int_equal(kz_store_sync(a.st), 0);

	post(&a, "kato", ch, "単独の投稿", KZ_PRIO_NORMAL, NULL);
	assert_int_equal(count_rows(&a, "PRAGMA synchronous"), 2);
	assert_int_equal(kz_store_begin_bulk(a.st), 0);
	kz_store_rollback(a.st);
	assert_int_equal(kz_store_begin(a.st), 0);
	assert_int_equal(count_rows(&a, "PRAGMA synchronous"), 2);
	post(&a, "kato", ch, "まとめた投稿", KZ_PRIO_NORMAL, NULL);
	assert_int_equal(kz_store_commit(a.st), 0);
	assert_string_equal(texts_of(&a, ch, &t),
	    "一括の投稿|単独の投稿|まとめた投稿|");
	node_close(&a);
	kz_test_rmtree(dir);
}

/*
 * Appends whose ops the caller decoded (kz_store_append_decoded: an
 * import's reader decodes them on its own thread) make the store plain
 * appends make: a bulk group's views are computed from the given ops, and
 * a run in which one append gave none reads its entries back instead.
 * Outside a bulk group, and rolled back, the given op is freed (ASan).  An
 * op decoded from other bytes, or without their hash, is not used: the
 * views show the bytes appended.
 */
static void
test_bulk_decoded_matches_plain(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b, c;
	struct node *bc[2] = { &b, &c };
	uint8_t ch[32], p1[32], p1x[32];
	struct kz_op op, *dec;
	struct kz_appended app;
	struct texts t;
	uint8_t *buf, *other;
	size_t len, other_len;
	int i;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	node_open(&b, dir, "b.db", 1);
	node_open(&c, dir, "c.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	add_user(&a, "mori", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	assert_int_equal(kz_store_begin(a.st), 0);
	bulk_ops(&a, ch, p1);
	assert_int_equal(kz_store_commit(a.st), 0);

	/* b: every append decoded, outside groups too; c: the same but for
	 * the bulk group's second append (the reply), so that run is read
	 * back. */
	b.decoded = ~(uint64_t)0;
	c.decoded = ~(uint64_t)0 & ~((uint64_t)1 << 6);
	for (i = 0; i < 2; i++) {
		struct node *n = bc[i];

		mesh(n);
		add_user(n, "kato", KZ_ROLE_MEMBER);
		add_user(n, "mori", KZ_ROLE_MEMBER);
		channel(n, "本部", ch);
		assert_int_equal(n->puts, 4);
		assert_int_equal(kz_store_begin_bulk(n->st), 0);
		bulk_ops(n, ch, p1x);
		assert_memory_equal(p1, p1x, 32);
		assert_int_equal(kz_store_commit(n->st), 0);
		assert_same_digest(&a, n);
		assert_string_equal(texts_of(n, ch, &t),
		    "避難所の毛布が30枚足りません*|橋が通行止め|");
	}

	/* Rolled back with decoded ops held: nothing stays, nothing leaks. */
	assert_int_equal(kz_store_begin_bulk(b.st), 0);
	post(&b, "kato", ch, "取り消される投稿", KZ_PRIO_NORMAL, NULL);
	b.wall -= 10;
	kz_store_rollback(b.st);
	assert_same_digest(&a, &b);

	/* Decoded from other bytes, or without their hash: not used. */
	op = (struct kz_op){ .type = KZ_OP_POST, .actor = "kato",
	    .u.post = { ch, "給水所を開設", NULL, KZ_PRIO_NORMAL, 0, NULL } };
	assert_int_equal(kz_op_encode(&buf, &len, &op), 0);
	op.u.post.text = "偽りの投稿";
	assert_int_equal(kz_op_encode(&other, &other_len, &op), 0);
	assert_int_equal(kz_op_decode_hashed(&dec, other, other_len), 0);
	assert_int_equal(kz_store_begin_bulk(b.st), 0);
	assert_int_equal(kz_store_append_decoded(b.st, &b.kp, b.wall + 10, buf,
	    len, dec, &app), 0);
	assert_int_equal(kz_store_commit(b.st), 0);
	free(buf);
	op.u.post.text = "橋の点検完了";
	assert_int_equal(kz_op_encode(&buf, &len, &op), 0);
	assert_int_equal(kz_op_decode(&dec, buf, len), 0);
	assert_int_equal(kz_store_begin_bulk(b.st), 0);
	assert_int_equal(kz_store_append_decoded(b.st, &b.kp, b.wall + 20, buf,
	    len, dec, &app), 0);
	assert_int_equal(kz_store_commit(b.st), 0);
	free(buf);
	free(other);
	assert_string_equal(texts_of(&b, ch, &t), "避難所の毛布が30枚足りません*|"
	    "橋が通行止め|給水所を開設|橋の点検完了|");
	node_close(&c);
	node_close(&b);
	node_close(&a);
	kz_test_rmtree(dir);
}

/* a's store, closed and opened again, holds n messages in ch. */
static void
node_reopen_check(struct node *n, const uint8_t ch[32], int count)
{
	struct texts t;

	kz_store_free(n->st);
	assert_int_equal(kz_store_open(&n->st, n->path, NULL), 0);
	memset(&t, 0, sizeof(t));
	assert_int_equal(kz_views_messages(n->st, ch, 0, count_msg, &t), 0);
	assert_int_equal(t.n, count);
}

/*
 * Checkpoints on the store's own thread (kz_store_checkpoint_thread, for
 * imports): commits go on, the thread checkpoints, another connection
 * reads everything committed, and once the thread ends the WAL is cut to
 * nothing.
 */
static void
test_checkpoint_thread(void **state)
{
	char *dir = kz_test_tmpdir(), *wal, text[1200];
	struct node a;
	struct kz_store *other;
	struct texts t;
	struct stat sb;
	off_t db_before;
	uint8_t ch[32];
	int i, j;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	channel(&a, "記録", ch);
	assert_int_equal(kz_store_checkpoints(a.st), 0);
	assert_int_equal(kz_store_checkpoint_thread(a.st, true), 0);
	assert_int_equal(kz_store_checkpoint_thread(a.st, true), 0);
	assert_int_equal(stat(a.path, &sb), 0);
	db_before = sb.st_size;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (i = 0; i < 80; i++) {
		assert_int_equal(kz_store_begin_bulk(a.st), 0);
		for (j = 0; j < 100; j++) {
			snprintf(text, 32, "%04d-%03d ", i, j);
			text[9] = 'x';
			post(&a, "kato", ch, text, KZ_PRIO_NORMAL, NULL);
		}
		assert_int_equal(kz_store_commit(a.st), 0);
	}
	for (i = 0; i < 500 && kz_store_checkpoints(a.st) == 0; i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	assert_true(kz_store_checkpoints(a.st) > 0);
	/* The thread copied the commits into the database file (the writer
	 * checkpoints by itself only at 256 MiB of WAL). */
	for (i = 0; i < 500; i++) {
		assert_int_equal(stat(a.path, &sb), 0);
		if (sb.st_size > db_before + 8 * 1024 * 1024)
			break;
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	assert_true(sb.st_size > db_before + 8 * 1024 * 1024);
	wal = kz_test_path(dir, "a.db-wal");
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 8 * 1024 * 1024);
	assert_int_equal(kz_store_open(&other, a.path, NULL), 0);
	memset(&t, 0, sizeof(t));
	assert_int_equal(kz_views_messages(other, ch, 0, count_msg, &t), 0);
	assert_int_equal(t.n, 8000);
	kz_store_free(other);
	assert_int_equal(kz_store_checkpoint_thread(a.st, false), 0);
	assert_int_equal(kz_store_checkpoints(a.st), 0);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	node_reopen_check(&a, ch, 8000);
	/* Left on, kz_store_free ends it. */
	assert_int_equal(kz_store_checkpoint_thread(a.st, true), 0);
	free(wal);
	node_close(&a);
	kz_test_rmtree(dir);
}

/* Segments of the search index (FTS5 keeps a segment's pages at rowids
 * segid << 37 and up; segid 0 holds the structure and averages). */
static int
index_segments(struct node *n)
{
	sqlite3_stmt *s;
	int k;

	assert_int_equal(sqlite3_prepare_v2(kz__store_db(n->st), "SELECT"
	    " count(DISTINCT rowid >> 37) FROM ws_search_data WHERE rowid >> 37"
	    " > 0", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	k = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return k;
}

/*
 * The index is merged in steps as posts come (views.c, fts_merge_step)
 * rather than by FTS5's automerge: automerge is off in the index, and 400
 * posts of one commit each still leave it in a handful of segments (left
 * to FTS5's crisis merge alone they pile up to 16 on a level), holding
 * exactly what the rows say.
 */
static void
test_search_index_merged_in_steps(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32];
	char text[64];
	sqlite3_stmt *s;
	struct hits hs;
	int i;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	for (i = 0; i < 400; i++) {
		snprintf(text, sizeof(text), "避難所%03d 給水%d 毛布%d", i, i % 7,
		    i % 13);
		post(&a, "kato", ch, text, KZ_PRIO_NORMAL, NULL);
	}
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(a.st), "SELECT v FROM"
	    " ws_search_config WHERE k = 'automerge'", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(s, 0), SQLITE_INTEGER);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
	assert_in_range(index_segments(&a), 1, 8);
	assert_int_equal(sqlite3_exec(kz__store_db(a.st), "INSERT INTO "
	    "ws_search(ws_search) VALUES ('integrity-check')", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal((search(&a, "避難所123", NULL, &hs), hs.n), 1);
	node_close(&a);
	kz_test_rmtree(dir);
}

/* A bulk group of n posts of 60 characters drawn from 40 kanji. */
static void
bulk_kanji_posts(struct node *n, const uint8_t ch[32], int count,
    uint32_t *rng)
{
	static const char kanji[] = "避難所給水車停電復旧道路通行止橋崩落"
	    "毛布食料医療班派遣要請確認連絡本部支所消防団救助活動開始終了";
	char text[60 * 3 + 1];
	int i, k;

	assert_int_equal(kz_store_begin_bulk(n->st), 0);
	for (i = 0; i < count; i++) {
		for (k = 0; k < 60; k++) {
			*rng = *rng * 1103515245u + 12345u;
			memcpy(text + 3 * k, kanji + 3 * ((*rng >> 16) % 40), 3);
		}
		text[60 * 3] = '\0';
		post(n, "kato", ch, text, KZ_PRIO_NORMAL, NULL);
	}
	assert_int_equal(kz_store_commit(n->st), 0);
}

/*
 * FTS5 holds the terms of a transaction in memory up to its 'hashsize'
 * before it writes them as a segment; the views set it to 16 MiB, so a
 * bulk group (an import's batch) writes one segment at its commit instead
 * of one a MiB, which FTS5's crisis merge then merged again.  Set back to
 * FTS5's 1 MiB, the same group makes several.
 */
static void
test_bulk_group_one_segment(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32];
	uint32_t rng = 7;
	sqlite3_stmt *s;
	int before;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	bulk_kanji_posts(&a, ch, 8000, &rng);
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(a.st), "SELECT v FROM"
	    " ws_search_config WHERE k = 'hashsize'", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(s, 0), 16 * 1024 * 1024);
	sqlite3_finalize(s);
	assert_int_equal(index_segments(&a), 1);

	assert_int_equal(sqlite3_exec(kz__store_db(a.st), "INSERT INTO"
	    " ws_search(ws_search, rank) VALUES ('hashsize', 1048576)", NULL,
	    NULL, NULL), SQLITE_OK);
	before = index_segments(&a);
	bulk_kanji_posts(&a, ch, 8000, &rng);
	assert_true(index_segments(&a) - before >= 2);
	assert_int_equal(sqlite3_exec(kz__store_db(a.st), "INSERT INTO "
	    "ws_search(ws_search) VALUES ('integrity-check')", NULL, NULL, NULL),
	    SQLITE_OK);
	node_close(&a);
	kz_test_rmtree(dir);
}

/*
 * A bulk group's new posts are written in time order, whatever their ids:
 * their docs follow their times, and the search index gets them in rowid
 * order, in one segment (FTS5 flushes a segment whenever a rowid is below
 * the last one's; in id order these posts made several).  new_doc gives
 * the docs of one call without looking up each: 40 posts of one minute
 * (16 slots) spill past it, a second group adds 20 more to that minute
 * and 20 to the next, where the spill sits, and every doc stays unique
 * and in time order.
 */
static void
bulk_posts(struct node *n, const uint8_t ch[32], int from, int to)
{
	char text[64];
	int i;

	assert_int_equal(kz_store_begin_bulk(n->st), 0);
	for (i = from; i < to; i++) {	/* 10 ms apart */
		snprintf(text, sizeof(text), "給水所%02d 開設", i);
		post(n, "kato", ch, text, KZ_PRIO_NORMAL, NULL);
	}
	assert_int_equal(kz_store_commit(n->st), 0);
}

static void
test_new_posts_in_time_order(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32];
	sqlite3_stmt *s;
	int64_t last = -1;
	int n = 0;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	a.wall = (a.wall / 60000 + 1) * 60000;	/* a minute's start */
	assert_int_equal(index_segments(&a), 0);
	bulk_posts(&a, ch, 0, 40);
	assert_int_equal(index_segments(&a), 1);
	bulk_posts(&a, ch, 40, 60);
	a.wall = (a.wall / 60000 + 1) * 60000;
	bulk_posts(&a, ch, 60, 80);
	assert_int_equal(sqlite3_prepare_v2(kz__store_db(a.st), "SELECT doc FROM"
	    " ws_messages ORDER BY hlc", -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		assert_true(sqlite3_column_int64(s, 0) > last);
		last = sqlite3_column_int64(s, 0);
		n++;
	}
	sqlite3_finalize(s);
	assert_int_equal(n, 80);
	assert_int_equal(sqlite3_exec(kz__store_db(a.st), "INSERT INTO "
	    "ws_search(ws_search) VALUES ('integrity-check')", NULL, NULL, NULL),
	    SQLITE_OK);
	node_close(&a);
	kz_test_rmtree(dir);
}

/*
 * Deferred views: a long run stores at once and waits in the backlog but
 * for its membership entries (applied at once: who may write must never
 * wait); an urgent entry that comes alone is shown at once; the backlog
 * survives a restart and kz_views_catch_up applies it in batches, to the
 * very workspace of a store that applied everything at once.
 */
static int
count_nodes(void *ctx, const struct kz_view_node *n)
{
	(void)n;
	(*(int *)ctx)++;
	return 0;
}

static void
test_deferred_backlog(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b, c;
	struct kz_run *run;
	uint8_t ch[32], d1[32], d2[32], other[32];
	struct kz_op op;
	struct texts t;
	uint64_t backlog, left, tip;
	char text[64];
	int i, nodes = 0;

	(void)state;
	memset(other, 0x77, sizeof(other));
	node_open(&a, dir, "a.db", 1);
	node_open(&b, dir, "b.db", 2);
	node_open(&c, dir, "c.db", 3);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);		/* seq 3 */
	for (i = 0; i < 300; i++) {
		snprintf(text, sizeof(text), "定時報告 %03d", i);
		post(&a, "kato", ch, text, KZ_PRIO_NORMAL, NULL);
		if (i == 150) {
			op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
			    .u.node_admit = { other, "消防署", false } };
			put(&a, &op, NULL);
		}
	}
	post(&a, "kato", ch, "堤防決壊、避難せよ", KZ_PRIO_EMERGENCY, NULL);
	assert_int_equal(kz_store_tip(a.st, a.kp.pk, &tip, NULL), 0);
	assert_int_equal(kz_views_set_root(b.st, a.kp.pk), 0);
	assert_int_equal(kz_views_set_root(c.st, a.kp.pk), 0);
	kz_views_set_deferral(b.st, 64);

	/* b knows the mesh, the user and the channel (a short run). */
	assert_int_equal(kz_store_read_run(a.st, a.kp.pk, 1, 3, 0, &run), 0);
	assert_int_equal(run->n, 3);
	assert_int_equal(kz_store_ingest(b.st, run, NULL), 0);
	kz_run_free(run);
	/* The urgent entry, alone, ahead of the backlog: shown at once. */
	assert_int_equal(kz_store_read_entry(a.st, a.kp.pk, tip, &run), 0);
	assert_int_equal(kz_store_ingest_entry(b.st, run, NULL), 0);
	kz_run_free(run);
	assert_string_equal(texts_of(&b, ch, &t), "堤防決壊、避難せよ|");
	/* The backlog in one run: stored, waiting but for the admission. */
	assert_int_equal(kz_store_read_run(a.st, a.kp.pk, 4, 0, 0, &run), 0);
	assert_int_equal(run->n, tip - 3);
	assert_int_equal(kz_store_ingest(b.st, run, NULL), 0);
	kz_run_free(run);
	assert_int_equal(kz_store_tip(b.st, a.kp.pk, &left, NULL), 0);
	assert_int_equal(left, tip);
	assert_int_equal(kz_views_backlog(b.st, &backlog), 0);
	assert_int_equal(backlog, tip - 3);
	assert_string_equal(texts_of(&b, ch, &t), "堤防決壊、避難せよ|");
	assert_int_equal(kz_views_nodes(b.st, count_nodes, &nodes), 0);
	assert_int_equal(nodes, 2);		/* a and the admitted station */

	/* A restart keeps the backlog; batches apply it. */
	kz_store_free(b.st);
	assert_int_equal(kz_store_open(&b.st, b.path, NULL), 0);
	assert_int_equal(kz_views_backlog(b.st, &backlog), 0);
	assert_int_equal(backlog, tip - 3);
	assert_int_equal(kz_views_catch_up(b.st, 100, &left), 0);
	assert_int_equal(left, tip - 3 - 100);
	texts_of(&b, ch, &t);
	assert_int_equal(t.n, 100 + 1);
	assert_int_equal(kz_views_catch_up(b.st, 0, &left), 0);
	assert_int_equal(left, 0);
	assert_int_equal(kz_views_backlog(b.st, &backlog), 0);
	assert_int_equal(backlog, 0);
	texts_of(&b, ch, &t);
	assert_int_equal(t.n, 301);

	/* The same workspace as a store that applied everything at once. */
	carry(&a, &c);
	assert_int_equal(kz_views_digest(b.st, d1), 0);
	assert_int_equal(kz_views_digest(c.st, d2), 0);
	assert_memory_equal(d1, d2, 32);
	assert_int_equal(sqlite3_exec(kz__store_db(b.st), "INSERT INTO "
	    "ws_search(ws_search) VALUES ('integrity-check')", NULL, NULL, NULL),
	    SQLITE_OK);
	node_close(&a);
	node_close(&b);
	node_close(&c);
	kz_test_rmtree(dir);
}

/* ------------------------------------------------------------ link reports */

/* One report's row as text: "NODE@SEQ:PEER/tcp/up/since/lag,..." (first
 * bytes of keys). */
static int
on_report(void *ctx, const struct kz_view_link_report *r)
{
	char *out = ctx;
	size_t i, len = strlen(out);

	len += (size_t)snprintf(out + len, 1024 - len, "%02x@%llu:", r->node[0],
	    (unsigned long long)r->seq);
	for (i = 0; i < r->n_links; i++) {
		const struct kz_report_link *l = &r->links[i];

		len += (size_t)snprintf(out + len, 1024 - len, "%02x/%s/%s/%llu/%llu,",
		    l->peer[0], l->transport, l->up ? "up" : "down",
		    (unsigned long long)l->since_s, (unsigned long long)l->lag_s);
	}
	snprintf(out + len, 1024 - len, "|");
	return 0;
}

static const char *
reports_of(struct node *n, char out[1024])
{
	out[0] = '\0';
	assert_int_equal(kz_views_link_reports(n->st, on_report, out), 0);
	return out;
}

static void
report(struct node *n, size_t n_links, const struct kz_report_link *links)
{
	struct kz_op op = { .type = KZ_OP_LINK_REPORT,
	    .u.link_report = { n_links, links } };

	put(n, &op, NULL);
}

/* Moves from's own entries up to seq `upto` into to's store. */
static void
carry_upto(struct node *from, struct node *to, uint64_t upto)
{
	struct kz_run *run;
	uint64_t have;

	assert_int_equal(kz_store_tip(to->st, from->kp.pk, &have, NULL), 0);
	if (have >= upto)
		return;
	assert_int_equal(kz_store_read_run(from->st, from->kp.pk, have + 1,
	    upto - have, 0, &run), 0);
	assert_int_equal(kz_store_ingest(to->st, run, NULL), 0);
	kz_run_free(run);
}

/*
 * The mesh map's source: each admitted node's latest own report wins,
 * whatever order the reports arrive in; a node that is not admitted (or
 * is revoked) has none; a rebuild gives the same rows.
 */
static void
test_link_reports(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b, c, d;
	struct kz_op op;
	char got[1024];
	uint64_t b_tip;

	(void)state;
	node_open(&a, dir, "a.db", 0xa1);
	node_open(&b, dir, "b.db", 0xb2);
	node_open(&c, dir, "c.db", 0xc3);
	node_open(&d, dir, "d.db", 0xd4);
	/* Key first bytes are what the rows print; they must differ. */
	assert_true(a.kp.pk[0] != b.kp.pk[0] && b.kp.pk[0] != c.kp.pk[0] &&
	    a.kp.pk[0] != c.kp.pk[0]);
	mesh(&a);
	assert_int_equal(kz_views_set_root(d.st, a.kp.pk), 0);
	op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
	    .u.node_admit = { b.kp.pk, "branch", false } };
	put(&a, &op, NULL);
	{
		const struct kz_report_link b1[] = {
			{ a.kp.pk, "tcp", true, 100, 0 },
		};
		const struct kz_report_link b2[] = {
			{ a.kp.pk, "tcp", true, 100, 2 },
			{ c.kp.pk, "radio", false, 200, 0 },
		};
		const struct kz_report_link c1[] = {
			{ b.kp.pk, "radio", true, 150, 0 },
		};
		const struct kz_report_link a1[] = {
			{ b.kp.pk, "tcp", true, 90, 0 },
		};

		/* b's feed: admitted by a's entry, which b has not seen. */
		report(&b, 1, b1);
		report(&b, 2, b2);
		/* c is not admitted (yet). */
		report(&c, 1, c1);
		report(&a, 1, a1);
	}
	assert_int_equal(kz_store_tip(b.st, b.kp.pk, &b_tip, NULL), 0);
	assert_true(b_tip == 2);
	/* d learns b's older report first: it counts until the newer comes. */
	carry(&a, &d);
	carry_upto(&b, &d, 1);
	carry(&c, &d);
	snprintf(got, sizeof(got), "%02x@3:%02x/tcp/up/90/0,|%02x@1:%02x/tcp/up/100/0,|",
	    a.kp.pk[0], b.kp.pk[0], b.kp.pk[0], a.kp.pk[0]);
	{
		char want[1024];

		/* Rows come by node key. */
		if (memcmp(a.kp.pk, b.kp.pk, 32) < 0)
			snprintf(want, sizeof(want), "%s", got);
		else
			snprintf(want, sizeof(want), "%02x@1:%02x/tcp/up/100/0,|"
			    "%02x@3:%02x/tcp/up/90/0,|", b.kp.pk[0], a.kp.pk[0],
			    a.kp.pk[0], b.kp.pk[0]);
		assert_string_equal(reports_of(&d, got), want);
	}
	carry(&b, &d);
	/* a gets b's feed whole, the newer report in the same run. */
	carry(&b, &a);
	carry(&c, &a);
	{
		char want_b[128], want_a[128], want[1024];

		snprintf(want_a, sizeof(want_a), "%02x@3:%02x/tcp/up/90/0,|",
		    a.kp.pk[0], b.kp.pk[0]);
		snprintf(want_b, sizeof(want_b), "%02x@2:%02x/tcp/up/100/2,"
		    "%02x/radio/down/200/0,|", b.kp.pk[0], a.kp.pk[0], c.kp.pk[0]);
		snprintf(want, sizeof(want), "%s%s",
		    memcmp(a.kp.pk, b.kp.pk, 32) < 0 ? want_a : want_b,
		    memcmp(a.kp.pk, b.kp.pk, 32) < 0 ? want_b : want_a);
		/* c's report is nowhere: c is not admitted. */
		assert_string_equal(reports_of(&a, got), want);
		assert_string_equal(reports_of(&d, got), want);
	}
	assert_same_digest(&a, &d);

	/* Admitting c makes its report count, on both. */
	op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
	    .u.node_admit = { c.kp.pk, "station", false } };
	put(&a, &op, NULL);
	carry(&a, &d);
	assert_non_null(strstr(reports_of(&a, got), "/radio/up/150/0,|"));
	assert_non_null(strstr(reports_of(&d, got), "/radio/up/150/0,|"));
	assert_same_digest(&a, &d);

	/* Revoking b drops its report (a revoked node is off the map). */
	op = (struct kz_op){ .type = KZ_OP_NODE_REVOKE,
	    .u.node_revoke = { b.kp.pk, 2, "stolen" } };
	put(&a, &op, NULL);
	carry(&a, &d);
	assert_null(strstr(reports_of(&a, got), "/radio/down/200/0,"));
	assert_null(strstr(reports_of(&d, got), "/radio/down/200/0,"));
	{
		char n_reports = 0;
		const char *p;

		for (p = reports_of(&a, got); *p != '\0'; p++)
			n_reports += *p == '|';
		assert_int_equal(n_reports, 2);	/* a's and c's */
	}
	assert_same_digest(&a, &d);
	/* A rebuild from the facts gives the same rows. */
	reports_of(&a, got);
	assert_int_equal(kz_views_rebuild(a.st), 0);
	{
		char again[1024];

		assert_string_equal(reports_of(&a, again), got);
	}
	/*
	 * Many reports of one node: each recompute reads the winner and the
	 * new report only (the superseded ones are unfiled), and the winner
	 * is the last.
	 */
	{
		const struct kz_report_link l1[] = {
			{ b.kp.pk, "tcp", true, 0, 0 },
		};
		sqlite3_stmt *s;
		uint8_t key[34] = { 'n', ':' };
		int i;

		for (i = 0; i < 20; i++) {
			struct kz_report_link li = l1[0];

			li.since_s = (uint64_t)(1000 + i);
			report(&c, 1, &li);
		}
		carry(&c, &a);
		carry(&c, &d);
		memcpy(key + 2, c.kp.pk, 32);
		assert_int_equal(sqlite3_prepare_v2(kz__store_db(a.st),
		    "SELECT count(*) FROM ws_facts WHERE key = ?1", -1, &s, NULL),
		    SQLITE_OK);
		sqlite3_bind_blob(s, 1, key, 34, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(s, 0), 1);
		sqlite3_finalize(s);
		assert_non_null(strstr(reports_of(&a, got), "@21:"));
		assert_non_null(strstr(got, "/tcp/up/1019/0,|"));
	}
	reports_of(&a, got);
	assert_int_equal(kz_views_rebuild(a.st), 0);
	{
		char again[1024];

		assert_string_equal(reports_of(&a, again), got);
	}
	assert_same_digest(&a, &d);
	node_close(&a);
	node_close(&b);
	node_close(&c);
	node_close(&d);
	kz_test_rmtree(dir);
}

/* One message's imported parts as a line: text|subtype|system|pinned|edited
 * at|files (name/title/type/size/url;...). */
struct parts {
	char all[2048];
	uint64_t edited_hlc[8];
	size_t n;
};

static int
on_parts(void *ctx, const struct kz_view_message *m)
{
	struct parts *p = ctx;
	size_t len = strlen(p->all), i;

	len += (size_t)snprintf(p->all + len, sizeof(p->all) - len,
	    "%s|%s|%d|%d|%s|", m->text, m->subtype, m->system, m->pinned,
	    m->edited_hlc != 0 ? "edited" : "-");
	for (i = 0; i < m->n_files; i++)
		len += (size_t)snprintf(p->all + len, sizeof(p->all) - len,
		    "%s/%s/%s/%s/%llu/%s;", m->files[i].id, m->files[i].name,
		    m->files[i].title, m->files[i].mimetype,
		    (unsigned long long)m->files[i].size, m->files[i].url);
	snprintf(p->all + len, sizeof(p->all) - len, "\n");
	if (p->n < 8)
		p->edited_hlc[p->n++] = m->edited_hlc;
	return 0;
}

/* An imported post of the node itself, at time_us of its source. */
static void
imported(struct node *n, const uint8_t ch[32], uint8_t idb, uint64_t time_us,
    const char *text, const char *subtype, bool system, bool pinned,
    size_t n_files, const struct kz_imported_file *files)
{
	uint8_t id[32];
	char source[64];
	struct kz_imported_post ip;
	struct kz_op op = { .type = KZ_OP_POST };

	memset(id, idb, sizeof(id));
	snprintf(source, sizeof(source), "slack:T1/C01/%llu.000000",
	    (unsigned long long)(time_us / 1000000));
	ip = (struct kz_imported_post){ .id = id, .source = source,
	    .time_us = time_us, .author = "kato", .author_name = "",
	    .subtype = subtype, .system = system, .source_text = text,
	    .n_files = n_files, .files = files, .pinned = pinned, .raw = "",
	    .thread_ts = "", .attachments = "" };
	op.u.post = (struct kz_post){ ch, text, NULL, KZ_PRIO_NORMAL, 0, NULL,
	    &ip };
	put(n, &op, NULL);
}

/* Reactions the views hold on id. */
static int
reactions_on(struct node *n, const uint8_t id[32])
{
	return (int)value_for(n, "SELECT count(*) FROM ws_reactions"
	    " WHERE target = X'%s'", id);
}

/* Imports posts idb (reacted to) and idb + 1 (not) in one bulk group. */
static void
bulk_pair(struct node *n, const uint8_t ch[32], uint8_t idb, uint64_t time_us)
{
	assert_int_equal(kz_store_begin_bulk(n->st), 0);
	imported(n, ch, idb, time_us, "反応のある投稿", "", false, false, 0,
	    NULL);
	imported(n, ch, (uint8_t)(idb + 1), time_us + 60000000ull,
	    "反応のない投稿", "", false, false, 0, NULL);
	assert_int_equal(kz_store_commit(n->st), 0);
}

/*
 * An import (a bulk group) skips the look-up of a new post's id only when
 * its key filter says nothing was filed under it: a reaction filed before
 * the post (by this connection, or by another one, which the filter
 * cannot know) still reaches the post's views.  Each time the store ends
 * as a rebuild makes it.
 */
static void
test_bulk_key_filter(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a, b;
	uint8_t ch[32], x[32], y[32], z[32], w[32];
	uint64_t unlooked;
	struct kz_op op;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	add_user(&a, "mori", KZ_ROLE_MEMBER);
	node_open(&b, dir, "a.db", 2);	/* another connection, another node */
	op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
	    .u.node_admit = { b.kp.pk, "branch", false } };
	put(&a, &op, NULL);
	channel(&a, "本部", ch);
	memset(x, 0x41, 32);
	memset(y, 0x42, 32);
	memset(z, 0x43, 32);
	memset(w, 0x44, 32);

	/* x has a reaction before its post; y has nothing. */
	op = (struct kz_op){ .type = KZ_OP_REACT, .actor = "mori",
	    .u.react = { x, "👍", true } };
	put(&a, &op, NULL);
	bulk_pair(&a, ch, 0x41, 1589871600000000ull);
	assert_int_equal(reactions_on(&a, x), 1);
	assert_int_equal(reactions_on(&a, y), 0);
	unlooked = kz__views_posts_unlooked(a.st);
	assert_int_equal(unlooked, 1);		/* y's */

	/* Another connection files a reaction to z while a's filter is up. */
	b.wall = a.wall + 100;
	op = (struct kz_op){ .type = KZ_OP_REACT, .actor = "kato",
	    .u.react = { z, "🙏", true } };
	put(&b, &op, NULL);
	a.wall = b.wall + 100;
	bulk_pair(&a, ch, 0x43, 1589871720000000ull);
	assert_int_equal(reactions_on(&a, z), 1);
	assert_int_equal(reactions_on(&a, w), 0);
	/* The filter was dropped: both posts were looked up. */
	assert_int_equal(kz__views_posts_unlooked(a.st), unlooked);

	assert_rebuild_same(&a);
	node_close(&b);
	node_close(&a);
	kz_test_rmtree(dir);
}

/*
 * The key filter is not built for a store of more than ~11 million facts
 * (here one fact row numbered 20 million): every new post is looked up,
 * and the posts are there all the same.
 */
static void
test_bulk_key_filter_cap(void **state)
{
	char *dir = kz_test_tmpdir();
	struct node a;
	uint8_t ch[32];
	struct texts t;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	mesh(&a);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	assert_int_equal(sqlite3_exec(kz__store_db(a.st), "INSERT INTO"
	    " ws_facts(entry, key, type, actor) VALUES (20000000, X'00', 0, '')",
	    NULL, NULL, NULL), SQLITE_OK);
	bulk_pair(&a, ch, 0x51, 1589871600000000ull);
	assert_int_equal(kz__views_posts_unlooked(a.st), 0);
	assert_string_equal(texts_of(&a, ch, &t),
	    "反応のある投稿|反応のない投稿|");
	bulk_pair(&a, ch, 0x53, 1589871720000000ull);
	assert_int_equal(kz__views_posts_unlooked(a.st), 0);
	assert_int_equal(count_rows(&a, "SELECT count(*) FROM ws_messages"), 4);
	node_close(&a);
	kz_test_rmtree(dir);
}

/*
 * What an imported message was (schema 9): its subtype, system flag, pin
 * and file references read back exactly, in their order; a deleted one
 * keeps no file references; the hlc of a native edit.  A node that got the
 * entries one by one, and a rebuild, give the same digest, which covers
 * them (a file's name changes it).
 */
static void
test_imported_parts(void **state)
{
	static const struct kz_imported_file f2[] = {
		{ "F1", "map.pdf", "地図", "application/pdf", 2048,
		    "https://files.slack.com/files-pri/T1-F1/map.pdf" },
		{ "F3", "報告.txt", "", "text/plain", 10,
		    "https://files.slack.com/x/report.txt" },
	}, f1[] = {
		{ "F9", "old.png", "", "image/png", 1, "https://x/old.png" },
	};
	char *dir = kz_test_tmpdir();
	struct node a, b;
	uint8_t ch[32], p4[32], id3[32], digest[32], after[32];
	struct kz_appended app;
	struct kz_op op;
	struct parts pt;
	uint64_t tip, seq;
	uint8_t *buf;
	size_t len;

	(void)state;
	node_open(&a, dir, "a.db", 1);
	node_open(&b, dir, "b.db", 2);
	mesh(&a);
	assert_int_equal(kz_views_set_root(b.st, a.kp.pk), 0);
	add_user(&a, "kato", KZ_ROLE_MEMBER);
	channel(&a, "本部", ch);
	imported(&a, ch, 0x31, 1589871760000000ull, "地図を共有します", "", false,
	    true, 2, f2);
	imported(&a, ch, 0x32, 1589871600000000ull, "@bob has joined the channel",
	    "channel_join", true, false, 0, NULL);
	imported(&a, ch, 0x33, 1589871700000000ull, "消す写真", "", false, false,
	    1, f1);
	post(&a, "kato", ch, "給水は14時", KZ_PRIO_NORMAL, p4);
	assert_int_equal(count_rows(&a, "SELECT count(*) FROM ws_files"), 3);
	memset(id3, 0x33, sizeof(id3));
	/* The importing node (an admin's) deletes it. */
	op = (struct kz_op){ .type = KZ_OP_DELETE, .actor = "",
	    .u.del = { id3 } };
	put(&a, &op, NULL);
	op = (struct kz_op){ .type = KZ_OP_EDIT, .actor = "kato",
	    .u.edit = { p4, "給水は15時" } };
	assert_int_equal(kz_op_encode(&buf, &len, &op), 0);
	a.wall += 10;
	assert_int_equal(kz_store_append(a.st, &a.kp, a.wall, buf, len, &app), 0);
	free(buf);

	memset(&pt, 0, sizeof(pt));
	assert_int_equal(kz_views_messages(a.st, ch, 0, on_parts, &pt), 0);
	assert_string_equal(pt.all,
	    "@bob has joined the channel|channel_join|1|0|-|\n"
	    "||0|0|-|\n"
	    "地図を共有します||0|1|-|F1/map.pdf/地図/application/pdf/2048/"
	    "https://files.slack.com/files-pri/T1-F1/map.pdf;F3/報告.txt//"
	    "text/plain/10/https://files.slack.com/x/report.txt;\n"
	    "給水は15時||0|0|edited|\n");
	assert_int_equal(pt.n, 4);
	assert_true(pt.edited_hlc[3] == app.hlc);
	/* The deleted message's file reference is gone; its row says none. */
	assert_int_equal(count_rows(&a, "SELECT count(*) FROM ws_files"), 2);
	assert_int_equal(count_rows(&a, "SELECT files FROM ws_messages WHERE"
	    " id = x'3333333333333333333333333333333333333333333333333333333333333333'"), 0);
	/* The export's reader sees the same. */
	memset(&pt, 0, sizeof(pt));
	assert_int_equal(kz_views_channel_messages(a.st, ch, on_parts, &pt), 0);
	assert_non_null(strstr(pt.all, "地図を共有します||0|1|-|F1/map.pdf/地図/"));
	assert_non_null(strstr(pt.all, "channel_join|1|0|-|\n"));

	/* b: one entry per run. */
	assert_int_equal(kz_store_tip(a.st, a.kp.pk, &tip, NULL), 0);
	for (seq = 1; seq <= tip; seq++) {
		struct kz_run *run;

		assert_int_equal(kz_store_read_run(a.st, a.kp.pk, seq, 1, 0,
		    &run), 0);
		assert_int_equal(kz_store_ingest(b.st, run, NULL), 0);
		kz_run_free(run);
	}
	assert_same_digest(&a, &b);
	assert_int_equal(kz_views_digest(a.st, digest), 0);
	assert_int_equal(kz_views_rebuild(a.st), 0);
	assert_int_equal(kz_views_digest(a.st, after), 0);
	assert_memory_equal(digest, after, 32);
	assert_int_equal(count_rows(&a, "SELECT count(*) FROM ws_files"), 2);
	/* The digest covers the file references and the new columns. */
	assert_int_equal(sqlite3_exec(kz__store_db(b.st), "UPDATE ws_files SET"
	    " name = 'x.pdf' WHERE id = 'F1'", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(kz_views_digest(b.st, after), 0);
	assert_memory_not_equal(digest, after, 32);
	assert_int_equal(kz_views_rebuild(b.st), 0);
	assert_same_digest(&a, &b);
	assert_int_equal(sqlite3_exec(kz__store_db(b.st), "UPDATE ws_messages SET"
	    " pinned = 0", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(kz_views_digest(b.st, after), 0);
	assert_memory_not_equal(digest, after, 32);
	node_close(&b);
	node_close(&a);
	kz_test_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_counts_before_root),
		cmocka_unit_test(test_edit_rules_and_deactivation),
		cmocka_unit_test(test_acks_listed),
		cmocka_unit_test(test_revoked_node_in_either_order),
		cmocka_unit_test(test_purge_leaves_no_trace),
		cmocka_unit_test(test_search_current_text_only),
		cmocka_unit_test(test_search_busy_minute),
		cmocka_unit_test(test_deferred_backlog),
		cmocka_unit_test(test_new_post_paths_match_rebuild),
		cmocka_unit_test(test_reply_counts),
		cmocka_unit_test(test_bulk_group_matches_plain),
		cmocka_unit_test(test_bulk_commit_relaxed),
		cmocka_unit_test(test_bulk_decoded_matches_plain),
		cmocka_unit_test(test_bulk_group_one_segment),
		cmocka_unit_test(test_checkpoint_thread),
		cmocka_unit_test(test_search_index_merged_in_steps),
		cmocka_unit_test(test_new_posts_in_time_order),
		cmocka_unit_test(test_link_reports),
		cmocka_unit_test(test_imported_parts),
		cmocka_unit_test(test_bulk_key_filter),
		cmocka_unit_test(test_bulk_key_filter_cap),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
