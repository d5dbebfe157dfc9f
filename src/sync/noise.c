/*
 * Noise HandshakeState (§5.3) driven by a table of message patterns, plus
 * the transport CipherState API of kizuna/noise.h.
 *
 * The table below spells each rev-34 pattern the way the spec does
 * ("e, ee, s, es"); kz_noise_new() parses the protocol name, finds the base
 * pattern, inserts the psk tokens of the pskN modifiers (psk0 at the start
 * of message 1, pskN at the end of message N) and checks the result against
 * the validity rules of §7.3 and §9.3 before anything is hashed.  Messages
 * alternate, starting with the initiator.
 *
 * States (function doing each transition):
 *
 *   kz_noise_new()
 *        |
 *        v
 *     RUNNING --write_message()/read_message() error, fail()--> FAILED
 *      |   ^                                               (all wiped)
 *      |   | write_message()/read_message() ok, messages left
 *      +---+
 *      | ... ok, last message (advance())
 *      v
 *     DONE --kz_noise_split()--> SPLIT (only h and rs kept)
 *
 * Invariants:
 *   - The tokens of a message are all processed before the payload; a
 *     message's exact length is known before it is touched (msg_overhead()),
 *     so a short or oversized message fails before any state changes that
 *     matter, and a token never reads past the end.
 *   - Every DH checks that both of its keys exist (a valid pattern
 *     guarantees it; the check keeps a bad table from reading garbage).
 *   - In a PSK handshake every e token also does MixKey(e.pub) (§9.2).
 *   - FAILED is final: secrets, learnt keys and h are wiped and every later
 *     call returns KZ_ERR_INVAL, so a failed responder sends nothing.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kizuna/err.h"
#include "kizuna/noise.h"
#include "sync/noise_int.h"

#define KZ__NOISE_SUITE "_25519_ChaChaPoly_BLAKE2b"
#define KZ__NOISE_MAX_MSGS 4
#define KZ__NOISE_MAX_TOKENS 8

enum kz__noise_token {
	TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS, TOK_PSK
};

/* One rev-34 pattern: pre-messages ("" or "s") and up to four messages. */
struct kz__noise_pattern {
	const char *name;
	const char *pre_i;
	const char *pre_r;
	const char *msgs[KZ__NOISE_MAX_MSGS];
};

/* The one-way, fundamental interactive and deferred patterns of §7. */
static const struct kz__noise_pattern kz__noise_patterns[] = {
	{ "N", "", "s", { "e, es" } },
	{ "K", "s", "s", { "e, es, ss" } },
	{ "X", "", "s", { "e, es, s, ss" } },

	{ "NN", "", "", { "e", "e, ee" } },
	{ "NK", "", "s", { "e, es", "e, ee" } },
	{ "NX", "", "", { "e", "e, ee, s, es" } },
	{ "KN", "s", "", { "e", "e, ee, se" } },
	{ "KK", "s", "s", { "e, es, ss", "e, ee, se" } },
	{ "KX", "s", "", { "e", "e, ee, se, s, es" } },
	{ "XN", "", "", { "e", "e, ee", "s, se" } },
	{ "XK", "", "s", { "e, es", "e, ee", "s, se" } },
	{ "XX", "", "", { "e", "e, ee, s, es", "s, se" } },
	{ "IN", "", "", { "e, s", "e, ee, se" } },
	{ "IK", "", "s", { "e, es, s, ss", "e, ee, se" } },
	{ "IX", "", "", { "e, s", "e, ee, se, s, es" } },

	{ "NK1", "", "s", { "e", "e, ee, es" } },
	{ "NX1", "", "", { "e", "e, ee, s", "es" } },
	{ "X1N", "", "", { "e", "e, ee", "s", "se" } },
	{ "X1K", "", "s", { "e, es", "e, ee", "s", "se" } },
	{ "XK1", "", "s", { "e", "e, ee, es", "s, se" } },
	{ "X1K1", "", "s", { "e", "e, ee, es", "s", "se" } },
	{ "X1X", "", "", { "e", "e, ee, s, es", "s", "se" } },
	{ "XX1", "", "", { "e", "e, ee, s", "es, s, se" } },
	{ "X1X1", "", "", { "e", "e, ee, s", "es, s", "se" } },
	{ "K1N", "s", "", { "e", "e, ee", "se" } },
	{ "K1K", "s", "s", { "e, es", "e, ee", "se" } },
	{ "KK1", "s", "s", { "e", "e, ee, se, es" } },
	{ "K1K1", "s", "s", { "e", "e, ee, es", "se" } },
	{ "K1X", "s", "", { "e", "e, ee, s, es", "se" } },
	{ "KX1", "s", "", { "e", "e, ee, se, s", "es" } },
	{ "K1X1", "s", "", { "e", "e, ee, s", "se, es" } },
	{ "I1N", "", "", { "e, s", "e, ee", "se" } },
	{ "I1K", "", "s", { "e, es, s", "e, ee", "se" } },
	{ "IK1", "", "s", { "e, s", "e, ee, se, es" } },
	{ "I1K1", "", "s", { "e, s", "e, ee, es", "se" } },
	{ "I1X", "", "", { "e, s", "e, ee, s, es", "se" } },
	{ "IX1", "", "", { "e, s", "e, ee, se, s", "es" } },
	{ "I1X1", "", "", { "e, s", "e, ee, s", "se, es" } },
};

