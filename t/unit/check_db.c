/* SPDX-License-Identifier: ISC */
/*
 * check_db.c: the LMDB tables (db.c, db_live.c): port claims, release,
 * takeover, limits, claims racing from two processes, history and stats,
 * and the master's housekeeping.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "db_rec.h"
#include "db.h"
#include "db_live.h"
#include "log.h"
#include "portrange.h"
#include "suites.h"

static char		tmpdir[64];
static struct db	db;

/* Checked fixture: a fresh environment per test (opened in the test's fork). */
static void
setup(void)
{
	dbfix_open(&db, tmpdir, sizeof(tmpdir), "check_db");
}

/* Closes and removes the environment. */
static void
teardown(void)
{
	dbfix_close(&db, tmpdir);
}

/* ---- helpers ---- */

/* What the fake bind callback saw, and the ports it pretends are busy. */
struct binds {
	int		n;
	uint16_t	port[256];
	uint16_t	busy[16];
	int		nbusy;
	int		delay_us;
};

/* Stands in for binding a public listener: -1 for "busy" ports. */
static int
fake_bind(uint16_t port, int probe, void *arg)
{
	struct binds *b = arg;

	if (b->delay_us)
		usleep((useconds_t)b->delay_us);
	if (b->n < (int)(sizeof(b->port) / sizeof(b->port[0])))
		b->port[b->n++] = port;
	for (int i = 0; i < b->nbusy; i++)
		if (b->busy[i] == port)
			return -1;
	return 0;
}

/* A client session as a worker keeps it between register messages. */
struct sess {
	char		id[DB_ID_LEN];
	char		name[DB_NAME_LEN];
	int		registered;
	uint64_t	hist_seq;
	uint32_t	nmappings;
	int32_t		pid;
	uint32_t	widx;
};

/* Makes a session with a 32-hex id derived from n. */
static void
sess_init(struct sess *s, int n, int32_t pid, uint32_t widx)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%032x", n);
	snprintf(s->name, sizeof(s->name), "client%d", n);
	s->pid = pid;
	s->widx = widx;
}

/* Fills a claim the way server/control.c does. */
static void
claim_init(struct db_claim *c, const struct sess *s, uint16_t port,
    const struct portrange *allow, long max_clients, struct binds *b)
{
	memset(c, 0, sizeof(*c));
	c->client.version = DB_RECORD_VERSION;
	db_strlcpy(c->client.id, s->id, sizeof(c->client.id));
	db_strlcpy(c->client.name, s->name, sizeof(c->client.name));
	db_strlcpy(c->client.address, "192.0.2.7:5555", sizeof(c->client.address));
	c->client.connected_since = db_now();
	c->client.last_heartbeat = db_now();
	c->client.worker_pid = s->pid;
	c->client.worker_index = s->widx;
	c->client.nmappings = s->nmappings;
	c->client.hist_seq = s->hist_seq;
	c->new_client = !s->registered;
	c->max_clients = max_clients;
	c->allow = allow;
	c->map.version = DB_RECORD_VERSION;
	c->map.remote_port = port;
	c->map.local_port = 22;
	db_strlcpy(c->map.client_id, s->id, sizeof(c->map.client_id));
	db_strlcpy(c->map.client_name, s->name, sizeof(c->map.client_name));
	db_strlcpy(c->map.name, "ssh", sizeof(c->map.name));
	db_strlcpy(c->map.local_ip, "127.0.0.1", sizeof(c->map.local_ip));
	c->map.worker_pid = s->pid;
	c->map.worker_index = s->widx;
	c->bind = fake_bind;
	c->bind_arg = b;
}

/* Claims a port for s (0: any from allow); returns the port or 0 with *err. */
static uint16_t
claim_full(struct db *d, struct sess *s, uint16_t port,
    const struct portrange *allow, long max_clients, const char *takeover,
    struct binds *b, char *err, int *takeover_worker)
{
	struct db_claim	c;
	struct binds	local;

	if (b == NULL) {
		memset(&local, 0, sizeof(local));
		b = &local;
	}
	claim_init(&c, s, port, allow, max_clients, b);
	c.takeover_id = takeover;
	if (db_claim(d, &c) == -1) {
		ck_assert_msg(c.error[0] != '\0', "failed claim without a reason");
		if (err != NULL)
			snprintf(err, 64, "%s", c.error);
		return 0;
	}
	ck_assert_str_eq(c.error, "");
	if (takeover_worker != NULL)
		*takeover_worker = c.takeover_worker;
	if (!s->registered) {
		s->registered = 1;
		s->hist_seq = c.hist_seq;
	}
	s->nmappings++;
	ck_assert_uint_eq(c.client.nmappings, s->nmappings);
	return c.map.remote_port;
}

/* Claims with defaults (allow 1024-65535, max 1000 clients, no takeover). */
static uint16_t
claim(struct sess *s, uint16_t port, char *err)
{
	static struct portrange	all;
	const char		*perr;

	if (all.n == 0)
		ck_assert_int_eq(portrange_parse("", &all, &perr), 0);
	return claim_full(&db, s, port, &all, 1000, NULL, NULL, err, NULL);
}

/* Reads a record of a table by key; 0 found, -1 absent. */
static int
get_rec(enum db_table t, const void *key, size_t klen, void *out, size_t size)
{
	MDB_txn	*txn;
	MDB_val	 k = { .mv_size = klen, .mv_data = (void *)key }, v;
	int	 rc;

	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	rc = mdb_get(txn, db.dbi[t], &k, &v);
	if (rc == 0 && (t == DB_MAPPINGS || t == DB_CLIENTS ||
	    t == DB_CONNS || t == DB_HIST_SESS || t == DB_HIST_CONN)) {
		/* These records are stored packed (db_rec.c). */
		ck_assert_int_eq(db_rec_load(&v, out, size), 0);
	} else if (rc == 0) {
		ck_assert_uint_eq(v.mv_size, size);
		memcpy(out, v.mv_data, size);
	} else
		ck_assert_int_eq(rc, MDB_NOTFOUND);
	mdb_txn_abort(txn);
	return rc == 0 ? 0 : -1;
}

/* The mapping of a port. */
static int
get_mapping(uint16_t port, struct db_mapping *m)
{
	unsigned char k[2] = { port >> 8, port & 0xff };	/* big endian */

	return get_rec(DB_MAPPINGS, k, 2, m, sizeof(*m));
}

/* The live record of a client. */
static int
get_client(const char *id, struct db_client *c)
{
	return get_rec(DB_CLIENTS, id, strlen(id), c, sizeof(*c));
}

