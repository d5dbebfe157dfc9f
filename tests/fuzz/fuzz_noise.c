/*
 * Fuzz target: the Noise receivers (kz_noise_read_message,
 * kz_noise_decrypt) and the protocol name parser behind kz_noise_new.
 *
 * Input: a mode byte, then records of  length u16 (big-endian) | bytes.
 *   mode % 3 == 0  responder of Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b
 *                  with fixed static and ephemeral keys and the fixed PSK
 *                  (kzf_network_key), prologue "kizuna link 1": record 1 is
 *                  message 1, record 2 message 3 (message 2 is written in
 *                  between), then transport messages for the split
 *                  receiving cipher; an empty transport record rekeys.
 *   mode % 3 == 1  transport only: a cipher with a fixed key and a nonce
 *                  (u8 from the input) counted back from 2^64-1 when the
 *                  mode byte has 0x80 set; records are decrypted in turn.
 *   mode % 3 == 2  a protocol name (record 1) and a prologue (record 2):
 *                  when both parties accept the name, a loopback handshake
 *                  with payloads (records 3...) must complete with equal
 *                  handshake hashes and working transport ciphers.
 *
 * Invariants: errors are the documented ones; a failed handshake is FAILED
 * for good and refuses every call; a failed decrypt leaves the nonce where
 * it was and a successful one moves it by one; a payload is never longer
 * than its message.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/err.h"
#include "kizuna/noise.h"

#define PROTO "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b"
#define MSG2_PAYLOAD "kizuna"
#define MAX_RECORDS 32

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t E_RESP[32] = {
	0x52, 0x45, 0x53, 0x50, 0x2d, 0x65, 0x70, 0x68, 0x65, 0x6d, 0x65, 0x72,
	0x61, 0x6c, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
};
static const uint8_t K_FIXED[32] = {
	0x54, 0x52, 0x41, 0x4e, 0x53, 0x50, 0x4f, 0x52, 0x54, 0x2d, 0x6b, 0x65,
	0x79, 0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6,
	0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0, 0xef, 0xee,
};

static uint8_t s_resp[32], s_resp_pub[32], s_init[32], s_init_pub[32];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kzf_init();
	kzf_node_x25519(1, s_resp, s_resp_pub);
	kzf_node_x25519(0, s_init, s_init_pub);
	return 0;
}

static uint8_t buf_a[KZ_NOISE_MAX_MSG + 64], buf_b[KZ_NOISE_MAX_MSG + 64];

static void
check_failed(struct kz_noise_handshake *hs, int rc, const char *what)
{
	size_t n;

	KZF_CHECK(rc == KZ_ERR_INVAL || rc == KZ_ERR_TOO_BIG ||
	    rc == KZ_ERR_TRUNCATED || rc == KZ_NOISE_ERR_AUTH ||
	    rc == KZ_ERR_BAD_KEY, "noise: %s: unexpected %s", what,
	    kz_errname(rc));
	KZF_CHECK(kz_noise_action(hs) == KZ_NOISE_FAILED,
	    "noise: %s failed (%s) but the handshake is not FAILED", what,
	    kz_errname(rc));
	KZF_CHECK(kz_noise_remote_static(hs) == NULL &&
	    kz_noise_handshake_hash(hs) == NULL, "noise: FAILED keeps keys");
	KZF_CHECK(kz_noise_read_message(hs, buf_a, 48, buf_b, sizeof(buf_b),
	    &n) == KZ_ERR_INVAL, "noise: FAILED read again");
	KZF_CHECK(kz_noise_write_message(hs, NULL, 0, buf_b, sizeof(buf_b),
	    &n) == KZ_ERR_INVAL, "noise: FAILED wrote");
}

/* Decrypts one transport record with c, checking the nonce rules. */
static void
transport(struct kz_noise_cipher *c, const uint8_t *msg, size_t len)
{
	uint64_t n0 = c->n;
	size_t plen = 12345;
	int rc;

	if (len == 0) {
		rc = kz_noise_rekey(c);
		KZF_CHECK(rc == 0 || (rc == KZ_ERR_INVAL && !c->has_key),
		    "noise: rekey: %s", kz_errname(rc));
		KZF_CHECK(c->n == n0, "noise: rekey moved the nonce");
		return;
	}
	rc = kz_noise_decrypt(c, msg, len, buf_b, sizeof(buf_b), &plen);
	if (rc < 0) {
		KZF_CHECK(rc == KZ_ERR_INVAL || rc == KZ_ERR_TRUNCATED ||
		    rc == KZ_ERR_TOO_BIG || rc == KZ_NOISE_ERR_AUTH,
		    "noise: decrypt: unexpected %s", kz_errname(rc));
		KZF_CHECK(c->n == n0, "noise: a failed decrypt moved the nonce");
		KZF_CHECK(plen == 0, "noise: a failed decrypt left a length");
		return;
	}
	KZF_CHECK(len >= KZ_NOISE_TAG_BYTES && plen == len - KZ_NOISE_TAG_BYTES,
	    "noise: decrypt length");
	KZF_CHECK(n0 != UINT64_MAX && c->n == n0 + 1,
	    "noise: decrypt did not move the nonce by one");
}

