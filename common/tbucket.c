/* SPDX-License-Identifier: ISC */
/*
 * tbucket.c: token buckets for connection rates and bandwidth limits.
 * Integer math only: rate * elapsed is split into whole seconds and the
 * nanosecond rest so that no product exceeds 64 bits (rate <= 2^33).
 */
#include <time.h>

#include <sys/time.h>

#include "tbucket.h"

#define NS	1000000000ULL

/* Nanoseconds on the monotonic clock (never 0, so 0 can mean "unset"). */
uint64_t
tbucket_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec + 1;
}

/* Sets up a full bucket of burst tokens that refills at rate a second. */
void
tbucket_init(struct tbucket *tb, uint64_t rate, uint64_t burst)
{
	if (rate == 0)
		rate = 1;
	if (rate > TBUCKET_RATE_MAX)
		rate = TBUCKET_RATE_MAX;
	if (burst == 0)
		burst = 1;
	tb->rate = rate;
	tb->burst = burst;
	tb->tokens = burst;
	tb->frac = 0;
	tb->last = 0;
}

/* Adds the tokens earned since the last refill. */
static void
tbucket_refill(struct tbucket *tb, uint64_t now)
{
	uint64_t dt, whole, add, fill_s;

	if (tb->last == 0 || now < tb->last) {
		tb->last = now;
		return;
	}
	dt = now - tb->last;
	tb->last = now;
	if (tb->tokens >= tb->burst) {
		tb->frac = 0;
		return;
	}
	/* Past the time to fill up, the bucket is simply full. */
	fill_s = (tb->burst - tb->tokens) / tb->rate + 1;	/* seconds */
	if (dt / NS >= fill_s) {
		tb->tokens = tb->burst;
		tb->frac = 0;
		return;
	}
	whole = dt / NS;
	/* (dt % NS) * rate < 2^30 * 2^33; frac < NS: fits in 64 bits. */
	tb->frac += (dt % NS) * tb->rate;
	add = whole * tb->rate + tb->frac / NS;
	tb->frac %= NS;
	tb->tokens += add;
	if (tb->tokens >= tb->burst) {
		tb->tokens = tb->burst;
		tb->frac = 0;
	}
}

/* Takes up to want tokens; returns how many were granted (0 if empty). */
uint64_t
tbucket_take(struct tbucket *tb, uint64_t now, uint64_t want)
{
	uint64_t n;

	tbucket_refill(tb, now);
	n = want < tb->tokens ? want : tb->tokens;
	tb->tokens -= n;
	return n;
}

/*
 * Like tbucket_take(), but grants nothing until at least min tokens (or
 * want, or burst, if smaller) are there: a relay limited this way moves
 * bytes in chunks at the rate instead of a trickle of tiny reads.
 */
uint64_t
tbucket_take_min(struct tbucket *tb, uint64_t now, uint64_t want, uint64_t min)
{
	tbucket_refill(tb, now);
	if (min > want)
		min = want;
	if (min > tb->burst)
		min = tb->burst;
	if (tb->tokens < min)
		return 0;
	return tbucket_take(tb, now, want);
}

/* Returns n unused tokens of a grant (never beyond burst). */
void
tbucket_give(struct tbucket *tb, uint64_t n)
{
	tb->tokens = n > tb->burst - tb->tokens ? tb->burst : tb->tokens + n;
}

/* Nanoseconds until want tokens (at most burst) are there; 0 if now. */
uint64_t
tbucket_wait(struct tbucket *tb, uint64_t now, uint64_t want)
{
	uint64_t missing, need;

	tbucket_refill(tb, now);
	if (want > tb->burst)
		want = tb->burst;
	if (tb->tokens >= want)
		return 0;
	missing = want - tb->tokens;
	/* missing * NS - frac, divided by rate, rounded up; in two parts. */
	need = (missing / tb->rate) * NS;
	missing %= tb->rate;
	/* missing < rate <= 2^33, missing * NS could overflow: scale by 1e3. */
	if (missing > 0) {
		uint64_t us = (missing * 1000000ULL + tb->rate - 1) / tb->rate;

		need += us * 1000ULL;
	}
	need = need > tb->frac / tb->rate ? need - tb->frac / tb->rate : 0;
	return need > 0 ? need : 1;
}

/* tbucket_wait() for want tokens from now, as a timer delay of at least 1 ms
 * (a throttled relay direction wakes at most once a millisecond). */
void
tbucket_wait_tv(struct tbucket *tb, uint64_t want, struct timeval *tv)
{
	uint64_t ns = tbucket_wait(tb, tbucket_now(), want);

	if (ns < 1000000)
		ns = 1000000;
	tv->tv_sec = (time_t)(ns / NS);
	tv->tv_usec = (suseconds_t)(ns % NS / 1000);
}
