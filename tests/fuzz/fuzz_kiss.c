/*
 * Fuzz target: the KISS deframer and the AX.25 UI header decoder
 * (kizuna/kiss.h) on arbitrary bytes, as a serial line or a TNC could
 * deliver them.
 *
 * Input: a mode byte, a frame_max byte, then the stream.
 *   frame_max = 1 + byte * 5 (1 .. 1276), so both small limits (oversize
 *   paths) and the 1,023-byte safe limit are reached;
 *   mode        seeds the chunk sizes of the first deframer (bit 0: one
 *               byte at a time); bit 1 also parses the first 12 bytes of
 *               the stream as a callsign string.
 *
 * Invariants:
 * - Splitting is invisible: a deframer fed in chunks returns the same
 *   frames (port, bytes) and the same counters as one fed everything at
 *   once.
 * - A frame is at most frame_max bytes, and its re-encoding deframes back
 *   to exactly it.
 * - Counters add up: bytes fed = the input; frames = frames returned.
 * - The header decoder returns 0, KZ_ERR_TRUNCATED or KZ_ERR_MALFORMED;
 *   on 0 the payload offset is 16 + 7 per digipeater and inside the frame,
 *   every address is a valid callsign that formats and parses back to
 *   itself, and without digipeaters kz_ax25_ui_header rebuilds the same
 *   address characters, SSIDs, control and PID.
 * - A callsign string parses only into something that formats back to the
 *   same callsign (upper-cased).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/err.h"
#include "kizuna/kiss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct frames {
	size_t n, cap, used;
	unsigned *port;
	size_t *off, *len;
	uint8_t *bytes;		/* all frames' bytes, at most the input size */
};

static void
frames_init(struct frames *f, size_t size)
{
	f->n = 0;
	f->used = 0;
	f->cap = size / 2 + 1;	/* a frame costs at least two input bytes */
	f->port = malloc(f->cap * sizeof(*f->port));
	f->off = malloc(f->cap * sizeof(*f->off));
	f->len = malloc(f->cap * sizeof(*f->len));
	f->bytes = malloc(size + 1);
	if (f->port == NULL || f->off == NULL || f->len == NULL || f->bytes == NULL)
		kzf_fail("kiss: out of memory");
}

static void
frames_free(struct frames *f)
{
	free(f->port);
	free(f->off);
	free(f->len);
	free(f->bytes);
}

static void
frames_add(struct frames *f, const struct kz_kiss_frame *k, size_t size)
{
	KZF_CHECK(f->n < f->cap, "kiss: more frames than the input can hold");
	KZF_CHECK(f->used + k->len <= size, "kiss: frames longer than the "
	    "input");
	f->port[f->n] = k->port;
	f->off[f->n] = f->used;
	f->len[f->n] = k->len;
	if (k->len > 0)
		memcpy(f->bytes + f->used, k->data, k->len);
	f->used += k->len;
	f->n++;
}

static void
check_addr(const struct kz_ax25_addr *a)
{
	char s[KZ_AX25_CALL_STR];
	struct kz_ax25_addr b;
	const char *why = NULL;
	int rc;

	kz_ax25_addr_format(s, a);
	rc = kz_ax25_addr_parse(&b, s, &why);
	KZF_CHECK(rc == 0, "kiss: decoded address '%s' does not parse: %s", s,
	    why ? why : "?");
	KZF_CHECK(kz_ax25_addr_equal(a, &b), "kiss: address '%s' changed on a "
	    "round trip", s);
}

