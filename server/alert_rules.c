/* SPDX-License-Identifier: ISC */
/*
 * alert_rules.c: the master's alert rules, evaluated once a second from
 * what the workers already flush to LMDB (live client records, session
 * history) and from the bad-token reports workers send over IPC:
 *   client_offline  a client name seen before has no session for offline_for
 *   traffic_quota   a client's bytes on this UTC day pass quota_bytes_per_day
 *   auth_failures   one source address sends more bad tokens in a minute than
 *                   auth_failures_per_min; resolved after a quiet minute
 */
#include <stdlib.h>
#include <string.h>

#include "db_rec.h"
#include "db_alert.h"
#include "db_live.h"
#include "log.h"
#include "server.h"
#include "xmalloc.h"

#define MAX_NAMES	65536	/* client names tracked (offline, quota) */
#define MAX_ADDRS	4096	/* source addresses with recent bad tokens */
#define SEED_SCAN	100000	/* history records read at start for names */
#define HIST_PER_PASS	10000	/* new history records read per second */
#define AUTH_WINDOW	60	/* seconds */

/* A client name: when it was last online, its bytes today. */
struct rname {
	TAILQ_ENTRY(rname)	 entry;
	char			 name[DB_NAME_LEN];
	int64_t			 last_online;	/* 0: never seen online */
	int			 online;
	int64_t			 day;
	uint64_t		 bytes_today;
	int			 bytes_dirty;
};

/* A live session whose bytes are being added to its name's day. */
struct rsess {
	TAILQ_ENTRY(rsess)	 entry;
	char			 id[DB_ID_LEN];
	struct rname		*name;
	uint64_t		 counted;
	uint64_t		 hist_seq;
	int			 seen;
};

/* Bad tokens of one source address in the last minute, per second. */
struct raddr {
	TAILQ_ENTRY(raddr)	 entry;
	char			 ip[DB_ADDR_LEN];
	uint32_t		 count[AUTH_WINDOW];
	int64_t			 stamp[AUTH_WINDOW];
	int64_t			 last;
};

static struct {
	TAILQ_HEAD(, rname)	 names;
	TAILQ_HEAD(, rsess)	 sessions;
	TAILQ_HEAD(, raddr)	 addrs;
	struct strmap		 names_by, sessions_by, addrs_by;
	unsigned		 nnames, naddrs;
	int64_t			 today;
	uint64_t		 hist_next;	/* first hist_sess record not read yet */
	int			 started;
} R;

