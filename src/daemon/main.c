/*
 * kizunad: the kizuna node daemon.
 *
 *   kizunad [-c FILE] [--home DIR] [-n] [-f]
 *
 * Opens the node in its home folder (the key, refused if others may read
 * it; the store), serves the local control socket, and runs one libuv loop
 * until SIGTERM or SIGINT, after which it stops accepting, lets the answers
 * already queued drain, closes every handle and exits 0.  `-n` only checks
 * the config.  It never forks: under systemd it is Type=notify and logs to
 * stderr, which journald collects (with each line's priority when stderr is
 * the journal).
 *
 * One kizunad per home: DIR/kizunad.lock holds a POSIX record lock (and the
 * pid) for the daemon's life, so a second one on the same home is refused
 * whatever socket path its config names.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/kizunad.h"
#include "kizuna/views.h"
#include "kizuna/err.h"
#include "kizuna/home.h"
#include "kizuna/util.h"

#define KZD_LOCK "kizunad.lock"

/* Where log lines go: stderr, with "<N>" priority prefixes for journald. */
struct log_sink {
	bool journal;
};

static void
on_log(void *ctx, enum kz_log_level level, const char *msg)
{
	static const int prio[] = { 3, 4, 6, 7 };	/* sd-daemon.h's SD_ERR... */
	const struct log_sink *sink = ctx;
	char line[1200];
	int n;

	if (sink->journal)
		n = snprintf(line, sizeof(line), "<%d>%s: %s\n", prio[level],
		    kz_log_level_name(level), msg);
	else
		n = snprintf(line, sizeof(line), "%s: %s\n",
		    kz_log_level_name(level), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line, so lines from a crash never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/* True when stderr is the journal's stream ($JOURNAL_STREAM is its dev:ino). */
static bool
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;

	if (v == NULL || sscanf(v, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &sb) < 0)
		return false;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

uint64_t
kzd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kizunad [-c FILE] [--home DIR] [-n] [-f]\n\n"
	    "The kizuna node daemon.  The home folder is --home, else $KIZUNA_HOME,\n"
	    "else $XDG_DATA_HOME/kizuna, else ~/.local/share/kizuna (as for the\n"
	    "kizuna command); the config is -c FILE, else HOME/kizuna.conf, and every\n"
	    "setting has a default, so it runs without one.\n\n"
	    "  -c, --config FILE  read the config from FILE (which must exist)\n"
	    "  -H, --home DIR     the node's home folder (made by 'kizuna init')\n"
	    "  -n, --check        check the config, print the verdict and exit\n"
	    "                     (0: valid; 1: FILE:LINE of the first error)\n"
	    "  -f, --foreground   stay in the foreground: the only way kizunad runs\n"
	    "                     (it never forks; accepted for init scripts)\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         print this help and exit\n");
}

/*
 * Checks what the config means in this home: resolved paths must fit, the
 * control socket's within a unix socket address.  Returns 0 or -1 (logged).
 */
static int
check_paths(struct kzd *d)
{
	char path[4096];

	if (kz_config_home_path(path, sizeof(path), d->home,
	    d->cfg.store_path) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "[store] path: too long in %s", d->home);
		return -1;
	}
	if (kz_config_home_path(path, sizeof(path), d->home,
	    d->cfg.control_socket) < 0 || strlen(path) >= sizeof(d->ctl.path)) {
		kz_log(&d->log, KZ_LOG_ERR, "[control] socket: %s%s%s is over the "
		    "%zu bytes a unix socket path may have; set a shorter, "
		    "absolute path", d->cfg.control_socket[0] == '/' ? "" : d->home,
		    d->cfg.control_socket[0] == '/' ? "" : "/",
		    d->cfg.control_socket, sizeof(d->ctl.path) - 1);
		return -1;
	}
	return 0;
}

/*
 * Loads the config: conf_opt (-c, must exist), else HOME/kizuna.conf (may
 * be missing).  Returns 0, or -1 after logging "FILE:LINE: reason".
 */
