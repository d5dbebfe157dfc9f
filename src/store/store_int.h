/* Internal to src/store/: shared between the store's source files. */
#ifndef KIZUNA_STORE_INT_H
#define KIZUNA_STORE_INT_H

#include <sodium.h>
#include <sqlite3.h>

#include "kizuna/store.h"

/* The connection of an open store (borrowed). */
sqlite3 *kz__store_db(struct kz_store *st);

/* Maps a SQLite result code to a KZ_ERR_* code, logging failures. */
int kz__store_err(struct kz_store *st, int rc, const char *what);

/* The store's file name (borrowed). */
const char *kz__store_path(struct kz_store *st);

/* Feeds the rows of one query into a digest, each value type-tagged. */
int kz__store_digest_query(struct kz_store *st, crypto_generichash_state *h,
    const char *sql);

/* ------------------------------------------------------------ views.c */

struct kz__views;

/* The store's views state (created on first use by views.c). */
struct kz__views **kz__store_views(struct kz_store *st);

/*
 * Files the entries feed[from..to] (just stored, in the open transaction)
 * as facts and updates the views they touch.  On failure the caller rolls
 * the transaction back.
 */
int kz__views_apply(struct kz_store *st, int64_t feed, uint64_t from, uint64_t to);

/* Drops cached view state after a rollback: it is read again on next use. */
void kz__views_forget(struct kz_store *st);

void kz__views_free(struct kz__views *v);

#endif
