/*
 * The kizuna command line: shared context and helpers for the commands.
 *
 * Offline commands link libkizuna and call the same store functions the
 * daemon uses; they never copy its logic.  Errors go to stderr with a
 * non-zero exit status: 1 for a failed operation, 2 for a usage error.
 */
#ifndef KZ_CLI_H
#define KZ_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "kizuna/config.h"
#include "kizuna/keys.h"
#include "kizuna/log.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/views.h"

#define EXIT_USAGE 2

/* The number of elements of an array. */
#define CLI_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Room for an id (KZ_ID_BYTES) in hex and a NUL. */
#define CLI_HEX_ID (2 * KZ_ID_BYTES + 1)

/* getopt value of --as, accepted globally and by every command. */
#define CLI_OPT_AS 1000

struct cli {
	const char *prog;
	char home[4096];
	bool json;
	const char *actor;	/* --as / $KIZUNA_USER (borrowed), or NULL */
	char why[320];		/* the reason cli_ws_why() last gave */
	struct kz_logger log;
	/* Filled by cli_open_node(). */
	struct kz_config cfg;
	struct kz_keypair kp;
	bool have_key;
	struct kz_store *st;
};

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *args;
	const char *summary;
};

/* Prints a command's usage and summary to stdout; returns 0. */
int cli_help(struct cli *c, const struct cli_cmd *cmd);

/*
 * Parses a command's options: --json, --help, --as and the extra ones (at
 * most 13), each handed to on_opt, which returns -1 to go on or an exit status.
 * Requires exactly nargs operands, left at argv[optind].  Returns -1 to go
 * on, or the exit status to return (0 after --help, 2 on bad usage).
 */
struct option;
int cli_getopt(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
    const struct option *extra, const char *extra_short, int nargs,
    int (*on_opt)(struct cli *c, int ch, const char *arg, void *ctx), void *ctx);

/*
 * For commands without arguments: parses --json and --help.  Returns -1 to
 * go on, or the exit status to return (0 after --help, 2 on bad usage).
 */
int cli_no_args(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv);

/*
 * cli_no_args, then cli_open_node, for the commands that read the node.
 * Returns -1 to go on, or the exit status to return.
 */
int cli_no_args_open(struct cli *c, const struct cli_cmd *cmd, int argc,
    char **argv);

/* Sets the acting user after checking the id; returns 0 or EXIT_USAGE. */
int cli_set_actor(struct cli *c, const char *user);

/*
 * Checks a user id given as an argument, or as the value of option opt (for
 * the message; NULL for an operand).  Returns 0, or prints why not and
 * returns EXIT_USAGE.
 */
int cli_check_user_id(struct cli *c, const char *id, const char *opt);

/* Parses a priority into out: 0, or prints why not and returns EXIT_USAGE. */
int cli_parse_priority(struct cli *c, const char *arg, enum kz_priority *out);

/*
 * Runs the subcommand argv[1] of group (subs' names are "GROUP SUB").
 * Without one, or with an unknown one, prints the group's usage to stderr
 * and returns EXIT_USAGE; with --help prints it to stdout and returns 0.
 */
int cli_group(struct cli *c, const struct cli_cmd *group,
    const struct cli_cmd *subs, size_t n, int argc, char **argv);

/* Prints "kizuna: " and the message to stderr. */
void cli_warn(struct cli *c, const char *fmt, ...) KZ_PRINTF(2, 3);

/* cli_warn for a failed operation; returns 1. */
int cli_fail(struct cli *c, const char *fmt, ...) KZ_PRINTF(2, 3);

/* cli_warn for bad usage; returns EXIT_USAGE. */
int cli_bad(struct cli *c, const char *fmt, ...) KZ_PRINTF(2, 3);

/* cli_fail with "cannot read the workspace" and the reason for rc. */
int cli_fail_workspace(struct cli *c, int rc);

/* Prints a usage line for cmd to stderr; returns EXIT_USAGE. */
int cli_usage(struct cli *c, const struct cli_cmd *cmd);

/*
 * Opens the node at c->home: config, key (permissions checked) and store.
 * Prints the reason and returns 1 on failure.
 */
int cli_open_node(struct cli *c);

/* Closes what cli_open_node opened and wipes the key. */
void cli_close_node(struct cli *c);

/* The wall clock in milliseconds since the epoch. */
uint64_t cli_now_ms(void);

/* "2026-11-26T15:20:00.123Z" for an hlc value. */
void cli_format_hlc(char out[32], uint64_t hlc);

/* Prints one JSON object on its own line and releases it. */
void cli_json_line(json_t *obj);

/* A JSON string of hex for len bytes. */
json_t *cli_json_hex(const uint8_t *p, size_t len);

