/* SPDX-License-Identifier: ISC */
/*
 * vhost_pump.c: an HTTP visitor's connection, request by request.
 *
 * Every request head on the connection is parsed (http_head.c), checked
 * (Basic auth) and rewritten (X-Forwarded-For, X-Forwarded-Proto,
 * X-Real-IP, Host) before it goes on; bodies pass as they are, framed by
 * Content-Length or chunked encoding, so the next head is found.  After an
 * Upgrade (WebSocket) or CONNECT request the bytes pass untouched.
 *
 * The pump sits between the visitor's socket and one end of a socketpair;
 * the other end is the public side of an ordinary relay (relay.c) to the
 * data connection, so TLS, limits, accounting and closing stay as they
 * are for any public connection.  Responses are copied back unchanged.
 * Every buffer is bounded; a full buffer stops reading its source.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "log.h"
#include "server.h"
#include "vhost.h"
#include "xmalloc.h"

#define PUMP_IN		(HTTP_HEAD_MAX + 4096)	/* visitor bytes not yet framed */
#define PUMP_OUT	(HTTP_HEAD_MAX + 8192)	/* framed bytes for the tunnel */
#define PUMP_DOWN	(16 * 1024)		/* response bytes for the visitor */
#define PUMP_HEAD_EXTRA	1536			/* what a rewrite may add */
#define PUMP_LINE_MAX	1024			/* a chunk-size or trailer line */

enum pump_state {
	P_HEAD,		/* waiting for a request head */
	P_BODY,		/* body_left bytes of a Content-Length body */
	P_CHUNK_SIZE,	/* a chunk-size line */
	P_CHUNK_DATA,	/* body_left bytes of chunk data */
	P_CHUNK_CRLF,	/* the CRLF after chunk data */
	P_TRAILER,	/* trailer lines up to the empty one */
	P_RAW		/* after Upgrade/CONNECT: bytes as they are */
};

struct vhost_pump {
	struct pubconn		*pc;		/* owner, set by vhost_pump_attach */
	struct vhost_map	 vm;		/* a copy: outlives nothing */
	char			 peer[DB_ADDR_LEN];
	char			 ip[DB_ADDR_LEN];
	int			 vfd;		/* the visitor */
	int			 sfd;		/* our end of the socketpair */
	struct event		 ev_vread, ev_vwrite, ev_sread, ev_swrite;
	enum pump_state		 st;
	uint64_t		 body_left;
	char			 in[PUMP_IN];
	size_t			 in_len;
	char			 out[PUMP_OUT];
	size_t			 out_len, out_off;
	char			 down[PUMP_DOWN];
	size_t			 down_len, down_off;
	int			 up_eof, up_shut, down_eof, down_shut;
	unsigned		 requests;
};

/* Writes the IP of "ip:port" / "[v6]:port" into out. */
static void
peer_ip(const char *peer, char *out, size_t len)
{
	const char	*colon = strrchr(peer, ':');
	size_t		 n = colon ? (size_t)(colon - peer) : strlen(peer);

	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, peer, n);
	out[n] = '\0';
}

/* Checks "Authorization: Basic ..." against the mapping's, in constant
 * time (hash, then sodium_memcmp); 1 good, 0 not. */
