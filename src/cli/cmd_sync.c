/*
 * kizuna sync --stdio | --via COMMAND: one sync session over any pipe.
 *
 * `--stdio` runs the responder on standard input and output, so a pipe,
 * an ssh session or a serial console carries it; `--via COMMAND` runs the
 * initiator through `sh -c COMMAND` (for example `ssh host kizuna sync
 * --stdio`).  Both ends run the same secure link as kizunad (Noise with the
 * mesh's network key, then the sync protocol) and finish when each holds
 * what the other held: a side whose peer lacks nothing and who lacks
 * nothing says Bye, and the other ends on it.  Messages go to stderr only:
 * standard output is the channel.
 *
 * The loop is poll(2) on the two descriptors, without O_NONBLOCK (which
 * would change the descriptions the caller shares, e.g. with ssh): reads
 * only after POLLIN, writes of at most PIPE_BUF bytes after POLLOUT.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kizuna/err.h"
#include "kizuna/link.h"
#include "kizuna/mesh.h"
#include "kizuna/util.h"
#include "kizuna/views.h"

#define READ_CHUNK (64 * 1024)
#define DEFAULT_TIMEOUT_S 120

struct sync_opts {
	bool stdio;
	const char *via;
	uint64_t timeout_s;
	bool slow;		/* --slow: the slow link profile */
};

struct session {
	struct cli *c;
	struct kz_link *link;
	int in_fd, out_fd;
	uint8_t *out;			/* bytes for the peer not yet written */
	size_t out_len, out_off;
	bool eof, said_bye, complete;
	uint64_t refused;
	int store_err;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* kz_sync_opts.now_ms (live batching with --slow). */
static uint64_t
sync_now(void *ctx)
{
	(void)ctx;
	return mono_ms();
}

static bool
accept_feed(void *ctx, const uint8_t feed[32])
{
	struct session *s = ctx;
	bool ok = false;
	int rc = kz_views_node_admitted(s->c->st, feed, &ok);

	if (rc < 0 && s->store_err == 0)
		s->store_err = rc;
	return ok;
}

static void
refused(void *ctx, const uint8_t feed[32], int why)
{
	struct session *s = ctx;

	(void)feed;
	(void)why;
	s->refused++;
}

static int
on_sync_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct sync_opts *so = ctx;

	if (ch == 's')
		so->stdio = true;
	else if (ch == 'v')
		so->via = arg;
	else if (ch == 'l')
		so->slow = true;
	else if (ch == 't')
		return cli_parse_range(c, arg, 1, 86400, &so->timeout_s,
		    "--timeout takes seconds, 1 to 86400");
	return -1;
}

