/* store/store_read.c - queries on the read connection: history, op counts,
 * machine lists and rows, and the ordered walks of recovery and fork.
 *
 * Thread contract: every function here runs on the caller's thread (the
 * daemon's loop thread), one at a time, on the read connection (s->rdb)
 * and its statements.  WAL gives each statement the snapshot of the last
 * commit made before it started, so reads never wait for the writer (the
 * memdb of ":memory:" has no WAL: there a read waits while it commits).
 * The only shared state read here is s->ct (committed event counts not
 * yet written to their rows), through store__overlay_counts(), which
 * takes @lock.
 */
#include "store_int.h"

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

/* A statement still stepping belongs to a query whose callback called the
 * same kind of query again: refuse rather than reset it under that one. */
static bool stmt_idle(struct store *s, sqlite3_stmt *st, const char *what)
{
    if (!sqlite3_stmt_busy(st))
        return true;
    set_err(s, "%s: called from inside its own callback", what);
    return false;
}

static enum store_status read_failed(struct store *s, sqlite3_stmt *st,
                                     const char *what)
{
    set_err(s, "%s: %s", what, sqlite3_errmsg(s->rdb));
    sqlite3_reset(st);
    return STORE_UNAVAILABLE;
}

/* Decodes the event in the current row of @st (columns EVENT_COLUMNS)
 * into @ev, its args into @words; false if the args blob is malformed. */
static bool read_event(sqlite3_stmt *st, uint64_t machine,
                       struct store_event *ev, uint32_t words[STORE_MAX_ARGS])
{
    const unsigned char *blob = sqlite3_column_blob(st, 4);
    int len = sqlite3_column_bytes(st, 4); /* after the blob: see API */
    int i;

    ev->machine = machine;
    ev->seq = (uint64_t)sqlite3_column_int64(st, 0);
    ev->time_ms = sqlite3_column_int64(st, 1);
    ev->op = (uint32_t)sqlite3_column_int64(st, 2);
    ev->cpu = (uint32_t)sqlite3_column_int64(st, 3);
    ev->value = (uint32_t)sqlite3_column_int64(st, 5);
    ev->aux = (uint32_t)sqlite3_column_int64(st, 6);
    ev->flags = (uint32_t)sqlite3_column_int64(st, 7);
    ev->status = (int32_t)sqlite3_column_int64(st, 8);
    if (len % 4 != 0 || len > 4 * STORE_MAX_ARGS)
        return false;
    ev->nargs = (uint32_t)len / 4;
    for (i = 0; i < len / 4; i++)
        words[i] = get_le32(blob + 4 * i);
    ev->args = words;
    return true;
}

static enum store_status bad_blob(struct store *s, sqlite3_stmt *st,
                                  uint64_t machine)
{
    set_err(s, "machine %" PRIu64 " event %lld: malformed args (%d bytes)",
            machine, (long long)sqlite3_column_int64(st, 0),
            sqlite3_column_bytes(st, 4));
    sqlite3_reset(st);
    return STORE_UNAVAILABLE;
}

/* The address filter of sq_history(): an argument word or the value in
 * [lo, hi]. */
static bool touches(const struct store_event *ev, uint32_t lo, uint32_t hi)
{
    uint32_t i;

    if (ev->value >= lo && ev->value <= hi)
        return true;
    for (i = 0; i < ev->nargs; i++)
        if (ev->args[i] >= lo && ev->args[i] <= hi)
            return true;
    return false;
}

