/* SPDX-License-Identifier: ISC */
/*
 * udp.c: UDP mappings of the master.  The public UDP socket of a mapping
 * is read in the worker that owns the session; each public source address
 * is a flow.  A flow takes one data connection of the client (start with
 * "protocol":"udp") and then carries records, a 2-byte big-endian length
 * and one datagram, both ways (gotunnel-protocol(7)).  A flow that finds
 * no data connection free queues a bounded number of datagrams until one
 * comes; what does not fit is dropped and counted, and no flow ever waits
 * for another.  Flows end after udp_idle_timeout without a datagram.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "server.h"
#include "tls.h"
#include "udprec.h"
#include "xmalloc.h"

#define UDP_READS_PER_WAKEUP	64
#define UDP_FLOW_QUEUE_MAX	64	/* datagrams a waiting flow holds */
#define UDP_FLOW_QUEUE_BYTES	(256 * 1024)
#define UDP_WAITING_MAX		64	/* waiting flows per mapping */
#define UDP_OUT_HIGH		(256 * 1024)	/* a flow's unsent bytes to the client */
#define UDP_IN_HIGH		(4 * (UDPREC_MAX + UDPREC_HDR))
#define UDP_SOCKBUF		(4 * 1024 * 1024)

/* Why a datagram was dropped (gotunnel_udp_datagrams_dropped_total). */
enum udp_drop { UD_QUEUE_FULL, UD_NO_DATA_CONN, UD_CLIENT_SLOW,
	UD_SEND_FAILED, UD_TOO_LARGE, UD_REFUSED, UD_NREASONS };

static const char *const drop_names[UD_NREASONS] = {
	[UD_QUEUE_FULL] = "queue_full",
	[UD_NO_DATA_CONN] = "no_data_connection",
	[UD_CLIENT_SLOW] = "client_slow",
	[UD_SEND_FAILED] = "send_failed",
	[UD_TOO_LARGE] = "too_large",
	[UD_REFUSED] = "refused",
};

static uint64_t dropped[UD_NREASONS], dropped_flushing[UD_NREASONS];

struct udp_flow;
TAILQ_HEAD(udp_flow_list, udp_flow);

/* One public source address of a UDP mapping. */
struct udp_flow {
	TAILQ_ENTRY(udp_flow)	 entry;		/* udp_map's flows */
	TAILQ_ENTRY(udp_flow)	 wait_entry;	/* udp_map's waiting */
	struct udp_map		*um;
	struct sockaddr_storage	 src;
	socklen_t		 srclen;
	char			 peer[DB_ADDR_LEN];
	struct bufferevent	*bev;		/* the data connection, NULL while waiting */
	struct evbuffer		*queue;		/* records waiting for a data connection */
	unsigned		 nqueued;
	int			 waiting;
	struct event		 timer;		/* wait for data, then idle */
	struct timeval		 last;		/* last datagram either way */
};

/* The UDP side of a mapping (owned by the mapping). */
struct udp_map {
	struct mapping		*map;
	int			 fd;
	struct event		 ev;
	struct strmap		 by_peer;
	struct udp_flow_list	 flows;
	struct udp_flow_list	 waiting;
	unsigned		 nwaiting;
	time_t			 log_sec;	/* drops are logged once a second */
};

static void flow_close(struct udp_flow *, const char *reason);

/* Counts n dropped datagrams; logs at most once a second per mapping. */
static void
udp_drop(struct udp_map *um, const char *peer, enum udp_drop why, unsigned n)
{
	time_t now = time(NULL);

	if (n == 0)
		return;
	dropped[why] += n;
	if (um->log_sec == now)
		return;
	um->log_sec = now;
	log_warnx("port %u/udp: %u datagram(s) from %s dropped: %s",
	    um->map->remote_port, n, peer, drop_names[why]);
}

/*
 * Claim callback for a udp mapping: binds the public UDP port.  The probe
 * binds once without SO_REUSEPORT, so nobody else may hold the port.
 */
int
udp_bind_public(uint16_t port, int probe, void *arg)
{
	int *fd = arg, pfd;

	if (probe) {
		if ((pfd = net_udp_bind(W->conf.proxy_bind_addr, port, 0)) == -1)
			return -1;
		close(pfd);
	}
	*fd = net_udp_bind(W->conf.proxy_bind_addr, port, 1);
	return *fd == -1 ? -1 : 0;
}

