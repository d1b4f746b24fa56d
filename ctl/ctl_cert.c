/* SPDX-License-Identifier: ISC */
/*
 * ctl_cert.c: `gotunnelctl cert init` (a self-signed server key and
 * certificate, so a self-hosted master needs no CA) and `gotunnelctl
 * fingerprint` (what clients pin as server_fingerprint).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tls.h"

int	ctl_cert(const struct server_config *, int argc, char **argv);
int	ctl_fingerprint(const struct server_config *, int argc, char **argv);

/* Prints the fingerprint of tls_cert_file (or of the file given). */
int
ctl_fingerprint(const struct server_config *c, int argc, char **argv)
{
	const char	*path = c->tls_cert_file;
	char		 fp[TLS_FP_LEN], err[512];

	if (argc == 2)
		path = argv[1];
	else if (argc != 1) {
		fprintf(stderr, "usage: gotunnelctl fingerprint [CERT_FILE]\n");
		return 1;
	}
	if (path[0] == '\0') {
		fprintf(stderr, "gotunnelctl: %s: no tls_cert_file in [common] "
		    "(gotunnelctl cert init makes one)\n", c->path);
		return 1;
	}
	if (tls_fp_file(path, fp, err, sizeof(err)) == -1) {
		fprintf(stderr, "gotunnelctl: %s\n", err);
		return 1;
	}
	printf("%s\n", fp);
	return 0;
}

/* cert init [--cn NAME] [--days N] [--force]: writes the key and certificate. */
int
ctl_cert(const struct server_config *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cn", required_argument, NULL, 'n' },
		{ "days", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	char		 cn[256], cert[PATH_MAX], key[PATH_MAX], fp[TLS_FP_LEN];
	char		 err[512], *end;
	long		 days = 825;
	int		 ch, force = 0, from_conf = c->tls_cert_file[0] != '\0';

	if (argc < 2 || strcmp(argv[1], "init") != 0) {
		fprintf(stderr, "usage: gotunnelctl cert init [--cn NAME] "
		    "[--days N] [--force]\n");
		return 1;
	}
	if (gethostname(cn, sizeof(cn)) == -1 || cn[0] == '\0')
		snprintf(cn, sizeof(cn), "gotunnel");
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			snprintf(cn, sizeof(cn), "%s", optarg);
			break;
		case 'd':
			days = strtol(optarg, &end, 10);
			if (*end != '\0' || days < 1 || days > 36500) {
				fprintf(stderr, "gotunnelctl: --days takes 1 to "
				    "36500\n");
				return 1;
			}
			break;
		case 'f':
			force = 1;
			break;
		default:
			return 1;
		}
	}
	if (from_conf) {
		snprintf(cert, sizeof(cert), "%s", c->tls_cert_file);
		snprintf(key, sizeof(key), "%s", c->tls_key_file);
	} else {
		/* Not configured yet: make them in data_dir and say what to add. */
		if (mkdir(c->data_dir, 0750) == -1 && errno != EEXIST) {
			fprintf(stderr, "gotunnelctl: %s: %s\n", c->data_dir,
			    strerror(errno));
			return 1;
		}
		if (snprintf(cert, sizeof(cert), "%s/server.crt", c->data_dir) >=
		    (int)sizeof(cert) || snprintf(key, sizeof(key),
		    "%s/server.key", c->data_dir) >= (int)sizeof(key)) {
			fprintf(stderr, "gotunnelctl: data_dir too long\n");
			return 1;
		}
	}
	if (!force && (access(cert, F_OK) == 0 || access(key, F_OK) == 0)) {
		fprintf(stderr, "gotunnelctl: %s or %s exists; --force replaces "
		    "them (clients that pinned the old fingerprint must be "
		    "updated)\n", cert, key);
		return 1;
	}
	if (tls_cert_create(cert, key, cn, (int)days, err, sizeof(err)) == -1 ||
	    tls_fp_file(cert, fp, err, sizeof(err)) == -1) {
		fprintf(stderr, "gotunnelctl: %s\n", err);
		return 1;
	}
	printf("certificate %s (CN %s, %ld days), key %s\n", cert, cn, days, key);
	if (!from_conf)
		printf("add to [common] of %s:\n  tls_cert_file = %s\n"
		    "  tls_key_file = %s\n", c->path, cert, key);
	printf("clients pin it with server_fingerprint = %s\n", fp);
	printf("%s\n", fp);
	return 0;
}
