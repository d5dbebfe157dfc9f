/*
 * The Slack importer (kizuna/slack.h; docs/slack.md): what the reader hands
 * on becomes entries of this node's feed.
 *
 * Idempotency: every item's id is derived from Slack's ids (kz_slack_id of
 * "slack:CHANNEL" or "slack:CHANNEL/TS"), and an item whose id already has
 * its creating entry in the store is not written again; users are written
 * again only when what the export says of them differs from the views.
 * Entries are committed in batches (one transaction, one signature each):
 * an import killed halfway keeps whole batches, and the next run writes
 * the rest in the same order, so it ends as one uninterrupted run would.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "kizuna/err.h"
#include "kizuna/slack.h"
#include "kizuna/views.h"

#define DEFAULT_BATCH 2000

/* Room for one file reference's clipped strings: 4 x 256 and the URL. */
#define FILE_STR_BYTES (4 * (KZ_IMPORT_FILE_NAME_MAX + 1) + KZ_IMPORT_URL_MAX + 1)

struct imp {
	struct kz_store *st;
	const struct kz_keypair *kp;
	const struct kz_slack_import_opts *o;
	struct kz_slack_stats *stats;
	json_t *names;		/* Slack user id -> display name */
	json_t *chans;		/* Slack channel id -> name */
	size_t batch, in_batch;
	bool open;
	struct kz_slack_stats at_begin;	/* the counts when the batch began */
	/*
	 * The ids of the messages appended in the open batch: a bulk group's
	 * views show them only once it commits, and an export may hold a
	 * message twice (the same ts in two day files).
	 */
	struct idset {
		uint8_t (*id)[KZ_ID_BYTES];
		bool *used;
		size_t cap;	/* a power of two, over twice the batch */
	} pending;
};

static int
idset_init(struct idset *set, size_t batch)
{
	set->cap = 16;
	while (set->cap < 2 * batch + 2)
		set->cap *= 2;
	set->id = calloc(set->cap, sizeof(*set->id));
	set->used = calloc(set->cap, sizeof(*set->used));
	return set->id != NULL && set->used != NULL ? 0 : KZ_ERR_NOMEM;
}

static void
idset_clear(struct idset *set)
{
	if (set->used != NULL)
		memset(set->used, 0, set->cap * sizeof(*set->used));
}

static void
idset_free(struct idset *set)
{
	free(set->id);
	free(set->used);
}

/*
 * Looks id up; adds it when add.  True if it was there.  The ids are
 * BLAKE2b digests: their first bytes are the hash.  The set holds at most
 * one batch, half its capacity, so a free slot always ends the probe.
 */
static bool
idset_has(struct idset *set, const uint8_t id[KZ_ID_BYTES], bool add)
{
	size_t i = ((size_t)id[0] | (size_t)id[1] << 8 | (size_t)id[2] << 16 |
	    (size_t)id[3] << 24) & (set->cap - 1);

	for (; set->used[i]; i = (i + 1) & (set->cap - 1))
		if (memcmp(set->id[i], id, KZ_ID_BYTES) == 0)
			return true;
	if (add) {
		set->used[i] = true;
		memcpy(set->id[i], id, KZ_ID_BYTES);
	}
	return false;
}

void
kz_slack_id(uint8_t id[KZ_ID_BYTES], const char *source)
{
	crypto_generichash(id, KZ_ID_BYTES, (const uint8_t *)source,
	    strlen(source), NULL, 0);
}

static void
skip(struct imp *im, const char *file, unsigned line, const char *fmt, ...)
	KZ_PRINTF(4, 5);

static void
skip(struct imp *im, const char *file, unsigned line, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	im->stats->skipped++;
	if (im->o->report != NULL)
		im->o->report(im->o->ctx, file, line, what);
}

static void
on_report(void *ctx, const char *file, unsigned line, const char *what)
{
	struct imp *im = ctx;

	im->stats->skipped++;
	if (im->o->report != NULL)
		im->o->report(im->o->ctx, file, line, what);
}

