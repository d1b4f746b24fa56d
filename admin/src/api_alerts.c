/* SPDX-License-Identifier: ISC */
/*
 * api_alerts.c: GET /api/alerts, the alert episodes the master recorded
 * (table alerts, newest first, paged): firing ones and past ones.  Every
 * role may read it; the master is the table's only writer.
 */
#include <string.h>

#include "db_alert.h"
#include "module.h"

/* What one request asks for, and the page being written. */
struct alerts_page {
	struct kore_buf	*b;
	int		 state;		/* 0 all, 1 firing, 2 resolved */
	uint64_t	 skip, per_page, seen, firing;
};

/* Writes one episode as a JSON object. */
static void
alerts_item(struct kore_buf *b, uint64_t seq, const struct db_alert *a)
{
	size_t n = strnlen(a->detail, sizeof(a->detail));

	jw_open(b, '{');
	kore_buf_appendf(b, "\"id\":\"%llu\",", (unsigned long long)seq);
	jw_str(b, "receiver", a->receiver, sizeof(a->receiver));
	jw_str(b, "alert", a->event, sizeof(a->event));
	jw_str(b, "key", a->key, sizeof(a->key));
	jw_str(b, "state", a->end == 0 ? "firing" : "resolved", 16);
	jw_int(b, "since", a->since);
	jw_int(b, "end", a->end);
	jw_key(b, "detail");
	/* The master wrote it with a JSON generator; anything else reads as {}. */
	if (n >= 2 && n < sizeof(a->detail) && a->detail[0] == '{' &&
	    a->detail[n - 1] == '}')
		kore_buf_append(b, a->detail, n);
	else
		kore_buf_append(b, "{}", 2);
	kore_buf_append(b, ",", 1);
	jw_close(b, '}');
}

/* db_alert_each callback: counts, filters, writes the page's items. */
static int
alerts_cb(uint64_t seq, const struct db_alert *a, void *arg)
{
	struct alerts_page *p = arg;

	if (a->end == 0)
		p->firing++;
	if ((p->state == 1 && a->end != 0) || (p->state == 2 && a->end == 0))
		return 0;
	if (p->seen++ >= p->skip && p->seen <= p->skip + p->per_page)
		alerts_item(p->b, seq, a);
	return 0;
}

/* GET /api/alerts?state=firing|resolved|all&page=&per_page= */
int
api_alerts(struct admin_ctx *ctx)
{
	static const char *const keys[] = { "state", "page", "per_page", NULL };
	const char		*state = admin_param(ctx, "state");
	struct alerts_page	 p;
	struct kore_buf		 b;
	MDB_txn			*txn;
	int64_t			 page, per_page;

	if (admin_params_allow(ctx, keys) == -1 ||
	    admin_param_int(ctx, "page", 1, 1000000000, 1, &page) == -1 ||
	    admin_param_int(ctx, "per_page", 1, 500, 50, &per_page) == -1)
		return KORE_RESULT_OK;
	memset(&p, 0, sizeof(p));
	if (state == NULL || strcmp(state, "all") == 0)
		p.state = 0;
	else if (strcmp(state, "firing") == 0)
		p.state = 1;
	else if (strcmp(state, "resolved") == 0)
		p.state = 2;
	else {
		admin_error(ctx, 400, "state must be firing, resolved or all");
		return KORE_RESULT_OK;
	}
	p.skip = (uint64_t)(page - 1) * (uint64_t)per_page;
	p.per_page = (uint64_t)per_page;
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	kore_buf_init(&b, 8192);
	p.b = &b;
	jw_open(&b, '{');
	jw_int(&b, "page", page);
	jw_int(&b, "per_page", per_page);
	jw_key(&b, "items");
	jw_open(&b, '[');
	/* The table keeps at most DB_ALERT_KEEP episodes: one pass counts all. */
	db_alert_each(&admin_db, txn, 0, 0, alerts_cb, &p);
	mdb_txn_abort(txn);
	jw_close(&b, ']');
	jw_uint(&b, "total", p.seen);
	jw_uint(&b, "firing", p.firing);
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}
