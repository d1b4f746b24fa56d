/* SPDX-License-Identifier: ISC */
/* config.c: reads and checks gotunnel.ini; every key is in one table. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf_ini.h"
#include "config.h"

enum key_kind { KEY_STR, KEY_INT, KEY_IP, KEY_DURATION, KEY_LOGLEVEL, KEY_PORTS,
	KEY_BOOL, KEY_BANDWIDTH, KEY_RETENTION, KEY_TOKEN, KEY_CIDRS };

struct key_def {
	const char	*section;
	const char	*name;
	enum key_kind	 kind;
	size_t		 off;
	size_t		 size;		/* KEY_STR/KEY_IP buffer size */
	long		 min, max;	/* KEY_INT range */
};

#define S(sec, k, f) { sec, k, KEY_STR, offsetof(struct server_config, f), \
	sizeof(((struct server_config *)0)->f), 0, 0 }
#define IP(sec, k, f) { sec, k, KEY_IP, offsetof(struct server_config, f), \
	sizeof(((struct server_config *)0)->f), 0, 0 }
#define I(sec, k, f, lo, hi) { sec, k, KEY_INT, offsetof(struct server_config, f), \
	0, lo, hi }
#define B(sec, k, f) { sec, k, KEY_BOOL, offsetof(struct server_config, f), 0, 0, 0 }
#define D(sec, k, f) { sec, k, KEY_DURATION, offsetof(struct server_config, f), 0, 0, 0 }
#define BW(sec, k, f) { sec, k, KEY_BANDWIDTH, offsetof(struct server_config, f), 0, 0, 0 }
/* A duration where 0 means forever. */
#define R(sec, k, f) { sec, k, KEY_RETENTION, offsetof(struct server_config, f), 0, 0, 0 }

static const struct key_def server_keys[] = {
	IP("common", "bind_addr", bind_addr),
	I("common", "bind_port", bind_port, 1, 65535),
	IP("common", "proxy_bind_addr", proxy_bind_addr),
	{ "common", "token", KEY_TOKEN, offsetof(struct server_config, token),
	    sizeof(((struct server_config *)0)->token), 0, 0 },
	{ "common", "deny_cidrs", KEY_CIDRS, offsetof(struct server_config, deny_cidrs_s),
	    sizeof(((struct server_config *)0)->deny_cidrs_s), 0, 0 },
	{ "common", "allow_ports", KEY_PORTS, offsetof(struct server_config, allow_ports_s),
	    sizeof(((struct server_config *)0)->allow_ports_s), 0, 0 },
	I("common", "workers", workers, 1, 256),
	S("common", "data_dir", data_dir),
	{ "common", "log_level", KEY_LOGLEVEL, offsetof(struct server_config, log_level), 0, 0, 0 },
	D("common", "heartbeat_timeout", heartbeat_timeout),
	S("common", "control_socket", control_socket),
	I("common", "max_clients", max_clients, 1, 1000000),
	I("common", "max_conns_per_mapping", max_conns_per_mapping, 1, 1000000),
	I("common", "max_conns_per_client", max_conns_per_client, 0, 1000000),
	BW("common", "max_bandwidth_per_mapping", max_bandwidth_per_mapping),
	I("common", "max_pool_count", max_pool_count, 0, 1000),
	D("common", "drain_timeout", drain_timeout),
	D("common", "udp_idle_timeout", udp_idle_timeout),
	S("common", "log_file", log_file),
	S("common", "tls_cert_file", tls_cert_file),
	S("common", "tls_key_file", tls_key_file),
	S("common", "tls_client_ca_file", tls_client_ca_file),
	B("common", "allow_plaintext", allow_plaintext),
	S("common", "tls_min_version", tls_min_version),
	R("common", "history_retention", history_retention),
	I("common", "history_max_records", history_max_records, 0, 2000000000L),
	R("common", "audit_retention", audit_retention),
	I("common", "vhost_http_port", vhost_http_port, 0, 65535),
	I("common", "vhost_https_port", vhost_https_port, 0, 65535),
	S("common", "subdomain_host", subdomain_host),
	IP("admin", "bind_addr", admin_bind_addr),
	I("admin", "bind_port", admin_bind_port, 1, 65535),
	D("admin", "session_ttl", admin_session_ttl),
	S("admin", "assets", admin_assets),
	S("admin", "tls_cert", admin_tls_cert),
	S("admin", "tls_key", admin_tls_key),
	S("admin", "metrics_token", admin_metrics_token),
	S("cluster", "database", cluster_database),
	S("cluster", "node_name", cluster_node_name),
	S("cluster", "advertise_addr", cluster_advertise_addr),
	D("cluster", "node_timeout", cluster_node_timeout),
};

