/* SPDX-License-Identifier: ISC */
/*
 * tunnel.c: public listeners, public connections, the pool of ready data
 * connections, and pairing the two into relays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "frame.h"
#include "log.h"
#include "proto.h"
#include "relay.h"
#include "server.h"
#include "tls.h"
#include "xmalloc.h"

static void pubconn_close(struct pubconn *, const char *reason);
static void pubconn_wait_timeout(evutil_socket_t, short, void *);

/* Moves relay byte counts not yet counted into the mapping and session. */
void
tunnel_account(struct pubconn *pc)
{
	struct mapping	*map = pc->mapping;
	uint64_t	 in, out;

	if (pc->relay == NULL)
		return;
	in = relay_bytes_ab(pc->relay);
	out = relay_bytes_ba(pc->relay);
	if (in == pc->flushed_in && out == pc->flushed_out)
		return;
	map->bytes_in += in - pc->flushed_in;
	map->bytes_out += out - pc->flushed_out;
	map->session->bytes_in += in - pc->flushed_in;
	map->session->bytes_out += out - pc->flushed_out;
	W->flush_bytes_in += in - pc->flushed_in;
	W->flush_bytes_out += out - pc->flushed_out;
	pc->flushed_in = in;
	pc->flushed_out = out;
	map->session->dirty = 1;
}

/* Relay finished: record it and free the connection. */
static void
relay_done(struct relay *r, void *arg, const char *reason)
{
	pubconn_close(arg, reason);
}

/* Sends a start message on a data connection (TLS if ssl); 0 or -1. */
int
tunnel_send_start(int dfd, SSL *ssl, const struct msg *m)
{
	char	json[512];
	size_t	len;

	if (proto_encode(m, json, &len) == -1)
		return -1;
	if (ssl != NULL)
		return tls_send_frame(ssl, json, len);
	return frame_send_fd(dfd, json, len) == (ssize_t)(FRAME_HDR + len) ?
	    0 : -1;
}

/* Sends "start" on a pooled data connection (TLS if ssl) and relays it with pc. */
static void
tunnel_pair(struct pubconn *pc, int dfd, SSL *ssl)
{
	struct msg	m;

	msg_init(&m, MSG_START);
	msg_set_int(&m, F_REMOTE_PORT, pc->mapping->remote_port);
	msg_set_str(&m, F_MAPPING, pc->mapping->name);	/* vhosts share a port */
	msg_set_str(&m, F_PEER, pc->peer);
	if (tunnel_send_start(dfd, ssl, &m) == -1) {
		SSL_free(ssl);
		close(dfd);
		pubconn_close(pc, "data connection failed");
		return;
	}
	if (pc->waiting) {
		TAILQ_REMOVE(&pc->mapping->session->waiting, pc, wait_entry);
		pc->mapping->session->nwaiting--;
		pc->waiting = 0;
		event_del(&pc->wait_timer);
	}
	pc->relay = ssl != NULL ?
	    relay_new_tls(W->base, pc->fd, dfd, ssl, relay_done, pc) :
	    relay_new(W->base, pc->fd, dfd, relay_done, pc);
	limit_relay(pc->mapping, pc->relay);
	log_debug("port %u: %s relayed for client %s",
	    pc->mapping->remote_port, pc->peer, pc->mapping->session->name);
}

/* Closes a public connection, whatever its state, and records it. */
static void
pubconn_close(struct pubconn *pc, const char *reason)
{
	struct mapping *map = pc->mapping;

	tunnel_account(pc);
	flush_conn_closed(pc, reason);
	if (pc->waiting) {
		TAILQ_REMOVE(&map->session->waiting, pc, wait_entry);
		map->session->nwaiting--;
		event_del(&pc->wait_timer);
	}
	TAILQ_REMOVE(&map->conns, pc, entry);
	map->live_conns--;
	map->session->live_conns--;
	map->session->dirty = 1;
	if (pc->relay != NULL)
		relay_free(pc->relay);	/* closes both sockets */
	else
		close(pc->fd);
	vhost_pump_free(pc->pump);	/* http: the visitor's socket */
	log_debug("port %u: connection from %s closed: %s", map->remote_port,
	    pc->peer, reason);
	free(pc);
}

/* Closes a public connection for another file (vhost_pump.c). */
void
tunnel_pubconn_close(struct pubconn *pc, const char *reason)
{
	pubconn_close(pc, reason);
}

