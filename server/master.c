/* SPDX-License-Identifier: ISC */
/*
 * master.c: gotunnel-master's parent process and main().  It parses the
 * config, binds the listening sockets, forks and execs one worker per
 * slot, restarts a worker that dies (with back-off), reloads on SIGHUP,
 * stops cleanly on SIGTERM, and never relays traffic itself.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "db_live.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "tls.h"
#include "xmalloc.h"

#define RESPAWN_BACKOFF_MAX	30
#define CRASH_WINDOW		10	/* a death this soon after start counts as a crash loop */
#define STOP_GRACE		5	/* seconds past drain_timeout before SIGKILL */

struct master *M;

static void master_resize(int);

/* Prints usage. */
static void
usage(FILE *fp)
{
	fprintf(fp, "usage: gotunnel-master [-tvVh] [-c file]\n"
	    "  -c file  configuration (default /etc/gotunnel/gotunnel.ini)\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       verbose (debug) logging\n"
	    "  -V       print the version and exit\n"
	    "  -h       this help\n");
}

/* Clears FD_CLOEXEC so a descriptor survives into the worker's exec. */
static void
keep_on_exec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl != -1)
		fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

/* Reads a result from a worker's IPC channel. */
static void
master_ipc_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg	m;
	ssize_t		n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);

	if (n == 0) {
		event_del(&((struct worker_slot *)arg)->ev_ipc);
		return;
	}
	if (n == sizeof(m) && (m.type == IPC_KICK_RESULT ||
	    m.type == IPC_MAPPING_RESULT))
		ctlsock_kick_result(&m);
	else if (n == sizeof(m) && m.type == IPC_CLAIM)
		cluster_claim((int)((struct worker_slot *)arg - M->slots), &m);
	else if (n == sizeof(m) && m.type == IPC_AUTH_FAILURE) {
		m.reason[sizeof(m.reason) - 1] = '\0';
		alert_rules_auth_failure(m.reason);
	}
}

/* Sends a message to a worker slot; -1 if it is not running. */
int
master_send_ipc(int slot, const struct ipc_msg *m)
{
	if (slot < 0 || slot >= M->nslots || M->slots[slot].pid == 0)
		return -1;
	return send(M->slots[slot].ipc_fd, m, sizeof(*m), MSG_DONTWAIT) ==
	    sizeof(*m) ? 0 : -1;
}

