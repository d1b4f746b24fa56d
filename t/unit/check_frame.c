/* SPDX-License-Identifier: ISC */
/* check_frame.c: the length-prefix codec (frame.c): split, coalesced, bad lengths. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>

#include "frame.h"
#include "suites.h"

static struct evbuffer	*in;
static char		*buf;		/* FRAME_MAX + 1, as frame_pull wants */

/* Checked fixture: a fresh input buffer and output area per test. */
static void
setup(void)
{
	ck_assert_ptr_nonnull(in = evbuffer_new());
	ck_assert_ptr_nonnull(buf = malloc(FRAME_MAX + 1));
}

/* Frees the fixture. */
static void
teardown(void)
{
	evbuffer_free(in);
	free(buf);
}

/* Appends a 4-byte big-endian length. */
static void
add_hdr(struct evbuffer *b, uint32_t n)
{
	unsigned char h[4] = { n >> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff };

	ck_assert_int_eq(evbuffer_add(b, h, 4), 0);
}

/* Appends header + payload. */
static void
add_frame(struct evbuffer *b, const char *p, size_t n)
{
	add_hdr(b, (uint32_t)n);
	ck_assert_int_eq(evbuffer_add(b, p, n), 0);
}

START_TEST(test_check_length)
{
	const char *err;

	err = NULL;
	ck_assert_int_eq(frame_check_length(1, &err), 0);
	ck_assert_int_eq(frame_check_length(2, &err), 0);
	ck_assert_int_eq(frame_check_length(65535, &err), 0);
	ck_assert_int_eq(frame_check_length(65536, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(frame_check_length(0, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "length 0"));
	err = NULL;
	ck_assert_int_eq(frame_check_length(65537, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "65536"));
	err = NULL;
	ck_assert_int_eq(frame_check_length(0x00010001 + 1, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(frame_check_length(0x7fffffff, &err), -1);
	ck_assert_int_eq(frame_check_length(0x80000000u, &err), -1);
	ck_assert_int_eq(frame_check_length(0xffffffffu, &err), -1);
}
END_TEST

START_TEST(test_pull_one)
{
	const char	*err = NULL;
	const char	*msg = "{\"type\":\"heartbeat\"}";
	size_t		 len = 0;

	add_frame(in, msg, strlen(msg));
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, strlen(msg));
	ck_assert_mem_eq(buf, msg, len);
	ck_assert_int_eq(buf[len], '\0');
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_AGAIN);
}
END_TEST

/* A frame that arrives one byte at a time is complete only with its last byte. */
START_TEST(test_pull_split_bytewise)
{
	struct evbuffer	*all = evbuffer_new();
	const char	*msg = "{\"type\":\"register\",\"local_port\":22}";
	const char	*err = NULL;
	unsigned char	 wire[256];
	size_t		 total, len = 0;

	add_frame(all, msg, strlen(msg));
	total = evbuffer_get_length(all);
	ck_assert_int_eq(evbuffer_remove(all, wire, total), (int)total);
	for (size_t i = 0; i < total; i++) {
		ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_AGAIN);
		ck_assert_uint_eq(evbuffer_get_length(in), i);	/* nothing consumed */
		evbuffer_add(in, wire + i, 1);
	}
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, strlen(msg));
	ck_assert_mem_eq(buf, msg, len);
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	evbuffer_free(all);
}
END_TEST

/* Split at every point between header and payload, as in two reads. */
START_TEST(test_pull_split_two_reads)
{
	const char	*msg = "{\"type\":\"heartbeat_ack\"}";
	unsigned char	 wire[64];
	size_t		 total = 4 + strlen(msg);
	const char	*err = NULL;
	size_t		 len;

	wire[0] = wire[1] = wire[2] = 0;
	wire[3] = (unsigned char)strlen(msg);
	memcpy(wire + 4, msg, strlen(msg));
	for (size_t cut = 1; cut < total; cut++) {
		evbuffer_drain(in, evbuffer_get_length(in));
		evbuffer_add(in, wire, cut);
		ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_AGAIN);
		evbuffer_add(in, wire + cut, total - cut);
		ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
		ck_assert_uint_eq(len, strlen(msg));
		ck_assert_mem_eq(buf, msg, len);
		ck_assert_uint_eq(evbuffer_get_length(in), 0);
	}
}
END_TEST

