/* SPDX-License-Identifier: ISC */
/*
 * db_live.c: claims of public ports and the live tables.
 *
 * A port claim runs in one write transaction; LMDB admits one writer at a
 * time across processes, so two workers can never both get a port.  The
 * listener is bound inside that transaction, so table and socket agree.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "db_live.h"
#include "db_rec.h"
#include "db_vhost.h"
#include "log.h"
#include "strmap.h"

/* Makes the 2-byte big-endian key of a port. */
static MDB_val
port_key(uint16_t port, uint16_t *store)
{
	MDB_val k;

	*store = htons(port);
	k.mv_data = store;
	k.mv_size = sizeof(*store);
	return k;
}

/*
 * Reads a record of size bytes, stored packed (db_rec.h) if packed;
 * -1 if absent or of another layout.
 */
static int
db_get_rec(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, void *out, size_t size,
    int packed)
{
	MDB_val v;

	if (mdb_get(txn, dbi, k, &v) != 0)
		return -1;
	if (packed)
		return db_rec_load(&v, out, size);
	if (v.mv_size != size)
		return -1;
	memcpy(out, v.mv_data, size);
	return 0;
}

/* Writes a record, packed (db_rec.h) if packed. */
static int
db_put_rec(struct db *db, MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
    const void *rec, size_t size, int packed)
{
	unsigned char	buf[DB_REC_MAX];
	MDB_val		v = { .mv_size = size, .mv_data = (void *)rec };
	int		rc;

	if (packed && size <= sizeof(buf)) {
		v.mv_size = db_rec_pack(rec, size, buf);
		v.mv_data = buf;
	}
	if ((rc = db_put(db, txn, dbi, k, &v, 0)) != 0)
		log_warnx("database write: %s", mdb_strerror(rc));
	return rc;
}

/* Makes the key of a client record. */
static MDB_val
id_key(const char *id)
{
	MDB_val k = { .mv_size = strlen(id), .mv_data = (void *)id };

	return k;
}

/* Inserts the session's client record and opens its history record. */
static int
claim_client(struct db *db, MDB_txn *txn, struct db_claim *c)
{
	struct db_hist_session	 hs;
	MDB_stat		 st;
	MDB_val			 k;
	unsigned char		 seqkey[8];
	size_t			 count;

	mdb_stat(txn, db->dbi[DB_CLIENTS], &st);
	count = st.ms_entries;
	if (c->takeover_id != NULL && c->takeover_worker >= 0 && count > 0)
		count--;
	if ((long)count >= c->max_clients) {
		snprintf(c->error, sizeof(c->error), "too many clients");
		return -1;
	}
	memset(&hs, 0, sizeof(hs));
	hs.version = DB_RECORD_VERSION;
	db_strlcpy(hs.client_id, c->client.id, sizeof(hs.client_id));
	db_strlcpy(hs.name, c->client.name, sizeof(hs.name));
	db_strlcpy(hs.address, c->client.address, sizeof(hs.address));
	hs.start = c->client.connected_since;
	c->hist_seq = db_next_seq(txn, db->dbi[DB_HIST_SESS]);
	db_key_u64(c->hist_seq, seqkey);
	k.mv_data = seqkey;
	k.mv_size = 8;
	if (db_put_rec(db, txn, db->dbi[DB_HIST_SESS], &k,
	    &hs, sizeof(hs), 1) != 0)
		return -1;
	c->client.hist_seq = c->hist_seq;
	return 0;
}

enum port_state { PORT_FREE, PORT_TAKEN, PORT_HANDOVER };

/* Tells whether the table entry of a port blocks this claim. */
static enum port_state
port_taken(struct db *db, MDB_txn *txn, struct db_claim *c, uint16_t port)
{
	struct db_mapping	cur;
	uint16_t		store;
	MDB_val			k = port_key(port, &store);

	if (db_get_rec(txn, db->dbi[DB_MAPPINGS], &k,
	    &cur, sizeof(cur), 1) == -1)
		return PORT_FREE;
	/* The client's own previous session hands its ports over. */
	if (c->takeover_id != NULL && strcmp(cur.client_id, c->takeover_id) == 0)
		return PORT_HANDOVER;
	return PORT_TAKEN;
}

