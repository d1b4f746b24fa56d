/* SPDX-License-Identifier: ISC */
/*
 * ctls_mbed.c: the client's TLS backend on mbed TLS 2.28 (ctls.h), for the
 * static clients: about a third of OpenSSL's size (README "Clients for
 * other machines").  Debian's mbed TLS 2.28 has no TLS 1.3, so these
 * clients speak TLS 1.2 with ECDHE and AEAD suites only, which the master
 * accepts from them (common/tls.c); everything else matches the OpenSSL
 * client: CA file + host name, or a pinned sha256 of the leaf's DER, or
 * both; a client certificate; ALPN; no session tickets, no renegotiation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "ctls_mbed.h"
#include "frame.h"
#include "xmalloc.h"

/* Debian's CA bundle (ca-certificates), the system store of this build. */
#define CTLS_SYSTEM_CA	"/etc/ssl/certs/ca-certificates.crt"

struct ctls_ctx {
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt	 ca;	/* trusted CAs; empty with a pin only */
	mbedtls_x509_crt	 own;	/* client certificate chain (mutual TLS) */
	mbedtls_pk_context	 key;
	int			 have_ca, have_fp, have_own;
	char			 fp[TLS_FP_LEN];
};

/* TLS 1.2, forward secret and AEAD only (what the master accepts). */
static const int ctls_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	0
};

/* The library and version, for -V. */
const char *
ctls_library(void)
{
	return "mbed TLS " MBEDTLS_VERSION_STRING;
}

/* An mbed TLS error as text. */
static const char *
ctls_strerror(int e, char *buf, size_t len)
{
	mbedtls_strerror(e, buf, len);
	return buf;
}

/* Frees a context. */
void
ctls_ctx_free(struct ctls_ctx *x)
{
	if (x == NULL)
		return;
	mbedtls_x509_crt_free(&x->ca);
	mbedtls_x509_crt_free(&x->own);
	mbedtls_pk_free(&x->key);
	mbedtls_ctr_drbg_free(&x->drbg);
	mbedtls_entropy_free(&x->entropy);
	free(x);
}

/* A client context that checks the server as o says. */
struct ctls_ctx *
ctls_ctx_new(const struct tls_client_opts *o, char *err, size_t errlen)
{
	struct ctls_ctx	*x = xcalloc(1, sizeof(*x));
	const char	*ca = o->ca_file != NULL && o->ca_file[0] != '\0' ?
			    o->ca_file : NULL;
	char		 e[160];
	int		 r;

	mbedtls_entropy_init(&x->entropy);
	mbedtls_ctr_drbg_init(&x->drbg);
	mbedtls_x509_crt_init(&x->ca);
	mbedtls_x509_crt_init(&x->own);
	mbedtls_pk_init(&x->key);
	/* getrandom(2) first: works in an empty root without /dev. */
	if ((r = mbedtls_ctr_drbg_seed(&x->drbg, mbedtls_entropy_func,
	    &x->entropy, (const unsigned char *)"gotunnel-client", 15)) != 0) {
		snprintf(err, errlen, "TLS random generator: %s",
		    ctls_strerror(r, e, sizeof(e)));
		goto fail;
	}
	x->have_fp = o->fingerprint != NULL && o->fingerprint[0] != '\0';
	if (x->have_fp)
		snprintf(x->fp, sizeof(x->fp), "%s", o->fingerprint);
	if (ca == NULL && !x->have_fp)
		ca = CTLS_SYSTEM_CA;
	if (ca != NULL) {
		/* > 0: some certificates of the file did not parse. */
		if ((r = mbedtls_x509_crt_parse_file(&x->ca, ca)) != 0) {
			snprintf(err, errlen, "%s %s: %s", ca == o->ca_file ?
			    "tls_trusted_ca_file" : "system CA store", ca,
			    r > 0 ? "not every certificate parses" :
			    ctls_strerror(r, e, sizeof(e)));
			goto fail;
		}
		x->have_ca = 1;
	}
	if (o->cert_file != NULL && o->cert_file[0] != '\0') {
		if ((r = mbedtls_x509_crt_parse_file(&x->own, o->cert_file)) != 0 ||
		    (r = mbedtls_pk_parse_keyfile(&x->key, o->key_file, NULL)) != 0) {
			snprintf(err, errlen, "tls_cert_file/tls_key_file %s: %s",
			    o->cert_file, r > 0 ? "not every certificate parses" :
			    ctls_strerror(r, e, sizeof(e)));
			goto fail;
		}
		if (mbedtls_pk_check_pair(&x->own.pk, &x->key) != 0) {
			snprintf(err, errlen, "tls_key_file %s does not match "
			    "tls_cert_file %s", o->key_file, o->cert_file);
			goto fail;
		}
		x->have_own = 1;
	}
	return x;
fail:
	ctls_ctx_free(x);
	return NULL;
}

