/* SPDX-License-Identifier: ISC */
/*
 * check_config.c: gotunnel.ini (common/config.c) and gotunnel-client.ini
 * (client/client_config.c): defaults, samples, and every bad key or value
 * reported as "FILE:LINE: message" with the right line.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "client.h"
#include "config.h"
#include "suites.h"

static char	tmpdir[64];
static char	path[128];

/* Checked fixture: a private directory for the test's files. */
static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/test.ini", tmpdir);
}

/* Removes the directory and what the test wrote into it. */
static void
teardown(void)
{
	DIR		*d = opendir(tmpdir);
	struct dirent	*e;
	char		 p[512];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpdir);
}

/* Writes the test file. */
static void
put(const char *text)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Asserts err is "PATH:LINE: ..." containing want. */
static void
assert_err_at(const char *err, int line, const char *want, const char *text)
{
	char prefix[256];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "want line %d, got '%s' for:\n%s", line, err, text);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s' for:\n%s",
	    err, want, text);
	ck_assert_msg(strchr(err, '\n') == NULL, "multi-line error '%s'", err);
}

/* ---- server: gotunnel.ini ---- */

START_TEST(test_server_defaults)
{
	struct server_config	c;
	char			err[512] = "";

	put("[common]\ntoken = s3cret\n");
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.path, path);
	ck_assert_str_eq(c.token, "s3cret");
	ck_assert_str_eq(c.bind_addr, "0.0.0.0");
	ck_assert_int_eq(c.bind_port, 7000);
	ck_assert_str_eq(c.proxy_bind_addr, "0.0.0.0");	/* = bind_addr */
	ck_assert_uint_eq(c.allow_ports.n, 1);
	ck_assert_uint_eq(c.allow_ports.lo[0], 1024);
	ck_assert_uint_eq(c.allow_ports.hi[0], 65535);
	ck_assert_int_eq(c.workers, sysconf(_SC_NPROCESSORS_ONLN));
	ck_assert_int_eq(c.log_level, LOG_LVL_INFO);
	ck_assert_int_eq(c.heartbeat_timeout, 90);
	ck_assert_str_eq(c.control_socket, "/var/lib/gotunnel/control.sock");
	ck_assert_int_eq(c.udp_idle_timeout, 60);
	ck_assert_int_gt(c.max_clients, 0);
	ck_assert_int_gt(c.max_conns_per_mapping, 0);
}
END_TEST

/* Every key set, with comments, blanks and inline comments in between. */
START_TEST(test_server_all_keys)
{
	struct server_config	c;
	char			err[512] = "";

	put("; gotunnel.ini\n"
	    "# another comment\n"
	    "\n"
	    "[common]\n"
	    "bind_addr = 127.0.0.1\n"
	    "bind_port = 7100 ; inline comment\n"
	    "proxy_bind_addr = ::1\n"
	    "token = tok-en\n"
	    "allow_ports = 10000-20000,30000\n"
	    "workers = 3\n"
	    "data_dir = /tmp/gt-data\n"
	    "log_level = debug\n"
	    "heartbeat_timeout = 2m\n"
	    "max_clients = 5\n"
	    "max_conns_per_mapping = 6\n"
	    "max_conns_per_client = 9\n"
	    "max_bandwidth_per_mapping = 512KB\n"
	    "tls_cert_file = /etc/gotunnel/server.crt\n"
	    "tls_key_file = /etc/gotunnel/server.key\n"
	    "tls_client_ca_file = /etc/gotunnel/ca.pem\n"
	    "allow_plaintext = yes\n"
	    "max_pool_count = 0\n"
	    "udp_idle_timeout = 2s\n"
	    "\n"
	    "[admin]\n"
	    "bind_addr = ::\n"
	    "bind_port = 7600\n"
	    "session_ttl = 1d\n"
	    "assets = /srv/console\n"
	    "tls_cert = /etc/c.pem\n"
	    "tls_key = /etc/k.pem\n"
	    "metrics_token = m\n");
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.bind_addr, "127.0.0.1");
	ck_assert_int_eq(c.bind_port, 7100);
	ck_assert_str_eq(c.proxy_bind_addr, "::1");
	ck_assert_str_eq(c.token, "tok-en");
	ck_assert_str_eq(c.allow_ports_s, "10000-20000,30000");
	ck_assert_uint_eq(c.allow_ports.n, 2);
	ck_assert_uint_eq(c.allow_ports.lo[1], 30000);
	ck_assert_int_eq(c.workers, 3);
	ck_assert_str_eq(c.data_dir, "/tmp/gt-data");
	ck_assert_str_eq(c.control_socket, "/tmp/gt-data/control.sock");
	ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
	ck_assert_int_eq(c.heartbeat_timeout, 120);
	ck_assert_int_eq(c.max_clients, 5);
	ck_assert_int_eq(c.max_conns_per_mapping, 6);
	ck_assert_int_eq(c.max_conns_per_client, 9);
	ck_assert_int_eq(c.max_bandwidth_per_mapping, 512 * 1024);
	ck_assert_str_eq(c.tls_cert_file, "/etc/gotunnel/server.crt");
	ck_assert_str_eq(c.tls_key_file, "/etc/gotunnel/server.key");
	ck_assert_str_eq(c.tls_client_ca_file, "/etc/gotunnel/ca.pem");
	ck_assert_int_eq(c.allow_plaintext, 1);
	ck_assert_int_eq(c.max_pool_count, 0);
	ck_assert_int_eq(c.udp_idle_timeout, 2);
	ck_assert_str_eq(c.admin_bind_addr, "::");
	ck_assert_int_eq(c.admin_bind_port, 7600);
	ck_assert_int_eq(c.admin_session_ttl, 86400);
	ck_assert_str_eq(c.admin_assets, "/srv/console");
	ck_assert_str_eq(c.admin_tls_cert, "/etc/c.pem");
	ck_assert_str_eq(c.admin_tls_key, "/etc/k.pem");
	ck_assert_str_eq(c.admin_metrics_token, "m");
}
END_TEST

