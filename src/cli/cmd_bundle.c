/* kizuna bundle export, import, inspect, vector: sync by carried files. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kizuna/bundle.h"
#include "kizuna/err.h"
#include "kizuna/util.h"
#include "kizuna/views.h"

static int cmd_bundle_export(struct cli *c, int argc, char **argv);
static int cmd_bundle_import(struct cli *c, int argc, char **argv);
static int cmd_bundle_inspect(struct cli *c, int argc, char **argv);
static int cmd_bundle_vector(struct cli *c, int argc, char **argv);

static const struct cli_cmd bundle_cmds[] = {
	{ "bundle export", cmd_bundle_export, "[--since VECTORFILE] [--for NODEKEY] FILE",
	  "write what the holder of VECTORFILE lacks, or what NODEKEY lacked when "
	  "last heard of (its vector kept in HOME/vectors), else everything" },
	{ "bundle import", cmd_bundle_import, "FILE",
	  "verify a bundle and ingest what it holds (idempotent)" },
	{ "bundle inspect", cmd_bundle_inspect, "FILE",
	  "show what a bundle holds and check every record, without a node" },
	{ "bundle vector", cmd_bundle_vector, "FILE",
	  "write what this node holds, for another node's 'bundle export --since'" },
};

int
cmd_bundle(struct cli *c, int argc, char **argv)
{
	return cli_group(c, cli_find_cmd("bundle"), bundle_cmds,
	    CLI_NELEM(bundle_cmds), argc, argv);
}

/* The error's symbolic name in lower case ("bad_sig"). */
static void
reason_name(char out[32], int err)
{
	size_t i;

	snprintf(out, 32, "%s", kz_errname(err));
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
}

/* ---------------------------------------------------------------- export */

struct export_opts {
	const char *since;
	bool has_target;
	uint8_t target[KZ_PK_BYTES];
};

static int
on_export_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct export_opts *eo = ctx;

	if (ch == 's')
		eo->since = arg;
	else if (ch == 'f') {
		if (kz_unhex(eo->target, sizeof(eo->target), arg) < 0)
			return cli_bad(c, "--for takes a node key of 64 hex digits");
		eo->has_target = true;
	}
	return -1;
}

