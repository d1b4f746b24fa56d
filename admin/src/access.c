/* SPDX-License-Identifier: ISC */
/*
 * access.c: the console's roles, decided in one place.  The dispatcher
 * asks access_required() what a route needs and access_allowed() whether
 * the session's role has it; a refusal is answered and audited by
 * access_deny().
 *
 *   viewer    every GET; no state-changing call (but its own logout and
 *             its own admin sessions)
 *   operator  also disconnects clients, enables/disables mappings,
 *             acknowledges alerts (routes declared DB_ROLE_OPERATOR)
 *   admin     also users, credentials, settings: everything else
 */
#include <string.h>

#include "module.h"

/* State-changing calls under these prefixes are admin-only, whatever the
 * route table declares: users, credentials and settings. */
static const char *const access_admin_prefixes[] = {
	"/api/users", "/api/tokens", "/api/settings", NULL,
};

/* 1 when path is prefix or lies under it ("/api/tokens/..."). */
static int
access_under(const char *path, const char *prefix)
{
	size_t	n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

/*
 * The least role a call needs.  A GET needs viewer; a state-changing
 * route needs what it declares, and admin when it declares nothing, so a
 * route added without thought is closed rather than open.
 */
enum db_role
access_required(int method, const char *path, enum db_role declared)
{
	if (method == HTTP_METHOD_GET || method == HTTP_METHOD_HEAD)
		return DB_ROLE_VIEWER;
	for (int i = 0; access_admin_prefixes[i] != NULL; i++)
		if (access_under(path, access_admin_prefixes[i]))
			return DB_ROLE_ADMIN;
	return declared != DB_ROLE_NONE ? declared : DB_ROLE_ADMIN;
}

/* 1 when the session's role is at least need. */
int
access_allowed(const struct admin_ctx *ctx, enum db_role need)
{
	return ctx->authed && ctx->role >= need;
}

/* Answers 403 {"error":"forbidden"} and audits the refused call. */
void
access_deny(struct admin_ctx *ctx, const char *what)
{
	char	detail[128];

	snprintf(detail, sizeof(detail), "%s %.80s (role %s)", what,
	    ctx->req->path, db_user_role_name(ctx->role));
	(void)db_audit_add(&admin_db, ctx->sess.user, "forbidden", 0,
	    ctx->address, detail);
	kore_log(LOG_NOTICE, "forbidden: user '%s' (%s) %s %.80s",
	    ctx->sess.user, db_user_role_name(ctx->role), what,
	    ctx->req->path);
	admin_error(ctx, 403, "forbidden");
}
