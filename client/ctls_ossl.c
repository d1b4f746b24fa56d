/* SPDX-License-Identifier: ISC */
/*
 * ctls_ossl.c: the client's TLS backend on OpenSSL (ctls.h), a thin layer
 * over common/tls.c.  A struct ctls_ctx is an SSL_CTX and a struct ctls an
 * SSL: the casts below are the whole mapping.
 */
#include <stdio.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ctls.h"
#include "frame.h"
#include "tls.h"

/* The SSL behind a connection. */
static SSL *
S(struct ctls *c)
{
	return (SSL *)(void *)c;
}

/* The library and version, for -V. */
const char *
ctls_library(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}

/* A client context that checks the server as o says. */
struct ctls_ctx *
ctls_ctx_new(const struct tls_client_opts *o, char *err, size_t errlen)
{
	return (struct ctls_ctx *)(void *)tls_client_ctx_new(o, err, errlen);
}

/* Frees a context (connections keep their own reference). */
void
ctls_ctx_free(struct ctls_ctx *x)
{
	SSL_CTX_free((SSL_CTX *)(void *)x);
}

/* A client connection on fd to a master named sni, offering alpn. */
struct ctls *
ctls_new(struct ctls_ctx *x, int fd, const char *sni, const char *alpn)
{
	SSL *ssl = SSL_new((SSL_CTX *)(void *)x);

	if (ssl == NULL)
		return NULL;
	if (tls_client_prepare(ssl, sni, alpn) == -1 ||
	    SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return (struct ctls *)(void *)ssl;
}

/* Frees a connection (not its socket). */
void
ctls_free(struct ctls *c)
{
	SSL_free(S(c));
}

/* One non-blocking handshake step. */
enum tls_io
ctls_handshake(struct ctls *c)
{
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(S(c));
	return r == 1 ? TLS_IO_OK : tls_result(S(c), r);
}

/* The protocol version in use ("TLSv1.3"). */
const char *
ctls_version(struct ctls *c)
{
	return SSL_get_version(S(c));
}

/* Why c (or bev, which holds its error) failed: pin, chain, or other. */
enum ctls_fail
ctls_failure(struct ctls *c, struct bufferevent *bev, char *detail, size_t len)
{
	unsigned long	e = bev != NULL ? bufferevent_get_openssl_error(bev) : 0;
	long		vr;

	if (c != NULL && tls_fp_mismatch(S(c), detail)) {
		ERR_clear_error();
		return CTLS_FAIL_PIN;
	}
	if (c != NULL && (vr = SSL_get_verify_result(S(c))) != X509_V_OK) {
		snprintf(detail, len, "%s", X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return CTLS_FAIL_VERIFY;
	}
	if (e == 0)
		e = ERR_get_error();
	ERR_clear_error();
	if (e == 0) {
		snprintf(detail, len, "unknown error");
		return CTLS_FAIL_NONE;
	}
	ERR_error_string_n(e, detail, len);
	return CTLS_FAIL_OTHER;
}

/* A read function for hsread_step_io(): read(2) semantics. */
ssize_t
ctls_read_fn(void *c, void *buf, size_t len)
{
	return tls_read_fn(c, buf, len);
}

/* Writes one whole frame on a fresh connection; -1 if it did not fit. */
int
ctls_send_frame(struct ctls *c, const char *json, size_t len)
{
	return tls_send_frame(S(c), json, len);
}

/* Takes up to len bytes already decrypted inside c (before a hand-over). */
size_t
ctls_take_pending(struct ctls *c, char *buf, size_t len)
{
	size_t	n = 0;
	int	r;

	while (SSL_pending(S(c)) > 0 && n < len) {
		if ((r = SSL_read(S(c), buf + n, (int)(len - n))) <= 0)
			break;
		n += (size_t)r;
	}
	ERR_clear_error();
	return n;
}

/* A bufferevent over c on fd (connecting: the handshake is still to do);
 * takes fd and c on success.  BEV_EVENT_CONNECTED follows the handshake. */
struct bufferevent *
ctls_bev_new(struct event_base *base, int fd, struct ctls *c, int connecting)
{
	struct bufferevent *bev;

	bev = bufferevent_openssl_socket_new(base, fd, S(c), connecting ?
	    BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_OPEN,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* The bounded relay plain_fd <-> c on fd; takes both sockets and c. */
struct relay *
ctls_relay_new(struct event_base *base, int plain_fd, int fd, struct ctls *c,
    relay_done_fn fn, void *arg)
{
	return relay_new_tls(base, plain_fd, fd, S(c), fn, arg);
}
