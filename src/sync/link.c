/*
 * A secure link over a byte stream (framing and states in kizuna/link.h).
 *
 * Transitions:
 *   kz_link_new        initiator writes Noise message 1 with its
 *                      compression offer (offer)               (HANDSHAKE)
 *   handshake_step     read a message; the responder chooses (choose), the
 *                      initiator checks the choice (accept); write the
 *                      next; after the last, Split() gives the transport
 *                      ciphers and start_compression the zstd contexts
 *                                                                (OPEN)
 *   open_step          decrypt; decompress (inflate) when compressing; cut
 *                      the stream into sync frames for kz_sync_receive
 *                      (take_frames); bind the peer's node key (its Hello)
 *                      to the static key the handshake authenticated
 *   kz_link_send       pull sync frames; compress them, flushed (deflate),
 *                      or not; encrypt them in Noise messages (seal)
 *   errors, kz_link_close, a Bye                                 (CLOSED)
 *
 * Buffers are bounded: a Noise message is at most 65,535 bytes (u16
 * length), a sync frame at most KZ_SYNC_FRAME_MAX (checked before any
 * allocation), and at most a quarter MiB of plaintext (plus the frame that
 * crosses it) is sent per kz_link_send call so the transport interleaves
 * links fairly.  Compressed, the receiver decodes at most INFLATE_STEP
 * bytes at a time and hands every whole frame to the sync session before
 * decoding more, so it holds one incomplete frame and one step at most;
 * one Noise message may decode to no more than one kz_link_send can have
 * put in it (INFLATE_MAX) and to at most FRAMES_FLOOR + its length /
 * FRAMES_PER_BYTE frames, so a decompression bomb is refused within those
 * bounds (KZ_ERR_MALFORMED).  A store error while frames are handed on
 * (the session then says Bye) drops the rest of that message.  The window is
 * 2^KZ_LINK_WINDOW_LOG both ways (ZSTD_d_windowLogMax refuses more), which
 * bounds each context: a few MiB at level 19, a few hundred KiB to decode.
 * The contexts exist only after the handshake, so a peer without the
 * network key never makes this node allocate them.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/noise.h"
#include "kizuna/util.h"

#define PROLOGUE "kizuna link 1"
#define SEND_CHUNK (256 * 1024)
/* Handshake payload format (kizuna/link.h). */
#define OFFER_V1 1
#define OFFER_MAX (2 + 4 * KZ_LINK_DICTS_MAX)
#define LEVEL_DEFAULT 3
#define LEVEL_MAX 19
/* Decoding: bytes decoded per step; what one Noise message may decode to
 * (all that one kz_link_send can compress: SEND_CHUNK, then one frame); a
 * message may decode to at most FRAMES_FLOOR + its length / 4 frames (an
 * honest sender's many small frames are urgent entries, each with a
 * 64-byte signature; acks, pings and control frames are a few a send). */
#define INFLATE_STEP (64 * 1024)
#define INFLATE_MAX ((size_t)SEND_CHUNK + 4 + KZ_SYNC_FRAME_MAX)
#define FRAMES_FLOOR 64
#define FRAMES_PER_BYTE 4

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
	/* Compression: the dictionaries held (opts or built in), what our
	 * offer allowed (initiator), what was chosen, and once OPEN the
	 * contexts and the buffer a flush is compressed into. */
	const struct kz_link_dict *dicts;
	size_t n_dicts;
	enum kz_compress offered;
	bool sent_offer;
	enum kz_compress mode;
	const struct kz_link_dict *dict;
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
	uint8_t *zbuf;
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
	if (n > 0 && p != NULL)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* Room for n more bytes at b->p + b->len. */
