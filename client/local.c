/* SPDX-License-Identifier: ISC */
/*
 * local.c: data connections of the client.  Each dials the server with a
 * one-time id, waits in the server's pool for "start", then dials the
 * local service of that mapping and relays.  A local service that is down
 * costs that one public connection, never the tunnel.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "ctls.h"
#include "frame.h"
#include "proto.h"
#include "proxyproto.h"
#include "relay.h"
#include "xmalloc.h"

static void dconn_step(evutil_socket_t, short, void *);

/* Frees a data connection in any state. */
static void
dconn_free(struct dconn *d)
{
	TAILQ_REMOVE(&C->dconns, d, entry);
	C->ndconns--;
	event_del(&d->ev);
	hsread_reset(&d->hs);
	free(d->sni);
	if (d->relay != NULL)
		relay_free(d->relay);	/* closes both sockets */
	else {
		if (d->tls != NULL)
			ctls_free(d->tls);
		if (d->fd != -1)
			close(d->fd);
		if (d->local_fd != -1)
			close(d->local_fd);
	}
	free(d);
}

/* Waits for fd to become readable or writable. */
static void
dconn_wait(struct dconn *d, int fd, short what)
{
	event_del(&d->ev);
	event_assign(&d->ev, C->base, fd, what, dconn_step, d);
	event_add(&d->ev, NULL);
}

/* Relay ended. */
static void
dconn_relay_done(struct relay *r, void *arg, const char *reason)
{
	struct dconn *d = arg;

	log_debug("mapping %s: connection from %s ended: %s",
	    d->map ? d->map->name : "?", d->peer, reason);
	dconn_free(d);
}