#define KZ__NOISE_NPATTERNS \
	(sizeof(kz__noise_patterns) / sizeof(kz__noise_patterns[0]))

/* A pattern with its psk tokens in place, as the handshake runs it. */
struct kz__noise_proto {
	int pre_s[2];          /* [0] initiator, [1] responder */
	uint8_t tok[KZ__NOISE_MAX_MSGS][KZ__NOISE_MAX_TOKENS];
	size_t ntok[KZ__NOISE_MAX_MSGS];
	size_t nmsgs;
	size_t npsk;           /* psk tokens, = pskN modifiers */
};

enum kz__noise_state {
	ST_RUNNING, ST_DONE, ST_SPLIT, ST_FAILED
};

struct kz_noise_handshake {
	enum kz__noise_state state;
	int initiator;
	struct kz__noise_proto pr;
	size_t msg;                          /* next message index */
	struct kz__noise_symmetric ss;
	uint8_t s[KZ_NOISE_KEY_BYTES], s_pub[KZ_NOISE_KEY_BYTES];
	uint8_t e[KZ_NOISE_KEY_BYTES], e_pub[KZ_NOISE_KEY_BYTES];
	uint8_t e_fixed[KZ_NOISE_KEY_BYTES];
	uint8_t rs[KZ_NOISE_KEY_BYTES], re[KZ_NOISE_KEY_BYTES];
	int has_s, has_e, has_e_fixed, has_rs, has_re;
	uint8_t psks[KZ_NOISE_MAX_PSKS][KZ_NOISE_KEY_BYTES];
	size_t psk_next;
	unsigned n_dh;
};

size_t
kz__noise_pattern_count(void)
{
	return KZ__NOISE_NPATTERNS;
}

const char *
kz__noise_pattern_name(size_t i)
{
	return i < KZ__NOISE_NPATTERNS ? kz__noise_patterns[i].name : NULL;
}

unsigned
kz__noise_dh_count(const struct kz_noise_handshake *hs)
{
	return hs->n_dh;
}

/* ------------------------------------------------------- parsing */

/* Appends the tokens of "e, ee, s" to tok[]; 0 or KZ_ERR_INVAL. */
static int
parse_tokens(const char *spec, uint8_t *tok, size_t *ntok)
{
	static const struct {
		const char *name;
		enum kz__noise_token t;
	} names[] = {
		{ "e", TOK_E }, { "s", TOK_S }, { "ee", TOK_EE },
		{ "es", TOK_ES }, { "se", TOK_SE }, { "ss", TOK_SS },
		{ "psk", TOK_PSK },
	};
	const char *p = spec;
	size_t i, len;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (len == 0)
			break;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len &&
			    memcmp(names[i].name, p, len) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]) ||
		    *ntok >= KZ__NOISE_MAX_TOKENS)
			return KZ_ERR_INVAL;
		tok[(*ntok)++] = (uint8_t)names[i].t;
		p += len;
	}
	return 0;
}

/*
 * Splits "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b" into the base pattern
 * and a bit mask of psk positions.  Modifiers must be pskN, strictly
 * ascending; anything else (fallback, hfs, another suite) is refused.
 */
