/*
 * The workspace's merge rules: pure functions from sets of decoded entries
 * ("facts") to the state staff see.  No I/O: the store gathers the facts of
 * one key, calls these, and writes the result (src/store/workspace.c).
 *
 * Every rule is a function of the *set* of facts, never of their arrival
 * order: facts are put in the total order (hlc, author key, seq) before
 * anything is decided, so every node holding the same entries computes the
 * same workspace (DESIGN invariant 1).
 *
 * Who may do what (checked the same way on every node):
 *  - only entries of admitted nodes count, and of a revoked node only those
 *    up to the seq its revocation names; the mesh's root node is admitted
 *    and admin from the start and cannot be revoked;
 *  - only admin nodes admit and revoke nodes, and purge (acting for
 *    themselves, with no actor, or for an active admin user);
 *  - users are created and changed by admin nodes (with no actor) or by
 *    active admin users, whichever node they write through;
 *    a user may change their own display name, department and password;
 *  - an op on behalf of a user counts only if that user exists and is active
 *    at the op's place in the total order (so a deactivated user's later
 *    entries are ignored); an op with no actor counts only from an admin node;
 *  - a message is edited or deleted only by its author's user or an admin.
 */
#ifndef KIZUNA_WORKSPACE_H
#define KIZUNA_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/op.h"
#include "kizuna/util.h"

/* One entry as the workspace sees it (all pointers borrowed). */
struct kz_ws_fact {
	uint64_t hlc;
	uint8_t author[32];		/* node key */
	uint64_t seq;
	uint8_t hash[KZ_HASH_BYTES];	/* the entry's hash: the id of what it creates */
	const struct kz_op *op;		/* NULL when purged or not decodable */
};

/* The total order of facts: hlc, then author key, then seq. */
int kz_ws_fact_cmp(const struct kz_ws_fact *a, const struct kz_ws_fact *b);

/* ------------------------------------------------------------ control */

struct kz_ws_node {
	uint8_t key[32];
	char name[KZ_NAME_MAX + 1];
	bool admin;
	uint64_t last_seq;		/* UINT64_MAX unless revoked */
};

/* A user's active flag and role from one point of the total order on. */
struct kz_ws_user_epoch {
	uint64_t hlc;
	uint8_t author[32];
	uint64_t seq;
	bool active;
	enum kz_role role;
};

struct kz_ws_user {
	char id[KZ_USER_ID_MAX + 1];
	char display_name[KZ_NAME_MAX + 1];
	char department[KZ_NAME_MAX + 1];
	char password_hash[KZ_PWHASH_MAX + 1];
	enum kz_role role;
	bool active;
	size_t n_epochs;
	struct kz_ws_user_epoch *epochs;	/* in total order */
};

/* Membership and users: the fold of every control fact. */
struct kz_ws_control {
	uint8_t root[32];
	bool has_mesh;			/* a valid mesh_create was seen */
	uint8_t mesh_id[KZ_ID_BYTES];
	char mesh_name[KZ_NAME_MAX + 1];
	size_t n_nodes;
	struct kz_ws_node *nodes;	/* admitted nodes, sorted by key */
	size_t n_users;
	struct kz_ws_user *users;	/* sorted by id */
};

/* True for the ops whose facts feed kz_ws_control_build. */
bool kz_ws_is_control(enum kz_op_type t);

/*
 * Folds the control facts (any order; others are ignored) under the mesh
 * root key into *ctl, which the caller frees with kz_ws_control_free.
 * Returns 0 or KZ_ERR_NOMEM.
 */
int kz_ws_control_build(struct kz_ws_control *ctl, const uint8_t root[32],
    const struct kz_ws_fact *facts, size_t n);

void kz_ws_control_free(struct kz_ws_control *ctl);

/* The admitted node with this key, or NULL. */
const struct kz_ws_node *kz_ws_node_find(const struct kz_ws_control *ctl,
    const uint8_t key[32]);

/* The user with this id, or NULL. */
const struct kz_ws_user *kz_ws_user_find(const struct kz_ws_control *ctl,
    const char *id);

/*
 * Whether a content fact counts at all: its node is admitted and not
 * revoked before it, and its actor exists and is active at its place in the
 * total order (or it has no actor and comes from an admin node).
 */
bool kz_ws_fact_ok(const struct kz_ws_control *ctl, const struct kz_ws_fact *f);

