/* SPDX-License-Identifier: ISC */
/* check_tls.c: ClientHello peeking (tls_hello.c), fingerprints and the
 * self-signed certificate of `gotunnelctl cert init` (tls.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "suites.h"
#include "tls.h"

/* A real ClientHello from OpenSSL with the given SNI and ALPN; returns its length. */
static size_t
make_hello(unsigned char *out, size_t cap, const char *sni, const char *alpn)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_client_method());
	SSL	*ssl = SSL_new(ctx);
	BIO	*rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	int	 n;

	SSL_set_bio(ssl, rb, wb);
	ck_assert_int_eq(tls_client_prepare(ssl, sni, alpn), 0);
	SSL_set_connect_state(ssl);
	ck_assert_int_eq(SSL_do_handshake(ssl), -1);	/* waits for the server */
	n = BIO_read(wb, out, (int)cap);
	ck_assert_int_gt(n, 100);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return (size_t)n;
}

/* SNI and ALPN come out of a ClientHello made by OpenSSL itself. */
START_TEST(test_hello_sni_alpn)
{
	unsigned char		buf[4096];
	struct tls_hello	h;
	size_t			n = make_hello(buf, sizeof(buf),
				    "tunnel.example.org", "gotunnel-data/3");

	ck_assert_int_eq(tls_hello_parse(buf, n, &h), TLS_PEEK_OK);
	ck_assert_str_eq(h.sni, "tunnel.example.org");
	ck_assert_str_eq(h.alpn, "gotunnel-data/3");
	/* An address is not sent as SNI (RFC 6066). */
	n = make_hello(buf, sizeof(buf), "127.0.0.1", "gotunnel");
	ck_assert_int_eq(tls_hello_parse(buf, n, &h), TLS_PEEK_OK);
	ck_assert_str_eq(h.sni, "");
	ck_assert_str_eq(h.alpn, "gotunnel");
}
END_TEST

/* Every cut-short prefix asks for more; never OK, never a crash. */
START_TEST(test_hello_prefixes)
{
	unsigned char		buf[4096];
	struct tls_hello	h;
	size_t			n = make_hello(buf, sizeof(buf), "a.example", "x");

	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(tls_hello_parse(buf, i, &h), TLS_PEEK_MORE);
}
END_TEST

/* Clear text and other records are told apart from the first bytes. */
START_TEST(test_hello_not_tls)
{
	struct tls_hello	h;
	const unsigned char	frame[] = "\x00\x00\x00\x10{\"type\":\"x\"}";
	const unsigned char	get[] = "GET / HTTP/1.1\r\n";
	const unsigned char	v4[] = "\x16\x04\x00\x00\x10";
	const unsigned char	big[] = "\x16\x03\x01\xff\xff";

	ck_assert_int_eq(tls_hello_parse(frame, sizeof(frame) - 1, &h), TLS_PEEK_NOT_TLS);
	ck_assert_int_eq(tls_hello_parse(get, sizeof(get) - 1, &h), TLS_PEEK_NOT_TLS);
	ck_assert_int_eq(tls_hello_parse(v4, sizeof(v4) - 1, &h), TLS_PEEK_BAD);
	ck_assert_int_eq(tls_hello_parse(big, sizeof(big) - 1, &h), TLS_PEEK_BAD);
}
END_TEST

/* Random corruption of a real hello: a defined answer, names printable. */
START_TEST(test_hello_mutations)
{
	unsigned char		orig[4096], buf[4096];
	struct tls_hello	h;
	size_t			n = make_hello(orig, sizeof(orig), "m.example", "gotunnel");
	unsigned		seed = 12345;

	for (int round = 0; round < 20000; round++) {
		enum tls_peek r;

		memcpy(buf, orig, n);
		for (int k = 0; k < 1 + round % 4; k++)
			buf[rand_r(&seed) % n] = (unsigned char)rand_r(&seed);
		r = tls_hello_parse(buf, n, &h);
		ck_assert(r == TLS_PEEK_OK || r == TLS_PEEK_MORE ||
		    r == TLS_PEEK_BAD || r == TLS_PEEK_NOT_TLS);
		for (const char *p = h.sni; *p; p++)
			ck_assert(*p > 0x20 && *p < 0x7f);
		ck_assert_uint_lt(strlen(h.alpn), sizeof(h.alpn));
	}
}
END_TEST

