/* SPDX-License-Identifier: ISC */
/*
 * db_prune.c: deletes history, audit and stats records past their limits.
 *
 * A batch is one write transaction that deletes at most DB_PRUNE_BATCH
 * records and looks at most at DB_PRUNE_SCAN, so a worker's flush or a
 * port claim never waits long for the writer lock.  Oldest first: keys are
 * sequence numbers, so key order is (nearly) time order.  Records of what
 * is still live (an online client's session, its open connections) stay,
 * and so does the newest record of each numbered table: the next sequence
 * number is "last key + 1", and it must never count from 1 again (the
 * console and an export in progress identify rows by it).
 */
#include <stdio.h>
#include <string.h>

#include "db_rec.h"
#include "db_prune.h"
#include "metrics.h"

/* What pruning needs of one history record. */
struct prune_rec {
	uint64_t	key;
	int64_t		start, end;
	char		client_id[DB_ID_LEN];
	int		known;		/* a layout we can read */
};

/* A cursor over one numbered table, on a record that may go (ok). */
struct prune_tab {
	enum db_table	 t;
	MDB_cursor	*cur;
	uint64_t	 last;		/* the newest key: always kept */
	int		 ok;
	struct prune_rec r;
};

/* Fills the limits with the documented defaults. */
void
db_prune_limits_default(struct db_prune_limits *l)
{
	l->history_retention = DB_PRUNE_DEF_HISTORY;
	l->history_max_records = DB_PRUNE_DEF_RECORDS;
	l->audit_retention = DB_PRUNE_DEF_AUDIT;
}

/* Starts a new pass with these limits. */
void
db_prune_reset(struct db_prune *p, const struct db_prune_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->lim = *lim;
}

/* Decodes the fields pruning needs from a hist_sess or hist_conn value. */
static void
prune_rec_read(enum db_table t, const MDB_val *k, const MDB_val *v,
    struct prune_rec *r)
{
	struct db_hist_session	s;
	struct db_hist_conn	c;

	memset(r, 0, sizeof(*r));
	r->key = db_u64_key(k);
	if (t == DB_HIST_SESS && db_rec_hist_sess(v, &s) == 0) {
		r->start = s.start;
		r->end = s.end;
		memcpy(r->client_id, s.client_id, sizeof(r->client_id));
		r->known = 1;
	} else if (t == DB_HIST_CONN && db_rec_hist_conn(v, &c) == 0) {
		r->start = c.start;
		r->end = c.end;
		memcpy(r->client_id, c.client_id, sizeof(r->client_id));
		r->known = 1;
	}
	/* Another layout counts as the oldest record and as long ended. */
	r->client_id[DB_ID_LEN - 1] = '\0';
}

/*
 * Tells whether a record belongs to something live: the session of an
 * online client (its hist_seq), or an open connection of a client online
 * since before it started.  Open records of anything else were left by a
 * crash: they count as ended at their start.
 */
static int
prune_rec_live(struct db *db, MDB_txn *txn, enum db_table t,
    const struct prune_rec *r)
{
	struct db_client	c;
	MDB_val			k, v;

	if (!r->known || r->end != 0)
		return 0;
	k.mv_data = (void *)r->client_id;
	k.mv_size = strlen(r->client_id);
	if (k.mv_size == 0 || mdb_get(txn, db->dbi[DB_CLIENTS], &k, &v) != 0 ||
	    db_rec_client(&v, &c) != 0)
		return 0;
	if (t == DB_HIST_SESS)
		return c.hist_seq == r->key;
	return r->start >= c.connected_since;
}

/* Loads the record under the cursor after a positioning call returned rc. */
static void
prune_tab_load(struct prune_tab *tb, int rc)
{
	MDB_val k, v;

	tb->ok = 0;
	if (rc != 0 || mdb_cursor_get(tb->cur, &k, &v, MDB_GET_CURRENT) != 0 ||
	    k.mv_size != 8 || db_u64_key(&k) >= tb->last)
		return;
	prune_rec_read(tb->t, &k, &v, &tb->r);
	tb->ok = 1;
}

/* Opens a cursor on table t at the first record after key after (0: first). */
static int
prune_tab_open(struct db *db, MDB_txn *txn, struct prune_tab *tb,
    enum db_table t, uint64_t after)
{
	unsigned char	key[8];
	MDB_val		k, v;
	int		rc;

