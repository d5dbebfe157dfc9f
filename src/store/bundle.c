/*
 * Bundle files and vector files (formats in kizuna/bundle.h), and export
 * from / import into a store.
 *
 * The writer spools records to a temporary file beside the target while it
 * collects the items, then writes magic, header, seal and the spooled
 * records into a second temporary file that is fsynced and renamed into
 * place: a crash or a full disk never leaves a partial bundle under the
 * name.  The reader trusts the header only when its seal verifies; every
 * length is checked against its bound before anything is allocated.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kizuna.pb-c.h"
#include "kizuna/bundle.h"
#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/util.h"

#define SEAL_CONTEXT "kizuna bundle 1"
#define EXPORT_RUN_ENTRIES 1000
#define EXPORT_RUN_BYTES (256 * 1024)
#define URGENT_BATCH 256
#define VECTOR_MAX (16u * 1024 * 1024)
#define IMPORT_PASSES 8

static int
io_err(void)
{
	return errno == ENOSPC || errno == EDQUOT ? KZ_ERR_FULL : KZ_ERR_IO;
}

static void
record_hash(uint8_t out[16], const uint8_t *p, size_t len)
{
	crypto_generichash(out, 16, p, len, NULL, 0);
}

static void
seal_hash(uint8_t out[32], const uint8_t *header, size_t len)
{
	crypto_generichash_state s;

	crypto_generichash_init(&s, NULL, 0, 32);
	crypto_generichash_update(&s, (const uint8_t *)SEAL_CONTEXT,
	    sizeof(SEAL_CONTEXT) - 1);
	crypto_generichash_update(&s, header, len);
	crypto_generichash_final(&s, out, 32);
}

static int
put_frame(FILE *f, const uint8_t *p, size_t len)
{
	uint8_t lenb[4];

	kz_put_be32(lenb, (uint32_t)len);
	if (fwrite(lenb, 1, 4, f) != 4 || (len > 0 && fwrite(p, 1, len, f) != len))
		return io_err();
	return 0;
}

/* A temporary file beside path, opened for writing. */
static int
open_tmp(const char *path, const char *tag, char **tmp, FILE **f)
{
	int fd;

	*f = NULL;
	*tmp = malloc(strlen(path) + strlen(tag) + 16);
	if (*tmp == NULL)
		return KZ_ERR_NOMEM;
	sprintf(*tmp, "%s.%s-XXXXXX", path, tag);
	if ((fd = mkstemp(*tmp)) < 0) {
		free(*tmp);
		*tmp = NULL;
		return io_err();
	}
	if ((*f = fdopen(fd, "w+b")) == NULL) {
		int rc = io_err();

		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		return rc;
	}
	return 0;
}

static void
drop_tmp(char **tmp, FILE **f)
{
	if (*f != NULL)
		fclose(*f);
	*f = NULL;
	if (*tmp != NULL) {
		int saved = errno;

		unlink(*tmp);
		errno = saved;
	}
	free(*tmp);
	*tmp = NULL;
}

/* Flushes, fsyncs and closes f, then renames tmp to path. */
static int
commit_tmp(char **tmp, FILE **f, const char *path)
{
	int rc = 0;

	if (fflush(*f) != 0 || fsync(fileno(*f)) != 0)
		rc = io_err();
	if (fclose(*f) != 0 && rc == 0)
		rc = io_err();
	*f = NULL;
	if (rc == 0 && rename(*tmp, path) != 0)
		rc = io_err();
	if (rc == 0) {
		free(*tmp);
		*tmp = NULL;
	}
	return rc;
}

/* ---------------------------------------------------------------- writer */

struct kz_bundle_writer {
	char *path;
	char *spool_path;
	FILE *spool;
	struct kz_keypair source;
	bool has_target;
	uint8_t target[KZ_PK_BYTES];
	uint64_t created_ms;
	struct kz_bundle_item *items;
	size_t n, cap;
};

int
kz_bundle_writer_new(struct kz_bundle_writer **out, const char *path,
    const struct kz_keypair *source, const uint8_t *target, uint64_t created_ms)
{
	struct kz_bundle_writer *w;
	int rc;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return KZ_ERR_NOMEM;
	if ((w->path = strdup(path)) == NULL) {
		free(w);
		return KZ_ERR_NOMEM;
	}
	if ((rc = open_tmp(path, "spool", &w->spool_path, &w->spool)) < 0) {
		free(w->path);
		free(w);
		return rc;
	}
	w->source = *source;
	if (target != NULL) {
		w->has_target = true;
		memcpy(w->target, target, KZ_PK_BYTES);
	}
	w->created_ms = created_ms;
	*out = w;
	return 0;
}

