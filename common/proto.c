/* SPDX-License-Identifier: ISC */
/*
 * proto.c: the control-message parser and encoder.
 *
 * The callback parser is used with an explicit length because yajl's tree
 * parser accepts comments, keeps duplicate keys, stops at a NUL and
 * recurses without limit (STACK.md).  Every rule of gotunnel-protocol(7)
 * is enforced here, so handlers only see well-formed messages.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "proto.h"

enum field_kind { K_STR, K_INT };

struct field_def {
	const char	*key;
	enum field_kind	 kind;
	size_t		 off;
	size_t		 size;		/* K_STR: buffer size */
	int64_t		 min, max;	/* K_INT: accepted range */
};

#define STR(f, k)	{ k, K_STR, offsetof(struct msg, f), sizeof(((struct msg *)0)->f), 0, 0 }
#define INT(f, k, lo, hi) { k, K_INT, offsetof(struct msg, f), 0, lo, hi }

static const struct field_def fields[F_NFIELDS] = {
	[F_TYPE] = STR(type_s, "type"),
	[F_STATUS] = STR(status, "status"),
	[F_ERROR] = STR(error, "error"),
	[F_NAME] = STR(name, "name"),
	[F_MAPPING] = STR(mapping, "mapping"),
	[F_CLIENT_ID] = STR(client_id, "client_id"),
	[F_TOKEN] = STR(token, "token"),
	[F_PROTOCOL] = STR(protocol, "protocol"),
	[F_LOCAL_IP] = STR(local_ip, "local_ip"),
	[F_LOCAL_PORT] = INT(local_port, "local_port", 1, 65535),
	[F_REMOTE_PORT] = INT(remote_port, "remote_port", 0, 65535),
	[F_POOL_COUNT] = INT(pool_count, "pool_count", 0, 1000),
	[F_DATA_ID] = STR(data_id, "data_id"),
	[F_PEER] = STR(peer, "peer"),
	[F_CMD] = STR(cmd, "cmd"),
	[F_MAX_CONNS] = INT(max_conns, "max_conns", 0, 1000000),
	[F_CONN_RATE] = INT(conn_rate, "conn_rate", 0, 1000000),
	[F_CONN_BURST] = INT(conn_burst, "conn_burst", 0, 1000000),
	[F_BANDWIDTH_LIMIT] = INT(bandwidth_limit, "bandwidth_limit", 0, 1LL << 33),
	[F_CUSTOM_DOMAINS] = STR(custom_domains, "custom_domains"),
	[F_SUBDOMAIN] = STR(subdomain, "subdomain"),
	[F_HTTP_USER] = STR(http_user, "http_user"),
	[F_HTTP_PASSWORD] = STR(http_password, "http_password"),
	[F_HOST_HEADER_REWRITE] = STR(host_header_rewrite, "host_header_rewrite"),
	[F_ALLOW_CIDRS] = STR(allow_cidrs, "allow_cidrs"),
	[F_DENY_CIDRS] = STR(deny_cidrs, "deny_cidrs"),
};

static const char *const type_names[MSG_NTYPES] = {
	[MSG_NONE] = "",
	[MSG_REGISTER] = "register",
	[MSG_REGISTER_RESPONSE] = "register_response",
	[MSG_HEARTBEAT] = "heartbeat",
	[MSG_HEARTBEAT_ACK] = "heartbeat_ack",
	[MSG_OPEN_DATA] = "open_data",
	[MSG_DATA] = "data",
	[MSG_START] = "start",
	[MSG_ERROR] = "error",
	[MSG_CTL] = "ctl",
	[MSG_CTL_RESPONSE] = "ctl_response",
};

/* Keys already seen in one open object, to refuse duplicates. */
struct keyset {
	size_t	used;
	char	buf[1024];
};

struct parse_state {
	struct msg	*m;
	int		 depth;		/* 0 outside, 1 inside the top object */
	int		 in_array[PROTO_MAX_DEPTH + 2];
	int		 cur;		/* field of the current top-level key, -1 unknown */
	char		 err[128];
	struct keyset	 keys[PROTO_MAX_DEPTH + 2];
};

/* Returns the wire name of a message type. */
const char *
msg_type_name(enum msg_type t)
{
	return (t > MSG_NONE && t < MSG_NTYPES) ? type_names[t] : "";
}

