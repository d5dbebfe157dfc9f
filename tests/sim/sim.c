/*
 * kizuna-sim: a deterministic mesh simulator (DESIGN.md, "Layers": core/ and
 * sync/ are pure so that many nodes run in one process and every failure
 * replays from its seed).
 *
 * One run is one seed and one topology.  Each node holds the real library:
 * a file-backed struct kz_store (in a temporary folder, so that a crash
 * re-opens exactly what was committed and a backup is a copy of the files),
 * its key pair and one sync session per connected link, under a simulated
 * clock (integer ms).  LAN links carry kz_sync frames with a latency and a
 * bandwidth (the model below).  Radio links run the real radio stack: a
 * kz_rlink at each end (Noise secure link with one network key for the
 * mesh, zstd dictionary compression, the slow-link sync options, over the
 * kz_arq selective-repeat ARQ; kz_rlink_opts_radio at 1200 bit/s except the
 * zstd level, 3 instead of 19 to spare CPU in the many seeds) whose frames
 * cross a tests/linksim.c channel: 1200-baud half duplex with carrier
 * sense, TXDELAY 300 ms and TXTAIL 100 ms, collisions when both ends key up.
 * The event queue serves a radio link (EV_RADIO) at the earliest of
 * kz_rlink_next_event of its two ends and linksim_next_event, never by
 * stepping.  Every random choice comes from one xoshiro256** generator
 * seeded from the seed (the linksims' seeds and the ARQ session ids too);
 * nothing reads the time or rand(), so a seed replays its run exactly
 * (--trace prints it, with radio sessions starting, reaching LIVE and
 * ending, and why: "ARQ down: ..." or a Bye).  As kizunad does, an open
 * radio link that sent nothing for 60 s sends a sync Ping (its keepalive:
 * it also carries acks of live runs that wait for it).
 *
 * Phases:
 *   setup    node 0 founds the mesh (mesh create, node admits, users,
 *            channels) and every node knows node 0 as the root;
 *   faults   users write on random nodes while faults are injected;
 *   heal     faults stop, crashed nodes restart, cut links heal, links whose
 *            faults reached the protocol are re-established; run until quiet;
 *            then every node writes once more (it must be able to) and the
 *            mesh runs until quiet again;
 *   check    the invariants below.
 *
 * Fault model (rates drawn per seed and per link):
 *   - radio links: frame faults on the air during the fault phase, which
 *     the ARQ must absorb: loss, burst loss (a Gilbert-Elliott chain),
 *     corruption (the CRC drops the frame), truncation, duplication, and
 *     collisions at any time.  After the heal the air is clean but for
 *     collisions.  A session ends when its ARQ goes down (no valid frame
 *     for dead_ms, 5 min, while data is pending; or the peer restarted) or
 *     the secure link closes; both ends are then dropped and a new session
 *     (new ARQ session ids, a new handshake) starts after a backoff, as
 *     kizunad does.  Frames of an old session still on the air reach the
 *     new one (the ARQ drops them as foreign);
 *   - LAN links, loss, duplication, reordering: reliable byte streams
 *     (TCP), so these cost time and bandwidth only (a lost frame is sent
 *     again after a timeout, a duplicate is discarded, a late frame is
 *     waited for).  On "raw" LAN links (some seeds, during the fault phase
 *     only) they reach kz_sync_receive as they are, to check that the
 *     protocol survives them without harm; such a link may lose data within
 *     its session, so the heal phase re-establishes it;
 *   - LAN links, corruption: the link layer (Noise AEAD) detects it and
 *     drops the connection; one corrupted frame in four is also given to
 *     kz_sync_receive first, to check it is refused without harm;
 *   - partitions: a cut LAN link's sessions are freed; a cut radio link's
 *     air loses every frame (loss 1) and its session runs on until its ARQ
 *     goes down (or, idle, survives the cut); a new session starts once it
 *     healed;
 *   - crashes: the store is closed (kz_store_free) at any point between
 *     events, sometimes in the middle of a group of appends (the group is
 *     lost: it was never committed, so never acknowledged); after a restart
 *     the node's own tip must be exactly what was committed;
 *   - restore from an old backup (a copy of the store's files taken
 *     earlier): the node restarts from it.  Its entries written after the
 *     backup that had reached no other node are lost (counted, not
 *     acknowledged any more); those that had must come back to it.
 *     Operator policy, as docs/sync.md asks: a restored node takes no
 *     writes until, since its start, a session with each of its neighbours
 *     has exchanged vectors (reached LIVE); from then on kz_store_append's
 *     KZ_ERR_BEHIND is "refused, retry later".  The policy holds at every
 *     start until one append has succeeded.  No seed writes on a restored
 *     node before it synced, so no feed may ever be flagged forked;
 *   - clock skew of up to hours per node (kz_store_set_clock).
 *
 * Invariants checked after the heal (any failure names seed, topology and
 * invariant): the mesh went quiet; every node can write;
 * no session on a link without raw faults ever waited 2 minutes (LAN) for
 * a frame that did not come, and no radio session waited 20 minutes
 * without its ARQ moving a stream byte either way (longer than dead_ms: a
 * cut must take the ARQ down first); a frame refused by a radio session's
 * secure link fails the run (unless the ARQ had locked on a stale frame of
 * an earlier session: counted and traced); every node holds
 * the same feeds at the same tips and the same workspace digest
 * (kz_views_digest, what `kizuna digest` prints); every acknowledged entry
 * (an append that returned 0 outside a group, or a group whose commit
 * returned 0, not lost to a restore) is held by every node with the same
 * hash; no feed is flagged forked and no fork proof is kept; kz_store_verify
 * is clean; nothing is left detached.  During the run: a restart holds
 * exactly the committed tip; appends return 0, KZ_ERR_BEHIND (restored
 * nodes only) and nothing else.
 *
 * Planted bug (--flip-rule): sets kz__test_flip_rule, which makes the
 * library pick a message's current edit by arrival order instead of (hlc,
 * author, seq); the digests must then diverge.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/rlink.h"
#include "kizuna/store.h"
#include "kizuna/sync.h"
#include "kizuna/views.h"
#include "linksim.h"

/* The library's planted-bug switch (src/core/workspace.c); tests only. */
extern bool kz__test_flip_rule;

#define MAX_NODES 12
#define MAX_LINKS 48
#define N_USERS 6
#define N_CHANNELS 2
#define T0 1790000000000ull	/* the simulated epoch, ms */
#define SEC 1000ull
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define LAN_BPS 100000000ull
#define RADIO_BPS 1200ull
/* zstd level on radio links: 3, not the radio profile's 19, for CPU in the
 * many seeds (everything else is kz_rlink_opts_radio). */
#define SIM_RADIO_LEVEL 3
/* kizunad's [radio] keepalive_s: an open radio link that sent nothing for
 * this long sends a sync Ping (src/daemon/rnet.c). */
#define RADIO_KEEPALIVE (60 * SEC)

/* The mesh's network key (the Noise PSK), one for every link. */
static const uint8_t NETKEY[32] = { 0x4b, 0x5a, 0x73, 0x69, 0x6d };

enum topo { TOPO_CHAIN, TOPO_STAR, TOPO_RING, TOPO_ISLANDS, TOPO_RANDOM, N_TOPO };
static const char *const topo_names[N_TOPO] = {
	"chain", "star", "ring", "islands", "random"
};

/* ------------------------------------------------------------ PRNG */

struct rng {
	uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* ------------------------------------------------------------ state */

enum ev_kind {
	EV_DELIVER,	/* a frame reaches the other end of a link */
	EV_WAKE,	/* a transmitter is free again */
	EV_CONNECT,	/* a link tries to (re)connect */
	EV_WORK,	/* a user writes somewhere */
	EV_FAULT,	/* the next fault */
	EV_RESTART,	/* a crashed node comes back */
	EV_HEAL,	/* a cut link heals */
	EV_WATCHDOG,	/* silent sessions are dropped */
	EV_RWRITE,	/* staff at a restored node try to write */
	EV_RESTORE,	/* a node is restored from its backup */
	EV_RADIO,	/* a radio link's stack or air has something due */
};

enum deliver_how { D_NORMAL, D_CORRUPT_DROP, D_CORRUPT_DELIVER };

struct ev {
	uint64_t t, order;
	enum ev_kind kind;
	int a, b;		/* link and side, or node */
	uint64_t gen;
	enum deliver_how how;
	uint8_t *buf;
	size_t len;
};

struct side {
	struct sim *sim;
	int link, side;
};

struct link {
	int n[2];		/* nodes at each end */
	bool radio;
	uint64_t bps, latency;
	double loss, dup, reorder, corrupt;
	bool raw;		/* faults reach the protocol (fault phase) */
	bool tainted;		/* its session met raw faults */
	bool cut;
	bool connected;
	bool connect_pending;
	uint64_t gen;
	struct kz_sync *s[2];
	struct side sd[2];
	uint64_t busy[2];	/* transmitter busy until */
	uint64_t last_deliver[2];	/* in-order delivery, reliable links */
	uint64_t last_rx[2];
	uint64_t wait_since[2];	/* waiting for the peer since (0: not) */
	/* Radio links: the real stack (kz_rlink) over the air (linksim). */
	struct linksim *ls;	/* the air, for the whole run */
	struct linksim_params fault_p;	/* its faults in the fault phase */
	struct kz_rlink *r[2];
	uint32_t sess[2];	/* the ARQ session ids of this session */
	uint64_t progress[2];	/* ARQ stream bytes in + acked, last seen */
	uint64_t tx_seen[2], last_tx[2];	/* new payload frames out, when */
	uint64_t radio_at, radio_tok;	/* the pending EV_RADIO */
	bool radio_pending;
	bool live_traced;	/* "radio session up" traced */
	bool was_down;		/* the last session ended with the ARQ down */
};

struct node {
	int id;
	struct sim *sim;
	char path[512];
	char backup[512];
	bool has_backup;
	uint64_t backup_tip;
	struct kz_store *st;	/* NULL while down */
	struct kz_keypair kp;
	int64_t skew;
	bool restored;		/* writes wait for the operator policy */
	uint32_t gate;		/* neighbours not yet LIVE since the start */
	uint64_t tip_at_crash;
};

struct acked {
	int node;
	uint64_t seq;
	uint8_t hash[32];
	bool lost;		/* lost with a restore (never left the node) */
};

struct post_ref {
	uint8_t id[32];
	int user;
	enum kz_priority prio;
};

struct stats {
	uint64_t seeds, sim_ms, appends, groups, behind, gated, frames, bytes;
	uint64_t lost, duplicated, reordered, corrupt_dropped, corrupt_delivered;
	uint64_t corrupt_refused, partitions, crashes, crashes_in_group;
	uint64_t group_entries_lost, restores, restore_lost, watchdog, byes;
	uint64_t watchdog_reliable;
	uint64_t raw_links;
	/* Radio links (linksim and kz_arq counters). */
	uint64_t radio_frames, radio_lost, radio_collided, radio_corrupted;
	uint64_t radio_truncated, radio_duplicated, radio_air_ms;
	uint64_t arq_retransmits, arq_timeouts, arq_bad_crc;
	uint64_t radio_sessions, radio_downs, radio_back, radio_stale;
};

struct sim {
	uint64_t seed;
	enum topo topo;
	int k;
	bool trace;
	bool flip;
	struct rng rng;
	uint64_t now;
	uint64_t order;
	struct ev *heap;
	size_t n_heap, cap_heap;
	char dir[256];
	struct node nodes[MAX_NODES];
	struct link links[MAX_LINKS];
	int n_links;
	uint8_t channels[N_CHANNELS][32];
	char users[N_USERS][16];
	struct post_ref *posts;
	size_t n_posts, cap_posts;
	struct acked *acked;
	size_t n_acked, cap_acked;
	bool faults_on;
	bool restore_done;
	bool restore_heavy;
	uint64_t fault_end;
	double crash_rate, partition_rate, restore_rate, backup_rate;
	crypto_generichash_state trace_hash;
	char failure[512];
	struct stats st;
};

static uint64_t
rnd(struct sim *s, uint64_t n)
{
	return n == 0 ? 0 : rng_next(&s->rng) % n;
}

static double
rndf(struct sim *s)
{
	return (double)(rng_next(&s->rng) >> 11) / 9007199254740992.0;
}

/* An exponentially distributed delay with the given mean (ms, at least 1). */
static uint64_t
rexp(struct sim *s, double mean)
{
	double u = rndf(s), x = 0;

	/* -ln(1 - u) without libm: a series is enough for a simulator. */
	for (int i = 1; i <= 60; i++) {
		double p = 1;

		for (int j = 0; j < i; j++)
			p *= u;
		x += p / i;
	}
	x = x * mean;
	if (x > mean * 20)
		x = mean * 20;
	return x < 1 ? 1 : (uint64_t)x;
}

/* ------------------------------------------------------------ trace */

static void KZ_PRINTF(3, 4)
trace(struct sim *s, int node, const char *fmt, ...)
{
	char line[600];
	int n;
	va_list ap;

	n = snprintf(line, sizeof(line), "%6" PRIu64 ".%03" PRIu64 " ",
	    s->now / 1000, s->now % 1000);
	if (node >= 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "n%d ", node);
	else
		n += snprintf(line + n, sizeof(line) - (size_t)n, "-- ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	crypto_generichash_update(&s->trace_hash, (const uint8_t *)line,
	    strlen(line));
	if (s->trace)
		printf("%s\n", line);
}

static void KZ_PRINTF(2, 3)
fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failure[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(s->failure, sizeof(s->failure), fmt, ap);
	va_end(ap);
	trace(s, -1, "FAILURE %s", s->failure);
}

static void
hex8(char out[17], const uint8_t *b)
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ------------------------------------------------------------ events */

static bool
ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->order < b->order);
}

