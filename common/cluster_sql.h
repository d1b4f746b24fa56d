/* SPDX-License-Identifier: ISC */
/* cluster_sql.h: users and credentials in PostgreSQL (cluster_sql.c). */
#ifndef GOTUNNEL_CLUSTER_SQL_H
#define GOTUNNEL_CLUSTER_SQL_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "db_token.h"

/* Columns of cluster_sql_auth_poll()'s rows. */
enum {
	CLUSTER_SQL_COL_REV, CLUSTER_SQL_COL_KIND, CLUSTER_SQL_COL_NAME,
	CLUSTER_SQL_COL_DELETED, CLUSTER_SQL_COL_HASH, CLUSTER_SQL_COL_ROLE,
	CLUSTER_SQL_COL_CREATED, CLUSTER_SQL_COL_UPDATED,
	CLUSTER_SQL_COL_REVOKED, CLUSTER_SQL_COL_REVOKED_AT,
	CLUSTER_SQL_COL_GENERATION, CLUSTER_SQL_COL_EXPIRES,
	CLUSTER_SQL_COL_MAX_MAPPINGS, CLUSTER_SQL_COL_PORTS,
	CLUSTER_SQL_COL_ALLOW, CLUSTER_SQL_COL_DENY, CLUSTER_SQL_COL_TOTP,
	CLUSTER_SQL_NCOLS
};

/* A TOTP secret in hex (db_user.totp: 64 bytes at most) and its NUL. */
#define CLUSTER_SQL_TOTP_HEX	129

void	 cluster_sql_totp_hex(const unsigned char *, size_t,
	    char out[CLUSTER_SQL_TOTP_HEX]);
char	*cluster_sql_user_totp(PGconn *, const char *name,
	    const struct db_user *);
char	*cluster_sql_user_put(PGconn *, const struct db_user *);
char	*cluster_sql_user_del(PGconn *, const char *name);
char	*cluster_sql_token_put(PGconn *, const struct db_token *);
char	*cluster_sql_auth_poll(int64_t known, int limit);

#endif