static void
responder(struct kzf_in *in)
{
	const uint8_t *psks[2] = { kzf_network_key, kzf_network_key };
	struct kz_noise_handshake *hs = NULL;
	struct kz_noise_cipher tx, rx;
	const uint8_t *msg;
	size_t len, got, plen, n;
	int rc, i;

	rc = kz_noise_new(&hs, PROTO, 0, (const uint8_t *)KZF_LINK_PROLOGUE,
	    strlen(KZF_LINK_PROLOGUE), s_resp, NULL, psks, 2, E_RESP);
	KZF_CHECK(rc == 0, "noise: new: %s", kz_errname(rc));
	for (i = 0; i < 2; i++) {
		len = kzf_u16(in);
		msg = kzf_take(in, len, &got);
		KZF_CHECK(kz_noise_action(hs) == KZ_NOISE_READ, "noise: not READ");
		/* A message is copied so that ASan sees reads past its end. */
		memcpy(buf_a, msg, got);
		plen = 999;
		rc = kz_noise_read_message(hs, buf_a, got, buf_b, got, &plen);
		if (rc < 0) {
			check_failed(hs, rc, i == 0 ? "message 1" : "message 3");
			goto out;
		}
		KZF_CHECK(plen <= got, "noise: payload longer than its message");
		KZF_CHECK(i == 0 || kz_noise_remote_static(hs) != NULL,
		    "noise: message 3 read without the peer's static key");
		if (i == 1)
			break;
		KZF_CHECK(kz_noise_action(hs) == KZ_NOISE_WRITE, "noise: not WRITE");
		rc = kz_noise_write_message(hs, (const uint8_t *)MSG2_PAYLOAD,
		    strlen(MSG2_PAYLOAD), buf_b, sizeof(buf_b), &n);
		if (rc < 0) {
			/* Only a small-order initiator ephemeral may fail it. */
			KZF_CHECK(rc == KZ_ERR_BAD_KEY, "noise: message 2: %s",
			    kz_errname(rc));
			check_failed(hs, rc, "message 2");
			goto out;
		}
	}
	KZF_CHECK(kz_noise_action(hs) == KZ_NOISE_SPLIT, "noise: not SPLIT");
	KZF_CHECK(kz_noise_handshake_hash(hs) != NULL, "noise: no hash");
	rc = kz_noise_split(hs, &tx, &rx);
	KZF_CHECK(rc == 0, "noise: split: %s", kz_errname(rc));
	KZF_CHECK(tx.has_key && rx.has_key && tx.n == 0 && rx.n == 0,
	    "noise: split ciphers");
	KZF_CHECK(kz_noise_split(hs, &tx, &rx) == KZ_ERR_INVAL,
	    "noise: split twice");
	for (i = 0; i < MAX_RECORDS && in->n >= 2; i++) {
		len = kzf_u16(in);
		msg = kzf_take(in, len, &got);
		memcpy(buf_a, msg, got);
		transport(&rx, buf_a, got);
	}
	kzf_debug("noise: handshake done, rx nonce %llu",
	    (unsigned long long)rx.n);
	kz_noise_cipher_wipe(&tx);
	kz_noise_cipher_wipe(&rx);
out:
	kz_noise_free(hs);
}

static void
fixed_key(struct kzf_in *in, uint8_t mode)
{
	struct kz_noise_cipher c;
	uint8_t back = kzf_u8(in);
	int i;

	memcpy(c.k, K_FIXED, sizeof(c.k));
	c.has_key = 1;
	c.n = (mode & 0x80) ? UINT64_MAX - back : back;
	for (i = 0; i < MAX_RECORDS && in->n >= 2; i++) {
		size_t len = kzf_u16(in), got;
		const uint8_t *msg = kzf_take(in, len, &got);

		memcpy(buf_a, msg, got);
		transport(&c, buf_a, got);
	}
	kzf_debug("noise: fixed key, nonce %llu", (unsigned long long)c.n);
	kz_noise_cipher_wipe(&c);
}

/* kz_noise_new for one party, finding the psk count and whether the
 * pattern wants the peer's static key; NULL if the name is refused. */
static struct kz_noise_handshake *
party(const char *name, int initiator, const uint8_t *prologue,
    size_t prologue_len, size_t *n_psks)
{
	const uint8_t *psks[KZ_NOISE_MAX_PSKS + 1];
	const uint8_t *s = initiator ? s_init : s_resp;
	const uint8_t *rs = initiator ? s_resp_pub : s_init_pub;
	struct kz_noise_handshake *hs = NULL;
	size_t k;
	int with_rs, rc;

	for (k = 0; k <= KZ_NOISE_MAX_PSKS; k++)
		psks[k] = kzf_network_key;
	for (k = 0; k <= KZ_NOISE_MAX_PSKS; k++) {
		for (with_rs = 0; with_rs < 2; with_rs++) {
			rc = kz_noise_new(&hs, name, initiator, prologue,
			    prologue_len, s, with_rs ? rs : NULL, psks, k,
			    initiator ? NULL : E_RESP);
			if (rc == 0) {
				*n_psks = k;
				return hs;
			}
			KZF_CHECK(rc == KZ_ERR_INVAL && hs == NULL,
			    "noise: new: %s", kz_errname(rc));
		}
	}
	return NULL;
}

