/* SPDX-License-Identifier: ISC */
/*
 * check_prune.c: history retention (db_prune.c): the batch bound, the
 * record cap (oldest first, sessions and connections together), retention
 * by age, live records kept, the audit log pruned only by its own
 * retention, sequence numbers never reused, and the config keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "db.h"
#include "db_admin.h"
#include "db_live.h"
#include "db_prune.h"
#include "log.h"
#include "suites.h"

static char		tmpdir[64];
static struct db	db;

/* Checked fixture: a fresh environment per test (opened in the test's fork). */
static void
setup(void)
{
	dbfix_open(&db, tmpdir, sizeof(tmpdir), "check_prune");
}

/* Closes and removes the environment. */
static void
teardown(void)
{
	dbfix_close(&db, tmpdir);
}

/* Appends n connection records of client id, started at start + i. */
static void
add_conns(int n, const char *id, int64_t start, int64_t len, int open)
{
	MDB_txn	*txn;

	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	for (int i = 0; i < n; i++) {
		struct db_hist_conn	h;
		uint64_t		seq = 0;

		memset(&h, 0, sizeof(h));
		h.version = DB_RECORD_VERSION;
		db_strlcpy(h.client_id, id, sizeof(h.client_id));
		h.start = start + i;
		h.end = open ? 0 : start + i + len;
		ck_assert_int_eq(db_histconn_put(&db, txn, &seq, &h), 0);
	}
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
}

/* Appends one session record; returns its key. */
static uint64_t
add_session(const char *id, int64_t start, int64_t end)
{
	struct db_hist_session	 s;
	unsigned char		 key[8];
	MDB_val			 k = { 8, key }, v = { sizeof(s), &s };
	MDB_txn			*txn;
	uint64_t		 seq;

	memset(&s, 0, sizeof(s));
	s.version = DB_RECORD_VERSION;
	db_strlcpy(s.client_id, id, sizeof(s.client_id));
	s.start = start;
	s.end = end;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	seq = db_next_seq(txn, db.dbi[DB_HIST_SESS]);
	db_key_u64(seq, key);
	ck_assert_int_eq(mdb_put(txn, db.dbi[DB_HIST_SESS], &k, &v, 0), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	return seq;
}

/* Makes a client online with its session record hist_seq. */
static void
add_client(const char *id, int64_t since, uint64_t hist_seq)
{
	struct db_client	 c;
	MDB_val			 k = { strlen(id), (void *)id }, v = { sizeof(c), &c };
	MDB_txn			*txn;

	memset(&c, 0, sizeof(c));
	c.version = DB_RECORD_VERSION;
	db_strlcpy(c.id, id, sizeof(c.id));
	c.connected_since = since;
	c.hist_seq = hist_seq;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(mdb_put(txn, db.dbi[DB_CLIENTS], &k, &v, 0), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
}

/* Appends an audit entry of the given time. */
static void
add_audit(int64_t t)
{
	struct db_audit	 a;
	unsigned char	 key[8];
	MDB_val		 k = { 8, key }, v = { sizeof(a), &a };
	MDB_txn		*txn;

	memset(&a, 0, sizeof(a));
	a.version = DB_RECORD_VERSION;
	a.time = t;
	db_strlcpy(a.action, "login", sizeof(a.action));
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	db_key_u64(db_next_seq(txn, db.dbi[DB_AUDIT]), key);
	ck_assert_int_eq(mdb_put(txn, db.dbi[DB_AUDIT], &k, &v, 0), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
}

/* The first and last key of a table (0 when empty). */
static void
key_range(enum db_table t, uint64_t *first, uint64_t *last)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;

	*first = *last = 0;
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, db.dbi[t], &cur), 0);
	if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0)
		*first = db_u64_key(&k);
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0)
		*last = db_u64_key(&k);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
}