static void
ev_push(struct sim *s, struct ev e)
{
	size_t i;

	if (s->n_heap == s->cap_heap) {
		size_t cap = s->cap_heap ? s->cap_heap * 2 : 256;
		struct ev *p = realloc(s->heap, cap * sizeof(*p));

		if (p == NULL)
			abort();
		s->heap = p;
		s->cap_heap = cap;
	}
	e.order = s->order++;
	i = s->n_heap++;
	while (i > 0 && ev_less(&e, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = e;
}

static struct ev
ev_pop(struct sim *s)
{
	struct ev top = s->heap[0], last = s->heap[--s->n_heap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->n_heap)
			break;
		if (c + 1 < s->n_heap && ev_less(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_less(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->n_heap > 0)
		s->heap[i] = last;
	return top;
}

static void
at(struct sim *s, uint64_t t, enum ev_kind kind, int a, int b, uint64_t gen)
{
	ev_push(s, (struct ev){ .t = t, .kind = kind, .a = a, .b = b, .gen = gen });
}

/* ------------------------------------------------------------ files */

static int
copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out;
	char buf[65536];
	size_t n;
	int rc = 0;

	if (in == NULL) {
		/* No such file (no WAL yet): the copy is no file either. */
		if (unlink(to) < 0 && errno != ENOENT)
			return -1;
		return 0;
	}
	out = fopen(to, "wb");
	if (out == NULL) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (ferror(in))
		rc = -1;
	fclose(in);
	if (fclose(out) != 0)
		rc = -1;
	return rc;
}

/* Copies the store's files (database and WAL) from one base path to another. */
static int
copy_store(const char *from, const char *to)
{
	static const char *const sfx[] = { "", "-wal" };
	char a[600], b[600];

	for (size_t i = 0; i < 2; i++) {
		snprintf(a, sizeof(a), "%s%s", from, sfx[i]);
		snprintf(b, sizeof(b), "%s%s", to, sfx[i]);
		if (copy_file(a, b) < 0)
			return -1;
	}
	snprintf(b, sizeof(b), "%s-shm", to);
	unlink(b);
	return 0;
}

static void
remove_store(const char *base)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[600];

	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", base, sfx[i]);
		unlink(p);
	}
}

/* ------------------------------------------------------------ nodes */

static uint64_t
node_clock(void *ctx)
{
	struct node *n = ctx;
	int64_t t = (int64_t)(T0 + n->sim->now) + n->skew;

	return (uint64_t)t;
}

static uint64_t
own_tip(struct node *n)
{
	uint64_t t = 0;

	if (n->st != NULL && kz_store_tip(n->st, n->kp.pk, &t, NULL) < 0)
		fail(n->sim, "node %d: kz_store_tip failed", n->id);
	return t;
}

static int
node_open(struct node *n)
{
	int rc = kz_store_open(&n->st, n->path, NULL);

	if (rc < 0) {
		fail(n->sim, "node %d: kz_store_open: %s", n->id, kz_strerror(rc));
		n->st = NULL;
		return rc;
	}
	kz_store_set_clock(n->st, node_clock, n);
	return 0;
}

/* The neighbours of a node, as a bit mask. */
static uint32_t
neighbours(struct sim *s, int node)
{
	uint32_t m = 0;

	for (int i = 0; i < s->n_links; i++) {
		if (s->links[i].n[0] == node)
			m |= 1u << s->links[i].n[1];
		if (s->links[i].n[1] == node)
			m |= 1u << s->links[i].n[0];
	}
	return m;
}

/* ------------------------------------------------------------ links */

static void on_grew(void *ctx, const uint8_t feed[32]);

static bool
can_connect(struct sim *s, struct link *l)
{
	return !l->cut && s->nodes[l->n[0]].st != NULL &&
	    s->nodes[l->n[1]].st != NULL;
}

static void
schedule_connect(struct sim *s, int li, uint64_t delay)
{
	struct link *l = &s->links[li];

	if (l->connect_pending || l->connected || !can_connect(s, l))
		return;
	l->connect_pending = true;
	at(s, s->now + delay, EV_CONNECT, li, 0, 0);
}

/* The sync session of one side, whatever carries it. */
static enum kz_sync_state
side_state(const struct link *l, int j)
{
	return l->radio ? kz_link_sync_state(kz_rlink_link(l->r[j])) :
	    kz_sync_state(l->s[j]);
}

static bool
side_idle(const struct link *l, int j)
{
	return l->radio ? kz_link_idle(kz_rlink_link(l->r[j])) :
	    kz_sync_idle(l->s[j]);
}

/* A radio link's stack or air must be served at t (one event pending at
 * a time: the earliest asked for). */
static void
radio_schedule(struct sim *s, int li, uint64_t t)
{
	struct link *l = &s->links[li];

	if (t < s->now)
		t = s->now;
	if (l->radio_pending && l->radio_at <= t)
		return;
	l->radio_pending = true;
	l->radio_at = t;
	at(s, t, EV_RADIO, li, 0, ++l->radio_tok);
}

/* Frees a radio link's two kz_rlink ends, counting their ARQ figures. */
static void
radio_free_session(struct sim *s, struct link *l)
{
	for (int j = 0; j < 2; j++) {
		struct kz_arq_stats st;

		if (l->r[j] == NULL)
			continue;
		kz_arq_get_stats(kz_rlink_arq(l->r[j]), &st);
		s->st.arq_retransmits += st.retransmits;
		s->st.arq_timeouts += st.timeouts;
		s->st.arq_bad_crc += st.bad_crc;
		kz_rlink_free(l->r[j]);
		l->r[j] = NULL;
	}
}

static void
link_drop(struct sim *s, int li, const char *why)
{
	struct link *l = &s->links[li];

	if (!l->connected)
		return;
	trace(s, l->n[0], "link to n%d dropped: %s", l->n[1], why);
	kz_sync_free(l->s[0]);
	kz_sync_free(l->s[1]);
	l->s[0] = l->s[1] = NULL;
	radio_free_session(s, l);
	l->connected = false;
	l->tainted = false;
	l->gen++;
	l->busy[0] = l->busy[1] = s->now;
	l->last_deliver[0] = l->last_deliver[1] = s->now;
	/* Reconnect with a backoff of 1 to 10 s, as kizunad does. */
	schedule_connect(s, li, SEC + rnd(s, 9 * SEC));
}

static uint64_t
sim_clock(void *ctx)
{
	return ((struct side *)ctx)->sim->now;
}

/*
 * A new session on a radio link: a kz_rlink at each end (the radio
 * profile, new random ARQ session ids, node 0's end dials), as kizunad
 * starts one after its last one ended.  Frames of the old session still on
 * the air reach the new one (the ARQ drops them as foreign).
 */
static void
radio_connect(struct sim *s, int li)
{
	struct link *l = &s->links[li];
	int rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++) {
		struct node *n = &s->nodes[l->n[i]];
		struct kz_rlink_opts o;

		kz_rlink_opts_radio(&o, (uint32_t)RADIO_BPS);
		o.link.level = SIM_RADIO_LEVEL;
		o.link.st = n->st;
		o.link.node = &n->kp;
		o.link.network_key = NETKEY;
		o.link.initiator = i == 0;
		l->sd[i] = (struct side){ s, li, i };
		o.link.sync.ctx = &l->sd[i];
		o.link.sync.feed_grew = on_grew;
		o.link.sync.now_ms = sim_clock;
		o.arq.session = l->sess[i] = 1 + (uint32_t)rnd(s, 0xfffffffeu);
		rc = kz_rlink_new(&l->r[i], &o, s->now);
	}
	if (rc < 0) {
		fail(s, "link %d-%d: radio session start: %s", l->n[0], l->n[1],
		    kz_strerror(rc));
		radio_free_session(s, l);
		return;
	}
	l->connected = true;
	l->tainted = false;
	l->live_traced = false;
	l->last_rx[0] = l->last_rx[1] = s->now;
	l->wait_since[0] = l->wait_since[1] = 0;
	l->progress[0] = l->progress[1] = 0;
	l->tx_seen[0] = l->tx_seen[1] = 0;
	l->last_tx[0] = l->last_tx[1] = s->now;
	s->st.radio_sessions++;
	trace(s, l->n[0], "link to n%d connected (radio: ARQ sessions %08x, "
	    "%08x)", l->n[1], (unsigned)l->sess[0], (unsigned)l->sess[1]);
	radio_schedule(s, li, s->now);
}

