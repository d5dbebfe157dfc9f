/*
 * KISS framing and the AX.25 UI header (kizuna/kiss.h), and the option
 * checks of the KISS port (daemon/radio.h): exact bytes of known frames
 * (data full of FEND and FESC, the parameter commands), the deframer on
 * every split of a stream into two and three chunks, back-to-back FENDs,
 * invalid escapes, oversize frames, garbage between frames; a header
 * compared with one computed by hand; the callsign table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/radio.h"
#include "kizuna/err.h"
#include "kizuna/kiss.h"
#include "testutil.h"

#define MAX_FRAMES 64

/* What a deframer returned: frames (port, bytes) in order. */
struct got {
	size_t n;
	unsigned port[MAX_FRAMES];
	size_t len[MAX_FRAMES];
	uint8_t data[MAX_FRAMES][1100];
};

static void
feed(struct kz_kiss_deframer *d, const uint8_t *p, size_t n, struct got *g)
{
	struct kz_kiss_frame f;

	while (kz_kiss_next(d, &p, &n, &f) == 1) {
		assert_true(g->n < MAX_FRAMES);
		assert_true(f.len <= sizeof(g->data[0]));
		g->port[g->n] = f.port;
		g->len[g->n] = f.len;
		memcpy(g->data[g->n], f.data, f.len);
		g->n++;
	}
	assert_int_equal(n, 0);
}

/* Deframes a whole stream in one call. */
static void
deframe(size_t frame_max, const uint8_t *p, size_t n, struct got *g,
    struct kz_kiss_stats *st)
{
	struct kz_kiss_deframer *d;

	memset(g, 0, sizeof(*g));
	assert_int_equal(kz_kiss_deframer_new(&d, frame_max), 0);
	feed(d, p, n, g);
	kz_kiss_deframer_stats(d, st);
	kz_kiss_deframer_free(d);
}

static void
assert_frame(const struct got *g, size_t i, unsigned port, const uint8_t *data,
    size_t len)
{
	assert_true(i < g->n);
	assert_int_equal(g->port[i], port);
	assert_int_equal(g->len[i], len);
	if (len > 0)
		assert_memory_equal(g->data[i], data, len);
}

static void
assert_same(const struct got *a, const struct got *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_frame(b, i, a->port[i], a->data[i], a->len[i]);
}

static void
assert_same_stats(const struct kz_kiss_stats *a, const struct kz_kiss_stats *b)
{
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->frames, b->frames);
	assert_int_equal(a->oversize, b->oversize);
	assert_int_equal(a->bad_escape, b->bad_escape);
	assert_int_equal(a->non_data, b->non_data);
	assert_int_equal(a->dropped, b->dropped);
}

/* ------------------------------------------------------------ encode */

