/* Helpers shared by the unit tests: temporary folders and quiet loggers. */
#ifndef KZ_TESTUTIL_H
#define KZ_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "kizuna/log.h"

/* Creates a fresh temporary folder; the path is malloc'd. */
char *kz_test_tmpdir(void);

/* Removes a folder and everything in it, then frees path. */
void kz_test_rmtree(char *path);

/* path/name, malloc'd. */
char *kz_test_path(const char *dir, const char *name);

/* A logger that counts messages and keeps the last one. */
struct kz_test_log {
	struct kz_logger lg;
	int count;
	char last[1024];
};

void kz_test_log_init(struct kz_test_log *tl);

/* A deterministic pseudo-random generator (xorshift64*). */
uint64_t kz_test_rand(uint64_t *state);

#endif
