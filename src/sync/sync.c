/*
 * The sync protocol of one link (states and flow control in kizuna/sync.h).
 *
 * Transitions:
 *   kz_sync_start       queues Hello                        (HELLO)
 *   on_hello            digests equal → LIVE; else queue our Vector (EXCHANGE)
 *   on_vector           learn the peer's tips; answer with our Vector if we
 *                       have not sent one; schedule every feed it lacks
 *   kz_sync_next        sends control frames, then acks, then urgent entries
 *                       alone, then runs while the window allows (todo_pick:
 *                       opts.order); EXCHANGE → LIVE once nothing is left
 *   on_run              ingest (committed before it is acknowledged)
 *   on_entry            an urgent entry alone: ingested detached
 *   on_ack              slide the window
 *   on_bye, bad frames  → CLOSED
 *
 * What the peer holds is tracked per feed (ptips): from its Vector, from the
 * runs we sent it, and from the runs it sent us, so nothing is sent twice
 * that arrived, and a feed that grows here in LIVE is pushed from the
 * peer's tip.  A link cut off loses only the frames in flight: the next
 * session's vectors start after what was committed.
 *
 * Urgent first (DESIGN.md): an urgent entry whose own signature this node
 * holds (kz_store_urgent) and that the peer lacks travels alone, ahead of
 * every run and outside the window (it is small, and it must not wait
 * behind a backlog).  What the peer holds above its tip is tracked too
 * (known): from the detached seqs in its Vector, and from the entries sent
 * either way, so none travels twice.  kz_sync_next looks at the urgent
 * queue before every run frame, so an urgent entry written during a backlog
 * goes right after the frame being sent (and after what the caller already
 * took from the session: at most the window and one run).
 *
 * Slow links (docs/sync.md, "Slow links"), all off by default:
 *   - recent first (opts.order): todo_pick ranks feeds by class (recent,
 *     backfill) and by the hlc of their next entry to send;
 *   - batched acks (opts.ack_bytes): on_run marks an Ack due only at the
 *     threshold or the first time this node holds all the peer is known
 *     to hold; a Ping marks one due; kz_sync_next sends a held Ack ahead
 *     of any run or entry of ours (stash), and asks the peer with a Ping
 *     (make_ask) when its window is full, or in EXCHANGE when nothing is
 *     left while run bytes are unacknowledged;
 *   - batched live runs (opts.live_delay_ms): kz_sync_feed_grew opens a
 *     batch in LIVE when nothing else is on its way; next_run holds runs
 *     until the batch is due (by opts.now_ms) or a full run waits.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna.pb-c.h"
#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/op.h"
#include "kizuna/sync.h"
#include "kizuna/util.h"

#define DEFAULT_WINDOW (1024 * 1024)
#define DEFAULT_RUN_ENTRIES 1000
#define DEFAULT_RUN_BYTES (256 * 1024)
#define DEFAULT_RECENT_MS (24 * 3600 * 1000ull)

/* kz_sync_opts_slow_link: docs/sync.md, "Slow links", for the reasons. */
#define SLOW_RUN_ENTRIES 16
#define SLOW_RUN_BYTES 1536
#define SLOW_WINDOW 1536
#define SLOW_ACK_BYTES SLOW_WINDOW
#define SLOW_LIVE_DELAY_MS 2000

struct tip {
	uint8_t feed[32];
	uint64_t tip;
};

/* One entry of a feed (an urgent entry that travels alone). */
struct fseq {
	uint8_t feed[32];
	uint64_t seq;
};

#define URGENT_SCAN 64	/* urgent entries listed per feed at a time */
#define KZ_SYNC_KNOWN_MAX 4096	/* entries above its tip noted as the peer's */
#define KZ_SYNC_REFUSED_MAX 256	/* feeds refused as not admitted, noted */

struct todo {
	uint8_t feed[32];
	uint64_t next;		/* next seq to send */
	/* Filled by todo_pick: this node's tip of the feed, and (recent
	 * first) the hlc of the tip (cached while the tip stays) and of next. */
	uint64_t tip, hlc_tip_of, hlc_tip, hlc_next;
};

struct frame {
	uint8_t *buf;
	size_t len;
};

struct kz_sync {
	struct kz_store *st;
	uint8_t node[32];
	struct kz_sync_opts o;
	enum kz_sync_state state;
	bool have_peer;
	uint8_t peer[32];
	bool peer_vector;	/* the peer's tips are known */
	bool vector_sent;	/* our Vector went out */
	struct tip *ptips;
	size_t n_ptips, cap_ptips;
	struct todo *todo;
	size_t n_todo, cap_todo;
	struct fseq *known;	/* entries above ptip the peer holds */
	size_t n_known, cap_known;
	struct fseq *uq;	/* urgent entries to send alone, in order */
	size_t n_uq, cap_uq;
	struct fseq *refused;	/* feeds refused as not admitted (seq 0) */
	size_t n_refused, cap_refused;
	struct frame *ctl;	/* control frames to send, in order */
	size_t n_ctl, cap_ctl;
	uint64_t sent_run_bytes, acked_bytes;
	uint64_t asked;		/* sent_run_bytes when we last asked for an ack */
	uint64_t rx_committed;	/* run-frame bytes received and committed */
	uint64_t rx_acked;	/* of those, acknowledged */
	bool ack_due;
	bool caught_up;		/* we held all the peer held once: acked then */
	struct frame stash;	/* a frame to send after the Ack riding ahead */
	bool batch_open;	/* live runs held back since batch_at */
	uint64_t batch_at;
	unsigned logged;	/* reasons already logged (bit per KZ_ERR_ offset) */
	char reason[160];
	struct kz_sync_stats stats;
};

/* ------------------------------------------------------------ helpers */

/*
 * The list a of n elements of size bytes with room for one more: a itself,
 * or a moved by realloc with *cap doubled (16 at first).  NULL when memory
 * runs out (a is then unchanged and still the caller's).
 */
static void *
grow(void *a, size_t n, size_t *cap, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return a;
	if ((p = realloc(a, ncap * size)) != NULL)
		*cap = ncap;
	return p;
}

static bool
accepts(const struct kz_sync *s, const uint8_t feed[32])
{
	return s->o.accept_feed == NULL || s->o.accept_feed(s->o.ctx, feed);
}

