/* SPDX-License-Identifier: ISC */
/*
 * tls.c: the launcher's TLS front end.  Debian's Kore 4.1.0 cannot serve
 * HTTPS with OpenSSL 3, so when [admin] tls_cert and tls_key are set the
 * launcher terminates TLS itself (libevent + OpenSSL) on bind_addr and
 * relays each connection to Kore on a private loopback port.
 *
 * Kore then sees every request coming from 127.0.0.1.  So that the login
 * throttle and the audit log still see the real client, the relay binds
 * its loopback socket first and writes "source port -> client address"
 * into a shared table (a file in the runtime directory, mapped by both
 * sides) before it connects; the module reads the table (admin_peer()).
 * Relays follow libevent's le-proxy idiom: a side whose peer's output
 * passes the high watermark stops reading until it drains.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "admin.h"

#define RELAY_HIGH_WM		(256 * 1024)
#define RELAY_MAX_CONNS		512
#define RELAY_HANDSHAKE_S	30

struct tls_front {
	struct event_base	*base;
	SSL_CTX			*ctx;
	struct evconnlistener	*lis;
	struct sockaddr_in	 backend;
	char			(*peers)[ADMIN_PEER_LEN];
	size_t			 nconns;
	pid_t			 child;
	int			 status;
	int			 stopping;	/* we passed on SIGTERM/SIGINT */
};

/* One client connection: bev[0] the TLS side, bev[1] the Kore side. */
struct relay {
	struct tls_front	*f;
	struct bufferevent	*bev[2];
	uint16_t		 port;		/* our source port towards Kore */
	int			 started;	/* the client has sent data */
};

/* Builds the server context from the PEM files; NULL with err set. */
static SSL_CTX *
tls_ctx_new(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	unsigned long	 e;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return ctx;
fail:
	e = ERR_get_error();
	snprintf(err, errlen, "tls_cert/tls_key: %s",
	    e ? ERR_reason_error_string(e) : "cannot load");
	if (ctx != NULL)
		SSL_CTX_free(ctx);
	return NULL;
}

/* Checks that cert and key load and match (for -t). */
int
tls_check(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX	*ctx = tls_ctx_new(cert, key, err, errlen);

	if (ctx == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

/* Frees one side; the relay goes when both sides are gone. */
static void
relay_free_side(struct relay *r, int i)
{
	if (r->bev[i] != NULL) {
		bufferevent_free(r->bev[i]);
		r->bev[i] = NULL;
	}
	if (r->bev[0] == NULL && r->bev[1] == NULL) {
		if (r->port != 0)
			r->f->peers[r->port][0] = '\0';
		r->f->nconns--;
		free(r);
	}
}

/* Which side b is. */
static int
relay_side(struct relay *r, struct bufferevent *b)
{
	return r->bev[1] == b;
}

/* Moves what one side read to the other side's output. */
static void
relay_read(struct bufferevent *b, void *arg)
{
	struct relay	*r = arg;
	int		 i = relay_side(r, b), o = !i;
	struct evbuffer	*in = bufferevent_get_input(b), *out;

	if (i == 0 && !r->started) {
		r->started = 1;
		bufferevent_set_timeouts(b, NULL, NULL);
	}
	if (r->bev[o] == NULL) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	out = bufferevent_get_output(r->bev[o]);
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= RELAY_HIGH_WM) {
		/* The other side reads slowly: stop reading until it drains. */
		bufferevent_setwatermark(r->bev[o], EV_WRITE, RELAY_HIGH_WM / 2,
		    RELAY_HIGH_WM);
		bufferevent_disable(b, EV_READ);
	}
}

/* A side's output drained: resume its peer, or finish a closing side. */
static void
relay_write(struct bufferevent *b, void *arg)
{
	struct relay	*r = arg;
	int		 i = relay_side(r, b), o = !i;

	if (r->bev[o] == NULL) {
		if (evbuffer_get_length(bufferevent_get_output(b)) == 0)
			relay_free_side(r, i);
		return;
	}
	bufferevent_setwatermark(b, EV_WRITE, 0, 0);
	bufferevent_enable(r->bev[o], EV_READ);
}

/* End of file, error or timeout on one side: flush and close the other. */
static void
relay_event(struct bufferevent *b, short what, void *arg)
{
	struct relay	*r = arg;
	int		 i = relay_side(r, b), o = !i;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	if (r->bev[o] != NULL) {
		relay_read(b, r);
		if (evbuffer_get_length(bufferevent_get_output(r->bev[o])) > 0) {
			bufferevent_setwatermark(r->bev[o], EV_WRITE, 0, 0);
			bufferevent_disable(r->bev[o], EV_READ);
		} else {
			relay_free_side(r, o);
		}
	}
	relay_free_side(r, i);
}

/* Opens the loopback socket towards Kore and records the client's address. */
static int
relay_backend(struct relay *r, const char *peer)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	r->port = ntohs(sin.sin_port);
	/* Written before connect(): Kore cannot see the request earlier. */
	snprintf(r->f->peers[r->port], ADMIN_PEER_LEN, "%s", peer);
	return fd;
}

