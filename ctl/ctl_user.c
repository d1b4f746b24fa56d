/* SPDX-License-Identifier: ISC */
/*
 * ctl_user.c: `gotunnelctl user add|del|passwd|role|totp|list`, the
 * console's user management.  Passwords come from the terminal (no echo,
 * asked twice) or, when stdin is not a terminal, from its first line;
 * never from argv.  In cluster mode the change is also written to
 * PostgreSQL (ctl_cluster.c), from where every master copies it.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl.h"
#include "db.h"
#include "db_admin.h"

/* Cluster mode (set by gotunnelctl): audit events also go to the outbox. */
int	ctl_user_outbox;
/* Cluster mode: the [cluster] database users are written to (else NULL). */
const char *ctl_user_database;

#define CTL_PASSWORD_MIN	8

int	ctl_user(const char *data_dir, int argc, char **argv);
int	ctl_totp(struct db *, const char *database, const char *name, int off,
	    const char *actor);

/* Reads one line from fp into buf without its line end; -1 on EOF/too long. */
static int
user_read_line(FILE *fp, char *buf, size_t size)
{
	size_t	n;

	if (fgets(buf, (int)size, fp) == NULL)
		return -1;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(fp))
		return -1;		/* longer than the buffer */
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

/* Prompts on the terminal with echo off and reads one line. */
static int
user_read_tty(const char *prompt, char *buf, size_t size)
{
	struct termios	old, noecho;
	FILE		*tty;
	int		 rc;

	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		tty = stdin;
	if (tcgetattr(fileno(tty), &old) == -1) {
		if (tty != stdin)
			fclose(tty);
		return -1;
	}
	noecho = old;
	noecho.c_lflag &= ~(ECHO | ECHONL);
	noecho.c_lflag |= ICANON;
	/* Echo off (dropping typeahead) before the prompt, like readpassphrase. */
	tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	rc = user_read_line(tty, buf, size);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fprintf(stderr, "\n");
	if (tty != stdin)
		fclose(tty);
	return rc;
}

/* Gets the new password for name into buf (size > DB_PASSWORD_MAX). */
static int
user_get_password(const char *name, char *buf, size_t size)
{
	char	again[DB_PASSWORD_MAX + 2], prompt[128];
	int	ok;

	if (!isatty(STDIN_FILENO)) {
		if (user_read_line(stdin, buf, size) == -1) {
			fprintf(stderr, "user: cannot read the password from "
			    "stdin (one line, at most %d bytes)\n",
			    DB_PASSWORD_MAX);
			return -1;
		}
	} else {
		snprintf(prompt, sizeof(prompt), "Password for %s: ", name);
		if (user_read_tty(prompt, buf, size) == -1)
			return -1;
		if (user_read_tty("Repeat password: ", again,
		    sizeof(again)) == -1)
			return -1;
		ok = strcmp(buf, again) == 0;
		sodium_memzero(again, sizeof(again));
		if (!ok) {
			fprintf(stderr, "user: passwords do not match\n");
			return -1;
		}
	}
	if (strlen(buf) < CTL_PASSWORD_MIN || strlen(buf) > DB_PASSWORD_MAX) {
		fprintf(stderr, "user: the password must have %d to %d "
		    "characters\n", CTL_PASSWORD_MIN, DB_PASSWORD_MAX);
		return -1;
	}
	return 0;
}

/* The audit actor for command-line changes: "cli:<unix user>". */
static void
user_actor(char *buf, size_t size)
{
	struct passwd	*pw = getpwuid(getuid());

	snprintf(buf, size, "cli:%s", pw != NULL ? pw->pw_name : "?");
}

/* Prints one user of `user list`. */
static void
user_print(const struct db_user *u, void *arg)
{
	char		 created[32];
	struct tm	 tm;
	time_t		 t = (time_t)u->created;

	(void)arg;
	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-32s %-8s %-4s %s\n", u->name, db_user_role_name(u->role),
	    u->totp_len > 0 ? "totp" : "-", created);
}

/* Prints the usage of the user commands. */
static int
user_usage(void)
{
	fprintf(stderr, "usage: gotunnelctl -c FILE user add NAME "
	    "[--role viewer|operator|admin]\n"
	    "       gotunnelctl -c FILE user del|passwd NAME\n"
	    "       gotunnelctl -c FILE user role NAME viewer|operator|admin\n"
	    "       gotunnelctl -c FILE user totp NAME [--off]\n"
	    "       gotunnelctl -c FILE user list\n");
	return 1;
}

