/*
 * No loss under kill -9 (DESIGN invariant 3): a child process appends in a
 * loop and reports each append only after kz_store_append returned success;
 * the parent kills it with SIGKILL at a random point, 20 times over the
 * same store.  Every reported append must be in the store afterwards, with
 * the hash the child was told, and the store must verify every time.
 * KZ_SEED=N replays a run; the seed is printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "testutil.h"

/* A channel id (the hash of a channel_create entry in a real workspace). */
static const uint8_t CHAN[32] = { 0xc4, 0x01 };

#define ROUNDS 20
#define MAX_SEQ 100000

/* What the child reported: hash per seq (0-filled when never reported). */
static uint8_t (*reported)[32];
static uint8_t *have;

static void
child_loop(const char *path, const struct kz_keypair *kp, int fd)
{
	struct kz_store *st = NULL;
	char text[64], line[128], hex[65];

	if (kz_store_open(&st, path, NULL) < 0)
		_exit(3);
	for (unsigned i = 0;; i++) {
		struct kz_post post = { .channel = CHAN, .text = text };
		struct kz_appended app;
		struct timespec ts;
		uint8_t *op;
		size_t len;
		int n;

		snprintf(text, sizeof(text), "安否確認 %u", i);
		if (kz_op_encode_post(&op, &len, &post) < 0)
			_exit(4);
		clock_gettime(CLOCK_REALTIME, &ts);
		if (kz_store_append(st, kp, (uint64_t)ts.tv_sec * 1000, op, len,
		    &app) < 0)
			_exit(5);
		free(op);
		kz_hex(hex, app.hash, 32);
		n = snprintf(line, sizeof(line), "%" PRIu64 " %s\n", app.seq, hex);
		if (write(fd, line, (size_t)n) != n)
			_exit(6);
	}
}

/* Parses complete lines from buf; returns how many were consumed. */
static size_t
take_lines(char *buf, size_t len, int *count)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		uint64_t seq;
		char hex[65];

		if (buf[i] != '\n')
			continue;
		buf[i] = '\0';
		assert_int_equal(sscanf(buf + start, "%" SCNu64 " %64s", &seq, hex), 2);
		assert_true(seq > 0 && seq < MAX_SEQ);
		assert_int_equal(kz_unhex(reported[seq], 32, hex), 0);
		have[seq] = 1;
		(*count)++;
		start = i + 1;
	}
	memmove(buf, buf + start, len - start);
	return start;
}

struct check {
	uint64_t max_seen;
	int missing;
};

static int
on_entry(void *ctx, const struct kz_entry_view *e)
{
	struct check *c = ctx;

	if (e->h.seq < MAX_SEQ && have[e->h.seq]) {
		assert_memory_equal(reported[e->h.seq], e->hash, 32);
		have[e->h.seq] = 2;	/* found */
	}
	if (e->h.seq > c->max_seen)
		c->max_seen = e->h.seq;
	return 0;
}

static void
test_kill9_loses_nothing_acknowledged(void **state)
{
	char *dir = kz_test_tmpdir(), *path = kz_test_path(dir, "crash.db");
	const char *env = getenv("KZ_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	uint64_t rng = seed;
	struct kz_keypair kp;
	uint64_t total = 0;

	(void)state;
	fprintf(stderr, "test_crash: KZ_SEED=%" PRIu64 "\n", seed);
	reported = calloc(MAX_SEQ, 32);
	have = calloc(MAX_SEQ, 1);
	assert_non_null(reported);
	assert_non_null(have);
	assert_int_equal(kz_keypair_generate(&kp), 0);

	for (int round = 0; round < ROUNDS; round++) {
		int fds[2], status, lines = 0;
		int want = 1 + (int)(kz_test_rand(&rng) % 200);
		long spin_ns = (long)(kz_test_rand(&rng) % 3000000);
		char buf[8192];
		size_t len = 0;
		struct timespec t0, t1;
		pid_t pid;
		struct kz_store *st = NULL;
		struct kz_verify_report rep;
		struct check chk = { 0 };

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_loop(path, &kp, fds[1]);
		}
		close(fds[1]);
		/* Wait for `want` acknowledged appends, then a random spin. */
		while (lines < want) {
			ssize_t n = read(fds[0], buf + len, sizeof(buf) - len);
			if (n < 0 && errno == EINTR)
				continue;
			assert_true(n > 0);
			len += (size_t)n;
			len -= take_lines(buf, len, &lines);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &t1);
		while ((t1.tv_sec - t0.tv_sec) * 1000000000L +
		    (t1.tv_nsec - t0.tv_nsec) < spin_ns);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* Lines still in the pipe were acknowledged too. */
		for (;;) {
			ssize_t n = read(fds[0], buf + len, sizeof(buf) - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			len -= take_lines(buf, len, &lines);
		}
		close(fds[0]);
		total += (uint64_t)lines;

		assert_int_equal(kz_store_open(&st, path, NULL), 0);
		assert_int_equal(kz_store_log(st, on_entry, &chk), 0);
		for (uint64_t s = 1; s < MAX_SEQ; s++) {
			if (have[s] == 1)
				fail_msg("round %d: acknowledged seq %" PRIu64
				    " lost (KZ_SEED=%" PRIu64 ")", round, s, seed);
			if (have[s] == 2)
				have[s] = 1;
		}
		assert_int_equal(kz_store_verify(st, &rep), 0);
		if (!rep.ok)
			fail_msg("round %d: verify: seq %" PRIu64 ": %s (KZ_SEED=%"
			    PRIu64 ")", round, rep.bad_seq, rep.reason, seed);
		assert_true(chk.max_seen >= total);
		kz_store_free(st);
	}
	kz_keypair_wipe(&kp);
	free(reported);
	free(have);
	free(path);
	kz_test_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_loses_nothing_acknowledged),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
