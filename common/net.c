/* SPDX-License-Identifier: ISC */
/* net.c: socket helpers shared by the master, the client and the tools. */
#include <sys/queue.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "frame.h"
#include "log.h"
#include "net.h"
#include "xmalloc.h"

/* Sets O_NONBLOCK. */
int
net_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Disables Nagle: the tunnel must not add latency to small writes. */
void
net_set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Fills a sockaddr for a literal address; -1 if it is not one. */
static int
net_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* Opens a non-blocking socket of type bound to addr:port; -1 with errno set. */
static int
net_bound(const char *addr, uint16_t port, int type, int reuseport)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, one = 1, saved;

	if (net_sockaddr(addr, port, &ss, &len) == -1) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (type == SOCK_STREAM)	/* no TIME_WAIT wait on restart */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Opens a non-blocking listening TCP socket; -1 with errno set. */
int
net_listen(const char *addr, uint16_t port, int reuseport, int backlog)
{
	int fd, saved;

	if ((fd = net_bound(addr, port, SOCK_STREAM, reuseport)) == -1)
		return -1;
	/* Accepted sockets inherit it: no setsockopt per connection. */
	net_set_nodelay(fd);
	if (listen(fd, backlog) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Opens a non-blocking UDP socket bound to addr:port; -1 with errno set. */
int
net_udp_bind(const char *addr, uint16_t port, int reuseport)
{
	return net_bound(addr, port, SOCK_DGRAM, reuseport);
}

/*
 * Tells whether addr:port is free for us, by binding it once without
 * SO_REUSEPORT: our listeners use SO_REUSEPORT, which would let them join
 * another process's group silently (a second master, an unrelated program
 * of the same user) and share its connections.  0 free, -1 in use.
 */
int
net_port_free(const char *addr, uint16_t port)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, one = 1, rc;

	if (net_sockaddr(addr, port, &ss, &len) == -1)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(fd, (struct sockaddr *)&ss, len);
	close(fd);
	return rc == 0 ? 0 : -1;
}

/* Starts a non-blocking connect to addr; -1 on failure (errno set). */
int
net_connect_addr_nb(const struct sockaddr *addr, socklen_t len, int *inprogress)
{
	int fd, saved;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	*inprogress = 0;
	if (connect(fd, addr, len) == -1) {
		if (errno != EINPROGRESS) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		*inprogress = 1;
	}
	net_set_nodelay(fd);
	return fd;
}

/* Starts a non-blocking connect to host (literal or name); -1 on failure. */
int
net_connect_nb(const char *host, uint16_t port, int *inprogress)
{
	struct addrinfo	 hints, *res = NULL;
	char		 portstr[8];
	int		 fd, rc, saved;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		log_warnx("cannot resolve %s: %s", host, gai_strerror(rc));
		errno = EHOSTUNREACH;
		return -1;
	}
	fd = net_connect_addr_nb(res->ai_addr, res->ai_addrlen, inprogress);
	saved = errno;
	freeaddrinfo(res);
	errno = saved;
	return fd;
}

/* Formats "1.2.3.4:5" or "[::1]:5". */
void
net_addr_str(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else
		snprintf(out, len, "unknown");
}

/* Formats the peer address of a connected socket. */
void
net_peer_str(int fd, char *out, size_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		snprintf(out, len, "unknown");
	else
		net_addr_str((struct sockaddr *)&ss, out, len);
}

/* Returns the local port a socket is bound to. */
uint16_t
net_local_port(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

struct linger_state {
	LIST_ENTRY(linger_state) entry;
	int		 fd;
	size_t		 discarded;
	struct event	*ev;
};

/* Closes still lingering: the owner of each until it ends or exit frees it. */
static LIST_HEAD(, linger_state) lingering = LIST_HEAD_INITIALIZER(lingering);

/* Ends one linger: its event, its descriptor, itself. */
static void
linger_free(struct linger_state *ls)
{
	LIST_REMOVE(ls, entry);
	event_free(ls->ev);
	close(ls->fd);
	free(ls);
}

/* Discards what the peer still sends, so our last reply is not lost to a RST. */
static void
linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct linger_state	*ls = arg;
	char			 buf[4096];
	ssize_t			 n = 0;

	if (what & EV_READ)
		n = read(fd, buf, sizeof(buf));
	if ((what & EV_TIMEOUT) || n == 0 ||
	    (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (ls->discarded += (n > 0 ? (size_t)n : 0)) > 256 * 1024)
		linger_free(ls);
}

/*
 * Closes a connection after our last bytes were written: shut down our
 * side, then read and drop the peer's leftovers for up to 2 seconds.
 */
void
net_linger_close(struct event_base *base, int fd)
{
	struct linger_state	*ls = xcalloc(1, sizeof(*ls));
	struct timeval		 tv = { 2, 0 };

	shutdown(fd, SHUT_WR);
	ls->fd = fd;
	ls->ev = event_new(base, fd, EV_READ | EV_PERSIST, linger_cb, ls);
	LIST_INSERT_HEAD(&lingering, ls, entry);
	event_add(ls->ev, &tv);
}

/* Ends every linger still running (before its event base is freed). */
void
net_linger_close_all(void)
{
	while (!LIST_EMPTY(&lingering))
		linger_free(LIST_FIRST(&lingering));
}

/* Forgets a partial read. */
void
hsread_reset(struct hsread *hs)
{
	free(hs->buf);
	memset(hs, 0, sizeof(*hs));
}

/* read(2) on the descriptor ctx points to (hsread_step's reader). */
static ssize_t
fd_read_fn(void *ctx, void *buf, size_t len)
{
	return read(*(int *)ctx, buf, len);
}

/*
 * Reads exactly one frame from a non-blocking fd, never more: the bytes
 * after it belong to whoever takes the connection next (e.g. a relay).
 */
enum hs_result
hsread_step(struct hsread *hs, int fd, const char **err)
{
	return hsread_step_io(hs, fd_read_fn, &fd, err);
}

/* hsread_step() through any reader with read(2) semantics (e.g. TLS). */
enum hs_result
hsread_step_io(struct hsread *hs, hs_read_fn rd, void *ctx, const char **err)
{
	ssize_t n;

	while (hs->got < FRAME_HDR) {
		n = rd(ctx, hs->hdr + hs->got, FRAME_HDR - hs->got);
		if (n == 0)
			return HS_EOF;
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? HS_AGAIN : HS_EOF;
		hs->got += (size_t)n;
		if (hs->got == FRAME_HDR) {
			hs->len = frame_get_header(hs->hdr);
			if (frame_check_length(hs->len, err) == -1)
				return HS_BAD;
			hs->buf = xmalloc(hs->len + 1);
		}
	}
	while (hs->got < FRAME_HDR + hs->len) {
		size_t off = hs->got - FRAME_HDR;

		n = rd(ctx, hs->buf + off, hs->len - off);
		if (n == 0)
			return HS_EOF;
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? HS_AGAIN : HS_EOF;
		hs->got += (size_t)n;
	}
	hs->buf[hs->len] = '\0';
	return HS_OK;
}
