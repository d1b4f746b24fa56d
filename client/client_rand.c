/* SPDX-License-Identifier: ISC */
/*
 * client_rand.c: random numbers for the client (reconnect jitter) from the
 * kernel's getrandom(2), so that the client needs no crypto library.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

#include "client.h"

/* Fills buf with n random bytes; the kernel's pool never runs dry once seeded. */
static void
client_rand_buf(void *buf, size_t n)
{
	unsigned char	*p = buf;
	ssize_t		 got;

	/* Bounded: getrandom returns at least 256 bytes per call unless interrupted. */
	for (int tries = 0; n > 0 && tries < 1000; tries++) {
		if ((got = getrandom(p, n, 0)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		p += got;
		n -= (size_t)got;
	}
	if (n > 0)
		fatalx("getrandom: too many short reads");
}

/* A uniform random number in [0, upper), upper > 0 (rejection sampling, no modulo bias). */
uint32_t
client_rand_uniform(uint32_t upper)
{
	uint32_t r, min;

	if (upper < 2)
		return 0;
	min = -upper % upper;	/* 2^32 mod upper: values below it would bias */
	/* Each draw is rejected with probability < 1/2: 64 failures do not happen. */
	for (int tries = 0; tries < 64; tries++) {
		client_rand_buf(&r, sizeof(r));
		if (r >= min)
			break;
	}
	return r % upper;
}
