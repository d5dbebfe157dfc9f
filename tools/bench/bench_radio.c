/*
 * kizuna-bench radio: what a backlog of chat costs on a 1200-baud radio
 * link, through the whole radio stack above the modem (kz_rlink: Noise,
 * the zstd dictionary, the sync protocol, over the ARQ link layer).
 *
 * The scene: node A (city hall, the mesh's founder) holds a backlog of N
 * posts (default 500) of 40-80 characters of Japanese municipal chat (the
 * held-out variant of tools/dict/chatgen: never a sentence the link's
 * dictionary was trained on), by five staff in three channels, each
 * appended as staff post them (signed alone).  Node B (a branch office)
 * was in sync before the road was cut: it holds A's set-up entries (the
 * mesh, the users, the channels, B's admission) and its own few posts,
 * which A holds too.  B dials A over the radio and syncs.
 *
 * Simulated (the default): both nodes in this process, stores in memory,
 * the air is tests/linksim.c (deterministic from the seed) with the
 * parameters of a 1200-baud AFSK channel as the shared Direwolf rig
 * measured it (6.80 ms per byte, so 147 B/s after HDLC bit stuffing; 19
 * bytes of AX.25 header, FCS and flag per frame) and Direwolf's own
 * channel access defaults (TXDELAY 300 ms, TXTAIL 100 ms, PERSIST 63:
 * p = 64/256 per 100 ms slot), half duplex.  Both ends use the deployed
 * defaults: kz_rlink_opts_radio(&o, 1200).  Sessions per seed, each on a
 * fresh scene:
 *
 *   backlog    0 % frame loss: every byte on air (ARQ frames and the
 *              AX.25 overhead, both directions, handshake included) until
 *              the link falls silent, per post; the seconds until B holds
 *              every post; then an in-sync reconnect's bytes.  A's and B's
 *              workspaces must then have the same digest.
 *   lossy      the same at 10 % independent frame loss.
 *   emergency  0 % loss; once B holds a third of the backlog, an emergency
 *              post is appended on A (kz_store_append, kz_link_feed_grew):
 *              the seconds until it is in B's workspace (kz_views).
 *   emergency  the same at 10 % loss, stopped once the post is shown.
 *   sweep      nine more at 0 % loss, written after 10 %, 20 % ... 90 %
 *              of the backlog reached B, each stopped once it is shown.
 *
 * Figures are the medians over --runs seeds (S, S+1, ...); each seed's
 * figures follow in "per_seed".  The breakdown (of the median seed) says
 * where the bytes and the seconds go.  It is read off the frames each end
 * hands down: each ARQ frame is decoded, first transmissions are told from
 * retransmissions by their seq, and the stream they carry is cut into its
 * Noise messages (a u16 length each): the handshake's three, then one
 * sealed sync frame each (the radio profile's send_chunk 1).  The sync
 * frames are told apart by their order and the sync counters: each side's
 * Hello and Vector first; after them A sends runs (its runs_out +
 * urgent_out largest messages) and a few pings and acks, B sends acks.
 * The categories are disjoint and add up to the bytes on air (the JSON
 * says whether they did, and whether there was one Noise message per sync
 * frame, which the attribution assumes).
 *
 * --direwolf: the same backlog and emergency over two real Direwolf
 * stations (the shared rig, started by the caller) through two kz_radio
 * KISS TCP ports on a libuv loop, in real time: a second JSON line marked
 * "link":"direwolf".  Bytes on air are counted there as the frames handed
 * to the TNC plus the same 19 bytes each (Direwolf's preamble and bit
 * stuffing are not in it), and the emergency post counts as a post (N + 1
 * posts and their text).
 */
#include <err.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "chatgen.h"
#include "daemon/radio.h"
#include "kizuna/arq.h"
#include "kizuna/err.h"
#include "kizuna/keys.h"
#include "kizuna/link.h"
#include "kizuna/op.h"
#include "kizuna/rlink.h"
#include "kizuna/store.h"
#include "kizuna/util.h"
#include "kizuna/views.h"
#include "linksim.h"

#include "bench.h"

#define RADIO_BIT_RATE 1200
#define RADIO_DEFAULT_MESSAGES 500
#define RADIO_DEFAULT_RUNS 3
#define RADIO_RUNS_MAX 15
#define MSG_MIN_CHARS 40
#define MSG_MAX_CHARS 80
#define MSG_CAP (4 * MSG_MAX_CHARS + 1)
#define B_OWN_POSTS 20		/* B's posts from before, held by A too */
#define LOSSY 0.10		/* the lossy session's frame loss */
#define EM_SWEEP 9		/* emergency posts at 10 %, 20 % ... 90 % */

/* The simulated channel (see above). */
#define AIR_BYTES_PER_S 147	/* 1 / 6.80 ms per byte, the rig's fit */
#define AIR_FRAME_OVERHEAD 19	/* AX.25 header 16, FCS 2, flag 1 */
#define AIR_TXDELAY_MS 300
#define AIR_TXTAIL_MS 100
#define AIR_LATENCY_MS 30	/* demodulation and decoding */
#define AIR_SLOT_MS 100
#define AIR_DCD_MS 30
#define AIR_PERSIST 63

#define SIM_T0 1790000000000ULL		/* wall clock at simulated 0 */
#define SIM_LIMIT_MS (8ULL * 3600 * 1000)	/* a session never takes this */
#define SIM_QUIET_MS (10ULL * 60 * 1000)	/* wait for silence after */
#define STILL_MAX 1000		/* "now" again and again without progress */

/* Noise: a u16 length before every message, a 16-byte tag in each
 * transport message; the handshake is three messages. */
#define NOISE_LEN 2
#define NOISE_TAG 16
#define NOISE_HANDSHAKE_MSGS 3

/* Direwolf run. */
#define DW_DEFAULT_A "tcp:127.0.0.1:8101"
#define DW_DEFAULT_B "tcp:127.0.0.1:8102"
#define DW_SETTLE_MS 1500	/* Direwolf looks for new clients once a second */
#define DW_UP_TIMEOUT_MS 15000
#define DW_QUIET_MS 60000

/* Targets of the brief (reported, not asserted). */
#define TARGET_AIR_OVER_TEXT 0.6
#define TARGET_GOODPUT_0 0.6
#define TARGET_GOODPUT_10 0.4
#define TARGET_EMERGENCY_S 10.0

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define NEVER UINT64_MAX

enum { END_A = 0, END_B = 1 };	/* A answers, B dials */

static const char *const staff[] = {
	"sato.k", "tanaka.m", "suzuki.a", "ito.r", "kato.y",
};
static const char *const channel_names[] = { "本部", "避難所", "給水" };
#define N_CHANNELS NELEM(channel_names)

/* ------------------------------------------------------------ the scene */

struct clock {
	uint64_t wall0;			/* wall clock at now 0 */
	uint64_t now;			/* ms */
};

static uint64_t
clock_mono(void *ctx)
{
	return ((struct clock *)ctx)->now;
}

static uint64_t
clock_wall(void *ctx)
{
	const struct clock *c = ctx;

	return c->wall0 + c->now;
}

struct rnode {
	struct kz_store *st;
	struct kz_keypair kp;
};

struct scene {
	uint64_t seed;
	struct rnode a, b;
	uint8_t netkey[32];
	uint8_t chans[N_CHANNELS][KZ_ID_BYTES];
	struct kz_chatgen gen;
	bool have_gen;
	uint64_t messages;		/* posts in A's backlog */
	uint64_t a_prefix;		/* A's entries B holds */
	uint64_t text_bytes, text_chars, op_bytes;	/* of the backlog */
	uint64_t em_text_bytes;		/* of the emergency post */
	uint64_t wall;			/* the last wall time used */
};

/* Appends op to n's feed at wall; id (may be NULL) gets the entry's hash. */
static int
put_op(struct rnode *n, uint64_t wall, const struct kz_op *op,
    uint8_t id[KZ_HASH_BYTES], uint64_t *op_bytes)
{
	struct kz_appended app;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if ((rc = kz_op_encode(&buf, &len, op)) < 0) {
		report_err("encode op", rc);
		return rc;
	}
	rc = kz_store_append(n->st, &n->kp, wall, buf, len, &app);
	free(buf);
	if (rc < 0) {
		report_err("append", rc);
		return rc;
	}
	if (id != NULL)
		memcpy(id, app.hash, KZ_HASH_BYTES);
	if (op_bytes != NULL)
		*op_bytes += len;
	return 0;
}

/* Copies what from holds of feed (up to its tip) into to, as a sync would. */
static int
copy_feed(struct rnode *from, struct rnode *to, const uint8_t feed[32])
{
	uint64_t tip, have;
	int rc;

	if ((rc = kz_store_tip(from->st, feed, &tip, NULL)) < 0 ||
	    (rc = kz_store_tip(to->st, feed, &have, NULL)) < 0)
		goto fail;
	while (have < tip) {
		struct kz_run *run = NULL;
		struct kz_ingest_result res;

		if ((rc = kz_store_read_run(from->st, feed, have + 1, 1000, 0,
		    &run)) < 0)
			goto fail;
		rc = kz_store_ingest(to->st, run, &res);
		kz_run_free(run);
		if (rc < 0)
			goto fail;
		have = res.tip;
	}
	return 0;
fail:
	report_err("copy a feed between the stores", rc);
	return rc;
}

/* One chat post on n's feed; text bytes and characters are counted. */
static int
put_post(struct scene *s, struct rnode *n, uint64_t wall,
    enum kz_priority prio, uint8_t id[KZ_HASH_BYTES], bool count)
{
	char text[MSG_CAP];
	size_t tl = kz_chatgen_message(&s->gen, text, sizeof(text),
	    MSG_MIN_CHARS, MSG_MAX_CHARS);
	struct kz_op op = { .type = KZ_OP_POST };