/* Moves a flow's byte counts into its mapping, session and worker. */
static void
udp_account(struct udp_map *um, int in, size_t n)
{
	struct mapping	*map = um->map;
	struct session	*s = map->session;

	if (in) {
		map->bytes_in += n;
		s->bytes_in += n;
		W->flush_bytes_in += n;
	} else {
		map->bytes_out += n;
		s->bytes_out += n;
		W->flush_bytes_out += n;
	}
	s->dirty = 1;
}

/* Notes activity on a flow (the idle timer looks at it lazily). */
static void
flow_touch(struct udp_flow *f)
{
	event_base_gettimeofday_cached(W->base, &f->last);
}

/* Takes a flow off its mapping's waiting list. */
static void
flow_unwait(struct udp_flow *f)
{
	if (!f->waiting)
		return;
	TAILQ_REMOVE(&f->um->waiting, f, wait_entry);
	f->um->nwaiting--;
	f->waiting = 0;
}

/* Closes a flow: its data connection ends, and so the client's socket. */
static void
flow_close(struct udp_flow *f, const char *reason)
{
	struct udp_map	*um = f->um;
	struct mapping	*map = um->map;

	if (f->waiting)
		udp_drop(um, f->peer, UD_NO_DATA_CONN, f->nqueued);
	flow_unwait(f);
	event_del(&f->timer);
	strmap_del(&um->by_peer, f->peer);
	TAILQ_REMOVE(&um->flows, f, entry);
	map->live_conns--;
	map->session->live_conns--;
	map->session->dirty = 1;
	if (f->bev != NULL)
		bufferevent_free(f->bev);	/* closes the socket (and TLS) */
	if (f->queue != NULL)
		evbuffer_free(f->queue);
	log_debug("port %u/udp: flow from %s closed: %s", map->remote_port,
	    f->peer, reason);
	free(f);
}

/* Wait timeout, then idle timeout of a flow. */
static void
flow_timer(evutil_socket_t fd, short what, void *arg)
{
	struct udp_flow	*f = arg;
	struct timeval	 now, idle, since;

	if (f->waiting) {
		log_info("port %u/udp: no data connection from client %s in "
		    "%d s; dropping the flow from %s", f->um->map->remote_port,
		    f->um->map->session->name, WAIT_FOR_DATA_TIMEOUT, f->peer);
		flow_close(f, "no data connection");
		return;
	}
	event_base_gettimeofday_cached(W->base, &now);
	idle.tv_sec = W->conf.udp_idle_timeout;
	idle.tv_usec = 0;
	timersub(&now, &f->last, &since);
	if (!timercmp(&since, &idle, <)) {
		flow_close(f, "idle");
		return;
	}
	timersub(&idle, &since, &idle);
	evtimer_add(&f->timer, &idle);
}

/* Sends the records the client returned to the flow's public source. */
static void
flow_from_client(struct bufferevent *bev, void *arg)
{
	struct udp_flow		*f = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const unsigned char	*d;
	unsigned char		 hdr[UDPREC_HDR];
	size_t			 n;

	/* Bounded: the input holds at most UDP_IN_HIGH bytes. */
	for (;;) {
		switch (udprec_peek(in, &d, &n)) {
		case UDPREC_AGAIN:
			return;
		case UDPREC_BAD:
			evbuffer_copyout(in, hdr, sizeof(hdr));
			log_warnx("port %u/udp: client %s sent a record of %u "
			    "bytes (limit %d); closing the flow from %s",
			    f->um->map->remote_port, f->um->map->session->name,
			    (unsigned)hdr[0] << 8 | hdr[1], UDPREC_MAX, f->peer);
			flow_close(f, "bad record from the client");
			return;
		case UDPREC_OK:
			break;
		}
		if (sendto(f->um->fd, d, n, 0, (struct sockaddr *)&f->src,
		    f->srclen) == -1)
			udp_drop(f->um, f->peer, UD_SEND_FAILED, 1);
		else
			udp_account(f->um, 0, n);
		udprec_drain(in, n);
		flow_touch(f);
	}
}

/* EOF or error on a flow's data connection. */
static void
flow_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		flow_close(arg, (what & BEV_EVENT_EOF) ?
		    "data connection closed by the client" :
		    "data connection error");
}

