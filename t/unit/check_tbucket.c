/* SPDX-License-Identifier: ISC */
/* check_tbucket.c: the token bucket (tbucket.c) on a simulated clock. */
#include <stdint.h>

#include <check.h>

#include "suites.h"
#include "tbucket.h"

#define NS	1000000000ULL
#define T0	(1000 * NS)	/* any nonzero start */

/* A new bucket is full: burst tokens at once, then nothing. */
START_TEST(test_starts_full)
{
	struct tbucket tb;

	tbucket_init(&tb, 50, 10);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 7), 7);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 7), 3);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 1), 0);
}
END_TEST

/* Refill follows the rate, never beyond burst. */
START_TEST(test_refill_and_cap)
{
	struct tbucket tb;

	tbucket_init(&tb, 100, 100);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 100), 100);
	ck_assert_uint_eq(tbucket_take(&tb, T0 + NS / 10, 1000), 10);
	ck_assert_uint_eq(tbucket_take(&tb, T0 + NS / 2, 1000), 40);
	/* An hour idle: still only burst. */
	ck_assert_uint_eq(tbucket_take(&tb, T0 + 3600 * NS, 1000), 100);
}
END_TEST

/* take_min grants nothing below its minimum (capped by want and burst). */
START_TEST(test_take_min)
{
	struct tbucket tb;

	tbucket_init(&tb, 1000, 1000);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 1000), 1000);
	/* 10 ms later: 10 tokens, below a minimum of 100: nothing taken. */
	ck_assert_uint_eq(tbucket_take_min(&tb, T0 + NS / 100, 500, 100), 0);
	/* 100 ms later: 100 tokens, all granted. */
	ck_assert_uint_eq(tbucket_take_min(&tb, T0 + NS / 10, 500, 100), 100);
	/* A minimum above want or burst is capped. */
	ck_assert_uint_eq(tbucket_take_min(&tb, T0 + NS / 10 + NS / 200, 5, 100), 5);
	tbucket_init(&tb, 10, 50);
	ck_assert_uint_eq(tbucket_take_min(&tb, T0, 1000, 16384), 50);
}
END_TEST

/* Many tiny steps earn exactly rate * time: fractions are carried. */
START_TEST(test_no_drift)
{
	struct tbucket	tb;
	uint64_t	got = 0, t = T0;

	tbucket_init(&tb, 3, 1000);
	(void)tbucket_take(&tb, t, 1000);
	/* 10 s in steps of 1 ms: each step earns 0.003 of a token. */
	for (int i = 0; i < 10000; i++) {
		t += NS / 1000;
		got += tbucket_take(&tb, t, 1000);
	}
	ck_assert_uint_eq(got, 30);
	/* Bandwidth-sized: 2 MiB/s for 5 s in 7 ms steps. */
	tbucket_init(&tb, 2 << 20, 64 << 10);
	(void)tbucket_take(&tb, T0, 64 << 10);
	got = 0;
	for (t = T0; t + 7 * NS / 1000 <= T0 + 5 * NS; ) {
		t += 7 * NS / 1000;
		got += tbucket_take(&tb, t, 1 << 20);
	}
	ck_assert_uint_eq(got, (uint64_t)(2 << 20) * (t - T0) / NS);
}
END_TEST

/* wait() says when want tokens are there, and taking then succeeds. */
START_TEST(test_wait)
{
	struct tbucket	tb;
	uint64_t	w;

	tbucket_init(&tb, 1000, 100);
	ck_assert_uint_eq(tbucket_wait(&tb, T0, 50), 0);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 100), 100);
	w = tbucket_wait(&tb, T0, 50);
	ck_assert_uint_eq(w, 50 * NS / 1000);	/* 50 ms */
	ck_assert_uint_eq(tbucket_take(&tb, T0 + w - 1000, 50), 49);
	tbucket_give(&tb, 49);
	ck_assert_uint_eq(tbucket_take(&tb, T0 + w, 50), 50);
	/* want beyond burst waits for burst only. */
	ck_assert_uint_le(tbucket_wait(&tb, T0 + w, 1000000), 100 * NS / 1000);
	/* A half-earned token shortens the wait. */
	tbucket_init(&tb, 2, 1);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 1), 1);
	ck_assert_uint_eq(tbucket_take(&tb, T0 + NS / 4, 1), 0);
	ck_assert_uint_eq(tbucket_wait(&tb, T0 + NS / 4, 1), NS / 4);
}
END_TEST

/* give() never fills beyond burst; huge rates and long gaps do not overflow. */
START_TEST(test_bounds)
{
	struct tbucket tb;

	tbucket_init(&tb, 10, 5);
	tbucket_give(&tb, UINT64_MAX);
	ck_assert_uint_eq(tb.tokens, 5);
	tbucket_init(&tb, UINT64_MAX, UINT64_MAX / 2);
	ck_assert_uint_eq(tb.rate, TBUCKET_RATE_MAX);
	ck_assert_uint_eq(tbucket_take(&tb, T0, UINT64_MAX), UINT64_MAX / 2);
	ck_assert_uint_eq(tbucket_take(&tb, T0 + 3 * NS, 1ULL << 40),
	    3 * TBUCKET_RATE_MAX);
	ck_assert_uint_gt(tbucket_wait(&tb, T0 + 3 * NS, 1ULL << 40), 0);
	/* rate 0 is taken as 1; a clock going back does not refill. */
	tbucket_init(&tb, 0, 1);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 1), 1);
	ck_assert_uint_eq(tbucket_take(&tb, T0 - NS, 1), 0);
	ck_assert_uint_eq(tbucket_take(&tb, T0 - NS + NS / 2, 1), 0);
	ck_assert_uint_eq(tbucket_take(&tb, T0, 1), 1);
	/* The real clock moves forward. */
	ck_assert_uint_gt(tbucket_now(), 0);
}
END_TEST

/* The token bucket suite. */
Suite *
suite_tbucket(void)
{
	Suite	*s = suite_create("tbucket");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_starts_full);
	tcase_add_test(tc, test_refill_and_cap);
	tcase_add_test(tc, test_take_min);
	tcase_add_test(tc, test_no_drift);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_bounds);
	suite_add_tcase(s, tc);
	return s;
}
