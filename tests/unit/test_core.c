/*
 * Unit tests of the pure core module: entry headers, the run codec and its
 * canonical strictness, hash chains and signatures, the hybrid logical clock,
 * byte/hex/UTF-8 helpers, the operation codec, configuration and error codes.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna.pb-c.h"
#include "kizuna/config.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/keys.h"
#include "kizuna/op.h"
#include "kizuna/util.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* Fills p with base, base+1, base+2 ... (distinctive, position-dependent). */
static void
fill(uint8_t *p, size_t n, uint8_t base)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(base + i);
}

static void
blake(uint8_t out[32], const uint8_t *in, size_t len)
{
	assert_int_equal(crypto_generichash(out, 32, in, len, NULL, 0), 0);
}

/* 0 if a and b are the same run value (every field a decoder produces). */
static int
run_cmp(const struct kz_run *a, const struct kz_run *b)
{
	size_t i;

	if (memcmp(a->author, b->author, KZ_PK_BYTES) != 0)
		return 1;
	if (a->first_seq != b->first_seq || a->n != b->n)
		return 2;
	if (memcmp(a->sig, b->sig, KZ_SIG_BYTES) != 0)
		return 3;
	if (a->has_prev != b->has_prev)
		return 4;
	if (a->has_prev && memcmp(a->prev, b->prev, KZ_HASH_BYTES) != 0)
		return 5;
	for (i = 0; i < a->n; i++) {
		const struct kz_run_entry *x = &a->entries[i], *y = &b->entries[i];

		if (x->hlc != y->hlc)
			return 6;
		if ((x->op == NULL) != (y->op == NULL))
			return 7;
		if (x->op_len != y->op_len)
			return 8;
		if (x->op != NULL && x->op_len > 0 &&
		    memcmp(x->op, y->op, x->op_len) != 0)
			return 9;
		if (x->op == NULL &&
		    memcmp(x->op_hash, y->op_hash, KZ_HASH_BYTES) != 0)
			return 10;
	}
	return 0;
}

/* Decodes buf (from a private heap copy, freed before returning). */
static int
decode_copy(struct kz_run **out, const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	rc = kz_run_decode(out, copy, len);
	/* Scribble over the input: the run must not borrow from it. */
	memset(copy, 0xee, len);
	free(copy);
	return rc;
}

