/* SPDX-License-Identifier: ISC */
/*
 * conf.c: reads gotunnel-admin's settings from the shared gotunnel.ini:
 * the [admin] section and data_dir / control_socket from [common].  The
 * launcher and the Kore module both use it, so they agree on every value.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"

struct conf_parse {
	struct admin_conf	*conf;
	char			*err;
	size_t			 errlen;
	int			 failed;
	int			 lineno;	/* counted by conf_reader */
	FILE			*fp;
};

/* Parses "3600", "45s", "30m", "12h" or "7d" into seconds (60 s .. 30 d). */
int
admin_duration_parse(const char *s, int64_t *out)
{
	char		*end;
	long long	 n;
	int64_t		 mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || n <= 0 || n > 1000000000LL)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	n *= mul;
	if (n < 60 || n > 30 * 86400)
		return -1;
	*out = n;
	return 0;
}

/*
 * Reads a [cluster] duration ("15", "15s", "2m", "1h") as seconds in
 * 1..86400; -1 when it is not one.  The master judges the value; the
 * admin only needs it to tell online nodes from silent ones.
 */
static int
conf_seconds(const char *s, int64_t *out)
{
	char		*end;
	long long	 n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || n <= 0 || n > 86400)
		return -1;
	if (strcmp(end, "m") == 0)
		n *= 60;
	else if (strcmp(end, "h") == 0)
		n *= 3600;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		return -1;
	if (n > 86400)
		return -1;
	*out = n;
	return 0;
}

