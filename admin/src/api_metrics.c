/* SPDX-License-Identifier: ISC */
/*
 * api_metrics.c: GET /metrics, the Prometheus text exposition of the
 * master's metrics (common/metrics.c renders them from LMDB).  A scraper
 * authenticates with "Authorization: Bearer <metrics_token>"; a console
 * session works too.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "metrics.h"
#include "module.h"

/* Tells whether the request carries the configured bearer token. */
int
api_metrics_bearer_ok(struct admin_ctx *ctx)
{
	const char	*auth;
	unsigned char	 want[32], got[32];
	const char	*tok;

	if (admin_conf.metrics_token[0] == '\0' ||
	    !http_request_header(ctx->req, "authorization", &auth) ||
	    strncmp(auth, "Bearer ", 7) != 0)
		return 0;
	tok = auth + 7;
	/* Hash both sides: equal lengths, compared in constant time. */
	crypto_generichash(want, sizeof(want),
	    (const unsigned char *)admin_conf.metrics_token,
	    strlen(admin_conf.metrics_token), NULL, 0);
	crypto_generichash(got, sizeof(got), (const unsigned char *)tok,
	    strlen(tok), NULL, 0);
	return sodium_memcmp(want, got, sizeof(want)) == 0;
}

/* GET /metrics. */
int
api_metrics(struct admin_ctx *ctx)
{
	char *text = metrics_render(&admin_db);

	admin_headers(ctx->req, 1);
	http_response_header(ctx->req, "content-type",
	    "text/plain; version=0.0.4; charset=utf-8");
	http_response(ctx->req, 200, text, strlen(text));
	free(text);
	return KORE_RESULT_OK;
}
