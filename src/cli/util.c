/*
 * Helpers every kizuna command shares: messages and exit statuses, option
 * parsing, subcommand groups, opening the node, time and JSON output.
 *
 * Errors go to stderr as "kizuna: MESSAGE" and a command returns its exit
 * status: 1 for a failed operation (cli_fail), 2 for a usage error
 * (cli_bad, cli_usage).  cli_getopt and the helpers built on it return -1
 * to go on, so that 0 can mean "done, exit 0" after --help.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "kizuna/err.h"
#include "kizuna/hlc.h"
#include "kizuna/home.h"
#include "kizuna/util.h"

/* What cli_warn, cli_fail and cli_bad print. */
static void
vwarn(struct cli *c, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", c->prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_warn(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(c, fmt, ap);
	va_end(ap);
}

int
cli_fail(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(c, fmt, ap);
	va_end(ap);
	return 1;
}

int
cli_bad(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(c, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int
cli_fail_workspace(struct cli *c, int rc)
{
	return cli_fail(c, "cannot read the workspace: %s", kz_strerror(rc));
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
	int rc;

	if ((rc = cli_check_user_id(c, user, "--as")) != 0)
		return rc;
	c->actor = user;
	return 0;
}

int
cli_check_user_id(struct cli *c, const char *id, const char *opt)
{
	if (kz_user_id_valid(id))
		return 0;
	return cli_bad(c, "invalid user id '%s'%s%s: 1 to %d of A-Z a-z 0-9 . _ "
	    "@ -", id, opt != NULL ? " for " : "", opt != NULL ? opt : "",
	    KZ_USER_ID_MAX);
}

int
cli_parse_priority(struct cli *c, const char *arg, enum kz_priority *out)
{
	if (kz_priority_parse(out, arg) >= 0)
		return 0;
	return cli_bad(c, "unknown priority '%s' (normal, urgent or emergency)",
	    arg);
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
		cli_warn(c, "unknown %s command '%s'", group->name, sub);
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

int
cli_no_args_open(struct cli *c, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	int rc;

	if ((rc = cli_no_args(c, cmd, argc, argv)) >= 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	return -1;
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
cli_parse_range(struct cli *c, const char *arg, uint64_t min, uint64_t max,
    uint64_t *out, const char *refusal)
{
	uint64_t v;

	if (cli_parse_u64(arg, &v) < 0 || v < min || v > max)
		return cli_bad(c, "%s", refusal);
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