int
kz_bundle_writer_add(struct kz_bundle_writer *w, const struct kz_run *run,
    bool alone)
{
	struct kz_bundle_item *it;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (w->n >= KZ_BUNDLE_ITEMS_MAX)
		return KZ_ERR_TOO_BIG;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		void *p = realloc(w->items, cap * sizeof(*w->items));

		if (p == NULL)
			return KZ_ERR_NOMEM;
		w->items = p;
		w->cap = cap;
	}
	if ((rc = kz_run_encode(&buf, &len, run)) < 0)
		return rc;
	if ((rc = put_frame(w->spool, buf, len)) == 0) {
		it = &w->items[w->n++];
		memset(it, 0, sizeof(*it));
		memcpy(it->feed, run->author, KZ_PK_BYTES);
		it->first_seq = run->first_seq;
		it->entries = (uint32_t)run->n;
		it->alone = alone;
		it->length = (uint32_t)len;
		record_hash(it->hash, buf, len);
	}
	free(buf);
	return rc;
}

/* Packs the header of w's items; the caller frees *out. */
static int
pack_header(const struct kz_bundle_writer *w, uint8_t **out, size_t *len)
{
	Kizuna__BundleHeader h = KIZUNA__BUNDLE_HEADER__INIT;
	Kizuna__BundleItem *items = NULL, **ptrs = NULL;
	size_t i;

	if (w->n > 0) {
		items = calloc(w->n, sizeof(*items));
		ptrs = calloc(w->n, sizeof(*ptrs));
		if (items == NULL || ptrs == NULL) {
			free(items);
			free(ptrs);
			return KZ_ERR_NOMEM;
		}
	}
	for (i = 0; i < w->n; i++) {
		const struct kz_bundle_item *it = &w->items[i];

		kizuna__bundle_item__init(&items[i]);
		items[i].feed.data = (uint8_t *)it->feed;
		items[i].feed.len = KZ_PK_BYTES;
		items[i].first_seq = it->first_seq;
		items[i].entries = it->entries;
		items[i].alone = it->alone;
		items[i].hash.data = (uint8_t *)it->hash;
		items[i].hash.len = sizeof(it->hash);
		items[i].length = it->length;
		ptrs[i] = &items[i];
	}
	h.version = KZ_BUNDLE_VERSION;
	h.source.data = (uint8_t *)w->source.pk;
	h.source.len = KZ_PK_BYTES;
	if (w->has_target) {
		h.target.data = (uint8_t *)w->target;
		h.target.len = KZ_PK_BYTES;
	}
	h.created_ms = w->created_ms;
	h.items = ptrs;
	h.n_items = w->n;
	*len = kizuna__bundle_header__get_packed_size(&h);
	*out = *len <= KZ_BUNDLE_HEADER_MAX ? malloc(*len ? *len : 1) : NULL;
	if (*out != NULL)
		kizuna__bundle_header__pack(&h, *out);
	free(items);
	free(ptrs);
	return *out != NULL ? 0 : *len > KZ_BUNDLE_HEADER_MAX ? KZ_ERR_TOO_BIG :
	    KZ_ERR_NOMEM;
}

static int
copy_spool(FILE *from, FILE *to)
{
	uint8_t buf[64 * 1024];
	size_t n;

	if (fflush(from) != 0 || fseek(from, 0, SEEK_SET) != 0)
		return io_err();
	while ((n = fread(buf, 1, sizeof(buf), from)) > 0)
		if (fwrite(buf, 1, n, to) != n)
			return io_err();
	return ferror(from) ? KZ_ERR_IO : 0;
}

int
kz_bundle_writer_close(struct kz_bundle_writer *w)
{
	uint8_t *header = NULL, hash[32], sig[KZ_SIG_BYTES];
	char *tmp = NULL;
	FILE *f = NULL;
	size_t len;
	int rc;

	if ((rc = pack_header(w, &header, &len)) < 0)
		goto out;
	seal_hash(hash, header, len);
	if ((rc = kz_sign_hash(sig, hash, &w->source)) < 0)
		goto out;
	if ((rc = open_tmp(w->path, "tmp", &tmp, &f)) < 0)
		goto out;
	if (fwrite(KZ_BUNDLE_MAGIC, 1, 4, f) != 4)
		rc = io_err();
	if (rc == 0)
		rc = put_frame(f, header, len);
	if (rc == 0)
		rc = put_frame(f, sig, sizeof(sig));
	if (rc == 0)
		rc = copy_spool(w->spool, f);
	if (rc == 0)
		rc = commit_tmp(&tmp, &f, w->path);
out:
	drop_tmp(&tmp, &f);
	free(header);
	kz_bundle_writer_free(w);
	return rc;
}

void
kz_bundle_writer_free(struct kz_bundle_writer *w)
{
	if (w == NULL)
		return;
	drop_tmp(&w->spool_path, &w->spool);
	kz_keypair_wipe(&w->source);
	free(w->items);
	free(w->path);
	free(w);
}

/* ---------------------------------------------------------------- reader */

struct kz_bundle_reader {
	FILE *f;
	struct kz_bundle_info info;
	size_t next_index;
	uint64_t offset, next;
	int failed;
};

/* Reads a u32 length and that many bytes (at most max) at the file's
 * position; *buf is malloc'd. */
