/* SPDX-License-Identifier: ISC */
/*
 * api_history.c: the history of client sessions and public connections
 * (tables hist_sess and hist_conn, newest first), its streamed export,
 * and the audit log.  An online session's byte counts are its running
 * totals, taken from the live client record the workers flush.  In
 * cluster mode the same routes answer from PostgreSQL (cluster_hist.c).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "db_rec.h"
#include "module.h"

#define EXPORT_CHUNK	(64 * 1024)	/* bytes per streamed piece */

/* One streamed export; owned by the netbuf callback chain. */
struct export {
	struct hfilter	 f;
	char		 client[DB_ID_LEN], name[DB_NAME_LEN];
	int		 csv;
	uint64_t	 next;		/* keys below this are still to do */
	int		 done;
	struct kore_buf	 buf;
};

/* Case-insensitive substring test over a fixed field. */
static int
has_sub(const char *field, size_t size, const char *q)
{
	char	tmp[256];
	size_t	n = strnlen(field, size);

	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, field, n);
	tmp[n] = '\0';
	return strcasestr(tmp, q) != NULL;
}

/* 1 when a fixed field equals s exactly. */
static int
field_eq(const char *field, size_t size, const char *s)
{
	size_t	n = strnlen(field, size);

	return n == strlen(s) && memcmp(field, s, n) == 0;
}

/* 1 when a port list "10022,10080" contains port. */
static int
ports_has(const char *ports, size_t size, int64_t port)
{
	char	tmp[DB_NAME_LEN + 1], *p, *save = NULL;
	size_t	n = strnlen(ports, size);

	memcpy(tmp, ports, n);
	tmp[n] = '\0';
	for (p = strtok_r(tmp, ", ", &save); p != NULL;
	    p = strtok_r(NULL, ", ", &save)) {
		if (strtoll(p, NULL, 10) == port)
			return 1;
	}
	return 0;
}

/* 1 when a session record passes the filter. */
static int
match_sess(const struct hfilter *f, const struct db_hist_session *s)
{
	if (f->client && !field_eq(s->client_id, sizeof(s->client_id),
	    f->client))
		return 0;
	if (f->name && !field_eq(s->name, sizeof(s->name), f->name))
		return 0;
	if (f->port && !ports_has(s->ports, sizeof(s->ports), f->port))
		return 0;
	if (s->start < f->from || s->start > f->to)
		return 0;
	if ((f->status == 1 && s->end != 0) || (f->status == 2 && s->end == 0))
		return 0;
	if (f->q[0] != '\0' && !has_sub(s->name, sizeof(s->name), f->q) &&
	    !has_sub(s->client_id, sizeof(s->client_id), f->q) &&
	    !has_sub(s->address, sizeof(s->address), f->q) &&
	    !has_sub(s->reason, sizeof(s->reason), f->q))
		return 0;
	return 1;
}

/* 1 when a connection record passes the filter. */
static int
match_conn(const struct hfilter *f, const struct db_hist_conn *c)
{
	if (f->client && !field_eq(c->client_id, sizeof(c->client_id),
	    f->client))
		return 0;
	if (f->name && !field_eq(c->client_name, sizeof(c->client_name),
	    f->name))
		return 0;
	if (f->port && c->remote_port != f->port)
		return 0;
	if (c->start < f->from || c->start > f->to)
		return 0;
	if ((f->status == 1 && c->end != 0) || (f->status == 2 && c->end == 0))
		return 0;
	if (f->q[0] != '\0' &&
	    !has_sub(c->client_name, sizeof(c->client_name), f->q) &&
	    !has_sub(c->mapping, sizeof(c->mapping), f->q) &&
	    !has_sub(c->client_id, sizeof(c->client_id), f->q) &&
	    !has_sub(c->peer, sizeof(c->peer), f->q) &&
	    !has_sub(c->reason, sizeof(c->reason), f->q))
		return 0;
	return 1;
}

