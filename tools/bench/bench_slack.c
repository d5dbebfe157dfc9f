/*
 * kizuna-bench slack: import speed of a Slack workspace export.
 *
 * Writes a synthetic export of N messages (default 100,000) of generated
 * Japanese chat in 10 channels with 40 users: 200 messages a day file, a
 * tenth of them thread replies, a tenth with reactions, one in twenty with
 * a mention, one in twenty a join (a system event), one in fifty a file
 * upload with an access token in its URL.  Then imports it into a fresh
 * node (an admin node with a mesh, as `kizuna import slack` needs) from the
 * folder and from a ZIP of it, and imports the folder again (everything
 * present, nothing written).  Prints one JSON line: messages, entries,
 * seconds and messages per second of each import, its CPU time and that
 * of the store's thread alone (the import reads the export on a thread of
 * its own: on an idle machine the store's thread sets the pace), the
 * store's bytes per message and the peak RSS.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zip.h>

#include "bench.h"
#include "kizuna/err.h"
#include "kizuna/keys.h"
#include "kizuna/op.h"
#include "kizuna/slack.h"
#include "kizuna/store.h"
#include "kizuna/views.h"

#define SLACK_DEFAULT_MESSAGES 100000
#define N_CHANNELS 10
#define N_USERS 40
#define PER_DAY 200

static int
write_json(const char *path, json_t *v)
{
	int rc = json_dump_file(v, path, JSON_INDENT(4) | JSON_ESCAPE_SLASH);

	json_decref(v);
	if (rc != 0)
		warnx("cannot write %s", path);
	return rc;
}

/* The synthetic export under dir; its day files' names into *names. */
static int
make_export(const char *dir, uint64_t n, uint64_t seed, char ***names,
    size_t *n_names)
{
	json_t *users = json_array(), *chans = json_array();
	json_t *open_days[N_CHANNELS] = { NULL };
	uint64_t day_no[N_CHANNELS] = { 0 };
	char path[8400], text[TEXT_CAP], ts[32], uid[16], root_ts[N_CHANNELS][32];
	uint64_t rng = seed, i, t0 = 1589871600;	/* 2020-05-19 */
	size_t c, cap = 0;
	int rc = 0;

	*names = NULL;
	*n_names = 0;
	mkdir(dir, 0700);
	for (i = 0; i < N_USERS; i++) {
		json_t *u = json_object(), *prof = json_object();
		char name[64];

		snprintf(uid, sizeof(uid), "U%04llu", (unsigned long long)i);
		snprintf(name, sizeof(name), "職員%llu", (unsigned long long)i);
		json_object_set_new(u, "id", json_string(uid));
		json_object_set_new(u, "team_id", json_string("T1"));
		json_object_set_new(u, "name", json_string(uid));
		json_object_set_new(u, "deleted", json_boolean(i % 13 == 12));
		json_object_set_new(prof, "display_name", json_string(name));
		json_object_set_new(u, "profile", prof);
		json_array_append_new(users, u);
	}
	snprintf(path, sizeof(path), "%s/users.json", dir);
	if (write_json(path, users) != 0)
		return -1;
	for (c = 0; c < N_CHANNELS; c++) {
		json_t *ch = json_object();
		char cid[16], cname[32];

		snprintf(cid, sizeof(cid), "C%04zu", c);
		snprintf(cname, sizeof(cname), "channel-%zu", c);
		json_object_set_new(ch, "id", json_string(cid));
		json_object_set_new(ch, "name", json_string(cname));
		json_object_set_new(ch, "created", json_integer((json_int_t)t0));
		json_array_append_new(chans, ch);
		snprintf(path, sizeof(path), "%s/%s", dir, cname);
		mkdir(path, 0700);
		root_ts[c][0] = '\0';
	}
	snprintf(path, sizeof(path), "%s/channels.json", dir);
	if (write_json(path, chans) != 0)
		return -1;

	/* Channel c's messages go to day files of PER_DAY messages each. */
	for (i = 0; i < n && rc == 0; i++) {
		uint64_t k = i / N_CHANNELS;	/* its place in its channel */
		json_t *m = json_object();
		size_t r = rng_below(&rng, 100);

		c = i % N_CHANNELS;
		snprintf(ts, sizeof(ts), "%llu.%06llu", (unsigned long long)(t0 +
		    k * 30), (unsigned long long)(c * 1000 + 1));
		snprintf(uid, sizeof(uid), "U%04zu", rng_below(&rng, N_USERS));
		gen_text(text, &rng);
		json_object_set_new(m, "type", json_string("message"));
		json_object_set_new(m, "user", json_string(uid));
		json_object_set_new(m, "ts", json_string(ts));
		if (r < 5) {
			json_object_set_new(m, "subtype", json_string("channel_join"));
			snprintf(text, sizeof(text), "<@%s> has joined the channel", uid);
		} else if (r < 10) {
			size_t len = strlen(text);

			snprintf(text + len, sizeof(text) - len, " <@U%04zu>",
			    rng_below(&rng, N_USERS));
		}
		json_object_set_new(m, "text", json_string(text));
		if (r >= 10 && r < 20 && root_ts[c][0] != '\0') {
			json_object_set_new(m, "thread_ts", json_string(root_ts[c]));
		} else if (r >= 20 && r < 25) {
			snprintf(root_ts[c], sizeof(root_ts[c]), "%s", ts);
			json_object_set_new(m, "thread_ts", json_string(ts));
		}
		if (r >= 30 && r < 40) {
			json_t *re = json_object(), *us = json_array();

			json_array_append_new(us, json_string(uid));
			json_array_append_new(us, json_string("U0001"));
			json_object_set_new(re, "name", json_string(r % 2 ? "+1" : "pray"));
			json_object_set_new(re, "users", us);
			json_object_set_new(re, "count", json_integer(2));
			json_object_set_new(m, "reactions", json_pack("[o]", re));
		}
		if (r >= 40 && r < 42) {
			json_object_set_new(m, "files", json_pack("[{s:s,s:s,s:s,s:i,s:s}]",
			    "id", "F1", "name", "地図.pdf", "mimetype", "application/pdf",
			    "size", 2048, "url_private",
			    "https://files.slack.com/files-pri/T1-F1/map.pdf?t=xoxe-1"));
		}
		/* Day files: one open array per channel, written when full. */
		if (open_days[c] == NULL)
			open_days[c] = json_array();
		json_array_append_new(open_days[c], m);
		if (json_array_size(open_days[c]) == PER_DAY || i + N_CHANNELS >= n) {
			char fname[64];

			snprintf(fname, sizeof(fname), "channel-%zu/2020-%02llu-%02llu.json",
			    c, (unsigned long long)(1 + day_no[c] / 28 % 12),
			    (unsigned long long)(1 + day_no[c] % 28));
			day_no[c]++;
			snprintf(path, sizeof(path), "%s/%s", dir, fname);
			if (*n_names == cap) {
				char **v;

				cap = cap ? 2 * cap : 64;
				if ((v = realloc(*names, cap * sizeof(*v))) == NULL)
					return -1;
				*names = v;
			}
			if (((*names)[*n_names] = strdup(fname)) == NULL)
				return -1;
			(*n_names)++;
			rc = write_json(path, open_days[c]);
			open_days[c] = NULL;
		}
	}
	for (c = 0; c < N_CHANNELS; c++)
		json_decref(open_days[c]);
	return rc;
}

