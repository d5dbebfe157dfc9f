/*
 * kizuna reply, edit, delete, purge, react, ack, tail, thread, status
 * set/list and rollcall; and the post helpers cmd_post (cmd_feed.c) shares.
 *
 * Messages are named by 8 or more hex digits of their id (the hash of the
 * post entry), as `kizuna tail` shows them.  Every write is one entry
 * appended alone (cli_append_op); afterwards the command reads the views to
 * tell whether the entry counts (see cmd_ws.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kizuna/err.h"
#include "kizuna/util.h"

/* ------------------------------------------------------------ post, reply */

int
cli_post_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct cli_post_opts *po = ctx;
	int rc;

	switch (ch) {
	case 'p':
		if ((rc = cli_parse_priority(c, arg, &po->priority)) != 0)
			return rc;
		break;
	case 't':
		po->thread = arg;
		break;
	case 'm':
		if ((rc = cli_check_user_id(c, arg, "--mention")) != 0)
			return rc;
		if (po->n_mentions < KZ_MENTIONS_MAX)
			po->mentions[po->n_mentions++] = arg;
		else
			po->too_many = true;
		break;
	}
	return -1;
}

int
cli_post_append(struct cli *c, const struct cli_post_opts *po,
    const struct cli_channel *ch, const uint8_t *root, const char *text)
{
	struct kz_op op = { .type = KZ_OP_POST };
	struct kz_appended app;
	struct cli_message m = { 0 };
	struct cli_user u;
	char hex[CLI_HEX_ID], chex[CLI_HEX_ID], rhex[CLI_HEX_ID];
	const char *why;
	bool counted;
	size_t i;
	json_t *o;
	int rc;

	if (po->too_many)
		return cli_fail(c, "post refused: at most %d mentions",
		    KZ_MENTIONS_MAX);
	for (i = 0; i < po->n_mentions; i++)
		if ((rc = cli_user_get(c, po->mentions[i], &u)) != 0)
			return rc;
	if (ch->archived)
		return cli_fail(c, "#%s is archived; take it out of the archive first "
		    "('kizuna channel unarchive %s')", ch->name, ch->name);
	op.u.post.channel = ch->id;
	op.u.post.text = text;
	op.u.post.thread_root = root;
	op.u.post.priority = po->priority;
	op.u.post.n_mentions = po->n_mentions;
	op.u.post.mentions = po->mentions;
	rc = cli_append_op(c, &op, "post", "the text may be at most 16384 bytes",
	    "invalid post", &app);
	if (rc != 0)
		return rc;
	counted = cli_message_read(c, app.hash, &m) == 0;
	cli_message_free(&m);
	kz_hex(hex, app.hash, KZ_HASH_BYTES);
	kz_hex(chex, ch->id, KZ_ID_BYTES);
	o = json_object();
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "channel", json_string(chex));
	json_object_set_new(o, "channel_name", json_string(ch->name));
	if (root != NULL) {
		kz_hex(rhex, root, KZ_ID_BYTES);
		json_object_set_new(o, "thread_root", json_string(rhex));
	} else {
		json_object_set_new(o, "thread_root", json_null());
	}
	why = counted ? NULL : cli_ws_why(c, CLI_NEED_MEMBER, CLI_NOT_TAKEN);
	if (root != NULL)
		cli_report(c, &app, o, counted, why, "replied to %.8s in #%s as seq "
		    "%llu (%.16s)\nmessage id: %s", rhex, ch->name,
		    (unsigned long long)app.seq, hex, hex);
	else
		cli_report(c, &app, o, counted, why, "posted to #%s as seq %llu "
		    "(%.16s)\nmessage id: %s", ch->name, (unsigned long long)app.seq,
		    hex, hex);
	return 0;
}

int
cmd_reply(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "mention", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_post_opts po = { .priority = KZ_PRIO_NORMAL };
	struct cli_message m = { 0 };
	struct cli_channel ch;
	uint8_t root[KZ_ID_BYTES];
	int rc;

	rc = cli_getopt(c, cli_find_cmd("reply"), argc, argv, opts, "p:m:", 2,
	    cli_post_opt, &po);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_message(c, argv[optind], &m)) != 0)
		return rc;
	/* A reply to a reply joins its thread. */
	memcpy(root, cli_message_root(&m), KZ_ID_BYTES);
	rc = cli_channel_read(c, m.channel, &ch);
	cli_message_free(&m);
	if (rc < 0)
		return cli_fail(c, "the channel of message %s is not in this "
		    "workspace", argv[optind]);
	return cli_post_append(c, &po, &ch, root, argv[optind + 1]);
}