	op.actor = staff[kz_chatgen_rand(&s->gen, NELEM(staff))];
	op.u.post.channel = s->chans[kz_chatgen_rand(&s->gen, N_CHANNELS)];
	op.u.post.text = text;
	op.u.post.priority = prio;
	if (count) {
		s->text_bytes += tl;
		s->text_chars += kz_chatgen_chars(text);
	}
	if (prio == KZ_PRIO_EMERGENCY)
		s->em_text_bytes += tl;
	return put_op(n, wall, &op, id, count ? &s->op_bytes : NULL);
}

static void
scene_free(struct scene *s)
{
	kz_store_free(s->a.st);
	kz_store_free(s->b.st);
	s->a.st = s->b.st = NULL;
	kz_keypair_wipe(&s->a.kp);
	kz_keypair_wipe(&s->b.kp);
	sodium_memzero(s->netkey, sizeof(s->netkey));
	if (s->have_gen)
		kz_chatgen_free(&s->gen);
	s->have_gen = false;
}

static void
fill_rng(uint8_t *p, size_t n, uint64_t *rng)
{
	size_t k;

	for (k = 0; k < n; k += 8) {
		uint64_t v = rng_next(rng);

		memcpy(p + k, &v, n - k < 8 ? n - k : 8);
	}
}

/*
 * Builds the scene for seed: keys, the stores (clocked by clk), A's set-up
 * (held by B), B's own posts (held by A), then A's backlog of `messages`
 * posts ending a minute before wall_end.
 */
static int
scene_build(struct scene *s, uint64_t seed, uint64_t messages,
    struct clock *clk, uint64_t wall_end)
{
	uint8_t kseed[32], mesh_id[KZ_ID_BYTES];
	struct kz_op op;
	uint64_t rng = seed, i, *gaps;
	size_t k;
	int rc;

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->messages = messages;
	fill_rng(kseed, sizeof(kseed), &rng);
	if ((rc = kz_keypair_from_seed(&s->a.kp, kseed)) < 0)
		goto fail;
	kseed[0] ^= 0x5a;
	if ((rc = kz_keypair_from_seed(&s->b.kp, kseed)) < 0)
		goto fail;
	sodium_memzero(kseed, sizeof(kseed));
	/* Everything from the seed, so that a seed replays byte for byte
	 * (the channel ids, hashes of a chain from the mesh id, are in every
	 * post and so in what zstd makes of them). */
	fill_rng(s->netkey, sizeof(s->netkey), &rng);
	fill_rng(mesh_id, sizeof(mesh_id), &rng);
	if (kz_chatgen_init(&s->gen, 0x7ad10000u + seed, KZ_CHATGEN_HELDOUT) < 0) {
		warnx("cannot read the word list %s", KZ_CHATGEN_WORDS);
		return KZ_ERR_IO;
	}
	s->have_gen = true;
	if ((rc = kz_store_open(&s->a.st, ":memory:", &bench_log)) < 0 ||
	    (rc = kz_store_open(&s->b.st, ":memory:", &bench_log)) < 0)
		goto fail;
	if (clk != NULL) {
		kz_store_set_clock(s->a.st, clock_wall, clk);
		kz_store_set_clock(s->b.st, clock_wall, clk);
	}
	if ((rc = kz_views_set_root(s->a.st, s->a.kp.pk)) < 0 ||
	    (rc = kz_views_set_root(s->b.st, s->a.kp.pk)) < 0)
		goto fail;

	/* A founds the mesh, admits B, adds the staff and the channels;
	 * posts follow 10-300 s apart, the last a minute before wall_end. */
	s->wall = wall_end - 60000 - (B_OWN_POSTS + messages) * 300000 -
	    3600000;
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_MESH_CREATE;
	op.u.mesh_create.mesh_id = mesh_id;
	op.u.mesh_create.name = "谷川市災害対策";
	if ((rc = put_op(&s->a, s->wall++, &op, NULL, NULL)) < 0)
		return rc;
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_NODE_ADMIT;
	op.u.node_admit.node = s->b.kp.pk;
	op.u.node_admit.name = "上流支所";
	if ((rc = put_op(&s->a, s->wall++, &op, NULL, NULL)) < 0)
		return rc;
	for (k = 0; k < NELEM(staff); k++) {
		memset(&op, 0, sizeof(op));
		op.type = KZ_OP_USER_SET;
		op.u.user_set.user = staff[k];
		op.u.user_set.set = KZ_USER_SET_ALL;
		op.u.user_set.display_name = staff[k];
		op.u.user_set.department = k < 2 ? "危機管理課" : "福祉課";
		op.u.user_set.role = k == 0 ? KZ_ROLE_ADMIN : KZ_ROLE_MEMBER;
		op.u.user_set.password_hash = "";
		op.u.user_set.active = true;
		if ((rc = put_op(&s->a, s->wall++, &op, NULL, NULL)) < 0)
			return rc;
	}
	for (k = 0; k < N_CHANNELS; k++) {
		memset(&op, 0, sizeof(op));
		op.type = KZ_OP_CHANNEL_CREATE;
		op.actor = "";
		op.u.channel_create.name = channel_names[k];
		op.u.channel_create.topic = "";
		if ((rc = put_op(&s->a, s->wall++, &op, s->chans[k], NULL)) < 0)
			return rc;
	}
	if ((rc = copy_feed(&s->a, &s->b, s->a.kp.pk)) < 0)
		return rc;
	for (i = 0; i < B_OWN_POSTS; i++) {
		s->wall += 10000 + (uint64_t)kz_chatgen_rand(&s->gen, 290) * 1000;
		if ((rc = put_post(s, &s->b, s->wall, KZ_PRIO_NORMAL, NULL,
		    false)) < 0)
			return rc;
	}
	if ((rc = copy_feed(&s->b, &s->a, s->b.kp.pk)) < 0 ||
	    (rc = kz_store_tip(s->a.st, s->a.kp.pk, &s->a_prefix, NULL)) < 0)
		goto fail;

	/* The backlog, 10-300 s apart, the last a minute before wall_end. */
	if ((gaps = malloc(messages * sizeof(*gaps))) == NULL) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	s->wall = wall_end - 60000;
	for (i = 0; i < messages; i++) {
		gaps[i] = 10000 + (uint64_t)kz_chatgen_rand(&s->gen, 290) * 1000;
		s->wall -= gaps[i];
	}
	for (i = 0; i < messages; i++) {
		s->wall += gaps[i];
		if ((rc = put_post(s, &s->a, s->wall, KZ_PRIO_NORMAL, NULL,
		    true)) < 0)
			break;
	}
	free(gaps);
	return rc;
fail:
	report_err("set up the nodes", rc);
	return rc;
}

/* The radio profile for one end: the deployed defaults. */
static void
rlink_opts(struct kz_rlink_opts *o, struct rnode *n, const uint8_t *netkey,
    bool initiator, uint32_t session, struct clock *clk)
{
	kz_rlink_opts_radio(o, RADIO_BIT_RATE);
	o->link.st = n->st;
	o->link.node = &n->kp;
	o->link.network_key = netkey;
	o->link.initiator = initiator;
	o->link.sync.now_ms = clock_mono;
	o->link.sync.ctx = clk;
	o->link.sync.log = &bench_log;
	o->link.sync.peer_name = initiator ? "A" : "B";
	o->arq.session = session;
}

/* ------------------------------------------------------------ the tap */

/*
 * What one end handed down: its ARQ frames, and the stream of first
 * transmissions cut into Noise messages (their sizes with the u16 length,
 * in order).
 */
struct tap {
	uint64_t frames, bytes, data_frames, acks, retx_frames;
	uint64_t payload_new, payload_retx;
	uint64_t undecodable, seq_gaps;
	uint16_t next_seq;
	uint8_t lenbuf[NOISE_LEN];
	size_t lenhave, body_left, cur;
	uint32_t *msgs;
	size_t n_msgs, cap_msgs;
};

static void
tap_free(struct tap *t)
{
	free(t->msgs);
	memset(t, 0, sizeof(*t));
}

static int
tap_msg(struct tap *t, size_t size)
{
	if (t->n_msgs == t->cap_msgs) {
		size_t cap = t->cap_msgs ? 2 * t->cap_msgs : 64;
		uint32_t *m = realloc(t->msgs, cap * sizeof(*m));

		if (m == NULL)
			return -1;
		t->msgs = m;
		t->cap_msgs = cap;
	}
	t->msgs[t->n_msgs++] = (uint32_t)size;
	return 0;
}

/* Stream bytes of first transmissions, in order. */
static int
tap_stream(struct tap *t, const uint8_t *p, size_t n)
{
	while (n > 0) {
		if (t->lenhave < NOISE_LEN) {
			t->lenbuf[t->lenhave++] = *p++;
			n--;
			if (t->lenhave < NOISE_LEN)
				continue;
			t->body_left = (size_t)t->lenbuf[0] << 8 | t->lenbuf[1];
			t->cur = NOISE_LEN + t->body_left;
		} else {
			size_t k = n < t->body_left ? n : t->body_left;

			p += k;
			n -= k;
			t->body_left -= k;
		}
		if (t->body_left == 0) {
			if (tap_msg(t, t->cur) < 0)
				return -1;
			t->lenhave = 0;
		}
	}
	return 0;
}

/* KZ_BENCH_TRACE=1: every frame and event of the simulated sessions on
 * stderr. */
static bool trace;

static void
trace_frame(const char *what, int end, const uint8_t *frame, size_t len,
    uint64_t now)
{
	struct kz_arq_frame f;

	if (!trace)
		return;
	if (kz_arq_frame_decode(&f, frame, len) < 0) {
		fprintf(stderr, "%10.3f %s %s %zu bytes, undecodable\n",
		    now / 1000.0, end == END_A ? "A" : "B", what, len);
		return;
	}
	fprintf(stderr, "%10.3f %s %s seq %u len %zu ack %u sack %04x%s\n",
	    now / 1000.0, end == END_A ? "A" : "B", what, f.seq, f.len, f.ack,
	    f.sack, f.poll ? " POLL" : "");
}