static void
link_connect(struct sim *s, int li)
{
	struct link *l = &s->links[li];
	struct kz_sync_opts o = { .feed_grew = on_grew };
	int rc = 0;

	if (l->connected || !can_connect(s, l))
		return;
	l->gen++;
	if (l->radio) {
		radio_connect(s, li);
		return;
	}
	for (int i = 0; i < 2 && rc == 0; i++) {
		struct node *n = &s->nodes[l->n[i]];

		l->sd[i] = (struct side){ s, li, i };
		o.ctx = &l->sd[i];
		rc = kz_sync_new(&l->s[i], n->st, n->kp.pk, &o);
	}
	if (rc == 0)
		rc = kz_sync_start(l->s[0]);
	if (rc == 0)
		rc = kz_sync_start(l->s[1]);
	if (rc < 0) {
		fail(s, "link %d-%d: session start: %s", l->n[0], l->n[1],
		    kz_strerror(rc));
		kz_sync_free(l->s[0]);
		kz_sync_free(l->s[1]);
		l->s[0] = l->s[1] = NULL;
		return;
	}
	l->connected = true;
	l->tainted = l->raw;
	l->busy[0] = l->busy[1] = s->now;
	l->last_deliver[0] = l->last_deliver[1] = s->now;
	l->last_rx[0] = l->last_rx[1] = s->now;
	l->wait_since[0] = l->wait_since[1] = 0;
	trace(s, l->n[0], "link to n%d connected%s%s", l->n[1],
	    l->radio ? " (radio)" : "", l->raw ? " (raw)" : "");
}

/* A run or entry was stored at one side: offer the feed on the node's other links. */
static void
on_grew(void *ctx, const uint8_t feed[32])
{
	struct side *sd = ctx;
	struct sim *s = sd->sim;
	int node = s->links[sd->link].n[sd->side];

	for (int i = 0; i < s->n_links; i++) {
		struct link *l = &s->links[i];

		if (i == sd->link || !l->connected)
			continue;
		for (int j = 0; j < 2; j++) {
			if (l->n[j] != node)
				continue;
			if (l->radio) {
				/* Served by an event: this may run inside another
				 * radio link's kz_rlink_input. */
				kz_link_feed_grew(kz_rlink_link(l->r[j]), feed);
				radio_schedule(s, i, s->now);
			} else {
				kz_sync_feed_grew(l->s[j], feed);
			}
		}
	}
}

/* A node's own feed grew: offer it on every link. */
static void
grew_local(struct sim *s, int node)
{
	for (int i = 0; i < s->n_links; i++) {
		struct link *l = &s->links[i];

		if (!l->connected)
			continue;
		for (int j = 0; j < 2; j++) {
			if (l->n[j] != node)
				continue;
			if (l->radio) {
				kz_link_feed_grew(kz_rlink_link(l->r[j]),
				    s->nodes[node].kp.pk);
				radio_schedule(s, i, s->now);
			} else {
				kz_sync_feed_grew(l->s[j], s->nodes[node].kp.pk);
			}
		}
	}
}

static uint64_t
tx_ms(const struct link *l, size_t len)
{
	return ((uint64_t)(len + 4) * 8 * 1000 + l->bps - 1) / l->bps;
}

static void
deliver_at(struct sim *s, int li, int from, uint64_t t, enum deliver_how how,
    uint8_t *buf, size_t len)
{
	struct link *l = &s->links[li];

	ev_push(s, (struct ev){ .t = t, .kind = EV_DELIVER, .a = li, .b = from,
	    .gen = l->gen, .how = how, .buf = buf, .len = len });
}

/*
 * Sends what one side has to send while its transmitter is free; the link's
 * faults decide what becomes of each frame.
 */
static void
try_send(struct sim *s, int li, int side)
{
	struct link *l = &s->links[li];

	while (l->connected && l->busy[side] <= s->now && s->failure[0] == '\0') {
		uint8_t *f, *copy;
		size_t len;
		uint64_t t, arrive;
		int rc = kz_sync_next(l->s[side], &f, &len);
		bool raw = l->raw && s->faults_on, dup;

		if (rc == 1)
			break;
		if (rc < 0) {
			fail(s, "n%d: kz_sync_next: %s", l->n[side], kz_strerror(rc));
			return;
		}
		s->st.frames++;
		s->st.bytes += len + 4;
		t = tx_ms(l, len);
		arrive = s->now + t + l->latency;
		if (s->faults_on && rndf(s) < l->loss) {
			s->st.lost++;
			if (raw) {
				trace(s, l->n[side], "frame of %zu B to n%d lost",
				    len, l->n[1 - side]);
				free(f);
				l->busy[side] = s->now + t;
				at(s, l->busy[side], EV_WAKE, li, side, 0);
				continue;
			}
			/* Sent again after a timeout: time and bandwidth. */
			t += tx_ms(l, len);
			arrive += 2 * l->latency + 200 + tx_ms(l, len);
		}
		if (s->faults_on && rndf(s) < l->reorder) {
			s->st.reordered++;
			arrive += 1 + rnd(s, raw ? 2000 : 200);
		}
		if (!raw && arrive < l->last_deliver[side])
			arrive = l->last_deliver[side];
		l->last_deliver[side] = arrive;
		dup = s->faults_on && rndf(s) < l->dup;
		if (dup) {
			s->st.duplicated++;
			if (raw) {
				/* The second copy reaches the protocol too. */
				copy = malloc(len ? len : 1);
				if (copy == NULL)
					abort();
				memcpy(copy, f, len);
				deliver_at(s, li, side, arrive + 1 + rnd(s, 500),
				    D_NORMAL, copy, len);
			} else {
				t += tx_ms(l, len);	/* sent twice, one discarded */
			}
		}
		if (s->faults_on && rndf(s) < l->corrupt)
			deliver_at(s, li, side, arrive, rnd(s, 4) == 0 ?
			    D_CORRUPT_DELIVER : D_CORRUPT_DROP, f, len);
		else
			deliver_at(s, li, side, arrive, D_NORMAL, f, len);
		l->busy[side] = s->now + t;
		if (t > 0)
			at(s, l->busy[side], EV_WAKE, li, side, 0);
	}
}

static void
check_gate(struct sim *s, struct link *l)
{
	for (int j = 0; j < 2; j++) {
		struct node *n = &s->nodes[l->n[j]];

		if ((n->gate & (1u << l->n[1 - j])) &&
		    side_state(l, j) == KZ_SYNC_LIVE) {
			n->gate &= ~(1u << l->n[1 - j]);
			if (n->restored && n->gate == 0) {
				trace(s, n->id, "synced with every neighbour since "
				    "its start: takes writes");
				at(s, s->now, EV_RWRITE, n->id, 0, 0);
			}
		}
	}
}

/* After every event: every link sends what it may; closed sessions end. */
static void
pump(struct sim *s)
{
	for (int i = 0; i < s->n_links && s->failure[0] == '\0'; i++) {
		struct link *l = &s->links[i];

		if (!l->connected || l->radio)
			continue;	/* radio links: radio_service */
		try_send(s, i, 0);
		try_send(s, i, 1);
		if (!l->connected)
			continue;
		check_gate(s, l);
		for (int j = 0; j < 2; j++) {
			bool waiting = kz_sync_state(l->s[j]) != KZ_SYNC_LIVE ||
			    !kz_sync_idle(l->s[j]);

			if (!waiting)
				l->wait_since[j] = 0;
			else if (l->wait_since[j] == 0)
				l->wait_since[j] = s->now;
		}
		for (int j = 0; j < 2; j++) {
			if (kz_sync_state(l->s[j]) == KZ_SYNC_CLOSED &&
			    l->busy[j] <= s->now) {
				char why[200];

				snprintf(why, sizeof(why), "session of n%d closed: %s",
				    l->n[j], kz_sync_reason(l->s[j]));
				s->st.byes++;
				link_drop(s, i, why);
				break;
			}
		}
	}
}

/* The two sides' waiting and progress, for the watchdog. */
static void
radio_watch(struct sim *s, struct link *l)
{
	for (int j = 0; j < 2; j++) {
		struct kz_arq_stats st;
		bool waiting = side_state(l, j) != KZ_SYNC_LIVE || !side_idle(l, j);

		if (!waiting)
			l->wait_since[j] = 0;
		else if (l->wait_since[j] == 0)
			l->wait_since[j] = s->now;
		kz_arq_get_stats(kz_rlink_arq(l->r[j]), &st);
		if (st.stream_in + st.stream_out != l->progress[j]) {
			l->progress[j] = st.stream_in + st.stream_out;
			l->last_rx[j] = s->now;
		}
	}
	if (!l->live_traced && side_state(l, 0) == KZ_SYNC_LIVE &&
	    side_state(l, 1) == KZ_SYNC_LIVE) {
		l->live_traced = true;
		trace(s, l->n[0], "radio session with n%d up (LIVE)%s", l->n[1],
		    l->was_down ? ", back after the ARQ went down" : "");
		if (l->was_down)
			s->st.radio_back++;
		l->was_down = false;
	}
}

/*
 * A radio link at s->now: frames due from the air go into each end's
 * kz_rlink (dropped while no session runs); each end's output goes on the
 * air; a session that ended (ARQ down, or a Bye) is dropped; the next
 * event is scheduled at the earliest of the two ends and the air.
 */
