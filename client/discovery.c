/* SPDX-License-Identifier: ISC */
/*
 * discovery.c: which masters the client keeps a session with.  A literal
 * address in server_addr is one master; a host name is one master per
 * address it resolves to, and is resolved again every discovery_interval:
 * a new address is joined, one no longer returned is left (e.g. pods behind
 * a Kubernetes headless Service).  A failed lookup changes nothing.
 *
 * Lookups run through glibc's getaddrinfo_a(), so the resolver honours
 * nsswitch.conf, /etc/hosts and resolv.conf as any program does, works in
 * the static client, and never blocks the event loop: glibc resolves in
 * its own threads and a short timer collects the results.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "xmalloc.h"

#define DISCOVERY_POLL_MS	50	/* how often finished lookups are collected */
#define DISCOVERY_STOP_WAIT	5	/* s: at exit, wait this long for lookups */

struct discovery {
	struct event	 ev_round;	/* next round of lookups */
	struct event	 ev_poll;	/* lookups in flight: are they done? */
	struct gaicb	 reqs[CLIENT_MAX_SERVERS];
	struct gaicb	*list[CLIENT_MAX_SERVERS];
	size_t		 entry[CLIENT_MAX_SERVERS];	/* conf.servers index */
	char		 service[CLIENT_MAX_SERVERS][8];
	size_t		 n;		/* lookups in flight, 0: none */
};

static const struct addrinfo discovery_hints = {
	.ai_family = AF_UNSPEC,
	.ai_socktype = SOCK_STREAM,
};

/* Plans the next round in secs seconds. */
static void
discovery_schedule(long secs)
{
	event_add(&C->disc->ev_round, &(struct timeval){ secs, 0 });
}

/* Marks the session at addr as still wanted, joining it if it is new. */
static void
discovery_want(size_t entry, const struct sockaddr *addr, socklen_t len)
{
	struct session	*s;
	char		 a[64];

	if ((s = session_find(addr, len)) == NULL) {
		net_addr_str(addr, a, sizeof(a));
		if (!C->conf.servers[entry].numeric)
			log_info("discovery: %s has a new address %s; joining it",
			    C->conf.servers[entry].host, a);
		s = session_new(entry, addr, len);
	}
	if (s != NULL)
		s->seen = 1;
}

