/* SPDX-License-Identifier: ISC */
/*
 * totp.c: RFC 6238 codes and their check.  liboath computes the HOTP value
 * of one step; this file picks the steps (now +- TOTP_SKEW), compares in
 * constant time and refuses a step at or before the last one used, so a
 * code (or an older one) cannot be replayed.
 */
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "totp.h"

/* Initialises liboath once per process; 0 ok, -1 error. */
static int
totp_init(void)
{
	static int	done;

	if (!done) {
		if (oath_init() != OATH_OK)
			return -1;
		done = 1;
	}
	return 0;
}

/* Writes the digits-long code of time step `step` into out; 0 ok, -1 error. */
int
totp_code(const unsigned char *secret, size_t len, int64_t step, int digits,
    char *out, size_t outsz)
{
	if (totp_init() == -1 || len == 0 || len > TOTP_SECRET_MAX ||
	    step < 0 || digits < 6 || digits > 8 || outsz < (size_t)digits + 1)
		return -1;
	/* Step s is the time s * TOTP_STEP (start of the RFC's T0 = 0). */
	return oath_totp_generate((const char *)secret, len,
	    (time_t)(step * TOTP_STEP), TOTP_STEP, 0, (unsigned)digits,
	    out) == OATH_OK ? 0 : -1;
}

/*
 * Checks code against the steps around now.  0 and *step set when it
 * matches a step later than last_step; -1 when it is malformed, wrong, or
 * matches only a step already used (a replay).
 */
int
totp_verify(const unsigned char *secret, size_t len, int64_t now,
    const char *code, int digits, int64_t last_step, int64_t *step)
{
	char	 want[9];
	int64_t	 cur = now / TOTP_STEP, found = -1;
	int	 match;

	if (code == NULL || strlen(code) != (size_t)digits || now < 0)
		return -1;
	for (int i = 0; i < digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return -1;
	/* Every candidate is computed and compared: no early exit to time. */
	for (int64_t s = cur - TOTP_SKEW; s <= cur + TOTP_SKEW; s++) {
		if (s < 0)
			continue;
		if (totp_code(secret, len, s, digits, want, sizeof(want)) == -1)
			return -1;
		match = sodium_memcmp(want, code, (size_t)digits) == 0;
		if (match && s > last_step && found == -1)
			found = s;
	}
	sodium_memzero(want, sizeof(want));
	if (found == -1)
		return -1;
	*step = found;
	return 0;
}

/* Base32 (RFC 4648, no padding) of the secret for otpauth:// URIs. */
int
totp_base32(const unsigned char *secret, size_t len, char *out, size_t outsz)
{
	char	*b32 = NULL;
	size_t	 n = 0, o = 0;

	if (totp_init() == -1 ||
	    oath_base32_encode((const char *)secret, len, &b32, &n) != OATH_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (b32[i] == '=')
			break;
		if (o + 1 >= outsz) {
			free(b32);
			return -1;
		}
		out[o++] = b32[i];
	}
	out[o] = '\0';
	sodium_memzero(b32, n);
	free(b32);
	return 0;
}