/* Whether the record with key seq is still in table t. */
static int
has_key(enum db_table t, uint64_t seq)
{
	unsigned char	 key[8];
	MDB_val		 k = { 8, key }, v;
	MDB_txn		*txn;
	int		 rc;

	db_key_u64(seq, key);
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	rc = mdb_get(txn, db.dbi[t], &k, &v);
	mdb_txn_abort(txn);
	return rc == 0;
}

/* Reads a stored counter (meta "c:NAME"). */
static uint64_t
counter(const char *name)
{
	char		 key[160];
	MDB_val		 k, v;
	MDB_txn		*txn;
	uint64_t	 n = 0;

	snprintf(key, sizeof(key), "c:%s", name);
	k.mv_data = key;
	k.mv_size = strlen(key);
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	if (mdb_get(txn, db.dbi[DB_META], &k, &v) == 0 && v.mv_size == sizeof(n))
		memcpy(&n, v.mv_data, sizeof(n));
	mdb_txn_abort(txn);
	return n;
}

/* Runs batches until the pass ends (bounded); returns the batch count. */
static int
run_pass(const struct db_prune_limits *lim, int64_t now, size_t *deleted)
{
	struct db_prune	p;
	int		n = 0;

	db_prune_reset(&p, lim);
	*deleted = 0;
	do {
		ck_assert_int_eq(db_prune_batch(&db, &p, now), 0);
		ck_assert_uint_le(p.sessions + p.conns + p.audit + p.stats,
		    DB_PRUNE_BATCH);
		ck_assert_uint_le(p.scanned, DB_PRUNE_SCAN);
		*deleted += p.sessions + p.conns + p.audit + p.stats;
	} while (p.more && ++n < 1000);
	ck_assert_int_lt(n, 1000);
	return n + 1;
}

/* No batch deletes more than DB_PRUNE_BATCH; the pass ends at the cap. */
START_TEST(test_batch_bound)
{
	struct db_prune_limits	lim = { 0, 100, 0 };
	struct db_prune		p;
	uint64_t		first, last;
	size_t			deleted;
	int64_t			now = db_now();

	add_conns(3000, "c1", now - 5000, 1, 0);
	ck_assert_int_eq(db_prune_due(&db, &lim, now), 1);
	db_prune_reset(&p, &lim);
	ck_assert_int_eq(db_prune_batch(&db, &p, now), 0);
	ck_assert_uint_eq(p.conns, DB_PRUNE_BATCH);	/* exactly the bound */
	ck_assert_int_eq(p.more, 1);
	ck_assert_uint_eq(db_count(&db, DB_HIST_CONN), 3000 - DB_PRUNE_BATCH);
	/* The rest of the pass: every batch within the bound. */
	ck_assert_int_ge(run_pass(&lim, now, &deleted), (2900 - DB_PRUNE_BATCH) /
	    DB_PRUNE_BATCH);
	ck_assert_uint_eq(deleted, 2900 - DB_PRUNE_BATCH);
	ck_assert_uint_eq(db_count(&db, DB_HIST_CONN), 100);
	key_range(DB_HIST_CONN, &first, &last);
	ck_assert_uint_eq(first, 2901);		/* the newest 100 kept */
	ck_assert_uint_eq(last, 3000);
	ck_assert_uint_eq(counter("gotunnel_history_pruned_total{kind=\"connections\"}"),
	    2900);
	ck_assert_int_eq(db_prune_due(&db, &lim, now), 0);
	/* A pass with nothing to do writes nothing. */
	db_prune_reset(&p, &lim);
	ck_assert_int_eq(db_prune_batch(&db, &p, now), 0);
	ck_assert_int_eq(p.more, 0);
	ck_assert_uint_eq(p.conns, 0);
}
END_TEST

