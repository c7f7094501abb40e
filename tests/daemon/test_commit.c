/* tests/daemon/test_commit.c - the commit path when writes fail.
 *
 * A quota (--max-db-size) makes the store's commits fail as on a full
 * disk.  Clients pipeline changes into it, Batches of thousands of ops
 * among them, and the tests check what a client may rely on:
 *  - a reply is OK or UNAVAILABLE, and UNAVAILABLE kept nothing: the seqs
 *    answered OK, in reply order, run 1, 2, 3, ... without a gap or a
 *    repeat, Batches included;
 *  - describe's seq and event count equal what the store holds;
 *  - restarted without the quota, every machine recovers (none broken) at
 *    exactly its last answered seq, and takes changes again;
 *  - one tenant filling the quota leaves another tenant's machines intact.
 */
#include "check_daemon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    if (d.pid > 0)
        td_stop(&d);
    td_cleanup(&d);
}

static Armmap__V1__Response *describe(int fd, uint64_t id, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    ref.machine = machine;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    return td_call(fd, &req);
}

/* Sends a Batch of @n kmap_flush ops (no arguments; each is a change). */
static void send_flush_batch(int fd, uint64_t id, uint64_t machine, size_t n)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    Armmap__V1__Op *ops = calloc(n, sizeof(*ops));
    Armmap__V1__Op **opp = calloc(n, sizeof(*opp));
    size_t i;

    ck_assert(ops != NULL && opp != NULL);
    for (i = 0; i < n; i++) {
        armmap__v1__op__init(&ops[i]);
        ops[i].code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
        opp[i] = &ops[i];
    }
    b.machine = machine;
    b.n_ops = n;
    b.ops = opp;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    td_send(fd, &req);
    free(ops);
    free(opp);
}

static void send_history(int fd, uint64_t id, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;

    h.machine = machine;
    h.limit = 1;
    h.newest_first = true;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    td_send(fd, &req);
}

/* Checks one reply to a change of a machine whose answered seqs so far end
 * at *@last: OK with seqs *@last + 1, ... (then *@last moves on), or
 * UNAVAILABLE from the store.  Returns true if OK. */
static bool check_change(const Armmap__V1__Response *r, uint64_t id,
                         uint64_t *last)
{
    size_t i;

    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->id, id);
    if (r->status->code != 0) {
        ck_assert_msg(r->status->code == ARMMAP__V1__CODE__UNAVAILABLE,
                      "reply %" PRIu64 ": %d %s", id, r->status->code,
                      r->status->message);
        return false;
    }
    if (r->body_case == ARMMAP__V1__RESPONSE__BODY_OP) {
        ck_assert_int_eq(r->op->status->code, 0);
        ck_assert_msg(r->op->seq == *last + 1, "reply %" PRIu64 ": seq %"
                      PRIu64 " after %" PRIu64, id, r->op->seq, *last);
        *last = r->op->seq;
        return true;
    }
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_BATCH);
    for (i = 0; i < r->batch->n_results; i++) {
        ck_assert_int_eq(r->batch->results[i]->status->code, 0);
        ck_assert_msg(r->batch->results[i]->seq == *last + 1,
                      "reply %" PRIu64 " op %zu: seq %" PRIu64 " after %"
                      PRIu64, id, i, r->batch->results[i]->seq, *last);
        *last = r->batch->results[i]->seq;
    }
    return true;
}

/* describe: not broken, at seq @seq with @seq events (no clone here). */
static void expect_machine(int fd, uint64_t machine, uint64_t seq)
{
    Armmap__V1__Response *r = describe(fd, 3, machine);

    ck_assert_status(r, 3, 0, "");
    ck_assert_str_eq(r->machine->broken, "");
    ck_assert_uint_eq(r->machine->seq, seq);
    ck_assert_uint_eq(r->machine->events, seq);
    td_free(r);
}

/* After a restart without the quota: @machine recovered at @seq and takes
 * the next change as @seq + 1. */
static void expect_recovered(int fd, uint64_t machine, uint64_t seq)
{
    Armmap__V1__Response *r;

    expect_machine(fd, machine, seq);
    r = td_op(fd, 4, machine, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0,
              0);
    ck_assert_status(r, 4, 0, "");
    ck_assert_uint_eq(r->op->seq, seq + 1);
    td_free(r);
}

/* Pipelines @nbatch Batches of @ops ops on @machine into the quota; returns
 * the last seq answered OK, after checking every reply. */
static uint64_t flood(int fd, uint64_t machine, size_t nbatch, size_t ops,
                      size_t *failed)
{
    uint64_t last = 0, id;
    Armmap__V1__Response *r;

    for (id = 100; id < 100 + nbatch; id++)
        send_flush_batch(fd, id, machine, ops);
    *failed = 0;
    for (id = 100; id < 100 + nbatch; id++) {
        r = td_recv(fd);
        if (!check_change(r, id, &last))
            (*failed)++;
        td_free(r);
    }
    return last;
}

