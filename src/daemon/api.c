/*
 * The JSON API under /api (docs/api.md): routing and the endpoints.
 *
 * Every request but POST /api/login needs a live session (401 otherwise);
 * every request that changes something needs the session's CSRF token as
 * well (403), checked before its body is read.  Writes are operations
 * appended to this node's feed by kzd_append(), exactly as the control
 * socket's append does, so they are persisted before the answer and pushed
 * to every link at once.  Reads come from the workspace views.  Ids in
 * paths are 64 hex digits; text from the client that goes into a message
 * is only ever JSON-encoded, never interpreted.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/http.h"
#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/mesh.h"
#include "kizuna/op.h"
#include "kizuna/util.h"
#include "kizuna/views.h"

/* Messages in one page: by default, and at most. */
#define PAGE_DEFAULT 50
#define PAGE_MAX 200
/* The urgent banner: how many unacknowledged messages an answer lists. */
#define URGENT_DEFAULT 20
#define URGENT_MAX 100

enum method { M_GET, M_POST, M_OTHER };

static enum method
method_of(h2o_req_t *req)
{
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
		return M_GET;
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
		return M_POST;
	return M_OTHER;
}

static json_t *
hex_json(const uint8_t *b, size_t n)
{
	char hex[2 * KZ_ID_BYTES + 1];

	kz_hex(hex, b, n);
	return json_string(hex);
}

/* ------------------------------------------------------------ JSON */

json_t *
kzd_api_user_json(const struct kzd_http_user *u)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "id", u->id, "display_name",
	    u->display_name, "department", u->department, "role",
	    kz_role_name(u->role));
}

static void
cursor_of(char out[KZD_HTTP_CURSOR_CHARS + 1], const struct kz_view_message *m)
{
	struct kz_view_cursor c;

	c.hlc = m->hlc;
	memcpy(c.author, m->author, 32);
	c.seq = m->seq;
	kzd_http_cursor(out, &c);
}

/* An imported message's file references: what and where, never content. */
static json_t *
files_json(const struct kz_view_message *m)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < m->n_files; i++) {
		const struct kz_view_file *f = &m->files[i];

		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:I,s:s}", "name",
		    f->name, "title", f->title, "type", f->mimetype, "size",
		    (json_int_t)f->size, "url", f->url));
	}
	return a;
}

static json_t *
message_json(const struct kz_view_message *m)
{
	char cursor[KZD_HTTP_CURSOR_CHARS + 1];
	json_t *o;

	cursor_of(cursor, m);
	o = json_pack("{s:o,s:o,s:s,s:o,s:I,s:I,s:I,s:s,s:s,s:b,s:b,s:I,s:I,"
	    "s:I,s:s}",
	    "id", hex_json(m->id, KZ_ID_BYTES),
	    "channel", hex_json(m->channel, KZ_ID_BYTES),
	    "user", m->actor,
	    "node", hex_json(m->author, 32),
	    "seq", (json_int_t)m->seq,
	    "hlc", (json_int_t)m->hlc,
	    "time_ms", (json_int_t)kz_hlc_ms(m->hlc),
	    "priority", kz_priority_name(m->priority),
	    "text", m->text,
	    "edited", m->edited,
	    "deleted", m->deleted,
	    "reply_count", (json_int_t)m->reply_count,
	    "acks", (json_int_t)m->acks,
	    "reactions", (json_int_t)m->reactions,
	    "cursor", cursor);
	if (o != NULL) {
		json_object_set_new(o, "thread_root", m->has_thread_root ?
		    hex_json(m->thread_root, KZ_ID_BYTES) : json_null());
		json_object_set_new(o, "broadcast", json_boolean(m->broadcast));
		json_object_set_new(o, "system", json_boolean(m->system));
		json_object_set_new(o, "subtype", json_string(m->subtype));
		json_object_set_new(o, "pinned", json_boolean(m->pinned));
		json_object_set_new(o, "files", files_json(m));
	}
	return o;
}

/* ------------------------------------------------------------ lookups */

static json_t *
channel_json(const struct kz_view_channel *c)
{
	return json_pack("{s:o,s:s,s:s,s:b,s:I}", "id",
	    hex_json(c->id, KZ_ID_BYTES), "name", c->name, "topic", c->topic,
	    "archived", c->archived, "messages", (json_int_t)c->messages);
}

/*
 * Whether the channel whose id is the path segment seg exists (into id):
 * 0, or -1 after answering 400 bad_id or 404 unknown_channel.  One lookup
 * in the channels' table: a channel's message count is not read here (it
 * costs a count over the channel's messages).
 */
static int
channel_get(struct kzd_http *h, h2o_req_t *req, const char *seg, size_t len,
    uint8_t id[KZ_ID_BYTES])
{
	uint8_t found[KZ_ID_BYTES];
	char hex[2 * KZ_ID_BYTES + 1];
	int rc;

	if (!kzd_http_unhex(id, seg, len, KZ_ID_BYTES)) {
		kzd_http_error(req, 400, "bad_id", "a channel id is 64 hex digits");
		return -1;
	}
	kz_hex(hex, id, KZ_ID_BYTES);
	rc = kz_views_channel_find(h->d->st, hex, found);
	if (rc == 0 && memcmp(found, id, KZ_ID_BYTES) == 0)
		return 0;
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND && rc != KZ_ERR_EXISTS) {
		kzd_http_error(req, 500, "store", "cannot read the channels: %s",
		    kz_strerror(rc));
		return -1;
	}
	kzd_http_error(req, 404, "unknown_channel", "no such channel");
	return -1;
}

struct msg_find {
	const uint8_t *id;
	struct kz_view_message m;	/* its strings are not kept */
	json_t *root;
	json_t *replies;		/* NULL: the root only */
};

static int
on_msg_find(void *ctx, const struct kz_view_message *m)
{
	struct msg_find *f = ctx;

	if (memcmp(m->id, f->id, KZ_ID_BYTES) == 0) {
		f->m = *m;
		f->m.text = f->m.actor = f->m.subtype = NULL;
		f->m.files = NULL;
		f->m.n_files = 0;
		f->root = message_json(m);
		return f->replies == NULL ? 1 : 0;
	}
	if (f->root == NULL)
		return 1;	/* replies without their root: not found */
	json_array_append_new(f->replies, message_json(m));
	return 0;
}

/*
 * The message id (its view in f->m, its JSON in f->root and, with
 * f->replies set, its replies appended there).  Returns 0, or -1 after
 * answering 404 unknown_message (or 500).
 */
static int
message_read(struct kzd_http *h, h2o_req_t *req, const uint8_t id[KZ_ID_BYTES],
    struct msg_find *f)
{
	int rc;

	f->id = id;
	f->root = NULL;
	rc = kz_views_thread(h->d->st, id, on_msg_find, f);
	if (rc < 0) {
		json_decref(f->root);
		f->root = NULL;
		kzd_http_error(req, 500, "store", "cannot read the message: %s",
		    kz_strerror(rc));
		return -1;
	}
	if (f->root == NULL) {
		kzd_http_error(req, 404, "unknown_message", "no such message");
		return -1;
	}
	return 0;
}

/* message_read of the id written in hex in seg (else 400 bad_id). */
static int
message_get(struct kzd_http *h, h2o_req_t *req, const char *seg, size_t len,
    uint8_t id[KZ_ID_BYTES], struct msg_find *f)
{
	if (!kzd_http_unhex(id, seg, len, KZ_ID_BYTES)) {
		kzd_http_error(req, 400, "bad_id", "a message id is 64 hex digits");
		return -1;
	}
	return message_read(h, req, id, f);
}

/* ------------------------------------------------------------ writes */

/*
 * Encodes op (its actor the signed-in user) and appends it.  Returns 0 and
 * the entry's hash in id, or -1 after answering.
 */
