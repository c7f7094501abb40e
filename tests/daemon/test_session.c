/* tests/daemon/test_session.c - Hello, tenants, ping, pipelining.
 *
 * Each test starts its own armmapd on a fresh state directory.
 */
#include "check_daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
    td_start(&d, "--admin-tenant=s", NULL);   /* daemon-wide stats */
}

static void teardown(void)
{
    td_cleanup(&d);
}

static Armmap__V1__Response *hello(int fd, uint64_t id, uint32_t protocol,
                                   const char *tenant)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello h = ARMMAP__V1__HELLO__INIT;

    h.protocol = protocol;
    h.tenant = (char *)tenant;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &h;
    return td_call(fd, &req);
}

static Armmap__V1__Response *ping(int fd, uint64_t id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;

    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &p;
    return td_call(fd, &req);
}

START_TEST(test_hello_replies_protocol_and_server)
{
    int fd = td_connect(&d);
    Armmap__V1__Response *r = hello(fd, 42, 1, "lab-1");
    struct stat sb;

    ck_assert_int_eq(stat(d.sock, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0660);

    ck_assert_status(r, 42, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_HELLO);
    ck_assert_uint_eq(r->hello->protocol, 1);
    ck_assert_str_eq(r->hello->server, "armmapd 0.1");
    td_free(r);
    close(fd);
}
END_TEST

START_TEST(test_request_before_hello_is_unauthenticated)
{
    int fd = td_connect(&d);
    Armmap__V1__Response *r = ping(fd, 3);

    ck_assert_status(r, 3, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "ping: say hello first");
    td_free(r);
    /* The connection stays usable: hello, then ping works. */
    r = hello(fd, 4, 1, "t");
    ck_assert_status(r, 4, 0, "");
    td_free(r);
    r = ping(fd, 5);
    ck_assert_status(r, 5, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_PONG);
    td_free(r);
    close(fd);
}
END_TEST

START_TEST(test_hello_bad_protocol_closes)
{
    int fd = td_connect(&d);
    Armmap__V1__Response *r = hello(fd, 6, 2, "t");

    ck_assert_status(
        r, 6, ARMMAP__V1__CODE__INVALID_ARGUMENT,
        "hello: protocol 2 is not supported (this daemon speaks 1)");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);
}
END_TEST

START_TEST(test_hello_bad_tenant_closes)
{
    int fd = td_connect(&d);
    Armmap__V1__Response *r = hello(fd, 7, 1, "bad tenant");

    ck_assert_status(
        r, 7, ARMMAP__V1__CODE__INVALID_ARGUMENT,
        "hello: tenant 'bad tenant' is not 1-64 bytes of [A-Za-z0-9._-]");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);
    fd = td_connect(&d);
    r = hello(fd, 8, 1, "");
    ck_assert_status(r, 8, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "hello: tenant '' is not 1-64 bytes of [A-Za-z0-9._-]");
    td_free(r);
    close(fd);
}
END_TEST

START_TEST(test_second_hello_is_refused)
{
    int fd = td_session(&d, "alice");
    Armmap__V1__Response *r = hello(fd, 9, 1, "bob");

    ck_assert_status(
        r, 9, ARMMAP__V1__CODE__INVALID_ARGUMENT,
        "hello: this connection already said hello as tenant 'alice'");
    td_free(r);
    close(fd);
}
END_TEST

