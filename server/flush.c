/* SPDX-License-Identifier: ISC */
/*
 * flush.c: writes a worker's live counters and finished connections to
 * LMDB in one transaction a second, never one commit per connection.
 * When a commit fails (data_dir full) relaying goes on: what was not
 * written stays in memory, bounded (the oldest finished connections are
 * dropped and counted in gotunnel_history_dropped_total), and is written
 * by the first flush that succeeds.
 *
 * A heartbeat moves nothing but the client's last_heartbeat: those are
 * written for all sessions together every HB_WRITE_SECS, so that at
 * 50,000 clients a second's commit does not rewrite most client pages
 * (and their mapping rows) only to say when each client was last heard.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_live.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "server.h"
#include "xmalloc.h"

#define HB_WRITE_SECS	10	/* how stale a stored last_heartbeat may be */

/* Tells whether a session's stored last_heartbeat is behind and due. */
static int
hb_write_due(const struct session *s, time_t now)
{
	return s->registered && s->last_rx != s->hb_written &&
	    now >= W->hb_write_at;
}

/* Counts a register result for gotunnel_registrations_total. */
void
flush_count_register(const char *result)
{
	size_t i, n = sizeof(W->reg_counts) / sizeof(W->reg_counts[0]);

	for (i = 0; i < n && W->reg_counts[i].result[0] != '\0'; i++)
		if (strcmp(W->reg_counts[i].result, result) == 0)
			break;
	if (i == n)
		result = "other", i = n - 1;
	snprintf(W->reg_counts[i].result, sizeof(W->reg_counts[i].result), "%s",
	    result);
	W->reg_counts[i].n++;
}

/* Adds the worker's counters to the stored metrics. */
static void
flush_metrics(MDB_txn *txn)
{
	char		 name[160];
	size_t		 buffered = 0;
	struct session	*s;
	struct mapping	*map;
	struct pubconn	*pc;

	for (size_t i = 0; i < sizeof(W->reg_counts) / sizeof(W->reg_counts[0]); i++) {
		if (W->reg_counts[i].n == 0)
			continue;
		snprintf(name, sizeof(name),
		    "gotunnel_registrations_total{result=\"%s\"}",
		    W->reg_counts[i].result);
		metrics_counter_add(&W->db, txn, name, W->reg_counts[i].n);
	}
	if (W->hist_dropped)
		metrics_counter_add(&W->db, txn,
		    "gotunnel_history_dropped_total", W->hist_dropped);
	if (W->flush_new_conns)
		metrics_counter_add(&W->db, txn, "gotunnel_connections_total",
		    W->flush_new_conns);
	if (W->flush_bytes_in)
		metrics_counter_add(&W->db, txn, "gotunnel_bytes_in_total",
		    W->flush_bytes_in);
	if (W->flush_bytes_out)
		metrics_counter_add(&W->db, txn, "gotunnel_bytes_out_total",
		    W->flush_bytes_out);
	TAILQ_FOREACH(s, &W->sessions, entry)
		TAILQ_FOREACH(map, &s->mappings, entry)
			TAILQ_FOREACH(pc, &map->conns, entry)
				if (pc->relay != NULL)
					buffered += relay_buffered(pc->relay);
	if (buffered != W->flushed_buffered) {
		snprintf(name, sizeof(name),
		    "gotunnel_relay_buffer_bytes{worker=\"%d\"}", W->index);
		metrics_gauge_set(&W->db, txn, name, buffered);
		W->flushed_buffered = buffered;
	}
}

/* Tells whether anything changed since the last flush (else no txn at all). */
static int
flush_needed(void)
{
	struct session	*s;
	struct mapping	*map;
	struct pubconn	*pc;
	size_t		 buffered = 0;
	time_t		 now = time(NULL);

	if (!TAILQ_EMPTY(&W->closed) || W->flush_bytes_in ||
	    W->flush_bytes_out || W->flush_new_conns || W->hist_dropped ||
	    limit_flush_needed() || udp_flush_needed())
		return 1;
	for (size_t i = 0; i < sizeof(W->reg_counts) / sizeof(W->reg_counts[0]); i++)
		if (W->reg_counts[i].n != 0)
			return 1;
	TAILQ_FOREACH(s, &W->sessions, entry) {
		if (s->dirty || hb_write_due(s, now))
			return 1;
		TAILQ_FOREACH(map, &s->mappings, entry)
			TAILQ_FOREACH(pc, &map->conns, entry) {
				if (pc->relay == NULL)
					continue;
				if (!pc->in_db ||
				    relay_bytes_ab(pc->relay) != pc->flushed_in ||
				    relay_bytes_ba(pc->relay) != pc->flushed_out)
					return 1;
				buffered += relay_buffered(pc->relay);
			}
	}
	return buffered != W->flushed_buffered;
}