/* ------------------------------------------------------------ edit, delete, purge */

static json_t *
target_json(const uint8_t id[KZ_ID_BYTES])
{
	json_t *o = json_object();

	json_object_set_new(o, "target", cli_json_hex(id, KZ_ID_BYTES));
	return o;
}

/*
 * Reports an edit or delete (verb) of m as "DONE ID (seq N)".  Unless the
 * views name a reason, one that did not count failed because m is deleted,
 * or because only its author or an admin user may change it.
 */
static void
change_report(struct cli *c, const struct kz_appended *app,
    const struct cli_message *m, bool counted, const char *verb,
    const char *done)
{
	char fallback[160], hex[CLI_HEX_ID];
	const char *why = NULL;

	if (!counted) {
		if (m->deleted)
			snprintf(fallback, sizeof(fallback), "the message is deleted");
		else
			snprintf(fallback, sizeof(fallback), "only its author (%s) or "
			    "an admin user may %s it", m->actor[0] ? m->actor :
			    "the node", verb);
		why = cli_ws_why(c, CLI_NEED_MEMBER, fallback);
	}
	kz_hex(hex, m->id, KZ_ID_BYTES);
	cli_report(c, app, target_json(m->id), counted, why, "%s %.8s (seq %llu)",
	    done, hex, (unsigned long long)app->seq);
}

int
cmd_edit(struct cli *c, int argc, char **argv)
{
	struct kz_op op = { .type = KZ_OP_EDIT };
	struct kz_appended app;
	struct cli_message m = { 0 }, after = { 0 };
	bool counted;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("edit"), argc, argv, NULL, NULL, 2, NULL,
	    NULL);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_message(c, argv[optind], &m)) != 0)
		return rc;
	if (m.deleted) {
		cli_message_free(&m);
		return cli_fail(c, "message %s is deleted; it cannot be edited",
		    argv[optind]);
	}
	op.u.edit.target = m.id;
	op.u.edit.text = argv[optind + 1];
	rc = cli_append_op(c, &op, "edit", "the text may be at most 16384 bytes",
	    "invalid edit", &app);
	if (rc == 0) {
		counted = cli_message_read(c, m.id, &after) == 0 && after.edited &&
		    strcmp(after.text, argv[optind + 1]) == 0;
		change_report(c, &app, &m, counted, "edit", "edited");
	}
	cli_message_free(&m);
	cli_message_free(&after);
	return rc;
}

int
cmd_delete(struct cli *c, int argc, char **argv)
{
	struct kz_op op = { .type = KZ_OP_DELETE };
	struct kz_appended app;
	struct cli_message m = { 0 }, after = { 0 };
	bool counted;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("delete"), argc, argv, NULL, NULL, 1, NULL,
	    NULL);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_message(c, argv[optind], &m)) != 0)
		return rc;
	op.u.del.target = m.id;
	rc = cli_append_op(c, &op, "delete", "too big", "invalid delete", &app);
	if (rc == 0) {
		counted = cli_message_read(c, m.id, &after) == 0 && after.deleted;
		m.deleted = false;	/* the reason is about who may, not what was */
		change_report(c, &app, &m, counted, "delete", "deleted");
	}
	cli_message_free(&m);
	cli_message_free(&after);
	return rc;
}

