/*
 * Small pure helpers shared by every layer: fixed-width big-endian integers,
 * hex, strict UTF-8 validation and key fingerprints.
 */
#ifndef KIZUNA_UTIL_H
#define KIZUNA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KZ_HASH_BYTES 32
#define KZ_FINGERPRINT_CHARS 16	/* hex characters shown for a key */

void kz_put_be32(uint8_t *p, uint32_t v);
void kz_put_be64(uint8_t *p, uint64_t v);
uint32_t kz_get_be32(const uint8_t *p);
uint64_t kz_get_be64(const uint8_t *p);

/* Writes 2*len lowercase hex characters and a NUL into out (2*len+1 bytes). */
void kz_hex(char *out, const uint8_t *in, size_t len);

/*
 * Parses exactly 2*len hex characters (either case) from in into out.
 * Returns 0, or KZ_ERR_INVAL if in is not exactly that.
 */
int kz_unhex(uint8_t *out, size_t len, const char *in);

/*
 * Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF,
 * no NUL bytes (text fields are also C strings).
 */
bool kz_utf8_valid(const uint8_t *s, size_t len);

/* The first KZ_FINGERPRINT_CHARS hex characters of a public key, NUL-ended. */
void kz_fingerprint(char out[KZ_FINGERPRINT_CHARS + 1], const uint8_t key[32]);

/* BLAKE2b-256 of len bytes. */
void kz_hash(uint8_t out[KZ_HASH_BYTES], const uint8_t *in, size_t len);

#endif
