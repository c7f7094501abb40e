/* tests/store/test_pg.c - the store contract on the PostgreSQL backend.
 *
 * Runs against a real server this suite starts itself (tests/common/
 * pgserver.c: Debian's postgres on a Unix socket in a temporary
 * directory); every test gets a database of its own.  Without the server
 * binaries each test passes after saying it was skipped.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../common/pgserver.h"
#include "store.h"
#include "store_pack.h"

Suite *pg_suite(void);

static const struct pgserver *server;   /* the fixture's, once a test asks */
static char url[256];                   /* this test's database */
static int db_counter;

/* A fresh database for this test; false (after saying so) when there is
 * no server to run on. */
static bool fresh_db(void)
{
    char name[64];

    server = pgfix_server("test_pg");
    if (server == NULL)
        return false;
    snprintf(name, sizeof(name), "armmap_t%d_%d", (int)getpid(),
             ++db_counter);
    ck_assert_msg(pgserver_create_db(server, name, url) == 0, "%s", url);
    return true;
}

static struct store *open_pg(void)
{
    struct store *s = NULL;
    char err[STORE_MSG_MAX];
    enum store_status rc = store_open(url, NULL, &s, err);

    ck_assert_msg(rc == STORE_OK, "store_open: %s", err);
    return s;
}

/* Runs @sql on this test's database directly (tampering). */
/* The integer the one-row query @sql gives. */
static long long raw_int(const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);
    long long v;

    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1,
                  "%s: %s", sql, PQerrorMessage(c));
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static void raw(const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);

    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
                  PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

struct outcomes {
    size_t n;
    enum store_status st[32];
    char msg[32][STORE_MSG_MAX];
    uintptr_t cookie[32];
};

static void take(void *arg, void *cookie, enum store_status st,
                 const char *msg)
{
    struct outcomes *o = arg;

    ck_assert_uint_lt(o->n, 32);
    o->st[o->n] = st;
    o->cookie[o->n] = (uintptr_t)cookie;
    snprintf(o->msg[o->n], STORE_MSG_MAX, "%s", msg);
    o->n++;
}

static void flush_reap(struct store *s, struct outcomes *o)
{
    memset(o, 0, sizeof(*o));
    store_flush(s);
    store_reap(s, take, o);
}

static const uint32_t words[3] = { 0x10000, 0x2000, 0xfffffffe };

static struct store_event ev_of(uint64_t machine, uint64_t seq)
{
    struct store_event ev = {
        .machine = machine, .seq = seq, .time_ms = 1000 + (int64_t)seq,
        .op = (uint32_t)(seq % 3), .cpu = 1, .nargs = (uint32_t)(seq % 4),
        .args = words, .value = 0x40000000u + (uint32_t)seq, .aux = 7,
        .flags = 2, .status = -(int32_t)seq,
    };

    return ev;
}

static uint64_t create(struct store *s, const char *tenant)
{
    uint64_t id = 0;

    ck_assert_int_eq(store_submit_machine_create(s, tenant, "m", "cfg",
                                                 500, NULL, &id), STORE_OK);
    return id;
}

static void submit(struct store *s, uint64_t m, uint64_t seq)
{
    struct store_event ev = ev_of(m, seq);

    ck_assert_int_eq(store_submit_event(s, &ev, (void *)(uintptr_t)seq),
                     STORE_OK);
}

struct rows {
    size_t n;
    struct store_event ev[16];
    uint32_t args[16][4];
};

static int take_row(void *arg, const struct store_event *ev)
{
    struct rows *r = arg;

    ck_assert_uint_lt(r->n, 16);
    r->ev[r->n] = *ev;
    memcpy(r->args[r->n], ev->args, ev->nargs * 4);
    r->ev[r->n].args = r->args[r->n];
    r->n++;
    return 0;
}