/* Copies s into out (cap bytes with the NUL), cut at a UTF-8 boundary. */
static const char *
clip(char *out, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

static int
commit(struct imp *im)
{
	int rc;

	if (!im->open)
		return 0;
	im->in_batch = 0;
	if ((rc = kz_store_commit(im->st)) < 0)
		return rc;	/* rolled back: still open for the caller's undo */
	im->open = false;
	idset_clear(&im->pending);
	if (im->o->progress != NULL)
		im->o->progress(im->o->ctx, im->stats);
	return 0;
}

/*
 * Appends op in the open batch.  Returns 0, 1 when op does not encode (the
 * caller reports the item; *why says why), or a store error.
 */
static int
append(struct imp *im, const struct kz_op *op, int *why)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = kz_op_encode(&buf, &len, op)) < 0) {
		if (rc == KZ_ERR_NOMEM)
			return rc;
		*why = rc;
		return 1;
	}
	if (!im->open) {
		if ((rc = kz_store_begin_bulk(im->st)) < 0) {
			free(buf);
			return rc;
		}
		im->open = true;
		im->at_begin = *im->stats;
	}
	rc = kz_store_append(im->st, im->kp, im->o->wall_ms, buf, len, NULL);
	free(buf);
	if (rc < 0)
		return rc;
	im->stats->entries++;
	if (++im->in_batch >= im->batch)
		return commit(im);
	return 0;
}

/* ------------------------------------------------------------ users */

struct user_now {
	bool found;
	bool active;
	char display_name[KZ_NAME_MAX + 1];
};

static int
user_now_cb(void *ctx, const struct kz_view_user *u)
{
	struct user_now *n = ctx;

	n->found = true;
	n->active = u->active;
	clip(n->display_name, sizeof(n->display_name), u->display_name);
	return 0;
}

/*
 * Makes the views hold the imported user kid with this display name and
 * active flag, writing a user_set only if they differ.
 */
static int
put_user(struct imp *im, const char *kid, const char *display, bool active,
    const char *file, unsigned line)
{
	struct user_now now = { 0 };
	struct kz_op op = { .type = KZ_OP_USER_SET };
	int rc, why = 0;

	/* Users are few: the batch so far is applied to read the views. */
	if ((rc = kz_store_bulk_apply(im->st)) < 0)
		return rc;
	rc = kz_views_user(im->st, kid, user_now_cb, &now);
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND)
		return rc;
	if (now.found && now.active == active &&
	    strcmp(now.display_name, display) == 0) {
		im->stats->present++;
		return 0;
	}
	op.u.user_set = (struct kz_user_set){ kid, KZ_USER_SET_DISPLAY_NAME |
	    KZ_USER_SET_ACTIVE, display, "", KZ_ROLE_MEMBER, "", active };
	rc = append(im, &op, &why);
	if (rc == 1) {
		skip(im, file, line, "user %s: %s; skipped", kid, kz_strerror(why));
		return 0;
	}
	if (rc == 0)
		im->stats->users++;
	return rc;
}

/* The kizuna id of a Slack user id into kid; false if it cannot be one. */
static bool
user_id(char kid[KZ_USER_ID_MAX + 1], const char *slack_id)
{
	if (snprintf(kid, KZ_USER_ID_MAX + 1, "%s%s", KZ_SLACK_USER_PREFIX,
	    slack_id) > KZ_USER_ID_MAX)
		return false;
	return kz_user_id_valid(kid);
}

static int
on_user(void *ctx, const struct kz_slack_user *u)
{
	struct imp *im = ctx;
	char kid[KZ_USER_ID_MAX + 1], name[KZ_NAME_MAX + 1];

	if (!user_id(kid, u->id)) {
		skip(im, "users.json", 0, "user id '%.64s' is not usable; skipped",
		    u->id);
		return 0;
	}
	clip(name, sizeof(name), u->display_name);
	if (json_object_set_new(im->names, u->id, json_string(name)) < 0)
		return KZ_ERR_NOMEM;
	return put_user(im, kid, name, !u->deleted, "users.json", 0);
}

/*
 * A user seen in a message but not in users.json (a shared channel's
 * guest): made from the message's profile, else named by the id.
 */
