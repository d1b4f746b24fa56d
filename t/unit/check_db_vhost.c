/* SPDX-License-Identifier: ISC */
/*
 * check_db_vhost.c: domain claims of http/https mappings (db_vhost.c via
 * db_claim): all or none, "domain in use", separate http/https names,
 * handover to a reconnecting client, release at session end and at a
 * worker's death; and sticky ports for remote_port 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "db.h"
#include "db_live.h"
#include "db_vhost.h"
#include "log.h"
#include "portrange.h"
#include "suites.h"

static char		tmpdir[64];
static struct db	db;
static uint16_t		busy_port;	/* the fake bind refuses this one */

/* Checked fixture: a fresh environment per test. */
static void
setup(void)
{
	dbfix_open(&db, tmpdir, sizeof(tmpdir), "check_dbv");
	busy_port = 0;
}

/* Closes and removes the environment. */
static void
teardown(void)
{
	dbfix_close(&db, tmpdir);
}

/* Stands in for binding a public port. */
static int
fake_bind(uint16_t port, int probe, void *arg)
{
	return port == busy_port ? -1 : 0;
}

/*
 * One claim as server/control.c makes it: client n (id from n, name
 * "client<n>"), type "tcp"/"http"/"https", domains or a port; new tells
 * whether the session has no client record yet.  0 or -1 with err.
 */
static int
claim(int n, const char *takeover, const char *type, const char *mapping,
    const char *domains, uint16_t port, int32_t pid, char *err,
    uint16_t *got)
{
	struct db_claim		c;
	struct portrange	allow;
	const char		*perr;
	int			rc;

	ck_assert_int_eq(portrange_parse("20000-20009", &allow, &perr), 0);
	memset(&c, 0, sizeof(c));
	c.client.version = DB_RECORD_VERSION;
	snprintf(c.client.id, sizeof(c.client.id), "%032x", n);
	snprintf(c.client.name, sizeof(c.client.name), "client%d", n % 100);
	c.client.worker_pid = pid;
	c.new_client = 1;
	c.takeover_id = takeover;
	c.max_clients = 100;
	c.allow = &allow;
	c.map.version = DB_RECORD_VERSION;
	c.map.remote_port = port;
	c.map.local_port = 8080;
	db_strlcpy(c.map.type, type, sizeof(c.map.type));
	db_strlcpy(c.map.domains, domains, sizeof(c.map.domains));
	db_strlcpy(c.map.client_id, c.client.id, sizeof(c.map.client_id));
	db_strlcpy(c.map.client_name, c.client.name, sizeof(c.map.client_name));
	db_strlcpy(c.map.name, mapping, sizeof(c.map.name));
	c.map.worker_pid = pid;
	c.bind = fake_bind;
	rc = db_claim(&db, &c);
	if (err != NULL)
		snprintf(err, 64, "%s", c.error);
	if (got != NULL)
		*got = c.map.remote_port;
	return rc;
}

/* The client id (as an int) serving a domain, or -1. */
static int
owner(const char *type, const char *domain)
{
	struct db_domain d;

	if (db_vhost_lookup(&db, type, domain, &d) == -1)
		return -1;
	return (int)strtol(d.client_id, NULL, 16);
}

/* Ends client n's session, which had port (0: none, or a vhost one). */
static void
end_port(int n, uint16_t port)
{
	char id[DB_ID_LEN];

	snprintf(id, sizeof(id), "%032x", n);
	ck_assert_int_eq(db_session_end(&db, id, 0, "test", 0, 0, &port,
	    port ? 1 : 0), 0);
}

/* Ends client n's session (http/https: its rows go by client id). */
static void
end(int n)
{
	end_port(n, 0);
}

START_TEST(test_domains_claimed_and_refused)
{
	char err[64];

	ck_assert_int_eq(claim(1, NULL, "http", "web", "a.example.org,b.example.org",
	    80, 100, err, NULL), 0);
	ck_assert_int_eq(owner("http", "a.example.org"), 1);
	ck_assert_int_eq(owner("http", "b.example.org"), 1);
	/* All or none: c is not claimed when b is taken. */
	ck_assert_int_eq(claim(2, NULL, "http", "web", "c.example.org,b.example.org",
	    80, 100, err, NULL), -1);
	ck_assert_str_eq(err, "domain in use");
	ck_assert_int_eq(owner("http", "c.example.org"), -1);
	ck_assert_int_eq(owner("http", "b.example.org"), 1);
	/* HTTPS is a name space of its own. */
	ck_assert_int_eq(claim(2, NULL, "https", "tls", "a.example.org", 443, 100,
	    err, NULL), 0);
	ck_assert_int_eq(owner("https", "a.example.org"), 2);
	ck_assert_int_eq(owner("http", "a.example.org"), 1);
	/* Two mapping rows, keyed by name: both vhost mappings are listed. */
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 2);
	ck_assert_uint_eq(db_count(&db, DB_DOMAINS), 3);
}
END_TEST

