/* SPDX-License-Identifier: ISC */
/* check_totp.c: RFC 6238 codes (the RFC's SHA-1 test vectors), skew, replay. */
#include <string.h>

#include <check.h>

#include "totp.h"
#include "suites.h"

/* RFC 6238 appendix B: the SHA-1 key is "12345678901234567890". */
static const unsigned char	rfc_key[] = "12345678901234567890";
#define RFC_KEY_LEN		20

static const struct {
	int64_t		 time;
	const char	*code;		/* 8 digits, as in the RFC */
} rfc_vectors[] = {
	{ 59, "94287082" },
	{ 1111111109, "07081804" },
	{ 1111111111, "14050471" },
	{ 1234567890, "89005924" },
	{ 2000000000, "69279037" },
	{ 20000000000LL, "65353130" },
};

#define NVECTORS	(sizeof(rfc_vectors) / sizeof(rfc_vectors[0]))

START_TEST(test_rfc6238_vectors)
{
	char	code[9];
	int64_t	step;

	for (size_t i = 0; i < NVECTORS; i++) {
		int64_t t = rfc_vectors[i].time;

		ck_assert_int_eq(totp_code(rfc_key, RFC_KEY_LEN, t / TOTP_STEP,
		    8, code, sizeof(code)), 0);
		ck_assert_str_eq(code, rfc_vectors[i].code);
		/* The verifier accepts the RFC's code at the RFC's time. */
		ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, t,
		    rfc_vectors[i].code, 8, -1, &step), 0);
		ck_assert_int_eq(step, t / TOTP_STEP);
		/* 6 digits (what apps show) are the low 6 of the 8. */
		ck_assert_int_eq(totp_code(rfc_key, RFC_KEY_LEN, t / TOTP_STEP,
		    6, code, sizeof(code)), 0);
		ck_assert_str_eq(code, rfc_vectors[i].code + 2);
		ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, t,
		    rfc_vectors[i].code + 2, TOTP_DIGITS, -1, &step), 0);
	}
}
END_TEST

START_TEST(test_skew_one_step)
{
	char	prev[8], next[8], far[8];
	int64_t	now = 1111111111, cur = now / TOTP_STEP, step;

	ck_assert_int_eq(totp_code(rfc_key, RFC_KEY_LEN, cur - 1, 6, prev,
	    sizeof(prev)), 0);
	ck_assert_int_eq(totp_code(rfc_key, RFC_KEY_LEN, cur + 1, 6, next,
	    sizeof(next)), 0);
	ck_assert_int_eq(totp_code(rfc_key, RFC_KEY_LEN, cur + 2, 6, far,
	    sizeof(far)), 0);
	ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, now, prev, 6, -1,
	    &step), 0);
	ck_assert_int_eq(step, cur - 1);
	ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, now, next, 6, -1,
	    &step), 0);
	ck_assert_int_eq(step, cur + 1);
	ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, now, far, 6, -1,
	    &step), -1);
}
END_TEST

START_TEST(test_replay_refused)
{
	char	code[8], old[8];
	int64_t	now = 1234567890, cur = now / TOTP_STEP, step = -1;

	ck_assert_int_eq(totp_code(rfc_key, RFC_KEY_LEN, cur, 6, code,
	    sizeof(code)), 0);
	ck_assert_int_eq(totp_code(rfc_key, RFC_KEY_LEN, cur - 1, 6, old,
	    sizeof(old)), 0);
	/* The same code again (last step = its step), or an older one. */
	ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, now, code, 6, cur,
	    &step), -1);
	ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, now, old, 6, cur,
	    &step), -1);
	ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, now, code, 6,
	    cur - 1, &step), 0);
	ck_assert_int_eq(step, cur);
}
END_TEST

START_TEST(test_malformed_codes)
{
	static const char *const bad[] = { "", "12345", "1234567", "12a456",
	    " 12345", "-12345", "123 45" };
	int64_t	step;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, 1234567890,
		    bad[i], 6, -1, &step), -1);
	ck_assert_int_eq(totp_verify(rfc_key, RFC_KEY_LEN, 1234567890, NULL,
	    6, -1, &step), -1);
	ck_assert_int_eq(totp_verify(rfc_key, 0, 1234567890, "123456", 6, -1,
	    &step), -1);
}
END_TEST

START_TEST(test_base32)
{
	char	b32[TOTP_B32_MAX];

	/* RFC 4648 section 10, padding dropped as otpauth:// URIs want. */
	ck_assert_int_eq(totp_base32((const unsigned char *)"foobar", 6, b32,
	    sizeof(b32)), 0);
	ck_assert_str_eq(b32, "MZXW6YTBOI");
	ck_assert_int_eq(totp_base32(rfc_key, RFC_KEY_LEN, b32, sizeof(b32)),
	    0);
	ck_assert_str_eq(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	ck_assert_int_eq(totp_base32(rfc_key, RFC_KEY_LEN, b32, 8), -1);
}
END_TEST

Suite *
suite_totp(void)
{
	Suite	*s = suite_create("totp");
	TCase	*tc = tcase_create("totp");

	tcase_add_test(tc, test_rfc6238_vectors);
	tcase_add_test(tc, test_skew_one_step);
	tcase_add_test(tc, test_replay_refused);
	tcase_add_test(tc, test_malformed_codes);
	tcase_add_test(tc, test_base32);
	suite_add_tcase(s, tc);
	return s;
}