static void
test_encode_known(void **state)
{
	uint8_t out[64];
	size_t n;
	static const uint8_t data[] = { 0x01, 0xC0, 0x02, 0xDB, 0x03 };
	static const uint8_t want[] = { 0xC0, 0x00, 0x01, 0xDB, 0xDC, 0x02,
	    0xDB, 0xDD, 0x03, 0xC0 };
	static const uint8_t all[] = { 0xC0, 0xC0, 0xDB, 0xDB, 0xC0 };
	static const uint8_t want_all[] = { 0xC0, 0x30, 0xDB, 0xDC, 0xDB, 0xDC,
	    0xDB, 0xDD, 0xDB, 0xDD, 0xDB, 0xDC, 0xC0 };
	static const uint8_t want_p12[] = { 0xC0, 0xDB, 0xDC, 0x41, 0xC0 };
	static const uint8_t want_empty[] = { 0xC0, 0x00, 0xC0 };
	static const uint8_t plain[] = { 'k', 'i', 'z', 'u', 'n', 'a' };
	static const uint8_t want_plain[] = { 0xC0, 0x00, 'k', 'i', 'z', 'u',
	    'n', 'a', 0xC0 };

	(void)state;
	assert_int_equal(kz_kiss_encode(out, sizeof(out), &n, 0, KZ_KISS_DATA,
	    data, sizeof(data)), 0);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);

	/* Data made only of FEND and FESC doubles, on port 3. */
	assert_int_equal(kz_kiss_encode(out, sizeof(out), &n, 3, KZ_KISS_DATA,
	    all, sizeof(all)), 0);
	assert_int_equal(n, sizeof(want_all));
	assert_memory_equal(out, want_all, n);
	assert_int_equal(kz_kiss_escaped_len(all, sizeof(all)), 10);
	assert_int_equal(kz_kiss_escaped_len(plain, sizeof(plain)), 6);
	assert_true(n <= KZ_KISS_ENCODED_MAX(sizeof(all)));

	/* Port 12's type byte is 0xC0 itself: escaped. */
	assert_int_equal(kz_kiss_encode(out, sizeof(out), &n, 12, KZ_KISS_DATA,
	    (const uint8_t *)"A", 1), 0);
	assert_int_equal(n, sizeof(want_p12));
	assert_memory_equal(out, want_p12, n);

	/* The worst case fits KZ_KISS_ENCODED_MAX exactly: port 12 and every
	 * data byte escaped (the first fuzz run found the bound one short). */
	assert_int_equal(kz_kiss_encode(out, KZ_KISS_ENCODED_MAX(sizeof(all)),
	    &n, 12, KZ_KISS_DATA, all, sizeof(all)), 0);
	assert_int_equal(n, KZ_KISS_ENCODED_MAX(sizeof(all)));
	assert_int_equal(kz_kiss_encode(out, KZ_KISS_ENCODED_MAX(0), &n, 12,
	    KZ_KISS_DATA, NULL, 0), 0);
	assert_int_equal(n, 4);

	assert_int_equal(kz_kiss_encode(out, sizeof(out), &n, 0, KZ_KISS_DATA,
	    NULL, 0), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, want_empty, 3);

	/* The exact size fits; one byte less does not, and says so. */
	assert_int_equal(kz_kiss_encode(out, sizeof(want_plain), &n, 0,
	    KZ_KISS_DATA, plain, sizeof(plain)), 0);
	assert_memory_equal(out, want_plain, sizeof(want_plain));
	assert_int_equal(kz_kiss_encode(out, sizeof(want_plain) - 1, &n, 0,
	    KZ_KISS_DATA, plain, sizeof(plain)), KZ_ERR_TOO_BIG);
	assert_int_equal(kz_kiss_encode(out, sizeof(want) - 2, &n, 0,
	    KZ_KISS_DATA, data, sizeof(data)), KZ_ERR_TOO_BIG);
	assert_int_equal(kz_kiss_encode(out, 2, &n, 0, KZ_KISS_DATA, NULL, 0),
	    KZ_ERR_TOO_BIG);

	assert_int_equal(kz_kiss_encode(out, sizeof(out), &n, 16, KZ_KISS_DATA,
	    plain, 1), KZ_ERR_INVAL);
	assert_int_equal(kz_kiss_encode(out, sizeof(out), &n, 0, 16, plain, 1),
	    KZ_ERR_INVAL);
}

static void
test_encode_params(void **state)
{
	uint8_t out[KZ_KISS_PARAMS_MAX];
	size_t n;
	struct kz_kiss_params p = { 300, 63, 100, 100, false };
	static const uint8_t want[] = {
		0xC0, 0x01, 0x1E, 0xC0,		/* TXDELAY 30 x 10 ms */
		0xC0, 0x02, 0x3F, 0xC0,		/* PERSIST 63 */
		0xC0, 0x03, 0x0A, 0xC0,		/* SLOTTIME 10 x 10 ms */
		0xC0, 0x04, 0x0A, 0xC0,		/* TXTAIL 10 x 10 ms */
		0xC0, 0x05, 0x00, 0xC0,		/* FULLDUP off */
	};
	/* Port 1; 301 ms rounds up to 31; PERSIST 192 is 0xC0, escaped;
	 * 2550 ms is 255; 0 is 0; full duplex on. */
	struct kz_kiss_params q = { 301, 192, 2550, 0, true };
	static const uint8_t want_q[] = {
		0xC0, 0x11, 0x1F, 0xC0,
		0xC0, 0x12, 0xDB, 0xDC, 0xC0,
		0xC0, 0x13, 0xFF, 0xC0,
		0xC0, 0x14, 0x00, 0xC0,
		0xC0, 0x15, 0x01, 0xC0,
	};
	struct kz_kiss_params bad;

	(void)state;
	assert_int_equal(kz_kiss_encode_params(out, sizeof(out), &n, 0, &p), 0);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);
	assert_int_equal(kz_kiss_encode_params(out, sizeof(out), &n, 1, &q), 0);
	assert_int_equal(n, sizeof(want_q));
	assert_memory_equal(out, want_q, n);

	bad = p;
	bad.txdelay_ms = 2551;
	assert_int_equal(kz_kiss_encode_params(out, sizeof(out), &n, 0, &bad),
	    KZ_ERR_INVAL);
	bad = p;
	bad.slottime_ms = 100000;
	assert_int_equal(kz_kiss_encode_params(out, sizeof(out), &n, 0, &bad),
	    KZ_ERR_INVAL);
	bad = p;
	bad.txtail_ms = 2560;
	assert_int_equal(kz_kiss_encode_params(out, sizeof(out), &n, 0, &bad),
	    KZ_ERR_INVAL);
	bad = p;
	bad.persist = 256;
	assert_int_equal(kz_kiss_encode_params(out, sizeof(out), &n, 0, &bad),
	    KZ_ERR_INVAL);
	assert_int_equal(kz_kiss_encode_params(out, sizeof(out), &n, 16, &p),
	    KZ_ERR_INVAL);
	assert_int_equal(kz_kiss_encode_params(out, sizeof(want) - 1, &n, 0, &p),
	    KZ_ERR_TOO_BIG);
}