/*
 * Tells whether a waiting visitor has already left (EOF or error).  An
 * HTTP visitor whose head the vhost pump has read may have half-closed
 * after its request: never taken as gone.
 */
static int
pubconn_gone(struct pubconn *pc)
{
	char	b;
	ssize_t	n;

	if (pc->pump != NULL)
		return 0;
	n = recv(pc->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR);
}

/*
 * Closes waiting visitors that already left, in every session.  Called
 * when accept runs out of descriptors: they hold descriptors that the
 * data connections they wait for would need, and would otherwise keep
 * them for WAIT_FOR_DATA_TIMEOUT.  Bounded by the waiting queues.
 */
void
tunnel_reap_waiting(void)
{
	struct session	*s;
	struct pubconn	*pc, *next;

	TAILQ_FOREACH(s, &W->sessions, entry)
		for (pc = TAILQ_FIRST(&s->waiting); pc != NULL; pc = next) {
			next = TAILQ_NEXT(pc, wait_entry);
			if (pubconn_gone(pc))
				pubconn_close(pc, "visitor left while waiting");
		}
}

/* A public connection waited too long for a data connection. */
static void
pubconn_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pubconn *pc = arg;

	log_info("port %u: no data connection from client %s in %d s; "
	    "closing %s", pc->mapping->remote_port, pc->mapping->session->name,
	    WAIT_FOR_DATA_TIMEOUT, pc->peer);
	pubconn_close(pc, "no data connection");
}

/* Frees a ticket (used, expired or its session closed). */
void
tunnel_ticket_free(struct data_ticket *t)
{
	strmap_del(&W->tickets_by_id, t->id);
	TAILQ_REMOVE(&t->session->tickets, t, entry);
	t->session->ntickets--;
	free(t);
}

/* Sends one open_data with a fresh one-time id. */
void
tunnel_request_data(struct session *s)
{
	struct data_ticket	*t;
	struct msg		 m;
	char			 hex[33];

	if (s->ntickets >= MAX_WAITING_PER_SESSION)
		return;
	t = xcalloc(1, sizeof(*t));
	net_random_hex(hex, 16);
	snprintf(t->id, sizeof(t->id), "%d.%s", W->index, hex);
	t->session = s;
	t->expires = time(NULL) + DATA_ID_TTL;
	strmap_put(&W->tickets_by_id, t->id, t);
	TAILQ_INSERT_TAIL(&s->tickets, t, entry);
	s->ntickets++;
	msg_init(&m, MSG_OPEN_DATA);
	msg_set_str(&m, F_DATA_ID, t->id);
	control_send(s, &m);
}

/* Asks the client for data connections until the ready pool is covered. */
void
tunnel_pool_refill(struct session *s)
{
	if (s->closing || !s->registered || W->stopping)
		return;
	/* Bounded per call; the heartbeat timer tops up the rest. */
	for (int i = 0; i < 64 && s->pool_size + s->ntickets < s->pool_target; i++)
		tunnel_request_data(s);
}

/* Takes a ready data connection out of the pool; 0, or -1 if empty. */
int
tunnel_pool_take(struct session *s, int *fd, SSL **ssl)
{
	struct dataconn *dc;

	if ((dc = TAILQ_FIRST(&s->pool)) == NULL)
		return -1;
	TAILQ_REMOVE(&s->pool, dc, entry);
	s->pool_size--;
	event_del(&dc->ev);
	*fd = dc->fd;
	*ssl = dc->ssl;
	free(dc);
	return 0;
}

/* Frees an idle pooled data connection. */
static void
dataconn_free(struct dataconn *dc)
{
	TAILQ_REMOVE(&dc->session->pool, dc, entry);
	dc->session->pool_size--;
	event_del(&dc->ev);
	SSL_free(dc->ssl);
	close(dc->fd);
	free(dc);
}

/* An idle data connection spoke or closed: it is of no use any more. */
static void
dataconn_idle_read(evutil_socket_t fd, short what, void *arg)
{
	struct dataconn	*dc = arg;
	struct session	*s = dc->session;

	dataconn_free(dc);
	tunnel_pool_refill(s);
}

