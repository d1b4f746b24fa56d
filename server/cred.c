/* SPDX-License-Identifier: ISC */
/*
 * cred.c: per-client credentials in a worker.  At register the secret in
 * the "token" member is looked up by hash (db_token.c); the session then
 * keeps its credential's limits.  A revoke or rotate reaches the workers
 * over IPC (cred_kick); a 1-second tick closes sessions whose credential
 * expired, rechecks the table now and then (revocations made while the
 * master could not be told), and writes last_used and the ACL refusal
 * counter in one small transaction when there is something to write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "server.h"
#include "xmalloc.h"

#define CRED_TOUCH_MAX		64	/* names waiting for last_used */
#define CRED_RECHECK_TICKS	5	/* table recheck every 5 s */

static struct event	cred_ev;
static unsigned		cred_ticks;
static char		cred_touched[CRED_TOUCH_MAX][DB_TOKEN_NAME_LEN];
static size_t		cred_ntouched;
static int64_t		cred_touch_time;

/* Remembers a register with a credential for the next tick's write. */
static void
cred_touch(const char *name)
{
	for (size_t i = 0; i < cred_ntouched; i++)
		if (strcmp(cred_touched[i], name) == 0)
			return;
	/* Bounded: last_used is a hint; a full queue waits for the tick. */
	if (cred_ntouched < CRED_TOUCH_MAX)
		snprintf(cred_touched[cred_ntouched++], DB_TOKEN_NAME_LEN, "%s",
		    name);
	cred_touch_time = db_now();
}

/* Computes the ports both the credential and allow_ports admit. */
static void
cred_pick_range(struct cred_sess *c)
{
	const struct portrange *a = &c->ports, *b = &W->conf.allow_ports;

	memset(&c->pick, 0, sizeof(c->pick));
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n && c->pick.n < PORTRANGE_MAX; j++) {
			uint16_t lo = a->lo[i] > b->lo[j] ? a->lo[i] : b->lo[j];
			uint16_t hi = a->hi[i] < b->hi[j] ? a->hi[i] : b->hi[j];

			if (lo > hi)
				continue;
			c->pick.lo[c->pick.n] = lo;
			c->pick.hi[c->pick.n++] = hi;
		}
}

/* Makes a session's credential state from its record. */
static struct cred_sess *
cred_sess_new(const struct db_token *t)
{
	struct cred_sess	*c = xcalloc(1, sizeof(*c));
	const char		*perr;
	char			 err[160];

	snprintf(c->name, sizeof(c->name), "%s", t->name);
	c->generation = t->generation;
	c->expires = t->expires;
	c->max_mappings = t->max_mappings;
	c->has_ports = t->ports[0] != '\0' &&
	    portrange_parse(t->ports, &c->ports, &perr) == 0;
	(void)cidr_list_parse(t->allow, &c->allow, err, sizeof(err));
	(void)cidr_list_parse(t->deny, &c->deny, err, sizeof(err));
	return c;
}

/* Checks the CIDR lists a register message carries; NULL or a reason. */
static const char *
cred_check_acl(const struct msg *req)
{
	static char		why[200];
	struct cidr_list	l;
	char			err[160];

	if (MSG_HAS(req, F_ALLOW_CIDRS) &&
	    cidr_list_parse(req->allow_cidrs, &l, err, sizeof(err)) == -1) {
		snprintf(why, sizeof(why), "allow_cidrs: %s", err);
		return why;
	}
	if (MSG_HAS(req, F_DENY_CIDRS) &&
	    cidr_list_parse(req->deny_cidrs, &l, err, sizeof(err)) == -1) {
		snprintf(why, sizeof(why), "deny_cidrs: %s", err);
		return why;
	}
	return NULL;
}

/*
 * Authenticates one register message (shared token or credential) and
 * applies the credential's limits.  Returns NULL, or the reason to refuse;
 * *fatal is set when the session itself must end (bad, revoked or expired
 * credential) rather than only this mapping being refused.
 */
const char *
cred_register(struct session *s, const struct msg *req, int *fatal)
{
	struct db_token	 t;
	MDB_txn		*txn;
	const char	*why;
	int		 rc;

	*fatal = 1;
	/* An empty secret never authenticates, whatever the config says. */
	if (!MSG_HAS(req, F_TOKEN) || req->token[0] == '\0')
		return "bad token";
	if (db_txn_begin(&W->db, 1, &txn) != 0)
		return "server database error";
	rc = db_token_find(&W->db, txn, req->token, &t);
	mdb_txn_abort(txn);
	if (rc != 0) {
		/* The shared token; a session keeps the identity it began with. */
		if (s->cred != NULL || !control_token_ok(req->token))
			return "bad token";
	} else {
		if ((s->registered && s->cred == NULL) || (s->cred != NULL &&
		    (strcmp(s->cred->name, t.name) != 0 ||
		    s->cred->generation != t.generation)))
			return "bad token";
		if (t.revoked)
			return "credential revoked";
		if (t.expires != 0 && db_now() >= t.expires)
			return "credential expired";
		if (s->cred == NULL) {
			s->cred = cred_sess_new(&t);
			log_info("client %s (%s) from %s: credential %s",
			    req->name[0] ? req->name : "?", s->id, s->addr,
			    t.name);
		}
		cred_touch(t.name);
	}
	*fatal = 0;
	if ((why = cred_check_acl(req)) != NULL)
		return why;
	if (s->cred == NULL)
		return NULL;
	if (s->cred->has_ports && req->remote_port != 0 &&
	    !portrange_contains(&s->cred->ports, (uint16_t)req->remote_port))
		return "port not allowed";
	if (s->cred->max_mappings > 0 &&
	    (int64_t)s->nmappings >= s->cred->max_mappings)
		return "too many mappings";
	return NULL;
}

