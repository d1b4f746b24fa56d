/* SPDX-License-Identifier: ISC */
/*
 * db_token.h: per-client credentials (tables "tokens" and "token_idx").
 *
 * A credential has a name, a random secret shown once (base64url of 32
 * bytes from libsodium) and limits: remote ports, an expiry, a number of
 * mappings, source-address allow and deny lists.  Only a hash of the
 * secret is stored; token_idx maps that hash to the name, so a register
 * finds its credential with one lookup by hash, never by comparing secrets.
 * A revoked credential stays listed (and indexed, so its secret is told
 * "credential revoked"); a rotate drops the old hash from the index.
 *
 * Functions return 0 on success, 1 for "not found" ("exists" for add),
 * 2 for "revoked" where noted, and -1 on a database or input error.
 */
#ifndef GOTUNNEL_DB_TOKEN_H
#define GOTUNNEL_DB_TOKEN_H

#include <stdint.h>
#include <stddef.h>

#include "cidr.h"
#include "db.h"

#define DB_TOKEN_NAME_LEN	33	/* 1..32 of [A-Za-z0-9._-] + NUL */
#define DB_TOKEN_SECRET_BYTES	32
#define DB_TOKEN_SECRET_LEN	44	/* base64url, no padding: 43 + NUL */
#define DB_TOKEN_HASH_LEN	32
#define DB_TOKEN_PORTS_LEN	256

/* One credential. */
struct db_token {
	uint32_t	version;
	uint32_t	revoked;		/* 1 once revoked */
	char		name[DB_TOKEN_NAME_LEN];
	unsigned char	hash[DB_TOKEN_HASH_LEN];	/* of the secret */
	char		pad[7];
	uint64_t	generation;		/* +1 at every rotate */
	int64_t		created;
	int64_t		expires;		/* unix seconds, 0 never */
	int64_t		last_used;		/* last register, 0 never */
	int64_t		revoked_at;
	int64_t		max_mappings;		/* 0 no limit */
	char		ports[DB_TOKEN_PORTS_LEN];	/* allow_ports syntax, "" any */
	char		allow[CIDR_STR_MAX];	/* CIDR list, "" everyone */
	char		deny[CIDR_STR_MAX];
};

int	 db_token_name_valid(const char *);
int	 db_token_check(const struct db_token *, char *err, size_t errlen);
void	 db_token_hash(const char *secret, unsigned char out[DB_TOKEN_HASH_LEN]);
int	 db_token_add(struct db *, struct db_token *,
	    char secret[DB_TOKEN_SECRET_LEN]);
int	 db_token_rotate(struct db *, const char *name,
	    char secret[DB_TOKEN_SECRET_LEN]);
int	 db_token_revoke(struct db *, const char *name);
int	 db_token_get(struct db *, const char *name, struct db_token *);
int	 db_token_get_txn(struct db *, MDB_txn *, const char *name,
	    struct db_token *);
int	 db_token_find(struct db *, MDB_txn *, const char *secret,
	    struct db_token *);
int	 db_token_touch(struct db *, MDB_txn *, const char *name, int64_t when);
int	 db_token_list(struct db *, void (*)(const struct db_token *, void *),
	    void *);
int	 db_token_mirror(struct db *, const struct db_token *, int *kick);
const char *db_token_state(const struct db_token *, int64_t now);

#endif
