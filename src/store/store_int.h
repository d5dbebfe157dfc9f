/* Internal to src/store/: shared between the store's source files. */
#ifndef KIZUNA_STORE_INT_H
#define KIZUNA_STORE_INT_H

#include <sqlite3.h>

#include "kizuna/store.h"

/* The connection of an open store (borrowed). */
sqlite3 *kz__store_db(struct kz_store *st);

/* Maps a SQLite result code to a KZ_ERR_* code, logging failures. */
int kz__store_err(struct kz_store *st, int rc, const char *what);

/* The store's file name (borrowed). */
const char *kz__store_path(struct kz_store *st);

#endif
