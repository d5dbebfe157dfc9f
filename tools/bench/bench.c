/*
 * kizuna-bench: throughput benchmarks of the library, one subcommand each.
 *
 * Each benchmark prints exactly one JSON line on stdout (so runs can be
 * collected and compared by a script) and diagnostics on stderr.  The bench
 * is a tool, not pure code: it reads the wall clock for appends, measures
 * with CLOCK_MONOTONIC and works in a temporary folder that it removes at
 * the end unless --keep is given.
 *
 * ingest: node A appends N generated posts (~200 bytes of Japanese text
 * each), first one transaction per append (fdatasync-bound), then 100 per
 * transaction; then A's feed is read back as runs of 1,000 entries, each
 * encoded as it would travel, and node B decodes and ingests every run.
 * Only the library calls are inside the timed sections: generating text
 * and encoding ops happen outside them.
 *
 * Adding a benchmark: write a static `bench_<name>(int argc, char **argv)`
 * returning an exit status and add a row to benches[].
 */
#include <err.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/keys.h"
#include "kizuna/log.h"
#include "kizuna/op.h"
#include "kizuna/store.h"

#define INGEST_DEFAULT_ENTRIES 100000
#define APPEND_SAMPLE 3000	/* appends committed one by one */
#define APPEND_BATCH 100	/* appends per transaction afterwards */
#define RUN_ENTRIES 1000	/* entries per run read from A */
#define TEXT_TARGET 200		/* aimed-at text size, bytes */
#define TEXT_CAP 1024		/* text buffer (a text never gets near it) */

static const char *progname = "kizuna-bench";

/* ------------------------------------------------------------ helpers */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s <benchmark> [options]\n"
	    "\n"
	    "benchmarks:\n"
	    "  ingest [--entries N] [--dir DIR] [--seed S] [--keep]\n"
	    "      Node A appends N posts (default %d; the first %d each in its\n"
	    "      own durable transaction, the rest %d per transaction); node B\n"
	    "      decodes and ingests A's feed as runs of %d entries.  The stores\n"
	    "      live in a new folder under DIR (default $TMPDIR or /tmp),\n"
	    "      removed at the end unless --keep.\n"
	    "\n"
	    "Each benchmark prints one JSON line on stdout.\n",
	    progname, INGEST_DEFAULT_ENTRIES, APPEND_SAMPLE, APPEND_BATCH,
	    RUN_ENTRIES);
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
log_stderr(void *ctx, enum kz_log_level level, const char *msg)
{
	(void)ctx;
	warnx("%s: %s", kz_log_level_name(level), msg);
}

static const struct kz_logger bench_log = { log_stderr, NULL, KZ_LOG_WARN };

/* Parses a decimal count in [min, max]. */
static int
parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * The value of option name in argv[*i], either "--name=value" or "--name"
 * followed by the value (advancing *i).  NULL if argv[*i] is not that
 * option; *missing is set when the option lacks its value.
 */
static const char *
opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static json_int_t
rate(double count, double secs)
{
	return secs > 0 ? (json_int_t)(count / secs + 0.5) : 0;
}

/* Size of a file, 0 if it does not exist. */
static uint64_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* ------------------------------------------------------------ text */

/* splitmix64: small, seedable, good enough to vary the texts. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
rng_below(uint64_t *s, size_t n)
{
	return (size_t)(rng_next(s) % n);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const w_place[] = {
	"第一小学校", "中央公民館", "市民体育館", "北地区", "南地区", "駅前",
	"川沿いの集落", "山間部", "市役所本庁舎", "消防署東分署", "旧中学校",
	"港町三丁目", "総合病院", "県道沿い",
};
static const char *const w_thing[] = {
	"避難所", "給水", "停電", "道路", "通行止め", "土砂崩れ", "物資", "毛布",
	"発電機", "仮設トイレ", "飲料水", "医薬品", "食料", "安否確認", "断水",
	"浸水", "倒木", "携帯電話の充電",
};
static const char *const w_person[] = {
	"職員", "自治会長", "消防団", "保健師", "住民", "ボランティア",
	"民生委員", "看護師", "班長",
};
static const char *const w_verb[] = {
	"確認", "報告", "配布", "搬送", "点検", "復旧", "調査", "連絡",
	"手配", "要請", "集計", "補充",
};
static const char *const w_time[] = {
	"午前中に", "正午までに", "本日夕方", "明朝", "先ほど", "現在",
	"十五時ごろ", "夜間も",
};
static const char *const w_count[] = {
	"2", "3", "5", "8", "10", "12", "20", "30", "50", "100", "120", "200",
};

/*
 * A sentence template: fmt takes one %s per letter of slots, P place,
 * T thing, H person, V verb, W time, C count.
 */
