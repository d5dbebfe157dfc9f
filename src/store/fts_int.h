/* Internal to src/store/: the "kizuna" FTS5 tokenizer (src/store/fts.c). */
#ifndef KIZUNA_FTS_INT_H
#define KIZUNA_FTS_INT_H

#include <sqlite3.h>
#include <stdbool.h>

/*
 * Registers on db (borrowed), for tables created with
 * `USING fts5(..., tokenize='kizuna')`:
 *  - the tokenizer "kizuna" (no arguments);
 *  - kz_highlight(t, col, open, close) and
 *    kz_snippet(t, col, open, close, ellipsis, ntokens), the same as FTS5's
 *    highlight() and snippet() but correct when two matches overlap, which
 *    bigrams make possible ("給水 水道" in 給水道): the built-ins then copy
 *    part of the text twice.  Use these with this tokenizer.
 * Must be called on every connection before such a table is used.
 *
 * Returns 0, or KZ_ERR_DB if this SQLite has no FTS5 or registration fails.
 */
int kz__fts_register(sqlite3 *db);

/*
 * For tests: on, the tokenizer takes every character through its general
 * path, so a test can compare that with the fast path for common text.
 * Process-wide; off unless a test turns it on.
 */
void kz__fts_general_path_only(bool on);

#endif
