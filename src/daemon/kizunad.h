/*
 * kizunad's wiring: the one struct that owns the node (key, store, config)
 * and every libuv handle of the daemon's single loop.
 *
 * Lifetime of the loop (main.c):
 *
 *   starting --kzd_start()--> running --SIGTERM/SIGINT: kzd_stop()--> stopping
 *   stopping --last control client closed: kzd_maybe_done()--> done
 *
 * In "stopping" the control listener is closed and its socket file removed,
 * clients stop being read, their queued answers are flushed (or cut off
 * after KZD_STOP_GRACE_MS), and once no client is left every remaining
 * handle is closed, so uv_run() returns and uv_loop_close() succeeds.  Each
 * request is handled whole inside one read callback, so the request in
 * flight when a signal arrives always completes first.
 *
 * Every SQLite call happens on the loop's thread.
 */
#ifndef KZD_KIZUNAD_H
#define KZD_KIZUNAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <sys/un.h>

#include <uv.h>

#include "kizuna/arq.h"
#include "kizuna/beacon.h"
#include "kizuna/config.h"
#include "kizuna/keys.h"
#include "kizuna/kiss.h"
#include "kizuna/link.h"
#include "kizuna/log.h"
#include "kizuna/mesh.h"
#include "kizuna/op.h"
#include "kizuna/slack.h"
#include "kizuna/store.h"

#ifndef KZ_VERSION
#define KZ_VERSION "0"
#endif

/* How long queued answers may take to drain once stopping. */
#define KZD_STOP_GRACE_MS 2000
/* Control connections served at once; more are answered "busy". */
#define KZD_CONTROL_CLIENTS_MAX 64
/* Requests one client is served per loop iteration before it yields. */
#define KZD_CONTROL_BATCH 32
/* Bytes queued to one client before its requests stop being read. */
#define KZD_CONTROL_QUEUE_MAX (1024 * 1024)

/* Bytes queued in writes to one peer before its link stops being drained. */
#define KZD_NET_QUEUE_MAX (1024 * 1024)
/* TCP connections (either way) at once; more are refused. */
#define KZD_NET_PEERS_MAX 64
/* How long a closing link may take to flush its last bytes. */
#define KZD_NET_FLUSH_MS 5000
/*
 * Runs with a bad signature one link may send before it is closed.  A peer
 * forwards only what it verified and Noise keeps the bytes intact, so a bad
 * signature from a member is a forgery (or a broken node): the first ones
 * are refused and counted, then the link goes.
 */
#define KZD_NET_BAD_SIGS_MAX 16
/*
 * Sync frames one link may send in a second (a tick) before its reads stop
 * until the next tick.  A member sends a handful of control frames a second
 * (acks, pings) and its data in runs of up to 1,000 entries; only urgent
 * entries travel one a frame.  A flood of tiny frames (Pings) otherwise
 * costs the loop ~2 us a frame and halves every other link's throughput.
 */
#define KZD_NET_FRAMES_PER_S 20000
/* A link open this long resets its static peer's backoff to one second. */
#define KZD_NET_STABLE_MS 10000
/*
 * A link with the slow profile ([net] profile = slow) keeps at most this
 * much queued to its socket, and asks the kernel for a send buffer as
 * small: an urgent entry then waits behind kilobytes, not a megabyte (at
 * 64 kbit/s a full KZD_NET_QUEUE_MAX takes two minutes to leave).
 */
#define KZD_NET_SLOW_QUEUE_MAX (16 * 1024)
/* Bytes read from a socket at once. */
#define KZD_NET_READ_BUF (64 * 1024)

/* Nodes found by LAN discovery that are dialled at once (dial slots). */
#define KZD_DISC_MAX 32
/* Of them, the most from one IP address (several nodes may share a host). */
#define KZD_DISC_PER_HOST 8
/* A discovered node is forgotten after this many intervals unheard. */
#define KZD_DISC_EXPIRE 3
/* Senders whose odd beacons were logged once (the newest kept). */
#define KZD_DISC_NOTED 16
/* Static peers, the join token's bootstrap address, discovered nodes. */
#define KZD_NET_DIALS_MAX (KZ_CONFIG_PEERS_MAX + 1 + KZD_DISC_MAX)

#define KZD_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define KZD_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct kzd;

