/* SPDX-License-Identifier: ISC */
/*
 * api_tokens.c: per-client credentials in the API: GET /api/tokens,
 * POST /api/tokens (returns the secret once), DELETE /api/tokens/{name}
 * (revokes and asks the master to close its sessions at once) and
 * POST /api/tokens/{name}/rotate.  Changes are audited like disconnect;
 * secrets are never logged or audited.
 */
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <yajl/yajl_parse.h>

#include "conf_ini.h"
#include "db_token.h"
#include "module.h"

#define TOKEN_BODY_MAX	8192
#define TOKEN_DEPTH_MAX	4

/* Appends a comma-separated CIDR list as a JSON array of strings. */
static void
token_cidrs_json(struct kore_buf *b, const char *key, const char *list)
{
	const char	*item;
	size_t		 n;

	jw_key(b, key);
	jw_open(b, '[');
	while ((n = cidr_list_next(&list, &item)) > 0) {
		jw_escape(b, item, n);
		kore_buf_append(b, ",", 1);
	}
	jw_close(b, ']');
}

/* Appends the members of one credential object (never its hash). */
static void
token_json_members(struct kore_buf *b, const struct db_token *t)
{
	jw_str(b, "name", t->name, sizeof(t->name));
	jw_str(b, "state", db_token_state(t, (int64_t)time(NULL)), 16);
	jw_str(b, "ports", t->ports, sizeof(t->ports));
	jw_int(b, "expires", t->expires);
	jw_int(b, "max_mappings", t->max_mappings);
	token_cidrs_json(b, "allow", t->allow);
	token_cidrs_json(b, "deny", t->deny);
	jw_int(b, "created", t->created);
	jw_int(b, "last_used", t->last_used);
	jw_bool(b, "revoked", t->revoked != 0);
}

/* Appends one credential object. */
static void
token_json(struct kore_buf *b, const struct db_token *t)
{
	jw_open(b, '{');
	token_json_members(b, t);
	jw_close(b, '}');
}

/* db_token_list callback. */
static void
token_list_cb(const struct db_token *t, void *arg)
{
	token_json(arg, t);
}

/* GET /api/tokens. */
int
api_tokens(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct kore_buf	 b;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	kore_buf_init(&b, 4096);
	jw_open(&b, '{');
	jw_key(&b, "tokens");
	jw_open(&b, '[');
	if (db_token_list(&admin_db, token_list_cb, &b) == -1) {
		kore_buf_cleanup(&b);
		admin_error(ctx, 500, "database error");
		return KORE_RESULT_OK;
	}
	jw_close(&b, ']');
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}

enum tfield { TF_NAME, TF_PORTS, TF_EXPIRES, TF_MAX, TF_ALLOW, TF_DENY, TF_N };

static const char *const tfield_names[TF_N] = {
	"name", "ports", "expires", "max_mappings", "allow", "deny"
};

/* State of the POST /api/tokens body parser. */
struct tparse {
	struct db_token	*t;
	int		 depth;
	int		 cur;		/* field of the current member, -1 none */
	int		 in_array;	/* inside allow/deny [...] */
	int		 seen[TF_N];
	const char	*err;
	char		 msg[200];
};

/* Records the first error and stops the parse. */
static int
tp_fail(struct tparse *p, const char *err)
{
	if (p->err == NULL)
		p->err = err;
	return 0;
}

/* Applies an expiry given as a duration ("30d") or seconds; "" never. */
static int
tp_expires(struct tparse *p, const char *s)
{
	long secs;

	if (s[0] == '\0') {
		p->t->expires = 0;
		return 1;
	}
	if (conf_parse_duration(s, &secs) == -1)
		return tp_fail(p, "expires: expected a duration such as "
		    "3600, 30s, 15m, 12h or 30d");
	p->t->expires = (int64_t)time(NULL) + secs;
	return 1;
}

