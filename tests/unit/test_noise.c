/*
 * Unit tests of the Noise module (kizuna/noise.h).
 *
 * Known answers: every vector of the published Noise files for
 * 25519/ChaChaPoly/BLAKE2b (shared/vectors/noise/noise-25519-chachapoly-
 * blake2b.json: 110 vectors, 72 patterns, replayed byte for byte on both
 * sides) and the derived HMAC-BLAKE2b/HKDF/ChaChaPoly/REKEY values of
 * derived-kats.json.  The folder comes from $KZ_NOISE_VECTORS (set by ctest)
 * or the path compiled in; a missing file fails the test, it never skips.
 *
 * Failure cases the vectors lack: small-order public keys, a wrong PSK in
 * the link pattern XXpsk0+psk3 (refused at message 1, before any DH),
 * truncated, extended and altered handshake messages, a wrong prologue,
 * altered, replayed and reordered transport messages, nonce exhaustion, the
 * 65535-byte bound, rekey, one-way ciphers, and API misuse.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/noise.h"
#include "sync/noise_int.h"
#include "testutil.h"

#ifndef KZ_NOISE_VECTORS_DEFAULT
#define KZ_NOISE_VECTORS_DEFAULT "../shared/vectors/noise"
#endif

#define LINK_PROTO "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b"
#define SUITE "_25519_ChaChaPoly_BLAKE2b"

/* ------------------------------------------------------------ helpers */

static json_t *
load_json(const char *file)
{
	const char *dir = getenv("KZ_NOISE_VECTORS");
	char path[1024];
	json_error_t jerr;
	json_t *root;

	if (dir == NULL || *dir == '\0')
		dir = KZ_NOISE_VECTORS_DEFAULT;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	root = json_load_file(path, 0, &jerr);
	if (root == NULL)
		fail_msg("Noise vectors missing or unreadable: %s (%s, line %d). "
		    "They live in shared/vectors/noise beside the clone; set "
		    "KZ_NOISE_VECTORS to that folder.", path, jerr.text,
		    jerr.line);
	return root;
}

/* Decodes the hex string obj[key] into buf; returns its length. */
static size_t
hex_field(json_t *obj, const char *key, uint8_t *buf, size_t cap)
{
	const char *hex = json_string_value(json_object_get(obj, key));
	size_t len = 0;

	if (hex == NULL)
		fail_msg("field %s is missing or not a string", key);
	if (sodium_hex2bin(buf, cap, hex, strlen(hex), NULL, &len, NULL) != 0 ||
	    len * 2 != strlen(hex))
		fail_msg("field %s is not hex of at most %zu bytes", key, cap);
	return len;
}

static size_t
hex_str(const char *hex, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	if (hex == NULL ||
	    sodium_hex2bin(buf, cap, hex, strlen(hex), NULL, &len, NULL) != 0 ||
	    len * 2 != strlen(hex))
		fail_msg("bad hex value");
	return len;
}

/* Fills p with base, base+1, base+2 ... */
static void
fill(uint8_t *p, size_t n, uint8_t base)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(base + i);
}

/* ------------------------------------------------- published vectors */

struct vec_counts {
	size_t vectors, handshake_msgs, transport_msgs, hashes, names;
};

#define VCHECK(cond, ...)                                                     \
	do {                                                                  \
		if (!(cond)) {                                                \
			print_error("%s: ", where);                           \
			fail_msg(__VA_ARGS__);                                \
		}                                                             \
	} while (0)

struct vec_side {
	uint8_t prologue[256], s[32], s_pub[32], rs[32], e[32];
	uint8_t psk[KZ_NOISE_MAX_PSKS][32];
	const uint8_t *psk_ptr[KZ_NOISE_MAX_PSKS];
	size_t prologue_len, n_psks;
	int has_s, has_rs, has_e;
	struct kz_noise_handshake *hs;
	struct kz_noise_cipher tx, rx;
};

static void
vec_side_load(struct vec_side *sd, json_t *v, const char *pfx,
    const char *where)
{
	char key[64];
	json_t *arr;
	size_t i;

	memset(sd, 0, sizeof(*sd));
	snprintf(key, sizeof(key), "%sprologue", pfx);
	sd->prologue_len = hex_field(v, key, sd->prologue, sizeof(sd->prologue));
	snprintf(key, sizeof(key), "%sstatic", pfx);
	if (json_object_get(v, key) != NULL) {
		VCHECK(hex_field(v, key, sd->s, 32) == 32, "%s length", key);
		sd->has_s = 1;
		assert_int_equal(kz_noise_public_key(sd->s_pub, sd->s), 0);
	}
	snprintf(key, sizeof(key), "%sremote_static", pfx);
	if (json_object_get(v, key) != NULL) {
		VCHECK(hex_field(v, key, sd->rs, 32) == 32, "%s length", key);
		sd->has_rs = 1;
	}
	snprintf(key, sizeof(key), "%sephemeral", pfx);
	if (json_object_get(v, key) != NULL) {
		VCHECK(hex_field(v, key, sd->e, 32) == 32, "%s length", key);
		sd->has_e = 1;
	}
	snprintf(key, sizeof(key), "%spsks", pfx);
	arr = json_object_get(v, key);
	if (arr != NULL) {
		VCHECK(json_is_array(arr) &&
		    json_array_size(arr) <= KZ_NOISE_MAX_PSKS, "%s", key);
		sd->n_psks = json_array_size(arr);
		for (i = 0; i < sd->n_psks; i++) {
			VCHECK(hex_str(json_string_value(json_array_get(arr, i)),
			    sd->psk[i], 32) == 32, "psk length");
			sd->psk_ptr[i] = sd->psk[i];
		}
	}
}

