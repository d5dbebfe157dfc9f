/*
 * Selective-repeat ARQ for radio modems (frame format, states and
 * contracts in kizuna/arq.h; the algorithm in docs/radio.md).
 *
 * Transitions, and the function doing each:
 *
 *   LOCKING ─▶ LOCKED        lock_on: the first valid frame addressed to this
 *                            session or to none names the peer
 *   LOCKED  ─▶ DOWN          kz_arq_input: a frame from another session of
 *                            the peer (it restarted)
 *   any     ─▶ DOWN          check_dead: data pending and nothing valid
 *                            heard for dead_ms
 *
 *   sender, per frame:  UNSENT ─send_data─▶ IN FLIGHT ─on_ack─▶ ACKED
 *                       IN FLIGHT ─on_ack (a later frame acked first) or
 *                                  on_timeout─▶ LOST ─send_data─▶ IN FLIGHT
 *   receiver, per slot: EMPTY ─on_data─▶ HELD ─kz_arq_read─▶ EMPTY
 *
 *   half duplex:        MINE ─sent_frame (POLL)─▶ YIELDED
 *                       YIELDED ─on_frame_from, or the yield ran out─▶ MINE
 *                       peer busy: on_frame_from a frame without POLL, until
 *                       POLL or ack_delay_ms of silence
 *
 * Invariants: snd_una <= snd_nxt <= snd_una + window (sequence arithmetic
 * mod 2^16); the send ring holds exactly the stream bytes from the first
 * unacknowledged one (s_base) to the last written; frame seq covers the
 * stream bytes [tx.off, tx.off + tx.len) and frames are contiguous.  The
 * receiver holds frames rcv_base .. rcv_base + window - 1 in a ring of
 * slots; rcv_base .. rcv_next - 1 are all held (readable), and a frame is
 * taken only into an empty slot, so a byte once delivered is never
 * replaced.  Nothing is allocated after kz_arq_new.
 *
 * Pacing: a virtual clock (air_free_us) says when the modem's queue will
 * have gone out, charging each frame (len + frame_overhead) / bytes_per_s
 * and each new transmission tx_overhead_ms.  A frame is handed down only if
 * that backlog stays within one transmission of `burst` full frames, so
 * over any interval the bytes handed down stay within the budget plus that
 * one transmission.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/arq.h"
#include "kizuna/err.h"
#include "kizuna/util.h"

#define NEVER UINT64_MAX
#define FLAG_VERSION ((uint8_t)(KZ_ARQ_VERSION << 6))
#define FLAG_POLL 0x20

/* A frame this end has sent and the peer has not yet acknowledged. */
struct txslot {
	uint64_t off;			/* stream offset of its first byte */
	uint64_t sent_ms;		/* estimated end on air, latest sending */
	uint64_t xmit;			/* transmission number, latest sending */
	uint16_t len;
	uint16_t sends;
	bool timed;			/* its ack may give an RTT sample: sent
					   once, and no timeout since (Karn) */
	bool sacked;			/* the peer holds it (sack) */
	bool lost;			/* to be sent again */
};

/* A receive slot: payload bytes live in rbuf at slot index * pmax. */
struct rxslot {
	uint16_t len;
	bool have;
};

struct kz_arq {
	struct kz_arq_opts o;
	size_t pmax;			/* payload bytes per frame */
	bool down;
	char reason[160];
	uint32_t peer;			/* 0 while LOCKING */
	uint64_t rng;
	uint64_t last_heard;		/* latest valid frame from the peer */

	/* Sender. */
	uint8_t *sbuf;			/* ring of send_buffer bytes */
	size_t s_head, s_len;		/* s_base's index; bytes held */
	uint64_t s_base;		/* stream offset of the oldest held */
	uint64_t s_next;		/* first stream byte in no frame yet */
	uint64_t pending_since;		/* when s_len last became nonzero */
	uint16_t snd_una, snd_nxt;
	uint16_t snd_lim;		/* the peer takes seqs below this */
	struct txslot tx[KZ_ARQ_WINDOW_MAX];
	unsigned n_lost;
	uint64_t xmit, rack_xmit;	/* transmissions; latest known arrived */
	uint32_t rto;			/* current, backed off */
	bool have_rtt;
	uint32_t srtt, rttvar;
	uint64_t rtx_at;		/* retransmission or persist timer, 0 off */
	bool probe;			/* after a timeout: one lone frame */
	unsigned backoffs;		/* timeouts since the last progress */

	/* Airtime and turns. */
	uint64_t air_free_us;
	uint64_t yield_until;		/* no new turn before (0: none) */
	uint64_t peer_busy_until;	/* the peer holds the channel until */
	uint16_t burst_n;		/* frames sent in this turn */

