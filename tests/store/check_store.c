/* tests/store/check_store.c - Check suites for the event store (store/).
 *
 * Every test works on a real database file in a directory of its own, made
 * with mkdtemp() by a checked fixture (so it is made and removed in the
 * forked child) and named by the global tmp_dir.  Tests that look inside
 * the file open it with SQLite directly, beside the store, as any other
 * reader of a WAL database could.
 *
 * Suites: "store" (behaviour), "speed" (1,000,000 events written through
 * group commit and read back; figures printed), and, only when STORE_BENCH
 * is set in the environment, "bench" (the figures quoted in store.h:
 * STORE_FULL, extra indexes, filter scans).
 */
#include "store.h"
#include "store_int.h" /* store__(un)pack_events() */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* ------------------------------------------------------------------ */
/* Fixtures and helpers                                                */
/* ------------------------------------------------------------------ */

static char tmp_dir[256];               /* this test's directory */
static char db_path[320];               /* tmp_dir/armmap.db */

/* Removes @dir and everything in it (one level of subdirectories). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1024];
    struct stat sb;

    if (d == NULL)
        return;
    chmod(dir, 0700);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void tmp_setup(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmp_dir, sizeof(tmp_dir), "%s/check_store.XXXXXX",
             base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    snprintf(db_path, sizeof(db_path), "%s/armmap.db", tmp_dir);
}

static void tmp_teardown(void)
{
    rm_tree(tmp_dir);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct store *open_ok(const char *path, const struct store_options *o)
{
    struct store *s = NULL;
    char err[STORE_MSG_MAX];
    enum store_status rc = store_open(path, o, &s, err);

    ck_assert_msg(rc == STORE_OK, "store_open: %s", err);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* What store_reap() reported. */
struct outcome {
    size_t n;                           /* completions */
    size_t ok;
    size_t by_status[8];
    enum store_status last_status;
    char last_msg[STORE_MSG_MAX];       /* of the last failure */
    uintptr_t *cookies;                 /* in order, if not NULL */
    size_t cap;
    size_t bad_msgs;                    /* successes with a message */
};

/* Callbacks called per row or per write count instead of asserting: each
 * passing ck_assert costs Check a write() to its message pipe, which would
 * dominate the speed figures. */
static void collect(void *arg, void *cookie, enum store_status st,
                    const char *msg)
{
    struct outcome *o = arg;

    if (o->cookies != NULL && o->n < o->cap)
        o->cookies[o->n] = (uintptr_t)cookie;
    o->n++;
    o->by_status[st]++;
    o->last_status = st;
    if (st == STORE_OK) {
        o->ok++;
        if (msg[0] != '\0')
            o->bad_msgs++;
    } else {
        snprintf(o->last_msg, sizeof(o->last_msg), "%s", msg);
    }
}

/* Waits on the notify descriptor and reaps until @n completions in all. */
static void reap_until(struct store *s, struct outcome *o, size_t n)
{
    struct pollfd p = { .fd = store_notify_fd(s), .events = POLLIN };
    double deadline = now_s() + 60;

    while (o->n < n) {
        ck_assert_msg(now_s() < deadline, "timed out: %zu of %zu reaped",
                      o->n, n);
        poll(&p, 1, 1000);
        store_reap(s, collect, o);
    }
}

static void flush_reap(struct store *s, struct outcome *o)
{
    store_flush(s);
    store_reap(s, collect, o);
    ck_assert_uint_eq(o->bad_msgs, 0);
}

static uint64_t create_machine(struct store *s, const char *tenant,
                               const char *name, int64_t when)
{
    uint64_t id = 0;

    ck_assert_int_eq(store_submit_machine_create(s, tenant, name,
                                                 "ram 0x80000000 256M",
                                                 when, NULL, &id), STORE_OK);
    return id;
}

/* The events of the query tests: seq n has op (n % 5) + 1, one argument
 * 0xc0000000 + n * 0x1000 and value 0xffe00000 + n. */
static struct store_event test_event(uint64_t machine, uint64_t seq,
                                     uint32_t *arg)
{
    struct store_event ev;

    memset(&ev, 0, sizeof(ev));
    *arg = 0xc0000000u + (uint32_t)seq * 0x1000u;
    ev.machine = machine;
    ev.seq = seq;
    ev.time_ms = 1700000000000 + (int64_t)seq;
    ev.op = (uint32_t)(seq % 5) + 1;
    ev.cpu = (uint32_t)(seq & 1);
    ev.nargs = 1;
    ev.args = arg;
    ev.value = 0xffe00000u + (uint32_t)seq;
    ev.aux = (uint32_t)seq * 3;
    ev.flags = (uint32_t)seq & 7;
    ev.status = 0;
    return ev;
}

static void submit_ok(struct store *s, const struct store_event *ev)
{
    ck_assert_int_eq(store_submit_event(s, ev, NULL), STORE_OK);
}

/* A store with machine 1 holding events 1..@n, all committed. */
static struct store *store_with_events(uint64_t n)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    uint32_t arg;
    uint64_t i;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1000), 1);
    for (i = 1; i <= n; i++) {
        struct store_event ev = test_event(1, i, &arg);

        submit_ok(s, &ev);
    }
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, n + 1);
    return s;
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;

    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

/* Whether @sql names the table "events" (the schema 5 layout). */
static bool names_events(const char *sql)
{
    const char *p;

    for (p = strstr(sql, "events"); p != NULL; p = strstr(p + 1, "events"))
        if ((p == sql || p[-1] == ' ' || p[-1] == '(') &&
            (p[6] == '\0' || strchr(" ;)", p[6]) != NULL))
            return true;
    return false;
}

/* Schema 6 packs events per row; a test that reads or damages single
 * events with SQL gets them as the table of schema 5 (machine, seq, ...,
 * sum) while it runs (@unpack true), then packed again as the store's
 * migration packs them, each sum as it is (false). */
static void events_table(sqlite3 *db, bool unpack)
{
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_msg((unpack ? store__unpack_events(db)
                          : store__pack_events(db)) == SQLITE_OK,
                  "%s events: %s", unpack ? "unpacking" : "packing",
                  sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

static sqlite3_int64 raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    sqlite3_int64 v;
    bool packed = names_events(sql);

    if (packed)
        events_table(db, true);

    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
                  "%s: %s", sql, sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (packed)
        events_table(db, false);
    return v;
}

static void raw_text(sqlite3 *db, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    bool packed = names_events(sql);

    if (packed)
        events_table(db, true);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (packed)
        events_table(db, false);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    bool packed = names_events(sql) && strstr(sql, "CREATE TABLE") == NULL;

    if (packed)
        events_table(db, true);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
                  "%s: %s", sql, msg ? msg : "");
    if (raw_int(db, "PRAGMA user_version") < 6 &&
        raw_int(db, "SELECT count(*) FROM sqlite_master"
                    " WHERE name = 'event_packs'") == 1) {
        /* Made an older database: events in the layout it had. */
        if (!packed)
            events_table(db, true);
        raw_exec(db, "DROP TABLE event_packs");
    } else if (packed) {
        events_table(db, false);
    }
}

/* Collects the seqs a query gives. */
struct seqs {
    uint64_t v[1000];
    size_t n;
    int stop_after;                     /* stop the walk after this many */
};

static int take_seq(void *arg, const struct store_event *ev)
{
    struct seqs *q = arg;

    ck_assert_uint_lt(q->n, 1000);
    q->v[q->n++] = ev->seq;
    return q->stop_after != 0 && (int)q->n == q->stop_after;
}

/* Checks that @q holds exactly @first, @first + @step, ... (@n values). */
static void expect_seqs(const struct seqs *q, uint64_t first, int64_t step,
                        size_t n)
{
    size_t i;

    ck_assert_uint_eq(q->n, n);
    for (i = 0; i < n; i++)
        ck_assert_uint_eq(q->v[i], first + (uint64_t)((int64_t)i * step));
}

/* ------------------------------------------------------------------ */
/* Opening: schema, versions, refusals                                 */
/* ------------------------------------------------------------------ */