static int
read_frame(FILE *f, uint32_t max, uint8_t **buf, uint32_t *len)
{
	uint8_t lenb[4];
	size_t got;

	*buf = NULL;
	got = fread(lenb, 1, 4, f);
	if (got == 0 && feof(f))
		return 1;
	if (got != 4)
		return ferror(f) ? KZ_ERR_IO : KZ_ERR_TRUNCATED;
	*len = kz_get_be32(lenb);
	if (*len > max)
		return KZ_ERR_TOO_BIG;
	if ((*buf = malloc(*len ? *len : 1)) == NULL)
		return KZ_ERR_NOMEM;
	if (fread(*buf, 1, *len, f) != *len) {
		free(*buf);
		*buf = NULL;
		return ferror(f) ? KZ_ERR_IO : KZ_ERR_TRUNCATED;
	}
	return 0;
}

static int
copy_key(uint8_t out[KZ_PK_BYTES], const ProtobufCBinaryData *b)
{
	if (b->len != KZ_PK_BYTES)
		return KZ_ERR_MALFORMED;
	memcpy(out, b->data, KZ_PK_BYTES);
	return 0;
}

/* Fills r->info from a header whose seal verified. */
static int
take_header(struct kz_bundle_info *info, const uint8_t *buf, size_t len)
{
	Kizuna__BundleHeader *h = kizuna__bundle_header__unpack(NULL, len, buf);
	int rc = 0;
	size_t i;

	if (h == NULL)
		return KZ_ERR_MALFORMED;
	if (h->version != KZ_BUNDLE_VERSION || h->n_items > KZ_BUNDLE_ITEMS_MAX ||
	    copy_key(info->source, &h->source) < 0 ||
	    (h->target.len != 0 && h->target.len != KZ_PK_BYTES)) {
		rc = KZ_ERR_MALFORMED;
		goto out;
	}
	info->version = h->version;
	info->created_ms = h->created_ms;
	info->has_target = h->target.len == KZ_PK_BYTES;
	if (info->has_target)
		memcpy(info->target, h->target.data, KZ_PK_BYTES);
	if (h->n_items > 0 &&
	    (info->items = calloc(h->n_items, sizeof(*info->items))) == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < h->n_items; i++) {
		const Kizuna__BundleItem *bi = h->items[i];
		struct kz_bundle_item *it = &info->items[i];

		if (copy_key(it->feed, &bi->feed) < 0 || bi->hash.len != 16 ||
		    bi->first_seq == 0 || bi->entries == 0 ||
		    bi->entries > KZ_RUN_MAX_ENTRIES ||
		    bi->length > KZ_RUN_MAX_BYTES ||
		    bi->first_seq > UINT64_MAX - bi->entries) {
			rc = KZ_ERR_MALFORMED;
			goto out;
		}
		it->first_seq = bi->first_seq;
		it->entries = bi->entries;
		it->alone = bi->alone;
		memcpy(it->hash, bi->hash.data, 16);
		it->length = bi->length;
		info->entries += it->entries;
		info->record_bytes += it->length;
	}
	info->n_items = h->n_items;
out:
	if (rc < 0) {
		free(info->items);
		info->items = NULL;
		info->entries = info->record_bytes = 0;
	}
	kizuna__bundle_header__free_unpacked(h, NULL);
	return rc;
}

/* Reads the header and seal frames; a header that does not verify leaves
 * info unsealed with header_err saying why. */
static int
read_header(struct kz_bundle_reader *r)
{
	uint8_t *header = NULL, *seal = NULL, hash[32];
	uint32_t hlen, slen;
	int rc;

	rc = read_frame(r->f, KZ_BUNDLE_HEADER_MAX, &header, &hlen);
	if (rc == 0)
		rc = read_frame(r->f, 4096, &seal, &slen);
	if (rc != 0) {
		free(header);
		return rc == KZ_ERR_NOMEM || rc == KZ_ERR_IO ? rc : KZ_ERR_MALFORMED;
	}
	r->next = 4 + 4 + (uint64_t)hlen + 4 + slen;
	/* The source key is needed to check the seal: peek at it first. */
	{
		Kizuna__BundleHeader *h = kizuna__bundle_header__unpack(NULL, hlen,
		    header);

		if (h == NULL || h->source.len != KZ_PK_BYTES || slen != KZ_SIG_BYTES) {
			rc = KZ_ERR_MALFORMED;
		} else {
			seal_hash(hash, header, hlen);
			rc = kz_verify_hash(seal, hash, h->source.data);
		}
		if (h != NULL)
			kizuna__bundle_header__free_unpacked(h, NULL);
	}
	if (rc == 0)
		rc = take_header(&r->info, header, hlen);
	if (rc == KZ_ERR_NOMEM) {
		free(header);
		free(seal);
		return rc;
	}
	r->info.sealed = rc == 0;
	r->info.header_err = rc;
	free(header);
	free(seal);
	return 0;
}

