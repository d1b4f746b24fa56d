/* SPDX-License-Identifier: ISC */
/*
 * cluster.c: the master's side of cluster mode ([cluster] database).
 *
 * Only the master talks to PostgreSQL, through one libpq connection driven
 * asynchronously on its event loop (PQconnectStart/PQconnectPoll, then
 * PQsendQuery/PQconsumeInput on an event for PQsocket): a slow or absent
 * database never stops the master, and the workers' relays never see it.
 * Queries run one at a time from a bounded FIFO queue.
 *
 * Once a second the master sends one batch: its node row (heartbeat), the
 * ports its node holds (from LMDB), its live clients and mappings (as JSON,
 * for every node's gotunnelctl), the expiry of dead nodes' rows, and it reads
 * back the cluster-wide port owners into a cache.  Claims from workers
 * (IPC_CLAIM) are decided by one INSERT ... ON CONFLICT, so two nodes racing
 * for a port cannot both win; without the database they are answered from
 * the cache: an identity keeps the ports it held, a port nobody held is
 * refused.  Kicks for sessions on other nodes travel by NOTIFY.  The LMDB
 * outbox (db_outbox.c) is copied to the history tables in batches.
 *
 * Also once a second (and at once on NOTIFY "auth"): the console users and
 * credentials changed since the last copy are read and copied into LMDB
 * (cluster_mirror.c), and the nodes' states are read for the node_offline
 * alert (cluster_nodes.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <yajl/yajl_gen.h>

#include "db_rec.h"
#include "cluster_schema.h"
#include "cluster_sql.h"
#include "db_live.h"
#include "log.h"
#include "server.h"
#include "xmalloc.h"

#define CQ_MAX			8192	/* queued queries */
#define CQ_TIMEOUT		5	/* seconds a query may take: then reconnect */
#define OUTBOX_BATCH		500	/* outbox records a batch */
#define NOTIFY_CHANNEL		"gotunnel"
#define KICK_COOKIE_BIT		(1ULL << 63)	/* kicks nobody waits for */
#define CLAIM_TRIES		3	/* a claim that lost a deadlock runs again */
#define AUTH_BATCH		500	/* user/credential rows copied a poll */

enum cq_kind { CQ_SCHEMA, CQ_TICK, CQ_OUTBOX, CQ_CLAIM, CQ_CTL, CQ_AUTH,
    CQ_NODES, CQ_OTHER };

/* One queued query and what to do with its result. */
struct cq {
	TAILQ_ENTRY(cq)	 entry;
	enum cq_kind	 kind;
	char		*sql;
	int		 slot;			/* CQ_CLAIM: the asking worker */
	struct ipc_msg	 claim;			/* CQ_CLAIM: the request */
	uint64_t	 cookie;		/* CQ_CTL: the waiting ctl connection */
	char		 cmd[16];		/* CQ_CTL: nodes, clients, mappings, kick */
	uint64_t	 outbox_last;		/* CQ_OUTBOX: last seq sent */
	int		 tries;			/* CQ_CLAIM: runs after a deadlock */
	int		 picked;		/* CQ_CLAIM: remote_port 0, nth pick */
};
#define CLAIM_PICKS	8	/* picks for one remote_port 0 register */

TAILQ_HEAD(cq_list, cq);

enum cl_state { CL_OFF, CL_CONNECTING, CL_READY };

static void	claim_start(int, const struct ipc_msg *, int);

static struct {
	PGconn		*conn;
	enum cl_state	 state;
	struct event	 ev_io, ev_tick;
	int		 io_added;
	struct cq_list	 queue;
	unsigned	 nqueue;
	struct cq	*busy;
	PGresult	*last;			/* busy's last result */
	int		 failed;		/* busy had an error */
	int		 retry;			/* ... a deadlock: worth another try */
	time_t		 busy_since;
	time_t		 next_try;
	time_t		 connect_since;
	time_t		 ready_since;		/* connected since */
	int		 schema_done;
	int		 tick_queued, outbox_queued;
	int		 auth_queued, nodes_queued;
	int64_t		 auth_rev;		/* gt_auth rev copied to LMDB */
	char		*owner[65536];		/* cluster-wide port owners (cache) */
	char		 origin[40];		/* this data_dir's outbox origin */
	uint64_t	 kick_seq;
	int		 warned_down;
} C;

static void cl_send_next(void);
static void cl_io(evutil_socket_t, short, void *);

/* Tells whether the master runs in cluster mode. */
int
cluster_on(void)
{
	return M->conf.cluster_database[0] != '\0';
}

/* Tells whether the database is connected and its schema in place. */
int
cluster_store_ok(void)
{
	return C.state == CL_READY && C.schema_done;
}

/* Appends str to b as an SQL literal (quoted, escaped by libpq). */
static void
lit(struct evbuffer *b, const char *str)
{
	char *e = C.conn ? PQescapeLiteral(C.conn, str, strlen(str)) : NULL;

	if (e == NULL) {
		evbuffer_add_printf(b, "NULL");
		return;
	}
	evbuffer_add(b, e, strlen(e));
	PQfreemem(e);
}

/* Takes the text of b (freeing b) as a malloc'd string. */
static char *
buf_take(struct evbuffer *b)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = xmalloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

