/*
 * kz-kiss-relay: a stand-in for two TNCs and the air between them, for
 * tests that need no Direwolf.
 *
 *   kz-kiss-relay [--loss P] [--seed N] [--rate BYTES_PER_S] [--shared]
 *                 [--ports PORT_A PORT_B]
 *
 * Listens on two TCP ports of 127.0.0.1 (those given, else picked by the
 * kernel; printed as "PORT_A PORT_B" on the first line of stdout), each a KISS TNC for one
 * client (a new client on a port replaces the old one).  Every KISS data
 * frame a client sends is forwarded to the other port's client as it came
 * (FEND, the escaped bytes, FEND), unless the seeded generator drops it
 * (probability P, the same drops for the same seed and frame order); KISS
 * command frames (TXDELAY ...) are taken as a TNC takes them, never
 * forwarded.  With --rate, each direction's frames leave at most that many
 * bytes a second (--shared: both directions share one channel, as on a
 * half-duplex radio), so the clients see a modem's pace.
 *
 * Memory is bounded: frames over FRAME_MAX bytes are dropped, and at most
 * QUEUE_MAX bytes wait per direction (more are dropped as the air would).
 * On SIGTERM or SIGINT it prints its counters to stderr and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FEND 0xC0
#define FESC 0xDB
#define TFEND 0xDC
#define FRAME_MAX 4096		/* escaped bytes of one frame */
#define QUEUE_MAX (256 * 1024)	/* bytes waiting per direction */

struct frame {
	struct frame *next;
	uint64_t due_ms;
	size_t len;
	uint8_t buf[];
};

struct side {
	int listen_fd, fd;
	uint16_t port;
	uint8_t cur[FRAME_MAX];		/* the frame being read, escaped */
	size_t cur_len;
	bool in_frame, too_long;
	struct frame *head, *tail;	/* to deliver to this side's client */
	size_t queued;
	uint64_t free_ms;		/* when this direction's air is free */
	uint64_t forwarded, dropped, commands, oversize, overflow;
};

static volatile sig_atomic_t stop;
static uint64_t rng;
static double loss;
static unsigned rate;
static bool shared;
static uint64_t shared_free_ms;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double
next_unit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* Listens on *port (0: any, then *port is the one picked). */
static int
listen_on(uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(*port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Queues a whole frame (escaped bytes) for delivery to to's client. */
static void
enqueue(struct side *to, const uint8_t *esc, size_t n)
{
	uint64_t now = now_ms(), *air = shared ? &shared_free_ms : &to->free_ms;
	struct frame *f;

	if (to->queued + n + 2 > QUEUE_MAX || (f = malloc(sizeof(*f) + n +
	    2)) == NULL) {
		to->overflow++;
		return;
	}
	f->next = NULL;
	f->len = n + 2;
	f->buf[0] = FEND;
	memcpy(f->buf + 1, esc, n);
	f->buf[n + 1] = FEND;
	if (rate > 0) {
		if (*air < now)
			*air = now;
		*air += ((uint64_t)f->len * 1000 + rate - 1) / rate;
		f->due_ms = *air;
	} else {
		f->due_ms = now;
	}
	if (to->tail != NULL)
		to->tail->next = f;
	else
		to->head = f;
	to->tail = f;
	to->queued += f->len;
	to->forwarded++;
}

/* A complete frame read from from's client: forwarded, dropped or taken. */
static void
frame_done(struct side *from, struct side *to)
{
	uint8_t type;

	if (from->too_long) {
		from->oversize++;
		return;
	}
	if (from->cur_len == 0)
		return;		/* back-to-back FENDs */
	type = from->cur[0];
	if (type == FESC && from->cur_len > 1)
		type = from->cur[1] == TFEND ? FEND : FESC;
	if ((type & 0x0F) != 0) {
		from->commands++;
		return;
	}
	if (loss > 0 && next_unit() < loss) {
		from->dropped++;
		return;
	}
	enqueue(to, from->cur, from->cur_len);
}

static void
take(struct side *from, struct side *to, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == FEND) {
			if (from->in_frame)
				frame_done(from, to);
			from->in_frame = true;
			from->cur_len = 0;
			from->too_long = false;
			continue;
		}
		if (!from->in_frame)
			continue;
		if (from->cur_len == FRAME_MAX) {
			from->too_long = true;
			continue;
		}
		from->cur[from->cur_len++] = p[i];
	}
}

