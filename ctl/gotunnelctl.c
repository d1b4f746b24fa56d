/* SPDX-License-Identifier: ISC */
/*
 * gotunnelctl.c: daily operations against a running master through its
 * control socket (status, clients, mappings, kick, reload) and user
 * management of the console (user ..., in ctl_user.c).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ctl.h"
#include "frame.h"
#include "xmalloc.h"

#define CTL_REPLY_MAX	(64u << 20)	/* replies list every client: may exceed a frame */
#define CTL_TIMEOUT_MS	10000

int	ctl_user(const char *data_dir, int argc, char **argv) __attribute__((weak));
int	ctl_cert(const struct server_config *, int argc, char **argv);
int	ctl_fingerprint(const struct server_config *, int argc, char **argv);
int	ctl_db(const struct server_config *, int argc, char **argv);
extern int ctl_user_outbox __attribute__((weak));
extern const char *ctl_user_database __attribute__((weak));

/* Prints usage. */
static void
usage(FILE *fp)
{
	fprintf(fp, "usage: gotunnelctl [-c file] [--json] command [args]\n"
	    "commands:\n"
	    "  status            master, workers, counts\n"
	    "  clients           connected clients\n"
	    "  mappings          published ports\n"
	    "  nodes             the masters of the cluster ([cluster] mode)\n"
	    "  db init           create or upgrade the cluster schema\n"
	    "  kick CLIENT_ID    close a client's session and connections\n"
	    "  mapping disable|enable PORT   refuse / accept public connections\n"
	    "  reload            re-read the configuration (like SIGHUP)\n"
	    "  stats             metrics in Prometheus text format\n"
	    "  user add|del|passwd|role|totp|list [NAME] ...   console users\n"
	    "  cert init [--cn NAME] [--days N] [--force]   self-signed TLS key\n"
	    "  fingerprint [CERT]  sha256 fingerprint clients pin\n"
	    "  token add NAME [--ports RANGES] [--expires DURATION] [--max-mappings N]\n"
	    "            [--allow CIDR]... [--deny CIDR]...   per-client credential\n"
	    "  token list | revoke NAME | rotate NAME\n");
}

/* Reads exactly len bytes within the timeout. */
static int
read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		ssize_t		n;

		if (poll(&pfd, 1, CTL_TIMEOUT_MS) <= 0)
			return -1;
		n = read(fd, p, len);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends one request message and returns the parsed reply (NULL on failure). */
yajl_val
ctl_request_msg(const char *path, const struct msg *m)
{
	struct sockaddr_un	 sun;
	unsigned char		 hdr[4];
	char			 json[FRAME_MAX], errbuf[256], *reply;
	size_t			 len;
	uint32_t		 n;
	yajl_val		 v;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "gotunnelctl: cannot reach the master at %s: %s\n",
		    path, strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if (proto_encode(m, json, &len) == -1 ||
	    frame_write_fd(fd, json, len) == -1 || read_full(fd, hdr, 4) == -1) {
		fprintf(stderr, "gotunnelctl: no reply from the master\n");
		close(fd);
		return NULL;
	}
	n = frame_get_header(hdr);
	if (n == 0 || n > CTL_REPLY_MAX) {
		fprintf(stderr, "gotunnelctl: bad reply length %u\n", n);
		close(fd);
		return NULL;
	}
	reply = xmalloc(n + 1);
	if (read_full(fd, reply, n) == -1) {
		fprintf(stderr, "gotunnelctl: reply cut short\n");
		free(reply);
		close(fd);
		return NULL;
	}
	close(fd);
	reply[n] = '\0';
	/* The master is trusted; its reply is our own JSON. */
	v = yajl_tree_parse(reply, errbuf, sizeof(errbuf));
	free(reply);
	if (v == NULL)
		fprintf(stderr, "gotunnelctl: bad reply: %s\n", errbuf);
	return v;
}

/* Sends one command (a client id for kick, a port for mapping) and returns the reply. */
static yajl_val
ctl_request(const char *path, const char *cmd, const char *client_id,
    long remote_port)
{
	struct msg m;

	msg_init(&m, MSG_CTL);
	msg_set_str(&m, F_CMD, cmd);
	if (client_id != NULL)
		msg_set_str(&m, F_CLIENT_ID, client_id);
	if (remote_port > 0)
		msg_set_int(&m, F_REMOTE_PORT, remote_port);
	return ctl_request_msg(path, &m);
}