/* Appends one CIDR to allow or deny. */
static int
tp_cidr(struct tparse *p, const char *s, size_t len)
{
	char	*list = p->cur == TF_ALLOW ? p->t->allow : p->t->deny;
	size_t	 n = strlen(list);

	if (len == 0 || n + len + 2 > CIDR_STR_MAX)
		return tp_fail(p, "allow/deny: empty entry or list too long");
	if (n > 0)
		list[n++] = ',';
	memcpy(list + n, s, len);
	list[n + len] = '\0';
	return 1;
}

/* yajl: a string value. */
static int
tp_string(void *ctx, const unsigned char *s, size_t len)
{
	struct tparse	*p = ctx;
	char		 buf[CIDR_STR_MAX];

	if (p->depth == 0)
		return tp_fail(p, "expected a JSON object");
	if (memchr(s, '\0', len) != NULL || len >= sizeof(buf))
		return tp_fail(p, "invalid string value");
	if (p->in_array)
		return tp_cidr(p, (const char *)s, len);
	if (p->depth != 1 || p->cur < 0)
		return 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	switch (p->cur) {
	case TF_NAME:
		if (len >= sizeof(p->t->name))
			return tp_fail(p, "name: longer than 32 characters");
		memcpy(p->t->name, buf, len + 1);
		break;
	case TF_PORTS:
		if (len >= sizeof(p->t->ports))
			return tp_fail(p, "ports: too long");
		memcpy(p->t->ports, buf, len + 1);
		break;
	case TF_EXPIRES:
		return tp_expires(p, buf);
	case TF_ALLOW:
	case TF_DENY:
		/* A comma-separated string ("" none), like the CLI's list. */
		if (len > 0 && !tp_cidr(p, buf, len))
			return 0;
		break;
	default:
		return tp_fail(p, "max_mappings: expected a number");
	}
	p->cur = -1;
	return 1;
}

/* yajl: a number value (expires in seconds, max_mappings). */
static int
tp_number(void *ctx, const char *s, size_t len)
{
	struct tparse	*p = ctx;
	char		 buf[32];
	long		 v;

	if (p->in_array)
		return tp_fail(p, "wrong type: allow and deny take strings");
	if (p->depth != 1 || p->cur < 0)
		return 1;
	if (len >= sizeof(buf))
		return tp_fail(p, "number out of range");
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (p->cur == TF_MAX) {
		if (conf_parse_int(buf, 0, 1000000, &v) == -1)
			return tp_fail(p, "max_mappings: expected a number from 0 "
			    "(no limit) to 1000000");
		p->t->max_mappings = v;
	} else if (p->cur == TF_EXPIRES) {
		if (strcmp(buf, "0") == 0)
			p->t->expires = 0;
		else
			return tp_expires(p, buf);
	} else
		return tp_fail(p, "wrong type: expected a string");
	p->cur = -1;
	return 1;
}

/* yajl: null (a field left at its default) or a boolean (wrong). */
static int
tp_null(void *ctx)
{
	struct tparse *p = ctx;

	if (p->depth == 1 && !p->in_array)
		p->cur = -1;
	else if (p->in_array)
		return tp_fail(p, "allow/deny: expected strings");
	return 1;
}

/* yajl: a boolean is never a valid value of ours. */
static int
tp_bool(void *ctx, int b)
{
	struct tparse *p = ctx;

	(void)b;
	if (p->depth >= 1 && p->cur >= 0)
		return tp_fail(p, "wrong type");
	return 1;
}

/* yajl: an object or array opens. */
static int
tp_open(struct tparse *p, int is_map)
{
	if (p->depth == 0 && !is_map)
		return tp_fail(p, "expected a JSON object");
	if (p->depth == 1 && p->cur >= 0) {
		if (is_map || (p->cur != TF_ALLOW && p->cur != TF_DENY))
			return tp_fail(p, "wrong type");
		p->in_array = 1;
	} else if (p->depth >= 1)
		return tp_fail(p, "unexpected nested value");
	if (++p->depth > TOKEN_DEPTH_MAX)
		return tp_fail(p, "nesting too deep");
	return 1;
}

