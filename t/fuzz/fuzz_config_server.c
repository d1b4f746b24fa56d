/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config_server.c: gotunnel.ini as the master, gotunnelctl and the
 * admin read it (server_config_load), from a memory file.  A file is
 * either accepted with every value in its documented range, or refused
 * with one "FILE[:LINE]: message" line.
 */
#include "config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct server_config	c;
	char				path[64], err[1024];
	int				fd;

	fd = fuzz_memfd(data, size, path, sizeof(path));
	err[0] = '\0';
	if (server_config_load(path, &c, err, sizeof(err)) == -1) {
		CHECK(strncmp(err, path, strlen(path)) == 0);
		CHECK(err[strlen(path)] == ':' && strchr(err, '\n') == NULL);
	} else {
		/* An empty token is allowed: per-client credentials only. */
		CHECK(c.bind_port >= 1 && c.bind_port <= 65535);
		CHECK(c.admin_bind_port >= 1 && c.admin_bind_port <= 65535);
		CHECK(c.workers >= 1 && c.heartbeat_timeout >= 2);
		CHECK(c.allow_ports.n >= 1 && c.allow_ports.n <= PORTRANGE_MAX);
		CHECK(c.control_socket[0] != '\0' && c.proxy_bind_addr[0] != '\0');
		CHECK(memchr(c.token, '\0', sizeof(c.token)) != NULL);
	}
	close(fd);
	return 0;
}