/* One control connection; owned by the control server, freed on close. */
struct kzd_client {
	uv_pipe_t pipe;			/* first: closed before the struct is freed */
	uv_shutdown_t shutdown;
	struct kzd *d;
	struct kzd_client *next, *prev;
	unsigned long id;		/* for log lines */
	char *buf;			/* bytes read and not yet handled */
	size_t len, cap, scanned;	/* scanned: no newline in buf[0..scanned) */
	bool paused;			/* reading stopped: too much queued to it */
	bool yielded;			/* reading stopped: served a batch already */
	bool eof;			/* the client sent all it will send */
	unsigned batch;			/* requests served in the iteration... */
	uint64_t batch_ms;		/* ...whose uv_now() this is */
	bool finishing;			/* no more requests: flushing, then close */
	bool closing;			/* uv_close called */
};

struct kzd_control {
	uv_pipe_t listener;
	bool listener_open;
	uv_idle_t idle;			/* resumes clients that yielded */
	bool idle_open;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct kzd_client *clients;
	size_t n_clients;
	unsigned long next_id;
	uint64_t requests, bad_requests;
};

/* "HOST:PORT" with IPv6 brackets, NUL included. */
#define KZD_ADDR_MAX (KZ_CONFIG_HOST_MAX + 9)

struct kz_link;
struct kzd_dial;

/*
 * What one link's row reports beyond its session's counters (linkfig.c):
 * when the peer was last heard, when the link was last in sync, and the
 * tips the peer was last known to hold with, per feed, the stored size of
 * the entries it lacks, counted incrementally.  It outlives a session: a
 * static peer's slot keeps it while the peer is away (net.c moves it
 * between the slot and its connection), and the radio link keeps its own.
 */
struct kzd_lack {
	uint8_t feed[32];
	uint64_t ptip;			/* the peer holds 1..ptip */
	bool listed;			/* the peer listed the feed */
	bool mine;			/* this node holds it (last evaluation) */
	uint64_t from, to;		/* the range whose size is counted */
	uint64_t bytes;			/* its stored size */
};

struct kzd_linkfig {
	uint64_t last_contact_s;	/* wall clock (s) last heard; 0: never */
	uint64_t in_sync_s;		/* wall clock (s) last in sync; 0: never */
	bool tips_known;		/* a session learnt the peer's tips */
	struct kzd_lack *f;
	size_t n, cap;
	uint64_t mean;			/* bytes an entry in is estimated at */
};

/* What kzd_fig_eval works out for a row. */
struct kzd_figs {
	bool known;			/* the peer's tips are known */
	uint64_t pending_in, pending_out;	/* entries */
	uint64_t bytes_in, bytes_out;	/* their (estimated) stored size */
	bool have_lag;
	uint64_t lag_s;
};

/*
 * One TCP connection to a peer, either way, and its secure link; owned by
 * the net module (net.c), freed in on_peer_closed() after uv_close().
 */
struct kzd_peer {
	uv_tcp_t tcp;			/* first: closed before the struct is freed */
	uv_connect_t connect;
	uv_shutdown_t shutdown;
	struct kzd *d;
	struct kzd_peer *next, *prev;
	struct kzd_dial *dial;		/* the static peer dialled, or NULL (in) */
	struct kz_link *link;		/* NULL until TCP is connected */
	unsigned long id;
	bool initiator;			/* we dialled */
	bool slow;			/* the slow link profile */
	bool connected;			/* TCP is up */
	bool checked;			/* the peer's node key was looked at */
	unsigned long adm_gen;		/* the admissions it was checked against */
	bool duplicate;			/* closed as a second link to one node */
	bool drain_due;			/* the link may have bytes to send */
	bool finishing;			/* no more reads; last bytes flush */
	bool shutting;			/* uv_shutdown called */
	bool closing;			/* uv_close called */
	bool read_paused;		/* reads stopped for this loop turn */
	size_t queued;			/* bytes in uv_write requests */
	uint64_t started_ms;		/* uv_now() when the connection began */
	uint64_t since_s;		/* wall clock (s) when TCP came up */
	uint64_t linked_ms;		/* uv_now() when the node key matched; 0 */
	uint64_t last_rx_ms;		/* uv_now() of the last bytes read */
	uint64_t last_tx_ms;		/* uv_now() of the last bytes queued */
	uint64_t finish_by_ms;		/* uv_now() by which finishing ends */
	char address[KZD_ADDR_MAX];
	/* "link from|to ADDRESS", then " node FINGERPRINT" once the peer's
	 * node key matched: for log lines (the sync session borrows it). */
	char name[KZD_ADDR_MAX + 48];
	uint64_t bad_sigs;		/* runs refused for a bad signature */
	uint64_t frames_mark;		/* sync frames in at the last tick */
	bool throttled;			/* reads stopped until the next tick */
	bool throttle_logged;
	char last_error[160];
	struct kzd_linkfig fig;		/* from and back to its dial slot */
	uint8_t rbuf[KZD_NET_READ_BUF];
};

