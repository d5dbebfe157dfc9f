/*
 * LAN discovery: beacons (kizuna/beacon.h) sent to [net] discovery_address
 * every discovery_interval_s (+-20% jitter) and heard on discovery_port, so
 * that nodes of one mesh on one LAN link up without a configured peer list.
 *
 * Sockets: one uv_udp_t hears, bound to 0.0.0.0:discovery_port with
 * SO_REUSEADDR so that every kizunad on a host hears every beacon (and
 * joined to the group when the address is multicast); another sends, bound
 * to the interface's address (any port) so that multicast and broadcast
 * leave by that interface only, with TTL 1 and multicast loop on (nodes on
 * one host hear each other).  If any of that cannot be set up, the node
 * sends nothing rather than send where the operator did not say.
 *
 * A beacon is used only after every check: exactly one beacon's length,
 * the magic, version 1; this node's own key and other meshes' tags are
 * ignored (the latter logged once per node at debug level, as is junk once
 * per sender address).  A node of the mesh is dialled at its beacon's
 * source address and TCP port through net.c's dial slots, marked
 * "discovered": any key is dialled, because the link's handshake and the
 * admission cache decide what it may carry, not the beacon.
 *
 * Invariants:
 * - At most KZD_DISC_MAX discovered slots, KZD_DISC_PER_HOST from one IP
 *   address; a node is never given a slot when a static peer or a link
 *   reaches it already.
 * - One slot per node key; its beacons count at most once a MIN_GAP_MS
 *   (rate limit per sender).  A beacon naming a new address moves a slot
 *   that has no connection.
 * - A slot whose node went unheard for KZD_DISC_EXPIRE intervals is
 *   forgotten: at the next beacon tick when it has no connection, else when
 *   its connection ends (kzd_discovery_closed()).  A working link is never
 *   cut because beacons stopped.
 * - Both ends of a pair hear each other: the node with the lower key dials
 *   at once, the other waits three intervals, by when that link stands
 *   and its slot stands by (net.c's on_dial_timer) instead of making a
 *   second link for both ends to cut down to the same one.
 *
 * A slot's states (net.c's dial machinery does the dialling):
 *
 *   unused --heard(): new node--> dialling (timer, connection, backoff)
 *   dialling --on_dial_timer(): node linked already--> standby
 *   dialling/standby --refresh(): new address, no connection--> dialling
 *   any --expire() or kzd_discovery_closed(): unheard--> unused
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <sodium.h>

#include "daemon/kizunad.h"
#include "kizuna/beacon.h"
#include "kizuna/err.h"
#include "kizuna/util.h"

/* Beacons from one node closer together than this count once. */
#define MIN_GAP_MS 1000

enum noted_kind { NOTED_OTHER_MESH = 1, NOTED_JUNK = 2 };

/* ms with +-20% jitter. */
static uint64_t
jittered(uint64_t ms)
{
	return ms * (800 + randombytes_uniform(401)) / 1000;
}

static bool
is_multicast(const struct sockaddr_in *sa)
{
	return (ntohl(sa->sin_addr.s_addr) >> 28) == 0xe;
}

static uint64_t
expire_ms(const struct kzd_disc *ds)
{
	return KZD_DISC_EXPIRE * ds->interval_ms;
}

/*
 * Whether (kind, key) is new to the log: records it (dropping the oldest
 * when full) and returns true the first time.
 */
static bool
noted_first(struct kzd_disc *ds, enum noted_kind kind, const uint8_t *key,
    size_t len)
{
	uint8_t k[33];
	size_t i;

	memset(k, 0, sizeof(k));
	k[0] = (uint8_t)kind;
	memcpy(k + 1, key, len);
	for (i = 0; i < ds->n_noted; i++)
		if (memcmp(ds->noted[i], k, sizeof(k)) == 0)
			return false;
	memcpy(ds->noted[ds->next_noted], k, sizeof(k));
	ds->next_noted = (ds->next_noted + 1) % KZD_DISC_NOTED;
	if (ds->n_noted < KZD_DISC_NOTED)
		ds->n_noted++;
	return true;
}

