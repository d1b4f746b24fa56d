/* SPDX-License-Identifier: ISC */
/*
 * relay.c: moves bytes between two sockets with splice(2) through a pipe per
 * direction (zero copy; measured 3-4x faster than a bufferevent copy loop),
 * falling back to read/write through a fixed buffer where splice is refused.
 *
 * Bounded: each direction holds at most one pipe's worth of bytes; while it
 * is full the source is not read (backpressure reaches the sender through
 * TCP).  Half-close: EOF on one side becomes shutdown(SHUT_WR) on the other
 * once the pipe is drained, and the other direction keeps flowing.
 * Pipes are taken only while bytes are in flight and returned to a small
 * free list, so an idle relayed connection holds no pipe.
 * Bandwidth: an optional token bucket per direction caps what is read from
 * the source; while it is empty the source is not read and a timer, not a
 * loop, resumes the direction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "log.h"
#include "relay.h"
#include "relay_tls.h"
#include "tbucket.h"
#include "xmalloc.h"

#define RELAY_PIPE_SIZE		(256 * 1024)
#define RELAY_COPY_SIZE		(16 * 1024)
#define RELAY_FREE_PIPES	64
#define RELAY_PUMP_ROUNDS	8	/* bound on work per wakeup, for fairness */
#define RELAY_LIMIT_CHUNK	(16 * 1024)	/* a limited direction waits for this much */

struct relay_dir {
	int		 src, dst;
	int		 pipe[2];	/* -1 while no bytes are in flight */
	size_t		 inflight;	/* bytes in the pipe or the copy buffer */
	char		*copybuf;	/* copy mode only */
	size_t		 copyoff;
	int		 copy_mode;
	int		 eof;		/* src said EOF */
	int		 done;		/* EOF forwarded as SHUT_WR */
	uint64_t	 bytes;		/* delivered to dst */
	struct event	*rev;		/* src readable */
	struct event	*wev;		/* dst writable */
	struct tbucket	*limit;		/* NULL: unlimited */
	struct event	*limit_timer;	/* resumes reading once tokens are back;
					   made with the limit (most relays
					   have none, and a held connection
					   should not pay 128 bytes for it) */
	int		 throttled;	/* the bucket was empty on the last fill */
};

struct relay {
	int		 fd_a, fd_b;
	relay_done_fn	 done_fn;
	void		*arg;
	int		 finished;
	struct relay_tls *tls;		/* set: b is TLS, see relay_tls.c */
	/* The splice relay's state: not allocated for a TLS relay (RELAY_HEAD). */
	struct relay_dir ab, ba;
	struct event	 ev_read_a, ev_read_b, ev_write_a, ev_write_b;
};

/* What a TLS relay allocates: relay_tls.c has its own events and buffers. */
#define RELAY_HEAD	offsetof(struct relay, ab)

static int	free_pipes[RELAY_FREE_PIPES][2];
static int	nfree_pipes;
static size_t	pipe_capacity = RELAY_PIPE_SIZE;

static void relay_pump(struct relay *, struct relay_dir *);

/* The number of bytes one direction may hold. */
size_t
relay_pipe_capacity(void)
{
	return pipe_capacity;
}

