/* kizuna post, log, verify, export-run, import-run. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/runfile.h"
#include "kizuna/views.h"
#include "kizuna/util.h"

#define EXPORT_RUN_ENTRIES 1000
#define EXPORT_RUN_BYTES (1024 * 1024)

int
cmd_post(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "thread", required_argument, NULL, 't' },
		{ "mention", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_post_opts po = { .priority = KZ_PRIO_NORMAL };
	struct cli_channel ch;
	struct cli_message m = { 0 };
	uint8_t root[KZ_ID_BYTES];
	char name[KZ_NAME_MAX + 1];
	bool in_thread = false;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("post"), argc, argv, opts, "p:t:m:", 2,
	    cli_post_opt, &po);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_channel(c, argv[optind], &ch)) != 0)
		return rc;
	if (po.thread != NULL) {
		if ((rc = cli_message_get(c, po.thread, &m)) != 0)
			return rc;
		memcpy(root, cli_message_root(&m), KZ_ID_BYTES);
		in_thread = true;
		if (memcmp(m.channel, ch.id, KZ_ID_BYTES) != 0) {
			struct cli_channel other;

			snprintf(name, sizeof(name), "%s", cli_channel_read(c,
			    m.channel, &other) == 0 ? other.name : "another channel");
			cli_message_free(&m);
			return cli_fail(c, "message %s is in #%s, not #%s", po.thread,
			    name, ch.name);
		}
		cli_message_free(&m);
	}
	return cli_post_append(c, &po, &ch, in_thread ? root : NULL,
	    argv[optind + 1]);
}

/* ------------------------------------------------------------ log */

