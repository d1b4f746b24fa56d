/* SPDX-License-Identifier: ISC */
/*
 * acl.c: source-address rules for public connections.  A mapping may carry
 * allow and deny lists from its register message and from its client's
 * credential; the server's deny_cidrs applies to every mapping.  Deny wins
 * over allow, and any allow list means "only these".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "server.h"
#include "xmalloc.h"

/* The lists of one mapping and its rate-limited refusal log. */
struct acl {
	struct cidr_list	 allow[2];	/* [0] the mapping's, [1] the credential's */
	struct cidr_list	 deny[2];
	time_t			 log_at;	/* second of the last log line */
	uint32_t		 suppressed;	/* refusals not logged since */
};

static uint64_t	acl_refused_count;	/* not yet added to the metrics */

/*
 * Makes the ACL of a new mapping from its register message (checked by
 * cred_register) and its session's credential; NULL when there is none.
 */
struct acl *
acl_new(const struct session *s, const struct msg *req)
{
	struct acl	*a = xcalloc(1, sizeof(*a));
	char		 err[160];

	if (MSG_HAS(req, F_ALLOW_CIDRS))
		(void)cidr_list_parse(req->allow_cidrs, &a->allow[0], err,
		    sizeof(err));
	if (MSG_HAS(req, F_DENY_CIDRS))
		(void)cidr_list_parse(req->deny_cidrs, &a->deny[0], err,
		    sizeof(err));
	if (s->cred != NULL) {
		a->allow[1] = s->cred->allow;
		a->deny[1] = s->cred->deny;
	}
	if (a->allow[0].n + a->allow[1].n + a->deny[0].n + a->deny[1].n == 0) {
		free(a);
		return NULL;
	}
	return a;
}

/* Frees a mapping's ACL. */
void
acl_free(struct acl *a)
{
	free(a);
}

/* Says why sa is refused, or NULL when it may connect. */
static const char *
acl_decide(const struct acl *a, const struct sockaddr *sa)
{
	static const char *const deny_why[2] = { "deny_cidrs of the mapping",
	    "deny list of the credential" };
	static const char *const allow_why[2] = { "not in allow_cidrs of the "
	    "mapping", "not in the allow list of the credential" };

	if (cidr_list_match(&W->conf.deny_cidrs, sa))
		return "deny_cidrs of the server";
	if (a == NULL)
		return NULL;
	for (int i = 0; i < 2; i++)
		if (a->deny[i].n > 0 && cidr_list_match(&a->deny[i], sa))
			return deny_why[i];
	for (int i = 0; i < 2; i++)
		if (a->allow[i].n > 0 && !cidr_list_match(&a->allow[i], sa))
			return allow_why[i];
	return NULL;
}

/*
 * Decides one accepted public connection: 1 refused (fd is closed, counted
 * and logged at most once a second per mapping), 0 it may proceed.
 */
int
acl_refused(struct mapping *map, int fd, const struct sockaddr *sa)
{
	const char	*why = acl_decide(map->acl, sa);
	char		 peer[DB_ADDR_LEN];
	time_t		 now;

	if (why == NULL)
		return 0;
	close(fd);
	acl_refused_count++;
	if (map->acl == NULL)
		map->acl = xcalloc(1, sizeof(*map->acl));	/* log state only */
	now = time(NULL);
	if (map->acl->log_at == now) {
		map->acl->suppressed++;
		return 1;
	}
	net_addr_str(sa, peer, sizeof(peer));
	if (map->acl->suppressed > 0)
		log_info("port %u: connection from %s refused: %s (and %u more "
		    "refused since the last report)", map->remote_port, peer,
		    why, map->acl->suppressed);
	else
		log_info("port %u: connection from %s refused: %s",
		    map->remote_port, peer, why);
	map->acl->log_at = now;
	map->acl->suppressed = 0;
	return 1;
}

/* Returns and resets the refusals not yet added to the metrics. */
uint64_t
acl_take_refused(void)
{
	uint64_t n = acl_refused_count;

	acl_refused_count = 0;
	return n;
}