enum store_status sq_history(struct store *s,
                             const struct store_history_query *q,
                             int (*fn)(void *arg, const struct store_event *ev),
                             void *arg, struct store_page *page)
{
    sqlite3_stmt *st;
    uint64_t lo, hi;
    uint32_t words[STORE_MAX_ARGS];
    struct store_event ev;
    int rc;

    assert(s != NULL && q != NULL && page != NULL);
    memset(page, 0, sizeof(*page));
    if (q->machine == 0 || (q->by_addr && q->addr_first > q->addr_last)) {
        set_err(s, "history: %s",
                q->machine == 0 ? "machine 0" : "empty address range");
        return STORE_INVALID_ARGUMENT;
    }
    st = s->r_history[q->newest_first ? 1 : 0];
    if (!stmt_idle(s, st, "history"))
        return STORE_INVALID_ARGUMENT;
    lo = q->seq_first;
    hi = q->seq_last ? q->seq_last : UINT64_MAX;
    if (q->cursor >= (uint64_t)INT64_MAX)
        return STORE_OK; /* past every storable seq */
    if (q->cursor != 0) {
        if (q->newest_first && q->cursor - 1 < hi)
            hi = q->cursor - 1;
        else if (!q->newest_first && q->cursor + 1 > lo)
            lo = q->cursor + 1;
    }
    page->cursor = q->cursor;
    if (lo > hi || lo > (uint64_t)INT64_MAX)
        return STORE_OK;
    sqlite3_bind_int64(st, 1, clamp_u64(q->machine));
    sqlite3_bind_int64(st, 2, (sqlite3_int64)lo);
    sqlite3_bind_int64(st, 3, clamp_u64(hi));
    if (q->by_op)
        sqlite3_bind_int64(st, 4, q->op);
    else
        sqlite3_bind_null(st, 4);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!read_event(st, q->machine, &ev, words))
            return bad_blob(s, st, q->machine);
        if (q->by_addr && !touches(&ev, q->addr_first, q->addr_last))
            continue;
        if (q->limit != 0 && page->rows == q->limit) {
            page->more = true;
            break;
        }
        page->rows++;
        page->cursor = ev.seq;
        if (fn != NULL && fn(arg, &ev) != 0) {
            page->more = true;
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return read_failed(s, st, "history");
    sqlite3_reset(st);
    return STORE_OK;
}

/* Counts per op, kept sorted by op.  A machine uses a handful of ops, so a
 * binary search per row beats SQLite's GROUP BY, which sorts the rows in
 * a temporary b-tree (measured: three times the CPU for 1M events). */
struct op_count {
    uint32_t op;
    uint64_t count;
};

static bool count_op(struct op_count **v, size_t *n, size_t *cap, uint32_t op)
{
    size_t lo = 0, hi = *n, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if ((*v)[mid].op < op)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < *n && (*v)[lo].op == op) {
        (*v)[lo].count++;
        return true;
    }
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        struct op_count *nv = realloc(*v, ncap * sizeof(*nv));

        if (nv == NULL)
            return false;
        *v = nv;
        *cap = ncap;
    }
    memmove(*v + lo + 1, *v + lo, (*n - lo) * sizeof(**v));
    (*v)[lo].op = op;
    (*v)[lo].count = 1;
    (*n)++;
    return true;
}

enum store_status sq_op_counts(struct store *s, uint64_t machine,
                               void (*fn)(void *arg, uint32_t op,
                                          uint64_t count),
                               void *arg)
{
    sqlite3_stmt *st = s->r_op_counts;
    struct op_count *v = NULL;
    size_t n = 0, cap = 0, i;
    int rc;

    if (!stmt_idle(s, st, "op counts"))
        return STORE_INVALID_ARGUMENT;
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!count_op(&v, &n, &cap, (uint32_t)sqlite3_column_int64(st, 0))) {
            free(v);
            sqlite3_reset(st);
            set_err(s, "op counts: out of memory");
            return STORE_UNAVAILABLE;
        }
    }
    if (rc != SQLITE_DONE) {
        free(v);
        return read_failed(s, st, "op counts");
    }
    sqlite3_reset(st);
    for (i = 0; i < n && fn != NULL; i++)
        fn(arg, v[i].op, v[i].count);
    free(v);
    return STORE_OK;
}

/* Reads the current row of @st (columns MACHINE_COLUMNS) into @m; its
 * strings point into the row and die with the next step. */
/* For a row of MACHINE_COLUMNS: sets m->corrupt (in s->corrupt) if the
 * row fails its checksum. */