static int
cmd_bundle_export(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "for", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_opts eo = { 0 };
	struct kz_bundle_summary sum;
	struct kz_vector since = { 0 };
	bool have_since;
	const char *file;
	int rc;

	rc = cli_getopt(c, &bundle_cmds[0], argc, argv, opts, "s:f:", 1,
	    on_export_opt, &eo);
	if (rc >= 0)
		return rc;
	file = argv[optind];
	if (eo.since != NULL) {
		rc = kz_vector_read(eo.since, &since);
		if (rc == KZ_ERR_IO)
			return cli_fail(c, "cannot read %s: %s", eo.since,
			    strerror(errno));
		if (rc < 0)
			return cli_fail(c, "%s is not a kizuna vector file (%s)",
			    eo.since, kz_strerror(rc));
		if (eo.has_target && memcmp(eo.target, since.node, KZ_PK_BYTES) != 0) {
			kz_vector_free(&since);
			return cli_bad(c, "--for names another node than the vector "
			    "file's");
		}
		memcpy(eo.target, since.node, KZ_PK_BYTES);
		eo.has_target = true;
	}
	if ((rc = cli_open_node(c)) != 0) {
		kz_vector_free(&since);
		return rc;
	}
	have_since = eo.since != NULL;
	if (!have_since && eo.has_target) {
		/* What that node held when last heard of (kizunad keeps the
		 * vectors it meets in HOME/vectors/). */
		char path[4096 + 100], hex[65];

		kz_hex(hex, eo.target, KZ_PK_BYTES);
		snprintf(path, sizeof(path), "%s/vectors/%s.kzv", c->home, hex);
		rc = kz_vector_read(path, &since);
		if (rc == 0 && memcmp(since.node, eo.target, KZ_PK_BYTES) == 0) {
			have_since = true;
		} else {
			kz_vector_free(&since);
			cli_warn(c, "no vector of node %.16s is known here: writing "
			    "everything", hex);
		}
	}
	rc = kz_bundle_export(c->st, file, &c->kp, eo.has_target ? eo.target : NULL,
	    have_since ? &since : NULL, cli_now_ms(), &sum);
	kz_vector_free(&since);
	if (rc == 1) {
		if (c->json) {
			json_t *o = json_object();

			json_object_set_new(o, "file", json_null());
			json_object_set_new(o, "entries", json_integer(0));
			cli_json_line(o);
		} else {
			printf("nothing to export: the other node holds everything "
			    "this one does; no file written\n");
		}
		return 0;
	}
	if (rc < 0)
		return cli_fail(c, "cannot write %s: %s", file, kz_strerror(rc));
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(file));
		json_object_set_new(o, "feeds", json_integer((json_int_t)sum.feeds));
		json_object_set_new(o, "runs", json_integer((json_int_t)sum.runs));
		json_object_set_new(o, "alone", json_integer((json_int_t)sum.alone));
		json_object_set_new(o, "entries", json_integer((json_int_t)sum.entries));
		json_object_set_new(o, "bytes", json_integer((json_int_t)sum.bytes));
		cli_json_line(o);
	} else {
		printf("wrote %s: %llu entries of %llu feeds in %llu runs, %llu "
		    "urgent entries alone, %llu bytes\n", file,
		    (unsigned long long)sum.entries, (unsigned long long)sum.feeds,
		    (unsigned long long)sum.runs, (unsigned long long)sum.alone,
		    (unsigned long long)sum.bytes);
	}
	return 0;
}

/* ---------------------------------------------------------------- import */

struct import_ctx {
	struct cli *c;
	const char *file;
	json_t *problems;
	int store_err;
};

static bool
accept_feed(void *ctx, const uint8_t feed[KZ_PK_BYTES])
{
	struct import_ctx *ic = ctx;
	bool ok = false;
	int rc = kz_views_node_admitted(ic->c->st, feed, &ok);

	if (rc < 0 && ic->store_err == 0)
		ic->store_err = rc;
	return ok;
}

static const char *
problem_what(const struct kz_bundle_problem *p)
{
	if (p->missing)
		return "missing (the file ends before it)";
	switch (p->err) {
	case KZ_ERR_CORRUPT:
	case KZ_ERR_MALFORMED:
	case KZ_ERR_TOO_BIG:
	case KZ_ERR_TRUNCATED:
	case KZ_ERR_IO:
		return "damaged";
	case KZ_ERR_NOT_FOUND:
		return "refused: its node is not a member of this mesh";
	case KZ_ERR_FORK:
		return "a FORK (proof kept, first-seen entries kept)";
	default:
		return "rejected";
	}
}

static void
on_problem(void *ctx, const struct kz_bundle_problem *p)
{
	struct import_ctx *ic = ctx;
	char fp[KZ_FINGERPRINT_CHARS + 1], why[32];

	reason_name(why, p->err);
	if (ic->problems != NULL) {
		json_t *o = json_object();

		json_object_set_new(o, "index", json_integer((json_int_t)p->index));
		json_object_set_new(o, "offset", json_integer((json_int_t)p->offset));
		if (p->known) {
			json_object_set_new(o, "feed", cli_json_hex(p->feed, KZ_PK_BYTES));
			json_object_set_new(o, "first_seq",
			    json_integer((json_int_t)p->first_seq));
			json_object_set_new(o, "last_seq",
			    json_integer((json_int_t)p->last_seq));
		}
		json_object_set_new(o, "reason", json_string(why));
		json_object_set_new(o, "missing", json_boolean(p->missing));
		json_array_append_new(ic->problems, o);
	}
	if (!p->known) {
		cli_warn(ic->c, "%s: record %zu at byte %llu %s: %s", ic->file,
		    p->index, (unsigned long long)p->offset, problem_what(p),
		    kz_strerror(p->err));
		return;
	}
	kz_fingerprint(fp, p->feed);
	if (p->missing)
		cli_warn(ic->c, "%s: run of feed %s seq %llu..%llu %s", ic->file, fp,
		    (unsigned long long)p->first_seq,
		    (unsigned long long)p->last_seq, problem_what(p));
	else
		cli_warn(ic->c, "%s: run of feed %s seq %llu..%llu at byte %llu %s: "
		    "%s", ic->file, fp, (unsigned long long)p->first_seq,
		    (unsigned long long)p->last_seq, (unsigned long long)p->offset,
		    problem_what(p), kz_strerror(p->err));
}

