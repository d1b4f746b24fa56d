/* SPDX-License-Identifier: ISC */
/*
 * fuzz_tls_hello.c: the ClientHello peek (tls_hello_parse), fed bytes a
 * stranger sends before any TLS library sees them, in a buffer of exactly
 * their size.  Names come out NUL-terminated; a prefix of a hello that
 * parses is "more" (never "bad"), and bytes after the record change
 * nothing.
 */
#include "fuzz.h"
#include "tls.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello	 full, half;
	enum tls_peek		 rf, rh;
	unsigned char		*buf;

	if (size > 20000)
		return 0;
	buf = malloc(size ? size : 1);
	CHECK(buf != NULL);
	memcpy(buf, data, size);
	rf = tls_hello_parse(buf, size, &full);
	CHECK(memchr(full.sni, '\0', sizeof(full.sni)) != NULL);
	CHECK(memchr(full.alpn, '\0', sizeof(full.alpn)) != NULL);
	rh = tls_hello_parse(buf, size / 2, &half);
	if (rf == TLS_PEEK_OK)
		CHECK(rh == TLS_PEEK_MORE || rh == TLS_PEEK_OK);
	if (rh == TLS_PEEK_OK) {
		CHECK(rf == TLS_PEEK_OK);
		CHECK(strcmp(full.sni, half.sni) == 0);
		CHECK(strcmp(full.alpn, half.alpn) == 0);
	}
	if (rf == TLS_PEEK_NOT_TLS && size / 2 > 0)
		CHECK(rh == TLS_PEEK_NOT_TLS);
	free(buf);
	return 0;
}