struct log_ctx {
	struct cli *c;
	struct cli_names names;
};

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* The fields of one decoded op, as JSON. */
static void
op_fields_json(json_t *o, const struct kz_op *op)
{
	size_t i;

	switch (op->type) {
	case KZ_OP_POST: {
		const struct kz_post *p = &op->u.post;
		json_t *m = json_array();

		json_object_set_new(o, "channel", cli_json_hex(p->channel, KZ_ID_BYTES));
		json_object_set_new(o, "text", json_string(p->text));
		json_object_set_new(o, "priority",
		    json_string(kz_priority_name(p->priority)));
		json_object_set_new(o, "thread_root", p->thread_root ?
		    cli_json_hex(p->thread_root, KZ_ID_BYTES) : json_null());
		for (i = 0; i < p->n_mentions; i++)
			json_array_append_new(m, json_string(p->mentions[i]));
		json_object_set_new(o, "mentions", m);
		break;
	}
	case KZ_OP_MESH_CREATE:
		json_object_set_new(o, "mesh_id",
		    cli_json_hex(op->u.mesh_create.mesh_id, KZ_ID_BYTES));
		json_object_set_new(o, "name", str_or_null(op->u.mesh_create.name));
		break;
	case KZ_OP_NODE_ADMIT:
		json_object_set_new(o, "node", cli_json_hex(op->u.node_admit.node, 32));
		json_object_set_new(o, "name", str_or_null(op->u.node_admit.name));
		json_object_set_new(o, "admin", json_boolean(op->u.node_admit.admin));
		break;
	case KZ_OP_NODE_REVOKE:
		json_object_set_new(o, "node", cli_json_hex(op->u.node_revoke.node, 32));
		json_object_set_new(o, "last_seq",
		    json_integer((json_int_t)op->u.node_revoke.last_seq));
		json_object_set_new(o, "reason", str_or_null(op->u.node_revoke.reason));
		break;
	case KZ_OP_USER_SET: {
		const struct kz_user_set *u = &op->u.user_set;

		json_object_set_new(o, "user", str_or_null(u->user));
		if (u->set & KZ_USER_SET_DISPLAY_NAME)
			json_object_set_new(o, "display_name", str_or_null(u->display_name));
		if (u->set & KZ_USER_SET_DEPARTMENT)
			json_object_set_new(o, "department", str_or_null(u->department));
		if (u->set & KZ_USER_SET_ROLE)
			json_object_set_new(o, "role", json_string(kz_role_name(u->role)));
		/* The hash itself stays out of listings. */
		if (u->set & KZ_USER_SET_PASSWORD)
			json_object_set_new(o, "password", json_string(u->password_hash &&
			    u->password_hash[0] ? "set" : "cleared"));
		if (u->set & KZ_USER_SET_ACTIVE)
			json_object_set_new(o, "active", json_boolean(u->active));
		break;
	}
	case KZ_OP_CHANNEL_CREATE:
		json_object_set_new(o, "name", str_or_null(op->u.channel_create.name));
		json_object_set_new(o, "topic", str_or_null(op->u.channel_create.topic));
		break;
	case KZ_OP_CHANNEL_SET: {
		const struct kz_channel_set *s = &op->u.channel_set;

		json_object_set_new(o, "channel", cli_json_hex(s->channel, KZ_ID_BYTES));
		if (s->set & KZ_CHANNEL_SET_NAME)
			json_object_set_new(o, "name", str_or_null(s->name));
		if (s->set & KZ_CHANNEL_SET_TOPIC)
			json_object_set_new(o, "topic", str_or_null(s->topic));
		if (s->set & KZ_CHANNEL_SET_ARCHIVED)
			json_object_set_new(o, "archived", json_boolean(s->archived));
		break;
	}
	case KZ_OP_EDIT:
		json_object_set_new(o, "target", cli_json_hex(op->u.edit.target,
		    KZ_ID_BYTES));
		json_object_set_new(o, "text", str_or_null(op->u.edit.text));
		break;
	case KZ_OP_DELETE:
	case KZ_OP_PURGE:
	case KZ_OP_ACK:
		json_object_set_new(o, "target", cli_json_hex(op->u.del.target,
		    KZ_ID_BYTES));
		break;
	case KZ_OP_REACT:
		json_object_set_new(o, "target", cli_json_hex(op->u.react.target,
		    KZ_ID_BYTES));
		json_object_set_new(o, "emoji", str_or_null(op->u.react.emoji));
		json_object_set_new(o, "on", json_boolean(op->u.react.on));
		break;
	case KZ_OP_SAFETY:
		json_object_set_new(o, "user", json_string(op->u.safety.user &&
		    op->u.safety.user[0] ? op->u.safety.user : op->actor ?
		    op->actor : ""));
		json_object_set_new(o, "status",
		    json_string(kz_safety_name(op->u.safety.status)));
		json_object_set_new(o, "place", str_or_null(op->u.safety.place));
		json_object_set_new(o, "note", str_or_null(op->u.safety.note));
		break;
	case KZ_OP_LINK_REPORT: {
		json_t *a = json_array();

		for (i = 0; i < op->u.link_report.n_links; i++) {
			const struct kz_report_link *l = &op->u.link_report.links[i];

			json_array_append_new(a, json_pack("{s:o,s:s,s:b,s:I,s:I}",
			    "peer", cli_json_hex(l->peer, 32), "transport",
			    l->transport, "up", l->up, "since", (json_int_t)l->since_s,
			    "lag_s", (json_int_t)l->lag_s));
		}
		json_object_set_new(o, "links", a);
		break;
	}
	default:
		break;
	}
}

static json_t *
op_json(const struct kz_entry_view *e)
{
	struct kz_op *op = NULL;
	json_t *o = json_object();
	int rc;

	if (e->op == NULL) {
		json_object_set_new(o, "type", json_string("purged"));
		return o;
	}
	rc = kz_op_decode(&op, e->op, e->op_len);
	if (rc < 0) {
		json_object_set_new(o, "type", json_string("invalid"));
		json_object_set_new(o, "error", json_string(kz_strerror(rc)));
		return o;
	}
	json_object_set_new(o, "type", json_string(kz_op_type_name(op->type)));
	json_object_set_new(o, "actor", json_string(op->actor ? op->actor : ""));
	op_fields_json(o, op);
	kz_op_free(op);
	return o;
}

static void
print_id8(const uint8_t *id)
{
	for (int i = 0; i < 4; i++)
		printf("%02x", id[i]);
}

