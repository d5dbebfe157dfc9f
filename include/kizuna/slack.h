/*
 * Slack workspace exports: the reader and the importer (docs/slack.md;
 * the format: ../shared/formats/slack-export.md).
 *
 * The reader (kz_slack_open, kz_slack_scan) opens an export, a ZIP file or
 * a folder of the same layout, with libzip and jansson, and walks it:
 * users, then channels, then the messages of every channel a date at a
 * time (the day files of all channels for one date, their messages by ts).
 * Whatever is wrong in it (an entry name that
 * climbs out of the export, a file that is not JSON, a message without
 * ts, a text over the limit, invalid UTF-8) is reported with the file and
 * line through the report callback and skipped, and the walk goes on.  A
 * message is handed on whole or not at all.
 *
 * The importer (kz_slack_import, or begin/step/end) turns what the reader hands on into
 * signed entries of this node's feed (kizuna.proto, ImportedPost and
 * ImportedChannel): ids derived from Slack's ids, so that importing the
 * same export again, or an overlapping one, adds nothing twice, and an
 * import stopped halfway (kill -9) and run again ends where one run would.
 *
 * The exporter (kz_slack_export) writes channels back in the same layout,
 * imported items as they came, so that an import of it elsewhere shows the
 * same channels (kz_views_channel_digest).
 */
#ifndef KIZUNA_SLACK_H
#define KIZUNA_SLACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/keys.h"
#include "kizuna/op.h"
#include "kizuna/store.h"

/* Largest file of an export the reader loads (a day file, users.json). */
#define KZ_SLACK_FILE_MAX (256u * 1024 * 1024)

/* Prefix of imported users' ids: "slack." + the Slack user id. */
#define KZ_SLACK_USER_PREFIX "slack."

struct kz_slack_src;

/*
 * Opens path: a ZIP file, or a folder with the export's layout.  Entry
 * names are checked here: one that is absolute or climbs out with ".." is
 * never read (kz_slack_scan reports it).  Returns 0, KZ_ERR_IO (cannot be
 * read) or KZ_ERR_MALFORMED (neither a folder nor a readable ZIP), with
 * the reason in why (may be NULL).
 */
int kz_slack_open(struct kz_slack_src **out, const char *path, char *why,
    size_t why_len);

/* kz_slack_open for a ZIP held in memory (borrowed until kz_slack_close). */
int kz_slack_open_buffer(struct kz_slack_src **out, const void *buf, size_t len,
    char *why, size_t why_len);

/* One file of an export held in memory. */
struct kz_slack_memfile {
	const char *name;		/* "general/2020-05-19.json" */
	const void *body;
	size_t len;
};

/*
 * An export given as files in memory (tests, fuzzing); names are checked
 * as a ZIP's are.  files and their bodies are borrowed until kz_slack_close.
 * Returns 0 or KZ_ERR_NOMEM.
 */
int kz_slack_open_files(struct kz_slack_src **out,
    const struct kz_slack_memfile *files, size_t n);

/* Accepts NULL. */
void kz_slack_close(struct kz_slack_src *src);

struct kz_slack_user {
	const char *id;			/* "U024BE7LH" */
	const char *team;		/* "" if absent */
	const char *name;		/* the legacy handle */
	const char *display_name;	/* display_name || real_name || name || id */
	bool deleted;
	bool is_bot;
};

struct kz_slack_channel {
	const char *file;		/* "channels.json" */
	const char *id;			/* "C024BE7LR" */
	const char *name;		/* its folder */
	const char *topic;
	const char *purpose;
	uint64_t created;		/* unix seconds */
	bool archived;
	bool is_general;
	size_t n_pins;
	const char *const *pins;	/* ts of pinned messages */
};

struct kz_slack_reaction {
	const char *name;		/* "+1::skin-tone-2" */
	size_t n_users;
	const char *const *users;
};

struct kz_slack_file {
	const char *id;
	const char *name;
	const char *title;
	const char *mimetype;
	uint64_t size;
	const char *url;		/* url_private with its query (tokens) cut */
};

/* What a message is, by its subtype. */
enum kz_slack_kind {
	KZ_SLACK_CHAT,			/* none, bot_message, me_message, file_share ... */
	KZ_SLACK_SYSTEM,		/* channel_join, channel_topic, pinned_item ... */
	KZ_SLACK_UNKNOWN		/* a subtype not known here: kept as an event */
};

/* All pointers live until the callback returns. */
struct kz_slack_message {
	const char *file;		/* "general/2020-05-19.json" */
	unsigned line;			/* where the message's object begins */
	size_t index;			/* its place in the file's array, from 0 */
	const char *ts;			/* "1589871634.304500" */
	uint64_t time_us;		/* ts in microseconds */
	const char *subtype;		/* "" for an ordinary message */
	enum kz_slack_kind kind;
	const char *user;		/* "" when absent (bots) */
	const char *username;		/* a bot's name, or the user_profile's */
	const char *text;		/* as exported: mrkdwn, escaped */
	const char *attachments;	/* their text, one per line; "" */
	const char *thread_ts;		/* NULL outside threads */
	bool edited;
	bool pinned;			/* pinned_to, or in the channel's pins */
	size_t n_reactions;
	const struct kz_slack_reaction *reactions;
	size_t n_files;
	const struct kz_slack_file *files;
	const char *raw;		/* the object as JSON, for KZ_SLACK_UNKNOWN; else NULL */
};

