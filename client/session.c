/* SPDX-License-Identifier: ISC */
/*
 * session.c: the client's control sessions, one per master: connect,
 * register every mapping, heartbeat, react to the server, reconnect with
 * back-off.  Each session has its own connection, timers, back-off and
 * client id; a session that fails never touches the others.
 *
 * remote_port = 0: the first session that connects asks its master to pick
 * a port; the others wait and then ask their masters for that same port, so
 * that the mapping has one public port on every master.  The port is kept
 * for the life of the process (a master that comes back is asked for it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "client.h"
#include "ctls.h"
#include "frame.h"
#include "proto.h"
#include "xmalloc.h"

static void session_connect(struct session *);
static void session_schedule_reconnect(struct session *, const char *why);
static void session_register_one(struct session *, size_t i);

/* Queues one message on a session's control connection. */
static void
session_send(struct session *s, const struct msg *m)
{
	char	json[FRAME_MAX];
	size_t	len;

	/* Not before the connect completed: the socket cannot take bytes yet. */
	if (s->bev == NULL || proto_encode(m, json, &len) == -1)
		return;
	/* The direct write is for clear text only: TLS goes through its bev. */
	if (s->connected && C->tls_ctx == NULL)
		frame_send(s->bev, json, len);
	else
		frame_push(bufferevent_get_output(s->bev), json, len);
}

/* Sends the register message of mapping i asking for remote port port. */
static void
session_send_register(struct session *s, size_t i, long port)
{
	struct client_mapping	*map = &C->conf.maps[i];
	struct msg		 m;

	msg_init(&m, MSG_REGISTER);
	msg_set_int(&m, F_LOCAL_PORT, map->local_port);
	msg_set_int(&m, F_REMOTE_PORT, port);
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
	if (map->allow_cidrs[0] != '\0')
		msg_set_str(&m, F_ALLOW_CIDRS, map->allow_cidrs);
	if (map->deny_cidrs[0] != '\0')
		msg_set_str(&m, F_DENY_CIDRS, map->deny_cidrs);
	/* Our previous session's id lets the server hand its ports over now. */
	if (s->client_id[0] != '\0')
		msg_set_str(&m, F_CLIENT_ID, s->client_id);
	/* At most one register per mapping is on the wire: due[] cannot fill. */
	s->due[(s->due_head + s->due_len) % CLIENT_MAX_MAPPINGS] = (unsigned char)i;
	s->due_len++;
	s->reg[i] = REG_SENT;
	session_send(s, &m);
}

/* Registers mapping i on s, or waits for the port another master picks. */
static void
session_register_one(struct session *s, size_t i)
{
	struct client_mapping *map = &C->conf.maps[i];

	if (map->remote_port != 0 || map->assigned_port != 0) {
		session_send_register(s, i, map->assigned_port ?
		    map->assigned_port : map->remote_port);
		return;
	}
	if (map->picker != NULL && map->picker != s) {
		s->reg[i] = REG_WAIT_PORT;
		return;
	}
	map->picker = s;
	session_send_register(s, i, 0);
}

/* Hands the pick of mapping i to another connected session that waits. */
static void
session_pass_pick(size_t i)
{
	struct session *s;

	C->conf.maps[i].picker = NULL;
	TAILQ_FOREACH(s, &C->sessions, entry)
		if (s->connected && s->reg[i] == REG_WAIT_PORT) {
			session_register_one(s, i);
			return;
		}
}

/* The port of mapping i is known: every session that waited asks for it. */
static void
session_port_known(size_t i)
{
	struct session *s;

	TAILQ_FOREACH(s, &C->sessions, entry)
		if (s->connected && s->reg[i] == REG_WAIT_PORT)
			session_send_register(s, i, C->conf.maps[i].assigned_port);
}

