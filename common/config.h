/* SPDX-License-Identifier: ISC */
/* config.h: the server configuration file (gotunnel.ini(5)), shared by
 * gotunnel-master, gotunnelctl and gotunnel-admin. */
#ifndef GOTUNNEL_CONFIG_H
#define GOTUNNEL_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "log.h"
#include "portrange.h"

#define CONF_MAX_ALERTS		8	/* [alert.NAME] sections */

#define CONF_MAX_PLUGINS	8	/* [plugin.NAME] sections */

/* Operations an [plugin.NAME] handles (frp's server-plugin names). */
enum plugin_op {
	PLUGIN_LOGIN		= 1 << 0,
	PLUGIN_NEW_PROXY	= 1 << 1,
	PLUGIN_CLOSE_PROXY	= 1 << 2,
	PLUGIN_NEW_USER_CONN	= 1 << 3,
};

/* One [plugin.NAME] section: an frp-compatible HTTP server plugin. */
struct plugin_conf {
	char		 name[32];
	char		 addr[128];		/* host:port */
	char		 path[256];		/* e.g. /handler */
	unsigned	 ops;			/* enum plugin_op bits */
	long		 timeout;		/* seconds, default 3 */
};

/* Events an [alert.NAME] receiver subscribes to (conf_alert.c). */
enum alert_event {
	ALERT_CLIENT_OFFLINE	= 1 << 0,
	ALERT_TRAFFIC_QUOTA	= 1 << 1,
	ALERT_AUTH_FAILURES	= 1 << 2,
	ALERT_NODE_OFFLINE	= 1 << 3,
};

/* One [alert.NAME] section: a webhook receiver and its rules. */
struct alert_conf {
	char		 name[32];
	char		 webhook_url[512];
	unsigned	 events;		/* enum alert_event bits */
	int		 events_set;		/* the events key was given */
	long		 offline_for;		/* seconds */
	char		 clients[512];		/* names or globs, comma-separated */
	int64_t		 quota_bytes_per_day;	/* 0: no quota */
	long		 auth_failures_per_min;
	char		 secret[256];		/* HMAC key, "" for unsigned */
	char		 ca_file[PATH_MAX];	/* https: trust this CA, not the system's */
	long		 retry_for;		/* seconds a delivery is retried */
	long		 retry_interval;	/* longest pause between retries */
};

struct server_config {
	char		 path[PATH_MAX];
	/* [common] */
	char		 bind_addr[64];
	long		 bind_port;
	char		 proxy_bind_addr[64];
	char		 token[256];		/* "" (token =): per-client credentials only */
	int		 token_set;		/* the key is in the file */
	char		 allow_ports_s[1024];
	struct portrange allow_ports;
	long		 workers;
	char		 data_dir[PATH_MAX];
	enum log_level	 log_level;
	long		 heartbeat_timeout;
	char		 control_socket[108];
	long		 max_clients;
	long		 max_conns_per_mapping;
	long		 max_conns_per_client;		/* 0: no limit */
	int64_t		 max_bandwidth_per_mapping;	/* bytes/s, 0: no cap */
	long		 max_pool_count;
	long		 drain_timeout;
	long		 udp_idle_timeout;	/* seconds a UDP flow lives idle */
	char		 log_file[PATH_MAX];
	char		 tls_cert_file[PATH_MAX];	/* set: TLS on bind_port */
	char		 tls_key_file[PATH_MAX];
	char		 tls_client_ca_file[PATH_MAX];	/* set: mutual TLS */
	int		 allow_plaintext;	/* with TLS: accept clear text too */
	char		 tls_min_version[8];	/* "1.2" (default) or "1.3" */
	long		 history_retention;	/* seconds, 0 forever */
	long		 history_max_records;	/* 0 no cap */
	long		 audit_retention;	/* seconds, 0 forever */
	long		 vhost_http_port;	/* 0: no HTTP virtual hosts */
	long		 vhost_https_port;	/* 0: no HTTPS by SNI */
	char		 subdomain_host[256];	/* "subdomain = app" -> app.<this> */
	char		 deny_cidrs_s[CIDR_STR_MAX];
	struct cidr_list deny_cidrs;		/* refused on every mapping */
	/* [admin] */
	char		 admin_bind_addr[64];
	long		 admin_bind_port;
	long		 admin_session_ttl;
	char		 admin_assets[PATH_MAX];
	char		 admin_tls_cert[PATH_MAX];
	char		 admin_tls_key[PATH_MAX];
	char		 admin_metrics_token[256];
	/* [cluster] (cluster.c); database "" = no cluster, libpq never used */
	char		 cluster_database[1024];
	char		 cluster_node_name[64];
	char		 cluster_advertise_addr[256];
	long		 cluster_node_timeout;
	/* [alert.NAME] */
	struct alert_conf alerts[CONF_MAX_ALERTS];
	int		 nalerts;
	/* [plugin.NAME] */
	struct plugin_conf plugins[CONF_MAX_PLUGINS];
	int		 nplugins;
};

/* conf_alert.c */
struct conf_ctx;
const char *conf_alert_key(struct conf_ctx *, struct server_config *,
	    const char *name, const char *key, const char *value);
int	conf_alert_check(struct server_config *, char *err, size_t errlen);
int	conf_parse_bytes(const char *, int64_t *bytes);
const char *conf_alert_event_name(unsigned event);
int	conf_alert_glob_match(const char *patterns, const char *name);

/* conf_plugin.c */
const char *conf_plugin_key(struct conf_ctx *, struct server_config *,
	    const char *name, const char *key, const char *value);
int	conf_plugin_check(struct server_config *, char *err, size_t errlen);
const char *conf_plugin_op_name(unsigned op);

int	server_config_load(const char *path, struct server_config *,
	    char *err, size_t errlen);

#endif
