/*
 * Noise Protocol Framework, revision 34, instantiated as
 * 25519 / ChaChaPoly / BLAKE2b on libsodium (pure code: no sockets, files,
 * clock or globals).
 *
 * A link starts with Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b (DESIGN.md,
 * "Replication"), but the machinery is general: every fundamental, one-way
 * and deferred pattern of rev 34 with any pskN modifiers ("XXpsk0+psk3") is
 * driven from one table of message patterns.  The fallback and hfs modifiers
 * are not supported.
 *
 * Life of a handshake (who calls what):
 *
 *   kz_noise_new() --> RUNNING --+-- kz_noise_write_message() or
 *                         ^      |   kz_noise_read_message(), in the order
 *                         |      |   kz_noise_action() gives
 *                         +------+ messages left
 *                                | last message written or read
 *                                v
 *                              DONE --kz_noise_split()--> SPLIT
 *
 *   Any error from write/read --> [FAILED]: every secret and every learnt
 *   key is wiped, later calls return KZ_ERR_INVAL, and nothing more is ever
 *   produced.  kz_noise_free() works in every state.
 *
 * Keys are raw X25519 keys (32 bytes).  A private key is any 32 bytes (X25519
 * clamps it); its public key is kz_noise_public_key().  kizuna's node keys are
 * Ed25519: convert them with crypto_sign_ed25519_sk_to_curve25519() and
 * crypto_sign_ed25519_pk_to_curve25519() before handing them in.
 *
 * Error codes used here (all from kizuna/err.h):
 *   KZ_ERR_INVAL      bad argument, unknown or invalid protocol name, missing
 *                     key for the pattern, wrong psk count, call out of turn
 *                     or on a failed/finished handshake, transport cipher
 *                     without a key
 *   KZ_ERR_TRUNCATED  a message shorter than its pattern needs
 *   KZ_ERR_TOO_BIG    a message over KZ_NOISE_MAX_MSG, an output buffer too
 *                     small, or a transport cipher whose nonce is used up
 *   KZ_NOISE_ERR_AUTH the AEAD tag does not verify: altered bytes, wrong
 *                     PSK, wrong prologue, wrong static key, replay or
 *                     reordering (an alias of KZ_ERR_BAD_SIG)
 *   KZ_ERR_BAD_KEY    a remote public key of small order (X25519 result all
 *                     zeros); see below
 *   KZ_ERR_NOMEM, KZ_ERR_CRYPTO  allocation or libsodium failure
 *
 * Low-order keys.  Noise §12.1 lets 25519 either ignore invalid public keys
 * (DH output all zeros) or signal an error.  We signal: libsodium's
 * crypto_scalarmult() returns -1 for every small-order point, and such a DH
 * fails the handshake with KZ_ERR_BAD_KEY.  An all-zero shared secret would
 * let a peer force a known key contribution, and every node runs the same
 * library, so refusing costs no interoperability inside the mesh.
 *
 * Call sodium_init() before any function here.
 */
#ifndef KIZUNA_NOISE_H
#define KIZUNA_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "kizuna/err.h"

#define KZ_NOISE_KEY_BYTES 32   /* DHLEN, cipher key and PSK length */
#define KZ_NOISE_HASH_BYTES 64  /* HASHLEN of BLAKE2b */
#define KZ_NOISE_TAG_BYTES 16   /* Poly1305 tag appended to ciphertexts */
#define KZ_NOISE_MAX_MSG 65535  /* any Noise message, tags included (§3) */
#define KZ_NOISE_MAX_PAYLOAD (KZ_NOISE_MAX_MSG - KZ_NOISE_TAG_BYTES)
#define KZ_NOISE_MAX_PSKS 5     /* psk0 .. psk4: patterns have <= 4 messages */

/* The code for "authentication tag does not verify". */
#define KZ_NOISE_ERR_AUTH KZ_ERR_BAD_SIG

/*
 * A transport CipherState (§5.1): one direction of a session.  Fields are
 * private; the struct is public so that a link can embed it.  It holds a
 * secret: kz_noise_cipher_wipe() it before its memory is released.
 */
