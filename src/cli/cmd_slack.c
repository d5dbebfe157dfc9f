/*
 * kizuna import slack EXPORT: a Slack workspace export (a ZIP, or a folder
 * of the same layout) into this node's feed (kizuna/slack.h; docs/slack.md);
 * kizuna export slack --channel CH ... OUT.zip: channels back as an export.
 *
 * The import is written in batches as the node itself (an admin node
 * vouches for what it imports).  While kizunad runs here, kizunad imports
 * (import_slack, kizuna/control.h) on its own store handle, a batch at a
 * time between its other work, and pushes each batch to its peers; this
 * command follows it (import_status) and reports as if it imported.
 * Otherwise it writes to the store directly.
 */
/* strptime(), timegm() and realpath() */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#define _GNU_SOURCE		/* asprintf() */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kizuna/control.h"
#include "kizuna/err.h"
#include "kizuna/slack.h"

static int cmd_import_slack(struct cli *c, int argc, char **argv);
static int cmd_export_slack(struct cli *c, int argc, char **argv);

static const struct cli_cmd import_cmds[] = {
	{ "import slack", cmd_import_slack, "EXPORT",
	  "import a Slack workspace export (a .zip, or its unpacked folder): "
	  "channels, users, messages, threads, reactions, file references; "
	  "importing again adds nothing twice" },
};

int
cmd_import(struct cli *c, int argc, char **argv)
{
	return cli_group(c, cli_find_cmd("import"), import_cmds,
	    CLI_NELEM(import_cmds), argc, argv);
}

static const struct cli_cmd export_cmds[] = {
	{ "export slack", cmd_export_slack,
	  "--channel CH [--channel CH]... [--since YYYY-MM-DD] OUT.zip",
	  "write channels as a Slack export (day files of Pacific dates): "
	  "imported messages keep their Slack ids and ts; no password hash, "
	  "e-mail address or access token is written" },
};

int
cmd_export(struct cli *c, int argc, char **argv)
{
	return cli_group(c, cli_find_cmd("export"), export_cmds,
	    CLI_NELEM(export_cmds), argc, argv);
}

#define EXPORT_CHANNELS_MAX 256

struct export_opts {
	const char *channels[EXPORT_CHANNELS_MAX];
	size_t n;
	const char *since;
};

static int
export_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct export_opts *eo = ctx;

	if (ch == 'c') {
		if (eo->n == EXPORT_CHANNELS_MAX)
			return cli_bad(c, "at most %d channels", EXPORT_CHANNELS_MAX);
		eo->channels[eo->n++] = arg;
	} else if (ch == 's') {
		eo->since = arg;
	}
	return -1;
}

/* "YYYY-MM-DD" (UTC midnight) to ms since the epoch; -1 if malformed. */
static int
parse_date(const char *s, uint64_t *ms)
{
	struct tm tm;
	char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0' || tm.tm_year < 70)
		return -1;
	t = timegm(&tm);
	if (t < 0)
		return -1;
	*ms = (uint64_t)t * 1000;
	return 0;
}

