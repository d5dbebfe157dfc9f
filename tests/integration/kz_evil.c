/*
 * kz-evil: a hostile peer and a maker of hostile input, for
 * tests/integration/hostile.sh.
 *
 *   kz-evil connect HOST:PORT HOME MODE [ARG...]
 *       Dials a kizunad as the node of HOME (its node.key) with the network
 *       key of HOME/mesh.key (KZ_EVIL_WRONG_KEY=1: 32 random bytes instead),
 *       completes the real Noise handshake (Noise_XXpsk0+psk3, the same
 *       prologue, PSKs and key conversion as src/sync/link.c), sends its
 *       Hello and, when the daemon sends its Vector, answers with the same
 *       tips (so the daemon has nothing to send it), then misbehaves:
 *
 *         hello          nothing more: waits 1 s, says Bye
 *         stall          half of a frame, then silence until the daemon
 *                        closes the connection (prints after how long)
 *         garbage N      N Noise transport messages of random plaintext
 *                        (frames that are not SyncMsgs)
 *         flood MB KIND [SECONDS]
 *                        MB MiB of frames as fast as the socket takes them
 *                        (or for SECONDS): KIND ping (empty Pings), run
 *                        (well-formed runs of HOME's feed past its tip whose
 *                        signature is random), bigrun (runs of ~4 MB, 1,000
 *                        entries, of a random feed no mesh admitted) or
 *                        vector (Vectors each listing 20,000 random feeds)
 *         send FILE      the frames of FILE (u32 big-endian length | SyncMsg,
 *                        as on the wire), then waits until the daemon has
 *                        acknowledged every run frame (or closed), says Bye
 *
 *       Reads and decrypts everything the daemon sends meanwhile.  Prints one
 *       line of JSON: frames and bytes sent, runs acknowledged, whether and
 *       why the daemon closed, seconds taken.  Exit 0 unless the tool failed
 *       (a refused handshake is a result, not a failure: "closed":true).
 *
 *   kz-evil mk HOME OUT KIND [N]
 *       Appends one run frame to OUT, signed with HOME's node key, for HOME's
 *       feed as HOME's store holds it (no daemon may run on HOME):
 *         posts N    N new posts appended to HOME's store, a valid run of them
 *         run FROM   a valid run of what HOME's store holds from seq FROM on
 *         forged N   the same with one bit of the signature flipped
 *         utf8       a post whose text is not UTF-8 (encoded with protobuf-c
 *                    directly: the library refuses to), appended and signed
 *         bigtext    a post of a 20,000-byte text (over KZ_TEXT_MAX, op under
 *                    KZ_OP_MAX), appended and signed
 *         bigop      an entry of a 70,000-byte op (over KZ_OP_MAX) past the
 *                    tip, header built and signed by hand, not stored
 *       Posts go to the channel whose id is $KZ_EVIL_CHANNEL (64 hex digits;
 *       else 32 bytes 0x11) on behalf of the user $KZ_EVIL_ACTOR (else none),
 *       and their text names the kind, the seq and HOME's last path part.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>

#include "kizuna.pb-c.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/home.h"
#include "kizuna/keys.h"
#include "kizuna/link.h"
#include "kizuna/mesh.h"
#include "kizuna/noise.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/sync.h"
#include "kizuna/util.h"

#define PROLOGUE "kizuna link 1"	/* as src/sync/link.c */

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "kz-evil: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (cap < b->len + n)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			die("%s", "out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
buf_eat(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* ------------------------------------------------------------ the peer */

struct peer {
	int fd;
	struct kz_noise_cipher tx, rx;
	struct buf in, plain;
	bool closed;			/* EOF, error or Bye from the daemon */
	bool bye_sent;			/* we ended it: a close is no refusal */
	bool dropped;			/* the daemon ended it first */
	char why[200];
	bool got_hello, got_vector, vector_sent;
	uint64_t acked;			/* the daemon's SyncAck bytes */
	uint64_t frames_out, bytes_out, run_bytes_out, runs_out;
	uint64_t frames_in;
};

static void
peer_closed(struct peer *p, const char *why)
{
	if (!p->closed && !p->bye_sent) {
		snprintf(p->why, sizeof(p->why), "%s", why);
		p->dropped = true;
	}
	p->closed = true;
}

/* Writes all of bytes (blocking, but reading whatever arrives meanwhile). */
static void pump(struct peer *p, int timeout_ms);

static void
write_all(struct peer *p, const uint8_t *b, size_t n)
{
	while (n > 0 && !p->closed) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN | POLLOUT };
		ssize_t w;

		if (poll(&pf, 1, 10000) <= 0) {
			peer_closed(p, "write stalled for 10 s");
			return;
		}
		if (pf.revents & (POLLIN | POLLHUP | POLLERR))
			pump(p, 0);
		if (!(pf.revents & POLLOUT))
			continue;
		w = send(p->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			peer_closed(p, strerror(errno));
			return;
		}
		b += w;
		n -= (size_t)w;
	}
}

