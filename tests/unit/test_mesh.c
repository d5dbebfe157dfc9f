/*
 * Mesh credentials tests: the join token round-trips every field, and every
 * single-character change, truncation or wrong prefix is refused with its
 * own code (none decodes to the same credentials); the mesh file is written
 * 0600, read back exactly, never replaced, and refused when group or others
 * may read it; credentials are zero after a wipe.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kizuna/err.h"
#include "kizuna/mesh.h"
#include "kizuna/util.h"
#include "testutil.h"

/* Deterministic credentials: byte i of each field is base + i. */
static void
fill_creds(struct kz_mesh_creds *c, uint8_t base, const char *addr)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < 32; i++) {
		c->mesh_id[i] = (uint8_t)(base + i);
		c->network_key[i] = (uint8_t)(base + 0x40 + i);
		c->root[i] = (uint8_t)(base + 0x80 + i);
	}
	snprintf(c->address, sizeof(c->address), "%s", addr);
}

static bool
creds_equal(const struct kz_mesh_creds *a, const struct kz_mesh_creds *b)
{
	return memcmp(a->mesh_id, b->mesh_id, 32) == 0 &&
	    memcmp(a->network_key, b->network_key, 32) == 0 &&
	    memcmp(a->root, b->root, 32) == 0 &&
	    strcmp(a->address, b->address) == 0;
}

static bool
all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* The token's payload and checksum as bytes (lower-case token). */
static size_t
token_bytes(uint8_t *out, const char *tok)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t len = 0;
	const char *p;

	assert_int_equal(strncmp(tok, KZ_MESH_TOKEN_PREFIX, 8), 0);
	for (p = tok + 8; *p; p++) {
		const char *v = strchr(b32, *p);

		assert_non_null(v);
		acc = (acc << 5) | (uint32_t)(v - b32);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (uint8_t)(acc >> bits);
		}
	}
	return len;
}

