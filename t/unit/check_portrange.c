/* SPDX-License-Identifier: ISC */
/* check_portrange.c: allow_ports lists (portrange.c). */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "portrange.h"
#include "suites.h"

/* The empty list (and blanks) means 1024-65535. */
START_TEST(test_empty_default)
{
	struct portrange	 pr;
	const char		*err = NULL;
	const char		*in[] = { "", " ", "\t \t" };

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ck_assert_int_eq(portrange_parse(in[i], &pr, &err), 0);
		ck_assert_uint_eq(pr.n, 1);
		ck_assert_uint_eq(pr.lo[0], 1024);
		ck_assert_uint_eq(pr.hi[0], 65535);
		ck_assert_uint_eq(portrange_count(&pr), 65535 - 1024 + 1);
		ck_assert(!portrange_contains(&pr, 1023));
		ck_assert(portrange_contains(&pr, 1024));
		ck_assert(portrange_contains(&pr, 65535));
		ck_assert(!portrange_contains(&pr, 0));
	}
	ck_assert_ptr_null(err);
}
END_TEST

/* The example: "10000-20000,30000". */
START_TEST(test_example)
{
	struct portrange	 pr;
	const char		*err = NULL;

	ck_assert_int_eq(portrange_parse("10000-20000,30000", &pr, &err), 0);
	ck_assert_uint_eq(pr.n, 2);
	ck_assert_uint_eq(pr.lo[0], 10000);
	ck_assert_uint_eq(pr.hi[0], 20000);
	ck_assert_uint_eq(pr.lo[1], 30000);
	ck_assert_uint_eq(pr.hi[1], 30000);
	ck_assert(!portrange_contains(&pr, 9999));
	ck_assert(portrange_contains(&pr, 10000));
	ck_assert(portrange_contains(&pr, 15000));
	ck_assert(portrange_contains(&pr, 20000));
	ck_assert(!portrange_contains(&pr, 20001));
	ck_assert(!portrange_contains(&pr, 29999));
	ck_assert(portrange_contains(&pr, 30000));
	ck_assert(!portrange_contains(&pr, 30001));
	ck_assert(!portrange_contains(&pr, 0));
	ck_assert_uint_eq(portrange_count(&pr), 10002);
	ck_assert_uint_eq(portrange_nth(&pr, 0), 10000);
	ck_assert_uint_eq(portrange_nth(&pr, 1), 10001);
	ck_assert_uint_eq(portrange_nth(&pr, 10000), 20000);
	ck_assert_uint_eq(portrange_nth(&pr, 10001), 30000);
	ck_assert_uint_eq(portrange_nth(&pr, 10002), 0);	/* past the end */
	ck_assert_uint_eq(portrange_nth(&pr, 0xffffffffu), 0);
}
END_TEST

/* Blanks around numbers, dashes and commas are allowed. */
START_TEST(test_blanks)
{
	struct portrange	 pr;
	const char		*err = NULL;

	ck_assert_int_eq(portrange_parse(" 10000 - 10010 ,\t30000 , 40000-40000 ",
	    &pr, &err), 0);
	ck_assert_uint_eq(pr.n, 3);
	ck_assert_uint_eq(pr.lo[0], 10000);
	ck_assert_uint_eq(pr.hi[0], 10010);
	ck_assert_uint_eq(pr.lo[1], 30000);
	ck_assert_uint_eq(pr.lo[2], 40000);
	ck_assert_uint_eq(pr.hi[2], 40000);
	ck_assert_uint_eq(portrange_count(&pr), 13);
}
END_TEST

/* The extremes: 1 and 65535, the whole range, single ports. */
START_TEST(test_extremes)
{
	struct portrange	 pr;
	const char		*err = NULL;

	ck_assert_int_eq(portrange_parse("1-65535", &pr, &err), 0);
	ck_assert_uint_eq(portrange_count(&pr), 65535);
	ck_assert_uint_eq(portrange_nth(&pr, 0), 1);
	ck_assert_uint_eq(portrange_nth(&pr, 65534), 65535);
	ck_assert_uint_eq(portrange_nth(&pr, 65535), 0);
	ck_assert(portrange_contains(&pr, 1) && portrange_contains(&pr, 65535));
	ck_assert_int_eq(portrange_parse("1", &pr, &err), 0);
	ck_assert_uint_eq(portrange_count(&pr), 1);
	ck_assert(portrange_contains(&pr, 1) && !portrange_contains(&pr, 2));
	ck_assert_int_eq(portrange_parse("65535", &pr, &err), 0);
	ck_assert(portrange_contains(&pr, 65535) && !portrange_contains(&pr, 65534));
	ck_assert_int_eq(portrange_parse("65535-65535", &pr, &err), 0);
	ck_assert_uint_eq(portrange_count(&pr), 1);
	ck_assert_int_eq(portrange_parse("00080", &pr, &err), 0);	/* 5 digits */
	ck_assert_uint_eq(pr.lo[0], 80);
}
END_TEST

