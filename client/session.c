/* SPDX-License-Identifier: ISC */
/*
 * session.c: the client's control session: connect, register every
 * mapping, heartbeat, react to the server, reconnect with back-off.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client.h"
#include "frame.h"
#include "proto.h"
#include "tls.h"

static void session_reconnect_cb(evutil_socket_t, short, void *);

/* Queues one message on the control connection. */
static void
session_send(const struct msg *m)
{
	char	json[FRAME_MAX];
	size_t	len;

	/* Not before the connect completed: the socket cannot take bytes yet. */
	if (C->bev == NULL || proto_encode(m, json, &len) == -1)
		return;
	/* The direct write is for clear text only: TLS goes through OpenSSL. */
	if (C->connected && C->tls_ctx == NULL)
		frame_send(C->bev, json, len);
	else
		frame_push(bufferevent_get_output(C->bev), json, len);
}

/* Sends a register message for every mapping. */
static void
session_register_all(void)
{
	for (size_t i = 0; i < C->conf.nmaps; i++) {
		struct client_mapping	*map = &C->conf.maps[i];
		struct msg		 m;

		msg_init(&m, MSG_REGISTER);
		msg_set_int(&m, F_LOCAL_PORT, map->local_port);
		msg_set_int(&m, F_REMOTE_PORT, map->remote_port);
		client_vhost_register(map, &m);	/* protocol, domains, auth */
		msg_set_str(&m, F_TOKEN, C->conf.token);
		msg_set_str(&m, F_NAME, C->conf.name);
		msg_set_str(&m, F_MAPPING, map->name);
		msg_set_str(&m, F_LOCAL_IP, map->local_ip);
		msg_set_int(&m, F_POOL_COUNT, C->conf.pool_count);
		if (map->max_conns > 0)
			msg_set_int(&m, F_MAX_CONNS, map->max_conns);
		if (map->conn_rate > 0)
			msg_set_int(&m, F_CONN_RATE, map->conn_rate);
		if (map->conn_burst > 0)
			msg_set_int(&m, F_CONN_BURST, map->conn_burst);
		if (map->bandwidth_limit > 0)
			msg_set_int(&m, F_BANDWIDTH_LIMIT, map->bandwidth_limit);
		/* Our previous session's id lets the server hand its ports over now. */
		if (C->client_id[0] != '\0')
			msg_set_str(&m, F_CLIENT_ID, C->client_id);
		map->assigned_port = 0;
		session_send(&m);
	}
	C->responses_due = C->conf.nmaps;
}

/* Handles a register_response (they come in the order of the requests). */
static void
session_register_response(const struct msg *m)
{
	struct client_mapping *map;

	if (C->responses_due == 0) {
		log_warnx("unexpected register_response");
		return;
	}
	map = &C->conf.maps[C->conf.nmaps - C->responses_due];
	C->responses_due--;
	if (strcmp(m->status, "ok") != 0) {
		log_errorx("mapping %s (local %s:%ld, remote port %ld): register "
		    "failed: %s", map->name, map->local_ip, map->local_port,
		    map->remote_port, m->error[0] ? m->error : "no reason given");
		return;
	}
	map->assigned_port = m->remote_port;
	if (MSG_HAS(m, F_CLIENT_ID))
		snprintf(C->client_id, sizeof(C->client_id), "%s", m->client_id);
	C->backoff = 0;
	log_info("mapping %s: local %s:%ld published on remote port %ld%s "
	    "(client id %s)", map->name, map->local_ip, map->local_port,
	    map->assigned_port, map->remote_port == 0 ? " (assigned)" : "",
	    C->client_id);
}

