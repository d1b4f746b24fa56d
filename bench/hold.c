/* SPDX-License-Identifier: ISC */
/*
 * hold: open N connections to an echo service (through a tunnel), prove
 * each one is relayed end to end with a one-byte echo, then keep them all
 * open and idle until stdin closes (or MAX_SECONDS pass).
 *
 * usage: hold -p PORT -n N [-h IP] [-b BATCH] [-t MAX_SECONDS]
 * Prints one JSON line {"held":..,"errors":..,"secs":..} once all are open.
 */
#include <errno.h>
#include <poll.h>
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
	const char *ip = "127.0.0.1";
	struct sockaddr_in sin;
	struct timeval tv = { 3, 0 };
	struct pollfd pfd;
	uint64_t start, deadline;
	int *fds, ch, n = 0, batch = 100, maxsec = 300, port = 0;
	int i, j, k, held = 0, errors = 0;
	char b;

	while ((ch = getopt(argc, argv, "h:p:n:b:t:")) != -1) {
		switch (ch) {
		case 'h': ip = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 't': maxsec = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (port <= 0 || n <= 0 || n > 19000 || batch <= 0)
		goto usage;
	util_raise_nofile();
	util_addr(&sin, ip, port);
	if ((fds = calloc((size_t)n, sizeof(*fds))) == NULL)
		util_die("calloc");
	start = util_now_ns();
	deadline = start + (uint64_t)maxsec * 1000000000ull;

	for (i = 0; i < n && util_now_ns() < deadline; i += batch) {
		k = i + batch > n ? n : i + batch;
		for (j = i; j < k; j++) {
			fds[j] = socket(AF_INET, SOCK_STREAM, 0);
			if (fds[j] == -1)
				util_die("socket");
			setsockopt(fds[j], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(fds[j], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			b = 'h';
			if (util_now_ns() > deadline ||
			    connect(fds[j], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
			    util_write_all(fds[j], &b, 1) == -1) {
				close(fds[j]);
				fds[j] = -1;
				errors++;
			}
		}
		for (j = i; j < k; j++) {
			if (fds[j] == -1)
				continue;
			/* A dead path costs at most 3 s per fd, never past the deadline. */
			if (util_now_ns() > deadline ||
			    util_read_all(fds[j], &b, 1) == -1) {
				close(fds[j]);
				fds[j] = -1;
				errors++;
				continue;
			}
			held++;
		}
		if (errors > n / 10 + 10)	/* the path is broken: stop early */
			break;
	}
	printf("{\"held\":%d,\"errors\":%d,\"secs\":%.2f}\n", held, errors,
	    (util_now_ns() - start) / 1e9);
	fflush(stdout);

	/* Hold until stdin closes or the deadline passes. */
	pfd.fd = 0;
	pfd.events = POLLIN;
	while (util_now_ns() < deadline) {
		if (poll(&pfd, 1, 500) > 0) {
			if (read(0, &b, 1) <= 0)
				break;
		}
	}
	for (j = 0; j < n; j++)
		if (fds[j] > 0)
			close(fds[j]);
	return 0;
usage:
	fprintf(stderr, "usage: hold -p PORT -n N(1-19000) [-h IP] [-b BATCH] [-t MAX_SECONDS]\n");
	return 2;
}
