/* SPDX-License-Identifier: ISC */
/*
 * vhost_reg.c: the checks of an http/https register message, and its
 * domain list: custom_domains and subdomain (+ subdomain_host), each
 * validated and normalised the way the router looks them up.
 */
#include <stdio.h>
#include <string.h>

#include "db_vhost.h"
#include "http_head.h"
#include "proto.h"
#include "server.h"

/* Tells whether a register message asks for an http or https mapping. */
int
vhost_is_type(const struct msg *req)
{
	return MSG_HAS(req, F_PROTOCOL) && (strcmp(req->protocol, "http") == 0 ||
	    strcmp(req->protocol, "https") == 0);
}

/* Appends one domain (validated, normalised, not a duplicate) to list. */
static int
add_domain(char *list, size_t size, int *n, const char *in, size_t len,
    char *err, size_t errlen)
{
	char	dom[HTTP_HOST_MAX + 1], copy[sizeof(((struct db_mapping *)0)->domains)];
	char	*save = NULL;
	size_t	used = strlen(list);

	if (memchr(in, ':', len) != NULL || memchr(in, '[', len) != NULL ||
	    http_host_normalize(in, len, dom, sizeof(dom)) == -1) {
		snprintf(err, errlen, "bad domain name");
		return -1;
	}
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *d = strtok_r(copy, ",", &save); d; d = strtok_r(NULL, ",", &save))
		if (strcmp(d, dom) == 0) {
			snprintf(err, errlen, "domain listed twice");
			return -1;
		}
	if (*n == DB_MAX_DOMAINS || used + strlen(dom) + 2 > size) {
		snprintf(err, errlen, "too many domains (limit %d)",
		    DB_MAX_DOMAINS);
		return -1;
	}
	snprintf(list + used, size - used, "%s%s", used ? "," : "", dom);
	(*n)++;
	return 0;
}

/* Checks a header value the master will write: a host[:port], no CR/LF. */
static int
valid_rewrite(const char *v)
{
	char out[HTTP_HOST_MAX + 1];

	return http_host_normalize(v, strlen(v), out, sizeof(out)) == 0;
}

/*
 * Fills the type, domains and port of an http/https mapping record from
 * a register message; -1 with err for the register_response.
 */
int
vhost_prepare(const struct msg *req, struct db_mapping *m, char *err,
    size_t errlen)
{
	int		 https = strcmp(req->protocol, "https") == 0, n = 0;
	long		 port = vhost_port(https);
	const char	*p, *e;

	if (port == 0) {
		snprintf(err, errlen, "%s is not set on the server",
		    https ? "vhost_https_port" : "vhost_http_port");
		return -1;
	}
	snprintf(m->type, sizeof(m->type), "%s", https ? "https" : "http");
	m->remote_port = (uint16_t)port;
	m->domains[0] = '\0';
	if (MSG_HAS(req, F_CUSTOM_DOMAINS))
		for (p = req->custom_domains; *p != '\0'; p = *e ? e + 1 : e) {
			for (; *p == ' '; p++)
				;
			e = strchr(p, ',');
			if (e == NULL)
				e = p + strlen(p);
			size_t len = (size_t)(e - p);
			while (len > 0 && p[len - 1] == ' ')
				len--;
			if (len > 0 && add_domain(m->domains, sizeof(m->domains),
			    &n, p, len, err, errlen) == -1)
				return -1;
		}
	if (MSG_HAS(req, F_SUBDOMAIN) && req->subdomain[0] != '\0') {
		char full[HTTP_HOST_MAX + 2];

		if (W->conf.subdomain_host[0] == '\0') {
			snprintf(err, errlen, "subdomain_host is not set on the "
			    "server");
			return -1;
		}
		if (strchr(req->subdomain, '.') != NULL ||
		    snprintf(full, sizeof(full), "%s.%s", req->subdomain,
		    W->conf.subdomain_host) >= (int)sizeof(full)) {
			snprintf(err, errlen, "bad subdomain");
			return -1;
		}
		if (add_domain(m->domains, sizeof(m->domains), &n, full,
		    strlen(full), err, errlen) == -1)
			return -1;
	}
	if (n == 0) {
		snprintf(err, errlen, "custom_domains or subdomain is required");
		return -1;
	}
	if (MSG_HAS(req, F_HTTP_USER) != MSG_HAS(req, F_HTTP_PASSWORD) ||
	    (MSG_HAS(req, F_HTTP_USER) && (req->http_user[0] == '\0' ||
	    strchr(req->http_user, ':') != NULL))) {
		snprintf(err, errlen, "http_user and http_password go together "
		    "(no ':' in http_user)");
		return -1;
	}
	if (https && (MSG_HAS(req, F_HTTP_USER) ||
	    MSG_HAS(req, F_HOST_HEADER_REWRITE))) {
		snprintf(err, errlen, "http_user and host_header_rewrite are "
		    "for type http only");
		return -1;
	}
	if (MSG_HAS(req, F_HOST_HEADER_REWRITE) &&
	    !valid_rewrite(req->host_header_rewrite)) {
		snprintf(err, errlen, "bad host_header_rewrite");
		return -1;
	}
	return 0;
}