static int
tap_frame(struct tap *t, const uint8_t *frame, size_t len)
{
	struct kz_arq_frame f;

	t->frames++;
	t->bytes += len;
	if (kz_arq_frame_decode(&f, frame, len) < 0) {
		t->undecodable++;
		return 0;
	}
	if (f.len == 0) {
		t->acks++;
		return 0;
	}
	if ((uint16_t)(f.seq - t->next_seq) >= 0x8000) {
		t->retx_frames++;
		t->payload_retx += f.len;
		return 0;
	}
	if (f.seq != t->next_seq)
		t->seq_gaps++;
	t->next_seq = (uint16_t)(f.seq + 1);
	t->data_frames++;
	t->payload_new += f.len;
	return tap_stream(t, f.payload, f.len);
}

/* ------------------------------------------------------------ one session */

/* What one session measured. */
struct result {
	bool ok;
	/* bytes on air, both ways, frame overhead included */
	uint64_t air_bytes, air_bytes_done;
	uint64_t air_ab, air_ba;
	double seconds_total;		/* until B held every post */
	double seconds_quiet;		/* until the link fell silent */
	bool quiet;
	double handshake_s, first_entry_s;
	double emergency_latency_s;
	uint64_t emergency_after;	/* posts B held when it was written */
	/* Where the bytes went (disjoint, summing to air_bytes). */
	uint64_t b_ax25, b_arq_headers, b_arq_acks, b_retx;
	uint64_t b_handshake, b_noise, b_hello_vector, b_runs, b_a_other,
	    b_b_acks, b_unparsed;
	uint64_t handshake_bytes;	/* the link's count (no length prefixes) */
	/* Counters. */
	uint64_t frames[2], data_frames[2], acks[2], retx[2];
	uint64_t transmissions[2];
	double air_s[2];
	uint64_t timeouts[2];
	uint64_t runs_out, urgent_out, sync_acks_out, asks_out[2];
	uint64_t sync_frames[2], transport_msgs[2];
	uint64_t stream_out[2], packed_out[2];
	uint64_t lost[2], collided[2];
	uint64_t insync_bytes;		/* an in-sync reconnect, on air */
	uint64_t compress, dict_id;
};

struct sim {
	struct scene *sc;
	struct clock clk;
	struct linksim *ls;
	struct kz_rlink *r[2];
	struct tap tap[2];
	uint64_t rng;
	/* progress */
	uint64_t b_tip, b_seen_in;
	uint64_t target_tip;
	uint64_t em_at;			/* posts on B that trigger the
					   emergency post (0: none) */
	bool emergency, injected, seen;
	uint8_t em_id[KZ_HASH_BYTES];
	char em_hex[2 * KZ_HASH_BYTES + 1];
	uint64_t inject_ms, seen_ms, done_ms, open_ms, first_ms;
	bool done;
};

static void
air_params(struct linksim_params *lp, double loss)
{
	memset(lp, 0, sizeof(*lp));
	lp->bytes_per_s = AIR_BYTES_PER_S;
	lp->frame_overhead = AIR_FRAME_OVERHEAD;
	lp->txdelay_ms = AIR_TXDELAY_MS;
	lp->txtail_ms = AIR_TXTAIL_MS;
	lp->latency_ms = AIR_LATENCY_MS;
	lp->half_duplex = true;
	lp->csma = true;
	lp->slot_ms = AIR_SLOT_MS;
	lp->dcd_ms = AIR_DCD_MS;
	lp->persist = AIR_PERSIST;
	lp->loss = loss;
}

static uint32_t
session_id(uint64_t *rng)
{
	uint32_t v;

	do
		v = (uint32_t)rng_next(rng);
	while (v == 0);
	return v;
}

static int
sim_links(struct sim *m)
{
	struct kz_rlink_opts o;
	int rc;

	rlink_opts(&o, &m->sc->a, m->sc->netkey, false, session_id(&m->rng),
	    &m->clk);
	if ((rc = kz_rlink_new(&m->r[END_A], &o, m->clk.now)) < 0)
		goto fail;
	rlink_opts(&o, &m->sc->b, m->sc->netkey, true, session_id(&m->rng),
	    &m->clk);
	if ((rc = kz_rlink_new(&m->r[END_B], &o, m->clk.now)) < 0)
		goto fail;
	return 0;
fail:
	report_err("make the radio links", rc);
	return rc;
}

/* After B took frames: did the backlog or the emergency post arrive? */
static int
sim_check_b(struct sim *m)
{
	struct kz_link_stats ls;
	uint64_t in;
	int rc;

	kz_link_get_stats(kz_rlink_link(m->r[END_B]), &ls);
	if (m->open_ms == 0 && kz_link_state(kz_rlink_link(m->r[END_A])) ==
	    KZ_LINK_OPEN && ls.bytes_in > 0 &&
	    kz_link_state(kz_rlink_link(m->r[END_B])) == KZ_LINK_OPEN)
		m->open_ms = m->clk.now;
	in = ls.sync.entries_in + ls.sync.urgent_in;
	if (in == m->b_seen_in)
		return 0;
	m->b_seen_in = in;
	if (m->first_ms == 0)
		m->first_ms = m->clk.now;
	if ((rc = kz_store_tip(m->sc->b.st, m->sc->a.kp.pk, &m->b_tip,
	    NULL)) < 0) {
		report_err("read B's tip", rc);
		return rc;
	}
	if (m->injected && !m->seen) {
		uint8_t id[KZ_ID_BYTES];

		rc = kz_views_message_find(m->sc->b.st, m->em_hex, id);
		if (rc == 0) {
			m->seen = true;
			m->seen_ms = m->clk.now;
			if (trace)
				fprintf(stderr, "%10.3f B shows the emergency "
				    "post\n", m->clk.now / 1000.0);
		} else if (rc != KZ_ERR_NOT_FOUND) {
			report_err("look for the emergency post on B", rc);
			return rc;
		}
	}
	if (!m->done && m->b_tip >= m->target_tip &&
	    (!m->emergency || m->seen)) {
		m->done = true;
		m->done_ms = m->clk.now;
	}
	return 0;
}

/* B holds em_at posts of the backlog: an emergency post on A. */
static int
sim_inject(struct sim *m, struct result *res)
{
	struct scene *s = m->sc;
	int rc;

	m->injected = true;
	m->inject_ms = m->clk.now;
	res->emergency_after = m->b_tip - s->a_prefix;
	rc = put_post(s, &s->a, clock_wall(&m->clk), KZ_PRIO_EMERGENCY,
	    m->em_id, false);
	if (rc < 0)
		return rc;
	kz_hex(m->em_hex, m->em_id, KZ_ID_BYTES);
	if (trace)
		fprintf(stderr, "%10.3f A writes the emergency post (B holds "
		    "%llu posts)\n", m->clk.now / 1000.0,
		    (unsigned long long)res->emergency_after);
	kz_link_feed_grew(kz_rlink_link(m->r[END_A]), s->a.kp.pk);
	return 0;
}

/*
 * Runs the session until stop() says so, the link is silent, or the limit.
 * Returns 0 (*quiet tells whether it fell silent), or -1 (said why).
 */
static int
sim_drive(struct sim *m, bool (*stop)(struct sim *), uint64_t until,
    bool *quiet, struct result *res)
{
	uint8_t buf[KZ_ARQ_MTU_MAX + 64];
	unsigned still = 0;

	*quiet = false;
	for (;;) {
		uint64_t t;
		int e, moved = 0, rc;
		size_t len;

		for (e = 0; e < 2; e++) {
			while (linksim_recv(m->ls, e, m->clk.now, buf, sizeof(buf),
			    &len) == 1) {
				moved++;
				trace_frame("hears", e, buf, len, m->clk.now);
				rc = kz_rlink_input(m->r[e], buf, len, m->clk.now);
				if (rc < 0 && kz_rlink_ended(m->r[e])) {
					warnx("radio: %s's link closed at %.3f s: %s",
					    e == END_A ? "A" : "B",
					    m->clk.now / 1000.0,
					    kz_rlink_reason(m->r[e]));
					return -1;
				}
			}
		}
		if (sim_check_b(m) < 0)
			return -1;
		if (m->emergency && !m->injected && m->b_tip >=
		    m->sc->a_prefix + m->em_at && sim_inject(m, res) < 0)
			return -1;
		for (e = 0; e < 2; e++) {
			while ((rc = kz_rlink_output(m->r[e], m->clk.now, buf,
			    &len)) == 0) {
				moved++;
				trace_frame("sends", e, buf, len, m->clk.now);
				if (tap_frame(&m->tap[e], buf, len) < 0 ||
				    linksim_send(m->ls, e, buf, len,
				    m->clk.now) < 0) {
					warnx("out of memory");
					return -1;
				}
			}
			if (rc < 0) {
				report_err(e == END_A ? "A's radio link" :
				    "B's radio link", rc);
				return -1;
			}
			if (kz_rlink_ended(m->r[e])) {
				warnx("radio: %s's link ended at %.3f s: %s",
				    e == END_A ? "A" : "B", m->clk.now / 1000.0,
				    kz_rlink_reason(m->r[e]));
				return -1;
			}
		}
		if (stop(m))
			return 0;
		t = linksim_next_event(m->ls);
		for (e = 0; e < 2; e++) {
			uint64_t w = kz_rlink_next_event(m->r[e], m->clk.now);

			t = w < t ? w : t;
		}
		if (t == NEVER && !linksim_busy(m->ls)) {
			*quiet = true;
			return 0;
		}
		if (t > until) {
			m->clk.now = until;
			return 0;
		}
		if (t <= m->clk.now) {
			still = moved > 0 ? 0 : still + 1;
			if (still > STILL_MAX) {
				warnx("radio: the clock stands still at %.3f s",
				    m->clk.now / 1000.0);
				return -1;
			}
			continue;
		}
		still = 0;
		m->clk.now = t;
	}
}

static bool
stop_when_done(struct sim *m)
{
	return m->done;
}

static bool
stop_never(struct sim *m)
{
	(void)m;
	return false;
}