/* Parses a decimal u64; returns 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *out);

/*
 * Parses an option's decimal value from min to max into out.  Returns 0,
 * or prints refusal (borrowed) and returns EXIT_USAGE.
 */
int cli_parse_range(struct cli *c, const char *arg, uint64_t min, uint64_t max,
    uint64_t *out, const char *refusal);

/* ------------------------------------------------------------ workspace
 * Helpers shared by the workspace commands (cmd_ws.c).  Those that print
 * their own error return 0 or the exit status to return.
 */

/* What an operation needs to count, for explaining why one did not. */
enum cli_need {
	CLI_NEED_MEMBER,	/* an admitted node and a valid actor */
	CLI_NEED_USER,		/* ... and the actor must be a user */
	CLI_NEED_ADMIN,		/* an admin node acting alone, or an admin user */
	CLI_NEED_ADMIN_NODE	/* an admin node, whoever the actor */
};

/*
 * Encodes op with c->actor as its actor and appends it alone, so it is
 * signed on its own.  what names the operation in messages ("post");
 * too_big names the size limits and inval what may be missing, for the
 * refusals.  Fails (returns 1) if the actor is not a user of the workspace.
 */
int cli_append_op(struct cli *c, struct kz_op *op, const char *what,
    const char *too_big, const char *inval, struct kz_appended *app);

/*
 * Why an operation of this node and actor with this need would not count
 * (looked up in the views), else fallback (which may be NULL).  The string
 * lives in c->why.
 */
const char *cli_ws_why(struct cli *c, enum cli_need need, const char *fallback);

/* The reason to give when the views name no better one. */
#define CLI_NOT_TAKEN "the workspace did not take it"

/*
 * Reports an appended entry: with --json, obj (owned; may be NULL) plus seq,
 * hlc, hash, counted and warning as one line; else the human line made from
 * fmt.  When !counted, also warns on stderr that the entry was stored but
 * does not count, and why.
 */
void cli_report(struct cli *c, const struct kz_appended *app, json_t *obj,
    bool counted, const char *why, const char *fmt, ...) KZ_PRINTF(6, 7);

struct cli_user {
	char id[KZ_USER_ID_MAX + 1];
	char display_name[KZ_NAME_MAX + 1];
	char department[KZ_NAME_MAX + 1];
	enum kz_role role;
	bool active;
	bool has_password;
	char password_hash[KZ_PWHASH_MAX + 1];
};

/* Reads a user from the views: 0, KZ_ERR_NOT_FOUND or an error. */
int cli_user_read(struct cli *c, const char *id, struct cli_user *out);

/* cli_user_read, printing the failure (unknown user: 1, bad id: 2). */
int cli_user_get(struct cli *c, const char *id, struct cli_user *out);

struct cli_channel {
	uint8_t id[KZ_ID_BYTES];
	char name[KZ_NAME_MAX + 1];
	char topic[KZ_TOPIC_MAX + 1];
	bool archived;
	uint64_t messages;
};

/* Reads a channel by id: 0, KZ_ERR_NOT_FOUND or an error. */
int cli_channel_read(struct cli *c, const uint8_t id[KZ_ID_BYTES],
    struct cli_channel *out);

/* Finds a channel by name ("#name" too) or id prefix, printing failures. */
int cli_channel_get(struct cli *c, const char *arg, struct cli_channel *out);

/* cli_open_node, then cli_channel_get: 0 or the exit status. */
int cli_open_channel(struct cli *c, const char *arg, struct cli_channel *out);

struct cli_message {
	uint8_t id[KZ_ID_BYTES];
	uint8_t channel[KZ_ID_BYTES];
	uint8_t author[32];
	uint64_t hlc, seq;
	char actor[KZ_USER_ID_MAX + 1];
	bool has_thread_root;
	uint8_t thread_root[KZ_ID_BYTES];
	enum kz_priority priority;
	char *text;		/* owned */
	bool edited, deleted;
	uint64_t reply_count, acks, reactions;
};

/* Fills m from a view row (copies the strings). */
int cli_message_copy(struct cli_message *m, const struct kz_view_message *v);

/* Reads a message by id: 0, KZ_ERR_NOT_FOUND or an error. */
int cli_message_read(struct cli *c, const uint8_t id[KZ_ID_BYTES],
    struct cli_message *out);

/* Finds a message by id prefix, printing failures (format: 2, else 1). */
int cli_message_get(struct cli *c, const char *prefix, struct cli_message *out);

/* cli_open_node, then cli_message_get: 0 or the exit status. */
int cli_open_message(struct cli *c, const char *prefix, struct cli_message *out);

/*
 * The id of the root of m's thread (borrowed from m): threads are one level
 * deep, so a reply's root is the root its thread has, and a root is its own.
 */