START_TEST(test_pg_append_conflict_history)
{
    struct outcomes o;
    struct rows rows = { 0 };
    struct store_history_query q = { .machine = 1 };
    struct store_page page;
    struct store_machine *m = NULL;
    struct store *s;
    uint64_t id;

    if (!fresh_db())
        return;
    s = open_pg();
    id = create(s, "alice");
    ck_assert_uint_eq(id, 1);
    submit(s, id, 1);
    submit(s, id, 2);
    submit(s, id, 3);
    submit(s, id, 5);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 5);
    ck_assert_int_eq(o.st[3], STORE_OK);
    ck_assert_int_eq(o.st[4], STORE_CONFLICT);
    ck_assert_str_eq(o.msg[4],
                     "machine 1: event seq 5 refused: expected seq 4");
    ck_assert_uint_eq(o.cookie[4], 5);

    ck_assert_int_eq(store_history(s, &q, take_row, &rows, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 3);
    ck_assert(!page.more);
    ck_assert_uint_eq(rows.ev[2].seq, 3);
    ck_assert_uint_eq(rows.ev[2].nargs, 3);
    ck_assert_uint_eq(rows.ev[2].args[2], 0xfffffffe);
    ck_assert_uint_eq(rows.ev[2].value, 0x40000003u);
    ck_assert_int_eq(rows.ev[2].status, -3);
    ck_assert_int_eq(rows.ev[2].time_ms, 1003);

    /* Newest first, a page of one, then the next from its cursor. */
    memset(&rows, 0, sizeof(rows));
    q.newest_first = true;
    q.limit = 1;
    ck_assert_int_eq(store_history(s, &q, take_row, &rows, &page), STORE_OK);
    ck_assert_uint_eq(rows.ev[0].seq, 3);
    ck_assert(page.more);
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_row, &rows, &page), STORE_OK);
    ck_assert_uint_eq(rows.ev[1].seq, 2);

    ck_assert_int_eq(store_machine_dup(s, id, &m), STORE_OK);
    ck_assert_str_eq(m->tenant, "alice");
    ck_assert_str_eq(m->config, "cfg");
    ck_assert_uint_eq(m->nevents, 3);
    ck_assert_uint_eq(m->last_seq, 3);
    ck_assert_ptr_null(m->corrupt);
    free(m);
    ck_assert_int_eq(store_machine_dup(s, 9, &m), STORE_NOT_FOUND);
    store_close(s);
}
END_TEST

static void count_op(void *arg, uint32_t op, uint64_t count)
{
    uint64_t *c = arg;

    c[op] += count;
}

START_TEST(test_pg_units_all_or_nothing_and_counts)
{
    struct store_event unit[3];
    struct outcomes o;
    uint64_t counts[3] = { 0 }, last = 0;
    struct store *s;
    uint64_t id, id2;
    int i;

    if (!fresh_db())
        return;
    s = open_pg();
    id = create(s, "");
    id2 = create(s, "");
    for (i = 0; i < 3; i++)
        unit[i] = ev_of(id, (uint64_t)i + 2); /* starts at 2: refused */
    ck_assert_int_eq(store_submit_events(s, unit, 3, (void *)7), STORE_OK);
    for (i = 0; i < 3; i++)
        unit[i] = ev_of(id, (uint64_t)i + 1);
    ck_assert_int_eq(store_submit_events(s, unit, 3, (void *)8), STORE_OK);
    ck_assert_int_eq(store_submit_machine_destroy(s, id2, 600, NULL),
                     STORE_OK);
    submit(s, id2, 1);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 6);
    ck_assert_int_eq(o.st[2], STORE_CONFLICT);
    ck_assert_str_eq(o.msg[2], "machine 1: event seq 2 refused: expected "
                     "seq 1 (a unit of 3 events: none kept)");
    ck_assert_int_eq(o.st[3], STORE_OK);
    ck_assert_uint_eq(o.cookie[3], 8);
    ck_assert_int_eq(o.st[4], STORE_OK);
    ck_assert_int_eq(o.st[5], STORE_NOT_FOUND);
    ck_assert_str_eq(o.msg[5], "event 1: machine 2 is destroyed");

    ck_assert_int_eq(store_op_counts(s, id, count_op, counts), STORE_OK);
    ck_assert_uint_eq(counts[0], 1);    /* seq 3 */
    ck_assert_uint_eq(counts[1], 1);
    ck_assert_uint_eq(counts[2], 1);
    memset(counts, 0, sizeof(counts));
    ck_assert_int_eq(store_op_counts_page(s, id, 0, 2, count_op, counts,
                                          &last), STORE_OK);
    ck_assert_uint_eq(last, 2);
    ck_assert_uint_eq(counts[0] + counts[1] + counts[2], 2);
    store_close(s);
}
END_TEST

struct reader_job {
    struct store_reader *r;
    uint64_t machine;
    struct rows rows;
    enum store_status st;
};

static void *reader_thread(void *arg)
{
    struct reader_job *j = arg;

    j->st = store_reader_events(j->r, j->machine, 2, 0, take_row, &j->rows,
                                NULL);
    return NULL;
}

