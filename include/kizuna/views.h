/*
 * Views: the materialized workspace inside the store.
 *
 * Every append and ingest updates the views in the same transaction that
 * stores the entries (or, with deferral on, records a backlog there, see
 * kz_views_set_deferral), through the pure merge rules of kizuna/workspace.h:
 * each entry becomes a "fact" filed under the id it is about (a message, a
 * channel, a user's roll call entry); the views of an id are recomputed from
 * all facts of that id, so they are a function of the set of entries and
 * not of their arrival order.  A membership or user entry changes who may do
 * what, so it recomputes every view.
 *
 * Nothing counts until the store knows its mesh's root node key
 * (kz_views_set_root): that key comes from `kizuna mesh create` on the
 * founding node, or from the join token on the others.
 */
#ifndef KIZUNA_VIEWS_H
#define KIZUNA_VIEWS_H

#include <stdbool.h>
#include <stdint.h>

#include "kizuna/op.h"
#include "kizuna/store.h"

/*
 * Sets the mesh's root node key and recomputes every view.  Returns 0 or an
 * error; KZ_ERR_EXISTS if a different root is already set.
 */
int kz_views_set_root(struct kz_store *st, const uint8_t root[32]);

/* The root key; KZ_ERR_NOT_FOUND if none is set. */
int kz_views_root(struct kz_store *st, uint8_t root[32]);

/* Recomputes every view from the stored entries (repair, tests). */
int kz_views_rebuild(struct kz_store *st);

/*
 * A BLAKE2b-256 digest of a canonical dump of every view: equal digests mean
 * equal workspaces.
 */
int kz_views_digest(struct kz_store *st, uint8_t out[32]);

/*
 * Deferred application, for a node catching up on a long backlog (kizunad
 * turns it on): a stored run of more than min_run entries, and any later
 * run of a feed that has a backlog, has its control entries (membership,
 * users) applied at once and the rest recorded, in the same transaction,
 * as the feed's backlog; kz_views_catch_up applies it in large batches,
 * which costs several times less per entry than run by run.  An urgent
 * entry that came alone is always applied at once.  0 (the default):
 * every entry is applied in the transaction that stores it.  The setting
 * lives with this open store only; a backlog lives in the store.
 */
void kz_views_set_deferral(struct kz_store *st, size_t min_run);

/*
 * Applies up to budget (0: all) entries of the backlog in one transaction
 * (it must not be called inside a group); *left (may be NULL) says how many
 * still wait.  Returns 0 or an error (the backlog is then as before).
 */
int kz_views_catch_up(struct kz_store *st, size_t budget, uint64_t *left);

/* Entries stored but not yet applied to the views (the backlog). */
int kz_views_backlog(struct kz_store *st, uint64_t *entries);

/*
 * Whether an entry of this type (a post or channel_create) filed under id
 * is stored: the test an import makes before writing an item again.  It
 * sees what the open group wrote.  Returns 0 or a store error.
 */
int kz_views_has_created(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    enum kz_op_type type, bool *found);

/* ------------------------------------------------------------ reading */

struct kz_view_channel {
	uint8_t id[KZ_ID_BYTES];
	const char *name;
	const char *topic;
	bool archived;
	uint64_t messages;	/* neither deleted nor system events */
	uint64_t created_hlc;	/* its channel_create entry's (an imported
				 * channel's: its original time's) */
};

/* Every channel by name (then id).  cb's non-zero return stops and is returned. */
int kz_views_channels(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_channel *c), void *ctx);

/*
 * Finds a channel by exact name, or by a hex prefix of its id (at least 8
 * digits).  Returns 0, KZ_ERR_NOT_FOUND, or KZ_ERR_EXISTS when ambiguous.
 */
int kz_views_channel_find(struct kz_store *st, const char *name_or_id,
    uint8_t id[KZ_ID_BYTES]);

/* A file an imported message referred to: a reference, not its content. */
struct kz_view_file {
	const char *id;			/* the source's id ("F0123...") */
	const char *name;
	const char *title;
	const char *mimetype;
	uint64_t size;			/* bytes, as the source said */
	const char *url;		/* without access tokens */
};

