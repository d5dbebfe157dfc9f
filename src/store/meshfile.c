/*
 * Mesh credentials: the mesh file DIR/mesh.key and the join token codec
 * (formats in kizuna/mesh.h).
 *
 * The mesh file is created like node.key: mode 0600 with O_EXCL (never
 * replacing a file), written and fsynced before the folder is, and refused
 * when group or others may read it.  Every buffer that held the network
 * key, in binary, hex or base32, is wiped before it goes out of scope.
 *
 * The token decoder is strict so that a typo is never taken for a token:
 * one case throughout, only the base32 alphabet, the unused bits of the last
 * character zero, a length that base32 can produce, the checksum, then the
 * version and the fields.  Together these make every single-character
 * change of a valid token either refused or decode to different
 * credentials (tests/unit/test_mesh.c tries them all).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "kizuna/err.h"
#include "kizuna/home.h"
#include "kizuna/mesh.h"
#include "kizuna/util.h"
#include "store/store_int.h"

#define FILE_VERSION_KEY "kizuna-mesh"
#define FILE_VERSION 1
/* A mesh file is a few hundred bytes; anything much larger is not one. */
#define FILE_MAX 4096
#define HOST_MAX 100

/* Token payload: version | mesh id | network key | root | addr len | addr. */
#define TOK_FIXED (1 + KZ_MESH_ID_BYTES + KZ_MESH_KEY_BYTES + 32 + 1)
#define TOK_CHECK 4
#define TOK_MIN (TOK_FIXED + TOK_CHECK)
#define TOK_MAX (TOK_FIXED + KZ_MESH_ADDR_MAX + TOK_CHECK)

static const char b32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";

void
kz_mesh_creds_wipe(struct kz_mesh_creds *creds)
{
	if (creds != NULL)
		sodium_memzero(creds, sizeof(*creds));
}

int
kz_mesh_creds_new(struct kz_mesh_creds *creds, const uint8_t root[32])
{
	kz_mesh_creds_wipe(creds);
	randombytes_buf(creds->mesh_id, sizeof(creds->mesh_id));
	randombytes_buf(creds->network_key, sizeof(creds->network_key));
	memcpy(creds->root, root, 32);
	return 0;
}

/* ------------------------------------------------------------ addresses */

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool
is_hexdigit(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* 1 to 65535 in decimal, without a sign or a leading zero. */
static bool
port_ok(const char *s)
{
	unsigned long v = 0;
	size_t i;

	if (*s < '1' || *s > '9')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (!is_digit(s[i]) || i >= 5)
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v <= 65535;
}

/* A DNS name or an IPv4 address: labels of letters, digits and '-'. */
static bool
name_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > HOST_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (is_alnum(s[i]) || (s[i] == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return label > 0 && s[n - 1] != '-';
}

/* The inside of an IPv6 literal's brackets: hex digits, ':' and '.'. */
static bool
ipv6_ok(const char *s, size_t n)
{
	size_t i, colons = 0;

	if (n < 2 || n > HOST_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == ':')
			colons++;
		else if (!is_hexdigit(s[i]) && s[i] != '.')
			return false;
	}
	return colons >= 2;
}

int
kz_mesh_address_check(const char *addr)
{
	const char *colon;
	size_t n;

	if (addr == NULL)
		return KZ_ERR_INVAL;
	n = strlen(addr);
	if (n == 0 || n > KZ_MESH_ADDR_MAX)
		return KZ_ERR_INVAL;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':' ||
		    !ipv6_ok(addr + 1, (size_t)(close - addr - 1)))
			return KZ_ERR_INVAL;
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || !name_ok(addr, (size_t)(colon - addr)))
			return KZ_ERR_INVAL;
	}
	return port_ok(colon + 1) ? 0 : KZ_ERR_INVAL;
}

/* ------------------------------------------------------------ token */

static void
token_check(uint8_t out[TOK_CHECK], const uint8_t *payload, size_t len)
{
	uint8_t h[KZ_HASH_BYTES];

	kz_hash(h, payload, len);
	memcpy(out, h, TOK_CHECK);
}

