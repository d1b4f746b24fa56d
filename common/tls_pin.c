/* SPDX-License-Identifier: ISC */
/* tls_pin.c: the syntax of a pinned server fingerprint (no TLS library
 * needed, so every client build shares it). */
#include <string.h>

#include "tls_io.h"

/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
int
tls_fingerprint_valid(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return 0;
	for (s += 7; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}