	/* Receiver. */
	uint8_t *rbuf;
	struct rxslot rx[KZ_ARQ_WINDOW_MAX];
	size_t rx_head;			/* slot of rcv_base */
	size_t rd_off;			/* bytes of that slot already read */
	uint16_t rcv_base, rcv_next;
	uint32_t ack_owed;		/* payload frames since our last ack */
	uint64_t ack_first;		/* when the first of those came */
	bool ack_now;			/* a POLL, hole, duplicate or window
					   update: ack without delay */
	uint8_t wnd_sent;		/* window in the last ack we sent */

	struct kz_arq_stats st;
};

/* ------------------------------------------------------------ CRC-32C */

/* Reflected polynomial 0x82f63b78, one entry per byte value. */
static const uint32_t crc_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t
kz_arq_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* ------------------------------------------------------------ codec */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Writes the header of f into out; the payload must already be at
 * out + KZ_ARQ_HEADER.  Appends the CRC; returns the frame's size. */
static size_t
seal(const struct kz_arq_frame *f, uint8_t *out)
{
	size_t n = KZ_ARQ_HEADER + f->len;

	out[0] = FLAG_VERSION | (f->poll ? FLAG_POLL : 0);
	kz_put_be32(out + 1, f->src);
	kz_put_be32(out + 5, f->dst);
	put16(out + 9, f->ack);
	put16(out + 11, f->sack);
	out[13] = f->wnd;
	put16(out + 14, f->seq);
	put16(out + 16, (uint16_t)f->len);
	kz_put_be32(out + n, kz_arq_crc32c(out, n));
	return n + KZ_ARQ_TRAILER;
}

int
kz_arq_frame_encode(const struct kz_arq_frame *f, uint8_t *out, size_t cap,
    size_t *n)
{
	if (f->src == 0 || f->wnd > KZ_ARQ_WINDOW_MAX)
		return KZ_ERR_INVAL;
	if (f->len > KZ_ARQ_MTU_MAX - KZ_ARQ_OVERHEAD ||
	    KZ_ARQ_OVERHEAD + f->len > cap)
		return KZ_ERR_TOO_BIG;
	if (f->len > 0)
		memmove(out + KZ_ARQ_HEADER, f->payload, f->len);
	*n = seal(f, out);
	return 0;
}

int
kz_arq_frame_decode(struct kz_arq_frame *f, const uint8_t *p, size_t n)
{
	size_t len;

	if (n < KZ_ARQ_OVERHEAD)
		return KZ_ERR_TRUNCATED;
	len = get16(p + 16);
	if (n != KZ_ARQ_OVERHEAD + len)
		return KZ_ERR_TRUNCATED;
	if (kz_get_be32(p + n - KZ_ARQ_TRAILER) !=
	    kz_arq_crc32c(p, n - KZ_ARQ_TRAILER))
		return KZ_ERR_CORRUPT;
	if ((p[0] & ~(FLAG_POLL)) != FLAG_VERSION)
		return KZ_ERR_MALFORMED;
	f->poll = (p[0] & FLAG_POLL) != 0;
	f->src = kz_get_be32(p + 1);
	f->dst = kz_get_be32(p + 5);
	f->ack = get16(p + 9);
	f->sack = get16(p + 11);
	f->wnd = p[13];
	f->seq = get16(p + 14);
	f->len = len;
	f->payload = p + KZ_ARQ_HEADER;
	if (f->src == 0 || f->wnd > KZ_ARQ_WINDOW_MAX)
		return KZ_ERR_MALFORMED;
	return 0;
}

/* ------------------------------------------------------------ helpers */

static bool
seq_lt(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b) < 0;
}

static uint16_t
seq_dist(uint16_t from, uint16_t to)
{
	return (uint16_t)(to - from);
}

static uint64_t
max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t
rng_next(struct kz_arq *a)
{
	a->rng ^= a->rng << 13;
	a->rng ^= a->rng >> 7;
	a->rng ^= a->rng << 17;
	return a->rng;
}

static struct txslot *
txslot(struct kz_arq *a, uint16_t seq)
{
	return &a->tx[seq % KZ_ARQ_WINDOW_MAX];
}

static size_t
rx_index(const struct kz_arq *a, uint16_t seq)
{
	return (a->rx_head + seq_dist(a->rcv_base, seq)) % a->o.window;
}

static uint64_t
unsent(const struct kz_arq *a)
{
	return a->s_base + a->s_len - a->s_next;
}

static uint16_t
in_flight(const struct kz_arq *a)
{
	return seq_dist(a->snd_una, a->snd_nxt);
}

/* The receive window we advertise: frames we take from rcv_next on. */
static uint8_t
rcv_wnd(const struct kz_arq *a)
{
	return (uint8_t)(a->o.window - seq_dist(a->rcv_base, a->rcv_next));
}