/* Runs `user add|passwd NAME` (role: the new user's). */
static int
user_set(struct db *db, const char *cmd, const char *name, enum db_role role,
    const char *actor)
{
	char	pw[DB_PASSWORD_MAX + 2], detail[128];
	int	add = strcmp(cmd, "add") == 0, rc;

	if (!add) {
		struct db_user	u;

		if ((rc = db_user_get(db, name, &u)) != 0) {
			fprintf(stderr, "user: %s: %s\n", name,
			    rc == 1 ? "no such user" : "database error");
			return 1;
		}
	}
	if (user_get_password(name, pw, sizeof(pw)) == -1)
		return 1;
	rc = add ? db_user_add(db, name, pw, role) :
	    db_user_passwd(db, name, pw);
	sodium_memzero(pw, sizeof(pw));
	if (add)
		snprintf(detail, sizeof(detail), "user %s role %s", name,
		    db_user_role_name(role));
	else
		snprintf(detail, sizeof(detail), "user %s", name);
	if (rc != 0) {
		(void)db_audit_add(db, actor, add ? "user_add" : "user_passwd",
		    0, "local", detail);
		fprintf(stderr, "user: %s: %s\n", name, rc == 1 ?
		    (add ? "user exists" : "no such user") : "database error");
		return 1;
	}
	if (!add)
		(void)db_websess_delete_user(db, name, NULL);
	(void)db_audit_add(db, actor, add ? "user_add" : "user_passwd", 1,
	    "local", detail);
	if (add)
		printf("user %s added (role %s)\n", name,
		    db_user_role_name(role));
	else
		printf("user %s password changed\n", name);
	return 0;
}

/* Runs `user role NAME ROLE`; takes effect on the user's next request. */
static int
user_role(struct db *db, const char *name, enum db_role role,
    const char *actor)
{
	char	detail[128];
	int	rc;

	snprintf(detail, sizeof(detail), "user %s role %s", name,
	    db_user_role_name(role));
	rc = db_user_set_role(db, name, role);
	(void)db_audit_add(db, actor, "user_role", rc == 0, "local", detail);
	if (rc != 0) {
		fprintf(stderr, "user: %s: %s\n", name,
		    rc == 1 ? "no such user" : "database error");
		return 1;
	}
	printf("user %s role %s\n", name, db_user_role_name(role));
	return 0;
}

/*
 * Reads the arguments after `user CMD NAME`: add takes --role ROLE (default
 * admin), role takes ROLE, totp takes --off.  -1 on anything else.
 */
static int
user_args(const char *cmd, int argc, char **argv, enum db_role *role,
    int *off)
{
	*role = DB_ROLE_ADMIN;
	*off = 0;
	if (strcmp(cmd, "add") == 0 && argc == 5 &&
	    strcmp(argv[3], "--role") == 0)
		*role = db_user_role_parse(argv[4]);
	else if (strcmp(cmd, "role") == 0 && argc == 4)
		*role = db_user_role_parse(argv[3]);
	else if (strcmp(cmd, "totp") == 0 && argc == 4 &&
	    strcmp(argv[3], "--off") == 0)
		*off = 1;
	else if (argc != 3 || strcmp(cmd, "role") == 0)
		return -1;
	if (*role == DB_ROLE_NONE) {
		fprintf(stderr, "user: the role is one of viewer, operator, "
		    "admin\n");
		return -1;
	}
	return 0;
}

/* Runs `user del NAME`; ends the user's console sessions as well. */
static int
user_del(struct db *db, const char *name, const char *actor)
{
	char	detail[128];
	int	rc;

	snprintf(detail, sizeof(detail), "user %s", name);
	rc = db_user_del(db, name);
	(void)db_audit_add(db, actor, "user_del", rc == 0, "local", detail);
	if (rc != 0) {
		fprintf(stderr, "user: %s: %s\n", name,
		    rc == 1 ? "no such user" : "database error");
		return 1;
	}
	(void)db_websess_delete_user(db, name, NULL);
	printf("user %s deleted\n", name);
	return 0;
}

