/*
 * A secure link over the reliable link layer (kizuna/rlink.h).
 *
 * Transitions:
 *   kz_rlink_new      both halves made; an initiator's first handshake
 *                     message waits in the secure link
 *   kz_rlink_input    frame → ARQ; every in-order stream byte → secure link
 *   kz_rlink_output   pump: while the ARQ holds fewer than lead stream
 *                     bytes unacknowledged, one more piece of the secure
 *                     link's output goes in; then the ARQ's next frame
 *   ended             ARQ down, or secure link CLOSED with nothing of it
 *                     left to send or unacknowledged
 */
#include <stdlib.h>
#include <string.h>

#include "kizuna/err.h"
#include "kizuna/rlink.h"

#define READ_CHUNK 4096

struct kz_rlink {
	struct kz_link *link;
	struct kz_arq *arq;
	size_t lead;
	uint8_t *pend;			/* secure-link bytes not yet in the ARQ */
	size_t pend_len, pend_off;
	uint64_t written;		/* stream bytes given to the ARQ */
};

void
kz_rlink_opts_radio(struct kz_rlink_opts *o, uint32_t bit_rate)
{
	memset(o, 0, sizeof(*o));
	kz_arq_opts_radio(&o->arq, bit_rate);
	o->link.compress = KZ_COMPRESS_DICT;
	o->link.level = KZ_LINK_LEVEL_RADIO;
	o->link.send_chunk = 1;
	kz_sync_opts_slow_link(&o->link.sync);
}

int
kz_rlink_new(struct kz_rlink **out, const struct kz_rlink_opts *o,
    uint64_t now_ms)
{
	struct kz_rlink *r;
	int rc;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return KZ_ERR_NOMEM;
	r->lead = o->lead;
	if (r->lead == 0)
		r->lead = (o->arq.mtu - KZ_ARQ_OVERHEAD) *
		    (o->arq.burst > 0 ? o->arq.burst : 1);
	if ((rc = kz_arq_new(&r->arq, &o->arq, now_ms)) < 0 ||
	    (rc = kz_link_new(&r->link, &o->link)) < 0) {
		kz_rlink_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void
kz_rlink_free(struct kz_rlink *r)
{
	if (r == NULL)
		return;
	kz_link_free(r->link);
	kz_arq_free(r->arq);
	free(r->pend);
	free(r);
}

int
kz_rlink_input(struct kz_rlink *r, const uint8_t *frame, size_t len,
    uint64_t now_ms)
{
	uint8_t buf[READ_CHUNK];
	size_t n;
	int rc = 0;

	kz_arq_input(r->arq, frame, len, now_ms);
	while ((n = kz_arq_read(r->arq, buf, sizeof(buf))) > 0) {
		if (kz_link_state(r->link) == KZ_LINK_CLOSED)
			continue;	/* drained and dropped: the session is over */
		rc = kz_link_recv(r->link, buf, n);
		if (rc < 0 && kz_link_state(r->link) == KZ_LINK_CLOSED)
			break;
	}
	return rc;
}

/* Stream bytes in the ARQ that the peer has not acknowledged. */
static uint64_t
in_flight(const struct kz_rlink *r)
{
	struct kz_arq_stats st;

	kz_arq_get_stats(r->arq, &st);
	return r->written - st.stream_out;
}

/* Moves the secure link's output into the ARQ while it holds less than
 * lead.  Returns 0 or the secure link's error. */
static int
pump(struct kz_rlink *r, uint64_t now_ms)
{
	while (!kz_arq_down(r->arq)) {
		size_t room, took;

		if (r->pend_off == r->pend_len) {
			uint8_t *p;
			size_t n;
			int rc;

			if (in_flight(r) >= r->lead)
				return 0;
			rc = kz_link_send(r->link, &p, &n);
			if (rc == 1)
				return 0;
			if (rc < 0)
				return rc;
			free(r->pend);
			r->pend = p;
			r->pend_len = n;
			r->pend_off = 0;
		}
		room = r->pend_len - r->pend_off;
		took = kz_arq_write(r->arq, r->pend + r->pend_off, room, now_ms);
		r->pend_off += took;
		r->written += took;
		if (took < room)
			return 0;	/* the ARQ's buffer is full */
	}
	return 0;
}

int
kz_rlink_output(struct kz_rlink *r, uint64_t now_ms, uint8_t *frame,
    size_t *len)
{
	int rc = pump(r, now_ms);

	if (rc < 0)
		return rc;
	return kz_arq_output(r->arq, now_ms, frame, len);
}

uint64_t
kz_rlink_next_event(const struct kz_rlink *r, uint64_t now_ms)
{
	uint64_t at = kz_arq_next_event(r->arq, now_ms), wake;

	if (kz_arq_down(r->arq))
		return at;
	/* Bytes waiting above an ARQ with room: the pump has work now. */
	if (r->pend_off < r->pend_len && in_flight(r) < r->lead)
		return now_ms;
	/* Live runs held back by the sync session (batching). */
	if (kz_link_wake(r->link, &wake) && wake < at)
		at = wake;
	return at;
}

bool
kz_rlink_ended(const struct kz_rlink *r)
{
	if (kz_arq_down(r->arq))
		return true;
	return kz_link_state(r->link) == KZ_LINK_CLOSED &&
	    r->pend_off == r->pend_len && kz_arq_idle(r->arq);
}

const char *
kz_rlink_reason(const struct kz_rlink *r)
{
	if (kz_arq_down(r->arq))
		return kz_arq_reason(r->arq);
	return kz_link_reason(r->link);
}

struct kz_link *
kz_rlink_link(struct kz_rlink *r)
{
	return r->link;
}

struct kz_arq *
kz_rlink_arq(struct kz_rlink *r)
{
	return r->arq;
}
