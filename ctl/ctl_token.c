/* SPDX-License-Identifier: ISC */
/*
 * ctl_token.c: `gotunnelctl token add|list|revoke|rotate`, per-client
 * credentials.  The secret of add and rotate is printed once, alone on
 * the last line of stdout; only its hash is stored (db_token.c).  Revoke
 * and rotate ask a running master to close the sessions using the old
 * secret at once; without a master they take effect at the next register.
 * In cluster mode each change is also written to PostgreSQL (ctl_cluster.c):
 * every master copies it and closes the old secret's sessions itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <yajl/yajl_gen.h>

#include "conf_ini.h"
#include "ctl.h"
#include "db_token.h"

/* Formats a unix time as UTC, "never" for 0. */
static const char *
token_time(int64_t t, const char *zero, char *buf, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (t <= 0)
		return zero;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* Appends CIDR to a comma-separated list; -1 when it does not fit. */
static int
token_list_append(char *list, size_t size, const char *cidr)
{
	size_t	n = strlen(list);
	int	w;

	w = snprintf(list + n, size - n, "%s%s", n ? "," : "", cidr);
	return w < 0 || (size_t)w >= size - n ? -1 : 0;
}

/* Fills t from the options after NAME; -1 with a message on stderr. */
static int
token_parse_opts(struct db_token *t, int argc, char **argv)
{
	char	err[256];
	long	secs;

	for (int i = 0; i < argc; i++) {
		const char	*opt = argv[i], *val, *eq;
		char		 key[32];

		if ((eq = strchr(opt, '=')) != NULL) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - opt), opt);
			val = eq + 1;
		} else {
			snprintf(key, sizeof(key), "%s", opt);
			if (i + 1 >= argc) {
				fprintf(stderr, "gotunnelctl: %s needs a value\n",
				    opt);
				return -1;
			}
			val = argv[++i];
		}
		if (strcmp(key, "--ports") == 0) {
			if (strlen(val) >= sizeof(t->ports)) {
				fprintf(stderr, "gotunnelctl: --ports: too long\n");
				return -1;
			}
			snprintf(t->ports, sizeof(t->ports), "%s", val);
		} else if (strcmp(key, "--expires") == 0) {
			if (conf_parse_duration(val, &secs) == -1) {
				fprintf(stderr, "gotunnelctl: --expires: expected "
				    "a duration such as 3600, 30s, 15m, 12h or 30d\n");
				return -1;
			}
			t->expires = (int64_t)time(NULL) + secs;
		} else if (strcmp(key, "--max-mappings") == 0) {
			if (conf_parse_int(val, 0, 1000000, &secs) == -1) {
				fprintf(stderr, "gotunnelctl: --max-mappings: "
				    "expected a number from 0 (no limit) to "
				    "1000000\n");
				return -1;
			}
			t->max_mappings = secs;
		} else if (strcmp(key, "--allow") == 0 ||
		    strcmp(key, "--deny") == 0) {
			if (token_list_append(key[2] == 'a' ? t->allow : t->deny,
			    CIDR_STR_MAX, val) == -1) {
				fprintf(stderr, "gotunnelctl: %s: list too long\n",
				    key);
				return -1;
			}
		} else {
			fprintf(stderr, "gotunnelctl: token add: unknown option "
			    "'%s'\n", key);
			return -1;
		}
	}
	if (db_token_check(t, err, sizeof(err)) == -1) {
		fprintf(stderr, "gotunnelctl: %s\n", err);
		return -1;
	}
	return 0;
}

/* Asks a running master to close the sessions of a credential's old secret: 0 done. */
static int
token_kick(const struct server_config *c, const char *name)
{
	struct msg	m;
	yajl_val	reply;

	msg_init(&m, MSG_CTL);
	msg_set_str(&m, F_CMD, "token_kick");
	msg_set_str(&m, F_NAME, name);
	if ((reply = ctl_request_msg(c->control_socket, &m)) == NULL) {
		fprintf(stderr, "gotunnelctl: the master is not running; "
		    "credential %s is refused from its next register\n", name);
		return -1;
	}
	yajl_tree_free(reply);
	return 0;
}

