/* SPDX-License-Identifier: ISC */
/*
 * fuzz_cidr.c: source-address lists (cidr_list_parse, cidr_list_match).
 * A list is accepted with 0..CIDR_MAX entries, each a valid family and
 * prefix with its host bits cleared, or refused with a message; every
 * entry's own network address matches the list.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cidr_list	 l;
	char			 err[256];
	char			*s;

	if (size > CIDR_STR_MAX * 2)
		return 0;
	s = fuzz_cstr(data, size);
	err[0] = '\0';
	if (cidr_list_parse(s, &l, err, sizeof(err)) == -1) {
		CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		free(s);
		return 0;
	}
	free(s);
	CHECK(l.n <= CIDR_MAX);
	for (size_t i = 0; i < l.n; i++) {
		const struct cidr	*c = &l.v[i];
		struct sockaddr_in	 a4;
		struct sockaddr_in6	 a6;

		CHECK(c->family == AF_INET || c->family == AF_INET6);
		CHECK(c->bits <= (c->family == AF_INET ? 32 : 128));
		for (unsigned b = c->bits; b < (c->family == AF_INET ? 32u : 128u); b++)
			CHECK((c->addr[b / 8] & (0x80 >> (b % 8))) == 0);
		if (c->family == AF_INET) {
			memset(&a4, 0, sizeof(a4));
			a4.sin_family = AF_INET;
			memcpy(&a4.sin_addr, c->addr, 4);
			CHECK(cidr_list_match(&l, (struct sockaddr *)&a4));
		} else {
			memset(&a6, 0, sizeof(a6));
			a6.sin6_family = AF_INET6;
			memcpy(&a6.sin6_addr, c->addr, 16);
			CHECK(cidr_list_match(&l, (struct sockaddr *)&a6));
		}
	}
	return 0;
}
