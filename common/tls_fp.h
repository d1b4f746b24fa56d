/* SPDX-License-Identifier: ISC */
/* tls_fp.h: a certificate's fingerprint as gotunnel prints and pins it. */
#ifndef GOTUNNEL_TLS_FP_H
#define GOTUNNEL_TLS_FP_H

#include <stddef.h>

#define TLS_FP_LEN	72	/* "sha256:" + 64 lowercase hex digits + NUL */

int	tls_fp_der(const unsigned char *der, size_t len, char out[TLS_FP_LEN]);
struct x509_st;
int	tls_fp_x509(struct x509_st *, char out[TLS_FP_LEN]);
int	tls_fp_file(const char *pem_path, char out[TLS_FP_LEN], char *err,
	    size_t errlen);

#endif