/* Packs a protobuf-c Run and decodes the bytes; frees everything. */
static int
decode_pb(const Kizuna__Run *pb)
{
	size_t len = kizuna__run__get_packed_size(pb);
	uint8_t *buf = malloc(len ? len : 1);
	struct kz_run *run = NULL;
	int rc;

	assert_non_null(buf);
	kizuna__run__pack(pb, buf);
	rc = kz_run_decode(&run, buf, len);
	if (rc == 0)
		assert_non_null(run);
	else
		assert_null(run);
	kz_run_free(run);
	free(buf);
	return rc;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* ----------------------------------------------------- 1. entry header */

static void
test_header_layout_roundtrip(void **state)
{
	struct kz_entry_header h, d;
	uint8_t buf[KZ_HEADER_BYTES];
	static const uint8_t seq_be[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t hlc_be[8] = { 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
					   0x17, 0x18 };
	static const uint8_t len_be[4] = { 0x00, 0x00, 0xfe, 0xdc };

	(void)state;
	assert_int_equal(KZ_HEADER_BYTES, 120);
	memset(&h, 0, sizeof(h));
	fill(h.author, sizeof(h.author), 0x01);
	h.seq = 0x0102030405060708ull;
	fill(h.prev, sizeof(h.prev), 0x40);
	h.hlc = 0x1112131415161718ull;
	h.op_len = 0xfedc;
	fill(h.op_hash, sizeof(h.op_hash), 0x80);

	memset(buf, 0xaa, sizeof(buf));
	kz_header_encode(buf, &h);
	assert_memory_equal(buf + 0, "KZE1", 4);
	assert_memory_equal(buf + 4, h.author, 32);
	assert_memory_equal(buf + 36, seq_be, 8);
	assert_memory_equal(buf + 44, h.prev, 32);
	assert_memory_equal(buf + 76, hlc_be, 8);
	assert_memory_equal(buf + 84, len_be, 4);
	assert_memory_equal(buf + 88, h.op_hash, 32);

	memset(&d, 0, sizeof(d));
	assert_int_equal(kz_header_decode(&d, buf, sizeof(buf)), 0);
	assert_memory_equal(d.author, h.author, 32);
	assert_true(d.seq == 0x0102030405060708ull);
	assert_memory_equal(d.prev, h.prev, 32);
	assert_true(d.hlc == 0x1112131415161718ull);
	assert_int_equal(d.op_len, 0xfedc);
	assert_memory_equal(d.op_hash, h.op_hash, 32);

	/* op_len exactly KZ_OP_MAX is allowed. */
	h.op_len = KZ_OP_MAX;
	kz_header_encode(buf, &h);
	assert_int_equal(kz_header_decode(&d, buf, sizeof(buf)), 0);
	assert_int_equal(d.op_len, KZ_OP_MAX);
}

static void
test_header_decode_rejects(void **state)
{
	struct kz_entry_header h, d;
	uint8_t buf[KZ_HEADER_BYTES + 1];

	(void)state;
	memset(&h, 0, sizeof(h));
	fill(h.author, 32, 0x01);
	h.seq = 7;
	h.hlc = 99;
	h.op_len = 10;
	kz_header_encode(buf, &h);
	buf[KZ_HEADER_BYTES] = 0;
	assert_int_equal(kz_header_decode(&d, buf, KZ_HEADER_BYTES), 0);

	assert_int_equal(kz_header_decode(&d, buf, 119), KZ_ERR_TRUNCATED);
	assert_int_equal(kz_header_decode(&d, buf, 121), KZ_ERR_TRUNCATED);
	assert_int_equal(kz_header_decode(&d, buf, 0), KZ_ERR_TRUNCATED);

	buf[3] = '2';	/* "KZE2" */
	assert_int_equal(kz_header_decode(&d, buf, KZ_HEADER_BYTES),
	    KZ_ERR_MALFORMED);
	buf[3] = '1';
	buf[0] = 'k';
	assert_int_equal(kz_header_decode(&d, buf, KZ_HEADER_BYTES),
	    KZ_ERR_MALFORMED);

	h.seq = 0;
	kz_header_encode(buf, &h);
	assert_int_equal(kz_header_decode(&d, buf, KZ_HEADER_BYTES),
	    KZ_ERR_MALFORMED);

	h.seq = 1;
	h.op_len = KZ_OP_MAX + 1;
	kz_header_encode(buf, &h);
	assert_int_equal(kz_header_decode(&d, buf, KZ_HEADER_BYTES),
	    KZ_ERR_TOO_BIG);
	h.op_len = UINT32_MAX;
	kz_header_encode(buf, &h);
	assert_int_equal(kz_header_decode(&d, buf, KZ_HEADER_BYTES),
	    KZ_ERR_TOO_BIG);
}

static void
test_entry_build(void **state)
{
	static const uint8_t op[] = "an operation's protobuf bytes";
	struct kz_entry_header h;
	uint8_t author[32], prev[32], bytes[KZ_HEADER_BYTES], hash[32];
	uint8_t want_op_hash[32], want_bytes[KZ_HEADER_BYTES], want_hash[32];
	uint8_t *big;

	(void)state;
	fill(author, 32, 0x10);
	fill(prev, 32, 0x60);
	memset(&h, 0, sizeof(h));
	assert_int_equal(kz_entry_build(&h, bytes, hash, author, 5, prev,
	    0xabcdef0123ull, op, sizeof(op) - 1), 0);

	blake(want_op_hash, op, sizeof(op) - 1);
	assert_memory_equal(h.author, author, 32);
	assert_true(h.seq == 5);
	assert_memory_equal(h.prev, prev, 32);
	assert_true(h.hlc == 0xabcdef0123ull);
	assert_int_equal(h.op_len, sizeof(op) - 1);
	assert_memory_equal(h.op_hash, want_op_hash, 32);

	/* The signed bytes, assembled by hand. */
	memcpy(want_bytes, "KZE1", 4);
	memcpy(want_bytes + 4, author, 32);
	memset(want_bytes + 36, 0, 7);
	want_bytes[43] = 5;
	memcpy(want_bytes + 44, prev, 32);
	memcpy(want_bytes + 76, "\x00\x00\x00\xab\xcd\xef\x01\x23", 8);
	memcpy(want_bytes + 84, "\x00\x00\x00", 3);
	want_bytes[87] = (uint8_t)(sizeof(op) - 1);
	memcpy(want_bytes + 88, want_op_hash, 32);
	assert_memory_equal(bytes, want_bytes, KZ_HEADER_BYTES);
	blake(want_hash, want_bytes, KZ_HEADER_BYTES);
	assert_memory_equal(hash, want_hash, 32);

	/* An empty op hashes the empty string. */
	assert_int_equal(kz_entry_build(&h, bytes, hash, author, 1, prev, 0,
	    NULL, 0), 0);
	blake(want_op_hash, (const uint8_t *)"", 0);
	assert_memory_equal(h.op_hash, want_op_hash, 32);
	assert_int_equal(h.op_len, 0);
	blake(want_hash, bytes, KZ_HEADER_BYTES);
	assert_memory_equal(hash, want_hash, 32);

	/* Size bound: KZ_OP_MAX is fine, one more byte is not. */
	big = calloc(1, KZ_OP_MAX + 1);
	assert_non_null(big);
	assert_int_equal(kz_entry_build(&h, bytes, hash, author, 1, prev, 0,
	    big, KZ_OP_MAX), 0);
	assert_int_equal(h.op_len, KZ_OP_MAX);
	assert_int_equal(kz_entry_build(&h, bytes, hash, author, 1, prev, 0,
	    big, KZ_OP_MAX + 1), KZ_ERR_TOO_BIG);
	free(big);
}

/* -------------------------------------------------------- 2. run codec */

static uint8_t big_op[300];
static const uint8_t op_hello[] = "hello";
static const uint8_t op_world[] = "\x0a\x07general\x12\x02hi";

/* A five-entry run: normal ops, an empty op, a purged entry, hlc going back. */
static struct kz_run *
make_run5(bool has_prev)
{
	struct kz_run *run = NULL;

	fill(big_op, sizeof(big_op), 0x33);
	assert_int_equal(kz_run_new(&run, 5, 0), 0);
	assert_non_null(run);
	fill(run->author, 32, 0xa0);
	run->first_seq = 0x0001000200030004ull;
	fill(run->sig, 64, 0x05);
	run->has_prev = has_prev;
	if (has_prev)
		fill(run->prev, 32, 0xc1);

	run->entries[0].hlc = (1700000000000ull << 16) | 3;
	run->entries[0].op = op_hello;
	run->entries[0].op_len = sizeof(op_hello) - 1;

	run->entries[1].hlc = (1700000000000ull << 16) | 4;
	run->entries[1].op = (const uint8_t *)"";
	run->entries[1].op_len = 0;

	run->entries[2].hlc = (1700000000500ull << 16);
	run->entries[2].op = NULL;	/* purged */
	run->entries[2].op_len = 4321;
	fill(run->entries[2].op_hash, 32, 0x70);

	run->entries[3].hlc = (1699999999000ull << 16) | 1;	/* backwards */
	run->entries[3].op = big_op;
	run->entries[3].op_len = sizeof(big_op);

	run->entries[4].hlc = (1700000001000ull << 16);
	run->entries[4].op = op_world;
	run->entries[4].op_len = sizeof(op_world) - 1;
	return run;
}

static void
check_run5_roundtrip(bool has_prev)
{
	struct kz_run *run = make_run5(has_prev), *dec = NULL;
	uint8_t *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0, i;

	assert_int_equal(kz_run_encode(&buf, &len, run), 0);
	assert_non_null(buf);
	assert_true(len > 0);
	assert_int_equal(decode_copy(&dec, buf, len), 0);
	assert_non_null(dec);

	assert_memory_equal(dec->author, run->author, 32);
	assert_true(dec->first_seq == run->first_seq);
	assert_int_equal(dec->n, 5);
	assert_memory_equal(dec->sig, run->sig, 64);
	assert_int_equal(dec->has_prev, has_prev);
	if (has_prev)
		assert_memory_equal(dec->prev, run->prev, 32);
	for (i = 0; i < 5; i++) {
		const struct kz_run_entry *a = &run->entries[i], *b = &dec->entries[i];

		assert_true(b->hlc == a->hlc);
		assert_int_equal(b->op_len, a->op_len);
		if (a->op == NULL) {
			assert_null(b->op);
			assert_memory_equal(b->op_hash, a->op_hash, 32);
		} else {
			assert_non_null(b->op);
			if (a->op_len > 0)
				assert_memory_equal(b->op, a->op, a->op_len);
		}
	}
	assert_int_equal(run_cmp(run, dec), 0);

	/* One value, one encoding: re-encoding gives the same bytes. */
	assert_int_equal(kz_run_encode(&buf2, &len2, dec), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);

	free(buf2);
	free(buf);
	kz_run_free(dec);
	kz_run_free(run);
}

static void
test_run_roundtrip_with_prev(void **state)
{
	(void)state;
	check_run5_roundtrip(true);
}

static void
test_run_roundtrip_without_prev(void **state)
{
	(void)state;
	check_run5_roundtrip(false);
}

static void
test_run_hlc_extremes(void **state)
{
	struct kz_run *run = NULL, *dec = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(kz_run_new(&run, 4, 0), 0);
	fill(run->author, 32, 1);
	run->first_seq = 1;
	run->entries[0].hlc = KZ_HLC_MAX;	/* delta +INT64_MAX */
	run->entries[1].hlc = 0;		/* delta -INT64_MAX */
	run->entries[2].hlc = KZ_HLC_MAX;
	run->entries[3].hlc = KZ_HLC_MAX;	/* delta 0 */
	for (size_t i = 0; i < 4; i++) {
		run->entries[i].op = op_hello;
		run->entries[i].op_len = 5;
	}
	assert_int_equal(kz_run_encode(&buf, &len, run), 0);
	assert_int_equal(decode_copy(&dec, buf, len), 0);
	assert_int_equal(run_cmp(run, dec), 0);
	kz_run_free(dec);
	free(buf);

	/* Values over KZ_HLC_MAX cannot be encoded. */
	run->entries[2].hlc = KZ_HLC_MAX + 1;
	assert_int_equal(kz_run_encode(&buf, &len, run), KZ_ERR_INVAL);
	assert_null(buf);
	run->entries[2].hlc = 5;

	/* Nor a run with first_seq 0 or no entries. */
	run->first_seq = 0;
	assert_int_equal(kz_run_encode(&buf, &len, run), KZ_ERR_INVAL);
	assert_null(buf);
	run->first_seq = 1;
	run->n = 0;
	assert_int_equal(kz_run_encode(&buf, &len, run), KZ_ERR_INVAL);
	assert_null(buf);
	run->n = 4;
	kz_run_free(run);

	assert_int_equal(kz_run_new(&run, 0, 0), KZ_ERR_INVAL);
	assert_null(run);
	assert_int_equal(kz_run_new(&run, KZ_RUN_MAX_ENTRIES + 1, 0), KZ_ERR_INVAL);
	assert_null(run);
}

static void
test_run_encode_too_big(void **state)
{
	struct kz_run *run = NULL;
	uint8_t *op, *buf = NULL;
	size_t len = 0, i, n = KZ_RUN_MAX_BYTES / KZ_OP_MAX;

	(void)state;
	op = calloc(1, KZ_OP_MAX);
	assert_non_null(op);
	assert_int_equal(kz_run_new(&run, n, 0), 0);
	fill(run->author, 32, 1);
	run->first_seq = 1;
	for (i = 0; i < n; i++) {
		run->entries[i].hlc = i;
		run->entries[i].op = op;
		run->entries[i].op_len = KZ_OP_MAX;
	}
	/* 64 full ops plus protobuf framing exceed 4 MiB ... */
	assert_int_equal(kz_run_encode(&buf, &len, run), KZ_ERR_TOO_BIG);
	assert_null(buf);
	/* ... and one entry fewer fits. */
	run->n = n - 1;
	assert_int_equal(kz_run_encode(&buf, &len, run), 0);
	assert_true(len <= KZ_RUN_MAX_BYTES);
	free(buf);
	run->n = n;
	kz_run_free(run);
	free(op);
}

/* -------------------------------------------- 3. canonical strictness */

/* Flips every bit of run's encoding; returns how many decode to run itself. */
static size_t
flip_every_bit(const struct kz_run *run, size_t *n_fail, size_t *n_diff)
{
	uint8_t *buf = NULL, *mut;
	size_t len = 0, bit, same = 0;

	assert_int_equal(kz_run_encode(&buf, &len, run), 0);
	mut = malloc(len);
	assert_non_null(mut);
	*n_fail = *n_diff = 0;
	for (bit = 0; bit < len * 8; bit++) {
		struct kz_run *dec = NULL;
		int rc;

		memcpy(mut, buf, len);
		mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = kz_run_decode(&dec, mut, len);
		if (rc < 0) {
			assert_null(dec);
			(*n_fail)++;
			continue;
		}
		assert_int_equal(rc, 0);
		if (run_cmp(run, dec) == 0) {
			same++;
			fprintf(stderr, "bit %zu (byte %zu) flipped, same value\n",
			    bit, bit / 8);
		} else {
			(*n_diff)++;
		}
		kz_run_free(dec);
	}
	/* Every truncation fails or is a different value, too. */
	for (size_t cut = 0; cut < len; cut++) {
		struct kz_run *dec = NULL;

		if (kz_run_decode(&dec, buf, cut) == 0) {
			assert_int_not_equal(run_cmp(run, dec), 0);
			kz_run_free(dec);
		}
	}
	free(mut);
	free(buf);
	return same;
}

static void
test_run_bitflips(void **state)
{
	static const uint8_t o1[] = "a", o2[] = "bc", o3[] = "def";
	struct kz_run *run = NULL;
	size_t n_fail, n_diff;

	(void)state;
	assert_int_equal(kz_run_new(&run, 3, 0), 0);
	fill(run->author, 32, 0x21);
	run->first_seq = 42;
	fill(run->sig, 64, 0x90);
	run->has_prev = true;
	fill(run->prev, 32, 0x4a);
	run->entries[0].hlc = 1000;
	run->entries[0].op = o1;
	run->entries[0].op_len = 1;
	run->entries[1].hlc = 900;
	run->entries[1].op = o2;
	run->entries[1].op_len = 2;
	run->entries[2].hlc = 70000;
	run->entries[2].op = o3;
	run->entries[2].op_len = 3;

	assert_int_equal(flip_every_bit(run, &n_fail, &n_diff), 0);
	/* Both outcomes occur, so the loop really exercised the decoder. */
	assert_true(n_fail > 0);
	assert_true(n_diff > 0);

	/* Again with a purged entry, an empty op and no prev. */
	run->has_prev = false;
	run->entries[1].op = NULL;
	run->entries[1].op_len = 77;
	fill(run->entries[1].op_hash, 32, 0xd0);
	run->entries[2].op = (const uint8_t *)"";
	run->entries[2].op_len = 0;
	assert_int_equal(flip_every_bit(run, &n_fail, &n_diff), 0);
	assert_true(n_fail > 0);
	assert_true(n_diff > 0);
	kz_run_free(run);
}

static void
test_run_noncanonical_bytes(void **state)
{
	static const uint8_t unknown[2] = { 0x78, 0x01 };	/* field 15 = 1 */
	struct kz_run *run = NULL, *dec = NULL;
	uint8_t *buf = NULL, *mut, *huge;
	size_t len = 0;

	(void)state;
	assert_int_equal(kz_run_new(&run, 1, 0), 0);
	fill(run->author, 32, 0x01);
	run->first_seq = 7;
	fill(run->sig, 64, 0x02);
	run->entries[0].hlc = 5;
	run->entries[0].op = op_hello;
	run->entries[0].op_len = 5;
	assert_int_equal(kz_run_encode(&buf, &len, run), 0);
	assert_int_equal(decode_copy(&dec, buf, len), 0);
	kz_run_free(dec);

	mut = malloc(len + 2);
	assert_non_null(mut);

	/* An unknown field appended. */
	memcpy(mut, buf, len);
	memcpy(mut + len, unknown, 2);
	assert_int_equal(kz_run_decode(&dec, mut, len + 2), KZ_ERR_MALFORMED);
	assert_null(dec);

	/* The same unknown field first. */
	memcpy(mut, unknown, 2);
	memcpy(mut + 2, buf, len);
	assert_int_equal(kz_run_decode(&dec, mut, len + 2), KZ_ERR_MALFORMED);

	/* Layout: author (0x0a 32 ...), first_seq (0x10 7), entry (0x1a L ...). */
	assert_int_equal(buf[0], 0x0a);
	assert_int_equal(buf[1], 32);
	assert_int_equal(buf[34], 0x10);
	assert_int_equal(buf[35], 0x07);
	assert_int_equal(buf[36], 0x1a);
	assert_true(buf[37] < 126);

	/* An unknown field at the end of the entry (its length grows by 2). */
	{
		size_t el = buf[37], end = 38 + el;
		Kizuna__Run *pb;

		memcpy(mut, buf, 37);
		mut[37] = (uint8_t)(el + 2);
		memcpy(mut + 38, buf + 38, el);
		memcpy(mut + end, unknown, 2);
		memcpy(mut + end + 2, buf + end, len - end);
		/* Well-formed protobuf: one entry carrying one unknown field. */
		pb = kizuna__run__unpack(NULL, len + 2, mut);
		assert_non_null(pb);
		assert_int_equal(pb->n_entries, 1);
		assert_int_equal(pb->entries[0]->base.n_unknown_fields, 1);
		kizuna__run__free_unpacked(pb, NULL);
		assert_int_equal(kz_run_decode(&dec, mut, len + 2),
		    KZ_ERR_MALFORMED);
		assert_null(dec);
		/* The same splice repeating hlc_delta = 0 (non-canonical). */
		mut[end] = 0x08;
		mut[end + 1] = 0x00;
		assert_int_equal(kz_run_decode(&dec, mut, len + 2),
		    KZ_ERR_MALFORMED);
		assert_null(dec);
	}

	/* first_seq 7 spelled as a two-byte varint (0x87 0x00). */
	memcpy(mut, buf, 35);
	mut[35] = 0x87;
	mut[36] = 0x00;
	memcpy(mut + 37, buf + 36, len - 36);
	assert_int_equal(kz_run_decode(&dec, mut, len + 1), KZ_ERR_MALFORMED);
	assert_null(dec);

	/* The author's length prefix 32 spelled as 0xa0 0x00. */
	mut[0] = 0x0a;
	mut[1] = 0xa0;
	mut[2] = 0x00;
	memcpy(mut + 3, buf + 2, len - 2);
	assert_int_equal(kz_run_decode(&dec, mut, len + 1), KZ_ERR_MALFORMED);

	/* first_seq repeated (last one wins in protobuf, not here). */
	memcpy(mut, buf, len);
	mut[len] = 0x10;
	mut[len + 1] = 0x07;
	assert_int_equal(kz_run_decode(&dec, mut, len + 2), KZ_ERR_MALFORMED);

	/* Fields out of order: first_seq before author. */
	memcpy(mut, buf + 34, 2);
	memcpy(mut + 2, buf, 34);
	memcpy(mut + 36, buf + 36, len - 36);
	assert_int_equal(kz_run_decode(&dec, mut, len), KZ_ERR_MALFORMED);

	/* Empty input. */
	assert_int_equal(kz_run_decode(&dec, (const uint8_t *)"", 0),
	    KZ_ERR_MALFORMED);
	assert_null(dec);

	/* Over the size bound, checked before anything else. */
	huge = calloc(1, KZ_RUN_MAX_BYTES + 1);
	assert_non_null(huge);
	memcpy(huge, buf, len);
	assert_int_equal(kz_run_decode(&dec, huge, KZ_RUN_MAX_BYTES + 1),
	    KZ_ERR_TOO_BIG);
	assert_null(dec);
	free(huge);

	free(mut);
	free(buf);
	kz_run_free(run);
}

/* A valid one-entry run built with protobuf-c, for mutation. */
struct craft {
	Kizuna__Run run;
	Kizuna__RunEntry ent;
	Kizuna__RunEntry *ptrs[1];
	uint8_t author[32], sig[64], prev[32], op_hash[32];
};

static void
craft_init(struct craft *c)
{
	Kizuna__Run r = KIZUNA__RUN__INIT;
	Kizuna__RunEntry e = KIZUNA__RUN_ENTRY__INIT;

	memset(c, 0, sizeof(*c));
	c->run = r;
	c->ent = e;
	fill(c->author, 32, 0x11);
	fill(c->sig, 64, 0x22);
	fill(c->prev, 32, 0x33);
	fill(c->op_hash, 32, 0x44);
	c->ent.hlc_delta = 1000;
	c->ent.op.data = (uint8_t *)"x";
	c->ent.op.len = 1;
	c->ptrs[0] = &c->ent;
	c->run.author.data = c->author;
	c->run.author.len = 32;
	c->run.first_seq = 1;
	c->run.n_entries = 1;
	c->run.entries = c->ptrs;
	c->run.signature.data = c->sig;
	c->run.signature.len = 64;
}

static void
test_run_decode_rejects_values(void **state)
{
	struct craft c;
	Kizuna__RunEntry *many_ents, **many_ptrs;
	uint8_t *bigop;
	size_t i;

	(void)state;
	craft_init(&c);
	assert_int_equal(decode_pb(&c.run), 0);	/* the control */

	craft_init(&c);
	c.run.n_entries = 0;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);

	craft_init(&c);
	c.run.author.len = 31;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	c.run.author.len = 0;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);

	craft_init(&c);
	c.run.signature.len = 63;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	c.run.signature.len = 0;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);

	craft_init(&c);
	c.run.first_seq = 0;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);

	craft_init(&c);
	c.run.prev_hash.data = c.prev;
	c.run.prev_hash.len = 32;
	assert_int_equal(decode_pb(&c.run), 0);
	c.run.prev_hash.len = 31;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);

	/* seqs that overflow uint64: one entry may sit at the very last seq,
	 * two may not. */
	craft_init(&c);
	c.run.first_seq = KZ_SEQ_MAX;
	assert_int_equal(decode_pb(&c.run), 0);
	c.run.first_seq = KZ_SEQ_MAX + 1;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	c.run.first_seq = UINT64_MAX;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	{
		Kizuna__RunEntry *two[2] = { &c.ent, &c.ent };

		c.run.entries = two;
		c.run.n_entries = 2;
		c.run.first_seq = KZ_SEQ_MAX;
		assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
		c.run.first_seq = KZ_SEQ_MAX - 1;
		assert_int_equal(decode_pb(&c.run), 0);
		c.run.entries = c.ptrs;
		c.run.n_entries = 1;
	}

	/* A purged entry: hash and length, no bytes. */
	craft_init(&c);
	c.ent.op.data = NULL;
	c.ent.op.len = 0;
	c.ent.op_hash.data = c.op_hash;
	c.ent.op_hash.len = 32;
	c.ent.op_len = 500;
	assert_int_equal(decode_pb(&c.run), 0);
	c.ent.op_len = KZ_OP_MAX;
	assert_int_equal(decode_pb(&c.run), 0);
	c.ent.op_len = KZ_OP_MAX + 1;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_TOO_BIG);
	c.ent.op_len = 500;
	c.ent.op_hash.len = 31;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	c.ent.op_hash.len = 32;
	/* ... with op bytes as well. */
	c.ent.op.data = (uint8_t *)"x";
	c.ent.op.len = 1;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);

	/* A live entry carrying a purge length. */
	craft_init(&c);
	c.ent.op_len = 1;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);

	/* Live op size bound. */
	bigop = calloc(1, KZ_OP_MAX + 1);
	assert_non_null(bigop);
	craft_init(&c);
	c.ent.op.data = bigop;
	c.ent.op.len = KZ_OP_MAX;
	assert_int_equal(decode_pb(&c.run), 0);
	c.ent.op.len = KZ_OP_MAX + 1;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_TOO_BIG);
	free(bigop);

	/* hlc below zero, and above KZ_HLC_MAX. */
	craft_init(&c);
	c.ent.hlc_delta = -1;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	c.ent.hlc_delta = INT64_MIN;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	c.ent.hlc_delta = INT64_MAX;
	assert_int_equal(decode_pb(&c.run), 0);

	/* Too many entries. */
	many_ents = calloc(KZ_RUN_MAX_ENTRIES + 1, sizeof(*many_ents));
	many_ptrs = calloc(KZ_RUN_MAX_ENTRIES + 1, sizeof(*many_ptrs));
	assert_non_null(many_ents);
	assert_non_null(many_ptrs);
	for (i = 0; i < KZ_RUN_MAX_ENTRIES + 1; i++) {
		kizuna__run_entry__init(&many_ents[i]);
		many_ptrs[i] = &many_ents[i];
	}
	craft_init(&c);
	c.run.entries = many_ptrs;
	c.run.n_entries = KZ_RUN_MAX_ENTRIES;
	assert_int_equal(decode_pb(&c.run), 0);
	c.run.n_entries = KZ_RUN_MAX_ENTRIES + 1;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_TOO_BIG);
	/* hlc overflowing KZ_HLC_MAX over two entries. */
	many_ents[0].hlc_delta = INT64_MAX;
	many_ents[1].hlc_delta = 1;
	c.run.n_entries = 2;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	/* 2 entries from KZ_SEQ_MAX overflow too. */
	many_ents[0].hlc_delta = 0;
	many_ents[1].hlc_delta = 0;
	c.run.first_seq = KZ_SEQ_MAX;
	assert_int_equal(decode_pb(&c.run), KZ_ERR_MALFORMED);
	free(many_ptrs);
	free(many_ents);
}

