/* SPDX-License-Identifier: ISC */
/*
 * url.h: the admin's request-line parsing (query strings, integer
 * parameters, static-file paths).  Pure C, no Kore: the fuzz harnesses
 * and the module share it.
 */
#ifndef GOTUNNEL_ADMIN_URL_H
#define GOTUNNEL_ADMIN_URL_H

#include <stddef.h>
#include <stdint.h>

#define URL_QUERY_LEN_MAX	4096	/* longer query strings are refused */

/* One decoded query parameter (both point into the split string). */
struct url_param {
	char	*key;
	char	*value;
};

int	url_hexval(int);
int	url_decode(char *);
int	url_query_split(char *qs, struct url_param *, int max, int *n);
int	url_int(const char *, int64_t min, int64_t max, int64_t *out);
int	url_path_clean(const char *in, char *out, size_t size);

#endif
