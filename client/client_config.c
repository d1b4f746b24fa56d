/* SPDX-License-Identifier: ISC */
/* client_config.c: reads gotunnel-client.ini ([common] + one section per mapping). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "conf_ini.h"
#include "tls_io.h"

/* Finds or adds the mapping of a section. */
static struct client_mapping *
mapping_for(struct conf_ctx *ctx, struct client_config *c, const char *section)
{
	struct client_mapping *m;

	for (size_t i = 0; i < c->nmaps; i++)
		if (strcmp(c->maps[i].name, section) == 0)
			return &c->maps[i];
	if (c->nmaps == CLIENT_MAX_MAPPINGS || strlen(section) >= DB_NAME_LEN)
		return NULL;
	m = &c->maps[c->nmaps++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", section);
	snprintf(m->local_ip, sizeof(m->local_ip), "127.0.0.1");
	m->local_port = -1;
	m->remote_port = -1;
	m->line = ctx->section_line;
	return m;
}

/* Applies a [common] key. */
static const char *
common_key(struct conf_ctx *ctx, struct client_config *c, const char *name,
    const char *value)
{
	long v;

	if (strcmp(name, "server_addr") == 0) {
		if (value[0] == '\0' || strlen(value) >= sizeof(c->server_addr))
			return "server_addr must be a host name or address, or a "
			    "comma-separated list of them";
		/* Checked here for the line number; the ports are filled in
		 * once server_port is known (client_config_finish). */
		if (serverlist_parse(value, 1, c->servers, CLIENT_MAX_SERVERS,
		    &c->nservers, ctx->msg, sizeof(ctx->msg)) == -1)
			return ctx->msg;
		snprintf(c->server_addr, sizeof(c->server_addr), "%s", value);
	} else if (strcmp(name, "server_port") == 0) {
		if (conf_parse_int(value, 1, 65535, &c->server_port) == -1)
			return "server_port must be a number from 1 to 65535";
	} else if (strcmp(name, "token") == 0) {
		if (strlen(value) >= sizeof(c->token))
			return "token too long";
		snprintf(c->token, sizeof(c->token), "%s", value);
	} else if (strcmp(name, "name") == 0) {
		if (value[0] == '\0' || strlen(value) >= sizeof(c->name))
			return "name must be 1 to 63 characters";
		snprintf(c->name, sizeof(c->name), "%s", value);
	} else if (strcmp(name, "discovery_interval") == 0) {
		if (conf_parse_duration(value, &c->discovery_interval) == -1)
			return "expected a duration such as 30 or 30s";
	} else if (strcmp(name, "heartbeat_interval") == 0) {
		if (conf_parse_duration(value, &c->heartbeat_interval) == -1)
			return "expected a duration such as 30 or 30s";
	} else if (strcmp(name, "heartbeat_timeout") == 0) {
		if (conf_parse_duration(value, &c->heartbeat_timeout) == -1)
			return "expected a duration such as 90 or 90s";
	} else if (strcmp(name, "pool_count") == 0) {
		if (conf_parse_int(value, 0, 1000, &v) == -1)
			return "pool_count must be a number from 0 to 1000";
		c->pool_count = v;
	} else if (strcmp(name, "tls_enable") == 0) {
		if (conf_parse_bool(value, &c->tls_enable) == -1)
			return "tls_enable must be true or false";
	} else if (strcmp(name, "tls_trusted_ca_file") == 0) {
		if (strlen(value) >= sizeof(c->tls_trusted_ca_file))
			return "tls_trusted_ca_file too long";
		snprintf(c->tls_trusted_ca_file, sizeof(c->tls_trusted_ca_file),
		    "%s", value);
	} else if (strcmp(name, "server_fingerprint") == 0) {
		if (value[0] != '\0' && !tls_fingerprint_valid(value))
			return "server_fingerprint must be sha256: followed by 64 "
			    "lowercase hex digits (gotunnelctl fingerprint prints it)";
		snprintf(c->server_fingerprint, sizeof(c->server_fingerprint),
		    "%s", value);
	} else if (strcmp(name, "tls_cert_file") == 0) {
		if (strlen(value) >= sizeof(c->tls_cert_file))
			return "tls_cert_file too long";
		snprintf(c->tls_cert_file, sizeof(c->tls_cert_file), "%s", value);
	} else if (strcmp(name, "tls_key_file") == 0) {
		if (strlen(value) >= sizeof(c->tls_key_file))
			return "tls_key_file too long";
		snprintf(c->tls_key_file, sizeof(c->tls_key_file), "%s", value);
	} else if (strcmp(name, "tls_server_name") == 0) {
		if (value[0] == '\0' || strlen(value) >= sizeof(c->tls_server_name))
			return "tls_server_name must be a host name";
		snprintf(c->tls_server_name, sizeof(c->tls_server_name), "%s",
		    value);
	} else if (strcmp(name, "log_level") == 0) {
		if (log_level_parse(value, &c->log_level) == -1)
			return "log_level must be debug, info, warn or error";
	} else {
		snprintf(ctx->msg, sizeof(ctx->msg), "unknown key '%s' in [common]",
		    name);
		return ctx->msg;
	}
	return NULL;
}

/* Applies a key of a mapping section. */
static const char *
mapping_key(struct conf_ctx *ctx, struct client_mapping *m, const char *name,
    const char *value)
{
	const char	*verr;
	int		 mine;

	if ((verr = client_vhost_key(m, name, value, &mine)) != NULL || mine)
		return verr;	/* type, domains, auth, PROXY protocol */
	if (strcmp(name, "local_ip") == 0) {
		if (value[0] == '\0' || strlen(value) >= sizeof(m->local_ip))
			return "local_ip must be a host name or address";
		snprintf(m->local_ip, sizeof(m->local_ip), "%s", value);
	} else if (strcmp(name, "local_port") == 0) {
		if (conf_parse_int(value, 1, 65535, &m->local_port) == -1)
			return "local_port must be a number from 1 to 65535";
	} else if (strcmp(name, "remote_port") == 0) {
		if (conf_parse_int(value, 0, 65535, &m->remote_port) == -1)
			return "remote_port must be a number from 0 to 65535 "
			    "(0: the server picks)";
	} else if (strcmp(name, "max_conns") == 0) {
		if (conf_parse_int(value, 0, 1000000, &m->max_conns) == -1)
			return "max_conns must be a number from 0 to 1000000";
	} else if (strcmp(name, "conn_rate") == 0) {
		if (conf_parse_int(value, 0, 1000000, &m->conn_rate) == -1)
			return "conn_rate must be a number from 0 to 1000000";
	} else if (strcmp(name, "conn_burst") == 0) {
		if (conf_parse_int(value, 0, 1000000, &m->conn_burst) == -1)
			return "conn_burst must be a number from 0 to 1000000";
	} else if (strcmp(name, "bandwidth_limit") == 0) {
		if (conf_parse_bandwidth(value, &m->bandwidth_limit) == -1)
			return "bandwidth_limit must be like 512KB or 2MB (a "
			    "second), or 0";
	} else if (strcmp(name, "bandwidth_limit_mode") == 0) {
		/* frp's key; here the master always enforces the limit. */
		if (strcmp(value, "server") != 0)
			return "bandwidth_limit_mode must be server (the master "
			    "enforces bandwidth_limit)";
	} else if (strcmp(name, "allow_cidrs") == 0 ||
	    strcmp(name, "deny_cidrs") == 0) {
		struct cidr_list	l;
		char			err[160];

		if (cidr_list_parse(value, &l, err, sizeof(err)) == -1) {
			snprintf(ctx->msg, sizeof(ctx->msg), "%s: %s", name, err);
			return ctx->msg;
		}
		snprintf(name[0] == 'a' ? m->allow_cidrs : m->deny_cidrs,
		    CIDR_STR_MAX, "%s", value);
	} else {
		snprintf(ctx->msg, sizeof(ctx->msg), "unknown key '%s' in [%s]",
		    name, m->name);
		return ctx->msg;
	}
	return NULL;
}

/* inih key callback for the client file. */
static const char *
client_key(struct conf_ctx *ctx, const char *section, const char *name,
    const char *value)
{
	struct client_config	*c = ctx->user;
	struct client_mapping	*m;

	if (strcmp(section, "common") == 0)
		return common_key(ctx, c, name, value);
	if (section[0] == '\0')
		return "key outside of a section";
	if ((m = mapping_for(ctx, c, section)) == NULL)
		return "too many mappings (limit 64) or section name too long";
	return mapping_key(ctx, m, name, value);
}

/* Fills in the defaults of every key. */
void
client_config_defaults(struct client_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->server_addr, sizeof(c->server_addr), "127.0.0.1");
	c->server_port = 7000;
	c->discovery_interval = 30;
	c->heartbeat_interval = 30;
	c->heartbeat_timeout = 90;
	c->pool_count = 8;
	c->log_level = LOG_LVL_INFO;
	if (gethostname(c->name, sizeof(c->name) - 1) == -1 || c->name[0] == '\0')
		snprintf(c->name, sizeof(c->name), "gotunnel-client");
}

