/* SPDX-License-Identifier: ISC */
/*
 * net_random.c: random ids for sessions and data connections (master only).
 * Apart from net.c because it needs libsodium, which the client does not link.
 */
#include <sodium.h>

#include "net.h"

/* Writes 2 * nbytes random hex characters and a NUL. */
void
net_random_hex(char *out, size_t nbytes)
{
	unsigned char buf[64];

	if (nbytes > sizeof(buf))
		nbytes = sizeof(buf);
	randombytes_buf(buf, nbytes);
	sodium_bin2hex(out, nbytes * 2 + 1, buf, nbytes);
}