/* Prints one credential as a table row. */
static void
token_print_row(const struct db_token *t, void *arg)
{
	char	e[32], u[32], lim[16], src[2 * CIDR_STR_MAX + 16];

	snprintf(lim, sizeof(lim), "%lld", (long long)t->max_mappings);
	snprintf(src, sizeof(src), "%s%s%s%s%s", t->allow[0] ? "allow " : "",
	    t->allow, t->allow[0] && t->deny[0] ? "; " : "",
	    t->deny[0] ? "deny " : "", t->deny);
	printf("%-20s  %-8s  %-16s  %-19s  %-8s  %-19s  %s\n", t->name,
	    db_token_state(t, (int64_t)time(NULL)),
	    t->ports[0] ? t->ports : "any",
	    token_time(t->expires, "never", e, sizeof(e)),
	    t->max_mappings ? lim : "-",
	    token_time(t->last_used, "-", u, sizeof(u)), src[0] ? src : "any");
}

/* Emits a comma-separated CIDR list as a JSON array of strings. */
static void
token_gen_list(yajl_gen g, const char *key, const char *list)
{
	const char	*item;
	size_t		 n;

	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_array_open(g);
	while ((n = cidr_list_next(&list, &item)) > 0)
		yajl_gen_string(g, (const unsigned char *)item, n);
	yajl_gen_array_close(g);
}

/* Emits one credential as a JSON object. */
static void
token_gen_one(const struct db_token *t, void *arg)
{
	yajl_gen g = arg;

#define KS(k, v) do { yajl_gen_string(g, (const unsigned char *)(k), strlen(k)); \
	yajl_gen_string(g, (const unsigned char *)(v), strlen(v)); } while (0)
#define KI(k, v) do { yajl_gen_string(g, (const unsigned char *)(k), strlen(k)); \
	yajl_gen_integer(g, (long long)(v)); } while (0)
	yajl_gen_map_open(g);
	KS("name", t->name);
	KS("state", db_token_state(t, (int64_t)time(NULL)));
	KS("ports", t->ports);
	KI("expires", t->expires);
	KI("max_mappings", t->max_mappings);
	token_gen_list(g, "allow", t->allow);
	token_gen_list(g, "deny", t->deny);
	KI("created", t->created);
	KI("last_used", t->last_used);
	yajl_gen_string(g, (const unsigned char *)"revoked", 7);
	yajl_gen_bool(g, t->revoked != 0);
	yajl_gen_map_close(g);
#undef KS
#undef KI
}

/* token list [--json]. */
static int
token_list(struct db *db, int json)
{
	yajl_gen		 g;
	const unsigned char	*buf;
	size_t			 len;
	int			 rc;

	if (!json) {
		printf("%-20s  %-8s  %-16s  %-19s  %-8s  %-19s  %s\n", "NAME",
		    "STATE", "PORTS", "EXPIRES", "MAPPINGS", "LAST USED",
		    "SOURCES");
		return db_token_list(db, token_print_row, NULL) == 0 ? 0 : 1;
	}
	g = yajl_gen_alloc(NULL);
	yajl_gen_array_open(g);
	rc = db_token_list(db, token_gen_one, g);
	yajl_gen_array_close(g);
	yajl_gen_get_buf(g, &buf, &len);
	if (rc == 0)
		printf("%.*s\n", (int)len, (const char *)buf);
	yajl_gen_free(g);
	return rc == 0 ? 0 : 1;
}

/* Prints the secret: the only output line a script needs, the last one. */
static void
token_print_secret(const char *what, char *secret)
{
	printf("%s; put this secret in the client's [common] token "
	    "(it is not shown again):\n%s\n", what, secret);
	fflush(stdout);
	sodium_memzero(secret, DB_TOKEN_SECRET_LEN);
}

