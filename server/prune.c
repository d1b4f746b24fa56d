/* SPDX-License-Identifier: ISC */
/*
 * prune.c: the master's retention timer.  Four times a second a read-only
 * look (db_prune_due) tells whether history, audit or stats records are past
 * their limits; if so, a pass of small write batches (db_prune_batch)
 * runs, PRUNE_PAUSE_MS apart so workers take the writer lock in between,
 * until nothing is left to delete.
 */
#include <string.h>

#include "db_prune.h"
#include "log.h"
#include "server.h"

/* Between checks while idle: a read transaction of a few lookups, so it can
 * be often; the sooner a pass starts, the less the history overshoots the
 * cap, and the smaller the file that holds it at its peak. */
#define PRUNE_CHECK_MS	250
#define PRUNE_PAUSE_MS	50	/* between the batches of a pass */
/* After a pass that found nothing to delete (only live records past the
 * limits, more than one check can look at): wait longer before the next. */
#define PRUNE_IDLE_MS	5000

static struct event		ev_prune;
static struct db_prune		pass;
static int			in_pass;
static struct db_prune_limits	published;
static int			have_published;
static size_t			pass_total;

/* The limits of the current configuration (follows a reload). */
static void
prune_limits(struct db_prune_limits *l)
{
	l->history_retention = M->conf.history_retention;
	l->history_max_records = (uint64_t)M->conf.history_max_records;
	l->audit_retention = M->conf.audit_retention;
}

/* Publishes the limits for the admin and the metrics when they change. */
static void
prune_publish(const struct db_prune_limits *l)
{
	if (have_published && memcmp(l, &published, sizeof(*l)) == 0)
		return;
	if (db_prune_limits_put(&M->db, l) == 0) {
		published = *l;
		have_published = 1;
	}
}

/* Arms the timer for the next check or batch. */
static void
prune_schedule(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(&ev_prune, &tv);
}

/* Timer: check, or run the next batch of the current pass. */
static void
prune_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_prune_limits	lim;
	int64_t			now = db_now();

	prune_limits(&lim);
	prune_publish(&lim);
	if (!in_pass) {
		if (!db_prune_due(&M->db, &lim, now)) {
			prune_schedule(PRUNE_CHECK_MS);
			return;
		}
		db_prune_reset(&pass, &lim);
		in_pass = 1;
		pass_total = 0;
	}
	pass.lim = lim;
	if (db_prune_batch(&M->db, &pass, now) == 0)
		pass_total += pass.sessions + pass.conns + pass.audit + pass.stats;
	if (pass.more) {
		prune_schedule(PRUNE_PAUSE_MS);
		return;
	}
	in_pass = 0;
	if (pass_total == 0) {
		prune_schedule(PRUNE_IDLE_MS);
		return;
	}
	/* Debug only: under steady churn a pass runs every second. */
	log_debug("retention: pruned %zu records", pass_total);
	prune_schedule(PRUNE_CHECK_MS);
}

/* Publishes the limits and starts the timer. */
void
prune_start(void)
{
	struct db_prune_limits lim;

	prune_limits(&lim);
	prune_publish(&lim);
	evtimer_assign(&ev_prune, M->base, prune_timer, NULL);
	prune_schedule(PRUNE_CHECK_MS);
}

/* Stops the retention timer. */
void
prune_stop(void)
{
	evtimer_del(&ev_prune);
}