static int
parse_name(const char *name, const struct kz__noise_pattern **pat,
    unsigned *psk_mask)
{
	const char *p, *end;
	size_t namelen = strlen(name), suflen = strlen(KZ__NOISE_SUITE);
	size_t baselen, i;
	int last = -1;

	if (namelen < 6 + suflen || memcmp(name, "Noise_", 6) != 0 ||
	    strcmp(name + namelen - suflen, KZ__NOISE_SUITE) != 0)
		return KZ_ERR_INVAL;
	p = name + 6;
	end = name + namelen - suflen;

	for (baselen = 0; p + baselen < end; baselen++) {
		char c = p[baselen];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			break;
	}
	*pat = NULL;
	for (i = 0; i < KZ__NOISE_NPATTERNS; i++)
		if (strlen(kz__noise_patterns[i].name) == baselen &&
		    memcmp(kz__noise_patterns[i].name, p, baselen) == 0)
			*pat = &kz__noise_patterns[i];
	if (*pat == NULL)
		return KZ_ERR_INVAL;

	*psk_mask = 0;
	p += baselen;
	while (p < end) {
		int n;

		if (last >= 0 && *p++ != '+')
			return KZ_ERR_INVAL;
		if (end - p < 4 || memcmp(p, "psk", 3) != 0 ||
		    p[3] < '0' || p[3] > '9')
			return KZ_ERR_INVAL;
		n = p[3] - '0';
		p += 4;
		if (n <= last || n > KZ__NOISE_MAX_MSGS)
			return KZ_ERR_INVAL;
		*psk_mask |= 1u << n;
		last = n;
	}
	return 0;
}

/*
 * The §7.3 and §9.3 validity rules, checked on the expanded pattern:
 * each party sends e and s at most once (pre-messages included); every DH
 * uses keys that exist by then and happens once; a party sends a payload
 * only if each DH against its static key is matched by the DH of its
 * ephemeral key with the same remote key; after a psk, a party encrypts only
 * once it has sent e.  The same simulation also marks which static keys the
 * parties need.
 */
#define DH_BIT(tok) (1u << (tok))

/*
 * May party p (0 initiator, 1 responder) send a payload now?  Not after a
 * DH against its own static key without the matching ephemeral DH with the
 * same remote key (§7.3), nor after a psk before it has sent e (§9.3).
 */
static int
may_send(int p, unsigned dh, int psk, const int has_e[2])
{
	if (psk && !has_e[p])
		return 0;
	if (p == 0)
		return !((dh & DH_BIT(TOK_SE)) && !(dh & DH_BIT(TOK_EE))) &&
		    !((dh & DH_BIT(TOK_SS)) && !(dh & DH_BIT(TOK_ES)));
	return !((dh & DH_BIT(TOK_ES)) && !(dh & DH_BIT(TOK_EE))) &&
	    !((dh & DH_BIT(TOK_SS)) && !(dh & DH_BIT(TOK_SE)));
}

static int
check_proto(const struct kz__noise_proto *pr, int need_s[2])
{
	int has_e[2] = { 0, 0 }, has_s[2], psk = 0, p;
	unsigned dh = 0;
	size_t m, t;

	has_s[0] = need_s[0] = pr->pre_s[0];
	has_s[1] = need_s[1] = pr->pre_s[1];
	for (m = 0; m < pr->nmsgs; m++) {
		p = (int)(m % 2);
		for (t = 0; t < pr->ntok[m]; t++) {
			int tk = pr->tok[m][t];
			/* Whose e or s a DH uses: es = initiator e, resp. s. */
			int ie = tk == TOK_EE || tk == TOK_ES;
			int re = tk == TOK_EE || tk == TOK_SE;

			switch (tk) {
			case TOK_E:
				if (has_e[p])
					return KZ_ERR_INVAL;
				has_e[p] = 1;
				break;
			case TOK_S:
				if (has_s[p] || (psk && !has_e[p]))
					return KZ_ERR_INVAL;
				has_s[p] = need_s[p] = 1;
				break;
			case TOK_PSK:
				psk = 1;
				break;
			default:
				if ((dh & DH_BIT(tk)) != 0 ||
				    !(ie ? has_e[0] : has_s[0]) ||
				    !(re ? has_e[1] : has_s[1]))
					return KZ_ERR_INVAL;
				dh |= DH_BIT(tk);
				break;
			}
		}
		if (!may_send(p, dh, psk, has_e))
			return KZ_ERR_INVAL;
	}
	/* Transport payloads: both parties, or only the initiator (one-way). */
	for (p = 0; p < (pr->nmsgs == 1 ? 1 : 2); p++)
		if (!may_send(p, dh, psk, has_e))
			return KZ_ERR_INVAL;
	return 0;
}

