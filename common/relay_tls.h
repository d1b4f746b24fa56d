/* SPDX-License-Identifier: ISC */
/* relay_tls.h: the bounded relay between a plain socket and a TLS connection
 * (used by relay.c's relay_new_tls(); see relay.h for the public API). */
#ifndef GOTUNNEL_RELAY_TLS_H
#define GOTUNNEL_RELAY_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "tls_io.h"

struct event_base;
struct relay_tls;

typedef void (*relay_tls_done_fn)(void *owner, const char *reason);

struct relay_tls *relay_tls_new(struct event_base *, int pfd, int tfd,
		    const struct tls_io_ops *, void *conn, relay_tls_done_fn,
		    void *owner);
void		 relay_tls_free(struct relay_tls *);
uint64_t	 relay_tls_bytes_up(const struct relay_tls *);
uint64_t	 relay_tls_bytes_down(const struct relay_tls *);
size_t		 relay_tls_buffered(const struct relay_tls *);
void		 relay_tls_release_all(void);

/* The relay's buffers (plain bytes, gathered records): one size, reused. */
#define RELAY_TLS_BUF_ALLOC	(68 * 1024)
char		*relay_tls_buf_get(void);
void		 relay_tls_buf_put(char *);
struct tbucket;
void		 relay_tls_set_limit(struct relay_tls *, struct tbucket *up,
		    struct tbucket *down);

#endif