/* Chooses and binds the port for the claim; -1 with c->error set. */
static int
claim_port(struct db *db, MDB_txn *txn, struct db_claim *c)
{
	enum port_state	st;
	uint32_t	n, start;
	uint16_t	sp;

	if (c->map.remote_port != 0) {
		st = port_taken(db, txn, c, c->map.remote_port);
		if (st == PORT_TAKEN || c->bind(c->map.remote_port,
		    st == PORT_FREE, c->bind_arg) == -1) {
			snprintf(c->error, sizeof(c->error), "port in use");
			return -1;
		}
		return 0;
	}
	/* Sticky: the port this mapping had last time, while it is free. */
	if ((sp = db_sticky_get(db, txn, c->map.client_name, c->map.name)) != 0 &&
	    portrange_contains(c->allow, sp) &&
	    (st = port_taken(db, txn, c, sp)) != PORT_TAKEN &&
	    c->bind(sp, st == PORT_FREE, c->bind_arg) == 0) {
		c->map.remote_port = sp;
		return 0;
	}
	n = portrange_count(c->allow);
	start = n ? randombytes_uniform(n) : 0;
	/* Bounded: a crowded range gives up rather than scan for long. */
	for (uint32_t i = 0; i < n && i < 4096; i++) {
		uint16_t port = portrange_nth(c->allow, (start + i) % n);

		if (port_taken(db, txn, c, port) != PORT_FREE)
			continue;
		if (c->bind(port, 1, c->bind_arg) == 0) {
			c->map.remote_port = port;
			db_sticky_put(db, txn, c->map.client_name, c->map.name, port);
			return 0;
		}
	}
	snprintf(c->error, sizeof(c->error), "no free port in allow_ports");
	return -1;
}

/* Adds a port to the session's history record ("10022,10080"). */
static void
hist_add_port(struct db *db, MDB_txn *txn, uint64_t seq, uint16_t port)
{
	struct db_hist_session	hs;
	unsigned char		key[8];
	MDB_val			k = { .mv_size = 8, .mv_data = key };
	size_t			len;

	db_key_u64(seq, key);
	if (db_get_rec(txn, db->dbi[DB_HIST_SESS], &k,
	    &hs, sizeof(hs), 1) == -1)
		return;
	len = strlen(hs.ports);
	snprintf(hs.ports + len, sizeof(hs.ports) - len, "%s%u",
	    len ? "," : "", port);
	hs.nmappings++;
	db_put_rec(db, txn, db->dbi[DB_HIST_SESS], &k,
	    &hs, sizeof(hs), 1);
}

/* Claims one mapping (and the client record with the first); 0 or -1. */
int
db_claim(struct db *db, struct db_claim *c)
{
	struct db_client	old;
	MDB_txn			*txn;
	MDB_val			 k;
	uint16_t		 store;
	char			 kbuf[DB_ID_LEN + DB_NAME_LEN + 4];
	int			 rc;

	c->error[0] = '\0';
	c->takeover_worker = -1;
	if (db_txn_begin(db, 0, &txn) != 0) {
		snprintf(c->error, sizeof(c->error), "server database error");
		return -1;
	}
	if (c->takeover_id != NULL) {
		k = id_key(c->takeover_id);
		if (db_get_rec(txn, db->dbi[DB_CLIENTS], &k,
		    &old, sizeof(old), 1) == 0)
			c->takeover_worker = (int)old.worker_index;
		/* Only a session of the same identity (credential) is replaced. */
		if (c->takeover_worker >= 0 && strncmp(old.credential,
		    c->client.credential, sizeof(old.credential)) != 0) {
			c->takeover_id = NULL;
			c->takeover_worker = -1;
		}
	}
	if (c->new_client && claim_client(db, txn, c) == -1)
		goto fail;
	if ((db_vhost_is(&c->map) ? db_vhost_claim(db, txn, c) :
	    claim_port(db, txn, c)) == -1)
		goto fail;
	c->map.since = db_now();
	k = db_vhost_mapping_key(&c->map, kbuf, sizeof(kbuf), &store);
	if (db_put_rec(db, txn, db->dbi[DB_MAPPINGS], &k,
	    &c->map, sizeof(c->map), 1) != 0)
		goto dbfail;
	c->client.nmappings++;
	k = id_key(c->client.id);
	if (db_put_rec(db, txn, db->dbi[DB_CLIENTS], &k, &c->client,
	    sizeof(c->client), 1) != 0)
		goto dbfail;
	hist_add_port(db, txn, c->client.hist_seq, c->map.remote_port);
	if ((rc = db_txn_commit(db, txn)) != 0) {
		c->client.nmappings--;
		snprintf(c->error, sizeof(c->error), "server database error");
		return -1;
	}
	return 0;
dbfail:
	snprintf(c->error, sizeof(c->error), "server database error");
fail:
	mdb_txn_abort(txn);
	return -1;
}

