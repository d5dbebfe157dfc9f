/*
 * The Slack export reader (kizuna/slack.h): a ZIP (libzip) or a folder,
 * whose JSON files jansson parses.
 *
 * Entry names are checked once, when the export is opened: a name that is
 * absolute or has a ".." component is never read, only reported.  Each
 * file is loaded whole (at most KZ_SLACK_FILE_MAX bytes, so a ZIP bomb
 * stops there).  A day file is parsed one element of its top-level array
 * at a time (json_loadb with JSON_DISABLE_EOF_CHECK, which says how many
 * bytes it read), so that a broken message is reported with its line and
 * skipped alone.  Bytes that are not UTF-8, which jansson refuses in a
 * whole document, are first replaced by '?' in place (same length, so every
 * offset stays) and their offsets kept: a message whose bytes hold one is
 * reported and skipped, never stored with the replacement.  Only a syntax
 * error ends a file early, since no parser can say where the broken
 * element ends; the report says which message it stopped at.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zip.h>

#include "kizuna/err.h"
#include "kizuna/slack.h"

struct ent {
	char *name;
	zip_uint64_t index;	/* in the ZIP */
	const char *body;	/* in memory (kz_slack_open_files), borrowed */
	size_t len;
};

struct kz_slack_src {
	bool mem;		/* files held in memory */
	zip_t *zip;		/* NULL for a folder */
	char *dir;		/* the folder, for a folder */
	struct ent *ents;	/* readable entries, sorted by name */
	size_t n_ents, cap_ents;
	char **bad;		/* refused names, reported by the scan */
	size_t n_bad, cap_bad;
};

