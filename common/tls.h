/* SPDX-License-Identifier: ISC */
/* tls.h: OpenSSL contexts for control and data connections, certificate
 * fingerprints, non-blocking I/O results, and the ClientHello peek. */
#ifndef GOTUNNEL_TLS_H
#define GOTUNNEL_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "tls_fp.h"
#include "tls_io.h"

SSL_CTX		*tls_server_ctx_new(const char *cert, const char *key,
		    const char *client_ca, int tls12, char *err, size_t errlen);
SSL_CTX		*tls_client_ctx_new(const struct tls_client_opts *,
		    char *err, size_t errlen);
int		 tls_client_prepare(SSL *, const char *server_name,
		    const char *alpn);
int		 tls_fp_mismatch(SSL *, char presented[TLS_FP_LEN]);
enum tls_io	 tls_result(SSL *, int ret);
ssize_t		 tls_read_fn(void *ssl, void *buf, size_t len);
int		 tls_send_frame(SSL *, const char *json, size_t len);
const char	*tls_error_string(char *buf, size_t len);
int		 tls_cert_create(const char *cert_path, const char *key_path,
		    const char *common_name, int days, char *err, size_t errlen);

/* tls_hello.c */
enum tls_peek { TLS_PEEK_NOT_TLS, TLS_PEEK_MORE, TLS_PEEK_OK, TLS_PEEK_BAD };
struct tls_hello {
	char	sni[256];	/* server_name, "" if none */
	char	alpn[64];	/* the first ALPN protocol, "" if none */
};
enum tls_peek	 tls_hello_parse(const unsigned char *, size_t,
		    struct tls_hello *);

#endif
