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
#include <sys/socket.h>
#include <unistd.h>

#define NPAGES 520                      /* more than LAST_PKMAP (512) */

static char tenant[48];                 /* this test's (td_tenant_name) */
static int fd;
static uint64_t m;
static uint32_t pfns[NPAGES];
static size_t nmapped;                  /* pfns[0..nmapped) are kmapped */
static uint32_t spare;                  /* a page that found no slot */
static char full_msg[256];              /* the engine's WOULD_BLOCK text */

static void setup(void)
{
    Armmap__V1__Response *r;

    fd = td_session(&td_shared, td_tenant_name("park", tenant,
                                                sizeof(tenant)));
    m = td_create(fd, "qemu-virt", NULL);
    td_alloc_highmem(fd, m, pfns, NPAGES);
    r = td_batch(fd, 7, m, ARMMAP__V1__OP_CODE__OP_KMAP, pfns, 1, NPAGES, true);
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
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;
    Armmap__V1__Response *r;
    int other = td_session(&td_shared, tenant);
    uint32_t va, pa;
    uint8_t fault;

    td_op_send(fd, 11, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0, &spare, 1, 10000);
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

/* The daemon's count of parked kmaps, asked over @fd (@id for the request). */
static uint64_t parked_kmaps(int fd_, uint64_t id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Stats st = ARMMAP__V1__STATS__INIT;
    Armmap__V1__Response *r;
    uint64_t n;

    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_STATS;
    req.stats = &st;
    r = td_call(fd_, &req);
    ck_assert_status(r, id, 0, "");
    n = r->stats->parked_kmaps;
    td_free(r);
    return n;
}

/* A new connection whose kmap of the spare page (request @kmap_id) is
 * parked: a ping (@ping_id) behind it is answered first once the kmap is
 * parked (replies otherwise leave in request order), and Stats over fd
 * (@stats_id) count one parked kmap.  Returns the connection. */
static int park_on_new_connection(uint64_t kmap_id, uint64_t ping_id,
                                  uint64_t stats_id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;
    Armmap__V1__Response *r;
    int other = td_session(&td_shared, tenant);

    td_op_send(other, kmap_id, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0, &spare, 1,
               10000);
    req.id = ping_id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &p;
    r = td_call(other, &req);
    ck_assert_status(r, ping_id, 0, "");
    td_free(r);
    ck_assert_uint_eq(parked_kmaps(fd, stats_id), 1);
    return other;
}

START_TEST(test_parked_kmap_of_closed_connection_is_cancelled)
{
    Armmap__V1__Response *r;
    int i;
    uint64_t parked;

    close(park_on_new_connection(15, 16, 15));
    /* The daemon cancels the park when it sees the close. */
    parked = 1;
    for (i = 0; i < 1000 * spawn_time_scale() && parked != 0; i++) {
        usleep(2000);
        parked = parked_kmaps(fd, 15);
    }
    ck_assert_uint_eq(parked, 0);
    /* The slot freed later goes to nobody: the page stays unmapped. */
    r = td_op(fd, 16, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &pfns[0], 1, 0);
    ck_assert_status(r, 16, 0, "");
    td_free(r);
    r = td_op(fd, 17, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &spare, 1, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
}
END_TEST

/* A client that shuts down its end while its kmap is parked is answered
 * WOULD_BLOCK saying why, then the daemon closes; the park is gone. */
START_TEST(test_parked_kmap_answered_when_client_shuts_down)
{
    Armmap__V1__Response *r;
    int other = park_on_new_connection(18, 19, 20);
    char want[320];

    ck_assert_int_eq(shutdown(other, SHUT_WR), 0);
    r = td_recv(other);
    ck_assert_ptr_nonnull(r);
    snprintf(want, sizeof(want), "%s (the client closed its end)", full_msg);
    ck_assert_status(r, 18, ARMMAP__V1__CODE__WOULD_BLOCK, want);
    td_free(r);
    ck_assert_ptr_null(td_recv(other));
    close(other);
    ck_assert_uint_eq(parked_kmaps(fd, 21), 0);
}
END_TEST

START_TEST(test_kunmap_on_same_connection_answers_before_the_waiter)
{
    Armmap__V1__Response *r;

    td_op_send(fd, 21, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0, &spare, 1, 10000);
    td_op_send(fd, 22, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &pfns[9], 1, 0);
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

    /* One daemon for the case; every test fills the pkmap of its own
     * machine, as a tenant of its own. */
    tcase_add_unchecked_fixture(tc, td_shared_setup, td_shared_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_kmap_without_wait_would_block);
    tcase_add_test(tc, test_parked_kmap_completes_after_kunmap_elsewhere);
    tcase_add_test(tc,
                   test_kunmap_on_same_connection_answers_before_the_waiter);
    tcase_add_test(tc, test_parked_kmap_times_out_with_would_block);
    tcase_add_test(tc, test_parked_kmap_of_closed_connection_is_cancelled);
    tcase_add_test(tc, test_parked_kmap_answered_when_client_shuts_down);
    suite_add_tcase(s, tc);
    return s;
}
