/* SPDX-License-Identifier: ISC */
/*
 * ctlsock.c: the master's control socket (control_socket, mode 0600) for
 * gotunnelctl and gotunnel-admin: status, clients, mappings, kick, reload.
 * Requests are framed like the control protocol; replies may exceed 64 KiB
 * (10,000 clients) and are length-prefixed the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <yajl/yajl_gen.h>

#include "db_rec.h"
#include "db_live.h"
#include "db_mapstate.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "server.h"
#include "xmalloc.h"

#define CTL_MAX_CONNS	64

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	struct bufferevent	*bev;
	uint64_t		 kick_cookie;	/* waiting for a worker, 0 if not */
	struct event		 kick_timer;
	int			 close_after_write;
};
TAILQ_HEAD(ctl_list, ctl_conn);

static int		ctl_fd = -1;
static struct event	ctl_ev;
static struct event	ctl_retry_ev;	/* re-arms ctl_ev after EMFILE */
static char		ctl_path[108];
static struct ctl_list	ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static unsigned		nctl_conns;

#define GEN_STR(g, s)	yajl_gen_string(g, (const unsigned char *)(s), strlen(s))
#define GEN_KV_STR(g, k, v) do { GEN_STR(g, k); GEN_STR(g, v); } while (0)
#define GEN_KV_INT(g, k, v) do { GEN_STR(g, k); yajl_gen_integer(g, (long long)(v)); } while (0)

/* Frees a control connection. */
static void
ctl_conn_free(struct ctl_conn *c)
{
	TAILQ_REMOVE(&ctl_conns, c, entry);
	nctl_conns--;
	event_del(&c->kick_timer);
	bufferevent_free(c->bev);
	free(c);
}

/* Sends a generated reply with its length prefix. */
static void
ctl_send_gen(struct ctl_conn *c, yajl_gen g)
{
	const unsigned char	*buf;
	size_t			 len;
	unsigned char		 hdr[4];

	yajl_gen_get_buf(g, &buf, &len);
	frame_put_header(hdr, len);
	bufferevent_write(c->bev, hdr, 4);
	bufferevent_write(c->bev, buf, len);
}

/* Starts a reply {"type":"ctl_response","status":...}. */
static yajl_gen
ctl_reply_begin(const char *status)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	GEN_KV_STR(g, "type", "ctl_response");
	GEN_KV_STR(g, "status", status);
	return g;
}

/* Sends a failure reply. */
static void
ctl_fail(struct ctl_conn *c, const char *error)
{
	yajl_gen g = ctl_reply_begin("fail");

	GEN_KV_STR(g, "error", error);
	yajl_gen_map_close(g);
	ctl_send_gen(c, g);
	yajl_gen_free(g);
}

/* Emits "domains": the comma-separated list as an array ([] for tcp). */
static void
ctlsock_gen_domains(yajl_gen g, const char *list)
{
	const char *p = list, *e;

	GEN_STR(g, "domains");
	yajl_gen_array_open(g);
	for (; *p != '\0'; p = *e ? e + 1 : e) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		if (e > p)
			yajl_gen_string(g, (const unsigned char *)p, (size_t)(e - p));
	}
	yajl_gen_array_close(g);
}