/* A record of a numbered table. */
static int
get_seq(enum db_table t, uint64_t seq, void *out, size_t size)
{
	unsigned char k[8];

	db_key_u64(seq, k);
	return get_rec(t, k, 8, out, size);
}

/* Asserts who owns a port (NULL: nobody). */
static void
assert_owner(uint16_t port, const char *id)
{
	struct db_mapping m;

	if (id == NULL) {
		ck_assert_msg(get_mapping(port, &m) == -1, "port %u still mapped to %s",
		    port, m.client_id);
		return;
	}
	ck_assert_msg(get_mapping(port, &m) == 0, "port %u not mapped", port);
	ck_assert_str_eq(m.client_id, id);
	ck_assert_uint_eq(m.remote_port, port);
}

/* Writes a live connection and an open history record for it. */
static uint64_t
add_conn(uint64_t id, const struct sess *s, uint16_t port)
{
	struct db_conn		c;
	struct db_hist_conn	h;
	MDB_txn			*txn;
	uint64_t		 seq = 0;

	memset(&c, 0, sizeof(c));
	c.version = DB_RECORD_VERSION;
	c.remote_port = port;
	db_strlcpy(c.client_id, s->id, sizeof(c.client_id));
	db_strlcpy(c.peer, "198.51.100.1:40000", sizeof(c.peer));
	c.since = db_now();
	c.worker_pid = s->pid;
	memset(&h, 0, sizeof(h));
	h.version = DB_RECORD_VERSION;
	h.remote_port = port;
	db_strlcpy(h.client_id, s->id, sizeof(h.client_id));
	db_strlcpy(h.peer, c.peer, sizeof(h.peer));
	h.start = c.since;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_conn_put(&db, txn, id, &c), 0);
	ck_assert_int_eq(db_histconn_put(&db, txn, &seq, &h), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_uint_ne(seq, 0);
	return seq;
}

/* Ends a session the way a worker does when its control connection closes. */
static int
end_session(const struct sess *s, const char *reason, const uint16_t *ports,
    size_t n, uint64_t in, uint64_t out)
{
	return db_session_end(&db, s->id, s->hist_seq, reason, in, out, ports, n);
}

/* ---- db.c ---- */

START_TEST(test_open)
{
	struct db	ro;
	char		p[128];
	struct stat	st;

	snprintf(p, sizeof(p), "%s/data.mdb", tmpdir);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	for (int t = 0; t < DB_NTABLES; t++)
		ck_assert_uint_eq(db_count(&db, (enum db_table)t), 0);
	ck_assert_str_eq(db_table_name(DB_MAPPINGS), "mappings");
	ck_assert_str_eq(db_table_name(DB_HIST_SESS), "hist_sess");
	ck_assert_str_eq(db_table_name(DB_META), "meta");
	/* A second handle (as gotunnelctl opens it), read-only. */
	ck_assert_int_eq(db_open(&ro, tmpdir, 1), 0);
	ck_assert_uint_eq(db_count(&ro, DB_CLIENTS), 0);
	db_close(&ro);
	db_close(&ro);				/* twice is harmless */
	/* A data_dir that does not exist yet is created (one level)... */
	snprintf(p, sizeof(p), "%s/sub", tmpdir);
	ck_assert_int_eq(db_open(&ro, p, 0), 0);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	db_close(&ro);
	snprintf(p, sizeof(p), "%s/sub/data.mdb", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub/lock.mdb", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", tmpdir);
	rmdir(p);
	/* ...but read-only opening does not create it, and a file is no directory. */
	snprintf(p, sizeof(p), "%s/nonexistent", tmpdir);
	ck_assert_int_eq(db_open(&ro, p, 1), -1);
	ck_assert_ptr_null(ro.env);
	snprintf(p, sizeof(p), "%s/data.mdb", tmpdir);
	ck_assert_int_eq(db_open(&ro, p, 0), -1);
	ck_assert_ptr_null(ro.env);
}
END_TEST

START_TEST(test_helpers)
{
	static const uint64_t v[] = { 0, 1, 255, 256, 65535, 65536,
	    0x0102030405060708ULL, UINT64_MAX };
	unsigned char	k[8], k2[8];
	MDB_val		mv = { .mv_size = 8, .mv_data = k };
	char		s[8];
	MDB_txn		*txn;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		db_key_u64(v[i], k);
		ck_assert_uint_eq(db_u64_key(&mv), v[i]);
		if (i > 0) {
			db_key_u64(v[i - 1], k2);
			ck_assert_int_lt(memcmp(k2, k, 8), 0);	/* byte order = numeric order */
		}
	}
	db_key_u64(0x0102030405060708ULL, k);
	ck_assert_mem_eq(k, "\1\2\3\4\5\6\7\10", 8);
	mv.mv_size = 7;
	ck_assert_uint_eq(db_u64_key(&mv), 0);
	memset(s, 'X', sizeof(s));
	db_strlcpy(s, "abcdefghij", sizeof(s));
	ck_assert_str_eq(s, "abcdefg");
	db_strlcpy(s, "ab", sizeof(s));
	ck_assert_mem_eq(s, "ab\0\0\0\0\0\0", 8);	/* zero padded: no stale bytes on disk */
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_uint_eq(db_next_seq(txn, db.dbi[DB_HIST_CONN]), 1);
	mdb_txn_abort(txn);
}
END_TEST

/* ---- claims ---- */