/* Handles a register_response (they come in the order of the requests). */
static void
session_register_response(struct session *s, const struct msg *m)
{
	struct client_mapping	*map;
	size_t			 i;
	long			 asked;

	if (s->due_len == 0) {
		log_warnx("%s: unexpected register_response", s->label);
		return;
	}
	i = s->due[s->due_head];
	s->due_head = (s->due_head + 1) % CLIENT_MAX_MAPPINGS;
	s->due_len--;
	map = &C->conf.maps[i];
	asked = map->picker == s ? 0 : map->assigned_port ? map->assigned_port :
	    map->remote_port;
	if (strcmp(m->status, "ok") != 0 ||
	    (asked != 0 && m->remote_port != asked)) {
		s->reg[i] = REG_FAILED;
		log_errorx("%s: mapping %s (local %s:%ld, remote port %ld): "
		    "register failed: %s", s->label, map->name, map->local_ip,
		    map->local_port, asked, strcmp(m->status, "ok") != 0 ?
		    (m->error[0] ? m->error : "no reason given") :
		    "the master gave another port");
		if (map->picker == s)
			session_pass_pick(i);
		return;
	}
	s->reg[i] = REG_OK;
	if (MSG_HAS(m, F_CLIENT_ID))
		snprintf(s->client_id, sizeof(s->client_id), "%s", m->client_id);
	s->backoff = 0;
	if (map->assigned_port == 0)
		map->assigned_port = m->remote_port;	/* data connections match it */
	if (map->picker == s) {
		map->picker = NULL;
		session_port_known(i);
	}
	log_info("%s: mapping %s: local %s:%ld published on remote port %ld%s "
	    "(client id %s)", s->label, map->name, map->local_ip,
	    map->local_port, map->assigned_port, map->remote_port == 0 ?
	    " (assigned)" : "", s->client_id);
}

/* Handles one message from the server. */
static void
session_dispatch(struct session *s, const struct msg *m)
{
	struct msg reply;

	switch (m->type) {
	case MSG_REGISTER_RESPONSE:
		session_register_response(s, m);
		break;
	case MSG_HEARTBEAT:
		msg_init(&reply, MSG_HEARTBEAT_ACK);
		session_send(s, &reply);
		break;
	case MSG_HEARTBEAT_ACK:
		break;
	case MSG_OPEN_DATA:
		if (MSG_HAS(m, F_DATA_ID))
			local_data_open(s, m->data_id);
		break;
	case MSG_ERROR:
		log_warnx("%s: server: %s", s->label,
		    m->error[0] ? m->error : "error");
		break;
	default:
		log_warnx("%s: server sent an unexpected '%s' message",
		    s->label, m->type_s);
		break;
	}
}

/* Reads frames from the server (bounded per wakeup). */
static void
session_read(struct bufferevent *bev, void *arg)
{
	static char	 buf[FRAME_MAX + 1];
	struct session	*s = arg;
	char		 err[160];
	const char	*ferr;
	struct msg	 m;
	size_t		 len;

	for (int i = 0; i < 256 && s->bev != NULL; i++) {
		switch (frame_pull(bufferevent_get_input(bev), buf, &len, &ferr)) {
		case FRAME_AGAIN:
			return;
		case FRAME_BAD:
			log_warnx("%s: server sent a bad frame: %s", s->label, ferr);
			session_schedule_reconnect(s, "protocol error");
			return;
		case FRAME_OK:
			break;
		}
		s->last_rx = time(NULL);
		if (proto_parse(buf, len, &m, err, sizeof(err)) == -1) {
			log_warnx("%s: server sent a bad message: %s", s->label,
			    err);
			session_schedule_reconnect(s, "protocol error");
			return;
		}
		session_dispatch(s, &m);
	}
}

/* The control connection is up: register every mapping, start heartbeats. */
static void
session_connected(struct session *s)
{
	event_del(&s->ev_connect_timeout);
	s->connected = 1;
	s->last_rx = time(NULL);
	log_info("connected to %s%s%s", s->label, s->tls ? " with " : "",
	    s->tls ? ctls_version(s->tls) : "");
	for (size_t i = 0; i < C->conf.nmaps; i++)
		session_register_one(s, i);
	event_add(&s->ev_heartbeat,
	    &(struct timeval){ C->conf.heartbeat_interval, 0 });
}

