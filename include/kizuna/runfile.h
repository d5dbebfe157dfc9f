/*
 * Run files: runs of entries written to a file, to carry by hand or to
 * import elsewhere (the seed of bundles).
 *
 *   "KZR1" | { u32 length (big-endian) | Run (protobuf, kz_run_encode) } ...
 *
 * Authenticity comes from the runs' signatures, not from the file, so a run
 * file may travel over an untrusted medium.  A reader yields the intact
 * runs before any damage and then reports the damage with its offset.
 */
#ifndef KIZUNA_RUNFILE_H
#define KIZUNA_RUNFILE_H

#include <stdint.h>

#include "kizuna/entry.h"

#define KZ_RUNFILE_MAGIC "KZR1"

struct kz_runfile_writer;
struct kz_runfile_reader;

/*
 * Starts writing path (through a temporary file renamed into place by
 * kz_runfile_writer_close, so a crash never leaves a partial file under
 * path).  Returns 0, KZ_ERR_IO (errno set) or KZ_ERR_NOMEM.
 */
int kz_runfile_writer_new(struct kz_runfile_writer **out, const char *path);

/* Appends one run (borrowed).  Returns 0, KZ_ERR_IO, KZ_ERR_FULL or a codec error. */
int kz_runfile_writer_add(struct kz_runfile_writer *w, const struct kz_run *run);

/*
 * Flushes, fsyncs and renames into place, then frees w.  Returns 0 or
 * KZ_ERR_IO / KZ_ERR_FULL; on failure the temporary file is removed.
 */
int kz_runfile_writer_close(struct kz_runfile_writer *w);

/* Drops an unfinished file and frees w; accepts NULL. */
void kz_runfile_writer_free(struct kz_runfile_writer *w);

/*
 * Opens a run file.  Returns 0, KZ_ERR_IO (errno set) or KZ_ERR_MALFORMED
 * if it does not start with the magic.
 */
int kz_runfile_reader_new(struct kz_runfile_reader **out, const char *path);

/*
 * The next run: 0 with *run set (caller frees), 1 at a clean end of file,
 * or an error for damage at kz_runfile_reader_offset().  A record that does
 * not decode (KZ_ERR_MALFORMED, KZ_ERR_TOO_BIG) is skipped and reading may go
 * on; broken framing (KZ_ERR_TRUNCATED, a length over the bound, KZ_ERR_IO)
 * ends the file: every later call returns the same error.
 */
int kz_runfile_reader_next(struct kz_runfile_reader *r, struct kz_run **run);

/* File offset of the record last read or found damaged. */
uint64_t kz_runfile_reader_offset(const struct kz_runfile_reader *r);

void kz_runfile_reader_free(struct kz_runfile_reader *r);

#endif
