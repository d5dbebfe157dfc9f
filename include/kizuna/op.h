/*
 * Operations: what an entry does, as protobuf bytes (src/proto/kizuna.proto).
 *
 * struct kz_op is the C form of every operation.  kz_op_encode validates
 * before producing bytes a node will sign; kz_op_decode applies the same
 * checks to bytes from elsewhere and accepts only the canonical encoding.
 * Only this module and the run codec see protobuf-c.
 *
 * Ids are 32 bytes: a channel's id is the hash of the entry that created it,
 * a message's id the hash of its post entry.  User ids are short ASCII names.
 */
#ifndef KIZUNA_OP_H
#define KIZUNA_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kizuna/util.h"

#define KZ_ID_BYTES 32
#define KZ_TEXT_MAX (16 * 1024)	/* message text, bytes */
#define KZ_NAME_MAX 80		/* channel, node, display and department names */
#define KZ_USER_ID_MAX 64	/* user ids: [A-Za-z0-9._@-] */
#define KZ_TOPIC_MAX 250
#define KZ_EMOJI_MAX 64
#define KZ_PLACE_MAX 200
#define KZ_NOTE_MAX 1000
#define KZ_REASON_MAX 200
#define KZ_PWHASH_MAX 256
#define KZ_MENTIONS_MAX 64
#define KZ_LINKS_MAX 64		/* links of one link report */
#define KZ_TRANSPORT_MAX 8	/* "tcp", "radio", "stdio", "bundle" */

enum kz_op_type {
	KZ_OP_POST = 1,
	KZ_OP_MESH_CREATE,
	KZ_OP_NODE_ADMIT,
	KZ_OP_NODE_REVOKE,
	KZ_OP_USER_SET,
	KZ_OP_CHANNEL_CREATE,
	KZ_OP_CHANNEL_SET,
	KZ_OP_EDIT,
	KZ_OP_DELETE,
	KZ_OP_PURGE,
	KZ_OP_REACT,
	KZ_OP_ACK,
	KZ_OP_SAFETY,
	KZ_OP_LINK_REPORT,
	KZ__OP_LAST
};

enum kz_priority {
	KZ_PRIO_NORMAL = 0,
	KZ_PRIO_URGENT = 1,
	KZ_PRIO_EMERGENCY = 2
};

enum kz_role {
	KZ_ROLE_MEMBER = 0,
	KZ_ROLE_ADMIN = 1
};

enum kz_safety {
	KZ_SAFETY_UNKNOWN = 0,
	KZ_SAFETY_SAFE = 1,
	KZ_SAFETY_NEEDS_HELP = 2,
	KZ_SAFETY_INJURED = 3
};

/* Bits of kz_user_set.set. */
#define KZ_USER_SET_DISPLAY_NAME 0x01u
#define KZ_USER_SET_DEPARTMENT 0x02u
#define KZ_USER_SET_ROLE 0x04u
#define KZ_USER_SET_PASSWORD 0x08u
#define KZ_USER_SET_ACTIVE 0x10u
#define KZ_USER_SET_ALL 0x1fu

/* Bits of kz_channel_set.set. */
#define KZ_CHANNEL_SET_NAME 0x01u
#define KZ_CHANNEL_SET_TOPIC 0x02u
#define KZ_CHANNEL_SET_ARCHIVED 0x04u
#define KZ_CHANNEL_SET_ALL 0x07u

/* Bounds of imported items (kizuna.proto, ImportedPost; docs/slack.md). */
#define KZ_IMPORT_SOURCE_MAX 200	/* "slack:TEAM/CHANNEL/TS" */
#define KZ_IMPORT_SUBTYPE_MAX 64
#define KZ_IMPORT_REACTIONS_MAX 64
#define KZ_IMPORT_USERS_MAX 256		/* users of one imported reaction */
#define KZ_IMPORT_FILES_MAX 32
#define KZ_IMPORT_FILE_NAME_MAX 255
#define KZ_IMPORT_URL_MAX 1024
#define KZ_IMPORT_RAW_MAX (16 * 1024)	/* the JSON kept of an unknown subtype */
/* Latest original time: its milliseconds must fit an hlc value. */
#define KZ_IMPORT_TIME_US_MAX ((UINT64_C(1) << 47) * 1000 - 1)

/* All pointers are borrowed: from the caller when encoding, from the
 * struct kz_op when decoded.  Strings are NUL-terminated UTF-8. */
