/* tests/daemon/test_pg_lazy.c - armmapd loads libpq only for PostgreSQL.
 *
 * The real armmapd started on its SQLite store has no libpq mapped (read
 * from /proc/PID/maps, the loader's own view, not ldd); started on a
 * PostgreSQL database (a server the suite starts, tests/common/pgserver.c)
 * it has.  The loader (store/store_pg_load.c) is run in-process on
 * libraries that are missing or are not libpq, and its message checked.
 */
#include "check_daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/pgserver.h"
#include "store_pg_load.h"

static struct tdaemon d;

/* Whether /proc/@pid/maps has a mapping whose path holds @name. */
static bool maps_has(pid_t pid, const char *name)
{
    char path[64], line[1024];
    bool found = false;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

START_TEST(test_sqlite_daemon_has_no_libpq)
{
    td_init(&d);
    td_start(&d, NULL);
    /* td_start() returns once the socket accepts: start-up is over. */
    ck_assert(maps_has(d.pid, "/libsqlite3.so"));
    ck_assert(!maps_has(d.pid, "/libpq.so"));
    td_cleanup(&d);
}
END_TEST

START_TEST(test_pg_daemon_loads_libpq)
{
    char url[256], db[300];
    const struct pgserver *pg = pgfix_server("pg_lazy");

    if (pg == NULL)
        return;
    ck_assert_msg(pgserver_create_db(pg, "armmap_lazy", url) == 0, "%s",
                  url);
    snprintf(db, sizeof(db), "--database=%s", url);
    td_init(&d);
    td_start(&d, db, NULL);
    ck_assert(maps_has(d.pid, "/libpq.so.5"));
    td_cleanup(&d);
}
END_TEST

START_TEST(test_loader_names_a_missing_library)
{
    struct pq_fn fn;
    char err[512];

    memset(&fn, 0, sizeof(fn));
    ck_assert(!pq_load_from("libpq-armmapd-missing.so.5", &fn, err,
                            sizeof(err)));
    ck_assert_str_eq(err, "the PostgreSQL store needs "
                          "libpq-armmapd-missing.so.5: "
                          "libpq-armmapd-missing.so.5: cannot open shared "
                          "object file: No such file or directory");
    ck_assert(fn.PQclear == NULL);
    ck_assert(fn.PQstatus == NULL);
}
END_TEST

/* A library that loads but is not libpq: the first symbol is named, and
 * nothing of the table is filled. */
START_TEST(test_loader_names_a_missing_symbol)
{
    static const char head[] = "the PostgreSQL store needs "
                               "libm.so.6: ";
    static const char tail[] = "libm.so.6: undefined symbol: PQclear";
    struct pq_fn fn;
    char err[512];
    size_t n;

    memset(&fn, 0, sizeof(fn));
    ck_assert(!pq_load_from("libm.so.6", &fn, err, sizeof(err)));
    n = strlen(err);
    ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "%s", err);
    ck_assert_msg(n >= strlen(tail) &&
                      strcmp(err + n - strlen(tail), tail) == 0,
                  "%s", err);
    ck_assert(fn.PQclear == NULL);
    ck_assert(fn.PQconnectdb == NULL);
}
END_TEST

START_TEST(test_loader_fills_every_function)
{
    char err[512] = "";

    ck_assert_msg(pq_load(err, sizeof(err)), "%s", err);
    ck_assert_str_eq(err, "");
#define PQ_FILLED(name) ck_assert(pq_fn.name != NULL);
    PQ_FUNCTIONS(PQ_FILLED)
#undef PQ_FILLED
}
END_TEST

Suite *pg_lazy_suite(void)
{
    Suite *s = suite_create("pg_lazy");
    TCase *tc = tcase_create("maps");
    TCase *tl = tcase_create("loader");

    tcase_add_unchecked_fixture(tc, pgfix_setup, pgfix_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sqlite_daemon_has_no_libpq);
    tcase_add_test(tc, test_pg_daemon_loads_libpq);
    suite_add_tcase(s, tc);
    tcase_add_test(tl, test_loader_names_a_missing_library);
    tcase_add_test(tl, test_loader_names_a_missing_symbol);
    tcase_add_test(tl, test_loader_fills_every_function);
    suite_add_tcase(s, tl);
    return s;
}
