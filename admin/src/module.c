/* SPDX-License-Identifier: ISC */
/*
 * module.c: the Kore side of gotunnel-admin: hooks (configuration in the
 * parent, LMDB in each worker after fork), the seccomp additions, and the
 * one handler every request goes through: it authenticates, routes, checks
 * CSRF and the role (access.c) and adds the security headers, so that no
 * path can forget them.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <kore/seccomp.h>
#include <sodium.h>

#include "module.h"

struct admin_conf	admin_conf;
static char		(*admin_peers)[ADMIN_PEER_LEN];	/* TLS front end */
struct db		admin_db;
int			admin_db_ok;
int			admin_tls;

int	kore_parent_configure(int, char **);
void	kore_worker_configure(void);
void	kore_worker_teardown(void);
int	admin_dispatch(struct http_request *);
static void	admin_peers_open(void);

/* LMDB (reads, writes, fdatasync), the control socket, argon2, libpq. */
KORE_SECCOMP_FILTER("gotunnel-admin",
	KORE_SYSCALL_ALLOW(pread64),
	KORE_SYSCALL_ALLOW(pwrite64),
	KORE_SYSCALL_ALLOW(pwritev),
	KORE_SYSCALL_ALLOW(fdatasync),
	KORE_SYSCALL_ALLOW(fsync),
	KORE_SYSCALL_ALLOW(msync),
	KORE_SYSCALL_ALLOW(ftruncate),
	KORE_SYSCALL_ALLOW(fstatfs),
	KORE_SYSCALL_ALLOW(statfs),
	KORE_SYSCALL_ALLOW(uname),
	KORE_SYSCALL_ALLOW(socket),
	KORE_SYSCALL_ALLOW(connect),
	KORE_SYSCALL_ALLOW(shutdown),
	KORE_SYSCALL_ALLOW(getsockopt),
	KORE_SYSCALL_ALLOW(newfstatat),
	KORE_SYSCALL_ALLOW(statx),
	KORE_SYSCALL_ALLOW(faccessat),
	KORE_SYSCALL_ALLOW(faccessat2),
	KORE_SYSCALL_ALLOW(mremap),
	KORE_SYSCALL_ALLOW(sched_yield),
	KORE_SYSCALL_ALLOW(getppid),
	KORE_SYSCALL_ALLOW(gettid),
	KORE_SYSCALL_ALLOW(flock),
	KORE_SYSCALL_ALLOW(mkdir),
	/* libpq (cluster mode, pgq.c): Kerberos' config directories. */
	KORE_SYSCALL_ALLOW(getdents64)
);

static int	api_health(struct admin_ctx *);

#define R_PUBLIC	0x01	/* reachable without a session */
#define R_BEARER	0x02	/* ... or with the metrics_token bearer token */
/*
 * The least role of a state-changing route (access.c): R_VIEWER or
 * R_OPERATOR; without either it is admin-only.  GETs are for every role.
 */
#define R_VIEWER	0x04
#define R_OPERATOR	0x08

struct route {
	int		  method;
	const char	 *path;		/* '*' matches one id segment */
	int		(*fn)(struct admin_ctx *);
	int		  flags;
};

static const struct route routes[] = {
	{ HTTP_METHOD_POST, "/api/login", api_login, R_PUBLIC },
	{ HTTP_METHOD_POST, "/api/logout", api_logout, R_VIEWER },
	{ HTTP_METHOD_GET, "/api/me", api_me, 0 },
	{ HTTP_METHOD_GET, "/api/admin-sessions", api_websess_list, 0 },
	/* Anyone may end their own sessions; others' are checked inside. */
	{ HTTP_METHOD_DELETE, "/api/admin-sessions/*", api_websess_revoke,
	    R_VIEWER },
	{ HTTP_METHOD_GET, "/api/clients", api_clients, 0 },
	{ HTTP_METHOD_GET, "/api/clients/*", api_client, 0 },
	{ HTTP_METHOD_POST, "/api/clients/*/disconnect", api_disconnect,
	    R_OPERATOR },
	{ HTTP_METHOD_GET, "/api/mappings", api_mappings, 0 },
	{ HTTP_METHOD_GET, "/api/nodes", api_nodes, 0 },
	{ HTTP_METHOD_POST, "/api/mappings/*/disable", api_mapping_disable,
	    R_OPERATOR },
	{ HTTP_METHOD_POST, "/api/mappings/*/enable", api_mapping_enable,
	    R_OPERATOR },
	{ HTTP_METHOD_GET, "/api/settings", api_settings, 0 },
	{ HTTP_METHOD_GET, "/api/sessions", api_sessions, 0 },
	{ HTTP_METHOD_GET, "/api/sessions/export", api_export, 0 },
	{ HTTP_METHOD_GET, "/api/stats", api_stats, 0 },
	{ HTTP_METHOD_GET, "/api/events", api_events, 0 },
	{ HTTP_METHOD_GET, "/api/audit", api_audit, 0 },
	{ HTTP_METHOD_GET, "/api/tokens", api_tokens, 0 },
	{ HTTP_METHOD_POST, "/api/tokens", api_token_add, 0 },
	{ HTTP_METHOD_DELETE, "/api/tokens/*", api_token_revoke, 0 },
	{ HTTP_METHOD_POST, "/api/tokens/*/rotate", api_token_rotate, 0 },
	{ HTTP_METHOD_GET, "/api/alerts", api_alerts, 0 },
	{ HTTP_METHOD_GET, "/healthz", api_health, R_PUBLIC },
	/* A Prometheus scraper's bearer token, or a console session. */
	{ HTTP_METHOD_GET, "/metrics", api_metrics, R_BEARER },
};

