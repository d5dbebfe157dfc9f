/*
 * Control requests: one JSON line in, one JSON line out (kizuna/control.h).
 *
 * Everything here runs on the loop's thread, inside the read callback that
 * delivered the line, so a request is always handled whole (a signal is
 * seen only after it) and SQLite is only ever used from that thread.
 * Text from the client that goes into an error message or the log is
 * reduced to printable ASCII first: it may be anything.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "daemon/kizunad.h"
#include "kizuna/views.h"
#include "kizuna/control.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/op.h"
#include "kizuna/util.h"

/* Copies at most max bytes of src into dst as printable ASCII ('?' else). */
static void
printable(char *dst, size_t dstlen, const char *src, size_t max)
{
	size_t i;

	for (i = 0; i + 1 < dstlen && i < max && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static json_t *
error_obj(const char *code, const char *message)
{
	return json_pack("{s:b,s:{s:s,s:s}}", "ok", 0, "error", "code", code,
	    "message", message);
}

char *
kzd_error_text(const char *code, const char *message)
{
	json_t *o = error_obj(code, message);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

static json_t *
fail(const char *code, const char *fmt, ...) KZ_PRINTF(2, 3);

static json_t *
fail(const char *code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_obj(code, msg);
}

json_t *
kzd_status_json(struct kzd *d)
{
	struct kz_store_stats stats;
	char hex[2 * KZ_PK_BYTES + 1];
	uint64_t tip;
	json_t *o;
	int rc;

	if ((rc = kz_store_tip(d->st, d->kp.pk, &tip, NULL)) < 0 ||
	    (rc = kz_store_stats(d->st, &stats)) < 0)
		return fail(KZ_CONTROL_E_STORE, "cannot read the store: %s",
		    kz_strerror(rc));
	kz_hex(hex, d->kp.pk, KZ_PK_BYTES);
	o = json_pack("{s:b,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:i,s:I,s:I,s:s,"
	    "s:{s:I,s:I,s:I}}",
	    "ok", 1,
	    "node_key", hex,
	    "node_name", d->cfg.node_name,
	    "feed_length", (json_int_t)tip,
	    "feeds", (json_int_t)stats.feeds,
	    "entries", (json_int_t)stats.entries,
	    "forks", (json_int_t)stats.forks,
	    "store_bytes", (json_int_t)stats.db_bytes,
	    "schema_version", stats.schema_version,
	    "uptime_s", (json_int_t)((uv_hrtime() - d->started_ns) / 1000000000u),
	    "pid", (json_int_t)getpid(),
	    "version", KZ_VERSION,
	    "control",
	    "clients", (json_int_t)d->ctl.n_clients,
	    "requests", (json_int_t)d->ctl.requests,
	    "bad_requests", (json_int_t)d->ctl.bad_requests);
	/* The home is a path, not necessarily UTF-8: left out if it is not. */
	if (o != NULL) {
		uint64_t backlog = 0;

		json_object_set_new(o, "home", json_string(d->home));
		/* Entries stored but not yet in the workspace (a catch-up). */
		if (kz_views_backlog(d->st, &backlog) == 0)
			json_object_set_new(o, "views_backlog",
			    json_integer((json_int_t)backlog));
	}
	kzd_net_status(d, o);
	kzd_rnet_status(d, o);
	kzd_courier_status(d, o);
	kzd_http_status(d, o);
	return o;
}

/*
 * A digest of every row of every table of the store (equal digests: equal
 * stored content), read on the daemon's own connection, so that a test can
 * show that hostile input changed nothing.
 */
static json_t *
do_content_digest(struct kzd *d)
{
	uint8_t dg[KZ_HASH_BYTES];
	char hex[2 * KZ_HASH_BYTES + 1];
	int rc;

	if ((rc = kz_store_content_digest(d->st, dg)) < 0)
		return fail(KZ_CONTROL_E_STORE, "cannot read the store: %s",
		    kz_strerror(rc));
	kz_hex(hex, dg, sizeof(dg));
	return json_pack("{s:b,s:s}", "ok", 1, "content_digest", hex);
}

/* Refusals of kz_store_append, as the control protocol names them. */
static json_t *
append_refused(int rc)
{
	switch (rc) {
	case KZ_ERR_FORK:
		return fail(KZ_CONTROL_E_FORKED, "not stored: this node's own feed "
		    "is forked; it must not write until an operator resolves the "
		    "fork (see 'kizuna log')");
	case KZ_ERR_FULL:
		return fail(KZ_CONTROL_E_DISK_FULL, "not stored: the disk is full "
		    "(free some space and try again)");
	case KZ_ERR_TOO_BIG:
		return fail(KZ_CONTROL_E_TOO_BIG, "not stored: the op is over %d "
		    "bytes", KZ_OP_MAX);
	default:
		return fail(KZ_CONTROL_E_STORE, "not stored: %s", kz_strerror(rc));
	}
}

int
kzd_append(struct kzd *d, const uint8_t *op, size_t len,
    enum kz_op_type type, struct kz_appended *app)
{
	int rc = kz_store_append(d->st, &d->kp, kzd_now_ms(), op, len, app);

	if (rc < 0)
		return rc;
	kzd_notify_status(d);
	kzd_net_appended(d, type);
	return 0;
}

static json_t *
do_append(struct kzd *d, struct kzd_client *from, json_t *req, bool *bad)
{
	json_t *j = json_object_get(req, "op");
	const char *b64, *end;
	struct kz_appended app;
	struct kz_op *op = NULL;
	char hex[2 * KZ_HASH_BYTES + 1];
	uint8_t *bin = NULL;
	size_t b64len, binlen;
	enum kz_op_type type;
	json_t *resp;
	int rc;

	if (!json_is_string(j)) {
		*bad = true;
		return fail(KZ_CONTROL_E_BAD_REQUEST, "append needs \"op\": the "
		    "operation's bytes in base64");
	}
	b64 = json_string_value(j);
	b64len = json_string_length(j);
	if (b64len > sodium_base64_ENCODED_LEN(KZ_OP_MAX,
	    sodium_base64_VARIANT_ORIGINAL) - 1)
		return fail(KZ_CONTROL_E_TOO_BIG, "the op is over %d bytes",
		    KZ_OP_MAX);
	if ((bin = malloc(KZ_OP_MAX)) == NULL)
		return NULL;
	if (sodium_base642bin(bin, KZ_OP_MAX, b64, b64len, NULL, &binlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != b64 + b64len) {
		*bad = true;
		resp = fail(KZ_CONTROL_E_BAD_REQUEST, "\"op\" is not base64 (the "
		    "standard alphabet, with padding)");
		goto out;
	}
	/* The store takes any bytes; what a node signs must be an operation. */
	if ((rc = kz_op_decode(&op, bin, binlen)) < 0) {
		resp = rc == KZ_ERR_TOO_BIG ?
		    fail(KZ_CONTROL_E_TOO_BIG, "the op is over %d bytes, or a field "
		    "is over its bound", KZ_OP_MAX) :
		    fail(KZ_CONTROL_E_INVALID_OP, "the op is not a valid operation: "
		    "%s", kz_strerror(rc));
		kz_log(&d->log, KZ_LOG_WARN, "control client %lu: append refused: "
		    "%s", from->id, kz_strerror(rc));
		goto out;
	}
	type = op->type;
	kz_op_free(op);
	rc = kzd_append(d, bin, binlen, type, &app);
	if (rc < 0) {
		kz_log(&d->log, rc == KZ_ERR_FORK || rc == KZ_ERR_FULL ?
		    KZ_LOG_ERR : KZ_LOG_WARN, "control client %lu: %s not stored: "
		    "%s", from->id, kz_op_type_name(type), kz_strerror(rc));
		resp = append_refused(rc);
		goto out;
	}
	kz_log(&d->log, KZ_LOG_DEBUG, "control client %lu: appended %s as seq "
	    "%llu", from->id, kz_op_type_name(type), (unsigned long long)app.seq);
	kz_hex(hex, app.hash, sizeof(app.hash));
	resp = json_pack("{s:b,s:I,s:s,s:I}", "ok", 1, "seq", (json_int_t)app.seq,
	    "hash", hex, "hlc", (json_int_t)app.hlc);
out:
	free(bin);
	return resp;
}

static json_t *
do_import_slack(struct kzd *d, json_t *req, bool *bad)
{
	json_t *j = json_object_get(req, "path");

	if (!json_is_string(j) || json_string_length(j) == 0 ||
	    strlen(json_string_value(j)) != json_string_length(j)) {
		*bad = true;
		return fail(KZ_CONTROL_E_BAD_REQUEST, "import_slack needs "
		    "\"path\": the export's absolute path");
	}
	if (json_string_length(j) >= sizeof(d->imp.path))
		return fail(KZ_CONTROL_E_CANNOT_OPEN, "the path is over %zu bytes",
		    sizeof(d->imp.path) - 1);
	return kzd_import_start(d, json_string_value(j), bad);
}

static json_t *
do_import_status(struct kzd *d, json_t *req, bool *bad)
{
	json_t *j = json_object_get(req, "problems_from");

	if (j != NULL && (!json_is_integer(j) || json_integer_value(j) < 0)) {
		*bad = true;
		return fail(KZ_CONTROL_E_BAD_REQUEST, "\"problems_from\" is a "
		    "count, from 0");
	}
	return kzd_import_status(d, j != NULL ?
	    (size_t)json_integer_value(j) : 0);
}

char *
kzd_request(struct kzd *d, struct kzd_client *from, const char *line,
    size_t len, bool *bad)
{
	json_error_t jerr;
	json_t *req, *resp = NULL, *cmd, *id;
	char shown[80];
	char *text;

	*bad = false;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL) {
		*bad = true;
		printable(shown, sizeof(shown), jerr.text, sizeof(jerr.text));
		resp = fail(KZ_CONTROL_E_BAD_REQUEST, "malformed JSON at column %d: "
		    "%s", jerr.column, shown);
	} else if (!json_is_object(req)) {
		*bad = true;
		resp = fail(KZ_CONTROL_E_BAD_REQUEST, "a request is a JSON object");
	} else if (!json_is_string(cmd = json_object_get(req, "cmd"))) {
		*bad = true;
		resp = fail(KZ_CONTROL_E_BAD_REQUEST, "the request has no \"cmd\" "
		    "string");
	} else if (strcmp(json_string_value(cmd), "ping") == 0) {
		resp = json_pack("{s:b}", "ok", 1);
	} else if (strcmp(json_string_value(cmd), "status") == 0) {
		resp = kzd_status_json(d);
	} else if (strcmp(json_string_value(cmd), "append") == 0) {
		resp = do_append(d, from, req, bad);
	} else if (strcmp(json_string_value(cmd), "content_digest") == 0) {
		resp = do_content_digest(d);
	} else if (strcmp(json_string_value(cmd), "import_slack") == 0) {
		resp = do_import_slack(d, req, bad);
	} else if (strcmp(json_string_value(cmd), "import_status") == 0) {
		resp = do_import_status(d, req, bad);
	} else {
		printable(shown, sizeof(shown), json_string_value(cmd), 40);
		resp = fail(KZ_CONTROL_E_UNKNOWN_COMMAND, "unknown command '%s' "
		    "(ping, status, append, content_digest, import_slack or "
		    "import_status)", shown);
	}
	if (*bad) {
		json_t *m = json_object_get(json_object_get(resp, "error"),
		    "message");

		kz_log(&d->log, KZ_LOG_WARN, "control client %lu: bad request: %s",
		    from->id, m != NULL ? json_string_value(m) : "?");
	}
	if (resp != NULL && json_is_object(req) &&
	    (id = json_object_get(req, "id")) != NULL)
		json_object_set(resp, "id", id);
	text = resp != NULL ? json_dumps(resp, JSON_COMPACT) : NULL;
	json_decref(resp);
	json_decref(req);
	return text;
}