START_TEST(test_claim_explicit)
{
	struct sess		 a;
	struct db_mapping	 m;
	struct db_client	 c;
	struct db_hist_session	 hs;
	struct db_claim		 cl;
	struct binds		 b = { 0 };
	struct portrange	 all;
	const char		*perr;
	int64_t			 t0 = db_now();

	ck_assert_int_eq(portrange_parse("", &all, &perr), 0);
	sess_init(&a, 1, 4242, 3);
	claim_init(&cl, &a, 10022, &all, 10, &b);
	ck_assert_int_eq(db_claim(&db, &cl), 0);
	ck_assert_str_eq(cl.error, "");
	ck_assert_int_eq(cl.takeover_worker, -1);
	ck_assert_uint_eq(cl.hist_seq, 1);
	ck_assert_uint_eq(cl.map.remote_port, 10022);
	ck_assert_int_eq(b.n, 1);			/* bound once, that port */
	ck_assert_uint_eq(b.port[0], 10022);

	ck_assert_int_eq(get_mapping(10022, &m), 0);
	ck_assert_uint_eq(m.version, DB_RECORD_VERSION);
	ck_assert_uint_eq(m.remote_port, 10022);
	ck_assert_uint_eq(m.local_port, 22);
	ck_assert_str_eq(m.client_id, a.id);
	ck_assert_str_eq(m.client_name, "client1");
	ck_assert_str_eq(m.name, "ssh");
	ck_assert_str_eq(m.local_ip, "127.0.0.1");
	ck_assert_int_ge(m.since, t0);
	ck_assert_int_le(m.since, db_now());
	ck_assert_int_eq(m.worker_pid, 4242);
	ck_assert_uint_eq(m.worker_index, 3);

	ck_assert_int_eq(get_client(a.id, &c), 0);
	ck_assert_str_eq(c.id, a.id);
	ck_assert_str_eq(c.name, "client1");
	ck_assert_str_eq(c.address, "192.0.2.7:5555");
	ck_assert_uint_eq(c.nmappings, 1);
	ck_assert_uint_eq(c.hist_seq, 1);
	ck_assert_int_eq(c.worker_pid, 4242);

	ck_assert_int_eq(get_seq(DB_HIST_SESS, 1, &hs, sizeof(hs)), 0);
	ck_assert_str_eq(hs.client_id, a.id);
	ck_assert_str_eq(hs.name, "client1");
	ck_assert_str_eq(hs.address, "192.0.2.7:5555");
	ck_assert_int_ge(hs.start, t0);
	ck_assert_int_eq(hs.end, 0);			/* online */
	ck_assert_str_eq(hs.reason, "");
	ck_assert_str_eq(hs.ports, "10022");
	ck_assert_uint_eq(hs.nmappings, 1);

	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 1);
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS), 1);
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS), 1);
}
END_TEST

/* Several mappings of one session: one client record, one history record. */
START_TEST(test_claim_second_mapping)
{
	struct sess		a;
	struct db_client	c;
	struct db_hist_session	hs;

	sess_init(&a, 1, 100, 0);
	ck_assert_uint_eq(claim(&a, 10022, NULL), 10022);
	ck_assert_uint_eq(claim(&a, 10080, NULL), 10080);
	ck_assert_uint_eq(claim(&a, 10443, NULL), 10443);
	ck_assert_int_eq(get_client(a.id, &c), 0);
	ck_assert_uint_eq(c.nmappings, 3);
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS), 1);
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS), 1);
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 3);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, a.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_str_eq(hs.ports, "10022,10080,10443");
	ck_assert_uint_eq(hs.nmappings, 3);
	assert_owner(10022, a.id);
	assert_owner(10080, a.id);
	assert_owner(10443, a.id);
}
END_TEST

/* remote_port 0: a free port of allow_ports, never a taken or busy one. */
START_TEST(test_claim_auto)
{
	struct sess		 a, b;
	struct portrange	 pr;
	struct binds		 bd = { .busy = { 20003, 20007 }, .nbusy = 2 };
	const char		*perr;
	char			 err[64] = "";
	int			 seen[10] = { 0 };

	ck_assert_int_eq(portrange_parse("20000-20009", &pr, &perr), 0);
	sess_init(&a, 1, 100, 0);
	sess_init(&b, 2, 100, 0);
	/* b holds 20000 explicitly: never offered to a, never bound again. */
	ck_assert_uint_eq(claim_full(&db, &b, 20000, &pr, 10, NULL, NULL, NULL, NULL), 20000);
	for (int i = 0; i < 7; i++) {
		uint16_t p;

		bd.n = 0;
		p = claim_full(&db, &a, 0, &pr, 10, NULL, &bd, err, NULL);
		ck_assert_msg(p != 0, "claim %d: %s", i, err);
		ck_assert(p >= 20001 && p <= 20009 && p != 20003 && p != 20007);
		ck_assert_int_eq(seen[p - 20000]++, 0);		/* distinct */
		assert_owner(p, a.id);
		/* Only busy ports were tried before it; taken ones never. */
		ck_assert_int_ge(bd.n, 1);
		ck_assert_uint_eq(bd.port[bd.n - 1], p);
		for (int j = 0; j < bd.n - 1; j++)
			ck_assert(bd.port[j] == 20003 || bd.port[j] == 20007);
	}
	/* Range used up (7 free + 2 busy + 1 taken): a clear error. */
	bd.n = 0;
	ck_assert_uint_eq(claim_full(&db, &a, 0, &pr, 10, NULL, &bd, err, NULL), 0);
	ck_assert_str_eq(err, "no free port in allow_ports");
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 8);
	ck_assert_int_eq(bd.n, 2);		/* tried just the two busy ones */
}
END_TEST

/* A port held by another live session: "port in use", nothing written. */
START_TEST(test_port_in_use)
{
	struct sess		 a, b;
	struct binds		 bd = { .busy = { 10023 }, .nbusy = 1 };
	struct portrange	 all;
	const char		*perr;
	char			 err[64] = "";
	struct db_client	 c;

	ck_assert_int_eq(portrange_parse("", &all, &perr), 0);
	sess_init(&a, 1, 100, 0);
	sess_init(&b, 2, 100, 0);
	ck_assert_uint_eq(claim(&a, 10022, NULL), 10022);
	ck_assert_uint_eq(claim_full(&db, &b, 10022, &all, 10, NULL, &bd, err, NULL), 0);
	ck_assert_str_eq(err, "port in use");
	ck_assert_int_eq(bd.n, 0);			/* the table decided, no bind */
	assert_owner(10022, a.id);
	ck_assert_int_eq(get_client(b.id, &c), -1);	/* no half-registered client */
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS), 1);
	/* Busy for the OS (bind fails): the same answer, nothing written. */
	err[0] = '\0';
	ck_assert_uint_eq(claim_full(&db, &b, 10023, &all, 10, NULL, &bd, err, NULL), 0);
	ck_assert_str_eq(err, "port in use");
	ck_assert_int_eq(bd.n, 1);
	assert_owner(10023, NULL);
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS), 1);
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 1);
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS), 1);
	/* A session's own port is "in use" for a second mapping too. */
	ck_assert_uint_eq(claim(&a, 10022, err), 0);
	ck_assert_str_eq(err, "port in use");
}
END_TEST

/* A failed claim of a registered session leaves its records as they were. */
START_TEST(test_failed_claim_keeps_session)
{
	struct sess		a, b;
	struct db_client	c;
	struct db_hist_session	hs;
	char			err[64];

	sess_init(&a, 1, 100, 0);
	sess_init(&b, 2, 100, 0);
	ck_assert_uint_eq(claim(&a, 10022, NULL), 10022);
	ck_assert_uint_eq(claim(&b, 10023, NULL), 10023);
	ck_assert_uint_eq(claim(&a, 10023, err), 0);
	ck_assert_str_eq(err, "port in use");
	ck_assert_int_eq(get_client(a.id, &c), 0);
	ck_assert_uint_eq(c.nmappings, 1);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, a.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_str_eq(hs.ports, "10022");
	ck_assert_uint_eq(hs.nmappings, 1);
	ck_assert_uint_eq(claim(&a, 10024, NULL), 10024);	/* still usable */
}
END_TEST