/* Finds or adds a name (NULL when the table is full). */
static struct rname *
rules_name(const char *name, int create)
{
	struct db_alert_quota	 q;
	struct rname		*n = strmap_get(&R.names_by, name);
	MDB_txn			*txn;

	if (n != NULL || !create || name[0] == '\0' || R.nnames >= MAX_NAMES)
		return n;
	n = xcalloc(1, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->day = R.today;
	/* Bytes counted today before a master restart still count. */
	if (db_txn_begin(&M->db, 1, &txn) == 0) {
		if (db_alert_quota_get(&M->db, txn, name, &q) == 0 &&
		    q.day == R.today)
			n->bytes_today = q.bytes;
		mdb_txn_abort(txn);
	}
	strmap_put(&R.names_by, n->name, n);
	TAILQ_INSERT_TAIL(&R.names, n, entry);
	R.nnames++;
	return n;
}

/* Seeds known names (and when each was last online) from session history. */
static void
rules_seed(void)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 n = 0;

	if (db_txn_begin(&M->db, 1, &txn) != 0)
		return;
	R.hist_next = db_next_seq(txn, M->db.dbi[DB_HIST_SESS]);
	if (mdb_cursor_open(txn, M->db.dbi[DB_HIST_SESS], &cur) == 0) {
		for (int op = MDB_LAST; n < SEED_SCAN &&
		    mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_PREV, n++) {
			struct db_hist_session	 h;
			struct rname		*rn;
			char			 name[DB_NAME_LEN];
			int64_t			 t;

			if (db_rec_hist_sess(&v, &h) != 0)
				continue;
			db_strlcpy(name, h.name, sizeof(name));
			if ((rn = rules_name(name, 1)) == NULL)
				continue;
			t = h.end ? h.end : h.start;
			if (t > rn->last_online)
				rn->last_online = t;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

/*
 * Learns the names of sessions started since the last pass, even one too
 * short to be seen in the live table: a client that connects and dies
 * within a second has still been "seen before".
 */
static void
rules_scan_new_sessions(MDB_txn *txn, int64_t now)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	unsigned char	 key[8];
	int		 n = 0, rc;

	if (mdb_cursor_open(txn, M->db.dbi[DB_HIST_SESS], &cur) != 0)
		return;
	db_key_u64(R.hist_next, key);
	k.mv_data = key;
	k.mv_size = sizeof(key);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && n < HIST_PER_PASS;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
		struct db_hist_session	 h;
		struct rname		*rn;
		char			 name[DB_NAME_LEN];

		R.hist_next = db_u64_key(&k) + 1;
		if (db_rec_hist_sess(&v, &h) != 0)
			continue;
		db_strlcpy(name, h.name, sizeof(name));
		if ((rn = rules_name(name, 1)) != NULL && rn->last_online <
		    (h.end ? h.end : now))
			rn->last_online = h.end ? h.end : now;
	}
	mdb_cursor_close(cur);
}

/* Adds delta bytes to a name's day. */
static void
rules_add_bytes(struct rname *n, uint64_t delta)
{
	if (delta == 0)
		return;
	n->bytes_today += delta;
	n->bytes_dirty = 1;
}

/* Reads the live clients: who is online, and new bytes of each session. */
static void
rules_scan_live(int64_t now)
{
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct rname	*n;
	struct rsess	*s, *next;

	TAILQ_FOREACH(n, &R.names, entry)
		n->online = 0;
	TAILQ_FOREACH(s, &R.sessions, entry)
		s->seen = 0;
	if (db_txn_begin(&M->db, 1, &txn) != 0)
		return;
	rules_scan_new_sessions(txn, now);
	if (mdb_cursor_open(txn, M->db.dbi[DB_CLIENTS], &cur) == 0) {
		/* Bounded by max_clients. */
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0;
		    op = MDB_NEXT) {
			struct db_client	c;
			char			name[DB_NAME_LEN], id[DB_ID_LEN];
			uint64_t		total;

			if (db_rec_client(&v, &c) != 0)
				continue;
			db_strlcpy(name, c.name, sizeof(name));
			db_strlcpy(id, c.id, sizeof(id));
			if ((n = rules_name(name, 1)) == NULL)
				continue;
			n->online = 1;
			n->last_online = now;
			if ((s = strmap_get(&R.sessions_by, id)) == NULL) {
				s = xcalloc(1, sizeof(*s));
				snprintf(s->id, sizeof(s->id), "%s", id);
				s->name = n;
				s->hist_seq = c.hist_seq;
				strmap_put(&R.sessions_by, s->id, s);
				TAILQ_INSERT_TAIL(&R.sessions, s, entry);
			}
			s->seen = 1;
			total = c.bytes_in + c.bytes_out;
			if (total > s->counted) {
				rules_add_bytes(n, total - s->counted);
				s->counted = total;
			}
		}
		mdb_cursor_close(cur);
	}
	/* Ended sessions: their last bytes are in their history record. */
	for (s = TAILQ_FIRST(&R.sessions); s != NULL; s = next) {
		struct db_hist_session	h;
		unsigned char		key[8];

		next = TAILQ_NEXT(s, entry);
		if (s->seen)
			continue;
		db_key_u64(s->hist_seq, key);
		k.mv_data = key;
		k.mv_size = sizeof(key);
		if (s->hist_seq != 0 &&
		    mdb_get(txn, M->db.dbi[DB_HIST_SESS], &k, &v) == 0 &&
		    db_rec_hist_sess(&v, &h) == 0) {
			if (h.bytes_in + h.bytes_out > s->counted)
				rules_add_bytes(s->name,
				    h.bytes_in + h.bytes_out - s->counted);
		}
		strmap_del(&R.sessions_by, s->id);
		TAILQ_REMOVE(&R.sessions, s, entry);
		free(s);
	}
	mdb_txn_abort(txn);
}

/* Starts a new UTC day: totals back to zero, yesterday's records pruned. */
static void
rules_new_day(int64_t today)
{
	struct rname	*n;
	MDB_txn		*txn;

	R.today = today;
	TAILQ_FOREACH(n, &R.names, entry) {
		n->day = today;
		n->bytes_today = 0;
		n->bytes_dirty = 0;
	}
	if (db_txn_begin(&M->db, 0, &txn) == 0) {
		db_alert_quota_prune(&M->db, txn, today);
		db_txn_commit(&M->db, txn);
	}
}

