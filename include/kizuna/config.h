/*
 * Configuration: one table of settings (name, type, default, bounds, help),
 * read from an INI file by libinih.  Every setting has a default, so a node
 * runs with no file at all; the default file is generated from the same
 * table, so documentation and code cannot drift apart.
 */
#ifndef KIZUNA_CONFIG_H
#define KIZUNA_CONFIG_H

#include <stddef.h>

#include "kizuna/log.h"

#define KZ_CONFIG_STR_MAX 256
/* Longest line of a config file, newline excluded (libinih's INI_MAX_LINE - 2). */
#define KZ_CONFIG_LINE_MAX 198
/* Longest path setting: it must fit on one line with its name. */
#define KZ_CONFIG_PATH_MAX 160

struct kz_config {
	char node_name[KZ_CONFIG_STR_MAX];
	char store_path[KZ_CONFIG_STR_MAX];
	int log_level;			/* enum kz_log_level */
};

/* Fills every setting with its default. */
void kz_config_defaults(struct kz_config *cfg);

/*
 * Reads path over the defaults already in cfg.  Returns 0, KZ_ERR_NOT_FOUND
 * if the file does not exist, or KZ_ERR_CONFIG with "FILE:LINE: reason" in
 * err (errlen bytes) for an unknown section or key, a bad value or a line
 * over KZ_CONFIG_LINE_MAX characters.  On error cfg may hold the settings
 * read before the bad line: do not use it.
 */
int kz_config_load(struct kz_config *cfg, const char *path, char *err,
    size_t errlen);

/* Sets one setting from text, as a line of the file would. */
int kz_config_set(struct kz_config *cfg, const char *section, const char *name,
    const char *value, char *err, size_t errlen);

/* The documented default file, malloc'd; the caller frees it. */
int kz_config_default_text(char **out);

#endif
