/* SPDX-License-Identifier: ISC */
/*
 * api_live.c: what is connected now (tables clients, mappings, conns) and
 * the disconnect action, which asks the master over its control socket.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "db_rec.h"
#include "db_mapstate.h"
#include "module.h"

#define CTL_TIMEOUT_MS	3000
#define CTL_REPLY_MAX	(64u << 20)	/* clients of a whole cluster: > a frame */

/* Appends one mapping object. */
static void
live_mapping_json(struct kore_buf *b, MDB_txn *txn, const struct db_mapping *m,
    int full)
{
	jw_open(b, '{');
	if (full)
		jw_uint(b, "remote_port", m->remote_port);
	jw_str(b, "name", m->name, sizeof(m->name));
	if (!full)
		jw_uint(b, "remote_port", m->remote_port);
	if (full) {
		jw_str(b, "client_id", m->client_id, sizeof(m->client_id));
		jw_str(b, "client_name", m->client_name,
		    sizeof(m->client_name));
	}
	jw_str(b, "type", m->type[0] ? m->type : "tcp", sizeof(m->type));
	jw_key(b, "domains");		/* [] for tcp */
	jw_open(b, '[');
	for (const char *p = m->domains, *e; *p != '\0' &&
	    p < m->domains + sizeof(m->domains); p = *e ? e + 1 : e) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		if (e > p)
			jw_str(b, NULL, p, (size_t)(e - p));
	}
	jw_close(b, ']');
	jw_str(b, "local_ip", m->local_ip, sizeof(m->local_ip));
	jw_uint(b, "local_port", m->local_port);
	jw_int(b, "since", m->since);
	jw_uint(b, "live_conns", m->live_conns);
	jw_uint(b, "total_conns", m->total_conns);
	jw_uint(b, "bytes_in", m->bytes_in);
	jw_uint(b, "bytes_out", m->bytes_out);
	jw_bool(b, "enabled", db_mapstate_enabled(&admin_db, txn, m->remote_port,
	    m->client_name));
	jw_close(b, '}');
}

/* Appends a live connection object; events add status and start. */
void
live_conn_json(struct kore_buf *b, uint64_t id, const struct db_conn *c,
    const char *status)
{
	jw_open(b, '{');
	kore_buf_appendf(b, "\"id\":\"%llu\",", (unsigned long long)id);
	jw_str(b, "client_id", c->client_id, sizeof(c->client_id));
	jw_uint(b, "remote_port", c->remote_port);
	jw_uint(b, "local_port", c->local_port);
	jw_str(b, "peer", c->peer, sizeof(c->peer));
	jw_int(b, "since", c->since);
	jw_uint(b, "bytes_in", c->bytes_in);
	jw_uint(b, "bytes_out", c->bytes_out);
	if (status != NULL) {
		jw_int(b, "start", c->since);
		jw_str(b, "status", status, 16);
	}
	jw_close(b, '}');
}

/* 1 when a fixed-size record field equals the client id. */
static int
same_id(const char *field, size_t size, const char *id)
{
	return strnlen(field, size) == strnlen(id, DB_ID_LEN) &&
	    strncmp(field, id, size) == 0;
}

/* Appends one client object, its mappings and optionally its conns. */
void
live_client_json(struct kore_buf *b, MDB_txn *txn, const struct db_client *c,
    int with_conns)
{
	struct db_mapping	 m;
	struct db_conn		 cn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int			 op, n = 0;

	jw_open(b, '{');
	jw_str(b, "id", c->id, sizeof(c->id));
	jw_str(b, "name", c->name, sizeof(c->name));
	jw_str(b, "address", c->address, sizeof(c->address));
	jw_int(b, "connected_since", c->connected_since);
	jw_int(b, "last_heartbeat", c->last_heartbeat);
	jw_int(b, "worker", c->worker_pid);
	jw_str(b, "credential", c->credential, sizeof(c->credential));
	jw_key(b, "mappings");
	jw_open(b, '[');
	if (mdb_cursor_open(txn, admin_db.dbi[DB_MAPPINGS], &cur) == 0) {
		for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0 &&
		    n < 65536; op = MDB_NEXT, n++) {
			if (db_rec_mapping(&v, &m) != 0)
				continue;
			if (same_id(m.client_id, sizeof(m.client_id), c->id))
				live_mapping_json(b, txn, &m, 0);
		}
		mdb_cursor_close(cur);
	}
	jw_close(b, ']');
	jw_uint(b, "live_conns", c->live_conns);
	jw_uint(b, "bytes_in", c->bytes_in);
	jw_uint(b, "bytes_out", c->bytes_out);
	if (with_conns) {
		jw_key(b, "conns");
		jw_open(b, '[');
		if (mdb_cursor_open(txn, admin_db.dbi[DB_CONNS], &cur) == 0) {
			for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v,
			    op) == 0; op = MDB_NEXT) {
				if (db_rec_conn(&v, &cn) != 0)
					continue;
				if (same_id(cn.client_id, sizeof(cn.client_id),
				    c->id))
					live_conn_json(b, db_u64_key(&k), &cn,
					    NULL);
			}
			mdb_cursor_close(cur);
		}
		jw_close(b, ']');
	}
	jw_close(b, '}');
}

