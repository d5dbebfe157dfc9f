/*
 * The radio link: [radio] device opened as a KISS port (kz_radio, radio.h)
 * and, while the port is up, one session with the station [radio]
 * peercall: a secure link (Noise, compression, the sync protocol) over the
 * reliable link layer (kz_arq), which kz_rlink joins.  Point to point: one
 * peer station.
 *
 * Invariants:
 * - The session gets the callbacks a TCP link gets (net.c): only admitted
 *   feeds are accepted and forwarded, refusals are counted by reason,
 *   entries that arrive are pushed on every TCP link, and entries that
 *   grow here (an append, a TCP link, a bundle) are pushed on the radio
 *   link.  A feed that grows is handed to the session at once but the
 *   frames go out from the next loop turn (the timer at 0), never from
 *   inside another link's callback.
 * - Every frame in goes through kz_rlink_input; after it, after a feed
 *   grew, and when the timer fires at kz_rlink_next_event, pump() calls
 *   kz_rlink_output until it returns 1 and queues each frame to the port.
 *   The ARQ paces itself by airtime, so the port's queue stays small.
 * - Who starts the Noise handshake: the station whose callsign sorts first
 *   (strcmp of the canonical "CALL-SSID" forms).  Both stations know both
 *   callsigns from their configs, and neither needs the other's node key.
 * - A session ends when kz_rlink_ended (the link closed and its last bytes
 *   were acknowledged, or the ARQ is down: the peer silent for dead_ms
 *   with data pending, or restarted), when no handshake completes in time,
 *   or when the port goes down.  Its reason is logged, it is freed, and the
 *   next one begins after a randomized backoff with a new random session
 *   id, so the peer's ARQ sees a restarted peer and begins anew too.  A
 *   frame from a peer's new session (addressed to no session yet) begins
 *   ours at once and is its first frame.
 * - Keepalive: an open link that has sent nothing for [radio] keepalive_s
 *   (60 s: each costs airtime) sends a sync Ping, so a gone station leaves
 *   data pending and the ARQ calls the link down after its dead_ms.
 *
 * States (the "state" of the link's row in status):
 *
 *   connecting --port up (on_port_state)--> waiting
 *   waiting --timer, or a new session's frame (session_begin)--> handshake
 *   handshake --the link opens (pump)--> open
 *   handshake, open --ended, handshake timeout (session_end)--> waiting
 *   any --port down (on_port_state: session_end)--> connecting
 *   any --kzd_rnet_stop(): a Bye, kz_radio_close--> closed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "daemon/kizunad.h"
#include "daemon/radio.h"
#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/rlink.h"
#include "kizuna/util.h"

/* The first session begins this long (plus up to 1 s) after the port is up:
 * Direwolf looks for new KISS clients once a second. */
#define FIRST_SESSION_MS 200
/* Between sessions: 1-3 s after one that worked, else doubling to 60 s. */
#define BACKOFF_FIRST_MS 2000
#define BACKOFF_MAX_MS 60000
/* An open link that lasted this long resets the backoff. */
#define STABLE_MS 30000
/*
 * Stream bytes the ARQ may hold unacknowledged, in full frames: an urgent
 * entry waits behind at most this and one sync frame.  Half a burst (4 of
 * kz_rlink's default 8) halves that bound (712 bytes, ~6 s at 1200 baud);
 * through the Direwolf rig the throughput was the same within run-to-run
 * noise (docs/radio.md, "kizunad over radio").
 */
#define LEAD_FRAMES 4

static void pump(struct kzd_rnet *r);
static void session_begin(struct kzd_rnet *r);

/* ------------------------------------------------------------ options */

static void
radio_opts(const struct kz_config *cfg, struct kz_radio_opts *o)
{
	kz_radio_opts_default(o);
	o->device = cfg->radio_device;
	o->speed = (unsigned)cfg->radio_speed;
	o->kiss_port = (unsigned)cfg->radio_kiss_port;
	o->ax25 = cfg->radio_ax25;
	/* Valid callsigns (the table checks them) fit; others are cut and
	 * refused by kz_radio_check_opts. */
	snprintf(o->mycall, sizeof(o->mycall), "%.*s",
	    (int)sizeof(o->mycall) - 1, cfg->radio_mycall);
	snprintf(o->peercall, sizeof(o->peercall), "%.*s",
	    (int)sizeof(o->peercall) - 1, cfg->radio_peercall);
	o->pid = (uint8_t)cfg->radio_pid;
	o->txdelay_ms = (unsigned)cfg->radio_txdelay_ms;
	o->persist = (unsigned)cfg->radio_persist;
	o->slottime_ms = (unsigned)cfg->radio_slottime_ms;
	o->txtail_ms = (unsigned)cfg->radio_txtail_ms;
	o->frame_max = (size_t)cfg->radio_frame_max;
}