static void
client_close(struct side *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->in_frame = false;
	s->cur_len = 0;
}

/* Writes what is due to s's client; returns when the next frame is due. */
static uint64_t
deliver(struct side *s, uint64_t now)
{
	struct frame *f;

	while ((f = s->head) != NULL && f->due_ms <= now) {
		if (s->fd >= 0) {
			size_t off = 0;

			while (off < f->len) {
				ssize_t w = write(s->fd, f->buf + off, f->len - off);

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					client_close(s);
					break;
				}
				off += (size_t)w;
			}
		}
		s->head = f->next;
		if (s->head == NULL)
			s->tail = NULL;
		s->queued -= f->len;
		free(f);
	}
	return s->head != NULL ? s->head->due_ms : UINT64_MAX;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kz-kiss-relay [--loss P] [--seed N] "
	    "[--rate BYTES_PER_S] [--shared] [--ports PORT_A PORT_B]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct side sides[2];
	struct sigaction sa;
	uint8_t buf[4096];
	int i, k;

	rng = 1;
	memset(sides, 0, sizeof(sides));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--loss") == 0 && i + 1 < argc)
			loss = atof(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			rng = strtoull(argv[++i], NULL, 10) * 2654435761u + 1;
		else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc)
			rate = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--shared") == 0)
			shared = true;
		else if (strcmp(argv[i], "--ports") == 0 && i + 2 < argc) {
			sides[0].port = (uint16_t)strtoul(argv[++i], NULL, 10);
			sides[1].port = (uint16_t)strtoul(argv[++i], NULL, 10);
		}
		else
			usage();
	}
	if (loss < 0 || loss >= 1)
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	for (k = 0; k < 2; k++) {
		sides[k].fd = -1;
		if ((sides[k].listen_fd = listen_on(&sides[k].port)) < 0) {
			perror("kz-kiss-relay: listen");
			return 1;
		}
	}
	printf("%u %u\n", sides[0].port, sides[1].port);
	fflush(stdout);
	while (!stop) {
		struct pollfd pf[4];
		uint64_t now = now_ms(), next = UINT64_MAX, t;
		int timeout;

		for (k = 0; k < 2; k++)
			if ((t = deliver(&sides[k], now)) < next)
				next = t;
		for (k = 0; k < 2; k++) {
			pf[2 * k].fd = sides[k].listen_fd;
			pf[2 * k].events = POLLIN;
			pf[2 * k + 1].fd = sides[k].fd;
			pf[2 * k + 1].events = POLLIN;
		}
		timeout = next == UINT64_MAX ? -1 : next > now ?
		    (int)(next - now) : 0;
		if (poll(pf, 4, timeout) < 0) {
			if (errno == EINTR)
				continue;
			perror("kz-kiss-relay: poll");
			return 1;
		}
		for (k = 0; k < 2; k++) {
			struct side *s = &sides[k];

			if (pf[2 * k].revents & POLLIN) {
				int fd = accept(s->listen_fd, NULL, NULL), one = 1;

				if (fd >= 0) {
					client_close(s);
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
					    sizeof(one));
					s->fd = fd;
				}
			}
			if (s->fd >= 0 && pf[2 * k + 1].fd == s->fd &&
			    (pf[2 * k + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
				ssize_t n = read(s->fd, buf, sizeof(buf));

				if (n > 0)
					take(s, &sides[1 - k], buf, (size_t)n);
				else if (n == 0 || errno != EINTR)
					client_close(s);
			}
		}
	}
	for (k = 0; k < 2; k++) {
		struct frame *f;

		while ((f = sides[k].head) != NULL) {
			sides[k].head = f->next;
			free(f);
		}
		client_close(&sides[k]);
		close(sides[k].listen_fd);
	}
	for (k = 0; k < 2; k++)
		fprintf(stderr, "relay %c->%c: forwarded %llu, dropped %llu, "
		    "commands %llu, oversize %llu, overflow %llu\n",
		    k == 0 ? 'a' : 'b', k == 0 ? 'b' : 'a',
		    (unsigned long long)sides[1 - k].forwarded,
		    (unsigned long long)sides[k].dropped,
		    (unsigned long long)sides[k].commands,
		    (unsigned long long)sides[k].oversize,
		    (unsigned long long)sides[1 - k].overflow);
	return 0;
}
