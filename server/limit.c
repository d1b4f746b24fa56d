/* SPDX-License-Identifier: ISC */
/*
 * limit.c: limits on a mapping's public connections, checked by the worker
 * that owns the mapping (so a client cannot talk its way past them):
 * concurrent connections per mapping and per client, a new-connection rate
 * (token bucket), a bandwidth limit each way shared by all the mapping's
 * relays, and the operator's disable switch (kept in LMDB's mapstate
 * table, see db_mapstate.h).  Refusals are counted for the metrics and
 * logged at most once a second per mapping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "db_mapstate.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "relay.h"
#include "server.h"
#include "tbucket.h"
#include "xmalloc.h"

#define LIMIT_BW_BURST_MIN	4096	/* bytes; else burst is a tenth of a second */

enum limit_reason {
	LR_DISABLED,
	LR_MAX_CONNS,
	LR_MAX_CONNS_CLIENT,
	LR_CONN_RATE,
	LR_QUEUE,
	LR_NREASONS
};

static const char *const reason_names[LR_NREASONS] = {
	[LR_DISABLED] = "disabled",
	[LR_MAX_CONNS] = "max_conns",
	[LR_MAX_CONNS_CLIENT] = "max_conns_per_client",
	[LR_CONN_RATE] = "conn_rate",
	[LR_QUEUE] = "queue_full",
};

/* A mapping's limits and their state (owned by the mapping). */
struct map_limit {
	int		 disabled;
	uint32_t	 max_conns;		/* the client's, 0: server's only */
	int		 has_rate;
	struct tbucket	 rate;			/* new connections */
	int		 has_bw;
	uint64_t	 bw;			/* bytes a second, each way */
	struct tbucket	 bw_in, bw_out;		/* public->client, client->public */
	time_t		 log_sec;		/* second of the last refusal log */
	uint32_t	 log_quiet;		/* refusals not logged since */
};

/* Refusals since the last flush, and those being written. */
static uint64_t refused[LR_NREASONS], refused_flushing[LR_NREASONS];

/* Sets up the limits of a newly registered mapping from its register message. */
void
limit_mapping_init(struct mapping *map, const struct msg *req)
{
	struct map_limit	*l = xcalloc(1, sizeof(*l));
	MDB_txn			*txn;
	uint64_t		 bw = 0, cap;

	map->limit = l;
	if (MSG_HAS(req, F_MAX_CONNS))
		l->max_conns = (uint32_t)req->max_conns;
	if (MSG_HAS(req, F_CONN_RATE) && req->conn_rate > 0) {
		l->has_rate = 1;
		tbucket_init(&l->rate, (uint64_t)req->conn_rate,
		    MSG_HAS(req, F_CONN_BURST) && req->conn_burst > 0 ?
		    (uint64_t)req->conn_burst : (uint64_t)req->conn_rate);
	}
	/* The client's wish, capped by the operator's maximum. */
	if (MSG_HAS(req, F_BANDWIDTH_LIMIT))
		bw = (uint64_t)req->bandwidth_limit;
	cap = (uint64_t)W->conf.max_bandwidth_per_mapping;
	if (cap > 0 && (bw == 0 || bw > cap))
		bw = cap;
	if (bw > 0) {
		uint64_t burst = bw / 10 > LIMIT_BW_BURST_MIN ? bw / 10 :
		    LIMIT_BW_BURST_MIN;

		l->has_bw = 1;
		l->bw = bw;
		tbucket_init(&l->bw_in, bw, burst);
		tbucket_init(&l->bw_out, bw, burst);
	}
	/* An operator's disable outlives the session (same port and client). */
	if (db_txn_begin(&W->db, 1, &txn) == 0) {
		l->disabled = !db_mapstate_enabled(&W->db, txn, map->remote_port,
		    map->session->name);
		mdb_txn_abort(txn);
	}
	if (l->disabled || l->max_conns || l->has_rate || l->has_bw)
		log_info("port %u: %slimits max_conns %u, conn_rate %llu, "
		    "bandwidth %llu B/s each way", map->remote_port,
		    l->disabled ? "disabled by an operator; " : "",
		    l->max_conns, l->has_rate ? (unsigned long long)l->rate.rate :
		    0ULL, (unsigned long long)l->bw);
}