int
kz_bundle_reader_new(struct kz_bundle_reader **out, const char *path)
{
	struct kz_bundle_reader *r;
	char magic[4];
	int rc;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return KZ_ERR_NOMEM;
	if ((r->f = fopen(path, "rb")) == NULL) {
		free(r);
		return KZ_ERR_IO;
	}
	if (fread(magic, 1, 4, r->f) != 4 || memcmp(magic, KZ_BUNDLE_MAGIC, 4) != 0)
		rc = KZ_ERR_MALFORMED;
	else
		rc = read_header(r);
	if (rc != 0) {
		kz_bundle_reader_free(r);
		return rc < 0 ? rc : KZ_ERR_MALFORMED;
	}
	*out = r;
	return 0;
}

const struct kz_bundle_info *
kz_bundle_reader_info(const struct kz_bundle_reader *r)
{
	return &r->info;
}

/* Checks a record against its sealed item before decoding. */
static int
check_record(const struct kz_bundle_item *it, const uint8_t *buf, uint32_t len)
{
	uint8_t h[16];

	if (len != it->length)
		return KZ_ERR_CORRUPT;
	record_hash(h, buf, len);
	return sodium_memcmp(h, it->hash, 16) == 0 ? 0 : KZ_ERR_CORRUPT;
}

static int
matches_item(const struct kz_bundle_item *it, const struct kz_run *run)
{
	return memcmp(run->author, it->feed, KZ_PK_BYTES) == 0 &&
	    run->first_seq == it->first_seq && run->n == it->entries;
}

/*
 * Reads item it's record: its length comes from the sealed header, so a
 * damaged length field costs that record only and the next one is read
 * where the header says it starts.
 */
static int
read_item(struct kz_bundle_reader *r, const struct kz_bundle_item *it,
    uint8_t **buf)
{
	uint8_t lenb[4];
	size_t got;

	*buf = NULL;
	got = fread(lenb, 1, 4, r->f);
	if (got != 4)
		return ferror(r->f) ? KZ_ERR_IO : KZ_ERR_TRUNCATED;
	if ((*buf = malloc(it->length ? it->length : 1)) == NULL)
		return KZ_ERR_NOMEM;
	if (fread(*buf, 1, it->length, r->f) != it->length) {
		free(*buf);
		*buf = NULL;
		return ferror(r->f) ? KZ_ERR_IO : KZ_ERR_TRUNCATED;
	}
	return kz_get_be32(lenb) == it->length ? 0 : KZ_ERR_CORRUPT;
}

int
kz_bundle_reader_next(struct kz_bundle_reader *r, struct kz_run **run,
    size_t *index)
{
	const struct kz_bundle_item *it = NULL;
	uint8_t *buf = NULL;
	uint32_t len;
	int rc;

	*run = NULL;
	*index = r->next_index;
	if (r->failed)
		return r->failed;
	r->offset = r->next;
	if (r->info.sealed) {
		if (r->next_index >= r->info.n_items)
			return 1;	/* bytes past the last item are ignored */
		it = &r->info.items[r->next_index];
		len = it->length;
		rc = read_item(r, it, &buf);
	} else {
		rc = read_frame(r->f, KZ_RUN_MAX_BYTES, &buf, &len);
	}
	if (rc == 1 || rc == KZ_ERR_NOMEM)
		return rc;
	if (rc == KZ_ERR_TRUNCATED || rc == KZ_ERR_IO || rc == KZ_ERR_TOO_BIG)
		return r->failed = rc;
	r->next = r->offset + 4 + len;
	r->next_index++;
	if (rc == 0 && it != NULL)
		rc = check_record(it, buf, len);
	if (rc == 0)
		rc = kz_run_decode(run, buf, len);
	free(buf);
	if (rc == 0 && it != NULL && !matches_item(it, *run)) {
		kz_run_free(*run);
		*run = NULL;
		rc = KZ_ERR_CORRUPT;
	}
	return rc;
}

bool
kz_bundle_reader_ended(const struct kz_bundle_reader *r)
{
	return r->failed != 0;
}

uint64_t
kz_bundle_reader_offset(const struct kz_bundle_reader *r)
{
	return r->offset;
}

void
kz_bundle_reader_free(struct kz_bundle_reader *r)
{
	if (r == NULL)
		return;
	if (r->f != NULL)
		fclose(r->f);
	free(r->info.items);
	free(r);
}

/* ---------------------------------------------------------------- vectors */

void
kz_vector_free(struct kz_vector *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->feeds[i].detached);
	free(v->feeds);
	v->feeds = NULL;
	v->n = 0;
}

struct vec_load {
	struct kz_vector *v;
	size_t cap;
	int err;
};