/* Emits one mapping record. */
static void
gen_mapping(yajl_gen g, MDB_txn *txn, const struct db_mapping *m, int full)
{
	yajl_gen_map_open(g);
	GEN_KV_INT(g, "remote_port", m->remote_port);
	GEN_KV_STR(g, "type", m->type[0] ? m->type : "tcp");
	ctlsock_gen_domains(g, m->domains);
	GEN_KV_STR(g, "name", m->name);
	GEN_KV_STR(g, "type", m->type[0] ? m->type : "tcp");
	GEN_KV_STR(g, "local_ip", m->local_ip);
	GEN_KV_INT(g, "local_port", m->local_port);
	GEN_STR(g, "enabled");
	yajl_gen_bool(g, db_mapstate_enabled(&M->db, txn, m->remote_port,
	    m->client_name));
	if (full) {
		if (cluster_on())
			GEN_KV_STR(g, "node", M->conf.cluster_node_name);
		GEN_KV_STR(g, "client_id", m->client_id);
		GEN_KV_STR(g, "client_name", m->client_name);
		GEN_KV_INT(g, "since", m->since);
		GEN_KV_INT(g, "worker_pid", m->worker_pid);
		GEN_KV_INT(g, "live_conns", m->live_conns);
		GEN_KV_INT(g, "total_conns", m->total_conns);
		GEN_KV_INT(g, "bytes_in", m->bytes_in);
		GEN_KV_INT(g, "bytes_out", m->bytes_out);
	}
	yajl_gen_map_close(g);
}

/* Emits the mappings table as an array. */
static void
gen_mappings(yajl_gen g, MDB_txn *txn)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;

	yajl_gen_array_open(g);
	if (mdb_cursor_open(txn, M->db.dbi[DB_MAPPINGS], &cur) == 0) {
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
		    op = MDB_NEXT) {
			struct db_mapping m;

			/* LMDB aligns values to 2 bytes only: copy before use. */
			if (db_rec_mapping(&v, &m) != 0)
				continue;
			gen_mapping(g, txn, &m, 1);
		}
		mdb_cursor_close(cur);
	}
	yajl_gen_array_close(g);
}

/* The mappings of one client, gathered for gen_clients(). */
struct map_list {
	size_t			n;
	struct db_mapping	m[64];
};

/* Emits the clients table, each with its mappings. */
static void
gen_clients(yajl_gen g, MDB_txn *txn)
{
	struct strmap	 bycl;
	MDB_cursor	*cur;
	MDB_val		 k, v;

	/* Index mappings by client: one pass, not one scan per client. */
	strmap_init(&bycl);
	if (mdb_cursor_open(txn, M->db.dbi[DB_MAPPINGS], &cur) == 0) {
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
		    op = MDB_NEXT) {
			struct db_mapping	 m;
			struct map_list		*l;

			if (db_rec_mapping(&v, &m) != 0)
				continue;
			if ((l = strmap_get(&bycl, m.client_id)) == NULL) {
				l = xcalloc(1, sizeof(*l));
				strmap_put(&bycl, m.client_id, l);
			}
			if (l->n < 64)
				l->m[l->n++] = m;
		}
		mdb_cursor_close(cur);
	}
	yajl_gen_array_open(g);
	if (mdb_cursor_open(txn, M->db.dbi[DB_CLIENTS], &cur) == 0) {
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
		    op = MDB_NEXT) {
			struct db_client	 rec, *c = &rec;
			struct map_list		*l;

			if (db_rec_client(&v, &rec) != 0)
				continue;
			yajl_gen_map_open(g);
			if (cluster_on())
				GEN_KV_STR(g, "node", M->conf.cluster_node_name);
			GEN_KV_STR(g, "id", c->id);
			GEN_KV_STR(g, "name", c->name);
			GEN_KV_STR(g, "address", c->address);
			GEN_KV_INT(g, "connected_since", c->connected_since);
			GEN_KV_INT(g, "last_heartbeat", c->last_heartbeat);
			GEN_KV_INT(g, "worker_pid", c->worker_pid);
			GEN_KV_INT(g, "live_conns", c->live_conns);
			GEN_KV_INT(g, "bytes_in", c->bytes_in);
			GEN_KV_INT(g, "bytes_out", c->bytes_out);
			GEN_KV_STR(g, "credential", c->credential);
			GEN_STR(g, "mappings");
			yajl_gen_array_open(g);
			if ((l = strmap_get(&bycl, c->id)) != NULL)
				for (size_t i = 0; i < l->n; i++)
					gen_mapping(g, txn, &l->m[i], 0);
			yajl_gen_array_close(g);
			yajl_gen_map_close(g);
		}
		mdb_cursor_close(cur);
	}
	yajl_gen_array_close(g);
	for (size_t i = 0; i < bycl.nbuckets; i++)
		for (struct strmap_entry *e = bycl.buckets[i]; e; e = e->next)
			free(e->value);
	strmap_free(&bycl);
}

