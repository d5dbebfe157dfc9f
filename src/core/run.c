/*
 * Run codec: a contiguous slice of one feed with one signature.
 *
 * Decoding is strict.  After protobuf-c unpacks a run we re-pack it and
 * require the exact input bytes back: unknown fields, non-minimal varints,
 * repeated scalar fields and any other alternative spelling are refused.  One
 * value therefore has one encoding, and a flipped bit anywhere either breaks
 * the encoding or changes a value that the hash chain and signature cover
 * (the optional prev_hash is checked against the store by the ingester).
 */
#include <stdlib.h>
#include <string.h>

#include "kizuna.pb-c.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"

int
kz_run_new(struct kz_run **out, size_t n, size_t buf_len)
{
	struct kz_run *run;

	*out = NULL;
	if (n == 0 || n > KZ_RUN_MAX_ENTRIES)
		return KZ_ERR_INVAL;
	run = calloc(1, sizeof(*run));
	if (run == NULL)
		return KZ_ERR_NOMEM;
	run->entries = calloc(n, sizeof(*run->entries));
	if (run->entries == NULL)
		goto nomem;
	if (buf_len > 0) {
		run->buf = malloc(buf_len);
		if (run->buf == NULL)
			goto nomem;
	}
	run->n = n;
	*out = run;
	return 0;
nomem:
	kz_run_free(run);
	return KZ_ERR_NOMEM;
}

void
kz_run_free(struct kz_run *run)
{
	if (run == NULL)
		return;
	if (run->pb != NULL)
		kizuna__run__free_unpacked(run->pb, NULL);
	free(run->buf);
	free(run->entries);
	free(run);
}

/* True if the packed form of msg is exactly buf[0..len). */
static int
is_canonical(const ProtobufCMessage *msg, const uint8_t *buf, size_t len)
{
	uint8_t *tmp;
	int same;

	if (protobuf_c_message_get_packed_size(msg) != len)
		return 0;
	tmp = malloc(len ? len : 1);
	if (tmp == NULL)
		return -1;
	protobuf_c_message_pack(msg, tmp);
	same = memcmp(tmp, buf, len) == 0;
	free(tmp);
	return same;
}

static int
read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
	int shift;

	*v = 0;
	for (shift = 0; shift < 64 && *i < len; shift += 7) {
		uint8_t b = p[(*i)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return 0;
	}
	return -1;
}

/*
 * Counts the entries (field 3) at the top level of an encoded Run without
 * allocating anything, so that a hostile run of millions of tiny entries is
 * refused before protobuf-c allocates a structure for each.  Returns the
 * count, or -1 if the wire format is broken.
 */
static long
count_entries(const uint8_t *p, size_t len)
{
	size_t i = 0;
	long n = 0;

	while (i < len) {
		uint64_t key, v;

		if (read_varint(p, len, &i, &key) < 0)
			return -1;
		switch (key & 7) {
		case 0:
			if (read_varint(p, len, &i, &v) < 0)
				return -1;
			break;
		case 1:
			if (len - i < 8)
				return -1;
			i += 8;
			break;
		case 2:
			if (read_varint(p, len, &i, &v) < 0 || v > len - i)
				return -1;
			i += (size_t)v;
			if (key >> 3 == 3)
				n++;
			break;
		case 5:
			if (len - i < 4)
				return -1;
			i += 4;
			break;
		default:
			return -1;
		}
	}
	return n;
}

int
kz_run_decode(struct kz_run **out, const uint8_t *buf, size_t len)
{
	Kizuna__Run *pb = NULL;
	struct kz_run *run = NULL;
	int rc, canon;
	size_t i;

	*out = NULL;
	long count;

	if (len > KZ_RUN_MAX_BYTES)
		return KZ_ERR_TOO_BIG;
	count = count_entries(buf, len);
	if (count < 0)
		return KZ_ERR_MALFORMED;
	if (count > KZ_RUN_MAX_ENTRIES)
		return KZ_ERR_TOO_BIG;
	pb = kizuna__run__unpack(NULL, len, buf);
	if (pb == NULL)
		return KZ_ERR_MALFORMED;
	rc = KZ_ERR_MALFORMED;
	canon = is_canonical(&pb->base, buf, len);
	if (canon < 0) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	if (!canon || pb->base.n_unknown_fields != 0)
		goto fail;
	if (pb->author.len != KZ_PK_BYTES || pb->signature.len != KZ_SIG_BYTES)
		goto fail;
	if (pb->prev_hash.len != 0 && pb->prev_hash.len != KZ_HASH_BYTES)
		goto fail;
	if (pb->first_seq == 0 || pb->n_entries == 0)
		goto fail;
	if (pb->n_entries > KZ_RUN_MAX_ENTRIES) {
		rc = KZ_ERR_TOO_BIG;
		goto fail;
	}
	if (pb->first_seq > KZ_SEQ_MAX ||
	    pb->n_entries - 1 > KZ_SEQ_MAX - pb->first_seq)
		goto fail;	/* the last seq would not fit */

	rc = kz_run_new(&run, pb->n_entries, 0);
	if (rc < 0)
		goto fail;
	run->pb = pb;
	memcpy(run->author, pb->author.data, KZ_PK_BYTES);
	memcpy(run->sig, pb->signature.data, KZ_SIG_BYTES);
	run->first_seq = pb->first_seq;
	if (pb->prev_hash.len == KZ_HASH_BYTES) {
		run->has_prev = true;
		memcpy(run->prev, pb->prev_hash.data, KZ_HASH_BYTES);
	}

	uint64_t hlc = 0;
	for (i = 0; i < pb->n_entries; i++) {
		const Kizuna__RunEntry *pe = pb->entries[i];
		struct kz_run_entry *e = &run->entries[i];

		if (pe->base.n_unknown_fields != 0)
			goto malformed;
		/* hlc = previous + delta, without wrapping around. */
		if (pe->hlc_delta < 0) {
			uint64_t d = (uint64_t)(-(pe->hlc_delta + 1)) + 1;
			if (d > hlc)
				goto malformed;
			hlc -= d;
		} else {
			if ((uint64_t)pe->hlc_delta > UINT64_MAX - hlc)
				goto malformed;
			hlc += (uint64_t)pe->hlc_delta;
		}
		if (hlc > KZ_HLC_MAX)
			goto malformed;
		e->hlc = hlc;
		if (pe->op_hash.len == 0) {
			/* A live entry: op bytes present, no purge fields. */
			if (pe->op_len != 0)
				goto malformed;
			if (pe->op.len > KZ_OP_MAX) {
				rc = KZ_ERR_TOO_BIG;
				goto fail_run;
			}
			e->op = pe->op.data != NULL ? pe->op.data : (const uint8_t *)"";
			e->op_len = (uint32_t)pe->op.len;
		} else {
			/* A purged entry: its hash and length, no bytes. */
			if (pe->op_hash.len != KZ_HASH_BYTES || pe->op.len != 0)
				goto malformed;
			if (pe->op_len > KZ_OP_MAX) {
				rc = KZ_ERR_TOO_BIG;
				goto fail_run;
			}
			e->op = NULL;
			e->op_len = pe->op_len;
			memcpy(e->op_hash, pe->op_hash.data, KZ_HASH_BYTES);
		}
	}
	*out = run;
	return 0;

malformed:
	rc = KZ_ERR_MALFORMED;
fail_run:
	kz_run_free(run);
	return rc;
fail:
	kizuna__run__free_unpacked(pb, NULL);
	return rc;
}