/* Closes a history record of a client session. */
static void
hist_close(struct db *db, MDB_txn *txn, uint64_t seq, const char *reason,
    uint64_t bytes_in, uint64_t bytes_out)
{
	struct db_hist_session	hs;
	unsigned char		key[8];
	MDB_val			k = { .mv_size = 8, .mv_data = key };

	db_key_u64(seq, key);
	if (db_get_rec(txn, db->dbi[DB_HIST_SESS], &k,
	    &hs, sizeof(hs), 1) == -1 ||
	    hs.end != 0)
		return;
	hs.end = db_now();
	db_strlcpy(hs.reason, reason, sizeof(hs.reason));
	if (bytes_in > hs.bytes_in)
		hs.bytes_in = bytes_in;
	if (bytes_out > hs.bytes_out)
		hs.bytes_out = bytes_out;
	db_put_rec(db, txn, db->dbi[DB_HIST_SESS], &k,
	    &hs, sizeof(hs), 1);
	db_outbox_put(db, txn, DB_OUTBOX_SESS, &hs, sizeof(hs));
}

/* Deletes the live conns of one client. */
static void
conns_delete_client(struct db *db, MDB_txn *txn, const char *id)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 op = MDB_FIRST;

	if (mdb_cursor_open(txn, db->dbi[DB_CONNS], &cur) != 0)
		return;
	while (mdb_cursor_get(cur, &k, &v, op) == 0) {
		struct db_conn c;

		op = MDB_NEXT;
		if (db_rec_conn(&v, &c) != 0)	/* copies: 2-byte aligned */
			continue;
		if (strcmp(c.client_id, id) == 0)
			mdb_cursor_del(cur, 0);
	}
	mdb_cursor_close(cur);
}

/* Removes a closed session: its client record, its ports, its live conns. */
int
db_session_end(struct db *db, const char *client_id, uint64_t hist_seq,
    const char *reason, uint64_t bytes_in, uint64_t bytes_out,
    const uint16_t *ports, size_t nports)
{
	MDB_txn	*txn;
	MDB_val	 k;

	if (db_txn_begin(db, 0, &txn) != 0)
		return -1;
	k = id_key(client_id);
	mdb_del(txn, db->dbi[DB_CLIENTS], &k, NULL);
	for (size_t i = 0; i < nports; i++) {
		struct db_mapping	m;
		uint16_t		store;

		k = port_key(ports[i], &store);
		/* Only if still ours: a reconnected session may own it now. */
		if (db_get_rec(txn, db->dbi[DB_MAPPINGS], &k,
		    &m, sizeof(m), 1) == 0 &&
		    strcmp(m.client_id, client_id) == 0)
			mdb_del(txn, db->dbi[DB_MAPPINGS], &k, NULL);
	}
	conns_delete_client(db, txn, client_id);
	db_vhost_end(db, txn, client_id);
	if (hist_seq != 0)
		hist_close(db, txn, hist_seq, reason, bytes_in, bytes_out);
	return db_txn_commit(db, txn);
}

/* Updates a client's live counters if its record still exists. */
int
db_client_update(struct db *db, MDB_txn *txn, const struct db_client *c)
{
	struct db_client	cur;
	MDB_val			k = id_key(c->id);

	if (db_get_rec(txn, db->dbi[DB_CLIENTS], &k,
	    &cur, sizeof(cur), 1) == -1)
		return 0;
	cur.last_heartbeat = c->last_heartbeat;
	cur.bytes_in = c->bytes_in;
	cur.bytes_out = c->bytes_out;
	cur.live_conns = c->live_conns;
	return db_put_rec(db, txn, db->dbi[DB_CLIENTS], &k,
	    &cur, sizeof(cur), 1);
}

