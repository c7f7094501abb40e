/* tests/daemon/test_integrity.c - corruption is detected and named.
 *
 * The real armmapd writes a database; the test changes it behind its back
 * (a changed event, a changed machine row, a WAL cut after kill -9) and
 * checks that the next start names the damage (machine, seq, what
 * differs), serves the intact machines, and that armmapd --verify reports
 * the same offline and exits 1 (0 on a sound database).  A clone chain
 * 1,002 deep restarts whole (there is no depth limit).
 */
#include "check_daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

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
    if (d.pid > 0)
        td_stop(&d);
    td_cleanup(&d);
}

static void db_exec(const char *sql)
{
    char path[400];
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/armmapd.db", d.dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    /* Events are packed per row (schema 6): the SQL sees them one a row. */
    ck_assert_msg((strstr(sql, "events") != NULL
                       ? store__events_exec(db, sql)
                       : sqlite3_exec(db, sql, NULL, NULL, NULL)) == SQLITE_OK,
                  "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* Runs armmapd --verify on the test's state directory. */
static int verify(char *out, size_t outsz)
{
    char sd[300];

    snprintf(sd, sizeof(sd), "--state-dir=%s", d.dir);
    return td_run(out, outsz, sd, "--verify", NULL);
}

/* Two machines of tenant "alice" with @n changes each; the daemon stopped. */
static void two_machines(uint64_t n)
{
    uint64_t i;
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "alice");
    ck_assert_uint_eq(td_create(fd, "qemu-virt", NULL), 1);
    ck_assert_uint_eq(td_create(fd, "qemu-virt", NULL), 2);
    for (i = 0; i < n; i++) {
        td_op_ok(fd, 1, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
        td_op_ok(fd, 2, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
    }
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}

/* After the restart: machine @bad answers INTERNAL with @why in its
 * message, machine @good takes a change at seq @good_seq + 1. */
static void expect_one_broken(uint64_t bad, const char *why, uint64_t good,
                              uint64_t good_seq)
{
    Armmap__V1__Response *r;
    int fd = td_session(&d, "alice");

    r = td_op(fd, 4, bad, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__INTERNAL);
    ck_assert_msg(strstr(r->status->message, why) != NULL, "%s",
                  r->status->message);
    td_free(r);
    r = td_op(fd, 5, good, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_status(r, 5, 0, "");
    ck_assert_uint_eq(r->op->seq, good_seq + 1);
    td_free(r);
    close(fd);
}

START_TEST(test_sound_database_verifies)
{
    char out[4096];

    two_machines(20);
    ck_assert_int_eq(verify(out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "armmapd.db: OK (integrity_check, machine rows,"
                         " histories)") != NULL, "%s", out);
}
END_TEST

START_TEST(test_changed_event_names_machine_and_seq)
{
    char out[4096];

    two_machines(20);
    db_exec("UPDATE events SET flags = 1 WHERE machine = 1 AND seq = 12");
    ck_assert_int_eq(verify(out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "armmapd.db: machine 1 seq 12: checksum "
                         "differs (stored ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "armmapd.db: 1 problem found") != NULL, "%s",
                  out);
    td_start(&d, NULL);
    ck_assert_msg(strstr(td_log(&d), "armmapd: error: machine 1 is broken: "
                         "store: machine 1 seq 12: checksum differs") != NULL,
                  "%s", td_log(&d));
    ck_assert_ptr_nonnull(strstr(td_log(&d), "recovered 2 machines (1 "
                                 "broken)"));
    expect_one_broken(1, "seq 12: checksum differs", 2, 20);
}
END_TEST

START_TEST(test_truncated_history_is_not_silently_shortened)
{
    char out[4096];

    two_machines(30);
    db_exec("DELETE FROM events WHERE machine = 2 AND seq > 21");
    ck_assert_int_eq(verify(out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "machine 2: history ends at seq 21, but seq 30 "
                         "was committed (truncated)") != NULL, "%s", out);
    td_start(&d, NULL);
    expect_one_broken(2, "history ends at seq 21, but seq 30 was committed",
                      1, 30);
}
END_TEST

START_TEST(test_changed_machine_row_is_not_moved_to_another_tenant)
{
    char out[4096];
    Armmap__V1__Response *r;
    int fd;

    two_machines(5);
    db_exec("UPDATE machines SET tenant = 'alicf' WHERE id = 1;"
            "UPDATE machines SET config = replace(config, '0', '1')"
            " WHERE id = 2");
    ck_assert_int_eq(verify(out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "machine 1: its row (tenant, name, config, "
                         "creation, parent) fails its checksum") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "armmapd.db: 2 problems found") != NULL, "%s",
                  out);
    td_start(&d, NULL);
    ck_assert_ptr_nonnull(strstr(td_log(&d), "recovered 2 machines (2 "
                                 "broken)"));
    /* Tenant "alicf" got nothing it could use. */
    fd = td_session(&d, "alicf");
    r = td_op(fd, 4, 1, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__INTERNAL);
    ck_assert_msg(strstr(r->status->message, "fails its checksum") != NULL,
                  "%s", r->status->message);
    td_free(r);
    close(fd);
}
END_TEST

/* kill -9 leaves the commits in the WAL; cutting the WAL then loses
 * answered changes, which the next start reports at error level. */
START_TEST(test_wal_cut_after_kill_is_reported)
{
    char wal[400];
    int fd, status, i;

    td_start(&d, NULL);
    fd = td_session(&d, "alice");
    ck_assert_uint_eq(td_create(fd, "qemu-virt", NULL), 1);
    for (i = 0; i < 50; i++)
        td_op_ok(fd, 1, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
    close(fd);
    ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(d.pid, &status, 0), d.pid);
    d.pid = 0;
    snprintf(wal, sizeof(wal), "%s/armmapd.db-wal", d.dir);
    ck_assert_int_eq(truncate(wal, 0), 0);

    td_start(&d, NULL);
    ck_assert_msg(strstr(td_log(&d), "armmapd: error: store: ") != NULL &&
                  strstr(td_log(&d), "armmapd.db: committed writes are "
                         "missing: the last commit made (recorded in ") !=
                      NULL &&
                  strstr(td_log(&d), "holds event 50 of machine 1 and "
                         "machine ids up to 1, but the database ") != NULL,
                  "%s", td_log(&d));
}
END_TEST

/* Each clone of the previous one, with a change of its own: 1,002 deep. */
START_TEST(test_clone_chain_1002_deep_restarts)
{
    enum { DEPTH = 1002 };
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone cl = ARMMAP__V1__CLONE__INIT;
    Armmap__V1__Response *r;
    uint64_t id, last;
    int fd, i;

    td_start(&d, NULL);
    fd = td_session(&d, "alice");
    last = td_create(fd, "qemu-virt", NULL);
    td_op_ok(fd, last, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
    for (i = 0; i < DEPTH; i++) {
        cl.machine = last;
        req.id = 9;
        req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
        req.clone = &cl;
        r = td_call(fd, &req);
        ck_assert_status(r, 9, 0, "");
        id = r->machine->id;
        td_free(r);
        td_op_ok(fd, id, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
        last = id;
    }
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    ck_assert_msg(strstr(td_log(&d), "recovered 1003 machines (0 broken)") !=
                  NULL, "%s", td_log(&d));
    fd = td_session(&d, "alice");
    r = td_op(fd, 4, last, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_status(r, 4, 0, "");
    ck_assert_uint_eq(r->op->seq, DEPTH + 2);
    td_free(r);
    close(fd);
}
END_TEST

Suite *integrity_suite(void)
{
    Suite *s = suite_create("integrity");
    TCase *tc = tcase_create("integrity");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120 * spawn_time_scale());
    tcase_add_test(tc, test_sound_database_verifies);
    tcase_add_test(tc, test_changed_event_names_machine_and_seq);
    tcase_add_test(tc, test_truncated_history_is_not_silently_shortened);
    tcase_add_test(tc, test_changed_machine_row_is_not_moved_to_another_tenant);
    tcase_add_test(tc, test_wal_cut_after_kill_is_reported);
    tcase_add_test(tc, test_clone_chain_1002_deep_restarts);
    suite_add_tcase(s, tc);
    return s;
}
