/* daemon/main.c - armmapd's entry point: settings, then the server.
 *
 * Kept thin: everything is in the srv_ modules (srv.h).  Exit codes:
 * 0 after a clean stop (SIGTERM/SIGINT) or --help/--check-config success,
 * 2 for bad settings, 1 when the server cannot start (store, socket);
 * --verify: 0 if the database is sound, 1 if not; --copy-to: 0 if copied,
 * 1 if not.
 */
#include "srv.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
    struct srv_settings st;
    struct srv *s;
    char err[1024];
    int rc;

    srv_settings_init(&st);
    if (srv_settings_parse(&st, argc, argv, err, sizeof(err)) != 0 ||
        srv_settings_finish(&st, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        srv_settings_free(&st);
        return 2;
    }
    if (st.help || st.version || st.check_config) {
        if (st.help)
            srv_settings_usage(stdout);
        else if (st.version)
            printf("%s %s\n", SRV_NAME, SRV_VERSION);
        else
            printf("armmapd: configuration OK\n");
        srv_settings_free(&st);
        return 0;
    }
    if (st.copy_to != NULL) {
        rc = srv_copy_store(&st);
        srv_settings_free(&st);
        return rc;
    }
    if (st.verify) {
        rc = srv_persist_verify(&st);
        srv_settings_free(&st);
        return rc;
    }
    if (srv_log_open(st.log_level, st.log_file) != 0) {
        fprintf(stderr, "armmapd: --log-file: cannot open '%s'\n", st.log_file);
        srv_settings_free(&st);
        return 2;
    }
    s = srv_create(&st, err, sizeof(err));
    if (s == NULL) {
        fprintf(stderr, "%s\n", err);
        srv_log_close();
        srv_settings_free(&st);
        return 1;
    }
    rc = srv_run(s);
    srv_destroy(s);
    srv_log_close();
    srv_settings_free(&st);
    return rc;
}
