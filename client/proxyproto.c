/* SPDX-License-Identifier: ISC */
/*
 * proxyproto.c: writes HAProxy's PROXY protocol header (v1 text or v2
 * binary, see haproxy's doc/proxy-protocol.txt) before the first byte to
 * a local service, so it sees the public visitor's address.
 *
 * The source is the visitor ("peer" of the start message); the destination
 * is the local service's own address, the one the client dialed (the
 * public address is the master's and is not sent to the client).  Mixed
 * families become IPv6 with the IPv4 address mapped (::ffff:a.b.c.d).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxyproto.h"

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Parses "1.2.3.4:5" or "[v6]:5" into sa; 0 or -1. */
static int
parse_peer(const char *peer, struct sockaddr_storage *ss)
{
	char		 host[64];
	const char	*colon = strrchr(peer, ':');
	size_t		 n;
	char		*end;
	long		 port;

	if (colon == NULL)
		return -1;
	n = (size_t)(colon - peer);
	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, peer, n);
	host[n] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -1;
}

/* Turns an IPv4 address into its IPv4-mapped IPv6 form (in place). */
static void
map_v6(struct sockaddr_storage *ss)
{
	struct sockaddr_in	in = *(struct sockaddr_in *)ss;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)ss;

	if (ss->ss_family != AF_INET)
		return;
	memset(ss, 0, sizeof(*ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = in.sin_port;
	in6->sin6_addr.s6_addr[10] = 0xff;
	in6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&in6->sin6_addr.s6_addr[12], &in.sin_addr, 4);
}

/*
 * Encodes a header (version 1 or 2) for a connection from peer to dst into
 * out (PROXYPROTO_MAX bytes); an unparsable peer gives "UNKNOWN" (v1) or
 * the LOCAL command (v2).  0 or -1.
 */
int
proxyproto_encode(int version, const char *peer, const struct sockaddr *dst,
    char *out, size_t *len)
{
	struct sockaddr_storage	src, dest;
	int			known = 0;

	memset(&dest, 0, sizeof(dest));
	if (dst != NULL && (dst->sa_family == AF_INET || dst->sa_family == AF_INET6))
		memcpy(&dest, dst, dst->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	if (parse_peer(peer, &src) == 0 && dest.ss_family != 0) {
		known = 1;
		if (src.ss_family != dest.ss_family) {
			map_v6(&src);
			map_v6(&dest);
		}
	}
	if (version == 1) {
		char	sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
		int	n, v6 = src.ss_family == AF_INET6;

		if (!known) {
			n = snprintf(out, PROXYPROTO_MAX, "PROXY UNKNOWN\r\n");
		} else {
			inet_ntop(src.ss_family, v6 ?
			    (void *)&((struct sockaddr_in6 *)&src)->sin6_addr :
			    (void *)&((struct sockaddr_in *)&src)->sin_addr,
			    sa, sizeof(sa));
			inet_ntop(dest.ss_family, v6 ?
			    (void *)&((struct sockaddr_in6 *)&dest)->sin6_addr :
			    (void *)&((struct sockaddr_in *)&dest)->sin_addr,
			    da, sizeof(da));
			n = snprintf(out, PROXYPROTO_MAX, "PROXY %s %s %s %u %u\r\n",
			    v6 ? "TCP6" : "TCP4", sa, da, v6 ?
			    ntohs(((struct sockaddr_in6 *)&src)->sin6_port) :
			    ntohs(((struct sockaddr_in *)&src)->sin_port), v6 ?
			    ntohs(((struct sockaddr_in6 *)&dest)->sin6_port) :
			    ntohs(((struct sockaddr_in *)&dest)->sin_port));
		}
		if (n < 0 || n >= PROXYPROTO_MAX)
			return -1;
		*len = (size_t)n;
		return 0;
	}
	if (version != 2)
		return -1;
	memcpy(out, v2_sig, sizeof(v2_sig));
	if (!known) {
		out[12] = 0x20;		/* version 2, LOCAL */
		out[13] = 0x00;		/* UNSPEC */
		out[14] = out[15] = 0;
		*len = 16;
		return 0;
	}
	out[12] = 0x21;			/* version 2, PROXY */
	if (src.ss_family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&src;
		struct sockaddr_in *d = (struct sockaddr_in *)&dest;

		out[13] = 0x11;		/* TCP over IPv4 */
		out[14] = 0;
		out[15] = 12;
		memcpy(out + 16, &s->sin_addr, 4);
		memcpy(out + 20, &d->sin_addr, 4);
		memcpy(out + 24, &s->sin_port, 2);
		memcpy(out + 26, &d->sin_port, 2);
		*len = 28;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&dest;

		out[13] = 0x21;		/* TCP over IPv6 */
		out[14] = 0;
		out[15] = 36;
		memcpy(out + 16, &s->sin6_addr, 16);
		memcpy(out + 32, &d->sin6_addr, 16);
		memcpy(out + 48, &s->sin6_port, 2);
		memcpy(out + 50, &d->sin6_port, 2);
		*len = 52;
	}
	return 0;
}

/*
 * Writes the header on a just-connected socket to the local service.  Its
 * send buffer is empty, so the few bytes go in one call; 0 or -1.
 */
int
proxyproto_write(int fd, int version, const char *peer)
{
	struct sockaddr_storage	dst;
	socklen_t		sl = sizeof(dst);
	char			buf[PROXYPROTO_MAX];
	size_t			len;

	if (getpeername(fd, (struct sockaddr *)&dst, &sl) == -1)
		memset(&dst, 0, sizeof(dst));
	if (proxyproto_encode(version, peer, (struct sockaddr *)&dst, buf,
	    &len) == -1)
		return -1;
	return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)len ? 0 : -1;
}
