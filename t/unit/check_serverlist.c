/* SPDX-License-Identifier: ISC */
/*
 * check_serverlist.c: the client's server_addr list (client/serverlist.c):
 * hosts, host:port, IPv4, [IPv6]:port, bare IPv6, blanks, and every kind of
 * bad entry, with the entry named in the message.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "client.h"
#include "suites.h"

static struct server_entry	e[CLIENT_MAX_SERVERS];
static size_t			n;
static char			err[512];

/* Parses s with server_port 7000; the return value of serverlist_parse. */
static int
parse(const char *s)
{
	err[0] = '\0';
	return serverlist_parse(s, 7000, e, CLIENT_MAX_SERVERS, &n, err,
	    sizeof(err));
}

START_TEST(test_serverlist_one)
{
	ck_assert_int_eq(parse("tunnel.example.org"), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].host, "tunnel.example.org");
	ck_assert_uint_eq(e[0].port, 7000);
	ck_assert_int_eq(e[0].numeric, 0);
	ck_assert_int_eq(parse("127.0.0.1"), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].host, "127.0.0.1");
	ck_assert_int_eq(e[0].numeric, 1);
}
END_TEST

START_TEST(test_serverlist_many)
{
	ck_assert_int_eq(parse("m1.example.org:7443, 10.0.0.2 ,[2001:db8::1]:7001,"
	    "[::1],fe80::1,gotunnel-headless.ns.svc.cluster.local:7000,m_2"), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert_str_eq(e[0].host, "m1.example.org");
	ck_assert_uint_eq(e[0].port, 7443);
	ck_assert_str_eq(e[1].host, "10.0.0.2");
	ck_assert_uint_eq(e[1].port, 7000);
	ck_assert_int_eq(e[1].numeric, 1);
	ck_assert_str_eq(e[2].host, "2001:db8::1");
	ck_assert_uint_eq(e[2].port, 7001);
	ck_assert_int_eq(e[2].numeric, 1);
	ck_assert_str_eq(e[3].host, "::1");
	ck_assert_uint_eq(e[3].port, 7000);
	ck_assert_str_eq(e[4].host, "fe80::1");	/* bare IPv6: no port */
	ck_assert_uint_eq(e[4].port, 7000);
	ck_assert_int_eq(e[4].numeric, 1);
	ck_assert_str_eq(e[5].host, "gotunnel-headless.ns.svc.cluster.local");
	ck_assert_int_eq(e[5].numeric, 0);
	ck_assert_str_eq(e[6].host, "m_2");
	ck_assert_int_eq(parse("a:1,b:65535"), 0);
	ck_assert_uint_eq(e[0].port, 1);
	ck_assert_uint_eq(e[1].port, 65535);
}
END_TEST

static const struct {
	const char	*list;
	const char	*want;		/* in the message */
} bad[] = {
	{ "", "empty entry" },
	{ "a,,b", "empty entry" },
	{ "a, ,b", "empty entry" },
	{ "a,", "empty entry" },
	{ "a:0", "'a:0': bad port" },
	{ "a:65536", "bad port" },
	{ "a:", "bad port" },
	{ "a:x", "bad port" },
	{ "a:+80", "bad port" },
	{ ":7000", "empty host" },
	{ "[::1", "missing ']'" },
	{ "[::1]7000", "unexpected text after ']'" },
	{ "[::1]:", "bad port" },
	{ "[10.0.0.1]:7000", "must hold an IPv6 address" },
	{ "[m1]:7000", "must hold an IPv6 address" },
	{ "2001:db8::1:7000:x", "[addr]:port" },
	{ "host name", "'host name': not a host name" },
	{ "-m1", "not a host name" },
	{ "m1/x", "not a host name" },
};

START_TEST(test_serverlist_bad)
{
	ck_assert_msg(parse(bad[_i].list) == -1, "'%s' accepted", bad[_i].list);
	ck_assert_msg(strstr(err, bad[_i].want) != NULL, "'%s': got '%s', want '%s'",
	    bad[_i].list, err, bad[_i].want);
}
END_TEST

/* 32 entries fit, the 33rd is refused. */
START_TEST(test_serverlist_limit)
{
	char	list[CLIENT_SERVER_ADDR_LEN + 64];
	int	len = 0;

	for (int i = 0; i < CLIENT_MAX_SERVERS; i++)
		len += snprintf(list + len, sizeof(list) - len, "%sm%d",
		    i ? "," : "", i);
	ck_assert_int_eq(parse(list), 0);
	ck_assert_uint_eq(n, CLIENT_MAX_SERVERS);
	snprintf(list + len, sizeof(list) - len, ",one-more");
	ck_assert_int_eq(parse(list), -1);
	ck_assert_msg(strstr(err, "more than 32 entries") != NULL, "%s", err);
	memset(list, 'a', sizeof(list) - 1);
	list[sizeof(list) - 1] = '\0';
	ck_assert_int_eq(parse(list), -1);
	ck_assert_msg(strstr(err, "too long") != NULL, "%s", err);
	/* A host name over 253 characters. */
	list[254] = '\0';
	ck_assert_int_eq(parse(list), -1);
	ck_assert_msg(strstr(err, "not a host name") != NULL, "%s", err);
}
END_TEST

Suite *
suite_serverlist(void)
{
	Suite	*s = suite_create("serverlist");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, test_serverlist_one);
	tcase_add_test(tc, test_serverlist_many);
	tcase_add_loop_test(tc, test_serverlist_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_serverlist_limit);
	suite_add_tcase(s, tc);
	return s;
}
