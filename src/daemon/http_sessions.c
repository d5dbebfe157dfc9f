/*
 * Sessions that survive a restart of kizunad (docs/api.md, "Sessions"):
 * HOME/http_sessions, mode 0600, one line per live session
 *
 *   kizuna-http-sessions 1
 *   ID_HASH USER CSRF LAST_USED
 *
 * ID_HASH is the BLAKE2b-256 of the cookie's 32 random bytes in hex (the
 * only form of the id the server ever keeps: the cookie itself is never
 * written), USER the user id, CSRF the session's token for X-CSRF-Token
 * (kept so that an open page goes on working; it is worth nothing without
 * the cookie), LAST_USED the wall clock (s) of its last request.
 *
 * The file is rewritten whole, atomically (a temporary file fsynced, then
 * renamed over it, then the folder fsynced), at once when a session begins
 * or ends (so a logout is never undone by a restart, even after kill -9),
 * and at most every KZD_HTTP_SESSIONS_SAVE_MS when only sessions' last use
 * moved (so after a kill -9 a session may look up to that much more idle
 * than it was; a clean stop writes it last).  At start, the sessions idle
 * longer than [http] session_idle_s are dropped and the rest restored with
 * their idle time.  A file that group or others may read, or a line that
 * does not parse, is not used (logged); the next write replaces it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/http.h"
#include "kizuna/util.h"

#define SESSIONS_FILE "http_sessions"
#define SESSIONS_MAGIC "kizuna-http-sessions 1"

/* path: HOME/NAME; false when it does not fit. */
static bool
home_path(struct kzd_http *h, char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", h->d->home, name);

	return n > 0 && (size_t)n < cap;
}

/* The wall clock second of the last use of s. */
static uint64_t
last_used_s(struct kzd_http *h, const struct kzd_http_session *s)
{
	uint64_t now = uv_now(&h->d->loop), wall = kzd_now_ms();
	uint64_t idle = now > s->last_ms ? now - s->last_ms : 0;

	return (wall > idle ? wall - idle : 0) / 1000;
}

static bool
token_ok(const char *t)
{
	size_t i;

	if (strlen(t) != KZD_HTTP_TOKEN_CHARS - 1)
		return false;
	for (i = 0; t[i] != '\0'; i++)
		if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' &&
		    t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
		    t[i] == '-' || t[i] == '_'))
			return false;
	return true;
}

/* One line into s: true when it parses. */
static bool
parse_line(char *line, struct kzd_http_session *s, uint64_t *last_s)
{
	char *save = NULL, *hash, *user, *csrf, *last, *end;
	unsigned long long v;

	hash = strtok_r(line, " \n", &save);
	user = strtok_r(NULL, " \n", &save);
	csrf = strtok_r(NULL, " \n", &save);
	last = strtok_r(NULL, " \n", &save);
	if (last == NULL || strtok_r(NULL, " \n", &save) != NULL)
		return false;
	if (strlen(hash) != 2 * sizeof(s->id_hash) ||
	    kz_unhex(s->id_hash, sizeof(s->id_hash), hash) != 0)
		return false;
	if (strlen(user) >= sizeof(s->user) || !token_ok(csrf))
		return false;
	errno = 0;
	v = strtoull(last, &end, 10);
	if (errno != 0 || *end != '\0' || last[0] < '0' || last[0] > '9')
		return false;
	memcpy(s->user, user, strlen(user) + 1);
	memcpy(s->csrf, csrf, strlen(csrf) + 1);
	*last_s = v;
	return true;
}

