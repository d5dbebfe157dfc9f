/*
 * A node's home folder: its secret key, its store and its config.
 *
 *   DIR/node.key     the Ed25519 seed, hex, mode 0600 (refused if group or
 *                    others may read it)
 *   DIR/node.pub     the public key, hex (not secret)
 *   DIR/store.db     the SQLite store (plus -wal and -shm)
 *   DIR/kizuna.conf  the config, every setting at its default
 */
#ifndef KIZUNA_HOME_H
#define KIZUNA_HOME_H

#include <stddef.h>

#include "kizuna/keys.h"

#define KZ_HOME_KEY "node.key"
#define KZ_HOME_PUB "node.pub"
#define KZ_HOME_DB "store.db"
#define KZ_HOME_CONF "kizuna.conf"

/*
 * The default home: $KIZUNA_HOME, else $XDG_DATA_HOME/kizuna, else
 * $HOME/.local/share/kizuna.  Returns 0 or KZ_ERR_INVAL (none is set, or the
 * path does not fit len).
 */
int kz_home_default(char *buf, size_t len);

/* DIR/name into buf.  Returns 0 or KZ_ERR_INVAL if it does not fit. */
int kz_home_path(char *buf, size_t len, const char *dir, const char *name);

/*
 * Creates DIR (mode 0700, parents as needed), a new key pair in node.key
 * (0600) and node.pub, the default config and an empty store.  Returns 0 and
 * the key pair in *kp (the caller wipes it), KZ_ERR_EXISTS if DIR already
 * holds a key, KZ_ERR_IO (errno set) or a store error.
 */
int kz_home_init(const char *dir, struct kz_keypair *kp);

/*
 * Loads the node key.  Returns 0, KZ_ERR_NOT_FOUND (no key file: not a node
 * home), KZ_ERR_KEY_PERMS (readable by group or others), KZ_ERR_BAD_KEY (not
 * a key file) or KZ_ERR_IO (errno set).
 */
int kz_home_load_key(const char *dir, struct kz_keypair *kp);

#endif
