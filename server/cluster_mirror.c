/* SPDX-License-Identifier: ISC */
/*
 * cluster_mirror.c: every master's LMDB copy of the cluster's console users
 * and per-client credentials (gt_users, gt_tokens).
 *
 * PostgreSQL is where gotunnelctl (any node) writes them; the admin and
 * the workers' credential check keep reading LMDB, the fast local path.
 * cluster.c polls the rows whose rev passed the last one copied (every
 * second, and at once on NOTIFY "auth") and hands the result here: each
 * row is written to LMDB in its own small transaction, a deleted user's
 * console sessions end, and a credential revoked or rotated elsewhere has
 * its sessions on this node closed at once (IPC_CRED_KICK to every worker,
 * as `gotunnelctl token revoke` does on the node it ran on).
 *
 * A user's TOTP secret (schema version 3) is copied too, so one enrolment
 * or one `user totp --off` holds on every node; a row from before version
 * 3 (totp NULL) leaves this node's enrolment as it is.  The last code step
 * used stays per node: a code used on one node's console is refused there
 * again, but another node has its own record of used steps.  The secret
 * is never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cluster_sql.h"
#include "db_admin.h"
#include "log.h"
#include "server.h"

/* Tells every worker to recheck its sessions of credential name now. */
static void
mirror_kick(const char *name)
{
	struct ipc_msg	m;
	int		n = 0;

	memset(&m, 0, sizeof(m));
	m.type = IPC_CRED_KICK;
	snprintf(m.client_id, sizeof(m.client_id), "%s", name);
	for (int i = 0; i < M->nslots; i++)
		if (master_send_ipc(i, &m) == 0)
			n++;
	log_info("credential %s changed on another node: sessions rechecked "
	    "by %d workers", name, n);
}

