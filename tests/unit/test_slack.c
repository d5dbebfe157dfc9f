/*
 * The Slack export reader and importer (kizuna/slack.h) on a synthetic
 * export built here, file by file, with every field and edge case of
 * ../shared/formats/slack-export.md: threads with orphan replies, edits,
 * reactions with skin tones and custom emoji, modern and legacy files with
 * access tokens, bots with attachments only, system and unknown subtypes,
 * renamed channels, deleted and unknown users, int and string times; and
 * the bad input: a corrupt ZIP, entry names leaving the export, a day file
 * that is not JSON, a message without ts, a 1 MB text, invalid UTF-8, a NUL.
 * Exact counts and texts after import, search by two-character Japanese
 * words, idempotency, and an import killed with SIGKILL mid-batch that
 * resumes to the digest of an uninterrupted one.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <zip.h>

#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/keys.h"
#include "kizuna/op.h"
#include "kizuna/slack.h"
#include "kizuna/store.h"
#include "kizuna/views.h"
#include "slack/slack_int.h"
#include "store/store_int.h"
#include "testutil.h"

#define T0 1764990000000ull	/* the importing node's clock, ms */

/* ------------------------------------------------------------ the export */

struct file {
	const char *name;
	const char *body;
	size_t len;		/* 0: strlen(body) */
};

#define M1_TS "1589871634.304500"
#define LONG10 "ああああああああああ"
#define LONG100 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 LONG10 \
	LONG10 LONG10	/* 300 bytes: a file name over the bound of 255 */

static const char users_json[] =
    "[\n"
    "    {\"id\": \"U01\", \"team_id\": \"T1\", \"name\": \"tanaka\",\n"
    "     \"real_name\": \"田中 花子\", \"deleted\": false, \"profile\":\n"
    "     {\"display_name\": \"はなこ\", \"real_name\": \"田中 花子\",\n"
    "      \"email\": \"hanako@example.jp\"}},\n"
    "    {\"id\": \"U02\", \"team_id\": \"T1\", \"name\": \"bob\", \"deleted\": true,\n"
    "     \"profile\": {\"display_name\": \"\", \"real_name\": \"Bob\"}},\n"
    "    {\"id\": \"U03\", \"team_id\": \"T1\", \"name\": \"bot\", \"is_bot\": true,\n"
    "     \"real_name\": \"\", \"profile\": {\"display_name\": \"\", \"real_name\": \"\"}},\n"
    "    {\"id\": \"W04\", \"team_id\": \"T1\", \"name\": \"suzuki\"}\n"
    "]\n";

static const char channels_json[] =
    "[\n"
    "    {\"id\": \"C01\", \"name\": \"general\", \"created\": 1433558319,\n"
    "     \"is_archived\": false, \"is_general\": true, \"members\": [\"U01\"],\n"
    "     \"topic\": {\"value\": \"避難 &amp; 給水\", \"creator\": \"U01\", \"last_set\": 0},\n"
    "     \"purpose\": {\"value\": \"\", \"creator\": \"\", \"last_set\": 0},\n"
    "     \"pins\": [{\"id\": \"" M1_TS "\", \"type\": \"C\", \"user\": \"U01\"}]},\n"
    "    {\"id\": \"C02\", \"name\": \"meetup-\", \"created\": \"1433558319\",\n"
    "     \"is_archived\": true, \"purpose\": {\"value\": \"old <#C01|general> days\"}},\n"
    "    {\"id\": \"C03\", \"name\": \"empty\", \"created\": 1433558400},\n"
    "    {\"id\": \"C09\", \"name\": \"../evil\", \"created\": 1}\n"
    "]\n";

/* Messages in file order; the join (earlier ts) comes second on purpose. */
static const char day1_head[] =
    "[\n"
    /* index 0, line 2 */
    "    {\"type\": \"message\", \"user\": \"U01\", \"client_msg_id\": \"a-b-c\",\n"
    "     \"text\": \"給水車が14時に到着します <@U02> &amp;lt;tag&amp;gt; :+1:\",\n"
    "     \"ts\": \"" M1_TS "\", \"thread_ts\": \"" M1_TS "\", \"reply_count\": 5,\n"
    "     \"reactions\": [{\"name\": \"+1::skin-tone-2\", \"users\": [\"U02\", \"U01\"], \"count\": 2},\n"
    "                   {\"name\": \"custom_party\", \"users\": [\"U01\"], \"count\": 1}]},\n"
    /* index 1, line 7 */
    "    {\"type\": \"message\", \"subtype\": \"channel_join\", \"user\": \"U02\",\n"
    "     \"text\": \"<@U02|bob> has joined the channel\", \"ts\": \"1589871600.000100\"},\n"
    /* index 2, line 9 */
    "    {\"type\": \"message\", \"user\": \"U01\", \"text\": \"了解 <https:\\/\\/example.com\\/a?b=1&amp;c=2|地図> <#C02|meetup>\",\n"
    "     \"ts\": \"1589871700.000000\", \"thread_ts\": \"" M1_TS "\", \"parent_user_id\": \"U01\",\n"
    "     \"edited\": {\"user\": \"U01\", \"ts\": \"1589871701.000000\"}},\n"
    /* index 3, line 12: a bot with its content in attachments only */
    "    {\"type\": \"message\", \"subtype\": \"bot_message\", \"bot_id\": \"B1\",\n"
    "     \"username\": \"alertbot\", \"text\": \"\", \"ts\": \"1589871750.000000\",\n"
    "     \"attachments\": [{\"pretext\": \"警報\", \"title\": \"大雨\", \"text\": \"避難準備\",\n"
    "       \"fields\": [{\"title\": \"地域\", \"value\": \"北区\", \"short\": true}]}]},\n"
    /* index 4, line 16: a modern upload */
    "    {\"type\": \"message\", \"user\": \"W04\", \"text\": \"\", \"upload\": true,\n"
    "     \"ts\": \"1589871760.000000\", \"files\": [{\"id\": \"F1\", \"name\": \"map.pdf\",\n"
    "       \"title\": \"地図\", \"mimetype\": \"application/pdf\", \"size\": 2048,\n"
    "       \"url_private\": \"https:\\/\\/files.slack.com\\/files-pri\\/T1-F1\\/map.pdf?t=xoxe-SECRET1\"},"
    " {\"id\": \"F3\", \"name\": \"" LONG100 "\", \"size\": 1}]},\n"
    /* index 5, line 20 */
    "    {\"type\": \"message\", \"subtype\": \"thread_broadcast\", \"user\": \"U01\",\n"
    "     \"text\": \"全員へ <!here>\", \"ts\": \"1589871770.000000\", \"thread_ts\": \"" M1_TS "\",\n"
    "     \"root\": {\"text\": \"x\", \"ts\": \"" M1_TS "\"}},\n"
    /* index 6, line 23 */
    "    {\"type\": \"message\", \"user\": \"U01\", \"text\": \"no ts here\"},\n"
    /* index 7, line 24 */
    "    {\"type\": \"message\", \"subtype\": \"huddle_future\", \"text\": \"x\",\n"
    "     \"ts\": \"1589871780.000000\", \"extra\": {\"k\": 1}},\n"
    /* index 8, line 26: invalid UTF-8 */
    "    {\"type\": \"message\", \"user\": \"U01\", \"text\": \"bad \xff\xfe bytes\",\n"
    "     \"ts\": \"1589871790.000000\"},\n";

/* index 9, line 28: a text of 1 MB, written by the test */
/* index 10, line 29, and on: */
static const char day1_tail[] =
    "    {\"type\": \"message\", \"subtype\": \"file_share\", \"user\": \"U01\",\n"
    "     \"text\": \"<@U01|tanaka> uploaded a file: <https:\\/\\/x.slack.com\\/files\\/a|report.txt>\",\n"
    "     \"ts\": \"1589871800.000000\", \"upload\": true, \"bot_id\": null,\n"
    "     \"file\": {\"id\": \"F2\", \"name\": \"report.txt\", \"mimetype\": \"text\\/plain\",\n"
    "       \"size\": \"10\", \"url_private\": \"https:\\/\\/files.slack.com\\/x\\/report.txt?t=xoxe-SECRET2\"}},\n"
    /* an orphan reply by a user missing from users.json */
    "    {\"type\": \"message\", \"user\": \"U05\", \"user_team\": \"T9\",\n"
    "     \"user_profile\": {\"display_name\": \"ゲスト\", \"real_name\": \"Guest\"},\n"
    "     \"text\": \"停電は復旧しましたか\", \"ts\": \"1589871810.000000\",\n"
    "     \"thread_ts\": \"1580000000.000000\", \"parent_user_id\": \"U01\"},\n"
    "    {\"type\": \"message\", \"subtype\": \"pinned_item\", \"user\": \"U01\",\n"
    "     \"item_type\": \"C\", \"text\": \"<@U01> pinned a message to this channel.\",\n"
    "     \"ts\": \"1589871820.000000\"},\n"
    "    {\"type\": \"message\", \"subtype\": \"tombstone\", \"hidden\": true,\n"
    "     \"user\": \"USLACKBOT\", \"text\": \"This message was deleted.\",\n"
    "     \"ts\": \"1589871830.000000\", \"thread_ts\": \"1589871830.000000\", \"reply_count\": 1},\n"
    "    {\"type\": \"message\", \"user\": \"U01\", \"ts\": \"1589871840.000000\",\n"
    "     \"text\": \"<#C01> <!subteam^S1|@oncall> <!date^1590580774^{date_short}|May 27, 2020> <mailto:a@b.c|a@b.c> <https:\\/\\/example.org> <!channel>\"},\n"
    "    {\"type\": \"message\", \"user\": \"U01\", \"text\": \"a\\u0000b\", \"ts\": \"1589871850.000000\"}\n"
    "]\n";

