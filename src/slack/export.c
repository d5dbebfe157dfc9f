/*
 * The Slack exporter (kizuna/slack.h, kz_slack_export; docs/slack.md,
 * "Export"): channels of the workspace written back in the export layout
 * with libzip and jansson.
 *
 * Imported items go back as they came (their Slack ids, ts, verbatim text,
 * subtype, files, thread_ts; an unknown subtype's own JSON), so that an
 * import of the export gives the same channels again.  Items born in the
 * mesh get Slack-shaped ids of a reserved prefix (UKZ..., CKZ...: Slack's
 * own ids never start so) derived from their kizuna ids, a ts from their
 * hlc made unique in their channel, and their text escaped; a person's
 * message also gets the rich_text block Slack writes beside its text, a
 * message edited here the time of its last edit, a channel born here the
 * time of its creation, and pinned messages their pins.  Only what the
 * views show leaves the node: no password hash (users.json holds ids,
 * names and the deactivated flag), no e-mail, no access token (imported
 * URLs were stored without theirs).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zip.h>

#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/slack.h"
#include "kizuna/util.h"
#include "kizuna/views.h"

#define JSON_FLAGS (JSON_INDENT(4) | JSON_ESCAPE_SLASH)

/* ------------------------------------------------------------ time */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* The first Sunday on or after day z (days since 1970, a Thursday). */
static int64_t
sunday_from(int64_t z)
{
	int64_t wd = ((z + 4) % 7 + 7) % 7;	/* 0: Sunday */

	return z + (7 - wd) % 7;
}

/*
 * The America/Los_Angeles date of unix time t, as Slack buckets day files
 * (the format notes, section 1): UTC-7 from the second Sunday of March,
 * 2:00 PST, to the first Sunday of November, 2:00 PDT (US rules since
 * 2007), else UTC-8.
 */
