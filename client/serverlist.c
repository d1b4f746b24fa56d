/* SPDX-License-Identifier: ISC */
/*
 * serverlist.c: parses server_addr, a comma-separated list of masters:
 * "host", "host:port", "1.2.3.4:port", "[2001:db8::1]:port" or a bare IPv6
 * address.  An entry without a port uses server_port.  Pure parsing: no
 * sockets, no resolver (discovery.c resolves the host names).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* True if s is a literal IPv4 or IPv6 address. */
static int
serverlist_is_addr(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* True if s is a plausible DNS host name (letters, digits, '-', '.', '_'). */
static int
serverlist_is_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' &&
		    s[i] != '_')
			return 0;
	return 1;
}

/* Parses a port number 1..65535; -1 if it is not one. */
static long
serverlist_port(const char *s)
{
	char	*end;
	long	 v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return -1;
	return v;
}

/* Parses one entry (already trimmed) into e; an error message or NULL. */
static const char *
serverlist_entry(char *s, long default_port, struct server_entry *e)
{
	unsigned char	 a6[sizeof(struct in6_addr)];
	char		*colon, *host = s;
	long		 port = default_port;

	if (s[0] == '[') {
		/* [v6] or [v6]:port */
		char *close = strchr(s, ']');

		if (close == NULL)
			return "missing ']' after an IPv6 address";
		*close = '\0';
		host = s + 1;
		if (close[1] == ':') {
			if ((port = serverlist_port(close + 2)) == -1)
				return "bad port (1 to 65535)";
		} else if (close[1] != '\0')
			return "unexpected text after ']'";
		if (inet_pton(AF_INET6, host, a6) != 1)
			return "[...] must hold an IPv6 address";
	} else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		/* host:port (exactly one colon) */
		*colon = '\0';
		if ((port = serverlist_port(colon + 1)) == -1)
			return "bad port (1 to 65535)";
	} else if (colon != NULL) {
		/* Several colons: a bare IPv6 address, no port. */
		if (inet_pton(AF_INET6, s, a6) != 1)
			return "an IPv6 address with a port is written [addr]:port";
	}
	if (host[0] == '\0')
		return "empty host";
	e->numeric = serverlist_is_addr(host);
	if (!e->numeric && !serverlist_is_hostname(host))
		return "not a host name or address";
	if (strlen(host) >= sizeof(e->host))
		return "host too long";
	memcpy(e->host, host, strlen(host) + 1);	/* fits: checked above */
	e->port = (uint16_t)port;
	return NULL;
}

/*
 * Parses list into out[0..max); *n gets the count.  default_port is used
 * for entries without one.  0, or -1 with the reason (naming the entry) in err.
 */
int
serverlist_parse(const char *list, long default_port, struct server_entry *out,
    size_t max, size_t *n, char *err, size_t errlen)
{
	char		 buf[CLIENT_SERVER_ADDR_LEN], entry[CLIENT_SERVER_ADDR_LEN];
	char		*p, *next, *end;
	const char	*why;

	*n = 0;
	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "server_addr too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (p = buf; p != NULL; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*p == '\0') {
			snprintf(err, errlen, "server_addr: empty entry in the list");
			return -1;
		}
		if (*n == max) {
			snprintf(err, errlen, "server_addr: more than %zu entries",
			    max);
			return -1;
		}
		memset(&out[*n], 0, sizeof(out[*n]));
		/* A copy for the message: parsing cuts the entry up. */
		snprintf(entry, sizeof(entry), "%s", p);
		if ((why = serverlist_entry(p, default_port, &out[*n])) != NULL) {
			snprintf(err, errlen, "server_addr entry '%s': %s", entry,
			    why);
			return -1;
		}
		(*n)++;
	}
	return 0;
}
