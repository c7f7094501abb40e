/* tests/daemon/test_checkpoint.c - replay starts from checkpoints.
 *
 * With --checkpoint-every=1000 the daemon saves a machine's engine state
 * each time its seq crosses a multiple of 1,000, and every clone's state
 * at its creation.  Recovery then replays only the events after the
 * nearest checkpoint (the log's "from N events" counts what was
 * replayed), and the machines come back exactly as they were.  A damaged
 * checkpoint is skipped with a warning: the events are the truth.
 */
#include "check_daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

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

/* @n ops in one Batch: a vmalloc of one page every 50th op, else
 * kmap_flush.  Asserts every op succeeded. */
static void batch_ok(int fd, uint64_t machine, size_t n)
{
    static const uint32_t page = 0x1000;
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    Armmap__V1__Op *ops = calloc(n, sizeof(*ops));
    Armmap__V1__Op **opp = calloc(n, sizeof(*opp));
    Armmap__V1__Response *r;
    size_t i;

    ck_assert(ops != NULL && opp != NULL);
    for (i = 0; i < n; i++) {
        armmap__v1__op__init(&ops[i]);
        if (i % 50 == 0) {
            ops[i].code = ARMMAP__V1__OP_CODE__OP_VMALLOC;
            ops[i].n_args = 1;
            ops[i].args = (uint32_t *)&page;
        } else {
            ops[i].code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
        }
        opp[i] = &ops[i];
    }
    b.machine = machine;
    b.n_ops = n;
    b.ops = opp;
    req.id = 7;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    r = td_call(fd, &req);
    ck_assert_status(r, 7, 0, "");
    for (i = 0; i < n; i++)
        ck_assert_int_eq(r->batch->results[i]->status->code, 0);
    td_free(r);
    free(ops);
    free(opp);
}

static Armmap__V1__Response *describe(int fd, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    ref.machine = machine;
    req.id = 3;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    return td_call(fd, &req);
}

/* What describe says of a machine's state, as one comparable line. */
static void state_line(int fd, uint64_t machine, char *out, size_t size)
{
    Armmap__V1__Response *r = describe(fd, machine);

    ck_assert_status(r, 3, 0, "");
    ck_assert_str_eq(r->machine->broken, "");
    snprintf(out, size, "seq %llu events %llu vmalloc %u/%u pte %u pkmap %u",
             (unsigned long long)r->machine->seq,
             (unsigned long long)r->machine->events,
             r->machine->vmalloc_areas, r->machine->vmalloc_pages,
             r->machine->pte_pages, r->machine->pkmap_in_use);
    td_free(r);
}

static uint64_t clone_of(int fd, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone cl = ARMMAP__V1__CLONE__INIT;
    Armmap__V1__Response *r;
    uint64_t id;

    cl.machine = machine;
    req.id = 9;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    req.clone = &cl;
    r = td_call(fd, &req);
    ck_assert_status(r, 9, 0, "");
    id = r->machine->id;
    td_free(r);
    return id;
}

/* Starts the daemon with @flag and gives tenant alice (on *@fd) a
 * qemu-virt machine of 2,500 events (seqs 1..2500); returns its id. */
static uint64_t start_with_2500(const char *flag, int *fd)
{
    uint64_t src;
    int i;

    td_start(&d, flag, NULL);
    *fd = td_session(&d, "alice");
    src = td_create(*fd, "qemu-virt", NULL);
    for (i = 0; i < 5; i++)
        batch_ok(*fd, src, 500);
    return src;
}