/* Live batching is on: a delay and the caller's clock to measure it. */
static bool
batching(const struct kz_sync *s)
{
	return s->o.live_delay_ms > 0 && s->o.now_ms != NULL;
}

static struct tip *
ptip_find(struct kz_sync *s, const uint8_t feed[32])
{
	size_t i;

	for (i = 0; i < s->n_ptips; i++)
		if (memcmp(s->ptips[i].feed, feed, 32) == 0)
			return &s->ptips[i];
	return NULL;
}

static uint64_t
ptip_get(struct kz_sync *s, const uint8_t feed[32])
{
	struct tip *t = ptip_find(s, feed);

	return t != NULL ? t->tip : 0;
}

/* Raises what the peer is known to hold of feed to at least tip. */
static int
ptip_raise(struct kz_sync *s, const uint8_t feed[32], uint64_t tip)
{
	struct tip *t = ptip_find(s, feed);
	void *p;

	if (t != NULL) {
		if (tip > t->tip)
			t->tip = tip;
		return 0;
	}
	if ((p = grow(s->ptips, s->n_ptips, &s->cap_ptips,
	    sizeof(*s->ptips))) == NULL)
		return KZ_ERR_NOMEM;
	s->ptips = p;
	memcpy(s->ptips[s->n_ptips].feed, feed, 32);
	s->ptips[s->n_ptips++].tip = tip;
	return 0;
}

/* Schedules feed from seq next (or moves an existing entry forward). */
static int
todo_add(struct kz_sync *s, const uint8_t feed[32], uint64_t next)
{
	size_t i;
	void *p;

	for (i = 0; i < s->n_todo; i++) {
		if (memcmp(s->todo[i].feed, feed, 32) == 0) {
			if (next > s->todo[i].next)
				s->todo[i].next = next;
			return 0;
		}
	}
	if ((p = grow(s->todo, s->n_todo, &s->cap_todo,
	    sizeof(*s->todo))) == NULL)
		return KZ_ERR_NOMEM;
	s->todo = p;
	memset(&s->todo[s->n_todo], 0, sizeof(*s->todo));
	memcpy(s->todo[s->n_todo].feed, feed, 32);
	s->todo[s->n_todo++].next = next;
	return 0;
}

static void
todo_remove(struct kz_sync *s, size_t i)
{
	memmove(&s->todo[i], &s->todo[i + 1], (s->n_todo - i - 1) * sizeof(*s->todo));
	s->n_todo--;
}

static bool
fseq_has(const struct fseq *a, size_t n, const uint8_t feed[32], uint64_t seq)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i].seq == seq && memcmp(a[i].feed, feed, 32) == 0)
			return true;
	return false;
}

static int
fseq_add(struct fseq **a, size_t *n, size_t *cap, const uint8_t feed[32],
    uint64_t seq)
{
	void *p;

	if (fseq_has(*a, *n, feed, seq))
		return 0;
	if ((p = grow(*a, *n, cap, sizeof(**a))) == NULL)
		return KZ_ERR_NOMEM;
	*a = p;
	memcpy((*a)[*n].feed, feed, 32);
	(*a)[(*n)++].seq = seq;
	return 0;
}

/*
 * Notes that the peer holds entry seq of feed above its tip.  Bounded (a
 * peer decides how many it sends): past KZ_SYNC_KNOWN_MAX, entries now at
 * or below the peer's tip are dropped, and if none are, nothing more is
 * noted (an urgent entry may then be sent once more: harmless).
 */
static int
known_add(struct kz_sync *s, const uint8_t feed[32], uint64_t seq)
{
	size_t i = 0;

	if (s->n_known >= KZ_SYNC_KNOWN_MAX) {
		while (i < s->n_known) {
			if (s->known[i].seq <= ptip_get(s, s->known[i].feed))
				s->known[i] = s->known[--s->n_known];
			else
				i++;
		}
		if (s->n_known >= KZ_SYNC_KNOWN_MAX)
			return 0;
	}
	return fseq_add(&s->known, &s->n_known, &s->cap_known, feed, seq);
}

/*
 * Queues the urgent entries of feed above what the peer holds that it
 * does not hold detached either (the next URGENT_SCAN of them; the rest
 * on the next scan, or in their runs).
 */
static int
urgent_scan(struct kz_sync *s, const uint8_t feed[32])
{
	uint64_t seqs[URGENT_SCAN];
	size_t n, i;
	int rc;

	rc = kz_store_urgent(s->st, feed, ptip_get(s, feed), seqs, URGENT_SCAN, &n);
	for (i = 0; i < n && rc == 0; i++)
		if (!fseq_has(s->known, s->n_known, feed, seqs[i]))
			rc = fseq_add(&s->uq, &s->n_uq, &s->cap_uq, feed, seqs[i]);
	return rc;
}

static int
pack(const Kizuna__SyncMsg *m, uint8_t **buf, size_t *len)
{
	size_t n = kizuna__sync_msg__get_packed_size(m);

	if (n > KZ_SYNC_FRAME_MAX)
		return KZ_ERR_TOO_BIG;
	*buf = malloc(n ? n : 1);
	if (*buf == NULL)
		return KZ_ERR_NOMEM;
	kizuna__sync_msg__pack(m, *buf);
	*len = n;
	return 0;
}

static int
queue_ctl(struct kz_sync *s, const Kizuna__SyncMsg *m)
{
	struct frame f;
	void *p;
	int rc;

	if ((p = grow(s->ctl, s->n_ctl, &s->cap_ctl, sizeof(*s->ctl))) == NULL)
		return KZ_ERR_NOMEM;
	s->ctl = p;
	if ((rc = pack(m, &f.buf, &f.len)) < 0)
		return rc;
	s->ctl[s->n_ctl++] = f;
	return 0;
}

static void
close_with(struct kz_sync *s, const char *why)
{
	if (s->state != KZ_SYNC_CLOSED)
		snprintf(s->reason, sizeof(s->reason), "%s", why);
	s->state = KZ_SYNC_CLOSED;
}

static int say_bye(struct kz_sync *s, const char *why);

/* Ends the session for a frame the peer should never have sent. */
static void
refuse_frame(struct kz_sync *s, const char *why)
{
	if (s->state != KZ_SYNC_CLOSED)
		s->stats.bad_frames++;
	close_with(s, why);
}

