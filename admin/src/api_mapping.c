/* SPDX-License-Identifier: ISC */
/*
 * api_mapping.c: POST /api/mappings/{port}/disable and /enable.  The master
 * does the work (gotunnelctl mapping disable|enable); like a disconnect,
 * the route needs a session and the CSRF token, and every try is audited.
 */
#include <arpa/inet.h>
#include <string.h>

#include "db_rec.h"
#include "module.h"

/* Parses a port path segment (1-65535, digits only); 0 if invalid. */
static uint16_t
mapping_port(const char *s)
{
	long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (*s - '0');
	}
	return v >= 1 && v <= 65535 ? (uint16_t)v : 0;
}

/* Reads the live mapping of port; 0 found, -1 absent. */
static int
mapping_get(uint16_t port, struct db_mapping *m)
{
	uint16_t	 key = htons(port);
	MDB_val		 k = { .mv_size = sizeof(key), .mv_data = &key }, v;
	MDB_txn		*txn;
	int		 rc = -1;

	if (db_txn_begin(&admin_db, 1, &txn) != 0)
		return -1;
	if (mdb_get(txn, admin_db.dbi[DB_MAPPINGS], &k, &v) == 0 &&
	    db_rec_mapping(&v, m) == 0)
		rc = 0;
	mdb_txn_abort(txn);
	return rc;
}

/* Asks the master to disable or enable the mapping of the path's port. */
static int
api_mapping_set(struct admin_ctx *ctx, int enable)
{
	static const char *const none[] = { NULL };
	const char		*action = enable ? "mapping_enable" :
				    "mapping_disable";
	struct db_mapping	 m;
	char			 req[128], err[256], detail[128];
	uint16_t		 port;
	int			 rc, found;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	if ((port = mapping_port(ctx->arg)) == 0) {
		admin_error(ctx, 400, "expected a port 1-65535");
		return KORE_RESULT_OK;
	}
	found = mapping_get(port, &m) == 0;
	snprintf(detail, sizeof(detail), "port %u%s%.*s%s", port,
	    found ? " (client " : "", found ?
	    (int)strnlen(m.client_name, sizeof(m.client_name)) : 0,
	    found ? m.client_name : "", found ? ")" : "");
	if (!found) {
		(void)db_audit_add(&admin_db, ctx->sess.user, action, 0,
		    ctx->address, detail);
		admin_error(ctx, 404, "no such mapping");
		return KORE_RESULT_OK;
	}
	snprintf(req, sizeof(req),
	    "{\"type\":\"ctl\",\"cmd\":\"%s\",\"remote_port\":%u}", action, port);
	rc = ctl_request(req, err, sizeof(err));
	(void)db_audit_add(&admin_db, ctx->sess.user, action, rc == 0,
	    ctx->address, detail);
	if (rc != 0) {
		if (rc == -1)
			kore_log(LOG_WARNING, "%s %u: %s", action, port, err);
		admin_error(ctx, rc == 1 && strstr(err, "no such") ? 404 : 500,
		    err);
		return KORE_RESULT_OK;
	}
	kore_log(LOG_NOTICE, "user '%s': %s %s", ctx->sess.user, action, detail);
	admin_ok(ctx);
	return KORE_RESULT_OK;
}

/* POST /api/mappings/{port}/disable. */
int
api_mapping_disable(struct admin_ctx *ctx)
{
	return api_mapping_set(ctx, 0);
}

/* POST /api/mappings/{port}/enable. */
int
api_mapping_enable(struct admin_ctx *ctx)
{
	return api_mapping_set(ctx, 1);
}
