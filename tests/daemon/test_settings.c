/* tests/daemon/test_settings.c - flags, config file, --help, --check-config,
 * TCP with an auth token.
 *
 * The parser is tested in-process (daemon/settings.c is linked into this
 * binary) and through the real binary for exit codes and output.
 */
#include "check_daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "srv.h"

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    td_cleanup(&d);
}

/* Parses @argv (NULL-ended, without argv[0]); returns 0 or -1 with @err. */
static int parse(struct srv_settings *st, char *err, size_t errsz, ...)
{
    char *argv[32];
    int argc = 0, rc;
    va_list ap;
    char *a;

    argv[argc++] = (char *)"armmapd";
    va_start(ap, errsz);
    while ((a = va_arg(ap, char *)) != NULL)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    srv_settings_init(st);
    err[0] = '\0';
    rc = srv_settings_parse(st, argc, argv, err, errsz);
    if (rc == 0)
        rc = srv_settings_finish(st, err, errsz);
    return rc;
}

START_TEST(test_defaults)
{
    struct srv_settings st;
    char err[256];

    unsetenv("STATE_DIRECTORY");
    ck_assert_int_eq(parse(&st, err, sizeof(err), NULL), 0);
    ck_assert_str_eq(st.state_dir, "./armmapd-state");
    ck_assert_str_eq(st.socket_path, "./armmapd-state/armmapd.sock");
    ck_assert_str_eq(st.database, "./armmapd-state/armmapd.db");
    ck_assert_ptr_null(st.listen);
    ck_assert_uint_eq(st.max_frame, 16u << 20);
    ck_assert_uint_eq(st.max_connections, 1024);
    ck_assert_uint_eq(st.max_machines, 100000);
    ck_assert_uint_eq(st.max_machines_per_tenant, 10000);
    ck_assert_uint_eq(st.max_translate_batch, 1048576);
    ck_assert_uint_eq(st.max_batch_ops, 4096);
    ck_assert_uint_eq(st.max_history_rows, 10000);
    ck_assert_uint_eq(st.max_queued_bytes, 32u << 20);
    ck_assert_uint_eq(st.idle_timeout, 300);
    ck_assert_int_eq(st.log_level, SRV_LOG_WARN);
    ck_assert_int_eq(st.durability, SRV_DURABILITY_NORMAL);
    srv_settings_free(&st);
    setenv("STATE_DIRECTORY", "/var/lib/armmapd:/other", 1);
    ck_assert_int_eq(parse(&st, err, sizeof(err), NULL), 0);
    ck_assert_str_eq(st.state_dir, "/var/lib/armmapd");
    ck_assert_str_eq(st.socket_path, "/var/lib/armmapd/armmapd.sock");
    ck_assert_str_eq(st.database, "/var/lib/armmapd/armmapd.db");
    unsetenv("STATE_DIRECTORY");
    srv_settings_free(&st);

    /* An in-memory store cannot promise what durability full promises. */
    ck_assert_int_eq(parse(&st, err, sizeof(err), "--database", ":memory:",
                           "--durability", "full", NULL), -1);
    ck_assert_str_eq(err, "armmapd: --durability full needs a database "
                     "file, not --database :memory:");
    srv_settings_free(&st);
}
END_TEST