void
kzd_http_sessions_load(struct kzd_http *h)
{
	char path[4200], line[256];
	struct kzd_http_session s;
	uint64_t now_s = kzd_now_ms() / 1000, now = uv_now(&h->d->loop);
	uint64_t last_s, idle_ms;
	size_t n = 0, expired = 0, bad = 0, lineno = 0;
	struct stat sb;
	FILE *f = NULL;
	int fd;

	if (!home_path(h, path, sizeof(path), SESSIONS_FILE))
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno != ENOENT)
			kz_log(&h->d->log, KZ_LOG_WARN, "http: cannot read %s: %s; "
			    "no session restored", path, strerror(errno));
		return;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (sb.st_mode & 077) != 0) {
		kz_log(&h->d->log, KZ_LOG_WARN, "http: %s is not a file that only "
		    "its owner may read; no session restored (it is rewritten "
		    "at the next sign-in)", path);
		close(fd);
		return;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, SESSIONS_MAGIC "\n") != 0) {
				kz_log(&h->d->log, KZ_LOG_WARN, "http: %s is not a "
				    "sessions file of this version; no session "
				    "restored", path);
				break;
			}
			continue;
		}
		memset(&s, 0, sizeof(s));
		if (strchr(line, '\n') == NULL || !parse_line(line, &s, &last_s)) {
			bad++;
			/* The rest of an overlong line. */
			while (strchr(line, '\n') == NULL &&
			    fgets(line, sizeof(line), f) != NULL)
				;
			continue;
		}
		idle_ms = last_s < now_s ? (now_s - last_s) * 1000 : 0;
		if (idle_ms > h->idle_ms) {
			expired++;
		} else if (n < KZD_HTTP_SESSIONS_MAX) {
			s.used = true;
			s.last_ms = now > idle_ms ? now - idle_ms : 0;
			h->sessions[n++] = s;
		}
		sodium_memzero(line, sizeof(line));
	}
	sodium_memzero(&s, sizeof(s));
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (bad > 0)
		kz_log(&h->d->log, KZ_LOG_WARN, "http: %s: %zu lines that do not "
		    "parse, ignored", path, bad);
	kz_log(&h->d->log, KZ_LOG_INFO, "http: %zu sessions restored from %s "
	    "(%zu idle too long)", n, path, expired);
}

void
kzd_http_sessions_save(struct kzd_http *h)
{
	char path[4200], tmp[4200], hex[2 * crypto_generichash_BYTES + 1];
	uint64_t now = uv_now(&h->d->loop);
	const char *why = NULL;
	FILE *f = NULL;
	size_t i;
	int fd = -1;

	h->sessions_touched = false;
	h->sessions_saved_ms = now;
	if (!home_path(h, path, sizeof(path), SESSIONS_FILE) ||
	    !home_path(h, tmp, sizeof(tmp), SESSIONS_FILE ".tmp")) {
		kz_log(&h->d->log, KZ_LOG_WARN, "http: the home folder's path is "
		    "too long for the sessions file");
		return;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		why = "create";
		goto fail;
	}
	fd = -1;
	fputs(SESSIONS_MAGIC "\n", f);
	for (i = 0; i < KZD_HTTP_SESSIONS_MAX; i++) {
		const struct kzd_http_session *s = &h->sessions[i];

		if (!s->used || now - s->last_ms > h->idle_ms)
			continue;
		kz_hex(hex, s->id_hash, sizeof(s->id_hash));
		fprintf(f, "%s %s %s %llu\n", hex, s->user, s->csrf,
		    (unsigned long long)last_used_s(h, s));
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		why = "write";
		goto fail;
	}
	if (fclose(f) != 0) {
		f = NULL;
		why = "write";
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		why = "rename";
		goto fail;
	}
	if ((fd = open(h->d->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return;
fail:
	kz_log(&h->d->log, KZ_LOG_WARN, "http: cannot %s %s: %s; sessions may "
	    "not survive a restart", why, tmp, strerror(errno));
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
}

void
kzd_http_sessions_tick(struct kzd_http *h)
{
	if (h->sessions_touched && uv_now(&h->d->loop) - h->sessions_saved_ms >=
	    KZD_HTTP_SESSIONS_SAVE_MS)
		kzd_http_sessions_save(h);
}
