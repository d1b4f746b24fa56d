/* SPDX-License-Identifier: ISC */
/*
 * db.h: gotunnel's shared state in LMDB.
 *
 * One environment (data_dir) is shared by the master, its workers,
 * gotunnelctl and gotunnel-admin.  Every process opens it itself, after
 * fork(), with db_open(); nothing LMDB-related crosses a fork.
 *
 * Records are fixed-size C structs (host byte order: every reader runs on
 * the same machine as the writers).  Each struct starts with a version so a
 * later layout can be told apart.  Keys of numbered tables are 8-byte
 * big-endian sequence numbers so that cursor order is time order.
 *
 * Named databases:
 *   mappings    uint16 port (big endian)      -> struct db_mapping
 *   clients     client_id string              -> struct db_client
 *   conns       uint64 conn id (big endian)   -> struct db_conn   (live public connections)
 *   hist_sess   uint64 seq                    -> struct db_hist_session
 *   hist_conn   uint64 seq                    -> struct db_hist_conn
 *   stats       uint64 minute (unix time/60)  -> struct db_stats
 *   users       username string               -> struct db_user
 *   websess     32-byte sha256 of session id  -> struct db_websession
 *   audit       uint64 seq                    -> struct db_audit
 *   tokens      credential name string        -> struct db_token  (db_token.h)
 *   token_idx   32-byte hash of the secret    -> credential name
 *   meta        string                        -> anything (schema version)
 *   mapstate    uint16 port (big endian)      -> struct db_mapstate (db_mapstate.h)
 *   domains     "http:" or "https:" + domain  -> struct db_domain (db_vhost.h)
 *   sticky      client name "\n" mapping name -> struct db_sticky (db_vhost.h)
 *   alerts      uint64 seq                    -> struct db_alert (db_alert.h, history)
 *   alert_queue uint64 seq                    -> struct db_alert_out (webhooks to deliver)
 *   alert_quota client name string            -> struct db_alert_quota (bytes today)
 *
 * A tcp mapping's key in mappings is its port; an http or https mapping
 * (no port of its own) is keyed "@" client_id "/" mapping name.
 *   outbox      uint64 seq                    -> struct db_outbox (cluster mode:
 *               finished history for PostgreSQL, db_outbox.c)
 */
#ifndef GOTUNNEL_DB_H
#define GOTUNNEL_DB_H

#include <stdint.h>
#include <stddef.h>
#include <lmdb.h>

#include "db_limits.h"

#define DB_RECORD_VERSION	1
#define DB_DEFAULT_MAPSIZE	(1ULL << 30)

enum db_table {
	DB_MAPPINGS,
	DB_CLIENTS,
	DB_CONNS,
	DB_HIST_SESS,
	DB_HIST_CONN,
	DB_STATS,
	DB_USERS,
	DB_WEBSESS,
	DB_AUDIT,
	DB_TOKENS,
	DB_TOKEN_IDX,
	DB_META,
	DB_MAPSTATE,
	DB_DOMAINS,
	DB_STICKY,
	DB_OUTBOX,
	DB_ALERTS,
	DB_ALERT_QUEUE,
	DB_ALERT_QUOTA,
	DB_NTABLES
};

/* A public port published for a client (live only). */
struct db_mapping {
	uint32_t	version;
	uint16_t	remote_port;
	uint16_t	local_port;
	char		client_id[DB_ID_LEN];
	char		client_name[DB_NAME_LEN];
	char		name[DB_NAME_LEN];	/* mapping name, e.g. "ssh" */
	char		local_ip[DB_ADDR_LEN];
	int64_t		since;			/* unix seconds */
	int32_t		worker_pid;
	uint32_t	worker_index;
	uint64_t	bytes_in;		/* public -> client, live total */
	uint64_t	bytes_out;		/* client -> public */
	uint32_t	live_conns;		/* tcp: connections, udp: flows */
	uint32_t	total_conns;
	char		type[8];		/* "tcp" ("" reads as tcp), "udp", "http", "https" */
	char		domains[512];		/* http/https: "a.example.org,b.example.org" */
};

/* A connected client (live only). */
struct db_client {
	uint32_t	version;
	uint32_t	nmappings;
	char		id[DB_ID_LEN];
	char		name[DB_NAME_LEN];
	char		address[DB_ADDR_LEN];	/* peer of the control connection */
	int64_t		connected_since;
	int64_t		last_heartbeat;
	int32_t		worker_pid;
	uint32_t	worker_index;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	uint32_t	live_conns;
	uint32_t	pad;
	uint64_t	hist_seq;		/* its record in hist_sess */
	char		credential[DB_NAME_LEN]; /* per-client credential, "" for the shared token */
};

/* A live public connection. */
struct db_conn {
	uint32_t	version;
	uint16_t	remote_port;
	uint16_t	local_port;
	char		client_id[DB_ID_LEN];
	char		peer[DB_ADDR_LEN];
	int64_t		since;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	int32_t		worker_pid;
	uint32_t	pad;
};

