/* SPDX-License-Identifier: ISC */
/*
 * admin.h: gotunnel-admin, the console's HTTP server (a Kore 4.1 module)
 * and its launcher.  Sections list each file's public functions.
 */
#ifndef GOTUNNEL_ADMIN_H
#define GOTUNNEL_ADMIN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ADMIN_ENV_CONFIG	"GOTUNNEL_ADMIN_CONFIG"
#define ADMIN_ENV_TLS		"GOTUNNEL_ADMIN_TLS"
#define ADMIN_ENV_PEERS		"GOTUNNEL_ADMIN_PEERS"
#define ADMIN_PEER_LEN		64	/* one slot of the TLS peer table */

/* The [admin] section plus what the admin needs from [common]. */
struct admin_conf {
	char		path[PATH_MAX];		/* the ini file, absolute */
	char		bind_addr[64];
	uint16_t	bind_port;
	int64_t		session_ttl;		/* seconds */
	char		assets[PATH_MAX];
	char		tls_cert[PATH_MAX];
	char		tls_key[PATH_MAX];
	char		metrics_token[256];
	char		data_dir[PATH_MAX];
	char		control_socket[PATH_MAX];
	char		tls_cert_file[PATH_MAX];	/* the master's, for its fingerprint */
	char		cluster_database[1024];	/* [cluster] database: "" = no cluster */
	char		cluster_node_name[64];	/* [cluster] node_name, default the host name */
	int64_t		cluster_node_timeout;	/* [cluster] node_timeout, seconds */
};

/* conf.c */
int	 admin_conf_load(const char *path, struct admin_conf *, char *err,
	    size_t errlen);
int	 admin_conf_check(struct admin_conf *, char *err, size_t errlen);
int	 admin_duration_parse(const char *, int64_t *);
int	 admin_addr_is_loopback(const char *);

/* tls.c (launcher only) */
struct tls_front;
int	 tls_check(const char *cert, const char *key, char *err, size_t);
struct tls_front *tls_front_new(const struct admin_conf *, const char *peers,
	    uint16_t backend_port, char *err, size_t errlen);
int	 tls_front_run(struct tls_front *, pid_t child);
int	 tls_front_stopping(struct tls_front *);
void	 tls_front_free(struct tls_front *);

#endif
