/* SPDX-License-Identifier: ISC */
/*
 * api_stats.c: time series for the charts (table stats, one record per
 * minute) and the live event stream (Server-Sent Events).  Each worker
 * polls LMDB once a second while someone listens and turns the difference
 * between two snapshots into client_online/offline and conn_open/close
 * events; every other tick it sends a stats event.
 */
#include <string.h>

#include "db_rec.h"
#include "module.h"

#define EVENTS_POLL_MS		1000
#define EVENTS_MAX_SUBS		64
#define EVENTS_MAX_QUEUE	256	/* netbufs queued to a slow reader */
#define SNAP_MAX_CLIENTS	65536
#define SNAP_MAX_CONNS		200000
#define PURGE_EVERY_TICKS	600	/* expired web sessions, every 10 min */

/* One listener of /api/events; lives in its connection's hdlr_extra. */
struct sse {
	struct connection	*c;
	char			 sid[DB_WEBSESS_HEX];
	TAILQ_ENTRY(sse)	 list;
};

struct snap_client {
	char	id[DB_ID_LEN];
	char	name[DB_NAME_LEN];
};

struct snap_conn {
	uint64_t	id;
	struct db_conn	c;
};

/* What LMDB held at the last poll. */
struct snap {
	struct snap_client	*clients;
	size_t			 nclients;
	struct snap_conn	*conns;
	size_t			 nconns;
};

static TAILQ_HEAD(, sse)	 subs = TAILQ_HEAD_INITIALIZER(subs);
static size_t			 nsubs;
static struct snap		 last;
static int			 have_snap;
static uint64_t			 ticks;

/* Frees a snapshot's arrays. */
static void
snap_free(struct snap *s)
{
	kore_free(s->clients);
	kore_free(s->conns);
	memset(s, 0, sizeof(*s));
}

/* Reads the live clients and connections (both in key order). */
static int
snap_take(MDB_txn *txn, struct snap *s)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	MDB_stat	 st;
	struct db_client c;
	int		 op;

	memset(s, 0, sizeof(*s));
	if (mdb_stat(txn, admin_db.dbi[DB_CLIENTS], &st) != 0)
		return -1;
	s->clients = kore_calloc(st.ms_entries + 1, sizeof(*s->clients));
	if (mdb_cursor_open(txn, admin_db.dbi[DB_CLIENTS], &cur) == 0) {
		for (op = MDB_FIRST; s->nclients < st.ms_entries &&
		    s->nclients < SNAP_MAX_CLIENTS &&
		    mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			if (db_rec_client(&v, &c) != 0)
				continue;
			memcpy(s->clients[s->nclients].id, c.id, DB_ID_LEN);
			memcpy(s->clients[s->nclients].name, c.name,
			    DB_NAME_LEN);
			s->clients[s->nclients].id[DB_ID_LEN - 1] = '\0';
			s->clients[s->nclients].name[DB_NAME_LEN - 1] = '\0';
			s->nclients++;
		}
		mdb_cursor_close(cur);
	}
	if (mdb_stat(txn, admin_db.dbi[DB_CONNS], &st) != 0)
		return -1;
	s->conns = kore_calloc(st.ms_entries + 1, sizeof(*s->conns));
	if (mdb_cursor_open(txn, admin_db.dbi[DB_CONNS], &cur) == 0) {
		for (op = MDB_FIRST; s->nconns < st.ms_entries &&
		    s->nconns < SNAP_MAX_CONNS &&
		    mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			if (db_rec_conn(&v, &s->conns[s->nconns].c) != 0)
				continue;
			s->conns[s->nconns].id = db_u64_key(&k);
			s->nconns++;
		}
		mdb_cursor_close(cur);
	}
	return 0;
}

