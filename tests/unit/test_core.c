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

#define ACTOR "Tanaka.H_2@city-hall"
#define PW "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"
#define THUMBS "\xf0\x9f\x91\x8d"
#define JA_TEXT "\xe9\x81\xbf\xe9\x9b\xa3\xe6\x89\x80\xe3\x81\xa7\xe7\xb5\xa6" \
	"\xe6\xb0\xb4 at 15:00 \xf0\x9f\x9a\xb0"

static uint8_t id_a[KZ_ID_BYTES + 1], id_b[KZ_ID_BYTES + 1];
static const char *const two_mentions[] = { "alice", "bob.k" };
static const struct kz_report_link two_links[] = {
	{ id_a, "tcp", true, 1764000000, 3 },
	{ id_b, "radio", false, 1764000100, 0 },
};

/* What setting a valid user id as the actor gives: a link report has none. */
#define ACTOR_RC(t, rc) ((t) == KZ_OP_LINK_REPORT ? KZ_ERR_INVAL : (rc))

static void
op_ids_init(void)
{
	fill(id_a, sizeof(id_a), 0xa0);
	fill(id_b, sizeof(id_b), 0x30);
}

/* A valid op of type t with every field set (pointers to static data). */
static struct kz_op
valid_op(enum kz_op_type t)
{
	struct kz_op op;

	op_ids_init();
	memset(&op, 0, sizeof(op));
	op.type = t;
	op.actor = ACTOR;
	switch (t) {
	case KZ_OP_POST:
		op.u.post = (struct kz_post){ id_a, JA_TEXT, id_b, KZ_PRIO_URGENT,
		    2, two_mentions, NULL };
		break;
	case KZ_OP_MESH_CREATE:
		op.u.mesh_create = (struct kz_mesh_create){ id_a, "Kizuna City" };
		break;
	case KZ_OP_NODE_ADMIT:
		op.u.node_admit = (struct kz_node_admit){ id_a, "branch", true };
		break;
	case KZ_OP_NODE_REVOKE:
		op.u.node_revoke = (struct kz_node_revoke){ id_a, 7, "stolen" };
		break;
	case KZ_OP_USER_SET:
		op.u.user_set = (struct kz_user_set){ "sato", KZ_USER_SET_ALL,
		    "Sato", "Fire", KZ_ROLE_ADMIN, PW, true };
		break;
	case KZ_OP_CHANNEL_CREATE:
		op.u.channel_create = (struct kz_channel_create){ "general",
		    "all staff", NULL };
		break;
	case KZ_OP_CHANNEL_SET:
		op.u.channel_set = (struct kz_channel_set){ id_a, KZ_CHANNEL_SET_ALL,
		    "ops", "water", true };
		break;
	case KZ_OP_EDIT:
		op.u.edit = (struct kz_edit){ id_a, "fixed" };
		break;
	case KZ_OP_DELETE:
	case KZ_OP_PURGE:
	case KZ_OP_ACK:
		op.u.del.target = id_a;
		break;
	case KZ_OP_REACT:
		op.u.react = (struct kz_react){ id_a, THUMBS, true };
		break;
	case KZ_OP_SAFETY:
		op.u.safety = (struct kz_safety_status){ "sato", KZ_SAFETY_INJURED,
		    "gym", "leg" };
		break;
	case KZ_OP_LINK_REPORT:
		/* A node writes it for itself: no actor. */
		op.actor = NULL;
		op.u.link_report = (struct kz_link_report){ 2, two_links };
		break;
	default:
		break;
	}
	return op;
}

/*
 * Encodes in, decodes the bytes, checks that the decoded op encodes to the
 * same bytes, then scribbles over them (the op must not borrow them).
 */
static struct kz_op *
op_roundtrip(const struct kz_op *in)
{
	uint8_t *buf = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	struct kz_op *out = NULL;

	assert_int_equal(kz_op_encode(&buf, &len, in), 0);
	assert_non_null(buf);
	assert_true(len > 0 && len <= KZ_OP_MAX);
	assert_int_equal(kz_op_decode(&out, buf, len), 0);
	assert_non_null(out);
	assert_int_equal(out->type, in->type);
	assert_int_equal(kz_op_encode(&again, &len2, out), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, buf, len);
	memset(buf, 0xee, len);
	free(buf);
	free(again);
	return out;
}

/* kz_op_encode's result; on success the bytes must also decode. */
static int
enc_rc(const struct kz_op *op)
{
	uint8_t *buf = (uint8_t *)1;
	size_t len = 99;
	struct kz_op *dec = NULL;
	int rc = kz_op_encode(&buf, &len, op);

	if (rc == 0) {
		assert_non_null(buf);
		assert_int_equal(kz_op_decode(&dec, buf, len), 0);
		kz_op_free(dec);
		free(buf);
	} else {
		assert_null(buf);
		assert_int_equal(len, 0);
	}
	return rc;
}

/* Encodes valid_op(t) with one change, expecting rc. */
#define ENC(t, change, rc)                                                    \
	do {                                                                  \
		struct kz_op o_ = valid_op(t);                                \
		o_.change;                                                    \
		assert_int_equal(enc_rc(&o_), (rc));                          \
	} while (0)

/* A string of exactly len bytes: prefix, then 'x's (malloc'd). */
static char *
str_len(size_t len, const char *prefix)
{
	char *s = malloc(len + 1);

	assert_non_null(s);
	assert_true(strlen(prefix) <= len);
	memset(s, 'x', len);
	memcpy(s, prefix, strlen(prefix));
	s[len] = '\0';
	return s;
}

static void
test_op_roundtrip_post(void **state)
{
	struct kz_op in = valid_op(KZ_OP_POST), *op;
	struct kz_post p;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_POST);
	assert_string_equal(op->actor, ACTOR);
	assert_memory_equal(op->u.post.channel, id_a, KZ_ID_BYTES);
	assert_string_equal(op->u.post.text, JA_TEXT);
	assert_non_null(op->u.post.thread_root);
	assert_memory_equal(op->u.post.thread_root, id_b, KZ_ID_BYTES);
	assert_int_equal(op->u.post.priority, KZ_PRIO_URGENT);
	assert_int_equal(op->u.post.n_mentions, 2);
	assert_string_equal(op->u.post.mentions[0], "alice");
	assert_string_equal(op->u.post.mentions[1], "bob.k");
	assert_non_null(op->pb);
	kz_op_free(op);

	/* Minimal: no actor, text, root or mentions; normal priority. */
	in.actor = NULL;
	in.u.post = (struct kz_post){ .channel = id_b };
	op = op_roundtrip(&in);
	assert_string_equal(op->actor, "");
	assert_memory_equal(op->u.post.channel, id_b, KZ_ID_BYTES);
	assert_string_equal(op->u.post.text, "");
	assert_null(op->u.post.thread_root);
	assert_int_equal(op->u.post.priority, KZ_PRIO_NORMAL);
	assert_int_equal(op->u.post.n_mentions, 0);
	kz_op_free(op);

	/* Emergency, an empty actor string, and 64 mentions. */
	{
		const char *many[KZ_MENTIONS_MAX];
		char names[KZ_MENTIONS_MAX][8];
		size_t i;

		for (i = 0; i < KZ_MENTIONS_MAX; i++) {
			snprintf(names[i], sizeof(names[i]), "u%zu", i);
			many[i] = names[i];
		}
		in.actor = "";
		in.u.post.priority = KZ_PRIO_EMERGENCY;
		in.u.post.n_mentions = KZ_MENTIONS_MAX;
		in.u.post.mentions = many;
		op = op_roundtrip(&in);
		assert_string_equal(op->actor, "");
		assert_int_equal(op->u.post.priority, KZ_PRIO_EMERGENCY);
		assert_int_equal(op->u.post.n_mentions, KZ_MENTIONS_MAX);
		for (i = 0; i < KZ_MENTIONS_MAX; i++)
			assert_string_equal(op->u.post.mentions[i], names[i]);
		kz_op_free(op);
	}

	/* kz_op_encode_post: the same bytes as a post with no actor. */
	in = valid_op(KZ_OP_POST);
	p = in.u.post;
	in.actor = NULL;
	assert_int_equal(kz_op_encode_post(&buf, &len, &p), 0);
	assert_int_equal(kz_op_decode(&op, buf, len), 0);
	assert_int_equal(op->type, KZ_OP_POST);
	assert_string_equal(op->actor, "");
	assert_string_equal(op->u.post.text, JA_TEXT);
	kz_op_free(op);
	op = op_roundtrip(&in);
	{
		uint8_t *buf2 = NULL;
		size_t len2 = 0;

		assert_int_equal(kz_op_encode(&buf2, &len2, &in), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(buf2, buf, len);
		free(buf2);
	}
	kz_op_free(op);
	free(buf);

	kz_op_free(NULL);
}