/* Durations: plain seconds and s/m/h/d suffixes; an explicit control_socket wins. */
START_TEST(test_server_durations)
{
	static const struct { const char *v; long s; } d[] = {
		{ "2", 2 }, { "90", 90 }, { "45s", 45 }, { "5m", 300 },
		{ "12h", 43200 }, { "7d", 604800 },
	};
	struct server_config	c;
	char			text[256], err[512] = "";

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		snprintf(text, sizeof(text), "[common]\ntoken = t\nheartbeat_timeout = %s\n"
		    "control_socket = /run/gt.sock\n", d[i].v);
		put(text);
		ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0,
		    "%s: %s", d[i].v, err);
		ck_assert_int_eq(c.heartbeat_timeout, d[i].s);
		ck_assert_str_eq(c.control_socket, "/run/gt.sock");
	}
}
END_TEST

/* The shipped sample passes (the README tells users to start from it). */
START_TEST(test_server_sample)
{
	struct server_config	c;
	char			err[512] = "";

	ck_assert_msg(server_config_load("etc/gotunnel.ini", &c, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_str_ne(c.token, "");
}
END_TEST

/* [cluster]: the keys, their defaults, and node_timeout's floor. */
START_TEST(test_server_cluster)
{
	struct server_config	c;
	char			err[512] = "", host[64] = "";

	put("[common]\ntoken = s\nproxy_bind_addr = 10.0.0.7\n");
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.cluster_database, "");	/* no cluster: libpq unused */
	ck_assert_int_eq(gethostname(host, sizeof(host) - 1), 0);
	ck_assert_str_eq(c.cluster_node_name, host);
	ck_assert_str_eq(c.cluster_advertise_addr, "10.0.0.7");
	ck_assert_int_eq(c.cluster_node_timeout, 15);
	put("[common]\ntoken = s\n[cluster]\n"
	    "database = postgresql://gotunnel@db.example.org/gotunnel ; URI\n"
	    "node_name = m1\nadvertise_addr = 203.0.113.10\nnode_timeout = 1m\n");
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.cluster_database,
	    "postgresql://gotunnel@db.example.org/gotunnel");
	ck_assert_str_eq(c.cluster_node_name, "m1");
	ck_assert_str_eq(c.cluster_advertise_addr, "203.0.113.10");
	ck_assert_int_eq(c.cluster_node_timeout, 60);
	put("[common]\ntoken = s\n[cluster]\ndatabase = host=db\n"
	    "node_timeout = 2s\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "node_timeout must be at least 3 seconds") != NULL,
	    "%s", err);
}
END_TEST