/* The same, telling the peer why. */
static int
refuse_bye(struct kz_sync *s, const char *why)
{
	if (s->state != KZ_SYNC_CLOSED)
		s->stats.bad_frames++;
	return say_bye(s, why);
}

static int
say_bye(struct kz_sync *s, const char *why)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Bye bye = KIZUNA__BYE__INIT;

	bye.reason = (char *)why;
	m.body_case = KIZUNA__SYNC_MSG__BODY_BYE;
	m.bye = &bye;
	close_with(s, why);
	return queue_ctl(s, &m);
}

/* ------------------------------------------------------------ vectors */

struct vec {
	struct tip *t;
	size_t n, cap;
	struct fseq *det;	/* detached entries, by feed key and seq */
	size_t n_det, cap_det;
	bool (*accept)(void *ctx, const uint8_t feed[32]);
	void *ctx;
};

static int
on_detached(void *ctx, const uint8_t feed[32], uint64_t seq)
{
	struct vec *v = ctx;
	void *p;

	if (v->accept != NULL && !v->accept(v->ctx, feed))
		return 0;
	if ((p = grow(v->det, v->n_det, &v->cap_det, sizeof(*v->det))) == NULL)
		return KZ_ERR_NOMEM;
	v->det = p;
	memcpy(v->det[v->n_det].feed, feed, 32);
	v->det[v->n_det++].seq = seq;
	return 0;
}

static void
vec_free(struct vec *v)
{
	free(v->t);
	free(v->det);
}

/* The index of the first detached entry of feed in v->det, or v->n_det. */
static size_t
vec_det_first(const struct vec *v, const uint8_t feed[32])
{
	size_t j;

	for (j = 0; j < v->n_det; j++)
		if (memcmp(v->det[j].feed, feed, 32) == 0)
			return j;
	return v->n_det;
}

static int
on_feed(void *ctx, const struct kz_feed_info *fi)
{
	struct vec *v = ctx;
	void *p;

	if (v->accept != NULL && !v->accept(v->ctx, fi->key))
		return 0;
	if ((p = grow(v->t, v->n, &v->cap, sizeof(*v->t))) == NULL)
		return KZ_ERR_NOMEM;
	v->t = p;
	memcpy(v->t[v->n].feed, fi->key, 32);
	v->t[v->n++].tip = fi->tip;
	return 0;
}

/* This node's vector of accepted feeds, sorted by feed key. */
static int
vector_read(struct kz_store *st, bool (*accept)(void *, const uint8_t *),
    void *ctx, struct vec *v)
{
	int rc;

	memset(v, 0, sizeof(*v));
	v->accept = accept;
	v->ctx = ctx;
	rc = kz_store_feeds(st, on_feed, v);
	if (rc == 0)
		rc = kz_store_detached(st, on_detached, v);
	return rc;
}

static void
vector_digest(const struct vec *v, uint8_t out[16])
{
	crypto_generichash_state h;
	size_t i;

	crypto_generichash_init(&h, NULL, 0, 16);
	for (i = 0; i < v->n; i++) {
		uint8_t tip[8];
		size_t j;

		kz_put_be64(tip, v->t[i].tip);
		crypto_generichash_update(&h, v->t[i].feed, 32);
		crypto_generichash_update(&h, tip, 8);
		/* Then its detached seqs, if any (a vector with none hashes
		 * as it did before detached entries existed). */
		for (j = vec_det_first(v, v->t[i].feed); j < v->n_det &&
		    memcmp(v->det[j].feed, v->t[i].feed, 32) == 0; j++) {
			kz_put_be64(tip, v->det[j].seq);
			crypto_generichash_update(&h, tip, 8);
		}
	}
	crypto_generichash_final(&h, out, 16);
}

int
kz_sync_vector_digest(struct kz_store *st,
    bool (*accept_feed)(void *ctx, const uint8_t feed[32]), void *ctx,
    uint8_t out[16])
{
	struct vec v;
	int rc = vector_read(st, accept_feed, ctx, &v);

	if (rc == 0)
		vector_digest(&v, out);
	vec_free(&v);
	return rc;
}

/* ------------------------------------------------------------ lifetime */

int
kz_sync_new(struct kz_sync **out, struct kz_store *st, const uint8_t node[32],
    const struct kz_sync_opts *opts)
{
	struct kz_sync *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return KZ_ERR_NOMEM;
	s->st = st;
	memcpy(s->node, node, 32);
	if (opts != NULL)
		s->o = *opts;
	if (s->o.window == 0)
		s->o.window = DEFAULT_WINDOW;
	if (s->o.run_entries == 0)
		s->o.run_entries = DEFAULT_RUN_ENTRIES;
	if (s->o.run_bytes == 0)
		s->o.run_bytes = DEFAULT_RUN_BYTES;
	if (s->o.recent_ms == 0)
		s->o.recent_ms = DEFAULT_RECENT_MS;
	if (s->o.peer_name == NULL)
		s->o.peer_name = "peer";
	s->state = KZ_SYNC_HELLO;
	*out = s;
	return 0;
}

void
kz_sync_free(struct kz_sync *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_ctl; i++)
		free(s->ctl[i].buf);
	free(s->ctl);
	free(s->stash.buf);
	free(s->ptips);
	free(s->todo);
	free(s->known);
	free(s->uq);
	free(s->refused);
	free(s);
}

int
kz_sync_start(struct kz_sync *s)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Hello hello = KIZUNA__HELLO__INIT;
	uint8_t digest[16];
	int rc;

	rc = kz_sync_vector_digest(s->st, s->o.accept_feed, s->o.ctx, digest);
	if (rc < 0)
		return rc;
	hello.version = KZ_SYNC_VERSION;
	hello.node.data = s->node;
	hello.node.len = 32;
	hello.digest.data = digest;
	hello.digest.len = 16;
	m.body_case = KIZUNA__SYNC_MSG__BODY_HELLO;
	m.hello = &hello;
	return queue_ctl(s, &m);
}

/* ------------------------------------------------------------ receiving */

