/* SPDX-License-Identifier: ISC */
/*
 * tlsaccept.c: the TLS start of connections on bind_port.  Before any
 * byte is consumed the worker peeks at the first record: clear text is
 * refused with a clear error (or accepted with allow_plaintext), and a
 * data connection whose ALPN names another worker ("gotunnel-data/N") is
 * handed to that worker while its TLS state can still move (an OpenSSL
 * session cannot cross processes; a socket nobody has read from can).
 * Then the handshake runs here, without blocking the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "frame.h"
#include "log.h"
#include "server.h"
#include "tls.h"

#define PEEK_MAX	(16384 + 5 + 256)	/* one TLS record */

/* Loads the worker's server context (NULL with err when TLS is off or bad). */
SSL_CTX *
tlsaccept_ctx_load(const struct server_config *c, char *err, size_t errlen)
{
	err[0] = '\0';
	if (c->tls_cert_file[0] == '\0')
		return NULL;
	return tls_server_ctx_new(c->tls_cert_file, c->tls_key_file,
	    c->tls_client_ca_file, strcmp(c->tls_min_version, "1.2") == 0,
	    err, errlen);
}

/* The worker index a data connection's ALPN names, or -1. */
static int
alpn_owner(const char *alpn)
{
	size_t	 n = strlen(TLS_ALPN_DATA);
	char	*end;
	long	 k;

	if (strncmp(alpn, TLS_ALPN_DATA, n) != 0)
		return -1;
	k = strtol(alpn + n, &end, 10);
	if (end == alpn + n || *end != '\0' || k < 0 || k >= W->nworkers)
		return -1;
	return (int)k;
}

/* Looks at the first record without reading it; decides who handles it. */
static enum ta_result
tlsaccept_peek(struct pending *p, short *wait)
{
	unsigned char		buf[PEEK_MAX];
	struct tls_hello	h;
	struct mesh_msg		mm;
	ssize_t			n;
	int			owner;

	n = recv(p->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		log_debug("connection from %s closed before TLS", p->addr);
		pending_free(p, 1);
		return TA_GONE;
	}
	if (n == -1) {
		*wait = EV_READ;
		return TA_AGAIN;
	}
	switch (tls_hello_parse(buf, (size_t)n, &h)) {
	case TLS_PEEK_NOT_TLS:
		if (W->conf.allow_plaintext) {
			p->tls_stage = TS_PLAIN;
			return TA_READY;
		}
		worker_reject(p->fd, p->addr, "this server accepts TLS "
		    "connections only (set tls_enable = true, or "
		    "server_fingerprint, in the client's [common])");
		pending_free(p, 0);
		return TA_GONE;
	case TLS_PEEK_MORE:
		if ((size_t)n < sizeof(buf)) {
			/* The rest of the ClientHello is on its way.  What came
			 * stays readable, so wait edge-triggered for more bytes
			 * rather than spin (REGISTER_TIMEOUT bounds the wait). */
			*wait = EV_READ | EV_ET;
			return TA_AGAIN;
		}
		break;
	case TLS_PEEK_OK:
		owner = p->steered ? -1 : alpn_owner(h.alpn);
		if (owner != -1 && owner != W->index) {
			int fd = p->fd;

			memset(&mm, 0, sizeof(mm));
			mm.type = MESH_TLS_CONN;
			snprintf(mm.id, sizeof(mm.id), "%s", p->addr);
			/* Out of our epoll set before it leaves: once sent,
			 * closing our copy would not remove it (the socket
			 * lives on in the owner), and its bytes would wake
			 * this worker for ever. */
			pending_free(p, 0);
			worker_send_mesh(owner, &mm, fd);	/* takes fd */
			return TA_GONE;
		}
		break;
	case TLS_PEEK_BAD:
		break;		/* OpenSSL will say what is wrong with it */
	}
	if ((p->ssl = SSL_new(W->tls_ctx)) == NULL || SSL_set_fd(p->ssl, p->fd) != 1) {
		log_warnx("connection from %s: cannot start TLS", p->addr);
		pending_free(p, 1);
		return TA_GONE;
	}
	SSL_set_accept_state(p->ssl);
	p->tls_stage = TS_HANDSHAKE;
	return TA_READY;
}

/* Advances a pending connection's TLS start; *wait: the event to wait for. */
enum ta_result
tlsaccept_step(struct pending *p, short *wait)
{
	char	e[256];
	int	r;

	if (p->tls_stage == TS_PEEK) {
		enum ta_result res = tlsaccept_peek(p, wait);

		if (res != TA_READY || p->tls_stage == TS_PLAIN)
			return res;
	}
	if (p->tls_stage != TS_HANDSHAKE)
		return TA_READY;
	if ((r = SSL_do_handshake(p->ssl)) == 1) {
		p->tls_stage = TS_READY;
		log_debug("connection from %s: %s with %s", p->addr,
		    SSL_get_version(p->ssl), SSL_get_cipher_name(p->ssl));
		return TA_READY;
	}
	switch (tls_result(p->ssl, r)) {
	case TLS_IO_WANT_READ:
		*wait = EV_READ;
		return TA_AGAIN;
	case TLS_IO_WANT_WRITE:
		*wait = EV_WRITE;
		return TA_AGAIN;
	default:
		log_info("connection from %s refused: TLS handshake failed: %s",
		    p->addr, tls_error_string(e, sizeof(e)));
		/* Let the alert OpenSSL sent reach the client (e.g. "certificate
		 * required"): closing with its register unread would reset it. */
		SSL_free(p->ssl);
		p->ssl = NULL;
		net_linger_close(W->base, p->fd);
		pending_free(p, 0);
		return TA_GONE;
	}
}

/*
 * The control session's bufferevent over an established TLS connection.
 * OpenSSL may already hold decrypted bytes after the first frame (the
 * next register in the same record); libevent would only look at them
 * when the socket wakes again, so they are moved into the input now.
 */
struct bufferevent *
tlsaccept_session_bev(struct pending *p)
{
	struct bufferevent	*bev;
	char			 pend[16384];
	size_t			 n = 0;
	int			 r;

	while (SSL_pending(p->ssl) > 0 && n < sizeof(pend)) {
		if ((r = SSL_read(p->ssl, pend + n, (int)(sizeof(pend) - n))) <= 0)
			break;
		n += (size_t)r;
	}
	ERR_clear_error();
	bev = bufferevent_openssl_socket_new(W->base, p->fd, p->ssl,
	    BUFFEREVENT_SSL_OPEN, 0);
	if (bev == NULL)
		return NULL;
	/* A client that vanishes without close_notify is an EOF, not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if (n > 0)
		evbuffer_add(bufferevent_get_input(bev), pend, n);
	return bev;
}

/* Pushes a closing TLS session's last words out, then frees its TLS state. */
void
tlsaccept_session_close(struct bufferevent *bev, SSL *ssl)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	size_t		 len = evbuffer_get_length(out);

	/* Best effort: the socket is usually empty and takes it at once. */
	if (len > 0 && len < 1024 * 1024)
		(void)SSL_write(ssl, evbuffer_pullup(out, -1), (int)len);
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
	bufferevent_free(bev);		/* without CLOSE_ON_FREE: ssl is ours */
	SSL_free(ssl);
}