static void
go_down(struct kz_arq *a, const char *why, uint64_t now)
{
	if (a->down)
		return;
	a->down = true;
	a->st.down_ms = now;
	snprintf(a->reason, sizeof(a->reason), "%s", why);
}

/* ------------------------------------------------------------ airtime */

/* Microseconds on air for a frame of len bytes (rounded up). */
static uint64_t
air_us(const struct kz_arq *a, size_t len)
{
	uint64_t bytes = (uint64_t)len + a->o.frame_overhead;

	return (bytes * 1000000u + a->o.bytes_per_s - 1) / a->o.bytes_per_s;
}

/* The backlog the modem may hold: one transmission of `burst` frames. */
static uint64_t
budget_us(const struct kz_arq *a)
{
	return (uint64_t)a->o.tx_overhead_ms * 1000u +
	    a->o.burst * air_us(a, a->o.mtu);
}

/* The earliest time (ms) a frame of up to mtu bytes may be handed down. */
static uint64_t
pace_at(const struct kz_arq *a)
{
	uint64_t t;

	if (a->o.bytes_per_s == 0)
		return 0;
	t = a->air_free_us + air_us(a, a->o.mtu);
	if (t <= budget_us(a))
		return 0;
	return (t - budget_us(a) + 999) / 1000;
}

/* Charges a frame of len bytes handed down at now; returns when it will
 * have gone out on air (ms, estimated). */
static uint64_t
charge(struct kz_arq *a, uint64_t now, size_t len)
{
	uint64_t now_us = now * 1000u;

	if (a->o.bytes_per_s == 0)
		return now;
	if (a->air_free_us <= now_us)
		a->air_free_us = now_us + (uint64_t)a->o.tx_overhead_ms * 1000u;
	a->air_free_us += air_us(a, len);
	return (a->air_free_us + 999) / 1000;
}

/* How long the peer may take to start answering a pure ack (ms). */
static uint64_t
reply_window(const struct kz_arq *a)
{
	uint64_t frame = a->o.bytes_per_s ? air_us(a, a->o.mtu) / 1000 : 0;

	return a->o.tx_overhead_ms + frame + a->o.ack_delay_ms;
}

/* ------------------------------------------------------------ timers */

static void
rtt_sample(struct kz_arq *a, uint64_t r64)
{
	uint32_t r = r64 > a->o.rto_max_ms ? a->o.rto_max_ms :
	    (r64 == 0 ? 1 : (uint32_t)r64);
	uint64_t rto;

	if (!a->have_rtt) {
		a->srtt = r;
		a->rttvar = r / 2;
		a->have_rtt = true;
	} else {
		uint32_t d = a->srtt > r ? a->srtt - r : r - a->srtt;

		a->rttvar = (3 * a->rttvar + d) / 4;
		a->srtt = (7 * a->srtt + r) / 8;
	}
	rto = (uint64_t)a->srtt + (a->rttvar * 4 > 1 ? a->rttvar * 4 : 1);
	rto = max64(rto, a->o.rto_min_ms);
	a->rto = (uint32_t)min64(rto, a->o.rto_max_ms);
}

/*
 * A random extra wait on half-duplex links, so that two ends whose frames
 * collided (and so time out together) do not key up together again: a
 * whole number of slots, each as long as a lone frame's transmission, 0 or
 * 1 of them normally and 0 to 7 after a timeout without progress since.
 */
static uint64_t
jitter(struct kz_arq *a)
{
	uint64_t slot;

	if (!a->o.half_duplex)
		return 0;
	slot = a->o.tx_overhead_ms + 1 +
	    (a->o.bytes_per_s ? air_us(a, a->o.mtu) / 1000 : 0);
	return rng_next(a) % (a->backoffs ? 8 : 2) * slot;
}

static bool
window_open(const struct kz_arq *a)
{
	return in_flight(a) < a->o.window && seq_lt(a->snd_nxt, a->snd_lim);
}

/* New stream bytes may go out now (window permitting, or as a probe of a
 * closed window once the persist timer ran out). */
static bool
can_send_new(const struct kz_arq *a)
{
	if (unsent(a) == 0)
		return false;
	if (window_open(a))
		return true;
	return a->probe && in_flight(a) == 0;
}

/* Sets the retransmission timer from what is in flight: the latest
 * transmission of an unacknowledged frame plus the RTO; with nothing in
 * flight but a closed window, the persist timer. */
