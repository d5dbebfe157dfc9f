/*
 * A Slack export imported by kizunad itself (docs/slack.md, "Importing
 * through kizunad"; the control commands import_slack and import_status,
 * kizuna/control.h).
 *
 * The import runs on the daemon's own store handle, in steps of one batch
 * (KZD_IMPORT_BATCH entries, tens of milliseconds) from an idle handle
 * (a timer instead while the reader has nothing ready), so
 * the loop serves its links, clients and web pages between batches, and
 * every cache that lives with the handle (the views' control state, the
 * store's change counter the web event stream and channel list watch)
 * follows each commit.  After each committed batch the daemon does what it
 * does after an append: the systemd status line, and a push on every link.
 *
 *   none/complete/failed/stopped --kzd_import_start()--> running
 *   running --on_import_idle(): the last batch--> complete
 *   running --on_import_idle(): an error--> failed
 *   running --kzd_import_stop() (SIGTERM)--> stopped
 *
 * No batch is open between steps (kz_slack_import_step), so a stop ends
 * the import at a batch boundary: what was committed stays, and importing
 * again resumes.  While it runs the views are not deferred: the importer
 * asks them whether an item is stored (kz_views_has_created), which a
 * backlog would hide, so a backlog is applied before the next step.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/kizunad.h"
#include "kizuna/control.h"
#include "kizuna/err.h"
#include "kizuna/slack.h"
#include "kizuna/views.h"

/* Copies at most max bytes of src into dst as printable ASCII ('?' else). */
static void
printable(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < dstlen && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static json_t *
fail(const char *code, const char *fmt, ...) KZ_PRINTF(2, 3);

static json_t *
fail(const char *code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b,s:{s:s,s:s}}", "ok", 0, "error", "code", code,
	    "message", msg);
}

/* A string as JSON: as it is if UTF-8, else reduced to printable ASCII. */
static json_t *
str_json(const char *s)
{
	json_t *j = json_string(s);
	char buf[1024];

	if (j == NULL) {
		printable(buf, sizeof(buf), s);
		j = json_string(buf);
	}
	return j;
}

static void
on_problem(void *ctx, const char *file, unsigned line, const char *what)
{
	struct kzd *d = ctx;
	struct kzd_import *im = &d->imp;
	json_t *p;

	im->n_problems++;
	kz_log(&d->log, KZ_LOG_DEBUG, "import %llu: %s:%u: %s",
	    (unsigned long long)im->id, file, line, what);
	if (json_array_size(im->problems) >= KZD_IMPORT_PROBLEMS_MAX)
		return;
	p = json_pack("{s:o,s:I,s:o}", "file", str_json(file), "line",
	    (json_int_t)line, "what", str_json(what));
	if (p != NULL)
		json_array_append_new(im->problems, p);
}

static void
log_end(struct kzd *d, const char *how)
{
	struct kzd_import *im = &d->imp;
	const struct kz_slack_stats *s = &im->stats;

	kz_log(&d->log, im->state == KZD_IMPORT_COMPLETE ? KZ_LOG_INFO :
	    KZ_LOG_WARN, "import %llu %s: %llu channels, %llu users, %llu "
	    "messages, %llu already imported, %llu skipped; %llu entries in "
	    "%.1f s (%llu steps, the longest %.0f ms)",
	    (unsigned long long)im->id, how,
	    (unsigned long long)s->channels, (unsigned long long)s->users,
	    (unsigned long long)s->messages, (unsigned long long)s->present,
	    (unsigned long long)s->skipped, (unsigned long long)s->entries,
	    (double)(im->ended_ms - im->started_ms) / 1e3,
	    (unsigned long long)im->steps, (double)im->step_ns_max / 1e6);
}

/*
 * Ends the import in im->imp: with kz_slack_import_end's result, or with
 * err (< 0) when the daemon gave up on it.
 */
static void
import_done(struct kzd *d, int err)
{
	struct kzd_import *im = &d->imp;
	char how[200];
	int rc;

	rc = kz_slack_import_end(im->imp, &im->stats);
	if (err < 0)
		rc = err;
	im->imp = NULL;
	kz_slack_close(im->src);
	im->src = NULL;
	if (im->idle_open) {
		uv_idle_stop(&im->idle);
		uv_timer_stop(&im->wait);
	}
	kz_views_set_deferral(d->st, KZD_VIEWS_DEFER_MIN);
	im->ended_ms = uv_now(&d->loop);
	im->rc = rc < 0 ? rc : 0;
	if (rc == 0) {
		im->state = KZD_IMPORT_COMPLETE;
		log_end(d, "complete");
	} else if (rc == 1) {
		im->state = KZD_IMPORT_STOPPED;
		log_end(d, "stopped at a batch boundary (importing again "
		    "resumes)");
	} else {
		im->state = KZD_IMPORT_FAILED;
		snprintf(how, sizeof(how), "failed: %s", kz_strerror(rc));
		log_end(d, how);
	}
}