static void
test_op_roundtrip_control(void **state)
{
	struct kz_op in, *op;
	uint32_t bit;

	(void)state;
	in = valid_op(KZ_OP_MESH_CREATE);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_MESH_CREATE);
	assert_string_equal(op->actor, ACTOR);
	assert_memory_equal(op->u.mesh_create.mesh_id, id_a, KZ_ID_BYTES);
	assert_string_equal(op->u.mesh_create.name, "Kizuna City");
	kz_op_free(op);

	in = valid_op(KZ_OP_NODE_ADMIT);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_NODE_ADMIT);
	assert_string_equal(op->actor, ACTOR);
	assert_memory_equal(op->u.node_admit.node, id_a, KZ_ID_BYTES);
	assert_string_equal(op->u.node_admit.name, "branch");
	assert_true(op->u.node_admit.admin);
	kz_op_free(op);
	in.u.node_admit.admin = false;
	in.actor = NULL;
	op = op_roundtrip(&in);
	assert_false(op->u.node_admit.admin);
	assert_string_equal(op->actor, "");
	kz_op_free(op);

	in = valid_op(KZ_OP_NODE_REVOKE);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_NODE_REVOKE);
	assert_string_equal(op->actor, ACTOR);
	assert_memory_equal(op->u.node_revoke.node, id_a, KZ_ID_BYTES);
	assert_true(op->u.node_revoke.last_seq == 7);
	assert_string_equal(op->u.node_revoke.reason, "stolen");
	kz_op_free(op);
	in.u.node_revoke.last_seq = KZ_SEQ_MAX;
	in.u.node_revoke.reason = NULL;
	op = op_roundtrip(&in);
	assert_true(op->u.node_revoke.last_seq == KZ_SEQ_MAX);
	assert_string_equal(op->u.node_revoke.reason, "");
	kz_op_free(op);
	in.u.node_revoke.last_seq = 0;
	op = op_roundtrip(&in);
	assert_true(op->u.node_revoke.last_seq == 0);
	kz_op_free(op);

	in = valid_op(KZ_OP_USER_SET);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_USER_SET);
	assert_string_equal(op->actor, ACTOR);
	assert_string_equal(op->u.user_set.user, "sato");
	assert_int_equal(op->u.user_set.set, KZ_USER_SET_ALL);
	assert_string_equal(op->u.user_set.display_name, "Sato");
	assert_string_equal(op->u.user_set.department, "Fire");
	assert_int_equal(op->u.user_set.role, KZ_ROLE_ADMIN);
	assert_string_equal(op->u.user_set.password_hash, PW);
	assert_true(op->u.user_set.active);
	kz_op_free(op);
	/* Each bit alone; the other fields at their zero values. */
	for (bit = 1; bit <= KZ_USER_SET_ACTIVE; bit <<= 1) {
		in.u.user_set = (struct kz_user_set){ .user = "u-1", .set = bit,
		    .display_name = (bit & KZ_USER_SET_DISPLAY_NAME) ? "D" : NULL };
		op = op_roundtrip(&in);
		assert_string_equal(op->u.user_set.user, "u-1");
		assert_int_equal(op->u.user_set.set, bit);
		assert_string_equal(op->u.user_set.display_name,
		    bit == KZ_USER_SET_DISPLAY_NAME ? "D" : "");
		assert_string_equal(op->u.user_set.department, "");
		assert_int_equal(op->u.user_set.role, KZ_ROLE_MEMBER);
		assert_string_equal(op->u.user_set.password_hash, "");
		assert_false(op->u.user_set.active);
		kz_op_free(op);
	}
}

static void
test_op_roundtrip_content(void **state)
{
	static const enum kz_op_type targets[] = { KZ_OP_DELETE, KZ_OP_PURGE,
	    KZ_OP_ACK };
	struct kz_op in, *op;
	size_t i;
	int v;

	(void)state;
	in = valid_op(KZ_OP_CHANNEL_CREATE);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_CHANNEL_CREATE);
	assert_string_equal(op->actor, ACTOR);
	assert_string_equal(op->u.channel_create.name, "general");
	assert_string_equal(op->u.channel_create.topic, "all staff");
	kz_op_free(op);
	in.u.channel_create.topic = NULL;
	op = op_roundtrip(&in);
	assert_string_equal(op->u.channel_create.topic, "");
	kz_op_free(op);

	in = valid_op(KZ_OP_CHANNEL_SET);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_CHANNEL_SET);
	assert_string_equal(op->actor, ACTOR);
	assert_memory_equal(op->u.channel_set.channel, id_a, KZ_ID_BYTES);
	assert_int_equal(op->u.channel_set.set, KZ_CHANNEL_SET_ALL);
	assert_string_equal(op->u.channel_set.name, "ops");
	assert_string_equal(op->u.channel_set.topic, "water");
	assert_true(op->u.channel_set.archived);
	kz_op_free(op);
	in.u.channel_set = (struct kz_channel_set){ id_b, KZ_CHANNEL_SET_TOPIC,
	    NULL, NULL, false };
	op = op_roundtrip(&in);
	assert_memory_equal(op->u.channel_set.channel, id_b, KZ_ID_BYTES);
	assert_int_equal(op->u.channel_set.set, KZ_CHANNEL_SET_TOPIC);
	assert_string_equal(op->u.channel_set.name, "");
	assert_string_equal(op->u.channel_set.topic, "");
	assert_false(op->u.channel_set.archived);
	kz_op_free(op);

	in = valid_op(KZ_OP_EDIT);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_EDIT);
	assert_string_equal(op->actor, ACTOR);
	assert_memory_equal(op->u.edit.target, id_a, KZ_ID_BYTES);
	assert_string_equal(op->u.edit.text, "fixed");
	kz_op_free(op);

	for (i = 0; i < 3; i++) {
		in = valid_op(targets[i]);
		in.u.del.target = id_b;
		op = op_roundtrip(&in);
		assert_int_equal(op->type, targets[i]);
		assert_string_equal(op->actor, ACTOR);
		switch (targets[i]) {
		case KZ_OP_DELETE:
			assert_memory_equal(op->u.del.target, id_b, KZ_ID_BYTES);
			break;
		case KZ_OP_PURGE:
			assert_memory_equal(op->u.purge.target, id_b, KZ_ID_BYTES);
			break;
		default:
			assert_memory_equal(op->u.ack.target, id_b, KZ_ID_BYTES);
			break;
		}
		kz_op_free(op);
	}

	in = valid_op(KZ_OP_REACT);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_REACT);
	assert_string_equal(op->actor, ACTOR);
	assert_memory_equal(op->u.react.target, id_a, KZ_ID_BYTES);
	assert_string_equal(op->u.react.emoji, THUMBS);
	assert_true(op->u.react.on);
	kz_op_free(op);
	in.u.react.on = false;
	op = op_roundtrip(&in);
	assert_false(op->u.react.on);
	kz_op_free(op);

	in = valid_op(KZ_OP_SAFETY);
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_SAFETY);
	assert_string_equal(op->actor, ACTOR);
	assert_string_equal(op->u.safety.user, "sato");
	assert_int_equal(op->u.safety.status, KZ_SAFETY_INJURED);
	assert_string_equal(op->u.safety.place, "gym");
	assert_string_equal(op->u.safety.note, "leg");
	kz_op_free(op);
	for (v = KZ_SAFETY_UNKNOWN; v <= KZ_SAFETY_INJURED; v++) {
		in.u.safety = (struct kz_safety_status){ NULL,
		    (enum kz_safety)v, NULL, NULL };
		op = op_roundtrip(&in);
		assert_string_equal(op->u.safety.user, "");
		assert_int_equal(op->u.safety.status, v);
		assert_string_equal(op->u.safety.place, "");
		assert_string_equal(op->u.safety.note, "");
		kz_op_free(op);
	}
}

struct released {
	struct kz_op *op;
	int calls;
};

static void
on_release(void *ctx, struct kz_op *op)
{
	struct released *r = ctx;

	r->op = op;
	r->calls++;
}

/*
 * kz_op_free of an op with a release function hands it over untouched
 * (its strings still readable); the owner frees it with release cleared.
 */
static void
test_op_release(void **state)
{
	struct kz_op in = valid_op(KZ_OP_POST), *op = op_roundtrip(&in);
	struct released r = { NULL, 0 };

	(void)state;
	op->release = on_release;
	op->release_ctx = &r;
	kz_op_free(op);
	assert_int_equal(r.calls, 1);
	assert_ptr_equal(r.op, op);
	assert_string_equal(op->u.post.text, in.u.post.text);
	kz_op_free(op);
	assert_int_equal(r.calls, 2);
	op->release = NULL;
	kz_op_free(op);		/* freed: ASan sees a leak otherwise */
	assert_int_equal(r.calls, 2);
	kz_op_free(NULL);
}

static void
test_op_target(void **state)
{
	struct kz_op in, *op;
	int t;

	(void)state;
	for (t = KZ_OP_POST; t < KZ__OP_LAST; t++) {
		const uint8_t *want = NULL;

		in = valid_op((enum kz_op_type)t);
		op = op_roundtrip(&in);
		switch (t) {
		case KZ_OP_POST:
			want = op->u.post.channel;
			break;
		case KZ_OP_CHANNEL_SET:
			want = op->u.channel_set.channel;
			break;
		case KZ_OP_EDIT:
			want = op->u.edit.target;
			break;
		case KZ_OP_DELETE:
			want = op->u.del.target;
			break;
		case KZ_OP_PURGE:
			want = op->u.purge.target;
			break;
		case KZ_OP_REACT:
			want = op->u.react.target;
			break;
		case KZ_OP_ACK:
			want = op->u.ack.target;
			break;
		default:
			break;
		}
		if (want == NULL) {
			assert_null(kz_op_target(op));
		} else {
			assert_ptr_equal(kz_op_target(op), want);
			assert_memory_equal(kz_op_target(op), id_a, KZ_ID_BYTES);
		}
		/* The same on the caller's own struct. */
		if (want == NULL)
			assert_null(kz_op_target(&in));
		else
			assert_ptr_equal(kz_op_target(&in), id_a);
		kz_op_free(op);
	}
	/* A post's thread root is not its target. */
	in = valid_op(KZ_OP_POST);
	in.u.post.channel = id_b;
	in.u.post.thread_root = id_a;
	assert_ptr_equal(kz_op_target(&in), id_b);
}

