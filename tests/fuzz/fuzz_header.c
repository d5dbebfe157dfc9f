/*
 * Fuzz target: the signed entry header (kz_header_decode).
 *
 * Invariants: a header decodes only from exactly KZ_HEADER_BYTES with the
 * magic, a seq from 1 and an op_len within KZ_OP_MAX; the fixed layout has
 * one spelling, so kz_header_encode of a decoded header gives the input back.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kz_entry_header h;
	uint8_t out[KZ_HEADER_BYTES];
	int rc = kz_header_decode(&h, data, size);

	if (rc < 0) {
		KZF_CHECK(rc == KZ_ERR_TRUNCATED || rc == KZ_ERR_MALFORMED ||
		    rc == KZ_ERR_TOO_BIG, "header: unexpected %s", kz_errname(rc));
		KZF_CHECK(rc != KZ_ERR_TRUNCATED || size != KZ_HEADER_BYTES,
		    "header: TRUNCATED for %zu bytes", size);
		return 0;
	}
	KZF_CHECK(size == KZ_HEADER_BYTES, "header: decoded from %zu bytes", size);
	KZF_CHECK(h.seq != 0, "header: seq 0 accepted");
	KZF_CHECK(h.op_len <= KZ_OP_MAX, "header: op_len %u accepted", h.op_len);
	kz_header_encode(out, &h);
	KZF_CHECK(memcmp(out, data, KZ_HEADER_BYTES) == 0,
	    "header: re-encoding differs from the input");
	return 0;
}