/* Stores the day totals that changed, in one transaction. */
static void
rules_store_bytes(void)
{
	struct db_alert_quota	 q;
	struct rname		*n;
	MDB_txn			*txn;
	int			 any = 0;

	TAILQ_FOREACH(n, &R.names, entry)
		any |= n->bytes_dirty;
	if (!any || db_txn_begin(&M->db, 0, &txn) != 0)
		return;
	TAILQ_FOREACH(n, &R.names, entry) {
		if (!n->bytes_dirty)
			continue;
		memset(&q, 0, sizeof(q));
		q.version = DB_RECORD_VERSION;
		q.day = n->day;
		q.bytes = n->bytes_today;
		db_alert_quota_put(&M->db, txn, n->name, &q);
	}
	if (db_txn_commit(&M->db, txn) == 0)
		TAILQ_FOREACH(n, &R.names, entry)
			n->bytes_dirty = 0;
}

/* Counts an address's bad tokens in the last minute. */
static uint32_t
rules_addr_count(const struct raddr *a, int64_t now)
{
	uint32_t sum = 0;

	for (int i = 0; i < AUTH_WINDOW; i++)
		if (now - a->stamp[i] < AUTH_WINDOW)
			sum += a->count[i];
	return sum;
}

/* Tells whether any receiver has addr's auth_failures alert firing. */
static int
rules_addr_firing(const char *ip)
{
	for (int i = 0; i < M->conf.nalerts; i++)
		if (alert_is_firing(M->conf.alerts[i].name, ALERT_AUTH_FAILURES, ip))
			return 1;
	return 0;
}

/* Frees a tracked address (its one owner). */
static void
rules_addr_free(struct raddr *a)
{
	strmap_del(&R.addrs_by, a->ip);
	TAILQ_REMOVE(&R.addrs, a, entry);
	R.naddrs--;
	free(a);
}

/* Finds or adds an address; a quiet one makes room when the table is full. */
static struct raddr *
rules_addr(const char *ip, int64_t now)
{
	struct raddr *a = strmap_get(&R.addrs_by, ip);

	if (a != NULL)
		return a;
	if (R.naddrs >= MAX_ADDRS) {
		TAILQ_FOREACH(a, &R.addrs, entry)
			if (now - a->last >= AUTH_WINDOW && !rules_addr_firing(a->ip))
				break;
		if (a == NULL)
			return NULL;
		rules_addr_free(a);
	}
	a = xcalloc(1, sizeof(*a));
	snprintf(a->ip, sizeof(a->ip), "%s", ip);
	strmap_put(&R.addrs_by, a->ip, a);
	TAILQ_INSERT_TAIL(&R.addrs, a, entry);
	R.naddrs++;
	return a;
}

/* A worker saw a register with a bad token from ip. */
void
alert_rules_auth_failure(const char *ip)
{
	int64_t		 now = db_now();
	struct raddr	*a;
	int		 slot = (int)(now % AUTH_WINDOW);

	if (!R.started || (a = rules_addr(ip, now)) == NULL)
		return;
	if (a->stamp[slot] != now) {
		a->stamp[slot] = now;
		a->count[slot] = 0;
	}
	a->count[slot]++;
	a->last = now;
}

/* client_offline for every receiver that wants it. */
static void
rules_offline(int64_t now)
{
	struct alert_detail	 d;
	struct rname		*n;

	for (int i = 0; i < M->conf.nalerts; i++) {
		const struct alert_conf *a = &M->conf.alerts[i];

		if (!(a->events & ALERT_CLIENT_OFFLINE))
			continue;
		TAILQ_FOREACH(n, &R.names, entry) {
			int firing = !n->online && n->last_online != 0 &&
			    now - n->last_online >= a->offline_for;

			/* Cheap first: most names are online and not firing. */
			if (!firing && !alert_is_firing(a->name,
			    ALERT_CLIENT_OFFLINE, n->name))
				continue;
			if (firing && !conf_alert_glob_match(a->clients, n->name))
				continue;
			memset(&d, 0, sizeof(d));
			d.n = 2;
			d.f[0].key = "last_seen";
			d.f[0].num = n->last_online;
			d.f[1].key = "offline_for";
			d.f[1].num = a->offline_for;
			alert_set(a, ALERT_CLIENT_OFFLINE, n->name, firing, &d);
		}
	}
}

/* traffic_quota for every receiver that wants it. */
static void
rules_quota(void)
{
	struct alert_detail	 d;
	struct rname		*n;

	for (int i = 0; i < M->conf.nalerts; i++) {
		const struct alert_conf *a = &M->conf.alerts[i];

		if (!(a->events & ALERT_TRAFFIC_QUOTA))
			continue;
		TAILQ_FOREACH(n, &R.names, entry) {
			int firing = a->quota_bytes_per_day > 0 &&
			    n->bytes_today > (uint64_t)a->quota_bytes_per_day;

			memset(&d, 0, sizeof(d));
			d.n = 2;
			d.f[0].key = "bytes_today";
			d.f[0].num = (long long)n->bytes_today;
			d.f[1].key = "quota_bytes_per_day";
			d.f[1].num = a->quota_bytes_per_day;
			alert_set(a, ALERT_TRAFFIC_QUOTA, n->name, firing, &d);
		}
	}
}

