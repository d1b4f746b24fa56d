/* SPDX-License-Identifier: ISC */
/*
 * vhost.c: HTTP virtual hosts (vhost_http_port, routed by Host) and HTTPS
 * by SNI (vhost_https_port), in every worker.
 *
 * A visitor's first bytes are peeked, never read, until they name a
 * domain: the request head (bounded: HTTP_HEAD_MAX bytes, VHOST_PEEK_TIMEOUT
 * seconds) or the TLS ClientHello.  If another worker serves the domain,
 * the socket goes there with its bytes still unread (MESH_VHOST_CONN), and
 * that worker peeks again.  The serving worker then pairs it with a data
 * connection like any public connection (tunnel_pubconn_add).  HTTPS bytes
 * pass untouched.  An HTTP visitor goes to a pump (vhost_pump.c) that
 * checks and rewrites every request head on the connection; a keep-alive
 * connection stays with the host of its first request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <sodium.h>

#include "db_vhost.h"
#include "http_head.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "tls.h"
#include "vhost.h"
#include "xmalloc.h"

#define VHOST_PEEK_TIMEOUT	10	/* seconds to send a whole head */
#define VHOST_MAX_PEEKS		1024	/* visitors not yet routed, per worker */
#define VHOST_MAX_PEEKS_ADDR	256	/* ... and per source address */

/* A visitor whose first bytes have not named a domain yet. */
struct vpeek {
	TAILQ_ENTRY(vpeek)	 entry;
	int			 fd;
	int			 https;
	int			 steered;	/* came from another worker */
	char			 peer[DB_ADDR_LEN];
	struct sockaddr_storage	 ss;
	struct event		 ev;
	time_t			 since;
};
TAILQ_HEAD(vpeek_list, vpeek);

static struct {
	int		 fd;
	struct event	 ev;
} listeners[2] = { { .fd = -1 }, { .fd = -1 } };	/* [0] http, [1] https */
static struct vpeek_list peeks = TAILQ_HEAD_INITIALIZER(peeks);
static unsigned		 npeeks;
static struct strmap	 routes;	/* "http:domain" -> struct mapping */
static struct event	 ev_sweep;
static int		 started;
static long		 listen_port[2];	/* the ports listened on, or 0 */

static const char page_404[] =
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    "<body><h1>Not Found</h1><p>No site is published under this name."
    "</p></body></html>\n";

/* Frees a visitor entry; closes its socket unless it was handed on. */
static void
vpeek_free(struct vpeek *p, int close_fd)
{
	TAILQ_REMOVE(&peeks, p, entry);
	npeeks--;
	event_del(&p->ev);
	if (close_fd)
		close(p->fd);
	free(p);
}

/* Sends a short HTTP error page and closes gently (the rest is drained). */
static void
vhost_reply(int fd, int code, const char *text, const char *extra,
    const char *body)
{
	char	buf[1024];
	int	n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "text/html; charset=utf-8\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n%s", code, text, strlen(body), extra,
	    body);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	net_linger_close(W->base, fd);
}

/* Refuses a visitor with an HTTP status page (http) or a close (https). */
static void
vpeek_refuse(struct vpeek *p, int code, const char *why)
{
	char body[160];

	log_info("%s vhost: %s refused: %s", p->https ? "https" : "http",
	    p->peer, why);
	if (p->https || code == 0) {
		vpeek_free(p, 1);
		return;
	}
	switch (code) {
	case 400:
		vhost_reply(p->fd, 400, "Bad Request", "",
		    "<!DOCTYPE html>\n<html><body><h1>Bad Request</h1></body>"
		    "</html>\n");
		break;
	case 431:
		vhost_reply(p->fd, 431, "Request Header Fields Too Large", "",
		    "<!DOCTYPE html>\n<html><body><h1>Request Header Fields "
		    "Too Large</h1></body></html>\n");
		break;
	default:
		snprintf(body, sizeof(body), "%s", page_404);
		vhost_reply(p->fd, 404, "Not Found", "", body);
		break;
	}
	vpeek_free(p, 0);
}

/* Hands a routed HTTP visitor to its mapping: checks the first request's
 * credentials, then gives the connection to a pump (vhost_pump.c) that
 * rewrites each request head; the pump's socketpair end is what the relay
 * to the data connection sees. */
