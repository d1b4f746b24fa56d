/* SPDX-License-Identifier: ISC */
/*
 * metrics.c: gotunnel's metrics.  Workers and the master add to counters
 * in the meta table ("c:NAME{labels}" -> uint64) within the transactions
 * they run anyway; gauges come from the live tables when rendered.  Any
 * process with the environment open (master, gotunnelctl, admin) can render
 * the Prometheus text exposition format.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "db_rec.h"
#include "db_prune.h"
#include "metrics.h"
#include "xmalloc.h"

/* Adds delta to meta[prefix name]. */
static int
meta_add(struct db *db, MDB_txn *txn, const char *prefix, const char *name,
    uint64_t delta, int set)
{
	char		key[256];
	uint64_t	v = 0;
	MDB_val		k, d;

	snprintf(key, sizeof(key), "%s%s", prefix, name);
	k.mv_data = key;
	k.mv_size = strlen(key);
	if (!set && mdb_get(txn, db->dbi[DB_META], &k, &d) == 0 &&
	    d.mv_size == sizeof(v))
		memcpy(&v, d.mv_data, sizeof(v));
	v = set ? delta : v + delta;
	d.mv_data = &v;
	d.mv_size = sizeof(v);
	return db_put(db, txn, db->dbi[DB_META], &k, &d, 0);
}

/* Adds to a counter such as gotunnel_registrations_total{result="ok"}. */
int
metrics_counter_add(struct db *db, MDB_txn *txn, const char *name, uint64_t delta)
{
	return meta_add(db, txn, "c:", name, delta, 0);
}

/* Sets a gauge written by a process (e.g. relay buffer bytes of a worker). */
int
metrics_gauge_set(struct db *db, MDB_txn *txn, const char *name, uint64_t v)
{
	return meta_add(db, txn, "g:", name, v, 1);
}

struct outbuf {
	char	*buf;
	size_t	 len, cap;
};

/* Appends formatted text. */
static void __attribute__((format(printf, 2, 3)))
out(struct outbuf *o, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		o->cap = o->cap * 2 + (size_t)n + 64;
		o->buf = xrealloc(o->buf, o->cap);
	}
}

/* Writes HELP and TYPE of a family. */
static void
family(struct outbuf *o, const char *name, const char *type, const char *help)
{
	out(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Escapes a label value (backslash, quote, newline). */
static const char *
label_escape(const char *s, char *buf, size_t len)
{
	size_t j = 0;

	for (; *s != '\0' && j + 2 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[j++] = '\\';
			buf[j++] = *s;
		} else if (*s == '\n') {
			buf[j++] = '\\';
			buf[j++] = 'n';
		} else
			buf[j++] = *s;
	}
	buf[j] = '\0';
	return buf;
}

/* Emits the stored counters or gauges whose names start with family. */
static void
stored_family(struct outbuf *o, MDB_txn *txn, struct db *db, const char *kind,
    const char *fam, const char *type, const char *help)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	char		 prefix[128];
	size_t		 plen;
	int		 any = 0;

	snprintf(prefix, sizeof(prefix), "%s%s", kind, fam);
	plen = strlen(prefix);
	family(o, fam, type, help);
	if (mdb_cursor_open(txn, db->dbi[DB_META], &cur) != 0)
		return;
	k.mv_data = prefix;
	k.mv_size = plen;
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t n;

		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		/* Exact family only: the next byte is '{' or the end. */
		if (k.mv_size > plen && ((char *)k.mv_data)[plen] != '{')
			continue;
		if (v.mv_size != sizeof(n))
			continue;
		memcpy(&n, v.mv_data, sizeof(n));
		out(o, "%.*s %llu\n", (int)(k.mv_size - 2), (char *)k.mv_data + 2,
		    (unsigned long long)n);
		any = 1;
	}
	mdb_cursor_close(cur);
	if (!any && strchr(type, 'c') != NULL)
		out(o, "%s 0\n", fam);
}