struct kz_view_message {
	uint8_t id[KZ_ID_BYTES];
	uint8_t channel[KZ_ID_BYTES];
	uint64_t hlc;
	uint8_t author[32];
	uint64_t seq;
	const char *actor;
	bool has_thread_root;
	uint8_t thread_root[KZ_ID_BYTES];
	enum kz_priority priority;
	const char *text;
	bool edited;
	bool deleted;
	uint64_t reply_count;
	uint64_t acks;
	uint64_t reactions;
	bool broadcast;		/* a thread reply also sent to the channel */
	const char *subtype;	/* an imported message's kind; "" for chat */
	bool system;		/* an imported system event (a join, a topic
				 * change): shown as such, not as chat */
	bool pinned;		/* pinned in its source */
	uint64_t edited_hlc;	/* the hlc of its last edit here; 0: none */
	size_t n_files;
	const struct kz_view_file *files;	/* its file references, in
						 * order (valid during cb) */
};

/*
 * The newest `limit` (0: all) top-level messages of a channel, and the
 * replies also sent to it (broadcast), shown in (hlc, author, seq) order.
 * Replies are read with kz_views_thread.
 */
int kz_views_messages(struct kz_store *st, const uint8_t channel[KZ_ID_BYTES],
    uint64_t limit, int (*cb)(void *ctx, const struct kz_view_message *m),
    void *ctx);

/* Where a page of messages ends: the (hlc, author, seq) of a message. */
struct kz_view_cursor {
	uint64_t hlc;
	uint8_t author[32];
	uint64_t seq;
};

/*
 * A page of a channel's top-level messages, newest first: the `limit`
 * (0: all) that come before `before` in the channel's (hlc, author, seq)
 * order, or the newest when before is NULL.  One range of the channel's
 * index, so a page costs the same however deep in the history it is.
 */
int kz_views_messages_page(struct kz_store *st,
    const uint8_t channel[KZ_ID_BYTES], const struct kz_view_cursor *before,
    uint64_t limit, int (*cb)(void *ctx, const struct kz_view_message *m),
    void *ctx);

/*
 * The urgent and emergency messages (top-level or replies) that user has
 * not acknowledged, neither deleted nor written by user, newest first, at
 * most limit (0: all): what the web page's urgent banner shows.
 */
int kz_views_unacked(struct kz_store *st, const char *user, uint64_t limit,
    int (*cb)(void *ctx, const struct kz_view_message *m), void *ctx);

/* A thread: its root message first (when it exists), then the replies in
 * (hlc, author, seq) order. */
int kz_views_thread(struct kz_store *st, const uint8_t root[KZ_ID_BYTES],
    int (*cb)(void *ctx, const struct kz_view_message *m), void *ctx);

/*
 * A digest of one channel's content as any node would show it: the channel,
 * its messages (id, time, author user, thread, priority, text, edited,
 * deleted, replies, subtype, system, pinned, file references), their
 * reactions and acknowledgements, and the display
 * name and active flag of its authors; not which node wrote them or at
 * which seq.  Equal on two nodes when the channel reads the same, as after
 * an export and an import elsewhere.  Returns 0 or a store error.
 */
int kz_views_channel_digest(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    uint8_t out[32]);

/*
 * Every message of a channel, replies included (orphans too), in (hlc,
 * author, seq) order, deleted ones with deleted set (for an export).
 * cb's non-zero return stops and is returned.
 */
int kz_views_channel_messages(struct kz_store *st,
    const uint8_t channel[KZ_ID_BYTES],
    int (*cb)(void *ctx, const struct kz_view_message *m), void *ctx);

/* The reactions that are on for message id, by emoji then user. */
int kz_views_reactions(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    int (*cb)(void *ctx, const char *user, const char *emoji), void *ctx);

/*
 * The decoded op of the entry that created id (type: a post or a
 * channel_create), the one the views show; the caller owns *out
 * (kz_op_free).  Returns 0, KZ_ERR_NOT_FOUND or a store error.
 */
int kz_views_created_op(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    enum kz_op_type type, struct kz_op **out);

/*
 * Finds a message by a hex prefix of its id (at least 8 digits).  Returns 0,
 * KZ_ERR_NOT_FOUND or KZ_ERR_EXISTS when ambiguous.
 */
int kz_views_message_find(struct kz_store *st, const char *id_prefix,
    uint8_t id[KZ_ID_BYTES]);

