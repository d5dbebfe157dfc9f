/*
 * KISS framing and the AX.25 UI header (formats and states in
 * kizuna/kiss.h).
 *
 * Invariants:
 * - The deframer holds one buffer of 1 + frame_max bytes (the type byte and
 *   the data), allocated by kz_kiss_deframer_new and never grown; a byte
 *   that would pass it drops the frame (oversize) and the deframer hunts
 *   for the next FEND.
 * - Every FEND ends what was being collected, whatever the state, so one
 *   damaged frame never costs the frame after it.
 * - A frame is returned only when it ended with a FEND and held no invalid
 *   escape: the bytes returned are exactly the bytes escaped by the sender,
 *   unless the damage was itself valid KISS (which the layer above detects
 *   with its own checksum).
 * - Transitions, all in kz_kiss_next: HUNT -> FRAME on a FEND; FRAME ->
 *   ESCAPE on a FESC and back on TFEND or TFESC; ESCAPE -> HUNT on any
 *   other byte; FRAME -> HUNT on a byte past frame_max; FRAME -> FRAME on a
 *   FEND (returning a data frame, if one was collected).
 */
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/kiss.h"

enum state {
	ST_HUNT,
	ST_FRAME,
	ST_ESCAPE
};

struct kz_kiss_deframer {
	size_t cap;		/* 1 + frame_max */
	size_t len;		/* collected so far, type byte included */
	enum state state;
	struct kz_kiss_stats st;
	uint8_t buf[];
};

size_t
kz_kiss_escaped_len(const uint8_t *data, size_t len)
{
	size_t i, n = len;

	for (i = 0; i < len; i++)
		if (data[i] == KZ_KISS_FEND || data[i] == KZ_KISS_FESC)
			n++;
	return n;
}

/* Appends c escaped at out[*at]; false when it does not fit in cap. */
static bool
put_escaped(uint8_t *out, size_t cap, size_t *at, uint8_t c)
{
	if (c == KZ_KISS_FEND || c == KZ_KISS_FESC) {
		if (cap - *at < 2)
			return false;
		out[(*at)++] = KZ_KISS_FESC;
		out[(*at)++] = c == KZ_KISS_FEND ? KZ_KISS_TFEND : KZ_KISS_TFESC;
		return true;
	}
	if (cap - *at < 1)
		return false;
	out[(*at)++] = c;
	return true;
}

int
kz_kiss_encode(uint8_t *out, size_t cap, size_t *outlen, unsigned port,
    unsigned cmd, const uint8_t *data, size_t len)
{
	size_t at = 0, i;

	if (port > KZ_KISS_PORT_MAX || cmd > 0xF || (data == NULL && len > 0))
		return KZ_ERR_INVAL;
	if (cap < 3)
		return KZ_ERR_TOO_BIG;
	out[at++] = KZ_KISS_FEND;
	/* The type byte is escaped like data: port 12 data is 0xC0. */
	if (!put_escaped(out, cap, &at, (uint8_t)(port << 4 | cmd)))
		return KZ_ERR_TOO_BIG;
	for (i = 0; i < len; i++)
		if (!put_escaped(out, cap, &at, data[i]))
			return KZ_ERR_TOO_BIG;
	if (at == cap)
		return KZ_ERR_TOO_BIG;
	out[at++] = KZ_KISS_FEND;
	*outlen = at;
	return 0;
}

/* Milliseconds to the 10 ms units KISS uses, rounded up. */
static int
units10(unsigned ms, uint8_t *out)
{
	unsigned u = ms / 10 + (ms % 10 != 0);

	if (u > 255)
		return KZ_ERR_INVAL;
	*out = (uint8_t)u;
	return 0;
}

int
kz_kiss_encode_params(uint8_t *out, size_t cap, size_t *outlen,
    unsigned port, const struct kz_kiss_params *p)
{
	uint8_t v[5];
	static const unsigned cmds[5] = { KZ_KISS_TXDELAY, KZ_KISS_PERSIST,
	    KZ_KISS_SLOTTIME, KZ_KISS_TXTAIL, KZ_KISS_FULLDUP };
	size_t at = 0, n;
	int i, rc;

	if (port > KZ_KISS_PORT_MAX || p->persist > 255)
		return KZ_ERR_INVAL;
	if ((rc = units10(p->txdelay_ms, &v[0])) < 0 ||
	    (rc = units10(p->slottime_ms, &v[2])) < 0 ||
	    (rc = units10(p->txtail_ms, &v[3])) < 0)
		return rc;
	v[1] = (uint8_t)p->persist;
	v[4] = p->fullduplex ? 1 : 0;
	for (i = 0; i < 5; i++) {
		rc = kz_kiss_encode(out + at, cap - at, &n, port, cmds[i], &v[i], 1);
		if (rc < 0)
			return rc;
		at += n;
	}
	*outlen = at;
	return 0;
}

