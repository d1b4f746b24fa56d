/* SPDX-License-Identifier: ISC */
/*
 * dbfix.c: the fixture of the LMDB table tests: a fresh environment in a
 * temp dir per test (opened in the test's fork, as LMDB wants), removed
 * with everything a test left in it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <check.h>

#include "db.h"
#include "log.h"
#include "suites.h"

/* Creates /tmp/NAME.XXXXXX (into dir) and opens an environment there. */
void
dbfix_open(struct db *db, char *dir, size_t size, const char *name)
{
	log_init(name, LOG_LVL_ERROR);
	snprintf(dir, size, "/tmp/%s.XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(db_open(db, dir, 0), 0);
}

/* Closes the environment and removes dir with the files in it. */
void
dbfix_close(struct db *db, const char *dir)
{
	struct dirent	*e;
	DIR		*d;
	char		 path[512];

	db_close(db);
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}
