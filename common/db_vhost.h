/* SPDX-License-Identifier: ISC */
/*
 * db_vhost.h: domain claims of http/https mappings and sticky ports
 * (the "domains" and "sticky" tables of db.h).
 */
#ifndef GOTUNNEL_DB_VHOST_H
#define GOTUNNEL_DB_VHOST_H

#include "db.h"

#define DB_DOMAIN_LEN	254	/* 253 characters + NUL */
#define DB_MAX_DOMAINS	8	/* per mapping */

/* Who serves one domain of one type (http or https). */
struct db_domain {
	uint32_t	version;
	int32_t		worker_pid;
	uint32_t	worker_index;
	uint32_t	pad;
	char		client_id[DB_ID_LEN];
	char		client_name[DB_NAME_LEN];
	char		mapping[DB_NAME_LEN];
};

/* The port a client's mapping had last time it asked for remote_port 0. */
struct db_sticky {
	uint32_t	version;
	uint16_t	port;
	uint16_t	pad;
	int64_t		updated;
};

struct db_claim;

int	db_vhost_is(const struct db_mapping *);
MDB_val	db_vhost_mapping_key(const struct db_mapping *, char *buf, size_t len,
	    uint16_t *store);
int	db_vhost_claim(struct db *, MDB_txn *, struct db_claim *);
void	db_vhost_end(struct db *, MDB_txn *, const char *client_id);
void	db_vhost_clear(struct db *, MDB_txn *, int pid);
int	db_vhost_lookup(struct db *, const char *type, const char *domain,
	    struct db_domain *);
uint16_t db_sticky_get(struct db *, MDB_txn *, const char *client_name,
	    const char *mapping);
void	db_sticky_put(struct db *, MDB_txn *, const char *client_name,
	    const char *mapping, uint16_t port);

#endif