static void
run_vector(json_t *v, size_t idx, struct vec_counts *cnt)
{
	static uint8_t payload[1024], ct[1024], out[1024], pt[1024];
	const char *name = json_string_value(json_object_get(v, "protocol_name"));
	const char *source = json_string_value(json_object_get(v, "source"));
	json_int_t sidx = json_integer_value(json_object_get(v, "source_index"));
	struct vec_side sd[2];
	char where[200];
	json_t *msgs;
	size_t i, plen, clen, outlen, ptlen;
	int split = 0, one_way = 0, w, rc;

	snprintf(where, sizeof(where), "vector %zu (%s #%lld, %s)", idx,
	    source ? source : "?", (long long)sidx, name ? name : "?");
	VCHECK(name != NULL, "no protocol_name");
	vec_side_load(&sd[0], v, "init_", where);
	vec_side_load(&sd[1], v, "resp_", where);

	for (w = 0; w < 2; w++) {
		rc = kz_noise_new(&sd[w].hs, name, w == 0, sd[w].prologue,
		    sd[w].prologue_len, sd[w].has_s ? sd[w].s : NULL,
		    sd[w].has_rs ? sd[w].rs : NULL, sd[w].psk_ptr, sd[w].n_psks,
		    sd[w].has_e ? sd[w].e : NULL);
		VCHECK(rc == 0, "kz_noise_new(%s) = %s", w ? "responder" :
		    "initiator", kz_errname(rc));
	}

	msgs = json_object_get(v, "messages");
	VCHECK(json_is_array(msgs) && json_array_size(msgs) > 0, "messages");
	for (i = 0; i < json_array_size(msgs); i++) {
		json_t *m = json_array_get(msgs, i);
		struct vec_side *tx, *rx;

		plen = hex_field(m, "payload", payload, sizeof(payload));
		clen = hex_field(m, "ciphertext", ct, sizeof(ct));
		if (!split) {
			/* Handshake message i: the initiator writes the even ones. */
			w = (int)(i % 2);
			tx = &sd[w];
			rx = &sd[1 - w];
			VCHECK(kz_noise_action(tx->hs) == KZ_NOISE_WRITE &&
			    kz_noise_action(rx->hs) == KZ_NOISE_READ,
			    "message %zu: wrong turn", i);
			rc = kz_noise_write_message(tx->hs, payload, plen, out,
			    sizeof(out), &outlen);
			VCHECK(rc == 0, "message %zu: write = %s", i,
			    kz_errname(rc));
			VCHECK(outlen == clen && memcmp(out, ct, clen) == 0,
			    "message %zu: ciphertext differs (%zu vs %zu bytes)",
			    i, outlen, clen);
			rc = kz_noise_read_message(rx->hs, out, outlen, pt,
			    sizeof(pt), &ptlen);
			VCHECK(rc == 0, "message %zu: read = %s", i,
			    kz_errname(rc));
			VCHECK(ptlen == plen && memcmp(pt, payload, plen) == 0,
			    "message %zu: payload differs", i);
			cnt->handshake_msgs++;
			VCHECK(kz_noise_done(sd[0].hs) == kz_noise_done(sd[1].hs),
			    "message %zu: only one side is done", i);
			if (kz_noise_done(sd[0].hs)) {
				const uint8_t *hi = kz_noise_handshake_hash(sd[0].hs);
				const uint8_t *hr = kz_noise_handshake_hash(sd[1].hs);
				uint8_t want[64];

				VCHECK(hi != NULL && hr != NULL &&
				    memcmp(hi, hr, 64) == 0, "h differs");
				if (json_object_get(v, "handshake_hash") != NULL) {
					VCHECK(hex_field(v, "handshake_hash", want,
					    64) == 64 && memcmp(hi, want, 64) == 0,
					    "handshake_hash differs");
					cnt->hashes++;
				}
				VCHECK(kz_noise_split(sd[0].hs, &sd[0].tx,
				    &sd[0].rx) == 0, "split initiator");
				VCHECK(kz_noise_split(sd[1].hs, &sd[1].tx,
				    &sd[1].rx) == 0, "split responder");
				one_way = !sd[0].rx.has_key;
				VCHECK(one_way == !sd[1].tx.has_key,
				    "one-way ciphers disagree");
				split = 1;
			}
		} else {
			/* Transport: one-way always initiator->responder. */
			w = one_way ? 0 : (int)(i % 2);
			tx = &sd[w];
			rx = &sd[1 - w];
			rc = kz_noise_encrypt(&tx->tx, payload, plen, out,
			    sizeof(out), &outlen);
			VCHECK(rc == 0 && outlen == clen &&
			    memcmp(out, ct, clen) == 0,
			    "transport %zu: ciphertext differs (%s)", i,
			    kz_errname(rc));
			rc = kz_noise_decrypt(&rx->rx, out, outlen, pt,
			    sizeof(pt), &ptlen);
			VCHECK(rc == 0 && ptlen == plen &&
			    memcmp(pt, payload, plen) == 0,
			    "transport %zu: decrypt (%s)", i, kz_errname(rc));
			cnt->transport_msgs++;
		}
	}
	VCHECK(split, "the handshake did not finish within %zu messages",
	    json_array_size(msgs));

	/* Each side learnt (or was given) the other's static key. */
	for (w = 0; w < 2; w++) {
		const uint8_t *r = kz_noise_remote_static(sd[w].hs);

		if (sd[1 - w].has_s)
			VCHECK(r != NULL && memcmp(r, sd[1 - w].s_pub, 32) == 0,
			    "%s: remote static differs", w ? "responder" :
			    "initiator");
		else
			VCHECK(r == NULL, "remote static out of nowhere");
	}
	for (w = 0; w < 2; w++) {
		kz_noise_free(sd[w].hs);
		kz_noise_cipher_wipe(&sd[w].tx);
		kz_noise_cipher_wipe(&sd[w].rx);
	}
	cnt->vectors++;
}

/* The base name of "Noise_XXpsk0+psk3_..." ("XX") into out. */
static void
base_name(const char *proto, char *out, size_t cap)
{
	size_t i = 0;
	const char *p = proto + strlen("Noise_");

	while (i + 1 < cap && ((p[i] >= 'A' && p[i] <= 'Z') ||
	    (p[i] >= '0' && p[i] <= '9'))) {
		out[i] = p[i];
		i++;
	}
	out[i] = '\0';
}

static void
test_vectors(void **state)
{
	struct vec_counts cnt = { 0, 0, 0, 0, 0 };
	json_t *root = load_json("noise-25519-chachapoly-blake2b.json");
	json_t *vecs = json_object_get(root, "vectors"), *seen = json_object();
	json_t *bases = json_object();
	size_t i;

	(void)state;
	assert_true(json_is_array(vecs));
	/* VECTORS.md: 110 vectors, 72 patterns; none may be skipped. */
	assert_int_equal(json_array_size(vecs), 110);
	for (i = 0; i < json_array_size(vecs); i++) {
		json_t *v = json_array_get(vecs, i);
		const char *name =
		    json_string_value(json_object_get(v, "protocol_name"));
		char base[16];

		assert_non_null(name);
		json_object_set_new(seen, name, json_true());
		base_name(name, base, sizeof(base));
		json_object_set_new(bases, base, json_true());
		run_vector(v, i, &cnt);
	}
	assert_int_equal(cnt.vectors, 110);
	assert_int_equal(json_object_size(seen), 72);
	assert_int_equal(cnt.hashes, 59);   /* the cacophony vectors */
	/* Every pattern of the table is exercised by some vector. */
	assert_int_equal(json_object_size(bases), kz__noise_pattern_count());
	for (i = 0; i < kz__noise_pattern_count(); i++)
		if (json_object_get(bases, kz__noise_pattern_name(i)) == NULL)
			fail_msg("pattern %s has no vector",
			    kz__noise_pattern_name(i));
	print_message("noise vectors: %zu vectors, %zu patterns (%zu base), "
	    "%zu handshake + %zu transport messages, %zu handshake hashes\n",
	    cnt.vectors, json_object_size(seen), json_object_size(bases),
	    cnt.handshake_msgs, cnt.transport_msgs, cnt.hashes);
	json_decref(bases);
	json_decref(seen);
	json_decref(root);
}

