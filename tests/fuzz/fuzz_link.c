/*
 * Fuzz target: a responder link (kz_link_recv), node 1 on the store of
 * kzf_store_b(), with the fixed network key.  The responder's ephemeral key
 * comes from the deterministic randombytes, restarted for every input, so
 * a recorded transcript replays exactly.
 *
 * Input: a mode byte, then
 *   mode even  raw transport bytes (u16-framed Noise messages), fed in
 *              chunks whose sizes come from a generator seeded with the
 *              mode byte;
 *   mode odd   the harness runs the initiator's handshake itself (node 0's
 *              static key, fixed ephemeral) and the rest is records of
 *              length u16 (big-endian) | plaintext: each is sealed in one
 *              transport message, so the fuzzer writes the sync stream
 *              (u32-framed SyncMsgs) behind the encryption.
 * Compressed sessions: with bit 2 of the mode (0x04) the responder allows
 * zstd with the built-in dictionary (level 1), and in odd mode the harness
 * offers it in message 1: the dictionary, or plain zstd with bit 3 (0x08).
 * When the responder chose compression, each record is compressed by the
 * harness's own zstd stream (flushed) before it is sealed, so the fuzzer
 * still writes the sync stream -- or, with bit 4 (0x10), the record is the
 * compressed stream itself, so the fuzzer writes what the decompressor
 * reads (bombs, bad blocks, oversize windows).
 * After each chunk or record, everything the link wants to send is pulled
 * with kz_link_send (and, in odd mode, decrypted and, when compressed,
 * decompressed by the harness).
 *
 * Invariants: errors are the documented ones and an error closes the link
 * (except a store error); CLOSED is final and refuses more bytes; the
 * link never names a peer whose key does not match the handshake; it
 * chooses only what was offered; what it sends after the handshake
 * decrypts and decompresses; the store stays intact.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "fuzz_util.h"
#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/noise.h"
#include "kizuna/util.h"

#define MAX_STEPS 256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t x_init[32], x_init_pub[32], x_resp[32], x_resp_pub[32];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kzf_init();
	kzf_node_x25519(0, x_init, x_init_pub);
	kzf_node_x25519(1, x_resp, x_resp_pub);
	return 0;
}

/* The harness as initiator (odd mode). */
struct init {
	struct kz_noise_handshake *hs;
	struct kz_noise_cipher tx, rx;
	bool open;
	uint8_t in[1 << 17];	/* link output not yet a whole message */
	size_t in_len;
	uint8_t offer[6];	/* our message-1 payload */
	size_t offer_len;
	int mode;		/* what the responder chose (KZ_COMPRESS_*) */
	ZSTD_CCtx *zc;		/* our stream to the link */
	ZSTD_DCtx *zd;		/* the link's stream to us */
};

static struct init ini;
static uint8_t msg[KZ_NOISE_MAX_MSG], plain[KZ_NOISE_MAX_MSG];
static uint8_t zbuf[1 << 17];

