/* SPDX-License-Identifier: ISC */
/*
 * cluster_hist.c: /api/sessions, its export, /api/audit and /api/stats of
 * a cluster ([cluster] in the ini), answered from PostgreSQL so that every
 * node's console shows every node's history.
 *
 * What PostgreSQL has: each node's finished sessions, connections and
 * audit events (gt_hist_sess, gt_hist_conn, gt_audit, copied from the
 * nodes' LMDB outboxes about once a second), and each live node's online
 * sessions (gt_live, one second old).  An online session is listed from
 * gt_live; an open connection appears once it has closed.  The JSON has
 * the shapes of the local (LMDB) answers, plus "node"; an item's id is
 * "NODE-SEQ" (unique in the cluster).  The queries run asynchronously
 * (pgq.c); when PostgreSQL cannot answer, the routes answer 503.
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"

#include <kore/pgsql.h>	/* after kore.h, which it needs */

#define EXPORT_MAX_ROWS	100000	/* one export's rows (newest first) */

/*
 * Rows of online nodes' live sessions, shaped as gt_hist_sess rows; a
 * session whose end has already reached gt_hist_sess (its node's live row
 * is up to a second old) is listed once, closed.
 */
#define SQL_LIVE_SESS \
	"SELECT l.node, l.node || '-' || (e->>'id') AS id, e->>'id', " \
	"e->>'name', e->>'address', (e->>'connected_since')::bigint, " \
	"0::bigint, ''::text, coalesce((SELECT string_agg(m->>'remote_port', " \
	"',') FROM jsonb_array_elements(e->'mappings') m WHERE " \
	"coalesce(m->>'remote_port', '0') <> '0'), ''), " \
	"(e->>'bytes_in')::bigint, (e->>'bytes_out')::bigint, 0::bigint " \
	"FROM gt_live l JOIN gt_nodes n ON n.name = l.node CROSS JOIN " \
	"jsonb_array_elements(l.items) e WHERE l.kind = 'clients' AND " \
	"n.last_seen >= now() - make_interval(secs => $10::int) AND NOT EXISTS " \
	"(SELECT 1 FROM gt_hist_sess h WHERE h.end_time >= " \
	"extract(epoch FROM now())::bigint - 300 AND h.node = l.node AND " \
	"h.client_id = e->>'id')"

/*
 * Sessions: $1 client, $2 name, $3 port, $4 from, $5 to, $6 status
 * (0 any, 1 online, 2 closed), $7 q, $8 limit, $9 offset, $10 the node
 * timeout.  Columns: total, then the fields of sess_row().
 */
static const char sql_sessions[] =
	"WITH r (node, id, client_id, name, address, start_time, end_time, "
	"reason, ports, bytes_in, bytes_out, oseq) AS (SELECT node, node || "
	"'-' || oseq, client_id, name, address, start_time, end_time, reason, "
	"ports, bytes_in, bytes_out, oseq FROM gt_hist_sess UNION ALL "
	SQL_LIVE_SESS "), "
	"f AS (SELECT * FROM r WHERE ($1::text IS NULL OR client_id = $1::text) "
	"AND ($2::text IS NULL OR name = $2::text) AND ($3::text IS NULL OR "
	"$3::text = ANY (string_to_array(replace(ports, ' ', ''), ','))) AND "
	"start_time BETWEEN $4::bigint AND $5::bigint AND ($6::int = 0 OR "
	"($6::int = 1 AND end_time = 0) OR ($6::int = 2 AND end_time <> 0)) "
	"AND ($7::text IS NULL OR strpos(lower(name), lower($7::text)) > 0 OR "
	"strpos(lower(client_id), lower($7::text)) > 0 OR strpos(lower(address), "
	"lower($7::text)) > 0 OR strpos(lower(reason), lower($7::text)) > 0)) "
	"SELECT (SELECT count(*) FROM f), p.node, p.id, p.client_id, p.name, "
	"p.address, p.start_time, p.end_time, p.reason, p.ports, p.bytes_in, "
	"p.bytes_out FROM (SELECT 1) o LEFT JOIN (SELECT * FROM f ORDER BY "
	"start_time DESC, node DESC, oseq DESC LIMIT $8::bigint OFFSET "
	"$9::bigint) p ON true ORDER BY p.start_time DESC, p.node DESC, "
	"p.oseq DESC";