struct kz_noise_cipher {
	uint8_t k[KZ_NOISE_KEY_BYTES];
	uint64_t n;      /* next nonce; UINT64_MAX means used up */
	int has_key;     /* 0: unusable (one-way reverse direction, wiped) */
};

struct kz_noise_handshake;

/* What the handshake expects next. */
enum kz_noise_action {
	KZ_NOISE_WRITE,  /* call kz_noise_write_message() */
	KZ_NOISE_READ,   /* call kz_noise_read_message() */
	KZ_NOISE_SPLIT,  /* all messages done: call kz_noise_split() */
	KZ_NOISE_IDLE,   /* split already done; nothing left */
	KZ_NOISE_FAILED  /* failed: free it */
};

/*
 * Starts a handshake.
 *   protocol     borrowed; e.g. "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b".
 *                Only the 25519_ChaChaPoly_BLAKE2b suite is accepted.
 *   initiator    1 for the initiator, 0 for the responder.
 *   prologue     copied (hashed at once); may be NULL when prologue_len is 0.
 *                Both sides must pass the same bytes or the first AEAD
 *                check fails.
 *   s            copied; our 32-byte static private key, or NULL.  Required
 *                when the pattern uses our static key, ignored otherwise.
 *   rs           copied; the peer's 32-byte static public key, or NULL.
 *                Required exactly when the pattern has the peer's static key
 *                as a pre-message (NK, IK, XK, ...); passing it for any other
 *                pattern is KZ_ERR_INVAL, since it would not be checked.
 *   psks         copied; n_psks pointers to 32-byte keys, one per psk
 *                token in token order (psk0 first).  n_psks must equal the
 *                number of pskN modifiers.  The same key may appear twice.
 *   ephemeral    copied; a fixed 32-byte ephemeral private key for test
 *                vectors only.  Pass NULL in real use: the key then comes
 *                from randombytes_buf() when the e token is written.
 * On success *hsp is a new handshake owned by the caller (kz_noise_free()).
 * Returns 0, KZ_ERR_INVAL, KZ_ERR_NOMEM or KZ_ERR_CRYPTO.
 */
int kz_noise_new(struct kz_noise_handshake **hsp, const char *protocol,
    int initiator, const uint8_t *prologue, size_t prologue_len,
    const uint8_t *s, const uint8_t *rs, const uint8_t *const *psks,
    size_t n_psks, const uint8_t *ephemeral);

/* Wipes and frees; accepts NULL and handshakes in any state. */
void kz_noise_free(struct kz_noise_handshake *hs);

/* The next step expected (never fails; hs must not be NULL). */
enum kz_noise_action kz_noise_action(const struct kz_noise_handshake *hs);

/* 1 once every handshake message has been written or read, else 0. */
int kz_noise_done(const struct kz_noise_handshake *hs);

/*
 * Writes the next handshake message carrying payload (borrowed, len bytes,
 * may be empty) into out (out_cap bytes; must not overlap payload).  The
 * whole message, payload included, is at most KZ_NOISE_MAX_MSG bytes, so
 * out_cap = KZ_NOISE_MAX_MSG always suffices.  On success *outlen is the
 * message length.  The payload of a message written before any key exists
 * (e.g. message 1 of XX) travels in clear.
 * Returns 0, or an error after which the handshake is FAILED: KZ_ERR_INVAL
 * (not our turn, failed or finished handshake), KZ_ERR_TOO_BIG (message over
 * the limit or out_cap too small), KZ_ERR_BAD_KEY (small-order remote key),
 * KZ_ERR_CRYPTO.
 */
int kz_noise_write_message(struct kz_noise_handshake *hs,
    const uint8_t *payload, size_t len, uint8_t *out, size_t out_cap,
    size_t *outlen);

