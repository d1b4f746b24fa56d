/* SPDX-License-Identifier: ISC */
/*
 * loadgen: control-plane load for gotunnel-master. Opens N control
 * connections, registers one mapping on each (as fast as the master
 * answers, with a bounded number in flight), then keeps them all open and
 * sends heartbeats spread evenly over the heartbeat interval for a while.
 *
 * usage: loadgen -p PORT -k TOKEN [-h IP] [-n CLIENTS] [-w WINDOW]
 *                [-a SRC_ADDRS] [-r REMOTE_PORT_BASE] [-P POOL_COUNT]
 *                [-t REGISTER_MAX_SECONDS] [-H HEARTBEAT_SECONDS]
 *                [-i HEARTBEAT_INTERVAL]
 *
 * Prints one JSON line per phase on stdout:
 *   {"phase":"register",...}  when every client is registered (or failed)
 *   {"phase":"heartbeat",...} at the end of the heartbeat phase
 * The wire format is the one in docs/design.md: a 4-byte big-endian length,
 * then a JSON object.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define RBUF_SIZE	2048
#define MAX_CLIENTS	19000

enum cstate { C_IDLE, C_CONNECTING, C_SENT, C_REGISTERED, C_DEAD };

struct client {
	int		fd;
	enum cstate	state;
	uint64_t	t_start;	/* connect() time, for registration latency */
	size_t		rlen;
	char		rbuf[RBUF_SIZE];
};

static struct client *cl;
static struct sockaddr_in dst;
static const char *token;
static int nclients = 10000, window = 256, nsrc = 64, port_base = 0;
static int pool_count = 0, ep;
static unsigned long n_ok, n_fail, n_lost, hb_sent, hb_acks, srv_hb, open_data;
static unsigned long n_other, inflight;
static uint64_t *reg_lat;
#define TIMELINE_MAX	600	/* 60 s of points */
static double	 tl_t[TIMELINE_MAX];
static unsigned long tl_n[TIMELINE_MAX];
static unsigned	 n_tl;
static char first_error[256];

/* Start the non-blocking connect of client i. */
static void
client_connect(int i)
{
	struct client *c = &cl[i];
	struct sockaddr_in src;
	struct epoll_event ev;
	int one = 1;

	c->t_start = util_now_ns();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1)
		util_die("socket");
	if (nsrc > 1) {
		/* Spread sources so a per-address cap sees a realistic mix. */
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % nsrc));
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) == -1)
			util_die("bind");
	}
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS)
		util_die("connect");
	c->state = C_CONNECTING;
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		util_die("epoll_ctl");
	inflight++;
}

/* Send one framed JSON message; -1 if it could not be written whole. */
static int
client_send(struct client *c, const char *json)
{
	char frame[1024];
	uint32_t len = (uint32_t)strlen(json), be = htonl(len);

	memcpy(frame, &be, 4);
	memcpy(frame + 4, json, len);
	return write(c->fd, frame, len + 4) == (ssize_t)(len + 4) ? 0 : -1;
}

/* Close client i; counts it as failed or lost depending on its state. */
static void
client_drop(int i, const char *why)
{
	struct client *c = &cl[i];

	if (c->state == C_DEAD)
		return;
	if (c->state == C_CONNECTING || c->state == C_SENT) {
		n_fail++;
		inflight--;
		if (first_error[0] == '\0')
			snprintf(first_error, sizeof(first_error), "%s", why);
	} else if (c->state == C_REGISTERED)
		n_lost++;
	close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
}

/* Handle one complete message from the master for client i. */
static void
client_message(int i, const char *msg, size_t len)
{
	struct client *c = &cl[i];
	char copy[RBUF_SIZE + 1];

	memcpy(copy, msg, len);
	copy[len] = '\0';
	if (strstr(copy, "\"register_response\"") != NULL) {
		if (c->state != C_SENT)
			return;
		if (strstr(copy, "\"ok\"") != NULL) {
			c->state = C_REGISTERED;
			reg_lat[n_ok++] = util_now_ns() - c->t_start;
			inflight--;
		} else
			client_drop(i, copy);
	} else if (strstr(copy, "\"heartbeat_ack\"") != NULL) {
		hb_acks++;
	} else if (strstr(copy, "\"heartbeat\"") != NULL) {
		srv_hb++;
		(void)client_send(c, "{\"type\":\"heartbeat_ack\"}");
	} else if (strstr(copy, "\"open_data\"") != NULL) {
		open_data++;
	} else if (strstr(copy, "\"error\"") != NULL) {
		client_drop(i, copy);
	} else
		n_other++;
}