static void check_row(struct store *s, sqlite3_stmt *st,
                      struct store_machine *m)
{
    uint64_t stored = (uint64_t)sqlite3_column_int64(st, 10);
    uint64_t sum = store__machine_sum(m->id, m->tenant, m->name, m->config,
                                      m->created_ms, m->parent, m->parent_seq);

    m->corrupt = NULL;
    if (stored == sum)
        return;
    format(s->corrupt, sizeof(s->corrupt),
           "machine %" PRIu64 ": its row "
           "(tenant, name, config, creation, parent) fails its checksum "
           "(stored %016" PRIx64 ", computed %016" PRIx64 "): it was changed",
           m->id, stored, sum);
    m->corrupt = s->corrupt;
}

static void read_machine(sqlite3_stmt *st, struct store_machine *m)
{
    m->id = (uint64_t)sqlite3_column_int64(st, 0);
    m->tenant = (const char *)sqlite3_column_text(st, 1);
    m->name = (const char *)sqlite3_column_text(st, 2);
    m->config = (const char *)sqlite3_column_text(st, 3);
    m->created_ms = sqlite3_column_int64(st, 4);
    m->destroyed = sqlite3_column_type(st, 5) != SQLITE_NULL;
    m->destroyed_ms = m->destroyed ? sqlite3_column_int64(st, 5) : 0;
    m->nevents = (uint64_t)sqlite3_column_int64(st, 6);
    m->last_seq = (uint64_t)sqlite3_column_int64(st, 7);
    m->parent = (uint64_t)sqlite3_column_int64(st, 8); /* NULL: 0 */
    m->parent_seq = (uint64_t)sqlite3_column_int64(st, 9);
    if (m->tenant == NULL)
        m->tenant = "";
    if (m->name == NULL)
        m->name = "";
}

