/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config_client.c: gotunnel-client.ini (client_config_load), from a
 * memory file.  Accepted files have every mapping complete and in range;
 * refused ones give one "FILE[:LINE]: message" line.
 */
#include "client.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct client_config	c;
	char				path[64], err[1024];
	int				fd;

	fd = fuzz_memfd(data, size, path, sizeof(path));
	err[0] = '\0';
	if (client_config_load(path, &c, err, sizeof(err)) == -1) {
		CHECK(strncmp(err, path, strlen(path)) == 0);
		CHECK(err[strlen(path)] == ':' && strchr(err, '\n') == NULL);
	} else {
		CHECK(c.token[0] != '\0');
		CHECK(c.server_port >= 1 && c.server_port <= 65535);
		CHECK(c.heartbeat_timeout > c.heartbeat_interval);
		CHECK(c.nmaps >= 1 && c.nmaps <= CLIENT_MAX_MAPPINGS);
		for (size_t i = 0; i < c.nmaps; i++) {
			CHECK(c.maps[i].local_port >= 1 &&
			    c.maps[i].local_port <= 65535);
			CHECK(c.maps[i].remote_port >= 0 &&
			    c.maps[i].remote_port <= 65535);
		}
	}
	close(fd);
	return 0;
}