/*
 * One dial slot: a static peer ([net] peers, or mesh.key's bootstrap
 * address), or a node found by LAN discovery (discovery.c), which is
 * dialled the same way until it goes unheard for KZD_DISC_EXPIRE beacon
 * intervals and its connection, if any, has ended.
 */
struct kzd_dial {
	struct kzd *d;
	uv_timer_t timer;		/* the next attempt */
	bool timer_open;
	uv_getaddrinfo_t gai;
	bool resolving;
	struct kz_hostport hp;
	char address[KZD_ADDR_MAX];
	struct kzd_peer *peer;		/* the connection now, or NULL */
	uint64_t backoff_ms;		/* the next wait before jitter */
	uint64_t retry_at_ms;		/* uv_now() of the next attempt; 0: none */
	unsigned attempts;
	bool self;			/* it is this node: never dialled again */
	bool standby;			/* another link reaches its node */
	bool have_node;
	uint8_t node[32];		/* its node key, once learnt */
	char last_error[160];
	bool discovered;		/* found by a beacon, not configured */
	bool unused;			/* discovered: free for the next node */
	uint64_t seen_ms;		/* discovered: uv_now() of its last beacon */
	struct kzd_linkfig fig;		/* while no connection holds it */
};

/*
 * LAN discovery (discovery.c): beacons sent to [net] discovery_address and
 * heard on [net] discovery_port.
 */
struct kzd_disc {
	bool on;			/* hearing beacons */
	bool announcing;		/* sending them (the node listens) */
	uv_udp_t rx;			/* bound to discovery_port, shared */
	bool rx_open;
	uv_udp_t tx;			/* bound to the interface, any port */
	bool tx_open;
	uv_timer_t timer;		/* the next beacon, and expiry */
	bool timer_open;
	uint64_t interval_ms;
	struct sockaddr_in dest;
	uint8_t tag[KZ_BEACON_TAG_BYTES];	/* the mesh tag */
	uint8_t beacon[KZ_BEACON_BYTES];	/* what this node sends */
	uint8_t rbuf[256];
	/* Senders logged once: node keys of other meshes, addresses of junk. */
	uint8_t noted[KZD_DISC_NOTED][33];
	size_t n_noted, next_noted;
	bool full_logged;		/* "too many nodes" said once */
	bool send_failing;		/* the last beacon could not be sent */
	uint64_t sent, send_errors, heard, own, other_mesh, bad, rate_limited,
	    dropped;
};

/* One admitted node, as the admission cache holds it. */
struct kzd_adm_node {
	uint8_t key[32];
	bool revoked;
	char name[KZ_NAME_MAX + 1];
};

/*
 * Which feeds links accept and forward: the nodes the workspace admits
 * (kz_views_nodes), or every feed while the store has no mesh root.
 * Reloaded when an entry was stored since the last load.
 */
struct kzd_adm {
	bool loaded, dirty;
	unsigned long gen;		/* counts the loads */
	bool all;			/* no mesh root yet: accept every feed */
	bool have_root;
	uint8_t root[32];
	struct kzd_adm_node *nodes;	/* sorted by key */
	size_t n, cap;
	uint8_t (*grew)[32];		/* newly admitted: to push on every link */
	size_t n_grew, cap_grew;
};

#define KZD_REJECTS_MAX 40

