/* kizuna init, kizuna status ("status set|list", the roll call: cmd_msg.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "kizuna/err.h"
#include "kizuna/home.h"
#include "kizuna/hlc.h"
#include "kizuna/util.h"

static json_t *daemon_summary(struct cli *c);
static void print_daemon(struct cli *c);

int
cmd_init(struct cli *c, int argc, char **argv)
{
	char hex[2 * KZ_PK_BYTES + 1];
	int rc;

	if ((rc = cli_no_args(c, cli_find_cmd("init"), argc, argv)) >= 0)
		return rc;
	rc = kz_home_init(c->home, &c->kp);
	if (rc == KZ_ERR_EXISTS)
		return cli_fail(c, "%s already holds a node key; not replacing it",
		    c->home);
	if (rc == KZ_ERR_IO)
		return cli_fail(c, "cannot create node in %s: %s", c->home,
		    strerror(errno));
	if (rc < 0)
		return cli_fail(c, "cannot create node in %s: %s", c->home,
		    kz_strerror(rc));
	c->have_key = true;
	kz_hex(hex, c->kp.pk, KZ_PK_BYTES);
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "home", json_string(c->home));
		json_object_set_new(o, "node_key", json_string(hex));
		cli_json_line(o);
	} else {
		printf("created node in %s\nnode key: %s\n", c->home, hex);
	}
	return 0;
}

int
cmd_status(struct cli *c, int argc, char **argv)
{
	struct kz_store_stats stats;
	char hex[2 * KZ_PK_BYTES + 1];
	uint64_t tip;
	int rc, i;

	/* 'status set' and 'status list' are the roll call; --json may come
	 * before them. */
	for (i = 1; i < argc && strcmp(argv[i], "--json") == 0; i++)
		;
	if (i < argc && (strcmp(argv[i], "set") == 0 ||
	    strcmp(argv[i], "list") == 0)) {
		if (i > 1)
			c->json = true;
		return cmd_safety(c, argc - i + 1, argv + i - 1);
	}
	if ((rc = cli_no_args_open(c, cli_find_cmd("status"), argc, argv)) >= 0)
		return rc;
	if ((rc = kz_store_tip(c->st, c->kp.pk, &tip, NULL)) < 0 ||
	    (rc = kz_store_stats(c->st, &stats)) < 0)
		return cli_fail(c, "cannot read store: %s", kz_strerror(rc));
	kz_hex(hex, c->kp.pk, KZ_PK_BYTES);
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "home", json_string(c->home));
		json_object_set_new(o, "node_key", json_string(hex));
		json_object_set_new(o, "node_name", json_string(c->cfg.node_name));
		json_object_set_new(o, "feed_length", json_integer((json_int_t)tip));
		json_object_set_new(o, "feeds", json_integer((json_int_t)stats.feeds));
		json_object_set_new(o, "entries", json_integer((json_int_t)stats.entries));
		json_object_set_new(o, "forks", json_integer((json_int_t)stats.forks));
		json_object_set_new(o, "store_bytes",
		    json_integer((json_int_t)stats.db_bytes));
		json_object_set_new(o, "schema_version",
		    json_integer(stats.schema_version));
		json_object_set_new(o, "daemon", daemon_summary(c));
		cli_json_line(o);
	} else {
		printf("home:           %s\n", c->home);
		printf("node key:       %s\n", hex);
		if (c->cfg.node_name[0])
			printf("node name:      %s\n", c->cfg.node_name);
		printf("feed length:    %llu\n", (unsigned long long)tip);
		printf("feeds held:     %llu (%llu entries)\n",
		    (unsigned long long)stats.feeds, (unsigned long long)stats.entries);
		if (stats.forks > 0)
			printf("FORK PROOFS:    %llu (see 'kizuna log')\n",
			    (unsigned long long)stats.forks);
		printf("store size:     %llu bytes\n", (unsigned long long)stats.db_bytes);
		printf("schema version: %d\n", stats.schema_version);
		print_daemon(c);
	}
	return 0;
}

/* ------------------------------------------------------------ links */