/* Emits per-mapping and heartbeat figures from the live tables. */
static void
live_families(struct outbuf *o, MDB_txn *txn, struct db *db)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	MDB_stat	 st;
	int64_t		 now = db_now(), lag = 0;
	char		 n1[160], n2[160], n3[16];

	mdb_stat(txn, db->dbi[DB_CLIENTS], &st);
	family(o, "gotunnel_clients_online", "gauge", "Clients with a live control session.");
	out(o, "gotunnel_clients_online %zu\n", st.ms_entries);
	mdb_stat(txn, db->dbi[DB_MAPPINGS], &st);
	family(o, "gotunnel_mappings", "gauge", "Published public ports.");
	out(o, "gotunnel_mappings %zu\n", st.ms_entries);
	mdb_stat(txn, db->dbi[DB_CONNS], &st);
	family(o, "gotunnel_connections_active", "gauge", "Public connections being relayed.");
	out(o, "gotunnel_connections_active %zu\n", st.ms_entries);

	if (mdb_cursor_open(txn, db->dbi[DB_CLIENTS], &cur) == 0) {
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			struct db_client c;

			if (db_rec_client(&v, &c) != 0)	/* copies: 2-byte aligned */
				continue;
			if (now - c.last_heartbeat > lag)
				lag = now - c.last_heartbeat;
		}
		mdb_cursor_close(cur);
	}
	family(o, "gotunnel_heartbeat_lag_seconds", "gauge",
	    "Longest time since a connected client was last heard.");
	out(o, "gotunnel_heartbeat_lag_seconds %lld\n", (long long)lag);

	/* One pass over the mappings per family: a family's samples stay together. */
	for (int f = 0; f < 3; f++) {
		static const char *const names[3] = {
			"gotunnel_mapping_bytes_in_total",
			"gotunnel_mapping_bytes_out_total",
			"gotunnel_mapping_connections_active",
		};
		static const char *const helps[3] = {
			"Bytes from public peers to the client, per live mapping.",
			"Bytes from the client to public peers, per live mapping.",
			"Live public connections per mapping.",
		};

		family(o, names[f], f == 2 ? "gauge" : "counter", helps[f]);
		if (mdb_cursor_open(txn, db->dbi[DB_MAPPINGS], &cur) != 0)
			continue;
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
			struct db_mapping	m;
			uint64_t		val;

			if (db_rec_mapping(&v, &m) != 0)	/* copies: 2-byte aligned */
				continue;
			m.type[sizeof(m.type) - 1] = '\0';
			val = f == 0 ? m.bytes_in : f == 1 ? m.bytes_out : m.live_conns;
			out(o, "%s{port=\"%u\",type=\"%s\",mapping=\"%s\","
			    "client=\"%s\"} %llu\n", names[f], m.remote_port,
			    m.type[0] ? label_escape(m.type, n3, sizeof(n3)) : "tcp",
			    label_escape(m.name, n1, sizeof(n1)),
			    label_escape(m.client_name, n2, sizeof(n2)),
			    (unsigned long long)val);
		}
		mdb_cursor_close(cur);
	}
}

/* Emits the history's size, age and retention (db_prune.c keeps it bounded). */
static void
history_families(struct outbuf *o, MDB_txn *txn, struct db *db)
{
	struct db_prune_limits	lim;
	MDB_stat		st;
	int64_t			oldest;

	family(o, "gotunnel_history_records", "gauge",
	    "History records kept, by kind (sessions, connections).");
	mdb_stat(txn, db->dbi[DB_HIST_SESS], &st);
	out(o, "gotunnel_history_records{kind=\"sessions\"} %zu\n", st.ms_entries);
	mdb_stat(txn, db->dbi[DB_HIST_CONN], &st);
	out(o, "gotunnel_history_records{kind=\"connections\"} %zu\n",
	    st.ms_entries);
	family(o, "gotunnel_audit_records", "gauge", "Audit log entries kept.");
	mdb_stat(txn, db->dbi[DB_AUDIT], &st);
	out(o, "gotunnel_audit_records %zu\n", st.ms_entries);
	db_prune_oldest(db, txn, &oldest);
	family(o, "gotunnel_history_oldest_record_timestamp_seconds", "gauge",
	    "Start of the oldest session or connection record kept (0: none).");
	out(o, "gotunnel_history_oldest_record_timestamp_seconds %lld\n",
	    (long long)oldest);
	stored_family(o, txn, db, "c:", "gotunnel_history_pruned_total", "counter",
	    "History records deleted by retention or the record cap, by kind.");
	stored_family(o, txn, db, "c:", "gotunnel_audit_pruned_total", "counter",
	    "Audit entries deleted by audit_retention.");
	db_prune_limits_get(db, txn, &lim);
	family(o, "gotunnel_history_retention_seconds", "gauge",
	    "history_retention of the master (0: forever).");
	out(o, "gotunnel_history_retention_seconds %lld\n",
	    (long long)lim.history_retention);
	family(o, "gotunnel_history_max_records", "gauge",
	    "history_max_records of the master (0: no cap).");
	out(o, "gotunnel_history_max_records %llu\n",
	    (unsigned long long)lim.history_max_records);
	family(o, "gotunnel_audit_retention_seconds", "gauge",
	    "audit_retention of the master (0: forever).");
	out(o, "gotunnel_audit_retention_seconds %lld\n",
	    (long long)lim.audit_retention);
}