/* Queues the history record of a public connection that just ended. */
void
flush_conn_closed(struct pubconn *pc, const char *reason)
{
	struct closed_conn	*cc;
	struct mapping		*map = pc->mapping;
	struct db_hist_conn	*h;

	/* History cannot be written (disk full): keep the newest, count the rest. */
	if (W->nclosed >= FLUSH_CLOSED_MAX &&
	    (cc = TAILQ_FIRST(&W->closed)) != NULL) {
		TAILQ_REMOVE(&W->closed, cc, entry);
		free(cc);
		W->nclosed--;
		W->hist_dropped++;
	}
	cc = xcalloc(1, sizeof(*cc));
	h = &cc->rec;
	cc->id = pc->id;
	cc->hist_seq = pc->hist_seq;
	cc->in_db = pc->in_db;
	h->version = DB_RECORD_VERSION;
	h->remote_port = map->remote_port;
	h->local_port = map->local_port;
	db_strlcpy(h->client_id, map->session->id, sizeof(h->client_id));
	db_strlcpy(h->client_name, map->session->name, sizeof(h->client_name));
	db_strlcpy(h->mapping, map->name, sizeof(h->mapping));
	db_strlcpy(h->peer, pc->peer, sizeof(h->peer));
	db_strlcpy(h->reason, reason, sizeof(h->reason));
	h->start = pc->since;
	h->end = db_now();
	h->bytes_in = pc->flushed_in;
	h->bytes_out = pc->flushed_out;
	TAILQ_INSERT_TAIL(&W->closed, cc, entry);
	W->nclosed++;
}

/* Writes one live public connection (and opens its history record). */
static void
flush_conn(MDB_txn *txn, struct session *s, struct mapping *map,
    struct pubconn *pc)
{
	struct db_conn		c;
	struct db_hist_conn	h;
	uint64_t		in = pc->flushed_in, out = pc->flushed_out;

	tunnel_account(pc);
	/* An idle connection already on disk costs no write. */
	if (pc->relay == NULL || (pc->in_db && in == pc->flushed_in &&
	    out == pc->flushed_out))
		return;
	memset(&c, 0, sizeof(c));
	c.version = DB_RECORD_VERSION;
	c.remote_port = map->remote_port;
	c.local_port = map->local_port;
	db_strlcpy(c.client_id, s->id, sizeof(c.client_id));
	db_strlcpy(c.peer, pc->peer, sizeof(c.peer));
	c.since = pc->since;
	c.bytes_in = pc->flushed_in;
	c.bytes_out = pc->flushed_out;
	c.worker_pid = getpid();
	db_conn_put(&W->db, txn, pc->id, &c);
	if (!pc->in_db) {
		memset(&h, 0, sizeof(h));
		h.version = DB_RECORD_VERSION;
		h.remote_port = map->remote_port;
		h.local_port = map->local_port;
		db_strlcpy(h.client_id, s->id, sizeof(h.client_id));
		db_strlcpy(h.client_name, s->name, sizeof(h.client_name));
		db_strlcpy(h.mapping, map->name, sizeof(h.mapping));
		db_strlcpy(h.peer, pc->peer, sizeof(h.peer));
		h.start = pc->since;
		db_histconn_put(&W->db, txn, &pc->hist_seq, &h);
		pc->in_db = FLUSH_PENDING;	/* settled after the commit */
	}
}

/* Writes a session's counters, mappings and live connections. */
static void
flush_session(MDB_txn *txn, struct session *s, time_t now)
{
	struct mapping		*map;
	struct pubconn		*pc;
	struct db_client	 c;
	struct db_mapping	 m;

	TAILQ_FOREACH(map, &s->mappings, entry)
		TAILQ_FOREACH(pc, &map->conns, entry)
			flush_conn(txn, s, map, pc);
	if (!s->registered || (!s->dirty && !hb_write_due(s, now)))
		return;
	s->hb_written = s->last_rx;
	/* Mapping rows change with traffic only, not with a heartbeat. */
	TAILQ_FOREACH(map, &s->mappings, entry) {
		if (!s->dirty)
			break;
		memset(&m, 0, sizeof(m));
		m.remote_port = map->remote_port;
		db_strlcpy(m.client_id, s->id, sizeof(m.client_id));
		db_strlcpy(m.type, map->type, sizeof(m.type));	/* picks the key */
		db_strlcpy(m.name, map->name, sizeof(m.name));
		m.bytes_in = map->bytes_in;
		m.bytes_out = map->bytes_out;
		m.live_conns = map->live_conns;
		m.total_conns = map->total_conns;
		db_mapping_update(&W->db, txn, &m);
	}
	s->dirty = 0;
	memset(&c, 0, sizeof(c));
	db_strlcpy(c.id, s->id, sizeof(c.id));
	c.last_heartbeat = (int64_t)s->last_rx;
	c.bytes_in = s->bytes_in;
	c.bytes_out = s->bytes_out;
	c.live_conns = s->live_conns;
	db_client_update(&W->db, txn, &c);
}

