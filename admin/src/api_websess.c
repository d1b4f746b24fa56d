/* SPDX-License-Identifier: ISC */
/*
 * api_websess.c: the console's own login sessions.  GET /api/admin-sessions
 * lists the caller's sessions (everyone's for an admin); DELETE
 * /api/admin-sessions/HANDLE revokes one.  A session is named by its
 * handle (db_websess.c), never by its cookie value or the table key.
 */
#include <string.h>

#include "module.h"

/* What the list callback needs. */
struct websess_out {
	struct kore_buf	*b;
	const char	*current;	/* the caller's own handle */
	uint64_t	 n;
};

/* Appends one session to the list. */
static void
websess_item(const char *handle, const struct db_websession *s, void *arg)
{
	struct websess_out	*o = arg;

	jw_open(o->b, '{');
	jw_str(o->b, "handle", handle, DB_WEBSESS_HANDLE_HEX);
	jw_str(o->b, "user", s->user, sizeof(s->user));
	jw_str(o->b, "address", s->address, sizeof(s->address));
	jw_int(o->b, "created", s->created);
	jw_int(o->b, "expires", s->expires);
	jw_bool(o->b, "current", strcmp(handle, o->current) == 0);
	jw_close(o->b, '}');
	o->n++;
}

/* GET /api/admin-sessions: own sessions, or all for an admin. */
int
api_websess_list(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct websess_out	 o;
	struct kore_buf		 b;
	char			 current[DB_WEBSESS_HANDLE_HEX];
	int			 rc;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	db_websess_handle(ctx->sid, current);
	kore_buf_init(&b, 4096);
	jw_open(&b, '{');
	jw_key(&b, "items");
	jw_open(&b, '[');
	o.b = &b;
	o.current = current;
	o.n = 0;
	rc = db_websess_list(&admin_db, ctx->role >= DB_ROLE_ADMIN ? NULL :
	    ctx->sess.user, websess_item, &o);
	jw_close(&b, ']');
	jw_uint(&b, "total", o.n);
	jw_close(&b, '}');
	if (rc == 0)
		admin_json(ctx, 200, &b);
	else
		admin_error(ctx, 500, "database error");
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}

/* DELETE /api/admin-sessions/HANDLE: one's own, or anyone's for an admin. */
int
api_websess_revoke(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct db_websession	 s;
	char			 detail[128], current[DB_WEBSESS_HANDLE_HEX];
	int			 rc;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	db_websess_handle(ctx->sid, current);
	rc = db_websess_revoke(&admin_db, ctx->arg, ctx->role >=
	    DB_ROLE_ADMIN ? NULL : ctx->sess.user, &s);
	if (rc == 2) {
		access_deny(ctx, "DELETE");
		return KORE_RESULT_OK;
	}
	if (rc == 1) {
		admin_error(ctx, 404, "no such session");
		return KORE_RESULT_OK;
	}
	snprintf(detail, sizeof(detail), "session %.16s of %s", ctx->arg,
	    rc == 0 ? s.user : "?");
	(void)db_audit_add(&admin_db, ctx->sess.user, "session_revoke",
	    rc == 0, ctx->address, detail);
	if (rc != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	kore_log(LOG_NOTICE, "user '%s' revoked %s", ctx->sess.user, detail);
	/* Revoking the session in use is a logout: drop the cookie too. */
	if (strcmp(ctx->arg, current) == 0)
		auth_cookie(ctx, NULL, 0);
	admin_ok(ctx);
	return KORE_RESULT_OK;
}
