/*
 * Full-text search over messages, Japanese first.
 *
 * The store indexes message bodies with an FTS5 table whose tokenizer is
 * "kizuna" (src/store/fts.c): text is normalized (full-width ASCII and
 * half-width katakana folded to one form, Latin lowercased), runs of
 * Japanese/Chinese/Korean characters become overlapping two-character
 * tokens, and runs of letters and digits become one token per word.
 *
 * kz_search_query() turns what a person types into an FTS5 MATCH
 * expression for that table.  It is pure (no SQL) so the HTTP API, the CLI
 * and tests all build queries the same way.
 *
 * Query grammar, from the user's point of view:
 *  - terms are separated by whitespace (ASCII or the ideographic space
 *    U+3000) and every term must match (AND);
 *  - a term matches where its characters occur contiguously, ignoring case
 *    and full-width/half-width differences; punctuation inside a term only
 *    separates words, so "18:00" finds "18:00" and "18.00";
 *  - a term that ends in letters or digits, or in a single CJK character,
 *    also matches longer words that start with it ("kizu" finds "kizuna",
 *    "水" finds "給水" and "水道");
 *  - nothing a person types is FTS5 syntax: quotes, *, ^, :, parentheses,
 *    AND/OR/NOT/NEAR are searched for as text (or ignored as punctuation).
 */
#ifndef KIZUNA_SEARCH_H
#define KIZUNA_SEARCH_H

#include <stddef.h>

/*
 * An output size for kz_search_query() that always suffices for a user
 * query of n bytes (the worst case is many one-letter terms, each becoming
 * "x"* plus " AND ").
 */
#define KZ_SEARCH_QUERY_MAX(n) (5 * (size_t)(n) + 1)

/*
 * Writes into out (outlen bytes, NUL-terminated) an FTS5 MATCH expression
 * for user_query (borrowed, a NUL-terminated UTF-8 string).  The result is
 * made only of double-quoted phrases of normalized tokens, optional '*'
 * and " AND ", so it can be bound to `WHERE t MATCH ?` as it is.
 *
 * Returns 0, or:
 *  - KZ_ERR_BAD_UTF8 if user_query is not valid UTF-8;
 *  - KZ_ERR_INVAL if it contains nothing searchable (empty, only
 *    whitespace, only punctuation or symbols), or out/user_query is NULL
 *    or outlen is 0;
 *  - KZ_ERR_TOO_BIG if the expression does not fit in outlen bytes
 *    (KZ_SEARCH_QUERY_MAX(strlen(user_query)) always fits).
 * On failure out holds the empty string (when outlen > 0).
 */
int kz_search_query(char *out, size_t outlen, const char *user_query);

#endif