/* Whether the fact's actor is an active admin user at its place (or, with
 * no actor, whether its node is an admin node). */
bool kz_ws_fact_admin(const struct kz_ws_control *ctl, const struct kz_ws_fact *f);

/* ------------------------------------------------------------ content */

struct kz_ws_channel {
	char name[KZ_NAME_MAX + 1];
	char topic[KZ_TOPIC_MAX + 1];
	bool archived;
	uint64_t created_hlc;
	char creator[KZ_USER_ID_MAX + 1];
};

/*
 * A channel from the facts of its id: its channel_create entry (whose hash
 * is the id) and channel_set entries naming it; others are ignored.  Fields
 * are last-writer-wins in the total order.  Returns true if the channel
 * exists (a valid create was among the facts).
 */
bool kz_ws_channel_merge(const struct kz_ws_control *ctl, const uint8_t id[32],
    const struct kz_ws_fact *facts, size_t n, struct kz_ws_channel *out);

struct kz_ws_message {
	const struct kz_ws_fact *post;	/* the post fact (borrowed) */
	const struct kz_imported_post *imported;	/* the post's, or NULL */
	const char *text;		/* current text (borrowed from a fact) */
	bool edited;
	bool deleted;			/* a tombstone: beats every edit */
	bool purged;			/* deleted, and its bytes must be dropped */
	uint64_t edited_hlc;
};

/*
 * The place of an imported item in the order of hlc values: its original
 * time's milliseconds, and its microseconds as the counter.
 */
uint64_t kz_ws_import_hlc(uint64_t time_us);

/*
 * A message from the facts of its id: the post entry (whose hash is the id,
 * or, for an imported message, the first in the total order of the imported
 * posts naming the id) and the edit, delete and purge entries naming it.
 * An imported message starts edited if it was edited before the export.  Returns true if the
 * message exists and is not purged.  *out borrows from facts.
 */
bool kz_ws_message_merge(const struct kz_ws_control *ctl, const uint8_t id[32],
    const struct kz_ws_fact *facts, size_t n, struct kz_ws_message *out);

/* Whether a purge among these facts of id counts (for dropping op bytes,
 * even before the post itself has arrived). */
bool kz_ws_purged(const struct kz_ws_control *ctl, const uint8_t id[32],
    const struct kz_ws_fact *facts, size_t n);

/* One (user, emoji) reaction that is on. */
struct kz_ws_reaction {
	const char *user;
	const char *emoji;
};

/*
 * The reactions on message id: last writer wins per (user, emoji); an
 * imported message's own reactions hold where no react op decides.  Fills at
 * most cap entries of out (sorted by user, then emoji) and returns how many
 * it filled, or KZ_ERR_NOMEM.  Call only for an existing message.
 */
int kz_ws_reactions_merge(const struct kz_ws_control *ctl, const uint8_t id[32],
    const struct kz_ws_fact *facts, size_t n, struct kz_ws_reaction *out,
    size_t cap);

/*
 * Acknowledgements of an urgent or emergency message: a grow-only set of
 * users.  Fills out (sorted, unique) and returns the count or KZ_ERR_NOMEM.
 */
int kz_ws_acks_merge(const struct kz_ws_control *ctl,
    const struct kz_ws_message *msg, const struct kz_ws_fact *facts, size_t n,
    const char **out, size_t cap);

struct kz_ws_safety {
	const struct kz_ws_fact *fact;	/* the winning report (borrowed) */
	enum kz_safety status;
	const char *place;
	const char *note;
	const char *reporter;		/* the actor who reported it */
};

/*
 * A user's roll call entry: last writer wins among the safety reports about
 * them.  Returns true if there is one (the subject must be a known user).
 */
bool kz_ws_safety_merge(const struct kz_ws_control *ctl, const char *user,
    const struct kz_ws_fact *facts, size_t n, struct kz_ws_safety *out);

/* The subject of a safety report (the actor when it names nobody). */
const char *kz_ws_safety_subject(const struct kz_op *op);

/*
 * A node's links as it last reported them: the latest link report in the
 * total order among node's own (others' are ignored).  Only an admitted
 * node that is not revoked has one: a revoked node is no longer part of
 * the mesh to draw.  Returns the winning fact (borrowed), or NULL.
 */
const struct kz_ws_fact *kz_ws_links_merge(const struct kz_ws_control *ctl,
    const uint8_t node[32], const struct kz_ws_fact *facts, size_t n);

#endif