/* Sends plaintext as Noise transport messages. */
static void
seal_send(struct peer *p, const uint8_t *plain, size_t n)
{
	static uint8_t out[2 + KZ_NOISE_MAX_MSG];
	size_t mlen;

	while (n > 0 && !p->closed) {
		size_t c = n < KZ_NOISE_MAX_PAYLOAD ? n : KZ_NOISE_MAX_PAYLOAD;

		if (kz_noise_encrypt(&p->tx, plain, c, out + 2, KZ_NOISE_MAX_MSG,
		    &mlen) < 0)
			die("%s", "encrypt");
		out[0] = (uint8_t)(mlen >> 8);
		out[1] = (uint8_t)mlen;
		write_all(p, out, 2 + mlen);
		plain += c;
		n -= c;
	}
}

/* A batch of frames, sealed together (up to a Noise message each). */
static struct buf batch;

static void
flush_batch(struct peer *p)
{
	if (batch.len > 0)
		seal_send(p, batch.p, batch.len);
	batch.len = 0;
}

static void
queue_frame(struct peer *p, const uint8_t *f, size_t n, bool run)
{
	uint8_t pre[4];

	kz_put_be32(pre, (uint32_t)n);
	buf_add(&batch, pre, 4);
	buf_add(&batch, f, n);
	p->frames_out++;
	p->bytes_out += n;
	if (run) {
		p->run_bytes_out += n;
		p->runs_out++;
	}
	if (batch.len >= 4 * KZ_NOISE_MAX_PAYLOAD)
		flush_batch(p);
}

static void
send_msg(struct peer *p, const Kizuna__SyncMsg *m)
{
	size_t n = kizuna__sync_msg__get_packed_size(m);
	uint8_t *b = malloc(n ? n : 1);

	if (b == NULL)
		die("%s", "out of memory");
	kizuna__sync_msg__pack(m, b);
	queue_frame(p, b, n, m->body_case == KIZUNA__SYNC_MSG__BODY_RUN);
	free(b);
	flush_batch(p);
}

static void
send_bye(struct peer *p, const char *why)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Bye bye = KIZUNA__BYE__INIT;

	bye.reason = (char *)why;
	m.body_case = KIZUNA__SYNC_MSG__BODY_BYE;
	m.bye = &bye;
	send_msg(p, &m);
	p->bye_sent = true;
}

/* The daemon's Vector: answered with the very same tips. */
static void
on_vector(struct peer *p, Kizuna__Vector *v)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;

	p->got_vector = true;
	if (p->vector_sent || v->again)
		return;
	v->again = false;
	m.body_case = KIZUNA__SYNC_MSG__BODY_VECTOR;
	m.vector = v;
	send_msg(p, &m);
	p->vector_sent = true;
}