struct kzd_net {
	bool enabled;			/* the node holds a network key */
	uint8_t network_key[KZ_MESH_KEY_BYTES];	/* secret: wiped at exit */
	uint8_t mesh_id[KZ_MESH_ID_BYTES];	/* not secret: beacons hash it */
	uv_tcp_t listener;
	bool listener_open;
	int listen_port;		/* -1: not listening */
	uv_timer_t tick;		/* silence and flush deadlines, each second */
	bool tick_open;
	uv_check_t resume;		/* restarts paused reads after the poll */
	bool resume_open;
	struct kzd_dial dials[KZD_NET_DIALS_MAX];
	size_t n_dials;			/* slots used so far (some may be unused) */
	struct kzd_peer *peers;
	size_t n_peers;
	unsigned long next_id;
	struct kzd_adm adm;
	bool settling;			/* kzd_net_settle() is running */
	struct kzd_disc disc;
	/* What peers sent that was refused, counted by reason (status). */
	struct kzd_reject {
		char name[32];
		uint64_t n;
	} rejects[KZD_REJECTS_MAX];
	size_t n_rejects;
};

/*
 * The radio link (rnet.c): one KISS port ([radio] device) and, while it is
 * up, one session with the station [radio] peercall: a secure link over
 * the ARQ (struct kz_rlink), rebuilt for every session.
 */
struct kz_radio;
struct kz_rlink;

struct kzd_rnet {
	struct kzd *d;
	bool configured;		/* [radio] device is set */
	bool initiator;			/* mycall sorts before peercall */
	char device[KZ_CONFIG_STR_MAX];
	char mycall[KZ_AX25_CALL_STR], peercall[KZ_AX25_CALL_STR];
	struct kz_radio *port;		/* until kz_radio_close's done */
	bool port_closing;
	bool port_up;
	uint64_t port_since_s;		/* wall clock (s) of the last change */
	char port_why[160];		/* why it went down (or came up) */
	size_t mtu;			/* the ARQ's frame size */
	struct kz_rlink *rl;		/* the session, or NULL */
	uint32_t session;		/* its ARQ session id */
	uint64_t started_ms;		/* uv_now() when it began */
	uint64_t since_s;		/* wall clock (s) when it began */
	uint64_t linked_ms;		/* uv_now() when the node key matched */
	uint64_t hs_deadline_ms;	/* no open link by then: a new one */
	uint64_t last_tx_ms;		/* uv_now() when it last sent bytes */
	uint64_t bytes_seen;		/* the link's bytes_out then */
	bool checked;			/* the peer's node key was looked at */
	unsigned long adm_gen;
	bool opened;			/* this session's link reached OPEN */
	uint64_t bad_sigs;
	bool have_node;
	uint8_t node[32];		/* the peer's node key, once known */
	uv_timer_t timer;		/* the session's next event; next session */
	bool timer_open;
	uint64_t next_session_ms;	/* uv_now() of the next session; 0 */
	uint64_t backoff_ms;
	uint64_t sessions;		/* begun since start */
	uint64_t frames_idle;		/* frames heard with no session */
	/* "radio JA1ABC-1>JA1XYZ-1", then " node FINGERPRINT": log lines. */
	char name[80];
	char last_error[160];
	struct kzd_linkfig fig;		/* kept across sessions */
	uint8_t frame[KZ_ARQ_MTU_MAX];
};

/* A bundle or vector file in the courier folder, as last handled. */
struct kzd_seen {
	char name[256];
	uint64_t size;
	int64_t mtime;
};

/* The courier folder (courier.c): bundles by USB stick. */
struct kzd_courier {
	uv_timer_t timer;
	bool timer_open;
	char folder[4096];
	bool present;			/* the folder exists (a stick is in) */
	struct kzd_seen *seen;
	size_t n_seen, cap_seen;
	uint8_t digest[16];		/* this node's vector when last written */
	bool have_digest;
	const char *current;		/* the file being imported, for logs */
	uint64_t imported_files, imported_entries, failed_files, written_files;
	char last_error[200];
};

/* One link as the mesh map's reports tell it (meshmap.c). */
struct kzd_map_link {
	uint8_t peer[32];
	char transport[KZ_TRANSPORT_MAX];
	bool up;
	uint64_t since_s;		/* wall clock (s) it came up, or went down */
	bool seen;			/* up at the last look */
};