/* A reconnecting client names its previous session and takes its ports over. */
START_TEST(test_takeover)
{
	struct sess		 old, new, other;
	struct portrange	 all;
	const char		*perr;
	const uint16_t		 ports[] = { 10022, 10080 };
	struct db_hist_session	 hs;
	struct db_client	 c;
	char			 err[64];
	int			 tw = -2;

	ck_assert_int_eq(portrange_parse("", &all, &perr), 0);
	sess_init(&old, 1, 100, 3);
	sess_init(&new, 2, 200, 1);
	sess_init(&other, 3, 200, 1);
	ck_assert_uint_eq(claim(&old, 10022, NULL), 10022);
	ck_assert_uint_eq(claim(&old, 10080, NULL), 10080);
	ck_assert_uint_eq(claim(&other, 10030, NULL), 10030);

	ck_assert_uint_eq(claim_full(&db, &new, 10022, &all, 10, old.id, NULL, err, &tw), 10022);
	ck_assert_int_eq(tw, 3);			/* the worker to tell */
	assert_owner(10022, new.id);
	ck_assert_uint_eq(claim_full(&db, &new, 10080, &all, 10, old.id, NULL, err, &tw), 10080);
	assert_owner(10080, new.id);
	/* Takeover is no key to somebody else's port. */
	ck_assert_uint_eq(claim_full(&db, &new, 10030, &all, 10, old.id, NULL, err, &tw), 0);
	ck_assert_str_eq(err, "port in use");
	assert_owner(10030, other.id);

	/* The old session ends afterwards: its ports stay with the new one. */
	ck_assert_int_eq(end_session(&old, "replaced by a new session", ports, 2, 5, 6), 0);
	assert_owner(10022, new.id);
	assert_owner(10080, new.id);
	ck_assert_int_eq(get_client(old.id, &c), -1);
	ck_assert_int_eq(get_client(new.id, &c), 0);
	ck_assert_uint_eq(c.nmappings, 2);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, old.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_str_eq(hs.reason, "replaced by a new session");
	ck_assert_int_ne(hs.end, 0);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, new.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_int_eq(hs.end, 0);
	ck_assert_str_eq(hs.ports, "10022,10080");
}
END_TEST

/* An unknown previous id is no error: a plain claim, no worker to tell. */
START_TEST(test_takeover_unknown)
{
	struct sess		 a;
	struct portrange	 all;
	const char		*perr;
	int			 tw = -2;

	ck_assert_int_eq(portrange_parse("", &all, &perr), 0);
	sess_init(&a, 1, 100, 0);
	ck_assert_uint_eq(claim_full(&db, &a, 10022, &all, 10,
	    "ffffffffffffffffffffffffffffffff", NULL, NULL, &tw), 10022);
	ck_assert_int_eq(tw, -1);
	assert_owner(10022, a.id);
}
END_TEST

/* max_clients counts sessions, not mappings; a takeover replaces one. */
START_TEST(test_too_many_clients)
{
	struct sess		 a, b, c, d;
	struct portrange	 all;
	const char		*perr;
	char			 err[64] = "";
	struct db_client	 rec;
	const uint16_t		 pa[] = { 10001, 10011 };

	ck_assert_int_eq(portrange_parse("", &all, &perr), 0);
	sess_init(&a, 1, 100, 0);
	sess_init(&b, 2, 100, 0);
	sess_init(&c, 3, 100, 0);
	sess_init(&d, 4, 100, 0);
	ck_assert_uint_eq(claim_full(&db, &a, 10001, &all, 2, NULL, NULL, err, NULL), 10001);
	ck_assert_uint_eq(claim_full(&db, &b, 10002, &all, 2, NULL, NULL, err, NULL), 10002);
	ck_assert_uint_eq(claim_full(&db, &c, 10003, &all, 2, NULL, NULL, err, NULL), 0);
	ck_assert_str_eq(err, "too many clients");
	ck_assert_int_eq(get_client(c.id, &rec), -1);
	assert_owner(10003, NULL);
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS), 2);
	/* More mappings of a registered client are fine at the limit. */
	ck_assert_uint_eq(claim_full(&db, &a, 10011, &all, 2, NULL, NULL, err, NULL), 10011);
	/* A reconnect that takes over a's session fits too. */
	ck_assert_uint_eq(claim_full(&db, &c, 10003, &all, 2, a.id, NULL, err, NULL), 10003);
	ck_assert_int_eq(end_session(&a, "replaced", pa, 2, 0, 0), 0);
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS), 2);
	assert_owner(10011, NULL);			/* released with a */
	/* And the limit holds again. */
	ck_assert_uint_eq(claim_full(&db, &d, 10004, &all, 2, NULL, NULL, err, NULL), 0);
	ck_assert_str_eq(err, "too many clients");
}
END_TEST

/* Ending a session removes its client, its own ports and conns, closes its history. */
START_TEST(test_session_end)
{
	struct sess		a, b;
	const uint16_t		ports[] = { 10022, 10023, 10099 };
	struct db_hist_session	hs;
	struct db_client	c;
	struct db_conn		conn;
	unsigned char		k[8];
	int64_t			t0 = db_now();

	sess_init(&a, 1, 100, 0);
	sess_init(&b, 2, 100, 0);
	ck_assert_uint_eq(claim(&a, 10022, NULL), 10022);
	ck_assert_uint_eq(claim(&b, 10023, NULL), 10023);
	add_conn(1, &a, 10022);
	add_conn(2, &b, 10023);
	add_conn(3, &a, 10022);
	/* a's worker lists 10023 too (stale): b's port must survive. */
	ck_assert_int_eq(end_session(&a, "heartbeat timeout", ports, 3, 1000, 2000), 0);
	assert_owner(10022, NULL);
	assert_owner(10023, b.id);
	ck_assert_int_eq(get_client(a.id, &c), -1);
	ck_assert_int_eq(get_client(b.id, &c), 0);
	ck_assert_uint_eq(db_count(&db, DB_CONNS), 1);
	db_key_u64(2, k);
	ck_assert_int_eq(get_rec(DB_CONNS, k, 8, &conn, sizeof(conn)), 0);
	ck_assert_str_eq(conn.client_id, b.id);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, a.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_int_ge(hs.end, t0);
	ck_assert_int_ge(hs.end, hs.start);
	ck_assert_str_eq(hs.reason, "heartbeat timeout");
	ck_assert_uint_eq(hs.bytes_in, 1000);
	ck_assert_uint_eq(hs.bytes_out, 2000);
	/* A second end (kick racing a close) does not rewrite history. */
	ck_assert_int_eq(end_session(&a, "kicked", ports, 1, 9, 9), 0);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, a.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_str_eq(hs.reason, "heartbeat timeout");
	ck_assert_uint_eq(hs.bytes_in, 1000);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, b.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_int_eq(hs.end, 0);
	/* The released port is free for the next client. */
	ck_assert_uint_eq(claim(&b, 10022, NULL), 10022);
	/* hist_seq 0 (never registered) only removes live rows. */
	ck_assert_int_eq(db_session_end(&db, "nobody", 0, "x", 0, 0, NULL, 0), 0);
}
END_TEST

