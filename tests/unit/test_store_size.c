/*
 * The store's size readers (kizuna/store_size.h): the stored size of a
 * range of a feed (header and op bytes of each entry), exact at every edge
 * of the range, and the mean stored size of the last 256 entries stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/keys.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/store_size.h"
#include "testutil.h"

static const uint8_t CHAN[32] = { 0xc4, 0x01 };

#define T0 1790000000000ull

struct fx {
	char *dir;
	struct kz_keypair ka, kb;
	struct kz_store *st;
	struct kz_test_log log;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t seed[32];
	char *p;

	assert_non_null(f);
	f->dir = kz_test_tmpdir();
	kz_test_log_init(&f->log);
	memset(seed, 0xa1, sizeof(seed));
	assert_int_equal(kz_keypair_from_seed(&f->ka, seed), 0);
	memset(seed, 0xb2, sizeof(seed));
	assert_int_equal(kz_keypair_from_seed(&f->kb, seed), 0);
	p = kz_test_path(f->dir, "a.db");
	assert_int_equal(kz_store_open(&f->st, p, &f->log.lg), 0);
	free(p);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kz_store_free(f->st);
	kz_test_rmtree(f->dir);
	free(f);
	return 0;
}

/* Appends a post of text n characters long; returns its op's length. */
static size_t
post(struct fx *f, const struct kz_keypair *kp, size_t n, uint64_t i)
{
	char *text = malloc(n + 1);
	struct kz_post p = { .channel = CHAN };
	struct kz_appended app;
	uint8_t *op;
	size_t len;

	assert_non_null(text);
	memset(text, 'x', n);
	text[n] = '\0';
	p.text = text;
	assert_int_equal(kz_op_encode_post(&op, &len, &p), 0);
	assert_int_equal(kz_store_append(f->st, kp, T0 + i, op, len, &app), 0);
	free(op);
	free(text);
	return len;
}

static void
test_range(void **state)
{
	struct fx *f = *state;
	size_t l1, l2, l3, lb;
	uint64_t b = 99;

	/* Nothing stored: 0, whatever the range. */
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 1, 10, &b), 0);
	assert_int_equal(b, 0);
	l1 = post(f, &f->ka, 10, 1);
	l2 = post(f, &f->ka, 500, 2);
	l3 = post(f, &f->ka, 3000, 3);
	lb = post(f, &f->kb, 100, 4);
	assert_true(l1 < l2 && l2 < l3);
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 1, 3, &b), 0);
	assert_int_equal(b, 3 * KZ_HEADER_BYTES + l1 + l2 + l3);
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 2, 2, &b), 0);
	assert_int_equal(b, KZ_HEADER_BYTES + l2);
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 2, 3, &b), 0);
	assert_int_equal(b, 2 * KZ_HEADER_BYTES + l2 + l3);
	/* Past the tip, and to the largest seq: what is held. */
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 3, 9, &b), 0);
	assert_int_equal(b, KZ_HEADER_BYTES + l3);
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 1, UINT64_MAX,
	    &b), 0);
	assert_int_equal(b, 3 * KZ_HEADER_BYTES + l1 + l2 + l3);
	/* Beyond the tip, an empty range, seq 0, another feed. */
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 4, 9, &b), 0);
	assert_int_equal(b, 0);
	b = 99;
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 3, 2, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(kz_store_range_bytes(f->st, f->ka.pk, 0, 1, &b), 0);
	assert_int_equal(b, KZ_HEADER_BYTES + l1);
	assert_int_equal(kz_store_range_bytes(f->st, f->kb.pk, 1, 1, &b), 0);
	assert_int_equal(b, KZ_HEADER_BYTES + lb);
	assert_int_equal(kz_store_range_bytes(f->st, CHAN, 1, 9, &b), 0);
	assert_int_equal(b, 0);
}

static void
test_recent_mean(void **state)
{
	struct fx *f = *state;
	uint64_t mean = 99, big = 0, small = 0;
	size_t i, len;

	assert_int_equal(kz_store_recent_mean_size(f->st, &mean), 0);
	assert_int_equal(mean, 0);
	/* 44 large entries, then 256 small ones of two sizes: only the last
	 * 256 count. */
	for (i = 0; i < 44; i++)
		big += post(f, &f->ka, 4000, i);
	assert_true(big > 0);
	for (i = 0; i < 256; i++) {
		len = post(f, i % 2 ? &f->ka : &f->kb, i % 2 ? 20 : 21, 100 + i);
		small += KZ_HEADER_BYTES + len;
	}
	assert_int_equal(kz_store_recent_mean_size(f->st, &mean), 0);
	assert_int_equal(mean, (small + 128) / 256);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_mean, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