/* Frees a query. */
static void
cq_free(struct cq *q)
{
	free(q->sql);
	free(q);
}

/* Answers a worker's claim (ok, or refused with reason). */
static void
claim_answer(const struct cq *q, int ok, const char *reason)
{
	struct ipc_msg m = q->claim;

	m.type = IPC_CLAIM_RESULT;
	m.ok = ok ? 1 : 0;
	snprintf(m.reason, sizeof(m.reason), "%s", ok ? "" : reason);
	if (master_send_ipc(q->slot, &m) == -1)
		log_warnx("cluster: worker %d gone before its claim of port %u "
		    "was answered", q->slot, q->claim.remote_port);
}

/* Without the database: an identity keeps the ports it held, no others. */
static void
claim_from_cache(const struct cq *q)
{
	const char *o = C.owner[q->claim.remote_port];

	if (o != NULL && strcmp(o, q->claim.identity) == 0)
		claim_answer(q, 1, NULL);
	else {
		log_info("cluster: claim of port %u for %s refused: cluster "
		    "store unavailable", q->claim.remote_port, q->claim.identity);
		claim_answer(q, 0, "cluster store unavailable");
	}
}

/* Sets the cached owner of a port (NULL: nobody). */
static void
owner_set(uint16_t port, const char *identity)
{
	if (C.owner[port] != NULL && identity != NULL &&
	    strcmp(C.owner[port], identity) == 0)
		return;
	free(C.owner[port]);
	C.owner[port] = identity ? xstrdup(identity) : NULL;
}

/* A query of the once-a-second batch came back: refresh the owner cache. */
static void
done_tick(PGresult *res)
{
	static char seen[65536];
	int n;

	C.tick_queued = 0;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		return;
	memset(seen, 0, sizeof(seen));
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		long port = strtol(PQgetvalue(res, i, 0), NULL, 10);

		if (port < 1 || port > 65535)
			continue;
		seen[port] = 1;
		owner_set((uint16_t)port, PQgetvalue(res, i, 1));
	}
	for (int p = 1; p < 65536; p++)
		if (!seen[p] && C.owner[p] != NULL)
			owner_set((uint16_t)p, NULL);
}

/* Deletes the outbox records PostgreSQL now has (seq <= last). */
static void
outbox_forget(uint64_t last)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 n = 0;

	if (db_txn_begin(&M->db, 0, &txn) != 0)
		return;
	if (mdb_cursor_open(txn, M->db.dbi[DB_OUTBOX], &cur) == 0) {
		while (n++ <= OUTBOX_BATCH &&
		    mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 &&
		    db_u64_key(&k) <= last)
			mdb_cursor_del(cur, 0);
		mdb_cursor_close(cur);
	}
	db_txn_commit(&M->db, txn);
}

/* Finishes a ctl request with PostgreSQL's JSON (clients/mappings: plus ours). */
static void
done_ctl(const struct cq *q, PGresult *res)
{
	const char	*remote;
	char		*local, *merged;
	size_t		 ll, rl;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (strcmp(q->cmd, "clients") == 0 || strcmp(q->cmd, "mappings") == 0) {
			/* Our own sessions we can always show. */
			local = ctlsock_local_json(q->cmd);
			ctlsock_cluster_result(q->cookie, NULL, local);
			free(local);
		} else
			ctlsock_cluster_result(q->cookie, "cluster store unavailable",
			    NULL);
		return;
	}
	if (strcmp(q->cmd, "kick") == 0) {
		ctlsock_cluster_result(q->cookie, PQntuples(res) > 0 ? NULL :
		    "no such client", NULL);
		return;
	}
	remote = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ?
	    PQgetvalue(res, 0, 0) : "[]";
	if (strcmp(q->cmd, "nodes") == 0) {
		ctlsock_cluster_result(q->cookie, NULL, remote);
		return;
	}
	/* Splice two JSON arrays: "[a,b]" + "[c]" -> "[a,b,c]". */
	local = ctlsock_local_json(q->cmd);
	ll = strlen(local);
	rl = strlen(remote);
	merged = xmalloc(ll + rl + 2);
	if (ll >= 2 && rl >= 2 && strcmp(remote, "[]") != 0) {
		memcpy(merged, local, ll - 1);
		if (ll > 2)
			merged[ll - 1] = ',', ll++;
		memcpy(merged + ll - 1, remote + 1, rl - 1);
		merged[ll - 1 + rl - 1] = '\0';
	} else
		snprintf(merged, ll + rl + 2, "%s", local);
	ctlsock_cluster_result(q->cookie, NULL, merged);
	free(merged);
	free(local);
}