/* Counter updates touch only records that are still there and still theirs. */
START_TEST(test_updates)
{
	struct sess		 a, b;
	struct db_client	 c;
	struct db_mapping	 m;
	MDB_txn			*txn;

	sess_init(&a, 1, 100, 0);
	sess_init(&b, 2, 100, 0);
	ck_assert_uint_eq(claim(&a, 10022, NULL), 10022);
	memset(&c, 0, sizeof(c));
	db_strlcpy(c.id, a.id, sizeof(c.id));
	c.last_heartbeat = 77;
	c.bytes_in = 5;
	c.bytes_out = 6;
	c.live_conns = 2;
	memset(&m, 0, sizeof(m));
	m.remote_port = 10022;
	db_strlcpy(m.client_id, a.id, sizeof(m.client_id));
	m.bytes_in = 8;
	m.total_conns = 9;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_client_update(&db, txn, &c), 0);
	ck_assert_int_eq(db_mapping_update(&db, txn, &m), 0);
	/* b is not in the table and does not own 10022: nothing changes. */
	db_strlcpy(c.id, b.id, sizeof(c.id));
	ck_assert_int_eq(db_client_update(&db, txn, &c), 0);
	db_strlcpy(m.client_id, b.id, sizeof(m.client_id));
	m.bytes_in = 999;
	ck_assert_int_eq(db_mapping_update(&db, txn, &m), 0);
	ck_assert_int_eq(db_conn_del(&db, txn, 12345), 0);	/* absent is fine */
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_int_eq(get_client(a.id, &c), 0);
	ck_assert_int_eq(c.last_heartbeat, 77);
	ck_assert_uint_eq(c.bytes_out, 6);
	ck_assert_uint_eq(c.live_conns, 2);
	ck_assert_uint_eq(c.nmappings, 1);		/* untouched */
	ck_assert_str_eq(c.name, "client1");
	ck_assert_int_eq(get_client(b.id, &c), -1);
	ck_assert_int_eq(get_mapping(10022, &m), 0);
	ck_assert_str_eq(m.client_id, a.id);
	ck_assert_uint_eq(m.bytes_in, 8);
	ck_assert_uint_eq(m.total_conns, 9);
	ck_assert_uint_eq(m.local_port, 22);		/* untouched */
	/* conn put / del */
	add_conn(7, &a, 10022);
	ck_assert_uint_eq(db_count(&db, DB_CONNS), 1);
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_conn_del(&db, txn, 7), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_uint_eq(db_count(&db, DB_CONNS), 0);
}
END_TEST

/* ---- two processes ---- */

#define RACE_PORTS	50

/*
 * One racing worker: opens its own environment (after fork), waits at the
 * barrier, claims every port; exits with the number it won, 255 on error.
 */
static void
race_child(int n, int gate, int auto_port)
{
	struct db		 d;
	struct sess		 s;
	struct portrange	 pr;
	struct binds		 b;
	const char		*perr;
	char			 err[64], c;
	int			 won = 0;

	alarm(20);
	if (db_open(&d, tmpdir, 0) != 0)
		_exit(255);
	if (portrange_parse("30000-30049", &pr, &perr) != 0)
		_exit(255);
	sess_init(&s, n, getpid(), (uint32_t)n);
	memset(&b, 0, sizeof(b));
	b.delay_us = 200;		/* widen the window inside the transaction */
	if (read(gate, &c, 1) != 1)
		_exit(255);
	for (int i = 0; i < (auto_port ? RACE_PORTS / 2 : RACE_PORTS); i++) {
		uint16_t	port = auto_port ? 0 : (uint16_t)(30000 + i);
		uint16_t	got;

		b.n = 0;
		got = claim_full(&d, &s, port, &pr, 100, NULL, &b, err, NULL);
		if (got != 0)
			won++;
		else if (strcmp(err, "port in use") != 0)
			_exit(255);
	}
	db_close(&d);
	_exit(won);
}

/* Forks two racing workers; returns their exit codes. */
static void
race(int auto_port, int status[2])
{
	int	gate[2];
	pid_t	pid[2];

	/* Nothing LMDB-related crosses a fork: the parent lets go of its handle. */
	db_close(&db);
	ck_assert_int_eq(pipe(gate), 0);
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		ck_assert_int_ne(pid[i], -1);
		if (pid[i] == 0) {
			close(gate[1]);
			race_child(i + 1, gate[0], auto_port);
		}
	}
	close(gate[0]);
	ck_assert_int_eq(write(gate[1], "go", 2), 2);	/* both start at once */
	close(gate[1]);
	for (int i = 0; i < 2; i++) {
		int st;

		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		ck_assert_msg(WIFEXITED(st), "racer %d died", i + 1);
		status[i] = WEXITSTATUS(st);
		ck_assert_msg(status[i] != 255, "racer %d failed", i + 1);
	}
	ck_assert_int_eq(db_open(&db, tmpdir, 0), 0);
}

/* The same ports claimed from two processes at once: exactly one wins each. */
START_TEST(test_concurrent_claim)
{
	int		won[2], owned[2] = { 0, 0 };
	struct sess	s1, s2;

	race(0, won);
	ck_assert_int_eq(won[0] + won[1], RACE_PORTS);
	sess_init(&s1, 1, 0, 0);
	sess_init(&s2, 2, 0, 0);
	for (int i = 0; i < RACE_PORTS; i++) {
		struct db_mapping m;

		ck_assert_int_eq(get_mapping((uint16_t)(30000 + i), &m), 0);
		if (strcmp(m.client_id, s1.id) == 0)
			owned[0]++;
		else if (strcmp(m.client_id, s2.id) == 0)
			owned[1]++;
		else
			ck_abort_msg("port %d owned by %s", 30000 + i, m.client_id);
	}
	/* What each process was told matches the table. */
	ck_assert_int_eq(owned[0], won[0]);
	ck_assert_int_eq(owned[1], won[1]);
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), RACE_PORTS);
	/* A client record only for a process that won something. */
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS),
	    (size_t)((won[0] > 0) + (won[1] > 0)));
}
END_TEST