static void
la_date(char out[11], int64_t t)
{
	int64_t y, z = (t >= 0 ? t : t - 86399) / 86400, start, end;
	unsigned m, d;

	civil_from_days(z, &y, &m, &d);
	start = (sunday_from(days_from_civil(y, 3, 1)) + 7) * 86400 + 10 * 3600;
	end = sunday_from(days_from_civil(y, 11, 1)) * 86400 + 9 * 3600;
	t += t >= start && t < end ? -7 * 3600 : -8 * 3600;
	z = (t >= 0 ? t : t - 86399) / 86400;
	civil_from_days(z, &y, &m, &d);
	snprintf(out, 11, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* ------------------------------------------------------------ ids */

/* A Slack-shaped id for a kizuna-born item: prefix + 8 base-32 digits. */
static void
made_id(char out[16], const char *prefix, const void *key, size_t len)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint8_t h[8];
	size_t i;

	crypto_generichash(h, sizeof(h), key, len, NULL, 0);
	i = (size_t)snprintf(out, 16, "%s", prefix);
	for (size_t k = 0; k < 8; k++)
		out[i++] = b32[h[k] & 31];
	out[i] = '\0';
}

/* The Slack id of a kizuna user id. */
static void
user_slack_id(char out[KZ_USER_ID_MAX + 1], const char *user)
{
	size_t p = strlen(KZ_SLACK_USER_PREFIX);

	if (strncmp(user, KZ_SLACK_USER_PREFIX, p) == 0 && user[p] != '\0')
		snprintf(out, KZ_USER_ID_MAX + 1, "%s", user + p);
	else
		made_id(out, "UKZ", user, strlen(user));
}

/* ------------------------------------------------------------ the ZIP */

struct out {
	zip_t *za;
	int rc;
};

/* Adds name with v's JSON (v's reference taken). */
static void
add_json(struct out *o, const char *name, json_t *v)
{
	char *s;
	zip_source_t *zs;

	if (o->rc != 0) {
		json_decref(v);
		return;
	}
	s = v != NULL ? json_dumps(v, JSON_FLAGS) : NULL;
	json_decref(v);
	if (s == NULL) {
		o->rc = KZ_ERR_NOMEM;
		return;
	}
	if ((zs = zip_source_buffer(o->za, s, strlen(s), 1)) == NULL) {
		free(s);
		o->rc = KZ_ERR_NOMEM;
		return;
	}
	if (zip_file_add(o->za, name, zs, ZIP_FL_ENC_UTF_8) < 0) {
		zip_source_free(zs);
		o->rc = KZ_ERR_IO;
	}
}

/* ------------------------------------------------------------ messages */

/* A Slack ts ("seconds.micros") of a time in microseconds. */
static void
ts_of_us(char out[32], uint64_t us)
{
	snprintf(out, 32, "%llu.%06llu", (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));
}

struct msg {
	uint8_t id[KZ_ID_BYTES];
	uint64_t hlc;
	uint64_t time_us;
	char ts[32];
	char *actor;
	bool has_root;
	uint8_t root[KZ_ID_BYTES];
	char *text;
	bool edited;
	uint64_t edited_hlc;	/* its last edit here; 0: none */
	bool system;
	bool pinned;
	uint64_t reply_count;
	struct kz_op *op;	/* the creating post */
};

struct chan_read {
	struct msg *v;
	size_t n, cap;
	uint64_t since_ms;
	int rc;
};

static int
collect(void *ctx, const struct kz_view_message *m)
{
	struct chan_read *cr = ctx;
	struct msg *x;

	if (m->deleted || kz_hlc_ms(m->hlc) < cr->since_ms)
		return 0;
	if (cr->n == cr->cap) {
		size_t cap = cr->cap ? 2 * cr->cap : 256;
		struct msg *v = realloc(cr->v, cap * sizeof(*v));

		if (v == NULL)
			return KZ_ERR_NOMEM;
		cr->v = v;
		cr->cap = cap;
	}
	x = &cr->v[cr->n];
	memset(x, 0, sizeof(*x));
	memcpy(x->id, m->id, KZ_ID_BYTES);
	x->hlc = m->hlc;
	x->has_root = m->has_thread_root;
	memcpy(x->root, m->thread_root, KZ_ID_BYTES);
	x->edited = m->edited;
	x->edited_hlc = m->edited_hlc;
	x->system = m->system;
	x->pinned = m->pinned;
	x->reply_count = m->reply_count;
	x->actor = strdup(m->actor);
	x->text = strdup(m->text);
	cr->n++;
	if (x->actor == NULL || x->text == NULL)
		return KZ_ERR_NOMEM;
	return 0;
}

static int
msg_time_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;

	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	return memcmp(x->id, y->id, KZ_ID_BYTES);
}

struct react_acc {
	json_t *by_name;	/* name -> {name, users, count} */
	json_t *list;		/* in first-seen order */
};

static int
on_reaction(void *ctx, const char *user, const char *emoji)
{
	struct react_acc *ra = ctx;
	char name[KZ_EMOJI_MAX + 1], uid[KZ_USER_ID_MAX + 1];
	json_t *r;

	kz_slack_shortcode(name, emoji);
	user_slack_id(uid, user);
	if ((r = json_object_get(ra->by_name, name)) == NULL) {
		r = json_pack("{s:s,s:[],s:i}", "name", name, "users", "count", 0);
		if (r == NULL)
			return KZ_ERR_NOMEM;
		json_object_set(ra->by_name, name, r);
		json_array_append_new(ra->list, r);
	}
	json_array_append_new(json_object_get(r, "users"), json_string(uid));
	json_object_set_new(r, "count",
	    json_integer((json_int_t)json_array_size(json_object_get(r, "users"))));
	return 0;
}

/*
 * The blocks Slack writes with a person's message: one rich_text block
 * whose one section holds the text as a text element, so that viewers
 * reading blocks instead of text show the same (the format notes, 6.3:
 * blocks must agree with text).  The text here is the plain one (no
 * escapes, entities as what they show), which is what a text element
 * holds.  block_id: derived from the message id, so an export of the same
 * workspace is the same file.
 */