/* Connections: $1..$9 as above ($3 remote_port; status 1 open). */
static const char sql_conns[] =
	"WITH f AS (SELECT node, node || '-' || oseq AS id, client_id, "
	"client_name, mapping, remote_port, local_port, peer, start_time, "
	"end_time, reason, bytes_in, bytes_out, oseq FROM gt_hist_conn WHERE "
	"($1::text IS NULL OR client_id = $1::text) AND ($2::text IS NULL OR "
	"client_name = $2::text) AND ($3::int IS NULL OR remote_port = $3::int) "
	"AND start_time BETWEEN $4::bigint AND $5::bigint AND ($6::int = 0 OR "
	"($6::int = 1 AND end_time = 0) OR ($6::int = 2 AND end_time <> 0)) "
	"AND ($7::text IS NULL OR strpos(lower(client_name), lower($7::text)) > 0 "
	"OR strpos(lower(mapping), lower($7::text)) > 0 OR strpos(lower("
	"client_id), lower($7::text)) > 0 OR strpos(lower(peer), lower($7::text)) "
	"> 0 OR strpos(lower(reason), lower($7::text)) > 0)) "
	"SELECT (SELECT count(*) FROM f), p.node, p.id, p.client_id, "
	"p.client_name, p.mapping, p.remote_port, p.local_port, p.peer, "
	"p.start_time, p.end_time, p.reason, p.bytes_in, p.bytes_out FROM "
	"(SELECT 1) o LEFT JOIN (SELECT * FROM f ORDER BY start_time DESC, "
	"node DESC, oseq DESC LIMIT $8::bigint OFFSET $9::bigint) p ON true "
	"ORDER BY p.start_time DESC, p.node DESC, p.oseq DESC";

/* Audit: $1 action, $2 limit, $3 offset. */
static const char sql_audit[] =
	"WITH f AS (SELECT node, node || '-' || oseq AS id, time, username, "
	"action, ok, address, detail, oseq FROM gt_audit WHERE ($1::text IS "
	"NULL OR action = $1::text)) SELECT (SELECT count(*) FROM f), p.node, "
	"p.id, p.time, p.username, p.action, p.ok, p.address, p.detail FROM "
	"(SELECT 1) o LEFT JOIN (SELECT * FROM f ORDER BY time DESC, node DESC, "
	"oseq DESC LIMIT $2::bigint OFFSET $3::bigint) p ON true ORDER BY "
	"p.time DESC, p.node DESC, p.oseq DESC";

/*
 * Stats: $1 first point, $2 step, $3 points, $4 node timeout, $5 today
 * (UTC midnight).  First row (t -1): now's online clients, mappings,
 * active connections and today's bytes; then one row per point: sessions
 * online in it, finished connections open in it, connections opened in
 * it, bytes of the connections that ended in it.
 */
