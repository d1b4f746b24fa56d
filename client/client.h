/* SPDX-License-Identifier: ISC */
/* client.h: gotunnel-client's private header. */
#ifndef GOTUNNEL_CLIENT_H
#define GOTUNNEL_CLIENT_H

#include <limits.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "db_limits.h"
#include "log.h"
#include "net.h"

#define CLIENT_MAX_MAPPINGS	64
#define CLIENT_MAX_DATA_CONNS	20000
#define BACKOFF_MIN		1
#define BACKOFF_MAX		30
#define CONNECT_TIMEOUT		10

/* One [section] of the client config: a local service to publish. */
struct client_mapping {
	char		name[DB_NAME_LEN];
	char		local_ip[DB_ADDR_LEN];
	long		local_port;
	long		remote_port;		/* 0: the server picks */
	long		assigned_port;		/* from register_response, 0 if none */
	long		max_conns;		/* limits, 0: none (see limit.c) */
	long		conn_rate;
	long		conn_burst;
	int64_t		bandwidth_limit;	/* bytes a second */
	int		line;			/* where the section starts */
	char		type[8];		/* tcp, http, https (client_vhost.c) */
	char		custom_domains[512];
	char		subdomain[64];
	char		http_user[64];
	char		http_password[128];
	char		host_header_rewrite[256];
	int		proxy_protocol;		/* 0 none, 1 v1, 2 v2 */
};

struct client_config {
	char			path[PATH_MAX];
	char			server_addr[256];
	long			server_port;
	char			token[256];
	char			name[DB_NAME_LEN];
	long			heartbeat_interval;
	long			heartbeat_timeout;
	long			pool_count;
	enum log_level		log_level;
	int			tls_enable;	/* also set by a CA file or pin */
	char			tls_trusted_ca_file[PATH_MAX];
	char			server_fingerprint[80];
	char			tls_cert_file[PATH_MAX];	/* mutual TLS */
	char			tls_key_file[PATH_MAX];
	char			tls_server_name[256];	/* default: server_addr */
	struct client_mapping	maps[CLIENT_MAX_MAPPINGS];
	size_t			nmaps;
};

/* A data connection: dialing the server, pooled, dialing local, relaying. */
enum dconn_state { DC_SERVER_CONNECT, DC_TLS_HANDSHAKE, DC_WAIT_START,
	DC_LOCAL_CONNECT, DC_RELAY };

struct dconn {
	TAILQ_ENTRY(dconn)	 entry;
	enum dconn_state	 state;
	int			 fd;		/* to the server */
	int			 local_fd;
	struct ssl_st		*ssl;		/* TLS to the server, or NULL */
	struct event		 ev;
	struct hsread		 hs;
	struct relay		*relay;
	struct client_mapping	*map;
	char			 data_id[80];
	char			 peer[DB_ADDR_LEN];
};
TAILQ_HEAD(dconn_list, dconn);

struct client {
	struct event_base	*base;
	struct client_config	 conf;
	struct bufferevent	*bev;		/* control connection, NULL if down */
	struct ssl_ctx_st	*tls_ctx;	/* NULL: clear text */
	int			 tcp_fd;	/* TLS: TCP connect under way, or -1 */
	struct event		 ev_tcp;
	int			 connected;
	struct event		 ev_reconnect, ev_heartbeat, ev_connect_timeout,
				 ev_sigterm, ev_sigint, ev_sighup;
	unsigned		 backoff;
	time_t			 last_rx;
	size_t			 responses_due;	/* register responses still expected */
	char			 client_id[DB_ID_LEN];	/* current (or last) session */
	struct dconn_list	 dconns;
	unsigned		 ndconns;
};

extern struct client *C;

/* client_config.c */
int	client_config_load(const char *path, struct client_config *, char *err,
	    size_t errlen);

/* client_vhost.c */
struct msg;
const char *client_vhost_key(struct client_mapping *, const char *name,
	    const char *value, int *mine);
int	client_vhost_check(const char *path, struct client_mapping *, char *err,
	    size_t errlen);
void	client_vhost_register(const struct client_mapping *, struct msg *);

/* client_tls.c */
int	client_tls_init(char *err, size_t errlen);
struct ssl_st *client_tls_new(const char *alpn);
void	client_tls_log_failure(struct ssl_st *, unsigned long ossl_err,
	    const char *what);
/* client_rand.c */
uint32_t	client_rand_uniform(uint32_t upper);

/* session.c */
void	session_init_events(void);
void	session_connect(void);
void	session_schedule_reconnect(const char *why);
void	session_close(void);

/* local.c */
void	local_data_open(const char *data_id);
void	local_free_all(void);

#endif