static int
seen_user(struct imp *im, const char *slack_id, const char *profile_name,
    const char *file, unsigned line, bool *ok)
{
	char kid[KZ_USER_ID_MAX + 1], name[KZ_NAME_MAX + 1];

	*ok = user_id(kid, slack_id);
	if (!*ok || json_object_get(im->names, slack_id) != NULL)
		return 0;
	clip(name, sizeof(name), *profile_name ? profile_name : slack_id);
	if (json_object_set_new(im->names, slack_id, json_string(name)) < 0)
		return KZ_ERR_NOMEM;
	return put_user(im, kid, name, true, file, line);
}

/* ------------------------------------------------------------ names */

static const char *
name_of_user(void *ctx, const char *id)
{
	struct imp *im = ctx;

	return json_string_value(json_object_get(im->names, id));
}

static const char *
name_of_channel(void *ctx, const char *id)
{
	struct imp *im = ctx;

	return json_string_value(json_object_get(im->chans, id));
}

/* ------------------------------------------------------------ channels */

static int
on_channel(void *ctx, const struct kz_slack_channel *c)
{
	struct imp *im = ctx;
	struct kz_slack_names names = { im, name_of_user, name_of_channel };
	char source[KZ_IMPORT_SOURCE_MAX + 1], name[KZ_NAME_MAX + 1];
	char topic[KZ_TOPIC_MAX + 1], purpose[KZ_TOPIC_MAX + 1];
	char *t = NULL, *p = NULL;
	uint8_t id[KZ_ID_BYTES];
	struct kz_imported_channel ic;
	struct kz_op op = { .type = KZ_OP_CHANNEL_CREATE };
	bool found;
	int rc, why = 0;

	if (json_object_set_new(im->chans, c->id, json_string(c->name)) < 0)
		return KZ_ERR_NOMEM;
	if (snprintf(source, sizeof(source), "slack:%s", c->id) >=
	    (int)sizeof(source)) {
		skip(im, c->file, 0, "channel id '%.40s…' too long; skipped", c->id);
		return 0;
	}
	kz_slack_id(id, source);
	if ((rc = kz_store_bulk_apply(im->st)) < 0 ||	/* channels are few */
	    (rc = kz_views_has_created(im->st, id, KZ_OP_CHANNEL_CREATE,
	    &found)) < 0)
		return rc;
	if (found) {
		im->stats->present++;
		return 0;
	}
	if ((rc = kz_slack_text(&t, c->topic, &names, NULL, NULL, 0)) < 0 ||
	    (rc = kz_slack_text(&p, c->purpose, &names, NULL, NULL, 0)) < 0)
		goto out;
	ic = (struct kz_imported_channel){ id, source,
	    c->created <= KZ_IMPORT_TIME_US_MAX / 1000000 ? c->created * 1000000 : 0,
	    c->archived, false, clip(purpose, sizeof(purpose), p) };
	op.u.channel_create = (struct kz_channel_create){
	    clip(name, sizeof(name), c->name), clip(topic, sizeof(topic), t), &ic };
	rc = append(im, &op, &why);
	if (rc == 1) {
		skip(im, c->file, 0, "channel %s: %s; skipped", c->name,
		    kz_strerror(why));
		rc = 0;
	} else if (rc == 0) {
		im->stats->channels++;
	}
out:
	free(t);
	free(p);
	return rc;
}

/* ------------------------------------------------------------ messages */

