/* SPDX-License-Identifier: ISC */
/*
 * tbucket.h: a token bucket in integer arithmetic on the monotonic clock.
 *
 * Tokens are whatever the caller counts (bytes, connections).  The bucket
 * holds at most burst tokens and gains rate tokens a second; the fraction
 * of a token earned between two calls is carried over, so the long-run
 * rate is exact (no drift).  Times are nanoseconds from tbucket_now().
 */
#ifndef GOTUNNEL_TBUCKET_H
#define GOTUNNEL_TBUCKET_H

#include <stdint.h>

#define TBUCKET_RATE_MAX	(1ULL << 33)	/* tokens a second (8 GiB/s) */

struct tbucket {
	uint64_t	rate;		/* tokens per second, > 0 */
	uint64_t	burst;		/* capacity, > 0 */
	uint64_t	tokens;
	uint64_t	frac;		/* token * 1e9 earned but not whole yet */
	uint64_t	last;		/* time of the last refill, 0 before use */
};

uint64_t tbucket_now(void);
void	 tbucket_init(struct tbucket *, uint64_t rate, uint64_t burst);
uint64_t tbucket_take(struct tbucket *, uint64_t now, uint64_t want);
uint64_t tbucket_take_min(struct tbucket *, uint64_t now, uint64_t want,
	    uint64_t min);
void	 tbucket_give(struct tbucket *, uint64_t n);
uint64_t tbucket_wait(struct tbucket *, uint64_t now, uint64_t want);
struct timeval;
void	 tbucket_wait_tv(struct tbucket *, uint64_t want, struct timeval *);

#endif