/* Two processes picking ports (remote_port 0) from one range never collide. */
START_TEST(test_concurrent_auto)
{
	int won[2];

	race(1, won);
	ck_assert_int_eq(won[0], RACE_PORTS / 2);
	ck_assert_int_eq(won[1], RACE_PORTS / 2);
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), RACE_PORTS);	/* all distinct */
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS), 2);
}
END_TEST

/* ---- history ---- */

/* Session history: appended in order, closed with a reason, kept across reopen. */
START_TEST(test_hist_sessions)
{
	struct sess		 s[3];
	const char		*why[3] = { "closed by client", "kicked", "heartbeat timeout" };
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	uint64_t		 expect = 1;

	for (int i = 0; i < 3; i++) {
		uint16_t port = (uint16_t)(10100 + i);

		sess_init(&s[i], i + 1, 100, 0);
		ck_assert_uint_eq(claim(&s[i], port, NULL), port);
		ck_assert_uint_eq(s[i].hist_seq, (uint64_t)i + 1);
	}
	for (int i = 2; i >= 0; i--) {
		uint16_t port = (uint16_t)(10100 + i);

		ck_assert_int_eq(end_session(&s[i], why[i], &port, 1, (uint64_t)i, 0), 0);
	}
	db_close(&db);
	ck_assert_int_eq(db_open(&db, tmpdir, 1), 0);	/* "restart", read-only reader */
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, db.dbi[DB_HIST_SESS], &cur), 0);
	for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
		struct db_hist_session hs;

		ck_assert_uint_eq(db_u64_key(&k), expect);
		ck_assert_uint_lt(v.mv_size, sizeof(hs));	/* packed */
		ck_assert_int_eq(db_rec_hist_sess(&v, &hs), 0);
		ck_assert_str_eq(hs.client_id, s[expect - 1].id);
		ck_assert_str_eq(hs.reason, why[expect - 1]);
		ck_assert_int_ne(hs.end, 0);
		ck_assert_uint_eq(hs.bytes_in, expect - 1);
		expect++;
	}
	ck_assert_uint_eq(expect, 4);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS), 0);
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 0);
}
END_TEST

/* Connection history: append (seq 0 -> next), rewrite (same seq), time order. */
/*
 * A full map (MDB_MAP_FULL, here a 256 KiB map): the commit reports it and
 * grows the map, the failed transaction leaves nothing behind, and the
 * same batch written again fits.
 */
START_TEST(test_map_full_grows)
{
	struct db_hist_conn	 h;
	MDB_envinfo		 info;
	MDB_txn			*txn;
	MDB_stat		 st;
	uint64_t		 seq;
	size_t			 before;
	int			 rc = 0, i;

	ck_assert_int_eq(mdb_env_set_mapsize(db.env, 256 * 1024), 0);
	mdb_env_info(db.env, &info);
	before = info.me_mapsize;
	/* No zero bytes: stored as it is (db_rec.c packs zero runs). */
	memset(&h, 0x5a, sizeof(h));
	h.version = DB_RECORD_VERSION;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	for (i = 0; i < 4000 && rc == 0; i++) {
		seq = 0;
		rc = db_histconn_put(&db, txn, &seq, &h);
	}
	ck_assert_int_eq(rc, MDB_MAP_FULL);
	ck_assert_int_eq(db_txn_commit(&db, txn), MDB_MAP_FULL);
	mdb_env_info(db.env, &info);
	ck_assert_uint_gt(info.me_mapsize, before);
	/* Nothing of the failed batch is on disk. */
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(mdb_stat(txn, db.dbi[DB_HIST_CONN], &st), 0);
	ck_assert_uint_eq(st.ms_entries, 0);
	mdb_txn_abort(txn);
	/* The retry of a smaller batch (what flush_now does) fits. */
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	for (i = 0; i < 200; i++) {
		seq = 0;
		ck_assert_int_eq(db_histconn_put(&db, txn, &seq, &h), 0);
	}
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(mdb_stat(txn, db.dbi[DB_HIST_CONN], &st), 0);
	ck_assert_uint_eq(st.ms_entries, 200);
	mdb_txn_abort(txn);
}
END_TEST

START_TEST(test_histconn)
{
	struct db_hist_conn	 h, got;
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	uint64_t		 seq1 = 0, seq2 = 0, seq, prev = 0;
	size_t			 n = 0;

	memset(&h, 0, sizeof(h));
	h.version = DB_RECORD_VERSION;
	h.remote_port = 10022;
	db_strlcpy(h.peer, "203.0.113.5:40112", sizeof(h.peer));
	h.start = 1000;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_histconn_put(&db, txn, &seq1, &h), 0);
	ck_assert_int_eq(db_histconn_put(&db, txn, &seq2, &h), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_uint_eq(seq1, 1);
	ck_assert_uint_eq(seq2, 2);
	/* The connection ends: its record is rewritten, not appended. */
	h.end = 1005;
	h.bytes_in = 123;
	h.bytes_out = 456;
	db_strlcpy(h.reason, "closed", sizeof(h.reason));
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	seq = seq1;
	ck_assert_int_eq(db_histconn_put(&db, txn, &seq, &h), 0);
	ck_assert_uint_eq(seq, seq1);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_uint_eq(db_count(&db, DB_HIST_CONN), 2);
	ck_assert_int_eq(get_seq(DB_HIST_CONN, 1, &got, sizeof(got)), 0);
	ck_assert_int_eq(got.end, 1005);
	ck_assert_uint_eq(got.bytes_in, 123);
	ck_assert_uint_eq(got.bytes_out, 456);
	ck_assert_str_eq(got.reason, "closed");
	ck_assert_str_eq(got.peer, "203.0.113.5:40112");
	ck_assert_int_eq(get_seq(DB_HIST_CONN, 2, &got, sizeof(got)), 0);
	ck_assert_int_eq(got.end, 0);
	/* A batch of 300 in one transaction (past the 255/256 key boundary). */
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	for (int i = 0; i < 300; i++) {
		seq = 0;
		h.start = 2000 + i;
		ck_assert_int_eq(db_histconn_put(&db, txn, &seq, &h), 0);
		ck_assert_uint_eq(seq, (uint64_t)i + 3);
	}
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	/* Survives a reopen; cursor order is append order. */
	db_close(&db);
	ck_assert_int_eq(db_open(&db, tmpdir, 0), 0);
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, db.dbi[DB_HIST_CONN], &cur), 0);
	for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
		seq = db_u64_key(&k);
		ck_assert_uint_eq(seq, prev + 1);
		ck_assert_int_eq(db_rec_hist_conn(&v, &got), 0);
		if (seq >= 3)
			ck_assert_int_eq(got.start, 2000 + (int64_t)seq - 3);
		prev = seq;
		n++;
	}
	ck_assert_uint_eq(n, 302);
	/* The newest first, as the console pages it. */
	ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_LAST), 0);
	ck_assert_uint_eq(db_u64_key(&k), 302);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
}
END_TEST

