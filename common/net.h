/* SPDX-License-Identifier: ISC */
/* net.h: thin socket helpers (addresses, options, listeners, handshake reads). */
#ifndef GOTUNNEL_NET_H
#define GOTUNNEL_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct event_base;

struct hsread {
	unsigned char	 hdr[4];
	size_t		 got;		/* header + payload bytes read so far */
	uint32_t	 len;		/* payload length, once the header is in */
	char		*buf;		/* len + 1 bytes */
};

enum hs_result { HS_AGAIN, HS_OK, HS_BAD, HS_EOF };

int		net_listen(const char *addr, uint16_t port, int reuseport,
		    int backlog);
int		net_port_free(const char *addr, uint16_t port);
int		net_udp_bind(const char *addr, uint16_t port, int reuseport);
int		net_connect_nb(const char *host, uint16_t port, int *inprogress);
int		net_connect_addr_nb(const struct sockaddr *, socklen_t,
		    int *inprogress);
int		net_set_nonblock(int);
void		net_set_nodelay(int);
void		net_addr_str(const struct sockaddr *, char *, size_t);
void		net_peer_str(int fd, char *, size_t);
uint16_t	net_local_port(int fd);
void		net_random_hex(char *out, size_t nbytes);	/* net_random.c */
void		net_linger_close(struct event_base *, int fd);
void		net_linger_close_all(void);
typedef ssize_t (*hs_read_fn)(void *ctx, void *buf, size_t len);
enum hs_result	hsread_step(struct hsread *, int fd, const char **err);
enum hs_result	hsread_step_io(struct hsread *, hs_read_fn, void *ctx,
		    const char **err);
void		hsread_reset(struct hsread *);

#endif
