/* SPDX-License-Identifier: ISC */
/* db_alert.c: alert history, the webhook delivery queue and daily traffic (db_alert.h). */
#include <string.h>

#include "db.h"
#include "db_admin.h"
#include "db_alert.h"
#include "log.h"

struct alert_write {
	const struct db_alert		*rec;
	const struct db_alert_out	*out;
	uint64_t			 seq;	/* in: episode to close; out: new one */
	int64_t				 end;
};

/* Appends a delivery; the oldest one goes when the queue is full. */
static int
queue_put(MDB_txn *txn, struct db *db, const struct db_alert_out *out)
{
	MDB_dbi		 dbi = db->dbi[DB_ALERT_QUEUE];
	MDB_stat	 st;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	unsigned char	 key[8];

	if (mdb_stat(txn, dbi, &st) == 0 && st.ms_entries >= DB_ALERT_QUEUE_MAX &&
	    mdb_cursor_open(txn, dbi, &cur) == 0) {
		if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) {
			log_warnx("alert queue full (%d): dropping the oldest "
			    "undelivered alert", DB_ALERT_QUEUE_MAX);
			mdb_cursor_del(cur, 0);
		}
		mdb_cursor_close(cur);
	}
	db_key_u64(db_next_seq(txn, dbi), key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = (void *)out;
	v.mv_size = sizeof(*out);
	return db_put(db, txn, dbi, &k, &v, MDB_APPEND);
}

/* Deletes the oldest resolved episodes beyond DB_ALERT_KEEP. */
static void
history_prune(MDB_txn *txn, struct db *db)
{
	MDB_dbi		 dbi = db->dbi[DB_ALERTS];
	MDB_stat	 st;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 extra;

	if (mdb_stat(txn, dbi, &st) != 0 || st.ms_entries <= DB_ALERT_KEEP ||
	    mdb_cursor_open(txn, dbi, &cur) != 0)
		return;
	extra = st.ms_entries - DB_ALERT_KEEP;
	/* Bounded: looks at no more than the surplus plus the keep window. */
	for (int op = MDB_FIRST, n = 0; extra > 0 && n < DB_ALERT_KEEP &&
	    mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT, n++) {
		struct db_alert a;

		if (v.mv_size != sizeof(a))
			continue;
		memcpy(&a, v.mv_data, sizeof(a));
		if (a.end != 0 && mdb_cursor_del(cur, 0) == 0)
			extra--;
	}
	mdb_cursor_close(cur);
}

/* Writes a new episode and its firing delivery in one transaction. */
static int
open_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct alert_write	*w = arg;
	MDB_dbi			 dbi = db->dbi[DB_ALERTS];
	unsigned char		 key[8];
	MDB_val			 k, v;

	w->seq = db_next_seq(txn, dbi);
	db_key_u64(w->seq, key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = (void *)w->rec;
	v.mv_size = sizeof(*w->rec);
	if (db_put(db, txn, dbi, &k, &v, MDB_APPEND) != 0)
		return -1;
	history_prune(txn, db);
	return w->out != NULL && queue_put(txn, db, w->out) != 0 ? -1 : 0;
}

/* Records a firing episode (and queues its webhook, if out); *seq gets its key. */
int
db_alert_open(struct db *db, const struct db_alert *rec, uint64_t *seq,
    const struct db_alert_out *out)
{
	struct alert_write	w = { rec, out, 0, 0 };

	if (db_admin_write(db, open_txn, &w) != 0)
		return -1;
	*seq = w.seq;
	return 0;
}

/* Ends an episode and queues its resolved delivery in one transaction. */
static int
close_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct alert_write	*w = arg;
	MDB_dbi			 dbi = db->dbi[DB_ALERTS];
	unsigned char		 key[8];
	struct db_alert		 a;
	MDB_val			 k, v;

	db_key_u64(w->seq, key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof(a)) {
		memcpy(&a, v.mv_data, sizeof(a));
		a.end = w->end;
		v.mv_data = &a;
		if (db_put(db, txn, dbi, &k, &v, 0) != 0)
			return -1;
	}
	return w->out != NULL && queue_put(txn, db, w->out) != 0 ? -1 : 0;
}

/* Marks episode seq resolved at end (and queues out, if given). */
int
db_alert_close(struct db *db, uint64_t seq, int64_t end,
    const struct db_alert_out *out)
{
	struct alert_write w = { NULL, out, seq, end };

	return db_admin_write(db, close_txn, &w);
}

/*
 * Calls cb for episodes newest first, starting below seq `before` (0: the
 * newest), only firing ones if firing_only; the table is bounded.
 */
