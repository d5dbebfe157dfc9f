/*
 * The settings table and its INI reader.  Each row names a setting, its
 * type, default, bounds and one line of help; the handler given to libinih
 * looks keys up here, and the default config file is printed from here.
 * Errors name the file and the line, as Redis' "FATAL CONFIG FILE ERROR".
 */
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kizuna/config.h"
#include "kizuna/err.h"
#include "kizuna/util.h"

enum cfg_type { CFG_STRING, CFG_INT, CFG_ENUM };

struct cfg_row {
	const char *section;
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;
	long min, max;			/* CFG_INT bounds; CFG_STRING max length */
	const char *const *choices;	/* CFG_ENUM, NULL-terminated */
	const char *help;
};

static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };

#define OFF(f) offsetof(struct kz_config, f)

static const struct cfg_row rows[] = {
	{ "node", "name", CFG_STRING, OFF(node_name), "", 0, 63, NULL,
	  "Name shown to other nodes and staff, e.g. city-hall (may stay empty)." },
	{ "store", "path", CFG_STRING, OFF(store_path), "store.db", 1,
	  KZ_CONFIG_PATH_MAX, NULL,
	  "SQLite store file; relative paths are inside the node's home folder." },
	{ "log", "level", CFG_ENUM, OFF(log_level), "info", 0, 0, log_levels,
	  "Least severe message logged: error, warning, info or debug." },
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static int
set_row(struct kz_config *cfg, const struct cfg_row *r, const char *value,
    char *err, size_t errlen)
{
	char *p = (char *)cfg + r->offset, *end;
	long v;
	int i;

	switch (r->type) {
	case CFG_STRING:
		if (strlen(value) > (size_t)r->max || strlen(value) < (size_t)r->min) {
			snprintf(err, errlen, "[%s] %s must be %ld to %ld bytes long",
			    r->section, r->name, r->min, r->max);
			return KZ_ERR_CONFIG;
		}
		if (!kz_utf8_valid((const uint8_t *)value, strlen(value))) {
			snprintf(err, errlen, "[%s] %s is not valid UTF-8",
			    r->section, r->name);
			return KZ_ERR_CONFIG;
		}
		snprintf(p, KZ_CONFIG_STR_MAX, "%s", value);
		return 0;
	case CFG_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < r->min ||
		    v > r->max) {
			snprintf(err, errlen, "[%s] %s must be an integer from %ld to %ld",
			    r->section, r->name, r->min, r->max);
			return KZ_ERR_CONFIG;
		}
		*(int *)(void *)p = (int)v;
		return 0;
	case CFG_ENUM:
		for (i = 0; r->choices[i] != NULL; i++) {
			if (strcmp(value, r->choices[i]) == 0) {
				*(int *)(void *)p = i;
				return 0;
			}
		}
		snprintf(err, errlen, "[%s] %s: '%s' is not one of the allowed values",
		    r->section, r->name, value);
		return KZ_ERR_CONFIG;
	}
	return KZ_ERR_CONFIG;
}

int
kz_config_set(struct kz_config *cfg, const char *section, const char *name,
    const char *value, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < N_ROWS; i++)
		if (strcmp(rows[i].section, section) == 0 &&
		    strcmp(rows[i].name, name) == 0)
			return set_row(cfg, &rows[i], value, err, errlen);
	snprintf(err, errlen, "unknown setting [%s] %s", section, name);
	return KZ_ERR_CONFIG;
}

void
kz_config_defaults(struct kz_config *cfg)
{
	char err[256];
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < N_ROWS; i++)
		(void)set_row(cfg, &rows[i], rows[i].def, err, sizeof(err));
}

struct load_ctx {
	struct kz_config *cfg;
	char msg[256];
	int failed;
	FILE *f;
	int line;		/* lines handed to libinih so far */
	int long_line;		/* the first line that was too long, or 0 */
};

/*
 * libinih (Debian's, INI_MAX_LINE 200) would split a longer line in two and
 * read its tail as a line of its own; this reader refuses such a file instead.
 */
static char *
read_line(char *str, int num, void *stream)
{
	struct load_ctx *lc = stream;
	size_t len;

	if (fgets(str, num, lc->f) == NULL)
		return NULL;
	lc->line++;
	len = strlen(str);
	if (len > 0 && str[len - 1] != '\n' && !feof(lc->f)) {
		lc->long_line = lc->line;
		return NULL;	/* stop parsing */
	}
	return str;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *lc = user;

	if (lc->failed)
		return 1;
	if (name == NULL)
		return 1;	/* a section header alone */
	if (kz_config_set(lc->cfg, section, name, value, lc->msg,
	    sizeof(lc->msg)) < 0) {
		lc->failed = 1;
		return 0;	/* libinih reports the line */
	}
	return 1;
}

int
kz_config_load(struct kz_config *cfg, const char *path, char *err, size_t errlen)
{
	struct load_ctx lc = { .cfg = cfg };
	struct stat sb;
	FILE *f;
	int line;

	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return KZ_ERR_NOT_FOUND;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return KZ_ERR_CONFIG;
	}
	if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fclose(f);
		snprintf(err, errlen, "%s: not a regular file", path);
		return KZ_ERR_CONFIG;
	}
	lc.f = f;
	line = ini_parse_stream(read_line, &lc, on_ini, &lc);
	fclose(f);
	if (lc.long_line != 0 && (line == 0 || line >= lc.long_line)) {
		snprintf(err, errlen, "%s:%d: line too long (at most %d characters)",
		    path, lc.long_line, KZ_CONFIG_LINE_MAX);
		return KZ_ERR_CONFIG;
	}
	if (line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
		    lc.failed ? lc.msg : "syntax error");
		return KZ_ERR_CONFIG;
	}
	return 0;
}

int
kz_config_default_text(char **out)
{
	char *buf = NULL;
	size_t len = 0, i;
	const char *section = NULL;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return KZ_ERR_NOMEM;
	fprintf(f, "# kizuna node configuration.\n"
	    "# Every setting is shown at its default; a node runs without this file.\n");
	for (i = 0; i < N_ROWS; i++) {
		const struct cfg_row *r = &rows[i];

		if (section == NULL || strcmp(section, r->section) != 0) {
			fprintf(f, "\n[%s]\n", r->section);
			section = r->section;
		}
		fprintf(f, "# %s\n", r->help);
		if (r->type == CFG_INT)
			fprintf(f, "# (%ld to %ld)\n", r->min, r->max);
		fprintf(f, "%s = %s\n", r->name, r->def);
	}
	if (fclose(f) != 0) {
		free(buf);
		return KZ_ERR_NOMEM;
	}
	*out = buf;
	return 0;
}
