/* SPDX-License-Identifier: ISC */
/*
 * server.h: gotunnel-master's private header.  Sections list each file's
 * public functions, relayd-style.
 */
#ifndef GOTUNNEL_SERVER_H
#define GOTUNNEL_SERVER_H

#include <sys/queue.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "cidr.h"
#include "config.h"
#include "db.h"
#include "db_token.h"
#include "net.h"
#include "strmap.h"

struct msg;
struct sockaddr;

#define MAX_WORKERS		256
#define REGISTER_TIMEOUT	10	/* seconds to complete the first message */
#define DATA_ID_TTL		30	/* seconds an open_data id stays valid */
#define WAIT_FOR_DATA_TIMEOUT	10	/* seconds a public conn waits for a data conn */
#define MAX_WAITING_PER_SESSION	1024	/* public conns queued for data conns */
#define MAX_PENDING		1024	/* unauthenticated conns per worker */
#define MAX_PENDING_PER_ADDR	256	/* ... and per source address */
#define CONTROL_OUT_HIGH	(1024 * 1024) /* control output buffer bound */

/* Messages between the master and a worker (SOCK_SEQPACKET). */
enum ipc_type {
	IPC_KICK = 1,		/* master -> worker: close client_id */
	IPC_KICK_RESULT,	/* worker -> master: ok 1/0 */
	IPC_RELOAD,		/* master -> worker: re-read the config */
	IPC_STOP,		/* master -> worker: drain and exit */
	IPC_MAPPING_STATE,	/* master -> worker: disable/enable remote_port */
	IPC_MAPPING_RESULT,	/* worker -> master: applied */
	IPC_CLAIM,		/* worker -> master: may identity hold remote_port
				 * cluster-wide? (cluster mode) */
	IPC_CLAIM_RESULT,	/* master -> worker: ok 1/0, reason */
	IPC_CRED_KICK,		/* master -> worker: recheck credential client_id (its name) */
	IPC_AUTH_FAILURE,	/* worker -> master: bad token from reason (an IP) */
};

struct ipc_msg {
	uint32_t	type;
	uint32_t	ok;
	uint64_t	cookie;		/* matches a result to its request */
	char		client_id[DB_ID_LEN];
	char		reason[64];
	uint32_t	remote_port;	/* IPC_MAPPING_STATE, IPC_CLAIM */
	uint32_t	disabled;
	char		identity[DB_NAME_LEN];	/* IPC_CLAIM: the port's owner */
};

/* Messages between workers (SOCK_DGRAM, may carry a descriptor). */
enum mesh_type {
	MESH_DATA_CONN = 1,	/* a data connection for the owner of data_id (fd attached) */
	MESH_KILL,		/* close client_id: its client has reconnected */
	MESH_TLS_CONN,		/* a TLS connection steered here before its
				 * handshake (fd attached, id = peer address) */
	MESH_VHOST_CONN,	/* a vhost visitor for a domain served here
				 * (fd attached, unread; id = "http"/"https") */
};

struct mesh_msg {
	uint32_t	type;
	char		id[80];		/* data_id or client_id */
};

struct session;
struct mapping;
struct cred_sess;
struct acl;
struct udp_map;

/* A mesh message waiting for room in the peer's queue (max_dgram_qlen). */
struct mesh_out {
	TAILQ_ENTRY(mesh_out)	 entry;
	struct mesh_msg		 mm;
	int			 fd;
};
TAILQ_HEAD(mesh_out_list, mesh_out);

#define MESH_QUEUE_MAX	4096	/* per peer; beyond, the connection is dropped */

/* How far a pending connection's TLS start has come (tlsaccept.c). */
enum tls_stage { TS_PEEK, TS_HANDSHAKE, TS_READY, TS_PLAIN };

/* A connection that has not sent its first message yet. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	int			 fd;
	struct ssl_st		*ssl;		/* once the TLS handshake began */
	enum tls_stage		 tls_stage;
	int			 steered;	/* came from another worker */
	short			 waiting_for;	/* the event p->ev waits for */
	char			 addr[DB_ADDR_LEN];
	char			 ip[DB_ADDR_LEN];	/* address without port */
	struct event		 ev;
	struct hsread		 hs;
	time_t			 since;
};
TAILQ_HEAD(pending_list, pending);