/* A token of bytes (payload | checksum), recomputing the checksum if asked. */
static void
token_of(char *out, uint8_t *bin, size_t len, bool fix_check)
{
	uint8_t h[32];
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, o = 8;

	if (fix_check) {
		kz_hash(h, bin, len - 4);
		memcpy(bin + len - 4, h, 4);
	}
	memcpy(out, KZ_MESH_TOKEN_PREFIX, 8);
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | bin[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

static void
test_token_round_trip(void **state)
{
	static const char *addrs[] = {
		"127.0.0.1:7420", "", "cityhall.kawazoi.lg.jp:65535",
		"[fe80::1:2]:1", "a:1",
	};
	struct kz_mesh_creds in, out;
	char tok[KZ_MESH_TOKEN_MAX], upper[KZ_MESH_TOKEN_MAX];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		fill_creds(&in, (uint8_t)(7 * i + 1), addrs[i]);
		assert_int_equal(kz_mesh_token_encode(tok, sizeof(tok), &in), 0);
		assert_int_equal(strncmp(tok, "kizuna1:", 8), 0);
		/* One line of the prefix and lower-case base32, unpadded. */
		for (j = 8; tok[j]; j++)
			assert_non_null(strchr(b32, tok[j]));
		assert_int_equal(strlen(tok),
		    8 + ((98 + strlen(addrs[i]) + 4) * 8 + 4) / 5);
		assert_int_equal(kz_mesh_token_decode(&out, tok), 0);
		assert_memory_equal(out.mesh_id, in.mesh_id, 32);
		assert_memory_equal(out.network_key, in.network_key, 32);
		assert_memory_equal(out.root, in.root, 32);
		assert_string_equal(out.address, addrs[i]);
		/* The all-upper-case form (what a QR code carries) is the same. */
		for (j = 0; tok[j]; j++)
			upper[j] = tok[j] >= 'a' && tok[j] <= 'z' ?
			    (char)(tok[j] - 'a' + 'A') : tok[j];
		upper[j] = '\0';
		assert_int_equal(strncmp(upper, "KIZUNA1:", 8), 0);
		kz_mesh_creds_wipe(&out);
		assert_int_equal(kz_mesh_token_decode(&out, upper), 0);
		assert_true(creds_equal(&in, &out));
	}
	/* The longest address (a 100-byte host in brackets) fits
	 * KZ_MESH_TOKEN_MAX exactly. */
	in.address[0] = '[';
	for (j = 1; j <= 100; j++)
		in.address[j] = j % 3 == 0 ? ':' : 'a';
	memcpy(in.address + 101, "]:65535", 8);
	assert_int_equal(strlen(in.address), KZ_MESH_ADDR_MAX);
	assert_int_equal(kz_mesh_token_encode(tok, sizeof(tok), &in), 0);
	assert_int_equal(strlen(tok) + 1, KZ_MESH_TOKEN_MAX);
	assert_int_equal(kz_mesh_token_decode(&out, tok), 0);
	assert_true(creds_equal(&in, &out));
	assert_int_equal(kz_mesh_token_encode(tok, KZ_MESH_TOKEN_MAX - 1, &in),
	    KZ_ERR_INVAL);
	/* A bad address is never encoded. */
	snprintf(in.address, sizeof(in.address), "no-port");
	assert_int_equal(kz_mesh_token_encode(tok, sizeof(tok), &in), KZ_ERR_INVAL);
	kz_mesh_creds_wipe(&in);
	kz_mesh_creds_wipe(&out);
}

/*
 * Every single-character substitution, in every position, by every other
 * byte: refused, or decoded to different credentials.  With the checksum
 * none decodes at all; each is refused for the reason its position gives.
 */
static void
test_token_substitutions(void **state)
{
	static const char *addrs[] = { "127.0.0.1:7420", "" };
	struct kz_mesh_creds in, out;
	char tok[KZ_MESH_TOKEN_MAX], bad[KZ_MESH_TOKEN_MAX];
	size_t a, i, n, tried = 0, same = 0, decoded = 0;
	int c, rc;

	(void)state;
	for (a = 0; a < 2; a++) {
		fill_creds(&in, (uint8_t)(0x21 + a), addrs[a]);
		assert_int_equal(kz_mesh_token_encode(tok, sizeof(tok), &in), 0);
		n = strlen(tok);
		for (i = 0; i < n; i++) {
			for (c = 1; c < 256; c++) {
				if (c == (unsigned char)tok[i])
					continue;
				memcpy(bad, tok, n + 1);
				bad[i] = (char)c;
				rc = kz_mesh_token_decode(&out, bad);
				tried++;
				if (rc == 0) {
					decoded++;
					if (creds_equal(&in, &out))
						same++;
					continue;
				}
				assert_true(all_zero(&out, sizeof(out)));
				if (i >= 8 && strchr(b32, c) != NULL && c != 0) {
					/* Another base32 digit: the checksum, or the
					 * unused bits of the last digit. */
					if (i == n - 1)
						assert_true(rc == KZ_ERR_CORRUPT ||
						    rc == KZ_ERR_MALFORMED);
					else
						assert_int_equal(rc, KZ_ERR_CORRUPT);
				} else if (i >= 8) {
					/* Upper case, or no digit at all. */
					assert_int_equal(rc, KZ_ERR_MALFORMED);
				} else if (i == 6 && c >= '0' && c <= '9') {
					assert_int_equal(rc, KZ_ERR_SCHEMA);
				} else if (i < 6 && c == tok[i] - 'a' + 'A') {
					assert_int_equal(rc, KZ_ERR_MALFORMED);
				} else {
					assert_int_equal(rc, KZ_ERR_INVAL);
				}
			}
		}
	}
	assert_int_equal(same, 0);
	assert_int_equal(decoded, 0);
	assert_true(tried > 2 * 180 * 254);
	kz_mesh_creds_wipe(&in);
}

static void
test_token_truncated(void **state)
{
	struct kz_mesh_creds in, out;
	char tok[KZ_MESH_TOKEN_MAX], cut[KZ_MESH_TOKEN_MAX + 1];
	size_t n, len;
	int rc;

	(void)state;
	fill_creds(&in, 3, "192.168.10.1:7420");
	assert_int_equal(kz_mesh_token_encode(tok, sizeof(tok), &in), 0);
	n = strlen(tok);
	for (len = 0; len < n; len++) {
		memcpy(cut, tok, len);
		cut[len] = '\0';
		rc = kz_mesh_token_decode(&out, cut);
		if (len < 8)
			assert_int_equal(rc, KZ_ERR_INVAL);
		else if ((len - 8) * 5 / 8 < 98 + 4 || (len - 8) * 5 % 8 >= 5)
			assert_int_equal(rc, KZ_ERR_TRUNCATED);
		else
			assert_int_equal(rc, KZ_ERR_CORRUPT);
		assert_true(all_zero(&out, sizeof(out)));
	}
	/* Only the prefix; and the prefix with part of the mesh id. */
	assert_int_equal(kz_mesh_token_decode(&out, "kizuna1:"), KZ_ERR_TRUNCATED);
	memcpy(cut, tok, 40);
	cut[40] = '\0';
	assert_int_equal(kz_mesh_token_decode(&out, cut), KZ_ERR_TRUNCATED);
	/* A character too many is refused as well. */
	memcpy(cut, tok, n);
	cut[n] = 'a';
	cut[n + 1] = '\0';
	rc = kz_mesh_token_decode(&out, cut);
	assert_true(rc == KZ_ERR_TRUNCATED || rc == KZ_ERR_CORRUPT ||
	    rc == KZ_ERR_MALFORMED);
	kz_mesh_creds_wipe(&in);
}

static void
test_token_prefix_and_version(void **state)
{
	struct kz_mesh_creds in, out;
	char tok[KZ_MESH_TOKEN_MAX], bad[KZ_MESH_TOKEN_MAX + 8];
	uint8_t bin[300];
	size_t len;

	(void)state;
	fill_creds(&in, 9, "10.0.0.2:7420");
	assert_int_equal(kz_mesh_token_encode(tok, sizeof(tok), &in), 0);

	assert_int_equal(kz_mesh_token_decode(&out, NULL), KZ_ERR_INVAL);
	assert_int_equal(kz_mesh_token_decode(&out, ""), KZ_ERR_INVAL);
	assert_int_equal(kz_mesh_token_decode(&out, "hello"), KZ_ERR_INVAL);
	/* A bare root key is not a token. */
	assert_int_equal(kz_mesh_token_decode(&out,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
	    KZ_ERR_INVAL);
	snprintf(bad, sizeof(bad), "kizuna:%s", tok + 8);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_INVAL);
	snprintf(bad, sizeof(bad), "kizun1:%s", tok + 8);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_INVAL);
	snprintf(bad, sizeof(bad), "mesh1:%s", tok + 8);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_INVAL);
	snprintf(bad, sizeof(bad), " %s", tok);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_INVAL);
	snprintf(bad, sizeof(bad), "Kizuna1:%s", tok + 8);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_MALFORMED);
	/* Upper-case prefix, lower-case body: mixed case. */
	snprintf(bad, sizeof(bad), "KIZUNA1:%s", tok + 8);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_MALFORMED);
	/* A newer token format, by its prefix. */
	snprintf(bad, sizeof(bad), "kizuna2:%s", tok + 8);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_SCHEMA);
	snprintf(bad, sizeof(bad), "kizuna10:%s", tok + 8);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_SCHEMA);
	/* Padding, spaces or a line break inside are not base32. */
	snprintf(bad, sizeof(bad), "%s====", tok);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_MALFORMED);
	snprintf(bad, sizeof(bad), "%.40s\n%s", tok, tok + 41);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_MALFORMED);

	/* A newer payload version with a valid checksum. */
	len = token_bytes(bin, tok);
	assert_int_equal(len, 98 + strlen(in.address) + 4);
	assert_int_equal(bin[0], 1);
	bin[0] = 2;
	token_of(bad, bin, len, true);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_SCHEMA);
	assert_true(all_zero(&out, sizeof(out)));
	/* The same without fixing the checksum: damaged, not newer. */
	len = token_bytes(bin, tok);
	bin[0] = 2;
	token_of(bad, bin, len, false);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_CORRUPT);
	/* Valid checksum, but the address length disagrees with the size. */
	len = token_bytes(bin, tok);
	bin[97]++;
	token_of(bad, bin, len, true);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_MALFORMED);
	/* Valid checksum, but the address is not HOST:PORT. */
	len = token_bytes(bin, tok);
	bin[98 + strlen(in.address) - 5] = '/';
	token_of(bad, bin, len, true);
	assert_int_equal(kz_mesh_token_decode(&out, bad), KZ_ERR_MALFORMED);
	/* The bytes back unchanged are the token again. */
	len = token_bytes(bin, tok);
	token_of(bad, bin, len, false);
	assert_string_equal(bad, tok);
	assert_int_equal(kz_mesh_token_decode(&out, bad), 0);
	assert_true(creds_equal(&in, &out));

	assert_string_equal(kz_mesh_token_strerror(KZ_ERR_CORRUPT),
	    "token damaged (checksum): a character is wrong; copy it again "
	    "exactly");
	assert_int_equal(strncmp(kz_mesh_token_strerror(KZ_ERR_INVAL),
	    "not a kizuna token", 18), 0);
	assert_int_equal(strncmp(kz_mesh_token_strerror(KZ_ERR_SCHEMA),
	    "unknown token version", 21), 0);
	sodium_memzero(bin, sizeof(bin));
	kz_mesh_creds_wipe(&in);
	kz_mesh_creds_wipe(&out);
}

