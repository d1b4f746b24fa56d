/* SPDX-License-Identifier: ISC */
/* metrics.h: counters kept in LMDB's meta table and the Prometheus text exposition. */
#ifndef GOTUNNEL_METRICS_H
#define GOTUNNEL_METRICS_H

#include <stdint.h>

#include "db.h"

int	 metrics_counter_add(struct db *, MDB_txn *, const char *name, uint64_t);
int	 metrics_gauge_set(struct db *, MDB_txn *, const char *name, uint64_t);
char	*metrics_render(struct db *);

#endif