/* Bytes on air so far, both ends. */
static uint64_t
air_total(const struct linksim *ls, uint64_t *ab, uint64_t *ba)
{
	struct linksim_stats s0, s1;

	linksim_get_stats(ls, END_A, &s0);
	linksim_get_stats(ls, END_B, &s1);
	if (ab != NULL)
		*ab = s0.bytes_on_air;
	if (ba != NULL)
		*ba = s1.bytes_on_air;
	return s0.bytes_on_air + s1.bytes_on_air;
}

/* Sums a tap's Noise messages [from, to). */
static uint64_t
msgs_sum(const struct tap *t, size_t from, size_t to)
{
	uint64_t n = 0;
	size_t i;

	for (i = from; i < to && i < t->n_msgs; i++)
		n += t->msgs[i];
	return n;
}

static int
cmp_u32_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x > y ? -1 : x < y;
}

/*
 * Fills res's breakdown from the taps and the counters.  The initiator
 * (B) sent handshake messages 1 and 3, A message 2; then each side's
 * Hello and Vector; then A's runs (the largest of the rest) and B's acks.
 */
static int
breakdown(struct sim *m, struct result *res)
{
	struct kz_link_stats la, lb;
	struct kz_arq_stats qa, qb;
	const struct tap *ta = &m->tap[END_A], *tb = &m->tap[END_B];
	uint32_t *rest = NULL;
	size_t n_rest = 0, n_runs, i;
	const size_t hv = 2;		/* Hello and Vector, each side */
	uint64_t runs = 0, other = 0, parsed, stream;
	int e;

	kz_link_get_stats(kz_rlink_link(m->r[END_A]), &la);
	kz_link_get_stats(kz_rlink_link(m->r[END_B]), &lb);
	kz_arq_get_stats(kz_rlink_arq(m->r[END_A]), &qa);
	kz_arq_get_stats(kz_rlink_arq(m->r[END_B]), &qb);
	res->timeouts[END_A] = qa.timeouts;
	res->timeouts[END_B] = qb.timeouts;
	res->handshake_bytes = la.handshake_bytes;
	res->compress = la.compress;
	res->dict_id = la.dict_id;
	res->runs_out = la.sync.runs_out;
	res->urgent_out = la.sync.urgent_out;
	res->sync_acks_out = lb.sync.acks_out;
	res->asks_out[END_A] = la.sync.asks_out;
	res->asks_out[END_B] = lb.sync.asks_out;
	res->sync_frames[END_A] = la.sync.frames_out;
	res->sync_frames[END_B] = lb.sync.frames_out;
	res->stream_out[END_A] = la.stream_out;
	res->stream_out[END_B] = lb.stream_out;
	res->packed_out[END_A] = la.packed_out;
	res->packed_out[END_B] = lb.packed_out;
	for (e = 0; e < 2; e++) {
		const struct tap *t = &m->tap[e];
		struct linksim_stats st;

		res->frames[e] = t->frames;
		res->data_frames[e] = t->data_frames;
		res->acks[e] = t->acks;
		res->retx[e] = t->retx_frames;
		if (m->ls != NULL) {
			linksim_get_stats(m->ls, e, &st);
			res->transmissions[e] = st.transmissions;
			res->air_s[e] = st.air_us / 1e6;
			res->lost[e] = st.lost;
			res->collided[e] = st.collided;
		}
		res->b_ax25 += (t->data_frames + t->acks) * AIR_FRAME_OVERHEAD;
		res->b_arq_headers += t->data_frames * KZ_ARQ_OVERHEAD;
		res->b_arq_acks += t->acks * KZ_ARQ_OVERHEAD;
		res->b_retx += t->payload_retx + t->retx_frames *
		    (KZ_ARQ_OVERHEAD + AIR_FRAME_OVERHEAD);
		if (t->undecodable > 0 || t->seq_gaps > 0)
			warnx("radio: tap of %s: %llu undecodable frames, %llu "
			    "seq gaps", e == END_A ? "A" : "B",
			    (unsigned long long)t->undecodable,
			    (unsigned long long)t->seq_gaps);
	}
	if (tb->n_msgs < 2 + hv || ta->n_msgs < 1 + hv) {
		warnx("radio: too few Noise messages to attribute (%zu, %zu)",
		    ta->n_msgs, tb->n_msgs);
		return -1;
	}
	res->transport_msgs[END_A] = ta->n_msgs - 1;
	res->transport_msgs[END_B] = tb->n_msgs - 2;
	res->b_handshake = msgs_sum(tb, 0, 2) + msgs_sum(ta, 0, 1);
	res->b_noise = (res->transport_msgs[END_A] + res->transport_msgs[END_B]) *
	    (NOISE_LEN + NOISE_TAG);
	res->b_hello_vector = msgs_sum(tb, 2, 2 + hv) + msgs_sum(ta, 1, 1 + hv) -
	    2 * hv * (NOISE_LEN + NOISE_TAG);
	res->b_b_acks = msgs_sum(tb, 2 + hv, tb->n_msgs) -
	    (tb->n_msgs - 2 - hv) * (NOISE_LEN + NOISE_TAG);
	n_rest = ta->n_msgs - 1 - hv;
	if (n_rest > 0) {
		if ((rest = malloc(n_rest * sizeof(*rest))) == NULL) {
			warnx("out of memory");
			return -1;
		}
		memcpy(rest, ta->msgs + 1 + hv, n_rest * sizeof(*rest));
		qsort(rest, n_rest, sizeof(*rest), cmp_u32_desc);
	}
	n_runs = res->runs_out + res->urgent_out;
	for (i = 0; i < n_rest; i++) {
		uint64_t body = rest[i] - (NOISE_LEN + NOISE_TAG);

		if (i < n_runs)
			runs += body;
		else
			other += body;
	}
	free(rest);
	res->b_runs = runs;
	res->b_a_other = other;
	/* A message cut off by the end of the session. */
	stream = ta->payload_new + tb->payload_new;
	parsed = msgs_sum(ta, 0, ta->n_msgs) + msgs_sum(tb, 0, tb->n_msgs);
	res->b_unparsed = stream - parsed;
	return 0;
}

static void
sim_free(struct sim *m)
{
	kz_rlink_free(m->r[END_A]);
	kz_rlink_free(m->r[END_B]);
	m->r[END_A] = m->r[END_B] = NULL;
	linksim_free(m->ls);
	m->ls = NULL;
	tap_free(&m->tap[END_A]);
	tap_free(&m->tap[END_B]);
}

static bool
stop_when_seen(struct sim *m)
{
	return m->seen;
}

/* What one simulated session does. */
struct session {
	double loss;
	uint64_t em_at;			/* emergency post after this many
					   posts reached B (0: none) */
	bool em_only;			/* stop once the emergency post is in
					   B's workspace */
	bool reconnect;			/* then an in-sync reconnect */
};

/*
 * One session over the simulated air: a fresh scene for seed, B syncs
 * from A (with an emergency post if asked) until B holds everything and
 * the link falls silent; then, if asked, an in-sync reconnect.  The two
 * workspaces must then be equal.
 */
static int
sim_session(uint64_t seed, uint64_t messages, const struct session *ss,
    struct result *res, struct scene *keep_text)
{
	struct scene sc;
	struct sim m;
	struct linksim_params lp;
	uint8_t da[32], db[32];
	bool quiet;
	int rc, status = -1;

	memset(res, 0, sizeof(*res));
	memset(&m, 0, sizeof(m));
	m.sc = &sc;
	m.clk.wall0 = SIM_T0;
	m.rng = seed * 0x9e3779b97f4a7c15ULL + ss->em_at * 7919 +
	    (uint64_t)(ss->loss * 1000);
	m.emergency = ss->em_at > 0;
	m.em_at = ss->em_at;
	if (scene_build(&sc, seed, messages, &m.clk, SIM_T0) < 0)
		goto out;
	m.target_tip = sc.a_prefix + messages + (m.emergency ? 1 : 0);
	air_params(&lp, ss->loss);
	if (linksim_new(&m.ls, &lp, rng_next(&m.rng)) < 0) {
		warnx("out of memory");
		goto out;
	}
	if (sim_links(&m) < 0)
		goto out;
	if (sim_drive(&m, ss->em_only ? stop_when_seen : stop_when_done,
	    SIM_LIMIT_MS, &quiet, res) < 0)
		goto out;
	if (m.emergency && m.seen)
		res->emergency_latency_s = (m.seen_ms - m.inject_ms) / 1000.0;
	if (ss->em_only) {
		if (!m.seen) {
			warnx("radio: seed %llu: the emergency post never "
			    "reached B", (unsigned long long)seed);
			goto out;
		}
		res->ok = true;
		status = 0;
		goto out;
	}
	if (!m.done) {
		warnx("radio: seed %llu, loss %.2f: B holds %llu of %llu posts "
		    "after %.0f s%s", (unsigned long long)seed, ss->loss,
		    (unsigned long long)(m.b_tip - sc.a_prefix),
		    (unsigned long long)messages, m.clk.now / 1000.0,
		    quiet ? " and the link is silent" : "");
		goto out;
	}
	res->air_bytes_done = air_total(m.ls, NULL, NULL);
	res->seconds_total = m.done_ms / 1000.0;
	res->handshake_s = m.open_ms / 1000.0;
	res->first_entry_s = m.first_ms / 1000.0;
	/* Until the link falls silent (the last acks). */
	if (sim_drive(&m, stop_never, m.clk.now + SIM_QUIET_MS, &quiet,
	    res) < 0)
		goto out;
	res->quiet = quiet;
	res->seconds_quiet = m.clk.now / 1000.0;
	res->air_bytes = air_total(m.ls, &res->air_ab, &res->air_ba);
	if (breakdown(&m, res) < 0)
		goto out;
	if (ss->reconnect) {
		uint64_t before = res->air_bytes;

		/* The same air, new sessions: a new handshake, equal digests. */
		kz_rlink_free(m.r[END_A]);
		kz_rlink_free(m.r[END_B]);
		m.r[END_A] = m.r[END_B] = NULL;
		m.clk.now += 60000;
		if (sim_links(&m) < 0 ||
		    sim_drive(&m, stop_never, m.clk.now + SIM_QUIET_MS, &quiet,
		    res) < 0)
			goto out;
		if (!quiet || kz_link_sync_state(kz_rlink_link(m.r[END_B])) !=
		    KZ_SYNC_LIVE) {
			warnx("radio: the in-sync reconnect did not settle");
			goto out;
		}
		res->insync_bytes = air_total(m.ls, NULL, NULL) - before;
	}
	/* Both nodes hold the same entries: the same workspace. */
	if ((rc = kz_views_digest(sc.a.st, da)) < 0 ||
	    (rc = kz_views_digest(sc.b.st, db)) < 0) {
		report_err("digest the workspaces", rc);
		goto out;
	}
	if (memcmp(da, db, sizeof(da)) != 0) {
		warnx("radio: seed %llu: A's and B's workspaces differ after "
		    "the sync", (unsigned long long)seed);
		goto out;
	}
	if (keep_text != NULL) {
		keep_text->text_bytes = sc.text_bytes;
		keep_text->text_chars = sc.text_chars;
		keep_text->op_bytes = sc.op_bytes;
	}
	res->ok = true;
	status = 0;
out:
	sim_free(&m);
	scene_free(&sc);
	return status;
}