/* ------------------------------------------- 4. rebuild and signatures */

static void
test_run_rebuild_and_sign(void **state)
{
	uint8_t ops[4][40];
	size_t op_lens[4] = { 12, 0, 40, 7 };
	uint8_t prev0[32], hashes[4][32], hashes2[4][32], headers[4][KZ_HEADER_BYTES];
	uint8_t seed[32], want[4][32], bytes[KZ_HEADER_BYTES], h_prev[32];
	struct kz_keypair kp, other;
	struct kz_entry_header h;
	struct kz_run *run = NULL, *dec = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, i, k;

	(void)state;
	fill(seed, 32, 0x51);
	assert_int_equal(kz_keypair_from_seed(&kp, seed), 0);
	fill(seed, 32, 0x52);
	assert_int_equal(kz_keypair_from_seed(&other, seed), 0);
	fill(prev0, 32, 0xe0);

	assert_int_equal(kz_run_new(&run, 4, 0), 0);
	memcpy(run->author, kp.pk, 32);
	run->first_seq = 10;
	for (i = 0; i < 4; i++) {
		fill(ops[i], sizeof(ops[i]), (uint8_t)(0x10 * i + 1));
		run->entries[i].hlc = (2000 + i) << 16;
		run->entries[i].op = ops[i];
		run->entries[i].op_len = (uint32_t)op_lens[i];
	}
	/* Entry 2 is purged: its hash and length stand for its bytes. */
	run->entries[2].op = NULL;
	blake(run->entries[2].op_hash, ops[2], op_lens[2]);

	/* Expected chain, from kz_entry_build with the original op bytes. */
	memcpy(h_prev, prev0, 32);
	for (i = 0; i < 4; i++) {
		assert_int_equal(kz_entry_build(&h, bytes, want[i], kp.pk, 10 + i,
		    h_prev, run->entries[i].hlc, ops[i], op_lens[i]), 0);
		memcpy(h_prev, want[i], 32);
	}

	assert_int_equal(kz_run_rebuild(run, prev0, hashes, headers), 0);
	for (i = 0; i < 4; i++) {
		assert_memory_equal(hashes[i], want[i], 32);
		assert_int_equal(kz_header_decode(&h, headers[i], KZ_HEADER_BYTES), 0);
		assert_true(h.seq == 10 + i);
		assert_memory_equal(h.prev, i == 0 ? prev0 : want[i - 1], 32);
		assert_true(h.hlc == run->entries[i].hlc);
		assert_int_equal(h.op_len, op_lens[i]);
		assert_memory_equal(h.author, kp.pk, 32);
	}
	/* headers == NULL gives the same hashes. */
	assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), 0);
	assert_memory_equal(hashes2, hashes, sizeof(hashes));
	/* A different prev changes every hash. */
	prev0[31] ^= 1;
	assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), 0);
	for (i = 0; i < 4; i++)
		assert_memory_not_equal(hashes2[i], hashes[i], 32);
	prev0[31] ^= 1;

	/* Sign the last hash. */
	assert_int_equal(kz_sign_hash(run->sig, hashes[3], &kp), 0);
	assert_int_equal(kz_verify_hash(run->sig, hashes[3], kp.pk), 0);
	assert_int_equal(kz_verify_hash(run->sig, hashes[3], other.pk),
	    KZ_ERR_BAD_SIG);
	assert_int_equal(kz_verify_hash(run->sig, hashes[2], kp.pk),
	    KZ_ERR_BAD_SIG);

	/* A receiver's path: encode, decode, rebuild, verify. */
	assert_int_equal(kz_run_encode(&buf, &len, run), 0);
	assert_int_equal(decode_copy(&dec, buf, len), 0);
	free(buf);
	assert_int_equal(kz_run_rebuild(dec, prev0, hashes2, NULL), 0);
	assert_memory_equal(hashes2, hashes, sizeof(hashes));
	assert_int_equal(kz_verify_hash(dec->sig, hashes2[3], dec->author), 0);

	/* The same run claimed by another author does not verify. */
	memcpy(dec->author, other.pk, 32);
	assert_int_equal(kz_run_rebuild(dec, prev0, hashes2, NULL), 0);
	assert_int_equal(kz_verify_hash(dec->sig, hashes2[3], dec->author),
	    KZ_ERR_BAD_SIG);
	kz_run_free(dec);

	/* Any changed hlc breaks the signature. */
	for (i = 0; i < 4; i++) {
		run->entries[i].hlc++;
		assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), 0);
		assert_int_equal(kz_verify_hash(run->sig, hashes2[3], kp.pk),
		    KZ_ERR_BAD_SIG);
		run->entries[i].hlc--;
	}
	/* Any changed op byte (or purged hash byte or length) breaks it. */
	for (i = 0; i < 4; i++) {
		if (i == 2) {
			for (k = 0; k < 32; k++) {
				run->entries[2].op_hash[k] ^= 0x01;
				assert_int_equal(kz_run_rebuild(run, prev0, hashes2,
				    NULL), 0);
				assert_int_equal(kz_verify_hash(run->sig, hashes2[3],
				    kp.pk), KZ_ERR_BAD_SIG);
				run->entries[2].op_hash[k] ^= 0x01;
			}
			run->entries[2].op_len++;
			assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), 0);
			assert_int_equal(kz_verify_hash(run->sig, hashes2[3], kp.pk),
			    KZ_ERR_BAD_SIG);
			run->entries[2].op_len--;
			continue;
		}
		for (k = 0; k < op_lens[i]; k++) {
			ops[i][k] ^= 0x80;
			assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), 0);
			assert_int_equal(kz_verify_hash(run->sig, hashes2[3], kp.pk),
			    KZ_ERR_BAD_SIG);
			ops[i][k] ^= 0x80;
		}
	}
	/* A changed first_seq or prev breaks it, too. */
	run->first_seq++;
	assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), 0);
	assert_int_equal(kz_verify_hash(run->sig, hashes2[3], kp.pk), KZ_ERR_BAD_SIG);
	run->first_seq--;
	prev0[0] ^= 0x40;
	assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), 0);
	assert_int_equal(kz_verify_hash(run->sig, hashes2[3], kp.pk), KZ_ERR_BAD_SIG);
	prev0[0] ^= 0x40;
	/* Restored: verifies again (the loop above really did undo each change). */
	assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), 0);
	assert_int_equal(kz_verify_hash(run->sig, hashes2[3], kp.pk), 0);

	/* A purged length over the bound cannot be rebuilt. */
	run->entries[2].op_len = KZ_OP_MAX + 1;
	assert_int_equal(kz_run_rebuild(run, prev0, hashes2, NULL), KZ_ERR_TOO_BIG);

	kz_run_free(run);
	kz_keypair_wipe(&kp);
	kz_keypair_wipe(&other);
}

