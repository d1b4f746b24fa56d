/* SPDX-License-Identifier: ISC */
/*
 * mapstate.c: the master's half of "mapping disable|enable PORT": it stores
 * the state in LMDB (so it survives a reconnect of the same client) and
 * tells the worker that owns the mapping, which applies it at once.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "db_rec.h"
#include "db_mapstate.h"
#include "log.h"
#include "proto.h"
#include "server.h"

/* Reads the live mapping of port; 0 found, -1 absent. */
static int
mapstate_live(uint16_t port, struct db_mapping *m)
{
	uint16_t	 key = htons(port);
	MDB_val		 k = { .mv_size = sizeof(key), .mv_data = &key }, v;
	MDB_txn		*txn;
	int		 rc = -1;

	if (db_txn_begin(&M->db, 1, &txn) != 0)
		return -1;
	if (mdb_get(txn, M->db.dbi[DB_MAPPINGS], &k, &v) == 0 &&
	    db_rec_mapping(&v, m) == 0)
		rc = 0;
	mdb_txn_abort(txn);
	return rc;
}

/*
 * Handles ctl "mapping_disable" / "mapping_enable" with remote_port.  On
 * success *cookie is the IPC request to wait for (0: nothing to wait for);
 * -1 with a message for the operator in err.
 */
int
mapstate_request(const struct msg *req, uint64_t *cookie, char *err,
    size_t errlen)
{
	struct db_mapping	m;
	struct ipc_msg		ipc;
	int			enable = strcmp(req->cmd, "mapping_enable") == 0;
	uint16_t		port;

	*cookie = 0;
	if (!enable && strcmp(req->cmd, "mapping_disable") != 0) {
		snprintf(err, errlen, "unknown command");
		return -1;
	}
	if (!MSG_HAS(req, F_REMOTE_PORT) || req->remote_port < 1) {
		snprintf(err, errlen, "expected remote_port 1-65535");
		return -1;
	}
	port = (uint16_t)req->remote_port;
	if (mapstate_live(port, &m) == -1) {
		snprintf(err, errlen, "no such mapping");
		return -1;
	}
	if (db_mapstate_set(&M->db, port, m.client_name, enable) == -1) {
		snprintf(err, errlen, "database error");
		return -1;
	}
	log_info("port %u of client %s: %s requested", port, m.client_name,
	    enable ? "enable" : "disable");
	memset(&ipc, 0, sizeof(ipc));
	ipc.type = IPC_MAPPING_STATE;
	ipc.cookie = ++M->kick_cookie;
	ipc.remote_port = port;
	ipc.disabled = !enable;
	if (master_send_ipc((int)m.worker_index, &ipc) == -1) {
		/* Stored: the client's next session starts in this state. */
		snprintf(err, errlen, "the mapping's worker is not running");
		return -1;
	}
	*cookie = ipc.cookie;
	return 0;
}