/* kizunad's status, or NULL when it is not running (reasons printed). */
static json_t *
daemon_state(struct cli *c)
{
	json_t *st = NULL;

	return cli_daemon_status(c, &st) == 0 ? st : NULL;
}

/* The daemon part of `status --json`: pid, uptime and links, or null. */
static json_t *
daemon_summary(struct cli *c)
{
	json_t *st = daemon_state(c), *o;

	if (st == NULL)
		return json_null();
	o = json_object();
	json_object_set(o, "pid", json_object_get(st, "pid"));
	json_object_set(o, "uptime_s", json_object_get(st, "uptime_s"));
	json_object_set_new(o, "links", json_integer((json_int_t)json_array_size(
	    json_object_get(st, "peers"))));
	json_decref(st);
	return o;
}

static const char *
str_of(json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : dflt;
}

static long long
int_of(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* A figure of a link row: its integer with unit, or "-" when null. */
static const char *
fig(char *buf, size_t cap, json_t *o, const char *key, const char *unit)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return "-";
	snprintf(buf, cap, "%lld%s", (long long)json_integer_value(v), unit);
	return buf;
}

/* Three lines per link, for people. */
static void
print_links(json_t *peers)
{
	size_t i;
	json_t *p;

	json_array_foreach(peers, i, p) {
		const char *key = str_of(p, "node_key", "");
		const char *err = str_of(p, "last_error", "");
		const char *name = str_of(p, "name", "");
		json_t *since = json_object_get(p, "since");
		json_t *heard = json_object_get(p, "last_contact");
		char when[32] = "-", last[32] = "never", lag[32], bin[32],
		    bout[32];

		if (json_is_integer(since))
			cli_format_hlc(when, (uint64_t)json_integer_value(since) *
			    1000 << KZ_HLC_COUNTER_BITS);
		if (json_is_integer(heard))
			cli_format_hlc(last, (uint64_t)json_integer_value(heard) *
			    1000 << KZ_HLC_COUNTER_BITS);
		printf("  %-3s %s %-22s %-10s %.16s%s%s%s  since %.19s\n"
		    "      in %lld B, %lld entries, %lld pending;"
		    "  out %lld B, %lld entries, %lld pending%s%s\n",
		    str_of(p, "direction", "?"), str_of(p, "transport", "tcp"),
		    str_of(p, "address", "?"), str_of(p, "state", "?"),
		    *key ? key : "(unknown)", *name ? " (" : "", name,
		    *name ? ")" : "", when, int_of(p, "bytes_in"),
		    int_of(p, "entries_in"), int_of(p, "pending_in"),
		    int_of(p, "bytes_out"), int_of(p, "entries_out"),
		    int_of(p, "pending_out"), *err ? "\n      last error: " : "", err);
		printf("      lag %s; pending in %s (estimated), out %s; last heard "
		    "%.19s\n", fig(lag, sizeof(lag), p, "lag_s", " s"),
		    fig(bin, sizeof(bin), p, "pending_bytes_in", " B"),
		    fig(bout, sizeof(bout), p, "pending_bytes_out", " B"), last);
	}
}

static void
print_daemon(struct cli *c)
{
	json_t *st = daemon_state(c), *peers;

	if (st == NULL) {
		printf("kizunad:        not running\n");
		return;
	}
	peers = json_object_get(st, "peers");
	printf("kizunad:        running (pid %lld, up %llds), %zu links\n",
	    int_of(st, "pid"), int_of(st, "uptime_s"), json_array_size(peers));
	print_links(peers);
	json_decref(st);
}

int
cmd_peers(struct cli *c, int argc, char **argv)
{
	json_t *st, *p;
	size_t i;
	int rc;

	if ((rc = cli_no_args_open(c, cli_find_cmd("peers"), argc, argv)) >= 0)
		return rc;
	if ((st = daemon_state(c)) == NULL)
		return cli_fail(c, "kizunad is not running here: links are its "
		    "(start it with 'kizunad --home %s')", c->home);
	if (c->json) {
		json_array_foreach(json_object_get(st, "peers"), i, p)
			cli_json_line(json_incref(p));
	} else {
		print_links(json_object_get(st, "peers"));
	}
	json_decref(st);
	return 0;
}