int
cmd_purge(struct cli *c, int argc, char **argv)
{
	struct kz_op op = { .type = KZ_OP_PURGE };
	struct kz_appended app;
	struct cli_message m = { 0 };
	uint8_t id[KZ_ID_BYTES];
	char hex[CLI_HEX_ID];
	bool counted;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("purge"), argc, argv, NULL, NULL, 1, NULL,
	    NULL);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	/* A full id may name a post that has not arrived yet: the purge then
	 * drops it on arrival. */
	if (kz_unhex(id, KZ_ID_BYTES, argv[optind]) < 0) {
		if ((rc = cli_message_get(c, argv[optind], &m)) != 0)
			return rc;
		memcpy(id, m.id, KZ_ID_BYTES);
		cli_message_free(&m);
	}
	op.u.purge.target = id;
	rc = cli_append_op(c, &op, "purge", "too big", "invalid purge", &app);
	if (rc != 0)
		return rc;
	counted = cli_message_read(c, id, &m) == KZ_ERR_NOT_FOUND;
	cli_message_free(&m);
	kz_hex(hex, id, KZ_ID_BYTES);
	if (counted)
		cli_report(c, &app, target_json(id), true, NULL, "purged %.8s: its "
		    "text is dropped here and on every node the purge reaches "
		    "(seq %llu)", hex, (unsigned long long)app.seq);
	else
		cli_report(c, &app, target_json(id), false, cli_ws_why(c,
		    CLI_NEED_ADMIN_NODE, CLI_NOT_TAKEN),
		    "purge of %.8s written (seq %llu)", hex,
		    (unsigned long long)app.seq);
	return 0;
}

/* ------------------------------------------------------------ react, ack */

static int
need_user(struct cli *c, const char *what)
{
	if (c->actor != NULL)
		return 0;
	return cli_bad(c, "%s needs a user: give --as USER or set KIZUNA_USER",
	    what);
}

static int
on_react_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	*(bool *)ctx = false;
	return -1;
}

int
cmd_react(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "off", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct kz_op op = { .type = KZ_OP_REACT };
	struct kz_appended app;
	struct cli_message m = { 0 };
	const char *why;
	char hex[CLI_HEX_ID];
	bool on = true;
	json_t *o;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("react"), argc, argv, opts, "", 2,
	    on_react_opt, &on);
	if (rc >= 0)
		return rc;
	if ((rc = need_user(c, "react")) != 0)
		return rc;
	if ((rc = cli_open_message(c, argv[optind], &m)) != 0)
		return rc;
	op.u.react.target = m.id;
	op.u.react.emoji = argv[optind + 1];
	op.u.react.on = on;
	rc = cli_append_op(c, &op, "react", "an emoji may be at most 64 bytes",
	    "the emoji is empty", &app);
	if (rc == 0) {
		why = cli_ws_why(c, CLI_NEED_USER, NULL);
		kz_hex(hex, m.id, KZ_ID_BYTES);
		o = target_json(m.id);
		json_object_set_new(o, "emoji", json_string(argv[optind + 1]));
		json_object_set_new(o, "on", json_boolean(on));
		cli_report(c, &app, o, why == NULL, why, "%s %s %s %.8s (seq %llu)",
		    on ? "reacted" : "took back", argv[optind + 1], on ? "to" : "from",
		    hex, (unsigned long long)app.seq);
	}
	cli_message_free(&m);
	return rc;
}

struct ack_find {
	const char *user;
	bool found;
};

static int
on_ack_find(void *ctx, const char *user)
{
	struct ack_find *af = ctx;

	if (strcmp(user, af->user) == 0)
		af->found = true;
	return 0;
}

int
cmd_ack(struct cli *c, int argc, char **argv)
{
	struct kz_op op = { .type = KZ_OP_ACK };
	struct kz_appended app;
	struct cli_message m = { 0 };
	struct ack_find af = { NULL, false };
	char hex[CLI_HEX_ID];
	int rc;

	rc = cli_getopt(c, cli_find_cmd("ack"), argc, argv, NULL, NULL, 1, NULL,
	    NULL);
	if (rc >= 0)
		return rc;
	if ((rc = need_user(c, "ack")) != 0)
		return rc;
	if ((rc = cli_open_message(c, argv[optind], &m)) != 0)
		return rc;
	op.u.ack.target = m.id;
	rc = cli_append_op(c, &op, "ack", "too big", "invalid ack", &app);
	if (rc == 0) {
		af.user = c->actor;
		if (kz_views_acks(c->st, m.id, on_ack_find, &af) < 0)
			af.found = false;
		kz_hex(hex, m.id, KZ_ID_BYTES);
		cli_report(c, &app, target_json(m.id), af.found, af.found ? NULL :
		    cli_ws_why(c, CLI_NEED_USER, m.priority == KZ_PRIO_NORMAL ?
		    "only urgent and emergency messages collect acknowledgements" :
		    CLI_NOT_TAKEN),
		    "acknowledged %.8s (seq %llu)", hex, (unsigned long long)app.seq);
	}
	cli_message_free(&m);
	return rc;
}

