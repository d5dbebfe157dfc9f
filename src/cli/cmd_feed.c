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
#include "kizuna/util.h"

#define EXPORT_RUN_ENTRIES 1000
#define EXPORT_RUN_BYTES (1024 * 1024)

static int
on_post_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct kz_post *post = ctx;

	if (ch == 'p' && kz_priority_parse(&post->priority, arg) < 0) {
		cli_fail(c, "unknown priority '%s' (normal, urgent or emergency)", arg);
		return EXIT_USAGE;
	}
	return -1;
}

int
cmd_post(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct kz_post post = { 0 };
	struct kz_appended app;
	uint8_t *op = NULL;
	size_t op_len;
	char hex[2 * KZ_HASH_BYTES + 1];
	int rc;

	rc = cli_getopt(c, cli_find_cmd("post"), argc, argv, opts, "p:", 2,
	    on_post_opt, &post);
	if (rc >= 0)
		return rc;
	post.channel = argv[optind];
	post.text = argv[optind + 1];
	rc = kz_op_encode_post(&op, &op_len, &post);
	switch (rc) {
	case 0:
		break;
	case KZ_ERR_TOO_BIG:
		return cli_fail(c, "post refused: the channel name may be at most %d "
		    "bytes and the text at most %d bytes", KZ_NAME_MAX, KZ_TEXT_MAX);
	case KZ_ERR_BAD_UTF8:
		return cli_fail(c, "post refused: channel and text must be valid UTF-8");
	case KZ_ERR_INVAL:
		return cli_fail(c, "post refused: the channel name is empty");
	default:
		return cli_fail(c, "post refused: %s", kz_strerror(rc));
	}
	if ((rc = cli_open_node(c)) != 0)
		goto out;
	rc = kz_store_append(c->st, &c->kp, cli_now_ms(), op, op_len, &app);
	if (rc < 0) {
		rc = cli_fail(c, "post not stored: %s%s", kz_strerror(rc),
		    rc == KZ_ERR_FULL ? " (free some space and post again)" : "");
		goto out;
	}
	kz_hex(hex, app.hash, KZ_HASH_BYTES);
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "seq", json_integer((json_int_t)app.seq));
		json_object_set_new(o, "hlc", json_integer((json_int_t)app.hlc));
		json_object_set_new(o, "hash", json_string(hex));
		cli_json_line(o);
	} else {
		printf("posted to #%s as seq %llu (%.16s)\n", post.channel,
		    (unsigned long long)app.seq, hex);
	}
	rc = 0;
out:
	free(op);
	return rc;
}

/* ------------------------------------------------------------ log */

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
	if (op->type == KZ_OP_POST) {
		const struct kz_post *p = &op->u.post;
		json_t *m = json_array();
		size_t i;

		json_object_set_new(o, "type", json_string("post"));
		json_object_set_new(o, "channel", json_string(p->channel));
		json_object_set_new(o, "text", json_string(p->text));
		json_object_set_new(o, "priority",
		    json_string(kz_priority_name(p->priority)));
		json_object_set_new(o, "thread_root", p->thread_root ?
		    cli_json_hex(p->thread_root, KZ_HASH_BYTES) : json_null());
		for (i = 0; i < p->n_mentions; i++)
			json_array_append_new(m, json_string(p->mentions[i]));
		json_object_set_new(o, "mentions", m);
	}
	kz_op_free(op);
	return o;
}

static void
op_print(const struct kz_entry_view *e)
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
	if (op->type == KZ_OP_POST) {
		const struct kz_post *p = &op->u.post;

		printf("#%s", p->channel);
		if (p->priority != KZ_PRIO_NORMAL)
			printf(" [%s]", kz_priority_name(p->priority));
		printf(": %s\n", p->text);
	}
	kz_op_free(op);
}

static int
on_log_entry(void *ctx, const struct kz_entry_view *e)
{
	struct cli *c = ctx;
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
		op_print(e);
	}
	return 0;
}

int
cmd_log(struct cli *c, int argc, char **argv)
{
	int rc;

	if ((rc = cli_no_args(c, cli_find_cmd("log"), argc, argv)) >= 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	rc = kz_store_log(c->st, on_log_entry, c);
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
	int rc;

	if ((rc = cli_no_args(c, cli_find_cmd("verify"), argc, argv)) >= 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	rc = kz_store_verify(c->st, &rep);
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
	if (!c->json)
		printf("ok: %llu feeds, %llu entries, %llu signatures verified\n",
		    (unsigned long long)rep.feeds, (unsigned long long)rep.entries,
		    (unsigned long long)rep.signatures);
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

	if (ch == 'f') {
		if (kz_unhex(eo->feed, sizeof(eo->feed), arg) < 0) {
			cli_fail(c, "--feed takes a node key of 64 hex digits");
			return EXIT_USAGE;
		}
		eo->have_feed = true;
	} else if (ch == 'F') {
		if (cli_parse_u64(arg, &eo->from) < 0 || eo->from == 0) {
			cli_fail(c, "--from takes a seq of 1 or more");
			return EXIT_USAGE;
		}
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
	for (;;) {
		struct kz_run *run = NULL;

		rc = kz_runfile_reader_next(r, &run);
		if (rc == 1)
			break;
		if (rc < 0) {
			fprintf(stderr, "%s: %s: damaged at byte %llu: %s\n", c->prog,
			    file, (unsigned long long)kz_runfile_reader_offset(r),
			    kz_strerror(rc));
			damaged = true;
			if (rc == KZ_ERR_MALFORMED)
				continue;	/* framing intact: try the next run */
			break;
		}
		runs++;
		rc = kz_store_ingest(c->st, run, &res);
		if (rc < 0 && rc != KZ_ERR_FORK) {
			kz_fingerprint(fp, run->author);
			fprintf(stderr, "%s: %s: run of feed %s seq %llu..%llu "
			    "rejected: %s\n", c->prog, file, fp,
			    (unsigned long long)run->first_seq,
			    (unsigned long long)(run->first_seq + run->n - 1),
			    kz_strerror(rc));
			rejected++;
		} else if (rc == KZ_ERR_FORK) {
			kz_fingerprint(fp, run->author);
			fprintf(stderr, "%s: %s: FORK in feed %s at seq %llu: proof "
			    "kept, first-seen entries kept\n", c->prog, file, fp,
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
		json_object_set_new(o, "damaged", json_boolean(damaged));
		cli_json_line(o);
	} else {
		printf("imported %llu new entries (%llu already held) from %llu runs"
		    "; %llu runs rejected%s\n", (unsigned long long)added,
		    (unsigned long long)dup, (unsigned long long)runs,
		    (unsigned long long)rejected, damaged ? "; file damaged" : "");
	}
	return rejected > 0 || damaged ? 1 : 0;
}