static const char sql_stats[] =
	"WITH b AS (SELECT $1::bigint + g * $2::bigint AS t FROM "
	"generate_series(0, $3::int - 1) g), "
	"up AS (SELECT * FROM gt_nodes WHERE last_seen >= now() - "
	"make_interval(secs => $4::int)), "
	"live AS (SELECT (e->>'connected_since')::bigint AS st FROM gt_live l "
	"JOIN up n ON n.name = l.node CROSS JOIN jsonb_array_elements(l.items) "
	"e WHERE l.kind = 'clients') "
	"SELECT -1::bigint, (SELECT coalesce(sum(clients), 0) FROM up), "
	"(SELECT count(*) FROM gt_live l JOIN up n ON n.name = l.node CROSS "
	"JOIN jsonb_array_elements(l.items) e WHERE l.kind = 'mappings'), "
	"(SELECT coalesce(sum(connections), 0) FROM up), "
	"(SELECT coalesce(sum(bytes_in), 0) FROM gt_hist_conn WHERE end_time "
	">= $5::bigint), (SELECT coalesce(sum(bytes_out), 0) FROM gt_hist_conn "
	"WHERE end_time >= $5::bigint) "
	"UNION ALL SELECT b.t, (SELECT count(*) FROM gt_hist_sess s WHERE "
	"s.start_time < b.t + $2::bigint AND s.end_time >= b.t) + (SELECT "
	"count(*) FROM live WHERE live.st < b.t + $2::bigint), (SELECT count(*) "
	"FROM gt_hist_conn c WHERE c.start_time < b.t + $2::bigint AND "
	"c.end_time >= b.t), (SELECT count(*) FROM gt_hist_conn c WHERE "
	"c.start_time >= b.t AND c.start_time < b.t + $2::bigint), (SELECT "
	"coalesce(sum(c.bytes_in), 0) FROM gt_hist_conn c WHERE c.end_time >= "
	"b.t AND c.end_time < b.t + $2::bigint), (SELECT coalesce(sum("
	"c.bytes_out), 0) FROM gt_hist_conn c WHERE c.end_time >= b.t AND "
	"c.end_time < b.t + $2::bigint) FROM b ORDER BY 1";

/* What a history query's answer needs to know. */
struct hist_arg {
	int		conns;
	int		csv;		/* export: 1 CSV, 0 NDJSON; -1 a page */
	int64_t		page, per_page;
};

/* What the stats answer needs to know. */
struct stats_arg {
	char		range[8];
	int64_t		step;
};

/* A result field as an integer (NULL or empty: 0). */
static int64_t
col_int(struct kore_pgsql *sql, int row, int col)
{
	return strtoll(kore_pgsql_getvalue(sql, row, col), NULL, 10);
}

/* A result field as an unsigned integer (sums come as numeric text). */
static uint64_t
col_uint(struct kore_pgsql *sql, int row, int col)
{
	const char	*v = kore_pgsql_getvalue(sql, row, col);

	return *v == '-' ? 0 : strtoull(v, NULL, 10);
}

/* Copies a result field into a fixed field (cut to its size). */
static void
col_str(struct kore_pgsql *sql, int row, int col, char *dst, size_t size)
{
	db_strlcpy(dst, kore_pgsql_getvalue(sql, row, col), size);
}

/* Reads a sessions row (columns from 1: node, id, then the record). */
static void
sess_row(struct kore_pgsql *sql, int i, struct db_hist_session *s)
{
	memset(s, 0, sizeof(*s));
	col_str(sql, i, 3, s->client_id, sizeof(s->client_id));
	col_str(sql, i, 4, s->name, sizeof(s->name));
	col_str(sql, i, 5, s->address, sizeof(s->address));
	s->start = col_int(sql, i, 6);
	s->end = col_int(sql, i, 7);
	col_str(sql, i, 8, s->reason, sizeof(s->reason));
	col_str(sql, i, 9, s->ports, sizeof(s->ports));
	s->bytes_in = col_uint(sql, i, 10);
	s->bytes_out = col_uint(sql, i, 11);
}

/* Reads a connections row (columns from 1: node, id, then the record). */
static void
conn_row(struct kore_pgsql *sql, int i, struct db_hist_conn *c)
{
	memset(c, 0, sizeof(*c));
	col_str(sql, i, 3, c->client_id, sizeof(c->client_id));
	col_str(sql, i, 4, c->client_name, sizeof(c->client_name));
	col_str(sql, i, 5, c->mapping, sizeof(c->mapping));
	c->remote_port = (uint16_t)col_int(sql, i, 6);
	c->local_port = (uint16_t)col_int(sql, i, 7);
	col_str(sql, i, 8, c->peer, sizeof(c->peer));
	c->start = col_int(sql, i, 9);
	c->end = col_int(sql, i, 10);
	col_str(sql, i, 11, c->reason, sizeof(c->reason));
	c->bytes_in = col_uint(sql, i, 12);
	c->bytes_out = col_uint(sql, i, 13);
}