static int
make_zip(const char *dir, const char *zip, char **names, size_t n_names)
{
	static const char *const top[] = { "users.json", "channels.json" };
	char path[8400];
	zip_t *za;
	size_t i;
	int err;

	if ((za = zip_open(zip, ZIP_CREATE | ZIP_TRUNCATE, &err)) == NULL) {
		warnx("cannot create %s", zip);
		return -1;
	}
	for (i = 0; i < 2 + n_names; i++) {
		const char *name = i < 2 ? top[i] : names[i - 2];
		zip_source_t *zs;

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if ((zs = zip_source_file(za, path, 0, -1)) == NULL ||
		    zip_file_add(za, name, zs, ZIP_FL_ENC_UTF_8) < 0) {
			warnx("cannot add %s to %s", name, zip);
			zip_discard(za);
			return -1;
		}
	}
	if (zip_close(za) != 0) {
		warnx("cannot write %s", zip);
		return -1;
	}
	return 0;
}

/* A fresh node with a mesh: its own admin node. */
static int
node_new(const char *path, struct kz_keypair *kp, struct kz_store **st)
{
	uint8_t mesh_id[KZ_ID_BYTES], *buf;
	struct kz_op op = { .type = KZ_OP_MESH_CREATE };
	size_t len;
	int rc;

	memset(mesh_id, 1, sizeof(mesh_id));
	if ((rc = kz_keypair_generate(kp)) < 0 ||
	    (rc = kz_store_open(st, path, &bench_log)) < 0)
		return rc;
	op.u.mesh_create = (struct kz_mesh_create){ mesh_id, "bench" };
	if ((rc = kz_op_encode(&buf, &len, &op)) < 0)
		return rc;
	rc = kz_store_append(*st, kp, wall_ms(), buf, len, NULL);
	free(buf);
	if (rc == 0)
		rc = kz_views_set_root(*st, kp->pk);
	return rc;
}

