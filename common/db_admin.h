/* SPDX-License-Identifier: ISC */
/*
 * db_admin.h: the console's tables in LMDB: users (argon2id password
 * hashes, role, optional TOTP secret), web sessions (stored by sha256 of the session id, with expiry)
 * and the audit log.  Used by gotunnel-admin and `gotunnelctl user`.
 *
 * Functions return 0 on success, 1 for "not found" (or "exists" where
 * noted) and -1 on a database or system error.
 */
#ifndef GOTUNNEL_DB_ADMIN_H
#define GOTUNNEL_DB_ADMIN_H

#include <stdint.h>
#include <stddef.h>

#include "db.h"

/* argon2id cost: at least OWASP's minimum (19 MiB, t=2, p=1). */
#define DB_PWHASH_OPSLIMIT	2ULL
#define DB_PWHASH_MEMLIMIT	((size_t)19 * 1024 * 1024)
#define DB_PASSWORD_MAX		1024		/* longer passwords are refused */

#define DB_WEBSESS_ID_BYTES	32		/* 256 random bits */
#define DB_WEBSESS_HEX		(DB_WEBSESS_ID_BYTES * 2 + 1)
#define DB_WEBSESS_HANDLE_HEX	17		/* 16 hex chars + NUL */

/* db_user.c */
int	 db_admin_write(struct db *, int (*)(MDB_txn *, struct db *, void *),
	    void *);
int	 db_admin_count(struct db *, enum db_table, size_t *);
int	 db_user_name_valid(const char *);
int	 db_user_hash(const char *password, char out[DB_HASH_LEN]);
int	 db_user_verify_hash(const char *hash, const char *password);
int	 db_user_get(struct db *, const char *name, struct db_user *);
int	 db_user_add(struct db *, const char *name, const char *password,
	    enum db_role);
int	 db_user_del(struct db *, const char *name);
int	 db_user_passwd(struct db *, const char *name, const char *password);
int	 db_user_check(struct db *, const char *name, const char *password);
int	 db_user_count(struct db *, size_t *);
int	 db_user_list(struct db *, void (*)(const struct db_user *, void *),
	    void *);
const char *db_user_role_name(uint32_t);
enum db_role db_user_role_parse(const char *);
int	 db_user_set_role(struct db *, const char *name, enum db_role);
int	 db_user_totp_set(struct db *, const char *name,
	    const unsigned char *secret, size_t len);
int	 db_user_totp_use(struct db *, const char *name, int64_t step);
int	 db_user_mirror(struct db *, const struct db_user *, int deleted,
	    int totp_known, int *ended);

/* db_websess.c */
int	 db_websess_create(struct db *, const char *user, const char *address,
	    int64_t ttl, char id[DB_WEBSESS_HEX], struct db_websession *);
int	 db_websess_get(struct db *, const char *id, struct db_websession *);
int	 db_websess_delete(struct db *, const char *id);
int	 db_websess_delete_user(struct db *, const char *user, size_t *);
int	 db_websess_purge(struct db *, int64_t now, size_t *);
int	 db_websess_id_valid(const char *);
void	 db_websess_handle(const char *id, char out[DB_WEBSESS_HANDLE_HEX]);
int	 db_websess_list(struct db *, const char *user,
	    void (*)(const char *handle, const struct db_websession *, void *),
	    void *);
int	 db_websess_revoke(struct db *, const char *handle, const char *owner,
	    struct db_websession *);

/* db_audit.c */
int	 db_audit_add(struct db *, const char *user, const char *action,
	    int ok, const char *address, const char *detail);
int	 db_audit_count(struct db *, size_t *);

#endif