/* An idle data connection in a session's pool. */
struct dataconn {
	TAILQ_ENTRY(dataconn)	 entry;
	struct session		*session;
	int			 fd;
	struct ssl_st		*ssl;		/* NULL for clear text */
	struct event		 ev;		/* EOF while idle */
};
TAILQ_HEAD(dataconn_list, dataconn);

/* A public connection: waiting for a data connection, then relayed. */
struct pubconn {
	TAILQ_ENTRY(pubconn)	 entry;		/* mapping's list */
	TAILQ_ENTRY(pubconn)	 wait_entry;	/* session's wait queue */
	struct mapping		*mapping;
	int			 fd;
	struct relay		*relay;
	struct event		 wait_timer;
	int			 waiting;
	uint64_t		 id;		/* key in the conns table */
	uint64_t		 hist_seq;	/* 0 until written */
	char			 peer[DB_ADDR_LEN];
	int64_t			 since;
	uint64_t		 flushed_in, flushed_out; /* bytes already counted */
	int			 in_db;		/* written to the conns table
						   (FLUSH_PENDING: in the open txn) */
	struct vhost_pump	*pump;		/* http: the visitor's side (vhost_pump.c) */
};
TAILQ_HEAD(pubconn_list, pubconn);

/* A published port of a session. */
struct mapping {
	TAILQ_ENTRY(mapping)	 entry;
	struct session		*session;
	uint16_t		 remote_port;
	uint16_t		 local_port;
	char			 name[DB_NAME_LEN];
	char			 local_ip[DB_ADDR_LEN];
	int			 fd;
	struct event		 ev_accept;
	struct event		 ev_accept_retry;	/* after EMFILE */
	struct pubconn_list	 conns;
	uint32_t		 live_conns;
	uint32_t		 total_conns;
	uint64_t		 bytes_in, bytes_out;
	struct map_limit	*limit;		/* limit.c */
	char			 type[8];	/* "tcp", "udp", "http", "https" */
	struct vhost_map	*vhost;		/* http/https only (vhost.c) */
	struct acl		*acl;		/* source ACL (acl.c), NULL: none */
	struct udp_map		*udp;		/* udp.c; NULL for tcp */
};
TAILQ_HEAD(mapping_list, mapping);

/* A one-time data id handed to a client in open_data. */
struct data_ticket {
	TAILQ_ENTRY(data_ticket) entry;
	struct session		*session;
	char			 id[80];
	time_t			 expires;
};
TAILQ_HEAD(ticket_list, data_ticket);

/* A registered (or registering) client control session. */
struct session {
	TAILQ_ENTRY(session)	 entry;
	char			 id[DB_ID_LEN];
	char			 name[DB_NAME_LEN];
	char			 addr[DB_ADDR_LEN];
	struct bufferevent	*bev;
	struct ssl_st		*ssl;		/* the control connection's, or NULL */
	struct event		 hb_timer;
	time_t			 last_rx;
	int64_t			 connected_since;
	int			 registered;	/* has a client record */
	int			 plugin_login;	/* a Login plugin let it in (plugin.c) */
	int			 closing;
	uint64_t		 hist_seq;
	struct mapping_list	 mappings;
	unsigned		 nmappings;
	struct dataconn_list	 pool;
	unsigned		 pool_size;
	unsigned		 pool_target;
	struct ticket_list	 tickets;
	unsigned		 ntickets;
	struct pubconn_list	 waiting;
	unsigned		 nwaiting;
	uint64_t		 bytes_in, bytes_out;
	uint32_t		 live_conns;
	int			 dirty;		/* counters or mappings changed */
	time_t			 hb_written;	/* last_rx as last written to LMDB */
	struct cred_sess	*cred;		/* per-client credential (cred.c), NULL: shared token */
};
TAILQ_HEAD(session_list, session);

