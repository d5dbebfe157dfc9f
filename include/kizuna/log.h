/*
 * Levelled logging through a host-supplied callback.
 *
 * Pure modules never write to stderr themselves: the host (kizunad, the CLI,
 * a test) passes a struct kz_logger down, and the message is formatted only
 * when its level passes the logger's threshold.  A NULL logger drops all.
 * Never pass secrets: log fingerprints (kz_fingerprint), not keys.
 */
#ifndef KIZUNA_LOG_H
#define KIZUNA_LOG_H

enum kz_log_level {
	KZ_LOG_ERR = 0,
	KZ_LOG_WARN = 1,
	KZ_LOG_INFO = 2,
	KZ_LOG_DEBUG = 3
};

struct kz_logger {
	/* Receives one formatted line without a trailing newline (borrowed). */
	void (*fn)(void *ctx, enum kz_log_level level, const char *msg);
	void *ctx;
	enum kz_log_level level;	/* messages above this are dropped */
};

#if defined(__GNUC__)
#define KZ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define KZ_PRINTF(a, b)
#endif

/* Formats and delivers one message; preserves errno. lg may be NULL. */
void kz_log(const struct kz_logger *lg, enum kz_log_level level,
    const char *fmt, ...) KZ_PRINTF(3, 4);

const char *kz_log_level_name(enum kz_log_level level);

#endif
