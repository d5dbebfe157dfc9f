/*
 * Fuzz target: the operation codec (kz_op_decode).
 *
 * Invariants: a decoded op passes the same validation as one about to be
 * signed, so kz_op_encode accepts it and gives back exactly the input bytes
 * (canonical encoding); the helpers that read a decoded op do not crash;
 * kz_op_bytes_urgent (which answers "not urgent" from the wire format
 * without decoding) says what kz_op_is_urgent of the decoding says, and
 * false for what does not decode.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/op.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kz_op *op = NULL;
	uint8_t *enc = NULL;
	size_t enc_len;
	const uint8_t *target;
	int rc = kz_op_decode(&op, data, size);
	bool urgent = kz_op_bytes_urgent(data, size);

	KZF_CHECK(urgent == (rc == 0 && kz_op_is_urgent(op)),
	    "op: kz_op_bytes_urgent says %d, the decoding %s", urgent,
	    rc < 0 ? "failed" : kz_op_is_urgent(op) ? "urgent" : "not urgent");
	if (rc < 0) {
		KZF_CHECK(op == NULL, "op: output set on failure");
		KZF_CHECK(rc == KZ_ERR_MALFORMED || rc == KZ_ERR_TOO_BIG ||
		    rc == KZ_ERR_BAD_UTF8 || rc == KZ_ERR_INVAL ||
		    rc == KZ_ERR_NOMEM, "op: unexpected %s", kz_errname(rc));
		return 0;
	}
	KZF_CHECK(size <= KZ_OP_MAX, "op: %zu bytes decoded", size);
	KZF_CHECK(op->type >= KZ_OP_POST && op->type < KZ__OP_LAST,
	    "op: type %d", (int)op->type);
	KZF_CHECK(strcmp(kz_op_type_name(op->type), "?") != 0, "op: no name");
	target = kz_op_target(op);
	if (target != NULL) {
		volatile uint8_t sink = 0;
		int i;

		for (i = 0; i < KZ_ID_BYTES; i++)
			sink ^= target[i];
		(void)sink;
	}
	if (op->type == KZ_OP_POST)
		(void)kz_priority_name(op->u.post.priority);
	if (op->type == KZ_OP_SAFETY)
		(void)kz_safety_name(op->u.safety.status);
	if (op->type == KZ_OP_USER_SET)
		(void)kz_role_name(op->u.user_set.role);
	rc = kz_op_encode(&enc, &enc_len, op);
	KZF_CHECK(rc == 0, "op: a decoded %s does not encode: %s",
	    kz_op_type_name(op->type), kz_errname(rc));
	KZF_CHECK(enc_len == size && memcmp(enc, data, size) == 0,
	    "op: re-encoding of a %s differs from the input (%zu vs %zu bytes)",
	    kz_op_type_name(op->type), enc_len, size);
	free(enc);
	kz_op_free(op);
	return 0;
}