static void
radio_service(struct sim *s, int li)
{
	struct link *l = &s->links[li];
	uint8_t buf[KZ_ARQ_MTU_MAX];
	uint64_t next, t;
	size_t len;
	int rc;

	for (int j = 0; j < 2 && s->failure[0] == '\0'; j++) {
		while (linksim_recv(l->ls, j, s->now, buf, sizeof(buf), &len) == 1) {
			struct kz_arq_stats st;

			if (!l->connected)
				continue;	/* nobody listening */
			rc = kz_rlink_input(l->r[j], buf, len, s->now);
			if (rc >= 0)
				continue;
			kz_arq_get_stats(kz_rlink_arq(l->r[j]), &st);
			if (st.peer == l->sess[1 - j]) {
				fail(s, "n%d: kz_rlink_input of a frame from n%d: %s "
				    "(%s)", l->n[j], l->n[1 - j], kz_strerror(rc),
				    kz_rlink_reason(l->r[j]));
				return;
			}
			/* Locked on a stale frame of an earlier session. */
			s->st.radio_stale++;
			trace(s, l->n[j], "radio: a frame of an earlier session "
			    "from n%d refused: %s", l->n[1 - j], kz_errname(rc));
		}
	}
	for (int j = 0; j < 2 && l->connected && s->failure[0] == '\0'; j++) {
		struct kz_link *k = kz_rlink_link(l->r[j]);
		struct kz_arq_stats as;

		/* kizunad's keepalive: a silent open link pings, so that a
		 * gone peer leaves data pending and the ARQ goes down. */
		if (kz_link_state(k) == KZ_LINK_OPEN &&
		    s->now - l->last_tx[j] >= RADIO_KEEPALIVE &&
		    kz_link_ping(k) == 0)
			l->last_tx[j] = s->now;
		while ((rc = kz_rlink_output(l->r[j], s->now, buf, &len)) == 0) {
			s->st.frames++;
			s->st.bytes += len;
			if (linksim_send(l->ls, j, buf, len, s->now) < 0)
				abort();
		}
		if (rc < 0) {
			fail(s, "n%d: kz_rlink_output: %s (%s)", l->n[j],
			    kz_strerror(rc), kz_rlink_reason(l->r[j]));
			return;
		}
		/* New secure-link bytes went out (kizunad watches its
		 * bytes_out; kz_link_get_stats reads the store, so here the
		 * ARQ's first sendings of payload frames stand for it). */
		kz_arq_get_stats(kz_rlink_arq(l->r[j]), &as);
		if (as.data_frames - as.retransmits != l->tx_seen[j]) {
			l->tx_seen[j] = as.data_frames - as.retransmits;
			l->last_tx[j] = s->now;
		}
	}
	if (l->connected) {
		radio_watch(s, l);
		check_gate(s, l);
		for (int j = 0; j < 2; j++) {
			char why[240];
			bool down;

			if (!kz_rlink_ended(l->r[j]))
				continue;
			down = kz_arq_down(kz_rlink_arq(l->r[j]));
			snprintf(why, sizeof(why), "radio session of n%d ended: %s%s",
			    l->n[j], down ? "ARQ down: " : "",
			    kz_rlink_reason(l->r[j]));
			if (down)
				s->st.radio_downs++;
			else
				s->st.byes++;
			l->was_down = down;
			link_drop(s, li, why);
			break;
		}
	}
	next = linksim_next_event(l->ls);
	for (int j = 0; j < 2 && l->connected; j++) {
		t = kz_rlink_next_event(l->r[j], s->now);
		if (t < next)
			next = t;
		t = l->last_tx[j] + RADIO_KEEPALIVE;
		if (kz_link_state(kz_rlink_link(l->r[j])) == KZ_LINK_OPEN &&
		    t < next)
			next = t;
	}
	if (next != UINT64_MAX)
		radio_schedule(s, li, next > s->now ? next : s->now + 1);
}

static void
on_deliver(struct sim *s, struct ev *e)
{
	struct link *l = &s->links[e->a];
	int to = 1 - e->b;
	int rc;

	if (!l->connected || e->gen != l->gen) {
		free(e->buf);
		return;
	}
	l->last_rx[to] = s->now;
	if (e->how == D_CORRUPT_DROP) {
		s->st.corrupt_dropped++;
		free(e->buf);
		link_drop(s, e->a, "corrupted frame detected by the link layer");
		return;
	}
	if (e->how == D_CORRUPT_DELIVER) {
		size_t at_byte = rnd(s, e->len ? e->len : 1);

		if (e->len > 0)
			e->buf[at_byte] ^= (uint8_t)(1 + rnd(s, 255));
		rc = kz_sync_receive(l->s[to], e->buf, e->len);
		s->st.corrupt_delivered++;
		if (rc < 0 || kz_sync_state(l->s[to]) == KZ_SYNC_CLOSED)
			s->st.corrupt_refused++;
		trace(s, l->n[to], "corrupted frame of %zu B from n%d (byte %zu) "
		    "given to the session: %s", e->len, l->n[e->b], at_byte,
		    rc < 0 ? kz_errname(rc) : "0");
		free(e->buf);
		link_drop(s, e->a, "corrupted frame");
		return;
	}
	if (kz_sync_state(l->s[to]) == KZ_SYNC_CLOSED) {
		/* The session ended; its link is being dropped. */
		free(e->buf);
		return;
	}
	rc = kz_sync_receive(l->s[to], e->buf, e->len);
	trace(s, l->n[to], "<- n%d %zu B%s", l->n[e->b], e->len,
	    rc < 0 ? " refused" : "");
	free(e->buf);
	if (rc < 0) {
		if (!l->tainted)
			fail(s, "n%d: kz_sync_receive of a frame from n%d on a "
			    "reliable link: %s", l->n[to], l->n[e->b], kz_strerror(rc));
		else
			link_drop(s, e->a, kz_errname(rc));
	}
}

static const char *
state_name(enum kz_sync_state st)
{
	return st == KZ_SYNC_HELLO ? "HELLO" : st == KZ_SYNC_EXCHANGE ?
	    "EXCHANGE" : st == KZ_SYNC_LIVE ? "LIVE" : "CLOSED";
}

static void
on_watchdog(struct sim *s)
{
	for (int i = 0; i < s->n_links; i++) {
		struct link *l = &s->links[i];
		uint64_t limit = l->radio ? 20 * MIN : 2 * MIN;

		if (!l->connected)
			continue;
		for (int j = 0; j < 2; j++) {
			uint64_t since = l->wait_since[j] > l->last_rx[j] ?
			    l->wait_since[j] : l->last_rx[j];

			/* Waiting for the peer, and nothing heard since then. */
			if (l->wait_since[j] != 0 && s->now - since > limit &&
			    (l->radio || l->busy[j] <= s->now)) {
				char why[160];

				s->st.watchdog++;
				if (!l->tainted)
					s->st.watchdog_reliable++;
				snprintf(why, sizeof(why), "peer silent (n%d %s, %s%s)",
				    l->n[j], state_name(side_state(l, j)),
				    side_idle(l, j) ? "idle" : "not idle",
				    l->tainted ? ", raw faults" : "");
				if (l->radio) {
					struct kz_arq_stats a0, a1;
					struct kz_link_stats k0, k1;

					kz_arq_get_stats(kz_rlink_arq(l->r[0]), &a0);
					kz_arq_get_stats(kz_rlink_arq(l->r[1]), &a1);
					kz_link_get_stats(kz_rlink_link(l->r[0]), &k0);
					kz_link_get_stats(kz_rlink_link(l->r[1]), &k1);
					trace(s, -1, "radio n%d-n%d: ARQ %s/%s idle %d/%d, stream "
					    "out %" PRIu64 "/%" PRIu64 " in %" PRIu64 "/%" PRIu64
					    ", frames out %" PRIu64 "/%" PRIu64 " in %" PRIu64 "/%"
					    PRIu64 "; link bytes out %" PRIu64 "/%" PRIu64
					    " in %" PRIu64 "/%" PRIu64 "; next %" PRIu64 "/%"
					    PRIu64 "; air next %" PRIu64,
					    l->n[0], l->n[1], kz_arq_down(kz_rlink_arq(l->r[0])) ?
					    "down" : "up", kz_arq_down(kz_rlink_arq(l->r[1])) ?
					    "down" : "up", kz_arq_idle(kz_rlink_arq(l->r[0])),
					    kz_arq_idle(kz_rlink_arq(l->r[1])), a0.stream_out,
					    a1.stream_out, a0.stream_in, a1.stream_in,
					    a0.frames_out, a1.frames_out, a0.frames_in,
					    a1.frames_in, k0.bytes_out, k1.bytes_out,
					    k0.bytes_in, k1.bytes_in,
					    kz_rlink_next_event(l->r[0], s->now),
					    kz_rlink_next_event(l->r[1], s->now),
					    linksim_next_event(l->ls));
				}
				if (!l->tainted) {
					/* A reliable stream never stalls a session. */
					fail(s, "invariant liveness: session stalled on "
					    "a link without raw faults: n%d-n%d %s", l->n[0],
					    l->n[1], why);
					return;
				}
				link_drop(s, i, why);
				break;
			}
		}
	}
}

/* ------------------------------------------------------------ writing */

static void
ack(struct sim *s, int node, const struct kz_appended *app)
{
	struct acked *a;

	if (s->n_acked == s->cap_acked) {
		size_t cap = s->cap_acked ? s->cap_acked * 2 : 256;
		void *p = realloc(s->acked, cap * sizeof(*s->acked));

		if (p == NULL)
			abort();
		s->acked = p;
		s->cap_acked = cap;
	}
	a = &s->acked[s->n_acked++];
	a->node = node;
	a->seq = app->seq;
	memcpy(a->hash, app->hash, 32);
	a->lost = false;
}

static void
post_add(struct sim *s, const uint8_t id[32], int user, enum kz_priority prio)
{
	if (s->n_posts == s->cap_posts) {
		size_t cap = s->cap_posts ? s->cap_posts * 2 : 128;
		void *p = realloc(s->posts, cap * sizeof(*s->posts));

		if (p == NULL)
			abort();
		s->posts = p;
		s->cap_posts = cap;
	}
	memcpy(s->posts[s->n_posts].id, id, 32);
	s->posts[s->n_posts].user = user;
	s->posts[s->n_posts++].prio = prio;
}

/*
 * Appends op on a node.  Returns 0 (stored; committed unless in a group),
 * 1 when refused for now (KZ_ERR_BEHIND), or -1 after recording a failure.
 */
static int
put(struct sim *s, int node, const struct kz_op *op, struct kz_appended *app)
{
	struct node *n = &s->nodes[node];
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = kz_op_encode(&buf, &len, op)) < 0) {
		fail(s, "encode %s: %s", kz_op_type_name(op->type), kz_strerror(rc));
		return -1;
	}
	rc = kz_store_append(n->st, &n->kp, node_clock(n), buf, len, app);
	free(buf);
	if (rc == KZ_ERR_BEHIND && n->restored) {
		s->st.behind++;
		trace(s, node, "%s refused: behind its own feed, retry later",
		    kz_op_type_name(op->type));
		return 1;
	}
	if (rc < 0) {
		fail(s, "n%d: kz_store_append of %s: %s", node,
		    kz_op_type_name(op->type), kz_strerror(rc));
		return -1;
	}
	s->st.appends++;
	if (n->restored) {
		n->restored = false;
		trace(s, node, "restored node caught up: writing again");
	}
	return 0;
}