/* Emits the master's status. */
static void
gen_status(yajl_gen g, MDB_txn *txn)
{
	MDB_stat	st;
	int		running = 0;

	for (int i = 0; i < M->nslots; i++)
		running += M->slots[i].active && M->slots[i].pid > 0;
	yajl_gen_map_open(g);
	GEN_KV_STR(g, "version", GOTUNNEL_VERSION);
	/* For probes (gotunnelctl status exits 1 without it): not stopping,
	 * and at least one worker runs the listeners. */
	GEN_STR(g, "serving");
	yajl_gen_bool(g, !M->stopping && running > 0);
	GEN_KV_INT(g, "pid", getpid());
	GEN_KV_INT(g, "uptime", time(NULL) - M->started);
	GEN_KV_STR(g, "bind", M->conf.bind_addr);
	GEN_KV_INT(g, "bind_port", M->conf.bind_port);
	GEN_STR(g, "workers");
	yajl_gen_array_open(g);
	for (int i = 0; i < M->nslots; i++) {
		if (!M->slots[i].active && M->slots[i].pid == 0)
			continue;
		yajl_gen_map_open(g);
		GEN_KV_INT(g, "index", i);
		GEN_KV_INT(g, "pid", M->slots[i].pid);
		GEN_KV_INT(g, "restarts", M->slots[i].restarts);
		GEN_KV_INT(g, "started", M->slots[i].started);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	mdb_stat(txn, M->db.dbi[DB_CLIENTS], &st);
	GEN_KV_INT(g, "clients", st.ms_entries);
	mdb_stat(txn, M->db.dbi[DB_MAPPINGS], &st);
	GEN_KV_INT(g, "mappings", st.ms_entries);
	mdb_stat(txn, M->db.dbi[DB_CONNS], &st);
	GEN_KV_INT(g, "connections", st.ms_entries);
	if (cluster_on()) {
		GEN_KV_STR(g, "node", M->conf.cluster_node_name);
		GEN_KV_STR(g, "cluster_store", cluster_store_ok() ? "ok" :
		    "unavailable");
	}
	yajl_gen_map_close(g);
}

/* A worker did not answer a kick in time. */
static void
ctl_kick_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;

	c->kick_cookie = 0;
	ctl_fail(c, "the worker did not answer");
}