static int
cmd_bundle_import(struct cli *c, int argc, char **argv)
{
	struct import_ctx ic = { .c = c };
	struct kz_bundle_import_opts o = { .accept_feed = accept_feed,
	    .problem = on_problem, .ctx = &ic };
	struct kz_bundle_report rep;
	int rc;

	rc = cli_getopt(c, &bundle_cmds[1], argc, argv, NULL, NULL, 1, NULL, NULL);
	if (rc >= 0)
		return rc;
	ic.file = argv[optind];
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if (c->json)
		ic.problems = json_array();
	rc = kz_bundle_import(c->st, ic.file, &o, &rep);
	if (rc == KZ_ERR_IO) {
		json_decref(ic.problems);
		return cli_fail(c, "cannot read %s: %s", ic.file, strerror(errno));
	}
	if (rc == KZ_ERR_MALFORMED) {
		json_decref(ic.problems);
		return cli_fail(c, "%s is not a kizuna bundle", ic.file);
	}
	if (rep.refused) {
		json_decref(ic.problems);
		return cli_fail(c, "%s refused: it was written by a node that is not "
		    "a member of this mesh; nothing imported", ic.file);
	}
	if (!rep.sealed)
		cli_warn(c, "%s: the bundle's header is damaged or its seal does "
		    "not verify: records read one by one, each checked by its own "
		    "signature", ic.file);
	if (c->json) {
		json_t *j = json_object();

		json_object_set_new(j, "file", json_string(ic.file));
		json_object_set_new(j, "sealed", json_boolean(rep.sealed));
		json_object_set_new(j, "records", json_integer((json_int_t)rep.records));
		json_object_set_new(j, "added", json_integer((json_int_t)rep.added));
		json_object_set_new(j, "duplicate", json_integer((json_int_t)rep.duplicate));
		json_object_set_new(j, "damaged", json_integer((json_int_t)rep.damaged));
		json_object_set_new(j, "rejected", json_integer((json_int_t)rep.rejected));
		json_object_set_new(j, "missing", json_integer((json_int_t)rep.missing));
		json_object_set_new(j, "forks", json_integer((json_int_t)rep.forks));
		json_object_set_new(j, "problems", ic.problems);
		ic.problems = NULL;
		cli_json_line(j);
	} else {
		printf("imported %llu new entries (%llu already held) from %llu "
		    "records; %llu damaged, %llu rejected, %llu missing\n",
		    (unsigned long long)rep.added, (unsigned long long)rep.duplicate,
		    (unsigned long long)rep.records, (unsigned long long)rep.damaged,
		    (unsigned long long)(rep.rejected + rep.forks),
		    (unsigned long long)rep.missing);
	}
	if (rc < 0)
		return cli_fail(c, "import stopped: %s; what was imported before "
		    "stays, and importing the file again resumes", kz_strerror(rc));
	if (ic.store_err != 0)
		return cli_fail(c, "cannot read the mesh's nodes: %s",
		    kz_strerror(ic.store_err));
	return rep.damaged + rep.rejected + rep.missing + rep.forks > 0 || !rep.sealed;
}

/* ---------------------------------------------------------------- inspect */