/* Appends row i as a JSON item or a CSV row of its kind. */
static void
hist_item(struct kore_buf *b, struct kore_pgsql *sql, int i, int conns,
    int csv)
{
	struct db_hist_session	 s;
	struct db_hist_conn	 c;
	char			 node[64], id[128];

	col_str(sql, i, 1, node, sizeof(node));
	col_str(sql, i, 2, id, sizeof(id));
	if (conns) {
		conn_row(sql, i, &c);
		if (csv)
			history_conn_csv(b, id, node, &c);
		else
			history_conn_json(b, id, node, &c);
	} else {
		sess_row(sql, i, &s);
		if (csv)
			history_sess_csv(b, id, node, &s);
		else
			history_sess_json(b, id, node, &s);
	}
}

/* The answer of /api/sessions (a page) or of its export (every row). */
static void
hist_done(struct http_request *req, struct kore_pgsql *sql, void *arg)
{
	struct hist_arg		*a = arg;
	struct admin_ctx	 ctx = { .req = req };
	struct kore_buf		 b;
	int			 n = kore_pgsql_ntuples(sql), i;
	uint64_t		 total = n > 0 ? col_uint(sql, 0, 0) : 0;
	char			 disp[128], num[32];

	kore_buf_init(&b, 8192);
	if (a->csv == -1) {
		jw_open(&b, '{');
		jw_str(&b, "kind", a->conns ? "conns" : "sessions", 16);
		jw_key(&b, "items");
		jw_open(&b, '[');
	} else if (a->csv) {
		history_csv_header(&b, a->conns, 1);
	}
	for (i = 0; i < n; i++) {
		/* The LEFT JOIN's row without a match: only the total. */
		if (kore_pgsql_getlength(sql, i, 2) == 0)
			continue;
		hist_item(&b, sql, i, a->conns, a->csv == 1);
		if (a->csv == 0) {
			jw_end(&b);
			kore_buf_append(&b, "\n", 1);
		}
	}
	if (a->csv == -1) {
		jw_close(&b, ']');
		jw_uint(&b, "total", total);
		jw_int(&b, "page", a->page);
		jw_int(&b, "per_page", a->per_page);
		jw_bool(&b, "incomplete", 0);
		jw_close(&b, '}');
		admin_json(&ctx, 200, &b);
		kore_buf_cleanup(&b);
		return;
	}
	snprintf(disp, sizeof(disp),
	    "attachment; filename=\"gotunnel-sessions.%s\"",
	    a->csv ? "csv" : "ndjson");
	admin_headers(req, 1);
	http_response_header(req, "content-type", a->csv ?
	    "text/csv; charset=utf-8" : "application/x-ndjson");
	http_response_header(req, "content-disposition", disp);
	if (total > EXPORT_MAX_ROWS) {
		/* Say so rather than pass a cut list off as the whole. */
		snprintf(num, sizeof(num), "%llu", (unsigned long long)total);
		http_response_header(req, "x-gotunnel-export-total", num);
		kore_log(LOG_NOTICE, "export: %d of %s rows (narrow with "
		    "from/to)", EXPORT_MAX_ROWS, num);
	}
	if (b.offset == 0)
		kore_buf_append(&b, "\n", 1);
	http_response(req, 200, b.data, b.offset);
	kore_buf_cleanup(&b);
}

