/* SPDX-License-Identifier: ISC */
/*
 * udp.c: UDP flows of the client.  The server starts a flow on a data
 * connection with "start" and "protocol":"udp"; from then on the data
 * connection carries records (a 2-byte big-endian length, then one
 * datagram) both ways.  Each flow sends to the local UDP service from a
 * socket of its own, so replies find their way back to the public source
 * of that flow.  The master ends idle flows by closing the data
 * connection; the flow follows.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "client.h"
#include "ctls.h"
#include "udprec.h"
#include "xmalloc.h"

#define UDP_MAX_FLOWS		4096
#define UDP_READS_PER_WAKEUP	64
#define UDP_OUT_HIGH		(256 * 1024)	/* unsent bytes to the server */
#define UDP_IN_HIGH		(4 * (UDPREC_MAX + UDPREC_HDR))

/* One flow: a data connection and a socket to the local service. */
struct uflow {
	TAILQ_ENTRY(uflow)	 entry;
	struct client_mapping	*map;
	struct bufferevent	*bev;		/* to the server (owns fd and TLS) */
	int			 ufd;		/* connected to the local service */
	struct event		 ev;
	char			 peer[DB_ADDR_LEN];
	uint64_t		 dropped;
};
TAILQ_HEAD(uflow_list, uflow);

static struct uflow_list	flows = TAILQ_HEAD_INITIALIZER(flows);
static unsigned			nflows;

/* Frees a flow: closes its local socket and its data connection. */
static void
uflow_free(struct uflow *f, const char *reason)
{
	TAILQ_REMOVE(&flows, f, entry);
	nflows--;
	event_del(&f->ev);
	close(f->ufd);
	bufferevent_free(f->bev);
	log_debug("mapping %s: udp flow from %s ended: %s%s", f->map->name,
	    f->peer, reason, f->dropped ? " (some datagrams dropped)" : "");
	free(f);
}

/* Sends the records from the server to the local service. */
static void
uflow_from_server(struct bufferevent *bev, void *arg)
{
	struct uflow		*f = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const unsigned char	*d;
	size_t			 n;

	/* Bounded: the input holds at most UDP_IN_HIGH bytes. */
	for (;;) {
		switch (udprec_peek(in, &d, &n)) {
		case UDPREC_AGAIN:
			return;
		case UDPREC_BAD:
			log_warnx("mapping %s: the server sent a record longer "
			    "than %d bytes", f->map->name, UDPREC_MAX);
			uflow_free(f, "bad record");
			return;
		case UDPREC_OK:
			break;
		}
		/* A full socket buffer loses the datagram, as UDP would. */
		if (send(f->ufd, d, n, 0) == -1)
			f->dropped++;
		udprec_drain(in, n);
	}
}

/* Reads the local service's replies and returns them to the flow. */
static void
uflow_from_local(evutil_socket_t fd, short what, void *arg)
{
	struct uflow		*f = arg;
	static unsigned char	 buf[65536];
	struct evbuffer		*out = bufferevent_get_output(f->bev);

	for (int i = 0; i < UDP_READS_PER_WAKEUP; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);

		if (n == -1) {
			/* ECONNREFUSED: the service is not up (ICMP); keep on. */
			return;
		}
		/* Too long, or the server not keeping up: lost, as UDP may. */
		if (evbuffer_get_length(out) + UDPREC_HDR + (size_t)n >
		    UDP_OUT_HIGH || udprec_add(out, buf, (size_t)n) == -1)
			f->dropped++;
	}
}

/* The server closed the flow (idle, or its session ended). */
static void
uflow_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		uflow_free(arg, (what & BEV_EVENT_EOF) ? "closed by the server" :
		    "data connection error");
}

/* Opens a UDP socket connected to the mapping's local service; -1 on error. */
static int
local_socket(struct client_mapping *map)
{
	struct addrinfo	 hints, *res = NULL;
	char		 port[8];
	int		 fd, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(port, sizeof(port), "%ld", map->local_port);
	if ((rc = getaddrinfo(map->local_ip, port, &hints, &res)) != 0) {
		log_warnx("mapping %s: cannot resolve %s: %s", map->name,
		    map->local_ip, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd != -1 && connect(fd, res->ai_addr, res->ai_addrlen) == -1) {
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		log_warn("mapping %s: udp socket to %s:%ld", map->name,
		    map->local_ip, map->local_port);
	freeaddrinfo(res);
	return fd;
}

/*
 * Starts a flow on a data connection that received "start" with
 * "protocol":"udp".  Takes fd and tls on success (0); -1 leaves them.
 */
int
udp_flow_start(struct client_mapping *map, int fd, struct ctls *tls,
    const char *peer)
{
	struct uflow	*f;
	char		 pend[16384];
	size_t		 n = 0;
	int		 ufd;

	if (nflows >= UDP_MAX_FLOWS) {
		log_warnx("mapping %s: too many udp flows; refusing %s",
		    map->name, peer);
		return -1;
	}
	if ((ufd = local_socket(map)) == -1)
		return -1;
	/* Records that came with "start" are already decrypted: keep them. */
	if (tls != NULL)
		n = ctls_take_pending(tls, pend, sizeof(pend));
	f = xcalloc(1, sizeof(*f));
	f->bev = tls != NULL ? ctls_bev_new(C->base, fd, tls, 0) :
	    bufferevent_socket_new(C->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (f->bev == NULL) {
		close(ufd);
		free(f);
		return -1;
	}
	if (n > 0)
		evbuffer_add(bufferevent_get_input(f->bev), pend, n);
	f->map = map;
	f->ufd = ufd;
	snprintf(f->peer, sizeof(f->peer), "%s", peer);
	TAILQ_INSERT_TAIL(&flows, f, entry);
	nflows++;
	bufferevent_setwatermark(f->bev, EV_READ, 0, UDP_IN_HIGH);
	bufferevent_setcb(f->bev, uflow_from_server, NULL, uflow_event, f);
	bufferevent_enable(f->bev, EV_READ | EV_WRITE);
	event_assign(&f->ev, C->base, ufd, EV_READ | EV_PERSIST,
	    uflow_from_local, f);
	event_add(&f->ev, NULL);
	log_debug("mapping %s: udp flow from %s", map->name, peer);
	if (n > 0)
		uflow_from_server(f->bev, f);
	return 0;
}

/* Frees every flow (exit). */
void
udp_free_all(void)
{
	while (!TAILQ_EMPTY(&flows))
		uflow_free(TAILQ_FIRST(&flows), "client exiting");
}
