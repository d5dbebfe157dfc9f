/*
 * The LAN discovery beacon codec (layout and rules in kizuna/beacon.h).
 * Every byte of a received datagram is checked before any field is used:
 * beacons come from anyone on the LAN.
 */
#include <string.h>

#include <sodium.h>

#include "kizuna/beacon.h"
#include "kizuna/err.h"

/* Domain separation: the mesh tag is never any other hash of the mesh id. */
static const char tag_key[] = "kizuna-beacon-v1";

#define OFF_VERSION 4
#define OFF_RESERVED 5
#define OFF_PORT 6
#define OFF_TAG 8
#define OFF_NODE (OFF_TAG + KZ_BEACON_TAG_BYTES)

void
kz_beacon_mesh_tag(uint8_t tag[KZ_BEACON_TAG_BYTES], const uint8_t mesh_id[32])
{
	crypto_generichash(tag, KZ_BEACON_TAG_BYTES, mesh_id, 32,
	    (const uint8_t *)tag_key, sizeof(tag_key) - 1);
}

int
kz_beacon_encode(uint8_t out[KZ_BEACON_BYTES], const struct kz_beacon *b)
{
	if (b->port == 0)
		return KZ_ERR_INVAL;
	memcpy(out, KZ_BEACON_MAGIC, 4);
	out[OFF_VERSION] = KZ_BEACON_VERSION;
	out[OFF_RESERVED] = 0;
	out[OFF_PORT] = (uint8_t)(b->port >> 8);
	out[OFF_PORT + 1] = (uint8_t)b->port;
	memcpy(out + OFF_TAG, b->mesh_tag, KZ_BEACON_TAG_BYTES);
	memcpy(out + OFF_NODE, b->node, 32);
	return 0;
}

int
kz_beacon_decode(struct kz_beacon *b, const uint8_t *buf, size_t len)
{
	uint16_t port;

	memset(b, 0, sizeof(*b));
	if (len < KZ_BEACON_BYTES)
		return KZ_ERR_TRUNCATED;
	if (len > KZ_BEACON_BYTES || memcmp(buf, KZ_BEACON_MAGIC, 4) != 0)
		return KZ_ERR_MALFORMED;
	if (buf[OFF_VERSION] != KZ_BEACON_VERSION)
		return KZ_ERR_SCHEMA;
	port = (uint16_t)(buf[OFF_PORT] << 8 | buf[OFF_PORT + 1]);
	if (buf[OFF_RESERVED] != 0 || port == 0)
		return KZ_ERR_MALFORMED;
	b->port = port;
	memcpy(b->mesh_tag, buf + OFF_TAG, KZ_BEACON_TAG_BYTES);
	memcpy(b->node, buf + OFF_NODE, 32);
	return 0;
}