static void
on_frame(struct peer *p, const uint8_t *f, size_t n)
{
	Kizuna__SyncMsg *m = kizuna__sync_msg__unpack(NULL, n, f);

	p->frames_in++;
	if (m == NULL) {
		peer_closed(p, "the daemon sent a malformed frame");
		return;
	}
	switch (m->body_case) {
	case KIZUNA__SYNC_MSG__BODY_HELLO:
		p->got_hello = true;
		break;
	case KIZUNA__SYNC_MSG__BODY_VECTOR:
		on_vector(p, m->vector);
		break;
	case KIZUNA__SYNC_MSG__BODY_ACK:
		p->acked = m->ack->bytes;
		break;
	case KIZUNA__SYNC_MSG__BODY_BYE:
		peer_closed(p, m->bye->reason);
		break;
	default:
		break;
	}
	kizuna__sync_msg__free_unpacked(m, NULL);
}

static void
take(struct peer *p)
{
	static uint8_t plain[KZ_NOISE_MAX_MSG];

	while (p->in.len >= 2 && !p->closed) {
		size_t mlen = (size_t)p->in.p[0] << 8 | p->in.p[1], plen;

		if (p->in.len - 2 < mlen)
			break;
		if (kz_noise_decrypt(&p->rx, p->in.p + 2, mlen, plain,
		    sizeof(plain), &plen) < 0) {
			peer_closed(p, "cannot decrypt what the daemon sent");
			return;
		}
		buf_eat(&p->in, 2 + mlen);
		buf_add(&p->plain, plain, plen);
		while (p->plain.len >= 4 && !p->closed) {
			uint32_t flen = kz_get_be32(p->plain.p);

			if (p->plain.len - 4 < flen)
				break;
			on_frame(p, p->plain.p + 4, flen);
			buf_eat(&p->plain, 4 + (size_t)flen);
		}
	}
}

/* Reads what is there (waiting up to timeout_ms for the first bytes). */
static void
pump(struct peer *p, int timeout_ms)
{
	static uint8_t rb[65536];

	while (!p->closed) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pf, 1, timeout_ms) <= 0)
			return;
		r = recv(p->fd, rb, sizeof(rb), MSG_DONTWAIT);
		if (r == 0) {
			peer_closed(p, "connection closed by the daemon");
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			peer_closed(p, strerror(errno));
			return;
		}
		buf_add(&p->in, rb, (size_t)r);
		take(p);
		timeout_ms = 0;
	}
}

/* Reads the next handshake message (u16 length | message) into msg. */
static int
read_hs(struct peer *p, uint8_t *msg, size_t *len)
{
	static uint8_t rb[4096];
	double end = now_s() + 10;

	while (now_s() < end) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		ssize_t r;

		if (p->in.len >= 2) {
			size_t mlen = (size_t)p->in.p[0] << 8 | p->in.p[1];

			if (p->in.len - 2 >= mlen) {
				memcpy(msg, p->in.p + 2, mlen);
				*len = mlen;
				buf_eat(&p->in, 2 + mlen);
				return 0;
			}
		}
		if (poll(&pf, 1, 200) <= 0)
			continue;
		r = recv(p->fd, rb, sizeof(rb), 0);
		if (r <= 0)
			return -1;
		buf_add(&p->in, rb, (size_t)r);
	}
	return -1;
}

static int
dial(const char *hostport)
{
	char host[256], *colon;
	struct addrinfo hints, *res;
	int fd, one = 1;

	snprintf(host, sizeof(host), "%s", hostport);
	if ((colon = strrchr(host, ':')) == NULL)
		die("not HOST:PORT: %s", hostport);
	*colon = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		die("cannot resolve %s", hostport);
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0)
		die("cannot connect to %s", hostport);
	freeaddrinfo(res);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * The handshake as the initiator, then our Hello.  Returns 0, or -1 when
 * the daemon refused it (p->why says how).
 */