START_TEST(test_schema_created_with_user_version)
{
    struct store *s = open_ok(db_path, NULL);
    sqlite3 *db;
    char text[512];

    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 6);
    ck_assert_int_eq(raw_int(db, "PRAGMA auto_vacuum"), 2); /* incremental */
    ck_assert_int_eq(raw_int(db, "PRAGMA page_size"), 16384);
    raw_text(db, "PRAGMA journal_mode", text, sizeof(text));
    ck_assert_str_eq(text, "wal");
    raw_text(db, "SELECT group_concat(name, ',') FROM (SELECT name FROM "
             "sqlite_master WHERE type = 'table' ORDER BY name)",
             text, sizeof(text));
    ck_assert_str_eq(text, "checkpoints,event_packs,machines,request_keys,"
                     "sqlite_sequence");
    /* The indexes the history queries need, and nothing else. */
    raw_text(db, "SELECT group_concat(name, ',') FROM sqlite_master"
             " WHERE type = 'index' AND sql IS NOT NULL", text, sizeof(text));
    ck_assert_str_eq(text, "machines_tenant,request_keys_ord");
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE"
                     " name = 'event_packs' AND sql LIKE '%PRIMARY KEY"
                     " (machine, first_seq)) WITHOUT ROWID'"), 1);
    sqlite3_close(db);

    /* Opening again runs no migration and keeps the version. */
    s = open_ok(db_path, NULL);
    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 6);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_newer_user_version_refused)
{
    struct store *s = open_ok(db_path, NULL);
    sqlite3 *db;
    char err[STORE_MSG_MAX], want[STORE_MSG_MAX];

    store_close(s);
    db = raw_open(db_path);
    raw_exec(db, "PRAGMA user_version = 7");
    sqlite3_close(db);
    s = NULL;
    ck_assert_int_eq(store_open(db_path, NULL, &s, err), STORE_UNAVAILABLE);
    ck_assert_ptr_null(s);
    snprintf(want, sizeof(want), "%s: database schema version 7 is newer "
             "than this armmapd supports (6); refusing to open it", db_path);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_garbage_file_refused)
{
    FILE *f = fopen(db_path, "w");
    struct store *s = NULL;
    char err[STORE_MSG_MAX], want[STORE_MSG_MAX];
    int i;

    ck_assert_ptr_nonnull(f);
    for (i = 0; i < 100; i++)
        fputs("this is not a database, it is a text file\n", f);
    fclose(f);
    ck_assert_int_eq(store_open(db_path, NULL, &s, err), STORE_UNAVAILABLE);
    ck_assert_ptr_null(s);
    snprintf(want, sizeof(want), "%s: file is not a database", db_path);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_foreign_database_refused)
{
    sqlite3 *db = raw_open(db_path);
    struct store *s = NULL;
    char err[STORE_MSG_MAX], want[STORE_MSG_MAX];

    raw_exec(db, "CREATE TABLE songs (title TEXT)");
    sqlite3_close(db);
    ck_assert_int_eq(store_open(db_path, NULL, &s, err), STORE_UNAVAILABLE);
    snprintf(want, sizeof(want), "%s: not an armmapd database (it has "
             "tables but no schema version)", db_path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* Runs store_open(@path) in a child process that, if we are root, drops
 * to nobody (root ignores permission bits), and returns its message. */
static enum store_status open_unprivileged(const char *path, char *err)
{
    int fds[2];
    pid_t pid;
    int wstatus;
    ssize_t n;
    char buf[1 + STORE_MSG_MAX];

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store *s = NULL;

        close(fds[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        buf[0] = (char)store_open(path, NULL, &s, buf + 1);
        store_close(s);
        if (write(fds[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf));
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
    ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
                  "child failed: %d", wstatus);
    ck_assert_int_eq(n, (ssize_t)sizeof(buf));
    memcpy(err, buf + 1, STORE_MSG_MAX);
    return (enum store_status)buf[0];
}

START_TEST(test_unwritable_directory_reported)
{
    char dir[300], path[400], err[STORE_MSG_MAX], want[1024];

    snprintf(dir, sizeof(dir), "%s/ro", tmp_dir);
    snprintf(path, sizeof(path), "%s/armmap.db", dir);
    ck_assert_int_eq(mkdir(dir, 0555), 0);
    ck_assert_int_eq(chmod(tmp_dir, 0755), 0);
    ck_assert_int_eq(open_unprivileged(path, err), STORE_UNAVAILABLE);
    snprintf(want, sizeof(want), "%s: cannot create the database: "
             "directory %s: Permission denied", path, dir);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_database_in_readonly_directory_reported)
{
    char dir[300], path[400], err[STORE_MSG_MAX];
    struct store *s;

    /* An existing database whose directory became read-only: WAL needs
     * to create its -wal and -shm files there. */
    snprintf(dir, sizeof(dir), "%s/ro", tmp_dir);
    snprintf(path, sizeof(path), "%s/armmap.db", dir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    s = open_ok(path, NULL);
    store_close(s);
    ck_assert_int_eq(chmod(path, 0666), 0);
    ck_assert_int_eq(chmod(dir, 0555), 0);
    ck_assert_int_eq(chmod(tmp_dir, 0755), 0);
    ck_assert_int_eq(open_unprivileged(path, err), STORE_UNAVAILABLE);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
                  err[strlen(path)] == ':', "message names the path: %s",
                  err);
}
END_TEST

START_TEST(test_second_open_refused)
{
    struct store *s = open_ok(db_path, NULL), *s2 = NULL;
    char err[STORE_MSG_MAX], want[STORE_MSG_MAX];

    ck_assert_int_eq(store_open(db_path, NULL, &s2, err), STORE_UNAVAILABLE);
    ck_assert_ptr_null(s2);
    snprintf(want, sizeof(want), "%s: the database is in use by another "
             "store", db_path);
    ck_assert_str_eq(err, want);
    store_close(s);
    s2 = open_ok(db_path, NULL);        /* free again once closed */
    store_close(s2);
}
END_TEST

/* ":memory:" is one database shared by the writer and the reader, private
 * to its store, and leaves no file behind. */
START_TEST(test_memory_database_shared_by_writer_and_reader)
{
    struct store *a = open_ok(":memory:", NULL);
    struct store *b = open_ok(":memory:", NULL);
    struct store_history_query q = { .machine = 1 };
    struct store_page page;
    struct outcome o = { 0 };
    struct seqs got = { .n = 0 };
    struct store *s = NULL;
    char err[STORE_MSG_MAX];
    uint32_t arg;
    uint64_t i;

    ck_assert_uint_eq(create_machine(a, "t", "m", 1000), 1);
    for (i = 1; i <= 300; i++) {
        struct store_event ev = test_event(1, i, &arg);

        submit_ok(a, &ev);
        if (i % 100 == 0) {             /* reads beside the writer */
            got.n = 0;
            ck_assert_int_eq(store_history(a, &q, take_seq, &got, &page),
                             STORE_OK);
        }
    }
    flush_reap(a, &o);
    ck_assert_uint_eq(o.ok, 301);
    got.n = 0;
    ck_assert_int_eq(store_history(a, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 1, 1, 300);
    got.n = 0;
    ck_assert_int_eq(store_history(b, &q, take_seq, &got, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 0);    /* b is another database */
    ck_assert_int_eq(access(":memory:", F_OK), -1);
    ck_assert_int_eq(access(":memory:-lock", F_OK), -1);
    store_close(b);
    store_close(a);

    ck_assert_int_eq(store_open("file:x.db", NULL, &s, err),
                     STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "file:x.db: the store takes a file path or "
                     "\":memory:\", not a URI");
    ck_assert_int_eq(store_open("", NULL, &s, err), STORE_INVALID_ARGUMENT);
    store_close(NULL);                  /* does nothing */
}
END_TEST

/* A machine and its event, committed (machines, sqlite_sequence and
 * event_packs hold rows), then a reset that empties those three tables. */
static void write_three_and_reset(struct store *s)
{
    struct outcome o = { 0 };
    struct store_stats st;
    struct store_event ev;
    uint32_t arg;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1000), 1);
    ev = test_event(1, 1, &arg);
    submit_ok(s, &ev);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 2);
    ck_assert_int_eq(store_reset(s), STORE_OK);
    store_stats(s, &st);
    ck_assert_uint_eq(st.reset_deletes, 3);
}

/* store_reset() deletes from the tables that hold rows and touches no
 * other: the fuzz harness resets after every input, and a DELETE on an
 * empty table still journals its root page.  After writes to all five
 * tables one reset empties them all (the next reset finds nothing). */
START_TEST(test_reset_deletes_only_from_tables_with_rows)
{
    struct store *s = open_ok(":memory:", NULL);
    struct store_history_query q = { .machine = 1 };
    struct store_page page;
    struct outcome o = { 0 };
    struct seqs got = { .n = 0 };
    struct store_stats st;
    struct store_rkey k;
    struct store_event ev;
    uint32_t arg;

    ck_assert_int_eq(store_reset(s), STORE_OK);
    store_stats(s, &st);
    ck_assert_uint_eq(st.reset_deletes, 0);

    write_three_and_reset(s);
    ck_assert_int_eq(store_reset(s), STORE_OK);
    store_stats(s, &st);
    ck_assert_uint_eq(st.reset_deletes, 0);

    /* All five: a checkpoint and a request key too. */
    memset(&o, 0, sizeof(o));
    ck_assert_uint_eq(create_machine(s, "t", "m", 1000), 1);
    memset(&k, 0, sizeof(k));
    k.machine = 1;
    k.tenant = "t";
    k.key = 42;
    k.ord = 1;
    k.target = 1;
    k.reply = "reply";
    k.len = 5;
    store_hold(s);
    ev = test_event(1, 1, &arg);
    ck_assert_int_eq(store_submit_event(s, &ev, (void *)7), STORE_OK);
    ck_assert_int_eq(store_submit_rkey(s, &k, (void *)7), STORE_OK);
    store_release(s);
    ck_assert_int_eq(store_submit_checkpoint(s, 1, 1, "abc", 3, NULL),
                     STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 3);
    ck_assert_int_eq(store_reset(s), STORE_OK);
    store_stats(s, &st);
    ck_assert_uint_eq(st.reset_deletes, 5);
    ck_assert_uint_eq(st.commits, 0);
    ck_assert_int_eq(store_reset(s), STORE_OK);
    store_stats(s, &st);
    ck_assert_uint_eq(st.reset_deletes, 0);
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 0);

    /* Ids from 1 again, as in a new store. */
    ck_assert_uint_eq(create_machine(s, "t", "m", 1000), 1);
    flush_reap(s, &o);
    store_close(s);
}
END_TEST

START_TEST(test_status_names)
{
    ck_assert_str_eq(store_status_name(STORE_OK), "OK");
    ck_assert_str_eq(store_status_name(STORE_BUSY), "BUSY");
    ck_assert_str_eq(store_status_name(STORE_UNAVAILABLE), "UNAVAILABLE");
    ck_assert_str_eq(store_status_name((enum store_status)99), "?");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_ids_assigned_at_submit_never_reused)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    uint64_t id, purged;

    ck_assert_uint_eq(create_machine(s, "a", "one", 1), 1);
    ck_assert_uint_eq(create_machine(s, "a", "two", 2), 2);
    ck_assert_uint_eq(create_machine(s, "a", "three", 3), 3);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 3);
    ck_assert_int_eq(store_max_machine_id(s, &id), STORE_OK);
    ck_assert_uint_eq(id, 3);
    ck_assert_int_eq(store_submit_machine_destroy(s, 3, 10, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_int_eq(store_purge(s, NULL, 0, 100, &purged, NULL), STORE_OK);
    ck_assert_uint_eq(purged, 1);
    store_close(s);

    s = open_ok(db_path, NULL);
    ck_assert_int_eq(store_max_machine_id(s, &id), STORE_OK);
    ck_assert_uint_eq(id, 3);           /* the purged machine still counts */
    ck_assert_uint_eq(create_machine(s, "a", "four", 4), 4);
    ck_assert_int_eq(store_max_machine_id(s, &id), STORE_OK);
    ck_assert_uint_eq(id, 3);           /* reserved, not yet committed */
    flush_reap(s, &o);
    ck_assert_int_eq(store_max_machine_id(s, &id), STORE_OK);
    ck_assert_uint_eq(id, 4);
    store_close(s);
}
END_TEST

#define NTHREADS        4
#define PER_THREAD      2500

struct producer {
    struct store *s;
    uint64_t machine;
    unsigned busy;                      /* STORE_BUSY answers seen */
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    uint32_t args[2];
    uint64_t seq;

    for (seq = 1; seq <= PER_THREAD; seq++) {
        struct store_event ev;
        enum store_status rc;
        uintptr_t cookie = (uintptr_t)(p->machine << 20 | seq);

        memset(&ev, 0, sizeof(ev));
        args[0] = (uint32_t)seq;
        args[1] = (uint32_t)p->machine;
        ev.machine = p->machine;
        ev.seq = seq;
        ev.op = 3;
        ev.nargs = 2;
        ev.args = args;
        ev.value = (uint32_t)(seq * 7);
        while ((rc = store_submit_event(p->s, &ev, (void *)cookie)) ==
               STORE_BUSY) {
            struct timespec ts = { 0, 100 * 1000 };

            p->busy++;
            nanosleep(&ts, NULL);
        }
        if (rc != STORE_OK)
            return "submit failed";
    }
    return NULL;
}

START_TEST(test_events_from_threads_all_committed_in_order)
{
    struct store_options opt = { .queue_max = 1000 };
    struct store *s = open_ok(db_path, &opt);
    struct producer p[NTHREADS];
    pthread_t th[NTHREADS];
    struct outcome o = { 0 };
    uintptr_t cookies[NTHREADS * PER_THREAD + NTHREADS];
    uint64_t next[NTHREADS + 1];
    struct store_stats st;
    struct store_machine *m;
    sqlite3 *db;
    size_t i;
    int t;

    for (t = 0; t < NTHREADS; t++)
        ck_assert_uint_eq(create_machine(s, "lab", "m", 1), (uint64_t)t + 1);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, NTHREADS);

    o = (struct outcome){ .cookies = cookies, .cap = NTHREADS * PER_THREAD };
    for (t = 0; t < NTHREADS; t++) {
        p[t] = (struct producer){ .s = s, .machine = (uint64_t)t + 1 };
        ck_assert_int_eq(pthread_create(&th[t], NULL, produce, &p[t]), 0);
    }
    reap_until(s, &o, NTHREADS * PER_THREAD);   /* while they submit */
    for (t = 0; t < NTHREADS; t++) {
        void *r;

        ck_assert_int_eq(pthread_join(th[t], &r), 0);
        ck_assert_ptr_null(r);
    }
    ck_assert_uint_eq(o.n, 10000);
    ck_assert_uint_eq(o.ok, 10000);

    /* Each machine's writes were reported in its submission order. */
    for (t = 1; t <= NTHREADS; t++)
        next[t] = 1;
    for (i = 0; i < o.n; i++) {
        uint64_t machine = cookies[i] >> 20, seq = cookies[i] & 0xfffff;

        ck_assert_uint_eq(seq, next[machine]);
        next[machine]++;
    }

    store_stats(s, &st);
    ck_assert_uint_eq(st.events, 10000);
    ck_assert_uint_eq(st.writes_failed, 0);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_lt(st.commits, 10000);   /* group commit */
    ck_assert_uint_gt(st.commits, 0);
    printf("10000 events from %d threads: %" PRIu64 " commits, largest "
           "batch %" PRIu64 ", busy answers %u/%u/%u/%u\n", NTHREADS,
           st.commits - 1, st.largest_batch, p[0].busy, p[1].busy,
           p[2].busy, p[3].busy);

    for (t = 1; t <= NTHREADS; t++) {
        ck_assert_int_eq(store_machine_dup(s, (uint64_t)t, &m), STORE_OK);
        ck_assert_uint_eq(m->nevents, PER_THREAD);
        ck_assert_uint_eq(m->last_seq, PER_THREAD);
        free(m);
    }
    store_close(s);

    /* In the file, in (machine, seq) order, nothing missing. */
    db = raw_open(db_path);
    {
        sqlite3_stmt *q = NULL;
        uint64_t want_m = 1, want_s = 1;

        events_table(db, true);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT machine, seq, value"
                         " FROM events", -1, &q, NULL), SQLITE_OK);
        while (sqlite3_step(q) == SQLITE_ROW) {
            ck_assert_uint_eq((uint64_t)sqlite3_column_int64(q, 0), want_m);
            ck_assert_uint_eq((uint64_t)sqlite3_column_int64(q, 1), want_s);
            ck_assert_int_eq(sqlite3_column_int64(q, 2),
                             (sqlite3_int64)want_s * 7);
            if (++want_s > PER_THREAD) {
                want_s = 1;
                want_m++;
            }
        }
        ck_assert_uint_eq(want_m, NTHREADS + 1);
        sqlite3_finalize(q);
        events_table(db, false);
    }
    sqlite3_close(db);
}
END_TEST

START_TEST(test_queue_full_answers_busy_until_reaped)
{
    struct store_options opt = { .queue_max = 4 };
    struct store *s = open_ok(db_path, &opt);
    struct outcome o = { 0 };
    struct store_stats st;
    uint32_t arg;
    uint64_t i;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    for (i = 1; i <= 3; i++) {
        struct store_event ev = test_event(1, i, &arg);

        submit_ok(s, &ev);
    }
    {
        struct store_event ev = test_event(1, 4, &arg);

        ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_BUSY);
        ck_assert_int_eq(strncmp(store_errmsg(s), "write queue full (4 "
                                 "writes, ", 24), 0);
        store_flush(s);
        /* Committed but not reaped: still counted, still busy. */
        store_stats(s, &st);
        ck_assert_uint_eq(st.queued, 4);
        ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_BUSY);
        ck_assert_uint_eq(store_reap(s, collect, &o), 4);
        ck_assert_uint_eq(o.ok, 4);
        submit_ok(s, &ev);
    }
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 5);
    store_close(s);
}
END_TEST

START_TEST(test_queue_bytes_bound)
{
    static uint32_t big[STORE_MAX_ARGS];
    struct store_options opt = { .queue_bytes_max = 6000 };
    struct store *s = open_ok(db_path, &opt);
    struct store_event ev = { .machine = 1, .seq = 1, .nargs = STORE_MAX_ARGS,
                              .args = big };
    struct outcome o = { 0 };

    /* One write always fits, however big; a second 4 KiB one does not. */
    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    flush_reap(s, &o);
    submit_ok(s, &ev);
    ev.seq = 2;
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_BUSY);
    flush_reap(s, &o);
    submit_ok(s, &ev);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 3);
    store_close(s);
}
END_TEST

START_TEST(test_notify_fd_readable_after_commit)
{
    struct store *s = open_ok(db_path, NULL);
    struct pollfd p = { .fd = store_notify_fd(s), .events = POLLIN };
    struct outcome o = { 0 };
    void *cookie = &o;

    ck_assert_int_eq(poll(&p, 1, 0), 0);
    ck_assert_int_eq(store_submit_machine_create(s, "t", "m", "cfg", 5,
                                                 cookie, &(uint64_t){ 0 }),
                     STORE_OK);
    ck_assert_int_eq(poll(&p, 1, 10000), 1);
    o.cookies = (uintptr_t[1]){ 0 };
    o.cap = 1;
    ck_assert_uint_eq(store_reap(s, collect, &o), 1);
    ck_assert_uint_eq(o.cookies[0], (uintptr_t)cookie);
    ck_assert_int_eq(o.last_status, STORE_OK);
    ck_assert_int_eq(poll(&p, 1, 0), 0);    /* drained */
    ck_assert_uint_eq(store_reap(s, collect, &o), 0);
    store_close(s);
}
END_TEST

START_TEST(test_single_writes_fail_alone)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct store_stats st;
    uint32_t arg;
    struct store_event e1 = test_event(1, 1, &arg);
    struct store_event e2 = test_event(1, 2, &arg);
    struct store_event e3 = test_event(1, 3, &arg);
    struct store_event lost = test_event(99, 1, &arg);

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    submit_ok(s, &e1);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 2);

    submit_ok(s, &lost);
    flush_reap(s, &o);
    ck_assert_int_eq(o.last_status, STORE_NOT_FOUND);
    ck_assert_str_eq(o.last_msg, "event 1: machine 99 does not exist");

    submit_ok(s, &e1);                  /* again */
    submit_ok(s, &e2);
    flush_reap(s, &o);
    /* Appends carry an expected version: seq 1 again is refused. */
    ck_assert_uint_eq(o.by_status[STORE_CONFLICT], 1);
    ck_assert_str_eq(o.last_msg, "machine 1: event seq 1 refused: expected "
                     "seq 2");
    ck_assert_uint_eq(o.ok, 3);         /* e2 committed beside it */

    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 50, NULL), STORE_OK);
    submit_ok(s, &e3);
    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 60, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 4);
    ck_assert_uint_eq(o.by_status[STORE_NOT_FOUND], 3);
    ck_assert_str_eq(o.last_msg, "destroy: machine 1 does not exist or is "
                     "already destroyed");

    store_stats(s, &st);
    ck_assert_uint_eq(st.events, 2);
    ck_assert_uint_eq(st.machines_created, 1);
    ck_assert_uint_eq(st.machines_destroyed, 1);
    ck_assert_uint_eq(st.writes_failed, 4);
    ck_assert_uint_eq(st.failed_batches, 0);
    store_close(s);
}
END_TEST

START_TEST(test_event_after_destroy_in_same_batch_fails)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    uint32_t arg;
    struct store_event e1 = test_event(1, 1, &arg);
    struct store_event e2 = test_event(1, 2, &arg);
    struct store_machine *m;

    /* Whatever the batching, the destroy is applied between e1 and e2. */
    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    submit_ok(s, &e1);
    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 70, NULL), STORE_OK);
    submit_ok(s, &e2);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 3);
    ck_assert_int_eq(o.last_status, STORE_NOT_FOUND);
    ck_assert_str_eq(o.last_msg, "event 2: machine 1 is destroyed");
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert_uint_eq(m->nevents, 1);
    ck_assert(m->destroyed);
    ck_assert_int_eq(m->destroyed_ms, 70);
    free(m);
    store_close(s);
}
END_TEST

START_TEST(test_invalid_submits_refused)
{
    struct store *s = open_ok(db_path, NULL);
    uint32_t arg = 0;
    struct store_event ev = test_event(1, 1, &arg);
    uint64_t id;

    ev.nargs = STORE_MAX_ARGS + 1;
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(store_errmsg(s), "event 1 of machine 1: invalid "
                     "(machine and seq must be 1..2^63-1, nargs 1025 at "
                     "most 1024)");
    ev.nargs = 1;
    ev.seq = 0;
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_INVALID_ARGUMENT);
    ev.seq = 1;
    ev.machine = 0;
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_INVALID_ARGUMENT);
    ev.machine = 1;
    ev.args = NULL;
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_INVALID_ARGUMENT);
    ck_assert_int_eq(store_submit_machine_create(s, "t", "n", NULL, 0, NULL,
                                                 &id),
                     STORE_INVALID_ARGUMENT);
    ck_assert_int_eq(store_submit_machine_destroy(s, 0, 0, NULL),
                     STORE_INVALID_ARGUMENT);
    store_close(s);
}
END_TEST

START_TEST(test_close_commits_what_is_queued)
{
    struct store *s = open_ok(db_path, NULL);
    uint32_t arg;
    uint64_t i, n;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    for (i = 1; i <= 1000; i++) {
        struct store_event ev = test_event(1, i, &arg);

        submit_ok(s, &ev);
    }
    store_close(s);                     /* no flush, no reap */
    s = open_ok(db_path, NULL);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 1000);
    store_close(s);
}
END_TEST

static void durability_roundtrip(enum store_durability d, int synchronous)
{
    struct store_options opt = { .durability = d };
    struct store *s = open_ok(db_path, &opt);
    struct store_stats st;
    struct outcome o = { 0 };
    uint32_t arg;
    uint64_t i, n;

    store_stats(s, &st);
    ck_assert_int_eq(st.synchronous, synchronous);
    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    for (i = 1; i <= 500; i++) {
        struct store_event ev = test_event(1, i, &arg);

        submit_ok(s, &ev);
    }
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 501);
    store_close(s);
    s = open_ok(db_path, &opt);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 500);
    store_close(s);
}

START_TEST(test_durability_full)
{
    durability_roundtrip(STORE_FULL, 2);
}
END_TEST

START_TEST(test_durability_normal)
{
    durability_roundtrip(STORE_NORMAL, 1);
}
END_TEST