/* Runs `user add|passwd|role|del NAME` on this node's LMDB. */
static int
user_change(struct db *db, const char *cmd, const char *name,
    enum db_role role, const char *actor)
{
	if (strcmp(cmd, "del") == 0)
		return user_del(db, name, actor);
	if (strcmp(cmd, "role") == 0)
		return user_role(db, name, role, actor);
	return user_set(db, cmd, name, role, actor);
}

/*
 * Cluster mode: the change is made in LMDB as on one master, then this
 * node's record (or its delete) is copied to PostgreSQL for the others.
 * Nothing changes when the database cannot be reached; a user that
 * exists in the cluster but not yet here cannot be added again.
 * TOTP enrolment is cluster-wide too, but written by ctl_totp.c.
 */
static int
user_cluster(struct db *db, const char *cmd, const char *name,
    enum db_role role, const char *actor)
{
	struct db_user	 u;
	PGconn		*conn;
	char		 detail[128];
	int		 rc, there = 0;

	memset(&u, 0, sizeof(u));
	if ((conn = ctl_cluster_open(ctl_user_database, "user")) == NULL)
		return 1;
	if (strcmp(cmd, "add") == 0 || strcmp(cmd, "del") == 0)
		there = ctl_cluster_user_exists(conn, name);
	if (there == -1) {
		fprintf(stderr, "user: %s: cluster store: %s", name,
		    PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	if (strcmp(cmd, "add") == 0 && there) {
		fprintf(stderr, "user: %s: user exists (in the cluster)\n", name);
		PQfinish(conn);
		return 1;
	}
	if (strcmp(cmd, "del") == 0 && there && db_user_get(db, name, &u) == 1) {
		/* Not copied here yet (this node's master is down): still ours
		 * to delete cluster-wide. */
		snprintf(detail, sizeof(detail), "user %s", name);
		(void)db_audit_add(db, actor, "user_del", 1, "local", detail);
		printf("user %s deleted\n", name);
		rc = 0;
	} else
		rc = user_change(db, cmd, name, role, actor);
	sodium_memzero(&u, sizeof(u));
	if (rc == 0 && ctl_cluster_user_sync(conn, db, name) == -1) {
		fprintf(stderr, "user: %s: changed on this node only\n", name);
		rc = 1;
	}
	PQfinish(conn);
	return rc;
}

/*
 * Entry point from gotunnelctl: argv[0] is "user", argv[1] the command,
 * argv[2] the user name.  Returns the exit status.
 */
int
ctl_user(const char *data_dir, int argc, char **argv)
{
	struct db	db;
	char		actor[DB_USER_LEN];
	const char	*cmd;
	enum db_role	 role = DB_ROLE_ADMIN;
	int		 rc, off = 0;

	if (argc < 2)
		return user_usage();
	cmd = argv[1];
	if (strcmp(cmd, "list") == 0) {
		if (argc != 2)
			return user_usage();
	} else if (strcmp(cmd, "add") == 0 || strcmp(cmd, "del") == 0 ||
	    strcmp(cmd, "passwd") == 0 || strcmp(cmd, "role") == 0 ||
	    strcmp(cmd, "totp") == 0) {
		if (argc < 3 || user_args(cmd, argc, argv, &role, &off) == -1)
			return user_usage();
		if (!db_user_name_valid(argv[2])) {
			fprintf(stderr, "user: invalid user name (1-63 of "
			    "A-Z a-z 0-9 . _ @ -)\n");
			return 1;
		}
	} else {
		return user_usage();
	}
	if (data_dir == NULL || *data_dir == '\0') {
		fprintf(stderr, "user: no data_dir in the configuration\n");
		return 1;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "user: libsodium failed to initialise\n");
		return 1;
	}
	if (db_open(&db, data_dir, 0) == -1) {
		fprintf(stderr, "user: cannot open the database in %s\n",
		    data_dir);
		return 1;
	}
	db.outbox = ctl_user_outbox;
	user_actor(actor, sizeof(actor));
	if (strcmp(cmd, "list") == 0)
		rc = db_user_list(&db, user_print, NULL) == 0 ? 0 : 1;
	else if (strcmp(cmd, "totp") == 0)
		rc = ctl_totp(&db, ctl_user_database, argv[2], off, actor);
	else if (ctl_user_database != NULL && *ctl_user_database != '\0')
		rc = user_cluster(&db, cmd, argv[2], role, actor);
	else
		rc = user_change(&db, cmd, argv[2], role, actor);
	db_close(&db);
	return rc;
}