static void
test_keys_seed(void **state)
{
	struct kz_keypair a, b, c;
	uint8_t seed[32], back[32], sig[64], hash[32];
	size_t i;

	(void)state;
	fill(seed, 32, 0x77);
	assert_int_equal(kz_keypair_from_seed(&a, seed), 0);
	assert_int_equal(kz_keypair_from_seed(&b, seed), 0);
	assert_memory_equal(a.pk, b.pk, 32);
	assert_memory_equal(a.sk, b.sk, 64);
	kz_keypair_seed(back, &a);
	assert_memory_equal(back, seed, 32);
	assert_int_equal(kz_keypair_generate(&c), 0);
	assert_memory_not_equal(c.pk, a.pk, 32);
	fill(hash, 32, 0);
	assert_int_equal(kz_sign_hash(sig, hash, &c), 0);
	assert_int_equal(kz_verify_hash(sig, hash, c.pk), 0);
	sig[10] ^= 4;
	assert_int_equal(kz_verify_hash(sig, hash, c.pk), KZ_ERR_BAD_SIG);
	kz_keypair_wipe(&c);
	for (i = 0; i < sizeof(c); i++)
		assert_int_equal(((const uint8_t *)&c)[i], 0);
	kz_keypair_wipe(&a);
	kz_keypair_wipe(&b);
}