static void
rearm(struct kz_arq *a, uint64_t now)
{
	uint64_t latest = 0;
	uint16_t s;

	if (in_flight(a) > 0) {
		for (s = a->snd_una; s != a->snd_nxt; s++) {
			struct txslot *t = txslot(a, s);

			if (!t->sacked)
				latest = max64(latest, t->sent_ms);
		}
		a->rtx_at = latest + a->rto + jitter(a);
	} else if (unsent(a) > 0 && !window_open(a)) {
		if (a->rtx_at == 0)
			a->rtx_at = now + a->rto + jitter(a);
	} else {
		a->rtx_at = 0;
	}
}

/* The retransmission timer ran out: back off, send the oldest frame the
 * peer does not hold again, alone (or probe a closed window). */
static void
on_timeout(struct kz_arq *a)
{
	uint16_t s;

	a->st.timeouts++;
	a->backoffs++;
	a->rto = (uint32_t)min64((uint64_t)a->rto * 2, a->o.rto_max_ms);
	a->rtx_at = 0;
	a->probe = true;
	a->yield_until = 0;
	/* An ack lost on the way back would make any sample from these
	 * frames include the timeout. */
	for (s = a->snd_una; s != a->snd_nxt; s++)
		txslot(a, s)->timed = false;
	for (s = a->snd_una; s != a->snd_nxt; s++) {
		struct txslot *t = txslot(a, s);

		if (t->sacked)
			continue;
		if (!t->lost) {
			t->lost = true;
			a->n_lost++;
		}
		break;
	}
}

static void
check_dead(struct kz_arq *a, uint64_t now)
{
	char why[128];
	uint64_t since = max64(a->last_heard, a->pending_since);

	if (a->s_len == 0 || now < since + a->o.dead_ms)
		return;
	snprintf(why, sizeof(why), "no frame from the peer for %llu ms while "
	    "%zu bytes wait for its acknowledgement",
	    (unsigned long long)(now - since), a->s_len);
	go_down(a, why, now);
}

/* ------------------------------------------------------------ receiving */

static void
lock_on(struct kz_arq *a, uint32_t src)
{
	a->peer = src;
	a->st.peer = src;
}

/* Frees the send buffer up to the stream offset upto. */
static void
release(struct kz_arq *a, uint64_t upto)
{
	size_t n = (size_t)(upto - a->s_base);

	a->s_head = (a->s_head + n) % a->o.send_buffer;
	a->s_len -= n;
	a->s_base = upto;
	a->st.stream_out += n;
}

/* The ack fields of a frame addressed to us are possible: the ack is not
 * past what we sent, and nothing we have not sent is claimed.  An ack
 * behind snd_una is an old frame's: possible, and ignored. */
static bool
ack_possible(const struct kz_arq *a, const struct kz_arq_frame *f)
{
	uint16_t ahead;

	if (seq_lt(a->snd_nxt, f->ack))
		return false;
	if (seq_lt(f->ack, a->snd_una))
		return true;
	ahead = seq_dist(f->ack, a->snd_nxt);	/* frames sent from ack on */
	if (ahead == 0)
		return f->sack == 0;
	return ahead - 1 >= 16 || (f->sack >> (ahead - 1)) == 0;
}

/* Records that the peer holds t: RACK order and the RTT sample (Karn: only
 * frames sent once). */
static void
newly_held(struct txslot *t, uint64_t *newest_xmit, uint64_t *sample_sent)
{
	if (t->xmit > *newest_xmit)
		*newest_xmit = t->xmit;
	if (t->timed && t->sent_ms > *sample_sent)
		*sample_sent = t->sent_ms;
	if (t->lost)
		t->lost = false;
}

/* Frames sent before one the peer already holds were lost (the link does
 * not reorder; a wrong guess costs one duplicate). */
static void
mark_lost(struct kz_arq *a)
{
	uint16_t s;

	for (s = a->snd_una; s != a->snd_nxt; s++) {
		struct txslot *t = txslot(a, s);

		if (!t->sacked && !t->lost && t->xmit < a->rack_xmit) {
			t->lost = true;
			a->n_lost++;
		}
	}
}

static unsigned
count_lost(struct kz_arq *a)
{
	unsigned n = 0;
	uint16_t s;

	for (s = a->snd_una; s != a->snd_nxt; s++)
		n += txslot(a, s)->lost;
	return n;
}

