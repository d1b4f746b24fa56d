/* SPDX-License-Identifier: ISC */
/* check_cidr.c: CIDR list parsing and address matching (IPv4, IPv6, mapped). */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>

#include "cidr.h"
#include "suites.h"

/* Builds a sockaddr of an IPv4 or IPv6 literal. */
static const struct sockaddr *
sa(const char *ip)
{
	static struct sockaddr_storage	ss;
	struct sockaddr_in		*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
	return (const struct sockaddr *)&ss;
}

/* Parses s, which must be valid. */
static struct cidr_list
parse_ok(const char *s)
{
	struct cidr_list	l;
	char			err[160] = "";

	ck_assert_msg(cidr_list_parse(s, &l, err, sizeof(err)) == 0,
	    "'%s' refused: %s", s, err);
	return l;
}

START_TEST(test_empty)
{
	struct cidr_list l = parse_ok("");

	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(cidr_list_match(&l, sa("127.0.0.1")), 0);
	ck_assert_int_eq(cidr_list_match(&l, sa("::1")), 0);
}
END_TEST

START_TEST(test_ipv4)
{
	struct cidr_list l = parse_ok("10.0.0.0/8, 192.0.2.7 ,198.51.100.128/25");

	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(cidr_list_match(&l, sa("10.1.2.3")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("10.255.255.255")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("11.0.0.0")), 0);
	ck_assert_int_eq(cidr_list_match(&l, sa("192.0.2.7")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("192.0.2.8")), 0);
	ck_assert_int_eq(cidr_list_match(&l, sa("198.51.100.128")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("198.51.100.255")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("198.51.100.127")), 0);
	/* An IPv4 list never matches a native IPv6 peer. */
	ck_assert_int_eq(cidr_list_match(&l, sa("2001:db8::1")), 0);
}
END_TEST

START_TEST(test_host_bits_ignored)
{
	/* 10.1.2.3/8 is the network 10.0.0.0/8. */
	struct cidr_list l = parse_ok("10.1.2.3/8");

	ck_assert_int_eq(cidr_list_match(&l, sa("10.200.0.1")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("9.255.255.255")), 0);
}
END_TEST

START_TEST(test_ipv6)
{
	struct cidr_list l = parse_ok("2001:db8::/32,::1,fe80::/10,2001:db8:ffff::/127");

	ck_assert_int_eq(cidr_list_match(&l, sa("2001:db8:1::5")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("2001:db9::5")), 0);
	ck_assert_int_eq(cidr_list_match(&l, sa("::1")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("::2")), 0);
	ck_assert_int_eq(cidr_list_match(&l, sa("febf::1")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("fec0::1")), 0);
	ck_assert_int_eq(cidr_list_match(&l, sa("127.0.0.1")), 0);
}
END_TEST

START_TEST(test_mapped)
{
	/* A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d. */
	struct cidr_list l = parse_ok("127.0.0.2/32");

	ck_assert_int_eq(cidr_list_match(&l, sa("::ffff:127.0.0.2")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("::ffff:127.0.0.3")), 0);
	l = parse_ok("::ffff:0:0/96");
	ck_assert_int_eq(cidr_list_match(&l, sa("::ffff:1.2.3.4")), 1);
}
END_TEST

START_TEST(test_extremes)
{
	struct cidr_list l = parse_ok("0.0.0.0/0");

	ck_assert_int_eq(cidr_list_match(&l, sa("255.255.255.255")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("0.0.0.0")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("::1")), 0);
	l = parse_ok("::/0");
	ck_assert_int_eq(cidr_list_match(&l, sa("2001:db8::1")), 1);
	l = parse_ok("192.0.2.1/32,2001:db8::1/128");
	ck_assert_int_eq(cidr_list_match(&l, sa("192.0.2.1")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("192.0.2.0")), 0);
	ck_assert_int_eq(cidr_list_match(&l, sa("2001:db8::1")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("2001:db8::")), 0);
	l = parse_ok("192.0.2.0/31");
	ck_assert_int_eq(cidr_list_match(&l, sa("192.0.2.1")), 1);
	ck_assert_int_eq(cidr_list_match(&l, sa("192.0.2.2")), 0);
}
END_TEST

START_TEST(test_limit)
{
	char			buf[CIDR_STR_MAX], err[160];
	struct cidr_list	l;
	size_t			n = 0;

	buf[0] = '\0';
	for (int i = 0; i < CIDR_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s10.0.%d.0/24",
		    i ? "," : "", i);
	l = parse_ok(buf);
	ck_assert_uint_eq(l.n, CIDR_MAX);
	ck_assert_int_eq(cidr_list_match(&l, sa("10.0.31.9")), 1);
	snprintf(buf + n, sizeof(buf) - n, ",10.1.0.0/16");
	ck_assert_int_eq(cidr_list_parse(buf, &l, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "too many") != NULL, "%s", err);
}
END_TEST

static const struct {
	const char	*in;
	const char	*msg;
} bad[] = {
	{ "10.0.0.0/33", "prefix length" },
	{ "2001:db8::/129", "prefix length" },
	{ "10.0.0.0/", "prefix length" },
	{ "10.0.0.0/-1", "prefix length" },
	{ "10.0.0.0/8x", "prefix length" },
	{ "10.0.0.0/+8", "prefix length" },
	{ "10.0.0", "not an IPv4 or IPv6 address" },
	{ "example.com", "not an IPv4 or IPv6 address" },
	{ "10.0.0.0/8,,10.1.0.0/16", "empty entry" },
	{ "10.0.0.0/8,", "empty entry" },
	{ ",10.0.0.0/8", "empty entry" },
	{ " , ", "empty entry" },
	{ "10.0.0.0 /8", "not an IPv4 or IPv6 address" },
	{ "1.2.3.4;5.6.7.8", "not an IPv4 or IPv6 address" },
};

START_TEST(test_bad)
{
	struct cidr_list	l;
	char			err[160] = "";

	ck_assert_msg(cidr_list_parse(bad[_i].in, &l, err, sizeof(err)) == -1,
	    "'%s' accepted", bad[_i].in);
	ck_assert_msg(strstr(err, bad[_i].msg) != NULL,
	    "'%s': error '%s' lacks '%s'", bad[_i].in, err, bad[_i].msg);
}
END_TEST

START_TEST(test_next)
{
	const char	*s = " 10.0.0.0/8 ,, ::1,\t192.0.2.1 ,", *item;
	size_t		 n;
	char		 got[128] = "";

	while ((n = cidr_list_next(&s, &item)) > 0)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "[%.*s]",
		    (int)n, item);
	ck_assert_str_eq(got, "[10.0.0.0/8][::1][192.0.2.1]");
	s = "";
	ck_assert_uint_eq(cidr_list_next(&s, &item), 0);
}
END_TEST

/* The CIDR suite. */
Suite *
suite_cidr(void)
{
	Suite	*s = suite_create("cidr");
	TCase	*tc = tcase_create("cidr");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_ipv4);
	tcase_add_test(tc, test_host_bits_ignored);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_mapped);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_next);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	suite_add_tcase(s, tc);
	return s;
}
