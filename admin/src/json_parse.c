/* SPDX-License-Identifier: ISC */
/*
 * json_parse.c: strict yajl callback parsers for the admin's two JSON
 * inputs: the login body and the master's control-socket reply.  One
 * object of string members at depth 1, no comments, valid UTF-8,
 * nesting bounded.  Pure C, no Kore: the fuzz harness links it alone.
 */
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json_parse.h"

#define JSON_DEPTH_MAX	16

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
