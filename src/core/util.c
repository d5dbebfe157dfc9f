/* Byte order, hex, UTF-8 validation and hashing helpers. */
#include <sodium.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/util.h"

void
kz_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
kz_put_be64(uint8_t *p, uint64_t v)
{
	kz_put_be32(p, (uint32_t)(v >> 32));
	kz_put_be32(p + 4, (uint32_t)v);
}

uint32_t
kz_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

uint64_t
kz_get_be64(const uint8_t *p)
{
	return (uint64_t)kz_get_be32(p) << 32 | kz_get_be32(p + 4);
}

void
kz_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
kz_unhex(uint8_t *out, size_t len, const char *in)
{
	size_t i;

	if (strlen(in) != 2 * len)
		return KZ_ERR_INVAL;
	for (i = 0; i < len; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return KZ_ERR_INVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool
kz_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

void
kz_fingerprint(char out[KZ_FINGERPRINT_CHARS + 1], const uint8_t key[32])
{
	char full[65];

	kz_hex(full, key, 32);
	memcpy(out, full, KZ_FINGERPRINT_CHARS);
	out[KZ_FINGERPRINT_CHARS] = '\0';
}

void
kz_hash(uint8_t out[KZ_HASH_BYTES], const uint8_t *in, size_t len)
{
	crypto_generichash(out, KZ_HASH_BYTES, in, len, NULL, 0);
}