/*
 * After a commit: what the transaction wrote is on disk (ok), or it is
 * not, and the next flush must write it again with fresh sequence
 * numbers (one taken in an aborted transaction may go to another worker).
 */
static void
flush_settle(int ok)
{
	struct session		*s;
	struct mapping		*map;
	struct pubconn		*pc;
	struct closed_conn	*cc;

	TAILQ_FOREACH(s, &W->sessions, entry) {
		if (!ok && s->registered) {
			s->dirty = 1;
			s->hb_written = 0;
		}
		TAILQ_FOREACH(map, &s->mappings, entry)
			TAILQ_FOREACH(pc, &map->conns, entry) {
				if (pc->in_db != FLUSH_PENDING)
					continue;
				pc->in_db = ok;
				if (!ok)
					pc->hist_seq = 0;
			}
	}
	TAILQ_FOREACH(cc, &W->closed, entry) {
		if (!ok && cc->seq_new)
			cc->hist_seq = 0;
		cc->seq_new = 0;
	}
	if (!ok)
		W->flushed_buffered = (size_t)-1;
}

/* Logs the start and the end of a time when history could not be written. */
static void
flush_report(int rc)
{
	time_t now = time(NULL);

	if (rc != 0 && W->hist_fail_since == 0) {
		W->hist_fail_since = now;
		log_warnx("worker %d: history cannot be written to %s: %s; "
		    "relaying goes on, up to %d finished connections are "
		    "held in memory until it can", W->index, W->conf.data_dir,
		    rc > 0 && rc < 4096 ? strerror(rc) : mdb_strerror(rc),
		    FLUSH_CLOSED_MAX);
	} else if (rc == 0 && W->hist_fail_since != 0) {
		log_info("worker %d: history writing resumed after %lld s",
		    W->index, (long long)(now - W->hist_fail_since));
		W->hist_fail_since = 0;
	}
}

/* Writes everything that changed since the last flush; 0 or LMDB's error. */
static int
flush_once(void)
{
	struct session		*s;
	struct closed_conn	*cc;
	MDB_txn			*txn;
	time_t			 now = time(NULL);
	int			 rc;

	if ((rc = db_txn_begin(&W->db, 0, &txn)) != 0)
		return rc;
	TAILQ_FOREACH(s, &W->sessions, entry)
		if (!s->closing)
			flush_session(txn, s, now);
	if (now >= W->hb_write_at)
		W->hb_write_at = now + HB_WRITE_SECS;
	TAILQ_FOREACH(cc, &W->closed, entry) {
		if (cc->in_db)
			db_conn_del(&W->db, txn, cc->id);
		cc->seq_new = cc->hist_seq == 0;
		db_histconn_put(&W->db, txn, &cc->hist_seq, &cc->rec);
		db_outbox_put(&W->db, txn, DB_OUTBOX_CONN, &cc->rec,
		    sizeof(cc->rec));
	}
	flush_metrics(txn);
	limit_flush_metrics(txn);
	udp_flush_metrics(txn);
	if (W->flush_bytes_in || W->flush_bytes_out || W->flush_new_conns)
		db_stats_add(&W->db, txn, db_now(), W->flush_bytes_in,
		    W->flush_bytes_out, W->flush_new_conns);
	rc = db_txn_commit(&W->db, txn);
	flush_settle(rc == 0);
	if (rc != 0)
		return rc;
	if (W->hist_dropped)
		log_warnx("worker %d: %llu finished connections were not "
		    "recorded in the history (data_dir was full)", W->index,
		    (unsigned long long)W->hist_dropped);
	/* Forget what is now on disk only once it is. */
	while ((cc = TAILQ_FIRST(&W->closed)) != NULL) {
		TAILQ_REMOVE(&W->closed, cc, entry);
		free(cc);
	}
	W->nclosed = 0;
	W->hist_dropped = 0;
	for (size_t i = 0; i < sizeof(W->reg_counts) / sizeof(W->reg_counts[0]); i++)
		W->reg_counts[i].n = 0;
	W->flush_bytes_in = W->flush_bytes_out = 0;
	W->flush_new_conns = 0;
	limit_flush_done();
	udp_flush_done();
	return 0;
}

/* Flushes; a full map is grown by the commit and the flush tried again. */
void
flush_now(void)
{
	int rc;

	if (!flush_needed())
		return;
	if ((rc = flush_once()) == MDB_MAP_FULL)
		rc = flush_once();
	flush_report(rc);
}

/* Timer callback for the periodic flush. */
static void
flush_timer(evutil_socket_t fd, short what, void *arg)
{
	flush_now();
}

/* Starts the once-a-second flush. */
void
flush_start(void)
{
	event_assign(&W->ev_flush, W->base, -1, EV_PERSIST, flush_timer, NULL);
	event_add(&W->ev_flush, &(struct timeval){ 1, 0 });
}
