/* SPDX-License-Identifier: ISC */
/* relay.h: a bounded, full-duplex, half-close-aware byte relay between two sockets. */
#ifndef GOTUNNEL_RELAY_H
#define GOTUNNEL_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct relay;
struct tbucket;

/* Called once when both directions are finished or one failed; the owner
 * then reads the counters and calls relay_free(). */
typedef void (*relay_done_fn)(struct relay *, void *arg, const char *reason);

struct relay	*relay_new(struct event_base *, int fd_a, int fd_b,
		    relay_done_fn, void *arg);
struct tls_io_ops;
struct relay	*relay_new_tlsio(struct event_base *, int fd_a, int fd_b,
		    const struct tls_io_ops *, void *conn_b, relay_done_fn,
		    void *arg);
/* relay_tls_ossl.c: relay_new_tlsio() for an OpenSSL SSL */
struct ssl_st;
struct relay	*relay_new_tls(struct event_base *, int fd_a, int fd_b,
		    struct ssl_st *ssl_b, relay_done_fn, void *arg);
void		 relay_free(struct relay *);
uint64_t	 relay_bytes_ab(const struct relay *);
uint64_t	 relay_bytes_ba(const struct relay *);
size_t		 relay_buffered(const struct relay *);
/*
 * Bandwidth limit (optional): bytes read from a (towards b) are taken from
 * ab, bytes read from b from ba; either may be NULL (unlimited, the default).
 * A bucket is owned by the caller, may be shared by many relays (all the
 * connections of a mapping) and must outlive them.  An empty bucket stops
 * reading in that direction; a timer resumes it (no busy loop).
 */
void		 relay_set_limit(struct relay *, struct tbucket *ab,
		    struct tbucket *ba);
size_t		 relay_pipe_capacity(void);
void		 relay_pipes_release_all(void);

#endif