/* True if s is an IPv4 or IPv6 address; its bytes go to out. */
static int
ctls_ip(const char *s, unsigned char out[16], size_t *len)
{
	if (inet_pton(AF_INET, s, out) == 1) {
		*len = 4;
		return 1;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*len = 16;
		return 1;
	}
	return 0;
}

/*
 * True if the certificate lists ip as an iPAddress subjectAltName.  mbed
 * TLS 2.28 checks DNS names only, so the OpenSSL client's IP check is
 * done here: walk the v3 extensions to subjectAltName's [7] entries.
 */
static int
ctls_san_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip,
    size_t iplen)
{
	unsigned char	*p = crt->v3_ext.p, *end, *ext_end, *seq_end;
	size_t		 len;
	int		 crit;
	mbedtls_x509_buf oid;

	if (p == NULL)
		return 0;
	end = p + crt->v3_ext.len;
	/* [3] { SEQUENCE OF Extension }: v3_ext starts at the SEQUENCE. */
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE) != 0)
		return 0;
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED |
		    MBEDTLS_ASN1_SEQUENCE) != 0)
			return 0;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len,
		    MBEDTLS_ASN1_OID) != 0)
			return 0;
		oid.p = p;
		p += oid.len;
		crit = 0;
		(void)mbedtls_asn1_get_bool(&p, ext_end, &crit);
		if (mbedtls_asn1_get_tag(&p, ext_end, &len,
		    MBEDTLS_ASN1_OCTET_STRING) != 0)
			return 0;
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) != 0) {
			p = ext_end;
			continue;
		}
		if (mbedtls_asn1_get_tag(&p, ext_end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return 0;
		seq_end = p + len;
		while (p < seq_end) {
			unsigned char tag = *p++;

			if (mbedtls_asn1_get_len(&p, seq_end, &len) != 0)
				return 0;
			if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
			    len == iplen && memcmp(p, ip, iplen) == 0)
				return 1;
			p += len;
		}
		return 0;
	}
	return 0;
}

/*
 * Certificate check, called for each certificate of the chain: with a
 * pin, the leaf's fingerprint decides (and the chain too if a CA file is
 * also set); with an address for a name, the leaf must list it.  A pin
 * mismatch is remembered so the caller can say what the server presented.
 */
static int
ctls_verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct ctls	*c = arg;
	struct ctls_ctx	*x = c->ctx;
	unsigned char	 md[32], ip[16];
	size_t		 iplen;
	unsigned	 diff = 0;

	if (depth == 0 && x->have_ca && ctls_ip(c->name, ip, &iplen) &&
	    !ctls_san_has_ip(crt, ip, iplen))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	if (!x->have_fp)
		return 0;
	if (depth > 0) {
		if (!x->have_ca)
			*flags = 0;
		return 0;
	}
	if (mbedtls_sha256_ret(crt->raw.p, crt->raw.len, md, 0) != 0)
		return MBEDTLS_ERR_X509_FATAL_ERROR;
	memcpy(c->got, "sha256:", 7);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(c->got + 7 + 2 * i, 3, "%02x", md[i]);
	/* Constant time over the hex, like the OpenSSL client. */
	for (size_t i = 0; i < TLS_FP_LEN - 1; i++)
		diff |= (unsigned char)c->got[i] ^ (unsigned char)x->fp[i];
	if (diff == 0) {
		if (!x->have_ca)
			*flags = 0;
		return 0;
	}
	c->pin_bad = 1;
	*flags |= MBEDTLS_X509_BADCERT_OTHER;
	return 0;
}