START_TEST(test_bad_values_name_setting_and_value)
{
    static const char *const cases[][2] = {
        { "--max-frame=abc", "armmapd: --max-frame: 'abc' is not a size" },
        { "--max-frame=0", "armmapd: --max-frame: '0' is not a size" },
        { "--max-queued-bytes=12X",
          "armmapd: --max-queued-bytes: '12X' is not a size" },
        { "--max-connections=-1",
          "armmapd: --max-connections: '-1' is not a positive number" },
        { "--max-batch-ops=0",
          "armmapd: --max-batch-ops: '0' is not a positive number" },
        { "--idle-timeout=soon",
          "armmapd: --idle-timeout: 'soon' is not a number of seconds" },
        { "--log-level=loud", "armmapd: --log-level: 'loud' is not one of "
                              "error, warn, info, debug" },
        { "--durability=maybe",
          "armmapd: --durability: 'maybe' is not one of normal, full" },
        { "--frobnicate",
          "armmapd: unknown option '--frobnicate' (see --help)" },
        { "--listen=nohost", "armmapd: --listen: 'nohost' is not HOST:PORT" },
        { "--listen=10.1.2.3:7000", "armmapd: --listen: '10.1.2.3:7000' is not "
                                    "a loopback address; refusing "
                                    "to serve it without --auth-token-file "
                                    "or --tenants-file" },
        { "--max-frame=8G", "armmapd: --max-frame: '8589934592' is above the "
                            "framing's maximum of "
                            "4294967295" },
    };
    struct srv_settings st;
    char err[256];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(parse(&st, err, sizeof(err), cases[i][0], NULL), -1);
        ck_assert_str_eq(err, cases[i][1]);
        srv_settings_free(&st);
    }
    ck_assert_int_eq(parse(&st, err, sizeof(err), "--max-frame", NULL), -1);
    ck_assert_str_eq(err, "armmapd: --max-frame: missing value");
    srv_settings_free(&st);
}
END_TEST

START_TEST(test_sizes_and_separate_values)
{
    struct srv_settings st;
    char err[256];

    ck_assert_int_eq(parse(&st, err, sizeof(err), "--max-frame", "1KiB",
                           "--max-queued-bytes=2M", "--listen", "127.0.0.1:0",
                           "--log-level", "debug", "--durability=full", NULL),
                     0);
    ck_assert_uint_eq(st.max_frame, 1024);
    ck_assert_uint_eq(st.max_queued_bytes, 2u << 20);
    ck_assert_str_eq(st.listen, "127.0.0.1:0");
    ck_assert_int_eq(st.log_level, SRV_LOG_DEBUG);
    ck_assert_int_eq(st.durability, SRV_DURABILITY_FULL);
    srv_settings_free(&st);
}
END_TEST

START_TEST(test_config_file_and_flags_win)
{
    struct srv_settings st;
    char path[300], arg[320], err[512], want[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/armmapd.conf", d.dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# armmapd settings\n\nmax-frame = 1M   # small\n"
          "max-connections=7\nlog-level = info\n", f);
    fclose(f);
    snprintf(arg, sizeof(arg), "--config=%s", path);
    ck_assert_int_eq(
        parse(&st, err, sizeof(err), "--max-connections=9", arg, NULL), 0);
    ck_assert_uint_eq(st.max_frame, 1u << 20);
    ck_assert_uint_eq(st.max_connections, 9);      /* the flag wins */
    ck_assert_int_eq(st.log_level, SRV_LOG_INFO);
    srv_settings_free(&st);

    f = fopen(path, "a");
    fputs("max-history-rows = many\n", f);
    fclose(f);
    ck_assert_int_eq(parse(&st, err, sizeof(err), arg, NULL), -1);
    snprintf(want, sizeof(want),
             "armmapd: %s:6: max-history-rows: 'many' is not a "
             "positive number",
             path);
    ck_assert_str_eq(err, want);
    srv_settings_free(&st);

    f = fopen(path, "w");
    fputs("colour = blue\n", f);
    fclose(f);
    ck_assert_int_eq(parse(&st, err, sizeof(err), arg, NULL), -1);
    snprintf(want, sizeof(want), "armmapd: %s:1: unknown setting 'colour'",
             path);
    ck_assert_str_eq(err, want);
    srv_settings_free(&st);
}
END_TEST

START_TEST(test_help_lists_every_setting)
{
    static const char *const names[] = {
        "--config", "--state-dir", "--database", "--socket", "--listen", "--auth-token-file",
        "--log-file", "--durability", "--log-level", "--max-frame",
        "--max-connections", "--max-machines", "--max-machines-per-tenant",
        "--max-translate-batch", "--max-batch-ops", "--max-history-rows",
        "--max-queued-bytes", "--idle-timeout", "--check-config", "--help",
    };
    char out[8192];
    size_t i;

    ck_assert_int_eq(td_run(out, sizeof(out), "--help", NULL), 0);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(strstr(out, names[i]) != NULL, "--help lacks %s",
                      names[i]);
    ck_assert_ptr_nonnull(strstr(out, "[default: 16M]"));
    ck_assert_ptr_nonnull(strstr(out, "[default: 300]"));
}
END_TEST