/* This node's link reports (meshmap.c). */
struct kzd_map {
	uv_timer_t timer;		/* looks at the links each second */
	bool timer_open;
	uint64_t start_ms;		/* uv_now() at start */
	bool ever_linked;		/* a link was up and compared this run */
	bool failing;			/* the last write failed (logged once) */
	uint64_t last_ms;		/* uv_now() of the last report */
	uint64_t reports;		/* written this run */
	struct kzd_map_link known[KZ_LINKS_MAX];	/* every link of this run */
	size_t n_known;
	struct kzd_map_link last[KZ_LINKS_MAX];	/* what the last report said */
	size_t n_last;
};

/*
 * The views' backlog (main.c, kz_views_set_deferral): runs over this many
 * entries are deferred, and applied this many at a time.
 */
#define KZD_VIEWS_DEFER_MIN 64
#define KZD_VIEWS_BATCH 4000

/* Entries a step of a Slack import commits (slack.c): ~30 ms of the loop. */
#define KZD_IMPORT_BATCH 500
/* How long a step waits when the reader had nothing ready. */
#define KZD_IMPORT_WAIT_MS 2
/* Problems (skipped items) an import keeps for import_status. */
#define KZD_IMPORT_PROBLEMS_MAX 1000
/* Of which one import_status answer lists at most. */
#define KZD_IMPORT_PROBLEMS_ANSWER 50

enum kzd_import_state {
	KZD_IMPORT_NONE,		/* none since kizunad started */
	KZD_IMPORT_RUNNING,
	KZD_IMPORT_COMPLETE,
	KZD_IMPORT_FAILED,
	KZD_IMPORT_STOPPED		/* kizunad stopped mid-import */
};

struct kz_slack_src;
struct kz_slack_import;

/* The Slack import kizunad runs, or ran last (slack.c). */
struct kzd_import {
	uv_idle_t idle;			/* runs the steps */
	uv_timer_t wait;		/* the reader had nothing: idle again */
	bool idle_open;			/* both handles */
	enum kzd_import_state state;
	uint64_t id;			/* counts the imports begun */
	struct kz_slack_src *src;	/* while running */
	struct kz_slack_import *imp;	/* while running */
	char path[4096];
	struct kz_slack_stats stats;	/* the counts so far, or at the end */
	int rc;				/* failed: why */
	struct json_t *problems;	/* the first KZD_IMPORT_PROBLEMS_MAX */
	uint64_t n_problems;		/* every one reported */
	uint64_t started_ms, ended_ms;	/* uv_now() */
	uint64_t steps, step_ns_max;	/* steps run, the longest */
};

struct kzd {
	uv_loop_t loop;
	bool loop_open;
	struct kz_logger log;
	char home[4096];
	char conf_path[4096];
	struct kz_config cfg;
	struct kz_keypair kp;
	bool have_key;
	struct kz_store *st;
	int lock_fd;
	uint64_t started_ns;		/* uv_hrtime() at start */

	uv_signal_t sigs[3];		/* SIGTERM, SIGINT, SIGHUP */
	bool sig_open[3];
	uv_timer_t watchdog;
	bool watchdog_open;
	uv_timer_t views;		/* applies the views' backlog (main.c) */
	bool views_open;
	uint64_t views_last_ms;		/* uv_now() of the last batch */
	uint64_t views_backlog;		/* entries waiting, as last seen */
	bool views_failing;		/* the last batch failed (logged once) */
	uv_timer_t grace;		/* bounds the drain when stopping */
	bool grace_open;

	bool stopping, done;
	struct kzd_http *http;		/* the web workspace (http.c), or NULL */
	struct kzd_control ctl;
	struct kzd_net net;
	struct kzd_rnet radio;
	struct kzd_courier courier;
	struct kzd_map map;
	struct kzd_import imp;
};

/* ------------------------------------------------------------ main.c */

/* Begins a graceful stop (idempotent); reason is logged. */
void kzd_stop(struct kzd *d, const char *reason);

/* When stopping and no client is left, closes the remaining handles. */
void kzd_maybe_done(struct kzd *d);

/* The wall clock in milliseconds since the epoch. */
uint64_t kzd_now_ms(void);

/* ------------------------------------------------------------ courier.c */