static json_t *
blocks_json(const struct msg *m)
{
	char bid[16];

	made_id(bid, "", m->id, KZ_ID_BYTES);
	return json_pack("[{s:s,s:s,s:[{s:s,s:[{s:s,s:s}]}]}]", "type",
	    "rich_text", "block_id", bid, "elements", "type", "rich_text_section",
	    "elements", "type", "text", "text", m->text);
}

/* The JSON of one message (a new reference), or NULL: no memory. */
static json_t *
message_json(struct kz_store *st, const struct msg *m, const char *chan_id,
    json_t *ts_of, json_t *thread_info)
{
	const struct kz_imported_post *im = m->op != NULL &&
	    m->op->type == KZ_OP_POST ? m->op->u.post.imported : NULL;
	char uid[KZ_USER_ID_MAX + 1], hex[2 * KZ_ID_BYTES + 1];
	struct react_acc ra = { json_object(), json_array() };
	json_t *o, *info;
	size_t i;

	if (im != NULL && *im->raw != '\0' &&
	    (o = json_loads(im->raw, JSON_ALLOW_NUL, NULL)) != NULL &&
	    json_is_object(o)) {
		/* An unknown subtype: the source's own object. */
		json_decref(ra.by_name);
		json_decref(ra.list);
		return o;
	}
	o = json_object();
	json_object_set_new(o, "type", json_string("message"));
	if (im != NULL && *im->subtype != '\0')
		json_object_set_new(o, "subtype", json_string(im->subtype));
	if (*m->actor != '\0') {
		user_slack_id(uid, m->actor);
		json_object_set_new(o, "user", json_string(uid));
	}
	if (im != NULL && *im->author_name != '\0')
		json_object_set_new(o, "username", json_string(im->author_name));
	/* The source's text, unless the message was edited here since. */
	if (im != NULL && strcmp(m->text, m->op->u.post.text) == 0) {
		json_object_set_new(o, "text", json_string(im->source_text));
	} else {
		char *esc = kz_slack_escape(m->text);

		if (esc == NULL)
			goto nomem;
		json_object_set_new(o, "text", json_string(esc));
		free(esc);
	}
	if (im != NULL && *im->attachments != '\0' &&
	    strcmp(m->text, m->op->u.post.text) == 0)
		json_object_set_new(o, "attachments", json_pack("[{s:s}]", "text",
		    im->attachments));
	json_object_set_new(o, "ts", json_string(m->ts));
	kz_hex(hex, m->id, KZ_ID_BYTES);
	info = json_object_get(thread_info, hex);
	if (m->has_root) {
		const char *root_ts;
		json_t *rinfo;

		kz_hex(hex, m->root, KZ_ID_BYTES);
		root_ts = json_string_value(json_object_get(ts_of, hex));
		if (root_ts == NULL && im != NULL && *im->thread_ts != '\0')
			root_ts = im->thread_ts;
		if (root_ts != NULL)
			json_object_set_new(o, "thread_ts", json_string(root_ts));
		rinfo = json_object_get(thread_info, hex);
		if (json_object_get(rinfo, "user") != NULL)
			json_object_set(o, "parent_user_id",
			    json_object_get(rinfo, "user"));
	} else if (info != NULL && json_integer_value(json_object_get(info,
	    "n")) > 0) {
		json_object_set_new(o, "thread_ts", json_string(m->ts));
		json_object_set_new(o, "reply_count",
		    json_integer((json_int_t)m->reply_count));
		json_object_set_new(o, "reply_users_count", json_integer(
		    (json_int_t)json_array_size(json_object_get(info, "reply_users"))));
		json_object_set(o, "reply_users", json_object_get(info, "reply_users"));
		json_object_set(o, "latest_reply", json_object_get(info, "latest"));
	} else if (im != NULL && *im->thread_ts != '\0') {
		json_object_set_new(o, "thread_ts", json_string(im->thread_ts));
	}
	/* A person's message (not a system event, not a bot's) carries the
	 * blocks Slack would write; one with no text has none. */
	if (!m->system && *m->text != '\0' && (im == NULL ||
	    strcmp(im->subtype, "bot_message") != 0))
		json_object_set_new(o, "blocks", blocks_json(m));
	if (m->edited) {
		char ets[32];

		/* The last edit here; an item edited before its import keeps
		 * its own ts (the import kept no edit time). */
		if (m->edited_hlc != 0)
			ts_of_us(ets, kz_hlc_ms(m->edited_hlc) * 1000);
		else
			snprintf(ets, sizeof(ets), "%s", m->ts);
		json_object_set_new(o, "edited", json_pack("{s:s,s:s}", "user",
		    json_string_value(json_object_get(o, "user")) ?
		    json_string_value(json_object_get(o, "user")) : "", "ts", ets));
	}
	if (kz_views_reactions(st, m->id, on_reaction, &ra) < 0)
		goto nomem;
	if (json_array_size(ra.list) > 0)
		json_object_set(o, "reactions", ra.list);
	if (im != NULL && im->n_files > 0) {
		json_t *fs = json_array();

		for (i = 0; i < im->n_files; i++) {
			const struct kz_imported_file *f = &im->files[i];

			json_array_append_new(fs, json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}",
			    "id", f->id, "name", f->name, "title", f->title,
			    "mimetype", f->mimetype, "size", (json_int_t)f->size,
			    "url_private", f->url));
		}
		json_object_set_new(o, "files", fs);
		json_object_set_new(o, "upload", json_true());
	}
	if (m->pinned)
		json_object_set_new(o, "pinned_to", json_pack("[s]", chan_id));
	json_decref(ra.by_name);
	json_decref(ra.list);
	return o;
