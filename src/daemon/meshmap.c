/*
 * The mesh map's reports: this node's links, written to its own feed
 * (KZ_OP_LINK_REPORT) so that every node can draw the whole mesh, not only
 * its own links (docs/api.md, "mesh_links").
 *
 * The log is append-only and crosses slow radio links, so a report is
 * written only when it says something new, and never often:
 *
 *   - a link is (peer, transport); the report lists every link that was up
 *     at some point of this run or in the last report before it, each up
 *     or down (a down one with the time it went down), at most
 *     KZ_LINKS_MAX;
 *   - a change of which links are up is written at most once per
 *     [net] link_report_min_s (60 s): a change inside the window waits for
 *     its end, so a flapping link costs one report a minute, not one a flap;
 *   - the first report waits [net] link_report_settle_s (10 s) after start,
 *     so the static peers' links are up when it is written;
 *   - an unchanged report is written again after [net] link_report_refresh_s
 *     (600 s), so other nodes can tell a quiet node from one unheard for
 *     long (their maps call a report older than 15 minutes stale);
 *   - nothing is written before a link has been up this run and its
 *     session has compared what the two nodes hold (the peer's vector
 *     read, or the link live): a node restored from an old backup must
 *     learn its own feed's tip from a peer before it appends (DESIGN
 *     invariant 4; kz_store_note_peer_tip makes kz_store_append refuse with
 *     KZ_ERR_BEHIND until it caught up, and the report is tried again), and
 *     a report no link can carry says nothing to anyone.
 *
 * One timer looks at the links once a second; it reads no store and only
 * walks the peer list, so it costs nothing measurable.  [net] link_reports
 * = false turns it all off (a test that wants a store nothing writes to).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/kizunad.h"
#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/op.h"
#include "kizuna/rlink.h"
#include "kizuna/views.h"

#define KZD_MAP_TICK_MS 1000

static struct kzd_map_link *
find(struct kzd_map_link *v, size_t n, const uint8_t peer[32],
    const char *transport)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(v[i].peer, peer, 32) == 0 &&
		    strcmp(v[i].transport, transport) == 0)
			return &v[i];
	return NULL;
}

/*
 * Notes that a link is up now (since: when it came up).  A new link takes a
 * free place, else that of the down link that went down first; with every
 * place held by an up link (64 open links) it is left out.
 */
static void
note_up(struct kzd_map *m, const uint8_t peer[32], const char *transport,
    uint64_t since_s, uint64_t now_s)
{
	struct kzd_map_link *l = find(m->known, m->n_known, peer, transport);
	size_t i;

	if (l == NULL && m->n_known < KZ_LINKS_MAX)
		l = &m->known[m->n_known++];
	for (i = 0; l == NULL && i < m->n_known; i++)
		if (!m->known[i].up && (l == NULL || m->known[i].since_s < l->since_s))
			l = &m->known[i];
	if (l == NULL)
		return;
	memcpy(l->peer, peer, 32);
	snprintf(l->transport, sizeof(l->transport), "%s", transport);
	l->up = true;
	l->since_s = since_s != 0 ? since_s : now_s;
	l->seen = true;
}

/*
 * Whether the session has compared the two nodes' holdings: it read the
 * peer's vector (which tells this node its own feed's tip, as the peer
 * holds it), or it is live (equal digests: the peer holds what we hold).
 */
static bool
compared(const struct kz_link *l)
{
	return kz_link_sync_state(l) == KZ_SYNC_LIVE ||
	    kz_link_peer_tips(l, NULL, NULL);
}

/* Looks at every link; notes which are up and which went down. */
static void
look(struct kzd *d, uint64_t now_s)
{
	struct kzd_map *m = &d->map;
	struct kzd_peer *p;
	struct kzd_rnet *r = &d->radio;
	const uint8_t *node;
	size_t i;

	for (i = 0; i < m->n_known; i++)
		m->known[i].seen = false;
	for (p = d->net.peers; p != NULL; p = p->next) {
		if (p->link == NULL || p->finishing || p->closing || !p->checked ||
		    kz_link_state(p->link) != KZ_LINK_OPEN ||
		    (node = kz_link_peer(p->link)) == NULL)
			continue;
		note_up(m, node, "tcp", p->since_s, now_s);
		if (compared(p->link))
			m->ever_linked = true;
	}
	if (r->rl != NULL && r->checked && r->have_node &&
	    kz_link_state(kz_rlink_link(r->rl)) == KZ_LINK_OPEN) {
		note_up(m, r->node, "radio", r->since_s, now_s);
		if (compared(kz_rlink_link(r->rl)))
			m->ever_linked = true;
	}
	for (i = 0; i < m->n_known; i++) {
		struct kzd_map_link *l = &m->known[i];

		if (!l->seen && l->up) {
			l->up = false;
			l->since_s = now_s;	/* when it went down */
		}
	}
}

/* Whether the links up (and down) differ from what the last report said. */
static bool
changed(struct kzd_map *m)
{
	size_t i, n_last_up = 0, n_up = 0;

	if (m->n_known != m->n_last)
		return true;
	for (i = 0; i < m->n_last; i++)
		n_last_up += m->last[i].up;
	for (i = 0; i < m->n_known; i++) {
		const struct kzd_map_link *l = &m->known[i];
		const struct kzd_map_link *was = find(m->last, m->n_last, l->peer,
		    l->transport);

		if (was == NULL || was->up != l->up)
			return true;
		n_up += l->up;
	}
	return n_up != n_last_up;
}