/* Looks up a member of an object. */
static yajl_val
get(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };

	return yajl_tree_get(obj, path, yajl_t_any);
}

/* A string member or "". */
static const char *
get_str(yajl_val obj, const char *key)
{
	yajl_val v = get(obj, key);

	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "";
}

/* An integer member or 0. */
static long long
get_int(yajl_val obj, const char *key)
{
	yajl_val v = get(obj, key);

	return YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
}

/* Re-emits a parsed value as JSON (for --json). */
static void
gen_value(yajl_gen g, yajl_val v)
{
	if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			yajl_gen_string(g, (const unsigned char *)v->u.object.keys[i],
			    strlen(v->u.object.keys[i]));
			gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v)) {
		const char *s = v->u.string;

		yajl_gen_string(g, (const unsigned char *)s, strlen(s));
	} else if (YAJL_IS_INTEGER(v))
		yajl_gen_integer(g, YAJL_GET_INTEGER(v));
	else if (YAJL_IS_DOUBLE(v))
		yajl_gen_double(g, YAJL_GET_DOUBLE(v));
	else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	else
		yajl_gen_null(g);
}

/* Prints a value as JSON on one line. */
static void
print_json(yajl_val v)
{
	yajl_gen		 g = yajl_gen_alloc(NULL);
	const unsigned char	*buf;
	size_t			 len;

	gen_value(g, v);
	yajl_gen_get_buf(g, &buf, &len);
	fwrite(buf, 1, len, stdout);
	fputc('\n', stdout);
	yajl_gen_free(g);
}