static void crash(struct sim *s, int node, const char *why);

static const char *const texts[] = {
	"給水車は14時に到着予定", "避難所の毛布が不足しています",
	"停電: 第三地区", "道路は通行止め、迂回路を確認してください",
	"school gym open as shelter", "発電機を運搬中", "水位上昇、注意",
};

/* Fills op with a random workload operation by user u; text is scratch. */
static bool
make_op(struct sim *s, struct kz_op *op, int u, char *text, size_t cap,
    bool *is_post, enum kz_priority *prio)
{
	static const char *const emojis[] = { "👍", "✅", "🙏", "eyes" };
	uint64_t k = rnd(s, 100);

	*op = (struct kz_op){ .actor = s->users[u] };
	*is_post = false;
	snprintf(text, cap, "%s #%" PRIu64, texts[rnd(s, 7)], rnd(s, 100000));
	if (s->n_posts == 0 || k < 50) {
		uint64_t p = rnd(s, 100);

		*prio = p < 8 ? KZ_PRIO_URGENT : p < 12 ? KZ_PRIO_EMERGENCY :
		    KZ_PRIO_NORMAL;
		op->type = KZ_OP_POST;
		op->u.post = (struct kz_post){ s->channels[rnd(s, N_CHANNELS)],
		    text, NULL, *prio, 0, NULL, NULL };
		if (s->n_posts > 0 && rnd(s, 5) == 0)
			op->u.post.thread_root = s->posts[rnd(s, s->n_posts)].id;
		*is_post = true;
		return true;
	}
	{
		/* Recent posts are the ones people act on. */
		size_t lo = s->n_posts > 20 ? s->n_posts - 20 : 0;
		struct post_ref *p = &s->posts[lo + rnd(s, s->n_posts - lo)];

		if (k < 68) {
			op->actor = rnd(s, 10) < 8 ? s->users[p->user] : s->users[u];
			op->type = KZ_OP_EDIT;
			op->u.edit = (struct kz_edit){ p->id, text };
		} else if (k < 70) {
			op->actor = s->users[p->user];
			op->type = KZ_OP_DELETE;
			op->u.del.target = p->id;
		} else if (k < 82) {
			op->type = KZ_OP_REACT;
			op->u.react = (struct kz_react){ p->id, emojis[rnd(s, 4)],
			    rnd(s, 3) != 0 };
		} else if (k < 90) {
			op->type = KZ_OP_ACK;
			op->u.ack.target = p->id;
		} else {
			op->type = KZ_OP_SAFETY;
			op->u.safety = (struct kz_safety_status){
			    rnd(s, 2) ? s->users[rnd(s, N_USERS)] : "",
			    (enum kz_safety)rnd(s, 4), "第二小学校", "" };
		}
	}
	return true;
}

/* Whether a node may take a write now (up, in the mesh, policy met). */
static bool
writable(struct sim *s, int node)
{
	struct node *n = &s->nodes[node];
	uint8_t id[32];
	char name[KZ_NAME_MAX + 1];

	if (n->st == NULL)
		return false;
	if (n->restored && n->gate != 0) {
		s->st.gated++;
		return false;
	}
	return kz_views_mesh(n->st, id, name) == 0;
}

/*
 * Staff at a restored node write as soon as the policy lets them, and again
 * every 20 s while the store refuses (KZ_ERR_BEHIND): the node is catching
 * up on its own feed.
 */
static void
on_rwrite(struct sim *s, int node)
{
	struct node *n = &s->nodes[node];
	struct kz_op op = { .type = KZ_OP_SAFETY, .actor = s->users[node % N_USERS],
	    .u.safety = { "", KZ_SAFETY_NEEDS_HELP, "支所", "restored" } };
	struct kz_appended app;
	int rc;

	if (!s->faults_on || n->st == NULL || !n->restored || n->gate != 0)
		return;
	rc = put(s, node, &op, &app);
	if (rc == 1) {
		at(s, s->now + 20 * SEC, EV_RWRITE, node, 0, 0);
	} else if (rc == 0) {
		ack(s, node, &app);
		trace(s, node, "safety by %s: seq %" PRIu64, op.actor, app.seq);
		grew_local(s, node);
	}
}

static void
on_work(struct sim *s)
{
	int node = (int)rnd(s, (uint64_t)s->k);
	int u = (int)rnd(s, N_USERS);
	struct node *n = &s->nodes[node];
	struct kz_op op;
	struct kz_appended app;
	char text[160], h[17];
	bool is_post;
	enum kz_priority prio = KZ_PRIO_NORMAL;

	if (!writable(s, node))
		return;
	if (rnd(s, 12) == 0 && !n->restored) {
		/* A group of ordinary posts, one transaction; a crash may cut it. */
		int count = 2 + (int)rnd(s, 5), cut = -1, i;
		uint64_t before = own_tip(n);
		struct kz_appended apps[8];
		int rc;

		if (s->faults_on && rndf(s) < 0.25)
			cut = (int)rnd(s, (uint64_t)count);
		if ((rc = kz_store_begin(n->st)) < 0) {
			fail(s, "n%d: kz_store_begin: %s", node, kz_strerror(rc));
			return;
		}
		for (i = 0; i < count; i++) {
			struct kz_post p = { s->channels[rnd(s, N_CHANNELS)], text,
			    NULL, KZ_PRIO_NORMAL, 0, NULL, NULL };

			snprintf(text, sizeof(text), "%s #%" PRIu64, texts[rnd(s, 7)],
			    rnd(s, 100000));
			op = (struct kz_op){ .type = KZ_OP_POST,
			    .actor = s->users[u], .u.post = p };
			if (i == cut) {
				s->st.crashes_in_group++;
				s->st.group_entries_lost += (uint64_t)i;
				n->tip_at_crash = before;
				trace(s, node, "crash in the middle of a group of %d "
				    "posts (%d appended, none committed)", count, i);
				crash(s, node, NULL);
				return;
			}
			if (put(s, node, &op, &apps[i]) != 0) {
				kz_store_rollback(n->st);
				return;
			}
		}
		if ((rc = kz_store_commit(n->st)) < 0) {
			fail(s, "n%d: kz_store_commit: %s", node, kz_strerror(rc));
			return;
		}
		s->st.groups++;
		for (i = 0; i < count; i++) {
			ack(s, node, &apps[i]);
			post_add(s, apps[i].hash, u, KZ_PRIO_NORMAL);
		}
		trace(s, node, "group of %d posts committed, seq %" PRIu64 "..%"
		    PRIu64, count, apps[0].seq, apps[count - 1].seq);
		grew_local(s, node);
		return;
	}
	make_op(s, &op, u, text, sizeof(text), &is_post, &prio);
	if (put(s, node, &op, &app) != 0)
		return;
	ack(s, node, &app);
	if (is_post)
		post_add(s, app.hash, u, prio);
	/*
	 * --restore-heavy: sometimes restore the node a moment after an urgent
	 * entry left it alone, ahead of its backlog (so that peers may hold it
	 * detached above entries the restore loses).
	 */
	if (s->restore_heavy && !kz_op_is_urgent(&op) && n->has_backup &&
	    n->backup_tip < app.seq && rnd(s, 3) == 0) {
		/* An urgent entry right behind an ordinary one: it overtakes. */
		op = (struct kz_op){ .type = KZ_OP_SAFETY, .actor = s->users[u],
		    .u.safety = { "", KZ_SAFETY_INJURED, "堤防", "" } };
		if (put(s, node, &op, &app) != 0)
			return;
		ack(s, node, &app);
		trace(s, node, "safety by %s: seq %" PRIu64, op.actor, app.seq);
	}
	if (s->restore_heavy && kz_op_is_urgent(&op) && n->has_backup &&
	    !s->restore_done && rnd(s, 3) == 0)
		at(s, s->now + 200 + rnd(s, 5 * SEC), EV_RESTORE, node, 0, 0);
	hex8(h, app.hash);
	trace(s, node, "%s%s by %s: seq %" PRIu64 " %s", kz_op_type_name(op.type),
	    is_post && prio != KZ_PRIO_NORMAL ? (prio == KZ_PRIO_URGENT ?
	    " (urgent)" : " (emergency)") : "", op.actor, app.seq, h);
	grew_local(s, node);
}

/* ------------------------------------------------------------ faults */

/* Sets a radio link's air to what the phase gives it: its frame faults
 * while faults are on, a clean channel after (collisions remain). */
static void
radio_air(struct sim *s, struct link *l)
{
	struct linksim_params *p = linksim_params(l->ls);

	if (s->faults_on) {
		*p = l->fault_p;
		return;
	}
	p->loss = 0;
	p->ge_enter = p->ge_loss = 0;
	p->corrupt = p->truncate = p->dup = 0;
}

static void
node_down(struct sim *s, int node)
{
	struct node *n = &s->nodes[node];

	for (int i = 0; i < s->n_links; i++)
		if (s->links[i].n[0] == node || s->links[i].n[1] == node)
			link_drop(s, i, "node down");
	kz_store_free(n->st);	/* an open group is rolled back: never committed */
	n->st = NULL;
}

/* Crashes a node; why == NULL: the caller traced it. */
static void
crash(struct sim *s, int node, const char *why)
{
	struct node *n = &s->nodes[node];

	if (why != NULL) {
		n->tip_at_crash = own_tip(n);
		trace(s, node, "crash (%s)", why);
	}
	s->st.crashes++;
	node_down(s, node);
	at(s, s->now + 10 * SEC + rexp(s, 10 * MIN), EV_RESTART, node, 0, 0);
}

static void
node_start(struct sim *s, int node)
{
	struct node *n = &s->nodes[node];

	if (n->st != NULL || node_open(n) < 0)
		return;
	if (n->restored)
		n->gate = neighbours(s, node);
	for (int i = 0; i < s->n_links; i++)
		if (s->links[i].n[0] == node || s->links[i].n[1] == node)
			schedule_connect(s, i, 100 + rnd(s, 2 * SEC));
}

static void
on_restart(struct sim *s, int node)
{
	struct node *n = &s->nodes[node];
	uint64_t t;

	if (n->st != NULL)
		return;
	node_start(s, node);
	if (n->st == NULL)
		return;
	t = own_tip(n);
	trace(s, node, "restart: own tip %" PRIu64, t);
	if (t != n->tip_at_crash)
		fail(s, "n%d restarted with own tip %" PRIu64 ", committed %" PRIu64,
		    node, t, n->tip_at_crash);
}