/* Several frames in one read come out one by one, in order; a partial tail waits. */
START_TEST(test_pull_coalesced)
{
	const char	*m[3] = { "{\"a\":1}", "{\"type\":\"heartbeat\"}", "{}" };
	const char	*err = NULL;
	size_t		 len;

	for (int i = 0; i < 3; i++)
		add_frame(in, m[i], strlen(m[i]));
	add_hdr(in, 10);
	evbuffer_add(in, "{\"b\":", 5);			/* half of a 4th */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
		ck_assert_uint_eq(len, strlen(m[i]));
		ck_assert_mem_eq(buf, m[i], len);
		ck_assert_int_eq(buf[len], '\0');
	}
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_AGAIN);
	ck_assert_uint_eq(evbuffer_get_length(in), 9);
	evbuffer_add(in, "true}", 5);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(buf, "{\"b\":true}");
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
}
END_TEST

/* The payload is opaque to the codec: NUL bytes are carried (the parser refuses them). */
START_TEST(test_pull_binary_payload)
{
	const char	 p[5] = { 'a', '\0', 'b', '\0', 'c' };
	const char	*err = NULL;
	size_t		 len;

	add_frame(in, p, sizeof(p));
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(buf, p, 5);
}
END_TEST

/* 1 and 65536 bytes: the smallest and the largest accepted payloads. */
START_TEST(test_pull_limits)
{
	char		*big = malloc(FRAME_MAX);
	const char	*err = NULL;
	size_t		 len;

	memset(big, 'x', FRAME_MAX);
	big[FRAME_MAX - 1] = 'y';
	add_frame(in, "7", 1);
	add_frame(in, big, FRAME_MAX);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, 1);
	ck_assert_str_eq(buf, "7");
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, FRAME_MAX);
	ck_assert_mem_eq(buf, big, FRAME_MAX);
	ck_assert_int_eq(buf[FRAME_MAX], '\0');
	ck_assert_ptr_null(err);
	free(big);
}
END_TEST

/* A 65536-byte payload one byte short stays pending. */
START_TEST(test_pull_max_incomplete)
{
	char		*big = calloc(1, FRAME_MAX);
	const char	*err = NULL;
	size_t		 len;

	add_hdr(in, FRAME_MAX);
	evbuffer_add(in, big, FRAME_MAX - 1);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_AGAIN);
	ck_assert_uint_eq(evbuffer_get_length(in), 4 + FRAME_MAX - 1);
	evbuffer_add(in, "z", 1);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, FRAME_MAX);
	ck_assert_int_eq(buf[FRAME_MAX - 1], 'z');
	free(big);
}
END_TEST

/* Every bad length is refused from the header alone, before any payload. */
static const uint32_t bad_lengths[] = {
	0, 65537, 65538, 0x00020000, 0x00100000, 0x01000000, 0x7fffffff,
	0x80000000u, 0xfffffffeu, 0xffffffffu
};

START_TEST(test_pull_bad_length)
{
	uint32_t	 n = bad_lengths[_i];
	const char	*err = NULL;
	size_t		 len = 12345;

	add_hdr(in, n);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_BAD);
	ck_assert_ptr_nonnull(err);
	ck_assert_uint_eq(len, 12345);			/* untouched */
	/* Still bad once payload bytes follow (nothing was drained). */
	evbuffer_add(in, "{}", 2);
	err = NULL;
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_BAD);
	ck_assert_ptr_nonnull(err);
}
END_TEST

/* A bad header split over two reads is refused once its 4th byte arrives. */
START_TEST(test_pull_bad_length_split)
{
	const unsigned char	 h[4] = { 0x00, 0x01, 0x00, 0x01 };	/* 65537 */
	const char		*err = NULL;
	size_t			 len;

	evbuffer_add(in, h, 3);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_AGAIN);
	evbuffer_add(in, h + 3, 1);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_BAD);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

