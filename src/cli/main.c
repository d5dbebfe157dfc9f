/*
 * kizuna: the command line for admins and scripts.
 *
 *   kizuna [--home DIR] [--json] [--as USER] COMMAND [ARGS]
 *
 * The home folder is --home, else $KIZUNA_HOME, else
 * $XDG_DATA_HOME/kizuna, else ~/.local/share/kizuna.  The acting user of
 * workspace commands is --as, else $KIZUNA_USER, else none: the node itself
 * acts, which counts only on an admin node.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "kizuna/home.h"

static const struct cli_cmd commands[] = {
	{ "init", cmd_init, "", "create a node: key, store and default config" },
	{ "status", cmd_status, "[set STATUS [--user U] [--place P] [--note N] | list]",
	  "show the node (key, feeds, store); 'set' and 'list': the roll call" },
	{ "peers", cmd_peers, "",
	  "the running kizunad's links: peer, state, bytes and entries each way" },
	{ "mesh", cmd_mesh, "create|join|admit|revoke|nodes|show ...",
	  "create or join the mesh; admit, revoke and list its nodes" },
	{ "user", cmd_user, "add|list|passwd|deactivate|activate|role ...",
	  "the workspace's users" },
	{ "channel", cmd_channel, "create|list|rename|topic|archive|unarchive ...",
	  "the workspace's channels" },
	{ "post", cmd_post, "[--priority normal|urgent|emergency] [--thread ID] "
	  "[--mention USER]... CHANNEL TEXT", "post a message to a channel" },
	{ "reply", cmd_reply, "[--priority normal|urgent|emergency] "
	  "[--mention USER]... ID TEXT", "reply in the thread of a message" },
	{ "edit", cmd_edit, "ID TEXT", "replace the text of a message" },
	{ "delete", cmd_delete, "ID", "delete a message (a tombstone)" },
	{ "purge", cmd_purge, "ID",
	  "delete a message and drop its text on every node (admin nodes)" },
	{ "react", cmd_react, "[--off] ID EMOJI", "add or remove a reaction" },
	{ "ack", cmd_ack, "ID", "acknowledge an urgent or emergency message" },
	{ "tail", cmd_tail, "[-n N] CHANNEL", "show a channel's latest messages" },
	{ "thread", cmd_thread, "ID", "show a message and its replies" },
	{ "search", cmd_search, "[--channel CH] [--author USER] [--since DATE] "
	  "[--until DATE] [--priority P] [--ranked] [--limit N] [--offset N] QUERY",
	  "search the history (newest first; --ranked by relevance)" },
	{ "rollcall", cmd_rollcall, "", "the roll call (same as 'status list')" },
	{ "digest", cmd_digest, "[--channel CH] [--rebuild]",
	  "a digest of the workspace: equal on nodes that hold the same entries "
	  "(--channel: of one channel's content, whoever wrote it; --rebuild: "
	  "recompute every view from the entries first)" },
	{ "log", cmd_log, "", "list the entries of every feed in hlc order" },
	{ "verify", cmd_verify, "",
	  "re-hash and re-verify every stored entry, chain and signature" },
	{ "export-run", cmd_export_run, "[--feed KEY] [--from SEQ] FILE",
	  "write a feed's entries (default: this node's, from seq 1) to a run file" },
	{ "import-run", cmd_import_run, "FILE",
	  "verify and ingest the runs of a run file" },
	{ "sync", cmd_sync, "--stdio | --via COMMAND [--slow] [--timeout SECONDS]",
	  "one sync session over stdin/stdout, or through a command such as "
	  "'ssh HOST kizuna sync --stdio' (--slow: a slow line's profile)" },
	{ "bundle", cmd_bundle, "export|import|inspect|vector ...",
	  "carry the mesh's entries on a USB stick: write, read and check bundles" },
	{ "import", cmd_import, "slack EXPORT",
	  "bring another system's history in: a Slack workspace export" },
	{ "export", cmd_export, "slack --channel CH... [--since DATE] OUT.zip",
	  "write channels as a Slack workspace export" },
};

const struct cli_cmd *
cli_find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < CLI_NELEM(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
print_help(const char *prog, FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: %s [--home DIR] [--json] [--as USER] COMMAND [ARGS]\n\n"
	    "kizuna: offline-first mesh messaging.  The node's home folder is\n"
	    "--home, else $KIZUNA_HOME, else $XDG_DATA_HOME/kizuna, else\n"
	    "~/.local/share/kizuna.  --json prints listings as one JSON object\n"
	    "per line.  --as USER (else $KIZUNA_USER) is the user who acts;\n"
	    "without one the node itself acts, which counts only on an admin\n"
	    "node.\n\ncommands:\n", prog);
	for (i = 0; i < CLI_NELEM(commands); i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'%s COMMAND --help' shows a command's arguments.\n", prog);
}

static void
on_log(void *ctx, enum kz_log_level level, const char *msg)
{
	struct cli *c = ctx;

	cli_warn(c, "%s: %s", kz_log_level_name(level), msg);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "as", required_argument, NULL, CLI_OPT_AS },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c;
	const struct cli_cmd *cmd;
	const char *home = NULL, *actor = NULL;
	int ch, rc;

	memset(&c, 0, sizeof(c));
	c.prog = "kizuna";
	c.log.fn = on_log;
	c.log.ctx = &c;
	c.log.level = KZ_LOG_INFO;

	/* Global options stop at the command name. */
	while ((ch = getopt_long(argc, argv, "+H:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			home = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case CLI_OPT_AS:
			actor = optarg;
			break;
		case 'h':
			print_help(c.prog, stdout);
			return 0;
		default:
			print_help(c.prog, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		print_help(c.prog, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		print_help(c.prog, stdout);
		return 0;
	}
	cmd = cli_find_cmd(argv[optind]);
	if (cmd == NULL) {
		cli_warn(&c, "unknown command '%s'", argv[optind]);
		print_help(c.prog, stderr);
		return EXIT_USAGE;
	}
	if (home != NULL) {
		if (snprintf(c.home, sizeof(c.home), "%s", home) >= (int)sizeof(c.home))
			return cli_fail(&c, "--home path too long");
	} else if (kz_home_default(c.home, sizeof(c.home)) < 0) {
		return cli_fail(&c, "no home folder: use --home DIR or set KIZUNA_HOME");
	}
	if (actor == NULL && (actor = getenv("KIZUNA_USER")) != NULL &&
	    *actor == '\0')
		actor = NULL;
	if (actor != NULL && (rc = cli_set_actor(&c, actor)) != 0)
		return rc;
	if (sodium_init() < 0)
		return cli_fail(&c, "libsodium failed to initialise");

	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: re-initialise getopt for the command */
	rc = cmd->fn(&c, argc, argv);
	cli_close_node(&c);
	return rc;
}