	memset(tb, 0, sizeof(*tb));
	tb->t = t;
	if (mdb_cursor_open(txn, db->dbi[t], &tb->cur) != 0)
		return -1;
	if (mdb_cursor_get(tb->cur, &k, &v, MDB_LAST) != 0)
		return 0;		/* empty table: nothing may go */
	tb->last = db_u64_key(&k);
	if (after == 0) {
		rc = mdb_cursor_get(tb->cur, &k, &v, MDB_FIRST);
	} else {
		db_key_u64(after + 1, key);
		k.mv_data = key;
		k.mv_size = sizeof(key);
		rc = mdb_cursor_get(tb->cur, &k, &v, MDB_SET_RANGE);
	}
	prune_tab_load(tb, rc);
	return 0;
}

/* Moves on to the next record. */
static void
prune_tab_next(struct prune_tab *tb)
{
	MDB_val k, v;

	prune_tab_load(tb, mdb_cursor_get(tb->cur, &k, &v, MDB_NEXT));
}

/* Deletes the record under the cursor and moves on to the next one. */
static int
prune_tab_del(struct prune_tab *tb)
{
	MDB_val	k, v;
	int	rc;

	if ((rc = mdb_cursor_del(tb->cur, 0)) != 0)
		return rc;
	/* After a delete LMDB's cursor already sits on the next record and
	 * MDB_NEXT returns that one (the idiom conns_delete_client uses). */
	prune_tab_load(tb, mdb_cursor_get(tb->cur, &k, &v, MDB_NEXT));
	return 0;
}

/* Closes a table cursor. */
static void
prune_tab_close(struct prune_tab *tb)
{
	if (tb->cur != NULL)
		mdb_cursor_close(tb->cur);
	tb->cur = NULL;
}

/* The shared bounds of one batch. */
struct prune_budget {
	size_t	del;		/* deletions left */
	size_t	scan;		/* records left to look at */
	int	dry;		/* only tell whether anything would go */
	int	found;
};

/* Takes one look from the budget; 0 when a bound is reached. */
static int
prune_budget_take(struct db_prune *p, struct prune_budget *b)
{
	if (b->del == 0 || b->scan == 0) {
		p->more = 1;
		return 0;
	}
	b->scan--;
	p->scanned++;
	return 1;
}

/* Deletes the record under tb (or notes it in a dry run); -1 on error. */
static int
prune_take(struct db_prune *p, struct prune_budget *b, struct prune_tab *tb)
{
	if (b->dry) {
		b->found = 1;
		b->del = 0;
		return 0;
	}
	if (prune_tab_del(tb) != 0)
		return -1;
	b->del--;
	if (tb->t == DB_HIST_SESS)
		p->sessions++;
	else
		p->conns++;
	return 0;
}

/* Deletes the oldest sessions and connections above history_max_records. */
static int
prune_cap(struct db *db, MDB_txn *txn, struct db_prune *p,
    struct prune_budget *b)
{
	struct prune_tab	tb[2];
	MDB_stat		st[2];
	uint64_t		total, excess;
	int			rc = 0;

	if (p->lim.history_max_records == 0 ||
	    mdb_stat(txn, db->dbi[DB_HIST_SESS], &st[0]) != 0 ||
	    mdb_stat(txn, db->dbi[DB_HIST_CONN], &st[1]) != 0)
		return 0;
	total = st[0].ms_entries + st[1].ms_entries;
	if (total <= p->lim.history_max_records)
		return 0;
	excess = total - p->lim.history_max_records;
	prune_tab_open(db, txn, &tb[0], DB_HIST_SESS, p->cap_after[0]);
	prune_tab_open(db, txn, &tb[1], DB_HIST_CONN, p->cap_after[1]);
	while (excess > 0 && (tb[0].ok || tb[1].ok) && !b->found) {
		int i;

		if (!prune_budget_take(p, b))
			break;
		/* The older of the two heads goes first (unknown layouts first). */
		if (!tb[0].ok)
			i = 1;
		else if (!tb[1].ok)
			i = 0;
		else if (tb[0].r.known != tb[1].r.known)
			i = tb[0].r.known ? 1 : 0;
		else
			i = tb[1].r.start < tb[0].r.start ? 1 : 0;
		if (prune_rec_live(db, txn, tb[i].t, &tb[i].r)) {
			p->cap_after[i] = tb[i].r.key;
			prune_tab_next(&tb[i]);
			continue;
		}
		if ((rc = prune_take(p, b, &tb[i])) != 0)
			break;
		excess--;
	}
	prune_tab_close(&tb[0]);
	prune_tab_close(&tb[1]);
	return rc;
}