/* ------------------------------------------------------------ slots */

/* Clears what a slot knew, keeping its timer handle (which stays open). */
static void
slot_clear(struct kzd_dial *dl)
{
	dl->resolving = false;
	memset(&dl->hp, 0, sizeof(dl->hp));
	dl->address[0] = '\0';
	dl->peer = NULL;
	kzd_fig_free(&dl->fig);
	dl->backoff_ms = 0;
	dl->retry_at_ms = 0;
	dl->attempts = 0;
	dl->self = false;
	dl->standby = false;
	dl->have_node = false;
	memset(dl->node, 0, sizeof(dl->node));
	dl->last_error[0] = '\0';
	dl->discovered = true;
	dl->unused = false;
	dl->seen_ms = 0;
}

static void
slot_target(struct kzd_dial *dl, const char *ip, uint16_t port)
{
	memset(&dl->hp, 0, sizeof(dl->hp));
	snprintf(dl->hp.host, sizeof(dl->hp.host), "%s", ip);
	dl->hp.port = port;
	dl->hp.numeric = true;
	snprintf(dl->address, sizeof(dl->address), "%s:%u", ip, (unsigned)port);
}

/* Forgets dl (no connection left): free for the next node. */
static void
forget(struct kzd *d, struct kzd_dial *dl)
{
	char fp[KZ_FINGERPRINT_CHARS + 1];

	kz_fingerprint(fp, dl->node);
	kz_log(&d->log, KZ_LOG_INFO, "discovery: forgetting node %s at %s: no "
	    "beacon for %llu s", fp, dl->address,
	    (unsigned long long)((uv_now(&d->loop) - dl->seen_ms) / 1000));
	uv_timer_stop(&dl->timer);
	slot_clear(dl);
	dl->unused = true;
}

/*
 * When to dial a node first: at once if this node's key is the lower, else
 * after about an interval (see the top of the file).
 */
static uint64_t
first_delay(struct kzd *d, const uint8_t node[32])
{
	/* The lower key hears our next beacon within 1.2 intervals (the
	 * jitter is +-20%) and dials at once; we give it three. */
	return memcmp(d->kp.pk, node, 32) < 0 ? 0 :
	    2 * d->net.disc.interval_ms + jittered(d->net.disc.interval_ms);
}

/* A beacon of a node that has a slot already. */
static void
refresh(struct kzd *d, struct kzd_dial *dl, const char *ip, uint16_t port,
    uint64_t now)
{
	struct kzd_disc *ds = &d->net.disc;
	char fp[KZ_FINGERPRINT_CHARS + 1];
	uint64_t gap = ds->interval_ms / 2 < MIN_GAP_MS ? ds->interval_ms / 2 :
	    MIN_GAP_MS;

	if (now - dl->seen_ms < gap) {
		ds->rate_limited++;
		return;
	}
	dl->seen_ms = now;
	if (dl->hp.port == port && strcmp(dl->hp.host, ip) == 0)
		return;
	/* A connection goes on; the new address is taken if it ends. */
	if (dl->peer != NULL || dl->resolving)
		return;
	slot_target(dl, ip, port);
	kz_fingerprint(fp, dl->node);
	kz_log(&d->log, KZ_LOG_INFO, "discovery: node %s is now at %s", fp,
	    dl->address);
	dl->self = false;
	dl->attempts = 0;
	dl->backoff_ms = 0;
	dl->last_error[0] = '\0';
	if (!dl->standby)
		kzd_net_dial_start(dl, first_delay(d, dl->node));
}

