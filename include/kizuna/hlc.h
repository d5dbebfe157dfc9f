/*
 * Hybrid logical clock.
 *
 * An hlc value is (wall-clock milliseconds << 16) | counter.  A node's next
 * value is max(now << 16, highest seen + 1), so values it writes strictly
 * increase even when its clock stands still or jumps back (boxes without NTP
 * or a working RTC), and every entry is ordered after everything its author
 * had seen.  The clock is passed in: this module never reads the time.
 */
#ifndef KIZUNA_HLC_H
#define KIZUNA_HLC_H

#include <stdint.h>

#define KZ_HLC_COUNTER_BITS 16
/* Largest valid value: hlc deltas must fit a signed 64-bit integer. */
#define KZ_HLC_MAX ((uint64_t)INT64_MAX)

/* The value for a new local event, given the highest value seen so far. */
uint64_t kz_hlc_next(uint64_t last, uint64_t wall_ms);

/* Folds a received value into the highest seen. */
uint64_t kz_hlc_observe(uint64_t last, uint64_t received);

/* The milliseconds part of a value. */
uint64_t kz_hlc_ms(uint64_t hlc);

/* The counter part of a value. */
uint32_t kz_hlc_counter(uint64_t hlc);

#endif
