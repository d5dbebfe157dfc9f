/*
 * Fuzz target: the join token decoder (kz_mesh_token_decode).
 *
 * Input: a mode byte, then
 *   mode even  the token text itself (cut at the first NUL);
 *   mode odd   a binary payload: the harness appends the right checksum
 *              and writes "kizuna1:" + base32 (upper case when the mode
 *              byte has 0x02 set), so the fields behind the checksum are
 *              reached (a checksum cannot be guessed).
 *
 * Invariants: errors are the documented ones and leave the credentials
 * zeroed; a token that decodes is exactly the token kz_mesh_token_encode
 * writes for the credentials it decodes to (in lower case): one text per
 * token, so no changed character can decode to the same credentials, and
 * the token round-trips.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna/err.h"
#include "kizuna/mesh.h"
#include "kizuna/util.h"

#define TEXT_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
b32(char *out, const uint8_t *in, size_t len, bool upper)
{
	const char *abc = upper ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" :
	    "abcdefghijklmnopqrstuvwxyz234567";
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = abc[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = abc[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return o;
}

static bool
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[TEXT_MAX * 2 + 64], enc[KZ_MESH_TOKEN_MAX + 64];
	struct kzf_in in = { data, size };
	struct kz_mesh_creds creds, again;
	uint8_t mode = kzf_u8(&in);
	size_t i, tl;
	int rc;

	if (in.n > TEXT_MAX)
		return 0;
	if (mode & 1) {
		uint8_t bin[TEXT_MAX + 4], h[KZ_HASH_BYTES];

		memcpy(bin, in.p, in.n);
		kz_hash(h, bin, in.n);
		memcpy(bin + in.n, h, 4);
		memcpy(text, KZ_MESH_TOKEN_PREFIX, 8);
		if (mode & 2)
			memcpy(text, "KIZUNA1:", 8);
		b32(text + 8, bin, in.n + 4, (mode & 2) != 0);
	} else {
		memcpy(text, in.p, in.n);
		text[in.n] = '\0';
	}
	tl = strlen(text);
	memset(&creds, 0xa5, sizeof(creds));
	rc = kz_mesh_token_decode(&creds, text);
	KZF_CHECK(strcmp(kz_mesh_token_strerror(rc), "") != 0, "token: strerror");
	if (rc < 0) {
		KZF_CHECK(rc == KZ_ERR_INVAL || rc == KZ_ERR_SCHEMA ||
		    rc == KZ_ERR_TRUNCATED || rc == KZ_ERR_MALFORMED ||
		    rc == KZ_ERR_CORRUPT, "token: unexpected %s", kz_errname(rc));
		KZF_CHECK(all_zero(&creds, sizeof(creds)),
		    "token: %s left credentials behind", kz_errname(rc));
		return 0;
	}
	KZF_CHECK(memchr(creds.address, 0, sizeof(creds.address)) != NULL,
	    "token: address not terminated");
	KZF_CHECK(creds.address[0] == '\0' ||
	    kz_mesh_address_check(creds.address) == 0,
	    "token: decoded a bad address");
	rc = kz_mesh_token_encode(enc, sizeof(enc), &creds);
	KZF_CHECK(rc == 0, "token: decoded credentials do not encode: %s",
	    kz_errname(rc));
	KZF_CHECK(strlen(enc) < KZ_MESH_TOKEN_MAX, "token: over the max");
	for (i = 0; i < tl; i++)
		text[i] = (char)tolower((unsigned char)text[i]);
	KZF_CHECK(strcmp(enc, text) == 0, "token: two texts decode to the same "
	    "credentials (address '%s'):\n  input   %s\n  encoded %s",
	    creds.address, text, enc);
	rc = kz_mesh_token_decode(&again, enc);
	KZF_CHECK(rc == 0 && memcmp(&again, &creds, sizeof(creds)) == 0,
	    "token: round trip");
	kz_mesh_creds_wipe(&creds);
	kz_mesh_creds_wipe(&again);
	return 0;
}