/* Writes one 4 KiB event per batch until the page limit stops one. */
static uint64_t fill_until_full(struct store *s, struct outcome *o,
                                uint64_t seq)
{
    static uint32_t big[STORE_MAX_ARGS];
    struct store_event ev = { .machine = 1, .nargs = STORE_MAX_ARGS,
                              .args = big };

    for (;; seq++) {
        size_t before = o->ok;

        ck_assert_uint_lt(seq, 10000);
        big[0] = (uint32_t)seq;
        ev.seq = seq;
        submit_ok(s, &ev);
        flush_reap(s, o);
        if (o->ok == before)
            return seq;                 /* this one failed */
    }
}

START_TEST(test_disk_full_fails_batch_then_resumes)
{
    struct store_options opt = { .max_bytes = 64 * 16384 };
    struct store *s = open_ok(db_path, &opt);
    struct outcome o = { 0 };
    struct store_stats st;
    struct store_machine *m;
    struct seqs got = { .n = 0 };
    struct store_page page;
    struct store_history_query q = { .machine = 1 };
    uint64_t failed_seq, n;
    uint32_t arg;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 1);
    failed_seq = fill_until_full(s, &o, 1);
    ck_assert_uint_gt(failed_seq, 5);
    ck_assert_int_eq(o.last_status, STORE_UNAVAILABLE);
    ck_assert_str_eq(o.last_msg, "database or disk is full");
    store_stats(s, &st);
    ck_assert_uint_eq(st.failed_batches, 1);
    ck_assert_uint_eq(st.writes_failed, 1);
    ck_assert_uint_eq(st.events, failed_seq - 1);

    /* Reads keep working and see exactly what committed. */
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, failed_seq - 1);
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 1, 1, failed_seq - 1);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert_uint_eq(m->nevents, failed_seq - 1);
    free(m);

    /* The next batch is tried afresh: a small event may still fit in the
     * last page; a second big one fails again, all of its batch with it. */
    ck_assert_uint_eq(fill_until_full(s, &o, failed_seq), failed_seq);
    {
        struct store_event e1 = test_event(1, failed_seq, &arg);
        struct store_event e2 = test_event(1, failed_seq + 1, &arg);
        static uint32_t big[STORE_MAX_ARGS];
        struct store_event e3 = { .machine = 1, .seq = failed_seq + 2,
                                  .nargs = STORE_MAX_ARGS, .args = big };
        size_t fails = o.by_status[STORE_UNAVAILABLE];

        submit_ok(s, &e1);
        submit_ok(s, &e2);
        submit_ok(s, &e3);
        flush_reap(s, &o);
        store_stats(s, &st);
        /* Every write of a failed batch is reported failed. */
        ck_assert_uint_eq(st.writes_failed, o.by_status[STORE_UNAVAILABLE]);
        ck_assert_uint_gt(o.by_status[STORE_UNAVAILABLE], fails);
    }

    /* Room again: writing resumes. */
    ck_assert_int_eq(store_set_max_bytes(s, 0), STORE_OK);
    {
        /* The machine goes on after its last stored event (small ones of
         * the block above may have committed in a batch of their own). */
        struct store_event again;
        size_t ok = o.ok;

        ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
        again = test_event(1, m->last_seq + 1, &arg);
        free(m);

        submit_ok(s, &again);
        flush_reap(s, &o);
        ck_assert_uint_eq(o.ok, ok + 1);
    }
    store_close(s);
}
END_TEST

START_TEST(test_purge_frees_room_when_full)
{
    struct store_options opt = { .max_bytes = 64 * 16384 };
    struct store *s = open_ok(db_path, &opt);
    struct outcome o = { 0 };
    uint64_t purged, failed_seq, id;
    uint32_t arg;
    struct store_event ev;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    flush_reap(s, &o);
    failed_seq = fill_until_full(s, &o, 1);
    ck_assert_int_eq(o.last_status, STORE_UNAVAILABLE);
    /* Destroying is a small write; then the purge gives pages back. */
    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 100, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_int_eq(o.last_status, STORE_OK);
    ck_assert_int_eq(store_purge(s, NULL, 0, 1000, &purged, NULL), STORE_OK);
    ck_assert_uint_eq(purged, 1);
    id = create_machine(s, "t", "m2", 2);
    ck_assert_uint_eq(id, 2);
    ev = test_event(id, 1, &arg);
    submit_ok(s, &ev);
    flush_reap(s, &o);
    ck_assert_int_eq(o.last_status, STORE_OK);
    ck_assert_uint_eq(o.ok, failed_seq + 3);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_history_seq_range_paged)
{
    struct store *s = store_with_events(100);
    struct store_history_query q = { .machine = 1, .seq_first = 10,
                                     .seq_last = 50, .limit = 15 };
    struct store_page page;
    struct seqs got = { .n = 0 };

    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 10, 1, 15);
    ck_assert_uint_eq(page.rows, 15);
    ck_assert(page.more);
    ck_assert_uint_eq(page.cursor, 24);

    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 25, 1, 15);
    ck_assert(page.more);
    ck_assert_uint_eq(page.cursor, 39);

    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 40, 1, 11);
    ck_assert(!page.more);
    ck_assert_uint_eq(page.cursor, 50);

    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    ck_assert_uint_eq(got.n, 0);
    ck_assert(!page.more);
    ck_assert_uint_eq(page.cursor, 50);

    /* Unbounded, no limit: everything; an unknown machine: nothing. */
    got.n = 0;
    q = (struct store_history_query){ .machine = 1 };
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 1, 1, 100);
    q.machine = 7;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 0);
    store_close(s);
}
END_TEST

/* Keeps full copies of the events a walk gives. */
struct copies {
    struct store_event ev[4];
    uint32_t args[4][4];
    int n;
};

static int take_copy(void *arg, const struct store_event *ev)
{
    struct copies *c = arg;
    uint32_t i;

    ck_assert_int_lt(c->n, 4);
    ck_assert_uint_le(ev->nargs, 4);
    c->ev[c->n] = *ev;
    for (i = 0; i < ev->nargs; i++)
        c->args[c->n][i] = ev->args[i];
    c->ev[c->n].args = c->args[c->n];
    c->n++;
    return 0;
}

START_TEST(test_event_fields_round_trip)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    uint32_t args[3] = { 0x9f000, 0xffffffffu, 0 };
    struct store_event ev = { .machine = 1, .seq = 1, .time_ms = -5,
                              .op = 9, .cpu = 31, .nargs = 3, .args = args,
                              .value = 0xfff00000u, .aux = 0x80000000u,
                              .flags = 0x7, .status = -3 };
    struct store_event none = { .machine = 1, .seq = 2, .op = 15,
                                .time_ms = 1700000000123 };
    struct copies c = { .n = 0 };
    uint64_t n;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    submit_ok(s, &ev);
    submit_ok(s, &none);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 3);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, take_copy, &c, &n),
                     STORE_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(c.ev[0].machine, 1);
    ck_assert_uint_eq(c.ev[0].seq, 1);
    ck_assert_int_eq(c.ev[0].time_ms, -5);
    ck_assert_uint_eq(c.ev[0].op, 9);
    ck_assert_uint_eq(c.ev[0].cpu, 31);
    ck_assert_uint_eq(c.ev[0].nargs, 3);
    ck_assert_uint_eq(c.ev[0].args[0], 0x9f000);
    ck_assert_uint_eq(c.ev[0].args[1], 0xffffffffu);
    ck_assert_uint_eq(c.ev[0].args[2], 0);
    ck_assert_uint_eq(c.ev[0].value, 0xfff00000u);
    ck_assert_uint_eq(c.ev[0].aux, 0x80000000u);
    ck_assert_uint_eq(c.ev[0].flags, 7);
    ck_assert_int_eq(c.ev[0].status, -3);
    ck_assert_uint_eq(c.ev[1].seq, 2);
    ck_assert_uint_eq(c.ev[1].nargs, 0);
    ck_assert_uint_eq(c.ev[1].op, 15);
    ck_assert_int_eq(c.ev[1].time_ms, 1700000000123);
    store_close(s);

    /* On disk the args are little-endian 32-bit words. */
    {
        sqlite3 *db = raw_open(db_path);
        char hex[64];

        raw_text(db, "SELECT hex(args) FROM events WHERE seq = 1", hex,
                 sizeof(hex));
        ck_assert_str_eq(hex, "00F00900FFFFFFFF00000000");
        sqlite3_close(db);
    }
}
END_TEST

START_TEST(test_history_by_op_paged)
{
    struct store *s = store_with_events(100);
    struct store_history_query q = { .machine = 1, .by_op = true, .op = 3,
                                     .limit = 8 };
    struct store_page page;
    struct seqs got = { .n = 0 };

    /* op 3: seq % 5 == 2, i.e. 2, 7, ..., 97: twenty events. */
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 2, 5, 8);
    ck_assert(page.more);
    ck_assert_uint_eq(page.cursor, 37);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 42, 5, 8);
    ck_assert(page.more);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 82, 5, 4);
    ck_assert(!page.more);
    ck_assert_uint_eq(page.cursor, 97);

    /* Combined with a range: op 3 within 10..30 is 12, 17, 22, 27. */
    got.n = 0;
    q = (struct store_history_query){ .machine = 1, .by_op = true, .op = 3,
                                      .seq_first = 10, .seq_last = 30 };
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 12, 5, 4);
    store_close(s);
}
END_TEST

START_TEST(test_history_by_address)
{
    struct store *s = store_with_events(100);
    struct store_history_query q = { .machine = 1, .by_addr = true };
    struct store_page page;
    struct seqs got = { .n = 0 };
    struct outcome o = { 0 };
    uint32_t vmap[3] = { 0x100, 0x200, 0x5000 };
    struct store_event ev = { .machine = 1, .seq = 101, .op = 9,
                              .nargs = 3, .args = vmap, .value = 0xf0000000u };

    /* Argument words: 0xc0000000 + seq * 0x1000. */
    q.addr_first = 0xc0014000u;         /* seq 20 */
    q.addr_last = 0xc001d000u;          /* seq 29 */
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 20, 1, 10);

    /* Bounds are inclusive; one byte less leaves the last one out. */
    got.n = 0;
    q.addr_last = 0xc001cfffu;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 20, 1, 9);
    got.n = 0;
    q.addr_first = q.addr_last = 0xc0014000u;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 20, 1, 1);

    /* The value counts too: 0xffe00000 + seq. */
    got.n = 0;
    q.addr_first = 0xffe00005u;
    q.addr_last = 0xffe00007u;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 5, 1, 3);

    /* Any argument word, not only the first. */
    submit_ok(s, &ev);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 1);
    got.n = 0;
    q.addr_first = 0x4000;
    q.addr_last = 0x5fff;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 101, 1, 1);

    /* Paged and newest first. */
    got.n = 0;
    q = (struct store_history_query){ .machine = 1, .by_addr = true,
                                      .addr_first = 0xc0000000u,
                                      .addr_last = 0xc0063000u, /* 1..99 */
                                      .newest_first = true, .limit = 40 };
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 99, -1, 40);
    ck_assert(page.more);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 59, -1, 40);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 19, -1, 19);
    ck_assert(!page.more);

    /* An empty range is an error, not an empty answer. */
    q.addr_first = 2;
    q.addr_last = 1;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page),
                     STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(store_errmsg(s), "history: empty address range");
    store_close(s);
}
END_TEST

START_TEST(test_history_newest_first_paged)
{
    struct store *s = store_with_events(100);
    struct store_history_query q = { .machine = 1, .newest_first = true,
                                     .limit = 30 };
    struct store_page page;
    struct seqs got = { .n = 0 };

    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 100, -1, 30);
    ck_assert(page.more);
    ck_assert_uint_eq(page.cursor, 71);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 70, -1, 30);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 40, -1, 30);
    ck_assert(page.more);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 10, -1, 10);
    ck_assert(!page.more);
    ck_assert_uint_eq(page.cursor, 1);

    /* With a range and an op: op 1 (seq % 5 == 0) within 20..60. */
    got.n = 0;
    q = (struct store_history_query){ .machine = 1, .newest_first = true,
                                      .seq_first = 20, .seq_last = 60,
                                      .by_op = true, .op = 1, .limit = 4 };
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 60, -5, 4);
    ck_assert(page.more);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 40, -5, 4);
    ck_assert(page.more);
    got.n = 0;
    q.cursor = page.cursor;
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 20, -5, 1);
    ck_assert(!page.more);

    /* A callback that stops: more, and the cursor resumes after it. */
    got.n = 0;
    got.stop_after = 3;
    q = (struct store_history_query){ .machine = 1, .newest_first = true };
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 100, -1, 3);
    ck_assert(page.more);
    ck_assert_uint_eq(page.cursor, 98);
    store_close(s);
}
END_TEST

struct counts {
    uint32_t op[16];
    uint64_t n[16];
    int k;
};

static void take_count(void *arg, uint32_t op, uint64_t count)
{
    struct counts *c = arg;

    ck_assert_int_lt(c->k, 16);
    c->op[c->k] = op;
    c->n[c->k] = count;
    c->k++;
}

START_TEST(test_op_counts)
{
    struct store *s = store_with_events(103);
    struct counts c = { .k = 0 };
    int i;

    /* Seqs 1..103: op (seq % 5) + 1; ops 2, 3 and 4 get one more. */
    ck_assert_int_eq(store_op_counts(s, 1, take_count, &c), STORE_OK);
    ck_assert_int_eq(c.k, 5);
    for (i = 0; i < 5; i++)
        ck_assert_uint_eq(c.op[i], (uint32_t)i + 1);
    ck_assert_uint_eq(c.n[0], 20);
    ck_assert_uint_eq(c.n[1], 21);
    ck_assert_uint_eq(c.n[2], 21);
    ck_assert_uint_eq(c.n[3], 21);
    ck_assert_uint_eq(c.n[4], 20);
    c.k = 0;
    ck_assert_int_eq(store_op_counts(s, 2, take_count, &c), STORE_OK);
    ck_assert_int_eq(c.k, 0);
    store_close(s);
}
END_TEST

static void sum_count(void *arg, uint32_t op, uint64_t count)
{
    uint64_t *sum = arg;

    ck_assert_uint_lt(op, 8);
    sum[op] += count;
}

/* Counted in slices of 10, 103 events give the same counts as one scan;
 * each slice says where it stopped, the last one 0. */