static int
count_det(void *ctx, const uint8_t feed[32], uint64_t seq)
{
	struct { const uint8_t *feed; uint64_t seq; bool found; } *c = ctx;

	if (memcmp(feed, c->feed, 32) == 0 && seq == c->seq)
		c->found = true;
	return 0;
}

/* Whether the store holds entry seq of feed (in its chain or detached). */
static bool
store_holds(struct kz_store *st, const uint8_t feed[32], uint64_t seq)
{
	struct { const uint8_t *feed; uint64_t seq; bool found; } c = { feed, seq,
	    false };
	uint64_t t = 0;

	if (kz_store_tip(st, feed, &t, NULL) == 0 && t >= seq)
		return true;
	kz_store_detached(st, count_det, &c);
	return c.found;
}

static void
restore(struct sim *s, int node)
{
	struct node *n = &s->nodes[node];
	uint64_t lost = 0;
	size_t i;

	/* Which of its entries since the backup reached no other node. */
	for (i = 0; i < s->n_acked; i++) {
		struct acked *a = &s->acked[i];
		bool held = false;

		if (a->node != node || a->lost || a->seq <= n->backup_tip)
			continue;
		for (int j = 0; j < s->k && !held; j++) {
			struct node *o = &s->nodes[j];
			struct kz_store *st = o->st;

			if (j == node)
				continue;
			if (st == NULL && kz_store_open(&st, o->path, NULL) < 0) {
				fail(s, "n%d: cannot open to look", j);
				return;
			}
			held = store_holds(st, n->kp.pk, a->seq);
			if (o->st == NULL)
				kz_store_free(st);
		}
		if (!held) {
			a->lost = true;
			lost++;
		}
	}
	trace(s, node, "restored from the backup at own seq %" PRIu64 " (own tip "
	    "was %" PRIu64 "; %" PRIu64 " entries reached no other node and are "
	    "lost)", n->backup_tip, own_tip(n), lost);
	s->st.restores++;
	s->st.restore_lost += lost;
	if (n->st != NULL)
		node_down(s, node);
	if (copy_store(n->backup, n->path) < 0) {
		fail(s, "n%d: restoring the backup failed", node);
		return;
	}
	n->restored = true;
	s->restore_done = true;
	node_start(s, node);
}

static void
on_fault(struct sim *s)
{
	double total = s->crash_rate + s->partition_rate + s->backup_rate +
	    s->restore_rate, x = rndf(s) * total;
	int node = (int)rnd(s, (uint64_t)s->k);
	struct node *n = &s->nodes[node];

	if (x < s->crash_rate) {
		if (n->st != NULL)
			crash(s, node, "kill -9");
	} else if ((x -= s->crash_rate) < s->partition_rate) {
		int li = (int)rnd(s, (uint64_t)s->n_links);
		struct link *l = &s->links[li];

		if (l->cut)
			return;
		l->cut = true;
		s->st.partitions++;
		trace(s, l->n[0], "link to n%d cut", l->n[1]);
		if (l->radio) {
			/* Nothing crosses the air; the ARQ notices by itself. */
			linksim_params(l->ls)->loss = 1.0;
		} else {
			link_drop(s, li, "partition");
		}
		at(s, s->now + rexp(s, 20 * MIN), EV_HEAL, li, 0, 0);
	} else if ((x -= s->partition_rate) < s->backup_rate) {
		if (n->st == NULL || n->restored)
			return;
		if (copy_store(n->path, n->backup) < 0) {
			fail(s, "n%d: backup copy failed", node);
			return;
		}
		n->has_backup = true;
		n->backup_tip = own_tip(n);
		trace(s, node, "backup taken at own seq %" PRIu64, n->backup_tip);
	} else {
		/* At most one restore a seed (docs: a rare operator act). */
		if (!n->has_backup || s->restore_done)
			return;
		restore(s, node);
	}
}

/* ------------------------------------------------------------ setup */

static void
add_link(struct sim *s, int a, int b, bool radio)
{
	struct link *l = &s->links[s->n_links++];

	memset(l, 0, sizeof(*l));
	l->n[0] = a;
	l->n[1] = b;
	l->radio = radio;
	l->bps = radio ? RADIO_BPS : LAN_BPS;
	/* Radio: the TNC and audio path; the air time is linksim's. */
	l->latency = radio ? 20 + rnd(s, 80) : 1 + rnd(s, 5);
}

static bool
has_link(struct sim *s, int a, int b)
{
	for (int i = 0; i < s->n_links; i++)
		if ((s->links[i].n[0] == a && s->links[i].n[1] == b) ||
		    (s->links[i].n[0] == b && s->links[i].n[1] == a))
			return true;
	return false;
}

static void
build_topology(struct sim *s)
{
	int k = s->k, h = k / 2, i, j;

	switch (s->topo) {
	case TOPO_CHAIN:
		for (i = 0; i + 1 < k; i++)
			add_link(s, i, i + 1, i == h - 1);
		break;
	case TOPO_STAR:
		for (i = 1; i < k; i++)
			add_link(s, 0, i, i == k - 1);
		break;
	case TOPO_RING:
		for (i = 0; i < k; i++)
			add_link(s, i, (i + 1) % k, i == h);
		break;
	case TOPO_ISLANDS:
		/* Two LAN islands (full meshes) joined by one radio link. */
		for (i = 0; i < k; i++)
			for (j = i + 1; j < k; j++)
				if ((i < h) == (j < h))
					add_link(s, i, j, false);
		add_link(s, h - 1, h, true);
		break;
	default:
		/* A random spanning tree plus a few more links. */
		for (i = 1; i < k; i++)
			add_link(s, (int)rnd(s, (uint64_t)i), i, rnd(s, 4) == 0);
		for (i = 0; i < k / 2; i++) {
			int a = (int)rnd(s, (uint64_t)k), b = (int)rnd(s, (uint64_t)k);

			if (a != b && !has_link(s, a, b))
				add_link(s, a, b, rnd(s, 4) == 0);
		}
		break;
	}
}

/*
 * A radio link's air: 1200-baud AFSK through KISS TNCs, half duplex with
 * carrier sense (collisions when both key up), Direwolf's TXDELAY and
 * TXTAIL, and this link's frame faults for the fault phase: loss, bursts
 * (Gilbert-Elliott), corruption, truncation, duplication.
 */
static int
radio_setup(struct sim *s, struct link *l)
{
	struct linksim_params *p = &l->fault_p;

	memset(p, 0, sizeof(*p));
	p->bytes_per_s = 150;
	p->frame_overhead = 19;
	p->txdelay_ms = 300;
	p->txtail_ms = 100;
	p->latency_ms = (uint32_t)l->latency;
	p->half_duplex = true;
	p->csma = true;
	p->slot_ms = 100;
	p->dcd_ms = 50;
	p->persist = 63;
	p->loss = l->loss;
	p->ge_enter = rndf(s) * 0.01;
	p->ge_leave = 0.1 + rndf(s) * 0.4;
	p->ge_loss = 0.5 + rndf(s) * 0.5;
	p->corrupt = l->corrupt * 5;
	p->truncate = rndf(s) * 0.005;
	p->dup = l->dup;
	if (linksim_new(&l->ls, p, rng_next(&s->rng)) < 0) {
		fail(s, "linksim_new: out of memory");
		return -1;
	}
	trace(s, l->n[0], "radio to n%d: loss %.3f, bursts %.4f/%.2f/%.2f, "
	    "corrupt %.4f, truncate %.4f, dup %.4f", l->n[1], p->loss,
	    p->ge_enter, p->ge_leave, p->ge_loss, p->corrupt, p->truncate, p->dup);
	return 0;
}