int
kz_kiss_deframer_new(struct kz_kiss_deframer **out, size_t frame_max)
{
	struct kz_kiss_deframer *d;

	*out = NULL;
	if (frame_max == 0 || frame_max > 65535)
		return KZ_ERR_INVAL;
	d = calloc(1, sizeof(*d) + 1 + frame_max);
	if (d == NULL)
		return KZ_ERR_NOMEM;
	d->cap = 1 + frame_max;
	d->state = ST_HUNT;
	*out = d;
	return 0;
}

void
kz_kiss_deframer_free(struct kz_kiss_deframer *d)
{
	free(d);
}

void
kz_kiss_deframer_reset(struct kz_kiss_deframer *d)
{
	d->state = ST_HUNT;
	d->len = 0;
}

/* Collects one unescaped byte; on overflow drops the frame and hunts. */
static void
collect(struct kz_kiss_deframer *d, uint8_t c)
{
	if (d->len == d->cap) {
		d->st.oversize++;
		d->state = ST_HUNT;
		d->len = 0;
		return;
	}
	d->buf[d->len++] = c;
}

int
kz_kiss_next(struct kz_kiss_deframer *d, const uint8_t **p, size_t *n,
    struct kz_kiss_frame *f)
{
	while (*n > 0) {
		uint8_t c = **p;

		(*p)++;
		(*n)--;
		d->st.bytes++;
		switch (d->state) {
		case ST_HUNT:
			if (c == KZ_KISS_FEND) {
				d->state = ST_FRAME;
				d->len = 0;
			} else {
				d->st.dropped++;
			}
			break;
		case ST_ESCAPE:
			if (c == KZ_KISS_FEND) {
				/* The frame ended inside an escape; this FEND
				 * opens the next one. */
				d->st.bad_escape++;
				d->state = ST_FRAME;
				d->len = 0;
			} else if (c == KZ_KISS_TFEND || c == KZ_KISS_TFESC) {
				d->state = ST_FRAME;
				collect(d, c == KZ_KISS_TFEND ? KZ_KISS_FEND :
				    KZ_KISS_FESC);
			} else {
				d->st.bad_escape++;
				d->state = ST_HUNT;
				d->len = 0;
			}
			break;
		case ST_FRAME:
			if (c == KZ_KISS_FESC) {
				d->state = ST_ESCAPE;
			} else if (c != KZ_KISS_FEND) {
				collect(d, c);
			} else if (d->len > 0) {
				size_t len = d->len;

				d->len = 0;
				if ((d->buf[0] & 0x0F) != KZ_KISS_DATA) {
					d->st.non_data++;
					break;
				}
				f->port = d->buf[0] >> 4;
				f->data = d->buf + 1;
				f->len = len - 1;
				d->st.frames++;
				return 1;
			}
			/* A FEND with nothing collected: back-to-back FENDs. */
			break;
		}
	}
	return 0;
}

void
kz_kiss_deframer_stats(const struct kz_kiss_deframer *d,
    struct kz_kiss_stats *out)
{
	*out = d->st;
}

/* ------------------------------------------------------------ AX.25 */

static bool
call_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
addr_valid(const struct kz_ax25_addr *a)
{
	size_t i, n = strnlen(a->call, sizeof(a->call));

	if (n == 0 || n > 6 || a->ssid > 15)
		return false;
	for (i = 0; i < n; i++)
		if (!call_char(a->call[i]))
			return false;
	return true;
}

int
kz_ax25_addr_parse(struct kz_ax25_addr *out, const char *s, const char **why)
{
	struct kz_ax25_addr a;
	const char *w = NULL;
	size_t n = 0;
	unsigned ssid = 0;

	memset(&a, 0, sizeof(a));
	if (s == NULL)
		s = "";
	for (; *s != '\0' && *s != '-'; s++) {
		char c = *s;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!call_char(c)) {
			w = "a callsign has only letters A-Z and digits 0-9";
			goto out;
		}
		if (n == 6) {
			w = "a callsign has at most 6 characters before the SSID";
			goto out;
		}
		a.call[n++] = c;
	}
	if (n == 0) {
		w = "the callsign is empty";
		goto out;
	}
	if (*s == '-') {
		s++;
		if (*s == '\0') {
			w = "no SSID after '-'";
			goto out;
		}
		if (s[0] == '0' && s[1] != '\0') {
			w = "the SSID has a leading zero";
			goto out;
		}
		for (; *s != '\0'; s++) {
			if (*s < '0' || *s > '9') {
				w = "the SSID is not a number";
				goto out;
			}
			ssid = ssid * 10 + (unsigned)(*s - '0');
			if (ssid > 15) {
				w = "the SSID is over 15";
				goto out;
			}
		}
	}
	a.ssid = (uint8_t)ssid;