START_TEST(test_recovery_replays_from_checkpoints)
{
    char before[2][200], after[2][200], path[400];
    uint64_t src, cl;
    sqlite3 *db;
    int fd;

    src = start_with_2500("--checkpoint-every=1000", &fd);
    cl = clone_of(fd, src);             /* at 2500, with a checkpoint */
    batch_ok(fd, cl, 3);
    state_line(fd, src, before[0], sizeof(before[0]));
    state_line(fd, cl, before[1], sizeof(before[1]));
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, "--checkpoint-every=1000", NULL);
    /* 500 events after the checkpoint at 2000, and the clone's own 3. */
    ck_assert_msg(strstr(td_log(&d), "recovered 2 machines (0 broken) from "
                         "503 events") != NULL, "%s", td_log(&d));
    fd = td_session(&d, "alice");
    state_line(fd, src, after[0], sizeof(after[0]));
    state_line(fd, cl, after[1], sizeof(after[1]));
    ck_assert_str_eq(after[0], before[0]);
    ck_assert_str_eq(after[1], before[1]);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    /* A damaged checkpoint is skipped: full replay, same state. */
    snprintf(path, sizeof(path), "%s/armmapd.db", d.dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "UPDATE checkpoints SET blob ="
                                  " blob || x'00' WHERE seq = 2000", NULL,
                                  NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    td_start(&d, NULL);
    ck_assert_msg(strstr(td_log(&d), "checkpoint at seq 2000 fails its "
                         "checksum") != NULL &&
                  strstr(td_log(&d), "replaying its events instead") != NULL,
                  "%s", td_log(&d));
    fd = td_session(&d, "alice");
    state_line(fd, src, after[0], sizeof(after[0]));
    ck_assert_str_eq(after[0], before[0]);
    close(fd);
}
END_TEST

/* --checkpoint-every=0 means never: no periodic checkpoint is written and
 * recovery replays every event (a clone still gets its own at creation). */
START_TEST(test_checkpoint_every_zero_means_never)
{
    char before[200], after[200], path[400];
    sqlite3_stmt *st;
    uint64_t src;
    sqlite3 *db;
    int fd;

    src = start_with_2500("--checkpoint-every=0", &fd);
    state_line(fd, src, before, sizeof(before));
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    snprintf(path, sizeof(path), "%s/armmapd.db", d.dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM"
                                        " checkpoints", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);

    td_start(&d, "--checkpoint-every=0", NULL);
    ck_assert_msg(strstr(td_log(&d), "recovered 1 machines (0 broken) from "
                         "2500 events") != NULL, "%s", td_log(&d));
    fd = td_session(&d, "alice");
    state_line(fd, src, after, sizeof(after));
    ck_assert_str_eq(after, before);
    close(fd);
}
END_TEST

/* Waits (bounded) until @path exists. */
static bool wait_file(const char *path)
{
    struct timespec ms = { 0, 1000000 };
    int i;

    for (i = 0; i < 20000 * spawn_time_scale(); i++) {
        if (access(path, F_OK) == 0)
            return true;
        nanosleep(&ms, NULL);
    }
    return false;
}

/* A fork that must replay runs on a worker thread, not on the loop: a
 * ping on a second connection is answered while it runs.  The replay
 * waits at a gate (the test hook ARMMAPD_TEST_FORK_GATE: it creates
 * GATE.started, then waits for GATE) until the ping was answered, so the
 * order is certain, not timed. */
START_TEST(test_fork_replay_leaves_the_loop_free)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    Armmap__V1__Response *r;
    char gate[300], started[320], want[200], got[200];
    struct pollfd pfd;
    uint64_t src, f;
    int fa, fb, fd, i;

    snprintf(gate, sizeof(gate), "%s/gate", d.dir);
    snprintf(started, sizeof(started), "%s/gate.started", d.dir);
    setenv("ARMMAPD_TEST_FORK_GATE", gate, 1);
    td_start(&d, "--checkpoint-every=1000", NULL);
    unsetenv("ARMMAPD_TEST_FORK_GATE");
    fa = td_session(&d, "alice");
    src = td_create(fa, "qemu-virt", NULL);
    for (i = 0; i < 4; i++)
        batch_ok(fa, src, 500);         /* seqs 1..2000 */
    state_line(fa, src, want, sizeof(want));
    batch_ok(fa, src, 500);             /* seqs 2001..2500 */

    fk.machine = src;
    fk.at_seq = 2000 - 1;               /* checkpoint 1000 + 999 events */
    req.id = 11;
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &fk;
    td_send(fa, &req);
    ck_assert_msg(wait_file(started), "the fork's replay never started on "
                  "a worker: %s", td_log(&d));
    fb = td_session(&d, "alice");
    td_ping(fb, 12);
    /* Held at the gate: no answer yet. */
    pfd.fd = fa;
    pfd.events = POLLIN;
    pfd.revents = 0;
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    fd = open(gate, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    r = td_recv(fa);
    ck_assert_status(r, 11, 0, "");
    ck_assert_uint_eq(r->machine->seq, 1999);
    f = r->machine->id;
    td_free(r);
    /* Seq 2000 was a kmap_flush: the state at 1999 is the state at 2000
     * but for the seq. */
    state_line(fa, f, got, sizeof(got));
    ck_assert_str_eq(strstr(got, " vmalloc"), strstr(want, " vmalloc"));
    ck_assert_uint_eq(strtoull(got + 4, NULL, 10), 1999);
    close(fb);
    close(fa);
}
END_TEST

