/* SPDX-License-Identifier: ISC */
/*
 * ctl_cluster.c: gotunnelctl's writes of console users and credentials to
 * PostgreSQL in cluster mode ([cluster] database), so one `user add` or
 * `token revoke` works on every node: each master copies gt_users and
 * gt_tokens into its LMDB within a second or two (server/cluster_mirror.c).
 * The local LMDB is written too, as without a cluster, so this node sees
 * the change at once.  A command-line tool may wait: libpq's blocking calls.
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

/* Runs one statement (sql taken); 0 ok, -1 with a message. */
static int
cluster_exec(PGconn *conn, char *sql, const char *what)
{
	PGresult	*res;
	int		 rc = 0;

	if (sql == NULL) {
		fprintf(stderr, "%s: %s", what, PQerrorMessage(conn));
		return -1;
	}
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: cluster store: %s", what,
		    PQresultErrorMessage(res));
		rc = -1;
	}
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
 * role), or its delete when LMDB has no such user any more: 0 or -1.
 */
int
ctl_cluster_user_sync(PGconn *conn, struct db *db, const char *name)
{
	struct db_user	u;
	int		rc;

	rc = db_user_get(db, name, &u);
	if (rc == -1)
		return -1;
	rc = cluster_exec(conn, rc == 1 ? cluster_sql_user_del(conn, name) :
	    cluster_sql_user_put(conn, &u), "user");
	sodium_memzero(&u, sizeof(u));
	return rc;
}

/* Copies this node's record of credential name to the cluster: 0 or -1. */
int
ctl_cluster_token_sync(PGconn *conn, struct db *db, const char *name)
{
	struct db_token	t;

	if (db_token_get(db, name, &t) != 0)
		return -1;
	return cluster_exec(conn, cluster_sql_token_put(conn, &t), "token");
}