/* Sends one event to one listener as an HTTP chunk. */
static void
sse_send(struct sse *s, const char *event, struct kore_buf *data)
{
	struct kore_buf	 b;
	struct netbuf	*nb;
	size_t		 queued = 0;
	size_t		 len;

	TAILQ_FOREACH(nb, &s->c->send_queue, list)
		queued++;
	if (queued > EVENTS_MAX_QUEUE) {
		kore_connection_disconnect(s->c);
		return;
	}
	len = strlen("event: \ndata: \n\n") + strlen(event) +
	    (data ? data->offset : 0);
	if (event[0] == '\0')
		len = data->offset;
	kore_buf_init(&b, len + 32);
	kore_buf_appendf(&b, "%zx\r\n", len);
	if (event[0] != '\0') {
		kore_buf_appendf(&b, "event: %s\ndata: ", event);
		kore_buf_append(&b, data->data, data->offset);
		kore_buf_append(&b, "\n\n", 2);
	} else {
		kore_buf_append(&b, data->data, data->offset);
	}
	kore_buf_append(&b, "\r\n", 2);
	net_send_queue(s->c, b.data, b.offset);
	kore_buf_cleanup(&b);
	if (!net_send_flush(s->c))
		kore_connection_disconnect(s->c);
}

/* Sends an event to every listener. */
static void
sse_broadcast(const char *event, struct kore_buf *data)
{
	struct sse	*s, *next;

	jw_end(data);
	for (s = TAILQ_FIRST(&subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, list);
		if (s->c->state == CONN_STATE_ESTABLISHED)
			sse_send(s, event, data);
	}
}

/* Today's bytes (UTC) and the live gauges, for stats and /api/stats now. */
static void
stats_now(MDB_txn *txn, uint64_t *clients, uint64_t *mappings,
    uint64_t *conns, uint64_t *in, uint64_t *out)
{
	struct db_stats	 st;
	MDB_stat	 ms;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	unsigned char	 key[8];
	int64_t		 now = db_now();
	int		 rc;

	*clients = *mappings = *conns = *in = *out = 0;
	if (mdb_stat(txn, admin_db.dbi[DB_CLIENTS], &ms) == 0)
		*clients = ms.ms_entries;
	if (mdb_stat(txn, admin_db.dbi[DB_MAPPINGS], &ms) == 0)
		*mappings = ms.ms_entries;
	if (mdb_stat(txn, admin_db.dbi[DB_CONNS], &ms) == 0)
		*conns = ms.ms_entries;
	if (mdb_cursor_open(txn, admin_db.dbi[DB_STATS], &cur) != 0)
		return;
	db_key_u64((uint64_t)(now - now % 86400) / 60, key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size != sizeof(st))
			continue;
		memcpy(&st, v.mv_data, sizeof(st));
		*in += st.bytes_in;
		*out += st.bytes_out;
	}
	mdb_cursor_close(cur);
}

/* Appends the stats event's object. */
static void
stats_event_json(MDB_txn *txn, struct kore_buf *b)
{
	uint64_t	cl, mp, cn, in, out;

	stats_now(txn, &cl, &mp, &cn, &in, &out);
	jw_open(b, '{');
	jw_uint(b, "online_clients", cl);
	jw_uint(b, "mappings", mp);
	jw_uint(b, "active_conns", cn);
	jw_uint(b, "bytes_in", in);
	jw_uint(b, "bytes_out", out);
	jw_close(b, '}');
}

/* Compares two snapshots and broadcasts the differences. */
static void
events_diff(MDB_txn *txn, const struct snap *o, const struct snap *n)
{
	struct kore_buf	 b;
	struct db_client c;
	MDB_val		 k, v;
	size_t		 i = 0, j = 0;
	int		 cmp;

	kore_buf_init(&b, 1024);
	while (i < o->nclients || j < n->nclients) {
		if (i == o->nclients)
			cmp = 1;
		else if (j == n->nclients)
			cmp = -1;
		else
			cmp = strcmp(o->clients[i].id, n->clients[j].id);
		kore_buf_reset(&b);
		if (cmp < 0) {
			jw_open(&b, '{');
			jw_str(&b, "id", o->clients[i].id, DB_ID_LEN);
			jw_str(&b, "name", o->clients[i].name, DB_NAME_LEN);
			jw_close(&b, '}');
			sse_broadcast("client_offline", &b);
			i++;
		} else if (cmp > 0) {
			k.mv_data = n->clients[j].id;
			k.mv_size = strlen(n->clients[j].id);
			if (mdb_get(txn, admin_db.dbi[DB_CLIENTS], &k, &v) == 0 &&
			    db_rec_client(&v, &c) == 0) {
				live_client_json(&b, txn, &c, 0);
				sse_broadcast("client_online", &b);
			}
			j++;
		} else {
			i++;
			j++;
		}
	}
	i = j = 0;
	while (i < o->nconns || j < n->nconns) {
		kore_buf_reset(&b);
		if (j == n->nconns ||
		    (i < o->nconns && o->conns[i].id < n->conns[j].id)) {
			live_conn_json(&b, o->conns[i].id, &o->conns[i].c,
			    "closed");
			sse_broadcast("conn_close", &b);
			i++;
		} else if (i == o->nconns || o->conns[i].id > n->conns[j].id) {
			live_conn_json(&b, n->conns[j].id, &n->conns[j].c,
			    "open");
			sse_broadcast("conn_open", &b);
			j++;
		} else {
			i++;
			j++;
		}
	}
	kore_buf_cleanup(&b);
}