START_TEST(test_tenants_cannot_see_each_other)
{
    int a = td_session(&d, "alice"), b = td_session(&d, "bob");
    uint64_t ma = td_create(a, "qemu-virt", NULL);
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;
    char want[128];

    ref.machine = ma;
    req.id = 11;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    r = td_call(b, &req);
    snprintf(want, sizeof(want), "describe: machine %llu does not exist",
             (unsigned long long)ma);
    ck_assert_status(r, 11, ARMMAP__V1__CODE__NOT_FOUND, want);
    td_free(r);
    /* Exactly as a machine that does not exist at all. */
    ref.machine = ma + 1000;
    r = td_call(b, &req);
    snprintf(want, sizeof(want), "describe: machine %llu does not exist",
             (unsigned long long)(ma + 1000));
    ck_assert_status(r, 11, ARMMAP__V1__CODE__NOT_FOUND, want);
    td_free(r);
    /* bob's list is empty, alice's has her machine. */
    req.body_case = ARMMAP__V1__REQUEST__BODY_LIST;
    req.list = &ref;
    r = td_call(b, &req);
    ck_assert_status(r, 11, 0, "");
    ck_assert_uint_eq(r->machines->n_machines, 0);
    td_free(r);
    r = td_call(a, &req);
    ck_assert_status(r, 11, 0, "");
    ck_assert_uint_eq(r->machines->n_machines, 1);
    ck_assert_uint_eq(r->machines->machines[0]->id, ma);
    ck_assert_str_eq(r->machines->machines[0]->tenant, "alice");
    td_free(r);
    /* bob cannot destroy or change it either. */
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESTROY;
    req.destroy = &ref;
    ref.machine = ma;
    r = td_call(b, &req);
    snprintf(want, sizeof(want), "destroy: machine %llu does not exist",
             (unsigned long long)ma);
    ck_assert_status(r, 11, ARMMAP__V1__CODE__NOT_FOUND, want);
    td_free(r);
    r = td_op(b, 12, ma, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    snprintf(want, sizeof(want), "kmap_flush: machine %llu does not exist",
             (unsigned long long)ma);
    ck_assert_status(r, 12, ARMMAP__V1__CODE__NOT_FOUND, want);
    td_free(r);
    close(a);
    close(b);
}
END_TEST

START_TEST(test_pipelined_pings_and_ops_answer_in_order)
{
    int fd = td_session(&d, "pipe");
    uint64_t m = td_create(fd, "qemu-virt", NULL);
    const size_t n = 10000;
    size_t i, len = 0, cap = n * 32;
    uint8_t *buf = malloc(cap);

    ck_assert_ptr_nonnull(buf);
    /* Every third request is a change (alloc/free pairs), the rest pings. */
    for (i = 0; i < n; i++) {
        Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
        Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;
        Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
        uint32_t args[2] = { 1, 0 };
        size_t sz;

        req.id = 1000 + i;
        if (i % 3 == 2) {
            op.machine = m;
            op.code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
            op.n_args = 0;
            op.args = args;
            req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
            req.op = &op;
        } else {
            req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
            req.ping = &p;
        }
        sz = armmap__v1__request__get_packed_size(&req);
        buf[len] = (uint8_t)(sz >> 24);
        buf[len + 1] = (uint8_t)(sz >> 16);
        buf[len + 2] = (uint8_t)(sz >> 8);
        buf[len + 3] = (uint8_t)sz;
        armmap__v1__request__pack(&req, buf + len + 4);
        len += 4 + sz;
    }
    td_write(fd, buf, len);
    free(buf);
    for (i = 0; i < n; i++) {
        Armmap__V1__Response *r = td_recv(fd);

        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->id, 1000 + i);
        ck_assert_int_eq(r->status->code, 0);
        if (i % 3 == 2)
            ck_assert_uint_eq(r->op->seq, i / 3 + 1);
        td_free(r);
    }
    close(fd);
}
END_TEST

START_TEST(test_stats_count_requests)
{
    int fd = td_session(&d, "s");
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Stats st = ARMMAP__V1__STATS__INIT;
    Armmap__V1__Response *r;

    td_create(fd, "qemu-virt", NULL);
    req.id = 2;
    req.body_case = ARMMAP__V1__REQUEST__BODY_STATS;
    req.stats = &st;
    r = td_call(fd, &req);
    ck_assert_status(r, 2, 0, "");
    ck_assert_uint_eq(r->stats->connections, 1);
    ck_assert_uint_eq(r->stats->machines, 1);
    ck_assert_uint_eq(r->stats->requests, 3);       /* hello, create, stats */
    ck_assert_uint_eq(r->stats->changes, 1);
    ck_assert_uint_eq(r->stats->commits, 1);
    ck_assert_uint_eq(r->stats->n_errors_by_code, 14);
    td_free(r);
    close(fd);
}
END_TEST

Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("session");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_hello_replies_protocol_and_server);
    tcase_add_test(tc, test_request_before_hello_is_unauthenticated);
    tcase_add_test(tc, test_hello_bad_protocol_closes);
    tcase_add_test(tc, test_hello_bad_tenant_closes);
    tcase_add_test(tc, test_second_hello_is_refused);
    tcase_add_test(tc, test_tenants_cannot_see_each_other);
    tcase_add_test(tc, test_pipelined_pings_and_ops_answer_in_order);
    tcase_add_test(tc, test_stats_count_requests);
    suite_add_tcase(s, tc);
    return s;
}
