/*
 * A link: one secure session with a peer over any byte stream, sans I/O.
 *
 * Bytes from the transport go in (kz_link_recv); bytes for the transport
 * come out (kz_link_send).  Inside:
 *
 *   Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b, both PSKs the mesh network
 *   key; the static keys are the node keys converted to X25519.  On the
 *   stream every Noise message is a u16 big-endian length and the message.
 *   After the handshake the transport messages carry the sync byte stream,
 *   in which each SyncMsg is a u32 big-endian length and the message.
 *
 * The peer's node key arrives in its sync Hello and must convert to the
 * static key the handshake authenticated, or the link closes.  A peer
 * without the network key fails at the responder's first read, before any
 * DH and before either side sends its static key.
 *
 *   HANDSHAKE ──(third message)──▶ OPEN ──(Bye, bad bytes, kz_link_close)──▶ CLOSED
 */
#ifndef KIZUNA_LINK_H
#define KIZUNA_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/keys.h"
#include "kizuna/store.h"
#include "kizuna/sync.h"

#define KZ_LINK_PROTOCOL "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b"

struct kz_link;

enum kz_link_state {
	KZ_LINK_HANDSHAKE,
	KZ_LINK_OPEN,
	KZ_LINK_CLOSED
};

struct kz_link_opts {
	struct kz_store *st;			/* borrowed */
	const struct kz_keypair *node;		/* borrowed: this node's key */
	const uint8_t *network_key;		/* borrowed: 32 bytes, the PSK */
	bool initiator;				/* we dialled */
	struct kz_sync_opts sync;		/* copied into the sync session */
};

struct kz_link_stats {
	uint64_t bytes_in, bytes_out;		/* on the transport */
	uint64_t handshake_bytes;		/* both ways */
	struct kz_sync_stats sync;
};

/* Returns 0, KZ_ERR_INVAL (missing key) or KZ_ERR_NOMEM. */
int kz_link_new(struct kz_link **out, const struct kz_link_opts *opts);

/* Accepts NULL; wipes every secret. */
void kz_link_free(struct kz_link *l);

/*
 * Bytes from the transport (any split).  Returns 0, or an error after
 * which the link is CLOSED (kz_link_reason says why): KZ_ERR_BAD_SIG (the
 * peer does not hold the network key, or bytes were altered),
 * KZ_ERR_MALFORMED, KZ_ERR_TOO_BIG, KZ_ERR_BAD_KEY; or a store error from
 * the sync session (the link stays open).
 */
int kz_link_recv(struct kz_link *l, const uint8_t *bytes, size_t len);

/*
 * The next bytes for the transport: 0 with *out (malloc'd, the caller
 * frees) and *len, 1 when nothing is due, or an error.  A CLOSED link may
 * still have a last frame (a Bye) to flush.
 */
int kz_link_send(struct kz_link *l, uint8_t **out, size_t *len);

/* A feed grew in the store: push it to this peer (in live mode). */
void kz_link_feed_grew(struct kz_link *l, const uint8_t feed[32]);

/* Ends the link with a Bye carrying reason (sent by the next kz_link_send). */
/* kz_sync_vector_again on an open link. */
int kz_link_vector_again(struct kz_link *l);

/* Queues a keepalive Ping on an open link (kz_sync_ping).  Returns 0 or
 * KZ_ERR_NOMEM. */
int kz_link_ping(struct kz_link *l);

void kz_link_close(struct kz_link *l, const char *reason);

enum kz_link_state kz_link_state(const struct kz_link *l);

/* The sync session's state (KZ_SYNC_HELLO during the handshake). */
enum kz_sync_state kz_link_sync_state(const struct kz_link *l);

/* The peer's node key once its Hello arrived and matched; else NULL. */
const uint8_t *kz_link_peer(const struct kz_link *l);

/* Why the link closed ("" while open). */
const char *kz_link_reason(const struct kz_link *l);

/* Nothing to send and nothing unacknowledged. */
bool kz_link_idle(const struct kz_link *l);

void kz_link_get_stats(const struct kz_link *l, struct kz_link_stats *out);

#endif
