/*
 * Slack's text encoding to kizuna's plain text (kizuna/slack.h), and emoji
 * shortcodes.  Pure: names are resolved through the caller's callbacks.
 *
 * Slack escapes only &, < and >; an unescaped < always opens an entity
 * that runs to the next >.  So the entities are taken first and what lies
 * between them unescaped after, &amp; last (a typed "&lt;" arrives as
 * "&amp;lt;" and must come out as "&lt;", not "<").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/slack.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void
put(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Appends s[0..n) with &lt; &gt; &amp; unescaped (&amp; last: see above). */
static void
put_unescaped(struct sbuf *b, const char *s, size_t n)
{
	size_t i = 0, from = 0;

	while (i < n) {
		const char *rep = NULL;
		size_t skip = 0;

		if (s[i] == '&') {
			if (n - i >= 4 && memcmp(s + i, "&lt;", 4) == 0)
				rep = "<", skip = 4;
			else if (n - i >= 4 && memcmp(s + i, "&gt;", 4) == 0)
				rep = ">", skip = 4;
			else if (n - i >= 5 && memcmp(s + i, "&amp;", 5) == 0)
				rep = "&", skip = 5;
		}
		if (rep == NULL) {
			i++;
			continue;
		}
		put(b, s + from, i - from);
		puts_(b, rep);
		i += skip;
		from = i;
	}
	put(b, s + from, n - from);
}

/* ------------------------------------------------------------ emoji */

/* Common shortcodes (sorted for bsearch); custom names stay :name:. */
static const struct emoji {
	const char *name;
	const char *utf8;
} emoji[] = {
	{ "+1", "\xf0\x9f\x91\x8d" },
	{ "-1", "\xf0\x9f\x91\x8e" },
	{ "100", "\xf0\x9f\x92\xaf" },
	{ "ambulance", "\xf0\x9f\x9a\x91" },
	{ "bangbang", "\xe2\x80\xbc\xef\xb8\x8f" },
	{ "bow", "\xf0\x9f\x99\x87" },
	{ "bulb", "\xf0\x9f\x92\xa1" },
	{ "clap", "\xf0\x9f\x91\x8f" },
	{ "cry", "\xf0\x9f\x98\xa2" },
	{ "droplet", "\xf0\x9f\x92\xa7" },
	{ "eyes", "\xf0\x9f\x91\x80" },
	{ "fire", "\xf0\x9f\x94\xa5" },
	{ "grin", "\xf0\x9f\x98\x81" },
	{ "heart", "\xe2\x9d\xa4\xef\xb8\x8f" },
	{ "heavy_check_mark", "\xe2\x9c\x94\xef\xb8\x8f" },
	{ "house", "\xf0\x9f\x8f\xa0" },
	{ "joy", "\xf0\x9f\x98\x82" },
	{ "laughing", "\xf0\x9f\x98\x86" },
	{ "muscle", "\xf0\x9f\x92\xaa" },
	{ "ok", "\xf0\x9f\x86\x97" },
	{ "ok_hand", "\xf0\x9f\x91\x8c" },
	{ "pray", "\xf0\x9f\x99\x8f" },
	{ "question", "\xe2\x9d\x93" },
	{ "raised_hands", "\xf0\x9f\x99\x8c" },
	{ "rotating_light", "\xf0\x9f\x9a\xa8" },
	{ "slightly_smiling_face", "\xf0\x9f\x99\x82" },
	{ "smile", "\xf0\x9f\x98\x84" },
	{ "smiley", "\xf0\x9f\x98\x83" },
	{ "sob", "\xf0\x9f\x98\xad" },
	{ "sweat_smile", "\xf0\x9f\x98\x85" },
	{ "tada", "\xf0\x9f\x8e\x89" },
	{ "thinking_face", "\xf0\x9f\xa4\x94" },
	{ "thumbsdown", "\xf0\x9f\x91\x8e" },
	{ "thumbsup", "\xf0\x9f\x91\x8d" },
	{ "umbrella", "\xe2\x98\x94" },
	{ "warning", "\xe2\x9a\xa0\xef\xb8\x8f" },
	{ "wave", "\xf0\x9f\x91\x8b" },
	{ "white_check_mark", "\xe2\x9c\x85" },
	{ "x", "\xe2\x9d\x8c" },
	{ "zap", "\xe2\x9a\xa1" },
};