/* Starts a kick: finds the client's worker and asks it. */
static void
ctl_kick(struct ctl_conn *c, const char *id)
{
	struct db_client	 rec;
	struct ipc_msg		 m;
	MDB_txn			*txn;
	MDB_val			 k = { .mv_size = strlen(id), .mv_data = (void *)id }, v;
	int			 found = 0;

	if (db_txn_begin(&M->db, 1, &txn) != 0) {
		ctl_fail(c, "database error");
		return;
	}
	if (mdb_get(txn, M->db.dbi[DB_CLIENTS], &k, &v) == 0 &&
	    db_rec_client(&v, &rec) == 0)
		found = 1;
	mdb_txn_abort(txn);
	if (!found && id[0] != '\0' && cluster_on()) {
		/* Maybe another node's: it gets the kick by NOTIFY. */
		c->kick_cookie = ctlsock_cookie();
		event_add(&c->kick_timer, &(struct timeval){ 5, 0 });
		cluster_ctl("kick", id, c->kick_cookie);
		return;
	}
	if (!found || id[0] == '\0') {
		ctl_fail(c, "no such client");
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = IPC_KICK;
	m.cookie = ++M->kick_cookie;
	snprintf(m.client_id, sizeof(m.client_id), "%s", id);
	if (master_send_ipc((int)rec.worker_index, &m) == -1) {
		ctl_fail(c, "the client's worker is not running");
		return;
	}
	log_info("kick of client %s (%s) requested", rec.name, id);
	c->kick_cookie = m.cookie;
	event_add(&c->kick_timer, &(struct timeval){ 5, 0 });
}

/* Starts "mapping disable|enable PORT" (mapstate.c), then waits like a kick. */
static void
ctl_mapping(struct ctl_conn *c, const struct msg *req)
{
	uint64_t	cookie;
	char		err[128];
	yajl_gen	g;

	if (mapstate_request(req, &cookie, err, sizeof(err)) == -1) {
		ctl_fail(c, err);
		return;
	}
	if (cookie == 0) {
		g = ctl_reply_begin("ok");
		yajl_gen_map_close(g);
		ctl_send_gen(c, g);
		yajl_gen_free(g);
		return;
	}
	c->kick_cookie = cookie;
	event_add(&c->kick_timer, &(struct timeval){ 5, 0 });
}

/* A new cookie for a request that waits (kick, cluster). */
uint64_t
ctlsock_cookie(void)
{
	return ++M->kick_cookie;
}

/* The JSON array of this node's clients or mappings (malloc'd). */
char *
ctlsock_local_json(const char *cmd)
{
	yajl_gen		 g = yajl_gen_alloc(NULL);
	const unsigned char	*buf;
	size_t			 len;
	MDB_txn			*txn;
	char			*s;

	if (db_txn_begin(&M->db, 1, &txn) != 0) {
		yajl_gen_array_open(g);
		yajl_gen_array_close(g);
	} else {
		if (strcmp(cmd, "clients") == 0)
			gen_clients(g, txn);
		else
			gen_mappings(g, txn);
		mdb_txn_abort(txn);
	}
	yajl_gen_get_buf(g, &buf, &len);
	s = xmalloc(len + 1);
	memcpy(s, buf, len);
	s[len] = '\0';
	yajl_gen_free(g);
	return s;
}

/* The cluster answered a request: error, or a JSON result (may be NULL). */
void
ctlsock_cluster_result(uint64_t cookie, const char *error, const char *json)
{
	struct ctl_conn	*c;
	unsigned char	 hdr[4];
	static const char head[] =
	    "{\"type\":\"ctl_response\",\"status\":\"ok\"";
	size_t		 len;

	TAILQ_FOREACH(c, &ctl_conns, entry)
		if (c->kick_cookie == cookie)
			break;
	if (c == NULL)
		return;
	c->kick_cookie = 0;
	event_del(&c->kick_timer);
	if (error != NULL) {
		ctl_fail(c, error);
		return;
	}
	/* The result is our own JSON (yajl or PostgreSQL's json_agg). */
	len = strlen(head) + (json ? strlen(",\"result\":") + strlen(json) : 0) + 1;
	frame_put_header(hdr, len);
	bufferevent_write(c->bev, hdr, 4);
	bufferevent_write(c->bev, head, strlen(head));
	if (json != NULL) {
		bufferevent_write(c->bev, ",\"result\":", strlen(",\"result\":"));
		bufferevent_write(c->bev, json, strlen(json));
	}
	bufferevent_write(c->bev, "}", 1);
}

/* A worker answered a kick: reply to whoever asked. */
void
ctlsock_kick_result(const struct ipc_msg *m)
{
	struct ctl_conn *c;

	TAILQ_FOREACH(c, &ctl_conns, entry) {
		if (c->kick_cookie != m->cookie)
			continue;
		c->kick_cookie = 0;
		event_del(&c->kick_timer);
		if (m->ok) {
			yajl_gen g = ctl_reply_begin("ok");

			yajl_gen_map_close(g);
			ctl_send_gen(c, g);
			yajl_gen_free(g);
		} else
			ctl_fail(c, "no such client");
		return;
	}
}

/*
 * A credential was revoked or rotated: every worker rechecks its sessions
 * of that credential now and closes the stale ones.
 */
static void
ctl_token_kick(struct ctl_conn *c, const char *name)
{
	struct ipc_msg	m;
	yajl_gen	g;
	int		n = 0;

	if (!db_token_name_valid(name)) {
		ctl_fail(c, "bad credential name");
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = IPC_CRED_KICK;
	/* A valid name (<= 32 characters) fits client_id. */
	memcpy(m.client_id, name, strlen(name) + 1);
	for (int i = 0; i < M->nslots; i++)
		if (master_send_ipc(i, &m) == 0)
			n++;
	log_info("credential %s: sessions rechecked by %d workers", name, n);
	/* Cluster mode: the change (e.g. from the console) reaches every node. */
	cluster_push_token(name);
	g = ctl_reply_begin("ok");
	yajl_gen_map_close(g);
	ctl_send_gen(c, g);
	yajl_gen_free(g);
}

/* Answers one request. */
static void
ctl_handle(struct ctl_conn *c, const struct msg *req)
{
	MDB_txn		*txn;
	yajl_gen	 g;
	char		 err[512];

	if (req->type != MSG_CTL || !MSG_HAS(req, F_CMD)) {
		ctl_fail(c, "expected {\"type\":\"ctl\",\"cmd\":...}");
		return;
	}
	if (strcmp(req->cmd, "kick") == 0) {
		ctl_kick(c, req->client_id);
		return;
	}
	if (strncmp(req->cmd, "mapping_", 8) == 0) {
		ctl_mapping(c, req);
		return;
	}
	if (strcmp(req->cmd, "token_kick") == 0) {
		ctl_token_kick(c, req->name);
		return;
	}
	if (strcmp(req->cmd, "reload") == 0) {
		if (master_reload(err, sizeof(err)) == -1)
			ctl_fail(c, err);
		else {
			g = ctl_reply_begin("ok");
			yajl_gen_map_close(g);
			ctl_send_gen(c, g);
			yajl_gen_free(g);
		}
		return;
	}
	if (strcmp(req->cmd, "stats") == 0) {
		char *text = metrics_render(&M->db);

		g = ctl_reply_begin("ok");
		GEN_KV_STR(g, "result", text);
		yajl_gen_map_close(g);
		ctl_send_gen(c, g);
		yajl_gen_free(g);
		free(text);
		return;
	}
	if (cluster_on() && (strcmp(req->cmd, "nodes") == 0 ||
	    strcmp(req->cmd, "clients") == 0 || strcmp(req->cmd, "mappings") == 0)) {
		/* Every node's sessions: the answer comes from PostgreSQL. */
		c->kick_cookie = ctlsock_cookie();
		event_add(&c->kick_timer, &(struct timeval){ 5, 0 });
		cluster_ctl(req->cmd, NULL, c->kick_cookie);
		return;
	}
	if (strcmp(req->cmd, "nodes") == 0) {
		ctl_fail(c, "not in cluster mode (no [cluster] database)");
		return;
	}
	if (strcmp(req->cmd, "status") != 0 && strcmp(req->cmd, "clients") != 0 &&
	    strcmp(req->cmd, "mappings") != 0) {
		ctl_fail(c, "unknown command");
		return;
	}
	if (db_txn_begin(&M->db, 1, &txn) != 0) {
		ctl_fail(c, "database error");
		return;
	}
	g = ctl_reply_begin("ok");
	GEN_STR(g, "result");
	if (strcmp(req->cmd, "status") == 0)
		gen_status(g, txn);
	else if (strcmp(req->cmd, "clients") == 0)
		gen_clients(g, txn);
	else
		gen_mappings(g, txn);
	mdb_txn_abort(txn);
	yajl_gen_map_close(g);
	ctl_send_gen(c, g);
	yajl_gen_free(g);
}

/* Reads requests from a control connection. */
static void
ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn	*c = arg;
	static char	 buf[FRAME_MAX + 1];
	const char	*ferr;
	char		 err[160];
	struct msg	 m;
	size_t		 len;

	for (int i = 0; i < 16 && c->kick_cookie == 0; i++) {
		switch (frame_pull(bufferevent_get_input(bev), buf, &len, &ferr)) {
		case FRAME_AGAIN:
			return;
		case FRAME_BAD:
			ctl_fail(c, ferr);
			c->close_after_write = 1;
			bufferevent_disable(bev, EV_READ);
			return;
		case FRAME_OK:
			break;
		}
		if (proto_parse(buf, len, &m, err, sizeof(err)) == -1)
			ctl_fail(c, err);
		else
			ctl_handle(c, &m);
	}
}

/* Closes the connection once a final reply is out. */
static void
ctl_write(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->close_after_write)
		ctl_conn_free(c);
}

