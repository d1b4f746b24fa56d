/* SPDX-License-Identifier: ISC */
/* udprec.h: UDP datagrams as records on a data connection (a 2-byte
 * big-endian length, then the datagram; gotunnel-protocol(7)). */
#ifndef GOTUNNEL_UDPREC_H
#define GOTUNNEL_UDPREC_H

#include <stddef.h>

struct evbuffer;

#define UDPREC_MAX	65507	/* largest IPv4 UDP payload, the longest record */
#define UDPREC_HDR	2

enum udprec_result {
	UDPREC_OK,	/* *dgram, *len: one datagram; udprec_drain() it after use */
	UDPREC_AGAIN,	/* no whole record yet */
	UDPREC_BAD	/* a length above UDPREC_MAX: close the connection */
};

enum udprec_result udprec_peek(struct evbuffer *, const unsigned char **dgram,
		    size_t *len);
void	udprec_drain(struct evbuffer *, size_t len);
int	udprec_add(struct evbuffer *, const void *dgram, size_t len);

#endif
