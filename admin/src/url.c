/* SPDX-License-Identifier: ISC */
/*
 * url.c: decoding what a client puts in the request line: the query
 * string into parameters, a parameter into an integer, and the path of
 * a console file into a safe relative path.  Everything here is input
 * from strangers: every loop is bounded by the string it walks.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

/* The value of one hex digit, -1 if c is none. */
int
url_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* URL-decodes s in place; -1 on a bad escape, NUL or control byte. */
int
url_decode(char *s)
{
	char	*o = s;
	int	 hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%') {
			if ((hi = url_hexval(s[1])) < 0 ||
			    (lo = url_hexval(s[2])) < 0)
				return -1;
			*o = (char)(hi * 16 + lo);
			if ((unsigned char)*o < 0x20)
				return -1;
			o++;
			s += 2;
		} else if ((unsigned char)*s < 0x20) {
			return -1;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

/*
 * Splits qs (modified in place) into at most max decoded parameters;
 * -1 when it is too long, malformed, has an empty or a repeated key.
 */
int
url_query_split(char *qs, struct url_param *params, int max, int *n)
{
	char	*p, *next, *eq;

	*n = 0;
	if (strlen(qs) > URL_QUERY_LEN_MAX)
		return -1;
	for (p = qs; p != NULL; p = next) {
		if ((next = strchr(p, '&')) != NULL)
			*next++ = '\0';
		if (*p == '\0')
			continue;
		if (*n == max)
			return -1;
		if ((eq = strchr(p, '=')) != NULL)
			*eq++ = '\0';
		else
			eq = p + strlen(p);
		if (url_decode(p) == -1 || url_decode(eq) == -1 || *p == '\0')
			return -1;
		for (int i = 0; i < *n; i++) {
			if (strcmp(params[i].key, p) == 0)
				return -1;
		}
		params[*n].key = p;
		params[*n].value = eq;
		(*n)++;
	}
	return 0;
}

/* Reads a plain decimal in [min, max] (no sign, no spaces); -1 if not. */
int
url_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
	char		*end;
	long long	 n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*end != '\0' || errno != 0 || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/*
 * Decodes the URL path in into out and checks every segment; -1 when the
 * path is unsafe: not absolute, a bad escape, a control byte, a
 * backslash, or a segment starting with '.' (".", "..", ".env", ".git").
 */
int
url_path_clean(const char *in, char *out, size_t size)
{
	size_t	o = 0;
	char	*seg, *save = NULL, tmp[PATH_MAX];
	int	hi, lo;

	for (; *in != '\0'; in++) {
		if (o + 1 >= size || o + 1 >= sizeof(tmp))
			return -1;
		if (*in == '%') {
			if ((hi = url_hexval(in[1])) < 0 ||
			    (lo = url_hexval(in[2])) < 0)
				return -1;
			out[o] = (char)(hi * 16 + lo);
			in += 2;
		} else {
			out[o] = *in;
		}
		if ((unsigned char)out[o] < 0x20 || out[o] == '\\' ||
		    out[o] == 0x7f)
			return -1;
		o++;
	}
	if (size == 0)
		return -1;
	out[o] = '\0';
	if (out[0] != '/')
		return -1;
	snprintf(tmp, sizeof(tmp), "%s", out);
	for (seg = strtok_r(tmp, "/", &save); seg != NULL;
	    seg = strtok_r(NULL, "/", &save)) {
		if (seg[0] == '.')
			return -1;
	}
	return 0;
}