static int
append(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u,
    struct kz_op *op, uint8_t id[KZ_HASH_BYTES])
{
	struct kz_appended app;
	uint8_t *bin = NULL;
	size_t len;
	int rc;

	op->actor = u->id;
	if ((rc = kz_op_encode(&bin, &len, op)) < 0) {
		if (rc == KZ_ERR_BAD_UTF8)
			kzd_http_error(req, 400, "bad_utf8", "text must be valid "
			    "UTF-8");
		else
			kzd_http_error(req, 400, "invalid_field", "refused: %s",
			    kz_strerror(rc));
		return -1;
	}
	rc = kzd_append(h->d, bin, len, op->type, &app);
	free(bin);
	if (rc < 0) {
		kz_log(&h->d->log, rc == KZ_ERR_FORK || rc == KZ_ERR_FULL ?
		    KZ_LOG_ERR : KZ_LOG_WARN, "http: %s of %s not stored: %s",
		    kz_op_type_name(op->type), u->id, kz_strerror(rc));
		if (rc == KZ_ERR_FULL)
			kzd_http_error(req, 507, "disk_full", "not stored: the "
			    "node's disk is full");
		else if (rc == KZ_ERR_FORK)
			kzd_http_error(req, 503, "forked", "not stored: this node's "
			    "feed is forked; an operator must resolve it");
		else
			kzd_http_error(req, 500, "store", "not stored: %s",
			    kz_strerror(rc));
		return -1;
	}
	memcpy(id, app.hash, KZ_HASH_BYTES);
	return 0;
}