/* Handles one message from the server. */
static void
session_dispatch(const struct msg *m)
{
	struct msg reply;

	switch (m->type) {
	case MSG_REGISTER_RESPONSE:
		session_register_response(m);
		break;
	case MSG_HEARTBEAT:
		msg_init(&reply, MSG_HEARTBEAT_ACK);
		session_send(&reply);
		break;
	case MSG_HEARTBEAT_ACK:
		break;
	case MSG_OPEN_DATA:
		if (MSG_HAS(m, F_DATA_ID))
			local_data_open(m->data_id);
		break;
	case MSG_ERROR:
		log_warnx("server: %s", m->error[0] ? m->error : "error");
		break;
	default:
		log_warnx("server sent an unexpected '%s' message", m->type_s);
		break;
	}
}

/* Reads frames from the server (bounded per wakeup). */
static void
session_read(struct bufferevent *bev, void *arg)
{
	static char	 buf[FRAME_MAX + 1];
	char		 err[160];
	const char	*ferr;
	struct msg	 m;
	size_t		 len;

	for (int i = 0; i < 256 && C->bev != NULL; i++) {
		switch (frame_pull(bufferevent_get_input(bev), buf, &len, &ferr)) {
		case FRAME_AGAIN:
			return;
		case FRAME_BAD:
			log_warnx("server sent a bad frame: %s", ferr);
			session_schedule_reconnect("protocol error");
			return;
		case FRAME_OK:
			break;
		}
		C->last_rx = time(NULL);
		if (proto_parse(buf, len, &m, err, sizeof(err)) == -1) {
			log_warnx("server sent a bad message: %s", err);
			session_schedule_reconnect("protocol error");
			return;
		}
		session_dispatch(&m);
	}
}

/* Connected, EOF or error on the control connection. */
static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	unsigned long	e;
	char		buf[256];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = C->tls_ctx ? bufferevent_openssl_get_ssl(bev) : NULL;

		event_del(&C->ev_connect_timeout);
		C->connected = 1;
		C->last_rx = time(NULL);
		log_info("connected to %s:%ld%s%s", C->conf.server_addr,
		    C->conf.server_port, ssl ? " with " : "",
		    ssl ? SSL_get_version(ssl) : "");
		session_register_all();
		event_add(&C->ev_heartbeat,
		    &(struct timeval){ C->conf.heartbeat_interval, 0 });
		return;
	}
	if (C->tls_ctx != NULL && !C->connected && (what & BEV_EVENT_ERROR)) {
		client_tls_log_failure(bufferevent_openssl_get_ssl(bev),
		    bufferevent_get_openssl_error(bev), "control connection");
		session_schedule_reconnect("TLS handshake failed");
	} else if (C->tls_ctx != NULL && (what & BEV_EVENT_ERROR) &&
	    (e = bufferevent_get_openssl_error(bev)) != 0) {
		/* e.g. the server wants a client certificate (TLS 1.3 says so
		 * only after the client's side of the handshake is done). */
		ERR_error_string_n(e, buf, sizeof(buf));
		log_errorx("control connection to %s:%ld: TLS error: %s",
		    C->conf.server_addr, C->conf.server_port, buf);
		session_schedule_reconnect("TLS error");
	} else if (what & BEV_EVENT_EOF)
		session_schedule_reconnect("server closed the connection");
	else if (what & BEV_EVENT_ERROR)
		session_schedule_reconnect(evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
}

/* Heartbeat timer: send one, or give up on a silent server. */
static void
session_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct msg m;

	if (time(NULL) - C->last_rx > C->conf.heartbeat_timeout) {
		session_schedule_reconnect("heartbeat timeout");
		return;
	}
	msg_init(&m, MSG_HEARTBEAT);
	session_send(&m);
}

/* The server did not accept the connection in time. */
static void
session_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	session_schedule_reconnect("connect timeout");
}

/* Closes the control connection (data connections live on). */
void
session_close(void)
{
	event_del(&C->ev_heartbeat);
	event_del(&C->ev_connect_timeout);
	if (C->tcp_fd != -1) {
		event_del(&C->ev_tcp);
		close(C->tcp_fd);
		C->tcp_fd = -1;
	}
	if (C->bev != NULL) {
		bufferevent_free(C->bev);
		C->bev = NULL;
	}
	C->connected = 0;
	C->responses_due = 0;
}

