/* SPDX-License-Identifier: ISC */
/*
 * totp.h: time-based one-time passwords (RFC 6238) for the console's
 * two-factor login: 30-second steps, HMAC-SHA1 (what authenticator apps
 * expect), 6 digits.  The HOTP maths is liboath's.
 */
#ifndef GOTUNNEL_TOTP_H
#define GOTUNNEL_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_STEP		30	/* seconds per code */
#define TOTP_DIGITS		6
#define TOTP_SKEW		1	/* steps of clock skew accepted each way */
#define TOTP_SECRET_LEN		20	/* bytes: 160 bits, RFC 4226's advice */
#define TOTP_SECRET_MAX		64
#define TOTP_B32_MAX		(TOTP_SECRET_MAX * 8 / 5 + 8)

int	 totp_code(const unsigned char *secret, size_t len, int64_t step,
	    int digits, char *out, size_t outsz);
int	 totp_verify(const unsigned char *secret, size_t len, int64_t now,
	    const char *code, int digits, int64_t last_step, int64_t *step);
int	 totp_base32(const unsigned char *secret, size_t len, char *out,
	    size_t outsz);

#endif