/*
 * Expands a base pattern with the psk tokens of mask (bit N = pskN) and
 * checks the result; 0 or KZ_ERR_INVAL.
 */
static int
expand_pattern(const struct kz__noise_pattern *pat, unsigned mask,
    struct kz__noise_proto *pr, int need_s[2])
{
	size_t m;
	int rc;

	memset(pr, 0, sizeof(*pr));
	if ((strcmp(pat->pre_i, "") != 0 && strcmp(pat->pre_i, "s") != 0) ||
	    (strcmp(pat->pre_r, "") != 0 && strcmp(pat->pre_r, "s") != 0))
		return KZ_ERR_INVAL;     /* pre-message e is not supported */
	pr->pre_s[0] = strcmp(pat->pre_i, "s") == 0;
	pr->pre_s[1] = strcmp(pat->pre_r, "s") == 0;
	for (m = 0; m < KZ__NOISE_MAX_MSGS && pat->msgs[m] != NULL; m++)
		pr->nmsgs++;
	if (pr->nmsgs == 0 || mask >> (pr->nmsgs + 1) != 0)
		return KZ_ERR_INVAL;     /* pskN past the last message */
	for (m = 0; m < pr->nmsgs; m++) {
		if (m == 0 && (mask & 1u))
			pr->tok[m][pr->ntok[m]++] = TOK_PSK;
		rc = parse_tokens(pat->msgs[m], pr->tok[m], &pr->ntok[m]);
		if (rc < 0)
			return rc;
		if (mask & (1u << (m + 1))) {
			if (pr->ntok[m] >= KZ__NOISE_MAX_TOKENS)
				return KZ_ERR_INVAL;
			pr->tok[m][pr->ntok[m]++] = TOK_PSK;
		}
	}
	for (m = 0; m <= KZ__NOISE_MAX_MSGS; m++)
		pr->npsk += (mask >> m) & 1u;
	return check_proto(pr, need_s);
}

/* Builds the expanded pattern of a protocol name; 0 or KZ_ERR_INVAL. */
static int
build_proto(const char *name, struct kz__noise_proto *pr, int need_s[2])
{
	const struct kz__noise_pattern *pat;
	unsigned mask;
	int rc;

	memset(pr, 0, sizeof(*pr));
	rc = parse_name(name, &pat, &mask);
	if (rc < 0)
		return rc;
	return expand_pattern(pat, mask, pr, need_s);
}

int
kz__noise_pattern_check(const char *pre_i, const char *pre_r,
    const char *const msgs[4], unsigned psk_mask)
{
	struct kz__noise_pattern pat;
	struct kz__noise_proto pr;
	int need_s[2];
	size_t m;

	pat.name = "test";
	pat.pre_i = pre_i;
	pat.pre_r = pre_r;
	for (m = 0; m < KZ__NOISE_MAX_MSGS; m++)
		pat.msgs[m] = msgs[m];
	return expand_pattern(&pat, psk_mask, &pr, need_s);
}

/* ----------------------------------------------------- handshake */

/* Wipes everything and makes the handshake FAILED for good. */
static void
fail(struct kz_noise_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
	hs->state = ST_FAILED;
}

int
kz_noise_public_key(uint8_t pub[KZ_NOISE_KEY_BYTES],
    const uint8_t priv[KZ_NOISE_KEY_BYTES])
{
	if (crypto_scalarmult_base(pub, priv) != 0)
		return KZ_ERR_CRYPTO;
	return 0;
}

int
kz_noise_keypair(uint8_t priv[KZ_NOISE_KEY_BYTES],
    uint8_t pub[KZ_NOISE_KEY_BYTES])
{
	randombytes_buf(priv, KZ_NOISE_KEY_BYTES);
	return kz_noise_public_key(pub, priv);
}

