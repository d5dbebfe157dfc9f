/*
 * The zstd dictionaries built into libkizuna, for compressed links
 * (docs/sync.md, "Compression").  Each file under src/sync/dict/ is turned
 * into a C initializer list at build time (src/sync/dict/bin2c.cmake) and
 * included here; tools/dict/train.c says how each was made.  A dictionary
 * is never changed once shipped: a better one gets a new id and is listed
 * first, and the old one stays for peers that only hold it.
 */
#include <stdint.h>

#include "kizuna/link.h"

static const uint8_t ja_chat_1[] = {
#include "ja-chat-1.inc"
};

static const struct kz_link_dict builtin[] = {
	{ KZ_LINK_DICT_JA_CHAT_1, ja_chat_1, sizeof(ja_chat_1) },
};

const struct kz_link_dict *
kz_link_builtin_dicts(size_t *n)
{
	*n = sizeof(builtin) / sizeof(builtin[0]);
	return builtin;
}
