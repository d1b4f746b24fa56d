/* SPDX-License-Identifier: ISC */
/* check_db_admin.c: console users (argon2id), web sessions, audit log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "db.h"
#include "db_admin.h"
#include "suites.h"

static char		tmpdir[64];
static struct db	db;

/* Checked fixture: a fresh environment per test (runs in the test's fork). */
static void
setup(void)
{
	dbfix_open(&db, tmpdir, sizeof(tmpdir), "check_db_admin");
}

/* Removes the environment. */
static void
teardown(void)
{
	dbfix_close(&db, tmpdir);
}

/* 1 when the data file contains needle. */
static int
file_has(const char *needle)
{
	char	 path[128], *buf;
	FILE	*fp;
	long	 n;
	int	 found = 0;

	snprintf(path, sizeof(path), "%s/data.mdb", tmpdir);
	ck_assert_ptr_nonnull(fp = fopen(path, "rb"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), n);
	fclose(fp);
	found = memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

START_TEST(test_hash_params)
{
	char	h[DB_HASH_LEN];

	ck_assert_int_eq(db_user_hash("s3cret-pass", h), 0);
	/* argon2id at OWASP's minimum: 19 MiB, t=2, p=1. */
	ck_assert_msg(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "%s", h);
	ck_assert_int_eq(db_user_verify_hash(h, "s3cret-pass"), 0);
	ck_assert_int_eq(db_user_verify_hash(h, "s3cret-pasS"), -1);
	ck_assert_int_eq(db_user_verify_hash(h, ""), -1);
	ck_assert_int_eq(crypto_pwhash_str_needs_rehash(h, DB_PWHASH_OPSLIMIT,
	    DB_PWHASH_MEMLIMIT), 0);
}
END_TEST

START_TEST(test_hash_salted_and_limits)
{
	char	a[DB_HASH_LEN], b[DB_HASH_LEN], *big;

	ck_assert_int_eq(db_user_hash("same-password", a), 0);
	ck_assert_int_eq(db_user_hash("same-password", b), 0);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(db_user_hash("", a), -1);
	big = malloc(DB_PASSWORD_MAX + 2);
	memset(big, 'x', DB_PASSWORD_MAX + 1);
	big[DB_PASSWORD_MAX + 1] = '\0';
	ck_assert_int_eq(db_user_hash(big, a), -1);
	big[DB_PASSWORD_MAX] = '\0';
	ck_assert_int_eq(db_user_hash(big, a), 0);
	free(big);
	/* A damaged record never verifies. */
	memset(a, 'z', sizeof(a));
	ck_assert_int_eq(db_user_verify_hash(a, "x"), -1);
}
END_TEST

START_TEST(test_user_names)
{
	ck_assert(db_user_name_valid("admin"));
	ck_assert(db_user_name_valid("ops.team_1@example-org"));
	ck_assert(!db_user_name_valid(""));
	ck_assert(!db_user_name_valid("-rf"));
	ck_assert(!db_user_name_valid(".hidden"));
	ck_assert(!db_user_name_valid("a b"));
	ck_assert(!db_user_name_valid("a/b"));
	ck_assert(!db_user_name_valid("\xc3\xa9"));
	ck_assert(!db_user_name_valid("0123456789012345678901234567890123456789"
	    "012345678901234567890123"));
}
END_TEST

static int	listed;

static void
count_user(const struct db_user *u, void *arg)
{
	ck_assert_ptr_eq(arg, &listed);
	ck_assert_str_eq(u->hash, "");		/* list never hands out hashes */
	listed++;
}

START_TEST(test_user_lifecycle)
{
	struct db_user	u;
	size_t		n;

	ck_assert_int_eq(db_user_get(&db, "admin", &u), 1);
	ck_assert_int_eq(db_user_add(&db, "admin", "first-password", DB_ROLE_ADMIN), 0);
	ck_assert_int_eq(db_user_add(&db, "admin", "other-password", DB_ROLE_ADMIN), 1);
	ck_assert_int_eq(db_user_add(&db, "bad name", "other-password", DB_ROLE_ADMIN), -1);
	ck_assert_int_eq(db_user_get(&db, "admin", &u), 0);
	ck_assert_str_eq(u.name, "admin");
	ck_assert_int_eq(u.version, DB_USER_VERSION);
	ck_assert_int_eq(u.role, DB_ROLE_ADMIN);
	ck_assert(u.created > 0 && u.updated >= u.created);
	ck_assert_int_eq(db_user_check(&db, "admin", "first-password"), 0);
	ck_assert_int_eq(db_user_check(&db, "admin", "other-password"), -1);
	ck_assert_int_eq(db_user_check(&db, "nobody", "first-password"), -1);
	ck_assert_int_eq(db_user_check(&db, "bad name", "x"), -1);
	ck_assert(!file_has("first-password"));

	ck_assert_int_eq(db_user_passwd(&db, "admin", "second-password"), 0);
	ck_assert_int_eq(db_user_passwd(&db, "ghost", "second-password"), 1);
	ck_assert_int_eq(db_user_check(&db, "admin", "first-password"), -1);
	ck_assert_int_eq(db_user_check(&db, "admin", "second-password"), 0);

	ck_assert_int_eq(db_user_add(&db, "bob", "bobs-password", DB_ROLE_ADMIN), 0);
	ck_assert_int_eq(db_user_count(&db, &n), 0);
	ck_assert_uint_eq(n, 2);
	listed = 0;
	ck_assert_int_eq(db_user_list(&db, count_user, &listed), 0);
	ck_assert_int_eq(listed, 2);

	ck_assert_int_eq(db_user_del(&db, "admin"), 0);
	ck_assert_int_eq(db_user_del(&db, "admin"), 1);
	ck_assert_int_eq(db_user_check(&db, "admin", "second-password"), -1);
}
END_TEST

START_TEST(test_user_roles_totp)
{
	static const unsigned char	secret[20] = "0123456789abcdefghij";
	struct db_user			u, v1;
	MDB_txn				*txn;
	MDB_val				k, v;

	ck_assert_int_eq(db_user_add(&db, "vi", "viewer-password",
	    DB_ROLE_VIEWER), 0);
	ck_assert_int_eq(db_user_add(&db, "nobody", "viewer-password",
	    DB_ROLE_NONE), -1);
	ck_assert_int_eq(db_user_get(&db, "vi", &u), 0);
	ck_assert_int_eq(u.role, DB_ROLE_VIEWER);
	ck_assert_int_eq(u.totp_len, 0);
	ck_assert_int_eq(db_user_set_role(&db, "vi", DB_ROLE_OPERATOR), 0);
	ck_assert_int_eq(db_user_set_role(&db, "ghost", DB_ROLE_OPERATOR), 1);
	ck_assert_int_eq(db_user_totp_set(&db, "vi", secret, sizeof(secret)),
	    0);
	/* A password change keeps the role and the second factor. */
	ck_assert_int_eq(db_user_passwd(&db, "vi", "other-password"), 0);
	ck_assert_int_eq(db_user_get(&db, "vi", &u), 0);
	ck_assert_int_eq(u.role, DB_ROLE_OPERATOR);
	ck_assert_int_eq(u.totp_len, sizeof(secret));
	ck_assert_mem_eq(u.totp, secret, sizeof(secret));
	/* Each step is used once; older steps never again. */
	ck_assert_int_eq(db_user_totp_use(&db, "vi", 100), 0);
	ck_assert_int_eq(db_user_totp_use(&db, "vi", 100), 1);
	ck_assert_int_eq(db_user_totp_use(&db, "vi", 99), 1);
	ck_assert_int_eq(db_user_totp_use(&db, "vi", 101), 0);
	ck_assert_int_eq(db_user_totp_set(&db, "vi", NULL, 0), 0);
	ck_assert_int_eq(db_user_get(&db, "vi", &u), 0);
	ck_assert_int_eq(u.totp_len, 0);
	ck_assert_int_eq(db_user_totp_use(&db, "vi", 200), 1);
	ck_assert_str_eq(db_user_role_name(DB_ROLE_VIEWER), "viewer");
	ck_assert_int_eq(db_user_role_parse("operator"), DB_ROLE_OPERATOR);
	ck_assert_int_eq(db_user_role_parse("root"), DB_ROLE_NONE);

	/* A record written before roles existed (the old, shorter layout). */
	memset(&v1, 0, sizeof(v1));
	v1.version = 1;
	snprintf(v1.name, sizeof(v1.name), "old");
	ck_assert_int_eq(db_user_hash("old-password", v1.hash), 0);
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	k.mv_data = v1.name;
	k.mv_size = strlen(v1.name);
	v.mv_data = &v1;
	v.mv_size = DB_USER_V1_SIZE;
	ck_assert_int_eq(mdb_put(txn, db.dbi[DB_USERS], &k, &v, 0), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_int_eq(db_user_get(&db, "old", &u), 0);
	ck_assert_int_eq(u.role, DB_ROLE_ADMIN);
	ck_assert_int_eq(u.totp_len, 0);
	ck_assert_int_eq(db_user_check(&db, "old", "old-password"), 0);
	/* Changing it writes the new layout and keeps the admin role. */
	ck_assert_int_eq(db_user_passwd(&db, "old", "new-password"), 0);
	ck_assert_int_eq(db_user_get(&db, "old", &u), 0);
	ck_assert_int_eq(u.version, DB_USER_VERSION);
	ck_assert_int_eq(u.role, DB_ROLE_ADMIN);
}
END_TEST

static char	listed_handle[DB_WEBSESS_HANDLE_HEX];

/* Counts listed sessions and keeps the last handle. */
static void
count_websess(const char *handle, const struct db_websession *s, void *arg)
{
	ck_assert_str_eq(s->csrf, "");		/* never handed out */
	snprintf(listed_handle, sizeof(listed_handle), "%s", handle);
	(*(int *)arg)++;
}

/* A user row without TOTP state (before schema 3) keeps this node's TOTP. */
START_TEST(test_user_mirror)
{
	struct db_user	in, u;
	unsigned char	secret[20] = { 1, 2, 3 };
	int		ended;

	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "ops");
	ck_assert_int_eq(db_user_hash("first-password", in.hash), 0);
	in.role = DB_ROLE_VIEWER;
	in.created = in.updated = 100;
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 0, &ended), 0);
	ck_assert_int_eq(ended, 0);
	ck_assert_int_eq(db_user_check(&db, "ops", "first-password"), 0);
	ck_assert_int_eq(db_user_totp_set(&db, "ops", secret, sizeof(secret)), 0);
	/* The same row again: nothing to do, nothing ends. */
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 0, &ended), 0);
	ck_assert_int_eq(ended, 0);
	/* A role change keeps the sessions, a new password ends them. */
	in.role = DB_ROLE_OPERATOR;
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 0, &ended), 0);
	ck_assert_int_eq(ended, 0);
	ck_assert_int_eq(db_user_hash("second-password", in.hash), 0);
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 0, &ended), 0);
	ck_assert_int_eq(ended, 1);
	ck_assert_int_eq(db_user_check(&db, "ops", "first-password"), -1);
	ck_assert_int_eq(db_user_check(&db, "ops", "second-password"), 0);
	ck_assert_int_eq(db_user_get(&db, "ops", &u), 0);
	ck_assert_uint_eq(u.role, DB_ROLE_OPERATOR);
	ck_assert_uint_eq(u.totp_len, sizeof(secret));	/* kept */
	ck_assert_int_eq(memcmp(u.totp, secret, sizeof(secret)), 0);
	/* A hash that is not argon2id is refused. */
	snprintf(in.hash, sizeof(in.hash), "plain");
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 0, &ended), -1);
	/* Deleted elsewhere: gone here, sessions end; again: nothing. */
	ck_assert_int_eq(db_user_mirror(&db, &in, 1, 0, &ended), 0);
	ck_assert_int_eq(ended, 1);
	ck_assert_int_eq(db_user_get(&db, "ops", &u), 1);
	ck_assert_int_eq(db_user_mirror(&db, &in, 1, 0, &ended), 0);
	ck_assert_int_eq(ended, 0);
}
END_TEST