/* A string member of body: NULL if absent; *bad if present but not one. */
static const char *
str_field(json_t *body, const char *name, bool *bad)
{
	json_t *j = json_object_get(body, name);

	if (j == NULL || json_is_null(j))
		return NULL;
	if (!json_is_string(j) ||
	    strlen(json_string_value(j)) != json_string_length(j)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(j);
}

/* ------------------------------------------------------------ endpoints */

/*
 * Answers {"KEY": a} with 200, or, when the view could not be read (rc < 0),
 * 500 "store" naming what; takes a either way.
 */
static void
answer_list(h2o_req_t *req, int rc, const char *key, json_t *a,
    const char *what)
{
	if (rc < 0) {
		json_decref(a);
		kzd_http_error(req, 500, "store", "cannot read %s: %s", what,
		    kz_strerror(rc));
		return;
	}
	kzd_http_json(req, 200, json_pack("{s:o}", key, a));
}

static void
get_me(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u)
{
	kzd_http_json(req, 200, json_pack("{s:o,s:s}", "user",
	    kzd_api_user_json(u), "csrf", u->s->csrf));
}

static int
on_channel(void *ctx, const struct kz_view_channel *c)
{
	return json_array_append_new(ctx, channel_json(c)) < 0 ? KZ_ERR_NOMEM : 0;
}

/*
 * The channel list counts each channel's messages, which costs a count
 * over them (0.6 s for a channel of a million): the answer is kept until
 * the store changes, so pages that poll it cost nothing in between.
 */
static void
get_channels(struct kzd_http *h, h2o_req_t *req)
{
	uint64_t changes = kz_store_changes(h->d->st);
	json_t *a;
	int rc;

	if (h->channels_cache == NULL || h->channels_changes != changes) {
		json_decref(h->channels_cache);
		h->channels_cache = NULL;
		a = json_array();
		if ((rc = kz_views_channels(h->d->st, on_channel, a)) < 0) {
			json_decref(a);
			kzd_http_error(req, 500, "store", "cannot read the "
			    "channels: %s", kz_strerror(rc));
			return;
		}
		h->channels_cache = json_pack("{s:o}", "channels", a);
		h->channels_changes = changes;
	}
	kzd_http_json(req, 200, json_incref(h->channels_cache));
}

/* The value of key in req's query string (undecoded), or NULL. */
static const char *
query_get(h2o_req_t *req, const char *key, size_t *len)
{
	if (req->query_at == SIZE_MAX)
		return NULL;
	return kzd_http_query(req->path.base + req->query_at + 1,
	    req->path.len - req->query_at - 1, key, len);
}

struct page {
	json_t *a;
	uint64_t n;
};

static int
on_page(void *ctx, const struct kz_view_message *m)
{
	struct page *p = ctx;

	p->n++;
	return json_array_append_new(p->a, message_json(m)) < 0 ?
	    KZ_ERR_NOMEM : 0;
}

static void
get_messages(struct kzd_http *h, h2o_req_t *req, const char *seg, size_t len)
{
	uint8_t id[KZ_ID_BYTES];
	struct kz_view_cursor cur, *before = NULL;
	struct page p = { NULL, 0 };
	const char *v;
	uint64_t limit = PAGE_DEFAULT;
	size_t vlen;
	json_t *next = NULL;
	int rc;

	if (channel_get(h, req, seg, len, id) < 0)
		return;
	if ((v = query_get(req, "limit", &vlen)) != NULL &&
	    kzd_http_parse_limit(v, vlen, PAGE_MAX, &limit) < 0) {
		kzd_http_error(req, 400, "bad_limit", "limit is 1 to %d", PAGE_MAX);
		return;
	}
	if ((v = query_get(req, "before", &vlen)) != NULL) {
		if (kzd_http_parse_cursor(v, vlen, &cur) < 0) {
			kzd_http_error(req, 400, "bad_cursor", "before is a cursor "
			    "from a message or a page's \"next\"");
			return;
		}
		before = &cur;
	}
	p.a = json_array();
	/* One more than asked: whether an older page exists. */
	rc = kz_views_messages_page(h->d->st, id, before, limit + 1, on_page, &p);
	if (rc < 0) {
		json_decref(p.a);
		kzd_http_error(req, 500, "store", "cannot read the messages: %s",
		    kz_strerror(rc));
		return;
	}
	if (p.n > limit) {
		json_array_remove(p.a, limit);
		next = json_object_get(json_array_get(p.a, limit - 1), "cursor");
		json_incref(next);
	}
	kzd_http_json(req, 200, json_pack("{s:o,s:o}", "messages", p.a, "next",
	    next != NULL ? next : json_null()));
}

static void
post_message(struct kzd_http *h, h2o_req_t *req,
    const struct kzd_http_user *u, const char *seg, size_t len)
{
	uint8_t chan[KZ_ID_BYTES], root[KZ_ID_BYTES], id[KZ_ID_BYTES];
	struct msg_find f = { 0 };
	struct kz_op op;
	const char *text, *prio, *rs;
	bool bad = false;
	json_t *body;

	if (channel_get(h, req, seg, len, chan) < 0)
		return;
	if ((body = kzd_http_body(req, false)) == NULL)
		return;
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_POST;
	op.u.post.channel = chan;
	text = str_field(body, "text", &bad);
	prio = str_field(body, "priority", &bad);
	rs = str_field(body, "thread_root", &bad);
	if (bad) {
		kzd_http_error(req, 400, "invalid_field", "text, priority and "
		    "thread_root are strings");
		goto out;
	}
	if (text == NULL || text[0] == '\0') {
		kzd_http_error(req, 400, "missing_field", "a post needs a "
		    "non-empty \"text\"");
		goto out;
	}
	op.u.post.text = text;
	if (prio != NULL && kz_priority_parse(&op.u.post.priority, prio) < 0) {
		kzd_http_error(req, 400, "invalid_field", "priority is normal, "
		    "urgent or emergency");
		goto out;
	}
	if (rs != NULL) {
		if (message_get(h, req, rs, strlen(rs), root, &f) < 0)
			goto out;
		json_decref(f.root);
		if (memcmp(f.m.channel, chan, KZ_ID_BYTES) != 0 ||
		    f.m.has_thread_root) {
			kzd_http_error(req, 400, "invalid_field", "thread_root must "
			    "be a top-level message of this channel");
			goto out;
		}
		op.u.post.thread_root = root;
	}
	if (append(h, req, u, &op, id) < 0)
		goto out;
	/* Applied in the append's transaction: readable at once. */
	memset(&f, 0, sizeof(f));
	if (message_read(h, req, id, &f) == 0)
		kzd_http_json(req, 201, json_pack("{s:o}", "message", f.root));
out:
	json_decref(body);
}

static void
get_thread(struct kzd_http *h, h2o_req_t *req, const char *seg, size_t len)
{
	uint8_t id[KZ_ID_BYTES];
	struct msg_find f = { 0 };

	f.replies = json_array();
	if (message_get(h, req, seg, len, id, &f) < 0) {
		json_decref(f.replies);
		return;
	}
	kzd_http_json(req, 200, json_pack("{s:o,s:o}", "root", f.root,
	    "replies", f.replies));
}

static int
on_ack(void *ctx, const char *user)
{
	return json_array_append_new(ctx, json_string(user)) < 0 ?
	    KZ_ERR_NOMEM : 0;
}

/* {"message": ..., "acks": [...]}: the message after a write. */
static void
answer_message(struct kzd_http *h, h2o_req_t *req, const uint8_t id[KZ_ID_BYTES])
{
	struct msg_find f = { 0 };
	json_t *acks = json_array();
	int rc;

	if (message_read(h, req, id, &f) < 0) {
		json_decref(acks);
		return;
	}
	if ((rc = kz_views_acks(h->d->st, id, on_ack, acks)) < 0) {
		json_decref(acks);
		json_decref(f.root);
		kzd_http_error(req, 500, "store", "cannot read the "
		    "acknowledgements: %s", kz_strerror(rc));
		return;
	}
	kzd_http_json(req, 200, json_pack("{s:o,s:o}", "message", f.root,
	    "acks", acks));
}

struct acked {
	const char *user;
	bool yes;
};

static int
on_acked(void *ctx, const char *user)
{
	struct acked *a = ctx;

	if (strcmp(user, a->user) == 0) {
		a->yes = true;
		return 1;
	}
	return 0;
}

static void
post_ack(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u,
    const char *seg, size_t len)
{
	uint8_t id[KZ_ID_BYTES], eid[KZ_HASH_BYTES];
	struct msg_find f = { 0 };
	struct acked a = { u->id, false };
	struct kz_op op;
	json_t *body;
	int rc;

	if (message_get(h, req, seg, len, id, &f) < 0)
		return;
	json_decref(f.root);
	/* An empty body, or any JSON object: an ack names only its target. */
	if ((body = kzd_http_body(req, true)) == NULL)
		return;
	json_decref(body);
	/* Acknowledgements are a grow-only set: a second one adds nothing. */
	if ((rc = kz_views_acks(h->d->st, id, on_acked, &a)) < 0) {
		kzd_http_error(req, 500, "store", "cannot read the "
		    "acknowledgements: %s", kz_strerror(rc));
		return;
	}
	if (!a.yes) {
		memset(&op, 0, sizeof(op));
		op.type = KZ_OP_ACK;
		op.u.ack.target = id;
		if (append(h, req, u, &op, eid) < 0)
			return;
	}
	answer_message(h, req, id);
}

/* GET .../ack: the message and who has acknowledged it; stores nothing. */
static void
get_ack(struct kzd_http *h, h2o_req_t *req, const char *seg, size_t len)
{
	uint8_t id[KZ_ID_BYTES];
	struct msg_find f = { 0 };

	if (message_get(h, req, seg, len, id, &f) < 0)
		return;
	json_decref(f.root);
	answer_message(h, req, id);
}

/*
 * GET /api/urgent?limit=N: the urgent and emergency messages the user has
 * not acknowledged (nor written, nor deleted), newest first: the banner.
 */
static void
get_urgent(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u)
{
	struct page p = { NULL, 0 };
	uint64_t limit = URGENT_DEFAULT;
	const char *v;
	size_t vlen;

	if ((v = query_get(req, "limit", &vlen)) != NULL &&
	    kzd_http_parse_limit(v, vlen, URGENT_MAX, &limit) < 0) {
		kzd_http_error(req, 400, "bad_limit", "limit is 1 to %d",
		    URGENT_MAX);
		return;
	}
	p.a = json_array();
	answer_list(req, kz_views_unacked(h->d->st, u->id, limit, on_page, &p),
	    "messages", p.a, "the messages");
}

static void
post_react(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u,
    const char *seg, size_t len)
{
	uint8_t id[KZ_ID_BYTES], eid[KZ_HASH_BYTES];
	struct msg_find f = { 0 };
	struct kz_op op;
	const char *emoji;
	bool bad = false;
	json_t *body, *on;

	if (message_get(h, req, seg, len, id, &f) < 0)
		return;
	json_decref(f.root);
	if ((body = kzd_http_body(req, false)) == NULL)
		return;
	emoji = str_field(body, "emoji", &bad);
	on = json_object_get(body, "on");
	if (bad || (on != NULL && !json_is_boolean(on))) {
		kzd_http_error(req, 400, "invalid_field", "emoji is a string and "
		    "on a boolean");
		goto out;
	}
	if (emoji == NULL || emoji[0] == '\0') {
		kzd_http_error(req, 400, "missing_field", "a reaction needs a "
		    "non-empty \"emoji\"");
		goto out;
	}
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_REACT;
	op.u.react.target = id;
	op.u.react.emoji = emoji;
	op.u.react.on = on == NULL || json_is_true(on);
	if (append(h, req, u, &op, eid) == 0)
		answer_message(h, req, id);
out:
	json_decref(body);
}

/*
 * Whether u may edit or delete message f (the workspace's rule: its author
 * or an admin); if not, answers 403 forbidden.  A deleted message is 409
 * deleted: the tombstone beats every edit, so nothing would change.
 */
static bool
may_change(h2o_req_t *req, const struct kzd_http_user *u,
    const struct msg_find *f, const char *what)
{
	json_t *author = json_object_get(f->root, "user");
	json_t *deleted = json_object_get(f->root, "deleted");

	if (json_is_true(deleted)) {
		kzd_http_error(req, 409, "deleted", "the message is deleted");
		return false;
	}
	if (u->role != KZ_ROLE_ADMIN &&
	    strcmp(json_string_value(author), u->id) != 0) {
		kzd_http_error(req, 403, "forbidden", "only the author or an admin "
		    "may %s a message", what);
		return false;
	}
	return true;
}

static void
post_edit(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u,
    const char *seg, size_t len)
{
	uint8_t id[KZ_ID_BYTES], eid[KZ_HASH_BYTES];
	struct msg_find f = { 0 };
	struct kz_op op;
	const char *text;
	bool bad = false;
	json_t *body = NULL;

	if (message_get(h, req, seg, len, id, &f) < 0)
		return;
	if (!may_change(req, u, &f, "edit"))
		goto out;
	if ((body = kzd_http_body(req, false)) == NULL)
		goto out;
	text = str_field(body, "text", &bad);
	if (bad) {
		kzd_http_error(req, 400, "invalid_field", "text is a string");
		goto out;
	}
	if (text == NULL || text[0] == '\0') {
		kzd_http_error(req, 400, "missing_field", "an edit needs a "
		    "non-empty \"text\"");
		goto out;
	}
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_EDIT;
	op.u.edit.target = id;
	op.u.edit.text = text;
	if (append(h, req, u, &op, eid) == 0)
		answer_message(h, req, id);
out:
	json_decref(f.root);
	json_decref(body);
}

static void
post_delete(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u,
    const char *seg, size_t len)
{
	uint8_t id[KZ_ID_BYTES], eid[KZ_HASH_BYTES];
	struct msg_find f = { 0 };
	struct kz_op op;
	json_t *body;

	if (message_get(h, req, seg, len, id, &f) < 0)
		return;
	if (!may_change(req, u, &f, "delete")) {
		json_decref(f.root);
		return;
	}
	json_decref(f.root);
	if ((body = kzd_http_body(req, true)) == NULL)
		return;
	json_decref(body);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_DELETE;
	op.u.del.target = id;
	if (append(h, req, u, &op, eid) == 0)
		answer_message(h, req, id);
}

static int
on_node(void *ctx, const struct kz_view_node *n)
{
	json_t *o = json_pack("{s:o,s:s,s:b,s:b,s:I}", "key",
	    hex_json(n->key, 32), "name", n->name, "admin", n->admin,
	    "revoked", n->revoked, "last_seq", (json_int_t)n->last_seq);

	return json_array_append_new(ctx, o) < 0 ? KZ_ERR_NOMEM : 0;
}

/*
 * One node's latest link report, for the map: {"node", "reported_at" (unix
 * s: its entry's hlc), "links": [{"peer", "transport", "up", "since"}]}.
 * A link's since is null where the report did not know it.
 */
static int
on_link_report(void *ctx, const struct kz_view_link_report *r)
{
	json_t *links = json_array(), *o;
	size_t i;

	if (links == NULL)
		return KZ_ERR_NOMEM;
	for (i = 0; i < r->n_links; i++) {
		const struct kz_report_link *l = &r->links[i];
		json_t *lo = json_pack("{s:o,s:s,s:b,s:o}", "peer",
		    hex_json(l->peer, 32), "transport", l->transport, "up", l->up,
		    "since", l->since_s != 0 ?
		    json_integer((json_int_t)l->since_s) : json_null());

		if (lo != NULL && l->lag_s != 0)
			json_object_set_new(lo, "lag_s",
			    json_integer((json_int_t)l->lag_s));
		if (json_array_append_new(links, lo) < 0) {
			json_decref(links);
			return KZ_ERR_NOMEM;
		}
	}
	o = json_pack("{s:o,s:I,s:o}", "node", hex_json(r->node, 32),
	    "reported_at", (json_int_t)(kz_hlc_ms(r->hlc) / 1000), "links", links);
	return json_array_append_new(ctx, o) < 0 ? KZ_ERR_NOMEM : 0;
}

static void
get_status(struct kzd_http *h, h2o_req_t *req)
{
	json_t *o = kzd_status_json(h->d), *nodes;
	int rc;

	if (o != NULL && json_is_false(json_object_get(o, "ok"))) {
		json_decref(o);
		kzd_http_error(req, 500, "store", "cannot read the store");
		return;
	}
	/* The server's folders are none of the browser's business. */
	json_object_del(o, "ok");
	json_object_del(o, "home");
	/* The mesh's nodes, for the map beside the links. */
	nodes = json_array();
	if ((rc = kz_views_nodes(h->d->st, on_node, nodes)) < 0) {
		json_decref(nodes);
		json_decref(o);
		kzd_http_error(req, 500, "store", "cannot read the nodes: %s",
		    kz_strerror(rc));
		return;
	}
	json_object_set_new(o, "nodes", nodes);
	/* Every node's links as it last reported them: the whole mesh. */
	nodes = json_array();
	if ((rc = kz_views_link_reports(h->d->st, on_link_report, nodes)) < 0) {
		json_decref(nodes);
		json_decref(o);
		kzd_http_error(req, 500, "store", "cannot read the link reports: %s",
		    kz_strerror(rc));
		return;
	}
	json_object_set_new(o, "mesh_links", nodes);
	kzd_http_json(req, 200, o);
}

/* ------------------------------------------------------------ search */

/*
 * kz_views_search marks the matches in a snippet with these; the answer
 * splits the snippet on them into segments that a client shows as text,
 * the hits highlighted, so no markup ever travels.  (A message that holds
 * the same control bytes can at worst move a highlight.)
 */
#define MARK_OPEN "\x01\x02"
#define MARK_CLOSE "\x02\x01"

/* The snippet as [{"text":...,"hit":bool}, ...]. */
static json_t *
snippet_json(const char *s)
{
	json_t *a = json_array();
	bool hit = false;
	const char *mark;

	while (a != NULL && *s != '\0') {
		mark = strstr(s, hit ? MARK_CLOSE : MARK_OPEN);
		if (mark == NULL)
			mark = s + strlen(s);
		if (mark > s)
			json_array_append_new(a, json_pack("{s:s%,s:b}", "text", s,
			    (size_t)(mark - s), "hit", hit));
		if (*mark == '\0')
			break;
		s = mark + 2;
		hit = !hit;
	}
	return a;
}

static int
on_hit(void *ctx, const struct kz_search_hit *hit)
{
	json_t *m = message_json(&hit->m);

	if (m == NULL)
		return KZ_ERR_NOMEM;
	json_object_set_new(m, "snippet", snippet_json(hit->snippet));
	return json_array_append_new(ctx, m) < 0 ? KZ_ERR_NOMEM : 0;
}

/* A query parameter decoded into buf, or NULL; *bad if it does not decode. */
static const char *
query_text(h2o_req_t *req, const char *key, char *buf, size_t cap, bool *bad)
{
	const char *v;
	size_t vlen;

	if ((v = query_get(req, key, &vlen)) == NULL)
		return NULL;
	if (kzd_http_unescape(v, vlen, buf, cap) < 0) {
		*bad = true;
		return NULL;
	}
	return buf;
}

static void
get_search(struct kzd_http *h, h2o_req_t *req)
{
	struct kz_search_filter f;
	uint8_t chan[KZ_ID_BYTES];
	char q[1024], author[KZ_USER_ID_MAX + 1], chs[80], prio[16], num[16];
	const char *qs, *v;
	bool bad = false;
	uint64_t n = 0;
	json_t *a;
	int rc;

	memset(&f, 0, sizeof(f));
	f.mark_open = MARK_OPEN;
	f.mark_close = MARK_CLOSE;
	f.limit = 20;
	qs = query_text(req, "q", q, sizeof(q), &bad);
	if (bad) {
		kzd_http_error(req, 400, "invalid_field", "q must be percent-encoded "
		    "UTF-8 of at most %zu bytes", sizeof(q) - 1);
		return;
	}
	if (qs == NULL || qs[0] == '\0') {
		kzd_http_error(req, 400, "missing_field", "search needs q");
		return;
	}
	if ((v = query_text(req, "channel", chs, sizeof(chs), &bad)) != NULL) {
		if (channel_get(h, req, v, strlen(v), chan) < 0)
			return;
		f.channel = chan;
	}
	if ((v = query_text(req, "author", author, sizeof(author), &bad)) != NULL) {
		if (!kz_user_id_valid(v))
			bad = true;
		f.author = v;
	}
	if ((v = query_text(req, "priority", prio, sizeof(prio), &bad)) != NULL &&
	    kz_priority_parse(&f.min_priority, v) < 0)
		bad = true;
	if ((v = query_text(req, "limit", num, sizeof(num), &bad)) != NULL) {
		if (kzd_http_parse_limit(v, strlen(v), 100, &n) < 0)
			bad = true;
		else
			f.limit = n;
	}
	if ((v = query_text(req, "offset", num, sizeof(num), &bad)) != NULL) {
		if (strcmp(v, "0") == 0)
			n = 0;
		else if (kzd_http_parse_limit(v, strlen(v), 100000, &n) < 0)
			bad = true;
		f.offset = n;
	}
	if ((v = query_text(req, "ranked", num, sizeof(num), &bad)) != NULL)
		f.ranked = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
	if (bad) {
		kzd_http_error(req, 400, "invalid_field", "bad filter: author is a "
		    "user id, priority normal, urgent or emergency, limit 1 to 100, "
		    "offset 0 to 100000");
		return;
	}
	a = json_array();
	rc = kz_views_search(h->d->st, qs, &f, on_hit, a);
	if (rc == KZ_ERR_INVAL || rc == KZ_ERR_BAD_UTF8) {
		json_decref(a);
		kzd_http_error(req, 400, "invalid_field", "nothing to search for "
		    "in q");
		return;
	}
	answer_list(req, rc, "hits", a, "the search index");
}

/* ------------------------------------------------------------ roll call */

static int
on_safety(void *ctx, const struct kz_view_safety *v)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "user", v->user,
	    "display_name", v->display_name, "status", kz_safety_name(v->status),
	    "place", v->place, "note", v->note, "reporter", v->reporter);

	if (o == NULL)
		return KZ_ERR_NOMEM;
	json_object_set_new(o, "time_ms", v->hlc != 0 ?
	    json_integer((json_int_t)kz_hlc_ms(v->hlc)) : json_null());
	return json_array_append_new(ctx, o) < 0 ? KZ_ERR_NOMEM : 0;
}