static void
loopback(struct kzf_in *in)
{
	char name[128];
	const uint8_t *p, *prologue;
	size_t len, got, plen, n_i = 0, n_r = 0, msgs = 0;
	struct kz_noise_handshake *hi = NULL, *hr = NULL;
	struct kz_noise_cipher ti, ri, tr, rr;
	int rc;

	len = kzf_u16(in);
	p = kzf_take(in, len, &got);
	if (got >= sizeof(name) || memchr(p, 0, got) != NULL)
		return;
	memcpy(name, p, got);
	name[got] = '\0';
	len = kzf_u16(in);
	prologue = kzf_take(in, len, &plen);
	hi = party(name, 1, prologue, plen, &n_i);
	hr = party(name, 0, prologue, plen, &n_r);
	KZF_CHECK((hi == NULL) == (hr == NULL), "noise: '%s' accepted by one "
	    "party only", name);
	if (hi == NULL)
		return;
	KZF_CHECK(n_i == n_r, "noise: psk counts differ");
	while (kz_noise_action(hi) == KZ_NOISE_WRITE ||
	    kz_noise_action(hr) == KZ_NOISE_WRITE) {
		struct kz_noise_handshake *w = kz_noise_action(hi) ==
		    KZ_NOISE_WRITE ? hi : hr;
		struct kz_noise_handshake *r = w == hi ? hr : hi;
		const uint8_t *pay;
		size_t mlen, pl2;

		KZF_CHECK(kz_noise_action(r) == KZ_NOISE_READ, "noise: '%s': both "
		    "parties write", name);
		KZF_CHECK(++msgs <= 4, "noise: '%s': more than 4 messages", name);
		len = kzf_u16(in);
		pay = kzf_take(in, len, &plen);
		if (plen > KZ_NOISE_MAX_MSG - 200)
			plen = KZ_NOISE_MAX_MSG - 200;
		rc = kz_noise_write_message(w, pay, plen, buf_a, sizeof(buf_a),
		    &mlen);
		KZF_CHECK(rc == 0, "noise: '%s': write: %s", name, kz_errname(rc));
		KZF_CHECK(mlen <= KZ_NOISE_MAX_MSG && mlen >= plen,
		    "noise: message length");
		rc = kz_noise_read_message(r, buf_a, mlen, buf_b, sizeof(buf_b),
		    &pl2);
		KZF_CHECK(rc == 0, "noise: '%s': read: %s", name, kz_errname(rc));
		KZF_CHECK(pl2 == plen && memcmp(buf_b, pay, plen) == 0,
		    "noise: '%s': payload differs", name);
	}
	KZF_CHECK(kz_noise_action(hi) == KZ_NOISE_SPLIT &&
	    kz_noise_action(hr) == KZ_NOISE_SPLIT, "noise: '%s': not done",
	    name);
	KZF_CHECK(memcmp(kz_noise_handshake_hash(hi), kz_noise_handshake_hash(hr),
	    KZ_NOISE_HASH_BYTES) == 0, "noise: '%s': hashes differ", name);
	KZF_CHECK(kz_noise_split(hi, &ti, &ri) == 0 &&
	    kz_noise_split(hr, &tr, &rr) == 0, "noise: split");
	KZF_CHECK(ti.has_key && rr.has_key, "noise: no initiator cipher");
	KZF_CHECK(ri.has_key == tr.has_key, "noise: one-way mismatch");
	{
		static const uint8_t hello[] = "hello";
		size_t mlen, pl2;

		KZF_CHECK(kz_noise_encrypt(&ti, hello, sizeof(hello), buf_a,
		    sizeof(buf_a), &mlen) == 0 && kz_noise_decrypt(&rr, buf_a, mlen,
		    buf_b, sizeof(buf_b), &pl2) == 0 && pl2 == sizeof(hello),
		    "noise: '%s': transport i->r", name);
		if (tr.has_key)
			KZF_CHECK(kz_noise_encrypt(&tr, hello, sizeof(hello), buf_a,
			    sizeof(buf_a), &mlen) == 0 && kz_noise_decrypt(&ri,
			    buf_a, mlen, buf_b, sizeof(buf_b), &pl2) == 0,
			    "noise: '%s': transport r->i", name);
	}
	kzf_debug("noise: loopback '%s': %zu messages", name, msgs);
	kz_noise_free(hi);
	kz_noise_free(hr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kzf_in in = { data, size };
	uint8_t mode = kzf_u8(&in);

	/* The initiator of the loopback draws its ephemeral key. */
	kzf_rng_reset(1);
	switch (mode % 3) {
	case 0:
		responder(&in);
		break;
	case 1:
		fixed_key(&in, mode);
		break;
	default:
		loopback(&in);
		break;
	}
	return 0;
}
