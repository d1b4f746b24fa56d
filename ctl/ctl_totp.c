/* SPDX-License-Identifier: ISC */
/*
 * ctl_totp.c: `gotunnelctl user totp NAME [--off]`: enrols a console user
 * in two-factor login (a random RFC 6238 secret in LMDB, shown once as an
 * otpauth:// URI and a terminal QR code) or removes the second factor.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <qrencode.h>
#include <sodium.h>

#include "db.h"
#include "db_admin.h"
#include "totp.h"

int	ctl_totp(struct db *, const char *name, int off, const char *actor);

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

/* Enrols (or with off removes) name's TOTP secret; the exit status. */
int
ctl_totp(struct db *db, const char *name, int off, const char *actor)
{
	unsigned char	secret[TOTP_SECRET_LEN];
	char		b32[TOTP_B32_MAX], uri[512], detail[128];
	int		rc;

	snprintf(detail, sizeof(detail), "user %s", name);
	if (off) {
		rc = db_user_totp_set(db, name, NULL, 0);
		(void)db_audit_add(db, actor, "user_totp_off", rc == 0,
		    "local", detail);
		if (rc != 0) {
			fprintf(stderr, "user: %s: %s\n", name, rc == 1 ?
			    "no such user" : "database error");
			return 1;
		}
		printf("user %s: two-factor login off\n", name);
		return 0;
	}
	randombytes_buf(secret, sizeof(secret));
	rc = totp_base32(secret, sizeof(secret), b32, sizeof(b32));
	if (rc == 0)
		rc = db_user_totp_set(db, name, secret, sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
	(void)db_audit_add(db, actor, "user_totp", rc == 0, "local", detail);
	if (rc != 0) {
		sodium_memzero(b32, sizeof(b32));
		fprintf(stderr, "user: %s: %s\n", name, rc == 1 ?
		    "no such user" : "database error");
		return 1;
	}
	snprintf(uri, sizeof(uri),
	    "otpauth://totp/gotunnel:%s?secret=%s&issuer=gotunnel", name, b32);
	sodium_memzero(b32, sizeof(b32));
	printf("user %s: two-factor login on; add this to an authenticator "
	    "app (shown once):\n%s\n", name, uri);
	if (totp_qr_print(uri) == -1)
		fprintf(stderr, "user: cannot draw the QR code\n");
	sodium_memzero(uri, sizeof(uri));
	return 0;
}