/* Applies one key of gotunnel.ini; returns an error message or NULL. */
static const char *
server_key(struct conf_ctx *ctx, const char *section, const char *name,
    const char *value)
{
	struct server_config	*c = ctx->user;
	int			 known_section = 0;
	const char		*perr;
	char			 cerr[160];
	long			 v;

	if (strncmp(section, "alert.", 6) == 0)
		return conf_alert_key(ctx, c, section + 6, name, value);
	if (strncmp(section, "plugin.", 7) == 0)
		return conf_plugin_key(ctx, c, section + 7, name, value);

	for (size_t i = 0; i < sizeof(server_keys) / sizeof(server_keys[0]); i++) {
		const struct key_def	*k = &server_keys[i];
		char			*field = (char *)c + k->off;

		if (strcmp(section, k->section) != 0)
			continue;
		known_section = 1;
		if (strcmp(name, k->name) != 0)
			continue;
		switch (k->kind) {
		case KEY_TOKEN:
			c->token_set = 1;
			/* FALLTHROUGH */
		case KEY_IP:
			if (k->kind == KEY_IP && !conf_parse_ip(value))
				return "expected an IP address";
			/* FALLTHROUGH */
		case KEY_STR:
			if (strlen(value) >= k->size)
				return "value too long";
			snprintf(field, k->size, "%s", value);
			return NULL;
		case KEY_INT:
			if (conf_parse_int(value, k->min, k->max, &v) == -1) {
				snprintf(ctx->msg, sizeof(ctx->msg),
				    "%s must be a number from %ld to %ld",
				    name, k->min, k->max);
				return ctx->msg;
			}
			*(long *)(void *)field = v;
			return NULL;
		case KEY_DURATION:
			if (conf_parse_duration(value, &v) == -1)
				return "expected a duration such as 90, 30s, 5m or 12h";
			*(long *)(void *)field = v;
			return NULL;
		case KEY_BOOL:
			if (conf_parse_bool(value, (int *)(void *)field) == -1)
				return "expected true or false";
			return NULL;
		case KEY_BANDWIDTH:
			if (conf_parse_bandwidth(value,
			    (int64_t *)(void *)field) == -1)
				return "expected a bandwidth such as 512KB or 2MB "
				    "(a second), or 0";
			return NULL;
		case KEY_RETENTION:
			if (strcmp(value, "0") == 0)
				v = 0;
			else if (conf_parse_duration(value, &v) == -1)
				return "expected 0 (forever) or a duration such as "
				    "3600, 30s, 5m, 12h or 90d";
			*(long *)(void *)field = v;
			return NULL;
		case KEY_LOGLEVEL:
			if (log_level_parse(value, &c->log_level) == -1)
				return "log_level must be debug, info, warn or error";
			return NULL;
		case KEY_PORTS:
			if (portrange_parse(value, &c->allow_ports, &perr) == -1) {
				snprintf(ctx->msg, sizeof(ctx->msg),
				    "allow_ports: %s", perr);
				return ctx->msg;
			}
			snprintf(field, k->size, "%s", value);
			return NULL;
		case KEY_CIDRS:
			if (cidr_list_parse(value, &c->deny_cidrs, cerr,
			    sizeof(cerr)) == -1) {
				snprintf(ctx->msg, sizeof(ctx->msg), "%s: %s",
				    name, cerr);
				return ctx->msg;
			}
			snprintf(field, k->size, "%s", value);
			return NULL;
		}
	}
	if (!known_section) {
		snprintf(ctx->msg, sizeof(ctx->msg), "unknown section [%s]",
		    section);
		return ctx->msg;
	}
	snprintf(ctx->msg, sizeof(ctx->msg), "unknown key '%s' in [%s]", name,
	    section);
	return ctx->msg;
}