static void
test_derived_kats(void **state)
{
	static uint8_t key[512], data[512], want[64], got[64];
	json_t *root = load_json("derived-kats.json"), *arr, *x;
	uint8_t o[3][64], ad[64], p[64], c[128], out[128], nonce[12];
	size_t i, j, klen, dlen;
	struct kz_noise_cipher cs;

	(void)state;
	arr = json_object_get(root, "hmac_blake2b");
	assert_int_equal(json_array_size(arr), 3);
	json_array_foreach(arr, i, x) {
		klen = hex_field(x, "key", key, sizeof(key));
		dlen = hex_field(x, "data", data, sizeof(data));
		assert_int_equal(hex_field(x, "mac", want, 64), 64);
		/* The data split in two parts must not matter. */
		kz__noise_hmac(got, key, klen, data, dlen / 2, data + dlen / 2,
		    dlen - dlen / 2);
		if (memcmp(got, want, 64) != 0)
			fail_msg("HMAC-BLAKE2b #%zu (key %zu bytes) differs", i,
			    klen);
	}

	arr = json_object_get(root, "hkdf");
	assert_int_equal(json_array_size(arr), 3);
	json_array_foreach(arr, i, x) {
		json_t *outs = json_object_get(x, "outputs");
		int num = (int)json_integer_value(json_object_get(x,
		    "num_outputs"));

		assert_int_equal(hex_field(x, "chaining_key", key, 64), 64);
		dlen = hex_field(x, "ikm", data, sizeof(data));
		assert_true(num == 2 || num == 3);
		assert_int_equal(json_array_size(outs), (size_t)num);
		kz__noise_hkdf(key, data, dlen, num, o[0], o[1], o[2]);
		for (j = 0; j < (size_t)num; j++) {
			assert_int_equal(hex_str(json_string_value(
			    json_array_get(outs, j)), want, 64), 64);
			if (memcmp(o[j], want, 64) != 0)
				fail_msg("HKDF #%zu output %zu differs", i, j + 1);
		}
	}

	arr = json_object_get(root, "chachapoly");
	assert_int_equal(json_array_size(arr), 4);
	json_array_foreach(arr, i, x) {
		const char *ns = json_string_value(json_object_get(x, "n"));
		uint8_t want_nonce[12];
		size_t alen, plen, clen;

		assert_non_null(ns);
		assert_int_equal(hex_field(x, "key", key, 32), 32);
		assert_int_equal(hex_field(x, "nonce96", want_nonce, 12), 12);
		alen = hex_field(x, "ad", ad, sizeof(ad));
		plen = hex_field(x, "plaintext", p, sizeof(p));
		clen = hex_field(x, "ciphertext", c, sizeof(c));
		kz__noise_cipher_init(&cs, key);
		kz__noise_cipher_set_nonce(&cs, strtoull(ns, NULL, 10));
		kz__noise_nonce(nonce, cs.n);
		if (memcmp(nonce, want_nonce, 12) != 0)
			fail_msg("nonce layout of n=%s differs", ns);
		assert_int_equal(kz__noise_cipher_encrypt_ad(&cs, ad, alen, p,
		    plen, out), 0);
		assert_int_equal(plen + 16, clen);
		if (memcmp(out, c, clen) != 0)
			fail_msg("ChaChaPoly at n=%s differs", ns);
		kz__noise_cipher_set_nonce(&cs, strtoull(ns, NULL, 10));
		assert_int_equal(kz__noise_cipher_decrypt_ad(&cs, ad, alen, c,
		    clen, out), 0);
		assert_memory_equal(out, p, plen);
	}

	arr = json_object_get(root, "rekey");
	assert_int_equal(json_array_size(arr), 1);
	json_array_foreach(arr, i, x) {
		assert_int_equal(hex_field(x, "key", key, 32), 32);
		assert_int_equal(hex_field(x, "new_key", want, 32), 32);
		kz__noise_cipher_init(&cs, key);
		kz__noise_cipher_set_nonce(&cs, 7);
		assert_int_equal(kz_noise_rekey(&cs), 0);
		assert_memory_equal(cs.k, want, 32);
		assert_true(cs.n == 7);   /* Rekey leaves n alone (§11.3). */
	}
	kz_noise_cipher_wipe(&cs);
	json_decref(root);
}

/* --------------------------------------------- the link pattern: a pair */

struct pair {
	struct kz_noise_handshake *i, *r;
	uint8_t si[32], sr[32], si_pub[32], sr_pub[32];
};

/* Fixed keys so that two runs give the same bytes; psks per side. */
static void
pair_new(struct pair *pr, const char *proto, const uint8_t *psk_i0,
    const uint8_t *psk_i3, const uint8_t *psk_r0, const uint8_t *psk_r3,
    const char *prologue_r)
{
	const uint8_t *pi[2] = { psk_i0, psk_i3 }, *pr_[2] = { psk_r0, psk_r3 };
	uint8_t ei[32], er[32];

	memset(pr, 0, sizeof(*pr));
	fill(pr->si, 32, 0x10);
	fill(pr->sr, 32, 0x40);
	fill(ei, 32, 0x70);
	fill(er, 32, 0xa0);
	assert_int_equal(kz_noise_public_key(pr->si_pub, pr->si), 0);
	assert_int_equal(kz_noise_public_key(pr->sr_pub, pr->sr), 0);
	assert_int_equal(kz_noise_new(&pr->i, proto, 1,
	    (const uint8_t *)"kizuna", 6, pr->si, NULL, pi, 2, ei), 0);
	assert_int_equal(kz_noise_new(&pr->r, proto, 0,
	    (const uint8_t *)prologue_r, strlen(prologue_r), pr->sr, NULL, pr_,
	    2, er), 0);
}

static void
pair_free(struct pair *pr)
{
	kz_noise_free(pr->i);
	kz_noise_free(pr->r);
}

static const uint8_t psk_a[32] = { 0xa1, 0xa2, 0xa3 };
static const uint8_t psk_b[32] = { 0xb1, 0xb2, 0xb3 };

/* Sends message k (0-based) of a pair; returns the reader's result. */
static int
pair_step(struct pair *pr, size_t k, const uint8_t *payload, size_t plen,
    uint8_t *msg, size_t *mlen)
{
	static uint8_t pt[KZ_NOISE_MAX_MSG];
	struct kz_noise_handshake *w = k % 2 == 0 ? pr->i : pr->r;
	struct kz_noise_handshake *r = k % 2 == 0 ? pr->r : pr->i;
	size_t ptlen;
	int rc;

	assert_int_equal(kz_noise_write_message(w, payload, plen, msg,
	    KZ_NOISE_MAX_MSG, mlen), 0);
	rc = kz_noise_read_message(r, msg, *mlen, pt, sizeof(pt), &ptlen);
	if (rc == 0) {
		assert_int_equal(ptlen, plen);
		assert_memory_equal(pt, payload, plen);
	}
	return rc;
}

static void
test_link_pattern(void **state)
{
	static uint8_t msg[KZ_NOISE_MAX_MSG];
	struct kz_noise_cipher ti, ri, tr, rr;
	uint8_t out[64], pt[64];
	size_t mlen, total = 0, k, n;
	struct pair pr;
	const uint8_t *hi, *hr;

	(void)state;
	/* Empty payloads: DESIGN.md's 208 bytes in 3 messages (48+96+64). */
	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizuna");
	assert_null(kz_noise_handshake_hash(pr.i));
	for (k = 0; k < 3; k++) {
		static const size_t want[3] = { 48, 96, 64 };

		assert_false(kz_noise_done(pr.i));
		assert_int_equal(pair_step(&pr, k, NULL, 0, msg, &mlen), 0);
		assert_int_equal(mlen, want[k]);
		total += mlen;
		if (k == 1) {
			/* The initiator knows the responder after message 2;
			 * the responder learns the initiator only at message 3. */
			assert_memory_equal(kz_noise_remote_static(pr.i),
			    pr.sr_pub, 32);
			assert_null(kz_noise_remote_static(pr.r));
		}
	}
	assert_int_equal(total, 208);
	assert_true(kz_noise_done(pr.i) && kz_noise_done(pr.r));
	assert_int_equal(kz_noise_action(pr.i), KZ_NOISE_SPLIT);
	assert_memory_equal(kz_noise_remote_static(pr.r), pr.si_pub, 32);
	hi = kz_noise_handshake_hash(pr.i);
	hr = kz_noise_handshake_hash(pr.r);
	assert_non_null(hi);
	assert_memory_equal(hi, hr, 64);
	assert_int_equal(kz_noise_split(pr.i, &ti, &ri), 0);
	assert_int_equal(kz_noise_split(pr.r, &tr, &rr), 0);
	assert_int_equal(kz_noise_action(pr.i), KZ_NOISE_IDLE);
	assert_int_equal(kz_noise_split(pr.i, &ti, &ri), KZ_ERR_INVAL);
	/* h and rs outlive Split; everything else is gone. */
	assert_memory_equal(kz_noise_handshake_hash(pr.i), hr, 64);
	assert_memory_equal(kz_noise_remote_static(pr.r), pr.si_pub, 32);

	assert_int_equal(kz_noise_encrypt(&ti, (const uint8_t *)"hi", 2, out,
	    sizeof(out), &n), 0);
	assert_int_equal(n, 18);
	assert_int_equal(kz_noise_decrypt(&rr, out, n, pt, sizeof(pt), &n), 0);
	assert_memory_equal(pt, "hi", 2);
	assert_int_equal(kz_noise_encrypt(&tr, NULL, 0, out, sizeof(out), &n),
	    0);
	assert_int_equal(n, 16);
	assert_int_equal(kz_noise_decrypt(&ri, out, n, pt, sizeof(pt), &n), 0);
	assert_int_equal(n, 0);
	pair_free(&pr);
}