/* A good frame followed by a bad header: the good one is delivered first. */
START_TEST(test_pull_good_then_bad)
{
	const char	*err = NULL;
	size_t		 len;

	add_frame(in, "{}", 2);
	add_hdr(in, 0);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, 2);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(frame_pull(in, buf, &len, &err), FRAME_BAD);
	ck_assert_ptr_nonnull(strstr(err, "length 0"));
}
END_TEST

START_TEST(test_push)
{
	struct evbuffer	*out = evbuffer_new();
	unsigned char	 wire[16];
	char		*big = calloc(1, FRAME_MAX + 1);
	const char	*err = NULL;
	size_t		 len;

	ck_assert_int_eq(frame_push(out, "{}", 0), -1);
	ck_assert_int_eq(frame_push(out, big, FRAME_MAX + 1), -1);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	ck_assert_int_eq(frame_push(out, "{\"x\":1}", 7), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), 11);
	evbuffer_copyout(out, wire, 11);
	ck_assert_mem_eq(wire, "\0\0\0\7{\"x\":1}", 11);
	ck_assert_int_eq(frame_push(out, big, FRAME_MAX), 0);
	evbuffer_copyout(out, wire, 15);
	ck_assert_mem_eq(wire + 11, "\0\1\0\0", 4);	/* 65536 big-endian */
	/* Round trip through frame_pull. */
	ck_assert_int_eq(frame_pull(out, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq(buf, "{\"x\":1}");
	ck_assert_int_eq(frame_pull(out, buf, &len, &err), FRAME_OK);
	ck_assert_uint_eq(len, FRAME_MAX);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	evbuffer_free(out);
	free(big);
}
END_TEST

/* The blocking fd variants (gotunnelctl): round trip, bad lengths, EOF, timeout. */
START_TEST(test_fd_roundtrip)
{
	int	 sv[2];
	size_t	 len;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(frame_write_fd(sv[0], "{\"type\":\"ctl\"}", 14), 0);
	ck_assert_int_eq(frame_write_fd(sv[0], "{}", 0), -1);
	ck_assert_int_eq(frame_read_fd(sv[1], buf, &len, 1000), 0);
	ck_assert_uint_eq(len, 14);
	ck_assert_str_eq(buf, "{\"type\":\"ctl\"}");
	/* Nothing more: times out. */
	ck_assert_int_eq(frame_read_fd(sv[1], buf, &len, 50), -1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_bad)
{
	int		 sv[2];
	size_t		 len;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], "\0\0\0\0{}", 6), 6);
	ck_assert_int_eq(frame_read_fd(sv[1], buf, &len, 1000), -1);
	close(sv[0]);
	close(sv[1]);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], "\0\1\0\1", 4), 4);	/* 65537 */
	ck_assert_int_eq(frame_read_fd(sv[1], buf, &len, 1000), -1);
	close(sv[0]);
	close(sv[1]);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], "\0\0\0\x0a{\"a\"", 8), 8);	/* EOF mid-payload */
	close(sv[0]);
	ck_assert_int_eq(frame_read_fd(sv[1], buf, &len, 1000), -1);
	close(sv[1]);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], "\0\0", 2), 2);		/* EOF mid-header */
	close(sv[0]);
	ck_assert_int_eq(frame_read_fd(sv[1], buf, &len, 1000), -1);
	close(sv[1]);
}
END_TEST

Suite *
suite_frame(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc = tcase_create("codec");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_check_length);
	tcase_add_test(tc, test_pull_one);
	tcase_add_test(tc, test_pull_split_bytewise);
	tcase_add_test(tc, test_pull_split_two_reads);
	tcase_add_test(tc, test_pull_coalesced);
	tcase_add_test(tc, test_pull_binary_payload);
	tcase_add_test(tc, test_pull_limits);
	tcase_add_test(tc, test_pull_max_incomplete);
	tcase_add_loop_test(tc, test_pull_bad_length, 0,
	    sizeof(bad_lengths) / sizeof(bad_lengths[0]));
	tcase_add_test(tc, test_pull_bad_length_split);
	tcase_add_test(tc, test_pull_good_then_bad);
	tcase_add_test(tc, test_push);
	tcase_add_test(tc, test_fd_roundtrip);
	tcase_add_test(tc, test_fd_bad);
	suite_add_tcase(s, tc);
	return s;
}
