/* SPDX-License-Identifier: ISC */
/*
 * fuzz_admin_query.c: what a stranger puts in the admin's request line:
 * the query string (url_query_split, url_int) and the path of a console
 * file (url_path_clean).  Split parameters are unique, non-empty keys
 * without control bytes; a clean path is absolute, no longer than the
 * raw one, and has no segment starting with '.', no backslash and no
 * control byte, so "/../distX/" and its encodings never pass.
 */
#include <limits.h>

#include "fuzz.h"
#include "url.h"

#define QUERY_MAX	16	/* ADMIN_QUERY_MAX */

/* Checks a decoded string: no control byte. */
static void
check_plain(const char *s)
{
	for (; *s != '\0'; s++)
		CHECK((unsigned char)*s >= 0x20);
}

/* Splits the input as a query string and checks every parameter. */
static void
query(const uint8_t *data, size_t size)
{
	struct url_param	 p[QUERY_MAX];
	char			*qs = fuzz_cstr(data, size);
	int64_t			 v;
	int			 n = -1;

	if (url_query_split(qs, p, QUERY_MAX, &n) == 0) {
		CHECK(n >= 0 && n <= QUERY_MAX);
		for (int i = 0; i < n; i++) {
			CHECK(p[i].key[0] != '\0');
			check_plain(p[i].key);
			check_plain(p[i].value);
			for (int j = 0; j < i; j++)
				CHECK(strcmp(p[i].key, p[j].key) != 0);
			if (url_int(p[i].value, 1, 65535, &v) == 0) {
				CHECK(v >= 1 && v <= 65535);
				CHECK(strspn(p[i].value, "0123456789") ==
				    strlen(p[i].value));
			}
		}
	}
	free(qs);
}

/* Cleans the input as a URL path and checks the result. */
static void
path(const uint8_t *data, size_t size)
{
	static char	 out[PATH_MAX];
	char		*in = fuzz_cstr(data, size), *seg, *save = NULL;

	if (url_path_clean(in, out, sizeof(out)) == 0) {
		CHECK(out[0] == '/' && strlen(out) <= strlen(in));
		CHECK(strchr(out, '\\') == NULL);
		check_plain(out);
		for (seg = strtok_r(out, "/", &save); seg != NULL;
		    seg = strtok_r(NULL, "/", &save))
			CHECK(seg[0] != '.');
	}
	free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	query(data, size);
	path(data, size);
	return 0;
}
