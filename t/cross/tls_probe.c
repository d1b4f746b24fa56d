/* SPDX-License-Identifier: ISC */
/*
 * tls_probe.c: what the client's TLS will pull in (an OpenSSL client
 * context, a handshake, libevent's OpenSSL bufferevent), linked into the
 * static client by t/cross/tls_size.sh only to measure its size.
 */
#include <openssl/ssl.h>
#include <event2/bufferevent_ssl.h>

/* Never called: referenced with -Wl,--undefined so the linker keeps it. */
void *
tls_probe_ref(struct event_base *base, int fd)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_client_method());
	SSL	*ssl = SSL_new(ctx);

	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_default_verify_paths(ctx);
	SSL_set_tlsext_host_name(ssl, "probe");
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, 0);
}
