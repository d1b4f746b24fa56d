/* SPDX-License-Identifier: ISC */
/*
 * cps: new-connection rate. Several threads each loop: connect, write one
 * byte, read the echo, close; for a fixed time. Reports connections per
 * second and the connect-to-echo time percentiles.
 *
 * usage: cps -p PORT [-h IP] [-c THREADS] [-d SECONDS] [-a SRC_ADDRS]
 * -a N spreads the source address over 127.0.0.2 .. 127.0.0.(N+1) so that
 * TIME_WAIT sockets of earlier runs cannot exhaust the ephemeral ports.
 * Prints one JSON object.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

#define MAX_SAMPLES_TOTAL	(4u << 20)

struct worker {
	pthread_t	 th;
	int		 index;
	uint64_t	*lat;
	size_t		 cap;
	size_t		 n;
	unsigned long	 errors;
};

static struct sockaddr_in dst;
static uint64_t deadline;
static int nsrc;

/* One connect / echo / close cycle; returns the elapsed ns or 0 on error. */
static uint64_t
cycle(int index, unsigned long iter)
{
	struct timeval tv = { 5, 0 };
	struct sockaddr_in src;
	uint64_t t0;
	char b = 'x';
	int fd, one = 1;

	t0 = util_now_ns();
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (nsrc > 1) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000002u +
		    (uint32_t)((iter * 7 + (unsigned long)index) % (unsigned long)nsrc));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1)
		goto fail;
	util_nodelay(fd);
	if (util_write_all(fd, &b, 1) == -1 || util_read_all(fd, &b, 1) == -1)
		goto fail;
	t0 = util_now_ns() - t0;
	close(fd);
	return t0 ? t0 : 1;
fail:
	close(fd);
	return 0;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	unsigned long iter;
	uint64_t ns;

	for (iter = 0; w->n < w->cap && util_now_ns() < deadline; iter++) {
		ns = cycle(w->index, iter);
		if (ns == 0) {
			w->errors++;
			if (w->errors > 1000)	/* give up on a broken path */
				break;
			usleep(1000);
			continue;
		}
		w->lat[w->n++] = ns;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *ip = "127.0.0.1";
	struct worker *ws;
	uint64_t *all, start, elapsed;
	unsigned long errors = 0;
	size_t total = 0, i;
	int ch, t, port = 0, threads = 4, secs = 5;

	nsrc = 1;
	while ((ch = getopt(argc, argv, "h:p:c:d:a:")) != -1) {
		switch (ch) {
		case 'h': ip = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': threads = atoi(optarg); break;
		case 'd': secs = atoi(optarg); break;
		case 'a': nsrc = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (port <= 0 || threads < 1 || threads > 64 || secs < 1 || secs > 120 ||
	    nsrc < 1 || nsrc > 250)
		goto usage;
	util_raise_nofile();
	util_addr(&dst, ip, port);
	ws = calloc((size_t)threads, sizeof(*ws));
	start = util_now_ns();
	deadline = start + (uint64_t)secs * 1000000000ull;
	for (t = 0; t < threads; t++) {
		ws[t].index = t;
		ws[t].cap = MAX_SAMPLES_TOTAL / (unsigned)threads;
		if ((ws[t].lat = malloc(ws[t].cap * sizeof(uint64_t))) == NULL)
			util_die("malloc");
		pthread_create(&ws[t].th, NULL, worker_run, &ws[t]);
	}
	for (t = 0; t < threads; t++) {
		pthread_join(ws[t].th, NULL);
		total += ws[t].n;
		errors += ws[t].errors;
	}
	elapsed = util_now_ns() - start;
	if ((all = malloc((total + 1) * sizeof(*all))) == NULL)
		util_die("malloc");
	for (t = 0, i = 0; t < threads; t++) {
		memcpy(all + i, ws[t].lat, ws[t].n * sizeof(*all));
		i += ws[t].n;
	}
	printf("{\"threads\":%d,\"secs\":%.2f,\"conns\":%zu,\"errors\":%lu,"
	    "\"cps\":%.0f,", threads, elapsed / 1e9, total, errors,
	    total / (elapsed / 1e9));
	printf("\"p50_us\":%.1f,", util_quantile(all, total, 0.50) / 1000.0);
	printf("\"p99_us\":%.1f}\n", util_quantile(all, total, 0.99) / 1000.0);
	return 0;
usage:
	fprintf(stderr, "usage: cps -p PORT [-h IP] [-c THREADS(1-64)] [-d SECONDS] [-a SRC_ADDRS(1-250)]\n");
	return 2;
}
