/* SPDX-License-Identifier: ISC */
/*
 * fuzz_admin_json.c: the admin's JSON inputs: the login body
 * (json_login_parse, from any stranger) and the master's control-socket
 * reply (json_ctl_reply).  The input is handed over in a buffer of
 * exactly its size, so a read past the end is an ASan report.  Parsed
 * strings fit their buffers and hold no NUL.
 */
#include "fuzz.h"
#include "json_parse.h"

/* Checks that s is a NUL-terminated string shorter than size. */
static void
check_str(const char *s, size_t size)
{
	CHECK(memchr(s, '\0', size) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 user[64], pw[256], otp[16], status[32], error[256];
	const char	*err = NULL;
	char		*buf;

	if (size > 16384)	/* ADMIN_BODY_MAX: larger bodies get 413 */
		return 0;
	buf = malloc(size ? size : 1);
	CHECK(buf != NULL);
	memcpy(buf, data, size);
	if (json_login_parse(buf, size, user, sizeof(user), pw, sizeof(pw),
	    otp, sizeof(otp), &err) == 0) {
		check_str(user, sizeof(user));
		check_str(pw, sizeof(pw));
		check_str(otp, sizeof(otp));
		CHECK(size >= 2 + strlen(user) + strlen(pw));
	} else {
		CHECK(err != NULL && err[0] != '\0');
	}
	if (json_ctl_reply(buf, size, status, sizeof(status), error,
	    sizeof(error)) == 0) {
		check_str(status, sizeof(status));
		check_str(error, sizeof(error));
	}
	free(buf);
	return 0;
}
