/*
 * kizuna-ctl: talks raw control protocol (kizuna/control.h) to a running
 * kizunad, for operators debugging a node and for the integration tests.
 *
 *   kizuna-ctl [--home DIR | --socket PATH] [--timeout MS] [REQUEST...]
 *
 * Sends each REQUEST as one line, or, given none, copies standard input to
 * the socket byte for byte (malformed or oversize requests included: this
 * tool checks nothing), then half-closes the connection and prints every
 * byte kizunad answers until it closes its side.  Writing and reading are
 * interleaved with poll(), so a long pipelined input cannot deadlock
 * against the daemon's answers.
 *
 * Exit status: 0 when kizunad closed the connection cleanly after reading
 * everything; 1 when it could not be reached, reset the connection, stopped
 * reading before the end of the input, or did not finish within the
 * timeout; 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kizuna/config.h"
#include "kizuna/err.h"
#include "kizuna/home.h"

#define INPUT_MAX (64u * 1024 * 1024)

static void
usage(FILE *f)
{
	fprintf(f, "usage: kizuna-ctl [--home DIR | --socket PATH] [--timeout MS] "
	    "[REQUEST...]\n\n"
	    "Sends each REQUEST (a JSON object) as one line to kizunad's control\n"
	    "socket, or without any copies standard input there as it is, then\n"
	    "prints kizunad's answers until it closes the connection.  The socket\n"
	    "is --socket, else [control] socket of the node at --home (default as\n"
	    "for kizuna).  Example: kizuna-ctl '{\"cmd\":\"status\"}'\n");
}

/* The control socket of the node at home, as kizunad resolves it. */
static int
socket_of_home(char *out, size_t len, const char *home)
{
	struct kz_config cfg;
	char conf[4096], err[600];
	int rc;

	kz_config_defaults(&cfg);
	if (kz_home_path(conf, sizeof(conf), home, KZ_HOME_CONF) < 0)
		return -1;
	rc = kz_config_load(&cfg, conf, err, sizeof(err));
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND) {
		fprintf(stderr, "kizuna-ctl: %s\n", err);
		return -1;
	}
	if (kz_config_home_path(out, len, home, cfg.control_socket) < 0) {
		fprintf(stderr, "kizuna-ctl: socket path too long\n");
		return -1;
	}
	return 0;
}

/* All of standard input, malloc'd. */
static char *
read_stdin(size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap), *p;
	ssize_t n;

	*len = 0;
	while (buf != NULL) {
		if (*len == cap) {
			if (cap >= INPUT_MAX) {
				fprintf(stderr, "kizuna-ctl: input over %u bytes\n",
				    INPUT_MAX);
				free(buf);
				return NULL;
			}
			if ((p = realloc(buf, cap * 2)) == NULL)
				break;
			buf = p;
			cap *= 2;
		}
		n = read(STDIN_FILENO, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "kizuna-ctl: stdin: %s\n", strerror(errno));
			free(buf);
			return NULL;
		}
		if (n == 0)
			return buf;
		*len += (size_t)n;
	}
	fprintf(stderr, "kizuna-ctl: out of memory\n");
	free(buf);
	return NULL;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes out, reads and prints answers until EOF.  Returns the exit status. */
static int
converse(int fd, const char *out, size_t len, long timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	bool writing = true;
	size_t off = 0;
	char buf[65536];
	int status = 0;

	if (len == 0) {
		shutdown(fd, SHUT_WR);
		writing = false;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;
		int rc;

		if (writing)
			pfd.events |= POLLOUT;
		if (left <= 0) {
			fprintf(stderr, "kizuna-ctl: kizunad did not finish within "
			    "%ld ms\n", timeout_ms);
			return 1;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			fprintf(stderr, "kizuna-ctl: poll: %s\n", strerror(errno));
			return 1;
		}
		if (writing && (pfd.revents & (POLLOUT | POLLERR))) {
			n = send(fd, out + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "kizuna-ctl: kizunad stopped reading "
				    "after %zu of %zu bytes: %s\n", off, len,
				    strerror(errno));
				writing = false;
				status = 1;
			} else if (n > 0 && (off += (size_t)n) == len) {
				shutdown(fd, SHUT_WR);
				writing = false;
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0) {
				fprintf(stderr, "kizuna-ctl: %s\n", strerror(errno));
				return 1;
			}
			if (n == 0) {
				if (writing) {
					fprintf(stderr, "kizuna-ctl: kizunad closed the "
					    "connection after %zu of %zu bytes\n", off, len);
					status = 1;
				}
				return status;
			}
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n ||
			    fflush(stdout) != 0)
				return 1;
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *sock = NULL;
	char path[4096], homebuf[4096], *input = NULL, *end;
	struct sockaddr_un sun;
	long timeout_ms = 10000;
	size_t len = 0, n;
	int ch, fd, i, status;

	while ((ch = getopt_long(argc, argv, "H:s:t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			home = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			errno = 0;
			timeout_ms = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || timeout_ms < 1 ||
			    timeout_ms > 86400000) {
				fprintf(stderr, "kizuna-ctl: --timeout takes 1 to "
				    "86400000 ms\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (sock != NULL && home != NULL) {
		usage(stderr);
		return 2;
	}
	if (sock != NULL) {
		snprintf(path, sizeof(path), "%s", sock);
	} else {
		if (home == NULL) {
			if (kz_home_default(homebuf, sizeof(homebuf)) < 0) {
				fprintf(stderr, "kizuna-ctl: no home folder: use --home "
				    "or --socket\n");
				return 1;
			}
			home = homebuf;
		}
		if (socket_of_home(path, sizeof(path), home) < 0)
			return 1;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "kizuna-ctl: socket path too long: %s\n", path);
		return 1;
	}

	if (optind < argc) {
		for (i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		if ((input = malloc(len)) == NULL)
			return 1;
		for (len = 0, i = optind; i < argc; i++) {
			n = strlen(argv[i]);
			memcpy(input + len, argv[i], n);
			input[len + n] = '\n';
			len += n + 1;
		}
	} else if ((input = read_stdin(&len)) == NULL) {
		return 1;
	}

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "kizuna-ctl: cannot connect to %s: %s\n", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		free(input);
		return 1;
	}
	status = converse(fd, input, len, timeout_ms);
	close(fd);
	free(input);
	return status;
}