/*
 * Reads the next handshake message msg (borrowed, len bytes) and writes its
 * payload into payload_out (payload_cap bytes; payload_cap >= len always
 * suffices; must not overlap msg).  On success *payload_len is its length.
 * Returns 0, or an error after which the handshake is FAILED: KZ_ERR_INVAL,
 * KZ_ERR_TOO_BIG (len over the limit or payload_cap too small),
 * KZ_ERR_TRUNCATED, KZ_NOISE_ERR_AUTH, KZ_ERR_BAD_KEY.  On error nothing is
 * left in payload_out.
 */
int kz_noise_read_message(struct kz_noise_handshake *hs, const uint8_t *msg,
    size_t len, uint8_t *payload_out, size_t payload_cap,
    size_t *payload_len);

/*
 * Split() after the last message: fills send (our direction) and recv (the
 * peer's), both owned by the caller, and wipes the handshake's remaining
 * secrets.  In a one-way pattern (N, K, X...) the initiator's recv and the
 * responder's send have no key and refuse every use.  Callable once, in
 * state DONE; returns 0 or KZ_ERR_INVAL.
 */
int kz_noise_split(struct kz_noise_handshake *hs, struct kz_noise_cipher *send,
    struct kz_noise_cipher *recv);

/*
 * The peer's static public key (32 bytes, owned by hs, valid until
 * kz_noise_free()), or NULL while it is not known or after a failure.  Whether
 * that key is acceptable is the caller's decision (Noise §14).
 */
const uint8_t *kz_noise_remote_static(const struct kz_noise_handshake *hs);

/*
 * The handshake hash h (64 bytes, owned by hs) once every message is done,
 * else NULL.  Both sides hold the same value: use it for channel binding.
 */
const uint8_t *kz_noise_handshake_hash(const struct kz_noise_handshake *hs);

/*
 * Transport message: encrypts payload (borrowed, len <= KZ_NOISE_MAX_PAYLOAD)
 * with the next nonce into out (out_cap >= len + KZ_NOISE_TAG_BYTES; must not
 * overlap payload); *outlen = len + 16.  Returns 0, KZ_ERR_INVAL (no key),
 * KZ_ERR_TOO_BIG (payload too long, out_cap too small, or nonce used up:
 * after 2^64-1 messages the session must be replaced) or KZ_ERR_CRYPTO.
 */
int kz_noise_encrypt(struct kz_noise_cipher *c, const uint8_t *payload,
    size_t len, uint8_t *out, size_t out_cap, size_t *outlen);

/*
 * Decrypts a transport message msg (borrowed, 16 <= len <= KZ_NOISE_MAX_MSG)
 * with the next nonce into out (out_cap >= len - 16; must not overlap msg).
 * Nonces are implicit, so a replayed, lost or reordered message fails.  On
 * failure the nonce does not move and out holds nothing; the caller should
 * end the session.  Returns 0, KZ_ERR_INVAL, KZ_ERR_TRUNCATED,
 * KZ_ERR_TOO_BIG or KZ_NOISE_ERR_AUTH.
 */
int kz_noise_decrypt(struct kz_noise_cipher *c, const uint8_t *msg,
    size_t len, uint8_t *out, size_t out_cap, size_t *outlen);

/*
 * Rekey() (§11.3): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros).  The
 * nonce keeps counting.  Both ends must rekey at the same message boundary;
 * when is the application's rule.  Returns 0, KZ_ERR_INVAL or KZ_ERR_CRYPTO.
 */
int kz_noise_rekey(struct kz_noise_cipher *c);

/* Wipes a cipher (key and nonce); it then refuses every use. */
void kz_noise_cipher_wipe(struct kz_noise_cipher *c);

/*
 * A fresh random X25519 key pair (priv is a secret: wipe it).  Returns 0 or
 * KZ_ERR_CRYPTO.
 */
int kz_noise_keypair(uint8_t priv[KZ_NOISE_KEY_BYTES],
    uint8_t pub[KZ_NOISE_KEY_BYTES]);

/* The X25519 public key of priv.  Returns 0 or KZ_ERR_CRYPTO. */
int kz_noise_public_key(uint8_t pub[KZ_NOISE_KEY_BYTES],
    const uint8_t priv[KZ_NOISE_KEY_BYTES]);

#endif
