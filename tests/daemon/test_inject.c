/* tests/daemon/test_inject.c - commits that fail at random points.
 *
 * The store's test hook ARMMAPD_TEST_FAIL_COMMITS="SEED:PERMILLE" makes
 * its writer fail that share of its group commits (rolled back and
 * reported as a failing disk would be).  Clients on two connections
 * pipeline single changes and Batches into three machines; every reply is
 * OK or UNAVAILABLE, and the seqs answered OK per machine run 1, 2, 3...
 * Then the daemon restarts without the hook: every machine must recover
 * (none broken) at exactly its last answered seq, hold every answered
 * change (its event count equals that seq: no gap), take new changes, and
 * armmapd --verify must find nothing.  The seed is printed, and
 * INJECT_SEED=N repeats a run.
 */
#include "check_daemon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MACHINES        3
#define ROUNDS          3000            /* requests, at full length */
#define ROUNDS_OPS      10000           /* ARMMAP_RANDOM_OPS of full length */
#define WINDOW          20              /* pipelined at a time */

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    unsetenv("ARMMAPD_TEST_FAIL_COMMITS");
    if (d.pid > 0)
        td_stop(&d);
    td_cleanup(&d);
}

/* Requests per run: ROUNDS, or a share of them when ARMMAP_RANDOM_OPS
 * (the length make check gives the randomized engine sequences) is below
 * ROUNDS_OPS: make check's sanitizer build (2,500) sends 760 (a quarter,
 * rounded up to whole windows), its plain build and check-full all 3,000.  Every run keeps
 * its random seed, failure share and restart checks. */
static int rounds(void)
{
    const char *env = getenv("ARMMAP_RANDOM_OPS");
    long ops = env != NULL ? atol(env) : 0;

    if (ops <= 0 || ops >= ROUNDS_OPS)
        return ROUNDS;
    return (int)((ROUNDS * ops / ROUNDS_OPS + WINDOW - 1) / WINDOW * WINDOW);
}

/* Checks a reply to a change on a machine whose answered seqs end at
 * *@last; returns how many changes it answered OK. */
static uint64_t take_reply(int fd, uint64_t id, uint64_t *last)
{
    Armmap__V1__Response *r = td_recv(fd);
    uint64_t n = 0;
    size_t i;

    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->id, id);
    if (r->status->code != 0) {
        ck_assert_msg(r->status->code == ARMMAP__V1__CODE__UNAVAILABLE,
                      "%" PRIu64 ": %s", id, r->status->message);
    } else if (r->body_case == ARMMAP__V1__RESPONSE__BODY_OP) {
        ck_assert_uint_eq(r->op->seq, *last + 1);
        *last = r->op->seq;
        n = 1;
    } else {
        for (i = 0; i < r->batch->n_results; i++) {
            ck_assert_uint_eq(r->batch->results[i]->seq, *last + 1);
            *last = r->batch->results[i]->seq;
        }
        n = r->batch->n_results;
    }
    td_free(r);
    return n;
}

START_TEST(test_random_commit_failures_lose_and_break_nothing)
{
    const char *env = getenv("INJECT_SEED");
    unsigned seed = env != NULL ? (unsigned)strtoul(env, NULL, 10)
                                : (unsigned)time(NULL) ^ (unsigned)getpid();
    uint64_t m[MACHINES], last[MACHINES] = { 0 }, ok = 0, id;
    unsigned rnd = seed;
    char hook[64], out[4096], sd[300];
    Armmap__V1__Response *r;
    int fd[2], i, k, n_rounds;

    fprintf(stderr, "inject: INJECT_SEED=%u\n", seed);
    snprintf(hook, sizeof(hook), "%u:%u", seed, 150 + seed % 300);
    setenv("ARMMAPD_TEST_FAIL_COMMITS", hook, 1);
    td_start(&d, NULL);
    unsetenv("ARMMAPD_TEST_FAIL_COMMITS");
    fd[0] = td_session(&d, "alice");
    fd[1] = td_session(&d, "alice");
    for (k = 0; k < MACHINES; k++) {
        /* A creation may fail too: retry until one commits. */
        for (i = 0; i < 100; i++) {
            Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
            Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;

            cr.preset = (char *)"qemu-virt";
            req.id = 2;
            req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
            req.create = &cr;
            r = td_call(fd[0], &req);
            if (r->status->code == 0)
                break;
            ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__UNAVAILABLE);
            td_free(r);
        }
        ck_assert_int_lt(i, 100);
        m[k] = r->machine->id;
        td_free(r);
    }
    /* Each connection owns machines: 0 drives m[0], 1 drives m[1], m[2]
     * (answers per machine come back in order on one connection). */
    n_rounds = rounds();
    fprintf(stderr, "inject: %d requests\n", n_rounds);
    for (i = 0, id = 100; i < n_rounds; i += WINDOW) {
        uint64_t qid[2][WINDOW];
        int qm[2][WINDOW], n[2] = { 0, 0 }, j, f;

        /* A window of pipelined requests, then their answers. */
        for (j = 0; j < WINDOW; j++, id++) {
            int c = (int)(rand_r(&rnd) % MACHINES);

            f = c == 0 ? 0 : 1;
            if (rand_r(&rnd) % 4 == 0)
                td_send_flush_batch(fd[f], id, m[c], 1 + rand_r(&rnd) % 64);
            else
                td_op_send(fd[f], id, m[c],
                           ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
            qid[f][n[f]] = id;
            qm[f][n[f]++] = c;
        }
        for (f = 0; f < 2; f++)
            for (j = 0; j < n[f]; j++)
                ok += take_reply(fd[f], qid[f][j], &last[qm[f][j]]);
    }
    ck_assert_uint_gt(ok, 0);
    ck_assert_msg(strstr(td_log(&d), "UNAVAILABLE: injected commit failure "
                         "(ARMMAPD_TEST_FAIL_COMMITS)") != NULL, "%s",
                  td_log(&d));
    close(fd[0]);
    close(fd[1]);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    snprintf(sd, sizeof(sd), "--state-dir=%s", d.dir);
    ck_assert_msg(td_run(out, sizeof(out), sd, "--verify", NULL) == 0, "%s",
                  out);
    td_start(&d, NULL);
    ck_assert_msg(strstr(td_log(&d), "(0 broken)") != NULL, "%s",
                  td_log(&d));
    fd[0] = td_session(&d, "alice");
    for (k = 0; k < MACHINES; k++) {
        Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
        Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

        ref.machine = m[k];
        req.id = 3;
        req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
        req.describe = &ref;
        r = td_call(fd[0], &req);
        ck_assert_status(r, 3, 0, "");
        ck_assert_str_eq(r->machine->broken, "");
        ck_assert_uint_eq(r->machine->seq, last[k]);
        ck_assert_uint_eq(r->machine->events, last[k]);
        td_free(r);
        r = td_op(fd[0], 4, m[k], ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL,
                  0, 0);
        ck_assert_status(r, 4, 0, "");
        ck_assert_uint_eq(r->op->seq, last[k] + 1);
        td_free(r);
    }
    close(fd[0]);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

Suite *inject_suite(void)
{
    Suite *s = suite_create("inject");
    TCase *tc = tcase_create("inject");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120 * spawn_time_scale());
    tcase_add_loop_test(tc, test_random_commit_failures_lose_and_break_nothing,
                        0, 3);
    suite_add_tcase(s, tc);
    return s;
}
