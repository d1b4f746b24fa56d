/* SPDX-License-Identifier: ISC */
/*
 * fixture.c: writes LMDB records the way the master does, for the admin's
 * tests (and for trying the console without a running tunnel).
 *   gtadmin-fixture DIR user NAME PASSWORD [ROLE]
 *   gtadmin-fixture DIR client ID NAME ADDR PORT[:MAPNAME]...
 *   gtadmin-fixture DIR offline ID [REASON]
 *   gtadmin-fixture DIR conn CLIENT_ID PORT PEER
 *   gtadmin-fixture DIR hist N          (N sessions + N conns, batched)
 *   gtadmin-fixture DIR stats MINUTES
 *   gtadmin-fixture DIR expire-websess  (every console session expires now)
 *   gtadmin-fixture DIR alert RECEIVER EVENT KEY [resolved]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "db_admin.h"
#include "db_alert.h"

/* Puts one record; exits on error. */
static void
put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	MDB_val	k = { klen, (void *)key }, v = { vlen, (void *)val };
	int	rc;

	if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
		fprintf(stderr, "mdb_put: %s\n", mdb_strerror(rc));
		exit(1);
	}
}

/* Commits or exits. */
static void
commit(struct db *db, MDB_txn *txn)
{
	if (db_txn_commit(db, txn) != 0)
		exit(1);
}

/* Adds an online client with its mappings and an open history session. */
static int
fx_client(struct db *db, int argc, char **argv)
{
	struct db_client	c;
	struct db_mapping	m;
	struct db_hist_session	h;
	MDB_txn			*txn;
	unsigned char		key[8], pk[2];
	char			*colon;

	if (argc < 3)
		return 1;
	memset(&c, 0, sizeof(c));
	memset(&h, 0, sizeof(h));
	c.version = h.version = DB_RECORD_VERSION;
	db_strlcpy(c.id, argv[0], sizeof(c.id));
	db_strlcpy(c.name, argv[1], sizeof(c.name));
	db_strlcpy(c.address, argv[2], sizeof(c.address));
	c.connected_since = c.last_heartbeat = db_now();
	c.worker_pid = 4242;
	c.nmappings = (uint32_t)(argc - 3);
	db_strlcpy(h.client_id, c.id, sizeof(h.client_id));
	db_strlcpy(h.name, c.name, sizeof(h.name));
	db_strlcpy(h.address, c.address, sizeof(h.address));
	h.start = c.connected_since;
	if (db_txn_begin(db, 0, &txn) != 0)
		return 1;
	for (int i = 3; i < argc; i++) {
		memset(&m, 0, sizeof(m));
		m.version = DB_RECORD_VERSION;
		m.remote_port = (uint16_t)atoi(argv[i]);
		m.local_port = 22;
		db_strlcpy(m.client_id, c.id, sizeof(m.client_id));
		db_strlcpy(m.client_name, c.name, sizeof(m.client_name));
		colon = strchr(argv[i], ':');
		db_strlcpy(m.name, colon ? colon + 1 : "tcp", sizeof(m.name));
		db_strlcpy(m.local_ip, "127.0.0.1", sizeof(m.local_ip));
		m.since = c.connected_since;
		m.worker_pid = 4242;
		pk[0] = (unsigned char)(m.remote_port >> 8);
		pk[1] = (unsigned char)m.remote_port;
		put(txn, db->dbi[DB_MAPPINGS], pk, 2, &m, sizeof(m));
		snprintf(h.ports + strlen(h.ports), sizeof(h.ports) -
		    strlen(h.ports), "%s%u", i > 3 ? "," : "", m.remote_port);
	}
	c.hist_seq = db_next_seq(txn, db->dbi[DB_HIST_SESS]);
	db_key_u64(c.hist_seq, key);
	put(txn, db->dbi[DB_HIST_SESS], key, 8, &h, sizeof(h));
	put(txn, db->dbi[DB_CLIENTS], c.id, strlen(c.id), &c, sizeof(c));
	commit(db, txn);
	return 0;
}

