/* tests/daemon/test_input.c - input rules: names, strings, numbers,
 * settings, listeners and the token file.
 *
 * Every string a client sends must be valid UTF-8 without a NUL (proto3
 * string fields; strict decoders reject anything else, and a NUL would
 * silently truncate), names are length-limited, no field overflows a
 * signed type, every setting is range-checked, systemd's TCP sockets obey
 * the token rule, and daemon and client read a token file the same way.
 */
#include "check_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "armmap.h"
#include "token.h"

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
    td_start(&d, NULL);
}

static void teardown(void)
{
    td_cleanup(&d);
}

static Armmap__V1__Response *create_named(int fd, uint64_t id,
                                          const char *name)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;

    cr.preset = (char *)"qemu-virt";
    cr.name = (char *)name;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    return td_call(fd, &req);
}

START_TEST(test_long_machine_name_refused)
{
    size_t n = 4u << 20;
    char *name = malloc(n + 1);
    int fd = td_session(&d, "t");
    Armmap__V1__Response *r;

    ck_assert_ptr_nonnull(name);
    memset(name, 'x', n);
    name[n] = '\0';
    r = create_named(fd, 3, name);
    ck_assert_status(r, 3, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "create: name is 4194304 bytes; at most 128");
    td_free(r);
    name[128] = '\0';
    r = create_named(fd, 4, name);
    ck_assert_status(r, 4, 0, "");
    ck_assert_uint_eq(strlen(r->machine->name), 128);
    td_free(r);
    free(name);
    close(fd);
}
END_TEST

START_TEST(test_invalid_utf8_name_refused)
{
    int fd = td_session(&d, "t");
    Armmap__V1__Response *r;

    r = create_named(fd, 3, "ok\xc3");         /* truncated sequence */
    ck_assert_status(r, 3, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "create: name is not valid UTF-8 (at byte 2)");
    td_free(r);
    r = create_named(fd, 4, "\xed\xa0\x80");   /* a UTF-16 surrogate */
    ck_assert_status(r, 4, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "create: name is not valid UTF-8 (at byte 0)");
    td_free(r);
    r = create_named(fd, 5, "\xc0\xaf");       /* an overlong '/' */
    ck_assert_status(r, 5, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "create: name is not valid UTF-8 (at byte 0)");
    td_free(r);
    r = create_named(fd, 6, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    ck_assert_status(r, 6, 0, "");
    ck_assert_str_eq(r->machine->name, "caf\xc3\xa9 \xe2\x82\xac "
                     "\xf0\x9f\x98\x80");
    td_free(r);
    close(fd);
}
END_TEST

/* A setting's value is a string too, one message deeper. */
START_TEST(test_invalid_utf8_in_a_nested_string_refused)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Setting kv = ARMMAP__V1__SETTING__INIT, *kvp = &kv;
    int fd = td_session(&d, "t");
    Armmap__V1__Response *r;

    kv.key = (char *)"kernel";
    kv.value = (char *)"4.\xff";
    cr.preset = (char *)"qemu-virt";
    cr.n_settings = 1;
    cr.settings = &kvp;
    req.id = 8;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    r = td_call(fd, &req);
    ck_assert_status(r, 8, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "create: settings.value is not valid UTF-8 (at byte 2)");
    td_free(r);
    close(fd);
}
END_TEST

/* protobuf-c would hand "ab\0c" over as "ab": the tenant must be refused,
 * not truncated. */
START_TEST(test_nul_in_tenant_refused)
{
    static const uint8_t frame[] = {
        0, 0, 0, 12,
        0x08, 0x01,                         /* id = 1 */
        0x52, 0x08,                         /* hello, 8 bytes */
        0x08, 0x01,                         /* protocol = 1 */
        0x12, 0x04, 'a', 'b', 0x00, 'c'     /* tenant "ab\0c" */
    };
    int fd = td_connect(&d);
    Armmap__V1__Response *r;

    td_write(fd, frame, sizeof(frame));
    r = td_recv(fd);
    ck_assert_status(r, 1, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "hello: tenant contains a NUL (at byte 2)");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);
}
END_TEST

static Armmap__V1__Response *purge(int fd, uint64_t id, uint64_t older)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Purge pu = ARMMAP__V1__PURGE__INIT;

    pu.older_than_ms = older;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PURGE;
    req.purge = &pu;
    return td_call(fd, &req);
}

