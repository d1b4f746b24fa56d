/* SPDX-License-Identifier: ISC */
/*
 * cidr.h: source-address lists such as "10.0.0.0/8, 2001:db8::/32,
 * 192.0.2.7" (IPv4 and IPv6; a bare address is a /32 or /128), parsed
 * with clear errors and matched against a socket address.
 */
#ifndef GOTUNNEL_CIDR_H
#define GOTUNNEL_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CIDR_MAX	32		/* entries per list */
#define CIDR_STR_MAX	1024		/* the list as text, NUL included */

struct cidr {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	uint8_t		bits;		/* prefix length */
	uint8_t		addr[16];	/* network, host bits cleared */
};

struct cidr_list {
	size_t		n;
	struct cidr	v[CIDR_MAX];
};

int	cidr_list_parse(const char *, struct cidr_list *, char *err,
	    size_t errlen);
int	cidr_list_match(const struct cidr_list *, const struct sockaddr *);
size_t	cidr_list_next(const char **, const char **item);

#endif
