/* SPDX-License-Identifier: ISC */
/*
 * client_vhost.c: the mapping keys of type http/https and of the PROXY
 * protocol in gotunnel-client.ini, and what they add to a register.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "conf_ini.h"
#include "proto.h"

/* Copies a string key into a field of size n; an error or NULL. */
static const char *
set_str(char *dst, size_t n, const char *value, const char *what)
{
	if (strlen(value) >= n)
		return what;
	snprintf(dst, n, "%s", value);
	return NULL;
}

/*
 * Applies a key of a mapping section that this file owns: *mine tells
 * whether it was one.  Returns an error message or NULL.
 */
const char *
client_vhost_key(struct client_mapping *m, const char *name,
    const char *value, int *mine)
{
	*mine = 1;
	if (strcmp(name, "type") == 0) {
		if (strcmp(value, "tcp") != 0 && strcmp(value, "udp") != 0 &&
		    strcmp(value, "http") != 0 && strcmp(value, "https") != 0)
			return "unsupported type (tcp, udp, http or https)";
		snprintf(m->type, sizeof(m->type), "%s", value);
		return NULL;
	}
	if (strcmp(name, "custom_domains") == 0)
		return set_str(m->custom_domains, sizeof(m->custom_domains),
		    value, "custom_domains too long");
	if (strcmp(name, "subdomain") == 0)
		return set_str(m->subdomain, sizeof(m->subdomain), value,
		    "subdomain too long");
	if (strcmp(name, "http_user") == 0)
		return set_str(m->http_user, sizeof(m->http_user), value,
		    "http_user too long");
	if (strcmp(name, "http_password") == 0)
		return set_str(m->http_password, sizeof(m->http_password), value,
		    "http_password too long");
	if (strcmp(name, "host_header_rewrite") == 0)
		return set_str(m->host_header_rewrite,
		    sizeof(m->host_header_rewrite), value,
		    "host_header_rewrite too long");
	if (strcmp(name, "proxy_protocol_version") == 0) {
		if (strcmp(value, "v1") == 0)
			m->proxy_protocol = 1;
		else if (strcmp(value, "v2") == 0)
			m->proxy_protocol = 2;
		else if (value[0] == '\0')
			m->proxy_protocol = 0;
		else
			return "proxy_protocol_version must be v1 or v2";
		return NULL;
	}
	*mine = 0;
	return NULL;
}

/* Checks a whole mapping section by its type; -1 with "FILE:LINE: msg". */
int
client_vhost_check(const char *path, struct client_mapping *m, char *err,
    size_t errlen)
{
	int vhost = strcmp(m->type, "http") == 0 || strcmp(m->type, "https") == 0;

	if (m->type[0] == '\0')
		snprintf(m->type, sizeof(m->type), "tcp");
	if (strcmp(m->type, "udp") == 0 && m->proxy_protocol != 0) {
		snprintf(err, errlen, "%s:%d: [%s] proxy_protocol_version is for "
		    "tcp, http and https (a datagram has no header room)", path,
		    m->line, m->name);
		return -1;
	}
	if (!vhost) {
		if (m->custom_domains[0] || m->subdomain[0] || m->http_user[0] ||
		    m->http_password[0] || m->host_header_rewrite[0]) {
			snprintf(err, errlen, "%s:%d: [%s] custom_domains, "
			    "subdomain, http_user, http_password and "
			    "host_header_rewrite need type = http (or https)",
			    path, m->line, m->name);
			return -1;
		}
		return 0;
	}
	if (m->remote_port != -1) {
		snprintf(err, errlen, "%s:%d: [%s] type %s has no remote_port "
		    "(the server's vhost_%s_port)", path, m->line, m->name,
		    m->type, m->type);
		return -1;
	}
	if (m->local_port == -1) {
		snprintf(err, errlen, "%s:%d: [%s] needs local_port", path,
		    m->line, m->name);
		return -1;
	}
	if (m->custom_domains[0] == '\0' && m->subdomain[0] == '\0') {
		snprintf(err, errlen, "%s:%d: [%s] needs custom_domains or "
		    "subdomain", path, m->line, m->name);
		return -1;
	}
	if ((m->http_user[0] != '\0') != (m->http_password[0] != '\0')) {
		snprintf(err, errlen, "%s:%d: [%s] http_user and http_password "
		    "go together", path, m->line, m->name);
		return -1;
	}
	if (strcmp(m->type, "https") == 0 && (m->http_user[0] ||
	    m->host_header_rewrite[0])) {
		snprintf(err, errlen, "%s:%d: [%s] http_user, http_password and "
		    "host_header_rewrite are for type http only (HTTPS passes "
		    "through untouched)", path, m->line, m->name);
		return -1;
	}
	m->remote_port = 0;	/* the server's vhost port, in the response */
	return 0;
}

/* Adds the type and the vhost keys of a mapping to its register message. */
void
client_vhost_register(const struct client_mapping *m, struct msg *msg)
{
	msg_set_str(msg, F_PROTOCOL, m->type[0] ? m->type : "tcp");
	if (m->custom_domains[0])
		msg_set_str(msg, F_CUSTOM_DOMAINS, m->custom_domains);
	if (m->subdomain[0])
		msg_set_str(msg, F_SUBDOMAIN, m->subdomain);
	if (m->http_user[0]) {
		msg_set_str(msg, F_HTTP_USER, m->http_user);
		msg_set_str(msg, F_HTTP_PASSWORD, m->http_password);
	}
	if (m->host_header_rewrite[0])
		msg_set_str(msg, F_HOST_HEADER_REWRITE, m->host_header_rewrite);
}
