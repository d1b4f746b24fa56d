/* SPDX-License-Identifier: ISC */
/*
 * relay_tls_ossl.c: the TLS relay (relay_tls.c) over an OpenSSL SSL, for
 * the master and the OpenSSL client: relay_new_tls() and the tls_io_ops
 * it passes, with a write BIO that gathers records.
 *
 * OpenSSL sends each record with its own write(2), 16 KiB at most; the
 * relay's SSL_write of 64 KiB made four writes, and on loopback four
 * wake-ups of the peer.  The gather BIO keeps the records of one step
 * in a buffer (taken only while it holds bytes) and the relay flushes it
 * once per step (tls_io_ops.flush): one write(2) per 64 KiB, for one
 * memcpy of the records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "relay.h"
#include "relay_tls.h"
#include "tls.h"

#define RELAY_TLS_READ_AHEAD	(4 * (16 * 1024 + 256) + 512)

/* What the gather BIO holds: records not yet sent on fd. */
struct gather {
	int	 fd;
	char	*buf;		/* RELAY_TLS_BUF_ALLOC bytes, NULL while empty */
	size_t	 off, len;
};

static BIO_METHOD *gather_method;
static int	 gather_type;

/* Sends what it can of the gathered bytes: 0 (maybe some left) or -1. */
static int
gather_send(struct gather *g)
{
	ssize_t w;

	while (g->len > 0) {
		w = send(g->fd, g->buf + g->off, g->len, MSG_NOSIGNAL);
		if (w > 0) {
			g->off += (size_t)w;
			g->len -= (size_t)w;
		} else if (w == -1 && errno == EINTR)
			continue;
		else if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		else
			return -1;
	}
	if (g->buf != NULL) {
		relay_tls_buf_put(g->buf);
		g->buf = NULL;
	}
	g->off = 0;
	return 0;
}

/* BIO write: appends a record, sending the buffer first when it is full. */
static int
gather_write(BIO *b, const char *in, int inl)
{
	struct gather	*g = BIO_get_data(b);
	size_t		 n = inl > 0 ? (size_t)inl : 0;

	BIO_clear_retry_flags(b);
	if (g->len > 0 && g->off + g->len + n > RELAY_TLS_BUF_ALLOC) {
		if (gather_send(g) == -1)
			return -1;
		if (g->len > 0 && g->off > 0) {
			memmove(g->buf, g->buf + g->off, g->len);
			g->off = 0;
		}
		if (g->len + n > RELAY_TLS_BUF_ALLOC) {
			BIO_set_retry_write(b);
			return -1;
		}
	}
	if (n > RELAY_TLS_BUF_ALLOC) {		/* never for a TLS record */
		ssize_t w = send(g->fd, in, n, MSG_NOSIGNAL);

		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			BIO_set_retry_write(b);
		return w > 0 ? (int)w : -1;
	}
	if (g->buf == NULL)
		g->buf = relay_tls_buf_get();
	memcpy(g->buf + g->off + g->len, in, n);
	g->len += n;
	return inl;
}

/* BIO ctrl: flush sends; the rest is what SSL asks of any write BIO. */
static long
gather_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct gather *g = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		BIO_clear_retry_flags(b);
		if (gather_send(g) == -1)
			return 0;
		if (g->len > 0) {
			BIO_set_retry_write(b);
			return 0;
		}
		return 1;
	case BIO_CTRL_WPENDING:
		return (long)g->len;
	default:
		return 0;
	}
}

/* BIO destroy: drops what was not sent (the connection is going away). */
static int
gather_destroy(BIO *b)
{
	struct gather *g = BIO_get_data(b);

	if (g != NULL) {
		if (g->buf != NULL)
			relay_tls_buf_put(g->buf);
		free(g);
	}
	BIO_set_data(b, NULL);
	return 1;
}