START_TEST(test_op_counts_in_slices)
{
    struct store *s = store_with_events(103);
    uint64_t sum[8] = { 0 }, last = 0, after = 0;
    int slices = 0;

    do {
        ck_assert_int_eq(store_op_counts_page(s, 1, after, 10, sum_count,
                                              sum, &last), STORE_OK);
        if (last != 0) {
            ck_assert_uint_eq(last, after + 10 < 103 ? after + 10 : 103);
            slices++;
        }
        after = last;
    } while (last != 0 && slices < 100);
    ck_assert_int_eq(slices, 11);
    ck_assert_uint_eq(sum[0], 0);
    ck_assert_uint_eq(sum[1], 20);
    ck_assert_uint_eq(sum[2], 21);
    ck_assert_uint_eq(sum[3], 21);
    ck_assert_uint_eq(sum[4], 21);
    ck_assert_uint_eq(sum[5], 20);
    ck_assert_int_eq(store_op_counts_page(s, 2, 0, 10, sum_count, sum,
                                          &last), STORE_OK);
    ck_assert_uint_eq(last, 0);
    ck_assert_int_eq(store_op_counts_page(s, 0, 0, 10, sum_count, sum,
                                          &last), STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(store_errmsg(s), "op counts: machine 0");
    store_close(s);
}
END_TEST

struct listing {
    uint64_t id[16];
    uint64_t nevents[16];
    bool destroyed[16];
    char tenant[16][16];
    int n;
};

static int take_machine(void *arg, const struct store_machine *m)
{
    struct listing *l = arg;

    ck_assert_int_lt(l->n, 16);
    ck_assert_ptr_null(m->config);     /* lists do not read configs */
    l->id[l->n] = m->id;
    l->nevents[l->n] = m->nevents;
    l->destroyed[l->n] = m->destroyed;
    snprintf(l->tenant[l->n], sizeof(l->tenant[0]), "%s", m->tenant);
    l->n++;
    return 0;
}

START_TEST(test_list_machines)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct listing l = { .n = 0 };
    struct store_machine_filter f = { 0 };
    uint32_t arg;
    uint64_t i, j;
    bool more;

    /* 1..3 alice, 4..5 bob; machine k gets k * 10 events; 2 destroyed. */
    for (i = 1; i <= 5; i++)
        ck_assert_uint_eq(create_machine(s, i <= 3 ? "alice" : "bob", "m",
                                         (int64_t)i), i);
    for (i = 1; i <= 5; i++)
        for (j = 1; j <= i * 10; j++) {
            struct store_event ev = test_event(i, j, &arg);

            submit_ok(s, &ev);
        }
    ck_assert_int_eq(store_submit_machine_destroy(s, 2, 99, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 5 + 150 + 1);

    ck_assert_int_eq(store_list_machines(s, NULL, take_machine, &l, &more),
                     STORE_OK);
    ck_assert_int_eq(l.n, 4);
    ck_assert(!more);
    ck_assert_uint_eq(l.id[0], 1);
    ck_assert_uint_eq(l.id[1], 3);
    ck_assert_uint_eq(l.id[3], 5);
    ck_assert_uint_eq(l.nevents[0], 10);
    ck_assert_uint_eq(l.nevents[1], 30);
    ck_assert_uint_eq(l.nevents[3], 50);
    ck_assert_str_eq(l.tenant[3], "bob");

    l.n = 0;
    f.include_destroyed = true;
    ck_assert_int_eq(store_list_machines(s, &f, take_machine, &l, &more),
                     STORE_OK);
    ck_assert_int_eq(l.n, 5);
    ck_assert_uint_eq(l.id[1], 2);
    ck_assert(l.destroyed[1]);
    ck_assert_uint_eq(l.nevents[1], 20);

    l.n = 0;
    f = (struct store_machine_filter){ .tenant = "alice" };
    ck_assert_int_eq(store_list_machines(s, &f, take_machine, &l, &more),
                     STORE_OK);
    ck_assert_int_eq(l.n, 2);
    ck_assert_uint_eq(l.id[0], 1);
    ck_assert_uint_eq(l.id[1], 3);

    /* Paging: two at a time, every tenant, destroyed included. */
    l.n = 0;
    f = (struct store_machine_filter){ .include_destroyed = true,
                                       .limit = 2 };
    ck_assert_int_eq(store_list_machines(s, &f, take_machine, &l, &more),
                     STORE_OK);
    ck_assert_int_eq(l.n, 2);
    ck_assert(more);
    f.after_id = l.id[1];
    ck_assert_int_eq(store_list_machines(s, &f, take_machine, &l, &more),
                     STORE_OK);
    ck_assert_int_eq(l.n, 4);
    ck_assert(more);
    f.after_id = l.id[3];
    ck_assert_int_eq(store_list_machines(s, &f, take_machine, &l, &more),
                     STORE_OK);
    ck_assert_int_eq(l.n, 5);
    ck_assert(!more);
    for (i = 0; i < 5; i++)
        ck_assert_uint_eq(l.id[i], i + 1);

    l.n = 0;
    f = (struct store_machine_filter){ .tenant = "carol" };
    ck_assert_int_eq(store_list_machines(s, &f, take_machine, &l, NULL),
                     STORE_OK);
    ck_assert_int_eq(l.n, 0);
    store_close(s);
}
END_TEST

START_TEST(test_machine_dup)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct store_machine *m = NULL;
    uint64_t id;

    ck_assert_int_eq(store_submit_machine_create(s, "alice", "lab1",
                                                 "ram 0x80000000 768M\n"
                                                 "highmem yes\n",
                                                 1700000000000, NULL, &id),
                     STORE_OK);
    ck_assert_int_eq(store_submit_machine_create(s, NULL, NULL, "x", 1, NULL,
                                                 &id), STORE_OK);
    flush_reap(s, &o);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert_uint_eq(m->id, 1);
    ck_assert_str_eq(m->tenant, "alice");
    ck_assert_str_eq(m->name, "lab1");
    ck_assert_str_eq(m->config, "ram 0x80000000 768M\nhighmem yes\n");
    ck_assert_int_eq(m->created_ms, 1700000000000);
    ck_assert(!m->destroyed);
    ck_assert_int_eq(m->destroyed_ms, 0);
    ck_assert_uint_eq(m->nevents, 0);
    ck_assert_uint_eq(m->last_seq, 0);
    free(m);
    ck_assert_int_eq(store_machine_dup(s, 2, &m), STORE_OK);
    ck_assert_str_eq(m->tenant, "");
    ck_assert_str_eq(m->name, "");
    free(m);
    ck_assert_int_eq(store_machine_dup(s, 3, &m), STORE_NOT_FOUND);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(store_errmsg(s), "machine 3 not found");
    store_close(s);
}
END_TEST

/* The rows' counts are written at destroy and at close, and marked stale
 * meanwhile; readers see the committed counts all along, and a session
 * that ends without a close (a crash) is recounted at the next open. */
START_TEST(test_counts_written_at_close_recounted_after_crash)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct store_machine *m = NULL;
    uint32_t arg;
    sqlite3 *db;
    uint64_t j;

    ck_assert_uint_eq(create_machine(s, "alice", "a", 1), 1);
    ck_assert_uint_eq(create_machine(s, "alice", "b", 2), 2);
    for (j = 1; j <= 7; j++) {
        struct store_event ev = test_event(1, j, &arg);

        submit_ok(s, &ev);
    }
    for (j = 1; j <= 3; j++) {
        struct store_event ev = test_event(2, j, &arg);

        submit_ok(s, &ev);
    }
    flush_reap(s, &o);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert_uint_eq(m->nevents, 7);
    ck_assert_uint_eq(m->last_seq, 7);
    free(m);
    /* While open, the rows lag and say so. */
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "SELECT nevents FROM machines WHERE id = 1"),
                     0);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM machines"
                     " WHERE counts_stale = 1"), 2);
    sqlite3_close(db);
    store_close(s);

    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "SELECT nevents FROM machines WHERE id = 1"),
                     7);
    ck_assert_int_eq(raw_int(db, "SELECT last_seq FROM machines WHERE id = 2"),
                     3);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM machines"
                     " WHERE counts_stale = 1"), 0);
    /* A session that died after committing events 6 and 7 of machine 1:
     * its row still says 5 and is marked. */
    raw_exec(db, "UPDATE machines SET nevents = 5, last_seq = 5,"
             " counts_stale = 1 WHERE id = 1");
    sqlite3_close(db);

    s = open_ok(db_path, NULL);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert_uint_eq(m->nevents, 7);
    ck_assert_uint_eq(m->last_seq, 7);
    free(m);
    /* A destroy writes the exact counts at once, its batch's included. */
    for (j = 1; j <= 4; j++) {
        struct store_event ev = test_event(2, 3 + j, &arg);

        submit_ok(s, &ev);
    }
    ck_assert_int_eq(store_submit_machine_destroy(s, 2, 99, NULL), STORE_OK);
    flush_reap(s, &o);
    db = raw_open(db_path);
    /* The recount was in memory (opening writes nothing): machine 1's row
     * is still marked, and gets its counts at close. */
    ck_assert_int_eq(raw_int(db, "SELECT counts_stale FROM machines"
                     " WHERE id = 1"), 1);
    ck_assert_int_eq(raw_int(db, "SELECT nevents FROM machines WHERE id = 2"),
                     7);
    ck_assert_int_eq(raw_int(db, "SELECT last_seq FROM machines WHERE id = 2"),
                     7);
    ck_assert_int_eq(raw_int(db, "SELECT counts_stale FROM machines"
                     " WHERE id = 2"), 0);
    sqlite3_close(db);
    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "SELECT nevents FROM machines WHERE id = 1"),
                     7);
    ck_assert_int_eq(raw_int(db, "SELECT counts_stale FROM machines"
                     " WHERE id = 1"), 0);
    sqlite3_close(db);
}
END_TEST

/* Recovery's pattern: for each live machine, replay its events. */
struct replay {
    uint64_t ids[8];
    char configs[8][32];
    uint64_t events[8];
    int n;
    struct store *s;
};

static int replay_machine(void *arg, const struct store_machine *m)
{
    struct replay *r = arg;
    uint64_t n;

    ck_assert_int_lt(r->n, 8);
    r->ids[r->n] = m->id;
    snprintf(r->configs[r->n], sizeof(r->configs[0]), "%s", m->config);
    ck_assert_int_eq(store_foreach_event(r->s, m->id, 0, NULL, NULL, &n),
                     STORE_OK);
    r->events[r->n] = n;
    r->n++;
    return 0;
}

START_TEST(test_foreach_live_machine)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct replay r = { .n = 0, .s = s };
    uint32_t arg;
    uint64_t id, i;

    for (i = 1; i <= 3; i++) {
        char cfg[32];

        snprintf(cfg, sizeof(cfg), "config %" PRIu64, i);
        ck_assert_int_eq(store_submit_machine_create(s, "t", "m", cfg, 1,
                                                     NULL, &id), STORE_OK);
        for (uint64_t j = 1; j <= i * 3; j++) {
            struct store_event ev = test_event(id, j, &arg);

            submit_ok(s, &ev);
        }
    }
    ck_assert_int_eq(store_submit_machine_destroy(s, 2, 5, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 3 + 18 + 1);
    ck_assert_int_eq(store_foreach_live_machine(s, replay_machine, &r),
                     STORE_OK);
    ck_assert_int_eq(r.n, 2);
    ck_assert_uint_eq(r.ids[0], 1);
    ck_assert_str_eq(r.configs[0], "config 1");
    ck_assert_uint_eq(r.events[0], 3);
    ck_assert_uint_eq(r.ids[1], 3);
    ck_assert_str_eq(r.configs[1], "config 3");
    ck_assert_uint_eq(r.events[1], 9);
    store_close(s);
}
END_TEST

START_TEST(test_foreach_event_upto_and_stop)
{
    struct store *s = store_with_events(50);
    struct seqs got = { .n = 0 };
    uint64_t n;

    ck_assert_int_eq(store_foreach_event(s, 1, 20, take_seq, &got, &n),
                     STORE_OK);
    ck_assert_uint_eq(n, 20);
    expect_seqs(&got, 1, 1, 20);
    got.n = 0;
    ck_assert_int_eq(store_foreach_event(s, 1, 0, take_seq, &got, &n),
                     STORE_OK);
    expect_seqs(&got, 1, 1, 50);
    got.n = 0;
    got.stop_after = 5;
    ck_assert_int_eq(store_foreach_event(s, 1, 0, take_seq, &got, &n),
                     STORE_OK);
    ck_assert_uint_eq(n, 5);
    expect_seqs(&got, 1, 1, 5);
    store_close(s);
}
END_TEST

static int reenter(void *arg, const struct store_event *ev)
{
    struct store *s = arg;

    (void)ev;
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, NULL),
                     STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(store_errmsg(s), "events: called from inside its own "
                     "callback");
    return 1;
}

START_TEST(test_reentered_query_refused)
{
    struct store *s = store_with_events(3);
    uint64_t n;

    ck_assert_int_eq(store_foreach_event(s, 1, 0, reenter, s, &n), STORE_OK);
    ck_assert_uint_eq(n, 1);
    /* And it still works afterwards. */
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 3);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Retention                                                           */
/* ------------------------------------------------------------------ */

/* A purge on a worker thread (the daemon's) fails with its own message,
 * and store_errmsg(), which belongs to the loop thread, keeps what the
 * loop's last failure said. */
struct purge_arg {
    struct store *s;
    enum store_status rc;
    uint64_t purged;
    char err[STORE_MSG_MAX];
};

static void *purge_worker(void *arg)
{
    struct purge_arg *pa = arg;

    pa->rc = store_purge_r(pa->s, NULL, 0, 1000, &pa->purged, NULL, pa->err,
                           sizeof(pa->err));
    return NULL;
}

START_TEST(test_purge_on_a_worker_leaves_errmsg_alone)
{
    struct store *s = open_ok(db_path, NULL);
    struct store_history_query q;
    struct store_page page;
    struct purge_arg pa;
    struct outcome o = { 0 };
    pthread_t th;
    sqlite3 *db;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 100, NULL), STORE_OK);
    flush_reap(s, &o);
    memset(&q, 0, sizeof(q));
    ck_assert_int_eq(store_history(s, &q, NULL, NULL, &page),
                     STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(store_errmsg(s), "history: machine 0");
    db = raw_open(db_path);             /* holds the write lock */
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    memset(&pa, 0, sizeof(pa));
    pa.s = s;
    ck_assert_int_eq(pthread_create(&th, NULL, purge_worker, &pa), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(pa.rc, STORE_UNAVAILABLE);
    ck_assert_str_eq(pa.err, "purge: database is locked");
    ck_assert_uint_eq(pa.purged, 0);
    ck_assert_str_eq(store_errmsg(s), "history: machine 0");
    ck_assert_int_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_eq(pthread_create(&th, NULL, purge_worker, &pa), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(pa.rc, STORE_OK);
    ck_assert_uint_eq(pa.purged, 1);
    store_close(s);
}
END_TEST

/* The fuzz harnesses' test mode (store_backend.h): a ":memory:" store's
 * writer work runs on the caller's thread, at sq_test_pump(), store_flush()
 * and the control calls; a file store refuses the mode.  What is queued
 * is invisible (not committed, no completion, the eventfd quiet) until a
 * pump commits it all in one transaction; a hold keeps it queued; a purge
 * on another thread and a reset run inline too. */
START_TEST(test_inline_writer_commits_on_the_callers_thread)
{
    struct store *f = open_ok(db_path, NULL);
    struct store *s = open_ok(":memory:", NULL);
    struct store_history_query q = { .machine = 1 };
    struct pollfd pfd = { .events = POLLIN };
    struct store_page page;
    struct store_stats st;
    struct outcome o = { 0 };
    struct seqs got = { .n = 0 };
    struct store_event ev;
    struct purge_arg pa;
    uint32_t arg;
    pthread_t th;

    ck_assert_int_eq(sq_test_inline_writer(f), -1);
    ck_assert_uint_eq(create_machine(f, "t", "m", 1), 1);
    flush_reap(f, &o);                  /* its writer thread still runs */
    ck_assert_uint_eq(o.ok, 1);
    store_close(f);

    ck_assert_int_eq(sq_test_inline_writer(s), 0);
    ck_assert_int_eq(sq_test_inline_writer(s), -1);     /* already */
    pfd.fd = store_notify_fd(s);
    memset(&o, 0, sizeof(o));
    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    ev = test_event(1, 1, &arg);
    submit_ok(s, &ev);
    ev = test_event(1, 2, &arg);
    submit_ok(s, &ev);
    ck_assert_int_eq(poll(&pfd, 1, 0), 0);
    ck_assert_uint_eq(store_reap(s, collect, &o), 0);
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 0);
    sq_test_pump(s);
    ck_assert_int_eq(poll(&pfd, 1, 0), 1);
    ck_assert_uint_eq(store_reap(s, collect, &o), 3);
    ck_assert_uint_eq(o.ok, 3);
    store_stats(s, &st);
    ck_assert_uint_eq(st.commits, 1);
    ck_assert_uint_eq(st.largest_batch, 3);
    ck_assert_uint_eq(st.writer_cpu_ns, 0);
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 1, 1, 2);

    /* A hold keeps the batch for the pump after the release. */
    store_hold(s);
    ev = test_event(1, 3, &arg);
    submit_ok(s, &ev);
    sq_test_pump(s);
    ck_assert_uint_eq(store_reap(s, collect, &o), 0);
    store_release(s);
    sq_test_pump(s);
    ck_assert_uint_eq(store_reap(s, collect, &o), 1);
    /* store_flush() is a pump. */
    ev = test_event(1, 4, &arg);
    submit_ok(s, &ev);
    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 100, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 6);
    store_stats(s, &st);
    ck_assert_uint_eq(st.commits, 3);
    ck_assert_uint_eq(st.events, 4);

    /* A purge from another thread, then a reset: ids from 1 again. */
    memset(&pa, 0, sizeof(pa));
    pa.s = s;
    ck_assert_int_eq(pthread_create(&th, NULL, purge_worker, &pa), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(pa.rc, STORE_OK);
    ck_assert_uint_eq(pa.purged, 1);
    ck_assert_uint_eq(create_machine(s, "t", "n", 2), 2);
    flush_reap(s, &o);
    ck_assert_int_eq(store_reset(s), STORE_OK);
    ck_assert_uint_eq(create_machine(s, "t", "n", 3), 1);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 8);
    store_close(s);
}
END_TEST

