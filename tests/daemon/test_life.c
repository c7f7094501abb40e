/* tests/daemon/test_life.c - shutdown, restart and recovery, the store's
 * refusals at start, sd_notify, SIGHUP.
 */
#include "check_daemon.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* store/store_int.h: runs SQL on a database's events unpacked (schema 6
 * packs them per row), packing them again after. */
int store__events_exec(sqlite3 *db, const char *sql);

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    td_cleanup(&d);
}

static Armmap__V1__Response *describe(int fd, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    ref.machine = machine;
    req.id = 2;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    return td_call(fd, &req);
}

START_TEST(test_sigterm_answers_requests_in_flight)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    uint32_t alloc[2] = { 1, 0 };
    Armmap__V1__Response *r;
    uint64_t m;
    int fd, i;

    td_start(&d, NULL);
    fd = td_session(&d, "term");
    m = td_create(fd, "qemu-virt", NULL);
    op.machine = m;
    op.code = ARMMAP__V1__OP_CODE__OP_ALLOC;
    op.n_args = 2;
    op.args = alloc;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    for (i = 0; i < 50; i++) {
        req.id = 100 + (uint64_t)i;
        td_send(fd, &req);
    }
    r = td_recv(fd);
    ck_assert_status(r, 100, 0, "");
    td_free(r);
    kill(d.pid, SIGTERM);
    for (i = 1; i < 50; i++) {
        r = td_recv(fd);
        ck_assert_status(r, 100 + (uint64_t)i, 0, "");
        ck_assert_uint_eq(r->op->seq, (uint64_t)i + 1);
        td_free(r);
    }
    ck_assert(td_closed(fd));
    close(fd);
    ck_assert_msg(td_wait(&d) == 0, "%s", td_log(&d));
    /* Every answered change is in the store. */
    td_start(&d, NULL);
    fd = td_session(&d, "term");
    r = describe(fd, m);
    ck_assert_status(r, 2, 0, "");
    ck_assert_uint_eq(r->machine->seq, 50);
    ck_assert_uint_eq(r->machine->events, 50);
    td_free(r);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

START_TEST(test_restart_brings_machines_back)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone cl = ARMMAP__V1__CLONE__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    uint32_t alloc[2] = { 2, 0 }, pfn, pfn2, va[3], pa[3], pa2[3];
    uint8_t fault[3], fault2[3];
    Armmap__V1__Response *r;
    uint64_t m, c, f;
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "rs");
    m = td_create(fd, "qemu-virt", NULL);
    pfn = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    va[0] = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);
    cl.machine = m;
    req.id = 3;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    req.clone = &cl;
    r = td_call(fd, &req);
    ck_assert_status(r, 3, 0, "");
    c = r->machine->id;
    td_free(r);
    pfn2 = td_op_ok(fd, c, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    va[1] = td_op_ok(fd, c, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn2, 1);
    fk.machine = c;
    fk.at_seq = 3;                      /* the clone's own alloc */
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &fk;
    r = td_call(fd, &req);
    ck_assert_status(r, 3, 0, "");
    f = r->machine->id;
    ck_assert_uint_eq(r->machine->seq, 3);
    td_free(r);
    va[2] = 0xc0001000;
    td_translate(fd, c, va, 3, pa, fault);
    ck_assert_uint_eq(pa[0], pfn << 12);
    ck_assert_uint_eq(pa[1], pfn2 << 12);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    ck_assert_ptr_nonnull(
        strstr(td_log(&d), "recovered 3 machines (0 broken)"));
    fd = td_session(&d, "rs");
    td_translate(fd, c, va, 3, pa2, fault2);
    ck_assert(memcmp(pa, pa2, sizeof(pa)) == 0);
    ck_assert(memcmp(fault, fault2, sizeof(fault)) == 0);
    r = describe(fd, c);
    ck_assert_status(r, 2, 0, "");
    ck_assert_uint_eq(r->machine->seq, 4);
    td_free(r);
    r = describe(fd, f);
    ck_assert_uint_eq(r->machine->seq, 3);
    td_free(r);
    /* The source kept its own state; the fork has the page allocated but
     * not mapped (its seq 3 is the clone's alloc). */
    td_translate(fd, m, va, 2, pa2, fault2);
    ck_assert_uint_eq(pa2[0], pfn << 12);
    ck_assert_uint_ne(fault2[1], 0);
    ck_assert_uint_eq(td_op_ok(fd, f, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn2, 1),
                      va[1]);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

/* A clone of a machine with no changes yet owes nothing to its parent's
 * later events: once it replayed them all, being recorded at seq 0. */
START_TEST(test_clone_at_seq_0_recovers)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone cl = ARMMAP__V1__CLONE__INIT;
    uint32_t alloc[2] = { 1, 0 };       /* zone Normal, order 0 */
    Armmap__V1__Response *r;
    uint32_t pfn;
    uint64_t m, c;
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "c0");
    m = td_create(fd, "qemu-virt", NULL);
    cl.machine = m;
    req.id = 4;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    req.clone = &cl;
    r = td_call(fd, &req);
    ck_assert_status(r, 4, 0, "");
    c = r->machine->id;
    td_free(r);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    pfn = td_op_ok(fd, c, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    ck_assert_ptr_nonnull(
        strstr(td_log(&d), "recovered 2 machines (0 broken)"));
    fd = td_session(&d, "c0");
    ck_assert_uint_eq(td_op_ok(fd, c, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2),
                      pfn + 1);
    close(fd);
}
END_TEST