/* Frees a mapping's limits (its relays are gone: they share the buckets). */
void
limit_mapping_free(struct mapping *map)
{
	free(map->limit);
	map->limit = NULL;
}

/* Counts a refusal and logs it, at most once a second per mapping. */
static void
limit_refused(struct mapping *map, enum limit_reason why,
    const struct sockaddr *sa)
{
	struct map_limit	*l = map->limit;
	time_t			 now = time(NULL);
	char			 peer[DB_ADDR_LEN];

	refused[why]++;
	if (l->log_sec == now) {
		l->log_quiet++;
		return;
	}
	net_addr_str(sa, peer, sizeof(peer));
	if (l->log_quiet > 0)
		log_warnx("port %u: connection from %s refused: %s "
		    "(and %u more refused since the last message)",
		    map->remote_port, peer, reason_names[why], l->log_quiet);
	else
		log_warnx("port %u: connection from %s refused: %s",
		    map->remote_port, peer, reason_names[why]);
	l->log_sec = now;
	l->log_quiet = 0;
}

/*
 * Decides whether a new public connection of map may be accepted; 1 means
 * refused (counted and logged; the caller closes it at once).
 */
int
limit_refuse(struct mapping *map, const struct sockaddr *peer)
{
	struct map_limit	*l = map->limit;
	struct session		*s = map->session;
	uint32_t		 max = (uint32_t)W->conf.max_conns_per_mapping;
	enum limit_reason	 why;

	if (l->max_conns > 0 && l->max_conns < max)
		max = l->max_conns;
	if (l->disabled)
		why = LR_DISABLED;
	else if (map->live_conns >= max)
		why = LR_MAX_CONNS;
	else if (W->conf.max_conns_per_client > 0 &&
	    s->live_conns >= (uint32_t)W->conf.max_conns_per_client)
		why = LR_MAX_CONNS_CLIENT;
	else if (s->nwaiting >= MAX_WAITING_PER_SESSION)
		why = LR_QUEUE;
	/* Last: a connection refused for another reason costs no token. */
	else if (l->has_rate && tbucket_take(&l->rate, tbucket_now(), 1) == 0)
		why = LR_CONN_RATE;
	else
		return 0;
	limit_refused(map, why, peer);
	return 1;
}

/* Puts a new relay of map under the mapping's shared bandwidth buckets. */
void
limit_relay(struct mapping *map, struct relay *r)
{
	struct map_limit *l = map->limit;

	/* relay a is the public side, b the data connection to the client. */
	if (l->has_bw && r != NULL)
		relay_set_limit(r, &l->bw_in, &l->bw_out);
}

/*
 * Worker: an operator disabled or enabled the mapping on port; returns how
 * many of this worker's mappings it touched (two while a reconnecting
 * client's old and new sessions overlap).
 */
int
limit_mapping_set(uint16_t port, int disabled)
{
	struct session	*s;
	struct mapping	*map;
	int		 n = 0;

	TAILQ_FOREACH(s, &W->sessions, entry)
		TAILQ_FOREACH(map, &s->mappings, entry)
			if (map->remote_port == port && map->limit != NULL &&
			    !s->closing) {
				map->limit->disabled = disabled;
				log_info("port %u of client %s: %s by an operator",
				    port, s->name, disabled ? "disabled" : "enabled");
				n++;
			}
	return n;
}

/* Tells whether refusals wait to be written. */
int
limit_flush_needed(void)
{
	for (int i = 0; i < LR_NREASONS; i++)
		if (refused[i] != 0)
			return 1;
	return 0;
}

/* Adds the refusals to the stored counters within the flush transaction. */
void
limit_flush_metrics(MDB_txn *txn)
{
	char name[128];

	for (int i = 0; i < LR_NREASONS; i++) {
		refused_flushing[i] = refused[i];
		if (refused[i] == 0)
			continue;
		snprintf(name, sizeof(name),
		    "gotunnel_connections_refused_total{reason=\"%s\"}",
		    reason_names[i]);
		metrics_counter_add(&W->db, txn, name, refused[i]);
	}
}

/* The flush committed: forget what it wrote. */
void
limit_flush_done(void)
{
	for (int i = 0; i < LR_NREASONS; i++) {
		refused[i] -= refused_flushing[i];
		refused_flushing[i] = 0;
	}
}