/* BIO send: the socket itself, or the bufferevent that carries it. */
static int
ctls_bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct ctls	*c = arg;
	ssize_t		 n;

	if (c->under != NULL)
		return ctls_mbed_bev_send(c, buf, len);
	if ((n = send(c->fd, buf, len, MSG_NOSIGNAL)) >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return errno == ECONNRESET || errno == EPIPE ?
	    MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

/* BIO receive, likewise; 0 is the TCP end. */
static int
ctls_bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct ctls	*c = arg;
	ssize_t		 n;

	if (c->under != NULL)
		return ctls_mbed_bev_recv(c, buf, len);
	if ((n = recv(c->fd, buf, len, 0)) >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET :
	    MBEDTLS_ERR_NET_RECV_FAILED;
}

/* A client connection on fd to a master named sni, offering alpn. */
struct ctls *
ctls_new(struct ctls_ctx *x, int fd, const char *sni, const char *alpn)
{
	struct ctls	*c;
	unsigned char	 ip[16];
	size_t		 iplen;

	if (strlen(alpn) >= sizeof(c->alpn) || strlen(sni) >= sizeof(c->name))
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->ctx = x;
	c->fd = fd;
	snprintf(c->alpn, sizeof(c->alpn), "%s", alpn);
	snprintf(c->name, sizeof(c->name), "%s", sni);
	c->alpn_list[0] = c->alpn;
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		goto fail;
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&c->conf, ctls_suites);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &x->drbg);
	/* Required always: with a pin only, ctls_verify_cb() vouches for the
	 * leaf (the CA list is then empty). */
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &x->ca, NULL);
	mbedtls_ssl_conf_session_tickets(&c->conf,
	    MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	if (x->have_own && mbedtls_ssl_conf_own_cert(&c->conf, &x->own,
	    &x->key) != 0)
		goto fail;
	if (mbedtls_ssl_conf_alpn_protocols(&c->conf, c->alpn_list) != 0 ||
	    mbedtls_ssl_setup(&c->ssl, &c->conf) != 0)
		goto fail;
	/* Names get SNI and the certificate name check; addresses no SNI
	 * (RFC 6066) and the iPAddress check of ctls_verify_cb(). */
	if (!ctls_ip(sni, ip, &iplen) &&
	    mbedtls_ssl_set_hostname(&c->ssl, sni) != 0)
		goto fail;
	mbedtls_ssl_set_verify(&c->ssl, ctls_verify_cb, c);
	mbedtls_ssl_set_bio(&c->ssl, c, ctls_bio_send, ctls_bio_recv, NULL);
	return c;
fail:
	ctls_free(c);
	return NULL;
}

/* Frees a connection (not its socket). */
void
ctls_free(struct ctls *c)
{
	if (c == NULL)
		return;
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_config_free(&c->conf);
	free(c);
}

/* Maps an mbed TLS return to a tls_io (remembering a failure). */
static enum tls_io
ctls_io(struct ctls *c, int r)
{
	switch (r) {
	case MBEDTLS_ERR_SSL_WANT_READ:
		return TLS_IO_WANT_READ;
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
		return TLS_IO_EOF;	/* close_notify: a clean end */
	case 0:				/* TCP end without close_notify */
		c->err = MBEDTLS_ERR_SSL_CONN_EOF;
		return TLS_IO_ERROR;
	default:
		c->err = r;
		return TLS_IO_ERROR;
	}
}

/* One non-blocking handshake step. */
enum tls_io
ctls_handshake(struct ctls *c)
{
	int r = mbedtls_ssl_handshake(&c->ssl);

	if (r == 0) {
		c->hs_done = 1;
		return TLS_IO_OK;
	}
	return ctls_io(c, r);
}

/* The protocol version in use ("TLSv1.2"). */
const char *
ctls_version(struct ctls *c)
{
	return mbedtls_ssl_get_version(&c->ssl);
}

/* Why c failed: pin, chain, or other (bev: unused, c holds the error). */
enum ctls_fail
ctls_failure(struct ctls *c, struct bufferevent *bev, char *detail, size_t len)
{
	uint32_t flags;

	if (c == NULL) {
		snprintf(detail, len, "unknown error");
		return CTLS_FAIL_NONE;
	}
	if (c->pin_bad) {
		snprintf(detail, len, "%s", c->got);
		return CTLS_FAIL_PIN;
	}
	if (c->err == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED &&
	    (flags = mbedtls_ssl_get_verify_result(&c->ssl)) != 0) {
		char *nl;

		mbedtls_x509_crt_verify_info(detail, len, "", flags);
		while ((nl = strchr(detail, '\n')) != NULL)
			*nl = nl[1] == '\0' ? '\0' : ';';
		return CTLS_FAIL_VERIFY;
	}
	if (c->err == 0) {
		snprintf(detail, len, "unknown error");
		return CTLS_FAIL_NONE;
	}
	if (c->err == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && c->ssl.in_msg != NULL) {
		/* mbed TLS keeps the alert in the record it just read. */
		snprintf(detail, len, "the server sent alert %u%s", c->ssl.in_msg[1],
		    c->ssl.in_msg[1] == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE ?
		    " (handshake failure: a client certificate it requires, or "
		    "no TLS 1.2 suite in common)" : "");
		c->err = 0;
		return CTLS_FAIL_OTHER;
	}
	ctls_strerror(c->err, detail, len);
	c->err = 0;
	return CTLS_FAIL_OTHER;
}