/* ------------------------------------------------------------ figures */

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* What one seed gave: its sessions. */
struct seed_result {
	uint64_t seed;
	struct scene text;		/* the backlog's text and op bytes */
	struct result clean, lossy, emerg, emerg10;
	double sweep[EM_SWEEP];		/* emergency latency, written after
					   (i + 1) / (EM_SWEEP + 1) of the
					   backlog reached B */
	double air_per_msg, air_over_text, goodput0, goodput10;
};

static double
goodput(uint64_t text_bytes, double secs)
{
	return secs > 0 ? (double)text_bytes / secs /
	    (RADIO_BIT_RATE / 8.0) : 0;
}

#define SETIN(o, k, val) do {							\
	if (json_object_set_new((o), (k), (val)) < 0)				\
		goto nomem;							\
} while (0)
#define INT(x) json_integer((json_int_t)(x))
#define REAL(x) json_real((double)(x))

/* The bytes of one session, by category (they add up to "total"). */
static json_t *
breakdown_json(const struct result *r, uint64_t messages)
{
	json_t *o = json_object();
	uint64_t sum;

	if (o == NULL)
		return NULL;
	sum = r->b_ax25 + r->b_arq_headers + r->b_arq_acks + r->b_retx +
	    r->b_handshake + r->b_noise + r->b_hello_vector + r->b_runs +
	    r->b_a_other + r->b_b_acks + r->b_unparsed;
	SETIN(o, "total", INT(r->air_bytes));
	SETIN(o, "noise_handshake", INT(r->b_handshake));
	SETIN(o, "sync_hello_vector", INT(r->b_hello_vector));
	SETIN(o, "sync_runs", INT(r->b_runs));
	SETIN(o, "sync_runs_per_msg", REAL((double)r->b_runs / (double)messages));
	SETIN(o, "sync_acks_pings_b", INT(r->b_b_acks));
	SETIN(o, "sync_acks_pings_a", INT(r->b_a_other));
	SETIN(o, "noise_framing", INT(r->b_noise));
	SETIN(o, "arq_data_headers", INT(r->b_arq_headers));
	SETIN(o, "arq_acks", INT(r->b_arq_acks));
	SETIN(o, "retransmissions", INT(r->b_retx));
	SETIN(o, "ax25_overhead", INT(r->b_ax25));
	SETIN(o, "unparsed", INT(r->b_unparsed));
	SETIN(o, "categories_sum_equals_total", json_boolean(sum == r->air_bytes));
	/* One sealed Noise message per sync frame (send_chunk 1): the
	 * attribution by order and size is then exact in number. */
	SETIN(o, "one_noise_message_per_sync_frame", json_boolean(
	    r->transport_msgs[END_A] == r->sync_frames[END_A] &&
	    r->transport_msgs[END_B] == r->sync_frames[END_B]));
	SETIN(o, "a_to_b", INT(r->air_ab));
	SETIN(o, "b_to_a", INT(r->air_ba));
	SETIN(o, "data_frames_a", INT(r->data_frames[END_A]));
	SETIN(o, "data_frames_b", INT(r->data_frames[END_B]));
	SETIN(o, "ack_frames_a", INT(r->acks[END_A]));
	SETIN(o, "ack_frames_b", INT(r->acks[END_B]));
	SETIN(o, "retransmitted_frames", INT(r->retx[END_A] + r->retx[END_B]));
	SETIN(o, "timeouts", INT(r->timeouts[END_A] + r->timeouts[END_B]));
	SETIN(o, "frames_lost", INT(r->lost[END_A] + r->lost[END_B]));
	SETIN(o, "frames_collided", INT(r->collided[END_A] + r->collided[END_B]));
	SETIN(o, "noise_messages_a", INT(r->transport_msgs[END_A]));
	SETIN(o, "noise_messages_b", INT(r->transport_msgs[END_B]));
	SETIN(o, "sync_frames_a", INT(r->sync_frames[END_A]));
	SETIN(o, "sync_frames_b", INT(r->sync_frames[END_B]));
	SETIN(o, "sync_runs_out", INT(r->runs_out));
	SETIN(o, "sync_urgent_out", INT(r->urgent_out));
	SETIN(o, "sync_acks_out_b", INT(r->sync_acks_out));
	SETIN(o, "sync_pings_out_a", INT(r->asks_out[END_A]));
	SETIN(o, "sync_pings_out_b", INT(r->asks_out[END_B]));
	SETIN(o, "sync_stream_a", INT(r->stream_out[END_A]));
	SETIN(o, "sync_packed_a", INT(r->packed_out[END_A]));
	SETIN(o, "sync_packed_over_stream_a", REAL(r->stream_out[END_A] > 0 ?
	    (double)r->packed_out[END_A] / (double)r->stream_out[END_A] : 0));
	return o;
nomem:
	json_decref(o);
	return NULL;
}

/* Where one session's seconds went. */
static json_t *
seconds_json(const struct result *r)
{
	json_t *o = json_object();
	uint64_t tx = r->transmissions[END_A] + r->transmissions[END_B];
	double keyed = r->air_s[END_A] + r->air_s[END_B];

	if (o == NULL)
		return NULL;
	SETIN(o, "handshake_done_s", REAL(r->handshake_s));
	SETIN(o, "first_post_s", REAL(r->first_entry_s));
	SETIN(o, "all_posts_s", REAL(r->seconds_total));
	SETIN(o, "silent_s", REAL(r->seconds_quiet));
	SETIN(o, "keyed_a_s", REAL(r->air_s[END_A]));
	SETIN(o, "keyed_b_s", REAL(r->air_s[END_B]));
	SETIN(o, "transmissions_a", INT(r->transmissions[END_A]));
	SETIN(o, "transmissions_b", INT(r->transmissions[END_B]));
	SETIN(o, "txdelay_txtail_s", REAL(tx * (AIR_TXDELAY_MS + AIR_TXTAIL_MS) /
	    1000.0));
	SETIN(o, "frames_on_air_s", REAL(r->air_bytes / (double)AIR_BYTES_PER_S));
	SETIN(o, "nobody_keyed_s", REAL(r->seconds_quiet - keyed));
	return o;
nomem:
	json_decref(o);
	return NULL;
}

static int
run_seed(struct seed_result *sr, uint64_t seed, uint64_t messages)
{
	struct session clean = { 0, 0, false, true };
	struct session lossy = { LOSSY, 0, false, false };
	struct session em = { 0, messages / 3, false, false };
	struct session em10 = { LOSSY, messages / 3, true, false };
	struct result r;
	size_t k;

	memset(sr, 0, sizeof(*sr));
	sr->seed = seed;
	if (sim_session(seed, messages, &clean, &sr->clean, &sr->text) < 0 ||
	    sim_session(seed, messages, &lossy, &sr->lossy, NULL) < 0 ||
	    sim_session(seed, messages, &em, &sr->emerg, NULL) < 0 ||
	    sim_session(seed, messages, &em10, &sr->emerg10, NULL) < 0)
		goto fail;
	for (k = 0; k < EM_SWEEP; k++) {
		struct session sw = { 0, 0, true, false };

		sw.em_at = messages * (k + 1) / (EM_SWEEP + 1);
		if (sw.em_at == 0)
			sw.em_at = 1;
		if (sim_session(seed, messages, &sw, &r, NULL) < 0)
			goto fail;
		sr->sweep[k] = r.emergency_latency_s;
	}
	sr->air_per_msg = (double)sr->clean.air_bytes / (double)messages;
	sr->air_over_text = (double)sr->clean.air_bytes /
	    (double)sr->text.text_bytes;
	sr->goodput0 = goodput(sr->text.text_bytes, sr->clean.seconds_total);
	sr->goodput10 = goodput(sr->text.text_bytes, sr->lossy.seconds_total);
	fprintf(stderr, "%s: radio: seed %llu: %.1f bytes on air a post "
	    "(%.3f x the text), goodput %.3f / %.3f, emergency %.1f s, "
	    "%.0f s / %.0f s\n", progname, (unsigned long long)seed,
	    sr->air_per_msg, sr->air_over_text, sr->goodput0, sr->goodput10,
	    sr->emerg.emergency_latency_s, sr->clean.seconds_total,
	    sr->lossy.seconds_total);
	return 0;
fail:
	warnx("radio: seed %llu failed", (unsigned long long)seed);
	return -1;
}