/* Each bad key or value, reported with its line. */
static const struct {
	const char	*text;
	int		 line;
	const char	*want;
} server_bad[] = {
	{ "[common]\ntoken = s\nbogus = 1\n", 3, "unknown key 'bogus' in [common]" },
	{ "[common]\ntoken = s\nTOKEN = x\n", 3, "unknown key 'TOKEN'" },
	{ "[common]\ntoken = s\n[nope]\nx = 1\n", 4, "unknown section [nope]" },
	{ "token = s\n", 1, "section" },
	{ "[common]\ntoken = s\nbind_addr = localhost\n", 3, "IP address" },
	{ "[common]\ntoken = s\nbind_addr = 1.2.3.256\n", 3, "IP address" },
	{ "[common]\ntoken = s\nbind_addr = 1.2.3.4:7000\n", 3, "IP address" },
	{ "[common]\ntoken = s\nbind_addr =\n", 3, "IP address" },
	{ "[common]\ntoken = s\nbind_port = 0\n", 3, "bind_port must be a number from 1 to 65535" },
	{ "[common]\ntoken = s\nbind_port = 65536\n", 3, "bind_port must be" },
	{ "[common]\ntoken = s\nbind_port = -1\n", 3, "bind_port must be" },
	{ "[common]\ntoken = s\nbind_port = 7000x\n", 3, "bind_port must be" },
	{ "[common]\ntoken = s\nbind_port = 0x1B58\n", 3, "bind_port must be" },
	{ "[common]\ntoken = s\nbind_port =\n", 3, "bind_port must be" },
	{ "[common]\ntoken = s\nbind_port = 99999999999999999999999\n", 3, "bind_port must be" },
	{ "[common]\ntoken = s\nbind_port = 70 00\n", 3, "bind_port must be" },
	{ "[common]\ntoken = s\nproxy_bind_addr = example.com\n", 3, "IP address" },
	{ "[common]\ntoken = s\nallow_ports = 0-10\n", 3, "allow_ports: bad port number" },
	{ "[common]\ntoken = s\nallow_ports = 20-10\n", 3, "allow_ports: port range ends before it starts" },
	{ "[common]\ntoken = s\nallow_ports = 1,,2\n", 3, "allow_ports:" },
	{ "[common]\ntoken = s\nallow_ports = 1000 2000\n", 3, "allow_ports: expected ','" },
	{ "[common]\ntoken = s\ndeny_cidrs = 10.0.0.0/33\n", 3, "deny_cidrs: '10.0.0.0/33': prefix length" },
	{ "[common]\ntoken = s\ndeny_cidrs = 10.0.0.0/8,,\n", 3, "deny_cidrs: empty entry" },
	{ "[common]\ntoken = s\ndeny_cidrs = localhost\n", 3, "deny_cidrs: 'localhost': not an IPv4" },
	{ "[common]\ntoken = s\nworkers = 0\n", 3, "workers must be a number from 1 to 256" },
	{ "[common]\ntoken = s\nworkers = 257\n", 3, "workers must be" },
	{ "[common]\ntoken = s\nworkers = two\n", 3, "workers must be" },
	{ "[common]\ntoken = s\nlog_level = verbose\n", 3, "log_level must be debug, info, warn or error" },
	{ "[common]\ntoken = s\nlog_level =\n", 3, "log_level must be" },
	{ "[common]\ntoken = s\nheartbeat_timeout = 0\n", 3, "duration" },
	{ "[common]\ntoken = s\nheartbeat_timeout = -5\n", 3, "duration" },
	{ "[common]\ntoken = s\nheartbeat_timeout = 10x\n", 3, "duration" },
	{ "[common]\ntoken = s\nheartbeat_timeout = 5mm\n", 3, "duration" },
	{ "[common]\ntoken = s\nheartbeat_timeout = s\n", 3, "duration" },
	{ "[common]\ntoken = s\nheartbeat_timeout = 1.5\n", 3, "duration" },
	{ "[common]\ntoken = s\nheartbeat_timeout = 99999999999999999999\n", 3, "duration" },
	{ "[common]\ntoken = s\nheartbeat_timeout = 9223372036854775807d\n", 3, "duration" },
	{ "[common]\ntoken = s\nmax_clients = 0\n", 3, "max_clients must be" },
	{ "[common]\ntoken = s\nmax_conns_per_mapping = 0\n", 3, "max_conns_per_mapping must be" },
	{ "[common]\ntoken = s\nmax_conns_per_mapping = 1000001\n", 3, "max_conns_per_mapping must be" },
	{ "[common]\ntoken = s\nmax_pool_count = 1001\n", 3, "max_pool_count must be" },
	{ "[common]\ntoken = s\nmax_conns_per_client = -1\n", 3, "max_conns_per_client must be" },
	{ "[common]\ntoken = s\nmax_bandwidth_per_mapping = 2\n", 3, "expected a bandwidth" },
	{ "[common]\ntoken = s\nmax_bandwidth_per_mapping = 2GB\n", 3, "expected a bandwidth" },
	{ "[common]\ntoken = s\nmax_bandwidth_per_mapping = 8193MB\n", 3, "expected a bandwidth" },
	{ "[common]\ntoken = s\nmax_bandwidth_per_mapping = -1MB\n", 3, "expected a bandwidth" },
	{ "[common]\ntoken = s\nmax_pool_count = -1\n", 3, "max_pool_count must be" },
	{ "[common]\ntoken = s\ncontrol_socket = /xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/s\n", 3, "too long" },
	{ "[common]\ntoken = s\n[admin]\nbind_port = 0\n", 4, "bind_port must be" },
	{ "[common]\ntoken = s\n[admin]\nbind_addr = web\n", 4, "IP address" },
	{ "[common]\ntoken = s\n[admin]\nsession_ttl = 0\n", 4, "duration" },
	{ "[common]\ntoken = s\n[admin]\nnope = 1\n", 4, "unknown key 'nope' in [admin]" },
	{ "[common]\ntoken = s\n[admin]\ntoken = x\n", 4, "unknown key 'token' in [admin]" },
	/* inih syntax errors */
	{ "[common]\ntoken = s\njust words\n", 3, "syntax error" },
	{ "[common]\ntoken = s\n[admin\n", 3, "syntax error" },
	/* lines are counted through comments and blank lines */
	{ "; c\n\n# c\n[common]\n\ntoken = s\n\n; workers\nworkers = 0\n", 9, "workers must be" },
	/* the first error is the one reported */
	{ "[common]\nworkers = 0\nbind_port = 0\n", 2, "workers must be" },
	{ "[common]\nwords\nworkers = 0\n", 2, "syntax error" },
	{ "[common]\nworkers = 0\nwords\n", 2, "workers must be" },
	{ "[common]\nbogus = 1\n[nope]\n", 2, "unknown key 'bogus'" },
	{ "[common]\ntoken = s\nallow_plaintext = maybe\n", 3, "expected true or false" },
	{ "[common]\ntoken = s\n[cluster]\nnode_timeout = soon\n", 4, "duration" },
	{ "[common]\ntoken = s\n[cluster]\nnodes = 3\n", 4, "unknown key 'nodes' in [cluster]" },
};

