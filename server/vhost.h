/* SPDX-License-Identifier: ISC */
/* vhost.h: what vhost.c (routing) and vhost_pump.c (per-request rewrite)
 * share about an http/https mapping. */
#ifndef GOTUNNEL_VHOST_H
#define GOTUNNEL_VHOST_H

#include "db.h"
#include "http_head.h"

/* What the master knows of an http/https mapping besides struct mapping. */
struct vhost_map {
	int		 https;
	char		 domains[sizeof(((struct db_mapping *)0)->domains)];
	int		 has_auth;
	unsigned char	 auth_hash[32];	/* generichash("user:password") */
	char		 host_rewrite[HTTP_HOST_MAX + 8];
};

struct vhost_pump;
struct pubconn;

/* vhost_pump.c */
int	vhost_auth_ok(const struct vhost_map *, const char *buf,
	    const struct http_head *);
struct vhost_pump *vhost_pump_new(const struct vhost_map *, int vfd, int sfd,
	    const char *peer);

#endif