/* The cap counts sessions and connections together, oldest first. */
START_TEST(test_cap_mixed_oldest_first)
{
	struct db_prune_limits	lim = { 0, 10, 0 };
	uint64_t		s_old, s_new;
	size_t			deleted;
	int64_t			now = db_now();

	s_old = add_session("a", now - 1000, now - 990);
	add_conns(10, "a", now - 900, 1, 0);		/* seqs 1..10 */
	s_new = add_session("b", now - 100, now - 90);
	add_conns(5, "b", now - 50, 1, 0);		/* seqs 11..15 */
	run_pass(&lim, now, &deleted);
	ck_assert_uint_eq(deleted, 7);
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS) + db_count(&db, DB_HIST_CONN), 10);
	ck_assert(!has_key(DB_HIST_SESS, s_old));
	ck_assert(has_key(DB_HIST_SESS, s_new));
	for (uint64_t i = 1; i <= 6; i++)
		ck_assert(!has_key(DB_HIST_CONN, i));
	for (uint64_t i = 7; i <= 15; i++)
		ck_assert(has_key(DB_HIST_CONN, i));
}
END_TEST

/* Retention by age: ended records go, recent and long-lived ones stay. */
START_TEST(test_retention_age)
{
	struct db_prune_limits	lim = { 100, 0, 0 };
	uint64_t		lived, fresh, first, last;
	size_t			deleted;
	int64_t			now = db_now();

	add_conns(20, "x", now - 1000, 5, 0);		/* 1..20: ended long ago */
	add_conns(1, "x", now - 900, 850, 0);		/* 21: ended 50 s ago */
	add_conns(20, "x", now - 800, 5, 0);		/* 22..41: old */
	add_conns(5, "x", now - 10, 1, 0);		/* 42..46: recent */
	lived = add_session("s", now - 2000, now - 10);
	fresh = add_session("s", now - 5, now - 1);
	(void)fresh;
	run_pass(&lim, now, &deleted);
	ck_assert_uint_eq(deleted, 40);
	ck_assert(has_key(DB_HIST_CONN, 21));
	ck_assert(has_key(DB_HIST_SESS, lived));
	key_range(DB_HIST_CONN, &first, &last);
	ck_assert_uint_eq(first, 21);
	ck_assert_uint_eq(db_count(&db, DB_HIST_CONN), 6);
	/* Once everything is old, all go but the newest of each table. */
	run_pass(&lim, now + 10000, &deleted);
	ck_assert_uint_eq(db_count(&db, DB_HIST_CONN), 1);
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS), 1);
	key_range(DB_HIST_CONN, &first, &last);
	ck_assert_uint_eq(last, 46);
	/* So the next record gets 47, never a reused number. */
	add_conns(1, "x", now, 1, 0);
	key_range(DB_HIST_CONN, &first, &last);
	ck_assert_uint_eq(last, 47);
}
END_TEST

/* Records of what is live stay, under the cap and under retention. */
START_TEST(test_live_kept)
{
	struct db_prune_limits	lim = { 100, 3, 0 };
	uint64_t		live_sess, stale_sess;
	size_t			deleted;
	int64_t			now = db_now();

	live_sess = add_session("on", now - 5000, 0);		/* online */
	stale_sess = add_session("gone", now - 4000, 0);	/* left open by a crash */
	add_client("on", now - 5000, live_sess);
	add_conns(3, "on", now - 4500, 0, 1);		/* 1..3 open, client online */
	add_conns(3, "gone", now - 4400, 0, 1);		/* 4..6 open, client gone */
	add_conns(20, "on", now - 3000, 1, 0);		/* 7..26 closed */
	add_session("on", now - 2, now - 1);
	run_pass(&lim, now, &deleted);
	ck_assert(has_key(DB_HIST_SESS, live_sess));
	ck_assert(!has_key(DB_HIST_SESS, stale_sess));
	for (uint64_t i = 1; i <= 3; i++)
		ck_assert(has_key(DB_HIST_CONN, i));
	for (uint64_t i = 4; i <= 25; i++)
		ck_assert(!has_key(DB_HIST_CONN, i));
	ck_assert(has_key(DB_HIST_CONN, 26));		/* the newest */
}
END_TEST

