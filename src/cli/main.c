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
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli/cli.h"
#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/home.h"
#include "kizuna/op.h"

static const struct cli_cmd commands[] = {
	{ "init", cmd_init, "", "create a node: key, store and default config" },
	{ "status", cmd_status, "[set STATUS [--user U] [--place P] [--note N] | list]",
	  "show the node (key, feeds, store); 'set' and 'list': the roll call" },
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
	{ "digest", cmd_digest, "",
	  "a digest of the workspace: equal on nodes that hold the same entries" },
	{ "log", cmd_log, "", "list the entries of every feed in hlc order" },
	{ "verify", cmd_verify, "",
	  "re-hash and re-verify every stored entry, chain and signature" },
	{ "export-run", cmd_export_run, "[--feed KEY] [--from SEQ] FILE",
	  "write a feed's entries (default: this node's, from seq 1) to a run file" },
	{ "import-run", cmd_import_run, "FILE",
	  "verify and ingest the runs of a run file" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct cli_cmd *
cli_find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
cli_fail(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int
cli_usage(struct cli *c, const struct cli_cmd *cmd)
{
	fprintf(stderr, "usage: %s [--home DIR] %s [--json] %s\n", c->prog,
	    cmd->name, cmd->args);
	return EXIT_USAGE;
}

int
cli_set_actor(struct cli *c, const char *user)
{
	if (!kz_user_id_valid(user)) {
		fprintf(stderr, "%s: invalid user id '%s' for --as: 1 to %d of "
		    "A-Z a-z 0-9 . _ @ -\n", c->prog, user, KZ_USER_ID_MAX);
		return EXIT_USAGE;
	}
	c->actor = user;
	return 0;
}

int
cli_group(struct cli *c, const struct cli_cmd *group, const struct cli_cmd *subs,
    size_t n, int argc, char **argv)
{
	const char *sub;
	size_t i, skip = strlen(group->name) + 1;
	FILE *f;

	sub = argc >= 2 ? argv[1] : NULL;
	if (sub != NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(subs[i].name + skip, sub) == 0)
				return subs[i].fn(c, argc - 1, argv + 1);
	}
	f = sub != NULL && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) ?
	    stdout : stderr;
	if (f == stderr && sub != NULL)
		fprintf(f, "%s: unknown %s command '%s'\n", c->prog, group->name, sub);
	fprintf(f, "usage: %s [--home DIR] %s COMMAND [--json] [ARGS]\n%s\n\n"
	    "commands:\n", c->prog, group->name, group->summary);
	for (i = 0; i < n; i++)
		fprintf(f, "  %s%s%s\n      %s\n", subs[i].name,
		    subs[i].args[0] ? " " : "", subs[i].args, subs[i].summary);
	fprintf(f, "\n'%s %s COMMAND --help' shows a command's arguments.\n",
	    c->prog, group->name);
	return f == stdout ? 0 : EXIT_USAGE;
}

int
cli_help(struct cli *c, const struct cli_cmd *cmd)
{
	printf("usage: %s [--home DIR] %s [--json] %s\n%s\n", c->prog, cmd->name,
	    cmd->args, cmd->summary);
	return 0;
}

int
cli_getopt(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
    const struct option *extra, const char *extra_short, int nargs,
    int (*on_opt)(struct cli *c, int ch, const char *arg, void *ctx), void *ctx)
{
	struct option opts[17];
	char shorts[64];
	size_t n = 0;
	int ch, rc;

	for (; extra != NULL && extra[n].name != NULL; n++)
		opts[n] = extra[n];
	opts[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n++] = (struct option){ "as", required_argument, NULL, CLI_OPT_AS };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	snprintf(shorts, sizeof(shorts), "%sjh", extra_short ? extra_short : "");
	while ((ch = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (ch == 'j')
			c->json = true;
		else if (ch == CLI_OPT_AS) {
			if ((rc = cli_set_actor(c, optarg)) != 0)
				return rc;
		} else if (ch == 'h')
			return cli_help(c, cmd);
		else if (ch == '?' || on_opt == NULL)
			return cli_usage(c, cmd);
		else if ((rc = on_opt(c, ch, optarg, ctx)) >= 0)
			return rc;
	}
	if (argc - optind != nargs)
		return cli_usage(c, cmd);
	return -1;
}

int
cli_no_args(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv)
{
	return cli_getopt(c, cmd, argc, argv, NULL, NULL, 0, NULL, NULL);
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
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'%s COMMAND --help' shows a command's arguments.\n", prog);
}

static void
on_log(void *ctx, enum kz_log_level level, const char *msg)
{
	struct cli *c = ctx;

	fprintf(stderr, "%s: %s: %s\n", c->prog, kz_log_level_name(level), msg);
}

uint64_t
cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
cli_format_hlc(char out[32], uint64_t hlc)
{
	uint64_t ms = kz_hlc_ms(hlc);
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	char date[24];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.20s.%03uZ", date, (unsigned)(ms % 1000));
}

void
cli_json_line(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(obj);
}

json_t *
cli_json_hex(const uint8_t *p, size_t len)
{
	char *buf = malloc(2 * len + 1);
	json_t *j;

	if (buf == NULL)
		return json_null();
	kz_hex(buf, p, len);
	j = json_string(buf);
	free(buf);
	return j;
}

int
cli_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
cli_open_node(struct cli *c)
{
	char path[4096], err[512];
	int rc;

	kz_config_defaults(&c->cfg);
	if (kz_home_path(path, sizeof(path), c->home, KZ_HOME_CONF) < 0)
		return cli_fail(c, "home path too long: %s", c->home);
	rc = kz_config_load(&c->cfg, path, err, sizeof(err));
	if (rc < 0 && rc != KZ_ERR_NOT_FOUND)
		return cli_fail(c, "%s", err);
	c->log.level = (enum kz_log_level)c->cfg.log_level;

	rc = kz_home_load_key(c->home, &c->kp);
	switch (rc) {
	case 0:
		break;
	case KZ_ERR_NOT_FOUND:
		return cli_fail(c, "%s is not a kizuna node (no %s); create one with "
		    "'%s --home %s init'", c->home, KZ_HOME_KEY, c->prog, c->home);
	case KZ_ERR_KEY_PERMS:
		return cli_fail(c, "%s/%s is readable by group or others; refusing "
		    "to use it (fix with: chmod 600 %s/%s)", c->home, KZ_HOME_KEY,
		    c->home, KZ_HOME_KEY);
	case KZ_ERR_IO:
		return cli_fail(c, "%s/%s: %s", c->home, KZ_HOME_KEY, strerror(errno));
	default:
		return cli_fail(c, "%s/%s: %s", c->home, KZ_HOME_KEY, kz_strerror(rc));
	}
	c->have_key = true;

	if (c->cfg.store_path[0] == '/')
		snprintf(path, sizeof(path), "%s", c->cfg.store_path);
	else if (kz_home_path(path, sizeof(path), c->home, c->cfg.store_path) < 0)
		return cli_fail(c, "store path too long");
	rc = kz_store_open(&c->st, path, &c->log);
	if (rc < 0)
		return cli_fail(c, "cannot open store %s: %s", path, kz_strerror(rc));
	return 0;
}

void
cli_close_node(struct cli *c)
{
	kz_store_free(c->st);
	c->st = NULL;
	if (c->have_key)
		kz_keypair_wipe(&c->kp);
	c->have_key = false;
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
		fprintf(stderr, "%s: unknown command '%s'\n", c.prog, argv[optind]);
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