/* Renders every metric as Prometheus text; the caller frees it. */
char *
metrics_render(struct db *db)
{
	struct outbuf	 o = { NULL, 0, 0 };
	MDB_txn		*txn;
	MDB_envinfo	 info;
	MDB_stat	 st;
	struct stat	 fst;
	char		 file[4200];

	o.cap = 8192;
	o.buf = xmalloc(o.cap);
	o.buf[0] = '\0';
	if (db_txn_begin(db, 1, &txn) != 0)
		return o.buf;
	live_families(&o, txn, db);
	stored_family(&o, txn, db, "c:", "gotunnel_registrations_total", "counter",
	    "Register requests by result (ok, or the failure reason).");
	stored_family(&o, txn, db, "c:", "gotunnel_connections_total", "counter",
	    "Public connections accepted.");
	stored_family(&o, txn, db, "c:", "gotunnel_connections_refused_total",
	    "counter", "Public connections refused, by reason.");
	stored_family(&o, txn, db, "c:", "gotunnel_udp_datagrams_dropped_total",
	    "counter", "UDP datagrams dropped, by reason (queue_full, "
	    "no_data_connection, client_slow, ...).");
	stored_family(&o, txn, db, "c:", "gotunnel_bytes_in_total", "counter",
	    "Bytes relayed from public peers to clients.");
	stored_family(&o, txn, db, "c:", "gotunnel_bytes_out_total", "counter",
	    "Bytes relayed from clients to public peers.");
	stored_family(&o, txn, db, "c:", "gotunnel_worker_restarts_total", "counter",
	    "Workers restarted after they died.");
	stored_family(&o, txn, db, "c:", "gotunnel_history_dropped_total", "counter",
	    "Finished connections not recorded in the history (data_dir full).");
	stored_family(&o, txn, db, "g:", "gotunnel_relay_buffer_bytes", "gauge",
	    "Bytes held in relay pipes, per worker.");
	history_families(&o, txn, db);
	mdb_env_info(db->env, &info);
	mdb_env_stat(db->env, &st);
	family(&o, "gotunnel_lmdb_map_size_bytes", "gauge", "LMDB map size.");
	out(&o, "gotunnel_lmdb_map_size_bytes %zu\n", info.me_mapsize);
	family(&o, "gotunnel_lmdb_used_bytes", "gauge", "LMDB pages in use times page size.");
	out(&o, "gotunnel_lmdb_used_bytes %zu\n",
	    (size_t)(info.me_last_pgno + 1) * st.ms_psize);
	snprintf(file, sizeof(file), "%s/data.mdb", db->path);
	family(&o, "gotunnel_lmdb_file_size_bytes", "gauge",
	    "Size of data.mdb on disk (freed pages are reused, not returned).");
	out(&o, "gotunnel_lmdb_file_size_bytes %lld\n",
	    stat(file, &fst) == 0 ? (long long)fst.st_size : 0LL);
	mdb_txn_abort(txn);
	return o.buf;
}
