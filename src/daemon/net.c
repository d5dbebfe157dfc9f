/*
 * TCP links: the listener on [net] listen, the static peers of [net] peers
 * (and the bootstrap address of the join token) dialled and redialled with
 * backoff, and for every connection one secure link (kizuna/link.h) whose
 * bytes this file moves.
 *
 * Invariants:
 * - A struct kzd_peer embeds its uv_tcp_t and is freed only in
 *   on_peer_closed(), after uv_close(); the connect, write and shutdown
 *   requests in flight are called back (UV_ECANCELED) before that.
 * - Callbacks only move bytes: on_read() hands them to kz_link_recv(),
 *   then kzd_net_settle() pushes what grew and drains the links into
 *   uv_write() requests (struct out_req, which owns its bytes until
 *   on_write()).
 * - Fairness: a link is read at most one buffer (KZD_NET_READ_BUF) per loop
 *   turn.  libuv reads a readable socket up to 32 times per wakeup, and the
 *   acks written meanwhile keep a catch-up's socket readable, so without
 *   this one link ingested up to 2 MiB (~8,000 entries) per wakeup, and
 *   the control socket and the other links waited 1-2.6 s at a time during
 *   a 30,000-entry catch-up (~0.2 s with it).
 *   on_read() stops reading; on_resume() (a check handle, after the poll)
 *   starts it again.
 * - Backpressure: a link is not drained while more than KZD_NET_QUEUE_MAX
 *   bytes are queued to its socket; on_write() drains it again.  The sync
 *   window bounds what a link holds meanwhile.
 * - A link that ends (an error, a Bye either way, kz_link_close) flushes its
 *   last bytes (a Bye) and is shut down; KZD_NET_FLUSH_MS bounds that.
 * - Only admitted feeds are accepted and forwarded (accept_feed(), from
 *   struct kzd_adm); a peer whose node the mesh revoked is told so and
 *   disconnected; two links to one node are cut down to one.
 * - The radio link (rnet.c) is one more link: it gets the same callbacks
 *   through kzd_net_accept_feed() and kzd_net_count_refusal(), what arrives
 *   on it is pushed on every TCP link (kzd_net_grew_tcp()), and what grows
 *   here or arrives on a TCP link is pushed on it (kzd_rnet_feed_grew()).
 *
 * Dead peers: a link that has sent nothing for [net] keepalive_s sends a
 * Ping (on_tick()), so a live peer is never silent for long; a link that
 * hears nothing for 3 x keepalive_s is closed ("peer silent").  That finds
 * a peer whose process hangs (its kernel still acknowledges TCP) as well as
 * a dead host; TCP keepalive and TCP_USER_TIMEOUT stay on beneath it.
 *
 * A connection's states:
 *
 *   connecting --on_connect(): link_start()--> linking (HANDSHAKE, OPEN)
 *   (accepted) --on_connection(): link_start()--> linking
 *   linking --link CLOSED, peer silent, kzd_net_stop(): peer_finish()-->
 *             finishing (no reads; last bytes flush; uv_shutdown)
 *   finishing --on_shutdown(), flush deadline: peer_close()--> closing
 *   any --EOF, read/write/connect error, kzd_net_abort(): peer_close()-->
 *             closing
 *   closing --on_peer_closed()--> freed (and its static peer redialled)
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <jansson.h>
#include <sodium.h>

#include "daemon/kizunad.h"
#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/mesh.h"
#include "kizuna/util.h"
#include "kizuna/views.h"
#include "kizuna/workspace.h"

#define TICK_MS 1000
#define BACKOFF_FIRST_MS 1000

/* One queued write; it owns its bytes until on_write() runs. */
struct out_req {
	uv_write_t req;
	size_t len;
	uint8_t buf[];
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_resume(uv_check_t *h);
static void dial_schedule(struct kzd_dial *dl);
static void kzd_net_settle(struct kzd *d);
static void peer_error(struct kzd_peer *p, const char *why);

/* ------------------------------------------------------------ helpers */

static void
fmt_hostport(char *out, size_t len, const char *host, unsigned port)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, len, "[%s]:%u", host, port);
	else
		snprintf(out, len, "%s:%u", host, port);
}