struct kz_view_user {
	const char *id;
	const char *display_name;
	const char *department;
	enum kz_role role;
	bool active;
	bool has_password;
	const char *password_hash;
};

int kz_views_users(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_user *u), void *ctx);

/* One user; KZ_ERR_NOT_FOUND if unknown.  Strings live until cb returns. */
int kz_views_user(struct kz_store *st, const char *id,
    int (*cb)(void *ctx, const struct kz_view_user *u), void *ctx);

struct kz_view_safety {
	const char *user;
	const char *display_name;
	enum kz_safety status;
	const char *place;
	const char *note;
	const char *reporter;
	uint64_t hlc;
};

/* The roll call: every active user, unknown where nobody reported. */
int kz_views_rollcall(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_safety *s), void *ctx);

struct kz_view_node {
	uint8_t key[32];
	const char *name;
	bool admin;
	bool revoked;
	uint64_t last_seq;
};

int kz_views_nodes(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_node *n), void *ctx);

/* One node's latest link report (kz_ws_links_merge). */
struct kz_view_link_report {
	uint8_t node[32];		/* the reporting node */
	uint64_t hlc;			/* its entry's hlc: when it was written */
	uint64_t seq;
	size_t n_links;
	const struct kz_report_link *links;	/* valid during the callback */
};

/*
 * Every admitted, unrevoked node's latest link report, by node key.  cb
 * returns 0 to go on, anything else to stop (returned).  Returns 0, a
 * store error, or KZ_ERR_CORRUPT when a stored report no longer decodes.
 */
int kz_views_link_reports(struct kz_store *st,
    int (*cb)(void *ctx, const struct kz_view_link_report *r), void *ctx);

/*
 * Whether a node's feed is accepted here: the mesh's root, a node admitted
 * by it (revoked ones too: their entries up to the revocation count), or
 * any node while no mesh is known.  Returns 0 or a store error.
 */
int kz_views_node_admitted(struct kz_store *st, const uint8_t key[32],
    bool *admitted);

/* Who acknowledged a message (user ids, sorted). */
int kz_views_acks(struct kz_store *st, const uint8_t id[KZ_ID_BYTES],
    int (*cb)(void *ctx, const char *user), void *ctx);

/* ------------------------------------------------------------ search */

struct kz_search_filter {
	const uint8_t *channel;		/* KZ_ID_BYTES, or NULL: every channel */
	const char *author;		/* user id, or NULL: anyone */
	uint64_t since_ms;		/* 0: no lower bound (wall-clock ms) */
	uint64_t until_ms;		/* 0: no upper bound (exclusive) */
	enum kz_priority min_priority;	/* KZ_PRIO_NORMAL: every message */
	bool ranked;			/* by relevance (bm25) among the newest 25,000
					 * matches, instead of newest first */
	uint64_t limit;			/* 0: 20 */
	uint64_t offset;		/* hits to skip (paging) */
	const char *mark_open;		/* around matched text in snippets; NULL: "[" */
	const char *mark_close;		/* NULL: "]" */
};

struct kz_search_hit {
	struct kz_view_message m;
	const char *snippet;		/* about 16 tokens around the matches */
	double score;			/* bm25: lower is more relevant */
};

/*
 * Full-text search over the current text of every message that is neither
 * deleted nor purged (kizuna/search.h for what a query may contain).
 * Newest first by default: the index is kept in time order (to the minute),
 * so the first page costs no sort of all matches; filters are terms of the
 * index too.  Ranked search scores only the newest 25,000 matches (bm25
 * costs ~2 us a match; recent history is what staff search in a disaster).
 * Returns 0, KZ_ERR_INVAL (nothing searchable in query, or a bad author id),
 * KZ_ERR_BAD_UTF8, or a store error; cb's non-zero return stops the walk
 * and is returned.
 */
int kz_views_search(struct kz_store *st, const char *query,
    const struct kz_search_filter *filter,
    int (*cb)(void *ctx, const struct kz_search_hit *hit), void *ctx);

/* The mesh: id and name from its mesh_create entry; KZ_ERR_NOT_FOUND if none. */
int kz_views_mesh(struct kz_store *st, uint8_t mesh_id[KZ_ID_BYTES],
    char name[KZ_NAME_MAX + 1]);

#endif
