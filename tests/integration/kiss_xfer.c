/*
 * kz-kiss-xfer: two KISS ports (kz_radio over TCP) to two stations of the
 * shared Direwolf rig; N frames A->B, then N frames B->A, each payload
 * checked byte for byte and in order.  Run by kiss_direwolf.sh.
 *
 *   kz-kiss-xfer tcp:127.0.0.1:9501 tcp:127.0.0.1:9502 [N]
 *
 * Exits 0 when every frame arrived exactly, 1 otherwise (each failure is
 * printed), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/radio.h"
#include "kizuna/err.h"

#define MAX_N 100
#define SETTLE_MS 1500		/* Direwolf looks for new clients once a second */
#define WAIT_MS 30000

struct side {
	const char *name;
	struct kz_radio *r;
	bool up, closed;
	size_t n_in;
	size_t bad;
	uint64_t first_in_ms, last_in_ms;
};

static uv_loop_t loop;
static struct side A = { .name = "A" }, B = { .name = "B" };
static uint8_t payload[2][MAX_N][200];
static size_t plen[2][MAX_N];
static size_t n_frames = 20;
static int dir;			/* 0: A->B, 1: B->A */
static uv_timer_t timer;
static int failures;
static uint64_t t_send;

static void
on_frame(void *arg, const uint8_t *p, size_t len)
{
	struct side *s = arg;
	int d = s == &B ? 0 : 1;
	size_t i = s->n_in++;

	s->last_in_ms = uv_now(&loop);
	if (i == 0)
		s->first_in_ms = s->last_in_ms;
	if (d != dir || i >= n_frames || len != plen[d][i] ||
	    memcmp(p, payload[d][i], len) != 0) {
		fprintf(stderr, "FAIL: %s received frame %zu (%zu bytes) not as "
		    "sent\n", s->name, i, len);
		s->bad++;
		failures++;
	}
	if (s->n_in == n_frames)
		uv_stop(&loop);
}

static void
on_state(void *arg, bool up, const char *why)
{
	struct side *s = arg;

	s->up = up;
	printf("%s %s: %s\n", s->name, up ? "up" : "down", why);
	if (A.up && B.up)
		uv_stop(&loop);
}

static void
on_timer(uv_timer_t *t)
{
	(void)t;
	uv_stop(&loop);
}

static void
on_closed(void *arg)
{
	((struct side *)arg)->closed = true;
}

static void
wait_ms(uint64_t ms)
{
	uv_timer_start(&timer, on_timer, ms, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_timer_stop(&timer);
}

static struct kz_radio_opts
opts(const char *dev, const char *me, const char *peer)
{
	struct kz_radio_opts o;

	kz_radio_opts_default(&o);
	o.device = dev;
	snprintf(o.mycall, sizeof(o.mycall), "%s", me);
	snprintf(o.peercall, sizeof(o.peercall), "%s", peer);
	/* The rig's "tuned" values, but p-persistence kept (README). */
	o.txdelay_ms = 100;
	o.txtail_ms = 20;
	o.slottime_ms = 10;
	o.persist = 63;
	return o;
}

static void
transfer(struct side *from, struct side *to, int d)
{
	size_t i;
	int rc;

	dir = d;
	t_send = uv_now(&loop);
	for (i = 0; i < n_frames; i++)
		if ((rc = kz_radio_send(from->r, payload[d][i], plen[d][i])) < 0) {
			fprintf(stderr, "FAIL: send %zu: %s\n", i, kz_strerror(rc));
			failures++;
		}
	uv_timer_start(&timer, on_timer, WAIT_MS, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_timer_stop(&timer);
	if (to->n_in != n_frames) {
		fprintf(stderr, "FAIL: %s->%s: %zu of %zu frames arrived\n",
		    from->name, to->name, to->n_in, n_frames);
		failures++;
	}
	printf("%s->%s: %zu of %zu frames intact; first after %.2f s, last "
	    "after %.2f s\n", from->name, to->name, to->n_in - to->bad, n_frames,
	    to->n_in ? (double)(to->first_in_ms - t_send) / 1e3 : 0.0,
	    to->n_in ? (double)(to->last_in_ms - t_send) / 1e3 : 0.0);
}

int
main(int argc, char **argv)
{
	struct kz_radio_opts oa, ob;
	struct kz_radio_stats sa, sb;
	uint64_t rng = 77;
	size_t d, i, k;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: kz-kiss-xfer DEVICE_A DEVICE_B [N]\n");
		return 2;
	}
	if (argc == 4)
		n_frames = strtoul(argv[3], NULL, 10);
	if (n_frames == 0 || n_frames > MAX_N) {
		fprintf(stderr, "kz-kiss-xfer: N is 1 to %d\n", MAX_N);
		return 2;
	}
	for (d = 0; d < 2; d++)
		for (i = 0; i < n_frames; i++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			plen[d][i] = 20 + rng % 181;
			for (k = 0; k < plen[d][i]; k++) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				payload[d][i][k] = k % 7 == 3 ? 0xC0 : (uint8_t)rng;
			}
			payload[d][i][0] = (uint8_t)d;
			payload[d][i][1] = (uint8_t)i;
		}
	uv_loop_init(&loop);
	uv_timer_init(&loop, &timer);
	oa = opts(argv[1], "JA1ABC-1", "JA1XYZ-2");
	ob = opts(argv[2], "JA1XYZ-2", "JA1ABC-1");
	if (kz_radio_open(&loop, &A.r, &oa, on_frame, on_state, &A) < 0 ||
	    kz_radio_open(&loop, &B.r, &ob, on_frame, on_state, &B) < 0) {
		fprintf(stderr, "FAIL: kz_radio_open\n");
		return 1;
	}
	uv_timer_start(&timer, on_timer, 10000, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_timer_stop(&timer);
	if (!A.up || !B.up) {
		fprintf(stderr, "FAIL: the ports did not come up\n");
		failures++;
	} else {
		wait_ms(SETTLE_MS);
		transfer(&A, &B, 0);
		transfer(&B, &A, 1);
	}
	kz_radio_get_stats(A.r, &sa);
	kz_radio_get_stats(B.r, &sb);
	printf("A: out %llu frames %llu bytes, in %llu frames; B: out %llu "
	    "frames, in %llu frames %llu bytes; dropped at B: %llu bad header, "
	    "%llu not for us, %llu other port, %llu commands\n",
	    (unsigned long long)sa.frames_out, (unsigned long long)sa.bytes_out,
	    (unsigned long long)sa.frames_in, (unsigned long long)sb.frames_out,
	    (unsigned long long)sb.frames_in, (unsigned long long)sb.bytes_in,
	    (unsigned long long)sb.bad_header, (unsigned long long)sb.not_for_us,
	    (unsigned long long)sb.other_port, (unsigned long long)sb.non_data);
	kz_radio_close(A.r, on_closed);
	kz_radio_close(B.r, on_closed);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (!A.closed || !B.closed || uv_loop_close(&loop) != 0) {
		fprintf(stderr, "FAIL: the ports did not close cleanly\n");
		failures++;
	}
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