/* Hands a finished query its result (NULL: failed or no database). */
static void
cq_done(struct cq *q, PGresult *res)
{
	switch (q->kind) {
	case CQ_SCHEMA:
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
			C.schema_done = 1;
			log_info("cluster: schema at version %s",
			    PQgetvalue(res, 0, 0));
		}
		break;
	case CQ_TICK:
		done_tick(res);
		break;
	case CQ_OUTBOX:
		C.outbox_queued = 0;
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
			outbox_forget(q->outbox_last);
		break;
	case CQ_CLAIM:
		if (res == NULL)
			claim_from_cache(q);
		else if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1 &&
		    strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
			owner_set((uint16_t)q->claim.remote_port, q->claim.identity);
			claim_answer(q, 1, NULL);
		} else if (q->picked > 0 && q->picked < CLAIM_PICKS) {
			/*
			 * remote_port 0: another node gave the port we picked to
			 * another identity in the same instant.  Pick again (the
			 * cache learns the port is taken; the next read-back names
			 * its owner) rather than refuse a client that asked for
			 * any port.
			 */
			struct ipc_msg again = q->claim;

			log_debug("cluster: port %u was taken meanwhile; %s picks "
			    "again", q->claim.remote_port, q->claim.identity);
			owner_set((uint16_t)q->claim.remote_port, "?");
			again.remote_port = 0;
			claim_start(q->slot, &again, q->picked + 1);
		} else {
			log_info("cluster: port %u is another identity's; %s refused",
			    q->claim.remote_port, q->claim.identity);
			claim_answer(q, 0, "port in use");
		}
		break;
	case CQ_CTL:
		done_ctl(q, res);
		break;
	case CQ_AUTH:
		C.auth_queued = 0;
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
			C.auth_rev = cluster_mirror_apply(res, C.auth_rev);
		break;
	case CQ_NODES:
		C.nodes_queued = 0;
		/* After an outage every node looks silent: judge once settled. */
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
		    time(NULL) - C.ready_since >= M->conf.cluster_node_timeout)
			cluster_nodes_apply(res);
		break;
	case CQ_OTHER:
		break;
	}
	cq_free(q);
}

/* Queues a query (at the front: first after a reconnect); -1 when full. */
static int
cq_push(struct cq *q, int front)
{
	if (C.nqueue >= CQ_MAX) {
		cq_done(q, NULL);
		return -1;
	}
	if (front)
		TAILQ_INSERT_HEAD(&C.queue, q, entry);
	else
		TAILQ_INSERT_TAIL(&C.queue, q, entry);
	C.nqueue++;
	cl_send_next();
	return 0;
}

/* Makes a query of kind with sql (taken). */
static struct cq *
cq_new(enum cq_kind kind, char *sql)
{
	struct cq *q = xcalloc(1, sizeof(*q));

	q->kind = kind;
	q->sql = sql;
	return q;
}

/* (Re)arms the socket event: read always, write while libpq has output. */
static void
cl_watch(short what)
{
	if (C.io_added)
		event_del(&C.ev_io);
	event_assign(&C.ev_io, M->base, PQsocket(C.conn), what, cl_io, NULL);
	event_add(&C.ev_io, NULL);
	C.io_added = 1;
}

/* Drops the connection; every queued query is answered without it. */
static void
cl_drop(const char *why)
{
	struct cq *q;

	if (C.state != CL_OFF)
		log_warnx("cluster: database connection lost: %s", why);
	if (C.io_added)
		event_del(&C.ev_io);
	C.io_added = 0;
	if (C.conn != NULL)
		PQfinish(C.conn);
	C.conn = NULL;
	C.state = CL_OFF;
	C.next_try = time(NULL) + 1;
	if (C.last != NULL)
		PQclear(C.last);
	C.last = NULL;
	if ((q = C.busy) != NULL) {
		C.busy = NULL;
		cq_done(q, NULL);
	}
	while ((q = TAILQ_FIRST(&C.queue)) != NULL) {
		TAILQ_REMOVE(&C.queue, q, entry);
		C.nqueue--;
		cq_done(q, NULL);
	}
}

/* Sends the next queued query if none is running. */
static void
cl_send_next(void)
{
	struct cq *q;

	if (C.state != CL_READY || C.busy != NULL ||
	    (q = TAILQ_FIRST(&C.queue)) == NULL)
		return;
	TAILQ_REMOVE(&C.queue, q, entry);
	C.nqueue--;
	C.busy = q;
	C.busy_since = time(NULL);
	C.failed = 0;
	C.retry = 0;
	if (!PQsendQuery(C.conn, q->sql)) {
		cl_drop(PQerrorMessage(C.conn));
		return;
	}
	/* Big batches may not fit the socket at once: wait to write the rest. */
	cl_watch(EV_READ | EV_PERSIST | (PQflush(C.conn) == 1 ? EV_WRITE : 0));
}

/* Queues a read of the users and credentials changed since the last copy. */
static void
cl_auth_poll(void)
{
	if (C.auth_queued || !C.schema_done)
		return;
	C.auth_queued = 1;
	cq_push(cq_new(CQ_AUTH, cluster_sql_auth_poll(C.auth_rev, AUTH_BATCH)), 0);
}

/* Queues a read of every node's state (node_offline alerts). */
static void
cl_nodes_poll(void)
{
	struct evbuffer *b;

	if (C.nodes_queued || M->conf.nalerts == 0)
		return;
	b = evbuffer_new();
	evbuffer_add_printf(b, "SELECT name, (last_seen >= now() - interval "
	    "'%ld seconds')::int, extract(epoch FROM now() - last_seen)::bigint "
	    "FROM gt_nodes ORDER BY name", M->conf.cluster_node_timeout);
	C.nodes_queued = 1;
	cq_push(cq_new(CQ_NODES, buf_take(b)), 0);
}

/*
 * Handles NOTIFY "kick NODE CLIENT_ID" addressed to this node and "auth"
 * (a user or credential changed: copy it now, not at the next second).
 */