static int
load_config(struct kzd *d, const char *conf_opt, bool *found)
{
	char err[600];
	int rc;

	kz_config_defaults(&d->cfg);
	*found = false;
	if (conf_opt != NULL) {
		if (snprintf(d->conf_path, sizeof(d->conf_path), "%s", conf_opt) >=
		    (int)sizeof(d->conf_path)) {
			kz_log(&d->log, KZ_LOG_ERR, "-c: path too long");
			return -1;
		}
	} else if (kz_home_path(d->conf_path, sizeof(d->conf_path), d->home,
	    KZ_HOME_CONF) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "home path too long: %s", d->home);
		return -1;
	}
	rc = kz_config_load(&d->cfg, d->conf_path, err, sizeof(err));
	if (rc == KZ_ERR_NOT_FOUND && conf_opt == NULL)
		return 0;
	if (rc == KZ_ERR_NOT_FOUND) {
		kz_log(&d->log, KZ_LOG_ERR, "%s: no such file", d->conf_path);
		return -1;
	}
	if (rc < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "%s", err);
		return -1;
	}
	*found = true;
	/* [radio] as a whole: what the port and the link will accept. */
	if (kzd_rnet_check(&d->cfg, d->conf_path, err, sizeof(err)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "%s", err);
		return -1;
	}
	return 0;
}

/* Loads the node key as the CLI does, with the same refusals. */
static int
load_key(struct kzd *d)
{
	int rc = kz_home_load_key(d->home, &d->kp);

	switch (rc) {
	case 0:
		d->have_key = true;
		return 0;
	case KZ_ERR_NOT_FOUND:
		kz_log(&d->log, KZ_LOG_ERR, "%s is not a kizuna node (no %s); create "
		    "one with 'kizuna --home %s init'", d->home, KZ_HOME_KEY, d->home);
		break;
	case KZ_ERR_KEY_PERMS:
		kz_log(&d->log, KZ_LOG_ERR, "%s/%s is readable by group or others; "
		    "refusing to use it (fix with: chmod 600 %s/%s)", d->home,
		    KZ_HOME_KEY, d->home, KZ_HOME_KEY);
		break;
	case KZ_ERR_IO:
		kz_log(&d->log, KZ_LOG_ERR, "%s/%s: %s", d->home, KZ_HOME_KEY,
		    strerror(errno));
		break;
	default:
		kz_log(&d->log, KZ_LOG_ERR, "%s/%s: %s", d->home, KZ_HOME_KEY,
		    kz_strerror(rc));
		break;
	}
	return -1;
}

/*
 * Takes the home's lock, or names the kizunad that holds it.  The lock
 * file is left in place: removing it would race with the next daemon.
 */