/* Starts watching [courier] folder, if set.  Returns 0 or -1 (logged). */
int kzd_courier_start(struct kzd *d);
void kzd_courier_close_handles(struct kzd *d);
void kzd_courier_free(struct kzd *d);
struct json_t;
/* Adds "courier" to a status object. */
void kzd_courier_status(struct kzd *d, struct json_t *o);

/* ------------------------------------------------------------ control.c */

/*
 * Creates the control socket at path (a stale one from a crashed kizunad is
 * replaced; a live one means another kizunad: refused) with mode 0600 and
 * listens.  Returns 0 or -1 after logging why.
 */
int kzd_control_start(struct kzd *d, const char *path);

/* Stops accepting, removes the socket file, finishes every client. */
void kzd_control_stop(struct kzd *d);

/* Closes every client at once (the grace period ran out). */
void kzd_control_abort(struct kzd *d);

/* ------------------------------------------------------------ net.c */

/*
 * Reads the network key (DIR/mesh.key), listens on [net] listen and dials
 * the static peers.  Without a network key it logs why and runs without
 * links.  Returns 0 or -1 after logging why (the listener cannot bind).
 */
int kzd_net_start(struct kzd *d);

/* Stops listening and dialling; says Bye on every link, which then closes. */
void kzd_net_stop(struct kzd *d);

/* Closes every connection at once (the grace period ran out). */
void kzd_net_abort(struct kzd *d);

/* Closes the listener and the timers (once no connection is left). */
void kzd_net_close_handles(struct kzd *d);

/* Wipes the network key and frees what the module holds (after the loop). */
void kzd_net_free(struct kzd *d);

/*
 * This node appended an entry (an op of type) to its own feed: pushes it on
 * every link, and reloads the admissions if it may change them.
 */
void kzd_net_appended(struct kzd *d, enum kz_op_type type);

/* Entries of feed were stored from outside a link (a bundle): pushes them
 * on every link. */
void kzd_net_feed_grew(struct kzd *d, const uint8_t feed[32]);

/* Links open to a known node (for the systemd status line). */
size_t kzd_net_links(const struct kzd *d);

/* Adds "listen_port", "peers" and "discovery" to a status answer. */
struct json_t;
void kzd_net_status(struct kzd *d, struct json_t *o);

/*
 * For discovery.c: starts dialling dl (a slot discovery filled in) after
 * delay_ms, as any static peer is: one connection at a time, redialled with
 * backoff.
 */
void kzd_net_dial_start(struct kzd_dial *dl, uint64_t delay_ms);

/* Whether a usable link (either way) reaches node. */
bool kzd_net_node_linked(struct kzd *d, const uint8_t node[32]);

/*
 * For rnet.c, which gives its link the same callbacks as a TCP link's:
 * whether feed may be accepted and forwarded (admitted); counts a refusal
 * of what a peer sent by reason (why a KZ_ERR_*, inert: stored but its op
 * is inert) in status "rejected", or by name ("handshake"); entries of feed arrived on the radio
 * link: pushes them on every TCP link; drains every TCP link with bytes
 * due; the admitted node of key (NULL if none).
 */
bool kzd_net_accept_feed(struct kzd *d, const uint8_t feed[32]);
void kzd_net_count_refusal(struct kzd *d, int why, bool inert);
void kzd_net_count_reject(struct kzd *d, const char *name);
void kzd_net_grew_tcp(struct kzd *d, const uint8_t feed[32]);
void kzd_net_kick(struct kzd *d);
const struct kzd_adm_node *kzd_net_adm_node(struct kzd *d,
    const uint8_t key[32]);

/* What every row of status "peers" shows of a link, whatever carries it. */
struct kzd_link_row {
	const char *address;		/* HOST:PORT, or the radio device */
	bool initiator;			/* we dialled (or start the handshake) */
	const char *state;		/* connecting, handshake, open, closed */
	const uint8_t *node;		/* its node key, NULL until known */
	bool discovered;		/* found by LAN discovery */
	const char *transport;		/* "tcp", "radio" */
	bool up;			/* since_s is set */
	uint64_t since_s;		/* wall clock (s) the link came up */
	const struct kz_link_stats *ls;	/* NULL: all zero */
	uint64_t queued;		/* bytes waiting for the transport */
	const char *last_error;		/* NULL or "": none */
	struct kzd_linkfig *fig;	/* NULL: its figures are null */
	const struct kz_link *live;	/* the session, NULL when none */
};

