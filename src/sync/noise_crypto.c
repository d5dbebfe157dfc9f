/*
 * Noise crypto functions (§4), CipherState (§5.1) and SymmetricState (§5.2)
 * for 25519 / ChaChaPoly / BLAKE2b on libsodium 1.0.18.
 *
 * libsodium 1.0.18 has neither HMAC-BLAKE2b nor HKDF, so both are built here
 * from *unkeyed* BLAKE2b-512.  BLAKE2b's native keyed mode is a different
 * MAC, and Noise's HKDF analysis relies on HMAC's nested structure (§15.2),
 * so the key is never passed to crypto_generichash.  HMAC pads its key to
 * the 128-byte BLAKE2b block, not to HASHLEN (64).
 *
 * Invariants:
 *   - Every hash, HMAC and HKDF output is 64 bytes; every cipher key taken
 *     from an HKDF output is its first 32 bytes.
 *   - A CipherState's n only grows, only after a successful ENCRYPT or
 *     DECRYPT, and never wraps: n == UINT64_MAX refuses every use.
 *   - Temporaries holding key material are wiped before return.
 */
#include <string.h>

#include <sodium.h>

#include "kizuna/err.h"
#include "kizuna/noise.h"
#include "sync/noise_int.h"

void
kz__noise_hash(uint8_t out[KZ_NOISE_HASH_BYTES], const uint8_t *a,
    size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, KZ_NOISE_HASH_BYTES);
	if (alen > 0)
		crypto_generichash_update(&st, a, alen);
	if (blen > 0)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, KZ_NOISE_HASH_BYTES);
	sodium_memzero(&st, sizeof(st));
}

void
kz__noise_hmac(uint8_t out[KZ_NOISE_HASH_BYTES], const uint8_t *key,
    size_t keylen, const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2)
{
	uint8_t k[KZ__NOISE_BLOCKLEN], pad[KZ__NOISE_BLOCKLEN];
	uint8_t inner[KZ_NOISE_HASH_BYTES];
	crypto_generichash_state st;
	size_t i;

	/* K' = K zero-padded to the block, or HASH(K) padded if K is longer. */
	memset(k, 0, sizeof(k));
	if (keylen > KZ__NOISE_BLOCKLEN)
		kz__noise_hash(k, key, keylen, NULL, 0);
	else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)(k[i] ^ 0x36);
	crypto_generichash_init(&st, NULL, 0, KZ_NOISE_HASH_BYTES);
	crypto_generichash_update(&st, pad, sizeof(pad));
	if (l1 > 0)
		crypto_generichash_update(&st, d1, l1);
	if (l2 > 0)
		crypto_generichash_update(&st, d2, l2);
	crypto_generichash_final(&st, inner, sizeof(inner));

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)(k[i] ^ 0x5c);
	crypto_generichash_init(&st, NULL, 0, KZ_NOISE_HASH_BYTES);
	crypto_generichash_update(&st, pad, sizeof(pad));
	crypto_generichash_update(&st, inner, sizeof(inner));
	crypto_generichash_final(&st, out, KZ_NOISE_HASH_BYTES);

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void
kz__noise_hkdf(const uint8_t ck[KZ_NOISE_HASH_BYTES], const uint8_t *ikm,
    size_t ikmlen, int num, uint8_t o1[KZ_NOISE_HASH_BYTES],
    uint8_t o2[KZ_NOISE_HASH_BYTES], uint8_t *o3)
{
	static const uint8_t one = 0x01, two = 0x02, three = 0x03;
	uint8_t t[KZ_NOISE_HASH_BYTES];

	kz__noise_hmac(t, ck, KZ_NOISE_HASH_BYTES, ikm, ikmlen, NULL, 0);
	kz__noise_hmac(o1, t, sizeof(t), &one, 1, NULL, 0);
	kz__noise_hmac(o2, t, sizeof(t), o1, KZ_NOISE_HASH_BYTES, &two, 1);
	if (num == 3)
		kz__noise_hmac(o3, t, sizeof(t), o2, KZ_NOISE_HASH_BYTES,
		    &three, 1);
	sodium_memzero(t, sizeof(t));
}

void
kz__noise_nonce(uint8_t nonce[12], uint64_t n)
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int
kz__noise_dh(uint8_t out[KZ_NOISE_KEY_BYTES],
    const uint8_t priv[KZ_NOISE_KEY_BYTES],
    const uint8_t pub[KZ_NOISE_KEY_BYTES])
{
	/* -1 means an all-zero result: pub has small order (see noise.h). */
	if (crypto_scalarmult(out, priv, pub) != 0) {
		sodium_memzero(out, KZ_NOISE_KEY_BYTES);
		return KZ_ERR_BAD_KEY;
	}
	return 0;
}

/* ----------------------------------------------------- CipherState */

void
kz__noise_cipher_init(struct kz_noise_cipher *c,
    const uint8_t key[KZ_NOISE_KEY_BYTES])
{
	memcpy(c->k, key, KZ_NOISE_KEY_BYTES);
	c->n = 0;
	c->has_key = 1;
}

void
kz__noise_cipher_set_nonce(struct kz_noise_cipher *c, uint64_t n)
{
	c->n = n;
}