static int
handshake(struct peer *p, const struct kz_keypair *kp, const uint8_t nk[32])
{
	struct kz_noise_handshake *hs = NULL;
	const uint8_t *psks[2] = { nk, nk };
	uint8_t x_sk[32], msg[KZ_NOISE_MAX_MSG], out[2 + KZ_NOISE_MAX_MSG];
	uint8_t payload[KZ_NOISE_MAX_MSG], digest[16];
	size_t len, plen;
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Hello hello = KIZUNA__HELLO__INIT;

	if (crypto_sign_ed25519_sk_to_curve25519(x_sk, kp->sk) != 0 ||
	    kz_noise_new(&hs, KZ_LINK_PROTOCOL, 1, (const uint8_t *)PROLOGUE,
	    strlen(PROLOGUE), x_sk, NULL, psks, 2, NULL) < 0)
		die("%s", "noise setup");
	while (kz_noise_action(hs) == KZ_NOISE_WRITE ||
	    kz_noise_action(hs) == KZ_NOISE_READ) {
		if (kz_noise_action(hs) == KZ_NOISE_WRITE) {
			if (kz_noise_write_message(hs, NULL, 0, out + 2,
			    KZ_NOISE_MAX_MSG, &len) < 0)
				die("%s", "handshake write");
			out[0] = (uint8_t)(len >> 8);
			out[1] = (uint8_t)len;
			write_all(p, out, 2 + len);
			continue;
		}
		if (read_hs(p, msg, &len) < 0) {
			peer_closed(p, "handshake refused: the daemon closed the "
			    "connection");
			kz_noise_free(hs);
			return -1;
		}
		if (kz_noise_read_message(hs, msg, len, payload, sizeof(payload),
		    &plen) < 0)
			die("%s", "handshake: the daemon's message does not verify");
	}
	if (kz_noise_split(hs, &p->tx, &p->rx) < 0)
		die("%s", "split");
	kz_noise_free(hs);
	sodium_memzero(x_sk, sizeof(x_sk));
	memset(digest, 0, sizeof(digest));	/* never equal: vectors follow */
	hello.version = KZ_SYNC_VERSION;
	hello.node.data = (uint8_t *)kp->pk;
	hello.node.len = 32;
	hello.digest.data = digest;
	hello.digest.len = 16;
	m.body_case = KIZUNA__SYNC_MSG__BODY_HELLO;
	m.hello = &hello;
	send_msg(p, &m);
	return 0;
}

/* Waits up to secs for cond (or a close), reading meanwhile. */
#define WAIT_FOR(p, secs, cond) do {					\
	double end_ = now_s() + (secs);					\
	while (!(cond) && !(p)->closed && now_s() < end_)		\
		pump((p), 100);						\
} while (0)

/* ------------------------------------------------------------ misbehaving */

static void
fill_random_run(struct peer *p, const uint8_t author[32], uint64_t first,
    size_t n, size_t op_len)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Run run = KIZUNA__RUN__INIT;
	Kizuna__RunEntry *ents = calloc(n, sizeof(*ents));
	Kizuna__RunEntry **ptrs = calloc(n, sizeof(*ptrs));
	uint8_t *ops = malloc(n * op_len), sig[64], *rb;
	size_t i, rlen;

	if (ents == NULL || ptrs == NULL || ops == NULL)
		die("%s", "out of memory");
	randombytes_buf(ops, n * op_len);
	randombytes_buf(sig, sizeof(sig));
	for (i = 0; i < n; i++) {
		kizuna__run_entry__init(&ents[i]);
		ents[i].hlc_delta = i == 0 ? 1700000000000LL : 1;
		ents[i].op.data = ops + i * op_len;
		ents[i].op.len = op_len;
		ptrs[i] = &ents[i];
	}
	run.author.data = (uint8_t *)author;
	run.author.len = 32;
	run.first_seq = first;
	run.n_entries = n;
	run.entries = ptrs;
	run.signature.data = sig;
	run.signature.len = 64;
	rlen = kizuna__run__get_packed_size(&run);
	if ((rb = malloc(rlen)) == NULL)
		die("%s", "out of memory");
	kizuna__run__pack(&run, rb);
	m.body_case = KIZUNA__SYNC_MSG__BODY_RUN;
	m.run.data = rb;
	m.run.len = rlen;
	{
		size_t fl = kizuna__sync_msg__get_packed_size(&m);
		uint8_t *f = malloc(fl);

		if (f == NULL)
			die("%s", "out of memory");
		kizuna__sync_msg__pack(&m, f);
		queue_frame(p, f, fl, true);
		free(f);
	}
	free(rb);
	free(ents);
	free(ptrs);
	free(ops);
}