static int
send_vector(struct kz_sync *s, const struct vec *v)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Vector vm = KIZUNA__VECTOR__INIT;
	Kizuna__FeedTip *tips = calloc(v->n + 1, sizeof(*tips));
	Kizuna__FeedTip **ptrs = calloc(v->n + 1, sizeof(*ptrs));
	uint64_t *dets = calloc(v->n_det + 1, sizeof(*dets));
	size_t i, j, k = 0;
	int rc = KZ_ERR_NOMEM;

	if (tips == NULL || ptrs == NULL || dets == NULL)
		goto out;
	for (i = 0; i < v->n; i++) {
		kizuna__feed_tip__init(&tips[i]);
		tips[i].feed.data = (uint8_t *)v->t[i].feed;
		tips[i].feed.len = 32;
		tips[i].tip = v->t[i].tip;
		tips[i].detached = dets + k;
		for (j = vec_det_first(v, v->t[i].feed); j < v->n_det &&
		    memcmp(v->det[j].feed, v->t[i].feed, 32) == 0; j++)
			dets[k++] = v->det[j].seq;
		tips[i].n_detached = (size_t)(dets + k - tips[i].detached);
		ptrs[i] = &tips[i];
	}
	vm.n_feeds = v->n;
	vm.feeds = ptrs;
	m.body_case = KIZUNA__SYNC_MSG__BODY_VECTOR;
	m.vector = &vm;
	rc = queue_ctl(s, &m);
	if (rc == 0)
		s->vector_sent = true;
out:
	free(tips);
	free(ptrs);
	free(dets);
	return rc;
}

static int
on_hello(struct kz_sync *s, const Kizuna__Hello *h)
{
	struct vec v;
	uint8_t digest[16];
	char why[160];
	size_t i;
	int rc;

	if (s->have_peer)
		return refuse_bye(s, "a second hello");
	if (h->version != KZ_SYNC_VERSION) {
		snprintf(why, sizeof(why), "protocol version %u is not supported "
		    "(this node speaks %u)", h->version, KZ_SYNC_VERSION);
		kz_log(s->o.log, KZ_LOG_WARN, "%s: %s", s->o.peer_name, why);
		return say_bye(s, why);
	}
	if (h->node.len != 32 || h->digest.len != 16)
		return refuse_bye(s, "malformed hello");
	memcpy(s->peer, h->node.data, 32);
	s->have_peer = true;
	if ((rc = vector_read(s->st, s->o.accept_feed, s->o.ctx, &v)) < 0)
		goto out;
	vector_digest(&v, digest);
	if (sodium_memcmp(digest, h->digest.data, 16) == 0) {
		/* In sync: the peer holds exactly our tips. */
		for (i = 0; i < v.n && rc == 0; i++)
			rc = ptip_raise(s, v.t[i].feed, v.t[i].tip);
		s->peer_vector = true;
		s->state = KZ_SYNC_LIVE;
	} else {
		rc = send_vector(s, &v);
		s->state = KZ_SYNC_EXCHANGE;
	}
out:
	vec_free(&v);
	return rc;
}

static int
on_vector(struct kz_sync *s, const Kizuna__Vector *vm)
{
	struct vec v;
	size_t i;
	int rc;

	if (vm->n_feeds > KZ_SYNC_FEEDS_MAX)
		return refuse_bye(s, "vector too large");
	for (i = 0; i < vm->n_feeds; i++) {
		const Kizuna__FeedTip *t = vm->feeds[i];
		struct tip *pt;
		size_t j;

		if (t->feed.len != 32 || t->n_detached > KZ_SYNC_DETACHED_MAX)
			return refuse_bye(s, "malformed vector");
		if ((rc = ptip_raise(s, t->feed.data, t->tip)) < 0)
			return rc;
		/*
		 * A Vector sent again lists feeds the peer refused before: what
		 * we sent of them is gone, so they start again from its tip.
		 * (Never for others: their runs in flight would go twice.)
		 */
		if (vm->again && (pt = ptip_find(s, t->feed.data)) != NULL &&
		    pt->tip > t->tip) {
			pt->tip = t->tip;
			for (j = 0; j < s->n_todo; j++)
				if (memcmp(s->todo[j].feed, t->feed.data, 32) == 0 &&
				    s->todo[j].next > t->tip + 1)
					s->todo[j].next = t->tip + 1;
		}
		/* More of our own feed than we hold: restored from a backup
		 * (an entry of ours it holds detached counts too). */
		if (memcmp(t->feed.data, s->node, 32) == 0) {
			uint64_t most = t->tip;

			for (j = 0; j < t->n_detached; j++)
				if (t->detached[j] > most)
					most = t->detached[j];
			if ((rc = kz_store_note_peer_tip(s->st, s->node, most)) < 0)
				return rc;
		}
		for (j = 0; j < t->n_detached; j++)
			if (t->detached[j] > t->tip &&
			    (rc = known_add(s, t->feed.data, t->detached[j])) < 0)
				return rc;
	}
	s->peer_vector = true;
	if ((rc = vector_read(s->st, s->o.accept_feed, s->o.ctx, &v)) < 0)
		goto out;
	/*
	 * The peer may have judged us in sync from a hello we sent before our
	 * feeds grew; answering its vector with ours completes the exchange
	 * whatever either side concluded from the digests.
	 */
	if (!s->vector_sent && (rc = send_vector(s, &v)) < 0)
		goto out;
	for (i = 0; i < v.n && rc == 0; i++) {
		uint64_t have = ptip_get(s, v.t[i].feed);

		if (v.t[i].tip > have)
			rc = todo_add(s, v.t[i].feed, have + 1);
		if (rc == 0)
			rc = urgent_scan(s, v.t[i].feed);
	}
out:
	vec_free(&v);
	return rc;
}

/* Logs a refused run, once per reason per session. */
static void
log_refused(struct kz_sync *s, const struct kz_run *run, int why)
{
	unsigned bit = (unsigned)(why - KZ__ERR_FIRST) % 32u;
	char fp[KZ_FINGERPRINT_CHARS + 1];

	s->stats.runs_rejected++;
	/* Not admitted here: asked for again once it is (vector_again). */
	if (why == KZ_ERR_NOT_FOUND && s->n_refused < KZ_SYNC_REFUSED_MAX)
		(void)fseq_add(&s->refused, &s->n_refused, &s->cap_refused,
		    run->author, 0);
	if (s->o.refused != NULL)
		s->o.refused(s->o.ctx, run->author, why);
	if (s->logged & (1u << bit))
		return;
	s->logged |= 1u << bit;
	kz_fingerprint(fp, run->author);
	kz_log(s->o.log, KZ_LOG_WARN, "%s: run of feed %s seq %llu..%llu refused: "
	    "%s", s->o.peer_name, fp, (unsigned long long)run->first_seq,
	    (unsigned long long)(run->first_seq + run->n - 1), kz_strerror(why));
}

