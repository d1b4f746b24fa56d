/* SPDX-License-Identifier: ISC */
/*
 * udprec.c: the record framing of UDP flows.  Each datagram is one record,
 * a 2-byte big-endian length and the datagram, so the stream of a data
 * connection can never split one datagram or merge two.
 */
#include <event2/buffer.h>

#include "udprec.h"

/* Finds the first whole record of in, without consuming it. */
enum udprec_result
udprec_peek(struct evbuffer *in, const unsigned char **dgram, size_t *len)
{
	unsigned char	 hdr[UDPREC_HDR];
	unsigned char	*p;
	size_t		 n;

	if (evbuffer_copyout(in, hdr, UDPREC_HDR) != UDPREC_HDR)
		return UDPREC_AGAIN;
	n = (size_t)hdr[0] << 8 | hdr[1];
	if (n > UDPREC_MAX)
		return UDPREC_BAD;
	if (evbuffer_get_length(in) < UDPREC_HDR + n)
		return UDPREC_AGAIN;
	if ((p = evbuffer_pullup(in, (ssize_t)(UDPREC_HDR + n))) == NULL)
		return UDPREC_AGAIN;
	*dgram = p + UDPREC_HDR;
	*len = n;
	return UDPREC_OK;
}

/* Consumes the record udprec_peek() returned (its datagram was len bytes). */
void
udprec_drain(struct evbuffer *in, size_t len)
{
	evbuffer_drain(in, UDPREC_HDR + len);
}

/* Appends one datagram as a record; -1 if it is too long or memory ran out. */
int
udprec_add(struct evbuffer *out, const void *dgram, size_t len)
{
	unsigned char hdr[UDPREC_HDR] = { (unsigned char)(len >> 8),
	    (unsigned char)len };

	if (len > UDPREC_MAX)
		return -1;
	if (evbuffer_expand(out, UDPREC_HDR + len) == -1 ||
	    evbuffer_add(out, hdr, sizeof(hdr)) == -1 ||
	    evbuffer_add(out, dgram, len) == -1)
		return -1;
	return 0;
}
