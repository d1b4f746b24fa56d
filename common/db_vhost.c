/* SPDX-License-Identifier: ISC */
/*
 * db_vhost.c: domain claims of http/https mappings and sticky ports.
 *
 * A domain is claimed like a port: inside db_claim()'s one write
 * transaction, so two clients can never both get it ("domain in use").
 * The key is "<type>:<domain>", so HTTP and HTTPS are separate name spaces.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "db_live.h"
#include "db_vhost.h"
#include "log.h"

/* Tells whether a mapping is an http or https one (keyed by name, no port). */
int
db_vhost_is(const struct db_mapping *m)
{
	return strcmp(m->type, "http") == 0 || strcmp(m->type, "https") == 0;
}

/* Makes a mapping's key: its port, or "@client_id/name" for a vhost one. */
MDB_val
db_vhost_mapping_key(const struct db_mapping *m, char *buf, size_t len,
    uint16_t *store)
{
	MDB_val k;

	if (db_vhost_is(m)) {
		int n = snprintf(buf, len, "@%s/%s", m->client_id, m->name);

		k.mv_data = buf;
		k.mv_size = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
		return k;
	}
	*store = htons(m->remote_port);
	k.mv_data = store;
	k.mv_size = sizeof(*store);
	return k;
}

/* Makes the key of a domain record: "<type>:<domain>". */
static MDB_val
domain_key(const char *type, const char *domain, char *buf, size_t len)
{
	MDB_val	k;
	int	n = snprintf(buf, len, "%s:%s", type, domain);

	k.mv_data = buf;
	k.mv_size = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
	return k;
}

/* Reads a domain record; -1 if absent or of another layout. */
static int
domain_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, struct db_domain *d)
{
	MDB_val v;

	if (mdb_get(txn, dbi, k, &v) != 0 || v.mv_size != sizeof(*d))
		return -1;
	memcpy(d, v.mv_data, sizeof(*d));
	return 0;
}

/*
 * Claims every domain of c->map (a comma-separated, normalised list) for
 * the client; -1 with c->error "domain in use" if another client has one.
 * The client's own previous session (takeover_id) hands its domains over.
 */
int
db_vhost_claim(struct db *db, MDB_txn *txn, struct db_claim *c)
{
	char		 list[sizeof(c->map.domains)], *save = NULL, *dom;
	char		 kbuf[DB_DOMAIN_LEN + 16];
	struct db_domain d;
	MDB_val		 k, v;
	int		 n = 0;

	snprintf(list, sizeof(list), "%s", c->map.domains);
	for (dom = strtok_r(list, ",", &save); dom != NULL && n < DB_MAX_DOMAINS;
	    dom = strtok_r(NULL, ",", &save), n++) {
		k = domain_key(c->map.type, dom, kbuf, sizeof(kbuf));
		if (domain_get(txn, db->dbi[DB_DOMAINS], &k, &d) == 0 &&
		    (c->takeover_id == NULL ||
		    strcmp(d.client_id, c->takeover_id) != 0)) {
			snprintf(c->error, sizeof(c->error), "domain in use");
			return -1;
		}
		memset(&d, 0, sizeof(d));
		d.version = DB_RECORD_VERSION;
		d.worker_pid = c->map.worker_pid;
		d.worker_index = c->map.worker_index;
		db_strlcpy(d.client_id, c->map.client_id, sizeof(d.client_id));
		db_strlcpy(d.client_name, c->map.client_name, sizeof(d.client_name));
		db_strlcpy(d.mapping, c->map.name, sizeof(d.mapping));
		v.mv_data = &d;
		v.mv_size = sizeof(d);
		if (db_put(db, txn, db->dbi[DB_DOMAINS], &k, &v, 0) != 0) {
			snprintf(c->error, sizeof(c->error), "server database error");
			return -1;
		}
	}
	return 0;
}

/* Deletes, in one table, the rows a predicate picks (bounded scan). */
static void
vhost_delete_where(struct db *db, MDB_txn *txn, enum db_table t,
    int (*pick)(const MDB_val *k, const MDB_val *v, const void *arg),
    const void *arg)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 op = MDB_FIRST;

	if (mdb_cursor_open(txn, db->dbi[t], &cur) != 0)
		return;
	for (int n = 0; n < 1000000 && mdb_cursor_get(cur, &k, &v, op) == 0;
	    n++) {
		op = MDB_NEXT;
		if (pick(&k, &v, arg))
			mdb_cursor_del(cur, 0);
	}
	mdb_cursor_close(cur);
}

