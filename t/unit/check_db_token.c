/* SPDX-License-Identifier: ISC */
/* check_db_token.c: per-client credentials in LMDB (add, find, rotate, revoke). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "db.h"
#include "db_token.h"
#include "suites.h"

static char		tmpdir[64];
static struct db	db;

/* Checked fixture: a fresh environment per test (runs in the test's fork). */
static void
setup(void)
{
	dbfix_open(&db, tmpdir, sizeof(tmpdir), "check_db_token");
}

/* Removes the environment. */
static void
teardown(void)
{
	dbfix_close(&db, tmpdir);
}

/* Looks a secret up: 0 found (record in out), 1 not. */
static int
find(const char *secret, struct db_token *out)
{
	MDB_txn	*txn;
	int	 rc;

	ck_assert_int_eq(db_txn_begin(&db, 1, &txn), 0);
	rc = db_token_find(&db, txn, secret, out);
	mdb_txn_abort(txn);
	return rc;
}

/* Sets last_used as a worker's register would. */
static int
db_token_touch_test(struct db *d, const char *name, int64_t when)
{
	MDB_txn	*txn;
	int	 rc;

	ck_assert_int_eq(db_txn_begin(d, 0, &txn), 0);
	rc = db_token_touch(d, txn, name, when);
	ck_assert_int_eq(db_txn_commit(d, txn), 0);
	return rc;
}

/* Adds a credential with a port range; returns its secret in secret. */
static void
add(const char *name, const char *ports, char secret[DB_TOKEN_SECRET_LEN])
{
	struct db_token	t;
	char		err[160];

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.ports, sizeof(t.ports), "%s", ports);
	ck_assert_int_eq(db_token_check(&t, err, sizeof(err)), 0);
	ck_assert_int_eq(db_token_add(&db, &t, secret), 0);
}

START_TEST(test_add_find)
{
	char		s[DB_TOKEN_SECRET_LEN], path[128], *buf;
	struct db_token	t;
	FILE		*fp;
	long		 n;

	add("laptop", "10000-10010", s);
	/* >= 32 characters of base64url. */
	ck_assert_uint_ge(strlen(s), 32);
	ck_assert_uint_eq(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789-_"), strlen(s));
	ck_assert_int_eq(find(s, &t), 0);
	ck_assert_str_eq(t.name, "laptop");
	ck_assert_str_eq(t.ports, "10000-10010");
	ck_assert_int_eq(t.generation, 1);
	ck_assert_int_eq(t.revoked, 0);
	/* Only a hash is stored: the secret is nowhere in the data file. */
	db_close(&db);
	snprintf(path, sizeof(path), "%s/data.mdb", tmpdir);
	ck_assert_ptr_nonnull(fp = fopen(path, "rb"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), n);
	fclose(fp);
	ck_assert_ptr_null(memmem(buf, (size_t)n, s, strlen(s)));
	ck_assert_ptr_nonnull(memmem(buf, (size_t)n, "laptop", 6));
	free(buf);
	ck_assert_int_eq(db_open(&db, tmpdir, 0), 0);
}
END_TEST

START_TEST(test_not_found)
{
	char		s[DB_TOKEN_SECRET_LEN], other[DB_TOKEN_SECRET_LEN];
	struct db_token	t;

	add("a", "", s);
	ck_assert_int_eq(find("", &t), 1);
	memcpy(other, s, sizeof(other));
	other[0] = other[0] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(find(other, &t), 1);
	other[strlen(other) - 1] = '\0';
	ck_assert_int_eq(find(other, &t), 1);
	ck_assert_int_eq(find("a", &t), 1);	/* the name is not a secret */
}
END_TEST

START_TEST(test_exists)
{
	char		s[DB_TOKEN_SECRET_LEN], s2[DB_TOKEN_SECRET_LEN];
	struct db_token	t;

	add("dup", "", s);
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "dup");
	ck_assert_int_eq(db_token_add(&db, &t, s2), 1);
	ck_assert_int_eq(find(s, &t), 0);
}
END_TEST

START_TEST(test_rotate)
{
	char		s[DB_TOKEN_SECRET_LEN], s2[DB_TOKEN_SECRET_LEN];
	struct db_token	t;

	add("r", "", s);
	ck_assert_int_eq(db_token_rotate(&db, "r", s2), 0);
	ck_assert_str_ne(s, s2);
	ck_assert_int_eq(find(s, &t), 1);
	ck_assert_int_eq(find(s2, &t), 0);
	ck_assert_int_eq(t.generation, 2);
	ck_assert_int_eq(db_token_rotate(&db, "nope", s2), 1);
}
END_TEST

START_TEST(test_revoke)
{
	char		s[DB_TOKEN_SECRET_LEN], s2[DB_TOKEN_SECRET_LEN];
	struct db_token	t;

	add("v", "", s);
	ck_assert_int_eq(db_token_revoke(&db, "v"), 0);
	/* Still found, so a register is told why; but marked revoked. */
	ck_assert_int_eq(find(s, &t), 0);
	ck_assert_int_eq(t.revoked, 1);
	ck_assert_str_eq(db_token_state(&t, db_now()), "revoked");
	ck_assert_int_eq(db_token_revoke(&db, "v"), 2);
	ck_assert_int_eq(db_token_rotate(&db, "v", s2), 2);
	ck_assert_int_eq(db_token_revoke(&db, "nope"), 1);
	/* The name may be issued again; the old secret stays dead. */
	add("v", "", s2);
	ck_assert_int_eq(find(s, &t), 1);
	ck_assert_int_eq(find(s2, &t), 0);
	ck_assert_int_eq(t.revoked, 0);
}
END_TEST

