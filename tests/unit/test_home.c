/*
 * Node home tests: init creates the key 0600, the public key, the default
 * config and a store; a key readable by group or others is refused; init
 * never replaces a key; the default home follows the environment.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kizuna/config.h"
#include "kizuna/err.h"
#include "kizuna/home.h"
#include "kizuna/store.h"
#include "testutil.h"

static mode_t
mode_of(const char *dir, const char *name)
{
	char *p = kz_test_path(dir, name);
	struct stat sb;

	assert_int_equal(stat(p, &sb), 0);
	free(p);
	return sb.st_mode & 0777;
}

static void
test_init_creates_node(void **state)
{
	char *base = kz_test_tmpdir(), *dir = kz_test_path(base, "a/b/node");
	struct kz_keypair kp, kp2;
	struct kz_config cfg;
	struct kz_store *st = NULL;
	char *p, err[256], pub[80], hex[65];
	FILE *fp;

	(void)state;
	assert_int_equal(kz_home_init(dir, &kp), 0);
	assert_int_equal(mode_of(dir, KZ_HOME_KEY), 0600);
	assert_int_equal(mode_of(dir, "") & 0077, 0);	/* the folder is 0700 */
	/* The key loads back to the same pair. */
	assert_int_equal(kz_home_load_key(dir, &kp2), 0);
	assert_memory_equal(kp.pk, kp2.pk, 32);
	assert_memory_equal(kp.sk, kp2.sk, 64);
	/* node.pub holds the public key in hex. */
	p = kz_test_path(dir, KZ_HOME_PUB);
	fp = fopen(p, "r");
	assert_non_null(fp);
	assert_non_null(fgets(pub, sizeof(pub), fp));
	fclose(fp);
	free(p);
	kz_hex(hex, kp.pk, 32);
	assert_int_equal(strncmp(pub, hex, 64), 0);
	/* The config parses to the defaults, and a store is there. */
	kz_config_defaults(&cfg);
	p = kz_test_path(dir, KZ_HOME_CONF);
	assert_int_equal(kz_config_load(&cfg, p, err, sizeof(err)), 0);
	free(p);
	assert_string_equal(cfg.store_path, "store.db");
	p = kz_test_path(dir, KZ_HOME_DB);
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(kz_store_open(&st, p, NULL), 0);
	assert_int_equal(kz_store_schema_version(st), KZ_STORE_SCHEMA_VERSION);
	kz_store_free(st);
	free(p);
	/* A second init refuses and leaves the key alone. */
	assert_int_equal(kz_home_init(dir, &kp2), KZ_ERR_EXISTS);
	assert_int_equal(kz_home_load_key(dir, &kp2), 0);
	assert_memory_equal(kp.pk, kp2.pk, 32);
	kz_keypair_wipe(&kp);
	kz_keypair_wipe(&kp2);
	free(dir);
	kz_test_rmtree(base);
}

static void
test_key_permissions_refused(void **state)
{
	char *dir = kz_test_tmpdir(), *key = kz_test_path(dir, KZ_HOME_KEY);
	struct kz_keypair kp;
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0666, 0601 };

	(void)state;
	assert_int_equal(kz_home_load_key(dir, &kp), KZ_ERR_NOT_FOUND);
	assert_int_equal(kz_home_init(dir, &kp), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(key, bad[i]), 0);
		assert_int_equal(kz_home_load_key(dir, &kp), KZ_ERR_KEY_PERMS);
	}
	assert_int_equal(chmod(key, 0400), 0);
	assert_int_equal(kz_home_load_key(dir, &kp), 0);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(kz_home_load_key(dir, &kp), 0);
	kz_keypair_wipe(&kp);
	free(key);
	kz_test_rmtree(dir);
}

static void
test_bad_key_file(void **state)
{
	char *dir = kz_test_tmpdir(), *key = kz_test_path(dir, KZ_HOME_KEY);
	struct kz_keypair kp;
	FILE *fp;

	(void)state;
	fp = fopen(key, "w");
	assert_non_null(fp);
	fputs("ed25519-seed: 1234\n", fp);
	fclose(fp);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(kz_home_load_key(dir, &kp), KZ_ERR_BAD_KEY);
	fp = fopen(key, "w");
	fputs("nothing here\n", fp);
	fclose(fp);
	assert_int_equal(kz_home_load_key(dir, &kp), KZ_ERR_BAD_KEY);
	free(key);
	kz_test_rmtree(dir);
}

static void
test_default_home(void **state)
{
	char buf[256];

	(void)state;
	setenv("KIZUNA_HOME", "/srv/kz", 1);
	setenv("XDG_DATA_HOME", "/x", 1);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(kz_home_default(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/kz");
	unsetenv("KIZUNA_HOME");
	assert_int_equal(kz_home_default(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/kizuna");
	unsetenv("XDG_DATA_HOME");
	assert_int_equal(kz_home_default(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/u/.local/share/kizuna");
	unsetenv("HOME");
	assert_int_equal(kz_home_default(buf, sizeof(buf)), KZ_ERR_INVAL);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(kz_home_default(buf, 8), KZ_ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_creates_node),
		cmocka_unit_test(test_key_permissions_refused),
		cmocka_unit_test(test_bad_key_file),
		cmocka_unit_test(test_default_home),
	};

	if (sodium_init() < 0)
		return 1;
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
