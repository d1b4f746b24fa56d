/* SPDX-License-Identifier: ISC */
/*
 * plugin.c: frp-compatible server plugins, called by a worker without
 * blocking its loop (httpc.c: libcurl multi on the worker's loop).
 *   Login, NewProxy   at register (Login once a session): a reject fails
 *                     the register with the plugin's reason; NewProxy may
 *                     change remote_port
 *   NewUserConn       at a public accept: a reject closes the connection
 *   CloseProxy        when a mapping closes (a notice; the answer is ignored)
 * Each call POSTs {"version":"0.1.0","op":OP,"content":{...}} to
 * http://addr/path?version=0.1.0&op=OP and reads {"reject","reject_reason",
 * "unchange","content"}.  No answer within timeout, an HTTP error or an
 * answer that is not such an object rejects (fail closed), and is logged.
 * Plugins handling the same op are asked in config order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "log.h"
#include "net.h"
#include "proto.h"
#include "server.h"
#include "xmalloc.h"

#define PLUGIN_VERSION		"0.1.0"
#define MAX_PENDING_REGS	1024	/* registers waiting for plugins, per worker */
#define MAX_PENDING_CONNS	1024	/* public connections waiting, per worker */
#define ANSWER_DEPTH_MAX	16

/* A register waiting for its Login/NewProxy answers (FIFO per session). */
struct plugin_reg {
	TAILQ_ENTRY(plugin_reg)	 entry;
	struct session		*s;
	struct msg		 req;
	unsigned		 op;		/* PLUGIN_LOGIN, then PLUGIN_NEW_PROXY */
	int			 begun;		/* op chosen (when it reached the head) */
	int			 next;		/* next plugin index to ask */
	struct plugin_call	*call;		/* in flight, or NULL */
};

/* A public connection waiting for its NewUserConn answers. */
struct plugin_uc {
	TAILQ_ENTRY(plugin_uc)	 entry;
	struct mapping		*map;
	int			 fd;
	struct sockaddr_storage	 ss;
	char			 peer[DB_ADDR_LEN];
	int			 next;
	struct plugin_call	*call;
};

/* One HTTP call in flight; whoever waits for it may have gone (NULL). */
struct plugin_call {
	struct plugin_reg	*reg;
	struct plugin_uc	*uc;
	char			 plugin[32];
	unsigned		 op;
};

/* What a plugin answered. */
struct plugin_answer {
	int		reject, has_reject, unchange;
	char		reason[256];
	int64_t		remote_port;	/* -1: not in content */
	int		depth;
	char		key[32];	/* last key at depth 1 or 2 */
	int		in_content;
};

static TAILQ_HEAD(, plugin_reg) regs = TAILQ_HEAD_INITIALIZER(regs);
static TAILQ_HEAD(, plugin_uc) ucs = TAILQ_HEAD_INITIALIZER(ucs);
static unsigned nregs, nucs;
static int	started;

static void plugin_reg_step(struct plugin_reg *);
static void plugin_uc_step(struct plugin_uc *);

