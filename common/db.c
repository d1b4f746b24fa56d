/* SPDX-License-Identifier: ISC */
/* db.c: the LMDB environment shared by every gotunnel process. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

static const char *const db_names[DB_NTABLES] = {
	[DB_MAPPINGS] = "mappings",
	[DB_CLIENTS] = "clients",
	[DB_CONNS] = "conns",
	[DB_HIST_SESS] = "hist_sess",
	[DB_HIST_CONN] = "hist_conn",
	[DB_STATS] = "stats",
	[DB_USERS] = "users",
	[DB_WEBSESS] = "websess",
	[DB_AUDIT] = "audit",
	[DB_TOKENS] = "tokens",
	[DB_TOKEN_IDX] = "token_idx",
	[DB_META] = "meta",
	[DB_MAPSTATE] = "mapstate",
	[DB_DOMAINS] = "domains",
	[DB_STICKY] = "sticky",
	[DB_OUTBOX] = "outbox",
	[DB_ALERTS] = "alerts",
	[DB_ALERT_QUEUE] = "alert_queue",
	[DB_ALERT_QUOTA] = "alert_quota",
};

/* Returns the LMDB name of a table. */
const char *
db_table_name(enum db_table t)
{
	return db_names[t];
}

/* Creates dir (one level) if it does not exist yet. */
static int
db_mkdir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	return 0;
}

/*
 * Opens (creating if needed) the environment in dir and every table.
 * Must run in the process that uses it, after any fork().
 */
int
db_open(struct db *db, const char *dir, int readonly)
{
	MDB_txn		*txn;
	unsigned int	 flags;
	int		 rc, fd;

	memset(db, 0, sizeof(*db));
	snprintf(db->path, sizeof(db->path), "%s", dir);
	if (!readonly && db_mkdir(dir) == -1)
		return -1;
	if ((rc = mdb_env_create(&db->env)) != 0) {
		log_warnx("%s: mdb_env_create: %s", dir, mdb_strerror(rc));
		return -1;
	}
	mdb_env_set_maxdbs(db->env, DB_NTABLES + 2);
	mdb_env_set_maxreaders(db->env, 1024);
	mdb_env_set_mapsize(db->env, DB_DEFAULT_MAPSIZE);
	/*
	 * NOSYNC: a killed process loses nothing (the page cache has it), only a
	 * power loss may drop the last second; the master syncs once a second.
	 * Synced commits would cap registrations at ~1,500/s (STACK.md).
	 */
	flags = MDB_NOSYNC | MDB_NOTLS | (readonly ? MDB_RDONLY : 0);
	if ((rc = mdb_env_open(db->env, dir, flags, 0600)) != 0) {
		log_warnx("%s: cannot open database: %s", dir, mdb_strerror(rc));
		mdb_env_close(db->env);
		db->env = NULL;
		return -1;
	}
	if (mdb_env_get_fd(db->env, &fd) == 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((rc = db_txn_begin(db, readonly, &txn)) != 0)
		goto fail;
	for (int i = 0; i < DB_NTABLES; i++) {
		rc = mdb_dbi_open(txn, db_names[i], readonly ? 0 : MDB_CREATE,
		    &db->dbi[i]);
		if (rc != 0) {
			log_warnx("%s: table %s: %s", dir, db_names[i],
			    mdb_strerror(rc));
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		log_warnx("%s: commit: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	mdb_env_close(db->env);
	db->env = NULL;
	return -1;
}

/* Closes the environment (no transaction may be open). */
void
db_close(struct db *db)
{
	if (db->env != NULL) {
		mdb_env_close(db->env);
		db->env = NULL;
	}
}

/*
 * Begins a transaction; adopts a map grown by another process
 * (MDB_MAP_RESIZED) and retries once.
 */
int
db_txn_begin(struct db *db, int readonly, MDB_txn **txn)
{
	int rc;

	rc = mdb_txn_begin(db->env, NULL, readonly ? MDB_RDONLY : 0, txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(db->env, 0);
		rc = mdb_txn_begin(db->env, NULL, readonly ? MDB_RDONLY : 0, txn);
	}
	if (rc != 0)
		log_warnx("%s: begin transaction: %s", db->path, mdb_strerror(rc));
	return rc;
}

/* Grows the map by half when a write hit MDB_MAP_FULL (no txn may be open). */
int
db_grow(struct db *db)
{
	MDB_envinfo	info;
	size_t		size;
	int		rc;

	mdb_env_info(db->env, &info);
	size = info.me_mapsize + info.me_mapsize / 2;
	if ((rc = mdb_env_set_mapsize(db->env, size)) != 0) {
		log_warnx("%s: grow map to %zu: %s", db->path, size,
		    mdb_strerror(rc));
		return -1;
	}
	log_info("%s: database map grown to %zu MiB", db->path, size >> 20);
	return 0;
}

/* mdb_put that remembers a full map, so the commit can grow it. */
int
db_put(struct db *db, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v,
    unsigned int flags)
{
	int rc = mdb_put(txn, dbi, k, v, flags);

	if (rc == MDB_MAP_FULL)
		db->full = 1;
	return rc;
}

/*
 * Commits; when the map was full (at a put or at the commit) it grows the
 * map, so the caller's next transaction, or its retry, fits.
 */
int
db_txn_commit(struct db *db, MDB_txn *txn)
{
	int rc;

	if ((rc = mdb_txn_commit(txn)) == MDB_MAP_FULL)
		db->full = 1;
	/*
	 * A put that hit the full map leaves the transaction failed: LMDB's
	 * commit then answers MDB_BAD_TXN.  Report the cause, so the caller
	 * retries into the grown map.
	 */
	if (db->full) {
		db->full = 0;
		rc = MDB_MAP_FULL;
		log_warnx("%s: commit: %s", db->path, mdb_strerror(rc));
		db_grow(db);
	} else if (rc != 0)
		log_warnx("%s: commit: %s", db->path, mdb_strerror(rc));
	return rc;
}

/* Clears reader slots of dead processes; *dead gets their count. */
int
db_reader_check(struct db *db, int *dead)
{
	int rc;

	*dead = 0;
	if ((rc = mdb_reader_check(db->env, dead)) != 0)
		log_warnx("%s: reader check: %s", db->path, mdb_strerror(rc));
	return rc;
}

/* Returns the next free sequence number of a numbered table (last + 1). */
uint64_t
db_next_seq(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint64_t	 seq = 1;

	if (mdb_cursor_open(txn, dbi, &cur) != 0)
		return seq;
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
		seq = db_u64_key(&k) + 1;
	mdb_cursor_close(cur);
	return seq;
}

/* Encodes a 64-bit key big-endian so that byte order is numeric order. */
void
db_key_u64(uint64_t n, unsigned char out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = n & 0xff;
		n >>= 8;
	}
}

/* Decodes a key written by db_key_u64 (0 if the size is wrong). */
uint64_t
db_u64_key(const MDB_val *k)
{
	const unsigned char	*p = k->mv_data;
	uint64_t		 n = 0;

	if (k->mv_size != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		n = (n << 8) | p[i];
	return n;
}

/* Copies a C string into a fixed record field, always NUL-terminated. */
void
db_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	memset(dst + n, 0, size - n);
}

/* Current unix time in seconds. */
int64_t
db_now(void)
{
	return (int64_t)time(NULL);
}