START_TEST(test_check_config_exit_codes)
{
    char out[1024];

    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config", NULL), 0);
    ck_assert_str_eq(out, "armmapd: configuration OK\n");
    ck_assert_int_eq(
        td_run(out, sizeof(out), "--check-config", "--max-frame=abc", NULL), 2);
    ck_assert_str_eq(out, "armmapd: --max-frame: 'abc' is not a size\n");
    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config",
                            "--auth-token-file=/nonexistent/token", NULL), 2);
    ck_assert_str_eq(out, "armmapd: --auth-token-file: cannot read token "
                     "file /nonexistent/token: No such file or directory\n");
    ck_assert_int_eq(td_run(out, sizeof(out), "--listen=192.0.2.1:80", NULL),
                     2);
    ck_assert_str_eq(
        out, "armmapd: --listen: '192.0.2.1:80' is not a loopback "
             "address; refusing to serve it without --auth-token-file or "
             "--tenants-file\n");
}
END_TEST

/* Finds "listening on tcp 127.0.0.1:PORT" in the log. */
static int tcp_port(void)
{
    const char *p = strstr(td_log(&d), "listening on tcp 127.0.0.1:");

    ck_assert_ptr_nonnull(p);
    return atoi(p + strlen("listening on tcp 127.0.0.1:"));
}

static int tcp_connect(int port)
{
    struct sockaddr_in sa;
    struct timeval tv = { 10, 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static Armmap__V1__Response *hello_token(int fd, const char *token)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello h = ARMMAP__V1__HELLO__INIT;

    h.protocol = 1;
    h.tenant = (char *)"tcp";
    if (token != NULL) {
        h.token.data = (uint8_t *)token;
        h.token.len = strlen(token);
    }
    req.id = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &h;
    return td_call(fd, &req);
}

START_TEST(test_tcp_loopback_without_token)
{
    Armmap__V1__Response *r;
    int fd;

    td_start(&d, "--listen=127.0.0.1:0", NULL);
    fd = tcp_connect(tcp_port());
    r = hello_token(fd, NULL);
    ck_assert_status(r, 1, 0, "");
    td_free(r);
    close(fd);
}
END_TEST

START_TEST(test_tcp_with_auth_token)
{
    char path[300], arg[320];
    Armmap__V1__Response *r;
    FILE *f;
    int fd, port;

    snprintf(path, sizeof(path), "%s/token", d.dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("s3cret\n", f);
    fclose(f);
    snprintf(arg, sizeof(arg), "--auth-token-file=%s", path);
    td_start(&d, "--listen=127.0.0.1:0", arg, NULL);
    port = tcp_port();

    fd = tcp_connect(port);
    r = hello_token(fd, NULL);
    ck_assert_status(r, 1, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "hello: this daemon requires a token");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);

    fd = tcp_connect(port);
    r = hello_token(fd, "s3cres");
    ck_assert_status(r, 1, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "hello: the token is not valid");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);

    fd = tcp_connect(port);
    r = hello_token(fd, "s3cret");
    ck_assert_status(r, 1, 0, "");
    td_free(r);
    close(fd);
}
END_TEST

Suite *settings_suite(void)
{
    Suite *s = suite_create("settings");
    TCase *tc = tcase_create("settings");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_bad_values_name_setting_and_value);
    tcase_add_test(tc, test_sizes_and_separate_values);
    tcase_add_test(tc, test_config_file_and_flags_win);
    tcase_add_test(tc, test_help_lists_every_setting);
    tcase_add_test(tc, test_check_config_exit_codes);
    tcase_add_test(tc, test_tcp_loopback_without_token);
    tcase_add_test(tc, test_tcp_with_auth_token);
    suite_add_tcase(s, tc);
    return s;
}