/* Polls the daemon's log for @text (bounded). */
static bool wait_log(struct tdaemon *t, const char *text)
{
    struct timespec ms = { 0, 1000000 };
    int i;

    for (i = 0; i < 20000 * spawn_time_scale(); i++) {
        if (strstr(td_log(t), text) != NULL)
            return true;
        nanosleep(&ms, NULL);
    }
    return false;
}

/* Packs @n requests as frames into one write, so that the daemon reads
 * them together (one Unix-socket write is one read while it fits). */
static void send_together(int fd, Armmap__V1__Request *const *req, size_t n)
{
    uint8_t buf[512];
    size_t len = 0, i, k;

    for (i = 0; i < n; i++) {
        k = armmap__v1__request__get_packed_size(req[i]);
        ck_assert_uint_le(len + 4 + k, sizeof(buf));
        buf[len] = (uint8_t)(k >> 24);
        buf[len + 1] = (uint8_t)(k >> 16);
        buf[len + 2] = (uint8_t)(k >> 8);
        buf[len + 3] = (uint8_t)k;
        armmap__v1__request__pack(req[i], buf + len + 4);
        len += 4 + k;
    }
    td_write(fd, buf, len);
}

/* SIGTERM answers what was read before it: a Fork waiting in the input
 * for its replay (held at the gate until the daemon is stopping) and the
 * ping read with it are both answered, then the connection closes and
 * the daemon exits cleanly.  Both were dropped unanswered before. */
START_TEST(test_sigterm_answers_a_deferred_fork)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Request preq = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Request *both[2] = { &req, &preq };
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    Armmap__V1__Ping ping = ARMMAP__V1__PING__INIT;
    Armmap__V1__Response *r;
    char gate[300], started[320];
    uint64_t src;
    int fa, fd, i;

    snprintf(gate, sizeof(gate), "%s/gate", d.dir);
    snprintf(started, sizeof(started), "%s/gate.started", d.dir);
    setenv("ARMMAPD_TEST_FORK_GATE", gate, 1);
    td_start(&d, "--checkpoint-every=1000", "--log-level=info", NULL);
    unsetenv("ARMMAPD_TEST_FORK_GATE");
    fa = td_session(&d, "alice");
    src = td_create(fa, "qemu-virt", NULL);
    for (i = 0; i < 4; i++)
        batch_ok(fa, src, 500); /* seqs 1..2000 */

    fk.machine = src;
    fk.at_seq = 2000 - 1; /* checkpoint 1000 + 999 events */
    req.id = 11;
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &fk;
    preq.id = 13;
    preq.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    preq.ping = &ping;
    send_together(fa, both, 2);
    ck_assert_msg(wait_file(started), "the fork's replay never started on "
                  "a worker: %s", td_log(&d));
    kill(d.pid, SIGTERM);
    ck_assert_msg(wait_log(&d, "signal 15: stopping"), "not stopping: %s",
                  td_log(&d));
    fd = open(gate, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);

    r = td_recv(fa);
    ck_assert_ptr_nonnull(r);
    ck_assert_status(r, 11, 0, "");
    ck_assert_uint_eq(r->machine->seq, 1999);
    td_free(r);
    r = td_recv(fa);
    ck_assert_ptr_nonnull(r);
    ck_assert_status(r, 13, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_PONG);
    td_free(r);
    ck_assert_ptr_null(td_recv(fa)); /* then the daemon closes */
    close(fa);
    ck_assert_int_eq(td_wait(&d), 0);
}
END_TEST

