/*
 * kz-fill HOME CHANNEL USER N: writes N posts by USER to CHANNEL straight
 * into HOME's store with the library (no daemon may run on HOME), 100
 * appends per transaction as a busy node's groups are (the last entry of
 * each group is signed).  Each text is "bulk I " followed by ~200 bytes of
 * Japanese filler.  Prints one line of JSON: the posts written, every entry
 * the store then holds and their op bytes.  For tests/integration/chain.sh:
 * a backlog large enough that a catch-up can be cut off half-way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/home.h"
#include "kizuna/keys.h"
#include "kizuna/op.h"
#include "kizuna/store.h"
#include "kizuna/views.h"

#define GROUP 100

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
sum_op_bytes(void *ctx, const struct kz_entry_view *e)
{
	*(uint64_t *)ctx += e->op_len;
	return 0;
}

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "kz-fill: %s: %s\n", what, kz_strerror(rc));
	return 1;
}

int
main(int argc, char **argv)
{
	static const char filler[] =
	    "避難所の給水車は午後に到着予定、停電は駅前から順に復旧、"
	    "道路は川沿いの区間が通行止めのまま、各支所は毎時に報告。";
	char path[4096], text[512];
	uint8_t channel[KZ_ID_BYTES];
	struct kz_store *st = NULL;
	struct kz_store_stats stats;
	struct kz_keypair kp;
	uint64_t n, i, op_bytes = 0;
	int rc, ret = 1;

	if (argc != 5 || (n = strtoull(argv[4], NULL, 10)) == 0) {
		fprintf(stderr, "usage: kz-fill HOME CHANNEL USER N\n");
		return 2;
	}
	memset(&kp, 0, sizeof(kp));
	snprintf(path, sizeof(path), "%s/%s", argv[1], KZ_HOME_DB);
	if ((rc = kz_home_load_key(argv[1], &kp)) < 0)
		return fail("load the node key", rc);
	if ((rc = kz_store_open(&st, path, NULL)) < 0) {
		ret = fail("open the store", rc);
		goto out;
	}
	if ((rc = kz_views_channel_find(st, argv[2], channel)) < 0) {
		ret = fail("find the channel", rc);
		goto out;
	}
	for (i = 0; i < n;) {
		uint64_t end = i + GROUP < n ? i + GROUP : n;

		if ((rc = kz_store_begin(st)) < 0) {
			ret = fail("begin", rc);
			goto out;
		}
		for (; i < end; i++) {
			struct kz_op o;
			uint8_t *op = NULL;
			size_t len;

			snprintf(text, sizeof(text), "bulk %llu %s",
			    (unsigned long long)i + 1, filler);
			memset(&o, 0, sizeof(o));
			o.type = KZ_OP_POST;
			o.actor = argv[3];
			o.u.post.channel = channel;
			o.u.post.text = text;
			o.u.post.priority = KZ_PRIO_NORMAL;
			if ((rc = kz_op_encode(&op, &len, &o)) < 0) {
				kz_store_rollback(st);
				ret = fail("encode a post", rc);
				goto out;
			}
			rc = kz_store_append(st, &kp, wall_ms(), op, len, NULL);
			free(op);
			if (rc < 0) {
				kz_store_rollback(st);
				ret = fail("append", rc);
				goto out;
			}
		}
		if ((rc = kz_store_commit(st)) < 0) {
			ret = fail("commit", rc);
			goto out;
		}
	}
	if ((rc = kz_store_stats(st, &stats)) < 0 ||
	    (rc = kz_store_log(st, sum_op_bytes, &op_bytes)) < 0) {
		ret = fail("read the store", rc);
		goto out;
	}
	printf("{\"posts\":%llu,\"entries\":%llu,\"op_bytes\":%llu}\n",
	    (unsigned long long)n, (unsigned long long)stats.entries,
	    (unsigned long long)op_bytes);
	ret = 0;
out:
	kz_store_free(st);
	kz_keypair_wipe(&kp);
	return ret;
}
