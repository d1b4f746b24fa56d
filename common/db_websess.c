/* SPDX-License-Identifier: ISC */
/*
 * db_websess.c: console login sessions (table "websess").  The random
 * session id only lives in the browser's cookie; the table is keyed by its
 * sha256, so a copy of the database does not hand out valid cookies.
 */
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "db_admin.h"

/* 1 when id is exactly DB_WEBSESS_ID_BYTES*2 lowercase hex characters. */
int
db_websess_id_valid(const char *id)
{
	size_t	i;

	for (i = 0; id[i] != '\0'; i++) {
		if (i >= DB_WEBSESS_HEX - 1)
			return 0;
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	}
	return i == DB_WEBSESS_HEX - 1;
}

/* The table key of a session id: sha256 of its hex form. */
static void
websess_key(const char *id, unsigned char key[crypto_hash_sha256_BYTES])
{
	crypto_hash_sha256(key, (const unsigned char *)id, strlen(id));
}

struct websess_put {
	unsigned char		key[crypto_hash_sha256_BYTES];
	struct db_websession	s;
};

/* Stores a new session record. */
static int
websess_put_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct websess_put	*p = arg;
	MDB_val			 k, v;

	k.mv_data = p->key;
	k.mv_size = sizeof(p->key);
	v.mv_data = &p->s;
	v.mv_size = sizeof(p->s);
	return mdb_put(txn, db->dbi[DB_WEBSESS], &k, &v, MDB_NOOVERWRITE) == 0 ?
	    0 : -1;
}

/*
 * Creates a session for user valid for ttl seconds: id gets the cookie
 * value (hex of 256 random bits), out the record (with a fresh CSRF token).
 */
int
db_websess_create(struct db *db, const char *user, const char *address,
    int64_t ttl, char id[DB_WEBSESS_HEX], struct db_websession *out)
{
	struct websess_put	p;
	unsigned char		rnd[DB_WEBSESS_ID_BYTES];
	int			rc;

	if (sodium_init() < 0 || ttl <= 0)
		return -1;
	memset(&p, 0, sizeof(p));
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(id, DB_WEBSESS_HEX, rnd, sizeof(rnd));
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(p.s.csrf, sizeof(p.s.csrf), rnd, sizeof(rnd));
	sodium_memzero(rnd, sizeof(rnd));
	websess_key(id, p.key);
	p.s.version = DB_RECORD_VERSION;
	db_strlcpy(p.s.user, user, sizeof(p.s.user));
	db_strlcpy(p.s.address, address ? address : "", sizeof(p.s.address));
	p.s.created = db_now();
	p.s.expires = p.s.created + ttl;
	rc = db_admin_write(db, websess_put_txn, &p);
	if (rc == 0 && out != NULL)
		*out = p.s;
	if (rc != 0)
		sodium_memzero(id, DB_WEBSESS_HEX);
	sodium_memzero(&p, sizeof(p));
	return rc == 0 ? 0 : -1;
}

/*
 * Looks a session up by its cookie value: 0 valid, 1 unknown or expired
 * (an expired record is left for db_websess_purge), -1 error.
 */
int
db_websess_get(struct db *db, const char *id, struct db_websession *out)
{
	unsigned char	 key[crypto_hash_sha256_BYTES];
	MDB_txn		*txn;
	MDB_val		 k, v;
	int		 rc;

	if (sodium_init() < 0)
		return -1;
	if (!db_websess_id_valid(id))
		return 1;
	websess_key(id, key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	if (db_txn_begin(db, 1, &txn) != 0)
		return -1;
	rc = mdb_get(txn, db->dbi[DB_WEBSESS], &k, &v);
	if (rc == 0 && v.mv_size == sizeof(*out)) {
		memcpy(out, v.mv_data, sizeof(*out));
		out->user[DB_USER_LEN - 1] = '\0';
		out->csrf[sizeof(out->csrf) - 1] = '\0';
		out->address[DB_ADDR_LEN - 1] = '\0';
		rc = out->expires > db_now() ? 0 : 1;
	} else if (rc == MDB_NOTFOUND || rc == 0) {
		rc = 1;
	} else {
		rc = -1;
	}
	mdb_txn_abort(txn);
	return rc;
}

/* Deletes the record under key. */
static int
websess_del_txn(MDB_txn *txn, struct db *db, void *arg)
{
	MDB_val	k;
	int	rc;

	k.mv_data = arg;
	k.mv_size = crypto_hash_sha256_BYTES;
	rc = mdb_del(txn, db->dbi[DB_WEBSESS], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 1;
	return rc == 0 ? 0 : -1;
}

/* Ends a session (logout): 0 deleted, 1 unknown, -1 error. */
int
db_websess_delete(struct db *db, const char *id)
{
	unsigned char	key[crypto_hash_sha256_BYTES];

	if (sodium_init() < 0)
		return -1;
	if (!db_websess_id_valid(id))
		return 1;
	websess_key(id, key);
	return db_admin_write(db, websess_del_txn, key);
}

struct websess_sweep {
	const char	*user;		/* delete this user's sessions, or */
	int64_t		 now;		/* those expired at now */
	size_t		 n;
};

/* Deletes every matching session record in one pass. */
static int
websess_sweep_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct websess_sweep	*w = arg;
	struct db_websession	 s;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int			 op, del;

	w->n = 0;
	if (mdb_cursor_open(txn, db->dbi[DB_WEBSESS], &cur) != 0)
		return -1;
	for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
	    op = MDB_NEXT) {
		if (v.mv_size != sizeof(s)) {
			del = 1;
		} else {
			memcpy(&s, v.mv_data, sizeof(s));
			s.user[DB_USER_LEN - 1] = '\0';
			if (w->user != NULL)
				del = strcmp(s.user, w->user) == 0;
			else
				del = s.expires <= w->now;
		}
		if (del && mdb_cursor_del(cur, 0) == 0)
			w->n++;
	}
	mdb_cursor_close(cur);
	return 0;
}