/* A read function for hsread_step_io(): read(2) semantics. */
ssize_t
ctls_read_fn(void *arg, void *buf, size_t len)
{
	struct ctls	*c = arg;
	int		 r = mbedtls_ssl_read(&c->ssl, buf, len > 65536 ? 65536 : len);

	if (r > 0)
		return r;
	switch (ctls_io(c, r)) {
	case TLS_IO_WANT_READ:
	case TLS_IO_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case TLS_IO_EOF:
		return 0;
	default:
		if (c->err == MBEDTLS_ERR_SSL_CONN_EOF)
			return 0;	/* the server dropped a pooled connection */
		errno = EIO;
		return -1;
	}
}

/* Writes one whole frame on a fresh connection; -1 if it did not fit. */
int
ctls_send_frame(struct ctls *c, const char *json, size_t len)
{
	unsigned char	*buf;
	size_t		 off = 0, n = FRAME_HDR + len;
	enum tls_io	 io;
	ssize_t		 w;

	if (len > FRAME_MAX)
		return -1;
	buf = xmalloc(n);
	frame_put_header(buf, len);
	memcpy(buf + FRAME_HDR, json, len);
	/* A frame is at most five records; the socket buffer of a fresh
	 * connection takes them, so WANT_WRITE is a failure here too. */
	while (off < n && (w = ctls_mbed_write(c, buf + off, n - off, &io)) > 0)
		off += (size_t)w;
	free(buf);
	return off == n ? 0 : -1;
}

/* Takes up to len bytes already decrypted inside c (before a hand-over). */
size_t
ctls_take_pending(struct ctls *c, char *buf, size_t len)
{
	size_t	n = 0;
	int	r;

	while (mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 && n < len) {
		if ((r = mbedtls_ssl_read(&c->ssl, (unsigned char *)buf + n,
		    len - n)) <= 0)
			break;
		n += (size_t)r;
	}
	return n;
}

/* tls_io_ops.read for the relay. */
static ssize_t
ctls_op_read(void *conn, void *buf, size_t len, enum tls_io *io)
{
	struct ctls	*c = conn;
	int		 r = mbedtls_ssl_read(&c->ssl, buf, len > 1 << 30 ?
			    1 << 30 : len);

	if (r > 0)
		return r;
	*io = ctls_io(c, r);
	return -1;
}

/*
 * Encrypts up to one record of buf.  After WANT_WRITE mbed TLS must be
 * called again with the same length (it has the record already and
 * answers with that length once sent), so that length is remembered.
 */
ssize_t
ctls_mbed_write(struct ctls *c, const void *buf, size_t len, enum tls_io *io)
{
	size_t	max = (size_t)mbedtls_ssl_get_max_out_record_payload(&c->ssl);
	int	r;

	if (c->wpending > 0)
		len = c->wpending;	/* the caller still holds these bytes */
	else if (len > max)
		len = max;
	r = mbedtls_ssl_write(&c->ssl, buf, len);
	if (r > 0) {
		c->wpending = 0;
		return r;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE)
		c->wpending = len;
	*io = ctls_io(c, r);
	return -1;
}

/* tls_io_ops.write for the relay. */
static ssize_t
ctls_op_write(void *conn, const void *buf, size_t len, enum tls_io *io)
{
	return ctls_mbed_write(conn, buf, len, io);
}

/* tls_io_ops.shutdown: sends close_notify. */
static enum tls_io
ctls_op_shutdown(void *conn)
{
	struct ctls	*c = conn;
	int		 r = mbedtls_ssl_close_notify(&c->ssl);

	if (r == 0)
		return TLS_IO_OK;
	return ctls_io(c, r) == TLS_IO_WANT_WRITE ? TLS_IO_WANT_WRITE :
	    TLS_IO_ERROR;
}

/* tls_io_ops.error: the last failure as text. */
static const char *
ctls_op_error(void *conn, char *buf, size_t len)
{
	struct ctls *c = conn;

	return ctls_strerror(c->err, buf, len);
}

/* tls_io_ops.free. */
static void
ctls_op_free(void *conn)
{
	ctls_free(conn);
}

/* tls_io_ops.pending: a record (or its rest) already read from the socket. */
static int
ctls_op_pending(void *conn)
{
	struct ctls *c = conn;

	return mbedtls_ssl_check_pending(&c->ssl);
}

static const struct tls_io_ops ctls_mbed_ops = {
	ctls_op_read, ctls_op_write, ctls_op_shutdown, ctls_op_error,
	ctls_op_free, ctls_op_pending,
	NULL, NULL		/* flush, unflushed: writes go straight out */
};

/* The bounded relay plain_fd <-> c on fd; takes both sockets and c. */
struct relay *
ctls_relay_new(struct event_base *base, int plain_fd, int fd, struct ctls *c,
    relay_done_fn fn, void *arg)
{
	return relay_new_tlsio(base, plain_fd, fd, &ctls_mbed_ops, c, fn, arg);
}
