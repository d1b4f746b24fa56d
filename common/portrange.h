/* SPDX-License-Identifier: ISC */
/* portrange.h: allow_ports lists such as "10000-20000,30000". */
#ifndef GOTUNNEL_PORTRANGE_H
#define GOTUNNEL_PORTRANGE_H

#include <stddef.h>
#include <stdint.h>

#define PORTRANGE_MAX	64

struct portrange {
	size_t		n;
	uint16_t	lo[PORTRANGE_MAX];
	uint16_t	hi[PORTRANGE_MAX];
};

int		portrange_parse(const char *, struct portrange *, const char **err);
int		portrange_contains(const struct portrange *, uint16_t);
uint32_t	portrange_count(const struct portrange *);
uint16_t	portrange_nth(const struct portrange *, uint32_t);

#endif
