/* SPDX-License-Identifier: ISC */
/* check_main.c: runs every linked Check suite; exit status is the failure count. */
#include <stdlib.h>
#include "suites.h"

/* Adds a suite to the runner when its file is linked in. */
static void
add_suite(SRunner **sr, Suite *(*fn)(void))
{
	if (fn == NULL)
		return;
	if (*sr == NULL)
		*sr = srunner_create(fn());
	else
		srunner_add_suite(*sr, fn());
}

int
main(void)
{
	SRunner	*sr = NULL;
	int	 failed;

	add_suite(&sr, suite_frame);
	add_suite(&sr, suite_proto);
	add_suite(&sr, suite_config);
	add_suite(&sr, suite_portrange);
	add_suite(&sr, suite_db);
	add_suite(&sr, suite_db_admin);
	add_suite(&sr, suite_relay);
	add_suite(&sr, suite_tls);
	add_suite(&sr, suite_tbucket);
	add_suite(&sr, suite_totp);
	add_suite(&sr, suite_prune);
	add_suite(&sr, suite_serverlist);
	add_suite(&sr, suite_http_head);
	add_suite(&sr, suite_proxyproto);
	add_suite(&sr, suite_db_vhost);
	add_suite(&sr, suite_cidr);
	add_suite(&sr, suite_db_token);
	add_suite(&sr, suite_udprec);
	add_suite(&sr, suite_alert);
	add_suite(&sr, suite_db_rec);
	if (sr == NULL)
		return 1;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