static void
on_ack(struct kz_arq *a, const struct kz_arq_frame *f, uint64_t now)
{
	uint64_t newest = 0, sample_sent = 0;
	uint16_t lim = (uint16_t)(f->ack + f->wnd);
	int i;

	if (seq_lt(f->ack, a->snd_una))
		return;				/* an old frame */
	while (a->snd_una != f->ack) {
		struct txslot *t = txslot(a, a->snd_una);

		if (!t->sacked)
			newly_held(t, &newest, &sample_sent);
		a->snd_una++;
	}
	release(a, in_flight(a) ? txslot(a, a->snd_una)->off : a->s_next);
	for (i = 0; i < 16 && f->sack >> i; i++) {
		struct txslot *t = txslot(a, (uint16_t)(f->ack + 1 + i));

		if ((f->sack >> i & 1) && !t->sacked) {
			t->sacked = true;
			newly_held(t, &newest, &sample_sent);
		}
	}
	if (sample_sent != 0)
		rtt_sample(a, now > sample_sent ? now - sample_sent : 1);
	if (newest > a->rack_xmit)
		a->rack_xmit = newest;
	a->n_lost = count_lost(a);
	mark_lost(a);
	a->snd_lim = lim;
	if (newest != 0) {
		a->probe = false;
		a->backoffs = 0;
	}
	rearm(a, now);
}

static void
store_payload(struct kz_arq *a, const struct kz_arq_frame *f, size_t idx)
{
	memcpy(a->rbuf + idx * a->pmax, f->payload, f->len);
	a->rx[idx].len = (uint16_t)f->len;
	a->rx[idx].have = true;
	a->st.data_in++;
	while (seq_dist(a->rcv_base, a->rcv_next) < a->o.window &&
	    a->rx[rx_index(a, a->rcv_next)].have) {
		a->st.stream_in += a->rx[rx_index(a, a->rcv_next)].len;
		a->rcv_next++;
	}
}

static void
on_data(struct kz_arq *a, const struct kz_arq_frame *f, uint64_t now)
{
	bool urgent = !a->o.half_duplex;	/* holes and duplicates */
	size_t idx;

	if (a->ack_owed++ == 0)
		a->ack_first = now;
	if (seq_lt(f->seq, a->rcv_next)) {
		a->st.duplicates++;
		a->ack_now |= urgent;
		return;
	}
	if (seq_dist(a->rcv_base, f->seq) >= a->o.window) {
		a->st.out_of_window++;
		a->ack_now |= urgent;
		return;
	}
	idx = rx_index(a, f->seq);
	if (a->rx[idx].have) {
		a->st.duplicates++;
		a->ack_now |= urgent;
		return;
	}
	if (f->seq != a->rcv_next)
		a->ack_now |= urgent;
	store_payload(a, f, idx);
}

/*
 * Half duplex: the peer held the channel for a frame of len bytes that just
 * ended.  This end cannot have been transmitting meanwhile (it would not
 * have heard it), so if the airtime clock thought the modem busy then, the
 * modem was in fact waiting: what it holds goes out that much later.  And
 * the peer could not answer before now, so the timers of the frames it has
 * not acknowledged start again (an RTT sample does not count the time it
 * spent talking).
 */
static void
peer_spoke(struct kz_arq *a, uint64_t now, size_t len)
{
	uint64_t now_us = now * 1000u, start = now_us, shift = 0;
	uint16_t s;

	if (a->o.bytes_per_s != 0) {
		uint64_t air = air_us(a, len);

		start = now_us > air ? now_us - air : 0;
		if (a->air_free_us > start)
			shift = min64(a->air_free_us, now_us) - start;
		a->air_free_us += shift;
	}
	for (s = a->snd_una; s != a->snd_nxt; s++) {
		struct txslot *t = txslot(a, s);

		if (t->sacked)
			continue;
		if (shift > 0 && t->sent_ms * 1000u > start)
			t->sent_ms += (shift + 999) / 1000;
		t->sent_ms = max64(t->sent_ms, now);
	}
	if (in_flight(a) > 0)
		rearm(a, now);
}

/* A valid frame from the peer (or the first one, naming it). */
static void
on_frame_from(struct kz_arq *a, const struct kz_arq_frame *f, uint64_t now)
{
	if (a->peer == 0)
		lock_on(a, f->src);
	a->last_heard = now;
	a->yield_until = 0;
	a->burst_n = 0;
	if (a->o.half_duplex)
		a->peer_busy_until = f->poll ? 0 : now + a->o.ack_delay_ms;
	if (f->dst == a->o.session)
		on_ack(a, f, now);
	if (a->o.half_duplex)
		peer_spoke(a, now, KZ_ARQ_OVERHEAD + f->len);
	if (f->len > 0)
		on_data(a, f, now);
	if (f->poll && a->ack_owed > 0)
		a->ack_now = true;
}