enum store_status sq_list_machines(
    struct store *s, const struct store_machine_filter *f,
    int (*fn)(void *arg, const struct store_machine *m), void *arg, bool *more)
{
    static const struct store_machine_filter live;
    struct store_machine m;
    sqlite3_stmt *st;
    uint32_t rows = 0;
    int rc;

    if (f == NULL)
        f = &live;
    if (more != NULL)
        *more = false;
    st = f->tenant != NULL ? s->r_list_tenant : s->r_list_all;
    if (!stmt_idle(s, st, "list machines"))
        return STORE_INVALID_ARGUMENT;
    sqlite3_bind_int64(st, 1, clamp_u64(f->after_id));
    sqlite3_bind_int(st, 2, f->include_destroyed);
    if (f->tenant != NULL)
        sqlite3_bind_text(st, 3, f->tenant, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (f->limit != 0 && rows == f->limit) {
            if (more != NULL)
                *more = true;
            break;
        }
        read_machine(st, &m);
        store__overlay_counts(s, &m);
        m.config = NULL; /* lists do not read the config */
        rows++;
        if (fn != NULL && fn(arg, &m) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return read_failed(s, st, "list machines");
    sqlite3_reset(st);
    return STORE_OK;
}

enum store_status sq_machine_dup(struct store *s, uint64_t id,
                                 struct store_machine **out)
{
    sqlite3_stmt *st = s->r_machine;
    struct store_machine m, *copy;
    size_t lt, ln, lc;
    char *p;
    int rc;

    assert(out != NULL);
    *out = NULL;
    if (!stmt_idle(s, st, "machine"))
        return STORE_INVALID_ARGUMENT;
    sqlite3_bind_int64(st, 1, clamp_u64(id));
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        set_err(s, "machine %" PRIu64 " not found", id);
        return STORE_NOT_FOUND;
    }
    if (rc != SQLITE_ROW)
        return read_failed(s, st, "machine");
    read_machine(st, &m);
    check_row(s, st, &m);
    if (m.corrupt != NULL) {
        set_err(s, "%s", m.corrupt);
        sqlite3_reset(st);
        return STORE_CORRUPT;
    }
    store__overlay_counts(s, &m);
    if (m.config == NULL)
        m.config = "";
    lt = strlen(m.tenant) + 1;
    ln = strlen(m.name) + 1;
    lc = strlen(m.config) + 1;
    copy = malloc(sizeof(*copy) + lt + ln + lc);
    if (copy == NULL) {
        sqlite3_reset(st);
        set_err(s, "machine %" PRIu64 ": out of memory", id);
        return STORE_UNAVAILABLE;
    }
    *copy = m;
    p = (char *)(copy + 1);
    copy->tenant = memcpy(p, m.tenant, lt);
    copy->name = memcpy(p + lt, m.name, ln);
    copy->config = memcpy(p + lt + ln, m.config, lc);
    sqlite3_reset(st);
    *out = copy;
    return STORE_OK;
}

enum store_status sq_foreach_live_machine(
    struct store *s, int (*fn)(void *arg, const struct store_machine *m),
    void *arg)
{
    sqlite3_stmt *st = s->r_live;
    struct store_machine m;
    int rc;

    if (!stmt_idle(s, st, "live machines"))
        return STORE_INVALID_ARGUMENT;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_machine(st, &m);
        check_row(s, st, &m);
        store__overlay_counts(s, &m);
        if (m.config == NULL)
            m.config = "";
        if (fn != NULL && fn(arg, &m) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return read_failed(s, st, "live machines");
    sqlite3_reset(st);
    return STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Readers: the replay reads                                           */
/* ------------------------------------------------------------------ */

static void reader_err(struct store_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reader_err(struct store_reader *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(r->errmsg, sizeof(r->errmsg), fmt, ap);
    va_end(ap);
}

static enum store_status reader_failed(struct store_reader *r, sqlite3_stmt *st,
                                       const char *what)
{
    reader_err(r, "%s: %s", what, sqlite3_errmsg(r->db));
    sqlite3_reset(st);
    return STORE_UNAVAILABLE;
}

int store__reader_prepare(struct store_reader *r)
{
    static const struct {
        size_t off;
        const char *sql;
    } stmts[] = {
        { offsetof(struct store_reader, events),
          "SELECT " EVENT_COLUMNS " FROM events"
          " WHERE machine = ?1 AND seq <= ?2 AND seq > ?3 ORDER BY seq" },
        { offsetof(struct store_reader, event_sum),
          "SELECT sum FROM events WHERE machine = ?1 AND seq = ?2" },
        { offsetof(struct store_reader, base),
          "SELECT coalesce(parent_seq, 0), last_seq, counts_stale"
          " FROM machines WHERE id = ?1" },
        { offsetof(struct store_reader, checkpoint),
          "SELECT seq, blob, sum FROM checkpoints"
          " WHERE machine = ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT 1" },
        { offsetof(struct store_reader, parent),
          "SELECT coalesce(parent, 0), coalesce(parent_seq, 0)"
          " FROM machines WHERE id = ?1" },
    };
    size_t i;
    int rc = SQLITE_OK;

    for (i = 0; rc == SQLITE_OK && i < sizeof(stmts) / sizeof(stmts[0]); i++)
        rc = sqlite3_prepare_v3(
            r->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
            (sqlite3_stmt **)(void *)((char *)r + stmts[i].off), NULL);
    return rc;
}

void store__reader_finalize(struct store_reader *r)
{
    sqlite3_finalize(r->events);
    sqlite3_finalize(r->event_sum);
    sqlite3_finalize(r->base);
    sqlite3_finalize(r->checkpoint);
    sqlite3_finalize(r->parent);
    r->events = r->event_sum = r->base = r->checkpoint = r->parent = NULL;
}

enum store_status sq_reader_open(struct store *s, struct store_reader **out)
{
    struct store_reader *r = calloc(1, sizeof(*r));
    int rc;

    *out = NULL;
    if (r == NULL) {
        set_err(s, "reader: out of memory");
        return STORE_UNAVAILABLE;
    }
    r->s = s;
    r->own = true;
    rc = sqlite3_open_v2(s->uri, &r->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                             SQLITE_OPEN_URI,
                         NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(r->db, 1);
        sqlite3_busy_timeout(r->db, BUSY_TIMEOUT_MS);
        rc = pragma_int(r->db, "query_only", 1);
    }
    if (rc == SQLITE_OK && !s->memory)
        rc = pragma_int(r->db, "mmap_size", READER_MMAP_BYTES);
    if (rc == SQLITE_OK)
        rc = store__reader_prepare(r);
    if (rc != SQLITE_OK) {
        store__sqlite_err(s->path, r->db, "opening a reader", s->errmsg);
        sq_reader_close(r);
        return STORE_UNAVAILABLE;
    }
    *out = r;
    return STORE_OK;
}

void sq_reader_close(struct store_reader *r)
{
    if (r == NULL || !r->own)
        return;
    store__reader_finalize(r);
    sqlite3_close(r->db);
    free(r);
}

struct store_reader *sq_main_reader(struct store *s)
{
    return &s->rd;
}

const char *sq_reader_errmsg(const struct store_reader *r)
{
    return r->errmsg;
}

enum store_status sq_reader_parent(struct store_reader *r, uint64_t id,
                                   uint64_t *parent, uint64_t *parent_seq)
{
    sqlite3_stmt *st = r->parent;
    int rc;

    *parent = *parent_seq = 0;
    sqlite3_bind_int64(st, 1, clamp_u64(id));
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        reader_err(r, "machine %" PRIu64 " has no row", id);
        return STORE_NOT_FOUND;
    }
    if (rc != SQLITE_ROW)
        return reader_failed(r, st, "machine");
    *parent = (uint64_t)sqlite3_column_int64(st, 0);
    *parent_seq = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return STORE_OK;
}

/* Where machine @machine's history must begin (its parent_seq + 1) and
 * the last seq known committed (0: not known, the row's counts are stale). */
static enum store_status history_bounds(struct store_reader *r,
                                        uint64_t machine, uint64_t *base,
                                        uint64_t *committed)
{
    sqlite3_stmt *st = r->base;
    struct store_machine m;
    int rc;

    *base = *committed = 0;
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return reader_failed(r, st, "machine");
    if (rc == SQLITE_ROW) {
        *base = (uint64_t)sqlite3_column_int64(st, 0);
        if (sqlite3_column_int64(st, 2) == 0)
            *committed = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return STORE_OK; /* unknown or purged: no events */
    memset(&m, 0, sizeof(m));
    m.id = machine;
    store__overlay_counts(r->s, &m); /* this session's commits */
    if (m.last_seq > *committed)
        *committed = m.last_seq;
    return STORE_OK;
}

/* Checks one row of a machine's walk against the chain so far: its seq
 * must be the next one and its sum must chain over the previous one. */
static bool chain_ok(struct store_reader *r, sqlite3_stmt *st,
                     const struct store_event *ev, uint64_t *next_seq,
                     uint64_t *prev)
{
    uint64_t stored = (uint64_t)sqlite3_column_int64(st, 9);
    uint64_t sum;

    if (ev->seq != *next_seq) {
        reader_err(r,
                   "machine %" PRIu64 ": seq %" PRIu64 " where seq %" PRIu64
                   " was expected (events missing or out of order)",
                   ev->machine, ev->seq, *next_seq);
        return false;
    }
    sum = store__event_sum(*prev, ev->machine, ev->seq, ev->time_ms, ev->op,
                           ev->cpu, sqlite3_column_blob(st, 4),
                           (size_t)ev->nargs * 4, ev->value, ev->aux, ev->flags,
                           ev->status);
    if (sum != stored) {
        reader_err(r,
                   "machine %" PRIu64 " seq %" PRIu64 ": checksum differs "
                   "(stored %016" PRIx64 ", computed %016" PRIx64 "): the "
                   "event or one before it was changed",
                   ev->machine, ev->seq, stored, sum);
        return false;
    }
    *prev = sum;
    (*next_seq)++;
    return true;
}

enum store_status sq_foreach_event(struct store *s, uint64_t machine,
                                   uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count)
{
    return sq_foreach_event_after(s, machine, 0, upto_seq, fn, arg, count);
}

/* The stored sum of event @seq of @machine, where a walk after it starts
 * its chain; STORE_CORRUPT (and the error set) if that event is not
 * there. */
static enum store_status sum_of(struct store_reader *r, uint64_t machine,
                                uint64_t seq, uint64_t *sum)
{
    sqlite3_stmt *st = r->event_sum;
    int rc;

    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    sqlite3_bind_int64(st, 2, clamp_u64(seq));
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        reader_err(r,
                   "machine %" PRIu64 ": no event at seq %" PRIu64
                   " to continue from",
                   machine, seq);
        return STORE_CORRUPT;
    }
    if (rc != SQLITE_ROW)
        return reader_failed(r, st, "event");
    *sum = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return STORE_OK;
}

/* Copies a failure of the store's own reader to sq_errmsg(). */
static enum store_status main_reader_status(struct store *s,
                                            enum store_status st)
{
    if (st != STORE_OK)
        format(s->errmsg, sizeof(s->errmsg), "%s", s->rd.errmsg);
    return st;
}

enum store_status sq_foreach_event_after(
    struct store *s, uint64_t machine, uint64_t after_seq, uint64_t upto_seq,
    int (*fn)(void *arg, const struct store_event *ev), void *arg,
    uint64_t *count)
{
    return main_reader_status(s, sq_reader_events(&s->rd, machine, after_seq,
                                                  upto_seq, fn, arg, count));
}

enum store_status sq_reader_events(struct store_reader *r, uint64_t machine,
                                   uint64_t after_seq, uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count)
{
    sqlite3_stmt *st = r->events;
    uint32_t words[STORE_MAX_ARGS];
    struct store_event ev;
    uint64_t n = 0, base, committed, next, prev;
    bool stopped = false;
    enum store_status ss;
    int rc;

    if (count != NULL)
        *count = 0;
    if (sqlite3_stmt_busy(st)) {
        reader_err(r, "events: called from inside its own callback");
        return STORE_INVALID_ARGUMENT;
    }
    ss = history_bounds(r, machine, &base, &committed);
    if (ss != STORE_OK)
        return ss;
    next = base + 1;
    prev = store__chain_seed(machine);
    if (after_seq > base) {
        ss = sum_of(r, machine, after_seq, &prev);
        if (ss != STORE_OK)
            return ss;
        next = after_seq + 1;
    }
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    sqlite3_bind_int64(st, 2, upto_seq ? clamp_u64(upto_seq) : INT64_MAX);
    sqlite3_bind_int64(st, 3, clamp_u64(after_seq));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!read_event(st, machine, &ev, words)) {
            reader_err(r,
                       "machine %" PRIu64 " event %lld: malformed args "
                       "(%d bytes)",
                       machine, (long long)sqlite3_column_int64(st, 0),
                       sqlite3_column_bytes(st, 4));
            sqlite3_reset(st);
            return STORE_UNAVAILABLE;
        }
        if (!chain_ok(r, st, &ev, &next, &prev)) {
            sqlite3_reset(st);
            return STORE_CORRUPT;
        }
        n++;
        if (fn != NULL && fn(arg, &ev) != 0) {
            stopped = true;
            break;
        }
    }
    if (count != NULL)
        *count = n;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return reader_failed(r, st, "events");
    sqlite3_reset(st);
    if (!stopped && next - 1 < committed &&
        (upto_seq == 0 || next - 1 < upto_seq)) {
        reader_err(r,
                   "machine %" PRIu64 ": history ends at seq %" PRIu64
                   ", but seq %" PRIu64 " was committed (truncated)",
                   machine, next - 1,
                   upto_seq != 0 && upto_seq < committed ? upto_seq
                                                         : committed);
        return STORE_CORRUPT;
    }
    return STORE_OK;
}

enum store_status sq_checkpoint_get(struct store *s, uint64_t machine,
                                    uint64_t at_most, uint64_t *seq,
                                    void **blob, size_t *len)
{
    return main_reader_status(s, sq_reader_checkpoint(&s->rd, machine, at_most,
                                                      seq, blob, len));
}

enum store_status sq_reader_checkpoint(struct store_reader *r, uint64_t machine,
                                       uint64_t at_most, uint64_t *seq,
                                       void **blob, size_t *len)
{
    sqlite3_stmt *st = r->checkpoint;
    const void *data;
    uint64_t stored, sum;
    int rc;

    assert(seq != NULL && blob != NULL && len != NULL);
    *seq = 0;
    *blob = NULL;
    *len = 0;
    if (sqlite3_stmt_busy(st)) {
        reader_err(r, "checkpoint: called from inside its own callback");
        return STORE_INVALID_ARGUMENT;
    }
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    sqlite3_bind_int64(st, 2, at_most ? clamp_u64(at_most) : INT64_MAX);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        reader_err(r,
                   "machine %" PRIu64 " has no checkpoint at or below "
                   "seq %" PRIu64,
                   machine, at_most);
        return STORE_NOT_FOUND;
    }
    if (rc != SQLITE_ROW)
        return reader_failed(r, st, "checkpoint");
    *seq = (uint64_t)sqlite3_column_int64(st, 0);
    data = sqlite3_column_blob(st, 1);
    *len = (size_t)sqlite3_column_bytes(st, 1);
    stored = (uint64_t)sqlite3_column_int64(st, 2);
    sum = store__checkpoint_sum(machine, *seq, data, *len);
    if (sum != stored) {
        reader_err(r,
                   "machine %" PRIu64 ": checkpoint at seq %" PRIu64
                   " fails its checksum (stored %016" PRIx64
                   ", computed %016" PRIx64 ")",
                   machine, *seq, stored, sum);
        sqlite3_reset(st);
        *len = 0;
        return STORE_CORRUPT;
    }
    *blob = malloc(*len > 0 ? *len : 1);
    if (*blob == NULL) {
        sqlite3_reset(st);
        *len = 0;
        reader_err(r, "checkpoint: out of memory");
        return STORE_UNAVAILABLE;
    }
    memcpy(*blob, data, *len);
    sqlite3_reset(st);
    return STORE_OK;
}