/* Many live records at the head: batches go on past them to the rest. */
START_TEST(test_skip_many_live)
{
	struct db_prune_limits	lim = { 0, 2200, 0 };
	size_t			deleted;
	uint64_t		s;
	int64_t			now = db_now();

	s = add_session("on", now - 9000, 0);
	add_client("on", now - 9000, s);
	add_conns(DB_PRUNE_SCAN + 100, "on", now - 8000, 0, 1);	/* open */
	add_conns(1000, "on", now - 5000, 1, 0);
	run_pass(&lim, now, &deleted);
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS) + db_count(&db, DB_HIST_CONN),
	    2200);
	ck_assert(has_key(DB_HIST_CONN, 1));
	ck_assert(has_key(DB_HIST_CONN, DB_PRUNE_SCAN + 100));
	ck_assert(!has_key(DB_HIST_CONN, DB_PRUNE_SCAN + 101));
	ck_assert(!has_key(DB_HIST_CONN, DB_PRUNE_SCAN + 1001));
	ck_assert(has_key(DB_HIST_CONN, DB_PRUNE_SCAN + 1002));
}
END_TEST

/* The audit log survives the record cap and has its own retention. */
START_TEST(test_audit)
{
	struct db_prune_limits	lim = { 0, 5, 0 };
	size_t			deleted, n;
	uint64_t		first, last;
	int64_t			now = db_now();

	for (int i = 0; i < 30; i++)
		add_audit(now - 1000 + i);
	add_conns(50, "c", now - 500, 1, 0);
	run_pass(&lim, now, &deleted);
	ck_assert_uint_eq(db_count(&db, DB_HIST_CONN), 5);
	ck_assert_int_eq(db_audit_count(&db, &n), 0);
	ck_assert_uint_eq(n, 30);
	lim.audit_retention = 985;		/* entries 0..14 are older */
	run_pass(&lim, now, &deleted);
	ck_assert_uint_eq(deleted, 15);
	key_range(DB_AUDIT, &first, &last);
	ck_assert_uint_eq(first, 16);
	ck_assert_uint_eq(counter("gotunnel_audit_pruned_total"), 15);
	/* The newest entry stays even when it is old too. */
	run_pass(&lim, now + 100000, &deleted);
	ck_assert_int_eq(db_audit_count(&db, &n), 0);
	ck_assert_uint_eq(n, 1);
	db_audit_add(&db, "u", "login", 1, "127.0.0.1", "");
	key_range(DB_AUDIT, &first, &last);
	ck_assert_uint_eq(last, 31);
}
END_TEST

