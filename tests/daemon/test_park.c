/* tests/daemon/test_park.c - kmap waiting for a pkmap slot (Op.wait_ms).
 *
 * KERNEL: mm/highmem.c map_new_virtual() sleeps on pkmap_map_wait when no
 * slot is free, and kunmap_high() wakes it when a count drops to 1.  The
 * daemon parks such a kmap on its machine, keeps serving the connection,
 * and retries when a kunmap reports MM_RES_WAKE.
 */
#include "check_daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPAGES 520                      /* more than LAST_PKMAP (512) */

static struct tdaemon d;
static int fd;
static uint64_t m;
static uint32_t pfns[NPAGES];
static size_t nmapped;                  /* pfns[0..nmapped) are kmapped */
static uint32_t spare;                  /* a page that found no slot */
static char full_msg[256];              /* the engine's WOULD_BLOCK text */

static Armmap__V1__Response *batch(int code, const uint32_t *args, size_t nargs,
                                   size_t n, bool stop)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    Armmap__V1__Op *ops = calloc(n, sizeof(*ops)),
                   **opp = calloc(n, sizeof(*opp));
    Armmap__V1__Response *r;
    size_t i;

    ck_assert(ops != NULL && opp != NULL);
    for (i = 0; i < n; i++) {
        armmap__v1__op__init(&ops[i]);
        ops[i].code = (Armmap__V1__OpCode)code;
        ops[i].n_args = nargs;
        ops[i].args = (uint32_t *)(nargs == 1 ? &args[i] : args);
        opp[i] = &ops[i];
    }
    b.machine = m;
    b.n_ops = n;
    b.ops = opp;
    b.stop_on_error = stop;
    req.id = 7;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    r = td_call(fd, &req);
    free(ops);
    free(opp);
    return r;
}

static void setup(void)
{
    uint32_t alloc[2] = { 2, 0 };
    Armmap__V1__Response *r;
    size_t i;

    fd = td_session(&d, "park");
    m = td_create(fd, "qemu-virt", NULL);
    r = batch(ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2, NPAGES, true);
    ck_assert_status(r, 7, 0, "");
    ck_assert_uint_eq(r->batch->n_results, NPAGES);
    for (i = 0; i < NPAGES; i++)
        pfns[i] = r->batch->results[i]->value;
    td_free(r);
    r = batch(ARMMAP__V1__OP_CODE__OP_KMAP, pfns, 1, NPAGES, true);
    ck_assert_status(r, 7, 0, "");
    nmapped = r->batch->n_results - 1;
    /* KERNEL: LAST_PKMAP = 512 slots; the search wraps to slot 0. */
    ck_assert_uint_eq(nmapped, 512);
    ck_assert_int_eq(r->batch->results[nmapped]->status->code,
                     ARMMAP__V1__CODE__WOULD_BLOCK);
    snprintf(full_msg, sizeof(full_msg), "%s",
             r->batch->results[nmapped]->status->message);
    spare = pfns[nmapped];
    td_free(r);
}

static void teardown(void)
{
    close(fd);
}

/* One daemon for the case; every test fills the pkmap of its own machine. */
static void start_daemon(void)
{
    td_init(&d);
    td_start(&d, NULL);
}

static void stop_daemon(void)
{
    td_cleanup(&d);
}

START_TEST(test_kmap_without_wait_would_block)
{
    Armmap__V1__Response *r = td_op(fd, 10, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0,
                                     &spare, 1, 0);

    ck_assert_status(r, 10, ARMMAP__V1__CODE__WOULD_BLOCK, full_msg);
    ck_assert_ptr_nonnull(strstr(full_msg, "kmap"));
    td_free(r);
}
END_TEST