/* History: one client session. end == 0 while it is online. */
struct db_hist_session {
	uint32_t	version;
	uint32_t	nmappings;
	char		client_id[DB_ID_LEN];
	char		name[DB_NAME_LEN];
	char		address[DB_ADDR_LEN];
	char		reason[DB_REASON_LEN];	/* why it ended, "" while online */
	int64_t		start;
	int64_t		end;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	char		ports[DB_NAME_LEN];	/* "10022,10080" */
};

/* History: one public connection. */
struct db_hist_conn {
	uint32_t	version;
	uint16_t	remote_port;
	uint16_t	local_port;
	char		client_id[DB_ID_LEN];
	char		client_name[DB_NAME_LEN];
	char		mapping[DB_NAME_LEN];
	char		peer[DB_ADDR_LEN];
	char		reason[DB_REASON_LEN];	/* "closed", "local refused", ... */
	int64_t		start;
	int64_t		end;
	uint64_t	bytes_in;		/* public -> client */
	uint64_t	bytes_out;		/* client -> public */
};

/* One minute of statistics; workers add bytes, the master samples gauges. */
struct db_stats {
	uint32_t	version;
	uint32_t	online_clients;
	uint32_t	active_conns;
	uint32_t	new_conns;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
};

/* Console roles, least to most privileged (0 in a record reads as admin). */
enum db_role {
	DB_ROLE_NONE = 0,
	DB_ROLE_VIEWER = 1,	/* reads everything, changes nothing */
	DB_ROLE_OPERATOR = 2,	/* also disconnects, switches mappings */
	DB_ROLE_ADMIN = 3	/* also users, credentials, settings */
};

/*
 * An operator of the console.  Records written before roles existed end
 * at `updated` (DB_USER_V1_SIZE): they read as admin without TOTP.
 */
struct db_user {
	uint32_t	version;
	uint32_t	flags;
	char		name[DB_USER_LEN];
	char		hash[DB_HASH_LEN];	/* argon2id, crypto_pwhash_str */
	int64_t		created;
	int64_t		updated;
	/* version 2 */
	uint32_t	role;			/* enum db_role */
	uint32_t	totp_len;		/* 0: no second factor */
	unsigned char	totp[64];		/* RFC 6238 secret (raw bytes) */
	int64_t		totp_last;		/* last step used: no replays */
};
#define DB_USER_V1_SIZE		offsetof(struct db_user, role)
#define DB_USER_VERSION		2

/* A console login session; the key is sha256(session id). */
struct db_websession {
	uint32_t	version;
	uint32_t	pad;
	char		user[DB_USER_LEN];
	char		csrf[72];		/* hex, NUL terminated */
	char		address[DB_ADDR_LEN];
	int64_t		created;
	int64_t		expires;
};

/* One audit event. */
struct db_audit {
	uint32_t	version;
	uint32_t	ok;			/* 1 success, 0 failure */
	int64_t		time;
	char		user[DB_USER_LEN];
	char		action[32];		/* login, logout, disconnect, user_add, ... */
	char		address[DB_ADDR_LEN];
	char		detail[128];
};

struct db {
	MDB_env		*env;
	MDB_dbi		 dbi[DB_NTABLES];
	char		 path[4096];
	int		 full;		/* a write hit MDB_MAP_FULL: grow at commit */
	int		 outbox;	/* cluster mode: finished history also goes to outbox */
};

/* A finished history record waiting to be written to PostgreSQL. */
enum db_outbox_kind { DB_OUTBOX_SESS = 1, DB_OUTBOX_CONN, DB_OUTBOX_AUDIT };
struct db_outbox {
	uint32_t	kind;			/* enum db_outbox_kind */
	uint32_t	pad;
	union {
		struct db_hist_session	sess;
		struct db_hist_conn	conn;
		struct db_audit		audit;
	}		u;
};

/* db.c */
int	 db_open(struct db *, const char *dir, int readonly);
void	 db_close(struct db *);
int	 db_txn_begin(struct db *, int readonly, MDB_txn **);
int	 db_txn_commit(struct db *, MDB_txn *);
int	 db_reader_check(struct db *, int *dead);
int	 db_grow(struct db *);
int	 db_put(struct db *, MDB_txn *, MDB_dbi, MDB_val *, MDB_val *,
	    unsigned int);
uint64_t db_next_seq(MDB_txn *, MDB_dbi);
void	 db_key_u64(uint64_t, unsigned char [8]);
uint64_t db_u64_key(const MDB_val *);
void	 db_strlcpy(char *, const char *, size_t);
int64_t	 db_now(void);
const char *db_table_name(enum db_table);

/* db_outbox.c */
int	 db_outbox_put(struct db *, MDB_txn *, enum db_outbox_kind,
	    const void *rec, size_t size);
int	 db_outbox_origin(struct db *, char *out, size_t len);

#endif