/* Starts sh -c cmd with pipes to its stdin and from its stdout. */
static int
spawn(struct cli *c, const char *cmd, pid_t *pid, int *to_child, int *from_child)
{
	int in[2], out[2];

	if (pipe(in) < 0 || pipe(out) < 0)
		return cli_fail(c, "cannot make a pipe: %s", strerror(errno));
	*pid = fork();
	if (*pid < 0)
		return cli_fail(c, "cannot start '%s': %s", cmd, strerror(errno));
	if (*pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = out[0];
	return 0;
}

/* Pulls what the link has for the peer into s->out. */
static int
pull(struct session *s)
{
	while (s->out_off == s->out_len) {
		uint8_t *p;
		size_t n;
		int rc = kz_link_send(s->link, &p, &n);

		if (rc == 1)
			return 0;
		if (rc < 0)
			return rc;
		free(s->out);
		s->out = p;
		s->out_len = n;
		s->out_off = 0;
	}
	return 0;
}

/* The session is done when both sides hold what the other held. */
static void
check_done(struct session *s)
{
	struct kz_link_stats st;

	if (s->said_bye || kz_link_state(s->link) != KZ_LINK_OPEN ||
	    kz_link_sync_state(s->link) != KZ_SYNC_LIVE || !kz_link_idle(s->link))
		return;
	kz_link_get_stats(s->link, &st);
	if (st.sync.pending_in != 0 || st.sync.pending_out != 0)
		return;
	s->complete = true;
	s->said_bye = true;
	kz_link_close(s->link, "sync complete");
}

/* The peer's Bye on a session with nothing left either way completes it. */
static void
check_closed(struct session *s)
{
	struct kz_link_stats st;

	if (s->complete || kz_link_state(s->link) != KZ_LINK_CLOSED)
		return;
	kz_link_get_stats(s->link, &st);
	if (strstr(kz_link_reason(s->link), "sync complete") != NULL &&
	    st.sync.pending_in == 0 && st.sync.pending_out == 0)
		s->complete = true;
}

static int
step_read(struct session *s)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n = read(s->in_fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : KZ_ERR_IO;
	if (n == 0) {
		s->eof = true;
		return 0;
	}
	kz_link_recv(s->link, buf, (size_t)n);	/* errors close the link */
	return 0;
}

static int
step_write(struct session *s)
{
	size_t n = s->out_len - s->out_off;
	ssize_t w;

	if (n > PIPE_BUF)
		n = PIPE_BUF;
	w = write(s->out_fd, s->out + s->out_off, n);
	if (w < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : KZ_ERR_IO;
	s->out_off += (size_t)w;
	return 0;
}

/* Runs the session until it completes, the link closes, or timeout_s
 * passes without a byte either way.  Returns 0 or an exit status. */
static int
run_session(struct session *s, uint64_t timeout_s)
{
	uint64_t last = mono_ms();
	int rc;

	for (;;) {
		struct pollfd pfd[2];
		nfds_t n = 0;
		bool want_out;

		if ((rc = pull(s)) < 0)
			return cli_fail(s->c, "sync: %s", kz_strerror(rc));
		check_done(s);
		check_closed(s);
		if ((rc = pull(s)) < 0)
			return cli_fail(s->c, "sync: %s", kz_strerror(rc));
		want_out = s->out_off < s->out_len;
		if (kz_link_state(s->link) == KZ_LINK_CLOSED && !want_out)
			break;
		if (s->eof && !want_out)
			break;
		if (!s->eof) {
			pfd[n].fd = s->in_fd;
			pfd[n++].events = POLLIN;
		}
		if (want_out) {
			pfd[n].fd = s->out_fd;
			pfd[n++].events = POLLOUT;
		}
		rc = poll(pfd, n, 1000);
		if (rc < 0 && errno != EINTR)
			return cli_fail(s->c, "sync: poll: %s", strerror(errno));
		if (rc > 0) {
			nfds_t i;

			for (i = 0; i < n; i++) {
				if (pfd[i].revents == 0)
					continue;
				if (pfd[i].fd == s->in_fd && (rc = step_read(s)) < 0)
					return cli_fail(s->c, "sync: read: %s",
					    strerror(errno));
				if (pfd[i].fd == s->out_fd && pfd[i].revents &
				    (POLLERR | POLLHUP)) {
					s->eof = true;
					s->out_off = s->out_len;
				} else if (pfd[i].fd == s->out_fd &&
				    (rc = step_write(s)) < 0) {
					return cli_fail(s->c, "sync: write: %s",
					    strerror(errno));
				}
			}
			last = mono_ms();
		} else if (mono_ms() - last > timeout_s * 1000) {
			return cli_fail(s->c, "sync: nothing from the peer for %llu s; "
			    "giving up (what arrived is kept)",
			    (unsigned long long)timeout_s);
		}
	}
	return 0;
}

static int
report(struct session *s)
{
	struct kz_link_stats st;
	char fp[KZ_FINGERPRINT_CHARS + 1] = "unknown";
	const uint8_t *peer = kz_link_peer(s->link);

	kz_link_get_stats(s->link, &st);
	if (peer != NULL)
		kz_fingerprint(fp, peer);
	if (s->c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "peer", peer != NULL ?
		    cli_json_hex(peer, 32) : json_null());
		json_object_set_new(o, "complete", json_boolean(s->complete));
		json_object_set_new(o, "entries_in",
		    json_integer((json_int_t)st.sync.entries_in));
		json_object_set_new(o, "entries_out",
		    json_integer((json_int_t)st.sync.entries_out));
		json_object_set_new(o, "bytes_in", json_integer((json_int_t)st.bytes_in));
		json_object_set_new(o, "bytes_out", json_integer((json_int_t)st.bytes_out));
		json_object_set_new(o, "compress", json_string(st.compress ==
		    KZ_COMPRESS_DICT ? "dict" : st.compress == KZ_COMPRESS_ZSTD ?
		    "zstd" : "none"));
		json_object_set_new(o, "refused", json_integer((json_int_t)s->refused));
		json_object_set_new(o, "reason", json_string(kz_link_reason(s->link)));
		/* stdout may be the channel: the summary goes to stderr. */
		{
			char *line = json_dumps(o, JSON_COMPACT);

			if (line != NULL)
				fprintf(stderr, "%s\n", line);
			free(line);
			json_decref(o);
		}
	} else {
		fprintf(stderr, "kizuna: sync with %s %s: %llu entries received, %llu "
		    "sent, %llu/%llu bytes in/out%s\n", fp, s->complete ?
		    "complete" : "ended early", (unsigned long long)st.sync.entries_in,
		    (unsigned long long)st.sync.entries_out,
		    (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
		    s->refused > 0 ? "; some runs refused (see kizunad's counters)" : "");
	}
	if (s->store_err != 0)
		return cli_fail(s->c, "cannot read the mesh's nodes: %s",
		    kz_strerror(s->store_err));
	if (!s->complete) {
		const char *why = kz_link_reason(s->link);

		if (*why == '\0')
			why = s->eof ? "the peer closed the connection" : "unknown";
		return cli_fail(s->c, "sync did not complete: %s", why);
	}
	return 0;
}

int
cmd_sync(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdio", no_argument, NULL, 's' },
		{ "via", required_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' },
		{ "slow", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct sync_opts so = { .timeout_s = DEFAULT_TIMEOUT_S };
	struct session s = { .c = c, .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO };
	struct kz_mesh_creds mc;
	struct kz_link_opts lo;
	pid_t child = -1;
	int rc, status;

	rc = cli_getopt(c, cli_find_cmd("sync"), argc, argv, opts, "sv:t:l", 0,
	    on_sync_opt, &so);
	if (rc >= 0)
		return rc;
	if (so.stdio == (so.via != NULL))
		return cli_bad(c, "sync needs exactly one of --stdio and --via COMMAND");
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	rc = kz_mesh_file_read(c->home, &mc);
	if (rc == KZ_ERR_NOT_FOUND)
		return cli_fail(c, "this node has not joined a mesh: nothing to sync");
	if (rc < 0)
		return cli_fail(c, "cannot read the network key: %s", kz_strerror(rc));
	signal(SIGPIPE, SIG_IGN);
	if (so.via != NULL && (rc = spawn(c, so.via, &child, &s.out_fd,
	    &s.in_fd)) != 0) {
		kz_mesh_creds_wipe(&mc);
		return rc;
	}
	memset(&lo, 0, sizeof(lo));
	lo.st = c->st;
	lo.node = &c->kp;
	lo.network_key = mc.network_key;
	lo.initiator = so.via != NULL;
	/*
	 * --slow (docs/sync.md, "Link profiles"): urgent entries first, small
	 * runs, batched acks, and the dictionary if the other end allows it.
	 */
	if (so.slow) {
		kz_sync_opts_slow_link(&lo.sync);
		lo.sync.now_ms = sync_now;
		lo.compress = KZ_COMPRESS_DICT;
		lo.send_chunk = 1;
	}
	lo.sync.accept_feed = accept_feed;
	lo.sync.refused = refused;
	lo.sync.ctx = &s;
	lo.sync.log = &c->log;
	lo.sync.peer_name = so.via != NULL ? so.via : "stdio";
	rc = kz_link_new(&s.link, &lo);
	kz_mesh_creds_wipe(&mc);
	if (rc < 0) {
		rc = cli_fail(c, "cannot start the link: %s", kz_strerror(rc));
	} else {
		rc = run_session(&s, so.timeout_s);
		if (rc == 0)
			rc = report(&s);
	}
	kz_link_free(s.link);
	free(s.out);
	if (child > 0) {
		close(s.out_fd);
		close(s.in_fd);
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
			rc = cli_fail(c, "'%s' exited with status %d", so.via,
			    WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
			    WTERMSIG(status));
	}
	return rc;
}
