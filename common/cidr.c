/* SPDX-License-Identifier: ISC */
/* cidr.c: parse comma-separated CIDR lists and match addresses against them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "cidr.h"

/* Clears the host bits of a network address of a prefix length. */
static void
cidr_mask(struct cidr *c)
{
	size_t	len = c->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < len; i++) {
		unsigned int keep = c->bits >= (i + 1) * 8 ? 8 :
		    c->bits > i * 8 ? c->bits - i * 8 : 0;

		c->addr[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/* Parses one entry ("addr" or "addr/bits"); -1 with a message in err. */
static int
cidr_parse_one(const char *s, struct cidr *c, char *err, size_t errlen)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	size_t		 len = strlen(s);
	long		 bits;
	unsigned int	 max;

	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "'%.40s...': not an address", s);
		return -1;
	}
	memcpy(buf, s, len + 1);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		snprintf(err, errlen, "'%s': not an IPv4 or IPv6 address", buf);
		return -1;
	}
	c->bits = (uint8_t)max;
	if (slash != NULL) {
		bits = strtol(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
		    bits < 0 || bits > (long)max) {
			snprintf(err, errlen, "'%s': prefix length must be a "
			    "number from 0 to %u", s, max);
			return -1;
		}
		c->bits = (uint8_t)bits;
	}
	cidr_mask(c);
	return 0;
}

/*
 * Parses a comma-separated list (spaces around entries are ignored; an
 * empty string is an empty list).  Returns 0, or -1 with err set.
 */
int
cidr_list_parse(const char *s, struct cidr_list *l, char *err, size_t errlen)
{
	char	 item[CIDR_STR_MAX];
	size_t	 len;

	memset(l, 0, sizeof(*l));
	if (strlen(s) >= CIDR_STR_MAX) {
		snprintf(err, errlen, "list too long (limit %d characters)",
		    CIDR_STR_MAX - 1);
		return -1;
	}
	while (*s != '\0') {
		const char *comma = strchr(s, ',');

		len = comma != NULL ? (size_t)(comma - s) : strlen(s);
		while (len > 0 && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == 0) {
			snprintf(err, errlen, "empty entry in the list");
			return -1;
		}
		if (l->n == CIDR_MAX) {
			snprintf(err, errlen, "too many entries (limit %d)",
			    CIDR_MAX);
			return -1;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		if (cidr_parse_one(item, &l->v[l->n], err, errlen) == -1)
			return -1;
		l->n++;
		if (comma == NULL)
			break;
		s = comma + 1;
		if (*s == '\0') {
			snprintf(err, errlen, "empty entry in the list");
			return -1;
		}
	}
	return 0;
}

/* Tells whether addr (len bytes) lies in c's network. */
static int
cidr_contains(const struct cidr *c, const uint8_t *addr)
{
	unsigned int full = c->bits / 8, rest = c->bits % 8;

	if (memcmp(c->addr, addr, full) != 0)
		return 0;
	return rest == 0 ||
	    (addr[full] & (uint8_t)(0xff00u >> rest)) == c->addr[full];
}

/*
 * 1 when sa is in one of the list's networks.  An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d, from a dual-stack listener) matches IPv4
 * entries as the IPv4 address it is.
 */
int
cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	const uint8_t		*a4 = NULL, *a6 = NULL;

	if (sa->sa_family == AF_INET)
		a4 = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		a6 = ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr;
		if (memcmp(a6, mapped, sizeof(mapped)) == 0)
			a4 = a6 + 12;
	} else
		return 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct cidr *c = &l->v[i];

		if ((c->family == AF_INET && a4 != NULL && cidr_contains(c, a4)) ||
		    (c->family == AF_INET6 && a6 != NULL && cidr_contains(c, a6)))
			return 1;
	}
	return 0;
}

/*
 * Walks the entries of a list as text: returns the length of the next
 * entry (spaces trimmed) with *item at its start and advances *s past it;
 * 0 at the end.  Empty entries are skipped.
 */
size_t
cidr_list_next(const char **s, const char **item)
{
	while (**s != '\0') {
		size_t n = strcspn(*s, ",");

		*item = *s;
		*s += n;
		if (**s == ',')
			(*s)++;
		while (n > 0 && (**item == ' ' || **item == '\t'))
			(*item)++, n--;
		while (n > 0 && ((*item)[n - 1] == ' ' || (*item)[n - 1] == '\t'))
			n--;
		if (n > 0)
			return n;
	}
	return 0;
}