static void
test_address_check(void **state)
{
	static const char *good[] = {
		"127.0.0.1:7420", "a:1", "host-1.example.org:65535",
		"[::1]:7420", "[2001:db8::1]:80", "[::ffff:192.0.2.1]:9",
		"CITYHALL:7420",
	};
	static const char *badv[] = {
		"", ":7420", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:07420", "127.0.0.1:+80",
		"127.0.0.1:7420 ", " 127.0.0.1:7420", "::1:7420", "[::1]7420",
		"[::1]:", "[]:80", "[zz::1]:80", "-host:80", "host-:80",
		"a..b:80", ".a:80", "a.:80", "ho st:80", "h/st:80", "h_st:80",
		"127.0.0.1:123456",
	};
	char longest[KZ_MESH_ADDR_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(kz_mesh_address_check(good[i]), 0);
	for (i = 0; i < sizeof(badv) / sizeof(badv[0]); i++)
		if (kz_mesh_address_check(badv[i]) != KZ_ERR_INVAL)
			fail_msg("address '%s' accepted", badv[i]);
	assert_int_equal(kz_mesh_address_check(NULL), KZ_ERR_INVAL);
	/* A 100-byte host is the longest. */
	memset(longest, 'h', 100);
	snprintf(longest + 100, sizeof(longest) - 100, ":7420");
	assert_int_equal(kz_mesh_address_check(longest), 0);
	memset(longest, 'h', 101);
	snprintf(longest + 101, sizeof(longest) - 101, ":7420");
	assert_int_equal(kz_mesh_address_check(longest), KZ_ERR_INVAL);
}

static mode_t
mode_of(const char *dir)
{
	char *p = kz_test_path(dir, KZ_MESH_FILE);
	struct stat sb;

	assert_int_equal(stat(p, &sb), 0);
	free(p);
	return sb.st_mode & 0777;
}

static void
write_text(const char *dir, const char *text, mode_t mode)
{
	char *p = kz_test_path(dir, KZ_MESH_FILE);
	FILE *f;

	unlink(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
	free(p);
}

static void
test_file(void **state)
{
	char *dir = kz_test_tmpdir(), *p, text[1024], id[65], key[65], root[65];
	struct kz_mesh_creds in, out;
	FILE *f;
	size_t n;

	(void)state;
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_NOT_FOUND);
	fill_creds(&in, 0x11, "192.0.2.7:7420");
	assert_int_equal(kz_mesh_file_write(dir, &in), 0);
	assert_int_equal(mode_of(dir), 0600);
	assert_int_equal(kz_mesh_file_read(dir, &out), 0);
	assert_true(creds_equal(&in, &out));
	/* Never replaced. */
	fill_creds(&out, 0x55, "");
	assert_int_equal(kz_mesh_file_write(dir, &out), KZ_ERR_EXISTS);
	assert_int_equal(kz_mesh_file_read(dir, &out), 0);
	assert_true(creds_equal(&in, &out));

	/* The file is the documented text. */
	p = kz_test_path(dir, KZ_MESH_FILE);
	f = fopen(p, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	kz_hex(id, in.mesh_id, 32);
	kz_hex(key, in.network_key, 32);
	kz_hex(root, in.root, 32);
	assert_non_null(strstr(text, "\nkizuna-mesh: 1\n"));
	assert_non_null(strstr(text, id));
	assert_non_null(strstr(text, key));
	assert_non_null(strstr(text, root));
	assert_non_null(strstr(text, "\nbootstrap: 192.0.2.7:7420\n"));

	/* Readable by group or others: refused, and nothing leaks out. */
	assert_int_equal(chmod(p, 0644), 0);
	fill_creds(&out, 0x77, "x:1");
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_KEY_PERMS);
	assert_true(all_zero(&out, sizeof(out)));
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_KEY_PERMS);
	assert_int_equal(chmod(p, 0604), 0);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_KEY_PERMS);
	assert_int_equal(chmod(p, 0400), 0);
	assert_int_equal(kz_mesh_file_read(dir, &out), 0);
	assert_true(creds_equal(&in, &out));

	/* Removed, then written again without a bootstrap address. */
	assert_int_equal(kz_mesh_file_remove(dir), 0);
	assert_int_equal(kz_mesh_file_remove(dir), KZ_ERR_NOT_FOUND);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_NOT_FOUND);
	in.address[0] = '\0';
	assert_int_equal(kz_mesh_file_write(dir, &in), 0);
	assert_int_equal(kz_mesh_file_read(dir, &out), 0);
	assert_true(creds_equal(&in, &out));
	assert_string_equal(out.address, "");
	assert_int_equal(kz_mesh_file_remove(dir), 0);
	snprintf(in.address, sizeof(in.address), "bad address");
	assert_int_equal(kz_mesh_file_write(dir, &in), KZ_ERR_INVAL);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_NOT_FOUND);

	/* Files that are not mesh files. */
	snprintf(text, sizeof(text), "kizuna-mesh: 2\nmesh-id: %s\n", id);
	write_text(dir, text, 0600);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_SCHEMA);
	snprintf(text, sizeof(text), "mesh-id: %s\nkizuna-mesh: 1\n"
	    "network-key: %s\nroot: %s\n", id, key, root);
	write_text(dir, text, 0600);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_BAD_KEY);
	snprintf(text, sizeof(text), "kizuna-mesh: 1\nmesh-id: %s\nroot: %s\n",
	    id, root);
	write_text(dir, text, 0600);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_BAD_KEY);
	snprintf(text, sizeof(text), "kizuna-mesh: 1\nmesh-id: %s\n"
	    "network-key: %.63s\nroot: %s\n", id, key, root);
	write_text(dir, text, 0600);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_BAD_KEY);
	snprintf(text, sizeof(text), "kizuna-mesh: 1\nmesh-id: %s\n"
	    "network-key: %s\nroot: %s\nroot: %s\n", id, key, root, root);
	write_text(dir, text, 0600);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_BAD_KEY);
	snprintf(text, sizeof(text), "kizuna-mesh: 1\nmesh-id: %s\n"
	    "network-key: %s\nroot: %s\ncolour: blue\n", id, key, root);
	write_text(dir, text, 0600);
	assert_int_equal(kz_mesh_file_read(dir, &out), KZ_ERR_BAD_KEY);
	assert_true(all_zero(&out, sizeof(out)));
	/* Hand-written, with comments and blank lines: fine. */
	snprintf(text, sizeof(text), "# mine\n\nkizuna-mesh: 1\n# the id\n"
	    "mesh-id: %s\nnetwork-key: %s\nroot: %s\n\n", id, key, root);
	write_text(dir, text, 0600);
	assert_int_equal(kz_mesh_file_read(dir, &out), 0);
	assert_memory_equal(out.mesh_id, in.mesh_id, 32);
	assert_memory_equal(out.network_key, in.network_key, 32);
	assert_memory_equal(out.root, in.root, 32);
	assert_string_equal(out.address, "");

	sodium_memzero(key, sizeof(key));
	sodium_memzero(text, sizeof(text));
	kz_mesh_creds_wipe(&in);
	kz_mesh_creds_wipe(&out);
	free(p);
	kz_test_rmtree(dir);
}