START_TEST(test_touch_list)
{
	char		s[DB_TOKEN_SECRET_LEN];
	struct db_token	t;
	MDB_txn		*txn;

	add("t", "", s);
	ck_assert_int_eq(db_txn_begin(&db, 0, &txn), 0);
	ck_assert_int_eq(db_token_touch(&db, txn, "t", 1234567), 0);
	ck_assert_int_eq(db_txn_commit(&db, txn), 0);
	ck_assert_int_eq(db_token_get(&db, "t", &t), 0);
	ck_assert_int_eq(t.last_used, 1234567);
	ck_assert_str_eq(db_token_state(&t, db_now()), "active");
	t.expires = 100;
	ck_assert_str_eq(db_token_state(&t, 100), "expired");
	ck_assert_str_eq(db_token_state(&t, 99), "active");
}
END_TEST

START_TEST(test_check)
{
	struct db_token	t;
	char		err[160];
	static const char *const names[] = { "", "-x", ".x", "a b", "a/b",
	    "123456789012345678901234567890123", "\xc3\xa9" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(!db_token_name_valid(names[i]), "%s", names[i]);
	ck_assert(db_token_name_valid("laptop-2.home_x"));
	ck_assert(db_token_name_valid("12345678901234567890123456789012"));
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "ok");
	snprintf(t.ports, sizeof(t.ports), "20000-10000");
	ck_assert_int_eq(db_token_check(&t, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "ports"));
	t.ports[0] = '\0';
	snprintf(t.allow, sizeof(t.allow), "10.0.0.0/40");
	ck_assert_int_eq(db_token_check(&t, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "allow"));
	t.allow[0] = '\0';
	snprintf(t.deny, sizeof(t.deny), "nowhere");
	ck_assert_int_eq(db_token_check(&t, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "deny"));
	t.deny[0] = '\0';
	t.max_mappings = -1;
	ck_assert_int_eq(db_token_check(&t, err, sizeof(err)), -1);
	t.max_mappings = 3;
	ck_assert_int_eq(db_token_check(&t, err, sizeof(err)), 0);
}
END_TEST

/* A credential copied from the cluster: found by its secret, kicks on change. */
START_TEST(test_mirror)
{
	struct db_token	in, t;
	char		s[DB_TOKEN_SECRET_LEN], s2[DB_TOKEN_SECRET_LEN];
	int		kick;

	/* Another node's add: its hash (and limits) arrive, not its secret. */
	add("edge", "10000-10010", s);
	ck_assert_int_eq(db_token_get(&db, "edge", &in), 0);
	teardown();
	setup();
	ck_assert_int_eq(find(s, &t), 1);
	ck_assert_int_eq(db_token_mirror(&db, &in, &kick), 0);
	ck_assert_int_eq(kick, 0);
	ck_assert_int_eq(find(s, &t), 0);
	ck_assert_str_eq(t.ports, "10000-10010");
	/* The same row again (a poll that overlaps): nothing changes. */
	ck_assert_int_eq(db_token_touch_test(&db, "edge", 1234), 0);
	ck_assert_int_eq(db_token_mirror(&db, &in, &kick), 0);
	ck_assert_int_eq(kick, 0);
	ck_assert_int_eq(db_token_get(&db, "edge", &t), 0);
	ck_assert_int_eq(t.last_used, 1234);		/* stays this node's */
	/* A rotate elsewhere: the old secret is unknown, sessions recheck. */
	randombytes_buf(s2, sizeof(s2) - 1);
	s2[sizeof(s2) - 1] = '\0';
	for (size_t i = 0; i < sizeof(s2) - 1; i++)
		s2[i] = 'a' + (unsigned char)s2[i] % 26;
	db_token_hash(s2, in.hash);
	in.generation++;
	ck_assert_int_eq(db_token_mirror(&db, &in, &kick), 0);
	ck_assert_int_eq(kick, 1);
	ck_assert_int_eq(find(s, &t), 1);
	ck_assert_int_eq(find(s2, &t), 0);
	/* A revoke elsewhere. */
	in.revoked = 1;
	in.revoked_at = 99;
	ck_assert_int_eq(db_token_mirror(&db, &in, &kick), 0);
	ck_assert_int_eq(kick, 1);
	ck_assert_int_eq(db_token_get(&db, "edge", &t), 0);
	ck_assert_str_eq(db_token_state(&t, db_now()), "revoked");
	/* A malformed row is refused. */
	snprintf(in.ports, sizeof(in.ports), "9-1");
	ck_assert_int_eq(db_token_mirror(&db, &in, &kick), -1);
}
END_TEST

/* The credential table suite. */
Suite *
suite_db_token(void)
{
	Suite	*s = suite_create("db_token");
	TCase	*tc = tcase_create("db_token");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_add_find);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_exists);
	tcase_add_test(tc, test_rotate);
	tcase_add_test(tc, test_revoke);
	tcase_add_test(tc, test_touch_list);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_mirror);
	suite_add_tcase(s, tc);
	return s;
}