static uint64_t reported;
static uint64_t batch;		/* --batch: entries per transaction (0: default) */

static void
on_report(void *ctx, const char *file, unsigned line, const char *what)
{
	(void)ctx;
	if (reported++ < 5)
		warnx("%s:%u: %s", file, line, what);
}

static double
clock_s(clockid_t which)
{
	struct timespec ts;

	clock_gettime(which, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU time (all its threads), in seconds. */
static double
cpu_s(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* This thread's CPU time: the import's store thread (the caller's). */
static double
thread_cpu_s(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/*
 * Imports path into st; the time into *secs, the CPU time into *cpu, of
 * which the store's thread (this one; the reader has its own) *mine.  On a
 * machine busy with other work, CPU times are steadier than *secs.
 */
/* Bytes this process has handed to write(2) and pwrite(2) so far. */
static double
written_mb(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	unsigned long long v = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return (double)v / (1024.0 * 1024.0);
}

static int
import(struct kz_store *st, const struct kz_keypair *kp, const char *path,
    struct kz_slack_stats *s, double *secs, double *cpu, double *mine,
    double *wmb)
{
	struct kz_slack_import_opts o = { .report = on_report, .wall_ms = wall_ms(),
	    .batch = (size_t)batch };
	struct kz_slack_src *src = NULL;
	char why[512];
	double t;
	int rc;

	t = mono_s();
	*wmb = written_mb();
	*cpu = cpu_s();
	*mine = thread_cpu_s();
	if ((rc = kz_slack_open(&src, path, why, sizeof(why))) < 0) {
		warnx("%s", why);
		return rc;
	}
	rc = kz_slack_import(st, kp, src, &o, s);
	kz_slack_close(src);
	*secs = mono_s() - t;
	*cpu = cpu_s() - *cpu;
	*mine = thread_cpu_s() - *mine;
	*wmb = written_mb() - *wmb;
	if (rc < 0)
		report_err("import", rc);
	return rc;
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

int
bench_slack(int argc, char **argv)
{
	uint64_t n = SLACK_DEFAULT_MESSAGES, seed = 1;
	const char *base = getenv("TMPDIR");
	char dir[4096], exp[4200], zip[4200], db1[4200], db2[4200], wal[4300];
	char **names = NULL;
	struct kz_keypair kp1, kp2;
	struct kz_store *st1 = NULL, *st2 = NULL;
	struct kz_slack_stats s1, s2, s3;
	double t1 = 0, t2 = 0, t3 = 0, c1 = 0, c2 = 0, c3 = 0, tgen;
	double m1 = 0, m2 = 0, m3 = 0, w1 = 0, w2 = 0, w3 = 0;
	struct rusage ru;
	bool keep = false, missing = false;
	size_t n_names = 0, i;
	json_t *js;
	int a, rc = 1;

	for (a = 1; a < argc; a++) {
		const char *v;

		if ((v = opt_value(argc, argv, &a, "--messages", &missing)) != NULL) {
			if (parse_count(v, 10, 10000000, &n) < 0)
				errx(2, "--messages: 10 to 10,000,000");
		} else if ((v = opt_value(argc, argv, &a, "--batch", &missing)) != NULL) {
			if (parse_count(v, 1, 1000000, &batch) < 0)
				errx(2, "--batch: 1 to 1,000,000");
		} else if ((v = opt_value(argc, argv, &a, "--dir", &missing)) != NULL) {
			base = v;
		} else if ((v = opt_value(argc, argv, &a, "--seed", &missing)) != NULL) {
			if (parse_count(v, 0, UINT64_MAX, &seed) < 0)
				errx(2, "--seed: a number");
		} else if (strcmp(argv[a], "--keep") == 0) {
			keep = true;
		} else {
			errx(2, "slack: unknown option %s%s", argv[a], missing ?
			    " (without its value)" : "");
		}
	}
	snprintf(dir, sizeof(dir), "%s/kz-bench-slack-XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp %s", dir);
	snprintf(exp, sizeof(exp), "%s/export", dir);
	snprintf(zip, sizeof(zip), "%s/export.zip", dir);
	snprintf(db1, sizeof(db1), "%s/a.db", dir);
	snprintf(db2, sizeof(db2), "%s/b.db", dir);

	tgen = mono_s();
	if (make_export(exp, n, seed, &names, &n_names) != 0 ||
	    make_zip(exp, zip, names, n_names) != 0)
		goto out;
	tgen = mono_s() - tgen;
	if (node_new(db1, &kp1, &st1) < 0 || node_new(db2, &kp2, &st2) < 0) {
		warnx("cannot make the nodes");
		goto out;
	}
	if (import(st1, &kp1, exp, &s1, &t1, &c1, &m1, &w1) < 0 ||
	    import(st2, &kp2, zip, &s2, &t2, &c2, &m2, &w2) < 0 ||
	    import(st1, &kp1, exp, &s3, &t3, &c3, &m3, &w3) < 0)
		goto out;
	if (s1.messages != s2.messages || s3.entries != 0 || s1.skipped != 0) {
		warnx("folder %llu and ZIP %llu messages, %llu entries again,"
		    " %llu skipped", (unsigned long long)s1.messages,
		    (unsigned long long)s2.messages, (unsigned long long)s3.entries,
		    (unsigned long long)s1.skipped);
		goto out;
	}
	getrusage(RUSAGE_SELF, &ru);
	snprintf(wal, sizeof(wal), "%s-wal", db1);
	js = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:I,s:f,s:f,s:f,"
	    "s:I,s:f,s:f,s:I,s:f,s:I,s:I}",
	    "bench", "slack",
	    "messages", (json_int_t)s1.messages,
	    "users", (json_int_t)s1.users,
	    "channels", (json_int_t)s1.channels,
	    "entries", (json_int_t)s1.entries,
	    "day_files", (json_int_t)s1.day_files,
	    "import_s", t1,
	    "import_cpu_s", c1,
	    "import_store_cpu_s", m1,
	    "import_written_mib", w1,
	    "import_per_s", rate((double)s1.messages, t1),
	    "zip_import_s", t2,
	    "zip_import_cpu_s", c2,
	    "zip_import_store_cpu_s", m2,
	    "zip_import_per_s", rate((double)s2.messages, t2),
	    "reimport_s", t3,
	    "reimport_cpu_s", c3,
	    "reimport_per_s", rate((double)s3.present, t3),
	    "generate_s", tgen,
	    "store_bytes_per_msg", (json_int_t)((file_size(db1) + file_size(wal)) /
	    (off_t)(s1.messages ? s1.messages : 1)),
	    "peak_rss_kib", (json_int_t)ru.ru_maxrss);
	rc = print_json_line(js) < 0;
	json_decref(js);
out:
	kz_store_free(st1);
	kz_store_free(st2);
	for (i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	if (!keep) {
		char cmd[4200 + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			warnx("cannot remove %s", dir);
	} else {
		fprintf(stderr, "kept %s\n", dir);
	}
	return rc;
}