static const char day2_bad[] =
    "[\n"
    "    {\"type\": \"message\", \"user\": \"U01\", \"text\": \"lost\",\n"
    "     \"ts\": \n";

static const char day3[] =
    "[{\"type\": \"message\", \"user\": \"U01\", \"text\": \"翌日の報告\","
    " \"ts\": \"1589990000.000000\"}]";

static const char old_day[] =
    "[\n"
    "    {\"type\": \"message\", \"user\": \"U02\", \"text\": \"old history\",\n"
    "     \"ts\": \"1433558400.000002\", \"edited\": {\"user\": \"B01\", \"ts\": \"1433558500.000000\"}}\n"
    "]\n";

static char *
day1_json(size_t *len)
{
	size_t big = 1024 * 1024, n;
	char *s = malloc(sizeof(day1_head) + sizeof(day1_tail) + big + 200);

	assert_non_null(s);
	n = (size_t)sprintf(s, "%s    {\"type\": \"message\", \"user\": \"U01\","
	    " \"ts\": \"1589871795.000000\", \"text\": \"", day1_head);
	memset(s + n, 'x', big);
	n += big;
	n += (size_t)sprintf(s + n, "\"},\n%s", day1_tail);
	*len = n;
	return s;
}

/* The export's files (day1 filled in by make_files). */
static struct file files[] = {
	{ "users.json", users_json, 0 },
	{ "channels.json", channels_json, 0 },
	{ "groups.json", "[]", 0 },
	{ "integration_logs.json", "[]", 0 },
	{ "general/2020-05-18.json", NULL, 0 },
	{ "general/2020-05-19.json", day2_bad, 0 },
	{ "general/2020-05-20.json", day3, 0 },
	{ "meetup-/2015-06-05.json", old_day, 0 },
};

#define N_FILES (sizeof(files) / sizeof(files[0]))

static void
make_files(void)
{
	size_t i;

	if (files[4].body == NULL)
		files[4].body = day1_json(&files[4].len);
	for (i = 0; i < N_FILES; i++)
		if (files[i].len == 0)
			files[i].len = strlen(files[i].body);
}

static void
write_file(const char *dir, const char *name, const char *body, size_t len)
{
	char *path = kz_test_path(dir, name), *slash;
	FILE *f;

	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(body, 1, len, f), len);
	fclose(f);
	free(path);
}

/* The export as a folder under dir/name. */
static char *
export_folder(const char *dir)
{
	char *root = kz_test_path(dir, "export");
	size_t i;

	make_files();
	mkdir(root, 0700);
	for (i = 0; i < N_FILES; i++)
		write_file(root, files[i].name, files[i].body, files[i].len);
	return root;
}

/* The export as a ZIP, with two entries whose names leave it. */
static char *
export_zip(const char *dir, bool hostile)
{
	char *path = kz_test_path(dir, "export.zip");
	zip_t *za;
	int err;
	size_t i;

	make_files();
	assert_non_null(za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err));
	for (i = 0; i < N_FILES; i++) {
		zip_source_t *zs = zip_source_buffer(za, files[i].body,
		    files[i].len, 0);

		assert_non_null(zs);
		assert_true(zip_file_add(za, files[i].name, zs, ZIP_FL_ENC_UTF_8) >= 0);
	}
	if (hostile) {
		static const char *const evil[] = { "../evil.json", "/etc/evil.json",
		    "general/../../x.json" };

		for (i = 0; i < 3; i++) {
			zip_source_t *zs = zip_source_buffer(za, "[]", 2, 0);

			assert_true(zip_file_add(za, evil[i], zs, ZIP_FL_ENC_UTF_8) >= 0);
		}
	}
	assert_int_equal(zip_close(za), 0);
	return path;
}

/* ------------------------------------------------------------ a node */

struct node {
	char *dir, *path;
	struct kz_keypair kp;
	struct kz_store *st;
};

static void
node_open(struct node *n, const char *dir, const char *name)
{
	uint8_t seed[32];
	uint8_t mesh_id[KZ_ID_BYTES];
	struct kz_op op = { .type = KZ_OP_MESH_CREATE };
	uint8_t *buf;
	size_t len;

	memset(seed, 7, sizeof(seed));
	memset(mesh_id, 9, sizeof(mesh_id));
	assert_int_equal(kz_keypair_from_seed(&n->kp, seed), 0);
	n->dir = kz_test_path(dir, name);
	mkdir(n->dir, 0700);
	n->path = kz_test_path(n->dir, "store.db");
	assert_int_equal(kz_store_open(&n->st, n->path, NULL), 0);
	op.u.mesh_create = (struct kz_mesh_create){ mesh_id, "川沿い市" };
	assert_int_equal(kz_op_encode(&buf, &len, &op), 0);
	assert_int_equal(kz_store_append(n->st, &n->kp, T0, buf, len, NULL), 0);
	free(buf);
	assert_int_equal(kz_views_set_root(n->st, n->kp.pk), 0);
}

static void
node_reopen(struct node *n)
{
	kz_store_free(n->st);
	assert_int_equal(kz_store_open(&n->st, n->path, NULL), 0);
}

static void
node_close(struct node *n)
{
	kz_store_free(n->st);
	free(n->path);
	free(n->dir);
}

/* What the reader reported, one "FILE:LINE: what" per line. */
struct reports {
	char text[8192];
	size_t n;
};

static void
on_report(void *ctx, const char *file, unsigned line, const char *what)
{
	struct reports *r = ctx;
	size_t len = strlen(r->text);

	snprintf(r->text + len, sizeof(r->text) - len, "%s:%u: %s\n", file, line,
	    what);
	r->n++;
}

static int
import(struct node *n, const char *path, struct kz_slack_stats *s,
    struct reports *r, size_t batch)
{
	struct kz_slack_src *src = NULL;
	struct kz_slack_import_opts o = { .ctx = r, .report = on_report,
	    .wall_ms = T0 + 1000, .batch = batch };
	char why[256];
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = kz_slack_open(&src, path, why, sizeof(why))) < 0)
		return rc;
	rc = kz_slack_import(n->st, &n->kp, src, &o, s);
	kz_slack_close(src);
	return rc;
}

static void
digest_of(struct node *n, uint8_t d[32])
{
	assert_int_equal(kz_views_digest(n->st, d), 0);
}

/* ------------------------------------------------------------ reading */

struct msgs {
	size_t n;
	char text[32][256];
	char actor[32][KZ_USER_ID_MAX + 1];
	uint8_t id[32][KZ_ID_BYTES];
	bool edited[32], has_root[32], broadcast[32];
	uint64_t hlc[32], replies[32], reactions[32];
	char parts[32][256];	/* subtype|system|pinned|name/type/size/url;... */
};

static int
msg_cb(void *ctx, const struct kz_view_message *m)
{
	struct msgs *ms = ctx;

	if (ms->n >= 32)
		return 1;
	snprintf(ms->text[ms->n], sizeof(ms->text[0]), "%s", m->text);
	snprintf(ms->actor[ms->n], sizeof(ms->actor[0]), "%s", m->actor);
	memcpy(ms->id[ms->n], m->id, KZ_ID_BYTES);
	ms->edited[ms->n] = m->edited;
	ms->has_root[ms->n] = m->has_thread_root;
	ms->broadcast[ms->n] = m->broadcast;
	ms->hlc[ms->n] = m->hlc;
	ms->replies[ms->n] = m->reply_count;
	ms->reactions[ms->n] = m->reactions;
	{
		char *p = ms->parts[ms->n];
		size_t len, i;

		len = (size_t)snprintf(p, sizeof(ms->parts[0]), "%s|%s|%s|",
		    m->subtype, m->system ? "system" : "chat",
		    m->pinned ? "pinned" : "-");
		for (i = 0; i < m->n_files && len < sizeof(ms->parts[0]); i++)
			len += (size_t)snprintf(p + len, sizeof(ms->parts[0]) - len,
			    "%.12s/%s/%llu/%s;", m->files[i].name, m->files[i].mimetype,
			    (unsigned long long)m->files[i].size, m->files[i].url);
	}
	ms->n++;
	return 0;
}

static void
channel_msgs(struct node *n, const char *channel, struct msgs *ms)
{
	uint8_t id[KZ_ID_BYTES];

	memset(ms, 0, sizeof(*ms));
	assert_int_equal(kz_views_channel_find(n->st, channel, id), 0);
	assert_int_equal(kz_views_messages(n->st, id, 0, msg_cb, ms), 0);
}