static const char *const sess_fields[] = { "id", "client_id", "name",
    "address", "start", "end", "status", "reason", "ports", "bytes_in",
    "bytes_out", NULL };
static const char *const conn_fields[] = { "id", "client_id",
    "client_name", "mapping", "remote_port", "local_port", "peer", "start",
    "end", "status", "reason", "bytes_in", "bytes_out", NULL };

/*
 * Gives an online session its running totals: the history record gets its
 * bytes when the session ends, the live client record (same hist_seq)
 * every flush.  Never lowers a count.
 */
static void
sess_live(MDB_txn *txn, uint64_t seq, struct db_hist_session *s)
{
	struct db_client	c;
	char			id[DB_ID_LEN];

	if (s->end != 0)
		return;
	db_strlcpy(id, s->client_id, sizeof(id));
	if (live_client_get(txn, id, &c) != 0 || c.hist_seq != seq)
		return;
	if (c.bytes_in > s->bytes_in)
		s->bytes_in = c.bytes_in;
	if (c.bytes_out > s->bytes_out)
		s->bytes_out = c.bytes_out;
}

/* Appends a session item as JSON (node NULL: no "node" field). */
void
history_sess_json(struct kore_buf *b, const char *id, const char *node,
    const struct db_hist_session *s)
{
	jw_open(b, '{');
	jw_str(b, "id", id, strlen(id));
	jw_str(b, "client_id", s->client_id, sizeof(s->client_id));
	if (node != NULL)
		jw_str(b, "node", node, strlen(node));
	jw_str(b, "name", s->name, sizeof(s->name));
	jw_str(b, "address", s->address, sizeof(s->address));
	jw_int(b, "start", s->start);
	jw_int(b, "end", s->end);
	jw_str(b, "status", s->end == 0 ? "online" : "closed", 8);
	jw_str(b, "reason", s->reason, sizeof(s->reason));
	jw_str(b, "ports", s->ports, sizeof(s->ports));
	jw_uint(b, "bytes_in", s->bytes_in);
	jw_uint(b, "bytes_out", s->bytes_out);
	jw_close(b, '}');
}

/* Appends a connection item as JSON (node NULL: no "node" field). */
void
history_conn_json(struct kore_buf *b, const char *id, const char *node,
    const struct db_hist_conn *c)
{
	jw_open(b, '{');
	jw_str(b, "id", id, strlen(id));
	jw_str(b, "client_id", c->client_id, sizeof(c->client_id));
	if (node != NULL)
		jw_str(b, "node", node, strlen(node));
	jw_str(b, "client_name", c->client_name, sizeof(c->client_name));
	jw_str(b, "mapping", c->mapping, sizeof(c->mapping));
	jw_uint(b, "remote_port", c->remote_port);
	jw_uint(b, "local_port", c->local_port);
	jw_str(b, "peer", c->peer, sizeof(c->peer));
	jw_int(b, "start", c->start);
	jw_int(b, "end", c->end);
	jw_str(b, "status", c->end == 0 ? "open" : "closed", 8);
	jw_str(b, "reason", c->reason, sizeof(c->reason));
	jw_uint(b, "bytes_in", c->bytes_in);
	jw_uint(b, "bytes_out", c->bytes_out);
	jw_close(b, '}');
}

/* Appends a session item as one CSV row (node NULL: no node column). */
void
history_sess_csv(struct kore_buf *b, const char *id, const char *node,
    const struct db_hist_session *s)
{
	csv_field(b, id, strlen(id), 0);
	if (node != NULL)
		csv_field(b, node, strlen(node), 0);
	csv_field(b, s->client_id, sizeof(s->client_id), 0);
	csv_field(b, s->name, sizeof(s->name), 0);
	csv_field(b, s->address, sizeof(s->address), 0);
	kore_buf_appendf(b, "%lld,%lld,%s,", (long long)s->start,
	    (long long)s->end, s->end == 0 ? "online" : "closed");
	csv_field(b, s->reason, sizeof(s->reason), 0);
	csv_field(b, s->ports, sizeof(s->ports), 0);
	kore_buf_appendf(b, "%llu,%llu\r\n", (unsigned long long)s->bytes_in,
	    (unsigned long long)s->bytes_out);
}

