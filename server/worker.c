/* SPDX-License-Identifier: ISC */
/*
 * worker.c: a worker process's event loop.  It accepts control and data
 * connections on its share of bind_port, holds them as "pending" until the
 * first message arrives (bounded in count, per address and in time), and
 * talks to the master (IPC) and to the other workers (mesh).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>
#include <openssl/ssl.h>

#include "db_live.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "relay.h"
#include "server.h"
#include "tls.h"
#include "xmalloc.h"

struct worker *W;

/* Sends {"type":"error"} on a raw socket and closes it gently. */
void
worker_reject(int fd, const char *addr, const char *reason)
{
	struct msg	m;
	char		json[512];
	size_t		len;

	log_info("connection from %s refused: %s", addr, reason);
	msg_init(&m, MSG_ERROR);
	msg_set_str(&m, F_ERROR, reason);
	if (proto_encode(&m, json, &len) == 0)
		(void)frame_send_fd(fd, json, len);	/* best effort: we close next */
	net_linger_close(W->base, fd);
}

/* worker_reject() for a connection that may speak TLS (frees ssl). */
void
worker_reject_tls(int fd, SSL *ssl, const char *addr, const char *reason)
{
	struct msg	m;
	char		json[512];
	size_t		len;

	if (ssl == NULL) {
		worker_reject(fd, addr, reason);
		return;
	}
	log_info("connection from %s refused: %s", addr, reason);
	msg_init(&m, MSG_ERROR);
	msg_set_str(&m, F_ERROR, reason);
	if (proto_encode(&m, json, &len) == 0 &&
	    tls_send_frame(ssl, json, len) == 0)
		(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	net_linger_close(W->base, fd);
}

/* Frees a pending connection; closes its fd (and TLS) unless ownership moved. */
void
pending_free(struct pending *p, int close_fd)
{
	TAILQ_REMOVE(&W->pending, p, entry);
	W->npending--;
	event_del(&p->ev);
	hsread_reset(&p->hs);
	if (close_fd) {
		SSL_free(p->ssl);
		close(p->fd);
	}
	free(p);
}

static void pending_read(evutil_socket_t, short, void *);

/* Makes p wait for its socket: EV_READ, EV_WRITE, or EV_READ|EV_ET for more
 * bytes than the ones already there (a ClientHello that came in pieces). */
static void
pending_wait(struct pending *p, short what)
{
	if (p->waiting_for == what)
		return;
	event_del(&p->ev);
	p->waiting_for = what;
	event_assign(&p->ev, W->base, p->fd, what | EV_PERSIST, pending_read, p);
	event_add(&p->ev, NULL);
}

/* Reads the first frame of a pending connection. */
static void
pending_read(evutil_socket_t fd, short what, void *arg)
{
	struct pending	*p = arg;
	const char	*err = NULL;
	char		*buf;
	size_t		 len;
	enum hs_result	 r;

	if (W->tls_ctx != NULL && p->tls_stage != TS_READY &&
	    p->tls_stage != TS_PLAIN) {
		short wait = EV_READ;

		switch (tlsaccept_step(p, &wait)) {
		case TA_GONE:
			return;
		case TA_AGAIN:
			pending_wait(p, wait);
			return;
		case TA_READY:
			break;		/* HS_AGAIN below waits for EV_READ */
		}
	}
	if (p->ssl != NULL)
		r = hsread_step_io(&p->hs, tls_read_fn, p->ssl, &err);
	else
		r = hsread_step(&p->hs, p->fd, &err);
	switch (r) {
	case HS_AGAIN:
		pending_wait(p, EV_READ);	/* armed only now if it was tried at once */
		return;
	case HS_EOF:
		log_debug("connection from %s closed before its first message",
		    p->addr);
		pending_free(p, 1);
		return;
	case HS_BAD:
		/* A TLS record header read as a frame length: say so. */
		if (p->ssl == NULL && p->hs.hdr[0] == 0x16 && p->hs.hdr[1] == 0x03)
			err = "TLS client, but this server has no tls_cert_file "
			    "(TLS is off)";
		worker_reject_tls(p->fd, p->ssl, p->addr, err);
		pending_free(p, 0);
		return;
	case HS_OK:
		break;
	}
	/* The message is handled after the pending entry is unlinked. */
	buf = p->hs.buf;
	len = p->hs.len;
	p->hs.buf = NULL;
	TAILQ_REMOVE(&W->pending, p, entry);
	W->npending--;
	event_del(&p->ev);
	control_first_message(p, buf, len);
	free(buf);
}

/* Closes the oldest pending connection (of ip, or of anyone if ip is NULL). */
static void
pending_evict_oldest(const char *ip)
{
	struct pending *p;

	TAILQ_FOREACH(p, &W->pending, entry) {
		if (ip == NULL || strcmp(p->ip, ip) == 0) {
			log_info("connection from %s closed: too many "
			    "unauthenticated connections%s", p->addr,
			    ip ? " from its address" : "");
			pending_free(p, 1);
			return;
		}
	}
}

/* Keeps the unauthenticated caps: per address, then per worker. */
static void
pending_make_room(const char *ip)
{
	struct pending	*p;
	unsigned	 same = 0;

	TAILQ_FOREACH(p, &W->pending, entry)
		if (strcmp(p->ip, ip) == 0)
			same++;
	if (same >= MAX_PENDING_PER_ADDR)
		pending_evict_oldest(ip);
	else if (W->npending >= MAX_PENDING)
		pending_evict_oldest(NULL);
}

/* Strips the ":port" of an address string. */
static void
addr_ip(const char *addr, char *ip, size_t len)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon ? (size_t)(colon - addr) : strlen(addr);

	if (n >= len)
		n = len - 1;
	memcpy(ip, addr, n);
	ip[n] = '\0';
}