/*
 * The session's options: kz_rlink_opts_radio for [radio] bit_rate, then
 * the ARQ fitted to this modem.  Its frames are the port's payload limit;
 * the per-frame cost below it is AX.25's 16 bytes (if on) plus FCS and
 * flag; a transmission's fixed cost is TXDELAY + TXTAIL plus the mean wait
 * of p-persistence ((255 - persist) / (persist + 1) slots).  The timers are
 * derived as kz_arq_opts_radio derives them from these, with rto_max and
 * dead_ms raised for a slow modem whose first RTO exceeds the defaults.
 */
static void
rlink_opts(const struct kz_config *cfg, size_t mtu, struct kz_rlink_opts *o)
{
	struct kz_arq_opts *a = &o->arq;
	uint32_t frame_ms;

	kz_rlink_opts_radio(o, (uint32_t)cfg->radio_bit_rate);
	a->mtu = mtu;
	a->frame_overhead = (cfg->radio_ax25 ? KZ_AX25_HEADER_LEN : 0) + 3;
	a->tx_overhead_ms = (uint32_t)(cfg->radio_txdelay_ms +
	    cfg->radio_txtail_ms + cfg->radio_slottime_ms *
	    (255 - cfg->radio_persist) / (cfg->radio_persist + 1));
	frame_ms = (uint32_t)((a->mtu + a->frame_overhead) * 1000u /
	    a->bytes_per_s);
	a->ack_delay_ms = 2 * frame_ms + 300;
	a->rto_min_ms = 2 * (a->tx_overhead_ms + frame_ms);
	a->rto_initial_ms = a->rto_min_ms + a->burst * frame_ms;
	if (a->rto_max_ms < a->rto_initial_ms)
		a->rto_max_ms = a->rto_initial_ms;
	if (a->dead_ms < 10 * a->rto_max_ms)
		a->dead_ms = 10 * a->rto_max_ms;
	o->lead = (a->mtu - KZ_ARQ_OVERHEAD) * LEAD_FRAMES;
	switch (cfg->radio_compress) {
	case KZ_CONFIG_COMPRESS_NONE:
		o->link.compress = KZ_COMPRESS_NONE;
		break;
	case KZ_CONFIG_COMPRESS_ZSTD:
		o->link.compress = KZ_COMPRESS_ZSTD;
		break;
	default:
		o->link.compress = KZ_COMPRESS_DICT;
		break;
	}
}

/* How long a session may take to open: a minute plus eight first RTOs. */
static uint64_t
handshake_ms(const struct kz_rlink_opts *o)
{
	return 60000 + 8 * (uint64_t)o->arq.rto_initial_ms;
}

/*
 * The [radio] key a kz_radio_check_opts sentence names ("radio mycall
 * 'X': ..." names mycall), or NULL.
 */
static const char *
key_of(const char *why, char *key, size_t keylen)
{
	size_t n = 0;

	if (strncmp(why, "radio ", 6) != 0)
		return NULL;
	why += 6;
	while (n + 1 < keylen && ((why[n] >= 'a' && why[n] <= 'z') ||
	    why[n] == '_')) {
		key[n] = why[n];
		n++;
	}
	key[n] = '\0';
	return n > 0 ? key : NULL;
}

/* "FILE:LINE: [radio] why", LINE that of key, else that of device. */
static int
config_fail(const struct kz_config *cfg, const char *conf_path,
    const char *key, const char *why, char *err, size_t errlen)
{
	int line = key != NULL ? kz_config_line(cfg, "radio", key) : 0;

	if (line == 0)
		line = kz_config_line(cfg, "radio", "device");
	snprintf(err, errlen, "%s:%d: [radio] %s", conf_path, line, why);
	return -1;
}

