/* SPDX-License-Identifier: ISC */
/*
 * http_head.h: a strict, bounded parser of an HTTP/1.x request head (the
 * request line and the header fields up to the empty line).  It never
 * copies: fields are offsets into the caller's buffer.
 */
#ifndef GOTUNNEL_HTTP_HEAD_H
#define GOTUNNEL_HTTP_HEAD_H

#include <stddef.h>

#define HTTP_HEAD_MAX		(16 * 1024)	/* bytes, request line included */
#define HTTP_HEAD_MAX_FIELDS	100
#define HTTP_HOST_MAX		253		/* a DNS name */

enum hh_result {
	HH_AGAIN,	/* valid so far, the empty line has not come yet */
	HH_OK,		/* a whole, valid head */
	HH_BAD,		/* malformed: answer 400 */
	HH_TOO_BIG	/* no end within HTTP_HEAD_MAX: answer 431 */
};

/* One header field: "name: value" at buf + line, value trimmed. */
struct hh_field {
	size_t	line, line_len;		/* the whole line, CRLF included */
	size_t	name, name_len;
	size_t	value, value_len;
};

struct http_head {
	size_t		 len;		/* the head's bytes, final CRLF included */
	size_t		 reqline_len;	/* request line, CRLF included */
	size_t		 method_len;
	int		 minor;		/* HTTP/1.<minor> */
	struct hh_field	 fields[HTTP_HEAD_MAX_FIELDS];
	size_t		 nfields;
	char		 host[HTTP_HOST_MAX + 1];	/* lower case, no port, no
							 * trailing dot */
};

enum hh_result	 http_head_parse(const char *buf, size_t len,
		    struct http_head *, const char **why);
int		 http_head_find(const struct http_head *, const char *buf,
		    const char *name, size_t from);
int		 http_host_normalize(const char *in, size_t len, char *out,
		    size_t outlen);

#endif
