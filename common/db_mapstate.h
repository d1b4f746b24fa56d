/* SPDX-License-Identifier: ISC */
/*
 * db_mapstate.h: operator state of a mapping that outlives its session
 * (table mapstate: uint16 port, big endian -> struct db_mapstate).  A
 * record applies to the client name it was set for, so a reconnect of the
 * same client keeps it and another client on the same port does not inherit it.
 */
#ifndef GOTUNNEL_DB_MAPSTATE_H
#define GOTUNNEL_DB_MAPSTATE_H

#include "db.h"

struct db_mapstate {
	uint32_t	version;
	uint32_t	disabled;		/* 1: refuse public connections */
	char		client_name[DB_NAME_LEN];
	int64_t		updated;		/* unix seconds */
};

int	db_mapstate_get(struct db *, MDB_txn *, uint16_t port,
	    struct db_mapstate *);
int	db_mapstate_enabled(struct db *, MDB_txn *, uint16_t port,
	    const char *client_name);
int	db_mapstate_set(struct db *, uint16_t port, const char *client_name,
	    int enabled);

#endif
