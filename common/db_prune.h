/* SPDX-License-Identifier: ISC */
/*
 * db_prune.h: retention of the history (hist_sess, hist_conn), the audit
 * log and the per-minute stats.  The master deletes the oldest records in
 * small write transactions; LMDB reuses the freed pages, so a store kept
 * at its limits stops growing.
 */
#ifndef GOTUNNEL_DB_PRUNE_H
#define GOTUNNEL_DB_PRUNE_H

#include <stdint.h>
#include <stddef.h>

#include "db.h"

/* Records deleted per write transaction at most, and records looked at. */
#define DB_PRUNE_BATCH		500
#define DB_PRUNE_SCAN		(4 * DB_PRUNE_BATCH)
/* Per-minute stats are kept at least this long: the console charts 7 days. */
#define DB_PRUNE_STATS_MIN	(8 * 86400)

#define DB_PRUNE_DEF_HISTORY	(90LL * 86400)
#define DB_PRUNE_DEF_RECORDS	10000000ULL
#define DB_PRUNE_DEF_AUDIT	(365LL * 86400)

/* The limits, as configured in [common]; 0 means no limit. */
struct db_prune_limits {
	int64_t		history_retention;	/* seconds */
	uint64_t	history_max_records;	/* sessions + connections */
	int64_t		audit_retention;	/* seconds */
};

/* One pass of batches: where it goes on, and what the last batch did. */
struct db_prune {
	struct db_prune_limits	lim;
	/* Keys the pass resumes after (0: from the first record), so records
	 * that must stay (live ones) are not looked at again by every batch. */
	uint64_t		cap_after[2];	/* hist_sess, hist_conn */
	uint64_t		age_after[2];
	/* The last batch. */
	size_t			sessions, conns, audit, stats;
	size_t			scanned;
	int			more;		/* stopped at a bound: run again soon */
};

void	db_prune_limits_default(struct db_prune_limits *);
void	db_prune_reset(struct db_prune *, const struct db_prune_limits *);
int	db_prune_due(struct db *, const struct db_prune_limits *, int64_t now);
int	db_prune_batch(struct db *, struct db_prune *, int64_t now);
int	db_prune_limits_put(struct db *, const struct db_prune_limits *);
int	db_prune_limits_get(struct db *, MDB_txn *, struct db_prune_limits *);
int	db_prune_oldest(struct db *, MDB_txn *, int64_t *);

#endif
