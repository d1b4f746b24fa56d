/* SPDX-License-Identifier: ISC */
/*
 * control.c: client control sessions: the first message of a connection,
 * registration of mappings, heartbeats, kicks and the end of a session.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sodium.h>

#include "db_live.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "xmalloc.h"

#define MAX_MAPPINGS_PER_SESSION	64
#define MAX_FRAMES_PER_READ		64

static void control_read(struct bufferevent *, void *);
static void control_event(struct bufferevent *, short, void *);
static void control_timer(evutil_socket_t, short, void *);

/*
 * Compares a token with the shared one in constant time, by hash.  An
 * empty shared token ("token =") disables it: nothing matches it.
 */
int
control_token_ok(const char *token)
{
	unsigned char h[32];

	if (W->conf.token[0] == '\0' || token[0] == '\0')
		return 0;
	crypto_generichash(h, sizeof(h), (const unsigned char *)token,
	    strlen(token), NULL, 0);
	return sodium_memcmp(h, W->token_hash, sizeof(h)) == 0;
}

/* Finds a live session of this worker by client id. */
struct session *
control_session_find(const char *id)
{
	return strmap_get(&W->sessions_by_id, id);
}

/* Queues a message to the client; a client that stops reading is dropped. */
void
control_send(struct session *s, const struct msg *m)
{
	char	json[FRAME_MAX];
	size_t	len;
	struct evbuffer *out;

	if (s->bev == NULL || proto_encode(m, json, &len) == -1)
		return;
	out = bufferevent_get_output(s->bev);
	if (evbuffer_get_length(out) > CONTROL_OUT_HIGH) {
		log_warnx("client %s (%s): not reading its control connection",
		    s->name, s->id);
		return;
	}
	if (s->ssl != NULL)	/* TLS bytes go through OpenSSL, never the fd */
		frame_push(bufferevent_get_output(s->bev), json, len);
	else
		frame_send(s->bev, json, len);
}

/* Sends {"type":"error"} and ends the session. */
static void
control_fail(struct session *s, const char *reason)
{
	struct msg m;

	msg_init(&m, MSG_ERROR);
	msg_set_str(&m, F_ERROR, reason);
	control_send(s, &m);
	control_session_close(s, reason);
}

/* Sends a register_response with status fail. */
static void
register_fail(struct session *s, const struct msg *req, const char *reason)
{
	struct msg m;

	log_info("client %s from %s: register of remote port %lld failed: %s",
	    s->name[0] ? s->name : (req->name[0] ? req->name : "?"), s->addr,
	    (long long)req->remote_port, reason);
	flush_count_register(reason);
	msg_init(&m, MSG_REGISTER_RESPONSE);
	msg_set_str(&m, F_STATUS, "fail");
	msg_set_str(&m, F_ERROR, reason);
	control_send(s, &m);
}

/* register_fail() for the cluster code (wcluster.c). */
void
control_register_fail(struct session *s, const struct msg *req,
    const char *reason)
{
	register_fail(s, req, reason);
}

/*
 * The identity that owns a remote port cluster-wide: the client's name with
 * the shared token (a per-client credential's name once those exist; the
 * master's hold sync, lit_holds() in cluster.c, reads the same field from
 * LMDB and must follow).
 */
const char *
control_identity(const struct session *s)
{
	return s->name;
}

/*
 * Claim callback: binds the public port.  SO_REUSEPORT lets a reconnecting
 * client's new listener overlap its old one; the probe makes sure nobody
 * else (another master, another program) holds the port.
 */
static int
bind_public(uint16_t port, int probe, void *arg)
{
	int *fd = arg;

	if (probe && net_port_free(W->conf.proxy_bind_addr, port) == -1)
		return -1;
	*fd = net_listen(W->conf.proxy_bind_addr, port, 1, 1024);
	return *fd == -1 ? -1 : 0;
}

/* Tells whether s looks like a client id we hand out (32 hex digits). */
static int
valid_client_id(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!isxdigit((unsigned char)s[n]))
			return 0;
	return n == 32;
}

