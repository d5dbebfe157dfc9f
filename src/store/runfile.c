/*
 * Run file reader and writer (format in kizuna/runfile.h).  Reads are
 * bounded before allocation: a length field over KZ_RUN_MAX_BYTES is damage,
 * never a reason to allocate.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kizuna/err.h"
#include "kizuna/runfile.h"
#include "kizuna/util.h"

struct kz_runfile_writer {
	FILE *f;
	char *path;
	char *tmp;
};

struct kz_runfile_reader {
	FILE *f;
	uint64_t offset;	/* start of the current record */
	uint64_t next;		/* start of the next record */
	int failed;
};

int
kz_runfile_writer_new(struct kz_runfile_writer **out, const char *path)
{
	struct kz_runfile_writer *w;
	int fd;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return KZ_ERR_NOMEM;
	w->path = strdup(path);
	w->tmp = malloc(strlen(path) + 16);
	if (w->path == NULL || w->tmp == NULL) {
		kz_runfile_writer_free(w);
		return KZ_ERR_NOMEM;
	}
	sprintf(w->tmp, "%s.tmp-XXXXXX", path);
	fd = mkstemp(w->tmp);
	if (fd < 0) {
		free(w->tmp);
		w->tmp = NULL;
		kz_runfile_writer_free(w);
		return KZ_ERR_IO;
	}
	w->f = fdopen(fd, "wb");
	if (w->f == NULL) {
		close(fd);
		kz_runfile_writer_free(w);
		return KZ_ERR_IO;
	}
	if (fwrite(KZ_RUNFILE_MAGIC, 1, 4, w->f) != 4) {
		kz_runfile_writer_free(w);
		return KZ_ERR_IO;
	}
	*out = w;
	return 0;
}

int
kz_runfile_writer_add(struct kz_runfile_writer *w, const struct kz_run *run)
{
	uint8_t *buf = NULL, lenb[4];
	size_t len;
	int rc;

	if ((rc = kz_run_encode(&buf, &len, run)) < 0)
		return rc;
	kz_put_be32(lenb, (uint32_t)len);
	if (fwrite(lenb, 1, 4, w->f) != 4 || fwrite(buf, 1, len, w->f) != len)
		rc = errno == ENOSPC ? KZ_ERR_FULL : KZ_ERR_IO;
	free(buf);
	return rc;
}

int
kz_runfile_writer_close(struct kz_runfile_writer *w)
{
	int rc = 0;

	if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
		rc = errno == ENOSPC ? KZ_ERR_FULL : KZ_ERR_IO;
	if (fclose(w->f) != 0 && rc == 0)
		rc = errno == ENOSPC ? KZ_ERR_FULL : KZ_ERR_IO;
	w->f = NULL;
	if (rc == 0 && rename(w->tmp, w->path) != 0)
		rc = KZ_ERR_IO;
	if (rc == 0) {
		free(w->tmp);
		w->tmp = NULL;
	}
	kz_runfile_writer_free(w);
	return rc;
}

void
kz_runfile_writer_free(struct kz_runfile_writer *w)
{
	if (w == NULL)
		return;
	if (w->f != NULL)
		fclose(w->f);
	if (w->tmp != NULL) {
		int saved = errno;
		unlink(w->tmp);
		errno = saved;
	}
	free(w->tmp);
	free(w->path);
	free(w);
}

int
kz_runfile_reader_new(struct kz_runfile_reader **out, const char *path)
{
	struct kz_runfile_reader *r;
	char magic[4];

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return KZ_ERR_NOMEM;
	r->f = fopen(path, "rb");
	if (r->f == NULL) {
		free(r);
		return KZ_ERR_IO;
	}
	if (fread(magic, 1, 4, r->f) != 4 || memcmp(magic, KZ_RUNFILE_MAGIC, 4) != 0) {
		kz_runfile_reader_free(r);
		return KZ_ERR_MALFORMED;
	}
	r->next = 4;
	*out = r;
	return 0;
}

int
kz_runfile_reader_next(struct kz_runfile_reader *r, struct kz_run **run)
{
	uint8_t lenb[4], *buf;
	size_t got;
	uint32_t len;
	int rc;

	*run = NULL;
	if (r->failed)
		return r->failed;
	r->offset = r->next;
	got = fread(lenb, 1, 4, r->f);
	if (got == 0 && feof(r->f))
		return 1;
	if (got != 4)
		return r->failed = ferror(r->f) ? KZ_ERR_IO : KZ_ERR_TRUNCATED;
	len = kz_get_be32(lenb);
	if (len > KZ_RUN_MAX_BYTES)
		return r->failed = KZ_ERR_TOO_BIG;
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return KZ_ERR_NOMEM;
	if (fread(buf, 1, len, r->f) != len) {
		free(buf);
		return r->failed = ferror(r->f) ? KZ_ERR_IO : KZ_ERR_TRUNCATED;
	}
	r->next = r->offset + 4 + len;
	/* A record that does not decode is damage too, but the framing
	 * around it is intact: the next record can still be read. */
	rc = kz_run_decode(run, buf, len);
	free(buf);
	return rc;
}

uint64_t
kz_runfile_reader_offset(const struct kz_runfile_reader *r)
{
	return r->offset;
}

void
kz_runfile_reader_free(struct kz_runfile_reader *r)
{
	if (r == NULL)
		return;
	if (r->f != NULL)
		fclose(r->f);
	free(r);
}