/* Forks and execs the worker of one slot. */
static void
spawn_worker(int i)
{
	struct worker_slot	*w = &M->slots[i];
	int			 sp[2];
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("worker %d: socketpair", i);
		w->respawn_at = time(NULL) + 1;
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("worker %d: fork", i);
		close(sp[0]);
		close(sp[1]);
		w->respawn_at = time(NULL) + 1;
		return;
	}
	if (pid == 0) {
		char	 fds[16 * (MAX_WORKERS + 3)], a_worker[32], a_n[32];
		char	*args[10];
		int	 n = 0, off;

		keep_on_exec(w->listen_fd);
		keep_on_exec(sp[1]);
		keep_on_exec(w->mesh[0]);
		off = snprintf(fds, sizeof(fds), "--fds=%d,%d,%d", w->listen_fd,
		    sp[1], w->mesh[0]);
		for (int j = 0; j < M->nslots; j++) {
			keep_on_exec(M->slots[j].mesh[1]);
			off += snprintf(fds + off, sizeof(fds) - (size_t)off, ",%d",
			    M->slots[j].mesh[1]);
		}
		snprintf(a_worker, sizeof(a_worker), "--worker=%d", i);
		snprintf(a_n, sizeof(a_n), "--nworkers=%d", M->nslots);
		args[n++] = "gotunnel-master";
		args[n++] = "-c";
		args[n++] = M->conf_path;
		args[n++] = a_worker;
		args[n++] = a_n;
		args[n++] = fds;
		if (M->verbose)
			args[n++] = "-v";
		args[n] = NULL;
		/* exec: the worker starts clean, nothing of ours (LMDB!) crosses. */
		execv(M->self, args);
		_exit(127);
	}
	close(sp[1]);
	if (cluster_on()) {
		/* Claims of many registers at once: room for them both ways. */
		int sz = 1 << 20;

		setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sp[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	w->pid = pid;
	w->ipc_fd = sp[0];
	w->started = time(NULL);
	w->respawn_at = 0;
	event_assign(&w->ev_ipc, M->base, sp[0], EV_READ | EV_PERSIST,
	    master_ipc_read, w);
	event_add(&w->ev_ipc, NULL);
	log_info("worker %d started (pid %d)", i, (int)pid);
}

/* Adds one to gotunnel_worker_restarts_total. */
static void
master_count_restart(void)
{
	MDB_txn *txn;

	if (db_txn_begin(&M->db, 0, &txn) != 0)
		return;
	metrics_counter_add(&M->db, txn, "gotunnel_worker_restarts_total", 1);
	db_txn_commit(&M->db, txn);
}

/* Reaps exited workers, clears their rows, and plans their restart. */
static void
master_sigchld(evutil_socket_t sig, short what, void *arg)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < M->nslots; i++) {
			struct worker_slot *w = &M->slots[i];

			if (w->pid != pid)
				continue;
			if (WIFSIGNALED(status))
				log_warnx("worker %d (pid %d) killed by signal %d",
				    i, (int)pid, WTERMSIG(status));
			else
				log_info("worker %d (pid %d) exited with status %d",
				    i, (int)pid, WEXITSTATUS(status));
			w->pid = 0;
			event_del(&w->ev_ipc);
			close(w->ipc_fd);
			w->ipc_fd = -1;
			db_clear_worker(&M->db, (int)pid, w->active ?
			    "worker died" : "worker retired");
			if (M->stopping || !w->active)
				break;
			w->restarts++;
			master_count_restart();
			if (time(NULL) - w->started < CRASH_WINDOW)
				w->backoff = w->backoff ? w->backoff * 2 : 1;
			else
				w->backoff = 0;
			if (w->backoff > RESPAWN_BACKOFF_MAX)
				w->backoff = RESPAWN_BACKOFF_MAX;
			w->respawn_at = time(NULL) + w->backoff;
			log_info("worker %d restarts in %u s", i, w->backoff);
			if (w->backoff == 0)
				spawn_worker(i);
		}
	}
	if (M->stopping) {
		int alive = 0;

		for (int i = 0; i < M->nslots; i++)
			alive += M->slots[i].pid != 0;
		if (alive == 0)
			event_base_loopexit(M->base, NULL);
	}
}

/* Syncs LMDB to disk when some process committed since the last sync. */
static void
master_sync(void)
{
	static size_t	synced_txn;
	MDB_envinfo	info;

	if (mdb_env_info(M->db.env, &info) != 0 || info.me_last_txnid == synced_txn)
		return;
	mdb_env_sync(M->db.env, 1);
	synced_txn = info.me_last_txnid;
}

/* Every second: respawns due workers, syncs LMDB to disk. */
static void
master_tick(evutil_socket_t fd, short what, void *arg)
{
	time_t now = time(NULL);

	for (int i = 0; i < M->nworkers && !M->stopping; i++) {
		struct worker_slot *w = &M->slots[i];

		if (w->pid == 0 && w->respawn_at != 0 && w->respawn_at <= now)
			spawn_worker(i);
	}
	alert_tick();
	master_sync();
	/* systemd's WatchdogSec: the master's loop is alive (no-op elsewhere). */
	sd_notify(0, "WATCHDOG=1");
}

/* Every 10 seconds: dead readers, the minute's gauges. */
static void
master_housekeeping(evutil_socket_t fd, short what, void *arg)
{
	int dead;

	if (db_reader_check(&M->db, &dead) == 0 && dead > 0)
		log_info("cleared %d stale database reader slots", dead);
	db_stats_sample(&M->db);
}

/* Hard stop when workers do not finish draining in time. */
static void
master_kill_workers(evutil_socket_t fd, short what, void *arg)
{
	for (int i = 0; i < M->nslots; i++)
		if (M->slots[i].pid != 0) {
			log_warnx("worker %d did not stop in time; killing it", i);
			kill(M->slots[i].pid, SIGKILL);
		}
}