/* Starts a history query of filter f (limit/offset rows). */
static int
hist_query(struct admin_ctx *ctx, const struct hfilter *f, int64_t limit,
    int64_t offset, struct hist_arg *a)
{
	char		 port[16], from[32], to[32], status[8], lim[32], off[32];
	char		 tmo[32];
	const char	*p[10];

	snprintf(port, sizeof(port), "%lld", (long long)f->port);
	snprintf(from, sizeof(from), "%lld", (long long)f->from);
	snprintf(to, sizeof(to), "%lld", (long long)f->to);
	snprintf(status, sizeof(status), "%d", f->status);
	snprintf(lim, sizeof(lim), "%lld", (long long)limit);
	snprintf(off, sizeof(off), "%lld", (long long)offset);
	snprintf(tmo, sizeof(tmo), "%lld",
	    (long long)admin_conf.cluster_node_timeout);
	p[0] = f->client;
	p[1] = f->name;
	p[2] = f->port != 0 ? port : NULL;
	p[3] = from;
	p[4] = to;
	p[5] = status;
	p[6] = f->q[0] != '\0' ? f->q : NULL;
	p[7] = lim;
	p[8] = off;
	p[9] = tmo;
	/* Connections have no live part: no node timeout ($10). */
	return pgq_start(ctx, f->conns ? sql_conns : sql_sessions,
	    f->conns ? 9 : 10, p, hist_done, a);
}

/* GET /api/sessions in cluster mode: every node's, newest first. */
int
cluster_hist_sessions(struct admin_ctx *ctx, const struct hfilter *f,
    int64_t page, int64_t per_page)
{
	struct hist_arg	*a = kore_calloc(1, sizeof(*a));

	a->conns = f->conns;
	a->csv = -1;
	a->page = page;
	a->per_page = per_page;
	return hist_query(ctx, f, per_page, (page - 1) * per_page, a);
}

/*
 * GET /api/sessions/export in cluster mode: every node's rows (at most
 * EXPORT_MAX_ROWS, newest first; the header x-gotunnel-export-total says
 * when there were more), with a node column.
 */
int
cluster_hist_export(struct admin_ctx *ctx, const struct hfilter *f, int csv)
{
	struct hist_arg	*a = kore_calloc(1, sizeof(*a));

	a->conns = f->conns;
	a->csv = csv;
	return hist_query(ctx, f, EXPORT_MAX_ROWS, 0, a);
}

/* The answer of /api/audit. */
static void
audit_done(struct http_request *req, struct kore_pgsql *sql, void *arg)
{
	struct hist_arg		*a = arg;
	struct admin_ctx	 ctx = { .req = req };
	struct db_audit		 x;
	struct kore_buf		 b;
	int			 n = kore_pgsql_ntuples(sql), i;
	char			 node[64], id[128];

	kore_buf_init(&b, 8192);
	jw_open(&b, '{');
	jw_int(&b, "page", a->page);
	jw_int(&b, "per_page", a->per_page);
	jw_key(&b, "items");
	jw_open(&b, '[');
	for (i = 0; i < n; i++) {
		if (kore_pgsql_getlength(sql, i, 2) == 0)
			continue;
		memset(&x, 0, sizeof(x));
		col_str(sql, i, 1, node, sizeof(node));
		col_str(sql, i, 2, id, sizeof(id));
		x.time = col_int(sql, i, 3);
		col_str(sql, i, 4, x.user, sizeof(x.user));
		col_str(sql, i, 5, x.action, sizeof(x.action));
		x.ok = strcmp(kore_pgsql_getvalue(sql, i, 6), "t") == 0;
		col_str(sql, i, 7, x.address, sizeof(x.address));
		col_str(sql, i, 8, x.detail, sizeof(x.detail));
		jw_open(&b, '{');
		jw_str(&b, "id", id, sizeof(id));
		jw_str(&b, "node", node, sizeof(node));
		jw_int(&b, "time", x.time);
		jw_str(&b, "user", x.user, sizeof(x.user));
		jw_str(&b, "action", x.action, sizeof(x.action));
		jw_bool(&b, "ok", x.ok);
		jw_str(&b, "address", x.address, sizeof(x.address));
		jw_str(&b, "detail", x.detail, sizeof(x.detail));
		jw_close(&b, '}');
	}
	jw_close(&b, ']');
	jw_uint(&b, "total", n > 0 ? col_uint(sql, 0, 0) : 0);
	jw_close(&b, '}');
	admin_json(&ctx, 200, &b);
	kore_buf_cleanup(&b);
}