struct kz_slack_scan_cb {
	void *ctx;
	/* Something skipped: file (entry name), line (0: the whole file), why. */
	void (*report)(void *ctx, const char *file, unsigned line, const char *what);
	/* Each returns 0 to go on, or a value that stops the scan and is returned. */
	int (*user)(void *ctx, const struct kz_slack_user *u);
	int (*channel)(void *ctx, const struct kz_slack_channel *c);
	int (*message)(void *ctx, const struct kz_slack_channel *c,
	    const struct kz_slack_message *m);
	/* After each day file: done of total (every channel's) read. */
	int (*day_file)(void *ctx, size_t done, size_t total);
};

/*
 * Walks the export: every user of users.json (or org_users.json), every
 * channel of channels.json, then the messages: the day files (NAME/DATE.json
 * of each channel) grouped by file name, that is by date; each group's
 * messages by ts, then channel order, then place in the file.  Private
 * channels and direct messages (groups.json, dms.json, mpims.json) are
 * reported and not read: a kizuna workspace has no private channels, so
 * they would be shown to everyone.  Returns 0 (whatever was reported),
 * KZ_ERR_MALFORMED when channels.json is missing or unreadable, KZ_ERR_NOMEM,
 * or a callback's non-zero value.
 */
int kz_slack_scan(struct kz_slack_src *src, const struct kz_slack_scan_cb *cb);

/* ------------------------------------------------------------ text */

/* Names that text conversion resolves (each may return NULL: unknown). */
struct kz_slack_names {
	void *ctx;
	const char *(*user)(void *ctx, const char *slack_id);
	const char *(*channel)(void *ctx, const char *slack_id);
};

/*
 * Converts Slack's text encoding to kizuna's plain text: <@U…> (with or
 * without a label) becomes @ and the user's display name, <#C…|name> # and
 * the channel's current name, <!here> @here, <url|label> "label (url)",
 * <url> the url, other <!…|label> entities their label, :shortcode: emoji
 * the Unicode emoji where known, and &lt; &gt; &amp; are unescaped (in that
 * order, after the entities).  The Slack ids of mentioned users go to
 * mentions (up to max, distinct, without the "slack." prefix; *n_mentions
 * says how many; an id too long for a kizuna user id is left out).  *out
 * is malloc'd.  mentions and n_mentions may be NULL.  Returns 0 or KZ_ERR_NOMEM.
 */
int kz_slack_text(char **out, const char *text, const struct kz_slack_names *names,
    char (*mentions)[KZ_USER_ID_MAX + 1], size_t *n_mentions, size_t max);

/*
 * The Unicode emoji of a Slack shortcode without colons ("+1",
 * "+1::skin-tone-2", "smile") into out, or ":name:" when it is not known
 * (a custom emoji; a name over 62 bytes cut at a character's end).
 * Returns out.
 */
const char *kz_slack_emoji(char out[KZ_EMOJI_MAX + 1], const char *name);

/*
 * The Slack reaction name of an emoji as kizuna keeps it (kz_slack_emoji's
 * inverse): "+1::skin-tone-2" for U+1F44D U+1F3FB, "party" for ":party:";
 * an emoji not in the table is returned as it is.  Returns out.
 */
const char *kz_slack_shortcode(char out[KZ_EMOJI_MAX + 1], const char *emoji);

/* Plain text in Slack's encoding (&amp; &lt; &gt;), malloc'd; NULL: no memory. */
char *kz_slack_escape(const char *plain);

/* Parses a Slack ts ("1589871634.304500") to microseconds: 0 or KZ_ERR_INVAL. */
int kz_slack_ts_parse(const char *ts, uint64_t *us);

/* ------------------------------------------------------------ import */

struct kz_slack_stats {
	uint64_t channels;		/* channels created */
	uint64_t users;			/* users created or updated */
	uint64_t messages;		/* messages stored (system events included) */
	uint64_t system;		/* of which system events */
	uint64_t threads;		/* thread replies among the messages */
	uint64_t reactions;		/* (user, emoji) reactions on them */
	uint64_t files;			/* file references on them */
	uint64_t present;		/* items already imported, not written again */
	uint64_t skipped;		/* items reported and skipped */
	uint64_t entries;		/* entries appended */
	uint64_t day_files;		/* day files in the export */
	uint64_t day_files_done;	/* of which read */
};

/*
 * The fields of struct kz_slack_stats by the names the summaries and the
 * control protocol give them, in its order; the first KZ_SLACK_COUNTS are
 * the import's counts, the rest its progress (day files).
 */
struct kz_slack_stat_name {
	const char *name;
	size_t offset;
};
#define KZ_SLACK_STATS 12
#define KZ_SLACK_COUNTS 10
extern const struct kz_slack_stat_name kz_slack_stat_names[KZ_SLACK_STATS];

