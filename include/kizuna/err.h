/*
 * kizuna error codes.
 *
 * Every fallible function returns 0 (KZ_OK) or one of these negative codes;
 * results come back through out-parameters.  The list is one X-macro so the
 * enum and kz_strerror() can never disagree.
 */
#ifndef KIZUNA_ERR_H
#define KIZUNA_ERR_H

#define KZ_ERRNO_MAP(X)                                                       \
	X(NOMEM, "out of memory")                                             \
	X(INVAL, "invalid argument")                                          \
	X(IO, "input/output error")                                           \
	X(DB, "database error")                                               \
	X(FULL, "disk full")                                                  \
	X(MALFORMED, "malformed data")                                        \
	X(TRUNCATED, "data truncated")                                        \
	X(TOO_BIG, "size limit exceeded")                                     \
	X(BAD_UTF8, "invalid UTF-8 text")                                     \
	X(BAD_SIG, "signature does not verify")                               \
	X(CHAIN, "run does not link to the stored chain")                     \
	X(GAP, "run starts past the feed's tip")                              \
	X(FORK, "fork: two different signed entries at one seq")              \
	X(NOT_FOUND, "not found")                                             \
	X(EXISTS, "already exists")                                           \
	X(KEY_PERMS, "key file is readable by group or others")               \
	X(BAD_KEY, "invalid key")                                             \
	X(SCHEMA, "store schema is newer than this program")                  \
	X(CORRUPT, "stored data is corrupt")                                  \
	X(CONFIG, "invalid configuration")                                    \
	X(CRYPTO, "cryptographic library failure")                            \
	X(NOT_URGENT, "entry sent alone is not of an urgent class")            \
	X(BEHIND, "this node's own feed is behind what a peer holds (restored " \
	    "from a backup?): catching up before writing")

enum kz_err {
	KZ_OK = 0,
#define KZ__ERR_ENUM(name, msg) KZ_ERR_##name,
	KZ__ERR_FIRST = -1000,
	KZ_ERRNO_MAP(KZ__ERR_ENUM)
#undef KZ__ERR_ENUM
	KZ__ERR_LAST
};

/* A static, human-readable message for a code (never NULL). */
const char *kz_strerror(int err);

/* The code's symbolic name without the prefix, e.g. "BAD_SIG". */
const char *kz_errname(int err);

#endif