/* An inline store's reset empties its tables without the rollback
 * journal (store_writer.c, journal_off()) and turns it back on before any
 * other write: after a reset that deleted rows the writer's connection
 * journals in memory, and a batch whose commit fails is rolled back
 * whole. */
START_TEST(test_inline_reset_turns_the_journal_back_on)
{
    struct store *s = open_ok(":memory:", NULL);
    struct store_history_query q = { .machine = 1 };
    struct store_page page;
    struct store_stats st;
    struct outcome o = { 0 };
    struct seqs got = { .n = 0 };
    struct store_event ev;
    sqlite3_stmt *mode;
    uint32_t arg;

    ck_assert_int_eq(sq_test_inline_writer(s), 0);
    write_three_and_reset(s);
    ck_assert_int_eq(sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode", -1,
                                        &mode, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(mode), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(mode, 0), "memory");
    sqlite3_finalize(mode);

    /* Every commit fails: the batch's machine and event are gone. */
    s->fail_permille = 1000;
    ck_assert_uint_eq(create_machine(s, "t", "m", 2), 1);
    ev = test_event(1, 1, &arg);
    submit_ok(s, &ev);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 0);
    ck_assert_uint_eq(o.by_status[STORE_UNAVAILABLE], 2);
    ck_assert_str_eq(o.last_msg,
                     "injected commit failure (ARMMAPD_TEST_FAIL_COMMITS)");
    s->fail_permille = 0;
    store_stats(s, &st);
    ck_assert_uint_eq(st.failed_batches, 1);
    ck_assert_uint_eq(st.commits, 0);
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 0);
    ck_assert_int_eq(store_reset(s), STORE_OK);
    store_stats(s, &st);
    ck_assert_uint_eq(st.reset_deletes, 0);
    store_close(s);
}
END_TEST

START_TEST(test_purge_destroyed_machines_only)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct store_machine *m;
    uint32_t arg;
    uint64_t i, j, n, purged, events;
    sqlite3 *db;

    /* 1 live, 2 destroyed at 1000, 3 destroyed at 5000; 2000 events each. */
    for (i = 1; i <= 3; i++) {
        ck_assert_uint_eq(create_machine(s, "t", "m", 1), i);
        for (j = 1; j <= 2000; j++) {
            struct store_event ev = test_event(i, j, &arg);

            submit_ok(s, &ev);
        }
    }
    ck_assert_int_eq(store_submit_machine_destroy(s, 2, 1000, NULL), STORE_OK);
    ck_assert_int_eq(store_submit_machine_destroy(s, 3, 5000, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 3 + 6000 + 2);

    /* Cutoff 4000 - 2000 = 2000: machine 2 goes, 3 stays. */
    ck_assert_int_eq(store_purge(s, NULL, 2000, 4000, &purged, &events), STORE_OK);
    ck_assert_uint_eq(purged, 1);
    ck_assert_uint_eq(events, 2000);
    ck_assert_int_eq(store_machine_dup(s, 2, &m), STORE_NOT_FOUND);
    ck_assert_int_eq(store_foreach_event(s, 2, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 2000);
    ck_assert_int_eq(store_foreach_event(s, 3, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 2000);

    /* Destroyed exactly at the cutoff stays; after it, goes. */
    ck_assert_int_eq(store_purge(s, NULL, 0, 5000, &purged, NULL), STORE_OK);
    ck_assert_uint_eq(purged, 0);
    ck_assert_int_eq(store_purge(s, NULL, 0, 5001, &purged, NULL), STORE_OK);
    ck_assert_uint_eq(purged, 1);
    ck_assert_int_eq(store_foreach_event(s, 3, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert(!m->destroyed);
    ck_assert_uint_eq(m->nevents, 2000);
    free(m);

    /* Incremental vacuum gave the freed pages back to the file system. */
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "PRAGMA freelist_count"), 0);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM events"), 2000);
    sqlite3_close(db);
    store_close(s);
}
END_TEST

START_TEST(test_fork_records_parent)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct store_machine *m;
    uint64_t id;
    uint32_t arg;
    uint64_t i;

    ck_assert_uint_eq(create_machine(s, "t", "p", 1), 1);
    for (i = 1; i <= 5; i++) {
        struct store_event ev = test_event(1, i, &arg);

        submit_ok(s, &ev);
    }
    ck_assert_int_eq(store_submit_machine_fork(s, 1, 5, "t", "child", "cfg",
                                               2, NULL, &id), STORE_OK);
    ck_assert_uint_eq(id, 2);
    ck_assert_int_eq(store_submit_machine_fork(s, 99, 1, "t", "orphan", "cfg",
                                               3, NULL, &id), STORE_OK);
    ck_assert_uint_eq(id, 3);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 2 + 5);
    ck_assert_int_eq(o.last_status, STORE_NOT_FOUND);
    ck_assert_str_eq(o.last_msg, "fork: parent machine 99 does not exist");
    /* A fork past its parent's stored events is refused. */
    ck_assert_int_eq(store_submit_machine_fork(s, 1, 6, "t", "ahead", "cfg",
                                               3, NULL, &id), STORE_OK);
    flush_reap(s, &o);
    ck_assert_int_eq(o.last_status, STORE_CONFLICT);
    ck_assert_str_eq(o.last_msg, "fork: parent machine 1 has events up to "
                     "seq 5, not 6");
    ck_assert_int_eq(store_machine_dup(s, 2, &m), STORE_OK);
    ck_assert_uint_eq(m->parent, 1);
    ck_assert_uint_eq(m->parent_seq, 5);
    ck_assert_str_eq(m->name, "child");
    free(m);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert_uint_eq(m->parent, 0);
    ck_assert_uint_eq(m->parent_seq, 0);
    free(m);
    ck_assert_int_eq(store_machine_dup(s, 3, &m), STORE_NOT_FOUND);
    ck_assert_int_eq(store_submit_machine_fork(s, 0, 0, "t", "n", "c", 5, NULL,
                                               &id), STORE_INVALID_ARGUMENT);
    store_close(s);
}
END_TEST

