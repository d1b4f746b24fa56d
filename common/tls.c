/* SPDX-License-Identifier: ISC */
/*
 * tls.c: TLS contexts for control and data connections (OpenSSL): TLS 1.3,
 * and on the server also TLS 1.2 with forward-secret AEAD suites only,
 * server pinning by certificate fingerprint, non-blocking results, and
 * the self-signed certificate of `gotunnelctl cert init`.
 *
 * A client trusts the server by tls_trusted_ca_file (chain + host name),
 * by server_fingerprint (sha256 of the leaf's DER, so a self-hosted
 * server needs no CA), or both (then both must hold).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "frame.h"
#include "tls.h"

static int	ctx_fp_idx = -1;	/* SSL_CTX ex data: expected fingerprint */
static int	ssl_fp_idx = -1;	/* SSL ex data: presented one, on mismatch */

/* Frees an ex-data string with its owner. */
static void
ex_free_str(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	free(ptr);
}

/* Allocates the ex-data slots once. */
static void
tls_init_indexes(void)
{
	if (ctx_fp_idx == -1)
		ctx_fp_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    ex_free_str);
	if (ssl_fp_idx == -1)
		ssl_fp_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    ex_free_str);
}

/* The oldest queued OpenSSL error as text (or "unknown error"); clears the queue. */
const char *
tls_error_string(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* Options every context shares: TLS 1.3 (clients: only), small idle memory. */
static void
ctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	/* Idle pooled connections give their 34 KiB of record buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	/* AES-128-GCM first: the cheapest AEAD with AES instructions, and as
	 * strong as this use needs; ChaCha20 for CPUs without them. */
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
	    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384");
	/* No resumption is used (every connection pins the full certificate):
	 * session tickets would only cost CPU and memory per handshake. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

/*
 * A server context with the certificate, its key, and an optional client
 * CA; tls12 also admits TLS 1.2 clients (tls_min_version = 1.2).
 */
SSL_CTX *
tls_server_ctx_new(const char *cert, const char *key, const char *client_ca,
    int tls12, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	 e[256];

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "TLS context: %s", tls_error_string(e, sizeof(e)));
		return NULL;
	}
	ctx_common(ctx);
	/*
	 * The static clients (mbed TLS 2.28, README "Clients for other
	 * machines") speak TLS 1.2: accept it with ECDHE and AEAD suites only,
	 * no tickets.  TLS 1.3 clients still get 1.3 (its downgrade sentinel
	 * stops a forced 1.2), and OpenSSL clients ask for nothing less.
	 * tls_min_version = 1.3 keeps the master TLS 1.3 only.
	 */
	if (tls12)
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
		snprintf(err, errlen, "TLS 1.2 suites: %s",
		    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "tls_cert_file %s: %s", cert,
		    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) {
			snprintf(err, errlen, "tls_key_file %s does not match "
			    "tls_cert_file %s", key, cert);
			ERR_clear_error();
		} else
			snprintf(err, errlen, "tls_key_file %s: %s", key,
			    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls_key_file %s does not match "
		    "tls_cert_file %s", key, cert);
		ERR_clear_error();
		goto fail;
	}
	if (client_ca != NULL && client_ca[0] != '\0') {
		STACK_OF(X509_NAME) *names;

		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1 ||
		    (names = SSL_load_client_CA_file(client_ca)) == NULL) {
			snprintf(err, errlen, "tls_client_ca_file %s: %s",
			    client_ca, tls_error_string(e, sizeof(e)));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* What client_verify_cb checks, kept on the client context. */
struct verify_conf {
	int	have_ca;		/* the chain must verify too */
	char	fp[TLS_FP_LEN];		/* the pinned leaf fingerprint */
};

/*
 * Certificate check of a client context with a pinned fingerprint: the
 * leaf's fingerprint decides, and the chain too if a CA file is also set.
 * A mismatch is remembered on the SSL so the caller can say what it saw.
 */
static int
client_verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
	SSL			*ssl;
	const struct verify_conf *vc;
	char			 got[TLS_FP_LEN] = "";

	ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	vc = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_fp_idx);
	if (vc == NULL)
		return preverify_ok;
	if (X509_STORE_CTX_get_error_depth(xs) > 0)
		return vc->have_ca ? preverify_ok : 1;
	if (tls_fp_x509(X509_STORE_CTX_get_current_cert(xs), got) == 0 &&
	    CRYPTO_memcmp(got, vc->fp, TLS_FP_LEN - 1) == 0) {
		if (vc->have_ca && !preverify_ok)
			return 0;
		X509_STORE_CTX_set_error(xs, X509_V_OK);
		return 1;
	}
	free(SSL_get_ex_data(ssl, ssl_fp_idx));
	SSL_set_ex_data(ssl, ssl_fp_idx, strdup(got));
	X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/* A client context that checks the server as opts say (one of them is set). */