/*
 * Checks a filled-in config as a whole and derives what follows from it
 * (the server list with its ports, TLS on).  where: the file or
 * "command line", for messages.
 */
int
client_config_finish(struct client_config *c, const char *where, char *err,
    size_t errlen)
{
	char msg[512];

	if (c->token[0] == '\0') {
		snprintf(err, errlen, "%s: [common] token is required", where);
		return -1;
	}
	if (c->nmaps == 0) {
		snprintf(err, errlen, "%s: no mapping section (e.g. [ssh] with "
		    "local_port and remote_port)", where);
		return -1;
	}
	for (size_t i = 0; i < c->nmaps; i++) {
		struct client_mapping *m = &c->maps[i];

		if (client_vhost_check(where, m, err, errlen) == -1)
			return -1;
		if (m->local_port == -1 || m->remote_port == -1) {
			snprintf(err, errlen, "%s:%d: [%s] needs local_port and "
			    "remote_port", where, m->line, m->name);
			return -1;
		}
	}
	if (serverlist_parse(c->server_addr, c->server_port, c->servers,
	    CLIENT_MAX_SERVERS, &c->nservers, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "%s: %s", where, msg);
		return -1;
	}
	if (c->server_fingerprint[0] != '\0' || c->tls_trusted_ca_file[0] != '\0')
		c->tls_enable = 1;
	if ((c->tls_cert_file[0] != '\0') != (c->tls_key_file[0] != '\0')) {
		snprintf(err, errlen, "%s: tls_cert_file and tls_key_file go "
		    "together", where);
		return -1;
	}
	if (c->heartbeat_timeout <= c->heartbeat_interval) {
		snprintf(err, errlen, "%s: heartbeat_timeout must be longer than "
		    "heartbeat_interval", where);
		return -1;
	}
	return 0;
}

/* Loads and checks the client config. */
int
client_config_load(const char *path, struct client_config *c, char *err,
    size_t errlen)
{
	client_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (conf_ini_parse(path, client_key, c, err, errlen) == -1)
		return -1;
	return client_config_finish(c, path, err, errlen);
}