/* A beacon of this mesh from ip (not this node's own). */
static void
heard(struct kzd *d, const char *ip, const struct kz_beacon *b)
{
	struct kzd_disc *ds = &d->net.disc;
	struct kzd_dial *dl, *slot = NULL, *spare = NULL;
	uint64_t now = uv_now(&d->loop);
	char fp[KZ_FINGERPRINT_CHARS + 1];
	size_t i, n = 0, same_host = 0;

	ds->heard++;
	for (i = 0; i < d->net.n_dials; i++) {
		dl = &d->net.dials[i];
		if (dl->discovered) {
			if (dl->unused) {
				if (spare == NULL)
					spare = dl;
				continue;
			}
			n++;
			if (strcmp(dl->hp.host, ip) == 0)
				same_host++;
			if (dl->have_node && memcmp(dl->node, b->node, 32) == 0)
				slot = dl;
			continue;
		}
		/* A static peer reaches it: nothing to add. */
		if ((dl->have_node && memcmp(dl->node, b->node, 32) == 0) ||
		    (dl->hp.port == b->port && strcmp(dl->hp.host, ip) == 0))
			return;
	}
	if (slot != NULL) {
		refresh(d, slot, ip, b->port, now);
		return;
	}
	/* It dialled this node, or a link reaches it some other way. */
	if (kzd_net_node_linked(d, b->node))
		return;
	if (n >= KZD_DISC_MAX || same_host >= KZD_DISC_PER_HOST ||
	    (spare == NULL && d->net.n_dials >= KZD_NELEM(d->net.dials))) {
		ds->dropped++;
		if (!ds->full_logged)
			kz_log(&d->log, KZ_LOG_WARN, "discovery: %s nodes heard "
			    "already (at most %d, %d per address); not dialling "
			    "more until some go unheard", n >= KZD_DISC_MAX ?
			    "too many" : "too many of these", KZD_DISC_MAX,
			    KZD_DISC_PER_HOST);
		ds->full_logged = true;
		return;
	}
	ds->full_logged = false;
	if (spare != NULL) {
		dl = spare;
	} else {
		dl = &d->net.dials[d->net.n_dials++];
		memset(dl, 0, sizeof(*dl));
		dl->d = d;
		uv_timer_init(&d->loop, &dl->timer);
		dl->timer_open = true;
	}
	slot_clear(dl);
	slot_target(dl, ip, b->port);
	dl->have_node = true;
	memcpy(dl->node, b->node, 32);
	dl->seen_ms = now;
	kz_fingerprint(fp, b->node);
	kz_log(&d->log, KZ_LOG_INFO, "discovered node %s at %s", fp, dl->address);
	kzd_net_dial_start(dl, first_delay(d, b->node));
}

/* Forgets the slots without a connection whose nodes went unheard. */
static void
expire(struct kzd *d)
{
	struct kzd_disc *ds = &d->net.disc;
	uint64_t now = uv_now(&d->loop);
	size_t i;

	for (i = 0; i < d->net.n_dials; i++) {
		struct kzd_dial *dl = &d->net.dials[i];

		if (dl->discovered && !dl->unused && dl->peer == NULL &&
		    !dl->resolving && now - dl->seen_ms >= expire_ms(ds))
			forget(d, dl);
	}
}

bool
kzd_discovery_closed(struct kzd *d, struct kzd_dial *dl)
{
	if (uv_now(&d->loop) - dl->seen_ms < expire_ms(&d->net.disc))
		return false;
	forget(d, dl);
	return true;
}

/* ------------------------------------------------------------ hearing */

static void
on_disc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct kzd_disc *ds = KZD_CONTAINER_OF(h, struct kzd_disc, rx);

	*buf = uv_buf_init((char *)ds->rbuf, sizeof(ds->rbuf));
}

