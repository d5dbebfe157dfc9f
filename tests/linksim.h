/*
 * linksim: a simulated datagram link between two ends (0 and 1), pure and
 * deterministic from a seed, for the ARQ tests, the mesh simulator and
 * benchmarks.  Time is the caller's clock in ms; inside, the air is timed
 * in µs so that fast links do not round to nothing.
 *
 * Each end has a modem with a queue.  A frame handed to linksim_send joins
 * the queue; when the modem is idle it keys up (on a half-duplex channel
 * with CSMA: once it senses no carrier, with probability (persist+1)/256
 * per slot_ms), sends txdelay_ms of preamble, then every queued frame back
 * to back, each (len + frame_overhead) / bytes_per_s long, frames queued
 * meanwhile included, then txtail_ms, and keys down: one transmission, as a
 * KISS TNC does.  A frame is delivered latency_ms after its end on air,
 * unless:
 *
 *   - half duplex: the receiving end was transmitting during any part of it
 *     (it is deaf while keyed, and two overlapping transmissions destroy
 *     each other): collided;
 *   - it is lost: independently with probability loss, and with ge_loss
 *     while the direction's Gilbert–Elliott chain is in its bad state (it
 *     enters with ge_enter per frame, leaves with ge_leave per frame).
 *
 * A delivered frame may be corrupted (1 to 3 bits flipped), truncated (a
 * random shorter length, as a TNC that cuts frames does), duplicated (a
 * second copy a little later) or delayed by reorder_ms (later frames
 * overtake it).  A modem given more than queue_max frames drops the excess;
 * frames longer than frame_max are cut to it.
 *
 *   IDLE ─send─▶ WAIT ─clear channel, persist draw─▶ PREAMBLE ─txdelay─▶
 *   FRAME ─(next queued frame)─▶ FRAME ─(queue empty)─▶ TAIL ─txtail─▶ IDLE
 */
#ifndef KZ_TESTS_LINKSIM_H
#define KZ_TESTS_LINKSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kz_arq;
struct linksim;

struct linksim_params {
	uint32_t bytes_per_s;		/* on air; 0 = frames take no time */
	uint32_t frame_overhead;	/* bytes each frame adds on air */
	uint32_t txdelay_ms, txtail_ms;	/* per transmission */
	uint32_t latency_ms;		/* end on air to delivery */
	bool half_duplex;		/* one shared channel */
	bool csma;			/* half duplex: carrier sense */
	uint32_t slot_ms, dcd_ms;	/* CSMA slot; carrier sensed this long
					   after a transmission starts */
	uint8_t persist;		/* p = (persist + 1) / 256 per slot */
	double loss;			/* per frame */
	double ge_enter, ge_leave, ge_loss;	/* Gilbert–Elliott burst loss */
	double corrupt, truncate, dup, reorder;
	uint32_t reorder_ms;
	size_t queue_max;		/* modem queue, frames (0: no limit) */
	size_t frame_max;		/* longer frames are cut (0: no limit) */
};

/* Per end, as the sender of its frames. */
struct linksim_stats {
	uint64_t sent;			/* frames handed to linksim_send */
	uint64_t delivered;		/* copies handed to the other end */
	uint64_t lost, collided, corrupted, truncated, duplicated, reordered;
	uint64_t queue_drops, cut;	/* queue_max, frame_max */
	uint64_t transmissions;		/* key-ups */
	uint64_t air_us;		/* time keyed, preamble and tail too */
	uint64_t bytes_on_air;		/* frame bytes incl. frame_overhead */
	size_t max_queue;		/* most frames waiting in the modem */
};

/* Returns 0 or -1 (out of memory).  *p is copied. */
int linksim_new(struct linksim **out, const struct linksim_params *p,
    uint64_t seed);
void linksim_free(struct linksim *ls);

/* The parameters in force, to change faults mid-run (e.g. loss = 1). */
struct linksim_params *linksim_params(struct linksim *ls);

/* Queues a copy of a frame at end's modem at now_ms (not earlier than any
 * time given before).  Returns 0 or -1 (out of memory). */
int linksim_send(struct linksim *ls, int end, const uint8_t *frame,
    size_t len, uint64_t now_ms);

/* The next frame delivered to end by now_ms: 1 with it in buf (cap bytes,
 * longer frames are cut) and *len, or 0 when none. */
int linksim_recv(struct linksim *ls, int end, uint64_t now_ms, uint8_t *buf,
    size_t cap, size_t *len);

/* When something next happens on the link (ms), UINT64_MAX if nothing. */
uint64_t linksim_next_event(const struct linksim *ls);

/* Frames queued or on air or on their way. */
bool linksim_busy(const struct linksim *ls);

void linksim_get_stats(const struct linksim *ls, int end,
    struct linksim_stats *out);

/*
 * Two kz_arq ends over a linksim, driven by an event loop that jumps the
 * clock from one event to the next (a delivery, a modem event, an end's
 * kz_arq_next_event, the step's wake time).  At each time it delivers the
 * due frames (kz_arq_input), calls step, then hands down what each end's
 * kz_arq_output gives until it returns 1.
 */
struct linksim_pair {
	struct linksim *ls;
	struct kz_arq *arq[2];
	uint64_t now;			/* ms; the run starts here */
	/* The application: write, read, check.  Returns nonzero to stop;
	 * may set *wake to a time it must be called at again. */
	int (*step)(void *ctx, struct linksim_pair *p, uint64_t *wake);
	/* Sees every frame an end hands down (NULL: none). */
	void (*tap_out)(void *ctx, int end, const uint8_t *frame, size_t len,
	    uint64_t now);
	/* Sees every frame delivered to an end (NULL: none). */
	void (*tap_in)(void *ctx, int end, const uint8_t *frame, size_t len,
	    uint64_t now);
	void *ctx;
	uint64_t steps;			/* iterations so far */
};

/* Runs until step returns nonzero (returns 1) or the clock would pass
 * until_ms (returns 0, now = until_ms); -1 if the clock stood still
 * (an end keeps saying "now" without sending: a bug). */
int linksim_run(struct linksim_pair *p, uint64_t until_ms);

#endif