START_TEST(test_server_bad)
{
	struct server_config	c;
	char			err[512] = "";

	put(server_bad[_i].text);
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == -1,
	    "accepted:\n%s", server_bad[_i].text);
	assert_err_at(err, server_bad[_i].line, server_bad[_i].want,
	    server_bad[_i].text);
}
END_TEST

/* A line longer than the parser's buffer is an error on that line, not a cut value. */
START_TEST(test_server_long_line)
{
	struct server_config	 c;
	char			 err[512] = "", *text = malloc(4096);
	int			 n;

	/* 230-character token: it must not be read as its first 191 characters. */
	n = sprintf(text, "[common]\ntoken = ");
	memset(text + n, 'a', 230);
	n += 230;
	sprintf(text + n, "\nbind_port = 7000\n");
	put(text);
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 2, "too long", text);

	/* Its tail must not become a key or a continuation value either. */
	n = sprintf(text, "[common]\ntoken = ");
	memset(text + n, 'a', 200);
	n += 200;
	sprintf(text + n, "=b\nbind_port = 7000\n");
	put(text);
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 2, "too long", text);

	n = sprintf(text, "[common]\ntoken = t\ndata_dir = /");
	memset(text + n, 'd', 300);
	n += 300;
	sprintf(text + n, "\nworkers = 0\n");
	put(text);
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 3, "too long", text);

	/* Long comment lines too: they are no reason to miscount later lines. */
	n = sprintf(text, "[common]\n; ");
	memset(text + n, 'c', 500);
	n += 500;
	sprintf(text + n, "\ntoken = t\nworkers = 0\n");
	put(text);
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 2, "too long", text);
	free(text);
}
END_TEST

/* Lines just under the limit still work, the last one without a newline too. */
START_TEST(test_server_line_at_limit)
{
	struct server_config	 c;
	char			 err[512] = "", text[512];
	int			 n;

	/* inih's line buffer is 200 bytes: 199 characters, the newline read apart. */
	n = sprintf(text, "[common]\nbind_port = 7001\ntoken = ");
	memset(text + n, 'k', 198 - 8);
	n += 198 - 8;
	sprintf(text + n, "\nworkers = 2");
	put(text);
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(strlen(c.token), 190);
	ck_assert_int_eq(c.workers, 2);

	n = sprintf(text, "[common]\nbind_port = 7001\ntoken = ");
	memset(text + n, 'k', 199 - 8);		/* 199 characters, no newline, at EOF */
	n += 199 - 8;
	text[n] = '\0';
	put(text);
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(strlen(c.token), 191);

	/* 199 characters + '\n' still fit; 200 do not. */
	n = sprintf(text, "[common]\ntoken = ");
	memset(text + n, 'k', 199 - 8);
	n += 199 - 8;
	sprintf(text + n, "\nworkers = 2\n");
	put(text);
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(strlen(c.token), 191);
	ck_assert_int_eq(c.workers, 2);
	n = sprintf(text, "[common]\ntoken = ");
	memset(text + n, 'k', 200 - 8);
	n += 200 - 8;
	sprintf(text + n, "\nworkers = 2\n");
	put(text);
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 2, "line too long (limit 199 characters)", text);
}
END_TEST