/* ------------------------------------------------------------ deframe */

/*
 * A stream with everything the deframer must survive, and what it must
 * return: leading garbage, back-to-back FENDs, escapes, a parameter frame
 * from the TNC, an empty data frame, another port, garbage between frames,
 * an invalid escape, an oversize frame (frame_max 8).
 */
static const uint8_t stream[] = {
	0x12, 0x34,				/* joined mid-frame: dropped */
	0xC0, 0xC0, 0xC0,			/* back-to-back FENDs */
	0xC0, 0x00, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0xC0,	/* #0 */
	0xC0, 0x01, 0x1E, 0xC0,			/* TXDELAY: non-data */
	0xC0, 0x00, 0xC0,			/* #1: empty */
	0xC0, 0x20, 'h', 'i', 0xC0,		/* #2: port 2 */
	0x47, 0x61, 0x72, 0xC0,			/* garbage: type 0x47 */
	0xC0, 0x00, 'a', 0xDB, 'b', 'c', 0xC0,	/* invalid escape */
	0x00, 'x', 0xC0,			/* #3 */
	0xC0, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xC0,	/* oversize */
	0xC0, 0x00, 'y', 0xDB, 0xC0,		/* ends inside an escape */
	0x00, 0xDB, 0xDC, 0xDB, 0xDC, 0xDB, 0xDC, 0xDB, 0xDC,
	0xDB, 0xDC, 0xDB, 0xDC, 0xDB, 0xDC, 0xDB, 0xDC, 0xC0,	/* #4: 8 FENDs */
	0xFF, 0xC0,				/* RETURN: non-data */
	0xC0, 0x00, 'z',			/* unfinished at the end */
};

static void
check_stream_result(const struct got *g, const struct kz_kiss_stats *st)
{
	static const uint8_t f0[] = { 0x01, 0xC0, 0x02, 0xDB };
	static const uint8_t f4[] = { 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0, 0xC0,
	    0xC0 };

	assert_int_equal(g->n, 5);
	assert_frame(g, 0, 0, f0, sizeof(f0));
	assert_frame(g, 1, 0, NULL, 0);
	assert_frame(g, 2, 2, (const uint8_t *)"hi", 2);
	assert_frame(g, 3, 0, (const uint8_t *)"x", 1);
	assert_frame(g, 4, 0, f4, sizeof(f4));
	assert_int_equal(st->bytes, sizeof(stream));
	assert_int_equal(st->frames, 5);
	assert_int_equal(st->non_data, 3);	/* TXDELAY, 0x47, RETURN */
	assert_int_equal(st->bad_escape, 2);
	assert_int_equal(st->oversize, 1);
	/* 2 leading and the 'c' after the invalid escape "\xDB b" (the byte
	 * that overflowed is part of the oversize frame, not counted here). */
	assert_int_equal(st->dropped, 2 + 1);
}

static void
test_deframe_stream(void **state)
{
	struct got g;
	struct kz_kiss_stats st;

	(void)state;
	deframe(8, stream, sizeof(stream), &g, &st);
	check_stream_result(&g, &st);
}

/* The same frames and counts for every split into two and three chunks. */
static void
test_deframe_every_split(void **state)
{
	struct got *whole = malloc(sizeof(*whole)), *g = malloc(sizeof(*g));
	struct kz_kiss_stats st_whole, st;
	struct kz_kiss_deframer *d;
	size_t i, j, n = sizeof(stream), runs = 0;

	(void)state;
	assert_non_null(whole);
	assert_non_null(g);
	deframe(8, stream, n, whole, &st_whole);
	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j++) {
			memset(g, 0, sizeof(*g));
			assert_int_equal(kz_kiss_deframer_new(&d, 8), 0);
			feed(d, stream, i, g);
			feed(d, stream + i, j - i, g);
			feed(d, stream + j, n - j, g);
			kz_kiss_deframer_stats(d, &st);
			kz_kiss_deframer_free(d);
			assert_same(whole, g);
			assert_same_stats(&st_whole, &st);
			runs++;
		}
	}
	/* Byte by byte, too. */
	memset(g, 0, sizeof(*g));
	assert_int_equal(kz_kiss_deframer_new(&d, 8), 0);
	for (i = 0; i < n; i++)
		feed(d, stream + i, 1, g);
	kz_kiss_deframer_stats(d, &st);
	kz_kiss_deframer_free(d);
	check_stream_result(g, &st);
	assert_int_equal(runs, (n + 1) * (n + 2) / 2);
	free(whole);
	free(g);
}

