/* SPDX-License-Identifier: ISC */
/*
 * ctl_totp.c: `gotunnelctl user totp NAME [--off]`: enrols a console user
 * in two-factor login (a random RFC 6238 secret in LMDB, shown once as an
 * otpauth:// URI and a terminal QR code) or removes the second factor.
 * In cluster mode the change goes to PostgreSQL first (ctl_cluster.c),
 * from where every master copies it within a second or two, so one
 * enrolment (or one --off) holds on every node's console.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <qrencode.h>
#include <sodium.h>

#include "ctl.h"
#include "db.h"
#include "db_admin.h"
#include "totp.h"

int	ctl_totp(struct db *, const char *database, const char *name, int off,
	    const char *actor);

/* Prints one QR code row pair (rows y and y+1) with half blocks. */
static void
totp_qr_rows(const QRcode *qr, int y, int quiet, int ansi)
{
	int	w = qr->width;

	if (ansi)
		fputs("\033[30;47m", stdout);	/* black on white, any terminal */
	for (int x = -quiet; x < w + quiet; x++) {
		int top = 0, bot = 0;

		if (x >= 0 && x < w && y >= 0 && y < w)
			top = qr->data[y * w + x] & 1;
		if (x >= 0 && x < w && y + 1 >= 0 && y + 1 < w)
			bot = qr->data[(y + 1) * w + x] & 1;
		fputs(top && bot ? "\u2588" : top ? "\u2580" : bot ? "\u2584" :
		    " ", stdout);
	}
	if (ansi)
		fputs("\033[0m", stdout);
	fputc('\n', stdout);
}

/* Prints uri as a QR code: dark modules as blocks, two rows per line. */
static int
totp_qr_print(const char *uri)
{
	QRcode	*qr;
	int	 quiet = 2, ansi = isatty(STDOUT_FILENO);

	if ((qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8,
	    1)) == NULL)
		return -1;
	for (int y = -quiet; y < qr->width + quiet; y += 2)
		totp_qr_rows(qr, y, quiet, ansi);
	QRcode_free(qr);
	return 0;
}

/*
 * Stores name's secret (len 0: none) in the cluster when conn is set, then
 * in this node's LMDB.  A user the cluster has but this node has not
 * copied yet is fine: its master copies the change too.  0 ok, 1 no such
 * user, -1 error (*where says which store).
 */
static int
totp_store(struct db *db, PGconn *conn, const char *name,
    const unsigned char *secret, size_t len, const char **where)
{
	int	rc;

	*where = "cluster store";
	if (conn != NULL &&
	    (rc = ctl_cluster_user_totp(conn, db, name, secret, len)) != 0)
		return rc;
	*where = "database error";
	rc = db_user_totp_set(db, name, secret, len);
	return rc == 1 && conn != NULL ? 0 : rc;
}

/*
 * Enrols (or with off removes) name's TOTP secret, cluster-wide when
 * database is set; the exit status.
 */
int
ctl_totp(struct db *db, const char *database, const char *name, int off,
    const char *actor)
{
	unsigned char	 secret[TOTP_SECRET_LEN];
	char		 b32[TOTP_B32_MAX], uri[512], detail[128];
	const char	*where;
	PGconn		*conn = NULL;
	int		 rc, cluster;

	if (database != NULL && *database != '\0' &&
	    (conn = ctl_cluster_open(database, "user")) == NULL)
		return 1;
	cluster = conn != NULL;
	snprintf(detail, sizeof(detail), "user %s", name);
	if (off) {
		rc = totp_store(db, conn, name, NULL, 0, &where);
		if (conn != NULL)
			PQfinish(conn);
		(void)db_audit_add(db, actor, "user_totp_off", rc == 0,
		    "local", detail);
		if (rc != 0) {
			fprintf(stderr, "user: %s: %s\n", name, rc == 1 ?
			    "no such user" : where);
			return 1;
		}
		printf("user %s: two-factor login off%s\n", name,
		    cluster ? " on every node" : "");
		return 0;
	}
	randombytes_buf(secret, sizeof(secret));
	rc = totp_base32(secret, sizeof(secret), b32, sizeof(b32));
	if (rc == 0)
		rc = totp_store(db, conn, name, secret, sizeof(secret), &where);
	else
		where = "cannot encode the secret";
	sodium_memzero(secret, sizeof(secret));
	(void)db_audit_add(db, actor, "user_totp", rc == 0, "local", detail);
	if (rc != 0) {
		sodium_memzero(b32, sizeof(b32));
		fprintf(stderr, "user: %s: %s\n", name, rc == 1 ?
		    "no such user" : where);
		if (conn != NULL)
			PQfinish(conn);
		return 1;
	}
	snprintf(uri, sizeof(uri),
	    "otpauth://totp/gotunnel:%s?secret=%s&issuer=gotunnel", name, b32);
	sodium_memzero(b32, sizeof(b32));
	printf("user %s: two-factor login on%s; add this to an authenticator "
	    "app (shown once):\n%s\n", name, cluster ? ", on every node" :
	    "", uri);
	if (conn != NULL)
		PQfinish(conn);
	if (totp_qr_print(uri) == -1)
		fprintf(stderr, "user: cannot draw the QR code\n");
	sodium_memzero(uri, sizeof(uri));
	return 0;
}