/* Real use: random ephemerals, one district key in both psk positions. */
static void
test_random_ephemerals(void **state)
{
	static uint8_t m1[2][128];
	uint8_t key[32], si[32], si_pub[32], sr[32], sr_pub[32], buf[256];
	uint8_t pt[256];
	const uint8_t *psks[2] = { key, key };
	struct kz_noise_handshake *i, *r;
	size_t run, n, k;

	(void)state;
	randombytes_buf(key, sizeof(key));
	assert_int_equal(kz_noise_keypair(si, si_pub), 0);
	assert_int_equal(kz_noise_keypair(sr, sr_pub), 0);
	for (run = 0; run < 2; run++) {
		assert_int_equal(kz_noise_new(&i, LINK_PROTO, 1, NULL, 0, si,
		    NULL, psks, 2, NULL), 0);
		assert_int_equal(kz_noise_new(&r, LINK_PROTO, 0, NULL, 0, sr,
		    NULL, psks, 2, NULL), 0);
		for (k = 0; k < 3; k++) {
			struct kz_noise_handshake *w = k % 2 ? r : i;
			struct kz_noise_handshake *rd = k % 2 ? i : r;

			assert_int_equal(kz_noise_write_message(w, NULL, 0, buf,
			    sizeof(buf), &n), 0);
			if (k == 0)
				memcpy(m1[run], buf, n);
			assert_int_equal(kz_noise_read_message(rd, buf, n, pt,
			    sizeof(pt), &n), 0);
		}
		assert_memory_equal(kz_noise_remote_static(r), si_pub, 32);
		assert_memory_equal(kz_noise_remote_static(i), sr_pub, 32);
		assert_memory_equal(kz_noise_handshake_hash(i),
		    kz_noise_handshake_hash(r), 64);
		kz_noise_free(i);
		kz_noise_free(r);
	}
	/* Fresh ephemerals: message 1 differs from run to run. */
	assert_memory_not_equal(m1[0], m1[1], 48);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(si, sizeof(si));
	sodium_memzero(sr, sizeof(sr));
}

/*
 * A non-member (wrong PSK) is refused at message 1, before the responder
 * performs any DH, learns anything, or sends anything.
 */
static void
test_wrong_psk(void **state)
{
	static uint8_t msg[KZ_NOISE_MAX_MSG];
	uint8_t out[256], pt[256];
	size_t mlen, n = 99;
	struct pair pr;
	int k;

	(void)state;
	/* Both positions wrong, or only psk0 wrong: message 1 fails. */
	for (k = 0; k < 2; k++) {
		pair_new(&pr, LINK_PROTO, psk_b, k ? psk_a : psk_b, psk_a, psk_a,
		    "kizuna");
		assert_int_equal(pair_step(&pr, 0, (const uint8_t *)"hello", 5,
		    msg, &mlen), KZ_NOISE_ERR_AUTH);
		assert_int_equal(kz__noise_dh_count(pr.r), 0);
		assert_int_equal(kz_noise_action(pr.r), KZ_NOISE_FAILED);
		assert_null(kz_noise_remote_static(pr.r));
		assert_null(kz_noise_handshake_hash(pr.r));
		memset(out, 0x5a, sizeof(out));
		assert_int_equal(kz_noise_write_message(pr.r, NULL, 0, out,
		    sizeof(out), &n), KZ_ERR_INVAL);
		assert_int_equal(n, 0);
		assert_int_equal(out[0], 0x5a);   /* nothing produced */
		/* A retry with the right bytes does not revive it. */
		assert_int_equal(kz_noise_read_message(pr.r, msg, mlen, pt,
		    sizeof(pt), &n), KZ_ERR_INVAL);
		pair_free(&pr);
	}

	/* psk0 right, psk3 wrong: refused at message 3, rs forgotten. */
	pair_new(&pr, LINK_PROTO, psk_a, psk_b, psk_a, psk_a, "kizuna");
	assert_int_equal(pair_step(&pr, 0, NULL, 0, msg, &mlen), 0);
	assert_int_equal(pair_step(&pr, 1, NULL, 0, msg, &mlen), 0);
	assert_int_equal(pair_step(&pr, 2, NULL, 0, msg, &mlen),
	    KZ_NOISE_ERR_AUTH);
	assert_int_equal(kz_noise_action(pr.r), KZ_NOISE_FAILED);
	assert_null(kz_noise_remote_static(pr.r));
	pair_free(&pr);

	/* The control: the right PSKs pass. */
	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizuna");
	assert_int_equal(pair_step(&pr, 0, NULL, 0, msg, &mlen), 0);
	pair_free(&pr);
}

static void
test_wrong_prologue(void **state)
{
	static uint8_t msg[KZ_NOISE_MAX_MSG];
	size_t mlen;
	struct pair pr;

	(void)state;
	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizunb");
	assert_int_equal(pair_step(&pr, 0, NULL, 0, msg, &mlen),
	    KZ_NOISE_ERR_AUTH);
	assert_int_equal(kz_noise_action(pr.r), KZ_NOISE_FAILED);
	pair_free(&pr);
}

/*
 * Every handshake message of the link pattern, truncated to each shorter
 * length, extended by a byte, and with each byte altered, is refused by its
 * reader, which is then FAILED and has learnt nothing.
 */
static void
test_tampered_handshake(void **state)
{
	static uint8_t msgs[3][256], bad[300], pt[300];
	static const uint8_t pl[3][8] = { "payload", "respond", "confirm" };
	size_t lens[3], k, j, n, plen;
	struct pair pr;
	int mode, rc;

	(void)state;
	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizuna");
	for (k = 0; k < 3; k++)
		assert_int_equal(pair_step(&pr, k, pl[k], 7, msgs[k], &lens[k]),
		    0);
	pair_free(&pr);

	for (k = 0; k < 3; k++) {
		for (mode = 0; mode < 3; mode++) {
			size_t cases = mode == 2 ? 1 : lens[k];

			for (j = 0; j < cases; j++) {
				struct kz_noise_handshake *rd;
				size_t m;

				pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a,
				    psk_a, "kizuna");
				for (m = 0; m < k; m++) {
					uint8_t again[256];

					assert_int_equal(pair_step(&pr, m, pl[m], 7,
					    again, &n), 0);
					assert_memory_equal(again, msgs[m], n);
				}
				/* The writer produces the message; the reader
				 * gets a damaged copy. */
				assert_int_equal(kz_noise_write_message(
				    k % 2 ? pr.r : pr.i, pl[k], 7, bad,
				    sizeof(bad), &n), 0);
				assert_memory_equal(bad, msgs[k], n);
				rd = k % 2 ? pr.i : pr.r;
				if (mode == 0) {
					n = j;                  /* truncated */
				} else if (mode == 1) {
					bad[j] ^= 0x01;         /* altered */
				} else {
					bad[n++] = 0x00;        /* extended */
				}
				memset(pt, 0x5a, sizeof(pt));
				rc = kz_noise_read_message(rd, bad, n, pt,
				    sizeof(pt), &plen);
				if (rc == 0)
					fail_msg("message %zu mode %d byte %zu "
					    "accepted", k + 1, mode, j);
				assert_true(rc == KZ_NOISE_ERR_AUTH ||
				    rc == KZ_ERR_TRUNCATED);
				if (mode == 0 && j < (k == 0 ? 48u : k == 1 ? 96u :
				    64u))
					assert_int_equal(rc, KZ_ERR_TRUNCATED);
				assert_int_equal(plen, 0);
				assert_int_equal(kz_noise_action(rd),
				    KZ_NOISE_FAILED);
				assert_null(kz_noise_remote_static(rd));
				/* No plaintext of a refused message is left. */
				for (m = 0; m < 7; m++)
					assert_true(pt[m] == 0x5a || pt[m] == 0);
				pair_free(&pr);
			}
		}
	}
}