struct template {
	const char *fmt;
	const char *slots;
};

static const struct template templates[] = {
	{ "%sの%sについて%sが%sしました。", "PTHV" },
	{ "%sで%sが発生しています。", "PT" },
	{ "%sと%sの%sを%sお願いします。", "TTVW" },
	{ "%s%sへ%sを%s個%sする予定です。", "WPTCV" },
	{ "%s付近は%sのため通行できません。", "PT" },
	{ "%s%s名で%sの%sを行います。", "HCPV" },
	{ "引き続き%sの状況を%sしてください。", "TV" },
	{ "%s、%sの%sが不足しています。", "WPT" },
	{ "%sから%sの%sがありました。", "HPV" },
	{ "%sは%sの%sを%s済みです。", "PTTV" },
};

/* Appends one generated sentence to buf (len so far); returns the new length. */
static size_t
add_sentence(char *buf, size_t len, size_t cap, uint64_t *rng)
{
	const struct template *t = &templates[rng_below(rng, NELEM(templates))];
	const char *a[5] = { "", "", "", "", "" };
	size_t i;
	int n;

	for (i = 0; t->slots[i] != '\0' && i < NELEM(a); i++) {
		switch (t->slots[i]) {
		case 'P': a[i] = w_place[rng_below(rng, NELEM(w_place))]; break;
		case 'T': a[i] = w_thing[rng_below(rng, NELEM(w_thing))]; break;
		case 'H': a[i] = w_person[rng_below(rng, NELEM(w_person))]; break;
		case 'V': a[i] = w_verb[rng_below(rng, NELEM(w_verb))]; break;
		case 'W': a[i] = w_time[rng_below(rng, NELEM(w_time))]; break;
		default: a[i] = w_count[rng_below(rng, NELEM(w_count))]; break;
		}
	}
	n = snprintf(buf + len, cap - len, t->fmt, a[0], a[1], a[2], a[3], a[4]);
	if (n < 0 || (size_t)n >= cap - len) {
		buf[len] = '\0';	/* does not fit: leave buf as it was */
		return len;
	}
	return len + (size_t)n;
}

/*
 * A post text of about TEXT_TARGET bytes: whole sentences while the text is
 * short, stopping at the first one that reaches 90% of the target.
 */
static size_t
gen_text(char buf[TEXT_CAP], uint64_t *rng)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len < TEXT_TARGET * 9 / 10) {
		size_t nl = add_sentence(buf, len, TEXT_CAP, rng);
		if (nl == len)
			break;
		len = nl;
	}
	return len;
}

/* Generates and encodes the next post op (caller frees *op). */
static int
gen_op(uint8_t **op, size_t *op_len, uint64_t *rng, uint64_t *text_bytes)
{
	char text[TEXT_CAP];
	struct kz_post post = {
		.channel = "災害対策本部",
		.text = text,
		.priority = KZ_PRIO_NORMAL,
	};

	*text_bytes += gen_text(text, rng);
	return kz_op_encode_post(op, op_len, &post);
}

/* ------------------------------------------------------------ ingest */

struct ingest_paths {
	char dir[PATH_MAX];
	char a[PATH_MAX + 16];
	char b[PATH_MAX + 16];
};

