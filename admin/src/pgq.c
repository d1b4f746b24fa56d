/* SPDX-License-Identifier: ISC */
/*
 * pgq.c: one asynchronous PostgreSQL query per request, on Kore's pgsql
 * layer ([cluster] database), for the cluster-wide history routes.
 *
 * A handler calls pgq_start() with its SQL and text parameters and
 * returns what it returns: KORE_RESULT_RETRY while the query runs (the
 * worker serves others meanwhile), and admin_dispatch() hands the request
 * back here (pgq_resume()) each time Kore wakes it.  The result goes to
 * the handler's done callback once; no answer at all (unreachable,
 * refused, error) is 503 {"error":"cluster store unavailable"}, never the
 * local data passed off as the cluster's.
 *
 * Two things Kore 4.1 does not do and this file does: reconnect a pooled
 * connection that PostgreSQL closed (a restart of the database), and keep
 * Kore from calling epoll_ctl(DEL) on the socket libpq already closed
 * (fatal in Kore, and the admin runs with worker_death_policy terminate).
 */
#include <stdlib.h>
#include <string.h>

#include "module.h"

#include <libpq-fe.h>
#include <kore/pgsql.h>	/* after kore.h, which it needs */

#define PGQ_DB		"gotunnel"
#define PGQ_PARAMS_MAX	12
#define PGQ_UNAVAILABLE	"cluster store unavailable"
#define PGQ_RETRIES	3	/* Kore pools 2 connections a worker: each may be dead */

enum pgq_phase { PGQ_SETUP, PGQ_WAIT, PGQ_OVER };

/* One request's query; lives in req->hdlr_extra, freed by pgq_free(). */
struct pgq {
	struct kore_pgsql	 sql;
	enum pgq_phase		 phase;
	int			 retried;	/* on dead pooled connections */
	int			 answered;
	char			*query;
	char			*params[PGQ_PARAMS_MAX];
	int			 nparams;
	pgq_done_fn		 done;
	void			*arg;		/* the handler's, kore_free()d here */
};

/* Registers the database with Kore (each worker; connects on first use). */
void
pgq_init(void)
{
	/*
	 * Kore connects with the blocking PQconnectdb: bound how long an
	 * unreachable host can hold the worker, and how long a query may run.
	 * A user's own PGCONNECT_TIMEOUT / PGOPTIONS / PGAPPNAME win.
	 */
	setenv("PGCONNECT_TIMEOUT", "3", 0);
	setenv("PGOPTIONS", "-c statement_timeout=15000", 0);
	/* pg_stat_activity tells the admin's sessions from the masters'. */
	setenv("PGAPPNAME", "gotunnel-admin", 0);
	if (!kore_pgsql_register(PGQ_DB, admin_conf.cluster_database))
		kore_log(LOG_ERR, "cluster: cannot register the database");
}

/* Kore (onfree): the request is going away; release the query and state. */
static void
pgq_free(struct http_request *req)
{
	struct pgq	*st = req->hdlr_extra;

	if (st == NULL)
		return;
	/* libpq closed a dead socket: there is nothing left to unschedule. */
	if (st->sql.conn != NULL && PQsocket(st->sql.conn->db) < 0)
		st->sql.flags &= ~KORE_PGSQL_SCHEDULED;
	kore_pgsql_cleanup(&st->sql);
	kore_free(st->query);
	for (int i = 0; i < st->nparams; i++)
		kore_free(st->params[i]);
	kore_free(st->arg);
	kore_free(st);
	req->hdlr_extra = NULL;
	req->onfree = NULL;
}

/* Answers 503: the cluster store could not answer this query. */
static int
pgq_fail(struct http_request *req, struct pgq *st, const char *why)
{
	struct admin_ctx	ctx;

	kore_log(LOG_WARNING, "cluster store: %s", why != NULL ? why :
	    "no result");
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = req;
	admin_error(&ctx, 503, PGQ_UNAVAILABLE);
	st->phase = PGQ_OVER;
	return KORE_RESULT_OK;
}

/* 1 when the query's connection is gone (closed by the server, or freed). */
static int
pgq_conn_dead(struct pgq *st)
{
	return st->sql.conn == NULL || PQstatus(st->sql.conn->db) != CONNECTION_OK;
}

