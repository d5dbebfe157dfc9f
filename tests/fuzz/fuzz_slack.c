/*
 * Fuzz target: the Slack export reader (kz_slack_open_buffer, kz_slack_scan)
 * and the text conversion the importer applies to what it hands on.
 *
 * An input that begins "PK" is a whole export as a ZIP; any other input is
 * the day file of channel "general" in an export held in memory, whose
 * users.json and channels.json are fixed (so the mutator works on messages,
 * where most of the format is).
 *
 * Invariants: the reader only fails as documented; every string it hands
 * on is valid UTF-8 without NUL and within its bound (text <= KZ_TEXT_MAX),
 * every ts parses to the time it gives, file URLs carry no query (the
 * access token), every report names a file and says something; the
 * converted text is valid UTF-8, and so are emoji names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/err.h"
#include "kizuna/slack.h"
#include "kizuna/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char users_json[] =
    "[{\"id\":\"U01\",\"name\":\"tanaka\",\"profile\":{\"display_name\":\"はなこ\"}},"
    "{\"id\":\"U02\",\"name\":\"bob\",\"deleted\":true}]";

static const char channels_json[] =
    "[{\"id\":\"C01\",\"name\":\"general\",\"created\":1433558319,"
    "\"topic\":{\"value\":\"避難 &amp; 給水\"},"
    "\"pins\":[{\"id\":\"1589871634.304500\"}]},"
    "{\"id\":\"C02\",\"name\":\"random\",\"created\":\"1433558319\"}]";

static bool
utf8_ok(const char *s)
{
	return s != NULL && kz_utf8_valid((const uint8_t *)s, strlen(s));
}

static void
on_report(void *ctx, const char *file, unsigned line, const char *what)
{
	(void)ctx;
	(void)line;
	KZF_CHECK(file != NULL && *file != '\0', "slack: a report names no file");
	KZF_CHECK(what != NULL && *what != '\0', "slack: an empty report");
}

static const char *
user_name(void *ctx, const char *id)
{
	(void)ctx;
	return strcmp(id, "U01") == 0 ? "はなこ" : NULL;
}

static const char *
chan_name(void *ctx, const char *id)
{
	(void)ctx;
	return strcmp(id, "C01") == 0 ? "general" : NULL;
}

static void
check_converted(const char *in)
{
	struct kz_slack_names names = { NULL, user_name, chan_name };
	char mentions[8][KZ_USER_ID_MAX + 1];
	size_t nm = 0, i;
	char *out = NULL;
	int rc = kz_slack_text(&out, in, &names, mentions, &nm, 8);

	KZF_CHECK(rc == 0 || rc == KZ_ERR_NOMEM, "slack: text: %s", kz_errname(rc));
	if (rc < 0)
		return;
	KZF_CHECK(utf8_ok(out), "slack: converted text is not UTF-8");
	KZF_CHECK(nm <= 8, "slack: %zu mentions", nm);
	for (i = 0; i < nm; i++)
		KZF_CHECK(*mentions[i] != '\0' && utf8_ok(mentions[i]),
		    "slack: a bad mention id");
	free(out);
}

static int
on_user(void *ctx, const struct kz_slack_user *u)
{
	(void)ctx;
	KZF_CHECK(*u->id != '\0' && utf8_ok(u->id), "slack: user id");
	KZF_CHECK(*u->display_name != '\0' && utf8_ok(u->display_name),
	    "slack: display name");
	return 0;
}

static int
on_channel(void *ctx, const struct kz_slack_channel *c)
{
	size_t i;

	(void)ctx;
	KZF_CHECK(*c->name != '\0' && strchr(c->name, '/') == NULL &&
	    strcmp(c->name, "..") != 0, "slack: channel name '%s'", c->name);
	KZF_CHECK(utf8_ok(c->topic) && utf8_ok(c->purpose), "slack: topic");
	for (i = 0; i < c->n_pins; i++)
		KZF_CHECK(utf8_ok(c->pins[i]), "slack: pin");
	check_converted(c->topic);
	return 0;
}

static int
on_message(void *ctx, const struct kz_slack_channel *c,
    const struct kz_slack_message *m)
{
	char e[KZ_EMOJI_MAX + 1];
	uint64_t us;
	size_t i, j;

	(void)ctx;
	KZF_CHECK(c != NULL && m->file != NULL, "slack: message without place");
	KZF_CHECK(kz_slack_ts_parse(m->ts, &us) == 0 && us == m->time_us,
	    "slack: ts '%s' handed on", m->ts);
	KZF_CHECK(utf8_ok(m->text) && strlen(m->text) <= KZ_TEXT_MAX,
	    "slack: message text");
	KZF_CHECK(utf8_ok(m->subtype) && utf8_ok(m->user) &&
	    utf8_ok(m->username) && utf8_ok(m->attachments),
	    "slack: message fields");
	KZF_CHECK(m->thread_ts == NULL || utf8_ok(m->thread_ts), "slack: thread_ts");
	KZF_CHECK((m->raw != NULL) == (m->kind == KZ_SLACK_UNKNOWN),
	    "slack: raw JSON for kind %d", (int)m->kind);
	KZF_CHECK(m->raw == NULL || utf8_ok(m->raw), "slack: raw JSON");
	for (i = 0; i < m->n_reactions; i++) {
		KZF_CHECK(*m->reactions[i].name != '\0' && m->reactions[i].n_users > 0,
		    "slack: empty reaction");
		KZF_CHECK(utf8_ok(kz_slack_emoji(e, m->reactions[i].name)),
		    "slack: emoji");
		for (j = 0; j < m->reactions[i].n_users; j++)
			KZF_CHECK(*m->reactions[i].users[j] != '\0' &&
			    utf8_ok(m->reactions[i].users[j]), "slack: reaction user");
	}
	for (i = 0; i < m->n_files; i++) {
		const struct kz_slack_file *f = &m->files[i];

		KZF_CHECK(strchr(f->url, '?') == NULL, "slack: a URL keeps its query");
		KZF_CHECK(utf8_ok(f->name) && utf8_ok(f->title) &&
		    utf8_ok(f->mimetype) && utf8_ok(f->id), "slack: file fields");
	}
	check_converted(m->text);
	check_converted(m->attachments);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kz_slack_scan_cb cb = { NULL, on_report, on_user, on_channel,
	    on_message, NULL };
	struct kz_slack_memfile files[] = {
		{ "users.json", users_json, sizeof(users_json) - 1 },
		{ "channels.json", channels_json, sizeof(channels_json) - 1 },
		{ "general/2020-05-19.json", data, size },
	};
	struct kz_slack_src *src = NULL;
	int rc;

	if (size >= 2 && data[0] == 'P' && data[1] == 'K')
		rc = kz_slack_open_buffer(&src, data, size, NULL, 0);
	else
		rc = kz_slack_open_files(&src, files, 3);
	if (rc < 0) {
		KZF_CHECK(src == NULL, "slack: output set on failure");
		KZF_CHECK(rc == KZ_ERR_MALFORMED || rc == KZ_ERR_NOMEM,
		    "slack: open: %s", kz_errname(rc));
		return 0;
	}
	rc = kz_slack_scan(src, &cb);
	KZF_CHECK(rc == 0 || rc == KZ_ERR_MALFORMED || rc == KZ_ERR_NOMEM,
	    "slack: scan: %s", kz_errname(rc));
	kz_slack_close(src);
	return 0;
}