static void
get_rollcall(struct kzd_http *h, h2o_req_t *req)
{
	json_t *a = json_array();

	answer_list(req, kz_views_rollcall(h->d->st, on_safety, a), "rollcall", a,
	    "the roll call");
}

/*
 * Reports a safety status: one's own, or (admins) anyone's.  Answers the
 * whole roll call.
 */
static void
post_rollcall(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u)
{
	uint8_t eid[KZ_HASH_BYTES];
	struct kz_op op;
	const char *who, *status, *place, *note;
	bool bad = false;
	json_t *body;

	if ((body = kzd_http_body(req, false)) == NULL)
		return;
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_SAFETY;
	who = str_field(body, "user", &bad);
	status = str_field(body, "status", &bad);
	place = str_field(body, "place", &bad);
	note = str_field(body, "note", &bad);
	if (bad) {
		kzd_http_error(req, 400, "invalid_field", "user, status, place and "
		    "note are strings");
		goto out;
	}
	if (status == NULL) {
		kzd_http_error(req, 400, "missing_field", "a report needs \"status\"");
		goto out;
	}
	if (kz_safety_parse(&op.u.safety.status, status) < 0) {
		kzd_http_error(req, 400, "invalid_field", "status is safe, "
		    "needs-help, injured or unknown");
		goto out;
	}
	if (who != NULL && strcmp(who, u->id) != 0) {
		if (u->role != KZ_ROLE_ADMIN) {
			kzd_http_error(req, 403, "forbidden", "only an admin reports "
			    "for someone else");
			goto out;
		}
		op.u.safety.user = who;
	}
	op.u.safety.place = place != NULL ? place : "";
	op.u.safety.note = note != NULL ? note : "";
	if (append(h, req, u, &op, eid) == 0)
		get_rollcall(h, req);
out:
	json_decref(body);
}