static void
test_deframe_cases(void **state)
{
	struct got g;
	struct kz_kiss_stats st;
	static const uint8_t b2b[] = { 0xC0, 0xC0, 0xC0, 0x00, 'A', 0xC0, 0xC0,
	    0xC0, 0xC0, 0x00, 'B', 0xC0, 0xC0 };
	static const uint8_t esc_fend[] = { 0xC0, 0x00, 'A', 0xDB, 0xC0, 0x00,
	    'D', 0xC0 };
	static const uint8_t bad_esc[] = { 0xC0, 0x00, 'A', 0xDB, 'A', 'B',
	    0xC0, 0x00, 'C', 0xC0 };
	static const uint8_t exact[] = { 0xC0, 0x00, 1, 2, 3, 0xDB, 0xDD, 0xC0 };
	static const uint8_t over[] = { 0xC0, 0x00, 1, 2, 3, 4, 5, 0xC0, 0x00,
	    9, 0xC0 };
	static const uint8_t no_open[] = { 0x00, 'Q', 0xC0, 0x00, 'R', 0xC0 };

	(void)state;
	/* Back-to-back FENDs are empty frames: neither returned nor errors. */
	deframe(16, b2b, sizeof(b2b), &g, &st);
	assert_int_equal(g.n, 2);
	assert_frame(&g, 0, 0, (const uint8_t *)"A", 1);
	assert_frame(&g, 1, 0, (const uint8_t *)"B", 1);
	assert_int_equal(st.non_data + st.bad_escape + st.oversize + st.dropped,
	    0);

	/* A frame that ends inside an escape is dropped; its FEND opens the
	 * next frame. */
	deframe(16, esc_fend, sizeof(esc_fend), &g, &st);
	assert_int_equal(g.n, 1);
	assert_frame(&g, 0, 0, (const uint8_t *)"D", 1);
	assert_int_equal(st.bad_escape, 1);

	/* FESC then a byte other than TFEND or TFESC: the frame is dropped and
	 * the deframer resynchronises at the next FEND. */
	deframe(16, bad_esc, sizeof(bad_esc), &g, &st);
	assert_int_equal(g.n, 1);
	assert_frame(&g, 0, 0, (const uint8_t *)"C", 1);
	assert_int_equal(st.bad_escape, 1);
	assert_int_equal(st.dropped, 1);

	/* frame_max counts unescaped bytes: 4 fit in 4, 5 do not. */
	deframe(4, exact, sizeof(exact), &g, &st);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 4);
	assert_int_equal(g.data[0][3], 0xDB);
	deframe(4, over, sizeof(over), &g, &st);
	assert_int_equal(g.n, 1);
	assert_frame(&g, 0, 0, (const uint8_t *)"\x09", 1);
	assert_int_equal(st.oversize, 1);

	/* Bytes before the first FEND are not a frame. */
	deframe(16, no_open, sizeof(no_open), &g, &st);
	assert_int_equal(g.n, 1);
	assert_frame(&g, 0, 0, (const uint8_t *)"R", 1);
	assert_int_equal(st.dropped, 2);

	assert_int_equal(kz_kiss_deframer_new(&(struct kz_kiss_deframer *){ NULL },
	    0), KZ_ERR_INVAL);
	assert_int_equal(kz_kiss_deframer_new(&(struct kz_kiss_deframer *){ NULL },
	    65536), KZ_ERR_INVAL);
	kz_kiss_deframer_free(NULL);
}

/* kz_kiss_next stops after each frame with the rest of the input left. */
static void
test_deframe_pull(void **state)
{
	static const uint8_t two[] = { 0xC0, 0x00, 'A', 0xC0, 0x00, 'B', 0xC0,
	    0x00 };
	struct kz_kiss_deframer *d;
	struct kz_kiss_frame f;
	const uint8_t *p = two;
	size_t n = sizeof(two);

	(void)state;
	assert_int_equal(kz_kiss_deframer_new(&d, 8), 0);
	assert_int_equal(kz_kiss_next(d, &p, &n, &f), 1);
	assert_int_equal(f.len, 1);
	assert_int_equal(f.data[0], 'A');
	assert_int_equal(n, 4);
	assert_ptr_equal(p, two + 4);
	assert_int_equal(kz_kiss_next(d, &p, &n, &f), 1);
	assert_int_equal(f.data[0], 'B');
	assert_int_equal(n, 1);
	assert_int_equal(kz_kiss_next(d, &p, &n, &f), 0);
	assert_int_equal(n, 0);
	/* A reset forgets the half frame "\x00" and hunts again. */
	kz_kiss_deframer_reset(d);
	p = (const uint8_t *)"C\xC0\x00" "D\xC0";
	n = 5;
	assert_int_equal(kz_kiss_next(d, &p, &n, &f), 1);
	assert_int_equal(f.data[0], 'D');
	kz_kiss_deframer_free(d);
}