int
vhost_auth_ok(const struct vhost_map *vm, const char *buf,
    const struct http_head *h)
{
	int			 i = http_head_find(h, buf, "authorization", 0);
	const struct hh_field	*f;
	unsigned char		 dec[256], hash[32];
	size_t			 declen;

	if (i == -1 || http_head_find(h, buf, "authorization", (size_t)i + 1) != -1)
		return 0;
	f = &h->fields[i];
	if (f->value_len < 7 || strncasecmp(buf + f->value, "basic ", 6) != 0)
		return 0;
	if (sodium_base642bin(dec, sizeof(dec), buf + f->value + 6,
	    f->value_len - 6, " ", &declen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return 0;
	crypto_generichash(hash, sizeof(hash), dec, declen, NULL, 0);
	sodium_memzero(dec, sizeof(dec));
	return sodium_memcmp(hash, vm->auth_hash, sizeof(hash)) == 0;
}

/* Appends bytes to the tunnel-bound buffer (the caller checked room). */
static void
out_put(struct vhost_pump *pp, const char *buf, size_t len)
{
	if (len > PUMP_OUT - pp->out_len)
		len = PUMP_OUT - pp->out_len;	/* cannot happen; never overflow */
	memcpy(pp->out + pp->out_len, buf, len);
	pp->out_len += len;
}

/* Appends a formatted line to the tunnel-bound buffer (cut at its end). */
static void __attribute__((format(printf, 2, 3)))
out_putf(struct vhost_pump *pp, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(pp->out + pp->out_len, PUMP_OUT - pp->out_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		pp->out_len += (size_t)n < PUMP_OUT - pp->out_len ? (size_t)n :
		    PUMP_OUT - pp->out_len - 1;
}

/* Tells whether field i is named name (lower case, exact length). */
static int
field_is(const struct http_head *h, const char *buf, size_t i,
    const char *name)
{
	size_t n = strlen(name);

	return h->fields[i].name_len == n &&
	    strncasecmp(buf + h->fields[i].name, name, n) == 0;
}

/*
 * Writes the rewritten head: the request line, the visitor's fields but
 * those the master sets (X-Real-IP, X-Forwarded-Proto, X-Forwarded-For,
 * Host when rewritten, Authorization when the master checked it), then
 * Host, X-Forwarded-For (the visitor's own value first, if any),
 * X-Forwarded-Proto and X-Real-IP.
 */
static void
head_rewrite(struct vhost_pump *pp, const char *buf, const struct http_head *h)
{
	const struct vhost_map	*vm = &pp->vm;
	int			 xff = http_head_find(h, buf, "x-forwarded-for", 0);

	out_put(pp, buf, h->reqline_len);
	for (size_t i = 0; i < h->nfields; i++) {
		if (field_is(h, buf, i, "x-real-ip") ||
		    field_is(h, buf, i, "x-forwarded-proto") ||
		    field_is(h, buf, i, "x-forwarded-for") ||
		    (vm->host_rewrite[0] && field_is(h, buf, i, "host")) ||
		    (vm->has_auth && field_is(h, buf, i, "authorization")))
			continue;
		out_put(pp, buf + h->fields[i].line, h->fields[i].line_len);
	}
	if (vm->host_rewrite[0])
		out_putf(pp, "Host: %s\r\n", vm->host_rewrite);
	if (xff != -1 && h->fields[xff].value_len > 0)
		out_putf(pp, "X-Forwarded-For: %.*s, %s\r\n",
		    (int)h->fields[xff].value_len, buf + h->fields[xff].value,
		    pp->ip);
	else
		out_putf(pp, "X-Forwarded-For: %s\r\n", pp->ip);
	out_putf(pp, "X-Forwarded-Proto: http\r\nX-Real-IP: %s\r\n\r\n", pp->ip);
}

/* Tells whether c is a hex digit. */
static int
isxdigit_c(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* The value of a hex digit. */
static unsigned
hexval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Reads a Content-Length value (digits only, at most 18); -1 if bad. */
static int64_t
parse_length(const char *s, size_t n)
{
	int64_t v = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * Decides how the body of a parsed request is framed and the state after
 * its head; -1 when it cannot be framed (the connection is closed).
 */
static int
body_framing(struct vhost_pump *pp, const char *buf, const struct http_head *h)
{
	int	te = http_head_find(h, buf, "transfer-encoding", 0);
	int	cl = http_head_find(h, buf, "content-length", 0);
	int64_t	len = 0;

	if (http_head_find(h, buf, "upgrade", 0) != -1 ||
	    (h->method_len == 7 && memcmp(buf, "CONNECT", 7) == 0)) {
		pp->st = P_RAW;		/* a tunnel from here on */
		return 0;
	}
	if (te != -1) {
		const struct hh_field	*f = &h->fields[te];
		const char		*v = buf + f->value;

		/* Requests: chunked must be the last coding (RFC 9112 6.3). */
		if (http_head_find(h, buf, "transfer-encoding", (size_t)te + 1)
		    != -1 || f->value_len < 7 ||
		    strncasecmp(v + f->value_len - 7, "chunked", 7) != 0)
			return -1;
		pp->st = P_CHUNK_SIZE;
		return 0;
	}
	for (int i = cl; i != -1;
	    i = http_head_find(h, buf, "content-length", (size_t)i + 1)) {
		int64_t v = parse_length(buf + h->fields[i].value,
		    h->fields[i].value_len);

		if (v == -1 || (i != cl && v != len))
			return -1;
		len = v;
	}
	pp->body_left = (uint64_t)len;
	pp->st = len > 0 ? P_BODY : P_HEAD;
	return 0;
}

/* Drops n framed bytes from the front of the input. */
static void
in_consume(struct vhost_pump *pp, size_t n)
{
	memmove(pp->in, pp->in + n, pp->in_len - n);
	pp->in_len -= n;
}

/* Moves up to body_left bytes of input to the output as they are. */
static size_t
pass_body(struct vhost_pump *pp)
{
	size_t n = pp->in_len;

	if (n > PUMP_OUT - pp->out_len)
		n = PUMP_OUT - pp->out_len;
	if (pp->st != P_RAW && n > pp->body_left)
		n = (size_t)pp->body_left;
	out_put(pp, pp->in, n);
	in_consume(pp, n);
	if (pp->st != P_RAW)
		pp->body_left -= n;
	return n;
}

/* Passes one CRLF-ended line (chunk size, trailer) if whole; its length
 * without CRLF in *len.  1 passed, 0 not yet, -1 bad. */
static int
pass_line(struct vhost_pump *pp, size_t *len)
{
	char *cr = memchr(pp->in, '\r', pp->in_len < PUMP_LINE_MAX ?
	    pp->in_len : PUMP_LINE_MAX);

	if (cr == NULL)
		return pp->in_len >= PUMP_LINE_MAX ? -1 : 0;
	*len = (size_t)(cr - pp->in);
	if (*len + 2 > pp->in_len)
		return 0;
	if (cr[1] != '\n' || memchr(pp->in, '\n', *len) != NULL)
		return -1;
	if (*len + 2 > PUMP_OUT - pp->out_len)
		return 0;		/* room first */
	out_put(pp, pp->in, *len + 2);
	return 1;
}

/*
 * Frames what the visitor sent: rewrites heads, passes bodies; stops when
 * input runs out or output is full.  0, or -1 with *why (close).
 */
static int
pump_frame(struct vhost_pump *pp, const char **why)
{
	static struct http_head	h;
	size_t			len;
	int			r;

	for (int rounds = 0; rounds < 256; rounds++) {
		switch (pp->st) {
		case P_HEAD:
			if (pp->in_len == 0)
				return 0;
			switch (http_head_parse(pp->in, pp->in_len, &h, why)) {
			case HH_AGAIN:
				return 0;
			case HH_BAD:
			case HH_TOO_BIG:
				return -1;
			case HH_OK:
				break;
			}
			if (PUMP_OUT - pp->out_len < h.len + PUMP_HEAD_EXTRA)
				return 0;	/* room first */
			if (pp->vm.has_auth && !vhost_auth_ok(&pp->vm, pp->in, &h)) {
				*why = "a later request without good credentials";
				return -1;
			}
			head_rewrite(pp, pp->in, &h);
			if (body_framing(pp, pp->in, &h) == -1) {
				*why = "a request body that cannot be framed";
				return -1;
			}
			pp->requests++;
			in_consume(pp, h.len);
			break;
		case P_BODY:
		case P_CHUNK_DATA:
		case P_RAW:
			if (pp->in_len == 0 || pass_body(pp) == 0)
				return 0;
			if (pp->st == P_BODY && pp->body_left == 0)
				pp->st = P_HEAD;
			else if (pp->st == P_CHUNK_DATA && pp->body_left == 0)
				pp->st = P_CHUNK_CRLF;
			break;
		case P_CHUNK_SIZE:
			if ((r = pass_line(pp, &len)) <= 0) {
				*why = "a bad chunk-size line";
				return r;
			}
			{
				uint64_t	v = 0;
				size_t		i = 0;

				for (; i < len && i < 16 && isxdigit_c(pp->in[i]); i++)
					v = v * 16 + hexval(pp->in[i]);
				if (i == 0 || (i < len && pp->in[i] != ';' &&
				    pp->in[i] != ' ' && pp->in[i] != '\t')) {
					*why = "a bad chunk size";
					return -1;
				}
				in_consume(pp, len + 2);
				pp->body_left = v;
				pp->st = v == 0 ? P_TRAILER : P_CHUNK_DATA;
			}
			break;
		case P_CHUNK_CRLF:
			if (pp->in_len < 2 || PUMP_OUT - pp->out_len < 2)
				return 0;
			if (pp->in[0] != '\r' || pp->in[1] != '\n') {
				*why = "chunk data without its CRLF";
				return -1;
			}
			out_put(pp, pp->in, 2);
			in_consume(pp, 2);
			pp->st = P_CHUNK_SIZE;
			break;
		case P_TRAILER:
			if ((r = pass_line(pp, &len)) <= 0) {
				*why = "a bad trailer line";
				return r;
			}
			in_consume(pp, len + 2);
			if (len == 0)
				pp->st = P_HEAD;
			break;
		}
	}
	return 0;
}

static void pump_io(evutil_socket_t, short, void *);

/* Arms exactly the events the pump's buffers call for. */
static void
pump_arm(struct vhost_pump *pp)
{
	struct {
		struct event	*ev;
		int		 on;
	} want[4] = {
		{ &pp->ev_vread, !pp->up_eof && pp->in_len < PUMP_IN },
		{ &pp->ev_swrite, pp->out_off < pp->out_len },
		{ &pp->ev_sread, !pp->down_eof && pp->down_len == 0 },
		{ &pp->ev_vwrite, pp->down_off < pp->down_len },
	};

	for (int i = 0; i < 4; i++) {
		int pending = event_pending(want[i].ev, EV_READ | EV_WRITE, NULL);

		if (want[i].on && !pending)
			event_add(want[i].ev, NULL);
		else if (!want[i].on && pending)
			event_del(want[i].ev);
	}
}

/* Ends the connection (its pubconn, and so this pump) for a reason. */
static void
pump_fail(struct vhost_pump *pp, const char *why)
{
	log_info("http vhost: %s closed after %u request(s): %s", pp->peer,
	    pp->requests, why);
	tunnel_pubconn_close(pp->pc, why);	/* frees pp */
}

/*
 * Moves bytes every way they can go until nothing moves (or a bound, then
 * it comes back through the loop).  Each socket is read and written until
 * it would block, so no readiness is left unseen whatever way the
 * descriptor is registered: the visitor's socket was watched edge-
 * triggered while its head was peeked (vhost.c).
 */
static void
pump_io(evutil_socket_t fd, short what, void *arg)
{
	struct vhost_pump	*pp = arg;
	const char		*why = NULL;
	ssize_t			 n;
	int			 moved = 1, rounds = 0;

	for (; moved && rounds < 64; rounds++) {
		moved = 0;
		/* Visitor -> frame -> tunnel. */
		if (!pp->up_eof && pp->in_len < PUMP_IN) {
			n = recv(pp->vfd, pp->in + pp->in_len,
			    PUMP_IN - pp->in_len, MSG_DONTWAIT);
			if (n > 0) {
				pp->in_len += (size_t)n;
				moved = 1;
			} else if (n == 0) {
				pp->up_eof = 1;
				moved = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				pump_fail(pp, "visitor connection error");
				return;
			}
		}
		if (pump_frame(pp, &why) == -1) {
			pump_fail(pp, why ? why : "bad request");
			return;
		}
		if (pp->out_off < pp->out_len) {
			n = send(pp->sfd, pp->out + pp->out_off,
			    pp->out_len - pp->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				pp->out_off += (size_t)n;
				moved = 1;
			} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
				pump_fail(pp, "tunnel side closed");
				return;
			}
			if (pp->out_off == pp->out_len)
				pp->out_off = pp->out_len = 0;
			else if (pp->out_off > PUMP_OUT / 2) {
				memmove(pp->out, pp->out + pp->out_off,
				    pp->out_len - pp->out_off);
				pp->out_len -= pp->out_off;
				pp->out_off = 0;
			}
		}
		if (pp->up_eof && !pp->up_shut && pp->out_len == 0) {
			shutdown(pp->sfd, SHUT_WR);	/* a cut request stays cut */
			pp->up_shut = 1;
		}
		/* Tunnel -> visitor, as it is. */
		if (!pp->down_eof && pp->down_len == 0) {
			n = recv(pp->sfd, pp->down, sizeof(pp->down), MSG_DONTWAIT);
			if (n > 0) {
				pp->down_len = (size_t)n;
				pp->down_off = 0;
				moved = 1;
			} else if (n == 0) {
				pp->down_eof = 1;
				moved = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				pump_fail(pp, "tunnel side error");
				return;
			}
		}
		if (pp->down_off < pp->down_len) {
			n = send(pp->vfd, pp->down + pp->down_off,
			    pp->down_len - pp->down_off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				pp->down_off += (size_t)n;
				moved = 1;
			} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
				pump_fail(pp, "visitor went away");
				return;
			}
			if (pp->down_off == pp->down_len)
				pp->down_off = pp->down_len = 0;
		}
		if (pp->down_eof && !pp->down_shut && pp->down_len == 0) {
			shutdown(pp->vfd, SHUT_WR);
			pp->down_shut = 1;
		}
	}
	pump_arm(pp);
	if (moved)	/* the bound, not the sockets, stopped it: go on later */
		event_active(&pp->ev_swrite, EV_WRITE, 0);
}

/*
 * Makes the pump of a routed HTTP visitor (vfd, its request head still
 * unread) and one end of the socketpair (sfd); it runs once attached.
 */
struct vhost_pump *
vhost_pump_new(const struct vhost_map *vm, int vfd, int sfd, const char *peer)
{
	struct vhost_pump *pp = xcalloc(1, sizeof(*pp));

	net_set_nodelay(vfd);	/* the relay sees only the socketpair */
	pp->vm = *vm;
	pp->vfd = vfd;
	pp->sfd = sfd;
	pp->st = P_HEAD;
	snprintf(pp->peer, sizeof(pp->peer), "%s", peer);
	peer_ip(peer, pp->ip, sizeof(pp->ip));
	return pp;
}

/* Starts the pump of pc (its public side is the socketpair's other end). */
void
vhost_pump_attach(struct vhost_pump *pp, struct pubconn *pc)
{
	pp->pc = pc;
	event_assign(&pp->ev_vread, W->base, pp->vfd, EV_READ | EV_PERSIST,
	    pump_io, pp);
	event_assign(&pp->ev_vwrite, W->base, pp->vfd, EV_WRITE | EV_PERSIST,
	    pump_io, pp);
	event_assign(&pp->ev_sread, W->base, pp->sfd, EV_READ | EV_PERSIST,
	    pump_io, pp);
	event_assign(&pp->ev_swrite, W->base, pp->sfd, EV_WRITE | EV_PERSIST,
	    pump_io, pp);
	pump_arm(pp);
}

/* Frees a pump and closes the visitor and its socketpair end. */
void
vhost_pump_free(struct vhost_pump *pp)
{
	if (pp == NULL)
		return;
	if (pp->pc != NULL) {
		event_del(&pp->ev_vread);
		event_del(&pp->ev_vwrite);
		event_del(&pp->ev_sread);
		event_del(&pp->ev_swrite);
	}
	close(pp->vfd);
	close(pp->sfd);
	sodium_memzero(&pp->vm, sizeof(pp->vm));
	free(pp);
}
