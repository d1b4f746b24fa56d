/* SPDX-License-Identifier: ISC */
/*
 * hist_state.c: whether the stored history is complete.  It is not while
 * data_dir has no room (the master holds new rows in memory and writes
 * them when space returns), nor once rows were dropped because it had
 * none for too long (gotunnel_history_dropped_total).  The history API
 * says so instead of failing.
 */
#include <sys/statvfs.h>

#include <stdio.h>
#include <string.h>

#include "module.h"

#define HIST_FREE_MIN	(1024 * 1024)	/* below this LMDB commits may fail */

/* 1 and a reason in buf when the history is incomplete, else 0. */
int
hist_state_incomplete(MDB_txn *txn, char *buf, size_t size)
{
	static const char	 key[] = "c:gotunnel_history_dropped_total";
	struct statvfs		 st;
	MDB_val			 k = { .mv_size = sizeof(key) - 1,
				    .mv_data = (void *)key }, v;
	uint64_t		 dropped = 0;
	int			 fd;

	if (mdb_get(txn, admin_db.dbi[DB_META], &k, &v) == 0 &&
	    v.mv_size == sizeof(dropped))
		memcpy(&dropped, v.mv_data, sizeof(dropped));
	if (mdb_env_get_fd(admin_db.env, &fd) == 0 && fstatvfs(fd, &st) == 0 &&
	    (uint64_t)st.f_bavail * st.f_frsize < HIST_FREE_MIN) {
		snprintf(buf, size, "data_dir is full: the newest history "
		    "is held in memory by the master until space returns");
		return 1;
	}
	if (dropped > 0) {
		snprintf(buf, size, "%llu finished connections were not "
		    "recorded while data_dir was full",
		    (unsigned long long)dropped);
		return 1;
	}
	buf[0] = '\0';
	return 0;
}
