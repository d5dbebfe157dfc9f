/*
 * Beacon codec tests: a known beacon encodes to the exact bytes of the
 * layout in kizuna/beacon.h (the mesh tag checked against BLAKE2b computed
 * elsewhere), round-trips, and every length other than 56, another magic,
 * another version, a reserved byte other than 0 and port 0 are refused with
 * their own code and a zeroed result; every single-byte change of a beacon
 * is either refused or decodes to a different beacon.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "kizuna/beacon.h"
#include "kizuna/err.h"
#include "kizuna/util.h"
#include "testutil.h"

/* mesh id 00 01 .. 1f; node key 80 81 .. 9f; port 7420 (0x1cfc). */
static void
sample(struct kz_beacon *b, uint8_t mesh_id[32])
{
	size_t i;

	memset(b, 0, sizeof(*b));
	for (i = 0; i < 32; i++) {
		mesh_id[i] = (uint8_t)i;
		b->node[i] = (uint8_t)(0x80 + i);
	}
	kz_beacon_mesh_tag(b->mesh_tag, mesh_id);
	b->port = 7420;
}

static bool
all_zero(const void *p, size_t len)
{
	const uint8_t *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i] != 0)
			return false;
	return true;
}

static void
test_known_bytes(void **state)
{
	/* python3: hashlib.blake2b(bytes(range(32)), digest_size=16,
	 * key=b"kizuna-beacon-v1").hexdigest() */
	static const char want[] =
	    "4b5a4231" "01" "00" "1cfc"
	    "457aa21e876000a24d140e6f859f259d"
	    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
	struct kz_beacon b, got;
	uint8_t mesh_id[32], buf[KZ_BEACON_BYTES];
	char hex[2 * KZ_BEACON_BYTES + 1];

	sample(&b, mesh_id);
	assert_int_equal(kz_beacon_encode(buf, &b), 0);
	kz_hex(hex, buf, sizeof(buf));
	assert_string_equal(hex, want);
	assert_int_equal(kz_beacon_decode(&got, buf, sizeof(buf)), 0);
	assert_memory_equal(got.mesh_tag, b.mesh_tag, KZ_BEACON_TAG_BYTES);
	assert_memory_equal(got.node, b.node, 32);
	assert_int_equal(got.port, 7420);

	/* Highest port; port 0 is not encoded. */
	b.port = 65535;
	assert_int_equal(kz_beacon_encode(buf, &b), 0);
	assert_int_equal(kz_beacon_decode(&got, buf, sizeof(buf)), 0);
	assert_int_equal(got.port, 65535);
	b.port = 0;
	assert_int_equal(kz_beacon_encode(buf, &b), KZ_ERR_INVAL);
}

/* Whether the n bytes at needle occur anywhere in hay (len bytes). */
static bool
contains(const uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
	size_t i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

static void
test_mesh_tag(void **state)
{
	uint8_t id[32], tag[KZ_BEACON_TAG_BYTES], tag2[KZ_BEACON_TAG_BYTES];
	uint8_t plain[32];

	randombytes_buf(id, sizeof(id));
	kz_beacon_mesh_tag(tag, id);
	kz_beacon_mesh_tag(tag2, id);
	assert_memory_equal(tag, tag2, sizeof(tag));
	/* Not a piece of the mesh id, nor of its plain hash. */
	assert_false(contains(id, sizeof(id), tag, 4));
	kz_hash(plain, id, sizeof(id));
	assert_memory_not_equal(plain, tag, sizeof(tag));
	id[31] ^= 1;
	kz_beacon_mesh_tag(tag2, id);
	assert_memory_not_equal(tag, tag2, sizeof(tag));
}

static void
test_lengths(void **state)
{
	struct kz_beacon b, got;
	uint8_t mesh_id[32], buf[KZ_BEACON_BYTES + 16];
	size_t len;

	sample(&b, mesh_id);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(kz_beacon_encode(buf, &b), 0);
	for (len = 0; len < KZ_BEACON_BYTES; len++) {
		memset(&got, 0xa5, sizeof(got));
		assert_int_equal(kz_beacon_decode(&got, buf, len), KZ_ERR_TRUNCATED);
		assert_true(all_zero(&got, sizeof(got)));
	}
	for (len = KZ_BEACON_BYTES + 1; len <= sizeof(buf); len++) {
		memset(&got, 0xa5, sizeof(got));
		assert_int_equal(kz_beacon_decode(&got, buf, len), KZ_ERR_MALFORMED);
		assert_true(all_zero(&got, sizeof(got)));
	}
}

static void
test_fields(void **state)
{
	struct kz_beacon b, got;
	uint8_t mesh_id[32], buf[KZ_BEACON_BYTES], bad[KZ_BEACON_BYTES];
	size_t i;

	sample(&b, mesh_id);
	assert_int_equal(kz_beacon_encode(buf, &b), 0);

	memcpy(bad, buf, sizeof(bad));
	memcpy(bad, "KZE1", 4);
	assert_int_equal(kz_beacon_decode(&got, bad, sizeof(bad)),
	    KZ_ERR_MALFORMED);
	memcpy(bad, buf, sizeof(bad));
	bad[4] = 2;
	assert_int_equal(kz_beacon_decode(&got, bad, sizeof(bad)), KZ_ERR_SCHEMA);
	bad[4] = 0;
	assert_int_equal(kz_beacon_decode(&got, bad, sizeof(bad)), KZ_ERR_SCHEMA);
	memcpy(bad, buf, sizeof(bad));
	bad[5] = 1;
	assert_int_equal(kz_beacon_decode(&got, bad, sizeof(bad)),
	    KZ_ERR_MALFORMED);
	memcpy(bad, buf, sizeof(bad));
	bad[6] = bad[7] = 0;
	assert_int_equal(kz_beacon_decode(&got, bad, sizeof(bad)),
	    KZ_ERR_MALFORMED);
	assert_true(all_zero(&got, sizeof(got)));

	/* Every single-byte change is refused or decodes differently. */
	for (i = 0; i < sizeof(buf); i++) {
		unsigned v;

		for (v = 0; v < 256; v++) {
			if (v == buf[i])
				continue;
			memcpy(bad, buf, sizeof(bad));
			bad[i] = (uint8_t)v;
			if (kz_beacon_decode(&got, bad, sizeof(bad)) != 0)
				continue;
			assert_true(got.port != b.port ||
			    memcmp(got.mesh_tag, b.mesh_tag, sizeof(b.mesh_tag)) != 0 ||
			    memcmp(got.node, b.node, 32) != 0);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_bytes),
		cmocka_unit_test(test_mesh_tag),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_fields),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