/* EOF or error: forget the connection. */
static void
ctl_event(struct bufferevent *bev, short what, void *arg)
{
	ctl_conn_free(arg);
}

/* Re-arms the control socket listener after a pause for descriptors. */
static void
ctl_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	if (ctl_fd != -1)
		event_add(&ctl_ev, NULL);
}

/* Accepts gotunnelctl / admin connections. */
static void
ctl_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ctl_conn	*c;
	int		 fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		/* Level-triggered: out of descriptors, pause instead of spinning. */
		if (errno == EMFILE || errno == ENFILE) {
			log_warn("control socket: accept paused for 1 s");
			event_del(&ctl_ev);
			event_add(&ctl_retry_ev, &(struct timeval){ 1, 0 });
		}
		return;
	}
	if (nctl_conns >= CTL_MAX_CONNS) {
		log_warnx("control socket: too many connections");
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->bev = bufferevent_socket_new(M->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 2 * (FRAME_MAX + FRAME_HDR));
	bufferevent_setcb(c->bev, ctl_read, ctl_write, ctl_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_assign(&c->kick_timer, M->base, ctl_kick_timeout, c);
	TAILQ_INSERT_TAIL(&ctl_conns, c, entry);
	nctl_conns++;
}

/* Opens control_socket (mode 0600); refuses if another master answers there. */
int
ctlsock_open(struct server_config *conf, struct event_base *base)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(conf->control_socket) >= sizeof(sun.sun_path)) {
		log_errorx("control_socket path too long");
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", conf->control_socket);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe != -1 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(probe);
		log_errorx("another gotunnel-master answers on %s",
		    conf->control_socket);
		return -1;
	}
	if (probe != -1)
		close(probe);
	unlink(conf->control_socket);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl_fd == -1) {
		log_warn("control socket");
		return -1;
	}
	old = umask(0177);
	if (bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(ctl_fd, 16) == -1) {
		umask(old);
		log_warn("control socket %s", conf->control_socket);
		close(ctl_fd);
		ctl_fd = -1;
		return -1;
	}
	umask(old);
	chmod(conf->control_socket, 0600);
	snprintf(ctl_path, sizeof(ctl_path), "%s", conf->control_socket);
	event_assign(&ctl_ev, base, ctl_fd, EV_READ | EV_PERSIST, ctl_accept, NULL);
	event_add(&ctl_ev, NULL);
	evtimer_assign(&ctl_retry_ev, base, ctl_accept_retry, NULL);
	return 0;
}

/* Closes the control socket and its connections, removes the file. */
void
ctlsock_close(void)
{
	if (ctl_fd == -1)
		return;
	event_del(&ctl_ev);
	event_del(&ctl_retry_ev);
	close(ctl_fd);
	ctl_fd = -1;
	unlink(ctl_path);
	while (!TAILQ_EMPTY(&ctl_conns))
		ctl_conn_free(TAILQ_FIRST(&ctl_conns));
}