/* Re-arms a mapping's listener after a pause for descriptors. */
static void
mapping_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct mapping *map = arg;

	if (map->fd != -1)
		event_add(&map->ev_accept, NULL);
}

/*
 * Takes a new public connection of map (accepted here, or the socketpair
 * end of an HTTP visitor's pump, owned from now on) and pairs it with a
 * data connection, now or when one comes.  Closes fd if a limit refuses.
 */
void
tunnel_pubconn_add(struct mapping *map, int fd, const struct sockaddr *sa,
    struct vhost_pump *pump)
{
	struct session	*s = map->session;
	struct timeval	 wait_tv = { WAIT_FOR_DATA_TIMEOUT, 0 };
	struct pubconn	*pc;
	SSL		*dssl;
	int		 dfd;

	if (acl_refused(map, fd, sa)) {		/* closed, counted, logged by acl.c */
		vhost_pump_free(pump);
		return;
	}
	if (limit_refuse(map, sa)) {
		vhost_pump_free(pump);
		close(fd);	/* at once: counted and logged by limit.c */
		return;
	}
	/* No TCP_NODELAY here: accepted sockets inherit it from net_listen(). */
	pc = xcalloc(1, sizeof(*pc));
	pc->mapping = map;
	pc->fd = fd;
	pc->pump = pump;
	if (pump != NULL)
		vhost_pump_attach(pump, pc);	/* runs while pc waits, bounded */
	pc->id = ++W->conn_seq;
	pc->since = time(NULL);
	net_addr_str(sa, pc->peer, sizeof(pc->peer));
	TAILQ_INSERT_TAIL(&map->conns, pc, entry);
	map->live_conns++;
	map->total_conns++;
	s->live_conns++;
	s->dirty = 1;
	W->flush_new_conns++;
	if (tunnel_pool_take(s, &dfd, &dssl) == 0)
		tunnel_pair(pc, dfd, dssl);
	else {
		pc->waiting = 1;
		TAILQ_INSERT_TAIL(&s->waiting, pc, wait_entry);
		s->nwaiting++;
		evtimer_assign(&pc->wait_timer, W->base,
		    pubconn_wait_timeout, pc);
		evtimer_add(&pc->wait_timer, &wait_tv);
		/*
		 * Its own request: a data connection the client failed
		 * to open must not leave this one waiting for a ticket
		 * that is still outstanding.
		 */
		tunnel_request_data(s);
	}
	tunnel_pool_refill(s);
}

/* Accepts public connections of one mapping (bounded per wakeup). */
static void
mapping_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct mapping	*map = arg;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage	 ss;
		socklen_t		 sl = sizeof(ss);
		int			 fd;

		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Level-triggered: pause instead of spinning. */
				log_warn("port %u: accept paused for 1 s",
				    map->remote_port);
				tunnel_reap_waiting();
				event_del(&map->ev_accept);
				event_add(&map->ev_accept_retry, &(struct timeval){ 1, 0 });
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("port %u: accept", map->remote_port);
			return;
		}
		/* A NewUserConn plugin (plugin.c) lets it in later, or closes it. */
		if (!plugin_user_conn(map, fd, &ss))
			tunnel_pubconn_add(map, fd, (struct sockaddr *)&ss, NULL);
	}
}

/* Starts accepting on a mapping's bound public socket. */
int
tunnel_mapping_listen(struct session *s, struct mapping *map, int fd)
{
	map->fd = fd;
	TAILQ_INIT(&map->conns);
	evtimer_assign(&map->ev_accept_retry, W->base, mapping_accept_retry, map);
	if (strcmp(map->type, "udp") == 0) {	/* udp.c reads its socket */
		map->fd = -1;
		udp_mapping_start(map, fd);
	} else {
		event_assign(&map->ev_accept, W->base, fd, EV_READ | EV_PERSIST,
		    mapping_accept, map);
		if (fd != -1)	/* http/https mappings share the vhost listeners */
			event_add(&map->ev_accept, NULL);
	}
	TAILQ_INSERT_TAIL(&s->mappings, map, entry);
	s->nmappings++;
	return 0;
}

