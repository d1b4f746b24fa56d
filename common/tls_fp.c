/* SPDX-License-Identifier: ISC */
/*
 * tls_fp.c: "sha256:" + 64 lowercase hex digits of a certificate's DER
 * encoding (no colons), the form of server_fingerprint and of
 * gotunnelctl fingerprint.  Links with -lcrypto.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls_fp.h"

/* Formats the fingerprint of DER bytes; 0, or -1 if hashing failed. */
int
tls_fp_der(const unsigned char *der, size_t len, char out[TLS_FP_LEN])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The fingerprint of a parsed certificate; 0, or -1 if it could not be hashed. */
int
tls_fp_x509(X509 *x, char out[TLS_FP_LEN])
{
	unsigned char	*der = NULL;
	int		 len, rc = -1;

	if ((len = i2d_X509(x, &der)) > 0)
		rc = tls_fp_der(der, (size_t)len, out);
	OPENSSL_free(der);
	return rc;
}

/* Reads the first certificate of a PEM file and formats its fingerprint. */
int
tls_fp_file(const char *pem_path, char out[TLS_FP_LEN], char *err,
    size_t errlen)
{
	FILE	*fp;
	X509	*x;
	int	 rc;

	if ((fp = fopen(pem_path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", pem_path, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (x == NULL) {
		snprintf(err, errlen, "%s: no PEM certificate", pem_path);
		return -1;
	}
	if ((rc = tls_fp_x509(x, out)) == -1)
		snprintf(err, errlen, "%s: cannot hash the certificate", pem_path);
	X509_free(x);
	return rc;
}