static struct kz_vector_feed *
vec_find(const struct kz_vector *v, const uint8_t feed[KZ_PK_BYTES])
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(v->feeds[mid].feed, feed, KZ_PK_BYTES);

		if (c == 0)
			return &v->feeds[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct kz_vector_feed *
vec_push(struct vec_load *vl, const uint8_t feed[KZ_PK_BYTES], uint64_t tip)
{
	struct kz_vector *v = vl->v;
	struct kz_vector_feed *f;

	if (v->n == vl->cap) {
		size_t cap = vl->cap ? 2 * vl->cap : 32;
		void *p = realloc(v->feeds, cap * sizeof(*v->feeds));

		if (p == NULL)
			return NULL;
		v->feeds = p;
		vl->cap = cap;
	}
	f = &v->feeds[v->n++];
	memset(f, 0, sizeof(*f));
	memcpy(f->feed, feed, KZ_PK_BYTES);
	f->tip = tip;
	return f;
}

static int
on_vec_feed(void *ctx, const struct kz_feed_info *fi)
{
	struct vec_load *vl = ctx;

	return vec_push(vl, fi->key, fi->tip) != NULL ? 0 : KZ_ERR_NOMEM;
}

static int
add_detached(struct kz_vector_feed *f, uint64_t seq)
{
	uint64_t *p = realloc(f->detached, (f->n_detached + 1) * sizeof(*p));

	if (p == NULL)
		return KZ_ERR_NOMEM;
	f->detached = p;
	f->detached[f->n_detached++] = seq;
	return 0;
}

/* kz_store_detached walks by feed key, as kz_store_feeds does; a detached
 * entry of a feed with nothing contiguous is a feed of tip 0. */
static int
on_vec_detached(void *ctx, const uint8_t feed[KZ_PK_BYTES], uint64_t seq)
{
	struct vec_load *vl = ctx;
	struct kz_vector_feed *f = vec_find(vl->v, feed);

	if (f == NULL) {
		size_t i;

		if ((f = vec_push(vl, feed, 0)) == NULL)
			return KZ_ERR_NOMEM;
		/* Keep the feeds sorted: move the new one into place. */
		for (i = vl->v->n - 1; i > 0 && memcmp(vl->v->feeds[i - 1].feed,
		    feed, KZ_PK_BYTES) > 0; i--) {
			struct kz_vector_feed t = vl->v->feeds[i - 1];

			vl->v->feeds[i - 1] = vl->v->feeds[i];
			vl->v->feeds[i] = t;
		}
		f = &vl->v->feeds[i];
	}
	return add_detached(f, seq);
}

int
kz_vector_of_store(struct kz_store *st, const uint8_t node[KZ_PK_BYTES],
    uint64_t created_ms, struct kz_vector *out)
{
	struct vec_load vl = { .v = out };
	int rc;

	memset(out, 0, sizeof(*out));
	memcpy(out->node, node, KZ_PK_BYTES);
	out->created_ms = created_ms;
	rc = kz_store_feeds(st, on_vec_feed, &vl);
	if (rc == 0)
		rc = kz_store_detached(st, on_vec_detached, &vl);
	if (rc < 0)
		kz_vector_free(out);
	return rc;
}

int
kz_vector_write(const char *path, const struct kz_vector *v)
{
	Kizuna__BundleVector bv = KIZUNA__BUNDLE_VECTOR__INIT;
	Kizuna__FeedTip *tips = NULL, **ptrs = NULL;
	uint8_t *buf = NULL;
	char *tmp = NULL;
	FILE *f = NULL;
	size_t i, len;
	int rc = KZ_ERR_NOMEM;

	if (v->n > 0) {
		tips = calloc(v->n, sizeof(*tips));
		ptrs = calloc(v->n, sizeof(*ptrs));
		if (tips == NULL || ptrs == NULL)
			goto out;
	}
	for (i = 0; i < v->n; i++) {
		kizuna__feed_tip__init(&tips[i]);
		tips[i].feed.data = (uint8_t *)v->feeds[i].feed;
		tips[i].feed.len = KZ_PK_BYTES;
		tips[i].tip = v->feeds[i].tip;
		tips[i].detached = v->feeds[i].detached;
		tips[i].n_detached = v->feeds[i].n_detached;
		ptrs[i] = &tips[i];
	}
	bv.node.data = (uint8_t *)v->node;
	bv.node.len = KZ_PK_BYTES;
	bv.created_ms = v->created_ms;
	bv.feeds = ptrs;
	bv.n_feeds = v->n;
	len = kizuna__bundle_vector__get_packed_size(&bv);
	if ((buf = malloc(len ? len : 1)) == NULL)
		goto out;
	kizuna__bundle_vector__pack(&bv, buf);
	if ((rc = open_tmp(path, "tmp", &tmp, &f)) < 0)
		goto out;
	if (fwrite(KZ_VECTOR_MAGIC, 1, 4, f) != 4)
		rc = io_err();
	if (rc == 0)
		rc = put_frame(f, buf, len);
	if (rc == 0)
		rc = commit_tmp(&tmp, &f, path);
out:
	drop_tmp(&tmp, &f);
	free(buf);
	free(tips);
	free(ptrs);
	return rc;
}

/* Checks a decoded vector: keys, strictly ascending feeds, detached seqs
 * ascending above the tip. */
static int
take_vector(struct kz_vector *out, const Kizuna__BundleVector *bv)
{
	size_t i, j;

	if (copy_key(out->node, &bv->node) < 0)
		return KZ_ERR_MALFORMED;
	out->created_ms = bv->created_ms;
	if (bv->n_feeds > 0 &&
	    (out->feeds = calloc(bv->n_feeds, sizeof(*out->feeds))) == NULL)
		return KZ_ERR_NOMEM;
	for (i = 0; i < bv->n_feeds; i++) {
		const Kizuna__FeedTip *t = bv->feeds[i];
		struct kz_vector_feed *f = &out->feeds[i];

		out->n = i + 1;
		if (copy_key(f->feed, &t->feed) < 0 || (i > 0 &&
		    memcmp(out->feeds[i - 1].feed, f->feed, KZ_PK_BYTES) >= 0))
			return KZ_ERR_MALFORMED;
		f->tip = t->tip;
		if (t->n_detached == 0)
			continue;
		if ((f->detached = malloc(t->n_detached * sizeof(uint64_t))) == NULL)
			return KZ_ERR_NOMEM;
		for (j = 0; j < t->n_detached; j++) {
			if (t->detached[j] <= (j > 0 ? t->detached[j - 1] : t->tip))
				return KZ_ERR_MALFORMED;
			f->detached[j] = t->detached[j];
		}
		f->n_detached = t->n_detached;
	}
	return 0;
}

int
kz_vector_read(const char *path, struct kz_vector *out)
{
	Kizuna__BundleVector *bv;
	char magic[4];
	uint8_t *buf = NULL;
	uint32_t len;
	FILE *f;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((f = fopen(path, "rb")) == NULL)
		return KZ_ERR_IO;
	if (fread(magic, 1, 4, f) != 4 || memcmp(magic, KZ_VECTOR_MAGIC, 4) != 0)
		rc = KZ_ERR_MALFORMED;
	else
		rc = read_frame(f, VECTOR_MAX, &buf, &len);
	fclose(f);
	if (rc != 0)
		return rc == 1 || rc == KZ_ERR_TRUNCATED ? KZ_ERR_MALFORMED : rc;
	bv = kizuna__bundle_vector__unpack(NULL, len, buf);
	free(buf);
	if (bv == NULL)
		return KZ_ERR_MALFORMED;
	rc = take_vector(out, bv);
	kizuna__bundle_vector__free_unpacked(bv, NULL);
	if (rc < 0)
		kz_vector_free(out);
	return rc;
}

/* ---------------------------------------------------------------- export */

struct export {
	struct kz_store *st;
	struct kz_bundle_writer *w;
	const struct kz_vector *since;
	struct kz_bundle_summary *sum;
	bool runs;			/* this walk writes runs, not urgent entries */
	int err;
};

static bool
has_seq(const struct kz_vector_feed *f, uint64_t seq)
{
	size_t i;

	if (f == NULL)
		return false;
	if (seq <= f->tip)
		return true;
	for (i = 0; i < f->n_detached; i++)
		if (f->detached[i] == seq)
			return true;
	return false;
}

static int
add_alone(struct export *ex, const uint8_t feed[KZ_PK_BYTES], uint64_t seq)
{
	struct kz_run *run = NULL;
	int rc = kz_store_read_entry(ex->st, feed, seq, &run);

	if (rc == KZ_ERR_NOT_FOUND)
		return 0;	/* purged, or no signature of its own */
	if (rc == 0)
		rc = kz_bundle_writer_add(ex->w, run, true);
	if (rc == 0)
		ex->sum->alone++;
	kz_run_free(run);
	return rc;
}

/* The urgent entries of a feed past what since holds, alone: they lead the
 * bundle, so that a truncated copy still carries them. */
static int
export_urgent(struct export *ex, const struct kz_feed_info *fi)
{
	const struct kz_vector_feed *sf = ex->since ? vec_find(ex->since, fi->key) : NULL;
	uint64_t seqs[URGENT_BATCH], after = sf != NULL ? sf->tip : 0;
	size_t n, i;
	int rc;

	do {
		if ((rc = kz_store_urgent(ex->st, fi->key, after, seqs,
		    URGENT_BATCH, &n)) < 0)
			return rc;
		for (i = 0; i < n; i++) {
			after = seqs[i];
			if (seqs[i] > fi->tip || has_seq(sf, seqs[i]))
				continue;	/* detached ones come from export_detached */
			if ((rc = add_alone(ex, fi->key, seqs[i])) < 0)
				return rc;
		}
	} while (n == URGENT_BATCH);
	return 0;
}

static int
export_runs(struct export *ex, const struct kz_feed_info *fi)
{
	const struct kz_vector_feed *sf = ex->since ? vec_find(ex->since, fi->key) : NULL;
	uint64_t seq = (sf != NULL ? sf->tip : 0) + 1;
	int rc;

	if (seq <= fi->tip)
		ex->sum->feeds++;
	while (seq <= fi->tip) {
		struct kz_run *run = NULL;

		rc = kz_store_read_run(ex->st, fi->key, seq, EXPORT_RUN_ENTRIES,
		    EXPORT_RUN_BYTES, &run);
		if (rc == 0)
			rc = kz_bundle_writer_add(ex->w, run, false);
		if (rc < 0) {
			kz_run_free(run);
			return rc;
		}
		seq += run->n;
		ex->sum->runs++;
		ex->sum->entries += run->n;
		kz_run_free(run);
	}
	return 0;
}

static int
on_export_feed(void *ctx, const struct kz_feed_info *fi)
{
	struct export *ex = ctx;

	return ex->runs ? export_runs(ex, fi) : export_urgent(ex, fi);
}

static int
on_export_detached(void *ctx, const uint8_t feed[KZ_PK_BYTES], uint64_t seq)
{
	struct export *ex = ctx;
	const struct kz_vector_feed *sf = ex->since ? vec_find(ex->since, feed) : NULL;

	return has_seq(sf, seq) ? 0 : add_alone(ex, feed, seq);
}

int
kz_bundle_export(struct kz_store *st, const char *path,
    const struct kz_keypair *source, const uint8_t *target,
    const struct kz_vector *since, uint64_t now_ms, struct kz_bundle_summary *sum)
{
	struct kz_bundle_summary dummy;
	struct export ex = { .st = st, .since = since, .sum = sum ? sum : &dummy };
	struct stat sb;
	int rc;

	memset(ex.sum, 0, sizeof(*ex.sum));
	if ((rc = kz_bundle_writer_new(&ex.w, path, source, target, now_ms)) < 0)
		return rc;
	rc = kz_store_feeds(st, on_export_feed, &ex);
	if (rc == 0)
		rc = kz_store_detached(st, on_export_detached, &ex);
	if (rc == 0) {
		ex.runs = true;
		rc = kz_store_feeds(st, on_export_feed, &ex);
	}
	if (rc == 0 && ex.sum->entries + ex.sum->alone == 0) {
		kz_bundle_writer_free(ex.w);
		return 1;
	}
	if (rc < 0) {
		kz_bundle_writer_free(ex.w);
		return rc;
	}
	if ((rc = kz_bundle_writer_close(ex.w)) == 0 && stat(path, &sb) == 0)
		ex.sum->bytes = (uint64_t)sb.st_size;
	return rc;
}

/* ---------------------------------------------------------------- import */

struct import {
	struct kz_store *st;
	const struct kz_bundle_import_opts *o;
	struct kz_bundle_report *rep;
	bool *deferred;			/* per record: refused as not admitted */
	size_t n_deferred, cap;
};

static void
problem(struct import *im, const struct kz_bundle_reader *r, size_t index,
    const struct kz_run *run, int err, bool missing)
{
	const struct kz_bundle_info *info = kz_bundle_reader_info(r);
	struct kz_bundle_problem p = { .index = index, .err = err,
	    .missing = missing, .offset = kz_bundle_reader_offset(r) };

	if (run != NULL) {
		p.known = true;
		memcpy(p.feed, run->author, KZ_PK_BYTES);
		p.first_seq = run->first_seq;
		p.last_seq = run->first_seq + run->n - 1;
	} else if (info->sealed && index < info->n_items) {
		const struct kz_bundle_item *it = &info->items[index];

		p.known = true;
		memcpy(p.feed, it->feed, KZ_PK_BYTES);
		p.first_seq = it->first_seq;
		p.last_seq = it->first_seq + it->entries - 1;
	}
	if (im->o != NULL && im->o->problem != NULL)
		im->o->problem(im->o->ctx, &p);
}

static bool
accepted(struct import *im, const uint8_t feed[KZ_PK_BYTES])
{
	return im->o == NULL || im->o->accept_feed == NULL ||
	    im->o->accept_feed(im->o->ctx, feed);
}

static int
defer(struct import *im, size_t index)
{
	if (index >= im->cap) {
		size_t cap = im->cap ? im->cap : 64;
		bool *p;

		while (cap <= index)
			cap *= 2;
		if ((p = realloc(im->deferred, cap * sizeof(*p))) == NULL)
			return KZ_ERR_NOMEM;
		memset(p + im->cap, 0, (cap - im->cap) * sizeof(*p));
		im->deferred = p;
		im->cap = cap;
	}
	im->deferred[index] = true;
	im->n_deferred++;
	return 0;
}

static bool
is_deferred(const struct import *im, size_t index)
{
	return index < im->cap && im->deferred[index];
}

/* Ingests one verified-to-decode record.  Returns 0 or a store error that
 * ends the import. */
static int
ingest_one(struct import *im, const struct kz_bundle_reader *r, size_t index,
    const struct kz_run *run, bool alone)
{
	struct kz_ingest_result res = { 0 };
	int rc = alone ? kz_store_ingest_entry(im->st, run, &res) :
	    kz_store_ingest(im->st, run, &res);

	im->rep->added += res.added;
	im->rep->duplicate += res.duplicate;
	if (res.added > 0 && im->o != NULL && im->o->grew != NULL)
		im->o->grew(im->o->ctx, run->author);
	if (rc == 0)
		return 0;
	if (rc == KZ_ERR_FULL || rc == KZ_ERR_DB || rc == KZ_ERR_NOMEM ||
	    rc == KZ_ERR_IO)
		return rc;
	if (rc == KZ_ERR_FORK)
		im->rep->forks++;
	else
		im->rep->rejected++;
	problem(im, r, index, run, rc, false);
	return 0;
}

/* One pass over the bundle.  The first (retry false) reads everything;
 * later ones only the records deferred as not admitted.  *progress says
 * whether a deferred record was taken. */
static int
import_pass(struct import *im, const char *path, bool retry, bool *progress)
{
	struct kz_bundle_reader *r = NULL;
	const struct kz_bundle_info *info;
	size_t index;
	int rc;

	if ((rc = kz_bundle_reader_new(&r, path)) < 0)
		return rc;
	info = kz_bundle_reader_info(r);
	for (;;) {
		struct kz_run *run = NULL;
		bool alone;

		rc = kz_bundle_reader_next(r, &run, &index);
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc == KZ_ERR_NOMEM)
			break;
		if (retry && !is_deferred(im, index)) {
			kz_run_free(run);
			if (rc < 0 && kz_bundle_reader_ended(r)) {
				rc = 0;
				break;
			}
			continue;
		}
		if (rc < 0) {
			bool end = kz_bundle_reader_ended(r);
			size_t i;

			im->rep->damaged++;
			problem(im, r, index, NULL, rc, false);
			if (!end)
				continue;
			/* The header's items past the damage never arrive. */
			for (i = index + 1; info->sealed && i < info->n_items; i++) {
				im->rep->missing++;
				problem(im, r, i, NULL, rc, true);
			}
			rc = 0;
			break;
		}
		alone = info->sealed ? info->items[index].alone : run->n == 1 &&
		    run->has_prev;
		if (!accepted(im, run->author)) {
			if (!retry) {
				im->rep->records++;
				rc = defer(im, index);
			}
			kz_run_free(run);
			if (rc < 0)
				break;
			continue;
		}
		if (!retry)
			im->rep->records++;
		else {
			im->deferred[index] = false;
			im->n_deferred--;
			*progress = true;
		}
		rc = ingest_one(im, r, index, run, alone);
		kz_run_free(run);
		if (rc < 0) {
			im->rep->stop_err = rc;
			break;
		}
	}
	kz_bundle_reader_free(r);
	return rc;
}

