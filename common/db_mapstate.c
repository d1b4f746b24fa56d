/* SPDX-License-Identifier: ISC */
/* db_mapstate.c: the mapstate table (a mapping disabled by an operator). */
#include <arpa/inet.h>
#include <string.h>

#include "db_mapstate.h"
#include "log.h"

/* Reads the record of port; 0 found, -1 absent (or of another layout). */
int
db_mapstate_get(struct db *db, MDB_txn *txn, uint16_t port,
    struct db_mapstate *st)
{
	uint16_t	key = htons(port);
	MDB_val		k = { .mv_size = sizeof(key), .mv_data = &key }, v;

	if (mdb_get(txn, db->dbi[DB_MAPSTATE], &k, &v) != 0 ||
	    v.mv_size != sizeof(*st))
		return -1;
	memcpy(st, v.mv_data, sizeof(*st));	/* values are 2-byte aligned */
	st->client_name[sizeof(st->client_name) - 1] = '\0';
	return 0;
}

/* 0 when the mapping of client_name on port is disabled, else 1. */
int
db_mapstate_enabled(struct db *db, MDB_txn *txn, uint16_t port,
    const char *client_name)
{
	struct db_mapstate st;

	if (db_mapstate_get(db, txn, port, &st) == -1)
		return 1;
	return !(st.disabled && strncmp(st.client_name, client_name,
	    sizeof(st.client_name)) == 0);
}

/* Disables (stores) or enables (deletes) the mapping of port; 0 or -1. */
int
db_mapstate_set(struct db *db, uint16_t port, const char *client_name,
    int enabled)
{
	struct db_mapstate	 st;
	uint16_t		 key = htons(port);
	MDB_val			 k = { .mv_size = sizeof(key), .mv_data = &key };
	MDB_val			 v = { .mv_size = sizeof(st), .mv_data = &st };
	MDB_txn			*txn;
	int			 rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (db_txn_begin(db, 0, &txn) != 0)
			return -1;
		if (enabled) {
			rc = mdb_del(txn, db->dbi[DB_MAPSTATE], &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			memset(&st, 0, sizeof(st));
			st.version = DB_RECORD_VERSION;
			st.disabled = 1;
			db_strlcpy(st.client_name, client_name,
			    sizeof(st.client_name));
			st.updated = db_now();
			rc = db_put(db, txn, db->dbi[DB_MAPSTATE], &k, &v, 0);
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			if (rc == MDB_MAP_FULL) {
				db->full = 0;
				if (db_grow(db) == 0)
					continue;
			}
			log_warnx("mapstate of port %u: %s", port,
			    mdb_strerror(rc));
			return -1;
		}
		rc = db_txn_commit(db, txn);
		if (rc == 0)
			return 0;
		if (rc != MDB_MAP_FULL)
			return -1;
	}
	return -1;
}
