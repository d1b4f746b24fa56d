/* SPDX-License-Identifier: ISC */
/* ctl_user_main.c: a stand-in gotunnelctl main for testing ctl_user alone:
 * ctl-user-test DATA_DIR user add|del|passwd|list [NAME] */
#include <stdio.h>

int	ctl_user(const char *data_dir, int argc, char **argv);

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ctl-user-test DATA_DIR user ...\n");
		return 1;
	}
	return ctl_user(argv[1], argc - 2, argv + 2);
}