START_TEST(test_pg_checkpoint_fork_and_reader)
{
    static const char blob[] = "state after 2";
    struct reader_job job = { 0 };
    struct outcomes o;
    struct store *s;
    pthread_t t;
    uint64_t id, fork = 0, seq = 0, parent = 0, pseq = 0;
    void *b = NULL;
    size_t len = 0;

    if (!fresh_db())
        return;
    s = open_pg();
    id = create(s, "t");
    submit(s, id, 1);
    submit(s, id, 2);
    submit(s, id, 3);
    ck_assert_int_eq(store_submit_checkpoint(s, id, 2, blob, sizeof(blob),
                                             NULL), STORE_OK);
    ck_assert_int_eq(store_submit_checkpoint(s, id, 9, blob, sizeof(blob),
                                             NULL), STORE_OK);
    ck_assert_int_eq(store_submit_machine_fork(s, id, 2, "t", "f", "cfg",
                                               700, NULL, &fork), STORE_OK);
    submit(s, fork, 3);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 8);
    ck_assert_int_eq(o.st[4], STORE_OK);
    ck_assert_int_eq(o.st[5], STORE_CONFLICT);
    ck_assert_str_eq(o.msg[5], "checkpoint: machine 1 has events up to seq "
                     "3, not 9");
    ck_assert_int_eq(o.st[6], STORE_OK);
    ck_assert_int_eq(o.st[7], STORE_OK);

    ck_assert_int_eq(store_checkpoint_get(s, id, 0, &seq, &b, &len),
                     STORE_OK);
    ck_assert_uint_eq(seq, 2);
    ck_assert_uint_eq(len, sizeof(blob));
    ck_assert_mem_eq(b, blob, sizeof(blob));
    free(b);
    ck_assert_int_eq(store_checkpoint_get(s, id, 1, &seq, &b, &len),
                     STORE_NOT_FOUND);

    ck_assert_int_eq(store_reader_open(s, &job.r), STORE_OK);
    job.machine = id;
    ck_assert_int_eq(pthread_create(&t, NULL, reader_thread, &job), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(job.st, STORE_OK);
    ck_assert_uint_eq(job.rows.n, 1);
    ck_assert_uint_eq(job.rows.ev[0].seq, 3);
    ck_assert_int_eq(store_reader_parent(job.r, fork, &parent, &pseq),
                     STORE_OK);
    ck_assert_uint_eq(parent, id);
    ck_assert_uint_eq(pseq, 2);
    store_reader_close(job.r);

    memset(&job.rows, 0, sizeof(job.rows));
    ck_assert_int_eq(store_foreach_event(s, fork, 0, take_row, &job.rows,
                                         NULL), STORE_OK);
    ck_assert_uint_eq(job.rows.n, 1);
    ck_assert_uint_eq(job.rows.ev[0].seq, 3);
    store_close(s);
}
END_TEST

static int count_live(void *arg, const struct store_machine *m)
{
    uint64_t *n = arg;

    ck_assert_ptr_null(m->corrupt);
    ck_assert_ptr_nonnull(m->config);
    (*n)++;
    return 0;
}

static void take_line(void *arg, const char *line)
{
    snprintf(arg, STORE_MSG_MAX, "%s", line);
}

START_TEST(test_pg_reopen_verify_and_tamper)
{
    char err[STORE_MSG_MAX], line[STORE_MSG_MAX] = "";
    struct outcomes o;
    struct store *s, *s2 = NULL;
    uint64_t id, live = 0, problems = 99, n = 0;

    if (!fresh_db())
        return;
    s = open_pg();
    id = create(s, "t");
    submit(s, id, 1);
    submit(s, id, 2);
    flush_reap(s, &o);
    ck_assert_int_eq(store_open(url, NULL, &s2, err), STORE_UNAVAILABLE);
    ck_assert_str_eq(err, "postgresql: the database is in use by another "
                     "armmapd (its advisory lock is held)");
    store_close(s);

    s = open_pg();
    ck_assert_uint_eq(create(s, "t"), 2);   /* ids go on */
    flush_reap(s, &o);
    ck_assert_int_eq(store_foreach_live_machine(s, count_live, &live),
                     STORE_OK);
    ck_assert_uint_eq(live, 2);
    ck_assert_int_eq(store_foreach_event(s, id, 0, NULL, NULL, &n),
                     STORE_OK);
    ck_assert_uint_eq(n, 2);
    store_close(s);

    ck_assert_int_eq(store_verify(url, take_line, line, &problems, err),
                     STORE_OK);
    ck_assert_uint_eq(problems, 0);
    /* Events are packed per row (schema 6): the last byte of the row that
     * ends at seq 2 is seq 2's (its last args byte). */
    raw("UPDATE event_packs SET body = set_byte(body, length(body) - 1,"
        " get_byte(body, length(body) - 1) # 1)"
        " WHERE machine = 1 AND last_seq = 2");
    ck_assert_int_eq(store_verify(url, take_line, line, &problems, err),
                     STORE_OK);
    ck_assert_uint_eq(problems, 1);
    ck_assert_msg(strncmp(line, "machine 1 seq 2: checksum differs", 33) ==
                  0, "%s", line);
    s = open_pg();
    ck_assert_int_eq(store_foreach_event(s, id, 0, NULL, NULL, &n),
                     STORE_CORRUPT);
    ck_assert_uint_eq(n, 1);
    store_close(s);
}
END_TEST