/* Small-order points: libsodium's X25519 blacklist, and the same with the
 * (ignored) top bit set. */
static const uint8_t low_order[7][32] = {
	{ 0 },
	{ 1 },
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
	  0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
	  0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
	{ 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
	  0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
	  0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 },
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
};

static void
test_low_order_keys(void **state)
{
	uint8_t s[32], s_pub[32], pt_pub[32], shared[32], msg[128], out[256];
	uint8_t pt[256];
	struct kz_noise_handshake *hs, *peer;
	size_t i, n;
	int hi;

	(void)state;
	fill(s, 32, 0x33);
	assert_int_equal(kz_noise_public_key(s_pub, s), 0);
	for (i = 0; i < 7; i++) {
		for (hi = 0; hi < 2; hi++) {
			memcpy(pt_pub, low_order[i], 32);
			if (hi)
				pt_pub[31] |= 0x80;

			/* DH itself. */
			assert_int_equal(kz__noise_dh(shared, s, pt_pub),
			    KZ_ERR_BAD_KEY);
			assert_true(sodium_is_zero(shared, 32));

			/* NK responder: the initiator's e is small-order; es
			 * (= DH(s, re)) fails inside read_message. */
			assert_int_equal(kz_noise_new(&hs,
			    "Noise_NK" SUITE, 0, NULL, 0, s, NULL, NULL, 0,
			    NULL), 0);
			memset(msg, 0, sizeof(msg));
			memcpy(msg, pt_pub, 32);
			assert_int_equal(kz_noise_read_message(hs, msg, 48, pt,
			    sizeof(pt), &n), KZ_ERR_BAD_KEY);
			assert_int_equal(kz_noise_action(hs), KZ_NOISE_FAILED);
			kz_noise_free(hs);

			/* IK initiator given a small-order responder key: the
			 * first message (es) fails and nothing is produced. */
			assert_int_equal(kz_noise_new(&hs,
			    "Noise_IK" SUITE, 1, NULL, 0, s, pt_pub, NULL, 0,
			    NULL), 0);
			assert_int_equal(kz_noise_write_message(hs, NULL, 0, out,
			    sizeof(out), &n), KZ_ERR_BAD_KEY);
			assert_int_equal(n, 0);
			assert_true(sodium_is_zero(out, 48));
			kz_noise_free(hs);

			/* XX responder: message 1 is only e; the ee of
			 * message 2 refuses it and nothing is sent. */
			assert_int_equal(kz_noise_new(&hs,
			    "Noise_XX" SUITE, 0, NULL, 0, s, NULL, NULL, 0,
			    NULL), 0);
			assert_int_equal(kz_noise_read_message(hs, pt_pub, 32, pt,
			    sizeof(pt), &n), 0);
			memset(out, 0, sizeof(out));
			assert_int_equal(kz_noise_write_message(hs, NULL, 0, out,
			    sizeof(out), &n), KZ_ERR_BAD_KEY);
			assert_int_equal(n, 0);
			assert_true(sodium_is_zero(out, sizeof(out)));
			kz_noise_free(hs);

			/* NN initiator: the responder's e is small-order. */
			assert_int_equal(kz_noise_new(&hs,
			    "Noise_NN" SUITE, 1, NULL, 0, NULL, NULL, NULL, 0,
			    NULL), 0);
			assert_int_equal(kz_noise_write_message(hs, NULL, 0, out,
			    sizeof(out), &n), 0);
			memset(msg, 0, sizeof(msg));
			memcpy(msg, pt_pub, 32);
			assert_int_equal(kz_noise_read_message(hs, msg, 48, pt,
			    sizeof(pt), &n), KZ_ERR_BAD_KEY);
			kz_noise_free(hs);
		}
	}

	/* The control: a valid key passes the same NK path up to the MAC. */
	assert_int_equal(kz_noise_new(&peer, "Noise_NK" SUITE, 1, NULL, 0,
	    NULL, s_pub, NULL, 0, NULL), 0);
	assert_int_equal(kz_noise_write_message(peer, NULL, 0, msg,
	    sizeof(msg), &n), 0);
	assert_int_equal(n, 48);
	assert_int_equal(kz_noise_new(&hs, "Noise_NK" SUITE, 0, NULL, 0, s,
	    NULL, NULL, 0, NULL), 0);
	assert_int_equal(kz_noise_read_message(hs, msg, n, pt, sizeof(pt), &n),
	    0);
	kz_noise_free(hs);
	kz_noise_free(peer);
}

/* A full link-pattern session: the two ends' transport ciphers. */
struct session {
	struct kz_noise_cipher ti, ri, tr, rr;
};

static void
session_new(struct session *se)
{
	static uint8_t msg[KZ_NOISE_MAX_MSG];
	struct pair pr;
	size_t k, n;

	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizuna");
	for (k = 0; k < 3; k++)
		assert_int_equal(pair_step(&pr, k, NULL, 0, msg, &n), 0);
	assert_int_equal(kz_noise_split(pr.i, &se->ti, &se->ri), 0);
	assert_int_equal(kz_noise_split(pr.r, &se->tr, &se->rr), 0);
	pair_free(&pr);
}