static void
deliver_http(struct vpeek *p, struct mapping *map, const char *buf,
    const struct http_head *h)
{
	struct vhost_map	*vm = map->vhost;
	struct vhost_pump	*pump;
	int			 sp[2];

	if (vm->has_auth && !vhost_auth_ok(vm, buf, h)) {
		log_info("http vhost %s: %s refused: %s", h->host, p->peer,
		    http_head_find(h, buf, "authorization", 0) == -1 ?
		    "no credentials" : "bad credentials");
		vhost_reply(p->fd, 401, "Unauthorized",
		    "WWW-Authenticate: Basic realm=\"gotunnel\", "
		    "charset=\"UTF-8\"\r\n",
		    "<!DOCTYPE html>\n<html><body><h1>Unauthorized</h1></body>"
		    "</html>\n");
		vpeek_free(p, 0);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		log_warn("http vhost %s: socketpair", h->host);
		vpeek_refuse(p, 0, "out of descriptors");
		return;
	}
	log_debug("http vhost %s: %s to client %s", h->host, p->peer,
	    map->session->name);
	/* The head stays unread: the pump reads it as the first request. */
	pump = vhost_pump_new(vm, p->fd, sp[1], p->peer);
	tunnel_pubconn_add(map, sp[0], (struct sockaddr *)&p->ss, pump);
	vpeek_free(p, 0);
}

/* Routes a visitor by domain: here, to the worker serving it, or refused. */
static void
vpeek_route(struct vpeek *p, const char *domain, const char *buf,
    const struct http_head *h)
{
	const char	*kind = p->https ? "https" : "http";
	char		 key[HTTP_HOST_MAX + 16];
	struct mapping	*map;
	struct db_domain d;

	snprintf(key, sizeof(key), "%s:%s", kind, domain);
	if ((map = strmap_get(&routes, key)) != NULL && !map->session->closing) {
		if (p->https) {
			log_debug("https vhost %s: %s to client %s", domain,
			    p->peer, map->session->name);
			tunnel_pubconn_add(map, p->fd, (struct sockaddr *)&p->ss,
			    NULL);
			vpeek_free(p, 0);
		} else
			deliver_http(p, map, buf, h);
		return;
	}
	/* Steered once already: never bounce between workers. */
	if (!p->steered && db_vhost_lookup(&W->db, kind, domain, &d) == 0 &&
	    (int)d.worker_index != W->index &&
	    (int)d.worker_index < W->nworkers) {
		struct mesh_msg mm;
		int		fd;

		memset(&mm, 0, sizeof(mm));
		mm.type = MESH_VHOST_CONN;
		snprintf(mm.id, sizeof(mm.id), "%s", kind);
		fd = p->fd;
		/* Out of our epoll set first (see tlsaccept_peek). */
		vpeek_free(p, 0);
		worker_send_mesh((int)d.worker_index, &mm, fd);	/* takes fd */
		return;
	}
	vpeek_refuse(p, 404, "unknown host");
}

/* Peeks at a visitor's first bytes and routes it once they name a domain. */
static void
vpeek_read(evutil_socket_t fd, short what, void *arg)
{
	static char		 buf[HTTP_HEAD_MAX];
	static struct http_head	 h;
	struct vpeek		*p = arg;
	const char		*why;
	ssize_t			 n;

	n = recv(p->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		log_debug("vhost: %s closed before naming a host", p->peer);
		vpeek_free(p, 1);
		return;
	}
	if (n == -1)
		return;
	if (p->https) {
		struct tls_hello	th;
		char			dom[HTTP_HOST_MAX + 1];

		switch (tls_hello_parse((unsigned char *)buf, (size_t)n, &th)) {
		case TLS_PEEK_MORE:
			if ((size_t)n == sizeof(buf))
				vpeek_refuse(p, 0, "ClientHello over 16 KiB");
			else if (what & EV_CLOSED)
				vpeek_refuse(p, 0, "ClientHello cut short");
			return;
		case TLS_PEEK_NOT_TLS:
		case TLS_PEEK_BAD:
			vpeek_refuse(p, 0, "not a TLS ClientHello");
			return;
		case TLS_PEEK_OK:
			break;
		}
		if (th.sni[0] == '\0') {
			vpeek_refuse(p, 0, "ClientHello without SNI");
			return;
		}
		if (http_host_normalize(th.sni, strlen(th.sni), dom,
		    sizeof(dom)) == -1 || strchr(th.sni, ':') != NULL) {
			vpeek_refuse(p, 0, "bad SNI server name");
			return;
		}
		vpeek_route(p, dom, NULL, NULL);
		return;
	}
	switch (http_head_parse(buf, (size_t)n, &h, &why)) {
	case HH_AGAIN:
		if (what & EV_CLOSED)	/* the peer sent all it will send */
			vpeek_refuse(p, 400, "request head cut short");
		return;
	case HH_BAD:
		vpeek_refuse(p, 400, why);
		return;
	case HH_TOO_BIG:
		vpeek_refuse(p, 431, why);
		return;
	case HH_OK:
		vpeek_route(p, h.host, buf, &h);
		return;
	}
}

