/* SPDX-License-Identifier: ISC */
/* check_udprec.c: UDP datagram records (udprec.c): whole, split, coalesced,
 * empty, the longest, and a bad length. */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>

#include "suites.h"
#include "udprec.h"

static struct evbuffer *buf;

/* Checked fixture: a fresh buffer per test. */
static void
setup(void)
{
	ck_assert_ptr_nonnull(buf = evbuffer_new());
}

/* Frees the fixture. */
static void
teardown(void)
{
	evbuffer_free(buf);
}

/* A record is a 2-byte big-endian length and the datagram. */
START_TEST(test_udprec_wire_format)
{
	unsigned char wire[7];

	ck_assert_int_eq(udprec_add(buf, "hello", 5), 0);
	ck_assert_uint_eq(evbuffer_get_length(buf), 7);
	evbuffer_copyout(buf, wire, sizeof(wire));
	ck_assert_mem_eq(wire, "\x00\x05hello", 7);
}
END_TEST

/* Records come back one by one, whatever their sizes, 0 and 65507 included. */
START_TEST(test_udprec_roundtrip_sizes)
{
	static const size_t sizes[] = { 0, 1, 2, 255, 256, 1400, 65506, 65507 };
	unsigned char		*d = malloc(UDPREC_MAX);
	const unsigned char	*got;
	size_t			 n;

	ck_assert_ptr_nonnull(d);
	for (size_t i = 0; i < UDPREC_MAX; i++)
		d[i] = (unsigned char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		ck_assert_int_eq(udprec_add(buf, d, sizes[i]), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert_int_eq(udprec_peek(buf, &got, &n), UDPREC_OK);
		ck_assert_uint_eq(n, sizes[i]);
		if (n > 0)
			ck_assert_int_eq(memcmp(got, d, n), 0);
		udprec_drain(buf, n);
	}
	ck_assert_int_eq(udprec_peek(buf, &got, &n), UDPREC_AGAIN);
	ck_assert_uint_eq(evbuffer_get_length(buf), 0);
	free(d);
}
END_TEST

/* A record that arrives a byte at a time is whole only at its last byte. */
START_TEST(test_udprec_split)
{
	const unsigned char	 wire[] = "\x00\x03" "abc";
	const unsigned char	*got;
	size_t			 n;

	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(udprec_peek(buf, &got, &n), UDPREC_AGAIN);
		evbuffer_add(buf, wire + i, 1);
	}
	ck_assert_int_eq(udprec_peek(buf, &got, &n), UDPREC_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(got, "abc", 3);
}
END_TEST

/* A length above 65507 is refused before its bytes come, and never too long. */
START_TEST(test_udprec_bad_length)
{
	const unsigned char	*got;
	size_t			 n;
	static char		 big[UDPREC_MAX + 1];

	evbuffer_add(buf, "\xff\xd4", 2);	/* 65492: fine, waits for its bytes */
	ck_assert_int_eq(udprec_peek(buf, &got, &n), UDPREC_AGAIN);
	evbuffer_drain(buf, 2);
	evbuffer_add(buf, "\xff\xe4", 2);	/* 65508 */
	ck_assert_int_eq(udprec_peek(buf, &got, &n), UDPREC_BAD);
	evbuffer_drain(buf, 2);
	evbuffer_add(buf, "\xff\xff", 2);
	ck_assert_int_eq(udprec_peek(buf, &got, &n), UDPREC_BAD);
	ck_assert_int_eq(udprec_add(buf, big, sizeof(big)), -1);
}
END_TEST

/* The Check suite of udprec.c. */
Suite *
suite_udprec(void)
{
	Suite *s = suite_create("udprec");
	TCase *tc = tcase_create("records");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_udprec_wire_format);
	tcase_add_test(tc, test_udprec_roundtrip_sizes);
	tcase_add_test(tc, test_udprec_split);
	tcase_add_test(tc, test_udprec_bad_length);
	suite_add_tcase(s, tc);
	return s;
}