START_TEST(test_purge_keeps_ancestors_of_kept_machines)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct store_machine *m;
    uint32_t arg;
    uint64_t id, i, n, purged;

    /* 1 parent (destroyed), 2 its live fork, 3 a fork of 2 (destroyed),
     * 4 unrelated (destroyed); all destroyed at 1000, 10 events each. */
    /* A fork's row follows its parent's events up to parent_seq. */
    ck_assert_uint_eq(create_machine(s, "t", "p", 1), 1);
    for (id = 1; id <= 4; id++) {
        /* Each machine's first seq: its parent_seq + 1. */
        uint64_t base = id == 2 ? 10 : id == 3 ? 15 : 0;

        if (id == 2)
            ck_assert_int_eq(store_submit_machine_fork(s, 1, 10, "t", "c",
                                                       "cfg", 1, NULL, &n),
                             STORE_OK);
        if (id == 3)
            ck_assert_int_eq(store_submit_machine_fork(s, 2, 15, "t", "g",
                                                       "cfg", 1, NULL, &n),
                             STORE_OK);
        if (id == 4)
            ck_assert_uint_eq(create_machine(s, "t", "u", 1), 4);
        for (i = 1; i <= 10; i++) {
            struct store_event ev = test_event(id, base + i, &arg);

            submit_ok(s, &ev);
        }
    }
    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 1000, NULL), STORE_OK);
    ck_assert_int_eq(store_submit_machine_destroy(s, 3, 1000, NULL), STORE_OK);
    ck_assert_int_eq(store_submit_machine_destroy(s, 4, 1000, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 4 + 40 + 3);

    /* 1 stays: its live fork 2 replays its events first. */
    ck_assert_int_eq(store_purge(s, NULL, 0, 2000, &purged, NULL), STORE_OK);
    ck_assert_uint_eq(purged, 2);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert(m->destroyed);
    free(m);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 10);
    ck_assert_int_eq(store_machine_dup(s, 3, &m), STORE_NOT_FOUND);
    ck_assert_int_eq(store_machine_dup(s, 4, &m), STORE_NOT_FOUND);

    /* Once the fork is destroyed and old enough, both go. */
    ck_assert_int_eq(store_submit_machine_destroy(s, 2, 1500, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_int_eq(store_purge(s, NULL, 0, 2000, &purged, NULL), STORE_OK);
    ck_assert_uint_eq(purged, 2);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(store_foreach_event(s, 2, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Speed                                                               */
/* ------------------------------------------------------------------ */

struct rate {
    double insert_s;                    /* wall clock */
    double writer_cpu_s;                /* the writer thread's CPU time */
    double process_cpu_s;               /* both threads' */
    uint64_t commits;
    uint64_t largest;
};

static double process_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes @n events spread round-robin over @machines machines through
 * group commit, the way a busy daemon would: submit until STORE_BUSY, then
 * wait for the notify descriptor and reap. */
static struct rate insert_events(struct store *s, uint64_t n,
                                 uint64_t machines)
{
    struct outcome o = { 0 };
    struct store_stats st0, st;
    struct rate r;
    uint64_t i, seq[1001] = { 0 };
    uint32_t args[2];
    double t0, c0;

    ck_assert_uint_le(machines, 1000);
    for (i = 1; i <= machines; i++)
        create_machine(s, "bench", "m", 1);
    flush_reap(s, &o);
    store_stats(s, &st0);
    t0 = now_s();
    c0 = process_cpu_s();
    for (i = 0; i < n; i++) {
        struct store_event ev;
        uint64_t m = i % machines + 1;

        memset(&ev, 0, sizeof(ev));
        ev.machine = m;
        ev.seq = ++seq[m];
        ev.time_ms = 1700000000000 + (int64_t)i;
        ev.op = (uint32_t)(i % 15) + 1;
        ev.cpu = (uint32_t)(i & 1);
        args[0] = 0x9f000u + (uint32_t)(i & 0xffff);
        args[1] = 3;
        ev.nargs = (i & 3) ? 1 : 2;
        ev.args = args;
        ev.value = 0xffe00000u + (uint32_t)((i * 2654435761u) & 0xfffff);
        while (store_submit_event(s, &ev, NULL) == STORE_BUSY) {
            struct pollfd p = { .fd = store_notify_fd(s), .events = POLLIN };

            poll(&p, 1, 1000);
            store_reap(s, collect, &o);
        }
    }
    reap_until(s, &o, n + machines);
    r.insert_s = now_s() - t0;
    r.process_cpu_s = process_cpu_s() - c0;
    ck_assert_uint_eq(o.ok, n + machines);
    ck_assert_uint_eq(o.bad_msgs, 0);
    store_stats(s, &st);
    ck_assert_uint_eq(st.events - st0.events, n);
    r.commits = st.commits - st0.commits;
    r.writer_cpu_s = (double)(st.writer_cpu_ns - st0.writer_cpu_ns) / 1e9;
    r.largest = st.largest_batch;
    return r;
}

/* Prints the wall-clock rate and the rate per CPU second of the writer
 * thread: on a shared machine the first depends on what else runs, the
 * second is what one core running only the writer would sustain. */
static void print_rate(const char *what, uint64_t n, const struct rate *r)
{
    printf("%s: %" PRIu64 " events in %.2f s = %.0f events/s; writer CPU "
           "%.2f s = %.0f events per writer CPU-second; process CPU %.2f s; "
           "%" PRIu64 " commits, %.0f events per commit, largest %" PRIu64
           "\n", what, n, r->insert_s, (double)n / r->insert_s,
           r->writer_cpu_s, (double)n / r->writer_cpu_s, r->process_cpu_s,
           r->commits, (double)n / (double)r->commits, r->largest);
}

struct check_order {
    uint64_t next;
    uint64_t n;
};

static int check_order(void *arg, const struct store_event *ev)
{
    struct check_order *c = arg;

    if (ev->seq != c->next)
        return 1;
    c->next++;
    c->n += ev->nargs;
    return 0;
}

/* Reads every machine's events back in order; returns seconds taken, and
 * the CPU seconds in *cpu. */
static double iterate_all(struct store *s, uint64_t n, uint64_t machines,
                          double *cpu)
{
    double t0 = now_s(), c0 = thread_cpu_s();
    uint64_t m, total = 0, got;

    for (m = 1; m <= machines; m++) {
        struct check_order c = { .next = 1 };

        ck_assert_int_eq(store_foreach_event(s, m, 0, check_order, &c, &got),
                         STORE_OK);
        ck_assert_uint_eq(c.next - 1, got);
        total += got;
    }
    ck_assert_uint_eq(total, n);
    *cpu = thread_cpu_s() - c0;
    return now_s() - t0;
}

/* Under the sanitizers the figures mean nothing and a million events only
 * slow `make check` down; a tenth still checks the same behaviour. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPEED_EVENTS    100000
#else
#define SPEED_EVENTS    1000000
#endif
#define SPEED_MACHINES  10

START_TEST(test_speed_group_commit_and_iteration)
{
    struct store *s = open_ok(db_path, NULL);
    struct rate r = insert_events(s, SPEED_EVENTS, SPEED_MACHINES);
    double it, cpu;

    print_rate("group commit, durability normal", SPEED_EVENTS, &r);
    ck_assert_uint_lt(r.commits, SPEED_EVENTS / 10);
    it = iterate_all(s, SPEED_EVENTS, SPEED_MACHINES, &cpu);
    printf("iteration: %d events read back in order in %.3f s = %.0f "
           "events/s (CPU %.3f s = %.0f events per CPU-second)\n",
           SPEED_EVENTS, it, SPEED_EVENTS / it, cpu, SPEED_EVENTS / cpu);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Bench (STORE_BENCH=1): the figures quoted in store.h                */
/* ------------------------------------------------------------------ */

static void bench_with(const char *what, const struct store_options *opt,
                       const char *extra_sql, uint64_t machines)
{
    struct store *s = open_ok(db_path, opt);
    struct rate r;
    char line[160];

    if (extra_sql != NULL) {
        sqlite3 *db;

        store_close(s);
        db = raw_open(db_path);
        raw_exec(db, extra_sql);
        sqlite3_close(db);
        s = open_ok(db_path, opt);
    }
    r = insert_events(s, SPEED_EVENTS, machines);
    snprintf(line, sizeof(line), "%s, %" PRIu64 " machines", what, machines);
    print_rate(line, SPEED_EVENTS, &r);
    store_close(s);
}

START_TEST(test_bench_normal)
{
    struct store_options opt = { .durability = STORE_NORMAL };

    bench_with("normal", &opt, NULL, (uint64_t)_i);
}
END_TEST

START_TEST(test_bench_full)
{
    struct store_options opt = { .durability = STORE_FULL };

    bench_with("full", &opt, NULL, (uint64_t)_i);
}
END_TEST

START_TEST(test_bench_index_address)
{
    bench_with("normal + index events(machine, value)", NULL,
               "CREATE INDEX events_addr ON events(machine, value)",
               (uint64_t)_i);
}
END_TEST

START_TEST(test_bench_index_op)
{
    bench_with("normal + index events(machine, op, seq)", NULL,
               "CREATE INDEX events_op ON events(machine, op, seq)",
               (uint64_t)_i);
}
END_TEST

/* Commit latency when idle: one write per transaction, waited for. */
START_TEST(test_bench_commit_latency)
{
    struct store_options opt = { .durability = _i ? STORE_FULL
                                                  : STORE_NORMAL };
    struct store *s = open_ok(db_path, &opt);
    struct outcome o = { 0 };
    uint32_t arg;
    uint64_t i;
    double t0;

    create_machine(s, "t", "m", 1);
    flush_reap(s, &o);
    t0 = now_s();
    for (i = 1; i <= 500; i++) {
        struct store_event ev = test_event(1, i, &arg);

        submit_ok(s, &ev);
        reap_until(s, &o, i + 1);
    }
    printf("commit latency, %s: %.3f ms per single-write commit\n",
           _i ? "full" : "normal", (now_s() - t0) / 500 * 1000);
    store_close(s);
}
END_TEST

/* How fast the op and address filters scan one machine of 1M events. */
START_TEST(test_bench_filter_scans)
{
    struct store *s = open_ok(db_path, NULL);
    struct store_history_query q = { .machine = 1, .by_op = true,
                                     .op = 99 };
    struct store_page page;
    uint64_t n;
    double t0, c0;

    insert_events(s, SPEED_EVENTS, 1);
    t0 = now_s();
    c0 = thread_cpu_s();
    ck_assert_int_eq(store_history(s, &q, NULL, NULL, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 0);
    printf("op filter, no match: scanned %d events in %.3f s (CPU %.3f s)\n",
           SPEED_EVENTS, now_s() - t0, thread_cpu_s() - c0);
    q = (struct store_history_query){ .machine = 1, .by_addr = true,
                                      .addr_first = 1, .addr_last = 2 };
    t0 = now_s();
    c0 = thread_cpu_s();
    ck_assert_int_eq(store_history(s, &q, NULL, NULL, &page), STORE_OK);
    ck_assert_uint_eq(page.rows, 0);
    printf("address filter, no match: scanned %d events in %.3f s "
           "(CPU %.3f s)\n", SPEED_EVENTS, now_s() - t0,
           thread_cpu_s() - c0);
    t0 = now_s();
    c0 = thread_cpu_s();
    {
        struct counts c = { .k = 0 };

        ck_assert_int_eq(store_op_counts(s, 1, take_count, &c), STORE_OK);
        ck_assert_int_eq(c.k, 15);
    }
    printf("op counts: %d events in %.3f s (CPU %.3f s)\n", SPEED_EVENTS,
           now_s() - t0, thread_cpu_s() - c0);
    t0 = now_s();
    c0 = thread_cpu_s();
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    printf("iteration, one machine: %" PRIu64 " events in %.3f s "
           "(CPU %.3f s)\n", n, now_s() - t0, thread_cpu_s() - c0);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Units and expected versions                                         */
/* ------------------------------------------------------------------ */

/* @n events of machine @machine from seq @first, with big argument lists
 * when @big (4 KiB each), into @ev (args from @words). */
static void unit_events(struct store_event *ev, uint32_t *words, size_t n,
                        uint64_t machine, uint64_t first, bool big)
{
    size_t i;

    for (i = 0; i < n; i++) {
        ev[i] = test_event(machine, first + i, &words[i]);
        if (big) {
            ev[i].nargs = STORE_MAX_ARGS;
            ev[i].args = words;
        }
    }
}

START_TEST(test_event_seq_must_follow_last)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    uint32_t arg;
    uint64_t id;
    struct store_event e1 = test_event(1, 1, &arg);
    struct store_event e3 = test_event(1, 3, &arg);
    struct store_event f2 = test_event(2, 2, &arg);
    struct store_event f3 = test_event(2, 3, &arg);

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    submit_ok(s, &e1);
    submit_ok(s, &e3);                  /* a gap: 2 is missing */
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 2);
    ck_assert_uint_eq(o.by_status[STORE_CONFLICT], 1);
    ck_assert_str_eq(o.last_msg, "machine 1: event seq 3 refused: expected "
                     "seq 2");
    ck_assert_str_eq(store_status_name(STORE_CONFLICT), "CONFLICT");

    /* A fork's first event follows its parent_seq. */
    ck_assert_int_eq(store_submit_machine_fork(s, 1, 1, "t", "f", "cfg", 1,
                                               NULL, &id), STORE_OK);
    ck_assert_uint_eq(id, 2);
    submit_ok(s, &f3);
    submit_ok(s, &f2);
    submit_ok(s, &f3);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 2 + 1 + 2);
    ck_assert_uint_eq(o.by_status[STORE_CONFLICT], 2);
    ck_assert_str_eq(o.last_msg, "machine 2: event seq 3 refused: expected "
                     "seq 2");
    store_close(s);
}
END_TEST

START_TEST(test_unit_all_or_nothing)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct store_event ev[4];
    uint32_t words[4];
    struct store_machine *m;
    uint64_t n;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    unit_events(ev, words, 1, 1, 2, false);
    /* seq 2 before seq 1: the unit 1..4 below conflicts at its 2nd event */
    ck_assert_int_eq(store_submit_event(s, &ev[0], NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.by_status[STORE_CONFLICT], 1);

    unit_events(ev, words, 4, 1, 1, false);
    ck_assert_int_eq(store_submit_events(s, ev, 4, (void *)7), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 3);          /* one completion for the unit */
    ck_assert_uint_eq(o.ok, 2);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 4);

    /* A unit that conflicts in its middle keeps nothing. */
    ck_assert_uint_eq(create_machine(s, "t", "m2", 1), 2);
    unit_events(ev, words, 1, 2, 1, false);
    ck_assert_int_eq(store_submit_event(s, &ev[0], NULL), STORE_OK);
    unit_events(ev, words, 3, 2, 2, false);
    ck_assert_int_eq(store_submit_events(s, ev, 3, NULL), STORE_OK);
    unit_events(ev, words, 3, 2, 1, false);     /* 1..3: 1 is stored */
    ck_assert_int_eq(store_submit_events(s, ev, 3, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.by_status[STORE_CONFLICT], 2);
    ck_assert_str_eq(o.last_msg, "machine 2: event seq 1 refused: expected "
                     "seq 5 (a unit of 3 events: none kept)");
    ck_assert_int_eq(store_foreach_event(s, 2, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(store_machine_dup(s, 2, &m), STORE_OK);
    ck_assert_uint_eq(m->nevents, 4);
    ck_assert_uint_eq(m->last_seq, 4);
    free(m);

    /* Mixed machines or a gap are refused at submit. */
    unit_events(ev, words, 2, 2, 5, false);
    ev[1].machine = 1;
    ck_assert_int_eq(store_submit_events(s, ev, 2, NULL),
                     STORE_INVALID_ARGUMENT);
    unit_events(ev, words, 2, 2, 5, false);
    ev[1].seq = 7;
    ck_assert_int_eq(store_submit_events(s, ev, 2, NULL),
                     STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(store_errmsg(s), "a unit of 2 events must be of one "
                     "machine, in seq order");
    store_close(s);
}
END_TEST

/* Units of 50 big events pipelined into a quota: each is kept whole or
 * not at all, and once one failed every later one of that machine fails
 * too (its seqs no longer follow), so the history has no gap. */
START_TEST(test_units_into_quota_never_split)
{
    enum { UNIT = 50, UNITS = 30 };
    struct store_options opt = { .max_bytes = 256 * 16384 };
    struct store *s = open_ok(db_path, &opt);
    struct outcome o = { 0 };
    static struct store_event ev[UNIT];
    static uint32_t words[STORE_MAX_ARGS];
    uintptr_t cookies[UNITS + 2];
    struct store_machine *m;
    struct seqs got = { .n = 0 };
    struct store_page page;
    struct store_history_query q = { .machine = 1 };
    uint64_t u, n;

    o.cookies = cookies;
    o.cap = UNITS + 2;
    ck_assert_uint_eq(create_machine(s, "t", "m", 1), 1);
    flush_reap(s, &o);
    for (u = 0; u < UNITS; u++) {
        unit_events(ev, words, UNIT, 1, 1 + u * UNIT, true);
        ck_assert_int_eq(store_submit_events(s, ev, UNIT,
                                             (void *)(uintptr_t)(u + 1)),
                         STORE_OK);
        if (u == 0)
            store_flush(s);             /* the first fits on its own */
    }
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 1 + UNITS);
    ck_assert_uint_gt(o.by_status[STORE_UNAVAILABLE], 0);
    ck_assert_uint_gt(o.ok, 1);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, (o.ok - 1) * UNIT);
    for (u = 1; u <= UNITS; u++)
        ck_assert_uint_eq(cookies[u], u);
    ck_assert_int_eq(store_history(s, &q, take_seq, &got, &page), STORE_OK);
    expect_seqs(&got, 1, 1, n);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert_uint_eq(m->nevents, n);
    ck_assert_uint_eq(m->last_seq, n);
    free(m);

    /* Room again: the machine goes on right after its last kept unit. */
    ck_assert_int_eq(store_set_max_bytes(s, 0), STORE_OK);
    unit_events(ev, words, UNIT, 1, n + 1, true);
    ck_assert_int_eq(store_submit_events(s, ev, UNIT, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, o.ok * UNIT - UNIT);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Integrity: chained checksums                                        */
/* ------------------------------------------------------------------ */

/* Machine 1 with events 1..10, closed (its row's counts exact), then
 * @sql run on the file, then opened again. */
static struct store *tampered(const char *sql)
{
    struct store *s = store_with_events(10);
    sqlite3 *db;

    store_close(s);
    db = raw_open(db_path);
    raw_exec(db, sql);
    sqlite3_close(db);
    return open_ok(db_path, NULL);
}

/* foreach_event on machine 1 fails with STORE_CORRUPT and a message that
 * starts with @want. */
static void expect_corrupt(struct store *s, const char *want)
{
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, NULL),
                     STORE_CORRUPT);
    ck_assert_msg(strncmp(store_errmsg(s), want, strlen(want)) == 0,
                  "%s", store_errmsg(s));
}

/* One bit of a column of event 5 flipped: "(c | b) - (c & b)" is c ^ b. */
#define FLIP(col, bit) \
    "UPDATE events SET " col " = (" col " | " bit ") - (" col " & " bit ")" \
    " WHERE machine = 1 AND seq = 5"

START_TEST(test_event_bit_flip_detected)
{
    static const char *const flips[] = {
        FLIP("value", "1"), FLIP("time", "4096"), FLIP("op", "2"),
        FLIP("cpu", "1"), FLIP("aux", "8"), FLIP("flags", "16"),
        FLIP("status", "1"), FLIP("sum", "1"),
        "UPDATE events SET args = x'01500000' WHERE machine = 1 AND seq = 5",
    };
    size_t i;

    for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        struct store *s = tampered(flips[i]);

        expect_corrupt(s, "machine 1 seq 5: checksum differs (stored ");
        ck_assert_ptr_nonnull(strstr(store_errmsg(s), "): the event or one "
                                     "before it was changed"));
        store_close(s);
        unlink(db_path);
    }
}
END_TEST

START_TEST(test_reorder_and_holes_detected)
{
    struct store *s;

    /* Two events swap places. */
    s = tampered("UPDATE events SET seq = 1000 WHERE seq = 3;"
                 "UPDATE events SET seq = 3 WHERE seq = 4;"
                 "UPDATE events SET seq = 4 WHERE seq = 1000");
    expect_corrupt(s, "machine 1 seq 3: checksum differs");
    store_close(s);
    unlink(db_path);
    /* One goes missing in the middle. */
    s = tampered("DELETE FROM events WHERE seq = 5");
    expect_corrupt(s, "machine 1: seq 6 where seq 5 was expected (events "
                   "missing or out of order)");
    store_close(s);
    unlink(db_path);
    /* The last ones go missing: the row knows how far it went. */
    s = tampered("DELETE FROM events WHERE seq > 7");
    expect_corrupt(s, "machine 1: history ends at seq 7, but seq 10 was "
                   "committed (truncated)");
    /* A walk that stops early sees nothing wrong. */
    ck_assert_int_eq(store_foreach_event(s, 1, 6, NULL, NULL, NULL),
                     STORE_OK);
    store_close(s);
}
END_TEST

static int first_row(void *arg, const struct store_machine *m)
{
    char *out = arg;

    snprintf(out, STORE_MSG_MAX, "%s|%s", m->tenant,
             m->corrupt != NULL ? m->corrupt : "");
    return 1;
}

START_TEST(test_machine_row_change_detected)
{
    static const char *const edits[] = {
        "UPDATE machines SET tenant = 'alicf'",
        "UPDATE machines SET name = 'n'",
        "UPDATE machines SET config = 'ram 0x80000000 257M'",
        "UPDATE machines SET created = created + 1",
        "UPDATE machines SET parent_seq = 1",
    };
    size_t i;

    for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        struct store *s = tampered(edits[i]);
        struct store_machine *m = NULL;
        char row[STORE_MSG_MAX];

        ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_CORRUPT);
        ck_assert_ptr_null(m);
        ck_assert_msg(strncmp(store_errmsg(s), "machine 1: its row (tenant, "
                              "name, config, creation, parent) fails its "
                              "checksum (stored ", 76) == 0, "%s",
                      store_errmsg(s));
        ck_assert_int_eq(store_foreach_live_machine(s, first_row, row),
                         STORE_OK);
        ck_assert_ptr_nonnull(strstr(row, "|machine 1: its row"));
        store_close(s);
        unlink(db_path);
    }
}
END_TEST

/* A reader of its own reads beside the store's connection, from another
 * thread: events, checkpoints and a fork's parent, with the same checks. */
struct reader_job {
    struct store_reader *r;
    uint64_t events, cp_seq, parent, parent_seq;
    size_t cp_len;
    enum store_status st[3];
};

static void *reader_thread(void *arg)
{
    struct reader_job *j = arg;
    void *blob = NULL;

    j->st[0] = store_reader_events(j->r, 1, 3, 0, NULL, NULL, &j->events);
    j->st[1] = store_reader_checkpoint(j->r, 1, 0, &j->cp_seq, &blob,
                                       &j->cp_len);
    free(blob);
    j->st[2] = store_reader_parent(j->r, 2, &j->parent, &j->parent_seq);
    return NULL;
}

START_TEST(test_reader_on_another_thread)
{
    struct store *s = store_with_events(10);
    struct reader_job j;
    struct outcome o = { 0 };
    pthread_t t;
    uint64_t id = 0, p, ps;
    sqlite3 *db;

    ck_assert_int_eq(store_submit_checkpoint(s, 1, 3, "abc", 3, NULL),
                     STORE_OK);
    ck_assert_int_eq(store_submit_machine_fork(s, 1, 7, "t", "f", "c", 5,
                                               NULL, &id), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 2);
    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(store_reader_open(s, &j.r), STORE_OK);
    ck_assert_int_eq(pthread_create(&t, NULL, reader_thread, &j), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(j.st[0], STORE_OK);
    ck_assert_uint_eq(j.events, 7);     /* seqs 4..10 */
    ck_assert_int_eq(j.st[1], STORE_OK);
    ck_assert_uint_eq(j.cp_seq, 3);
    ck_assert_uint_eq(j.cp_len, 3);
    ck_assert_int_eq(j.st[2], STORE_OK);
    ck_assert_uint_eq(j.parent, 1);
    ck_assert_uint_eq(j.parent_seq, 7);
    ck_assert_int_eq(store_reader_parent(j.r, 99, &p, &ps), STORE_NOT_FOUND);
    store_reader_close(j.r);
    store_close(s);

    /* A changed event is named by the reader as by the store. */
    db = raw_open(db_path);
    raw_exec(db, "UPDATE events SET aux = aux + 1 WHERE seq = 6");
    sqlite3_close(db);
    s = open_ok(db_path, NULL);
    ck_assert_int_eq(store_reader_open(s, &j.r), STORE_OK);
    ck_assert_int_eq(store_reader_events(j.r, 1, 3, 0, NULL, NULL, NULL),
                     STORE_CORRUPT);
    ck_assert_ptr_nonnull(strstr(store_reader_errmsg(j.r),
                                 "machine 1 seq 6: checksum differs"));
    store_reader_close(j.r);
    store_close(s);
}
END_TEST

/* A database of schema version 3 carries event sums of the old byte-wise
 * hash (here: any other values): opening it recomputes them (version 4),
 * the head record follows without a false "missing writes" warning, and
 * later changes are caught by the new sums. */
START_TEST(test_version_3_database_resummed)
{
    struct store *s = store_with_events(10);
    sqlite3 *db;
    uint64_t n;

    store_close(s);
    db = raw_open(db_path);
    raw_exec(db, "UPDATE events SET sum = 12345 + seq;"
             "DROP TABLE request_keys; PRAGMA user_version = 3");
    sqlite3_close(db);
    s = open_ok(db_path, NULL);
    ck_assert_str_eq(store_open_warning(s), "");
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 10);
    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 6);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM events"
                             " WHERE sum = 12345 + seq"), 0);
    sqlite3_close(db);
    s = open_ok(db_path, NULL);         /* no migration, same head */
    ck_assert_str_eq(store_open_warning(s), "");
    store_close(s);
    db = raw_open(db_path);
    raw_exec(db, "UPDATE events SET value = value + 1 WHERE seq = 4");
    sqlite3_close(db);
    s = open_ok(db_path, NULL);
    expect_corrupt(s, "machine 1 seq 4: checksum differs");
    store_close(s);
}
END_TEST

/* A request key commits with its change, is reported by no reap, is
 * dropped with a change that fails, and goes with its machine's purge. */
struct keys_seen {
    size_t n;
    uint64_t key[4], ord[4], target[4];
    char reply[4][16];
};