/* "HOST:PORT" of a socket address. */
static void
fmt_sockaddr(char *out, size_t len, const struct sockaddr_storage *ss)
{
	char host[64];
	unsigned port = 0;

	if (uv_ip_name((const struct sockaddr *)ss, host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "?");
	if (ss->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	else if (ss->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	fmt_hostport(out, len, host, port);
}

/* A numeric HOST and PORT as a socket address.  Returns 0 or a UV error. */
static int
numeric_addr(const struct kz_hostport *hp, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(hp->host, ':') != NULL)
		return uv_ip6_addr(hp->host, hp->port, (struct sockaddr_in6 *)ss);
	return uv_ip4_addr(hp->host, hp->port, (struct sockaddr_in *)ss);
}

static bool
peer_usable(const struct kzd_peer *p)
{
	return p->link != NULL && !p->finishing && !p->closing;
}

/* ------------------------------------------------------------ admission */

static int
adm_cmp(const void *a, const void *b)
{
	return memcmp(((const struct kzd_adm_node *)a)->key,
	    ((const struct kzd_adm_node *)b)->key, 32);
}

static const struct kzd_adm_node *
adm_find(const struct kzd_adm *adm, const uint8_t key[32])
{
	struct kzd_adm_node k;

	memcpy(k.key, key, 32);
	return adm->n == 0 ? NULL :
	    bsearch(&k, adm->nodes, adm->n, sizeof(k), adm_cmp);
}

struct adm_load {
	struct kzd_adm_node *nodes;
	size_t n, cap;
};

static int
on_adm_node(void *ctx, const struct kz_view_node *vn)
{
	struct adm_load *al = ctx;

	if (al->n == al->cap) {
		size_t cap = al->cap ? 2 * al->cap : 16;
		void *p = realloc(al->nodes, cap * sizeof(*al->nodes));

		if (p == NULL)
			return KZ_ERR_NOMEM;
		al->nodes = p;
		al->cap = cap;
	}
	memcpy(al->nodes[al->n].key, vn->key, 32);
	al->nodes[al->n].revoked = vn->revoked;
	snprintf(al->nodes[al->n].name, sizeof(al->nodes[al->n].name), "%s",
	    vn->name != NULL ? vn->name : "");
	al->n++;
	return 0;
}

/* Queues a newly admitted feed, to be pushed on every link by settle. */
static void
adm_grew(struct kzd_adm *adm, const uint8_t key[32])
{
	if (adm->n_grew == adm->cap_grew) {
		size_t cap = adm->cap_grew ? 2 * adm->cap_grew : 8;
		void *p = realloc(adm->grew, cap * sizeof(*adm->grew));

		if (p == NULL)
			return;		/* the next session's vectors carry it */
		adm->grew = p;
		adm->cap_grew = cap;
	}
	memcpy(adm->grew[adm->n_grew++], key, 32);
}

/*
 * Reloads the admitted nodes from the views when an entry was stored since
 * the last load.  A node admitted since is queued in adm->grew: its feed,
 * refused until now, must be offered on every link.  On a store error the
 * previous set stays (none at first: only the root is accepted).
 */
static void
adm_fresh(struct kzd *d)
{
	struct kzd_adm *adm = &d->net.adm;
	struct adm_load al = { 0 };
	uint8_t root[32];
	size_t i;
	int rc;

	if (adm->loaded && !adm->dirty)
		return;
	rc = kz_views_root(d->st, root);
	if (rc == KZ_ERR_NOT_FOUND) {
		adm->loaded = true;
		adm->dirty = false;
		adm->all = true;
		adm->have_root = false;
		adm->n = 0;
		return;
	}
	if (rc == 0)
		rc = kz_views_nodes(d->st, on_adm_node, &al);
	if (rc < 0) {
		kz_log(&d->log, KZ_LOG_WARN, "cannot read the mesh's nodes: %s; "
		    "links keep the admissions known before", kz_strerror(rc));
		free(al.nodes);
		adm->loaded = true;
		adm->dirty = false;
		return;
	}
	qsort(al.nodes, al.n, sizeof(*al.nodes), adm_cmp);
	for (i = 0; i < al.n; i++)
		if (adm->loaded && !adm->all && adm_find(adm, al.nodes[i].key) == NULL)
			adm_grew(adm, al.nodes[i].key);
	free(adm->nodes);
	adm->nodes = al.nodes;
	adm->n = al.n;
	adm->cap = al.cap;
	adm->all = false;
	adm->have_root = true;
	memcpy(adm->root, root, 32);
	adm->loaded = true;
	adm->dirty = false;
	adm->gen++;
}

bool
kzd_net_accept_feed(struct kzd *d, const uint8_t feed[32])
{
	struct kzd_adm *adm = &d->net.adm;

	adm_fresh(d);
	if (adm->all)
		return true;
	if (adm->have_root && memcmp(feed, adm->root, 32) == 0)
		return true;
	/*
	 * A revoked node's feed is still carried: its entries up to the
	 * revocation count, and the views ignore the rest.
	 */
	return adm_find(adm, feed) != NULL;
}

/* kz_sync_opts.accept_feed: whether feed's node is admitted. */
static bool
accept_feed(void *ctx, const uint8_t feed[32])
{
	return kzd_net_accept_feed(((struct kzd_peer *)ctx)->d, feed);
}

const struct kzd_adm_node *
kzd_net_adm_node(struct kzd *d, const uint8_t key[32])
{
	adm_fresh(d);
	return adm_find(&d->net.adm, key);
}

/* Counts one refusal of what a peer sent, by reason. */
static void
count_reject(struct kzd *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->net.n_rejects; i++)
		if (strcmp(d->net.rejects[i].name, name) == 0)
			break;
	if (i == d->net.n_rejects) {
		if (i == KZD_REJECTS_MAX)
			return;
		snprintf(d->net.rejects[i].name, sizeof(d->net.rejects[i].name),
		    "%s", name);
		d->net.rejects[i].n = 0;
		d->net.n_rejects++;
	}
	d->net.rejects[i].n++;
}

void
kzd_net_count_reject(struct kzd *d, const char *name)
{
	count_reject(d, name);
}

void
kzd_net_count_refusal(struct kzd *d, int why, bool inert)
{
	char name[32];
	size_t i;

	if (why == KZ_ERR_NOT_FOUND && !inert) {
		count_reject(d, "not_admitted");
		return;
	}
	snprintf(name, sizeof(name), "%s%s", inert ? "inert_" : "",
	    kz_errname(why));
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	count_reject(d, name);
}

/* kz_sync_opts.refused: a run or entry from p's peer was refused. */
static void
refused(void *ctx, const uint8_t feed[32], int why)
{
	struct kzd_peer *p = ctx;

	(void)feed;
	/*
	 * Forgeries: after KZD_NET_BAD_SIGS_MAX the link is closed at once
	 * (the session stops reading the frames after this one), so a flood
	 * of forged runs costs at most that many signature checks a session.
	 */
	if (why == KZ_ERR_BAD_SIG && ++p->bad_sigs == KZD_NET_BAD_SIGS_MAX &&
	    p->link != NULL && kz_link_state(p->link) != KZ_LINK_CLOSED) {
		kz_log(&p->d->log, KZ_LOG_WARN, "%s: %d runs with a bad signature; "
		    "closing the link", p->name, KZD_NET_BAD_SIGS_MAX);
		peer_error(p, "too many runs with a bad signature");
		kz_link_close(p->link, "too many runs with a bad signature");
	}
	kzd_net_count_refusal(p->d, why, false);
}

/* kz_sync_opts.inert: a stored entry's op is no operation we know. */
static void
inert(void *ctx, const uint8_t feed[32], int why)
{
	(void)feed;
	kzd_net_count_refusal(((struct kzd_peer *)ctx)->d, why, true);
}

/* kz_sync_opts.feed_grew: entries arrived on p's link; push them on. */
static void
feed_grew(void *ctx, const uint8_t feed[32])
{
	struct kzd_peer *p = ctx, *q;
	struct kzd *d = p->d;

	d->net.adm.dirty = true;	/* it may hold a membership entry */
	for (q = d->net.peers; q != NULL; q = q->next) {
		if (q == p || !peer_usable(q))
			continue;
		kz_link_feed_grew(q->link, feed);
		q->drain_due = true;
	}
	kzd_rnet_feed_grew(d, feed);
}

void
kzd_net_grew_tcp(struct kzd *d, const uint8_t feed[32])
{
	struct kzd_peer *q;

	d->net.adm.dirty = true;	/* it may hold a membership entry */
	for (q = d->net.peers; q != NULL; q = q->next) {
		if (!peer_usable(q))
			continue;
		kz_link_feed_grew(q->link, feed);
		q->drain_due = true;
	}
}

/* ------------------------------------------------------------ closing */

/* Whether a link other than p, not ending, reaches node. */
static bool
node_linked(struct kzd *d, const struct kzd_peer *p, const uint8_t node[32])
{
	const struct kzd_peer *q;
	const uint8_t *qn;

	for (q = d->net.peers; q != NULL; q = q->next)
		if (q != p && peer_usable(q) &&
		    (qn = kz_link_peer(q->link)) != NULL &&
		    memcmp(qn, node, 32) == 0)
			return true;
	return false;
}

static void
on_peer_closed(uv_handle_t *h)
{
	struct kzd_peer *p = KZD_CONTAINER_OF(h, struct kzd_peer, tcp);
	struct kzd *d = p->d;
	struct kzd_dial *dl = p->dial;
	const uint8_t *node = p->link != NULL ? kz_link_peer(p->link) : NULL;
	bool moved = false;
	size_t i;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		d->net.peers = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	d->net.n_peers--;
	kz_log(&d->log, KZ_LOG_DEBUG, "%s: closed", p->name);
	/*
	 * The session's last tips and sync time stay with its static peer's
	 * slot: the one it dialled, or one that stood by for its node.
	 */
	if (p->link != NULL) {
		struct kzd_figs figs;

		kzd_fig_take(d, &p->fig, p->link);
		kzd_fig_eval(d, &p->fig, NULL, NULL, &figs);
	}
	/* Static peers that stood by for this node's link dial again. */
	if (node != NULL && !p->duplicate && !d->stopping) {
		for (i = 0; i < d->net.n_dials; i++) {
			struct kzd_dial *o = &d->net.dials[i];

			if (o->standby && o->have_node &&
			    memcmp(o->node, node, 32) == 0) {
				if (dl == NULL && !moved) {
					kzd_fig_move(&o->fig, &p->fig);
					moved = true;
				}
				o->standby = false;
				o->backoff_ms = BACKOFF_FIRST_MS;
				dial_schedule(o);
			}
		}
	}
	if (dl != NULL) {
		kzd_fig_move(&dl->fig, &p->fig);
		dl->peer = NULL;
		snprintf(dl->last_error, sizeof(dl->last_error), "%s", p->last_error);
		/* Its node is reached by another link: stand by until that ends. */
		if (dl->have_node && node_linked(d, p, dl->node))
			dl->standby = true;
		if (p->linked_ms != 0 &&
		    uv_now(&d->loop) - p->linked_ms >= KZD_NET_STABLE_MS)
			dl->backoff_ms = BACKOFF_FIRST_MS;
		/* A discovered node unheard for long is forgotten instead. */
		if (!(dl->discovered && kzd_discovery_closed(d, dl)) &&
		    !d->stopping && !dl->self && !dl->standby)
			dial_schedule(dl);
	}
	kzd_fig_free(&p->fig);
	kz_link_free(p->link);
	free(p);
	kzd_notify_status(d);
	kzd_maybe_done(d);
}

/* Records why p ends (the first reason wins). */
static void
peer_error(struct kzd_peer *p, const char *why)
{
	if (p->last_error[0] == '\0')
		snprintf(p->last_error, sizeof(p->last_error), "%s", why);
}

static void
peer_close(struct kzd_peer *p)
{
	if (p->closing)
		return;
	p->closing = true;
	if (p->link != NULL && p->last_error[0] == '\0')
		peer_error(p, kz_link_reason(p->link));
	uv_close((uv_handle_t *)&p->tcp, on_peer_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	peer_close(KZD_CONTAINER_OF(req, struct kzd_peer, shutdown));
}

/* ------------------------------------------------------------ writing */

/* The most bytes p keeps queued to its socket. */
static size_t
queue_max(const struct kzd_peer *p)
{
	return p->slow ? KZD_NET_SLOW_QUEUE_MAX : KZD_NET_QUEUE_MAX;
}

static void
on_write(uv_write_t *req, int status)
{
	struct out_req *o = KZD_CONTAINER_OF(req, struct out_req, req);
	struct kzd_peer *p = KZD_CONTAINER_OF(req->handle, struct kzd_peer, tcp);

	p->queued -= o->len;
	free(o);
	if (status < 0) {
		if (status != UV_ECANCELED) {
			kz_log(&p->d->log, KZ_LOG_INFO, "%s: %s", p->name,
			    uv_strerror(status));
			peer_error(p, uv_strerror(status));
		}
		peer_close(p);
		return;
	}
	if (p->queued <= queue_max(p) && !p->closing) {
		p->drain_due = true;
		kzd_net_settle(p->d);
	}
}

/*
 * Moves what the link has to send into writes, until it has nothing more
 * or KZD_NET_QUEUE_MAX bytes are queued.  A finishing link that has sent
 * its last bytes is shut down.
 */
static void
peer_drain(struct kzd_peer *p)
{
	struct out_req *o;
	uv_buf_t b;
	uint8_t *bytes;
	size_t len;
	bool all = false;
	int rc;

	p->drain_due = false;
	if (p->link == NULL || p->closing || p->shutting)
		return;
	while (p->queued <= queue_max(p)) {
		rc = kz_link_send(p->link, &bytes, &len);
		if (rc != 0) {
			all = true;
			break;
		}
		o = malloc(sizeof(*o) + len);
		if (o == NULL) {
			free(bytes);
			kz_log(&p->d->log, KZ_LOG_ERR, "%s: out of memory", p->name);
			peer_error(p, "out of memory");
			peer_close(p);
			return;
		}
		memcpy(o->buf, bytes, len);
		o->len = len;
		free(bytes);
		b = uv_buf_init((char *)o->buf, (unsigned int)len);
		if ((rc = uv_write(&o->req, (uv_stream_t *)&p->tcp, &b, 1,
		    on_write)) < 0) {
			free(o);
			peer_error(p, uv_strerror(rc));
			peer_close(p);
			return;
		}
		p->queued += len;
		p->last_tx_ms = uv_now(&p->d->loop);
	}
	if (all && rc < 0) {
		kz_log(&p->d->log, KZ_LOG_WARN, "%s: cannot send: %s", p->name,
		    kz_strerror(rc));
		if (kz_link_state(p->link) != KZ_LINK_CLOSED)
			kz_link_close(p->link, "internal error");
		peer_error(p, kz_strerror(rc));
	}
	if (all && p->finishing) {
		/* Everything is queued: close once the writes are done. */
		p->shutting = true;
		if (uv_shutdown(&p->shutdown, (uv_stream_t *)&p->tcp,
		    on_shutdown) < 0)
			peer_close(p);
	}
}

/*
 * Ends p: reads nothing more, flushes the link's last bytes (its Bye),
 * then shuts the connection down.  Logs why once.
 */
static void
peer_finish(struct kzd_peer *p)
{
	const char *why;

	if (p->finishing || p->closing)
		return;
	p->finishing = true;
	p->finish_by_ms = uv_now(&p->d->loop) + KZD_NET_FLUSH_MS;
	uv_read_stop((uv_stream_t *)&p->tcp);
	why = p->link != NULL ? kz_link_reason(p->link) : "";
	if (why[0] != '\0')
		peer_error(p, why);
	if (p->link != NULL) {
		struct kz_link_stats ls;

		kz_link_get_stats(p->link, &ls);
		/* A handshake that failed: another mesh's key, or garbage. */
		if (!p->checked && why[0] != '\0')
			count_reject(p->d, "handshake");
		if (ls.sync.bad_frames > 0)
			count_reject(p->d, "bad_frame");
	}
	/* The link, the sync session or the caller logged why already. */
	kz_log(&p->d->log, KZ_LOG_DEBUG, "%s: link closed%s%s", p->name,
	    p->last_error[0] ? ": " : "", p->last_error);
	p->drain_due = true;
	if (!p->d->net.settling)
		peer_drain(p);
}

/* ------------------------------------------------------------ settling */

/* Looks at a peer whose node key just became known.  Returns false if closed. */
static bool
peer_check(struct kzd_peer *p)
{
	struct kzd *d = p->d;
	const uint8_t *node = kz_link_peer(p->link);
	const struct kzd_adm_node *an;
	char fp[KZ_FINGERPRINT_CHARS + 1];
	struct kzd_peer *q;
	bool own_low;

	if (node == NULL)
		return true;
	p->adm_gen = d->net.adm.gen;
	kz_fingerprint(fp, node);
	if (!p->checked) {
		p->checked = true;
		if (sodium_memcmp(node, d->kp.pk, 32) == 0) {
			kz_log(&d->log, KZ_LOG_WARN, "%s: this is this node itself%s",
			    p->name, p->dial != NULL ? "; not dialling it again" : "");
			if (p->dial != NULL)
				p->dial->self = true;
			kz_link_close(p->link, "a link to itself");
			peer_finish(p);
			return false;
		}
		an = adm_find(&d->net.adm, node);
		p->linked_ms = uv_now(&d->loop);
		kzd_net_linked(d, p->name, sizeof(p->name), fp, an);
		/*
		 * Two links to one node: both ends keep the one that the node
		 * with the lower key dialled.  Two the same way: the dialling
		 * end closes the newer one, and the other end waits for that.
		 */
		own_low = memcmp(d->kp.pk, node, 32) < 0;
		for (q = d->net.peers; q != NULL; q = q->next) {
			const uint8_t *qn;
			struct kzd_peer *drop;

			if (q == p || !peer_usable(q) || !q->checked ||
			    (qn = kz_link_peer(q->link)) == NULL ||
			    memcmp(qn, node, 32) != 0)
				continue;
			if (q->initiator == p->initiator) {
				if (!p->initiator)
					continue;
				drop = p;
			} else {
				drop = p->initiator == own_low ? q : p;
			}
			kz_log(&d->log, KZ_LOG_INFO, "%s: a second link to node %s; "
			    "keeping the %s", drop->name, fp,
			    (drop == p ? q : p)->name);
			drop->duplicate = true;
			if (drop->dial != NULL)
				drop->dial->standby = true;
			kz_link_close(drop->link, "a second link to the same node");
			peer_finish(drop);
			if (drop == p)
				return false;
			break;
		}
	}
	an = adm_find(&d->net.adm, node);
	if (an != NULL && an->revoked) {
		kz_log(&d->log, KZ_LOG_WARN, "%s: node %s was revoked by the mesh; "
		    "closing its link", p->name, fp);
		kz_link_close(p->link, "this node was revoked by the mesh");
		peer_finish(p);
		return false;
	}
	return true;
}

/*
 * After bytes were read or an entry stored: picks up membership changes
 * (newly admitted feeds are pushed on every link, revoked nodes cut off),
 * checks peers whose node key became known, closes ended links, and drains
 * every link that may have bytes to send.
 */
static void
kzd_net_settle(struct kzd *d)
{
	struct kzd_adm *adm = &d->net.adm;
	struct kzd_peer *p;
	size_t i;

	if (d->net.settling)
		return;
	d->net.settling = true;
	adm_fresh(d);
	for (p = d->net.peers; p != NULL; p = p->next) {
		if (!peer_usable(p))
			continue;
		if (p->dial != NULL && kz_link_peer(p->link) != NULL) {
			p->dial->have_node = true;
			memcpy(p->dial->node, kz_link_peer(p->link), 32);
		}
		if (kz_link_state(p->link) == KZ_LINK_CLOSED) {
			peer_finish(p);
			continue;
		}
		if ((p->adm_gen != adm->gen || !p->checked) && !peer_check(p))
			continue;
		for (i = 0; i < adm->n_grew; i++)
			kz_link_feed_grew(p->link, adm->grew[i]);
		if (adm->n_grew > 0) {
			/* The peer may hold feeds we refused until now. */
			(void)kz_link_vector_again(p->link);
			p->drain_due = true;
		}
	}
	kzd_rnet_admitted(d, (const uint8_t (*)[32])adm->grew, adm->n_grew);
	adm->n_grew = 0;
	for (p = d->net.peers; p != NULL; p = p->next) {
		if (p->drain_due && !p->closing)
			peer_drain(p);
		/* A link that failed while sending ends here. */
		if (peer_usable(p) && kz_link_state(p->link) == KZ_LINK_CLOSED) {
			peer_finish(p);
			peer_drain(p);
		}
	}
	d->net.settling = false;
}

void
kzd_net_kick(struct kzd *d)
{
	kzd_net_settle(d);
}

void
kzd_net_appended(struct kzd *d, enum kz_op_type type)
{
	struct kzd_peer *p;

	if (!d->net.enabled)
		return;
	if (kz_ws_is_control(type))
		d->net.adm.dirty = true;
	for (p = d->net.peers; p != NULL; p = p->next) {
		if (!peer_usable(p))
			continue;
		kz_link_feed_grew(p->link, d->kp.pk);
		p->drain_due = true;
	}
	kzd_rnet_feed_grew(d, d->kp.pk);
	kzd_net_settle(d);
}

void
kzd_net_feed_grew(struct kzd *d, const uint8_t feed[32])
{
	struct kzd_peer *p;

	if (!d->net.enabled)
		return;
	d->net.adm.dirty = true;	/* it may hold a membership entry */
	for (p = d->net.peers; p != NULL; p = p->next) {
		if (!peer_usable(p))
			continue;
		kz_link_feed_grew(p->link, feed);
		p->drain_due = true;
	}
	kzd_rnet_feed_grew(d, feed);
	kzd_net_settle(d);
}

/* ------------------------------------------------------------ reading */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct kzd_peer *p = KZD_CONTAINER_OF(h, struct kzd_peer, tcp);

	*buf = uv_buf_init((char *)p->rbuf, sizeof(p->rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct kzd_peer *p = KZD_CONTAINER_OF(s, struct kzd_peer, tcp);
	struct kzd *d = p->d;
	int rc;

	if (nread == 0 || p->closing || p->finishing)
		return;
	if (nread < 0) {
		if (nread == UV_EOF)
			peer_error(p, kz_link_state(p->link) == KZ_LINK_HANDSHAKE ?
			    "closed by the peer during the handshake (a different "
			    "network key?)" : "closed by the peer");
		else
			peer_error(p, uv_strerror((int)nread));
		kz_log(&d->log, KZ_LOG_INFO, "%s: %s", p->name, p->last_error);
		peer_close(p);
		return;
	}
	p->last_rx_ms = uv_now(&d->loop);
	rc = kz_link_recv(p->link, (const uint8_t *)buf->base, (size_t)nread);
	/* Heard: bytes that an open link took (the handshake authenticated
	 * the peer, and the link checks every frame's tag). */
	if (kz_link_state(p->link) == KZ_LINK_OPEN)
		kzd_fig_contact(&p->fig);
	if (rc < 0 && kz_link_state(p->link) != KZ_LINK_CLOSED) {
		/*
		 * What the peer sent was not stored (the disk is full, a
		 * database error): its frame is consumed but not acknowledged,
		 * and the peer never sends it again in this session, so the
		 * runs after it would be refused as gaps and the link would
		 * stall.  End the session; the next one (redialled with
		 * backoff) starts from what was committed.
		 */
		kz_log(&d->log, rc == KZ_ERR_FULL ? KZ_LOG_ERR : KZ_LOG_WARN,
		    "%s: not stored: %s; closing the link (the next one resumes "
		    "from what was stored)", p->name, kz_strerror(rc));
		kz_link_close(p->link, rc == KZ_ERR_FULL ?
		    "the receiving node's disk is full" :
		    "the receiving node cannot store what it gets");
	}
	p->drain_due = true;
	kzd_net_settle(d);
	/* Too many frames this second: not read again until the next tick. */
	if (!p->closing && !p->finishing && !p->throttled && p->link != NULL) {
		struct kz_link_stats ls;

		kz_link_get_stats(p->link, &ls);
		if (ls.sync.frames_in - p->frames_mark > KZD_NET_FRAMES_PER_S) {
			if (!p->throttle_logged)
				kz_log(&d->log, KZ_LOG_WARN, "%s: over %d frames a "
				    "second; throttled (read once a second)", p->name,
				    KZD_NET_FRAMES_PER_S);
			p->throttle_logged = true;
			p->throttled = true;
			uv_read_stop(s);
			return;
		}
	}
	/* One buffer a loop turn: let the other handles be served. */
	if (!p->closing && !p->finishing && !p->read_paused) {
		uv_read_stop(s);
		p->read_paused = true;
		if (d->net.resume_open)
			uv_check_start(&d->net.resume, on_resume);
	}
}

/* After the poll: reads paused in this loop turn start again. */
static void
on_resume(uv_check_t *h)
{
	struct kzd *d = KZD_CONTAINER_OF(h, struct kzd, net.resume);
	struct kzd_peer *p;
	int rc;

	uv_check_stop(h);
	for (p = d->net.peers; p != NULL; p = p->next) {
		if (!p->read_paused)
			continue;
		p->read_paused = false;
		if (p->closing || p->finishing || p->throttled)
			continue;
		if ((rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc,
		    on_read)) < 0) {
			peer_error(p, uv_strerror(rc));
			kz_log(&d->log, KZ_LOG_INFO, "%s: %s", p->name,
			    p->last_error);
			peer_close(p);
		}
	}
}

/* ------------------------------------------------------------ connections */

/* Sets TCP keepalive (see the top of the file) and no Nagle delay. */
static void
tune_socket(struct kzd_peer *p)
{
	int ka = p->d->cfg.net_keepalive_s;
	uv_os_fd_t fd;

	(void)uv_tcp_nodelay(&p->tcp, 1);
	(void)uv_tcp_keepalive(&p->tcp, 1, (unsigned int)ka);
	if (uv_fileno((uv_handle_t *)&p->tcp, &fd) == 0) {
		int cnt = 2, ms = 3 * ka * 1000;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ka, sizeof(ka));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#ifdef TCP_USER_TIMEOUT
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
#endif
		if (p->slow) {
			int sndbuf = KZD_NET_SLOW_QUEUE_MAX;

			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
			    sizeof(sndbuf));
		}
	}
}

