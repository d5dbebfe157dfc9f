/*
 * Node keys: Ed25519 key pairs (libsodium).
 *
 * A struct kz_keypair holds a secret: wipe it with kz_keypair_wipe() before
 * its memory is released, and never log it (log kz_fingerprint() instead).
 */
#ifndef KIZUNA_KEYS_H
#define KIZUNA_KEYS_H

#include <stdint.h>

#define KZ_PK_BYTES 32
#define KZ_SK_BYTES 64
#define KZ_SEED_BYTES 32
#define KZ_SIG_BYTES 64

struct kz_keypair {
	uint8_t pk[KZ_PK_BYTES];
	uint8_t sk[KZ_SK_BYTES];
};

/* A fresh random key pair.  Returns 0 or KZ_ERR_CRYPTO. */
int kz_keypair_generate(struct kz_keypair *kp);

/* The key pair of a 32-byte seed (deterministic; for tests and key files). */
int kz_keypair_from_seed(struct kz_keypair *kp, const uint8_t seed[KZ_SEED_BYTES]);

/* Copies the 32-byte seed out of kp (the secret part). */
void kz_keypair_seed(uint8_t seed[KZ_SEED_BYTES], const struct kz_keypair *kp);

void kz_keypair_wipe(struct kz_keypair *kp);

/* Signs a 32-byte hash.  Returns 0 or KZ_ERR_CRYPTO. */
int kz_sign_hash(uint8_t sig[KZ_SIG_BYTES], const uint8_t hash[32],
    const struct kz_keypair *kp);

/* Returns 0 if sig is author's signature of hash, else KZ_ERR_BAD_SIG. */
int kz_verify_hash(const uint8_t sig[KZ_SIG_BYTES], const uint8_t hash[32],
    const uint8_t author[KZ_PK_BYTES]);

#endif
