/* SPDX-License-Identifier: ISC */
/* db_token.c: per-client credentials in LMDB (tables "tokens" and "token_idx"). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "db_admin.h"
#include "db_token.h"
#include "portrange.h"

/* Domain separation: the stored hash is of a gotunnel credential, nothing else. */
static const unsigned char token_hash_key[] = "gotunnel credential v1";

/* A credential name: 1..32 of [A-Za-z0-9._-], not starting with '-' or '.'. */
int
db_token_name_valid(const char *name)
{
	size_t	n = strnlen(name, DB_TOKEN_NAME_LEN);

	if (n == 0 || n >= DB_TOKEN_NAME_LEN || name[0] == '-' || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Checks name, ports, limits and CIDR lists of a new credential; -1 with err. */
int
db_token_check(const struct db_token *t, char *err, size_t errlen)
{
	struct portrange	 pr;
	struct cidr_list	 cl;
	const char		*perr;
	char			 cerr[160];

	if (!db_token_name_valid(t->name)) {
		snprintf(err, errlen, "bad credential name (1 to 32 of "
		    "A-Z a-z 0-9 . _ -, not starting with . or -)");
		return -1;
	}
	if (t->ports[0] != '\0' && portrange_parse(t->ports, &pr, &perr) == -1) {
		snprintf(err, errlen, "ports: %s", perr);
		return -1;
	}
	if (t->max_mappings < 0 || t->max_mappings > 1000000) {
		snprintf(err, errlen, "max_mappings must be a number from 0 "
		    "(no limit) to 1000000");
		return -1;
	}
	if (t->expires < 0) {
		snprintf(err, errlen, "bad expiry");
		return -1;
	}
	if (cidr_list_parse(t->allow, &cl, cerr, sizeof(cerr)) == -1) {
		snprintf(err, errlen, "allow: %s", cerr);
		return -1;
	}
	if (cidr_list_parse(t->deny, &cl, cerr, sizeof(cerr)) == -1) {
		snprintf(err, errlen, "deny: %s", cerr);
		return -1;
	}
	return 0;
}

/* Hashes a secret (keyed BLAKE2b-256): what the tables store and look up. */
void
db_token_hash(const char *secret, unsigned char out[DB_TOKEN_HASH_LEN])
{
	crypto_generichash(out, DB_TOKEN_HASH_LEN, (const unsigned char *)secret,
	    strlen(secret), token_hash_key, sizeof(token_hash_key) - 1);
}

/* Makes a fresh secret (base64url of 32 random bytes) and its hash. */
static void
token_new_secret(char secret[DB_TOKEN_SECRET_LEN],
    unsigned char hash[DB_TOKEN_HASH_LEN])
{
	unsigned char rnd[DB_TOKEN_SECRET_BYTES];

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2base64(secret, DB_TOKEN_SECRET_LEN, rnd, sizeof(rnd),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(rnd, sizeof(rnd));
	db_token_hash(secret, hash);
}

/* Reads a credential inside txn: 0 found, 1 not found, -1 error. */
int
db_token_get_txn(struct db *db, MDB_txn *txn, const char *name,
    struct db_token *out)
{
	MDB_val	k, v;
	int	rc;

	if (!db_token_name_valid(name))
		return 1;
	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	rc = mdb_get(txn, db->dbi[DB_TOKENS], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0 || v.mv_size != sizeof(*out))
		return -1;
	memcpy(out, v.mv_data, sizeof(*out));	/* LMDB aligns values to 2 bytes */
	out->name[DB_TOKEN_NAME_LEN - 1] = '\0';
	out->ports[DB_TOKEN_PORTS_LEN - 1] = '\0';
	out->allow[CIDR_STR_MAX - 1] = '\0';
	out->deny[CIDR_STR_MAX - 1] = '\0';
	return 0;
}

/* Reads a credential: 0 found, 1 not found, -1 error. */
int
db_token_get(struct db *db, const char *name, struct db_token *out)
{
	MDB_txn	*txn;
	int	 rc;

	if (db_txn_begin(db, 1, &txn) != 0)
		return -1;
	rc = db_token_get_txn(db, txn, name, out);
	mdb_txn_abort(txn);
	return rc;
}

/* Writes the record and its hash index entry. */
static int
token_put_txn(MDB_txn *txn, struct db *db, const struct db_token *t)
{
	MDB_val	k, v;

	k.mv_data = (void *)t->name;
	k.mv_size = strlen(t->name);
	v.mv_data = (void *)t;
	v.mv_size = sizeof(*t);
	if (db_put(db, txn, db->dbi[DB_TOKENS], &k, &v, 0) != 0)
		return -1;
	k.mv_data = (void *)t->hash;
	k.mv_size = DB_TOKEN_HASH_LEN;
	v.mv_data = (void *)t->name;
	v.mv_size = strlen(t->name);
	return db_put(db, txn, db->dbi[DB_TOKEN_IDX], &k, &v, 0) == 0 ? 0 : -1;
}

/* Removes the hash index entry of a record (its secret stops working). */
static int
token_unindex_txn(MDB_txn *txn, struct db *db, const struct db_token *t)
{
	MDB_val	k = { .mv_size = DB_TOKEN_HASH_LEN, .mv_data = (void *)t->hash };
	int	rc = mdb_del(txn, db->dbi[DB_TOKEN_IDX], &k, NULL);

	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

struct token_op {
	struct db_token	*t;		/* add: the new record */
	const char	*name;		/* rotate, revoke */
	char		*secret;	/* add, rotate: out */
	int		 op;		/* 0 add, 1 rotate, 2 revoke */
};

/* One write transaction of add, rotate or revoke. */
static int
token_op_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct token_op	*o = arg;
	struct db_token	 cur;
	int		 rc;

	rc = db_token_get_txn(db, txn, o->op == 0 ? o->t->name : o->name, &cur);
	if (rc == -1)
		return -1;
	if (o->op == 0) {
		/* A revoked name may be issued again; a live one may not. */
		if (rc == 0 && !cur.revoked)
			return 1;
		if (rc == 0 && token_unindex_txn(txn, db, &cur) == -1)
			return -1;
		token_new_secret(o->secret, o->t->hash);
		return token_put_txn(txn, db, o->t);
	}
	if (rc == 1)
		return 1;
	if (cur.revoked)
		return 2;
	if (o->op == 1) {
		if (token_unindex_txn(txn, db, &cur) == -1)
			return -1;
		token_new_secret(o->secret, cur.hash);
		cur.generation++;
	} else {
		/* Still indexed: its secret is answered "credential revoked". */
		cur.revoked = 1;
		cur.revoked_at = db_now();
	}
	return token_put_txn(txn, db, &cur);
}

/*
 * Stores a new credential (name, ports, expires, max_mappings, allow, deny
 * filled in and checked) and writes its secret: 0, 1 the name exists, -1.
 */
int
db_token_add(struct db *db, struct db_token *t, char secret[DB_TOKEN_SECRET_LEN])
{
	struct token_op	o = { .t = t, .secret = secret, .op = 0 };

	if (sodium_init() < 0)
		return -1;
	t->version = DB_RECORD_VERSION;
	t->revoked = 0;
	t->generation = 1;
	t->created = db_now();
	t->last_used = t->revoked_at = 0;
	return db_admin_write(db, token_op_txn, &o);
}

/* Gives a credential a new secret; the old one stops working: 0, 1, 2 revoked, -1. */
int
db_token_rotate(struct db *db, const char *name, char secret[DB_TOKEN_SECRET_LEN])
{
	struct token_op	o = { .name = name, .secret = secret, .op = 1 };

	if (sodium_init() < 0)
		return -1;
	if (!db_token_name_valid(name))
		return 1;
	return db_admin_write(db, token_op_txn, &o);
}

/* Revokes a credential (kept in the list as revoked): 0, 1, 2 already, -1. */
int
db_token_revoke(struct db *db, const char *name)
{
	struct token_op	o = { .name = name, .op = 2 };

	if (!db_token_name_valid(name))
		return 1;
	return db_admin_write(db, token_op_txn, &o);
}

/*
 * Finds the live credential of a secret inside txn: 0 found, 1 not.
 * The lookup key is a keyed hash of the secret, so the B-tree search
 * compares hashes, not secrets (no timing oracle on the secret); the
 * stored hash is compared again in constant time.
 */
int
db_token_find(struct db *db, MDB_txn *txn, const char *secret,
    struct db_token *out)
{
	unsigned char	 h[DB_TOKEN_HASH_LEN];
	char		 name[DB_TOKEN_NAME_LEN];
	MDB_val		 k = { .mv_size = sizeof(h), .mv_data = h }, v;

	if (secret[0] == '\0')
		return 1;
	db_token_hash(secret, h);
	if (mdb_get(txn, db->dbi[DB_TOKEN_IDX], &k, &v) != 0 ||
	    v.mv_size == 0 || v.mv_size >= sizeof(name))
		return 1;
	memcpy(name, v.mv_data, v.mv_size);
	name[v.mv_size] = '\0';
	if (db_token_get_txn(db, txn, name, out) != 0 ||
	    sodium_memcmp(out->hash, h, sizeof(h)) != 0)
		return 1;
	return 0;
}

/* Records a register with the credential (last_used) inside a write txn. */
int
db_token_touch(struct db *db, MDB_txn *txn, const char *name, int64_t when)
{
	struct db_token	t;
	MDB_val		k, v;

	if (db_token_get_txn(db, txn, name, &t) != 0 || t.last_used >= when)
		return 0;
	t.last_used = when;
	k.mv_data = (void *)t.name;
	k.mv_size = strlen(t.name);
	v.mv_data = &t;
	v.mv_size = sizeof(t);
	return db_put(db, txn, db->dbi[DB_TOKENS], &k, &v, 0);
}

/* Calls cb for each credential in name order (hash cleared). */
int
db_token_list(struct db *db, void (*cb)(const struct db_token *, void *),
    void *arg)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct db_token	 t;

	if (db_txn_begin(db, 1, &txn) != 0)
		return -1;
	if (mdb_cursor_open(txn, db->dbi[DB_TOKENS], &cur) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
	    op = MDB_NEXT) {
		if (v.mv_size != sizeof(t))
			continue;
		memcpy(&t, v.mv_data, sizeof(t));
		t.name[DB_TOKEN_NAME_LEN - 1] = '\0';
		t.ports[DB_TOKEN_PORTS_LEN - 1] = '\0';
		t.allow[CIDR_STR_MAX - 1] = '\0';
		t.deny[CIDR_STR_MAX - 1] = '\0';
		memset(t.hash, 0, sizeof(t.hash));
		cb(&t, arg);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

/* "active", "expired" or "revoked". */
const char *
db_token_state(const struct db_token *t, int64_t now)
{
	if (t->revoked)
		return "revoked";
	if (t->expires != 0 && now >= t->expires)
		return "expired";
	return "active";
}

/* A credential row from PostgreSQL to copy (cluster mode), and its effect. */
struct token_mirror {
	const struct db_token	*in;
	int			 kick;		/* out: the old secret's sessions end */
};

/* Applies a token_mirror: last_used stays this node's own. */
static int
token_mirror_txn(MDB_txn *txn, struct db *db, void *arg)
{
	struct token_mirror	*m = arg;
	struct db_token		 cur, t = *m->in;
	int			 rc;

	if ((rc = db_token_get_txn(db, txn, t.name, &cur)) == -1)
		return -1;
	if (rc == 0) {
		t.last_used = cur.last_used;
		if (memcmp(&cur, &t, sizeof(t)) == 0)
			return 2;	/* already the same */
		/* A revoke or a new secret: the sessions of the old one end. */
		m->kick = (t.revoked && !cur.revoked) ||
		    sodium_memcmp(cur.hash, t.hash, sizeof(t.hash)) != 0;
		if (sodium_memcmp(cur.hash, t.hash, sizeof(t.hash)) != 0 &&
		    token_unindex_txn(txn, db, &cur) == -1)
			return -1;
	}
	return token_put_txn(txn, db, &t);
}

/*
 * Copies a credential from the cluster's store (every field but
 * last_used).  Sets *kick when sessions of its old secret must end (it
 * was revoked or rotated).  0 ok, -1 error.
 */
int
db_token_mirror(struct db *db, const struct db_token *in, int *kick)
{
	struct db_token		t;
	struct token_mirror	m = { .in = &t };
	char			err[200];
	int			rc;

	*kick = 0;
	/* A zeroed copy: the comparison above sees no stray padding bytes. */
	memset(&t, 0, sizeof(t));
	t.version = DB_RECORD_VERSION;
	t.revoked = in->revoked ? 1 : 0;
	memcpy(t.name, in->name, sizeof(t.name));
	memcpy(t.hash, in->hash, sizeof(t.hash));
	t.generation = in->generation;
	t.created = in->created;
	t.expires = in->expires;
	t.revoked_at = in->revoked_at;
	t.max_mappings = in->max_mappings;
	memcpy(t.ports, in->ports, sizeof(t.ports));
	memcpy(t.allow, in->allow, sizeof(t.allow));
	memcpy(t.deny, in->deny, sizeof(t.deny));
	if (db_token_check(&t, err, sizeof(err)) == -1)
		return -1;
	rc = db_admin_write(db, token_mirror_txn, &m);
	*kick = m.kick && rc == 0;
	return rc == 2 ? 0 : rc;
}
