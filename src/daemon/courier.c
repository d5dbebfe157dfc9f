/*
 * The courier folder: sync by USB stick, with nobody at a keyboard.
 *
 * [courier] folder names a directory (a USB stick's mount point).  Every
 * [courier] interval_s seconds, while it exists, kizunad:
 *
 *   1. imports each bundle (*.kzb) there that another node wrote and that
 *      it has not handled in this form (name, size and mtime), verifying
 *      every record as `kizuna bundle import` does, and pushes what it
 *      added on every link;
 *   2. with [courier] write on, leaves this node's vector (NODEKEY.kzv:
 *      what it holds) for the other nodes the stick visits, and for each
 *      other node's vector found there writes what that node lacks as
 *      for-NODEKEY-from-OURKEY.kzb (removed again once it lacks nothing).
 *
 * So a stick carried between two offices that run kizunad brings each the
 * other's entries in two visits, with no command typed.  Authenticity comes
 * from the entries' signatures and the bundles' seals; the stick is trusted
 * for nothing.  Every write is atomic (temporary file, fsync, rename), so a
 * stick pulled out mid-write holds the old file or the new one.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon/kizunad.h"
#include "kizuna/bundle.h"
#include "kizuna/err.h"
#include "kizuna/sync.h"
#include "kizuna/util.h"
#include "kizuna/views.h"

/* Keeps the courier's last error for the status and logs it. */
static void KZ_PRINTF(2, 3)
note(struct kzd *d, const char *fmt, ...)
{
	struct kzd_courier *co = &d->courier;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(co->last_error, sizeof(co->last_error), fmt, ap);
	va_end(ap);
	kz_log(&d->log, KZ_LOG_WARN, "courier: %s", co->last_error);
}

static bool
has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return n > m && strcmp(name + n - m, suffix) == 0;
}

/* Whether (name, size, mtime) was handled already; records it if not. */
static bool
seen_before(struct kzd_courier *co, const char *name, const struct stat *sb)
{
	size_t i;

	for (i = 0; i < co->n_seen; i++) {
		struct kzd_seen *s = &co->seen[i];

		if (strcmp(s->name, name) != 0)
			continue;
		if (s->size == (uint64_t)sb->st_size && s->mtime == sb->st_mtime)
			return true;
		s->size = (uint64_t)sb->st_size;
		s->mtime = sb->st_mtime;
		return false;
	}
	if (co->n_seen == co->cap_seen) {
		size_t cap = co->cap_seen ? 2 * co->cap_seen : 16;
		void *p = realloc(co->seen, cap * sizeof(*co->seen));

		if (p == NULL)
			return false;	/* handled again next time: harmless */
		co->seen = p;
		co->cap_seen = cap;
	}
	snprintf(co->seen[co->n_seen].name, sizeof(co->seen[0].name), "%s", name);
	co->seen[co->n_seen].size = (uint64_t)sb->st_size;
	co->seen[co->n_seen].mtime = sb->st_mtime;
	co->n_seen++;
	return false;
}

static bool
accept_feed(void *ctx, const uint8_t feed[32])
{
	struct kzd *d = ctx;
	bool ok = false;

	return kz_views_node_admitted(d->st, feed, &ok) == 0 && ok;
}

static void
on_problem(void *ctx, const struct kz_bundle_problem *p)
{
	struct kzd *d = ctx;
	char fp[KZ_FINGERPRINT_CHARS + 1] = "?";

	if (p->known)
		kz_fingerprint(fp, p->feed);
	kz_log(&d->log, KZ_LOG_WARN, "courier: %s: run of feed %s seq %llu..%llu "
	    "%s: %s", d->courier.current, fp, (unsigned long long)p->first_seq,
	    (unsigned long long)p->last_seq, p->missing ? "missing" : "not taken",
	    kz_strerror(p->err));
}

static void
on_grew(void *ctx, const uint8_t feed[32])
{
	kzd_net_feed_grew(ctx, feed);
}

/* Whether the bundle at path is sealed by this node (our own, skipped). */
static bool
ours(struct kzd *d, const char *path)
{
	struct kz_bundle_reader *r = NULL;
	bool mine;

	if (kz_bundle_reader_new(&r, path) < 0)
		return false;
	mine = kz_bundle_reader_info(r)->sealed &&
	    memcmp(kz_bundle_reader_info(r)->source, d->kp.pk, 32) == 0;
	kz_bundle_reader_free(r);
	return mine;
}

