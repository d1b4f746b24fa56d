/* SPDX-License-Identifier: ISC */
/* db_audit.c: the audit log of console and user-management actions. */
#include <string.h>

#include "db.h"
#include "db_admin.h"

/* Appends rec under the next sequence number. */
static int
audit_put_txn(MDB_txn *txn, struct db *db, void *arg)
{
	unsigned char	key[8];
	MDB_val		k, v;

	db_key_u64(db_next_seq(txn, db->dbi[DB_AUDIT]), key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	v.mv_data = arg;
	v.mv_size = sizeof(struct db_audit);
	if (mdb_put(txn, db->dbi[DB_AUDIT], &k, &v, MDB_APPEND) != 0)
		return -1;
	return db_outbox_put(db, txn, DB_OUTBOX_AUDIT, arg,
	    sizeof(struct db_audit)) == 0 ? 0 : -1;
}

/* Records one action (never pass a password or session id in detail). */
int
db_audit_add(struct db *db, const char *user, const char *action, int ok,
    const char *address, const char *detail)
{
	struct db_audit	a;

	memset(&a, 0, sizeof(a));
	a.version = DB_RECORD_VERSION;
	a.ok = ok ? 1 : 0;
	a.time = db_now();
	db_strlcpy(a.user, user ? user : "", sizeof(a.user));
	db_strlcpy(a.action, action, sizeof(a.action));
	db_strlcpy(a.address, address ? address : "", sizeof(a.address));
	db_strlcpy(a.detail, detail ? detail : "", sizeof(a.detail));
	return db_admin_write(db, audit_put_txn, &a);
}

/* Counts the audit records. */
int
db_audit_count(struct db *db, size_t *n)
{
	return db_admin_count(db, DB_AUDIT, n);
}