int
kzd_rnet_check(const struct kz_config *cfg, const char *conf_path,
    char *err, size_t errlen)
{
	struct kz_radio_opts o;
	struct kz_rlink_opts ro;
	struct kz_ax25_addr my, peer;
	struct kz_arq *a = NULL;
	char why[300], key[24];
	size_t mtu;

	if (cfg->radio_device[0] == '\0')
		return 0;
	radio_opts(cfg, &o);
	if (kz_radio_check_opts(&o, why, sizeof(why)) < 0)
		return config_fail(cfg, conf_path, key_of(why, key, sizeof(key)),
		    why + (strncmp(why, "radio ", 6) == 0 ? 6 : 0), err, errlen);
	/* Without AX.25 the callsigns still say who starts the handshake. */
	if (kz_ax25_addr_parse(&my, cfg->radio_mycall, NULL) < 0)
		return config_fail(cfg, conf_path, "mycall", "mycall: missing (this "
		    "station's callsign, e.g. JA1ABC-1, is needed with a device)",
		    err, errlen);
	if (kz_ax25_addr_parse(&peer, cfg->radio_peercall, NULL) < 0)
		return config_fail(cfg, conf_path, "peercall", "peercall: missing "
		    "(the other station's callsign is needed with a device)", err,
		    errlen);
	if (kz_ax25_addr_equal(&my, &peer))
		return config_fail(cfg, conf_path, "peercall", "peercall: the same "
		    "as mycall (give each station its own callsign or SSID)", err,
		    errlen);
	(void)kz_kiss_mtu(o.frame_max, o.ax25, &mtu);
	if (mtu < KZ_ARQ_MTU_MIN) {
		snprintf(why, sizeof(why), "frame_max %d: leaves %zu bytes for the "
		    "link's frames, which need at least %d", cfg->radio_frame_max,
		    mtu, KZ_ARQ_MTU_MIN);
		return config_fail(cfg, conf_path, "frame_max", why, err, errlen);
	}
	rlink_opts(cfg, mtu, &ro);
	ro.arq.session = 1;
	if (kz_arq_new(&a, &ro.arq, 0) < 0) {
		snprintf(why, sizeof(why), "bit_rate %d: the link's timers do not "
		    "fit (try a rate from 300 to 115200)", cfg->radio_bit_rate);
		return config_fail(cfg, conf_path, "bit_rate", why, err, errlen);
	}
	kz_arq_free(a);
	return 0;
}

/* ------------------------------------------------------------ callbacks */

static uint64_t
sync_now(void *ctx)
{
	struct kzd_rnet *r = ctx;

	return uv_now(&r->d->loop);
}

static bool
accept_feed(void *ctx, const uint8_t feed[32])
{
	struct kzd_rnet *r = ctx;

	return kzd_net_accept_feed(r->d, feed);
}

/* Entries arrived over the radio: pushed on every TCP link (drained by
 * kzd_net_kick() once the frame is handled). */
static void
feed_grew(void *ctx, const uint8_t feed[32])
{
	struct kzd_rnet *r = ctx;

	kzd_net_grew_tcp(r->d, feed);
}

static void
refused(void *ctx, const uint8_t feed[32], int why)
{
	struct kzd_rnet *r = ctx;
	struct kz_link *l;

	(void)feed;
	if (why == KZ_ERR_BAD_SIG && ++r->bad_sigs == KZD_NET_BAD_SIGS_MAX &&
	    r->rl != NULL && kz_link_state(l = kz_rlink_link(r->rl)) !=
	    KZ_LINK_CLOSED) {
		kz_log(&r->d->log, KZ_LOG_WARN, "%s: %d runs with a bad signature; "
		    "closing the link", r->name, KZD_NET_BAD_SIGS_MAX);
		kz_link_close(l, "too many runs with a bad signature");
	}
	kzd_net_count_refusal(r->d, why, false);
}

static void
inert(void *ctx, const uint8_t feed[32], int why)
{
	struct kzd_rnet *r = ctx;

	(void)feed;
	kzd_net_count_refusal(r->d, why, true);
}

/* ------------------------------------------------------------ sessions */

static void
on_timer(uv_timer_t *t);

/* Fires the timer at at (uv_now() scale); UINT64_MAX: stops it. */
static void
arm(struct kzd_rnet *r, uint64_t at)
{
	uint64_t now = uv_now(&r->d->loop);

	if (!r->timer_open)
		return;
	if (at == UINT64_MAX) {
		uv_timer_stop(&r->timer);
		return;
	}
	uv_timer_start(&r->timer, on_timer, at > now ? at - now : 0, 0);
}

/* Schedules the next session after wait_ms (when the port is up). */
static void
schedule(struct kzd_rnet *r, uint64_t wait_ms)
{
	if (r->d->stopping || !r->port_up || r->port_closing)
		return;
	r->next_session_ms = uv_now(&r->d->loop) + wait_ms;
	arm(r, r->next_session_ms);
}

/*
 * Ends the session: logs why, counts a refused handshake or a bad frame
 * as a TCP link's end would, frees it, and schedules the next one with
 * backoff (none with again_now: the caller begins it at once).
 */
