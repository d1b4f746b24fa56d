/* SPDX-License-Identifier: ISC */
/* db_user.c: console users with argon2id password hashes (table "users"). */
#include <string.h>

#include <sodium.h>

#include "db.h"
#include "db_admin.h"
#include "log.h"

/* A hash of a random password, verified when the user does not exist. */
static char	user_dummy_hash[DB_HASH_LEN];

/*
 * Runs fn inside a write transaction and commits; when the map was full,
 * the commit grew it and the whole transaction runs once more.
 * fn returns 0 to commit, anything else to abort (that value is returned).
 */
int
db_admin_write(struct db *db, int (*fn)(MDB_txn *, struct db *, void *),
    void *arg)
{
	MDB_txn	*txn;
	int	 rc, tries;

	for (tries = 0; tries < 2; tries++) {
		if (db_txn_begin(db, 0, &txn) != 0)
			return -1;
		if ((rc = fn(txn, db, arg)) != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
		rc = db_txn_commit(db, txn);
		if (rc == 0)
			return 0;
		if (rc != MDB_MAP_FULL)
			return -1;
	}
	return -1;
}

/* A user name: 1..63 of [A-Za-z0-9._@-], not starting with '-' or '.'. */
int
db_user_name_valid(const char *name)
{
	size_t	n = strlen(name);

	if (n == 0 || n >= DB_USER_LEN || name[0] == '-' || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-' || c == '@'))
			return 0;
	}
	return 1;
}

/* Hashes a password with argon2id into out (crypto_pwhash_str format). */
int
db_user_hash(const char *password, char out[DB_HASH_LEN])
{
	size_t	len = strlen(password);

	if (sodium_init() < 0 || len == 0 || len > DB_PASSWORD_MAX)
		return -1;
	if (crypto_pwhash_str_alg(out, password, len, DB_PWHASH_OPSLIMIT,
	    DB_PWHASH_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		log_warnx("password hash: out of memory");
		return -1;
	}
	return 0;
}

/* Checks a password against a stored hash: 0 match, -1 otherwise. */
int
db_user_verify_hash(const char *hash, const char *password)
{
	size_t	len = strlen(password);

	if (sodium_init() < 0 || len > DB_PASSWORD_MAX ||
	    memchr(hash, '\0', DB_HASH_LEN) == NULL)
		return -1;
	return crypto_pwhash_str_verify(hash, password, len) == 0 ? 0 : -1;
}

/* Reads one user inside txn: 0 found, 1 not found, -1 error. */
static int
user_get_txn(MDB_txn *txn, struct db *db, const char *name,
    struct db_user *out)
{
	MDB_val	k, v;
	int	rc;

	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	rc = mdb_get(txn, db->dbi[DB_USERS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0 || v.mv_size != sizeof(*out))
		return -1;
	memcpy(out, v.mv_data, sizeof(*out));
	out->name[DB_USER_LEN - 1] = '\0';
	out->hash[DB_HASH_LEN - 1] = '\0';
	return 0;
}

/* Reads one user: 0 found, 1 not found, -1 error. */
int
db_user_get(struct db *db, const char *name, struct db_user *out)
{
	MDB_txn	*txn;
	int	 rc;

	if (!db_user_name_valid(name))
		return 1;
	if (db_txn_begin(db, 1, &txn) != 0)
		return -1;
	rc = user_get_txn(txn, db, name, out);
	mdb_txn_abort(txn);
	return rc;
}

struct user_put {
	struct db_user	 u;
	int		 mode;		/* 0 add, 1 replace existing */
};

/* Stores a user record; add refuses an existing name (1). */
static int
user_put_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct user_put	*p = arg;
	struct db_user	 old;
	MDB_val		 k, v;
	int		 rc;

	rc = user_get_txn(txn, db, p->u.name, &old);
	if (rc == -1)
		return -1;
	if (p->mode == 0 && rc == 0)
		return 1;
	if (p->mode == 1 && rc == 1)
		return 1;
	if (rc == 0)
		p->u.created = old.created;
	k.mv_data = p->u.name;
	k.mv_size = strlen(p->u.name);
	v.mv_data = &p->u;
	v.mv_size = sizeof(p->u);
	return mdb_put(txn, db->dbi[DB_USERS], &k, &v, 0) == 0 ? 0 : -1;
}

/* Writes a user with a fresh hash: mode 0 add (1 if it exists), 1 passwd. */
static int
user_store(struct db *db, const char *name, const char *password, int mode)
{
	struct user_put	p;
	int		rc;

	if (!db_user_name_valid(name))
		return -1;
	memset(&p, 0, sizeof(p));
	p.mode = mode;
	p.u.version = DB_RECORD_VERSION;
	db_strlcpy(p.u.name, name, sizeof(p.u.name));
	if (db_user_hash(password, p.u.hash) == -1)
		return -1;
	p.u.created = p.u.updated = db_now();
	rc = db_admin_write(db, user_put_txn, &p);
	sodium_memzero(&p, sizeof(p));
	return rc;
}

/* Adds a user: 0 ok, 1 the name exists, -1 error. */
int
db_user_add(struct db *db, const char *name, const char *password)
{
	return user_store(db, name, password, 0);
}

/* Changes a password: 0 ok, 1 no such user, -1 error. */
int
db_user_passwd(struct db *db, const char *name, const char *password)
{
	return user_store(db, name, password, 1);
}

/* Deletes a user in txn. */
static int
user_del_txn(MDB_txn *txn, struct db *db, void *arg)
{
	MDB_val	k;
	int	rc;

	k.mv_data = arg;
	k.mv_size = strlen(arg);
	rc = mdb_del(txn, db->dbi[DB_USERS], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 1;
	return rc == 0 ? 0 : -1;
}

/* Deletes a user: 0 ok, 1 no such user, -1 error. */
int
db_user_del(struct db *db, const char *name)
{
	if (!db_user_name_valid(name))
		return 1;
	return db_admin_write(db, user_del_txn, (void *)name);
}

/*
 * Checks a login: 0 when the user exists and the password matches, -1
 * otherwise.  An unknown user is verified against a dummy hash so that
 * both failures take about the same time.
 */
int
db_user_check(struct db *db, const char *name, const char *password)
{
	struct db_user	u;
	int		rc;

	if (sodium_init() < 0)
		return -1;
	if (user_dummy_hash[0] == '\0') {
		unsigned char	rnd[16];
		char		pw[33];

		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
		if (db_user_hash(pw, user_dummy_hash) == -1)
			return -1;
	}
	rc = db_user_name_valid(name) ? db_user_get(db, name, &u) : 1;
	if (rc != 0) {
		(void)db_user_verify_hash(user_dummy_hash, password);
		return -1;
	}
	rc = db_user_verify_hash(u.hash, password);
	sodium_memzero(&u, sizeof(u));
	return rc;
}

/* Calls cb for each user in name order. */
int
db_user_list(struct db *db, void (*cb)(const struct db_user *, void *),
    void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct db_user	 u;
	int		 op;

	if (db_txn_begin(db, 1, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, db->dbi[DB_USERS], &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
	    op = MDB_NEXT) {
		if (v.mv_size != sizeof(u))
			continue;
		memcpy(&u, v.mv_data, sizeof(u));
		u.name[DB_USER_LEN - 1] = '\0';
		memset(u.hash, 0, sizeof(u.hash));
		cb(&u, arg);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

/* Counts the records of a table. */
int
db_admin_count(struct db *db, enum db_table t, size_t *n)
{
	MDB_txn	*txn;
	MDB_stat st;

	*n = 0;
	if (db_txn_begin(db, 1, &txn) != 0)
		return -1;
	if (mdb_stat(txn, db->dbi[t], &st) == 0)
		*n = st.ms_entries;
	mdb_txn_abort(txn);
	return 0;
}

/* Counts the users. */
int
db_user_count(struct db *db, size_t *n)
{
	return db_admin_count(db, DB_USERS, n);
}
