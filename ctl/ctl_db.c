/* SPDX-License-Identifier: ISC */
/*
 * ctl_db.c: gotunnelctl db init: creates or upgrades the cluster schema in
 * PostgreSQL ([cluster] database).  A command-line tool may wait, so this
 * uses libpq's blocking calls; the master itself never does.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "cluster_schema.h"
#include "config.h"

int	ctl_db(const struct server_config *, int argc, char **argv);

/* Drops PostgreSQL's notices ("already exists, skipping"). */
static void
db_notice(void *arg, const char *message)
{
}

/* db init: runs the schema script; prints the version it left. */
int
ctl_db(const struct server_config *c, int argc, char **argv)
{
	PGconn		*conn;
	PGresult	*res;
	int		 rc = 1;

	if (argc != 2 || strcmp(argv[1], "init") != 0) {
		fprintf(stderr, "usage: gotunnelctl db init\n");
		return 1;
	}
	if (c->cluster_database[0] == '\0') {
		fprintf(stderr, "gotunnelctl: db init: %s has no [cluster] "
		    "database\n", c->path);
		return 1;
	}
	conn = PQconnectdb(c->cluster_database);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "gotunnelctl: db init: cannot connect: %s",
		    PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	PQsetNoticeProcessor(conn, db_notice, NULL);
	/* PQexec returns the last statement's result: the version. */
	res = PQexec(conn, cluster_schema_script());
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		printf("schema at version %s\n", PQgetvalue(res, 0, 0));
		rc = 0;
	} else
		fprintf(stderr, "gotunnelctl: db init: %s",
		    PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return rc;
}