static int
on_message(void *ctx, const struct kz_slack_channel *c,
    const struct kz_slack_message *m)
{
	struct imp *im = ctx;
	struct kz_slack_names names = { im, name_of_user, name_of_channel };
	char source[KZ_IMPORT_SOURCE_MAX + 1], author[KZ_USER_ID_MAX + 1] = "";
	char author_name[KZ_NAME_MAX + 1];
	char mention_ids[KZ_MENTIONS_MAX][KZ_USER_ID_MAX + 1];
	char kmentions[KZ_MENTIONS_MAX][KZ_USER_ID_MAX + 1];
	const char *mptr[KZ_MENTIONS_MAX];
	uint8_t id[KZ_ID_BYTES], root[KZ_ID_BYTES], chan[KZ_ID_BYTES];
	struct kz_imported_post ip;
	struct kz_imported_reaction *rs = NULL;
	struct kz_imported_file *fs = NULL;
	char (*rusers)[KZ_USER_ID_MAX + 1] = NULL;
	const char **rptr = NULL;
	char (*emojis)[KZ_EMOJI_MAX + 1] = NULL;
	char *text = NULL, *att = NULL, *full = NULL, *fstr = NULL;
	struct kz_op op = { .type = KZ_OP_POST };
	size_t i, j, k, n_mentions = 0, n_users = 0, nr = 0, pairs = 0, n_files = 0;
	bool found, ok, reply;
	int rc, why = 0;

	if (snprintf(source, sizeof(source), "slack:%s/%s", c->id, m->ts) >=
	    (int)sizeof(source)) {
		skip(im, m->file, m->line, "message %zu: source too long; skipped",
		    m->index);
		return 0;
	}
	kz_slack_id(id, source);
	found = idset_has(&im->pending, id, false);
	if (!found &&
	    (rc = kz_views_has_created(im->st, id, KZ_OP_POST, &found)) < 0)
		return rc;
	if (found) {
		im->stats->present++;
		return 0;
	}

	/* The people it names, made users first if the export lacked them. */
	if (*m->user != '\0') {
		if ((rc = seen_user(im, m->user, m->username, m->file, m->line,
		    &ok)) < 0)
			return rc;
		if (ok)
			user_id(author, m->user);
	}
	for (i = 0; i < m->n_reactions; i++)
		n_users += m->reactions[i].n_users;
	rs = calloc(m->n_reactions + 1, sizeof(*rs));
	emojis = calloc(m->n_reactions + 1, sizeof(*emojis));
	rusers = calloc(n_users + 1, sizeof(*rusers));
	rptr = calloc(n_users + 1, sizeof(*rptr));
	fs = calloc(m->n_files + 1, sizeof(*fs));
	if (rs == NULL || emojis == NULL || rusers == NULL || rptr == NULL ||
	    fs == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	for (i = k = 0; i < m->n_reactions; i++) {
		size_t first = k;

		for (j = 0; j < m->reactions[i].n_users; j++) {
			if ((rc = seen_user(im, m->reactions[i].users[j], "",
			    m->file, m->line, &ok)) < 0)
				goto out;
			if (!ok)
				continue;
			user_id(rusers[k], m->reactions[i].users[j]);
			rptr[k] = rusers[k];
			k++;
		}
		if (k == first)
			continue;
		kz_slack_emoji(emojis[nr], m->reactions[i].name);
		rs[nr] = (struct kz_imported_reaction){ emojis[nr], k - first,
		    rptr + first };
		pairs += k - first;
		nr++;
	}

	if ((rc = kz_slack_text(&text, m->text, &names, mention_ids, &n_mentions,
	    KZ_MENTIONS_MAX)) < 0)
		goto out;
	if (*m->attachments != '\0') {
		if ((rc = kz_slack_text(&att, m->attachments, &names, NULL, NULL,
		    0)) < 0)
			goto out;
		if ((full = malloc(strlen(text) + strlen(att) + 2)) == NULL) {
			rc = KZ_ERR_NOMEM;
			goto out;
		}
		sprintf(full, "%s%s%s", text, *text ? "\n" : "", att);
	}
	for (i = k = 0; i < n_mentions; i++)
		if (user_id(kmentions[k], mention_ids[i]))
			mptr[k] = kmentions[k], k++;
	n_mentions = k;
	/* File fields are clipped to their bounds rather than losing the
	 * message: a reference with a shortened name still says what it was. */
	if (m->n_files > 0 && (fstr = malloc(m->n_files * FILE_STR_BYTES)) == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < m->n_files && i < KZ_IMPORT_FILES_MAX; i++) {
		const struct kz_slack_file *f = &m->files[i];
		char *b = fstr + i * FILE_STR_BYTES;

		fs[i] = (struct kz_imported_file){
		    clip(b, KZ_IMPORT_FILE_NAME_MAX + 1, f->id),
		    clip(b + 256, KZ_IMPORT_FILE_NAME_MAX + 1, f->name),
		    clip(b + 512, KZ_IMPORT_FILE_NAME_MAX + 1, f->title),
		    clip(b + 768, KZ_IMPORT_FILE_NAME_MAX + 1, f->mimetype), f->size,
		    clip(b + 1024, KZ_IMPORT_URL_MAX + 1, f->url) };
	}
	n_files = i;

	reply = m->thread_ts != NULL && strcmp(m->thread_ts, m->ts) != 0;
	if (reply) {
		char rsrc[KZ_IMPORT_SOURCE_MAX + 1];

		snprintf(rsrc, sizeof(rsrc), "slack:%s/%s", c->id, m->thread_ts);
		kz_slack_id(root, rsrc);
	}
	{
		char csrc[KZ_IMPORT_SOURCE_MAX + 1];

		snprintf(csrc, sizeof(csrc), "slack:%s", c->id);
		kz_slack_id(chan, csrc);
	}
	ip = (struct kz_imported_post){
		.id = id,
		.source = source,
		.time_us = m->time_us,
		.author = author,
		.author_name = clip(author_name, sizeof(author_name), m->username),
		.subtype = m->subtype,
		.system = m->kind != KZ_SLACK_CHAT,
		.edited = m->edited,
		.source_text = m->text,
		.n_reactions = nr,
		.reactions = rs,
		.n_files = n_files,
		.files = fs,
		.pinned = m->pinned,
		.broadcast = strcmp(m->subtype, "thread_broadcast") == 0,
		.raw = m->raw != NULL && strlen(m->raw) <= KZ_IMPORT_RAW_MAX ?
		    m->raw : "",
		.thread_ts = m->thread_ts != NULL &&
		    strlen(m->thread_ts) <= KZ_IMPORT_SUBTYPE_MAX ? m->thread_ts : "",
		.attachments = strlen(m->attachments) <= KZ_TEXT_MAX ?
		    m->attachments : "",
	};
	op.u.post = (struct kz_post){ chan, full != NULL ? full : text,
	    reply ? root : NULL, KZ_PRIO_NORMAL, n_mentions, mptr, &ip };
	rc = append(im, &op, &why);
	if (rc == 1) {
		skip(im, m->file, m->line, "message %zu (ts %s): %s; skipped",
		    m->index, m->ts, why == KZ_ERR_TOO_BIG ? "too big for one"
		    " entry once converted" : kz_strerror(why));
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (im->open)	/* else committed with it: the views show it */
		idset_has(&im->pending, id, true);
	im->stats->messages++;
	if (ip.system)
		im->stats->system++;
	if (reply)
		im->stats->threads++;
	im->stats->reactions += pairs;
	im->stats->files += n_files;
out:
	free(text);
	free(att);
	free(full);
	free(rs);
	free(emojis);
	free(rusers);
	free(rptr);
	free(fs);
	free(fstr);
	return rc;
}

static int
on_day_file(void *ctx, size_t done, size_t total)
{
	struct imp *im = ctx;

	im->stats->day_files_done = done;
	im->stats->day_files = total;
	if (im->o->progress != NULL)
		im->o->progress(im->o->ctx, im->stats);
	return 0;
}

int
kz_slack_import(struct kz_store *st, const struct kz_keypair *kp,
    struct kz_slack_src *src, const struct kz_slack_import_opts *opts,
    struct kz_slack_stats *stats)
{
	struct imp im = { .st = st, .kp = kp, .o = opts, .stats = stats,
	    .names = json_object(), .chans = json_object(),
	    .batch = opts->batch ? opts->batch : DEFAULT_BATCH };
	struct kz_slack_scan_cb cb = { &im, on_report, on_user, on_channel,
	    on_message, on_day_file };
	int rc;

	memset(stats, 0, sizeof(*stats));
	if (im.names == NULL || im.chans == NULL ||
	    idset_init(&im.pending, im.batch) < 0) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	rc = kz_slack_scan(src, &cb);
	if (rc == 0)
		rc = commit(&im);
	if (rc != 0 && im.open) {
		/* What the open batch did is undone, and so are its counts
		 * (the items it reported stay reported). */
		uint64_t skipped = stats->skipped;

		kz_store_rollback(st);
		*stats = im.at_begin;
		stats->skipped = skipped;
	}
out:
	idset_free(&im.pending);
	json_decref(im.names);
	json_decref(im.chans);
	return rc;
}