int
kz_noise_new(struct kz_noise_handshake **hsp, const char *protocol,
    int initiator, const uint8_t *prologue, size_t prologue_len,
    const uint8_t *s, const uint8_t *rs, const uint8_t *const *psks,
    size_t n_psks, const uint8_t *ephemeral)
{
	struct kz_noise_handshake *hs = NULL;
	int need_s[2], me, peer, rc;
	size_t i;

	if (hsp == NULL)
		return KZ_ERR_INVAL;
	*hsp = NULL;
	if (protocol == NULL || (prologue == NULL && prologue_len > 0) ||
	    (psks == NULL && n_psks > 0))
		return KZ_ERR_INVAL;
	for (i = 0; i < n_psks; i++)
		if (psks[i] == NULL)
			return KZ_ERR_INVAL;

	hs = calloc(1, sizeof(*hs));
	if (hs == NULL)
		return KZ_ERR_NOMEM;
	hs->initiator = initiator ? 1 : 0;
	me = hs->initiator ? 0 : 1;
	peer = 1 - me;

	rc = build_proto(protocol, &hs->pr, need_s);
	if (rc < 0)
		goto out;
	rc = KZ_ERR_INVAL;
	if (n_psks != hs->pr.npsk || (need_s[me] && s == NULL) ||
	    (hs->pr.pre_s[peer] != (rs != NULL)))
		goto out;

	if (need_s[me]) {
		memcpy(hs->s, s, KZ_NOISE_KEY_BYTES);
		rc = kz_noise_public_key(hs->s_pub, hs->s);
		if (rc < 0)
			goto out;
		hs->has_s = 1;
	}
	if (rs != NULL) {
		memcpy(hs->rs, rs, KZ_NOISE_KEY_BYTES);
		hs->has_rs = 1;
	}
	for (i = 0; i < n_psks; i++)
		memcpy(hs->psks[i], psks[i], KZ_NOISE_KEY_BYTES);
	if (ephemeral != NULL) {
		memcpy(hs->e_fixed, ephemeral, KZ_NOISE_KEY_BYTES);
		hs->has_e_fixed = 1;
	}

	/* Initialize(): name, prologue, pre-messages (initiator's first). */
	kz__noise_sym_init(&hs->ss, protocol);
	kz__noise_mix_hash(&hs->ss, prologue, prologue_len);
	if (hs->pr.pre_s[0])
		kz__noise_mix_hash(&hs->ss, hs->initiator ? hs->s_pub : hs->rs,
		    KZ_NOISE_KEY_BYTES);
	if (hs->pr.pre_s[1])
		kz__noise_mix_hash(&hs->ss, hs->initiator ? hs->rs : hs->s_pub,
		    KZ_NOISE_KEY_BYTES);
	hs->state = ST_RUNNING;
	*hsp = hs;
	hs = NULL;
	rc = 0;
out:
	kz_noise_free(hs);
	return rc;
}

void
kz_noise_free(struct kz_noise_handshake *hs)
{
	if (hs == NULL)
		return;
	sodium_memzero(hs, sizeof(*hs));
	free(hs);
}

/* 1 when the next message is ours to write. */
static int
my_turn(const struct kz_noise_handshake *hs)
{
	return (hs->msg % 2 == 0) == (hs->initiator == 1);
}

enum kz_noise_action
kz_noise_action(const struct kz_noise_handshake *hs)
{
	switch (hs->state) {
	case ST_RUNNING:
		return my_turn(hs) ? KZ_NOISE_WRITE : KZ_NOISE_READ;
	case ST_DONE:
		return KZ_NOISE_SPLIT;
	case ST_SPLIT:
		return KZ_NOISE_IDLE;
	case ST_FAILED:
	default:
		return KZ_NOISE_FAILED;
	}
}

int
kz_noise_done(const struct kz_noise_handshake *hs)
{
	return hs->state == ST_DONE || hs->state == ST_SPLIT;
}

/*
 * The bytes the next message carries besides the payload: keys, the tag of
 * an encrypted s, and the payload's tag.  Simulates when a key appears.
 */