static const char *
junk_reason(int rc, const uint8_t *buf, ssize_t len, char *out, size_t outlen)
{
	switch (rc) {
	case KZ_ERR_TRUNCATED:
		snprintf(out, outlen, "%zd bytes, shorter than a beacon", len);
		break;
	case KZ_ERR_SCHEMA:
		snprintf(out, outlen, "beacon version %u; this node speaks %d",
		    (unsigned)buf[4], KZ_BEACON_VERSION);
		break;
	default:
		snprintf(out, outlen, "%zd bytes, not a kizuna beacon", len);
		break;
	}
	return out;
}

static void
on_beacon(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
    const struct sockaddr *addr, unsigned flags)
{
	struct kzd_disc *ds = KZD_CONTAINER_OF(h, struct kzd_disc, rx);
	struct kzd_net *net = KZD_CONTAINER_OF(ds, struct kzd_net, disc);
	struct kzd *d = KZD_CONTAINER_OF(net, struct kzd, net);
	const struct sockaddr_in *from = (const struct sockaddr_in *)addr;
	struct kz_beacon b;
	char ip[INET_ADDRSTRLEN], fp[KZ_FINGERPRINT_CHARS + 1], why[80];
	int rc;

	if (nread < 0) {
		kz_log(&d->log, KZ_LOG_DEBUG, "discovery: %s",
		    uv_strerror((int)nread));
		return;
	}
	if (addr == NULL || addr->sa_family != AF_INET || !ds->on)
		return;		/* nothing more to read, or not IPv4 */
	if (uv_ip4_name(from, ip, sizeof(ip)) != 0)
		return;
	if (flags & UV_UDP_PARTIAL)
		rc = KZ_ERR_MALFORMED;
	else
		rc = kz_beacon_decode(&b, (const uint8_t *)buf->base,
		    (size_t)nread);
	if (rc < 0) {
		ds->bad++;
		if (noted_first(ds, NOTED_JUNK, (const uint8_t *)&from->sin_addr,
		    sizeof(from->sin_addr)))
			kz_log(&d->log, KZ_LOG_DEBUG, "discovery: ignoring datagrams "
			    "from %s:%u: %s", ip, (unsigned)ntohs(from->sin_port),
			    junk_reason(rc, (const uint8_t *)buf->base, nread, why,
			    sizeof(why)));
		return;
	}
	if (memcmp(b.node, d->kp.pk, 32) == 0) {
		ds->own++;
		return;
	}
	if (memcmp(b.mesh_tag, ds->tag, sizeof(ds->tag)) != 0) {
		ds->other_mesh++;
		if (noted_first(ds, NOTED_OTHER_MESH, b.node, 32)) {
			kz_fingerprint(fp, b.node);
			kz_log(&d->log, KZ_LOG_DEBUG, "discovery: ignoring beacons of "
			    "another mesh from %s (node %s)", ip, fp);
		}
		return;
	}
	heard(d, ip, &b);
}

/* ------------------------------------------------------------ sending */

static void
on_disc_timer(uv_timer_t *t)
{
	struct kzd_disc *ds = KZD_CONTAINER_OF(t, struct kzd_disc, timer);
	struct kzd_net *net = KZD_CONTAINER_OF(ds, struct kzd_net, disc);
	struct kzd *d = KZD_CONTAINER_OF(net, struct kzd, net);
	uv_buf_t b;
	int rc;

	if (!ds->on || d->stopping)
		return;
	if (ds->announcing) {
		b = uv_buf_init((char *)ds->beacon, sizeof(ds->beacon));
		rc = uv_udp_try_send(&ds->tx, &b, 1,
		    (const struct sockaddr *)&ds->dest);
		if (rc >= 0) {
			if (ds->send_failing)
				kz_log(&d->log, KZ_LOG_INFO, "discovery: beacons "
				    "are sent again");
			ds->send_failing = false;
			ds->sent++;
		} else {
			/* The LAN may be down for hours: say so once. */
			kz_log(&d->log, ds->send_failing ? KZ_LOG_DEBUG :
			    KZ_LOG_WARN, "discovery: cannot send a beacon to "
			    "%s:%d: %s", d->cfg.net_discovery_address,
			    d->cfg.net_discovery_port, uv_strerror(rc));
			ds->send_failing = true;
			ds->send_errors++;
		}
	}
	expire(d);
	uv_timer_start(&ds->timer, on_disc_timer, jittered(ds->interval_ms), 0);
}