static void
print_yes_no(const char *field, bool v)
{
	printf(" %s=%s", field, v ? "yes" : "no");
}

/* One decoded op, as the rest of a log line. */
static void
op_fields_print(struct log_ctx *lc, const struct kz_op *op)
{
	char buf[KZ_NAME_MAX + 1], fp[KZ_FINGERPRINT_CHARS + 1];

	printf("%s", kz_op_type_name(op->type));
	switch (op->type) {
	case KZ_OP_POST: {
		const struct kz_post *p = &op->u.post;

		printf(" #%s", cli_names_channel(&lc->names, p->channel, buf));
		if (p->priority != KZ_PRIO_NORMAL)
			printf(" [%s]", kz_priority_name(p->priority));
		if (p->thread_root != NULL) {
			printf(" (reply to ");
			print_id8(p->thread_root);
			printf(")");
		}
		printf(": %s", p->text);
		for (size_t i = 0; i < p->n_mentions; i++)
			printf("%s@%s", i == 0 ? " (mentions " : " ", p->mentions[i]);
		if (p->n_mentions > 0)
			printf(")");
		break;
	}
	case KZ_OP_MESH_CREATE:
		printf(" %s (id ", op->u.mesh_create.name);
		print_id8(op->u.mesh_create.mesh_id);
		printf(")");
		break;
	case KZ_OP_NODE_ADMIT:
		kz_fingerprint(fp, op->u.node_admit.node);
		printf(" %s as %s%s", fp, op->u.node_admit.name,
		    op->u.node_admit.admin ? " (admin)" : "");
		break;
	case KZ_OP_NODE_REVOKE:
		kz_fingerprint(fp, op->u.node_revoke.node);
		printf(" %s after seq %llu", fp,
		    (unsigned long long)op->u.node_revoke.last_seq);
		if (op->u.node_revoke.reason && op->u.node_revoke.reason[0])
			printf(": %s", op->u.node_revoke.reason);
		break;
	case KZ_OP_USER_SET: {
		const struct kz_user_set *u = &op->u.user_set;

		printf(" %s:", u->user);
		if (u->set & KZ_USER_SET_DISPLAY_NAME)
			printf(" name=\"%s\"", u->display_name);
		if (u->set & KZ_USER_SET_DEPARTMENT)
			printf(" department=\"%s\"", u->department ? u->department : "");
		if (u->set & KZ_USER_SET_ROLE)
			printf(" role=%s", kz_role_name(u->role));
		if (u->set & KZ_USER_SET_PASSWORD)
			printf(" password=%s", u->password_hash && u->password_hash[0] ?
			    "set" : "cleared");
		if (u->set & KZ_USER_SET_ACTIVE)
			print_yes_no("active", u->active);
		break;
	}
	case KZ_OP_CHANNEL_CREATE:
		printf(" #%s", op->u.channel_create.name);
		if (op->u.channel_create.topic && op->u.channel_create.topic[0])
			printf(" topic=\"%s\"", op->u.channel_create.topic);
		break;
	case KZ_OP_CHANNEL_SET: {
		const struct kz_channel_set *s = &op->u.channel_set;

		printf(" #%s:", cli_names_channel(&lc->names, s->channel, buf));
		if (s->set & KZ_CHANNEL_SET_NAME)
			printf(" name=\"%s\"", s->name);
		if (s->set & KZ_CHANNEL_SET_TOPIC)
			printf(" topic=\"%s\"", s->topic ? s->topic : "");
		if (s->set & KZ_CHANNEL_SET_ARCHIVED)
			print_yes_no("archived", s->archived);
		break;
	}
	case KZ_OP_EDIT:
		putchar(' ');
		print_id8(op->u.edit.target);
		printf(": %s", op->u.edit.text);
		break;
	case KZ_OP_DELETE:
	case KZ_OP_PURGE:
	case KZ_OP_ACK:
		putchar(' ');
		print_id8(op->u.del.target);
		break;
	case KZ_OP_REACT:
		putchar(' ');
		print_id8(op->u.react.target);
		printf(" %s %s", op->u.react.emoji, op->u.react.on ? "on" : "off");
		break;
	case KZ_OP_SAFETY:
		printf(" %s: %s", op->u.safety.user && op->u.safety.user[0] ?
		    op->u.safety.user : op->actor ? op->actor : "",
		    kz_safety_name(op->u.safety.status));
		if (op->u.safety.place && op->u.safety.place[0])
			printf(", at %s", op->u.safety.place);
		if (op->u.safety.note && op->u.safety.note[0])
			printf(" - %s", op->u.safety.note);
		break;
	case KZ_OP_LINK_REPORT:
		/* "link_report: 支所 tcp up, 駅 tcp down" */
		printf(":");
		for (size_t i = 0; i < op->u.link_report.n_links; i++) {
			const struct kz_report_link *l = &op->u.link_report.links[i];

			printf("%s %s %s %s", i == 0 ? "" : ",",
			    cli_names_node(&lc->names, l->peer, buf), l->transport,
			    l->up ? "up" : "down");
		}
		if (op->u.link_report.n_links == 0)
			printf(" no links");
		break;
	default:
		break;
	}
}