/* --database :memory: serves history and fork like a file, writes nothing
 * to the state directory, and a restart starts empty. */
START_TEST(test_memory_database_keeps_history_until_exit)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    uint32_t alloc[2] = { 1, 0 };       /* zone Normal, order 0 */
    Armmap__V1__Response *r;
    char db[400];
    uint64_t m;
    int fd;

    td_start(&d, "--database", ":memory:", NULL);
    fd = td_session(&d, "mem");
    m = td_create(fd, "qemu-virt", NULL);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    h.machine = m;
    req.id = 5;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    r = td_call(fd, &req);
    ck_assert_status(r, 5, 0, "");
    ck_assert_uint_eq(r->history->n_events, 2);
    ck_assert_uint_eq(r->history->events[1]->seq, 2);
    td_free(r);
    fk.machine = m;
    fk.at_seq = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &fk;
    r = td_call(fd, &req);
    ck_assert_status(r, 5, 0, "");
    ck_assert_uint_eq(r->machine->seq, 1);
    td_free(r);
    snprintf(db, sizeof(db), "%s/armmapd.db", d.dir);
    ck_assert_int_eq(access(db, F_OK), -1);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, "--database", ":memory:", NULL);
    ck_assert_ptr_nonnull(
        strstr(td_log(&d), "recovered 0 machines (0 broken)"));
    fd = td_session(&d, "mem");
    r = describe(fd, m);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
    close(fd);
}
END_TEST