/* ------------------------------------------------------------ tail, thread */

struct show {
	struct cli *c;
	struct cli_names names;
	uint8_t root[KZ_ID_BYTES];
	bool thread;
	int rc;
};

static json_t *
message_json(struct show *sh, const struct kz_view_message *m)
{
	char when[32], buf[KZ_NAME_MAX + 1];
	json_t *o = json_object();

	cli_format_hlc(when, m->hlc);
	json_object_set_new(o, "id", cli_json_hex(m->id, KZ_ID_BYTES));
	json_object_set_new(o, "channel", cli_json_hex(m->channel, KZ_ID_BYTES));
	json_object_set_new(o, "channel_name",
	    json_string(cli_names_channel(&sh->names, m->channel, buf)));
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "hlc", json_integer((json_int_t)m->hlc));
	json_object_set_new(o, "node", cli_json_hex(m->author, 32));
	json_object_set_new(o, "seq", json_integer((json_int_t)m->seq));
	json_object_set_new(o, "user", json_string(m->actor));
	json_object_set_new(o, "priority", json_string(kz_priority_name(m->priority)));
	json_object_set_new(o, "text", json_string(m->text));
	json_object_set_new(o, "thread_root", m->has_thread_root ?
	    cli_json_hex(m->thread_root, KZ_ID_BYTES) : json_null());
	json_object_set_new(o, "edited", json_boolean(m->edited));
	json_object_set_new(o, "deleted", json_boolean(m->deleted));
	json_object_set_new(o, "replies", json_integer((json_int_t)m->reply_count));
	json_object_set_new(o, "acks", json_integer((json_int_t)m->acks));
	json_object_set_new(o, "reactions", json_integer((json_int_t)m->reactions));
	json_object_set_new(o, "system", json_boolean(m->system));
	json_object_set_new(o, "subtype", json_string(m->subtype));
	json_object_set_new(o, "pinned", json_boolean(m->pinned));
	{
		json_t *fs = json_array();
		size_t i;

		for (i = 0; i < m->n_files; i++)
			json_array_append_new(fs, json_pack("{s:s,s:s,s:s,s:I,s:s}",
			    "name", m->files[i].name, "title", m->files[i].title,
			    "type", m->files[i].mimetype,
			    "size", (json_int_t)m->files[i].size,
			    "url", m->files[i].url));
		json_object_set_new(o, "files", fs);
	}
	return o;
}

static void
count(const char *one, const char *many, uint64_t n)
{
	printf(" (%llu %s)", (unsigned long long)n, n == 1 ? one : many);
}

static void
message_print(struct show *sh, const struct kz_view_message *m, bool indent)
{
	char when[32], hex[CLI_HEX_ID], buf[KZ_NAME_MAX + 1];

	size_t i;

	cli_format_hlc(when, m->hlc);
	kz_hex(hex, m->id, KZ_ID_BYTES);
	printf("%s%s %.8s ", indent ? "  " : "", when, hex);
	/* An imported system event (a join, a topic change): its text says
	 * who did what, and it is not chat. */
	if (m->system) {
		printf("* %s\n", m->deleted ? "(deleted)" : m->text);
		return;
	}
	if (m->actor[0])
		printf("%s:", m->actor);
	else
		printf("node %s:", cli_names_node(&sh->names, m->author, buf));
	if (m->priority != KZ_PRIO_NORMAL)
		printf(" [%s]", kz_priority_name(m->priority));
	if (m->deleted)
		printf(" (deleted)");
	else
		printf(" %s", m->text);
	for (i = 0; i < m->n_files; i++)
		printf(" [file %s, %s, %llu bytes]", m->files[i].name,
		    *m->files[i].mimetype ? m->files[i].mimetype : "?",
		    (unsigned long long)m->files[i].size);
	if (m->pinned)
		printf(" (pinned)");
	if (m->edited && !m->deleted)
		printf(" (edited)");
	if (m->reply_count > 0)
		count("reply", "replies", m->reply_count);
	if (m->priority != KZ_PRIO_NORMAL)
		count("ack", "acks", m->acks);
	if (m->reactions > 0)
		count("reaction", "reactions", m->reactions);
	putchar('\n');
}