int
kz_arq_input(struct kz_arq *a, const uint8_t *frame, size_t len,
    uint64_t now_ms)
{
	struct kz_arq_frame f;
	char why[128];
	int rc;

	a->st.frames_in++;
	a->st.bytes_in += len;
	if (a->down)
		return 0;
	rc = kz_arq_frame_decode(&f, frame, len);
	if (rc == KZ_ERR_TRUNCATED || rc == KZ_ERR_CORRUPT) {
		a->st.bad_crc++;
		return 0;
	}
	if (rc < 0 || f.len > a->pmax) {
		a->st.malformed++;
		return 0;
	}
	if (f.dst != 0 && f.dst != a->o.session) {
		a->st.foreign++;
		return 0;
	}
	if (a->peer != 0 && f.src != a->peer) {
		snprintf(why, sizeof(why), "peer restarted (session %08x, "
		    "was %08x)", (unsigned)f.src, (unsigned)a->peer);
		go_down(a, why, now_ms);
		return 0;
	}
	if (f.dst == a->o.session && !ack_possible(a, &f)) {
		a->st.malformed++;
		return 0;
	}
	on_frame_from(a, &f, now_ms);
	return 0;
}

size_t
kz_arq_read(struct kz_arq *a, uint8_t *buf, size_t cap)
{
	size_t done = 0;
	uint8_t before = rcv_wnd(a);

	while (done < cap && a->rcv_base != a->rcv_next) {
		struct rxslot *s = &a->rx[a->rx_head];
		size_t k = s->len - a->rd_off;

		if (k > cap - done)
			k = cap - done;
		memcpy(buf + done, a->rbuf + a->rx_head * a->pmax + a->rd_off, k);
		done += k;
		a->rd_off += k;
		if (a->rd_off == s->len) {
			s->have = false;
			a->rd_off = 0;
			a->rx_head = (a->rx_head + 1) % a->o.window;
			a->rcv_base++;
		}
	}
	/* A window we said was (nearly) closed opened: say so. */
	if (a->peer != 0 && rcv_wnd(a) != before && (a->wnd_sent == 0 ||
	    rcv_wnd(a) >= a->wnd_sent + (a->o.window + 1) / 2))
		a->ack_now = true;
	return done;
}

/* ------------------------------------------------------------ sending */

size_t
kz_arq_write(struct kz_arq *a, const uint8_t *p, size_t n, uint64_t now_ms)
{
	size_t cap = a->o.send_buffer, at, first;

	if (a->down)
		return 0;
	if (n > cap - a->s_len)
		n = cap - a->s_len;
	if (n == 0)
		return 0;
	at = (a->s_head + a->s_len) % cap;
	first = n < cap - at ? n : cap - at;
	memcpy(a->sbuf + at, p, first);
	memcpy(a->sbuf, p + first, n - first);
	if (a->s_len == 0)
		a->pending_since = now_ms;
	a->s_len += n;
	if (in_flight(a) == 0)
		rearm(a, now_ms);		/* the persist timer */
	return n;
}

/* Copies stream bytes [off, off + n) from the send ring to out. */
static void
copy_out(const struct kz_arq *a, uint64_t off, size_t n, uint8_t *out)
{
	size_t cap = a->o.send_buffer;
	size_t at = (a->s_head + (size_t)(off - a->s_base)) % cap;
	size_t first = n < cap - at ? n : cap - at;

	memcpy(out, a->sbuf + at, first);
	memcpy(out + first, a->sbuf, n - first);
}

/* The ack fields every frame carries once the peer is known. */
static void
fill_ack(const struct kz_arq *a, struct kz_arq_frame *f)
{
	int i;

	f->src = a->o.session;
	f->dst = a->peer;
	if (a->peer == 0)
		return;
	f->ack = a->rcv_next;
	f->wnd = rcv_wnd(a);
	for (i = 0; i < 16; i++) {
		uint16_t s = (uint16_t)(a->rcv_next + 1 + i);

		if (seq_dist(a->rcv_base, s) < a->o.window &&
		    a->rx[rx_index(a, s)].have)
			f->sack |= (uint16_t)(1u << i);
	}
}

/* Bookkeeping for a frame just handed down, ending on air at end_ms. */
static void
sent_frame(struct kz_arq *a, const struct kz_arq_frame *f, size_t n,
    uint64_t now, uint64_t end_ms, bool was_probe)
{
	a->st.frames_out++;
	a->st.bytes_out += n;
	if (a->peer != 0) {
		a->ack_owed = 0;
		a->ack_now = false;
		a->wnd_sent = f->wnd;
	}
	if (f->len > 0)
		rearm(a, now);
	if (a->o.half_duplex && f->poll) {
		a->burst_n = 0;
		a->yield_until = in_flight(a) > 0 ? a->rtx_at :
		    end_ms + reply_window(a);
	} else if (a->o.half_duplex) {
		a->burst_n++;
	} else if (was_probe) {
		a->yield_until = a->rtx_at;
	}
}

