/* SPDX-License-Identifier: ISC */
/*
 * ctl_cluster.c: gotunnelctl's writes of console users and credentials to
 * PostgreSQL in cluster mode ([cluster] database), so one `user add` or
 * `token revoke` works on every node: each master copies gt_users and
 * gt_tokens into its LMDB within a second or two (server/cluster_mirror.c).
 * The local LMDB is written too, as without a cluster, so this node sees
 * the change at once.  A command-line tool may wait: libpq's blocking calls.
 * A TOTP secret goes as a statement parameter, never in a statement's text.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "cluster_sql.h"
#include "ctl.h"
#include "db_admin.h"

/* Drops PostgreSQL's notices: not for the operator's terminal. */
static void
cluster_notice(void *arg, const char *message)
{
}

/* Connects to the cluster's database; NULL (and a message) when it cannot. */
PGconn *
ctl_cluster_open(const char *conninfo, const char *what)
{
	PGconn *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "%s: cluster store unavailable, nothing changed: "
		    "%s", what, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, cluster_notice, NULL);
	return conn;
}

/*
 * Runs one statement (sql taken) with $1 = param when param is not NULL;
 * *rows (when not NULL) gets the rows it changed.  0 ok, -1 with a message.
 */
static int
cluster_exec(PGconn *conn, char *sql, const char *param, int *rows,
    const char *what)
{
	const char	*params[1] = { param };
	PGresult	*res;
	int		 rc = 0;

	if (sql == NULL) {
		fprintf(stderr, "%s: %s", what, PQerrorMessage(conn));
		return -1;
	}
	res = param != NULL ? PQexecParams(conn, sql, 1, NULL, params, NULL,
	    NULL, 0) : PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: cluster store: %s", what,
		    PQresultErrorMessage(res));
		rc = -1;
	} else if (rows != NULL)
		*rows = atoi(PQcmdTuples(res));
	PQclear(res);
	sodium_memzero(sql, strlen(sql));
	free(sql);
	return rc;
}

/* Tells whether the cluster has a live row of name in table: 1, 0, -1. */
static int
cluster_exists(PGconn *conn, const char *sql_fmt, const char *name)
{
	const char	*params[1] = { name };
	PGresult	*res;
	int		 rc;

	res = PQexecParams(conn, sql_fmt, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = -1;
	else
		rc = PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

/* Tells whether a (not deleted) user of that name exists: 1, 0, -1. */
int
ctl_cluster_user_exists(PGconn *conn, const char *name)
{
	return cluster_exists(conn, "SELECT 1 FROM gt_users WHERE name = $1 AND "
	    "NOT deleted", name);
}

/* Tells whether a live (not revoked) credential of that name exists: 1, 0, -1. */
int
ctl_cluster_token_exists(PGconn *conn, const char *name)
{
	return cluster_exists(conn, "SELECT 1 FROM gt_tokens WHERE name = $1 AND "
	    "NOT revoked", name);
}

/*
 * Copies this node's record of user name to the cluster (its hash and
 * role; its TOTP enrolment only if the cluster has no live row of it),
 * or its delete when LMDB has no such user any more: 0 or -1.
 */
int
ctl_cluster_user_sync(PGconn *conn, struct db *db, const char *name)
{
	struct db_user	u;
	char		hex[CLUSTER_SQL_TOTP_HEX];
	int		rc;

	rc = db_user_get(db, name, &u);
	if (rc == -1)
		return -1;
	if (rc == 1)
		rc = cluster_exec(conn, cluster_sql_user_del(conn, name), NULL,
		    NULL, "user");
	else {
		cluster_sql_totp_hex(u.totp, u.totp_len, hex);
		rc = cluster_exec(conn, cluster_sql_user_put(conn, &u), hex,
		    NULL, "user");
		sodium_memzero(hex, sizeof(hex));
	}
	sodium_memzero(&u, sizeof(u));
	return rc;
}

/*
 * Sets user name's TOTP secret in the cluster (len 0: two-factor login
 * off on every node).  A user this node has but the cluster has not yet
 * is added with it.  0 ok, 1 no such (live) user in the cluster, -1 error.
 */
int
ctl_cluster_user_totp(PGconn *conn, struct db *db, const char *name,
    const unsigned char *secret, size_t len)
{
	struct db_user	u;
	char		hex[CLUSTER_SQL_TOTP_HEX];
	int		rc, rows = 0;

	rc = db_user_get(db, name, &u);
	if (rc == -1)
		return -1;
	cluster_sql_totp_hex(secret, len, hex);
	rc = cluster_exec(conn, cluster_sql_user_totp(conn, name,
	    rc == 0 ? &u : NULL), hex, &rows, "user");
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(&u, sizeof(u));
	if (rc == -1)
		return -1;
	return rows == 1 ? 0 : 1;
}

/* Copies this node's record of credential name to the cluster: 0 or -1. */
int
ctl_cluster_token_sync(PGconn *conn, struct db *db, const char *name)
{
	struct db_token	t;

	if (db_token_get(db, name, &t) != 0)
		return -1;
	return cluster_exec(conn, cluster_sql_token_put(conn, &t), NULL, NULL,
	    "token");
}
