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

/* The events of the current row of @st (columns PACK_COLUMNS), decoded
 * into @ev[0..*@n) with their args in @words (PACK_EVENTS_MAX x
 * STORE_MAX_ARGS); false if the body is malformed or holds more. */
static bool read_pack(sqlite3_stmt *st, uint64_t machine,
                      struct store_event ev[PACK_EVENTS_MAX], uint32_t *words,
                      size_t *n)
{
    return pack_get_all(sqlite3_column_blob(st, 2),
                        (size_t)sqlite3_column_bytes(st, 2), machine, ev, words,
                        n);
}

static enum store_status bad_pack(struct store *s, sqlite3_stmt *st,
                                  uint64_t machine)
{
    set_err(s,
            "machine %" PRIu64 " events %lld-%lld: malformed packed row"
            " (%d bytes)",
            machine, (long long)sqlite3_column_int64(st, 0),
            (long long)sqlite3_column_int64(st, 1),
            sqlite3_column_bytes(st, 2));
    sqlite3_reset(st);
    return STORE_UNAVAILABLE;
}

enum store_status sq_history(struct store *s,
                             const struct store_history_query *q,
                             int (*fn)(void *arg, const struct store_event *ev),
                             void *arg, struct store_page *page)
{
    uint32_t *words;
    sqlite3_stmt *st;
    uint64_t lo, hi;
    struct store_event ev[PACK_EVENTS_MAX];
    bool stop = false;
    int rc = SQLITE_DONE;

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
    words = malloc(PACK_EVENTS_MAX * STORE_MAX_ARGS * sizeof(*words));
    if (words == NULL) {
        set_err(s, "history: out of memory");
        return STORE_UNAVAILABLE;
    }
    sqlite3_bind_int64(st, 1, clamp_u64(q->machine));
    sqlite3_bind_int64(st, 2, (sqlite3_int64)lo);
    sqlite3_bind_int64(st, 3, clamp_u64(hi));
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t n;

        if (!read_pack(st, q->machine, ev, words, &n)) {
            free(words);
            return bad_pack(s, st, q->machine);
        }
        stop = pack_history(q, ev, n, lo, hi, fn, arg, page);
    }
    free(words);
    if (stop)
        rc = SQLITE_DONE;
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
    static _Thread_local uint32_t words[STORE_MAX_ARGS];
    sqlite3_stmt *st = s->r_op_counts;
    struct op_count *v = NULL;
    size_t n = 0, cap = 0, i;
    int rc;

    if (!stmt_idle(s, st, "op counts"))
        return STORE_INVALID_ARGUMENT;
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *body = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        struct pack_cur cur = { 0, 0 };
        const unsigned char *args;
        struct store_event ev;
        uint64_t sum;

        while (cur.off < len &&
               pack_get(body, len, &cur, machine, &ev, words, &sum, &args)) {
            if (!count_op(&v, &n, &cap, ev.op)) {
                free(v);
                sqlite3_reset(st);
                set_err(s, "op counts: out of memory");
                return STORE_UNAVAILABLE;
            }
        }
        if (cur.off != len) {
            free(v);
            set_err(s, "op counts: machine %" PRIu64 ": malformed packed row",
                    machine);
            sqlite3_reset(st);
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
          "SELECT " PACK_COLUMNS " FROM event_packs"
          " WHERE machine = ?1 AND first_seq <= ?2"
          " AND first_seq > ?3 - " PACK_EVENTS_MAX_SQL " AND last_seq > ?3"
          " ORDER BY first_seq" },
        { offsetof(struct store_reader, event_sum),
          "SELECT body FROM event_packs WHERE machine = ?1"
          " AND first_seq <= ?2 ORDER BY first_seq DESC LIMIT 1" },
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

/* Checks one event of a machine's walk against the chain so far
 * (pack_chain_ok(); @args: its args bytes as stored). */
static bool chain_ok(struct store_reader *r, const struct store_event *ev,
                     const unsigned char *args, uint64_t stored,
                     uint64_t *next_seq, uint64_t *prev)
{
    uint64_t sum = store__event_sum(*prev, ev->machine, ev->seq, ev->time_ms,
                                    ev->op, ev->cpu, args,
                                    (size_t)ev->nargs * 4, ev->value, ev->aux,
                                    ev->flags, ev->status);

    return pack_chain_ok(r->errmsg, sizeof(r->errmsg), ev, stored, sum,
                         next_seq, prev);
}

/* A packed row's columns must say what its body holds: first_seq its first
 * event's seq, last_seq and sum its last event's. */
