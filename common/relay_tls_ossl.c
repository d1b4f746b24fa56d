/* SPDX-License-Identifier: ISC */
/*
 * relay_tls_ossl.c: the TLS relay (relay_tls.c) over an OpenSSL SSL, for
 * the master and the OpenSSL client: relay_new_tls() and the tls_io_ops
 * it passes.
 */
#include <errno.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "relay.h"
#include "tls.h"

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

/* SSL_has_pending as tls_io_ops.pending (read-ahead bytes count too). */
static int
ossl_pending(void *conn)
{
	return SSL_has_pending(conn);
}

static const struct tls_io_ops ossl_ops = {
	ossl_read, ossl_write, ossl_shutdown, ossl_error, ossl_free,
	ossl_pending
};

/* Starts relaying plain fd_a <-> ssl on fd_b; takes both sockets and ssl. */
struct relay *
relay_new_tls(struct event_base *base, int fd_a, int fd_b, SSL *ssl,
    relay_done_fn fn, void *arg)
{
	/* Read whole socket buffers rather than a header and a record at a
	 * time (half the syscalls); the relay reads while SSL_has_pending(),
	 * so what OpenSSL holds and epoll cannot see is never left behind. */
	SSL_set_read_ahead(ssl, 1);
	return relay_new_tlsio(base, fd_a, fd_b, &ossl_ops, ssl, fn, arg);
}