/* Records the first error and stops the parse. */
static int
fail(struct parse_state *st, const char *fmt, const char *arg)
{
	if (st->err[0] == '\0')
		snprintf(st->err, sizeof(st->err), fmt, arg);
	return 0;
}

/* Checks where a scalar value may appear: not at top level. */
static int
scalar_position(struct parse_state *st)
{
	if (st->depth == 0)
		return fail(st, "message must be a JSON object%s", "");
	return 1;
}

/* Stores a top-level string member after type and NUL checks. */
static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
	struct parse_state	*st = ctx;
	const struct field_def	*f;

	if (!scalar_position(st))
		return 0;
	if (memchr(s, '\0', len) != NULL)
		return fail(st, "NUL character in a string%s", "");
	if (st->depth != 1 || st->in_array[1] || st->cur < 0)
		return 1;
	f = &fields[st->cur];
	if (f->kind != K_STR)
		return fail(st, "member '%s' must be a number", f->key);
	if (len >= f->size)
		return fail(st, "member '%s' is too long", f->key);
	memcpy((char *)st->m + f->off, s, len);
	((char *)st->m + f->off)[len] = '\0';
	MSG_SET(st->m, st->cur);
	return 1;
}

/* Stores a top-level integer member after type and range checks. */
static int
on_integer(void *ctx, long long v)
{
	struct parse_state	*st = ctx;
	const struct field_def	*f;

	if (!scalar_position(st))
		return 0;
	if (st->depth != 1 || st->in_array[1] || st->cur < 0)
		return 1;
	f = &fields[st->cur];
	if (f->kind != K_INT)
		return fail(st, "member '%s' must be a string", f->key);
	if (v < f->min || v > f->max)
		return fail(st, "member '%s' is out of range", f->key);
	*(int64_t *)(void *)((char *)st->m + f->off) = v;
	MSG_SET(st->m, st->cur);
	return 1;
}

/* A fraction, null or boolean: fine for unknown members only. */
static int
on_other_scalar(struct parse_state *st)
{
	if (!scalar_position(st))
		return 0;
	if (st->depth == 1 && !st->in_array[1] && st->cur >= 0)
		return fail(st, "member '%s' has the wrong type",
		    fields[st->cur].key);
	return 1;
}

static int on_null(void *ctx) { return on_other_scalar(ctx); }
static int on_bool(void *ctx, int b) { (void)b; return on_other_scalar(ctx); }
static int on_double(void *ctx, double d) { (void)d; return on_other_scalar(ctx); }

/* Opens an object or array, enforcing the depth limit. */
static int
open_container(struct parse_state *st, int is_array)
{
	if (st->depth == 0 && is_array)
		return fail(st, "message must be a JSON object%s", "");
	if (st->depth == 1 && !st->in_array[1] && st->cur >= 0)
		return fail(st, "member '%s' has the wrong type",
		    fields[st->cur].key);
	if (st->depth >= PROTO_MAX_DEPTH)
		return fail(st, "JSON nested too deeply (limit 16)%s", "");
	st->depth++;
	st->in_array[st->depth] = is_array;
	st->keys[st->depth].used = 0;
	return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, 0); }
static int on_start_array(void *ctx) { return open_container(ctx, 1); }

/* Closes an object or array. */
static int
on_end(void *ctx)
{
	struct parse_state *st = ctx;

	st->depth--;
	return 1;
}

/* Records a key: refuses duplicates and NULs, finds top-level fields. */
static int
on_map_key(void *ctx, const unsigned char *k, size_t len)
{
	struct parse_state	*st = ctx;
	struct keyset		*ks = &st->keys[st->depth];
	size_t			 off = 0;

	if (memchr(k, '\0', len) != NULL)
		return fail(st, "NUL character in a key%s", "");
	while (off < ks->used) {
		size_t klen = strlen(ks->buf + off);

		if (klen == len && memcmp(ks->buf + off, k, len) == 0)
			return fail(st, "duplicate key%s", "");
		off += klen + 1;
	}
	if (ks->used + len + 1 > sizeof(ks->buf))
		return fail(st, "too many members in one object%s", "");
	memcpy(ks->buf + ks->used, k, len);
	ks->buf[ks->used + len] = '\0';
	ks->used += len + 1;
	if (st->depth == 1) {
		st->cur = -1;
		for (int i = 0; i < F_NFIELDS; i++)
			if (strlen(fields[i].key) == len &&
			    memcmp(fields[i].key, k, len) == 0)
				st->cur = i;
	}
	return 1;
}

