/* SPDX-License-Identifier: ISC */
/*
 * module.h: the Kore module's private interfaces.  Only files built into
 * gotunnel-admin.so include it (it pulls in Kore's headers).
 */
#ifndef GOTUNNEL_ADMIN_MODULE_H
#define GOTUNNEL_ADMIN_MODULE_H

#include <kore/kore.h>
#include <kore/http.h>

#include "admin.h"
#include "db.h"
#include "db_admin.h"
#include "json_parse.h"
#include "url.h"

#define ADMIN_BODY_MAX		16384	/* JSON bodies larger than this: 413 */
#define ADMIN_QUERY_MAX		16	/* query parameters per request */

/* The filters of /api/sessions and its export (api_history.c). */
struct hfilter {
	int		 conns;		/* 0 hist_sess, 1 hist_conn */
	const char	*client;
	const char	*name;
	int64_t		 port;		/* 0 any */
	int64_t		 from, to;
	int		 status;	/* 0 any, 1 online/open, 2 closed */
	char		 q[129];
};

/* What a handler knows about its request. */
struct admin_ctx {
	struct http_request	*req;
	int			 authed;
	char			 sid[DB_WEBSESS_HEX];
	struct db_websession	 sess;
	enum db_role		 role;		/* the session user's, now */
	char			 address[DB_ADDR_LEN];
	char			 arg[DB_ID_LEN];	/* {id} of the path */
	struct url_param	 params[ADMIN_QUERY_MAX];
	int			 nparams;
	char			*qs;			/* decoded copy, owned */
};

extern struct admin_conf	admin_conf;
extern struct db		admin_db;
extern int			admin_db_ok;
extern int			admin_tls;

/* module.c */
void	 admin_headers(struct http_request *, int api);
void	 admin_json(struct admin_ctx *, int status, struct kore_buf *);
void	 admin_error(struct admin_ctx *, int status, const char *msg);
void	 admin_ok(struct admin_ctx *);
int	 admin_params_allow(struct admin_ctx *, const char *const *keys);
const char *admin_param(struct admin_ctx *, const char *key);
int	 admin_param_int(struct admin_ctx *, const char *, int64_t min,
	    int64_t max, int64_t def, int64_t *out);
int	 admin_body_read(struct admin_ctx *, char *buf, size_t size,
	    size_t *len);
void	 admin_peer(struct connection *, char *, size_t);

/* json.c */
void	 jw_raw(struct kore_buf *, const char *);
void	 jw_open(struct kore_buf *, char c);
void	 jw_close(struct kore_buf *, char c);
void	 jw_key(struct kore_buf *, const char *key);
void	 jw_str(struct kore_buf *, const char *key, const char *s, size_t max);
void	 jw_int(struct kore_buf *, const char *key, int64_t);
void	 jw_uint(struct kore_buf *, const char *key, uint64_t);
void	 jw_bool(struct kore_buf *, const char *key, int);
void	 jw_end(struct kore_buf *);
void	 jw_escape(struct kore_buf *, const char *s, size_t len);
void	 csv_field(struct kore_buf *, const char *s, size_t max, int last);

/* access.c */
enum db_role access_required(int method, const char *path, enum db_role);
int	 access_allowed(const struct admin_ctx *, enum db_role need);
void	 access_deny(struct admin_ctx *, const char *what);

/* api_websess.c */
int	 api_websess_list(struct admin_ctx *);
int	 api_websess_revoke(struct admin_ctx *);

/* hist_state.c */
int	 hist_state_incomplete(MDB_txn *, char *, size_t);

/* auth.c */
int	 auth_session(struct admin_ctx *);
int	 auth_csrf_ok(struct admin_ctx *);
void	 auth_cookie(struct admin_ctx *, const char *id, int64_t ttl);
int	 api_login(struct admin_ctx *);
int	 api_logout(struct admin_ctx *);
int	 api_me(struct admin_ctx *);

/* api_live.c */
int	 api_clients(struct admin_ctx *);
int	 api_client(struct admin_ctx *);
int	 api_disconnect(struct admin_ctx *);
int	 api_mappings(struct admin_ctx *);
int	 ctl_request(const char *json, char *err, size_t errlen);
int	 ctl_request_reply(const char *json, char **out, char *err,
	    size_t errlen);
int	 live_client_get(MDB_txn *, const char *id, struct db_client *);
void	 live_client_json(struct kore_buf *, MDB_txn *,
	    const struct db_client *, int with_conns);
void	 live_conn_json(struct kore_buf *, uint64_t id, const struct db_conn *,
	    const char *status);

/* api_tokens.c */
int	 api_tokens(struct admin_ctx *);
int	 api_token_add(struct admin_ctx *);
int	 api_token_revoke(struct admin_ctx *);
int	 api_token_rotate(struct admin_ctx *);

/* api_cluster.c */
int	 cluster_admin_on(void);
int	 api_nodes(struct admin_ctx *);
int	 cluster_clients(struct admin_ctx *);
int	 cluster_client(struct admin_ctx *);

/* api_alerts.c */
int	 api_alerts(struct admin_ctx *);

/* api_history.c */
int	 api_sessions(struct admin_ctx *);
int	 api_export(struct admin_ctx *);
int	 api_audit(struct admin_ctx *);
void	 history_sess_json(struct kore_buf *, const char *id, const char *node,
	    const struct db_hist_session *);
void	 history_conn_json(struct kore_buf *, const char *id, const char *node,
	    const struct db_hist_conn *);
void	 history_sess_csv(struct kore_buf *, const char *id, const char *node,
	    const struct db_hist_session *);
void	 history_conn_csv(struct kore_buf *, const char *id, const char *node,
	    const struct db_hist_conn *);
void	 history_csv_header(struct kore_buf *, int conns, int with_node);

/* pgq.c */
struct kore_pgsql;
typedef void	(*pgq_done_fn)(struct http_request *, struct kore_pgsql *,
		    void *arg);
void	 pgq_init(void);
int	 pgq_start(struct admin_ctx *, const char *sql, int nparams,
	    const char *const *params, pgq_done_fn, void *arg);
int	 pgq_resume(struct http_request *);
int	 pgq_pending(struct http_request *);

/* cluster_hist.c */
int	 cluster_hist_sessions(struct admin_ctx *, const struct hfilter *,
	    int64_t page, int64_t per_page);
int	 cluster_hist_export(struct admin_ctx *, const struct hfilter *,
	    int csv);
int	 cluster_hist_audit(struct admin_ctx *, const char *action,
	    int64_t page, int64_t per_page);
int	 cluster_hist_stats(struct admin_ctx *, const char *range,
	    int64_t step, int64_t n);

/* api_stats.c */
int	 api_stats(struct admin_ctx *);
int	 api_metrics(struct admin_ctx *);
int	 api_metrics_bearer_ok(struct admin_ctx *);
int	 api_events(struct admin_ctx *);
void	 events_init(void);

/* api_mapping.c */
int	 api_mapping_disable(struct admin_ctx *);
int	 api_mapping_enable(struct admin_ctx *);

/* api_settings.c */
void	 settings_init(void);
int	 api_settings(struct admin_ctx *);

/* static.c */
int	 static_serve(struct admin_ctx *);

#endif