/* The token subcommands; argv[0] is "token". */
int
ctl_token(const struct server_config *c, int argc, char **argv, int json)
{
	struct db	 db;
	struct db_token	 t;
	PGconn		*conn = NULL;
	char		 secret[DB_TOKEN_SECRET_LEN], what[160];
	const char	*sub = argc >= 2 ? argv[1] : "";
	int		 rc = 1, r;

	memset(&t, 0, sizeof(t));
	if (strcmp(sub, "list") == 0 && argc == 2)
		;
	else if (strcmp(sub, "add") == 0 && argc >= 3) {
		snprintf(t.name, sizeof(t.name), "%.*s", DB_TOKEN_NAME_LEN - 1,
		    argv[2]);
		if (strlen(argv[2]) >= DB_TOKEN_NAME_LEN) {
			fprintf(stderr, "gotunnelctl: credential name longer "
			    "than 32 characters\n");
			return 1;
		}
		if (token_parse_opts(&t, argc - 3, argv + 3) == -1)
			return 1;
	} else if ((strcmp(sub, "revoke") == 0 || strcmp(sub, "rotate") == 0) &&
	    argc == 3) {
		if (!db_token_name_valid(argv[2])) {
			fprintf(stderr, "gotunnelctl: no credential '%s'\n",
			    argv[2]);
			return 1;
		}
	} else {
		fprintf(stderr, "usage: gotunnelctl token add NAME [--ports "
		    "RANGES] [--expires DURATION] [--max-mappings N] "
		    "[--allow CIDR]... [--deny CIDR]...\n"
		    "       gotunnelctl token list [--json]\n"
		    "       gotunnelctl token revoke|rotate NAME\n");
		return 1;
	}
	if (sodium_init() < 0 || db_open(&db, c->data_dir, 0) == -1) {
		fprintf(stderr, "gotunnelctl: cannot open the database in %s\n",
		    c->data_dir);
		return 1;
	}
	/* Cluster mode: nothing changes unless PostgreSQL can take it too. */
	if (c->cluster_database[0] != '\0' && strcmp(sub, "list") != 0 &&
	    (conn = ctl_cluster_open(c->cluster_database, "gotunnelctl")) == NULL) {
		db_close(&db);
		return 1;
	}
	if (strcmp(sub, "list") == 0)
		rc = token_list(&db, json);
	else if (strcmp(sub, "add") == 0) {
		r = conn != NULL ? ctl_cluster_token_exists(conn, t.name) : 0;
		if (r == 0)
			r = db_token_add(&db, &t, secret);
		else if (r == -1)
			fprintf(stderr, "gotunnelctl: cluster store: %s",
			    PQerrorMessage(conn));
		if (r == 0 && conn != NULL &&
		    ctl_cluster_token_sync(conn, &db, t.name) == -1)
			r = -2;
		if (r == 1)
			fprintf(stderr, "gotunnelctl: credential %s exists "
			    "(revoke it first, or rotate its secret)\n", t.name);
		else if (r == -1)
			fprintf(stderr, "gotunnelctl: database error\n");
		else if (r == -2)
			fprintf(stderr, "gotunnelctl: credential %s added on this "
			    "node only; its secret is not shown: revoke it\n",
			    t.name);
		else {
			snprintf(what, sizeof(what), "credential %s added",
			    t.name);
			token_print_secret(what, secret);
			rc = 0;
		}
	} else {
		int rot = strcmp(sub, "rotate") == 0;

		r = rot ? db_token_rotate(&db, argv[2], secret) :
		    db_token_revoke(&db, argv[2]);
		if (r == 1)
			fprintf(stderr, "gotunnelctl: no credential '%s'\n",
			    argv[2]);
		else if (r == 2)
			fprintf(stderr, "gotunnelctl: credential %s is revoked\n",
			    argv[2]);
		else if (r == -1)
			fprintf(stderr, "gotunnelctl: database error\n");
		else if (conn != NULL &&
		    ctl_cluster_token_sync(conn, &db, argv[2]) == -1)
			fprintf(stderr, "gotunnelctl: credential %s %s on this "
			    "node only\n", argv[2], rot ? "rotated" : "revoked");
		else {
			/* The old secret's sessions go before the new one is shown. */
			int kicked = token_kick(c, argv[2]) == 0;

			snprintf(what, sizeof(what), "credential %s %s%s",
			    argv[2], rot ? "rotated" : "revoked", kicked ?
			    ", its sessions closed" : "");
			if (rot)
				token_print_secret(what, secret);
			else
				printf("%s\n", what);
			rc = 0;
		}
	}
	sodium_memzero(secret, sizeof(secret));
	if (conn != NULL)
		PQfinish(conn);
	db_close(&db);
	return rc;
}