/* Closes a mapping's listener and all its public connections. */
void
tunnel_mapping_free(struct mapping *map)
{
	struct pubconn *pc;

	plugin_mapping_free(map);
	event_del(&map->ev_accept_retry);
	if (map->fd != -1) {
		event_del(&map->ev_accept);
		close(map->fd);
	}
	while ((pc = TAILQ_FIRST(&map->conns)) != NULL)
		pubconn_close(pc, "client disconnected");
	udp_mapping_free(map);
	TAILQ_REMOVE(&map->session->mappings, map, entry);
	map->session->nmappings--;
	limit_mapping_free(map);
	vhost_mapping_free(map);
	acl_free(map->acl);
	free(map);
}

/*
 * Graceful stop of a session: stop listening and drop waiting and pooled
 * connections, but let the relays in progress finish.
 */
void
tunnel_session_stop(struct session *s)
{
	struct mapping	*map;
	struct pubconn	*pc;

	tunnel_session_drop_data(s);
	while ((pc = TAILQ_FIRST(&s->waiting)) != NULL)
		pubconn_close(pc, "server shutting down");
	TAILQ_FOREACH(map, &s->mappings, entry) {
		udp_mapping_stop(map);
		if (map->fd == -1)
			continue;
		event_del(&map->ev_accept);
		close(map->fd);
		map->fd = -1;
	}
}

/* Drops a session's pooled data connections and outstanding tickets. */
void
tunnel_session_drop_data(struct session *s)
{
	struct dataconn		*dc;
	struct data_ticket	*t;

	while ((dc = TAILQ_FIRST(&s->pool)) != NULL)
		dataconn_free(dc);
	while ((t = TAILQ_FIRST(&s->tickets)) != NULL)
		tunnel_ticket_free(t);
}

/*
 * A data connection introduced itself with data_id.  The id names the
 * worker that issued it; another worker's connection is passed on.
 */
void
tunnel_data_conn(int fd, SSL *ssl, const char *data_id, const char *addr)
{
	struct data_ticket	*t;
	struct session		*s;
	struct dataconn		*dc;
	struct pubconn		*pc;
	char			*end;
	long			 owner;

	owner = strtol(data_id, &end, 10);
	if (end != data_id && *end == '.' && owner >= 0 &&
	    owner < W->nworkers && owner != W->index) {
		struct mesh_msg mm;

		if (ssl != NULL) {
			/* TLS state cannot move; the client's ALPN should have
			 * steered it before the handshake (tlsaccept.c). */
			worker_reject_tls(fd, ssl, addr,
			    "data connection reached the wrong worker");
			return;
		}
		memset(&mm, 0, sizeof(mm));
		mm.type = MESH_DATA_CONN;
		snprintf(mm.id, sizeof(mm.id), "%s", data_id);
		worker_send_mesh((int)owner, &mm, fd);	/* takes fd */
		return;
	}
	if ((t = strmap_get(&W->tickets_by_id, data_id)) == NULL ||
	    t->expires < time(NULL)) {
		worker_reject_tls(fd, ssl, addr, "unknown data id");
		return;
	}
	s = t->session;
	tunnel_ticket_free(t);	/* one use only */
	/*
	 * Visitors that left while waiting get no data connection: first in,
	 * first served would spend the fresh ones on the dead (after a flood
	 * or a descriptor shortage, hundreds) while live visitors wait.  (A
	 * visitor that half-closes before sending a byte and before a data
	 * connection is free looks the same, and is dropped too.)
	 */
	while ((pc = TAILQ_FIRST(&s->waiting)) != NULL && pubconn_gone(pc))
		pubconn_close(pc, "visitor left while waiting");
	if (pc != NULL) {
		tunnel_pair(pc, fd, ssl);
		return;
	}
	if (udp_data_conn(s, fd, ssl))
		return;
	/*
	 * Nobody waits and the pool is full (the visitor it was asked for
	 * left): close it.  Pooling it anyway let a descriptor shortage fill
	 * the table with idle data connections that no accept could put to
	 * use, and the worker stayed out of descriptors (t/robust fd_exhaustion).
	 */
	if (s->pool_size >= s->pool_target) {
		SSL_free(ssl);
		close(fd);
		return;
	}
	dc = xcalloc(1, sizeof(*dc));
	dc->session = s;
	dc->fd = fd;
	dc->ssl = ssl;
	event_assign(&dc->ev, W->base, fd, EV_READ, dataconn_idle_read, dc);
	event_add(&dc->ev, NULL);
	TAILQ_INSERT_TAIL(&s->pool, dc, entry);
	s->pool_size++;
}