/* ------------------------------------------------------------ users */

static json_t *
view_user_json(const struct kz_view_user *v)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "id", v->id,
	    "display_name", v->display_name, "department", v->department,
	    "role", kz_role_name(v->role), "active", v->active,
	    "has_password", v->has_password);
}

static int
on_user_list(void *ctx, const struct kz_view_user *v)
{
	return json_array_append_new(ctx, view_user_json(v)) < 0 ?
	    KZ_ERR_NOMEM : 0;
}

static int
on_user_one(void *ctx, const struct kz_view_user *v)
{
	*(json_t **)ctx = view_user_json(v);
	return 0;
}

static void
get_users(struct kzd_http *h, h2o_req_t *req)
{
	json_t *a = json_array();

	answer_list(req, kz_views_users(h->d->st, on_user_list, a), "users", a,
	    "the users");
}

/* Answers {"user": ...} for id with status. */
static void
answer_user(struct kzd_http *h, h2o_req_t *req, const char *id, int status)
{
	json_t *o = NULL;
	int rc = kz_views_user(h->d->st, id, on_user_one, &o);

	if (rc < 0 || o == NULL) {
		json_decref(o);
		kzd_http_error(req, 500, "store", "cannot read the user: %s",
		    kz_strerror(rc));
		return;
	}
	kzd_http_json(req, status, json_pack("{s:o}", "user", o));
}

static bool
admin_only(h2o_req_t *req, const struct kzd_http_user *u)
{
	if (u->role == KZ_ROLE_ADMIN)
		return true;
	kzd_http_error(req, 403, "forbidden", "only an admin may do this");
	return false;
}

/* A user set whose password is hashed on the thread pool first. */
struct pw_job;

struct pw_ref {
	struct pw_job *job;
};

struct pw_job {
	uv_work_t work;
	struct kzd_http *h;
	h2o_req_t *req;			/* NULL once h2o freed it */
	struct pw_ref *ref;
	struct kzd_http_user actor;	/* its session pointer is not used */
	uint32_t set;
	char user[KZ_USER_ID_MAX + 1];
	char display_name[KZ_NAME_MAX + 1];
	char department[KZ_NAME_MAX + 1];
	enum kz_role role;
	int status;			/* the answer's: 200 or 201 */
	bool ok;
	size_t pwlen;
	char pw[KZD_HTTP_PASSWORD_MAX + 1];
	char hash[crypto_pwhash_STRBYTES];
};

static void
on_pw_req_gone(void *p)
{
	struct pw_ref *ref = p;

	if (ref->job != NULL)
		ref->job->req = NULL;
}

static void
pw_work(uv_work_t *w)
{
	struct pw_job *j = KZD_CONTAINER_OF(w, struct pw_job, work);

	j->ok = crypto_pwhash_str_alg(j->hash, j->pw, j->pwlen,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) == 0;
}

/* Appends the user set with its hash, if the request still waits. */
static void
pw_done(uv_work_t *w, int status)
{
	struct pw_job *j = KZD_CONTAINER_OF(w, struct pw_job, work);
	struct kzd_http *h = j->h;
	uint8_t eid[KZ_HASH_BYTES];
	struct kz_op op;

	sodium_memzero(j->pw, sizeof(j->pw));
	if (j->req != NULL) {
		j->ref->job = NULL;
		if (status != 0 || !j->ok) {
			kzd_http_error(j->req, 500, "internal", "cannot hash the "
			    "password (out of memory)");
		} else {
			memset(&op, 0, sizeof(op));
			op.type = KZ_OP_USER_SET;
			op.u.user_set.user = j->user;
			op.u.user_set.set = j->set;
			op.u.user_set.display_name = j->display_name;
			op.u.user_set.department = j->department;
			op.u.user_set.role = j->role;
			op.u.user_set.password_hash = j->hash;
			op.u.user_set.active = true;
			if (append(h, j->req, &j->actor, &op, eid) == 0) {
				kz_log(&h->d->log, KZ_LOG_INFO, "http: %s %s user %s",
				    j->actor.id, j->status == 201 ? "added" :
				    "set the password of", j->user);
				answer_user(h, j->req, j->user, j->status);
			}
		}
	}
	sodium_memzero(j, sizeof(*j));
	free(j);
	kzd_http_check_end(h);
}

/* Queues j (its password set); answers and frees it on failure. */
static void
pw_queue(struct kzd_http *h, h2o_req_t *req, struct pw_job *j)
{
	int rc;

	if (h->checks >= KZD_HTTP_CHECKS_MAX) {
		kzd_http_error(req, 503, "busy", "too many passwords being checked "
		    "or hashed; try again in a second");
		goto fail;
	}
	j->h = h;
	j->ref = h2o_mem_alloc_shared(&req->pool, sizeof(*j->ref),
	    on_pw_req_gone);
	j->ref->job = j;
	j->req = req;
	if ((rc = uv_queue_work(&h->d->loop, &j->work, pw_work, pw_done)) < 0) {
		j->ref->job = NULL;
		kzd_http_error(req, 500, "internal", "cannot hash the password: %s",
		    uv_strerror(rc));
		goto fail;
	}
	h->checks++;
	return;
fail:
	sodium_memzero(j, sizeof(*j));
	free(j);
}