struct ack_list {
	json_t *arr;
	size_t n;
};

static int
on_ack_list(void *ctx, const char *user)
{
	struct ack_list *al = ctx;

	if (al->arr != NULL)
		json_array_append_new(al->arr, json_string(user));
	else
		printf("%s%s", al->n == 0 ? "" : ", ", user);
	al->n++;
	return 0;
}

static int
on_show_message(void *ctx, const struct kz_view_message *m)
{
	struct show *sh = ctx;
	bool is_root = memcmp(m->id, sh->root, KZ_ID_BYTES) == 0;
	struct ack_list al = { NULL, 0 };
	json_t *o;

	if (sh->c->json) {
		o = message_json(sh, m);
		if (sh->thread && is_root) {
			al.arr = json_array();
			sh->rc = kz_views_acks(sh->c->st, m->id, on_ack_list, &al);
			json_object_set_new(o, "acked_by", al.arr);
		}
		cli_json_line(o);
		return sh->rc;
	}
	message_print(sh, m, sh->thread && !is_root);
	if (sh->thread && is_root && m->priority != KZ_PRIO_NORMAL) {
		printf("  acknowledged by: ");
		sh->rc = kz_views_acks(sh->c->st, m->id, on_ack_list, &al);
		printf("%s\n", al.n == 0 ? "nobody yet" : "");
	}
	return sh->rc;
}

/*
 * Prints the thread of sh->root if sh->thread, else the newest n messages
 * of channel; returns 0 or the exit status.
 */
static int
show_messages(struct show *sh, const uint8_t *channel, uint64_t n)
{
	struct cli *c = sh->c;
	int rc;

	if ((rc = cli_names_load(c, &sh->names)) < 0)
		return cli_fail_workspace(c, rc);
	if (sh->thread)
		rc = kz_views_thread(c->st, sh->root, on_show_message, sh);
	else
		rc = kz_views_messages(c->st, channel, n, on_show_message, sh);
	cli_names_free(&sh->names);
	if (rc < 0)
		return cli_fail_workspace(c, rc);
	return 0;
}

static int
on_tail_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	int rc;

	rc = cli_parse_range(c, arg, 1, UINT64_MAX, ctx,
	    "-n takes a number of messages (1 or more)");
	return rc != 0 ? rc : -1;
}

int
cmd_tail(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lines", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct show sh = { .c = c };
	struct cli_channel ch;
	uint64_t n = 20;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("tail"), argc, argv, opts, "n:", 1,
	    on_tail_opt, &n);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_channel(c, argv[optind], &ch)) != 0)
		return rc;
	return show_messages(&sh, ch.id, n);
}

int
cmd_thread(struct cli *c, int argc, char **argv)
{
	struct show sh = { .c = c, .thread = true };
	struct cli_message m = { 0 };
	int rc;

	rc = cli_getopt(c, cli_find_cmd("thread"), argc, argv, NULL, NULL, 1, NULL,
	    NULL);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_message(c, argv[optind], &m)) != 0)
		return rc;
	memcpy(sh.root, cli_message_root(&m), KZ_ID_BYTES);
	cli_message_free(&m);
	return show_messages(&sh, NULL, 0);
}

/* ------------------------------------------------------------ roll call */

static const struct cli_cmd safety_cmds[];

struct safety_opts {
	const char *user, *place, *note;
};

static int
on_safety_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct safety_opts *so = ctx;
	int rc;

	switch (ch) {
	case 'u':
		if ((rc = cli_check_user_id(c, arg, "--user")) != 0)
			return rc;
		so->user = arg;
		break;
	case 'p':
		so->place = arg;
		break;
	case 'n':
		so->note = arg;
		break;
	}
	return -1;
}

struct rollcall_find {
	const char *user;
	const char *reporter;
	uint64_t hlc;
	bool found;
};

static int
on_rollcall_find(void *ctx, const struct kz_view_safety *s)
{
	struct rollcall_find *rf = ctx;

	if (strcmp(s->user, rf->user) != 0)
		return 0;
	rf->found = s->hlc == rf->hlc && strcmp(s->reporter, rf->reporter) == 0;
	return 1;
}

