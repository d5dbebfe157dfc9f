/*
 * kz-killat HOME PID PEERKEY MIN MAX TIMEOUT_S: asks the kizunad of HOME
 * (pid PID) for its status on its control socket (HOME/control.sock, one
 * connection, one request at a time) until the store holds at least MIN
 * entries, then kills PID with SIGKILL at once, before anything else, so
 * the link's counts it read are those of the moment of the kill (up to the
 * bytes the daemon read in the microseconds between its answer and the
 * signal).  Prints one line of JSON: the store's entries and the link to
 * PEERKEY's bytes_in, bytes_out and entries_in from that last answer.
 * Exits 1 (and kills nothing) when the store held MAX entries or more
 * before it held MIN (the transfer ended first), or after TIMEOUT_S.
 * For tests/integration/chain.sh: kill -9 in the middle of a catch-up.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int
dial(const char *home)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/control.sock", home) >= sizeof(sun.sun_path))
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One status answer (a line) into buf; returns its length or -1. */
static ssize_t
ask(int fd, char *buf, size_t cap)
{
	static const char req[] = "{\"cmd\":\"status\"}\n";
	size_t len = 0;

	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		return -1;
	while (len < cap - 1) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n <= 0)
			return -1;
		len += (size_t)n;
		if (buf[len - 1] == '\n')
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static json_int_t
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

int
main(int argc, char **argv)
{
	static char buf[1 << 20];
	long long min, max;
	double deadline;
	pid_t pid;
	int fd = -1;

	if (argc != 7) {
		fprintf(stderr, "usage: kz-killat HOME PID PEERKEY MIN MAX "
		    "TIMEOUT_S\n");
		return 2;
	}
	pid = (pid_t)atol(argv[2]);
	min = atoll(argv[4]);
	max = atoll(argv[5]);
	deadline = now_s() + atof(argv[6]);
	while (now_s() < deadline) {
		json_t *st, *peers, *p, *row = NULL;
		json_int_t entries;
		size_t i;

		if (fd < 0 && (fd = dial(argv[1])) < 0) {
			nap_ms(5);
			continue;
		}
		if (ask(fd, buf, sizeof(buf)) < 0) {
			close(fd);
			fd = -1;
			nap_ms(5);
			continue;
		}
		if ((st = json_loads(buf, 0, NULL)) == NULL) {
			fprintf(stderr, "kz-killat: not JSON: %.200s\n", buf);
			return 1;
		}
		entries = num(st, "entries");
		peers = json_object_get(st, "peers");
		json_array_foreach(peers, i, p) {
			const char *k = json_string_value(json_object_get(p,
			    "node_key"));

			if (k != NULL && strcmp(k, argv[3]) == 0)
				row = p;
		}
		if (entries >= min && entries < max && row != NULL) {
			int killed = kill(pid, SIGKILL);

			if (killed < 0) {
				perror("kz-killat: kill");
				json_decref(st);
				return 1;
			}
			printf("{\"entries\":%lld,\"bytes_in\":%lld,"
			    "\"bytes_out\":%lld,\"entries_in\":%lld}\n",
			    (long long)entries, (long long)num(row, "bytes_in"),
			    (long long)num(row, "bytes_out"),
			    (long long)num(row, "entries_in"));
			json_decref(st);
			close(fd);
			return 0;
		}
		json_decref(st);
		if (entries >= max) {
			fprintf(stderr, "kz-killat: the store held %lld entries "
			    "(of %lld) at the first answer past %lld: the "
			    "transfer ended first\n", (long long)entries, max,
			    min);
			close(fd);
			return 1;
		}
		nap_ms(2);
	}
	fprintf(stderr, "kz-killat: the store did not reach %lld entries "
	    "within %s s\n", min, argv[6]);
	return 1;
}