static void
test_transport_tamper_replay(void **state)
{
	uint8_t c1[64], c2[64], bad[64], pt[64];
	size_t n1, n2, n, j;
	struct session se;

	(void)state;
	session_new(&se);
	assert_int_equal(kz_noise_encrypt(&se.ti, (const uint8_t *)"first", 5,
	    c1, sizeof(c1), &n1), 0);
	assert_int_equal(kz_noise_encrypt(&se.ti, (const uint8_t *)"second", 6,
	    c2, sizeof(c2), &n2), 0);

	/* Every altered byte is refused, and n stays put. */
	for (j = 0; j < n1; j++) {
		memcpy(bad, c1, n1);
		bad[j] ^= 0x80;
		assert_int_equal(kz_noise_decrypt(&se.rr, bad, n1, pt,
		    sizeof(pt), &n), KZ_NOISE_ERR_AUTH);
		assert_int_equal(n, 0);
		assert_true(se.rr.n == 0);
	}
	/* Truncated below a tag; a shortened message fails its tag. */
	assert_int_equal(kz_noise_decrypt(&se.rr, c1, 15, pt, sizeof(pt), &n),
	    KZ_ERR_TRUNCATED);
	assert_int_equal(kz_noise_decrypt(&se.rr, c1, n1 - 1, pt, sizeof(pt),
	    &n), KZ_NOISE_ERR_AUTH);
	/* Out of order: message 2 first is refused, then both go through. */
	assert_int_equal(kz_noise_decrypt(&se.rr, c2, n2, pt, sizeof(pt), &n),
	    KZ_NOISE_ERR_AUTH);
	assert_int_equal(kz_noise_decrypt(&se.rr, c1, n1, pt, sizeof(pt), &n),
	    0);
	assert_memory_equal(pt, "first", 5);
	/* Replay of message 1 is refused (its nonce is spent). */
	assert_int_equal(kz_noise_decrypt(&se.rr, c1, n1, pt, sizeof(pt), &n),
	    KZ_NOISE_ERR_AUTH);
	assert_int_equal(kz_noise_decrypt(&se.rr, c2, n2, pt, sizeof(pt), &n),
	    0);
	assert_memory_equal(pt, "second", 6);
	/* A message for the other direction does not decrypt here. */
	assert_int_equal(kz_noise_encrypt(&se.tr, (const uint8_t *)"x", 1, c1,
	    sizeof(c1), &n1), 0);
	assert_int_equal(kz_noise_decrypt(&se.rr, c1, n1, pt, sizeof(pt), &n),
	    KZ_NOISE_ERR_AUTH);
	assert_int_equal(kz_noise_decrypt(&se.ri, c1, n1, pt, sizeof(pt), &n),
	    0);
	/* Output buffers too small. */
	assert_int_equal(kz_noise_encrypt(&se.ti, (const uint8_t *)"abc", 3, c1,
	    18, &n), KZ_ERR_TOO_BIG);
	kz_noise_cipher_wipe(&se.ti);
	assert_int_equal(kz_noise_encrypt(&se.ti, (const uint8_t *)"abc", 3, c1,
	    sizeof(c1), &n), KZ_ERR_INVAL);
	kz_noise_cipher_wipe(&se.ri);
	kz_noise_cipher_wipe(&se.tr);
	kz_noise_cipher_wipe(&se.rr);
}

static void
test_nonce_exhaustion(void **state)
{
	uint8_t c[64], pt[64];
	size_t n, pn;
	struct session se;

	(void)state;
	session_new(&se);
	kz__noise_cipher_set_nonce(&se.ti, UINT64_MAX - 1);
	kz__noise_cipher_set_nonce(&se.rr, UINT64_MAX - 1);
	/* n = 2^64-2 is the last usable nonce. */
	assert_int_equal(kz_noise_encrypt(&se.ti, (const uint8_t *)"last", 4, c,
	    sizeof(c), &n), 0);
	assert_int_equal(kz_noise_decrypt(&se.rr, c, n, pt, sizeof(pt), &pn),
	    0);
	assert_true(se.ti.n == UINT64_MAX && se.rr.n == UINT64_MAX);
	/* n = 2^64-1 is reserved: refused both ways, and n never wraps. */
	assert_int_equal(kz_noise_encrypt(&se.ti, (const uint8_t *)"more", 4, c,
	    sizeof(c), &n), KZ_ERR_TOO_BIG);
	assert_int_equal(n, 0);
	assert_int_equal(kz_noise_decrypt(&se.rr, c, 20, pt, sizeof(pt), &pn),
	    KZ_ERR_TOO_BIG);
	assert_true(se.ti.n == UINT64_MAX && se.rr.n == UINT64_MAX);
	/* A message forged for nonce 2^64-1 is refused before any check. */
	kz__noise_cipher_set_nonce(&se.tr, UINT64_MAX);
	assert_int_equal(kz_noise_encrypt(&se.tr, NULL, 0, c, sizeof(c), &n),
	    KZ_ERR_TOO_BIG);
	kz_noise_cipher_wipe(&se.ti);
	kz_noise_cipher_wipe(&se.ri);
	kz_noise_cipher_wipe(&se.tr);
	kz_noise_cipher_wipe(&se.rr);
}

static void
test_size_limits(void **state)
{
	static uint8_t big[KZ_NOISE_MAX_MSG + 2], out[KZ_NOISE_MAX_MSG + 2];
	static uint8_t pt[KZ_NOISE_MAX_MSG + 2];
	struct session se;
	struct pair pr;
	size_t n, pn;

	(void)state;
	fill(big, sizeof(big), 7);

	/* Transport: 65519-byte payload = 65535-byte message, the maximum. */
	session_new(&se);
	assert_int_equal(kz_noise_encrypt(&se.ti, big, KZ_NOISE_MAX_PAYLOAD,
	    out, sizeof(out), &n), 0);
	assert_int_equal(n, KZ_NOISE_MAX_MSG);
	assert_int_equal(kz_noise_decrypt(&se.rr, out, n, pt, sizeof(pt), &pn),
	    0);
	assert_int_equal(pn, KZ_NOISE_MAX_PAYLOAD);
	assert_memory_equal(pt, big, pn);
	assert_int_equal(kz_noise_encrypt(&se.ti, big, KZ_NOISE_MAX_PAYLOAD + 1,
	    out, sizeof(out), &n), KZ_ERR_TOO_BIG);
	assert_int_equal(kz_noise_decrypt(&se.rr, big, KZ_NOISE_MAX_MSG + 1, pt,
	    sizeof(pt), &pn), KZ_ERR_TOO_BIG);
	assert_int_equal(kz_noise_decrypt(&se.rr, out, KZ_NOISE_MAX_MSG, pt,
	    100, &pn), KZ_ERR_TOO_BIG);
	assert_true(se.ti.n == 1 && se.rr.n == 1);
	kz_noise_cipher_wipe(&se.ti);
	kz_noise_cipher_wipe(&se.ri);
	kz_noise_cipher_wipe(&se.tr);
	kz_noise_cipher_wipe(&se.rr);

	/* Handshake message 1 (48 bytes of overhead) at exactly 65535. */
	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizuna");
	assert_int_equal(kz_noise_write_message(pr.i, big, KZ_NOISE_MAX_MSG - 48,
	    out, sizeof(out), &n), 0);
	assert_int_equal(n, KZ_NOISE_MAX_MSG);
	assert_int_equal(kz_noise_read_message(pr.r, out, n, pt, sizeof(pt),
	    &pn), 0);
	assert_int_equal(pn, KZ_NOISE_MAX_MSG - 48);
	pair_free(&pr);

	/* One byte more is refused on write, and the handshake is over. */
	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizuna");
	assert_int_equal(kz_noise_write_message(pr.i, big,
	    KZ_NOISE_MAX_MSG - 47, out, sizeof(out), &n), KZ_ERR_TOO_BIG);
	assert_int_equal(n, 0);
	assert_int_equal(kz_noise_action(pr.i), KZ_NOISE_FAILED);
	/* ... and on read, before anything is processed. */
	assert_int_equal(kz_noise_read_message(pr.r, big, KZ_NOISE_MAX_MSG + 1,
	    pt, sizeof(pt), &pn), KZ_ERR_TOO_BIG);
	assert_int_equal(kz_noise_action(pr.r), KZ_NOISE_FAILED);
	pair_free(&pr);

	/* Too small an output buffer fails the handshake too. */
	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizuna");
	assert_int_equal(kz_noise_write_message(pr.i, NULL, 0, out, 47, &n),
	    KZ_ERR_TOO_BIG);
	pair_free(&pr);
	pair_new(&pr, LINK_PROTO, psk_a, psk_a, psk_a, psk_a, "kizuna");
	assert_int_equal(kz_noise_write_message(pr.i, big, 10, out, sizeof(out),
	    &n), 0);
	assert_int_equal(kz_noise_read_message(pr.r, out, n, pt, 9, &pn),
	    KZ_ERR_TOO_BIG);
	pair_free(&pr);
}

