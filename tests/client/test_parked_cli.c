/* tests/client/test_parked_cli.c - parked kmaps in armmap_describe() and in
 * `armmap describe`, text and JSON.
 *
 * KERNEL: mm/highmem.c map_new_virtual() sleeps when every pkmap slot is
 * pinned; the daemon parks such a kmap (wait_ms) and describe lists it.
 * One connection fills the window of an aries, another parks a kmap; the
 * CLI, a third client, sees it waiting until a kunmap wakes it.
 */
#include "check_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN(...) tc_armmap(tc_d.sock, NULL, 0, __VA_ARGS__, (char *)NULL)

/* Checks exit 0 and that stdout contains @part. */
static void expect_out(struct trun r, const char *part)
{
    ck_assert_msg(r.status == 0 && strstr(r.out, part) != NULL,
                  "exit %d; '%s' not in: %s; stderr: %s", r.status, part,
                  r.out, r.err);
    tc_run_free(&r);
}

/* kmaps @n highmem pages from @base in one batch; asserts all mapped. */
static void kmap_all(struct armmap_conn *c, uint64_t m, uint32_t base,
                     size_t n)
{
    struct armmap_op *ops = calloc(n, sizeof(*ops));
    struct armmap_op_result *res = calloc(n, sizeof(*res));
    uint32_t *pfn = calloc(n, sizeof(*pfn));
    size_t i, got;

    ck_assert(ops != NULL && res != NULL && pfn != NULL);
    for (i = 0; i < n; i++) {
        pfn[i] = base + (uint32_t)i;
        ops[i].code = ARMMAP_OP_KMAP;
        ops[i].nargs = 1;
        ops[i].args = &pfn[i];
    }
    ck_assert_int_eq(armmap_batch(c, m, ops, n, true, res, &got), ARMMAP_OK);
    ck_assert_uint_eq(got, n);
    free(ops);
    free(res);
    free(pfn);
}

/* Describes @m until it shows @want parked kmaps (bounded: 10 s). */
static struct armmap_machine *describe_until(struct armmap_conn *c,
                                             uint64_t m, uint32_t want)
{
    struct armmap_machine *d = NULL;

    for (int i = 0; i < 5000; i++) {
        ck_assert_int_eq(armmap_describe(c, m, &d), ARMMAP_OK);
        if (d->parked_kmaps == want)
            return d;
        armmap_machine_free(d);
        usleep(2000);
    }
    ck_abort_msg("machine %llu never had %u parked kmaps",
                 (unsigned long long)m, want);
    return NULL;
}

START_TEST(test_describe_lists_parked_kmap)
{
    struct armmap_conn *a = tc_connect(), *b = tc_connect();
    uint64_t m = tc_create(a, "aries"), id, ping;
    struct armmap_op_result r;
    struct armmap_machine *d;
    struct armmap_reply *rep;
    struct armmap_op op;
    uint32_t base, extra;

    ck_assert_int_eq(armmap_alloc(a, m, ARMMAP_ZONE_HIGHMEM, 9, &r), ARMMAP_OK);
    base = r.value;
    kmap_all(a, m, base, 512);
    ck_assert_int_eq(armmap_alloc(a, m, ARMMAP_ZONE_HIGHMEM, 0, &r), ARMMAP_OK);
    extra = r.value;
    ck_assert_uint_eq(base, 0xff000);
    ck_assert_uint_eq(extra, 0xff2fe);
    d = describe_until(a, m, 0);
    ck_assert_ptr_null(d->parked);
    armmap_machine_free(d);
    expect_out(RUN("describe", "1"), "parked kmaps:  0\n");
    memset(&op, 0, sizeof(op));
    op.code = ARMMAP_OP_KMAP;
    op.cpu = 1;
    op.nargs = 1;
    op.args = &extra;
    op.wait_ms = 20000;
    ck_assert_int_eq(armmap_send_op(b, m, &op, &id), ARMMAP_OK);
    /* The ping behind it is answered first once the kmap is parked. */
    ck_assert_int_eq(armmap_send_ping(b, &ping), ARMMAP_OK);
    ck_assert_int_eq(armmap_recv(b, &rep), ARMMAP_OK);
    ck_assert_uint_eq(rep->id, ping);
    armmap_reply_free(rep);
    d = describe_until(a, m, 1);
    ck_assert_uint_eq(d->parked[0].pfn, 0xff2fe);
    ck_assert_uint_eq(d->parked[0].cpu, 1);
    armmap_machine_free(d);
    expect_out(RUN("describe", "1"),
               "parked kmaps:  1: pfn 0xff2fe cpu 1\n");
    expect_out(RUN("describe", "1", "--json"),
               ",\"parked_kmaps\":1,\"parked\":[{\"pfn\":\"0xff2fe\","
               "\"cpu\":1}]}\n");
    /* A kunmap wakes it: nothing waits any more. */
    ck_assert_int_eq(armmap_kunmap(a, m, base + 4, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_recv(b, &rep), ARMMAP_OK);
    ck_assert_uint_eq(rep->id, id);
    ck_assert_int_eq(rep->status, ARMMAP_OK);
    armmap_reply_free(rep);
    expect_out(RUN("describe", "1"), "parked kmaps:  0\n");
    expect_out(RUN("describe", "1", "--json"),
               ",\"parked_kmaps\":0,\"parked\":[]}\n");
    armmap_close(a);
    armmap_close(b);
}
END_TEST

Suite *parked_cli_suite(void)
{
    Suite *s = suite_create("parked_cli");
    TCase *tc = tcase_create("parked_cli");

    tcase_add_checked_fixture(tc, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_describe_lists_parked_kmap);
    suite_add_tcase(s, tc);
    return s;
}
