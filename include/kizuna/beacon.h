/*
 * LAN discovery beacons: the small fixed datagram a node sends to its LAN
 * every few seconds so that members of its mesh find it without a
 * configured peer list (kizunad's src/daemon/discovery.c sends and hears
 * them).  Pure code: no sockets, no clock.
 *
 * A beacon carries no secret: it says "a node of the mesh with this tag,
 * whose node key is this, accepts links on this TCP port".  Whoever hears
 * it may dial that port, and the link's Noise handshake (psk0 = the network
 * key) then decides: a node without the network key learns nothing, not
 * even the responder's node key.  A forged beacon can at worst make a node
 * try a handshake that fails.
 *
 * Layout (56 bytes, big-endian):
 *
 *   offset  size  field
 *        0     4  magic "KZB1"
 *        4     1  version (1)
 *        5     1  reserved, 0
 *        6     2  TCP port the node listens on (1 to 65535)
 *        8    16  mesh tag = BLAKE2b-128 of the mesh id, keyed with
 *                 "kizuna-beacon-v1" (so a listener learns which beacons
 *                 are of one mesh, but not the mesh id a join token holds)
 *       24    32  node key (Ed25519 public key)
 *
 * The decoder is strict: exactly 56 bytes, the magic, version 1, a zero
 * reserved byte and a port other than 0, or the datagram is refused.
 */
#ifndef KIZUNA_BEACON_H
#define KIZUNA_BEACON_H

#include <stddef.h>
#include <stdint.h>

#define KZ_BEACON_BYTES 56
#define KZ_BEACON_VERSION 1
#define KZ_BEACON_MAGIC "KZB1"
#define KZ_BEACON_TAG_BYTES 16

struct kz_beacon {
	uint8_t mesh_tag[KZ_BEACON_TAG_BYTES];
	uint8_t node[32];
	uint16_t port;
};

/* The mesh tag of a mesh id (32 bytes, borrowed). */
void kz_beacon_mesh_tag(uint8_t tag[KZ_BEACON_TAG_BYTES],
    const uint8_t mesh_id[32]);

/*
 * Encodes b (borrowed) into out.  Returns 0, or KZ_ERR_INVAL when b->port
 * is 0 (no node to dial).
 */
int kz_beacon_encode(uint8_t out[KZ_BEACON_BYTES], const struct kz_beacon *b);

/*
 * Decodes len bytes of buf (borrowed) into *b.  Returns 0, or, leaving *b
 * zeroed:
 *   KZ_ERR_TRUNCATED  shorter than a beacon
 *   KZ_ERR_MALFORMED  longer than a beacon, another magic, a reserved byte
 *                     other than 0 or port 0
 *   KZ_ERR_SCHEMA     the magic is right but the version is not 1
 */
int kz_beacon_decode(struct kz_beacon *b, const uint8_t *buf, size_t len);

#endif