START_TEST(test_mismatch_at_recovery_breaks_only_that_machine)
{
    uint32_t alloc[2] = { 2, 0 };
    char path[400], want[200];
    Armmap__V1__Response *r;
    uint64_t a, b;
    sqlite3 *db;
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "br");
    a = td_create(fd, "qemu-virt", NULL);
    b = td_create(fd, "qemu-virt", NULL);
    td_op_ok(fd, a, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    td_op_ok(fd, b, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    snprintf(path, sizeof(path), "%s/armmapd.db", d.dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(want, sizeof(want),
             "UPDATE events SET value = 1234 WHERE machine = %llu",
             (unsigned long long)a);
    ck_assert_int_eq(store__events_exec(db, want), SQLITE_OK); /* packed */
    sqlite3_close(db);

    td_start(&d, NULL);
    ck_assert_ptr_nonnull(
        strstr(td_log(&d), "recovered 2 machines (1 broken)"));
    fd = td_session(&d, "br");
    r = td_op(fd, 4, a, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__INTERNAL);
    /* The event's checksum catches the edit before the replay would. */
    snprintf(want, sizeof(want),
             "kmap_flush: machine %llu is broken: store: machine %llu seq 1: "
             "checksum differs (stored ",
             (unsigned long long)a, (unsigned long long)a);
    ck_assert_msg(strncmp(r->status->message, want, strlen(want)) == 0, "%s",
                  r->status->message);
    td_free(r);
    r = describe(fd, a);
    ck_assert_status(r, 2, 0, "");
    ck_assert_str_ne(r->machine->broken, "");
    td_free(r);
    r = td_op(fd, 5, b, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_status(r, 5, 0, "");
    td_free(r);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

START_TEST(test_failed_commit_rolls_the_machine_back)
{
    Armmap__V1__Response *r;
    uint64_t m, ok = 0;
    int fd, i;

    /* A quota at the database's current size: commits fail once the
     * existing pages are full, as on a full disk. */
    td_start(&d, "--max-db-size=1", NULL);
    fd = td_session(&d, "full");
    m = td_create(fd, "qemu-virt", NULL);
    for (i = 0; i < 20000; i++) {
        r = td_op(fd, 10, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
        if (r->status->code != 0)
            break;
        ck_assert_uint_eq(r->op->seq, ++ok);
        td_free(r);
    }
    ck_assert_int_lt(i, 20000);
    ck_assert_uint_gt(ok, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__UNAVAILABLE);
    ck_assert_msg(strncmp(r->status->message, "store: ", 7) == 0 &&
                  strstr(r->status->message, "full") != NULL, "%s",
                  r->status->message);
    td_free(r);
    /* The machine is back at its logged state, and stays there. */
    r = td_describe_rebuilt(fd, 2, m);
    ck_assert_status(r, 2, 0, "");
    ck_assert_uint_eq(r->machine->seq, ok);
    td_free(r);
    r = td_op(fd, 11, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__UNAVAILABLE);
    td_free(r);
    r = td_describe_rebuilt(fd, 2, m);
    ck_assert_status(r, 2, 0, "");
    ck_assert_uint_eq(r->machine->seq, ok);
    td_free(r);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    /* Without the quota the log goes on from there. */
    td_start(&d, NULL);
    fd = td_session(&d, "full");
    r = describe(fd, m);
    ck_assert_uint_eq(r->machine->seq, ok);
    td_free(r);
    r = td_op(fd, 12, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_status(r, 12, 0, "");
    ck_assert_uint_eq(r->op->seq, ok + 1);
    td_free(r);
    close(fd);
}
END_TEST

START_TEST(test_systemd_socket_activation)
{
    char bin[4200], sd[300], unused[300], sockarg[320];
    struct sockaddr_un sa;
    int lfd, fd;
    pid_t pid;

    td_binary(bin, sizeof(bin));
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(lfd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", d.sock);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    snprintf(sd, sizeof(sd), "--state-dir=%s", d.dir);
    snprintf(unused, sizeof(unused), "%s/unused.sock", d.dir);
    snprintf(sockarg, sizeof(sockarg), "--socket=%s", unused);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char env[32];

        dup2(lfd, 3);
        if (lfd != 3)
            close(lfd);
        snprintf(env, sizeof(env), "%d", (int)getpid());
        setenv("LISTEN_PID", env, 1);
        setenv("LISTEN_FDS", "1", 1);
        execl(bin, bin, sd, sockarg, (char *)NULL);
        _exit(127);
    }
    close(lfd);
    d.pid = pid;
    /* The socket accepts at once (the kernel queues); hello answers once
     * the daemon serves it, after every socket it would open is open: so
     * --socket's path must not be there now. */
    fd = td_session(&d, "sd");
    close(fd);
    ck_assert_int_ne(access(unused, F_OK), 0);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

START_TEST(test_purge_keeps_history_a_clone_needs)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone cl = ARMMAP__V1__CLONE__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Purge pu = ARMMAP__V1__PURGE__INIT;
    uint32_t alloc[2] = { 2, 0 }, pfn, va, pa;
    Armmap__V1__Response *r;
    uint64_t a, c, x;
    uint8_t fault;
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "pg");
    a = td_create(fd, "qemu-virt", NULL);
    x = td_create(fd, "qemu-virt", NULL);
    pfn = td_op_ok(fd, a, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    va = td_op_ok(fd, a, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);
    cl.machine = a;
    req.id = 3;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    req.clone = &cl;
    r = td_call(fd, &req);
    ck_assert_status(r, 3, 0, "");
    c = r->machine->id;
    td_free(r);
    /* x goes (with no events); a stays although destroyed, because the
     * clone c is built on its history (the store keeps ancestors). */
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESTROY;
    req.destroy = &ref;
    ref.machine = x;
    r = td_call(fd, &req);
    ck_assert_status(r, 3, 0, "");
    td_free(r);
    ref.machine = a;
    r = td_call(fd, &req);
    ck_assert_status(r, 3, 0, "");
    td_free(r);
    /* Purge older_than 0 takes what was destroyed before the current ms. */
    ck_assert(spawn_wait_clock_past(spawn_wall_ms()));
    req.body_case = ARMMAP__V1__REQUEST__BODY_PURGE;
    req.purge = &pu;
    r = td_call(fd, &req);
    ck_assert_status(r, 3, 0, "");
    ck_assert_uint_eq(r->purge->machines, 1);
    ck_assert_uint_eq(r->purge->events, 0);
    td_free(r);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    ck_assert_ptr_nonnull(
        strstr(td_log(&d), "recovered 1 machines (0 broken)"));
    fd = td_session(&d, "pg");
    td_translate(fd, c, &va, 1, &pa, &fault);
    ck_assert_uint_eq(fault, 0);
    ck_assert_uint_eq(pa, pfn << 12);
    close(fd);
}
END_TEST

START_TEST(test_corrupt_database_stops_the_daemon)
{
    char path[400], out[2048], sd[300];
    FILE *f;

    snprintf(path, sizeof(path), "%s/armmapd.db", d.dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not a database, it is a text file of some length.......\n",
          f);
    fclose(f);
    snprintf(sd, sizeof(sd), "--state-dir=%s", d.dir);
    ck_assert_int_eq(td_run(out, sizeof(out), sd, NULL), 1);
    ck_assert_msg(strstr(out, "armmapd: store: ") == out, "%s", out);
    ck_assert_msg(strstr(out, path) != NULL, "%s", out);
}
END_TEST

START_TEST(test_sd_notify_ready_and_stopping)
{
    struct sockaddr_un sa;
    struct timeval tv = { 5, 0 };
    char buf[256], name[64];
    socklen_t len;
    ssize_t n;
    int s;

    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(s, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(name, sizeof(name), "@armmapd-test-%d", (int)getpid());
    memcpy(sa.sun_path, name, strlen(name));
    sa.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, len), 0);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", name, 1);
    td_start(&d, NULL);
    unsetenv("NOTIFY_SOCKET");
    n = recv(s, buf, sizeof(buf) - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "STATUS=recovering machines");
    n = recv(s, buf, sizeof(buf) - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "READY=1\nSTATUS=serving 0 machines");
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    n = recv(s, buf, sizeof(buf) - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "STOPPING=1");
    close(s);
}
END_TEST

START_TEST(test_sighup_reopens_the_log_file)
{
    char logf[300], moved[310], lf[320];
    int fd, i;

    snprintf(logf, sizeof(logf), "%s/armmapd.log", d.dir);
    snprintf(moved, sizeof(moved), "%s.1", logf);
    snprintf(lf, sizeof(lf), "--log-file=%s", logf);
    td_start(&d, lf, NULL);
    ck_assert_int_eq(rename(logf, moved), 0);
    kill(d.pid, SIGHUP);
    /* The daemon creates the log file again when it has handled SIGHUP. */
    for (i = 0; i < 1000 * spawn_time_scale() && access(logf, F_OK) != 0; i++)
        usleep(2000);
    ck_assert_int_eq(access(logf, F_OK), 0);
    fd = td_session(&d, "hup");
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    ck_assert_int_eq(access(logf, R_OK), 0);
    {
        struct tdaemon tmp = d;

        snprintf(tmp.log, sizeof(tmp.log), "%s", logf);
        ck_assert_ptr_nonnull(strstr(td_log(&tmp), "hello from tenant 'hup'"));
        snprintf(tmp.log, sizeof(tmp.log), "%s", moved);
        ck_assert_ptr_nonnull(strstr(td_log(&tmp), "listening on"));
    }
}
END_TEST

Suite *life_suite(void)
{
    Suite *s = suite_create("life");
    TCase *tc = tcase_create("life");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sigterm_answers_requests_in_flight);
    tcase_add_test(tc, test_restart_brings_machines_back);
    tcase_add_test(tc, test_memory_database_keeps_history_until_exit);
    tcase_add_test(tc, test_clone_at_seq_0_recovers);
    tcase_add_test(tc, test_mismatch_at_recovery_breaks_only_that_machine);
    tcase_add_test(tc, test_failed_commit_rolls_the_machine_back);
    tcase_add_test(tc, test_purge_keeps_history_a_clone_needs);
    tcase_add_test(tc, test_systemd_socket_activation);
    tcase_add_test(tc, test_corrupt_database_stops_the_daemon);
    tcase_add_test(tc, test_sd_notify_ready_and_stopping);
    tcase_add_test(tc, test_sighup_reopens_the_log_file);
    suite_add_tcase(s, tc);
    return s;
}