/* Another data frame could follow this one in the same turn. */
static bool
more_to_send(const struct kz_arq *a, bool was_probe)
{
	if (was_probe)
		return false;
	if (a->o.half_duplex && a->burst_n + 1 >= a->o.burst)
		return false;
	return a->n_lost > 0 || can_send_new(a);
}

/* The oldest frame marked lost. */
static uint16_t
first_lost(struct kz_arq *a)
{
	uint16_t s;

	for (s = a->snd_una; s != a->snd_nxt; s++)
		if (txslot(a, s)->lost)
			break;
	return s;
}

static void
send_data(struct kz_arq *a, uint64_t now, bool retx, uint8_t *frame,
    size_t *len)
{
	struct kz_arq_frame f = { 0 };
	bool was_probe = a->probe;
	struct txslot *t;
	uint16_t seq;

	if (retx) {
		seq = first_lost(a);
		t = txslot(a, seq);
		t->lost = false;
		t->timed = false;
		a->n_lost--;
		a->st.retransmits++;
	} else {
		seq = a->snd_nxt++;
		t = txslot(a, seq);
		memset(t, 0, sizeof(*t));
		t->off = a->s_next;
		t->timed = true;
		t->len = (uint16_t)(unsent(a) < a->pmax ? unsent(a) : a->pmax);
		a->s_next += t->len;
	}
	t->sends++;
	t->xmit = ++a->xmit;
	a->probe = false;
	a->st.data_frames++;
	fill_ack(a, &f);
	f.seq = seq;
	f.len = t->len;
	f.poll = !more_to_send(a, was_probe);
	copy_out(a, t->off, t->len, frame + KZ_ARQ_HEADER);
	*len = seal(&f, frame);
	t->sent_ms = charge(a, now, *len);
	sent_frame(a, &f, *len, now, t->sent_ms, was_probe);
}

static void
send_ack(struct kz_arq *a, uint64_t now, uint8_t *frame, size_t *len)
{
	struct kz_arq_frame f = { 0 };

	fill_ack(a, &f);
	f.seq = a->snd_nxt;
	f.poll = true;
	*len = seal(&f, frame);
	a->st.acks_sent++;
	sent_frame(a, &f, *len, now, charge(a, now, *len), false);
}

/* When a pure ack is due (NEVER if none is owed). */
static uint64_t
ack_at(const struct kz_arq *a)
{
	unsigned enough = a->o.half_duplex ? (a->o.window + 1) / 2 : 2;

	if (a->peer == 0 || (a->ack_owed == 0 && !a->ack_now))
		return NEVER;
	if (a->ack_now || a->ack_owed >= enough)
		return 0;
	if (a->o.half_duplex)
		return a->last_heard + a->o.ack_delay_ms;
	return a->ack_first + a->o.ack_delay_ms;
}

/* When this end may send data: mid-burst at once; else not while it
 * yields the channel, while the peer is in the middle of its own burst, or
 * (half duplex) while its own last transmission is still going out. */
static uint64_t
turn_at(const struct kz_arq *a)
{
	if (a->o.half_duplex && a->burst_n > 0)
		return 0;
	if (!a->o.half_duplex)
		return a->yield_until;
	return max64(max64(a->yield_until, a->peer_busy_until),
	    (a->air_free_us + 999) / 1000);
}

enum pick { PICK_NONE, PICK_RETX, PICK_NEW, PICK_ACK };

/* What kz_arq_output would send at now; with nothing, *at is when to look
 * again (NEVER: not before something else happens). */
static enum pick
pick(const struct kz_arq *a, uint64_t now, uint64_t *at)
{
	uint64_t gate = pace_at(a), t_data = NEVER, t_ack = ack_at(a);

	if (a->n_lost > 0 || can_send_new(a))
		t_data = max64(gate, turn_at(a));
	if (t_ack != NEVER)
		t_ack = max64(t_ack, gate);
	if (t_data <= now)
		return a->n_lost > 0 ? PICK_RETX : PICK_NEW;
	if (t_ack <= now)
		return PICK_ACK;
	*at = min64(t_data, t_ack);
	return PICK_NONE;
}

int
kz_arq_output(struct kz_arq *a, uint64_t now_ms, uint8_t *frame,
    size_t *len)
{
	uint64_t at;

	if (a->down)
		return 1;
	check_dead(a, now_ms);
	if (a->down)
		return 1;
	if (a->rtx_at != 0 && now_ms >= a->rtx_at)
		on_timeout(a);
	switch (pick(a, now_ms, &at)) {
	case PICK_RETX:
		send_data(a, now_ms, true, frame, len);
		return 0;
	case PICK_NEW:
		send_data(a, now_ms, false, frame, len);
		return 0;
	case PICK_ACK:
		send_ack(a, now_ms, frame, len);
		return 0;
	default:
		return 1;
	}
}