/* The i-th field of s (kz_slack_stat_names), and its value. */
static inline uint64_t *
kz_slack_stat(struct kz_slack_stats *s, size_t i)
{
	return (uint64_t *)((char *)s + kz_slack_stat_names[i].offset);
}

static inline uint64_t
kz_slack_stat_value(const struct kz_slack_stats *s, size_t i)
{
	return *(const uint64_t *)((const char *)s +
	    kz_slack_stat_names[i].offset);
}

struct kz_slack_import_opts {
	void *ctx;
	/* Each skipped item, as kz_slack_scan_cb.report. */
	void (*report)(void *ctx, const char *file, unsigned line, const char *what);
	/* After each day file and each committed batch (counts so far). */
	void (*progress)(void *ctx, const struct kz_slack_stats *s);
	uint64_t wall_ms;		/* the clock for the entries' hlc */
	size_t batch;			/* entries per transaction; 0: 10,000 */
	/* kz_slack_import_step returns 2 rather than wait for the reader
	 * while no batch is open (a caller with a loop to serve). */
	bool no_wait;
};

/*
 * Imports an export into st, appending to kp's feed (borrowed; this node
 * must be an admin node for the entries to count).  Items already
 * imported (by any node) are not written again.  Entries are committed in
 * batches; a failure rolls back only the open batch and is returned
 * (KZ_ERR_FULL, KZ_ERR_DB, KZ_ERR_FORK, KZ_ERR_NOMEM, or kz_slack_scan's).
 * *stats (zeroed first) counts what was done, also on failure.
 */
int kz_slack_import(struct kz_store *st, const struct kz_keypair *kp,
    struct kz_slack_src *src, const struct kz_slack_import_opts *opts,
    struct kz_slack_stats *stats);

/*
 * The same import in steps, for a caller with other work on its thread
 * (kizunad's loop): kz_slack_import is begin, step until done, end, and
 * the entries are the same whatever the steps.
 *
 * kz_slack_import_begin starts the reader thread; st, kp and src are
 * borrowed until kz_slack_import_end, opts is copied.  Returns 0 and *out,
 * or KZ_ERR_NOMEM (nothing started).
 *
 * kz_slack_import_step takes the reader's items until max_batches batches
 * are committed (0: one), or as many items as those batches hold were
 * found already imported, or the export ends.  No batch is open when it
 * returns, so the caller may use st between steps (append, ingest, read).
 * Returns 1 (more to do), 2 (opts no_wait: the reader has nothing ready
 * and no batch is open; call again a little later), 0 (done: the last
 * batch committed) or the import's error (as kz_slack_import's; the open
 * batch rolled back).  Once done it returns the same again.
 *
 * kz_slack_import_stats: the counts so far (borrowed until the end).
 *
 * kz_slack_import_end stops the reader if the import is not done (it
 * stops at its next item; what was committed stays, and importing again
 * resumes) and frees imp (NULL: KZ_ERR_INVAL).  *stats (may be NULL) gets
 * the counts.  Returns 0 (done), 1 (stopped before the end) or the
 * import's error.
 */
struct kz_slack_import;

int kz_slack_import_begin(struct kz_store *st, const struct kz_keypair *kp,
    struct kz_slack_src *src, const struct kz_slack_import_opts *opts,
    struct kz_slack_import **out);
int kz_slack_import_step(struct kz_slack_import *imp, size_t max_batches);
const struct kz_slack_stats *kz_slack_import_stats(
    const struct kz_slack_import *imp);
int kz_slack_import_end(struct kz_slack_import *imp,
    struct kz_slack_stats *stats);

/* ------------------------------------------------------------ export */

struct kz_slack_export_stats {
	uint64_t channels;
	uint64_t users;
	uint64_t messages;
	uint64_t day_files;
};

/*
 * Writes the channels (ids, n of them; borrowed) to a new ZIP at path in
 * the export layout (docs/slack.md, "Export"): channels.json, users.json
 * (every user: Slack id, name, display name, deactivated; no password
 * hash, no e-mail), integration_logs.json, and per channel its messages
 * from since_ms on (0: all) in day files of America/Los_Angeles dates,
 * sorted by ts.  Imported items keep their Slack ids, ts and text; others
 * get ids of a reserved prefix (UKZ..., CKZ...) and a ts from their hlc,
 * unique in their channel.  Deleted messages are left out.  Returns 0,
 * KZ_ERR_NOT_FOUND (a channel is unknown), KZ_ERR_IO (path cannot be
 * written; nothing is left there), KZ_ERR_NOMEM or a store error.
 */
int kz_slack_export(struct kz_store *st, const uint8_t (*channels)[KZ_ID_BYTES],
    size_t n, uint64_t since_ms, const char *path,
    struct kz_slack_export_stats *stats);

/* The imported id of a Slack item: BLAKE2b-256 of its source key. */
void kz_slack_id(uint8_t id[KZ_ID_BYTES], const char *source);

#endif