static void
test_user_id_valid(void **state)
{
	char *s;

	(void)state;
	assert_true(kz_user_id_valid("a"));
	assert_true(kz_user_id_valid(ACTOR));
	assert_true(kz_user_id_valid("azAZ09._@-"));
	assert_false(kz_user_id_valid(NULL));
	assert_false(kz_user_id_valid(""));
	assert_false(kz_user_id_valid("a b"));
	assert_false(kz_user_id_valid("\xc3\xa9"));	/* é */
	assert_false(kz_user_id_valid("caf\xc3\xa9"));
	assert_false(kz_user_id_valid("a/b"));
	assert_false(kz_user_id_valid("a\tb"));
	assert_false(kz_user_id_valid("a+b"));
	assert_false(kz_user_id_valid("a:b"));
	s = str_len(KZ_USER_ID_MAX, "");
	assert_true(kz_user_id_valid(s));
	free(s);
	s = str_len(KZ_USER_ID_MAX + 1, "");
	assert_false(kz_user_id_valid(s));
	free(s);
}

static void
test_op_encode_rejects(void **state)
{
	static const char *const bad_utf8[] = { "\xc0\xaf", "ok \xed\xa0\x80",
	    "\xe9\x81", "\xf4\x90\x80\x80", "\xff" };
	const char *many[KZ_MENTIONS_MAX + 1];
	const char *bad_mention[2] = { "alice", NULL };
	char *s_ok, *s_big, *id64, *id65;
	size_t i;
	int t;

	(void)state;
	/* Every valid_op encodes (and its bytes decode). */
	for (t = KZ_OP_POST; t < KZ__OP_LAST; t++)
		ENC((enum kz_op_type)t, type = (enum kz_op_type)t, 0);
	/* Unknown types. */
	ENC(KZ_OP_POST, type = (enum kz_op_type)0, KZ_ERR_INVAL);
	ENC(KZ_OP_POST, type = KZ__OP_LAST, KZ_ERR_INVAL);
	ENC(KZ_OP_POST, type = (enum kz_op_type)99, KZ_ERR_INVAL);

	/* Missing ids.  (A thread root is optional.) */
	ENC(KZ_OP_POST, u.post.channel = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_POST, u.post.thread_root = NULL, 0);
	ENC(KZ_OP_MESH_CREATE, u.mesh_create.mesh_id = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_NODE_ADMIT, u.node_admit.node = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_NODE_REVOKE, u.node_revoke.node = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_SET, u.channel_set.channel = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_EDIT, u.edit.target = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_DELETE, u.del.target = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_PURGE, u.purge.target = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_REACT, u.react.target = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_ACK, u.ack.target = NULL, KZ_ERR_INVAL);

	/* User ids: the actor (optional) on every type, the user_set user,
	 * mentions and the safety subject (optional). */
	id64 = str_len(KZ_USER_ID_MAX, "u.");
	id65 = str_len(KZ_USER_ID_MAX + 1, "u.");
	for (t = KZ_OP_POST; t < KZ__OP_LAST; t++) {
		ENC((enum kz_op_type)t, actor = NULL, 0);
		ENC((enum kz_op_type)t, actor = "", 0);
		ENC((enum kz_op_type)t, actor = id64, ACTOR_RC(t, 0));
		ENC((enum kz_op_type)t, actor = id65, KZ_ERR_INVAL);
		ENC((enum kz_op_type)t, actor = "tanaka h", KZ_ERR_INVAL);
		ENC((enum kz_op_type)t, actor = "\xc3\xa9", KZ_ERR_INVAL);
		ENC((enum kz_op_type)t, actor = "a/b", KZ_ERR_INVAL);
	}
	ENC(KZ_OP_USER_SET, u.user_set.user = id64, 0);
	ENC(KZ_OP_USER_SET, u.user_set.user = id65, KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.user = "", KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.user = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.user = "sa to", KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.user = "sat\xc3\xa9", KZ_ERR_INVAL);
	ENC(KZ_OP_SAFETY, u.safety.user = NULL, 0);
	ENC(KZ_OP_SAFETY, u.safety.user = "", 0);
	ENC(KZ_OP_SAFETY, u.safety.user = id64, 0);
	ENC(KZ_OP_SAFETY, u.safety.user = id65, KZ_ERR_INVAL);
	ENC(KZ_OP_SAFETY, u.safety.user = "sa to", KZ_ERR_INVAL);
	ENC(KZ_OP_SAFETY, u.safety.user = "\xc3\xa9", KZ_ERR_INVAL);
	bad_mention[1] = "";
	ENC(KZ_OP_POST, u.post.mentions = bad_mention, KZ_ERR_INVAL);
	bad_mention[1] = "bo b";
	ENC(KZ_OP_POST, u.post.mentions = bad_mention, KZ_ERR_INVAL);
	bad_mention[1] = "\xc3\xa9";
	ENC(KZ_OP_POST, u.post.mentions = bad_mention, KZ_ERR_INVAL);
	bad_mention[1] = id65;
	ENC(KZ_OP_POST, u.post.mentions = bad_mention, KZ_ERR_INVAL);
	bad_mention[1] = NULL;
	ENC(KZ_OP_POST, u.post.mentions = bad_mention, KZ_ERR_INVAL);
	bad_mention[1] = id64;
	ENC(KZ_OP_POST, u.post.mentions = bad_mention, 0);
	free(id64);
	free(id65);

	/* Mentions: at most KZ_MENTIONS_MAX. */
	for (i = 0; i < KZ_MENTIONS_MAX + 1; i++)
		many[i] = "m";
	{
		struct kz_op o = valid_op(KZ_OP_POST);

		o.u.post.mentions = many;
		o.u.post.n_mentions = KZ_MENTIONS_MAX;
		assert_int_equal(enc_rc(&o), 0);
		o.u.post.n_mentions = KZ_MENTIONS_MAX + 1;
		assert_int_equal(enc_rc(&o), KZ_ERR_TOO_BIG);
	}

	/* Size bounds: the limit is accepted, one more byte is not. */
#define BOUND(t, field, limit, prefix)                                        \
	do {                                                                  \
		s_ok = str_len((limit), (prefix));                            \
		s_big = str_len((limit) + 1, (prefix));                       \
		ENC(t, field = s_ok, 0);                                      \
		ENC(t, field = s_big, KZ_ERR_TOO_BIG);                        \
		free(s_ok);                                                   \
		free(s_big);                                                  \
	} while (0)
	BOUND(KZ_OP_POST, u.post.text, KZ_TEXT_MAX, "");
	BOUND(KZ_OP_EDIT, u.edit.text, KZ_TEXT_MAX, "");
	BOUND(KZ_OP_MESH_CREATE, u.mesh_create.name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_NODE_ADMIT, u.node_admit.name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_NODE_REVOKE, u.node_revoke.reason, KZ_REASON_MAX, "");
	BOUND(KZ_OP_USER_SET, u.user_set.display_name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_USER_SET, u.user_set.department, KZ_NAME_MAX, "");
	BOUND(KZ_OP_USER_SET, u.user_set.password_hash, KZ_PWHASH_MAX,
	    "$argon2id$");
	BOUND(KZ_OP_CHANNEL_CREATE, u.channel_create.name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_CHANNEL_CREATE, u.channel_create.topic, KZ_TOPIC_MAX, "");
	BOUND(KZ_OP_CHANNEL_SET, u.channel_set.name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_CHANNEL_SET, u.channel_set.topic, KZ_TOPIC_MAX, "");
	BOUND(KZ_OP_REACT, u.react.emoji, KZ_EMOJI_MAX, "");
	BOUND(KZ_OP_SAFETY, u.safety.place, KZ_PLACE_MAX, "");
	BOUND(KZ_OP_SAFETY, u.safety.note, KZ_NOTE_MAX, "");
#undef BOUND
	/* Bounds count bytes, not characters: 26 three-byte characters and
	 * two spare bytes fit in 80, 27 do not. */
	{
		char name[3 * 27 + 1];

		for (i = 0; i < 27; i++)
			memcpy(name + 3 * i, "\xe9\x81\xbf", 3);
		name[3 * 27] = '\0';
		ENC(KZ_OP_CHANNEL_CREATE, u.channel_create.name = name,
		    KZ_ERR_TOO_BIG);
		name[3 * 26] = '\0';
		ENC(KZ_OP_CHANNEL_CREATE, u.channel_create.name = name, 0);
	}

	/* Empty required names; empty optional ones are fine. */
	ENC(KZ_OP_MESH_CREATE, u.mesh_create.name = "", KZ_ERR_INVAL);
	ENC(KZ_OP_MESH_CREATE, u.mesh_create.name = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_NODE_ADMIT, u.node_admit.name = "", KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_CREATE, u.channel_create.name = "", KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_CREATE, u.channel_create.name = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_CREATE, u.channel_create.topic = "", 0);
	ENC(KZ_OP_CHANNEL_SET, u.channel_set.name = "", KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_SET, u.channel_set.topic = "", 0);
	{
		struct kz_op o = valid_op(KZ_OP_CHANNEL_SET);

		o.u.channel_set.name = "";
		o.u.channel_set.set = KZ_CHANNEL_SET_TOPIC | KZ_CHANNEL_SET_ARCHIVED;
		assert_int_equal(enc_rc(&o), 0);
		o = valid_op(KZ_OP_USER_SET);
		o.u.user_set.display_name = "";
		assert_int_equal(enc_rc(&o), KZ_ERR_INVAL);
		o.u.user_set.set = KZ_USER_SET_DEPARTMENT;
		assert_int_equal(enc_rc(&o), 0);
	}
	ENC(KZ_OP_USER_SET, u.user_set.department = "", 0);
	ENC(KZ_OP_USER_SET, u.user_set.password_hash = "", 0);
	ENC(KZ_OP_REACT, u.react.emoji = "", KZ_ERR_INVAL);
	ENC(KZ_OP_REACT, u.react.emoji = NULL, KZ_ERR_INVAL);
	ENC(KZ_OP_POST, u.post.text = "", 0);
	ENC(KZ_OP_EDIT, u.edit.text = "", 0);
	ENC(KZ_OP_NODE_REVOKE, u.node_revoke.reason = "", 0);
	ENC(KZ_OP_SAFETY, u.safety.place = "", 0);

	/* Invalid UTF-8 in every text field. */
	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		const char *b = bad_utf8[i];

		ENC(KZ_OP_POST, u.post.text = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_EDIT, u.edit.text = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_MESH_CREATE, u.mesh_create.name = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_NODE_ADMIT, u.node_admit.name = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_NODE_REVOKE, u.node_revoke.reason = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_USER_SET, u.user_set.display_name = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_USER_SET, u.user_set.department = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_CHANNEL_CREATE, u.channel_create.name = b,
		    KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_CHANNEL_CREATE, u.channel_create.topic = b,
		    KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_CHANNEL_SET, u.channel_set.name = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_CHANNEL_SET, u.channel_set.topic = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_REACT, u.react.emoji = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_SAFETY, u.safety.place = b, KZ_ERR_BAD_UTF8);
		ENC(KZ_OP_SAFETY, u.safety.note = b, KZ_ERR_BAD_UTF8);
	}
	ENC(KZ_OP_USER_SET, u.user_set.password_hash = "$argon2id$\xff",
	    KZ_ERR_BAD_UTF8);

	/* Enums out of range. */
	ENC(KZ_OP_POST, u.post.priority = KZ_PRIO_EMERGENCY, 0);
	ENC(KZ_OP_POST, u.post.priority = (enum kz_priority)3, KZ_ERR_INVAL);
	ENC(KZ_OP_POST, u.post.priority = (enum kz_priority)-1, KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.role = KZ_ROLE_MEMBER, 0);
	ENC(KZ_OP_USER_SET, u.user_set.role = (enum kz_role)2, KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.role = (enum kz_role)-1, KZ_ERR_INVAL);
	ENC(KZ_OP_SAFETY, u.safety.status = KZ_SAFETY_UNKNOWN, 0);
	ENC(KZ_OP_SAFETY, u.safety.status = (enum kz_safety)4, KZ_ERR_INVAL);
	ENC(KZ_OP_SAFETY, u.safety.status = (enum kz_safety)-1, KZ_ERR_INVAL);

	/* Set masks: not 0, no unknown bits. */
	ENC(KZ_OP_USER_SET, u.user_set.set = 0, KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.set = KZ_USER_SET_ALL + 1, KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.set = KZ_USER_SET_ALL | 0x20u,
	    KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.set = 0x80000000u, KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_SET, u.channel_set.set = 0, KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_SET, u.channel_set.set = KZ_CHANNEL_SET_ALL + 1,
	    KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_SET, u.channel_set.set = 0x81u, KZ_ERR_INVAL);
	ENC(KZ_OP_CHANNEL_SET, u.channel_set.set = KZ_CHANNEL_SET_ARCHIVED, 0);

	/* Password hashes: Argon2id only. */
	ENC(KZ_OP_USER_SET, u.user_set.password_hash = "$argon2id$", 0);
	ENC(KZ_OP_USER_SET, u.user_set.password_hash =
	    "$argon2i$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.password_hash =
	    "$2b$10$abcdefghijklmnopqrstuv", KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.password_hash = "argon2id$x",
	    KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.password_hash = "$ARGON2ID$x",
	    KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.password_hash = "$argon2idX$x",
	    KZ_ERR_INVAL);
	ENC(KZ_OP_USER_SET, u.user_set.password_hash = "hunter2", KZ_ERR_INVAL);

	/* Revocation seqs stay in the seq range. */
	ENC(KZ_OP_NODE_REVOKE, u.node_revoke.last_seq = 0, 0);
	ENC(KZ_OP_NODE_REVOKE, u.node_revoke.last_seq = KZ_SEQ_MAX, 0);
	ENC(KZ_OP_NODE_REVOKE, u.node_revoke.last_seq = KZ_SEQ_MAX + 1,
	    KZ_ERR_INVAL);
	ENC(KZ_OP_NODE_REVOKE, u.node_revoke.last_seq = UINT64_MAX,
	    KZ_ERR_INVAL);
}

