/* SPDX-License-Identifier: ISC */
/*
 * db_user.c: console users (table "users"): argon2id password hashes, a
 * role, and an optional TOTP secret with the last step used.
 */
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

static const char *const user_roles[] = {
	[DB_ROLE_VIEWER] = "viewer",
	[DB_ROLE_OPERATOR] = "operator",
	[DB_ROLE_ADMIN] = "admin",
};

/* The name of a role ("viewer", "operator", "admin"). */
const char *
db_user_role_name(uint32_t role)
{
	if (role < DB_ROLE_VIEWER || role > DB_ROLE_ADMIN)
		role = DB_ROLE_ADMIN;
	return user_roles[role];
}

/* A role from its name, DB_ROLE_NONE when s names none. */
enum db_role
db_user_role_parse(const char *s)
{
	for (int r = DB_ROLE_VIEWER; r <= DB_ROLE_ADMIN; r++)
		if (strcmp(s, user_roles[r]) == 0)
			return (enum db_role)r;
	return DB_ROLE_NONE;
}

/*
 * Decodes a stored record into out: 0 ok, -1 when its size is neither
 * layout.  A record from before roles reads as an admin without TOTP.
 */
static int
user_decode(const MDB_val *v, struct db_user *out)
{
	memset(out, 0, sizeof(*out));
	if (v->mv_size == sizeof(*out))
		memcpy(out, v->mv_data, sizeof(*out));
	else if (v->mv_size == DB_USER_V1_SIZE)
		memcpy(out, v->mv_data, DB_USER_V1_SIZE);
	else
		return -1;
	out->name[DB_USER_LEN - 1] = '\0';
	out->hash[DB_HASH_LEN - 1] = '\0';
	if (out->role < DB_ROLE_VIEWER || out->role > DB_ROLE_ADMIN)
		out->role = DB_ROLE_ADMIN;
	if (out->totp_len > sizeof(out->totp))
		out->totp_len = 0;
	return 0;
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
	if (rc != 0)
		return -1;
	return user_decode(&v, out);
}

/* Writes u (the current layout) under its name inside txn. */
static int
user_write_txn(MDB_txn *txn, struct db *db, struct db_user *u)
{
	MDB_val	k, v;

	u->version = DB_USER_VERSION;
	k.mv_data = u->name;
	k.mv_size = strlen(u->name);
	v.mv_data = u;
	v.mv_size = sizeof(*u);
	return mdb_put(txn, db->dbi[DB_USERS], &k, &v, 0) == 0 ? 0 : -1;
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

/*
 * Stores a user record; add refuses an existing name (1), a password
 * change keeps the role and the second factor.
 */
static int
user_put_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct user_put	*p = arg;
	struct db_user	 old;
	int		 rc;

	rc = user_get_txn(txn, db, p->u.name, &old);
	if (rc == -1)
		return -1;
	if (p->mode == 0 && rc == 0)
		return 1;
	if (p->mode == 1 && rc == 1)
		return 1;
	if (rc == 0) {
		p->u.created = old.created;
		p->u.role = old.role;
		p->u.totp_len = old.totp_len;
		memcpy(p->u.totp, old.totp, sizeof(p->u.totp));
		p->u.totp_last = old.totp_last;
		sodium_memzero(&old, sizeof(old));
	}
	return user_write_txn(txn, db, &p->u);
}

/* Writes a user with a fresh hash: mode 0 add (1 if it exists), 1 passwd. */
static int
user_store(struct db *db, const char *name, const char *password,
    enum db_role role, int mode)
{
	struct user_put	p;
	int		rc;

	if (!db_user_name_valid(name))
		return -1;
	memset(&p, 0, sizeof(p));
	p.mode = mode;
	p.u.role = role;
	db_strlcpy(p.u.name, name, sizeof(p.u.name));
	if (db_user_hash(password, p.u.hash) == -1)
		return -1;
	p.u.created = p.u.updated = db_now();
	rc = db_admin_write(db, user_put_txn, &p);
	sodium_memzero(&p, sizeof(p));
	return rc;
}

/* Adds a user with a role: 0 ok, 1 the name exists, -1 error. */
int
db_user_add(struct db *db, const char *name, const char *password,
    enum db_role role)
{
	if (role < DB_ROLE_VIEWER || role > DB_ROLE_ADMIN)
		return -1;
	return user_store(db, name, password, role, 0);
}

/* Changes a password: 0 ok, 1 no such user, -1 error. */
int
db_user_passwd(struct db *db, const char *name, const char *password)
{
	return user_store(db, name, password, DB_ROLE_NONE, 1);
}

/* One change to an existing user, applied by user_change_txn. */
struct user_change {
	const char		*name;
	enum { CHANGE_ROLE, CHANGE_TOTP, CHANGE_TOTP_USE } what;
	uint32_t		 role;
	const unsigned char	*secret;
	size_t			 len;
	int64_t			 step;
};

/* Applies a user_change: 0 done, 1 no such user (or a replayed step). */
static int
user_change_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct user_change	*c = arg;
	struct db_user		 u;
	int			 rc;

	if ((rc = user_get_txn(txn, db, c->name, &u)) != 0)
		return rc;
	switch (c->what) {
	case CHANGE_ROLE:
		u.role = c->role;
		break;
	case CHANGE_TOTP:
		memset(u.totp, 0, sizeof(u.totp));
		if (c->len > 0)
			memcpy(u.totp, c->secret, c->len);
		u.totp_len = (uint32_t)c->len;
		u.totp_last = 0;
		break;
	case CHANGE_TOTP_USE:
		/* Decided inside the write transaction: two workers racing
		 * with one code cannot both win. */
		if (u.totp_len == 0 || c->step <= u.totp_last) {
			sodium_memzero(&u, sizeof(u));
			return 1;
		}
		u.totp_last = c->step;
		break;
	}
	u.updated = db_now();
	rc = user_write_txn(txn, db, &u);
	sodium_memzero(&u, sizeof(u));
	return rc;
}