/* Takes a client offline: removes it and its mappings, closes its session. */
static int
fx_offline(struct db *db, int argc, char **argv)
{
	struct db_client	 c;
	struct db_mapping	 m;
	struct db_hist_session	 h;
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	unsigned char		 key[8];

	if (argc < 1 || db_txn_begin(db, 0, &txn) != 0)
		return 1;
	k.mv_data = argv[0];
	k.mv_size = strlen(argv[0]);
	if (mdb_get(txn, db->dbi[DB_CLIENTS], &k, &v) != 0) {
		mdb_txn_abort(txn);
		return 1;
	}
	memcpy(&c, v.mv_data, sizeof(c));
	mdb_del(txn, db->dbi[DB_CLIENTS], &k, NULL);
	mdb_cursor_open(txn, db->dbi[DB_MAPPINGS], &cur);
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		memcpy(&m, v.mv_data, sizeof(m));
		if (strcmp(m.client_id, c.id) == 0)
			mdb_cursor_del(cur, 0);
	}
	mdb_cursor_close(cur);
	db_key_u64(c.hist_seq, key);
	k.mv_data = key;
	k.mv_size = 8;
	if (mdb_get(txn, db->dbi[DB_HIST_SESS], &k, &v) == 0) {
		memcpy(&h, v.mv_data, sizeof(h));
		h.end = db_now();
		db_strlcpy(h.reason, argc > 1 ? argv[1] : "closed",
		    sizeof(h.reason));
		put(txn, db->dbi[DB_HIST_SESS], key, 8, &h, sizeof(h));
	}
	commit(db, txn);
	return 0;
}

/* Adds a live public connection. */
static int
fx_conn(struct db *db, int argc, char **argv)
{
	struct db_conn	 c;
	MDB_txn		*txn;
	unsigned char	 key[8];

	if (argc < 3 || db_txn_begin(db, 0, &txn) != 0)
		return 1;
	memset(&c, 0, sizeof(c));
	c.version = DB_RECORD_VERSION;
	db_strlcpy(c.client_id, argv[0], sizeof(c.client_id));
	c.remote_port = (uint16_t)atoi(argv[1]);
	c.local_port = 22;
	db_strlcpy(c.peer, argv[2], sizeof(c.peer));
	c.since = db_now();
	c.bytes_in = 11;
	c.bytes_out = 22;
	db_key_u64(db_next_seq(txn, db->dbi[DB_CONNS]), key);
	put(txn, db->dbi[DB_CONNS], key, 8, &c, sizeof(c));
	commit(db, txn);
	return 0;
}

/*
 * Appends n closed sessions and n closed connections.  Record i: client
 * "hc<i%10>", name "alpha" (even i) or "beta", port 20000+i%5, start
 * 1000000+i; every 7th reason is "kicked, by \"admin\"" (CSV quoting).
 */
static int
fx_hist(struct db *db, int argc, char **argv)
{
	struct db_hist_session	 s;
	struct db_hist_conn	 c;
	MDB_txn			*txn = NULL;
	unsigned char		 key[8];
	uint64_t		 ss = 0, cs = 0;
	long			 n, i;

	if (argc < 1 || (n = atol(argv[0])) <= 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (txn == NULL) {
			if (db_txn_begin(db, 0, &txn) != 0)
				return 1;
			ss = db_next_seq(txn, db->dbi[DB_HIST_SESS]);
			cs = db_next_seq(txn, db->dbi[DB_HIST_CONN]);
		}
		memset(&s, 0, sizeof(s));
		memset(&c, 0, sizeof(c));
		s.version = c.version = DB_RECORD_VERSION;
		snprintf(s.client_id, sizeof(s.client_id), "hc%ld", i % 10);
		db_strlcpy(s.name, i % 2 ? "beta" : "alpha", sizeof(s.name));
		snprintf(s.address, sizeof(s.address), "10.0.0.%ld:%ld",
		    i % 250, 40000 + i % 1000);
		db_strlcpy(s.reason, i % 7 ? "closed" : "kicked, by \"admin\"",
		    sizeof(s.reason));
		s.start = 1000000 + i;
		s.end = s.start + 10;
		s.bytes_in = (uint64_t)i;
		s.bytes_out = (uint64_t)i * 2;
		snprintf(s.ports, sizeof(s.ports), "%ld", 20000 + i % 5);
		db_key_u64(ss++, key);
		put(txn, db->dbi[DB_HIST_SESS], key, 8, &s, sizeof(s));
		memcpy(c.client_id, s.client_id, sizeof(c.client_id));
		memcpy(c.client_name, s.name, sizeof(c.client_name));
		db_strlcpy(c.mapping, "ssh", sizeof(c.mapping));
		c.remote_port = (uint16_t)(20000 + i % 5);
		c.local_port = 22;
		memcpy(c.peer, s.address, sizeof(c.peer));
		memcpy(c.reason, s.reason, sizeof(c.reason));
		c.start = s.start;
		c.end = s.end;
		c.bytes_in = s.bytes_in;
		c.bytes_out = s.bytes_out;
		db_key_u64(cs++, key);
		put(txn, db->dbi[DB_HIST_CONN], key, 8, &c, sizeof(c));
		if (i % 20000 == 19999 || i == n - 1) {
			commit(db, txn);
			txn = NULL;
		}
	}
	return 0;
}

