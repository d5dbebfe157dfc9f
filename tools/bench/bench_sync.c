/*
 * kizuna-bench sync: replication between real kizunad processes on
 * 127.0.0.1, as the acceptance of issue 4 measures it.
 *
 * Set-up, all through the kizuna CLI found next to the bench (or --bin):
 * five node homes a..e in a new folder (`kizuna init`); A founds the mesh
 * (`mesh create`), adds three users and a channel; for each other node A
 * makes a token (`mesh invite --address` the previous node's address: a
 * joining node's bootstrap peer is its neighbour in the chain), the node
 * joins with it (`mesh join`) and A admits it (`mesh admit`).  Listen ports
 * are picked by binding port 0 on 127.0.0.1 for a moment.  Each node's
 * config listens on its port, dials only the node before it, and has LAN
 * discovery off.
 *
 * Then, with no daemon running, the bench writes N posts (~200 bytes of
 * Japanese text, by the three users in the channel) straight into A's
 * store with the library, SYNC_GROUP appends per transaction (as a busy
 * node's groups are: the last entry of each group is signed).  op_bytes is
 * the sum of the op bytes of every entry A then holds (setup included), and
 * runs is how many runs A's sender cuts them into (kz_store_read_run with
 * the sync defaults: 1,000 entries or 256 KiB).
 *
 * Phases (every daemon is started by fork/exec and killed by its pid at
 * the end or on any error):
 *
 *   catch-up   A's kizunad starts and answers its control socket; the clock
 *              starts as B's kizunad is spawned and stops when B's status
 *              ("entries", polled every 10 ms) counts every entry of A.
 *              wire_bytes is bytes_in of B's link to A once idle: the whole
 *              session, Noise handshake and framing included.  views_s: from
 *              the same start until B's status shows no views backlog (the
 *              workspace follows a catch-up in batches: kz_views_catch_up).
 *   in sync    B is stopped (SIGTERM), its store checked (it holds A's tip),
 *              and started again; once the new link is open and its byte
 *              counts have not moved for 300 ms, insync_bytes is bytes_in +
 *              bytes_out of B's link minus INSYNC_SUBTRACT = 214 bytes: the
 *              three Noise handshake messages of XXpsk0+psk3 with empty
 *              payloads (48 + 96 + 64 = 208 bytes, as kz_link_stats counts
 *              handshake_bytes) and their three u16 length prefixes (6).
 *              What remains is the encrypted sync session: each side's Hello
 *              (and a Vector or anything else the protocol sends).
 *   live 1 hop S posts, each an append on A's control socket (a post by a
 *              user, the request line written at t0); the bench polls B's
 *              store, opened with the library beside the daemon, every
 *              100 us until the tip of A's feed reaches the seq A answered;
 *              the latency is that moment - t0.  10 ms between posts.
 *   live 4 hop C, D and E start (C dials B, D dials C, E dials D), catch up
 *              along the chain, then S posts on A are timed to E's store.
 *
 * The peak RSS of each daemon is its VmHWM in /proc/PID/status, read before
 * it is stopped.
 */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/home.h"
#include "kizuna/keys.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/util.h"
#include "kizuna/views.h"

#include "bench.h"

#define SYNC_NODES 5		/* a chain A-B-C-D-E */
#define SYNC_GROUP 100		/* appends per transaction when filling A */
#define SYNC_RUN_ENTRIES 1000	/* the sync session's defaults (sync.c) */
#define SYNC_RUN_BYTES (256 * 1024)
#define SYNC_CHANNEL "本部"
/* Noise messages 48 + 96 + 64 bytes, each with a u16 length prefix. */
#define HANDSHAKE_NOISE 208
#define HANDSHAKE_FRAMING (3 * 2)
#define INSYNC_SUBTRACT (HANDSHAKE_NOISE + HANDSHAKE_FRAMING)

#define CATCHUP_POLL_MS 10
#define IDLE_POLL_MS 50
#define IDLE_STABLE 6		/* unchanged polls in a row: idle (300 ms) */
#define LIVE_POLL_US 100
#define LIVE_GAP_MS 10
#define LIVE_TIMEOUT_S 10.0
#define READY_TIMEOUT_S 20.0
#define STOP_TIMEOUT_S 10.0
#define CTL_TIMEOUT_MS 10000
#define CLI_OUT_MAX 8192

/* Targets of the acceptance (reported, not asserted). */
#define TARGET_CATCHUP_PER_S 50000
#define TARGET_WIRE_FACTOR 1.15
#define TARGET_WIRE_PER_RUN 80
#define TARGET_INSYNC_BYTES 200
#define TARGET_P99_1HOP_MS 20.0
#define TARGET_P99_4HOP_MS 60.0

