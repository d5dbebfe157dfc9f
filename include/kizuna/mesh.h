/*
 * Mesh credentials: the mesh id, the network key, the root node key and a
 * bootstrap address, as a node keeps them in DIR/mesh.key and as an admin
 * hands them to a new node in a join token.
 *
 * The network key is a secret shared by the mesh's nodes: it is the PSK of
 * every link's Noise handshake, so whoever holds it can open links to the
 * mesh's nodes.  A struct kz_mesh_creds holds it: wipe the struct with
 * kz_mesh_creds_wipe() before its memory is released, and never log the key
 * (kz_mesh_key_fingerprint() gives a one-way fingerprint of it to show).
 *
 * The mesh file (mode 0600, created with O_EXCL and fsynced; refused when
 * group or others may read it, as node.key is):
 *
 *   # comment lines
 *   kizuna-mesh: 1
 *   mesh-id: HEX64
 *   network-key: HEX64
 *   root: HEX64
 *   bootstrap: HOST:PORT        (optional)
 *
 * The join token is one line of text:
 *
 *   "kizuna1:" base32(payload | check)     RFC 4648 alphabet, no padding
 *   payload = version u8 (1) | mesh_id[32] | network_key[32] | root[32]
 *             | address_len u8 | address[address_len]
 *   check   = the first 4 bytes of BLAKE2b-256(payload)
 *
 * It is printed in lower case; the all-upper-case form ("KIZUNA1:...") is
 * the same token, which a QR code carries in its compact alphanumeric mode.
 * A token of mixed case is refused, so that every single-character change
 * of a token is either refused or decodes to different credentials.
 */
#ifndef KIZUNA_MESH_H
#define KIZUNA_MESH_H

#include <stddef.h>
#include <stdint.h>

#define KZ_MESH_FILE "mesh.key"
#define KZ_MESH_ID_BYTES 32
#define KZ_MESH_KEY_BYTES 32
/* Longest bootstrap address: a 100-byte host, IPv6 brackets, ":65535". */
#define KZ_MESH_ADDR_MAX 108
/* The token format this program writes. */
#define KZ_MESH_TOKEN_VERSION 1
#define KZ_MESH_TOKEN_PREFIX "kizuna1:"
/* Longest token text, NUL included. */
#define KZ_MESH_TOKEN_MAX \
	(sizeof(KZ_MESH_TOKEN_PREFIX) + \
	((1 + 3 * 32 + 1 + KZ_MESH_ADDR_MAX + 4) * 8 + 4) / 5)
/* Hex characters of kz_mesh_key_fingerprint(). */
#define KZ_MESH_KEY_FP_CHARS 16

struct kz_mesh_creds {
	uint8_t mesh_id[KZ_MESH_ID_BYTES];
	uint8_t network_key[KZ_MESH_KEY_BYTES];	/* secret */
	uint8_t root[32];			/* the root node's key */
	char address[KZ_MESH_ADDR_MAX + 1];	/* "HOST:PORT", or "" for none */
};

/* Zeroes the whole struct (the network key with it). */
void kz_mesh_creds_wipe(struct kz_mesh_creds *creds);

/*
 * Fresh credentials for a new mesh whose root is root (copied): a random
 * mesh id and network key, no address.  Returns 0.
 */
int kz_mesh_creds_new(struct kz_mesh_creds *creds, const uint8_t root[32]);

/*
 * Checks a bootstrap address: "HOST:PORT" where HOST is a DNS name, an IPv4
 * address or an IPv6 address in brackets (at most 100 bytes without them)
 * and PORT is 1 to 65535 in decimal.  Returns 0 or KZ_ERR_INVAL.
 */
int kz_mesh_address_check(const char *addr);

/*
 * The address a join token gives when none is chosen: the [net] listen
 * setting listen, when it names an address another node can reach (valid,
 * not a wildcard host, not port 0), copied into out.  Returns 0,
 * KZ_ERR_NOT_FOUND (listen is empty) or KZ_ERR_INVAL (unreachable).
 */
int kz_mesh_listen_address(const char *listen, char out[KZ_MESH_ADDR_MAX + 1]);

/*
 * Encodes creds (borrowed) as a token into out (outlen bytes; at least
 * KZ_MESH_TOKEN_MAX is always enough).  The text holds the network key:
 * wipe out when done.  Returns 0, or KZ_ERR_INVAL if creds->address is
 * neither empty nor a valid address, or out is too small.
 */
int kz_mesh_token_encode(char *out, size_t outlen,
    const struct kz_mesh_creds *creds);

/*
 * Decodes a token into *creds.  Returns 0, or, leaving *creds zeroed:
 *   KZ_ERR_INVAL      not a kizuna token (no "kizuna1:" prefix)
 *   KZ_ERR_SCHEMA     a token format this program does not know ("kizuna2:",
 *                     or a payload version other than 1)
 *   KZ_ERR_TRUNCATED  too short to be a token: part of it is missing
 *   KZ_ERR_MALFORMED  damaged: a character outside the alphabet, mixed case,
 *                     or (checksum correct) fields that do not parse
 *   KZ_ERR_CORRUPT    damaged: the checksum does not match
 * kz_mesh_token_strerror() words each for the user.
 */
int kz_mesh_token_decode(struct kz_mesh_creds *creds, const char *text);

/* A static message for a kz_mesh_token_decode() result (never NULL). */
const char *kz_mesh_token_strerror(int rc);

/*
 * The first KZ_MESH_KEY_FP_CHARS hex characters of a keyed BLAKE2b hash of
 * the network key: shows which key a node holds without revealing it.
 */
void kz_mesh_key_fingerprint(char out[KZ_MESH_KEY_FP_CHARS + 1],
    const uint8_t key[KZ_MESH_KEY_BYTES]);

/*
 * Writes DIR/mesh.key (mode 0600, never replacing one; fsynced, then the
 * folder).  creds is borrowed.  Returns 0, KZ_ERR_EXISTS, KZ_ERR_INVAL (a
 * bad address or path), KZ_ERR_FULL or KZ_ERR_IO (errno set).
 */
int kz_mesh_file_write(const char *dir, const struct kz_mesh_creds *creds);

/*
 * Reads DIR/mesh.key into *creds (the caller wipes it).  Returns 0,
 * KZ_ERR_NOT_FOUND (no file: the node holds no network key),
 * KZ_ERR_KEY_PERMS (group or others may read it), KZ_ERR_SCHEMA (a newer
 * file version), KZ_ERR_BAD_KEY (not a mesh file) or KZ_ERR_IO (errno set).
 * On error *creds is zeroed.
 */
int kz_mesh_file_read(const char *dir, struct kz_mesh_creds *creds);

/*
 * Removes DIR/mesh.key: for undoing a write whose command then failed.
 * Returns 0, KZ_ERR_NOT_FOUND or KZ_ERR_IO.
 */
int kz_mesh_file_remove(const char *dir);

#endif