static const yajl_callbacks parse_callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_bool,
	.yajl_integer = on_integer,
	.yajl_double = on_double,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_map_key,
	.yajl_end_map = on_end,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end,
};

/* Maps the type string to the enum. */
static enum msg_type
type_lookup(const char *s)
{
	for (int t = MSG_NONE + 1; t < MSG_NTYPES; t++)
		if (strcmp(s, type_names[t]) == 0)
			return (enum msg_type)t;
	return MSG_NONE;
}

/*
 * Parses one message of len bytes.  Returns 0, or -1 with a reason for the
 * peer in err.  Unknown members are allowed (and ignored) for forward
 * compatibility, but are held to the same syntax rules.
 */
int
proto_parse(const char *json, size_t len, struct msg *m, char *err,
    size_t errlen)
{
	struct parse_state	*st;
	yajl_handle		 h;
	yajl_status		 s;
	int			 rc = -1;

	msg_init(m, MSG_NONE);
	if (memchr(json, '\0', len) != NULL) {
		snprintf(err, errlen, "invalid JSON: NUL byte in message");
		return -1;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->m = m;
	st->cur = -1;
	h = yajl_alloc(&parse_callbacks, NULL, st);
	if (h == NULL) {
		free(st);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yajl_config(h, yajl_allow_comments, 0);
	yajl_config(h, yajl_dont_validate_strings, 0);
	yajl_config(h, yajl_allow_trailing_garbage, 0);
	yajl_config(h, yajl_allow_multiple_values, 0);
	yajl_config(h, yajl_allow_partial_values, 0);
	s = yajl_parse(h, (const unsigned char *)json, len);
	if (s == yajl_status_ok)
		s = yajl_complete_parse(h);
	if (st->err[0] != '\0') {
		snprintf(err, errlen, "%s", st->err);
	} else if (s != yajl_status_ok) {
		unsigned char *ye = yajl_get_error(h, 0, NULL, 0);

		size_t n;

		snprintf(err, errlen, "invalid JSON: %s", (char *)ye);
		/* yajl ends its message with a newline: one log line per event. */
		while ((n = strlen(err)) > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[n - 1] = '\0';
		yajl_free_error(h, ye);
	} else if (!MSG_HAS(m, F_TYPE)) {
		snprintf(err, errlen, "missing member 'type'");
	} else if ((m->type = type_lookup(m->type_s)) == MSG_NONE) {
		snprintf(err, errlen, "unknown message type");
	} else
		rc = 0;
	yajl_free(h);
	free(st);
	return rc;
}

/* Clears a message and sets its type. */
void
msg_init(struct msg *m, enum msg_type t)
{
	memset(m, 0, sizeof(*m));
	m->type = t;
	if (t != MSG_NONE) {
		snprintf(m->type_s, sizeof(m->type_s), "%s", type_names[t]);
		MSG_SET(m, F_TYPE);
	}
}

/* Sets a string member (truncated to its field). */
void
msg_set_str(struct msg *m, enum msg_field f, const char *v)
{
	snprintf((char *)m + fields[f].off, fields[f].size, "%s", v);
	MSG_SET(m, f);
}

/* Sets an integer member. */
void
msg_set_int(struct msg *m, enum msg_field f, int64_t v)
{
	*(int64_t *)(void *)((char *)m + fields[f].off) = v;
	MSG_SET(m, f);
}

/* Encodes the present members as JSON into out (FRAME_MAX bytes). */
int
proto_encode(const struct msg *m, char *out, size_t *len)
{
	yajl_gen		 g;
	const unsigned char	*buf;
	size_t			 n;
	int			 rc = -1;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		return -1;
	yajl_gen_map_open(g);
	for (int i = 0; i < F_NFIELDS; i++) {
		const struct field_def *f = &fields[i];

		if (!MSG_HAS(m, i))
			continue;
		yajl_gen_string(g, (const unsigned char *)f->key, strlen(f->key));
		if (f->kind == K_STR) {
			const char *v = (const char *)m + f->off;

			yajl_gen_string(g, (const unsigned char *)v, strlen(v));
		} else
			yajl_gen_integer(g, *(const int64_t *)(const void *)
			    ((const char *)m + f->off));
	}
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &n) == yajl_gen_status_ok && n <= 65536) {
		memcpy(out, buf, n);
		*len = n;
		rc = 0;
	}
	yajl_gen_free(g);
	return rc;
}