/* Accepts new connections on bind_port (bounded per wakeup). */
static void
worker_accept(evutil_socket_t lfd, short what, void *arg)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage	 ss;
		socklen_t		 sl = sizeof(ss);
		char			 addr[DB_ADDR_LEN];
		int			 fd;

		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Level-triggered: pause instead of spinning. */
				log_warn("accept on bind_port paused for 1 s");
				tunnel_reap_waiting();
				event_del(&W->ev_listen);
				event_add(&W->ev_accept_retry, &(struct timeval){ 1, 0 });
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept on bind_port");
			return;
		}
		if (W->stopping) {
			close(fd);
			continue;
		}
		net_addr_str((struct sockaddr *)&ss, addr, sizeof(addr));
		pending_adopt(fd, addr, 0);
	}
}

/* Holds a new connection (accepted here or steered from another worker)
 * until its first message. */
void
pending_adopt(int fd, const char *addr, int steered)
{
	struct pending *p;

	p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->since = time(NULL);
	p->steered = steered;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	addr_ip(p->addr, p->ip, sizeof(p->ip));
	pending_make_room(p->ip);
	TAILQ_INSERT_TAIL(&W->pending, p, entry);
	W->npending++;
	/*
	 * A client sends its first frame right after connecting, so it is
	 * usually here by the time we accept: try it at once.  The socket is
	 * registered with epoll only if it is not (pending_wait), which spares
	 * an ADD, a DEL and a wake-up per data connection.
	 */
	p->waiting_for = 0;
	event_assign(&p->ev, W->base, fd, EV_READ | EV_PERSIST, pending_read, p);
	pending_read(fd, EV_READ, p);
}

/* Re-arms the bind_port listener after a pause for descriptors. */
static void
worker_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	if (!W->stopping)
		event_add(&W->ev_listen, NULL);
}

