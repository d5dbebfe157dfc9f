/*
 * Fuzz target: the run codec (kz_run_decode).
 *
 * Invariants: decoding accepts only the canonical encoding, so a decoded
 * run re-encodes (kz_run_encode) to exactly the input; every bound holds on
 * the decoded value; kz_run_rebuild of any decoded run succeeds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[KZ_HASH_BYTES];
	struct kz_run *run = NULL;
	uint8_t *enc = NULL, (*hashes)[KZ_HASH_BYTES] = NULL;
	uint8_t (*headers)[KZ_HEADER_BYTES] = NULL;
	size_t enc_len, i;
	int rc = kz_run_decode(&run, data, size);

	if (rc < 0) {
		KZF_CHECK(run == NULL, "run: output set on failure");
		KZF_CHECK(rc == KZ_ERR_MALFORMED || rc == KZ_ERR_TOO_BIG ||
		    rc == KZ_ERR_NOMEM, "run: unexpected %s", kz_errname(rc));
		return 0;
	}
	KZF_CHECK(run->n >= 1 && run->n <= KZ_RUN_MAX_ENTRIES,
	    "run: %zu entries", run->n);
	KZF_CHECK(run->first_seq >= 1 &&
	    run->first_seq - 1 + run->n <= KZ_SEQ_MAX, "run: seqs out of range");
	for (i = 0; i < run->n; i++) {
		KZF_CHECK(run->entries[i].hlc <= KZ_HLC_MAX, "run: hlc over max");
		KZF_CHECK(run->entries[i].op_len <= KZ_OP_MAX, "run: op over max");
	}
	rc = kz_run_encode(&enc, &enc_len, run);
	KZF_CHECK(rc == 0, "run: decoded run does not encode: %s",
	    kz_errname(rc));
	KZF_CHECK(enc_len == size && memcmp(enc, data, size) == 0,
	    "run: re-encoding differs from the input (%zu vs %zu bytes)",
	    enc_len, size);
	hashes = malloc(run->n * sizeof(*hashes));
	headers = malloc(run->n * sizeof(*headers));
	KZF_CHECK(hashes != NULL && headers != NULL, "run: out of memory");
	rc = kz_run_rebuild(run, run->has_prev ? run->prev : zero, hashes,
	    headers);
	KZF_CHECK(rc == 0, "run: rebuild failed: %s", kz_errname(rc));
	for (i = 0; i < run->n; i++) {
		struct kz_entry_header h;

		/* The rebuilt headers are valid signed bytes. */
		rc = kz_header_decode(&h, headers[i], KZ_HEADER_BYTES);
		KZF_CHECK(rc == 0, "run: rebuilt header %zu does not decode", i);
		KZF_CHECK(h.seq == run->first_seq + i, "run: rebuilt seq");
	}
	free(headers);
	free(hashes);
	free(enc);
	kz_run_free(run);
	return 0;
}
