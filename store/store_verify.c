/* store/store_verify.c - an offline check of a whole database.
 *
 * Thread contract: sq_verify() opens its own read-only connection and
 * shares nothing with a struct store; any thread may call it, and it may
 * run beside a daemon that has the database open (it reads one WAL
 * snapshot).  It reports every problem it finds, one line each, and does
 * not stop at the first:
 *  - PRAGMA integrity_check (SQLite's own b-tree and index checks);
 *  - the schema version (older databases are migrated by armmapd at open);
 *  - every machine row against its checksum;
 *  - every machine's events: seqs from parent_seq + 1 without a hole, each
 *    sum chained over the previous one, and, where the row's counts are
 *    exact (not left stale by a crash), the count and last seq it records;
 *  - events of machines that have no row;
 *  - every checkpoint against its checksum.
 */
#include "store_int.h"

struct verify {
    sqlite3 *db;
    void (*report)(void *arg, const char *line);
    void *arg;
    uint64_t problems;
};

static void problem(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct verify *v, const char *fmt, ...)
{
    char line[STORE_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    v->problems++;
    if (v->report != NULL)
        v->report(v->arg, line);
}

static void check_integrity(struct verify *v)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(v->db, "PRAGMA integrity_check", -1, &st, NULL);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(st, 0);

        if (row != NULL && strcmp(row, "ok") != 0)
            problem(v, "integrity_check: %s", row);
    }
    if (rc != SQLITE_OK)
        problem(v, "integrity_check: %s", sqlite3_errmsg(v->db));
    sqlite3_finalize(st);
}

/* One event of a machine's walk: false (reported) if it breaks the
 * chain. */
static bool check_event(struct verify *v, const struct store_event *e,
                        const unsigned char *args, uint64_t stored,
                        uint64_t *next, uint64_t *prev)
{
    uint64_t sum = store__event_sum(*prev, e->machine, e->seq, e->time_ms,
                                    e->op, e->cpu, args, 4 * (size_t)e->nargs,
                                    e->value, e->aux, e->flags, e->status);
    char why[STORE_MSG_MAX];

    if (pack_chain_ok(why, sizeof(why), e, stored, sum, next, prev))
        return true;
    problem(v, "%s", why);
    return false;
}

/* A packed row's columns must say what its body holds (as the reader's
 * row_ok() checks). */
static bool pack_row_ok(struct verify *v, sqlite3_stmt *ev, uint64_t id,
                        uint64_t first, uint64_t last, uint64_t last_sum)
{
    char why[STORE_MSG_MAX];

    if (pack_row_matches(why, sizeof(why), id,
                         (uint64_t)sqlite3_column_int64(ev, 0),
                         (uint64_t)sqlite3_column_int64(ev, 1),
                         (uint64_t)sqlite3_column_int64(ev, 3), first, last,
                         last_sum))
        return true;
    problem(v, "%s", why);
    return false;
}

/* The events of the current packed row of @ev (PACK_COLUMNS): false
 * (reported) at the first problem. */
static bool check_pack(struct verify *v, sqlite3_stmt *ev, uint64_t id,
                       uint64_t *next, uint64_t *prev, uint64_t *n)
{
    uint32_t words[STORE_MAX_ARGS];
    const unsigned char *body = sqlite3_column_blob(ev, 2);
    size_t len = (size_t)sqlite3_column_bytes(ev, 2);
    struct pack_cur cur = { 0, 0 };
    const unsigned char *args;
    struct store_event e;
    uint64_t first = 0, sum = 0;
    uint32_t k;

    for (k = 0; cur.off < len; k++) {
        if (k == PACK_EVENTS_MAX ||
            !pack_get(body, len, &cur, id, &e, words, &sum, &args)) {
            problem(v,
                    "machine %" PRIu64 " seq %" PRIu64 ": malformed packed"
                    " row (%zu bytes)",
                    id, *next, len);
            return false;
        }
        if (k == 0)
            first = e.seq;
        if (!check_event(v, &e, args, sum, next, prev))
            return false;
        (*n)++;
    }
    if (k == 0) {
        problem(v, "machine %" PRIu64 " seq %" PRIu64 ": empty packed row", id,
                *next);
        return false;
    }
    return pack_row_ok(v, ev, id, first, e.seq, sum);
}

/* One machine's events, as sq_foreach_event() checks them. */
static void check_events(struct verify *v, sqlite3_stmt *ev, uint64_t id,
                         uint64_t base, bool exact, uint64_t nevents,
                         uint64_t last_seq)
{
    uint64_t next = base + 1, prev = store__chain_seed(id), n = 0;
    bool broken = false;

    sqlite3_bind_int64(ev, 1, (sqlite3_int64)id);
    while (!broken && sqlite3_step(ev) == SQLITE_ROW)
        broken = !check_pack(v, ev, id, &next, &prev, &n);
    sqlite3_reset(ev);
    if (broken || !exact)
        return;
    if (next - 1 < last_seq)
        problem(v,
                "machine %" PRIu64 ": history ends at seq %" PRIu64
                ", but seq %" PRIu64 " was committed (truncated)",
                id, next - 1, last_seq);
    else if (n != nevents || next - 1 != last_seq)
        problem(v,
                "machine %" PRIu64 ": %" PRIu64 " events up to seq %" PRIu64
                ", but its row records %" PRIu64 " up to seq %" PRIu64,
                id, n, next - 1, nevents, last_seq);
}