static void
import_one(struct kzd *d, const char *path, const char *name)
{
	struct kzd_courier *co = &d->courier;
	struct kz_bundle_import_opts o = { .accept_feed = accept_feed,
	    .problem = on_problem, .grew = on_grew, .ctx = d };
	struct kz_bundle_report rep;
	int rc;

	co->current = name;
	rc = kz_bundle_import(d->st, path, &o, &rep);
	co->current = NULL;
	if (rc == 0 && rep.damaged + rep.rejected + rep.missing + rep.forks == 0) {
		co->imported_files++;
		co->imported_entries += rep.added;
		kz_log(&d->log, KZ_LOG_INFO, "courier: imported %s: %llu new entries, "
		    "%llu already held", name, (unsigned long long)rep.added,
		    (unsigned long long)rep.duplicate);
		return;
	}
	co->failed_files++;
	co->imported_entries += rep.added;
	note(d, "%s: %s (%llu new entries taken; %llu damaged, %llu refused, "
	    "%llu missing)", name, rep.refused ?
	    "written by a node that is not a member" : rc < 0 ? kz_strerror(rc) :
	    "some records damaged, refused or missing",
	    (unsigned long long)rep.added, (unsigned long long)rep.damaged,
	    (unsigned long long)(rep.rejected + rep.forks),
	    (unsigned long long)rep.missing);
}

/*
 * Keeps a copy of another node's vector as HOME/vectors/NODEKEY.kzv, where
 * `kizuna bundle export --for NODEKEY` finds what that node held when last
 * heard of.
 */