static void
check_header(const uint8_t *p, size_t len)
{
	struct kz_ax25_ui h;
	uint8_t again[KZ_AX25_HEADER_LEN];
	unsigned i;
	int rc = kz_ax25_ui_parse(p, len, &h);

	if (rc < 0) {
		KZF_CHECK(rc == KZ_ERR_TRUNCATED || rc == KZ_ERR_MALFORMED,
		    "kiss: header: unexpected %s", kz_errname(rc));
		return;
	}
	KZF_CHECK(h.n_digis <= KZ_AX25_DIGIS_MAX, "kiss: %u digipeaters",
	    h.n_digis);
	KZF_CHECK(h.payload_off == 16 + 7 * (size_t)h.n_digis &&
	    h.payload_off <= len, "kiss: payload offset %zu of %zu",
	    h.payload_off, len);
	KZF_CHECK((h.control & ~0x10) == 0x03 && h.pid != 0xFF,
	    "kiss: control %#x pid %#x accepted", h.control, h.pid);
	check_addr(&h.dest);
	check_addr(&h.src);
	for (i = 0; i < h.n_digis; i++)
		check_addr(&h.digis[i]);
	if (h.n_digis > 0)
		return;
	rc = kz_ax25_ui_header(again, &h.dest, &h.src, h.pid);
	KZF_CHECK(rc == 0, "kiss: a decoded header does not encode: %s",
	    kz_errname(rc));
	/* The C and reserved bits are ours to choose; the rest must match. */
	KZF_CHECK(memcmp(again, p, 6) == 0 && memcmp(again + 7, p + 7, 6) == 0,
	    "kiss: callsigns differ after a round trip");
	KZF_CHECK((again[6] & 0x1F) == (p[6] & 0x1F) &&
	    (again[13] & 0x1F) == (p[13] & 0x1F), "kiss: SSID bytes differ");
	KZF_CHECK(again[15] == p[15], "kiss: PID differs");
	KZF_CHECK(p[14] != 0x03 || again[14] == 0x03, "kiss: control differs");
}

static void
check_reencode(const struct frames *f, size_t i, size_t frame_max)
{
	size_t cap = KZ_KISS_ENCODED_MAX(f->len[i]), n, left;
	uint8_t *w = malloc(cap);
	struct kz_kiss_deframer *d = NULL;
	struct kz_kiss_frame k;
	const uint8_t *p;
	int rc;

	if (w == NULL)
		kzf_fail("kiss: out of memory");
	rc = kz_kiss_encode(w, cap, &n, f->port[i], KZ_KISS_DATA,
	    f->bytes + f->off[i], f->len[i]);
	KZF_CHECK(rc == 0, "kiss: re-encode: %s", kz_errname(rc));
	KZF_CHECK(n == 2 + (f->port[i] == 12 ? 2 : 1) +
	    kz_kiss_escaped_len(f->bytes + f->off[i], f->len[i]),
	    "kiss: encoded size");
	rc = kz_kiss_deframer_new(&d, frame_max);
	KZF_CHECK(rc == 0, "kiss: deframer: %s", kz_errname(rc));
	p = w;
	left = n;
	KZF_CHECK(kz_kiss_next(d, &p, &left, &k) == 1 && left == 0,
	    "kiss: a re-encoded frame does not deframe");
	KZF_CHECK(k.port == f->port[i] && k.len == f->len[i] &&
	    (k.len == 0 || memcmp(k.data, f->bytes + f->off[i], k.len) == 0),
	    "kiss: a re-encoded frame comes back different");
	kz_kiss_deframer_free(d);
	free(w);
}