/* Fitzpatrick modifiers of ::skin-tone-2 .. ::skin-tone-6. */
static const char *const skin[] = {
	"\xf0\x9f\x8f\xbb", "\xf0\x9f\x8f\xbc", "\xf0\x9f\x8f\xbd",
	"\xf0\x9f\x8f\xbe", "\xf0\x9f\x8f\xbf",
};

static int
emoji_cmp(const void *key, const void *e)
{
	return strcmp(key, ((const struct emoji *)e)->name);
}

/* The Unicode emoji of name[0..n) (a shortcode, maybe with a skin tone). */
static const char *
emoji_lookup(const char *name, size_t n, const char **tone)
{
	char key[64];
	const struct emoji *e;
	const char *sk;

	*tone = NULL;
	if (n >= sizeof(key))
		return NULL;
	memcpy(key, name, n);
	key[n] = '\0';
	if ((sk = strstr(key, "::skin-tone-")) != NULL) {
		int t = sk[12] - '2';

		if (t < 0 || t > 4 || sk[13] != '\0')
			return NULL;
		*tone = skin[t];
		key[sk - key] = '\0';
	}
	e = bsearch(key, emoji, sizeof(emoji) / sizeof(emoji[0]), sizeof(emoji[0]),
	    emoji_cmp);
	return e != NULL ? e->utf8 : NULL;
}

const char *
kz_slack_emoji(char out[KZ_EMOJI_MAX + 1], const char *name)
{
	const char *tone, *u = emoji_lookup(name, strlen(name), &tone);

	size_t n = strlen(name);

	if (u != NULL) {
		snprintf(out, KZ_EMOJI_MAX + 1, "%s%s", u, tone ? tone : "");
		return out;
	}
	/* Kept as its shortcode, cut to fit at a character's end. */
	if (n > KZ_EMOJI_MAX - 2) {
		n = KZ_EMOJI_MAX - 2;
		while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(out, KZ_EMOJI_MAX + 1, ":%.*s:", (int)n, name);
	return out;
}

static bool
shortcode_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	    c == '+' || c == '-';
}

/*
 * Appends plain text (no entity in it) with shortcodes replaced; n bytes
 * of s, still escaped.
 */
static void
put_plain(struct sbuf *b, const char *s, size_t n)
{
	size_t i = 0, from = 0;

	while (i < n) {
		size_t j, k;
		const char *u, *tone;

		if (s[i] != ':') {
			i++;
			continue;
		}
		for (j = i + 1; j < n && shortcode_char(s[j]); j++)
			;
		if (j >= n || s[j] != ':' || j == i + 1) {
			i++;
			continue;
		}
		/* A skin tone follows as a second shortcode: ::skin-tone-N: */
		k = j;
		if (n - j > 13 && memcmp(s + j, "::skin-tone-", 12) == 0 &&
		    s[j + 12] >= '2' && s[j + 12] <= '6' && s[j + 13] == ':')
			k = j + 13;
		u = emoji_lookup(s + i + 1, k - i - 1, &tone);
		if (u == NULL) {
			i = j;		/* the closing colon may open the next */
			continue;
		}
		put_unescaped(b, s + from, i - from);
		puts_(b, u);
		if (tone != NULL)
			puts_(b, tone);
		i = from = k + 1;
	}
	put_unescaped(b, s + from, n - from);
}

/* ------------------------------------------------------------ entities */

static void
add_mention(const char *id, size_t n, char (*mentions)[KZ_USER_ID_MAX + 1],
    size_t *n_m, size_t max)
{
	size_t i;

	if (n == 0 || n > KZ_USER_ID_MAX - strlen(KZ_SLACK_USER_PREFIX) ||
	    *n_m >= max)
		return;
	for (i = 0; i < *n_m; i++)
		if (strlen(mentions[i]) == n && memcmp(mentions[i], id, n) == 0)
			return;
	memcpy(mentions[*n_m], id, n);
	mentions[(*n_m)++][n] = '\0';
}

