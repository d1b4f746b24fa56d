/* SPDX-License-Identifier: ISC */
/* client.h: gotunnel-client's private header. */
#ifndef GOTUNNEL_CLIENT_H
#define GOTUNNEL_CLIENT_H

#include <limits.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "cidr.h"
#include "db_limits.h"
#include "log.h"
#include "net.h"

#define CLIENT_MAX_MAPPINGS	64
#define CLIENT_MAX_SERVERS	32	/* entries of server_addr */
#define CLIENT_MAX_SESSIONS	128	/* masters at once, all entries together */
#define CLIENT_MAX_ADDRS	32	/* addresses taken from one host name */
#define CLIENT_SERVER_ADDR_LEN	1024
#define DISCOVERY_RETRY		5	/* s: next try after a failed lookup (at most) */
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
	long		assigned_port;		/* the public port on every master:
						 * remote_port, or the one the first
						 * master picked (kept), 0 if none yet */
	struct session	*picker;		/* remote_port 0: the session asking
						 * a master to pick, or NULL */
	long		max_conns;		/* limits, 0: none (see limit.c) */
	long		conn_rate;
	long		conn_burst;
	int64_t		bandwidth_limit;	/* bytes a second */
	char		allow_cidrs[CIDR_STR_MAX];	/* source ACL, sent at register */
	char		deny_cidrs[CIDR_STR_MAX];
	int		line;			/* where the section starts */
	char		type[8];		/* tcp, udp, http, https (client_vhost.c) */
	char		custom_domains[512];
	char		subdomain[64];
	char		http_user[64];
	char		http_password[128];
	char		host_header_rewrite[256];
	int		proxy_protocol;		/* 0 none, 1 v1, 2 v2 */
};

/* One entry of server_addr. */
struct server_entry {
	char		host[256];	/* name or literal address, no brackets */
	uint16_t	port;
	int		numeric;	/* host is a literal address */
};

struct client_config {
	char			path[PATH_MAX];
	char			server_addr[CLIENT_SERVER_ADDR_LEN];
	long			server_port;
	struct server_entry	servers[CLIENT_MAX_SERVERS];
	size_t			nservers;
	long			discovery_interval;	/* s: host names resolved again */
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
	char			tls_server_name[256];	/* "": each entry's host */
	struct client_mapping	maps[CLIENT_MAX_MAPPINGS];
	size_t			nmaps;
	int			cli_server;	/* --server given (client_cli.c) */
	char			cli_local_ip[DB_ADDR_LEN];	/* --local-ip */
};

/* Long options of the file-less form (client_cli.c). */
enum client_cli_opt {
	CLI_SERVER = 256, CLI_TOKEN_FILE, CLI_MAP, CLI_LOCAL_IP, CLI_NAME,
	CLI_FINGERPRINT, CLI_CA_FILE, CLI_TLS_SERVER_NAME, CLI_DISCOVERY_INTERVAL
};

/* A data connection: dialing the server, pooled, dialing local, relaying. */
enum dconn_state { DC_SERVER_CONNECT, DC_TLS_HANDSHAKE, DC_WAIT_START,
	DC_LOCAL_CONNECT, DC_RELAY };

struct dconn {
	TAILQ_ENTRY(dconn)	 entry;
	enum dconn_state	 state;
	int			 fd;		/* to the server */
	int			 local_fd;
	struct ctls		*tls;		/* TLS to the server, or NULL */
	struct event		 ev;
	struct hsread		 hs;
	struct relay		*relay;
	struct client_mapping	*map;
	char			 server[64];	/* the master's address, for logs */
	char			*sni;		/* TLS server name of that master, until
					   the handshake (NULL without TLS) */
	char			 data_id[80];
	char			 peer[DB_ADDR_LEN];
};
TAILQ_HEAD(dconn_list, dconn);

/* Where one mapping stands on one master's session. */
enum reg_state {
	REG_NONE,	/* not sent (not connected yet) */
	REG_WAIT_PORT,	/* remote_port 0: waiting for another master to pick */
	REG_SENT,	/* register sent, response due */
	REG_OK,
	REG_FAILED
};

/*
 * A control session with one master (one address of one server_addr
 * entry).  Owned by the client's session list; session_free() is the one
 * way out.  Data connections dialed for it copy what they need and do not
 * point back, so they outlive it.
 */
struct session {
	TAILQ_ENTRY(session)	 entry;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 label[300];	/* "host (addr:port)" for logs */
	char			 addr_str[64];	/* "addr:port" / "[v6]:port" */
	char			 sni[256];	/* TLS server name */
	size_t			 server;	/* index in conf.servers */
	int			 seen;		/* discovery: still in DNS */
	struct bufferevent	*bev;		/* control connection, NULL if down */
	int			 tcp_fd;	/* TLS: TCP connect under way, or -1 */
	struct ctls		*tls;		/* TLS of bev (owned by it), or NULL */
	struct event		 ev_tcp;
	int			 connected;
	struct event		 ev_reconnect, ev_heartbeat, ev_connect_timeout;
	unsigned		 backoff;
	time_t			 last_rx;
	/* Mappings with a register on the wire, in the order sent (the
	 * responses come in that order). */
	unsigned char		 due[CLIENT_MAX_MAPPINGS];
	size_t			 due_head, due_len;
	enum reg_state		 reg[CLIENT_MAX_MAPPINGS];
	char			 client_id[DB_ID_LEN];	/* on this master */
};
TAILQ_HEAD(session_list, session);

struct client {
	struct event_base	*base;
	struct client_config	 conf;
	struct ctls_ctx		*tls_ctx;	/* NULL: clear text */
	struct event		 ev_sigterm, ev_sigint, ev_sighup;
	struct session_list	 sessions;
	unsigned		 nsessions;
	struct dconn_list	 dconns;
	unsigned		 ndconns;
	struct discovery	*disc;		/* host name lookups (discovery.c) */
};

extern struct client *C;

/* client_config.c */
void	client_config_defaults(struct client_config *);
int	client_config_load(const char *path, struct client_config *, char *err,
	    size_t errlen);
int	client_config_finish(struct client_config *, const char *where,
	    char *err, size_t errlen);

/* client_cli.c */
int	client_cli_set(struct client_config *, int opt, const char *arg,
	    char *err, size_t errlen);
int	client_cli_finish(struct client_config *, char *err, size_t errlen);

/* serverlist.c */
int	serverlist_parse(const char *list, long default_port,
	    struct server_entry *, size_t max, size_t *n, char *err,
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
struct ctls *client_tls_new(int fd, const char *sni, const char *alpn);
void	client_tls_log_failure(struct ctls *, struct bufferevent *,
	    const char *what, const char *server);
/* client_rand.c */
uint32_t	client_rand_uniform(uint32_t upper);

/* session.c */
struct session *session_find(const struct sockaddr *, socklen_t);
struct session *session_new(size_t server, const struct sockaddr *, socklen_t);
void	session_free(struct session *, const char *why);
void	session_free_all(void);

/* discovery.c */
void	discovery_start(void);
void	discovery_stop(void);

/* local.c */
void	local_data_open(struct session *, const char *data_id);
void	local_free_all(void);

/* udp.c */
int	udp_flow_start(struct client_mapping *, int fd, struct ctls *,
	    const char *peer);
void	udp_free_all(void);

#endif