static void
session_end(struct kzd_rnet *r, const char *why, bool again_now)
{
	struct kzd *d = r->d;
	struct kz_link *l = kz_rlink_link(r->rl);
	struct kz_link_stats ls;
	struct kzd_figs figs;
	uint64_t now = uv_now(&d->loop), wait;
	bool stable;

	kz_link_get_stats(l, &ls);
	if (!r->opened && kz_link_state(l) == KZ_LINK_CLOSED &&
	    kz_link_reason(l)[0] != '\0')
		kzd_net_count_reject(d, "handshake");
	if (ls.sync.bad_frames > 0)
		kzd_net_count_reject(d, "bad_frame");
	kz_log(&d->log, KZ_LOG_INFO, "%s: session %08x ended: %s", r->name,
	    (unsigned)r->session, why[0] != '\0' ? why : "closed");
	snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	stable = r->linked_ms != 0 && now - r->linked_ms >= STABLE_MS;
	/* The session's last tips and sync time stay for the next. */
	kzd_fig_take(d, &r->fig, l);
	kzd_fig_eval(d, &r->fig, NULL, NULL, &figs);
	kz_rlink_free(r->rl);
	r->rl = NULL;
	snprintf(r->name, sizeof(r->name), "radio %s>%s", r->mycall, r->peercall);
	if (again_now)
		return;
	if (stable || r->backoff_ms == 0)
		r->backoff_ms = BACKOFF_FIRST_MS;
	if (stable)
		wait = 1000 + randombytes_uniform(2001);
	else
		wait = r->backoff_ms * (800 + randombytes_uniform(401)) / 1000;
	if (!stable)
		r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ?
		    BACKOFF_MAX_MS : r->backoff_ms * 2;
	kz_log(&d->log, KZ_LOG_DEBUG, "%s: next session in %llu ms", r->name,
	    (unsigned long long)wait);
	schedule(r, wait);
	kzd_notify_status(d);
}

static void
session_begin(struct kzd_rnet *r)
{
	struct kzd *d = r->d;
	struct kz_rlink_opts o;
	uint64_t now = uv_now(&d->loop);
	int rc;

	r->next_session_ms = 0;
	if (r->rl != NULL || d->stopping || !r->port_up)
		return;
	rlink_opts(&d->cfg, r->mtu, &o);
	do
		randombytes_buf(&o.arq.session, sizeof(o.arq.session));
	while (o.arq.session == 0);
	o.link.st = d->st;
	o.link.node = &d->kp;
	o.link.network_key = d->net.network_key;
	o.link.initiator = r->initiator;
	o.link.sync.now_ms = sync_now;
	o.link.sync.accept_feed = accept_feed;
	o.link.sync.feed_grew = feed_grew;
	o.link.sync.refused = refused;
	o.link.sync.inert = inert;
	o.link.sync.ctx = r;
	o.link.sync.log = &d->log;
	o.link.sync.peer_name = r->name;
	/* The mesh may have been joined or changed by the CLI meanwhile. */
	d->net.adm.dirty = true;
	if ((rc = kz_rlink_new(&r->rl, &o, now)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "%s: cannot begin a session: %s",
		    r->name, kz_strerror(rc));
		snprintf(r->last_error, sizeof(r->last_error), "%s",
		    kz_strerror(rc));
		r->rl = NULL;
		schedule(r, BACKOFF_MAX_MS);
		return;
	}
	r->session = o.arq.session;
	r->sessions++;
	r->started_ms = r->last_tx_ms = now;
	r->since_s = kzd_now_ms() / 1000;
	r->linked_ms = 0;
	r->hs_deadline_ms = now + handshake_ms(&o);
	r->bytes_seen = 0;
	r->checked = false;
	r->opened = false;
	r->bad_sigs = 0;
	kz_log(&d->log, KZ_LOG_INFO, "%s: session %08x begun (%s the handshake)",
	    r->name, (unsigned)r->session, r->initiator ? "starting" :
	    "awaiting");
	kzd_notify_status(d);
}

/*
 * The peer's node key became known (or the admissions changed): not this
 * node itself, and not a node the mesh revoked.  Closes the link if so.
 */
static void
peer_check(struct kzd_rnet *r)
{
	struct kzd *d = r->d;
	struct kz_link *l = kz_rlink_link(r->rl);
	const uint8_t *node = kz_link_peer(l);
	const struct kzd_adm_node *an;
	char fp[KZ_FINGERPRINT_CHARS + 1];

	if (node == NULL || kz_link_state(l) == KZ_LINK_CLOSED ||
	    (r->checked && r->adm_gen == d->net.adm.gen))
		return;
	r->adm_gen = d->net.adm.gen;
	kz_fingerprint(fp, node);
	an = kzd_net_adm_node(d, node);
	if (!r->checked) {
		r->checked = true;
		if (sodium_memcmp(node, d->kp.pk, 32) == 0) {
			kz_log(&d->log, KZ_LOG_WARN, "%s: this is this node itself (an "
			    "echo of its own frames?)", r->name);
			kz_link_close(l, "a link to itself");
			return;
		}
		r->have_node = true;
		memcpy(r->node, node, 32);
		r->linked_ms = uv_now(&d->loop);
		kzd_net_linked(d, r->name, sizeof(r->name), fp, an);
	}
	if (an != NULL && an->revoked) {
		kz_log(&d->log, KZ_LOG_WARN, "%s: node %s was revoked by the mesh; "
		    "closing its link", r->name, fp);
		kz_link_close(l, "this node was revoked by the mesh");
	}
}

