/* kizuna search: full-text search of the workspace's history. */
/* strptime() and timegm() */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kizuna/err.h"
#include "kizuna/views.h"

struct search_opts {
	const char *channel;
	const char *since;
	const char *until;
	struct kz_search_filter f;
};

/* "YYYY-MM-DD" (UTC midnight) or "YYYY-MM-DDTHH:MM" into ms; -1 if neither. */
static int
parse_date(const char *s, uint64_t *ms)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
		if (end == NULL || *end != '\0')
			return -1;
	}
	*ms = (uint64_t)timegm(&tm) * 1000;
	return 0;
}

static int
on_search_opt(struct cli *c, int ch, const char *arg, void *ctx)
{
	struct search_opts *o = ctx;
	int rc;

	switch (ch) {
	case 'c':
		o->channel = arg;
		break;
	case 'a':
		o->f.author = arg;
		break;
	case 's':
		if (parse_date(arg, &o->f.since_ms) < 0)
			goto bad_date;
		break;
	case 'u':
		if (parse_date(arg, &o->f.until_ms) < 0)
			goto bad_date;
		break;
	case 'p':
		if ((rc = cli_parse_priority(c, arg, &o->f.min_priority)) != 0)
			return rc;
		break;
	case 'r':
		o->f.ranked = true;
		break;
	case 'l':
		if ((rc = cli_parse_range(c, arg, 1, 1000, &o->f.limit,
		    "--limit takes a number from 1 to 1000")) != 0)
			return rc;
		break;
	case 'o':
		if ((rc = cli_parse_range(c, arg, 0, UINT64_MAX, &o->f.offset,
		    "--offset takes a number")) != 0)
			return rc;
		break;
	}
	return -1;
bad_date:
	return cli_bad(c, "dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC): '%s'",
	    arg);
}

struct search_out {
	struct cli *c;
	struct cli_names names;
	int hits;
};

static int
on_hit(void *ctx, const struct kz_search_hit *h)
{
	struct search_out *so = ctx;
	char when[32], id[CLI_HEX_ID], chbuf[KZ_NAME_MAX + 1];
	const char *chname = cli_names_channel(&so->names, h->m.channel, chbuf);

	so->hits++;
	cli_format_hlc(when, h->m.hlc);
	kz_hex(id, h->m.id, KZ_ID_BYTES);
	if (so->c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_string(id));
		json_object_set_new(o, "channel", json_string(chname));
		json_object_set_new(o, "channel_id", cli_json_hex(h->m.channel,
		    KZ_ID_BYTES));
		json_object_set_new(o, "author", json_string(h->m.actor));
		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "hlc", json_integer((json_int_t)h->m.hlc));
		json_object_set_new(o, "priority",
		    json_string(kz_priority_name(h->m.priority)));
		json_object_set_new(o, "text", json_string(h->m.text));
		json_object_set_new(o, "snippet", json_string(h->snippet));
		json_object_set_new(o, "edited", json_boolean(h->m.edited));
		json_object_set_new(o, "score", json_real(h->score));
		cli_json_line(o);
	} else {
		printf("%s  %-12s #%s%s  %s  (%.12s)\n", when,
		    *h->m.actor ? h->m.actor : "-", chname,
		    h->m.priority == KZ_PRIO_NORMAL ? "" :
		    h->m.priority == KZ_PRIO_URGENT ? " [urgent]" : " [EMERGENCY]",
		    h->snippet, id);
	}
	return 0;
}

int
cmd_search(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "channel", required_argument, NULL, 'c' },
		{ "author", required_argument, NULL, 'a' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "priority", required_argument, NULL, 'p' },
		{ "ranked", no_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct search_opts o = { .f = { .limit = 20 } };
	struct search_out so = { .c = c };
	struct cli_channel ch;
	int rc;

	rc = cli_getopt(c, cli_find_cmd("search"), argc, argv, opts,
	    "c:a:s:u:p:rl:o:", 1, on_search_opt, &o);
	if (rc >= 0)
		return rc;
	if ((rc = cli_open_node(c)) != 0)
		return rc;
	if (o.channel != NULL) {
		if ((rc = cli_channel_get(c, o.channel, &ch)) != 0)
			return rc;
		o.f.channel = ch.id;
	}
	if (!c->json) {
		o.f.mark_open = "\033[1m";
		o.f.mark_close = "\033[0m";
		if (!isatty(fileno(stdout))) {
			o.f.mark_open = "[";
			o.f.mark_close = "]";
		}
	}
	if ((rc = cli_names_load(c, &so.names)) < 0)
		return cli_fail_workspace(c, rc);
	rc = kz_views_search(c->st, argv[optind], &o.f, on_hit, &so);
	cli_names_free(&so.names);
	switch (rc) {
	case 0:
		break;
	case KZ_ERR_INVAL:
		return cli_fail(c, "nothing to search for in '%s'", argv[optind]);
	case KZ_ERR_BAD_UTF8:
		return cli_fail(c, "the query is not valid UTF-8");
	default:
		return cli_fail(c, "search failed: %s", kz_strerror(rc));
	}
	if (!c->json && so.hits == 0)
		cli_warn(c, "no messages match");
	return 0;
}