/*
 * A link learnt its peer's node key fp (an: its admission, or NULL): logs
 * "NAME: linked with node FP (its name)", appends " node FP" to name (cap
 * bytes) for every later line, and notifies status watchers.
 */
void kzd_net_linked(struct kzd *d, char *name, size_t cap, const char *fp,
    const struct kzd_adm_node *an);

/* The row's JSON object: address ... last_error (docs/sync.md, "status"). */
struct json_t *kzd_net_link_json(struct kzd *d, const struct kzd_link_row *r);
/* "none", "zstd" or "dict". */
const char *kzd_compress_name(enum kz_compress c);

/* ------------------------------------------------------------ linkfig.c */

/* The peer was heard on the link (a frame of an open link). */
void kzd_fig_contact(struct kzd_linkfig *f);

/*
 * Works out the row's figures into o (docs/api.md, GET /api/status):
 * with live (the session, borrowed) once it knows the peer's tips, from
 * those (ls its counters, for the entries pending); else from the tips
 * last learnt, against what the store holds now.  Notes the time when
 * the link is in sync.  Store errors leave the figures as last counted.
 */
void kzd_fig_eval(struct kzd *d, struct kzd_linkfig *f,
    const struct kz_link *live, const struct kz_link_stats *ls,
    struct kzd_figs *o);

/* Learns the session's tips (before it is freed).  live may be NULL. */
void kzd_fig_take(struct kzd *d, struct kzd_linkfig *f,
    const struct kz_link *live);

/* Moves *from into *to (to's own freed first); *from is left empty. */
void kzd_fig_move(struct kzd_linkfig *to, struct kzd_linkfig *from);

/* Frees what f holds and zeroes it; accepts a zeroed one. */
void kzd_fig_free(struct kzd_linkfig *f);

/* ------------------------------------------------------------ meshmap.c */

/* Starts looking at the links for the mesh map's reports.  0 or -1 (logged). */
int kzd_map_start(struct kzd *d);
void kzd_map_stop(struct kzd *d);
void kzd_map_close_handles(struct kzd *d);

/* ------------------------------------------------------------ rnet.c */

/*
 * Checks [radio] as a whole (kz_radio_check_opts and what the link needs
 * besides) without opening anything.  Returns 0, or -1 with
 * "FILE:LINE: [radio] reason" in err (the line of the setting at fault,
 * else that of device).
 */
int kzd_rnet_check(const struct kz_config *cfg, const char *conf_path,
    char *err, size_t errlen);

/*
 * Opens the KISS port when [radio] device is set and the node holds a
 * network key (kzd_net_start first).  Returns 0 or -1 (logged).
 */
int kzd_rnet_start(struct kzd *d);

/* Once a second (net.c's tick): the radio link's figures note whether it
 * is in sync (linkfig.c). */
void kzd_rnet_tick(struct kzd *d);

/* Ends the session (a Bye if it is open) and closes the port; the port's
 * last bytes drain for at most 2 s, then kzd_maybe_done() is called. */
void kzd_rnet_stop(struct kzd *d);

/* Whether the port is still open (kzd_maybe_done waits for it). */
bool kzd_rnet_busy(const struct kzd *d);

/* Closes the timer (once the port is closed). */
void kzd_rnet_close_handles(struct kzd *d);

/* feed grew here (an append, a TCP link, a bundle): pushes it on the radio
 * link, from the next loop turn. */
void kzd_rnet_feed_grew(struct kzd *d, const uint8_t feed[32]);

/* Nodes were admitted (their feeds, n of them): offered on the radio link,
 * with a Vector "again". */
void kzd_rnet_admitted(struct kzd *d, const uint8_t (*feeds)[32], size_t n);

/* 1 when the radio link is open to a known node, else 0. */
size_t kzd_rnet_links(const struct kzd *d);

/* The radio link's row of the peers list (NULL when [radio] device is
 * empty); "radio" (the port alone, or null) in a status answer. */
struct json_t *kzd_rnet_peer_json(struct kzd *d);
void kzd_rnet_status(struct kzd *d, struct json_t *o);

/* ------------------------------------------------------------ discovery.c */

/*
 * Starts LAN discovery when [net] discovery is on (kzd_net_start() calls it
 * once the node holds a network key and listens): hears beacons on
 * discovery_port, and sends its own when it listens.  A failure is logged
 * and leaves the node without discovery; links work on.
 */