/*
 * A user row with TOTP state (schema 3) sets the secret or removes it; the
 * last step used stays this node's while the secret is the same.
 */
START_TEST(test_user_mirror_totp)
{
	struct db_user	in, u;
	unsigned char	other[20] = { 9, 8, 7 };
	int		ended;

	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "two");
	ck_assert_int_eq(db_user_hash("first-password", in.hash), 0);
	in.role = DB_ROLE_ADMIN;
	in.created = in.updated = 100;
	in.totp_len = 20;
	memset(in.totp, 0x5a, 20);
	/* A new user with a secret: enrolled here too. */
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 1, &ended), 0);
	ck_assert_int_eq(ended, 0);
	ck_assert_int_eq(db_user_get(&db, "two", &u), 0);
	ck_assert_uint_eq(u.totp_len, 20);
	ck_assert_int_eq(memcmp(u.totp, in.totp, 20), 0);
	/* A code used here, then the same row again: the step stays used. */
	ck_assert_int_eq(db_user_totp_use(&db, "two", 500), 0);
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 1, &ended), 0);
	ck_assert_int_eq(db_user_totp_use(&db, "two", 500), 1);
	/* Without TOTP state the local enrolment is left alone. */
	in.totp_len = 0;
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 0, &ended), 0);
	ck_assert_int_eq(db_user_get(&db, "two", &u), 0);
	ck_assert_uint_eq(u.totp_len, 20);
	/* A new secret from another node replaces it; its steps start anew. */
	in.totp_len = sizeof(other);
	memcpy(in.totp, other, sizeof(other));
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 1, &ended), 0);
	ck_assert_int_eq(ended, 0);
	ck_assert_int_eq(db_user_get(&db, "two", &u), 0);
	ck_assert_int_eq(memcmp(u.totp, other, sizeof(other)), 0);
	ck_assert_int_eq(db_user_totp_use(&db, "two", 400), 0);
	/* Off elsewhere: off here, the password alone logs in again. */
	in.totp_len = 0;
	memset(in.totp, 0, sizeof(in.totp));
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 1, &ended), 0);
	ck_assert_int_eq(ended, 0);
	ck_assert_int_eq(db_user_get(&db, "two", &u), 0);
	ck_assert_uint_eq(u.totp_len, 0);
	ck_assert_int_eq(db_user_totp_use(&db, "two", 900), 1);
	ck_assert_int_eq(db_user_check(&db, "two", "first-password"), 0);
	/* A length beyond the record is refused. */
	in.totp_len = sizeof(in.totp) + 1;
	ck_assert_int_eq(db_user_mirror(&db, &in, 0, 1, &ended), -1);
}
END_TEST