/* Picks the domain rows of a client id. */
static int
pick_domain_of(const MDB_val *k, const MDB_val *v, const void *arg)
{
	struct db_domain d;

	if (v->mv_size != sizeof(d))
		return 1;
	memcpy(&d, v->mv_data, sizeof(d));
	return strcmp(d.client_id, arg) == 0;
}

/* Picks the vhost mapping rows ("@client_id/...") of a client id. */
static int
pick_vhost_mapping_of(const MDB_val *k, const MDB_val *v, const void *arg)
{
	size_t n = strlen(arg);

	return k->mv_size > n + 1 && ((const char *)k->mv_data)[0] == '@' &&
	    memcmp((const char *)k->mv_data + 1, arg, n) == 0 &&
	    ((const char *)k->mv_data)[n + 1] == '/';
}

/* Picks the domain rows of a worker pid (0: every row). */
static int
pick_domain_pid(const MDB_val *k, const MDB_val *v, const void *arg)
{
	int		 pid = *(const int *)arg;
	struct db_domain d;

	if (pid == 0 || v->mv_size != sizeof(d))
		return 1;
	memcpy(&d, v->mv_data, sizeof(d));
	return d.worker_pid == pid;
}

/* Removes a closed session's domains and http/https mapping rows. */
void
db_vhost_end(struct db *db, MDB_txn *txn, const char *client_id)
{
	vhost_delete_where(db, txn, DB_DOMAINS, pick_domain_of, client_id);
	vhost_delete_where(db, txn, DB_MAPPINGS, pick_vhost_mapping_of,
	    client_id);
}

/* Removes the domains of a dead worker (pid) or all of them (pid 0). */
void
db_vhost_clear(struct db *db, MDB_txn *txn, int pid)
{
	vhost_delete_where(db, txn, DB_DOMAINS, pick_domain_pid, &pid);
}

/* Finds who serves a domain; 0 found, -1 not. */
int
db_vhost_lookup(struct db *db, const char *type, const char *domain,
    struct db_domain *d)
{
	MDB_txn	*txn;
	MDB_val	 k;
	char	 kbuf[DB_DOMAIN_LEN + 16];
	int	 rc;

	if (db_txn_begin(db, 1, &txn) != 0)
		return -1;
	k = domain_key(type, domain, kbuf, sizeof(kbuf));
	rc = domain_get(txn, db->dbi[DB_DOMAINS], &k, d);
	mdb_txn_abort(txn);
	return rc;
}

/* Makes the key of a sticky record: client name, newline, mapping name. */
static MDB_val
sticky_key(const char *client_name, const char *mapping, char *buf, size_t len)
{
	MDB_val	k;
	int	n = snprintf(buf, len, "%s\n%s", client_name, mapping);

	k.mv_data = buf;
	k.mv_size = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
	return k;
}

/* The port this client's mapping had last time, or 0. */
uint16_t
db_sticky_get(struct db *db, MDB_txn *txn, const char *client_name,
    const char *mapping)
{
	struct db_sticky s;
	char		 kbuf[2 * DB_NAME_LEN + 2];
	MDB_val		 k = sticky_key(client_name, mapping, kbuf, sizeof(kbuf)), v;

	if (mdb_get(txn, db->dbi[DB_STICKY], &k, &v) != 0 ||
	    v.mv_size != sizeof(s))
		return 0;
	memcpy(&s, v.mv_data, sizeof(s));
	return s.port;
}

/* Remembers the port a client's mapping got for remote_port 0. */
void
db_sticky_put(struct db *db, MDB_txn *txn, const char *client_name,
    const char *mapping, uint16_t port)
{
	struct db_sticky s;
	char		 kbuf[2 * DB_NAME_LEN + 2];
	MDB_val		 k = sticky_key(client_name, mapping, kbuf, sizeof(kbuf));
	MDB_val		 v = { .mv_size = sizeof(s), .mv_data = &s };

	memset(&s, 0, sizeof(s));
	s.version = DB_RECORD_VERSION;
	s.port = port;
	s.updated = db_now();
	if (db_put(db, txn, db->dbi[DB_STICKY], &k, &v, 0) != 0)
		log_warnx("database write: sticky port of %s/%s", client_name,
		    mapping);
}