/* Deletes sessions or connections (slot i) that ended before cutoff. */
static int
prune_age(struct db *db, MDB_txn *txn, struct db_prune *p,
    struct prune_budget *b, int i, int64_t cutoff)
{
	struct prune_tab	tb;
	int			rc = 0;

	prune_tab_open(db, txn, &tb, i == 0 ? DB_HIST_SESS : DB_HIST_CONN,
	    p->age_after[i]);
	while (tb.ok && !b->found) {
		int64_t	ended;

		if (!prune_budget_take(p, b))
			break;
		/* Later keys started later (to within a flush): all younger. */
		if (tb.r.known && tb.r.start >= cutoff)
			break;
		if (prune_rec_live(db, txn, tb.t, &tb.r))
			ended = INT64_MAX;
		else
			ended = tb.r.end != 0 ? tb.r.end : tb.r.start;
		if (tb.r.known && ended >= cutoff) {
			/* A long session that ended lately: keep it, go on. */
			p->age_after[i] = tb.r.key;
			prune_tab_next(&tb);
			continue;
		}
		if ((rc = prune_take(p, b, &tb)) != 0)
			break;
	}
	prune_tab_close(&tb);
	return rc;
}

/* Tells whether the record at the head of a table is past its limit. */
typedef int (*prune_old_fn)(const MDB_val *k, const MDB_val *v, int64_t limit);

/* An audit entry older than limit (unknown layouts count as old). */
static int
prune_audit_old(const MDB_val *k, const MDB_val *v, int64_t limit)
{
	struct db_audit a;

	if (v->mv_size != sizeof(a))
		return 1;
	memcpy(&a, v->mv_data, sizeof(a));
	return a.time < limit;
}

/* A stats bucket of a minute before limit. */
static int
prune_stats_old(const MDB_val *k, const MDB_val *v, int64_t limit)
{
	return db_u64_key(k) < (uint64_t)limit;
}

/*
 * Deletes records from the head of table t while old() says so, keeping
 * the newest one when keep_last (a sequence); adds the count to *n.
 */