static bool row_ok(struct store_reader *r, sqlite3_stmt *st, uint64_t machine,
                   uint64_t first, uint64_t last, uint64_t last_sum)
{
    return pack_row_matches(r->errmsg, sizeof(r->errmsg), machine,
                            (uint64_t)sqlite3_column_int64(st, 0),
                            (uint64_t)sqlite3_column_int64(st, 1),
                            (uint64_t)sqlite3_column_int64(st, 3), first, last,
                            last_sum);
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
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return reader_failed(r, st, "event");
    if (rc == SQLITE_DONE ||
        !pack_find(sqlite3_column_blob(st, 0),
                   (size_t)sqlite3_column_bytes(st, 0), machine, seq, sum)) {
        sqlite3_reset(st);
        reader_err(r,
                   "machine %" PRIu64 ": no event at seq %" PRIu64
                   " to continue from",
                   machine, seq);
        return STORE_CORRUPT;
    }
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

/* One walk of sq_reader_events(): where it is and what it calls. */
struct walk {
    uint64_t machine;
    uint64_t after; /* events up to this one are skipped */
    uint64_t upto;  /* and after this one not read; 0: no bound */
    uint64_t next;  /* the seq the chain expects next */
    uint64_t prev;  /* the sum it chains over */
    uint64_t n;     /* events passed to fn */
    bool stopped;   /* fn asked to stop, or upto was passed */
    int (*fn)(void *arg, const struct store_event *ev);
    void *arg;
    uint32_t words[STORE_MAX_ARGS];
};

/* Walks the events of the current packed row of @st into @w: each checked
 * against the chain, then passed to w->fn.  STORE_OK, or STORE_CORRUPT
 * (a malformed body, a break in the chain, columns that differ from the
 * body) with the reader's error naming machine and seq. */
static enum store_status walk_row(struct store_reader *r, sqlite3_stmt *st,
                                  struct walk *w)
{
    const unsigned char *body = sqlite3_column_blob(st, 2);
    size_t len = (size_t)sqlite3_column_bytes(st, 2);
    struct pack_cur cur = { 0, 0 };
    const unsigned char *args;
    struct store_event ev;
    uint64_t first = 0, sum = 0;
    uint32_t k;

    for (k = 0; cur.off < len; k++) {
        if (k == PACK_EVENTS_MAX || !pack_get(body, len, &cur, w->machine, &ev,
                                              w->words, &sum, &args)) {
            reader_err(r,
                       "machine %" PRIu64 " seq %" PRIu64 ": malformed packed"
                       " row (%zu bytes)",
                       w->machine, w->next, len);
            return STORE_CORRUPT;
        }
        if (k == 0)
            first = ev.seq;
        if (ev.seq <= w->after)
            continue; /* before the walk: its sum was read by sum_of() */
        if (w->upto != 0 && ev.seq > w->upto) {
            w->stopped = true;
            return STORE_OK;
        }
        if (!chain_ok(r, &ev, args, sum, &w->next, &w->prev))
            return STORE_CORRUPT;
        w->n++;
        if (w->fn != NULL && w->fn(w->arg, &ev) != 0) {
            w->stopped = true;
            return STORE_OK;
        }
    }
    if (k == 0) {
        reader_err(r, "machine %" PRIu64 " seq %" PRIu64 ": empty packed row",
                   w->machine, w->next);
        return STORE_CORRUPT;
    }
    return row_ok(r, st, w->machine, first, ev.seq, sum) ? STORE_OK
                                                         : STORE_CORRUPT;
}

enum store_status sq_reader_events(struct store_reader *r, uint64_t machine,
                                   uint64_t after_seq, uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count)
{
    sqlite3_stmt *st = r->events;
    struct walk *w;
    uint64_t base, committed, next;
    bool stopped;
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
    w = malloc(sizeof(*w));
    if (w == NULL) {
        reader_err(r, "events: out of memory");
        return STORE_UNAVAILABLE;
    }
    *w = (struct walk){ .machine = machine,
                        .after = after_seq,
                        .upto = upto_seq,
                        .next = base + 1,
                        .prev = store__chain_seed(machine),
                        .fn = fn,
                        .arg = arg };
    if (after_seq > base) {
        ss = sum_of(r, machine, after_seq, &w->prev);
        if (ss != STORE_OK) {
            free(w);
            return ss;
        }
        w->next = after_seq + 1;
    }
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    sqlite3_bind_int64(st, 2, upto_seq ? clamp_u64(upto_seq) : INT64_MAX);
    sqlite3_bind_int64(st, 3, clamp_u64(after_seq));
    while (ss == STORE_OK && !w->stopped &&
           (rc = sqlite3_step(st)) == SQLITE_ROW)
        ss = walk_row(r, st, w);
    if (count != NULL)
        *count = w->n;
    next = w->next;
    stopped = w->stopped;
    free(w);
    if (ss != STORE_OK) {
        sqlite3_reset(st);
        return ss;
    }
    if (!stopped && rc != SQLITE_DONE)
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