/* Emits a JSON string member. */
static void
gen_str(yajl_gen g, const char *k, const char *v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

/* Emits a JSON integer member. */
static void
gen_int(yajl_gen g, const char *k, long long v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_integer(g, v);
}

/* Emits frp's "user" object: {"user","metas","run_id"}. */
static void
gen_user(yajl_gen g, const struct session *s)
{
	yajl_gen_string(g, (const unsigned char *)"user", 4);
	yajl_gen_map_open(g);
	gen_str(g, "user", s->name);
	yajl_gen_string(g, (const unsigned char *)"metas", 5);
	yajl_gen_map_open(g);
	yajl_gen_map_close(g);
	gen_str(g, "run_id", s->id);
	yajl_gen_map_close(g);
}

/* frp's privilege_key: hex MD5 of the token followed by the timestamp. */
static void
privilege_key(const char *token, long long ts, char out[33])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;
	char		buf[300];
	int		n;

	n = snprintf(buf, sizeof(buf), "%s%lld", token, ts);
	EVP_Digest(buf, (size_t)(n < 0 ? 0 : n), md, &mdlen, EVP_md5(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[32] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
}

/* Starts the request body: {"version","op","content":{ */
static yajl_gen
body_open(unsigned op)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	gen_str(g, "version", PLUGIN_VERSION);
	gen_str(g, "op", conf_plugin_op_name(op));
	yajl_gen_string(g, (const unsigned char *)"content", 7);
	yajl_gen_map_open(g);
	return g;
}

/* yajl callbacks: pick reject, reject_reason, unchange, content.remote_port. */
static int
ans_bool(void *ctx, int b)
{
	struct plugin_answer *a = ctx;

	if (a->depth == 1 && strcmp(a->key, "reject") == 0) {
		a->reject = b;
		a->has_reject = 1;
	} else if (a->depth == 1 && strcmp(a->key, "unchange") == 0)
		a->unchange = b;
	return 1;
}

/* yajl callback: a number. */
static int
ans_int(void *ctx, long long v)
{
	struct plugin_answer *a = ctx;

	if (a->depth == 2 && a->in_content && strcmp(a->key, "remote_port") == 0)
		a->remote_port = v;
	return 1;
}

/* yajl callback: a string. */
static int
ans_string(void *ctx, const unsigned char *s, size_t len)
{
	struct plugin_answer *a = ctx;

	if (a->depth == 1 && strcmp(a->key, "reject_reason") == 0)
		snprintf(a->reason, sizeof(a->reason), "%.*s", (int)len, s);
	return 1;
}

/* yajl callback: a key. */
static int
ans_key(void *ctx, const unsigned char *k, size_t len)
{
	struct plugin_answer *a = ctx;

	snprintf(a->key, sizeof(a->key), "%.*s", (int)len, k);
	return 1;
}

/* yajl callback: an object opens (the depth is bounded). */
static int
ans_map_open(void *ctx)
{
	struct plugin_answer *a = ctx;

	if (a->depth == 1 && strcmp(a->key, "content") == 0)
		a->in_content = 1;
	a->key[0] = '\0';
	return ++a->depth <= ANSWER_DEPTH_MAX;
}

/* yajl callback: an object closes. */
static int
ans_map_close(void *ctx)
{
	struct plugin_answer *a = ctx;

	if (--a->depth == 1)
		a->in_content = 0;
	return 1;
}

/* yajl callback: an array opens (counted like an object). */
static int
ans_array_open(void *ctx)
{
	struct plugin_answer *a = ctx;

	return a->depth >= 1 && ++a->depth <= ANSWER_DEPTH_MAX;
}

/* yajl callback: an array closes. */
static int
ans_array_close(void *ctx)
{
	((struct plugin_answer *)ctx)->depth--;
	return 1;
}

/* yajl callback: null (ignored). */
static int
ans_null(void *ctx)
{
	return ((struct plugin_answer *)ctx)->depth >= 1;
}

/* yajl callback: a number that is not an integer (ignored). */
static int
ans_double(void *ctx, double d)
{
	return ((struct plugin_answer *)ctx)->depth >= 1;
}

/* Parses an answer strictly: 0, or -1 if it is not a JSON object with reject. */
static int
plugin_answer_parse(const char *buf, size_t len, struct plugin_answer *a)
{
	static const yajl_callbacks cb = {
		ans_null, ans_bool, ans_int, ans_double, NULL, ans_string,
		ans_map_open, ans_key, ans_map_close, ans_array_open,
		ans_array_close
	};
	yajl_handle	h;
	int		ok;

	memset(a, 0, sizeof(*a));
	a->remote_port = -1;
	len = strnlen(buf, len);
	if (len == 0 || buf[strspn(buf, " \t\r\n")] != '{')
		return -1;
	if ((h = yajl_alloc(&cb, NULL, a)) == NULL)
		return -1;
	yajl_config(h, yajl_allow_comments, 0);
	ok = yajl_parse(h, (const unsigned char *)buf, len) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return ok && a->has_reject ? 0 : -1;
}

/* POSTs a body to plugin p; cb gets call.  -1 if it cannot start. */
static int
plugin_post(const struct plugin_conf *p, unsigned op, yajl_gen g,
    httpc_cb cb, struct plugin_call *call)
{
	const unsigned char	*buf;
	size_t			 len;
	char			 url[512];
	int			 rc = -1;

	yajl_gen_map_close(g);		/* content */
	yajl_gen_map_close(g);
	snprintf(url, sizeof(url), "http://%s%s?version=%s&op=%s", p->addr,
	    p->path, PLUGIN_VERSION, conf_plugin_op_name(op));
	snprintf(call->plugin, sizeof(call->plugin), "%s", p->name);
	call->op = op;
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		rc = httpc_post(url, "", "", (const char *)buf, len,
		    p->timeout * 1000, cb, call);
	yajl_gen_free(g);
	return rc;
}

/* Index of the next plugin at or after i that handles op, or -1. */
static int
plugin_next(int i, unsigned op)
{
	for (; i < W->conf.nplugins; i++)
		if (W->conf.plugins[i].ops & op)
			return i;
	return -1;
}

/* Decides what an answer means: 1 go on, 0 rejected (reason filled). */
static int
plugin_verdict(const struct plugin_call *call, int ok, long status,
    const char *err, const char *answer, size_t len, struct plugin_answer *a,
    char *reason, size_t rlen)
{
	if (!ok) {
		log_warnx("plugin %s: %s failed (%s); rejected", call->plugin,
		    conf_plugin_op_name(call->op), status ? "HTTP error" : err);
		snprintf(reason, rlen, "plugin %s: %s", call->plugin,
		    status ? "HTTP error" : "no answer");
		return 0;
	}
	if (plugin_answer_parse(answer, len, a) == -1) {
		log_warnx("plugin %s: %s: not a plugin answer; rejected",
		    call->plugin, conf_plugin_op_name(call->op));
		snprintf(reason, rlen, "plugin %s: bad answer", call->plugin);
		return 0;
	}
	if (a->reject) {
		snprintf(reason, rlen, "%s", a->reason[0] ? a->reason :
		    "rejected by plugin");
		return 0;
	}
	return 1;
}

/* Frees a waiting register (the in-flight call, if any, is orphaned). */
static void
plugin_reg_free(struct plugin_reg *r)
{
	if (r->call != NULL)
		r->call->reg = NULL;
	TAILQ_REMOVE(&regs, r, entry);
	nregs--;
	free(r);
}

/* The first waiting register of session s, or NULL. */
static struct plugin_reg *
plugin_reg_head(struct session *s)
{
	struct plugin_reg *r;

	TAILQ_FOREACH(r, &regs, entry)
		if (r->s == s)
			return r;
	return NULL;
}

/* Ends the head register of s (done or refused) and starts the next one. */
static void
plugin_reg_done(struct plugin_reg *r, int accepted, const char *reason)
{
	struct session		*s = r->s;
	struct msg		 req = r->req;
	unsigned		 op = r->op;
	struct plugin_reg	*next;

	plugin_reg_free(r);
	if (accepted)
		control_register_plugged(s, &req);
	else
		control_register_refused(s, &req, reason, op == PLUGIN_LOGIN);
	if (s->closing)
		return;
	if ((next = plugin_reg_head(s)) != NULL)
		plugin_reg_step(next);
}

/* An answer to a Login or NewProxy call. */
static void
plugin_reg_answer(void *arg, int ok, long status, const char *err,
    const char *answer, size_t len)
{
	struct plugin_call	 call = *(struct plugin_call *)arg;
	struct plugin_reg	*r = call.reg;
	struct plugin_answer	 a;
	char			 reason[256];

	free(arg);
	if (r == NULL)		/* the session is gone */
		return;
	r->call = NULL;
	if (!plugin_verdict(&call, ok, status, err, answer, len, &a, reason,
	    sizeof(reason))) {
		log_info("client %s from %s: %s refused by plugin %s: %s",
		    r->s->name[0] ? r->s->name : r->req.name, r->s->addr,
		    conf_plugin_op_name(r->op), call.plugin, reason);
		plugin_reg_done(r, 0, reason);
		return;
	}
	if (r->op == PLUGIN_NEW_PROXY && !a.unchange && a.remote_port >= 0 &&
	    a.remote_port <= 65535 && a.remote_port != r->req.remote_port) {
		log_info("client %s: plugin %s changed remote port %lld -> %lld",
		    r->s->name, call.plugin, (long long)r->req.remote_port,
		    (long long)a.remote_port);
		r->req.remote_port = a.remote_port;
	}
	r->next++;
	plugin_reg_step(r);
}

/* Asks the next plugin about a register, or lets it through. */
static void
plugin_reg_step(struct plugin_reg *r)
{
	struct session		*s = r->s;
	struct plugin_call	*call;
	yajl_gen		 g;
	char			 pk[33];
	long long		 now = (long long)time(NULL);
	int			 i;

	/* Login once per session: chosen when the register reaches the head. */
	if (!r->begun) {
		r->begun = 1;
		r->op = s->plugin_login ? PLUGIN_NEW_PROXY : PLUGIN_LOGIN;
	}
	for (;;) {
		if ((i = plugin_next(r->next, r->op)) != -1)
			break;
		if (r->op == PLUGIN_NEW_PROXY) {
			plugin_reg_done(r, 1, NULL);
			return;
		}
		s->plugin_login = 1;
		r->op = PLUGIN_NEW_PROXY;
		r->next = 0;
	}
	r->next = i;
	g = body_open(r->op);
	if (r->op == PLUGIN_LOGIN) {
		gen_str(g, "version", "gotunnel-" GOTUNNEL_VERSION);
		gen_str(g, "hostname", "");
		gen_str(g, "os", "");
		gen_str(g, "arch", "");
		gen_str(g, "user", r->req.name[0] ? r->req.name : s->name);
		gen_int(g, "timestamp", now);
		privilege_key(r->req.token, now, pk);
		gen_str(g, "privilege_key", pk);
		gen_str(g, "run_id", s->id);
		gen_int(g, "pool_count", MSG_HAS(&r->req, F_POOL_COUNT) ?
		    r->req.pool_count : 0);
		yajl_gen_string(g, (const unsigned char *)"metas", 5);
		yajl_gen_map_open(g);
		yajl_gen_map_close(g);
		gen_str(g, "client_address", s->addr);
	} else {
		gen_user(g, s);
		gen_str(g, "proxy_name", r->req.mapping[0] ? r->req.mapping : "tcp");
		/* tcp, or http/https for a web site (frp's types too). */
		gen_str(g, "proxy_type", MSG_HAS(&r->req, F_PROTOCOL) &&
		    r->req.protocol[0] ? r->req.protocol : "tcp");
		gen_int(g, "remote_port", r->req.remote_port);
	}
	call = xcalloc(1, sizeof(*call));
	call->reg = r;
	r->call = call;
	if (plugin_post(&W->conf.plugins[i], r->op, g, plugin_reg_answer,
	    call) == -1) {
		r->call = NULL;
		log_warnx("plugin %s: cannot start a request; rejected",
		    W->conf.plugins[i].name);
		free(call);
		plugin_reg_done(r, 0, "plugin unavailable");
	}
}

/*
 * Takes a register whose token was right when a plugin handles Login or
 * NewProxy: 1 (it continues later, in order per session), 0 go on now.
 */
int
plugin_register(struct session *s, const struct msg *req)
{
	struct plugin_reg	*r;
	int			 first;

	if (plugin_next(0, PLUGIN_LOGIN | PLUGIN_NEW_PROXY) == -1)
		return 0;
	if (nregs >= MAX_PENDING_REGS) {
		control_register_refused(s, req, "server busy", 0);
		return 1;
	}
	first = plugin_reg_head(s) == NULL;
	r = xcalloc(1, sizeof(*r));
	r->s = s;
	r->req = *req;
	TAILQ_INSERT_TAIL(&regs, r, entry);
	nregs++;
	if (first)
		plugin_reg_step(r);
	return 1;
}

/* A session closes: its waiting registers go (answers are ignored). */
void
plugin_session_close(struct session *s)
{
	struct plugin_reg *r, *next;

	for (r = TAILQ_FIRST(&regs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->s == s)
			plugin_reg_free(r);
	}
}

/* Frees a waiting public connection (closing it unless handed on). */
static void
plugin_uc_free(struct plugin_uc *u, int close_fd)
{
	if (u->call != NULL)
		u->call->uc = NULL;
	if (close_fd)
		close(u->fd);
	TAILQ_REMOVE(&ucs, u, entry);
	nucs--;
	free(u);
}

/* An answer to a NewUserConn call. */
static void
plugin_uc_answer(void *arg, int ok, long status, const char *err,
    const char *answer, size_t len)
{
	struct plugin_call	 call = *(struct plugin_call *)arg;
	struct plugin_uc	*u = call.uc;
	struct plugin_answer	 a;
	char			 reason[256];

	free(arg);
	if (u == NULL)		/* the mapping is gone */
		return;
	u->call = NULL;
	if (!plugin_verdict(&call, ok, status, err, answer, len, &a, reason,
	    sizeof(reason))) {
		log_info("port %u: connection from %s refused by plugin %s: %s",
		    u->map->remote_port, u->peer, call.plugin, reason);
		plugin_uc_free(u, 1);
		return;
	}
	u->next++;
	plugin_uc_step(u);
}

/* Asks the next plugin about a public connection, or lets it in. */
static void
plugin_uc_step(struct plugin_uc *u)
{
	struct plugin_call	*call;
	yajl_gen		 g;
	int			 i;

	if ((i = plugin_next(u->next, PLUGIN_NEW_USER_CONN)) == -1) {
		struct mapping		*map = u->map;
		int			 fd = u->fd;
		struct sockaddr_storage	 ss = u->ss;

		plugin_uc_free(u, 0);
		tunnel_pubconn_add(map, fd, (const struct sockaddr *)&ss, NULL);
		return;
	}
	u->next = i;
	g = body_open(PLUGIN_NEW_USER_CONN);
	gen_user(g, u->map->session);
	gen_str(g, "proxy_name", u->map->name);
	gen_str(g, "proxy_type", "tcp");
	gen_str(g, "remote_addr", u->peer);
	call = xcalloc(1, sizeof(*call));
	call->uc = u;
	u->call = call;
	if (plugin_post(&W->conf.plugins[i], PLUGIN_NEW_USER_CONN, g,
	    plugin_uc_answer, call) == -1) {
		u->call = NULL;
		free(call);
		log_warnx("plugin %s: cannot start a request; connection from "
		    "%s refused", W->conf.plugins[i].name, u->peer);
		plugin_uc_free(u, 1);
	}
}

/* Takes a new public connection when a plugin handles NewUserConn: 1 taken. */
int
plugin_user_conn(struct mapping *map, int fd, const struct sockaddr_storage *ss)
{
	struct plugin_uc *u;

	if (plugin_next(0, PLUGIN_NEW_USER_CONN) == -1)
		return 0;
	if (nucs >= MAX_PENDING_CONNS) {
		log_warnx("port %u: %d connections wait for plugins; refused",
		    map->remote_port, MAX_PENDING_CONNS);
		close(fd);
		return 1;
	}
	u = xcalloc(1, sizeof(*u));
	u->map = map;
	u->fd = fd;
	u->ss = *ss;
	net_addr_str((const struct sockaddr *)ss, u->peer, sizeof(u->peer));
	TAILQ_INSERT_TAIL(&ucs, u, entry);
	nucs++;
	plugin_uc_step(u);
	return 1;
}

/* A CloseProxy notice was answered (or not): nothing depends on it. */
static void
plugin_close_answer(void *arg, int ok, long status, const char *err,
    const char *answer, size_t len)
{
	struct plugin_call *call = arg;

	if (!ok)
		log_debug("plugin %s: CloseProxy: %s", call->plugin,
		    status ? "HTTP error" : err);
	free(call);
}

/* A mapping closes: its waiting connections close, plugins hear CloseProxy. */
void
plugin_mapping_free(struct mapping *map)
{
	struct plugin_uc	*u, *next;
	struct plugin_call	*call;
	yajl_gen		 g;

	for (u = TAILQ_FIRST(&ucs); u != NULL; u = next) {
		next = TAILQ_NEXT(u, entry);
		if (u->map == map)
			plugin_uc_free(u, 1);
	}
	for (int i = 0; started && (i = plugin_next(i, PLUGIN_CLOSE_PROXY)) != -1;
	    i++) {
		g = body_open(PLUGIN_CLOSE_PROXY);
		gen_user(g, map->session);
		gen_str(g, "proxy_name", map->name);
		call = xcalloc(1, sizeof(*call));
		if (plugin_post(&W->conf.plugins[i], PLUGIN_CLOSE_PROXY, g,
		    plugin_close_answer, call) == -1)
			free(call);
	}
}

/* Starts libcurl on the worker's loop when plugins are configured. */
void
plugin_start(void)
{
	if (W->conf.nplugins > 0 && httpc_init(W->base) == 0)
		started = 1;
}

/* After a reload: libcurl too if plugins appeared. */
void
plugin_reload(void)
{
	if (!started)
		plugin_start();
}

/* Ends what waits (connections close) and stops libcurl. */
void
plugin_stop(void)
{
	struct plugin_reg	*r;
	struct plugin_uc	*u;

	while ((r = TAILQ_FIRST(&regs)) != NULL)
		plugin_reg_free(r);
	while ((u = TAILQ_FIRST(&ucs)) != NULL)
		plugin_uc_free(u, 1);
	started = 0;
	httpc_free();
}