static int
prune_head(struct db *db, MDB_txn *txn, struct db_prune *p,
    struct prune_budget *b, enum db_table t, int keep_last, prune_old_fn old,
    int64_t limit, size_t *n)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint64_t	 last = UINT64_MAX;
	int		 rc;

	if (mdb_cursor_open(txn, db->dbi[t], &cur) != 0)
		return 0;
	if (keep_last && mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0)
		last = db_u64_key(&k);
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0 && db_u64_key(&k) < last && !b->found &&
	    old(&k, &v, limit)) {
		if (!prune_budget_take(p, b))
			break;
		if (b->dry) {
			b->found = 1;
			break;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		b->del--;
		(*n)++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

/* Per-minute stats are kept as long as the history, at least 8 days. */
static int
prune_stats(struct db *db, MDB_txn *txn, struct db_prune *p,
    struct prune_budget *b, int64_t now)
{
	int64_t keep = p->lim.history_retention;

	if (keep == 0)
		return 0;
	if (keep < DB_PRUNE_STATS_MIN)
		keep = DB_PRUNE_STATS_MIN;
	if (now - keep <= 0)
		return 0;
	return prune_head(db, txn, p, b, DB_STATS, 0, prune_stats_old,
	    (now - keep) / 60, &p->stats);
}

/* Runs every rule within one transaction and one budget. */
static int
prune_rules(struct db *db, MDB_txn *txn, struct db_prune *p,
    struct prune_budget *b, int64_t now)
{
	const struct db_prune_limits *l = &p->lim;

	if (prune_cap(db, txn, p, b) != 0)
		return -1;
	for (int i = 0; i < 2 && l->history_retention > 0; i++)
		if (prune_age(db, txn, p, b, i, now - l->history_retention) != 0)
			return -1;
	/* Audit entries are numbered like history: the newest one stays. */
	if (l->audit_retention > 0 && prune_head(db, txn, p, b, DB_AUDIT, 1,
	    prune_audit_old, now - l->audit_retention, &p->audit) != 0)
		return -1;
	return prune_stats(db, txn, p, b, now);
}

/*
 * Tells whether some record is past the limits (1) or not (0), with a
 * bounded look in a read transaction: the master's cheap check.
 */
int
db_prune_due(struct db *db, const struct db_prune_limits *lim, int64_t now)
{
	struct prune_budget	b = { DB_PRUNE_BATCH, DB_PRUNE_SCAN, 1, 0 };
	struct db_prune		p;
	MDB_txn			*txn;

	db_prune_reset(&p, lim);
	if (db_txn_begin(db, 1, &txn) != 0)
		return 0;
	prune_rules(db, txn, &p, &b, now);
	mdb_txn_abort(txn);
	return b.found || p.more;
}

/* Adds what the batch deleted to the stored counters. */
static int
prune_count(struct db *db, MDB_txn *txn, const struct db_prune *p)
{
	int rc = 0;

	if (p->sessions)
		rc |= metrics_counter_add(db, txn,
		    "gotunnel_history_pruned_total{kind=\"sessions\"}", p->sessions);
	if (p->conns)
		rc |= metrics_counter_add(db, txn,
		    "gotunnel_history_pruned_total{kind=\"connections\"}", p->conns);
	if (p->audit)
		rc |= metrics_counter_add(db, txn, "gotunnel_audit_pruned_total",
		    p->audit);
	return rc;
}

/*
 * Runs one batch: one write transaction, at most DB_PRUNE_BATCH records
 * deleted.  p->more tells whether the pass should go on soon.  0 or -1.
 */
int
db_prune_batch(struct db *db, struct db_prune *p, int64_t now)
{
	struct prune_budget	b = { DB_PRUNE_BATCH, DB_PRUNE_SCAN, 0, 0 };
	MDB_txn			*txn;
	int			rc;

	p->sessions = p->conns = p->audit = p->stats = p->scanned = 0;
	p->more = 0;
	if (db_txn_begin(db, 0, &txn) != 0)
		return -1;
	if (prune_rules(db, txn, p, &b, now) != 0) {
		mdb_txn_abort(txn);
		p->more = 0;
		return -1;
	}
	if (p->sessions + p->conns + p->audit + p->stats == 0) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (prune_count(db, txn, p) != 0) {
		mdb_txn_abort(txn);
		p->more = 0;
		return -1;
	}
	if ((rc = db_txn_commit(db, txn)) != 0) {
		p->more = rc == MDB_MAP_FULL;	/* grown: try again */
		return -1;
	}
	return 0;
}

static const char *const prune_gauges[3] = {
	"gotunnel_history_retention_seconds",
	"gotunnel_history_max_records",
	"gotunnel_audit_retention_seconds",
};

/* Publishes the master's limits (meta gauges) for the admin and metrics. */
int
db_prune_limits_put(struct db *db, const struct db_prune_limits *l)
{
	uint64_t	v[3] = { (uint64_t)l->history_retention,
			    l->history_max_records, (uint64_t)l->audit_retention };
	MDB_txn		*txn;

	if (db_txn_begin(db, 0, &txn) != 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (metrics_gauge_set(db, txn, prune_gauges[i], v[i]) != 0) {
			mdb_txn_abort(txn);
			return -1;
		}
	return db_txn_commit(db, txn);
}

/* Reads the published limits; the defaults (and 1) if no master wrote them. */
int
db_prune_limits_get(struct db *db, MDB_txn *txn, struct db_prune_limits *l)
{
	uint64_t	v[3];
	char		key[64];
	MDB_val		k, d;

	db_prune_limits_default(l);
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "g:%s", prune_gauges[i]);
		k.mv_data = key;
		k.mv_size = strlen(key);
		if (mdb_get(txn, db->dbi[DB_META], &k, &d) != 0 ||
		    d.mv_size != sizeof(v[i]))
			return 1;
		memcpy(&v[i], d.mv_data, sizeof(v[i]));
	}
	l->history_retention = (int64_t)v[0];
	l->history_max_records = v[1];
	l->audit_retention = (int64_t)v[2];
	return 0;
}

/* The start of the oldest session or connection record (0 if none). */
int
db_prune_oldest(struct db *db, MDB_txn *txn, int64_t *oldest)
{
	*oldest = 0;
	for (int t = DB_HIST_SESS; t <= DB_HIST_CONN; t++) {
		MDB_cursor		*cur;
		MDB_val			 k, v;
		struct prune_rec	 r;

		if (mdb_cursor_open(txn, db->dbi[t], &cur) != 0)
			return -1;
		if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) {
			prune_rec_read((enum db_table)t, &k, &v, &r);
			if (r.known && r.start > 0 &&
			    (*oldest == 0 || r.start < *oldest))
				*oldest = r.start;
		}
		mdb_cursor_close(cur);
	}
	return 0;
}