/* Random frames (a third of their bytes FEND or FESC) survive encode and
 * deframe in random chunks exactly. */
static void
test_roundtrip_random(void **state)
{
	uint64_t rng = 2024;
	size_t cap = 64 * KZ_KISS_ENCODED_MAX(1023), len = 0, i, k;
	uint8_t *wire = malloc(cap), frames[40][1023];
	size_t lens[40];
	unsigned ports[40];
	struct kz_kiss_deframer *d;
	struct got *g = calloc(1, sizeof(*g));

	(void)state;
	assert_non_null(wire);
	assert_non_null(g);
	for (i = 0; i < 40; i++) {
		size_t n;

		lens[i] = (size_t)(kz_test_rand(&rng) % 1024);
		ports[i] = (unsigned)(kz_test_rand(&rng) % 16);
		for (k = 0; k < lens[i]; k++) {
			uint64_t r = kz_test_rand(&rng);

			frames[i][k] = r % 3 == 0 ? (r & 8 ? 0xC0 : 0xDB) :
			    (uint8_t)(r >> 8);
		}
		assert_int_equal(kz_kiss_encode(wire + len, cap - len, &n,
		    ports[i], KZ_KISS_DATA, frames[i], lens[i]), 0);
		assert_int_equal(n, 2 + kz_kiss_escaped_len(frames[i], lens[i]) +
		    (ports[i] == 12 ? 2 : 1));
		len += n;
	}
	assert_int_equal(kz_kiss_deframer_new(&d, 1023), 0);
	for (i = 0; i < len;) {
		size_t step = 1 + (size_t)(kz_test_rand(&rng) % 700);

		if (step > len - i)
			step = len - i;
		feed(d, wire + i, step, g);
		i += step;
	}
	assert_int_equal(g->n, 40);
	for (i = 0; i < 40; i++)
		assert_frame(g, i, ports[i], frames[i], lens[i]);
	kz_kiss_deframer_free(d);
	free(wire);
	free(g);
}

/* ------------------------------------------------------------ AX.25 */

static struct kz_ax25_addr
addr(const char *s)
{
	struct kz_ax25_addr a;

	assert_int_equal(kz_ax25_addr_parse(&a, s, NULL), 0);
	return a;
}

static void
test_ax25_header_known(void **state)
{
	struct kz_ax25_addr dest = addr("KIZUNA"), src = addr("JA1ABC-3");
	uint8_t h[KZ_AX25_HEADER_LEN];
	/* By hand: each character shifted left one bit ('K' 0x4B -> 0x96);
	 * the destination's SSID byte is C=1, RR=11, SSID 0, not last: 0xE0;
	 * the source's C=0, RR=11, SSID 3 (bits 4-1), last: 0x67. */
	static const uint8_t want[] = {
		0x96, 0x92, 0xB4, 0xAA, 0x9C, 0x82, 0xE0,	/* KIZUNA */
		0x94, 0x82, 0x62, 0x82, 0x84, 0x86, 0x67,	/* JA1ABC-3 */
		0x03, 0xF1,
	};
	/* Short calls are padded with spaces (0x20 << 1 = 0x40). */
	static const uint8_t want_cq[] = {
		0x86, 0xA2, 0x40, 0x40, 0x40, 0x40, 0xFE,	/* CQ-15, C=1 */
		0x9C, 0x60, 0x86, 0x82, 0x98, 0x98, 0x61,	/* N0CALL */
		0x03, 0xF0,
	};
	struct kz_ax25_ui ui;
	struct kz_ax25_addr bad;

	(void)state;
	assert_int_equal(kz_ax25_ui_header(h, &dest, &src, KZ_AX25_PID_KIZUNA),
	    0);
	assert_memory_equal(h, want, sizeof(want));
	dest = addr("CQ-15");
	src = addr("N0CALL");
	assert_int_equal(kz_ax25_ui_header(h, &dest, &src, KZ_AX25_PID_NO_L3),
	    0);
	assert_memory_equal(h, want_cq, sizeof(want_cq));

	/* And back. */
	assert_int_equal(kz_ax25_ui_parse(want, sizeof(want), &ui), 0);
	assert_string_equal(ui.dest.call, "KIZUNA");
	assert_int_equal(ui.dest.ssid, 0);
	assert_string_equal(ui.src.call, "JA1ABC");
	assert_int_equal(ui.src.ssid, 3);
	assert_int_equal(ui.n_digis, 0);
	assert_int_equal(ui.control, 0x03);
	assert_int_equal(ui.pid, 0xF1);
	assert_int_equal(ui.payload_off, 16);

	/* Invalid addresses and PID 0xFF are refused. */
	memset(&bad, 0, sizeof(bad));
	assert_int_equal(kz_ax25_ui_header(h, &bad, &src, 0xF1), KZ_ERR_INVAL);
	bad = addr("AB");
	bad.ssid = 16;
	assert_int_equal(kz_ax25_ui_header(h, &dest, &bad, 0xF1), KZ_ERR_INVAL);
	bad = addr("AB");
	bad.call[1] = 'b';
	assert_int_equal(kz_ax25_ui_header(h, &bad, &src, 0xF1), KZ_ERR_INVAL);
	assert_int_equal(kz_ax25_ui_header(h, &dest, &src, 0xFF), KZ_ERR_INVAL);
}