/* Ends the client's previous session, wherever it lives. */
static void
takeover(struct session *s, const char *old_id, int worker)
{
	struct mesh_msg mm;

	if (strcmp(old_id, s->id) == 0)
		return;
	if (worker == W->index) {
		control_kick(old_id, "replaced by a new session");
		return;
	}
	memset(&mm, 0, sizeof(mm));
	mm.type = MESH_KILL;
	snprintf(mm.id, sizeof(mm.id), "%s", old_id);
	worker_send_mesh(worker, &mm, -1);
}

/* Handles one register message: the token, then plugins, then the claim. */
static void
control_register(struct session *s, const struct msg *req)
{
	const char	*why;
	int		 fatal;

	if ((why = cred_register(s, req, &fatal)) != NULL) {
		register_fail(s, req, why);
		/* A wrong or withdrawn secret counts toward auth_failures. */
		if (fatal && strcmp(why, "server database error") != 0)
			authfail_report(s->addr);
		/* A stranger is shown the door; a registered client keeps its others. */
		if (fatal && !s->registered)
			control_session_close(s, why);
		return;
	}
	if (!s->registered && s->nmappings == 0)
		snprintf(s->name, sizeof(s->name), "%s",
		    req->name[0] ? req->name : "client");
	/* Server plugins (plugin.c) may answer later; then it goes on below. */
	if (!plugin_register(s, req))
		control_register_plugged(s, req);
}

/* A plugin refused a register: fail it; a refused Login ends the session. */
void
control_register_refused(struct session *s, const struct msg *req,
    const char *reason, int login)
{
	register_fail(s, req, reason);
	if (login && !s->registered)
		control_session_close(s, reason);
}

/* Handles a register the token and any plugins let through. */
void
control_register_plugged(struct session *s, const struct msg *req)
{
	struct mapping	*map;
	uint16_t	 port = (uint16_t)req->remote_port;

	if (MSG_HAS(req, F_PROTOCOL) && strcmp(req->protocol, "tcp") != 0 &&
	    strcmp(req->protocol, "udp") != 0 && !vhost_is_type(req)) {
		register_fail(s, req, "unsupported protocol");
		return;
	}
	if (!MSG_HAS(req, F_LOCAL_PORT)) {
		register_fail(s, req, "missing member 'local_port'");
		return;
	}
	if (port != 0 && !portrange_contains(&W->conf.allow_ports, port)) {
		register_fail(s, req, "port not allowed");
		return;
	}
	TAILQ_FOREACH(map, &s->mappings, entry)
		if (map->remote_port == port && port != 0) {
			register_fail(s, req, "port in use");
			return;
		}
	if (s->nmappings >= MAX_MAPPINGS_PER_SESSION) {
		register_fail(s, req, "too many mappings");
		return;
	}
	/* Cluster mode: the master asks PostgreSQL first; it answers later. */
	if (wcluster_on()) {
		wcluster_register(s, req);
		return;
	}
	control_register_claim(s, req, port);
}

