/* SPDX-License-Identifier: ISC */
/*
 * alert.c: the master's alert episodes and their webhook deliveries.  A
 * rule (alert_rules.c) says per receiver whether (event, key) is firing;
 * a change of state is logged, written to the history and queued in LMDB
 * in one transaction, then POSTed (httpc.c: libcurl on the master's
 * loop) in order per receiver, retried with back-off for retry_for, and
 * deleted once a 2xx answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "db_alert.h"
#include "log.h"
#include "server.h"
#include "xmalloc.h"

#define MAX_EPISODES	10000	/* firing at once, all receivers */
#define WEBHOOK_TIMEOUT_MS 10000	/* one POST, connection included */

/* A firing episode, mirrored from the alerts table. */
struct episode {
	TAILQ_ENTRY(episode)	 entry;
	char			 id[32 + 32 + DB_NAME_LEN + 2];	/* strmap key */
	char			 receiver[32];
	unsigned		 event;
	char			 key[DB_NAME_LEN];
	uint64_t		 seq;
	int64_t			 since;
};
TAILQ_HEAD(episode_list, episode);

/* One delivery in flight (the callback's argument). */
struct delivery {
	char		receiver[32];
	uint64_t	seq;
	uint32_t	attempts;
	int64_t		queued;
};

static struct {
	struct episode_list	 firing;
	struct strmap		 by_id;
	unsigned		 nfiring;
	char			 busy[CONF_MAX_ALERTS * 2][32];	/* receivers in flight */
	int			 started;
} A;

static void alert_deliver(void);

/* Builds the episode's map key. */
static void
alert_ep_id(char *out, size_t len, const char *receiver, unsigned event,
    const char *key)
{
	snprintf(out, len, "%s\t%u\t%s", receiver, event, key);
}

/* Adds an episode to the in-memory set. */
static void
alert_ep_add(const char *receiver, unsigned event, const char *key,
    uint64_t seq, int64_t since)
{
	struct episode *e = xcalloc(1, sizeof(*e));

	snprintf(e->receiver, sizeof(e->receiver), "%s", receiver);
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->event = event;
	e->seq = seq;
	e->since = since;
	alert_ep_id(e->id, sizeof(e->id), receiver, event, key);
	if (strmap_put(&A.by_id, e->id, e) == -1) {
		free(e);
		return;
	}
	TAILQ_INSERT_TAIL(&A.firing, e, entry);
	A.nfiring++;
}

/* Removes and frees an episode (its one owner). */
static void
alert_ep_free(struct episode *e)
{
	strmap_del(&A.by_id, e->id);
	TAILQ_REMOVE(&A.firing, e, entry);
	A.nfiring--;
	free(e);
}

/* Emits the detail object's members. */
static void
alert_gen_detail(yajl_gen g, const struct alert_detail *d)
{
	yajl_gen_map_open(g);
	for (int i = 0; d != NULL && i < d->n; i++) {
		yajl_gen_string(g, (const unsigned char *)d->f[i].key,
		    strlen(d->f[i].key));
		if (d->f[i].str != NULL)
			yajl_gen_string(g, (const unsigned char *)d->f[i].str,
			    strlen(d->f[i].str));
		else
			yajl_gen_integer(g, d->f[i].num);
	}
	yajl_gen_map_close(g);
}

/* Copies a generator's output into out (truncation cannot happen: bounded fields). */
static size_t
alert_gen_take(yajl_gen g, char *out, size_t len)
{
	const unsigned char	*buf;
	size_t			 n = 0;

	if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok || n >= len)
		n = 0;
	memcpy(out, buf, n);
	out[n] = '\0';
	yajl_gen_free(g);
	return n;
}

/* Writes the detail object alone (for the history). */
static void
alert_detail_json(const struct alert_detail *d, char *out, size_t len)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	alert_gen_detail(g, d);
	alert_gen_take(g, out, len);
}