static void
thread_msgs(struct node *n, const char *root_source, struct msgs *ms)
{
	uint8_t id[KZ_ID_BYTES];

	memset(ms, 0, sizeof(*ms));
	kz_slack_id(id, root_source);
	assert_int_equal(kz_views_thread(n->st, id, msg_cb, ms), 0);
}

static int
count_hit(void *ctx, const struct kz_search_hit *h)
{
	struct msgs *ms = ctx;

	return msg_cb(ms, &h->m);
}

static size_t
search(struct node *n, const char *q, struct msgs *ms)
{
	struct kz_search_filter f = { .limit = 20 };

	memset(ms, 0, sizeof(*ms));
	assert_int_equal(kz_views_search(n->st, q, &f, count_hit, ms), 0);
	return ms->n;
}

struct users {
	size_t n;
	char line[16][200];
};

static int
user_cb(void *ctx, const struct kz_view_user *u)
{
	struct users *us = ctx;

	if (us->n < 16)
		snprintf(us->line[us->n++], sizeof(us->line[0]), "%s|%s|%s|%s",
		    u->id, u->display_name, u->active ? "active" : "inactive",
		    u->has_password ? "password" : "no password");
	return 0;
}

struct chans {
	size_t n;
	char line[8][300];
};

static int
chan_cb(void *ctx, const struct kz_view_channel *c)
{
	struct chans *cs = ctx;

	if (cs->n < 8)
		snprintf(cs->line[cs->n++], sizeof(cs->line[0]), "%s|%s|%s|%llu",
		    c->name, c->topic, c->archived ? "archived" : "open",
		    (unsigned long long)c->messages);
	return 0;
}

/* Whether a file holds bytes (a token must never be stored). */
static bool
one_file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 20, len = 0, n, k = strlen(needle);
	char *buf = malloc(cap);
	bool found = false;

	if (f == NULL) {
		free(buf);
		return false;
	}
	assert_non_null(buf);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			assert_non_null(buf = realloc(buf, cap));
		}
	}
	fclose(f);
	for (n = 0; n + k <= len && !found; n++)
		found = memcmp(buf + n, needle, k) == 0;
	free(buf);
	return found;
}

/* The store file or its write-ahead log. */
static bool
file_has(const char *path, const char *needle)
{
	char wal[4096];

	snprintf(wal, sizeof(wal), "%s-wal", path);
	return one_file_has(path, needle) || (access(wal, F_OK) == 0 &&
	    one_file_has(wal, needle));
}

/* ------------------------------------------------------------ tests */

static const char *
user_name(void *ctx, const char *id)
{
	(void)ctx;
	return strcmp(id, "U1") == 0 ? "田中" : NULL;
}

static const char *
chan_name(void *ctx, const char *id)
{
	(void)ctx;
	return strcmp(id, "C1") == 0 ? "災害対策" : NULL;
}

static void
convert(const char *in, const char *want, size_t want_mentions)
{
	struct kz_slack_names names = { NULL, user_name, chan_name };
	char mentions[4][KZ_USER_ID_MAX + 1];
	size_t nm = 99;
	char *out = NULL;

	assert_int_equal(kz_slack_text(&out, in, &names, mentions, &nm, 4), 0);
	assert_string_equal(out, want);
	assert_int_equal(nm, want_mentions);
	free(out);
}

static void
test_text(void **state)
{
	char e[KZ_EMOJI_MAX + 1];
	uint64_t us;

	(void)state;
	convert("", "", 0);
	convert("給水 &amp; 停電", "給水 & 停電", 0);
	/* A typed "&lt;" is exported as "&amp;lt;": it must stay "&lt;". */
	convert("a &amp;lt;b&amp;gt; &lt;c&gt;", "a &lt;b&gt; <c>", 0);
	convert("<@U1> と <@U2|bob> と <@U1|old>", "@田中 と @bob と @田中", 2);
	convert("<@U3>", "@U3", 1);
	convert("<#C1|old-name> <#C2|other> <#C3>", "#災害対策 #other #C3", 0);
	convert("<!here> <!channel|channel> <!everyone> <!here|@here>",
	    "@here @channel @everyone @here", 0);
	convert("<!subteam^S1|@oncall> <!date^1590580774^{date_short}|May 27>",
	    "@oncall May 27", 0);
	convert("<https://a.example/x?y=1&amp;z=2|地図> <https://b.example>"
	    " <https://c.example|https://c.example>",
	    "地図 (https://a.example/x?y=1&z=2) https://b.example https://c.example", 0);
	convert("<mailto:a@b.c|a@b.c> <tel:+81|電話>", "a@b.c 電話", 0);
	convert(":+1: :thumbsup::skin-tone-3: :custom: 10:30:00 :smile:",
	    "\xf0\x9f\x91\x8d \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbc :custom: 10:30:00"
	    " \xf0\x9f\x98\x84", 0);
	convert("&gt; quoted\n*bold* _it_ ~s~ `code`", "> quoted\n*bold* _it_ ~s~ `code`", 0);
	/* An unescaped < always opens an entity; one never closed is text. */
	convert("unclosed < only", "unclosed < only", 0);
	assert_string_equal(kz_slack_emoji(e, "+1::skin-tone-2"),
	    "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbb");
	assert_string_equal(kz_slack_emoji(e, "party-parrot"), ":party-parrot:");
	/* A custom name too long is cut at a character's end (fuzz_slack:
	 * 61 letters and 地 were cut inside 地). */
	{
		char name[80];

		memset(name, 'a', 61);
		memcpy(name + 61, "\xe5\x9c\xb0" "bc", 6);
		assert_string_equal(kz_slack_emoji(e, name), ":aaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:");
		memset(name, 'a', 59);
		memcpy(name + 59, "\xe5\x9c\xb0" "bc", 6);
		assert_int_equal(strlen(kz_slack_emoji(e, name)), 64);
		assert_string_equal(e + 60, "\xe5\x9c\xb0:");
	}
	assert_string_equal(kz_slack_emoji(e, "white_check_mark"), "\xe2\x9c\x85");

	assert_int_equal(kz_slack_ts_parse("1589871634.304500", &us), 0);
	assert_true(us == 1589871634304500ull);
	assert_int_equal(kz_slack_ts_parse("1433558319", &us), 0);
	assert_true(us == 1433558319000000ull);
	assert_int_equal(kz_slack_ts_parse("1.5", &us), 0);
	assert_true(us == 1500000ull);
	assert_int_equal(kz_slack_ts_parse("", &us), KZ_ERR_INVAL);
	assert_int_equal(kz_slack_ts_parse("1.", &us), KZ_ERR_INVAL);
	assert_int_equal(kz_slack_ts_parse("1.1234567", &us), KZ_ERR_INVAL);
	assert_int_equal(kz_slack_ts_parse("-1.0", &us), KZ_ERR_INVAL);
	assert_int_equal(kz_slack_ts_parse("12x.0", &us), KZ_ERR_INVAL);
	assert_int_equal(kz_slack_ts_parse("9999999999999.0", &us), KZ_ERR_INVAL);
}

static const char *const expected_reports[] = {
	"groups.json:0: private conversations are not imported (every member would see them)\n",
	"channels.json:10: channel 3: name '../evil' is not a folder name; skipped\n",
	"general/2020-05-18.json:23: message 6: no ts; skipped\n",
	"general/2020-05-18.json:26: element 8: invalid UTF-8; skipped\n",
	"general/2020-05-18.json:28: message 9 (ts 1589871795.000000): text of 1048576 bytes, over the limit of 16384; skipped\n",
	"general/2020-05-18.json:46: message 15: a NUL byte in a string; skipped\n",
	"general/2020-05-19.json:4: not JSON (",
};

static void
check_reports(const struct reports *r, size_t extra)
{
	size_t i;

	for (i = 0; i < sizeof(expected_reports) / sizeof(expected_reports[0]); i++)
		if (strstr(r->text, expected_reports[i]) == NULL)
			fail_msg("report missing: %s\nreports:\n%s",
			    expected_reports[i], r->text);
	assert_int_equal(r->n, i + extra);
}

