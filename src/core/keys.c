/* Ed25519 key pairs, signing and verification over entry hashes. */
#include <sodium.h>

#include "kizuna/err.h"
#include "kizuna/keys.h"

int
kz_keypair_generate(struct kz_keypair *kp)
{
	if (crypto_sign_keypair(kp->pk, kp->sk) != 0)
		return KZ_ERR_CRYPTO;
	return 0;
}

int
kz_keypair_from_seed(struct kz_keypair *kp, const uint8_t seed[KZ_SEED_BYTES])
{
	if (crypto_sign_seed_keypair(kp->pk, kp->sk, seed) != 0)
		return KZ_ERR_CRYPTO;
	return 0;
}

void
kz_keypair_seed(uint8_t seed[KZ_SEED_BYTES], const struct kz_keypair *kp)
{
	crypto_sign_ed25519_sk_to_seed(seed, kp->sk);
}

void
kz_keypair_wipe(struct kz_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

int
kz_sign_hash(uint8_t sig[KZ_SIG_BYTES], const uint8_t hash[32],
    const struct kz_keypair *kp)
{
	if (crypto_sign_detached(sig, NULL, hash, 32, kp->sk) != 0)
		return KZ_ERR_CRYPTO;
	return 0;
}

int
kz_verify_hash(const uint8_t sig[KZ_SIG_BYTES], const uint8_t hash[32],
    const uint8_t author[KZ_PK_BYTES])
{
	if (crypto_sign_verify_detached(sig, hash, 32, author) != 0)
		return KZ_ERR_BAD_SIG;
	return 0;
}