nomem:
	json_decref(ra.by_name);
	json_decref(ra.list);
	json_decref(o);
	return NULL;
}

static void
msgs_free(struct chan_read *cr)
{
	size_t i;

	for (i = 0; i < cr->n; i++) {
		free(cr->v[i].actor);
		free(cr->v[i].text);
		kz_op_free(cr->v[i].op);
	}
	free(cr->v);
	memset(cr, 0, sizeof(*cr));
}

/* Writes one channel's day files; its channels.json object into *chan_out. */
static int
export_channel(struct kz_store *st, struct out *o, const uint8_t id[KZ_ID_BYTES],
    const struct kz_view_channel *vc, uint64_t since_ms, json_t **chan_out,
    struct kz_slack_export_stats *stats)
{
	struct chan_read cr = { .since_ms = since_ms };
	struct kz_op *cop = NULL;
	const struct kz_imported_channel *ic = NULL;
	char chan_id[KZ_IMPORT_SOURCE_MAX + 1], hex[2 * KZ_ID_BYTES + 1];
	char date[11], prev_date[11] = "", fname[KZ_NAME_MAX + 20];
	json_t *ts_of = json_object(), *used = json_object();
	json_t *thread_info = json_object(), *day = NULL, *ch, *pins = NULL;
	char *topic = NULL, *purpose = NULL;
	uint64_t created = kz_hlc_ms(0);
	size_t i;
	int rc;

	if (ts_of == NULL || used == NULL || thread_info == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	rc = kz_views_created_op(st, id, KZ_OP_CHANNEL_CREATE, &cop);
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND)
		goto out;
	if (cop != NULL)
		ic = cop->u.channel_create.imported;
	if (ic != NULL && strncmp(ic->source, "slack:", 6) == 0) {
		snprintf(chan_id, sizeof(chan_id), "%s", ic->source + 6);
		created = ic->time_us / 1000000;
	} else {
		made_id(chan_id, "CKZ", id, KZ_ID_BYTES);
		created = kz_hlc_ms(vc->created_hlc) / 1000;
	}
	if ((rc = kz_views_channel_messages(st, id, collect, &cr)) < 0)
		goto out;