/* Ends the streams whose login session is gone (logout, expiry). */
static void
events_check_sessions(void)
{
	struct db_websession	 ws;
	struct sse		*s, *next;

	for (s = TAILQ_FIRST(&subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, list);
		if (db_websess_get(&admin_db, s->sid, &ws) != 0)
			kore_connection_disconnect(s->c);
	}
}

/* The per-worker timer: poll, diff, broadcast; purge old web sessions. */
static void
events_tick(void *arg, u_int64_t now)
{
	struct kore_buf	 b;
	struct snap	 n;
	MDB_txn		*txn;

	(void)arg;
	(void)now;
	ticks++;
	if (!admin_db_ok)
		return;
	if (ticks % PURGE_EVERY_TICKS == 0)
		(void)db_websess_purge(&admin_db, db_now(), NULL);
	if (nsubs == 0) {
		if (have_snap)
			snap_free(&last);
		have_snap = 0;
		return;
	}
	if (ticks % 2 == 0)
		events_check_sessions();
	if (db_txn_begin(&admin_db, 1, &txn) != 0)
		return;
	if (snap_take(txn, &n) == 0) {
		if (have_snap) {
			events_diff(txn, &last, &n);
			snap_free(&last);
		}
		last = n;
		have_snap = 1;
	} else {
		snap_free(&n);
	}
	if (ticks % 2 == 0) {
		kore_buf_init(&b, 256);
		stats_event_json(txn, &b);
		sse_broadcast("stats", &b);
		kore_buf_cleanup(&b);
	}
	mdb_txn_abort(txn);
}

/* Starts the worker's event timer. */
void
events_init(void)
{
	kore_timer_add(events_tick, EVENTS_POLL_MS, NULL, 0);
}

/* Kore: a listener's connection is closing. */
static void
sse_disconnect(struct connection *c)
{
	struct sse	*s = c->hdlr_extra;

	if (s == NULL)
		return;
	TAILQ_REMOVE(&subs, s, list);
	nsubs--;
	c->disconnect = NULL;
	/* Kore frees hdlr_extra itself when it removes the connection. */
}

/* GET /api/events: a Server-Sent Events stream (chunked). */
int
api_events(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct connection	*c = ctx->req->owner;
	struct kore_buf		 b;
	struct sse		*s;
	struct snap		 n;
	MDB_txn			*txn;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	if (nsubs >= EVENTS_MAX_SUBS) {
		http_response_header(ctx->req, "retry-after", "10");
		admin_error(ctx, 429, "too many event streams");
		return KORE_RESULT_OK;
	}
	if (ctx->req->method == HTTP_METHOD_HEAD || c->hdlr_extra != NULL) {
		admin_error(ctx, 400, "not an event stream request");
		return KORE_RESULT_OK;
	}
	admin_headers(ctx->req, 1);
	http_response_header(ctx->req, "content-type", "text/event-stream");
	http_response_header(ctx->req, "transfer-encoding", "chunked");
	http_response_header(ctx->req, "x-accel-buffering", "no");
	ctx->req->flags |= HTTP_REQUEST_NO_CONTENT_LENGTH;
	http_response(ctx->req, 200, NULL, 0);

	/* A stream lives until the peer leaves: no header or idle timeout. */
	c->http_timeout = 0;
	c->idle_timer.length = 7ULL * 86400 * 1000;
	s = kore_calloc(1, sizeof(*s));
	s->c = c;
	memcpy(s->sid, ctx->sid, sizeof(s->sid));
	c->hdlr_extra = s;
	c->disconnect = sse_disconnect;
	TAILQ_INSERT_TAIL(&subs, s, list);
	nsubs++;

	kore_buf_init(&b, 256);
	if (db_txn_begin(&admin_db, 1, &txn) == 0) {
		if (!have_snap && snap_take(txn, &n) == 0) {
			last = n;
			have_snap = 1;
		}
		kore_buf_append(&b, "retry: 3000\n\n", 13);
		sse_send(s, "", &b);
		kore_buf_reset(&b);
		stats_event_json(txn, &b);
		jw_end(&b);
		sse_send(s, "stats", &b);
		mdb_txn_abort(txn);
	}
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}