/* ------------------------------------------------- op decoding, crafted */

/* A valid protobuf-c Op of any type, for mutation before packing. */
struct ocraft {
	Kizuna__Op op;
	Kizuna__Post post;
	Kizuna__MeshCreate mesh_create;
	Kizuna__NodeAdmit node_admit;
	Kizuna__NodeRevoke node_revoke;
	Kizuna__UserSet user_set;
	Kizuna__ChannelCreate channel_create;
	Kizuna__ChannelSet channel_set;
	Kizuna__Edit edit;
	Kizuna__Delete del;
	Kizuna__Purge purge;
	Kizuna__React react;
	Kizuna__Ack ack;
	Kizuna__SafetyStatus safety;
	Kizuna__LinkReport link_report;
	Kizuna__LinkState links[KZ_LINKS_MAX + 1];
	Kizuna__LinkState *linkp[KZ_LINKS_MAX + 1];
	uint8_t link_ids[KZ_LINKS_MAX + 1][KZ_ID_BYTES];
	char *mentions[KZ_MENTIONS_MAX + 1];
	ProtobufCMessageUnknownField unknown;
	uint8_t unknown_data[1];
};

static ProtobufCBinaryData
pb_id(const uint8_t *p, size_t len)
{
	ProtobufCBinaryData b = { len, (uint8_t *)p };

	return b;
}

static void
craft_op(struct ocraft *c, enum kz_op_type t)
{
	Kizuna__Op op = KIZUNA__OP__INIT;
	size_t i;

	op_ids_init();
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->op.actor = ACTOR;
	kizuna__post__init(&c->post);
	kizuna__mesh_create__init(&c->mesh_create);
	kizuna__node_admit__init(&c->node_admit);
	kizuna__node_revoke__init(&c->node_revoke);
	kizuna__user_set__init(&c->user_set);
	kizuna__channel_create__init(&c->channel_create);
	kizuna__channel_set__init(&c->channel_set);
	kizuna__edit__init(&c->edit);
	kizuna__delete__init(&c->del);
	kizuna__purge__init(&c->purge);
	kizuna__react__init(&c->react);
	kizuna__ack__init(&c->ack);
	kizuna__safety_status__init(&c->safety);
	kizuna__link_report__init(&c->link_report);
	for (i = 0; i < KZ_MENTIONS_MAX + 1; i++)
		c->mentions[i] = "m";
	/* Links to distinct peers: the first byte of each id counts up. */
	for (i = 0; i < KZ_LINKS_MAX + 1; i++) {
		kizuna__link_state__init(&c->links[i]);
		c->link_ids[i][0] = (uint8_t)i;
		c->links[i].peer = pb_id(c->link_ids[i], KZ_ID_BYTES);
		c->links[i].transport = "tcp";
		c->links[i].up = i % 2 == 0;
		c->links[i].since_s = 1764000000 + i;
		c->links[i].lag_s = i;
		c->linkp[i] = &c->links[i];
	}
	c->link_report.n_links = 2;
	c->link_report.links = c->linkp;
	c->post.channel = pb_id(id_a, KZ_ID_BYTES);
	c->post.text = "hello";
	c->post.thread_root = pb_id(id_b, KZ_ID_BYTES);
	c->post.priority = KIZUNA__PRIORITY__PRIORITY_URGENT;
	c->post.n_mentions = 2;
	c->post.mentions = c->mentions;
	c->mesh_create.mesh_id = pb_id(id_a, KZ_ID_BYTES);
	c->mesh_create.name = "Kizuna City";
	c->node_admit.node = pb_id(id_a, KZ_ID_BYTES);
	c->node_admit.name = "branch";
	c->node_admit.admin = 1;
	c->node_revoke.node = pb_id(id_a, KZ_ID_BYTES);
	c->node_revoke.last_seq = 7;
	c->node_revoke.reason = "stolen";
	c->user_set.user = "sato";
	c->user_set.set = KZ_USER_SET_ALL;
	c->user_set.display_name = "Sato";
	c->user_set.department = "Fire";
	c->user_set.role = KIZUNA__ROLE__ROLE_ADMIN;
	c->user_set.password_hash = PW;
	c->user_set.active = 1;
	c->channel_create.name = "general";
	c->channel_create.topic = "all staff";
	c->channel_set.channel = pb_id(id_a, KZ_ID_BYTES);
	c->channel_set.set = KZ_CHANNEL_SET_ALL;
	c->channel_set.name = "ops";
	c->channel_set.topic = "water";
	c->channel_set.archived = 1;
	c->edit.target = pb_id(id_a, KZ_ID_BYTES);
	c->edit.text = "fixed";
	c->del.target = pb_id(id_a, KZ_ID_BYTES);
	c->purge.target = pb_id(id_a, KZ_ID_BYTES);
	c->react.target = pb_id(id_a, KZ_ID_BYTES);
	c->react.emoji = THUMBS;
	c->react.on = 1;
	c->ack.target = pb_id(id_a, KZ_ID_BYTES);
	c->safety.user = "sato";
	c->safety.status = KIZUNA__SAFETY__SAFETY_INJURED;
	c->safety.place = "gym";
	c->safety.note = "leg";
	/* An unknown varint field 99 = 1, attached on demand. */
	c->unknown.tag = 99;
	c->unknown.wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
	c->unknown.len = 1;
	c->unknown_data[0] = 1;
	c->unknown.data = c->unknown_data;

	switch (t) {
	case KZ_OP_POST:
		c->op.body_case = KIZUNA__OP__BODY_POST;
		c->op.post = &c->post;
		break;
	case KZ_OP_MESH_CREATE:
		c->op.body_case = KIZUNA__OP__BODY_MESH_CREATE;
		c->op.mesh_create = &c->mesh_create;
		break;
	case KZ_OP_NODE_ADMIT:
		c->op.body_case = KIZUNA__OP__BODY_NODE_ADMIT;
		c->op.node_admit = &c->node_admit;
		break;
	case KZ_OP_NODE_REVOKE:
		c->op.body_case = KIZUNA__OP__BODY_NODE_REVOKE;
		c->op.node_revoke = &c->node_revoke;
		break;
	case KZ_OP_USER_SET:
		c->op.body_case = KIZUNA__OP__BODY_USER_SET;
		c->op.user_set = &c->user_set;
		break;
	case KZ_OP_CHANNEL_CREATE:
		c->op.body_case = KIZUNA__OP__BODY_CHANNEL_CREATE;
		c->op.channel_create = &c->channel_create;
		break;
	case KZ_OP_CHANNEL_SET:
		c->op.body_case = KIZUNA__OP__BODY_CHANNEL_SET;
		c->op.channel_set = &c->channel_set;
		break;
	case KZ_OP_EDIT:
		c->op.body_case = KIZUNA__OP__BODY_EDIT;
		c->op.edit = &c->edit;
		break;
	case KZ_OP_DELETE:
		c->op.body_case = KIZUNA__OP__BODY_DELETE;
		c->op.delete_ = &c->del;
		break;
	case KZ_OP_PURGE:
		c->op.body_case = KIZUNA__OP__BODY_PURGE;
		c->op.purge = &c->purge;
		break;
	case KZ_OP_REACT:
		c->op.body_case = KIZUNA__OP__BODY_REACT;
		c->op.react = &c->react;
		break;
	case KZ_OP_ACK:
		c->op.body_case = KIZUNA__OP__BODY_ACK;
		c->op.ack = &c->ack;
		break;
	case KZ_OP_SAFETY:
		c->op.body_case = KIZUNA__OP__BODY_SAFETY;
		c->op.safety = &c->safety;
		break;
	case KZ_OP_LINK_REPORT:
		c->op.actor = "";
		c->op.body_case = KIZUNA__OP__BODY_LINK_REPORT;
		c->op.link_report = &c->link_report;
		break;
	default:
		fail();
	}
}

