/* SPDX-License-Identifier: ISC */
/* ctl.h: gotunnelctl's private header; sections list each file's public functions. */
#ifndef GOTUNNEL_CTL_H
#define GOTUNNEL_CTL_H

#include <yajl/yajl_tree.h>

#include "config.h"
#include "proto.h"

/* gotunnelctl.c */
yajl_val ctl_request_msg(const char *path, const struct msg *);

/* ctl_token.c */
int	 ctl_token(const struct server_config *, int argc, char **argv, int json);

#endif
