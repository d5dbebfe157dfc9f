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
#include "kizuna/store.h"

#define EXIT_USAGE 2

struct cli {
	const char *prog;
	char home[4096];
	bool json;
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
 * Parses a command's options: --json, --help and the extra ones (at most
 * 13), each handed to on_opt, which returns -1 to go on or an exit status.
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

/* Prints "kizuna: " and the message to stderr; returns 1. */
int cli_fail(struct cli *c, const char *fmt, ...) KZ_PRINTF(2, 3);

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

/* Commands. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_post(struct cli *c, int argc, char **argv);
int cmd_log(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_export_run(struct cli *c, int argc, char **argv);
int cmd_import_run(struct cli *c, int argc, char **argv);

const struct cli_cmd *cli_find_cmd(const char *name);

#endif