int
db_alert_each(struct db *db, MDB_txn *txn, uint64_t before, int firing_only,
    db_alert_cb cb, void *arg)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	unsigned char	 key[8];
	int		 rc, op;

	if (mdb_cursor_open(txn, db->dbi[DB_ALERTS], &cur) != 0)
		return -1;
	if (before == 0) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	} else {
		db_key_u64(before, key);
		k.mv_data = key;
		k.mv_size = sizeof(key);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		/* SET_RANGE lands at or after `before`: step back below it. */
		rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) :
		    mdb_cursor_get(cur, &k, &v, MDB_LAST);
	}
	for (op = MDB_PREV; rc == 0; rc = mdb_cursor_get(cur, &k, &v, op)) {
		struct db_alert a;

		if (v.mv_size != sizeof(a))
			continue;
		memcpy(&a, v.mv_data, sizeof(a));
		if (firing_only && a.end != 0)
			continue;
		if (cb(db_u64_key(&k), &a, arg) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return 0;
}

/* Finds the oldest delivery owed to receiver: 0 found, 1 none, -1 error. */
int
db_alert_queue_head(struct db *db, const char *receiver, uint64_t *seq,
    struct db_alert_out *out)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 found = 1;

	if (db_txn_begin(db, 1, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, db->dbi[DB_ALERT_QUEUE], &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	/* Bounded by DB_ALERT_QUEUE_MAX. */
	for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
	    op = MDB_NEXT) {
		if (v.mv_size != sizeof(*out))
			continue;
		memcpy(out, v.mv_data, sizeof(*out));
		if (strcmp(out->receiver, receiver) == 0) {
			*seq = db_u64_key(&k);
			found = 0;
			break;
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return found;
}

/* Deletes delivery seq from the queue. */
static int
done_txn(MDB_txn *txn, struct db *db, void *arg)
{
	unsigned char	key[8];
	MDB_val		k;
	int		rc;

	db_key_u64(*(uint64_t *)arg, key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	rc = mdb_del(txn, db->dbi[DB_ALERT_QUEUE], &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

/* Forgets a delivered (or abandoned) POST. */
int
db_alert_queue_done(struct db *db, uint64_t seq)
{
	return db_admin_write(db, done_txn, &seq);
}

struct retry_arg {
	uint64_t	seq;
	uint32_t	attempts;
	int64_t		next_try;
};

/* Updates the attempt count and next try time of one delivery. */
static int
retry_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct retry_arg	*r = arg;
	struct db_alert_out	 o;
	unsigned char		 key[8];
	MDB_val			 k, v;

	db_key_u64(r->seq, key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	if (mdb_get(txn, db->dbi[DB_ALERT_QUEUE], &k, &v) != 0 ||
	    v.mv_size != sizeof(o))
		return 0;
	memcpy(&o, v.mv_data, sizeof(o));
	o.attempts = r->attempts;
	o.next_try = r->next_try;
	v.mv_data = &o;
	return db_put(db, txn, db->dbi[DB_ALERT_QUEUE], &k, &v, 0) == 0 ? 0 : -1;
}

/* Records a failed attempt of delivery seq and when to try again. */
int
db_alert_queue_retry(struct db *db, uint64_t seq, uint32_t attempts,
    int64_t next_try)
{
	struct retry_arg r = { seq, attempts, next_try };

	return db_admin_write(db, retry_txn, &r);
}

/* Counts the deliveries owed. */
size_t
db_alert_queue_count(struct db *db)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	size_t		 n = 0;

	if (db_txn_begin(db, 1, &txn) != 0)
		return 0;
	if (mdb_stat(txn, db->dbi[DB_ALERT_QUEUE], &st) == 0)
		n = st.ms_entries;
	mdb_txn_abort(txn);
	return n;
}

/* Reads a client's bytes of the day: 0, or -1 when there is no record. */
int
db_alert_quota_get(struct db *db, MDB_txn *txn, const char *name,
    struct db_alert_quota *q)
{
	MDB_val k, v;

	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	if (k.mv_size == 0 || mdb_get(txn, db->dbi[DB_ALERT_QUOTA], &k, &v) != 0 ||
	    v.mv_size != sizeof(*q))
		return -1;
	memcpy(q, v.mv_data, sizeof(*q));
	return 0;
}

/* Stores a client's bytes of the day. */
int
db_alert_quota_put(struct db *db, MDB_txn *txn, const char *name,
    const struct db_alert_quota *q)
{
	MDB_val k, v;

	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	v.mv_data = (void *)q;
	v.mv_size = sizeof(*q);
	if (k.mv_size == 0)
		return -1;
	return db_put(db, txn, db->dbi[DB_ALERT_QUOTA], &k, &v, 0);
}

/* Deletes the daily totals of days before `today` (once a day). */
int
db_alert_quota_prune(struct db *db, MDB_txn *txn, int64_t today)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;

	if (mdb_cursor_open(txn, db->dbi[DB_ALERT_QUOTA], &cur) != 0)
		return -1;
	for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
	    op = MDB_NEXT) {
		struct db_alert_quota q;

		if (v.mv_size != sizeof(q))
			continue;
		memcpy(&q, v.mv_data, sizeof(q));
		if (q.day < today)
			mdb_cursor_del(cur, 0);
	}
	mdb_cursor_close(cur);
	return 0;
}