/* Claims the port in LMDB, publishes it and answers the register. */
void
control_register_claim(struct session *s, const struct msg *req, uint16_t port)
{
	struct db_claim	 c;
	struct mapping	*map;
	struct msg	 m;
	int		 fd = -1;
	int		 udp = MSG_HAS(req, F_PROTOCOL) &&
			    strcmp(req->protocol, "udp") == 0;

	memset(&c, 0, sizeof(c));
	c.client.version = DB_RECORD_VERSION;
	db_strlcpy(c.client.id, s->id, sizeof(c.client.id));
	db_strlcpy(c.client.name, s->name, sizeof(c.client.name));
	db_strlcpy(c.client.address, s->addr, sizeof(c.client.address));
	c.client.connected_since = s->connected_since;
	c.client.last_heartbeat = (int64_t)s->last_rx;
	c.client.worker_pid = getpid();
	c.client.worker_index = (uint32_t)W->index;
	c.client.nmappings = s->nmappings;
	c.client.hist_seq = s->hist_seq;
	c.new_client = !s->registered;
	if (MSG_HAS(req, F_CLIENT_ID) && valid_client_id(req->client_id) &&
	    strcmp(req->client_id, s->id) != 0)
		c.takeover_id = req->client_id;
	c.max_clients = W->conf.max_clients;
	c.allow = cred_allow_ports(s);
	db_strlcpy(c.client.credential, cred_name(s), sizeof(c.client.credential));
	c.map.version = DB_RECORD_VERSION;
	c.map.remote_port = port;
	c.map.local_port = (uint16_t)req->local_port;
	db_strlcpy(c.map.client_id, s->id, sizeof(c.map.client_id));
	db_strlcpy(c.map.client_name, s->name, sizeof(c.map.client_name));
	db_strlcpy(c.map.name, req->mapping[0] ? req->mapping : "tcp",
	    sizeof(c.map.name));
	db_strlcpy(c.map.local_ip, req->local_ip[0] ? req->local_ip :
	    "127.0.0.1", sizeof(c.map.local_ip));
	c.map.worker_pid = getpid();
	c.map.worker_index = (uint32_t)W->index;
	c.bind = udp ? udp_bind_public : bind_public;
	c.bind_arg = &fd;
	db_strlcpy(c.map.type, udp ? "udp" : "tcp", sizeof(c.map.type));
	if (vhost_is_type(req) && vhost_prepare(req, &c.map, c.error,
	    sizeof(c.error)) == -1) {
		register_fail(s, req, c.error);	/* no domain, bad domain, ... */
		return;
	}
	if (db_claim(&W->db, &c) == -1) {
		if (fd != -1)
			close(fd);
		register_fail(s, req, c.error);
		return;
	}
	if (!s->registered) {
		s->registered = 1;
		s->hist_seq = c.hist_seq;
	}
	map = xcalloc(1, sizeof(*map));
	map->session = s;
	map->remote_port = c.map.remote_port;
	map->local_port = c.map.local_port;
	snprintf(map->name, sizeof(map->name), "%s", c.map.name);
	snprintf(map->local_ip, sizeof(map->local_ip), "%s", c.map.local_ip);
	snprintf(map->type, sizeof(map->type), "%s", c.map.type);
	limit_mapping_init(map, req);
	map->acl = acl_new(s, req);
	tunnel_mapping_listen(s, map, fd);	/* fd -1 for http/https */
	vhost_mapping_attach(map, req, c.map.domains);
	log_info("client %s (%s) from %s: registered %s remote port %u%s -> "
	    "local port %u", s->name, s->id, s->addr, map->name,
	    map->remote_port, udp ? "/udp" : "", map->local_port);
	flush_count_register("ok");
	msg_init(&m, MSG_REGISTER_RESPONSE);
	msg_set_str(&m, F_STATUS, "ok");
	msg_set_str(&m, F_NAME, s->name);
	msg_set_int(&m, F_REMOTE_PORT, map->remote_port);
	msg_set_str(&m, F_CLIENT_ID, s->id);
	control_send(s, &m);
	if (c.takeover_id != NULL && c.takeover_worker >= 0)
		takeover(s, c.takeover_id, c.takeover_worker);
	if (MSG_HAS(req, F_POOL_COUNT)) {
		unsigned want = (unsigned)req->pool_count;

		if (want > (unsigned)W->conf.max_pool_count)
			want = (unsigned)W->conf.max_pool_count;
		if (want > s->pool_target)
			s->pool_target = want;
	}
	tunnel_pool_refill(s);
}

/* Dispatches one parsed message of an established session. */
static void
control_dispatch(struct session *s, const struct msg *m)
{
	struct msg reply;

	s->last_rx = time(NULL);
	switch (m->type) {
	case MSG_REGISTER:
		control_register(s, m);
		break;
	case MSG_HEARTBEAT:
		/* Only last_rx moved: flush.c writes it every HB_WRITE_SECS. */
		msg_init(&reply, MSG_HEARTBEAT_ACK);
		control_send(s, &reply);
		break;
	case MSG_HEARTBEAT_ACK:
		break;
	default:
		control_fail(s, "unexpected message type on a control connection");
		break;
	}
}