/* The password member of body into j: 0, or -1 after answering. */
static int
take_password(h2o_req_t *req, json_t *body, struct pw_job *j, bool required)
{
	json_t *p = json_object_get(body, "password");

	if (p == NULL && !required)
		return 0;
	if (!json_is_string(p) || json_string_length(p) == 0) {
		kzd_http_error(req, 400, "missing_field", "a non-empty "
		    "\"password\" string is needed");
		return -1;
	}
	if (json_string_length(p) > KZD_HTTP_PASSWORD_MAX ||
	    strlen(json_string_value(p)) != json_string_length(p)) {
		kzd_http_error(req, 400, "invalid_field", "a password is at most %d "
		    "bytes, without NUL", KZD_HTTP_PASSWORD_MAX);
		return -1;
	}
	j->pwlen = json_string_length(p);
	memcpy(j->pw, json_string_value(p), j->pwlen);
	sodium_memzero((char *)json_string_value(p), j->pwlen);
	j->set |= KZ_USER_SET_PASSWORD;
	return 0;
}

/* Appends j's user set at once (no password to hash), then answers. */
static void
user_set_now(struct kzd_http *h, h2o_req_t *req, struct pw_job *j)
{
	uint8_t eid[KZ_HASH_BYTES];
	struct kz_op op;

	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_USER_SET;
	op.u.user_set.user = j->user;
	op.u.user_set.set = j->set;
	op.u.user_set.display_name = j->display_name;
	op.u.user_set.department = j->department;
	op.u.user_set.role = j->role;
	op.u.user_set.password_hash = "";
	op.u.user_set.active = true;
	if (append(h, req, &j->actor, &op, eid) == 0)
		answer_user(h, req, j->user, j->status);
	free(j);
}

static void
post_user(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u)
{
	const char *id, *name, *dept, *role;
	struct pw_job *j = NULL;
	bool bad = false;
	json_t *body, *o = NULL;
	int rc;

	if (!admin_only(req, u) || (body = kzd_http_body(req, false)) == NULL)
		return;
	id = str_field(body, "id", &bad);
	name = str_field(body, "display_name", &bad);
	dept = str_field(body, "department", &bad);
	role = str_field(body, "role", &bad);
	if (bad) {
		kzd_http_error(req, 400, "invalid_field", "id, display_name, "
		    "department and role are strings");
		goto out;
	}
	if (id == NULL || name == NULL || name[0] == '\0') {
		kzd_http_error(req, 400, "missing_field", "a user needs \"id\" and "
		    "\"display_name\"");
		goto out;
	}
	if (!kz_user_id_valid(id) || strlen(name) > KZ_NAME_MAX ||
	    (dept != NULL && strlen(dept) > KZ_NAME_MAX)) {
		kzd_http_error(req, 400, "invalid_field", "an id is 1 to %d of "
		    "A-Z a-z 0-9 . _ @ -, names at most %d bytes", KZ_USER_ID_MAX,
		    KZ_NAME_MAX);
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		kzd_http_error(req, 500, "internal", "out of memory");
		goto out;
	}
	j->role = KZ_ROLE_MEMBER;
	if (role != NULL && kz_role_parse(&j->role, role) < 0) {
		kzd_http_error(req, 400, "invalid_field", "role is member or admin");
		goto out;
	}
	rc = kz_views_user(h->d->st, id, on_user_one, &o);
	json_decref(o);
	if (rc == 0) {
		kzd_http_error(req, 409, "exists", "a user with this id exists");
		goto out;
	}
	if (rc != KZ_ERR_NOT_FOUND) {
		kzd_http_error(req, 500, "store", "cannot read the users: %s",
		    kz_strerror(rc));
		goto out;
	}
	j->actor = *u;
	j->actor.s = NULL;
	j->status = 201;
	j->set = KZ_USER_SET_DISPLAY_NAME | KZ_USER_SET_DEPARTMENT |
	    KZ_USER_SET_ROLE | KZ_USER_SET_ACTIVE;
	snprintf(j->user, sizeof(j->user), "%s", id);
	snprintf(j->display_name, sizeof(j->display_name), "%s", name);
	snprintf(j->department, sizeof(j->department), "%s",
	    dept != NULL ? dept : "");
	if (take_password(req, body, j, false) < 0)
		goto out;
	if (j->set & KZ_USER_SET_PASSWORD)
		pw_queue(h, req, j);
	else
		user_set_now(h, req, j);
	j = NULL;
out:
	if (j != NULL) {
		sodium_memzero(j, sizeof(*j));
		free(j);
	}
	json_decref(body);
}

/* The user named by the path segment into id: 0, or -1 after answering. */
static int
path_user(struct kzd_http *h, h2o_req_t *req, const char *seg, size_t len,
    char id[KZ_USER_ID_MAX + 1])
{
	json_t *o = NULL;
	int rc;

	if (len == 0 || len > KZ_USER_ID_MAX) {
		kzd_http_error(req, 400, "bad_id", "not a user id");
		return -1;
	}
	memcpy(id, seg, len);
	id[len] = '\0';
	if (!kz_user_id_valid(id)) {
		kzd_http_error(req, 400, "bad_id", "not a user id");
		return -1;
	}
	rc = kz_views_user(h->d->st, id, on_user_one, &o);
	json_decref(o);
	if (rc == KZ_ERR_NOT_FOUND) {
		kzd_http_error(req, 404, "unknown_user", "no such user");
		return -1;
	}
	if (rc < 0) {
		kzd_http_error(req, 500, "store", "cannot read the users: %s",
		    kz_strerror(rc));
		return -1;
	}
	return 0;
}

static void
post_user_active(struct kzd_http *h, h2o_req_t *req,
    const struct kzd_http_user *u, const char *seg, size_t len, bool active)
{
	char id[KZ_USER_ID_MAX + 1];
	uint8_t eid[KZ_HASH_BYTES];
	struct kz_op op;
	json_t *body;

	if (!admin_only(req, u) || path_user(h, req, seg, len, id) < 0)
		return;
	if ((body = kzd_http_body(req, true)) == NULL)
		return;
	json_decref(body);
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_USER_SET;
	op.u.user_set.user = id;
	op.u.user_set.set = KZ_USER_SET_ACTIVE;
	op.u.user_set.active = active;
	op.u.user_set.password_hash = "";
	if (append(h, req, u, &op, eid) == 0) {
		kz_log(&h->d->log, KZ_LOG_INFO, "http: %s %s user %s", u->id,
		    active ? "activated" : "deactivated", id);
		answer_user(h, req, id, 200);
	}
}

static void
post_user_password(struct kzd_http *h, h2o_req_t *req,
    const struct kzd_http_user *u, const char *seg, size_t len)
{
	char id[KZ_USER_ID_MAX + 1];
	struct pw_job *j;
	json_t *body;

	if (path_user(h, req, seg, len, id) < 0)
		return;
	if (strcmp(id, u->id) != 0 && !admin_only(req, u))
		return;
	if ((body = kzd_http_body(req, false)) == NULL)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(body);
		kzd_http_error(req, 500, "internal", "out of memory");
		return;
	}
	j->actor = *u;
	j->actor.s = NULL;
	j->status = 200;
	snprintf(j->user, sizeof(j->user), "%s", id);
	if (take_password(req, body, j, true) < 0) {
		free(j);
	} else {
		pw_queue(h, req, j);
	}
	json_decref(body);
}

/* ------------------------------------------------------------ nodes */

struct node_find {
	const uint8_t *key;
	json_t *found;			/* its JSON, if admitted */
	bool admin, revoked;
};

static int
on_node_find(void *ctx, const struct kz_view_node *n)
{
	struct node_find *f = ctx;

	if (memcmp(n->key, f->key, 32) != 0)
		return 0;
	f->found = json_pack("{s:o,s:s,s:b,s:b,s:I}", "key", hex_json(n->key, 32),
	    "name", n->name, "admin", n->admin, "revoked", n->revoked,
	    "last_seq", (json_int_t)n->last_seq);
	f->admin = n->admin;
	f->revoked = n->revoked;
	return 1;
}