/* Joins every literal address of server_addr (no resolver involved). */
static void
discovery_numeric(void)
{
	struct addrinfo	 hints = discovery_hints, *res;
	char		 port[8];

	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	for (size_t i = 0; i < C->conf.nservers; i++) {
		const struct server_entry *e = &C->conf.servers[i];

		if (!e->numeric)
			continue;
		snprintf(port, sizeof(port), "%u", e->port);
		if (getaddrinfo(e->host, port, &hints, &res) != 0) {
			log_warnx("server_addr: cannot use address %s", e->host);
			continue;
		}
		discovery_want(i, res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
	}
}

/* Takes the answers of the finished round: join, leave, keep. */
static void
discovery_collect(void)
{
	struct discovery	*d = C->disc;
	struct session		*s, *next;
	int			 ok[CLIENT_MAX_SERVERS] = { 0 }, all_ok = 1, rc;
	size_t			 naddr;

	TAILQ_FOREACH(s, &C->sessions, entry)
		s->seen = 0;
	for (size_t r = 0; r < d->n; r++) {
		const struct server_entry	*e = &C->conf.servers[d->entry[r]];
		struct addrinfo			*ai;

		if ((rc = gai_error(&d->reqs[r])) != 0) {
			log_warnx("discovery: cannot resolve %s: %s; keeping the "
			    "masters it had", e->host, gai_strerror(rc));
			all_ok = 0;
			continue;
		}
		ok[d->entry[r]] = 1;
		naddr = 0;
		for (ai = d->reqs[r].ar_result; ai != NULL; ai = ai->ai_next) {
			/* Bounded: a name with hundreds of addresses is not a cluster. */
			if (naddr++ == CLIENT_MAX_ADDRS) {
				log_warnx("discovery: %s has more than %d addresses; "
				    "using the first %d", e->host, CLIENT_MAX_ADDRS,
				    CLIENT_MAX_ADDRS);
				break;
			}
			discovery_want(d->entry[r], ai->ai_addr, ai->ai_addrlen);
		}
		freeaddrinfo(d->reqs[r].ar_result);
		d->reqs[r].ar_result = NULL;
	}
	d->n = 0;
	/* Leave what a successful lookup of its own name no longer returned,
	 * unless another name's answer has it too.  Literal entries run
	 * first (discovery_start), so they own their sessions: never left. */
	for (s = TAILQ_FIRST(&C->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (!s->seen && ok[s->server] && !C->conf.servers[s->server].numeric)
			session_free(s, "its address is no longer returned for "
			    "that name");
	}
	discovery_schedule(all_ok || C->conf.discovery_interval < DISCOVERY_RETRY ?
	    C->conf.discovery_interval : DISCOVERY_RETRY);
}

/* Poll timer: collects the round once every lookup has finished. */
static void
discovery_poll(evutil_socket_t fd, short what, void *arg)
{
	struct discovery *d = C->disc;

	for (size_t r = 0; r < d->n; r++)
		if (gai_error(&d->reqs[r]) == EAI_INPROGRESS)
			return;
	event_del(&d->ev_poll);
	discovery_collect();
}

/* Starts a round: one lookup per host name of server_addr. */
static void
discovery_round(evutil_socket_t fd, short what, void *arg)
{
	struct discovery	*d = C->disc;
	int			 rc;

	if (d->n > 0)
		return;		/* the last round is still under way */
	for (size_t i = 0; i < C->conf.nservers; i++) {
		const struct server_entry *e = &C->conf.servers[i];

		if (e->numeric)
			continue;
		memset(&d->reqs[d->n], 0, sizeof(d->reqs[d->n]));
		snprintf(d->service[d->n], sizeof(d->service[d->n]), "%u", e->port);
		d->reqs[d->n].ar_name = e->host;
		d->reqs[d->n].ar_service = d->service[d->n];
		d->reqs[d->n].ar_request = &discovery_hints;
		d->list[d->n] = &d->reqs[d->n];
		d->entry[d->n] = i;
		d->n++;
	}
	if (d->n == 0)
		return;
	if ((rc = getaddrinfo_a(GAI_NOWAIT, d->list, (int)d->n, NULL)) != 0) {
		log_warnx("discovery: cannot start lookups: %s", gai_strerror(rc));
		d->n = 0;
		discovery_schedule(DISCOVERY_RETRY);
		return;
	}
	event_add(&d->ev_poll, &(struct timeval){ 0, DISCOVERY_POLL_MS * 1000 });
}

/* Joins the literal addresses now and starts resolving the host names. */
void
discovery_start(void)
{
	struct discovery *d = xcalloc(1, sizeof(*d));

	C->disc = d;
	event_assign(&d->ev_round, C->base, -1, 0, discovery_round, NULL);
	event_assign(&d->ev_poll, C->base, -1, EV_PERSIST, discovery_poll, NULL);
	discovery_numeric();
	discovery_round(-1, 0, NULL);
}

/* Stops discovery: cancels or waits out lookups in flight, frees it all. */
void
discovery_stop(void)
{
	struct discovery	*d = C->disc;
	struct timespec		 ts = { DISCOVERY_STOP_WAIT, 0 };

	if (d == NULL)
		return;
	event_del(&d->ev_round);
	event_del(&d->ev_poll);
	for (size_t r = 0; r < d->n; r++)
		gai_cancel(&d->reqs[r]);
	/* glibc's threads still write into reqs[]: wait before freeing it. */
	for (size_t r = 0; r < d->n; r++) {
		if (gai_error(&d->reqs[r]) == EAI_INPROGRESS) {
			const struct gaicb *one[1] = { &d->reqs[r] };

			gai_suspend(one, 1, &ts);
		}
		if (gai_error(&d->reqs[r]) == EAI_INPROGRESS) {
			log_warnx("discovery: a lookup of %s is still under way at "
			    "exit", d->reqs[r].ar_name);
			return;		/* leak d rather than free memory in use */
		}
		if (d->reqs[r].ar_result != NULL)
			freeaddrinfo(d->reqs[r].ar_result);
	}
	free(d);
	C->disc = NULL;
}