/* Updates a mapping's counters if the port is still this client's. */
int
db_mapping_update(struct db *db, MDB_txn *txn, const struct db_mapping *m)
{
	struct db_mapping	cur;
	uint16_t		store;
	char			kbuf[DB_ID_LEN + DB_NAME_LEN + 4];
	MDB_val			k = db_vhost_mapping_key(m, kbuf, sizeof(kbuf),
				    &store);

	if (db_get_rec(txn, db->dbi[DB_MAPPINGS], &k,
	    &cur, sizeof(cur), 1) == -1 ||
	    strcmp(cur.client_id, m->client_id) != 0)
		return 0;
	cur.bytes_in = m->bytes_in;
	cur.bytes_out = m->bytes_out;
	cur.live_conns = m->live_conns;
	cur.total_conns = m->total_conns;
	return db_put_rec(db, txn, db->dbi[DB_MAPPINGS], &k,
	    &cur, sizeof(cur), 1);
}

/* Writes a live public connection. */
int
db_conn_put(struct db *db, MDB_txn *txn, uint64_t id, const struct db_conn *c)
{
	unsigned char	key[8];
	MDB_val		k = { .mv_size = 8, .mv_data = key };

	db_key_u64(id, key);
	return db_put_rec(db, txn, db->dbi[DB_CONNS], &k,
	    c, sizeof(*c), 1);
}