/* kz_sync_opts.now_ms: the loop's clock (live batching on slow links). */
static uint64_t
sync_now(void *ctx)
{
	return uv_now(&((struct kzd_peer *)ctx)->d->loop);
}

/*
 * The link profile (docs/sync.md, "Link profiles"): [net] profile for
 * static peers and links accepted, lan for nodes found by LAN discovery.
 */
static void
link_profile(struct kzd_peer *p, struct kz_link_opts *lo)
{
	const struct kz_config *cfg = &p->d->cfg;

	p->slow = cfg->net_profile == KZ_CONFIG_PROFILE_SLOW &&
	    !(p->dial != NULL && p->dial->discovered);
	switch (kz_config_net_compress(cfg)) {
	case KZ_CONFIG_COMPRESS_ZSTD:
		lo->compress = KZ_COMPRESS_ZSTD;
		break;
	case KZ_CONFIG_COMPRESS_DICT:
		lo->compress = KZ_COMPRESS_DICT;
		break;
	default:
		lo->compress = KZ_COMPRESS_NONE;
		break;
	}
	if (p->slow) {
		kz_sync_opts_slow_link(&lo->sync);
		lo->sync.now_ms = sync_now;
		/* One sync frame a kz_link_send: little waits below. */
		lo->send_chunk = 1;
	}
}