/* Base32 (RFC 4648, lower case, no padding) of len bytes; out has room. */
static size_t
b32_encode(char *out, const uint8_t *in, size_t len)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_lower[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32_lower[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	sodium_memzero(&acc, sizeof(acc));
	return o;
}

/* The value of a base32 digit in the given case, or -1. */
static int
b32_value(char ch, bool upper)
{
	char a = upper ? 'A' : 'a', z = upper ? 'Z' : 'z';

	if (ch >= a && ch <= z)
		return ch - a;
	if (ch >= '2' && ch <= '7')
		return ch - '2' + 26;
	return -1;
}

int
kz_mesh_token_encode(char *out, size_t outlen,
    const struct kz_mesh_creds *creds)
{
	uint8_t bin[TOK_MAX];
	size_t alen = strnlen(creds->address, sizeof(creds->address)), n, plen;

	if (alen > KZ_MESH_ADDR_MAX ||
	    (alen > 0 && kz_mesh_address_check(creds->address) < 0))
		return KZ_ERR_INVAL;
	plen = TOK_FIXED + alen;
	n = sizeof(KZ_MESH_TOKEN_PREFIX) - 1 + ((plen + TOK_CHECK) * 8 + 4) / 5;
	if (outlen < n + 1)
		return KZ_ERR_INVAL;
	bin[0] = KZ_MESH_TOKEN_VERSION;
	memcpy(bin + 1, creds->mesh_id, KZ_MESH_ID_BYTES);
	memcpy(bin + 1 + KZ_MESH_ID_BYTES, creds->network_key, KZ_MESH_KEY_BYTES);
	memcpy(bin + 1 + KZ_MESH_ID_BYTES + KZ_MESH_KEY_BYTES, creds->root, 32);
	bin[TOK_FIXED - 1] = (uint8_t)alen;
	memcpy(bin + TOK_FIXED, creds->address, alen);
	token_check(bin + plen, bin, plen);
	memcpy(out, KZ_MESH_TOKEN_PREFIX, sizeof(KZ_MESH_TOKEN_PREFIX) - 1);
	b32_encode(out + sizeof(KZ_MESH_TOKEN_PREFIX) - 1, bin, plen + TOK_CHECK);
	sodium_memzero(bin, sizeof(bin));
	return 0;
}

/*
 * Reads the "kizunaN:" prefix of text in either case.  Returns the offset of
 * the base32 text and sets *upper, or a kz_mesh_token_decode() error.
 */
static int
token_prefix(const char *text, bool *upper)
{
	static const char word[] = "kizuna";
	size_t i, n = sizeof(word) - 1, digits;
	int lower = 0, up = 0;

	for (i = 0; i < n; i++) {
		if (text[i] == word[i])
			lower++;
		else if (text[i] == word[i] - 'a' + 'A')
			up++;
		else
			return KZ_ERR_INVAL;
	}
	for (digits = 0; is_digit(text[n + digits]); digits++)
		;
	if (digits == 0 || text[n + digits] != ':')
		return KZ_ERR_INVAL;
	if (lower != 0 && up != 0)
		return KZ_ERR_MALFORMED;
	*upper = up != 0;
	if (digits != 1 || text[n] != '0' + KZ_MESH_TOKEN_VERSION)
		return KZ_ERR_SCHEMA;
	return (int)(n + digits + 1);
}

int
kz_mesh_token_decode(struct kz_mesh_creds *creds, const char *text)
{
	uint8_t bin[TOK_MAX], check[TOK_CHECK];
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, n, len = 0, alen;
	bool upper = false;
	int rc, off;

	kz_mesh_creds_wipe(creds);
	if (text == NULL)
		return KZ_ERR_INVAL;
	if ((off = token_prefix(text, &upper)) < 0)
		return off;
	text += off;
	n = strlen(text);
	/* 5n bits hold floor(5n/8) bytes and 0 to 4 unused bits, never 5 to 7. */
	if ((n * 5) % 8 >= 5 || n * 5 / 8 < TOK_MIN)
		return KZ_ERR_TRUNCATED;
	if (n * 5 / 8 > TOK_MAX)
		return KZ_ERR_MALFORMED;
	rc = 0;
	for (i = 0; i < n; i++) {
		int v = b32_value(text[i], upper);

		if (v < 0) {
			rc = KZ_ERR_MALFORMED;
			goto out;
		}
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			bin[len++] = (uint8_t)(acc >> bits);
		}
	}
	/*
	 * The checksum first, so that a cut or mistyped token reads as damaged;
	 * then the unused low bits of the last digit, which it does not cover,
	 * must be zero so that no two texts decode to one token.
	 */
	token_check(check, bin, len - TOK_CHECK);
	if (sodium_memcmp(check, bin + len - TOK_CHECK, TOK_CHECK) != 0) {
		rc = KZ_ERR_CORRUPT;
		goto out;
	}
	if ((acc & ((1u << bits) - 1)) != 0) {
		rc = KZ_ERR_MALFORMED;
		goto out;
	}
	if (bin[0] != KZ_MESH_TOKEN_VERSION) {
		rc = KZ_ERR_SCHEMA;
		goto out;
	}
	alen = bin[TOK_FIXED - 1];
	if (alen > KZ_MESH_ADDR_MAX || TOK_FIXED + alen + TOK_CHECK != len) {
		rc = KZ_ERR_MALFORMED;
		goto out;
	}
	memcpy(creds->mesh_id, bin + 1, KZ_MESH_ID_BYTES);
	memcpy(creds->network_key, bin + 1 + KZ_MESH_ID_BYTES, KZ_MESH_KEY_BYTES);
	memcpy(creds->root, bin + 1 + KZ_MESH_ID_BYTES + KZ_MESH_KEY_BYTES, 32);
	memcpy(creds->address, bin + TOK_FIXED, alen);
	creds->address[alen] = '\0';
	/* A NUL inside would make two tokens name one address. */
	if (memchr(creds->address, '\0', alen) != NULL ||
	    (alen > 0 && kz_mesh_address_check(creds->address) < 0))
		rc = KZ_ERR_MALFORMED;
out:
	if (rc < 0)
		kz_mesh_creds_wipe(creds);
	sodium_memzero(bin, sizeof(bin));
	sodium_memzero(&acc, sizeof(acc));
	return rc;
}