/* Ends every session of user (user deleted or password changed). */
int
db_websess_delete_user(struct db *db, const char *user, size_t *n)
{
	struct websess_sweep	w = { user, 0, 0 };
	int			rc;

	rc = db_admin_write(db, websess_sweep_txn, &w);
	if (n != NULL)
		*n = w.n;
	return rc;
}

/* Deletes the sessions that expired at or before now. */
int
db_websess_purge(struct db *db, int64_t now, size_t *n)
{
	struct websess_sweep	w = { NULL, now, 0 };
	int			rc;

	rc = db_admin_write(db, websess_sweep_txn, &w);
	if (n != NULL)
		*n = w.n;
	return rc;
}

/*
 * The public handle of a session: hex of 8 bytes of BLAKE2b over its table
 * key.  It names a session in lists and revocations; being a hash of the
 * key (itself a hash of the cookie), it cannot be turned into either.
 */
static void
websess_handle(const unsigned char key[crypto_hash_sha256_BYTES],
    char out[DB_WEBSESS_HANDLE_HEX])
{
	unsigned char	h[(DB_WEBSESS_HANDLE_HEX - 1) / 2];

	crypto_generichash(h, sizeof(h), key, crypto_hash_sha256_BYTES,
	    (const unsigned char *)"gotunnel-websess", 16);
	sodium_bin2hex(out, DB_WEBSESS_HANDLE_HEX, h, sizeof(h));
}

/* The handle of the session whose cookie value is id ("" if invalid). */
void
db_websess_handle(const char *id, char out[DB_WEBSESS_HANDLE_HEX])
{
	unsigned char	key[crypto_hash_sha256_BYTES];

	out[0] = '\0';
	if (sodium_init() < 0 || !db_websess_id_valid(id))
		return;
	websess_key(id, key);
	websess_handle(key, out);
}

/* Calls cb for each unexpired session (of user, or all when NULL). */
int
db_websess_list(struct db *db, const char *user,
    void (*cb)(const char *handle, const struct db_websession *, void *),
    void *arg)
{
	struct db_websession	 s;
	char			 handle[DB_WEBSESS_HANDLE_HEX];
	MDB_txn			*txn;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int64_t			 now = db_now();
	int			 op;

	if (sodium_init() < 0 || db_txn_begin(db, 1, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, db->dbi[DB_WEBSESS], &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
	    op = MDB_NEXT) {
		if (v.mv_size != sizeof(s) ||
		    k.mv_size != crypto_hash_sha256_BYTES)
			continue;
		memcpy(&s, v.mv_data, sizeof(s));
		s.user[DB_USER_LEN - 1] = '\0';
		s.address[DB_ADDR_LEN - 1] = '\0';
		if (s.expires <= now || (user != NULL && strcmp(s.user, user)))
			continue;
		websess_handle(k.mv_data, handle);
		/* The CSRF token stays with its session. */
		sodium_memzero(s.csrf, sizeof(s.csrf));
		cb(handle, &s, arg);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

struct websess_revoke {
	const char		*handle;
	const char		*owner;		/* NULL: any user's */
	struct db_websession	 s;		/* out: the revoked session */
};

/* Deletes the session with a handle: 0, 1 unknown, 2 not owner's. */
static int
websess_revoke_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct websess_revoke	*r = arg;
	char			 handle[DB_WEBSESS_HANDLE_HEX];
	MDB_cursor		*cur;
	MDB_val			 k, v;
	int			 op, rc = 1;

	if (mdb_cursor_open(txn, db->dbi[DB_WEBSESS], &cur) != 0)
		return -1;
	for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
	    op = MDB_NEXT) {
		if (v.mv_size != sizeof(r->s) ||
		    k.mv_size != crypto_hash_sha256_BYTES)
			continue;
		websess_handle(k.mv_data, handle);
		if (strcmp(handle, r->handle) != 0)
			continue;
		memcpy(&r->s, v.mv_data, sizeof(r->s));
		r->s.user[DB_USER_LEN - 1] = '\0';
		sodium_memzero(r->s.csrf, sizeof(r->s.csrf));
		if (r->owner != NULL && strcmp(r->s.user, r->owner) != 0)
			rc = 2;
		else
			rc = mdb_cursor_del(cur, 0) == 0 ? 0 : -1;
		break;
	}
	mdb_cursor_close(cur);
	return rc;
}

/*
 * Revokes the session named by handle: 0 done (out filled), 1 no such
 * session, 2 it belongs to a user other than owner (owner NULL: anyone's),
 * -1 error.
 */
int
db_websess_revoke(struct db *db, const char *handle, const char *owner,
    struct db_websession *out)
{
	struct websess_revoke	r;
	int			rc;

	if (sodium_init() < 0)
		return -1;
	if (strlen(handle) != DB_WEBSESS_HANDLE_HEX - 1)
		return 1;
	memset(&r, 0, sizeof(r));
	r.handle = handle;
	r.owner = owner;
	rc = db_admin_write(db, websess_revoke_txn, &r);
	if (rc != -1 && out != NULL)
		*out = r.s;
	return rc;
}