/* Tells whether two peer addresses have the same IP (ports aside). */
static int
same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

/* Holds a visitor until its first bytes name a domain (bounded in number,
 * per address and in time). */
static void
vpeek_new(int fd, int https, int steered)
{
	struct vpeek	*p, *q;
	socklen_t	 sl;
	unsigned	 same = 0;

	p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->https = https;
	p->steered = steered;
	p->since = time(NULL);
	sl = sizeof(p->ss);
	if (getpeername(fd, (struct sockaddr *)&p->ss, &sl) == -1) {
		close(fd);
		free(p);
		return;
	}
	net_addr_str((struct sockaddr *)&p->ss, p->peer, sizeof(p->peer));
	TAILQ_FOREACH(q, &peeks, entry)
		if (same_ip(&q->ss, &p->ss))
			same++;
	if (same >= VHOST_MAX_PEEKS_ADDR || npeeks >= VHOST_MAX_PEEKS) {
		q = TAILQ_FIRST(&peeks);
		log_info("vhost: %s closed: too many visitors without a "
		    "request", q->peer);
		vpeek_free(q, 1);
	}
	TAILQ_INSERT_TAIL(&peeks, p, entry);
	npeeks++;
	/* Edge-triggered: a peek leaves the bytes there, so wait for more. */
	event_assign(&p->ev, W->base, fd, EV_READ | EV_ET | EV_CLOSED |
	    EV_PERSIST, vpeek_read, p);
	event_add(&p->ev, NULL);
	if (steered)
		vpeek_read(fd, EV_READ, p);	/* its bytes are all there */
}

/* Accepts visitors on a vhost port (bounded per wakeup). */
static void
vhost_accept(evutil_socket_t lfd, short what, void *arg)
{
	int https = arg != NULL;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept on vhost_%s_port",
				    https ? "https" : "http");
			return;
		}
		if (W->stopping) {
			close(fd);
			continue;
		}
		vpeek_new(fd, https, 0);
	}
}

/* A visitor handed over by another worker: this one serves its domain. */
void
vhost_adopt(int fd, const char *kind)
{
	if (W->stopping || !started) {
		close(fd);
		return;
	}
	vpeek_new(fd, strcmp(kind, "https") == 0, 1);
}

/* Closes visitors that named no domain within VHOST_PEEK_TIMEOUT. */
static void
vhost_sweep(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);

	while (!TAILQ_EMPTY(&peeks) &&
	    now - TAILQ_FIRST(&peeks)->since >= VHOST_PEEK_TIMEOUT) {
		struct vpeek *p = TAILQ_FIRST(&peeks);

		if (p->https)
			vpeek_refuse(p, 0, "no ClientHello in time");
		else
			vpeek_refuse(p, 400, "no complete request head in time");
	}
}

