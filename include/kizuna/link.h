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
 *   in which each SyncMsg is a u32 big-endian length and the message --
 *   compressed, when the handshake chose it, as one zstd stream per
 *   direction that every kz_link_send flushes (ZSTD_e_flush), so what was
 *   sent decodes at once.
 *
 * Compression is negotiated in the handshake payloads (docs/sync.md,
 * "Compression"):
 *
 *   message 1 (initiator)  empty: this node allows none (as before
 *                          compression existed, 208-byte handshake); else
 *                          01 | most allowed (0 none, 1 zstd, 2 zstd with a
 *                          dictionary) | the ids of the dictionaries it
 *                          holds, u32 big-endian each, best first (only
 *                          with 2; at most KZ_LINK_DICTS_MAX)
 *   message 2 (responder)  empty to an empty offer or one of an unknown
 *                          format (its first byte is not 01); else
 *                          01 | chosen mode | the chosen id (u32, with 2)
 *   message 3              empty
 *
 * The responder chooses the best both allow: a dictionary (the first of
 * the offer's that it holds), else plain zstd, else none.  Both payloads
 * are encrypted and covered by the handshake hash, so nobody without the
 * network key reads or alters them.
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

/* The zstd window of a link's stream, both ways (2^18 = 256 KiB): the
 * compressor's window and the most the decompressor accepts. */
#define KZ_LINK_WINDOW_LOG 18
/* Dictionaries one offer may list. */
#define KZ_LINK_DICTS_MAX 4
/* The built-in dictionary: Japanese disaster-coordination chat, version 1
 * (src/sync/dict/ja-chat-1.zdict, trained by tools/dict/train.c). */
#define KZ_LINK_DICT_JA_CHAT_1 0x4b5a0001u
/* zstd levels of the link profiles (docs/sync.md, "Compression"). */
#define KZ_LINK_LEVEL_LAN 1
#define KZ_LINK_LEVEL_RADIO 19

struct kz_link;

/* What a link may compress its sync stream with, in increasing order. */
enum kz_compress {
	KZ_COMPRESS_NONE = 0,
	KZ_COMPRESS_ZSTD = 1,		/* zstd, no dictionary */
	KZ_COMPRESS_DICT = 2		/* zstd with a shared dictionary */
};

/* A zstd dictionary (ZDICT format, its id in its header). */
struct kz_link_dict {
	uint32_t id;
	const uint8_t *bytes;		/* borrowed */
	size_t len;
};

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
	/*
	 * The most this link's profile allows (NONE, the zero value, keeps
	 * the stream as it is: a LAN link; a slow radio link allows DICT).
	 */
	enum kz_compress compress;
	/* zstd level of what this side sends (1..19); 0: 3. */
	int level;
	/*
	 * The dictionaries this node holds, best first, at most
	 * KZ_LINK_DICTS_MAX (borrowed: they must outlive the link); n_dicts
	 * 0: the built-in ones (kz_link_builtin_dicts).
	 */
	const struct kz_link_dict *dicts;
	size_t n_dicts;
	/*
	 * Plaintext one kz_link_send gathers before it seals (it stops after
	 * the sync frame that reaches it); 0: a quarter MiB.  A slow link
	 * takes 1, one frame a call, so what it queues below stays small and
	 * an urgent frame waits behind at most one other.
	 */
	size_t send_chunk;
};

struct kz_link_stats {
	uint64_t bytes_in, bytes_out;		/* on the transport */
	uint64_t handshake_bytes;		/* both ways */
	enum kz_compress compress;		/* chosen (NONE until open) */
	uint32_t dict_id;			/* with DICT: which */
	/*
	 * The sync stream (u32-framed SyncMsgs) before compression, and the
	 * same after it (what the Noise messages carry, tags excluded); the
	 * two are equal without compression.
	 */
	uint64_t stream_in, stream_out;
	uint64_t packed_in, packed_out;
	/* The most bytes the receiving side ever held for incomplete sync
	 * frames (bounded by one frame plus one decompression step). */
	uint64_t rx_buffer_peak;
	struct kz_sync_stats sync;
};

/*
 * The dictionaries built into this library (*n of them), best first.
 * Owned by the library.
 */
const struct kz_link_dict *kz_link_builtin_dicts(size_t *n);

/*
 * Returns 0, KZ_ERR_INVAL (missing key; a compress mode, level or number of
 * dictionaries out of range; a dictionary whose header does not carry its
 * id) or KZ_ERR_NOMEM.
 */
int kz_link_new(struct kz_link **out, const struct kz_link_opts *opts);

/* Accepts NULL; wipes every secret. */
void kz_link_free(struct kz_link *l);

/*
 * Bytes from the transport (any split).  Returns 0, or an error after
 * which the link is CLOSED (kz_link_reason says why): KZ_ERR_BAD_SIG (the
 * peer does not hold the network key, or bytes were altered),
 * KZ_ERR_MALFORMED (a bad handshake payload, a sync frame that is not one,
 * a compressed stream that does not decode, needs a window over 2^18 or
 * expands past what one kz_link_send can produce), KZ_ERR_TOO_BIG (a sync
 * frame over KZ_SYNC_FRAME_MAX), KZ_ERR_BAD_KEY; or a store error from the
 * sync session (the link stays open).
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

/* kz_sync_vector_again on an open link. */
int kz_link_vector_again(struct kz_link *l);

/* Queues a keepalive Ping on an open link (kz_sync_ping).  Returns 0 or
 * KZ_ERR_NOMEM. */
int kz_link_ping(struct kz_link *l);

/* Ends the link with a Bye carrying reason (sent by the next kz_link_send). */
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

/* When the sync session will have held-back frames to send (kz_sync_wake):
 * true with *at_ms, false when nothing is held. */
bool kz_link_wake(const struct kz_link *l, uint64_t *at_ms);

void kz_link_get_stats(const struct kz_link *l, struct kz_link_stats *out);

/* The tips its peer is known to hold (kz_sync_peer_tips). */
bool kz_link_peer_tips(const struct kz_link *l,
    void (*cb)(void *ctx, const uint8_t feed[32], uint64_t tip), void *ctx);

#endif