static void
test_ax25_parse_cases(void **state)
{
	struct kz_ax25_addr dest = addr("KIZUNA"), src = addr("JA1ABC-3");
	uint8_t f[16 + 9 * 7 + 8], g[sizeof(f)];
	struct kz_ax25_ui ui;
	size_t i;

	(void)state;
	assert_int_equal(kz_ax25_ui_header(f, &dest, &src, 0xF1), 0);
	memcpy(f + 16, "payload", 7);
	assert_int_equal(kz_ax25_ui_parse(f, 23, &ui), 0);
	assert_int_equal(ui.payload_off, 16);
	/* An empty payload is a valid UI frame. */
	assert_int_equal(kz_ax25_ui_parse(f, 16, &ui), 0);
	for (i = 0; i < 16; i++)
		assert_int_equal(kz_ax25_ui_parse(f, i, &ui), KZ_ERR_TRUNCATED);

#define MUTATE(off, val, rc)						\
	do {								\
		memcpy(g, f, sizeof(f));				\
		g[off] = (val);						\
		assert_int_equal(kz_ax25_ui_parse(g, 23, &ui), (rc));	\
	} while (0)
	MUTATE(6, 0xE1, KZ_ERR_MALFORMED);	/* dest marked last */
	MUTATE(0, 'k' << 1, KZ_ERR_MALFORMED);	/* lower case */
	MUTATE(1, 0x40, KZ_ERR_MALFORMED);	/* a character after a space */
	MUTATE(2, 0x97, KZ_ERR_MALFORMED);	/* bit 0 set in a character */
	MUTATE(3, '-' << 1, KZ_ERR_MALFORMED);	/* not a letter or digit */
	MUTATE(14, 0x00, KZ_ERR_MALFORMED);	/* an I frame */
	MUTATE(14, 0x13, 0);			/* UI with the poll bit */
	MUTATE(14, 0x2F, KZ_ERR_MALFORMED);	/* SABME */
	MUTATE(15, 0xFF, KZ_ERR_MALFORMED);	/* PID escape */
	MUTATE(15, 0xF0, 0);			/* any other PID is read */
#undef MUTATE
	memcpy(g, f, sizeof(f));
	memset(g, ' ' << 1, 6);			/* an empty callsign */
	assert_int_equal(kz_ax25_ui_parse(g, 23, &ui), KZ_ERR_MALFORMED);

	/* One digipeater: the source is not last, the digipeater is. */
	memcpy(g, f, 14);
	g[13] &= 0xFE;
	memcpy(g + 14, "\x9C\x8A\x94\x9A\x90\x40\x63", 7);	/* NEJMH-1 */
	g[21] = 0x03;
	g[22] = 0xF1;
	memcpy(g + 23, "xyz", 3);
	assert_int_equal(kz_ax25_ui_parse(g, 26, &ui), 0);
	assert_int_equal(ui.n_digis, 1);
	assert_string_equal(ui.digis[0].call, "NEJMH");
	assert_int_equal(ui.digis[0].ssid, 1);
	assert_int_equal(ui.payload_off, 23);
	assert_int_equal(kz_ax25_ui_parse(g, 20, &ui), KZ_ERR_TRUNCATED);
	assert_int_equal(kz_ax25_ui_parse(g, 22, &ui), KZ_ERR_TRUNCATED);

	/* Nine digipeaters are one too many. */
	memcpy(g, f, 14);
	g[13] &= 0xFE;
	for (i = 0; i < 9; i++) {
		memcpy(g + 14 + 7 * i, "\x9C\x8A\x94\x9A\x90\x40\x62", 7);
		if (i == 8)
			g[14 + 7 * i + 6] |= 1;
	}
	g[14 + 63] = 0x03;
	g[15 + 63] = 0xF1;
	assert_int_equal(kz_ax25_ui_parse(g, 16 + 63, &ui), KZ_ERR_MALFORMED);
	/* Eight are accepted. */
	g[14 + 7 * 7 + 6] |= 1;
	memmove(g + 14 + 56, g + 14 + 63, 2);
	assert_int_equal(kz_ax25_ui_parse(g, 16 + 56, &ui), 0);
	assert_int_equal(ui.n_digis, 8);
	assert_int_equal(ui.payload_off, 16 + 56);
}

