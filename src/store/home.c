/*
 * Node home folders and key files.  The secret key file is created 0600
 * with O_EXCL (never overwriting a key), written and fsynced before the
 * folder is; it is refused when group or others may read it, as ssh does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "kizuna/config.h"
#include "kizuna/err.h"
#include "kizuna/home.h"
#include "kizuna/store.h"
#include "kizuna/util.h"
#include "store/store_int.h"

#define KEY_PREFIX "ed25519-seed: "

int
kz_home_default(char *buf, size_t len)
{
	const char *v;
	int n;

	if ((v = getenv("KIZUNA_HOME")) != NULL && *v)
		n = snprintf(buf, len, "%s", v);
	else if ((v = getenv("XDG_DATA_HOME")) != NULL && *v)
		n = snprintf(buf, len, "%s/kizuna", v);
	else if ((v = getenv("HOME")) != NULL && *v)
		n = snprintf(buf, len, "%s/.local/share/kizuna", v);
	else
		return KZ_ERR_INVAL;
	return n < 0 || (size_t)n >= len ? KZ_ERR_INVAL : 0;
}

int
kz_home_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? KZ_ERR_INVAL : 0;
}

/* mkdir -p with mode 0700 for what it creates. */
static int
mkdirs(const char *dir)
{
	char buf[4096];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return KZ_ERR_INVAL;
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return KZ_ERR_IO;
		buf[i] = dir[i];
	}
	return 0;
}

int
kz__file_create(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text), off = 0;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == EEXIST ? KZ_ERR_EXISTS : KZ_ERR_IO;
	if (fchmod(fd, mode) < 0)
		rc = KZ_ERR_IO;
	while (rc == 0 && off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = errno == ENOSPC ? KZ_ERR_FULL : KZ_ERR_IO;
		else
			off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = KZ_ERR_IO;
	if (close(fd) < 0 && rc == 0)
		rc = KZ_ERR_IO;
	if (rc < 0) {
		int saved = errno;
		unlink(path);
		errno = saved;
	}
	return rc;
}

void
kz__fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int
kz_home_init(const char *dir, struct kz_keypair *kp)
{
	char path[4096], text[256], hex[2 * KZ_SEED_BYTES + 1];
	uint8_t seed[KZ_SEED_BYTES];
	struct kz_store *st = NULL;
	char *conf = NULL;
	int rc;

	if ((rc = mkdirs(dir)) < 0)
		return rc;
	if ((rc = kz_home_path(path, sizeof(path), dir, KZ_HOME_KEY)) < 0)
		return rc;
	if (access(path, F_OK) == 0)
		return KZ_ERR_EXISTS;
	if ((rc = kz_keypair_generate(kp)) < 0)
		return rc;

	kz_keypair_seed(seed, kp);
	kz_hex(hex, seed, sizeof(seed));
	snprintf(text, sizeof(text),
	    "# kizuna node secret key: keep private (mode 0600), back up offline.\n"
	    KEY_PREFIX "%s\n", hex);
	rc = kz__file_create(path, text, 0600);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(text, sizeof(text));
	if (rc < 0)
		goto fail;

	kz_hex(hex, kp->pk, KZ_PK_BYTES);
	snprintf(text, sizeof(text), "%s\n", hex);
	if ((rc = kz_home_path(path, sizeof(path), dir, KZ_HOME_PUB)) < 0 ||
	    (rc = kz__file_create(path, text, 0644)) < 0)
		goto fail;

	if ((rc = kz_home_path(path, sizeof(path), dir, KZ_HOME_CONF)) < 0)
		goto fail;
	if (access(path, F_OK) != 0) {
		if ((rc = kz_config_default_text(&conf)) < 0 ||
		    (rc = kz__file_create(path, conf, 0644)) < 0)
			goto fail;
	}

	if ((rc = kz_home_path(path, sizeof(path), dir, KZ_HOME_DB)) < 0 ||
	    (rc = kz_store_open(&st, path, NULL)) < 0)
		goto fail;
	kz__fsync_dir(dir);
	rc = 0;
	goto out;
fail:
	kz_keypair_wipe(kp);
out:
	kz_store_free(st);
	free(conf);
	return rc;
}

int
kz__secret_read(const char *path, char *buf, size_t cap)
{
	struct stat sb;
	size_t len = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KZ_ERR_NOT_FOUND : KZ_ERR_IO;
	if (fstat(fd, &sb) < 0)
		rc = KZ_ERR_IO;
	else if (!S_ISREG(sb.st_mode))
		rc = KZ_ERR_BAD_KEY;
	else if ((sb.st_mode & 077) != 0)
		rc = KZ_ERR_KEY_PERMS;
	while (rc == 0) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = KZ_ERR_IO;
		else if (r == 0)
			break;
		else if ((len += (size_t)r) == cap - 1)
			rc = KZ_ERR_BAD_KEY;	/* larger than any key file */
	}
	close(fd);
	buf[len] = '\0';
	if (rc == 0 && strlen(buf) != len)
		rc = KZ_ERR_BAD_KEY;
	if (rc < 0)
		sodium_memzero(buf, cap);
	return rc;
}

int
kz_home_load_key(const char *dir, struct kz_keypair *kp)
{
	char path[4096], buf[512], *line, *save = NULL;
	uint8_t seed[KZ_SEED_BYTES];
	int rc;

	if ((rc = kz_home_path(path, sizeof(path), dir, KZ_HOME_KEY)) < 0)
		return rc;
	if ((rc = kz__secret_read(path, buf, sizeof(buf))) < 0)
		return rc;
	rc = KZ_ERR_BAD_KEY;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, KEY_PREFIX, strlen(KEY_PREFIX)) != 0)
			continue;
		if (kz_unhex(seed, sizeof(seed), line + strlen(KEY_PREFIX)) == 0)
			rc = kz_keypair_from_seed(kp, seed);
		break;
	}
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(buf, sizeof(buf));
	return rc;
}