START_TEST(test_pg_purge_by_tenant)
{
    struct outcomes o;
    struct store *s;
    uint64_t a, b, c, purged = 9, events = 9, max = 0;

    if (!fresh_db())
        return;
    s = open_pg();
    a = create(s, "alice");
    b = create(s, "bob");
    c = create(s, "alice");
    submit(s, a, 1);
    submit(s, a, 2);
    submit(s, b, 1);
    ck_assert_int_eq(store_submit_machine_destroy(s, a, 1000, NULL),
                     STORE_OK);
    ck_assert_int_eq(store_submit_machine_destroy(s, b, 1000, NULL),
                     STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 8);
    ck_assert_int_eq(store_purge(s, "alice", 500, 2000, &purged, &events),
                     STORE_OK);
    ck_assert_uint_eq(purged, 1);
    ck_assert_uint_eq(events, 2);
    ck_assert_int_eq(store_purge(s, NULL, 500, 2000, &purged, &events),
                     STORE_OK);
    ck_assert_uint_eq(purged, 1);       /* bob's */
    ck_assert_uint_eq(events, 1);
    ck_assert_int_eq(store_max_machine_id(s, &max), STORE_OK);
    ck_assert_uint_eq(max, c);
    store_close(s);
}
END_TEST

START_TEST(test_pg_errors_name_what_failed)
{
    char bad[300], err[STORE_MSG_MAX];
    struct store *s = NULL;

    if (!fresh_db())
        return;
    snprintf(bad, sizeof(bad), "postgresql:///no_such_db?host=%s&user="
             "postgres", server->dir);
    ck_assert_int_eq(store_open(bad, NULL, &s, err), STORE_UNAVAILABLE);
    ck_assert_msg(strstr(err, "postgresql: cannot connect: ") == err &&
                  strstr(err, "database \"no_such_db\" does not exist"),
                  "%s", err);
    ck_assert_int_eq(store_open("postgresql:///x?host=/nonexistent", NULL,
                                &s, err), STORE_UNAVAILABLE);
    ck_assert_msg(strstr(err, "postgresql: cannot connect: ") == err &&
                  strstr(err, "/nonexistent/.s.PGSQL.5432"), "%s", err);
    raw("CREATE TABLE machines (x int)");
    ck_assert_int_eq(store_open(url, NULL, &s, err), STORE_UNAVAILABLE);
    ck_assert_str_eq(err, "postgresql: the database has a machines table "
                     "but no armmap_meta: not an armmapd database");
}
END_TEST

START_TEST(test_pg_queue_busy_until_reaped)
{
    struct store_options opt = { .queue_max = 4 };
    struct store_event ev;
    struct store_stats st;
    struct outcomes o;
    char err[STORE_MSG_MAX];
    struct store *s = NULL;
    uint64_t id;

    if (!fresh_db())
        return;
    ck_assert_int_eq(store_open(url, &opt, &s, err), STORE_OK);
    id = create(s, "t");
    submit(s, id, 1);
    submit(s, id, 2);
    submit(s, id, 3);
    ev = ev_of(id, 4);
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_BUSY);
    ck_assert_int_eq(strncmp(store_errmsg(s), "write queue full (4 writes, ",
                             28), 0);
    store_flush(s);
    store_stats(s, &st);
    ck_assert_uint_eq(st.queued, 4);
    ck_assert_uint_eq(st.events, 3);
    ck_assert_uint_eq(st.machines_created, 1);
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_BUSY);
    memset(&o, 0, sizeof(o));
    ck_assert_uint_eq(store_reap(s, take, &o), 4);
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 1);
    ck_assert_int_eq(o.st[0], STORE_OK);
    /* Only ":memory:" stores are ever emptied. */
    ck_assert_int_eq(store_reset(s), STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(store_errmsg(s), "reset: a PostgreSQL database is "
                     "never emptied");
    store_close(s);
}
END_TEST