/* Connected, EOF or error on the control connection. */
static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct session	*s = arg;
	char		 buf[256];

	if (what & BEV_EVENT_CONNECTED) {
		session_connected(s);
		return;
	}
	if (C->tls_ctx != NULL && !s->connected && (what & BEV_EVENT_ERROR)) {
		client_tls_log_failure(s->tls, bev, "control connection",
		    s->label);
		session_schedule_reconnect(s, "TLS handshake failed");
	} else if (C->tls_ctx != NULL && (what & BEV_EVENT_ERROR) &&
	    ctls_failure(s->tls, bev, buf, sizeof(buf)) != CTLS_FAIL_NONE) {
		/* e.g. the server wants a client certificate (TLS 1.3 says so
		 * only after the client's side of the handshake is done). */
		log_errorx("control connection to %s: TLS error: %s", s->label,
		    buf);
		session_schedule_reconnect(s, "TLS error");
	} else if (what & BEV_EVENT_EOF)
		session_schedule_reconnect(s, "server closed the connection");
	else if (what & BEV_EVENT_ERROR)
		session_schedule_reconnect(s, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
}

/* Heartbeat timer: send one, or give up on a silent server. */
static void
session_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	struct msg	 m;

	if (time(NULL) - s->last_rx > C->conf.heartbeat_timeout) {
		session_schedule_reconnect(s, "heartbeat timeout");
		return;
	}
	msg_init(&m, MSG_HEARTBEAT);
	session_send(s, &m);
}

/* The server did not accept the connection in time. */
static void
session_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	session_schedule_reconnect(arg, "connect timeout");
}

/* Closes the control connection (data connections live on). */
static void
session_close(struct session *s)
{
	event_del(&s->ev_heartbeat);
	event_del(&s->ev_connect_timeout);
	if (s->tcp_fd != -1) {
		event_del(&s->ev_tcp);
		close(s->tcp_fd);
		s->tcp_fd = -1;
	}
	if (s->bev != NULL) {
		bufferevent_free(s->bev);	/* and its TLS */
		s->bev = NULL;
		s->tls = NULL;
	}
	s->connected = 0;
	s->due_head = s->due_len = 0;
	for (size_t i = 0; i < C->conf.nmaps; i++) {
		s->reg[i] = REG_NONE;
		/* Someone else asks for the port now (if anyone waits). */
		if (C->conf.maps[i].picker == s)
			session_pass_pick(i);
	}
}

/* Sets up the control bufferevent on a connected (or connecting) socket. */
static void
session_bev_setup(struct session *s)
{
	bufferevent_setwatermark(s->bev, EV_READ, 0, 4 * (FRAME_MAX + FRAME_HDR));
	bufferevent_setcb(s->bev, session_read, NULL, session_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* TLS: the TCP connect finished; start the handshake over it. */
static void
session_tcp_connected(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	struct ctls	*c;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	s->tcp_fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0) {
		close(fd);
		session_schedule_reconnect(s, strerror(err ? err : errno));
		return;
	}
	if ((c = client_tls_new(fd, s->sni, TLS_ALPN_CONTROL)) == NULL) {
		close(fd);
		session_schedule_reconnect(s, "cannot start TLS");
		return;
	}
	if ((s->bev = ctls_bev_new(C->base, fd, c, 1)) == NULL) {
		ctls_free(c);
		close(fd);
		session_schedule_reconnect(s, "cannot start TLS");
		return;
	}
	s->tls = c;
	session_bev_setup(s);	/* BEV_EVENT_CONNECTED once the handshake is done */
}

/* Opens the control connection. */
static void
session_connect(struct session *s)
{
	int fd, inprogress;

	log_info("connecting to %s%s", s->label, C->tls_ctx ? " (TLS)" : "");
	fd = net_connect_addr_nb((struct sockaddr *)&s->addr, s->addrlen,
	    &inprogress);
	if (fd == -1) {
		session_schedule_reconnect(s, strerror(errno));
		return;
	}
	event_add(&s->ev_connect_timeout, &(struct timeval){ CONNECT_TIMEOUT, 0 });
	if (C->tls_ctx != NULL) {
		/* TLS starts once TCP is up (the timeout covers both). */
		s->tcp_fd = fd;
		event_assign(&s->ev_tcp, C->base, fd, EV_WRITE,
		    session_tcp_connected, s);
		event_add(&s->ev_tcp, NULL);
		return;
	}
	s->bev = bufferevent_socket_new(C->base, fd, BEV_OPT_CLOSE_ON_FREE);
	session_bev_setup(s);
	if (!inprogress) {
		session_connected(s);
		return;
	}
	/* NULL address: libevent watches the connect already under way. */
	bufferevent_socket_connect(s->bev, NULL, 0);
}

/* Reconnect timer fired. */
static void
session_reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	session_connect(arg);
}