/* The responder's choice (message 2's payload) against our offer. */
static void
init_choice(const uint8_t *p, size_t n)
{
	size_t nd;
	const struct kz_link_dict *d = kz_link_builtin_dicts(&nd);

	ini.mode = KZ_COMPRESS_NONE;
	if (ini.offer_len == 0) {
		KZF_CHECK(n == 0, "link: a choice to an empty offer");
		return;
	}
	KZF_CHECK(n >= 2 && p[0] == 1 && p[1] <= ini.offer[1],
	    "link: chose what was not offered");
	KZF_CHECK(n == (p[1] == KZ_COMPRESS_DICT ? 6u : 2u),
	    "link: a choice of the wrong length");
	if (p[1] == KZ_COMPRESS_DICT)
		KZF_CHECK(kz_get_be32(p + 2) == d->id, "link: chose a dictionary "
		    "that was not offered");
	ini.mode = p[1];
	if (ini.mode == KZ_COMPRESS_NONE)
		return;
	ini.zc = ZSTD_createCCtx();
	ini.zd = ZSTD_createDCtx();
	KZF_CHECK(ini.zc != NULL && ini.zd != NULL, "link: zstd contexts");
	ZSTD_CCtx_setParameter(ini.zc, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setParameter(ini.zc, ZSTD_c_windowLog, KZ_LINK_WINDOW_LOG);
	if (ini.mode == KZ_COMPRESS_DICT) {
		ZSTD_CCtx_loadDictionary(ini.zc, d->bytes, d->len);
		ZSTD_DCtx_loadDictionary(ini.zd, d->bytes, d->len);
	}
}

/* The link's compressed output must decode. */
static void
init_inflate(const uint8_t *p, size_t n)
{
	ZSTD_inBuffer in = { p, n, 0 };
	int rounds = 0;

	while (in.pos < in.size && rounds++ < 4096) {
		ZSTD_outBuffer out = { zbuf, sizeof(zbuf), 0 };
		size_t r = ZSTD_decompressStream(ini.zd, &out, &in);

		KZF_CHECK(!ZSTD_isError(r), "link: its compressed stream does not "
		    "decode: %s", ZSTD_getErrorName(r));
	}
}

/* Link output for the initiator: Noise messages, decrypted once open. */
static void
init_take(const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t room = sizeof(ini.in) - ini.in_len;
		size_t k = n < room ? n : room;

		memcpy(ini.in + ini.in_len, p, k);
		ini.in_len += k;
		p += k;
		n -= k;
		while (ini.in_len >= 2) {
			size_t mlen = (size_t)ini.in[0] << 8 | ini.in[1], plen;
			int rc;

			if (ini.in_len < 2 + mlen)
				break;
			if (!ini.open && ini.hs != NULL &&
			    kz_noise_action(ini.hs) == KZ_NOISE_SPLIT) {
				rc = kz_noise_split(ini.hs, &ini.tx, &ini.rx);
				KZF_CHECK(rc == 0, "link: split: %s", kz_errname(rc));
				ini.open = true;
			}
			if (ini.open) {
				rc = kz_noise_decrypt(&ini.rx, ini.in + 2, mlen, plain,
				    sizeof(plain), &plen);
				KZF_CHECK(rc == 0, "link: its transport message does "
				    "not decrypt: %s", kz_errname(rc));
				if (ini.zd != NULL)
					init_inflate(plain, plen);
			} else if (ini.hs != NULL &&
			    kz_noise_action(ini.hs) == KZ_NOISE_READ) {
				rc = kz_noise_read_message(ini.hs, ini.in + 2, mlen,
				    plain, sizeof(plain), &plen);
				KZF_CHECK(rc == 0, "link: its message 2 does not "
				    "read: %s", kz_errname(rc));
				init_choice(plain, plen);
			}
			memmove(ini.in, ini.in + 2 + mlen, ini.in_len - 2 - mlen);
			ini.in_len -= 2 + mlen;
		}
		if (ini.in_len == sizeof(ini.in))
			kzf_fail("link: a message over the u16 bound");
	}
}

static void
check_state(struct kz_link *l, int rc, enum kz_link_state before)
{
	enum kz_link_state now = kz_link_state(l);

	if (before == KZ_LINK_CLOSED) {
		KZF_CHECK(rc == KZ_ERR_INVAL, "link: CLOSED took bytes (%s)",
		    kz_errname(rc));
		KZF_CHECK(now == KZ_LINK_CLOSED, "link: CLOSED is not final");
		return;
	}
	KZF_CHECK(!(before == KZ_LINK_OPEN && now == KZ_LINK_HANDSHAKE),
	    "link: OPEN went back to HANDSHAKE");
	KZF_CHECK(rc == 0 || rc == KZ_ERR_BAD_SIG || rc == KZ_ERR_MALFORMED ||
	    rc == KZ_ERR_TOO_BIG || rc == KZ_ERR_BAD_KEY ||
	    rc == KZ_ERR_TRUNCATED || rc == KZ_ERR_INVAL || rc == KZ_ERR_NOMEM,
	    "link: recv: unexpected %s", kz_errname(rc));
	if (rc < 0 && rc != KZ_ERR_NOMEM)
		KZF_CHECK(now == KZ_LINK_CLOSED, "link: %s left the link open",
		    kz_errname(rc));
	if (kz_link_peer(l) != NULL) {
		uint8_t x[32];

		/* Only node 0's static key can complete a handshake here (a
		 * fuzzer cannot forge the DH), so any peer named must be a node
		 * key that converts to it. */
		KZF_CHECK(now != KZ_LINK_HANDSHAKE, "link: a peer named during "
		    "the handshake");
		KZF_CHECK(crypto_sign_ed25519_pk_to_curve25519(x,
		    kz_link_peer(l)) == 0 && memcmp(x, x_init_pub, 32) == 0,
		    "link: a peer named whose key is not the handshake's");
	}
}

