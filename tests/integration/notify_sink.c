/*
 * kz-notify-sink: stands in for systemd's notification socket in the
 * integration tests, so that kizunad's sd_notify() messages (READY=1,
 * STATUS=, WATCHDOG=1, STOPPING=1) can be checked without systemd.
 *
 *   kz-notify-sink PATH TIMEOUT_MS
 *
 * Binds a unix datagram socket at PATH and prints each message it receives
 * to stdout, one "KEY=VALUE" per line, flushed at once.  Exits 0 after a
 * message holding STOPPING=1, or 1 when TIMEOUT_MS pass first.  Removes
 * PATH on exit.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	long long deadline;
	char buf[4096];
	int fd, status = 1;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: kz-notify-sink PATH TIMEOUT_MS\n");
		return 2;
	}
	deadline = now_ms() + atol(argv[2]);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "kz-notify-sink: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;
		int rc;

		if (left <= 0) {
			fprintf(stderr, "kz-notify-sink: no STOPPING=1 in time\n");
			break;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		buf[n] = '\0';
		printf("%s%s", buf, n > 0 && buf[n - 1] == '\n' ? "" : "\n");
		fflush(stdout);
		if (strstr(buf, "STOPPING=1") != NULL) {
			status = 0;
			break;
		}
	}
	close(fd);
	unlink(argv[1]);
	return status;
}