/*
 * Reads this node (self) and the node f names from the workspace; answers
 * 500 or, unless this node is a live admin node, 409 not_admin_node ("...:
 * DOING from one that is").  0, or -1 when answered.
 */
static int
find_nodes_as_admin(struct kzd_http *h, h2o_req_t *req, struct node_find *self,
    struct node_find *f, const char *doing)
{
	int rc;

	if ((rc = kz_views_nodes(h->d->st, on_node_find, self)) < 0 ||
	    (rc = kz_views_nodes(h->d->st, on_node_find, f)) < 0) {
		kzd_http_error(req, 500, "store", "cannot read the nodes: %s",
		    kz_strerror(rc));
		return -1;
	}
	if (!self->admin || self->revoked) {
		kzd_http_error(req, 409, "not_admin_node", "this node is not an "
		    "admin node of the mesh: %s from one that is", doing);
		return -1;
	}
	return 0;
}

/*
 * Reads f's node again after an entry about it was stored (what: "the
 * admission"); answers 500 unless the workspace holds it, and holds it
 * revoked when must_be_revoked.  0, or -1 when answered.
 */
static int
refind_node(struct kzd_http *h, h2o_req_t *req, struct node_find *f,
    bool must_be_revoked, const char *what)
{
	int rc;

	json_decref(f->found);
	f->found = NULL;
	if ((rc = kz_views_nodes(h->d->st, on_node_find, f)) < 0 ||
	    f->found == NULL || (must_be_revoked && !f->revoked)) {
		kzd_http_error(req, 500, "store", "%s is stored but not in the "
		    "workspace: %s", what, kz_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * Admits a node to the mesh (admin users, on an admin node: admissions
 * count only from an admin node's feed).  201 with the node as the
 * workspace now holds it.
 */
static void
post_node(struct kzd_http *h, h2o_req_t *req, const struct kzd_http_user *u)
{
	uint8_t key[32], eid[KZ_HASH_BYTES];
	struct node_find self = { h->d->kp.pk, NULL, false, false };
	struct node_find f = { key, NULL, false, false };
	const char *hex, *name;
	struct kz_op op;
	bool bad = false;
	json_t *body, *adm;

	if (!admin_only(req, u) || (body = kzd_http_body(req, false)) == NULL)
		return;
	hex = str_field(body, "key", &bad);
	name = str_field(body, "name", &bad);
	adm = json_object_get(body, "admin");
	if (bad || (adm != NULL && !json_is_boolean(adm))) {
		kzd_http_error(req, 400, "invalid_field", "key and name are "
		    "strings, admin a boolean");
		goto out;
	}
	if (hex == NULL || name == NULL || name[0] == '\0') {
		kzd_http_error(req, 400, "missing_field", "an admission needs the "
		    "node's \"key\" and a \"name\"");
		goto out;
	}
	if (!kzd_http_unhex(key, hex, strlen(hex), 32)) {
		kzd_http_error(req, 400, "invalid_field", "key is the node's "
		    "public key, 64 hex digits (its node.pub)");
		goto out;
	}
	if (find_nodes_as_admin(h, req, &self, &f, "admit") < 0)
		goto out;
	if (f.found != NULL && !f.revoked) {
		kzd_http_error(req, 409, "exists", "the node is admitted already");
		goto out;
	}
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_NODE_ADMIT;
	op.u.node_admit.node = key;
	op.u.node_admit.name = name;
	op.u.node_admit.admin = adm != NULL && json_is_true(adm);
	if (append(h, req, u, &op, eid) < 0 ||
	    refind_node(h, req, &f, false, "the admission") < 0)
		goto out;
	kz_log(&h->d->log, KZ_LOG_INFO, "http: %s admitted node %.16s as %s",
	    u->id, hex, name);
	kzd_http_json(req, 201, json_pack("{s:O}", "node", f.found));
out:
	json_decref(self.found);
	json_decref(f.found);
	json_decref(body);
}

/*
 * Revokes a node (admin users, on an admin node, as POST /api/nodes): its
 * entries after last_seq (default: the last this node holds of it) stop
 * counting, and links to it close.  Refused for this node itself and for
 * the mesh's root (as `kizuna mesh revoke`), and for a node revoked
 * already.  200 with the node as the workspace now holds it.
 */
static void
post_node_revoke(struct kzd_http *h, h2o_req_t *req,
    const struct kzd_http_user *u, const char *seg, size_t seglen)
{
	uint8_t key[32], root[32], eid[KZ_HASH_BYTES];
	struct node_find self = { h->d->kp.pk, NULL, false, false };
	struct node_find f = { key, NULL, false, false };
	const char *reason;
	uint64_t last_seq = 0;
	bool bad = false;
	struct kz_op op;
	json_t *body, *ls;
	int rc;

	if (!admin_only(req, u) || (body = kzd_http_body(req, true)) == NULL)
		return;
	reason = str_field(body, "reason", &bad);
	ls = json_object_get(body, "last_seq");
	if (bad || (ls != NULL && (!json_is_integer(ls) ||
	    json_integer_value(ls) < 0))) {
		kzd_http_error(req, 400, "invalid_field", "reason is a string, "
		    "last_seq a whole number from 0");
		goto out;
	}
	if (!kzd_http_unhex(key, seg, seglen, 32)) {
		kzd_http_error(req, 400, "bad_id", "a node's key is 64 hex "
		    "digits");
		goto out;
	}
	if (find_nodes_as_admin(h, req, &self, &f, "revoke") < 0)
		goto out;
	if (f.found == NULL) {
		kzd_http_error(req, 404, "unknown_node", "no node with that key is "
		    "admitted to the mesh");
		goto out;
	}
	if (memcmp(key, h->d->kp.pk, 32) == 0) {
		kzd_http_error(req, 409, "self", "a node cannot revoke itself: "
		    "revoke it from another admin node");
		goto out;
	}
	if (kz_views_root(h->d->st, root) == 0 && memcmp(root, key, 32) == 0) {
		kzd_http_error(req, 409, "root", "the mesh's root node cannot be "
		    "revoked");
		goto out;
	}
	if (f.revoked) {
		kzd_http_error(req, 409, "revoked", "the node is revoked already");
		goto out;
	}
	if (ls != NULL)
		last_seq = (uint64_t)json_integer_value(ls);
	else if ((rc = kz_store_tip(h->d->st, key, &last_seq, NULL)) < 0 &&
	    rc != KZ_ERR_NOT_FOUND) {
		kzd_http_error(req, 500, "store", "cannot read its feed: %s",
		    kz_strerror(rc));
		goto out;
	}
	memset(&op, 0, sizeof(op));
	op.type = KZ_OP_NODE_REVOKE;
	op.u.node_revoke.node = key;
	op.u.node_revoke.last_seq = last_seq;
	op.u.node_revoke.reason = reason != NULL ? reason : "";
	if (append(h, req, u, &op, eid) < 0 ||
	    refind_node(h, req, &f, true, "the revocation") < 0)
		goto out;
	kz_log(&h->d->log, KZ_LOG_INFO, "http: %s revoked node %.16s after seq "
	    "%llu", u->id, json_string_value(json_object_get(f.found, "key")),
	    (unsigned long long)last_seq);
	kzd_http_json(req, 200, json_pack("{s:O}", "node", f.found));
out:
	json_decref(self.found);
	json_decref(f.found);
	json_decref(body);
}

/*
 * A join token (admin users), as `kizuna mesh invite` makes it: the mesh's
 * id, network key and root, and the address the new node dials first
 * (body "address", else [net] listen when another node can reach it).  It
 * holds the network key: answered with no-store like every answer, and
 * never logged.
 */
static void
post_node_invite(struct kzd_http *h, h2o_req_t *req,
    const struct kzd_http_user *u)
{
	struct kz_mesh_creds mc;
	uint8_t root[32];
	char token[KZ_MESH_TOKEN_MAX], id[2 * KZ_MESH_ID_BYTES + 1], rhex[65];
	const char *addr;
	bool bad = false;
	json_t *body;
	int rc;

	memset(&mc, 0, sizeof(mc));
	memset(token, 0, sizeof(token));
	if (!admin_only(req, u) || (body = kzd_http_body(req, true)) == NULL)
		return;
	addr = str_field(body, "address", &bad);
	if (bad || (addr != NULL && kz_mesh_address_check(addr) < 0)) {
		kzd_http_error(req, 400, "invalid_field", "address is HOST:PORT "
		    "(an IPv6 host in brackets, a port from 1 to 65535)");
		goto out;
	}
	if (kz_views_root(h->d->st, root) < 0) {
		kzd_http_error(req, 409, "no_mesh", "this node belongs to no mesh "
		    "yet");
		goto out;
	}
	rc = kz_mesh_file_read(h->d->home, &mc);
	if (rc == KZ_ERR_NOT_FOUND) {
		kzd_http_error(req, 409, "no_network_key", "this node holds no "
		    "network key (it joined with the mesh's root key only): invite "
		    "from the founding node or one that joined with a token");
		goto out;
	}
	if (rc < 0 || memcmp(mc.root, root, 32) != 0) {
		kzd_http_error(req, 500, "mesh_file", "cannot use %s/%s: %s",
		    h->d->home, KZ_MESH_FILE, rc < 0 ? kz_strerror(rc) :
		    "it names another mesh's root");
		goto out;
	}
	if (addr != NULL) {
		snprintf(mc.address, sizeof(mc.address), "%s", addr);
	} else if ((rc = kz_mesh_listen_address(h->d->cfg.net_listen,
	    mc.address)) < 0) {
		kzd_http_error(req, 400, "missing_field", "an invite needs the "
		    "\"address\" at which the new node reaches this one: [net] "
		    "listen %s", rc == KZ_ERR_NOT_FOUND ? "is not set" :
		    "names no address another node can reach");
		goto out;
	}
	if ((rc = kz_mesh_token_encode(token, sizeof(token), &mc)) < 0) {
		kzd_http_error(req, 500, "internal", "cannot make a token: %s",
		    kz_strerror(rc));
		goto out;
	}
	kz_hex(id, mc.mesh_id, KZ_MESH_ID_BYTES);
	kz_hex(rhex, mc.root, 32);
	kz_log(&h->d->log, KZ_LOG_INFO, "http: %s made a join token for %s",
	    u->id, mc.address);
	kzd_http_json(req, 200, json_pack("{s:s,s:s,s:s,s:s}", "token", token,
	    "mesh_id", id, "root", rhex, "address", mc.address));
out:
	sodium_memzero(token, sizeof(token));
	kz_mesh_creds_wipe(&mc);
	json_decref(body);
}

/* ------------------------------------------------------------ routing */

/* Whether path (len bytes) is prefix, then one segment, then suffix. */
static bool
match_seg(const char *path, size_t len, const char *prefix, const char *suffix,
    const char **seg, size_t *seglen)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	const char *slash;

	if (len < pl + sl + 1 || memcmp(path, prefix, pl) != 0 ||
	    memcmp(path + len - sl, suffix, sl) != 0)
		return false;
	*seg = path + pl;
	*seglen = len - pl - sl;
	slash = memchr(*seg, '/', *seglen);
	return slash == NULL;
}

static void
not_allowed(h2o_req_t *req, const char *allow)
{
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
	    allow, strlen(allow));
	kzd_http_error(req, 405, "method_not_allowed", "use %s here", allow);
}

void
kzd_api_handle(struct kzd_http *h, h2o_req_t *req)
{
	const char *path = req->path_normalized.base, *seg;
	size_t len = req->path_normalized.len, seglen;
	enum method m = method_of(req);
	struct kzd_http_user u;

	if (h2o_memis(path, len, H2O_STRLIT("/api/login"))) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			kzd_http_login(h, req);
		return;
	}
	if (kzd_http_auth(h, req, &u) < 0)
		return;
	/* Every request that may change something shows the CSRF token. */
	if (m != M_GET && !kzd_http_csrf_ok(req, &u))
		return;
	if (h2o_memis(path, len, H2O_STRLIT("/api/logout"))) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			kzd_http_logout(h, req, &u);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/me"))) {
		if (m != M_GET)
			not_allowed(req, "GET");
		else
			get_me(h, req, &u);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/channels"))) {
		if (m != M_GET)
			not_allowed(req, "GET");
		else
			get_channels(h, req);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/search"))) {
		if (m != M_GET)
			not_allowed(req, "GET");
		else
			get_search(h, req);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/urgent"))) {
		if (m != M_GET)
			not_allowed(req, "GET");
		else
			get_urgent(h, req, &u);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/rollcall"))) {
		if (m == M_GET)
			get_rollcall(h, req);
		else if (m == M_POST)
			post_rollcall(h, req, &u);
		else
			not_allowed(req, "GET, POST");
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/users"))) {
		if (m == M_GET)
			get_users(h, req);
		else if (m == M_POST)
			post_user(h, req, &u);
		else
			not_allowed(req, "GET, POST");
	} else if (match_seg(path, len, "/api/users/", "/deactivate", &seg,
	    &seglen)) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_user_active(h, req, &u, seg, seglen, false);
	} else if (match_seg(path, len, "/api/users/", "/activate", &seg,
	    &seglen)) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_user_active(h, req, &u, seg, seglen, true);
	} else if (match_seg(path, len, "/api/users/", "/password", &seg,
	    &seglen)) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_user_password(h, req, &u, seg, seglen);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/nodes"))) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_node(h, req, &u);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/nodes/invite"))) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_node_invite(h, req, &u);
	} else if (match_seg(path, len, "/api/nodes/", "/revoke", &seg,
	    &seglen)) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_node_revoke(h, req, &u, seg, seglen);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/events"))) {
		if (m != M_GET)
			not_allowed(req, "GET");
		else
			kzd_http_events(h, req);
	} else if (h2o_memis(path, len, H2O_STRLIT("/api/status"))) {
		if (m != M_GET)
			not_allowed(req, "GET");
		else
			get_status(h, req);
	} else if (match_seg(path, len, "/api/channels/", "/messages", &seg,
	    &seglen)) {
		if (m == M_GET)
			get_messages(h, req, seg, seglen);
		else if (m == M_POST)
			post_message(h, req, &u, seg, seglen);
		else
			not_allowed(req, "GET, POST");
	} else if (match_seg(path, len, "/api/messages/", "/thread", &seg,
	    &seglen)) {
		if (m != M_GET)
			not_allowed(req, "GET");
		else
			get_thread(h, req, seg, seglen);
	} else if (match_seg(path, len, "/api/messages/", "/ack", &seg,
	    &seglen)) {
		if (m == M_POST)
			post_ack(h, req, &u, seg, seglen);
		else if (m == M_GET)
			get_ack(h, req, seg, seglen);
		else
			not_allowed(req, "GET, POST");
	} else if (match_seg(path, len, "/api/messages/", "/edit", &seg,
	    &seglen)) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_edit(h, req, &u, seg, seglen);
	} else if (match_seg(path, len, "/api/messages/", "/delete", &seg,
	    &seglen)) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_delete(h, req, &u, seg, seglen);
	} else if (match_seg(path, len, "/api/messages/", "/react", &seg,
	    &seglen)) {
		if (m != M_POST)
			not_allowed(req, "POST");
		else
			post_react(h, req, &u, seg, seglen);
	} else {
		kzd_http_error(req, 404, "not_found", "no such endpoint");
	}
}
