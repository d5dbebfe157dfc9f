/*
 * Fuzz target: the run file reader (kz_runfile_reader_*), over a temporary
 * file holding the input.
 *
 * Invariants: the reader yields every run until the first broken framing
 * and terminates; each run it yields re-encodes to exactly the record's
 * bytes at the offset it reports; broken framing is sticky (every later
 * call returns the same error); a clean end comes only at the end of the
 * file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/runfile.h"
#include "kizuna/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = kzf_tmpfile("runfile", data, size);
	struct kz_runfile_reader *r = NULL;
	size_t calls = 0;
	int rc;

	rc = kz_runfile_reader_new(&r, path);
	if (rc < 0) {
		KZF_CHECK(r == NULL, "runfile: reader set on failure");
		KZF_CHECK(rc == KZ_ERR_MALFORMED, "runfile: open: %s",
		    kz_errname(rc));
		KZF_CHECK(size < 4 || memcmp(data, KZ_RUNFILE_MAGIC, 4) != 0,
		    "runfile: magic refused");
		return 0;
	}
	KZF_CHECK(size >= 4 && memcmp(data, KZ_RUNFILE_MAGIC, 4) == 0,
	    "runfile: opened without the magic");
	for (;;) {
		struct kz_run *run = NULL;
		uint64_t off;

		/* Each record takes at least its 4-byte length. */
		KZF_CHECK(++calls <= size / 4 + 2, "runfile: reader does not end");
		rc = kz_runfile_reader_next(r, &run);
		off = kz_runfile_reader_offset(r);
		KZF_CHECK(off >= 4 && off <= size, "runfile: offset %llu of %zu",
		    (unsigned long long)off, size);
		if (rc == 1) {
			KZF_CHECK(run == NULL, "runfile: run at the end");
			KZF_CHECK(off == size, "runfile: clean end at %llu of %zu",
			    (unsigned long long)off, size);
			break;
		}
		if (rc == 0) {
			uint8_t *enc;
			size_t enc_len;
			uint32_t len;

			KZF_CHECK(run != NULL, "runfile: no run");
			KZF_CHECK(off + 4 <= size, "runfile: record past the end");
			len = kz_get_be32(data + off);
			KZF_CHECK(off + 4 + len <= size, "runfile: record past the end");
			KZF_CHECK(kz_run_encode(&enc, &enc_len, run) == 0,
			    "runfile: a run read does not encode");
			KZF_CHECK(enc_len == len && memcmp(enc, data + off + 4,
			    len) == 0, "runfile: run differs from its record at %llu",
			    (unsigned long long)off);
			free(enc);
			kz_run_free(run);
			continue;
		}
		KZF_CHECK(run == NULL, "runfile: run set with an error");
		if (rc == KZ_ERR_MALFORMED)
			continue;	/* a record that does not decode: skipped */
		if (rc == KZ_ERR_TOO_BIG) {
			/* Either an oversized run inside intact framing, or a
			 * length over the bound, which ends the file. */
			uint32_t len = kz_get_be32(data + off);

			if (len <= KZ_RUN_MAX_BYTES)
				continue;
		} else {
			KZF_CHECK(rc == KZ_ERR_TRUNCATED, "runfile: unexpected %s",
			    kz_errname(rc));
		}
		/* Broken framing is sticky. */
		{
			struct kz_run *again = NULL;
			int rc2 = kz_runfile_reader_next(r, &again);

			KZF_CHECK(rc2 == rc && again == NULL,
			    "runfile: after %s the next call returned %d",
			    kz_errname(rc), rc2);
		}
		break;
	}
	kz_runfile_reader_free(r);
	return 0;
}