/* Reports the records still refused as not admitted after the last pass. */
static int
report_refused(struct import *im, const char *path)
{
	struct kz_bundle_reader *r = NULL;
	size_t index;
	int rc;

	if ((rc = kz_bundle_reader_new(&r, path)) < 0)
		return rc;
	for (;;) {
		struct kz_run *run = NULL;

		rc = kz_bundle_reader_next(r, &run, &index);
		if (rc == KZ_ERR_NOMEM)
			break;
		if (rc == 1 || (rc < 0 && kz_bundle_reader_ended(r))) {
			rc = 0;
			break;
		}
		if (rc == 0 && is_deferred(im, index)) {
			im->rep->rejected++;
			problem(im, r, index, run, KZ_ERR_NOT_FOUND, false);
		}
		kz_run_free(run);
	}
	kz_bundle_reader_free(r);
	return rc;
}

int
kz_bundle_import(struct kz_store *st, const char *path,
    const struct kz_bundle_import_opts *opts, struct kz_bundle_report *report)
{
	struct kz_bundle_reader *r = NULL;
	struct import im = { .st = st, .o = opts, .rep = report };
	int pass, rc;

	memset(report, 0, sizeof(*report));
	if ((rc = kz_bundle_reader_new(&r, path)) < 0)
		return rc;
	report->sealed = kz_bundle_reader_info(r)->sealed;
	if (report->sealed && !accepted(&im, kz_bundle_reader_info(r)->source)) {
		report->refused = true;
		kz_bundle_reader_free(r);
		return KZ_ERR_NOT_FOUND;
	}
	kz_bundle_reader_free(r);
	rc = import_pass(&im, path, false, &(bool){ false });
	for (pass = 1; rc == 0 && report->stop_err == 0 && im.n_deferred > 0 &&
	    pass < IMPORT_PASSES; pass++) {
		bool progress = false;

		rc = import_pass(&im, path, true, &progress);
		if (!progress)
			break;
	}
	if (rc == 0 && report->stop_err == 0 && im.n_deferred > 0)
		rc = report_refused(&im, path);
	free(im.deferred);
	if (rc == 0 && report->stop_err != 0)
		rc = report->stop_err;
	return rc;
}