/* auth_failures for every receiver that wants it; quiet addresses go. */
static void
rules_auth(int64_t now)
{
	struct alert_detail	 d;
	struct raddr		*ad, *next;

	for (ad = TAILQ_FIRST(&R.addrs); ad != NULL; ad = next) {
		uint32_t	cnt = rules_addr_count(ad, now);
		int		quiet = now - ad->last >= AUTH_WINDOW;

		next = TAILQ_NEXT(ad, entry);
		for (int i = 0; i < M->conf.nalerts; i++) {
			const struct alert_conf *a = &M->conf.alerts[i];
			int firing;

			if (!(a->events & ALERT_AUTH_FAILURES))
				continue;
			/* Raised above the threshold, ended by a quiet minute. */
			if (alert_is_firing(a->name, ALERT_AUTH_FAILURES, ad->ip))
				firing = !quiet;
			else
				firing = cnt > (uint32_t)a->auth_failures_per_min;
			memset(&d, 0, sizeof(d));
			d.n = 2;
			d.f[0].key = "failures_last_minute";
			d.f[0].num = cnt;
			d.f[1].key = "auth_failures_per_min";
			d.f[1].num = a->auth_failures_per_min;
			alert_set(a, ALERT_AUTH_FAILURES, ad->ip, firing, &d);
		}
		if (quiet && !rules_addr_firing(ad->ip))
			rules_addr_free(ad);
	}
}

/* Once a second: reads the live state and updates every rule. */
void
alert_rules_eval(void)
{
	int64_t now = db_now();

	if (!R.started || M->conf.nalerts == 0)
		return;
	if (now / 86400 != R.today)
		rules_new_day(now / 86400);
	rules_scan_live(now);
	rules_store_bytes();
	rules_offline(now);
	rules_quota();
	rules_auth(now);
}

/* Gives a firing episode loaded at start the state its rule needs. */
static void
rules_adopt(const char *key, unsigned event, int64_t since)
{
	struct raddr *a;

	if (event == ALERT_AUTH_FAILURES && (a = rules_addr(key, since)) != NULL)
		a->last = since;	/* resolves after a quiet minute */
	else if (event == ALERT_CLIENT_OFFLINE || event == ALERT_TRAFFIC_QUOTA)
		(void)rules_name(key, 1);
}

/* Called for each firing episode at start. */
static int
rules_adopt_cb(uint64_t seq, const struct db_alert *e, void *arg)
{
	char key[DB_NAME_LEN];

	db_strlcpy(key, e->key, sizeof(key));
	if (strncmp(e->event, "auth_failures", sizeof(e->event)) == 0)
		rules_adopt(key, ALERT_AUTH_FAILURES, e->since);
	else
		rules_adopt(key, ALERT_CLIENT_OFFLINE, e->since);
	return 0;
}

/* Starts the rules: known names from history, state of firing episodes. */
void
alert_rules_start(void)
{
	MDB_txn *txn;

	TAILQ_INIT(&R.names);
	TAILQ_INIT(&R.sessions);
	TAILQ_INIT(&R.addrs);
	strmap_init(&R.names_by);
	strmap_init(&R.sessions_by);
	strmap_init(&R.addrs_by);
	R.today = db_now() / 86400;
	R.started = 1;
	rules_seed();
	if (db_txn_begin(&M->db, 1, &txn) == 0) {
		db_alert_each(&M->db, txn, 0, 1, rules_adopt_cb, NULL);
		mdb_txn_abort(txn);
	}
}

/* Frees the rules' state (its one owner). */
void
alert_rules_stop(void)
{
	struct rname	*n;
	struct rsess	*s;
	struct raddr	*a;

	if (!R.started)
		return;
	R.started = 0;
	while ((s = TAILQ_FIRST(&R.sessions)) != NULL) {
		TAILQ_REMOVE(&R.sessions, s, entry);
		free(s);
	}
	while ((n = TAILQ_FIRST(&R.names)) != NULL) {
		TAILQ_REMOVE(&R.names, n, entry);
		free(n);
	}
	while ((a = TAILQ_FIRST(&R.addrs)) != NULL)
		rules_addr_free(a);
	strmap_free(&R.names_by);
	strmap_free(&R.sessions_by);
	strmap_free(&R.addrs_by);
}