/* Sets a user's role: 0 ok, 1 no such user, -1 error. */
int
db_user_set_role(struct db *db, const char *name, enum db_role role)
{
	struct user_change	c = { .name = name, .what = CHANGE_ROLE,
	    .role = role };

	if (!db_user_name_valid(name))
		return 1;
	if (role < DB_ROLE_VIEWER || role > DB_ROLE_ADMIN)
		return -1;
	return db_admin_write(db, user_change_txn, &c);
}

/* Enrols a TOTP secret (len 0: removes it): 0 ok, 1 no such user, -1 error. */
int
db_user_totp_set(struct db *db, const char *name, const unsigned char *secret,
    size_t len)
{
	struct user_change	c = { .name = name, .what = CHANGE_TOTP,
	    .secret = secret, .len = len };

	if (!db_user_name_valid(name))
		return 1;
	if (len > sizeof(((struct db_user *)0)->totp))
		return -1;
	return db_admin_write(db, user_change_txn, &c);
}

/*
 * Marks TOTP step as used by name: 0 ok, 1 when it is not later than the
 * last one used (a replay) or the user has no TOTP, -1 error.
 */
int
db_user_totp_use(struct db *db, const char *name, int64_t step)
{
	struct user_change	c = { .name = name, .what = CHANGE_TOTP_USE,
	    .step = step };

	if (!db_user_name_valid(name))
		return 1;
	return db_admin_write(db, user_change_txn, &c);
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
		if (user_decode(&v, &u) == -1)
			continue;
		/* Callers see whether TOTP is on, never the secrets. */
		memset(u.hash, 0, sizeof(u.hash));
		memset(u.totp, 0, sizeof(u.totp));
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

/* A user row from PostgreSQL to copy (cluster mode), and what it changed. */
struct user_mirror {
	const struct db_user	*in;
	int			 deleted;
	int			 totp_known;	/* 0: keep this node's TOTP */
	int			 ended;		/* out: its console sessions end */
};

/* Tells whether u's TOTP enrolment differs from in's: 1 or 0. */
static int
user_totp_differs(const struct db_user *u, const struct db_user *in)
{
	return u->totp_len != in->totp_len || (in->totp_len > 0 &&
	    sodium_memcmp(u->totp, in->totp, in->totp_len) != 0);
}

/*
 * Applies a user_mirror.  The TOTP secret is the cluster's when the row
 * names one (or none: off); the last step used stays this node's own
 * (replay protection is per node), restarting only with a new secret.
 */
static int
user_mirror_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct user_mirror	*m = arg;
	struct db_user		 u;
	MDB_val			 k;
	int			 rc;

	if ((rc = user_get_txn(txn, db, m->in->name, &u)) == -1)
		return -1;
	if (m->deleted) {
		if (rc == 1)
			return 2;
		k.mv_data = u.name;
		k.mv_size = strlen(u.name);
		m->ended = 1;
		rc = mdb_del(txn, db->dbi[DB_USERS], &k, NULL) == 0 ? 0 : -1;
	} else if (rc == 0 && strcmp(u.hash, m->in->hash) == 0 &&
	    u.role == m->in->role && u.created == m->in->created &&
	    (!m->totp_known || !user_totp_differs(&u, m->in)))
		rc = 2;			/* already the same: nothing to write */
	else {
		if (rc == 1)
			memset(&u, 0, sizeof(u));
		else
			m->ended = strcmp(u.hash, m->in->hash) != 0;
		db_strlcpy(u.name, m->in->name, sizeof(u.name));
		db_strlcpy(u.hash, m->in->hash, sizeof(u.hash));
		u.role = m->in->role;
		u.created = m->in->created;
		u.updated = m->in->updated;
		if (m->totp_known && user_totp_differs(&u, m->in)) {
			memset(u.totp, 0, sizeof(u.totp));
			memcpy(u.totp, m->in->totp, m->in->totp_len);
			u.totp_len = m->in->totp_len;
			u.totp_last = 0;
		}
		rc = user_write_txn(txn, db, &u);
	}
	sodium_memzero(&u, sizeof(u));
	return rc;
}

/*
 * Copies a user from the cluster's store (name, hash, role, created,
 * updated, and with totp_known its TOTP secret, totp_len 0 for none;
 * deleted: removes it).  Sets *ended when the user's console sessions
 * must end (deleted, or a new password).  0 ok, -1 error.
 */
int
db_user_mirror(struct db *db, const struct db_user *in, int deleted,
    int totp_known, int *ended)
{
	struct user_mirror	m = { .in = in, .deleted = deleted,
	    .totp_known = totp_known };
	int			rc;

	*ended = 0;
	if (in->totp_len > sizeof(in->totp) || !db_user_name_valid(in->name) ||
	    (!deleted && (in->role < DB_ROLE_VIEWER || in->role > DB_ROLE_ADMIN ||
	    strncmp(in->hash, "$argon2id$", 10) != 0)))
		return -1;
	rc = db_admin_write(db, user_mirror_txn, &m);
	*ended = m.ended && rc == 0;
	return rc == 2 ? 0 : rc;
}
