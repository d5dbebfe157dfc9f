/*
 * The figures of a link's status row that outlive its session (docs/api.md,
 * GET /api/status): last contact, the entries and bytes pending each way,
 * and the lag.
 *
 * A row knows the tips its peer holds once a session learnt them (the
 * peer's Vector, raised by the runs either side sent: kz_link_peer_tips),
 * and keeps them after the session ends, so a static peer that went away
 * still shows what it will lack when it comes back: every entry this node
 * stores meanwhile is counted against the tips it left with.
 *
 * pending_bytes_out is the stored size (kizuna/store_size.h) of the entries
 * above those tips.  It is counted incrementally, per feed: the range
 * counted (from..to) moves with the peer's tip and this node's, and only
 * the entries that enter or leave it are read, so a status request or a
 * tick reads each entry's size about twice in its life, never the whole
 * backlog again.  A purge shrinks entries already counted: their old size
 * stays counted until the range empties (the peer caught up), when the
 * count starts again from zero.
 *
 * pending_bytes_in is an estimate: this node cannot see the entries it
 * lacks, so they count at the mean stored size of the entries this link
 * last received, or before any, of the last 256 entries this node stored.
 *
 * lag: the link is in sync when the peer's tips are known and nothing is
 * pending either way (and a session, if one is open, has finished its
 * exchange).  Each evaluation that finds it so notes the time; the lag is
 * the time since.  The net module evaluates every link once a second, so
 * the lag is late by at most that.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/kizunad.h"
#include "kizuna/entry.h"
#include "kizuna/store_size.h"

void
kzd_fig_contact(struct kzd_linkfig *f)
{
	f->last_contact_s = kzd_now_ms() / 1000;
}

void
kzd_fig_free(struct kzd_linkfig *f)
{
	free(f->f);
	memset(f, 0, sizeof(*f));
}

void
kzd_fig_move(struct kzd_linkfig *to, struct kzd_linkfig *from)
{
	if (to == from)
		return;
	kzd_fig_free(to);
	*to = *from;
	memset(from, 0, sizeof(*from));
}

/*
 * feed's entry, added (zeroed) if new; NULL when out of memory.  f->f is
 * kept sorted by feed key, so a mesh with thousands of feeds costs a
 * binary search per feed, not a scan.
 */
static struct kzd_lack *
lack_get(struct kzd_linkfig *f, const uint8_t feed[32])
{
	size_t lo = 0, hi = f->n, mid;
	struct kzd_lack *e;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = memcmp(f->f[mid].feed, feed, 32)) == 0)
			return &f->f[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;

		if ((e = realloc(f->f, cap * sizeof(*e))) == NULL)
			return NULL;
		f->f = e;
		f->cap = cap;
	}
	memmove(&f->f[lo + 1], &f->f[lo], (f->n - lo) * sizeof(*f->f));
	f->n++;
	e = &f->f[lo];
	memset(e, 0, sizeof(*e));
	memcpy(e->feed, feed, 32);
	return e;
}

/* One tip the session knows.  Out of memory: the feed counts from 0 (too
 * much, never too little) until the next evaluation. */
static void
on_tip(void *ctx, const uint8_t feed[32], uint64_t tip)
{
	struct kzd_lack *e = lack_get(ctx, feed);

	if (e != NULL) {
		e->ptip = tip;
		e->listed = true;
	}
}

void
kzd_fig_take(struct kzd *d, struct kzd_linkfig *f, const struct kz_link *live)
{
	struct kz_link_stats ls;
	size_t i;

	(void)d;
	if (live == NULL || kz_link_state(live) == KZ_LINK_HANDSHAKE)
		return;
	/* Whether it knows them, before the old tips are forgotten. */
	if (!kz_link_peer_tips(live, NULL, NULL))
		return;
	for (i = 0; i < f->n; i++) {
		f->f[i].ptip = 0;
		f->f[i].listed = false;
	}
	(void)kz_link_peer_tips(live, on_tip, f);
	f->tips_known = true;
	kz_link_get_stats(live, &ls);
	if (ls.sync.sized_in > 0)
		f->mean = (ls.sync.sized_bytes_in + ls.sync.sized_in / 2) /
		    ls.sync.sized_in;
}