/* ---------------------------------------------------------------- 5. hlc */

static void
test_hlc(void **state)
{
	uint64_t last, v, prev;
	int i;

	(void)state;
	assert_true(kz_hlc_next(0, 1000) == (1000ull << 16));
	assert_true(kz_hlc_next(0, 1000) == 65536000ull);

	/* The wall clock goes backwards, stands still, then moves on. */
	last = (1000ull << 16) | 5;
	assert_true(kz_hlc_next(last, 999) == last + 1);
	assert_true(kz_hlc_next(last, 0) == last + 1);
	assert_true(kz_hlc_next(1000ull << 16, 1000) == (1000ull << 16) + 1);
	assert_true(kz_hlc_next(last, 1001) == (1001ull << 16));

	/* A stuck clock still gives strictly increasing values. */
	prev = kz_hlc_next(0, 5000);
	for (i = 0; i < 1000; i++) {
		v = kz_hlc_next(prev, 5000);
		assert_true(v == prev + 1);
		prev = v;
	}
	assert_true(kz_hlc_ms(prev) == 5000);
	assert_int_equal(kz_hlc_counter(prev), 1000);

	/* Counter overflow carries into the milliseconds. */
	last = (1000ull << 16) | 0xffff;
	v = kz_hlc_next(last, 1000);
	assert_true(v == (1001ull << 16));
	assert_true(kz_hlc_ms(v) == 1001);
	assert_int_equal(kz_hlc_counter(v), 0);

	/* Extraction. */
	v = (1234567ull << 16) | 77;
	assert_true(kz_hlc_ms(v) == 1234567);
	assert_int_equal(kz_hlc_counter(v), 77);
	assert_int_equal(kz_hlc_counter(0xffff), 0xffff);
	assert_true(kz_hlc_ms(0xffff) == 0);
	assert_true(kz_hlc_ms(KZ_HLC_MAX) == (KZ_HLC_MAX >> 16));

	/* Observe keeps the highest seen. */
	assert_true(kz_hlc_observe(5, 3) == 5);
	assert_true(kz_hlc_observe(3, 5) == 5);
	assert_true(kz_hlc_observe(7, 7) == 7);
	assert_true(kz_hlc_observe(0, KZ_HLC_MAX) == KZ_HLC_MAX);
	/* An observed value from the future orders our next event after it. */
	last = kz_hlc_observe((1000ull << 16), (9000ull << 16) | 3);
	assert_true(kz_hlc_next(last, 1001) == ((9000ull << 16) | 4));
}

/* --------------------------------------------------------------- 6. util */

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} cases[] = {
		{ "", 0, true },
		{ "hello, world", 12, true },
		{ "\xe9\x81\xbf\xe9\x9b\xa3\xe6\x89\x80\xe3\x81\xa7\xe7\xb5\xa6"
		  "\xe6\xb0\xb4", 18, true },			/* 避難所で給水 */
		{ "\xf0\x9f\x98\x80", 4, true },		/* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", 4, true },		/* U+10FFFF */
		{ "\xc2\x80", 2, true },			/* U+0080 */
		{ "\xed\x9f\xbf", 3, true },			/* U+D7FF */
		{ "\xee\x80\x80", 3, true },			/* U+E000 */
		{ "\x7f", 1, true },
		{ "\xc0\xaf", 2, false },			/* overlong '/' */
		{ "\xc1\xbf", 2, false },			/* overlong */
		{ "\xe0\x80\xaf", 3, false },			/* overlong */
		{ "\xe0\x9f\xbf", 3, false },			/* overlong U+07FF */
		{ "\xf0\x80\x80\xaf", 4, false },		/* overlong */
		{ "\xf0\x8f\xbf\xbf", 4, false },		/* overlong U+FFFF */
		{ "\xc0\x80", 2, false },			/* modified-UTF-8 NUL */
		{ "\xed\xa0\x80", 3, false },			/* U+D800 */
		{ "\xed\xbf\xbf", 3, false },			/* U+DFFF */
		{ "\xf4\x90\x80\x80", 4, false },		/* U+110000 */
		{ "\xf5\x80\x80\x80", 4, false },
		{ "\xff", 1, false },
		{ "\xfe", 1, false },
		{ "\xe9\x81", 2, false },			/* truncated 3-byte */
		{ "\xf0\x9f\x98", 3, false },			/* truncated 4-byte */
		{ "\xc3", 1, false },				/* truncated 2-byte */
		{ "ab\xe9", 3, false },				/* truncated at end */
		{ "\x80", 1, false },				/* lone continuation */
		{ "a\xbf" "b", 3, false },
		{ "\xe9\x41\xbf", 3, false },			/* bad continuation */
		{ "a\0b", 3, false },				/* NUL inside */
		{ "\0", 1, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = kz_utf8_valid((const uint8_t *)cases[i].s, cases[i].len);

		if (got != cases[i].ok)
			fail_msg("kz_utf8_valid case %zu: got %d, want %d", i,
			    got, cases[i].ok);
	}
	/* Valid prefixes of a multi-byte character are not valid text. */
	assert_true(kz_utf8_valid((const uint8_t *)"\xe6\xb0\xb4", 3));
	assert_false(kz_utf8_valid((const uint8_t *)"\xe6\xb0\xb4", 2));
	assert_false(kz_utf8_valid((const uint8_t *)"\xe6\xb0\xb4", 1));
	assert_true(kz_utf8_valid((const uint8_t *)"\xe6\xb0\xb4", 0));
}