static const char *const users[][2] = {
	{ "sato", "佐藤" }, { "suzuki", "鈴木" }, { "tanaka", "田中" },
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

struct node {
	char name[2];			/* "a" .. "e" */
	char home[PATH_MAX];
	char store[PATH_MAX + 16];
	char sock[PATH_MAX + 16];
	char log[PATH_MAX + 16];	/* kizunad's stderr */
	char key_hex[2 * KZ_PK_BYTES + 1];
	uint8_t key[KZ_PK_BYTES];
	int port;
	pid_t pid;			/* the running kizunad, or 0 */
	int ctl;			/* control connection, or -1 */
	char rbuf[64 * 1024];		/* control answers read, not yet taken */
	size_t rlen;
	long hwm_kib;			/* VmHWM of its kizunad, last read */
};

struct sync_bench {
	char dir[PATH_MAX];
	char cli_log[PATH_MAX + 16];
	char kizuna[PATH_MAX];		/* the CLI */
	char kizunad[PATH_MAX];
	struct node n[SYNC_NODES];
	uint8_t channel[KZ_ID_BYTES];
	uint64_t rng;
	uint64_t posts;			/* N */
	uint64_t a_entries;		/* every entry A holds after filling */
	uint64_t op_bytes;		/* their op bytes */
	uint64_t runs;			/* A's sender cuts them into */
	uint64_t b_target;		/* B's entries once caught up */
	uint64_t missing;		/* entries B lacks at the start */
	double fill_s;
};

/* ------------------------------------------------------------ processes */

/* Daemons to kill should the bench itself be killed. */
static volatile sig_atomic_t live_pids[SYNC_NODES];

static void
on_fatal_signal(int sig)
{
	size_t i;

	for (i = 0; i < SYNC_NODES; i++)
		if (live_pids[i] > 0)
			kill((pid_t)live_pids[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Starts path with argv: stdin /dev/null, stdout to out_fd (or errpath
 * when -1), stderr appended to errpath.  Returns the pid or -1.
 */
static pid_t
spawn(const char *path, char *const argv[], int out_fd, const char *errpath)
{
	pid_t pid = fork();

	if (pid < 0) {
		warn("fork");
		return -1;
	}
	if (pid == 0) {
		int e = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int nul = open("/dev/null", O_RDWR);

		if (e < 0 || nul < 0)
			_exit(126);
		dup2(nul, STDIN_FILENO);
		dup2(out_fd >= 0 ? out_fd : e, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		execv(path, argv);
		dprintf(STDERR_FILENO, "%s: exec %s: %s\n", progname, path,
		    strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Prints the last lines of a log file to stderr. */
static void
show_tail(const char *path, size_t lines)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long size, start;
	size_t n, i, seen = 0;

	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
		fclose(f);
		return;
	}
	start = size > 16384 ? size - 16384 : 0;
	if ((buf = malloc((size_t)(size - start) + 1)) == NULL ||
	    fseek(f, start, SEEK_SET) != 0) {
		free(buf);
		fclose(f);
		return;
	}
	n = fread(buf, 1, (size_t)(size - start), f);
	buf[n] = '\0';
	fclose(f);
	for (i = n; i > 0; i--)
		if (buf[i - 1] == '\n' && i < n && ++seen > lines)
			break;
	fprintf(stderr, "%s: --- the end of %s:\n%s", progname, path, buf + i);
	if (n > 0 && buf[n - 1] != '\n')
		fputc('\n', stderr);
	free(buf);
}

/* Waits for pid up to secs; returns its wait status, or -1 if still running. */
static int
wait_for(pid_t pid, double secs)
{
	double end = mono_s() + secs;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return 0;
		if (mono_s() > end)
			return -1;
		sleep_us(5000);
	}
}

/*
 * Runs the CLI on node n: kizuna --home HOME args... (NULL-terminated),
 * its stdout into out (NUL-terminated, may be NULL), its stderr appended to
 * the bench's cli.log.  Returns 0 if it exited 0.
 */
static int
run_cli(struct sync_bench *b, struct node *n, char *out, size_t outcap, ...)
{
	char *argv[24];
	char dump[512];
	size_t argc = 0, len = 0;
	va_list ap;
	const char *a;
	int fds[2], status;
	pid_t pid;
	ssize_t r;

	argv[argc++] = b->kizuna;
	argv[argc++] = "--home";
	argv[argc++] = n->home;
	va_start(ap, outcap);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 23)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	if (pipe(fds) < 0) {
		warn("pipe");
		return -1;
	}
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	pid = spawn(b->kizuna, argv, fds[1], b->cli_log);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	for (;;) {
		char *p = out != NULL && len + 1 < outcap ? out + len : dump;
		size_t room = out != NULL && len + 1 < outcap ? outcap - 1 - len :
		    sizeof(dump);

		r = read(fds[0], p, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (p != dump)
			len += (size_t)r;
	}
	close(fds[0]);
	if (out != NULL)
		out[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char cmd[512];
		size_t i, k = 0;

		for (i = 3; argv[i] != NULL && k < sizeof(cmd) - 1; i++)
			k += (size_t)snprintf(cmd + k, sizeof(cmd) - k, " %.40s",
			    argv[i]);
		warnx("node %s: kizuna%s: failed (%s %d)", n->name, cmd,
		    WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		show_tail(b->cli_log, 10);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ control socket */

static void
ctl_close(struct node *n)
{
	if (n->ctl >= 0)
		close(n->ctl);
	n->ctl = -1;
	n->rlen = 0;
}

static int
ctl_connect(struct node *n)
{
	struct sockaddr_un sun;
	int fd;

	if (n->ctl >= 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(n->sock) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, n->sock, strlen(n->sock) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	n->ctl = fd;
	n->rlen = 0;
	return 0;
}

/*
 * Sends one request line to n's kizunad and reads its one-line answer.
 * Returns the parsed answer, or NULL (quietly unless loud) after closing
 * the connection when kizunad cannot be reached or does not answer.
 */
static json_t *
ctl_call(struct node *n, const char *req, bool loud)
{
	size_t len = strlen(req), off = 0;
	double end = mono_s() + CTL_TIMEOUT_MS / 1000.0;
	char *nl;
	json_t *o;
	json_error_t jerr;

	if (ctl_connect(n) < 0) {
		if (loud)
			warn("node %s: connect to %s", n->name, n->sock);
		return NULL;
	}
	while (off < len + 1) {
		ssize_t w = off < len ?
		    send(n->ctl, req + off, len - off, MSG_NOSIGNAL) :
		    send(n->ctl, "\n", 1, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			if (loud)
				warn("node %s: control socket", n->name);
			ctl_close(n);
			return NULL;
		}
		off += (size_t)w;
	}
	while ((nl = memchr(n->rbuf, '\n', n->rlen)) == NULL) {
		struct pollfd pfd = { .fd = n->ctl, .events = POLLIN };
		double left = end - mono_s();
		ssize_t r;

		if (n->rlen == sizeof(n->rbuf) || left <= 0) {
			if (loud)
				warnx("node %s: no answer to %.40s", n->name, req);
			ctl_close(n);
			return NULL;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR) {
			ctl_close(n);
			return NULL;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = recv(n->ctl, n->rbuf + n->rlen, sizeof(n->rbuf) - n->rlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (loud)
				warnx("node %s: kizunad closed the control "
				    "connection", n->name);
			ctl_close(n);
			return NULL;
		}
		n->rlen += (size_t)r;
	}
	o = json_loadb(n->rbuf, (size_t)(nl - n->rbuf), 0, &jerr);
	n->rlen -= (size_t)(nl + 1 - n->rbuf);
	memmove(n->rbuf, nl + 1, n->rlen);
	if (o == NULL || !json_is_true(json_object_get(o, "ok"))) {
		if (loud) {
			char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

			warnx("node %s: %.40s: %s", n->name, req,
			    t != NULL ? t : jerr.text);
			free(t);
		}
		json_decref(o);
		return NULL;
	}
	return o;
}

static uint64_t
json_u64(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ?
	    (uint64_t)json_integer_value(v) : 0;
}

struct link_seen {
	bool found;
	bool open;
	uint64_t bytes_in, bytes_out, entries_in, entries_out;
};

/* The link to the node whose key is hex in a status answer. */
static void
link_of(const json_t *status, const char *hex, struct link_seen *ls)
{
	json_t *peers = json_object_get(status, "peers"), *p;
	size_t i;

	memset(ls, 0, sizeof(*ls));
	json_array_foreach(peers, i, p) {
		json_t *k = json_object_get(p, "node_key");
		json_t *st = json_object_get(p, "state");

		if (!json_is_string(k) || strcmp(json_string_value(k), hex) != 0)
			continue;
		/* A closed link of an earlier session may still be listed. */
		if (ls->found && ls->open)
			continue;
		ls->found = true;
		ls->open = json_is_string(st) &&
		    strcmp(json_string_value(st), "open") == 0;
		ls->bytes_in = json_u64(p, "bytes_in");
		ls->bytes_out = json_u64(p, "bytes_out");
		ls->entries_in = json_u64(p, "entries_in");
		ls->entries_out = json_u64(p, "entries_out");
	}
}

/* ------------------------------------------------------------ daemons */

static long
vm_hwm_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

static int
daemon_start(struct sync_bench *b, struct node *n)
{
	char *argv[] = { b->kizunad, "--home", n->home, NULL };
	size_t i = (size_t)(n - b->n);

	n->pid = spawn(b->kizunad, argv, -1, n->log);
	if (n->pid < 0) {
		n->pid = 0;
		return -1;
	}
	live_pids[i] = (sig_atomic_t)n->pid;
	return 0;
}

/* Whether n's kizunad has exited (then reported, with its log's end). */
static bool
daemon_died(struct sync_bench *b, struct node *n)
{
	int status;
	pid_t r;

	if (n->pid <= 0)
		return true;
	r = waitpid(n->pid, &status, WNOHANG);
	if (r != n->pid)
		return false;
	warnx("node %s: kizunad (pid %ld) exited unexpectedly (%s %d)", n->name,
	    (long)n->pid, WIFEXITED(status) ? "exit" : "signal",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	show_tail(n->log, 15);
	live_pids[n - b->n] = 0;
	n->pid = 0;
	ctl_close(n);
	return true;
}

/*
 * Stops n's kizunad: SIGTERM, then SIGKILL after STOP_TIMEOUT_S.  Its
 * VmHWM is read first.  Returns 0 if it exited 0 on SIGTERM.
 */
static int
daemon_stop(struct sync_bench *b, struct node *n)
{
	int status, rc = 0;
	long kib;

	ctl_close(n);
	if (n->pid <= 0)
		return 0;
	if ((kib = vm_hwm_kib(n->pid)) > 0)
		n->hwm_kib = kib;
	kill(n->pid, SIGTERM);
	if ((status = wait_for(n->pid, STOP_TIMEOUT_S)) < 0) {
		warnx("node %s: kizunad did not stop within %.0f s: killed",
		    n->name, STOP_TIMEOUT_S);
		kill(n->pid, SIGKILL);
		while (waitpid(n->pid, &status, 0) < 0 && errno == EINTR)
			;
		rc = -1;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		warnx("node %s: kizunad exited with %s %d", n->name,
		    WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		rc = -1;
	}
	live_pids[n - b->n] = 0;
	n->pid = 0;
	return rc;
}

/* Kills every daemon still running (errors and the end). */
static void
daemons_kill(struct sync_bench *b)
{
	size_t i;

	for (i = 0; i < SYNC_NODES; i++) {
		struct node *n = &b->n[i];

		ctl_close(n);
		if (n->pid <= 0)
			continue;
		kill(n->pid, SIGKILL);
		while (waitpid(n->pid, NULL, 0) < 0 && errno == EINTR)
			;
		live_pids[i] = 0;
		n->pid = 0;
	}
}

/* Waits until n's kizunad answers its control socket and listens on its port. */
static int
daemon_ready(struct sync_bench *b, struct node *n)
{
	double end = mono_s() + READY_TIMEOUT_S;
	json_t *st;

	for (;;) {
		if (daemon_died(b, n))
			return -1;
		if ((st = ctl_call(n, "{\"cmd\":\"status\"}", false)) != NULL) {
			json_int_t port = json_integer_value(
			    json_object_get(st, "listen_port"));

			json_decref(st);
			if (port == n->port)
				return 0;
			warnx("node %s: listens on port %lld, not %d", n->name,
			    (long long)port, n->port);
			return -1;
		}
		if (mono_s() > end) {
			warnx("node %s: kizunad not ready within %.0f s", n->name,
			    READY_TIMEOUT_S);
			show_tail(n->log, 15);
			return -1;
		}
		sleep_us(5000);
	}
}

/*
 * Polls n's status every 10 ms until its views' backlog is empty (every
 * entry it stored shows in its workspace); *at is mono_s() then.
 */
static int
wait_views(struct sync_bench *b, struct node *n, double timeout_s, double *at)
{
	double end = mono_s() + timeout_s;
	uint64_t left = 0;

	for (;;) {
		json_t *st = ctl_call(n, "{\"cmd\":\"status\"}", false);

		if (st != NULL) {
			left = json_u64(st, "views_backlog");
			json_decref(st);
			if (left == 0) {
				*at = mono_s();
				return 0;
			}
		}
		if (n->pid > 0 && daemon_died(b, n))
			return -1;
		if (mono_s() > end) {
			warnx("node %s: %llu entries still wait for its views after "
			    "%.0f s", n->name, (unsigned long long)left, timeout_s);
			return -1;
		}
		sleep_us(10000);
	}
}

/*
 * Polls n's status every poll_ms until it counts at least target entries;
 * *at is mono_s() then.  The daemons in watch are checked to be alive.
 */
static int
wait_entries(struct sync_bench *b, struct node *n, uint64_t target,
    double timeout_s, long poll_ms, double *at)
{
	double start = mono_s(), end = start + timeout_s, next_note = start + 5;
	uint64_t have = 0;
	size_t i;

	for (;;) {
		json_t *st = ctl_call(n, "{\"cmd\":\"status\"}", false);
		double now;

		if (st != NULL) {
			have = json_u64(st, "entries");
			json_decref(st);
			if (have >= target) {
				*at = mono_s();
				return 0;
			}
		}
		for (i = 0; i < SYNC_NODES; i++)
			if (b->n[i].pid > 0 && daemon_died(b, &b->n[i]))
				return -1;
		now = mono_s();
		if (now > end) {
			warnx("node %s holds %llu of %llu entries after %.0f s",
			    n->name, (unsigned long long)have,
			    (unsigned long long)target, timeout_s);
			show_tail(n->log, 15);
			return -1;
		}
		if (now > next_note) {
			fprintf(stderr, "%s: sync: node %s holds %llu of %llu "
			    "entries (%.1f s)\n", progname, n->name,
			    (unsigned long long)have, (unsigned long long)target,
			    now - start);
			next_note = now + 5;
		}
		sleep_us(poll_ms * 1000);
	}
}

/*
 * Polls n's status until its link to peer is open and its byte counts have
 * not moved for IDLE_STABLE polls; *ls is that link then.
 */
static int
wait_link_idle(struct sync_bench *b, struct node *n, const struct node *peer,
    double timeout_s, struct link_seen *ls)
{
	double end = mono_s() + timeout_s;
	struct link_seen prev;
	int stable = 0;

	memset(&prev, 0, sizeof(prev));
	for (;;) {
		json_t *st = ctl_call(n, "{\"cmd\":\"status\"}", false);

		if (st != NULL) {
			link_of(st, peer->key_hex, ls);
			json_decref(st);
			if (ls->open && prev.open &&
			    ls->bytes_in == prev.bytes_in &&
			    ls->bytes_out == prev.bytes_out) {
				if (++stable >= IDLE_STABLE)
					return 0;
			} else {
				stable = 0;
			}
			prev = *ls;
		}
		if (daemon_died(b, n) || daemon_died(b, (struct node *)peer))
			return -1;
		if (mono_s() > end) {
			warnx("node %s: the link to %s is not open and idle "
			    "within %.0f s", n->name, peer->name, timeout_s);
			show_tail(n->log, 15);
			return -1;
		}
		sleep_us(IDLE_POLL_MS * 1000);
	}
}

/* ------------------------------------------------------------ set-up */

/* Picks k distinct free TCP ports on 127.0.0.1 (bound to port 0 for a moment). */
static int
pick_ports(struct node *n, size_t k)
{
	int fds[SYNC_NODES];
	size_t i, made = 0;
	int rc = -1;

	for (i = 0; i < k; i++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
			warn("socket");
			goto out;
		}
		made++;
		if (bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    getsockname(fds[i], (struct sockaddr *)&sin, &len) < 0) {
			warn("bind 127.0.0.1:0");
			goto out;
		}
		n[i].port = ntohs(sin.sin_port);
	}
	rc = 0;
out:
	for (i = 0; i < made; i++)
		close(fds[i]);
	return rc;
}

/* The folder the bench runs from (where kizuna and kizunad are built). */
static int
own_folder(char *out, size_t len)
{
	char path[PATH_MAX];
	ssize_t r = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (r > 0) {
		path[r] = '\0';
	} else if (strchr(bench_argv0, '/') != NULL &&
	    strlen(bench_argv0) < sizeof(path)) {
		memcpy(path, bench_argv0, strlen(bench_argv0) + 1);
	} else {
		snprintf(out, len, ".");
		return 0;
	}
	if ((slash = strrchr(path, '/')) == NULL)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(out, len, "%s", path[0] ? path : "/") >= len)
		return -1;
	return 0;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		warn("write %s", path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	return 0;
}

/* The node's config: listen on its port, dial only prev, no discovery. */
static int
write_config(struct node *n, const struct node *prev)
{
	char path[PATH_MAX + 32], text[1024], peers[64] = "";

	if (prev != NULL)
		snprintf(peers, sizeof(peers), "127.0.0.1:%d", prev->port);
	snprintf(text, sizeof(text),
	    "# kizuna-bench sync: node %s\n"
	    "[node]\nname = %s\n"
	    "[log]\nlevel = info\n"
	    "[net]\nlisten = 127.0.0.1:%d\npeers = %s\n"
	    "discovery = false\nreconnect_max_s = 2\n"
	    "[http]\nlisten =\n",
	    n->name, n->name, n->port, peers);
	snprintf(path, sizeof(path), "%s/%s", n->home, KZ_HOME_CONF);
	return write_file(path, text);
}

/* Homes, keys, the mesh with every node admitted, the configs. */
static int
setup_mesh(struct sync_bench *b)
{
	char out[CLI_OUT_MAX], addr[64], name[8];
	struct node *a = &b->n[0];
	json_error_t jerr;
	json_t *o;
	size_t i;

	if (pick_ports(b->n, SYNC_NODES) < 0)
		return -1;
	for (i = 0; i < SYNC_NODES; i++) {
		struct node *n = &b->n[i];
		const char *hex;

		if (run_cli(b, n, out, sizeof(out), "--json", "init", NULL) < 0)
			return -1;
		o = json_loads(out, 0, &jerr);
		hex = json_string_value(json_object_get(o, "node_key"));
		if (hex == NULL || strlen(hex) != 2 * KZ_PK_BYTES ||
		    kz_unhex(n->key, KZ_PK_BYTES, hex) < 0) {
			warnx("node %s: init printed no node key: %s", n->name,
			    out);
			json_decref(o);
			return -1;
		}
		memcpy(n->key_hex, hex, sizeof(n->key_hex));
		json_decref(o);
	}
	if (run_cli(b, a, NULL, 0, "mesh", "create", "--name", "ベンチ市",
	    NULL) < 0)
		return -1;
	for (i = 0; i < N_USERS; i++)
		if (run_cli(b, a, NULL, 0, "user", "add", "--name", users[i][1],
		    users[i][0], NULL) < 0)
			return -1;
	if (run_cli(b, a, NULL, 0, "channel", "create", SYNC_CHANNEL, NULL) < 0)
		return -1;
	for (i = 1; i < SYNC_NODES; i++) {
		struct node *n = &b->n[i];
		const char *tok;

		/* The token's bootstrap address: the neighbour it dials. */
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", b->n[i - 1].port);
		if (run_cli(b, a, out, sizeof(out), "--json", "mesh", "invite",
		    "--address", addr, NULL) < 0)
			return -1;
		o = json_loads(out, 0, &jerr);
		if ((tok = json_string_value(json_object_get(o, "token"))) == NULL) {
			warnx("mesh invite printed no token");
			json_decref(o);
			return -1;
		}
		if (run_cli(b, n, NULL, 0, "mesh", "join", tok, NULL) < 0) {
			json_decref(o);
			return -1;
		}
		json_decref(o);
		snprintf(name, sizeof(name), "%s", n->name);
		if (run_cli(b, a, NULL, 0, "mesh", "admit", "--name", name,
		    n->key_hex, NULL) < 0)
			return -1;
	}
	for (i = 0; i < SYNC_NODES; i++)
		if (write_config(&b->n[i], i > 0 ? &b->n[i - 1] : NULL) < 0)
			return -1;
	return 0;
}

/* A post by one of the users in the channel, encoded (caller frees). */
static int
gen_post(struct sync_bench *b, uint64_t i, uint8_t **op, size_t *len)
{
	char text[TEXT_CAP];
	struct kz_op o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.type = KZ_OP_POST;
	o.actor = users[i % N_USERS][0];
	o.u.post.channel = b->channel;
	o.u.post.text = text;
	o.u.post.priority = KZ_PRIO_NORMAL;
	gen_text(text, &b->rng);
	if ((rc = kz_op_encode(op, len, &o)) < 0)
		report_err("encode a post", rc);
	return rc;
}

static int
sum_op_bytes(void *ctx, const struct kz_entry_view *e)
{
	*(uint64_t *)ctx += e->op_len;
	return 0;
}

struct feed_list {
	struct kz_feed_info f[64];
	size_t n;
};

static int
collect_feed(void *ctx, const struct kz_feed_info *f)
{
	struct feed_list *l = ctx;

	if (l->n == sizeof(l->f) / sizeof(l->f[0]))
		return KZ_ERR_TOO_BIG;
	l->f[l->n++] = *f;
	return 0;
}

/* The runs A's sender cuts its feeds into, from seq 1. */
static int
count_runs(struct kz_store *st, const struct feed_list *fl, uint64_t *runs)
{
	size_t i;
	int rc;

	*runs = 0;
	for (i = 0; i < fl->n; i++) {
		uint64_t from = 1;

		while (from <= fl->f[i].tip) {
			struct kz_run *run = NULL;

			rc = kz_store_read_run(st, fl->f[i].key, from,
			    SYNC_RUN_ENTRIES, SYNC_RUN_BYTES, &run);
			if (rc < 0) {
				report_err("read a run of A", rc);
				return rc;
			}
			from = run->first_seq + run->n;
			kz_run_free(run);
			(*runs)++;
		}
	}
	return 0;
}

/*
 * Writes the N posts into A's store (no daemon running), then measures
 * what B will need: A's entries, their op bytes and runs, and what B lacks.
 */
static int
fill_a(struct sync_bench *b)
{
	struct node *a = &b->n[0], *bn = &b->n[1];
	struct kz_store *st = NULL, *sb = NULL;
	struct kz_store_stats stats;
	struct kz_keypair kp;
	struct feed_list fl;
	uint8_t *ops[SYNC_GROUP] = { NULL };
	size_t lens[SYNC_GROUP], i, k;
	uint64_t done = 0;
	double t0;
	int rc;

	memset(&kp, 0, sizeof(kp));
	memset(&fl, 0, sizeof(fl));
	if ((rc = kz_home_load_key(a->home, &kp)) < 0) {
		report_err("load A's key", rc);
		goto out;
	}
	if ((rc = kz_store_open(&st, a->store, &bench_log)) < 0) {
		report_err("open A's store", rc);
		goto out;
	}
	if ((rc = kz_views_channel_find(st, SYNC_CHANNEL, b->channel)) < 0) {
		report_err("find the channel on A", rc);
		goto out;
	}
	t0 = mono_s();
	while (done < b->posts) {
		k = b->posts - done < SYNC_GROUP ? (size_t)(b->posts - done) :
		    SYNC_GROUP;
		for (i = 0; i < k; i++)
			if ((rc = gen_post(b, done + i, &ops[i], &lens[i])) < 0)
				goto out;
		if ((rc = kz_store_begin(st)) < 0) {
			report_err("begin", rc);
			goto out;
		}
		for (i = 0; i < k; i++) {
			rc = kz_store_append(st, &kp, wall_ms(), ops[i], lens[i],
			    NULL);
			if (rc < 0) {
				kz_store_rollback(st);
				report_err("append in a group", rc);
				goto out;
			}
		}
		if ((rc = kz_store_commit(st)) < 0) {
			report_err("commit", rc);
			goto out;
		}
		for (i = 0; i < k; i++) {
			free(ops[i]);
			ops[i] = NULL;
		}
		done += k;
		if (done % 20000 == 0)
			fprintf(stderr, "%s: sync: A holds %llu posts (%.1f s)\n",
			    progname, (unsigned long long)done, mono_s() - t0);
	}
	b->fill_s = mono_s() - t0;

	if ((rc = kz_store_stats(st, &stats)) < 0 ||
	    (rc = kz_store_log(st, sum_op_bytes, &b->op_bytes)) < 0 ||
	    (rc = kz_store_feeds(st, collect_feed, &fl)) < 0) {
		report_err("read A's store", rc);
		goto out;
	}
	b->a_entries = stats.entries;
	if ((rc = count_runs(st, &fl, &b->runs)) < 0)
		goto out;

	/* B's own entries, plus what it lacks of A's feeds. */
	if ((rc = kz_store_open(&sb, bn->store, &bench_log)) < 0 ||
	    (rc = kz_store_stats(sb, &stats)) < 0) {
		report_err("read B's store", rc);
		goto out;
	}
	b->missing = 0;
	for (i = 0; i < fl.n; i++) {
		uint64_t tip = 0;

		if ((rc = kz_store_tip(sb, fl.f[i].key, &tip, NULL)) < 0) {
			report_err("read B's store", rc);
			goto out;
		}
		b->missing += fl.f[i].tip > tip ? fl.f[i].tip - tip : 0;
	}
	b->b_target = stats.entries + b->missing;
	rc = 0;
out:
	for (i = 0; i < SYNC_GROUP; i++)
		free(ops[i]);
	kz_store_free(sb);
	kz_store_free(st);
	kz_keypair_wipe(&kp);
	return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ live */

/*
 * samples posts appended on src's kizunad, each timed until dst's store
 * (opened beside its kizunad) holds it; ms[] gets the latencies.
 */
static int
live_posts(struct sync_bench *b, struct node *src, struct node *dst,
    size_t samples, double *ms)
{
	struct kz_store *st = NULL;
	char *req = NULL, *b64 = NULL;
	size_t i, b64cap = sodium_base64_ENCODED_LEN(KZ_OP_MAX,
	    sodium_base64_VARIANT_ORIGINAL);
	int rc = -1;

	if ((req = malloc(b64cap + 64)) == NULL ||
	    (b64 = malloc(b64cap)) == NULL) {
		warnx("out of memory");
		goto out;
	}
	if ((rc = kz_store_open(&st, dst->store, &bench_log)) < 0) {
		report_err("open the destination's store beside its kizunad", rc);
		rc = -1;
		goto out;
	}
	for (i = 0; i < samples; i++) {
		uint8_t *op = NULL;
		size_t len;
		uint64_t seq, tip = 0;
		double t0, end;
		json_t *ans;

		if (gen_post(b, i, &op, &len) < 0)
			goto fail;
		sodium_bin2base64(b64, b64cap, op, len,
		    sodium_base64_VARIANT_ORIGINAL);
		free(op);
		snprintf(req, b64cap + 64, "{\"cmd\":\"append\",\"op\":\"%s\"}",
		    b64);
		t0 = mono_s();
		if ((ans = ctl_call(src, req, true)) == NULL)
			goto fail;
		seq = json_u64(ans, "seq");
		json_decref(ans);
		end = t0 + LIVE_TIMEOUT_S;
		for (;;) {
			int trc = kz_store_tip(st, src->key, &tip, NULL);

			if (trc < 0) {
				report_err("read the destination's tip", trc);
				goto fail;
			}
			if (tip >= seq)
				break;
			if (mono_s() > end) {
				warnx("live post %zu (seq %llu) from %s not on %s "
				    "within %.0f s (it holds %llu)", i,
				    (unsigned long long)seq, src->name, dst->name,
				    LIVE_TIMEOUT_S, (unsigned long long)tip);
				show_tail(dst->log, 10);
				goto fail;
			}
			sleep_us(LIVE_POLL_US);
		}
		ms[i] = (mono_s() - t0) * 1000.0;
		sleep_us(LIVE_GAP_MS * 1000);
	}
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	kz_store_free(st);
	free(req);
	free(b64);
	return rc;
}

struct live_result {
	double p50, p99, max;
};

static void
live_summary(double *ms, size_t n, struct live_result *r)
{
	qsort(ms, n, sizeof(ms[0]), cmp_double);
	r->p50 = percentile(ms, n, 500);
	r->p99 = percentile(ms, n, 990);
	r->max = ms[n - 1];
}

/* ------------------------------------------------------------ cleanup */

static void
rm_tree(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &sb) < 0)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		if (unlink(path) < 0)
			warn("remove %s", path);
		return;
	}
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char child[PATH_MAX];

			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(child, sizeof(child), "%s/%s", path,
			    e->d_name) < sizeof(child))
				rm_tree(child);
		}
		closedir(d);
	}
	if (rmdir(path) < 0)
		warn("remove %s", path);
}

/* Checks with the library that n's store holds A's feed up to A's tip. */
static int
check_tip(struct node *n, const struct node *a, uint64_t want)
{
	struct kz_store *st = NULL;
	uint64_t tip = 0;
	int rc;

	if ((rc = kz_store_open(&st, n->store, &bench_log)) == 0)
		rc = kz_store_tip(st, a->key, &tip, NULL);
	kz_store_free(st);
	if (rc < 0) {
		report_err("read a stopped node's store", rc);
		return -1;
	}
	if (tip != want) {
		warnx("node %s holds A's feed up to seq %llu, not %llu", n->name,
		    (unsigned long long)tip, (unsigned long long)want);
		return -1;
	}
	return 0;
}

static int
a_tip_now(struct node *a, uint64_t *tip)
{
	json_t *st = ctl_call(a, "{\"cmd\":\"status\"}", true);

	if (st == NULL)
		return -1;
	*tip = json_u64(st, "feed_length");
	json_decref(st);
	return 0;
}

/* ------------------------------------------------------------ the bench */

int
bench_sync(int argc, char **argv)
{
	struct sync_bench *b = NULL;
	struct node *a, *bn, *e;
	struct link_seen ls, ls_insync;
	struct live_result l1, l4;
	struct sigaction sa, old_int, old_term, old_hup;
	const char *parent = NULL, *bin = NULL, *v;
	uint64_t live = SYNC_DEFAULT_LIVE, tip_a = 0, chain_target = 0;
	uint64_t insync_raw = 0, insync = 0, wire_in = 0, wire_out = 0;
	double t_start, t0, t1, catchup_s, chain_s = 0, *ms = NULL;
	double t_views = 0, views_s = 0;
	double budget;
	long hwm_b_catchup = -1, hwm_chain = -1;
	bool keep = false, have_dir = false, missing = false, sigs = false;
	json_t *js = NULL, *tg = NULL;
	char binbuf[PATH_MAX];
	int i, status = 1;
	size_t k;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		warnx("out of memory");
		return 1;
	}
	b->posts = SYNC_DEFAULT_ENTRIES;
	b->rng = 7;
	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--entries", &missing)) != NULL) {
			if (parse_count(v, 1, 10000000, &b->posts) < 0) {
				warnx("--entries: not a count from 1 to "
				    "10000000: %s", v);
				goto usage;
			}
		} else if ((v = opt_value(argc, argv, &i, "--live-samples",
		    &missing)) != NULL) {
			if (parse_count(v, 1, 100000, &live) < 0) {
				warnx("--live-samples: not a count from 1 to "
				    "100000: %s", v);
				goto usage;
			}
		} else if ((v = opt_value(argc, argv, &i, "--dir", &missing)) != NULL) {
			parent = v;
		} else if ((v = opt_value(argc, argv, &i, "--bin", &missing)) != NULL) {
			bin = v;
		} else if (!missing && strcmp(argv[i], "--keep") == 0) {
			keep = true;
		} else {
			if (missing)
				warnx("%s needs a value", argv[i]);
			else if (strcmp(argv[i], "--help") != 0 &&
			    strcmp(argv[i], "-h") != 0)
				warnx("sync: unknown option %s", argv[i]);
			goto usage;
		}
	}

	if (bin == NULL) {
		if (own_folder(binbuf, sizeof(binbuf)) < 0) {
			warnx("cannot tell which folder the bench runs from; "
			    "give --bin DIR");
			goto out;
		}
		bin = binbuf;
	}
	if ((size_t)snprintf(b->kizuna, sizeof(b->kizuna), "%s/kizuna", bin) >=
	    sizeof(b->kizuna) ||
	    (size_t)snprintf(b->kizunad, sizeof(b->kizunad), "%s/kizunad",
	    bin) >= sizeof(b->kizunad) ||
	    access(b->kizuna, X_OK) < 0 || access(b->kizunad, X_OK) < 0) {
		warnx("no kizuna and kizunad programs in %s (build them, or "
		    "give --bin DIR)", bin);
		goto out;
	}
	if ((ms = calloc(live, sizeof(*ms))) == NULL) {
		warnx("out of memory");
		goto out;
	}

	if (parent == NULL || *parent == '\0')
		parent = getenv("TMPDIR");
	if (parent == NULL || *parent == '\0')
		parent = "/tmp";
	if ((size_t)snprintf(b->dir, sizeof(b->dir), "%s/kizuna-bench.XXXXXX",
	    parent) >= sizeof(b->dir) - 64) {
		warnx("folder name too long: %s", parent);
		goto out;
	}
	if (mkdtemp(b->dir) == NULL) {
		warn("create a folder in %s", parent);
		goto out;
	}
	have_dir = true;
	snprintf(b->cli_log, sizeof(b->cli_log), "%s/cli.log", b->dir);
	for (k = 0; k < SYNC_NODES; k++) {
		struct node *n = &b->n[k];
		char home[sizeof(n->home)];

		n->name[0] = (char)('a' + k);
		n->ctl = -1;
		n->hwm_kib = -1;
		/* A copy of the home: GCC's -Wrestrict cannot tell that
		 * n->home and the fields written do not overlap. */
		if ((size_t)snprintf(home, sizeof(home), "%s/%s", b->dir,
		    n->name) >= sizeof(home) ||
		    (memcpy(n->home, home, sizeof(n->home)), false) ||
		    (size_t)snprintf(n->store, sizeof(n->store), "%s/%s", home,
		    KZ_HOME_DB) >= sizeof(n->store) ||
		    (size_t)snprintf(n->sock, sizeof(n->sock), "%s/control.sock",
		    home) >= sizeof(n->sock) ||
		    (size_t)snprintf(n->log, sizeof(n->log), "%s/kizunad.log",
		    home) >= sizeof(n->log) ||
		    strlen(n->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			warnx("%s: too long for a control socket path; give a "
			    "shorter --dir", n->sock);
			goto out;
		}
	}
	a = &b->n[0];
	bn = &b->n[1];
	e = &b->n[SYNC_NODES - 1];

	/* Should the bench be killed, its daemons go with it. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	sigs = true;

	t_start = mono_s();
	if (setup_mesh(b) < 0)
		goto out;
	fprintf(stderr, "%s: sync: mesh of %d nodes set up in %.1f s; writing "
	    "%llu posts into A's store\n", progname, SYNC_NODES,
	    mono_s() - t_start, (unsigned long long)b->posts);
	if (fill_a(b) < 0)
		goto out;
	fprintf(stderr, "%s: sync: A holds %llu entries (%llu op bytes, %llu "
	    "runs) after %.1f s; B lacks %llu\n", progname,
	    (unsigned long long)b->a_entries, (unsigned long long)b->op_bytes,
	    (unsigned long long)b->runs, b->fill_s,
	    (unsigned long long)b->missing);

	/* ---------------------------------------------------- catch-up */
	if (daemon_start(b, a) < 0 || daemon_ready(b, a) < 0)
		goto out;
	t0 = mono_s();
	if (daemon_start(b, bn) < 0)
		goto out;
	if (wait_entries(b, bn, b->b_target, 120.0 + (double)b->missing / 500.0,
	    CATCHUP_POLL_MS, &t1) < 0)
		goto out;
	catchup_s = t1 - t0;
	if (wait_link_idle(b, bn, a, 60.0, &ls) < 0)
		goto out;
	wire_in = ls.bytes_in;
	wire_out = ls.bytes_out;
	if (ls.entries_in != b->missing)
		warnx("B's link counts %llu entries in; B lacked %llu",
		    (unsigned long long)ls.entries_in,
		    (unsigned long long)b->missing);
	fprintf(stderr, "%s: sync: B caught up in %.3f s (%llu bytes in, %llu "
	    "out)\n", progname, catchup_s, (unsigned long long)wire_in,
	    (unsigned long long)wire_out);
	if (wait_views(b, bn, 120.0 + (double)b->missing / 500.0, &t_views) < 0)
		goto out;
	views_s = t_views - t0;
	fprintf(stderr, "%s: sync: B's workspace shows every entry %.3f s after "
	    "the catch-up began\n", progname, views_s);

	/* ---------------------------------------------------- in sync */
	if (a_tip_now(a, &tip_a) < 0)
		goto out;
	if (daemon_stop(b, bn) < 0)
		goto out;
	hwm_b_catchup = bn->hwm_kib;
	if (check_tip(bn, a, tip_a) < 0)
		goto out;
	if (daemon_start(b, bn) < 0 || daemon_ready(b, bn) < 0 ||
	    wait_link_idle(b, bn, a, 30.0, &ls_insync) < 0)
		goto out;
	insync_raw = ls_insync.bytes_in + ls_insync.bytes_out;
	insync = insync_raw > INSYNC_SUBTRACT ? insync_raw - INSYNC_SUBTRACT : 0;
	fprintf(stderr, "%s: sync: in-sync reconnect: %llu bytes in, %llu out "
	    "(%llu after the handshake)\n", progname,
	    (unsigned long long)ls_insync.bytes_in,
	    (unsigned long long)ls_insync.bytes_out, (unsigned long long)insync);

	/* ---------------------------------------------------- live, 1 hop */
	if (live_posts(b, a, bn, live, ms) < 0)
		goto out;
	live_summary(ms, live, &l1);
	fprintf(stderr, "%s: sync: live 1 hop: p50 %.2f ms, p99 %.2f ms, max "
	    "%.2f ms\n", progname, l1.p50, l1.p99, l1.max);

	/* ---------------------------------------------------- chain */
	{
		json_t *st = ctl_call(a, "{\"cmd\":\"status\"}", true);

		if (st == NULL)
			goto out;
		chain_target = json_u64(st, "entries");
		json_decref(st);
	}
	for (k = 2; k < SYNC_NODES; k++) {
		struct kz_store *s = NULL;
		struct kz_store_stats stats;
		int rc;

		/* The new nodes' own entries (none: joining writes nothing). */
		if ((rc = kz_store_open(&s, b->n[k].store, &bench_log)) == 0)
			rc = kz_store_stats(s, &stats);
		kz_store_free(s);
		if (rc < 0) {
			report_err("read a new node's store", rc);
			goto out;
		}
		chain_target += stats.entries;
	}
	t0 = mono_s();
	for (k = 2; k < SYNC_NODES; k++)
		if (daemon_start(b, &b->n[k]) < 0)
			goto out;
	for (k = 1; k < SYNC_NODES; k++)
		if (wait_entries(b, &b->n[k], chain_target,
		    120.0 + (double)chain_target / 200.0, CATCHUP_POLL_MS,
		    &t1) < 0)
			goto out;
	chain_s = t1 - t0;
	for (k = SYNC_NODES - 1; k >= 1; k--)
		if (wait_link_idle(b, &b->n[k], &b->n[k - 1], 60.0, &ls) < 0)
			goto out;
	/* Live posts are timed on quiet nodes: every workspace complete. */
	for (k = 1; k < SYNC_NODES; k++)
		if (wait_views(b, &b->n[k], 120.0 + (double)chain_target / 500.0,
		    &t1) < 0)
			goto out;
	fprintf(stderr, "%s: sync: the chain holds %llu entries on every node "
	    "after %.2f s\n", progname, (unsigned long long)chain_target,
	    chain_s);

	/* ---------------------------------------------------- live, 4 hops */
	if (live_posts(b, a, e, live, ms) < 0)
		goto out;
	live_summary(ms, live, &l4);
	fprintf(stderr, "%s: sync: live 4 hops: p50 %.2f ms, p99 %.2f ms, max "
	    "%.2f ms\n", progname, l4.p50, l4.p99, l4.max);

	/* ---------------------------------------------------- stop */
	if (a_tip_now(a, &tip_a) < 0)
		goto out;
	for (k = SYNC_NODES; k > 0; k--)
		if (daemon_stop(b, &b->n[k - 1]) < 0)
			goto out;
	for (k = 2; k < SYNC_NODES; k++)
		if (b->n[k].hwm_kib > hwm_chain)
			hwm_chain = b->n[k].hwm_kib;
	for (k = 1; k < SYNC_NODES; k++)
		if (check_tip(&b->n[k], a, tip_a) < 0)
			goto out;

	budget = TARGET_WIRE_FACTOR * (double)b->op_bytes +
	    TARGET_WIRE_PER_RUN * (double)b->runs;
	js = json_object();
	tg = json_object();
	if (js == NULL || tg == NULL)
		goto nomem;
#define SETIN(o, key, val) do {							\
	if (json_object_set_new((o), (key), (val)) < 0)				\
		goto nomem;							\
} while (0)
#define SET(key, val) SETIN(js, (key), (val))
#define INT(x) json_integer((json_int_t)(x))
	SET("bench", json_string("sync"));
	SET("entries", INT(b->posts));
	SET("entries_total", INT(b->missing));
	SET("op_bytes", INT(b->op_bytes));
	SET("op_bytes_avg", json_real((double)b->op_bytes /
	    (double)b->a_entries));
	SET("runs", INT(b->runs));
	SET("catchup_s", json_real(catchup_s));
	SET("catchup_per_s", INT(rate((double)b->missing, catchup_s)));
	SET("views_s", json_real(views_s));
	SET("wire_bytes", INT(wire_in));
	SET("wire_ratio", json_real((double)wire_in / (double)b->op_bytes));
	SET("wire_budget_bytes", INT(budget));
	SET("wire_bytes_out", INT(wire_out));
	SET("insync_bytes", INT(insync));
	SET("insync_bytes_raw", INT(insync_raw));
	SET("insync_subtracted", INT(INSYNC_SUBTRACT));
	SET("live_samples", INT(live));
	SET("live_p50_ms_1hop", json_real(l1.p50));
	SET("live_p99_ms_1hop", json_real(l1.p99));
	SET("live_max_ms_1hop", json_real(l1.max));
	SET("live_p50_ms_4hop", json_real(l4.p50));
	SET("live_p99_ms_4hop", json_real(l4.p99));
	SET("live_max_ms_4hop", json_real(l4.max));
	SET("chain_catchup_s", json_real(chain_s));
	SET("fill_s", json_real(b->fill_s));
	SET("peak_rss_kib_a", INT(a->hwm_kib));
	SET("peak_rss_kib_b", INT(hwm_b_catchup));
	SET("peak_rss_kib_chain", INT(hwm_chain));
	SETIN(tg, "catchup_ge_50000_per_s", json_boolean(
	    (double)b->missing >= TARGET_CATCHUP_PER_S * catchup_s));
	SETIN(tg, "wire_le_1_15_op_plus_80_per_run", json_boolean(
	    (double)wire_in <= budget));
	SETIN(tg, "insync_le_200_bytes", json_boolean(
	    insync <= TARGET_INSYNC_BYTES));
	SETIN(tg, "live_p99_1hop_le_20ms", json_boolean(
	    l1.p99 <= TARGET_P99_1HOP_MS));
	SETIN(tg, "live_p99_4hop_le_60ms", json_boolean(
	    l4.p99 <= TARGET_P99_4HOP_MS));
	SET("targets_met", tg);
	tg = NULL;
	SET("total_s", json_real(mono_s() - t_start));
	if (keep)
		SET("dir", json_string(b->dir));
#undef INT
#undef SET
#undef SETIN
	if (print_json_line(js) < 0)
		goto out;
	status = 0;
	goto out;
usage:
	free(b);
	return 2;
nomem:
	warnx("out of memory");
out:
	daemons_kill(b);
	if (sigs) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
	}
	json_decref(tg);
	json_decref(js);
	free(ms);
	if (have_dir && !keep && status == 0)
		rm_tree(b->dir);
	else if (have_dir)
		warnx("kept %s", b->dir);
	free(b);
	return status;
}