static void
test_callsigns(void **state)
{
	static const struct {
		const char *in, *call;
		int ssid;
		const char *shown;
	} good[] = {
		{ "JA1ABC-3", "JA1ABC", 3, "JA1ABC-3" },
		{ "KIZUNA", "KIZUNA", 0, "KIZUNA" },
		{ "ja1abc-15", "JA1ABC", 15, "JA1ABC-15" },
		{ "A", "A", 0, "A" },
		{ "N0CALL-0", "N0CALL", 0, "N0CALL" },
		{ "123456-9", "123456", 9, "123456-9" },
		{ "7j1Xy-10", "7J1XY", 10, "7J1XY-10" },
	};
	static const struct {
		const char *in, *why;
	} badv[] = {
		{ "", "the callsign is empty" },
		{ "-3", "the callsign is empty" },
		{ "JA1ABCD", "a callsign has at most 6 characters before the SSID" },
		{ "JA1ABC-16", "the SSID is over 15" },
		{ "JA1ABC-100", "the SSID is over 15" },
		{ "JA1ABC-", "no SSID after '-'" },
		{ "JA1ABC-03", "the SSID has a leading zero" },
		{ "JA1ABC-00", "the SSID has a leading zero" },
		{ "JA1 ABC", "a callsign has only letters A-Z and digits 0-9" },
		{ "JA/1", "a callsign has only letters A-Z and digits 0-9" },
		{ "JA1ABC-3x", "the SSID is not a number" },
		{ "JA1ABC--3", "the SSID is not a number" },
		{ "JA1ABC-+3", "the SSID is not a number" },
		{ "\xe7\xb5\x86", "a callsign has only letters A-Z and digits 0-9" },
		{ " JA1ABC", "a callsign has only letters A-Z and digits 0-9" },
	};
	struct kz_ax25_addr a, keep = { "KEEP", 7 };
	char s[KZ_AX25_CALL_STR];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = "unset";
		assert_int_equal(kz_ax25_addr_parse(&a, good[i].in, &why), 0);
		assert_null(why);
		assert_string_equal(a.call, good[i].call);
		assert_int_equal(a.ssid, good[i].ssid);
		kz_ax25_addr_format(s, &a);
		assert_string_equal(s, good[i].shown);
	}
	for (i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		a = keep;
		why = NULL;
		assert_int_equal(kz_ax25_addr_parse(&a, badv[i].in, &why),
		    KZ_ERR_INVAL);
		assert_non_null(why);
		assert_string_equal(why, badv[i].why);
		/* A refused string changes nothing. */
		assert_string_equal(a.call, "KEEP");
		assert_int_equal(a.ssid, 7);
	}
	assert_int_equal(kz_ax25_addr_parse(&a, NULL, NULL), KZ_ERR_INVAL);

	a = addr("SPEECH-3");
	assert_true(kz_ax25_dest_reserved(&a));
	a = addr("MORSE");
	assert_true(kz_ax25_dest_reserved(&a));
	a = addr("DTMF");
	assert_true(kz_ax25_dest_reserved(&a));
	a = addr("SPEEC");
	assert_false(kz_ax25_dest_reserved(&a));
	keep = addr("JA1ABC-3");
	a = addr("ja1abc-3");
	assert_true(kz_ax25_addr_equal(&a, &keep));
	a = addr("JA1ABC-4");
	assert_false(kz_ax25_addr_equal(&a, &keep));
	a = addr("JA1AB-3");
	assert_false(kz_ax25_addr_equal(&a, &keep));
}

static void
test_mtu(void **state)
{
	size_t m = 12345;

	(void)state;
	assert_int_equal(kz_kiss_mtu(272, true, &m), 0);
	assert_int_equal(m, 256);
	assert_int_equal(kz_kiss_mtu(255, false, &m), 0);
	assert_int_equal(m, 255);
	assert_int_equal(kz_kiss_mtu(255, true, &m), 0);
	assert_int_equal(m, 239);
	assert_int_equal(kz_kiss_mtu(KZ_KISS_FRAME_SAFE_MAX, true, &m), 0);
	assert_int_equal(m, 1007);
	assert_int_equal(kz_kiss_mtu(17, true, &m), 0);
	assert_int_equal(m, 1);
	assert_int_equal(kz_kiss_mtu(1, false, &m), 0);
	assert_int_equal(m, 1);
	m = 777;
	assert_int_equal(kz_kiss_mtu(1024, true, &m), KZ_ERR_INVAL);
	assert_int_equal(kz_kiss_mtu(1024, false, &m), KZ_ERR_INVAL);
	assert_int_equal(kz_kiss_mtu(16, true, &m), KZ_ERR_INVAL);
	assert_int_equal(kz_kiss_mtu(0, false, &m), KZ_ERR_INVAL);
	assert_int_equal(m, 777);
	/* The safe limit is exactly what Direwolf passes: 1,023 bytes all
	 * escaped are 2,046 bytes on the wire after FEND and type. */
	assert_int_equal(2 * KZ_KISS_FRAME_SAFE_MAX, 2046);
}

