/* SPDX-License-Identifier: ISC */
/*
 * db_alert.h: alert episodes (table alerts, the history shown by the API
 * and the console), webhook deliveries still owed (alert_queue, so a
 * master restart loses none) and each client's bytes today (alert_quota).
 * The master is the only writer of all three.
 */
#ifndef GOTUNNEL_DB_ALERT_H
#define GOTUNNEL_DB_ALERT_H

#include "db.h"

#define DB_ALERT_KEEP		10000	/* episodes kept; the oldest resolved go */
#define DB_ALERT_QUEUE_MAX	10000	/* deliveries owed, all receivers */
#define DB_ALERT_BODY_MAX	1024	/* one JSON body */
#define DB_ALERT_DETAIL_LEN	256

/* One alert episode: firing from since until end (0 while firing). */
struct db_alert {
	uint32_t	version;
	uint32_t	pad;
	char		receiver[32];		/* [alert.NAME] */
	char		event[32];		/* client_offline, ... */
	char		key[DB_NAME_LEN];	/* client name or address */
	int64_t		since;
	int64_t		end;
	char		detail[DB_ALERT_DETAIL_LEN];	/* a JSON object */
};

/* One webhook POST still owed to a receiver. */
struct db_alert_out {
	uint32_t	version;
	uint32_t	attempts;
	char		receiver[32];
	int64_t		queued;			/* first queued, unix seconds */
	int64_t		next_try;
	uint32_t	len;
	uint32_t	pad;
	char		body[DB_ALERT_BODY_MAX];
};

/* A client's traffic on one UTC day. */
struct db_alert_quota {
	uint32_t	version;
	uint32_t	pad;
	int64_t		day;			/* unix time / 86400 */
	uint64_t	bytes;
};

/* Called for each episode; return non-zero to stop. */
typedef int (*db_alert_cb)(uint64_t seq, const struct db_alert *, void *);

int	db_alert_open(struct db *, const struct db_alert *, uint64_t *seq,
	    const struct db_alert_out *out);
int	db_alert_close(struct db *, uint64_t seq, int64_t end,
	    const struct db_alert_out *out);
int	db_alert_each(struct db *, MDB_txn *, uint64_t before, int firing_only,
	    db_alert_cb, void *);
int	db_alert_queue_head(struct db *, const char *receiver, uint64_t *seq,
	    struct db_alert_out *);
int	db_alert_queue_done(struct db *, uint64_t seq);
int	db_alert_queue_retry(struct db *, uint64_t seq, uint32_t attempts,
	    int64_t next_try);
size_t	db_alert_queue_count(struct db *);
int	db_alert_quota_get(struct db *, MDB_txn *, const char *name,
	    struct db_alert_quota *);
int	db_alert_quota_prune(struct db *, MDB_txn *, int64_t today);
int	db_alert_quota_put(struct db *, MDB_txn *, const char *name,
	    const struct db_alert_quota *);

#endif