/* Formats a unix time as UTC. */
static const char *
fmt_time(long long t, char *buf, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (t <= 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* Human output of status. */
static void
print_status(yajl_val r)
{
	yajl_val w = get(r, "workers");

	printf("gotunnel-master %s, pid %lld, up %llds, listening on %s:%lld\n",
	    get_str(r, "version"), get_int(r, "pid"), get_int(r, "uptime"),
	    get_str(r, "bind"), get_int(r, "bind_port"));
	for (size_t i = 0; YAJL_IS_ARRAY(w) && i < w->u.array.len; i++) {
		yajl_val x = w->u.array.values[i];

		printf("worker %lld: pid %lld, restarts %lld\n",
		    get_int(x, "index"), get_int(x, "pid"), get_int(x, "restarts"));
	}
	printf("clients: %lld, mappings: %lld, connections: %lld\n",
	    get_int(r, "clients"), get_int(r, "mappings"),
	    get_int(r, "connections"));
	if (get(r, "node") != NULL)
		printf("cluster node %s, store %s\n", get_str(r, "node"),
		    get_str(r, "cluster_store"));
}

/* Human output of clients. */
static void
print_clients(yajl_val r)
{
	char	t1[32], t2[32];
	int	cluster = 0;

	/* Cluster mode: items carry their node; show it first. */
	for (size_t i = 0; YAJL_IS_ARRAY(r) && i < r->u.array.len; i++)
		cluster |= get(r->u.array.values[i], "node") != NULL;
	if (cluster)
		printf("%-16s  ", "NODE");
	printf("%-32s  %-20s  %-22s  %-19s  %-19s  %s\n", "ID", "NAME", "ADDRESS",
	    "CONNECTED", "LAST HEARTBEAT", "PORTS");
	for (size_t i = 0; YAJL_IS_ARRAY(r) && i < r->u.array.len; i++) {
		yajl_val c = r->u.array.values[i], maps = get(c, "mappings");

		if (cluster)
			printf("%-16s  ", get_str(c, "node"));
		printf("%-32s  %-20s  %-22s  %-19s  %-19s  ", get_str(c, "id"),
		    get_str(c, "name"), get_str(c, "address"),
		    fmt_time(get_int(c, "connected_since"), t1, sizeof(t1)),
		    fmt_time(get_int(c, "last_heartbeat"), t2, sizeof(t2)));
		for (size_t j = 0; YAJL_IS_ARRAY(maps) && j < maps->u.array.len; j++)
			printf("%s%lld", j ? "," : "",
			    get_int(maps->u.array.values[j], "remote_port"));
		printf("\n");
	}
}

/* Human output of mappings. */
static void
print_mappings(yajl_val r)
{
	printf("%-6s  %-5s  %-12s  %-20s  %-21s  %-8s  %6s  %12s  %12s  %s\n",
	    "PORT", "TYPE", "NAME", "CLIENT", "LOCAL", "STATE", "CONNS",
	    "BYTES IN", "BYTES OUT", "DOMAINS");
	for (size_t i = 0; YAJL_IS_ARRAY(r) && i < r->u.array.len; i++) {
		yajl_val	m = r->u.array.values[i], d = get(m, "domains");
		char		local[96], doms[600];
		size_t		off = 0;

		snprintf(local, sizeof(local), "%s:%lld", get_str(m, "local_ip"),
		    get_int(m, "local_port"));
		doms[0] = '\0';
		for (size_t j = 0; YAJL_IS_ARRAY(d) && j < d->u.array.len &&
		    off < sizeof(doms); j++)
			off += (size_t)snprintf(doms + off, sizeof(doms) - off,
			    "%s%s", j ? "," : "",
			    YAJL_IS_STRING(d->u.array.values[j]) ?
			    YAJL_GET_STRING(d->u.array.values[j]) : "");
		printf("%-6lld  %-5s  %-12s  %-20s  %-21s  %-8s  %6lld  %12lld  "
		    "%12lld  %s\n", get_int(m, "remote_port"),
		    get_str(m, "type")[0] ? get_str(m, "type") : "tcp",
		    get_str(m, "name"), get_str(m, "client_name"), local,
		    YAJL_IS_FALSE(get(m, "enabled")) ? "disabled" : "enabled",
		    get_int(m, "live_conns"),
		    get_int(m, "bytes_in"), get_int(m, "bytes_out"),
		    doms[0] ? doms : "-");
	}
}

/* Human output of nodes. */
static void
print_nodes(yajl_val r)
{
	char t[32];

	printf("%-16s  %-24s  %-7s  %-19s  %7s  %11s  %s\n", "NODE",
	    "ADVERTISE", "STATUS", "LAST SEEN", "CLIENTS", "CONNECTIONS",
	    "VERSION");
	for (size_t i = 0; YAJL_IS_ARRAY(r) && i < r->u.array.len; i++) {
		yajl_val n = r->u.array.values[i];

		printf("%-16s  %-24s  %-7s  %-19s  %7lld  %11lld  %s\n",
		    get_str(n, "name"), get_str(n, "advertise_addr"),
		    get_str(n, "status"),
		    fmt_time(get_int(n, "last_seen"), t, sizeof(t)),
		    get_int(n, "clients"), get_int(n, "connections"),
		    get_str(n, "version"));
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*conf = "/etc/gotunnel/gotunnel.ini", *cmd;
	struct server_config	*c;
	yajl_val		 reply, result;
	char			 err[512];
	char			*args[64], wire[32];
	long			 port = 0;
	int			 ch, json = 0, nargs = 0, rc = 1;

	/* --json may stand before or after the command: pull it out first. */
	for (int i = 0; i < argc && nargs < 63; i++) {
		if (i > 0 && (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0))
			json = 1;
		else
			args[nargs++] = argv[i];
	}
	args[nargs] = NULL;
	while ((ch = getopt_long(nargs, args, "+c:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'j': json = 1; break;
		case 'V': printf("gotunnelctl %s\n", GOTUNNEL_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind >= nargs) {
		usage(stderr);
		return 1;
	}
	cmd = args[optind];
	c = xmalloc(sizeof(*c));
	if (server_config_load(conf, c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return 1;
	}
	if (strcmp(cmd, "db") == 0) {
		rc = ctl_db(c, nargs - optind, args + optind);
		free(c);
		return rc;
	}
	if (strcmp(cmd, "cert") == 0 || strcmp(cmd, "fingerprint") == 0) {
		rc = strcmp(cmd, "cert") == 0 ?
		    ctl_cert(c, nargs - optind, args + optind) :
		    ctl_fingerprint(c, nargs - optind, args + optind);
		free(c);
		return rc;
	}
	if (strcmp(cmd, "user") == 0) {
		if (ctl_user == NULL) {
			fprintf(stderr, "gotunnelctl: user management not built in\n");
			free(c);
			return 1;
		}
		/* Cluster mode: the master copies the audit events to PostgreSQL. */
		if (&ctl_user_outbox != NULL)
			ctl_user_outbox = c->cluster_database[0] != '\0';
		/* ... and the users themselves to PostgreSQL, for every node. */
		if (&ctl_user_database != NULL)
			ctl_user_database = c->cluster_database;
		rc = ctl_user(c->data_dir, nargs - optind, args + optind);
		free(c);
		return rc;
	}
	if (strcmp(cmd, "mapping") == 0) {
		char *end;

		/* mapping disable|enable PORT -> ctl "mapping_disable" ... */
		if (nargs - optind != 3 || (strcmp(args[optind + 1], "disable") &&
		    strcmp(args[optind + 1], "enable")) ||
		    (port = strtol(args[optind + 2], &end, 10)) < 1 ||
		    port > 65535 || *end != '\0') {
			usage(stderr);
			free(c);
			return 1;
		}
		snprintf(wire, sizeof(wire), "mapping_%s", args[optind + 1]);
		reply = ctl_request(c->control_socket, wire, NULL, port);
		free(c);
		if (reply == NULL)
			return 1;
		if (strcmp(get_str(reply, "status"), "ok") != 0) {
			fprintf(stderr, "gotunnelctl: mapping %s %ld: %s\n",
			    args[optind + 1], port, get_str(reply, "error"));
			yajl_tree_free(reply);
			return 1;
		}
		if (json)
			printf("{\"ok\":true}\n");
		else
			printf("port %ld %sd\n", port, args[optind + 1]);
		yajl_tree_free(reply);
		return 0;
	}
	if (strcmp(cmd, "token") == 0) {
		rc = ctl_token(c, nargs - optind, args + optind, json);
		free(c);
		return rc;
	}
	if (strcmp(cmd, "status") && strcmp(cmd, "clients") && strcmp(cmd, "nodes") &&
	    strcmp(cmd, "mappings") && strcmp(cmd, "kick") && strcmp(cmd, "reload") &&
	    strcmp(cmd, "stats")) {
		fprintf(stderr, "gotunnelctl: unknown command '%s'\n", cmd);
		usage(stderr);
		free(c);
		return 1;
	}
	if ((strcmp(cmd, "kick") == 0) != (nargs - optind == 2) ||
	    (strcmp(cmd, "kick") != 0 && nargs - optind != 1)) {
		usage(stderr);
		free(c);
		return 1;
	}
	reply = ctl_request(c->control_socket, cmd,
	    strcmp(cmd, "kick") == 0 ? args[optind + 1] : NULL, 0);
	free(c);
	if (reply == NULL)
		return 1;
	if (strcmp(get_str(reply, "status"), "ok") != 0) {
		fprintf(stderr, "gotunnelctl: %s: %s\n", cmd, get_str(reply, "error"));
		yajl_tree_free(reply);
		return 1;
	}
	result = get(reply, "result");
	if (json && result != NULL)
		print_json(result);
	else if (json)
		printf("{\"ok\":true}\n");
	else if (strcmp(cmd, "status") == 0)
		print_status(result);
	else if (strcmp(cmd, "clients") == 0)
		print_clients(result);
	else if (strcmp(cmd, "mappings") == 0)
		print_mappings(result);
	else if (strcmp(cmd, "nodes") == 0)
		print_nodes(result);
	else if (strcmp(cmd, "kick") == 0)
		printf("kicked %s\n", args[optind + 1]);
	else if (strcmp(cmd, "stats") == 0)
		fputs(YAJL_IS_STRING(result) ? result->u.string : "", stdout);
	else
		printf("reloaded\n");
	/* A probe's question: does this master serve tunnels right now? */
	rc = strcmp(cmd, "status") == 0 && !YAJL_IS_TRUE(get(result, "serving"));
	if (rc)
		fprintf(stderr, "gotunnelctl: status: the master is not serving "
		    "(stopping, or no worker running)\n");
	yajl_tree_free(reply);
	return rc;
}