static void
why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* Whether an entry name stays inside the export. */
static bool
name_safe(const char *name)
{
	const char *p = name, *e;

	if (*name == '\0' || *name == '/' || strchr(name, '\\') != NULL)
		return false;
	while (*p != '\0') {
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		if (e - p == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p = *e == '/' ? e + 1 : e;
	}
	return true;
}

static int
add_name(struct kz_slack_src *src, const char *name, zip_uint64_t index)
{
	char *copy;

	if (!name_safe(name)) {
		if (src->n_bad == src->cap_bad) {
			size_t cap = src->cap_bad ? 2 * src->cap_bad : 8;
			char **b = realloc(src->bad, cap * sizeof(*b));

			if (b == NULL)
				return KZ_ERR_NOMEM;
			src->bad = b;
			src->cap_bad = cap;
		}
		if ((src->bad[src->n_bad] = strdup(name)) == NULL)
			return KZ_ERR_NOMEM;
		src->n_bad++;
		return 0;
	}
	if (name[strlen(name) - 1] == '/')
		return 0;	/* a folder entry */
	if (src->n_ents == src->cap_ents) {
		size_t cap = src->cap_ents ? 2 * src->cap_ents : 64;
		struct ent *e = realloc(src->ents, cap * sizeof(*e));

		if (e == NULL)
			return KZ_ERR_NOMEM;
		src->ents = e;
		src->cap_ents = cap;
	}
	if ((copy = strdup(name)) == NULL)
		return KZ_ERR_NOMEM;
	src->ents[src->n_ents].name = copy;
	src->ents[src->n_ents].index = index;
	src->ents[src->n_ents].body = NULL;
	src->ents[src->n_ents].len = 0;
	src->n_ents++;
	return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static int
list_zip(struct kz_slack_src *src, char *why, size_t why_len)
{
	zip_int64_t n = zip_get_num_entries(src->zip, 0), i;
	int rc;

	for (i = 0; i < n; i++) {
		const char *name = zip_get_name(src->zip, (zip_uint64_t)i,
		    ZIP_FL_ENC_GUESS);

		if (name == NULL) {
			why_set(why, why_len, "entry %lld has no readable name",
			    (long long)i);
			return KZ_ERR_MALFORMED;
		}
		if ((rc = add_name(src, name, (zip_uint64_t)i)) < 0)
			return rc;
	}
	return 0;
}

static bool
is_dir(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool
is_file(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/*
 * A folder's files: those at its top and one level down (the channels'
 * day files).  Symbolic links are not followed: they could lead out.
 */
static int
list_dir(struct kz_slack_src *src, char *why, size_t why_len)
{
	DIR *d = NULL, *sub = NULL;
	struct dirent *de, *se;
	char path[4096], name[1024];
	int rc = 0;

	if ((d = opendir(src->dir)) == NULL) {
		why_set(why, why_len, "%s: %s", src->dir, strerror(errno));
		return KZ_ERR_IO;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", src->dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (is_file(path)) {
			rc = add_name(src, de->d_name, 0);
			continue;
		}
		if (!is_dir(path) || (sub = opendir(path)) == NULL)
			continue;
		while (rc == 0 && (se = readdir(sub)) != NULL) {
			char fpath[4096 + 256];

			if (se->d_name[0] == '.')
				continue;
			if (snprintf(name, sizeof(name), "%s/%s", de->d_name,
			    se->d_name) >= (int)sizeof(name))
				continue;
			snprintf(fpath, sizeof(fpath), "%s/%s", path, se->d_name);
			if (is_file(fpath))
				rc = add_name(src, name, 0);
		}
		closedir(sub);
		sub = NULL;
	}
	closedir(d);
	return rc;
}

static int
finish_open(struct kz_slack_src *src, struct kz_slack_src **out, int rc)
{
	if (rc < 0) {
		kz_slack_close(src);
		return rc;
	}
	if (src->n_ents > 1)
		qsort(src->ents, src->n_ents, sizeof(*src->ents), ent_cmp);
	*out = src;
	return 0;
}

int
kz_slack_open(struct kz_slack_src **out, const char *path, char *why,
    size_t why_len)
{
	struct kz_slack_src *src;
	struct stat sb;
	int zerr = 0, rc;

	*out = NULL;
	if (stat(path, &sb) != 0) {
		why_set(why, why_len, "%s: %s", path, strerror(errno));
		return KZ_ERR_IO;
	}
	if ((src = calloc(1, sizeof(*src))) == NULL)
		return KZ_ERR_NOMEM;
	if (S_ISDIR(sb.st_mode)) {
		if ((src->dir = strdup(path)) == NULL)
			return finish_open(src, out, KZ_ERR_NOMEM);
		return finish_open(src, out, list_dir(src, why, why_len));
	}
	src->zip = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	if (src->zip == NULL) {
		zip_error_t ze;

		zip_error_init_with_code(&ze, zerr);
		why_set(why, why_len, "%s: not a readable ZIP file (%s)", path,
		    zip_error_strerror(&ze));
		zip_error_fini(&ze);
		rc = zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ ? KZ_ERR_IO :
		    KZ_ERR_MALFORMED;
		return finish_open(src, out, rc);
	}
	return finish_open(src, out, list_zip(src, why, why_len));
}

int
kz_slack_open_buffer(struct kz_slack_src **out, const void *buf, size_t len,
    char *why, size_t why_len)
{
	struct kz_slack_src *src;
	zip_source_t *zs;
	zip_error_t ze;

	*out = NULL;
	if ((src = calloc(1, sizeof(*src))) == NULL)
		return KZ_ERR_NOMEM;
	zip_error_init(&ze);
	zs = zip_source_buffer_create(len ? buf : "", len, 0, &ze);
	if (zs != NULL && (src->zip = zip_open_from_source(zs,
	    ZIP_RDONLY | ZIP_CHECKCONS, &ze)) == NULL)
		zip_source_free(zs);
	if (src->zip == NULL) {
		why_set(why, why_len, "not a readable ZIP file (%s)",
		    zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return finish_open(src, out, KZ_ERR_MALFORMED);
	}
	zip_error_fini(&ze);
	return finish_open(src, out, list_zip(src, why, why_len));
}

int
kz_slack_open_files(struct kz_slack_src **out,
    const struct kz_slack_memfile *files, size_t n)
{
	struct kz_slack_src *src;
	size_t i, k;
	int rc = 0;

	*out = NULL;
	if ((src = calloc(1, sizeof(*src))) == NULL)
		return KZ_ERR_NOMEM;
	src->mem = true;
	for (i = 0; i < n && rc == 0; i++) {
		k = src->n_ents;
		rc = add_name(src, files[i].name, 0);
		if (rc == 0 && src->n_ents > k) {
			src->ents[k].body = files[i].body;
			src->ents[k].len = files[i].len;
		}
	}
	return finish_open(src, out, rc);
}

void
kz_slack_close(struct kz_slack_src *src)
{
	size_t i;

	if (src == NULL)
		return;
	if (src->zip != NULL)
		zip_discard(src->zip);
	for (i = 0; i < src->n_ents; i++)
		free(src->ents[i].name);
	for (i = 0; i < src->n_bad; i++)
		free(src->bad[i]);
	free(src->ents);
	free(src->bad);
	free(src->dir);
	free(src);
}

static const struct ent *
find(const struct kz_slack_src *src, const char *name)
{
	struct ent key = { .name = (char *)name };

	if (src->n_ents == 0)
		return NULL;
	return bsearch(&key, src->ents, src->n_ents, sizeof(*src->ents), ent_cmp);
}

/*
 * Loads an entry whole into a malloc'd, NUL-terminated buffer.  Returns 0,
 * KZ_ERR_NOT_FOUND, KZ_ERR_TOO_BIG, KZ_ERR_IO or KZ_ERR_MALFORMED (a
 * damaged ZIP entry: bad CRC, truncated), with the reason in why.
 */
static int
load(struct kz_slack_src *src, const char *name, char **out, size_t *out_len,
    char *why, size_t why_len)
{
	const struct ent *e = find(src, name);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	if (e == NULL)
		return KZ_ERR_NOT_FOUND;
	if (src->mem) {
		if ((buf = malloc(e->len + 1)) == NULL)
			return KZ_ERR_NOMEM;
		memcpy(buf, e->body, e->len);
		len = e->len;
	} else if (src->zip != NULL) {
		zip_file_t *zf = zip_fopen_index(src->zip, e->index, 0);
		zip_stat_t zst;

		if (zf == NULL) {
			why_set(why, why_len, "cannot read the entry (%s)",
			    zip_strerror(src->zip));
			return KZ_ERR_MALFORMED;
		}
		zip_stat_init(&zst);
		if (zip_stat_index(src->zip, e->index, 0, &zst) == 0 &&
		    (zst.valid & ZIP_STAT_SIZE) && zst.size > KZ_SLACK_FILE_MAX) {
			zip_fclose(zf);
			why_set(why, why_len, "%llu bytes, over the limit of %u",
			    (unsigned long long)zst.size, KZ_SLACK_FILE_MAX);
			return KZ_ERR_TOO_BIG;
		}
		for (;;) {
			zip_int64_t n;

			if (cap - len < 65536) {
				char *b;

				if (cap >= KZ_SLACK_FILE_MAX) {
					why_set(why, why_len, "over the limit of %u bytes",
					    KZ_SLACK_FILE_MAX);
					rc = KZ_ERR_TOO_BIG;
					break;
				}
				cap = cap ? 2 * cap : 262144;
				if ((b = realloc(buf, cap + 1)) == NULL) {
					rc = KZ_ERR_NOMEM;
					break;
				}
				buf = b;
			}
			n = zip_fread(zf, buf + len, cap - len);
			if (n < 0) {
				why_set(why, why_len, "damaged entry (%s)",
				    zip_file_strerror(zf));
				rc = KZ_ERR_MALFORMED;
				break;
			}
			if (n == 0)
				break;
			len += (size_t)n;
		}
		zip_fclose(zf);
	} else {
		char path[8192];
		struct stat sb;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", src->dir, name);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) < 0 ||
		    fstat(fd, &sb) != 0) {
			why_set(why, why_len, "%s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return KZ_ERR_IO;
		}
		if ((uint64_t)sb.st_size > KZ_SLACK_FILE_MAX) {
			close(fd);
			why_set(why, why_len, "%lld bytes, over the limit of %u",
			    (long long)sb.st_size, KZ_SLACK_FILE_MAX);
			return KZ_ERR_TOO_BIG;
		}
		cap = (size_t)sb.st_size;
		if ((buf = malloc(cap + 1)) == NULL) {
			close(fd);
			return KZ_ERR_NOMEM;
		}
		while (len < cap) {
			ssize_t n = read(fd, buf + len, cap - len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				why_set(why, why_len, "%s", n < 0 ?
				    strerror(errno) : "file shrank while read");
				rc = KZ_ERR_IO;
				break;
			}
			len += (size_t)n;
		}
		close(fd);
	}
	if (rc < 0) {
		free(buf);
		return rc;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return KZ_ERR_NOMEM;
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/* ------------------------------------------------------------ arrays */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Replaces each byte that is not UTF-8 by '?'; their offsets into *bad. */
static int
fix_utf8(char *buf, size_t len, size_t **bad, size_t *n_bad)
{
	size_t i = 0, cap = 0;

	*bad = NULL;
	*n_bad = 0;
	while (i < len) {
		size_t k = utf8_seq((const unsigned char *)buf + i, len - i);

		if (k > 0) {
			i += k;
			continue;
		}
		if (*n_bad == cap) {
			size_t *b;

			cap = cap ? 2 * cap : 8;
			if ((b = realloc(*bad, cap * sizeof(*b))) == NULL)
				return KZ_ERR_NOMEM;
			*bad = b;
		}
		(*bad)[(*n_bad)++] = i;
		buf[i++] = '?';
	}
	return 0;
}

static size_t
skip_ws(const char *buf, size_t len, size_t i)
{
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
	    buf[i] == '\r'))
		i++;
	return i;
}

static unsigned
count_lines(const char *buf, size_t from, size_t to)
{
	unsigned n = 0;

	for (; from < to; from++)
		if (buf[from] == '\n')
			n++;
	return n;
}

struct scan;

/* Called with each element that parsed; owns nothing. */
typedef int (*element_fn)(struct scan *sc, const char *file, json_t *el,
    size_t index, unsigned line);

struct chans;
struct dayfile;

struct scan {
	struct kz_slack_src *src;
	const struct kz_slack_scan_cb *cb;
	struct chans *chans;		/* channels.json, while it is read */
	struct dayfile *day;		/* a day file's messages, while read */
	/* The channel being read or handed on, while its messages are. */
	const struct kz_slack_channel *chan;
	size_t chan_idx;
	size_t done, total;		/* day files */
};

static void
report(struct scan *sc, const char *file, unsigned line, const char *fmt, ...)
	KZ_PRINTF(4, 5);

static void
report(struct scan *sc, const char *file, unsigned line, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (sc->cb->report != NULL)
		sc->cb->report(sc->cb->ctx, file, line, what);
}

/*
 * Parses the top-level array of file, element by element, handing each
 * to fn.  A file that is missing returns KZ_ERR_NOT_FOUND (for the caller
 * to report, or not); every other fault is reported here and 0 returned,
 * unless fn stops the walk.
 */
static int
walk_array(struct scan *sc, const char *file, element_fn fn)
{
	char *buf = NULL, why[256] = "";
	size_t len, i = 0, counted = 0, index = 0, *bad = NULL, n_bad = 0, b = 0;
	unsigned line = 1;
	int rc;

/* Moves i to j, counting the lines passed. */
#define ADVANCE(j) do {							\
		i = (j);						\
		line += count_lines(buf, counted, i);			\
		counted = i;						\
	} while (0)

	rc = load(sc->src, file, &buf, &len, why, sizeof(why));
	if (rc == KZ_ERR_NOT_FOUND || rc == KZ_ERR_NOMEM)
		return rc;
	if (rc < 0) {
		report(sc, file, 0, "%s", why);
		return 0;
	}
	if ((rc = fix_utf8(buf, len, &bad, &n_bad)) < 0)
		goto out;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = counted = 3;	/* a byte order mark */
	ADVANCE(skip_ws(buf, len, i));
	if (i >= len || buf[i] != '[') {
		report(sc, file, line, "not a JSON array");
		goto out;
	}
	ADVANCE(skip_ws(buf, len, i + 1));
	if (i < len && buf[i] == ']')
		goto out;
	for (;;) {
		json_error_t err;
		json_t *el;
		size_t end;

		el = json_loadb(buf + i, len - i, JSON_DISABLE_EOF_CHECK |
		    JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
		if (el == NULL) {
			report(sc, file, line + (unsigned)(err.line > 1 ?
			    err.line - 1 : 0), "not JSON (%s); element %zu and"
			    " the rest of the file skipped", err.text, index);
			goto out;
		}
		end = i + (size_t)err.position;
		/* After a bare number the lexer may have read one byte more. */
		if (!json_is_object(el) && !json_is_array(el) && end > i + 1 &&
		    strchr(",] \t\r\n", buf[end - 1]) != NULL)
			end--;
		while (b < n_bad && bad[b] < i)
			b++;
		if (b < n_bad && bad[b] < end)
			report(sc, file, line, "element %zu: invalid UTF-8;"
			    " skipped", index);
		else
			rc = fn(sc, file, el, index, line);
		json_decref(el);
		if (rc != 0)
			goto out;
		index++;
		ADVANCE(skip_ws(buf, len, end));
		if (i < len && buf[i] == ',') {
			ADVANCE(skip_ws(buf, len, i + 1));
			continue;
		}
		if (i < len && buf[i] == ']')
			break;
		report(sc, file, line, "not JSON (',' or ']' expected after"
		    " element %zu); the rest of the file skipped", index - 1);
		break;
	}
#undef ADVANCE
out:
	free(bad);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ fields */

/* A string member, or def when absent or not a string. */
static const char *
str_of(json_t *o, const char *key, const char *def)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : def;
}

/* Whether a string member holds a NUL byte (JSON allows \u0000). */
static bool
has_nul(json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) !=
	    json_string_length(v);
}

/* An int or a string of digits (old exports write times as strings). */
static uint64_t
u64_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
	if (json_is_string(v))
		return strtoull(json_string_value(v), NULL, 10);
	return 0;
}

static bool
bool_of(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* Any string in o (recursively) with a NUL byte? */
static bool
any_nul(json_t *o, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (depth > 64)
		return false;
	if (has_nul(o))
		return true;
	if (json_is_object(o)) {
		json_object_foreach(o, k, v)
			if (any_nul(v, depth + 1))
				return true;
	} else if (json_is_array(o)) {
		json_array_foreach(o, i, v)
			if (any_nul(v, depth + 1))
				return true;
	}
	return false;
}

int
kz_slack_ts_parse(const char *ts, uint64_t *us)
{
	uint64_t s = 0, f = 0;
	size_t i = 0, d;

	*us = 0;
	if (ts == NULL || ts[0] < '0' || ts[0] > '9')
		return KZ_ERR_INVAL;
	for (; ts[i] >= '0' && ts[i] <= '9'; i++) {
		if (i >= 12)
			return KZ_ERR_INVAL;
		s = s * 10 + (uint64_t)(ts[i] - '0');
	}
	if (ts[i] == '.') {
		for (i++, d = 0; ts[i] >= '0' && ts[i] <= '9'; i++, d++) {
			if (d >= 6)
				return KZ_ERR_INVAL;
			f = f * 10 + (uint64_t)(ts[i] - '0');
		}
		if (d == 0)
			return KZ_ERR_INVAL;
		for (; d < 6; d++)
			f *= 10;
	}
	if (ts[i] != '\0')
		return KZ_ERR_INVAL;
	*us = s * 1000000 + f;
	return *us <= KZ_IMPORT_TIME_US_MAX ? 0 : KZ_ERR_INVAL;
}

/* ------------------------------------------------------------ users */

static int
on_user(struct scan *sc, const char *file, json_t *u, size_t index,
    unsigned line)
{
	struct kz_slack_user su;
	json_t *prof = json_object_get(u, "profile");
	const char *dn;

	if (!json_is_object(u) || !json_is_string(json_object_get(u, "id")) ||
	    *str_of(u, "id", "") == '\0') {
		report(sc, file, line, "user %zu: no id; skipped", index);
		return 0;
	}
	if (any_nul(u, 0)) {
		report(sc, file, line, "user %zu: a NUL byte in a string; skipped",
		    index);
		return 0;
	}
	su.id = str_of(u, "id", "");
	su.team = str_of(u, "team_id", "");
	su.name = str_of(u, "name", "");
	dn = str_of(prof, "display_name", "");
	if (*dn == '\0')
		dn = str_of(prof, "real_name", "");
	if (*dn == '\0')
		dn = str_of(u, "real_name", "");
	if (*dn == '\0')
		dn = su.name;
	if (*dn == '\0')
		dn = su.id;
	su.display_name = dn;
	su.deleted = bool_of(u, "deleted");
	su.is_bot = bool_of(u, "is_bot");
	return sc->cb->user != NULL ? sc->cb->user(sc->cb->ctx, &su) : 0;
}

/* ------------------------------------------------------------ channels */

struct chan {
	json_t *obj;		/* a reference held */
	struct kz_slack_channel c;
	const char **pins;
};

struct chans {
	struct scan *sc;
	struct chan *v;
	size_t n, cap;
};

static bool
channel_name_ok(const char *name)
{
	return *name != '\0' && strchr(name, '/') == NULL &&
	    strchr(name, '\\') == NULL && strcmp(name, ".") != 0 &&
	    strcmp(name, "..") != 0;
}

static int
collect_channel(struct chans *cs, const char *file, json_t *o, size_t index,
    unsigned line)
{
	struct scan *sc = cs->sc;
	struct chan *ch;
	json_t *pins, *p;
	size_t i, k = 0;

	if (!json_is_object(o) || *str_of(o, "id", "") == '\0' ||
	    *str_of(o, "name", "") == '\0') {
		report(sc, file, line, "channel %zu: no id or name; skipped", index);
		return 0;
	}
	if (any_nul(o, 0)) {
		report(sc, file, line, "channel %zu: a NUL byte in a string;"
		    " skipped", index);
		return 0;
	}
	if (!channel_name_ok(str_of(o, "name", ""))) {
		report(sc, file, line, "channel %zu: name '%s' is not a folder"
		    " name; skipped", index, str_of(o, "name", ""));
		return 0;
	}
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 16;
		struct chan *v = realloc(cs->v, cap * sizeof(*v));

		if (v == NULL)
			return KZ_ERR_NOMEM;
		cs->v = v;
		cs->cap = cap;
	}
	ch = &cs->v[cs->n];
	memset(ch, 0, sizeof(*ch));
	pins = json_object_get(o, "pins");
	if (json_is_array(pins) && json_array_size(pins) > 0 &&
	    (ch->pins = calloc(json_array_size(pins), sizeof(*ch->pins))) == NULL)
		return KZ_ERR_NOMEM;
	json_array_foreach(pins, i, p)
		if (json_is_string(json_object_get(p, "id")))
			ch->pins[k++] = str_of(p, "id", "");
	ch->obj = json_incref(o);
	ch->c.file = file;
	ch->c.id = str_of(o, "id", "");
	ch->c.name = str_of(o, "name", "");
	ch->c.topic = str_of(json_object_get(o, "topic"), "value", "");
	ch->c.purpose = str_of(json_object_get(o, "purpose"), "value", "");
	ch->c.created = u64_of(o, "created");
	ch->c.archived = bool_of(o, "is_archived");
	ch->c.is_general = bool_of(o, "is_general");
	ch->c.n_pins = k;
	ch->c.pins = ch->pins;
	cs->n++;
	return 0;
}

static int
on_channel(struct scan *sc, const char *file, json_t *o, size_t index,
    unsigned line)
{
	return collect_channel(sc->chans, file, o, index, line);
}

/* ------------------------------------------------------------ messages */

/* Subtypes whose messages are chat (their text is what someone wrote). */
static const char *const chat_subtypes[] = {
	"bot_message", "me_message", "thread_broadcast", "file_share",
	"file_comment", "file_mention", "slackbot_response", "reply_broadcast",
	"huddle_thread",
};

/* Subtypes of system events: kept, not chat, not searched. */
static const char *const system_subtypes[] = {
	"channel_join", "channel_leave", "channel_topic", "channel_purpose",
	"channel_name", "channel_archive", "channel_unarchive", "group_join",
	"group_leave", "group_topic", "group_purpose", "group_name",
	"group_archive", "group_unarchive", "pinned_item", "unpinned_item",
	"bot_add", "bot_remove", "bot_enable", "bot_disable", "tombstone",
	"reminder_add", "channel_canvas_updated", "sh_room_created",
	"channel_posting_permissions", "ekm_access_denied",
	"joiner_notification", "emoji_changed",
};

static enum kz_slack_kind
kind_of(const char *subtype)
{
	size_t i;

	if (*subtype == '\0')
		return KZ_SLACK_CHAT;
	for (i = 0; i < sizeof(chat_subtypes) / sizeof(chat_subtypes[0]); i++)
		if (strcmp(subtype, chat_subtypes[i]) == 0)
			return KZ_SLACK_CHAT;
	for (i = 0; i < sizeof(system_subtypes) / sizeof(system_subtypes[0]); i++)
		if (strcmp(subtype, system_subtypes[i]) == 0)
			return KZ_SLACK_SYSTEM;
	return KZ_SLACK_UNKNOWN;
}

/* url_private without its query: the query carries the access token. */
static char *
strip_url(const char *url)
{
	size_t n = strcspn(url, "?#");
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, url, n);
		s[n] = '\0';
	}
	return s;
}