static void on_import_idle(uv_idle_t *h);

/* Tells systemd and every link of entries this node appended. */
static void
announce(struct kzd *d, bool users)
{
	kzd_notify_status(d);
	kzd_net_appended(d, users ? KZ_OP_USER_SET : KZ_OP_POST);
}

static void
on_import_wait(uv_timer_t *t)
{
	struct kzd *d = KZD_CONTAINER_OF(t, struct kzd, imp.wait);

	if (d->imp.imp != NULL && !d->stopping)
		uv_idle_start(&d->imp.idle, on_import_idle);
}

static void
on_import_idle(uv_idle_t *h)
{
	struct kzd *d = KZD_CONTAINER_OF(h, struct kzd, imp.idle);
	struct kzd_import *im = &d->imp;
	uint64_t backlog = 0, tip0 = 0, tip1 = 0, users, t0, ns;
	int rc;

	if (im->imp == NULL || d->stopping)
		return;
	/* Entries that came while deferral was on: the views must show
	 * them before the importer asks whether an item is stored. */
	if ((rc = kz_views_backlog(d->st, &backlog)) == 0 && backlog > 0)
		rc = kz_views_catch_up(d->st, KZD_VIEWS_BATCH, NULL);
	if (rc < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "import %llu: the views' backlog "
		    "cannot be applied: %s", (unsigned long long)im->id,
		    kz_strerror(rc));
		import_done(d, rc);
		return;
	}
	if (backlog > 0)
		return;
	users = kz_slack_import_stats(im->imp)->users;
	(void)kz_store_tip(d->st, d->kp.pk, &tip0, NULL);
	t0 = uv_hrtime();
	rc = kz_slack_import_step(im->imp, 1);
	ns = uv_hrtime() - t0;
	if (rc == 2) {
		/* The reader has nothing yet: the loop waits, not the step. */
		uv_idle_stop(&im->idle);
		uv_timer_start(&im->wait, on_import_wait, KZD_IMPORT_WAIT_MS, 0);
		return;
	}
	if (ns > im->step_ns_max)
		im->step_ns_max = ns;
	im->steps++;
	im->stats = *kz_slack_import_stats(im->imp);
	if (kz_store_tip(d->st, d->kp.pk, &tip1, NULL) == 0 && tip1 != tip0)
		announce(d, im->stats.users != users);
	if (rc != 1)
		import_done(d, 0);
}

struct node_is {
	const uint8_t *key;
	bool admin, revoked;
};

static int
on_node(void *ctx, const struct kz_view_node *n)
{
	struct node_is *ni = ctx;

	if (memcmp(n->key, ni->key, 32) != 0)
		return 0;
	ni->admin = n->admin;
	ni->revoked = n->revoked;
	return 1;
}