static void
check_workspace(struct node *n)
{
	struct msgs ms;
	struct users us = { 0 };
	struct chans cs = { 0 };
	size_t i;

	/* Users: the export's four, then the two seen only in messages. */
	assert_int_equal(kz_views_users(n->st, user_cb, &us), 0);
	assert_int_equal(us.n, 6);
	assert_string_equal(us.line[0], "slack.U01|はなこ|active|no password");
	assert_string_equal(us.line[1], "slack.U02|Bob|inactive|no password");
	assert_string_equal(us.line[2], "slack.U03|bot|active|no password");
	assert_string_equal(us.line[3], "slack.U05|ゲスト|active|no password");
	assert_string_equal(us.line[4], "slack.USLACKBOT|USLACKBOT|active|no password");
	assert_string_equal(us.line[5], "slack.W04|suzuki|active|no password");

	assert_int_equal(kz_views_channels(n->st, chan_cb, &cs), 0);
	assert_int_equal(cs.n, 3);
	assert_string_equal(cs.line[0], "empty||open|0");
	/* 13 messages, less 4 system events: a join, a pin, a tombstone and an
	 * unknown subtype's item. */
	assert_string_equal(cs.line[1], "general|避難 & 給水|open|9");
	assert_string_equal(cs.line[2], "meetup-||archived|1");

	/* The channel's flow, by original time: replies are in threads, but
	 * for the one also sent to the channel (thread_broadcast). */
	channel_msgs(n, "general", &ms);
	{
		static const char *const want[] = {
			"@Bob has joined the channel",
			"給水車が14時に到着します @Bob &lt;tag&gt; \xf0\x9f\x91\x8d",
			"警報\n大雨\n避難準備\n地域: 北区",
			"",
			"全員へ @here",
			"x",
			"@はなこ uploaded a file: report.txt (https://x.slack.com/files/a)",
			"@はなこ pinned a message to this channel.",
			"This message was deleted.",
			"#general @oncall May 27, 2020 a@b.c https://example.org @channel",
			"翌日の報告",
		};
		static const char *const actor[] = { "slack.U02", "slack.U01", "",
			"slack.W04", "slack.U01", "", "slack.U01", "slack.U01",
			"slack.USLACKBOT", "slack.U01", "slack.U01" };

		assert_int_equal(ms.n, 11);
		for (i = 0; i < ms.n; i++) {
			assert_string_equal(ms.text[i], want[i]);
			assert_string_equal(ms.actor[i], actor[i]);
			assert_int_equal(ms.has_root[i], i == 4);
			assert_int_equal(ms.broadcast[i], i == 4);
			if (i > 0)
				assert_true(ms.hlc[i] > ms.hlc[i - 1]);
		}
		/* The original time: 1589871634.304500 s. */
		assert_true(ms.hlc[1] == ((1589871634304ull << 16) | 500));
		assert_int_equal(ms.replies[1], 2);
		assert_int_equal(ms.reactions[1], 3);
		assert_false(ms.edited[1]);
		/* What each was in the source: system events, the pinned root,
		 * file references without their tokens (the long name cut). */
		assert_string_equal(ms.parts[0], "channel_join|system|-|");
		assert_string_equal(ms.parts[1], "|chat|pinned|");
		assert_string_equal(ms.parts[2], "bot_message|chat|-|");
		assert_string_equal(ms.parts[3], "|chat|-|map.pdf/application/pdf/"
		    "2048/https://files.slack.com/files-pri/T1-F1/map.pdf;"
		    "ああああ//1/;");	/* the name shown to 12 bytes here */
		assert_string_equal(ms.parts[4], "thread_broadcast|chat|-|");
		assert_string_equal(ms.parts[5], "huddle_future|system|-|");
		assert_string_equal(ms.parts[6], "file_share|chat|-|report.txt/"
		    "text/plain/10/https://files.slack.com/x/report.txt;");
		assert_string_equal(ms.parts[7], "pinned_item|system|-|");
		assert_string_equal(ms.parts[8], "tombstone|system|-|");
		assert_string_equal(ms.parts[9], "|chat|-|");
	}

	thread_msgs(n, "slack:C01/" M1_TS, &ms);
	assert_int_equal(ms.n, 3);
	assert_string_equal(ms.text[0],
	    "給水車が14時に到着します @Bob &lt;tag&gt; \xf0\x9f\x91\x8d");
	assert_string_equal(ms.text[1], "了解 地図 (https://example.com/a?b=1&c=2) #meetup-");
	assert_true(ms.edited[1]);
	assert_string_equal(ms.text[2], "全員へ @here");

	/* The orphan reply keeps its thread by thread_ts alone. */
	thread_msgs(n, "slack:C01/1580000000.000000", &ms);
	assert_int_equal(ms.n, 1);
	assert_string_equal(ms.text[0], "停電は復旧しましたか");
	assert_string_equal(ms.actor[0], "slack.U05");

	channel_msgs(n, "meetup-", &ms);
	assert_int_equal(ms.n, 1);
	assert_string_equal(ms.text[0], "old history");
	assert_string_equal(ms.actor[0], "slack.U02");	/* a deactivated user's */
	assert_true(ms.edited[0]);

	/* Search: two-character words, attachments; system events are not. */
	assert_int_equal(search(n, "給水", &ms), 1);
	assert_string_equal(ms.actor[0], "slack.U01");
	assert_int_equal(search(n, "北区", &ms), 1);
	assert_int_equal(search(n, "停電", &ms), 1);
	assert_string_equal(ms.text[0], "停電は復旧しましたか");
	assert_int_equal(search(n, "報告", &ms), 1);
	assert_int_equal(search(n, "joined", &ms), 0);
	assert_int_equal(search(n, "deleted", &ms), 0);
	assert_int_equal(search(n, "history", &ms), 1);

	/* Access tokens never reach the store; neither do e-mail addresses. */
	assert_false(file_has(n->path, "xoxe-SECRET"));
	assert_false(file_has(n->path, "hanako@example.jp"));
	assert_true(file_has(n->path, "files.slack.com/files-pri/T1-F1/map.pdf"));
}

static void
check_stats(const struct kz_slack_stats *s, uint64_t skipped)
{
	assert_int_equal(s->channels, 3);
	assert_int_equal(s->users, 6);
	assert_int_equal(s->messages, 14);
	assert_int_equal(s->system, 4);
	assert_int_equal(s->threads, 3);
	assert_int_equal(s->reactions, 3);
	assert_int_equal(s->files, 3);
	assert_int_equal(s->present, 0);
	assert_int_equal(s->skipped, skipped);
	assert_int_equal(s->entries, 3 + 6 + 14);
	assert_int_equal(s->day_files, 4);
	assert_int_equal(s->day_files_done, 4);
}

static void
test_import_folder(void **state)
{
	char *tmp = kz_test_tmpdir(), *exp = export_folder(tmp);
	struct kz_slack_stats s, again;
	struct reports r;
	struct node n;
	uint8_t d1[32], d2[32];

	(void)state;
	node_open(&n, tmp, "a");
	assert_int_equal(import(&n, exp, &s, &r, 0), 0);
	check_reports(&r, 0);
	check_stats(&s, 7);
	check_workspace(&n);
	digest_of(&n, d1);

	/* Again: nothing is added; the users of users.json, the channels
	 * and the messages are found present (users seen only in messages
	 * are not looked at again: their messages are present). */
	assert_int_equal(import(&n, exp, &again, &r, 0), 0);
	assert_int_equal(again.entries, 0);
	assert_int_equal(again.messages + again.users + again.channels, 0);
	assert_int_equal(again.present, 4 + 3 + 14);
	digest_of(&n, d2);
	assert_memory_equal(d1, d2, 32);

	/* And after a restart (nothing kept in memory decides). */
	node_reopen(&n);
	assert_int_equal(import(&n, exp, &again, &r, 7), 0);
	assert_int_equal(again.entries, 0);
	digest_of(&n, d2);
	assert_memory_equal(d1, d2, 32);
	node_close(&n);
	free(exp);
	kz_test_rmtree(tmp);
}

static void
test_import_zip(void **state)
{
	char *tmp = kz_test_tmpdir(), *exp = export_folder(tmp);
	char *zip = export_zip(tmp, true);
	struct kz_slack_stats s;
	struct reports r;
	struct node a, b;
	uint8_t d1[32], d2[32];

	(void)state;
	node_open(&a, tmp, "a");
	node_open(&b, tmp, "b");
	assert_int_equal(import(&a, exp, &s, &r, 0), 0);
	assert_int_equal(import(&b, zip, &s, &r, 5), 0);
	/* The ZIP adds three entries whose names leave the export. */
	check_reports(&r, 3);
	assert_non_null(strstr(r.text, "../evil.json:0: entry name leaves the"
	    " export; not read\n"));
	assert_non_null(strstr(r.text, "/etc/evil.json:0: entry name leaves"));
	assert_non_null(strstr(r.text, "general/../../x.json:0: entry name leaves"));
	check_stats(&s, 10);
	check_workspace(&b);
	/* Same node key, same clock: the same workspace, batches aside. */
	digest_of(&a, d1);
	digest_of(&b, d2);
	assert_memory_equal(d1, d2, 32);
	node_close(&a);
	node_close(&b);
	free(exp);
	free(zip);
	kz_test_rmtree(tmp);
}