const char *
kz_mesh_token_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "token valid";
	case KZ_ERR_INVAL:
		return "not a kizuna token (a token starts with \""
		    KZ_MESH_TOKEN_PREFIX "\")";
	case KZ_ERR_SCHEMA:
		return "unknown token version (made by a newer kizuna: update this "
		    "node, or ask for a token this version reads)";
	case KZ_ERR_TRUNCATED:
		return "token truncated (part of it is missing: copy it again, whole)";
	case KZ_ERR_MALFORMED:
		return "token damaged (it holds characters no token has, or mixes "
		    "upper and lower case: copy it again exactly)";
	case KZ_ERR_CORRUPT:
		return "token damaged (checksum): a character is wrong; copy it "
		    "again exactly";
	default:
		return kz_strerror(rc);
	}
}

void
kz_mesh_key_fingerprint(char out[KZ_MESH_KEY_FP_CHARS + 1],
    const uint8_t key[KZ_MESH_KEY_BYTES])
{
	static const char label[] = "kizuna network key fingerprint";
	uint8_t h[KZ_HASH_BYTES];

	crypto_generichash(h, sizeof(h), (const uint8_t *)label, sizeof(label) - 1,
	    key, KZ_MESH_KEY_BYTES);
	kz_hex(out, h, KZ_MESH_KEY_FP_CHARS / 2);
}

/* ------------------------------------------------------------ the file */

int
kz_mesh_file_write(const char *dir, const struct kz_mesh_creds *creds)
{
	char path[4096], text[640], id[2 * KZ_MESH_ID_BYTES + 1];
	char key[2 * KZ_MESH_KEY_BYTES + 1], root[65];
	int rc, n;

	if (creds->address[0] != '\0' && kz_mesh_address_check(creds->address) < 0)
		return KZ_ERR_INVAL;
	if ((rc = kz_home_path(path, sizeof(path), dir, KZ_MESH_FILE)) < 0)
		return rc;
	kz_hex(id, creds->mesh_id, KZ_MESH_ID_BYTES);
	kz_hex(key, creds->network_key, KZ_MESH_KEY_BYTES);
	kz_hex(root, creds->root, 32);
	n = snprintf(text, sizeof(text),
	    "# kizuna mesh credentials.  The network key is the secret the mesh's\n"
	    "# nodes share: whoever holds it can link to them.  Keep this file\n"
	    "# private (mode 0600) and back it up offline.\n"
	    FILE_VERSION_KEY ": %d\n"
	    "mesh-id: %s\n"
	    "network-key: %s\n"
	    "root: %s\n"
	    "%s%s%s",
	    FILE_VERSION, id, key, root,
	    creds->address[0] ? "bootstrap: " : "", creds->address,
	    creds->address[0] ? "\n" : "");
	sodium_memzero(key, sizeof(key));
	if (n < 0 || (size_t)n >= sizeof(text))
		rc = KZ_ERR_INVAL;
	else
		rc = kz__file_create(path, text, 0600);
	sodium_memzero(text, sizeof(text));
	if (rc < 0)
		return rc;
	kz__fsync_dir(dir);
	return 0;
}