/* Read what the master sent to client i and dispatch whole frames. */
static void
client_read(int i)
{
	struct client *c = &cl[i];
	uint32_t be, len;
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < 8; rounds++) {
		n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_drop(i, n == 0 ? "closed by master" : strerror(errno));
			return;
		}
		c->rlen += (size_t)n;
		while (c->rlen >= 4) {
			memcpy(&be, c->rbuf, 4);
			len = ntohl(be);
			if (len == 0 || len > RBUF_SIZE - 4) {
				client_drop(i, "oversized or empty frame from master");
				return;
			}
			if (c->rlen < 4 + len)
				break;
			client_message(i, c->rbuf + 4, len);
			if (c->state == C_DEAD)
				return;
			memmove(c->rbuf, c->rbuf + 4 + len, c->rlen - 4 - len);
			c->rlen -= 4 + len;
		}
	}
}

/* Connection of client i completed: send its register message. */
static void
client_register(int i)
{
	struct client *c = &cl[i];
	struct epoll_event ev;
	char msg[512], pool[32] = "";
	int err = 0;
	socklen_t elen = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	if (err != 0) {
		client_drop(i, strerror(err));
		return;
	}
	if (pool_count >= 0)
		snprintf(pool, sizeof(pool), ",\"pool_count\":%d", pool_count);
	snprintf(msg, sizeof(msg),
	    "{\"type\":\"register\",\"local_port\":9,\"remote_port\":%d,"
	    "\"protocol\":\"tcp\",\"token\":\"%s\",\"name\":\"loadgen-%05d\","
	    "\"mapping\":\"m\"%s}",
	    port_base > 0 ? port_base + i : 0, token, i, pool);
	if (client_send(c, msg) == -1) {
		client_drop(i, "short write of register");
		return;
	}
	c->state = C_SENT;
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)i;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Wait up to ms for events and handle them. */
static void
poll_once(int ms)
{
	struct epoll_event evs[512];
	int n, k, i;

	n = epoll_wait(ep, evs, 512, ms);
	for (k = 0; k < n; k++) {
		i = (int)evs[k].data.u32;
		if (cl[i].state == C_DEAD)
			continue;
		if (cl[i].state == C_CONNECTING) {
			if (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				client_register(i);
			continue;
		}
		client_read(i);
	}
}

int
main(int argc, char **argv)
{
	const char *ip = "127.0.0.1";
	uint64_t start, now, deadline, reg_ns, hb_start, hb_end, due;
	unsigned long alive, round, hb_idx;
	int ch, i, next = 0, port = 0, reg_max = 60, hb_secs = 20, hb_ival = 30;

	while ((ch = getopt(argc, argv, "h:p:k:n:w:a:r:P:t:H:i:")) != -1) {
		switch (ch) {
		case 'h': ip = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'k': token = optarg; break;
		case 'n': nclients = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'a': nsrc = atoi(optarg); break;
		case 'r': port_base = atoi(optarg); break;
		case 'P': pool_count = atoi(optarg); break;
		case 't': reg_max = atoi(optarg); break;
		case 'H': hb_secs = atoi(optarg); break;
		case 'i': hb_ival = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (port <= 0 || token == NULL || strlen(token) > 200 || nclients < 1 ||
	    nclients > MAX_CLIENTS || window < 1 || nsrc < 1 || nsrc > 250 ||
	    reg_max < 1 || hb_secs < 0 || hb_secs > 600 || hb_ival < 1 ||
	    (port_base > 0 && port_base + nclients > 65536))
		goto usage;
	util_raise_nofile();
	util_addr(&dst, ip, port);
	if ((cl = calloc((size_t)nclients, sizeof(*cl))) == NULL ||
	    (reg_lat = calloc((size_t)nclients, sizeof(*reg_lat))) == NULL)
		util_die("calloc");
	if ((ep = epoll_create1(0)) == -1)
		util_die("epoll_create1");

	/* Phase 1: register every client, at most `window` in flight. */
	start = util_now_ns();
	deadline = start + (uint64_t)reg_max * 1000000000ull;
	while (n_ok + n_fail < (unsigned long)nclients && util_now_ns() < deadline) {
		while (next < nclients && inflight < (unsigned long)window)
			client_connect(next++);
		poll_once(50);
		/* Clients registered over time, a point every 100 ms (for the chart). */
		if (n_tl < TIMELINE_MAX &&
		    util_now_ns() - start >= (uint64_t)n_tl * 100000000ull) {
			tl_t[n_tl] = (util_now_ns() - start) / 1e9;
			tl_n[n_tl++] = n_ok;
		}
	}
	reg_ns = util_now_ns() - start;
	for (i = 0; i < nclients; i++)	/* stragglers count as failures */
		if (cl[i].state == C_CONNECTING || cl[i].state == C_SENT)
			client_drop(i, "registration timed out");
	printf("{\"phase\":\"register\",\"clients\":%d,\"ok\":%lu,\"fail\":%lu,"
	    "\"secs\":%.3f,\"rate\":%.0f,\"window\":%d,\"src_addrs\":%d,",
	    nclients, n_ok, n_fail, reg_ns / 1e9, n_ok / (reg_ns / 1e9), window, nsrc);
	printf("\"timeline\":[");
	for (i = 0; i < (int)n_tl; i++)
		printf("%s[%.2f,%lu]", i ? "," : "", tl_t[i], tl_n[i]);
	printf("%s[%.2f,%lu]],", n_tl ? "," : "", reg_ns / 1e9, n_ok);
	printf("\"lat_p50_ms\":%.2f,", util_quantile(reg_lat, n_ok, 0.5) / 1e6);
	printf("\"lat_p99_ms\":%.2f,\"first_error\":\"", util_quantile(reg_lat, n_ok, 0.99) / 1e6);
	for (i = 0; first_error[i] != '\0'; i++)	/* JSON-safe copy */
		putchar(first_error[i] == '"' || first_error[i] == '\\' ||
		    (unsigned char)first_error[i] < 0x20 ? '\'' : first_error[i]);
	printf("\"}\n");
	fflush(stdout);

	/* Phase 2: heartbeats, client i at offset i/n of every interval. */
	hb_start = util_now_ns();
	hb_end = hb_start + (uint64_t)hb_secs * 1000000000ull;
	round = 0;
	hb_idx = 0;
	while ((now = util_now_ns()) < hb_end) {
		for (;;) {
			due = hb_start + (uint64_t)round * hb_ival * 1000000000ull +
			    (uint64_t)hb_idx * hb_ival * 1000000000ull / (uint64_t)nclients;
			if (due > now)
				break;
			if (cl[hb_idx].state == C_REGISTERED) {
				if (client_send(&cl[hb_idx], "{\"type\":\"heartbeat\"}") == 0)
					hb_sent++;
			}
			if (++hb_idx == (unsigned long)nclients) {
				hb_idx = 0;
				round++;
			}
		}
		poll_once(5);
	}
	for (alive = 0, i = 0; i < nclients; i++)
		if (cl[i].state == C_REGISTERED)
			alive++;
	printf("{\"phase\":\"heartbeat\",\"secs\":%.2f,\"interval\":%d,"
	    "\"sent\":%lu,\"acks\":%lu,\"server_heartbeats\":%lu,\"open_data\":%lu,"
	    "\"other\":%lu,\"lost\":%lu,\"alive\":%lu}\n",
	    (util_now_ns() - hb_start) / 1e9, hb_ival, hb_sent, hb_acks, srv_hb,
	    open_data, n_other, n_lost, alive);
	fflush(stdout);
	for (i = 0; i < nclients; i++)
		if (cl[i].fd > 0)
			close(cl[i].fd);
	return 0;
usage:
	fprintf(stderr, "usage: loadgen -p PORT -k TOKEN [-h IP] [-n CLIENTS] [-w WINDOW]\n"
	    "    [-a SRC_ADDRS(1-250)] [-r REMOTE_PORT_BASE] [-P POOL_COUNT(-1 = omit)]\n"
	    "    [-t REGISTER_MAX_SECONDS] [-H HEARTBEAT_SECONDS] [-i HEARTBEAT_INTERVAL]\n");
	return 2;
}