/* A corrupt ZIP is refused whole; nothing is written. */
static void
test_bad_zip(void **state)
{
	char *tmp = kz_test_tmpdir(), *zip = export_zip(tmp, false);
	struct kz_slack_src *src = NULL;
	struct kz_slack_stats s;
	struct reports r;
	struct node n;
	uint8_t d1[32], d2[32], junk[4096];
	char why[256] = "";
	FILE *f;
	long size;
	size_t i;

	(void)state;
	node_open(&n, tmp, "a");
	digest_of(&n, d1);
	assert_int_equal(kz_slack_open(&src, "/nonexistent/x.zip", why,
	    sizeof(why)), KZ_ERR_IO);
	assert_null(src);
	assert_non_null(strstr(why, "/nonexistent/x.zip"));

	/* Random bytes. */
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	assert_int_equal(kz_slack_open_buffer(&src, junk, sizeof(junk), why,
	    sizeof(why)), KZ_ERR_MALFORMED);
	assert_non_null(strstr(why, "not a readable ZIP file"));

	/* A real ZIP cut in half: its central directory is gone. */
	assert_non_null(f = fopen(zip, "r+b"));
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	assert_int_equal(truncate(zip, size / 2), 0);
	assert_int_equal(import(&n, zip, &s, &r, 0), KZ_ERR_MALFORMED);

	/* A ZIP whose day file's bytes were damaged (CRC mismatch). */
	free(zip);
	zip = export_zip(tmp, false);
	{
		char *buf;
		size_t len;

		assert_non_null(f = fopen(zip, "rb"));
		fseek(f, 0, SEEK_END);
		len = (size_t)ftell(f);
		fseek(f, 0, SEEK_SET);
		assert_non_null(buf = malloc(len));
		assert_int_equal(fread(buf, 1, len, f), len);
		fclose(f);
		/* Flip bytes inside the stored users.json: its data follows
		 * its local header near the start. */
		for (i = 60; i < 70; i++)
			buf[i] ^= 0x55;
		assert_int_equal(kz_slack_open_buffer(&src, buf, len, why,
		    sizeof(why)), 0);
		{
			struct kz_slack_import_opts o = { .ctx = &r,
			    .report = on_report, .wall_ms = T0 };

			memset(&r, 0, sizeof(r));
			assert_int_equal(kz_slack_import(n.st, &n.kp, src, &o, &s), 0);
		}
		kz_slack_close(src);
		free(buf);
		assert_non_null(strstr(r.text, "users.json:0: damaged entry"));
		/* The rest went on: the channels and messages are there. */
		assert_int_equal(s.channels, 3);
		assert_int_equal(s.messages, 14);
	}
	digest_of(&n, d2);
	assert_memory_not_equal(d1, d2, 32);
	node_close(&n);
	free(zip);
	kz_test_rmtree(tmp);
}

/* A folder that is not an export changes nothing. */
static void
test_not_export(void **state)
{
	char *tmp = kz_test_tmpdir(), *dir = kz_test_path(tmp, "empty");
	struct kz_slack_stats s;
	struct reports r;
	struct node n;
	uint8_t d1[32], d2[32];

	(void)state;
	mkdir(dir, 0700);
	write_file(dir, "users.json", users_json, strlen(users_json));
	node_open(&n, tmp, "a");
	digest_of(&n, d1);
	assert_int_equal(import(&n, dir, &s, &r, 0), KZ_ERR_MALFORMED);
	assert_non_null(strstr(r.text, "channels.json:0: missing"));
	/* The users read before it are rolled back with the batch. */
	assert_int_equal(s.users, 0);
	assert_int_equal(s.entries, 0);
	digest_of(&n, d2);
	assert_memory_equal(d1, d2, 32);
	node_close(&n);
	free(dir);
	kz_test_rmtree(tmp);
}

/*
 * An overlapping later export: the days already imported add nothing; the
 * new day's messages are added.
 */
static void
test_overlap(void **state)
{
	char *tmp = kz_test_tmpdir(), *exp = export_folder(tmp), *day;
	struct kz_slack_stats s;
	struct reports r;
	struct node n;
	struct msgs ms;

	(void)state;
	node_open(&n, tmp, "a");
	day = kz_test_path(exp, "general/2020-05-20.json");
	assert_int_equal(unlink(day), 0);
	assert_int_equal(import(&n, exp, &s, &r, 0), 0);
	assert_int_equal(s.messages, 13);
	write_file(exp, "general/2020-05-20.json", day3, strlen(day3));
	{
		static const char day4[] = "[{\"type\":\"message\",\"user\":"
		    "\"U01\",\"text\":\"給水完了\",\"ts\":\"1590000000.000000\"}]";

		write_file(exp, "general/2020-05-21.json", day4, strlen(day4));
	}
	assert_int_equal(import(&n, exp, &s, &r, 0), 0);
	assert_int_equal(s.messages, 2);
	assert_int_equal(s.entries, 2);
	assert_int_equal(s.present, 4 + 3 + 13);
	channel_msgs(&n, "general", &ms);
	assert_int_equal(ms.n, 12);
	assert_string_equal(ms.text[10], "翌日の報告");
	assert_string_equal(ms.text[11], "給水完了");
	assert_int_equal(search(&n, "給水", &ms), 2);
	free(day);
	node_close(&n);
	free(exp);
	kz_test_rmtree(tmp);
}

/*
 * A message an export holds twice (the same ts again in its day file, or in
 * another day file) is imported once, whether the copies fall in one batch
 * (whose views show nothing until it commits) or in two.
 */
static void
test_message_twice(void **state)
{
	static const char day4[] = "[{\"type\":\"message\",\"user\":\"U01\","
	    "\"text\":\"給水完了\",\"ts\":\"1590000000.000000\"},"
	    "{\"type\":\"message\",\"user\":\"U01\",\"text\":\"給水完了\","
	    "\"ts\":\"1590000000.000000\"},"
	    "{\"type\":\"message\",\"user\":\"U01\",\"text\":\"翌日の報告\","
	    "\"ts\":\"1589990000.000000\"}]";
	static const size_t batches[] = { 0, 1 };
	char *tmp = kz_test_tmpdir(), *exp = export_folder(tmp);
	struct kz_slack_stats s;
	struct reports r;
	struct node n[2];
	struct msgs ms;
	uint8_t d[2][32];
	size_t i;

	(void)state;
	write_file(exp, "general/2020-05-21.json", day4, strlen(day4));
	for (i = 0; i < 2; i++) {
		node_open(&n[i], tmp, i == 0 ? "a" : "b");
		assert_int_equal(import(&n[i], exp, &s, &r, batches[i]), 0);
		assert_int_equal(s.messages, 14 + 1);
		assert_int_equal(s.present, 2);
		channel_msgs(&n[i], "general", &ms);
		assert_int_equal(ms.n, 12);
		assert_string_equal(ms.text[10], "翌日の報告");
		assert_string_equal(ms.text[11], "給水完了");
		assert_int_equal(search(&n[i], "給水", &ms), 2);
		digest_of(&n[i], d[i]);
	}
	assert_memory_equal(d[0], d[1], 32);
	node_close(&n[0]);
	node_close(&n[1]);
	free(exp);
	kz_test_rmtree(tmp);
}

/* Kills the importing process at its third day file (a batch open). */
static void
die_on_progress(void *ctx, const struct kz_slack_stats *s)
{
	(void)ctx;
	if (s->day_files_done == 3)
		raise(SIGKILL);
}

static void
test_resume_after_kill(void **state)
{
	char *tmp = kz_test_tmpdir(), *exp = export_folder(tmp);
	struct kz_slack_stats s;
	struct reports r;
	struct node ref, n;
	uint8_t d1[32], d2[32];
	int status;
	pid_t pid;

	(void)state;
	node_open(&ref, tmp, "ref");
	assert_int_equal(import(&ref, exp, &s, &r, 4), 0);
	digest_of(&ref, d1);

	node_open(&n, tmp, "n");
	kz_store_free(n.st);
	n.st = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kz_slack_src *src = NULL;
		struct kz_slack_import_opts o = { .progress = die_on_progress,
		    .wall_ms = T0 + 1000, .batch = 4 };

		if (kz_store_open(&n.st, n.path, NULL) < 0 ||
		    kz_slack_open(&src, exp, NULL, 0) < 0)
			_exit(3);
		kz_slack_import(n.st, &n.kp, src, &o, &s);
		_exit(4);	/* not reached: killed at the third day file */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	assert_int_equal(kz_store_open(&n.st, n.path, NULL), 0);
	assert_int_equal(import(&n, exp, &s, &r, 4), 0);
	/* Whole batches of the killed run stayed; the rest was written now. */
	assert_true(s.present > 4 + 3);
	assert_true(s.entries > 0);
	assert_true(s.entries < 3 + 6 + 14);
	digest_of(&n, d2);
	assert_memory_equal(d1, d2, 32);
	node_close(&ref);
	node_close(&n);
	free(exp);
	kz_test_rmtree(tmp);
}

/*
 * A digest of the search index's every posting (term, doc, column,
 * offset), in order: equal digests, equal indexes however cut in segments.
 */
static void
index_digest(struct node *n, uint8_t d[32])
{
	sqlite3 *db = kz__store_db(n->st);
	crypto_generichash_state h;
	sqlite3_stmt *s;
	int rows = 0;

	assert_int_equal(sqlite3_exec(db, "CREATE VIRTUAL TABLE IF NOT EXISTS"
	    " temp.postings USING fts5vocab(main, ws_search, instance)", NULL,
	    NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT term, doc, col, offset"
	    " FROM temp.postings ORDER BY term, doc, col, offset", -1, &s, NULL),
	    SQLITE_OK);
	crypto_generichash_init(&h, NULL, 0, 32);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char line[512];
		int len = snprintf(line, sizeof(line), "%s|%lld|%s|%d\n",
		    (const char *)sqlite3_column_text(s, 0),
		    (long long)sqlite3_column_int64(s, 1),
		    (const char *)sqlite3_column_text(s, 2),
		    sqlite3_column_int(s, 3));

		crypto_generichash_update(&h, (const unsigned char *)line,
		    (size_t)len);
		rows++;
	}
	assert_int_equal(sqlite3_finalize(s), SQLITE_OK);
	crypto_generichash_final(&h, d, 32);
	assert_true(rows > 100);	/* the export's texts are in it */
}