/* Finished public connections waiting for the next history flush. */
struct closed_conn {
	TAILQ_ENTRY(closed_conn) entry;
	uint64_t		 id;
	uint64_t		 hist_seq;
	int			 in_db;
	int			 seq_new;	/* hist_seq taken in the open txn */
	struct db_hist_conn	 rec;
};
TAILQ_HEAD(closed_list, closed_conn);

/* What a session registered with a per-client credential may do (cred.c). */
struct cred_sess {
	char			 name[DB_TOKEN_NAME_LEN];
	uint64_t		 generation;	/* a rotate makes ours stale */
	int64_t			 expires;	/* 0 never */
	int64_t			 max_mappings;	/* 0 no limit */
	int			 has_ports;
	struct portrange	 ports;		/* remote ports it may register */
	struct portrange	 pick;		/* ports & allow_ports, for remote_port 0 */
	struct cidr_list	 allow, deny;	/* applied to all its mappings */
};

/* Everything a worker process owns. */
struct worker {
	struct event_base	*base;
	struct server_config	 conf;
	struct db		 db;
	int			 index;
	int			 nworkers;
	int			 listen_fd;
	int			 ipc_fd;
	int			 mesh_fd;		/* receives */
	int			 mesh_peers[MAX_WORKERS];	/* send to worker i */
	struct mesh_out_list	 mesh_queue[MAX_WORKERS];
	unsigned		 mesh_queued[MAX_WORKERS];
	struct event		 ev_mesh_out[MAX_WORKERS];
	struct event		 ev_listen, ev_ipc, ev_mesh, ev_flush, ev_sigterm,
				 ev_sigint, ev_sighup, ev_sigusr1, ev_pending_timer,
				 ev_accept_retry;
	struct pending_list	 pending;
	unsigned		 npending;
	struct session_list	 sessions;
	struct strmap		 sessions_by_id;
	struct strmap		 tickets_by_id;
	struct closed_list	 closed;
	unsigned		 nclosed;		/* bounded: FLUSH_CLOSED_MAX */
	uint64_t		 hist_dropped;		/* lost, not yet counted on disk */
	time_t			 hist_fail_since;	/* history not writable since */
	uint64_t		 conn_seq;
	uint64_t		 flush_bytes_in, flush_bytes_out;
	uint32_t		 flush_new_conns;
	size_t			 flushed_buffered;	/* relay buffer gauge on disk */
	time_t			 hb_write_at;		/* next write of heartbeat times */
	struct {
		char		 result[64];
		uint64_t	 n;
	}			 reg_counts[16];	/* registrations by result, unflushed */
	unsigned char		 token_hash[32];
	struct ssl_ctx_st	*tls_ctx;	/* NULL: clear text only */
	int			 stopping;
	time_t			 drain_deadline;
	struct event		 ev_drain;
};

extern struct worker *W;

/* worker.c */
int	worker_main(const char *conf_path, int index, int nworkers,
	    const char *fds, int verbose);
void	worker_send_mesh(int target, const struct mesh_msg *, int fd);
void	worker_reject(int fd, const char *addr, const char *reason);
void	worker_reject_tls(int fd, struct ssl_st *, const char *addr,
	    const char *reason);
void	pending_free(struct pending *, int close_fd);
void	pending_adopt(int fd, const char *addr, int steered);

/* tlsaccept.c */
enum ta_result { TA_AGAIN, TA_READY, TA_GONE };
enum ta_result tlsaccept_step(struct pending *, short *wait);
struct ssl_ctx_st *tlsaccept_ctx_load(const struct server_config *, char *err,
	    size_t errlen);
struct bufferevent *tlsaccept_session_bev(struct pending *);
void	tlsaccept_session_close(struct bufferevent *, struct ssl_st *);

/* control.c */
void	control_first_message(struct pending *, const char *json, size_t len);
void	control_session_close(struct session *, const char *reason);
struct session *control_session_find(const char *id);
int	control_token_ok(const char *token);
void	control_kick(const char *client_id, const char *reason);
void	control_send(struct session *, const struct msg *);
void	control_register_claim(struct session *, const struct msg *,
	    uint16_t port);
void	control_register_fail(struct session *, const struct msg *,
	    const char *reason);
const char *control_identity(const struct session *);
void	control_register_plugged(struct session *, const struct msg *);
void	control_register_refused(struct session *, const struct msg *,
	    const char *reason, int login);