/*
 * The entries of run past old_tip (just stored) whose op bytes are no
 * operation this node knows (invalid UTF-8, a field over its bound, junk):
 * validly signed, so stored (refusing them would leave a hole in the feed
 * that no node could fill), inert in the workspace, and told to the caller
 * by reason (opts.inert).
 */
static void
count_inert(struct kz_sync *s, const struct kz_run *run, uint64_t old_tip)
{
	size_t i = old_tip >= run->first_seq ? (size_t)(old_tip - run->first_seq + 1) : 0;

	if (s->o.inert == NULL)
		return;
	for (; i < run->n; i++) {
		struct kz_op *op = NULL;
		int rc;

		if (run->entries[i].op == NULL)
			continue;	/* purged on the sender */
		rc = kz_op_decode(&op, run->entries[i].op, run->entries[i].op_len);
		kz_op_free(op);
		if (rc < 0 && rc != KZ_ERR_NOMEM) {
			s->stats.inert_in++;
			s->o.inert(s->o.ctx, run->author, rc);
		}
	}
}

/*
 * Whether this node holds, of every feed it accepts, all the peer is known
 * to hold (from its Vector and the runs either way): the peer then has
 * nothing more to send us that we know of, so a batched Ack should not
 * wait.  The feed of the run just received is looked at first (during a
 * catch-up it is usually still behind: one read).  A store error says
 * yes: acknowledging early is always safe.
 */
static bool
holds_all_of_peer(struct kz_sync *s, const uint8_t feed[32])
{
	uint64_t tip;
	size_t i;

	if (kz_store_tip(s->st, feed, &tip, NULL) == 0 && accepts(s, feed) &&
	    tip < ptip_get(s, feed))
		return false;
	for (i = 0; i < s->n_ptips; i++) {
		if (s->ptips[i].tip == 0 || !accepts(s, s->ptips[i].feed))
			continue;
		if (kz_store_tip(s->st, s->ptips[i].feed, &tip, NULL) < 0)
			return true;
		if (tip < s->ptips[i].tip)
			return false;
	}
	return true;
}

static int
on_run(struct kz_sync *s, const ProtobufCBinaryData *bytes, size_t frame_len)
{
	struct kz_run *run = NULL;
	struct kz_ingest_result res;
	uint64_t last, old_tip = 0;
	int rc;

	rc = kz_run_decode(&run, bytes->data, bytes->len);
	if (rc < 0) {
		refuse_frame(s, "malformed run");
		return rc;
	}
	last = run->first_seq + run->n - 1;
	if (!accepts(s, run->author)) {
		log_refused(s, run, KZ_ERR_NOT_FOUND);
		rc = 0;
		goto done;
	}
	if ((rc = kz_store_tip(s->st, run->author, &old_tip, NULL)) < 0) {
		kz_run_free(run);
		return rc;
	}
	rc = kz_store_ingest(s->st, run, &res);
	if (rc == KZ_ERR_FULL || rc == KZ_ERR_DB || rc == KZ_ERR_NOMEM ||
	    rc == KZ_ERR_CORRUPT) {
		/*
		 * Not committed, so not acknowledged.  The sender moved on
		 * past it and would send only runs we must refuse as gaps:
		 * the session ends, and the next starts from what is stored.
		 */
		kz_run_free(run);
		(void)say_bye(s, rc == KZ_ERR_FULL ? "the receiving node's disk "
		    "is full" : "the receiving node cannot store what was sent");
		return rc;
	}
	if (rc < 0) {
		log_refused(s, run, rc);
		rc = 0;
	} else {
		size_t i;

		s->stats.entries_in += res.added;
		/* Their stored size (header and op, none when purged): the
		 * mean sizes what the peer still has to send. */
		for (i = 0; i < run->n; i++)
			s->stats.sized_bytes_in += KZ_HEADER_BYTES +
			    (run->entries[i].op != NULL ?
			    run->entries[i].op_len : 0);
		s->stats.sized_in += run->n;
		if (res.added > 0)
			count_inert(s, run, old_tip);
		if (res.added > 0 && s->o.feed_grew != NULL)
			s->o.feed_grew(s->o.ctx, run->author);
	}
	/* The peer holds this run, whatever we made of it. */
	if ((rc = ptip_raise(s, run->author, last)) == 0) {
		size_t i;

		for (i = 0; i < s->n_todo; i++)
			if (memcmp(s->todo[i].feed, run->author, 32) == 0 &&
			    s->todo[i].next <= last)
				s->todo[i].next = last + 1;
	}
done:
	s->rx_committed += frame_len;
	if (s->o.ack_bytes == 0 || s->rx_committed - s->rx_acked >= s->o.ack_bytes)
		s->ack_due = true;
	else if (!s->caught_up && holds_all_of_peer(s, run->author))
		s->ack_due = s->caught_up = true;
	kz_run_free(run);
	return rc;
}

static int
on_entry(struct kz_sync *s, const ProtobufCBinaryData *bytes)
{
	struct kz_run *run = NULL;
	struct kz_ingest_result res;
	int rc;

	rc = kz_run_decode(&run, bytes->data, bytes->len);
	if (rc == 0 && (run->n != 1 || !run->has_prev))
		rc = KZ_ERR_MALFORMED;
	if (rc < 0) {
		kz_run_free(run);
		refuse_frame(s, "malformed entry");
		return rc;
	}
	if (!accepts(s, run->author)) {
		log_refused(s, run, KZ_ERR_NOT_FOUND);
		kz_run_free(run);
		return 0;	/* not tracked: any key can be named */
	}
	rc = kz_store_ingest_entry(s->st, run, &res);
	if (rc == KZ_ERR_FULL || rc == KZ_ERR_DB || rc == KZ_ERR_NOMEM ||
	    rc == KZ_ERR_CORRUPT) {
		/* Not stored: it comes again in its run. */
		kz_run_free(run);
		return rc;
	}
	if (rc < 0) {
		log_refused(s, run, rc);
		rc = 0;
	} else {
		s->stats.entries_in += res.added;
		s->stats.urgent_in += res.added;
		if (res.added > 0 && s->o.feed_grew != NULL)
			s->o.feed_grew(s->o.ctx, run->author);
	}
	/* The peer holds it, whatever we made of it. */
	if (rc == 0)
		rc = known_add(s, run->author, run->first_seq);
	kz_run_free(run);
	return rc;
}

