/*
 * systemd integration (Type=notify): READY=1 once the control socket
 * listens, a STATUS= line that `systemctl status kizunad` shows, STOPPING=1
 * when a stop begins, and WATCHDOG=1 from a loop timer at half the interval
 * systemd asked for ($WATCHDOG_USEC), so a wedged loop gets the daemon
 * restarted.  Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op.
 */
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

#include "daemon/kizunad.h"
#include "kizuna/err.h"

static void
on_watchdog(uv_timer_t *t)
{
	(void)t;
	sd_notify(0, "WATCHDOG=1");
}

/* The state line: what an operator glancing at systemctl wants to know. */
static void
status_line(struct kzd *d, char *buf, size_t len)
{
	struct kz_store_stats stats;
	uint64_t tip;
	int rc;

	if ((rc = kz_store_tip(d->st, d->kp.pk, &tip, NULL)) < 0 ||
	    (rc = kz_store_stats(d->st, &stats)) < 0) {
		snprintf(buf, len, "running; store unreadable: %s", kz_strerror(rc));
		return;
	}
	snprintf(buf, len, "running: feed length %llu, %llu feeds held, "
	    "%llu entries, %zu links", (unsigned long long)tip,
	    (unsigned long long)stats.feeds, (unsigned long long)stats.entries,
	    kzd_net_links(d));
}

void
kzd_notify_ready(struct kzd *d)
{
	char line[200];
	uint64_t usec = 0, ms;

	status_line(d, line, sizeof(line));
	sd_notifyf(0, "READY=1\nSTATUS=%s", line);
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		ms = usec / 2000;
		if (ms == 0)
			ms = 1;
		uv_timer_start(&d->watchdog, on_watchdog, ms, ms);
		kz_log(&d->log, KZ_LOG_INFO, "systemd watchdog: a ping every %llu ms",
		    (unsigned long long)ms);
	}
	kz_log(&d->log, KZ_LOG_INFO, "ready");
}

void
kzd_notify_status(struct kzd *d)
{
	char line[200];

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;		/* spare the store queries */
	status_line(d, line, sizeof(line));
	sd_notifyf(0, "STATUS=%s", line);
}

void
kzd_notify_stopping(struct kzd *d)
{
	if (d->watchdog_open)
		uv_timer_stop(&d->watchdog);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