/* Appends a connection item as one CSV row (node NULL: no node column). */
void
history_conn_csv(struct kore_buf *b, const char *id, const char *node,
    const struct db_hist_conn *c)
{
	csv_field(b, id, strlen(id), 0);
	if (node != NULL)
		csv_field(b, node, strlen(node), 0);
	csv_field(b, c->client_id, sizeof(c->client_id), 0);
	csv_field(b, c->client_name, sizeof(c->client_name), 0);
	csv_field(b, c->mapping, sizeof(c->mapping), 0);
	kore_buf_appendf(b, "%u,%u,", c->remote_port, c->local_port);
	csv_field(b, c->peer, sizeof(c->peer), 0);
	kore_buf_appendf(b, "%lld,%lld,%s,", (long long)c->start,
	    (long long)c->end, c->end == 0 ? "open" : "closed");
	csv_field(b, c->reason, sizeof(c->reason), 0);
	kore_buf_appendf(b, "%llu,%llu\r\n", (unsigned long long)c->bytes_in,
	    (unsigned long long)c->bytes_out);
}

/* Appends the CSV header line of a kind (with_node: a node column after id). */
void
history_csv_header(struct kore_buf *b, int conns, int with_node)
{
	const char *const *fl = conns ? conn_fields : sess_fields;

	for (int i = 0; fl[i] != NULL; i++)
		kore_buf_appendf(b, "%s%s%s", fl[i],
		    i == 0 && with_node ? ",node" : "", fl[i + 1] ? "," : "\r\n");
}

/* Reads the filter parameters; answers 400 and returns -1 when invalid. */
static int
hfilter_parse(struct admin_ctx *ctx, struct hfilter *f)
{
	const char	*kind = admin_param(ctx, "kind");
	const char	*status = admin_param(ctx, "status");
	const char	*q = admin_param(ctx, "q");

	memset(f, 0, sizeof(*f));
	if (kind == NULL || strcmp(kind, "sessions") == 0) {
		f->conns = 0;
	} else if (strcmp(kind, "conns") == 0) {
		f->conns = 1;
	} else {
		admin_error(ctx, 400, "invalid value for kind");
		return -1;
	}
	f->client = admin_param(ctx, "client");
	f->name = admin_param(ctx, "name");
	if ((f->client && (*f->client == '\0' ||
	    strlen(f->client) >= DB_ID_LEN)) ||
	    (f->name && (*f->name == '\0' || strlen(f->name) >= DB_NAME_LEN))) {
		admin_error(ctx, 400, f->name && (*f->name == '\0' ||
		    strlen(f->name) >= DB_NAME_LEN) ? "invalid value for name" :
		    "invalid value for client");
		return -1;
	}
	if (admin_param_int(ctx, "port", 1, 65535, 0, &f->port) == -1 ||
	    admin_param_int(ctx, "from", 0, INT64_MAX / 2, 0, &f->from) == -1 ||
	    admin_param_int(ctx, "to", 0, INT64_MAX / 2, INT64_MAX / 2,
	    &f->to) == -1)
		return -1;
	if (status != NULL) {
		if (strcmp(status, f->conns ? "open" : "online") == 0)
			f->status = 1;
		else if (strcmp(status, "closed") == 0)
			f->status = 2;
		else {
			admin_error(ctx, 400, "invalid value for status");
			return -1;
		}
	}
	if (q != NULL) {
		if (strlen(q) >= sizeof(f->q)) {
			admin_error(ctx, 400, "invalid value for q");
			return -1;
		}
		snprintf(f->q, sizeof(f->q), "%s", q);
	}
	return 0;
}