/*
 * Drops the session and plans the next attempt: 1 s doubling to 30 s,
 * with +-20% jitter so that many clients do not return in lockstep.
 */
static void
session_schedule_reconnect(struct session *s, const char *why)
{
	struct timeval	tv;
	double		delay;

	session_close(s);
	s->backoff = s->backoff ? s->backoff * 2 : BACKOFF_MIN;
	if (s->backoff > BACKOFF_MAX)
		s->backoff = BACKOFF_MAX;
	delay = s->backoff * (0.8 + 0.4 * client_rand_uniform(1001) / 1000.0);
	tv.tv_sec = (time_t)delay;
	tv.tv_usec = (suseconds_t)((delay - (double)tv.tv_sec) * 1e6);
	log_warnx("%s: disconnected (%s); reconnecting in %.1f s", s->label,
	    why, delay);
	event_add(&s->ev_reconnect, &tv);
}

/* The session with the master at addr, or NULL. */
struct session *
session_find(const struct sockaddr *addr, socklen_t len)
{
	struct session *s;

	TAILQ_FOREACH(s, &C->sessions, entry)
		if (s->addrlen == len && memcmp(&s->addr, addr, len) == 0)
			return s;
	return NULL;
}

/*
 * Joins the master at addr (found through conf.servers[server]) and starts
 * connecting.  NULL if the session limit is reached.
 */
struct session *
session_new(size_t server, const struct sockaddr *addr, socklen_t len)
{
	const struct server_entry	*e = &C->conf.servers[server];
	struct session			*s;

	if (C->nsessions >= CLIENT_MAX_SESSIONS || len > sizeof(s->addr)) {
		log_warnx("%s: too many masters (limit %d); not joining one more",
		    e->host, CLIENT_MAX_SESSIONS);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	memcpy(&s->addr, addr, len);
	s->addrlen = len;
	s->server = server;
	s->tcp_fd = -1;
	net_addr_str(addr, s->addr_str, sizeof(s->addr_str));
	if (e->numeric)
		snprintf(s->label, sizeof(s->label), "master %s", s->addr_str);
	else
		snprintf(s->label, sizeof(s->label), "master %s (%s)", e->host,
		    s->addr_str);
	/* The certificate names the host the user wrote, not the address. */
	snprintf(s->sni, sizeof(s->sni), "%s", C->conf.tls_server_name[0] ?
	    C->conf.tls_server_name : e->host);
	event_assign(&s->ev_heartbeat, C->base, -1, EV_PERSIST,
	    session_heartbeat, s);
	event_assign(&s->ev_connect_timeout, C->base, -1, 0,
	    session_connect_timeout, s);
	event_assign(&s->ev_reconnect, C->base, -1, 0, session_reconnect_cb, s);
	TAILQ_INSERT_TAIL(&C->sessions, s, entry);
	C->nsessions++;
	session_connect(s);
	return s;
}

/* Leaves a master: closes its session and frees it (data connections live on). */
void
session_free(struct session *s, const char *why)
{
	log_info("%s: leaving (%s)", s->label, why);
	TAILQ_REMOVE(&C->sessions, s, entry);
	C->nsessions--;
	session_close(s);	/* after the removal: the pick goes elsewhere */
	event_del(&s->ev_reconnect);
	free(s);
}

/* Frees every session (exit). */
void
session_free_all(void)
{
	while (!TAILQ_EMPTY(&C->sessions))
		session_free(TAILQ_FIRST(&C->sessions), "exiting");
}