/* Opens this worker's share (SO_REUSEPORT) of the vhost ports. */
void
vhost_init(void)
{
	long ports[2] = { W->conf.vhost_http_port, W->conf.vhost_https_port };

	strmap_init(&routes);
	started = 1;
	for (int i = 0; i < 2; i++) {
		if (ports[i] == 0)
			continue;
		listeners[i].fd = net_listen(W->conf.proxy_bind_addr,
		    (uint16_t)ports[i], 1, 1024);
		if (listeners[i].fd == -1) {
			log_warn("vhost_%s_port %ld: cannot listen",
			    i ? "https" : "http", ports[i]);
			continue;
		}
		event_assign(&listeners[i].ev, W->base, listeners[i].fd,
		    EV_READ | EV_PERSIST, vhost_accept, i ? (void *)1 : NULL);
		event_add(&listeners[i].ev, NULL);
		listen_port[i] = ports[i];
	}
	event_assign(&ev_sweep, W->base, -1, EV_PERSIST, vhost_sweep, NULL);
	event_add(&ev_sweep, &(struct timeval){ 1, 0 });
}

/* Stops accepting visitors and drops those not routed yet (stop, exit). */
void
vhost_stop(void)
{
	if (!started)
		return;
	for (int i = 0; i < 2; i++)
		if (listeners[i].fd != -1) {
			event_del(&listeners[i].ev);
			close(listeners[i].fd);
			listeners[i].fd = -1;
			listen_port[i] = 0;
		}
	while (!TAILQ_EMPTY(&peeks))
		vpeek_free(TAILQ_FIRST(&peeks), 1);
	event_del(&ev_sweep);
}

/* Frees the routes too (worker exit: every session is closed by now). */
void
vhost_free(void)
{
	if (!started)
		return;
	vhost_stop();
	strmap_free(&routes);
	started = 0;
}

/* The vhost port this worker listens on (https or http), 0 if none: what
 * a register is told, even after a reload changed the file. */
long
vhost_port(int https)
{
	return listen_port[https ? 1 : 0];
}

/* Publishes an http/https mapping's domains in this worker's routes. */
void
vhost_mapping_attach(struct mapping *map, const struct msg *req,
    const char *domains)
{
	struct vhost_map	*vm;
	char			 list[sizeof(vm->domains)], key[HTTP_HOST_MAX + 16];
	char			*save = NULL;

	if (strcmp(map->type, "http") != 0 && strcmp(map->type, "https") != 0)
		return;
	vm = xcalloc(1, sizeof(*vm));
	vm->https = strcmp(map->type, "https") == 0;
	snprintf(vm->domains, sizeof(vm->domains), "%s", domains);
	if (MSG_HAS(req, F_HTTP_USER) && MSG_HAS(req, F_HTTP_PASSWORD)) {
		char up[sizeof(req->http_user) + sizeof(req->http_password) + 2];
		int  n = snprintf(up, sizeof(up), "%s:%s", req->http_user,
		    req->http_password);

		vm->has_auth = 1;
		crypto_generichash(vm->auth_hash, sizeof(vm->auth_hash),
		    (unsigned char *)up, (size_t)n, NULL, 0);
		sodium_memzero(up, sizeof(up));
	}
	if (MSG_HAS(req, F_HOST_HEADER_REWRITE))
		snprintf(vm->host_rewrite, sizeof(vm->host_rewrite), "%s",
		    req->host_header_rewrite);
	map->vhost = vm;
	snprintf(list, sizeof(list), "%s", domains);
	for (char *d = strtok_r(list, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
		snprintf(key, sizeof(key), "%s:%s", map->type, d);
		strmap_del(&routes, key);	/* a replaced session's */
		strmap_put(&routes, key, map);
	}
	log_info("client %s: %s mapping %s serves %s%s", map->session->name,
	    map->type, map->name, domains, vm->has_auth ? " (Basic auth)" : "");
}

/* Withdraws an http/https mapping's domains (if still its own) and frees. */
void
vhost_mapping_free(struct mapping *map)
{
	struct vhost_map	*vm = map->vhost;
	char			 list[sizeof(vm->domains)], key[HTTP_HOST_MAX + 16];
	char			*save = NULL;

	if (vm == NULL)
		return;
	snprintf(list, sizeof(list), "%s", vm->domains);
	for (char *d = strtok_r(list, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
		snprintf(key, sizeof(key), "%s:%s", map->type, d);
		if (strmap_get(&routes, key) == map)
			strmap_del(&routes, key);
	}
	sodium_memzero(vm, sizeof(*vm));
	free(vm);
	map->vhost = NULL;
}