/* The body message of a crafted op. */
static ProtobufCMessage *
craft_body(struct ocraft *c)
{
	switch (c->op.body_case) {
	case KIZUNA__OP__BODY_POST:
		return &c->post.base;
	case KIZUNA__OP__BODY_MESH_CREATE:
		return &c->mesh_create.base;
	case KIZUNA__OP__BODY_NODE_ADMIT:
		return &c->node_admit.base;
	case KIZUNA__OP__BODY_NODE_REVOKE:
		return &c->node_revoke.base;
	case KIZUNA__OP__BODY_USER_SET:
		return &c->user_set.base;
	case KIZUNA__OP__BODY_CHANNEL_CREATE:
		return &c->channel_create.base;
	case KIZUNA__OP__BODY_CHANNEL_SET:
		return &c->channel_set.base;
	case KIZUNA__OP__BODY_EDIT:
		return &c->edit.base;
	case KIZUNA__OP__BODY_DELETE:
		return &c->del.base;
	case KIZUNA__OP__BODY_PURGE:
		return &c->purge.base;
	case KIZUNA__OP__BODY_REACT:
		return &c->react.base;
	case KIZUNA__OP__BODY_ACK:
		return &c->ack.base;
	case KIZUNA__OP__BODY_SAFETY:
		return &c->safety.base;
	case KIZUNA__OP__BODY_LINK_REPORT:
		return &c->link_report.base;
	default:
		fail();
		return NULL;
	}
}

/* Decodes len bytes; on failure *out must be left NULL. */
static int
dec_bytes(const uint8_t *buf, size_t len)
{
	struct kz_op *op = (struct kz_op *)1;
	int rc = kz_op_decode(&op, buf, len);

	if (rc == 0)
		assert_non_null(op);
	else
		assert_null(op);
	kz_op_free(op);
	return rc;
}

static int
dec_pb(const Kizuna__Op *pb)
{
	size_t len = kizuna__op__get_packed_size(pb);
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	assert_non_null(buf);
	assert_int_equal(kizuna__op__pack(pb, buf), len);
	rc = dec_bytes(buf, len);
	free(buf);
	return rc;
}

/* Crafts an op of type t, changes one field and decodes it, expecting rc. */
#define DEC(t, change, rc)                                                    \
	do {                                                                  \
		struct ocraft c_;                                             \
		craft_op(&c_, (t));                                           \
		c_.change;                                                    \
		assert_int_equal(dec_pb(&c_.op), (rc));                       \
	} while (0)

static void
test_op_decode_rejects_values(void **state)
{
	static const char *const bad_utf8[] = { "\xc0\xaf", "ok \xed\xa0\x80",
	    "\xe9\x81", "\xf4\x90\x80\x80", "\xff" };
	static const size_t id_lens[] = { 0, 1, KZ_ID_BYTES - 1, KZ_ID_BYTES,
	    KZ_ID_BYTES + 1 };
	char *s_ok, *s_big, *id64, *id65;
	size_t i;
	int t;

	(void)state;
	/* Every crafted op decodes as it stands. */
	for (t = KZ_OP_POST; t < KZ__OP_LAST; t++)
		DEC((enum kz_op_type)t, op.actor = ACTOR, ACTOR_RC(t, 0));

	/* Ids: exactly 32 bytes (a thread root may be absent). */
	for (i = 0; i < sizeof(id_lens) / sizeof(id_lens[0]); i++) {
		size_t n = id_lens[i];
		int want = n == KZ_ID_BYTES ? 0 : KZ_ERR_INVAL;

		DEC(KZ_OP_POST, post.channel.len = n, want);
		DEC(KZ_OP_POST, post.thread_root.len = n,
		    n == 0 ? 0 : want);
		DEC(KZ_OP_MESH_CREATE, mesh_create.mesh_id.len = n, want);
		DEC(KZ_OP_NODE_ADMIT, node_admit.node.len = n, want);
		DEC(KZ_OP_NODE_REVOKE, node_revoke.node.len = n, want);
		DEC(KZ_OP_CHANNEL_SET, channel_set.channel.len = n, want);
		DEC(KZ_OP_EDIT, edit.target.len = n, want);
		DEC(KZ_OP_DELETE, del.target.len = n, want);
		DEC(KZ_OP_PURGE, purge.target.len = n, want);
		DEC(KZ_OP_REACT, react.target.len = n, want);
		DEC(KZ_OP_ACK, ack.target.len = n, want);
	}

	/* User ids. */
	id64 = str_len(KZ_USER_ID_MAX, "u.");
	id65 = str_len(KZ_USER_ID_MAX + 1, "u.");
	for (t = KZ_OP_POST; t < KZ__OP_LAST; t++) {
		DEC((enum kz_op_type)t, op.actor = "", 0);
		DEC((enum kz_op_type)t, op.actor = id64, ACTOR_RC(t, 0));
		DEC((enum kz_op_type)t, op.actor = id65, KZ_ERR_INVAL);
		DEC((enum kz_op_type)t, op.actor = "tanaka h", KZ_ERR_INVAL);
		DEC((enum kz_op_type)t, op.actor = "\xc3\xa9", KZ_ERR_INVAL);
		DEC((enum kz_op_type)t, op.actor = "a/b", KZ_ERR_INVAL);
	}
	DEC(KZ_OP_USER_SET, user_set.user = id64, 0);
	DEC(KZ_OP_USER_SET, user_set.user = id65, KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.user = "", KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.user = "sa to", KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.user = "\xc3\xa9", KZ_ERR_INVAL);
	DEC(KZ_OP_SAFETY, safety.user = "", 0);
	DEC(KZ_OP_SAFETY, safety.user = id65, KZ_ERR_INVAL);
	DEC(KZ_OP_SAFETY, safety.user = "sa to", KZ_ERR_INVAL);
	DEC(KZ_OP_SAFETY, safety.user = "\xc3\xa9", KZ_ERR_INVAL);
	DEC(KZ_OP_POST, mentions[1] = "", KZ_ERR_INVAL);
	DEC(KZ_OP_POST, mentions[1] = "bo b", KZ_ERR_INVAL);
	DEC(KZ_OP_POST, mentions[1] = "\xc3\xa9", KZ_ERR_INVAL);
	DEC(KZ_OP_POST, mentions[1] = id65, KZ_ERR_INVAL);
	DEC(KZ_OP_POST, mentions[1] = id64, 0);
	free(id64);
	free(id65);

	/* Mentions: at most KZ_MENTIONS_MAX. */
	DEC(KZ_OP_POST, post.n_mentions = KZ_MENTIONS_MAX, 0);
	DEC(KZ_OP_POST, post.n_mentions = KZ_MENTIONS_MAX + 1, KZ_ERR_TOO_BIG);

	/* Size bounds. */
#define BOUND(t, field, limit, prefix)                                        \
	do {                                                                  \
		s_ok = str_len((limit), (prefix));                            \
		s_big = str_len((limit) + 1, (prefix));                       \
		DEC(t, field = s_ok, 0);                                      \
		DEC(t, field = s_big, KZ_ERR_TOO_BIG);                        \
		free(s_ok);                                                   \
		free(s_big);                                                  \
	} while (0)
	BOUND(KZ_OP_POST, post.text, KZ_TEXT_MAX, "");
	BOUND(KZ_OP_EDIT, edit.text, KZ_TEXT_MAX, "");
	BOUND(KZ_OP_MESH_CREATE, mesh_create.name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_NODE_ADMIT, node_admit.name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_NODE_REVOKE, node_revoke.reason, KZ_REASON_MAX, "");
	BOUND(KZ_OP_USER_SET, user_set.display_name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_USER_SET, user_set.department, KZ_NAME_MAX, "");
	BOUND(KZ_OP_USER_SET, user_set.password_hash, KZ_PWHASH_MAX,
	    "$argon2id$");
	BOUND(KZ_OP_CHANNEL_CREATE, channel_create.name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_CHANNEL_CREATE, channel_create.topic, KZ_TOPIC_MAX, "");
	BOUND(KZ_OP_CHANNEL_SET, channel_set.name, KZ_NAME_MAX, "");
	BOUND(KZ_OP_CHANNEL_SET, channel_set.topic, KZ_TOPIC_MAX, "");
	BOUND(KZ_OP_REACT, react.emoji, KZ_EMOJI_MAX, "");
	BOUND(KZ_OP_SAFETY, safety.place, KZ_PLACE_MAX, "");
	BOUND(KZ_OP_SAFETY, safety.note, KZ_NOTE_MAX, "");
#undef BOUND

	/* Empty required names. */
	DEC(KZ_OP_MESH_CREATE, mesh_create.name = "", KZ_ERR_INVAL);
	DEC(KZ_OP_NODE_ADMIT, node_admit.name = "", KZ_ERR_INVAL);
	DEC(KZ_OP_CHANNEL_CREATE, channel_create.name = "", KZ_ERR_INVAL);
	DEC(KZ_OP_CHANNEL_SET, channel_set.name = "", KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.display_name = "", KZ_ERR_INVAL);
	DEC(KZ_OP_REACT, react.emoji = "", KZ_ERR_INVAL);
	{
		struct ocraft c;

		craft_op(&c, KZ_OP_CHANNEL_SET);
		c.channel_set.set = KZ_CHANNEL_SET_TOPIC;
		c.channel_set.name = "";
		assert_int_equal(dec_pb(&c.op), 0);
		craft_op(&c, KZ_OP_USER_SET);
		c.user_set.set = KZ_USER_SET_ACTIVE;
		c.user_set.display_name = "";
		assert_int_equal(dec_pb(&c.op), 0);
	}
	DEC(KZ_OP_POST, post.text = "", 0);
	DEC(KZ_OP_CHANNEL_CREATE, channel_create.topic = "", 0);

	/* Invalid UTF-8 in every text field. */
	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		char *b = (char *)bad_utf8[i];

		DEC(KZ_OP_POST, post.text = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_EDIT, edit.text = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_MESH_CREATE, mesh_create.name = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_NODE_ADMIT, node_admit.name = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_NODE_REVOKE, node_revoke.reason = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_USER_SET, user_set.display_name = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_USER_SET, user_set.department = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_CHANNEL_CREATE, channel_create.name = b,
		    KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_CHANNEL_CREATE, channel_create.topic = b,
		    KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_CHANNEL_SET, channel_set.name = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_CHANNEL_SET, channel_set.topic = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_REACT, react.emoji = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_SAFETY, safety.place = b, KZ_ERR_BAD_UTF8);
		DEC(KZ_OP_SAFETY, safety.note = b, KZ_ERR_BAD_UTF8);
	}
	DEC(KZ_OP_USER_SET, user_set.password_hash = "$argon2id$\xff",
	    KZ_ERR_BAD_UTF8);

	/* Enums out of range. */
	DEC(KZ_OP_POST, post.priority = KIZUNA__PRIORITY__PRIORITY_EMERGENCY, 0);
	DEC(KZ_OP_POST, post.priority = (Kizuna__Priority)3, KZ_ERR_INVAL);
	DEC(KZ_OP_POST, post.priority = (Kizuna__Priority)-1, KZ_ERR_INVAL);
	DEC(KZ_OP_POST, post.priority = (Kizuna__Priority)1000, KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.role = (Kizuna__Role)2, KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.role = (Kizuna__Role)-1, KZ_ERR_INVAL);
	DEC(KZ_OP_SAFETY, safety.status = KIZUNA__SAFETY__SAFETY_UNKNOWN, 0);
	DEC(KZ_OP_SAFETY, safety.status = (Kizuna__Safety)4, KZ_ERR_INVAL);
	DEC(KZ_OP_SAFETY, safety.status = (Kizuna__Safety)-2, KZ_ERR_INVAL);

	/* Set masks. */
	DEC(KZ_OP_USER_SET, user_set.set = 0, KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.set = KZ_USER_SET_ALL + 1, KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.set = 0xffffffffu, KZ_ERR_INVAL);
	DEC(KZ_OP_CHANNEL_SET, channel_set.set = 0, KZ_ERR_INVAL);
	DEC(KZ_OP_CHANNEL_SET, channel_set.set = KZ_CHANNEL_SET_ALL + 1,
	    KZ_ERR_INVAL);
	DEC(KZ_OP_CHANNEL_SET, channel_set.set = 0x100u, KZ_ERR_INVAL);

	/* Password hashes. */
	DEC(KZ_OP_USER_SET, user_set.password_hash = "", 0);
	DEC(KZ_OP_USER_SET, user_set.password_hash =
	    "$argon2i$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.password_hash = "plain", KZ_ERR_INVAL);
	DEC(KZ_OP_USER_SET, user_set.password_hash = "$argon2id", KZ_ERR_INVAL);

	/* Revocation seqs. */
	DEC(KZ_OP_NODE_REVOKE, node_revoke.last_seq = KZ_SEQ_MAX, 0);
	DEC(KZ_OP_NODE_REVOKE, node_revoke.last_seq = KZ_SEQ_MAX + 1,
	    KZ_ERR_INVAL);
	DEC(KZ_OP_NODE_REVOKE, node_revoke.last_seq = UINT64_MAX, KZ_ERR_INVAL);
}

