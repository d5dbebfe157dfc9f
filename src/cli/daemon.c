/*
 * The command line's side of the control socket (kizuna/control.h).
 *
 * While kizunad runs, it is the node's writer: an entry it appends is one it
 * can push to its peers at once, so commands that write hand their op bytes
 * to it.  When no kizunad answers (no socket file, or a stale one), they
 * append to the store directly, as before.  The calls block, with a bound
 * (CLI_DAEMON_TIMEOUT_S) on each send and receive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "kizuna/control.h"
#include "kizuna/err.h"
#include "kizuna/util.h"

#define CLI_DAEMON_TIMEOUT_S 60

/*
 * Connects to the node's kizunad.  Returns 0 and *fd, 1 if none runs, or a
 * negative KZ_ERR_* after printing why it could not be asked.
 */
static int
daemon_connect(struct cli *c, int *fd)
{
	struct timeval tv = { .tv_sec = CLI_DAEMON_TIMEOUT_S };
	struct sockaddr_un sun;
	char path[4096];
	int s, e;

	/* kizunad refuses to start on a path that does not fit: none runs. */
	if (kz_config_home_path(path, sizeof(path), c->home,
	    c->cfg.control_socket) < 0 || strlen(path) >= sizeof(sun.sun_path))
		return 1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		cli_warn(c, "cannot create a socket: %s", strerror(errno));
		return KZ_ERR_IO;
	}
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		e = errno;
		close(s);
		if (e == ENOENT || e == ECONNREFUSED)
			return 1;
		cli_warn(c, "cannot reach kizunad at %s: %s", path, strerror(e));
		return KZ_ERR_IO;
	}
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		cli_warn(c, "cannot set a timeout on the control socket: %s",
		    strerror(errno));
		close(s);
		return KZ_ERR_IO;
	}
	*fd = s;
	return 0;
}

static int
send_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Sends req (borrowed) as one line and reads the one answer line into
 * *resp (owned by the caller).  after_send says what a lost answer means
 * for the caller.  Returns 0 or a negative KZ_ERR_* after printing why.
 */
