/* kz_strerror(): messages for the codes of KZ_ERRNO_MAP. */
#include "kizuna/err.h"

const char *
kz_strerror(int err)
{
	switch (err) {
	case KZ_OK:
		return "success";
#define KZ__ERR_MSG(name, msg) case KZ_ERR_##name: return msg;
	KZ_ERRNO_MAP(KZ__ERR_MSG)
#undef KZ__ERR_MSG
	default:
		return "unknown error";
	}
}

const char *
kz_errname(int err)
{
	switch (err) {
	case KZ_OK:
		return "OK";
#define KZ__ERR_NAME(name, msg) case KZ_ERR_##name: return #name;
	KZ_ERRNO_MAP(KZ__ERR_NAME)
#undef KZ__ERR_NAME
	default:
		return "UNKNOWN";
	}
}
