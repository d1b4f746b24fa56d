/* SPDX-License-Identifier: ISC */
/*
 * client_cli.c: the client's configuration from the command line alone,
 * for a container or a script:
 *   gotunnel-client --server HOST[:PORT][,HOST...] --token-file FILE
 *       --map NAME=LOCAL_PORT:REMOTE_PORT [--map ...] [--local-ip IP] ...
 * The result is checked by client_config_finish() like a file's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "conf_ini.h"
#include "tls_io.h"

/* Reads the token from the first line of path (trailing blanks dropped). */
static int
client_cli_token(struct client_config *c, const char *path, char *err,
    size_t errlen)
{
	char	buf[sizeof(c->token) + 2];
	ssize_t	n;
	size_t	len;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "--token-file %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "--token-file %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0 || len >= sizeof(c->token)) {
		snprintf(err, errlen, "--token-file %s: the first line must hold "
		    "the token (1 to %zu characters)", path, sizeof(c->token) - 1);
		return -1;
	}
	memcpy(c->token, buf, len + 1);	/* len < sizeof(c->token), checked */
	return 0;
}

/* Adds a mapping from NAME=LOCAL_PORT:REMOTE_PORT. */
static int
client_cli_map(struct client_config *c, const char *arg, char *err,
    size_t errlen)
{
	struct client_mapping	*m;
	const char		*eq = strchr(arg, '=');
	char			 lp[16], rp[16];
	const char		*colon;
	size_t			 nlen;

	if (eq == NULL || (colon = strchr(eq, ':')) == NULL ||
	    (nlen = (size_t)(eq - arg)) == 0 || nlen >= DB_NAME_LEN ||
	    (size_t)(colon - eq - 1) >= sizeof(lp) || strlen(colon + 1) >= sizeof(rp)) {
		snprintf(err, errlen, "--map %s: expected NAME=LOCAL_PORT:REMOTE_PORT "
		    "(e.g. ssh=22:10022; REMOTE_PORT 0: the server picks)", arg);
		return -1;
	}
	if (c->nmaps == CLIENT_MAX_MAPPINGS) {
		snprintf(err, errlen, "--map %s: too many mappings (limit %d)", arg,
		    CLIENT_MAX_MAPPINGS);
		return -1;
	}
	m = &c->maps[c->nmaps];
	memset(m, 0, sizeof(*m));
	memcpy(m->name, arg, nlen);
	m->name[nlen] = '\0';
	for (size_t i = 0; i < c->nmaps; i++)
		if (strcmp(c->maps[i].name, m->name) == 0) {
			snprintf(err, errlen, "--map %s: mapping %s given twice",
			    arg, m->name);
			return -1;
		}
	snprintf(lp, sizeof(lp), "%.*s", (int)(colon - eq - 1), eq + 1);
	snprintf(rp, sizeof(rp), "%s", colon + 1);
	if (conf_parse_int(lp, 1, 65535, &m->local_port) == -1 ||
	    conf_parse_int(rp, 0, 65535, &m->remote_port) == -1) {
		snprintf(err, errlen, "--map %s: LOCAL_PORT must be 1 to 65535 "
		    "and REMOTE_PORT 0 to 65535", arg);
		return -1;
	}
	snprintf(m->local_ip, sizeof(m->local_ip), "127.0.0.1");
	c->nmaps++;
	return 0;
}

/* Copies a string option into dst (size len); -1 if empty or too long. */
static int
client_cli_str(char *dst, size_t len, const char *opt, const char *arg,
    char *err, size_t errlen)
{
	if (arg[0] == '\0' || strlen(arg) >= len) {
		snprintf(err, errlen, "%s: 1 to %zu characters expected", opt,
		    len - 1);
		return -1;
	}
	snprintf(dst, len, "%s", arg);
	return 0;
}

/* Applies one option of the simple form to c (defaults already in it). */
int
client_cli_set(struct client_config *c, int opt, const char *arg, char *err,
    size_t errlen)
{
	char msg[400];

	switch (opt) {
	case CLI_SERVER:
		if (client_cli_str(c->server_addr, sizeof(c->server_addr),
		    "--server", arg, err, errlen) == -1)
			return -1;
		/* Checked now so that the message names the option. */
		if (serverlist_parse(arg, c->server_port, c->servers,
		    CLIENT_MAX_SERVERS, &c->nservers, msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "--server: %s", msg);
			return -1;
		}
		c->cli_server = 1;
		return 0;
	case CLI_TOKEN_FILE:
		return client_cli_token(c, arg, err, errlen);
	case CLI_MAP:
		return client_cli_map(c, arg, err, errlen);
	case CLI_LOCAL_IP:
		return client_cli_str(c->cli_local_ip, sizeof(c->cli_local_ip),
		    "--local-ip", arg, err, errlen);
	case CLI_NAME:
		return client_cli_str(c->name, sizeof(c->name), "--name", arg,
		    err, errlen);
	case CLI_FINGERPRINT:
		if (!tls_fingerprint_valid(arg)) {
			snprintf(err, errlen, "--fingerprint must be sha256: "
			    "followed by 64 lowercase hex digits (gotunnelctl "
			    "fingerprint prints it)");
			return -1;
		}
		snprintf(c->server_fingerprint, sizeof(c->server_fingerprint),
		    "%s", arg);
		return 0;
	case CLI_CA_FILE:
		return client_cli_str(c->tls_trusted_ca_file,
		    sizeof(c->tls_trusted_ca_file), "--ca-file", arg, err, errlen);
	case CLI_TLS_SERVER_NAME:
		return client_cli_str(c->tls_server_name,
		    sizeof(c->tls_server_name), "--tls-server-name", arg, err,
		    errlen);
	case CLI_DISCOVERY_INTERVAL:
		if (conf_parse_duration(arg, &c->discovery_interval) == -1) {
			snprintf(err, errlen, "--discovery-interval: expected a "
			    "duration such as 30 or 30s");
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -1;
}

/* Checks the simple form as a whole once every option is in. */
int
client_cli_finish(struct client_config *c, char *err, size_t errlen)
{
	if (!c->cli_server) {
		snprintf(err, errlen, "command line: --server is required");
		return -1;
	}
	if (c->token[0] == '\0') {
		snprintf(err, errlen, "command line: --token-file is required");
		return -1;
	}
	if (c->nmaps == 0) {
		snprintf(err, errlen, "command line: at least one --map "
		    "NAME=LOCAL_PORT:REMOTE_PORT is required");
		return -1;
	}
	if (c->cli_local_ip[0] != '\0')
		for (size_t i = 0; i < c->nmaps; i++)
			snprintf(c->maps[i].local_ip, sizeof(c->maps[i].local_ip),
			    "%s", c->cli_local_ip);
	snprintf(c->path, sizeof(c->path), "command line");
	return client_config_finish(c, "command line", err, errlen);
}