/* Writes the report of m->known.  Returns 0 or kzd_append's error. */
static int
write_report(struct kzd *d)
{
	struct kzd_map *m = &d->map;
	struct kz_report_link links[KZ_LINKS_MAX];
	struct kz_op op = { .type = KZ_OP_LINK_REPORT };
	struct kz_appended app;
	uint8_t *buf = NULL;
	size_t i, len, up = 0;
	int rc;

	for (i = 0; i < m->n_known; i++) {
		links[i] = (struct kz_report_link){ m->known[i].peer,
		    m->known[i].transport, m->known[i].up, m->known[i].since_s, 0 };
		up += m->known[i].up;
	}
	op.u.link_report.n_links = m->n_known;
	op.u.link_report.links = links;
	if ((rc = kz_op_encode(&buf, &len, &op)) < 0)
		return rc;
	rc = kzd_append(d, buf, len, KZ_OP_LINK_REPORT, &app);
	free(buf);
	if (rc < 0)
		return rc;
	memcpy(m->last, m->known, sizeof(m->last));
	m->n_last = m->n_known;
	m->reports++;
	kz_log(&d->log, KZ_LOG_INFO, "map: link report %llu written (seq %llu, "
	    "%zu up, %zu down, %zu bytes)", (unsigned long long)m->reports,
	    (unsigned long long)app.seq, up, m->n_known - up, len);
	return 0;
}

static void
on_map_tick(uv_timer_t *t)
{
	struct kzd *d = KZD_CONTAINER_OF(t, struct kzd, map.timer);
	struct kzd_map *m = &d->map;
	uint64_t now = uv_now(&d->loop);
	uint64_t min_ms = (uint64_t)d->cfg.net_link_report_min_s * 1000;
	uint64_t refresh_ms = (uint64_t)d->cfg.net_link_report_refresh_s * 1000;
	bool due;
	int rc;

	if (d->stopping)
		return;
	look(d, kzd_now_ms() / 1000);
	if (!m->ever_linked || now < m->start_ms +
	    (uint64_t)d->cfg.net_link_report_settle_s * 1000)
		return;
	if (m->reports == 0)
		due = true;
	else if (now < m->last_ms + min_ms)
		due = false;
	else
		due = changed(m) || (refresh_ms > 0 && now >= m->last_ms + refresh_ms);
	if (!due)
		return;
	if ((rc = write_report(d)) < 0) {
		/* Tried again next second; said once until one succeeds. */
		if (!m->failing)
			kz_log(&d->log, rc == KZ_ERR_BEHIND ? KZ_LOG_INFO :
			    KZ_LOG_WARN, "map: link report not written: %s",
			    kz_strerror(rc));
		m->failing = true;
		return;
	}
	m->failing = false;
	m->last_ms = now;
}

/*
 * Seeds the links known with those of this node's last report, each down
 * until it comes up again: a restart must not forget that a link went
 * down (the report written after it would leave the link out, and the
 * peer's own older report, saying it was up, would be believed).
 */
static int
on_own_report(void *ctx, const struct kz_view_link_report *r)
{
	struct kzd *d = ctx;
	struct kzd_map *m = &d->map;
	uint64_t now_s = kzd_now_ms() / 1000;
	size_t i;

	if (memcmp(r->node, d->kp.pk, 32) != 0)
		return 0;
	for (i = 0; i < r->n_links && m->n_known < KZ_LINKS_MAX; i++) {
		struct kzd_map_link *l = &m->known[m->n_known++];

		memcpy(l->peer, r->links[i].peer, 32);
		snprintf(l->transport, sizeof(l->transport), "%s",
		    r->links[i].transport);
		l->up = false;
		/* Up when it was reported: down since this run began. */
		l->since_s = r->links[i].up ? now_s : r->links[i].since_s;
	}
	return 1;	/* found: stop */
}

int
kzd_map_start(struct kzd *d)
{
	struct kzd_map *m = &d->map;
	int rc;

	if (!d->cfg.net_link_reports) {
		kz_log(&d->log, KZ_LOG_INFO, "map: link reports off ([net] "
		    "link_reports = false)");
		return 0;
	}
	if ((rc = uv_timer_init(&d->loop, &m->timer)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "map: cannot start its timer: %s",
		    uv_strerror(rc));
		return -1;
	}
	m->timer_open = true;
	m->start_ms = uv_now(&d->loop);
	if ((rc = kz_views_link_reports(d->st, on_own_report, d)) < 0)
		kz_log(&d->log, KZ_LOG_WARN, "map: cannot read this node's last "
		    "link report: %s (its down links are not reported again)",
		    kz_strerror(rc));
	uv_timer_start(&m->timer, on_map_tick, KZD_MAP_TICK_MS, KZD_MAP_TICK_MS);
	return 0;
}

void
kzd_map_stop(struct kzd *d)
{
	if (d->map.timer_open)
		uv_timer_stop(&d->map.timer);
}

void
kzd_map_close_handles(struct kzd *d)
{
	if (d->map.timer_open && !uv_is_closing((uv_handle_t *)&d->map.timer))
		uv_close((uv_handle_t *)&d->map.timer, NULL);
	d->map.timer_open = false;
}