static void
test_wipe_and_fingerprint(void **state)
{
	struct kz_mesh_creds c;
	uint8_t root[32] = { 1, 2, 3 };
	char fp[KZ_MESH_KEY_FP_CHARS + 1], fp2[KZ_MESH_KEY_FP_CHARS + 1];
	char hex[65];

	(void)state;
	fill_creds(&c, 0xa0, "127.0.0.1:7420");
	assert_false(all_zero(&c, sizeof(c)));
	kz_mesh_creds_wipe(&c);
	assert_true(all_zero(&c, sizeof(c)));
	kz_mesh_creds_wipe(NULL);

	/* Fresh credentials: random id and key, the root given, no address. */
	memset(&c, 0xee, sizeof(c));
	assert_int_equal(kz_mesh_creds_new(&c, root), 0);
	assert_memory_equal(c.root, root, 32);
	assert_string_equal(c.address, "");
	assert_false(all_zero(c.network_key, 32));
	assert_false(all_zero(c.mesh_id, 32));
	assert_memory_not_equal(c.mesh_id, c.network_key, 32);
	assert_true(all_zero(c.address, sizeof(c.address)));

	/* The fingerprint: 16 hex digits, stable, not a piece of the key. */
	kz_mesh_key_fingerprint(fp, c.network_key);
	kz_mesh_key_fingerprint(fp2, c.network_key);
	assert_int_equal(strlen(fp), KZ_MESH_KEY_FP_CHARS);
	assert_string_equal(fp, fp2);
	kz_hex(hex, c.network_key, 32);
	assert_null(strstr(hex, fp));
	c.network_key[31] ^= 1;
	kz_mesh_key_fingerprint(fp2, c.network_key);
	assert_string_not_equal(fp, fp2);
	sodium_memzero(hex, sizeof(hex));
	kz_mesh_creds_wipe(&c);
	assert_true(all_zero(&c, sizeof(c)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_round_trip),
		cmocka_unit_test(test_token_substitutions),
		cmocka_unit_test(test_token_truncated),
		cmocka_unit_test(test_token_prefix_and_version),
		cmocka_unit_test(test_address_check),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_wipe_and_fingerprint),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