static int
lock_home(struct kzd *d)
{
	char path[4096], pid[32];
	struct flock fl;
	int fd, n;

	if (kz_home_path(path, sizeof(path), d->home, KZD_LOCK) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		if (errno == EACCES || errno == EAGAIN) {
			memset(&fl, 0, sizeof(fl));
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
				kz_log(&d->log, KZ_LOG_ERR, "another kizunad is running "
				    "on %s (pid %ld)", d->home, (long)fl.l_pid);
			else
				kz_log(&d->log, KZ_LOG_ERR, "another kizunad is running "
				    "on %s", d->home);
		} else {
			kz_log(&d->log, KZ_LOG_ERR, "cannot lock %s: %s", path,
			    strerror(errno));
		}
		close(fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		kz_log(&d->log, KZ_LOG_WARN, "cannot write the pid to %s: %s", path,
		    strerror(errno));
	d->lock_fd = fd;
	return 0;
}

static int
open_store(struct kzd *d)
{
	char path[4096], fp[KZ_FINGERPRINT_CHARS + 1];
	struct kz_store_stats stats;
	int rc;

	if (kz_config_home_path(path, sizeof(path), d->home,
	    d->cfg.store_path) < 0)
		return -1;	/* check_paths() said why */
	rc = kz_store_open(&d->st, path, &d->log);
	if (rc < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "cannot open store %s: %s", path,
		    kz_strerror(rc));
		return -1;
	}
	kz_fingerprint(fp, d->kp.pk);
	if (kz_store_stats(d->st, &stats) == 0)
		kz_log(&d->log, KZ_LOG_INFO, "kizunad %s: node %s%s%s%s, store %s "
		    "(schema %d, %llu feeds, %llu entries)", KZ_VERSION, fp,
		    d->cfg.node_name[0] ? " (" : "", d->cfg.node_name,
		    d->cfg.node_name[0] ? ")" : "", path, stats.schema_version,
		    (unsigned long long)stats.feeds,
		    (unsigned long long)stats.entries);
	return 0;
}

/*
 * The views' backlog (kz_views_set_deferral): a catch-up stores entries at
 * full speed and the workspace follows in batches of KZD_VIEWS_BATCH, each
 * one transaction.  A batch runs when no link has read anything for
 * KZD_VIEWS_QUIET_MS (so a catch-up is not slowed), and at least every
 * KZD_VIEWS_EVERY_MS whatever the traffic (so the workspace never stalls).
 */
#define KZD_VIEWS_TICK_MS 20
#define KZD_VIEWS_QUIET_MS 40
#define KZD_VIEWS_EVERY_MS 1000

static bool
links_quiet(struct kzd *d, uint64_t now)
{
	const struct kzd_peer *p;

	for (p = d->net.peers; p != NULL; p = p->next)
		if (now - p->last_rx_ms < KZD_VIEWS_QUIET_MS)
			return false;
	return true;
}

static void
on_views(uv_timer_t *t)
{
	struct kzd *d = KZD_CONTAINER_OF(t, struct kzd, views);
	uint64_t now = uv_now(&d->loop), left;
	int rc;

	if (d->stopping)
		return;
	if ((rc = kz_views_backlog(d->st, &d->views_backlog)) < 0 ||
	    d->views_backlog == 0)
		return;
	if (!links_quiet(d, now) && now - d->views_last_ms < KZD_VIEWS_EVERY_MS)
		return;
	d->views_last_ms = now;
	rc = kz_views_catch_up(d->st, KZD_VIEWS_BATCH, &left);
	if (rc < 0) {
		/* Once per failing streak: a full disk fails every second. */
		if (!d->views_failing)
			kz_log(&d->log, KZ_LOG_WARN, "views: cannot apply the "
			    "backlog: %s (%llu entries wait; tried again every "
			    "second)", kz_strerror(rc),
			    (unsigned long long)d->views_backlog);
		d->views_failing = true;
		return;
	}
	d->views_failing = false;
	if (left == 0)
		kz_log(&d->log, KZ_LOG_INFO, "views: backlog applied");
	d->views_backlog = left;
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct kzd *d = h->data;

	if (signum == SIGHUP) {
		kz_log(&d->log, KZ_LOG_INFO, "SIGHUP: reloading the config is not "
		    "supported yet; ignored (restart kizunad to apply changes)");
		return;
	}
	kzd_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void
on_grace(uv_timer_t *t)
{
	struct kzd *d = KZD_CONTAINER_OF(t, struct kzd, grace);

	if (d->ctl.n_clients > 0)
		kz_log(&d->log, KZ_LOG_WARN, "%zu control client(s) did not take "
		    "their answers within %d ms; closing them", d->ctl.n_clients,
		    KZD_STOP_GRACE_MS);
	if (d->net.n_peers > 0)
		kz_log(&d->log, KZ_LOG_WARN, "%zu link(s) did not close within %d "
		    "ms; cutting them off", d->net.n_peers, KZD_STOP_GRACE_MS);
	kzd_control_abort(d);
	kzd_net_abort(d);
	kzd_http_abort(d);
}

static void
close_if_open(uv_handle_t *h, bool *open)
{
	if (*open && !uv_is_closing(h))
		uv_close(h, NULL);
	*open = false;
}

/* Closes every handle struct kzd embeds (clients close themselves). */
static void
close_handles(struct kzd *d)
{
	size_t i;

	for (i = 0; i < KZD_NELEM(d->sigs); i++)
		close_if_open((uv_handle_t *)&d->sigs[i], &d->sig_open[i]);
	close_if_open((uv_handle_t *)&d->watchdog, &d->watchdog_open);
	close_if_open((uv_handle_t *)&d->grace, &d->grace_open);
	close_if_open((uv_handle_t *)&d->views, &d->views_open);
	close_if_open((uv_handle_t *)&d->ctl.listener, &d->ctl.listener_open);
	close_if_open((uv_handle_t *)&d->ctl.idle, &d->ctl.idle_open);
	kzd_net_close_handles(d);
	kzd_rnet_close_handles(d);
	kzd_courier_close_handles(d);
	kzd_http_close_handles(d);
	kzd_map_close_handles(d);
	kzd_import_close_handles(d);
}

void
kzd_stop(struct kzd *d, const char *reason)
{
	if (d->stopping) {
		kz_log(&d->log, KZ_LOG_INFO, "%s: already stopping", reason);
		return;
	}
	d->stopping = true;
	kz_log(&d->log, KZ_LOG_INFO, "%s: stopping", reason);
	uv_timer_stop(&d->views);
	kzd_import_stop(d);
	kzd_notify_stopping(d);
	kzd_control_stop(d);
	kzd_map_stop(d);
	kzd_net_stop(d);
	kzd_rnet_stop(d);
	kzd_http_stop(d);
	if (d->ctl.n_clients > 0 || d->net.n_peers > 0 || kzd_http_busy(d))
		uv_timer_start(&d->grace, on_grace, KZD_STOP_GRACE_MS, 0);
	kzd_maybe_done(d);
}

void
kzd_maybe_done(struct kzd *d)
{
	if (!d->stopping || d->done || d->ctl.n_clients > 0 ||
	    d->net.n_peers > 0 || kzd_rnet_busy(d) || kzd_http_busy(d))
		return;
	d->done = true;
	close_handles(d);
}

/* Initialises the handles and starts serving.  Returns 0 or -1 (logged). */
static int
start(struct kzd *d)
{
	static const int signums[] = { SIGTERM, SIGINT, SIGHUP };
	char path[4096];
	size_t i;
	int rc;

	for (i = 0; i < KZD_NELEM(d->sigs); i++) {
		if ((rc = uv_signal_init(&d->loop, &d->sigs[i])) < 0) {
			kz_log(&d->log, KZ_LOG_ERR, "cannot watch signals: %s",
			    uv_strerror(rc));
			return -1;
		}
		d->sig_open[i] = true;
		d->sigs[i].data = d;
		if ((rc = uv_signal_start(&d->sigs[i], on_signal, signums[i])) < 0) {
			kz_log(&d->log, KZ_LOG_ERR, "cannot watch signals: %s",
			    uv_strerror(rc));
			return -1;
		}
	}
	uv_timer_init(&d->loop, &d->watchdog);
	d->watchdog_open = true;
	uv_timer_init(&d->loop, &d->grace);
	d->grace_open = true;
	uv_timer_init(&d->loop, &d->views);
	d->views_open = true;
	kz_views_set_deferral(d->st, KZD_VIEWS_DEFER_MIN);
	uv_timer_start(&d->views, on_views, KZD_VIEWS_TICK_MS, KZD_VIEWS_TICK_MS);

	if (kz_config_home_path(path, sizeof(path), d->home,
	    d->cfg.control_socket) < 0 || kzd_control_start(d, path) < 0)
		return -1;
	if (kzd_net_start(d) < 0 || kzd_rnet_start(d) < 0 ||
	    kzd_courier_start(d) < 0 || kzd_http_start(d) < 0 ||
	    kzd_map_start(d) < 0)
		return -1;
	kzd_notify_ready(d);
	return 0;
}

/* Prints the names of handles still open: a bug, reported before exit 1. */
static void
on_walk_leftover(uv_handle_t *h, void *arg)
{
	struct kzd *d = arg;

	kz_log(&d->log, KZ_LOG_ERR, "handle left open at exit: %s%s",
	    uv_handle_type_name(uv_handle_get_type(h)),
	    uv_is_closing(h) ? " (closing)" : "");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "home", required_argument, NULL, 'H' },
		{ "check", no_argument, NULL, 'n' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct log_sink sink = { .journal = false };
	struct sigaction sa;
	struct kzd *d;
	const char *conf_opt = NULL, *home_opt = NULL;
	bool check = false, found, have_home;
	int ch, rc, status = 1;

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		fprintf(stderr, "kizunad: out of memory\n");
		return 1;
	}
	d->lock_fd = -1;
	sink.journal = stderr_is_journal();
	d->log.fn = on_log;
	d->log.ctx = &sink;
	d->log.level = KZ_LOG_INFO;

	while ((ch = getopt_long(argc, argv, "c:H:nfVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_opt = optarg;
			break;
		case 'H':
			home_opt = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'f':
			break;
		case 'V':
			printf("kizunad %s\n", KZ_VERSION);
			free(d);
			return 0;
		case 'h':
			usage(stdout);
			free(d);
			return 0;
		default:
			usage(stderr);
			free(d);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		free(d);
		return 2;
	}

	if (home_opt != NULL)
		have_home = snprintf(d->home, sizeof(d->home), "%s", home_opt) <
		    (int)sizeof(d->home);
	else
		have_home = kz_home_default(d->home, sizeof(d->home)) == 0;
	if (!have_home && (!check || conf_opt == NULL)) {
		kz_log(&d->log, KZ_LOG_ERR, "no home folder: use --home DIR or set "
		    "KIZUNA_HOME");
		goto out;
	}
	if (load_config(d, conf_opt, &found) < 0)
		goto out;
	if (have_home && check_paths(d) < 0)
		goto out;
	if (check) {
		if (found)
			printf("%s: configuration OK\n", d->conf_path);
		else
			printf("%s: no such file; every setting at its default\n",
			    d->conf_path);
		status = 0;
		goto out;
	}
	d->log.level = (enum kz_log_level)d->cfg.log_level;

	if (sodium_init() < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "libsodium failed to initialise");
		goto out;
	}
	/* A client that hangs up mid-answer is an EPIPE, not a death. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);

	if (load_key(d) < 0 || lock_home(d) < 0 || open_store(d) < 0)
		goto out;
	if ((rc = uv_loop_init(&d->loop)) < 0) {
		kz_log(&d->log, KZ_LOG_ERR, "cannot start the event loop: %s",
		    uv_strerror(rc));
		goto out;
	}
	d->loop_open = true;
	d->started_ns = uv_hrtime();
	if (start(d) == 0) {
		uv_run(&d->loop, UV_RUN_DEFAULT);
		status = 0;
	}
out:
	if (d->loop_open) {
		/* After a failed start, or (a bug) handles a stop left open. */
		close_handles(d);
		kzd_control_abort(d);
		kzd_net_abort(d);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&d->loop) != 0) {
			uv_walk(&d->loop, on_walk_leftover, d);
			status = 1;
		}
	}
	kzd_net_free(d);
	kzd_courier_free(d);
	kzd_http_free(d);
	kzd_import_free(d);
	kz_store_free(d->st);
	if (d->have_key)
		kz_keypair_wipe(&d->kp);
	if (d->lock_fd >= 0)
		close(d->lock_fd);	/* releases the lock */
	if (status == 0 && !check)
		kz_log(&d->log, KZ_LOG_INFO, "stopped");
	free(d);
	return status;
}
