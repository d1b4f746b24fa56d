/* SPDX-License-Identifier: ISC */
/*
 * json.c: a small JSON writer into Kore buffers (every value is followed
 * by ',' which the closing bracket takes back), CSV fields, and strict
 * yajl callback parsers for the two JSON inputs: the login body and the
 * master's control-socket reply.
 */
#include <string.h>

#include <yajl/yajl_parse.h>

#include "module.h"

#define JSON_DEPTH_MAX	16

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

/* State of the strict parsers: one object of string members at depth 1. */
struct jparse {
	int		 depth;
	int		 target;	/* member being read, -1 none */
	const char	*names[3];	/* NULL: unused */
	char		*out[3];
	size_t		 outsz[3];
	int		 seen[3];
	const char	*err;
};

/* yajl: a string value. */
static int
jp_string(void *ctx, const unsigned char *s, size_t len)
{
	struct jparse	*p = ctx;

	if (p->depth == 1 && p->target >= 0) {
		if (len >= p->outsz[p->target] || memchr(s, '\0', len)) {
			p->err = "invalid string value";
			return 0;
		}
		memcpy(p->out[p->target], s, len);
		p->out[p->target][len] = '\0';
	}
	p->target = -1;
	return 1;
}

/* yajl: any non-string scalar. */
static int
jp_scalar(struct jparse *p)
{
	if (p->depth == 1 && p->target >= 0) {
		p->err = "wrong type: expected a string";
		return 0;
	}
	p->target = -1;
	return 1;
}

static int jp_null(void *c) { return jp_scalar(c); }
static int jp_bool(void *c, int b) { (void)b; return jp_scalar(c); }
static int jp_number(void *c, const char *s, size_t l)
{ (void)s; (void)l; return jp_scalar(c); }

/* yajl: an object or array opens. */
static int
jp_open(struct jparse *p, int is_map)
{
	if (p->depth == 0 && !is_map) {
		p->err = "expected a JSON object";
		return 0;
	}
	if (p->depth == 1 && p->target >= 0) {
		p->err = "wrong type: expected a string";
		return 0;
	}
	if (++p->depth > JSON_DEPTH_MAX) {
		p->err = "nesting too deep";
		return 0;
	}
	p->target = -1;
	return 1;
}

static int jp_start_map(void *c) { return jp_open(c, 1); }
static int jp_start_array(void *c) { return jp_open(c, 0); }
static int jp_end(void *c) { ((struct jparse *)c)->depth--; return 1; }

/* yajl: a member name; duplicates of known members are errors. */
static int
jp_key(void *ctx, const unsigned char *k, size_t len)
{
	struct jparse	*p = ctx;

	p->target = -1;
	if (p->depth != 1)
		return 1;
	for (int i = 0; i < 3; i++) {
		if (p->names[i] != NULL && strlen(p->names[i]) == len &&
		    memcmp(p->names[i], k, len) == 0) {
			if (p->seen[i]++) {
				p->err = "duplicate member";
				return 0;
			}
			p->target = i;
		}
	}
	return 1;
}

static const yajl_callbacks jp_callbacks = {
	jp_null, jp_bool, NULL, NULL, jp_number, jp_string,
	jp_start_map, jp_key, jp_end, jp_start_array, jp_end
};

/* Parses buf (len bytes) as one object; 0 ok, -1 with *err set. */
static int
jp_run(struct jparse *p, const char *buf, size_t len)
{
	yajl_handle	h;
	int		ok;

	if (buf[0] != '{' && buf[0] != ' ' && buf[0] != '\n' &&
	    buf[0] != '\t' && buf[0] != '\r') {
		p->err = "expected a JSON object";
		return -1;
	}
	if ((h = yajl_alloc(&jp_callbacks, NULL, p)) == NULL) {
		p->err = "out of memory";
		return -1;
	}
	yajl_config(h, yajl_allow_comments, 0);
	yajl_config(h, yajl_dont_validate_strings, 0);
	ok = yajl_parse(h, (const unsigned char *)buf, len) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	if (!ok) {
		if (p->err == NULL)
			p->err = "malformed JSON";
		return -1;
	}
	return 0;
}

/* Prepares p to read the string members n0 and n1 into o0 and o1. */
static void
jp_init(struct jparse *p, const char *n0, char *o0, size_t s0,
    const char *n1, char *o1, size_t s1)
{
	memset(p, 0, sizeof(*p));
	p->target = -1;
	p->names[0] = n0;
	p->names[1] = n1;
	p->out[0] = o0;
	p->out[1] = o1;
	p->outsz[0] = s0;
	p->outsz[1] = s1;
	o0[0] = o1[0] = '\0';
}

/* Parses a login body {"username":"..","password":"..","otp":".."}. */
int
json_login_parse(const char *buf, size_t len, char *user, size_t usz,
    char *pw, size_t pwsz, char *otp, size_t otpsz, const char **err)
{
	struct jparse	p;

	jp_init(&p, "username", user, usz, "password", pw, pwsz);
	/* otp is optional: only users with two-factor login need it. */
	p.names[2] = "otp";
	p.out[2] = otp;
	p.outsz[2] = otpsz;
	otp[0] = '\0';
	if (len == 0) {
		*err = "empty body";
		return -1;
	}
	if (jp_run(&p, buf, len) == -1) {
		*err = p.err;
		return -1;
	}
	if (!p.seen[0] || !p.seen[1]) {
		*err = "username and password are required";
		return -1;
	}
	return 0;
}

/* Parses the master's reply {"type":"ctl_response","status":..,"error":..}. */
int
json_ctl_reply(const char *buf, size_t len, char *status, size_t ssz,
    char *error, size_t esz)
{
	struct jparse	p;

	jp_init(&p, "status", status, ssz, "error", error, esz);
	if (len == 0 || jp_run(&p, buf, len) == -1 || !p.seen[0])
		return -1;
	return 0;
}
