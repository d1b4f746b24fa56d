/* SPDX-License-Identifier: ISC */
/*
 * json.c: a small JSON writer into Kore buffers (every value is followed
 * by ',' which the closing bracket takes back) and CSV fields.  The JSON
 * parsers are in json_parse.c.
 */
#include <string.h>

#include "module.h"

/* Appends a literal. */
void
jw_raw(struct kore_buf *b, const char *s)
{
	kore_buf_append(b, s, strlen(s));
}

/* Removes a trailing ',' (the end of the previous value). */
static void
jw_unsep(struct kore_buf *b)
{
	if (b->offset > 0 && b->data[b->offset - 1] == ',')
		b->offset--;
}

/* Opens an object or array ('{' or '['). */
void
jw_open(struct kore_buf *b, char c)
{
	kore_buf_append(b, &c, 1);
}

/* Closes an object or array ('}' or ']'). */
void
jw_close(struct kore_buf *b, char c)
{
	jw_unsep(b);
	kore_buf_append(b, &c, 1);
	kore_buf_append(b, ",", 1);
}

/* Ends the document (drops the last separator). */
void
jw_end(struct kore_buf *b)
{
	jw_unsep(b);
}

/* Length of the valid UTF-8 sequence at s (0 if invalid). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t	len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2; cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3; cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4; cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends s as a JSON string; invalid UTF-8 becomes U+FFFD. */
void
jw_escape(struct kore_buf *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;
	char			 esc[8];

	kore_buf_append(b, "\"", 1);
	while (i < len) {
		if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			kore_buf_append(b, esc, 2);
			i++;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			kore_buf_append(b, esc, 6);
			i++;
		} else if ((n = utf8_len(p + i, len - i)) == 0) {
			kore_buf_append(b, "\\ufffd", 6);
			i++;
		} else {
			/* '<' escaped so that no "</script>" is ever emitted. */
			if (p[i] == '<')
				kore_buf_append(b, "\\u003c", 6);
			else
				kore_buf_append(b, p + i, n);
			i += n;
		}
	}
	kore_buf_append(b, "\"", 1);
}

/* Appends "key": (nothing when key is NULL, inside arrays). */
void
jw_key(struct kore_buf *b, const char *key)
{
	if (key == NULL)
		return;
	jw_escape(b, key, strlen(key));
	kore_buf_append(b, ":", 1);
}

/* Appends a string member; s may be a fixed field of max bytes. */
void
jw_str(struct kore_buf *b, const char *key, const char *s, size_t max)
{
	jw_key(b, key);
	jw_escape(b, s, strnlen(s, max));
	kore_buf_append(b, ",", 1);
}

/* Appends a signed integer member. */
void
jw_int(struct kore_buf *b, const char *key, int64_t v)
{
	jw_key(b, key);
	kore_buf_appendf(b, "%lld,", (long long)v);
}

/* Appends an unsigned integer member. */
void
jw_uint(struct kore_buf *b, const char *key, uint64_t v)
{
	jw_key(b, key);
	kore_buf_appendf(b, "%llu,", (unsigned long long)v);
}

/* Appends a boolean member. */
void
jw_bool(struct kore_buf *b, const char *key, int v)
{
	jw_key(b, key);
	jw_raw(b, v ? "true," : "false,");
}

/* Appends one CSV field (RFC 4180 quoting), then ',' or CRLF. */
void
csv_field(struct kore_buf *b, const char *s, size_t max, int last)
{
	size_t	len = strnlen(s, max), i;
	int	quote = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			quote = 1;
	}
	if (quote) {
		kore_buf_append(b, "\"", 1);
		for (i = 0; i < len; i++) {
			if (s[i] == '"')
				kore_buf_append(b, "\"", 1);
			kore_buf_append(b, s + i, 1);
		}
		kore_buf_append(b, "\"", 1);
	} else {
		kore_buf_append(b, s, len);
	}
	kore_buf_append(b, last ? "\r\n" : ",", last ? 2 : 1);
}
