/* SPDX-License-Identifier: ISC */
/*
 * client_tls.c: the client's TLS context and its connections to the
 * server, over the backend of this build (ctls.h).  A client configured
 * for TLS never falls back to clear text: a failed handshake is logged and
 * retried with back-off like any other connection failure.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "ctls.h"

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
	if ((C->tls_ctx = ctls_ctx_new(&o, err, errlen)) == NULL)
		return -1;
	return 0;
}

/* A new client connection on fd to a master named sni, offering alpn. */
struct ctls *
client_tls_new(int fd, const char *sni, const char *alpn)
{
	return ctls_new(C->tls_ctx, fd, sni, alpn);
}

/* Logs why a TLS connection to server failed, a pin mismatch first
 * (bev: the control connection's, which may hold the error, or NULL). */
void
client_tls_log_failure(struct ctls *c, struct bufferevent *bev,
    const char *what, const char *server)
{
	char e[256];

	switch (ctls_failure(c, bev, e, sizeof(e))) {
	case CTLS_FAIL_PIN:
		log_errorx("%s to %s: server certificate fingerprint mismatch: "
		    "expected %s, the server presented %s; not connecting",
		    what, server, C->conf.server_fingerprint, e);
		break;
	case CTLS_FAIL_VERIFY:
		log_errorx("%s to %s: server certificate not trusted: %s",
		    what, server, e);
		break;
	default:
		log_errorx("%s to %s: TLS handshake failed: %s (does the server "
		    "have tls_cert_file set?)", what, server, e);
		break;
	}
}