/* GET /api/sessions. */
int
api_sessions(struct admin_ctx *ctx)
{
	static const char *const keys[] = { "kind", "client", "name", "port",
	    "from", "to", "status", "q", "page", "per_page", NULL };
	struct db_hist_session	 s;
	struct db_hist_conn	 c;
	struct hfilter		 f;
	struct kore_buf		 b;
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int64_t			 page, per_page;
	uint64_t		 total = 0, skip;
	int			 op, m, incomplete;
	char			 why[160], id[24];

	if (admin_params_allow(ctx, keys) == -1 || hfilter_parse(ctx, &f) == -1 ||
	    admin_param_int(ctx, "page", 1, 1000000000, 1, &page) == -1 ||
	    admin_param_int(ctx, "per_page", 1, 500, 50, &per_page) == -1)
		return KORE_RESULT_OK;
	if (cluster_admin_on())		/* every node's, from PostgreSQL */
		return cluster_hist_sessions(ctx, &f, page, per_page);
	skip = (uint64_t)(page - 1) * (uint64_t)per_page;
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	kore_buf_init(&b, 8192);
	jw_open(&b, '{');
	jw_str(&b, "kind", f.conns ? "conns" : "sessions", 16);
	jw_key(&b, "items");
	jw_open(&b, '[');
	if (mdb_cursor_open(txn, admin_db.dbi[f.conns ? DB_HIST_CONN :
	    DB_HIST_SESS], &cur) == 0) {
		for (op = MDB_LAST; mdb_cursor_get(cur, &k, &v, op) == 0;
		    op = MDB_PREV) {
			if (f.conns) {
				if (db_rec_hist_conn(&v, &c) != 0)
					continue;
				m = match_conn(&f, &c);
			} else {
				if (db_rec_hist_sess(&v, &s) != 0)
					continue;
				m = match_sess(&f, &s);
			}
			if (!m)
				continue;
			if (total >= skip && total < skip + (uint64_t)per_page) {
				snprintf(id, sizeof(id), "%llu",
				    (unsigned long long)db_u64_key(&k));
				if (f.conns)
					history_conn_json(&b, id, NULL, &c);
				else {
					sess_live(txn, db_u64_key(&k), &s);
					history_sess_json(&b, id, NULL, &s);
				}
			}
			total++;
		}
		mdb_cursor_close(cur);
	}
	incomplete = hist_state_incomplete(txn, why, sizeof(why));
	mdb_txn_abort(txn);
	jw_close(&b, ']');
	jw_uint(&b, "total", total);
	jw_int(&b, "page", page);
	jw_int(&b, "per_page", per_page);
	jw_bool(&b, "incomplete", incomplete);
	if (incomplete)
		jw_str(&b, "incomplete_reason", why, sizeof(why));
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}

/* Writes a record key as the item id (buf of 24 bytes); returns buf. */
static const char *
id_of(uint64_t key, char *buf)
{
	snprintf(buf, 24, "%llu", (unsigned long long)key);
	return buf;
}