static void
test_hex_be(void **state)
{
	static const uint8_t bin[5] = { 0x00, 0x01, 0xab, 0x7f, 0xff };
	uint8_t out[5], key[32], all[256];
	char hex[11], fp[KZ_FINGERPRINT_CHARS + 1], allhex[513];
	uint8_t b[8];
	size_t i;

	(void)state;
	kz_hex(hex, bin, 5);
	assert_string_equal(hex, "0001ab7fff");
	memset(out, 0, sizeof(out));
	assert_int_equal(kz_unhex(out, 5, hex), 0);
	assert_memory_equal(out, bin, 5);
	assert_int_equal(kz_unhex(out, 5, "0001AB7FFF"), 0);
	assert_memory_equal(out, bin, 5);
	kz_hex(hex, bin, 0);
	assert_string_equal(hex, "");

	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	kz_hex(allhex, all, 256);
	assert_int_equal(strlen(allhex), 512);
	memset(all, 0, sizeof(all));
	assert_int_equal(kz_unhex(all, 256, allhex), 0);
	for (i = 0; i < 256; i++)
		assert_int_equal(all[i], i);

	assert_int_equal(kz_unhex(out, 2, "abc"), KZ_ERR_INVAL);	/* odd */
	assert_int_equal(kz_unhex(out, 2, "abcde"), KZ_ERR_INVAL);	/* odd */
	assert_int_equal(kz_unhex(out, 2, "zz01"), KZ_ERR_INVAL);
	assert_int_equal(kz_unhex(out, 2, "01g0"), KZ_ERR_INVAL);
	assert_int_equal(kz_unhex(out, 2, "0x01"), KZ_ERR_INVAL);
	assert_int_equal(kz_unhex(out, 2, " 101"), KZ_ERR_INVAL);
	assert_int_equal(kz_unhex(out, 2, "01"), KZ_ERR_INVAL);	/* short */
	assert_int_equal(kz_unhex(out, 2, "010203"), KZ_ERR_INVAL);	/* long */
	assert_int_equal(kz_unhex(out, 2, ""), KZ_ERR_INVAL);
	assert_int_equal(kz_unhex(out, 0, ""), 0);

	fill(key, 32, 0xa0);
	kz_fingerprint(fp, key);
	assert_string_equal(fp, "a0a1a2a3a4a5a6a7");

	kz_put_be32(b, 0x01020304u);
	assert_memory_equal(b, "\x01\x02\x03\x04", 4);
	assert_int_equal(kz_get_be32(b), 0x01020304u);
	kz_put_be32(b, 0xfffffffeu);
	assert_int_equal(kz_get_be32(b), 0xfffffffeu);
	kz_put_be64(b, 0x0102030405060708ull);
	assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_true(kz_get_be64(b) == 0x0102030405060708ull);
	kz_put_be64(b, 0xfedcba9876543210ull);
	assert_memory_equal(b, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
	assert_true(kz_get_be64(b) == 0xfedcba9876543210ull);
	assert_true(kz_get_be64((const uint8_t *)"\x80\0\0\0\0\0\0\x01") ==
	    0x8000000000000001ull);

	kz_hash(key, (const uint8_t *)"abc", 3);
	blake(all, (const uint8_t *)"abc", 3);
	assert_memory_equal(key, all, 32);
	assert_memory_equal(key, "\xbd\xdd\x81\x3c\x63\x42\x39\x72", 8);
}

/* ---------------------------------------------------------------- 7. ops */

static void
test_op_roundtrip(void **state)
{
	static const char *const mentions[] = { "alice", "\xe9\x98\xb2\xe7\x81\xbd" };
	uint8_t root[32], *buf = NULL;
	size_t len = 0;
	struct kz_post p;
	struct kz_op *op = NULL;

	(void)state;
	fill(root, 32, 0xb0);
	memset(&p, 0, sizeof(p));
	p.channel = "general";
	p.text = "\xe9\x81\xbf\xe9\x9b\xa3\xe6\x89\x80\xe3\x81\xa7\xe7\xb5\xa6"
	    "\xe6\xb0\xb4 at 15:00 \xf0\x9f\x9a\xb0";
	p.thread_root = root;
	p.priority = KZ_PRIO_URGENT;
	p.n_mentions = 2;
	p.mentions = mentions;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), 0);
	assert_non_null(buf);
	assert_true(len > 0 && len <= KZ_OP_MAX);

	assert_int_equal(kz_op_decode(&op, buf, len), 0);
	assert_non_null(op);
	assert_int_equal(op->type, KZ_OP_POST);
	assert_string_equal(op->u.post.channel, p.channel);
	assert_string_equal(op->u.post.text, p.text);
	assert_non_null(op->u.post.thread_root);
	assert_memory_equal(op->u.post.thread_root, root, 32);
	assert_int_equal(op->u.post.priority, KZ_PRIO_URGENT);
	assert_int_equal(op->u.post.n_mentions, 2);
	assert_string_equal(op->u.post.mentions[0], "alice");
	assert_string_equal(op->u.post.mentions[1], mentions[1]);
	kz_op_free(op);
	free(buf);

	/* Minimal post: no root, no mentions, no text, normal priority. */
	memset(&p, 0, sizeof(p));
	p.channel = "c";
	p.text = NULL;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), 0);
	assert_int_equal(kz_op_decode(&op, buf, len), 0);
	assert_string_equal(op->u.post.channel, "c");
	assert_string_equal(op->u.post.text, "");
	assert_null(op->u.post.thread_root);
	assert_int_equal(op->u.post.priority, KZ_PRIO_NORMAL);
	assert_int_equal(op->u.post.n_mentions, 0);
	kz_op_free(op);
	free(buf);

	p.priority = KZ_PRIO_EMERGENCY;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), 0);
	assert_int_equal(kz_op_decode(&op, buf, len), 0);
	assert_int_equal(op->u.post.priority, KZ_PRIO_EMERGENCY);
	kz_op_free(op);
	free(buf);

	kz_op_free(NULL);
}

static void
test_op_encode_rejects(void **state)
{
	const char *many[KZ_MENTIONS_MAX + 1];
	const char *bad_mention[1] = { "" };
	char name[KZ_NAME_MAX + 2], *text;
	uint8_t *buf = (uint8_t *)1;
	size_t len = 1, i;
	struct kz_post p;
	struct kz_op *op = NULL;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.text = "hi";

	p.channel = "";
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_INVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
	p.channel = NULL;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_INVAL);

	memset(name, 'n', KZ_NAME_MAX + 1);
	name[KZ_NAME_MAX + 1] = '\0';
	p.channel = name;		/* 81 bytes */
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_TOO_BIG);
	assert_null(buf);
	name[KZ_NAME_MAX] = '\0';	/* 80 bytes */
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), 0);
	free(buf);

	p.channel = "c\xc0\xaf";
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_BAD_UTF8);
	p.channel = "general";

	text = malloc(KZ_TEXT_MAX + 2);
	assert_non_null(text);
	memset(text, 'x', KZ_TEXT_MAX + 1);
	text[KZ_TEXT_MAX + 1] = '\0';
	p.text = text;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_TOO_BIG);
	assert_null(buf);
	text[KZ_TEXT_MAX] = '\0';
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), 0);
	assert_non_null(buf);
	assert_int_equal(kz_op_decode(&op, buf, len), 0);
	assert_int_equal(strlen(op->u.post.text), KZ_TEXT_MAX);
	kz_op_free(op);
	free(buf);
	free(text);

	p.text = "ok \xed\xa0\x80";
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_BAD_UTF8);
	assert_null(buf);
	p.text = "\xe9\x81";
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_BAD_UTF8);
	p.text = "fine";

	p.priority = (enum kz_priority)3;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_INVAL);
	assert_null(buf);
	p.priority = (enum kz_priority)-1;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_INVAL);
	p.priority = KZ_PRIO_NORMAL;

	for (i = 0; i < KZ_MENTIONS_MAX + 1; i++)
		many[i] = "m";
	p.mentions = many;
	p.n_mentions = KZ_MENTIONS_MAX + 1;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_TOO_BIG);
	p.n_mentions = KZ_MENTIONS_MAX;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), 0);
	free(buf);
	p.mentions = bad_mention;
	p.n_mentions = 1;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), KZ_ERR_INVAL);
	assert_null(buf);
}