static int
cmd_export_slack(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "channel", required_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_opts eo = { .n = 0 };
	uint8_t (*ids)[KZ_ID_BYTES] = NULL;
	struct kz_slack_export_stats s;
	uint64_t since = 0;
	const char *out;
	size_t i;
	int rc;

	rc = cli_getopt(c, &export_cmds[0], argc, argv, opts, NULL, 1,
	    export_opt, &eo);
	if (rc >= 0)
		return rc;
	out = argv[optind];
	if (eo.n == 0)
		return cli_bad(c, "name the channels to export with --channel");
	if (eo.since != NULL && parse_date(eo.since, &since) < 0)
		return cli_bad(c, "--since wants a date as YYYY-MM-DD, not '%s'",
		    eo.since);
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if ((ids = calloc(eo.n, sizeof(*ids))) == NULL)
		return cli_fail(c, "out of memory");
	for (i = 0; i < eo.n; i++) {
		struct cli_channel ch;

		if ((rc = cli_channel_get(c, eo.channels[i], &ch)) != 0) {
			free(ids);
			return rc;
		}
		memcpy(ids[i], ch.id, KZ_ID_BYTES);
	}
	rc = kz_slack_export(c->st, (const uint8_t (*)[KZ_ID_BYTES])ids, eo.n,
	    since, out, &s);
	free(ids);
	if (rc == KZ_ERR_IO)
		return cli_fail(c, "cannot write %s: %s", out, strerror(errno));
	if (rc < 0)
		return cli_fail(c, "export failed: %s; nothing written",
		    kz_strerror(rc));
	if (c->json) {
		json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I}", "file", out,
		    "channels", (json_int_t)s.channels, "users", (json_int_t)s.users,
		    "messages", (json_int_t)s.messages, "day_files",
		    (json_int_t)s.day_files);

		cli_json_line(j);
	} else {
		printf("exported %llu channels, %llu messages in %llu day files and"
		    " %llu users to %s\n", (unsigned long long)s.channels,
		    (unsigned long long)s.messages, (unsigned long long)s.day_files,
		    (unsigned long long)s.users, out);
	}
	return 0;
}

struct import_ui {
	struct cli *c;
	const char *path;
	bool tty;		/* progress drawn on stderr */
	bool drawn;		/* a progress line is on the screen */
	struct timespec last;
	json_t *problems;	/* --json: the skipped items */
};

static void
clear_line(struct import_ui *ui)
{
	if (ui->drawn) {
		fputs("\r\033[K", stderr);
		ui->drawn = false;
	}
}

static void
on_problem(void *ctx, const char *file, unsigned line, const char *what)
{
	struct import_ui *ui = ctx;

	if (ui->problems != NULL) {
		json_t *p = json_object();

		json_object_set_new(p, "file", json_string(file));
		json_object_set_new(p, "line", json_integer(line));
		json_object_set_new(p, "what", json_string(what));
		json_array_append_new(ui->problems, p);
		return;
	}
	clear_line(ui);
	if (line > 0)
		cli_warn(ui->c, "%s:%u: %s", file, line, what);
	else
		cli_warn(ui->c, "%s: %s", file, what);
}

static void
on_progress(void *ctx, const struct kz_slack_stats *s)
{
	struct import_ui *ui = ctx;
	struct timespec now;
	char bar[31];
	size_t fill, i;
	double ms;

	if (!ui->tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - ui->last.tv_sec) * 1e3 +
	    (double)(now.tv_nsec - ui->last.tv_nsec) / 1e6;
	if (ui->drawn && ms < 100 && s->day_files_done < s->day_files)
		return;
	ui->last = now;
	fill = s->day_files ? (size_t)(30 * s->day_files_done / s->day_files) : 0;
	for (i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r\033[K[%s] %llu/%llu days  %llu messages  %llu users"
	    "  %llu channels", bar, (unsigned long long)s->day_files_done,
	    (unsigned long long)s->day_files, (unsigned long long)s->messages,
	    (unsigned long long)s->users, (unsigned long long)s->channels);
	ui->drawn = true;
}

/*
 * The summary of an import that ended with rc (0, or its error; why: the
 * error's message, NULL for kz_strerror's) and the command's exit status.
 */
static int
import_summary(struct import_ui *ui, int rc, const char *why,
    const struct kz_slack_stats *s, double secs)
{
	struct cli *c = ui->c;
	size_t i;

	clear_line(ui);
	if (c->json) {
		json_t *j = json_object();

		json_object_set_new(j, "export", json_string(ui->path));
		json_object_set_new(j, "complete", json_boolean(rc == 0));
		for (i = 0; i < KZ_SLACK_COUNTS; i++)
			json_object_set_new(j, kz_slack_stat_names[i].name,
			    json_integer((json_int_t)kz_slack_stat_value(s, i)));
		json_object_set_new(j, "seconds", json_real(secs));
		json_object_set_new(j, "problems", ui->problems);
		ui->problems = NULL;
		cli_json_line(j);
	} else {
		printf("%s %s: %llu channels, %llu users, %llu messages (%llu thread"
		    " replies, %llu system events), %llu reactions, %llu files"
		    " referenced; %llu already imported, %llu skipped; %llu entries"
		    " in %.1f s\n", rc == 0 ? "imported" : "partly imported",
		    ui->path, (unsigned long long)s->channels,
		    (unsigned long long)s->users, (unsigned long long)s->messages,
		    (unsigned long long)s->threads, (unsigned long long)s->system,
		    (unsigned long long)s->reactions, (unsigned long long)s->files,
		    (unsigned long long)s->present, (unsigned long long)s->skipped,
		    (unsigned long long)s->entries, secs);
	}
	if (rc == KZ_ERR_MALFORMED)
		return cli_fail(c, "%s is not a Slack export (no readable"
		    " channels.json); nothing imported", ui->path);
	if (rc < 0)
		return cli_fail(c, "import stopped: %s; what was committed stays,"
		    " and importing again resumes", why != NULL ? why :
		    kz_strerror(rc));
	return 0;
}

static double
since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec -
	    t0->tv_nsec) / 1e9;
}

