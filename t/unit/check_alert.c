/* SPDX-License-Identifier: ISC */
/*
 * check_alert.c: the [alert.NAME] config helpers (conf_alert.c) and the
 * alert tables (db_alert.c): history, the delivery queue's order and
 * bound, daily traffic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "db.h"
#include "db_alert.h"
#include "log.h"
#include "suites.h"

static char		tmpdir[64];
static struct db	db;

/* Checked fixture: a fresh environment per test. */
static void
setup(void)
{
	dbfix_open(&db, tmpdir, sizeof(tmpdir), "check_alert");
}

/* Closes and removes the environment. */
static void
teardown(void)
{
	dbfix_close(&db, tmpdir);
}

START_TEST(test_parse_bytes)
{
	int64_t b;

	ck_assert_int_eq(conf_parse_bytes("50G", &b), 0);
	ck_assert_int_eq(b, 50LL << 30);
	ck_assert_int_eq(conf_parse_bytes("200K", &b), 0);
	ck_assert_int_eq(b, 200 * 1024);
	ck_assert_int_eq(conf_parse_bytes("3mb", &b), 0);
	ck_assert_int_eq(b, 3 << 20);
	ck_assert_int_eq(conf_parse_bytes("1T", &b), 0);
	ck_assert_int_eq(b, 1LL << 40);
	ck_assert_int_eq(conf_parse_bytes("12345", &b), 0);
	ck_assert_int_eq(b, 12345);
	ck_assert_int_eq(conf_parse_bytes("0", &b), -1);
	ck_assert_int_eq(conf_parse_bytes("-1G", &b), -1);
	ck_assert_int_eq(conf_parse_bytes("12X", &b), -1);
	ck_assert_int_eq(conf_parse_bytes("G", &b), -1);
	ck_assert_int_eq(conf_parse_bytes("5GBB", &b), -1);
	ck_assert_int_eq(conf_parse_bytes("99999999999T", &b), -1);
}
END_TEST

START_TEST(test_glob)
{
	ck_assert_int_eq(conf_alert_glob_match("*", "anything"), 1);
	ck_assert_int_eq(conf_alert_glob_match("edge-*, db-1", "edge-7"), 1);
	ck_assert_int_eq(conf_alert_glob_match("edge-*, db-1", "db-1"), 1);
	ck_assert_int_eq(conf_alert_glob_match("edge-*, db-1", "db-10"), 0);
	ck_assert_int_eq(conf_alert_glob_match("edge-*,,  ,db-?", "db-2"), 1);
	ck_assert_int_eq(conf_alert_glob_match("", "x"), 0);
	ck_assert_str_eq(conf_alert_event_name(ALERT_TRAFFIC_QUOTA), "traffic_quota");
	ck_assert_str_eq(conf_alert_event_name(0), "");
}
END_TEST

/* Collects episodes from db_alert_each. */
struct seen {
	int		n;
	uint64_t	seq[32];
	char		key[32][DB_NAME_LEN];
};

/* db_alert_each callback. */
static int
collect(uint64_t seq, const struct db_alert *a, void *arg)
{
	struct seen *s = arg;

	s->seq[s->n] = seq;
	db_strlcpy(s->key[s->n], a->key, sizeof(s->key[0]));
	return ++s->n == 32;
}

/* Writes an episode for key; returns its seq. */
static uint64_t
open_one(const char *receiver, const char *key, const char *body)
{
	struct db_alert		a;
	struct db_alert_out	o;
	uint64_t		seq;

	memset(&a, 0, sizeof(a));
	db_strlcpy(a.receiver, receiver, sizeof(a.receiver));
	db_strlcpy(a.event, "auth_failures", sizeof(a.event));
	db_strlcpy(a.key, key, sizeof(a.key));
	a.since = 100;
	memset(&o, 0, sizeof(o));
	db_strlcpy(o.receiver, receiver, sizeof(o.receiver));
	o.len = (uint32_t)strlen(body);
	memcpy(o.body, body, o.len);
	ck_assert_int_eq(db_alert_open(&db, &a, &seq, &o), 0);
	return seq;
}