/* Reads and handles the frames a client sent (bounded per wakeup). */
static void
control_read(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	static char	 buf[FRAME_MAX + 1];
	char		 err[160];
	const char	*ferr;
	struct msg	 m;
	size_t		 len;

	for (int i = 0; i < MAX_FRAMES_PER_READ && !s->closing; i++) {
		switch (frame_pull(in, buf, &len, &ferr)) {
		case FRAME_AGAIN:
			return;
		case FRAME_BAD:
			log_info("client %s (%s): %s", s->name, s->id, ferr);
			control_fail(s, ferr);
			return;
		case FRAME_OK:
			break;
		}
		if (proto_parse(buf, len, &m, err, sizeof(err)) == -1) {
			log_info("client %s (%s) from %s: bad message: %s",
			    s->name, s->id, s->addr, err);
			control_fail(s, err);
			return;
		}
		control_dispatch(s, &m);
	}
	/* More frames than one wakeup may take: come back for the rest. */
	if (!s->closing && evbuffer_get_length(in) >= FRAME_HDR)
		event_active(&s->hb_timer, EV_READ, 0);
}

/* EOF or error on a control connection. */
static void
control_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_EOF)
		control_session_close(s, "connection closed by client");
	else if (what & BEV_EVENT_ERROR)
		control_session_close(s, "connection error");
}

/* Frees tickets whose data connection never came. */
static void
expire_tickets(struct session *s, time_t now)
{
	struct data_ticket *t, *next;

	for (t = TAILQ_FIRST(&s->tickets); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->expires <= now)
			tunnel_ticket_free(t);
	}
}

/* Periodic: registration deadline, heartbeat timeout, our heartbeat. */
static void
control_timer(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	time_t		 now = time(NULL);
	struct msg	 m;

	if (what & EV_READ) {
		/* Re-entry to finish reading queued frames. */
		control_read(s->bev, s);
		return;
	}
	if (!s->registered && now - s->connected_since >= REGISTER_TIMEOUT) {
		control_fail(s, "registration timeout");
		return;
	}
	if (now - s->last_rx > W->conf.heartbeat_timeout) {
		control_fail(s, "heartbeat timeout");
		return;
	}
	/*
	 * A client that heartbeats hears our acks, which is all it needs to
	 * know we are alive; our own heartbeat is for a client that has been
	 * silent for half the timeout.  At 50,000 clients this halves the
	 * control traffic (no heartbeat + ack pair per client every 10 s).
	 */
	if (now - s->last_rx > W->conf.heartbeat_timeout / 2) {
		msg_init(&m, MSG_HEARTBEAT);
		control_send(s, &m);
	}
	expire_tickets(s, now);
	tunnel_pool_refill(s);
}