static void
test_rekey(void **state)
{
	uint8_t c[64], pt[64], k0[32];
	size_t n, pn;
	struct session se;
	int round;

	(void)state;
	session_new(&se);
	memcpy(k0, se.ti.k, 32);
	assert_int_equal(kz_noise_rekey(&se.ti), 0);
	assert_memory_not_equal(se.ti.k, k0, 32);
	assert_true(se.ti.n == 0);
	/* Only the sender rekeyed: the receiver cannot read it. */
	assert_int_equal(kz_noise_encrypt(&se.ti, (const uint8_t *)"r1", 2, c,
	    sizeof(c), &n), 0);
	assert_int_equal(kz_noise_decrypt(&se.rr, c, n, pt, sizeof(pt), &pn),
	    KZ_NOISE_ERR_AUTH);
	/* Both rekeyed: they interoperate again (n kept counting at 1). */
	assert_int_equal(kz_noise_rekey(&se.rr), 0);
	assert_memory_equal(se.rr.k, se.ti.k, 32);
	kz__noise_cipher_set_nonce(&se.rr, 1);
	assert_int_equal(kz_noise_encrypt(&se.ti, (const uint8_t *)"r2", 2, c,
	    sizeof(c), &n), 0);
	assert_int_equal(kz_noise_decrypt(&se.rr, c, n, pt, sizeof(pt), &pn),
	    0);
	assert_memory_equal(pt, "r2", 2);
	/* Rekey after every message, both directions. */
	for (round = 0; round < 4; round++) {
		assert_int_equal(kz_noise_rekey(&se.tr), 0);
		assert_int_equal(kz_noise_rekey(&se.ri), 0);
		assert_int_equal(kz_noise_encrypt(&se.tr, (const uint8_t *)"ok",
		    2, c, sizeof(c), &n), 0);
		assert_int_equal(kz_noise_decrypt(&se.ri, c, n, pt, sizeof(pt),
		    &pn), 0);
	}
	kz_noise_cipher_wipe(&se.ti);
	assert_int_equal(kz_noise_rekey(&se.ti), KZ_ERR_INVAL);
	kz_noise_cipher_wipe(&se.ri);
	kz_noise_cipher_wipe(&se.tr);
	kz_noise_cipher_wipe(&se.rr);
}

/* One-way patterns: the reverse direction has no key and refuses use. */
static void
test_one_way(void **state)
{
	uint8_t sr[32], sr_pub[32], msg[128], pt[128];
	struct kz_noise_cipher it, ir, rt, rr;
	struct kz_noise_handshake *i, *r;
	size_t n;

	(void)state;
	assert_int_equal(kz_noise_keypair(sr, sr_pub), 0);
	assert_int_equal(kz_noise_new(&i, "Noise_N" SUITE, 1, NULL, 0, NULL,
	    sr_pub, NULL, 0, NULL), 0);
	assert_int_equal(kz_noise_new(&r, "Noise_N" SUITE, 0, NULL, 0, sr,
	    NULL, NULL, 0, NULL), 0);
	assert_int_equal(kz_noise_action(r), KZ_NOISE_READ);
	assert_int_equal(kz_noise_write_message(i, NULL, 0, msg, sizeof(msg),
	    &n), 0);
	assert_int_equal(kz_noise_read_message(r, msg, n, pt, sizeof(pt), &n),
	    0);
	assert_int_equal(kz_noise_split(i, &it, &ir), 0);
	assert_int_equal(kz_noise_split(r, &rt, &rr), 0);
	assert_int_equal(kz_noise_encrypt(&rt, NULL, 0, msg, sizeof(msg), &n),
	    KZ_ERR_INVAL);
	assert_int_equal(kz_noise_decrypt(&ir, msg, 16, pt, sizeof(pt), &n),
	    KZ_ERR_INVAL);
	assert_int_equal(kz_noise_encrypt(&it, NULL, 0, msg, sizeof(msg), &n),
	    0);
	assert_int_equal(kz_noise_decrypt(&rr, msg, n, pt, sizeof(pt), &n), 0);
	kz_noise_free(i);
	kz_noise_free(r);
	sodium_memzero(sr, sizeof(sr));
}

static void
test_bad_names_and_keys(void **state)
{
	static const char *bad[] = {
		"", "Noise_", "Noise_" SUITE, "Noise_ZZ" SUITE,
		"Noise_xx" SUITE, "Noise_XX_448_ChaChaPoly_BLAKE2b",
		"Noise_XX_25519_AESGCM_BLAKE2b", "Noise_XX_25519_ChaChaPoly_SHA256",
		"Noise_XX_25519_ChaChaPoly_BLAKE2b ", "noise_XX" SUITE,
		"Noise_XXpsk3+psk0" SUITE, "Noise_XXpsk0+psk0" SUITE,
		"Noise_XXpsk0psk3" SUITE, "Noise_XXpsk0+" SUITE,
		"Noise_XX+psk0" SUITE, "Noise_XXpsk" SUITE, "Noise_XXpsk9" SUITE,
		"Noise_XXpsk4" SUITE, "Noise_NNpsk3" SUITE, "Noise_Npsk2" SUITE,
		"Noise_XXfallback" SUITE, "Noise_XXhfs" SUITE,
		"Noise_XXpsk0+psk3+fallback" SUITE, "Noise_XXpsk-1" SUITE,
	};
	const uint8_t *psks[2] = { psk_a, psk_a };
	uint8_t s[32], pub[32], out[256], pt[256];
	struct kz_noise_handshake *hs = (void *)1, *r;
	size_t i, n;

	(void)state;
	fill(s, 32, 9);
	assert_int_equal(kz_noise_public_key(pub, s), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = kz_noise_new(&hs, bad[i], 1, NULL, 0, s, NULL, psks, 2,
		    NULL);

		if (rc != KZ_ERR_INVAL)
			fail_msg("\"%s\" accepted (%s)", bad[i], kz_errname(rc));
		assert_null(hs);
	}
	/* The psk count must match the modifiers. */
	assert_int_equal(kz_noise_new(&hs, LINK_PROTO, 1, NULL, 0, s, NULL,
	    psks, 1, NULL), KZ_ERR_INVAL);
	assert_int_equal(kz_noise_new(&hs, "Noise_XX" SUITE, 1, NULL, 0, s,
	    NULL, psks, 1, NULL), KZ_ERR_INVAL);
	/* Our static key is required when the pattern sends it. */
	assert_int_equal(kz_noise_new(&hs, LINK_PROTO, 1, NULL, 0, NULL, NULL,
	    psks, 2, NULL), KZ_ERR_INVAL);
	/* rs exactly when it is a pre-message. */
	assert_int_equal(kz_noise_new(&hs, "Noise_IK" SUITE, 1, NULL, 0, s,
	    NULL, NULL, 0, NULL), KZ_ERR_INVAL);
	assert_int_equal(kz_noise_new(&hs, "Noise_XX" SUITE, 1, NULL, 0, s,
	    pub, NULL, 0, NULL), KZ_ERR_INVAL);
	/* NULL arguments. */
	assert_int_equal(kz_noise_new(NULL, LINK_PROTO, 1, NULL, 0, s, NULL,
	    psks, 2, NULL), KZ_ERR_INVAL);
	assert_int_equal(kz_noise_new(&hs, NULL, 1, NULL, 0, s, NULL, psks, 2,
	    NULL), KZ_ERR_INVAL);
	assert_int_equal(kz_noise_new(&hs, LINK_PROTO, 1, NULL, 3, s, NULL,
	    psks, 2, NULL), KZ_ERR_INVAL);
	kz_noise_free(NULL);

	/* Out of turn: the responder may not write first; that ends it. */
	assert_int_equal(kz_noise_new(&r, LINK_PROTO, 0, NULL, 0, s, NULL,
	    psks, 2, NULL), 0);
	assert_int_equal(kz_noise_action(r), KZ_NOISE_READ);
	assert_int_equal(kz_noise_write_message(r, NULL, 0, out, sizeof(out),
	    &n), KZ_ERR_INVAL);
	assert_int_equal(kz_noise_action(r), KZ_NOISE_FAILED);
	kz_noise_free(r);
	/* The initiator may not read first, nor split early. */
	assert_int_equal(kz_noise_new(&hs, LINK_PROTO, 1, NULL, 0, s, NULL,
	    psks, 2, NULL), 0);
	{
		struct kz_noise_cipher a, b;

		assert_int_equal(kz_noise_split(hs, &a, &b), KZ_ERR_INVAL);
	}
	assert_null(kz_noise_handshake_hash(hs));
	assert_int_equal(kz_noise_read_message(hs, out, 48, pt, sizeof(pt), &n),
	    KZ_ERR_INVAL);
	kz_noise_free(hs);
}