static size_t
msg_overhead(const struct kz_noise_handshake *hs)
{
	int has_key = hs->ss.cs.has_key, psk_mode = hs->pr.npsk > 0;
	size_t t, size = 0, m = hs->msg;

	for (t = 0; t < hs->pr.ntok[m]; t++) {
		switch (hs->pr.tok[m][t]) {
		case TOK_E:
			size += KZ_NOISE_KEY_BYTES;
			if (psk_mode)
				has_key = 1;
			break;
		case TOK_S:
			size += KZ_NOISE_KEY_BYTES +
			    (has_key ? KZ_NOISE_TAG_BYTES : 0);
			break;
		default:
			has_key = 1;
			break;
		}
	}
	return size + (has_key ? KZ_NOISE_TAG_BYTES : 0);
}

/* MixKey(DH(...)) for an ee/es/se/ss token, seen from our side. */
static int
mix_dh(struct kz_noise_handshake *hs, int tok)
{
	uint8_t shared[KZ_NOISE_KEY_BYTES];
	const uint8_t *priv, *pub;
	int local_e, remote_e, rc;

	/* Our key and theirs: es is (initiator e, responder s). */
	switch (tok) {
	case TOK_EE:
		local_e = remote_e = 1;
		break;
	case TOK_ES:
		local_e = hs->initiator;
		remote_e = !hs->initiator;
		break;
	case TOK_SE:
		local_e = !hs->initiator;
		remote_e = hs->initiator;
		break;
	default:
		local_e = remote_e = 0;
		break;
	}
	if (!(local_e ? hs->has_e : hs->has_s) ||
	    !(remote_e ? hs->has_re : hs->has_rs))
		return KZ_ERR_INVAL;
	priv = local_e ? hs->e : hs->s;
	pub = remote_e ? hs->re : hs->rs;
	hs->n_dh++;
	rc = kz__noise_dh(shared, priv, pub);
	if (rc == 0)
		kz__noise_mix_key(&hs->ss, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

/* Tokens that both sides process the same way: DHs and psk. */
static int
mix_common(struct kz_noise_handshake *hs, int tok)
{
	if (tok != TOK_PSK)
		return mix_dh(hs, tok);
	if (hs->psk_next >= hs->pr.npsk)
		return KZ_ERR_INVAL;
	kz__noise_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_next++],
	    KZ_NOISE_KEY_BYTES);
	return 0;
}

/* After a message: the next one, or DONE. */
static void
advance(struct kz_noise_handshake *hs)
{
	if (++hs->msg == hs->pr.nmsgs)
		hs->state = ST_DONE;
}

int
kz_noise_write_message(struct kz_noise_handshake *hs,
    const uint8_t *payload, size_t len, uint8_t *out, size_t out_cap,
    size_t *outlen)
{
	size_t need, off = 0, wipe = 0, t, m;
	int rc = KZ_ERR_INVAL;

	if (outlen != NULL)
		*outlen = 0;
	if (hs == NULL)
		return KZ_ERR_INVAL;
	if (hs->state != ST_RUNNING || !my_turn(hs) || outlen == NULL ||
	    out == NULL || (payload == NULL && len > 0))
		goto out;
	need = msg_overhead(hs);
	rc = KZ_ERR_TOO_BIG;
	if (len > KZ_NOISE_MAX_MSG - need || need + len > out_cap)
		goto out;

	wipe = need + len;
	m = hs->msg;
	for (t = 0; t < hs->pr.ntok[m]; t++) {
		int tok = hs->pr.tok[m][t];

		switch (tok) {
		case TOK_E:
			if (hs->has_e_fixed)
				memcpy(hs->e, hs->e_fixed, KZ_NOISE_KEY_BYTES);
			else
				randombytes_buf(hs->e, KZ_NOISE_KEY_BYTES);
			rc = kz_noise_public_key(hs->e_pub, hs->e);
			if (rc < 0)
				goto out;
			hs->has_e = 1;
			memcpy(out + off, hs->e_pub, KZ_NOISE_KEY_BYTES);
			off += KZ_NOISE_KEY_BYTES;
			kz__noise_mix_hash(&hs->ss, hs->e_pub, KZ_NOISE_KEY_BYTES);
			if (hs->pr.npsk > 0)
				kz__noise_mix_key(&hs->ss, hs->e_pub,
				    KZ_NOISE_KEY_BYTES);
			break;
		case TOK_S: {
			size_t clen = KZ_NOISE_KEY_BYTES +
			    (hs->ss.cs.has_key ? KZ_NOISE_TAG_BYTES : 0);

			rc = kz__noise_encrypt_and_hash(&hs->ss, hs->s_pub,
			    KZ_NOISE_KEY_BYTES, out + off);
			if (rc < 0)
				goto out;
			off += clen;
			break;
		}
		default:
			rc = mix_common(hs, tok);
			if (rc < 0)
				goto out;
			break;
		}
	}
	rc = kz__noise_encrypt_and_hash(&hs->ss, payload, len, out + off);
	if (rc < 0)
		goto out;
	*outlen = need + len;
	advance(hs);
	rc = 0;
out:
	if (rc < 0) {
		/* Nothing of a failed message may be sent. */
		if (wipe > 0)
			sodium_memzero(out, wipe);
		if (hs->state != ST_FAILED)
			fail(hs);
	}
	return rc;
}

