/* SPDX-License-Identifier: ISC */
/*
 * http_head.c: a strict, bounded parser of an HTTP/1.x request head.
 *
 * Written here because Debian 12 has no well-kept HTTP parser library
 * (libllhttp is not packaged; libhttp-parser is archived upstream).  The
 * master only needs the head of the first request to route it, so the
 * parser is small and strict (RFC 9112): CRLF line ends only, token
 * characters in the method and field names, no whitespace before a colon,
 * no obsolete line folding, no control characters (NUL included) in
 * values, exactly one valid Host.  It reads a growing buffer from the
 * start each call and refuses a bad byte as soon as it is seen, so
 * garbage is refused without waiting for the rest.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http_head.h"

/* tchar of RFC 9110: the characters of a token. */
static int
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A character allowed in a field value (VCHAR, obs-text, SP, HTAB). */
static int
is_vchar(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* Validates a Host value (or an SNI name) and writes its routing form:
 * lower case, no ":port", no trailing dot.  0 or -1. */
int
http_host_normalize(const char *in, size_t len, char *out, size_t outlen)
{
	size_t	n = 0, i = 0, label = 0;

	if (len == 0 || outlen == 0)
		return -1;
	if (in[0] == '[') {		/* IPv6 literal: never a domain, kept */
		for (i = 1; i < len && in[i] != ']'; i++)
			if (!isxdigit((unsigned char)in[i]) && in[i] != ':' &&
			    in[i] != '.')
				return -1;
		if (i == len || i + 1 >= outlen)
			return -1;
		i++;
		for (size_t j = 0; j < i; j++)
			out[n++] = (char)tolower((unsigned char)in[j]);
	} else {
		for (; i < len && in[i] != ':'; i++) {
			unsigned char c = (unsigned char)in[i];

			if (c == '.') {
				if (label == 0)
					return -1;	/* empty label */
				label = 0;
			} else if (isalnum(c) || c == '-' || c == '_') {
				if (++label > 63)
					return -1;
			} else
				return -1;
			if (n + 1 >= outlen || n >= HTTP_HOST_MAX + 1)
				return -1;
			out[n++] = (char)tolower(c);
		}
		if (n > 0 && out[n - 1] == '.')
			n--;		/* "example.org." is "example.org" */
		if (n == 0 || n > HTTP_HOST_MAX)
			return -1;
	}
	if (i < len) {			/* ":port" */
		size_t digits = 0;

		if (in[i++] != ':')
			return -1;
		for (; i < len; i++, digits++)
			if (!isdigit((unsigned char)in[i]) || digits >= 5)
				return -1;
		if (digits == 0)
			return -1;
	}
	out[n] = '\0';
	return 0;
}

/* Checks the request line buf[0..end) (end: at its CR, or the data's end
 * if incomplete); 0 valid (so far), -1 not. */
static int
parse_reqline(const char *buf, size_t end, int complete, struct http_head *h,
    const char **why)
{
	size_t	i = 0, t;

	for (; i < end && buf[i] != ' '; i++)
		if (!is_tchar((unsigned char)buf[i]) || i >= 32) {
			*why = "bad method";
			return -1;
		}
	h->method_len = i;
	if (i == end)
		return complete ? (*why = "bad request line", -1) : 0;
	if (i == 0) {
		*why = "bad method";
		return -1;
	}
	for (t = ++i; i < end && buf[i] != ' '; i++)
		if ((unsigned char)buf[i] < 0x21 || (unsigned char)buf[i] == 0x7f) {
			*why = "bad request target";
			return -1;
		}
	if (i == end)
		return complete ? (*why = "bad request line", -1) : 0;
	if (i == t) {
		*why = "bad request target";
		return -1;
	}
	i++;
	/* The version: a prefix of "HTTP/1.x" while incomplete. */
	if (end - i > 8 || memcmp(buf + i, "HTTP/1.", end - i < 7 ? end - i : 7)
	    != 0 || (end - i == 8 && buf[i + 7] != '0' && buf[i + 7] != '1')) {
		*why = "bad HTTP version";
		return -1;
	}
	if (complete) {
		if (end - i != 8) {
			*why = "bad HTTP version";
			return -1;
		}
		h->minor = buf[i + 7] - '0';
	}
	return 0;
}

/* Checks one header line buf[start..end) (at its CR, or the data's end if
 * incomplete) and records it when complete; 0 or -1. */
static int
parse_field(const char *buf, size_t start, size_t end, int complete,
    struct http_head *h, const char **why)
{
	struct hh_field	*f;
	size_t		 i = start, v, ve;

	if (buf[start] == ' ' || buf[start] == '\t') {
		*why = "obsolete line folding";
		return -1;
	}
	for (; i < end && buf[i] != ':'; i++)
		if (!is_tchar((unsigned char)buf[i])) {
			*why = "bad header name";
			return -1;
		}
	if (i == start && (i < end || complete)) {
		*why = "bad header name";
		return -1;
	}
	if (i == end)
		return complete ? (*why = "header without colon", -1) : 0;
	for (v = i + 1; v < end; v++)
		if (!is_vchar((unsigned char)buf[v])) {
			*why = "bad character in a header value";
			return -1;
		}
	if (!complete)
		return 0;
	if (h->nfields == HTTP_HEAD_MAX_FIELDS) {
		*why = "too many header fields";
		return -1;
	}
	f = &h->fields[h->nfields++];
	f->line = start;
	f->line_len = end + 2 - start;
	f->name = start;
	f->name_len = i - start;
	for (v = i + 1; v < end && (buf[v] == ' ' || buf[v] == '\t'); v++)
		;
	for (ve = end; ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'); ve--)
		;
	f->value = v;
	f->value_len = ve - v;
	return 0;
}

/* Finds the next field named name (case-insensitive) from index from; -1. */
int
http_head_find(const struct http_head *h, const char *buf, const char *name,
    size_t from)
{
	size_t n = strlen(name);

	for (size_t i = from; i < h->nfields; i++)
		if (h->fields[i].name_len == n &&
		    strncasecmp(buf + h->fields[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

/* Checks the fields of a whole head: one valid Host, no smuggling pair. */
static enum hh_result
check_fields(const char *buf, struct http_head *h, const char **why)
{
	int			 host = http_head_find(h, buf, "host", 0);
	const struct hh_field	*f;

	if (host == -1) {
		*why = "no Host header";
		return HH_BAD;
	}
	if (http_head_find(h, buf, "host", (size_t)host + 1) != -1) {
		*why = "more than one Host header";
		return HH_BAD;
	}
	f = &h->fields[host];
	if (http_host_normalize(buf + f->value, f->value_len, h->host,
	    sizeof(h->host)) == -1) {
		*why = "bad Host header";
		return HH_BAD;
	}
	/* Both framings at once is how requests are smuggled (RFC 9112 6.1). */
	if (http_head_find(h, buf, "transfer-encoding", 0) != -1 &&
	    http_head_find(h, buf, "content-length", 0) != -1) {
		*why = "both Content-Length and Transfer-Encoding";
		return HH_BAD;
	}
	return HH_OK;
}

/*
 * Parses the head at the start of buf[0..len).  HH_OK fills h (h->len is
 * where the body begins); HH_BAD and HH_TOO_BIG set why.
 */
enum hh_result
http_head_parse(const char *buf, size_t len, struct http_head *h,
    const char **why)
{
	size_t	pos = 0, cap = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	int	line = 0;

	memset(h, 0, sizeof(*h));
	*why = NULL;
	while (pos < cap) {
		const char	*cr = memchr(buf + pos, '\r', cap - pos);
		const char	*lf = memchr(buf + pos, '\n', cap - pos);
		size_t		 end = cr ? (size_t)(cr - buf) : cap;
		int		 complete;

		if (lf != NULL && (size_t)(lf - buf) < end) {
			*why = "bare LF line end";
			return HH_BAD;
		}
		if (cr != NULL && end + 1 < cap && buf[end + 1] != '\n') {
			*why = "bare CR in the head";
			return HH_BAD;
		}
		complete = cr != NULL && end + 1 < cap;
		if (line == 0) {
			if (parse_reqline(buf, end, complete, h, why) == -1)
				return HH_BAD;
			if (complete)
				h->reqline_len = end + 2;
		} else if (end == pos) {
			if (!complete)
				break;
			h->len = end + 2;	/* the empty line: the end */
			return check_fields(buf, h, why);
		} else if (parse_field(buf, pos, end, complete, h, why) == -1)
			return HH_BAD;
		if (!complete)
			break;
		pos = end + 2;
		line++;
	}
	if (len >= HTTP_HEAD_MAX) {
		*why = "request head over 16 KiB";
		return HH_TOO_BIG;
	}
	return HH_AGAIN;
}