/* Closes pending connections that sent no first message in time. */
static void
pending_expire(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);

	while (!TAILQ_EMPTY(&W->pending)) {
		struct pending *p = TAILQ_FIRST(&W->pending);

		if (now - p->since < REGISTER_TIMEOUT)
			break;
		if (p->tls_stage == TS_HANDSHAKE) {
			/* Mid-handshake: no frame can be sent, just close. */
			log_info("connection from %s closed: TLS handshake "
			    "timeout", p->addr);
			pending_free(p, 1);
			continue;
		}
		worker_reject_tls(p->fd, p->ssl, p->addr, "registration timeout");
		pending_free(p, 0);
	}
}

/* Sends one mesh message now; 0 sent, 1 no room yet, -1 failed. */
static int
mesh_sendmsg(int target, const struct mesh_msg *mm, int fd)
{
	struct msghdr	 mh;
	struct iovec	 iov = { .iov_base = (void *)mm, .iov_len = sizeof(*mm) };
	char		 cbuf[CMSG_SPACE(sizeof(int))];

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd != -1) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(W->mesh_peers[target], &mh, MSG_DONTWAIT) != -1)
		return 0;
	return (errno == EAGAIN || errno == ENOBUFS) ? 1 : -1;
}

/* Sends queued mesh messages once the peer has room again. */
static void
mesh_out_ready(evutil_socket_t fd, short what, void *arg)
{
	int		 target = (int)(intptr_t)arg;
	struct mesh_out	*mo;

	while ((mo = TAILQ_FIRST(&W->mesh_queue[target])) != NULL) {
		int rc = mesh_sendmsg(target, &mo->mm, mo->fd);

		if (rc == 1)
			return;		/* still full: wait for the next wakeup */
		if (rc == -1)
			log_warn("cannot reach worker %d", target);
		TAILQ_REMOVE(&W->mesh_queue[target], mo, entry);
		W->mesh_queued[target]--;
		if (mo->fd != -1)
			close(mo->fd);
		free(mo);
	}
	event_del(&W->ev_mesh_out[target]);
}

/*
 * Sends a message (and maybe a descriptor, which it takes) to another
 * worker.  A unix datagram queue holds only max_dgram_qlen (often 10)
 * messages, so a burst is queued here, bounded, and sent as room appears.
 */
void
worker_send_mesh(int target, const struct mesh_msg *mm, int fd)
{
	struct mesh_out	*mo;
	int		 rc = 1;

	if (target < 0 || target >= W->nworkers) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (TAILQ_EMPTY(&W->mesh_queue[target]))
		rc = mesh_sendmsg(target, mm, fd);
	if (rc == 0 || rc == -1) {
		if (rc == -1)
			log_warn("cannot reach worker %d", target);
		if (fd != -1)
			close(fd);
		return;
	}
	if (W->mesh_queued[target] >= MESH_QUEUE_MAX) {
		log_warnx("worker %d is not keeping up; dropping a hand-off", target);
		if (fd != -1)
			close(fd);
		return;
	}
	mo = xcalloc(1, sizeof(*mo));
	mo->mm = *mm;
	mo->fd = fd;
	TAILQ_INSERT_TAIL(&W->mesh_queue[target], mo, entry);
	W->mesh_queued[target]++;
	event_add(&W->ev_mesh_out[target], NULL);
}

/* Receives messages from other workers. */
static void
worker_mesh_read(evutil_socket_t mfd, short what, void *arg)
{
	for (int i = 0; i < 64; i++) {
		struct mesh_msg	 mm;
		struct msghdr	 mh;
		struct iovec	 iov = { .iov_base = &mm, .iov_len = sizeof(mm) };
		char		 cbuf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	*cm;
		ssize_t		 n;
		int		 fd = -1;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(mfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == -1)
			return;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (n != sizeof(mm)) {
			if (fd != -1)
				close(fd);
			continue;
		}
		mm.id[sizeof(mm.id) - 1] = '\0';
		if (mm.type == MESH_DATA_CONN && fd != -1) {
			char addr[DB_ADDR_LEN];

			net_peer_str(fd, addr, sizeof(addr));
			tunnel_data_conn(fd, NULL, mm.id, addr);
		} else if (mm.type == MESH_TLS_CONN && fd != -1 && !W->stopping) {
			pending_adopt(fd, mm.id, 1);
		} else if (mm.type == MESH_VHOST_CONN && fd != -1) {
			vhost_adopt(fd, mm.id);
		} else if (mm.type == MESH_KILL) {
			control_kick(mm.id, "replaced by a new session");
			if (fd != -1)
				close(fd);
		} else if (fd != -1)
			close(fd);
	}
}