/* The ports a register with remote_port 0 may be given. */
const struct portrange *
cred_allow_ports(struct session *s)
{
	if (s->cred == NULL || !s->cred->has_ports)
		return &W->conf.allow_ports;
	cred_pick_range(s->cred);
	return &s->cred->pick;
}

/* The credential name of a session ("" for the shared token). */
const char *
cred_name(const struct session *s)
{
	return s->cred != NULL ? s->cred->name : "";
}

/* Frees a session's credential state (at session close). */
void
cred_session_free(struct session *s)
{
	free(s->cred);
	s->cred = NULL;
}

/* Why a session's credential no longer holds (NULL: it does). */
static const char *
cred_stale(const struct cred_sess *c, int rc, const struct db_token *t,
    int64_t now)
{
	if (rc == 1 || (rc == 0 && t->revoked))
		return "credential revoked";
	if (rc == 0 && t->generation != c->generation)
		return "credential rotated";
	if (c->expires != 0 && now >= c->expires)
		return "credential expired";
	return NULL;
}

/*
 * Rechecks the sessions of one credential (name) or of all (NULL) against
 * the table and closes those whose credential was revoked, rotated or
 * expired.
 */
static void
cred_recheck(const char *name)
{
	struct session	*s, *next;
	struct db_token	 t;
	MDB_txn		*txn;
	const char	*why;
	int64_t		 now = db_now();
	int		 rc;

	if (db_txn_begin(&W->db, 1, &txn) != 0)
		return;
	for (s = TAILQ_FIRST(&W->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->cred == NULL || s->closing ||
		    (name != NULL && strcmp(s->cred->name, name) != 0))
			continue;
		rc = db_token_get_txn(&W->db, txn, s->cred->name, &t);
		if (rc == -1 || (why = cred_stale(s->cred, rc, &t, now)) == NULL)
			continue;
		log_info("client %s (%s): %s, closing its session", s->name,
		    s->id, why);
		control_kick(s->id, why);
	}
	mdb_txn_abort(txn);
}

/* IPC from the master: a credential was revoked or rotated. */
void
cred_kick(const char *name)
{
	if (db_token_name_valid(name))
		cred_recheck(name);
}

/* Closes sessions whose credential expired by now (no table access). */
static void
cred_expire(void)
{
	struct session	*s, *next;
	int64_t		 now = db_now();

	for (s = TAILQ_FIRST(&W->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->cred == NULL || s->closing || s->cred->expires == 0 ||
		    now < s->cred->expires)
			continue;
		log_info("client %s (%s): credential %s expired, closing its "
		    "session", s->name, s->id, s->cred->name);
		control_kick(s->id, "credential expired");
	}
}

/* Writes last_used of the credentials used since the last tick and the ACL counter. */
static void
cred_write(void)
{
	MDB_txn		*txn;
	uint64_t	 refused = acl_take_refused();

	if (cred_ntouched == 0 && refused == 0)
		return;
	if (db_txn_begin(&W->db, 0, &txn) != 0)
		return;
	for (size_t i = 0; i < cred_ntouched; i++)
		db_token_touch(&W->db, txn, cred_touched[i], cred_touch_time);
	if (refused > 0)
		metrics_counter_add(&W->db, txn,
		    "gotunnel_connections_refused_total{reason=\"acl\"}", refused);
	if (db_txn_commit(&W->db, txn) == 0)
		cred_ntouched = 0;
}

/* Once a second: expiry, a periodic recheck, and the batched writes. */
static void
cred_tick(evutil_socket_t fd, short what, void *arg)
{
	cred_expire();
	if (++cred_ticks % CRED_RECHECK_TICKS == 0)
		cred_recheck(NULL);
	cred_write();
}

/* Starts the worker's credential tick. */
void
cred_start(void)
{
	event_assign(&cred_ev, W->base, -1, EV_PERSIST, cred_tick, NULL);
	event_add(&cred_ev, &(struct timeval){ 1, 0 });
}

/* Stops the tick and writes what is pending (worker exit). */
void
cred_stop(void)
{
	event_del(&cred_ev);
	cred_write();
}