/*
 * Moves the session's frames to the port until it has none due, then ends
 * the session if it is over, or sets the timer to its next event, its
 * keepalive or its handshake deadline.
 */
static void
pump(struct kzd_rnet *r)
{
	struct kzd *d = r->d;
	uint64_t now = uv_now(&d->loop), at;
	struct kz_link_stats ls;
	struct kz_link *l;
	size_t len;
	int rc;

	if (r->rl == NULL) {
		arm(r, r->next_session_ms != 0 ? r->next_session_ms : UINT64_MAX);
		return;
	}
	l = kz_rlink_link(r->rl);
	if (kz_link_state(l) == KZ_LINK_OPEN && !r->opened)
		r->opened = true;
	peer_check(r);
	while ((rc = kz_rlink_output(r->rl, now, r->frame, &len)) == 0) {
		/* A refused frame (the port went down meanwhile, or its queue
		 * is full) is one lost on air: the ARQ sends it again. */
		if (r->port_up)
			(void)kz_radio_send(r->port, r->frame, len);
	}
	if (rc < 0) {
		kz_log(&d->log, KZ_LOG_WARN, "%s: cannot send: %s", r->name,
		    kz_strerror(rc));
		session_end(r, kz_strerror(rc), false);
		return;
	}
	kz_link_get_stats(l, &ls);
	if (ls.bytes_out != r->bytes_seen) {
		r->bytes_seen = ls.bytes_out;
		r->last_tx_ms = now;
	}
	if (kz_rlink_ended(r->rl)) {
		session_end(r, kz_rlink_reason(r->rl), false);
		return;
	}
	at = kz_rlink_next_event(r->rl, now);
	if (kz_link_state(l) == KZ_LINK_OPEN) {
		uint64_t ka = r->last_tx_ms +
		    (uint64_t)d->cfg.radio_keepalive_s * 1000;

		if (ka < at)
			at = ka;
	} else if (!r->opened && r->hs_deadline_ms < at) {
		at = r->hs_deadline_ms;
	}
	/* Never a busy loop: what is due "now" runs from the next turn. */
	arm(r, at > now ? at : now + 1);
}

static void
on_timer(uv_timer_t *t)
{
	struct kzd_rnet *r = KZD_CONTAINER_OF(t, struct kzd_rnet, timer);
	struct kzd *d = r->d;
	uint64_t now = uv_now(&d->loop);
	struct kz_link *l;

	if (d->stopping)
		return;
	if (r->rl == NULL) {
		if (r->next_session_ms != 0 && now >= r->next_session_ms)
			session_begin(r);
		pump(r);
		return;
	}
	l = kz_rlink_link(r->rl);
	if (!r->opened && kz_link_state(l) != KZ_LINK_OPEN &&
	    now >= r->hs_deadline_ms) {
		struct kz_arq_stats as;
		char why[80];

		/*
		 * The responder waits as long as it has heard nothing: its
		 * peer may not be on air yet.
		 */
		kz_arq_get_stats(kz_rlink_arq(r->rl), &as);
		if (r->initiator || as.peer != 0) {
			snprintf(why, sizeof(why), "no handshake within %llu s",
			    (unsigned long long)((now - r->started_ms) / 1000));
			session_end(r, why, false);
			return;
		}
		r->hs_deadline_ms = UINT64_MAX;
	}
	if (kz_link_state(l) == KZ_LINK_OPEN && now - r->last_tx_ms >=
	    (uint64_t)d->cfg.radio_keepalive_s * 1000 && kz_link_ping(l) == 0)
		r->last_tx_ms = now;
	pump(r);
}

/* ------------------------------------------------------------ the port */

/* A frame addressed to no session: the first of a peer's new session. */
static bool
fresh_session(const uint8_t *frame, size_t len)
{
	struct kz_arq_frame f;

	return kz_arq_frame_decode(&f, frame, len) == 0 && f.dst == 0;
}