static json_t *
link_params_json(void)
{
	json_t *o = json_object();
	struct kz_rlink_opts ro;

	if (o == NULL)
		return NULL;
	kz_rlink_opts_radio(&ro, RADIO_BIT_RATE);
	SETIN(o, "bit_rate", INT(RADIO_BIT_RATE));
	SETIN(o, "raw_bytes_per_s", REAL(RADIO_BIT_RATE / 8.0));
	SETIN(o, "air_bytes_per_s", INT(AIR_BYTES_PER_S));
	SETIN(o, "frame_overhead", INT(AIR_FRAME_OVERHEAD));
	SETIN(o, "txdelay_ms", INT(AIR_TXDELAY_MS));
	SETIN(o, "txtail_ms", INT(AIR_TXTAIL_MS));
	SETIN(o, "latency_ms", INT(AIR_LATENCY_MS));
	SETIN(o, "half_duplex", json_true());
	SETIN(o, "csma", json_true());
	SETIN(o, "slot_ms", INT(AIR_SLOT_MS));
	SETIN(o, "dcd_ms", INT(AIR_DCD_MS));
	SETIN(o, "persist", INT(AIR_PERSIST));
	SETIN(o, "lossy_loss", REAL(LOSSY));
	SETIN(o, "arq_mtu", INT(ro.arq.mtu));
	SETIN(o, "arq_window", INT(ro.arq.window));
	SETIN(o, "arq_burst", INT(ro.arq.burst));
	SETIN(o, "arq_bytes_per_s", INT(ro.arq.bytes_per_s));
	SETIN(o, "arq_tx_overhead_ms", INT(ro.arq.tx_overhead_ms));
	SETIN(o, "rlink_lead", INT(ro.lead != 0 ? ro.lead :
	    (ro.arq.mtu - KZ_ARQ_OVERHEAD) * (ro.arq.burst ? ro.arq.burst : 1)));
	SETIN(o, "sync_run_entries", INT(ro.link.sync.run_entries));
	SETIN(o, "sync_run_bytes", INT(ro.link.sync.run_bytes));
	SETIN(o, "sync_window", INT(ro.link.sync.window));
	SETIN(o, "zstd_level", INT(ro.link.level));
	return o;
nomem:
	json_decref(o);
	return NULL;
}

/* The simulated line: medians over the seeds. */
static int
print_sim(const struct seed_result *sr, size_t runs, uint64_t messages,
    double cpu_s)
{
	json_t *js = json_object(), *seeds = json_array(), *per = json_array(),
	    *tg = json_object(), *sub = NULL;
	double v[RADIO_RUNS_MAX], air, ratio, g0, g10, em, em_max = 0;
	const struct seed_result *mid = &sr[0], *mid10 = &sr[0];
	size_t i;
	int rc = -1;

	if (js == NULL || seeds == NULL || per == NULL || tg == NULL)
		goto nomem;
	for (i = 0; i < runs; i++)
		v[i] = sr[i].air_per_msg;
	air = median(v, runs);
	for (i = 0; i < runs; i++)
		if (sr[i].air_per_msg == v[(runs - 1) / 2])
			mid = &sr[i];
	for (i = 0; i < runs; i++)
		v[i] = sr[i].air_over_text;
	ratio = median(v, runs);
	for (i = 0; i < runs; i++)
		v[i] = sr[i].goodput0;
	g0 = median(v, runs);
	for (i = 0; i < runs; i++)
		v[i] = sr[i].goodput10;
	g10 = median(v, runs);
	for (i = 0; i < runs; i++)
		if (sr[i].goodput10 == v[(runs - 1) / 2])
			mid10 = &sr[i];
	for (i = 0; i < runs; i++) {
		v[i] = sr[i].emerg.emergency_latency_s;
		if (v[i] > em_max)
			em_max = v[i];
	}
	em = median(v, runs);

#define SET(k, val) SETIN(js, (k), (val))
#define MED(k, expr) do {							\
	for (i = 0; i < runs; i++)						\
		v[i] = (double)(expr);						\
	SET((k), REAL(median(v, runs)));					\
} while (0)
	SET("bench", json_string("radio"));
	SET("link", json_string("sim"));
	SET("messages", INT(messages));
	SET("runs", INT(runs));
	for (i = 0; i < runs; i++)
		if (json_array_append_new(seeds, INT(sr[i].seed)) < 0)
			goto nomem;
	SET("seeds", seeds);
	seeds = NULL;
	MED("text_bytes_per_msg", (double)sr[i].text.text_bytes / messages);
	MED("text_chars_per_msg", (double)sr[i].text.text_chars / messages);
	MED("op_bytes_per_msg", (double)sr[i].text.op_bytes / messages);
	SET("bytes_on_air_per_msg", REAL(air));
	SET("air_over_text", REAL(ratio));
	SET("goodput_ratio_0loss", REAL(g0));
	SET("goodput_ratio_10loss", REAL(g10));
	SET("emergency_latency_s", REAL(em));
	SET("emergency_latency_max_s", REAL(em_max));
	MED("emergency_after_msgs", sr[i].emerg.emergency_after);
	MED("emergency_latency_s_10loss", sr[i].emerg10.emergency_latency_s);
	{
		double sw[RADIO_RUNS_MAX * EM_SWEEP];
		size_t n = 0, k;

		for (i = 0; i < runs; i++)
			for (k = 0; k < EM_SWEEP; k++)
				sw[n++] = sr[i].sweep[k];
		qsort(sw, n, sizeof(sw[0]), cmp_double);
		SET("emergency_sweep_posts", INT(n));
		SET("emergency_sweep_p50_s", REAL(percentile(sw, n, 500)));
		SET("emergency_sweep_p90_s", REAL(percentile(sw, n, 900)));
		SET("emergency_sweep_max_s", REAL(sw[n - 1]));
	}
	MED("handshake_bytes", sr[i].clean.handshake_bytes);
	MED("seconds_total", sr[i].clean.seconds_total);
	MED("seconds_total_10loss", sr[i].lossy.seconds_total);
	MED("seconds_until_silent", sr[i].clean.seconds_quiet);
	MED("bytes_on_air_per_msg_10loss",
	    (double)sr[i].lossy.air_bytes / messages);
	MED("insync_reconnect_bytes_on_air", sr[i].clean.insync_bytes);
	SET("compression", json_string(mid->clean.compress == KZ_COMPRESS_DICT ?
	    "dict" : mid->clean.compress == KZ_COMPRESS_ZSTD ? "zstd" : "none"));
	if ((sub = link_params_json()) == NULL)
		goto nomem;
	SET("link_params", sub);
	/* The breakdowns are those of the median seeds. */
	SET("breakdown_seed_0loss", INT(mid->seed));
	SET("breakdown_seed_10loss", INT(mid10->seed));
	if ((sub = breakdown_json(&mid->clean, messages)) == NULL)
		goto nomem;
	SET("breakdown_bytes_0loss", sub);
	if ((sub = seconds_json(&mid->clean)) == NULL)
		goto nomem;
	SET("breakdown_seconds_0loss", sub);
	if ((sub = breakdown_json(&mid10->lossy, messages)) == NULL)
		goto nomem;
	SET("breakdown_bytes_10loss", sub);
	if ((sub = seconds_json(&mid10->lossy)) == NULL)
		goto nomem;
	SET("breakdown_seconds_10loss", sub);
	SETIN(tg, "air_over_text_le_0_6", json_boolean(ratio <=
	    TARGET_AIR_OVER_TEXT));
	SETIN(tg, "goodput_0loss_ge_0_6", json_boolean(g0 >= TARGET_GOODPUT_0));
	SETIN(tg, "goodput_10loss_ge_0_4", json_boolean(g10 >=
	    TARGET_GOODPUT_10));
	SETIN(tg, "emergency_le_10s", json_boolean(em <= TARGET_EMERGENCY_S));
	SET("targets_met", tg);
	tg = NULL;
	for (i = 0; i < runs; i++) {
		const struct seed_result *s = &sr[i];
		json_t *o = json_object();

		if (o == NULL || json_array_append_new(per, o) < 0)
			goto nomem;
		SETIN(o, "seed", INT(s->seed));
		SETIN(o, "text_bytes", INT(s->text.text_bytes));
		SETIN(o, "bytes_on_air", INT(s->clean.air_bytes));
		SETIN(o, "bytes_on_air_when_done", INT(s->clean.air_bytes_done));
		SETIN(o, "bytes_on_air_per_msg", REAL(s->air_per_msg));
		SETIN(o, "air_over_text", REAL(s->air_over_text));
		SETIN(o, "goodput_ratio_0loss", REAL(s->goodput0));
		SETIN(o, "goodput_ratio_10loss", REAL(s->goodput10));
		SETIN(o, "seconds_total", REAL(s->clean.seconds_total));
		SETIN(o, "seconds_total_10loss", REAL(s->lossy.seconds_total));
		SETIN(o, "retransmitted_frames_10loss",
		    INT(s->lossy.retx[END_A] + s->lossy.retx[END_B]));
		SETIN(o, "emergency_latency_s", REAL(s->emerg.emergency_latency_s));
		SETIN(o, "emergency_after_msgs", INT(s->emerg.emergency_after));
		SETIN(o, "emergency_latency_s_10loss",
		    REAL(s->emerg10.emergency_latency_s));
		{
			json_t *a = json_array();
			size_t k;

			if (a == NULL)
				goto nomem;
			SETIN(o, "emergency_sweep_s", a);
			for (k = 0; k < EM_SWEEP; k++)
				if (json_array_append_new(a,
				    REAL(s->sweep[k])) < 0)
					goto nomem;
		}
		SETIN(o, "insync_reconnect_bytes_on_air", INT(s->clean.insync_bytes));
	}
	SET("per_seed", per);
	per = NULL;
	SET("cpu_s", REAL(cpu_s));
#undef MED
#undef SET
	rc = print_json_line(js);
	goto out;
nomem:
	warnx("out of memory");
out:
	json_decref(js);
	json_decref(seeds);
	json_decref(per);
	json_decref(tg);
	return rc;
}

/* ------------------------------------------------------------ Direwolf */

/*
 * The same scene over two real Direwolf stations: A's kz_rlink on one
 * kz_radio port, B's on the other, one libuv loop, the clock uv_now.
 *
 *   WAIT_UP ──both ports up (on_state)──▶ SETTLE ──DW_SETTLE_MS (on_guard:
 *   dw_start)──▶ RUN ──B holds every post (dw_step)──▶ QUIET ──silent or
 *   DW_QUIET_MS (dw_step, on_guard)──▶ CLOSING (dw_finish) ──both ports and
 *   timers closed──▶ loop ends
 */
