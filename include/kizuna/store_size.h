/*
 * Sizes of what the store holds, for the figures a link reports (how many
 * bytes a peer lacks).  Kept apart from store.h: reads only.
 *
 * An entry's stored size is its signed header (KZ_HEADER_BYTES) plus its op
 * bytes (none once purged); the signatures kept beside some entries are not
 * counted.  docs/api.md ("GET /api/status") states the same.
 */
#ifndef KIZUNA_STORE_SIZE_H
#define KIZUNA_STORE_SIZE_H

#include <stdint.h>

#include "kizuna/store.h"

/*
 * The stored size of the entries seq from..to (inclusive) of feed that the
 * store holds, in *bytes (0 when from > to, the feed is unknown or it holds
 * none of them).  Returns 0 or a store error (KZ_ERR_DB).
 */
int kz_store_range_bytes(struct kz_store *st, const uint8_t feed[32],
    uint64_t from, uint64_t to, uint64_t *bytes);

/*
 * The mean stored size of the last (at most) 256 entries stored, whatever
 * their feed, rounded to the nearest byte, in *mean (0: the store holds
 * none).  Returns 0 or a store error.
 */
int kz_store_recent_mean_size(struct kz_store *st, uint64_t *mean);

#endif