/* The pin format: sha256: and 64 lowercase hex digits, nothing else. */
START_TEST(test_fingerprint_valid)
{
	char good[80];

	snprintf(good, sizeof(good), "sha256:%064d", 0);
	ck_assert(tls_fingerprint_valid(good));
	good[10] = 'a';
	ck_assert(tls_fingerprint_valid(good));
	good[10] = 'A';
	ck_assert(!tls_fingerprint_valid(good));
	good[10] = ':';
	ck_assert(!tls_fingerprint_valid(good));
	ck_assert(!tls_fingerprint_valid("sha256:"));
	ck_assert(!tls_fingerprint_valid("sha1:0000"));
	ck_assert(!tls_fingerprint_valid(""));
	snprintf(good, sizeof(good), "sha256:%065d", 0);
	ck_assert(!tls_fingerprint_valid(good));
}
END_TEST

/* cert init's pair loads as a server context; its pin is sha256 of the DER. */
START_TEST(test_cert_create)
{
	char		 dir[] = "/tmp/gtcheck-tls-XXXXXX", cert[128], key[128];
	char		 fp[TLS_FP_LEN], want[TLS_FP_LEN], err[512];
	unsigned char	*der = NULL, md[32];
	unsigned int	 mdlen = 0;
	FILE		*f;
	X509		*x;
	SSL_CTX		*ctx;
	int		 len;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	snprintf(key, sizeof(key), "%s/k.pem", dir);
	ck_assert_int_eq(tls_cert_create(cert, key, "127.0.0.1", 30, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(tls_fp_file(cert, fp, err, sizeof(err)), 0);
	ck_assert(tls_fingerprint_valid(fp));
	ck_assert_ptr_nonnull(f = fopen(cert, "r"));
	ck_assert_ptr_nonnull(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_gt(len = i2d_X509(x, &der), 0);
	ck_assert_int_eq(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL), 1);
	memcpy(want, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++)
		snprintf(want + 7 + 2 * i, 3, "%02x", md[i]);
	ck_assert_str_eq(fp, want);
	OPENSSL_free(der);
	X509_free(x);
	ck_assert_ptr_nonnull(ctx = tls_server_ctx_new(cert, key, NULL, 1, err,
	    sizeof(err)));
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	SSL_CTX_free(ctx);
	/* tls_min_version = 1.3: nothing older. */
	ck_assert_ptr_nonnull(ctx = tls_server_ctx_new(cert, key, NULL, 0, err,
	    sizeof(err)));
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	SSL_CTX_free(ctx);
	/* A key of another pair is refused with a clear message. */
	snprintf(err, sizeof(err), "%s/c2.pem", dir);
	{
		char c2[128], k2[128];

		snprintf(c2, sizeof(c2), "%s/c2.pem", dir);
		snprintf(k2, sizeof(k2), "%s/k2.pem", dir);
		ck_assert_int_eq(tls_cert_create(c2, k2, "x.example", 1, err,
		    sizeof(err)), 0);
		ck_assert_ptr_null(tls_server_ctx_new(cert, k2, NULL, 1, err,
		    sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "does not match"));
		unlink(c2);
		unlink(k2);
	}
	ck_assert_int_eq(tls_fp_file("/nonexistent", fp, err,
	    sizeof(err)), -1);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}
END_TEST

Suite *
suite_tls(void)
{
	Suite	*s = suite_create("tls");
	TCase	*tc = tcase_create("tls");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hello_sni_alpn);
	tcase_add_test(tc, test_hello_prefixes);
	tcase_add_test(tc, test_hello_not_tls);
	tcase_add_test(tc, test_hello_mutations);
	tcase_add_test(tc, test_fingerprint_valid);
	tcase_add_test(tc, test_cert_create);
	suite_add_tcase(s, tc);
	return s;
}