/* Sets up the control bufferevent on a connected (or connecting) socket. */
static void
session_bev_setup(void)
{
	bufferevent_setwatermark(C->bev, EV_READ, 0, 4 * (FRAME_MAX + FRAME_HDR));
	bufferevent_setcb(C->bev, session_read, NULL, session_event, NULL);
	bufferevent_enable(C->bev, EV_READ | EV_WRITE);
}

/* TLS: the TCP connect finished; start the handshake over it. */
static void
session_tcp_connected(evutil_socket_t fd, short what, void *arg)
{
	SSL		*ssl;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	C->tcp_fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0) {
		close(fd);
		session_schedule_reconnect(strerror(err ? err : errno));
		return;
	}
	if ((ssl = client_tls_new(TLS_ALPN_CONTROL)) == NULL) {
		close(fd);
		session_schedule_reconnect("cannot start TLS");
		return;
	}
	C->bev = bufferevent_openssl_socket_new(C->base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (C->bev == NULL) {
		SSL_free(ssl);
		close(fd);
		session_schedule_reconnect("cannot start TLS");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(C->bev, 1);
	session_bev_setup();	/* BEV_EVENT_CONNECTED once the handshake is done */
}

/* Opens the control connection. */
void
session_connect(void)
{
	int fd, inprogress;

	log_info("connecting to %s:%ld%s", C->conf.server_addr,
	    C->conf.server_port, C->tls_ctx ? " (TLS)" : "");
	fd = net_connect_nb(C->conf.server_addr, (uint16_t)C->conf.server_port,
	    &inprogress);
	if (fd == -1) {
		session_schedule_reconnect(strerror(errno));
		return;
	}
	event_add(&C->ev_connect_timeout, &(struct timeval){ CONNECT_TIMEOUT, 0 });
	if (C->tls_ctx != NULL) {
		/* TLS starts once TCP is up (the timeout covers both). */
		C->tcp_fd = fd;
		event_assign(&C->ev_tcp, C->base, fd, EV_WRITE,
		    session_tcp_connected, NULL);
		event_add(&C->ev_tcp, NULL);
		return;
	}
	C->bev = bufferevent_socket_new(C->base, fd, BEV_OPT_CLOSE_ON_FREE);
	session_bev_setup();
	if (!inprogress) {
		session_event(C->bev, BEV_EVENT_CONNECTED, NULL);
		return;
	}
	/* NULL address: libevent watches the connect already under way. */
	bufferevent_socket_connect(C->bev, NULL, 0);
}

/* Prepares the session's timers (once, at start). */
void
session_init_events(void)
{
	event_assign(&C->ev_heartbeat, C->base, -1, EV_PERSIST,
	    session_heartbeat, NULL);
	event_assign(&C->ev_connect_timeout, C->base, -1, 0,
	    session_connect_timeout, NULL);
	event_assign(&C->ev_reconnect, C->base, -1, 0, session_reconnect_cb, NULL);
}

/* Reconnect timer fired. */
static void
session_reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	session_connect();
}

/*
 * Drops the session and plans the next attempt: 1 s doubling to 30 s,
 * with +-20% jitter so that many clients do not return in lockstep.
 */
void
session_schedule_reconnect(const char *why)
{
	struct timeval	tv;
	double		delay;

	session_close();
	C->backoff = C->backoff ? C->backoff * 2 : BACKOFF_MIN;
	if (C->backoff > BACKOFF_MAX)
		C->backoff = BACKOFF_MAX;
	delay = C->backoff * (0.8 + 0.4 * client_rand_uniform(1001) / 1000.0);
	tv.tv_sec = (time_t)delay;
	tv.tv_usec = (suseconds_t)((delay - (double)tv.tv_sec) * 1e6);
	log_warnx("disconnected (%s); reconnecting in %.1f s", why, delay);
	event_add(&C->ev_reconnect, &tv);
}