/* A tiny protobuf writer for hand-made, possibly non-canonical bytes. */
struct wbuf {
	uint8_t b[512];
	size_t n;
};

static void
w_raw(struct wbuf *w, const void *p, size_t len)
{
	assert_true(w->n + len <= sizeof(w->b));
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void
w_varint(struct wbuf *w, uint64_t v)
{
	uint8_t c;

	do {
		c = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			c |= 0x80;
		w_raw(w, &c, 1);
	} while (v != 0);
}

static void
w_uint(struct wbuf *w, unsigned field, uint64_t v)
{
	w_varint(w, (uint64_t)field << 3);
	w_varint(w, v);
}

static void
w_bytes(struct wbuf *w, unsigned field, const void *p, size_t len)
{
	w_varint(w, ((uint64_t)field << 3) | 2);
	w_varint(w, len);
	w_raw(w, p, len);
}

/* An Op of the given body field number around body bytes, actor first. */
static int
dec_wrapped(const char *actor, unsigned field, const struct wbuf *body)
{
	struct wbuf op = { .n = 0 };

	if (actor != NULL)
		w_bytes(&op, 1, actor, strlen(actor));
	w_bytes(&op, field, body->b, body->n);
	return dec_bytes(op.b, op.n);
}

static void
test_op_decode_rejects_strict(void **state)
{
	struct wbuf w, op;
	struct ocraft c;
	uint8_t *big;
	size_t i, len;
	int t;

	(void)state;
	op_ids_init();

	/* Control: a hand-made canonical post and channel create decode. */
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "h-i", 3);
	w_uint(&w, 4, 2);
	w_bytes(&w, 5, "m", 1);
	assert_int_equal(dec_wrapped("a-b", 16, &w), 0);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, "a-b", 3);
	assert_int_equal(dec_wrapped(NULL, 21, &w), 0);

	/* Embedded NUL bytes, in the actor and in body strings. */
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, "a-b", 3);
	memset(&op, 0, sizeof(op));
	w_bytes(&op, 1, "a\0b", 3);
	w_bytes(&op, 21, w.b, w.n);
	assert_int_equal(dec_bytes(op.b, op.n), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, "a\0b", 3);
	assert_int_equal(dec_wrapped(NULL, 21, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, "ab\0", 3);
	assert_int_equal(dec_wrapped(NULL, 21, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "h\0i", 3);
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 5, "m\0", 2);
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "\0", 1);
	assert_int_equal(dec_wrapped(NULL, 26, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, "u\0", 2);
	assert_int_equal(dec_wrapped(NULL, 20, &w), KZ_ERR_MALFORMED);

	/* Unknown fields inside every body ... */
	for (t = KZ_OP_POST; t < KZ__OP_LAST; t++) {
		ProtobufCMessage *body;

		craft_op(&c, (enum kz_op_type)t);
		body = craft_body(&c);
		body->n_unknown_fields = 1;
		body->unknown_fields = &c.unknown;
		assert_int_equal(dec_pb(&c.op), KZ_ERR_MALFORMED);
		/* ... and at the top level. */
		craft_op(&c, (enum kz_op_type)t);
		c.op.base.n_unknown_fields = 1;
		c.op.base.unknown_fields = &c.unknown;
		assert_int_equal(dec_pb(&c.op), KZ_ERR_MALFORMED);
		/* A field number a future op type might use (30), as a body. */
		craft_op(&c, (enum kz_op_type)t);
		c.unknown.tag = 30;
		c.unknown.wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
		c.unknown.len = 1;
		c.unknown_data[0] = 0;
		c.op.base.n_unknown_fields = 1;
		c.op.base.unknown_fields = &c.unknown;
		assert_int_equal(dec_pb(&c.op), KZ_ERR_MALFORMED);
	}
	/* An Op whose only field is unknown. */
	assert_int_equal(dec_bytes((const uint8_t *)"\x78\x01", 2),
	    KZ_ERR_MALFORMED);

	/* No body: empty bytes, an actor alone. */
	assert_int_equal(dec_bytes((const uint8_t *)"", 0), KZ_ERR_MALFORMED);
	craft_op(&c, KZ_OP_POST);
	c.op.body_case = KIZUNA__OP__BODY__NOT_SET;
	c.op.post = NULL;
	assert_int_equal(dec_pb(&c.op), KZ_ERR_MALFORMED);
	/* An empty post body: present, but its channel is missing. */
	assert_int_equal(dec_bytes((const uint8_t *)"\x82\x01\x00", 3),
	    KZ_ERR_INVAL);
	/* Garbage. */
	assert_int_equal(dec_bytes((const uint8_t *)"\xff\xff\xff", 3),
	    KZ_ERR_MALFORMED);

	/* Non-canonical spellings of a valid post. */
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_uint(&w, 4, 0);			/* default written out */
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "", 0);			/* empty string written out */
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_raw(&w, "\x20\x81\x00", 3);		/* priority 1 in two bytes */
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 2, "hi", 2);		/* text before channel */
	w_bytes(&w, 1, id_a, 32);
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "hi", 2);
	w_bytes(&w, 2, "ho", 2);		/* text twice */
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_raw(&w, "\x12\x82\x00hi", 5);		/* length 2 in two bytes */
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "ok", 2);
	assert_int_equal(dec_wrapped("a-b", 16, &w), 0);
	/* The actor after the body. */
	memset(&op, 0, sizeof(op));
	w_bytes(&op, 16, w.b, w.n);
	w_bytes(&op, 1, "a-b", 3);
	assert_int_equal(dec_bytes(op.b, op.n), KZ_ERR_MALFORMED);
	/* Two bodies (the oneof set twice). */
	memset(&op, 0, sizeof(op));
	w_bytes(&op, 16, w.b, w.n);
	w_bytes(&op, 24, w.b, 34);		/* a Delete: target only */
	assert_int_equal(dec_bytes(op.b, op.n), KZ_ERR_MALFORMED);
	/* The body's length prefix in two bytes. */
	assert_true(w.n < 128);
	memset(&op, 0, sizeof(op));
	w_raw(&op, "\x82\x01", 2);
	w_raw(&op, (const uint8_t[]){ (uint8_t)(w.n | 0x80), 0x00 }, 2);
	w_raw(&op, w.b, w.n);
	assert_int_equal(dec_bytes(op.b, op.n), KZ_ERR_MALFORMED);
	/* A bool spelled 2. */
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "n", 1);
	w_uint(&w, 3, 1);
	assert_int_equal(dec_wrapped(NULL, 18, &w), 0);
	w.b[w.n - 1] = 2;
	assert_int_equal(dec_wrapped(NULL, 18, &w), KZ_ERR_MALFORMED);
	/* A wire type that does not match the field. */
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_uint(&w, 2, 5);
	assert_int_equal(dec_wrapped(NULL, 16, &w), KZ_ERR_MALFORMED);

	/* Every crafted op with a bit flipped somewhere is refused or decodes
	 * to something that re-encodes to exactly those bytes. */
	for (t = KZ_OP_POST; t < KZ__OP_LAST; t++) {
		uint8_t *buf, *again;
		size_t len2;
		struct kz_op *dec;

		craft_op(&c, (enum kz_op_type)t);
		len = kizuna__op__get_packed_size(&c.op);
		buf = malloc(len);
		assert_non_null(buf);
		kizuna__op__pack(&c.op, buf);
		for (i = 0; i < len * 8; i++) {
			buf[i / 8] ^= (uint8_t)(1u << (i % 8));
			dec = NULL;
			if (kz_op_decode(&dec, buf, len) == 0) {
				assert_int_equal(kz_op_encode(&again, &len2, dec), 0);
				assert_int_equal(len2, len);
				assert_memory_equal(again, buf, len);
				free(again);
				kz_op_free(dec);
			} else {
				assert_null(dec);
			}
			buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		}
		free(buf);
	}

	/* Size bound, checked before unpacking. */
	big = calloc(1, KZ_OP_MAX + 1);
	assert_non_null(big);
	assert_int_equal(dec_bytes(big, KZ_OP_MAX + 1), KZ_ERR_TOO_BIG);
	assert_int_equal(dec_bytes(big, KZ_OP_MAX), KZ_ERR_MALFORMED);
	free(big);
	/* A well-formed op over the bound (many long mentions). */
	{
		size_t n = KZ_OP_MAX / 60 + 1;
		char **ms = calloc(n, sizeof(*ms));
		char *m = str_len(KZ_USER_ID_MAX - 4, "u");

		assert_non_null(ms);
		for (i = 0; i < n; i++)
			ms[i] = m;
		craft_op(&c, KZ_OP_POST);
		c.post.n_mentions = n;
		c.post.mentions = ms;
		assert_true(kizuna__op__get_packed_size(&c.op) > KZ_OP_MAX);
		assert_int_equal(dec_pb(&c.op), KZ_ERR_TOO_BIG);
		free(ms);
		free(m);
	}
}