/* Fills ex->buf with the next rows (at least one piece, or done). */
static void
export_fill(struct export *ex)
{
	struct db_hist_session	 s;
	struct db_hist_conn	 c;
	unsigned char		 key[8];
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int			 rc, op;
	char			 id[24];

	kore_buf_reset(&ex->buf);
	if (ex->done)
		return;
	/* A short read transaction per piece: never pin old pages for long. */
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		ex->done = 1;
		return;
	}
	if (mdb_cursor_open(txn, admin_db.dbi[ex->f.conns ? DB_HIST_CONN :
	    DB_HIST_SESS], &cur) != 0) {
		mdb_txn_abort(txn);
		ex->done = 1;
		return;
	}
	db_key_u64(ex->next, key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	op = rc == 0 ? MDB_PREV : MDB_LAST;
	while (ex->buf.offset < EXPORT_CHUNK) {
		if (mdb_cursor_get(cur, &k, &v, op) != 0) {
			ex->done = 1;
			break;
		}
		op = MDB_PREV;
		ex->next = db_u64_key(&k);
		if (ex->f.conns && db_rec_hist_conn(&v, &c) == 0) {
			if (!match_conn(&ex->f, &c))
				continue;
			if (ex->csv) {
				history_conn_csv(&ex->buf, id_of(ex->next, id),
				    NULL, &c);
			} else {
				history_conn_json(&ex->buf, id_of(ex->next, id),
				    NULL, &c);
				jw_end(&ex->buf);
				kore_buf_append(&ex->buf, "\n", 1);
			}
		} else if (!ex->f.conns && db_rec_hist_sess(&v, &s) == 0) {
			if (!match_sess(&ex->f, &s))
				continue;
			sess_live(txn, ex->next, &s);
			if (ex->csv) {
				history_sess_csv(&ex->buf, id_of(ex->next, id),
				    NULL, &s);
			} else {
				history_sess_json(&ex->buf, id_of(ex->next, id),
				    NULL, &s);
				jw_end(&ex->buf);
				kore_buf_append(&ex->buf, "\n", 1);
			}
		}
		if (ex->next <= 1) {
			ex->done = 1;
			break;
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
}

/* Frees an export. */
static void
export_free(struct export *ex)
{
	kore_buf_cleanup(&ex->buf);
	kore_free(ex);
}

/*
 * Kore calls this when a piece has been sent (or the connection is going
 * away): queue the next piece, or free the export at the end.
 */
static int
export_next(struct netbuf *nb)
{
	struct export		*ex = nb->extra;
	struct connection	*c = nb->owner;
	struct netbuf		*next;

	if (ex == NULL)
		return KORE_RESULT_OK;
	nb->extra = NULL;
	if (c->state != CONN_STATE_ESTABLISHED || ex->done) {
		export_free(ex);
		return KORE_RESULT_OK;
	}
	/* The piece just sent is not referenced any more: reuse its buffer. */
	do {
		export_fill(ex);
	} while (ex->buf.offset == 0 && !ex->done);
	if (ex->buf.offset == 0) {
		export_free(ex);
		return KORE_RESULT_OK;
	}
	net_send_stream(c, ex->buf.data, ex->buf.offset, export_next, &next);
	next->extra = ex;
	return KORE_RESULT_OK;
}

/* GET /api/sessions/export?format=csv|ndjson: streamed, newest first. */
int
api_export(struct admin_ctx *ctx)
{
	static const char *const keys[] = { "kind", "client", "name", "port",
	    "from", "to", "status", "q", "format", NULL };
	const char	*format = admin_param(ctx, "format");
	struct export	*ex;
	struct hfilter	 f;
	char		 disp[128];
	int		 csv;

	if (admin_params_allow(ctx, keys) == -1 || hfilter_parse(ctx, &f) == -1)
		return KORE_RESULT_OK;
	if (format == NULL || strcmp(format, "csv") == 0) {
		csv = 1;
	} else if (strcmp(format, "ndjson") == 0) {
		csv = 0;
	} else {
		admin_error(ctx, 400, "invalid value for format");
		return KORE_RESULT_OK;
	}
	if (ctx->req->method == HTTP_METHOD_HEAD) {
		admin_headers(ctx->req, 1);
		http_response_header(ctx->req, "content-type", csv ?
		    "text/csv; charset=utf-8" : "application/x-ndjson");
		http_response(ctx->req, 200, NULL, 0);
		return KORE_RESULT_OK;
	}
	if (cluster_admin_on())
		return cluster_hist_export(ctx, &f, csv);
	ex = kore_calloc(1, sizeof(*ex));
	ex->f = f;
	/* The filter's strings point into the request: keep copies. */
	if (f.client != NULL) {
		snprintf(ex->client, sizeof(ex->client), "%s", f.client);
		ex->f.client = ex->client;
	}
	if (f.name != NULL) {
		snprintf(ex->name, sizeof(ex->name), "%s", f.name);
		ex->f.name = ex->name;
	}
	ex->csv = csv;
	ex->next = UINT64_MAX;
	kore_buf_init(&ex->buf, EXPORT_CHUNK + 4096);
	if (csv)
		history_csv_header(&ex->buf, f.conns, 0);
	snprintf(disp, sizeof(disp),
	    "attachment; filename=\"gotunnel-sessions.%s\"",
	    csv ? "csv" : "ndjson");
	admin_headers(ctx->req, 1);
	http_response_header(ctx->req, "content-type", csv ?
	    "text/csv; charset=utf-8" : "application/x-ndjson");
	http_response_header(ctx->req, "content-disposition", disp);
	/* The body ends when the connection closes: no length up front. */
	ctx->req->flags |= HTTP_REQUEST_NO_CONTENT_LENGTH;
	ctx->req->owner->flags |= CONN_CLOSE_EMPTY;
	if (ex->buf.offset == 0)
		export_fill(ex);
	if (ex->buf.offset == 0)
		kore_buf_append(&ex->buf, "\n", 1);
	http_response_stream(ctx->req, 200, ex->buf.data, ex->buf.offset,
	    export_next, ex);
	return KORE_RESULT_OK;
}

/* GET /api/audit?action=&page=&per_page=, newest first. */
int
api_audit(struct admin_ctx *ctx)
{
	static const char *const keys[] = { "action", "page", "per_page",
	    NULL };
	const char	*action = admin_param(ctx, "action");
	struct db_audit	 a;
	struct kore_buf	 b;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	MDB_stat	 st;
	int64_t		 page, per_page;
	uint64_t	 skip, i = 0;
	int		 op;

	if (admin_params_allow(ctx, keys) == -1 ||
	    admin_param_int(ctx, "page", 1, 1000000000, 1, &page) == -1 ||
	    admin_param_int(ctx, "per_page", 1, 500, 50, &per_page) == -1)
		return KORE_RESULT_OK;
	if (action != NULL && (*action == '\0' ||
	    strlen(action) >= sizeof(a.action))) {
		admin_error(ctx, 400, "invalid value for action");
		return KORE_RESULT_OK;
	}
	if (cluster_admin_on())
		return cluster_hist_audit(ctx, action, page, per_page);
	skip = (uint64_t)(page - 1) * (uint64_t)per_page;
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	if (mdb_stat(txn, admin_db.dbi[DB_AUDIT], &st) != 0)
		st.ms_entries = 0;
	kore_buf_init(&b, 8192);
	jw_open(&b, '{');
	jw_int(&b, "page", page);
	jw_int(&b, "per_page", per_page);
	jw_key(&b, "items");
	jw_open(&b, '[');
	/*
	 * Unfiltered, the page is all that is read (the total is the table's);
	 * filtered, every record is looked at once to count the matches.
	 */
	if ((action != NULL || skip < st.ms_entries) &&
	    mdb_cursor_open(txn, admin_db.dbi[DB_AUDIT], &cur) == 0) {
		for (op = MDB_LAST; (action != NULL ||
		    i < skip + (uint64_t)per_page) &&
		    mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_PREV) {
			if (v.mv_size != sizeof(a))
				continue;
			memcpy(&a, v.mv_data, sizeof(a));
			if (action != NULL && !field_eq(a.action,
			    sizeof(a.action), action))
				continue;
			if (i++ < skip || i > skip + (uint64_t)per_page)
				continue;
			jw_open(&b, '{');
			kore_buf_appendf(&b, "\"id\":\"%llu\",",
			    (unsigned long long)db_u64_key(&k));
			jw_int(&b, "time", a.time);
			jw_str(&b, "user", a.user, sizeof(a.user));
			jw_str(&b, "action", a.action, sizeof(a.action));
			jw_bool(&b, "ok", a.ok);
			jw_str(&b, "address", a.address, sizeof(a.address));
			jw_str(&b, "detail", a.detail, sizeof(a.detail));
			jw_close(&b, '}');
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	jw_close(&b, ']');
	jw_uint(&b, "total", action != NULL ? i : st.ms_entries);
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}