static void
keep_vector(struct kzd *d, const struct kz_vector *v, const char *them)
{
	char path[4096 + 100];
	int rc;

	snprintf(path, sizeof(path), "%s/vectors", d->home);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		note(d, "cannot make %s: %s", "vectors", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/vectors/%s.kzv", d->home, them);
	if ((rc = kz_vector_write(path, v)) < 0)
		note(d, "keeping node %.16s's vector: %s", them, kz_strerror(rc));
}

/* Writes what the holder of the vector at vpath lacks, or removes a stale
 * bundle for it when it lacks nothing. */
static void
write_for(struct kzd *d, const char *vpath, const char *name)
{
	struct kzd_courier *co = &d->courier;
	struct kz_bundle_summary sum;
	struct kz_vector v;
	char out[4096 + 200], them[65], us[65];
	int rc = kz_vector_read(vpath, &v);

	if (rc < 0) {
		note(d, "%s: %s", name, kz_strerror(rc));
		return;
	}
	if (memcmp(v.node, d->kp.pk, 32) == 0) {
		kz_vector_free(&v);
		return;
	}
	kz_hex(them, v.node, 32);
	keep_vector(d, &v, them);
	kz_hex(us, d->kp.pk, 32);
	snprintf(out, sizeof(out), "%s/for-%s-from-%s.kzb", co->folder, them, us);
	rc = kz_bundle_export(d->st, out, &d->kp, v.node, &v, kzd_now_ms(), &sum);
	kz_vector_free(&v);
	if (rc == 1) {
		unlink(out);	/* it lacks nothing: no stale copy */
		return;
	}
	if (rc < 0) {
		note(d, "writing for node %.16s: %s", them, kz_strerror(rc));
		return;
	}
	co->written_files++;
	kz_log(&d->log, KZ_LOG_INFO, "courier: wrote %llu entries for node %.16s",
	    (unsigned long long)(sum.entries + sum.alone), them);
}

static void
write_vector(struct kzd *d)
{
	struct kzd_courier *co = &d->courier;
	struct kz_vector v;
	char path[4096 + 100], us[65];
	int rc;

	kz_hex(us, d->kp.pk, 32);
	snprintf(path, sizeof(path), "%s/%s.kzv", co->folder, us);
	if ((rc = kz_vector_of_store(d->st, d->kp.pk, kzd_now_ms(), &v)) == 0) {
		rc = kz_vector_write(path, &v);
		kz_vector_free(&v);
	}
	if (rc < 0)
		note(d, "writing %.16s.kzv: %s", us, kz_strerror(rc));
}

/* One look at the folder. */
static void
visit(struct kzd *d)
{
	struct kzd_courier *co = &d->courier;
	uint8_t digest[16];
	struct dirent *de;
	struct stat sb;
	char path[4096 + 300];
	bool changed;
	DIR *dir;

	if (stat(co->folder, &sb) < 0 || !S_ISDIR(sb.st_mode) ||
	    (dir = opendir(co->folder)) == NULL) {
		if (co->present)
			kz_log(&d->log, KZ_LOG_INFO, "courier: %s is gone", co->folder);
		co->present = false;
		co->n_seen = 0;		/* another stick may hold the same names */
		co->have_digest = false;
		return;
	}
	if (!co->present)
		kz_log(&d->log, KZ_LOG_INFO, "courier: %s is here", co->folder);
	co->present = true;
	while ((de = readdir(dir)) != NULL) {
		if (!has_suffix(de->d_name, ".kzb"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", co->folder, de->d_name);
		if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    seen_before(co, de->d_name, &sb) || ours(d, path))
			continue;
		import_one(d, path, de->d_name);
	}
	if (!d->cfg.courier_write) {
		closedir(dir);
		return;
	}
	/* Write only when this node's holdings changed, or a vector did. */
	changed = kz_sync_vector_digest(d->st, NULL, NULL, digest) == 0 &&
	    (!co->have_digest || memcmp(digest, co->digest, 16) != 0);
	if (changed) {
		write_vector(d);
		memcpy(co->digest, digest, 16);
		co->have_digest = true;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (!has_suffix(de->d_name, ".kzv"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", co->folder, de->d_name);
		if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (seen_before(co, de->d_name, &sb) && !changed)
			continue;
		write_for(d, path, de->d_name);
	}
	closedir(dir);
}

static void
on_courier_timer(uv_timer_t *t)
{
	struct kzd *d = t->data;

	if (!d->stopping)
		visit(d);
}

int
kzd_courier_start(struct kzd *d)
{
	struct kzd_courier *co = &d->courier;

	if (d->cfg.courier_folder[0] == '\0')
		return 0;
	if (kz_config_home_path(co->folder, sizeof(co->folder), d->home,
	    d->cfg.courier_folder) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "[courier] folder is too long");
		return -1;
	}
	uv_timer_init(&d->loop, &co->timer);
	co->timer_open = true;
	co->timer.data = d;
	uv_timer_start(&co->timer, on_courier_timer, 0,
	    (uint64_t)d->cfg.courier_interval_s * 1000);
	kz_log(&d->log, KZ_LOG_INFO, "courier: watching %s every %d s%s",
	    co->folder, d->cfg.courier_interval_s, d->cfg.courier_write ?
	    ", writing for the nodes it meets there" : "");
	return 0;
}

void
kzd_courier_close_handles(struct kzd *d)
{
	struct kzd_courier *co = &d->courier;

	if (co->timer_open && !uv_is_closing((uv_handle_t *)&co->timer))
		uv_close((uv_handle_t *)&co->timer, NULL);
	co->timer_open = false;
}

void
kzd_courier_free(struct kzd *d)
{
	free(d->courier.seen);
	d->courier.seen = NULL;
	d->courier.n_seen = d->courier.cap_seen = 0;
}

void
kzd_courier_status(struct kzd *d, json_t *o)
{
	struct kzd_courier *co = &d->courier;
	json_t *c;

	if (d->cfg.courier_folder[0] == '\0') {
		json_object_set_new(o, "courier", json_null());
		return;
	}
	c = json_object();
	json_object_set_new(c, "folder", json_string(co->folder));
	json_object_set_new(c, "present", json_boolean(co->present));
	json_object_set_new(c, "imported_files",
	    json_integer((json_int_t)co->imported_files));
	json_object_set_new(c, "imported_entries",
	    json_integer((json_int_t)co->imported_entries));
	json_object_set_new(c, "failed_files", json_integer((json_int_t)co->failed_files));
	json_object_set_new(c, "written_files",
	    json_integer((json_int_t)co->written_files));
	json_object_set_new(c, "last_error", co->last_error[0] ?
	    json_string(co->last_error) : json_null());
	json_object_set_new(o, "courier", c);
}