/* GET /api/stats?range=1h|24h|7d. */
int
api_stats(struct admin_ctx *ctx)
{
	static const char *const keys[] = { "range", NULL };
	static const struct { const char *name; int64_t step, n; } ranges[] = {
		{ "1h", 60, 60 }, { "24h", 900, 96 }, { "7d", 3600, 168 },
	};
	struct {
		uint64_t	clients, conns, newc, in, out;
	}			 pts[168];
	const char		*range = admin_param(ctx, "range");
	struct db_stats		 st;
	struct kore_buf		 b;
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	unsigned char		 key[8];
	int64_t			 step = 0, n = 0, end, start, t, idx;
	uint64_t		 cl, mp, cn, in, out;
	size_t			 r;
	int			 rc;

	if (admin_params_allow(ctx, keys) == -1)
		return KORE_RESULT_OK;
	if (range == NULL)
		range = "1h";
	for (r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		if (strcmp(range, ranges[r].name) == 0) {
			step = ranges[r].step;
			n = ranges[r].n;
		}
	}
	if (step == 0) {
		admin_error(ctx, 400, "invalid value for range");
		return KORE_RESULT_OK;
	}
	if (cluster_admin_on())		/* every node's, from PostgreSQL */
		return cluster_hist_stats(ctx, range, step, n);
	memset(pts, 0, sizeof(pts));
	end = db_now() - db_now() % step;
	start = end - (n - 1) * step;
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	if (mdb_cursor_open(txn, admin_db.dbi[DB_STATS], &cur) == 0) {
		db_key_u64((uint64_t)start / 60, key);
		k.mv_data = key;
		k.mv_size = sizeof(key);
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			t = (int64_t)db_u64_key(&k) * 60;
			if (t >= end + step)
				break;
			if (v.mv_size != sizeof(st) || t < start)
				continue;
			memcpy(&st, v.mv_data, sizeof(st));
			idx = (t - start) / step;
			if (st.online_clients > pts[idx].clients)
				pts[idx].clients = st.online_clients;
			if (st.active_conns > pts[idx].conns)
				pts[idx].conns = st.active_conns;
			pts[idx].newc += st.new_conns;
			pts[idx].in += st.bytes_in;
			pts[idx].out += st.bytes_out;
		}
		mdb_cursor_close(cur);
	}
	stats_now(txn, &cl, &mp, &cn, &in, &out);
	mdb_txn_abort(txn);

	kore_buf_init(&b, 16384);
	jw_open(&b, '{');
	jw_str(&b, "range", range, 8);
	jw_int(&b, "step", step);
	jw_key(&b, "points");
	jw_open(&b, '[');
	for (idx = 0; idx < n; idx++) {
		jw_open(&b, '{');
		jw_int(&b, "t", start + idx * step);
		jw_uint(&b, "online_clients", pts[idx].clients);
		jw_uint(&b, "active_conns", pts[idx].conns);
		jw_uint(&b, "new_conns", pts[idx].newc);
		jw_uint(&b, "bytes_in", pts[idx].in);
		jw_uint(&b, "bytes_out", pts[idx].out);
		jw_close(&b, '}');
	}
	jw_close(&b, ']');
	jw_key(&b, "now");
	jw_open(&b, '{');
	jw_uint(&b, "online_clients", cl);
	jw_uint(&b, "mappings", mp);
	jw_uint(&b, "active_conns", cn);
	jw_uint(&b, "bytes_today_in", in);
	jw_uint(&b, "bytes_today_out", out);
	jw_close(&b, '}');
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}