/* Writes the webhook body: {"alert","state","key","since","time","detail"}. */
static size_t
alert_body(char *out, size_t len, unsigned event, int firing, const char *key,
    int64_t since, int64_t now, const struct alert_detail *d)
{
	const char	*ev = conf_alert_event_name(event);
	const char	*st = firing ? "firing" : "resolved";
	yajl_gen	 g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"alert", 5);
	yajl_gen_string(g, (const unsigned char *)ev, strlen(ev));
	yajl_gen_string(g, (const unsigned char *)"state", 5);
	yajl_gen_string(g, (const unsigned char *)st, strlen(st));
	yajl_gen_string(g, (const unsigned char *)"key", 3);
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_string(g, (const unsigned char *)"since", 5);
	yajl_gen_integer(g, since);
	yajl_gen_string(g, (const unsigned char *)"time", 4);
	yajl_gen_integer(g, now);
	yajl_gen_string(g, (const unsigned char *)"detail", 6);
	alert_gen_detail(g, d);
	yajl_gen_map_close(g);
	return alert_gen_take(g, out, len);
}

/* Fills a queue record for receiver. */
static void
alert_out_fill(struct db_alert_out *o, const char *receiver, unsigned event,
    int firing, const char *key, int64_t since, int64_t now,
    const struct alert_detail *d)
{
	memset(o, 0, sizeof(*o));
	o->version = DB_RECORD_VERSION;
	db_strlcpy(o->receiver, receiver, sizeof(o->receiver));
	o->queued = now;
	o->next_try = now;
	o->len = (uint32_t)alert_body(o->body, sizeof(o->body), event, firing,
	    key, since, now, d);
}

/* Tells whether (receiver, event, key) is firing. */
int
alert_is_firing(const char *receiver, unsigned event, const char *key)
{
	char id[sizeof(((struct episode *)0)->id)];

	alert_ep_id(id, sizeof(id), receiver, event, key);
	return strmap_get(&A.by_id, id) != NULL;
}

/*
 * Sets the state of (event, key) for receiver a: a change starts or ends
 * an episode (logged, kept in history, queued for the webhook); the same
 * state again does nothing, so a rule may say it every second.
 */
void
alert_set(const struct alert_conf *a, unsigned event, const char *key,
    int firing, const struct alert_detail *d)
{
	struct db_alert		 rec;
	struct db_alert_out	*o;
	struct episode		*e;
	char			 id[sizeof(((struct episode *)0)->id)];
	int64_t			 now = db_now();
	uint64_t		 seq;

	alert_ep_id(id, sizeof(id), a->name, event, key);
	e = strmap_get(&A.by_id, id);
	if ((e != NULL) == (firing != 0))
		return;
	if (firing && A.nfiring >= MAX_EPISODES) {
		log_warnx("alert %s %s: %d alerts firing already; not raised",
		    conf_alert_event_name(event), key, MAX_EPISODES);
		return;
	}
	o = xmalloc(sizeof(*o));
	if (firing) {
		memset(&rec, 0, sizeof(rec));
		rec.version = DB_RECORD_VERSION;
		db_strlcpy(rec.receiver, a->name, sizeof(rec.receiver));
		db_strlcpy(rec.event, conf_alert_event_name(event),
		    sizeof(rec.event));
		db_strlcpy(rec.key, key, sizeof(rec.key));
		rec.since = now;
		alert_detail_json(d, rec.detail, sizeof(rec.detail));
		alert_out_fill(o, a->name, event, 1, key, now, now, d);
		if (db_alert_open(&M->db, &rec, &seq, o) == 0) {
			alert_ep_add(a->name, event, key, seq, now);
			log_warnx("alert %s firing: %s (receiver %s)",
			    rec.event, key, a->name);
		} else
			log_warnx("alert %s %s: cannot record it",
			    rec.event, key);
	} else {
		alert_out_fill(o, a->name, event, 0, key, e->since, now, d);
		if (db_alert_close(&M->db, e->seq, now, o) == 0) {
			log_info("alert %s resolved: %s (receiver %s, %lld s)",
			    conf_alert_event_name(event), key, a->name,
			    (long long)(now - e->since));
			alert_ep_free(e);
		}
	}
	free(o);
	alert_deliver();
}