static void
op_print(struct log_ctx *lc, const struct kz_entry_view *e)
{
	struct kz_op *op = NULL;
	int rc;

	if (e->op == NULL) {
		printf("(purged)\n");
		return;
	}
	rc = kz_op_decode(&op, e->op, e->op_len);
	if (rc < 0) {
		printf("(invalid operation: %s)\n", kz_strerror(rc));
		return;
	}
	printf("%s ", op->actor && op->actor[0] ? op->actor : "(node)");
	op_fields_print(lc, op);
	putchar('\n');
	kz_op_free(op);
}

static int
on_log_entry(void *ctx, const struct kz_entry_view *e)
{
	struct log_ctx *lc = ctx;
	struct cli *c = lc->c;
	char when[32], fp[KZ_FINGERPRINT_CHARS + 1];

	cli_format_hlc(when, e->h.hlc);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "author", cli_json_hex(e->h.author, KZ_PK_BYTES));
		json_object_set_new(o, "seq", json_integer((json_int_t)e->h.seq));
		json_object_set_new(o, "hlc", json_integer((json_int_t)e->h.hlc));
		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "hash", cli_json_hex(e->hash, KZ_HASH_BYTES));
		json_object_set_new(o, "op_len", json_integer(e->h.op_len));
		json_object_set_new(o, "op", op_json(e));
		cli_json_line(o);
	} else {
		kz_fingerprint(fp, e->h.author);
		printf("%s  %s #%-6llu ", when, fp, (unsigned long long)e->h.seq);
		op_print(lc, e);
	}
	return 0;
}

int
cmd_log(struct cli *c, int argc, char **argv)
{
	struct log_ctx lc = { .c = c };
	int rc;

	if ((rc = cli_no_args_open(c, cli_find_cmd("log"), argc, argv)) >= 0)
		return rc;
	if ((rc = cli_names_load(c, &lc.names)) < 0)
		return cli_fail_workspace(c, rc);
	rc = kz_store_log(c->st, on_log_entry, &lc);
	cli_names_free(&lc.names);
	if (rc < 0)
		return cli_fail(c, "cannot read the log: %s", kz_strerror(rc));
	return 0;
}

/* ------------------------------------------------------------ verify */

