/*
 * kizuna-bench: what the benchmarks' source files share (bench.c holds the
 * helpers and main, bench_sync.c the sync benchmark, bench_radio.c the
 * radio link's).
 */
#ifndef KZ_BENCH_H
#define KZ_BENCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/log.h"

#define TEXT_TARGET 200		/* aimed-at post text size, bytes */
#define TEXT_CAP 1024		/* text buffer (a text never gets near it) */

#define SYNC_DEFAULT_ENTRIES 100000	/* sync: posts node A holds */
#define SYNC_DEFAULT_LIVE 200		/* sync: live posts timed per path */

extern const char *progname;
/* The path the bench was started as (main's argv[0]). */
extern const char *bench_argv0;
/* Warnings and errors of the library, on stderr. */
extern const struct kz_logger bench_log;

/* CLOCK_MONOTONIC, seconds. */
double mono_s(void);
/* CLOCK_REALTIME, milliseconds since the epoch. */
uint64_t wall_ms(void);

/* Parses a decimal count in [min, max]; 0 or -1. */
int parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/*
 * The value of option name in argv[*i] ("--name=value" or "--name value",
 * advancing *i); NULL if argv[*i] is another option, *missing set when it
 * lacks its value.
 */
const char *opt_value(int argc, char **argv, int *i, const char *name,
    bool *missing);

/* count / secs rounded, 0 when secs is 0. */
json_int_t rate(double count, double secs);

/* Reports a failed library call with its code. */
void report_err(const char *what, int rc);

/* splitmix64. */
uint64_t rng_next(uint64_t *s);
size_t rng_below(uint64_t *s, size_t n);

/* A post text of about TEXT_TARGET bytes of Japanese; returns its length. */
size_t gen_text(char buf[TEXT_CAP], uint64_t *rng);

/* qsort comparator of doubles; the nearest-rank percentile of sorted v. */
int cmp_double(const void *a, const void *b);
double percentile(const double *v, size_t n, unsigned permille);

/* Prints js as the benchmark's one JSON line.  Returns 0 or -1 (said why). */
int print_json_line(const json_t *js);

/* The benchmarks in other files. */
int bench_sync(int argc, char **argv);
int bench_radio(int argc, char **argv);
int bench_slack(int argc, char **argv);

#endif