int
kz_noise_read_message(struct kz_noise_handshake *hs, const uint8_t *msg,
    size_t len, uint8_t *payload_out, size_t payload_cap,
    size_t *payload_len)
{
	uint8_t rs[KZ_NOISE_KEY_BYTES];
	size_t need, off = 0, plen = 0, t, m;
	int rc = KZ_ERR_INVAL;

	if (payload_len != NULL)
		*payload_len = 0;
	if (hs == NULL)
		return KZ_ERR_INVAL;
	if (hs->state != ST_RUNNING || my_turn(hs) || payload_len == NULL ||
	    (msg == NULL && len > 0) || (payload_out == NULL && payload_cap > 0))
		goto out;
	rc = KZ_ERR_TOO_BIG;
	if (len > KZ_NOISE_MAX_MSG)
		goto out;
	need = msg_overhead(hs);
	rc = KZ_ERR_TRUNCATED;
	if (len < need)
		goto out;
	rc = KZ_ERR_TOO_BIG;
	if (len - need > payload_cap)
		goto out;
	plen = len - need;

	m = hs->msg;
	for (t = 0; t < hs->pr.ntok[m]; t++) {
		int tok = hs->pr.tok[m][t];

		switch (tok) {
		case TOK_E:
			memcpy(hs->re, msg + off, KZ_NOISE_KEY_BYTES);
			hs->has_re = 1;
			off += KZ_NOISE_KEY_BYTES;
			kz__noise_mix_hash(&hs->ss, hs->re, KZ_NOISE_KEY_BYTES);
			if (hs->pr.npsk > 0)
				kz__noise_mix_key(&hs->ss, hs->re,
				    KZ_NOISE_KEY_BYTES);
			break;
		case TOK_S: {
			size_t clen = KZ_NOISE_KEY_BYTES +
			    (hs->ss.cs.has_key ? KZ_NOISE_TAG_BYTES : 0);

			rc = kz__noise_decrypt_and_hash(&hs->ss, msg + off, clen,
			    rs);
			if (rc < 0)
				goto out;
			memcpy(hs->rs, rs, KZ_NOISE_KEY_BYTES);
			hs->has_rs = 1;
			off += clen;
			break;
		}
		default:
			rc = mix_common(hs, tok);
			if (rc < 0)
				goto out;
			break;
		}
	}
	rc = kz__noise_decrypt_and_hash(&hs->ss, msg + off, len - off,
	    payload_out);
	if (rc < 0)
		goto out;
	*payload_len = plen;
	advance(hs);
	rc = 0;
out:
	sodium_memzero(rs, sizeof(rs));
	if (rc < 0) {
		if (payload_out != NULL && plen > 0)
			sodium_memzero(payload_out, plen);
		if (hs->state != ST_FAILED)
			fail(hs);
	}
	return rc;
}

int
kz_noise_split(struct kz_noise_handshake *hs, struct kz_noise_cipher *send,
    struct kz_noise_cipher *recv)
{
	struct kz_noise_cipher c1, c2;