enum store_status sq_max_machine_id(struct store *s, uint64_t *id)
{
    sqlite3_stmt *st = s->r_max_id;
    int rc = sqlite3_step(st);

    *id = 0;
    if (rc != SQLITE_ROW)
        return read_failed(s, st, "max machine id");
    *id = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return STORE_OK;
}

enum store_status sq_rkeys(struct store *s, uint64_t machine,
                           const char *tenant, uint64_t key,
                           int (*fn)(void *arg, const struct store_rkey *k),
                           void *arg)
{
    sqlite3_stmt *st = s->r_rkeys;
    struct store_rkey k;
    int rc;

    if (!stmt_idle(s, st, "request keys"))
        return STORE_INVALID_ARGUMENT;
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    sqlite3_bind_text(st, 2, tenant != NULL ? tenant : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)key);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        k.machine = (uint64_t)sqlite3_column_int64(st, 0);
        k.tenant = (const char *)sqlite3_column_text(st, 1);
        k.key = (uint64_t)sqlite3_column_int64(st, 2);
        k.ord = (uint64_t)sqlite3_column_int64(st, 3);
        k.target = (uint64_t)sqlite3_column_int64(st, 4);
        k.reply = sqlite3_column_blob(st, 5);
        k.len = (size_t)sqlite3_column_bytes(st, 5);
        if (fn(arg, &k) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return read_failed(s, st, "request keys");
    sqlite3_reset(st);
    return STORE_OK;
}