START_TEST(test_websess_handles)
{
	struct db_websession	s;
	char			a[DB_WEBSESS_HEX], b[DB_WEBSESS_HEX];
	char			ha[DB_WEBSESS_HANDLE_HEX];
	int			n = 0;

	ck_assert_int_eq(db_websess_create(&db, "alice", "127.0.0.1", 3600, a,
	    NULL), 0);
	ck_assert_int_eq(db_websess_create(&db, "bob", "127.0.0.2", 3600, b,
	    NULL), 0);
	db_websess_handle(a, ha);
	ck_assert_uint_eq(strlen(ha), 16);
	/* The handle is neither a piece of the id nor of the table key. */
	ck_assert_ptr_null(strstr(a, ha));
	ck_assert(!file_has(ha));
	ck_assert_int_eq(db_websess_list(&db, NULL, count_websess, &n), 0);
	ck_assert_int_eq(n, 2);
	n = 0;
	ck_assert_int_eq(db_websess_list(&db, "alice", count_websess, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(listed_handle, ha);
	ck_assert_int_eq(db_websess_revoke(&db, ha, "bob", &s), 2);
	ck_assert_int_eq(db_websess_get(&db, a, &s), 0);
	ck_assert_int_eq(db_websess_revoke(&db, ha, "alice", &s), 0);
	ck_assert_str_eq(s.user, "alice");
	ck_assert_int_eq(db_websess_get(&db, a, &s), 1);
	ck_assert_int_eq(db_websess_revoke(&db, ha, NULL, &s), 1);
	ck_assert_int_eq(db_websess_revoke(&db, "short", NULL, &s), 1);
	ck_assert_int_eq(db_websess_get(&db, b, &s), 0);
}
END_TEST

/* Seconds one db_user_check() of user takes. */
static double
check_seconds(const char *user)
{
	struct timespec	a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	(void)db_user_check(&db, user, "wrong-password");
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

START_TEST(test_user_check_timing)
{
	double		known = 1e9, unknown = 1e9, t;

	ck_assert_int_eq(db_user_add(&db, "admin", "first-password", DB_ROLE_ADMIN), 0);
	/* Warm up the dummy hash (made on first use). */
	(void)db_user_check(&db, "nobody", "x");
	/*
	 * The fastest of five runs each: one run on a loaded 2-core machine
	 * can be preempted for longer than the hash takes; the minimum is
	 * what the work costs.
	 */
	for (int i = 0; i < 5; i++) {
		if ((t = check_seconds("admin")) < known)
			known = t;
		if ((t = check_seconds("nobody")) < unknown)
			unknown = t;
	}
	ck_assert_msg(unknown > known / 3 && known > unknown / 3,
	    "known %.3fs unknown %.3fs", known, unknown);
}
END_TEST

START_TEST(test_websess_roundtrip)
{
	struct db_websession	s, g;
	char			id[DB_WEBSESS_HEX], other[DB_WEBSESS_HEX];

	ck_assert_int_eq(db_websess_create(&db, "admin", "127.0.0.1", 3600, id,
	    &s), 0);
	ck_assert_uint_eq(strlen(id), 64);
	ck_assert(db_websess_id_valid(id));
	ck_assert_uint_eq(strlen(s.csrf), 64);
	ck_assert_int_eq(db_websess_get(&db, id, &g), 0);
	ck_assert_str_eq(g.user, "admin");
	ck_assert_str_eq(g.csrf, s.csrf);
	ck_assert_str_eq(g.address, "127.0.0.1");
	ck_assert(g.expires == g.created + 3600);
	/* Stored under sha256(id): the id itself is not in the file. */
	ck_assert(!file_has(id));
	/* Ids and tokens are fresh each time. */
	ck_assert_int_eq(db_websess_create(&db, "admin", "", 3600, other, &g), 0);
	ck_assert_str_ne(id, other);
	ck_assert_str_ne(g.csrf, s.csrf);
	/* A near miss is unknown: a copy of id with its first digit changed. */
	memcpy(other, id, sizeof(other));
	other[0] = id[0] == 'a' ? 'b' : 'a';
	ck_assert_str_ne(id, other);
	ck_assert_int_eq(db_websess_get(&db, other, &g), 1);
	ck_assert_int_eq(db_websess_delete(&db, id), 0);
	ck_assert_int_eq(db_websess_get(&db, id, &g), 1);
	ck_assert_int_eq(db_websess_delete(&db, id), 1);
}
END_TEST

START_TEST(test_websess_id_valid)
{
	char	id[80];

	memset(id, 'a', 64);
	id[64] = '\0';
	ck_assert(db_websess_id_valid(id));
	id[63] = 'A';
	ck_assert(!db_websess_id_valid(id));
	id[63] = 'g';
	ck_assert(!db_websess_id_valid(id));
	id[63] = '\0';
	ck_assert(!db_websess_id_valid(id));
	memset(id, 'a', 65);
	id[65] = '\0';
	ck_assert(!db_websess_id_valid(id));
	ck_assert(!db_websess_id_valid(""));
	ck_assert(!db_websess_id_valid("../../etc/passwd"));
}
END_TEST

START_TEST(test_websess_expiry_and_purge)
{
	struct db_websession	g;
	char			a[DB_WEBSESS_HEX], b[DB_WEBSESS_HEX];
	size_t			n;

	ck_assert_int_eq(db_websess_create(&db, "admin", "", 1, a, NULL), 0);
	ck_assert_int_eq(db_websess_create(&db, "admin", "", 3600, b, NULL), 0);
	ck_assert_int_eq(db_websess_create(&db, "admin", "", 0, b, NULL), -1);
	ck_assert_int_eq(db_websess_create(&db, "admin", "", 3600, b, NULL), 0);
	ck_assert_int_eq(db_websess_get(&db, a, &g), 0);
	sleep(2);
	ck_assert_int_eq(db_websess_get(&db, a, &g), 1);	/* expired */
	ck_assert_int_eq(db_websess_get(&db, b, &g), 0);
	ck_assert_int_eq(db_websess_purge(&db, db_now(), &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(db_websess_purge(&db, db_now() + 7200, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(db_websess_get(&db, b, &g), 1);
}
END_TEST

START_TEST(test_websess_delete_user)
{
	struct db_websession	g;
	char			a[DB_WEBSESS_HEX], b[DB_WEBSESS_HEX];
	char			c[DB_WEBSESS_HEX];
	size_t			n;

	ck_assert_int_eq(db_websess_create(&db, "alice", "", 600, a, NULL), 0);
	ck_assert_int_eq(db_websess_create(&db, "alice", "", 600, b, NULL), 0);
	ck_assert_int_eq(db_websess_create(&db, "bob", "", 600, c, NULL), 0);
	ck_assert_int_eq(db_websess_delete_user(&db, "alice", &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(db_websess_get(&db, a, &g), 1);
	ck_assert_int_eq(db_websess_get(&db, b, &g), 1);
	ck_assert_int_eq(db_websess_get(&db, c, &g), 0);
}
END_TEST

START_TEST(test_audit)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct db_audit	 a;
	size_t		 n;
	char		 longdetail[300];

	memset(longdetail, 'd', sizeof(longdetail) - 1);
	longdetail[sizeof(longdetail) - 1] = '\0';
	ck_assert_int_eq(db_audit_add(&db, "admin", "login", 1, "127.0.0.1",
	    ""), 0);
	ck_assert_int_eq(db_audit_add(&db, NULL, "login", 0, NULL,
	    longdetail), 0);
	ck_assert_int_eq(db_audit_count(&db, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, db.dbi[DB_AUDIT], &cur), 0);
	ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_LAST), 0);
	ck_assert_uint_eq(db_u64_key(&k), 2);
	ck_assert_uint_eq(v.mv_size, sizeof(a));
	memcpy(&a, v.mv_data, sizeof(a));
	ck_assert_int_eq(a.ok, 0);
	ck_assert_str_eq(a.user, "");
	ck_assert_uint_eq(strlen(a.detail), sizeof(a.detail) - 1);
	ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_PREV), 0);
	memcpy(&a, v.mv_data, sizeof(a));
	ck_assert_str_eq(a.action, "login");
	ck_assert_str_eq(a.user, "admin");
	ck_assert_int_eq(a.ok, 1);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
}
END_TEST

/* Users, sessions and audit of gotunnel-admin. */
Suite *
suite_db_admin(void)
{
	Suite	*s = suite_create("db_admin");
	TCase	*tc = tcase_create("db_admin");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hash_params);
	tcase_add_test(tc, test_hash_salted_and_limits);
	tcase_add_test(tc, test_user_names);
	tcase_add_test(tc, test_user_lifecycle);
	tcase_add_test(tc, test_user_roles_totp);
	tcase_add_test(tc, test_user_mirror);
	tcase_add_test(tc, test_user_mirror_totp);
	tcase_add_test(tc, test_user_check_timing);
	tcase_add_test(tc, test_websess_roundtrip);
	tcase_add_test(tc, test_websess_handles);
	tcase_add_test(tc, test_websess_id_valid);
	tcase_add_test(tc, test_websess_expiry_and_purge);
	tcase_add_test(tc, test_websess_delete_user);
	tcase_add_test(tc, test_audit);
	suite_add_tcase(s, tc);
	return s;
}