int
kz_sync_receive(struct kz_sync *s, const uint8_t *frame, size_t len)
{
	Kizuna__SyncMsg *m;
	int rc = 0;

	if (s->state == KZ_SYNC_CLOSED)
		return KZ_ERR_INVAL;
	if (len > KZ_SYNC_FRAME_MAX) {
		refuse_frame(s, "frame too big");
		return KZ_ERR_TOO_BIG;
	}
	m = kizuna__sync_msg__unpack(NULL, len, frame);
	if (m == NULL) {
		refuse_frame(s, "malformed frame");
		return KZ_ERR_MALFORMED;
	}
	s->stats.frames_in++;
	s->stats.bytes_in += len;
	if (m->body_case != KIZUNA__SYNC_MSG__BODY_HELLO &&
	    m->body_case != KIZUNA__SYNC_MSG__BODY_BYE && !s->have_peer) {
		rc = refuse_bye(s, "no hello first");
		goto out;
	}
	switch (m->body_case) {
	case KIZUNA__SYNC_MSG__BODY_HELLO:
		rc = on_hello(s, m->hello);
		break;
	case KIZUNA__SYNC_MSG__BODY_VECTOR:
		rc = on_vector(s, m->vector);
		break;
	case KIZUNA__SYNC_MSG__BODY_RUN:
		rc = on_run(s, &m->run, len);
		break;
	case KIZUNA__SYNC_MSG__BODY_ENTRY:
		rc = on_entry(s, &m->entry);
		break;
	case KIZUNA__SYNC_MSG__BODY_ACK:
		if (m->ack->bytes > s->acked_bytes && m->ack->bytes <= s->sent_run_bytes)
			s->acked_bytes = m->ack->bytes;
		break;
	case KIZUNA__SYNC_MSG__BODY_PING:
		/* Heard; and a peer that asks gets what we hold back. */
		if (s->rx_committed > s->rx_acked)
			s->ack_due = true;
		break;
	case KIZUNA__SYNC_MSG__BODY_BYE:
		kz_log(s->o.log, KZ_LOG_INFO, "%s: closed by peer: %s", s->o.peer_name,
		    m->bye->reason);
		close_with(s, m->bye->reason);
		break;
	default:
		/* A message of a later protocol revision: ignored. */
		break;
	}
out:
	kizuna__sync_msg__free_unpacked(m, NULL);
	return rc;
}

/* ------------------------------------------------------------ sending */

/*
 * The next urgent entry the peer lacks, alone: 0 and a frame, or 1 when
 * none is queued.
 */
static int
next_entry(struct kz_sync *s, uint8_t **frame, size_t *len)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;

	while (s->n_uq > 0) {
		struct fseq e = s->uq[0];
		struct kz_run *run = NULL;
		uint8_t *bytes = NULL;
		size_t nbytes;
		int rc;

		memmove(&s->uq[0], &s->uq[1], (s->n_uq - 1) * sizeof(*s->uq));
		s->n_uq--;
		if (e.seq <= ptip_get(s, e.feed) ||
		    fseq_has(s->known, s->n_known, e.feed, e.seq))
			continue;
		rc = kz_store_read_entry(s->st, e.feed, e.seq, &run);
		if (rc == KZ_ERR_NOT_FOUND)
			continue;	/* purged meanwhile: it goes in its run */
		if (rc == 0)
			rc = kz_run_encode(&bytes, &nbytes, run);
		if (rc == 0) {
			m.body_case = KIZUNA__SYNC_MSG__BODY_ENTRY;
			m.entry.data = bytes;
			m.entry.len = nbytes;
			rc = pack(&m, frame, len);
		}
		if (rc == 0)
			rc = known_add(s, e.feed, e.seq);
		if (rc == 0) {
			s->stats.entries_out++;
			s->stats.urgent_out++;
		}
		free(bytes);
		kz_run_free(run);
		return rc;
	}
	return 1;
}

/*
 * Whether todo a goes before todo b in opts.order.  KZ_SYNC_LEAST_LEFT: the
 * fewest entries left.  KZ_SYNC_RECENT_FIRST: a recent feed (ra) before a
 * backfill one; then the newer next entry; then the fewest left.  Ties
 * keep the order scheduled.
 */
static bool
todo_before(const struct kz_sync *s, const struct todo *a, bool ra,
    const struct todo *b, bool rb)
{
	uint64_t left_a = a->tip - a->next, left_b = b->tip - b->next;

	if (s->o.order == KZ_SYNC_RECENT_FIRST) {
		if (ra != rb)
			return ra;
		if (a->hlc_next != b->hlc_next)
			return a->hlc_next > b->hlc_next;
	}
	return left_a < left_b;
}

/*
 * The todo to send from next in opts.order, dropping those with nothing
 * left; *pending is the number of entries left in all of them.  Returns
 * its index, or -1 when none is left (or on a store error, in *err).
 *
 * Recent first: ref is the newest tip hlc of the feeds with something
 * left; a feed is recent when its tip's hlc is at most opts.recent_ms
 * older than ref (so a feed whose whole missing range is old goes after
 * every feed with anything recent, even one that must first send its own
 * old entries to reach its recent ones: the chain forces that order).
 */