enum dw_phase { DW_WAIT_UP, DW_SETTLE, DW_RUN, DW_QUIET, DW_CLOSING };

struct dw {
	uv_loop_t loop;
	uv_timer_t wake;		/* the rlinks' next event */
	uv_timer_t guard;		/* settle, deadlines */
	struct kz_radio *port[2];
	struct dw *self[2];		/* each port's callback argument */
	bool up[2];
	enum dw_phase phase;
	struct sim m;			/* the scene, the rlinks, the taps */
	uint64_t t0;			/* uv_now when the session started */
	uint64_t limit_ms;		/* the session's deadline (after t0) */
	uint64_t refused[2];		/* frames the port would not queue */
	unsigned still;
	bool failed, finished;
	struct result res;
	struct kz_radio_stats rs[2];
};

static void dw_finish(struct dw *d, bool failed);
static void on_dw_wake(uv_timer_t *t);
static void on_dw_guard(uv_timer_t *t);

static void
dw_now(struct dw *d)
{
	uv_update_time(&d->loop);
	if (d->phase >= DW_RUN)
		d->m.clk.now = uv_now(&d->loop) - d->t0;
}

/* Hands down what each end has now, then sets the wake-up timer. */
static void
dw_step(struct dw *d)
{
	struct sim *m = &d->m;
	uint8_t buf[KZ_ARQ_MTU_MAX];
	uint64_t t = NEVER;
	size_t len;
	int e, rc, sent = 0;

	if (d->phase != DW_RUN && d->phase != DW_QUIET)
		return;
	if (sim_check_b(m) < 0) {
		dw_finish(d, true);
		return;
	}
	if (m->emergency && !m->injected && m->b_tip >= m->sc->a_prefix +
	    m->em_at && sim_inject(m, &d->res) < 0) {
		dw_finish(d, true);
		return;
	}
	for (e = 0; e < 2; e++) {
		while ((rc = kz_rlink_output(m->r[e], m->clk.now, buf,
		    &len)) == 0) {
			sent++;
			if (tap_frame(&m->tap[e], buf, len) < 0) {
				warnx("out of memory");
				dw_finish(d, true);
				return;
			}
			if (kz_radio_send(d->port[e], buf, len) < 0)
				d->refused[e]++;	/* the ARQ sends it again */
		}
		if (rc < 0 || kz_rlink_ended(m->r[e])) {
			warnx("radio: %s's link ended at %.3f s: %s",
			    e == END_A ? "A" : "B", m->clk.now / 1000.0,
			    kz_rlink_reason(m->r[e]));
			dw_finish(d, true);
			return;
		}
	}
	if (d->phase == DW_RUN && m->done) {
		d->phase = DW_QUIET;
		m->done_ms = m->clk.now;
		fprintf(stderr, "%s: radio: direwolf: B holds every post after "
		    "%.1f s\n", progname, m->clk.now / 1000.0);
		uv_timer_start(&d->guard, on_dw_guard, DW_QUIET_MS, 0);
	}
	for (e = 0; e < 2; e++) {
		uint64_t w = kz_rlink_next_event(m->r[e], m->clk.now);

		t = w < t ? w : t;
	}
	if (t == NEVER) {
		uv_timer_stop(&d->wake);
		if (d->phase == DW_QUIET)
			dw_finish(d, false);
		return;
	}
	if (t <= m->clk.now) {
		/* "Now" again without a frame: give the loop a millisecond. */
		d->still = sent > 0 ? 0 : d->still + 1;
		uv_timer_start(&d->wake, on_dw_wake,
		    d->still > 3 ? 1 : 0, 0);
		return;
	}
	d->still = 0;
	uv_timer_start(&d->wake, on_dw_wake, t - m->clk.now, 0);
}

static void
on_dw_wake(uv_timer_t *t)
{
	struct dw *d = t->data;

	dw_now(d);
	dw_step(d);
}

/* Both ports up and Direwolf serving them: the session starts. */
static void
dw_start(struct dw *d)
{
	d->phase = DW_RUN;
	d->t0 = uv_now(&d->loop);
	d->m.clk.now = 0;
	/* The store clocks: the real wall clock from here on. */
	d->m.clk.wall0 = wall_ms();
	if (sim_links(&d->m) < 0) {
		dw_finish(d, true);
		return;
	}
	fprintf(stderr, "%s: radio: direwolf: B dials A\n", progname);
	uv_timer_start(&d->guard, on_dw_guard, d->limit_ms, 0);
	dw_step(d);
}

static void
on_dw_guard(uv_timer_t *t)
{
	struct dw *d = t->data;

	dw_now(d);
	switch (d->phase) {
	case DW_WAIT_UP:
		warnx("radio: direwolf: the KISS ports did not come up in "
		    "%d s (is the rig up?)", DW_UP_TIMEOUT_MS / 1000);
		dw_finish(d, true);
		break;
	case DW_SETTLE:
		dw_start(d);
		break;
	case DW_RUN:
		warnx("radio: direwolf: B holds %llu of %llu posts after %.0f s",
		    (unsigned long long)(d->m.b_tip - d->m.sc->a_prefix),
		    (unsigned long long)d->m.sc->messages,
		    d->m.clk.now / 1000.0);
		dw_finish(d, true);
		break;
	case DW_QUIET:
		dw_finish(d, false);	/* done, but not silent */
		break;
	default:
		break;
	}
}

static void
on_dw_frame(void *arg, const uint8_t *payload, size_t len)
{
	struct dw **pd = arg;
	struct dw *d = pd[0];
	int e = pd == &d->self[END_A] ? END_A : END_B;
	int rc;

	if (d->phase != DW_RUN && d->phase != DW_QUIET)
		return;
	dw_now(d);
	rc = kz_rlink_input(d->m.r[e], payload, len, d->m.clk.now);
	if (rc < 0 && kz_rlink_ended(d->m.r[e])) {
		warnx("radio: %s's link closed at %.3f s: %s",
		    e == END_A ? "A" : "B", d->m.clk.now / 1000.0,
		    kz_rlink_reason(d->m.r[e]));
		dw_finish(d, true);
		return;
	}
	dw_step(d);
}

static void
on_dw_state(void *arg, bool up, const char *why)
{
	struct dw **pd = arg;
	struct dw *d = pd[0];
	int e = pd == &d->self[END_A] ? END_A : END_B;

	d->up[e] = up;
	if (!up) {
		warnx("radio: direwolf: port %s: %s", e == END_A ? "A" : "B",
		    why != NULL ? why : "down");
		return;
	}
	if (d->phase == DW_WAIT_UP && d->up[END_A] && d->up[END_B]) {
		d->phase = DW_SETTLE;
		uv_timer_start(&d->guard, on_dw_guard, DW_SETTLE_MS, 0);
	}
}

static void
on_dw_closed(uv_handle_t *h)
{
	(void)h;
}

/* Takes the figures (unless failed), then closes every handle. */
static void
dw_finish(struct dw *d, bool failed)
{
	struct result *r = &d->res;
	struct sim *m = &d->m;
	int e;

	if (d->finished)
		return;
	d->finished = true;
	d->failed = failed;
	if (!failed) {
		r->seconds_total = m->done_ms / 1000.0;
		r->seconds_quiet = m->clk.now / 1000.0;
		r->quiet = d->phase == DW_QUIET &&
		    kz_rlink_next_event(m->r[END_A], m->clk.now) == NEVER &&
		    kz_rlink_next_event(m->r[END_B], m->clk.now) == NEVER;
		r->handshake_s = m->open_ms / 1000.0;
		r->first_entry_s = m->first_ms / 1000.0;
		if (m->emergency && m->seen)
			r->emergency_latency_s = (m->seen_ms - m->inject_ms) /
			    1000.0;
		r->air_ab = m->tap[END_A].bytes + m->tap[END_A].frames *
		    AIR_FRAME_OVERHEAD;
		r->air_ba = m->tap[END_B].bytes + m->tap[END_B].frames *
		    AIR_FRAME_OVERHEAD;
		r->air_bytes = r->air_ab + r->air_ba;
		if (breakdown(m, r) < 0)
			d->failed = true;
		else
			r->ok = true;
	}
	d->phase = DW_CLOSING;
	uv_timer_stop(&d->wake);
	uv_timer_stop(&d->guard);
	uv_close((uv_handle_t *)&d->wake, on_dw_closed);
	uv_close((uv_handle_t *)&d->guard, on_dw_closed);
	for (e = 0; e < 2; e++) {
		if (d->port[e] == NULL)
			continue;
		kz_radio_get_stats(d->port[e], &d->rs[e]);
		kz_radio_close(d->port[e], NULL);
		d->port[e] = NULL;
	}
}

static int
dw_open_port(struct dw *d, int e, const char *device)
{
	struct kz_radio_opts o;
	int rc;

	kz_radio_opts_default(&o);
	o.device = device;
	o.log = &bench_log;
	snprintf(o.mycall, sizeof(o.mycall), "%s", e == END_A ? "JA1KZA" :
	    "JA1KZB");
	snprintf(o.peercall, sizeof(o.peercall), "%s", e == END_A ? "JA1KZB" :
	    "JA1KZA");
	d->self[e] = d;
	rc = kz_radio_open(&d->loop, &d->port[e], &o, on_dw_frame, on_dw_state,
	    &d->self[e]);
	if (rc < 0)
		report_err(e == END_A ? "open A's KISS port" :
		    "open B's KISS port", rc);
	return rc;
}