/* Parent: reads the configuration the launcher checked (path in env). */
int
kore_parent_configure(int argc, char **argv)
{
	const char	*path, *tls;
	char		 err[512];

	(void)argc;
	(void)argv;
	if ((path = getenv(ADMIN_ENV_CONFIG)) == NULL)
		fatalx("%s is not set: start gotunnel-admin, not kore",
		    ADMIN_ENV_CONFIG);
	if (admin_conf_load(path, &admin_conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	tls = getenv(ADMIN_ENV_TLS);
	admin_tls = tls != NULL && strcmp(tls, "1") == 0;
	/* The sandboxed worker may not mkdir: make data_dir here, like the master. */
	if (mkdir(admin_conf.data_dir, 0700) == -1 && errno != EEXIST)
		fatalx("mkdir %s: %s", admin_conf.data_dir, errno_s);
	settings_init();	/* reads tls_cert_file before any chroot */
	return KORE_RESULT_OK;
}

/* Maps the TLS front end's table of client addresses (read only). */
static void
admin_peers_open(void)
{
	const char	*path = getenv(ADMIN_ENV_PEERS);
	void		*p;
	int		 fd;

	if (!admin_tls || path == NULL)
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		kore_log(LOG_ERR, "%s: %s", path, errno_s);
		return;
	}
	p = mmap(NULL, (size_t)65536 * ADMIN_PEER_LEN, PROT_READ, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		kore_log(LOG_ERR, "mmap %s: %s", path, errno_s);
	else
		admin_peers = p;
}

/* Worker: opens LMDB after fork (never share an environment across fork). */
void
kore_worker_configure(void)
{
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	if (db_open(&admin_db, admin_conf.data_dir, 0) == -1) {
		kore_log(LOG_ERR, "cannot open the database in %s",
		    admin_conf.data_dir);
		admin_db_ok = 0;
	} else {
		admin_db_ok = 1;
		/* Cluster mode: audit events also queue for PostgreSQL. */
		admin_db.outbox = admin_conf.cluster_database[0] != '\0';
		/* Makes the dummy hash now: the first failed login is not slower. */
		(void)db_user_check(&admin_db, "-", "-");
	}
	if (cluster_admin_on())
		pgq_init();
	events_init();
	admin_peers_open();
}

/* Worker: closes LMDB on shutdown. */
void
kore_worker_teardown(void)
{
	if (admin_db_ok)
		db_close(&admin_db);
	admin_db_ok = 0;
}

/* Writes the peer address of c ("127.0.0.1" or "::1") into buf. */
void
admin_peer(struct connection *c, char *buf, size_t size)
{
	const void	*a;

	if (c->family == AF_INET6)
		a = &c->addr.ipv6.sin6_addr;
	else
		a = &c->addr.ipv4.sin_addr;
	if (inet_ntop(c->family, a, buf, size) == NULL)
		snprintf(buf, size, "unknown");
	/* Behind our TLS front end: the client it relays for this port. */
	if (admin_peers != NULL && c->family == AF_INET &&
	    c->addr.ipv4.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
		const char *peer = admin_peers[ntohs(c->addr.ipv4.sin_port)];
		size_t n = strnlen(peer, ADMIN_PEER_LEN - 1);
		if (n > 0 && n < size) {
			memcpy(buf, peer, n);
			buf[n] = '\0';
		}
	}
}

/* Security headers on every response; api adds Cache-Control: no-store. */
void
admin_headers(struct http_request *req, int api)
{
	http_response_header(req, "content-security-policy",
	    "default-src 'self'; script-src 'self'; "
	    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
	    "font-src 'self' data:; connect-src 'self'; object-src 'none'; "
	    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
	http_response_header(req, "x-content-type-options", "nosniff");
	http_response_header(req, "x-frame-options", "DENY");
	http_response_header(req, "referrer-policy", "no-referrer");
	http_response_header(req, "cross-origin-opener-policy", "same-origin");
	if (admin_tls)
		http_response_header(req, "strict-transport-security",
		    "max-age=31536000");
	if (api)
		http_response_header(req, "cache-control", "no-store");
}

/* Sends a JSON document (buf is finished with jw_end here). */
void
admin_json(struct admin_ctx *ctx, int status, struct kore_buf *b)
{
	jw_end(b);
	admin_headers(ctx->req, 1);
	http_response_header(ctx->req, "content-type",
	    "application/json; charset=utf-8");
	http_response(ctx->req, status, b->data, b->offset);
}

/* Sends {"error":msg} with status. */
void
admin_error(struct admin_ctx *ctx, int status, const char *msg)
{
	struct kore_buf	b;

	kore_buf_init(&b, 128);
	jw_open(&b, '{');
	jw_str(&b, "error", msg, strlen(msg));
	jw_close(&b, '}');
	admin_json(ctx, status, &b);
	kore_buf_cleanup(&b);
}

/* Sends {"ok":true}. */
void
admin_ok(struct admin_ctx *ctx)
{
	struct kore_buf	b;

	kore_buf_init(&b, 32);
	jw_open(&b, '{');
	jw_bool(&b, "ok", 1);
	jw_close(&b, '}');
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
}

/* Splits and decodes the query string; -1 on malformed or repeated keys. */
static int
params_parse(struct admin_ctx *ctx)
{
	if (ctx->req->query_string == NULL || *ctx->req->query_string == '\0')
		return 0;
	if (strlen(ctx->req->query_string) > URL_QUERY_LEN_MAX)
		return -1;
	ctx->qs = kore_strdup(ctx->req->query_string);
	return url_query_split(ctx->qs, ctx->params, ADMIN_QUERY_MAX,
	    &ctx->nparams);
}

/* The decoded value of a query parameter, NULL if absent. */
const char *
admin_param(struct admin_ctx *ctx, const char *key)
{
	for (int i = 0; i < ctx->nparams; i++) {
		if (strcmp(ctx->params[i].key, key) == 0)
			return ctx->params[i].value;
	}
	return NULL;
}

/* Answers 400 and returns -1 when a parameter is not in keys (NULL-ended). */
int
admin_params_allow(struct admin_ctx *ctx, const char *const *keys)
{
	char	msg[128];
	int	i, j;

	for (i = 0; i < ctx->nparams; i++) {
		for (j = 0; keys[j] != NULL; j++) {
			if (strcmp(ctx->params[i].key, keys[j]) == 0)
				break;
		}
		if (keys[j] == NULL) {
			snprintf(msg, sizeof(msg), "unknown parameter: %.64s",
			    ctx->params[i].key);
			admin_error(ctx, 400, msg);
			return -1;
		}
	}
	return 0;
}

/*
 * Reads integer parameter key in [min, max] (def when absent) into *out;
 * answers 400 and returns -1 when it is not a plain decimal in range.
 */
int
admin_param_int(struct admin_ctx *ctx, const char *key, int64_t min,
    int64_t max, int64_t def, int64_t *out)
{
	const char	*v = admin_param(ctx, key);
	char		 msg[128];

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (url_int(v, min, max, out) == -1) {
		snprintf(msg, sizeof(msg), "invalid value for %s", key);
		admin_error(ctx, 400, msg);
		return -1;
	}
	return 0;
}

/*
 * Reads the request body (at most size - 1 bytes, NUL-terminated);
 * answers 413 and returns -1 when it is larger.
 */
int
admin_body_read(struct admin_ctx *ctx, char *buf, size_t size, size_t *len)
{
	ssize_t	r;

	*len = 0;
	if (ctx->req->http_body_length >= size) {
		admin_error(ctx, 413, "request body too large");
		return -1;
	}
	for (;;) {
		r = http_body_read(ctx->req, buf + *len, size - 1 - *len);
		if (r < 0) {
			admin_error(ctx, 400, "cannot read the request body");
			return -1;
		}
		if (r == 0)
			break;
		*len += (size_t)r;
		if (*len >= size - 1) {
			admin_error(ctx, 413, "request body too large");
			return -1;
		}
	}
	buf[*len] = '\0';
	return 0;
}

/* GET /healthz: "ok" while the database is open, for probes (no session). */
static int
api_health(struct admin_ctx *ctx)
{
	static const char	ok[] = "ok\n", down[] = "database unavailable\n";

	/* Plain text: a probe (curl -f, kubelet) needs the status and a word. */
	admin_headers(ctx->req, 1);
	http_response_header(ctx->req, "content-type", "text/plain; charset=utf-8");
	if (admin_db_ok)
		http_response(ctx->req, 200, ok, sizeof(ok) - 1);
	else
		http_response(ctx->req, 503, down, sizeof(down) - 1);
	return KORE_RESULT_OK;
}

/* Matches path against pattern; a '*' segment is copied to arg. */
static int
route_match(const char *pattern, const char *path, char *arg, size_t argsz)
{
	size_t	n;

	while (*pattern != '\0' && *path != '\0') {
		if (*pattern == '*') {
			n = strcspn(path, "/");
			if (n == 0 || n >= argsz)
				return 0;
			for (size_t i = 0; i < n; i++) {
				char c = path[i];
				if (!((c >= 'a' && c <= 'z') ||
				    (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9') || c == '-' ||
				    c == '_' || c == '.'))
					return 0;
			}
			memcpy(arg, path, n);
			arg[n] = '\0';
			path += n;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *pattern == '\0' && *path == '\0';
}

/* The Allow header of a path: the methods of every route matching it. */
static const char *
route_allow(const char *path)
{
	static char	allow[64];
	char		arg[DB_ID_LEN];
	int		get = 0, post = 0, del = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(routes[i].path, path, arg, sizeof(arg)))
			continue;
		get |= routes[i].method == HTTP_METHOD_GET;
		post |= routes[i].method == HTTP_METHOD_POST;
		del |= routes[i].method == HTTP_METHOD_DELETE;
	}
	snprintf(allow, sizeof(allow), "%s%s%s", get ? "GET, HEAD" : "",
	    post ? (get ? ", POST" : "POST") : "",
	    del ? (get || post ? ", DELETE" : "DELETE") : "");
	return allow;
}

/* Every request: static files, or authenticate -> route -> CSRF -> handler. */
int
admin_dispatch(struct http_request *req)
{
	struct admin_ctx	 ctx;
	const struct route	*r = NULL;
	char			 arg[DB_ID_LEN];
	int			 found = 0, method, api, rc = KORE_RESULT_OK;
	size_t			 i;

	/* A cluster-wide query under way (pgq.c): checked when it started. */
	if (pgq_pending(req))
		return pgq_resume(req);
	memset(&ctx, 0, sizeof(ctx));
	ctx.req = req;
	admin_peer(req->owner, ctx.address, sizeof(ctx.address));

	api = strcmp(req->path, "/api") == 0 ||
	    strncmp(req->path, "/api/", 5) == 0 ||
	    strcmp(req->path, "/healthz") == 0 ||
	    strcmp(req->path, "/metrics") == 0;
	if (!api)
		return static_serve(&ctx);

	method = req->method == HTTP_METHOD_HEAD ? HTTP_METHOD_GET : req->method;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(routes[i].path, req->path, arg, sizeof(arg)))
			continue;
		found = 1;
		if (routes[i].method == method) {
			r = &routes[i];
			memcpy(ctx.arg, arg, sizeof(ctx.arg));
			break;
		}
	}

	if (r == NULL || !(r->flags & R_PUBLIC)) {
		if (!(r != NULL && (r->flags & R_BEARER) &&
		    api_metrics_bearer_ok(&ctx)) && !auth_session(&ctx)) {
			admin_error(&ctx, 401, "authentication required");
			goto done;
		}
	}
	if (!found) {
		admin_error(&ctx, 404, "not found");
		goto done;
	}
	if (r == NULL) {
		http_response_header(req, "allow", route_allow(req->path));
		admin_error(&ctx, 405, "method not allowed");
		goto done;
	}
	if (params_parse(&ctx) == -1) {
		admin_error(&ctx, 400, "malformed query string");
		goto done;
	}
	if (r->method != HTTP_METHOD_GET && r->fn != api_login &&
	    !auth_csrf_ok(&ctx)) {
		admin_error(&ctx, 403, "csrf token mismatch");
		goto done;
	}
	if (ctx.authed && !access_allowed(&ctx, access_required(r->method,
	    req->path, (r->flags & R_VIEWER) ? DB_ROLE_VIEWER :
	    (r->flags & R_OPERATOR) ? DB_ROLE_OPERATOR : DB_ROLE_NONE))) {
		access_deny(&ctx, http_method_text(method));
		goto done;
	}
	if (!admin_db_ok && r->fn != api_health) {
		admin_error(&ctx, 500, "database unavailable");
		goto done;
	}
	/* RETRY: waiting for PostgreSQL (pgq.c); Kore calls us again. */
	if (r->fn(&ctx) == KORE_RESULT_RETRY)
		rc = KORE_RESULT_RETRY;
done:
	if (ctx.qs != NULL)
		kore_free(ctx.qs);
	sodium_memzero(ctx.sid, sizeof(ctx.sid));
	return rc;
}