/* now - 2^63 overflowed int64 (a UBSan build aborted): any age beyond
 * the epoch keeps everything. */
START_TEST(test_purge_older_than_2_63_keeps_everything)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    int fd = td_session(&d, "t");
    uint64_t id = td_create(fd, "qemu-virt", NULL);
    Armmap__V1__Response *r;
    uint64_t older;
    int64_t destroyed;

    ref.machine = id;
    req.id = 2;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESTROY;
    req.destroy = &ref;
    r = td_call(fd, &req);
    ck_assert_status(r, 2, 0, "");
    td_free(r);
    destroyed = spawn_wall_ms();        /* at or after the destroy stamp */
    for (older = 1ull << 62; older != 0; older <<= 1) {
        r = purge(fd, 3, older);
        ck_assert_status(r, 3, 0, "");
        ck_assert_uint_eq(r->purge->machines, 0);
        td_free(r);
    }
    r = purge(fd, 4, UINT64_MAX);
    ck_assert_status(r, 4, 0, "");
    ck_assert_uint_eq(r->purge->machines, 0);
    td_free(r);
    ck_assert(spawn_wait_clock_past(destroyed));  /* destroyed before "now" */
    r = purge(fd, 5, 0);
    ck_assert_status(r, 5, 0, "");
    ck_assert_uint_eq(r->purge->machines, 1);
    td_free(r);
    close(fd);
}
END_TEST

/* Values the daemon would cut to 32 bits are refused at start. */
START_TEST(test_settings_are_range_checked)
{
    char out[2048];

    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config",
                            "--max-history-rows=4294967297", NULL), 2);
    ck_assert_str_eq(out, "armmapd: --max-history-rows: '4294967297' is above "
                     "the maximum of 1000000\n");
    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config",
                            "--max-batch-ops=4294967296", NULL), 2);
    ck_assert_str_eq(out, "armmapd: --max-batch-ops: '4294967296' is above "
                     "the maximum of 1000000\n");
    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config",
                            "--max-translate-batch=99999999999", NULL), 2);
    ck_assert_str_eq(out, "armmapd: --max-translate-batch: '99999999999' is "
                     "above the maximum of 16777216\n");
    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config",
                            "--max-hello-frame=1G", NULL), 2);
    ck_assert_str_eq(out, "armmapd: --max-hello-frame: '1G' is above "
                     "the maximum of 65536\n");
    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config",
                            "--max-history-rows=1000000",
                            "--max-batch-ops=1000000", NULL), 0);
}
END_TEST

/* A TCP socket handed over by systemd follows the rule --listen follows:
 * not loopback, no token, no start.  The socket is bound (to any
 * address, port 0) but never listening, so nothing can connect to it. */
