/* SPDX-License-Identifier: ISC */
/*
 * echod: a single-threaded epoll echo server on 127.0.0.1, the "local
 * service" behind every tunnel in the benchmark (latency, connection rate,
 * held connections).
 *
 * usage: echod [-p PORT] [-t MAX_SECONDS]
 * Prints "PORT n" on stdout once listening; exits after MAX_SECONDS
 * (default 1200) or on SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define ECHO_BUF	4096
#define MAX_EVENTS	256

struct conn {
	int	fd;
	int	want_out;	/* registered for EPOLLOUT instead of EPOLLIN */
	size_t	off;		/* bytes of buf already written back */
	size_t	len;		/* bytes in buf */
	char	buf[ECHO_BUF];
};

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* Close a connection and free its state. */
static void
conn_free(struct conn *c)
{
	close(c->fd);
	free(c);
}

/* Echo what is readable; returns -1 when the connection should close. */
static int
conn_serve(int ep, struct conn *c)
{
	struct epoll_event ev;
	ssize_t n;
	int rounds;

	/* Bounded so one busy connection cannot starve the others. */
	for (rounds = 0; rounds < 16; rounds++) {
		if (c->off < c->len) {
			n = write(c->fd, c->buf + c->off, c->len - c->off);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0)
				return -1;
			c->off += (size_t)n;
			if (c->off < c->len)
				break;
		}
		c->off = c->len = 0;
		n = read(c->fd, c->buf, sizeof(c->buf));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0)
			return -1;
		c->len = (size_t)n;
	}
	/* Wait for EPOLLOUT only while output is pending; touch epoll only
	 * when that changes, so the baseline costs no extra syscall. */
	if (c->want_out != (c->off < c->len)) {
		c->want_out = c->off < c->len;
		ev.events = c->want_out ? EPOLLOUT : EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
			return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct epoll_event ev, evs[MAX_EVENTS];
	struct sockaddr_in sin;
	socklen_t slen;
	uint64_t deadline;
	int lfd, ep, ch, i, n, fd, one = 1, port = 0, maxsec = 1200;
	struct conn *c;

	while ((ch = getopt(argc, argv, "p:t:")) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 't': maxsec = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: echod [-p PORT] [-t MAX_SECONDS]\n");
			return 2;
		}
	}
	util_raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		util_die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	util_addr(&sin, "127.0.0.1", port);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		util_die("bind");
	if (listen(lfd, 4096) == -1)
		util_die("listen");
	slen = sizeof(sin);
	getsockname(lfd, (struct sockaddr *)&sin, &slen);
	printf("PORT %d\n", ntohs(sin.sin_port));
	fflush(stdout);

	if ((ep = epoll_create1(0)) == -1)
		util_die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

	deadline = util_now_ns() + (uint64_t)maxsec * 1000000000ull;
	while (!stop && util_now_ns() < deadline) {
		n = epoll_wait(ep, evs, MAX_EVENTS, 500);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				/* Accept a bounded batch per wakeup. */
				for (int k = 0; k < 64; k++) {
					fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
					if (fd == -1)
						break;
					util_nodelay(fd);
					c = calloc(1, sizeof(*c));
					if (c == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
						conn_free(c);
				}
				continue;
			}
			c = evs[i].data.ptr;
			if (conn_serve(ep, c) == -1)
				conn_free(c);
		}
	}
	return 0;
}