START_TEST(test_pg_size_limit_then_purge_frees_room)
{
    struct outcomes o;
    struct store *s;
    uint64_t id, purged = 0, events = 0;
    long long bytes;
    char want[STORE_MSG_MAX];

    if (!fresh_db())
        return;
    s = open_pg();
    id = create(s, "t");                /* counted: 128 + "t" "m" "cfg" */
    flush_reap(s, &o);
    submit(s, id, 1);
    submit(s, id, 2);
    submit(s, id, 3);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 3);
    ck_assert_int_eq(o.st[2], STORE_OK);
    /* The machine row, and each packed row's body plus 64: exactly full. */
    bytes = 133 + raw_int("SELECT sum(octet_length(body) + 64)"
                          " FROM event_packs");
    ck_assert_int_eq(store_set_max_bytes(s, (uint64_t)bytes), STORE_OK);
    submit(s, id, 4);
    flush_reap(s, &o);
    ck_assert_int_eq(o.st[0], STORE_UNAVAILABLE);
    snprintf(want, sizeof(want), "postgresql: database or disk is full (the "
             "size limit is %lld bytes)", bytes);
    ck_assert_str_eq(o.msg[0], want);
    ck_assert_int_eq(store_submit_machine_destroy(s, id, 100, NULL),
                     STORE_OK);
    flush_reap(s, &o);
    ck_assert_int_eq(o.st[0], STORE_OK);
    ck_assert_int_eq(store_purge(s, NULL, 0, 1000, &purged, &events),
                     STORE_OK);
    ck_assert_uint_eq(purged, 1);
    ck_assert_uint_eq(events, 3);
    id = create(s, "t");
    ck_assert_uint_eq(id, 2);
    submit(s, id, 1);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 2);
    ck_assert_int_eq(o.st[1], STORE_OK);
    store_close(s);
}
END_TEST

struct listed {
    size_t n;
    uint64_t id[8];
    int stop_after;                     /* 0: never */
};

static int take_id(void *arg, const struct store_machine *m)
{
    struct listed *l = arg;

    ck_assert_uint_lt(l->n, 8);
    ck_assert_ptr_null(m->config);
    l->id[l->n++] = m->id;
    return l->stop_after != 0 && (int)l->n == l->stop_after;
}

static struct store *reenter_store;
static enum store_status reenter_status;

static int reenter(void *arg, const struct store_event *ev)
{
    struct store_history_query q = { .machine = ev->machine };
    struct store_page page;

    (void)arg;
    reenter_status = store_history(reenter_store, &q, NULL, NULL, &page);
    return 0;
}

START_TEST(test_pg_list_by_tenant_and_reentry)
{
    struct store_machine_filter f = { .tenant = "alice" };
    struct store_history_query q = { .machine = 1 };
    struct store_page page;
    struct listed l = { 0 };
    struct outcomes o;
    struct store *s;
    bool more = true;
    uint64_t a, c;

    if (!fresh_db())
        return;
    s = open_pg();
    a = create(s, "alice");
    create(s, "bob");
    c = create(s, "alice");
    ck_assert_int_eq(store_submit_machine_destroy(s, c, 100, NULL),
                     STORE_OK);
    submit(s, a, 1);
    flush_reap(s, &o);
    ck_assert_int_eq(store_list_machines(s, &f, take_id, &l, &more),
                     STORE_OK);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_uint_eq(l.id[0], a);
    ck_assert(!more);
    memset(&l, 0, sizeof(l));
    f.include_destroyed = true;
    f.limit = 1;
    ck_assert_int_eq(store_list_machines(s, &f, take_id, &l, &more),
                     STORE_OK);
    ck_assert_uint_eq(l.n, 1);
    ck_assert(more);
    f.after_id = l.id[0];
    ck_assert_int_eq(store_list_machines(s, &f, take_id, &l, &more),
                     STORE_OK);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_uint_eq(l.id[1], c);
    ck_assert(!more);

    reenter_store = s;
    reenter_status = STORE_OK;
    ck_assert_int_eq(store_history(s, &q, reenter, NULL, &page), STORE_OK);
    ck_assert_int_eq(reenter_status, STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(store_errmsg(s), "history: called from inside "
                     "another query's callback");
    store_close(s);
}
END_TEST

START_TEST(test_pg_reconnects_after_the_server_drops_it)
{
    struct store_history_query q = { .machine = 1 };
    struct store_page page;
    struct outcomes o;
    struct store *s;
    PGconn *c;
    PGresult *r;
    uint64_t id;

    if (!fresh_db())
        return;
    s = open_pg();
    id = create(s, "t");
    submit(s, id, 1);
    flush_reap(s, &o);
    ck_assert_int_eq(o.st[1], STORE_OK);
    /* The server ends the store's two sessions (as at a restart). */
    c = PQconnectdb(url);
    r = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM"
               " pg_stat_activity WHERE datname = current_database()"
               " AND pid <> pg_backend_pid()");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "2");
    PQclear(r);
    PQfinish(c);
    /* The batch on the dead session fails whole; the next reconnects. */
    submit(s, id, 2);
    flush_reap(s, &o);
    ck_assert_int_eq(o.st[0], STORE_UNAVAILABLE);
    ck_assert_msg(strncmp(o.msg[0], "postgresql: ", 12) == 0, "%s",
                  o.msg[0]);
    submit(s, id, 2);
    flush_reap(s, &o);
    ck_assert_int_eq(o.st[0], STORE_OK);
    /* The reader's first query fails on its dead session, the next
     * reconnects. */
    ck_assert_int_eq(store_history(s, &q, NULL, NULL, &page),
                     STORE_UNAVAILABLE);
    ck_assert_msg(strncmp(store_errmsg(s), "postgresql: history: ", 21) == 0,
                  "%s", store_errmsg(s));
    ck_assert_int_eq(store_history(s, &q, NULL, NULL, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 2);
    store_close(s);
}
END_TEST

