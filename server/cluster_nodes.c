/* SPDX-License-Identifier: ISC */
/*
 * cluster_nodes.c: the node_offline alert of cluster mode.
 *
 * Every master reads every node's state once a second (cluster.c).  One
 * node speaks for the cluster, so that a receiver configured on every
 * node (the same [alert.*] on each, like token and allow_ports) gets one
 * firing and one resolved per episode, not one per node: the online node
 * with the smallest name.  It raises node_offline for each other node
 * that is offline.  Any node resolves the episodes it raised once that
 * node is online again, even when it no longer speaks for the cluster
 * (a smaller node came back meanwhile), so every firing gets its
 * resolved.  The master runs this only once it has been connected to the
 * database for node_timeout: after an outage of the database every node
 * looks silent until its next heartbeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "server.h"

/*
 * Applies the rows (name, online 0/1, seconds since last seen) ordered by
 * name: raises or resolves node_offline through alert.c.
 */
void
cluster_nodes_apply(const PGresult *res)
{
	const char	*me = M->conf.cluster_node_name, *leader = NULL;
	int		 n = PQntuples(res);
	char		 detail[96];

	if (PQnfields(res) != 3)
		return;
	/* We are online by definition: we are the one reading. */
	for (int i = 0; i < n && leader == NULL; i++)
		if (strcmp(PQgetvalue(res, i, 1), "1") == 0 ||
		    strcmp(PQgetvalue(res, i, 0), me) == 0)
			leader = PQgetvalue(res, i, 0);
	for (int i = 0; i < n; i++) {
		const char	*name = PQgetvalue(res, i, 0);
		int		 online = strcmp(PQgetvalue(res, i, 1), "1") == 0;

		if (strcmp(name, me) == 0)
			continue;
		if (online) {
			alert_node_state(name, 0, "online again");
			continue;
		}
		if (leader == NULL || strcmp(leader, me) != 0)
			continue;
		snprintf(detail, sizeof(detail), "not seen for %s s (node_timeout "
		    "%ld s)", PQgetvalue(res, i, 2), M->conf.cluster_node_timeout);
		alert_node_state(name, 1, detail);
	}
}