/* Returns the pending socket error of a connecting socket. */
static int
socket_error(int fd)
{
	int		err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

/*
 * True if a non-blocking connect has finished (or failed) already.  On
 * loopback and fast links it usually has by the time connect() returns;
 * one poll() then spares an epoll ADD, a wake-up and a DEL.
 */
static int
connect_done_now(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	return poll(&pfd, 1, 0) == 1;
}

/* Handles "start": finds the mapping and dials its local service. */
static void
dconn_start(struct dconn *d, const struct msg *m)
{
	int inprogress;

	for (size_t i = 0; i < C->conf.nmaps; i++)
		if (C->conf.maps[i].assigned_port == m->remote_port &&
		    (!MSG_HAS(m, F_MAPPING) ||	/* http/https share a port */
		    strcmp(C->conf.maps[i].name, m->mapping) == 0))
			d->map = &C->conf.maps[i];
	if (d->map == NULL) {
		log_warnx("%s asked for unknown remote port %lld", d->server,
		    (long long)m->remote_port);
		dconn_free(d);
		return;
	}
	snprintf(d->peer, sizeof(d->peer), "%s", m->peer);
	if ((strcmp(d->map->type, "udp") == 0) !=
	    (MSG_HAS(m, F_PROTOCOL) && strcmp(m->protocol, "udp") == 0)) {
		log_warnx("mapping %s: server started a %s flow on a %s mapping",
		    d->map->name, MSG_HAS(m, F_PROTOCOL) ? m->protocol : "tcp",
		    d->map->type);
		dconn_free(d);
		return;
	}
	if (strcmp(d->map->type, "udp") == 0) {	/* udp.c takes fd and tls */
		if (udp_flow_start(d->map, d->fd, d->tls, d->peer) == 0)
			d->fd = -1, d->tls = NULL;
		dconn_free(d);
		return;
	}
	d->local_fd = net_connect_nb(d->map->local_ip,
	    (uint16_t)d->map->local_port, &inprogress);
	if (d->local_fd == -1) {
		log_warn("mapping %s: cannot reach local service %s:%ld for %s",
		    d->map->name, d->map->local_ip, d->map->local_port, d->peer);
		dconn_free(d);
		return;
	}
	d->state = DC_LOCAL_CONNECT;
	if (!inprogress || connect_done_now(d->local_fd))
		dconn_step(d->local_fd, EV_WRITE, d);
	else
		dconn_wait(d, d->local_fd, EV_WRITE);
}

/*
 * Starts TLS on a data connection.  Its ALPN names the worker that issued
 * the data id ("<worker>.<hex>"), so the server can hand the socket to
 * that worker before the handshake (TLS state cannot move afterwards).
 */
static int
dconn_tls_start(struct dconn *d)
{
	char	alpn[40];
	long	owner = strtol(d->data_id, NULL, 10);

	snprintf(alpn, sizeof(alpn), "%s%ld", TLS_ALPN_DATA,
	    owner >= 0 && owner < 1024 ? owner : 0);
	if (d->sni == NULL ||
	    (d->tls = client_tls_new(d->fd, d->sni, alpn)) == NULL) {
		log_warnx("data connection to %s: cannot start TLS", d->server);
		return -1;
	}
	return 0;
}

/* One handshake step: 1 done, 0 waiting (event armed), -1 failed. */
static int
dconn_tls_step(struct dconn *d)
{
	switch (ctls_handshake(d->tls)) {
	case TLS_IO_OK:
		return 1;
	case TLS_IO_WANT_READ:
		dconn_wait(d, d->fd, EV_READ);
		return 0;
	case TLS_IO_WANT_WRITE:
		dconn_wait(d, d->fd, EV_WRITE);
		return 0;
	default:
		client_tls_log_failure(d->tls, NULL, "data connection", d->server);
		return -1;
	}
}

/* Advances a data connection through its states. */
static void
dconn_step(evutil_socket_t fd, short what, void *arg)
{
	struct dconn	*d = arg;
	struct msg	 m;
	char		 json[256], err[160];
	const char	*ferr = NULL;
	size_t		 len;
	int		 e;

	switch (d->state) {
	case DC_SERVER_CONNECT:
		if ((e = socket_error(d->fd)) != 0) {
			log_warnx("data connection to %s failed: %s",
			    d->server, strerror(e));
			dconn_free(d);
			return;
		}
		if (C->tls_ctx != NULL) {
			if (dconn_tls_start(d) == -1) {
				dconn_free(d);
				return;
			}
			d->state = DC_TLS_HANDSHAKE;
		} else {
			msg_init(&m, MSG_DATA);
			msg_set_str(&m, F_DATA_ID, d->data_id);
			if (proto_encode(&m, json, &len) == -1 ||
			    frame_send_fd(d->fd, json, len) !=
			    (ssize_t)(FRAME_HDR + len)) {
				dconn_free(d);
				return;
			}
			d->state = DC_WAIT_START;
			dconn_wait(d, d->fd, EV_READ | EV_PERSIST);
			return;
		}
		/* FALLTHROUGH */
	case DC_TLS_HANDSHAKE:
		switch (dconn_tls_step(d)) {
		case -1:
			dconn_free(d);
			return;
		case 0:
			return;		/* waiting for the socket */
		}
		free(d->sni);	/* held connections keep no more than they use */
		d->sni = NULL;
		msg_init(&m, MSG_DATA);
		msg_set_str(&m, F_DATA_ID, d->data_id);
		if (proto_encode(&m, json, &len) == -1 ||
		    ctls_send_frame(d->tls, json, len) == -1) {
			dconn_free(d);
			return;
		}
		d->state = DC_WAIT_START;
		dconn_wait(d, d->fd, EV_READ | EV_PERSIST);
		return;
	case DC_WAIT_START:
		switch (d->tls != NULL ?
		    hsread_step_io(&d->hs, ctls_read_fn, d->tls, &ferr) :
		    hsread_step(&d->hs, d->fd, &ferr)) {
		case HS_AGAIN:
			return;
		case HS_EOF:
			dconn_free(d);	/* the server dropped an idle pooled conn */
			return;
		case HS_BAD:
			log_warnx("data connection: bad frame: %s", ferr);
			dconn_free(d);
			return;
		case HS_OK:
			break;
		}
		e = proto_parse(d->hs.buf, d->hs.len, &m, err, sizeof(err));
		hsread_reset(&d->hs);	/* m holds copies; a relay lives long */
		if (e == -1) {
			log_warnx("data connection: bad message: %s", err);
			dconn_free(d);
		} else if (m.type == MSG_START && MSG_HAS(&m, F_REMOTE_PORT))
			dconn_start(d, &m);
		else {
			if (m.type == MSG_ERROR)
				log_warnx("data connection refused: %s", m.error);
			dconn_free(d);
		}
		return;
	case DC_LOCAL_CONNECT:
		if ((e = socket_error(d->local_fd)) != 0) {
			log_warnx("mapping %s: local service %s:%ld refused the "
			    "connection from %s: %s", d->map->name,
			    d->map->local_ip, d->map->local_port, d->peer,
			    strerror(e));
			dconn_free(d);
			return;
		}
		if (d->map->proxy_protocol != 0 && proxyproto_write(d->local_fd,
		    d->map->proxy_protocol, d->peer) == -1) {
			log_warn("mapping %s: cannot send the PROXY header for %s",
			    d->map->name, d->peer);
			dconn_free(d);
			return;
		}
		event_del(&d->ev);
		d->state = DC_RELAY;
		d->relay = d->tls != NULL ?
		    ctls_relay_new(C->base, d->local_fd, d->fd, d->tls,
		    dconn_relay_done, d) :
		    relay_new(C->base, d->local_fd, d->fd, dconn_relay_done, d);
		d->tls = NULL;		/* the relay owns it now */
		log_debug("mapping %s: relaying %s", d->map->name, d->peer);
		return;
	case DC_RELAY:
		return;
	}
}

/* open_data from session s: dial that master for a new data connection. */
void
local_data_open(struct session *s, const char *data_id)
{
	struct dconn	*d;
	int		 fd, inprogress;

	if (C->ndconns >= CLIENT_MAX_DATA_CONNS) {
		log_warnx("%s: too many data connections; ignoring open_data",
		    s->label);
		return;
	}
	fd = net_connect_addr_nb((struct sockaddr *)&s->addr, s->addrlen,
	    &inprogress);
	if (fd == -1) {
		log_warn("%s: data connection", s->label);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->fd = fd;
	d->local_fd = -1;
	d->state = DC_SERVER_CONNECT;
	/* Copies, not a pointer: the session may be left before this ends. */
	snprintf(d->server, sizeof(d->server), "%s", s->addr_str);
	if (C->tls_ctx != NULL)
		d->sni = xstrdup(s->sni);
	snprintf(d->data_id, sizeof(d->data_id), "%s", data_id);
	TAILQ_INSERT_TAIL(&C->dconns, d, entry);
	C->ndconns++;
	event_assign(&d->ev, C->base, fd, EV_WRITE, dconn_step, d);
	if (!inprogress || connect_done_now(fd))
		dconn_step(fd, EV_WRITE, d);	/* may free d */
	else
		event_add(&d->ev, NULL);
}

/* Frees every data connection (exit). */
void
local_free_all(void)
{
	while (!TAILQ_EMPTY(&C->dconns))
		dconn_free(TAILQ_FIRST(&C->dconns));
}