/* Reads client id in txn: 0 found, 1 not. */
int
live_client_get(MDB_txn *txn, const char *id, struct db_client *out)
{
	MDB_val	k, v;

	k.mv_data = (void *)id;
	k.mv_size = strlen(id);
	if (mdb_get(txn, admin_db.dbi[DB_CLIENTS], &k, &v) == 0 &&
	    db_rec_client(&v, out) == 0)
		return 0;
	/* Tolerate a key stored with its terminating NUL. */
	k.mv_size = strlen(id) + 1;
	if (mdb_get(txn, admin_db.dbi[DB_CLIENTS], &k, &v) == 0 &&
	    db_rec_client(&v, out) == 0)
		return 0;
	return 1;
}

/* Answers {"<name>":[...]} with one object per record of a live table. */
static int
live_list(struct admin_ctx *ctx, enum db_table t, const char *name,
    void (*emit)(struct kore_buf *, MDB_txn *, const MDB_val *))
{
	static const char *const none[] = { NULL };
	struct kore_buf	 b;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 op;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	kore_buf_init(&b, 4096);
	jw_open(&b, '{');
	jw_key(&b, name);
	jw_open(&b, '[');
	if (mdb_cursor_open(txn, admin_db.dbi[t], &cur) == 0) {
		for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
		    op = MDB_NEXT) {
			emit(&b, txn, &v);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	jw_close(&b, ']');
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}

/* live_list emitter for the clients table (records may be unaligned). */
static void
emit_client(struct kore_buf *b, MDB_txn *txn, const MDB_val *v)
{
	struct db_client	c;

	if (db_rec_client(v, &c) == 0)
		live_client_json(b, txn, &c, 0);
}

/* live_list emitter for the mappings table. */
static void
emit_mapping(struct kore_buf *b, MDB_txn *txn, const MDB_val *v)
{
	struct db_mapping	m;

	if (db_rec_mapping(v, &m) == 0)
		live_mapping_json(b, txn, &m, 1);
}

/* GET /api/clients. */
int
api_clients(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };

	/* Cluster mode: every node's sessions, from the master. */
	if (cluster_admin_on()) {
		if (admin_params_allow(ctx, none) == -1)
			return KORE_RESULT_OK;
		if (cluster_clients(ctx) == 0)
			return KORE_RESULT_OK;
	}
	return live_list(ctx, DB_CLIENTS, "clients", emit_client);
}

/* GET /api/clients/{id}. */
int
api_client(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct db_client	 c;
	struct kore_buf		 b;
	MDB_txn			*txn;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	if (live_client_get(txn, ctx->arg, &c) != 0) {
		mdb_txn_abort(txn);
		/* Cluster mode: the session may be another node's. */
		if (!cluster_admin_on() || cluster_client(ctx) != 0)
			admin_error(ctx, 404, "no such client");
		return KORE_RESULT_OK;
	}
	kore_buf_init(&b, 4096);
	live_client_json(&b, txn, &c, 1);
	mdb_txn_abort(txn);
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}

/* GET /api/mappings. */
int
api_mappings(struct admin_ctx *ctx)
{
	return live_list(ctx, DB_MAPPINGS, "mappings", emit_mapping);
}

/* Waits until fd is ready for events or the deadline passes. */
static int
ctl_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd	pfd = { fd, events, 0 };
	uint64_t	now = kore_time_ms();
	int		r;

	if (now >= deadline)
		return -1;
	do {
		r = poll(&pfd, 1, (int)(deadline - now));
	} while (r == -1 && errno == EINTR);
	return r == 1 ? 0 : -1;
}