/* GET /api/audit in cluster mode: every node's events, newest first. */
int
cluster_hist_audit(struct admin_ctx *ctx, const char *action, int64_t page,
    int64_t per_page)
{
	struct hist_arg	*a = kore_calloc(1, sizeof(*a));
	char		 lim[32], off[32];
	const char	*p[3];

	a->page = page;
	a->per_page = per_page;
	snprintf(lim, sizeof(lim), "%lld", (long long)per_page);
	snprintf(off, sizeof(off), "%lld", (long long)((page - 1) * per_page));
	p[0] = action;
	p[1] = lim;
	p[2] = off;
	return pgq_start(ctx, sql_audit, 3, p, audit_done, a);
}

/* The answer of /api/stats (the shape of api_stats()). */
static void
stats_done(struct http_request *req, struct kore_pgsql *sql, void *arg)
{
	struct stats_arg	*a = arg;
	struct admin_ctx	 ctx = { .req = req };
	struct kore_buf		 b;
	int			 n = kore_pgsql_ntuples(sql), i;

	kore_buf_init(&b, 16384);
	jw_open(&b, '{');
	jw_str(&b, "range", a->range, sizeof(a->range));
	jw_int(&b, "step", a->step);
	jw_key(&b, "points");
	jw_open(&b, '[');
	for (i = 0; i < n; i++) {
		if (col_int(sql, i, 0) < 0)
			continue;
		jw_open(&b, '{');
		jw_int(&b, "t", col_int(sql, i, 0));
		jw_uint(&b, "online_clients", col_uint(sql, i, 1));
		jw_uint(&b, "active_conns", col_uint(sql, i, 2));
		jw_uint(&b, "new_conns", col_uint(sql, i, 3));
		jw_uint(&b, "bytes_in", col_uint(sql, i, 4));
		jw_uint(&b, "bytes_out", col_uint(sql, i, 5));
		jw_close(&b, '}');
	}
	jw_close(&b, ']');
	jw_key(&b, "now");
	jw_open(&b, '{');
	/* ORDER BY 1: the "now" row (t -1) comes first. */
	i = n > 0 && col_int(sql, 0, 0) < 0 ? 0 : -1;
	jw_uint(&b, "online_clients", i == 0 ? col_uint(sql, 0, 1) : 0);
	jw_uint(&b, "mappings", i == 0 ? col_uint(sql, 0, 2) : 0);
	jw_uint(&b, "active_conns", i == 0 ? col_uint(sql, 0, 3) : 0);
	jw_uint(&b, "bytes_today_in", i == 0 ? col_uint(sql, 0, 4) : 0);
	jw_uint(&b, "bytes_today_out", i == 0 ? col_uint(sql, 0, 5) : 0);
	jw_close(&b, '}');
	jw_close(&b, '}');
	admin_json(&ctx, 200, &b);
	kore_buf_cleanup(&b);
}

/* GET /api/stats in cluster mode: the cluster's series (n points of step s). */
int
cluster_hist_stats(struct admin_ctx *ctx, const char *range, int64_t step,
    int64_t n)
{
	struct stats_arg	*a = kore_calloc(1, sizeof(*a));
	int64_t			 now = db_now(), end = now - now % step;
	char			 first[32], st[32], cnt[32], tmo[32], today[32];
	const char		*p[5];

	snprintf(a->range, sizeof(a->range), "%s", range);
	a->step = step;
	snprintf(first, sizeof(first), "%lld", (long long)(end - (n - 1) * step));
	snprintf(st, sizeof(st), "%lld", (long long)step);
	snprintf(cnt, sizeof(cnt), "%lld", (long long)n);
	snprintf(tmo, sizeof(tmo), "%lld",
	    (long long)admin_conf.cluster_node_timeout);
	snprintf(today, sizeof(today), "%lld", (long long)(now - now % 86400));
	p[0] = first;
	p[1] = st;
	p[2] = cnt;
	p[3] = tmo;
	p[4] = today;
	return pgq_start(ctx, sql_stats, 5, p, stats_done, a);
}
