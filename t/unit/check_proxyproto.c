/* SPDX-License-Identifier: ISC */
/*
 * check_proxyproto.c: the PROXY protocol header the client writes
 * (client/proxyproto.c), byte for byte against haproxy's
 * doc/proxy-protocol.txt, v1 and v2, IPv4, IPv6, mixed and unknown.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <check.h>

#include "proxyproto.h"
#include "suites.h"

/* An IPv4 sockaddr. */
static struct sockaddr_in
v4(const char *ip, int port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	return sa;
}

START_TEST(test_v1_tcp4)
{
	struct sockaddr_in	d = v4("127.0.0.1", 8080);
	char			out[PROXYPROTO_MAX + 1];
	size_t			len;

	ck_assert_int_eq(proxyproto_encode(1, "203.0.113.7:51234",
	    (struct sockaddr *)&d, out, &len), 0);
	out[len] = '\0';
	ck_assert_str_eq(out, "PROXY TCP4 203.0.113.7 127.0.0.1 51234 8080\r\n");
}
END_TEST

START_TEST(test_v1_tcp6_and_mixed)
{
	struct sockaddr_in6	d6;
	struct sockaddr_in	d4 = v4("127.0.0.1", 80);
	char			out[PROXYPROTO_MAX + 1];
	size_t			len;

	memset(&d6, 0, sizeof(d6));
	d6.sin6_family = AF_INET6;
	d6.sin6_port = htons(443);
	inet_pton(AF_INET6, "::1", &d6.sin6_addr);
	ck_assert_int_eq(proxyproto_encode(1, "[2001:db8::5]:1000",
	    (struct sockaddr *)&d6, out, &len), 0);
	out[len] = '\0';
	ck_assert_str_eq(out, "PROXY TCP6 2001:db8::5 ::1 1000 443\r\n");
	/* A v6 visitor to a v4 service: both as IPv6. */
	ck_assert_int_eq(proxyproto_encode(1, "[2001:db8::5]:1000",
	    (struct sockaddr *)&d4, out, &len), 0);
	out[len] = '\0';
	ck_assert_str_eq(out, "PROXY TCP6 2001:db8::5 ::ffff:127.0.0.1 1000 80\r\n");
}
END_TEST

START_TEST(test_v1_unknown)
{
	struct sockaddr_in	d = v4("127.0.0.1", 80);
	char			out[PROXYPROTO_MAX + 1];
	size_t			len;

	ck_assert_int_eq(proxyproto_encode(1, "not an address",
	    (struct sockaddr *)&d, out, &len), 0);
	out[len] = '\0';
	ck_assert_str_eq(out, "PROXY UNKNOWN\r\n");
	ck_assert_int_eq(proxyproto_encode(3, "1.2.3.4:5", (struct sockaddr *)&d,
	    out, &len), -1);
}
END_TEST

START_TEST(test_v2_tcp4)
{
	static const unsigned char want[28] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
		0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c,
		203, 0, 113, 7,  127, 0, 0, 1,  0xc8, 0x22,  0x1f, 0x90
	};
	struct sockaddr_in	d = v4("127.0.0.1", 8080);
	char			out[PROXYPROTO_MAX];
	size_t			len;

	ck_assert_int_eq(proxyproto_encode(2, "203.0.113.7:51234",
	    (struct sockaddr *)&d, out, &len), 0);
	ck_assert_uint_eq(len, sizeof(want));
	ck_assert_int_eq(memcmp(out, want, len), 0);
}
END_TEST

START_TEST(test_v2_tcp6)
{
	struct sockaddr_in	d = v4("10.0.0.1", 22);
	unsigned char		out[PROXYPROTO_MAX];
	size_t			len;

	ck_assert_int_eq(proxyproto_encode(2, "[2001:db8::5]:1000",
	    (struct sockaddr *)&d, (char *)out, &len), 0);
	ck_assert_uint_eq(len, 16 + 36);
	ck_assert_uint_eq(out[12], 0x21);
	ck_assert_uint_eq(out[13], 0x21);	/* TCP over IPv6 */
	ck_assert_uint_eq(out[14] * 256 + out[15], 36);
	ck_assert_uint_eq(out[16], 0x20);	/* 2001:... */
	ck_assert_uint_eq(out[32 + 10], 0xff);	/* ::ffff:10.0.0.1 */
	ck_assert_uint_eq(out[32 + 12], 10);
	ck_assert_uint_eq(out[48] * 256 + out[49], 1000);
	ck_assert_uint_eq(out[50] * 256 + out[51], 22);
}
END_TEST

START_TEST(test_v2_local)
{
	unsigned char	out[PROXYPROTO_MAX];
	size_t		len;

	ck_assert_int_eq(proxyproto_encode(2, "", NULL, (char *)out, &len), 0);
	ck_assert_uint_eq(len, 16);
	ck_assert_uint_eq(out[12], 0x20);	/* LOCAL */
	ck_assert_uint_eq(out[13], 0x00);
	ck_assert_uint_eq(out[15], 0);
}
END_TEST

/* The proxyproto suite. */
Suite *
suite_proxyproto(void)
{
	Suite	*s = suite_create("proxyproto");
	TCase	*tc = tcase_create("encode");

	tcase_add_test(tc, test_v1_tcp4);
	tcase_add_test(tc, test_v1_tcp6_and_mixed);
	tcase_add_test(tc, test_v1_unknown);
	tcase_add_test(tc, test_v2_tcp4);
	tcase_add_test(tc, test_v2_tcp6);
	tcase_add_test(tc, test_v2_local);
	suite_add_tcase(s, tc);
	return s;
}