static void
flood_vector(struct peer *p)
{
	enum { FEEDS = 20000 };
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	Kizuna__Vector v = KIZUNA__VECTOR__INIT;
	static Kizuna__FeedTip tips[FEEDS];
	static Kizuna__FeedTip *ptrs[FEEDS];
	static uint8_t keys[FEEDS][32];
	size_t i;

	randombytes_buf(keys, sizeof(keys));
	for (i = 0; i < FEEDS; i++) {
		kizuna__feed_tip__init(&tips[i]);
		tips[i].feed.data = keys[i];
		tips[i].feed.len = 32;
		tips[i].tip = 1 + i;
		ptrs[i] = &tips[i];
	}
	v.n_feeds = FEEDS;
	v.feeds = ptrs;
	m.body_case = KIZUNA__SYNC_MSG__BODY_VECTOR;
	m.vector = &v;
	{
		size_t fl = kizuna__sync_msg__get_packed_size(&m);
		uint8_t *f = malloc(fl);

		if (f == NULL)
			die("%s", "out of memory");
		kizuna__sync_msg__pack(&m, f);
		queue_frame(p, f, fl, false);
		free(f);
	}
}

static int
run_mode(struct peer *p, const struct kz_keypair *kp, uint64_t tip,
    int argc, char **argv)
{
	const char *mode = argv[0];

	if (strcmp(mode, "hello") == 0) {
		WAIT_FOR(p, 1, false);
		if (!p->closed)
			send_bye(p, "kz-evil: done");
	} else if (strcmp(mode, "stall") == 0) {
		/* A Ping frame's Noise message, cut in half on the wire. */
		static const uint8_t ping[] = { 0, 0, 0, 2, 0x3a, 0x00 };
		uint8_t msg[2 + 64];
		size_t mlen;

		if (kz_noise_encrypt(&p->tx, ping, sizeof(ping), msg + 2, 64,
		    &mlen) < 0)
			die("%s", "encrypt");
		msg[0] = (uint8_t)(mlen >> 8);
		msg[1] = (uint8_t)mlen;
		write_all(p, msg, 2 + mlen / 2);
		WAIT_FOR(p, 120, false);
	} else if (strcmp(mode, "garbage") == 0) {
		long i, n = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
		uint8_t g[512];

		for (i = 0; i < n && !p->closed; i++) {
			randombytes_buf(g, sizeof(g));
			/* A length that fits, then bytes that are no SyncMsg. */
			kz_put_be32(g, sizeof(g) - 4);
			g[4] = 0xff;
			seal_send(p, g, sizeof(g));
			p->frames_out++;
			p->bytes_out += sizeof(g) - 4;
		}
		WAIT_FOR(p, 10, false);
	} else if (strcmp(mode, "flood") == 0) {
		uint64_t total = (uint64_t)(argc > 1 ? strtoull(argv[1], NULL, 10) :
		    100) << 20;
		const char *kind = argc > 2 ? argv[2] : "ping";
		double until = now_s() + (argc > 3 ? strtod(argv[3], NULL) : 1e9);
		static const uint8_t ping[] = { 0x3a, 0x00 };	/* Ping {} */
		uint64_t seq = tip + 1;
		uint8_t stranger[32];

		randombytes_buf(stranger, sizeof(stranger));
		while (p->bytes_out < total && !p->closed && now_s() < until) {
			if (strcmp(kind, "ping") == 0)
				queue_frame(p, ping, sizeof(ping), false);
			else if (strcmp(kind, "run") == 0)
				fill_random_run(p, kp->pk, seq, 64, 1000);
			else if (strcmp(kind, "bigrun") == 0)
				fill_random_run(p, stranger, 1, 1000, 4000);
			else if (strcmp(kind, "vector") == 0)
				flood_vector(p);
			else
				die("unknown flood kind %s", kind);
			pump(p, 0);
		}
		flush_batch(p);
		/* Every run acknowledged (or the link closed), then Bye. */
		WAIT_FOR(p, 60, p->acked >= p->run_bytes_out);
		if (!p->closed)
			send_bye(p, "kz-evil: done");
	} else if (strcmp(mode, "send") == 0) {
		FILE *f;
		uint8_t pre[4], *b;

		if (argc < 2 || (f = fopen(argv[1], "rb")) == NULL)
			die("cannot read %s", argc > 1 ? argv[1] : "(none)");
		while (fread(pre, 1, 4, f) == 4 && !p->closed) {
			uint32_t n = kz_get_be32(pre);
			Kizuna__SyncMsg *m;

			if ((b = malloc(n ? n : 1)) == NULL || fread(b, 1, n, f) != n)
				die("%s: truncated frame", argv[1]);
			m = kizuna__sync_msg__unpack(NULL, n, b);
			queue_frame(p, b, n, m != NULL &&
			    m->body_case == KIZUNA__SYNC_MSG__BODY_RUN);
			if (m != NULL)
				kizuna__sync_msg__free_unpacked(m, NULL);
			free(b);
		}
		fclose(f);
		flush_batch(p);
		WAIT_FOR(p, 30, p->acked >= p->run_bytes_out);
		if (!p->closed)
			send_bye(p, "kz-evil: done");
	} else {
		die("unknown mode %s", mode);
	}
	return 0;
}

