/* SPDX-License-Identifier: ISC */
/* db_live.h: the live tables (mappings, clients, conns) and the master's housekeeping. */
#ifndef GOTUNNEL_DB_LIVE_H
#define GOTUNNEL_DB_LIVE_H

#include "db.h"
#include "portrange.h"

struct db_claim {
	struct db_client	 client;	/* the claiming session */
	int			 new_client;	/* no client record yet: insert it */
	const char		*takeover_id;	/* previous session of this client, or NULL */
	long			 max_clients;
	const struct portrange	*allow;
	struct db_mapping	 map;		/* remote_port 0: pick one (out: the port) */
	/* Binds the public port: 0 bound, -1 busy.  probe is 0 only when the
	 * client's own previous session holds the port (our listener). */
	int			(*bind)(uint16_t port, int probe, void *arg);
	void			*bind_arg;
	/* results */
	uint64_t		 hist_seq;	/* the session's history record */
	int			 takeover_worker; /* worker of the replaced session, -1 none */
	char			 error[64];
};

int	db_claim(struct db *, struct db_claim *);
int	db_session_end(struct db *, const char *client_id, uint64_t hist_seq,
	    const char *reason, uint64_t bytes_in, uint64_t bytes_out,
	    const uint16_t *ports, size_t nports);
int	db_client_update(struct db *, MDB_txn *, const struct db_client *);
int	db_mapping_update(struct db *, MDB_txn *, const struct db_mapping *);
int	db_conn_put(struct db *, MDB_txn *, uint64_t id, const struct db_conn *);
int	db_conn_del(struct db *, MDB_txn *, uint64_t id);
int	db_histconn_put(struct db *, MDB_txn *, uint64_t *seq,
	    const struct db_hist_conn *);
int	db_stats_add(struct db *, MDB_txn *, int64_t now, uint64_t bytes_in,
	    uint64_t bytes_out, uint32_t new_conns);
int	db_clear_live(struct db *, const char *reason);
int	db_clear_worker(struct db *, int pid, const char *reason);
int	db_stats_sample(struct db *);
size_t	db_count(struct db *, enum db_table);

#endif