static struct kzd_peer *
peer_new(struct kzd *d, bool initiator)
{
	struct kzd_peer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->d = d;
	p->id = ++d->net.next_id;
	p->initiator = initiator;
	p->started_ms = p->last_rx_ms = p->last_tx_ms = uv_now(&d->loop);
	uv_tcp_init(&d->loop, &p->tcp);
	p->next = d->net.peers;
	if (p->next != NULL)
		p->next->prev = p;
	d->net.peers = p;
	d->net.n_peers++;
	return p;
}

static void
peer_name(struct kzd_peer *p)
{
	snprintf(p->name, sizeof(p->name), "link %s %s",
	    p->initiator ? "to" : "from", p->address);
}

/* TCP is up: makes the link and starts reading.  Closes p on failure. */
static void
link_start(struct kzd_peer *p)
{
	struct kzd *d = p->d;
	struct kz_link_opts lo;
	int rc;

	p->connected = true;
	p->since_s = kzd_now_ms() / 1000;
	p->last_rx_ms = uv_now(&d->loop);
	/* The mesh may have been joined or changed by the CLI meanwhile. */
	d->net.adm.dirty = true;
	memset(&lo, 0, sizeof(lo));
	link_profile(p, &lo);
	tune_socket(p);
	lo.st = d->st;
	lo.node = &d->kp;
	lo.network_key = d->net.network_key;
	lo.initiator = p->initiator;
	lo.sync.accept_feed = accept_feed;
	lo.sync.feed_grew = feed_grew;
	lo.sync.refused = refused;
	lo.sync.inert = inert;
	lo.sync.ctx = p;
	lo.sync.log = &d->log;
	lo.sync.peer_name = p->name;
	if ((rc = kz_link_new(&p->link, &lo)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "%s: cannot start the link: %s", p->name,
		    kz_strerror(rc));
		peer_error(p, kz_strerror(rc));
		peer_close(p);
		return;
	}
	if ((rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read)) < 0) {
		peer_error(p, uv_strerror(rc));
		peer_close(p);
		return;
	}
	kz_log(&d->log, KZ_LOG_DEBUG, "%s: connected", p->name);
	p->drain_due = true;
	kzd_net_settle(d);
	kzd_notify_status(d);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct kzd *d = KZD_CONTAINER_OF(server, struct kzd, net.listener);
	struct sockaddr_storage ss;
	struct kzd_peer *p;
	int len = sizeof(ss), rc;

	if (status < 0) {
		kz_log(&d->log, KZ_LOG_WARN, "[net] listen: %s", uv_strerror(status));
		return;
	}
	if ((p = peer_new(d, false)) == NULL) {
		kz_log(&d->log, KZ_LOG_ERR, "[net] listen: out of memory");
		return;
	}
	snprintf(p->address, sizeof(p->address), "?");
	if ((rc = uv_accept(server, (uv_stream_t *)&p->tcp)) < 0) {
		peer_name(p);
		kz_log(&d->log, KZ_LOG_WARN, "[net] listen: %s", uv_strerror(rc));
		peer_close(p);
		return;
	}
	if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &len) == 0)
		fmt_sockaddr(p->address, sizeof(p->address), &ss);
	peer_name(p);
	if (d->stopping) {
		peer_close(p);
		return;
	}
	if (d->net.n_peers > KZD_NET_PEERS_MAX) {
		kz_log(&d->log, KZ_LOG_WARN, "%s: over %d links; refused", p->name,
		    KZD_NET_PEERS_MAX);
		peer_close(p);
		return;
	}
	link_start(p);
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct kzd_peer *p = KZD_CONTAINER_OF(req, struct kzd_peer, connect);

	if (status == UV_ECANCELED || p->closing)
		return;
	if (status < 0) {
		peer_error(p, uv_strerror(status));
		kz_log(&p->d->log, KZ_LOG_DEBUG, "%s: %s", p->name,
		    uv_strerror(status));
		peer_close(p);
		return;
	}
	link_start(p);
}