/* Takes a connection and sends the query; RETRY while queued for one. */
static int
pgq_send(struct http_request *req, struct pgq *st)
{
	int	lengths[PGQ_PARAMS_MAX] = { 0 }, formats[PGQ_PARAMS_MAX] = { 0 };

	if (!kore_pgsql_setup(&st->sql, PGQ_DB, KORE_PGSQL_ASYNC)) {
		/* All of this worker's connections are busy: Kore wakes us. */
		if (st->sql.state == KORE_PGSQL_STATE_INIT)
			return KORE_RESULT_RETRY;
		return pgq_fail(req, st, st->sql.error);
	}
	if (PQstatus(st->sql.conn->db) != CONNECTION_OK) {
		/* A pooled connection the database closed: connect it again. */
		PQreset(st->sql.conn->db);
		if (PQstatus(st->sql.conn->db) != CONNECTION_OK)
			return pgq_fail(req, st,
			    PQerrorMessage(st->sql.conn->db));
	}
	if (!kore_pgsql_query_param_fields(&st->sql, st->query, 0, st->nparams,
	    (const char **)st->params, lengths, formats))
		return pgq_fail(req, st, st->sql.error);
	st->phase = PGQ_WAIT;
	return -1;	/* sent: go on in pgq_run() */
}

/* Runs the request's query as far as it can go now. */
static int
pgq_run(struct http_request *req, struct pgq *st)
{
	int	rc;

	/* Bounded: each turn either returns or moves Kore's state forward. */
	for (int turns = 0; turns < 1000; turns++) {
		if (st->phase == PGQ_OVER)
			return KORE_RESULT_OK;
		if (st->phase == PGQ_SETUP) {
			if ((rc = pgq_send(req, st)) != -1)
				return rc;
			continue;
		}
		switch (st->sql.state) {
		case KORE_PGSQL_STATE_WAIT:
			return KORE_RESULT_RETRY;
		case KORE_PGSQL_STATE_RESULT:
			if (!st->answered) {
				st->answered = 1;
				st->done(req, &st->sql, st->arg);
			}
			kore_pgsql_continue(&st->sql);
			break;
		case KORE_PGSQL_STATE_ERROR:
			if (!st->answered && st->retried < PGQ_RETRIES &&
			    pgq_conn_dead(st)) {
				/* Again, on another (or a reconnected) connection. */
				kore_log(LOG_NOTICE, "cluster store: %s (again "
				    "on a new connection)", st->sql.error ?
				    st->sql.error : "connection lost");
				if (st->sql.conn != NULL &&
				    PQsocket(st->sql.conn->db) < 0)
					st->sql.flags &= ~KORE_PGSQL_SCHEDULED;
				kore_pgsql_cleanup(&st->sql);
				kore_pgsql_init(&st->sql);
				kore_pgsql_bind_request(&st->sql, req);
				st->retried++;
				st->phase = PGQ_SETUP;
				break;
			}
			if (st->answered) {
				st->phase = PGQ_OVER;
				return KORE_RESULT_OK;
			}
			return pgq_fail(req, st, st->sql.error);
		case KORE_PGSQL_STATE_COMPLETE:
			if (!st->answered)
				return pgq_fail(req, st, NULL);
			st->phase = PGQ_OVER;
			return KORE_RESULT_OK;
		default:
			kore_pgsql_continue(&st->sql);
			break;
		}
	}
	return pgq_fail(req, st, "query did not finish");
}

/*
 * Starts sql with nparams text parameters (NULL: SQL NULL) for ctx's
 * request; done(req, sql, arg) answers the request from the result.  arg
 * (kore_calloc'd, may be NULL) is freed with the request.  Returns what
 * the handler returns.
 */
int
pgq_start(struct admin_ctx *ctx, const char *sql, int nparams,
    const char *const *params, pgq_done_fn done, void *arg)
{
	struct http_request	*req = ctx->req;
	struct pgq		*st;

	if (nparams > PGQ_PARAMS_MAX)
		fatalx("pgq_start: %d parameters", nparams);
	st = kore_calloc(1, sizeof(*st));
	st->query = kore_strdup(sql);
	st->nparams = nparams;
	for (int i = 0; i < nparams; i++)
		st->params[i] = params[i] != NULL ? kore_strdup(params[i]) : NULL;
	st->done = done;
	st->arg = arg;
	kore_pgsql_init(&st->sql);
	kore_pgsql_bind_request(&st->sql, req);
	req->hdlr_extra = st;
	req->onfree = pgq_free;
	return pgq_run(req, st);
}

/* 1 when req is waiting for its query (admin_dispatch() resumes it). */
int
pgq_pending(struct http_request *req)
{
	return req->hdlr_extra != NULL && req->onfree == pgq_free;
}

/* Kore woke a request whose query was under way: go on with it. */
int
pgq_resume(struct http_request *req)
{
	return pgq_run(req, req->hdlr_extra);
}
