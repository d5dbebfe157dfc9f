/* Internal to src/store/: the "kizuna" FTS5 tokenizer (src/store/fts.c). */
#ifndef KIZUNA_FTS_INT_H
#define KIZUNA_FTS_INT_H

#include <sqlite3.h>

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
 * A document's tokens computed ahead, on any thread: what the tokenizer
 * makes of text (n bytes) when a document is indexed, so the thread that
 * writes the index replays them instead of scanning the text there (a
 * Slack import tokenizes on its reader thread).  NULL when out of memory.
 */
struct kz__fts_tokens;
struct kz__fts_tokens *kz__fts_tokens_new(const char *text, int n);
void kz__fts_tokens_free(struct kz__fts_tokens *t);

/*
 * Until called again on this thread, a document tokenization of exactly
 * text (the same pointer and length n, which the caller keeps unchanged)
 * replays t, computed from it by kz__fts_tokens_new; any other text is
 * scanned.  kz__fts_preset(NULL, NULL, 0) clears it.  SQLite hands FTS5 a
 * bound SQLITE_STATIC text by its pointer; were it ever to copy it, the
 * text is scanned as usual, so the index is the same either way.
 */
void kz__fts_preset(const struct kz__fts_tokens *t, const char *text, int n);

/* How many tokenizations on this thread replayed a preset (for tests). */
unsigned long kz__fts_replayed(void);

#endif