/* Stats: one bucket per minute, adds accumulate, gauges are sampled. */
START_TEST(test_stats)
{
	struct db_stats	 s;
	MDB_txn		*txn;
	const int64_t	 t = 1700000000;	/* minute 28333333, 20 s in */

	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_stats_add(&db, txn, t, 100, 200, 1), 0);
	ck_assert_int_eq(db_stats_add(&db, txn, t + 39, 1, 2, 3), 0);	/* same minute */
	ck_assert_int_eq(db_stats_add(&db, txn, t + 40, 7, 8, 9), 0);	/* next minute */
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_uint_eq(db_count(&db, DB_STATS), 2);
	ck_assert_int_eq(get_seq(DB_STATS, (uint64_t)t / 60, &s, sizeof(s)), 0);
	ck_assert_uint_eq(s.version, DB_RECORD_VERSION);
	ck_assert_uint_eq(s.bytes_in, 101);
	ck_assert_uint_eq(s.bytes_out, 202);
	ck_assert_uint_eq(s.new_conns, 4);
	ck_assert_int_eq(get_seq(DB_STATS, (uint64_t)t / 60 + 1, &s, sizeof(s)), 0);
	ck_assert_uint_eq(s.bytes_in, 7);
	ck_assert_uint_eq(s.new_conns, 9);
}
END_TEST

START_TEST(test_stats_sample)
{
	struct sess	a, b;
	struct db_stats	s;
	int64_t		now;

	sess_init(&a, 1, 100, 0);
	sess_init(&b, 2, 100, 0);
	ck_assert_uint_eq(claim(&a, 10022, NULL), 10022);
	ck_assert_uint_eq(claim(&b, 10023, NULL), 10023);
	add_conn(1, &a, 10022);
	now = db_now();
	ck_assert_int_eq(db_stats_sample(&db), 0);
	if (db_now() / 60 != now / 60)		/* crossed a minute: read the new one */
		now = db_now();
	ck_assert_int_eq(get_seq(DB_STATS, (uint64_t)now / 60, &s, sizeof(s)), 0);
	ck_assert_uint_eq(s.online_clients, 2);
	ck_assert_uint_eq(s.active_conns, 1);
}
END_TEST

/* ---- housekeeping ---- */

/* Two workers' worth of live state: a on pid 111, b on pid 222. */
static void
two_workers(struct sess *a, struct sess *b, uint64_t *ha, uint64_t *hb,
    uint64_t *hdone)
{
	struct db_hist_conn	 h;
	MDB_txn			*txn;

	sess_init(a, 1, 111, 0);
	sess_init(b, 2, 222, 1);
	ck_assert_uint_eq(claim(a, 10022, NULL), 10022);
	ck_assert_uint_eq(claim(a, 10080, NULL), 10080);
	ck_assert_uint_eq(claim(b, 10023, NULL), 10023);
	*ha = add_conn(1, a, 10022);
	*hb = add_conn(2, b, 10023);
	/* A finished connection's record. */
	memset(&h, 0, sizeof(h));
	h.version = DB_RECORD_VERSION;
	db_strlcpy(h.client_id, a->id, sizeof(h.client_id));
	h.start = 10;
	h.end = 20;
	db_strlcpy(h.reason, "closed", sizeof(h.reason));
	*hdone = 0;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_histconn_put(&db, txn, hdone, &h), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
}

