/* tests/daemon/test_pg.c - armmapd on the PostgreSQL store backend.
 *
 * A PostgreSQL server started by the suite (tests/common/pgserver.c), the
 * real armmapd with --database postgresql://..., the real libarmmap: a
 * machine is created, pages kmapped and addresses translated; the daemon
 * is stopped and started again on the same database, and the machine is
 * replayed to the same seq, translations and pkmap report; after a
 * kill -9 the change answered last is there; --verify finds the database
 * clean.  Skipped (after saying so) without the server
 * binaries.
 */
#include "check_daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/pgserver.h"
#include "armmap.h"

#define NPAGES 3

static struct tdaemon d;

static struct armmap_conn *pconnect(void)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];
    enum armmap_status st;

    memset(&opt, 0, sizeof(opt));
    opt.tenant = "pg";
    opt.io_timeout_ms = 10000;
    st = armmap_connect_unix(d.sock, opt, &c, err);
    ck_assert_msg(st == ARMMAP_OK, "connect: %s: %s", armmap_strerror(st),
                  err);
    return c;
}

/* What the test compares before and after the restart. */
struct seen {
    uint64_t seq;
    uint32_t pa[NPAGES];
    uint8_t fault[NPAGES];
    char *pkmap;
};

static void look(struct armmap_conn *c, uint64_t id, const uint32_t *va,
                 struct seen *s)
{
    struct armmap_translate_result *t = NULL;
    struct armmap_machine *m = NULL;
    size_t i;

    ck_assert_int_eq(armmap_describe(c, id, &m), ARMMAP_OK);
    s->seq = m->seq;
    armmap_machine_free(m);
    ck_assert_int_eq(armmap_translate(c, id, va, NPAGES, 0, false, &t),
                     ARMMAP_OK);
    ck_assert_uint_eq(t->n, NPAGES);
    for (i = 0; i < NPAGES; i++) {
        s->pa[i] = t->pa[i];
        s->fault[i] = t->fault[i];
    }
    armmap_translate_result_free(t);
    ck_assert_int_eq(armmap_report(c, id, ARMMAP_REPORT_PKMAP, &s->pkmap),
                     ARMMAP_OK);
}

START_TEST(test_pg_daemon_replays_after_restart)
{
    char url[256], db[300], out[4096];
    struct armmap_conn *c;
    struct armmap_machine *m = NULL;
    struct armmap_op_result r;
    struct seen before, after;
    uint32_t pfn[NPAGES], va[NPAGES];
    uint64_t id;
    size_t i;
    const struct pgserver *pg = pgfix_server("test_pg");

    if (pg == NULL)
        return;
    ck_assert_msg(pgserver_create_db(pg, "armmap_daemon", url) == 0,
                  "%s", url);
    snprintf(db, sizeof(db), "--database=%s", url);
    td_init(&d);
    td_start(&d, db, "--checkpoint-every=2", NULL);
    c = pconnect();
    ck_assert_int_eq(armmap_create(c, "qemu-virt", NULL, 0, "pgm", &m),
                     ARMMAP_OK);
    id = m->id;
    armmap_machine_free(m);
    ck_assert_uint_eq(id, 1);
    for (i = 0; i < NPAGES; i++) {
        ck_assert_int_eq(armmap_alloc(c, id, ARMMAP_ZONE_HIGHMEM, 0, &r),
                         ARMMAP_OK);
        pfn[i] = r.value;
        ck_assert_int_eq(armmap_kmap(c, id, pfn[i], 0, &r), ARMMAP_OK);
        va[i] = r.value;
    }
    look(c, id, va, &before);
    ck_assert_uint_eq(before.seq, 2 * NPAGES);
    for (i = 0; i < NPAGES; i++) {
        ck_assert_uint_eq(before.fault[i], 0);
        ck_assert_uint_eq(before.pa[i] >> 12, pfn[i]);
    }
    armmap_close(c);
    ck_assert_int_eq(td_stop(&d), 0);

    td_start(&d, db, "--checkpoint-every=2", NULL);
    c = pconnect();
    look(c, id, va, &after);
    ck_assert_uint_eq(after.seq, before.seq);
    ck_assert_mem_eq(after.pa, before.pa, sizeof(before.pa));
    ck_assert_mem_eq(after.fault, before.fault, sizeof(before.fault));
    ck_assert_str_eq(after.pkmap, before.pkmap);
    armmap_free(before.pkmap);
    armmap_free(after.pkmap);

    /* kill -9 after an answered change: it is there after the restart. */
    ck_assert_int_eq(armmap_kunmap(c, id, pfn[0], &r), ARMMAP_OK);
    ck_assert_uint_eq(r.seq, 2 * NPAGES + 1);
    look(c, id, va, &before);
    armmap_close(c);
    kill(d.pid, SIGKILL);
    td_wait(&d);
    td_start(&d, db, "--checkpoint-every=2", NULL);
    c = pconnect();
    look(c, id, va, &after);
    ck_assert_uint_eq(after.seq, 2 * NPAGES + 1);
    ck_assert_mem_eq(after.pa, before.pa, sizeof(before.pa));
    ck_assert_str_eq(after.pkmap, before.pkmap);
    armmap_free(before.pkmap);
    armmap_free(after.pkmap);
    armmap_close(c);
    ck_assert_int_eq(td_stop(&d), 0);

    ck_assert_int_eq(td_run(out, sizeof(out), db, "--verify", NULL), 0);
    ck_assert_msg(strstr(out, ": OK (") != NULL, "%s", out);
    td_cleanup(&d);
}
END_TEST

Suite *pg_daemon_suite(void)
{
    Suite *s = suite_create("pg_daemon");
    TCase *tc = tcase_create("restart");

    tcase_add_unchecked_fixture(tc, pgfix_setup, pgfix_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pg_daemon_replays_after_restart);
    suite_add_tcase(s, tc);
    return s;
}
