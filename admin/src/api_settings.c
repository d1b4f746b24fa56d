/* SPDX-License-Identifier: ISC */
/*
 * api_settings.c: GET /api/settings, the master's settings the console
 * shows: the fingerprint of the master's certificate ([common]
 * tls_cert_file), which an operator hands to clients so they can pin it
 * (server_fingerprint), read once in the parent before Kore drops
 * privileges; and how long history and the audit log are kept
 * (db_prune.c), as the running master published them in LMDB, so a
 * reload of the master shows here without restarting the admin (before
 * any master ran: the documented defaults).
 */
#include "db_prune.h"
#include "module.h"
#include "tls_fp.h"

static char	settings_fp[TLS_FP_LEN];	/* "" when not configured */
static char	settings_fp_err[256];

/* Parent: computes the fingerprint of tls_cert_file, if it is set. */
void
settings_init(void)
{
	settings_fp[0] = '\0';
	settings_fp_err[0] = '\0';
	if (admin_conf.tls_cert_file[0] == '\0')
		return;
	if (tls_fp_file(admin_conf.tls_cert_file, settings_fp, settings_fp_err,
	    sizeof(settings_fp_err)) == -1) {
		settings_fp[0] = '\0';
		kore_log(LOG_WARNING, "tls_cert_file: %s", settings_fp_err);
	}
}

/*
 * GET /api/settings: {"tls_fingerprint": "sha256:..." or null, "tls": ..,
 * "history_retention": s, "history_max_records": n, "audit_retention": s}.
 */
int
api_settings(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct db_prune_limits	 lim;
	struct kore_buf		 b;
	MDB_txn			*txn;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	if (db_txn_begin(&admin_db, 1, &txn) != 0) {
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	db_prune_limits_get(&admin_db, txn, &lim);
	mdb_txn_abort(txn);
	kore_buf_init(&b, 256);
	jw_open(&b, '{');
	if (settings_fp[0] != '\0')
		jw_str(&b, "tls_fingerprint", settings_fp, sizeof(settings_fp));
	else {
		jw_key(&b, "tls_fingerprint");
		jw_raw(&b, "null,");
	}
	jw_bool(&b, "tls", admin_conf.tls_cert_file[0] != '\0');
	if (settings_fp_err[0] != '\0')
		jw_str(&b, "tls_error", settings_fp_err, sizeof(settings_fp_err));
	jw_int(&b, "history_retention", lim.history_retention);
	jw_uint(&b, "history_max_records", lim.history_max_records);
	jw_int(&b, "audit_retention", lim.audit_retention);
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}
