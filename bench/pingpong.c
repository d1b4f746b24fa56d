/* SPDX-License-Identifier: ISC */
/*
 * pingpong: latency of 64-byte round trips over one TCP connection to an
 * echo service (directly or through a tunnel).
 *
 * usage: pingpong -p PORT [-h IP] [-n ROUNDS] [-s SIZE] [-t MAX_SECONDS]
 * Prints one JSON object: rounds, p50_us, p90_us, p99_us, max_us, mean_us.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct timeval tv = { 10, 0 };
	const char *ip = "127.0.0.1";
	char buf[65536], rbuf[65536];
	uint64_t *lat, t0, start, deadline, sum = 0;
	int ch, fd, port = 0, rounds = 20000, size = 64, maxsec = 60, warm = 200;
	size_t n = 0, i;

	while ((ch = getopt(argc, argv, "h:p:n:s:t:")) != -1) {
		switch (ch) {
		case 'h': ip = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': rounds = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		case 't': maxsec = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (port <= 0 || rounds <= 0 || size <= 0 || size > (int)sizeof(buf))
		goto usage;
	if ((lat = calloc((size_t)rounds, sizeof(*lat))) == NULL)
		util_die("calloc");
	util_addr(&sin, ip, port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		util_die("socket");
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		util_die("connect");
	util_nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(buf, 'x', sizeof(buf));

	/* Warm-up round trips are not counted (first data, pool, caches). */
	for (i = 0; i < (size_t)warm; i++) {
		if (util_write_all(fd, buf, (size_t)size) == -1 ||
		    util_read_all(fd, rbuf, (size_t)size) == -1)
			util_die("warm-up round trip");
	}
	start = util_now_ns();
	deadline = start + (uint64_t)maxsec * 1000000000ull;
	for (n = 0; n < (size_t)rounds; n++) {
		t0 = util_now_ns();
		if (t0 > deadline)
			break;
		if (util_write_all(fd, buf, (size_t)size) == -1 ||
		    util_read_all(fd, rbuf, (size_t)size) == -1)
			util_die("round trip");
		lat[n] = util_now_ns() - t0;
		sum += lat[n];
	}
	close(fd);
	if (n == 0)
		return 1;
	printf("{\"rounds\":%zu,\"size\":%d,\"mean_us\":%.1f,", n, size,
	    (double)sum / (double)n / 1000.0);
	printf("\"p50_us\":%.1f,", util_quantile(lat, n, 0.50) / 1000.0);
	printf("\"p90_us\":%.1f,", util_quantile(lat, n, 0.90) / 1000.0);
	printf("\"p99_us\":%.1f,", util_quantile(lat, n, 0.99) / 1000.0);
	printf("\"max_us\":%.1f}\n", lat[n - 1] / 1000.0);
	return 0;
usage:
	fprintf(stderr, "usage: pingpong -p PORT [-h IP] [-n ROUNDS] [-s SIZE] [-t MAX_SECONDS]\n");
	return 2;
}
