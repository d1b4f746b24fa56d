/* SPDX-License-Identifier: ISC */
/*
 * relay_tls.c: the relay between a plain socket and a TLS connection
 * (a tunnel's data connection when TLS is on), over any TLS library's
 * struct tls_io_ops (OpenSSL: relay_tls_ossl.c; the static client's mbed
 * TLS: client/ctls_mbed.c).  The kernel cannot splice
 * through TLS, so each direction has one buffer: plain bytes are read
 * straight into the buffer SSL_write encrypts from, and SSL_read decrypts
 * straight into the buffer write(2) sends from: one copy each way, the
 * one encryption needs.  64 KiB per direction lets SSL_write emit four
 * full 16 KiB records per step, which the library may gather and send
 * with one write(2) (tls_io_ops.flush; relay_tls_ossl.c), and the reading
 * side decrypts records until its buffer is full before one write(2).
 *
 * Bounded like the splice relay: while a direction's buffer is full its
 * source is not read.  Buffers exist only while bytes are in flight, so an
 * idle connection holds none (and OpenSSL releases its record buffers,
 * SSL_MODE_RELEASE_BUFFERS).  Half-close: plain EOF sends close_notify
 * and keeps reading (TLS 1.3 allows it); close_notify from the peer
 * becomes shutdown(SHUT_WR) on the plain side.  A TLS connection that ends
 * without close_notify is an error (a truncation), not an EOF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "log.h"
#include "relay_tls.h"
#include "tbucket.h"
#include "tls_io.h"
#include "xmalloc.h"

#define RT_BUF		(64 * 1024)	/* of RELAY_TLS_BUF_ALLOC */
#define RT_ROUNDS	16	/* bound on work per wakeup, for fairness */
#define RT_FREE_BUFS	64	/* idle buffers kept for reuse (4 MiB) */
#define RT_LIMIT_CHUNK	(16 * 1024)	/* a limited direction waits for this much */
#define RT_RECORD_MAX	(16 * 1024)	/* largest TLS record payload */

struct rt_buf {
	char	*data;		/* NULL while empty */
	size_t	 off, len;
};

struct relay_tls {
	int		 pfd, tfd;
	const struct tls_io_ops *ops;
	void		*conn;		/* the TLS connection (ops) */
	struct rt_buf	 up;		/* plain -> TLS */
	struct rt_buf	 down;		/* TLS -> plain */
	int		 p_eof, t_eof, up_done, down_done;
	int		 want_write;	/* an SSL call waits for tfd writable */
	int		 want_read;	/* SSL_write/shutdown waits for tfd readable */
	int		 p_ready, t_ready;	/* a read may find bytes (rt_event) */
	uint64_t	 bytes_up, bytes_down;
	struct event	 ev_pr, ev_pw, ev_tr, ev_tw;
	struct event	 ev_more;	/* out of rounds with work left */
	struct tbucket	*lim_up, *lim_down;	/* bandwidth limits, or NULL */
	int		 throttled_up, throttled_down;
	struct event	 ev_lim_up, ev_lim_down;	/* tokens are back */
	relay_tls_done_fn done;
	void		*owner;
	int		 finished;
};

/*
 * Buffers of relays that went idle, for the next burst: a malloc/free pair
 * per burst would churn the allocator (and fill ASan's quarantine).
 */
static char	*free_bufs[RT_FREE_BUFS];
static int	 nfree_bufs;

/* A buffer of RELAY_TLS_BUF_ALLOC bytes (from the idle ones if any). */
char *
relay_tls_buf_get(void)
{
	return nfree_bufs > 0 ? free_bufs[--nfree_bufs] :
	    xmalloc(RELAY_TLS_BUF_ALLOC);
}

/* Gives a buffer back for reuse (or to malloc when enough are idle). */
void
relay_tls_buf_put(char *buf)
{
	if (nfree_bufs < RT_FREE_BUFS)
		free_bufs[nfree_bufs++] = buf;
	else
		free(buf);
}