/* Finds the receiver's config by name, NULL if it is gone. */
static const struct alert_conf *
alert_conf_find(const char *name)
{
	for (int i = 0; i < M->conf.nalerts; i++)
		if (strcmp(M->conf.alerts[i].name, name) == 0)
			return &M->conf.alerts[i];
	return NULL;
}

/* Marks receiver busy (1) or idle (0); reports whether it was busy. */
static int
alert_busy(const char *receiver, int set)
{
	int free_slot = -1;

	for (int i = 0; i < (int)(sizeof(A.busy) / sizeof(A.busy[0])); i++) {
		if (A.busy[i][0] == '\0') {
			if (free_slot == -1)
				free_slot = i;
			continue;
		}
		if (strcmp(A.busy[i], receiver) == 0) {
			if (set == 0)
				A.busy[i][0] = '\0';
			return 1;
		}
	}
	if (set == 1 && free_slot != -1)
		snprintf(A.busy[free_slot], sizeof(A.busy[0]), "%s", receiver);
	return 0;
}

/* A POST finished: forget it, or plan its next try (or give up). */
static void
alert_delivered(void *arg, int ok, long status, const char *err,
    const char *answer, size_t answer_len)
{
	struct delivery		*dl = arg;
	const struct alert_conf	*a = alert_conf_find(dl->receiver);
	int64_t			 now = db_now(), wait;

	alert_busy(dl->receiver, 0);
	if (ok) {
		log_info("alert delivered to %s (HTTP %ld)", dl->receiver, status);
		db_alert_queue_done(&M->db, dl->seq);
	} else if (a == NULL || now - dl->queued >= a->retry_for) {
		log_errorx("alert to %s: giving up after %u attempts (last: %s)",
		    dl->receiver, dl->attempts + 1, status ? "HTTP status" : err);
		db_alert_queue_done(&M->db, dl->seq);
	} else {
		wait = dl->attempts < 12 ? (int64_t)1 << dl->attempts : 4096;
		if (wait > a->retry_interval)
			wait = a->retry_interval;
		if (status != 0)
			log_warnx("alert to %s failed (HTTP %ld); retry in %lld s",
			    dl->receiver, status, (long long)wait);
		else
			log_warnx("alert to %s failed (%s); retry in %lld s",
			    dl->receiver, err, (long long)wait);
		db_alert_queue_retry(&M->db, dl->seq, dl->attempts + 1, now + wait);
	}
	free(dl);
	if (A.started && !M->stopping)
		alert_deliver();
}

/* Starts the oldest due POST of every receiver that has none in flight. */
static void
alert_deliver(void)
{
	struct db_alert_out	 o;
	struct delivery		*dl;
	uint64_t		 seq;
	int64_t			 now = db_now();

	for (int i = 0; i < M->conf.nalerts; i++) {
		const struct alert_conf *a = &M->conf.alerts[i];

		if (alert_busy(a->name, -1) || !httpc_room() ||
		    db_alert_queue_head(&M->db, a->name, &seq, &o) != 0 ||
		    o.next_try > now)
			continue;
		dl = xcalloc(1, sizeof(*dl));
		snprintf(dl->receiver, sizeof(dl->receiver), "%s", a->name);
		dl->seq = seq;
		dl->attempts = o.attempts;
		dl->queued = o.queued;
		alert_busy(a->name, 1);
		if (httpc_post(a->webhook_url, a->ca_file, a->secret, o.body,
		    o.len, WEBHOOK_TIMEOUT_MS, alert_delivered, dl) == -1)
			alert_delivered(dl, 0, 0, "cannot start the request", "", 0);
	}
}

