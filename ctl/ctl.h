/* SPDX-License-Identifier: ISC */
/* ctl.h: gotunnelctl's private header; sections list each file's public functions. */
#ifndef GOTUNNEL_CTL_H
#define GOTUNNEL_CTL_H

#include <libpq-fe.h>
#include <yajl/yajl_tree.h>

#include "config.h"
#include "db.h"
#include "proto.h"

/* gotunnelctl.c */
yajl_val ctl_request_msg(const char *path, const struct msg *);

/* ctl_cluster.c */
PGconn	*ctl_cluster_open(const char *conninfo, const char *what);
int	 ctl_cluster_user_exists(PGconn *, const char *name);
int	 ctl_cluster_token_exists(PGconn *, const char *name);
int	 ctl_cluster_user_sync(PGconn *, struct db *, const char *name);
int	 ctl_cluster_user_totp(PGconn *, struct db *, const char *name,
	    const unsigned char *secret, size_t len);
int	 ctl_cluster_token_sync(PGconn *, struct db *, const char *name);

/* ctl_token.c */
int	 ctl_token(const struct server_config *, int argc, char **argv, int json);

#endif