/* Per-minute stats follow the history's retention, but stay 8 days at least. */
START_TEST(test_stats_kept_8_days)
{
	struct db_prune_limits	lim = { 86400, 0, 0 };
	int64_t			now = db_now(), t[3] = { now - 10 * 86400,
				    now - 7 * 86400, now };
	MDB_txn			*txn;
	size_t			deleted;

	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(db_stats_add(&db, txn, t[i], 1, 1, 1), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	run_pass(&lim, now, &deleted);
	ck_assert_uint_eq(deleted, 1);
	ck_assert(!has_key(DB_STATS, (uint64_t)t[0] / 60));
	ck_assert(has_key(DB_STATS, (uint64_t)t[1] / 60));
	ck_assert(has_key(DB_STATS, (uint64_t)t[2] / 60));
	lim.history_retention = 0;			/* forever: all stay */
	run_pass(&lim, now + 100 * 86400, &deleted);
	ck_assert_uint_eq(deleted, 0);
}
END_TEST

/* 0 means forever / no cap: nothing is due, nothing goes. */
START_TEST(test_zero_is_forever)
{
	struct db_prune_limits	lim = { 0, 0, 0 };
	size_t			deleted;
	int64_t			now = db_now();

	add_conns(100, "c", 1000, 1, 0);
	add_audit(1000);
	add_audit(1001);
	ck_assert_int_eq(db_prune_due(&db, &lim, now), 0);
	run_pass(&lim, now, &deleted);
	ck_assert_uint_eq(deleted, 0);
	ck_assert_uint_eq(db_count(&db, DB_HIST_CONN), 100);
}
END_TEST

/* The limits the master publishes are what others read back. */
START_TEST(test_limits_published)
{
	struct db_prune_limits	l = { 2, 500, 60 }, got;
	MDB_txn			*txn;

	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(db_prune_limits_get(&db, txn, &got), 1);
	mdb_txn_abort(txn);
	ck_assert_int_eq(got.history_retention, 90 * 86400);
	ck_assert_uint_eq(got.history_max_records, 10000000);
	ck_assert_int_eq(got.audit_retention, 365 * 86400);
	ck_assert_int_eq(db_prune_limits_put(&db, &l), 0);
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(db_prune_limits_get(&db, txn, &got), 0);
	mdb_txn_abort(txn);
	ck_assert_int_eq(got.history_retention, 2);
	ck_assert_uint_eq(got.history_max_records, 500);
	ck_assert_int_eq(got.audit_retention, 60);
}
END_TEST

/* Loads an ini with the given [common] lines; 0 or -1. */
static int
load_ini(const char *extra, struct server_config *c, char *err, size_t len)
{
	char	 path[128];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/t.ini", tmpdir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fprintf(fp, "[common]\ntoken = t\n%s", extra);
	fclose(fp);
	return server_config_load(path, c, err, len);
}

/* The config keys: defaults, s/m/h/d, 0 for forever, bad values refused. */
START_TEST(test_config_keys)
{
	struct server_config	*c = calloc(1, sizeof(*c));
	char			 err[512];

	ck_assert_int_eq(load_ini("", c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->history_retention, 90 * 86400);
	ck_assert_int_eq(c->history_max_records, 10000000);
	ck_assert_int_eq(c->audit_retention, 365 * 86400);
	ck_assert_int_eq(load_ini("history_retention = 2s\naudit_retention = 0\n"
	    "history_max_records = 500\n", c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->history_retention, 2);
	ck_assert_int_eq(c->audit_retention, 0);
	ck_assert_int_eq(c->history_max_records, 500);
	ck_assert_int_eq(load_ini("history_retention = 0\nhistory_max_records = 0\n"
	    "audit_retention = 12h\n", c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->history_retention, 0);
	ck_assert_int_eq(c->history_max_records, 0);
	ck_assert_int_eq(c->audit_retention, 43200);
	ck_assert_int_eq(load_ini("history_retention = 5m\n", c, err, sizeof(err)), 0);
	ck_assert_int_eq(c->history_retention, 300);
	ck_assert_int_eq(load_ini("history_retention = -1\n", c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "t.ini:3:"));
	ck_assert_int_eq(load_ini("audit_retention = 3w\n", c, err, sizeof(err)), -1);
	ck_assert_int_eq(load_ini("history_max_records = -5\n", c, err, sizeof(err)), -1);
	free(c);
}
END_TEST

/* The suite. */
Suite *
suite_prune(void)
{
	Suite	*s = suite_create("prune");
	TCase	*tc = tcase_create("prune");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_batch_bound);
	tcase_add_test(tc, test_cap_mixed_oldest_first);
	tcase_add_test(tc, test_retention_age);
	tcase_add_test(tc, test_live_kept);
	tcase_add_test(tc, test_skip_many_live);
	tcase_add_test(tc, test_audit);
	tcase_add_test(tc, test_stats_kept_8_days);
	tcase_add_test(tc, test_zero_is_forever);
	tcase_add_test(tc, test_limits_published);
	tcase_add_test(tc, test_config_keys);
	suite_add_tcase(s, tc);
	return s;
}
