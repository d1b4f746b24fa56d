/* SPDX-License-Identifier: ISC */
/*
 * db_outbox.c: cluster mode's outbox.  A finished history record (session,
 * public connection, audit event) is appended here in the same LMDB
 * transaction that finishes it, so it is queued exactly once; the master
 * (cluster.c) copies the outbox to PostgreSQL in batches and deletes what
 * PostgreSQL has.  Outside cluster mode (db->outbox 0) nothing is written.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "log.h"

#define OUTBOX_ORIGIN_KEY	"outbox_origin"
#define OUTBOX_SEQ_KEY		"outbox_seq"
#define OUTBOX_MAX		500000	/* records waiting (~250 MB): beyond, dropped */

/*
 * Takes the next outbox sequence number.  It is kept in meta, not derived
 * from the last key: the master empties the outbox, and a number used
 * again would be taken by PostgreSQL for a copy already written.
 */
static uint64_t
outbox_next_seq(struct db *db, MDB_txn *txn)
{
	MDB_val		k = { .mv_size = strlen(OUTBOX_SEQ_KEY),
			      .mv_data = (void *)OUTBOX_SEQ_KEY }, v;
	uint64_t	seq = 0;

	if (mdb_get(txn, db->dbi[DB_META], &k, &v) == 0 &&
	    v.mv_size == sizeof(seq))
		memcpy(&seq, v.mv_data, sizeof(seq));
	if (seq == 0)		/* first use, or an outbox from before the counter */
		seq = db_next_seq(txn, db->dbi[DB_OUTBOX]) - 1;
	seq++;
	v.mv_size = sizeof(seq);
	v.mv_data = &seq;
	if (db_put(db, txn, db->dbi[DB_META], &k, &v, 0) != 0)
		return 0;
	return seq;
}

/* Appends a copy of rec to the outbox inside txn (no-op outside cluster mode). */
int
db_outbox_put(struct db *db, MDB_txn *txn, enum db_outbox_kind kind,
    const void *rec, size_t size)
{
	struct db_outbox	o;
	unsigned char		key[8];
	MDB_val			k = { .mv_size = 8, .mv_data = key };
	MDB_val			v = { .mv_size = sizeof(o), .mv_data = &o };
	uint64_t		seq;
	MDB_stat		st;
	int			rc;

	if (!db->outbox)
		return 0;
	if (size > sizeof(o.u))
		return -1;
	/* A database away for days must not fill the disk: the bound. */
	if (mdb_stat(txn, db->dbi[DB_OUTBOX], &st) == 0 &&
	    st.ms_entries >= OUTBOX_MAX) {
		log_warnx("outbox full (%d records): a history record for "
		    "PostgreSQL is dropped", OUTBOX_MAX);
		return 0;
	}
	memset(&o, 0, sizeof(o));
	o.kind = kind;
	memcpy(&o.u, rec, size);
	if ((seq = outbox_next_seq(db, txn)) == 0)
		return -1;
	db_key_u64(seq, key);
	if ((rc = db_put(db, txn, db->dbi[DB_OUTBOX], &k, &v, MDB_APPEND)) != 0)
		log_warnx("outbox write: %s", mdb_strerror(rc));
	return rc;
}

/*
 * Gets this data directory's origin: a random id made once, so that outbox
 * sequence numbers of a new data_dir never collide with an old one's.
 */
int
db_outbox_origin(struct db *db, char *out, size_t len)
{
	unsigned char	 raw[12];
	char		 hex[2 * sizeof(raw) + 1];
	MDB_txn		*txn;
	MDB_val		 k = { .mv_size = strlen(OUTBOX_ORIGIN_KEY),
			       .mv_data = (void *)OUTBOX_ORIGIN_KEY }, v;

	if (db_txn_begin(db, 0, &txn) != 0)
		return -1;
	if (mdb_get(txn, db->dbi[DB_META], &k, &v) == 0 && v.mv_size < len) {
		memcpy(out, v.mv_data, v.mv_size);
		out[v.mv_size] = '\0';
		mdb_txn_abort(txn);
		return 0;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	v.mv_size = strlen(hex);
	v.mv_data = hex;
	if (db_put(db, txn, db->dbi[DB_META], &k, &v, 0) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	if (db_txn_commit(db, txn) != 0)
		return -1;
	snprintf(out, len, "%s", hex);
	return 0;
}