/* Loads one firing episode at start. */
static int
alert_load_cb(uint64_t seq, const struct db_alert *a, void *arg)
{
	static const unsigned events[] = { ALERT_CLIENT_OFFLINE,
	    ALERT_TRAFFIC_QUOTA, ALERT_AUTH_FAILURES, ALERT_NODE_OFFLINE };
	char	receiver[32], key[DB_NAME_LEN];

	db_strlcpy(receiver, a->receiver, sizeof(receiver));
	db_strlcpy(key, a->key, sizeof(key));
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (strncmp(a->event, conf_alert_event_name(events[i]),
		    sizeof(a->event)) == 0)
			alert_ep_add(receiver, events[i], key, seq, a->since);
	return A.nfiring >= MAX_EPISODES;
}

/*
 * Ends, without a webhook, the episodes of receivers that are gone or no
 * longer want that event (after a reload, or a config changed while down).
 */
static void
alert_reconcile(void)
{
	struct episode *e, *next;

	for (e = TAILQ_FIRST(&A.firing); e != NULL; e = next) {
		const struct alert_conf *a = alert_conf_find(e->receiver);

		next = TAILQ_NEXT(e, entry);
		if (a != NULL && (a->events & e->event))
			continue;
		log_info("alert %s %s: receiver %s no longer takes it; closed",
		    conf_alert_event_name(e->event), e->key, e->receiver);
		db_alert_close(&M->db, e->seq, db_now(), NULL);
		alert_ep_free(e);
	}
}

/* Starts alerting: libcurl on the master's loop, firing episodes, rules. */
void
alert_start(void)
{
	MDB_txn *txn;

	TAILQ_INIT(&A.firing);
	strmap_init(&A.by_id);
	A.started = 1;
	/* libcurl starts only for a master with receivers (or after a reload adds one). */
	if (M->conf.nalerts > 0 && httpc_init(M->base) == -1)
		log_warnx("alerts: webhooks cannot be sent");
	if (db_txn_begin(&M->db, 1, &txn) == 0) {
		db_alert_each(&M->db, txn, 0, 1, alert_load_cb, NULL);
		mdb_txn_abort(txn);
	}
	alert_reconcile();
	alert_rules_start();
	if (A.nfiring > 0 || db_alert_queue_count(&M->db) > 0)
		log_info("alerts: %u firing, %zu webhook(s) still to deliver",
		    A.nfiring, db_alert_queue_count(&M->db));
}

/* Every second: evaluates the rules and starts due deliveries. */
void
alert_tick(void)
{
	if (!A.started || M->stopping)
		return;
	alert_rules_eval();
	alert_deliver();
}

/* After a reload: libcurl if receivers appeared; episodes of removed
 * receivers or events end quietly. */
void
alert_reload(void)
{
	if (!A.started)
		return;
	if (M->conf.nalerts > 0 && httpc_init(M->base) == -1)
		log_warnx("alerts: webhooks cannot be sent");
	alert_reconcile();
}

/*
 * Cluster hook: a node went offline (or came back).  Only a cluster
 * calls it; a single master has no nodes to lose.
 */
void
alert_node_state(const char *node, int offline, const char *detail)
{
	struct alert_detail d = { 1, { { "detail", detail ? detail : "", 0 } } };

	for (int i = 0; i < M->conf.nalerts && A.started; i++)
		if (M->conf.alerts[i].events & ALERT_NODE_OFFLINE)
			alert_set(&M->conf.alerts[i], ALERT_NODE_OFFLINE, node,
			    offline, &d);
}

/* Frees everything (POSTs in flight stay queued in LMDB for the next run). */
void
alert_stop(void)
{
	struct episode *e;

	if (!A.started)
		return;
	A.started = 0;
	httpc_free();
	alert_rules_stop();
	while ((e = TAILQ_FIRST(&A.firing)) != NULL)
		alert_ep_free(e);
	strmap_free(&A.by_id);
}