static int
setup(struct sim *s)
{
	struct node *root = &s->nodes[0];
	uint8_t mesh_id[32], seed[32];
	struct kz_appended app;
	struct kz_op op;
	char name[32];
	int i, rc;

	for (i = 0; i < N_USERS; i++)
		snprintf(s->users[i], sizeof(s->users[i]), "staff%d", i);
	for (i = 0; i < s->k; i++) {
		struct node *n = &s->nodes[i];
		uint64_t x = s->seed * 131 + (uint64_t)i;

		n->id = i;
		n->sim = s;
		for (int b = 0; b < 32; b += 8) {
			uint64_t v = splitmix64(&x);

			memcpy(seed + b, &v, 8);
		}
		if (kz_keypair_from_seed(&n->kp, seed) < 0)
			return -1;
		snprintf(n->path, sizeof(n->path), "%s/n%d.db", s->dir, i);
		snprintf(n->backup, sizeof(n->backup), "%s/n%d.backup", s->dir, i);
		/* Up to three hours either way, or none. */
		n->skew = rnd(s, 3) == 0 ? 0 :
		    (int64_t)rnd(s, 6 * HOUR) - (int64_t)(3 * HOUR);
		if (node_open(n) < 0)
			return -1;
		if ((rc = kz_views_set_root(n->st, root->kp.pk)) < 0) {
			fail(s, "kz_views_set_root: %s", kz_strerror(rc));
			return -1;
		}
		trace(s, i, "up, clock skew %+" PRId64 " s", n->skew / 1000);
	}
	memset(mesh_id, 0x5a, sizeof(mesh_id));
	op = (struct kz_op){ .type = KZ_OP_MESH_CREATE,
	    .u.mesh_create = { mesh_id, "谷川市" } };
	if (put(s, 0, &op, &app) != 0)
		return -1;
	ack(s, 0, &app);
	for (i = 1; i < s->k; i++) {
		snprintf(name, sizeof(name), "station-%d", i);
		op = (struct kz_op){ .type = KZ_OP_NODE_ADMIT,
		    .u.node_admit = { s->nodes[i].kp.pk, name, i == 1 } };
		if (put(s, 0, &op, &app) != 0)
			return -1;
		ack(s, 0, &app);
	}
	for (i = 0; i < N_USERS; i++) {
		op = (struct kz_op){ .type = KZ_OP_USER_SET,
		    .u.user_set = { .user = s->users[i], .set = KZ_USER_SET_ALL,
		    .display_name = "職員", .department = "防災課",
		    .role = i == 0 ? KZ_ROLE_ADMIN : KZ_ROLE_MEMBER,
		    .password_hash = "", .active = true } };
		if (put(s, 0, &op, &app) != 0)
			return -1;
		ack(s, 0, &app);
	}
	for (i = 0; i < N_CHANNELS; i++) {
		snprintf(name, sizeof(name), "避難所-%d", i);
		op = (struct kz_op){ .type = KZ_OP_CHANNEL_CREATE,
		    .u.channel_create = { name, "連絡" } };
		if (put(s, 0, &op, &app) != 0)
			return -1;
		ack(s, 0, &app);
		memcpy(s->channels[i], app.hash, 32);
	}
	trace(s, 0, "mesh founded: %d nodes admitted, %d users, %d channels",
	    s->k - 1, N_USERS, N_CHANNELS);
	build_topology(s);
	for (i = 0; i < s->n_links; i++) {
		struct link *l = &s->links[i];
		double scale = l->radio ? 3 : 1;

		l->loss = rndf(s) * 0.05 * scale;
		l->dup = rndf(s) * 0.02;
		l->reorder = rndf(s) * 0.02;
		l->corrupt = rndf(s) * 0.004 * scale;
		if (l->radio && radio_setup(s, l) < 0)
			return -1;
		trace(s, l->n[0], "link to n%d: %s, %" PRIu64 " ms", l->n[1],
		    l->radio ? "radio 1200 bit/s" : "LAN", l->latency);
		schedule_connect(s, i, rnd(s, SEC));
	}
	/* Raw links (LAN only) in one seed in four. */
	if (rnd(s, 4) == 0) {
		for (i = 0; i < s->n_links; i++) {
			if (rnd(s, 3) == 0 && !s->links[i].radio) {
				s->links[i].raw = true;
				s->st.raw_links++;
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------ checks */

struct hashes {
	uint8_t (*h)[32];
	size_t n, cap;
};

static int
on_log_entry(void *ctx, const struct kz_entry_view *e)
{
	struct hashes *hs = ctx;

	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 1024;
		void *p = realloc(hs->h, cap * 32);

		if (p == NULL)
			return KZ_ERR_NOMEM;
		hs->h = p;
		hs->cap = cap;
	}
	memcpy(hs->h[hs->n++], e->hash, 32);
	return 0;
}

static int
hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

struct feeds {
	struct kz_feed_info f[MAX_NODES + 4];
	int n;
	bool forked;
};

static int
on_feed_info(void *ctx, const struct kz_feed_info *fi)
{
	struct feeds *fs = ctx;

	if (fi->forked)
		fs->forked = true;
	if (fs->n < MAX_NODES + 4)
		fs->f[fs->n++] = *fi;
	return 0;
}

static int
on_fork(void *ctx, const struct kz_fork_proof *p)
{
	(void)p;
	(*(int *)ctx)++;
	return 0;
}

static int
on_detached(void *ctx, const uint8_t feed[32], uint64_t seq)
{
	(void)feed;
	(void)seq;
	(*(int *)ctx)++;
	return 0;
}

static void
check(struct sim *s)
{
	uint8_t d0[32];
	struct feeds f0 = { 0 };
	int i;

	for (i = 0; i < s->k && s->failure[0] == '\0'; i++) {
		struct node *n = &s->nodes[i];
		struct feeds fi = { 0 };
		struct hashes hs = { 0 };
		struct kz_verify_report rep;
		uint8_t d[32];
		char h1[17], h2[17];
		int forks = 0, det = 0, rc;

		if ((rc = kz_views_digest(n->st, d)) < 0) {
			fail(s, "n%d: kz_views_digest: %s", i, kz_strerror(rc));
			break;
		}
		kz_store_feeds(n->st, on_feed_info, &fi);
		kz_store_forks(n->st, on_fork, &forks);
		if (fi.forked || forks > 0) {
			fail(s, "invariant no-fork: n%d has a feed flagged forked "
			    "(%d proofs)", i, forks);
			break;
		}
		if ((rc = kz_store_verify(n->st, &rep)) < 0 || !rep.ok) {
			fail(s, "invariant verify: n%d: %s", i, rc < 0 ?
			    kz_strerror(rc) : rep.reason);
			break;
		}
		kz_store_detached(n->st, on_detached, &det);
		if (det > 0) {
			fail(s, "invariant no-detached: n%d holds %d detached entries",
			    i, det);
			break;
		}
		if (i == 0) {
			memcpy(d0, d, 32);
			f0 = fi;
		} else {
			bool same = fi.n == f0.n;

			for (int j = 0; same && j < fi.n; j++)
				same = memcmp(fi.f[j].key, f0.f[j].key, 32) == 0 &&
				    fi.f[j].tip == f0.f[j].tip;
			if (!same) {
				fail(s, "invariant same-tips: n%d holds other feed tips "
				    "than n0", i);
				break;
			}
			if (memcmp(d, d0, 32) != 0) {
				hex8(h1, d0);
				hex8(h2, d);
				fail(s, "invariant convergence: workspace digest of n%d "
				    "(%s) differs from n0 (%s) with the same entries", i,
				    h2, h1);
				break;
			}
		}
		if ((rc = kz_store_log(n->st, on_log_entry, &hs)) < 0) {
			fail(s, "n%d: kz_store_log: %s", i, kz_strerror(rc));
			free(hs.h);
			break;
		}
		qsort(hs.h, hs.n, 32, hash_cmp);
		for (size_t a = 0; a < s->n_acked; a++) {
			if (s->acked[a].lost)
				continue;
			if (bsearch(s->acked[a].hash, hs.h, hs.n, 32, hash_cmp) == NULL) {
				hex8(h1, s->acked[a].hash);
				fail(s, "invariant no-loss: n%d lacks acknowledged entry "
				    "%s (n%d seq %" PRIu64 ")", i, h1, s->acked[a].node,
				    s->acked[a].seq);
				break;
			}
		}
		free(hs.h);
	}
	if (s->failure[0] == '\0') {
		char h[17];

		hex8(h, d0);
		trace(s, -1, "checked: %d nodes, digest %s, %zu acknowledged entries",
		    s->k, h, s->n_acked);
	}
}

/* ------------------------------------------------------------ the run */

static void
dispatch(struct sim *s, struct ev *e)
{
	switch (e->kind) {
	case EV_DELIVER:
		on_deliver(s, e);
		break;
	case EV_WAKE:
		break;
	case EV_CONNECT:
		s->links[e->a].connect_pending = false;
		link_connect(s, e->a);
		break;
	case EV_WORK:
		if (!s->faults_on)
			break;
		on_work(s);
		at(s, s->now + rexp(s, 40 * SEC), EV_WORK, 0, 0, 0);
		break;
	case EV_FAULT:
		if (!s->faults_on)
			break;
		on_fault(s);
		at(s, s->now + rexp(s, 8 * MIN), EV_FAULT, 0, 0, 0);
		break;
	case EV_RESTART:
		on_restart(s, e->a);
		break;
	case EV_HEAL:
		if (s->links[e->a].cut) {
			s->links[e->a].cut = false;
			if (s->links[e->a].radio)
				radio_air(s, &s->links[e->a]);
			trace(s, s->links[e->a].n[0], "link to n%d healed",
			    s->links[e->a].n[1]);
			schedule_connect(s, e->a, rnd(s, 5 * SEC));
		}
		break;
	case EV_WATCHDOG:
		on_watchdog(s);
		break;
	case EV_RWRITE:
		on_rwrite(s, e->a);
		break;
	case EV_RADIO:
		if (e->gen == s->links[e->a].radio_tok) {
			s->links[e->a].radio_pending = false;
			radio_service(s, e->a);
		}
		break;
	case EV_RESTORE:
		if (s->faults_on && !s->restore_done && s->nodes[e->a].has_backup)
			restore(s, e->a);
		break;
	}
}

/* Whether anything is left to do: frames, or sessions not idle. */
static bool
busy(struct sim *s)
{
	for (int i = 0; i < s->n_links; i++) {
		struct link *l = &s->links[i];

		if (l->connect_pending)
			return true;
		if (!l->connected)
			continue;
		for (int j = 0; j < 2; j++)
			if (!side_idle(l, j) || side_state(l, j) != KZ_SYNC_LIVE ||
			    (l->radio && !kz_arq_idle(kz_rlink_arq(l->r[j]))))
				return true;
	}
	for (size_t i = 0; i < s->n_heap; i++)
		if (s->heap[i].kind == EV_DELIVER || s->heap[i].kind == EV_RESTART ||
		    s->heap[i].kind == EV_HEAL)
			return true;
	return false;
}

/* Runs events until t (or until quiet when quiet is set). */
static void
run_until(struct sim *s, uint64_t t, bool quiet)
{
	uint64_t next_dog = s->now + 30 * SEC;

	while (s->failure[0] == '\0') {
		struct ev e;

		if (quiet && !busy(s))
			return;
		if (s->n_heap == 0 || s->heap[0].t > next_dog) {
			if (next_dog > t)
				break;
			s->now = next_dog;
			next_dog += 30 * SEC;
			on_watchdog(s);
			pump(s);
			continue;
		}
		if (s->heap[0].t > t)
			break;
		e = ev_pop(s);
		s->now = e.t;
		dispatch(s, &e);
		pump(s);
	}
	if (s->now < t && !quiet)
		s->now = t;
}

static void
heal_all(struct sim *s)
{
	int i;

	s->faults_on = false;
	trace(s, -1, "faults stop: every node restarts, every link heals");
	for (i = 0; i < s->k; i++)
		if (s->nodes[i].st == NULL)
			on_restart(s, i);
	for (i = 0; i < s->n_links; i++) {
		struct link *l = &s->links[i];

		if (l->cut) {
			l->cut = false;
			trace(s, l->n[0], "link to n%d healed", l->n[1]);
		}
		if (l->radio)
			radio_air(s, l);	/* faults off: a clean channel */
		/* A session that met raw faults may have lost data in it. */
		if (l->connected && l->tainted)
			link_drop(s, i, "re-established after raw faults");
		l->raw = false;
		schedule_connect(s, i, rnd(s, 5 * SEC));
	}
}

/* Every node must be able to write once the mesh is healed and quiet. */
static void
final_writes(struct sim *s)
{
	for (int i = 0; i < s->k && s->failure[0] == '\0'; i++) {
		struct kz_op op = { .type = KZ_OP_SAFETY, .actor = s->users[i % N_USERS],
		    .u.safety = { "", KZ_SAFETY_SAFE, "本庁舎", "final" } };
		struct kz_appended app;
		int rc = put(s, i, &op, &app);

		if (rc == 1)
			fail(s, "invariant can-write: n%d still refuses to write "
			    "(KZ_ERR_BEHIND) after the mesh healed and went quiet", i);
		if (rc != 0)
			return;
		ack(s, i, &app);
		grew_local(s, i);
	}
	pump(s);
}

static void
sim_free(struct sim *s)
{
	for (int i = 0; i < s->n_links; i++) {
		kz_sync_free(s->links[i].s[0]);
		kz_sync_free(s->links[i].s[1]);
		kz_rlink_free(s->links[i].r[0]);
		kz_rlink_free(s->links[i].r[1]);
		linksim_free(s->links[i].ls);
	}
	for (int i = 0; i < s->k; i++) {
		kz_store_free(s->nodes[i].st);
		kz_keypair_wipe(&s->nodes[i].kp);
		remove_store(s->nodes[i].path);
		remove_store(s->nodes[i].backup);
	}
	rmdir(s->dir);
	for (size_t i = 0; i < s->n_heap; i++)
		free(s->heap[i].buf);
	free(s->heap);
	free(s->posts);
	free(s->acked);
}

/* Adds the radio links' air and ARQ figures to the seed's stats. */
static void
radio_totals(struct sim *s)
{
	for (int i = 0; i < s->n_links; i++) {
		struct link *l = &s->links[i];

		if (l->ls == NULL)
			continue;
		radio_free_session(s, l);	/* its ARQ figures */
		for (int j = 0; j < 2; j++) {
			struct linksim_stats st;

			linksim_get_stats(l->ls, j, &st);
			s->st.radio_frames += st.sent;
			s->st.radio_lost += st.lost;
			s->st.radio_collided += st.collided;
			s->st.radio_corrupted += st.corrupted;
			s->st.radio_truncated += st.truncated;
			s->st.radio_duplicated += st.duplicated;
			s->st.radio_air_ms += st.air_us / 1000;
		}
	}
}

struct opts {
	uint64_t first, seeds;
	int topo;		/* -1: cycle */
	int nodes;		/* 0: per topology */
	bool trace, flip, restore_heavy;
	uint64_t hours;
	const char *tmp;
};

/* Runs one seed; returns 0 or -1 (failure printed). */
static int
run_seed(const struct opts *o, uint64_t seed, enum topo topo, struct stats *tot,
    uint8_t trace_digest[16])
{
	struct sim *s = calloc(1, sizeof(*s));
	uint64_t quiet_deadline;
	int rc = 0;

	if (s == NULL)
		abort();
	s->seed = seed;
	s->topo = topo;
	s->k = o->nodes > 0 ? o->nodes : topo == TOPO_ISLANDS ? 6 : 5;
	s->trace = o->trace;
	s->flip = o->flip;
	s->restore_heavy = o->restore_heavy;
	rng_seed(&s->rng, seed ^ ((uint64_t)topo << 56));
	crypto_generichash_init(&s->trace_hash, NULL, 0, 16);
	snprintf(s->dir, sizeof(s->dir), "%s/kizuna-sim-XXXXXX", o->tmp);
	if (mkdtemp(s->dir) == NULL) {
		fprintf(stderr, "kizuna-sim: mkdtemp in %s: %s\n", o->tmp,
		    strerror(errno));
		free(s);
		return -1;
	}
	kz__test_flip_rule = o->flip;
	trace(s, -1, "seed %" PRIu64 " topology %s, %d nodes", seed,
	    topo_names[topo], s->k);
	s->crash_rate = rndf(s) * 1.0;
	s->partition_rate = 0.5 + rndf(s) * 2;
	s->backup_rate = rndf(s) * 0.5;
	s->restore_rate = rnd(s, 3) == 0 ? 0.3 : 0;
	if (o->restore_heavy) {
		/* Backups often, a restore in every seed, soon. */
		s->backup_rate = 2;
		s->restore_rate = 1;
	}
	if (setup(s) == 0) {
		s->faults_on = true;
		s->fault_end = o->hours * HOUR;
		at(s, rexp(s, 40 * SEC), EV_WORK, 0, 0, 0);
		at(s, rexp(s, 8 * MIN), EV_FAULT, 0, 0, 0);
		run_until(s, s->fault_end, false);
		if (s->failure[0] == '\0') {
			heal_all(s);
			quiet_deadline = s->now + 6 * HOUR;
			run_until(s, quiet_deadline, true);
			if (s->failure[0] == '\0' && busy(s))
				fail(s, "invariant quiet: still busy 6 simulated "
				    "hours after the heal");
		}
		if (s->failure[0] == '\0') {
			trace(s, -1, "quiet");
			final_writes(s);
			quiet_deadline = s->now + 6 * HOUR;
			run_until(s, quiet_deadline, true);
			if (s->failure[0] == '\0' && busy(s))
				fail(s, "invariant quiet: still busy 6 simulated "
				    "hours after the final writes");
		}
		if (s->failure[0] == '\0')
			check(s);
	}
	crypto_generichash_final(&s->trace_hash, trace_digest, 16);
	radio_totals(s);
	s->st.seeds = 1;
	s->st.sim_ms = s->now;
	if (s->failure[0] != '\0') {
		printf("FAIL seed=%" PRIu64 " topology=%s nodes=%d: %s\n"
		    "  replay: kizuna-sim --seed %" PRIu64 " --topology %s --nodes %d"
		    " --hours %" PRIu64 "%s%s --trace\n",
		    seed, topo_names[topo], s->k, s->failure, seed, topo_names[topo],
		    s->k, o->hours, o->flip ? " --flip-rule" : "",
		    o->restore_heavy ? " --restore-heavy" : "");
		rc = -1;
	}
	{
		uint64_t *a = (uint64_t *)tot, *b = (uint64_t *)&s->st;

		for (size_t i = 0; i < sizeof(*tot) / sizeof(uint64_t); i++)
			a[i] += b[i];
	}
	sim_free(s);
	free(s);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kizuna-sim --seeds N [--first S] [--topology T] [--nodes K]\n"
	    "                  [--hours H] [--flip-rule] [--restore-heavy]\n"
	    "                  [--keep-going]\n"
	    "       kizuna-sim --seed S [--topology T] [--nodes K] [--trace]\n"
	    "topologies: chain, star, ring, islands, random (default: by seed)\n");
	exit(2);
}

static uint64_t
num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0')
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct opts o = { .first = 1, .seeds = 1, .topo = -1, .hours = 2 };
	struct stats tot = { 0 };
	uint64_t failures = 0, first_failure = 0;
	bool keep_going = false;
	struct timespec t0, t1;
	uint8_t td[16];

	o.tmp = getenv("TMPDIR");
	if (o.tmp == NULL || *o.tmp == '\0')
		o.tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--seeds") == 0 && v != NULL) {
			o.seeds = num(v), i++;
		} else if (strcmp(a, "--first") == 0 && v != NULL) {
			o.first = num(v), i++;
		} else if (strcmp(a, "--seed") == 0 && v != NULL) {
			o.first = num(v), o.seeds = 1, i++;
		} else if (strcmp(a, "--nodes") == 0 && v != NULL) {
			o.nodes = (int)num(v), i++;
			if (o.nodes < 2 || o.nodes > MAX_NODES)
				usage();
		} else if (strcmp(a, "--hours") == 0 && v != NULL) {
			o.hours = num(v), i++;
		} else if (strcmp(a, "--topology") == 0 && v != NULL) {
			int t;

			for (t = 0; t < N_TOPO && strcmp(v, topo_names[t]) != 0; t++)
				;
			if (t == N_TOPO)
				usage();
			o.topo = t, i++;
		} else if (strcmp(a, "--trace") == 0) {
			o.trace = true;
		} else if (strcmp(a, "--flip-rule") == 0) {
			o.flip = true;
		} else if (strcmp(a, "--restore-heavy") == 0) {
			o.restore_heavy = true;
		} else if (strcmp(a, "--keep-going") == 0) {
			keep_going = true;
		} else {
			usage();
		}
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "kizuna-sim: sodium_init failed\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);	/* for the summary only */
	for (uint64_t seed = o.first; seed < o.first + o.seeds; seed++) {
		/* Without --topology the four named ones take turns. */
		enum topo topo = o.topo >= 0 ? (enum topo)o.topo :
		    (enum topo)(seed % 4);

		if (run_seed(&o, seed, topo, &tot, td) < 0) {
			if (failures++ == 0)
				first_failure = seed;
			if (!keep_going)
				break;
		}
		if (o.seeds == 1) {
			char h[33];

			for (int i = 0; i < 16; i++)
				snprintf(h + 2 * i, 3, "%02x", td[i]);
			printf("trace digest %s\n", h);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%" PRIu64 " seeds, %" PRIu64 " failed%s; %.1f simulated hours; "
	    "%" PRIu64 " appends (%" PRIu64 " groups), %" PRIu64 " refused behind, "
	    "%" PRIu64 " held by policy; %" PRIu64 " frames, %" PRIu64 " bytes; "
	    "faults: %" PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64
	    " reordered, %" PRIu64 " corrupt dropped, %" PRIu64 " corrupt given "
	    "(%" PRIu64 " refused), %" PRIu64 " partitions, %" PRIu64 " crashes (%"
	    PRIu64 " in a group, %" PRIu64 " uncommitted entries lost), %" PRIu64
	    " restores (%" PRIu64 " entries lost), %" PRIu64 " raw links, %" PRIu64
	    " watchdog drops (%" PRIu64 " on reliable links), %" PRIu64
	    " sessions closed; radio: %" PRIu64 " sessions, %" PRIu64 " frames (%"
	    PRIu64 " lost, %" PRIu64 " collided, %" PRIu64 " corrupted, %" PRIu64
	    " truncated, %" PRIu64 " duplicated, %.1f h on air), %" PRIu64
	    " ARQ retransmissions (%" PRIu64 " timeouts, %" PRIu64 " bad CRC), %"
	    PRIu64 " ARQ down, %" PRIu64 " back up, %" PRIu64 " stale frames "
	    "refused; %.1f s\n",
	    tot.seeds, failures, failures ? "" : " (all passed)",
	    (double)tot.sim_ms / HOUR, tot.appends, tot.groups, tot.behind,
	    tot.gated, tot.frames, tot.bytes, tot.lost, tot.duplicated,
	    tot.reordered, tot.corrupt_dropped, tot.corrupt_delivered,
	    tot.corrupt_refused, tot.partitions, tot.crashes, tot.crashes_in_group,
	    tot.group_entries_lost, tot.restores, tot.restore_lost, tot.raw_links,
	    tot.watchdog, tot.watchdog_reliable, tot.byes, tot.radio_sessions,
	    tot.radio_frames, tot.radio_lost, tot.radio_collided,
	    tot.radio_corrupted, tot.radio_truncated, tot.radio_duplicated,
	    (double)tot.radio_air_ms / HOUR, tot.arq_retransmits,
	    tot.arq_timeouts, tot.arq_bad_crc, tot.radio_downs, tot.radio_back,
	    tot.radio_stale, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (failures > 0)
		printf("first failing seed: %" PRIu64 "\n", first_failure);
	return failures > 0 ? 1 : 0;
}