/* The attachments' text, one piece per line (bots often put all there). */
static char *
attachments_text(json_t *atts)
{
	static const char *const keys[] = { "pretext", "title", "text" };
	json_t *a, *f, *fields;
	size_t i, j, k, len = 0;
	char *out = NULL, *p = NULL;

	/* Two passes: measure, then copy. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if ((out = malloc(len + 1)) == NULL)
				return NULL;
			p = out;
		}
		json_array_foreach(atts, i, a) {
			bool any = false;

			for (k = 0; k < 3; k++) {
				const char *s = str_of(a, keys[k], "");
				size_t n = strlen(s);

				if (n == 0)
					continue;
				any = true;
				if (pass == 0) {
					len += n + 1;
				} else {
					memcpy(p, s, n);
					p += n;
					*p++ = '\n';
				}
			}
			fields = json_object_get(a, "fields");
			json_array_foreach(fields, j, f) {
				const char *t = str_of(f, "title", "");
				const char *v = str_of(f, "value", "");
				size_t nt = strlen(t), nv = strlen(v);

				if (nt + nv == 0)
					continue;
				any = true;
				if (pass == 0) {
					len += nt + nv + 3;
				} else {
					memcpy(p, t, nt);
					p += nt;
					memcpy(p, ": ", 2);
					p += 2;
					memcpy(p, v, nv);
					p += nv;
					*p++ = '\n';
				}
			}
			if (!any) {
				const char *s = str_of(a, "fallback", "");
				size_t n = strlen(s);

				if (n == 0)
					continue;
				if (pass == 0) {
					len += n + 1;
				} else {
					memcpy(p, s, n);
					p += n;
					*p++ = '\n';
				}
			}
		}
	}
	if (p == NULL)
		return NULL;
	if (p > out)
		p--;	/* no final newline */
	*p = '\0';
	return out;
}