static int
daemon_call(struct cli *c, int fd, json_t *req, json_t **resp,
    const char *after_send)
{
	char *text = json_dumps(req, JSON_COMPACT), *buf = NULL, *nl = NULL, *p;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	ssize_t n;
	int rc = KZ_ERR_IO;

	*resp = NULL;
	if (text == NULL)
		return KZ_ERR_NOMEM;
	if (send_all(fd, text, strlen(text)) < 0 || send_all(fd, "\n", 1) < 0) {
		cli_warn(c, "cannot send to kizunad: %s", strerror(errno));
		goto out;
	}
	while (nl == NULL) {
		if (cap - len < 4096) {
			if (cap > KZ_CONTROL_LINE_MAX) {
				cli_warn(c, "kizunad's answer is over %d bytes",
				    KZ_CONTROL_LINE_MAX);
				rc = KZ_ERR_MALFORMED;
				goto out;
			}
			cap = cap == 0 ? 16384 : 2 * cap;
			if ((p = realloc(buf, cap)) == NULL) {
				rc = KZ_ERR_NOMEM;
				goto out;
			}
			buf = p;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				cli_warn(c, "kizunad did not answer within %d s%s",
				    CLI_DAEMON_TIMEOUT_S, after_send);
			else
				cli_warn(c, "kizunad closed the connection without "
				    "answering%s", after_send);
			goto out;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	*resp = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
	if (*resp == NULL || !json_is_object(*resp) ||
	    !json_is_boolean(json_object_get(*resp, "ok"))) {
		cli_warn(c, "kizunad sent a malformed answer%s", after_send);
		json_decref(*resp);
		*resp = NULL;
		rc = KZ_ERR_MALFORMED;
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(buf);
	return rc;
}

/* Prints kizunad's refusal in resp and returns the matching KZ_ERR_*. */
static int
daemon_refused(struct cli *c, json_t *resp)
{
	static const struct {
		const char *code;
		int err;
	} map[] = {
		{ KZ_CONTROL_E_FORKED, KZ_ERR_FORK },
		{ KZ_CONTROL_E_DISK_FULL, KZ_ERR_FULL },
		{ KZ_CONTROL_E_TOO_BIG, KZ_ERR_TOO_BIG },
		{ KZ_CONTROL_E_INVALID_OP, KZ_ERR_MALFORMED },
		{ KZ_CONTROL_E_BAD_REQUEST, KZ_ERR_INVAL },
		{ KZ_CONTROL_E_UNKNOWN_COMMAND, KZ_ERR_INVAL },
		{ KZ_CONTROL_E_STORE, KZ_ERR_DB },
	};
	json_t *e = json_object_get(resp, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	size_t i;

	cli_warn(c, "kizunad: %s", msg != NULL ? msg : "refused, giving no reason");
	for (i = 0; code != NULL && i < CLI_NELEM(map); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].err;
	return KZ_ERR_IO;
}

int
cli_daemon_append(struct cli *c, const uint8_t *op, size_t len,
    struct kz_appended *out)
{
	static const char lost[] = "; the entry may have been stored: see "
	    "'kizuna log'";
	size_t b64len = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_ORIGINAL);
	json_t *req = NULL, *resp = NULL, *seq, *hlc;
	const char *hash;
	char *b64 = NULL;
	int fd = -1, rc;

	if ((rc = daemon_connect(c, &fd)) != 0)
		return rc;
	rc = KZ_ERR_NOMEM;
	if ((b64 = malloc(b64len)) == NULL)
		goto out;
	sodium_bin2base64(b64, b64len, op, len, sodium_base64_VARIANT_ORIGINAL);
	if ((req = json_pack("{s:s,s:s}", "cmd", "append", "op", b64)) == NULL)
		goto out;
	if ((rc = daemon_call(c, fd, req, &resp, lost)) < 0)
		goto out;
	if (!json_is_true(json_object_get(resp, "ok"))) {
		rc = daemon_refused(c, resp);
		goto out;
	}
	seq = json_object_get(resp, "seq");
	hlc = json_object_get(resp, "hlc");
	hash = json_string_value(json_object_get(resp, "hash"));
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
	    !json_is_integer(hlc) || json_integer_value(hlc) < 0 ||
	    hash == NULL || strlen(hash) != 2 * KZ_HASH_BYTES ||
	    kz_unhex(out->hash, KZ_HASH_BYTES, hash) < 0) {
		cli_warn(c, "kizunad's answer lacks the entry's seq, hash or hlc%s",
		    lost);
		rc = KZ_ERR_MALFORMED;
		goto out;
	}
	out->seq = (uint64_t)json_integer_value(seq);
	out->hlc = (uint64_t)json_integer_value(hlc);
	rc = 0;
out:
	if (rc == KZ_ERR_NOMEM)
		cli_warn(c, "out of memory");
	json_decref(resp);
	json_decref(req);
	free(b64);
	close(fd);
	return rc;
}

int
cli_daemon_status(struct cli *c, json_t **out)
{
	json_t *req, *resp = NULL;
	int fd = -1, rc;

	*out = NULL;
	if ((rc = daemon_connect(c, &fd)) != 0)
		return rc;
	if ((req = json_pack("{s:s}", "cmd", "status")) == NULL) {
		close(fd);
		cli_warn(c, "out of memory");
		return KZ_ERR_NOMEM;
	}
	rc = daemon_call(c, fd, req, &resp, "");
	json_decref(req);
	close(fd);
	if (rc < 0)
		return rc;
	if (!json_is_true(json_object_get(resp, "ok"))) {
		rc = daemon_refused(c, resp);
		json_decref(resp);
		return rc;
	}
	*out = resp;
	return 0;
}

int
cli_daemon_call(struct cli *c, json_t *req, json_t **resp)
{
	int fd = -1, rc;

	*resp = NULL;
	if ((rc = daemon_connect(c, &fd)) != 0)
		return rc;
	rc = daemon_call(c, fd, req, resp, "");
	close(fd);
	return rc;
}
