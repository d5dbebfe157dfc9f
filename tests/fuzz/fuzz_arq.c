/*
 * Fuzz target: one kz_arq end (session KZF_ARQ_SESSION) fed arbitrary
 * frames, with its clock, reads and writes driven by the input too.
 *
 * Input: a config byte (bit 0 half duplex, bits 1-2 the MTU: 64, 200,
 * 512 or 2048, bits 3-6 the window - 1), then records, each an op byte:
 *
 *   op % 4 == 0   a frame: u16 length (big-endian, at most 4096) and that
 *                 many bytes, given to kz_arq_input;
 *   op % 4 == 1   time passes: u16 ms (times 1 << (op >> 5)), then every
 *                 frame kz_arq_output gives is taken and checked;
 *   op % 4 == 2   kz_arq_read of up to u16 bytes;
 *   op % 4 == 3   kz_arq_write of the next (op >> 2) * 7 input bytes (so
 *                 that acks in the frames drive the end's sender too).
 *
 * Invariants: kz_arq_input returns 0; every frame out decodes, fits the
 * MTU, comes from our session to the peer it locked onto (or 0 before),
 * and carries exactly the stream bytes written at its place (a frame sent
 * again carries the same bytes); the bytes held unread never exceed
 * window × (MTU - overhead); a down end stays down and sends nothing; and
 * everything read is the payloads of valid data frames (decoded, addressed
 * to us or to no one, from the locked peer), one for each seq from 0 on, in
 * order (a frame for a seq may have come in several versions: one of them).
 *
 * Seeds (tests/fuzz/gen_corpus.c, gen_arq): the frames a real kz_arq
 * sender sent to a real receiver with this target's session and options,
 * with the time steps between them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/arq.h"
#include "kizuna/err.h"

#define KZF_ARQ_SESSION 0x52454356u	/* "RECV" */
#define MAX_FRAMES 4096
#define MAX_STEPS 2048

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The options a config byte selects (gen_arq in gen_corpus.c uses the
 * same mapping). */
static void
opts_for(uint8_t c, struct kz_arq_opts *o)
{
	static const size_t mtus[4] = { 64, 200, 512, 2048 };

	if (c & 1)
		kz_arq_opts_radio(o, 1200);
	else
		kz_arq_opts_lan(o);
	o->mtu = mtus[(c >> 1) & 3];
	o->window = (uint16_t)(1 + ((c >> 3) & 15));
	o->send_buffer = 4096;
	o->session = KZF_ARQ_SESSION;
}

/* A valid data frame fed to the end: a candidate for its seq. */
struct cand {
	uint16_t seq;
	const uint8_t *p;		/* into the fuzz input */
	size_t len;
	uint32_t src;
};

struct st {
	struct kz_arq *a;
	struct kz_arq_opts o;
	uint64_t now;
	struct cand c[MAX_FRAMES];
	size_t nc;
	uint8_t *got;			/* everything read */
	size_t ngot, capgot;
	uint8_t written[1 << 16];	/* stream bytes written */
	size_t nwritten;
	uint64_t off[1 << 16];		/* stream offset of each seq sent */
	uint16_t len[1 << 16];
	uint32_t next_seq;		/* the next new seq the end may send */
	uint64_t next_off;
	uint64_t read_total;
};

static struct st S;

static void
take_output(struct st *s, const uint8_t *f, size_t n)
{
	struct kz_arq_frame g;
	struct kz_arq_stats st;
	int rc = kz_arq_frame_decode(&g, f, n);

	kz_arq_get_stats(s->a, &st);
	KZF_CHECK(rc == 0, "arq: a frame out does not decode: %s",
	    kz_errname(rc));
	KZF_CHECK(n <= s->o.mtu, "arq: a frame of %zu bytes, MTU %zu", n,
	    s->o.mtu);
	KZF_CHECK(g.src == KZF_ARQ_SESSION && g.dst == st.peer,
	    "arq: a frame from %08x to %08x (peer %08x)", (unsigned)g.src,
	    (unsigned)g.dst, (unsigned)st.peer);
	KZF_CHECK(g.wnd <= s->o.window, "arq: window %u advertised", g.wnd);
	if (g.len == 0)
		return;
	KZF_CHECK(g.seq <= s->next_seq, "arq: seq %u sent before seq %u",
	    g.seq, (unsigned)s->next_seq);
	if (g.seq == s->next_seq) {
		s->off[g.seq] = s->next_off;
		s->len[g.seq] = (uint16_t)g.len;
		s->next_seq++;
		s->next_off += g.len;
	}
	KZF_CHECK(s->len[g.seq] == g.len, "arq: seq %u sent with %zu bytes, "
	    "then %u", g.seq, g.len, s->len[g.seq]);
	KZF_CHECK(s->off[g.seq] + g.len <= s->nwritten &&
	    memcmp(g.payload, s->written + s->off[g.seq], g.len) == 0,
	    "arq: seq %u does not carry the stream bytes written", g.seq);
}

static void
pull(struct st *s)
{
	uint8_t f[KZ_ARQ_MTU_MAX];
	size_t n;
	int i;

	for (i = 0; i < 4 * KZ_ARQ_WINDOW_MAX + 4; i++) {
		bool down = kz_arq_down(s->a);

		if (kz_arq_output(s->a, s->now, f, &n) != 0)
			return;
		KZF_CHECK(!down, "arq: a down end sent a frame");
		take_output(s, f, n);
	}
	KZF_CHECK(kz_arq_next_event(s->a, s->now) > s->now ||
	    kz_arq_down(s->a), "arq: output keeps giving frames at one time");
}