/*
 * Sets up the sending socket.  Returns 0, or a UV error with what failed in
 * *what; then nothing is sent.
 */
static int
announce_start(struct kzd *d, const char **what)
{
	struct kzd_disc *ds = &d->net.disc;
	const char *iface = d->cfg.net_discovery_interface;
	struct sockaddr_in src;
	struct kz_beacon b;
	int rc;

	*what = "open a socket";
	if ((rc = uv_udp_init(&d->loop, &ds->tx)) < 0)
		return rc;
	ds->tx_open = true;
	*what = "bind to the interface";
	if ((rc = uv_ip4_addr(iface[0] ? iface : "0.0.0.0", 0, &src)) < 0 ||
	    (rc = uv_udp_bind(&ds->tx, (const struct sockaddr *)&src, 0)) < 0)
		return rc;
	*what = "set the TTL";
	if ((rc = uv_udp_set_ttl(&ds->tx, 1)) < 0)
		return rc;
	if (is_multicast(&ds->dest)) {
		*what = "set multicast options";
		if ((rc = uv_udp_set_multicast_ttl(&ds->tx, 1)) < 0 ||
		    (rc = uv_udp_set_multicast_loop(&ds->tx, 1)) < 0)
			return rc;
		*what = "send multicast by the interface";
		if (iface[0] &&
		    (rc = uv_udp_set_multicast_interface(&ds->tx, iface)) < 0)
			return rc;
	} else {
		*what = "allow broadcast";
		if ((rc = uv_udp_set_broadcast(&ds->tx, 1)) < 0)
			return rc;
	}
	memset(&b, 0, sizeof(b));
	memcpy(b.mesh_tag, ds->tag, sizeof(b.mesh_tag));
	memcpy(b.node, d->kp.pk, 32);
	b.port = (uint16_t)d->net.listen_port;
	*what = "encode the beacon";
	if (kz_beacon_encode(ds->beacon, &b) < 0)
		return UV_EINVAL;
	return 0;
}

/* ------------------------------------------------------------ lifetime */

