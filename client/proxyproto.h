/* SPDX-License-Identifier: ISC */
/* proxyproto.h: HAProxy's PROXY protocol header (v1 text, v2 binary). */
#ifndef GOTUNNEL_PROXYPROTO_H
#define GOTUNNEL_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXYPROTO_MAX	232	/* v2 with IPv6 addresses is 52; v1 at most 107 */

int	proxyproto_encode(int version, const char *peer,
	    const struct sockaddr *dst, char *out, size_t *len);
int	proxyproto_write(int fd, int version, const char *peer);

#endif