START_TEST(test_systemd_tcp_socket_needs_a_token)
{
    struct sockaddr_in sa;
    char bin[512], sd[300], buf[4096];
    int sock = socket(AF_INET, SOCK_STREAM, 0), pipefd[2], status;
    ssize_t n;
    size_t got = 0;
    pid_t pid;

    ck_assert_int_ge(sock, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    ck_assert_int_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
    td_binary(bin, sizeof(bin));
    snprintf(sd, sizeof(sd), "--state-dir=%s", d.dir);
    ck_assert_int_eq(pipe(pipefd), 0);
    td_stop(&d);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char *argv[] = { bin, sd, NULL };
        char spid[32];

        dup2(pipefd[1], 2);
        dup2(sock, 3);
        snprintf(spid, sizeof(spid), "%ld", (long)getpid());
        setenv("LISTEN_PID", spid, 1);
        setenv("LISTEN_FDS", "1", 1);
        spawn_exec(argv);
        _exit(127);
    }
    close(pipefd[1]);
    close(sock);
    while ((n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(pipefd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    ck_assert_msg(strstr(buf, "armmapd: systemd fd 3 is TCP on 0.0.0.0:") !=
                  NULL && strstr(buf, ", not loopback; refusing to serve it "
                  "without --auth-token-file or --tenants-file") != NULL,
                  "%s", buf);
}
END_TEST

/* ---- the token file, read by token_read_file() on both sides ---------- */

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

START_TEST(test_token_file_forms)
{
    static const struct {
        const char *text;
        const char *token;
    } forms[] = {
        { "s3cret", "s3cret" },
        { "s3cret\n", "s3cret" },
        { "s3cret\r\n", "s3cret" },
        { "s3cret\n\n\n", "s3cret" },
        { "s3 cret\r\n\r\n", "s3 cret" },
    };
    uint8_t tok[TOKEN_MAX];
    char path[400], err[256];
    size_t i, len;

    snprintf(path, sizeof(path), "%s/token", d.dir);
    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        write_file(path, forms[i].text, strlen(forms[i].text));
        ck_assert_int_eq(token_read_file(path, tok, &len, err, sizeof(err)),
                         0);
        ck_assert_uint_eq(len, strlen(forms[i].token));
        ck_assert_int_eq(memcmp(tok, forms[i].token, len), 0);
    }
    write_file(path, "\n\r\n", 3);
    ck_assert_int_eq(token_read_file(path, tok, &len, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "holds no token"));
}
END_TEST

/* The daemon and libarmmap take the same token from the same file: with
 * trailing newlines, without, and exactly TOKEN_MAX bytes long. */
static void token_round_trip(const char *suffix, size_t len)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char path[400], flag[420], err[ARMMAP_ERR_MAX];
    struct tdaemon d2;
    char *text = malloc(len + 8);
    size_t i;

    ck_assert_ptr_nonnull(text);
    for (i = 0; i < len; i++)
        text[i] = (char)('a' + i % 26);
    memcpy(text + len, suffix, strlen(suffix) + 1);
    td_init(&d2);
    snprintf(path, sizeof(path), "%s/token", d2.dir);
    write_file(path, text, strlen(text));
    snprintf(flag, sizeof(flag), "--auth-token-file=%s", path);
    td_start(&d2, flag, NULL);
    memset(&opt, 0, sizeof(opt));
    opt.token_file = path;
    ck_assert_msg(armmap_connect_unix(d2.sock, opt, &c, err) == ARMMAP_OK,
                  "%s", err);
    armmap_close(c);
    free(text);
    td_cleanup(&d2);
}

START_TEST(test_token_file_same_for_daemon_and_client)
{
    token_round_trip("", 20);
    token_round_trip("\n", 20);
    token_round_trip("\r\n\n", 20);
    token_round_trip("", TOKEN_MAX);
    token_round_trip("\n", TOKEN_MAX);
}
END_TEST

START_TEST(test_token_file_too_long_refused_by_both)
{
    char path[400], flag[420], out[1024], err[ARMMAP_ERR_MAX];
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char *text = malloc(TOKEN_MAX + 2);

    ck_assert_ptr_nonnull(text);
    memset(text, 'k', TOKEN_MAX + 1);
    text[TOKEN_MAX + 1] = '\0';
    snprintf(path, sizeof(path), "%s/token", d.dir);
    write_file(path, text, TOKEN_MAX + 1);
    snprintf(flag, sizeof(flag), "--auth-token-file=%s", path);
    ck_assert_int_eq(td_run(out, sizeof(out), flag, "--check-config", NULL), 2);
    ck_assert_msg(strstr(out, "is longer than 4096 bytes") != NULL, "%s", out);
    memset(&opt, 0, sizeof(opt));
    opt.token_file = path;
    ck_assert_int_eq(armmap_connect_unix(d.sock, opt, &c, err),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_msg(strstr(err, "is longer than 4096 bytes") != NULL, "%s", err);
    free(text);
}
END_TEST

Suite *input_suite(void)
{
    Suite *s = suite_create("input");
    TCase *tc = tcase_create("input");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_long_machine_name_refused);
    tcase_add_test(tc, test_invalid_utf8_name_refused);
    tcase_add_test(tc, test_invalid_utf8_in_a_nested_string_refused);
    tcase_add_test(tc, test_nul_in_tenant_refused);
    tcase_add_test(tc, test_purge_older_than_2_63_keeps_everything);
    tcase_add_test(tc, test_settings_are_range_checked);
    tcase_add_test(tc, test_systemd_tcp_socket_needs_a_token);
    tcase_add_test(tc, test_token_file_forms);
    tcase_add_test(tc, test_token_file_same_for_daemon_and_client);
    tcase_add_test(tc, test_token_file_too_long_refused_by_both);
    suite_add_tcase(s, tc);
    return s;
}