static void
on_port_frame(void *arg, const uint8_t *payload, size_t len)
{
	struct kzd_rnet *r = arg;
	struct kzd *d = r->d;
	uint64_t now = uv_now(&d->loop);
	struct kz_link *l;
	int rc;

	if (d->stopping)
		return;
	if (r->rl == NULL) {
		if (!fresh_session(payload, len)) {
			r->frames_idle++;
			return;
		}
		session_begin(r);
		if (r->rl == NULL)
			return;
	}
	rc = kz_rlink_input(r->rl, payload, len, now);
	l = kz_rlink_link(r->rl);
	if (kz_link_state(l) == KZ_LINK_OPEN)
		kzd_fig_contact(&r->fig);
	if (rc < 0 && kz_link_state(l) != KZ_LINK_CLOSED) {
		/* Not stored (a full disk): the next session resumes from what
		 * was committed (as net.c's on_read explains). */
		kz_log(&d->log, rc == KZ_ERR_FULL ? KZ_LOG_ERR : KZ_LOG_WARN,
		    "%s: not stored: %s; closing the link (the next one resumes "
		    "from what was stored)", r->name, kz_strerror(rc));
		kz_link_close(l, rc == KZ_ERR_FULL ?
		    "the receiving node's disk is full" :
		    "the receiving node cannot store what it gets");
	}
	/* A peer that restarted takes this session down with the first frame
	 * of its new one, which then begins ours. */
	if (kz_rlink_ended(r->rl) && kz_arq_down(kz_rlink_arq(r->rl)) &&
	    fresh_session(payload, len)) {
		session_end(r, kz_rlink_reason(r->rl), true);
		session_begin(r);
		if (r->rl != NULL)
			(void)kz_rlink_input(r->rl, payload, len, now);
	}
	kzd_net_kick(d);
	pump(r);
}

static void
on_port_state(void *arg, bool up, const char *why)
{
	struct kzd_rnet *r = arg;
	struct kzd *d = r->d;
	char msg[200];

	r->port_up = up;
	r->port_since_s = kzd_now_ms() / 1000;
	snprintf(r->port_why, sizeof(r->port_why), "%s", why);
	if (up) {
		if (r->rl == NULL)
			schedule(r, FIRST_SESSION_MS + randombytes_uniform(1001));
	} else {
		r->next_session_ms = 0;
		if (r->rl != NULL) {
			snprintf(msg, sizeof(msg), "the radio port went down: %s", why);
			session_end(r, msg, false);
		}
		arm(r, UINT64_MAX);
	}
	kzd_notify_status(d);
}

static void
on_port_closed(void *arg)
{
	struct kzd_rnet *r = arg;

	r->port = NULL;
	r->port_closing = false;
	r->port_up = false;
	kzd_maybe_done(r->d);
}

/* ------------------------------------------------------------ lifetime */

int
kzd_rnet_start(struct kzd *d)
{
	struct kzd_rnet *r = &d->radio;
	struct kz_radio_opts o;
	struct kz_ax25_addr a;
	char err[400];
	int rc;

	r->d = d;
	if (d->cfg.radio_device[0] == '\0')
		return 0;
	if (!d->net.enabled) {
		kz_log(&d->log, KZ_LOG_WARN, "[radio] device is %s, but this node "
		    "holds no network key: no radio link", d->cfg.radio_device);
		return 0;
	}
	if (kzd_rnet_check(&d->cfg, d->conf_path, err, sizeof(err)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "%s", err);
		return -1;
	}
	radio_opts(&d->cfg, &o);
	o.log = &d->log;
	(void)kz_ax25_addr_parse(&a, d->cfg.radio_mycall, NULL);
	kz_ax25_addr_format(r->mycall, &a);
	(void)kz_ax25_addr_parse(&a, d->cfg.radio_peercall, NULL);
	kz_ax25_addr_format(r->peercall, &a);
	r->initiator = strcmp(r->mycall, r->peercall) < 0;
	(void)kz_kiss_mtu(o.frame_max, o.ax25, &r->mtu);
	snprintf(r->device, sizeof(r->device), "%s", d->cfg.radio_device);
	snprintf(r->name, sizeof(r->name), "radio %s>%s", r->mycall, r->peercall);
	uv_timer_init(&d->loop, &r->timer);
	r->timer_open = true;
	if ((rc = kz_radio_open(&d->loop, &r->port, &o, on_port_frame,
	    on_port_state, r)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "[radio] device %s: %s", r->device,
		    kz_strerror(rc));
		return -1;
	}
	r->configured = true;
	kz_log(&d->log, KZ_LOG_INFO, "%s: %s at %d bit/s, frames of %zu bytes; "
	    "this station %s each session's handshake", r->name, r->device,
	    d->cfg.radio_bit_rate, r->mtu, r->initiator ? "starts" : "answers");
	return 0;
}