static void
check_callsign(const uint8_t *p, size_t n)
{
	char s[13], shown[KZ_AX25_CALL_STR];
	struct kz_ax25_addr a, b;
	const char *why = NULL;
	size_t i;

	if (n > 12)
		n = 12;
	memcpy(s, p, n);
	s[n] = '\0';
	if (kz_ax25_addr_parse(&a, s, &why) < 0) {
		KZF_CHECK(why != NULL, "kiss: a callsign refused without a reason");
		return;
	}
	kz_ax25_addr_format(shown, &a);
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
	KZF_CHECK(strcmp(shown, s) == 0 ||
	    (a.ssid == 0 && strncmp(shown, s, strlen(shown)) == 0 &&
	    strcmp(s + strlen(shown), "-0") == 0),
	    "kiss: callsign '%s' shown as '%s'", s, shown);
	KZF_CHECK(kz_ax25_addr_parse(&b, shown, NULL) == 0 &&
	    kz_ax25_addr_equal(&a, &b), "kiss: '%s' does not parse back", shown);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kzf_in in = { data, size };
	uint8_t mode = kzf_u8(&in);
	size_t frame_max = 1 + (size_t)kzf_u8(&in) * 5, i;
	const uint8_t *s = in.p, *p;
	size_t n = in.n, left;
	struct kz_kiss_deframer *d1 = NULL, *d2 = NULL;
	struct kz_kiss_stats st1, st2;
	struct kz_kiss_frame k;
	struct frames f1, f2;
	uint64_t r = mode * 0x9e3779b97f4a7c15ull + 1;
	size_t at = 0;
	int rc;

	if (mode & 2)
		check_callsign(s, n);
	frames_init(&f1, n);
	frames_init(&f2, n);
	rc = kz_kiss_deframer_new(&d1, frame_max);
	KZF_CHECK(rc == 0, "kiss: new: %s", kz_errname(rc));
	rc = kz_kiss_deframer_new(&d2, frame_max);
	KZF_CHECK(rc == 0, "kiss: new: %s", kz_errname(rc));

	/* In chunks. */
	while (at < n) {
		size_t want;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		want = (mode & 1) ? 1 : 1 + (size_t)(r % 64);
		if (want > n - at)
			want = n - at;
		p = s + at;
		left = want;
		while (kz_kiss_next(d1, &p, &left, &k) == 1) {
			KZF_CHECK(k.len <= frame_max, "kiss: a frame of %zu over "
			    "frame_max %zu", k.len, frame_max);
			KZF_CHECK(k.port <= 15, "kiss: port %u", k.port);
			frames_add(&f1, &k, n);
		}
		KZF_CHECK(left == 0, "kiss: input left over");
		at += want;
	}
	/* At once. */
	p = s;
	left = n;
	while (kz_kiss_next(d2, &p, &left, &k) == 1)
		frames_add(&f2, &k, n);
	KZF_CHECK(left == 0, "kiss: input left over");

	kz_kiss_deframer_stats(d1, &st1);
	kz_kiss_deframer_stats(d2, &st2);
	KZF_CHECK(f1.n == f2.n, "kiss: %zu frames in chunks, %zu at once", f1.n,
	    f2.n);
	KZF_CHECK(st1.bytes == n && st2.bytes == n, "kiss: bytes counted");
	KZF_CHECK(st1.frames == f1.n && st2.frames == f2.n, "kiss: frames "
	    "counted");
	KZF_CHECK(st1.oversize == st2.oversize && st1.bad_escape ==
	    st2.bad_escape && st1.non_data == st2.non_data &&
	    st1.dropped == st2.dropped, "kiss: counters depend on the split");
	KZF_CHECK(st1.dropped <= n, "kiss: dropped");
	for (i = 0; i < f1.n; i++) {
		KZF_CHECK(f1.port[i] == f2.port[i] && f1.len[i] == f2.len[i] &&
		    memcmp(f1.bytes + f1.off[i], f2.bytes + f2.off[i],
		    f1.len[i]) == 0, "kiss: frame %zu depends on the split", i);
		check_reencode(&f1, i, frame_max);
		check_header(f1.bytes + f1.off[i], f1.len[i]);
	}
	kzf_debug("kiss: frame_max %zu: %zu frames, %llu oversize, %llu bad "
	    "escape, %llu command, %llu dropped bytes", frame_max, f1.n,
	    (unsigned long long)st1.oversize, (unsigned long long)st1.bad_escape,
	    (unsigned long long)st1.non_data, (unsigned long long)st1.dropped);
	kz_kiss_deframer_free(d1);
	kz_kiss_deframer_free(d2);
	frames_free(&f1);
	frames_free(&f2);
	return 0;
}