static int tp_start_map(void *c) { return tp_open(c, 1); }
static int tp_start_array(void *c) { return tp_open(c, 0); }

/* yajl: an object or array closes. */
static int
tp_end(void *ctx)
{
	struct tparse *p = ctx;

	p->depth--;
	if (p->in_array && p->depth == 1) {
		p->in_array = 0;
		p->cur = -1;
	}
	return 1;
}

/* yajl: a member name; unknown and duplicate members are errors. */
static int
tp_key(void *ctx, const unsigned char *k, size_t len)
{
	struct tparse	*p = ctx;

	p->cur = -1;
	if (p->depth != 1)
		return 1;
	for (int i = 0; i < TF_N; i++)
		if (strlen(tfield_names[i]) == len &&
		    memcmp(tfield_names[i], k, len) == 0) {
			if (p->seen[i]++)
				return tp_fail(p, "duplicate member");
			p->cur = i;
			return 1;
		}
	snprintf(p->msg, sizeof(p->msg), "unknown member '%.*s'",
	    (int)(len > 40 ? 40 : len), (const char *)k);
	return tp_fail(p, p->msg);
}

static const yajl_callbacks tp_callbacks = {
	tp_null, tp_bool, NULL, NULL, tp_number, tp_string,
	tp_start_map, tp_key, tp_end, tp_start_array, tp_end
};

/* Parses and checks a POST /api/tokens body into t; NULL or the error. */
static const char *
token_body_parse(const char *buf, size_t len, struct db_token *t,
    struct tparse *p, char *err, size_t errlen)
{
	yajl_handle	h;
	int		ok;

	memset(p, 0, sizeof(*p));
	p->t = t;
	p->cur = -1;
	if (len == 0)
		return "empty body";
	if ((h = yajl_alloc(&tp_callbacks, NULL, p)) == NULL)
		return "out of memory";
	yajl_config(h, yajl_allow_comments, 0);
	yajl_config(h, yajl_dont_validate_strings, 0);
	ok = yajl_parse(h, (const unsigned char *)buf, len) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	if (!ok)
		return p->err != NULL ? p->err : "malformed JSON";
	if (!p->seen[TF_NAME])
		return "name is required";
	if (db_token_check(t, err, errlen) == -1)
		return err;
	return NULL;
}

/* Answers {"name":..,"secret":..,...} with status (the only time it is shown). */
static void
token_secret_reply(struct admin_ctx *ctx, int status, const char *name,
    const char *secret)
{
	struct db_token	 t;
	struct kore_buf	 b;

	kore_buf_init(&b, 1024);
	jw_open(&b, '{');
	if (db_token_get(&admin_db, name, &t) == 0)
		token_json_members(&b, &t);
	jw_str(&b, "secret", secret, DB_TOKEN_SECRET_LEN);
	jw_close(&b, '}');
	admin_json(ctx, status, &b);
	sodium_memzero(b.data, b.offset);
	kore_buf_cleanup(&b);
}

static int	token_kick(const char *);