/* The §7.3 and §9.3 validity rules that kz_noise_new() enforces. */
static void
test_pattern_rules(void **state)
{
	static const struct {
		const char *pre_i, *pre_r, *msgs[4];
		unsigned psk;
		int ok;
	} cases[] = {
		{ "", "", { "e", "e, ee, s, es", "s, se" }, 0, 1 },
		{ "", "", { "e", "e, ee, s, es", "s, se" }, 0x9, 1 },
		{ "", "", { "e", "s" }, 0, 1 },
		/* e sent twice; s sent twice (pre-message included). */
		{ "", "", { "e", "e, ee", "e" }, 0, 0 },
		{ "s", "", { "e, s", "e, ee" }, 0, 0 },
		/* DH with a key that does not exist yet; a DH repeated. */
		{ "", "", { "e, ee", "e" }, 0, 0 },
		{ "", "", { "e, es", "e, ee" }, 0, 0 },
		{ "", "", { "e", "e, ee, ee" }, 0, 0 },
		/* Payload after a DH with one's static key but without the
		 * matching ephemeral DH: KN without ee, NK without ee, ss
		 * without es. */
		{ "s", "", { "e", "e, se" }, 0, 0 },
		{ "", "s", { "e, es", "e" }, 0, 0 },
		{ "s", "s", { "e, ss", "e, ee, se" }, 0, 0 },
		/* After a psk, encrypting (s, or a bare payload) before one's
		 * own e. */
		{ "", "", { "e", "s" }, 0x2, 0 },
		{ "", "", { "e", "" }, 0, 1 },
		{ "", "", { "e", "" }, 0x2, 0 },
		/* Unknown token, pre-message e, no message, psk past the end. */
		{ "", "", { "e", "e, ex" }, 0, 0 },
		{ "e", "", { "e", "e, ee" }, 0, 0 },
		{ "", "", { NULL }, 0, 0 },
		{ "", "", { "e", "e, ee" }, 0x8, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = kz__noise_pattern_check(cases[i].pre_i, cases[i].pre_r,
		    cases[i].msgs, cases[i].psk);

		if (rc != (cases[i].ok ? 0 : KZ_ERR_INVAL))
			fail_msg("pattern case %zu: %s", i, kz_errname(rc));
	}
}

/*
 * Every pattern of the table, plain and with psk0 (random keys, random
 * ephemerals, empty and non-empty payloads): both sides agree on h, learn
 * each other's static key where the pattern sends it, and talk afterwards.
 */
static void
test_all_patterns_roundtrip(void **state)
{
	uint8_t si[32], si_pub[32], sr[32], sr_pub[32], msg[512], pt[512];
	const uint8_t *psks[1] = { psk_a };
	struct kz_noise_cipher c[2][2];
	size_t p, n, k;
	int psk;

	(void)state;
	assert_int_equal(kz_noise_keypair(si, si_pub), 0);
	assert_int_equal(kz_noise_keypair(sr, sr_pub), 0);
	for (p = 0; p < kz__noise_pattern_count(); p++) {
		for (psk = 0; psk < 2; psk++) {
			struct kz_noise_handshake *hs[2];
			const char *base = kz__noise_pattern_name(p);
			char name[96];
			int w, rc;

			snprintf(name, sizeof(name), "Noise_%s%s" SUITE, base,
			    psk ? "psk0" : "");
			/* Give rs only if the pattern wants it as a pre-message. */
			for (w = 0; w < 2; w++) {
				const uint8_t *mys = w ? sr : si;
				const uint8_t *rs = w ? si_pub : sr_pub;

				rc = kz_noise_new(&hs[w], name, w == 0, NULL, 0,
				    mys, NULL, psks, (size_t)psk, NULL);
				if (rc == KZ_ERR_INVAL)
					rc = kz_noise_new(&hs[w], name, w == 0,
					    NULL, 0, mys, rs, psks, (size_t)psk,
					    NULL);
				if (rc != 0)
					fail_msg("%s: new = %s", name,
					    kz_errname(rc));
			}
			for (k = 0; !kz_noise_done(hs[0]); k++) {
				w = (int)(k % 2);
				assert_int_equal(kz_noise_action(hs[w]),
				    KZ_NOISE_WRITE);
				assert_int_equal(kz_noise_write_message(hs[w],
				    (const uint8_t *)"pl", k % 2 ? 0 : 2, msg,
				    sizeof(msg), &n), 0);
				rc = kz_noise_read_message(hs[1 - w], msg, n, pt,
				    sizeof(pt), &n);
				if (rc != 0)
					fail_msg("%s: message %zu read = %s", name,
					    k + 1, kz_errname(rc));
			}
			assert_true(kz_noise_done(hs[1]));
			assert_memory_equal(kz_noise_handshake_hash(hs[0]),
			    kz_noise_handshake_hash(hs[1]), 64);
			/* Who knows whose static key: I is sent, K known, N none. */
			if (base[0] != 'N')
				assert_memory_equal(kz_noise_remote_static(hs[1]),
				    si_pub, 32);
			else
				assert_null(kz_noise_remote_static(hs[1]));
			if (strlen(base) == 1 || (base[1] != 'N' &&
			    !(base[1] == '1' && base[2] == 'N')))
				assert_memory_equal(kz_noise_remote_static(hs[0]),
				    sr_pub, 32);
			else
				assert_null(kz_noise_remote_static(hs[0]));
			assert_int_equal(kz_noise_split(hs[0], &c[0][0], &c[0][1]),
			    0);
			assert_int_equal(kz_noise_split(hs[1], &c[1][0], &c[1][1]),
			    0);
			assert_int_equal(kz_noise_encrypt(&c[0][0],
			    (const uint8_t *)"t", 1, msg, sizeof(msg), &n), 0);
			assert_int_equal(kz_noise_decrypt(&c[1][1], msg, n, pt,
			    sizeof(pt), &n), 0);
			kz_noise_free(hs[0]);
			kz_noise_free(hs[1]);
		}
	}
	sodium_memzero(si, sizeof(si));
	sodium_memzero(sr, sizeof(sr));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_derived_kats),
		cmocka_unit_test(test_link_pattern),
		cmocka_unit_test(test_random_ephemerals),
		cmocka_unit_test(test_wrong_psk),
		cmocka_unit_test(test_wrong_prologue),
		cmocka_unit_test(test_tampered_handshake),
		cmocka_unit_test(test_low_order_keys),
		cmocka_unit_test(test_transport_tamper_replay),
		cmocka_unit_test(test_nonce_exhaustion),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_rekey),
		cmocka_unit_test(test_one_way),
		cmocka_unit_test(test_bad_names_and_keys),
		cmocka_unit_test(test_pattern_rules),
		cmocka_unit_test(test_all_patterns_roundtrip),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
