/*
 * Fuzz target: the bundle reader (kz_bundle_reader_*) and the vector file
 * reader (kz_vector_read), over a temporary file holding the input (a
 * vector file when it starts with KZ_VECTOR_MAGIC).
 *
 * Invariants: opening refuses anything without the magic; the reader
 * terminates; a sealed header's items are within their bounds and every
 * run yielded for item i is that item's feed, first seq and entry count;
 * an end of file in the middle is sticky; a vector read is sorted by feed
 * with detached seqs ascending above each tip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/bundle.h"
#include "kizuna/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_vector(const char *path)
{
	struct kz_vector v;
	size_t i, j;
	int rc = kz_vector_read(path, &v);

	if (rc < 0) {
		KZF_CHECK(v.feeds == NULL && v.n == 0, "vector: set on failure");
		KZF_CHECK(rc == KZ_ERR_MALFORMED || rc == KZ_ERR_TOO_BIG,
		    "vector: unexpected %s", kz_errname(rc));
		return;
	}
	for (i = 0; i < v.n; i++) {
		KZF_CHECK(i == 0 || memcmp(v.feeds[i - 1].feed, v.feeds[i].feed,
		    32) < 0, "vector: feeds not sorted");
		for (j = 0; j < v.feeds[i].n_detached; j++)
			KZF_CHECK(v.feeds[i].detached[j] > (j > 0 ?
			    v.feeds[i].detached[j - 1] : v.feeds[i].tip),
			    "vector: detached seqs out of order");
	}
	kz_vector_free(&v);
}

static void
fuzz_bundle(const char *path, const uint8_t *data, size_t size)
{
	struct kz_bundle_reader *r = NULL;
	const struct kz_bundle_info *info;
	size_t calls = 0, index;
	int rc = kz_bundle_reader_new(&r, path);

	if (rc < 0) {
		KZF_CHECK(r == NULL, "bundle: reader set on failure");
		KZF_CHECK(rc == KZ_ERR_MALFORMED, "bundle: open: %s", kz_errname(rc));
		return;
	}
	KZF_CHECK(size >= 4 && memcmp(data, KZ_BUNDLE_MAGIC, 4) == 0,
	    "bundle: opened without the magic");
	info = kz_bundle_reader_info(r);
	KZF_CHECK(info->sealed == (info->header_err == 0), "bundle: sealed %d err %d",
	    info->sealed, info->header_err);
	KZF_CHECK(info->n_items <= KZ_BUNDLE_ITEMS_MAX, "bundle: %zu items",
	    info->n_items);
	KZF_CHECK(info->sealed || info->n_items == 0, "bundle: items unsealed");
	for (;;) {
		struct kz_run *run = NULL;

		KZF_CHECK(++calls <= size / 4 + 2, "bundle: reader does not end");
		rc = kz_bundle_reader_next(r, &run, &index);
		KZF_CHECK(kz_bundle_reader_offset(r) <= size, "bundle: offset past end");
		if (rc == 1) {
			KZF_CHECK(run == NULL, "bundle: run at the end");
			KZF_CHECK(!info->sealed || index == info->n_items,
			    "bundle: sealed end at item %zu of %zu", index, info->n_items);
			break;
		}
		if (rc == 0) {
			KZF_CHECK(run != NULL, "bundle: no run");
			if (info->sealed) {
				const struct kz_bundle_item *it = &info->items[index];

				KZF_CHECK(index < info->n_items, "bundle: index");
				KZF_CHECK(memcmp(run->author, it->feed, 32) == 0 &&
				    run->first_seq == it->first_seq &&
				    run->n == it->entries, "bundle: run is not its item");
			}
			kz_run_free(run);
			continue;
		}
		KZF_CHECK(run == NULL, "bundle: run set with an error");
		KZF_CHECK(rc == KZ_ERR_CORRUPT || rc == KZ_ERR_MALFORMED ||
		    rc == KZ_ERR_TOO_BIG || rc == KZ_ERR_TRUNCATED,
		    "bundle: unexpected %s", kz_errname(rc));
		if (!kz_bundle_reader_ended(r))
			continue;
		{
			struct kz_run *again = NULL;
			size_t i2;

			KZF_CHECK(kz_bundle_reader_next(r, &again, &i2) == rc &&
			    again == NULL, "bundle: an ended reader went on");
		}
		break;
	}
	kz_bundle_reader_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = kzf_tmpfile("bundle", data, size);

	if (size >= 4 && memcmp(data, KZ_VECTOR_MAGIC, 4) == 0)
		fuzz_vector(path);
	else
		fuzz_bundle(path, data, size);
	return 0;
}