/* Sends "start" on a data connection and makes it the flow's. */
static void
flow_pair(struct udp_flow *f, int dfd, SSL *ssl)
{
	struct msg	m;
	struct timeval	tv;

	msg_init(&m, MSG_START);
	msg_set_int(&m, F_REMOTE_PORT, f->um->map->remote_port);
	msg_set_str(&m, F_PEER, f->peer);
	msg_set_str(&m, F_PROTOCOL, "udp");
	if (tunnel_send_start(dfd, ssl, &m) == 0) {
		f->bev = ssl != NULL ?
		    bufferevent_openssl_socket_new(W->base, dfd, ssl,
		    BUFFEREVENT_SSL_OPEN, BEV_OPT_CLOSE_ON_FREE) :
		    bufferevent_socket_new(W->base, dfd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (f->bev == NULL) {
		SSL_free(ssl);
		close(dfd);
		flow_close(f, "data connection failed");
		return;
	}
	if (ssl != NULL)	/* a client that vanishes is an EOF */
		bufferevent_openssl_set_allow_dirty_shutdown(f->bev, 1);
	flow_unwait(f);
	bufferevent_setwatermark(f->bev, EV_READ, 0, UDP_IN_HIGH);
	bufferevent_setcb(f->bev, flow_from_client, NULL, flow_event, f);
	bufferevent_enable(f->bev, EV_READ | EV_WRITE);
	evbuffer_add_buffer(bufferevent_get_output(f->bev), f->queue);
	evbuffer_free(f->queue);
	f->queue = NULL;
	f->nqueued = 0;
	flow_touch(f);
	event_del(&f->timer);
	tv.tv_sec = W->conf.udp_idle_timeout;
	tv.tv_usec = 0;
	evtimer_add(&f->timer, &tv);
	log_debug("port %u/udp: flow from %s relayed for client %s",
	    f->um->map->remote_port, f->peer, f->um->map->session->name);
}

/*
 * A data connection came for session s: the oldest waiting flow of its
 * udp mappings takes it.  1 if taken, 0 if no flow waits.
 */
int
udp_data_conn(struct session *s, int fd, SSL *ssl)
{
	struct mapping	*map;
	struct udp_flow	*f;

	TAILQ_FOREACH(map, &s->mappings, entry) {
		if (map->udp == NULL ||
		    (f = TAILQ_FIRST(&map->udp->waiting)) == NULL)
			continue;
		flow_pair(f, fd, ssl);
		return 1;
	}
	return 0;
}

/* Starts a flow for a new source address; NULL if refused. */
static struct udp_flow *
flow_new(struct udp_map *um, const struct sockaddr_storage *ss,
    socklen_t sl, const char *peer)
{
	struct mapping	*map = um->map;
	struct session	*s = map->session;
	struct udp_flow	*f;
	struct timeval	 tv;
	int		 dfd;
	SSL		*dssl;

	/* allow_cidrs/deny_cidrs (acl.c; no socket to close: fd -1). */
	if (acl_refused(map, -1, (const struct sockaddr *)ss)) {
		udp_drop(um, peer, UD_REFUSED, 1);
		return NULL;
	}
	/* The mapping's limits count flows as connections (limit.c). */
	if (limit_refuse(map, (const struct sockaddr *)ss)) {
		udp_drop(um, peer, UD_REFUSED, 1);
		return NULL;
	}
	if (um->nwaiting >= UDP_WAITING_MAX && TAILQ_EMPTY(&s->pool)) {
		udp_drop(um, peer, UD_QUEUE_FULL, 1);
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->um = um;
	memcpy(&f->src, ss, sl);
	f->srclen = sl;
	snprintf(f->peer, sizeof(f->peer), "%s", peer);
	f->queue = evbuffer_new();
	evtimer_assign(&f->timer, W->base, flow_timer, f);
	strmap_put(&um->by_peer, f->peer, f);
	TAILQ_INSERT_TAIL(&um->flows, f, entry);
	map->live_conns++;
	map->total_conns++;
	s->live_conns++;
	s->dirty = 1;
	W->flush_new_conns++;
	f->waiting = 1;
	TAILQ_INSERT_TAIL(&um->waiting, f, wait_entry);
	um->nwaiting++;
	tv.tv_sec = WAIT_FOR_DATA_TIMEOUT;
	tv.tv_usec = 0;
	evtimer_add(&f->timer, &tv);
	if (tunnel_pool_take(s, &dfd, &dssl) == 0) {
		flow_pair(f, dfd, dssl);
		if (strmap_get(&um->by_peer, peer) == NULL)
			f = NULL;	/* the start failed and closed it */
	} else
		tunnel_request_data(s);
	tunnel_pool_refill(s);
	return f;
}

/* Passes one datagram from a public source to its flow. */
static void
flow_to_client(struct udp_flow *f, const unsigned char *buf, size_t n)
{
	struct evbuffer	*out;

	if (f->bev == NULL) {
		if (f->nqueued >= UDP_FLOW_QUEUE_MAX ||
		    evbuffer_get_length(f->queue) + UDPREC_HDR + n >
		    UDP_FLOW_QUEUE_BYTES) {
			udp_drop(f->um, f->peer, UD_QUEUE_FULL, 1);
			return;
		}
		out = f->queue;
		f->nqueued++;
	} else {
		out = bufferevent_get_output(f->bev);
		/* A client that does not keep up loses datagrams, not the worker. */
		if (evbuffer_get_length(out) + UDPREC_HDR + n > UDP_OUT_HIGH) {
			udp_drop(f->um, f->peer, UD_CLIENT_SLOW, 1);
			return;
		}
		flow_touch(f);
	}
	if (udprec_add(out, buf, n) == -1) {
		udp_drop(f->um, f->peer, UD_QUEUE_FULL, 1);
		return;
	}
	udp_account(f->um, 1, n);
}

/* Reads datagrams from the public UDP socket (bounded per wakeup). */
static void
udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct udp_map		*um = arg;
	static unsigned char	 buf[65536];

	for (int i = 0; i < UDP_READS_PER_WAKEUP; i++) {
		struct sockaddr_storage	 ss;
		socklen_t		 sl = sizeof(ss);
		struct udp_flow		*f;
		char			 peer[DB_ADDR_LEN];
		ssize_t			 n;

		n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC,
		    (struct sockaddr *)&ss, &sl);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNREFUSED)
				log_warn("port %u/udp: recvfrom",
				    um->map->remote_port);
			return;
		}
		net_addr_str((struct sockaddr *)&ss, peer, sizeof(peer));
		if (n > UDPREC_MAX) {
			udp_drop(um, peer, UD_TOO_LARGE, 1);
			continue;
		}
		if ((f = strmap_get(&um->by_peer, peer)) == NULL &&
		    (f = flow_new(um, &ss, sl, peer)) == NULL)
			continue;
		flow_to_client(f, buf, (size_t)n);
	}
}

