/* SPDX-License-Identifier: ISC */
/* tls_io.h: what every TLS library behind gotunnel shares, free of any
 * library's headers: the ALPN names, a client's trust options, the result
 * of one non-blocking step, and the connection operations a TLS relay
 * (relay_tls.c) drives. */
#ifndef GOTUNNEL_TLS_IO_H
#define GOTUNNEL_TLS_IO_H

#include <stddef.h>
#include <sys/types.h>

#define TLS_ALPN_CONTROL "gotunnel"
#define TLS_ALPN_DATA	"gotunnel-data/"	/* + the owning worker's index */

/* What a client context checks about the server. */
struct tls_client_opts {
	const char	*ca_file;	/* tls_trusted_ca_file, or NULL */
	const char	*fingerprint;	/* "sha256:<hex>", or NULL */
	const char	*cert_file;	/* client certificate (mutual TLS), or NULL */
	const char	*key_file;
};

/* Result of one non-blocking TLS step, in errno style. */
enum tls_io { TLS_IO_OK, TLS_IO_WANT_READ, TLS_IO_WANT_WRITE, TLS_IO_EOF,
	TLS_IO_ERROR };

/*
 * One established TLS connection as the relay sees it (conn is the
 * library's object, e.g. an OpenSSL SSL).  read and write return the bytes
 * moved (> 0) or -1 with *io saying why (WANT_READ, WANT_WRITE, EOF on
 * close_notify, ERROR); shutdown sends close_notify (OK when sent); error
 * describes the last failure; free releases conn (not its socket); pending
 * tells whether the library holds received bytes not yet returned by read
 * (epoll cannot see them).  flush sends what write gathered but has not
 * sent yet (OK: nothing left, WANT_WRITE: wait for the socket), unflushed
 * counts those bytes; a library that writes straight to the socket leaves
 * both NULL.
 */
struct tls_io_ops {
	ssize_t		(*read)(void *conn, void *buf, size_t len, enum tls_io *);
	ssize_t		(*write)(void *conn, const void *buf, size_t len,
			    enum tls_io *);
	enum tls_io	(*shutdown)(void *conn);
	const char	*(*error)(void *conn, char *buf, size_t len);
	void		(*free)(void *conn);
	int		(*pending)(void *conn);
	enum tls_io	(*flush)(void *conn);
	size_t		(*unflushed)(void *conn);
};

/* tls_pin.c */
int	tls_fingerprint_valid(const char *);

#endif
