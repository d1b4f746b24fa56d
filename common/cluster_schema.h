/* SPDX-License-Identifier: ISC */
/* cluster_schema.h: the PostgreSQL schema of cluster mode (cluster_schema.c). */
#ifndef GOTUNNEL_CLUSTER_SCHEMA_H
#define GOTUNNEL_CLUSTER_SCHEMA_H

#define CLUSTER_SCHEMA_VERSION	2

const char	*cluster_schema_script(void);

#endif