START_TEST(test_session_end_releases)
{
	ck_assert_int_eq(claim(1, NULL, "http", "web", "a.example.org", 80, 100,
	    NULL, NULL), 0);
	ck_assert_int_eq(claim(2, NULL, "http", "web", "b.example.org", 80, 100,
	    NULL, NULL), 0);
	end(1);
	ck_assert_int_eq(owner("http", "a.example.org"), -1);
	ck_assert_int_eq(owner("http", "b.example.org"), 2);
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 1);
	ck_assert_int_eq(claim(3, NULL, "http", "web", "a.example.org", 80, 100,
	    NULL, NULL), 0);
	ck_assert_int_eq(owner("http", "a.example.org"), 3);
}
END_TEST

START_TEST(test_takeover_hands_domains_over)
{
	char old[DB_ID_LEN], err[64];

	snprintf(old, sizeof(old), "%032x", 1);
	ck_assert_int_eq(claim(1, NULL, "http", "web", "a.example.org", 80, 100,
	    NULL, NULL), 0);
	/* Another client may not, the same client reconnecting may. */
	ck_assert_int_eq(claim(2, NULL, "http", "web", "a.example.org", 80, 100,
	    err, NULL), -1);
	ck_assert_int_eq(claim(101, old, "http", "web", "a.example.org", 80, 100,
	    err, NULL), 0);
	ck_assert_int_eq(owner("http", "a.example.org"), 101);
	/* The old session's late end leaves the new owner alone. */
	end(1);
	ck_assert_int_eq(owner("http", "a.example.org"), 101);
	ck_assert_uint_eq(db_count(&db, DB_MAPPINGS), 1);
}
END_TEST

START_TEST(test_dead_worker_releases)
{
	ck_assert_int_eq(claim(1, NULL, "http", "web", "a.example.org", 80, 100,
	    NULL, NULL), 0);
	ck_assert_int_eq(claim(2, NULL, "https", "web", "b.example.org", 443, 200,
	    NULL, NULL), 0);
	ck_assert_int_eq(db_clear_worker(&db, 100, "worker died"), 0);
	ck_assert_int_eq(owner("http", "a.example.org"), -1);
	ck_assert_int_eq(owner("https", "b.example.org"), 2);
	ck_assert_int_eq(db_clear_live(&db, "restart"), 0);
	ck_assert_uint_eq(db_count(&db, DB_DOMAINS), 0);
}
END_TEST

START_TEST(test_sticky_port)
{
	uint16_t first, again, other;

	ck_assert_int_eq(claim(1, NULL, "tcp", "ssh", "", 0, 100, NULL, &first), 0);
	ck_assert_uint_ge(first, 20000);
	ck_assert_uint_le(first, 20009);
	end_port(1, first);
	/* Same name and mapping, new session: the same port, every time. */
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(claim(1 + 100 * (i + 1), NULL, "tcp", "ssh", "", 0,
		    100, NULL, &again), 0);
		ck_assert_uint_eq(again, first);
		end_port(1 + 100 * (i + 1), again);
	}
	/* Taken by someone else meanwhile: another port, remembered next. */
	ck_assert_int_eq(claim(2, NULL, "tcp", "x", "", first, 100, NULL, NULL), 0);
	ck_assert_int_eq(claim(1, NULL, "tcp", "ssh", "", 0, 100, NULL, &other), 0);
	ck_assert_uint_ne(other, first);
	end_port(1, other);
	end_port(2, first);
	ck_assert_int_eq(claim(1, NULL, "tcp", "ssh", "", 0, 100, NULL, &again), 0);
	ck_assert_uint_eq(again, other);
	end_port(1, other);
	/* A port the system will not bind is skipped. */
	busy_port = other;
	ck_assert_int_eq(claim(1, NULL, "tcp", "ssh", "", 0, 100, NULL, &again), 0);
	ck_assert_uint_ne(again, other);
}
END_TEST

/* The db_vhost suite. */
Suite *
suite_db_vhost(void)
{
	Suite	*s = suite_create("db_vhost");
	TCase	*tc = tcase_create("domains");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_domains_claimed_and_refused);
	tcase_add_test(tc, test_session_end_releases);
	tcase_add_test(tc, test_takeover_hands_domains_over);
	tcase_add_test(tc, test_dead_worker_releases);
	tcase_add_test(tc, test_sticky_port);
	suite_add_tcase(s, tc);
	return s;
}