/*
 * An import whose views are applied in pieces inside its batches (as when
 * the store's thread, finding the reader behind, applies what it has
 * appended instead of waiting) ends with the same views and the same
 * search index as one applied at each commit, and the same workspace.
 */
static void
test_apply_in_pieces(void **state)
{
	char *tmp = kz_test_tmpdir(), *exp = export_folder(tmp);
	static const size_t every[] = { 1, 3 };
	struct kz_slack_stats s, p;
	struct reports r;
	struct node ref, n;
	uint8_t d1[32], d2[32], i1[32], i2[32];
	size_t i;

	(void)state;
	node_open(&ref, tmp, "ref");
	kz__slack_apply_every(1000000);	/* never inside a batch */
	assert_int_equal(import(&ref, exp, &s, &r, 0), 0);
	kz__slack_apply_every(0);
	digest_of(&ref, d1);
	index_digest(&ref, i1);
	for (i = 0; i < sizeof(every) / sizeof(every[0]); i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%zu", every[i]);
		node_open(&n, tmp, name);
		kz__slack_apply_every(every[i]);
		assert_int_equal(import(&n, exp, &p, &r, i == 0 ? 0 : 7), 0);
		kz__slack_apply_every(0);
		check_reports(&r, 0);
		check_stats(&p, 7);
		assert_memory_equal(&p, &s, sizeof(p));
		check_workspace(&n);
		digest_of(&n, d2);
		assert_memory_equal(d1, d2, 32);
		index_digest(&n, i2);
		assert_memory_equal(i1, i2, 32);
		node_close(&n);
	}
	node_close(&ref);
	free(exp);
	kz_test_rmtree(tmp);
}

/*
 * The same import in steps (kz_slack_import_begin, _step, _end): a step of
 * one batch ends with no batch open (the caller may use the store), the
 * entries are those of kz_slack_import (the same digest, counts and
 * reports), and an import ended after a step keeps its whole batches and
 * resumes to the same digest.
 */
