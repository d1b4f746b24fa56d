/* SPDX-License-Identifier: ISC */
/* ctls_mbed.h: the mbed TLS backend's connection, shared by ctls_mbed.c
 * (handshake, checks, socket I/O) and ctls_mbed_bev.c (its bufferevent). */
#ifndef GOTUNNEL_CTLS_MBED_H
#define GOTUNNEL_CTLS_MBED_H

#include <stddef.h>

#include <mbedtls/ssl.h>

#include "ctls.h"
#include "tls_fp.h"

struct bufferevent;

struct ctls {
	struct ctls_ctx		*ctx;
	/* Per connection: mbed TLS 2.28 sets ALPN per config, and each data
	 * connection names its own worker.  The heavy parts (CAs, own
	 * certificate and key, random generator) are the context's. */
	mbedtls_ssl_config	 conf;
	mbedtls_ssl_context	 ssl;
	const char		*alpn_list[2];
	char			 alpn[64];
	char			 name[256];	/* the master's name or address */
	int			 fd;
	struct bufferevent	*under;	/* set: records go through its buffers */
	struct bufferevent	*bev;	/* the filter over under (ctls_mbed_bev.c) */
	int			 hs_done, failed;
	int			 err;	/* the last mbed TLS error, or 0 */
	int			 pin_bad;	/* got: what the server presented */
	char			 got[TLS_FP_LEN];
	size_t			 wpending;	/* a write that said WANT_WRITE */
};

/* ctls_mbed_bev.c: the BIO side while a bufferevent carries the records */
int	ctls_mbed_bev_send(struct ctls *, const unsigned char *, size_t);
int	ctls_mbed_bev_recv(struct ctls *, unsigned char *, size_t);
/* ctls_mbed.c */
ssize_t	ctls_mbed_write(struct ctls *, const void *, size_t, enum tls_io *);

#endif