/* The Direwolf line. */
static int
print_dw(const struct dw *d, const struct scene *text, const char *dev_a,
    const char *dev_b, uint64_t timeout_s)
{
	const struct result *r = &d->res;
	uint64_t messages = d->m.sc->messages;
	/* The emergency post crossed too: it counts as a post. */
	uint64_t posts = messages + 1;
	uint64_t text_bytes = text->text_bytes + text->em_text_bytes;
	double ratio = (double)r->air_bytes / (double)text_bytes;
	double g0 = goodput(text_bytes, r->seconds_total);
	json_t *js = json_object(), *tg = json_object(), *sub = NULL;
	struct kz_radio_opts ro;
	int rc = -1;

	kz_radio_opts_default(&ro);
	if (js == NULL || tg == NULL)
		goto nomem;
#define SET(k, val) SETIN(js, (k), (val))
	SET("bench", json_string("radio"));
	SET("link", json_string("direwolf"));
	SET("messages", INT(messages));
	SET("posts_crossed", INT(posts));
	SET("seed", INT(d->m.sc->seed));
	SET("kiss_a", json_string(dev_a));
	SET("kiss_b", json_string(dev_b));
	SET("text_bytes_per_msg", REAL((double)text_bytes / posts));
	SET("text_chars_per_msg", REAL((double)text->text_chars / messages));
	SET("op_bytes_per_msg", REAL((double)text->op_bytes / messages));
	SET("bytes_on_air_per_msg", REAL((double)r->air_bytes / posts));
	SET("air_over_text", REAL(ratio));
	SET("goodput_ratio_0loss", REAL(g0));
	SET("emergency_latency_s", REAL(r->emergency_latency_s));
	SET("emergency_after_msgs", INT(r->emergency_after));
	SET("handshake_bytes", INT(r->handshake_bytes));
	SET("seconds_total", REAL(r->seconds_total));
	SET("seconds_until_silent", REAL(r->seconds_quiet));
	SET("silent_at_end", json_boolean(r->quiet));
	SET("frames_sent_a", INT(d->rs[END_A].frames_out));
	SET("frames_received_b", INT(d->rs[END_B].frames_in));
	SET("frames_sent_b", INT(d->rs[END_B].frames_out));
	SET("frames_received_a", INT(d->rs[END_A].frames_in));
	SET("frames_refused_by_port", INT(d->refused[END_A] + d->refused[END_B]));
	SET("txdelay_ms", INT(ro.txdelay_ms));
	SET("txtail_ms", INT(ro.txtail_ms));
	SET("slottime_ms", INT(ro.slottime_ms));
	SET("persist", INT(ro.persist));
	SET("timeout_s", INT(timeout_s));
	if ((sub = breakdown_json(r, posts)) == NULL)
		goto nomem;
	/* Losses are read from the ports' counters above, not a simulator. */
	json_object_del(sub, "frames_lost");
	json_object_del(sub, "frames_collided");
	SET("breakdown_bytes", sub);
	if ((sub = seconds_json(r)) == NULL)
		goto nomem;
	/* No keying times from a real TNC: only what the session saw. */
	json_object_del(sub, "keyed_a_s");
	json_object_del(sub, "keyed_b_s");
	json_object_del(sub, "transmissions_a");
	json_object_del(sub, "transmissions_b");
	json_object_del(sub, "txdelay_txtail_s");
	json_object_del(sub, "nobody_keyed_s");
	SET("breakdown_seconds", sub);
	SETIN(tg, "air_over_text_le_0_6", json_boolean(ratio <=
	    TARGET_AIR_OVER_TEXT));
	SETIN(tg, "goodput_0loss_ge_0_6", json_boolean(g0 >= TARGET_GOODPUT_0));
	SETIN(tg, "emergency_le_10s", json_boolean(r->emergency_latency_s <=
	    TARGET_EMERGENCY_S));
	SET("targets_met", tg);
	tg = NULL;
#undef SET
	rc = print_json_line(js);
	goto out;
nomem:
	warnx("out of memory");
out:
	json_decref(js);
	json_decref(tg);
	return rc;
}

/*
 * The backlog and an emergency post over the rig, in real time.  Returns
 * 0 with the line printed, or -1 (said why).
 */
static int
dw_session(uint64_t seed, uint64_t messages, const char *dev_a,
    const char *dev_b, uint64_t timeout_s)
{
	struct scene sc;
	struct dw *d;
	int rc, status = -1;
	bool loop_ok = false;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		warnx("out of memory");
		return -1;
	}
	d->m.sc = &sc;
	d->m.clk.wall0 = wall_ms();
	d->m.rng = seed * 0x9e3779b97f4a7c15ULL + 0xd1ef;
	d->m.emergency = true;
	d->m.em_at = messages / 3;
	d->limit_ms = timeout_s * 1000;
	if (scene_build(&sc, seed, messages, &d->m.clk, wall_ms()) < 0)
		goto out;
	d->m.target_tip = sc.a_prefix + messages + 1;
	if (uv_loop_init(&d->loop) < 0) {
		warnx("uv_loop_init failed");
		goto out;
	}
	loop_ok = true;
	uv_timer_init(&d->loop, &d->wake);
	uv_timer_init(&d->loop, &d->guard);
	d->wake.data = d->guard.data = d;
	if (dw_open_port(d, END_A, dev_a) < 0 ||
	    dw_open_port(d, END_B, dev_b) < 0) {
		dw_finish(d, true);
	} else {
		fprintf(stderr, "%s: radio: direwolf: %llu posts over %s and "
		    "%s (real time; at most %llu s)\n", progname,
		    (unsigned long long)messages, dev_a, dev_b,
		    (unsigned long long)timeout_s);
		uv_timer_start(&d->guard, on_dw_guard, DW_UP_TIMEOUT_MS, 0);
	}
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if ((rc = uv_loop_close(&d->loop)) != 0) {
		warnx("radio: direwolf: the loop still had handles: %s",
		    uv_strerror(rc));
		goto out;
	}
	loop_ok = false;
	if (d->failed || !d->res.ok)
		goto out;
	if (print_dw(d, &sc, dev_a, dev_b, timeout_s) < 0)
		goto out;
	status = 0;
out:
	if (loop_ok) {
		uv_run(&d->loop, UV_RUN_DEFAULT);
		uv_loop_close(&d->loop);
	}
	sim_free(&d->m);
	scene_free(&sc);
	free(d);
	return status;
}

/* ------------------------------------------------------------ main */

static void
radio_usage(void)
{
	fprintf(stderr,
	    "usage: %s radio [--seed S] [--runs R] [--messages N]\n"
	    "       [--direwolf [--kiss-a DEV] [--kiss-b DEV]\n"
	    "        [--direwolf-messages N] [--timeout SECONDS]]\n"
	    "  Simulated 1200-baud radio link (default): node A holds N posts\n"
	    "  (default %d) that B lacks; B syncs over the whole radio stack.\n"
	    "  R seeds S, S+1, ... (default %d from 1), three sessions each\n"
	    "  (0 %% loss, 10 %% loss, an emergency post at a third); one JSON\n"
	    "  line of medians.  --direwolf then runs the backlog and the\n"
	    "  emergency post over two Direwolf stations (KISS over TCP, default\n"
	    "  %s and %s: the shared rig's ports) in real time and\n"
	    "  prints a second line.\n",
	    progname, RADIO_DEFAULT_MESSAGES, RADIO_DEFAULT_RUNS, DW_DEFAULT_A,
	    DW_DEFAULT_B);
}

int
bench_radio(int argc, char **argv)
{
	struct seed_result *sr = NULL;
	const char *dev_a = DW_DEFAULT_A, *dev_b = DW_DEFAULT_B, *v;
	uint64_t seed = 1, messages = RADIO_DEFAULT_MESSAGES, runs =
	    RADIO_DEFAULT_RUNS, dw_messages = 0, timeout_s = 0;
	bool direwolf = false, missing = false;
	double t0;
	int i, status = 1;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--messages", &missing)) != NULL) {
			if (parse_count(v, 3, 100000, &messages) < 0) {
				warnx("--messages: not a count from 3 to 100000: %s",
				    v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--direwolf-messages",
		    &missing)) != NULL) {
			if (parse_count(v, 3, 100000, &dw_messages) < 0) {
				warnx("--direwolf-messages: not a count from 3 "
				    "to 100000: %s", v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--seed", &missing)) != NULL) {
			if (parse_count(v, 0, INT64_MAX - RADIO_RUNS_MAX, &seed) < 0) {
				warnx("--seed: not a number from 0 to %lld: %s",
				    (long long)(INT64_MAX - RADIO_RUNS_MAX), v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--runs", &missing)) != NULL) {
			if (parse_count(v, 1, RADIO_RUNS_MAX, &runs) < 0) {
				warnx("--runs: not a count from 1 to %d: %s",
				    RADIO_RUNS_MAX, v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--timeout", &missing)) != NULL) {
			if (parse_count(v, 10, 86400, &timeout_s) < 0) {
				warnx("--timeout: not a number of seconds from 10 "
				    "to 86400: %s", v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--kiss-a", &missing)) != NULL) {
			dev_a = v;
		} else if ((v = opt_value(argc, argv, &i, "--kiss-b", &missing)) != NULL) {
			dev_b = v;
		} else if (!missing && strcmp(argv[i], "--direwolf") == 0) {
			direwolf = true;
		} else {
			if (missing)
				warnx("%s needs a value", argv[i]);
			else if (strcmp(argv[i], "--help") != 0 &&
			    strcmp(argv[i], "-h") != 0)
				warnx("radio: unknown option %s", argv[i]);
			radio_usage();
			return 2;
		}
	}
	if (dw_messages == 0)
		dw_messages = messages;
	v = getenv("KZ_BENCH_TRACE");
	trace = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
	/* ~120 B/s of which half is text: about 3 s a post, and slack. */
	if (timeout_s == 0)
		timeout_s = 300 + dw_messages * 6;

	if ((sr = calloc(runs, sizeof(*sr))) == NULL) {
		warnx("out of memory");
		return 1;
	}
	t0 = mono_s();
	for (i = 0; i < (int)runs; i++)
		if (run_seed(&sr[i], seed + (uint64_t)i, messages) < 0)
			goto out;
	if (print_sim(sr, runs, messages, mono_s() - t0) < 0)
		goto out;
	if (direwolf && dw_session(seed, dw_messages, dev_a, dev_b,
	    timeout_s) < 0)
		goto out;
	status = 0;
out:
	free(sr);
	return status;
}
