/* SPDX-License-Identifier: ISC */
/* proto.h: control messages <-> struct msg (strict yajl callback parser). */
#ifndef GOTUNNEL_PROTO_H
#define GOTUNNEL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "db_limits.h"

#define PROTO_MAX_DEPTH	16

enum msg_type {
	MSG_NONE,
	MSG_REGISTER,
	MSG_REGISTER_RESPONSE,
	MSG_HEARTBEAT,
	MSG_HEARTBEAT_ACK,
	MSG_OPEN_DATA,
	MSG_DATA,
	MSG_START,
	MSG_ERROR,
	MSG_CTL,
	MSG_CTL_RESPONSE,
	MSG_NTYPES
};

enum msg_field {
	F_TYPE, F_STATUS, F_ERROR, F_NAME, F_MAPPING, F_CLIENT_ID, F_TOKEN,
	F_PROTOCOL, F_LOCAL_IP, F_LOCAL_PORT, F_REMOTE_PORT, F_POOL_COUNT,
	F_DATA_ID, F_PEER, F_CMD,
	F_MAX_CONNS, F_CONN_RATE, F_CONN_BURST, F_BANDWIDTH_LIMIT,	/* limits */
	F_CUSTOM_DOMAINS, F_SUBDOMAIN, F_HTTP_USER, F_HTTP_PASSWORD,
	F_HOST_HEADER_REWRITE,						/* vhosts */
	F_ALLOW_CIDRS, F_DENY_CIDRS,					/* source ACL */
	F_NFIELDS
};

struct msg {
	enum msg_type	type;
	uint32_t	present;		/* 1 << enum msg_field */
	char		type_s[32];
	char		status[16];
	char		error[256];
	char		name[DB_NAME_LEN];
	char		mapping[DB_NAME_LEN];
	char		client_id[DB_ID_LEN];
	char		token[256];
	char		protocol[16];
	char		local_ip[DB_ADDR_LEN];
	int64_t		local_port;
	int64_t		remote_port;
	int64_t		pool_count;
	char		data_id[80];
	char		peer[DB_ADDR_LEN];
	char		cmd[32];
	int64_t		max_conns;		/* per mapping, 0: server default */
	int64_t		conn_rate;		/* new connections a second, 0: none */
	int64_t		conn_burst;		/* 0: conn_rate */
	int64_t		bandwidth_limit;	/* bytes a second each way, 0: none */
	char		custom_domains[512];	/* "a.example.org,b.example.org" */
	char		subdomain[64];		/* app -> app.<subdomain_host> */
	char		http_user[64];
	char		http_password[128];
	char		host_header_rewrite[256];
	char		allow_cidrs[CIDR_STR_MAX];	/* register: source ACL */
	char		deny_cidrs[CIDR_STR_MAX];
};

#define MSG_HAS(m, f)	(((m)->present >> (f)) & 1)
#define MSG_SET(m, f)	((m)->present |= 1u << (f))

int		 proto_parse(const char *json, size_t len, struct msg *,
		    char *err, size_t errlen);
int		 proto_encode(const struct msg *, char *out, size_t *len);
void		 msg_init(struct msg *, enum msg_type);
void		 msg_set_str(struct msg *, enum msg_field, const char *);
void		 msg_set_int(struct msg *, enum msg_field, int64_t);
const char	*msg_type_name(enum msg_type);

#endif