/* tunnel.c */
int	tunnel_mapping_listen(struct session *, struct mapping *, int fd);
void	tunnel_mapping_free(struct mapping *);
void	tunnel_pool_refill(struct session *);
void	tunnel_data_conn(int fd, struct ssl_st *, const char *data_id,
	    const char *addr);
void	tunnel_session_drop_data(struct session *);
void	tunnel_ticket_free(struct data_ticket *);
void	tunnel_account(struct pubconn *);
void	tunnel_session_stop(struct session *);
struct vhost_pump;
void	tunnel_pubconn_add(struct mapping *, int fd, const struct sockaddr *,
	    struct vhost_pump *);
void	tunnel_pubconn_close(struct pubconn *, const char *reason);
void	tunnel_reap_waiting(void);

/* vhost.c */
void	vhost_init(void);
void	vhost_stop(void);
void	vhost_free(void);
long	vhost_port(int https);
void	vhost_adopt(int fd, const char *kind);
void	vhost_mapping_free(struct mapping *);

void	vhost_mapping_attach(struct mapping *, const struct msg *,
	    const char *domains);

/* vhost_pump.c */
void	vhost_pump_attach(struct vhost_pump *, struct pubconn *);
void	vhost_pump_free(struct vhost_pump *);

/* vhost_reg.c */
struct db_mapping;
int	vhost_is_type(const struct msg *);
int	vhost_prepare(const struct msg *, struct db_mapping *, char *err,
	    size_t errlen);
void	tunnel_request_data(struct session *);
int	tunnel_pool_take(struct session *, int *fd, struct ssl_st **);
int	tunnel_send_start(int fd, struct ssl_st *, const struct msg *);

/* cred.c */
const char *cred_register(struct session *, const struct msg *, int *fatal);
const struct portrange *cred_allow_ports(struct session *);
const char *cred_name(const struct session *);
void	cred_session_free(struct session *);
void	cred_kick(const char *name);
void	cred_start(void);
void	cred_stop(void);

/* acl.c */
struct acl *acl_new(const struct session *, const struct msg *);
int	acl_refused(struct mapping *, int fd, const struct sockaddr *);
void	acl_free(struct acl *);
uint64_t acl_take_refused(void);

/* flush.c */
#define FLUSH_PENDING		2	/* pubconn.in_db: put in the open txn */
#define FLUSH_CLOSED_MAX	4096	/* finished connections held unwritten */
void	flush_start(void);
void	flush_now(void);
void	flush_conn_closed(struct pubconn *, const char *reason);
void	flush_count_register(const char *result);

/* wcluster.c (worker side of cluster mode) */
int	wcluster_on(void);
void	wcluster_start(void);
void	wcluster_register(struct session *, const struct msg *);
void	wcluster_result(const struct ipc_msg *);

/* wcluster.c (worker side of cluster mode) */
int	wcluster_on(void);
void	wcluster_start(void);
void	wcluster_register(struct session *, const struct msg *);
void	wcluster_result(const struct ipc_msg *);

/* limit.c */
struct map_limit;
struct relay;
struct sockaddr;
void	limit_mapping_init(struct mapping *, const struct msg *);
void	limit_mapping_free(struct mapping *);
int	limit_refuse(struct mapping *, const struct sockaddr *);
void	limit_relay(struct mapping *, struct relay *);
int	limit_mapping_set(uint16_t port, int disabled);
int	limit_flush_needed(void);
void	limit_flush_metrics(MDB_txn *);
void	limit_flush_done(void);

/* udp.c */
int	udp_bind_public(uint16_t port, int probe, void *fdp);
void	udp_mapping_start(struct mapping *, int fd);
void	udp_mapping_stop(struct mapping *);
void	udp_mapping_free(struct mapping *);
int	udp_data_conn(struct session *, int fd, struct ssl_st *);
int	udp_flush_needed(void);
void	udp_flush_metrics(MDB_txn *);
void	udp_flush_done(void);