/* Wraps hand-written Post bytes (< 128) in an Op: field 16, length-delimited. */
static size_t
wrap_post(uint8_t *out, const uint8_t *post, size_t post_len)
{
	assert_true(post_len < 128);
	out[0] = 0x82;
	out[1] = 0x01;
	out[2] = (uint8_t)post_len;
	memcpy(out + 3, post, post_len);
	return post_len + 3;
}

static int
decode_post_bytes(const uint8_t *post, size_t post_len, struct kz_op **out)
{
	uint8_t buf[160];
	size_t len = wrap_post(buf, post, post_len);

	return kz_op_decode(out, buf, len);
}

static void
test_op_decode_rejects(void **state)
{
	static const uint8_t good[] = { 0x0a, 3, 'a', '-', 'b' };
	static const uint8_t nul_channel[] = { 0x0a, 3, 'a', 0, 'b' };
	static const uint8_t good_text[] = { 0x0a, 1, 'c', 0x12, 3, 'h', '-', 'i' };
	static const uint8_t nul_text[] = { 0x0a, 1, 'c', 0x12, 3, 'h', 0, 'i' };
	static const uint8_t nul_mention[] = { 0x0a, 1, 'c', 0x2a, 2, 'm', 0 };
	static const uint8_t bad_utf8_text[] = { 0x0a, 1, 'c', 0x12, 2, 0xc0, 0xaf };
	static const uint8_t bad_utf8_channel[] = { 0x0a, 2, 0xed, 0xa0 };
	static const uint8_t unknown_in_post[] = { 0x0a, 1, 'c', 0x78, 0x01 };
	static const uint8_t prio2[] = { 0x0a, 1, 'c', 0x20, 2 };
	static const uint8_t prio3[] = { 0x0a, 1, 'c', 0x20, 3 };
	static const uint8_t prio_nonmin[] = { 0x0a, 1, 'c', 0x20, 0x82, 0x00 };
	static const uint8_t out_of_order[] = { 0x20, 1, 0x0a, 1, 'c' };
	static const uint8_t no_channel[] = { 0x12, 2, 'h', 'i' };
	uint8_t root31[2 + 3 + 31];
	uint8_t buf[200], *big;
	struct kz_op *op = NULL;
	size_t len;

	(void)state;
	/* Controls: the hand-written bytes are right. */
	assert_int_equal(decode_post_bytes(good, sizeof(good), &op), 0);
	assert_string_equal(op->u.post.channel, "a-b");
	kz_op_free(op);
	assert_int_equal(decode_post_bytes(good_text, sizeof(good_text), &op), 0);
	assert_string_equal(op->u.post.text, "h-i");
	kz_op_free(op);
	assert_int_equal(decode_post_bytes(prio2, sizeof(prio2), &op), 0);
	assert_int_equal(op->u.post.priority, KZ_PRIO_EMERGENCY);
	kz_op_free(op);
	op = (struct kz_op *)1;

	/* Embedded NUL bytes. */
	assert_int_equal(decode_post_bytes(nul_channel, sizeof(nul_channel), &op),
	    KZ_ERR_MALFORMED);
	assert_null(op);
	assert_int_equal(decode_post_bytes(nul_text, sizeof(nul_text), &op),
	    KZ_ERR_MALFORMED);
	assert_int_equal(decode_post_bytes(nul_mention, sizeof(nul_mention), &op),
	    KZ_ERR_MALFORMED);

	/* Invalid UTF-8. */
	assert_int_equal(decode_post_bytes(bad_utf8_text, sizeof(bad_utf8_text),
	    &op), KZ_ERR_BAD_UTF8);
	assert_null(op);
	assert_int_equal(decode_post_bytes(bad_utf8_channel,
	    sizeof(bad_utf8_channel), &op), KZ_ERR_BAD_UTF8);

	/* Unknown fields, inside the post and after it. */
	assert_int_equal(decode_post_bytes(unknown_in_post,
	    sizeof(unknown_in_post), &op), KZ_ERR_MALFORMED);
	len = wrap_post(buf, good, sizeof(good));
	buf[len] = 0x78;
	buf[len + 1] = 0x01;
	assert_int_equal(kz_op_decode(&op, buf, len + 2), KZ_ERR_MALFORMED);
	assert_null(op);
	/* An Op whose only field is unknown. */
	assert_int_equal(kz_op_decode(&op, (const uint8_t *)"\x78\x01", 2),
	    KZ_ERR_MALFORMED);

	/* Non-canonical spellings. */
	assert_int_equal(decode_post_bytes(prio_nonmin, sizeof(prio_nonmin), &op),
	    KZ_ERR_MALFORMED);
	assert_int_equal(decode_post_bytes(out_of_order, sizeof(out_of_order),
	    &op), KZ_ERR_MALFORMED);

	/* Bad values. */
	assert_int_equal(decode_post_bytes(prio3, sizeof(prio3), &op), KZ_ERR_INVAL);
	assert_int_equal(decode_post_bytes(no_channel, sizeof(no_channel), &op),
	    KZ_ERR_INVAL);
	root31[0] = 0x0a;
	root31[1] = 1;
	root31[2] = 'c';
	root31[3] = 0x1a;
	root31[4] = 31;
	fill(root31 + 5, 31, 0x40);
	assert_int_equal(decode_post_bytes(root31, sizeof(root31), &op),
	    KZ_ERR_INVAL);

	/* No body at all, and an empty post. */
	assert_int_equal(kz_op_decode(&op, (const uint8_t *)"", 0), KZ_ERR_MALFORMED);
	assert_null(op);
	assert_int_equal(kz_op_decode(&op, (const uint8_t *)"\x82\x01\x00", 3),
	    KZ_ERR_INVAL);

	/* Garbage. */
	assert_int_equal(kz_op_decode(&op, (const uint8_t *)"\xff\xff\xff", 3),
	    KZ_ERR_MALFORMED);

	/* Size bound, checked before unpacking. */
	big = calloc(1, KZ_OP_MAX + 1);
	assert_non_null(big);
	assert_int_equal(kz_op_decode(&op, big, KZ_OP_MAX + 1), KZ_ERR_TOO_BIG);
	assert_null(op);
	free(big);
}

static void
test_priority_names(void **state)
{
	enum kz_priority p = KZ_PRIO_NORMAL;
	static const char *const names[] = { "normal", "urgent", "emergency" };
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_string_equal(kz_priority_name((enum kz_priority)i), names[i]);
		p = (enum kz_priority)-1;
		assert_int_equal(kz_priority_parse(&p, names[i]), 0);
		assert_int_equal(p, i);
	}
	assert_string_equal(kz_priority_name((enum kz_priority)7), "?");
	p = KZ_PRIO_URGENT;
	assert_int_equal(kz_priority_parse(&p, "URGENT"), KZ_ERR_INVAL);
	assert_int_equal(kz_priority_parse(&p, ""), KZ_ERR_INVAL);
	assert_int_equal(kz_priority_parse(&p, "urgent "), KZ_ERR_INVAL);
	assert_int_equal(kz_priority_parse(&p, "critical"), KZ_ERR_INVAL);
	assert_int_equal(p, KZ_PRIO_URGENT);	/* untouched on failure */
}

/* -------------------------------------------------------------- 8. config */

