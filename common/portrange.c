/* SPDX-License-Identifier: ISC */
/* portrange.c: parses and queries allow_ports. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "portrange.h"

/* Reads one port number 1..65535 at *p, advancing it. */
static int
parse_port(const char **p, uint16_t *out)
{
	unsigned long	 v = 0;
	int		 digits = 0;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	while (isdigit((unsigned char)**p) && digits < 6) {
		v = v * 10 + (unsigned long)(**p - '0');
		(*p)++;
		digits++;
	}
	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (digits == 0 || digits > 5 || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Parses "a-b,c,..."; an empty string means 1024-65535. */
int
portrange_parse(const char *s, struct portrange *pr, const char **err)
{
	const char *p = s;

	memset(pr, 0, sizeof(*pr));
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		pr->n = 1;
		pr->lo[0] = 1024;
		pr->hi[0] = 65535;
		return 0;
	}
	for (;;) {
		uint16_t lo, hi;

		if (parse_port(&p, &lo) == -1) {
			*err = "bad port number (expected 1-65535)";
			return -1;
		}
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_port(&p, &hi) == -1) {
				*err = "bad port number (expected 1-65535)";
				return -1;
			}
			if (hi < lo) {
				*err = "port range ends before it starts";
				return -1;
			}
		}
		if (pr->n == PORTRANGE_MAX) {
			*err = "too many port ranges (limit 64)";
			return -1;
		}
		pr->lo[pr->n] = lo;
		pr->hi[pr->n] = hi;
		pr->n++;
		if (*p == '\0')
			return 0;
		if (*p != ',') {
			*err = "expected ',' between port ranges";
			return -1;
		}
		p++;
	}
}

/* Tells whether port lies in one of the ranges. */
int
portrange_contains(const struct portrange *pr, uint16_t port)
{
	for (size_t i = 0; i < pr->n; i++)
		if (port >= pr->lo[i] && port <= pr->hi[i])
			return 1;
	return 0;
}

/* Counts the ports of all ranges (overlaps counted twice). */
uint32_t
portrange_count(const struct portrange *pr)
{
	uint32_t n = 0;

	for (size_t i = 0; i < pr->n; i++)
		n += (uint32_t)(pr->hi[i] - pr->lo[i]) + 1;
	return n;
}

/* Returns the i-th port (0-based) of the concatenated ranges. */
uint16_t
portrange_nth(const struct portrange *pr, uint32_t i)
{
	for (size_t r = 0; r < pr->n; r++) {
		uint32_t len = (uint32_t)(pr->hi[r] - pr->lo[r]) + 1;

		if (i < len)
			return (uint16_t)(pr->lo[r] + i);
		i -= len;
	}
	return 0;
}