static int
safety_set(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "place", required_argument, NULL, 'p' },
		{ "note", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct safety_opts so = { NULL, "", "" };
	struct kz_op op = { .type = KZ_OP_SAFETY };
	struct kz_appended app;
	struct rollcall_find rf;
	struct cli_user u;
	enum kz_safety status;
	const char *subject;
	json_t *o;
	int rc;

	rc = cli_getopt(c, &safety_cmds[0], argc, argv, opts, "", 1,
	    on_safety_opt, &so);
	if (rc >= 0)
		return rc;
	if (kz_safety_parse(&status, argv[optind]) < 0) {
		cli_warn(c, "unknown status '%s' (safe, needs-help, injured or "
		    "unknown)", argv[optind]);
		return cli_usage(c, &safety_cmds[0]);
	}
	if ((rc = need_user(c, "status set")) != 0)
		return rc;
	subject = so.user != NULL ? so.user : c->actor;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if ((rc = cli_user_get(c, subject, &u)) != 0)
		return rc;
	op.u.safety.user = so.user;
	op.u.safety.status = status;
	op.u.safety.place = so.place;
	op.u.safety.note = so.note;
	rc = cli_append_op(c, &op, "status set", "a place may be at most 200 bytes "
	    "and a note at most 1000 bytes", "invalid status", &app);
	if (rc != 0)
		return rc;
	rf = (struct rollcall_find){ subject, c->actor, app.hlc, false };
	if (kz_views_rollcall(c->st, on_rollcall_find, &rf) < 0)
		rf.found = false;
	o = json_object();
	json_object_set_new(o, "user", json_string(subject));
	json_object_set_new(o, "status", json_string(kz_safety_name(status)));
	cli_report(c, &app, o, rf.found, rf.found ? NULL :
	    cli_ws_why(c, CLI_NEED_USER, u.active ? "a later report about them "
	    "wins" : "the user is deactivated"), "reported %s as %s (seq %llu)",
	    subject, kz_safety_name(status), (unsigned long long)app.seq);
	return 0;
}

static int
on_rollcall(void *ctx, const struct kz_view_safety *s)
{
	struct cli *c = ctx;
	char when[32] = "";

	if (s->hlc != 0)
		cli_format_hlc(when, s->hlc);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "user", json_string(s->user));
		json_object_set_new(o, "display_name", json_string(s->display_name));
		json_object_set_new(o, "status", json_string(kz_safety_name(s->status)));
		json_object_set_new(o, "place", json_string(s->place));
		json_object_set_new(o, "note", json_string(s->note));
		json_object_set_new(o, "reporter", json_string(s->reporter));
		json_object_set_new(o, "time", s->hlc ? json_string(when) : json_null());
		cli_json_line(o);
		return 0;
	}
	printf("%s (%s): %s", s->user, s->display_name, kz_safety_name(s->status));
	if (s->place[0])
		printf(", at %s", s->place);
	if (s->note[0])
		printf(" - %s", s->note);
	if (s->reporter[0] && strcmp(s->reporter, s->user) != 0)
		printf(" (reported by %s, %s)", s->reporter, when);
	else if (s->hlc != 0)
		printf(" (%s)", when);
	putchar('\n');
	return 0;
}

/* Prints the roll call: 'status list' and 'rollcall', as cmd says. */
static int
rollcall_print(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv)
{
	int rc;

	if ((rc = cli_no_args_open(c, cmd, argc, argv)) >= 0)
		return rc;
	if ((rc = kz_views_rollcall(c->st, on_rollcall, c)) < 0)
		return cli_fail_workspace(c, rc);
	return 0;
}

static int
safety_list(struct cli *c, int argc, char **argv)
{
	return rollcall_print(c, &safety_cmds[1], argc, argv);
}

static const struct cli_cmd safety_cmds[] = {
	{ "status set", safety_set, "[--user U] [--place P] [--note N] "
	  "safe|needs-help|injured|unknown",
	  "report a user's safety (default: the acting user's own)" },
	{ "status list", safety_list, "",
	  "the roll call: every active user's last reported safety" },
};

int
cmd_safety(struct cli *c, int argc, char **argv)
{
	return cli_group(c, cli_find_cmd("status"), safety_cmds,
	    CLI_NELEM(safety_cmds), argc, argv);
}

int
cmd_rollcall(struct cli *c, int argc, char **argv)
{
	return rollcall_print(c, cli_find_cmd("rollcall"), argc, argv);
}