struct kz_imported_reaction {
	const char *emoji;
	size_t n_users;
	const char *const *users;	/* user ids */
};

struct kz_imported_file {
	const char *id;
	const char *name;
	const char *title;
	const char *mimetype;
	uint64_t size;
	const char *url;		/* without access tokens */
};

/*
 * A message brought in from an export.  id (not the entry's hash) is the
 * message's id; time_us (not the entry's hlc) places it in its channel.
 */
struct kz_imported_post {
	const uint8_t *id;		/* KZ_ID_BYTES */
	const char *source;		/* 1..KZ_IMPORT_SOURCE_MAX */
	uint64_t time_us;		/* <= KZ_IMPORT_TIME_US_MAX */
	const char *author;		/* a user id, or "" */
	const char *author_name;	/* <= KZ_NAME_MAX */
	const char *subtype;		/* "" for chat */
	bool system;			/* a system event: kept, not chat */
	bool edited;
	const char *source_text;	/* <= KZ_TEXT_MAX */
	size_t n_reactions;
	const struct kz_imported_reaction *reactions;
	size_t n_files;
	const struct kz_imported_file *files;
	bool pinned;
	bool broadcast;
	const char *raw;		/* <= KZ_IMPORT_RAW_MAX */
	const char *thread_ts;		/* a reply's thread in the source, or "" */
	const char *attachments;	/* <= KZ_TEXT_MAX */
};

struct kz_imported_channel {
	const uint8_t *id;		/* KZ_ID_BYTES */
	const char *source;
	uint64_t time_us;
	bool archived;
	bool is_private;
	const char *purpose;		/* <= KZ_TOPIC_MAX */
};

struct kz_post {
	const uint8_t *channel;		/* KZ_ID_BYTES */
	const char *text;
	const uint8_t *thread_root;	/* KZ_ID_BYTES, or NULL */
	enum kz_priority priority;
	size_t n_mentions;
	const char *const *mentions;	/* user ids */
	const struct kz_imported_post *imported;	/* NULL: written here */
};

struct kz_mesh_create {
	const uint8_t *mesh_id;		/* KZ_ID_BYTES */
	const char *name;
};

struct kz_node_admit {
	const uint8_t *node;		/* 32-byte node key */
	const char *name;
	bool admin;
};

struct kz_node_revoke {
	const uint8_t *node;
	uint64_t last_seq;		/* the node's entries after it are ignored */
	const char *reason;
};

struct kz_user_set {
	const char *user;
	uint32_t set;			/* KZ_USER_SET_* bits, not 0 */
	const char *display_name;
	const char *department;
	enum kz_role role;
	const char *password_hash;	/* crypto_pwhash_str() output, or "" */
	bool active;
};

struct kz_channel_create {
	const char *name;
	const char *topic;
	const struct kz_imported_channel *imported;	/* NULL: created here */
};

struct kz_channel_set {
	const uint8_t *channel;
	uint32_t set;			/* KZ_CHANNEL_SET_* bits, not 0 */
	const char *name;
	const char *topic;
	bool archived;
};

struct kz_edit {
	const uint8_t *target;
	const char *text;
};

/* Delete, purge and acknowledge name only their target. */
struct kz_target {
	const uint8_t *target;
};

struct kz_react {
	const uint8_t *target;
	const char *emoji;
	bool on;
};

struct kz_safety_status {
	const char *user;		/* the subject; "" or NULL: the actor */
	enum kz_safety status;
	const char *place;
	const char *note;
};

/*
 * One link of a link report.  transport is one of kz_transport_valid's
 * words; since_s and lag_s are 0 when unknown.
 */
struct kz_report_link {
	const uint8_t *peer;		/* 32-byte node key */
	const char *transport;
	bool up;
	uint64_t since_s;		/* wall clock (s) of its last change */
	uint64_t lag_s;
};

/*
 * A node's own links, written for the node itself: actor must be empty.
 * At most KZ_LINKS_MAX, and no (peer, transport) twice.
 */
struct kz_link_report {
	size_t n_links;
	const struct kz_report_link *links;
};