/* A gather BIO writing to fd, or NULL (then the socket BIO stays). */
static BIO *
gather_new(int fd)
{
	struct gather	*g;
	BIO		*b;

	if (gather_method == NULL) {
		gather_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
		gather_method = BIO_meth_new(gather_type,
		    "gotunnel record gather");
		if (gather_method == NULL ||
		    !BIO_meth_set_write(gather_method, gather_write) ||
		    !BIO_meth_set_ctrl(gather_method, gather_ctrl) ||
		    !BIO_meth_set_destroy(gather_method, gather_destroy)) {
			BIO_meth_free(gather_method);
			gather_method = NULL;
			return NULL;
		}
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if ((b = BIO_new(gather_method)) == NULL) {
		free(g);
		return NULL;
	}
	g->fd = fd;
	BIO_set_data(b, g);
	BIO_set_init(b, 1);
	return b;
}

/* The gather BIO state of conn's write BIO, or NULL if it has another. */
static struct gather *
gather_of(void *conn)
{
	BIO *b = SSL_get_wbio(conn);

	if (b == NULL || gather_method == NULL ||
	    BIO_method_type(b) != gather_type)
		return NULL;
	return BIO_get_data(b);
}

/* SSL_read as tls_io_ops.read. */
static ssize_t
ossl_read(void *conn, void *buf, size_t len, enum tls_io *io)
{
	int r;

	ERR_clear_error();	/* SSL_get_error() reads the queue */
	r = SSL_read(conn, buf, (int)(len > 1 << 30 ? 1 << 30 : len));
	if (r > 0)
		return r;
	*io = tls_result(conn, r);
	return -1;
}

/* SSL_write as tls_io_ops.write (SSL_MODE_ENABLE_PARTIAL_WRITE is on). */
static ssize_t
ossl_write(void *conn, const void *buf, size_t len, enum tls_io *io)
{
	int w;

	ERR_clear_error();
	w = SSL_write(conn, buf, (int)(len > 1 << 30 ? 1 << 30 : len));
	if (w > 0)
		return w;
	*io = tls_result(conn, w);
	return -1;
}

/* SSL_shutdown (sends close_notify) as tls_io_ops.shutdown. */
static enum tls_io
ossl_shutdown(void *conn)
{
	int s;

	ERR_clear_error();
	if ((s = SSL_shutdown(conn)) >= 0)
		return TLS_IO_OK;
	return tls_result(conn, s) == TLS_IO_WANT_WRITE ? TLS_IO_WANT_WRITE :
	    TLS_IO_ERROR;
}

/* The queued OpenSSL error, as tls_io_ops.error. */
static const char *
ossl_error(void *conn, char *buf, size_t len)
{
	return tls_error_string(buf, len);
}

/* SSL_free as tls_io_ops.free. */
static void
ossl_free(void *conn)
{
	SSL_free(conn);
}

/* Sends the gathered records as tls_io_ops.flush. */
static enum tls_io
ossl_flush(void *conn)
{
	struct gather *g = gather_of(conn);

	if (g == NULL)
		return TLS_IO_OK;
	if (gather_send(g) == -1)
		return TLS_IO_ERROR;
	return g->len > 0 ? TLS_IO_WANT_WRITE : TLS_IO_OK;
}

/* Gathered bytes not yet sent, as tls_io_ops.unflushed. */
static size_t
ossl_unflushed(void *conn)
{
	struct gather *g = gather_of(conn);

	return g != NULL ? g->len : 0;
}

/* SSL_has_pending as tls_io_ops.pending (read-ahead bytes count too). */
static int
ossl_pending(void *conn)
{
	return SSL_has_pending(conn);
}

static const struct tls_io_ops ossl_ops = {
	ossl_read, ossl_write, ossl_shutdown, ossl_error, ossl_free,
	ossl_pending, ossl_flush, ossl_unflushed
};

/* Starts relaying plain fd_a <-> ssl on fd_b; takes both sockets and ssl. */
struct relay *
relay_new_tls(struct event_base *base, int fd_a, int fd_b, SSL *ssl,
    relay_done_fn fn, void *arg)
{
	BIO *gather;

	/* Read whole socket buffers rather than a header and a record at a
	 * time (half the syscalls); the relay reads while SSL_has_pending(),
	 * so what OpenSSL holds and epoll cannot see is never left behind. */
	SSL_set_read_ahead(ssl, 1);
	/* Four full records per read(2) on a bulk transfer (the buffer is
	 * released while idle: SSL_MODE_RELEASE_BUFFERS). */
	SSL_set_default_read_buffer_len(ssl, RELAY_TLS_READ_AHEAD);
	if ((gather = gather_new(fd_b)) != NULL)
		SSL_set0_wbio(ssl, gather);	/* drops the socket BIO's write ref */
	return relay_new_tlsio(base, fd_a, fd_b, &ossl_ops, ssl, fn, arg);
}