/* Re-reads the config file: token, limits and log level apply at once. */
static void
worker_reload(void)
{
	struct server_config	nc;
	char			err[512];

	if (server_config_load(W->conf.path, &nc, err, sizeof(err)) == -1) {
		log_warnx("reload refused, keeping the old config: %s", err);
		return;
	}
	if (nc.tls_cert_file[0] != '\0') {
		SSL_CTX *ctx = tlsaccept_ctx_load(&nc, err, sizeof(err));

		if (ctx == NULL) {
			log_warnx("reload refused, keeping the old config: %s", err);
			return;
		}
		/* Live connections keep a reference to the old context. */
		SSL_CTX_free(W->tls_ctx);
		W->tls_ctx = ctx;
	} else {
		SSL_CTX_free(W->tls_ctx);
		W->tls_ctx = NULL;
	}
	W->conf = nc;
	plugin_reload();
	log_set_level(nc.log_level);
	crypto_generichash(W->token_hash, sizeof(W->token_hash),
	    (const unsigned char *)nc.token, strlen(nc.token), NULL, 0);
	log_info("configuration reloaded");
}

/* Counts public connections still being relayed. */
static unsigned
worker_live_relays(void)
{
	struct session	*s;
	struct mapping	*map;
	unsigned	 n = 0;

	TAILQ_FOREACH(s, &W->sessions, entry)
		TAILQ_FOREACH(map, &s->mappings, entry)
			n += map->live_conns;
	return n;
}

/* Drain check: ends the worker once relays are done or time is up. */
static void
worker_drain(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s;
	unsigned	 live = worker_live_relays();

	if (live > 0 && time(NULL) < W->drain_deadline)
		return;
	if (live > 0)
		log_warnx("drain timeout: closing %u relayed connection(s)", live);
	event_del(&W->ev_drain);
	while ((s = TAILQ_FIRST(&W->sessions)) != NULL)
		control_session_close(s, "server shutting down");
	flush_now();
	event_base_loopexit(W->base, &(struct timeval){ 0, 200000 });
}

/*
 * Starts a graceful stop: no new control, data or public connections;
 * clients are told; relays in progress get drain_timeout to finish.
 */
static void
worker_stop(const char *why)
{
	struct session	*s;
	struct msg	 m;

	if (W->stopping)
		return;
	W->stopping = 1;
	log_info("stopping (%s): draining relays for up to %ld s", why,
	    W->conf.drain_timeout);
	event_del(&W->ev_listen);
	event_del(&W->ev_accept_retry);
	/* Leave the SO_REUSEPORT group now, so the kernel sends nothing more here. */
	close(W->listen_fd);
	W->listen_fd = -1;
	vhost_stop();
	while (!TAILQ_EMPTY(&W->pending))
		pending_free(TAILQ_FIRST(&W->pending), 1);
	msg_init(&m, MSG_ERROR);
	msg_set_str(&m, F_ERROR, "server shutting down");
	TAILQ_FOREACH(s, &W->sessions, entry) {
		control_send(s, &m);
		tunnel_session_stop(s);
	}
	flush_now();
	W->drain_deadline = time(NULL) + W->conf.drain_timeout;
	event_assign(&W->ev_drain, W->base, -1, EV_PERSIST, worker_drain, NULL);
	event_add(&W->ev_drain, &(struct timeval){ 0, 100000 });
	worker_drain(-1, 0, NULL);
}