/* 1 when addr is a loopback address (127.0.0.0/8, ::1 or "localhost"). */
int
admin_addr_is_loopback(const char *addr)
{
	struct in_addr	a4;
	struct in6_addr	a6;

	if (strcmp(addr, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
	return 0;
}

/* Copies a path value; relative paths stay relative to the cwd. */
static int
conf_path(char *dst, size_t size, const char *value)
{
	if (*value == '\0' || strlen(value) >= size)
		return -1;
	snprintf(dst, size, "%s", value);
	return 0;
}

/* inih line reader that counts lines (Debian's inih has no line numbers). */
static char *
conf_reader(char *buf, int size, void *arg)
{
	struct conf_parse	*p = arg;
	char			*r;

	if ((r = fgets(buf, size, p->fp)) != NULL)
		p->lineno++;
	return r;
}

/* inih callback: one key; returns 0 (stop) on an error in [admin]. */
static int
conf_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct conf_parse	*p = arg;
	int			 lineno = p->lineno;
	struct admin_conf	*c = p->conf;
	const char		*bad = NULL;
	char			*end;
	long			 port;

	if (strcmp(section, "common") == 0) {
		if (strcmp(name, "data_dir") == 0) {
			if (conf_path(c->data_dir, sizeof(c->data_dir), value))
				bad = "invalid data_dir";
		} else if (strcmp(name, "control_socket") == 0) {
			if (conf_path(c->control_socket,
			    sizeof(c->control_socket), value) ||
			    strlen(value) >= 108)
				bad = "invalid control_socket";
		} else if (strcmp(name, "tls_cert_file") == 0) {
			if (conf_path(c->tls_cert_file,
			    sizeof(c->tls_cert_file), value))
				bad = "invalid tls_cert_file";
		}
		/* The master's other keys are not ours to judge. */
	} else if (strcmp(section, "cluster") == 0) {
		/* Only whether cluster mode is on (audit events go to the outbox). */
		if (strcmp(name, "database") == 0)
			snprintf(c->cluster_database, sizeof(c->cluster_database),
			    "%s", value);
		else if (strcmp(name, "node_name") == 0)
			snprintf(c->cluster_node_name,
			    sizeof(c->cluster_node_name), "%s", value);
		else if (strcmp(name, "node_timeout") == 0 &&
		    conf_seconds(value, &c->cluster_node_timeout) == -1)
			bad = "node_timeout: expected 1..86400 seconds, or a "
			    "number with s, m or h";
	} else if (strcmp(section, "admin") == 0) {
		if (strcmp(name, "bind_addr") == 0) {
			struct in6_addr a;
			if (strlen(value) >= sizeof(c->bind_addr) ||
			    (inet_pton(AF_INET, value, &a) != 1 &&
			    inet_pton(AF_INET6, value, &a) != 1 &&
			    strcmp(value, "localhost") != 0))
				bad = "bind_addr: not an IP address";
			else
				snprintf(c->bind_addr, sizeof(c->bind_addr),
				    "%s", strcmp(value, "localhost") == 0 ?
				    "127.0.0.1" : value);
		} else if (strcmp(name, "bind_port") == 0) {
			errno = 0;
			port = strtol(value, &end, 10);
			if (errno || *value == '\0' || *end != '\0' ||
			    port < 1 || port > 65535)
				bad = "bind_port: expected 1-65535";
			else
				c->bind_port = (uint16_t)port;
		} else if (strcmp(name, "session_ttl") == 0) {
			if (admin_duration_parse(value, &c->session_ttl))
				bad = "session_ttl: expected 60..2592000 "
				    "seconds, or a number with s, m, h or d";
		} else if (strcmp(name, "assets") == 0) {
			if (conf_path(c->assets, sizeof(c->assets), value))
				bad = "invalid assets";
		} else if (strcmp(name, "tls_cert") == 0) {
			if (conf_path(c->tls_cert, sizeof(c->tls_cert), value))
				bad = "invalid tls_cert";
		} else if (strcmp(name, "tls_key") == 0) {
			if (conf_path(c->tls_key, sizeof(c->tls_key), value))
				bad = "invalid tls_key";
		} else if (strcmp(name, "metrics_token") == 0) {
			if (strlen(value) >= sizeof(c->metrics_token))
				bad = "metrics_token too long";
			else
				snprintf(c->metrics_token,
				    sizeof(c->metrics_token), "%s", value);
		} else {
			bad = "unknown key in [admin]";
		}
	}
	if (bad != NULL) {
		snprintf(p->err, p->errlen, "%s:%d: %s%s%s", c->path, lineno,
		    bad, strstr(bad, "unknown") ? ": " : "",
		    strstr(bad, "unknown") ? name : "");
		p->failed = 1;
		return 0;
	}
	return 1;
}

/* Reads path into conf (defaults first); -1 with "FILE:LINE: msg" in err. */
int
admin_conf_load(const char *path, struct admin_conf *conf, char *err,
    size_t errlen)
{
	struct conf_parse	 p = { conf, err, errlen, 0, 0, NULL };
	FILE			*fp;
	int			 rc;

	memset(conf, 0, sizeof(*conf));
	snprintf(conf->bind_addr, sizeof(conf->bind_addr), "127.0.0.1");
	conf->bind_port = 7500;
	conf->session_ttl = 12 * 3600;
	conf->cluster_node_timeout = 15;	/* the master's default */
	snprintf(conf->assets, sizeof(conf->assets), "frontend/dist");
	/* The master's defaults, so that both find the same files. */
	snprintf(conf->data_dir, sizeof(conf->data_dir), "/var/lib/gotunnel");
	if (realpath(path, conf->path) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((fp = fopen(conf->path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	p.fp = fp;
	rc = ini_parse_stream(conf_reader, &p, conf_handler, &p);
	fclose(fp);
	if (p.failed)
		return -1;
	if (rc != 0) {
		snprintf(err, errlen, "%s:%d: syntax error", conf->path, rc);
		return -1;
	}
	/* The master's default node name (common/config.c): the host name. */
	if (conf->cluster_database[0] != '\0' &&
	    conf->cluster_node_name[0] == '\0' &&
	    gethostname(conf->cluster_node_name,
	    sizeof(conf->cluster_node_name)) != 0)
		snprintf(conf->cluster_node_name,
		    sizeof(conf->cluster_node_name), "node");
	conf->cluster_node_name[sizeof(conf->cluster_node_name) - 1] = '\0';
	return admin_conf_check(conf, err, errlen);
}

/* Checks the combination of settings and makes paths absolute. */
int
admin_conf_check(struct admin_conf *c, char *err, size_t errlen)
{
	char		 cwd[PATH_MAX], tmp[PATH_MAX];
	char		*paths[] = { c->assets, c->data_dir, c->control_socket,
			    c->tls_cert, c->tls_key };
	struct stat	 st;

	if (c->data_dir[0] == '\0') {
		snprintf(err, errlen, "%s: [common] data_dir is empty", c->path);
		return -1;
	}
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
		snprintf(err, errlen, "%s: [admin] tls_cert and tls_key go "
		    "together", c->path);
		return -1;
	}
	if (c->tls_cert[0] == '\0' && !admin_addr_is_loopback(c->bind_addr)) {
		snprintf(err, errlen, "%s: [admin] bind_addr %s is not a "
		    "loopback address: plain HTTP is only served on 127.0.0.1 "
		    "or ::1; set tls_cert and tls_key", c->path, c->bind_addr);
		return -1;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(err, errlen, "getcwd: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (paths[i][0] == '\0' || paths[i][0] == '/')
			continue;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", cwd,
		    paths[i]) >= sizeof(tmp)) {
			snprintf(err, errlen, "%s: path too long", paths[i]);
			return -1;
		}
		snprintf(paths[i], PATH_MAX, "%s", tmp);
	}
	if (c->control_socket[0] == '\0' &&
	    (size_t)snprintf(c->control_socket, sizeof(c->control_socket),
	    "%s/control.sock", c->data_dir) >= 108) {
		snprintf(err, errlen, "%s: data_dir too long for the default "
		    "control_socket; set control_socket", c->path);
		return -1;
	}
	for (int i = 3; i < 5; i++) {
		if (paths[i][0] != '\0' && access(paths[i], R_OK) == -1) {
			snprintf(err, errlen, "%s: %s: %s", c->path,
			    paths[i], strerror(errno));
			return -1;
		}
	}
	if (stat(c->assets, &st) == -1 || !S_ISDIR(st.st_mode)) {
		/* Not fatal: the API works without the console's files. */
		return 0;
	}
	/* Keep the assets path canonical: the static handler compares it. */
	if (realpath(c->assets, tmp) != NULL)
		snprintf(c->assets, sizeof(c->assets), "%s", tmp);
	return 0;
}
