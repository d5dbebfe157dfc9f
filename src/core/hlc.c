/* Hybrid logical clock arithmetic (see kizuna/hlc.h for the encoding). */
#include "kizuna/hlc.h"

uint64_t
kz_hlc_next(uint64_t last, uint64_t wall_ms)
{
	uint64_t wall = wall_ms << KZ_HLC_COUNTER_BITS;

	/* A counter overflow carries into the milliseconds: still monotonic. */
	return wall > last ? wall : last + 1;
}

uint64_t
kz_hlc_observe(uint64_t last, uint64_t received)
{
	return received > last ? received : last;
}

uint64_t
kz_hlc_ms(uint64_t hlc)
{
	return hlc >> KZ_HLC_COUNTER_BITS;
}

uint32_t
kz_hlc_counter(uint64_t hlc)
{
	return (uint32_t)(hlc & ((1u << KZ_HLC_COUNTER_BITS) - 1));
}