/* Removes a store's files (database, WAL, shared memory). */
static void
remove_store(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[PATH_MAX + 32];
	size_t i;

	for (i = 0; i < NELEM(suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (unlink(p) < 0 && errno != ENOENT)
			warn("remove %s", p);
	}
}

static int
make_paths(struct ingest_paths *p, const char *parent)
{
	int n;

	if (parent == NULL || *parent == '\0')
		parent = getenv("TMPDIR");
	if (parent == NULL || *parent == '\0')
		parent = "/tmp";
	n = snprintf(p->dir, sizeof(p->dir), "%s/kizuna-bench.XXXXXX", parent);
	if (n < 0 || (size_t)n >= sizeof(p->dir) - 16) {
		warnx("folder name too long: %s", parent);
		return -1;
	}
	if (mkdtemp(p->dir) == NULL) {
		warn("create a folder in %s", parent);
		return -1;
	}
	snprintf(p->a, sizeof(p->a), "%s/a.db", p->dir);
	snprintf(p->b, sizeof(p->b), "%s/b.db", p->dir);
	return 0;
}

/* Reports a failed library call with its code. */
static void
report_err(const char *what, int rc)
{
	warnx("%s: %s (%s)", what, kz_strerror(rc), kz_errname(rc));
}

struct ingest_result {
	uint64_t entries;
	uint64_t text_bytes;
	uint64_t op_bytes;
	uint64_t sample;	/* appends committed one by one */
	double append_s;
	uint64_t batched;	/* appends committed APPEND_BATCH at a time */
	double append_batched_s;
	uint64_t runs;
	uint64_t run_bytes;	/* encoded runs, total */
	double read_s;		/* kz_store_read_run on A */
	double encode_s;	/* kz_run_encode */
	double ingest_s;	/* kz_run_decode + kz_store_ingest + free on B */
	uint64_t disk_bytes;	/* B after checkpoint: database + WAL */
	uint64_t disk_bytes_a;	/* A likewise, for comparison */
};

/* Phase 1: N appends on A. */
static int
ingest_append(struct kz_store *a, const struct kz_keypair *kp, uint64_t seed,
    struct ingest_result *r)
{
	uint8_t *ops[APPEND_BATCH] = { NULL };
	size_t lens[APPEND_BATCH];
	uint64_t rng = seed, done = 0;
	double t0;
	size_t i, k = 0;
	int rc = 0;

	r->sample = r->entries < APPEND_SAMPLE ? r->entries : APPEND_SAMPLE;
	for (; done < r->sample; done++) {
		if ((rc = gen_op(&ops[0], &lens[0], &rng, &r->text_bytes)) < 0) {
			report_err("encode post", rc);
			goto out;
		}
		r->op_bytes += lens[0];
		t0 = mono_s();
		rc = kz_store_append(a, kp, wall_ms(), ops[0], lens[0], NULL);
		r->append_s += mono_s() - t0;
		free(ops[0]);
		ops[0] = NULL;
		if (rc < 0) {
			report_err("append", rc);
			goto out;
		}
	}
	while (done < r->entries) {
		k = r->entries - done < APPEND_BATCH ? r->entries - done : APPEND_BATCH;
		for (i = 0; i < k; i++) {
			rc = gen_op(&ops[i], &lens[i], &rng, &r->text_bytes);
			if (rc < 0) {
				report_err("encode post", rc);
				goto out;
			}
			r->op_bytes += lens[i];
		}
		t0 = mono_s();
		if ((rc = kz_store_begin(a)) < 0) {
			report_err("begin", rc);
			goto out;
		}
		for (i = 0; i < k; i++) {
			rc = kz_store_append(a, kp, wall_ms(), ops[i], lens[i], NULL);
			if (rc < 0) {
				kz_store_rollback(a);
				report_err("append in a group", rc);
				goto out;
			}
		}
		if ((rc = kz_store_commit(a)) < 0) {
			report_err("commit", rc);
			goto out;
		}
		r->append_batched_s += mono_s() - t0;
		for (i = 0; i < k; i++) {
			free(ops[i]);
			ops[i] = NULL;
		}
		done += k;
		r->batched += k;
	}
out:
	for (i = 0; i < APPEND_BATCH; i++)
		free(ops[i]);
	return rc;
}

/* Phase 2: A's feed as runs of RUN_ENTRIES, encoded, decoded and ingested by B. */
static int
ingest_runs(struct kz_store *a, struct kz_store *b, const uint8_t pk[KZ_PK_BYTES],
    struct ingest_result *r)
{
	struct kz_run *run = NULL, *got = NULL;
	struct kz_ingest_result res;
	uint8_t *buf = NULL;
	size_t len;
	uint64_t from = 1;
	double t0;
	int rc = 0;

	while (from <= r->entries) {
		t0 = mono_s();
		rc = kz_store_read_run(a, pk, from, RUN_ENTRIES, 0, &run);
		r->read_s += mono_s() - t0;
		if (rc < 0) {
			report_err("read run", rc);
			goto out;
		}
		t0 = mono_s();
		rc = kz_run_encode(&buf, &len, run);
		r->encode_s += mono_s() - t0;
		if (rc < 0) {
			report_err("encode run", rc);
			goto out;
		}
		r->run_bytes += len;

		t0 = mono_s();
		rc = kz_run_decode(&got, buf, len);
		if (rc == 0)
			rc = kz_store_ingest(b, got, &res);
		kz_run_free(got);
		got = NULL;
		r->ingest_s += mono_s() - t0;
		if (rc < 0) {
			report_err("decode and ingest run", rc);
			goto out;
		}
		if (res.added != run->n || res.tip != from + run->n - 1) {
			warnx("run at seq %llu of %zu entries: "
			    "ingest added %llu, tip %llu",
			    (unsigned long long)from, run->n,
			    (unsigned long long)res.added,
			    (unsigned long long)res.tip);
			rc = KZ_ERR_INVAL;
			goto out;
		}
		from += run->n;
		r->runs++;
		free(buf);
		buf = NULL;
		kz_run_free(run);
		run = NULL;
	}
out:
	free(buf);
	kz_run_free(run);
	return rc;
}

/* Closes a store (the last connection checkpoints and drops the WAL) and sizes it. */
static uint64_t
close_and_size(struct kz_store **st, const char *path)
{
	char p[PATH_MAX + 32];

	kz_store_free(*st);
	*st = NULL;
	snprintf(p, sizeof(p), "%s-wal", path);
	return file_size(path) + file_size(p);
}

static int
bench_ingest(int argc, char **argv)
{
	struct ingest_paths paths;
	struct ingest_result r;
	struct kz_keypair kp;
	struct kz_store *a = NULL, *b = NULL;
	struct rusage ru;
	const char *parent = NULL, *v;
	uint64_t seed = 1, tip = 0;
	double t_start, t0, t_append, t_ingest;
	bool keep = false, have_dir = false, missing = false;
	json_t *js = NULL;
	char *line = NULL;
	int i, rc, status = 1;

	memset(&r, 0, sizeof(r));
	memset(&kp, 0, sizeof(kp));
	r.entries = INGEST_DEFAULT_ENTRIES;
	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--entries", &missing)) != NULL) {
			if (parse_count(v, 1, 100000000, &r.entries) < 0) {
				warnx("--entries: not a count from 1 "
				    "to 100000000: %s", v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--seed", &missing)) != NULL) {
			if (parse_count(v, 0, INT64_MAX, &seed) < 0) {
				warnx("--seed: not a number from 0 to %lld: %s",
				    (long long)INT64_MAX, v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--dir", &missing)) != NULL) {
			parent = v;
		} else if (!missing && strcmp(argv[i], "--keep") == 0) {
			keep = true;
		} else {
			if (missing)
				warnx("%s needs a value", argv[i]);
			else if (strcmp(argv[i], "--help") != 0 &&
			    strcmp(argv[i], "-h") != 0)
				warnx("ingest: unknown option %s", argv[i]);
			usage();
			return 2;
		}
	}

	if (make_paths(&paths, parent) < 0)
		return 1;
	have_dir = true;
	t_start = mono_s();
	if ((rc = kz_keypair_generate(&kp)) < 0) {
		report_err("generate key pair", rc);
		goto out;
	}
	if ((rc = kz_store_open(&a, paths.a, &bench_log)) < 0) {
		report_err("open store A", rc);
		goto out;
	}
	if ((rc = kz_store_open(&b, paths.b, &bench_log)) < 0) {
		report_err("open store B", rc);
		goto out;
	}

	t0 = mono_s();
	if (ingest_append(a, &kp, seed, &r) < 0)
		goto out;
	t_append = mono_s() - t0;

	t0 = mono_s();
	if (ingest_runs(a, b, kp.pk, &r) < 0)
		goto out;
	t_ingest = mono_s() - t0;

	if ((rc = kz_store_tip(b, kp.pk, &tip, NULL)) < 0) {
		report_err("read B's tip", rc);
		goto out;
	}
	if (tip != r.entries) {
		warnx("B's tip of A's feed is %llu, expected %llu",
		    (unsigned long long)tip, (unsigned long long)r.entries);
		goto out;
	}
	r.disk_bytes = close_and_size(&b, paths.b);
	r.disk_bytes_a = close_and_size(&a, paths.a);
	getrusage(RUSAGE_SELF, &ru);

	js = json_object();
	if (js == NULL)
		goto nomem;
#define SET(k, val) do {							\
	if (json_object_set_new(js, (k), (val)) < 0)				\
		goto nomem;							\
} while (0)
#define INT(x) json_integer((json_int_t)(x))
	SET("bench", json_string("ingest"));
	SET("entries", INT(r.entries));
	SET("seed", INT(seed));
	SET("text_bytes_avg", json_real((double)r.text_bytes / (double)r.entries));
	SET("op_bytes_avg", json_real((double)r.op_bytes / (double)r.entries));
	SET("append_sample", INT(r.sample));
	SET("append_s", json_real(r.append_s));
	SET("append_per_s", INT(rate((double)r.sample, r.append_s)));
	SET("append_batch", INT(APPEND_BATCH));
	SET("append_batched", INT(r.batched));
	SET("append_batched_s", json_real(r.append_batched_s));
	SET("append_batched_per_s", r.batched > 0 ?
	    INT(rate((double)r.batched, r.append_batched_s)) : json_null());
	SET("append_phase_s", json_real(t_append));
	SET("run_entries", INT(RUN_ENTRIES));
	SET("runs", INT(r.runs));
	SET("run_bytes_avg", json_real((double)r.run_bytes / (double)r.runs));
	SET("read_run_s", json_real(r.read_s));
	SET("encode_run_s", json_real(r.encode_s));
	SET("ingest_s", json_real(r.ingest_s));
	SET("ingest_per_s", INT(rate((double)r.entries, r.ingest_s)));
	SET("ingest_phase_s", json_real(t_ingest));
	SET("disk_bytes", INT(r.disk_bytes));
	SET("disk_bytes_per_entry", json_real((double)r.disk_bytes /
	    (double)r.entries));
	SET("disk_bytes_a", INT(r.disk_bytes_a));
	SET("peak_rss_kib", INT(ru.ru_maxrss));
	SET("total_s", json_real(mono_s() - t_start));
	if (keep)
		SET("dir", json_string(paths.dir));
#undef INT
#undef SET
	line = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(6));
	if (line == NULL)
		goto nomem;
	printf("%s\n", line);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("write");
		goto out;
	}
	status = 0;
	goto out;
nomem:
	warnx("out of memory");
out:
	free(line);
	json_decref(js);
	kz_store_free(b);
	kz_store_free(a);
	kz_keypair_wipe(&kp);
	if (have_dir && !keep) {
		remove_store(paths.a);
		remove_store(paths.b);
		if (rmdir(paths.dir) < 0)
			warn("remove %s", paths.dir);
	} else if (have_dir) {
		warnx("kept %s", paths.dir);
	}
	return status;
}

/* ------------------------------------------------------------ main */

static const struct bench {
	const char *name;
	int (*fn)(int argc, char **argv);
} benches[] = {
	{ "ingest", bench_ingest },
};

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage();
		return 2;
	}
	for (i = 0; i < NELEM(benches); i++) {
		if (strcmp(argv[1], benches[i].name) != 0)
			continue;
		if (sodium_init() < 0) {
			warnx("libsodium failed to initialise");
			return 1;
		}
		/* The benchmark sees its own name as argv[0]. */
		return benches[i].fn(argc - 1, argv + 1);
	}
	warnx("unknown benchmark: %s", argv[1]);
	usage();
	return 2;
}