static void
cl_notifies(void)
{
	PGnotify *n;

	while ((n = PQnotifies(C.conn)) != NULL) {
		char node[64], id[DB_ID_LEN];

		if (strcmp(n->extra, "auth") == 0)
			cl_auth_poll();
		else if (sscanf(n->extra, "kick %63s %39s", node, id) == 2 &&
		    strcmp(node, M->conf.cluster_node_name) == 0) {
			struct db_client	 rec;
			struct ipc_msg		 m;
			MDB_txn			*txn;
			MDB_val			 k = { strlen(id), id }, v;
			int			 found = 0;

			if (db_txn_begin(&M->db, 1, &txn) == 0) {
				if (mdb_get(txn, M->db.dbi[DB_CLIENTS], &k, &v) == 0 &&
				    db_rec_client(&v, &rec) == 0) {
					found = 1;
				}
				mdb_txn_abort(txn);
			}
			if (found) {
				memset(&m, 0, sizeof(m));
				m.type = IPC_KICK;
				m.cookie = KICK_COOKIE_BIT | ++C.kick_seq;
				snprintf(m.client_id, sizeof(m.client_id), "%s", id);
				log_info("kick of client %s (%s) requested by another "
				    "node", rec.name, id);
				master_send_ipc((int)rec.worker_index, &m);
			}
		}
		PQfreemem(n);
	}
}

/* Reads what the database sent: results of the running query, notifications. */
static void
cl_read(void)
{
	PGresult *res;

	if (!PQconsumeInput(C.conn)) {
		cl_drop(PQerrorMessage(C.conn));
		return;
	}
	cl_notifies();
	while (C.busy != NULL && !PQisBusy(C.conn)) {
		struct cq *q;

		if ((res = PQgetResult(C.conn)) != NULL) {
			ExecStatusType st = PQresultStatus(res);

			if (st == PGRES_FATAL_ERROR) {
				const char *code = PQresultErrorField(res,
				    PG_DIAG_SQLSTATE);

				/* 40P01 deadlock, 40001 serialization: try again */
				C.retry = code != NULL &&
				    (strcmp(code, "40P01") == 0 ||
				    strcmp(code, "40001") == 0);
				if (!C.retry || C.busy->kind != CQ_CLAIM)
					log_warnx("cluster: query failed: %s",
					    PQresultErrorMessage(res));
				C.failed = 1;
			}
			if (C.last != NULL)
				PQclear(C.last);
			C.last = res;
			continue;
		}
		/* NULL: the query (all its statements) is complete. */
		q = C.busy;
		C.busy = NULL;
		res = C.last;
		C.last = NULL;
		if (C.failed && C.retry && q->kind == CQ_CLAIM &&
		    ++q->tries < CLAIM_TRIES) {
			/* Lost a deadlock to another node's batch: run it again. */
			if (res != NULL)
				PQclear(res);
			TAILQ_INSERT_HEAD(&C.queue, q, entry);
			C.nqueue++;
			cl_send_next();
			return;
		}
		cq_done(q, C.failed ? NULL : res);
		if (res != NULL)
			PQclear(res);
		if (C.state != CL_READY)
			return;
		cl_send_next();
	}
	/* Notifications parsed along with the results. */
	cl_notifies();
}

/* The database's socket is ready. */
static void
cl_io(evutil_socket_t fd, short what, void *arg)
{
	if (C.state == CL_CONNECTING) {
		switch (PQconnectPoll(C.conn)) {
		case PGRES_POLLING_READING:
			cl_watch(EV_READ);
			return;
		case PGRES_POLLING_WRITING:
			cl_watch(EV_WRITE);
			return;
		case PGRES_POLLING_FAILED:
			if (!C.warned_down)
				log_warnx("cluster: cannot connect to the database: %s",
				    PQerrorMessage(C.conn));
			C.warned_down = 1;
			C.state = CL_OFF;
			cl_drop("connect failed");
			return;
		default:
			break;
		}
		PQsetnonblocking(C.conn, 1);
		C.state = CL_READY;
		C.ready_since = time(NULL);
		C.warned_down = 0;
		log_info("cluster: connected to the database as node %s",
		    M->conf.cluster_node_name);
		cl_watch(EV_READ | EV_PERSIST);
		{
			struct evbuffer *b = evbuffer_new();

			/*
			 * Once per process: the schema (sent first: the queue is
			 * empty), then our rows of a previous run; LISTEN always.
			 */
			if (!C.schema_done) {
				evbuffer_add_printf(b, "DELETE FROM gt_holds WHERE node = ");
				lit(b, M->conf.cluster_node_name);
				evbuffer_add_printf(b, ";\nDELETE FROM gt_live WHERE node = ");
				lit(b, M->conf.cluster_node_name);
				evbuffer_add_printf(b, ";\n");
			}
			evbuffer_add_printf(b, "LISTEN " NOTIFY_CHANNEL ";\n");
			if (!C.schema_done)
				cq_push(cq_new(CQ_SCHEMA,
				    xstrdup(cluster_schema_script())), 1);
			cq_push(cq_new(CQ_OTHER, buf_take(b)), 1);
		}
		return;
	}
	if (C.state != CL_READY)
		return;
	if (what & EV_WRITE) {
		int r = PQflush(C.conn);

		if (r == -1) {
			cl_drop(PQerrorMessage(C.conn));
			return;
		}
		if (r == 0)
			cl_watch(EV_READ | EV_PERSIST);
	}
	if (what & EV_READ)
		cl_read();
}