/* kz_op_bytes_urgent's answer must be kz_op_is_urgent of the decoding. */
static void
assert_urgent_as_decoded(const uint8_t *buf, size_t len)
{
	struct kz_op *dec = NULL;
	bool want = false;

	if (kz_op_decode(&dec, buf, len) == 0) {
		want = kz_op_is_urgent(dec);
		kz_op_free(dec);
	}
	assert_int_equal(kz_op_bytes_urgent(buf, len), want);
}

/* A node's link report: exact round trip, bounds and rejections both ways. */
static void
test_op_link_report(void **state)
{
	struct kz_report_link many[KZ_LINKS_MAX + 1];
	uint8_t ids[KZ_LINKS_MAX + 1][KZ_ID_BYTES];
	struct kz_op in = valid_op(KZ_OP_LINK_REPORT), *op;
	struct ocraft c;
	uint8_t *buf = NULL;
	size_t i, len = 0;

	(void)state;
	op = op_roundtrip(&in);
	assert_int_equal(op->type, KZ_OP_LINK_REPORT);
	assert_string_equal(op->actor, "");
	assert_int_equal(op->u.link_report.n_links, 2);
	assert_memory_equal(op->u.link_report.links[0].peer, id_a, KZ_ID_BYTES);
	assert_string_equal(op->u.link_report.links[0].transport, "tcp");
	assert_true(op->u.link_report.links[0].up);
	assert_true(op->u.link_report.links[0].since_s == 1764000000);
	assert_true(op->u.link_report.links[0].lag_s == 3);
	assert_memory_equal(op->u.link_report.links[1].peer, id_b, KZ_ID_BYTES);
	assert_string_equal(op->u.link_report.links[1].transport, "radio");
	assert_false(op->u.link_report.links[1].up);
	assert_true(op->u.link_report.links[1].since_s == 1764000100);
	assert_true(op->u.link_report.links[1].lag_s == 0);
	/* Not urgent: it travels in its feed's order, on the wire fast path too. */
	assert_false(kz_op_is_urgent(op));
	assert_null(kz_op_target(op));
	kz_op_free(op);
	assert_int_equal(kz_op_encode(&buf, &len, &in), 0);
	assert_false(kz_op_bytes_urgent(buf, len));
	/*
	 * Small: an up link is 51 bytes (a key, "tcp", up, since, lag), a
	 * down one without lag 49, and the op's framing 3 (docs/api.md).
	 */
	assert_int_equal(len, 103);
	free(buf);

	/* No links: a node that has none says so. */
	in.u.link_report = (struct kz_link_report){ 0, NULL };
	op = op_roundtrip(&in);
	assert_int_equal(op->u.link_report.n_links, 0);
	kz_op_free(op);

	/* KZ_LINKS_MAX links, then one more. */
	for (i = 0; i < KZ_LINKS_MAX + 1; i++) {
		memset(ids[i], 0x11, KZ_ID_BYTES);
		ids[i][0] = (uint8_t)i;
		many[i] = (struct kz_report_link){ ids[i], "tcp", true, i, 0 };
	}
	in.u.link_report = (struct kz_link_report){ KZ_LINKS_MAX, many };
	op = op_roundtrip(&in);
	assert_int_equal(op->u.link_report.n_links, KZ_LINKS_MAX);
	assert_memory_equal(op->u.link_report.links[KZ_LINKS_MAX - 1].peer,
	    ids[KZ_LINKS_MAX - 1], KZ_ID_BYTES);
	kz_op_free(op);
	ENC(KZ_OP_LINK_REPORT, u.link_report.n_links = KZ_LINKS_MAX + 1,
	    KZ_ERR_TOO_BIG);
	{
		struct kz_op o = valid_op(KZ_OP_LINK_REPORT);

		o.u.link_report = (struct kz_link_report){ KZ_LINKS_MAX + 1, many };
		assert_int_equal(enc_rc(&o), KZ_ERR_TOO_BIG);
		/* The same peer on one transport twice. */
		many[1].peer = ids[0];
		o.u.link_report.n_links = 2;
		assert_int_equal(enc_rc(&o), KZ_ERR_INVAL);
		/* ... on two transports: two links. */
		many[1].transport = "radio";
		assert_int_equal(enc_rc(&o), 0);
		many[1].peer = ids[1];
		many[1].transport = "tcp";
		/* Missing pieces. */
		o.u.link_report.links = NULL;
		assert_int_equal(enc_rc(&o), KZ_ERR_INVAL);
	}
	ENC(KZ_OP_LINK_REPORT, actor = "sato", KZ_ERR_INVAL);
	ENC(KZ_OP_LINK_REPORT, actor = "", 0);
	{
		static const char *const bad_transport[] = { "", "udp", "TCP",
		    "tcp ", "radio\n", "bundles" };
		static const char *const good_transport[] = { "tcp", "radio",
		    "stdio", "bundle" };
		struct kz_report_link one = { id_a, "tcp", true, 0, 0 };
		struct kz_op o = valid_op(KZ_OP_LINK_REPORT);

		o.u.link_report = (struct kz_link_report){ 1, &one };
		for (i = 0; i < sizeof(bad_transport) / sizeof(bad_transport[0]); i++) {
			one.transport = bad_transport[i];
			assert_int_equal(enc_rc(&o), KZ_ERR_INVAL);
		}
		one.transport = NULL;
		assert_int_equal(enc_rc(&o), KZ_ERR_INVAL);
		for (i = 0; i < sizeof(good_transport) / sizeof(good_transport[0]); i++) {
			one.transport = good_transport[i];
			assert_int_equal(enc_rc(&o), 0);
		}
		one.peer = NULL;
		assert_int_equal(enc_rc(&o), KZ_ERR_INVAL);
		one.peer = id_a;
		one.since_s = (UINT64_C(1) << 40) - 1;
		one.lag_s = (UINT64_C(1) << 40) - 1;
		assert_int_equal(enc_rc(&o), 0);
		one.since_s = UINT64_C(1) << 40;
		assert_int_equal(enc_rc(&o), KZ_ERR_INVAL);
		one.since_s = 0;
		one.lag_s = UINT64_MAX;
		assert_int_equal(enc_rc(&o), KZ_ERR_INVAL);
	}

	/* Decoding applies the same rules to bytes from elsewhere. */
	DEC(KZ_OP_LINK_REPORT, link_report.n_links = KZ_LINKS_MAX, 0);
	DEC(KZ_OP_LINK_REPORT, link_report.n_links = KZ_LINKS_MAX + 1,
	    KZ_ERR_TOO_BIG);
	DEC(KZ_OP_LINK_REPORT, link_report.n_links = 0, 0);
	DEC(KZ_OP_LINK_REPORT, links[1].peer.len = KZ_ID_BYTES - 1, KZ_ERR_INVAL);
	DEC(KZ_OP_LINK_REPORT, links[1].peer.len = 0, KZ_ERR_INVAL);
	DEC(KZ_OP_LINK_REPORT, links[0].transport = "udp", KZ_ERR_INVAL);
	DEC(KZ_OP_LINK_REPORT, links[0].transport = "", KZ_ERR_INVAL);
	DEC(KZ_OP_LINK_REPORT, links[1].since_s = UINT64_C(1) << 40, KZ_ERR_INVAL);
	DEC(KZ_OP_LINK_REPORT, links[1].lag_s = UINT64_C(1) << 40, KZ_ERR_INVAL);
	DEC(KZ_OP_LINK_REPORT, links[1].peer = c_.links[0].peer, KZ_ERR_INVAL);
	DEC(KZ_OP_LINK_REPORT, op.actor = "sato", KZ_ERR_INVAL);
	/* An unknown field inside one link. */
	craft_op(&c, KZ_OP_LINK_REPORT);
	c.links[1].base.n_unknown_fields = 1;
	c.links[1].base.unknown_fields = &c.unknown;
	assert_int_equal(dec_pb(&c.op), KZ_ERR_MALFORMED);
}