/* Reads a request from the master. */
static void
worker_ipc_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg	m;
	ssize_t		n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);

	if (n == 0) {
		/* The master is gone: nobody supervises us any more. */
		event_del(&W->ev_ipc);
		log_warnx("master exited; stopping");
		worker_stop("master gone");
		return;
	}
	if (n != sizeof(m))
		return;
	m.client_id[sizeof(m.client_id) - 1] = '\0';
	switch (m.type) {
	case IPC_KICK:
		m.ok = control_session_find(m.client_id) != NULL;
		control_kick(m.client_id, "kicked by operator");
		m.type = IPC_KICK_RESULT;
		send(fd, &m, sizeof(m), MSG_DONTWAIT);
		break;
	case IPC_MAPPING_STATE:
		/* The state is in LMDB already: applied here or at the next register. */
		(void)limit_mapping_set((uint16_t)m.remote_port, m.disabled != 0);
		m.ok = 1;
		m.type = IPC_MAPPING_RESULT;
		send(fd, &m, sizeof(m), MSG_DONTWAIT);
		break;
	case IPC_CLAIM_RESULT:
		wcluster_result(&m);
		break;
	case IPC_RELOAD:
		worker_reload();
		break;
	case IPC_STOP:
		worker_stop("master asked");
		break;
	case IPC_CRED_KICK:
		cred_kick(m.client_id);
		break;
	}
}

/* SIGTERM/SIGINT: stop; SIGHUP is the master's business. */
static void
worker_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP)
		return;
	if (sig == SIGUSR1) {
		if (W->conf.log_file[0] != '\0' &&
		    log_open_file(W->conf.log_file) == -1)
			log_warn("cannot reopen %s", W->conf.log_file);
		return;
	}
	worker_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Parses "listen,ipc,mesh,peer0,peer1,...". */
static int
worker_parse_fds(const char *s, int nworkers)
{
	int	vals[3 + MAX_WORKERS], n = 0;
	char	*copy = xstrdup(s), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok && n < 3 + MAX_WORKERS;
	    tok = strtok_r(NULL, ",", &save))
		vals[n++] = atoi(tok);
	free(copy);
	if (n != 3 + nworkers)
		return -1;
	W->listen_fd = vals[0];
	W->ipc_fd = vals[1];
	W->mesh_fd = vals[2];
	for (int i = 0; i < nworkers; i++)
		W->mesh_peers[i] = vals[3 + i];
	return 0;
}

/* Frees everything at exit, so leak checkers see a clean process. */
static void
worker_cleanup(void)
{
	event_del(&W->ev_listen);
	event_del(&W->ev_accept_retry);
	event_del(&W->ev_ipc);
	event_del(&W->ev_mesh);
	event_del(&W->ev_flush);
	event_del(&W->ev_pending_timer);
	cred_stop();
	if (W->stopping)
		event_del(&W->ev_drain);
	evsignal_del(&W->ev_sigterm);
	evsignal_del(&W->ev_sigint);
	evsignal_del(&W->ev_sighup);
	evsignal_del(&W->ev_sigusr1);
	strmap_free(&W->sessions_by_id);
	strmap_free(&W->tickets_by_id);
	for (int i = 0; i < W->nworkers; i++) {
		struct mesh_out *mo;

		event_del(&W->ev_mesh_out[i]);
		while ((mo = TAILQ_FIRST(&W->mesh_queue[i])) != NULL) {
			TAILQ_REMOVE(&W->mesh_queue[i], mo, entry);
			if (mo->fd != -1)
				close(mo->fd);
			free(mo);
		}
	}
	vhost_free();
	plugin_stop();
	relay_pipes_release_all();
	SSL_CTX_free(W->tls_ctx);
	net_linger_close_all();		/* peers slower than the exit */
	event_base_free(W->base);
	db_close(&W->db);
	if (W->listen_fd != -1)
		close(W->listen_fd);
	close(W->ipc_fd);
	close(W->mesh_fd);
	for (int i = 0; i < W->nworkers; i++)
		close(W->mesh_peers[i]);
	free(W);
	W = NULL;
}