/* Fills the defaults of every key. */
static void
server_config_defaults(struct server_config *c)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	snprintf(c->bind_addr, sizeof(c->bind_addr), "0.0.0.0");
	c->bind_port = 7000;
	c->workers = ncpu > 0 ? ncpu : 1;
	snprintf(c->data_dir, sizeof(c->data_dir), "/var/lib/gotunnel");
	snprintf(c->tls_min_version, sizeof(c->tls_min_version), "1.2");
	c->log_level = LOG_LVL_INFO;
	c->heartbeat_timeout = 90;
	c->max_clients = 10000;
	c->max_conns_per_mapping = 10000;
	c->max_pool_count = 64;
	c->drain_timeout = 10;
	c->history_retention = 90L * 86400;
	c->history_max_records = 10000000;
	c->audit_retention = 365L * 86400;
	c->udp_idle_timeout = 60;
	portrange_parse("", &c->allow_ports, &(const char *){ NULL });
	snprintf(c->admin_bind_addr, sizeof(c->admin_bind_addr), "127.0.0.1");
	c->admin_bind_port = 7500;
	c->admin_session_ttl = 12 * 3600;
	snprintf(c->admin_assets, sizeof(c->admin_assets), "frontend/dist");
	c->cluster_node_timeout = 15;
}

/* Loads and checks path; -1 with "FILE:LINE: message" (or "FILE: message"). */
int
server_config_load(const char *path, struct server_config *c, char *err,
    size_t errlen)
{
	server_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (conf_ini_parse(path, server_key, c, err, errlen) == -1)
		return -1;
	/* An explicit "token =" means per-client credentials only. */
	if (!c->token_set) {
		snprintf(err, errlen, "%s: [common] token is required "
		    "(there is no default token; \"token =\" empty accepts "
		    "per-client credentials only)", path);
		return -1;
	}
	if (c->proxy_bind_addr[0] == '\0')
		snprintf(c->proxy_bind_addr, sizeof(c->proxy_bind_addr), "%s",
		    c->bind_addr);
	if (c->control_socket[0] == '\0' &&
	    snprintf(c->control_socket, sizeof(c->control_socket),
	    "%s/control.sock", c->data_dir) >= (int)sizeof(c->control_socket)) {
		snprintf(err, errlen, "%s: data_dir too long for the default "
		    "control_socket; set control_socket", path);
		return -1;
	}
	if ((c->tls_cert_file[0] != '\0') != (c->tls_key_file[0] != '\0')) {
		snprintf(err, errlen, "%s: tls_cert_file and tls_key_file go "
		    "together", path);
		return -1;
	}
	if (c->tls_cert_file[0] == '\0' && (c->tls_client_ca_file[0] != '\0' ||
	    c->allow_plaintext)) {
		snprintf(err, errlen, "%s: tls_client_ca_file and allow_plaintext "
		    "need tls_cert_file and tls_key_file", path);
		return -1;
	}
	if (strcmp(c->tls_min_version, "1.2") != 0 &&
	    strcmp(c->tls_min_version, "1.3") != 0) {
		snprintf(err, errlen, "%s: tls_min_version must be 1.2 or 1.3",
		    path);
		return -1;
	}
	if ((c->vhost_http_port != 0 && c->vhost_http_port == c->bind_port) ||
	    (c->vhost_https_port != 0 && (c->vhost_https_port == c->bind_port ||
	    c->vhost_https_port == c->vhost_http_port))) {
		snprintf(err, errlen, "%s: vhost_http_port and vhost_https_port "
		    "must differ from bind_port and from each other", path);
		return -1;
	}
	if (c->cluster_node_name[0] == '\0' &&
	    gethostname(c->cluster_node_name, sizeof(c->cluster_node_name)) != 0)
		snprintf(c->cluster_node_name, sizeof(c->cluster_node_name), "node");
	c->cluster_node_name[sizeof(c->cluster_node_name) - 1] = '\0';
	if (c->cluster_advertise_addr[0] == '\0')
		snprintf(c->cluster_advertise_addr,
		    sizeof(c->cluster_advertise_addr), "%s", c->proxy_bind_addr);
	if (c->cluster_database[0] != '\0' && c->cluster_node_timeout < 3) {
		snprintf(err, errlen, "%s: [cluster] node_timeout must be at "
		    "least 3 seconds", path);
		return -1;
	}
	if (conf_alert_check(c, err, errlen) == -1 ||
	    conf_plugin_check(c, err, errlen) == -1)
		return -1;
	if (c->heartbeat_timeout < 2) {
		snprintf(err, errlen, "%s: heartbeat_timeout must be at least 2 "
		    "seconds", path);
		return -1;
	}
	return 0;
}