/* Master start after a crash: every live row goes, open history is closed. */
START_TEST(test_clear_live)
{
	struct sess		a, b;
	uint64_t		ha, hb, hdone;
	struct db_hist_session	hs;
	struct db_hist_conn	h;

	two_workers(&a, &b, &ha, &hb, &hdone);
	ck_assert_int_eq(db_clear_live(&db, "master restarted"), 0);
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 0);
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS), 0);
	ck_assert_uint_eq(db_count(&db, DB_CONNS), 0);
	ck_assert_uint_eq(db_count(&db, DB_HIST_SESS), 2);
	ck_assert_uint_eq(db_count(&db, DB_HIST_CONN), 3);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, a.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_int_ne(hs.end, 0);
	ck_assert_str_eq(hs.reason, "master restarted");
	ck_assert_int_eq(get_seq(DB_HIST_SESS, b.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_int_ne(hs.end, 0);
	ck_assert_str_eq(hs.reason, "master restarted");
	ck_assert_int_eq(get_seq(DB_HIST_CONN, ha, &h, sizeof(h)), 0);
	ck_assert_int_ne(h.end, 0);
	ck_assert_str_eq(h.reason, "master restarted");
	ck_assert_int_eq(get_seq(DB_HIST_CONN, hb, &h, sizeof(h)), 0);
	ck_assert_int_ne(h.end, 0);
	ck_assert_int_eq(get_seq(DB_HIST_CONN, hdone, &h, sizeof(h)), 0);
	ck_assert_int_eq(h.end, 20);			/* finished ones untouched */
	ck_assert_str_eq(h.reason, "closed");
	/* Idempotent, and fine on an empty table. */
	ck_assert_int_eq(db_clear_live(&db, "again"), 0);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, a.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_str_eq(hs.reason, "master restarted");
	/* The ports are free again. */
	ck_assert_uint_eq(claim(&b, 10022, NULL), 10022);
}
END_TEST

/* A dead worker: only its rows go, its sessions' history is closed. */
START_TEST(test_clear_worker)
{
	struct sess		a, b;
	uint64_t		ha, hb, hdone;
	struct db_hist_session	hs;
	struct db_client	c;

	two_workers(&a, &b, &ha, &hb, &hdone);
	ck_assert_int_eq(db_clear_worker(&db, 111, "worker died"), 0);
	assert_owner(10022, NULL);
	assert_owner(10080, NULL);
	assert_owner(10023, b.id);
	ck_assert_int_eq(get_client(a.id, &c), -1);
	ck_assert_int_eq(get_client(b.id, &c), 0);
	ck_assert_uint_eq(db_count(&db, DB_CONNS), 1);
	ck_assert_int_eq(get_seq(DB_HIST_SESS, a.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_int_ne(hs.end, 0);
	ck_assert_str_eq(hs.reason, "worker died");
	ck_assert_int_eq(get_seq(DB_HIST_SESS, b.hist_seq, &hs, sizeof(hs)), 0);
	ck_assert_int_eq(hs.end, 0);
	ck_assert_str_eq(hs.reason, "");
	/* Another pid with no rows: nothing changes. */
	ck_assert_int_eq(db_clear_worker(&db, 333, "worker died"), 0);
	assert_owner(10023, b.id);
	ck_assert_uint_eq(db_count(&db, DB_CLIENTS), 1);
	/* A new session on the restarted worker can have the ports. */
	ck_assert_uint_eq(claim(&b, 10022, NULL), 10022);
}
END_TEST

/*
 * The dead worker's open connection records are closed too: its public
 * connections died with it, so history must not show them as ongoing.
 */
START_TEST(test_clear_worker_closes_conn_history)
{
	struct sess		a, b;
	uint64_t		ha, hb, hdone;
	struct db_hist_conn	h;

	two_workers(&a, &b, &ha, &hb, &hdone);
	ck_assert_int_eq(db_clear_worker(&db, 111, "worker died"), 0);
	ck_assert_int_eq(get_seq(DB_HIST_CONN, hb, &h, sizeof(h)), 0);
	ck_assert_int_eq(h.end, 0);			/* b's worker is alive */
	ck_assert_int_eq(get_seq(DB_HIST_CONN, ha, &h, sizeof(h)), 0);
	ck_assert_msg(h.end != 0 && strcmp(h.reason, "worker died") == 0,
	    "connection history of dead worker 111 left open (end %lld, reason '%s')",
	    (long long)h.end, h.reason);
}
END_TEST

/* Counts the outbox's records and returns the last key (0 if empty). */
static size_t
outbox_count(uint64_t *last)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 n = 0;

	*last = 0;
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, db.dbi[DB_OUTBOX], &cur), 0);
	for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
		ck_assert_uint_eq(v.mv_size, sizeof(struct db_outbox));
		*last = db_u64_key(&k);
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

/* Cluster mode's outbox: off by default, one copy per finished record,
 * sequence numbers never reused after the master empties it, stable origin. */
START_TEST(test_outbox)
{
	struct db_hist_conn	 h;
	struct db_outbox	 o;
	MDB_txn			*txn;
	MDB_val			 k, v;
	uint64_t		 last;
	char			 o1[40], o2[40];

	memset(&h, 0, sizeof(h));
	db_strlcpy(h.peer, "192.0.2.1:5000", sizeof(h.peer));
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_outbox_put(&db, txn, DB_OUTBOX_CONN, &h, sizeof(h)), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_uint_eq(outbox_count(&last), 0);	/* not in cluster mode */

	db.outbox = 1;
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_outbox_put(&db, txn, DB_OUTBOX_CONN, &h, sizeof(h)), 0);
	ck_assert_int_eq(db_outbox_put(&db, txn, DB_OUTBOX_CONN, &h, sizeof(h)), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_uint_eq(outbox_count(&last), 2);
	ck_assert_uint_eq(last, 2);
	/* The record is a copy of what was finished. */
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	{
		MDB_cursor *cur;

		ck_assert_int_eq(mdb_cursor_open(txn, db.dbi[DB_OUTBOX], &cur), 0);
		ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
		memcpy(&o, v.mv_data, sizeof(o));
		ck_assert_uint_eq(o.kind, DB_OUTBOX_CONN);
		ck_assert_str_eq(o.u.conn.peer, "192.0.2.1:5000");
		/* The master empties it ... */
		while (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0)
			ck_assert_int_eq(mdb_cursor_del(cur, 0), 0);
		mdb_cursor_close(cur);
	}
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	/* ... and the next record still gets a new number. */
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_outbox_put(&db, txn, DB_OUTBOX_CONN, &h, sizeof(h)), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_uint_eq(outbox_count(&last), 1);
	ck_assert_uint_eq(last, 3);
	/* A record that cannot fit is refused, not cut. */
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_outbox_put(&db, txn, DB_OUTBOX_CONN, &h,
	    sizeof(o.u) + 1), -1);
	mdb_txn_abort(txn);

	ck_assert_int_eq(db_outbox_origin(&db, o1, sizeof(o1)), 0);
	ck_assert_int_eq(db_outbox_origin(&db, o2, sizeof(o2)), 0);
	ck_assert_uint_eq(strlen(o1), 24);
	ck_assert_str_eq(o1, o2);
}
END_TEST

Suite *
suite_db(void)
{
	Suite	*s = suite_create("db");
	TCase	*tb = tcase_create("env");
	TCase	*tc = tcase_create("claim");
	TCase	*tr = tcase_create("race");
	TCase	*th = tcase_create("history");

	tcase_add_checked_fixture(tb, setup, teardown);
	tcase_set_timeout(tb, 20);
	tcase_add_test(tb, test_open);
	tcase_add_test(tb, test_helpers);
	suite_add_tcase(s, tb);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_claim_explicit);
	tcase_add_test(tc, test_claim_second_mapping);
	tcase_add_test(tc, test_claim_auto);
	tcase_add_test(tc, test_port_in_use);
	tcase_add_test(tc, test_failed_claim_keeps_session);
	tcase_add_test(tc, test_takeover);
	tcase_add_test(tc, test_takeover_unknown);
	tcase_add_test(tc, test_too_many_clients);
	tcase_add_test(tc, test_session_end);
	tcase_add_test(tc, test_updates);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 30);
	tcase_add_test(tr, test_concurrent_claim);
	tcase_add_test(tr, test_concurrent_auto);
	suite_add_tcase(s, tr);

	tcase_add_checked_fixture(th, setup, teardown);
	tcase_set_timeout(th, 20);
	tcase_add_test(th, test_hist_sessions);
	tcase_add_test(th, test_histconn);
	tcase_add_test(th, test_map_full_grows);
	tcase_add_test(th, test_stats);
	tcase_add_test(th, test_stats_sample);
	tcase_add_test(th, test_clear_live);
	tcase_add_test(th, test_clear_worker);
	tcase_add_test(th, test_clear_worker_closes_conn_history);
	tcase_add_test(th, test_outbox);
	suite_add_tcase(s, th);
	return s;
}