START_TEST(test_history_and_queue)
{
	struct db_alert_out	 o;
	struct seen		 s;
	MDB_txn			*txn;
	uint64_t		 s1, s2, s3, q;

	s1 = open_one("ops", "10.0.0.1", "b1");
	s2 = open_one("dev", "10.0.0.2", "b2");
	s3 = open_one("ops", "10.0.0.3", "b3");
	ck_assert(s1 < s2 && s2 < s3);
	ck_assert_int_eq(db_alert_close(&db, s1, 200, NULL), 0);
	/* Newest first; firing only leaves out the closed one. */
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	memset(&s, 0, sizeof(s));
	db_alert_each(&db, txn, 0, 0, collect, &s);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.key[0], "10.0.0.3");
	ck_assert_str_eq(s.key[2], "10.0.0.1");
	memset(&s, 0, sizeof(s));
	db_alert_each(&db, txn, 0, 1, collect, &s);
	ck_assert_int_eq(s.n, 2);
	memset(&s, 0, sizeof(s));
	db_alert_each(&db, txn, s3, 0, collect, &s);	/* below s3 */
	ck_assert_int_eq(s.n, 2);
	ck_assert_uint_eq(s.seq[0], s2);
	mdb_txn_abort(txn);
	/* The queue: per receiver, oldest first; retries keep the order. */
	ck_assert_uint_eq(db_alert_queue_count(&db), 3);
	ck_assert_int_eq(db_alert_queue_head(&db, "ops", &q, &o), 0);
	ck_assert_str_eq(o.body, "b1");
	ck_assert_int_eq(db_alert_queue_retry(&db, q, 1, 42), 0);
	ck_assert_int_eq(db_alert_queue_head(&db, "ops", &q, &o), 0);
	ck_assert_str_eq(o.body, "b1");
	ck_assert_uint_eq(o.attempts, 1);
	ck_assert_int_eq(o.next_try, 42);
	ck_assert_int_eq(db_alert_queue_done(&db, q), 0);
	ck_assert_int_eq(db_alert_queue_head(&db, "ops", &q, &o), 0);
	ck_assert_str_eq(o.body, "b3");
	ck_assert_int_eq(db_alert_queue_head(&db, "dev", &q, &o), 0);
	ck_assert_str_eq(o.body, "b2");
	ck_assert_int_eq(db_alert_queue_head(&db, "nobody", &q, &o), 1);
}
END_TEST

START_TEST(test_queue_bound)
{
	MDB_txn			*txn;
	struct db_alert_out	 o;
	uint64_t		 q;
	char			 body[32];

	/* One transaction per put would be slow: the bound is what matters. */
	for (int i = 0; i < DB_ALERT_QUEUE_MAX + 5; i++) {
		snprintf(body, sizeof(body), "b%d", i);
		if (i % 1000 == 0 || i >= DB_ALERT_QUEUE_MAX)
			open_one("ops", "k", body);
		else {
			struct db_alert_out out;
			MDB_val k, v;
			unsigned char key[8];

			memset(&out, 0, sizeof(out));
			db_strlcpy(out.receiver, "ops", sizeof(out.receiver));
			ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
			db_key_u64(db_next_seq(txn, db.dbi[DB_ALERT_QUEUE]), key);
			k.mv_data = key;
			k.mv_size = 8;
			v.mv_data = &out;
			v.mv_size = sizeof(out);
			ck_assert_int_eq(mdb_put(txn, db.dbi[DB_ALERT_QUEUE], &k, &v, 0), 0);
			ck_assert_int_eq(db_txn_commit(&db, txn), 0);
		}
	}
	ck_assert_uint_eq(db_alert_queue_count(&db), DB_ALERT_QUEUE_MAX);
	/* The oldest went: the first left is not b0. */
	ck_assert_int_eq(db_alert_queue_head(&db, "ops", &q, &o), 0);
	ck_assert_str_ne(o.body, "b0");
}
END_TEST

START_TEST(test_quota)
{
	struct db_alert_quota	 q, r;
	MDB_txn			*txn;

	memset(&q, 0, sizeof(q));
	q.day = 20000;
	q.bytes = 12345;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_alert_quota_put(&db, txn, "edge-1", &q), 0);
	q.day = 20001;
	ck_assert_int_eq(db_alert_quota_put(&db, txn, "edge-2", &q), 0);
	ck_assert_int_eq(db_alert_quota_put(&db, txn, "", &q), -1);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_alert_quota_get(&db, txn, "edge-1", &r), 0);
	ck_assert_uint_eq(r.bytes, 12345);
	ck_assert_int_eq(db_alert_quota_prune(&db, txn, 20001), 0);
	ck_assert_int_eq(db_alert_quota_get(&db, txn, "edge-1", &r), -1);
	ck_assert_int_eq(db_alert_quota_get(&db, txn, "edge-2", &r), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
}
END_TEST

/* The alert suite. */
Suite *
suite_alert(void)
{
	Suite	*s = suite_create("alert");
	TCase	*tc = tcase_create("conf"), *td = tcase_create("db");

	tcase_add_test(tc, test_parse_bytes);
	tcase_add_test(tc, test_glob);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(td, setup, teardown);
	tcase_set_timeout(td, 60);
	tcase_add_test(td, test_history_and_queue);
	tcase_add_test(td, test_queue_bound);
	tcase_add_test(td, test_quota);
	suite_add_tcase(s, td);
	return s;
}