static int
cmd_connect(int argc, char **argv)
{
	struct peer p;
	struct kz_keypair kp;
	struct kz_mesh_creds mc;
	char path[4096];
	uint64_t tip = 0;
	double t0;
	int rc;

	if (argc < 4)
		die("%s", "usage: kz-evil connect HOST:PORT HOME MODE [ARG...]");
	if (kz_home_load_key(argv[2], &kp) < 0)
		die("cannot load the node key of %s", argv[2]);
	if ((rc = kz_mesh_file_read(argv[2], &mc)) < 0)
		die("%s: no mesh.key", argv[2]);
	if (getenv("KZ_EVIL_WRONG_KEY") != NULL)
		randombytes_buf(mc.network_key, sizeof(mc.network_key));
	/* Our feed's tip (for runs past it), from HOME's store if any. */
	snprintf(path, sizeof(path), "%s/%s", argv[2], KZ_HOME_DB);
	{
		struct kz_store *st = NULL;

		if (kz_store_open(&st, path, NULL) == 0)
			(void)kz_store_tip(st, kp.pk, &tip, NULL);
		kz_store_free(st);
	}
	memset(&p, 0, sizeof(p));
	t0 = now_s();
	p.fd = dial(argv[1]);
	if (handshake(&p, &kp, mc.network_key) == 0) {
		WAIT_FOR(&p, 10, p.got_hello && p.vector_sent);
		if (!p.closed && !p.vector_sent)
			peer_closed(&p, "no hello or vector from the daemon");
		if (!p.closed)
			run_mode(&p, &kp, tip, argc - 3, argv + 3);
		/* Let the daemon take our last bytes and its Bye arrive. */
		if (!p.closed)
			WAIT_FOR(&p, 2, false);
	}
	printf("{\"frames\":%llu,\"runs\":%llu,\"bytes\":%llu,\"run_bytes\":%llu,"
	    "\"acked\":%llu,"
	    "\"frames_in\":%llu,\"closed\":%s,\"why\":\"%s\",\"seconds\":%.2f}\n",
	    (unsigned long long)p.frames_out, (unsigned long long)p.runs_out,
	    (unsigned long long)p.bytes_out,
	    (unsigned long long)p.run_bytes_out, (unsigned long long)p.acked,
	    (unsigned long long)p.frames_in, p.dropped ? "true" : "false",
	    p.why, now_s() - t0);
	fflush(stdout);
	close(p.fd);
	free(p.in.p);
	free(p.plain.p);
	free(batch.p);
	kz_keypair_wipe(&kp);
	kz_mesh_creds_wipe(&mc);
	return 0;
}