START_TEST(test_parked_kmap_completes_after_kunmap_elsewhere)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;
    Armmap__V1__Response *r;
    int other = td_session(&d, "park");
    uint32_t va, pa;
    uint8_t fault;

    op.machine = m;
    op.code = ARMMAP__V1__OP_CODE__OP_KMAP;
    op.n_args = 1;
    op.args = &spare;
    op.wait_ms = 10000;
    req.id = 11;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    td_send(fd, &req);
    /* The connection keeps serving while the kmap waits. */
    req.id = 12;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &p;
    r = td_call(fd, &req);
    ck_assert_status(r, 12, 0, "");
    td_free(r);
    /* Another connection releases one page: the waiter gets a slot. */
    r = td_op(other, 13, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &pfns[5], 1, 0);
    ck_assert_status(r, 13, 0, "");
    ck_assert_uint_eq(r->op->flags & 2, 2);
    td_free(r);
    r = td_recv(fd);
    ck_assert_status(r, 11, 0, "");
    va = r->op->value;
    ck_assert_uint_ge(va, 0xbfe00000);
    ck_assert_uint_lt(va, 0xc0000000);
    td_free(r);
    td_translate(fd, m, &va, 1, &pa, &fault);
    ck_assert_uint_eq(fault, 0);
    ck_assert_uint_eq(pa, spare << 12);
    close(other);
}
END_TEST

START_TEST(test_parked_kmap_times_out_with_would_block)
{
    Armmap__V1__Response *r = td_op(fd, 14, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0,
                                     &spare, 1, 200);

    ck_assert_status(r, 14, ARMMAP__V1__CODE__WOULD_BLOCK, full_msg);
    td_free(r);
}
END_TEST

START_TEST(test_parked_kmap_of_closed_connection_is_cancelled)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Stats st = ARMMAP__V1__STATS__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Response *r;
    int other = td_session(&d, "park");

    op.machine = m;
    op.code = ARMMAP__V1__OP_CODE__OP_KMAP;
    op.n_args = 1;
    op.args = &spare;
    op.wait_ms = 10000;
    req.id = 15;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    td_send(other, &req);
    usleep(100000);
    req.body_case = ARMMAP__V1__REQUEST__BODY_STATS;
    req.stats = &st;
    r = td_call(fd, &req);
    ck_assert_uint_eq(r->stats->parked_kmaps, 1);
    td_free(r);
    close(other);
    usleep(100000);
    r = td_call(fd, &req);
    ck_assert_uint_eq(r->stats->parked_kmaps, 0);
    td_free(r);
    /* The slot freed later goes to nobody: the page stays unmapped. */
    r = td_op(fd, 16, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &pfns[0], 1, 0);
    ck_assert_status(r, 16, 0, "");
    td_free(r);
    r = td_op(fd, 17, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &spare, 1, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
}
END_TEST

START_TEST(test_kunmap_on_same_connection_answers_before_the_waiter)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Response *r;

    op.machine = m;
    op.code = ARMMAP__V1__OP_CODE__OP_KMAP;
    op.n_args = 1;
    op.args = &spare;
    op.wait_ms = 10000;
    req.id = 21;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    td_send(fd, &req);
    op.code = ARMMAP__V1__OP_CODE__OP_KUNMAP;
    op.args = &pfns[9];
    op.wait_ms = 0;
    req.id = 22;
    td_send(fd, &req);
    r = td_recv(fd);
    ck_assert_status(r, 22, 0, "");
    ck_assert_uint_eq(r->op->seq, NPAGES + nmapped + 1);
    td_free(r);
    r = td_recv(fd);
    ck_assert_status(r, 21, 0, "");
    ck_assert_uint_eq(r->op->seq, NPAGES + nmapped + 2);
    td_free(r);
}
END_TEST

Suite *park_suite(void)
{
    Suite *s = suite_create("park");
    TCase *tc = tcase_create("park");

    tcase_add_unchecked_fixture(tc, start_daemon, stop_daemon);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_kmap_without_wait_would_block);
    tcase_add_test(tc, test_parked_kmap_completes_after_kunmap_elsewhere);
    tcase_add_test(tc,
                   test_kunmap_on_same_connection_answers_before_the_waiter);
    tcase_add_test(tc, test_parked_kmap_times_out_with_would_block);
    tcase_add_test(tc, test_parked_kmap_of_closed_connection_is_cancelled);
    suite_add_tcase(s, tc);
    return s;
}