static uint64_t
count_of(json_t *o, const char *key)
{
	json_int_t n = json_integer_value(json_object_get(o, key));

	return n > 0 ? (uint64_t)n : 0;
}

/*
 * The import done by the running kizunad (import_slack), followed with
 * import_status every IMPORT_POLL_MS: the same progress, reports, summary
 * and exit status as an import done here.  *none: no kizunad answered
 * (the caller imports directly).
 */
#define IMPORT_POLL_MS 200

static int
import_by_daemon(struct cli *c, struct import_ui *ui, bool *none)
{
	static const struct timespec poll = { 0, IMPORT_POLL_MS * 1000000L };
	struct kz_slack_stats s = { 0 };
	struct timespec t0;
	char *abs = NULL, cwd[4096];
	json_t *req = NULL, *resp = NULL, *e;
	const char *code, *msg, *state = NULL, *why = NULL;
	json_int_t id;
	size_t shown = 0, i;
	int rc;

	*none = false;
	/* kizunad reads the export itself: it is given an absolute path, and
	 * one that does not exist is named as the user wrote it, from here. */
	if ((abs = realpath(ui->path, NULL)) == NULL) {
		if (ui->path[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
			return cli_fail(c, "cannot import: %s: %s", ui->path,
			    strerror(errno));
		if (asprintf(&abs, "%s%s%s", ui->path[0] == '/' ? "" : cwd,
		    ui->path[0] == '/' ? "" : "/", ui->path) < 0)
			return cli_fail(c, "out of memory");
	}
	req = json_pack("{s:s,s:s}", "cmd", "import_slack", "path", abs);
	free(abs);
	if (req == NULL)
		return cli_fail(c, "cannot import: %s is not a UTF-8 path"
		    " (kizunad takes JSON)", ui->path);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cli_daemon_call(c, req, &resp);
	json_decref(req);
	if (rc == 1) {
		*none = true;
		return 0;
	}
	if (rc < 0)
		return 1;
	if (!json_is_true(json_object_get(resp, "ok"))) {
		e = json_object_get(resp, "error");
		code = json_string_value(json_object_get(e, "code"));
		msg = json_string_value(json_object_get(e, "message"));
		if (msg == NULL)
			msg = "refused, giving no reason";
		if (code != NULL && (strcmp(code, KZ_CONTROL_E_CANNOT_OPEN) == 0 ||
		    strcmp(code, KZ_CONTROL_E_NOT_ADMIN_NODE) == 0))
			rc = cli_fail(c, "%s%s", strncmp(msg, "cannot import: ", 15) ?
			    "cannot import: " : "", msg);
		else
			rc = cli_fail(c, "kizunad: %s", msg);
		json_decref(resp);
		return rc;
	}
	id = json_integer_value(json_object_get(resp, "import"));
	json_decref(resp);
	for (;;) {
		req = json_pack("{s:s,s:I}", "cmd", "import_status",
		    "problems_from", (json_int_t)shown);
		if (req == NULL)
			return cli_fail(c, "out of memory");
		rc = cli_daemon_call(c, req, &resp);
		json_decref(req);
		if (rc != 0) {
			/* kizunad stopped: it ended the import at a batch. */
			why = "kizunad stopped before the end";
			rc = KZ_ERR_IO;
			break;
		}
		if (!json_is_true(json_object_get(resp, "ok")) ||
		    json_integer_value(json_object_get(resp, "import")) != id) {
			json_decref(resp);
			resp = NULL;
			why = "kizunad no longer reports this import";
			rc = KZ_ERR_IO;
			break;
		}
		for (i = 0; i < KZ_SLACK_STATS; i++)
			*kz_slack_stat(&s, i) = count_of(resp,
			    kz_slack_stat_names[i].name);
		e = json_object_get(resp, "problems");
		for (i = 0; i < json_array_size(e); i++, shown++) {
			json_t *p = json_array_get(e, i);
			const char *file = json_string_value(json_object_get(p, "file"));
			const char *what = json_string_value(json_object_get(p, "what"));

			on_problem(ui, file != NULL ? file : "?",
			    (unsigned)count_of(p, "line"), what != NULL ? what : "?");
		}
		on_progress(ui, &s);
		state = json_string_value(json_object_get(resp, "state"));
		if (state == NULL || strcmp(state, "running") != 0) {
			if (shown < count_of(resp, "problems_kept") &&
			    json_array_size(e) > 0) {
				json_decref(resp);
				continue;	/* the rest of the reports first */
			}
			if (count_of(resp, "problems_total") > shown)
				cli_warn(c, "%llu more skipped items: see kizunad's log",
				    (unsigned long long)(count_of(resp,
				    "problems_total") - shown));
			break;
		}
		json_decref(resp);
		nanosleep(&poll, NULL);
	}
	if (rc == 0 && (state == NULL || strcmp(state, "complete") != 0)) {
		e = json_object_get(json_object_get(resp, "error"), "code");
		if (json_is_string(e) && strcmp(json_string_value(e),
		    "MALFORMED") == 0) {
			rc = KZ_ERR_MALFORMED;
		} else {
			rc = KZ_ERR_IO;
			msg = json_string_value(json_object_get(json_object_get(resp,
			    "error"), "message"));
			why = state != NULL && strcmp(state, "stopped") == 0 ?
			    "kizunad stopped before the end" : msg != NULL ? msg :
			    "kizunad's import failed";
		}
	}
	json_decref(resp);
	return import_summary(ui, rc, why, &s, since(&t0));
}

static int
cmd_import_slack(struct cli *c, int argc, char **argv)
{
	struct import_ui ui = { .c = c };
	struct kz_slack_import_opts o = { .ctx = &ui, .report = on_problem,
	    .progress = on_progress };
	struct kz_slack_stats s;
	struct kz_slack_src *src = NULL;
	struct timespec t0;
	const char *why;
	char err[512];
	bool none;
	int rc;

	rc = cli_getopt(c, &import_cmds[0], argc, argv, NULL, NULL, 1, NULL, NULL);
	if (rc >= 0)
		return rc;
	ui.path = argv[optind];
	if (c->actor != NULL)
		return cli_bad(c, "an import is written by the node itself, not"
		    " as a user: drop --as");
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if ((why = cli_ws_why(c, CLI_NEED_ADMIN_NODE, NULL)) != NULL)
		return cli_fail(c, "cannot import: %s", why);
	ui.tty = !c->json && isatty(STDERR_FILENO);
	if (c->json)
		ui.problems = json_array();
	/* While kizunad runs it is the node's writer: it imports. */
	rc = import_by_daemon(c, &ui, &none);
	if (!none) {
		json_decref(ui.problems);
		return rc;
	}
	if ((rc = kz_slack_open(&src, ui.path, err, sizeof(err))) < 0) {
		json_decref(ui.problems);
		return cli_fail(c, "cannot import: %s", err);
	}
	o.wall_ms = cli_now_ms();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = kz_slack_import(c->st, &c->kp, src, &o, &s);
	kz_slack_close(src);
	return import_summary(&ui, rc, NULL, &s, since(&t0));
}