static int
todo_pick(struct kz_sync *s, uint64_t *pending, int *err)
{
	size_t i = 0, best = SIZE_MAX;
	uint64_t ref = 0, horizon = 0;
	bool recent_first = s->o.order == KZ_SYNC_RECENT_FIRST, best_recent = false;
	int rc;

	*err = 0;
	*pending = 0;
	while (i < s->n_todo) {
		struct todo *t = &s->todo[i];

		if ((rc = kz_store_tip(s->st, t->feed, &t->tip, NULL)) < 0)
			goto fail;
		/* The peer holds these detached: its chain moves over them. */
		while (s->n_known > 0 && fseq_has(s->known, s->n_known,
		    t->feed, t->next))
			t->next++;
		if (t->next > t->tip) {
			todo_remove(s, i);
			continue;
		}
		*pending += t->tip - t->next + 1;
		if (recent_first) {
			if (t->hlc_tip_of != t->tip) {
				if ((rc = kz_store_entry_hlc(s->st, t->feed, t->tip,
				    &t->hlc_tip)) < 0)
					goto fail;
				t->hlc_tip_of = t->tip;
			}
			if ((rc = kz_store_entry_hlc(s->st, t->feed, t->next,
			    &t->hlc_next)) < 0)
				goto fail;
			if (t->hlc_tip > ref)
				ref = t->hlc_tip;
		}
		i++;
	}
	if (recent_first && kz_hlc_ms(ref) > s->o.recent_ms)
		horizon = kz_hlc_ms(ref) - s->o.recent_ms;
	for (i = 0; i < s->n_todo; i++) {
		bool recent = kz_hlc_ms(s->todo[i].hlc_tip) >= horizon;

		if (best == SIZE_MAX || todo_before(s, &s->todo[i], recent,
		    &s->todo[best], best_recent)) {
			best = i;
			best_recent = recent;
		}
	}
	return best == SIZE_MAX ? -1 : (int)best;
fail:
	*err = rc;
	return -1;
}

static int
next_run(struct kz_sync *s, uint8_t **frame, size_t *len)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	uint64_t pending;
	int pick, err;

	if (s->n_todo > 0 && s->sent_run_bytes - s->acked_bytes >= s->o.window)
		return 1;
	pick = todo_pick(s, &pending, &err);
	/*
	 * Live batching: held until the batch is due, unless a full run is
	 * already waiting (holding it longer saves nothing).
	 */
	if (pick >= 0 && s->batch_open && pending < s->o.run_entries &&
	    s->o.now_ms(s->o.ctx) < s->batch_at + s->o.live_delay_ms)
		return 1;
	s->batch_open = false;
	if (pick >= 0) {
		struct todo *t = &s->todo[pick];
		struct kz_run *run = NULL;
		uint8_t *bytes = NULL;
		size_t nbytes;
		int rc;

		rc = kz_store_read_run(s->st, t->feed, t->next, s->o.run_entries,
		    s->o.run_bytes, &run);
		if (rc == 0 && s->o.omit_prev)
			run->has_prev = false;
		if (rc == 0)
			rc = kz_run_encode(&bytes, &nbytes, run);
		if (rc == 0) {
			m.body_case = KIZUNA__SYNC_MSG__BODY_RUN;
			m.run.data = bytes;
			m.run.len = nbytes;
			rc = pack(&m, frame, len);
		}
		if (rc == 0) {
			t->next = run->first_seq + run->n;
			rc = ptip_raise(s, t->feed, t->next - 1);
			s->sent_run_bytes += *len;
			s->stats.entries_out += run->n;
			s->stats.runs_out++;
		}
		free(bytes);
		kz_run_free(run);
		return rc;
	}
	if (err < 0)
		return err;
	if (s->state == KZ_SYNC_EXCHANGE && s->peer_vector && s->n_uq == 0)
		s->state = KZ_SYNC_LIVE;
	return 1;
}

/* A SyncAck for everything committed so far. */
static int
make_ack(struct kz_sync *s, uint8_t **frame, size_t *len)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__SyncAck ack = KIZUNA__SYNC_ACK__INIT;
	int rc;

	ack.bytes = s->rx_committed;
	m.body_case = KIZUNA__SYNC_MSG__BODY_ACK;
	m.ack = &ack;
	if ((rc = pack(&m, frame, len)) == 0) {
		s->ack_due = false;
		s->rx_acked = s->rx_committed;
		s->stats.acks_out++;
	}
	return rc;
}

/*
 * With batched acks: a Ping asking the peer for its Ack, at most once per
 * run sent, when our window is full, or (not live: the end of a catch-up)
 * when nothing is left while run bytes are unacknowledged, so neither side
 * waits on the other.  live: the state before this kz_sync_next.  1: none
 * due.
 */
static int
make_ask(struct kz_sync *s, bool live, uint8_t **frame, size_t *len)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Ping ping = KIZUNA__PING__INIT;
	int rc;

	if (s->o.ack_bytes == 0 || s->sent_run_bytes == s->acked_bytes ||
	    s->asked == s->sent_run_bytes)
		return 1;
	/* In LIVE only a full window asks: live runs' acks wait for the
	 * threshold (or a keepalive Ping), which is the point. */
	if (live && s->sent_run_bytes - s->acked_bytes < s->o.window)
		return 1;
	m.body_case = KIZUNA__SYNC_MSG__BODY_PING;
	m.ping = &ping;
	if ((rc = pack(&m, frame, len)) == 0) {
		s->asked = s->sent_run_bytes;
		s->stats.asks_out++;
	}
	return rc;
}

int
kz_sync_next(struct kz_sync *s, uint8_t **frame, size_t *len)
{
	int rc;

	*frame = NULL;
	*len = 0;
	if (s->stash.buf != NULL && s->state != KZ_SYNC_CLOSED) {
		*frame = s->stash.buf;
		*len = s->stash.len;
		s->stash.buf = NULL;
		rc = 0;
	} else if (s->n_ctl > 0) {
		*frame = s->ctl[0].buf;
		*len = s->ctl[0].len;
		memmove(&s->ctl[0], &s->ctl[1], (s->n_ctl - 1) * sizeof(*s->ctl));
		s->n_ctl--;
		rc = 0;
	} else if (s->state == KZ_SYNC_CLOSED) {
		return 1;
	} else if (s->ack_due) {
		rc = make_ack(s, frame, len);
	} else if (s->peer_vector) {
		bool live = s->state == KZ_SYNC_LIVE;

		rc = next_entry(s, frame, len);
		if (rc == 1)
			rc = next_run(s, frame, len);
		if (rc == 0 && s->rx_committed > s->rx_acked) {
			/* A held Ack rides ahead of what we send anyway. */
			s->stash.buf = *frame;
			s->stash.len = *len;
			rc = make_ack(s, frame, len);
			if (rc < 0) {
				free(s->stash.buf);
				s->stash.buf = NULL;
			}
		} else if (rc == 1) {
			rc = make_ask(s, live, frame, len);
		}
	} else {
		return 1;
	}
	if (rc == 0) {
		s->stats.frames_out++;
		s->stats.bytes_out += *len;
	}
	return rc;
}