static int
buf_reserve(struct buf *b, size_t n)
{
	size_t len = b->len;
	int rc = buf_append(b, NULL, n);

	b->len = len;
	return rc;
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
write_handshake(struct kz_link *l, const uint8_t *payload, size_t plen)
{
	uint8_t msg[KZ_NOISE_MAX_MSG];
	size_t len;
	int rc = kz_noise_write_message(l->hs, payload, plen, msg, sizeof(msg),
	    &len);

	if (rc < 0)
		return fail(l, rc, "handshake");
	l->stats.handshake_bytes += len;
	return put_message(l, msg, len);
}

/* ------------------------------------------------------------ negotiation */

static const struct kz_link_dict *
held(const struct kz_link *l, uint32_t id)
{
	for (size_t i = 0; i < l->n_dicts; i++)
		if (l->dicts[i].id == id)
			return &l->dicts[i];
	return NULL;
}

/* The initiator's offer (message 1): empty when this link allows none. */
static size_t
offer(struct kz_link *l, uint8_t p[OFFER_MAX])
{
	size_t n = 2;

	l->offered = l->o.compress;
	if (l->offered == KZ_COMPRESS_NONE)
		return 0;
	if (l->offered == KZ_COMPRESS_DICT && l->n_dicts == 0)
		l->offered = KZ_COMPRESS_ZSTD;
	p[0] = OFFER_V1;
	p[1] = (uint8_t)l->offered;
	if (l->offered == KZ_COMPRESS_DICT)
		for (size_t i = 0; i < l->n_dicts; i++, n += 4)
			kz_put_be32(p + n, l->dicts[i].id);
	l->sent_offer = true;
	return n;
}

/*
 * The responder reads the offer and writes its choice into reply: the best
 * both allow.  An empty offer (a node from before compression) or one of a
 * format this node does not know gets an empty reply and no compression.
 */
static int
choose(struct kz_link *l, const uint8_t *p, size_t n, uint8_t reply[6],
    size_t *rlen)
{
	enum kz_compress m;

	*rlen = 0;
	l->mode = KZ_COMPRESS_NONE;
	if (n == 0 || p[0] != OFFER_V1)
		return 0;
	if (n < 2 || p[1] > KZ_COMPRESS_DICT || (n - 2) % 4 != 0 ||
	    (n - 2) / 4 > KZ_LINK_DICTS_MAX ||
	    (p[1] != KZ_COMPRESS_DICT && n != 2))
		return KZ_ERR_MALFORMED;
	m = p[1] < l->o.compress ? (enum kz_compress)p[1] : l->o.compress;
	if (m == KZ_COMPRESS_DICT) {
		for (size_t i = 2; i < n && l->dict == NULL; i += 4)
			l->dict = held(l, kz_get_be32(p + i));
		if (l->dict == NULL)
			m = KZ_COMPRESS_ZSTD;
	}
	l->mode = m;
	reply[0] = OFFER_V1;
	reply[1] = (uint8_t)m;
	*rlen = 2;
	if (m == KZ_COMPRESS_DICT) {
		kz_put_be32(reply + 2, l->dict->id);
		*rlen = 6;
	}
	return 0;
}

/* The initiator checks the responder's choice against its offer. */
static int
accept(struct kz_link *l, const uint8_t *p, size_t n)
{
	l->mode = KZ_COMPRESS_NONE;
	if (!l->sent_offer || n == 0)
		return 0;	/* we allow none, or a node from before */
	if (n < 2 || p[0] != OFFER_V1 || p[1] > l->offered)
		return KZ_ERR_MALFORMED;
	if (p[1] == KZ_COMPRESS_DICT) {
		if (n != 6 || (l->dict = held(l, kz_get_be32(p + 2))) == NULL)
			return KZ_ERR_MALFORMED;
	} else if (n != 2) {
		return KZ_ERR_MALFORMED;
	}
	l->mode = (enum kz_compress)p[1];
	return 0;
}

/* The zstd contexts of an open link that chose compression. */
static int
start_compression(struct kz_link *l)
{
	int level = l->o.level != 0 ? l->o.level : LEVEL_DEFAULT;
	size_t r = 0;

	if (l->mode == KZ_COMPRESS_NONE)
		return 0;
	l->zc = ZSTD_createCCtx();
	l->zd = ZSTD_createDCtx();
	l->zbuf = malloc(KZ_NOISE_MAX_PAYLOAD);
	if (l->zc == NULL || l->zd == NULL || l->zbuf == NULL)
		return KZ_ERR_NOMEM;
	/* No checksum (Noise authenticates), no content size (a stream),
	 * no dictionary id (negotiated). */
	if (ZSTD_isError(r = ZSTD_CCtx_setParameter(l->zc,
	    ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(r = ZSTD_CCtx_setParameter(l->zc, ZSTD_c_windowLog,
	    KZ_LINK_WINDOW_LOG)) ||
	    ZSTD_isError(r = ZSTD_CCtx_setParameter(l->zc, ZSTD_c_checksumFlag, 0)) ||
	    ZSTD_isError(r = ZSTD_CCtx_setParameter(l->zc,
	    ZSTD_c_contentSizeFlag, 0)) ||
	    ZSTD_isError(r = ZSTD_CCtx_setParameter(l->zc, ZSTD_c_dictIDFlag, 0)) ||
	    ZSTD_isError(r = ZSTD_DCtx_setParameter(l->zd, ZSTD_d_windowLogMax,
	    KZ_LINK_WINDOW_LOG)))
		return KZ_ERR_NOMEM;
	if (l->mode == KZ_COMPRESS_DICT &&
	    (ZSTD_isError(r = ZSTD_CCtx_loadDictionary(l->zc,
	    l->dict->bytes, l->dict->len)) ||
	    ZSTD_isError(r = ZSTD_DCtx_loadDictionary(l->zd,
	    l->dict->bytes, l->dict->len))))
		return KZ_ERR_NOMEM;
	return 0;
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
	if ((rc = start_compression(l)) < 0)
		return fail(l, rc, "compression");
	l->stats.compress = l->mode;
	l->stats.dict_id = l->mode == KZ_COMPRESS_DICT ? l->dict->id : 0;
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
	if (opts->st == NULL || opts->node == NULL || opts->network_key == NULL ||
	    opts->compress < KZ_COMPRESS_NONE || opts->compress > KZ_COMPRESS_DICT ||
	    opts->level < 0 || opts->level > LEVEL_MAX ||
	    opts->n_dicts > KZ_LINK_DICTS_MAX ||
	    (opts->n_dicts > 0 && opts->dicts == NULL))
		return KZ_ERR_INVAL;
	for (size_t i = 0; i < opts->n_dicts; i++)
		if (opts->dicts[i].id == 0 || opts->dicts[i].bytes == NULL ||
		    ZSTD_getDictID_fromDict(opts->dicts[i].bytes,
		    opts->dicts[i].len) != opts->dicts[i].id)
			return KZ_ERR_INVAL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return KZ_ERR_NOMEM;
	l->o = *opts;
	l->dicts = opts->dicts;
	l->n_dicts = opts->n_dicts;
	if (l->n_dicts == 0)
		l->dicts = kz_link_builtin_dicts(&l->n_dicts);
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
	if (opts->initiator) {
		uint8_t p[OFFER_MAX];
		size_t n = offer(l, p);

		if ((rc = write_handshake(l, p, n)) < 0)
			goto fail;
	}
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
	ZSTD_freeCCtx(l->zc);
	ZSTD_freeDCtx(l->zd);
	free(l->zbuf);
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
	if (kz_noise_action(l->hs) == KZ_NOISE_WRITE) {
		uint8_t reply[6];
		size_t rlen = 0;

		/* The responder has read message 1; the initiator message 2. */
		if (!l->o.initiator)
			rc = choose(l, payload, plen, reply, &rlen);
		else
			rc = accept(l, payload, plen);
		if (rc < 0)
			return fail(l, rc, l->o.initiator ? "handshake: the peer "
			    "chose a compression this node did not offer" :
			    "handshake: malformed compression offer");
		if ((rc = write_handshake(l, reply, rlen)) < 0)
			return rc;
	}
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

/*
 * Hands every whole sync frame in l->plain to the session (u32 length,
 * SyncMsg), counting them in *frames, at most max_frames.  Returns 0, or
 * an error (the link may be CLOSED).
 */
static int
take_frames(struct kz_link *l, size_t *frames, size_t max_frames)
{
	size_t off = 0;
	int rc = 0;

	if (l->plain.len > l->stats.rx_buffer_peak)
		l->stats.rx_buffer_peak = l->plain.len;
	while (l->plain.len - off >= 4) {
		uint32_t flen = kz_get_be32(l->plain.p + off);

		if (flen > KZ_SYNC_FRAME_MAX) {
			rc = fail(l, KZ_ERR_TOO_BIG, "sync frame");
			break;
		}
		if (l->plain.len - off - 4 < flen)
			break;
		if (*frames >= max_frames) {
			rc = fail(l, KZ_ERR_MALFORMED, "compressed message expands "
			    "to more frames than its size allows");
			break;
		}
		rc = kz_sync_receive(l->sync, l->plain.p + off + 4, flen);
		off += 4 + (size_t)flen;
		(*frames)++;
		if (rc == KZ_ERR_MALFORMED || rc == KZ_ERR_TOO_BIG) {
			rc = fail(l, rc, "sync");
			break;
		}
		if (rc == 0)
			rc = bind_peer(l);
		if (rc < 0)
			break;
		if (kz_sync_state(l->sync) == KZ_SYNC_CLOSED) {
			snprintf(l->reason, sizeof(l->reason), "%s",
			    kz_sync_reason(l->sync));
			l->state = KZ_LINK_CLOSED;
			break;
		}
	}
	buf_consume(&l->plain, off);
	return rc;
}

/*
 * Decodes one Noise message's share of the peer's zstd stream, a step at a
 * time, handing whole frames on after each step (bounds: see the top).
 */
static int
inflate(struct kz_link *l, const uint8_t *z, size_t zlen)
{
	ZSTD_inBuffer in = { z, zlen, 0 };
	size_t made = 0, frames = 0;
	size_t max_frames = FRAMES_FLOOR + zlen / FRAMES_PER_BYTE;
	bool full = false;
	int rc;

	while (in.pos < in.size || full) {
		ZSTD_outBuffer out;
		size_t r;

		if ((rc = buf_reserve(&l->plain, INFLATE_STEP)) < 0)
			return rc;
		out.dst = l->plain.p + l->plain.len;
		out.size = INFLATE_STEP;
		out.pos = 0;
		r = ZSTD_decompressStream(l->zd, &out, &in);
		if (ZSTD_isError(r)) {
			char what[96];

			snprintf(what, sizeof(what), "compressed stream (%s)",
			    ZSTD_getErrorName(r));
			return fail(l, KZ_ERR_MALFORMED, what);
		}
		l->plain.len += out.pos;
		made += out.pos;
		l->stats.stream_in += out.pos;
		if (made > INFLATE_MAX)
			return fail(l, KZ_ERR_MALFORMED, "compressed message "
			    "expands past what one send can hold");
		full = out.pos == out.size;
		if ((rc = take_frames(l, &frames, max_frames)) < 0 ||
		    l->state == KZ_LINK_CLOSED)
			return rc;
		if (out.pos == 0 && in.pos == in.size)
			break;
	}
	return 0;
}

static int
open_step(struct kz_link *l, const uint8_t *msg, size_t len)
{
	uint8_t plain[KZ_NOISE_MAX_MSG];
	size_t plen, frames = 0;
	int rc;

	rc = kz_noise_decrypt(&l->rx, msg, len, plain, sizeof(plain), &plen);
	if (rc < 0)
		return fail(l, rc, "transport");
	l->stats.packed_in += plen;
	if (l->zd != NULL) {
		rc = inflate(l, plain, plen);
	} else {
		l->stats.stream_in += plen;
		rc = buf_append(&l->plain, plain, plen);
		if (rc == 0)
			rc = take_frames(l, &frames, SIZE_MAX);
	}
	sodium_memzero(plain, plen);
	return rc;
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

/*
 * Compresses plaintext into the stream, flushed so that the peer can decode
 * all of it at once, and seals the compressed bytes.
 */
static int
deflate(struct kz_link *l, const uint8_t *p, size_t n)
{
	ZSTD_inBuffer in = { p, n, 0 };
	size_t r;
	int rc;

	do {
		ZSTD_outBuffer out = { l->zbuf, KZ_NOISE_MAX_PAYLOAD, 0 };

		/* Only an allocation can fail here: the input is ours. */
		r = ZSTD_compressStream2(l->zc, &out, &in, ZSTD_e_flush);
		if (ZSTD_isError(r))
			return fail(l, KZ_ERR_NOMEM, "compression");
		l->stats.packed_out += out.pos;
		if (out.pos > 0 && (rc = seal(l, l->zbuf, out.pos)) < 0)
			return rc;
	} while (r != 0);
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
		size_t chunk = l->o.send_chunk != 0 && l->o.send_chunk < SEND_CHUNK ?
		    l->o.send_chunk : SEND_CHUNK;

		while (plain.len < chunk) {
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
		if (rc >= 0 && plain.len > 0) {
			l->stats.stream_out += plain.len;
			if (l->zc != NULL) {
				rc = deflate(l, plain.p, plain.len);
			} else {
				l->stats.packed_out += plain.len;
				rc = seal(l, plain.p, plain.len);
			}
		}
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
kz_link_wake(const struct kz_link *l, uint64_t *at_ms)
{
	return l->sync != NULL && l->state != KZ_LINK_CLOSED &&
	    kz_sync_wake(l->sync, at_ms);
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

bool
kz_link_peer_tips(const struct kz_link *l,
    void (*cb)(void *ctx, const uint8_t feed[32], uint64_t tip), void *ctx)
{
	return l->sync != NULL && kz_sync_peer_tips(l->sync, cb, ctx);
}