int
cmd_verify(struct cli *c, int argc, char **argv)
{
	struct kz_verify_report rep;
	char hex[2 * KZ_PK_BYTES + 1];
	uint8_t content[KZ_HASH_BYTES];
	int rc;

	if ((rc = cli_no_args_open(c, cli_find_cmd("verify"), argc, argv)) >= 0)
		return rc;
	rc = kz_store_verify(c->st, &rep);
	if (rc == 0)
		rc = kz_store_content_digest(c->st, content);
	if (rc < 0)
		return cli_fail(c, "verify could not read the store: %s",
		    kz_strerror(rc));
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "ok", json_boolean(rep.ok));
		json_object_set_new(o, "feeds", json_integer((json_int_t)rep.feeds));
		json_object_set_new(o, "entries", json_integer((json_int_t)rep.entries));
		json_object_set_new(o, "signatures",
		    json_integer((json_int_t)rep.signatures));
		json_object_set_new(o, "content_digest",
		    cli_json_hex(content, KZ_HASH_BYTES));
		if (!rep.ok) {
			json_object_set_new(o, "bad_feed",
			    cli_json_hex(rep.bad_feed, KZ_PK_BYTES));
			json_object_set_new(o, "bad_seq",
			    json_integer((json_int_t)rep.bad_seq));
			json_object_set_new(o, "reason", json_string(rep.reason));
		}
		cli_json_line(o);
	}
	if (!rep.ok) {
		kz_hex(hex, rep.bad_feed, KZ_PK_BYTES);
		return cli_fail(c, "verify FAILED: feed %s seq %llu: %s", hex,
		    (unsigned long long)rep.bad_seq, rep.reason);
	}
	if (!c->json) {
		kz_hex(hex, content, KZ_HASH_BYTES);
		printf("ok: %llu feeds, %llu entries, %llu signatures verified\n"
		    "content digest: %s\n", (unsigned long long)rep.feeds,
		    (unsigned long long)rep.entries,
		    (unsigned long long)rep.signatures, hex);
	}
	return 0;
}

/* ------------------------------------------------------------ run files */

struct export_opts {
	uint8_t feed[KZ_PK_BYTES];
	bool have_feed;
	uint64_t from;
};

static int
on_export_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct export_opts *eo = ctx;
	int rc;

	if (ch == 'f') {
		if (kz_unhex(eo->feed, sizeof(eo->feed), arg) < 0)
			return cli_bad(c, "--feed takes a node key of 64 hex digits");
		eo->have_feed = true;
	} else if (ch == 'F') {
		if ((rc = cli_parse_range(c, arg, 1, UINT64_MAX, &eo->from,
		    "--from takes a seq of 1 or more")) != 0)
			return rc;
	}
	return -1;
}

int
cmd_export_run(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "feed", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_opts eo = { .from = 1 };
	struct kz_runfile_writer *w = NULL;
	uint64_t seq, tip, entries = 0, runs = 0, from;
	uint8_t *feed = eo.feed;
	const char *file;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("export-run"), argc, argv, opts, "f:F:", 1,
	    on_export_opt, &eo);
	if (rc >= 0)
		return rc;
	from = eo.from;
	file = argv[optind];
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if (!eo.have_feed)
		memcpy(feed, c->kp.pk, KZ_PK_BYTES);
	if ((rc = kz_store_tip(c->st, feed, &tip, NULL)) < 0)
		return cli_fail(c, "cannot read store: %s", kz_strerror(rc));
	if (tip < from)
		return cli_fail(c, "nothing to export: the feed holds %llu entries",
		    (unsigned long long)tip);
	if ((rc = kz_runfile_writer_new(&w, file)) < 0)
		return cli_fail(c, "cannot write %s: %s", file, strerror(errno));
	for (seq = from; seq <= tip;) {
		struct kz_run *run = NULL;

		rc = kz_store_read_run(c->st, feed, seq, EXPORT_RUN_ENTRIES,
		    EXPORT_RUN_BYTES, &run);
		if (rc == 0)
			rc = kz_runfile_writer_add(w, run);
		if (rc < 0) {
			kz_run_free(run);
			kz_runfile_writer_free(w);
			return cli_fail(c, "export stopped at seq %llu: %s",
			    (unsigned long long)seq, kz_strerror(rc));
		}
		seq += run->n;
		entries += run->n;
		runs++;
		kz_run_free(run);
	}
	if ((rc = kz_runfile_writer_close(w)) < 0)
		return cli_fail(c, "cannot write %s: %s", file, kz_strerror(rc));
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "file", json_string(file));
		json_object_set_new(o, "feed", cli_json_hex(feed, KZ_PK_BYTES));
		json_object_set_new(o, "from", json_integer((json_int_t)from));
		json_object_set_new(o, "to", json_integer((json_int_t)tip));
		json_object_set_new(o, "entries", json_integer((json_int_t)entries));
		json_object_set_new(o, "runs", json_integer((json_int_t)runs));
		cli_json_line(o);
	} else {
		printf("wrote %llu entries (seq %llu..%llu) in %llu runs to %s\n",
		    (unsigned long long)entries, (unsigned long long)from,
		    (unsigned long long)tip, (unsigned long long)runs, file);
	}
	return 0;
}