/* POST /api/tokens. */
int
api_token_add(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct db_token	 t;
	struct tparse	 p;
	const char	*bad;
	char		 body[TOKEN_BODY_MAX], secret[DB_TOKEN_SECRET_LEN];
	char		 err[200], detail[128];
	size_t		 len;
	int		 rc;

	if (admin_params_allow(ctx, none) == -1 ||
	    admin_body_read(ctx, body, sizeof(body), &len) == -1)
		return KORE_RESULT_OK;
	memset(&t, 0, sizeof(t));
	bad = token_body_parse(body, len, &t, &p, err, sizeof(err));
	snprintf(detail, sizeof(detail), "credential %s",
	    db_token_name_valid(t.name) ? t.name : "?");
	if (bad != NULL) {
		(void)db_audit_add(&admin_db, ctx->sess.user, "token_add", 0,
		    ctx->address, detail);
		admin_error(ctx, 400, bad);
		return KORE_RESULT_OK;
	}
	rc = db_token_add(&admin_db, &t, secret);
	(void)db_audit_add(&admin_db, ctx->sess.user, "token_add", rc == 0,
	    ctx->address, detail);
	if (rc == 1)
		admin_error(ctx, 409, "credential exists");
	else if (rc != 0)
		admin_error(ctx, 500, "database error");
	else {
		kore_log(LOG_NOTICE, "user '%s' added %s", ctx->sess.user,
		    detail);
		/* Cluster mode: the master copies it to every node (token_kick
		 * makes it read the record; no session has the secret yet). */
		if (admin_db.outbox)
			(void)token_kick(t.name);
		token_secret_reply(ctx, 201, t.name, secret);
	}
	sodium_memzero(secret, sizeof(secret));
	return KORE_RESULT_OK;
}

/* Asks the master to close the sessions of a credential: 1 done, 0 not. */
static int
token_kick(const char *name)
{
	char req[160], err[256];

	/* The name is [A-Za-z0-9._-]: safe inside a JSON string. */
	snprintf(req, sizeof(req),
	    "{\"type\":\"ctl\",\"cmd\":\"token_kick\",\"name\":\"%s\"}", name);
	if (ctl_request(req, err, sizeof(err)) != 0) {
		kore_log(LOG_WARNING, "credential %s: %s; it is refused from "
		    "its next register", name, err);
		return 0;
	}
	return 1;
}

/* Audits and answers a revoke or rotate that found no credential to change. */
static int
token_change_failed(struct admin_ctx *ctx, const char *action, int rc,
    const char *detail)
{
	(void)db_audit_add(&admin_db, ctx->sess.user, action, 0, ctx->address,
	    detail);
	if (rc == 1)
		admin_error(ctx, 404, "no such credential");
	else if (rc == 2)
		admin_error(ctx, 409, "credential revoked");
	else
		admin_error(ctx, 500, "database error");
	return KORE_RESULT_OK;
}

/* DELETE /api/tokens/{name}: revoke; its sessions are closed at once. */
int
api_token_revoke(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct kore_buf	 b;
	char		 detail[128];
	int		 rc, kicked;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	snprintf(detail, sizeof(detail), "credential %s",
	    db_token_name_valid(ctx->arg) ? ctx->arg : "?");
	if ((rc = db_token_revoke(&admin_db, ctx->arg)) != 0)
		return token_change_failed(ctx, "token_revoke", rc, detail);
	kicked = token_kick(ctx->arg);
	(void)db_audit_add(&admin_db, ctx->sess.user, "token_revoke", 1,
	    ctx->address, detail);
	kore_log(LOG_NOTICE, "user '%s' revoked %s", ctx->sess.user, detail);
	kore_buf_init(&b, 64);
	jw_open(&b, '{');
	jw_bool(&b, "ok", 1);
	jw_bool(&b, "disconnected", kicked);
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}

/* POST /api/tokens/{name}/rotate: a new secret, shown once. */
int
api_token_rotate(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	char		 secret[DB_TOKEN_SECRET_LEN], detail[128];
	int		 rc;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	snprintf(detail, sizeof(detail), "credential %s",
	    db_token_name_valid(ctx->arg) ? ctx->arg : "?");
	if ((rc = db_token_rotate(&admin_db, ctx->arg, secret)) != 0)
		return token_change_failed(ctx, "token_rotate", rc, detail);
	(void)token_kick(ctx->arg);
	(void)db_audit_add(&admin_db, ctx->sess.user, "token_rotate", 1,
	    ctx->address, detail);
	kore_log(LOG_NOTICE, "user '%s' rotated %s", ctx->sess.user, detail);
	token_secret_reply(ctx, 200, ctx->arg, secret);
	sodium_memzero(secret, sizeof(secret));
	return KORE_RESULT_OK;
}