/* ------------------------------------------------------------ dialling */

/* Connects to addr for dl.  Failures schedule the next attempt. */
static void
dial_connect(struct kzd_dial *dl, const struct sockaddr *addr)
{
	struct kzd *d = dl->d;
	struct kzd_peer *p;
	int rc;

	if ((p = peer_new(d, true)) == NULL) {
		snprintf(dl->last_error, sizeof(dl->last_error), "out of memory");
		dial_schedule(dl);
		return;
	}
	p->dial = dl;
	dl->peer = p;
	kzd_fig_move(&p->fig, &dl->fig);
	snprintf(p->address, sizeof(p->address), "%s", dl->address);
	peer_name(p);
	if ((rc = uv_tcp_connect(&p->connect, &p->tcp, addr, on_connect)) < 0) {
		peer_error(p, uv_strerror(rc));
		peer_close(p);	/* on_peer_closed() schedules the next attempt */
	}
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct kzd_dial *dl = KZD_CONTAINER_OF(req, struct kzd_dial, gai);
	struct addrinfo *ai;
	size_t n = 0, pick;

	dl->resolving = false;
	if (dl->d->stopping) {
		uv_freeaddrinfo(res);
		return;
	}
	for (ai = res; status == 0 && ai != NULL; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			n++;
	if (n == 0) {
		snprintf(dl->last_error, sizeof(dl->last_error), "cannot resolve "
		    "%s: %s", dl->hp.host, status < 0 ? uv_strerror(status) :
		    "no address");
		kz_log(&dl->d->log, KZ_LOG_DEBUG, "[net] peers: %s", dl->last_error);
		uv_freeaddrinfo(res);
		dial_schedule(dl);
		return;
	}
	/* Each attempt takes the next address, so one dead address is no trap. */
	pick = (dl->attempts - 1) % n;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (pick-- == 0)
			break;
	}
	if (ai->ai_family == AF_INET)
		((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(dl->hp.port);
	else
		((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(dl->hp.port);
	dial_connect(dl, ai->ai_addr);
	uv_freeaddrinfo(res);
}

static void
on_dial_timer(uv_timer_t *t)
{
	struct kzd_dial *dl = KZD_CONTAINER_OF(t, struct kzd_dial, timer);
	struct sockaddr_storage ss;
	struct addrinfo hints;
	char port[8];
	int rc;

	dl->retry_at_ms = 0;
	if (dl->d->stopping || dl->peer != NULL || dl->resolving || dl->self ||
	    dl->standby)
		return;
	/* Its node is linked already (it dialled us): stand by until that ends. */
	if (dl->have_node && node_linked(dl->d, NULL, dl->node)) {
		dl->standby = true;
		return;
	}
	dl->attempts++;
	if (dl->hp.numeric) {
		if ((rc = numeric_addr(&dl->hp, &ss)) < 0) {
			snprintf(dl->last_error, sizeof(dl->last_error), "%s",
			    uv_strerror(rc));
			dial_schedule(dl);
			return;
		}
		dial_connect(dl, (const struct sockaddr *)&ss);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", dl->hp.port);
	dl->resolving = true;
	if ((rc = uv_getaddrinfo(&dl->d->loop, &dl->gai, on_resolved, dl->hp.host,
	    port, &hints)) < 0) {
		dl->resolving = false;
		snprintf(dl->last_error, sizeof(dl->last_error), "cannot resolve "
		    "%s: %s", dl->hp.host, uv_strerror(rc));
		dial_schedule(dl);
	}
}

/*
 * Schedules dl's next attempt: the backoff (1 s, doubling up to [net]
 * reconnect_max_s) with +-20% jitter.
 */
static void
dial_schedule(struct kzd_dial *dl)
{
	struct kzd *d = dl->d;
	uint64_t max = (uint64_t)d->cfg.net_reconnect_max_s * 1000, wait;

	if (d->stopping || !dl->timer_open)
		return;
	if (dl->backoff_ms == 0)
		dl->backoff_ms = BACKOFF_FIRST_MS;
	if (dl->backoff_ms > max)
		dl->backoff_ms = max;
	wait = dl->backoff_ms * (800 + randombytes_uniform(401)) / 1000;
	dl->backoff_ms *= 2;
	if (dl->backoff_ms > max)
		dl->backoff_ms = max;
	dl->retry_at_ms = uv_now(&d->loop) + wait;
	kz_log(&d->log, KZ_LOG_DEBUG, "[net] peers: %s: next attempt in %llu ms%s%s",
	    dl->address, (unsigned long long)wait, dl->last_error[0] ? " after: " :
	    "", dl->last_error);
	uv_timer_start(&dl->timer, on_dial_timer, wait, 0);
}

/* Adds a static peer (once per HOST:PORT).  Returns 0 or -1 (logged). */
static int
dial_add(struct kzd *d, const struct kz_hostport *hp)
{
	struct kzd_dial *dl;
	size_t i;

	for (i = 0; i < d->net.n_dials; i++)
		if (d->net.dials[i].hp.port == hp->port &&
		    strcasecmp(d->net.dials[i].hp.host, hp->host) == 0)
			return 0;
	/* Static slots come first, before discovery adds any. */
	if (d->net.n_dials >= KZ_CONFIG_PEERS_MAX + 1)
		return 0;
	dl = &d->net.dials[d->net.n_dials];
	memset(dl, 0, sizeof(*dl));
	dl->d = d;
	dl->hp = *hp;
	fmt_hostport(dl->address, sizeof(dl->address), hp->host, hp->port);
	uv_timer_init(&d->loop, &dl->timer);
	dl->timer_open = true;
	d->net.n_dials++;
	/* The first attempt at once. */
	uv_timer_start(&dl->timer, on_dial_timer, 0, 0);
	return 0;
}

void
kzd_net_dial_start(struct kzd_dial *dl, uint64_t delay_ms)
{
	struct kzd *d = dl->d;

	if (d->stopping || !dl->timer_open)
		return;
	dl->retry_at_ms = uv_now(&d->loop) + delay_ms;
	uv_timer_start(&dl->timer, on_dial_timer, delay_ms, 0);
}

bool
kzd_net_node_linked(struct kzd *d, const uint8_t node[32])
{
	return node_linked(d, NULL, node);
}

/* ------------------------------------------------------------ ticking */

static void
on_tick(uv_timer_t *t)
{
	struct kzd *d = KZD_CONTAINER_OF(t, struct kzd, net.tick);
	uint64_t now = uv_now(&d->loop);
	uint64_t silent = 3 * (uint64_t)d->cfg.net_keepalive_s * 1000;
	struct kzd_peer *p;
	struct kzd_figs figs;
	char why[80];
	size_t i;

	/* A static peer away: whether it still lacks nothing. */
	for (i = 0; i < d->net.n_dials; i++)
		if (d->net.dials[i].peer == NULL && !d->net.dials[i].standby &&
		    d->net.dials[i].fig.tips_known)
			kzd_fig_eval(d, &d->net.dials[i].fig, NULL, NULL, &figs);
	kzd_rnet_tick(d);
	for (p = d->net.peers; p != NULL; p = p->next) {
		if (p->closing)
			continue;
		/* A new second: a throttled link is read again; its figures
		 * note whether it is in sync (the lag counts from then). */
		if (p->link != NULL) {
			struct kz_link_stats ls;

			kz_link_get_stats(p->link, &ls);
			p->frames_mark = ls.sync.frames_in;
			kzd_fig_eval(d, &p->fig, p->link, &ls, &figs);
		}
		if (p->throttled && !p->finishing) {
			p->throttled = false;
			if (uv_read_start((uv_stream_t *)&p->tcp, on_alloc,
			    on_read) < 0)
				peer_close(p);
			/* Its own silence is not the peer's. */
			p->last_rx_ms = now;
			continue;
		}
		if (p->finishing) {
			if (now >= p->finish_by_ms) {
				kz_log(&d->log, KZ_LOG_INFO, "%s: last bytes not taken "
				    "within %d ms; cut off", p->name, KZD_NET_FLUSH_MS);
				peer_close(p);
			}
			continue;
		}
		if (p->connected && p->link != NULL &&
		    kz_link_state(p->link) == KZ_LINK_OPEN &&
		    now - p->last_tx_ms >= (uint64_t)d->cfg.net_keepalive_s * 1000) {
			if (kz_link_ping(p->link) == 0)
				peer_drain(p);
		}
		if (now - p->last_rx_ms < silent)
			continue;
		if (!p->connected) {
			snprintf(why, sizeof(why), "no connection within %llu s",
			    (unsigned long long)(silent / 1000));
			peer_error(p, why);
			kz_log(&d->log, KZ_LOG_INFO, "%s: %s", p->name, why);
			peer_close(p);
		} else if (p->link != NULL) {
			snprintf(why, sizeof(why), "peer silent for %llu s",
			    (unsigned long long)((now - p->last_rx_ms) / 1000));
			kz_log(&d->log, KZ_LOG_WARN, "%s: %s", p->name, why);
			peer_error(p, why);
			kz_link_close(p->link, "peer silent");
			peer_finish(p);
		}
	}
}

/* ------------------------------------------------------------ lifetime */

/* Reads the network key.  Returns 0, 1 (none: no links) or -1 (logged). */
static int
load_network_key(struct kzd *d)
{
	struct kz_mesh_creds mc;
	char fp[KZ_MESH_KEY_FP_CHARS + 1];
	int rc = kz_mesh_file_read(d->home, &mc);

	switch (rc) {
	case 0:
		memcpy(d->net.network_key, mc.network_key, KZ_MESH_KEY_BYTES);
		memcpy(d->net.mesh_id, mc.mesh_id, KZ_MESH_ID_BYTES);
		kz_mesh_key_fingerprint(fp, mc.network_key);
		kz_log(&d->log, KZ_LOG_INFO, "network key %s (fingerprint %s)",
		    KZ_MESH_FILE, fp);
		break;
	case KZ_ERR_NOT_FOUND:
		kz_log(&d->log, KZ_LOG_WARN, "no network key (%s/%s): this node "
		    "has not joined a mesh, so it makes no links; run 'kizuna mesh "
		    "create' or 'kizuna mesh join TOKEN', then restart kizunad",
		    d->home, KZ_MESH_FILE);
		rc = 1;
		break;
	case KZ_ERR_KEY_PERMS:
		kz_log(&d->log, KZ_LOG_ERR, "%s/%s is readable by group or others; "
		    "refusing to use it (fix with: chmod 600 %s/%s)", d->home,
		    KZ_MESH_FILE, d->home, KZ_MESH_FILE);
		rc = -1;
		break;
	case KZ_ERR_IO:
		kz_log(&d->log, KZ_LOG_ERR, "%s/%s: %s", d->home, KZ_MESH_FILE,
		    strerror(errno));
		rc = -1;
		break;
	default:
		kz_log(&d->log, KZ_LOG_ERR, "%s/%s: %s", d->home, KZ_MESH_FILE,
		    kz_strerror(rc));
		rc = -1;
		break;
	}
	if (rc == 0 && mc.address[0] != '\0') {
		struct kz_hostport hp;

		/* The join token's bootstrap address is a static peer too. */
		if (kz_hostport_parse(&hp, mc.address, false) == 0)
			dial_add(d, &hp);
	}
	kz_mesh_creds_wipe(&mc);
	return rc;
}

static int
listen_start(struct kzd *d)
{
	struct kz_hostport hp;
	struct sockaddr_storage ss;
	char addr[KZD_ADDR_MAX];
	int len = sizeof(ss), rc;

	if (d->cfg.net_listen[0] == '\0') {
		kz_log(&d->log, KZ_LOG_INFO, "[net] listen is empty: accepting no "
		    "links");
		return 0;
	}
	if (kz_hostport_parse(&hp, d->cfg.net_listen, true) < 0 ||
	    (rc = numeric_addr(&hp, &ss)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "[net] listen: '%s' is not ADDRESS:PORT",
		    d->cfg.net_listen);
		return -1;
	}
	uv_tcp_init(&d->loop, &d->net.listener);
	d->net.listener_open = true;
	if ((rc = uv_tcp_bind(&d->net.listener, (const struct sockaddr *)&ss,
	    0)) < 0 || (rc = uv_listen((uv_stream_t *)&d->net.listener, 64,
	    on_connection)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "cannot listen on %s ([net] listen): %s",
		    d->cfg.net_listen, uv_strerror(rc));
		return -1;
	}
	if ((rc = uv_tcp_getsockname(&d->net.listener, (struct sockaddr *)&ss,
	    &len)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "[net] listen: %s", uv_strerror(rc));
		return -1;
	}
	d->net.listen_port = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	fmt_hostport(addr, sizeof(addr), hp.host, (unsigned)d->net.listen_port);
	kz_log(&d->log, KZ_LOG_INFO, "listening on %s", addr);
	return 0;
}

int
kzd_net_start(struct kzd *d)
{
	struct kz_hostport peers[KZ_CONFIG_PEERS_MAX];
	size_t n = 0, i;
	int rc;

	d->net.listen_port = -1;
	uv_timer_init(&d->loop, &d->net.tick);
	d->net.tick_open = true;
	uv_check_init(&d->loop, &d->net.resume);
	d->net.resume_open = true;
	if (kz_config_peers(&d->cfg, peers, &n) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "[net] peers: '%s' is not a list of "
		    "HOST:PORT", d->cfg.net_peers);
		return -1;
	}
	for (i = 0; i < n; i++)
		dial_add(d, &peers[i]);
	rc = load_network_key(d);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		/* No links: forget the static peers again. */
		for (i = 0; i < d->net.n_dials; i++)
			uv_timer_stop(&d->net.dials[i].timer);
		return 0;
	}
	d->net.enabled = true;
	if (listen_start(d) < 0)
		return -1;
	uv_timer_start(&d->net.tick, on_tick, TICK_MS, TICK_MS);
	kzd_discovery_start(d);
	return 0;
}

void
kzd_net_stop(struct kzd *d)
{
	struct kzd_peer *p;
	size_t i;

	if (d->net.listener_open &&
	    !uv_is_closing((uv_handle_t *)&d->net.listener))
		uv_close((uv_handle_t *)&d->net.listener, NULL);
	d->net.listener_open = false;
	kzd_discovery_stop(d);
	for (i = 0; i < d->net.n_dials; i++) {
		uv_timer_stop(&d->net.dials[i].timer);
		d->net.dials[i].retry_at_ms = 0;
		if (d->net.dials[i].resolving)
			(void)uv_cancel((uv_req_t *)&d->net.dials[i].gai);
	}
	for (p = d->net.peers; p != NULL; p = p->next) {
		if (p->closing || p->finishing)
			continue;
		if (p->link == NULL) {
			peer_close(p);
			continue;
		}
		kz_link_close(p->link, "the node is shutting down");
		peer_finish(p);
	}
}

void
kzd_net_abort(struct kzd *d)
{
	struct kzd_peer *p;

	for (p = d->net.peers; p != NULL; p = p->next)
		peer_close(p);
}

static void
close_if_open(uv_handle_t *h, bool *open)
{
	if (*open && !uv_is_closing(h))
		uv_close(h, NULL);
	*open = false;
}

void
kzd_net_close_handles(struct kzd *d)
{
	size_t i;

	close_if_open((uv_handle_t *)&d->net.listener, &d->net.listener_open);
	close_if_open((uv_handle_t *)&d->net.tick, &d->net.tick_open);
	close_if_open((uv_handle_t *)&d->net.resume, &d->net.resume_open);
	kzd_discovery_close_handles(d);
	for (i = 0; i < d->net.n_dials; i++)
		close_if_open((uv_handle_t *)&d->net.dials[i].timer,
		    &d->net.dials[i].timer_open);
}

void
kzd_net_free(struct kzd *d)
{
	size_t i;

	sodium_memzero(d->net.network_key, sizeof(d->net.network_key));
	free(d->net.adm.nodes);
	free(d->net.adm.grew);
	memset(&d->net.adm, 0, sizeof(d->net.adm));
	for (i = 0; i < KZD_NELEM(d->net.dials); i++)
		kzd_fig_free(&d->net.dials[i].fig);
}

/* ------------------------------------------------------------ status */

size_t
kzd_net_links(const struct kzd *d)
{
	const struct kzd_peer *p;
	size_t n = 0;

	for (p = d->net.peers; p != NULL; p = p->next)
		if (peer_usable(p) && p->checked &&
		    kz_link_state(p->link) == KZ_LINK_OPEN)
			n++;
	return n + kzd_rnet_links(d);
}

static const char *
state_name(const struct kzd_peer *p)
{
	if (!p->connected)
		return "connecting";
	if (p->link == NULL || p->finishing || p->closing)
		return "closed";
	switch (kz_link_state(p->link)) {
	case KZ_LINK_HANDSHAKE:
		return "handshake";
	case KZ_LINK_OPEN:
		return "open";
	default:
		return "closed";
	}
}

void
kzd_net_linked(struct kzd *d, char *name, size_t cap, const char *fp,
    const struct kzd_adm_node *an)
{
	bool named = an != NULL && an->name[0] != '\0';

	kz_log(&d->log, KZ_LOG_INFO, "%s: linked with node %s%s%s%s", name, fp,
	    named ? " (" : "", named ? an->name : "", named ? ")" : "");
	/* From now on every line about the link names the node. */
	snprintf(name + strlen(name), cap - strlen(name), " node %s", fp);
	kzd_notify_status(d);
}

json_t *
kzd_net_link_json(struct kzd *d, const struct kzd_link_row *r)
{
	static const struct kz_link_stats none;
	const struct kz_link_stats *ls = r->ls != NULL ? r->ls : &none;
	const struct kzd_adm_node *an = NULL;
	struct kzd_figs fg;
	char hex[65];
	json_t *o;

	if (r->node != NULL) {
		kz_hex(hex, r->node, 32);
		an = kzd_net_adm_node(d, r->node);
	}
	memset(&fg, 0, sizeof(fg));
	fg.pending_in = ls->sync.pending_in;
	fg.pending_out = ls->sync.pending_out;
	if (r->fig != NULL)
		kzd_fig_eval(d, r->fig, r->live, r->ls, &fg);
	o = json_pack("{s:s,s:s,s:s,s:o,s:b,s:s,s:o,s:o,s:I,s:I,s:I,s:I,s:I,"
	    "s:I,s:I,s:I,s:I,s:o}",
	    "address", r->address,
	    "direction", r->initiator ? "out" : "in",
	    "state", r->state,
	    "node_key", r->node != NULL ? json_string(hex) : json_null(),
	    "discovered", r->discovered,
	    "transport", r->transport,
	    "name", an != NULL && an->name[0] ? json_string(an->name) :
	    json_null(),
	    "since", r->up ? json_integer((json_int_t)r->since_s) : json_null(),
	    "bytes_in", (json_int_t)ls->bytes_in,
	    "bytes_out", (json_int_t)ls->bytes_out,
	    "entries_in", (json_int_t)ls->sync.entries_in,
	    "entries_out", (json_int_t)ls->sync.entries_out,
	    "urgent_in", (json_int_t)ls->sync.urgent_in,
	    "urgent_out", (json_int_t)ls->sync.urgent_out,
	    "pending_in", (json_int_t)fg.pending_in,
	    "pending_out", (json_int_t)fg.pending_out,
	    "queued_bytes", (json_int_t)r->queued,
	    "last_error", r->last_error != NULL && r->last_error[0] ?
	    json_string(r->last_error) : json_null());
	if (o == NULL)
		return NULL;
	/* linkfig.c: null where unknown (no fig, or tips never learnt). */
	json_object_set_new(o, "pending_bytes_in", fg.known ?
	    json_integer((json_int_t)fg.bytes_in) : json_null());
	json_object_set_new(o, "pending_bytes_out", fg.known ?
	    json_integer((json_int_t)fg.bytes_out) : json_null());
	json_object_set_new(o, "last_contact", r->fig != NULL &&
	    r->fig->last_contact_s != 0 ?
	    json_integer((json_int_t)r->fig->last_contact_s) : json_null());
	json_object_set_new(o, "lag_s", fg.have_lag ?
	    json_integer((json_int_t)fg.lag_s) : json_null());
	return o;
}

const char *
kzd_compress_name(enum kz_compress c)
{
	return c == KZ_COMPRESS_DICT ? "dict" : c == KZ_COMPRESS_ZSTD ? "zstd" :
	    "none";
}

/* A TCP link's row: the common fields, its profile and compression. */
static json_t *
peer_json(struct kzd_peer *p)
{
	struct kz_link_stats ls;
	struct kzd_link_row r = {
		.address = p->address,
		.initiator = p->initiator,
		.state = state_name(p),
		.node = p->link != NULL ? kz_link_peer(p->link) : NULL,
		.discovered = p->dial != NULL && p->dial->discovered,
		.transport = "tcp",
		.up = p->connected,
		.since_s = p->since_s,
		.ls = &ls,
		.queued = p->queued,
		.last_error = p->last_error,
		.fig = &p->fig,
		.live = p->link,
	};
	json_t *o;

	memset(&ls, 0, sizeof(ls));
	if (p->link != NULL)
		kz_link_get_stats(p->link, &ls);
	o = kzd_net_link_json(p->d, &r);
	if (o != NULL) {
		json_object_set_new(o, "profile", json_string(p->slow ? "slow" :
		    "lan"));
		json_object_set_new(o, "compress", p->link != NULL &&
		    kz_link_state(p->link) == KZ_LINK_OPEN ?
		    json_string(kzd_compress_name(ls.compress)) : json_null());
	}
	return o;
}

/* A static peer without a connection: closed, and when it is tried next. */
static json_t *
dial_json(struct kzd *d, struct kzd_dial *dl)
{
	uint64_t now = uv_now(&d->loop);
	struct kzd_link_row r = {
		.address = dl->address,
		.initiator = true,
		.state = "closed",
		.node = dl->have_node ? dl->node : NULL,
		.discovered = dl->discovered,
		.transport = "tcp",
		.last_error = dl->self ? "this node's own address" :
		    dl->standby ? "another link reaches this node" : dl->last_error,
		/* Standing by: the link that reaches its node has the figures. */
		.fig = dl->standby || dl->self ? NULL : &dl->fig,
	};
	json_t *o = kzd_net_link_json(d, &r);

	if (o != NULL)
		json_object_set_new(o, "retry_in_s", dl->retry_at_ms > now ?
		    json_integer((json_int_t)((dl->retry_at_ms - now + 999) /
		    1000)) : json_null());
	return o;
}

void
kzd_net_status(struct kzd *d, json_t *o)
{
	json_t *a = json_array(), *rp;
	struct kzd_peer *p;
	size_t i;

	if (o == NULL || a == NULL) {
		json_decref(a);
		return;
	}
	json_object_set_new(o, "listen_port", d->net.listen_port >= 0 ?
	    json_integer(d->net.listen_port) : json_null());
	for (p = d->net.peers; p != NULL; p = p->next)
		json_array_append_new(a, peer_json(p));
	if ((rp = kzd_rnet_peer_json(d)) != NULL)
		json_array_append_new(a, rp);
	for (i = 0; i < d->net.n_dials; i++) {
		struct kzd_dial *dl = &d->net.dials[i];

		/*
		 * A discovered node reached by another link is that link's row;
		 * a forgotten slot is nothing.
		 */
		if (dl->peer != NULL || dl->unused ||
		    (dl->discovered && (dl->standby || (dl->have_node &&
		    node_linked(d, NULL, dl->node)))))
			continue;
		json_array_append_new(a, dial_json(d, dl));
	}
	json_object_set_new(o, "peers", a);
	a = json_object();
	for (i = 0; a != NULL && i < d->net.n_rejects; i++)
		json_object_set_new(a, d->net.rejects[i].name,
		    json_integer((json_int_t)d->net.rejects[i].n));
	json_object_set_new(o, "rejected", a);
	kzd_discovery_status(d, o);
}