struct msgbuf {
	json_t *obj;
	uint64_t time_us;
	size_t chan;		/* the channel's place in channels.json */
	const char *file;	/* borrowed from the source's entries */
	size_t index;
	unsigned line;
};

static int
msgbuf_cmp(const void *a, const void *b)
{
	const struct msgbuf *x = a, *y = b;

	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	if (x->chan != y->chan)
		return x->chan < y->chan ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* One day file's messages, gathered and put in ts order. */
struct dayfile {
	struct msgbuf *v;
	size_t n, cap;
};

static int
on_message(struct scan *sc, const char *file, json_t *o, size_t index,
    unsigned line)
{
	struct dayfile *df = sc->day;
	uint64_t us;
	json_t *ts;

	if (!json_is_object(o)) {
		report(sc, file, line, "message %zu: not an object; skipped", index);
		return 0;
	}
	ts = json_object_get(o, "ts");
	if (!json_is_string(ts)) {
		report(sc, file, line, "message %zu: no ts; skipped", index);
		return 0;
	}
	if (kz_slack_ts_parse(json_string_value(ts), &us) < 0) {
		report(sc, file, line, "message %zu: ts '%.40s' is not a Slack"
		    " time; skipped", index, json_string_value(ts));
		return 0;
	}
	if (any_nul(o, 0)) {
		report(sc, file, line, "message %zu: a NUL byte in a string;"
		    " skipped", index);
		return 0;
	}
	if (df->n == df->cap) {
		size_t cap = df->cap ? 2 * df->cap : 64;
		struct msgbuf *v = realloc(df->v, cap * sizeof(*v));

		if (v == NULL)
			return KZ_ERR_NOMEM;
		df->v = v;
		df->cap = cap;
	}
	df->v[df->n++] = (struct msgbuf){ json_incref(o), us, sc->chan_idx, file,
	    index, line };
	return 0;
}

static bool
in_pins(const struct kz_slack_channel *c, const char *ts)
{
	size_t i;

	for (i = 0; i < c->n_pins; i++)
		if (strcmp(c->pins[i], ts) == 0)
			return true;
	return false;
}

/* Hands one gathered message on, whole. */
static int
emit_message(struct scan *sc, const char *file, const struct msgbuf *mb)
{
	json_t *o = mb->obj, *v, *r, *f, *files = NULL, *legacy;
	struct kz_slack_message m;
	struct kz_slack_reaction *reacts = NULL;
	struct kz_slack_file *fs = NULL;
	const char **users = NULL;
	char **urls = NULL, *att = NULL;
	size_t i, j, nr = 0, nu = 0, nf = 0, total_users = 0;
	int rc = 0;

	memset(&m, 0, sizeof(m));
	m.file = file;
	m.line = mb->line;
	m.index = mb->index;
	m.ts = str_of(o, "ts", "");
	m.time_us = mb->time_us;
	m.subtype = str_of(o, "subtype", "");
	m.kind = kind_of(m.subtype);
	m.user = str_of(o, "user", "");
	m.username = str_of(o, "username", "");
	if (*m.username == '\0')
		m.username = str_of(json_object_get(o, "bot_profile"), "name", "");
	if (*m.username == '\0') {
		json_t *up = json_object_get(o, "user_profile");

		m.username = str_of(up, "display_name", "");
		if (*m.username == '\0')
			m.username = str_of(up, "real_name", "");
		if (*m.username == '\0')
			m.username = str_of(up, "name", "");
	}
	v = json_object_get(o, "text");
	if (v != NULL && !json_is_string(v) && !json_is_null(v)) {
		report(sc, file, mb->line, "message %zu (ts %s): text is not a"
		    " string; skipped", mb->index, m.ts);
		return 0;
	}
	m.text = json_is_string(v) ? json_string_value(v) : "";
	if (strlen(m.text) > KZ_TEXT_MAX) {
		report(sc, file, mb->line, "message %zu (ts %s): text of %zu bytes,"
		    " over the limit of %d; skipped", mb->index, m.ts,
		    strlen(m.text), KZ_TEXT_MAX);
		return 0;
	}
	v = json_object_get(o, "thread_ts");
	m.thread_ts = json_is_string(v) ? json_string_value(v) : NULL;
	m.edited = json_is_object(json_object_get(o, "edited"));
	m.pinned = (json_is_array(json_object_get(o, "pinned_to")) &&
	    json_array_size(json_object_get(o, "pinned_to")) > 0) ||
	    in_pins(sc->chan, m.ts);

	/* Reactions: every user list is borrowed from the object. */
	v = json_object_get(o, "reactions");
	json_array_foreach(v, i, r)
		total_users += json_array_size(json_object_get(r, "users"));
	if (json_array_size(v) > 0) {
		reacts = calloc(json_array_size(v), sizeof(*reacts));
		users = calloc(total_users + 1, sizeof(*users));
		if (reacts == NULL || users == NULL) {
			rc = KZ_ERR_NOMEM;
			goto out;
		}
	}
	json_array_foreach(v, i, r) {
		json_t *us = json_object_get(r, "users"), *u;
		size_t first = nu;

		if (*str_of(r, "name", "") == '\0')
			continue;
		json_array_foreach(us, j, u)
			if (json_is_string(u) && *json_string_value(u) != '\0')
				users[nu++] = json_string_value(u);
		if (nu == first)
			continue;
		reacts[nr++] = (struct kz_slack_reaction){ str_of(r, "name", ""),
		    nu - first, users + first };
	}
	m.n_reactions = nr;
	m.reactions = reacts;

	/* Files: modern files[], or the legacy single file. */
	files = json_object_get(o, "files");
	legacy = json_object_get(o, "file");
	nf = json_array_size(files) + (json_is_object(legacy) ? 1 : 0);
	if (nf > 0) {
		fs = calloc(nf, sizeof(*fs));
		urls = calloc(nf, sizeof(*urls));
		if (fs == NULL || urls == NULL) {
			rc = KZ_ERR_NOMEM;
			goto out;
		}
	}
	nf = 0;
	for (i = 0; i < json_array_size(files) + 1; i++) {
		f = i < json_array_size(files) ? json_array_get(files, i) :
		    json_is_object(legacy) ? legacy : NULL;
		if (!json_is_object(f))
			continue;
		if ((urls[nf] = strip_url(str_of(f, "url_private", ""))) == NULL) {
			rc = KZ_ERR_NOMEM;
			goto out;
		}
		fs[nf] = (struct kz_slack_file){ str_of(f, "id", ""),
		    str_of(f, "name", ""), str_of(f, "title", ""),
		    str_of(f, "mimetype", ""), u64_of(f, "size"), urls[nf] };
		nf++;
	}
	m.n_files = nf;
	m.files = fs;

	v = json_object_get(o, "attachments");
	m.attachments = "";
	if (json_array_size(v) > 0) {
		if ((att = attachments_text(v)) == NULL) {
			rc = KZ_ERR_NOMEM;
			goto out;
		}
		m.attachments = att;
	}
	if (m.kind == KZ_SLACK_UNKNOWN &&
	    (m.raw = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = KZ_ERR_NOMEM;
		goto out;
	}
	if (sc->cb->message != NULL)
		rc = sc->cb->message(sc->cb->ctx, sc->chan, &m);
out:
	free(att);
	free((char *)m.raw);
	for (i = 0; urls != NULL && i < nf; i++)
		free(urls[i]);
	free(urls);
	free(fs);
	free(reacts);
	free(users);
	return rc;
}

/* Whether entry name is a day file of the channel named chan. */
static bool
day_file_of(const char *name, const char *chan)
{
	size_t plen = strlen(chan), n = strlen(name);

	return strncmp(name, chan, plen) == 0 && name[plen] == '/' &&
	    strchr(name + plen + 1, '/') == NULL && n >= plen + 6 &&
	    strcmp(name + n - 5, ".json") == 0;
}

/* A day file of one channel. */
struct dayref {
	const char *name;	/* "general/2020-05-19.json" */
	const char *date;	/* "2020-05-19.json" */
	size_t chan;
};

static int
dayref_cmp(const void *a, const void *b)
{
	const struct dayref *x = a, *y = b;
	int c = strcmp(x->date, y->date);

	if (c != 0)
		return c;
	return x->chan < y->chan ? -1 : x->chan > y->chan;
}

/*
 * Hands on every channel's messages, one date at a time: the day files of
 * all channels for a date are read, their messages put in ts order (then
 * channel, then file order) and handed on, so that an import writes the
 * workspace's history in time order (its search index and message table
 * then grow at their ends) and holds one day in memory.
 */
static int
read_days(struct scan *sc, const struct chans *cs, struct dayref *refs,
    size_t n)
{
	struct dayfile df = { 0 };
	size_t i, j, k;
	int rc = 0;

	if (n > 1)
		qsort(refs, n, sizeof(*refs), dayref_cmp);
	for (i = 0; i < n && rc == 0; i = j) {
		df.n = 0;
		sc->day = &df;
		for (j = i; j < n && strcmp(refs[j].date, refs[i].date) == 0; j++) {
			sc->chan = &cs->v[refs[j].chan].c;
			sc->chan_idx = refs[j].chan;
			if (rc == 0)
				rc = walk_array(sc, refs[j].name, on_message);
			if (rc == KZ_ERR_NOT_FOUND)
				rc = 0;
		}
		sc->day = NULL;
		if (df.n > 1)
			qsort(df.v, df.n, sizeof(*df.v), msgbuf_cmp);
		for (k = 0; k < df.n; k++) {
			sc->chan = &cs->v[df.v[k].chan].c;
			if (rc == 0)
				rc = emit_message(sc, df.v[k].file, &df.v[k]);
			json_decref(df.v[k].obj);
		}
		sc->chan = NULL;
		sc->done += j - i;
		if (rc == 0 && sc->cb->day_file != NULL)
			rc = sc->cb->day_file(sc->cb->ctx, sc->done, sc->total);
	}
	free(df.v);
	return rc;
}

int
kz_slack_scan(struct kz_slack_src *src, const struct kz_slack_scan_cb *cb)
{
	static const char *const private_files[] = { "groups.json", "dms.json",
	    "mpims.json" };
	struct scan sc = { .src = src, .cb = cb };
	struct chans cs = { &sc, NULL, 0, 0 };
	struct dayref *refs = NULL;
	size_t i, n_refs_cap = 0;
	int rc;

	for (i = 0; i < src->n_bad; i++)
		report(&sc, src->bad[i], 0, "entry name leaves the export;"
		    " not read");
	rc = walk_array(&sc, "users.json", on_user);
	if (rc == KZ_ERR_NOT_FOUND)
		rc = walk_array(&sc, "org_users.json", on_user);
	if (rc == KZ_ERR_NOT_FOUND) {
		report(&sc, "users.json", 0, "missing: authors are shown by"
		    " their Slack ids");
		rc = 0;
	}
	if (rc != 0)
		return rc;
	for (i = 0; i < sizeof(private_files) / sizeof(private_files[0]); i++)
		if (find(src, private_files[i]) != NULL)
			report(&sc, private_files[i], 0, "private conversations"
			    " are not imported (every member would see them)");
	sc.chans = &cs;
	rc = walk_array(&sc, "channels.json", on_channel);
	sc.chans = NULL;
	if (rc == KZ_ERR_NOT_FOUND) {
		report(&sc, "channels.json", 0, "missing: not a Slack export");
		rc = KZ_ERR_MALFORMED;
	}
	for (i = 0; rc == 0 && i < cs.n; i++)
		if (cb->channel != NULL)
			rc = cb->channel(cb->ctx, &cs.v[i].c);
	for (i = 0; rc == 0 && i < cs.n; i++) {
		size_t k;

		for (k = 0; k < src->n_ents; k++) {
			const char *name = src->ents[k].name;

			if (!day_file_of(name, cs.v[i].c.name))
				continue;
			if (sc.total == n_refs_cap) {
				struct dayref *r;

				n_refs_cap = n_refs_cap ? 2 * n_refs_cap : 64;
				if ((r = realloc(refs, n_refs_cap * sizeof(*r))) == NULL) {
					rc = KZ_ERR_NOMEM;
					break;
				}
				refs = r;
			}
			refs[sc.total++] = (struct dayref){ name,
			    name + strlen(cs.v[i].c.name) + 1, i };
		}
	}
	if (rc == 0)
		rc = read_days(&sc, &cs, refs, sc.total);
	free(refs);
	for (i = 0; i < cs.n; i++) {
		json_decref(cs.v[i].obj);
		free(cs.v[i].pins);
	}
	free(cs.v);
	return rc;
}