/* Starts reading a udp mapping's bound public socket. */
void
udp_mapping_start(struct mapping *map, int fd)
{
	struct udp_map	*um = xcalloc(1, sizeof(*um));
	int		 size = UDP_SOCKBUF;

	/* Room for bursts of large datagrams (capped by net.core.*mem_max). */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	um->map = map;
	um->fd = fd;
	strmap_init(&um->by_peer);
	TAILQ_INIT(&um->flows);
	TAILQ_INIT(&um->waiting);
	map->udp = um;
	event_assign(&um->ev, W->base, fd, EV_READ | EV_PERSIST, udp_read, um);
	event_add(&um->ev, NULL);
}

/*
 * Graceful stop: closes the socket and every flow at once.  A flow has no
 * end to wait for, and without the socket no reply could reach its source.
 */
void
udp_mapping_stop(struct mapping *map)
{
	struct udp_map	*um = map->udp;
	struct udp_flow	*f;

	if (um == NULL || um->fd == -1)
		return;
	event_del(&um->ev);
	close(um->fd);
	um->fd = -1;
	while ((f = TAILQ_FIRST(&um->flows)) != NULL)
		flow_close(f, "server shutting down");
}

/* Closes a udp mapping's socket and all its flows. */
void
udp_mapping_free(struct mapping *map)
{
	struct udp_map	*um = map->udp;
	struct udp_flow	*f;

	if (um == NULL)
		return;
	while ((f = TAILQ_FIRST(&um->flows)) != NULL)
		flow_close(f, "client disconnected");
	if (um->fd != -1) {
		event_del(&um->ev);
		close(um->fd);
	}
	strmap_free(&um->by_peer);
	free(um);
	map->udp = NULL;
}

/* Tells whether dropped datagrams wait to be counted on disk. */
int
udp_flush_needed(void)
{
	for (int i = 0; i < UD_NREASONS; i++)
		if (dropped[i] != 0)
			return 1;
	return 0;
}

/* Adds the drops to the stored counters within the flush transaction. */
void
udp_flush_metrics(MDB_txn *txn)
{
	char name[128];

	for (int i = 0; i < UD_NREASONS; i++) {
		dropped_flushing[i] = dropped[i];
		if (dropped[i] == 0)
			continue;
		snprintf(name, sizeof(name),
		    "gotunnel_udp_datagrams_dropped_total{reason=\"%s\"}",
		    drop_names[i]);
		metrics_counter_add(&W->db, txn, name, dropped[i]);
	}
}

/* The flush committed: forget what it wrote. */
void
udp_flush_done(void)
{
	for (int i = 0; i < UD_NREASONS; i++) {
		dropped[i] -= dropped_flushing[i];
		dropped_flushing[i] = 0;
	}
}
