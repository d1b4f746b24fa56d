/* SPDX-License-Identifier: ISC */
/*
 * auth.c: console logins.  Sessions live in LMDB (db_websess.c) under the
 * sha256 of the cookie value; failed logins are throttled per user name
 * and per address (more than 5 in a minute: 429 with Retry-After).  A user
 * enrolled in two-factor login also gives a TOTP code (totp.c); a missing,
 * wrong or replayed code is a failed login like a wrong password.
 */
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "module.h"
#include "totp.h"

#define COOKIE_NAME		"gt_session"
#define THROTTLE_MAX		5	/* failures per window */
#define THROTTLE_WINDOW		60	/* seconds */
#define THROTTLE_SLOTS		4096

/* Recent failures of one user name or address ("u:NAME" / "a:ADDR"). */
struct throttle {
	char	key[DB_USER_LEN + 8];
	int64_t	fails[THROTTLE_MAX];	/* ring of failure times */
	int	next;
	int64_t	last;
};

static struct throttle	throttles[THROTTLE_SLOTS];
static unsigned char	throttle_key[crypto_shorthash_KEYBYTES];
static int		throttle_keyed;

/* Finds key's slot; with create, takes a free or the stalest slot. */
static struct throttle *
throttle_find(const char *key, int create)
{
	struct throttle	*t, *victim = &throttles[0];
	unsigned char	 hash[crypto_shorthash_BYTES];
	uint64_t	 h;
	size_t		 i;

	/*
	 * A keyed hash (SipHash, random key) so that nobody can aim names at
	 * one bucket to push a throttled key out; 16 probes keep it bounded.
	 */
	if (!throttle_keyed) {
		crypto_shorthash_keygen(throttle_key);
		throttle_keyed = 1;
	}
	crypto_shorthash(hash, (const unsigned char *)key, strlen(key),
	    throttle_key);
	memcpy(&h, hash, sizeof(h));
	for (i = 0; i < 16; i++) {
		t = &throttles[(h + i) % THROTTLE_SLOTS];
		if (strcmp(t->key, key) == 0)
			return t;
		if (i == 0 || t->last < victim->last)
			victim = t;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	return victim;
}

/* Seconds until key may try again, 0 when it is not blocked. */
static int64_t
throttle_wait(const char *key, int64_t now)
{
	struct throttle	*t = throttle_find(key, 0);
	int64_t		 oldest = INT64_MAX;
	int		 n = 0;

	if (t == NULL)
		return 0;
	for (int i = 0; i < THROTTLE_MAX; i++) {
		if (t->fails[i] > now - THROTTLE_WINDOW) {
			n++;
			if (t->fails[i] < oldest)
				oldest = t->fails[i];
		}
	}
	if (n < THROTTLE_MAX)
		return 0;
	return oldest + THROTTLE_WINDOW - now > 0 ?
	    oldest + THROTTLE_WINDOW - now : 1;
}

/* Records one failure of key. */
static void
throttle_fail(const char *key, int64_t now)
{
	struct throttle	*t = throttle_find(key, 1);

	t->fails[t->next] = now;
	t->next = (t->next + 1) % THROTTLE_MAX;
	t->last = now;
}

/* Forgets the failures of key (after a successful login). */
static void
throttle_clear(const char *key)
{
	struct throttle	*t = throttle_find(key, 0);

	if (t != NULL)
		memset(t, 0, sizeof(*t));
}

/*
 * 1 when the request carries a valid session cookie of an existing user
 * (ctx->sess and ctx->role filled).  The role is read on every request,
 * so `gotunnelctl user role` applies at once.
 */
int
auth_session(struct admin_ctx *ctx)
{
	struct db_user	 u;
	char		*value;

	http_populate_cookies(ctx->req);
	if (http_request_cookie(ctx->req, COOKIE_NAME, &value) !=
	    KORE_RESULT_OK || !db_websess_id_valid(value) || !admin_db_ok)
		return 0;
	if (db_websess_get(&admin_db, value, &ctx->sess) != 0)
		return 0;
	if (db_user_get(&admin_db, ctx->sess.user, &u) != 0)
		return 0;
	ctx->role = (enum db_role)u.role;
	sodium_memzero(&u, sizeof(u));
	snprintf(ctx->sid, sizeof(ctx->sid), "%s", value);
	ctx->authed = 1;
	return 1;
}

/* 1 when X-CSRF-Token equals the session's token (constant time). */
int
auth_csrf_ok(struct admin_ctx *ctx)
{
	const char	*tok;
	size_t		 len = strlen(ctx->sess.csrf);

	if (!ctx->authed || len == 0 ||
	    !http_request_header(ctx->req, "x-csrf-token", &tok))
		return 0;
	if (strlen(tok) != len)
		return 0;
	return sodium_memcmp(tok, ctx->sess.csrf, len) == 0;
}

/* Adds the session cookie (or its deletion when id is NULL). */
void
auth_cookie(struct admin_ctx *ctx, const char *id, int64_t ttl)
{
	char	hdr[256];

	if (id != NULL)
		snprintf(hdr, sizeof(hdr), COOKIE_NAME "=%s; Path=/; Max-Age=%lld;"
		    " HttpOnly; SameSite=Strict%s", id, (long long)ttl,
		    admin_tls ? "; Secure" : "");
	else
		snprintf(hdr, sizeof(hdr), COOKIE_NAME "=; Path=/; Max-Age=0;"
		    " HttpOnly; SameSite=Strict%s", admin_tls ? "; Secure" : "");
	http_response_header(ctx->req, "set-cookie", hdr);
	sodium_memzero(hdr, sizeof(hdr));
}

/*
 * The second factor of user: 0 when user has none or otp is a fresh valid
 * code (its step is then used up), -1 otherwise (*why says which).
 */
static int
auth_otp(const char *user, const char *otp, const char **why)
{
	struct db_user	u;
	int64_t		step;
	int		rc;

	*why = "invalid or replayed otp";
	if (db_user_get(&admin_db, user, &u) != 0)
		return -1;
	if (u.totp_len == 0) {
		sodium_memzero(&u, sizeof(u));
		return 0;
	}
	if (otp[0] == '\0') {
		*why = "otp required";
		sodium_memzero(&u, sizeof(u));
		return -1;
	}
	rc = totp_verify(u.totp, u.totp_len, db_now(), otp, TOTP_DIGITS,
	    u.totp_last, &step);
	sodium_memzero(&u, sizeof(u));
	/* The step is claimed in a write transaction: one use, ever. */
	if (rc == 0 && db_user_totp_use(&admin_db, user, step) == 0)
		return 0;
	return -1;
}

/* The role of user as stored now (admin for records from before roles). */
static enum db_role
auth_role(const char *user)
{
	struct db_user	u;
	enum db_role	r = DB_ROLE_VIEWER;	/* unreadable: least */

	if (db_user_get(&admin_db, user, &u) == 0)
		r = (enum db_role)u.role;
	sodium_memzero(&u, sizeof(u));
	return r;
}

/* POST /api/login. */
int
api_login(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct db_websession	 s;
	struct kore_buf		 b;
	char			 body[ADMIN_BODY_MAX + 1], ukey[DB_USER_LEN + 8];
	char			 akey[DB_ADDR_LEN + 8], wait_s[32];
	char			 user[DB_USER_LEN], pw[DB_PASSWORD_MAX + 1];
	char			 id[DB_WEBSESS_HEX], otp[16];
	const char		*err = NULL, *ctype, *why;
	size_t			 len;
	int64_t			 now = db_now(), wait;
	int			 ok;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	/*
	 * JSON only: a cross-site form cannot send this type without a CORS
	 * preflight, which is never granted (no login CSRF).
	 */
	if (!http_request_header(ctx->req, "content-type", &ctype) ||
	    strncasecmp(ctype, "application/json", 16) != 0 ||
	    (ctype[16] != '\0' && ctype[16] != ';' && ctype[16] != ' ')) {
		admin_error(ctx, 400, "content type must be application/json");
		return KORE_RESULT_OK;
	}
	if (admin_body_read(ctx, body, sizeof(body), &len) == -1)
		return KORE_RESULT_OK;
	if (json_login_parse(body, len, user, sizeof(user), pw, sizeof(pw),
	    otp, sizeof(otp), &err) == -1) {
		sodium_memzero(body, sizeof(body));
		sodium_memzero(pw, sizeof(pw));
		admin_error(ctx, 400, err);
		return KORE_RESULT_OK;
	}
	sodium_memzero(body, sizeof(body));
	snprintf(ukey, sizeof(ukey), "u:%s", user);
	snprintf(akey, sizeof(akey), "a:%s", ctx->address);
	wait = throttle_wait(ukey, now);
	if (throttle_wait(akey, now) > wait)
		wait = throttle_wait(akey, now);
	if (wait > 0) {
		/* Not audited: a flood of refused tries must not fill the log. */
		sodium_memzero(pw, sizeof(pw));
		snprintf(wait_s, sizeof(wait_s), "%lld", (long long)wait);
		http_response_header(ctx->req, "retry-after", wait_s);
		admin_error(ctx, 429, "too many failed logins");
		return KORE_RESULT_OK;
	}

	ok = db_user_check(&admin_db, user, pw) == 0;
	sodium_memzero(pw, sizeof(pw));
	why = "invalid username or password";
	/* The code is looked at only after the password matched. */
	if (ok && auth_otp(user, otp, &why) == -1)
		ok = 0;
	sodium_memzero(otp, sizeof(otp));
	if (!ok) {
		throttle_fail(ukey, now);
		throttle_fail(akey, now);
		(void)db_audit_add(&admin_db, user, "login", 0, ctx->address,
		    why);
		kore_log(LOG_NOTICE, "login failed for user '%.63s' from %s: %s",
		    db_user_name_valid(user) ? user : "(invalid name)",
		    ctx->address, why);
		/* A wrong or replayed code reads like a wrong password. */
		admin_error(ctx, 401, strcmp(why, "otp required") == 0 ?
		    "otp required" : "invalid username or password");
		return KORE_RESULT_OK;
	}
	if (db_websess_create(&admin_db, user, ctx->address,
	    admin_conf.session_ttl, id, &s) == -1) {
		admin_error(ctx, 500, "cannot create a session");
		return KORE_RESULT_OK;
	}
	throttle_clear(ukey);
	(void)db_audit_add(&admin_db, user, "login", 1, ctx->address, "");
	kore_log(LOG_NOTICE, "login of user '%s' from %s", user, ctx->address);
	auth_cookie(ctx, id, admin_conf.session_ttl);
	sodium_memzero(id, sizeof(id));
	kore_buf_init(&b, 256);
	jw_open(&b, '{');
	jw_str(&b, "user", s.user, sizeof(s.user));
	jw_str(&b, "role", db_user_role_name(auth_role(user)), 16);
	jw_str(&b, "csrf_token", s.csrf, sizeof(s.csrf));
	jw_int(&b, "expires", s.expires);
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	sodium_memzero(&s, sizeof(s));
	return KORE_RESULT_OK;
}

/* POST /api/logout: ends the session server-side and clears the cookie. */
int
api_logout(struct admin_ctx *ctx)
{
	(void)db_websess_delete(&admin_db, ctx->sid);
	(void)db_audit_add(&admin_db, ctx->sess.user, "logout", 1,
	    ctx->address, "");
	auth_cookie(ctx, NULL, 0);
	admin_ok(ctx);
	return KORE_RESULT_OK;
}

/* GET /api/me. */
int
api_me(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	struct kore_buf	b;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	kore_buf_init(&b, 256);
	jw_open(&b, '{');
	jw_str(&b, "user", ctx->sess.user, sizeof(ctx->sess.user));
	jw_str(&b, "role", db_user_role_name(ctx->role), 16);
	jw_str(&b, "csrf_token", ctx->sess.csrf, sizeof(ctx->sess.csrf));
	jw_int(&b, "expires", ctx->sess.expires);
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
	return KORE_RESULT_OK;
}
