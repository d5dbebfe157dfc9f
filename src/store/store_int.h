/* Internal to src/store/: shared between the store's source files. */
#ifndef KIZUNA_STORE_INT_H
#define KIZUNA_STORE_INT_H

#include <sodium.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sqlite3.h>

#include "kizuna/store.h"

/* The connection of an open store (borrowed). */
sqlite3 *kz__store_db(struct kz_store *st);

/* Maps a SQLite result code to a KZ_ERR_* code, logging failures. */
int kz__store_err(struct kz_store *st, int rc, const char *what);

/* The store's file name (borrowed). */
const char *kz__store_path(struct kz_store *st);

/* Whether the open group is a bulk group (kz_store_begin_bulk). */
bool kz__store_in_bulk(struct kz_store *st);

/* Feeds the rows of one query into a digest, each value type-tagged. */
int kz__store_digest_query(struct kz_store *st, crypto_generichash_state *h,
    const char *sql);

/* ------------------------------------------------------------ home.c */

/*
 * Creates path with mode (never replacing a file: KZ_ERR_EXISTS), writes
 * text, fsyncs; on failure nothing is left behind.  KZ_ERR_IO (errno set)
 * or KZ_ERR_FULL otherwise.
 */
int kz__file_create(const char *path, const char *text, mode_t mode);

/* fsyncs a folder so a file just created in it survives a crash. */
void kz__fsync_dir(const char *dir);

/*
 * Reads a secret file (a key file) into buf, NUL-ended: refused when it is
 * not a regular file or when group or others may access it
 * (KZ_ERR_KEY_PERMS), or when it holds a NUL or more than cap - 1 bytes
 * (KZ_ERR_BAD_KEY); KZ_ERR_NOT_FOUND, KZ_ERR_IO.  buf is wiped on failure.
 */
int kz__secret_read(const char *path, char *buf, size_t cap);

/* ------------------------------------------------------------ views.c */

struct kz__views;

/* The store's views state (created on first use by views.c). */
struct kz__views **kz__store_views(struct kz_store *st);

/*
 * Files the entries feed[from..to] (just stored, in the open transaction)
 * as facts and updates the views they touch.  With deferral on
 * (kz_views_set_deferral), a longer run, or one of a feed with a backlog,
 * has only its control entries applied now and the rest recorded as
 * backlog (kz_views_catch_up).  On failure the caller rolls the
 * transaction back.
 */
int kz__views_apply(struct kz_store *st, int64_t feed, uint64_t from, uint64_t to);

/*
 * An entry a bulk group appended with its op decoded by the caller
 * (kz_store_append_decoded): what kz__views_apply would read back.
 */
struct kz__bulk_row {
	int64_t rowid;
	uint64_t seq, hlc;
	uint8_t hash[KZ_HASH_BYTES];
	struct kz_op *op;	/* kz_op_decode's result for its op; NULL: none */
};

/*
 * kz__views_apply of feed[from..to], whose rows[0..n) (n == to - from + 1,
 * in seq order, all by author) are given instead of read back: the views
 * take the ops they use, setting rows[i].op to NULL; the caller frees any
 * left.
 */
int kz__views_apply_rows(struct kz_store *st, int64_t feed,
    const uint8_t author[KZ_PK_BYTES], uint64_t from, uint64_t to,
    struct kz__bulk_row *rows, size_t n);

/* kz__views_apply, never deferred (an urgent entry that came alone). */
int kz__views_apply_now(struct kz_store *st, int64_t feed, uint64_t from,
    uint64_t to);

/* Drops cached view state after a rollback: it is read again on next use. */
void kz__views_forget(struct kz_store *st);

void kz__views_free(struct kz__views *v);

/* For tests: new posts whose look-up the key filter spared (views.c). */
uint64_t kz__views_posts_unlooked(struct kz_store *st);

struct kz_view_message;
struct kz_view_file;

/*
 * The file references of m, whose n_files is its row's count (0: none, and
 * nothing is read): read into *out, which m->files then points at, with
 * m->n_files set to how many were read.  The caller frees *out with
 * kz__views_files_free(*out, m->n_files).  Returns 0 or a store error
 * (m then has none).
 */
int kz__views_message_files(struct kz_store *st, struct kz_view_message *m,
    struct kz_view_file **out);

/* Frees what kz__views_message_files read (accepts NULL). */
void kz__views_files_free(struct kz_view_file *f, size_t n);

#endif
