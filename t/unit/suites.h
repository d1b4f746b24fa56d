/* SPDX-License-Identifier: ISC */
/* suites.h: every Check suite of the unit test binary.  A suite that is not
 * linked in (weak symbol left NULL) is skipped, so parts can land separately. */
#ifndef GOTUNNEL_SUITES_H
#define GOTUNNEL_SUITES_H
#include <check.h>

Suite	*suite_frame(void) __attribute__((weak));
Suite	*suite_proto(void) __attribute__((weak));
Suite	*suite_config(void) __attribute__((weak));
Suite	*suite_portrange(void) __attribute__((weak));
Suite	*suite_db(void) __attribute__((weak));
Suite	*suite_db_admin(void) __attribute__((weak));	/* users, web sessions, audit (admin) */
Suite	*suite_relay(void) __attribute__((weak));
Suite	*suite_tls(void) __attribute__((weak));
Suite	*suite_tbucket(void) __attribute__((weak));
Suite	*suite_totp(void) __attribute__((weak));	/* RFC 6238 (admin two-factor login) */
Suite	*suite_prune(void) __attribute__((weak));	/* history retention */
Suite	*suite_serverlist(void) __attribute__((weak));	/* the client's server_addr list */
Suite	*suite_http_head(void) __attribute__((weak));	/* vhost request heads */
Suite	*suite_proxyproto(void) __attribute__((weak));	/* PROXY protocol v1/v2 */
Suite	*suite_db_vhost(void) __attribute__((weak));	/* domain claims, sticky ports */
Suite	*suite_cidr(void) __attribute__((weak));
Suite	*suite_db_token(void) __attribute__((weak));	/* per-client credentials */
Suite	*suite_udprec(void) __attribute__((weak));	/* UDP datagram records */
Suite	*suite_alert(void) __attribute__((weak));	/* alert config and tables */
Suite	*suite_db_rec(void) __attribute__((weak));	/* packed live records */

struct db;
/* The LMDB fixture of the table tests (dbfix.c). */
void	 dbfix_open(struct db *, char *, size_t, const char *);
void	 dbfix_close(struct db *, const char *);

#endif