/* Runs a worker until it is told to stop. */
int
worker_main(const char *conf_path, int index, int nworkers, const char *fds,
    int verbose)
{
	char			err[512], procname[32];
	struct timeval		one = { 1, 0 };

	snprintf(procname, sizeof(procname), "worker %d", index);
	log_init(procname, LOG_LVL_INFO);
	W = xcalloc(1, sizeof(*W));
	W->index = index;
	W->nworkers = nworkers;
	if (nworkers < 1 || nworkers > MAX_WORKERS ||
	    worker_parse_fds(fds, nworkers) == -1)
		fatalx("bad worker descriptors '%s'", fds);
	if (server_config_load(conf_path, &W->conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_set_level(verbose ? LOG_LVL_DEBUG : W->conf.log_level);
	crypto_generichash(W->token_hash, sizeof(W->token_hash),
	    (const unsigned char *)W->conf.token, strlen(W->conf.token), NULL, 0);
	if (W->conf.tls_cert_file[0] != '\0' &&
	    (W->tls_ctx = tlsaccept_ctx_load(&W->conf, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	/* LMDB is opened here, in the worker, after fork and exec. */
	if (db_open(&W->db, W->conf.data_dir, 0) == -1)
		fatalx("cannot open the database in %s", W->conf.data_dir);
	/* Cluster mode: finished history is queued for PostgreSQL too. */
	W->db.outbox = wcluster_on();
	signal(SIGPIPE, SIG_IGN);
	TAILQ_INIT(&W->pending);
	TAILQ_INIT(&W->sessions);
	TAILQ_INIT(&W->closed);
	strmap_init(&W->sessions_by_id);
	strmap_init(&W->tickets_by_id);
	W->conn_seq = (uint64_t)getpid() << 32;
	W->flushed_buffered = SIZE_MAX;		/* the first flush writes the gauge */
	if ((W->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	event_assign(&W->ev_listen, W->base, W->listen_fd, EV_READ | EV_PERSIST,
	    worker_accept, NULL);
	event_add(&W->ev_listen, NULL);
	evtimer_assign(&W->ev_accept_retry, W->base, worker_accept_retry, NULL);
	event_assign(&W->ev_ipc, W->base, W->ipc_fd, EV_READ | EV_PERSIST,
	    worker_ipc_read, NULL);
	event_add(&W->ev_ipc, NULL);
	event_assign(&W->ev_mesh, W->base, W->mesh_fd, EV_READ | EV_PERSIST,
	    worker_mesh_read, NULL);
	event_add(&W->ev_mesh, NULL);
	for (int i = 0; i < nworkers; i++) {
		TAILQ_INIT(&W->mesh_queue[i]);
		event_assign(&W->ev_mesh_out[i], W->base, W->mesh_peers[i],
		    EV_WRITE | EV_PERSIST, mesh_out_ready, (void *)(intptr_t)i);
	}
	event_assign(&W->ev_pending_timer, W->base, -1, EV_PERSIST,
	    pending_expire, NULL);
	event_add(&W->ev_pending_timer, &one);
	evsignal_assign(&W->ev_sigterm, W->base, SIGTERM, worker_signal, NULL);
	evsignal_assign(&W->ev_sigint, W->base, SIGINT, worker_signal, NULL);
	evsignal_assign(&W->ev_sighup, W->base, SIGHUP, worker_signal, NULL);
	evsignal_add(&W->ev_sigterm, NULL);
	evsignal_add(&W->ev_sigint, NULL);
	evsignal_add(&W->ev_sighup, NULL);
	evsignal_assign(&W->ev_sigusr1, W->base, SIGUSR1, worker_signal, NULL);
	evsignal_add(&W->ev_sigusr1, NULL);
	vhost_init();
	plugin_start();
	flush_start();
	wcluster_start();
	cred_start();
	log_info("worker %d started", index);
	event_base_dispatch(W->base);
	log_info("worker %d exiting", index);
	worker_cleanup();
	return 0;
}
