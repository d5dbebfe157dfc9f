/*
 * kz_log(): checks the level before formatting (as Redis' serverLog does) and
 * hands the line to the host's callback.  errno survives the call so that a
 * caller may log and then still report errno.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "kizuna/log.h"

void
kz_log(const struct kz_logger *lg, enum kz_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int saved = errno;

	if (lg == NULL || lg->fn == NULL || level > lg->level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	lg->fn(lg->ctx, level, buf);
	errno = saved;
}

const char *
kz_log_level_name(enum kz_log_level level)
{
	switch (level) {
	case KZ_LOG_ERR:
		return "error";
	case KZ_LOG_WARN:
		return "warning";
	case KZ_LOG_INFO:
		return "info";
	case KZ_LOG_DEBUG:
		return "debug";
	}
	return "?";
}