/* Parses the text of a mesh file (NUL-ended, modified) into *creds. */
static int
parse_file(char *buf, struct kz_mesh_creds *creds)
{
	enum { F_VERSION = 1, F_ID = 2, F_KEY = 4, F_ROOT = 8, F_ADDR = 16 };
	unsigned seen = 0, f;
	char *line, *save = NULL, *val;

	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		if ((val = strstr(line, ": ")) == NULL)
			return KZ_ERR_BAD_KEY;
		*val = '\0';
		val += 2;
		if (!(seen & F_VERSION)) {
			/* The version line comes first: a newer file is not misread. */
			if (strcmp(line, FILE_VERSION_KEY) != 0)
				return KZ_ERR_BAD_KEY;
			if (strcmp(val, "1") != 0)
				return is_digit(val[0]) ? KZ_ERR_SCHEMA : KZ_ERR_BAD_KEY;
			seen |= F_VERSION;
			continue;
		}
		if (strcmp(line, "mesh-id") == 0) {
			f = F_ID;
			if (kz_unhex(creds->mesh_id, KZ_MESH_ID_BYTES, val) < 0)
				return KZ_ERR_BAD_KEY;
		} else if (strcmp(line, "network-key") == 0) {
			f = F_KEY;
			if (kz_unhex(creds->network_key, KZ_MESH_KEY_BYTES, val) < 0)
				return KZ_ERR_BAD_KEY;
		} else if (strcmp(line, "root") == 0) {
			f = F_ROOT;
			if (kz_unhex(creds->root, 32, val) < 0)
				return KZ_ERR_BAD_KEY;
		} else if (strcmp(line, "bootstrap") == 0) {
			f = F_ADDR;
			if (kz_mesh_address_check(val) < 0)
				return KZ_ERR_BAD_KEY;
			memcpy(creds->address, val, strlen(val) + 1);
		} else {
			return KZ_ERR_BAD_KEY;
		}
		if (seen & f)
			return KZ_ERR_BAD_KEY;
		seen |= f;
	}
	f = F_VERSION | F_ID | F_KEY | F_ROOT;
	return (seen & f) == f ? 0 : KZ_ERR_BAD_KEY;
}

int
kz_mesh_file_read(const char *dir, struct kz_mesh_creds *creds)
{
	/* One more than kz__secret_read needs, so FILE_MAX bytes fit. */
	char path[4096], buf[FILE_MAX + 2];
	int rc;

	kz_mesh_creds_wipe(creds);
	if ((rc = kz_home_path(path, sizeof(path), dir, KZ_MESH_FILE)) < 0)
		return rc;
	if ((rc = kz__secret_read(path, buf, sizeof(buf))) == 0)
		rc = parse_file(buf, creds);
	sodium_memzero(buf, sizeof(buf));
	if (rc < 0) {
		int saved = errno;

		kz_mesh_creds_wipe(creds);
		errno = saved;
	}
	return rc;
}

int
kz_mesh_file_remove(const char *dir)
{
	char path[4096];
	int rc;

	if ((rc = kz_home_path(path, sizeof(path), dir, KZ_MESH_FILE)) < 0)
		return rc;
	if (unlink(path) < 0)
		return errno == ENOENT ? KZ_ERR_NOT_FOUND : KZ_ERR_IO;
	return 0;
}

int
kz_mesh_listen_address(const char *l, char out[KZ_MESH_ADDR_MAX + 1])
{
	out[0] = '\0';
	if (l[0] == '\0')
		return KZ_ERR_NOT_FOUND;
	if (kz_mesh_address_check(l) < 0 || strncmp(l, "0.0.0.0:", 8) == 0 ||
	    strncmp(l, "[::]:", 5) == 0 || strcmp(strrchr(l, ':'), ":0") == 0)
		return KZ_ERR_INVAL;
	/* kz_mesh_address_check bounds it to KZ_MESH_ADDR_MAX. */
	memcpy(out, l, strlen(l) + 1);
	return 0;
}
