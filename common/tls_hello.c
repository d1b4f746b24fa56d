/* SPDX-License-Identifier: ISC */
/*
 * tls_hello.c: reads the server name (SNI) and the first ALPN protocol of
 * a TLS ClientHello from bytes peeked off a socket, before any TLS library
 * sees them.  The worker uses ALPN to steer a data connection to the
 * worker that owns it while the TLS state can still move (nothing has
 * been consumed).  Every length is checked against what is there; only
 * the first record is read (a ClientHello that spans records is "BAD",
 * which callers treat as "no hint").
 */
#include <string.h>

#include "tls.h"

#define REC_HDR		5
#define REC_MAX		(16384 + 256)

/* A cursor over a bounded byte range. */
struct cur {
	const unsigned char	*p;
	size_t			 left;
};

/* Takes n bytes; NULL if fewer are left. */
static const unsigned char *
take(struct cur *c, size_t n)
{
	const unsigned char *p = c->p;

	if (c->left < n)
		return NULL;
	c->p += n;
	c->left -= n;
	return p;
}

/* Reads a big-endian integer of 1..3 bytes; -1 if too short. */
static long
take_int(struct cur *c, size_t n)
{
	const unsigned char	*p = take(c, n);
	long			 v = 0;

	if (p == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Narrows c to a sub-range whose length is the next n-byte integer. */
static int
take_vec(struct cur *c, size_t n, struct cur *sub)
{
	long len = take_int(c, n);

	if (len < 0 || (sub->p = take(c, (size_t)len)) == NULL)
		return -1;
	sub->left = (size_t)len;
	return 0;
}

/* Copies a name of n bytes if it is printable and fits. */
static void
copy_name(char *dst, size_t size, const unsigned char *src, size_t n)
{
	if (n == 0 || n >= size)
		return;
	for (size_t i = 0; i < n; i++)
		if (src[i] < 0x21 || src[i] > 0x7e)
			return;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* server_name extension: the first host_name entry. */
static int
parse_sni(struct cur ext, struct tls_hello *h)
{
	struct cur list, name;
	long type;

	if (take_vec(&ext, 2, &list) == -1)
		return -1;
	while (list.left > 0) {
		if ((type = take_int(&list, 1)) < 0 ||
		    take_vec(&list, 2, &name) == -1)
			return -1;
		if (type == 0) {
			copy_name(h->sni, sizeof(h->sni), name.p, name.left);
			return 0;
		}
	}
	return 0;
}

/* application_layer_protocol_negotiation extension: the first protocol. */
static int
parse_alpn(struct cur ext, struct tls_hello *h)
{
	struct cur list, proto;

	if (take_vec(&ext, 2, &list) == -1 || take_vec(&list, 1, &proto) == -1)
		return -1;
	copy_name(h->alpn, sizeof(h->alpn), proto.p, proto.left);
	return 0;
}

/* Parses the ClientHello in buf[0..len); see enum tls_peek. */
enum tls_peek
tls_hello_parse(const unsigned char *buf, size_t len, struct tls_hello *h)
{
	struct cur	c = { buf, len }, body, exts, ext;
	long		reclen, hslen, type;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return TLS_PEEK_MORE;
	if (buf[0] != 0x16)
		return TLS_PEEK_NOT_TLS;
	if (len < REC_HDR)
		return TLS_PEEK_MORE;
	if (buf[1] != 0x03)
		return TLS_PEEK_BAD;
	reclen = (long)buf[3] << 8 | buf[4];
	if (reclen < 4 || reclen > REC_MAX)
		return TLS_PEEK_BAD;
	if (len < REC_HDR + (size_t)reclen)
		return TLS_PEEK_MORE;
	c.p = buf + REC_HDR;
	c.left = (size_t)reclen;
	if (take_int(&c, 1) != 1)			/* client_hello */
		return TLS_PEEK_BAD;
	if ((hslen = take_int(&c, 3)) < 0 || (size_t)hslen > c.left)
		return TLS_PEEK_BAD;			/* spans records */
	body.p = c.p;
	body.left = (size_t)hslen;
	if (take(&body, 2 + 32) == NULL ||		/* version, random */
	    take_vec(&body, 1, &ext) == -1 ||		/* session id */
	    take_vec(&body, 2, &ext) == -1 ||		/* cipher suites */
	    take_vec(&body, 1, &ext) == -1)		/* compression */
		return TLS_PEEK_BAD;
	if (body.left == 0)
		return TLS_PEEK_OK;			/* no extensions */
	if (take_vec(&body, 2, &exts) == -1)
		return TLS_PEEK_BAD;
	while (exts.left > 0) {
		if ((type = take_int(&exts, 2)) < 0 ||
		    take_vec(&exts, 2, &ext) == -1)
			return TLS_PEEK_BAD;
		if (type == 0 && parse_sni(ext, h) == -1)
			return TLS_PEEK_BAD;
		if (type == 16 && parse_alpn(ext, h) == -1)
			return TLS_PEEK_BAD;
	}
	return TLS_PEEK_OK;
}