json_t *
kzd_import_start(struct kzd *d, const char *path, bool *bad)
{
	struct kzd_import *im = &d->imp;
	struct kz_slack_import_opts o = { .ctx = d, .report = on_problem,
	    .batch = KZD_IMPORT_BATCH, .no_wait = true };
	struct kz_slack_src *src = NULL;
	struct kz_slack_import *imp = NULL;
	struct node_is n = { .key = d->kp.pk };
	char shown[200], why[600];
	uint8_t root[32];
	int rc;

	printable(shown, sizeof(shown), path);
	if (path[0] != '/') {
		*bad = true;
		return fail(KZ_CONTROL_E_BAD_REQUEST, "import_slack needs an "
		    "absolute \"path\", not '%s'", shown);
	}
	if (im->state == KZD_IMPORT_RUNNING)
		return fail(KZ_CONTROL_E_IMPORT_RUNNING, "an import is running "
		    "(import %llu); one at a time: ask import_status",
		    (unsigned long long)im->id);
	/* As for `kizuna import slack`: the node vouches for the import,
	 * which counts only from an admin node. */
	if (kz_views_root(d->st, root) == KZ_ERR_NOT_FOUND)
		return fail(KZ_CONTROL_E_NOT_ADMIN_NODE, "cannot import: this "
		    "node has no mesh yet");
	if ((rc = kz_views_nodes(d->st, on_node, &n)) < 0)
		return fail(KZ_CONTROL_E_STORE, "cannot read the nodes: %s",
		    kz_strerror(rc));
	if (!n.admin || n.revoked)
		return fail(KZ_CONTROL_E_NOT_ADMIN_NODE, "cannot import: only an "
		    "admin node may do this, and this node is not one");
	if ((rc = kz_slack_open(&src, path, why, sizeof(why))) < 0) {
		printable(shown, sizeof(shown), why);
		kz_log(&d->log, KZ_LOG_WARN, "import refused: %s", shown);
		return fail(KZ_CONTROL_E_CANNOT_OPEN, "%s", why);
	}
	if (!im->idle_open) {
		uv_idle_init(&d->loop, &im->idle);
		uv_timer_init(&d->loop, &im->wait);
		im->idle_open = true;
	}
	o.wall_ms = kzd_now_ms();
	/* Not deferred while the importer asks the views (see the top). */
	kz_views_set_deferral(d->st, 0);
	if ((rc = kz_slack_import_begin(d->st, &d->kp, src, &o, &imp)) < 0) {
		kz_views_set_deferral(d->st, KZD_VIEWS_DEFER_MIN);
		kz_slack_close(src);
		return fail(KZ_CONTROL_E_STORE, "cannot start the import: %s",
		    kz_strerror(rc));
	}
	json_decref(im->problems);
	im->problems = json_array();
	im->n_problems = 0;
	memset(&im->stats, 0, sizeof(im->stats));
	im->src = src;
	im->imp = imp;
	im->id++;
	im->rc = 0;
	im->steps = im->step_ns_max = 0;
	im->state = KZD_IMPORT_RUNNING;
	im->started_ms = im->ended_ms = uv_now(&d->loop);
	snprintf(im->path, sizeof(im->path), "%s", path);
	uv_idle_start(&im->idle, on_import_idle);
	kz_log(&d->log, KZ_LOG_INFO, "import %llu of %s started",
	    (unsigned long long)im->id, shown);
	return json_pack("{s:b,s:I}", "ok", 1, "import", (json_int_t)im->id);
}

static const char *const state_names[] = {
	[KZD_IMPORT_NONE] = "none",
	[KZD_IMPORT_RUNNING] = "running",
	[KZD_IMPORT_COMPLETE] = "complete",
	[KZD_IMPORT_FAILED] = "failed",
	[KZD_IMPORT_STOPPED] = "stopped",
};

json_t *
kzd_import_status(struct kzd *d, size_t from)
{
	struct kzd_import *im = &d->imp;
	const struct kz_slack_stats *s = &im->stats;
	json_t *o, *list;
	size_t i, n = json_array_size(im->problems);
	uint64_t end = im->state == KZD_IMPORT_RUNNING ? uv_now(&d->loop) :
	    im->ended_ms;

	o = json_pack("{s:b,s:I,s:s}", "ok", 1, "import", (json_int_t)im->id,
	    "state", state_names[im->state]);
	if (o == NULL)
		return NULL;
	for (i = 0; i < KZ_SLACK_STATS; i++)
		json_object_set_new(o, kz_slack_stat_names[i].name,
		    json_integer((json_int_t)kz_slack_stat_value(s, i)));
	json_object_set_new(o, "seconds",
	    json_real((double)(end - im->started_ms) / 1e3));
	json_object_set_new(o, "problems_total",
	    json_integer((json_int_t)im->n_problems));
	json_object_set_new(o, "problems_kept", json_integer((json_int_t)n));
	json_object_set_new(o, "steps", json_integer((json_int_t)im->steps));
	json_object_set_new(o, "step_ms_max",
	    json_real((double)im->step_ns_max / 1e6));
	if (im->state != KZD_IMPORT_NONE)
		json_object_set_new(o, "path", str_json(im->path));
	if (im->state == KZD_IMPORT_FAILED)
		json_object_set_new(o, "error", json_pack("{s:s,s:s}", "code",
		    kz_errname(im->rc), "message", kz_strerror(im->rc)));
	else
		json_object_set_new(o, "error", json_null());
	list = json_array();
	for (i = from; i < n && i < from + KZD_IMPORT_PROBLEMS_ANSWER; i++)
		json_array_append(list, json_array_get(im->problems, i));
	json_object_set_new(o, "problems", list);
	return o;
}

void
kzd_import_stop(struct kzd *d)
{
	if (d->imp.imp != NULL)
		import_done(d, 0);
}

void
kzd_import_close_handles(struct kzd *d)
{
	if (d->imp.idle_open && !uv_is_closing((uv_handle_t *)&d->imp.idle)) {
		uv_close((uv_handle_t *)&d->imp.idle, NULL);
		uv_close((uv_handle_t *)&d->imp.wait, NULL);
	}
	d->imp.idle_open = false;
}

void
kzd_import_free(struct kzd *d)
{
	kzd_import_stop(d);
	json_decref(d->imp.problems);
	d->imp.problems = NULL;
}
