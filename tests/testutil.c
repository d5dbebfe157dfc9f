/* Test helpers (see testutil.h). */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

char *
kz_test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	p = malloc(strlen(base) + 32);
	assert_non_null(p);
	sprintf(p, "%s/kztest-XXXXXX", base);
	assert_non_null(mkdtemp(p));
	return p;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
kz_test_rmtree(char *path)
{
	if (path == NULL)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

char *
kz_test_path(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);

	assert_non_null(p);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static void
on_log(void *ctx, enum kz_log_level level, const char *msg)
{
	struct kz_test_log *tl = ctx;

	(void)level;
	tl->count++;
	snprintf(tl->last, sizeof(tl->last), "%s", msg);
}

void
kz_test_log_init(struct kz_test_log *tl)
{
	memset(tl, 0, sizeof(*tl));
	tl->lg.fn = on_log;
	tl->lg.ctx = tl;
	tl->lg.level = KZ_LOG_DEBUG;
}

uint64_t
kz_test_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}