void kzd_discovery_start(struct kzd *d);

/* Stops sending and hearing beacons (the handles close with the others). */
void kzd_discovery_stop(struct kzd *d);

/* Closes the discovery handles. */
void kzd_discovery_close_handles(struct kzd *d);

/*
 * A discovered slot's connection ended: forgets the slot (and returns true)
 * when its node went unheard for KZD_DISC_EXPIRE intervals; otherwise the
 * caller dials it again.
 */
bool kzd_discovery_closed(struct kzd *d, struct kzd_dial *dl);

/* Adds "discovery" (counters, or null when off) to a status answer. */
void kzd_discovery_status(struct kzd *d, struct json_t *o);

/* ------------------------------------------------------------ http.c */

/*
 * Serves the web workspace and its JSON API on [http] listen (http.h).
 * Empty: nothing.  A port that cannot be bound is logged as an error and
 * the node runs on without it.  Returns 0, or -1 (logged) when the server
 * cannot be set up at all (no web root, out of memory).
 */
int kzd_http_start(struct kzd *d);

/* Stops accepting and ends every connection once its request is answered. */
void kzd_http_stop(struct kzd *d);

/* Cuts every connection off (the grace period ran out). */
void kzd_http_abort(struct kzd *d);

/* Whether connections or password checks are still draining. */
bool kzd_http_busy(const struct kzd *d);

/* Closes the listener (and h2o's handles after a failed start). */
void kzd_http_close_handles(struct kzd *d);

/* Frees the server (after the loop); wipes the sessions. */
void kzd_http_free(struct kzd *d);

/* Adds "http" (port, connections, sessions, logins, or null) to a status. */
void kzd_http_status(struct kzd *d, struct json_t *o);

/* ------------------------------------------------------------ request.c */

/*
 * Appends op (borrowed: the exact bytes, an encoded operation of type) to
 * this node's feed, committed before it returns, then tells systemd and
 * pushes it on every link.  The control socket and the HTTP API both
 * write this way.  Returns 0 with the entry in *app, or kz_store_append's
 * error (KZ_ERR_FORK, KZ_ERR_FULL, KZ_ERR_TOO_BIG, a store error).
 */
int kzd_append(struct kzd *d, const uint8_t *op, size_t len,
    enum kz_op_type type, struct kz_appended *app);

/*
 * The node's status object (the control socket's "status" answer: node,
 * store, links, radio, courier, http), or {"ok":false,...} when the store
 * cannot be read; NULL only when out of memory.
 */
struct json_t *kzd_status_json(struct kzd *d);

/*
 * Handles one request line (borrowed, not NUL-terminated) and returns its
 * response as a malloc'd JSON text without a newline (NULL only when out of
 * memory).  Sets *bad when the request was malformed, for counting.
 */
char *kzd_request(struct kzd *d, struct kzd_client *from, const char *line,
    size_t len, bool *bad);

/* The response to a line over KZ_CONTROL_LINE_MAX (malloc'd). */
char *kzd_error_text(const char *code, const char *message);

/* ------------------------------------------------------------ slack.c */

/*
 * import_slack: starts importing the export at path (absolute; borrowed)
 * unless one runs or this node is not an admin node; answers at once.
 * Sets *bad for a malformed request.  NULL only when out of memory.
 */
struct json_t *kzd_import_start(struct kzd *d, const char *path, bool *bad);

/* import_status: the import's state and counts, its problems from from on. */
struct json_t *kzd_import_status(struct kzd *d, size_t from);

/* Ends a running import at its batch boundary (a stop). */
void kzd_import_stop(struct kzd *d);
void kzd_import_close_handles(struct kzd *d);
/* Ends a running import and frees what it kept (after the loop). */
void kzd_import_free(struct kzd *d);

/* ------------------------------------------------------------ notify.c */

/* READY=1 and the state line; starts the watchdog timer if asked for. */
void kzd_notify_ready(struct kzd *d);

/* A fresh STATUS= line (after a change worth showing). */
void kzd_notify_status(struct kzd *d);

/* STOPPING=1 and stops the watchdog timer. */
void kzd_notify_stopping(struct kzd *d);

#endif