static void
pull(struct kz_link *l, bool to_init)
{
	int i;

	for (i = 0; i < 64; i++) {
		uint8_t *out = NULL;
		size_t len = 0;
		int rc = kz_link_send(l, &out, &len);

		if (rc == 1)
			break;
		KZF_CHECK(rc == 0, "link: send: %s", kz_errname(rc));
		KZF_CHECK(len > 0, "link: empty send");
		if (to_init)
			init_take(out, len);
		free(out);
	}
}

static void
feed(struct kz_link *l, const uint8_t *p, size_t n, bool to_init)
{
	enum kz_link_state before = kz_link_state(l);
	int rc = kz_link_recv(l, p, n);

	check_state(l, rc, before);
	pull(l, to_init);
}

static void
raw_mode(struct kz_link *l, struct kzf_in *in, uint8_t mode)
{
	uint64_t r = mode * 0x9e3779b97f4a7c15ull + 1;
	int steps = 0;

	while (in->n > 0 && steps++ < MAX_STEPS) {
		size_t want, got;
		const uint8_t *p;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		want = 1 + (size_t)(r % 512);
		if (mode & 2)
			want = in->n;		/* all at once */
		p = kzf_take(in, want, &got);
		feed(l, p, got, false);
	}
}


/* Writes the initiator's next handshake message to the link (message 1
 * carries the offer). */
static void
init_write(struct kz_link *l, bool first)
{
	size_t mlen;
	int rc = kz_noise_write_message(ini.hs, first ? ini.offer : NULL,
	    first ? ini.offer_len : 0, msg + 2, sizeof(msg) - 2, &mlen);

	KZF_CHECK(rc == 0, "link: initiator write: %s", kz_errname(rc));
	msg[0] = (uint8_t)(mlen >> 8);
	msg[1] = (uint8_t)mlen;
	feed(l, msg, 2 + mlen, true);
}

/* Seals one record: compressed by our stream when the link chose
 * compression (unless raw), else as it is; in as many transport messages
 * as it takes. */
static void
init_send(struct kz_link *l, const uint8_t *p, size_t n, bool raw)
{
	size_t mlen, k;
	int rc;

	if (ini.zc != NULL && !raw) {
		ZSTD_inBuffer zin = { p, n, 0 };
		ZSTD_outBuffer out = { zbuf, sizeof(zbuf), 0 };
		size_t r = ZSTD_compressStream2(ini.zc, &out, &zin, ZSTD_e_flush);

		/* A record is < 64 KiB: one flush of it fits zbuf. */
		KZF_CHECK(!ZSTD_isError(r) && r == 0, "link: harness compress");
		p = zbuf;
		n = out.pos;
	}
	do {
		k = n < KZ_NOISE_MAX_PAYLOAD ? n : KZ_NOISE_MAX_PAYLOAD;
		rc = kz_noise_encrypt(&ini.tx, p, k, msg + 2, sizeof(msg) - 2,
		    &mlen);
		KZF_CHECK(rc == 0, "link: seal: %s", kz_errname(rc));
		msg[0] = (uint8_t)(mlen >> 8);
		msg[1] = (uint8_t)mlen;
		feed(l, msg, 2 + mlen, true);
		p += k;
		n -= k;
	} while (n > 0 && kz_link_state(l) != KZ_LINK_CLOSED);
}