static void
test_config(void **state)
{
	struct kz_config cfg, def;
	char err[512], want[600], *dir, *path, *text = NULL;

	(void)state;
	memset(&cfg, 0x5a, sizeof(cfg));
	kz_config_defaults(&cfg);
	assert_string_equal(cfg.store_path, "store.db");
	assert_int_equal(cfg.log_level, KZ_LOG_INFO);
	assert_string_equal(cfg.node_name, "");
	def = cfg;

	dir = kz_test_tmpdir();
	path = kz_test_path(dir, "kizuna.conf");

	/* Valid values. */
	write_file(path, "# a comment\n"
	    "[node]\n"
	    "name = city-hall \xe5\xb8\x82\xe5\xbd\xb9\xe6\x89\x80\n"
	    "\n"
	    "[store]\n"
	    "path = /var/lib/kizuna/store.db\n"
	    "[log]\n"
	    "level = debug\n");
	kz_config_defaults(&cfg);
	err[0] = '\0';
	assert_int_equal(kz_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.node_name, "city-hall \xe5\xb8\x82\xe5\xbd\xb9\xe6\x89\x80");
	assert_string_equal(cfg.store_path, "/var/lib/kizuna/store.db");
	assert_int_equal(cfg.log_level, KZ_LOG_DEBUG);

	/* Settings not in the file keep what cfg held. */
	write_file(path, "[log]\nlevel = error\n");
	assert_int_equal(kz_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg.log_level, KZ_LOG_ERR);
	assert_string_equal(cfg.store_path, "/var/lib/kizuna/store.db");

	/* An unknown key on line 3. */
	write_file(path, "[node]\n"
	    "name = x\n"
	    "colour = blue\n"
	    "[log]\n"
	    "level = debug\n");
	kz_config_defaults(&cfg);
	err[0] = '\0';
	assert_int_equal(kz_config_load(&cfg, path, err, sizeof(err)),
	    KZ_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:3:", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error '%s' does not start with '%s'", err, want);
	assert_non_null(strstr(err, "colour"));

	/* An unknown section. */
	write_file(path, "[nodes]\nname = x\n");
	err[0] = '\0';
	assert_int_equal(kz_config_load(&cfg, path, err, sizeof(err)),
	    KZ_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:2:", path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);

	/* A bad enum value names the setting. */
	write_file(path, "[log]\nlevel = loud\n");
	err[0] = '\0';
	assert_int_equal(kz_config_load(&cfg, path, err, sizeof(err)),
	    KZ_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:2:", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error '%s' does not start with '%s'", err, want);
	assert_non_null(strstr(err, "level"));
	assert_non_null(strstr(err, "loud"));

	/* A string over its bound (node name is at most 63 bytes). */
	write_file(path, "[node]\nname = "
	    "0123456789012345678901234567890123456789012345678901234567890123\n");
	err[0] = '\0';
	assert_int_equal(kz_config_load(&cfg, path, err, sizeof(err)),
	    KZ_ERR_CONFIG);
	assert_non_null(strstr(err, "name"));

	/* A missing file. */
	free(path);
	path = kz_test_path(dir, "missing.conf");
	assert_int_equal(kz_config_load(&cfg, path, err, sizeof(err)),
	    KZ_ERR_NOT_FOUND);

	/* The default text parses back to exactly the defaults. */
	assert_int_equal(kz_config_default_text(&text), 0);
	assert_non_null(text);
	free(path);
	path = kz_test_path(dir, "default.conf");
	write_file(path, text);
	free(text);
	kz_config_defaults(&cfg);
	err[0] = '\0';
	assert_int_equal(kz_config_set(&cfg, "node", "name", "zz", err,
	    sizeof(err)), 0);
	assert_int_equal(kz_config_set(&cfg, "store", "path", "other.db", err,
	    sizeof(err)), 0);
	assert_int_equal(kz_config_set(&cfg, "log", "level", "warning", err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.log_level, KZ_LOG_WARN);
	if (kz_config_load(&cfg, path, err, sizeof(err)) != 0)
		fail_msg("default text does not load: %s", err);
	assert_string_equal(cfg.node_name, def.node_name);
	assert_string_equal(cfg.store_path, def.store_path);
	assert_int_equal(cfg.log_level, def.log_level);

	assert_int_equal(kz_config_set(&cfg, "log", "lvl", "info", err,
	    sizeof(err)), KZ_ERR_CONFIG);

	free(path);
	kz_test_rmtree(dir);
}

/*
 * A value the settings table accepts must also load from a file: store.path
 * may be up to KZ_CONFIG_STR_MAX - 1 bytes.  (libinih splits lines longer
 * than its INI_MAX_LINE, 200 by default, so this exposes a truncation.)
 */
static void
test_config_long_value(void **state)
{
	struct kz_config cfg;
	char err[512], value[KZ_CONFIG_STR_MAX], *dir, *path, *text;
	size_t n = KZ_CONFIG_PATH_MAX;
	int rc;

	(void)state;
	memset(value, 'p', n + 1);
	value[0] = '/';
	value[n + 1] = '\0';
	kz_config_defaults(&cfg);
	/* One byte over the bound is refused, naming the setting. */
	assert_int_equal(kz_config_set(&cfg, "store", "path", value, err,
	    sizeof(err)), KZ_ERR_CONFIG);
	assert_non_null(strstr(err, "[store] path"));
	assert_string_equal(cfg.store_path, "store.db");
	value[n] = '\0';
	assert_int_equal(kz_config_set(&cfg, "store", "path", value, err,
	    sizeof(err)), 0);
	assert_string_equal(cfg.store_path, value);

	/* The longest path loads from a file, with what follows it. */
	dir = kz_test_tmpdir();
	path = kz_test_path(dir, "long.conf");
	text = malloc(1024);
	assert_non_null(text);
	snprintf(text, 1024, "[store]\npath = %s\n[log]\nlevel = debug\n", value);
	write_file(path, text);
	kz_config_defaults(&cfg);
	rc = kz_config_load(&cfg, path, err, sizeof(err));
	if (rc != 0)
		fail_msg("a %zu-byte store.path does not load: %s", n, err);
	assert_string_equal(cfg.store_path, value);
	assert_int_equal(cfg.log_level, KZ_LOG_DEBUG);

	/* A line longer than libinih reads is refused, not split in two:
	 * here a comment whose tail would otherwise read as a setting. */
	memset(value, 'c', 220);
	value[220] = '\0';
	snprintf(text, 1024, "[log]\n# %s level = debug\nlevel = error\n", value);
	write_file(path, text);
	kz_config_defaults(&cfg);
	assert_int_equal(kz_config_load(&cfg, path, err, sizeof(err)),
	    KZ_ERR_CONFIG);
	snprintf(text, 1024, "%s:2: line too long", path);
	assert_int_equal(strncmp(err, text, strlen(text)), 0);

	/* A folder is not a config file. */
	assert_int_equal(kz_config_load(&cfg, dir, err, sizeof(err)),
	    KZ_ERR_CONFIG);
	assert_non_null(strstr(err, "not a regular file"));
	free(text);
	free(path);
	kz_test_rmtree(dir);
}

/* -------------------------------------------------------------- 9. errors */

static void
test_errors(void **state)
{
	int e, f;

	(void)state;
	assert_string_equal(kz_strerror(KZ_OK), "success");
	assert_string_equal(kz_errname(KZ_OK), "OK");
	assert_int_equal(KZ_ERR_CRYPTO - KZ_ERR_NOMEM + 1, 21);
	for (e = KZ_ERR_NOMEM; e <= KZ_ERR_CRYPTO; e++) {
		assert_true(e < 0);
		assert_non_null(kz_strerror(e));
		assert_non_null(kz_errname(e));
		assert_string_not_equal(kz_strerror(e), "unknown error");
		assert_string_not_equal(kz_strerror(e), "success");
		assert_string_not_equal(kz_errname(e), "UNKNOWN");
		assert_true(strlen(kz_strerror(e)) > 0);
		for (f = KZ_ERR_NOMEM; f < e; f++) {
			assert_string_not_equal(kz_strerror(e), kz_strerror(f));
			assert_string_not_equal(kz_errname(e), kz_errname(f));
		}
	}
	assert_string_equal(kz_errname(KZ_ERR_BAD_SIG), "BAD_SIG");
	assert_string_equal(kz_strerror(KZ_ERR_BAD_SIG), "signature does not verify");
	assert_string_equal(kz_errname(KZ_ERR_NOMEM), "NOMEM");
	assert_string_equal(kz_errname(KZ_ERR_CRYPTO), "CRYPTO");
	assert_string_equal(kz_strerror(KZ_ERR_NOMEM - 1), "unknown error");
	assert_string_equal(kz_strerror(KZ_ERR_CRYPTO + 1), "unknown error");
	assert_string_equal(kz_strerror(1), "unknown error");
	assert_string_equal(kz_errname(-1), "UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_layout_roundtrip),
		cmocka_unit_test(test_header_decode_rejects),
		cmocka_unit_test(test_entry_build),
		cmocka_unit_test(test_run_roundtrip_with_prev),
		cmocka_unit_test(test_run_roundtrip_without_prev),
		cmocka_unit_test(test_run_hlc_extremes),
		cmocka_unit_test(test_run_encode_too_big),
		cmocka_unit_test(test_run_bitflips),
		cmocka_unit_test(test_run_noncanonical_bytes),
		cmocka_unit_test(test_run_decode_rejects_values),
		cmocka_unit_test(test_run_rebuild_and_sign),
		cmocka_unit_test(test_keys_seed),
		cmocka_unit_test(test_hlc),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_hex_be),
		cmocka_unit_test(test_op_roundtrip),
		cmocka_unit_test(test_op_encode_rejects),
		cmocka_unit_test(test_op_decode_rejects),
		cmocka_unit_test(test_priority_names),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_long_value),
		cmocka_unit_test(test_errors),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
