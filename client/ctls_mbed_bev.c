/* SPDX-License-Identifier: ISC */
/*
 * ctls_mbed_bev.c: a bufferevent over an mbed TLS connection, for the
 * control connection and UDP flows of the static clients (libevent 2.1
 * has an OpenSSL bufferevent only).  A filter bufferevent over a socket
 * bufferevent: mbed TLS reads records from the socket bufferevent's input
 * and appends records to its output; the filter's own buffers hold clear
 * text.  Bounded: the socket's output takes new records only below
 * CTLS_BEV_WHIGH, and input is decrypted only as the socket bufferevent
 * reads it (which the filter suspends while the clear-text input is above
 * its high watermark).  An error or a failed handshake is an error event;
 * nothing is ever passed on in clear text.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent.h>

#include <mbedtls/ssl.h>

#include "ctls_mbed.h"

#define CTLS_BEV_WHIGH	(64 * 1024)	/* ciphertext queued for the socket */
#define CTLS_BEV_CHUNK	16384		/* clear text per mbedtls_ssl_read */

/* BIO send while a bufferevent carries c: queue the record. */
int
ctls_mbed_bev_send(struct ctls *c, const unsigned char *buf, size_t len)
{
	if (evbuffer_add(bufferevent_get_output(c->under), buf, len) == -1)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	return (int)len;
}

/* BIO receive while a bufferevent carries c: take what the socket gave. */
int
ctls_mbed_bev_recv(struct ctls *c, unsigned char *buf, size_t len)
{
	int n = evbuffer_remove(bufferevent_get_input(c->under), buf, len);

	return n > 0 ? n : MBEDTLS_ERR_SSL_WANT_READ;
}

/* Ends c with an error event (deferred: the owner may free the bev). */
static enum bufferevent_filter_result
ctls_bev_fail(struct ctls *c)
{
	c->failed = 1;
	bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR | BEV_EVENT_READING,
	    BEV_TRIG_DEFER_CALLBACKS);
	return BEV_ERROR;
}

/*
 * Input filter: finishes the handshake (then BEV_EVENT_CONNECTED), then
 * decrypts every complete record the socket delivered.  All of them, not
 * only up to dst_limit: clear text left inside mbed TLS would wait for
 * socket input that may never come.  The overshoot is bounded by one
 * socket read.
 */
static enum bufferevent_filter_result
ctls_bev_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t dst_limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct ctls		*c = arg;
	struct evbuffer_iovec	 v;
	int			 r, got = 0;

	if (c->failed)
		return BEV_ERROR;
	if (!c->hs_done) {
		switch (ctls_handshake(c)) {
		case TLS_IO_OK:
			bufferevent_trigger_event(c->bev, BEV_EVENT_CONNECTED,
			    BEV_TRIG_DEFER_CALLBACKS);
			/* Clear text queued during the handshake goes now. */
			bufferevent_flush(c->bev, EV_WRITE, BEV_NORMAL);
			break;
		case TLS_IO_WANT_READ:
		case TLS_IO_WANT_WRITE:
			return BEV_NEED_MORE;
		default:
			return ctls_bev_fail(c);
		}
	}
	for (;;) {
		if (evbuffer_reserve_space(dst, CTLS_BEV_CHUNK, &v, 1) < 1)
			return ctls_bev_fail(c);
		r = mbedtls_ssl_read(&c->ssl, v.iov_base, v.iov_len);
		v.iov_len = r > 0 ? (size_t)r : 0;
		evbuffer_commit_space(dst, &v, 1);
		if (r > 0) {
			got = 1;
			continue;
		}
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == 0) {
			/* The end (clean or not); what came before is kept. */
			c->failed = 1;
			bufferevent_trigger_event(c->bev, BEV_EVENT_EOF |
			    BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
			break;
		}
		c->err = r;
		ctls_bev_fail(c);
		break;
	}
	return got ? BEV_OK : BEV_NEED_MORE;
}

/* Output filter: encrypts clear text while the socket's queue has room. */
static enum bufferevent_filter_result
ctls_bev_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t dst_limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct ctls	*c = arg;
	enum tls_io	 io;
	size_t		 n;
	ssize_t		 w;

	if (c->failed)
		return BEV_ERROR;
	if (!c->hs_done)
		return BEV_OK;		/* kept until the handshake is done */
	while ((n = evbuffer_get_length(src)) > 0 &&
	    evbuffer_get_length(dst) < CTLS_BEV_WHIGH) {
		if (n > CTLS_BEV_CHUNK)
			n = CTLS_BEV_CHUNK;
		w = ctls_mbed_write(c, evbuffer_pullup(src, (ev_ssize_t)n), n, &io);
		if (w > 0)
			evbuffer_drain(src, (size_t)w);
		else if (io == TLS_IO_WANT_WRITE)
			break;
		else
			return ctls_bev_fail(c);
	}
	return BEV_OK;
}

/* Frees c with its filter bufferevent (the socket one closes the fd). */
static void
ctls_bev_free(void *arg)
{
	ctls_free(arg);
}

/*
 * A bufferevent over c on fd; takes fd and c on success (freeing the bev
 * frees c and closes fd).  connecting: the handshake starts now, and
 * BEV_EVENT_CONNECTED follows it; else it was done on fd already.
 */
struct bufferevent *
ctls_bev_new(struct event_base *base, int fd, struct ctls *c, int connecting)
{
	struct bufferevent *under, *bev;

	if ((under = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	/* Deferred callbacks: libevent then runs CONNECTED before the read
	 * callback and EOF or ERROR after it, the order the filter found them
	 * in (a handshake and the first records may end in one input call). */
	bev = bufferevent_filter_new(under, ctls_bev_in, ctls_bev_out,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, ctls_bev_free, c);
	if (bev == NULL) {
		bufferevent_setfd(under, -1);	/* the caller keeps fd */
		bufferevent_free(under);
		return NULL;
	}
	c->under = under;
	c->bev = bev;
	if (connecting) {
		c->hs_done = 0;
		/* The ClientHello goes into under's output now; the answer
		 * drives ctls_bev_in(). */
		switch (ctls_handshake(c)) {
		case TLS_IO_WANT_READ:
		case TLS_IO_WANT_WRITE:
			break;
		case TLS_IO_OK:		/* cannot happen before any answer */
			bufferevent_trigger_event(bev, BEV_EVENT_CONNECTED,
			    BEV_TRIG_DEFER_CALLBACKS);
			break;
		default:
			ctls_bev_fail(c);
			break;
		}
	}
	return bev;
}
