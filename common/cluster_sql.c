/* SPDX-License-Identifier: ISC */
/*
 * cluster_sql.c: the statements that write console users and per-client
 * credentials to PostgreSQL (gt_users, gt_tokens: cluster_schema.c) and
 * read back what changed.  gotunnelctl runs them with libpq's blocking
 * calls, the master queues them on its asynchronous link (cluster.c): one
 * text for both.  Only hashes leave LMDB: the argon2id string of a user,
 * the keyed hash of a credential's secret; never a TOTP secret.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "cluster_sql.h"
#include "db_admin.h"
#include "xmalloc.h"

/* Appends str as an SQL literal escaped by libpq; -1 when libpq cannot. */
static int
sql_lit(PGconn *conn, struct evbuffer *b, const char *str)
{
	char *e = PQescapeLiteral(conn, str, strlen(str));

	if (e == NULL)
		return -1;
	evbuffer_add(b, e, strlen(e));
	PQfreemem(e);
	return 0;
}

/* Takes the text of b (freeing b) as a malloc'd string; NULL if failed. */
static char *
sql_take(struct evbuffer *b, int failed)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = NULL;

	if (!failed) {
		s = xmalloc(n + 1);
		evbuffer_remove(b, s, n);
		s[n] = '\0';
	}
	evbuffer_free(b);
	return s;
}

/* The upsert of a user's name, hash and role (its TOTP stays per node). */
char *
cluster_sql_user_put(PGconn *conn, const struct db_user *u)
{
	struct evbuffer	*b = evbuffer_new();
	int		 bad = 0;

	evbuffer_add_printf(b, "INSERT INTO gt_users (name, hash, role, created, "
	    "updated, deleted) VALUES (");
	bad |= sql_lit(conn, b, u->name);
	evbuffer_add_printf(b, ", ");
	bad |= sql_lit(conn, b, u->hash);
	evbuffer_add_printf(b, ", '%s', %" PRId64 ", %" PRId64 ", false) ON "
	    "CONFLICT (name) DO UPDATE SET hash = EXCLUDED.hash, role = "
	    "EXCLUDED.role, created = EXCLUDED.created, updated = "
	    "EXCLUDED.updated, deleted = false", db_user_role_name(u->role),
	    u->created, u->updated);
	return sql_take(b, bad);
}

/* The tombstone of a deleted user: its row stays, without a hash. */
char *
cluster_sql_user_del(PGconn *conn, const char *name)
{
	struct evbuffer	*b = evbuffer_new();
	int		 bad;

	evbuffer_add_printf(b, "UPDATE gt_users SET deleted = true, hash = '', "
	    "updated = extract(epoch FROM now())::bigint WHERE name = ");
	bad = sql_lit(conn, b, name);
	evbuffer_add_printf(b, " AND NOT deleted");
	return sql_take(b, bad);
}

/* The upsert of a credential (last_used stays per node). */
char *
cluster_sql_token_put(PGconn *conn, const struct db_token *t)
{
	struct evbuffer	*b = evbuffer_new();
	char		 hex[DB_TOKEN_HASH_LEN * 2 + 1];
	int		 bad = 0;

	sodium_bin2hex(hex, sizeof(hex), t->hash, sizeof(t->hash));
	evbuffer_add_printf(b, "INSERT INTO gt_tokens (name, hash, revoked, "
	    "revoked_at, generation, created, expires, max_mappings, ports, "
	    "allow_src, deny_src) VALUES (");
	bad |= sql_lit(conn, b, t->name);
	evbuffer_add_printf(b, ", '%s', %s, %" PRId64 ", %" PRIu64 ", %" PRId64
	    ", %" PRId64 ", %" PRId64 ", ", hex, t->revoked ? "true" : "false",
	    t->revoked_at, t->generation, t->created, t->expires,
	    t->max_mappings);
	bad |= sql_lit(conn, b, t->ports);
	evbuffer_add_printf(b, ", ");
	bad |= sql_lit(conn, b, t->allow);
	evbuffer_add_printf(b, ", ");
	bad |= sql_lit(conn, b, t->deny);
	evbuffer_add_printf(b, ") ON CONFLICT (name) DO UPDATE SET hash = "
	    "EXCLUDED.hash, revoked = EXCLUDED.revoked, revoked_at = "
	    "EXCLUDED.revoked_at, generation = EXCLUDED.generation, created = "
	    "EXCLUDED.created, expires = EXCLUDED.expires, max_mappings = "
	    "EXCLUDED.max_mappings, ports = EXCLUDED.ports, allow_src = "
	    "EXCLUDED.allow_src, deny_src = EXCLUDED.deny_src");
	return sql_take(b, bad);
}

/*
 * The rows changed since rev known, oldest first, at most limit (columns:
 * CLUSTER_SQL_COL_*).  A counter below known (a database made anew) gives
 * every row again.
 */
char *
cluster_sql_auth_poll(int64_t known, int limit)
{
	struct evbuffer	*b = evbuffer_new();
	char		 cond[160];

	snprintf(cond, sizeof(cond), "(rev > %" PRId64 " OR (SELECT rev FROM "
	    "gt_auth) < %" PRId64 ")", known, known);
	evbuffer_add_printf(b, "SELECT rev, 'u', name, deleted::int, hash, role, "
	    "created, updated, 0, 0::bigint, 0::bigint, 0::bigint, 0::bigint, "
	    "'', '', '' FROM gt_users WHERE %s UNION ALL SELECT rev, 't', name, "
	    "0, hash, '', created, 0, revoked::int, revoked_at, generation, "
	    "expires, max_mappings, ports, allow_src, deny_src FROM gt_tokens "
	    "WHERE %s ORDER BY 1 LIMIT %d", cond, cond, limit);
	return sql_take(b, 0);
}
