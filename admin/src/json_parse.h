/* SPDX-License-Identifier: ISC */
/* json_parse.h: the admin's JSON input parsers (no Kore). */
#ifndef GOTUNNEL_ADMIN_JSON_PARSE_H
#define GOTUNNEL_ADMIN_JSON_PARSE_H

#include <stddef.h>

int	json_login_parse(const char *, size_t, char *user, size_t,
	    char *pw, size_t, char *otp, size_t, const char **err);
int	json_ctl_reply(const char *, size_t, char *status, size_t,
	    char *error, size_t);

#endif