/* Removes a live public connection (absent is fine). */
int
db_conn_del(struct db *db, MDB_txn *txn, uint64_t id)
{
	unsigned char	key[8];
	MDB_val		k = { .mv_size = 8, .mv_data = key };
	int		rc;

	db_key_u64(id, key);
	rc = mdb_del(txn, db->dbi[DB_CONNS], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Appends (*seq == 0; sets it) or rewrites a connection history record. */
int
db_histconn_put(struct db *db, MDB_txn *txn, uint64_t *seq,
    const struct db_hist_conn *h)
{
	unsigned char	key[8];
	MDB_val		k = { .mv_size = 8, .mv_data = key };

	if (*seq == 0)
		*seq = db_next_seq(txn, db->dbi[DB_HIST_CONN]);
	db_key_u64(*seq, key);
	return db_put_rec(db, txn, db->dbi[DB_HIST_CONN], &k,
	    h, sizeof(*h), 1);
}

/* Reads the stats bucket of the minute of now (zeroed if new). */
static void
stats_get(struct db *db, MDB_txn *txn, int64_t now, unsigned char key[8],
    struct db_stats *s)
{
	MDB_val k = { .mv_size = 8, .mv_data = key };

	db_key_u64((uint64_t)(now / 60), key);
	if (db_get_rec(txn, db->dbi[DB_STATS], &k,
	    s, sizeof(*s), 0) == -1) {
		memset(s, 0, sizeof(*s));
		s->version = DB_RECORD_VERSION;
	}
}

/* Adds traffic and new connections to the current minute. */
int
db_stats_add(struct db *db, MDB_txn *txn, int64_t now, uint64_t bytes_in,
    uint64_t bytes_out, uint32_t new_conns)
{
	struct db_stats	s;
	unsigned char	key[8];
	MDB_val		k = { .mv_size = 8, .mv_data = key };

	stats_get(db, txn, now, key, &s);
	s.bytes_in += bytes_in;
	s.bytes_out += bytes_out;
	s.new_conns += new_conns;
	return db_put_rec(db, txn, db->dbi[DB_STATS], &k,
	    &s, sizeof(s), 0);
}

/* Number of records in a table. */
size_t
db_count(struct db *db, enum db_table t)
{
	MDB_txn	*txn;
	MDB_stat st;

	if (db_txn_begin(db, 1, &txn) != 0)
		return 0;
	mdb_stat(txn, db->dbi[t], &st);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

/* Records the gauges (online clients, active conns) of the current minute. */
int
db_stats_sample(struct db *db)
{
	struct db_stats	s;
	unsigned char	key[8];
	MDB_val		k = { .mv_size = 8, .mv_data = key };
	MDB_txn		*txn;
	MDB_stat	 st;

	if (db_txn_begin(db, 0, &txn) != 0)
		return -1;
	stats_get(db, txn, db_now(), key, &s);
	mdb_stat(txn, db->dbi[DB_CLIENTS], &st);
	if (st.ms_entries > s.online_clients)
		s.online_clients = (uint32_t)st.ms_entries;
	mdb_stat(txn, db->dbi[DB_CONNS], &st);
	if (st.ms_entries > s.active_conns)
		s.active_conns = (uint32_t)st.ms_entries;
	if (db_put_rec(db, txn, db->dbi[DB_STATS], &k,
	    &s, sizeof(s), 0) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return db_txn_commit(db, txn);
}

/*
 * Closes open connection records among the newest ones (bounded scan):
 * all of them, or those of the clients in only (a dead worker's).
 */
static void
histconn_close_open(struct db *db, MDB_txn *txn, struct strmap *only,
    const char *reason)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 op = MDB_LAST, n = 0;

	if (only != NULL && only->count == 0)
		return;
	if (mdb_cursor_open(txn, db->dbi[DB_HIST_CONN], &cur) != 0)
		return;
	while (n++ < 20000 && mdb_cursor_get(cur, &k, &v, op) == 0) {
		struct db_hist_conn h;
		unsigned char packed[sizeof(h)], kcopy[8];

		op = MDB_PREV;
		if (db_rec_hist_conn(&v, &h) != 0)
			continue;
		if (h.end != 0 || (only != NULL && strmap_get(only, h.client_id) == NULL))
			continue;
		h.end = db_now();
		db_strlcpy(h.reason, reason, sizeof(h.reason));
		v.mv_size = db_rec_pack(&h, sizeof(h), packed);
		v.mv_data = packed;
		/* A value of another size is deleted and re-inserted, which
		 * moves the page's bytes under k: put a copy of the key. */
		memcpy(kcopy, k.mv_data, k.mv_size < sizeof(kcopy) ?
		    k.mv_size : sizeof(kcopy));
		k.mv_data = kcopy;
		mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
		db_outbox_put(db, txn, DB_OUTBOX_CONN, &h, sizeof(h));
	}
	mdb_cursor_close(cur);
}

/*
 * Removes live rows: all of them (pid 0, master start after a crash) or
 * those of one dead worker; their history records are closed with reason.
 */
static int
db_clear_rows(struct db *db, int pid, const char *reason)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct strmap	 gone;		/* ids of the clients removed */
	int		 op, rc;

	if (db_txn_begin(db, 0, &txn) != 0)
		return -1;
	strmap_init(&gone);
	if (mdb_cursor_open(txn, db->dbi[DB_CLIENTS], &cur) == 0) {
		for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			struct db_client c;

			if (db_rec_client(&v, &c) != 0) {
				mdb_cursor_del(cur, 0);
				continue;
			}
			if (pid != 0 && c.worker_pid != pid)
				continue;
			hist_close(db, txn, c.hist_seq, reason, c.bytes_in, c.bytes_out);
			strmap_put(&gone, c.id, &gone);
			mdb_cursor_del(cur, 0);
		}
		mdb_cursor_close(cur);
	}
	if (mdb_cursor_open(txn, db->dbi[DB_MAPPINGS], &cur) == 0) {
		for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			struct db_mapping m;

			int bad = db_rec_mapping(&v, &m) != 0;

			if (pid == 0 || bad || m.worker_pid == pid)
				mdb_cursor_del(cur, 0);
		}
		mdb_cursor_close(cur);
	}
	if (mdb_cursor_open(txn, db->dbi[DB_CONNS], &cur) == 0) {
		for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			struct db_conn c;
			int bad = db_rec_conn(&v, &c) != 0;

			if (pid == 0 || bad || c.worker_pid == pid)
				mdb_cursor_del(cur, 0);
		}
		mdb_cursor_close(cur);
	}
	db_vhost_clear(db, txn, pid);
	histconn_close_open(db, txn, pid == 0 ? NULL : &gone, reason);
	strmap_free(&gone);
	rc = db_txn_commit(db, txn);
	return rc;
}

/* Clears every live row left by a previous run. */
int
db_clear_live(struct db *db, const char *reason)
{
	return db_clear_rows(db, 0, reason);
}

/* Clears the live rows of a worker that died. */
int
db_clear_worker(struct db *db, int pid, const char *reason)
{
	return db_clear_rows(db, pid, reason);
}