/* A feed's share of the bundle, for the listing. */
struct feed_sum {
	uint8_t feed[KZ_PK_BYTES];
	uint64_t first, last, entries, runs, alone;
};

static struct feed_sum *
feed_sum_of(struct feed_sum **fs, size_t *n, const uint8_t feed[KZ_PK_BYTES])
{
	size_t i;
	void *p;

	for (i = 0; i < *n; i++)
		if (memcmp((*fs)[i].feed, feed, KZ_PK_BYTES) == 0)
			return &(*fs)[i];
	if ((p = realloc(*fs, (*n + 1) * sizeof(**fs))) == NULL)
		return NULL;
	*fs = p;
	memset(&(*fs)[*n], 0, sizeof(**fs));
	memcpy((*fs)[*n].feed, feed, KZ_PK_BYTES);
	(*fs)[*n].first = UINT64_MAX;
	return &(*fs)[(*n)++];
}

static void
feed_sum_add(struct feed_sum *f, uint64_t first, uint64_t n, bool alone)
{
	if (alone) {
		f->alone++;
	} else {
		f->runs++;
		f->entries += n;
	}
	if (first < f->first)
		f->first = first;
	if (first + n - 1 > f->last)
		f->last = first + n - 1;
}

static void
print_inspect(const char *file, const struct kz_bundle_info *info,
    const struct feed_sum *fs, size_t nfs, uint64_t records, uint64_t bad)
{
	char fp[KZ_FINGERPRINT_CHARS + 1], when[32];
	size_t i;

	printf("%s: kizuna bundle, %s\n", file, info->sealed ?
	    "header sealed and verified" : "HEADER DAMAGED (not trusted)");
	if (info->sealed) {
		kz_fingerprint(fp, info->source);
		cli_format_hlc(when, info->created_ms << 16);
		printf("  written by %s on %s", fp, when);
		if (info->has_target) {
			kz_fingerprint(fp, info->target);
			printf(" for %s", fp);
		}
		printf("\n  %zu records, %llu entries, %llu bytes of records\n",
		    info->n_items, (unsigned long long)info->entries,
		    (unsigned long long)info->record_bytes);
	}
	for (i = 0; i < nfs; i++) {
		kz_fingerprint(fp, fs[i].feed);
		printf("  feed %s: seq %llu..%llu, %llu entries in %llu runs, "
		    "%llu urgent alone\n", fp, (unsigned long long)fs[i].first,
		    (unsigned long long)fs[i].last, (unsigned long long)fs[i].entries,
		    (unsigned long long)fs[i].runs, (unsigned long long)fs[i].alone);
	}
	printf("  %llu records read intact, %llu damaged or missing\n",
	    (unsigned long long)records, (unsigned long long)bad);
}

static json_t *
inspect_json(const char *file, const struct kz_bundle_info *info,
    const struct feed_sum *fs, size_t nfs, uint64_t records, uint64_t bad)
{
	json_t *o = json_object(), *feeds = json_array();
	size_t i;

	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "sealed", json_boolean(info->sealed));
	if (info->sealed) {
		json_object_set_new(o, "source", cli_json_hex(info->source, KZ_PK_BYTES));
		json_object_set_new(o, "target", info->has_target ?
		    cli_json_hex(info->target, KZ_PK_BYTES) : json_null());
		json_object_set_new(o, "created_ms",
		    json_integer((json_int_t)info->created_ms));
		json_object_set_new(o, "items", json_integer((json_int_t)info->n_items));
		json_object_set_new(o, "entries", json_integer((json_int_t)info->entries));
	}
	for (i = 0; i < nfs; i++) {
		json_t *f = json_object();

		json_object_set_new(f, "feed", cli_json_hex(fs[i].feed, KZ_PK_BYTES));
		json_object_set_new(f, "first_seq", json_integer((json_int_t)fs[i].first));
		json_object_set_new(f, "last_seq", json_integer((json_int_t)fs[i].last));
		json_object_set_new(f, "entries", json_integer((json_int_t)fs[i].entries));
		json_object_set_new(f, "runs", json_integer((json_int_t)fs[i].runs));
		json_object_set_new(f, "alone", json_integer((json_int_t)fs[i].alone));
		json_array_append_new(feeds, f);
	}
	json_object_set_new(o, "feeds", feeds);
	json_object_set_new(o, "intact", json_integer((json_int_t)records));
	json_object_set_new(o, "damaged", json_integer((json_int_t)bad));
	return o;
}