/* Turns a pending connection whose first message is register into a session. */
static struct session *
session_new(struct pending *p)
{
	struct session	*s = xcalloc(1, sizeof(*s));
	struct timeval	 tv;
	long		 period = W->conf.heartbeat_timeout / 3;

	net_random_hex(s->id, 16);
	snprintf(s->addr, sizeof(s->addr), "%s", p->addr);
	s->connected_since = time(NULL);
	s->last_rx = time(NULL);
	TAILQ_INIT(&s->mappings);
	TAILQ_INIT(&s->pool);
	TAILQ_INIT(&s->tickets);
	TAILQ_INIT(&s->waiting);
	s->ssl = p->ssl;
	s->bev = p->ssl != NULL ? tlsaccept_session_bev(p) :
	    bufferevent_socket_new(W->base, p->fd, 0);
	if (s->bev == NULL) {
		free(s);
		return NULL;
	}
	/* Bound the input: at most two full frames wait in memory. */
	bufferevent_setwatermark(s->bev, EV_READ, 0, 2 * (FRAME_MAX + FRAME_HDR));
	bufferevent_setcb(s->bev, control_read, NULL, control_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (period < 1)
		period = 1;
	if (period > REGISTER_TIMEOUT)
		period = REGISTER_TIMEOUT;
	tv.tv_sec = period;
	tv.tv_usec = 0;
	event_assign(&s->hb_timer, W->base, -1, EV_PERSIST, control_timer, s);
	event_add(&s->hb_timer, &tv);
	TAILQ_INSERT_TAIL(&W->sessions, s, entry);
	strmap_put(&W->sessions_by_id, s->id, s);
	return s;
}

/* Handles the first message of a connection: register or data. */
void
control_first_message(struct pending *p, const char *json, size_t len)
{
	struct session	*s;
	struct msg	 m;
	char		 err[160];

	if (proto_parse(json, len, &m, err, sizeof(err)) == -1) {
		worker_reject_tls(p->fd, p->ssl, p->addr, err);
	} else if (m.type == MSG_DATA && MSG_HAS(&m, F_DATA_ID)) {
		tunnel_data_conn(p->fd, p->ssl, m.data_id, p->addr);
	} else if (m.type != MSG_REGISTER) {
		worker_reject_tls(p->fd, p->ssl, p->addr,
		    "first message must be register");
	} else if ((s = session_new(p)) == NULL) {
		worker_reject_tls(p->fd, p->ssl, p->addr, "out of memory");
	} else {
		log_info("control connection from %s%s", p->addr,
		    p->ssl ? " (TLS)" : "");
		control_register(s, &m);
		/* Frames that came with the first (TLS) are read now. */
		if (!s->closing &&
		    evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
			event_active(&s->hb_timer, EV_READ, 0);
	}
	hsread_reset(&p->hs);
	free(p);
}

/* Frees a closed session's memory once no callback refers to it. */
static void
session_free_cb(evutil_socket_t fd, short what, void *arg)
{
	free(arg);
}

/* Closes a session and everything it owns; records why. */
void
control_session_close(struct session *s, const char *reason)
{
	struct mapping	*map;
	uint16_t	 ports[MAX_MAPPINGS_PER_SESSION];
	size_t		 nports = 0, len;
	struct evbuffer	*out;
	int		 fd;

	if (s->closing)
		return;
	s->closing = 1;
	plugin_session_close(s);
	log_info("client %s (%s) from %s disconnected: %s",
	    s->name[0] ? s->name : "?", s->id, s->addr, reason);
	tunnel_session_drop_data(s);
	while ((map = TAILQ_FIRST(&s->mappings)) != NULL) {
		if (nports < MAX_MAPPINGS_PER_SESSION)
			ports[nports++] = map->remote_port;
		tunnel_mapping_free(map);
	}
	flush_now();
	if (s->registered)
		db_session_end(&W->db, s->id, s->hist_seq, reason, s->bytes_in,
		    s->bytes_out, ports, nports);
	cred_session_free(s);
	strmap_del(&W->sessions_by_id, s->id);
	TAILQ_REMOVE(&W->sessions, s, entry);
	event_del(&s->hb_timer);
	/* Push our last words out, then close without losing them to a RST. */
	fd = bufferevent_getfd(s->bev);
	out = bufferevent_get_output(s->bev);
	if (s->ssl != NULL) {
		tlsaccept_session_close(s->bev, s->ssl);
		s->ssl = NULL;
	} else {
		/* The bufferevent owns draining (its buffer is frozen): write a copy. */
		if ((len = evbuffer_get_length(out)) > 0)
			(void)!send(fd, evbuffer_pullup(out, -1), len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		bufferevent_free(s->bev);
	}
	s->bev = NULL;
	net_linger_close(W->base, fd);
	/* Freed from the loop: callers up the stack may still look at s. */
	event_base_once(W->base, -1, EV_TIMEOUT, session_free_cb, s,
	    &(struct timeval){ 0, 0 });
}

/* Closes a client's session if this worker has it (kick, takeover). */
void
control_kick(const char *client_id, const char *reason)
{
	struct session *s = control_session_find(client_id);

	if (s != NULL)
		control_fail(s, reason);
}
