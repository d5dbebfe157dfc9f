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
 *
 * Two threads: a reader thread walks the export (ZIP, JSON), converts the
 * texts and encodes each item's op; the caller's thread takes the items in
 * the reader's order and does everything that touches the store, the
 * counts and the callbacks.  The order of items, and so the entries, are
 * those of one thread doing both; reading a day file's JSON and
 * converting its texts (a quarter of the work) overlaps the store's.
 *
 * Steps: kz_slack_import_step takes items until a batch is committed, so
 * a caller with other work on its thread (kizunad's loop) runs the import
 * a batch at a time, never leaving one open between steps; kz_slack_import
 * is the same steps in one loop.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "kizuna/err.h"
#include "kizuna/slack.h"
#include "kizuna/views.h"
#include "slack_int.h"

/*
 * Entries a transaction.  Each commit rewrites every page of the random-key
 * indexes (message ids, fact keys) that its inserts touched, which for
 * thousands of inserts is nearly all of them: 10,000 a batch wrote 397 MiB
 * for 100,000 messages where 2,000 wrote 678 MiB.
 */
#define DEFAULT_BATCH 10000
/*
 * The store's thread appends a batch's items quickly and does most of its
 * work (the views) at the commit, while the reader goes on only as long as
 * the queue has room: with fewer items than a batch, the store's thread
 * then waited for the reader after every commit (0.4 s of a
 * 100,000-message import with 4,096 items, 0.09 s with 16,384; the reader
 * also reads all day files of a date before it hands on their messages in
 * time order).  What the items hold (with their decoded ops) is bounded
 * too, for exports of huge messages.
 */
#define QUEUE_ITEMS 16384
#define QUEUE_BYTES (64 * 1024 * 1024)

/*
 * Appending is quicker than reading, so the store's thread drains the
 * queue while a batch fills and then waits for the reader, item by item
 * (at the start of an import, and whenever the reader parses a date's day
 * files).  Instead of waiting it applies the views to what the batch has
 * appended so far, once that is at least this many entries (kizuna-bench
 * slack, 100,000 messages: 0.16-0.23 s of waiting for the reader became
 * 0.01-0.04 s).
 */
#define IDLE_APPLY_MIN 256

static size_t apply_every;	/* kz__slack_apply_every */

void
kz__slack_apply_every(size_t n)
{
	apply_every = n;
}

/* Room for one file reference's clipped strings: 4 x 256 and the URL. */
#define FILE_STR_BYTES (4 * (KZ_IMPORT_FILE_NAME_MAX + 1) + KZ_IMPORT_URL_MAX + 1)

#define STAT(f) { #f, offsetof(struct kz_slack_stats, f) }

const struct kz_slack_stat_name kz_slack_stat_names[KZ_SLACK_STATS] = {
	STAT(channels), STAT(users), STAT(messages), STAT(system),
	STAT(threads), STAT(reactions), STAT(files), STAT(present),
	STAT(skipped), STAT(entries), STAT(day_files), STAT(day_files_done),
};

/* ------------------------------------------------------------ the queue */

enum item_kind { IT_USER, IT_CHANNEL, IT_POST, IT_REPORT, IT_DAY, IT_END };

/* One thing the reader thread hands to the store's thread. */
struct item {
	enum item_kind kind;
	int rc;			/* IT_END: the walk's result */
	uint8_t id[KZ_ID_BYTES];	/* IT_CHANNEL, IT_POST */
	uint8_t chan[KZ_ID_BYTES];	/* IT_POST: its channel's id */
	uint8_t *op;		/* IT_CHANNEL, IT_POST: encoded, malloc'd */
	size_t op_len;
	/* IT_CHANNEL, IT_POST: op decoded again by the reader, as the store
	 * would decode it, with the bytes' hash (kz_op_decode_hashed; NULL if
	 * it does not decode; kz_store_append_decoded) */
	struct kz_op *dec;
	bool active;		/* IT_USER */
	bool system, reply;	/* IT_POST */
	uint64_t n1, n2;	/* IT_POST: reactions, files; IT_DAY: done, total */
	unsigned line;
	/* IT_USER: user id, display name, file; IT_REPORT: file, what;
	 * IT_POST: its file when it brings users. */
	char *s1, *s2, *s3;
	/* IT_POST: the users it names that are not made yet, made only if it
	 * is written ("ID\0NAME\0" each). */
	char *users;
	size_t n_users;
};

/*
 * Items the store's thread is done with, and the decoded ops the store
 * frees at a commit (kz_op release), go back to the reader's thread to be
 * freed there, SPENT_ITEMS at a time.  glibc's malloc gives each thread an
 * arena of its own, and a free() of a chunk from another thread's arena
 * takes that arena's lock, which the reader holds for each of its own
 * allocations: freeing the reader's allocations on the store's thread made
 * it wait on that lock (perf record -e sched:sched_switch: most of its
 * context switches, a sleep each, in kizuna-bench slack).
 */
#define SPENT_ITEMS 256

struct spent {
	struct spent *next;
	size_t n;
	struct item v[SPENT_ITEMS];
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct item ring[QUEUE_ITEMS];
	size_t head, n;
	size_t bytes;		/* item_bytes of the items held */
	bool stop;		/* the store's thread gave up: pushes fail */
	/*
	 * The store's thread fills spending (its own); a full one goes on
	 * the back stack, whose arrays the reader takes at its next push,
	 * frees their items and puts on the empty stack, where the store's
	 * thread takes its next one (or makes one).
	 */
	struct spent *spending, *back, *empty;
};

/* About what an item holds: its op, decoded too, and strings. */
static size_t
item_bytes(const struct item *it)
{
	return 256 + 3 * it->op_len;
}

static void
item_free(struct item *it)
{
	free(it->op);
	if (it->dec != NULL)
		it->dec->release = NULL;	/* freed here for good */
	kz_op_free(it->dec);
	free(it->s1);
	free(it->s2);
	free(it->s3);
	free(it->users);
}

/* Frees the items of s and of the arrays after it. */
static void
spent_free(struct spent *s)
{
	size_t i;

	for (; s != NULL; s = s->next) {
		for (i = 0; i < s->n; i++)
			item_free(&s->v[i]);
		s->n = 0;
	}
}

/* Frees s and the arrays after it (their items freed already). */
static void
spent_drop(struct spent *s)
{
	struct spent *next;

	for (; s != NULL; s = next) {
		next = s->next;
		free(s);
	}
}

/*
 * Hands it on (then owned by the queue); 1 once stopped, it freed and
 * emptied (a caller's own item_free of it on failure frees nothing twice).
 */
static int
queue_push(struct queue *q, struct item *it)
{
	struct spent *back;

	pthread_mutex_lock(&q->mu);
	while ((q->n == QUEUE_ITEMS || (q->n > 0 && q->bytes > QUEUE_BYTES)) &&
	    !q->stop)
		pthread_cond_wait(&q->not_full, &q->mu);
	if (q->stop) {
		pthread_mutex_unlock(&q->mu);
		item_free(it);
		memset(it, 0, sizeof(*it));
		return 1;
	}
	q->ring[(q->head + q->n) % QUEUE_ITEMS] = *it;
	q->n++;
	q->bytes += item_bytes(it);
	back = q->back;
	q->back = NULL;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	if (back != NULL) {
		struct spent *last = back;

		spent_free(back);
		while (last->next != NULL)
			last = last->next;
		pthread_mutex_lock(&q->mu);
		last->next = q->empty;
		q->empty = back;
		pthread_mutex_unlock(&q->mu);
	}
	return 0;
}

static void
queue_pop(struct queue *q, struct item *it)
{
	pthread_mutex_lock(&q->mu);
	while (q->n == 0)
		pthread_cond_wait(&q->not_empty, &q->mu);
	*it = q->ring[q->head];
	q->head = (q->head + 1) % QUEUE_ITEMS;
	q->n--;
	q->bytes -= item_bytes(it);
	/*
	 * The reader, waiting on a full queue, is woken once half of it is
	 * free, not for every item: the store's thread sets the pace, so the
	 * queue is often full, and each wake-up of the reader for one item
	 * is a switch between the threads (kizuna-bench slack's three
	 * imports: 22,700 voluntary context switches instead of 26,000).
	 * The last item out always wakes it.
	 */
	if (q->n <= QUEUE_ITEMS / 2 && q->bytes <= QUEUE_BYTES / 2)
		pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}

/*
 * The store's thread is done with it (taken): it goes back to the reader
 * with the next full array.  (Out of memory for an array, the store's
 * thread frees the full one's items itself.)
 */
static void
queue_spend(struct queue *q, struct item *it)
{
	struct spent *s = q->spending, *next;

	s->v[s->n++] = *it;
	memset(it, 0, sizeof(*it));
	if (s->n < SPENT_ITEMS)
		return;
	pthread_mutex_lock(&q->mu);
	if ((next = q->empty) != NULL)
		q->empty = next->next;
	pthread_mutex_unlock(&q->mu);
	if (next == NULL && (next = malloc(sizeof(*next))) == NULL) {
		spent_free(s);
		return;
	}
	next->next = NULL;
	next->n = 0;
	q->spending = next;
	pthread_mutex_lock(&q->mu);
	s->next = q->back;
	q->back = s;
	pthread_mutex_unlock(&q->mu);
}

/* A decoded op the store is done with (kz_op_free): as an item. */
static void
release_op(void *ctx, struct kz_op *op)
{
	struct item it = { .kind = IT_POST, .dec = op };

	queue_spend(ctx, &it);
}

static bool
queue_empty(struct queue *q)
{
	bool empty;

	pthread_mutex_lock(&q->mu);
	empty = q->n == 0;
	pthread_mutex_unlock(&q->mu);
	return empty;
}

static void
queue_stop(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}

/* ------------------------------------------------------------ the reader */

/* The reader thread's state: the walk and the names its texts resolve. */
struct rd {
	struct kz_slack_src *src;
	struct queue *q;
	json_t *names;		/* Slack user id -> display name */
	json_t *chans;		/* Slack channel id -> name */
	int rc;			/* kz_slack_scan's */
	/* The message being read: the users it names first (seen_user). */
	char *seen;
	size_t seen_len, seen_cap, n_seen;
};

/* ------------------------------------------------------------ the store */

/* The store's thread (the caller's). */
struct imp {
	struct kz_store *st;
	struct queue *q;	/* the reader's */
	const struct kz_keypair *kp;
	const struct kz_slack_import_opts *o;
	struct kz_slack_stats *stats;
	size_t batch, in_batch;
	size_t unapplied;	/* appends since the views were last applied */
	bool open;
	uint64_t commits;	/* batches committed so far */
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
	/*
	 * Channels this run created (they were not in the store), and a Bloom
	 * filter of every message id this run appended.  A message of such a
	 * channel that the filter has not seen cannot be in the store (an
	 * import writes a channel before its messages), so it is written
	 * without looking the store up: a twentieth of an import's work.
	 */
	uint8_t (*fresh)[KZ_ID_BYTES];
	size_t n_fresh, cap_fresh;
	uint64_t *bloom;	/* BLOOM_BITS bits */
};

#define BLOOM_BITS (1u << 23)	/* 1 MiB: 2% false hits at 1,000,000 */
#define BLOOM_HASHES 4

/* The id's BLOOM_HASHES bits: the id is a digest, its words are hashes. */
static bool
bloom_test(uint64_t *bloom, const uint8_t id[KZ_ID_BYTES], bool add)
{
	bool all = true;
	int i;

	for (i = 0; i < BLOOM_HASHES; i++) {
		uint32_t h = ((uint32_t)id[4 * i] | (uint32_t)id[4 * i + 1] << 8 |
		    (uint32_t)id[4 * i + 2] << 16 | (uint32_t)id[4 * i + 3] << 24) &
		    (BLOOM_BITS - 1);
		uint64_t bit = (uint64_t)1 << (h & 63);

		if ((bloom[h >> 6] & bit) == 0)
			all = false;
		if (add)
			bloom[h >> 6] |= bit;
	}
	return all;
}

/* fresh is kept sorted: every message asks, a workspace has many channels. */
static bool
fresh_find(const struct imp *im, const uint8_t chan[KZ_ID_BYTES], size_t *at)
{
	size_t lo = 0, hi = im->n_fresh;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(im->fresh[mid], chan, KZ_ID_BYTES);

		if (c == 0) {
			*at = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return false;
}

static bool
is_fresh(const struct imp *im, const uint8_t chan[KZ_ID_BYTES])
{
	size_t at;

	return fresh_find(im, chan, &at);
}

static int
add_fresh(struct imp *im, const uint8_t chan[KZ_ID_BYTES])
{
	size_t at;

	if (fresh_find(im, chan, &at))
		return 0;
	if (im->n_fresh == im->cap_fresh) {
		size_t cap = im->cap_fresh ? 2 * im->cap_fresh : 16;
		uint8_t (*p)[KZ_ID_BYTES] = realloc(im->fresh, cap * sizeof(*p));

		if (p == NULL)
			return KZ_ERR_NOMEM;
		im->fresh = p;
		im->cap_fresh = cap;
	}
	memmove(im->fresh[at + 1], im->fresh[at],
	    (im->n_fresh - at) * sizeof(*im->fresh));
	memcpy(im->fresh[at], chan, KZ_ID_BYTES);
	im->n_fresh++;
	return 0;
}

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

/* ------------------------------------------------------------ the reader */

/* Hands on a report of something skipped (what: already formatted). */
static int
put_report(struct rd *r, const char *file, unsigned line, const char *what)
{
	struct item it = { .kind = IT_REPORT, .line = line,
	    .s1 = strdup(file), .s2 = strdup(what) };

	if (it.s1 == NULL || it.s2 == NULL) {
		item_free(&it);
		return KZ_ERR_NOMEM;
	}
	return queue_push(r->q, &it);
}

static int
report(struct rd *r, const char *file, unsigned line, const char *fmt, ...)
	KZ_PRINTF(4, 5);

static int
report(struct rd *r, const char *file, unsigned line, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return put_report(r, file, line, what);
}

/*
 * The reader's own reports.  The walk has no way to be stopped from here;
 * a report that cannot be handed on (out of memory, or the store's thread
 * gave up) is lost, and the next item's push fails the same way.
 */
static void
on_report(void *ctx, const char *file, unsigned line, const char *what)
{
	(void)put_report(ctx, file, line, what);
}

/*
 * The op encoded into it, and decoded again from those bytes as the
 * store's views would (here, on the reader's thread, and not there); 1
 * (reported: why) when it does not encode.
 */
static int
encode(struct item *it, const struct kz_op *op, int *why)
{
	int rc = kz_op_encode(&it->op, &it->op_len, op);

	if (rc == KZ_ERR_NOMEM)
		return rc;
	if (rc < 0) {
		*why = rc;
		return 1;
	}
	if (kz_op_decode_hashed(&it->dec, it->op, it->op_len) == KZ_ERR_NOMEM)
		return KZ_ERR_NOMEM;
	return 0;
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

/* Hands on a user to be made (or updated) as the export says. */
static int
put_user_item(struct rd *r, const char *kid, const char *display, bool active,
    const char *file, unsigned line)
{
	struct item it = { .kind = IT_USER, .active = active, .line = line,
	    .s1 = strdup(kid), .s2 = strdup(display), .s3 = strdup(file) };

	if (it.s1 == NULL || it.s2 == NULL || it.s3 == NULL) {
		item_free(&it);
		return KZ_ERR_NOMEM;
	}
	return queue_push(r->q, &it);
}

static int
on_user(void *ctx, const struct kz_slack_user *u)
{
	struct rd *r = ctx;
	char kid[KZ_USER_ID_MAX + 1], name[KZ_NAME_MAX + 1];

	if (!user_id(kid, u->id))
		return report(r, "users.json", 0,
		    "user id '%.64s' is not usable; skipped", u->id);
	clip(name, sizeof(name), u->display_name);
	if (json_object_set_new(r->names, u->id, json_string(name)) < 0)
		return KZ_ERR_NOMEM;
	return put_user_item(r, kid, name, !u->deleted, "users.json", 0);
}

/*
 * A user seen in a message but not in users.json (a shared channel's
 * guest): made from the message's profile, else named by the id, just
 * before the message (and not at all if the message is there already).
 */
static int
seen_user(struct rd *r, const char *slack_id, const char *profile_name,
    bool *ok)
{
	char kid[KZ_USER_ID_MAX + 1], name[KZ_NAME_MAX + 1];
	size_t need;

	*ok = user_id(kid, slack_id);
	if (!*ok || json_object_get(r->names, slack_id) != NULL)
		return 0;
	clip(name, sizeof(name), *profile_name ? profile_name : slack_id);
	if (json_object_set_new(r->names, slack_id, json_string(name)) < 0)
		return KZ_ERR_NOMEM;
	need = strlen(kid) + strlen(name) + 2;
	if (r->seen_len + need > r->seen_cap) {
		size_t cap = r->seen_cap ? 2 * r->seen_cap : 256;
		char *p;

		while (cap < r->seen_len + need)
			cap *= 2;
		if ((p = realloc(r->seen, cap)) == NULL)
			return KZ_ERR_NOMEM;
		r->seen = p;
		r->seen_cap = cap;
	}
	memcpy(r->seen + r->seen_len, kid, strlen(kid) + 1);
	r->seen_len += strlen(kid) + 1;
	memcpy(r->seen + r->seen_len, name, strlen(name) + 1);
	r->seen_len += strlen(name) + 1;
	r->n_seen++;
	return 0;
}

/* The users the message names, made whether or not it is written. */
static int
put_seen_users(struct rd *r, const char *file, unsigned line)
{
	const char *p = r->seen;
	size_t i;
	int rc = 0;

	for (i = 0; i < r->n_seen && rc == 0; i++) {
		const char *name = p + strlen(p) + 1;

		rc = put_user_item(r, p, name, true, file, line);
		p = name + strlen(name) + 1;
	}
	return rc;
}

static const char *
name_of_user(void *ctx, const char *id)
{
	struct rd *r = ctx;

	return json_string_value(json_object_get(r->names, id));
}

static const char *
name_of_channel(void *ctx, const char *id)
{
	struct rd *r = ctx;

	return json_string_value(json_object_get(r->chans, id));
}

static int
on_channel(void *ctx, const struct kz_slack_channel *c)
{
	struct rd *r = ctx;
	struct kz_slack_names names = { r, name_of_user, name_of_channel };
	char source[KZ_IMPORT_SOURCE_MAX + 1], name[KZ_NAME_MAX + 1];
	char topic[KZ_TOPIC_MAX + 1], purpose[KZ_TOPIC_MAX + 1];
	char *t = NULL, *p = NULL;
	struct kz_imported_channel ic;
	struct kz_op op = { .type = KZ_OP_CHANNEL_CREATE };
	struct item it = { .kind = IT_CHANNEL };
	int rc, why = 0;

	if (json_object_set_new(r->chans, c->id, json_string(c->name)) < 0)
		return KZ_ERR_NOMEM;
	if (snprintf(source, sizeof(source), "slack:%s", c->id) >=
	    (int)sizeof(source))
		return report(r, c->file, 0, "channel id '%.40s…' too long;"
		    " skipped", c->id);
	kz_slack_id(it.id, source);
	if ((rc = kz_slack_text(&t, c->topic, &names, NULL, NULL, 0)) < 0 ||
	    (rc = kz_slack_text(&p, c->purpose, &names, NULL, NULL, 0)) < 0)
		goto out;
	ic = (struct kz_imported_channel){ it.id, source,
	    c->created <= KZ_IMPORT_TIME_US_MAX / 1000000 ? c->created * 1000000 : 0,
	    c->archived, false, clip(purpose, sizeof(purpose), p) };
	op.u.channel_create = (struct kz_channel_create){
	    clip(name, sizeof(name), c->name), clip(topic, sizeof(topic), t), &ic };
	rc = encode(&it, &op, &why);
	if (rc == 1)
		rc = report(r, c->file, 0, "channel %s: %s; skipped", c->name,
		    kz_strerror(why));
	else if (rc == 0 && (it.s1 = strdup(c->file)) == NULL)
		rc = KZ_ERR_NOMEM;
	else if (rc == 0)
		rc = queue_push(r->q, &it);
	if (rc != 0)
		item_free(&it);
out:
	free(t);
	free(p);
	return rc;
}

static int
on_message(void *ctx, const struct kz_slack_channel *c,
    const struct kz_slack_message *m)
{
	struct rd *r = ctx;
	struct kz_slack_names names = { r, name_of_user, name_of_channel };
	char source[KZ_IMPORT_SOURCE_MAX + 1], author[KZ_USER_ID_MAX + 1] = "";
	char author_name[KZ_NAME_MAX + 1];
	char mention_ids[KZ_MENTIONS_MAX][KZ_USER_ID_MAX + 1];
	char kmentions[KZ_MENTIONS_MAX][KZ_USER_ID_MAX + 1];
	const char *mptr[KZ_MENTIONS_MAX];
	uint8_t root[KZ_ID_BYTES], chan[KZ_ID_BYTES];
	struct kz_imported_post ip;
	struct kz_imported_reaction *rs = NULL;
	struct kz_imported_file *fs = NULL;
	char (*rusers)[KZ_USER_ID_MAX + 1] = NULL;
	const char **rptr = NULL;
	char (*emojis)[KZ_EMOJI_MAX + 1] = NULL;
	char *text = NULL, *att = NULL, *full = NULL, *fstr = NULL;
	struct kz_op op = { .type = KZ_OP_POST };
	struct item it = { .kind = IT_POST };
	size_t i, j, k, n_mentions = 0, n_users = 0, nr = 0, pairs = 0, n_files = 0;
	bool ok, reply;
	int rc, why = 0;

	if (snprintf(source, sizeof(source), "slack:%s/%s", c->id, m->ts) >=
	    (int)sizeof(source))
		return report(r, m->file, m->line, "message %zu: source too long;"
		    " skipped", m->index);
	kz_slack_id(it.id, source);
	r->seen_len = r->n_seen = 0;

	/* The people it names, made users first if the export lacked them. */
	if (*m->user != '\0') {
		if ((rc = seen_user(r, m->user, m->username, &ok)) < 0)
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
			if ((rc = seen_user(r, m->reactions[i].users[j], "",
			    &ok)) < 0)
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
		.id = it.id,
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
	rc = encode(&it, &op, &why);
	if (rc == 1) {
		/* Its users are named now: they are made all the same. */
		if ((rc = put_seen_users(r, m->file, m->line)) == 0)
			rc = report(r, m->file, m->line, "message %zu (ts %s): %s;"
			    " skipped", m->index, m->ts, why == KZ_ERR_TOO_BIG ?
			    "too big for one entry once converted" :
			    kz_strerror(why));
		goto out;
	}
	if (rc < 0)
		goto out;
	if (r->n_seen > 0) {
		if ((it.users = malloc(r->seen_len)) == NULL ||
		    (it.s1 = strdup(m->file)) == NULL) {
			rc = KZ_ERR_NOMEM;
			goto out;
		}
		memcpy(it.users, r->seen, r->seen_len);
		it.n_users = r->n_seen;
		it.line = m->line;
	}
	it.system = ip.system;
	it.reply = reply;
	memcpy(it.chan, chan, KZ_ID_BYTES);
	it.n1 = pairs;
	it.n2 = n_files;
	rc = queue_push(r->q, &it);
out:
	if (rc != 0)
		item_free(&it);
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
	struct rd *r = ctx;
	struct item it = { .kind = IT_DAY, .n1 = done, .n2 = total };

	return queue_push(r->q, &it);
}

static void *
reader_main(void *arg)
{
	struct rd *r = arg;
	struct kz_slack_scan_cb cb = { r, on_report, on_user, on_channel,
	    on_message, on_day_file };
	struct item end = { .kind = IT_END };

	end.rc = r->rc = kz_slack_scan(r->src, &cb);
	(void)queue_push(r->q, &end);	/* fails only once stopped */
	return NULL;
}

/* ------------------------------------------------------------ the store */

/* Applies the open batch's appends so far to the views. */
static int
apply(struct imp *im)
{
	im->unapplied = 0;
	return kz_store_bulk_apply(im->st);
}

static void
skip(struct imp *im, const char *file, unsigned line, const char *what)
{
	im->stats->skipped++;
	if (im->o->report != NULL)
		im->o->report(im->o->ctx, file, line, what);
}

static int
commit(struct imp *im)
{
	int rc;

	if (!im->open)
		return 0;
	im->in_batch = 0;
	im->unapplied = 0;
	if ((rc = kz_store_commit(im->st)) < 0)
		return rc;	/* rolled back: still open for the caller's undo */
	im->open = false;
	im->commits++;
	idset_clear(&im->pending);
	if (im->o->progress != NULL)
		im->o->progress(im->o->ctx, im->stats);
	return 0;
}

/*
 * Appends an encoded op in the open batch, with its decoded form *dec
 * (kz_store_append_decoded: taken, *dec set to NULL).  Returns 0 or a store
 * error.
 */
static int
append(struct imp *im, const uint8_t *op, size_t len, struct kz_op **dec)
{
	struct kz_op *d = *dec;
	int rc;

	*dec = NULL;
	if (!im->open) {
		if ((rc = kz_store_begin_bulk(im->st)) < 0) {
			kz_op_free(d);
			return rc;
		}
		im->open = true;
		im->at_begin = *im->stats;
	}
	if ((rc = kz_store_append_decoded(im->st, im->kp, im->o->wall_ms, op,
	    len, d, NULL)) < 0)
		return rc;
	im->stats->entries++;
	im->unapplied++;
	if (++im->in_batch >= im->batch)
		return commit(im);
	return 0;
}

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
	struct kz_op *dec = NULL;
	uint8_t *buf;
	size_t len;
	int rc;

	/* Users are few: the batch so far is applied to read the views. */
	if ((rc = apply(im)) < 0)
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
	if ((rc = kz_op_encode(&buf, &len, &op)) < 0) {
		char what[512];

		if (rc == KZ_ERR_NOMEM)
			return rc;
		snprintf(what, sizeof(what), "user %s: %s; skipped", kid,
		    kz_strerror(rc));
		skip(im, file, line, what);
		return 0;
	}
	if ((rc = kz_op_decode_hashed(&dec, buf, len)) == KZ_ERR_NOMEM) {
		free(buf);
		return rc;
	}
	rc = append(im, buf, len, &dec);
	free(buf);
	if (rc == 0)
		im->stats->users++;
	return rc;
}

/*
 * The reader's decoded op *dec, to be handed to the store: when the store
 * frees it, it goes back to the reader's thread (release_op).
 */
static struct kz_op **
release(struct imp *im, struct kz_op **dec)
{
	if (*dec != NULL) {
		(*dec)->release = release_op;
		(*dec)->release_ctx = im->q;
	}
	return dec;
}

/* Takes one item from the reader; 1 when it was the last. */
static int
take(struct imp *im, struct item *it)
{
	const char *p;
	bool found = false;
	size_t i;
	int rc = 0;

	switch (it->kind) {
	case IT_USER:
		return put_user(im, it->s1, it->s2, it->active, it->s3, it->line);
	case IT_REPORT:
		skip(im, it->s1, it->line, it->s2);
		return 0;
	case IT_DAY:
		im->stats->day_files_done = it->n1;
		im->stats->day_files = it->n2;
		if (im->o->progress != NULL)
			im->o->progress(im->o->ctx, im->stats);
		return 0;
	case IT_END:
		return it->rc != 0 ? it->rc : 1;
	case IT_CHANNEL:
		if ((rc = apply(im)) < 0 ||	/* channels are few */
		    (rc = kz_views_has_created(im->st, it->id,
		    KZ_OP_CHANNEL_CREATE, &found)) < 0)
			return rc;
		if (found) {
			im->stats->present++;
			return 0;
		}
		if ((rc = append(im, it->op, it->op_len, release(im, &it->dec)))
		    == 0) {
			im->stats->channels++;
			rc = add_fresh(im, it->id);
		}
		return rc;
	case IT_POST:
		if (!is_fresh(im, it->chan) ||
		    bloom_test(im->bloom, it->id, false)) {
			found = idset_has(&im->pending, it->id, false);
			if (!found && (rc = kz_views_has_created(im->st, it->id,
			    KZ_OP_POST, &found)) < 0)
				return rc;
		}
		if (found) {
			im->stats->present++;
			return 0;
		}
		for (p = it->users, i = 0; i < it->n_users; i++) {
			const char *name = p + strlen(p) + 1;

			if ((rc = put_user(im, p, name, true, it->s1, it->line)) < 0)
				return rc;
			p = name + strlen(name) + 1;
		}
		if ((rc = append(im, it->op, it->op_len, release(im, &it->dec)))
		    < 0)
			return rc;
		if (im->open)	/* else committed with it: the views show it */
			idset_has(&im->pending, it->id, true);
		bloom_test(im->bloom, it->id, true);
		im->stats->messages++;
		if (it->system)
			im->stats->system++;
		if (it->reply)
			im->stats->threads++;
		im->stats->reactions += it->n1;
		im->stats->files += it->n2;
		return 0;
	}
	return KZ_ERR_INVAL;
}

/* An import under way (kz_slack_import_begin). */
struct kz_slack_import {
	struct imp im;
	struct rd r;
	struct queue *q;
	struct kz_slack_import_opts o;
	struct kz_slack_stats stats;
	pthread_t reader;
	bool reader_on;		/* the reader thread runs, or ended unjoined */
	bool ckpt;		/* the checkpoint thread was turned on here */
	bool done;		/* ended: complete, failed or stopped */
	int rc;			/* the result once done */
};

/*
 * Stops the reader (at its next item), waits for it and frees what it had
 * handed on.  Then, on a failure (rc < 0), undoes the open batch and its
 * counts; on success commits the last batch.  The result, once done.
 */
static int
finish(struct kz_slack_import *imp, int rc)
{
	struct item it;
	int src;

	if (imp->reader_on) {
		if (rc != 0)
			queue_stop(imp->q);	/* the reader stops at its next item */
		pthread_join(imp->reader, NULL);
		imp->reader_on = false;
		while (imp->q->n > 0) {	/* what the stopped reader handed on */
			queue_pop(imp->q, &it);
			item_free(&it);
		}
	}
	if (rc == 0)
		rc = commit(&imp->im);
	if (rc != 0 && imp->im.open) {
		/* What the open batch did is undone, and so are its counts
		 * (the items it reported stay reported). */
		uint64_t skipped = imp->stats.skipped;

		kz_store_rollback(imp->im.st);
		imp->im.open = false;
		imp->stats = imp->im.at_begin;
		imp->stats.skipped = skipped;
	}
	/* What went back to the reader (the store has freed its last ops
	 * now) and the reader, ended, did not free. */
	spent_free(imp->q->spending);
	spent_free(imp->q->back);
	/* Its commits did not wait for the disk (kz_store_begin_bulk): the
	 * import is done once they are on it. */
	if ((src = kz_store_sync(imp->im.st)) < 0 && rc == 0)
		rc = src;
	imp->done = true;
	imp->rc = rc;
	return rc;
}

static void
import_free(struct kz_slack_import *imp)
{
	if (imp->ckpt)
		kz_store_checkpoint_thread(imp->im.st, false);
	if (imp->r.q != NULL) {	/* set once the queue's locks are made */
		pthread_mutex_destroy(&imp->q->mu);
		pthread_cond_destroy(&imp->q->not_empty);
		pthread_cond_destroy(&imp->q->not_full);
	}
	if (imp->q != NULL) {	/* finish() freed their items */
		spent_drop(imp->q->spending);
		spent_drop(imp->q->back);
		spent_drop(imp->q->empty);
	}
	free(imp->q);
	free(imp->r.seen);
	free(imp->im.bloom);
	free(imp->im.fresh);
	idset_free(&imp->im.pending);
	json_decref(imp->r.names);
	json_decref(imp->r.chans);
	free(imp);
}

int
kz_slack_import_begin(struct kz_store *st, const struct kz_keypair *kp,
    struct kz_slack_src *src, const struct kz_slack_import_opts *opts,
    struct kz_slack_import **out)
{
	struct kz_slack_import *imp = calloc(1, sizeof(*imp));
	int rc;

	*out = NULL;
	if (imp == NULL)
		return KZ_ERR_NOMEM;
	imp->o = *opts;
	imp->im = (struct imp){ .st = st, .kp = kp, .o = &imp->o,
	    .stats = &imp->stats, .batch = opts->batch ? opts->batch :
	    DEFAULT_BATCH };
	imp->r = (struct rd){ .src = src, .names = json_object(),
	    .chans = json_object() };
	imp->q = calloc(1, sizeof(*imp->q));
	if (imp->q != NULL)
		imp->q->spending = calloc(1, sizeof(struct spent));
	imp->im.bloom = calloc(BLOOM_BITS / 64, sizeof(*imp->im.bloom));
	if (imp->q == NULL || imp->q->spending == NULL || imp->r.names == NULL ||
	    imp->r.chans == NULL || imp->im.bloom == NULL ||
	    idset_init(&imp->im.pending, imp->im.batch) < 0) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	pthread_mutex_init(&imp->q->mu, NULL);
	pthread_cond_init(&imp->q->not_empty, NULL);
	pthread_cond_init(&imp->q->not_full, NULL);
	imp->r.q = imp->q;
	imp->im.q = imp->q;
	/* Checkpoints on a thread of their own: a tenth of the store's work.
	 * Without it (out of memory) the import goes on, only slower. */
	imp->ckpt = kz_store_checkpoint_thread(st, true) == 0;
	if (pthread_create(&imp->reader, NULL, reader_main, &imp->r) != 0) {
		rc = KZ_ERR_NOMEM;
		goto fail;
	}
	imp->reader_on = true;
	*out = imp;
	return 0;
fail:
	import_free(imp);
	return rc;
}

int
kz_slack_import_step(struct kz_slack_import *imp, size_t max_batches)
{
	uint64_t commits = imp->im.commits;
	size_t taken = 0, bound;
	struct item it;
	int rc;

	if (imp->done)
		return imp->rc < 0 ? imp->rc : 0;
	if (max_batches == 0)
		max_batches = 1;
	/* Items already imported open no batch: a step of them alone ends
	 * after as many items as its batches would hold. */
	bound = max_batches > SIZE_MAX / imp->im.batch ? SIZE_MAX :
	    max_batches * imp->im.batch;
	for (;;) {
		if (imp->o.no_wait && !imp->im.open && queue_empty(imp->q))
			return taken > 0 ? 1 : 2;
		/* Rather than wait for the reader, the views take what the
		 * open batch has appended (the commit then has less to do). */
		if ((apply_every > 0 ? imp->im.unapplied >= apply_every :
		    imp->im.unapplied >= IDLE_APPLY_MIN && queue_empty(imp->q)) &&
		    (rc = apply(&imp->im)) < 0)
			break;
		queue_pop(imp->q, &it);
		rc = take(&imp->im, &it);
		queue_spend(imp->q, &it);
		taken++;
		if (rc != 0)
			break;
		/* Never between steps with a batch open: the caller may use
		 * the store in between.  (A message's users can commit a
		 * batch and the message open the next.) */
		if (!imp->im.open && (imp->im.commits - commits >= max_batches ||
		    taken >= bound))
			return 1;
	}
	if (rc == 1)
		rc = 0;
	return finish(imp, rc);
}

const struct kz_slack_stats *
kz_slack_import_stats(const struct kz_slack_import *imp)
{
	return &imp->stats;
}

int
kz_slack_import_end(struct kz_slack_import *imp, struct kz_slack_stats *stats)
{
	int rc;

	if (imp == NULL)
		return KZ_ERR_INVAL;
	/* Ended early: the reader stops; no batch is open between steps. */
	if (imp->done) {
		rc = imp->rc;
	} else {
		(void)finish(imp, 1);
		rc = 1;
	}
	if (stats != NULL)
		*stats = imp->stats;
	import_free(imp);
	return rc;
}

int
kz_slack_import(struct kz_store *st, const struct kz_keypair *kp,
    struct kz_slack_src *src, const struct kz_slack_import_opts *opts,
    struct kz_slack_stats *stats)
{
	struct kz_slack_import *imp;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if ((rc = kz_slack_import_begin(st, kp, src, opts, &imp)) < 0)
		return rc;
	while ((rc = kz_slack_import_step(imp, SIZE_MAX)) == 1)
		;
	return kz_slack_import_end(imp, stats);
}
