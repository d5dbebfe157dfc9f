/*
 * A secure link over a byte stream (framing and states in kizuna/link.h).
 *
 * Transitions:
 *   kz_link_new        initiator writes Noise message 1        (HANDSHAKE)
 *   handshake_step     read a message; write the next; after the last,
 *                      Split() gives the transport ciphers      (OPEN)
 *   open_step          decrypt; cut the plaintext into sync frames for
 *                      kz_sync_receive; bind the peer's node key (its
 *                      Hello) to the static key the handshake authenticated
 *   kz_link_send       pull sync frames, encrypt them in Noise messages
 *   errors, kz_link_close, a Bye                                 (CLOSED)
 *
 * Buffers are bounded: a Noise message is at most 65,535 bytes (u16
 * length), a sync frame at most KZ_SYNC_FRAME_MAX (checked before any
 * allocation), and at most a quarter MiB of plaintext is encrypted per
 * kz_link_send call so the transport interleaves links fairly.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/noise.h"
#include "kizuna/util.h"

#define PROLOGUE "kizuna link 1"
#define SEND_CHUNK (256 * 1024)

struct buf {
	uint8_t *p;
	size_t len, cap;
};

struct kz_link {
	struct kz_link_opts o;
	enum kz_link_state state;
	struct kz_noise_handshake *hs;
	struct kz_noise_cipher tx, rx;
	uint8_t remote_x[32];		/* the peer's static key (X25519) */
	struct kz_sync *sync;
	struct buf in;			/* transport bytes not yet a whole message */
	struct buf plain;		/* decrypted sync stream not yet a whole frame */
	struct buf out;			/* bytes for the transport */
	bool peer_ok;
	char reason[160];
	struct kz_link_stats stats;
};