struct kz_op {
	enum kz_op_type type;
	const char *actor;		/* user id, or "" / NULL for the node itself */
	union {
		struct kz_post post;
		struct kz_mesh_create mesh_create;
		struct kz_node_admit node_admit;
		struct kz_node_revoke node_revoke;
		struct kz_user_set user_set;
		struct kz_channel_create channel_create;
		struct kz_channel_set channel_set;
		struct kz_edit edit;
		struct kz_target del;
		struct kz_target purge;
		struct kz_react react;
		struct kz_target ack;
		struct kz_safety_status safety;
		struct kz_link_report link_report;
	} u;
	void *pb;			/* the decoded message (decoded ops only) */
	void *arena;			/* owned: where pb lives (decoded ops only) */
	/* kz_op_decode_hashed: BLAKE2b-256 of the bytes decoded (an entry's
	 * op_hash) */
	bool hashed;
	uint8_t src_hash[KZ_HASH_BYTES];
	void *ext;			/* owned: the imported parts (decoded ops only) */
	/*
	 * Set by the op's owner (else NULL): kz_op_free hands the op to
	 * release(release_ctx, op) instead of freeing it, so that whoever
	 * frees it (a store it was handed to) gives it back.  release frees
	 * it in the end with kz_op_free, release set to NULL first.
	 */
	void (*release)(void *release_ctx, struct kz_op *op);
	void *release_ctx;
};

/*
 * Validates op and encodes it into a malloc'd buffer the caller frees.
 * Returns 0, KZ_ERR_INVAL (a missing or malformed id, an empty required
 * name, a bad user id, enum or set mask), KZ_ERR_TOO_BIG (a field or the op
 * over its bound) or KZ_ERR_BAD_UTF8.
 */
int kz_op_encode(uint8_t **out, size_t *out_len, const struct kz_op *op);

/* kz_op_encode of a post with no actor (a convenience for tools and tests). */
int kz_op_encode_post(uint8_t **out, size_t *out_len, const struct kz_post *post);

/*
 * Decodes op bytes (at most KZ_OP_MAX; checked before unpacking).  Returns 0,
 * KZ_ERR_TOO_BIG, KZ_ERR_MALFORMED (not a canonical encoding of exactly one
 * known operation), KZ_ERR_BAD_UTF8, KZ_ERR_INVAL or KZ_ERR_NOMEM.  The caller
 * owns *out (kz_op_free).
 */
int kz_op_decode(struct kz_op **out, const uint8_t *buf, size_t len);

/*
 * kz_op_decode, and the op remembers the hash of buf (src_hash, as an
 * entry's op_hash), so that a store given the op with bytes to append
 * (kz_store_append_decoded) can tell it was decoded from those bytes.
 */
int kz_op_decode_hashed(struct kz_op **out, const uint8_t *buf, size_t len);

/* Accepts NULL.  An op with a release function goes to it instead. */
void kz_op_free(struct kz_op *op);

/* True for a transport word of a link report: "tcp", "radio", "stdio" or
 * "bundle". */
bool kz_transport_valid(const char *t);

/* True for a valid user id: 1..KZ_USER_ID_MAX of [A-Za-z0-9._@-]. */
bool kz_user_id_valid(const char *id);

/*
 * The id a decoded op refers to, for ops that have one (the message of an
 * edit, delete, purge, react or ack; the channel of a post or channel_set);
 * NULL otherwise.
 */
const uint8_t *kz_op_target(const struct kz_op *op);

/*
 * The id of what a post or channel_create op creates: the imported id for
 * an imported one, else the entry's hash (borrowed).
 */
const uint8_t *kz_op_created_id(const struct kz_op *op,
    const uint8_t hash[KZ_ID_BYTES]);

/*
 * True for the classes of operation that travel ahead of their feed's
 * backlog, each with its own signature (DESIGN.md, "Urgent entries"): an
 * urgent or emergency post, an acknowledgement, a safety status and a
 * membership change (mesh create, node admit, node revoke).
 */
bool kz_op_is_urgent(const struct kz_op *op);

/*
 * kz_op_is_urgent of op bytes; false for bytes that do not decode (or when
 * memory runs out: such an entry then simply travels in its feed's order).
 */
bool kz_op_bytes_urgent(const uint8_t *op, size_t len);

const char *kz_op_type_name(enum kz_op_type t);
const char *kz_priority_name(enum kz_priority p);
const char *kz_safety_name(enum kz_safety s);
const char *kz_role_name(enum kz_role r);

/* Parsers for the names above.  Return 0 or KZ_ERR_INVAL. */
int kz_priority_parse(enum kz_priority *out, const char *s);
int kz_safety_parse(enum kz_safety *out, const char *s);
int kz_role_parse(enum kz_role *out, const char *s);

#endif