/* Takes a pipe from the free list or makes one; -1 when out of descriptors. */
static int
pipe_get(int p[2])
{
	if (nfree_pipes > 0) {
		nfree_pipes--;
		p[0] = free_pipes[nfree_pipes][0];
		p[1] = free_pipes[nfree_pipes][1];
		return 0;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	if (fcntl(p[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE) == -1)
		pipe_capacity = 65536;	/* the default pipe size */
	return 0;
}

/* Returns an empty pipe to the free list (or closes it). */
static void
pipe_put(int p[2])
{
	if (nfree_pipes < RELAY_FREE_PIPES) {
		free_pipes[nfree_pipes][0] = p[0];
		free_pipes[nfree_pipes][1] = p[1];
		nfree_pipes++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

/* Closes every cached pipe and frees idle TLS buffers (process exit,
 * for leak checkers). */
void
relay_pipes_release_all(void)
{
	relay_tls_release_all();
	while (nfree_pipes > 0) {
		nfree_pipes--;
		close(free_pipes[nfree_pipes][0]);
		close(free_pipes[nfree_pipes][1]);
	}
}

/* Ends the relay once: stops events and tells the owner. */
static void
relay_finish(struct relay *r, const char *reason)
{
	if (r->finished)
		return;
	r->finished = 1;
	event_del(&r->ev_read_a);
	event_del(&r->ev_read_b);
	event_del(&r->ev_write_a);
	event_del(&r->ev_write_b);
	if (r->ab.limit_timer != NULL)
		event_del(r->ab.limit_timer);
	if (r->ba.limit_timer != NULL)
		event_del(r->ba.limit_timer);
	r->done_fn(r, r->arg, reason);
}

/* Libevent callback: a throttled direction (a to b) may read again. */
static void
relay_limit_ab(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;

	relay_pump(r, &r->ab);
}

/* Libevent callback: a throttled direction (b to a) may read again. */
static void
relay_limit_ba(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;

	relay_pump(r, &r->ba);
}

/* Libevent callback: a socket became readable or writable. */
static void
relay_event(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;

	if (what & EV_READ)
		relay_pump(r, fd == r->fd_a ? &r->ab : &r->ba);
	else
		relay_pump(r, fd == r->fd_b ? &r->ab : &r->ba);
}

/*
 * Moves what it can from src into the pipe (or buffer); -1 on error.
 * *dry is set on a short read: the socket is empty for now, and asking
 * again would only cost a syscall that answers EAGAIN (level-triggered
 * epoll wakes us when more arrives).
 */
static int
dir_fill(struct relay_dir *d, int *progress, int *dry)
{
	ssize_t	 n;
	size_t	 room = (d->copy_mode ? RELAY_COPY_SIZE : pipe_capacity) - d->inflight;
	uint64_t granted = 0;

	if (d->eof || room == 0)
		return 0;
	if (d->limit != NULL) {
		granted = tbucket_take_min(d->limit, tbucket_now(), room,
		    RELAY_LIMIT_CHUNK);
		if (granted == 0) {
			d->throttled = 1;
			*dry = 1;
			return 0;
		}
		room = (size_t)granted;
	}
	if (!d->copy_mode) {
		if (d->pipe[0] == -1 && pipe_get(d->pipe) == -1) {
			log_warn("relay: pipe");
			if (d->limit != NULL)
				tbucket_give(d->limit, granted);
			return -1;
		}
		n = splice(d->src, NULL, d->pipe[1], NULL, room,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1 && errno == EINVAL && d->inflight == 0) {
			/* This socket pair cannot splice: copy instead. */
			pipe_put(d->pipe);
			d->copy_mode = 1;
			d->copybuf = xmalloc(RELAY_COPY_SIZE);
			if (d->limit != NULL)
				tbucket_give(d->limit, granted);
			return dir_fill(d, progress, dry);
		}
	} else {
		if (d->copyoff > 0) {
			memmove(d->copybuf, d->copybuf + d->copyoff, d->inflight);
			d->copyoff = 0;
		}
		n = read(d->src, d->copybuf + d->inflight, room);
	}
	/* Unused tokens go back: the grant was only an upper bound. */
	if (d->limit != NULL && (n < 0 || (uint64_t)n < granted))
		tbucket_give(d->limit, granted - (n > 0 ? (uint64_t)n : 0));
	if (n > 0) {
		d->inflight += (size_t)n;
		*progress = 1;
		if ((size_t)n < room)
			*dry = 1;
	} else if (n == 0) {
		d->eof = 1;
		*progress = 1;
	} else if (errno != EAGAIN && errno != EINTR)
		return -1;
	else
		*dry = 1;
	return 0;
}

/* Moves what it can from the pipe (or buffer) to dst; -1 on error. */
static int
dir_drain(struct relay_dir *d, int *progress)
{
	ssize_t n;

	if (d->inflight == 0)
		return 0;
	if (!d->copy_mode)
		n = splice(d->pipe[0], NULL, d->dst, NULL, d->inflight,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	else
		n = write(d->dst, d->copybuf + d->copyoff, d->inflight);
	if (n > 0) {
		d->inflight -= (size_t)n;
		d->bytes += (uint64_t)n;
		if (d->copy_mode)
			d->copyoff = d->inflight == 0 ? 0 : d->copyoff + (size_t)n;
		*progress = 1;
	} else if (n == -1 && errno != EAGAIN && errno != EINTR)
		return -1;
	return 0;
}

/* Stops reading a direction until its bucket has a chunk of tokens again. */
static void
dir_throttle(struct relay_dir *d)
{
	struct timeval tv;

	event_del(d->rev);
	if (evtimer_pending(d->limit_timer, NULL))
		return;
	tbucket_wait_tv(d->limit, RELAY_LIMIT_CHUNK, &tv);
	evtimer_add(d->limit_timer, &tv);
}

/* Runs one direction as far as it goes, then re-arms its events. */
static void
relay_pump(struct relay *r, struct relay_dir *d)
{
	int progress = 1, dry = 0;

	d->throttled = 0;
	for (int round = 0; progress && round < RELAY_PUMP_ROUNDS; round++) {
		progress = 0;
		if ((!dry && dir_fill(d, &progress, &dry) == -1) ||
		    dir_drain(d, &progress) == -1) {
			relay_finish(r, errno == ECONNRESET || errno == EPIPE ?
			    "reset by peer" : "relay error");
			return;
		}
	}
	if (d->inflight == 0 && d->pipe[0] != -1)
		pipe_put(d->pipe);
	if (d->eof && d->inflight == 0 && !d->done) {
		d->done = 1;
		shutdown(d->dst, SHUT_WR);
	}
	if (r->ab.done && r->ba.done) {
		relay_finish(r, "closed");
		return;
	}
	/* Watermark: read only while there is room, write only while bytes wait. */
	if (d->throttled)
		dir_throttle(d);
	else if (!d->eof && d->inflight < (d->copy_mode ? RELAY_COPY_SIZE : pipe_capacity))
		event_add(d->rev, NULL);
	else
		event_del(d->rev);
	if (d->inflight > 0)
		event_add(d->wev, NULL);
	else
		event_del(d->wev);
}

/* Sets up one direction. */
static void
dir_init(struct relay_dir *d, int src, int dst, struct event *rev,
    struct event *wev)
{
	memset(d, 0, sizeof(*d));
	d->src = src;
	d->dst = dst;
	d->pipe[0] = d->pipe[1] = -1;
	d->rev = rev;
	d->wev = wev;
}

/* Starts relaying between two connected non-blocking sockets (takes both). */
struct relay *
relay_new(struct event_base *base, int fd_a, int fd_b, relay_done_fn fn,
    void *arg)
{
	struct relay *r = xcalloc(1, sizeof(*r));

	r->fd_a = fd_a;
	r->fd_b = fd_b;
	r->done_fn = fn;
	r->arg = arg;
	event_assign(&r->ev_read_a, base, fd_a, EV_READ | EV_PERSIST, relay_event, r);
	event_assign(&r->ev_read_b, base, fd_b, EV_READ | EV_PERSIST, relay_event, r);
	event_assign(&r->ev_write_a, base, fd_a, EV_WRITE | EV_PERSIST, relay_event, r);
	event_assign(&r->ev_write_b, base, fd_b, EV_WRITE | EV_PERSIST, relay_event, r);
	dir_init(&r->ab, fd_a, fd_b, &r->ev_read_a, &r->ev_write_b);
	dir_init(&r->ba, fd_b, fd_a, &r->ev_read_b, &r->ev_write_a);
	event_add(&r->ev_read_a, NULL);
	event_add(&r->ev_read_b, NULL);
	return r;
}

/* The TLS relay ended: tell the owner as a plain relay would. */
static void
relay_tls_done(void *owner, const char *reason)
{
	struct relay *r = owner;

	r->finished = 1;
	r->done_fn(r, r->arg, reason);
}

/*
 * Starts relaying between plain socket fd_a and TLS connection conn on
 * fd_b (takes both sockets and conn; ops are its library's, tls_io.h).
 * Counters and relay_free() work as for relay_new(); a <-> b directions
 * keep their meaning.  OpenSSL callers use relay_new_tls().
 */
struct relay *
relay_new_tlsio(struct event_base *base, int fd_a, int fd_b,
    const struct tls_io_ops *ops, void *conn, relay_done_fn fn, void *arg)
{
	struct relay *r = xcalloc(1, RELAY_HEAD);	/* the head only */

	r->fd_a = fd_a;
	r->fd_b = fd_b;
	r->done_fn = fn;
	r->arg = arg;
	r->tls = relay_tls_new(base, fd_a, fd_b, ops, conn, relay_tls_done, r);
	return r;
}

/* Releases one direction's pipe and buffer. */
static void
dir_free(struct relay_dir *d)
{
	if (d->pipe[0] != -1) {
		/* A pipe with bytes left in it cannot be reused. */
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	if (d->limit_timer != NULL)
		event_free(d->limit_timer);
	free(d->copybuf);
}

/* Stops the relay and closes both sockets. */
void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	if (r->tls != NULL) {
		relay_tls_free(r->tls);	/* closes both sockets */
		free(r);
		return;
	}
	event_del(&r->ev_read_a);
	event_del(&r->ev_read_b);
	event_del(&r->ev_write_a);
	event_del(&r->ev_write_b);
	dir_free(&r->ab);
	dir_free(&r->ba);
	close(r->fd_a);
	close(r->fd_b);
	free(r);
}

/* Bytes delivered from a to b. */
uint64_t
relay_bytes_ab(const struct relay *r)
{
	if (r->tls != NULL)
		return relay_tls_bytes_up(r->tls);
	return r->ab.bytes;
}

/* Bytes delivered from b to a. */
uint64_t
relay_bytes_ba(const struct relay *r)
{
	if (r->tls != NULL)
		return relay_tls_bytes_down(r->tls);
	return r->ba.bytes;
}

/* Bytes held in flight in both directions. */
size_t
relay_buffered(const struct relay *r)
{
	if (r->tls != NULL)
		return relay_tls_buffered(r->tls);
	return r->ab.inflight + r->ba.inflight;
}

/* Caps each direction by a shared bucket (NULL: unlimited); see relay.h. */
void
relay_set_limit(struct relay *r, struct tbucket *ab, struct tbucket *ba)
{
	if (r->tls != NULL) {
		relay_tls_set_limit(r->tls, ab, ba);
		return;
	}
	r->ab.limit = ab;
	r->ba.limit = ba;
	if (ab != NULL && r->ab.limit_timer == NULL)
		r->ab.limit_timer = evtimer_new(event_get_base(&r->ev_read_a),
		    relay_limit_ab, r);
	if (ba != NULL && r->ba.limit_timer == NULL)
		r->ba.limit_timer = evtimer_new(event_get_base(&r->ev_read_a),
		    relay_limit_ba, r);
	if ((ab != NULL && r->ab.limit_timer == NULL) ||
	    (ba != NULL && r->ba.limit_timer == NULL))
		fatalx("relay: out of memory for a limit timer");
}