/*
 * Makes e->bytes the stored size of from..to (from <= to), reading only
 * what entered or left the range counted before.
 */
static int
lack_count(struct kz_store *st, struct kzd_lack *e, uint64_t from, uint64_t to)
{
	uint64_t bytes = e->bytes, v;
	int rc;

	if (e->to == 0 || from < e->from || from > e->to + 1 || to < e->to) {
		if ((rc = kz_store_range_bytes(st, e->feed, from, to, &bytes)) < 0)
			return rc;
	} else {
		if (from > e->from) {
			if ((rc = kz_store_range_bytes(st, e->feed, e->from,
			    from - 1, &v)) < 0)
				return rc;
			bytes = bytes > v ? bytes - v : 0;
		}
		if (to > e->to) {
			if ((rc = kz_store_range_bytes(st, e->feed, e->to + 1, to,
			    &v)) < 0)
				return rc;
			bytes += v;
		}
	}
	e->bytes = bytes;
	e->from = from;
	e->to = to;
	return 0;
}

struct walk {
	struct kzd *d;
	struct kzd_linkfig *f;
	struct kzd_figs *o;
};

/* One feed this node holds: what the peer lacks of it. */
static int
on_feed(void *ctx, const struct kz_feed_info *fi)
{
	struct walk *w = ctx;
	struct kzd_lack *e;

	if (!kzd_net_accept_feed(w->d, fi->key))
		return 0;
	if ((e = lack_get(w->f, fi->key)) == NULL)
		return 0;	/* out of memory: not counted this time */
	e->mine = true;
	if (e->listed && e->ptip > fi->tip) {
		w->o->pending_in += e->ptip - fi->tip;
	} else if (fi->tip > e->ptip) {
		w->o->pending_out += fi->tip - e->ptip;
		if (lack_count(w->d->st, e, e->ptip + 1, fi->tip) == 0 ||
		    e->to != 0)
			w->o->bytes_out += e->bytes;
		return 0;
	}
	e->from = e->to = e->bytes = 0;
	return 0;
}

void
kzd_fig_eval(struct kzd *d, struct kzd_linkfig *f, const struct kz_link *live,
    const struct kz_link_stats *ls, struct kzd_figs *o)
{
	uint64_t now = kzd_now_ms() / 1000, mean;
	bool session = false, in_sync;
	struct walk w = { .d = d, .f = f, .o = o };
	size_t i;

	memset(o, 0, sizeof(*o));
	if (live != NULL && kz_link_state(live) == KZ_LINK_OPEN &&
	    kz_link_peer_tips(live, NULL, NULL)) {
		kzd_fig_take(d, f, live);
		session = true;
	}
	if (f->tips_known) {
		o->known = true;
		for (i = 0; i < f->n; i++)
			f->f[i].mine = false;
		(void)kz_store_feeds(d->st, on_feed, &w);
		/* Feeds the peer holds and this node holds none of. */
		for (i = 0; i < f->n; i++)
			if (!f->f[i].mine && f->f[i].listed &&
			    kzd_net_accept_feed(d, f->f[i].feed))
				o->pending_in += f->f[i].ptip;
		/* The session's own counts, while it runs (what it scheduled,
		 * urgent entries queued alone included). */
		if (session && ls != NULL) {
			o->pending_in = ls->sync.pending_in;
			o->pending_out = ls->sync.pending_out;
		}
		if (f->mean == 0 && kz_store_recent_mean_size(d->st,
		    &mean) == 0)
			f->mean = mean;
		o->bytes_in = o->pending_in * (f->mean > KZ_HEADER_BYTES ?
		    f->mean : KZ_HEADER_BYTES);
	} else if (ls != NULL) {
		o->pending_in = ls->sync.pending_in;
		o->pending_out = ls->sync.pending_out;
	}
	in_sync = o->known && o->pending_in == 0 && o->pending_out == 0 &&
	    (!session || kz_link_sync_state(live) == KZ_SYNC_LIVE);
	if (in_sync)
		f->in_sync_s = now;
	if (f->in_sync_s != 0) {
		o->have_lag = true;
		o->lag_s = now > f->in_sync_s ? now - f->in_sync_s : 0;
	}
}