int
kz_run_encode(uint8_t **out, size_t *out_len, const struct kz_run *run)
{
	Kizuna__Run pb = KIZUNA__RUN__INIT;
	Kizuna__RunEntry *ents = NULL, **ptrs = NULL;
	uint8_t *buf = NULL;
	uint64_t prev_hlc = 0;
	size_t i, len;
	int rc = KZ_ERR_NOMEM;

	*out = NULL;
	*out_len = 0;
	if (run->n == 0 || run->n > KZ_RUN_MAX_ENTRIES || run->first_seq == 0)
		return KZ_ERR_INVAL;
	ents = calloc(run->n, sizeof(*ents));
	ptrs = calloc(run->n, sizeof(*ptrs));
	if (ents == NULL || ptrs == NULL)
		goto out;
	for (i = 0; i < run->n; i++) {
		const struct kz_run_entry *e = &run->entries[i];

		kizuna__run_entry__init(&ents[i]);
		if (e->hlc > KZ_HLC_MAX || e->op_len > KZ_OP_MAX) {
			rc = KZ_ERR_INVAL;
			goto out;
		}
		ents[i].hlc_delta = (int64_t)(e->hlc - prev_hlc);
		prev_hlc = e->hlc;
		if (e->op != NULL) {
			ents[i].op.data = (uint8_t *)e->op;
			ents[i].op.len = e->op_len;
		} else {
			ents[i].op_hash.data = (uint8_t *)e->op_hash;
			ents[i].op_hash.len = KZ_HASH_BYTES;
			ents[i].op_len = e->op_len;
		}
		ptrs[i] = &ents[i];
	}
	pb.author.data = (uint8_t *)run->author;
	pb.author.len = KZ_PK_BYTES;
	pb.first_seq = run->first_seq;
	pb.n_entries = run->n;
	pb.entries = ptrs;
	pb.signature.data = (uint8_t *)run->sig;
	pb.signature.len = KZ_SIG_BYTES;
	if (run->has_prev) {
		pb.prev_hash.data = (uint8_t *)run->prev;
		pb.prev_hash.len = KZ_HASH_BYTES;
	}
	len = kizuna__run__get_packed_size(&pb);
	if (len > KZ_RUN_MAX_BYTES) {
		rc = KZ_ERR_TOO_BIG;
		goto out;
	}
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		goto out;
	kizuna__run__pack(&pb, buf);
	*out = buf;
	*out_len = len;
	rc = 0;
out:
	free(ptrs);
	free(ents);
	return rc;
}

int
kz_run_rebuild(const struct kz_run *run, const uint8_t prev[KZ_HASH_BYTES],
    uint8_t (*hashes)[KZ_HASH_BYTES], uint8_t (*headers)[KZ_HEADER_BYTES])
{
	struct kz_entry_header h;
	uint8_t bytes[KZ_HEADER_BYTES];
	size_t i;

	memcpy(h.author, run->author, KZ_PK_BYTES);
	memcpy(h.prev, prev, KZ_HASH_BYTES);
	for (i = 0; i < run->n; i++) {
		const struct kz_run_entry *e = &run->entries[i];

		if (e->op_len > KZ_OP_MAX)
			return KZ_ERR_TOO_BIG;
		h.seq = run->first_seq + i;
		h.hlc = e->hlc;
		h.op_len = e->op_len;
		if (e->op != NULL)
			kz_hash(h.op_hash, e->op, e->op_len);
		else
			memcpy(h.op_hash, e->op_hash, KZ_HASH_BYTES);
		kz_header_encode(headers != NULL ? headers[i] : bytes, &h);
		kz_hash(hashes[i], headers != NULL ? headers[i] : bytes,
		    KZ_HEADER_BYTES);
		memcpy(h.prev, hashes[i], KZ_HASH_BYTES);
	}
	return 0;
}