static void check_machines(struct verify *v)
{
    sqlite3_stmt *st = NULL, *ev = NULL;
    int rc;

    rc = sqlite3_prepare_v2(v->db,
                            "SELECT " MACHINE_COLUMNS ", counts_stale"
                            " FROM machines ORDER BY id",
                            -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(v->db,
                                "SELECT " PACK_COLUMNS " FROM event_packs"
                                " WHERE machine = ?1 ORDER BY first_seq",
                                -1, &ev, NULL);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
        uint64_t stored = (uint64_t)sqlite3_column_int64(st, 10);
        uint64_t sum =
            store__machine_sum(id, (const char *)sqlite3_column_text(st, 1),
                               (const char *)sqlite3_column_text(st, 2),
                               (const char *)sqlite3_column_text(st, 3),
                               sqlite3_column_int64(st, 4),
                               (uint64_t)sqlite3_column_int64(st, 8),
                               (uint64_t)sqlite3_column_int64(st, 9));

        if (sum != stored)
            problem(v,
                    "machine %" PRIu64 ": its row (tenant, name, config, "
                    "creation, parent) fails its checksum (stored %016" PRIx64
                    ", computed %016" PRIx64 "): it was changed",
                    id, stored, sum);
        check_events(v, ev, id, (uint64_t)sqlite3_column_int64(st, 9),
                     sqlite3_column_int64(st, 11) == 0,
                     (uint64_t)sqlite3_column_int64(st, 6),
                     (uint64_t)sqlite3_column_int64(st, 7));
    }
    if (rc != SQLITE_OK)
        problem(v, "reading machines: %s", sqlite3_errmsg(v->db));
    sqlite3_finalize(st);
    sqlite3_finalize(ev);
}

static void check_orphans(struct verify *v)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(v->db,
                           "SELECT machine,"
                           " sum(last_seq - first_seq + 1) FROM event_packs"
                           " WHERE machine NOT IN (SELECT id FROM machines)"
                           " GROUP BY machine",
                           -1, &st, NULL) != SQLITE_OK) {
        problem(v, "reading events: %s", sqlite3_errmsg(v->db));
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        problem(v, "machine %lld: %lld events but no machine row",
                (long long)sqlite3_column_int64(st, 0),
                (long long)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
}

static void check_checkpoints(struct verify *v)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(v->db,
                           "SELECT machine, seq, blob, sum FROM"
                           " checkpoints ORDER BY machine, seq",
                           -1, &st, NULL) != SQLITE_OK) {
        problem(v, "reading checkpoints: %s", sqlite3_errmsg(v->db));
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t machine = (uint64_t)sqlite3_column_int64(st, 0);
        uint64_t seq = (uint64_t)sqlite3_column_int64(st, 1);
        const void *blob = sqlite3_column_blob(st, 2);
        uint64_t stored = (uint64_t)sqlite3_column_int64(st, 3);
        uint64_t sum = store__checkpoint_sum(machine, seq, blob,
                                             (size_t)sqlite3_column_bytes(st,
                                                                          2));

        if (sum != stored)
            problem(v,
                    "machine %" PRIu64 ": checkpoint at seq %" PRIu64
                    " fails its checksum (stored %016" PRIx64
                    ", computed %016" PRIx64 ")",
                    machine, seq, stored, sum);
    }
    sqlite3_finalize(st);
}

enum store_status sq_verify(const char *path,
                            void (*report)(void *arg, const char *line),
                            void *arg, uint64_t *problems,
                            char err[STORE_MSG_MAX])
{
    struct verify v;
    sqlite3_int64 version = 0;
    sqlite3_stmt *st = NULL;

    assert(path != NULL && err != NULL);
    err[0] = '\0';
    memset(&v, 0, sizeof(v));
    v.report = report;
    v.arg = arg;
    if (problems != NULL)
        *problems = 0;
    if (access(path, R_OK) != 0) {
        format(err, STORE_MSG_MAX, "%s: %s", path, strerror(errno));
        return STORE_UNAVAILABLE;
    }
    if (sqlite3_open_v2(path, &v.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(v.db, "PRAGMA user_version", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        store__sqlite_err(path, v.db, "", err);
        sqlite3_finalize(st);
        sqlite3_close(v.db);
        return STORE_UNAVAILABLE;
    }
    version = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (version != STORE_SCHEMA_VERSION) {
        format(err, STORE_MSG_MAX, "%s: schema version %lld, not %d: %s", path,
               (long long)version, STORE_SCHEMA_VERSION,
               version < STORE_SCHEMA_VERSION && version > 0
                   ? "start armmapd on it once to migrate it, then verify"
                   : "not a database of this armmapd");
        sqlite3_close(v.db);
        return STORE_INVALID_ARGUMENT;
    }
    check_integrity(&v);
    check_machines(&v);
    check_orphans(&v);
    check_checkpoints(&v);
    sqlite3_close(v.db);
    if (problems != NULL)
        *problems = v.problems;
    return STORE_OK;
}