/* Drops PostgreSQL's notices ("already exists, skipping"): not ours to log. */
static void
cl_notice(void *arg, const char *message)
{
}

/* Starts connecting (asynchronously). */
static void
cl_connect(void)
{
	C.conn = PQconnectStart(M->conf.cluster_database);
	if (C.conn != NULL)
		PQsetNoticeProcessor(C.conn, cl_notice, NULL);
	if (C.conn == NULL || PQstatus(C.conn) == CONNECTION_BAD) {
		if (!C.warned_down)
			log_warnx("cluster: cannot connect to the database: %s",
			    C.conn ? PQerrorMessage(C.conn) : "out of memory");
		C.warned_down = 1;
		cl_drop("connect failed");
		return;
	}
	C.state = CL_CONNECTING;
	C.connect_since = time(NULL);
	cl_watch(EV_WRITE);
}

/* Emits a JSON string member. */
static void
gen_kv(yajl_gen g, const char *k, const char *v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

/* Emits a JSON integer member. */
static void
gen_ki(yajl_gen g, const char *k, long long v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_integer(g, v);
}

/* Emits one outbox record as a row of its history table. */
static void
gen_outbox(yajl_gen g, uint64_t seq, const struct db_outbox *o)
{
	yajl_gen_map_open(g);
	gen_kv(g, "origin", C.origin);
	gen_ki(g, "oseq", (long long)seq);
	gen_kv(g, "node", M->conf.cluster_node_name);
	if (o->kind == DB_OUTBOX_SESS) {
		const struct db_hist_session *h = &o->u.sess;

		gen_kv(g, "client_id", h->client_id);
		gen_kv(g, "name", h->name);
		gen_kv(g, "address", h->address);
		gen_kv(g, "reason", h->reason);
		gen_ki(g, "start_time", h->start);
		gen_ki(g, "end_time", h->end);
		gen_ki(g, "bytes_in", (long long)h->bytes_in);
		gen_ki(g, "bytes_out", (long long)h->bytes_out);
		gen_kv(g, "ports", h->ports);
	} else if (o->kind == DB_OUTBOX_CONN) {
		const struct db_hist_conn *h = &o->u.conn;

		gen_kv(g, "client_id", h->client_id);
		gen_kv(g, "client_name", h->client_name);
		gen_kv(g, "mapping", h->mapping);
		gen_ki(g, "remote_port", h->remote_port);
		gen_ki(g, "local_port", h->local_port);
		gen_kv(g, "peer", h->peer);
		gen_kv(g, "reason", h->reason);
		gen_ki(g, "start_time", h->start);
		gen_ki(g, "end_time", h->end);
		gen_ki(g, "bytes_in", (long long)h->bytes_in);
		gen_ki(g, "bytes_out", (long long)h->bytes_out);
	} else {
		const struct db_audit *a = &o->u.audit;

		gen_ki(g, "time", a->time);
		gen_kv(g, "username", a->user);
		gen_kv(g, "action", a->action);
		yajl_gen_string(g, (const unsigned char *)"ok", 2);
		yajl_gen_bool(g, a->ok != 0);
		gen_kv(g, "address", a->address);
		gen_kv(g, "detail", a->detail);
	}
	yajl_gen_map_close(g);
}

/* Appends a yajl generator's text to b as a literal and frees it. */
static void
lit_gen(struct evbuffer *b, yajl_gen g)
{
	const unsigned char	*buf;
	size_t			 len;
	char			*s;

	yajl_gen_get_buf(g, &buf, &len);
	s = xmalloc(len + 1);
	memcpy(s, buf, len);
	s[len] = '\0';
	lit(b, s);
	free(s);
	yajl_gen_free(g);
}

/* Queues a batch of the outbox for the history tables, if there is any. */
static void
cl_outbox(void)
{
	yajl_gen	 g[3];
	struct evbuffer	*b;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint64_t	 last = 0;
	int		 n = 0;
	struct cq	*q;
	static const char *const table[3] = { "gt_hist_sess", "gt_hist_conn",
	    "gt_audit" };

	if (C.outbox_queued || db_txn_begin(&M->db, 1, &txn) != 0)
		return;
	for (int i = 0; i < 3; i++) {
		g[i] = yajl_gen_alloc(NULL);
		yajl_gen_array_open(g[i]);
	}
	if (mdb_cursor_open(txn, M->db.dbi[DB_OUTBOX], &cur) == 0) {
		for (int op = MDB_FIRST; n < OUTBOX_BATCH &&
		    mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			struct db_outbox o;

			last = db_u64_key(&k);
			if (v.mv_size != sizeof(o))
				continue;
			memcpy(&o, v.mv_data, sizeof(o));
			if (o.kind < DB_OUTBOX_SESS || o.kind > DB_OUTBOX_AUDIT)
				continue;
			gen_outbox(g[o.kind - 1], last, &o);
			n++;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (last == 0) {
		for (int i = 0; i < 3; i++)
			yajl_gen_free(g[i]);
		return;
	}
	/* One statement; ON CONFLICT makes a retry after a lost reply a no-op. */
	b = evbuffer_new();
	evbuffer_add_printf(b, "WITH ");
	for (int i = 0; i < 3; i++) {
		yajl_gen_array_close(g[i]);
		evbuffer_add_printf(b, "%sx%d AS (INSERT INTO %s SELECT * FROM "
		    "json_populate_recordset(NULL::%s, ", i ? ", " : "", i,
		    table[i], table[i]);
		lit_gen(b, g[i]);
		evbuffer_add_printf(b, "::json) ON CONFLICT DO NOTHING RETURNING 1)");
	}
	evbuffer_add_printf(b, " SELECT (SELECT count(*) FROM x0) + (SELECT "
	    "count(*) FROM x1) + (SELECT count(*) FROM x2)");
	q = cq_new(CQ_OUTBOX, buf_take(b));
	q->outbox_last = last;
	C.outbox_queued = 1;
	cq_push(q, 0);
}

/* Appends the JSON array of the ports this node holds (from LMDB). */
static void
lit_holds(struct evbuffer *b)
{
	yajl_gen	 g = yajl_gen_alloc(NULL);
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;

	yajl_gen_array_open(g);
	if (db_txn_begin(&M->db, 1, &txn) == 0) {
		if (mdb_cursor_open(txn, M->db.dbi[DB_MAPPINGS], &cur) == 0) {
			for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
			    op = MDB_NEXT) {
				struct db_mapping m;

				if (db_rec_mapping(&v, &m) != 0)
					continue;
				yajl_gen_map_open(g);
				gen_ki(g, "port", m.remote_port);
				/* The identity: see control_identity(). */
				gen_kv(g, "identity", m.client_name);
				yajl_gen_map_close(g);
			}
			mdb_cursor_close(cur);
		}
		mdb_txn_abort(txn);
	}
	yajl_gen_array_close(g);
	lit_gen(b, g);
}

/* Queues the once-a-second batch (heartbeat, holds, live rows, expiry). */
static void
cl_tick_batch(void)
{
	struct evbuffer	*b = evbuffer_new();
	const char	*me = M->conf.cluster_node_name;
	char		*json;
	long		 to = M->conf.cluster_node_timeout;

	evbuffer_add_printf(b, "INSERT INTO gt_nodes (name, advertise_addr, "
	    "version, clients, connections) VALUES (");
	lit(b, me);
	evbuffer_add_printf(b, ", ");
	lit(b, M->conf.cluster_advertise_addr);
	evbuffer_add_printf(b, ", '%s', %zu, %zu) ON CONFLICT (name) DO UPDATE "
	    "SET advertise_addr = EXCLUDED.advertise_addr, version = "
	    "EXCLUDED.version, clients = EXCLUDED.clients, connections = "
	    "EXCLUDED.connections, last_seen = now(), started = CASE WHEN "
	    "gt_nodes.last_seen < now() - interval '%ld seconds' THEN now() "
	    "ELSE gt_nodes.started END;\n", GOTUNNEL_VERSION,
	    db_count(&M->db, DB_CLIENTS), db_count(&M->db, DB_CONNS), to);
	/* Our holds: exactly the ports in our LMDB, and only for their owner. */
	evbuffer_add_printf(b, "CREATE TEMP TABLE IF NOT EXISTS gt_my_holds "
	    "(port integer, identity text);\nTRUNCATE gt_my_holds;\n"
	    "INSERT INTO gt_my_holds SELECT * FROM json_to_recordset(");
	lit_holds(b);
	evbuffer_add_printf(b, "::json) AS x(port integer, identity text);\n"
	    "DELETE FROM gt_holds h WHERE h.node = ");
	lit(b, me);
	/*
	 * A port we hold whose row is gone (expired while the database was
	 * away) is ours again, unless another identity has it now.
	 */
	evbuffer_add_printf(b, " AND NOT EXISTS (SELECT 1 FROM gt_my_holds x "
	    "WHERE x.port = h.port AND x.identity = h.identity);\n"
	    "INSERT INTO gt_ports (port, identity) SELECT DISTINCT ON (port) "
	    "port, identity FROM gt_my_holds ORDER BY port "
	    "ON CONFLICT (port) DO NOTHING;\n"
	    "INSERT INTO gt_holds (port, node, identity) SELECT x.port, ");
	lit(b, me);
	evbuffer_add_printf(b, ", x.identity FROM gt_my_holds x JOIN gt_ports p "
	    "ON p.port = x.port AND p.identity = x.identity "
	    "ON CONFLICT (port, node) DO NOTHING;\n");
	/* Our live sessions, for the other nodes' clients/mappings lists. */
	evbuffer_add_printf(b, "INSERT INTO gt_live (node, kind, items) VALUES (");
	lit(b, me);
	evbuffer_add_printf(b, ", 'clients', ");
	json = ctlsock_local_json("clients");
	lit(b, json);
	free(json);
	evbuffer_add_printf(b, "::jsonb), (");
	lit(b, me);
	evbuffer_add_printf(b, ", 'mappings', ");
	json = ctlsock_local_json("mappings");
	lit(b, json);
	free(json);
	evbuffer_add_printf(b, "::jsonb) ON CONFLICT (node, kind) DO UPDATE SET "
	    "items = EXCLUDED.items, updated = now();\n");
	/*
	 * Any node expires the rows of nodes silent for node_timeout, once it
	 * has itself been connected that long: after an outage of the database
	 * every node looks silent, and the others need a heartbeat to say not.
	 */
	if (time(NULL) - C.ready_since >= to)
		evbuffer_add_printf(b, "DELETE FROM gt_holds h USING gt_nodes n "
		    "WHERE n.name = h.node AND n.last_seen < now() - interval "
		    "'%ld seconds';\n"
		    "DELETE FROM gt_live l USING gt_nodes n WHERE n.name = l.node "
		    "AND n.last_seen < now() - interval '%ld seconds';\n"
		    /* since: a port just claimed is not released under the claim */
		    "DELETE FROM gt_ports p WHERE p.since < now() - interval "
		    "'5 seconds' AND NOT EXISTS (SELECT 1 FROM gt_holds h WHERE "
		    "h.port = p.port);\n", to, to);
	evbuffer_add_printf(b, "SELECT port, identity FROM gt_ports;\n");
	C.tick_queued = 1;
	cq_push(cq_new(CQ_TICK, buf_take(b)), 0);
}

/* Every second: reconnect, a hung query, the batch, the outbox. */
static void
cl_tick(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);

	if (C.state == CL_OFF && now >= C.next_try) {
		cl_connect();
		return;
	}
	if (C.state == CL_CONNECTING && now - C.connect_since > CQ_TIMEOUT) {
		if (!C.warned_down)
			log_warnx("cluster: cannot connect to the database: "
			    "timed out");
		C.warned_down = 1;
		C.state = CL_OFF;
		cl_drop("connect timed out");
		return;
	}
	if (C.state != CL_READY)
		return;
	if (C.busy != NULL && now - C.busy_since > CQ_TIMEOUT) {
		cl_drop("query timed out");
		return;
	}
	if (!C.schema_done)
		return;
	if (!C.tick_queued)
		cl_tick_batch();
	cl_outbox();
	cl_auth_poll();
	cl_nodes_poll();
}

/*
 * remote_port 0: picks an allowed port that no identity owns (as far as the
 * cache knows), that this node has no mapping on, and that is free here;
 * 0 if none.  The claim then decides for real.
 */
static uint16_t
cl_pick_port(void)
{
	uint32_t	 n = portrange_count(&M->conf.allow_ports), start;
	MDB_txn		*txn;
	uint16_t	 port = 0;

	if (n == 0 || db_txn_begin(&M->db, 1, &txn) != 0)
		return 0;
	start = randombytes_uniform(n);
	/* Bounded: a crowded range gives up rather than scan for long. */
	for (uint32_t i = 0; i < n && i < 4096 && port == 0; i++) {
		uint16_t	cand = portrange_nth(&M->conf.allow_ports,
				    (start + i) % n);
		uint16_t	be = htons(cand);
		MDB_val		k = { sizeof(be), &be }, v;

		if (C.owner[cand] == NULL &&
		    mdb_get(txn, M->db.dbi[DB_MAPPINGS], &k, &v) != 0 &&
		    net_port_free(M->conf.proxy_bind_addr, cand) == 0)
			port = cand;
	}
	mdb_txn_abort(txn);
	return port;
}

/* A worker asks whether identity may hold a port: ask PostgreSQL. */
void
cluster_claim(int slot, const struct ipc_msg *m)
{
	claim_start(slot, m, m->remote_port == 0 ? 1 : 0);
}

/* Queues one claim; picked > 0: the nth pick for a remote_port 0 register. */
static void
claim_start(int slot, const struct ipc_msg *m, int picked)
{
	struct evbuffer	*b;
	struct cq	*q;
	long		 to = M->conf.cluster_node_timeout;

	q = xcalloc(1, sizeof(*q));
	q->kind = CQ_CLAIM;
	q->slot = slot;
	q->picked = picked;
	q->claim = *m;
	q->claim.identity[sizeof(q->claim.identity) - 1] = '\0';
	if (C.state != CL_READY || !C.schema_done || m->remote_port > 65535) {
		cq_done(q, NULL);
		return;
	}
	if (m->remote_port == 0 &&
	    (q->claim.remote_port = cl_pick_port()) == 0) {
		claim_answer(q, 0, "no free port in allow_ports");
		cq_free(q);
		return;
	}
	/*
	 * One statement decides: the row is inserted, or taken over when it is
	 * the same identity's or no live node holds it any more.  A racing
	 * claim of another identity waits on the row lock, then re-checks the
	 * row's newest version: its since is fresh, so it loses (the sub-select
	 * alone would still see the snapshot from before the winner's commit).
	 */
	b = evbuffer_new();
	evbuffer_add_printf(b, "WITH c AS (INSERT INTO gt_ports AS p (port, "
	    "identity) VALUES (%u, ", q->claim.remote_port);
	lit(b, q->claim.identity);
	evbuffer_add_printf(b, ") ON CONFLICT (port) DO UPDATE SET identity = "
	    "EXCLUDED.identity, since = now() WHERE p.identity = "
	    "EXCLUDED.identity OR (p.since < now() - interval '5 seconds' AND "
	    "NOT EXISTS (SELECT 1 FROM gt_holds h JOIN "
	    "gt_nodes n ON n.name = h.node WHERE h.port = p.port AND "
	    "h.identity = p.identity AND n.last_seen >= now() - interval "
	    "'%ld seconds')) RETURNING port, identity), h AS (INSERT INTO "
	    "gt_holds (port, node, identity) SELECT port, ", to);
	lit(b, M->conf.cluster_node_name);
	evbuffer_add_printf(b, ", identity FROM c ON CONFLICT (port, node) DO "
	    "UPDATE SET identity = EXCLUDED.identity RETURNING 1) "
	    "SELECT count(*) FROM c");
	q->sql = buf_take(b);
	cq_push(q, 0);
}

/* A ctl request that needs the cluster: nodes, clients, mappings, kick. */
void
cluster_ctl(const char *cmd, const char *arg, uint64_t cookie)
{
	struct evbuffer	*b;
	struct cq	*q = xcalloc(1, sizeof(*q));
	long		 to = M->conf.cluster_node_timeout;

	q->kind = CQ_CTL;
	q->cookie = cookie;
	snprintf(q->cmd, sizeof(q->cmd), "%s", cmd);
	if (C.state != CL_READY || !C.schema_done) {
		cq_done(q, NULL);
		return;
	}
	b = evbuffer_new();
	if (strcmp(cmd, "nodes") == 0)
		evbuffer_add_printf(b, "SELECT coalesce(json_agg(json_build_object("
		    "'name', name, 'advertise_addr', advertise_addr, 'status', "
		    "CASE WHEN last_seen >= now() - interval '%ld seconds' THEN "
		    "'online' ELSE 'offline' END, 'last_seen', "
		    "extract(epoch FROM last_seen)::bigint, 'clients', CASE WHEN "
		    "last_seen >= now() - interval '%ld seconds' THEN clients ELSE "
		    "0 END, 'connections', CASE WHEN last_seen >= now() - interval "
		    "'%ld seconds' THEN connections ELSE 0 END, 'version', version) "
		    "ORDER BY name), '[]') FROM gt_nodes", to, to, to);
	else if (strcmp(cmd, "kick") == 0) {
		evbuffer_add_printf(b, "SELECT pg_notify('" NOTIFY_CHANNEL "', "
		    "'kick ' || l.node || ' ' || (e->>'id')) FROM gt_live l CROSS "
		    "JOIN jsonb_array_elements(l.items) e WHERE l.kind = 'clients' "
		    "AND l.node <> ");
		lit(b, M->conf.cluster_node_name);
		evbuffer_add_printf(b, " AND e->>'id' = ");
		lit(b, arg);
		evbuffer_add_printf(b, " LIMIT 1");
	} else {
		/* clients / mappings of the other live nodes; ours come from LMDB. */
		evbuffer_add_printf(b, "SELECT coalesce(jsonb_agg(e), '[]') FROM "
		    "gt_live l JOIN gt_nodes n ON n.name = l.node CROSS JOIN "
		    "jsonb_array_elements(l.items) e WHERE l.kind = ");
		lit(b, cmd);
		evbuffer_add_printf(b, " AND l.node <> ");
		lit(b, M->conf.cluster_node_name);
		evbuffer_add_printf(b, " AND n.last_seen >= now() - interval "
		    "'%ld seconds'", to);
	}
	q->sql = buf_take(b);
	cq_push(q, 0);
}

/*
 * A credential changed through this node's admin console (which writes
 * LMDB and tells us with token_kick): copy this node's record to
 * PostgreSQL so every node gets it.  Without the database it stays local
 * (logged); gotunnelctl writes PostgreSQL itself.
 */
void
cluster_push_token(const char *name)
{
	struct db_token	 t;
	char		*sql;

	if (!cluster_on() || db_token_get(&M->db, name, &t) != 0)
		return;
	if (!cluster_store_ok() ||
	    (sql = cluster_sql_token_put(C.conn, &t)) == NULL) {
		log_warnx("credential %s: changed on this node only: cluster "
		    "store unavailable", name);
		return;
	}
	cq_push(cq_new(CQ_OTHER, sql), 0);
}

/* Starts cluster mode: the outbox origin, the first connect, the tick. */
void
cluster_start(void)
{
	if (!cluster_on())
		return;
	TAILQ_INIT(&C.queue);
	M->db.outbox = 1;
	if (db_outbox_origin(&M->db, C.origin, sizeof(C.origin)) == -1)
		fatalx("cluster: cannot make the outbox origin in %s",
		    M->conf.data_dir);
	log_info("cluster mode: node %s, advertised as %s, node_timeout %lds",
	    M->conf.cluster_node_name, M->conf.cluster_advertise_addr,
	    M->conf.cluster_node_timeout);
	event_assign(&C.ev_tick, M->base, -1, EV_PERSIST, cl_tick, NULL);
	event_add(&C.ev_tick, &(struct timeval){ 1, 0 });
	cl_connect();
}

/* Stops cluster mode: drops the connection, frees the cache. */
void
cluster_stop(void)
{
	if (!cluster_on() || C.ev_tick.ev_base == NULL)
		return;
	event_del(&C.ev_tick);
	C.state = CL_OFF;	/* no "connection lost" warning at exit */
	cl_drop("stopping");
	for (int p = 0; p < 65536; p++)
		owner_set((uint16_t)p, NULL);
}