int
cmd_import_run(struct cli *c, int argc, char **argv)
{
	struct kz_runfile_reader *r = NULL;
	struct kz_ingest_result res;
	uint64_t added = 0, dup = 0, runs = 0, rejected = 0;
	/* Refused runs by reason (kz_errname, lower case), for --json. */
	json_t *by = NULL;
	const char *file;
	char fp[KZ_FINGERPRINT_CHARS + 1];
	bool damaged = false;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("import-run"), argc, argv, NULL, NULL, 1,
	    NULL, NULL);
	if (rc >= 0)
		return rc;
	file = argv[optind];
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	rc = kz_runfile_reader_new(&r, file);
	if (rc == KZ_ERR_IO)
		return cli_fail(c, "cannot read %s: %s", file, strerror(errno));
	if (rc < 0)
		return cli_fail(c, "%s is not a kizuna run file", file);
	by = json_object();
	for (;;) {
		struct kz_run *run = NULL;

		rc = kz_runfile_reader_next(r, &run);
		if (rc == 1)
			break;
		if (rc < 0) {
			cli_warn(c, "%s: damaged at byte %llu: %s", file,
			    (unsigned long long)kz_runfile_reader_offset(r),
			    kz_strerror(rc));
			damaged = true;
			if (rc == KZ_ERR_MALFORMED)
				continue;	/* framing intact: try the next run */
			break;
		}
		runs++;
		rc = kz_store_ingest(c->st, run, &res);
		if (rc < 0 && by != NULL) {
			char name[32];
			size_t i;
			json_t *n;

			snprintf(name, sizeof(name), "%s", kz_errname(rc));
			for (i = 0; name[i] != '\0'; i++)
				if (name[i] >= 'A' && name[i] <= 'Z')
					name[i] = (char)(name[i] - 'A' + 'a');
			n = json_object_get(by, name);
			json_object_set_new(by, name, json_integer(n != NULL ?
			    json_integer_value(n) + 1 : 1));
		}
		if (rc < 0 && rc != KZ_ERR_FORK) {
			kz_fingerprint(fp, run->author);
			cli_warn(c, "%s: run of feed %s seq %llu..%llu rejected: "
			    "%s", file, fp,
			    (unsigned long long)run->first_seq,
			    (unsigned long long)(run->first_seq + run->n - 1),
			    kz_strerror(rc));
			rejected++;
		} else if (rc == KZ_ERR_FORK) {
			kz_fingerprint(fp, run->author);
			cli_warn(c, "%s: FORK in feed %s at seq %llu: proof kept, "
			    "first-seen entries kept", file, fp,
			    (unsigned long long)res.fork_seq);
			rejected++;
		}
		added += res.added;
		dup += res.duplicate;
		kz_run_free(run);
		if (rc == KZ_ERR_FULL || rc == KZ_ERR_DB || rc == KZ_ERR_NOMEM)
			break;
	}
	kz_runfile_reader_free(r);
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "file", json_string(file));
		json_object_set_new(o, "runs", json_integer((json_int_t)runs));
		json_object_set_new(o, "added", json_integer((json_int_t)added));
		json_object_set_new(o, "duplicate", json_integer((json_int_t)dup));
		json_object_set_new(o, "rejected", json_integer((json_int_t)rejected));
		json_object_set_new(o, "rejected_by", by);
		by = NULL;
		json_object_set_new(o, "damaged", json_boolean(damaged));
		cli_json_line(o);
	} else {
		printf("imported %llu new entries (%llu already held) from %llu runs"
		    "; %llu runs rejected%s\n", (unsigned long long)added,
		    (unsigned long long)dup, (unsigned long long)runs,
		    (unsigned long long)rejected, damaged ? "; file damaged" : "");
	}
	json_decref(by);
	return rejected > 0 || damaged ? 1 : 0;
}