/* Room at the tail of a buffer (taking one on first use). */
static size_t
buf_room(struct rt_buf *b)
{
	if (b->data == NULL)
		b->data = relay_tls_buf_get();
	if (b->len == 0)
		b->off = 0;
	else if (b->off + b->len == RT_BUF && b->off > 0 && b->len < RT_BUF / 2) {
		/* SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows moving pending bytes. */
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	return RT_BUF - b->off - b->len;
}

/* Gives an empty buffer back (to the free list, or to malloc). */
static void
buf_release(struct rt_buf *b)
{
	if (b->len == 0 && b->data != NULL) {
		relay_tls_buf_put(b->data);
		b->data = NULL;
		b->off = 0;
	}
}

/* Frees the idle buffers (process exit, for leak checkers). */
void
relay_tls_release_all(void)
{
	while (nfree_bufs > 0)
		free(free_bufs[--nfree_bufs]);
}

/* Ends the relay once and tells the owner. */
static void
rt_finish(struct relay_tls *rt, const char *reason)
{
	if (rt->finished)
		return;
	rt->finished = 1;
	event_del(&rt->ev_pr);
	event_del(&rt->ev_pw);
	event_del(&rt->ev_tr);
	event_del(&rt->ev_tw);
	event_del(&rt->ev_more);
	event_del(&rt->ev_lim_up);
	event_del(&rt->ev_lim_down);
	rt->done(rt->owner, reason);
}

/* How much of room a limited direction may read now (0: *throttled set). */
static size_t
rt_grant(struct tbucket *lim, size_t room, int *throttled)
{
	uint64_t granted;

	if (lim == NULL)
		return room;
	if ((granted = tbucket_take_min(lim, tbucket_now(), room,
	    RT_LIMIT_CHUNK)) == 0)
		*throttled = 1;
	return (size_t)granted;
}

/* Returns the tokens of a grant that a read did not use. */
static void
rt_give_back(struct tbucket *lim, size_t granted, ssize_t used)
{
	if (lim != NULL && (used < 0 || (size_t)used < granted))
		tbucket_give(lim, granted - (used > 0 ? (size_t)used : 0));
}

/* Arms a throttled direction's timer for when a chunk of tokens is back. */
static void
rt_throttle(struct tbucket *lim, struct event *timer)
{
	struct timeval tv;

	if (evtimer_pending(timer, NULL))
		return;
	tbucket_wait_tv(lim, RT_LIMIT_CHUNK, &tv);
	evtimer_add(timer, &tv);
}

/* Plain socket -> up buffer -> SSL_write; -1 on a fatal error. */
static int
rt_up(struct relay_tls *rt, int *progress)
{
	ssize_t	n;
	size_t	room;

	if (rt->p_ready && !rt->p_eof && !rt->throttled_up &&
	    (room = buf_room(&rt->up)) > 0 &&
	    (room = rt_grant(rt->lim_up, room, &rt->throttled_up)) > 0) {
		n = read(rt->pfd, rt->up.data + rt->up.off + rt->up.len, room);
		rt_give_back(rt->lim_up, room, n);
		/* A short read emptied the socket: the next read would only
		 * say EAGAIN, and epoll (level-triggered) reports new bytes. */
		if (n < 0 || (size_t)n < room)
			rt->p_ready = 0;
		if (n > 0) {
			rt->up.len += (size_t)n;
			*progress = 1;
		} else if (n == 0) {
			rt->p_eof = 1;
			*progress = 1;
		} else if (errno != EAGAIN && errno != EINTR)
			return -1;
	}
	/*
	 * SSL_write returns after each record (SSL_MODE_ENABLE_PARTIAL_WRITE):
	 * write them all, so that the library's gathered records leave in
	 * one write(2) at the step's flush.
	 */
	while (rt->up.len > 0) {
		enum tls_io	io;
		ssize_t		w = rt->ops->write(rt->conn,
				    rt->up.data + rt->up.off, rt->up.len, &io);

		if (w > 0) {
			rt->up.off += (size_t)w;
			rt->up.len -= (size_t)w;
			rt->bytes_up += (uint64_t)w;
			*progress = 1;
			continue;
		}
		switch (io) {
		case TLS_IO_WANT_WRITE:
			rt->want_write = 1;
			break;
		case TLS_IO_WANT_READ:
			rt->want_read = 1;
			break;
		default:
			return -1;
		}
		break;
	}
	if (rt->p_eof && rt->up.len == 0 && !rt->up_done) {
		enum tls_io s = rt->ops->shutdown(rt->conn);	/* close_notify */

		if (s == TLS_IO_OK) {
			rt->up_done = 1;
			*progress = 1;
		} else if (s == TLS_IO_WANT_WRITE)
			rt->want_write = 1;
		else
			return -1;
	}
	return 0;
}

/* SSL_read -> down buffer -> plain socket; -1 on a fatal error. */
static int
rt_down(struct relay_tls *rt, int *progress)
{
	ssize_t	n;
	size_t	room;

	/*
	 * Decrypt records until the buffer is full or the library and the
	 * socket are dry, then write once: a bulk transfer sends 64 KiB per
	 * write(2) rather than one 16 KiB record.
	 */
	while ((rt->t_ready || rt->ops->pending(rt->conn)) && !rt->t_eof &&
	    !rt->throttled_down && (room = buf_room(&rt->down)) > 0 &&
	    (room = rt_grant(rt->lim_down, room, &rt->throttled_down)) > 0) {
		enum tls_io	io;
		ssize_t		r = rt->ops->read(rt->conn, rt->down.data +
				    rt->down.off + rt->down.len, room, &io);

		rt_give_back(rt->lim_down, room, r);
		/*
		 * After a record shorter than the largest the socket is most
		 * likely empty (OpenSSL reads ahead: it took what the socket
		 * held): read again only for what the library still holds
		 * (ops->pending) or when epoll says so, rather than spend a
		 * read(2) on EAGAIN.  A full record means a bulk transfer:
		 * keep reading while the buffer has room.
		 */
		if (r < RT_RECORD_MAX)
			rt->t_ready = 0;

		if (r > 0) {
			rt->down.len += (size_t)r;
			*progress = 1;
			continue;
		}
		switch (io) {
		case TLS_IO_WANT_READ:
			break;
		case TLS_IO_WANT_WRITE:
			rt->want_write = 1;
			break;
		case TLS_IO_EOF:
			rt->t_eof = 1;
			*progress = 1;
			break;
		default:
			return -1;
		}
		break;
	}
	if (rt->down.len > 0) {
		n = write(rt->pfd, rt->down.data + rt->down.off, rt->down.len);
		if (n > 0) {
			rt->down.off += (size_t)n;
			rt->down.len -= (size_t)n;
			rt->bytes_down += (uint64_t)n;
			*progress = 1;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
	if (rt->t_eof && rt->down.len == 0 && !rt->down_done) {
		rt->down_done = 1;
		shutdown(rt->pfd, SHUT_WR);
	}
	return 0;
}

/* Sends the records the TLS library gathered; -1 on a fatal error. */
static int
rt_flush(struct relay_tls *rt, int *progress)
{
	size_t before;

	if (rt->ops->flush == NULL || (before = rt->ops->unflushed(rt->conn)) == 0)
		return 0;
	switch (rt->ops->flush(rt->conn)) {
	case TLS_IO_OK:
		*progress = 1;
		return 0;
	case TLS_IO_WANT_WRITE:
		if (rt->ops->unflushed(rt->conn) < before)
			*progress = 1;
		rt->want_write = 1;
		return 0;
	default:
		return -1;
	}
}

/* Bytes the TLS library gathered and has not sent yet. */
static size_t
rt_unflushed(const struct relay_tls *rt)
{
	return rt->ops->unflushed != NULL ? rt->ops->unflushed(rt->conn) : 0;
}

/* Sets an event on or off. */
static void
ev_set(struct event *ev, int on)
{
	if (on)
		event_add(ev, NULL);
	else
		event_del(ev);
}

/* Moves what it can both ways, then re-arms the events it needs. */
static void
rt_pump(struct relay_tls *rt)
{
	int progress = 1;

	for (int round = 0; progress && round < RT_ROUNDS; round++) {
		progress = 0;
		rt->want_write = rt->want_read = 0;
		if (rt_up(rt, &progress) == -1 || rt_down(rt, &progress) == -1 ||
		    rt_flush(rt, &progress) == -1) {
			char e[256];

			log_debug("TLS relay: %s (errno %d)",
			    rt->ops->error(rt->conn, e, sizeof(e)), errno);
			rt_finish(rt, errno == ECONNRESET || errno == EPIPE ?
			    "reset by peer" : "relay error");
			return;
		}
	}
	if (rt->up_done && rt->down_done && rt_unflushed(rt) == 0) {
		rt_finish(rt, "closed");
		return;
	}
	buf_release(&rt->up);
	buf_release(&rt->down);
	if (rt->throttled_up)
		rt_throttle(rt->lim_up, &rt->ev_lim_up);
	if (rt->throttled_down)
		rt_throttle(rt->lim_down, &rt->ev_lim_down);
	ev_set(&rt->ev_pr, !rt->p_eof && !rt->throttled_up &&
	    rt->up.off + rt->up.len < RT_BUF);
	ev_set(&rt->ev_pw, rt->down.len > 0);
	ev_set(&rt->ev_tr, rt->want_read || (!rt->t_eof && !rt->throttled_down &&
	    rt->down.off + rt->down.len < RT_BUF));
	ev_set(&rt->ev_tw, rt->want_write);
	/*
	 * Out of rounds with work left: continue after other events.  Its own
	 * event, since bytes OpenSSL already read ahead or decrypted may leave
	 * no socket event that would wake us (each round reads while OpenSSL
	 * holds bytes, so a pump that ends without progress has nothing
	 * complete left inside OpenSSL); a zero timeout rather than
	 * event_active(), which would run again before the loop polls anyone
	 * else's sockets (a busy relay would starve the others).
	 */
	if (progress) {
		struct timeval now = { 0, 0 };

		evtimer_add(&rt->ev_more, &now);
	}
}

/*
 * Libevent callback for any of the five events.  A readable event names
 * the one socket worth a read; any other event (a socket writable again,
 * the continuation timer) may have made room or left bytes behind, so
 * both are tried.  A read that finds nothing costs a syscall per relay
 * hop and direction: on a small-record ping-pong that was 3 of every 5.
 */
static void
rt_event(evutil_socket_t fd, short what, void *arg)
{
	struct relay_tls *rt = arg;

	if ((what & EV_READ) && fd == rt->pfd) {
		rt->p_ready = 1;
		rt->t_ready = rt->want_read;
	} else if ((what & EV_READ) && fd == rt->tfd) {
		rt->t_ready = 1;
		rt->p_ready = 0;
	} else
		rt->p_ready = rt->t_ready = 1;
	rt_pump(rt);
}

/* A throttled direction's tokens are back: read again. */
static void
rt_unthrottle_up(evutil_socket_t fd, short what, void *arg)
{
	struct relay_tls *rt = arg;

	rt->throttled_up = 0;
	rt->p_ready = 1;
	rt_pump(rt);
}

/* Likewise for TLS -> plain. */
static void
rt_unthrottle_down(evutil_socket_t fd, short what, void *arg)
{
	struct relay_tls *rt = arg;

	rt->throttled_down = 0;
	rt->t_ready = 1;
	rt_pump(rt);
}

/* Caps plain -> TLS (up) and TLS -> plain (down) by shared buckets. */
void
relay_tls_set_limit(struct relay_tls *rt, struct tbucket *up,
    struct tbucket *down)
{
	rt->lim_up = up;
	rt->lim_down = down;
}

/* Starts relaying pfd <-> conn (TLS on tfd); takes both sockets and conn. */
struct relay_tls *
relay_tls_new(struct event_base *base, int pfd, int tfd,
    const struct tls_io_ops *ops, void *conn, relay_tls_done_fn done,
    void *owner)
{
	struct relay_tls *rt = xcalloc(1, sizeof(*rt));

	rt->pfd = pfd;
	rt->tfd = tfd;
	rt->ops = ops;
	rt->conn = conn;
	rt->done = done;
	rt->owner = owner;
	rt->p_ready = rt->t_ready = 1;
	event_assign(&rt->ev_pr, base, pfd, EV_READ | EV_PERSIST, rt_event, rt);
	event_assign(&rt->ev_pw, base, pfd, EV_WRITE | EV_PERSIST, rt_event, rt);
	event_assign(&rt->ev_tr, base, tfd, EV_READ | EV_PERSIST, rt_event, rt);
	event_assign(&rt->ev_tw, base, tfd, EV_WRITE | EV_PERSIST, rt_event, rt);
	evtimer_assign(&rt->ev_more, base, rt_event, rt);
	evtimer_assign(&rt->ev_lim_up, base, rt_unthrottle_up, rt);
	evtimer_assign(&rt->ev_lim_down, base, rt_unthrottle_down, rt);
	/* Bytes may already wait inside the TLS library: pump once from the loop. */
	event_active(&rt->ev_more, EV_TIMEOUT, 0);
	return rt;
}

/* Stops the relay, closes both sockets and frees the TLS connection. */
void
relay_tls_free(struct relay_tls *rt)
{
	if (rt == NULL)
		return;
	event_del(&rt->ev_pr);
	event_del(&rt->ev_pw);
	event_del(&rt->ev_tr);
	event_del(&rt->ev_tw);
	event_del(&rt->ev_more);
	event_del(&rt->ev_lim_up);
	event_del(&rt->ev_lim_down);
	rt->ops->free(rt->conn);
	close(rt->pfd);
	close(rt->tfd);
	free(rt->up.data);
	free(rt->down.data);
	free(rt);
}

/* Bytes delivered plain -> TLS. */
uint64_t
relay_tls_bytes_up(const struct relay_tls *rt)
{
	return rt->bytes_up;
}

/* Bytes delivered TLS -> plain. */
uint64_t
relay_tls_bytes_down(const struct relay_tls *rt)
{
	return rt->bytes_down;
}

/* Bytes held in the two buffers. */
size_t
relay_tls_buffered(const struct relay_tls *rt)
{
	return rt->up.len + rt->down.len + rt_unflushed(rt);
}
