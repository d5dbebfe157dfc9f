/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c) and the seed corpus
 * generator (gen_corpus.c): fixed keys, a deterministic randombytes so that
 * a recorded handshake replays exactly, the stores the sync and link targets
 * start from, and a little reader over the fuzz input.
 *
 * Everything here is deterministic: the same input always takes the same
 * path, so every crash file reproduces.  A fuzz target aborts (kzf_fail)
 * when an invariant breaks; libFuzzer then keeps the input as a crash.
 */
#ifndef KZ_FUZZ_UTIL_H
#define KZ_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/keys.h"
#include "kizuna/link.h"
#include "kizuna/store.h"
#include "kizuna/sync.h"

/* Keys of the fixed nodes: 0 is the mesh root, 1 the node a sync or link
 * target plays, 2 a node the sync target's admission refuses. */
#define KZF_NODES 3

/* The mesh network key (the links' PSK) and the Noise target's PSK. */
extern const uint8_t kzf_network_key[32];

/* The link prologue, as src/sync/link.c uses it. */
#define KZF_LINK_PROLOGUE "kizuna link 1"

/*
 * Installs the deterministic randombytes and calls sodium_init(); call once
 * from LLVMFuzzerInitialize (or main) before any other libsodium call.
 */
void kzf_init(void);

/* libFuzzer's initializer: a weak default in fuzz_util.c calls kzf_init();
 * a target that needs more defines its own. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Restarts the random stream at a fixed state (per input, per side). */
void kzf_rng_reset(uint64_t seed);

/* The key pair of fixed node i (0 .. KZF_NODES - 1). */
const struct kz_keypair *kzf_node(int i);

/* The X25519 static key pair a link derives from node i's key. */
void kzf_node_x25519(int i, uint8_t priv[32], uint8_t pub[32]);

/* A logger printing to stderr when KZF_DEBUG is set, else NULL. */
const struct kz_logger *kzf_logger(void);

/* Aborts with a message: an invariant a target checks is broken. */
void kzf_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((noreturn, format(printf, 1, 2)))
#endif
    ;

/*
 * True when the environment has KZF_SKIP_KNOWN set: the target should then
 * step around the open library bug named id (its reproducer is
 * tests/fuzz/crashes/<id>), so that a long run can look for others.  Known
 * bugs, until fixed: none (the two the first runs found, an empty first
 * transport message in src/sync/link.c and a NUL inside a join token's
 * address, are fixed and their reproducers stay in tests/fuzz/crashes/ as
 * regression inputs).
 */
bool kzf_known_bug(const char *id);

/* Prints a line to stderr when KZF_DEBUG is set in the environment (to see
 * how far a seed or a crash input gets). */
void kzf_debug(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#define KZF_CHECK(cond, ...)                                                  \
	do {                                                                  \
		if (!(cond))                                                  \
			kzf_fail(__VA_ARGS__);                                \
	} while (0)

/*
 * Opens an in-memory store holding node 1's own feed (3 posts, one
 * channel) with the mesh root set to node 0: the side the sync and link
 * targets play.  Aborts on failure (it is the harness, not the input).
 */
struct kz_store *kzf_store_b(void);

/*
 * Opens an in-memory store holding the mesh root's feed (node 0: mesh
 * create, admission of nodes 1 and 2, a channel, users, posts, an edit, a
 * reaction, an ack) plus node 2's feed: the peer the seeds were recorded
 * from.  Aborts on failure.
 */
struct kz_store *kzf_store_a(void);

/* The sync targets' admission rule: every feed but node 2's. */
bool kzf_accept_feed(void *ctx, const uint8_t feed[32]);

/* The session options of the sync target's node (feed_grew left NULL). */
void kzf_sync_opts(struct kz_sync_opts *o);

/* The options of the link target's responder on st. */
void kzf_link_opts(struct kz_link_opts *o, struct kz_store *st);

/* The random stream the link target restarts before each input. */
#define KZF_LINK_RNG_SEED 7

/* The fixed ephemeral key of the link target's own initiator. */
extern const uint8_t kzf_link_e_init[32];

/*
 * A file under /tmp unique to this process, rewritten with data on every
 * call (and removed at exit).  Returns its path (static storage).
 */
const char *kzf_tmpfile(const char *tag, const uint8_t *data, size_t len);

/* A cursor over the fuzz input. */
struct kzf_in {
	const uint8_t *p;
	size_t n;
};

/* The next byte (0 when empty). */
uint8_t kzf_u8(struct kzf_in *in);

/* The next big-endian u16 (missing bytes read as 0). */
uint16_t kzf_u16(struct kzf_in *in);

/* Up to want bytes; *got is how many there were. */
const uint8_t *kzf_take(struct kzf_in *in, size_t want, size_t *got);

/* Aborts unless kz_store_verify reads the store and finds every entry
 * intact. */
void kzf_check_store(struct kz_store *st, const char *what);

#endif