int
kz_slack_text(char **out, const char *text, const struct kz_slack_names *names,
    char (*mentions)[KZ_USER_ID_MAX + 1], size_t *n_mentions, size_t max)
{
	struct sbuf b = { 0 };
	const char *p = text, *lt;
	char idbuf[128];

	*out = NULL;
	if (n_mentions != NULL)
		*n_mentions = 0;
	puts_(&b, "");
	while ((lt = strchr(p, '<')) != NULL) {
		const char *gt = strchr(lt + 1, '>'), *bar, *body = lt + 1;
		size_t blen, tlen, llen;
		const char *label;

		if (gt == NULL)
			break;
		put_plain(&b, p, (size_t)(lt - p));
		blen = (size_t)(gt - body);
		bar = memchr(body, '|', blen);
		tlen = bar ? (size_t)(bar - body) : blen;
		label = bar ? bar + 1 : NULL;
		llen = bar ? (size_t)(gt - label) : 0;
		if (tlen > 1 && (body[0] == '@' || body[0] == '#') &&
		    tlen - 1 < sizeof(idbuf)) {
			const char *name = NULL;

			memcpy(idbuf, body + 1, tlen - 1);
			idbuf[tlen - 1] = '\0';
			if (names != NULL && body[0] == '@' && names->user)
				name = names->user(names->ctx, idbuf);
			if (names != NULL && body[0] == '#' && names->channel)
				name = names->channel(names->ctx, idbuf);
			put(&b, body, 1);
			if (name != NULL)
				puts_(&b, name);
			else if (label != NULL && llen > 0)
				put_unescaped(&b, label, llen);
			else
				puts_(&b, idbuf);
			if (body[0] == '@' && n_mentions != NULL && mentions != NULL)
				add_mention(body + 1, tlen - 1, mentions,
				    n_mentions, max);
		} else if (tlen > 0 && body[0] == '!') {
			/* <!here>, <!channel|channel>, <!subteam^S…|@team>,
			 * <!date^…|fallback>: the label, else @ and the word. */
			if (label != NULL && llen > 0) {
				if (label[0] != '@' && (strncmp(body, "!here", 5) == 0 ||
				    strncmp(body, "!channel", 8) == 0 ||
				    strncmp(body, "!everyone", 9) == 0))
					puts_(&b, "@");
				put_unescaped(&b, label, llen);
			} else {
				size_t w = strcspn(body + 1, "^|>");

				puts_(&b, "@");
				put(&b, body + 1, w);
			}
		} else if (label != NULL && llen > 0 &&
		    !(llen == tlen && memcmp(label, body, tlen) == 0) &&
		    strncmp(body, "mailto:", 7) != 0 && strncmp(body, "tel:", 4) != 0) {
			put_unescaped(&b, label, llen);
			puts_(&b, " (");
			put_unescaped(&b, body, tlen);
			puts_(&b, ")");
		} else if (label != NULL && llen > 0) {
			put_unescaped(&b, label, llen);
		} else {
			put_unescaped(&b, body, tlen);
		}
		p = gt + 1;
	}
	put_plain(&b, p, strlen(p));
	if (b.failed) {
		free(b.p);
		return KZ_ERR_NOMEM;
	}
	*out = b.p;
	return 0;
}

const char *
kz_slack_shortcode(char out[KZ_EMOJI_MAX + 1], const char *emoji_text)
{
	size_t i, k, n = strlen(emoji_text);

	/* ":name:" (a custom emoji kept as its shortcode) */
	if (n > 2 && emoji_text[0] == ':' && emoji_text[n - 1] == ':') {
		snprintf(out, KZ_EMOJI_MAX + 1, "%.*s", (int)(n - 2), emoji_text + 1);
		return out;
	}
	for (i = 0; i < sizeof(emoji) / sizeof(emoji[0]); i++) {
		size_t e = strlen(emoji[i].utf8);

		if (strncmp(emoji_text, emoji[i].utf8, e) != 0)
			continue;
		if (emoji_text[e] == '\0') {
			snprintf(out, KZ_EMOJI_MAX + 1, "%s", emoji[i].name);
			return out;
		}
		for (k = 0; k < 5; k++)
			if (strcmp(emoji_text + e, skin[k]) == 0) {
				snprintf(out, KZ_EMOJI_MAX + 1, "%s::skin-tone-%zu",
				    emoji[i].name, k + 2);
				return out;
			}
	}
	snprintf(out, KZ_EMOJI_MAX + 1, "%s", emoji_text);
	return out;
}

char *
kz_slack_escape(const char *plain)
{
	struct sbuf b = { 0 };
	const char *p;

	puts_(&b, "");
	for (p = plain; *p != '\0'; p++) {
		if (*p == '&')
			puts_(&b, "&amp;");
		else if (*p == '<')
			puts_(&b, "&lt;");
		else if (*p == '>')
			puts_(&b, "&gt;");
		else
			put(&b, p, 1);
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