static int
cmd_bundle_inspect(struct cli *c, int argc, char **argv)
{
	struct kz_bundle_reader *r = NULL;
	const struct kz_bundle_info *info;
	struct feed_sum *fs = NULL;
	size_t nfs = 0, index, i;
	uint64_t records = 0, bad = 0;
	const char *file;
	int rc;

	rc = cli_getopt(c, &bundle_cmds[2], argc, argv, NULL, NULL, 1, NULL, NULL);
	if (rc >= 0)
		return rc;
	file = argv[optind];
	rc = kz_bundle_reader_new(&r, file);
	if (rc == KZ_ERR_IO)
		return cli_fail(c, "cannot read %s: %s", file, strerror(errno));
	if (rc < 0)
		return cli_fail(c, "%s is not a kizuna bundle", file);
	info = kz_bundle_reader_info(r);
	for (;;) {
		struct kz_run *run = NULL;
		struct feed_sum *f;

		rc = kz_bundle_reader_next(r, &run, &index);
		if (rc == 1)
			break;
		if (rc == KZ_ERR_NOMEM)
			goto nomem;
		if (rc < 0) {
			bool end = kz_bundle_reader_ended(r);

			cli_warn(c, "%s: record %zu at byte %llu damaged: %s", file,
			    index, (unsigned long long)kz_bundle_reader_offset(r),
			    kz_strerror(rc));
			bad++;
			if (!end)
				continue;
			for (i = index + 1; info->sealed && i < info->n_items; i++)
				bad++;
			break;
		}
		records++;
		f = feed_sum_of(&fs, &nfs, run->author);
		if (f == NULL) {
			kz_run_free(run);
			goto nomem;
		}
		feed_sum_add(f, run->first_seq, run->n, info->sealed ?
		    info->items[index].alone : false);
		kz_run_free(run);
	}
	if (c->json)
		cli_json_line(inspect_json(file, info, fs, nfs, records, bad));
	else
		print_inspect(file, info, fs, nfs, records, bad);
	rc = bad > 0 || !info->sealed;
	free(fs);
	kz_bundle_reader_free(r);
	return rc;
nomem:
	free(fs);
	kz_bundle_reader_free(r);
	return cli_fail(c, "out of memory");
}

/* ---------------------------------------------------------------- vector */

static int
cmd_bundle_vector(struct cli *c, int argc, char **argv)
{
	struct kz_vector v;
	const char *file;
	int rc;

	rc = cli_getopt(c, &bundle_cmds[3], argc, argv, NULL, NULL, 1, NULL, NULL);
	if (rc >= 0)
		return rc;
	file = argv[optind];
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if ((rc = kz_vector_of_store(c->st, c->kp.pk, cli_now_ms(), &v)) < 0)
		return cli_fail(c, "cannot read store: %s", kz_strerror(rc));
	rc = kz_vector_write(file, &v);
	if (rc == 0) {
		if (c->json) {
			json_t *o = json_object();

			json_object_set_new(o, "file", json_string(file));
			json_object_set_new(o, "feeds", json_integer((json_int_t)v.n));
			cli_json_line(o);
		} else {
			printf("wrote %s: what this node holds of %zu feeds\n", file, v.n);
		}
	}
	kz_vector_free(&v);
	return rc < 0 ? cli_fail(c, "cannot write %s: %s", file, kz_strerror(rc)) : 0;
}
