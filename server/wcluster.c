/* SPDX-License-Identifier: ISC */
/*
 * wcluster.c: a worker's side of cluster mode.  A register whose port must
 * be decided cluster-wide is parked here and the master is asked over IPC
 * (IPC_CLAIM); the master answers from PostgreSQL (cluster.c).  The worker's
 * loop never waits: the register resumes when the answer comes.  One claim
 * per session is in flight at a time, so a client gets its answers in the
 * order it asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "db_live.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "xmalloc.h"

#define PARKED_MAX		2048	/* registers waiting for the master */
#define PARKED_TIMEOUT		8	/* seconds: then the store counts as down */
#define PICK_TRIES		8	/* remote_port 0: picks tried */

/* A register waiting for the master's cluster-wide answer. */
struct parked {
	TAILQ_ENTRY(parked)	 entry;
	uint64_t		 cookie;	/* 0 until sent */
	char			 session_id[DB_ID_LEN];
	struct msg		 req;
	uint16_t		 port;		/* asked for; 0: the master picks */
	int			 tries;
	time_t			 since;
};
TAILQ_HEAD(parked_list, parked);

static struct parked_list	parked = TAILQ_HEAD_INITIALIZER(parked);
static unsigned			nparked;
static uint64_t			next_cookie;
static struct event		ev_expire;

/* Tells whether this worker runs in cluster mode. */
int
wcluster_on(void)
{
	return W->conf.cluster_database[0] != '\0';
}

/* Frees a parked register. */
static void
parked_free(struct parked *p)
{
	TAILQ_REMOVE(&parked, p, entry);
	nparked--;
	free(p);
}

/* Sends the claim of a parked register to the master. */
static int
parked_send(struct parked *p, const struct session *s)
{
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_CLAIM;
	m.cookie = p->cookie = ++next_cookie;
	m.remote_port = p->port;
	snprintf(m.client_id, sizeof(m.client_id), "%s", s->id);
	snprintf(m.identity, sizeof(m.identity), "%s", control_identity(s));
	p->since = time(NULL);
	return send(W->ipc_fd, &m, sizeof(m), MSG_DONTWAIT) == sizeof(m) ? 0 : -1;
}

/* Finds the parked register of a session that is being decided. */
static struct parked *
parked_inflight(const char *session_id)
{
	struct parked *p;

	TAILQ_FOREACH(p, &parked, entry)
		if (p->cookie != 0 && strcmp(p->session_id, session_id) == 0)
			return p;
	return NULL;
}

/* Sends the next waiting register of a session, failing those that cannot go. */
static void
parked_next(const char *session_id)
{
	struct parked	*p, *next;
	struct session	*s = control_session_find(session_id);

	for (p = TAILQ_FIRST(&parked); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->cookie != 0 || strcmp(p->session_id, session_id) != 0)
			continue;
		if (s == NULL || s->closing) {
			parked_free(p);
			continue;
		}
		if (parked_send(p, s) == -1) {
			control_register_fail(s, &p->req, "cluster store unavailable");
			parked_free(p);
			continue;
		}
		return;
	}
}

/* Parks a checked register and asks the master about its port. */
void
wcluster_register(struct session *s, const struct msg *req)
{
	struct parked *p;

	if (nparked >= PARKED_MAX) {
		control_register_fail(s, req, "cluster store unavailable");
		return;
	}
	p = xcalloc(1, sizeof(*p));
	snprintf(p->session_id, sizeof(p->session_id), "%s", s->id);
	p->req = *req;
	p->port = (uint16_t)req->remote_port;
	p->since = time(NULL);
	TAILQ_INSERT_TAIL(&parked, p, entry);
	nparked++;
	if (parked_inflight(s->id) == NULL)
		parked_next(s->id);
}

/* The master answered a claim: finish or refuse the register. */
void
wcluster_result(const struct ipc_msg *m)
{
	struct parked	*p;
	struct session	*s;
	char		 id[DB_ID_LEN], reason[sizeof(m->reason)];

	TAILQ_FOREACH(p, &parked, entry)
		if (p->cookie == m->cookie)
			break;
	if (p == NULL)
		return;		/* expired meanwhile */
	snprintf(id, sizeof(id), "%s", p->session_id);
	memcpy(reason, m->reason, sizeof(reason));
	reason[sizeof(reason) - 1] = '\0';
	s = control_session_find(id);
	if (s != NULL && !s->closing) {
		if (m->ok)
			control_register_claim(s, &p->req,
			    (uint16_t)m->remote_port);
		else if (p->req.remote_port == 0 && ++p->tries < PICK_TRIES &&
		    strcmp(reason, "port in use") == 0) {
			/* Another node's identity took the pick meanwhile. */
			p->cookie = 0;
			parked_next(id);
			return;
		} else
			control_register_fail(s, &p->req, reason[0] ? reason :
			    "cluster store unavailable");
	}
	parked_free(p);
	parked_next(id);
}

/* Every second: a claim the master did not answer in time is refused. */
static void
wcluster_expire(evutil_socket_t fd, short what, void *arg)
{
	struct parked	*p, *next;
	struct session	*s;
	time_t		 now = time(NULL);
	char		 id[DB_ID_LEN];

	for (p = TAILQ_FIRST(&parked); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->cookie == 0 || now - p->since < PARKED_TIMEOUT)
			continue;
		snprintf(id, sizeof(id), "%s", p->session_id);
		if ((s = control_session_find(id)) != NULL && !s->closing)
			control_register_fail(s, &p->req, "cluster store unavailable");
		parked_free(p);
		parked_next(id);
		next = TAILQ_FIRST(&parked);	/* parked_next may have freed some */
	}
}

/* Starts the expiry timer (cluster mode only). */
void
wcluster_start(void)
{
	if (!wcluster_on())
		return;
	/* Claims of many registers at once: room for them (master.c, other end). */
	setsockopt(W->ipc_fd, SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	event_assign(&ev_expire, W->base, -1, EV_PERSIST, wcluster_expire, NULL);
	event_add(&ev_expire, &(struct timeval){ 1, 0 });
}