/* A rebuild after a failed write replays on a worker thread, not on the
 * loop: a machine of 200,000 events (no checkpoint) whose write fails is
 * fenced and rebuilt while another machine of the same tenant answers a
 * ping and a translation exactly.  The rebuild waits at the fork gate
 * (ARMMAPD_TEST_FORK_GATE) until they were answered, so the order is
 * certain; every commit of the second run fails (ARMMAPD_TEST_FAIL_COMMITS
 * "1:1000"), so which write fails is certain too. */
START_TEST(test_rebuild_leaves_the_loop_free)
{
    static const uint32_t page = 0x1000;
    Armmap__V1__Response *r;
    char gate[300], started[320], line[160];
    uint32_t va[2], pa[2], pa2[2];
    uint8_t fault[2], fault2[2];
    uint64_t big, small;
    int fa, fb, fd, i;

    td_start(&d, "--checkpoint-every=4000000000", NULL);
    fa = td_session(&d, "alice");
    big = td_create(fa, "qemu-virt", NULL);
    small = td_create(fa, "qemu-virt", NULL);
    for (i = 0; i < 50; i++)
        batch_ok(fa, big, 4000);        /* seqs 1..200,000 */
    va[0] = td_op_ok(fa, small, ARMMAP__V1__OP_CODE__OP_VMALLOC, &page, 1);
    va[1] = 0xc0000000u;
    td_translate(fa, small, va, 2, pa, fault);
    close(fa);
    ck_assert_int_eq(td_stop(&d), 0);

    snprintf(gate, sizeof(gate), "%s/gate", d.dir);
    snprintf(started, sizeof(started), "%s/gate.started", d.dir);
    setenv("ARMMAPD_TEST_FORK_GATE", gate, 1);
    setenv("ARMMAPD_TEST_FAIL_COMMITS", "1:1000", 1);
    td_start(&d, "--checkpoint-every=4000000000", NULL);
    unsetenv("ARMMAPD_TEST_FORK_GATE");
    unsetenv("ARMMAPD_TEST_FAIL_COMMITS");
    fa = td_session(&d, "alice");
    td_send_flush_batch(fa, 20, big, 100);
    r = td_recv(fa);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->id, 20);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__UNAVAILABLE);
    td_free(r);
    ck_assert_msg(wait_file(started), "the rebuild never started on a "
                  "worker: %s", td_log(&d));

    /* Held at the gate: the loop answers another machine exactly. */
    fb = td_session(&d, "alice");
    td_ping(fb, 12);
    td_translate(fb, small, va, 2, pa2, fault2);
    ck_assert_uint_eq(pa2[0], pa[0]);
    ck_assert_uint_eq(pa2[1], pa[1]);
    ck_assert_uint_eq(fault2[0], fault[0]);
    ck_assert_uint_eq(fault2[1], fault[1]);
    r = describe(fb, big);
    snprintf(line, sizeof(line), "describe: machine %llu: a write of it "
             "failed; it is being rebuilt from its log",
             (unsigned long long)big);
    ck_assert_status(r, 3, ARMMAP__V1__CODE__UNAVAILABLE, line);
    td_free(r);

    fd = open(gate, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    r = td_describe_rebuilt(fb, 3, big);
    ck_assert_status(r, 3, 0, "");
    ck_assert_str_eq(r->machine->broken, "");
    ck_assert_uint_eq(r->machine->seq, 200000);
    ck_assert_uint_eq(r->machine->events, 200000);
    td_free(r);
    snprintf(line, sizeof(line), "machine %llu: rebuilt at seq 200000 "
             "after a failed write", (unsigned long long)big);
    ck_assert_msg(strstr(td_log(&d), line) != NULL, "%s", td_log(&d));
    close(fb);
    close(fa);
}
END_TEST

Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120 * spawn_time_scale());
    tcase_add_test(tc, test_recovery_replays_from_checkpoints);
    tcase_add_test(tc, test_checkpoint_every_zero_means_never);
    tcase_add_test(tc, test_fork_replay_leaves_the_loop_free);
    tcase_add_test(tc, test_sigterm_answers_a_deferred_fork);
    tcase_add_test(tc, test_rebuild_leaves_the_loop_free);
    suite_add_tcase(s, tc);
    return s;
}