SSL_CTX *
tls_client_ctx_new(const struct tls_client_opts *o, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	 e[256];
	int	 have_ca = o->ca_file != NULL && o->ca_file[0] != '\0';
	int	 have_fp = o->fingerprint != NULL && o->fingerprint[0] != '\0';

	tls_init_indexes();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "TLS context: %s", tls_error_string(e, sizeof(e)));
		return NULL;
	}
	ctx_common(ctx);
	if (have_ca && SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
		snprintf(err, errlen, "tls_trusted_ca_file %s: %s", o->ca_file,
		    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	if (!have_ca && !have_fp && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "system CA store: %s",
		    tls_error_string(e, sizeof(e)));
		goto fail;
	}
	if (have_fp) {
		struct verify_conf *vc = calloc(1, sizeof(*vc));

		if (vc == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		vc->have_ca = have_ca;
		snprintf(vc->fp, sizeof(vc->fp), "%s", o->fingerprint);
		SSL_CTX_set_ex_data(ctx, ctx_fp_idx, vc);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, have_fp ? client_verify_cb : NULL);
	if (o->cert_file != NULL && o->cert_file[0] != '\0') {
		if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, o->key_file,
		    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
			snprintf(err, errlen, "tls_cert_file/tls_key_file %s: %s",
			    o->cert_file, tls_error_string(e, sizeof(e)));
			goto fail;
		}
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Sets SNI, host name check (with a CA) and ALPN on a new client SSL. */
int
tls_client_prepare(SSL *ssl, const char *server_name, const char *alpn)
{
	unsigned char	wire[64];
	size_t		n = strlen(alpn);
	struct in6_addr	a6;
	struct in_addr	a4;
	int		is_ip = inet_pton(AF_INET, server_name, &a4) == 1 ||
			    inet_pton(AF_INET6, server_name, &a6) == 1;

	if (n == 0 || n >= sizeof(wire))
		return -1;
	wire[0] = (unsigned char)n;
	memcpy(wire + 1, alpn, n);
	if (SSL_set_alpn_protos(ssl, wire, (unsigned)n + 1) != 0)
		return -1;
	if (is_ip) {
		/* No SNI for addresses (RFC 6066); the CA check matches the IP SAN. */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    server_name) != 1)
			return -1;
	} else {
		if (SSL_set_tlsext_host_name(ssl, server_name) != 1 ||
		    SSL_set1_host(ssl, server_name) != 1)
			return -1;
	}
	return 0;
}

/* After a failed handshake: 1 (and the presented key) if the pin did not match. */
int
tls_fp_mismatch(SSL *ssl, char presented[TLS_FP_LEN])
{
	const char *got = ssl_fp_idx == -1 ? NULL : SSL_get_ex_data(ssl, ssl_fp_idx);

	if (got == NULL)
		return 0;
	snprintf(presented, TLS_FP_LEN, "%s", got);
	return 1;
}

/* Classifies the return value of SSL_read/SSL_write/SSL_do_handshake. */
enum tls_io
tls_result(SSL *ssl, int ret)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_NONE:
		return TLS_IO_OK;
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_EOF;	/* close_notify: a clean end */
	case SSL_ERROR_SYSCALL:
		if (ret == 0 || errno == 0) {
			ERR_clear_error();
			return TLS_IO_ERROR;	/* TCP EOF without close_notify */
		}
		return TLS_IO_ERROR;
	default:
		return TLS_IO_ERROR;
	}
}

/* Writes one whole frame on a fresh TLS connection; -1 if it did not fit. */
int
tls_send_frame(SSL *ssl, const char *json, size_t len)
{
	unsigned char	buf[FRAME_HDR + FRAME_MAX];
	int		n;

	if (len > FRAME_MAX)
		return -1;
	frame_put_header(buf, len);
	memcpy(buf + FRAME_HDR, json, len);
	n = SSL_write(ssl, buf, (int)(FRAME_HDR + len));
	if (n != (int)(FRAME_HDR + len)) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* A read function for hsread_step_io(): read(2) semantics over SSL. */
ssize_t
tls_read_fn(void *arg, void *buf, size_t len)
{
	SSL	*ssl = arg;
	int	 n = SSL_read(ssl, buf, (int)(len > 65536 ? 65536 : len));

	if (n > 0)
		return n;
	switch (tls_result(ssl, n)) {
	case TLS_IO_WANT_READ:
	case TLS_IO_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case TLS_IO_EOF:
		return 0;
	default:
		ERR_clear_error();
		errno = EIO;
		return -1;
	}
}

/* Writes a PEM object to path with mode, refusing to follow or replace links. */
static int
write_pem(const char *path, mode_t mode, int is_key, EVP_PKEY *pk, X509 *x)
{
	FILE	*f;
	int	 fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	(void)fchmod(fd, mode);
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	ok = is_key ? PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_X509(f, x);
	if (fclose(f) != 0 || ok != 1)
		return -1;
	return 0;
}

/* Adds one v3 extension to a self-signed certificate. */
static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX	 v3;
	X509_EXTENSION	*ext;
	int		 ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* Makes a self-signed P-256 certificate for common_name, valid for days. */
int
tls_cert_create(const char *cert_path, const char *key_path,
    const char *common_name, int days, char *err, size_t errlen)
{
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	X509_NAME	*name;
	unsigned char	 serial[16];
	BIGNUM		*bn = NULL;
	char		 san[400], e[256];
	struct in6_addr	 a6;
	int		 rc = -1;

	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL) {
		snprintf(err, errlen, "key generation: %s",
		    tls_error_string(e, sizeof(e)));
		goto done;
	}
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_set_version(x, 2);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)common_name, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (inet_pton(AF_INET, common_name, &a6) == 1 ||
	    inet_pton(AF_INET6, common_name, &a6) == 1)
		snprintf(san, sizeof(san), "IP:%s", common_name);
	else
		snprintf(san, sizeof(san), "DNS:%s", common_name);
	if (add_ext(x, NID_subject_alt_name, san) == -1 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") == -1 ||
	    X509_sign(x, pk, EVP_sha256()) == 0) {
		snprintf(err, errlen, "certificate: %s",
		    tls_error_string(e, sizeof(e)));
		goto done;
	}
	if (write_pem(key_path, 0600, 1, pk, NULL) == -1) {
		snprintf(err, errlen, "%s: %s", key_path, strerror(errno));
		goto done;
	}
	if (write_pem(cert_path, 0644, 0, NULL, x) == -1) {
		snprintf(err, errlen, "%s: %s", cert_path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}