static void
test_steps(void **state)
{
	char *tmp = kz_test_tmpdir(), *exp = export_folder(tmp);
	struct kz_slack_stats s1, s2;
	struct kz_slack_import *imp;
	struct kz_slack_src *src = NULL;
	struct reports r1, r2;
	struct node ref, n, m, w;
	uint8_t d1[32], d2[32];
	uint64_t tip, prev = 1;
	size_t steps = 0;
	int rc;

	(void)state;
	node_open(&ref, tmp, "ref");
	assert_int_equal(import(&ref, exp, &s1, &r1, 4), 0);
	digest_of(&ref, d1);

	node_open(&n, tmp, "n");
	{
		struct kz_slack_import_opts o = { .ctx = &r2, .report = on_report,
		    .wall_ms = T0 + 1000, .batch = 4 };

		memset(&r2, 0, sizeof(r2));
		assert_int_equal(kz_slack_open(&src, exp, NULL, 0), 0);
		assert_int_equal(kz_slack_import_begin(n.st, &n.kp, src, &o,
		    &imp), 0);
	}
	while ((rc = kz_slack_import_step(imp, 1)) == 1) {
		steps++;
		/* No batch open: a group of the caller's own begins. */
		assert_int_equal(kz_store_begin(n.st), 0);
		kz_store_rollback(n.st);
		/* Whole batches only, at most one a step (users are
		 * appended before their message, which may open the next). */
		assert_int_equal(kz_store_tip(n.st, n.kp.pk, &tip, NULL), 0);
		assert_int_equal((tip - 1) % 4, 0);
		assert_true(tip - prev <= 8);
		assert_int_equal(tip - 1, kz_slack_import_stats(imp)->entries);
		prev = tip;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(kz_slack_import_step(imp, 1), 0);	/* done: again */
	assert_int_equal(kz_slack_import_end(imp, &s2), 0);
	kz_slack_close(src);
	assert_true(steps >= (s1.entries - 1) / 4);
	assert_memory_equal(&s1, &s2, sizeof(s1));
	assert_string_equal(r1.text, r2.text);
	digest_of(&n, d2);
	assert_memory_equal(d1, d2, 32);

	/* Ended after two steps: two batches stay, importing again resumes. */
	node_open(&m, tmp, "m");
	{
		struct kz_slack_import_opts o = { .wall_ms = T0 + 1000,
		    .batch = 4 };

		assert_int_equal(kz_slack_open(&src, exp, NULL, 0), 0);
		assert_int_equal(kz_slack_import_begin(m.st, &m.kp, src, &o,
		    &imp), 0);
	}
	assert_int_equal(kz_slack_import_step(imp, 2), 1);
	assert_int_equal(kz_slack_import_end(imp, &s2), 1);
	kz_slack_close(src);
	assert_int_equal(s2.entries, 8);
	assert_int_equal(kz_store_tip(m.st, m.kp.pk, &tip, NULL), 0);
	assert_int_equal(tip, 1 + 8);
	assert_int_equal(import(&m, exp, &s2, &r2, 4), 0);
	assert_int_equal(s2.entries, s1.entries - 8);
	digest_of(&m, d2);
	assert_memory_equal(d1, d2, 32);
	assert_int_equal(kz_slack_import_end(NULL, NULL), KZ_ERR_INVAL);

	/* no_wait: 2 when the reader has nothing and no batch is open (the
	 * caller waits, not the step); the same import all the same. */
	node_open(&w, tmp, "w");
	{
		struct kz_slack_import_opts o = { .ctx = &r2, .report = on_report,
		    .wall_ms = T0 + 1000, .batch = 4, .no_wait = true };
		static const struct timespec ms = { 0, 1000000 };

		memset(&r2, 0, sizeof(r2));
		assert_int_equal(kz_slack_open(&src, exp, NULL, 0), 0);
		assert_int_equal(kz_slack_import_begin(w.st, &w.kp, src, &o,
		    &imp), 0);
		while ((rc = kz_slack_import_step(imp, 1)) == 1 || rc == 2) {
			assert_int_equal(kz_store_begin(w.st), 0);
			kz_store_rollback(w.st);
			if (rc == 2)
				nanosleep(&ms, NULL);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(kz_slack_import_end(imp, &s2), 0);
		kz_slack_close(src);
	}
	assert_memory_equal(&s1, &s2, sizeof(s1));
	assert_string_equal(r1.text, r2.text);
	digest_of(&w, d2);
	assert_memory_equal(d1, d2, 32);
	node_close(&ref);
	node_close(&n);
	node_close(&m);
	node_close(&w);
	free(exp);
	kz_test_rmtree(tmp);
}

/* The imported fields travel in the op: encode, decode, bounds. */
static void
test_op(void **state)
{
	uint8_t id[KZ_ID_BYTES], chan[KZ_ID_BYTES], *buf;
	const char *users[] = { "slack.U01", "slack.U02" };
	struct kz_imported_reaction rs[] = { { "\xf0\x9f\x91\x8d", 2, users } };
	struct kz_imported_file fs[] = { { "F1", "a.pdf", "A", "application/pdf",
	    2048, "https://files.slack.com/a.pdf" } };
	struct kz_imported_post ip = { .id = id, .source = "slack:C01/1.000001",
	    .time_us = 1000001, .author = "slack.U01", .author_name = "",
	    .subtype = "thread_broadcast", .edited = true, .source_text = "<!here>",
	    .n_reactions = 1, .reactions = rs, .n_files = 1, .files = fs,
	    .pinned = true, .broadcast = true, .raw = "",
	    .thread_ts = "0.000001", .attachments = "警報\n大雨" };
	struct kz_op op = { .type = KZ_OP_POST }, *back = NULL;
	size_t len;

	(void)state;
	memset(id, 1, sizeof(id));
	memset(chan, 2, sizeof(chan));
	op.u.post = (struct kz_post){ chan, "@here", NULL, KZ_PRIO_NORMAL, 0,
	    NULL, &ip };
	assert_int_equal(kz_op_encode(&buf, &len, &op), 0);
	assert_int_equal(kz_op_decode(&back, buf, len), 0);
	free(buf);
	assert_non_null(back->u.post.imported);
	assert_memory_equal(kz_op_created_id(back, chan), id, KZ_ID_BYTES);
	assert_string_equal(back->u.post.imported->source, "slack:C01/1.000001");
	assert_true(back->u.post.imported->time_us == 1000001);
	assert_string_equal(back->u.post.imported->reactions[0].users[1], "slack.U02");
	assert_true(back->u.post.imported->files[0].size == 2048);
	assert_true(back->u.post.imported->pinned && back->u.post.imported->broadcast);
	assert_true(back->u.post.imported->edited);
	assert_string_equal(back->u.post.imported->thread_ts, "0.000001");
	assert_string_equal(back->u.post.imported->attachments, "警報\n大雨");
	kz_op_free(back);

	/* Bounds: a bad reaction user, a time past the hlc range, no id. */
	users[1] = "bad id";
	assert_int_equal(kz_op_encode(&buf, &len, &op), KZ_ERR_INVAL);
	users[1] = "slack.U02";
	ip.time_us = KZ_IMPORT_TIME_US_MAX + 1;
	assert_int_equal(kz_op_encode(&buf, &len, &op), KZ_ERR_INVAL);
	ip.time_us = 1;
	ip.id = NULL;
	assert_int_equal(kz_op_encode(&buf, &len, &op), KZ_ERR_INVAL);
}

/* Appends op for the node itself (an admin node); returns its hlc. */
static uint64_t
append_op(struct node *n, const struct kz_op *op, uint8_t hash[32])
{
	struct kz_appended app;
	uint8_t *buf;
	size_t len;

	assert_int_equal(kz_op_encode(&buf, &len, op), 0);
	assert_int_equal(kz_store_append(n->st, &n->kp, T0 + 5000, buf, len,
	    &app), 0);
	free(buf);
	if (hash != NULL)
		memcpy(hash, app.hash, 32);
	return app.hlc;
}

static char *zip_entry(const char *zip, const char *name);

/* The ZIP entry name as JSON (the caller decrefs it). */
static json_t *
zip_json(const char *zip, const char *name)
{
	char *body = zip_entry(zip, name);
	json_t *j;

	if (body == NULL)
		fail_msg("%s is not in the export", name);
	j = json_loads(body, 0, NULL);
	free(body);
	assert_non_null(j);
	return j;
}

/* The element of array a whose key k is the string v (borrowed), or NULL. */
static json_t *
find_by(json_t *a, const char *k, const char *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
		if (json_is_string(json_object_get(e, k)) &&
		    strcmp(json_string_value(json_object_get(e, k)), v) == 0)
			return e;
	return NULL;
}

/* A JSON value as compact text (freed by the next call). */
static const char *
compact(json_t *v)
{
	static char *last;

	free(last);
	last = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	return last != NULL ? last : "(none)";
}

/* Reads a ZIP entry whole (NUL-terminated), or NULL if absent. */
static char *
zip_entry(const char *zip, const char *name)
{
	zip_t *za;
	zip_file_t *zf;
	zip_stat_t zs;
	char *buf = NULL;
	int err;

	assert_non_null(za = zip_open(zip, ZIP_RDONLY, &err));
	if (zip_stat(za, name, 0, &zs) == 0 && (zf = zip_fopen(za, name, 0)) != NULL) {
		assert_non_null(buf = malloc(zs.size + 1));
		assert_true(zip_fread(zf, buf, zs.size) == (zip_int64_t)zs.size);
		buf[zs.size] = '\0';
		zip_fclose(zf);
	}
	zip_discard(za);
	return buf;
}

/* Whether any entry of the ZIP, uncompressed, holds needle. */
static bool
zip_has(const char *zip, const char *needle)
{
	zip_t *za;
	zip_int64_t i, n;
	bool found = false;
	int err;

	assert_non_null(za = zip_open(zip, ZIP_RDONLY, &err));
	n = zip_get_num_entries(za, 0);
	assert_true(n > 0);
	for (i = 0; i < n && !found; i++) {
		char *body = zip_entry(zip, zip_get_name(za, (zip_uint64_t)i, 0));

		assert_non_null(body);
		found = strstr(body, needle) != NULL;
		free(body);
	}
	zip_discard(za);
	return found;
}

static void
same_msgs(const struct msgs *a, const struct msgs *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_string_equal(a->text[i], b->text[i]);
		assert_string_equal(a->actor[i], b->actor[i]);
		assert_memory_equal(a->id[i], b->id[i], KZ_ID_BYTES);
		assert_true(a->hlc[i] == b->hlc[i]);
		assert_int_equal(a->edited[i], b->edited[i]);
		assert_int_equal(a->has_root[i], b->has_root[i]);
		assert_int_equal(a->replies[i], b->replies[i]);
		assert_int_equal(a->reactions[i], b->reactions[i]);
		assert_string_equal(a->parts[i], b->parts[i]);
	}
}

/*
 * Import, export, import into a fresh node: the imported channels come
 * back the same (ids, original times, texts, authors, threads, the orphan,
 * edits, reactions, users, subtypes and system events, pins, file
 * references); a channel born here goes out with a reserved id and its
 * creation time, a post edited here with the edit's time; a person's
 * message carries a rich_text block mirroring its text, a system event or
 * a bot's none; no password hash, e-mail address or access token leaves
 * the node.
 */
static void
test_export_roundtrip(void **state)
{
	char *tmp = kz_test_tmpdir(), *exp = export_folder(tmp);
	char *zip = kz_test_path(tmp, "out.zip"), *body;
	static const char *const chans[] = { "general", "meetup-", "empty",
	    "災害対策" };
	uint8_t ids[4][KZ_ID_BYTES], chan_id[32];
	struct kz_slack_export_stats es;
	struct kz_slack_stats s;
	struct reports r;
	struct node a, b;
	struct msgs ma, mb;
	struct users ua = { 0 }, ub = { 0 };
	struct chans ca = { 0 }, cb = { 0 };
	struct kz_op op = { .type = KZ_OP_USER_SET };
	uint8_t post_id[32];
	uint64_t created_hlc, edit_hlc;
	char want_ts[32];
	json_t *j, *jm;
	size_t i;

	(void)state;
	node_open(&a, tmp, "a");
	assert_int_equal(import(&a, exp, &s, &r, 0), 0);
	/* A user, a channel and a post born in the mesh. */
	op.u.user_set = (struct kz_user_set){ "tanaka.h", KZ_USER_SET_ALL,
	    "田中 一郎", "防災課", KZ_ROLE_MEMBER,
	    "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", true };
	append_op(&a, &op, NULL);
	op = (struct kz_op){ .type = KZ_OP_CHANNEL_CREATE };
	op.u.channel_create = (struct kz_channel_create){ "災害対策", "", NULL };
	created_hlc = append_op(&a, &op, chan_id);
	op = (struct kz_op){ .type = KZ_OP_POST, .actor = "tanaka.h" };
	op.u.post = (struct kz_post){ chan_id, "給水 <14時> & 停電", NULL,
	    KZ_PRIO_NORMAL, 0, NULL, NULL };
	append_op(&a, &op, post_id);
	/* Edited a minute later. */
	op = (struct kz_op){ .type = KZ_OP_EDIT, .actor = "tanaka.h" };
	op.u.edit = (struct kz_edit){ post_id, "給水 <15時> & 停電" };
	{
		struct kz_appended app;
		uint8_t *buf;
		size_t len;

		assert_int_equal(kz_op_encode(&buf, &len, &op), 0);
		assert_int_equal(kz_store_append(a.st, &a.kp, T0 + 65000, buf, len,
		    &app), 0);
		free(buf);
		edit_hlc = app.hlc;
	}

	for (i = 0; i < 4; i++)
		assert_int_equal(kz_views_channel_find(a.st, chans[i], ids[i]), 0);
	assert_int_equal(kz_slack_export(a.st, (const uint8_t (*)[32])ids, 4, 0,
	    zip, &es), 0);
	assert_int_equal(es.channels, 4);
	assert_int_equal(es.messages, 15);
	assert_int_equal(es.users, 7);
	assert_int_equal(es.day_files, 4);
	assert_false(zip_has(zip, "xoxe-"));
	assert_false(zip_has(zip, "$argon2id"));
	assert_false(zip_has(zip, "hanako@example.jp"));
	assert_false(zip_has(zip, "防災課"));
	assert_true(zip_has(zip, "給水 &lt;15時&gt; &amp; 停電"));	/* it reads */
	/* Day files of Pacific dates: 1589871600 is 2020-05-19 00:00 PDT. */
	assert_non_null(body = zip_entry(zip, "general/2020-05-19.json"));
	assert_non_null(strstr(body, "\"ts\": \"1589871634.304500\""));
	assert_non_null(strstr(body, "\"text\": \"給水車が14時に到着します <@U02>"
	    " &amp;lt;tag&amp;gt; :+1:\""));
	assert_non_null(strstr(body, "\"url_private\": \"https:\\/\\/files.slack.com"
	    "\\/files-pri\\/T1-F1\\/map.pdf\""));
	assert_non_null(strstr(body, "\"thread_ts\": \"1580000000.000000\""));
	/* The long file name, cut to 255 bytes at a character's end. */
	{
		char want[300] = "\"name\": \"";
		size_t k;

		for (k = 0; k < 85; k++)
			strcat(want, "あ");
		strcat(want, "\"");
		assert_non_null(strstr(body, want));
	}
	free(body);
	assert_non_null(body = zip_entry(zip, "meetup-/2015-06-05.json"));
	free(body);
	assert_null(zip_entry(zip, "general/2020-05-18.json"));
	assert_non_null(body = zip_entry(zip, "users.json"));
	assert_non_null(strstr(body, "\"id\": \"U01\""));
	assert_non_null(strstr(body, "\"id\": \"UKZ"));
	assert_null(strstr(body, "防災課"));
	free(body);
	assert_non_null(body = zip_entry(zip, "channels.json"));
	assert_non_null(strstr(body, "\"id\": \"CKZ"));
	free(body);

	/* Blocks: one rich_text block mirroring a person's text; none on a
	 * system event or a bot's message.  Pins both ways Slack writes them. */
	j = zip_json(zip, "general/2020-05-19.json");
	assert_non_null(jm = find_by(j, "ts", M1_TS));
	assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(
	    json_object_get(jm, "blocks"), 0), "block_id"))), 8);
	json_object_del(json_array_get(json_object_get(jm, "blocks"), 0),
	    "block_id");
	assert_string_equal(compact(json_object_get(jm, "blocks")),
	    "[{\"type\":\"rich_text\",\"elements\":[{\"type\":"
	    "\"rich_text_section\",\"elements\":[{\"type\":\"text\",\"text\":"
	    "\"給水車が14時に到着します @Bob &lt;tag&gt; \xf0\x9f\x91\x8d\"}]}]}]");
	assert_string_equal(compact(json_object_get(jm, "pinned_to")), "[\"C01\"]");
	assert_non_null(jm = find_by(j, "ts", "1589871600.000100"));
	assert_string_equal(compact(json_object_get(jm, "subtype")), "\"channel_join\"");
	assert_null(json_object_get(jm, "blocks"));
	assert_null(json_object_get(jm, "pinned_to"));
	assert_non_null(jm = find_by(j, "ts", "1589871750.000000"));
	assert_string_equal(compact(json_object_get(jm, "subtype")), "\"bot_message\"");
	assert_null(json_object_get(jm, "blocks"));
	/* An edit before the import: the import kept no edit time. */
	assert_non_null(jm = find_by(j, "ts", "1589871700.000000"));
	assert_string_equal(compact(json_object_get(jm, "edited")),
	    "{\"user\":\"U01\",\"ts\":\"1589871700.000000\"}");
	json_decref(j);
	j = zip_json(zip, "channels.json");
	assert_non_null(jm = find_by(j, "name", "general"));
	assert_string_equal(compact(json_object_get(jm, "pins")),
	    "[{\"id\":\"" M1_TS "\",\"type\":\"C\"}]");
	assert_int_equal(json_integer_value(json_object_get(jm, "created")),
	    1433558319);
	/* The channel born here: created when its entry was written. */
	assert_non_null(jm = find_by(j, "name", "災害対策"));
	assert_int_equal(json_integer_value(json_object_get(jm, "created")),
	    (json_int_t)(kz_hlc_ms(created_hlc) / 1000));
	assert_true(json_integer_value(json_object_get(jm, "created")) >=
	    (json_int_t)(T0 / 1000));
	assert_null(json_object_get(jm, "pins"));
	json_decref(j);
	/* Its post, edited here: edited.ts is the edit's time, not the post's. */
	{
		char name[64];
		time_t t = (time_t)(kz_hlc_ms(edit_hlc) / 1000 - 8 * 3600);
		struct tm tm;

		gmtime_r(&t, &tm);	/* Pacific standard time in December */
		strftime(name, sizeof(name), "災害対策/%Y-%m-%d.json", &tm);
		j = zip_json(zip, name);
	}
	assert_int_equal(json_array_size(j), 1);
	jm = json_array_get(j, 0);
	snprintf(want_ts, sizeof(want_ts), "%llu.%06llu",
	    (unsigned long long)(kz_hlc_ms(edit_hlc) / 1000),
	    (unsigned long long)(kz_hlc_ms(edit_hlc) % 1000 * 1000));
	assert_string_equal(json_string_value(json_object_get(json_object_get(jm,
	    "edited"), "ts")), want_ts);
	assert_string_not_equal(json_string_value(json_object_get(jm, "ts")),
	    want_ts);
	json_object_del(json_array_get(json_object_get(jm, "blocks"), 0),
	    "block_id");
	assert_string_equal(compact(json_object_get(jm, "blocks")),
	    "[{\"type\":\"rich_text\",\"elements\":[{\"type\":"
	    "\"rich_text_section\",\"elements\":[{\"type\":\"text\",\"text\":"
	    "\"給水 <15時> & 停電\"}]}]}]");
	json_decref(j);
	compact(NULL);

	node_open(&b, tmp, "b");
	assert_int_equal(import(&b, zip, &s, &r, 0), 0);
	assert_int_equal(s.skipped, 0);
	assert_int_equal(s.messages, 15);
	for (i = 0; i < 2; i++) {
		channel_msgs(&a, chans[i], &ma);
		channel_msgs(&b, chans[i], &mb);
		same_msgs(&ma, &mb);
	}
	thread_msgs(&a, "slack:C01/" M1_TS, &ma);
	thread_msgs(&b, "slack:C01/" M1_TS, &mb);
	same_msgs(&ma, &mb);
	thread_msgs(&a, "slack:C01/1580000000.000000", &ma);
	thread_msgs(&b, "slack:C01/1580000000.000000", &mb);
	same_msgs(&ma, &mb);
	assert_int_equal(kz_views_channels(a.st, chan_cb, &ca), 0);
	assert_int_equal(kz_views_channels(b.st, chan_cb, &cb), 0);
	assert_int_equal(ca.n, cb.n);
	for (i = 0; i < ca.n; i++)
		assert_string_equal(ca.line[i], cb.line[i]);
	/* The imported users come back as they were. */
	assert_int_equal(kz_views_users(a.st, user_cb, &ua), 0);
	assert_int_equal(kz_views_users(b.st, user_cb, &ub), 0);
	assert_int_equal(ua.n, 7);
	assert_int_equal(ub.n, 7);
	for (i = 0; i < ua.n; i++) {
		size_t k;
		bool found = false;

		if (strncmp(ua.line[i], "slack.", 6) != 0)
			continue;
		for (k = 0; k < ub.n; k++)
			found |= strcmp(ua.line[i], ub.line[k]) == 0;
		if (!found)
			fail_msg("user %s did not come back", ua.line[i]);
	}
	/* The user born here: a Slack-shaped id, its name, no password. */
	for (i = 0; i < ub.n && strncmp(ub.line[i], "slack.UKZ", 9) != 0; i++)
		;
	assert_true(i < ub.n);
	assert_non_null(strstr(ub.line[i], "|田中 一郎|active|no password"));
	/* One channel's content digest: equal on both nodes, whichever node
	 * wrote the entries; an edit on one of them changes it. */
	for (i = 0; i < 3; i++) {
		uint8_t da[32], db[32];

		assert_int_equal(kz_views_channel_digest(a.st, ids[i], da), 0);
		assert_int_equal(kz_views_channel_digest(b.st, ids[i], db), 0);
		assert_memory_equal(da, db, 32);
		if (i == 0) {
			uint8_t d2[32];

			op = (struct kz_op){ .type = KZ_OP_EDIT };
			op.u.edit = (struct kz_edit){ ma.id[0], "直しました" };
			append_op(&b, &op, NULL);
			assert_int_equal(kz_views_channel_digest(b.st, ids[i], d2), 0);
			assert_memory_not_equal(db, d2, 32);
		}
	}
	/* The channel born here: its post, escaped and back, by its user. */
	channel_msgs(&b, "災害対策", &mb);
	assert_int_equal(mb.n, 1);
	assert_string_equal(mb.text[0], "給水 <15時> & 停電");
	assert_true(mb.edited[0]);
	assert_int_equal(strncmp(mb.actor[0], "slack.UKZ", 9), 0);
	assert_int_equal(search(&b, "給水", &mb), 2);

	/* --since: only what was written from that day on. */
	assert_int_equal(kz_slack_export(a.st, (const uint8_t (*)[32])ids, 2,
	    1589932800000ull, zip, &es), 0);	/* 2020-05-20 00:00 UTC */
	assert_int_equal(es.messages, 1);
	assert_non_null(body = zip_entry(zip, "general/2020-05-20.json"));
	free(body);
	assert_null(zip_entry(zip, "general/2020-05-19.json"));

	/* An unknown channel: nothing is written. */
	unlink(zip);
	memset(ids[0], 0xee, KZ_ID_BYTES);
	assert_int_equal(kz_slack_export(a.st, (const uint8_t (*)[32])ids, 1, 0,
	    zip, &es), KZ_ERR_NOT_FOUND);
	assert_int_equal(access(zip, F_OK), -1);
	node_close(&a);
	node_close(&b);
	free(zip);
	free(exp);
	kz_test_rmtree(tmp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_op),
		cmocka_unit_test(test_message_twice),
		cmocka_unit_test(test_import_folder),
		cmocka_unit_test(test_import_zip),
		cmocka_unit_test(test_bad_zip),
		cmocka_unit_test(test_not_export),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_resume_after_kill),
		cmocka_unit_test(test_apply_in_pieces),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_export_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