void
kzd_discovery_start(struct kzd *d)
{
	struct kzd_disc *ds = &d->net.disc;
	const char *iface = d->cfg.net_discovery_interface, *what;
	struct sockaddr_in any;
	int port = d->cfg.net_discovery_port, rc;

	if (!d->cfg.net_discovery) {
		kz_log(&d->log, KZ_LOG_INFO, "[net] discovery is off: only static "
		    "peers are linked");
		return;
	}
	ds->interval_ms = (uint64_t)d->cfg.net_discovery_interval_s * 1000;
	kz_beacon_mesh_tag(ds->tag, d->net.mesh_id);
	what = "parse [net] discovery_address";
	if ((rc = uv_ip4_addr(d->cfg.net_discovery_address, port, &ds->dest)) < 0)
		goto fail;

	what = "open a socket";
	if ((rc = uv_udp_init(&d->loop, &ds->rx)) < 0)
		goto fail;
	ds->rx_open = true;
	what = "bind to the port";
	if ((rc = uv_ip4_addr("0.0.0.0", port, &any)) < 0 ||
	    (rc = uv_udp_bind(&ds->rx, (const struct sockaddr *)&any,
	    UV_UDP_REUSEADDR)) < 0)
		goto fail;
	what = "join the multicast group";
	if (is_multicast(&ds->dest) &&
	    (rc = uv_udp_set_membership(&ds->rx, d->cfg.net_discovery_address,
	    iface[0] ? iface : NULL, UV_JOIN_GROUP)) < 0)
		goto fail;
	what = "read";
	if ((rc = uv_udp_recv_start(&ds->rx, on_disc_alloc, on_beacon)) < 0)
		goto fail;
	uv_timer_init(&d->loop, &ds->timer);
	ds->timer_open = true;
	ds->on = true;

	if (d->net.listen_port <= 0) {
		kz_log(&d->log, KZ_LOG_INFO, "discovery: hearing beacons on port %d; "
		    "sending none, as [net] listen is empty", port);
	} else if ((rc = announce_start(d, &what)) < 0) {
		kz_log(&d->log, KZ_LOG_WARN, "discovery: cannot %s (%s%s%s): %s; "
		    "hearing beacons but sending none", what,
		    d->cfg.net_discovery_address, iface[0] ? " by " : "", iface,
		    uv_strerror(rc));
	} else {
		ds->announcing = true;
		kz_log(&d->log, KZ_LOG_INFO, "discovery: beacons to %s:%d%s%s every "
		    "%d s", d->cfg.net_discovery_address, port,
		    iface[0] ? " by " : "", iface, d->cfg.net_discovery_interval_s);
	}
	/* The first beacon at once: a node just started wants its peers now. */
	uv_timer_start(&ds->timer, on_disc_timer, 0, 0);
	return;
fail:
	kz_log(&d->log, KZ_LOG_WARN, "discovery: cannot %s (%s:%d%s%s): %s; this "
	    "node finds no peers on the LAN (static peers are linked)", what,
	    d->cfg.net_discovery_address, port, iface[0] ? " by " : "", iface,
	    uv_strerror(rc));
	kzd_discovery_stop(d);
}

void
kzd_discovery_stop(struct kzd *d)
{
	struct kzd_disc *ds = &d->net.disc;

	if (ds->rx_open)
		(void)uv_udp_recv_stop(&ds->rx);
	if (ds->timer_open)
		uv_timer_stop(&ds->timer);
	ds->on = false;
	ds->announcing = false;
}

static void
close_if_open(uv_handle_t *h, bool *open)
{
	if (*open && !uv_is_closing(h))
		uv_close(h, NULL);
	*open = false;
}

void
kzd_discovery_close_handles(struct kzd *d)
{
	struct kzd_disc *ds = &d->net.disc;

	close_if_open((uv_handle_t *)&ds->rx, &ds->rx_open);
	close_if_open((uv_handle_t *)&ds->tx, &ds->tx_open);
	close_if_open((uv_handle_t *)&ds->timer, &ds->timer_open);
}

/* ------------------------------------------------------------ status */

void
kzd_discovery_status(struct kzd *d, json_t *o)
{
	struct kzd_disc *ds = &d->net.disc;
	size_t i, n = 0;

	if (!ds->on) {
		json_object_set_new(o, "discovery", json_null());
		return;
	}
	for (i = 0; i < d->net.n_dials; i++)
		if (d->net.dials[i].discovered && !d->net.dials[i].unused)
			n++;
	json_object_set_new(o, "discovery", json_pack(
	    "{s:s,s:i,s:o,s:i,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	    "address", d->cfg.net_discovery_address,
	    "port", d->cfg.net_discovery_port,
	    "interface", d->cfg.net_discovery_interface[0] ?
	    json_string(d->cfg.net_discovery_interface) : json_null(),
	    "interval_s", d->cfg.net_discovery_interval_s,
	    "announcing", ds->announcing,
	    "nodes", (json_int_t)n,
	    "beacons_sent", (json_int_t)ds->sent,
	    "send_errors", (json_int_t)ds->send_errors,
	    "beacons_heard", (json_int_t)ds->heard,
	    "own", (json_int_t)ds->own,
	    "other_mesh", (json_int_t)ds->other_mesh,
	    "malformed", (json_int_t)ds->bad,
	    "rate_limited", (json_int_t)ds->rate_limited,
	    "dropped", (json_int_t)ds->dropped));
}