uint64_t
kz_arq_next_event(const struct kz_arq *a, uint64_t now_ms)
{
	uint64_t t = NEVER, at = NEVER;

	if (a->down)
		return NEVER;
	if (a->s_len > 0)
		t = max64(a->last_heard, a->pending_since) + a->o.dead_ms;
	if (a->rtx_at != 0)
		t = min64(t, a->rtx_at);
	if (pick(a, now_ms, &at) != PICK_NONE)
		return now_ms;
	return min64(t, at);
}

/* ------------------------------------------------------------ lifetime */

void
kz_arq_opts_radio(struct kz_arq_opts *o, uint32_t bit_rate)
{
	uint32_t bps = bit_rate ? bit_rate * 100u / 840u : 1;
	uint32_t frame_ms;

	memset(o, 0, sizeof(*o));
	o->mtu = 200;
	o->bytes_per_s = bps ? bps : 1;
	o->frame_overhead = 19;
	o->tx_overhead_ms = 400;
	o->half_duplex = true;
	o->window = KZ_ARQ_WINDOW_MAX;
	o->burst = 8;
	frame_ms = (uint32_t)((o->mtu + o->frame_overhead) * 1000u /
	    o->bytes_per_s);
	o->ack_delay_ms = 2 * frame_ms + 300;
	o->rto_min_ms = 2 * (o->tx_overhead_ms + frame_ms);
	o->rto_initial_ms = o->rto_min_ms + o->burst * frame_ms;
	o->rto_max_ms = 30000;
	o->dead_ms = 300000;
	o->send_buffer = o->bytes_per_s * 120u > 4096 ?
	    (size_t)o->bytes_per_s * 120u : 4096;
}

void
kz_arq_opts_lan(struct kz_arq_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mtu = 1400;
	o->window = KZ_ARQ_WINDOW_MAX;
	o->burst = KZ_ARQ_WINDOW_MAX;
	o->rto_initial_ms = 1000;
	o->rto_min_ms = 200;
	o->rto_max_ms = 10000;
	o->ack_delay_ms = 20;
	o->dead_ms = 60000;
	o->send_buffer = 256 * 1024;
}

static bool
opts_valid(const struct kz_arq_opts *o)
{
	return o->mtu >= KZ_ARQ_MTU_MIN && o->mtu <= KZ_ARQ_MTU_MAX &&
	    o->window >= 1 && o->window <= KZ_ARQ_WINDOW_MAX &&
	    o->burst >= 1 && o->burst <= 64 &&
	    o->rto_min_ms >= 1 && o->rto_min_ms <= o->rto_initial_ms &&
	    o->rto_initial_ms <= o->rto_max_ms &&
	    o->rto_max_ms <= 3600000 && o->dead_ms >= 1 &&
	    o->ack_delay_ms <= 600000 && o->tx_overhead_ms <= 60000 &&
	    o->send_buffer >= 1 && o->send_buffer <= (1u << 30) &&
	    o->session != 0;
}

int
kz_arq_new(struct kz_arq **out, const struct kz_arq_opts *o,
    uint64_t now_ms)
{
	struct kz_arq *a = NULL;
	int rc = KZ_ERR_INVAL;

	*out = NULL;
	if (!opts_valid(o))
		goto out;
	rc = KZ_ERR_NOMEM;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto out;
	a->o = *o;
	a->pmax = o->mtu - KZ_ARQ_OVERHEAD;
	a->sbuf = malloc(o->send_buffer);
	a->rbuf = malloc(o->window * a->pmax);
	if (a->sbuf == NULL || a->rbuf == NULL)
		goto out;
	a->rng = (uint64_t)o->session * 0x9e3779b97f4a7c15ull | 1;
	a->rto = o->rto_initial_ms;
	a->snd_lim = o->window;
	a->last_heard = now_ms;
	a->pending_since = now_ms;
	a->wnd_sent = (uint8_t)o->window;
	*out = a;
	a = NULL;
	rc = 0;
out:
	kz_arq_free(a);
	return rc;
}

void
kz_arq_free(struct kz_arq *a)
{
	if (a == NULL)
		return;
	free(a->sbuf);
	free(a->rbuf);
	free(a);
}

bool
kz_arq_down(const struct kz_arq *a)
{
	return a->down;
}

const char *
kz_arq_reason(const struct kz_arq *a)
{
	return a->reason;
}

bool
kz_arq_idle(const struct kz_arq *a)
{
	return a->s_len == 0;
}

void
kz_arq_get_stats(const struct kz_arq *a, struct kz_arq_stats *out)
{
	*out = a->st;
	out->srtt_ms = a->srtt;
	out->rttvar_ms = a->rttvar;
	out->rto_ms = a->rto;
	out->peer = a->peer;
}
