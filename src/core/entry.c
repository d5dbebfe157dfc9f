/*
 * The fixed signed entry header (see kizuna/entry.h for the layout).  These
 * are the bytes that every node rebuilds and hashes, so the encoding is
 * written out field by field, never as a struct copy.
 */
#include <string.h>

#include "kizuna/entry.h"
#include "kizuna/err.h"

void
kz_header_encode(uint8_t out[KZ_HEADER_BYTES], const struct kz_entry_header *h)
{
	uint8_t *p = out;

	memcpy(p, KZ_ENTRY_MAGIC, 4);
	p += 4;
	memcpy(p, h->author, KZ_PK_BYTES);
	p += KZ_PK_BYTES;
	kz_put_be64(p, h->seq);
	p += 8;
	memcpy(p, h->prev, KZ_HASH_BYTES);
	p += KZ_HASH_BYTES;
	kz_put_be64(p, h->hlc);
	p += 8;
	kz_put_be32(p, h->op_len);
	p += 4;
	memcpy(p, h->op_hash, KZ_HASH_BYTES);
}

int
kz_header_decode(struct kz_entry_header *h, const uint8_t *in, size_t len)
{
	const uint8_t *p = in;

	if (len != KZ_HEADER_BYTES)
		return KZ_ERR_TRUNCATED;
	if (memcmp(p, KZ_ENTRY_MAGIC, 4) != 0)
		return KZ_ERR_MALFORMED;
	p += 4;
	memcpy(h->author, p, KZ_PK_BYTES);
	p += KZ_PK_BYTES;
	h->seq = kz_get_be64(p);
	p += 8;
	memcpy(h->prev, p, KZ_HASH_BYTES);
	p += KZ_HASH_BYTES;
	h->hlc = kz_get_be64(p);
	p += 8;
	h->op_len = kz_get_be32(p);
	p += 4;
	memcpy(h->op_hash, p, KZ_HASH_BYTES);
	if (h->seq == 0)
		return KZ_ERR_MALFORMED;
	if (h->op_len > KZ_OP_MAX)
		return KZ_ERR_TOO_BIG;
	return 0;
}

int
kz_entry_build(struct kz_entry_header *h, uint8_t bytes[KZ_HEADER_BYTES],
    uint8_t hash[KZ_HASH_BYTES], const uint8_t author[KZ_PK_BYTES], uint64_t seq,
    const uint8_t prev[KZ_HASH_BYTES], uint64_t hlc, const uint8_t *op,
    size_t op_len)
{
	if (op_len > KZ_OP_MAX)
		return KZ_ERR_TOO_BIG;
	if (seq == 0)
		return KZ_ERR_INVAL;
	memcpy(h->author, author, KZ_PK_BYTES);
	h->seq = seq;
	memcpy(h->prev, prev, KZ_HASH_BYTES);
	h->hlc = hlc;
	h->op_len = (uint32_t)op_len;
	kz_hash(h->op_hash, op, op_len);
	kz_header_encode(bytes, h);
	kz_hash(hash, bytes, KZ_HEADER_BYTES);
	return 0;
}