void
kzd_rnet_stop(struct kzd *d)
{
	struct kzd_rnet *r = &d->radio;
	uint64_t now = uv_now(&d->loop);
	size_t len;

	if (r->timer_open)
		uv_timer_stop(&r->timer);
	r->next_session_ms = 0;
	if (r->rl != NULL) {
		struct kz_link *l = kz_rlink_link(r->rl);

		/* The Bye goes if the airtime budget lets it go now; the port
		 * drains its queue before it closes. */
		if (kz_link_state(l) != KZ_LINK_CLOSED)
			kz_link_close(l, "the node is shutting down");
		while (kz_rlink_output(r->rl, now, r->frame, &len) == 0)
			if (r->port_up)
				(void)kz_radio_send(r->port, r->frame, len);
		session_end(r, "the node is shutting down", true);
	}
	if (r->port != NULL && !r->port_closing) {
		r->port_closing = true;
		kz_radio_close(r->port, on_port_closed);
	}
}

bool
kzd_rnet_busy(const struct kzd *d)
{
	return d->radio.port != NULL;
}

void
kzd_rnet_close_handles(struct kzd *d)
{
	struct kzd_rnet *r = &d->radio;

	/* After a failed start the port may still be open: closed here. */
	if (r->port != NULL && !r->port_closing) {
		r->port_closing = true;
		kz_radio_close(r->port, on_port_closed);
	}
	kz_rlink_free(r->rl);
	r->rl = NULL;
	kzd_fig_free(&r->fig);
	if (r->timer_open && !uv_is_closing((uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, NULL);
	r->timer_open = false;
}

/* ------------------------------------------------------------ feeds */

/* The session's link if it can take a feed that grew, else NULL. */
static struct kz_link *
usable(struct kzd_rnet *r)
{
	struct kz_link *l;

	if (r->rl == NULL || r->d->stopping)
		return NULL;
	l = kz_rlink_link(r->rl);
	return kz_link_state(l) == KZ_LINK_CLOSED ? NULL : l;
}

void
kzd_rnet_feed_grew(struct kzd *d, const uint8_t feed[32])
{
	struct kz_link *l = usable(&d->radio);

	if (l == NULL)
		return;
	kz_link_feed_grew(l, feed);
	arm(&d->radio, uv_now(&d->loop));
}

void
kzd_rnet_admitted(struct kzd *d, const uint8_t (*feeds)[32], size_t n)
{
	struct kz_link *l = usable(&d->radio);
	size_t i;

	if (l == NULL || n == 0)
		return;
	for (i = 0; i < n; i++)
		kz_link_feed_grew(l, feeds[i]);
	/* The peer may hold feeds we refused until now. */
	(void)kz_link_vector_again(l);
	arm(&d->radio, uv_now(&d->loop));
}

/* ------------------------------------------------------------ status */

size_t
kzd_rnet_links(const struct kzd *d)
{
	const struct kzd_rnet *r = &d->radio;

	return r->rl != NULL && r->checked &&
	    kz_link_state(kz_rlink_link(r->rl)) == KZ_LINK_OPEN ? 1 : 0;
}

static const char *
state_name(const struct kzd_rnet *r)
{
	if (!r->port_up)
		return "connecting";
	if (r->rl == NULL)
		return "waiting";
	switch (kz_link_state(kz_rlink_link(r->rl))) {
	case KZ_LINK_HANDSHAKE:
		return "handshake";
	case KZ_LINK_OPEN:
		return "open";
	default:
		return "closed";
	}
}

/* The port, the ARQ and the session's figures (the row's "radio"). */
static json_t *
radio_json(struct kzd_rnet *r)
{
	static const char *const modes[] = { "none", "zstd", "dict" };
	struct kz_radio_stats ps;
	struct kz_arq_stats as;
	struct kz_link_stats ls;
	struct kz_rlink_opts o;
	char sid[9];
	bool open;

	memset(&ps, 0, sizeof(ps));
	memset(&as, 0, sizeof(as));
	memset(&ls, 0, sizeof(ls));
	if (r->port != NULL)
		kz_radio_get_stats(r->port, &ps);
	if (r->rl != NULL) {
		kz_arq_get_stats(kz_rlink_arq(r->rl), &as);
		kz_link_get_stats(kz_rlink_link(r->rl), &ls);
	}
	open = r->rl != NULL && kz_link_state(kz_rlink_link(r->rl)) ==
	    KZ_LINK_OPEN;
	rlink_opts(&r->d->cfg, r->mtu, &o);
	snprintf(sid, sizeof(sid), "%08x", (unsigned)r->session);
	return json_pack("{s:s,s:s,s:I,s:o,s:s,s:s,s:b,s:i,s:I,s:I,s:I,"
	    "s:o,s:s,s:o,s:I,"
	    "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
	    "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
	    "device", r->device,
	    "port", r->port == NULL || r->port_closing ? "closed" :
	    r->port_up ? "up" : "down",
	    "port_since", (json_int_t)r->port_since_s,
	    "port_error", !r->port_up && r->port_why[0] ?
	    json_string(r->port_why) : json_null(),
	    "mycall", r->mycall,
	    "peercall", r->peercall,
	    "initiator", r->initiator,
	    "bit_rate", r->d->cfg.radio_bit_rate,
	    "mtu", (json_int_t)r->mtu,
	    "airtime_bytes_per_s", (json_int_t)o.arq.bytes_per_s,
	    "keepalive_s", (json_int_t)r->d->cfg.radio_keepalive_s,
	    "compress", open ? json_string(kzd_compress_name(ls.compress)) :
	    json_null(),
	    "compress_max", modes[r->d->cfg.radio_compress % 3],
	    "session", r->rl != NULL ? json_string(sid) : json_null(),
	    "sessions", (json_int_t)r->sessions,
	    "arq",
	    "srtt_ms", (json_int_t)as.srtt_ms,
	    "rto_ms", (json_int_t)as.rto_ms,
	    "frames_in", (json_int_t)as.frames_in,
	    "frames_out", (json_int_t)as.frames_out,
	    "bytes_in", (json_int_t)as.bytes_in,
	    "bytes_out", (json_int_t)as.bytes_out,
	    "data_frames", (json_int_t)as.data_frames,
	    "retransmits", (json_int_t)as.retransmits,
	    "acks_sent", (json_int_t)as.acks_sent,
	    "timeouts", (json_int_t)as.timeouts,
	    "bad_crc", (json_int_t)as.bad_crc,
	    "malformed", (json_int_t)as.malformed,
	    "duplicates", (json_int_t)as.duplicates,
	    "foreign", (json_int_t)as.foreign,
	    "out_of_window", (json_int_t)as.out_of_window,
	    "kiss",
	    "ups", (json_int_t)ps.ups,
	    "downs", (json_int_t)ps.downs,
	    "frames_in", (json_int_t)ps.frames_in,
	    "frames_out", (json_int_t)ps.frames_out,
	    "bytes_in", (json_int_t)ps.bytes_in,
	    "bytes_out", (json_int_t)ps.bytes_out,
	    "queued_bytes", (json_int_t)(r->port != NULL ?
	    kz_radio_queued(r->port) : 0),
	    "bad_oversize", (json_int_t)ps.bad_oversize,
	    "bad_escape", (json_int_t)ps.bad_escape,
	    "bad_header", (json_int_t)ps.bad_header,
	    "non_data", (json_int_t)ps.non_data,
	    "other_port", (json_int_t)ps.other_port,
	    "not_for_us", (json_int_t)ps.not_for_us,
	    "send_down", (json_int_t)ps.send_down,
	    "send_full", (json_int_t)ps.send_full);
}

json_t *
kzd_rnet_peer_json(struct kzd *d)
{
	struct kzd_rnet *r = &d->radio;
	struct kz_link_stats ls;
	struct kzd_link_row row = {
		.address = r->device,
		.initiator = r->initiator,
		.state = state_name(r),
		.node = r->have_node ? r->node : NULL,
		.transport = "radio",
		.up = r->rl != NULL,
		.since_s = r->since_s,
		.ls = &ls,
		.queued = r->port != NULL ? kz_radio_queued(r->port) : 0,
		.last_error = r->last_error,
		.fig = &r->fig,
		.live = r->rl != NULL ? kz_rlink_link(r->rl) : NULL,
	};
	json_t *o;

	if (!r->configured)
		return NULL;
	memset(&ls, 0, sizeof(ls));
	if (r->rl != NULL)
		kz_link_get_stats(kz_rlink_link(r->rl), &ls);
	o = kzd_net_link_json(d, &row);
	if (o != NULL)
		json_object_set_new(o, "radio", radio_json(r));
	return o;
}

void
kzd_rnet_tick(struct kzd *d)
{
	struct kzd_rnet *r = &d->radio;
	struct kz_link_stats ls;
	struct kzd_figs figs;

	if (!r->configured)
		return;
	if (r->rl != NULL) {
		kz_link_get_stats(kz_rlink_link(r->rl), &ls);
		kzd_fig_eval(d, &r->fig, kz_rlink_link(r->rl), &ls, &figs);
	} else if (r->fig.tips_known) {
		kzd_fig_eval(d, &r->fig, NULL, NULL, &figs);
	}
}

void
kzd_rnet_status(struct kzd *d, json_t *o)
{
	if (o == NULL)
		return;
	json_object_set_new(o, "radio", d->radio.configured ?
	    radio_json(&d->radio) : json_null());
}