#define NTHREADS        4
#define PER_THREAD      2500

struct producer {
    struct store *s;
    uint64_t machine;
    unsigned busy;
};

/* Submits PER_THREAD events of one machine in seq order; a full queue is
 * waited out by the main thread's reaping (bounded). */
static void *produce(void *arg)
{
    struct producer *p = arg;
    uint64_t seq;

    for (seq = 1; seq <= PER_THREAD; seq++) {
        struct store_event ev = ev_of(p->machine, seq);
        enum store_status st;
        unsigned tries;

        for (tries = 0; tries < 1000000; tries++) {
            st = store_submit_event(p->s, &ev, NULL);
            if (st != STORE_BUSY)
                break;
            p->busy++;
            sched_yield();
        }
        ck_assert_int_eq(st, STORE_OK);
    }
    return NULL;
}

static void count_ok(void *arg, void *cookie, enum store_status st,
                     const char *msg)
{
    uint64_t *n = arg;

    (void)cookie;
    ck_assert_msg(st == STORE_OK, "%s", msg);
    (*n)++;
}

START_TEST(test_pg_threads_group_commit_in_order)
{
    struct store_options opt = { .queue_max = 1000 };
    struct producer p[NTHREADS];
    pthread_t t[NTHREADS];
    struct store_stats st;
    char err[STORE_MSG_MAX];
    struct outcomes o;
    struct store *s = NULL;
    uint64_t done = 0, n = 0;
    int i, rounds;

    if (!fresh_db())
        return;
    ck_assert_int_eq(store_open(url, &opt, &s, err), STORE_OK);
    for (i = 0; i < NTHREADS; i++) {
        p[i].s = s;
        p[i].machine = create(s, "t");
        p[i].busy = 0;
    }
    flush_reap(s, &o);
    for (i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, produce, &p[i]), 0);
    for (rounds = 0; done < NTHREADS * PER_THREAD && rounds < 1000000;
         rounds++) {
        store_flush(s);
        store_reap(s, count_ok, &done);
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    store_flush(s);
    store_reap(s, count_ok, &done);
    ck_assert_uint_eq(done, NTHREADS * PER_THREAD);
    store_stats(s, &st);
    ck_assert_uint_eq(st.events, NTHREADS * PER_THREAD);
    ck_assert_uint_lt(st.commits, NTHREADS * PER_THREAD);
    for (i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(store_foreach_event(s, p[i].machine, 0, NULL, NULL,
                                             &n), STORE_OK);
        ck_assert_uint_eq(n, PER_THREAD);
    }
    store_close(s);
}
END_TEST


/* A database of schema version 4 gets the request_keys table at open (one
 * additive step) and is version 5 after. */