static int
buf_append(struct buf *b, const uint8_t *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		void *q;

		while (cap < b->len + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (q == NULL)
			return KZ_ERR_NOMEM;
		b->p = q;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void
buf_consume(struct buf *b, size_t n)
{
	if (n == 0)
		return;
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static void
buf_free(struct buf *b, bool wipe)
{
	if (wipe && b->p != NULL)
		sodium_memzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int
fail(struct kz_link *l, int rc, const char *what)
{
	if (l->state != KZ_LINK_CLOSED) {
		snprintf(l->reason, sizeof(l->reason), "%s: %s", what, kz_strerror(rc));
		kz_log(l->o.sync.log, KZ_LOG_WARN, "%s: link closed: %s",
		    l->o.sync.peer_name ? l->o.sync.peer_name : "peer", l->reason);
	}
	l->state = KZ_LINK_CLOSED;
	kz_noise_free(l->hs);
	l->hs = NULL;
	/* Nothing more goes out on a link that failed. */
	kz_noise_cipher_wipe(&l->tx);
	return rc;
}

/* Frames one Noise message onto the outgoing bytes. */
static int
put_message(struct kz_link *l, const uint8_t *msg, size_t len)
{
	uint8_t pre[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	int rc = buf_append(&l->out, pre, 2);

	return rc == 0 ? buf_append(&l->out, msg, len) : rc;
}

static int
write_handshake(struct kz_link *l)
{
	uint8_t msg[KZ_NOISE_MAX_MSG];
	size_t len;
	int rc = kz_noise_write_message(l->hs, NULL, 0, msg, sizeof(msg), &len);

	if (rc < 0)
		return fail(l, rc, "handshake");
	l->stats.handshake_bytes += len;
	return put_message(l, msg, len);
}

static int
finish_handshake(struct kz_link *l)
{
	const uint8_t *rs = kz_noise_remote_static(l->hs);
	int rc;

	if (rs == NULL)
		return fail(l, KZ_ERR_BAD_KEY, "handshake");
	memcpy(l->remote_x, rs, 32);
	if ((rc = kz_noise_split(l->hs, &l->tx, &l->rx)) < 0)
		return fail(l, rc, "handshake");
	kz_noise_free(l->hs);
	l->hs = NULL;
	l->state = KZ_LINK_OPEN;
	return 0;
}

int
kz_link_new(struct kz_link **out, const struct kz_link_opts *opts)
{
	struct kz_link *l;
	uint8_t x_sk[32];
	const uint8_t *psks[2];
	int rc;

	*out = NULL;
	if (opts->st == NULL || opts->node == NULL || opts->network_key == NULL)
		return KZ_ERR_INVAL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return KZ_ERR_NOMEM;
	l->o = *opts;
	if (crypto_sign_ed25519_sk_to_curve25519(x_sk, opts->node->sk) != 0) {
		rc = KZ_ERR_BAD_KEY;
		goto fail;
	}
	psks[0] = psks[1] = opts->network_key;
	rc = kz_noise_new(&l->hs, KZ_LINK_PROTOCOL, opts->initiator,
	    (const uint8_t *)PROLOGUE, strlen(PROLOGUE), x_sk, NULL, psks, 2, NULL);
	sodium_memzero(x_sk, sizeof(x_sk));
	if (rc < 0)
		goto fail;
	if ((rc = kz_sync_new(&l->sync, opts->st, opts->node->pk, &opts->sync)) < 0 ||
	    (rc = kz_sync_start(l->sync)) < 0)
		goto fail;
	l->state = KZ_LINK_HANDSHAKE;
	if (opts->initiator && (rc = write_handshake(l)) < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	kz_link_free(l);
	return rc;
}

void
kz_link_free(struct kz_link *l)
{
	if (l == NULL)
		return;
	kz_noise_free(l->hs);
	kz_noise_cipher_wipe(&l->tx);
	kz_noise_cipher_wipe(&l->rx);
	kz_sync_free(l->sync);
	buf_free(&l->in, true);
	buf_free(&l->plain, true);
	buf_free(&l->out, false);
	free(l);
}

/* ------------------------------------------------------------ receiving */

static int
handshake_step(struct kz_link *l, const uint8_t *msg, size_t len)
{
	uint8_t payload[KZ_NOISE_MAX_MSG];
	size_t plen;
	int rc;

	l->stats.handshake_bytes += len;
	rc = kz_noise_read_message(l->hs, msg, len, payload, sizeof(payload), &plen);
	if (rc < 0)
		return fail(l, rc, rc == KZ_ERR_BAD_SIG ? "handshake refused (wrong "
		    "network key, or altered bytes)" : "handshake");
	if (kz_noise_action(l->hs) == KZ_NOISE_WRITE && (rc = write_handshake(l)) < 0)
		return rc;
	if (kz_noise_action(l->hs) == KZ_NOISE_SPLIT)
		return finish_handshake(l);
	return 0;
}

/* The peer's Hello names its node key: it must be the handshake's. */
static int
bind_peer(struct kz_link *l)
{
	const uint8_t *node = kz_sync_peer(l->sync);
	uint8_t x[32];

	if (l->peer_ok || node == NULL)
		return 0;
	if (crypto_sign_ed25519_pk_to_curve25519(x, node) != 0 ||
	    sodium_memcmp(x, l->remote_x, 32) != 0) {
		(void)kz_sync_bye(l->sync, "node key does not match the handshake");
		return fail(l, KZ_ERR_BAD_KEY, "peer's node key does not match its "
		    "handshake key");
	}
	l->peer_ok = true;
	return 0;
}

static int
open_step(struct kz_link *l, const uint8_t *msg, size_t len)
{
	uint8_t plain[KZ_NOISE_MAX_MSG];
	size_t plen, off = 0;
	int rc;

	rc = kz_noise_decrypt(&l->rx, msg, len, plain, sizeof(plain), &plen);
	if (rc < 0)
		return fail(l, rc, "transport");
	rc = buf_append(&l->plain, plain, plen);
	sodium_memzero(plain, plen);
	if (rc < 0)
		return rc;
	/* Whole sync frames: u32 length, SyncMsg. */
	while (l->plain.len - off >= 4) {
		uint32_t flen = kz_get_be32(l->plain.p + off);

		if (flen > KZ_SYNC_FRAME_MAX)
			return fail(l, KZ_ERR_TOO_BIG, "sync frame");
		if (l->plain.len - off - 4 < flen)
			break;
		rc = kz_sync_receive(l->sync, l->plain.p + off + 4, flen);
		off += 4 + (size_t)flen;
		if (rc == KZ_ERR_MALFORMED || rc == KZ_ERR_TOO_BIG) {
			buf_consume(&l->plain, off);
			return fail(l, rc, "sync");
		}
		if (rc == 0)
			rc = bind_peer(l);
		if (rc < 0) {
			buf_consume(&l->plain, off);
			return rc;
		}
		if (kz_sync_state(l->sync) == KZ_SYNC_CLOSED) {
			snprintf(l->reason, sizeof(l->reason), "%s",
			    kz_sync_reason(l->sync));
			l->state = KZ_LINK_CLOSED;
			break;
		}
	}
	buf_consume(&l->plain, off);
	return 0;
}

int
kz_link_recv(struct kz_link *l, const uint8_t *bytes, size_t len)
{
	int rc = 0;

	if (l->state == KZ_LINK_CLOSED)
		return KZ_ERR_INVAL;
	l->stats.bytes_in += len;
	if ((rc = buf_append(&l->in, bytes, len)) < 0)
		return rc;
	while (rc == 0 && l->state != KZ_LINK_CLOSED && l->in.len >= 2) {
		size_t mlen = (size_t)l->in.p[0] << 8 | l->in.p[1];

		if (l->in.len - 2 < mlen)
			break;
		if (l->state == KZ_LINK_HANDSHAKE)
			rc = handshake_step(l, l->in.p + 2, mlen);
		else
			rc = open_step(l, l->in.p + 2, mlen);
		buf_consume(&l->in, 2 + mlen);
	}
	return rc;
}

/* ------------------------------------------------------------ sending */

/* Encrypts plaintext into framed Noise messages on the outgoing bytes. */
static int
seal(struct kz_link *l, const uint8_t *p, size_t n)
{
	uint8_t msg[KZ_NOISE_MAX_MSG];

	while (n > 0) {
		size_t chunk = n < KZ_NOISE_MAX_PAYLOAD ? n : KZ_NOISE_MAX_PAYLOAD;
		size_t mlen;
		int rc = kz_noise_encrypt(&l->tx, p, chunk, msg, sizeof(msg), &mlen);

		if (rc < 0)
			return fail(l, rc, "transport");
		if ((rc = put_message(l, msg, mlen)) < 0)
			return rc;
		p += chunk;
		n -= chunk;
	}
	return 0;
}

int
kz_link_send(struct kz_link *l, uint8_t **out, size_t *len)
{
	struct buf plain = { 0 };
	int rc = 0;

	*out = NULL;
	*len = 0;
	/* Sync frames once the channel is open (a Bye even as it closes). */
	if (l->state != KZ_LINK_HANDSHAKE && l->tx.has_key) {
		while (plain.len < SEND_CHUNK) {
			uint8_t *f, pre[4];
			size_t flen;

			rc = kz_sync_next(l->sync, &f, &flen);
			if (rc != 0)
				break;
			kz_put_be32(pre, (uint32_t)flen);
			rc = buf_append(&plain, pre, 4);
			if (rc == 0)
				rc = buf_append(&plain, f, flen);
			free(f);
			if (rc < 0)
				break;
		}
		if (rc >= 0 && plain.len > 0)
			rc = seal(l, plain.p, plain.len);
		buf_free(&plain, true);
		if (rc < 0)
			return rc;
	}
	if (l->out.len == 0)
		return 1;
	*out = l->out.p;
	*len = l->out.len;
	l->stats.bytes_out += l->out.len;
	memset(&l->out, 0, sizeof(l->out));
	return 0;
}

/* ------------------------------------------------------------ the rest */

void
kz_link_feed_grew(struct kz_link *l, const uint8_t feed[32])
{
	if (l->state == KZ_LINK_OPEN)
		kz_sync_feed_grew(l->sync, feed);
}

int
kz_link_vector_again(struct kz_link *l)
{
	return l->state == KZ_LINK_OPEN ? kz_sync_vector_again(l->sync) : 0;
}

int
kz_link_ping(struct kz_link *l)
{
	return l->state == KZ_LINK_OPEN ? kz_sync_ping(l->sync) : 0;
}

void
kz_link_close(struct kz_link *l, const char *reason)
{
	if (l->state == KZ_LINK_CLOSED)
		return;
	snprintf(l->reason, sizeof(l->reason), "%s", reason);
	if (l->state == KZ_LINK_OPEN)
		(void)kz_sync_bye(l->sync, reason);
	l->state = KZ_LINK_CLOSED;
}

enum kz_link_state
kz_link_state(const struct kz_link *l)
{
	return l->state;
}

enum kz_sync_state
kz_link_sync_state(const struct kz_link *l)
{
	return kz_sync_state(l->sync);
}

const uint8_t *
kz_link_peer(const struct kz_link *l)
{
	return l->peer_ok ? kz_sync_peer(l->sync) : NULL;
}

const char *
kz_link_reason(const struct kz_link *l)
{
	return l->reason;
}

bool
kz_link_idle(const struct kz_link *l)
{
	return l->out.len == 0 && kz_sync_idle(l->sync);
}

void
kz_link_get_stats(const struct kz_link *l, struct kz_link_stats *out)
{
	*out = l->stats;
	kz_sync_get_stats(l->sync, &out->sync);
}