	if (hs == NULL || send == NULL || recv == NULL || hs->state != ST_DONE)
		return KZ_ERR_INVAL;
	kz__noise_sym_split(&hs->ss, &c1, &c2);
	/* One-way patterns: only initiator -> responder is ever used. */
	if (hs->pr.nmsgs == 1)
		kz_noise_cipher_wipe(&c2);
	*send = hs->initiator ? c1 : c2;
	*recv = hs->initiator ? c2 : c1;
	sodium_memzero(&c1, sizeof(c1));
	sodium_memzero(&c2, sizeof(c2));

	/* Keep only what callers may still ask for: h and rs. */
	sodium_memzero(hs->ss.ck, sizeof(hs->ss.ck));
	sodium_memzero(&hs->ss.cs, sizeof(hs->ss.cs));
	sodium_memzero(hs->s, sizeof(hs->s));
	sodium_memzero(hs->e, sizeof(hs->e));
	sodium_memzero(hs->e_fixed, sizeof(hs->e_fixed));
	sodium_memzero(hs->psks, sizeof(hs->psks));
	hs->has_s = hs->has_e = hs->has_e_fixed = 0;
	hs->state = ST_SPLIT;
	return 0;
}

const uint8_t *
kz_noise_remote_static(const struct kz_noise_handshake *hs)
{
	if (hs == NULL || hs->state == ST_FAILED || !hs->has_rs)
		return NULL;
	return hs->rs;
}

const uint8_t *
kz_noise_handshake_hash(const struct kz_noise_handshake *hs)
{
	if (hs == NULL || (hs->state != ST_DONE && hs->state != ST_SPLIT))
		return NULL;
	return hs->ss.h;
}

/* ----------------------------------------------------- transport */

int
kz_noise_encrypt(struct kz_noise_cipher *c, const uint8_t *payload,
    size_t len, uint8_t *out, size_t out_cap, size_t *outlen)
{
	int rc;

	if (outlen != NULL)
		*outlen = 0;
	if (c == NULL || !c->has_key || out == NULL || outlen == NULL ||
	    (payload == NULL && len > 0))
		return KZ_ERR_INVAL;
	if (len > KZ_NOISE_MAX_PAYLOAD || out_cap < len + KZ_NOISE_TAG_BYTES)
		return KZ_ERR_TOO_BIG;
	rc = kz__noise_cipher_encrypt_ad(c, NULL, 0, payload, len, out);
	if (rc < 0)
		return rc;
	*outlen = len + KZ_NOISE_TAG_BYTES;
	return 0;
}

int
kz_noise_decrypt(struct kz_noise_cipher *c, const uint8_t *msg,
    size_t len, uint8_t *out, size_t out_cap, size_t *outlen)
{
	int rc;

	if (outlen != NULL)
		*outlen = 0;
	if (c == NULL || !c->has_key || outlen == NULL || msg == NULL ||
	    (out == NULL && out_cap > 0))
		return KZ_ERR_INVAL;
	if (len > KZ_NOISE_MAX_MSG)
		return KZ_ERR_TOO_BIG;
	if (len < KZ_NOISE_TAG_BYTES)
		return KZ_ERR_TRUNCATED;
	if (out_cap < len - KZ_NOISE_TAG_BYTES)
		return KZ_ERR_TOO_BIG;
	rc = kz__noise_cipher_decrypt_ad(c, NULL, 0, msg, len, out);
	if (rc < 0)
		return rc;
	*outlen = len - KZ_NOISE_TAG_BYTES;
	return 0;
}

int
kz_noise_rekey(struct kz_noise_cipher *c)
{
	static const uint8_t zeros[KZ_NOISE_KEY_BYTES];
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t buf[KZ_NOISE_KEY_BYTES + KZ_NOISE_TAG_BYTES];
	unsigned long long clen;
	int rc = 0;

	if (c == NULL || !c->has_key)
		return KZ_ERR_INVAL;
	/* REKEY(k) = ENCRYPT(k, 2^64-1, "", zeros) without the tag. */
	kz__noise_nonce(nonce, UINT64_MAX);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(buf, &clen, zeros,
	    sizeof(zeros), NULL, 0, NULL, nonce, c->k) != 0)
		rc = KZ_ERR_CRYPTO;
	else
		memcpy(c->k, buf, KZ_NOISE_KEY_BYTES);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

void
kz_noise_cipher_wipe(struct kz_noise_cipher *c)
{
	if (c != NULL)
		sodium_memzero(c, sizeof(*c));
}