/* ------------------------------------------------------------ radio opts */

static void
expect_bad(const struct kz_radio_opts *o, const char *want)
{
	char why[256];

	assert_int_equal(kz_radio_check_opts(o, why, sizeof(why)), KZ_ERR_CONFIG);
	if (strstr(why, want) == NULL)
		fail_msg("'%s' does not say '%s'", why, want);
}

static void
test_radio_opts(void **state)
{
	struct kz_radio_opts d, o;
	char why[256];

	(void)state;
	kz_radio_opts_default(&d);
	assert_int_equal(d.speed, 9600);
	assert_int_equal(d.pid, 0xF1);
	assert_true(d.ax25);
	assert_int_equal(d.frame_max, 272);
	assert_int_equal(d.txdelay_ms, 300);
	assert_int_equal(d.persist, 63);
	d.device = "/dev/ttyUSB0";
	snprintf(d.mycall, sizeof(d.mycall), "JA1ABC-3");
	snprintf(d.peercall, sizeof(d.peercall), "JA1XYZ-1");
	assert_int_equal(kz_radio_check_opts(&d, why, sizeof(why)), 0);
	o = d;
	o.device = "tcp:127.0.0.1:8001";
	assert_int_equal(kz_radio_check_opts(&o, why, sizeof(why)), 0);
	o.device = "tcp:[::1]:8001";
	assert_int_equal(kz_radio_check_opts(&o, why, sizeof(why)), 0);
	o.device = "tcp:localhost:8001";
	o.speed = 12345;	/* ignored on tcp */
	assert_int_equal(kz_radio_check_opts(&o, why, sizeof(why)), 0);

	o = d;
	o.device = NULL;
	expect_bad(&o, "radio device: missing");
	o.device = "ttyUSB0";
	expect_bad(&o, "neither a path");
	o.device = "tcp:host.example:8001";
	expect_bad(&o, "not tcp:HOST:PORT");
	o.device = "tcp:127.0.0.1:0";
	expect_bad(&o, "not tcp:HOST:PORT");
	o.device = "tcp:127.0.0.1:65536";
	expect_bad(&o, "not tcp:HOST:PORT");
	o.device = "tcp:127.0.0.1";
	expect_bad(&o, "not tcp:HOST:PORT");
	o.device = "tcp:[::1:8001";
	expect_bad(&o, "not tcp:HOST:PORT");
	o = d;
	o.speed = 12345;
	expect_bad(&o, "radio speed 12345: not one of");
	o = d;
	o.kiss_port = 16;
	expect_bad(&o, "radio kiss_port 16");
	o = d;
	o.mycall[0] = '\0';
	expect_bad(&o, "radio mycall '': the callsign is empty");
	o = d;
	snprintf(o.peercall, sizeof(o.peercall), "JA1XYZ-16");
	expect_bad(&o, "radio peercall 'JA1XYZ-16': the SSID is over 15");
	snprintf(o.peercall, sizeof(o.peercall), "SPEECH");
	expect_bad(&o, "SPEECH, MORSE or DTMF");
	o = d;
	o.pid = 0xFF;
	expect_bad(&o, "radio pid 0xFF");
	o = d;
	o.txdelay_ms = 3000;
	expect_bad(&o, "0 to 2550 ms");
	o = d;
	o.persist = 300;
	expect_bad(&o, "persist: 0 to 255");
	o = d;
	o.frame_max = 1024;
	expect_bad(&o, "radio frame_max 1024");
	o.frame_max = 16;
	expect_bad(&o, "radio frame_max 16: 17 to 1023");
	/* Without AX.25 no callsign is needed, and 1 byte is a frame. */
	o = d;
	o.ax25 = false;
	o.mycall[0] = o.peercall[0] = '\0';
	o.frame_max = 1;
	assert_int_equal(kz_radio_check_opts(&o, why, sizeof(why)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_known),
		cmocka_unit_test(test_encode_params),
		cmocka_unit_test(test_deframe_stream),
		cmocka_unit_test(test_deframe_every_split),
		cmocka_unit_test(test_deframe_cases),
		cmocka_unit_test(test_deframe_pull),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_ax25_header_known),
		cmocka_unit_test(test_ax25_parse_cases),
		cmocka_unit_test(test_callsigns),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_radio_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