/*
 * kz_op_bytes_urgent answers "not urgent" from a look at the wire format
 * and decodes otherwise: for every kind of op, every priority of a post,
 * every bit flipped and every prefix of them, and ops with two bodies or a
 * post twice, it says what decoding says.
 */
static void
test_op_bytes_urgent(void **state)
{
	struct ocraft c;
	struct wbuf w, op;
	size_t i, len;
	int t, prio;

	(void)state;
	for (t = KZ_OP_POST; t < KZ__OP_LAST; t++) {
		for (prio = 0; prio < (t == KZ_OP_POST ? 4 : 1); prio++) {
			uint8_t *buf;

			craft_op(&c, (enum kz_op_type)t);
			if (t == KZ_OP_POST)
				c.post.priority = (Kizuna__Priority)prio;
			len = kizuna__op__get_packed_size(&c.op);
			buf = malloc(len);
			assert_non_null(buf);
			kizuna__op__pack(&c.op, buf);
			assert_urgent_as_decoded(buf, len);
			if (t == KZ_OP_POST)
				assert_int_equal(kz_op_bytes_urgent(buf, len),
				    prio == 1 || prio == 2);
			for (i = 0; i < len * 8; i++) {
				buf[i / 8] ^= (uint8_t)(1u << (i % 8));
				assert_urgent_as_decoded(buf, len);
				buf[i / 8] ^= (uint8_t)(1u << (i % 8));
			}
			for (i = 0; i < len; i++)
				assert_urgent_as_decoded(buf, i);
			free(buf);
		}
	}
	assert_false(kz_op_bytes_urgent(NULL, 0));

	/* A post given twice, the second urgent: protobuf merges them. */
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "h-i", 3);
	memset(&op, 0, sizeof(op));
	w_bytes(&op, 16, w.b, w.n);
	memset(&w, 0, sizeof(w));
	w_uint(&w, 4, 1);
	w_bytes(&op, 16, w.b, w.n);
	assert_urgent_as_decoded(op.b, op.n);
	/* A post and an acknowledgement in one op. */
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "h-i", 3);
	memset(&op, 0, sizeof(op));
	w_bytes(&op, 16, w.b, w.n);
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&op, 27, w.b, w.n);
	assert_urgent_as_decoded(op.b, op.n);
	/* Priority written twice: the last one counts. */
	memset(&w, 0, sizeof(w));
	w_bytes(&w, 1, id_a, 32);
	w_bytes(&w, 2, "h-i", 3);
	w_uint(&w, 4, 2);
	w_uint(&w, 4, 0);
	memset(&op, 0, sizeof(op));
	w_bytes(&op, 16, w.b, w.n);
	assert_urgent_as_decoded(op.b, op.n);
}

static void
test_op_names(void **state)
{
	static const char *const prio[] = { "normal", "urgent", "emergency" };
	static const char *const safety[] = { "unknown", "safe", "needs-help",
	    "injured" };
	static const char *const role[] = { "member", "admin" };
	static const char *const types[] = { "?", "post", "mesh_create",
	    "node_admit", "node_revoke", "user_set", "channel_create",
	    "channel_set", "edit", "delete", "purge", "react", "ack", "safety",
	    "link_report" };
	enum kz_priority p = KZ_PRIO_NORMAL;
	enum kz_safety s = KZ_SAFETY_UNKNOWN;
	enum kz_role r = KZ_ROLE_MEMBER;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_string_equal(kz_priority_name((enum kz_priority)i), prio[i]);
		p = (enum kz_priority)-1;
		assert_int_equal(kz_priority_parse(&p, prio[i]), 0);
		assert_int_equal(p, i);
	}
	assert_string_equal(kz_priority_name((enum kz_priority)3), "?");
	assert_string_equal(kz_priority_name((enum kz_priority)-1), "?");
	p = KZ_PRIO_URGENT;
	assert_int_equal(kz_priority_parse(&p, "URGENT"), KZ_ERR_INVAL);
	assert_int_equal(kz_priority_parse(&p, ""), KZ_ERR_INVAL);
	assert_int_equal(kz_priority_parse(&p, "urgent "), KZ_ERR_INVAL);
	assert_int_equal(kz_priority_parse(&p, "critical"), KZ_ERR_INVAL);
	assert_int_equal(kz_priority_parse(&p, "?"), KZ_ERR_INVAL);
	assert_int_equal(p, KZ_PRIO_URGENT);	/* untouched on failure */

	for (i = 0; i < 4; i++) {
		assert_string_equal(kz_safety_name((enum kz_safety)i), safety[i]);
		s = (enum kz_safety)-1;
		assert_int_equal(kz_safety_parse(&s, safety[i]), 0);
		assert_int_equal(s, i);
	}
	assert_string_equal(kz_safety_name((enum kz_safety)4), "?");
	s = KZ_SAFETY_SAFE;
	assert_int_equal(kz_safety_parse(&s, "needs_help"), KZ_ERR_INVAL);
	assert_int_equal(kz_safety_parse(&s, "Safe"), KZ_ERR_INVAL);
	assert_int_equal(kz_safety_parse(&s, ""), KZ_ERR_INVAL);
	assert_int_equal(s, KZ_SAFETY_SAFE);

	for (i = 0; i < 2; i++) {
		assert_string_equal(kz_role_name((enum kz_role)i), role[i]);
		r = (enum kz_role)-1;
		assert_int_equal(kz_role_parse(&r, role[i]), 0);
		assert_int_equal(r, i);
	}
	assert_string_equal(kz_role_name((enum kz_role)2), "?");
	r = KZ_ROLE_ADMIN;
	assert_int_equal(kz_role_parse(&r, "root"), KZ_ERR_INVAL);
	assert_int_equal(kz_role_parse(&r, "member\n"), KZ_ERR_INVAL);
	assert_int_equal(r, KZ_ROLE_ADMIN);

	assert_int_equal(KZ__OP_LAST, 15);
	for (i = 0; i < KZ__OP_LAST; i++)
		assert_string_equal(kz_op_type_name((enum kz_op_type)i), types[i]);
	assert_string_equal(kz_op_type_name(KZ__OP_LAST), "?");
	assert_string_equal(kz_op_type_name((enum kz_op_type)-1), "?");
	assert_string_equal(kz_op_type_name((enum kz_op_type)1000), "?");
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
	assert_int_equal(KZ_ERR_BEHIND - KZ_ERR_NOMEM + 1, 23);
	for (e = KZ_ERR_NOMEM; e <= KZ_ERR_BEHIND; e++) {
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
	assert_string_equal(kz_errname(KZ_ERR_NOT_URGENT), "NOT_URGENT");
	assert_string_equal(kz_strerror(KZ_ERR_NOMEM - 1), "unknown error");
	assert_string_equal(kz_strerror(KZ_ERR_BEHIND + 1), "unknown error");
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
		cmocka_unit_test(test_op_roundtrip_post),
		cmocka_unit_test(test_op_roundtrip_control),
		cmocka_unit_test(test_op_roundtrip_content),
		cmocka_unit_test(test_op_target),
		cmocka_unit_test(test_op_release),
		cmocka_unit_test(test_user_id_valid),
		cmocka_unit_test(test_op_encode_rejects),
		cmocka_unit_test(test_op_decode_rejects_values),
		cmocka_unit_test(test_op_decode_rejects_strict),
		cmocka_unit_test(test_op_link_report),
		cmocka_unit_test(test_op_bytes_urgent),
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_long_value),
		cmocka_unit_test(test_errors),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
