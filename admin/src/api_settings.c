/* SPDX-License-Identifier: ISC */
/*
 * api_settings.c: GET /api/settings, what an operator hands to clients:
 * the fingerprint of the master's certificate ([common] tls_cert_file), so
 * a client can pin it (server_fingerprint).  Read once in the parent,
 * before Kore drops privileges, like the rest of the configuration.
 */
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

/* GET /api/settings: {"tls_fingerprint": "sha256:..." or null, ...}. */
int
api_settings(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct kore_buf	b;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
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
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}
