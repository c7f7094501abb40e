/* tests/daemon/main.c - runs every armmapd suite; exits non-zero on failure. */
#include "check_daemon.h"

#include <stdlib.h>

int main(void)
{
    SRunner *sr = srunner_create(settings_suite());
    int failed;

    srunner_add_suite(sr, session_suite());
    srunner_add_suite(sr, ops_suite());
    srunner_add_suite(sr, frames_suite());
    srunner_add_suite(sr, park_suite());
    srunner_add_suite(sr, life_suite());
    srunner_add_suite(sr, systemd_suite());
    srunner_add_suite(sr, durability_suite());
    srunner_add_suite(sr, abuse_suite());
    srunner_add_suite(sr, commit_suite());
    srunner_add_suite(sr, integrity_suite());
    srunner_add_suite(sr, inject_suite());
    srunner_add_suite(sr, checkpoint_suite());
    srunner_add_suite(sr, preauth_suite());
    srunner_add_suite(sr, input_suite());
    srunner_add_suite(sr, tenancy_suite());
    srunner_add_suite(sr, http_suite());
    srunner_add_suite(sr, http_static_suite());
    srunner_add_suite(sr, http_reports_suite());
    srunner_add_suite(sr, parked_describe_suite());
    srunner_add_suite(sr, names_suite());
#ifdef STORE_HAVE_PG
    srunner_add_suite(sr, pg_daemon_suite());
#endif
    srunner_add_suite(sr, cluster_suite());
    srunner_add_suite(sr, reset_suite());
    srunner_add_suite(sr, stream_replies_suite());
    srunner_add_suite(sr, rkeys_suite());
    srunner_add_suite(sr, linger_suite());
    srunner_add_suite(sr, hugepage_suite());
    srunner_add_suite(sr, boots_daemon_suite());
#ifdef STORE_HAVE_PG
    srunner_add_suite(sr, pg_rkeys_suite());
    srunner_add_suite(sr, pg_lazy_suite());
#endif
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