/* Overlapping ranges are allowed; nth walks them in order. */
START_TEST(test_overlap)
{
	struct portrange	 pr;
	const char		*err = NULL;

	ck_assert_int_eq(portrange_parse("100-102,101-103", &pr, &err), 0);
	ck_assert_uint_eq(portrange_count(&pr), 6);
	ck_assert_uint_eq(portrange_nth(&pr, 2), 102);
	ck_assert_uint_eq(portrange_nth(&pr, 3), 101);
	ck_assert_uint_eq(portrange_nth(&pr, 5), 103);
	ck_assert(portrange_contains(&pr, 103) && !portrange_contains(&pr, 104));
}
END_TEST

/* 64 ranges fit, 65 do not; 64 full ranges still count without overflow. */
START_TEST(test_limit)
{
	struct portrange	 pr;
	const char		*err = NULL;
	char			 s[2048];
	size_t			 n = 0;

	for (int i = 0; i < PORTRANGE_MAX; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%d", i ? "," : "",
		    1000 + i * 10);
	ck_assert_int_eq(portrange_parse(s, &pr, &err), 0);
	ck_assert_uint_eq(pr.n, PORTRANGE_MAX);
	ck_assert_uint_eq(portrange_nth(&pr, 63), 1630);
	snprintf(s + n, sizeof(s) - n, ",5000");
	err = NULL;
	ck_assert_int_eq(portrange_parse(s, &pr, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "too many"));

	n = 0;
	for (int i = 0; i < PORTRANGE_MAX; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%s1-65535", i ? "," : "");
	ck_assert_int_eq(portrange_parse(s, &pr, &err), 0);
	ck_assert_uint_eq(portrange_count(&pr), 64u * 65535u);
	ck_assert_uint_eq(portrange_nth(&pr, 64u * 65535u - 1), 65535);
}
END_TEST

/* Every malformed list is refused with a reason. */
static const struct {
	const char	*s;
	const char	*why;
} bad[] = {
	{ "0", "1-65535" },
	{ "0-10", "1-65535" },
	{ "65536", "1-65535" },
	{ "99999", "1-65535" },
	{ "100000", "1-65535" },
	{ "0000001", "1-65535" },
	{ "1-65536", "1-65535" },
	{ "a", "1-65535" },
	{ "10a", "','" },
	{ "10000-20000x", "','" },
	{ "-10", "1-65535" },
	{ "10-", "1-65535" },
	{ "10--20", "1-65535" },
	{ "1-2-3", "','" },
	{ "20-10", "ends before" },
	{ "10000-9999", "ends before" },
	{ "1,,2", "1-65535" },
	{ "1,", "1-65535" },
	{ ",1", "1-65535" },
	{ ",", "1-65535" },
	{ "1;2", "','" },
	{ "1 2", "','" },
	{ "+5", "1-65535" },
	{ "1.5", "','" },
	{ "0x10", "1-65535" },
	{ "8x10", "','" },
	{ "10000-20000,30000,", "1-65535" },
	{ "1-", "1-65535" },
	{ "4294967297", "1-65535" },
};

START_TEST(test_bad)
{
	struct portrange	 pr;
	const char		*err = NULL;

	ck_assert_msg(portrange_parse(bad[_i].s, &pr, &err) == -1, "accepted '%s'",
	    bad[_i].s);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, bad[_i].why) != NULL, "'%s': %s", bad[_i].s, err);
}
END_TEST

Suite *
suite_portrange(void)
{
	Suite	*s = suite_create("portrange");
	TCase	*tc = tcase_create("parse");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_empty_default);
	tcase_add_test(tc, test_example);
	tcase_add_test(tc, test_blanks);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_overlap);
	tcase_add_test(tc, test_limit);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	suite_add_tcase(s, tc);
	return s;
}