/* The master's view of one worker slot. */
struct worker_slot {
	pid_t		 pid;		/* 0 while not running */
	int		 listen_fd;	/* this slot's SO_REUSEPORT share of bind_port */
	int		 mesh[2];	/* [0] the worker receives, [1] others send */
	int		 ipc_fd;	/* master's end */
	struct event	 ev_ipc;
	time_t		 started;
	unsigned	 restarts;
	unsigned	 backoff;	/* seconds before the next respawn */
	int		 active;	/* part of the configured workers */
	time_t		 respawn_at;
};

/* Everything the master process owns. */
struct master {
	struct event_base	*base;
	struct server_config	 conf;
	struct db		 db;
	char			 conf_path[PATH_MAX];
	char			 self[PATH_MAX];
	int			 verbose;
	int			 nworkers;	/* active slots: 0 .. nworkers-1 */
	int			 nslots;	/* slots with channels (spares for reload) */
	struct worker_slot	 slots[MAX_WORKERS];
	struct event		 ev_sigchld, ev_sigterm, ev_sigint, ev_sighup, ev_sigusr1,
				 ev_tick, ev_housekeeping, ev_kill;
	time_t			 started;
	int			 stopping;
	uint64_t		 kick_cookie;
};

extern struct master *M;

/* master.c */
int	master_main(const char *conf_path, int verbose);
int	master_reload(char *err, size_t errlen);
int	master_send_ipc(int slot, const struct ipc_msg *);

/* prune.c */
void	prune_start(void);
void	prune_stop(void);

/* httpc.c */
typedef void (*httpc_cb)(void *arg, int ok, long status, const char *err,
	    const char *answer, size_t answer_len);
int	httpc_init(struct event_base *);
int	httpc_post(const char *url, const char *ca_file, const char *secret,
	    const char *body, size_t len, long timeout_ms, httpc_cb, void *arg);
int	httpc_room(void);
void	httpc_free(void);

/* alert.c */
struct alert_detail {
	int	n;
	struct {
		const char	*key;
		const char	*str;		/* NULL: num */
		long long	 num;
	} f[4];
};
void	alert_start(void);
void	alert_tick(void);
void	alert_reload(void);
void	alert_stop(void);
void	alert_set(const struct alert_conf *, unsigned event, const char *key,
	    int firing, const struct alert_detail *);
int	alert_is_firing(const char *receiver, unsigned event, const char *key);
void	alert_node_state(const char *node, int offline, const char *detail);

/* alert_rules.c */
void	alert_rules_start(void);
void	alert_rules_eval(void);
void	alert_rules_auth_failure(const char *ip);
void	alert_rules_stop(void);

/* plugin.c (worker) */
void	plugin_start(void);
void	plugin_reload(void);
void	plugin_stop(void);
int	plugin_register(struct session *, const struct msg *);
void	plugin_session_close(struct session *);
int	plugin_user_conn(struct mapping *, int fd,
	    const struct sockaddr_storage *);
void	plugin_mapping_free(struct mapping *);

/* authfail.c (worker) */
void	authfail_report(const char *addr);

/* ctlsock.c */
int	ctlsock_open(struct server_config *, struct event_base *);
void	ctlsock_close(void);
void	ctlsock_kick_result(const struct ipc_msg *);
uint64_t ctlsock_cookie(void);
void	ctlsock_cluster_result(uint64_t cookie, const char *error,
	    const char *json);
char	*ctlsock_local_json(const char *cmd);

/* cluster.c (master side of cluster mode: PostgreSQL) */
int	cluster_on(void);
int	cluster_store_ok(void);
void	cluster_start(void);
void	cluster_stop(void);
void	cluster_claim(int slot, const struct ipc_msg *);
void	cluster_ctl(const char *cmd, const char *arg, uint64_t cookie);
void	cluster_push_token(const char *name);

/* cluster_mirror.c (users and credentials from PostgreSQL into LMDB) */
struct pg_result;
int64_t	cluster_mirror_apply(const struct pg_result *, int64_t known);

/* cluster_nodes.c (the node_offline alert) */
void	cluster_nodes_apply(const struct pg_result *);

/* mapstate.c */
int	mapstate_request(const struct msg *, uint64_t *cookie, char *err,
	    size_t errlen);

#endif