/* SIGTERM/SIGINT: tell workers to stop, wait for them, then exit. */
static void
master_sigterm(evutil_socket_t sig, short what, void *arg)
{
	int alive = 0;

	if (M->stopping)
		return;
	M->stopping = 1;
	sd_notify(0, "STOPPING=1");
	log_info("%s received; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	ctlsock_close();
	for (int i = 0; i < M->nslots; i++)
		if (M->slots[i].pid != 0) {
			kill(M->slots[i].pid, SIGTERM);
			alive++;
		}
	if (alive == 0) {
		event_base_loopexit(M->base, NULL);
		return;
	}
	event_add(&M->ev_kill, &(struct timeval){ M->conf.drain_timeout + STOP_GRACE, 0 });
}

/* Loads the TLS certificate and key once to refuse a bad config early. */
static int
master_tls_check(const struct server_config *c, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (c->tls_cert_file[0] == '\0')
		return 0;
	if ((ctx = tlsaccept_ctx_load(c, err, errlen)) == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

/* Re-reads the config; the old one stays if the new one is bad. */
int
master_reload(char *err, size_t errlen)
{
	struct server_config	nc;
	struct ipc_msg		m;

	if (server_config_load(M->conf_path, &nc, err, errlen) == -1 ||
	    master_tls_check(&nc, err, errlen) == -1) {
		log_errorx("reload refused, keeping the old config: %s", err);
		return -1;
	}
	if (nc.bind_port != M->conf.bind_port ||
	    strcmp(nc.bind_addr, M->conf.bind_addr) != 0 ||
	    strcmp(nc.data_dir, M->conf.data_dir) != 0 ||
	    strcmp(nc.control_socket, M->conf.control_socket) != 0)
		log_warnx("reload: bind_addr, bind_port, data_dir and "
		    "control_socket take effect at the next restart");
	memcpy(nc.bind_addr, M->conf.bind_addr, sizeof(nc.bind_addr));
	nc.bind_port = M->conf.bind_port;
	memcpy(nc.data_dir, M->conf.data_dir, sizeof(nc.data_dir));
	memcpy(nc.control_socket, M->conf.control_socket,
	    sizeof(nc.control_socket));
	/* The cluster link is made once: [cluster] changes need a restart. */
	if (strcmp(nc.cluster_database, M->conf.cluster_database) != 0 ||
	    strcmp(nc.cluster_node_name, M->conf.cluster_node_name) != 0)
		log_warnx("reload: [cluster] database and node_name take effect "
		    "at the next restart");
	memcpy(nc.cluster_database, M->conf.cluster_database,
	    sizeof(nc.cluster_database));
	memcpy(nc.cluster_node_name, M->conf.cluster_node_name,
	    sizeof(nc.cluster_node_name));
	M->conf = nc;
	log_set_level(M->verbose ? LOG_LVL_DEBUG : nc.log_level);
	memset(&m, 0, sizeof(m));
	m.type = IPC_RELOAD;
	for (int i = 0; i < M->nworkers; i++)
		master_send_ipc(i, &m);
	master_resize((int)nc.workers);
	alert_reload();
	log_info("configuration reloaded");
	return 0;
}

/* SIGUSR1: reopen log_file (after logrotate) here and in every worker. */
static void
master_sigusr1(evutil_socket_t sig, short what, void *arg)
{
	if (M->conf.log_file[0] == '\0')
		return;
	if (log_open_file(M->conf.log_file) == -1)
		log_warn("cannot reopen %s", M->conf.log_file);
	else
		log_info("log file reopened");
	for (int i = 0; i < M->nslots; i++)
		if (M->slots[i].pid != 0)
			kill(M->slots[i].pid, SIGUSR1);
}

/* SIGHUP: reload. */
static void
master_sighup(evutil_socket_t sig, short what, void *arg)
{
	char err[512];

	master_reload(err, sizeof(err));
}

/* Opens a slot's share of bind_port (only active slots have one: the
 * kernel would queue connections on a share nobody accepts from). */
static int
master_slot_listen(struct worker_slot *w)
{
	w->listen_fd = net_listen(M->conf.bind_addr, (uint16_t)M->conf.bind_port,
	    1, 4096);
	if (w->listen_fd == -1) {
		log_warn("cannot listen on %s:%ld", M->conf.bind_addr,
		    M->conf.bind_port);
		return -1;
	}
	w->active = 1;
	return 0;
}

/*
 * Opens the worker channels of every slot, active or spare: spares let a
 * reload add workers that every worker can reach.
 */
static void
master_open_slots(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	M->nslots = M->nworkers;
	if (M->nslots < 2 * ncpu)
		M->nslots = (int)(2 * ncpu);
	if (M->nslots < 8)
		M->nslots = 8;
	if (M->nslots > MAX_WORKERS)
		M->nslots = MAX_WORKERS;
	/* Our shares use SO_REUSEPORT; refuse to join someone else's group. */
	if (net_port_free(M->conf.bind_addr, (uint16_t)M->conf.bind_port) == -1) {
		log_errorx("cannot listen on %s:%ld: address in use (another "
		    "gotunnel-master?)", M->conf.bind_addr, M->conf.bind_port);
		exit(1);
	}
	for (int i = 0; i < M->nslots; i++) {
		struct worker_slot *w = &M->slots[i];
		int sndbuf = 1 << 20;

		w->listen_fd = -1;
		w->ipc_fd = -1;
		if (i < M->nworkers && master_slot_listen(w) == -1)
			exit(1);
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, w->mesh) == -1)
			fatal("socketpair");
		setsockopt(w->mesh[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		setsockopt(w->mesh[0], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	}
}

/* Applies a new worker count: starts new slots, retires the highest ones. */
static void
master_resize(int n)
{
	struct ipc_msg m;

	if (n > M->nslots) {
		log_warnx("reload: workers = %d is more than this master can add "
		    "without a restart (%d); using %d", n, M->nslots, M->nslots);
		n = M->nslots;
	}
	for (int i = M->nworkers; i < n; i++) {
		if (M->slots[i].pid != 0) {
			/* Its retired worker still drains: grow up to it only. */
			log_warnx("reload: worker %d is still draining; workers = %d "
			    "for now, reload again to grow", i, i);
			n = i;
			break;
		}
		if (master_slot_listen(&M->slots[i]) == 0)
			spawn_worker(i);
	}
	memset(&m, 0, sizeof(m));
	m.type = IPC_STOP;
	for (int i = n; i < M->nworkers; i++) {
		struct worker_slot *w = &M->slots[i];

		/* The retiring worker closes its share and drains its relays. */
		w->active = 0;
		w->respawn_at = 0;
		if (w->listen_fd != -1)
			close(w->listen_fd);
		w->listen_fd = -1;
		master_send_ipc(i, &m);
	}
	if (n != M->nworkers)
		log_info("workers: %d -> %d", M->nworkers, n);
	M->nworkers = n;
}

/* Frees what the master holds (for a clean exit under leak checkers). */
static void
master_cleanup(void)
{
	evsignal_del(&M->ev_sigchld);
	evsignal_del(&M->ev_sigterm);
	evsignal_del(&M->ev_sigint);
	evsignal_del(&M->ev_sighup);
	evsignal_del(&M->ev_sigusr1);
	event_del(&M->ev_tick);
	event_del(&M->ev_housekeeping);
	event_del(&M->ev_kill);
	prune_stop();
	for (int i = 0; i < M->nslots; i++) {
		struct worker_slot *w = &M->slots[i];

		if (w->listen_fd != -1)
			close(w->listen_fd);
		close(w->mesh[0]);
		close(w->mesh[1]);
		if (w->ipc_fd != -1) {
			event_del(&w->ev_ipc);
			close(w->ipc_fd);
		}
	}
	alert_stop();
	db_clear_live(&M->db, "master stopped");
	cluster_stop();
	mdb_env_sync(M->db.env, 1);	/* NOSYNC environment: the last word on disk */
	db_close(&M->db);
	event_base_free(M->base);
	free(M);
	M = NULL;
}

/* Runs the master until SIGTERM/SIGINT. */
int
master_main(const char *conf_path, int verbose)
{
	char	err[512];
	ssize_t	n;

	log_init("master", LOG_LVL_INFO);
	M = xcalloc(1, sizeof(*M));
	M->verbose = verbose;
	M->started = time(NULL);
	snprintf(M->conf_path, sizeof(M->conf_path), "%s", conf_path);
	if (server_config_load(conf_path, &M->conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_set_level(verbose ? LOG_LVL_DEBUG : M->conf.log_level);
	if (M->conf.tls_cert_file[0] == '\0')
		log_warnx("TLS is off (no tls_cert_file): tokens and traffic "
		    "cross the network in clear text");
	else if (M->conf.allow_plaintext)
		log_warnx("allow_plaintext = true: clients without TLS are "
		    "accepted too (tokens in clear text); for migration only");
	/* Workers inherit stderr, so they write to the same file. */
	if (M->conf.log_file[0] != '\0' && log_open_file(M->conf.log_file) == -1)
		fatal("cannot open log_file %s", M->conf.log_file);
	if ((n = readlink("/proc/self/exe", M->self, sizeof(M->self) - 1)) <= 0)
		fatal("readlink /proc/self/exe");
	M->self[n] = '\0';
	signal(SIGPIPE, SIG_IGN);
	M->nworkers = (int)M->conf.workers;
	if ((M->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (db_open(&M->db, M->conf.data_dir, 0) == -1)
		fatalx("cannot open the database in %s", M->conf.data_dir);
	if (ctlsock_open(&M->conf, M->base) == -1)
		exit(1);
	/* Cluster mode (first: the history closed below goes to its outbox). */
	cluster_start();
	/* Rows left by a crash of a previous run are stale. */
	db_clear_live(&M->db, "master restarted");
	master_open_slots();
	alert_start();
	evsignal_assign(&M->ev_sigchld, M->base, SIGCHLD, master_sigchld, NULL);
	evsignal_assign(&M->ev_sigterm, M->base, SIGTERM, master_sigterm, NULL);
	evsignal_assign(&M->ev_sigint, M->base, SIGINT, master_sigterm, NULL);
	evsignal_assign(&M->ev_sighup, M->base, SIGHUP, master_sighup, NULL);
	evsignal_add(&M->ev_sigchld, NULL);
	evsignal_add(&M->ev_sigterm, NULL);
	evsignal_add(&M->ev_sigint, NULL);
	evsignal_add(&M->ev_sighup, NULL);
	evsignal_assign(&M->ev_sigusr1, M->base, SIGUSR1, master_sigusr1, NULL);
	evsignal_add(&M->ev_sigusr1, NULL);
	event_assign(&M->ev_tick, M->base, -1, EV_PERSIST, master_tick, NULL);
	event_add(&M->ev_tick, &(struct timeval){ 1, 0 });
	event_assign(&M->ev_housekeeping, M->base, -1, EV_PERSIST,
	    master_housekeeping, NULL);
	event_add(&M->ev_housekeeping, &(struct timeval){ 10, 0 });
	evtimer_assign(&M->ev_kill, M->base, master_kill_workers, NULL);
	prune_start();
	for (int i = 0; i < M->nworkers; i++)
		spawn_worker(i);
	log_info("gotunnel-master %s listening on %s:%ld with %d workers",
	    GOTUNNEL_VERSION, M->conf.bind_addr, M->conf.bind_port, M->nworkers);
	sd_notify(0, "READY=1");
	event_base_dispatch(M->base);
	log_info("stopped");
	ctlsock_close();
	master_cleanup();
	return 0;
}

/* Entry point: master, or worker when started with --worker. */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "worker", required_argument, NULL, 'W' },
		{ "nworkers", required_argument, NULL, 'N' },
		{ "fds", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*conf = "/etc/gotunnel/gotunnel.ini", *fds = NULL;
	struct server_config	*c;
	char			 err[512];
	int			 ch, check = 0, verbose = 0, worker = -1, nworkers = 0;

	while ((ch = getopt_long(argc, argv, "c:tvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 't': check = 1; break;
		case 'v': verbose = 1; break;
		case 'V': printf("gotunnel-master %s\n", GOTUNNEL_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		case 'W': worker = atoi(optarg); break;
		case 'N': nworkers = atoi(optarg); break;
		case 'F': fds = optarg; break;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "gotunnel-master: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return 1;
	}
	if (worker >= 0 && fds != NULL)
		return worker_main(conf, worker, nworkers, fds, verbose);
	c = xmalloc(sizeof(*c));
	if (server_config_load(conf, c, err, sizeof(err)) == -1 ||
	    master_tls_check(c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return 1;
	}
	free(c);
	if (check) {
		printf("%s: configuration OK\n", conf);
		return 0;
	}
	return master_main(conf, verbose);
}
