/* SPDX-License-Identifier: ISC */
/*
 * ctls.h: the client's TLS backend, chosen at build time.  OpenSSL
 * (ctls_ossl.c) serves bin/gotunnel-client and the dynamic cross clients;
 * mbed TLS (ctls_mbed.c, ctls_mbed_bev.c) the static ones, which must stay
 * small (client/cross.mk).  Both check the server the same way (CA + name,
 * pinned fingerprint, or both), offer the same ALPN, send a client
 * certificate when configured, and never fall back to clear text.
 */
#ifndef GOTUNNEL_CTLS_H
#define GOTUNNEL_CTLS_H

#include <stddef.h>
#include <sys/types.h>

#include "relay.h"
#include "tls_io.h"

struct bufferevent;
struct event_base;
struct ctls_ctx;	/* trust settings and own certificate, shared */
struct ctls;		/* one connection to a master */

/* Why a handshake or a TLS connection failed (ctls_failure()). */
enum ctls_fail { CTLS_FAIL_NONE, CTLS_FAIL_PIN, CTLS_FAIL_VERIFY,
	CTLS_FAIL_OTHER };

const char	*ctls_library(void);
struct ctls_ctx	*ctls_ctx_new(const struct tls_client_opts *, char *err,
		    size_t errlen);
void		 ctls_ctx_free(struct ctls_ctx *);
struct ctls	*ctls_new(struct ctls_ctx *, int fd, const char *sni,
		    const char *alpn);
void		 ctls_free(struct ctls *);
enum tls_io	 ctls_handshake(struct ctls *);
const char	*ctls_version(struct ctls *);
enum ctls_fail	 ctls_failure(struct ctls *, struct bufferevent *,
		    char *detail, size_t len);
ssize_t		 ctls_read_fn(void *ctls, void *buf, size_t len);
int		 ctls_send_frame(struct ctls *, const char *json, size_t len);
size_t		 ctls_take_pending(struct ctls *, char *buf, size_t len);
struct bufferevent *ctls_bev_new(struct event_base *, int fd, struct ctls *,
		    int connecting);
struct relay	*ctls_relay_new(struct event_base *, int plain_fd, int fd,
		    struct ctls *, relay_done_fn, void *arg);

#endif
