/*
 * Internals of the Noise module shared by src/sync/noise_*.c and its unit
 * test: the crypto functions of §4 (HASH, HMAC-HASH, HKDF, ENCRYPT/DECRYPT
 * through CipherState, DH), the SymmetricState of §5.2, the pattern table,
 * and test hooks.  Not part of the public API.
 */
#ifndef KZ_SYNC_NOISE_INT_H
#define KZ_SYNC_NOISE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kizuna/noise.h"

#define KZ__NOISE_BLOCKLEN 128  /* BLAKE2b block: the HMAC pad length */

/* SymmetricState (§5.2).  ck and the cipher key are secrets. */
struct kz__noise_symmetric {
	struct kz_noise_cipher cs;
	uint8_t ck[KZ_NOISE_HASH_BYTES];
	uint8_t h[KZ_NOISE_HASH_BYTES];
};

/* ------------------------------------------------------ crypto (§4) */

/* HASH(a || b): unkeyed BLAKE2b-512.  b may be NULL when blen is 0. */
void kz__noise_hash(uint8_t out[KZ_NOISE_HASH_BYTES], const uint8_t *a,
    size_t alen, const uint8_t *b, size_t blen);

/* HMAC-HASH(key, d1 || d2), RFC 2104 over BLAKE2b-512 with 128-byte blocks. */
void kz__noise_hmac(uint8_t out[KZ_NOISE_HASH_BYTES], const uint8_t *key,
    size_t keylen, const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2);

/*
 * HKDF(ck, ikm, num) with num 2 or 3 (§4.3): 64-byte outputs o1, o2 and,
 * when num is 3, o3 (else o3 may be NULL).
 */
void kz__noise_hkdf(const uint8_t ck[KZ_NOISE_HASH_BYTES], const uint8_t *ikm,
    size_t ikmlen, int num, uint8_t o1[KZ_NOISE_HASH_BYTES],
    uint8_t o2[KZ_NOISE_HASH_BYTES], uint8_t *o3);

/* The 12-byte ChaChaPoly nonce of n: 4 zero bytes || LE64(n). */
void kz__noise_nonce(uint8_t nonce[12], uint64_t n);

/* DH(priv, pub) = X25519.  Returns 0 or KZ_ERR_BAD_KEY (small order). */
int kz__noise_dh(uint8_t out[KZ_NOISE_KEY_BYTES],
    const uint8_t priv[KZ_NOISE_KEY_BYTES],
    const uint8_t pub[KZ_NOISE_KEY_BYTES]);

/* ------------------------------------------------- CipherState (§5.1) */

/* InitializeKey(key): k = key, n = 0. */
void kz__noise_cipher_init(struct kz_noise_cipher *c,
    const uint8_t key[KZ_NOISE_KEY_BYTES]);

/*
 * EncryptWithAd(ad, p) into out (plen + 16 bytes, or plen when c has no key:
 * then p is copied unchanged).  Returns 0, KZ_ERR_TOO_BIG (nonce used up) or
 * KZ_ERR_CRYPTO.
 */
int kz__noise_cipher_encrypt_ad(struct kz_noise_cipher *c, const uint8_t *ad,
    size_t adlen, const uint8_t *p, size_t plen, uint8_t *out);

/*
 * DecryptWithAd(ad, ct) into out (clen - 16 bytes, or clen without a key).
 * n moves only on success; on failure out is wiped.  Returns 0,
 * KZ_ERR_TRUNCATED, KZ_ERR_TOO_BIG (nonce used up) or KZ_NOISE_ERR_AUTH.
 */
int kz__noise_cipher_decrypt_ad(struct kz_noise_cipher *c, const uint8_t *ad,
    size_t adlen, const uint8_t *ct, size_t clen, uint8_t *out);

/* SetNonce(n) (§5.1); the tests use it to reach nonce exhaustion. */
void kz__noise_cipher_set_nonce(struct kz_noise_cipher *c, uint64_t n);

/* ---------------------------------------------- SymmetricState (§5.2) */

void kz__noise_sym_init(struct kz__noise_symmetric *ss, const char *name);
void kz__noise_mix_hash(struct kz__noise_symmetric *ss, const uint8_t *data,
    size_t len);
void kz__noise_mix_key(struct kz__noise_symmetric *ss, const uint8_t *ikm,
    size_t len);
void kz__noise_mix_key_and_hash(struct kz__noise_symmetric *ss,
    const uint8_t *ikm, size_t len);

/* EncryptAndHash(p) into out (plen, + 16 once a key exists). */
int kz__noise_encrypt_and_hash(struct kz__noise_symmetric *ss,
    const uint8_t *p, size_t plen, uint8_t *out);

/* DecryptAndHash(ct) into out (clen, - 16 once a key exists). */
int kz__noise_decrypt_and_hash(struct kz__noise_symmetric *ss,
    const uint8_t *ct, size_t clen, uint8_t *out);

/* Split(): c1 (initiator to responder) and c2 (the other way). */
void kz__noise_sym_split(struct kz__noise_symmetric *ss,
    struct kz_noise_cipher *c1, struct kz_noise_cipher *c2);

void kz__noise_sym_wipe(struct kz__noise_symmetric *ss);

/* ------------------------------------------------------ test hooks */

/* Number of base patterns in the table, and the name of the i-th. */
size_t kz__noise_pattern_count(void);
const char *kz__noise_pattern_name(size_t i);

/*
 * Expands and checks a pattern given in the spec's notation: pre-messages
 * "" or "s", up to four messages (NULL after the last), bit N of psk_mask
 * for a pskN modifier.  Returns 0 or KZ_ERR_INVAL (a §7.3/§9.3 rule broken).
 */
int kz__noise_pattern_check(const char *pre_i, const char *pre_r,
    const char *const msgs[4], unsigned psk_mask);

/* How many DH operations this handshake has performed so far. */
unsigned kz__noise_dh_count(const struct kz_noise_handshake *hs);

#endif
