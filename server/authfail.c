/* SPDX-License-Identifier: ISC */
/*
 * authfail.c: a worker tells the master about each register with a bad
 * token, with its source address, for the auth_failures alert.  The
 * message is a datagram on the IPC channel the worker has anyway; when the
 * channel is full it is dropped (the count is a lower bound under a flood).
 */
#include <string.h>
#include <sys/socket.h>

#include "server.h"

/* Reports a bad token from addr ("ip:port" or "[v6]:port"). */
void
authfail_report(const char *addr)
{
	struct ipc_msg	 m;
	const char	*colon = strrchr(addr, ':');
	size_t		 n = colon != NULL ? (size_t)(colon - addr) : strlen(addr);

	if (W->conf.nalerts == 0)
		return;
	if (n > 0 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	memset(&m, 0, sizeof(m));
	m.type = IPC_AUTH_FAILURE;
	if (n >= sizeof(m.reason))
		n = sizeof(m.reason) - 1;
	memcpy(m.reason, addr, n);
	(void)send(W->ipc_fd, &m, sizeof(m), MSG_DONTWAIT);
}
