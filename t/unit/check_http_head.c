/* SPDX-License-Identifier: ISC */
/*
 * check_http_head.c: the strict request-head parser of the vhost router
 * (server/http_head.c): good heads, each refusal, the 16 KiB bound, heads
 * arriving byte by byte, and Host normalisation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "http_head.h"
#include "suites.h"

static struct http_head h;

/* Parses a NUL-free literal. */
static enum hh_result
parse(const char *s, const char **why)
{
	return http_head_parse(s, strlen(s), &h, why);
}

START_TEST(test_good_head)
{
	const char	*why, *req = "GET /x?y=1 HTTP/1.1\r\nHost: A.Example.ORG:8080\r\n"
			    "User-Agent:  curl/7  \r\nAccept: */*\r\n\r\nBODY";
	int		 i;

	ck_assert_int_eq(parse(req, &why), HH_OK);
	ck_assert_str_eq(h.host, "a.example.org");
	ck_assert_uint_eq(h.len, strlen(req) - 4);
	ck_assert_uint_eq(h.reqline_len, strlen("GET /x?y=1 HTTP/1.1\r\n"));
	ck_assert_int_eq(h.minor, 1);
	ck_assert_uint_eq(h.nfields, 3);
	i = http_head_find(&h, req, "user-agent", 0);
	ck_assert_int_eq(i, 1);
	ck_assert_int_eq((int)h.fields[i].value_len, 6);	/* trimmed */
	ck_assert_int_eq(memcmp(req + h.fields[i].value, "curl/7", 6), 0);
	ck_assert_int_eq(http_head_find(&h, req, "cookie", 0), -1);
}
END_TEST

START_TEST(test_trailing_dot_and_http10)
{
	const char *why;

	ck_assert_int_eq(parse("HEAD / HTTP/1.0\r\nhost: b.example.org.\r\n\r\n",
	    &why), HH_OK);
	ck_assert_str_eq(h.host, "b.example.org");
	ck_assert_int_eq(h.minor, 0);
}
END_TEST

/* Each must be refused as malformed (400). */
static const char *const bad[] = {
	"\x16\x03\x01\x02\x00\x01\x00",			/* TLS */
	"G@T / HTTP/1.1\r\n",				/* method */
	" GET / HTTP/1.1\r\n",
	"GET  / HTTP/1.1\r\n",				/* empty target */
	"GET / HTTP/2.0\r\n",
	"GET / HTTP/1.1x\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",			/* bare LF */
	"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",		/* bare CR */
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",		/* space before colon */
	"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",			/* no Host */
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",		/* space in Host */
	"GET / HTTP/1.1\r\nHost: \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a:\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	"\r\n",
};

START_TEST(test_bad)
{
	const char *why;

	ck_assert_int_eq(parse(bad[_i], &why), HH_BAD);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_nul_in_host)
{
	static const char	req[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	const char		*why;

	ck_assert_int_eq(http_head_parse(req, sizeof(req) - 1, &h, &why), HH_BAD);
}
END_TEST

START_TEST(test_garbage_refused_early)
{
	const char *why;

	/* Refused on the first bad byte, without waiting for a line end. */
	ck_assert_int_eq(parse("\x01\x02", &why), HH_BAD);
	ck_assert_int_eq(parse("GET /\x01", &why), HH_BAD);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX\x01", &why), HH_BAD);
}
END_TEST

START_TEST(test_byte_by_byte)
{
	const char	*req = "POST /upload HTTP/1.1\r\nHost: a.example.org\r\n"
			    "Content-Length: 5\r\n\r\n";
	const char	*why;
	size_t		 n = strlen(req);

	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(http_head_parse(req, i, &h, &why), HH_AGAIN);
	ck_assert_int_eq(http_head_parse(req, n, &h, &why), HH_OK);
	ck_assert_uint_eq(h.len, n);
}
END_TEST

START_TEST(test_too_big)
{
	size_t		 n = HTTP_HEAD_MAX + 100;
	char		*req = malloc(n);
	const char	*why;
	int		 off;

	ck_assert_ptr_nonnull(req);
	off = snprintf(req, n, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(req + off, 'x', n - (size_t)off);
	ck_assert_int_eq(http_head_parse(req, n, &h, &why), HH_TOO_BIG);
	/* Just under the bound it is still waiting. */
	ck_assert_int_eq(http_head_parse(req, HTTP_HEAD_MAX - 1, &h, &why),
	    HH_AGAIN);
	free(req);
}
END_TEST

START_TEST(test_too_many_fields)
{
	char		 req[HTTP_HEAD_MAX];
	const char	*why;
	size_t		 off = 0;

	off += (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < HTTP_HEAD_MAX_FIELDS; i++)
		off += (size_t)snprintf(req + off, sizeof(req) - off, "X%d: y\r\n", i);
	off += (size_t)snprintf(req + off, sizeof(req) - off, "\r\n");
	ck_assert_int_eq(http_head_parse(req, off, &h, &why), HH_BAD);
}
END_TEST

START_TEST(test_host_normalize)
{
	char out[HTTP_HOST_MAX + 1];

	ck_assert_int_eq(http_host_normalize("A.EXAMPLE.ORG:80", 16, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "a.example.org");
	ck_assert_int_eq(http_host_normalize("[::1]:8080", 10, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "[::1]");
	ck_assert_int_eq(http_host_normalize(".a", 2, out, sizeof(out)), -1);
	ck_assert_int_eq(http_host_normalize("a/b", 3, out, sizeof(out)), -1);
	ck_assert_int_eq(http_host_normalize("[zz]", 4, out, sizeof(out)), -1);
}
END_TEST

/* The http_head suite. */
Suite *
suite_http_head(void)
{
	Suite	*s = suite_create("http_head");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, test_good_head);
	tcase_add_test(tc, test_trailing_dot_and_http10);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_nul_in_host);
	tcase_add_test(tc, test_garbage_refused_early);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_too_big);
	tcase_add_test(tc, test_too_many_fields);
	tcase_add_test(tc, test_host_normalize);
	suite_add_tcase(s, tc);
	return s;
}
