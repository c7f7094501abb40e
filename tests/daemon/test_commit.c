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
 *  - one tenant filling the quota leaves another tenant's machines intact;
 *  - on a real full disk (a small tmpfs) the same holds, every machine works
 *    again once space is freed, and a daemon killed while the disk is full
 *    starts again on it.
 */
#define _GNU_SOURCE                     /* unshare() */
#include "check_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* describe: not broken, at seq @seq with @seq events (no clone here).  A
 * machine still being rebuilt after a failed write answers UNAVAILABLE for
 * a moment (at most 2,000 tries, more under valgrind). */
static void expect_machine(int fd, uint64_t machine, uint64_t seq)
{
    Armmap__V1__Response *r = describe(fd, 3, machine);
    int i;

    for (i = 0; i < 2000 * spawn_time_scale() && r->status->code ==
                ARMMAP__V1__CODE__UNAVAILABLE; i++) {
        td_free(r);
        usleep(5000);
        r = describe(fd, 3, machine);
    }
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
        td_send_flush_batch(fd, id, machine, ops);
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
            td_send_flush_batch(fd, id++, m, 200);
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
        td_send_flush_batch(hog, id, hog_m, 4096);
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

/* ---- a full disk: a small tmpfs under the database ------------------- */

#define BALLAST_KIB     1024            /* the disk: "size=4096k" */

static char disk[sizeof(d.dir) + 8];
static bool mounted;

static void disk_teardown(void)
{
    if (d.pid > 0)
        td_stop(&d);
    if (mounted)
        umount2(disk, MNT_DETACH);
    mounted = false;
    td_cleanup(&d);
}

/* A file of @kib KiB on the disk, written out (tmpfs allocates it). */
static void ballast(const char *name, size_t kib)
{
    char path[sizeof(disk) + 32], buf[1024];
    int fd;
    size_t i;

    snprintf(path, sizeof(path), "%s/%s", disk, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    memset(buf, 0xa5, sizeof(buf));
    for (i = 0; i < kib; i++)
        ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    close(fd);
}

/* Deletes ballast file @name: space returns. */
static void unballast(const char *name)
{
    char path[sizeof(disk) + 32];

    snprintf(path, sizeof(path), "%s/%s", disk, name);
    ck_assert_int_eq(unlink(path), 0);
}

/* Pipelines Batches on @machine until one is refused for want of space;
 * returns the last seq answered OK, continuing from @last.  At most 200
 * Batches (800,000 ops: far more than the disk holds). */
static uint64_t fill_disk(int fd, uint64_t machine, uint64_t last)
{
    enum { DEPTH = 8, OPS = 4096, MAX_BATCHES = 200 };
    uint64_t id = 100, next = 100;
    size_t failed = 0;

    while (failed == 0 && id < 100 + MAX_BATCHES) {
        Armmap__V1__Response *r;

        while (id < next + DEPTH)
            td_send_flush_batch(fd, id++, machine, OPS);
        r = td_recv(fd);
        failed += !check_change(r, next++, &last);
        td_free(r);
    }
    while (next < id) {
        Armmap__V1__Response *r = td_recv(fd);

        check_change(r, next++, &last);
        td_free(r);
    }
    ck_assert_msg(failed > 0, "the disk never filled");
    return last;
}

/* A change on @machine answered OK as seq @last + 1, waiting (at most
 * 2,000 tries, more under valgrind) while the machine is rebuilt after its
 * failed writes and answers UNAVAILABLE. */
static uint64_t change_works(int fd, uint64_t machine, uint64_t last)
{
    int i;

    for (i = 0; i < 2000 * spawn_time_scale(); i++) {
        Armmap__V1__Response *r = td_op(fd, 7, machine,
                                        ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH,
                                        0, NULL, 0, 0);
        bool ok = check_change(r, 7, &last);

        td_free(r);
        if (ok)
            return last;
        usleep(5000);
    }
    ck_abort_msg("machine %" PRIu64 " still refuses changes", machine);
    return 0;
}

/* The disk fills under two tenants' load and frees: both machines work
 * again.  It fills again, the daemon is killed with SIGKILL, and a daemon
 * started on the full disk serves both machines at their answered seqs;
 * once space returns (the tmpfs grown) they take changes again, and after
 * a restart hold exactly their answered changes. */
START_TEST(test_full_disk_fills_frees_and_restarts)
{
    char db[sizeof(disk) + 32], dbopt[sizeof(db) + 16];
    uint64_t a_m, b_m, a_last = 0, b_last = 0;
    int a, b, status;

    snprintf(disk, sizeof(disk), "%s/disk", d.dir);
    ck_assert_int_eq(mkdir(disk, 0700), 0);
    /* In a mount namespace of this test's own (the daemons it starts
     * share it), so the tmpfs goes away with them even if the test is
     * killed before its teardown. */
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", disk, "tmpfs", 0, "size=4096k") != 0) {
        /* Not root or no mount namespace: nothing to fill for real. */
        fprintf(stderr, "full disk: cannot mount a tmpfs (%s); skipped\n",
                strerror(errno));
        return;
    }
    mounted = true;
    ballast("ballast1", BALLAST_KIB);
    snprintf(db, sizeof(db), "%s/armmapd.db", disk);
    snprintf(dbopt, sizeof(dbopt), "--database=%s", db);

    td_start(&d, dbopt, NULL);
    a = td_session(&d, "alice");
    b = td_session(&d, "bob");
    a_m = td_create(a, "qemu-virt", NULL);
    b_m = td_create(b, "qemu-virt", NULL);
    b_last = change_works(b, b_m, b_last);
    a_last = fill_disk(a, a_m, a_last);
    expect_machine(a, a_m, a_last);
    expect_machine(b, b_m, b_last);

    unballast("ballast1");              /* space returns */
    a_last = change_works(a, a_m, a_last);
    b_last = change_works(b, b_m, b_last);
    expect_machine(a, a_m, a_last);
    expect_machine(b, b_m, b_last);

    a_last = fill_disk(a, a_m, a_last);  /* full again, then kill -9 */
    close(a);
    close(b);
    ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(d.pid, &status, 0), d.pid);
    d.pid = 0;

    td_start(&d, dbopt, NULL);          /* on the full disk */
    ck_assert_msg(strstr(td_log(&d), "is broken") == NULL, "%s", td_log(&d));
    a = td_session(&d, "alice");
    b = td_session(&d, "bob");
    expect_machine(a, a_m, a_last);
    expect_machine(b, b_m, b_last);

    /* Space returns as a larger disk: the WAL the full disk left is
     * copied into the database file at the next stop, which needs more
     * than one ballast's worth. */
    ck_assert_msg(mount("tmpfs", disk, "tmpfs", MS_REMOUNT, "size=32m") == 0,
                  "remount: %s", strerror(errno));
    a_last = change_works(a, a_m, a_last);
    b_last = change_works(b, b_m, b_last);
    close(a);
    close(b);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, dbopt, NULL);
    ck_assert_msg(strstr(td_log(&d), "is broken") == NULL, "%s", td_log(&d));
    a = td_session(&d, "alice");
    expect_recovered(a, a_m, a_last);
    close(a);
    b = td_session(&d, "bob");
    expect_recovered(b, b_m, b_last);
    close(b);
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
    tc = tcase_create("full-disk");
    tcase_add_checked_fixture(tc, setup, disk_teardown);
    tcase_set_timeout(tc, 120 * spawn_time_scale());
    tcase_add_test(tc, test_full_disk_fills_frees_and_restarts);
    suite_add_tcase(s, tc);
    return s;
}