static unsigned hexval(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

/* Makes this test's database one of schema version 5 as armmapd wrote it
 * before schema 6: the events table, one event a row with its sum, in
 * place of event_packs (whose rows are decoded here). */
static void to_schema_5(void)
{
    static unsigned char body[PACK_EVENTS_MAX * (PACK_HEAD_MAX + 4096)];
    static uint32_t w[STORE_MAX_ARGS];
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, "SELECT machine, body FROM event_packs"
                            " ORDER BY machine, first_seq");
    int i;

    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    raw("CREATE TABLE events ("
        " machine bigint NOT NULL, seq bigint NOT NULL, time bigint NOT NULL,"
        " op bigint NOT NULL, cpu bigint NOT NULL, args bytea NOT NULL,"
        " value bigint NOT NULL, aux bigint NOT NULL, flags bigint NOT NULL,"
        " status bigint NOT NULL, sum bigint NOT NULL,"
        " PRIMARY KEY (machine, seq))");
    for (i = 0; i < PQntuples(r); i++) {
        const char *hex = PQgetvalue(r, i, 1) + 2; /* after "\x" */
        size_t len = strlen(hex) / 2, k;
        struct pack_cur cur = { 0, 0 };
        struct store_event ev;
        const unsigned char *args;
        uint64_t sum;

        ck_assert_uint_le(len, sizeof(body));
        for (k = 0; k < len; k++)
            body[k] = (unsigned char)(hexval(hex[2 * k]) << 4 |
                                      hexval(hex[2 * k + 1]));
        while (cur.off < len) {
            char sql[512], ahex[64] = "";

            ck_assert(pack_get(body, len, &cur, 0, &ev, w, &sum, &args));
            ck_assert_uint_le(ev.nargs, 8);
            for (k = 0; k < 4 * (size_t)ev.nargs; k++)
                snprintf(ahex + 2 * k, 3, "%02x", args[k]);
            snprintf(sql, sizeof(sql),
                     "INSERT INTO events VALUES (%s, %" PRIu64 ", %" PRId64
                     ", %u, %u, '\\x%s', %u, %u, %u, %d, %" PRId64 ")",
                     PQgetvalue(r, i, 0), ev.seq, ev.time_ms, ev.op, ev.cpu,
                     ahex, ev.value, ev.aux, ev.flags, ev.status,
                     (int64_t)sum);
            raw(sql);
        }
    }
    PQclear(r);
    PQfinish(c);
    raw("DROP TABLE event_packs;"
        "UPDATE armmap_meta SET value = 5 WHERE key = 'schema_version'");
}

/* Keeps each event a walk gives, as text. */
struct texts {
    char v[64][160];
    size_t n;
};

static int take_text(void *arg, const struct store_event *ev)
{
    struct texts *t = arg;
    uint32_t i;
    int n;

    ck_assert_uint_lt(t->n, 64);
    n = snprintf(t->v[t->n], sizeof(t->v[0]),
                 "%" PRIu64 "/%" PRIu64 " t%" PRId64 " op%u cpu%u = %x %x %x"
                 " %d:", ev->machine, ev->seq, ev->time_ms, ev->op, ev->cpu,
                 ev->value, ev->aux, ev->flags, ev->status);
    for (i = 0; i < ev->nargs && n < 140; i++)
        n += snprintf(t->v[t->n] + n, sizeof(t->v[0]) - (size_t)n, " %x",
                      ev->args[i]);
    t->n++;
    return 0;
}

/* A schema 5 database (one event a row) is packed at open in its opening
 * transaction, sums as they were: the same events, verify finds nothing,
 * 40 events are 3 rows, and appends continue the chain. */
