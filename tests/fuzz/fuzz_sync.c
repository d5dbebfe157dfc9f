/*
 * Fuzz target: the sync protocol session (kz_sync_receive), as node 1 on
 * the store of kzf_store_b(), admitting every feed but node 2's.
 *
 * Input: frames of  length u16 (big-endian) | SyncMsg bytes, as the peer
 * sends them.  The session starts with kz_sync_start; after each frame
 * every frame it wants to send is drained with kz_sync_next.  The seeds
 * are the frames a real peer (kzf_store_a) sent in recorded sessions.
 *
 * Invariants:
 *  - receive returns only its documented codes; a malformed or oversized
 *    frame closes the session; CLOSED is final and a closed session
 *    refuses further frames;
 *  - every frame the session sends is a SyncMsg within KZ_SYNC_FRAME_MAX,
 *    and every run it sends decodes and is of an admitted feed;
 *  - at the end kz_store_verify finds every stored entry intact.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kizuna.pb-c.h"
#include "kizuna/entry.h"
#include "kizuna/err.h"
#include "kizuna/sync.h"

#define MAX_DRAIN 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_out_frame(const uint8_t *f, size_t len)
{
	Kizuna__SyncMsg *m;

	KZF_CHECK(len <= KZ_SYNC_FRAME_MAX, "sync: %zu-byte frame sent", len);
	m = kizuna__sync_msg__unpack(NULL, len, f);
	KZF_CHECK(m != NULL, "sync: a frame sent does not unpack");
	KZF_CHECK(m->body_case != KIZUNA__SYNC_MSG__BODY__NOT_SET,
	    "sync: an empty frame sent");
	if (m->body_case == KIZUNA__SYNC_MSG__BODY_RUN) {
		struct kz_run *run = NULL;
		int rc = kz_run_decode(&run, m->run.data, m->run.len);

		KZF_CHECK(rc == 0, "sync: a run sent does not decode: %s",
		    kz_errname(rc));
		KZF_CHECK(kzf_accept_feed(NULL, run->author),
		    "sync: a run of a refused feed was sent");
		kz_run_free(run);
	}
	if (m->body_case == KIZUNA__SYNC_MSG__BODY_VECTOR) {
		size_t i;

		for (i = 0; i < m->vector->n_feeds; i++)
			KZF_CHECK(kzf_accept_feed(NULL, m->vector->feeds[i]->feed.data),
			    "sync: a refused feed in the vector sent");
	}
	kizuna__sync_msg__free_unpacked(m, NULL);
}

/* Sends what the session has to send; returns the frames drained. */
static int
drain(struct kz_sync *s)
{
	int n;

	for (n = 0; n < MAX_DRAIN; n++) {
		uint8_t *f = NULL;
		size_t len = 0;
		int rc = kz_sync_next(s, &f, &len);

		if (rc == 1) {
			KZF_CHECK(f == NULL, "sync: frame with nothing to send");
			break;
		}
		KZF_CHECK(rc == 0, "sync: next: %s", kz_errname(rc));
		check_out_frame(f, len);
		free(f);
	}
	return n;
}

static int grew_calls;

static void
on_grew(void *ctx, const uint8_t feed[32])
{
	(void)ctx;
	KZF_CHECK(kzf_accept_feed(NULL, feed), "sync: a refused feed grew");
	grew_calls++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kzf_in in = { data, size };
	struct kz_store *st = kzf_store_b();
	struct kz_sync_opts o;
	struct kz_sync *s = NULL;
	struct kz_sync_stats stats;
	int rc;

	grew_calls = 0;
	kzf_sync_opts(&o);
	o.feed_grew = on_grew;
	rc = kz_sync_new(&s, st, kzf_node(1)->pk, &o);
	KZF_CHECK(rc == 0, "sync: new: %s", kz_errname(rc));
	rc = kz_sync_start(s);
	KZF_CHECK(rc == 0, "sync: start: %s", kz_errname(rc));
	drain(s);
	while (in.n >= 2) {
		size_t len = kzf_u16(&in), got;
		const uint8_t *f = kzf_take(&in, len, &got);
		enum kz_sync_state before = kz_sync_state(s);

		rc = kz_sync_receive(s, f, got);
		kzf_debug("sync: frame of %zu bytes: %d, state %d", got, rc,
		    (int)kz_sync_state(s));
		if (before == KZ_SYNC_CLOSED) {
			KZF_CHECK(rc == KZ_ERR_INVAL, "sync: a closed session "
			    "took a frame (%s)", kz_errname(rc));
			KZF_CHECK(kz_sync_state(s) == KZ_SYNC_CLOSED,
			    "sync: CLOSED is not final");
			continue;
		}
		KZF_CHECK(rc == 0 || rc == KZ_ERR_MALFORMED ||
		    rc == KZ_ERR_TOO_BIG || rc == KZ_ERR_NOMEM,
		    "sync: receive: unexpected %s", kz_errname(rc));
		if (rc == KZ_ERR_MALFORMED || rc == KZ_ERR_TOO_BIG) {
			KZF_CHECK(kz_sync_state(s) == KZ_SYNC_CLOSED,
			    "sync: %s did not close the session", kz_errname(rc));
			KZF_CHECK(kz_sync_reason(s)[0] != '\0',
			    "sync: closed by a bad frame without a reason");
		}
		drain(s);
		if (rc == 0 && kz_sync_state(s) != KZ_SYNC_CLOSED &&
		    kz_sync_state(s) != KZ_SYNC_HELLO)
			KZF_CHECK(kz_sync_peer(s) != NULL, "sync: past HELLO "
			    "without a peer");
		/* Now and then the node's own feed grows under the session. */
		if (got > 0 && (f[0] & 0x40) && kz_sync_state(s) == KZ_SYNC_LIVE)
			kz_sync_feed_grew(s, kzf_node(1)->pk);
	}
	if (kz_sync_state(s) != KZ_SYNC_CLOSED) {
		rc = kz_sync_bye(s, "fuzz done");
		KZF_CHECK(rc == 0, "sync: bye: %s", kz_errname(rc));
		KZF_CHECK(kz_sync_state(s) == KZ_SYNC_CLOSED, "sync: bye");
		KZF_CHECK(drain(s) >= 1, "sync: no Bye sent");
	}
	kz_sync_get_stats(s, &stats);
	kzf_debug("sync: reason '%s', frames in %llu out %llu, entries in %llu "
	    "out %llu, runs rejected %llu", kz_sync_reason(s),
	    (unsigned long long)stats.frames_in, (unsigned long long)stats.frames_out,
	    (unsigned long long)stats.entries_in,
	    (unsigned long long)stats.entries_out,
	    (unsigned long long)stats.runs_rejected);
	KZF_CHECK(stats.entries_in == 0 || grew_calls > 0,
	    "sync: entries stored but feed_grew never called");
	kz_sync_free(s);
	kzf_check_store(st, "sync");
	kz_store_free(st);
	return 0;
}