START_TEST(test_pipelined_batches_into_quota_keep_no_part)
{
    uint64_t m, last;
    size_t failed;
    int fd;

    td_start(&d, "--max-db-size=2M", NULL);
    fd = td_session(&d, "alice");
    m = td_create(fd, "qemu-virt", NULL);
    last = flood(fd, m, 40, 4096, &failed);
    ck_assert_uint_gt(failed, 0);
    ck_assert_uint_gt(last, 0);
    ck_assert_uint_eq(last % 4096, 0);  /* whole Batches only */
    expect_machine(fd, m, last);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    ck_assert_msg(strstr(td_log(&d), "is broken") == NULL, "%s", td_log(&d));
    fd = td_session(&d, "alice");
    expect_recovered(fd, m, last);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

/* Single changes, Batches and history requests pipelined on one
 * connection with the quota at the database's size: answered seqs never
 * go back, whatever the store refused in between. */
START_TEST(test_pipelined_mixed_changes_stay_in_order)
{
    enum { ROUNDS = 300 };
    Armmap__V1__Response *r;
    uint64_t m, last = 0, id, ok = 0;
    static const uint32_t sizes[] = { 0x1000, 0x4000, 0x20000 };
    int fd, i;

    td_start(&d, "--max-db-size=1", NULL);
    fd = td_session(&d, "bob");
    m = td_create(fd, "qemu-virt", NULL);
    for (i = 0, id = 100; i < ROUNDS; i++) {
        uint32_t size = sizes[i % 3];

        td_op_send(fd, id++, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, 0, &size, 1,
                   0);
        if (i % 7 == 0)
            send_history(fd, id++, m);
        if (i % 11 == 0)
            send_flush_batch(fd, id++, m, 200);
        td_op_send(fd, id++, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0,
                   0);
    }
    for (i = 0, id = 100; i < ROUNDS; i++) {
        r = td_recv(fd);
        ok += check_change(r, id++, &last);
        td_free(r);
        if (i % 7 == 0) {
            r = td_recv(fd);
            ck_assert_uint_eq(r->id, id++);
            ck_assert_msg(r->status->code == 0, "%s", r->status->message);
            /* History includes every change answered before it. */
            if (last > 0) {
                ck_assert_uint_eq(r->history->n_events, 1);
                ck_assert_uint_eq(r->history->events[0]->seq, last);
            }
            td_free(r);
        }
        if (i % 11 == 0) {
            r = td_recv(fd);
            ok += check_change(r, id++, &last);
            td_free(r);
        }
        r = td_recv(fd);
        ok += check_change(r, id++, &last);
        td_free(r);
    }
    ck_assert_uint_gt(ok, 0);
    ck_assert_uint_lt(ok, 2 * ROUNDS + ROUNDS / 11 + 1);
    expect_machine(fd, m, last);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    ck_assert_msg(strstr(td_log(&d), "is broken") == NULL, "%s", td_log(&d));
    fd = td_session(&d, "bob");
    expect_recovered(fd, m, last);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

/* Tenant "hog" fills the quota with Batches while tenant "calm" makes
 * single changes: calm's changes are answered OK or UNAVAILABLE, and its
 * machine stays intact, before and after a restart. */
START_TEST(test_one_tenant_filling_the_quota_breaks_no_other)
{
    enum { CALM = 200 };
    Armmap__V1__Response *r;
    uint64_t hog_m, calm_m, calm_last = 0, hog_last, id;
    size_t failed;
    int hog, calm, i;

    td_start(&d, "--max-db-size=2M", NULL);
    hog = td_session(&d, "hog");
    calm = td_session(&d, "calm");
    hog_m = td_create(hog, "qemu-virt", NULL);
    calm_m = td_create(calm, "qemu-virt", NULL);
    for (i = 0; i < 10; i++) {
        r = td_op(calm, 50, calm_m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0,
                  NULL, 0, 0);
        ck_assert(check_change(r, 50, &calm_last));
        td_free(r);
    }
    for (id = 100; id < 140; id++)
        send_flush_batch(hog, id, hog_m, 4096);
    for (id = 1000; id < 1000 + CALM; id++)
        td_op_send(calm, id, calm_m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0,
                   NULL, 0, 0);
    for (id = 1000; id < 1000 + CALM; id++) {
        r = td_recv(calm);
        check_change(r, id, &calm_last);
        td_free(r);
    }
    hog_last = 0;
    failed = 0;
    for (id = 100; id < 140; id++) {
        r = td_recv(hog);
        failed += !check_change(r, id, &hog_last);
        td_free(r);
    }
    ck_assert_uint_gt(failed, 0);
    expect_machine(calm, calm_m, calm_last);
    expect_machine(hog, hog_m, hog_last);
    close(hog);
    close(calm);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    ck_assert_msg(strstr(td_log(&d), "is broken") == NULL, "%s", td_log(&d));
    calm = td_session(&d, "calm");
    expect_recovered(calm, calm_m, calm_last);
    close(calm);
    hog = td_session(&d, "hog");
    expect_recovered(hog, hog_m, hog_last);
    close(hog);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

Suite *commit_suite(void)
{
    Suite *s = suite_create("commit");
    TCase *tc = tcase_create("commit");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120 * spawn_time_scale());
    tcase_add_test(tc, test_pipelined_batches_into_quota_keep_no_part);
    tcase_add_test(tc, test_pipelined_mixed_changes_stay_in_order);
    tcase_add_test(tc, test_one_tenant_filling_the_quota_breaks_no_other);
    suite_add_tcase(s, tc);
    return s;
}