/* ------------------------------------------------------------ making runs */

static uint8_t channel[32];

/* A Post op encoded with protobuf-c directly (no validation). */
static uint8_t *
raw_post(const char *text, size_t *len)
{
	Kizuna__Op op = KIZUNA__OP__INIT;
	Kizuna__Post post = KIZUNA__POST__INIT;
	uint8_t *b;

	post.channel.data = channel;
	post.channel.len = 32;
	post.text = (char *)text;
	op.actor = getenv("KZ_EVIL_ACTOR") != NULL ? getenv("KZ_EVIL_ACTOR") : "";
	op.body_case = KIZUNA__OP__BODY_POST;
	op.post = &post;
	*len = kizuna__op__get_packed_size(&op);
	if ((b = malloc(*len)) == NULL)
		die("%s", "out of memory");
	kizuna__op__pack(&op, b);
	return b;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
write_run_frame(FILE *out, const uint8_t *run, size_t rlen)
{
	Kizuna__SyncMsg m = KIZUNA__SYNC_MSG__INIT;
	uint8_t pre[4], *f;
	size_t n;

	m.body_case = KIZUNA__SYNC_MSG__BODY_RUN;
	m.run.data = (uint8_t *)run;
	m.run.len = rlen;
	n = kizuna__sync_msg__get_packed_size(&m);
	if ((f = malloc(n)) == NULL)
		die("%s", "out of memory");
	kizuna__sync_msg__pack(&m, f);
	kz_put_be32(pre, (uint32_t)n);
	if (fwrite(pre, 1, 4, out) != 4 || fwrite(f, 1, n, out) != n)
		die("%s", "cannot write");
	free(f);
}

static int
cmd_mk(int argc, char **argv)
{
	const char *kind;
	struct kz_keypair kp;
	struct kz_store *st = NULL;
	char path[4096];
	uint64_t tip, first;
	long n = 1, i;
	FILE *out;
	int rc;

	if (argc < 4)
		die("%s", "usage: kz-evil mk HOME OUT KIND [N]");
	kind = argv[3];
	if (argc > 4)
		n = strtol(argv[4], NULL, 10);
	memset(channel, 0x11, sizeof(channel));
	if (getenv("KZ_EVIL_CHANNEL") != NULL &&
	    kz_unhex(channel, 32, getenv("KZ_EVIL_CHANNEL")) < 0)
		die("%s", "KZ_EVIL_CHANNEL: not 64 hex digits");
	if (kz_home_load_key(argv[1], &kp) < 0)
		die("cannot load the node key of %s", argv[1]);
	snprintf(path, sizeof(path), "%s/%s", argv[1], KZ_HOME_DB);
	if ((rc = kz_store_open(&st, path, NULL)) < 0 ||
	    (rc = kz_store_tip(st, kp.pk, &tip, NULL)) < 0)
		die("cannot open the store: %s", kz_strerror(rc));
	if ((out = fopen(argv[2], "ab")) == NULL)
		die("cannot write %s", argv[2]);
	first = tip + 1;
	if (strcmp(kind, "bigop") == 0) {
		/* Header, hash and signature by hand: the library refuses. */
		struct kz_entry_header h;
		Kizuna__Run run = KIZUNA__RUN__INIT;
		Kizuna__RunEntry e = KIZUNA__RUN_ENTRY__INIT, *ep = &e;
		uint8_t hdr[KZ_HEADER_BYTES], hash[32], sig[64], *rb;
		size_t oplen = 70000, rlen;
		uint8_t *op = malloc(oplen);

		if (op == NULL)
			die("%s", "out of memory");
		memset(op, 'x', oplen);
		memset(&h, 0, sizeof(h));
		memcpy(h.author, kp.pk, 32);
		h.seq = first;
		(void)kz_store_tip(st, kp.pk, &tip, h.prev);
		h.hlc = wall_ms() << 16;
		h.op_len = (uint32_t)oplen;
		crypto_generichash(h.op_hash, 32, op, oplen, NULL, 0);
		kz_header_encode(hdr, &h);
		crypto_generichash(hash, 32, hdr, sizeof(hdr), NULL, 0);
		kz_sign_hash(sig, hash, &kp);
		e.hlc_delta = (int64_t)h.hlc;
		e.op.data = op;
		e.op.len = oplen;
		run.author.data = kp.pk;
		run.author.len = 32;
		run.first_seq = first;
		run.n_entries = 1;
		run.entries = &ep;
		run.signature.data = sig;
		run.signature.len = 64;
		rlen = kizuna__run__get_packed_size(&run);
		if ((rb = malloc(rlen)) == NULL)
			die("%s", "out of memory");
		kizuna__run__pack(&run, rb);
		write_run_frame(out, rb, rlen);
		free(rb);
		free(op);
	} else if (strcmp(kind, "run") == 0) {
		struct kz_run *run = NULL;
		uint8_t *rb = NULL;
		size_t rlen;

		if ((rc = kz_store_read_run(st, kp.pk, (uint64_t)n, 4096, 4 << 20,
		    &run)) < 0 || (rc = kz_run_encode(&rb, &rlen, run)) < 0)
			die("read the run: %s", kz_strerror(rc));
		write_run_frame(out, rb, rlen);
		free(rb);
		kz_run_free(run);
	} else {
		struct kz_run *run = NULL;
		uint8_t *rb = NULL;
		size_t rlen;

		for (i = 0; i < n; i++) {
			uint8_t *op = NULL;
			size_t len;
			char text[256];
			char *big = NULL;

			if (strcmp(kind, "utf8") == 0) {
				op = raw_post("invalid \xff\xfe UTF-8 \xc3", &len);
			} else if (strcmp(kind, "bigtext") == 0) {
				if ((big = malloc(20001)) == NULL)
					die("%s", "out of memory");
				memset(big, 'y', 20000);
				big[20000] = '\0';
				op = raw_post(big, &len);
				free(big);
			} else if (strcmp(kind, "posts") == 0 ||
			    strcmp(kind, "forged") == 0) {
				struct kz_op o;

				snprintf(text, sizeof(text), "kz-evil %s %llu from %s",
				    kind, (unsigned long long)(first + (uint64_t)i),
				    strrchr(argv[1], '/') != NULL ?
				    strrchr(argv[1], '/') + 1 : argv[1]);
				memset(&o, 0, sizeof(o));
				o.actor = getenv("KZ_EVIL_ACTOR");
				o.type = KZ_OP_POST;
				o.u.post.channel = channel;
				o.u.post.text = text;
				if ((rc = kz_op_encode(&op, &len, &o)) < 0)
					die("encode: %s", kz_strerror(rc));
			} else {
				die("unknown kind %s", kind);
			}
			rc = kz_store_append(st, &kp, wall_ms(), op, len, NULL);
			free(op);
			if (rc < 0)
				die("append: %s", kz_strerror(rc));
		}
		if ((rc = kz_store_read_run(st, kp.pk, first, 4096, 4 << 20,
		    &run)) < 0 || (uint64_t)run->n != (uint64_t)n)
			die("read the run: %s", kz_strerror(rc));
		if (strcmp(kind, "forged") == 0)
			run->sig[17] ^= 0x04;
		if ((rc = kz_run_encode(&rb, &rlen, run)) < 0)
			die("encode the run: %s", kz_strerror(rc));
		write_run_frame(out, rb, rlen);
		free(rb);
		kz_run_free(run);
	}
	if (fclose(out) != 0)
		die("cannot write %s", argv[2]);
	kz_store_free(st);
	kz_keypair_wipe(&kp);
	return 0;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		die("%s", "sodium_init");
	if (argc >= 2 && strcmp(argv[1], "connect") == 0)
		return cmd_connect(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "mk") == 0)
		return cmd_mk(argc - 1, argv + 1);
	fprintf(stderr, "usage: kz-evil connect HOST:PORT HOME MODE [ARG...]\n"
	    "       kz-evil mk HOME OUT posts|forged|utf8|bigtext|bigop [N]\n");
	return 2;
}