	/* ts: the source's, else the hlc's time, unique in the channel. */
	for (i = 0; i < cr.n; i++) {
		struct msg *m = &cr.v[i];
		const struct kz_imported_post *im;

		if ((rc = kz_views_created_op(st, m->id, KZ_OP_POST, &m->op)) < 0 &&
		    rc != KZ_ERR_NOT_FOUND)
			goto out;
		rc = 0;
		im = m->op != NULL ? m->op->u.post.imported : NULL;
		if (im != NULL && strrchr(im->source, '/') != NULL &&
		    kz_slack_ts_parse(strrchr(im->source, '/') + 1, &m->time_us) == 0) {
			snprintf(m->ts, sizeof(m->ts), "%s", strrchr(im->source, '/') + 1);
		} else {
			m->time_us = kz_hlc_ms(m->hlc) * 1000;
			do {
				ts_of_us(m->ts, m->time_us);
				m->time_us++;
			} while (json_object_get(used, m->ts) != NULL);
			m->time_us--;
		}
		json_object_set_new(used, m->ts, json_true());
		kz_hex(hex, m->id, KZ_ID_BYTES);
		json_object_set_new(ts_of, hex, json_string(m->ts));
	}
	/* Thread summaries on their parents. */
	for (i = 0; i < cr.n; i++) {
		struct msg *m = &cr.v[i];
		char uid[KZ_USER_ID_MAX + 1];
		json_t *info, *users;
		size_t k;
		bool seen = false;

		kz_hex(hex, m->has_root ? m->root : m->id, KZ_ID_BYTES);
		if ((info = json_object_get(thread_info, hex)) == NULL) {
			info = json_pack("{s:[]}", "reply_users");
			json_object_set_new(thread_info, hex, info);
		}
		if (!m->has_root) {
			if (*m->actor != '\0') {
				user_slack_id(uid, m->actor);
				json_object_set_new(info, "user", json_string(uid));
			}
			continue;
		}
		json_object_set_new(info, "latest", json_string(m->ts));
		json_object_set_new(info, "n", json_integer(
		    json_integer_value(json_object_get(info, "n")) + 1));
		if (*m->actor == '\0')
			continue;
		user_slack_id(uid, m->actor);
		users = json_object_get(info, "reply_users");
		for (k = 0; k < json_array_size(users); k++)
			seen |= strcmp(json_string_value(json_array_get(users, k)),
			    uid) == 0;
		if (!seen)
			json_array_append_new(users, json_string(uid));
	}
	if (cr.n > 1)
		qsort(cr.v, cr.n, sizeof(*cr.v), msg_time_cmp);
	for (i = 0; i <= cr.n && o->rc == 0; i++) {
		json_t *mj;

		if (i < cr.n)
			la_date(date, (int64_t)(cr.v[i].time_us / 1000000));
		if (day != NULL && (i == cr.n || strcmp(date, prev_date) != 0)) {
			snprintf(fname, sizeof(fname), "%s/%s.json", vc->name, prev_date);
			add_json(o, fname, day);
			day = NULL;
			stats->day_files++;
		}
		if (i == cr.n)
			break;
		if (day == NULL)
			day = json_array();
		snprintf(prev_date, sizeof(prev_date), "%s", date);
		mj = message_json(st, &cr.v[i], chan_id, ts_of, thread_info);
		if (mj == NULL || day == NULL) {
			json_decref(mj);
			rc = KZ_ERR_NOMEM;
			goto out;
		}
		json_array_append_new(day, mj);
		stats->messages++;
	}
	json_decref(day);
	day = NULL;
	if ((topic = kz_slack_escape(vc->topic)) == NULL ||
	    (purpose = kz_slack_escape(ic != NULL ? ic->purpose : "")) == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	ch = json_pack("{s:s,s:s,s:I,s:s,s:b,s:b,s:[],s:{s:s,s:s,s:i},"
	    "s:{s:s,s:s,s:i}}", "id", chan_id, "name", vc->name,
	    "created", (json_int_t)created, "creator", "", "is_archived",
	    vc->archived, "is_general", 0, "members", "topic", "value", topic,
	    "creator", "", "last_set", 0, "purpose", "value", purpose, "creator",
	    "", "last_set", 0);
	if (ch == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	/* The channel's pins, as Slack lists them beside pinned_to. */
	for (i = 0; i < cr.n; i++) {
		if (!cr.v[i].pinned)
			continue;
		if (pins == NULL && (pins = json_array()) != NULL)
			json_object_set(ch, "pins", pins);
		if (pins == NULL || json_array_append_new(pins, json_pack(
		    "{s:s,s:s}", "id", cr.v[i].ts, "type", "C")) < 0) {
			json_decref(ch);
			rc = KZ_ERR_NOMEM;
			goto out;
		}
	}
	*chan_out = ch;
	stats->channels++;
out:
	free(topic);
	free(purpose);
	json_decref(day);
	json_decref(ts_of);
	json_decref(used);
	json_decref(thread_info);
	json_decref(pins);
	kz_op_free(cop);
	msgs_free(&cr);
	return rc;
}

/* ------------------------------------------------------------ users */

static int
on_user(void *ctx, const struct kz_view_user *u)
{
	json_t *users = ctx;
	char uid[KZ_USER_ID_MAX + 1];
	json_t *j;

	user_slack_id(uid, u->id);
	j = json_pack("{s:s,s:s,s:s,s:b,s:{s:s,s:s}}", "id", uid, "name", u->id,
	    "real_name", u->display_name, "deleted", !u->active, "profile",
	    "display_name", u->display_name, "real_name", u->display_name);
	if (j == NULL)
		return KZ_ERR_NOMEM;
	json_array_append_new(users, j);
	return 0;
}

struct chan_find {
	const uint8_t *id;
	bool found;
	struct kz_view_channel c;
	char name[KZ_NAME_MAX + 1];
	char topic[KZ_TOPIC_MAX + 1];
};

static int
on_channel(void *ctx, const struct kz_view_channel *c)
{
	struct chan_find *cf = ctx;

	if (memcmp(c->id, cf->id, KZ_ID_BYTES) != 0)
		return 0;
	cf->found = true;
	cf->c = *c;
	snprintf(cf->name, sizeof(cf->name), "%s", c->name);
	snprintf(cf->topic, sizeof(cf->topic), "%s", c->topic);
	cf->c.name = cf->name;
	cf->c.topic = cf->topic;
	return 1;
}

int
kz_slack_export(struct kz_store *st, const uint8_t (*channels)[KZ_ID_BYTES],
    size_t n, uint64_t since_ms, const char *path,
    struct kz_slack_export_stats *stats)
{
	struct out o = { NULL, 0 };
	json_t *chans = json_array(), *users = json_array(), *cj;
	char tmp[4096];
	size_t i;
	int err, rc = 0;

	memset(stats, 0, sizeof(*stats));
	if (chans == NULL || users == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		rc = KZ_ERR_IO;
		goto out;
	}
	/* Written beside, renamed at the end: a failure leaves no half ZIP. */
	if ((o.za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &err)) == NULL) {
		rc = KZ_ERR_IO;
		goto out;
	}
	for (i = 0; i < n && rc == 0 && o.rc == 0; i++) {
		struct chan_find cf = { .id = channels[i] };

		if ((rc = kz_views_channels(st, on_channel, &cf)) < 0)
			break;
		rc = 0;
		if (!cf.found) {
			rc = KZ_ERR_NOT_FOUND;
			break;
		}
		cj = NULL;
		rc = export_channel(st, &o, channels[i], &cf.c, since_ms, &cj, stats);
		if (cj != NULL)
			json_array_append_new(chans, cj);
	}
	if (rc == 0 && (rc = kz_views_users(st, on_user, users)) == 0)
		stats->users = json_array_size(users);
	if (rc == 0) {
		add_json(&o, "channels.json", json_incref(chans));
		add_json(&o, "users.json", json_incref(users));
		add_json(&o, "integration_logs.json", json_array());
		rc = o.rc;
	}
	if (rc == 0) {
		if (zip_close(o.za) != 0) {
			zip_discard(o.za);
			rc = KZ_ERR_IO;
		} else if (rename(tmp, path) != 0) {
			rc = KZ_ERR_IO;
		}
		o.za = NULL;
	}
out:
	if (o.za != NULL)
		zip_discard(o.za);
	if (rc < 0)
		unlink(tmp);
	json_decref(chans);
	json_decref(users);
	return rc;
}