/* Reads exactly len bytes before the deadline. */
static int
ctl_read(int fd, void *buf, size_t len, uint64_t deadline)
{
	size_t	off = 0;
	ssize_t	r;

	while (off < len) {
		if (ctl_wait(fd, POLLIN, deadline) == -1)
			return -1;
		r = read(fd, (char *)buf + off, len - off);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/*
 * Sends one control request (4-byte big-endian length + JSON) to the
 * master and reads its reply: 0 ok, 1 the master answered fail (error in
 * err), -1 the master could not be reached (reason in err).
 */
int
ctl_request(const char *json, char *err, size_t errlen)
{
	return ctl_request_reply(json, NULL, err, errlen);
}

/* ctl_request() that also hands over the whole reply (kore_free it) in
 * *out when the master answered ok and out is not NULL. */
int
ctl_request_reply(const char *json, char **out, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	unsigned char		 hdr[4];
	char			 status[32], *reply = NULL;
	size_t			 len = strlen(json), off = 0;
	uint32_t		 n;
	uint64_t		 deadline = kore_time_ms() + CTL_TIMEOUT_MS;
	ssize_t			 w;
	int			 fd, rc = -1;

	if (admin_conf.control_socket[0] == '\0') {
		snprintf(err, errlen, "no control_socket configured");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(admin_conf.control_socket) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control_socket path too long");
		return -1;
	}
	memcpy(sun.sun_path, admin_conf.control_socket,
	    strlen(admin_conf.control_socket) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "master unreachable: %s",
		    strerror(errno));
		goto out;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	reply = kore_malloc(4 + len);
	memcpy(reply, hdr, 4);
	memcpy(reply + 4, json, len);
	while (off < 4 + len) {
		if (ctl_wait(fd, POLLOUT, deadline) == -1)
			break;
		w = write(fd, reply + off, 4 + len - off);
		if (w == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	kore_free(reply);
	reply = NULL;
	if (off < 4 + len || ctl_read(fd, hdr, 4, deadline) == -1) {
		snprintf(err, errlen, "no reply from the master");
		goto out;
	}
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (n == 0 || n > CTL_REPLY_MAX) {
		snprintf(err, errlen, "bad reply from the master");
		goto out;
	}
	reply = kore_malloc(n + 1);
	if (ctl_read(fd, reply, n, deadline) == -1) {
		snprintf(err, errlen, "no reply from the master");
		goto out;
	}
	reply[n] = '\0';
	if (json_ctl_reply(reply, n, status, sizeof(status), err,
	    errlen) == -1) {
		snprintf(err, errlen, "bad reply from the master");
		goto out;
	}
	rc = strcmp(status, "ok") == 0 ? 0 : 1;
	if (rc == 1 && err[0] == '\0')
		snprintf(err, errlen, "failed");
	if (rc == 0 && out != NULL) {
		*out = reply;
		reply = NULL;
	}
out:
	if (reply != NULL)
		kore_free(reply);
	close(fd);
	return rc;
}

/* POST /api/clients/{id}/disconnect: the master kicks the client. */
int
api_disconnect(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct db_client	 c;
	MDB_txn			*txn;
	char			 req[256], err[256], detail[128];
	int			 rc, found;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	found = live_client_get(txn, ctx->arg, &c) == 0;
	mdb_txn_abort(txn);
	snprintf(detail, sizeof(detail), "client %s%s%.*s%s", ctx->arg,
	    found ? " (" : "", found ? (int)strnlen(c.name, sizeof(c.name)) :
	    0, found ? c.name : "", found ? ")" : "");
	/* In cluster mode the session may be on another node: the master's
	 * kick finds it there (or answers "no such client"). */
	if (!found && admin_conf.cluster_database[0] == '\0') {
		(void)db_audit_add(&admin_db, ctx->sess.user, "disconnect", 0,
		    ctx->address, detail);
		admin_error(ctx, 404, "no such client");
		return KORE_RESULT_OK;
	}
	/* arg matched [A-Za-z0-9._-]: safe inside a JSON string. */
	snprintf(req, sizeof(req),
	    "{\"type\":\"ctl\",\"cmd\":\"kick\",\"client_id\":\"%s\"}",
	    ctx->arg);
	rc = ctl_request(req, err, sizeof(err));
	(void)db_audit_add(&admin_db, ctx->sess.user, "disconnect", rc == 0,
	    ctx->address, detail);
	if (rc == 1) {
		admin_error(ctx, strstr(err, "no such") ? 404 : 500, err);
		return KORE_RESULT_OK;
	}
	if (rc == -1) {
		kore_log(LOG_WARNING, "disconnect %s: %s", ctx->arg, err);
		admin_error(ctx, 500, err);
		return KORE_RESULT_OK;
	}
	kore_log(LOG_NOTICE, "user '%s' disconnected %s", ctx->sess.user,
	    detail);
	admin_ok(ctx);
	return KORE_RESULT_OK;
}