const uint8_t *cli_message_root(const struct cli_message *m);

/* Accepts a zeroed or filled message. */
void cli_message_free(struct cli_message *m);

/* Names of nodes and channels, loaded once for listings. */
struct cli_names {
	size_t n_nodes, n_channels;
	struct cli_name {
		uint8_t id[32];
		char name[KZ_NAME_MAX + 1];
	} *nodes, *channels;
};

int cli_names_load(struct cli *c, struct cli_names *n);
void cli_names_free(struct cli_names *n);

/* The node's name, else its fingerprint, into buf. */
const char *cli_names_node(const struct cli_names *n, const uint8_t key[32],
    char buf[KZ_NAME_MAX + 1]);

/* The channel's name, else the first 8 hex digits of its id, into buf. */
const char *cli_names_channel(const struct cli_names *n,
    const uint8_t id[KZ_ID_BYTES], char buf[KZ_NAME_MAX + 1]);

/* Options of post and reply (cmd_msg.c). */
struct cli_post_opts {
	enum kz_priority priority;
	const char *thread;
	size_t n_mentions;
	const char *mentions[KZ_MENTIONS_MAX + 1];
	bool too_many;
};

/* cli_getopt handler of --priority, --thread and --mention. */
int cli_post_opt(struct cli *c, int ch, const char *arg, void *ctx);

/*
 * Checks the mentions of po, then appends a post of text to ch (in the
 * thread of root, if not NULL) and reports it.
 */
int cli_post_append(struct cli *c, const struct cli_post_opts *po,
    const struct cli_channel *ch, const uint8_t *root, const char *text);

/* Commands. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_peers(struct cli *c, int argc, char **argv);
int cmd_mesh(struct cli *c, int argc, char **argv);
int cmd_user(struct cli *c, int argc, char **argv);
int cmd_channel(struct cli *c, int argc, char **argv);
int cmd_digest(struct cli *c, int argc, char **argv);
int cmd_post(struct cli *c, int argc, char **argv);
int cmd_reply(struct cli *c, int argc, char **argv);
int cmd_edit(struct cli *c, int argc, char **argv);
int cmd_delete(struct cli *c, int argc, char **argv);
int cmd_purge(struct cli *c, int argc, char **argv);
int cmd_react(struct cli *c, int argc, char **argv);
int cmd_ack(struct cli *c, int argc, char **argv);
int cmd_tail(struct cli *c, int argc, char **argv);
int cmd_thread(struct cli *c, int argc, char **argv);
int cmd_search(struct cli *c, int argc, char **argv);
int cmd_safety(struct cli *c, int argc, char **argv);
int cmd_rollcall(struct cli *c, int argc, char **argv);
int cmd_log(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_export_run(struct cli *c, int argc, char **argv);
int cmd_import_run(struct cli *c, int argc, char **argv);
int cmd_bundle(struct cli *c, int argc, char **argv);
int cmd_sync(struct cli *c, int argc, char **argv);
int cmd_import(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c, int argc, char **argv);

const struct cli_cmd *cli_find_cmd(const char *name);

/* ------------------------------------------------------------ kizunad
 * The control socket of a running kizunad (daemon.c; kizuna/control.h).
 * Both need the config cli_open_node() loaded: it names the socket.
 */

/*
 * Has kizunad append op (len bytes, borrowed) to this node's feed, so that
 * the daemon that owns the node's links learns of it at once.  Returns 0
 * and the entry in *out (done by the daemon); 1 when no kizunad runs (no
 * socket, or a stale one): the caller appends directly; or, after printing
 * why, a negative KZ_ERR_*: the daemon's refusal (KZ_ERR_FORK, KZ_ERR_FULL,
 * KZ_ERR_TOO_BIG, KZ_ERR_MALFORMED for an invalid op, KZ_ERR_DB) or
 * KZ_ERR_IO when it could not be asked or did not answer (then the entry
 * may or may not be stored, and the message says so).
 */
int cli_daemon_append(struct cli *c, const uint8_t *op, size_t len,
    struct kz_appended *out);

/*
 * Asks kizunad for its status.  Returns 0 and the answer object in *out
 * (the caller releases it; keys in kizuna/control.h), 1 when no kizunad
 * runs, or a negative KZ_ERR_* after printing why.
 */
int cli_daemon_status(struct cli *c, json_t **out);

/*
 * Sends req (borrowed) to kizunad and reads its answer into *resp (the
 * caller releases it), whether "ok" is true or false.  Returns 0, 1 when
 * no kizunad runs, or a negative KZ_ERR_* after printing why.
 */
int cli_daemon_call(struct cli *c, json_t *req, json_t **resp);

#endif