/* A client connected to bind_addr: start TLS and the relay. */
static void
tls_accept(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct tls_front	*f = arg;
	struct relay		*r;
	struct timeval		 tv = { RELAY_HANDSHAKE_S, 0 };
	char			 peer[ADMIN_PEER_LEN];
	const void		*a;
	SSL			*ssl;
	int			 bfd;

	(void)lis;
	(void)salen;
	if (f->nconns >= RELAY_MAX_CONNS) {
		close(fd);
		return;
	}
	a = sa->sa_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)sa)->sin_addr;
	if (inet_ntop(sa->sa_family, a, peer, sizeof(peer)) == NULL) {
		close(fd);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL || (ssl = SSL_new(f->ctx)) ==
	    NULL) {
		free(r);
		close(fd);
		return;
	}
	r->f = f;
	f->nconns++;
	r->bev[0] = bufferevent_openssl_socket_new(f->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev[0] == NULL) {
		SSL_free(ssl);
		close(fd);
		relay_free_side(r, 0);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(r->bev[0], 1);
	if ((bfd = relay_backend(r, peer)) == -1) {
		relay_free_side(r, 0);
		return;
	}
	r->bev[1] = bufferevent_socket_new(f->base, bfd, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev[1] == NULL) {
		close(bfd);
		relay_free_side(r, 0);
		return;
	}
	for (int i = 0; i < 2; i++) {
		bufferevent_setcb(r->bev[i], relay_read, relay_write,
		    relay_event, r);
		bufferevent_enable(r->bev[i], EV_READ | EV_WRITE);
	}
	/* A client that never completes the handshake or sends nothing. */
	bufferevent_set_timeouts(r->bev[0], &tv, NULL);
	if (bufferevent_socket_connect(r->bev[1],
	    (struct sockaddr *)&f->backend, sizeof(f->backend)) == -1) {
		relay_free_side(r, 1);
		relay_free_side(r, 0);
	}
}

/* SIGTERM/SIGINT go on to Kore; SIGHUP is ignored; SIGCHLD ends the loop. */
static void
tls_signal(evutil_socket_t sig, short what, void *arg)
{
	struct tls_front	*f = arg;
	pid_t			 pid;
	int			 status;

	(void)what;
	if (sig == SIGHUP)
		return;
	if (sig != SIGCHLD) {
		f->stopping = 1;
		kill(f->child, SIGTERM);
		return;
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == f->child) {
			f->status = status;
			event_base_loopbreak(f->base);
		}
	}
}

/*
 * Opens the public TLS listener on conf's bind_addr:bind_port (before
 * Kore starts, so that a busy port is reported at once) and the shared
 * peer table.  backend_port is where Kore listens on 127.0.0.1.
 */
struct tls_front *
tls_front_new(const struct admin_conf *conf, const char *peers_path,
    uint16_t backend_port, char *err, size_t errlen)
{
	struct tls_front	*f;
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof(ss), fd;
	char			 addr[128];
	size_t			 size = (size_t)65536 * ADMIN_PEER_LEN;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((f->ctx = tls_ctx_new(conf->tls_cert, conf->tls_key, err,
	    errlen)) == NULL)
		goto fail;
	if ((fd = open(peers_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1 || ftruncate(fd, (off_t)size) == -1) {
		snprintf(err, errlen, "%s: %s", peers_path, strerror(errno));
		if (fd != -1)
			close(fd);
		goto fail;
	}
	f->peers = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (f->peers == MAP_FAILED) {
		f->peers = NULL;
		snprintf(err, errlen, "mmap %s: %s", peers_path,
		    strerror(errno));
		goto fail;
	}
	memset(&f->backend, 0, sizeof(f->backend));
	f->backend.sin_family = AF_INET;
	f->backend.sin_port = htons(backend_port);
	f->backend.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->base = event_base_new();
	snprintf(addr, sizeof(addr), strchr(conf->bind_addr, ':') ?
	    "[%s]:%u" : "%s:%u", conf->bind_addr, conf->bind_port);
	if (f->base == NULL || evutil_parse_sockaddr_port(addr,
	    (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(err, errlen, "bad bind_addr %s", addr);
		goto fail;
	}
	f->lis = evconnlistener_new_bind(f->base, tls_accept, f,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, sslen);
	if (f->lis == NULL) {
		snprintf(err, errlen, "bind %s: %s", addr, strerror(errno));
		goto fail;
	}
	return f;
fail:
	tls_front_free(f);
	return NULL;
}

/* Relays until Kore (pid child) exits; returns its wait status. */
int
tls_front_run(struct tls_front *f, pid_t child)
{
	struct event	*ev[4];
	int		 sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };

	f->child = child;
	f->status = 1 << 8;
	for (int i = 0; i < 4; i++) {
		ev[i] = evsignal_new(f->base, sigs[i], tls_signal, f);
		event_add(ev[i], NULL);
	}
	/* Kore may have exited before the handler was in place. */
	if (waitpid(child, &f->status, WNOHANG) != child)
		event_base_dispatch(f->base);
	for (int i = 0; i < 4; i++)
		event_free(ev[i]);
	return f->status;
}

/* 1 once a stop signal was passed on to Kore. */
int
tls_front_stopping(struct tls_front *f)
{
	return f->stopping;
}

/* Frees the front end (open relays are simply dropped: we are exiting). */
void
tls_front_free(struct tls_front *f)
{
	if (f == NULL)
		return;
	if (f->lis != NULL)
		evconnlistener_free(f->lis);
	if (f->base != NULL)
		event_base_free(f->base);
	if (f->peers != NULL)
		munmap(f->peers, (size_t)65536 * ADMIN_PEER_LEN);
	if (f->ctx != NULL)
		SSL_CTX_free(f->ctx);
	free(f);
}
