/* SPDX-License-Identifier: ISC */
/*
 * client_tls.c: the client's TLS context and its connections to the
 * server.  A client configured for TLS never falls back to clear text: a
 * failed handshake is logged and retried with back-off like any other
 * connection failure.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client.h"
#include "tls.h"

/* Builds the TLS context from the config (no-op when TLS is off). */
int
client_tls_init(char *err, size_t errlen)
{
	struct tls_client_opts o = {
		.ca_file = C->conf.tls_trusted_ca_file,
		.fingerprint = C->conf.server_fingerprint,
		.cert_file = C->conf.tls_cert_file,
		.key_file = C->conf.tls_key_file,
	};

	if (!C->conf.tls_enable)
		return 0;
	if ((C->tls_ctx = tls_client_ctx_new(&o, err, errlen)) == NULL)
		return -1;
	return 0;
}

/* A new client SSL for a master named sni (host or address), offering alpn. */
SSL *
client_tls_new(const char *sni, const char *alpn)
{
	SSL *ssl = SSL_new(C->tls_ctx);

	if (ssl == NULL)
		return NULL;
	if (tls_client_prepare(ssl, sni, alpn) == -1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

/* Logs why a TLS connection to server failed, a pin mismatch first
 * (ossl_err: the error libevent took off the queue, or 0). */
void
client_tls_log_failure(SSL *ssl, unsigned long ossl_err, const char *what,
    const char *server)
{
	char	got[TLS_FP_LEN], e[256];
	long	vr;

	if (ssl != NULL && tls_fp_mismatch(ssl, got)) {
		log_errorx("%s to %s: server certificate fingerprint mismatch: "
		    "expected %s, the server presented %s; not connecting",
		    what, server,
		    C->conf.server_fingerprint, got);
		ERR_clear_error();
		return;
	}
	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		log_errorx("%s to %s: server certificate not trusted: %s",
		    what, server,
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return;
	}
	if (ossl_err != 0)
		ERR_error_string_n(ossl_err, e, sizeof(e));
	else
		tls_error_string(e, sizeof(e));
	ERR_clear_error();
	log_errorx("%s to %s: TLS handshake failed: %s (does the server "
	    "have tls_cert_file set?)", what, server, e);
}