/* Entries scheduled and not yet sent, over every todo (store reads). */
static uint64_t
todo_pending(struct kz_sync *s)
{
	uint64_t n = 0, tip;
	size_t i;

	for (i = 0; i < s->n_todo; i++)
		if (kz_store_tip(s->st, s->todo[i].feed, &tip, NULL) == 0 &&
		    tip >= s->todo[i].next)
			n += tip - s->todo[i].next + 1;
	return n;
}

void
kz_sync_feed_grew(struct kz_sync *s, const uint8_t feed[32])
{
	uint64_t tip;
	bool flowing;

	if (s->state == KZ_SYNC_CLOSED || !s->peer_vector || !accepts(s, feed))
		return;
	/*
	 * A batch opens in LIVE when nothing else is on its way (runs already
	 * flowing take the new entries along without waiting).
	 */
	flowing = s->batch_open || !batching(s) || s->state != KZ_SYNC_LIVE ||
	    todo_pending(s) > 0;
	(void)todo_add(s, feed, ptip_get(s, feed) + 1);
	(void)urgent_scan(s, feed);
	if (!flowing && kz_store_tip(s->st, feed, &tip, NULL) == 0 &&
	    tip > ptip_get(s, feed)) {
		s->batch_open = true;
		s->batch_at = s->o.now_ms(s->o.ctx);
	}
}

bool
kz_sync_wake(const struct kz_sync *s, uint64_t *at_ms)
{
	if (!s->batch_open || s->state == KZ_SYNC_CLOSED)
		return false;
	*at_ms = s->batch_at + s->o.live_delay_ms;
	return true;
}

void
kz_sync_opts_slow_link(struct kz_sync_opts *o)
{
	o->window = SLOW_WINDOW;
	o->run_entries = SLOW_RUN_ENTRIES;
	o->run_bytes = SLOW_RUN_BYTES;
	o->order = KZ_SYNC_RECENT_FIRST;
	o->recent_ms = DEFAULT_RECENT_MS;
	o->ack_bytes = SLOW_ACK_BYTES;
	o->live_delay_ms = SLOW_LIVE_DELAY_MS;
	o->omit_prev = true;
}

int
kz_sync_vector_again(struct kz_sync *s)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Vector vm = KIZUNA__VECTOR__INIT;
	Kizuna__FeedTip *tips = NULL, **ptrs = NULL;
	uint8_t (*keys)[32] = NULL;
	size_t i, n = 0;
	int rc = 0;

	if (s->state == KZ_SYNC_CLOSED || !s->have_peer || s->n_refused == 0)
		return 0;
	tips = calloc(s->n_refused, sizeof(*tips));
	ptrs = calloc(s->n_refused, sizeof(*ptrs));
	keys = calloc(s->n_refused, sizeof(*keys));
	if (tips == NULL || ptrs == NULL || keys == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < s->n_refused; ) {
		uint64_t tip;

		if (!accepts(s, s->refused[i].feed)) {
			i++;
			continue;
		}
		if ((rc = kz_store_tip(s->st, s->refused[i].feed, &tip, NULL)) < 0)
			goto out;
		memcpy(keys[n], s->refused[i].feed, 32);
		kizuna__feed_tip__init(&tips[n]);
		tips[n].feed.data = keys[n];
		tips[n].feed.len = 32;
		tips[n].tip = tip;
		ptrs[n] = &tips[n];
		n++;
		/* Accepted now: no longer in the set. */
		s->refused[i] = s->refused[--s->n_refused];
	}
	if (n == 0)
		goto out;
	vm.n_feeds = n;
	vm.feeds = ptrs;
	vm.again = true;
	m.body_case = KIZUNA__SYNC_MSG__BODY_VECTOR;
	m.vector = &vm;
	rc = queue_ctl(s, &m);
out:
	free(tips);
	free(ptrs);
	free(keys);
	return rc;
}

int
kz_sync_ping(struct kz_sync *s)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Ping ping = KIZUNA__PING__INIT;

	if (s->state == KZ_SYNC_CLOSED || s->state == KZ_SYNC_HELLO)
		return 0;
	m.body_case = KIZUNA__SYNC_MSG__BODY_PING;
	m.ping = &ping;
	return queue_ctl(s, &m);
}

int
kz_sync_bye(struct kz_sync *s, const char *reason)
{
	if (s->state == KZ_SYNC_CLOSED)
		return 0;
	return say_bye(s, reason);
}

enum kz_sync_state
kz_sync_state(const struct kz_sync *s)
{
	return s->state;
}

bool
kz_sync_idle(const struct kz_sync *s)
{
	return s->n_ctl == 0 && s->stash.buf == NULL && !s->ack_due &&
	    s->n_todo == 0 && s->n_uq == 0 && s->acked_bytes == s->sent_run_bytes;
}

const uint8_t *
kz_sync_peer(const struct kz_sync *s)
{
	return s->have_peer ? s->peer : NULL;
}

const char *
kz_sync_reason(const struct kz_sync *s)
{
	return s->reason;
}

bool
kz_sync_peer_tips(const struct kz_sync *s,
    void (*cb)(void *ctx, const uint8_t feed[32], uint64_t tip), void *ctx)
{
	size_t i;

	if (!s->peer_vector)
		return false;
	for (i = 0; cb != NULL && i < s->n_ptips; i++)
		cb(ctx, s->ptips[i].feed, s->ptips[i].tip);
	return true;
}

void
kz_sync_get_stats(const struct kz_sync *s, struct kz_sync_stats *out)
{
	size_t i;
	uint64_t tip;

	*out = s->stats;
	out->pending_out = s->n_uq;
	for (i = 0; i < s->n_todo; i++)
		if (kz_store_tip(s->st, s->todo[i].feed, &tip, NULL) == 0 &&
		    tip >= s->todo[i].next)
			out->pending_out += tip - s->todo[i].next + 1;
	out->pending_in = 0;
	for (i = 0; i < s->n_ptips; i++)
		if (accepts(s, s->ptips[i].feed) &&
		    kz_store_tip(s->st, s->ptips[i].feed, &tip, NULL) == 0 &&
		    s->ptips[i].tip > tip)
			out->pending_in += s->ptips[i].tip - tip;
}