int
kz__noise_cipher_encrypt_ad(struct kz_noise_cipher *c, const uint8_t *ad,
    size_t adlen, const uint8_t *p, size_t plen, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	unsigned long long clen;

	if (!c->has_key) {
		if (plen > 0)
			memmove(out, p, plen);
		return 0;
	}
	if (c->n == UINT64_MAX)
		return KZ_ERR_TOO_BIG;
	kz__noise_nonce(nonce, c->n);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, p, plen, ad,
	    adlen, NULL, nonce, c->k) != 0)
		return KZ_ERR_CRYPTO;
	c->n++;
	return 0;
}

int
kz__noise_cipher_decrypt_ad(struct kz_noise_cipher *c, const uint8_t *ad,
    size_t adlen, const uint8_t *ct, size_t clen, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	unsigned long long plen;

	if (!c->has_key) {
		if (clen > 0)
			memmove(out, ct, clen);
		return 0;
	}
	if (c->n == UINT64_MAX)
		return KZ_ERR_TOO_BIG;
	if (clen < KZ_NOISE_TAG_BYTES)
		return KZ_ERR_TRUNCATED;
	kz__noise_nonce(nonce, c->n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, ct, clen,
	    ad, adlen, nonce, c->k) != 0) {
		if (out != NULL && clen > KZ_NOISE_TAG_BYTES)
			sodium_memzero(out, clen - KZ_NOISE_TAG_BYTES);
		return KZ_NOISE_ERR_AUTH;
	}
	c->n++;
	return 0;
}

/* -------------------------------------------------- SymmetricState */

void
kz__noise_sym_init(struct kz__noise_symmetric *ss, const char *name)
{
	size_t len = strlen(name);

	/* A name of at most HASHLEN bytes is padded, not hashed (§5.2). */
	memset(ss->h, 0, sizeof(ss->h));
	if (len <= sizeof(ss->h))
		memcpy(ss->h, name, len);
	else
		kz__noise_hash(ss->h, (const uint8_t *)name, len, NULL, 0);
	memcpy(ss->ck, ss->h, sizeof(ss->ck));
	sodium_memzero(&ss->cs, sizeof(ss->cs));
}

void
kz__noise_mix_hash(struct kz__noise_symmetric *ss, const uint8_t *data,
    size_t len)
{
	uint8_t h[KZ_NOISE_HASH_BYTES];

	kz__noise_hash(h, ss->h, sizeof(ss->h), data, len);
	memcpy(ss->h, h, sizeof(h));
}

void
kz__noise_mix_key(struct kz__noise_symmetric *ss, const uint8_t *ikm,
    size_t len)
{
	uint8_t ck[KZ_NOISE_HASH_BYTES], tk[KZ_NOISE_HASH_BYTES];

	kz__noise_hkdf(ss->ck, ikm, len, 2, ck, tk, NULL);
	memcpy(ss->ck, ck, sizeof(ck));
	kz__noise_cipher_init(&ss->cs, tk);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(tk, sizeof(tk));
}

void
kz__noise_mix_key_and_hash(struct kz__noise_symmetric *ss,
    const uint8_t *ikm, size_t len)
{
	uint8_t ck[KZ_NOISE_HASH_BYTES], th[KZ_NOISE_HASH_BYTES];
	uint8_t tk[KZ_NOISE_HASH_BYTES];

	/* The second output is hashed; the key is the third. */
	kz__noise_hkdf(ss->ck, ikm, len, 3, ck, th, tk);
	memcpy(ss->ck, ck, sizeof(ck));
	kz__noise_mix_hash(ss, th, sizeof(th));
	kz__noise_cipher_init(&ss->cs, tk);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(th, sizeof(th));
	sodium_memzero(tk, sizeof(tk));
}

int
kz__noise_encrypt_and_hash(struct kz__noise_symmetric *ss,
    const uint8_t *p, size_t plen, uint8_t *out)
{
	size_t clen = plen + (ss->cs.has_key ? KZ_NOISE_TAG_BYTES : 0);
	int rc;

	/* The AD is the whole 64-byte h; h then absorbs the ciphertext. */
	rc = kz__noise_cipher_encrypt_ad(&ss->cs, ss->h, sizeof(ss->h), p, plen,
	    out);
	if (rc < 0)
		return rc;
	kz__noise_mix_hash(ss, out, clen);
	return 0;
}

int
kz__noise_decrypt_and_hash(struct kz__noise_symmetric *ss,
    const uint8_t *ct, size_t clen, uint8_t *out)
{
	int rc;

	rc = kz__noise_cipher_decrypt_ad(&ss->cs, ss->h, sizeof(ss->h), ct, clen,
	    out);
	if (rc < 0)
		return rc;
	kz__noise_mix_hash(ss, ct, clen);
	return 0;
}

void
kz__noise_sym_split(struct kz__noise_symmetric *ss,
    struct kz_noise_cipher *c1, struct kz_noise_cipher *c2)
{
	uint8_t k1[KZ_NOISE_HASH_BYTES], k2[KZ_NOISE_HASH_BYTES];

	kz__noise_hkdf(ss->ck, NULL, 0, 2, k1, k2, NULL);
	kz__noise_cipher_init(c1, k1);
	kz__noise_cipher_init(c2, k2);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
}

void
kz__noise_sym_wipe(struct kz__noise_symmetric *ss)
{
	sodium_memzero(ss, sizeof(*ss));
}