static int key_seen(void *arg, const struct store_rkey *k)
{
    struct keys_seen *w = arg;

    if (w->n < 4) {
        w->key[w->n] = k->key;
        w->ord[w->n] = k->ord;
        w->target[w->n] = k->target;
        snprintf(w->reply[w->n], sizeof(w->reply[0]), "%.*s", (int)k->len,
                 (const char *)k->reply);
    }
    w->n++;
    return 0;
}

START_TEST(test_request_keys_kept_with_their_change)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct keys_seen w;
    struct store_rkey k;
    struct store_event ev;
    uint64_t purged = 0;
    uint32_t arg;

    ck_assert_uint_eq(create_machine(s, "t", "m", 1000), 1);
    memset(&k, 0, sizeof(k));
    k.machine = 1;
    k.tenant = "t";
    k.reply = "first";
    k.len = 5;
    k.target = 1;
    store_hold(s);
    ev = test_event(1, 1, &arg);
    ck_assert_int_eq(store_submit_event(s, &ev, (void *)7), STORE_OK);
    k.key = UINT64_MAX; /* all 64 bits */
    k.ord = 1;
    ck_assert_int_eq(store_submit_rkey(s, &k, (void *)7), STORE_OK);
    store_release(s);
    /* A change that fails (seq 5 is not next): its key is not kept. */
    store_hold(s);
    ev = test_event(1, 5, &arg);
    ck_assert_int_eq(store_submit_event(s, &ev, (void *)8), STORE_OK);
    k.key = 42;
    k.ord = 2;
    k.reply = "second";
    k.len = 6;
    ck_assert_int_eq(store_submit_rkey(s, &k, (void *)8), STORE_OK);
    store_release(s);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.n, 3); /* create, two events: keys are not reaped */
    ck_assert_uint_eq(o.ok, 2);
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(store_rkeys(s, 1, NULL, 0, key_seen, &w), STORE_OK);
    ck_assert_uint_eq(w.n, 1);
    ck_assert_uint_eq(w.key[0], UINT64_MAX);
    ck_assert_uint_eq(w.ord[0], 1);
    ck_assert_str_eq(w.reply[0], "first");
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(store_rkeys(s, 1, NULL, 42, key_seen, &w), STORE_OK);
    ck_assert_uint_eq(w.n, 0);
    /* A tenant's key (machine 0) of the same key, and the purge. */
    k.machine = 0;
    k.key = UINT64_MAX;
    k.ord = 1;
    store_hold(s);
    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 1500, (void *)9),
                     STORE_OK);
    ck_assert_int_eq(store_submit_rkey(s, &k, (void *)9), STORE_OK);
    store_release(s);
    flush_reap(s, &o);
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(store_rkeys(s, 0, "t", 0, key_seen, &w), STORE_OK);
    ck_assert_uint_eq(w.n, 1);
    ck_assert_str_eq(w.reply[0], "second");
    ck_assert_int_eq(store_purge(s, NULL, 0, 2000, &purged, NULL), STORE_OK);
    ck_assert_uint_eq(purged, 1);
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(store_rkeys(s, 0, "t", 0, key_seen, &w), STORE_OK);
    ck_assert_int_eq(store_rkeys(s, 1, NULL, 0, key_seen, &w), STORE_OK);
    ck_assert_uint_eq(w.n, 0);
    store_close(s);
}
END_TEST

/* A database of schema version 4 (no request keys) gets the empty
 * request_keys table at open, one additive step; its events stay. */
START_TEST(test_version_4_database_gets_request_keys)
{
    struct store *s = store_with_events(3);
    sqlite3 *db;
    uint64_t n;

    store_close(s);
    db = raw_open(db_path);
    raw_exec(db, "DROP TABLE request_keys; PRAGMA user_version = 4");
    sqlite3_close(db);
    s = open_ok(db_path, NULL);
    ck_assert_str_eq(store_open_warning(s), "");
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 3);
    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 6);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM request_keys"), 0);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master"
                             " WHERE name = 'request_keys_ord'"), 1);
    sqlite3_close(db);
}
END_TEST

/* A database of schema version 2 (no sums) gets them at open, so its
 * histories verify and later changes to them are caught. */
START_TEST(test_version_2_database_gets_sums)
{
    sqlite3 *db = raw_open(db_path);
    struct store *s;
    struct store_machine *m;
    uint64_t n;

    raw_exec(db, "PRAGMA page_size = 16384; PRAGMA auto_vacuum = 2;"
             "CREATE TABLE machines (id INTEGER PRIMARY KEY AUTOINCREMENT,"
             " tenant TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,"
             " created INTEGER NOT NULL, destroyed INTEGER,"
             " nevents INTEGER NOT NULL DEFAULT 0,"
             " last_seq INTEGER NOT NULL DEFAULT 0, parent INTEGER,"
             " parent_seq INTEGER,"
             " counts_stale INTEGER NOT NULL DEFAULT 0);"
             "CREATE INDEX machines_tenant ON machines(tenant);"
             "CREATE TABLE events (machine INTEGER NOT NULL,"
             " seq INTEGER NOT NULL, time INTEGER NOT NULL,"
             " op INTEGER NOT NULL, cpu INTEGER NOT NULL, args BLOB NOT NULL,"
             " value INTEGER NOT NULL, aux INTEGER NOT NULL,"
             " flags INTEGER NOT NULL, status INTEGER NOT NULL,"
             " PRIMARY KEY (machine, seq)) WITHOUT ROWID;"
             "INSERT INTO machines (id, tenant, name, config, created,"
             " nevents, last_seq) VALUES (1, 'alice', 'm', 'ram 1', 5, 3, 3);"
             "INSERT INTO events VALUES (1, 1, 10, 1, 0, x'00100000', 7, 0, 0,"
             " 0), (1, 2, 11, 2, 0, x'00200000', 8, 0, 0, 0),"
             " (1, 3, 12, 3, 1, x'', 9, 0, 0, 0);"
             "PRAGMA user_version = 2;");
    sqlite3_close(db);
    s = open_ok(db_path, NULL);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(store_machine_dup(s, 1, &m), STORE_OK);
    ck_assert_str_eq(m->tenant, "alice");
    free(m);
    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 6);
    raw_exec(db, "UPDATE events SET value = 6 WHERE seq = 1");
    sqlite3_close(db);
    s = open_ok(db_path, NULL);
    expect_corrupt(s, "machine 1 seq 1: checksum differs");
    store_close(s);
}
END_TEST

/* A child commits @n events of machine 1 (and the machine) and dies
 * without closing, as under kill -9: the commits sit in the WAL. */
static void commit_and_die(uint64_t n)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store *s = NULL;
        struct outcome o = { 0 };
        char err[STORE_MSG_MAX];
        uint32_t arg;
        uint64_t id, i;

        if (store_open(db_path, NULL, &s, err) != STORE_OK)
            _exit(2);
        if (store_submit_machine_create(s, "t", "m", "cfg", 1, NULL, &id) !=
            STORE_OK)
            _exit(3);
        for (i = 1; i <= n; i++) {
            struct store_event ev = test_event(id, i, &arg);

            if (store_submit_event(s, &ev, NULL) != STORE_OK)
                _exit(4);
        }
        store_flush(s);
        store_reap(s, collect, &o);
        _exit(o.ok == n + 1 ? 0 : 5);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(test_lost_wal_frames_reported_at_open)
{
    char wal[PATH_MAX], want[2048];
    struct store *s;

    commit_and_die(10);
    s = open_ok(db_path, NULL);         /* the WAL is whole: all is there */
    ck_assert_str_eq(store_open_warning(s), "");
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, NULL),
                     STORE_OK);
    store_close(s);

    unlink(db_path);
    commit_and_die(10);
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    ck_assert_int_eq(truncate(wal, 0), 0);
    s = open_ok(db_path, NULL);
    snprintf(want, sizeof(want), "%s: committed writes are missing: the last "
             "commit made (recorded in %s-lock) holds event 10 of machine 1 "
             "and machine ids up to 1, but the database lacks that event; its "
             "WAL (%s-wal) lost committed frames", db_path, db_path, db_path);
    ck_assert_str_eq(store_open_warning(s), want);
    store_close(s);
}
END_TEST

struct lines {
    char v[8][STORE_MSG_MAX];
    size_t n;
};

static void take_line(void *arg, const char *line)
{
    struct lines *l = arg;

    if (l->n < 8)
        snprintf(l->v[l->n], STORE_MSG_MAX, "%s", line);
    l->n++;
}

START_TEST(test_verify_reports_every_problem)
{
    struct store *s = store_with_events(10);
    char err[STORE_MSG_MAX];
    struct lines l = { .n = 0 };
    uint64_t problems = 99;
    sqlite3 *db;

    ck_assert_uint_eq(create_machine(s, "bob", "b", 3), 2);
    store_close(s);
    ck_assert_int_eq(store_verify(db_path, take_line, &l, &problems, err),
                     STORE_OK);
    ck_assert_uint_eq(problems, 0);
    ck_assert_uint_eq(l.n, 0);

    db = raw_open(db_path);
    raw_exec(db, FLIP("value", "4"));
    raw_exec(db, "UPDATE machines SET tenant = 'bob2' WHERE id = 2;"
             "INSERT INTO events (machine, seq, time, op, cpu, args, value,"
             " aux, flags, status) VALUES (7, 1, 0, 1, 0, x'', 0, 0, 0, 0)");
    sqlite3_close(db);
    ck_assert_int_eq(store_verify(db_path, take_line, &l, &problems, err),
                     STORE_OK);
    ck_assert_uint_eq(problems, 3);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_msg(strncmp(l.v[0], "machine 1 seq 5: checksum differs", 33) ==
                  0, "%s", l.v[0]);
    ck_assert_msg(strncmp(l.v[1], "machine 2: its row (tenant, name, "
                          "config, creation, parent) fails its checksum",
                          78) == 0, "%s", l.v[1]);
    ck_assert_str_eq(l.v[2], "machine 7: 1 events but no machine row");

    db = raw_open(db_path);
    raw_exec(db, "DELETE FROM events WHERE machine = 1 AND seq > 3;"
             "DELETE FROM events WHERE machine = 7;"
             "UPDATE machines SET tenant = 'bob' WHERE id = 2");
    sqlite3_close(db);
    l.n = 0;
    ck_assert_int_eq(store_verify(db_path, take_line, &l, &problems, err),
                     STORE_OK);
    ck_assert_uint_eq(problems, 1);
    ck_assert_str_eq(l.v[0], "machine 1: history ends at seq 3, but seq 10 "
                     "was committed (truncated)");

    /* A file that is not a database cannot be checked at all. */
    db = raw_open(db_path);
    raw_exec(db, "PRAGMA user_version = 2");
    sqlite3_close(db);
    ck_assert_int_eq(store_verify(db_path, NULL, NULL, &problems, err),
                     STORE_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err, ": schema version 2, not 6: start "
                                 "armmapd on it once to migrate it, then "
                                 "verify"));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Checkpoints                                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_checkpoint_nearest_at_or_below)
{
    struct store *s = store_with_events(10);
    struct outcome o = { 0 };
    uint64_t seq;
    void *blob;
    size_t len;
    sqlite3 *db;

    ck_assert_int_eq(store_checkpoint_get(s, 1, 0, &seq, &blob, &len),
                     STORE_NOT_FOUND);
    ck_assert_str_eq(store_errmsg(s), "machine 1 has no checkpoint at or "
                     "below seq 0");
    ck_assert_int_eq(store_submit_checkpoint(s, 1, 4, "four", 4, NULL),
                     STORE_OK);
    ck_assert_int_eq(store_submit_checkpoint(s, 1, 8, "eight!", 6, NULL),
                     STORE_OK);
    ck_assert_int_eq(store_submit_checkpoint(s, 1, 11, "ahead", 5, NULL),
                     STORE_OK);
    ck_assert_int_eq(store_submit_checkpoint(s, 9, 1, "none", 4, NULL),
                     STORE_OK);
    ck_assert_int_eq(store_submit_checkpoint(s, 1, 0, "zero", 4, NULL),
                     STORE_INVALID_ARGUMENT);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 2);
    ck_assert_uint_eq(o.by_status[STORE_CONFLICT], 1);
    ck_assert_uint_eq(o.by_status[STORE_NOT_FOUND], 1);

    ck_assert_int_eq(store_checkpoint_get(s, 1, 7, &seq, &blob, &len),
                     STORE_OK);
    ck_assert_uint_eq(seq, 4);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(memcmp(blob, "four", 4), 0);
    free(blob);
    ck_assert_int_eq(store_checkpoint_get(s, 1, 0, &seq, &blob, &len),
                     STORE_OK);
    ck_assert_uint_eq(seq, 8);
    ck_assert_int_eq(memcmp(blob, "eight!", 6), 0);
    free(blob);
    ck_assert_int_eq(store_checkpoint_get(s, 1, 3, &seq, &blob, &len),
                     STORE_NOT_FOUND);
    store_close(s);

    /* A changed checkpoint is refused, not used. */
    db = raw_open(db_path);
    raw_exec(db, "UPDATE checkpoints SET blob = x'65696768742e' WHERE seq = 8");
    sqlite3_close(db);
    s = open_ok(db_path, NULL);
    ck_assert_int_eq(store_checkpoint_get(s, 1, 0, &seq, &blob, &len),
                     STORE_CORRUPT);
    ck_assert_ptr_null(blob);
    ck_assert_msg(strncmp(store_errmsg(s), "machine 1: checkpoint at seq 8 "
                          "fails its checksum (stored ", 47) == 0, "%s",
                  store_errmsg(s));
    {
        char err[STORE_MSG_MAX];
        struct lines l = { .n = 0 };

        ck_assert_int_eq(store_verify(db_path, take_line, &l, NULL, err),
                         STORE_OK);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_str_eq(l.v[0], store_errmsg(s));
    }
    /* Purged with its machine. */
    ck_assert_int_eq(store_submit_machine_destroy(s, 1, 10, NULL), STORE_OK);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.by_status[STORE_OK], 3);
    ck_assert_int_eq(store_purge(s, NULL, 0, 100, &seq, NULL), STORE_OK);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(store_checkpoint_get(s, 1, 0, &seq, &blob, &len),
                     STORE_NOT_FOUND);
    store_close(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Suites                                                              */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* Schema 6: events packed per row                                     */
/* ------------------------------------------------------------------ */

/* Machine 1: events 1..@n as units of @unit (store_submit_events()), all
 * committed; the events are test_event()'s. */
static struct store *store_with_units(uint64_t n, uint64_t unit)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    struct store_event *ev = calloc(unit, sizeof(*ev));
    uint32_t *arg = calloc(unit, sizeof(*arg));
    uint64_t i, k;

    ck_assert_ptr_nonnull(ev);
    ck_assert_ptr_nonnull(arg);
    ck_assert_uint_eq(create_machine(s, "t", "m", 1000), 1);
    for (i = 1; i <= n; i += unit) {
        for (k = 0; k < unit; k++)
            ev[k] = test_event(1, i + k, &arg[k]);
        ck_assert_int_eq(store_submit_events(s, ev, unit, NULL), STORE_OK);
    }
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, n / unit + 1);
    free(ev);
    free(arg);
    return s;
}

/* A walk's check of every event against test_event(). */
struct expect_walk {
    uint64_t next;
};

static int expect_test_event(void *arg, const struct store_event *ev)
{
    struct expect_walk *w = arg;
    uint32_t a;
    struct store_event want = test_event(1, w->next, &a);

    ck_assert_uint_eq(ev->machine, 1);
    ck_assert_uint_eq(ev->seq, want.seq);
    ck_assert_int_eq(ev->time_ms, want.time_ms);
    ck_assert_uint_eq(ev->op, want.op);
    ck_assert_uint_eq(ev->cpu, want.cpu);
    ck_assert_uint_eq(ev->nargs, 1);
    ck_assert_uint_eq(ev->args[0], a);
    ck_assert_uint_eq(ev->value, want.value);
    ck_assert_uint_eq(ev->aux, want.aux);
    ck_assert_uint_eq(ev->flags, want.flags);
    ck_assert_int_eq(ev->status, want.status);
    w->next++;
    return 0;
}

/* Recovery reads rows, not events: 5,000 events of one Batch are 313 rows
 * (16 events each, the last 8), and the walk gives every event whole. */