/* Adds one stats record per minute for the last m minutes. */
static int
fx_stats(struct db *db, int argc, char **argv)
{
	struct db_stats	 st;
	MDB_txn		*txn;
	unsigned char	 key[8];
	int64_t		 now = db_now() / 60;
	long		 m;

	if (argc < 1 || (m = atol(argv[0])) <= 0 ||
	    db_txn_begin(db, 0, &txn) != 0)
		return 1;
	for (long i = 0; i < m; i++) {
		memset(&st, 0, sizeof(st));
		st.version = DB_RECORD_VERSION;
		st.online_clients = 1 + (uint32_t)(i % 3);
		st.active_conns = (uint32_t)(i % 5);
		st.new_conns = 2;
		st.bytes_in = 100;
		st.bytes_out = 200;
		db_key_u64((uint64_t)(now - i), key);
		put(txn, db->dbi[DB_STATS], key, 8, &st, sizeof(st));
	}
	commit(db, txn);
	return 0;
}

/* Makes every console session expire now. */
static int
fx_expire(struct db *db)
{
	struct db_websession	 s;
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;

	if (db_txn_begin(db, 0, &txn) != 0)
		return 1;
	mdb_cursor_open(txn, db->dbi[DB_WEBSESS], &cur);
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		memcpy(&s, v.mv_data, sizeof(s));
		s.expires = db_now() - 1;
		v.mv_data = &s;
		v.mv_size = sizeof(s);
		mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
	}
	mdb_cursor_close(cur);
	commit(db, txn);
	return 0;
}

/* Records an alert episode as the master does (resolved at once if asked). */
static int
fx_alert(struct db *db, int argc, char **argv)
{
	struct db_alert	a;
	uint64_t	seq;

	if (argc != 3 && argc != 4)
		return 1;
	memset(&a, 0, sizeof(a));
	a.version = DB_RECORD_VERSION;
	db_strlcpy(a.receiver, argv[0], sizeof(a.receiver));
	db_strlcpy(a.event, argv[1], sizeof(a.event));
	db_strlcpy(a.key, argv[2], sizeof(a.key));
	a.since = db_now() - 60;
	db_strlcpy(a.detail, "{\"failures_last_minute\":42}", sizeof(a.detail));
	if (db_alert_open(db, &a, &seq, NULL) != 0)
		return 1;
	if (argc == 4 && db_alert_close(db, seq, db_now(), NULL) != 0)
		return 1;
	printf("%llu\n", (unsigned long long)seq);
	return 0;
}

/* Runs one fixture command against DIR. */
int
main(int argc, char **argv)
{
	struct db	db;
	int		rc = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: gtadmin-fixture DIR CMD ARGS...\n");
		return 1;
	}
	if (db_open(&db, argv[1], 0) == -1)
		return 1;
	if (strcmp(argv[2], "user") == 0 && (argc == 5 || argc == 6))
		rc = db_user_add(&db, argv[3], argv[4], argc == 6 ?
		    db_user_role_parse(argv[5]) : DB_ROLE_ADMIN) == 0 ? 0 : 1;
	else if (strcmp(argv[2], "client") == 0)
		rc = fx_client(&db, argc - 3, argv + 3);
	else if (strcmp(argv[2], "offline") == 0)
		rc = fx_offline(&db, argc - 3, argv + 3);
	else if (strcmp(argv[2], "conn") == 0)
		rc = fx_conn(&db, argc - 3, argv + 3);
	else if (strcmp(argv[2], "hist") == 0)
		rc = fx_hist(&db, argc - 3, argv + 3);
	else if (strcmp(argv[2], "stats") == 0)
		rc = fx_stats(&db, argc - 3, argv + 3);
	else if (strcmp(argv[2], "expire-websess") == 0)
		rc = fx_expire(&db);
	else if (strcmp(argv[2], "alert") == 0)
		rc = fx_alert(&db, argc - 3, argv + 3);
	db_close(&db);
	if (rc != 0)
		fprintf(stderr, "gtadmin-fixture: %s failed\n", argv[2]);
	return rc;
}