/* Errors of the whole file (no line), and a missing file. */
START_TEST(test_server_file_errors)
{
	struct server_config	c;
	char			err[512] = "", want[256];

	put("[common]\nbind_port = 7000\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "token is required"));
	ck_assert_int_eq(strncmp(err, path, strlen(path)), 0);

	/* "token =" (empty): per-client credentials only; the shared token is off. */
	put("[common]\ntoken =\n");
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.token, "");
	ck_assert_int_eq(c.token_set, 1);
	put("[common]\ntoken = s\ndeny_cidrs = 10.0.0.0/8, 2001:db8::/32\n");
	ck_assert_msg(server_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.deny_cidrs.n, 2);
	ck_assert_str_eq(c.deny_cidrs_s, "10.0.0.0/8, 2001:db8::/32");

	put("[common]\ntoken = t\nheartbeat_timeout = 1\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "heartbeat_timeout must be at least 2"));

	/* Virtual-host ports: their own, not bind_port, not each other. */
	put("[common]\ntoken = t\nbind_port = 7000\nvhost_http_port = 7000\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "must differ from bind_port"));
	put("[common]\ntoken = t\nvhost_http_port = 80\nvhost_https_port = 80\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "from each other"));
	put("[common]\ntoken = t\nvhost_http_port = 80\nvhost_https_port = 443\n"
	    "subdomain_host = example.org\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.vhost_http_port, 80);
	ck_assert_int_eq(c.vhost_https_port, 443);
	ck_assert_str_eq(c.subdomain_host, "example.org");

	put("[common]\ntoken = t\nudp_idle_timeout = 0\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "expected a duration"));

	/* TLS keys: the pair goes together; mTLS and clear text need TLS. */
	put("[common]\ntoken = t\ntls_cert_file = /c.pem\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "tls_cert_file and tls_key_file go together"));
	put("[common]\ntoken = t\nallow_plaintext = true\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "need tls_cert_file"));
	put("[common]\ntoken = t\ntls_client_ca_file = /ca.pem\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "need tls_cert_file"));

	put("[common]\ntoken = t\ndata_dir = /dddddddddddddddddddddddddddddddddddddddddddddd"
	    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\n");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "set control_socket"));

	put("");
	ck_assert_int_eq(server_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "token is required"));

	snprintf(want, sizeof(want), "%s/missing.ini: No such file", tmpdir);
	ck_assert_int_eq(server_config_load(want, &c, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

/* ---- client: gotunnel-client.ini ---- */

START_TEST(test_client_defaults)
{
	struct client_config	c;
	char			err[512] = "";

	put("[common]\ntoken = t\n[ssh]\nlocal_port = 22\nremote_port = 10022\n");
	ck_assert_msg(client_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.path, path);
	ck_assert_str_eq(c.server_addr, "127.0.0.1");
	ck_assert_int_eq(c.server_port, 7000);
	ck_assert_str_eq(c.token, "t");
	ck_assert_str_ne(c.name, "");			/* the host name */
	ck_assert_int_eq(c.heartbeat_interval, 30);
	ck_assert_int_eq(c.heartbeat_timeout, 90);
	ck_assert_int_eq(c.log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(c.nmaps, 1);
	ck_assert_str_eq(c.maps[0].name, "ssh");
	ck_assert_str_eq(c.maps[0].local_ip, "127.0.0.1");
	ck_assert_int_eq(c.maps[0].local_port, 22);
	ck_assert_int_eq(c.maps[0].remote_port, 10022);
	ck_assert_str_eq(c.maps[0].type, "tcp");
}
END_TEST

START_TEST(test_client_all_keys)
{
	struct client_config	c;
	char			err[512] = "";

	put("[common]\n"
	    "server_addr = tunnel.example.org\n"
	    "server_port = 7443\n"
	    "token = tok\n"
	    "name = laptop\n"
	    "heartbeat_interval = 10s\n"
	    "heartbeat_timeout = 1m\n"
	    "pool_count = 0\n"
	    "log_level = warn\n"
	    "\n"
	    "[ssh]\n"
	    "type = tcp\n"
	    "local_ip = 192.168.1.5\n"
	    "local_port = 22\n"
	    "remote_port = 10022\n"
	    "allow_cidrs = 192.0.2.0/24, 2001:db8::/32\n"
	    "deny_cidrs = 192.0.2.7\n"
	    "[web]\n"
	    "local_port = 8080\n"
	    "remote_port = 0\n"
	    "max_conns = 200\n"
	    "conn_rate = 50\n"
	    "conn_burst = 100\n"
	    "bandwidth_limit = 2mb\n"
	    "bandwidth_limit_mode = server\n"
	    "[dns]\n"
	    "type = udp\n"
	    "local_port = 53\n"
	    "remote_port = 10053\n");
	ck_assert_msg(client_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.maps[0].type, "tcp");
	ck_assert_str_eq(c.maps[2].type, "udp");
	ck_assert_int_eq(c.maps[2].local_port, 53);
	ck_assert_int_eq(c.maps[0].max_conns, 0);
	ck_assert_int_eq(c.maps[0].bandwidth_limit, 0);
	ck_assert_int_eq(c.maps[1].max_conns, 200);
	ck_assert_int_eq(c.maps[1].conn_rate, 50);
	ck_assert_int_eq(c.maps[1].conn_burst, 100);
	ck_assert_int_eq(c.maps[1].bandwidth_limit, 2 * 1024 * 1024);
	ck_assert_str_eq(c.server_addr, "tunnel.example.org");
	ck_assert_int_eq(c.server_port, 7443);
	ck_assert_str_eq(c.name, "laptop");
	ck_assert_int_eq(c.heartbeat_interval, 10);
	ck_assert_int_eq(c.heartbeat_timeout, 60);
	ck_assert_int_eq(c.pool_count, 0);
	ck_assert_int_eq(c.log_level, LOG_LVL_WARN);
	ck_assert_uint_eq(c.nmaps, 3);
	ck_assert_str_eq(c.maps[0].local_ip, "192.168.1.5");
	ck_assert_str_eq(c.maps[0].allow_cidrs, "192.0.2.0/24, 2001:db8::/32");
	ck_assert_str_eq(c.maps[0].deny_cidrs, "192.0.2.7");
	ck_assert_str_eq(c.maps[1].allow_cidrs, "");
	ck_assert_str_eq(c.maps[1].name, "web");
	ck_assert_str_eq(c.maps[1].local_ip, "127.0.0.1");
	ck_assert_int_eq(c.maps[1].local_port, 8080);
	ck_assert_int_eq(c.maps[1].remote_port, 0);
}
END_TEST

START_TEST(test_client_sample)
{
	struct client_config	c;
	char			err[512] = "";

	ck_assert_msg(client_config_load("etc/gotunnel-client.ini", &c, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_ge(c.nmaps, 1);
}
END_TEST

/* server_addr as a list: ports from server_port (even when it comes later),
 * discovery_interval, and no TLS name default (each entry's host). */
START_TEST(test_client_server_list)
{
	struct client_config	c;
	char			err[512] = "";

	put("[common]\ntoken = t\n"
	    "server_addr = m1.example.org, 10.0.0.2:7443 ,[2001:db8::1]:7001\n"
	    "server_port = 7100\n"
	    "discovery_interval = 10s\n"
	    "[ssh]\nlocal_port = 22\nremote_port = 0\n");
	ck_assert_msg(client_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.nservers, 3);
	ck_assert_str_eq(c.servers[0].host, "m1.example.org");
	ck_assert_uint_eq(c.servers[0].port, 7100);
	ck_assert_int_eq(c.servers[0].numeric, 0);
	ck_assert_str_eq(c.servers[1].host, "10.0.0.2");
	ck_assert_uint_eq(c.servers[1].port, 7443);
	ck_assert_str_eq(c.servers[2].host, "2001:db8::1");
	ck_assert_uint_eq(c.servers[2].port, 7001);
	ck_assert_int_eq(c.discovery_interval, 10);
	ck_assert_str_eq(c.tls_server_name, "");
	put("[common]\ntoken = t\n[ssh]\nlocal_port = 22\nremote_port = 0\n");
	ck_assert_msg(client_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.nservers, 1);
	ck_assert_str_eq(c.servers[0].host, "127.0.0.1");
	ck_assert_uint_eq(c.servers[0].port, 7000);
	ck_assert_int_eq(c.discovery_interval, 30);
}
END_TEST

/* 64 mappings fit; the 65th is an error at its line. */
START_TEST(test_client_many_mappings)
{
	struct client_config	 c;
	char			 err[512] = "", *text = malloc(65536);
	int			 n;

	n = sprintf(text, "[common]\ntoken = t\n");
	for (int i = 0; i < CLIENT_MAX_MAPPINGS; i++)
		n += sprintf(text + n, "[m%d]\nlocal_port = %d\nremote_port = 0\n",
		    i, 1000 + i);
	put(text);
	ck_assert_msg(client_config_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.nmaps, CLIENT_MAX_MAPPINGS);
	ck_assert_int_eq(c.maps[63].local_port, 1063);
	sprintf(text + n, "[extra]\nlocal_port = 1\nremote_port = 0\n");
	put(text);
	ck_assert_int_eq(client_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 2 + 3 * CLIENT_MAX_MAPPINGS + 2, "too many mappings", "(65 mappings)");
	free(text);
}
END_TEST

#define CLI_OK	"[common]\ntoken = t\n[ssh]\nlocal_port = 22\nremote_port = 10022\n"

static const struct {
	const char	*text;
	int		 line;
	const char	*want;
} client_bad[] = {
	{ "[common]\ntoken = t\nserver_port = 0\n", 3, "server_port must be a number from 1 to 65535" },
	{ "[common]\ntoken = t\nserver_port = 65536\n", 3, "server_port must be" },
	{ "[common]\ntoken = t\nserver_port = ssh\n", 3, "server_port must be" },
	{ "[common]\ntoken = t\nserver_addr =\n", 3, "server_addr must be" },
	{ "[common]\ntoken = t\nserver_addr = m1,,m2\n", 3, "server_addr: empty entry" },
	{ "[common]\ntoken = t\nserver_addr = m1:99999\n", 3, "entry 'm1:99999': bad port" },
	{ "[common]\ntoken = t\nserver_addr = ::1:7000:x\n", 3, "[addr]:port" },
	{ "[common]\ntoken = t\ndiscovery_interval = often\n", 3, "duration" },
	{ "[common]\ntoken = t\nname =\n", 3, "name must be 1 to 63 characters" },
	{ "[common]\ntoken = t\nname = nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\n",
	    3, "name must be 1 to 63 characters" },
	{ "[common]\ntoken = t\nheartbeat_interval = 0\n", 3, "duration" },
	{ "[common]\ntoken = t\nheartbeat_interval = 30x\n", 3, "duration" },
	{ "[common]\ntoken = t\nheartbeat_timeout = soon\n", 3, "duration" },
	{ "[common]\ntoken = t\npool_count = 1001\n", 3, "pool_count must be a number from 0 to 1000" },
	{ "[common]\ntoken = t\npool_count = -1\n", 3, "pool_count must be" },
	{ "[common]\ntoken = t\nlog_level = loud\n", 3, "log_level must be" },
	{ "[common]\ntoken = t\nbogus = 1\n", 3, "unknown key 'bogus' in [common]" },
	{ "[common]\ntoken = t\nlocal_port = 22\n", 3, "unknown key 'local_port' in [common]" },
	{ "[common]\ntoken = t\nserver_fingerprint = sha256:ABC\n", 3, "server_fingerprint must be sha256:" },
	{ "[common]\ntoken = t\nserver_fingerprint = 3e637aada1e4a2bf46a46c58b4bd08fd"
	    "67d80cc5e601518d4b60292ab002f9ca\n", 3, "server_fingerprint must be sha256:" },
	{ "[common]\ntoken = t\ntls_enable = sometimes\n", 3, "tls_enable must be true or false" },
	{ "[common]\ntoken = t\ntls_server_name =\n", 3, "tls_server_name must be a host name" },
	{ "token = t\n[common]\n", 1, "key outside of a section" },
	{ CLI_OK "type = ftp\n", 6, "unsupported type (tcp, udp, http or https)" },
	{ CLI_OK "type = http\ncustom_domains = a.example.org\n", 3,
	    "type http has no remote_port" },
	{ "[common]\ntoken = t\n[web]\ntype = http\nlocal_port = 80\n", 3,
	    "needs custom_domains or subdomain" },
	{ CLI_OK "custom_domains = a.example.org\n", 3, "need type = http" },
	{ CLI_OK "proxy_protocol_version = v3\n", 6,
	    "proxy_protocol_version must be v1 or v2" },
	{ "[common]\ntoken = t\n[web]\ntype = https\nlocal_port = 443\n"
	    "subdomain = x\nhttp_user = u\nhttp_password = p\n", 3,
	    "for type http only" },
	{ "[common]\ntoken = t\n[web]\ntype = http\nlocal_port = 80\n"
	    "subdomain = x\nhttp_user = u\n", 3, "go together" },
	{ "[common]\ntoken = t\n[dns]\ntype = udp\nlocal_port = 53\nremote_port = 10053\n"
	    "proxy_protocol_version = v1\n", 3, "proxy_protocol_version is for tcp" },
	{ CLI_OK "type =\n", 6, "unsupported type" },
	{ CLI_OK "local_port = 0\n", 6, "local_port must be a number from 1 to 65535" },
	{ CLI_OK "local_port = 65536\n", 6, "local_port must be" },
	{ CLI_OK "local_port = 22.5\n", 6, "local_port must be" },
	{ CLI_OK "remote_port = -1\n", 6, "remote_port must be a number from 0 to 65535" },
	{ CLI_OK "remote_port = 65536\n", 6, "remote_port must be" },
	{ CLI_OK "remote_port = any\n", 6, "remote_port must be" },
	{ CLI_OK "local_ip =\n", 6, "local_ip must be" },
	{ CLI_OK "max_conns = -1\n", 6, "max_conns must be a number from 0 to 1000000" },
	{ CLI_OK "conn_rate = 1000001\n", 6, "conn_rate must be" },
	{ CLI_OK "conn_burst = x\n", 6, "conn_burst must be" },
	{ CLI_OK "bandwidth_limit = 1000\n", 6, "bandwidth_limit must be like 512KB or 2MB" },
	{ CLI_OK "bandwidth_limit = 1.5MB\n", 6, "bandwidth_limit must be" },
	{ CLI_OK "bandwidth_limit = MB\n", 6, "bandwidth_limit must be" },
	{ CLI_OK "bandwidth_limit_mode = client\n", 6, "bandwidth_limit_mode must be server" },
	{ CLI_OK "allow_cidrs = 127.0.0.1/40\n", 6, "allow_cidrs: '127.0.0.1/40': prefix length" },
	{ CLI_OK "deny_cidrs = 127.0.0.1,x\n", 6, "deny_cidrs: 'x': not an IPv4" },
	{ CLI_OK "bogus = 1\n", 6, "unknown key 'bogus' in [ssh]" },
	{ CLI_OK "server_port = 7000\n", 6, "unknown key 'server_port' in [ssh]" },
	{ CLI_OK "[web]\nlocal_port = 80\nhost = x\n", 8, "unknown key 'host' in [web]" },
	{ CLI_OK "what is this\n", 6, "syntax error" },
	{ "; c\n\n[common]\n; c\ntoken = t\n\n[ssh]\n\nlocal_port = 99999\n", 9, "local_port must be" },
};

START_TEST(test_client_bad)
{
	struct client_config	c;
	char			err[512] = "";

	put(client_bad[_i].text);
	ck_assert_msg(client_config_load(path, &c, err, sizeof(err)) == -1,
	    "accepted:\n%s", client_bad[_i].text);
	assert_err_at(err, client_bad[_i].line, client_bad[_i].want,
	    client_bad[_i].text);
}
END_TEST

/* A long token line is an error on its line (conf_ini.c is shared). */
START_TEST(test_client_long_line)
{
	struct client_config	 c;
	char			 err[512] = "", text[1024];
	int			 n;

	n = sprintf(text, "[common]\nserver_port = 7000\ntoken = ");
	memset(text + n, 'z', 240);
	n += 240;
	sprintf(text + n, "\n[ssh]\nlocal_port = 22\nremote_port = 0\n");
	put(text);
	ck_assert_int_eq(client_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 3, "too long", text);
}
END_TEST

/* Whole-file checks after parsing. */
START_TEST(test_client_file_errors)
{
	struct client_config	c;
	char			err[512] = "";

	put("[common]\nserver_port = 7000\n[ssh]\nlocal_port = 22\nremote_port = 0\n");
	ck_assert_int_eq(client_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "token is required"));

	put("[common]\ntoken = t\n");
	ck_assert_int_eq(client_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no mapping section"));

	put("[common]\ntoken = t\nheartbeat_interval = 30\nheartbeat_timeout = 30\n"
	    "[ssh]\nlocal_port = 22\nremote_port = 0\n");
	ck_assert_int_eq(client_config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "heartbeat_timeout must be longer"));

	ck_assert_int_eq(client_config_load("/nonexistent/x.ini", &c, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.ini: No such file"));
}
END_TEST

/* A mapping without local_port or remote_port names its section's line. */
START_TEST(test_client_mapping_incomplete)
{
	struct client_config	c;
	char			err[512] = "";
	const char		*t1 = "[common]\ntoken = t\n[ssh]\nlocal_port = 22\n";
	const char		*t2 = CLI_OK "\n[web]\n; comment\nremote_port = 8080\n";

	put(t1);
	ck_assert_int_eq(client_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 3, "[ssh] needs local_port and remote_port", t1);
	put(t2);
	ck_assert_int_eq(client_config_load(path, &c, err, sizeof(err)), -1);
	assert_err_at(err, 7, "[web] needs local_port and remote_port", t2);
}
END_TEST

Suite *
suite_config(void)
{
	Suite	*s = suite_create("config");
	TCase	*ts = tcase_create("server");
	TCase	*tc = tcase_create("client");

	tcase_add_checked_fixture(ts, setup, teardown);
	tcase_set_timeout(ts, 10);
	tcase_add_test(ts, test_server_defaults);
	tcase_add_test(ts, test_server_all_keys);
	tcase_add_test(ts, test_server_durations);
	tcase_add_test(ts, test_server_sample);
	tcase_add_test(ts, test_server_cluster);
	tcase_add_loop_test(ts, test_server_bad, 0,
	    sizeof(server_bad) / sizeof(server_bad[0]));
	tcase_add_test(ts, test_server_long_line);
	tcase_add_test(ts, test_server_line_at_limit);
	tcase_add_test(ts, test_server_file_errors);
	suite_add_tcase(s, ts);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_client_defaults);
	tcase_add_test(tc, test_client_all_keys);
	tcase_add_test(tc, test_client_sample);
	tcase_add_test(tc, test_client_server_list);
	tcase_add_test(tc, test_client_many_mappings);
	tcase_add_loop_test(tc, test_client_bad, 0,
	    sizeof(client_bad) / sizeof(client_bad[0]));
	tcase_add_test(tc, test_client_long_line);
	tcase_add_test(tc, test_client_file_errors);
	tcase_add_test(tc, test_client_mapping_incomplete);
	suite_add_tcase(s, tc);
	return s;
}