START_TEST(test_pg_schema_5_packed_at_open)
{
    struct texts before = { .n = 0 }, after = { .n = 0 };
    struct outcomes o;
    struct store *s;
    char err[STORE_MSG_MAX], line[STORE_MSG_MAX] = "";
    uint64_t id, seq, n, problems = 9;
    size_t i;

    if (!fresh_db())
        return;
    s = open_pg();
    id = create(s, "t");
    for (seq = 1; seq <= 40; seq++) {
        submit(s, id, seq);
        if (seq % 20 == 0)
            flush_reap(s, &o); /* o holds 32 outcomes */
    }
    ck_assert_int_eq(store_foreach_event(s, id, 0, take_text, &before, &n),
                     STORE_OK);
    ck_assert_uint_eq(n, 40);
    store_close(s);
    to_schema_5();
    ck_assert_int_eq(raw_int("SELECT count(*) FROM events"), 40);

    s = open_pg();
    ck_assert_int_eq(store_foreach_event(s, id, 0, take_text, &after, &n),
                     STORE_OK);
    ck_assert_uint_eq(after.n, before.n);
    for (i = 0; i < after.n; i++)
        ck_assert_str_eq(after.v[i], before.v[i]);
    submit(s, id, 41);
    flush_reap(s, &o);
    ck_assert_int_eq(o.st[0], STORE_OK);
    ck_assert_int_eq(store_foreach_event(s, id, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 41);
    store_close(s);
    ck_assert_int_eq(raw_int("SELECT value FROM armmap_meta"
                             " WHERE key = 'schema_version'"), 6);
    ck_assert_int_eq(raw_int("SELECT count(*) FROM event_packs"
                             " WHERE last_seq <= 40"), 3);
    ck_assert_int_eq(raw_int("SELECT count(*) FROM pg_tables"
                             " WHERE tablename = 'events'"), 0);
    ck_assert_int_eq(store_verify(url, take_line, line, &problems, err),
                     STORE_OK);
    ck_assert_msg(problems == 0, "%s", line);
}
END_TEST

START_TEST(test_pg_version_4_gets_request_keys)
{
    struct store *s;
    PGconn *c;
    PGresult *r;

    if (!fresh_db())
        return;
    s = open_pg();
    store_close(s);
    to_schema_5();
    raw("DROP TABLE request_keys;"
        "UPDATE armmap_meta SET value = 4 WHERE key = 'schema_version'");
    s = open_pg();
    store_close(s);
    c = PQconnectdb(url);
    r = PQexec(c, "SELECT (SELECT value FROM armmap_meta"
                  " WHERE key = 'schema_version'),"
                  " (SELECT count(*) FROM request_keys)");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "6"); /* then packed (6) */
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "0");
    PQclear(r);
    PQfinish(c);
}
END_TEST

static int rkey_seen(void *arg, const struct store_rkey *k)
{
    uint64_t *seen = arg;

    ck_assert_uint_eq(k->len, 5);
    ck_assert_int_eq(memcmp(k->reply, "first", 5), 0);
    seen[0]++;
    seen[1] = k->key;
    return 0;
}

/* A key above 2^31 (all 64 bits) is found by its own value: the query's
 * parameters are 64-bit (a retried change after a failover asks so). */
START_TEST(test_pg_request_key_lookup_by_64_bit_key)
{
    struct store_rkey k = { .machine = 1, .tenant = "t", .ord = 1,
                            .target = 1, .reply = "first", .len = 5 };
    struct store_event ev;
    uint64_t seen[2] = { 0, 0 };
    struct outcomes o;
    struct store *s;

    if (!fresh_db())
        return;
    s = open_pg();
    ck_assert_uint_eq(create(s, ""), 1);
    ev = ev_of(1, 1);
    k.key = UINT64_MAX;
    store_hold(s);
    ck_assert_int_eq(store_submit_event(s, &ev, (void *)7), STORE_OK);
    ck_assert_int_eq(store_submit_rkey(s, &k, (void *)7), STORE_OK);
    store_release(s);
    flush_reap(s, &o);
    ck_assert_int_eq(store_rkeys(s, 1, NULL, UINT64_MAX, rkey_seen, seen),
                     STORE_OK);
    ck_assert_uint_eq(seen[0], 1);
    ck_assert_uint_eq(seen[1], UINT64_MAX);
    ck_assert_int_eq(store_rkeys(s, 1, NULL, 0x89abcdef01u, rkey_seen, seen),
                     STORE_OK);
    ck_assert_uint_eq(seen[0], 1);
    store_close(s);
}
END_TEST

Suite *pg_suite(void)
{
    Suite *s = suite_create("pg");
    TCase *tc = tcase_create("contract");

    tcase_add_unchecked_fixture(tc, pgfix_setup, pgfix_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pg_append_conflict_history);
    tcase_add_test(tc, test_pg_units_all_or_nothing_and_counts);
    tcase_add_test(tc, test_pg_checkpoint_fork_and_reader);
    tcase_add_test(tc, test_pg_reopen_verify_and_tamper);
    tcase_add_test(tc, test_pg_purge_by_tenant);
    tcase_add_test(tc, test_pg_errors_name_what_failed);
    tcase_add_test(tc, test_pg_queue_busy_until_reaped);
    tcase_add_test(tc, test_pg_size_limit_then_purge_frees_room);
    tcase_add_test(tc, test_pg_list_by_tenant_and_reentry);
    tcase_add_test(tc, test_pg_reconnects_after_the_server_drops_it);
    tcase_add_test(tc, test_pg_version_4_gets_request_keys);
    tcase_add_test(tc, test_pg_schema_5_packed_at_open);
    tcase_add_test(tc, test_pg_request_key_lookup_by_64_bit_key);
    tcase_add_test(tc, test_pg_threads_group_commit_in_order);
    suite_add_tcase(s, tc);
    return s;
}