/* The integer of a column. */
static long long
col_ll(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/*
 * Reads a row's TOTP secret (hex, '' none) into u: 1 known, 0 NULL (a row
 * from before schema version 3), -1 malformed.
 */
static int
mirror_totp(const PGresult *res, int i, struct db_user *u)
{
	const char	*hex = PQgetvalue(res, i, CLUSTER_SQL_COL_TOTP);
	size_t		 len = 0;

	if (PQgetisnull(res, i, CLUSTER_SQL_COL_TOTP))
		return 0;
	if (hex[0] != '\0' && (sodium_hex2bin(u->totp, sizeof(u->totp), hex,
	    strlen(hex), NULL, &len, NULL) != 0 || len == 0))
		return -1;
	u->totp_len = (uint32_t)len;
	return 1;
}

/* Copies one user row into LMDB: 0, -1 not written, -2 malformed. */
static int
mirror_user(const PGresult *res, int i)
{
	struct db_user	u;
	int		deleted = col_ll(res, i, CLUSTER_SQL_COL_DELETED) != 0;
	int		ended, rc, totp;

	memset(&u, 0, sizeof(u));
	if ((totp = mirror_totp(res, i, &u)) == -1) {
		sodium_memzero(&u, sizeof(u));
		return -2;
	}
	if (strlen(PQgetvalue(res, i, CLUSTER_SQL_COL_NAME)) >= sizeof(u.name) ||
	    strlen(PQgetvalue(res, i, CLUSTER_SQL_COL_HASH)) >= sizeof(u.hash))
		return -2;
	db_strlcpy(u.name, PQgetvalue(res, i, CLUSTER_SQL_COL_NAME),
	    sizeof(u.name));
	db_strlcpy(u.hash, PQgetvalue(res, i, CLUSTER_SQL_COL_HASH),
	    sizeof(u.hash));
	u.role = (uint32_t)db_user_role_parse(PQgetvalue(res, i,
	    CLUSTER_SQL_COL_ROLE));
	u.created = col_ll(res, i, CLUSTER_SQL_COL_CREATED);
	u.updated = col_ll(res, i, CLUSTER_SQL_COL_UPDATED);
	if (!db_user_name_valid(u.name) || (!deleted &&
	    (u.role == DB_ROLE_NONE || strncmp(u.hash, "$argon2id$", 10) != 0))) {
		sodium_memzero(&u, sizeof(u));
		return -2;
	}
	rc = db_user_mirror(&M->db, &u, deleted, totp, &ended);
	sodium_memzero(&u, sizeof(u));
	if (rc == 0 && ended) {
		size_t n = 0;

		(void)db_websess_delete_user(&M->db,
		    PQgetvalue(res, i, CLUSTER_SQL_COL_NAME), &n);
		log_info("console user %s %s on another node: %zu console "
		    "session(s) ended", PQgetvalue(res, i, CLUSTER_SQL_COL_NAME),
		    deleted ? "deleted" : "changed password", n);
	}
	return rc;
}

/* Copies one credential row into LMDB: 0, -1 not written, -2 malformed. */
static int
mirror_token(const PGresult *res, int i)
{
	struct db_token	 t;
	const char	*hex = PQgetvalue(res, i, CLUSTER_SQL_COL_HASH);
	char		 err[200];
	size_t		 len = 0;
	int		 kick, rc;

	memset(&t, 0, sizeof(t));
	if (strlen(PQgetvalue(res, i, CLUSTER_SQL_COL_NAME)) >= sizeof(t.name) ||
	    strlen(PQgetvalue(res, i, CLUSTER_SQL_COL_PORTS)) >= sizeof(t.ports) ||
	    strlen(PQgetvalue(res, i, CLUSTER_SQL_COL_ALLOW)) >= sizeof(t.allow) ||
	    strlen(PQgetvalue(res, i, CLUSTER_SQL_COL_DENY)) >= sizeof(t.deny) ||
	    sodium_hex2bin(t.hash, sizeof(t.hash), hex, strlen(hex), NULL, &len,
	    NULL) != 0 || len != sizeof(t.hash))
		return -2;
	snprintf(t.name, sizeof(t.name), "%s",
	    PQgetvalue(res, i, CLUSTER_SQL_COL_NAME));
	snprintf(t.ports, sizeof(t.ports), "%s",
	    PQgetvalue(res, i, CLUSTER_SQL_COL_PORTS));
	snprintf(t.allow, sizeof(t.allow), "%s",
	    PQgetvalue(res, i, CLUSTER_SQL_COL_ALLOW));
	snprintf(t.deny, sizeof(t.deny), "%s",
	    PQgetvalue(res, i, CLUSTER_SQL_COL_DENY));
	t.revoked = col_ll(res, i, CLUSTER_SQL_COL_REVOKED) != 0;
	t.revoked_at = col_ll(res, i, CLUSTER_SQL_COL_REVOKED_AT);
	t.generation = (uint64_t)col_ll(res, i, CLUSTER_SQL_COL_GENERATION);
	t.created = col_ll(res, i, CLUSTER_SQL_COL_CREATED);
	t.expires = col_ll(res, i, CLUSTER_SQL_COL_EXPIRES);
	t.max_mappings = col_ll(res, i, CLUSTER_SQL_COL_MAX_MAPPINGS);
	if (db_token_check(&t, err, sizeof(err)) == -1)
		return -2;
	rc = db_token_mirror(&M->db, &t, &kick);
	if (rc == 0 && kick)
		mirror_kick(t.name);
	return rc;
}

/*
 * Applies a poll's rows (oldest first) to LMDB; returns the rev to poll
 * from next.  A row that cannot be written (a full disk) stops the batch
 * there, so the next poll tries it again; a malformed row is skipped.
 */
int64_t
cluster_mirror_apply(const PGresult *res, int64_t known)
{
	int n = PQntuples(res), rc;

	if (PQnfields(res) != CLUSTER_SQL_NCOLS)
		return known;
	for (int i = 0; i < n; i++) {
		const char *kind = PQgetvalue(res, i, CLUSTER_SQL_COL_KIND);

		rc = kind[0] == 'u' ? mirror_user(res, i) : mirror_token(res, i);
		if (rc == -1) {
			log_warnx("cluster: %s %s not copied to LMDB; tried "
			    "again next second", kind[0] == 'u' ? "user" :
			    "credential", PQgetvalue(res, i, CLUSTER_SQL_COL_NAME));
			return known;
		}
		if (rc == -2)
			log_warnx("cluster: %s %s from the database is malformed; "
			    "skipped", kind[0] == 'u' ? "user" : "credential",
			    PQgetvalue(res, i, CLUSTER_SQL_COL_NAME));
		known = col_ll(res, i, CLUSTER_SQL_COL_REV);
	}
	if (n > 0)
		log_debug("cluster: %d user/credential change(s) copied, rev %lld",
		    n, (long long)known);
	return known;
}
