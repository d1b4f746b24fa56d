/* SPDX-License-Identifier: ISC */
/*
 * cluster_sql.c: the statements that write console users and per-client
 * credentials to PostgreSQL (gt_users, gt_tokens: cluster_schema.c) and
 * read back what changed.  gotunnelctl runs them with libpq's blocking
 * calls, the master queues them on its asynchronous link (cluster.c): one
 * text for both.  Of a credential only the keyed hash of its secret
 * leaves LMDB, of a user the argon2id string of its password and, since
 * schema version 3, its TOTP secret: the one secret the cluster shares,
 * so that two-factor login holds on every node (a statement parameter,
 * never in the statement's text).
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

/*
 * A user's TOTP secret as the parameter $1 of the user statements: hex,
 * '' when two-factor login is off.  A parameter, not text in the
 * statement, so that a failing statement logged by PostgreSQL does not
 * carry it (parameters are not logged on errors by default).
 */
void
cluster_sql_totp_hex(const unsigned char *secret, size_t len,
    char out[CLUSTER_SQL_TOTP_HEX])
{
	out[0] = '\0';
	if (len > 0 && len <= (CLUSTER_SQL_TOTP_HEX - 1) / 2)
		sodium_bin2hex(out, CLUSTER_SQL_TOTP_HEX, secret, len);
}

/* Appends the insert of u's row (name, hash, role, times; totp $1). */
static int
sql_user_insert(PGconn *conn, struct evbuffer *b, const struct db_user *u)
{
	int	bad = 0;

	evbuffer_add_printf(b, "INSERT INTO gt_users (name, hash, role, created, "
	    "updated, deleted, totp) VALUES (");
	bad |= sql_lit(conn, b, u->name);
	evbuffer_add_printf(b, ", ");
	bad |= sql_lit(conn, b, u->hash);
	evbuffer_add_printf(b, ", '%s', %" PRId64 ", %" PRId64 ", false, $1) ON "
	    "CONFLICT (name) DO UPDATE SET ", db_user_role_name(u->role),
	    u->created, u->updated);
	return bad;
}

/*
 * The upsert of a user's name, hash and role; $1 is its TOTP secret
 * (cluster_sql_totp_hex).  A new row, or one revived from a delete, takes
 * it; a live row keeps the cluster's own enrolment, which only `user
 * totp` changes (cluster_sql_user_totp): a node whose copy is a second
 * old must not undo an enrolment made meanwhile on another.
 */
char *
cluster_sql_user_put(PGconn *conn, const struct db_user *u)
{
	struct evbuffer	*b = evbuffer_new();
	int		 bad;

	bad = sql_user_insert(conn, b, u);
	evbuffer_add_printf(b, "hash = EXCLUDED.hash, role = EXCLUDED.role, "
	    "created = EXCLUDED.created, updated = EXCLUDED.updated, totp = "
	    "CASE WHEN gt_users.deleted THEN EXCLUDED.totp ELSE gt_users.totp "
	    "END, deleted = false");
	return sql_take(b, bad);
}

/*
 * The change of a user's TOTP enrolment to $1 (hex, '' off).  With u (this
 * node's record) a user the cluster does not have yet is added with it;
 * without, only a user the cluster has is changed.  A deleted user is not
 * revived: the statement then changes no row.
 */
char *
cluster_sql_user_totp(PGconn *conn, const char *name, const struct db_user *u)
{
	struct evbuffer	*b = evbuffer_new();
	int		 bad;

	if (u != NULL) {
		bad = sql_user_insert(conn, b, u);
		evbuffer_add_printf(b, "totp = EXCLUDED.totp, updated = "
		    "extract(epoch FROM now())::bigint WHERE NOT "
		    "gt_users.deleted");
	} else {
		evbuffer_add_printf(b, "UPDATE gt_users SET totp = $1, updated = "
		    "extract(epoch FROM now())::bigint WHERE NOT deleted AND "
		    "name = ");
		bad = sql_lit(conn, b, name);
	}
	return sql_take(b, bad);
}

/* The tombstone of a deleted user: its row stays, without a hash. */
char *
cluster_sql_user_del(PGconn *conn, const char *name)
{
	struct evbuffer	*b = evbuffer_new();
	int		 bad;

	evbuffer_add_printf(b, "UPDATE gt_users SET deleted = true, hash = '', "
	    "totp = '', updated = extract(epoch FROM now())::bigint WHERE name = ");
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
	    "'', '', '', totp FROM gt_users WHERE %s UNION ALL SELECT rev, 't', "
	    "name, 0, hash, '', created, 0, revoked::int, revoked_at, "
	    "generation, expires, max_mappings, ports, allow_src, deny_src, "
	    "NULL::text FROM gt_tokens WHERE %s ORDER BY 1 LIMIT %d", cond,
	    cond, limit);
	return sql_take(b, 0);
}
