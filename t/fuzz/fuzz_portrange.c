/* SPDX-License-Identifier: ISC */
/*
 * fuzz_portrange.c: allow_ports lists (portrange_parse).  An accepted
 * list has 1..64 ranges with lo <= hi; every nth port lies in the list;
 * the list printed back as text parses to the same ranges.
 */
#include <stdio.h>

#include "fuzz.h"
#include "portrange.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct portrange	 pr, back;
	static char		 text[PORTRANGE_MAX * 12 + 1];
	const char		*err = NULL;
	char			*s;
	size_t			 off = 0;
	uint32_t		 count;

	if (size > 4096)
		return 0;
	s = fuzz_cstr(data, size);
	if (portrange_parse(s, &pr, &err) == -1) {
		CHECK(err != NULL && err[0] != '\0');
		free(s);
		return 0;
	}
	free(s);
	CHECK(pr.n >= 1 && pr.n <= PORTRANGE_MAX);
	for (size_t i = 0; i < pr.n; i++) {
		CHECK(pr.lo[i] >= 1 && pr.lo[i] <= pr.hi[i]);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%u-%u",
		    i ? "," : "", pr.lo[i], pr.hi[i]);
	}
	count = portrange_count(&pr);
	CHECK(count >= pr.n && count <= (uint32_t)PORTRANGE_MAX * 65535);
	/* The first, last and a few inner ports are all in the list. */
	for (uint32_t k = 0; k < 8; k++) {
		uint32_t i = k == 7 ? count - 1 : (uint32_t)(count / 7 * k);
		uint16_t p = portrange_nth(&pr, i);

		CHECK(p != 0 && portrange_contains(&pr, p));
	}
	CHECK(portrange_nth(&pr, count) == 0);
	CHECK(portrange_parse(text, &back, &err) == 0);
	CHECK(back.n == pr.n);
	CHECK(memcmp(back.lo, pr.lo, sizeof(pr.lo)) == 0);
	CHECK(memcmp(back.hi, pr.hi, sizeof(pr.hi)) == 0);
	return 0;
}