START_TEST(test_events_packed_per_row)
{
    struct store *s = store_with_units(5000, 5000);
    struct expect_walk w = { .next = 1 };
    uint64_t n;
    sqlite3 *db;

    ck_assert_int_eq(store_foreach_event(s, 1, 0, expect_test_event, &w, &n),
                     STORE_OK);
    ck_assert_uint_eq(n, 5000);
    /* From inside a row, to a bound inside another. */
    w.next = 20;
    ck_assert_int_eq(store_foreach_event_after(s, 1, 19, 40,
                                               expect_test_event, &w, &n),
                     STORE_OK);
    ck_assert_uint_eq(n, 21);
    ck_assert_uint_eq(w.next, 41);
    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM event_packs"), 313);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM event_packs"
                             " WHERE last_seq - first_seq + 1 = 16"), 312);
    ck_assert_int_eq(raw_int(db, "SELECT first_seq FROM event_packs"
                             " ORDER BY first_seq DESC LIMIT 1"), 4993);
    /* Varints: ~25 bytes an event besides its one args word. */
    ck_assert_int_lt(raw_int(db, "SELECT sum(length(body)) FROM event_packs"),
                     5000 * (25 + 4));
    sqlite3_close(db);
}
END_TEST

/* Units of 100 pack as 6 rows of 16 and one of 4 each: a row never spans
 * two units (a refused unit rolls back its own rows only). */
START_TEST(test_units_pack_on_their_own)
{
    struct store *s = store_with_units(1000, 100);
    struct expect_walk w = { .next = 1 };
    uint64_t n;
    sqlite3 *db;

    ck_assert_int_eq(store_foreach_event(s, 1, 0, expect_test_event, &w, &n),
                     STORE_OK);
    ck_assert_uint_eq(n, 1000);
    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM event_packs"), 70);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM event_packs"
                             " WHERE last_seq - first_seq + 1 = 4"), 10);
    sqlite3_close(db);
}
END_TEST

/* Machines that take turns in one group commit (one client each, single
 * changes) still fill rows: 10 machines x 32 events in turn are 2 rows
 * each; every walk gives its machine's events whole. */
START_TEST(test_interleaved_machines_fill_rows)
{
    struct store *s = open_ok(db_path, NULL);
    struct outcome o = { 0 };
    uint64_t m, seq, n;
    uint32_t arg;
    sqlite3 *db;

    for (m = 1; m <= 10; m++)
        ck_assert_uint_eq(create_machine(s, "t", "m", 1), m);
    flush_reap(s, &o);
    store_hold(s);
    for (seq = 1; seq <= 32; seq++)
        for (m = 1; m <= 10; m++) {
            struct store_event ev = test_event(m, seq, &arg);

            submit_ok(s, &ev);
        }
    store_release(s);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 10 + 320);
    for (m = 1; m <= 10; m++) {
        ck_assert_int_eq(store_foreach_event(s, m, 0, NULL, NULL, &n),
                         STORE_OK);
        ck_assert_uint_eq(n, 32);
    }
    {
        struct expect_walk w = { .next = 1 };

        ck_assert_int_eq(store_foreach_event(s, 1, 0, expect_test_event, &w,
                                             &n), STORE_OK);
        ck_assert_uint_eq(w.next, 33);
    }
    store_close(s);
    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM event_packs"), 20);
    sqlite3_close(db);
}
END_TEST

/* Rewrites the body of machine 1's row that starts at @first: the byte
 * @at bytes into its event @k (negative: from that event's end) xor
 * @xor_mask, then @cut bytes fewer at the body's end. */
static void edit_body(sqlite3 *db, uint64_t first, int k, long at,
                      int xor_mask, long cut)
{
    static uint32_t words[STORE_MAX_ARGS];
    sqlite3_stmt *st = NULL;
    struct pack_cur cur = { 0, 0 };
    struct store_event ev;
    const unsigned char *args;
    unsigned char *body;
    uint64_t sum;
    size_t start = 0;
    int len, i;

    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT body FROM event_packs"
                                        " WHERE machine = 1 AND first_seq = ?1",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)first);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    len = sqlite3_column_bytes(st, 0);
    body = malloc((size_t)len);
    ck_assert_ptr_nonnull(body);
    memcpy(body, sqlite3_column_blob(st, 0), (size_t)len);
    sqlite3_finalize(st);
    for (i = 0; i <= k; i++) {
        start = cur.off;
        ck_assert(pack_get(body, (size_t)len, &cur, 1, &ev, words, &sum,
                           &args));
    }
    at = at >= 0 ? (long)start + at : (long)cur.off + at;
    ck_assert_int_lt(at, len);
    body[at] ^= (unsigned char)xor_mask;
    if (cut > 0)
        len -= (int)cut;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE event_packs SET body = ?2"
                                        " WHERE machine = 1 AND first_seq = ?1",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)first);
    sqlite3_bind_blob(st, 2, body, len, SQLITE_TRANSIENT);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    free(body);
}

/* Damage inside a packed row is named by machine and seq, at recovery and
 * by store_verify(): a flipped bit of one event, a cut body, a row's
 * columns that differ from its body, a row gone. */
START_TEST(test_packed_row_damage_named)
{
    static const struct {
        const char *sql; /* or NULL: edit_body() */
        int k;           /* edit_body()'s */
        long at;
        int mask;
        long cut;
        const char *want;
    } cases[] = {
        /* seq 19 is event 2 of row 17..32: its last args byte */
        { NULL, 2, -1, 0x10, 0, "machine 1 seq 19: checksum differs" },
        /* its stored sum */
        { NULL, 2, 0, 0x01, 0, "machine 1 seq 19: checksum differs" },
        /* the body cut inside its last event, seq 32 */
        { NULL, 0, 0, 0, 3, "machine 1 seq 32: malformed packed row (" },
        { "UPDATE event_packs SET sum = sum + 1 WHERE first_seq = 17", 0, 0,
          0, 0, "machine 1 seq 32: its packed row says seq 17-32 sum " },
        { "UPDATE event_packs SET last_seq = 33 WHERE first_seq = 17", 0, 0,
          0, 0, "machine 1 seq 32: its packed row says seq 17-33 sum " },
        { "DELETE FROM event_packs WHERE first_seq = 17", 0, 0, 0, 0,
          "machine 1: seq 33 where seq 17 was expected (events missing" },
        { "DELETE FROM event_packs WHERE first_seq = 33", 0, 0, 0, 0,
          "machine 1: history ends at seq 32, but seq 40 was committed" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct store *s = store_with_units(40, 40);
        char err[STORE_MSG_MAX];
        struct lines l = { .n = 0 };
        uint64_t problems = 0;
        sqlite3 *db;

        store_close(s);
        db = raw_open(db_path);
        if (cases[i].sql != NULL)
            raw_exec(db, cases[i].sql);
        else
            edit_body(db, 17, cases[i].k, cases[i].at, cases[i].mask,
                      cases[i].cut);
        sqlite3_close(db);
        s = open_ok(db_path, NULL);
        ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, NULL),
                         STORE_CORRUPT);
        ck_assert_msg(strncmp(store_errmsg(s), cases[i].want,
                              strlen(cases[i].want)) == 0,
                      "case %zu: %s", i, store_errmsg(s));
        store_close(s);
        ck_assert_int_eq(store_verify(db_path, take_line, &l, &problems, err),
                         STORE_OK);
        ck_assert_msg(problems >= 1 && strncmp(l.v[0], cases[i].want,
                                               strlen(cases[i].want)) == 0,
                      "case %zu: verify: %s", i, l.n > 0 ? l.v[0] : "");
        unlink(db_path);
    }
}
END_TEST

/* Keeps every event a walk gives, in order, as text. */
struct all_events {
    char text[64][160];
    size_t n;
};

static int take_text(void *arg, const struct store_event *ev)
{
    struct all_events *a = arg;
    char args[64] = "";
    uint32_t i;

    ck_assert_uint_lt(a->n, 64);
    for (i = 0; i < ev->nargs && i < 4; i++)
        snprintf(args + strlen(args), sizeof(args) - strlen(args), " %x",
                 ev->args[i]);
    snprintf(a->text[a->n++], sizeof(a->text[0]),
             "%" PRIu64 "/%" PRIu64 " t%" PRId64 " op%u cpu%u n%u%s = %x %x "
             "%x %d", ev->machine, ev->seq, ev->time_ms, ev->op, ev->cpu,
             ev->nargs, args, ev->value, ev->aux, ev->flags, ev->status);
    return 0;
}

/* A schema 5 database (events one per row, as today's code path before
 * schema 6 wrote them, sums included) opens: migration 6 packs them in
 * one transaction, each sum as it was; every walk, a fork's included,
 * gives the same events, verify finds nothing, and appends continue the
 * chain. */
START_TEST(test_schema_5_database_packed_at_open)
{
    struct store *s = store_with_events(40);
    struct all_events before = { .n = 0 }, after = { .n = 0 };
    struct outcome o = { 0 };
    char err[STORE_MSG_MAX];
    uint64_t fork = 0, problems = 9, n;
    uint32_t arg;
    struct store_event ev;
    sqlite3 *db;
    size_t i;

    ck_assert_int_eq(store_submit_machine_fork(s, 1, 20, "t", "f",
                                               "ram 0x80000000 256M", 5, NULL,
                                               &fork), STORE_OK);
    ev = test_event(fork, 21, &arg);
    submit_ok(s, &ev);
    flush_reap(s, &o);
    ck_assert_uint_eq(o.ok, 2);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, take_text, &before, &n),
                     STORE_OK);
    ck_assert_int_eq(store_foreach_event(s, fork, 0, take_text, &before, &n),
                     STORE_OK);
    ck_assert_uint_eq(before.n, 41);
    store_close(s);

    /* Schema 5: the events table, event_packs not there. */
    db = raw_open(db_path);
    raw_exec(db, "PRAGMA user_version = 5");
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master"
                             " WHERE name = 'event_packs'"), 0);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master"
                             " WHERE name = 'events'"), 1);
    sqlite3_close(db);

    s = open_ok(db_path, NULL);
    ck_assert_str_eq(store_open_warning(s), "");
    ck_assert_int_eq(store_foreach_event(s, 1, 0, take_text, &after, &n),
                     STORE_OK);
    ck_assert_int_eq(store_foreach_event(s, fork, 0, take_text, &after, &n),
                     STORE_OK);
    ck_assert_uint_eq(after.n, before.n);
    for (i = 0; i < after.n; i++)
        ck_assert_str_eq(after.text[i], before.text[i]);
    ev = test_event(1, 41, &arg);
    submit_ok(s, &ev);
    flush_reap(s, &o);
    ck_assert_int_eq(store_foreach_event(s, 1, 0, NULL, NULL, &n), STORE_OK);
    ck_assert_uint_eq(n, 41);
    store_close(s);

    db = raw_open(db_path);
    ck_assert_int_eq(raw_int(db, "PRAGMA user_version"), 6);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master"
                             " WHERE name = 'events'"), 0);
    /* 16 + 16 + 8 migrated, then the new event's own row; the fork's 1. */
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM event_packs"
                             " WHERE machine = 1"), 4);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM event_packs"), 5);
    sqlite3_close(db);
    ck_assert_int_eq(store_verify(db_path, NULL, NULL, &problems, err),
                     STORE_OK);
    ck_assert_uint_eq(problems, 0);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc;

    tc = tcase_create("open");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_schema_created_with_user_version);
    tcase_add_test(tc, test_newer_user_version_refused);
    tcase_add_test(tc, test_garbage_file_refused);
    tcase_add_test(tc, test_foreign_database_refused);
    tcase_add_test(tc, test_unwritable_directory_reported);
    tcase_add_test(tc, test_database_in_readonly_directory_reported);
    tcase_add_test(tc, test_second_open_refused);
    tcase_add_test(tc, test_memory_database_shared_by_writer_and_reader);
    tcase_add_test(tc, test_status_names);
    tcase_add_test(tc, test_reset_deletes_only_from_tables_with_rows);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ids_assigned_at_submit_never_reused);
    tcase_add_test(tc, test_events_from_threads_all_committed_in_order);
    tcase_add_test(tc, test_queue_full_answers_busy_until_reaped);
    tcase_add_test(tc, test_queue_bytes_bound);
    tcase_add_test(tc, test_notify_fd_readable_after_commit);
    tcase_add_test(tc, test_single_writes_fail_alone);
    tcase_add_test(tc, test_event_after_destroy_in_same_batch_fails);
    tcase_add_test(tc, test_invalid_submits_refused);
    tcase_add_test(tc, test_close_commits_what_is_queued);
    tcase_add_test(tc, test_durability_full);
    tcase_add_test(tc, test_durability_normal);
    tcase_add_test(tc, test_disk_full_fails_batch_then_resumes);
    tcase_add_test(tc, test_purge_frees_room_when_full);
    tcase_add_test(tc, test_event_seq_must_follow_last);
    tcase_add_test(tc, test_unit_all_or_nothing);
    tcase_add_test(tc, test_units_into_quota_never_split);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_history_seq_range_paged);
    tcase_add_test(tc, test_event_fields_round_trip);
    tcase_add_test(tc, test_history_by_op_paged);
    tcase_add_test(tc, test_history_by_address);
    tcase_add_test(tc, test_history_newest_first_paged);
    tcase_add_test(tc, test_op_counts);
    tcase_add_test(tc, test_op_counts_in_slices);
    tcase_add_test(tc, test_list_machines);
    tcase_add_test(tc, test_machine_dup);
    tcase_add_test(tc, test_counts_written_at_close_recounted_after_crash);
    tcase_add_test(tc, test_foreach_live_machine);
    tcase_add_test(tc, test_foreach_event_upto_and_stop);
    tcase_add_test(tc, test_reentered_query_refused);
    tcase_add_test(tc, test_event_bit_flip_detected);
    tcase_add_test(tc, test_reorder_and_holes_detected);
    tcase_add_test(tc, test_machine_row_change_detected);
    tcase_add_test(tc, test_version_2_database_gets_sums);
    tcase_add_test(tc, test_version_3_database_resummed);
    tcase_add_test(tc, test_version_4_database_gets_request_keys);
    tcase_add_test(tc, test_request_keys_kept_with_their_change);
    tcase_add_test(tc, test_reader_on_another_thread);
    tcase_add_test(tc, test_lost_wal_frames_reported_at_open);
    tcase_add_test(tc, test_verify_reports_every_problem);
    tcase_add_test(tc, test_checkpoint_nearest_at_or_below);
    tcase_add_test(tc, test_events_packed_per_row);
    tcase_add_test(tc, test_units_pack_on_their_own);
    tcase_add_test(tc, test_interleaved_machines_fill_rows);
    tcase_add_test(tc, test_packed_row_damage_named);
    tcase_add_test(tc, test_schema_5_database_packed_at_open);
    suite_add_tcase(s, tc);

    tc = tcase_create("retention");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_purge_destroyed_machines_only);
    tcase_add_test(tc, test_purge_on_a_worker_leaves_errmsg_alone);
    tcase_add_test(tc, test_inline_writer_commits_on_the_callers_thread);
    tcase_add_test(tc, test_inline_reset_turns_the_journal_back_on);
    tcase_add_test(tc, test_fork_records_parent);
    tcase_add_test(tc, test_purge_keeps_ancestors_of_kept_machines);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *speed_suite(void)
{
    Suite *s = suite_create("speed");
    TCase *tc = tcase_create("speed");

    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_speed_group_commit_and_iteration);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *bench_suite(void)
{
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");

    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 1200);
    tcase_add_loop_test(tc, test_bench_normal, 1, 2);
    tcase_add_loop_test(tc, test_bench_normal, 10, 11);
    tcase_add_loop_test(tc, test_bench_normal, 100, 101);
    tcase_add_loop_test(tc, test_bench_full, 10, 11);
    tcase_add_loop_test(tc, test_bench_index_address, 10, 11);
    tcase_add_loop_test(tc, test_bench_index_op, 10, 11);
    tcase_add_test(tc, test_bench_filter_scans);
    tcase_add_loop_test(tc, test_bench_commit_latency, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

#ifdef STORE_HAVE_PG
Suite *pg_suite(void);                  /* test_pg.c */
#endif
Suite *pack_suite(void);                /* test_pack.c */

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_add_suite(sr, speed_suite());
    srunner_add_suite(sr, pack_suite());
#ifdef STORE_HAVE_PG
    srunner_add_suite(sr, pg_suite());
#endif
    if (getenv("STORE_BENCH") != NULL)
        srunner_add_suite(sr, bench_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