static void
sealed_mode(struct kz_link *l, struct kzf_in *in, uint8_t mode)
{
	const uint8_t *psks[2] = { kzf_network_key, kzf_network_key };
	int rc, steps = 0;
	size_t nd;

	if (mode & 4) {
		ini.offer[0] = 1;
		ini.offer[1] = (mode & 8) ? KZ_COMPRESS_ZSTD : KZ_COMPRESS_DICT;
		ini.offer_len = 2;
		if (!(mode & 8)) {
			kz_put_be32(ini.offer + 2, kz_link_builtin_dicts(&nd)->id);
			ini.offer_len = 6;
		}
	}

	rc = kz_noise_new(&ini.hs, KZ_LINK_PROTOCOL, 1,
	    (const uint8_t *)KZF_LINK_PROLOGUE, strlen(KZF_LINK_PROLOGUE), x_init,
	    NULL, psks, 2, kzf_link_e_init);
	KZF_CHECK(rc == 0, "link: initiator: %s", kz_errname(rc));
	init_write(l, true);			/* message 1 */
	KZF_CHECK(kz_noise_action(ini.hs) == KZ_NOISE_WRITE,
	    "link: responder sent no message 2");
	init_write(l, false);			/* message 3 */
	KZF_CHECK(kz_link_state(l) == KZ_LINK_OPEN, "link: not open after the "
	    "handshake");
	if (!ini.open) {
		rc = kz_noise_split(ini.hs, &ini.tx, &ini.rx);
		KZF_CHECK(rc == 0, "link: split: %s", kz_errname(rc));
		ini.open = true;
	}
	KZF_CHECK(memcmp(kz_noise_remote_static(ini.hs), x_resp_pub, 32) == 0,
	    "link: responder's static key");
	pull(l, true);
	{
		struct kz_link_stats ls;

		kz_link_get_stats(l, &ls);
		KZF_CHECK((int)ls.compress == ini.mode, "link: the link and the "
		    "harness disagree on the mode");
	}
	while (in->n >= 2 && steps++ < MAX_STEPS &&
	    kz_link_state(l) != KZ_LINK_CLOSED) {
		size_t len = kzf_u16(in), got;
		const uint8_t *p = kzf_take(in, len, &got);

		init_send(l, p, got, (mode & 0x10) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kzf_in in = { data, size };
	struct kz_store *st;
	struct kz_link_opts o;
	struct kz_link *l = NULL;
	uint8_t mode = kzf_u8(&in);
	int rc;

	kzf_rng_reset(KZF_LINK_RNG_SEED);
	st = kzf_store_b();
	kzf_link_opts(&o, st);
	if (mode & 4) {
		o.compress = KZ_COMPRESS_DICT;
		o.level = 1;
	}
	rc = kz_link_new(&l, &o);
	KZF_CHECK(rc == 0, "link: new: %s", kz_errname(rc));
	pull(l, false);		/* a responder sends nothing first */
	memset(&ini, 0, sizeof(ini));
	if (mode & 1)
		sealed_mode(l, &in, mode);
	else
		raw_mode(l, &in, mode);
	{
		struct kz_link_stats ls;

		kz_link_get_stats(l, &ls);
		kzf_debug("link: state %d, sync state %d, peer %s, reason '%s', "
		    "entries in %llu out %llu", (int)kz_link_state(l),
		    (int)kz_link_sync_state(l), kz_link_peer(l) ? "bound" : "none",
		    kz_link_reason(l), (unsigned long long)ls.sync.entries_in,
		    (unsigned long long)ls.sync.entries_out);
	}
	if (kz_link_state(l) != KZ_LINK_CLOSED) {
		kz_link_close(l, "fuzz done");
		KZF_CHECK(kz_link_state(l) == KZ_LINK_CLOSED, "link: close");
		pull(l, (mode & 1) != 0);
	}
	kz_link_free(l);
	kz_noise_free(ini.hs);
	kz_noise_cipher_wipe(&ini.tx);
	kz_noise_cipher_wipe(&ini.rx);
	ZSTD_freeCCtx(ini.zc);
	ZSTD_freeDCtx(ini.zd);
	kzf_check_store(st, "link");
	kz_store_free(st);
	return 0;
}