out:
	if (why != NULL)
		*why = w;
	if (w != NULL)
		return KZ_ERR_INVAL;
	*out = a;
	return 0;
}

void
kz_ax25_addr_format(char out[KZ_AX25_CALL_STR], const struct kz_ax25_addr *a)
{
	size_t n = strnlen(a->call, 6);

	memcpy(out, a->call, n);
	if (a->ssid == 0) {
		out[n] = '\0';
		return;
	}
	out[n++] = '-';
	if (a->ssid >= 10)
		out[n++] = (char)('0' + a->ssid / 10);
	out[n++] = (char)('0' + a->ssid % 10);
	out[n] = '\0';
}

bool
kz_ax25_addr_equal(const struct kz_ax25_addr *a, const struct kz_ax25_addr *b)
{
	return a->ssid == b->ssid && strncmp(a->call, b->call, 7) == 0;
}

bool
kz_ax25_dest_reserved(const struct kz_ax25_addr *a)
{
	return strcmp(a->call, "SPEECH") == 0 || strcmp(a->call, "MORSE") == 0 ||
	    strcmp(a->call, "DTMF") == 0;
}

/* The 7 bytes of an address; ssid_bits are bits 7-5 and 0 of the last. */
static void
addr_write(uint8_t *p, const struct kz_ax25_addr *a, uint8_t ssid_bits)
{
	size_t i, n = strnlen(a->call, 6);

	for (i = 0; i < 6; i++)
		p[i] = (uint8_t)((i < n ? (uint8_t)a->call[i] : ' ') << 1);
	p[6] = (uint8_t)(ssid_bits | (a->ssid & 0x0F) << 1);
}

int
kz_ax25_ui_header(uint8_t out[KZ_AX25_HEADER_LEN],
    const struct kz_ax25_addr *dest, const struct kz_ax25_addr *src,
    uint8_t pid)
{
	if (!addr_valid(dest) || !addr_valid(src) || pid == 0xFF)
		return KZ_ERR_INVAL;
	/* A command frame (AX.25 2.0): C bit set in the destination's SSID
	 * byte, clear in the source's; both reserved bits set; the source is
	 * the last address. */
	addr_write(out, dest, 0xE0);
	addr_write(out + 7, src, 0x61);
	out[14] = KZ_AX25_CONTROL_UI;
	out[15] = pid;
	return 0;
}

/* Reads one address; false if malformed.  Sets *last from bit 0. */
static bool
addr_read(const uint8_t *p, struct kz_ax25_addr *a, bool *last)
{
	size_t i, n = 0;
	bool padding = false;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < 6; i++) {
		char c = (char)(p[i] >> 1);

		if (p[i] & 1)
			return false;
		if (c == ' ') {
			padding = true;
			continue;
		}
		if (padding || !call_char(c))
			return false;
		a->call[n++] = c;
	}
	if (n == 0)
		return false;
	a->ssid = (p[6] >> 1) & 0x0F;
	*last = (p[6] & 1) != 0;
	return true;
}

int
kz_ax25_ui_parse(const uint8_t *frame, size_t len, struct kz_ax25_ui *out)
{
	struct kz_ax25_ui h;
	size_t off;
	bool last;

	memset(&h, 0, sizeof(h));
	if (len < 2 * KZ_AX25_ADDR_LEN)
		return KZ_ERR_TRUNCATED;
	if (!addr_read(frame, &h.dest, &last) || last)
		return KZ_ERR_MALFORMED;
	if (!addr_read(frame + 7, &h.src, &last))
		return KZ_ERR_MALFORMED;
	off = 2 * KZ_AX25_ADDR_LEN;
	while (!last) {
		if (h.n_digis == KZ_AX25_DIGIS_MAX)
			return KZ_ERR_MALFORMED;
		if (len - off < KZ_AX25_ADDR_LEN)
			return KZ_ERR_TRUNCATED;
		if (!addr_read(frame + off, &h.digis[h.n_digis], &last))
			return KZ_ERR_MALFORMED;
		h.n_digis++;
		off += KZ_AX25_ADDR_LEN;
	}
	if (len - off < 2)
		return KZ_ERR_TRUNCATED;
	h.control = frame[off];
	h.pid = frame[off + 1];
	/* UI, with or without the poll/final bit. */
	if ((h.control & ~0x10) != KZ_AX25_CONTROL_UI || h.pid == 0xFF)
		return KZ_ERR_MALFORMED;
	h.payload_off = off + 2;
	*out = h;
	return 0;
}

int
kz_kiss_mtu(size_t frame_max, bool ax25, size_t *mtu)
{
	size_t head = ax25 ? KZ_AX25_HEADER_LEN : 0;

	if (frame_max > KZ_KISS_FRAME_SAFE_MAX || frame_max <= head)
		return KZ_ERR_INVAL;
	*mtu = frame_max - head;
	return 0;
}