static void
feed(struct st *s, const uint8_t *p, size_t n)
{
	struct kz_arq_frame g;
	bool down = kz_arq_down(s->a);
	int rc = kz_arq_input(s->a, p, n, s->now);

	KZF_CHECK(rc == 0, "arq: input: %s", kz_errname(rc));
	KZF_CHECK(!down || kz_arq_down(s->a), "arq: down was not final");
	if (kz_arq_frame_decode(&g, p, n) == 0 && g.len > 0 &&
	    g.len <= s->o.mtu - KZ_ARQ_OVERHEAD &&
	    (g.dst == 0 || g.dst == KZF_ARQ_SESSION) && s->nc < MAX_FRAMES)
		s->c[s->nc++] = (struct cand){ g.seq, g.payload, g.len, g.src };
}

static void
do_read(struct st *s, size_t cap)
{
	struct kz_arq_stats st;
	size_t k;

	kz_arq_get_stats(s->a, &st);
	KZF_CHECK(st.stream_in - s->read_total <= (uint64_t)s->o.window *
	    (s->o.mtu - KZ_ARQ_OVERHEAD), "arq: %llu bytes held unread",
	    (unsigned long long)(st.stream_in - s->read_total));
	if (s->got == NULL || s->ngot + cap > s->capgot) {
		size_t ncap = s->capgot ? s->capgot : 4096;

		while (ncap < s->ngot + cap)
			ncap *= 2;
		s->got = realloc(s->got, ncap);
		KZF_CHECK(s->got != NULL, "arq: harness out of memory");
		s->capgot = ncap;
	}
	k = kz_arq_read(s->a, s->got + s->ngot, cap);
	KZF_CHECK(k <= cap, "arq: read %zu of %zu", k, cap);
	s->ngot += k;
	s->read_total += k;
}

/* Can what was read be cut into candidates for seq 0, 1, 2 ... (the last
 * one possibly cut short)?  Breadth first over positions, seq by seq. */
static bool
explained(const struct st *s, uint32_t peer)
{
	uint8_t *at = calloc(s->ngot + 1, 1), *next = calloc(s->ngot + 1, 1);
	bool ok = false, any = true;
	uint16_t seq;

	KZF_CHECK(at != NULL && next != NULL, "arq: harness out of memory");
	at[0] = 1;
	for (seq = 0; any && !ok && seq < MAX_FRAMES; seq++) {
		size_t pos, i;

		any = false;
		memset(next, 0, s->ngot + 1);
		for (pos = 0; pos <= s->ngot && !ok; pos++) {
			if (!at[pos])
				continue;
			if (pos == s->ngot) {
				ok = true;
				break;
			}
			for (i = 0; i < s->nc; i++) {
				const struct cand *c = &s->c[i];
				size_t k = c->len < s->ngot - pos ? c->len :
				    s->ngot - pos;

				if (c->seq != seq || c->src != peer ||
				    memcmp(s->got + pos, c->p, k) != 0)
					continue;
				if (k < c->len)
					ok = true;
				else
					next[pos + k] = any = 1;
			}
		}
		memcpy(at, next, s->ngot + 1);
	}
	free(at);
	free(next);
	return ok || s->ngot == 0;
}

static void
run(struct st *s, struct kzf_in *in)
{
	int steps = 0;

	while (in->n > 0 && steps++ < MAX_STEPS) {
		uint8_t op = kzf_u8(in);
		const uint8_t *p;
		size_t n, got;

		switch (op % 4) {
		case 0:
			n = kzf_u16(in);
			p = kzf_take(in, n > 4096 ? 4096 : n, &got);
			feed(s, p, got);
			break;
		case 1:
			s->now += (uint64_t)kzf_u16(in) << (op >> 5);
			pull(s);
			break;
		case 2:
			do_read(s, kzf_u16(in));
			break;
		default:
			p = kzf_take(in, (size_t)(op >> 2) * 7, &got);
			if (s->nwritten + got > sizeof(s->written))
				got = sizeof(s->written) - s->nwritten;
			n = kz_arq_write(s->a, p, got, s->now);
			KZF_CHECK(n <= got, "arq: wrote %zu of %zu", n, got);
			KZF_CHECK(n == 0 || !kz_arq_down(s->a),
			    "arq: a down end took bytes");
			memcpy(s->written + s->nwritten, p, n);
			s->nwritten += n;
			pull(s);
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kzf_in in = { data, size };
	struct st *s = &S;
	struct kz_arq_stats st;
	int rc;

	memset(s, 0, offsetof(struct st, written));
	s->nwritten = 0;
	s->next_seq = 0;
	s->next_off = 0;
	s->read_total = 0;
	opts_for(kzf_u8(&in), &s->o);
	rc = kz_arq_new(&s->a, &s->o, 0);
	KZF_CHECK(rc == 0, "arq: new: %s", kz_errname(rc));
	run(s, &in);
	do_read(s, 1 << 17);
	kz_arq_get_stats(s->a, &st);
	KZF_CHECK(explained(s, st.peer), "arq: %zu bytes read that the valid "
	    "frames do not explain", s->ngot);
	kzf_debug("arq: %llu frames in, %llu bad, %llu malformed, %llu foreign, "
	    "%zu bytes read, %s", (unsigned long long)st.frames_in,
	    (unsigned long long)st.bad_crc, (unsigned long long)st.malformed,
	    (unsigned long long)st.foreign, s->ngot,
	    kz_arq_down(s->a) ? kz_arq_reason(s->a) : "up");
	kz_arq_free(s->a);
	s->a = NULL;
	free(s->got);
	s->got = NULL;
	return 0;
}
