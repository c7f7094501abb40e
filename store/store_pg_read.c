/* store/store_pg_read.c - the PostgreSQL backend's queries, readers and
 * verify.
 *
 * Thread contract: the store's own reader (s->rd) belongs to the caller's
 * (loop) thread; a reader from pg_reader_open() has a connection of its
 * own and belongs to one thread at a time.  Walks read a machine's events
 * PG_READ_CHUNK at a time inside one REPEATABLE READ transaction (one
 * snapshot), checking each event's seq and chained sum as the SQLite
 * backend does.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_int.h"
#include "store_pack.h"

#define PACK_COLS           "first_seq, last_seq, body, sum"
#define PACK_EVENTS_MAX_SQL "16" /* PACK_EVENTS_MAX, in SQL text */
#define PACK_BODY_MAX       (PACK_EVENTS_MAX * (PACK_HEAD_MAX + 4 * STORE_MAX_ARGS))

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t pg__unhex(const char *text, unsigned char *out, size_t cap)
{
    size_t n = 0;

    if (text[0] != '\\' || text[1] != 'x')
        return (size_t)-1;
    for (text += 2; text[0] != '\0'; text += 2) {
        int hi = hexval(text[0]), lo = hexval(text[1]);

        if (hi < 0 || lo < 0 || n == cap)
            return (size_t)-1;
        out[n++] = (unsigned char)(hi << 4 | lo);
    }
    return n;
}

static void reader_err(struct store_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reader_err(struct store_reader *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap) < 0)
        r->errmsg[0] = '\0';
    va_end(ap);
}

/* The store's own reader's failure, also for pg_errmsg(). */
static enum store_status main_status(struct store *s, enum store_status st)
{
    if (st != STORE_OK)
        pg__format(s->errmsg, sizeof(s->errmsg), "%s", s->rd.errmsg);
    return st;
}

/* Runs a query on @r's connection; once the server has dropped that
 * (restarted, backend terminated) it connects again first. */
static PGresult *rquery(struct store_reader *r, const char *what,
                        const char *sql, int n, const char *const *val,
                        int want)
{
    if (PQstatus(r->conn) != CONNECTION_OK && r->s != NULL) {
        PGconn *c = pg__connect(r->s->url, r->errmsg);

        if (c == NULL)
            return NULL;
        PQfinish(r->conn);
        r->conn = c;
    }
    return pg__exec(r->conn, what, sql, n, val, want, r->errmsg);
}

static bool rexec(struct store_reader *r, const char *sql)
{
    PGresult *res = rquery(r, "transaction", sql, 0, NULL, PGRES_COMMAND_OK);

    PQclear(res);
    return res != NULL;
}

/* The events of the body at column @col of @res's row @row, decoded into
 * @ev[0..*@n) with their args in @words (PACK_EVENTS_MAX x
 * STORE_MAX_ARGS); false if the body is malformed or holds more. */
static bool row_events(const PGresult *res, int row, int col, uint64_t machine,
                       struct store_event *ev, uint32_t *words, size_t *n)
{
    static __thread unsigned char body[PACK_BODY_MAX];
    size_t len = pg__unhex(PQgetvalue(res, row, col), body, sizeof(body));

    *n = 0;
    return len != (size_t)-1 && pack_get_all(body, len, machine, ev, words, n);
}

/* The stored sum of event @seq in the body at column @col of @res's row
 * @row, into *@sum; false if that body does not hold it. */
static bool body_sum(const PGresult *res, int row, int col, uint64_t machine,
                     uint64_t seq, uint64_t *sum)
{
    static __thread unsigned char body[PACK_BODY_MAX];
    size_t len = pg__unhex(PQgetvalue(res, row, col), body, sizeof(body));

    return len != (size_t)-1 && pack_find(body, len, machine, seq, sum);
}

/* ------------------------------------------------------------------ */
/* Readers                                                             */
/* ------------------------------------------------------------------ */

enum store_status pg_reader_open(struct store *s, struct store_reader **out)
{
    struct store_reader *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        pg__format(s->errmsg, sizeof(s->errmsg), "out of memory");
        return STORE_UNAVAILABLE;
    }
    r->s = s;
    r->own = true;
    r->conn = pg__connect(s->url, s->errmsg);
    if (r->conn == NULL) {
        free(r);
        return STORE_UNAVAILABLE;
    }
    *out = r;
    return STORE_OK;
}

void pg_reader_close(struct store_reader *r)
{
    if (r == NULL || !r->own)
        return;
    PQfinish(r->conn);
    free(r);
}

struct store_reader *pg_main_reader(struct store *s)
{
    return &s->rd;
}

const char *pg_reader_errmsg(const struct store_reader *r)
{
    return r->errmsg;
}

/* Where @machine's history begins (parent_seq) and its committed last
 * seq; both 0 for an unknown machine. */
static enum store_status bounds(struct store_reader *r, uint64_t machine,
                                uint64_t *base, uint64_t *committed)
{
    char id[24];
    const char *val[1] = { id };
    PGresult *res;

    snprintf(id, sizeof(id), "%" PRIu64, machine);
    res = rquery(r, "machine",
                 "SELECT coalesce(parent_seq, 0), last_seq"
                 " FROM machines WHERE id = $1",
                 1, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return STORE_UNAVAILABLE;
    *base = *committed = 0;
    if (PQntuples(res) == 1) {
        *base = pg__u64(res, 0, 0);
        *committed = pg__u64(res, 0, 1);
    }
    PQclear(res);
    return STORE_OK;
}

static enum store_status sum_of(struct store_reader *r, uint64_t machine,
                                uint64_t seq, uint64_t *sum)
{
    char num[2][24];
    const char *val[2] = { num[0], num[1] };
    PGresult *res;

    snprintf(num[0], 24, "%" PRIu64, machine);
    snprintf(num[1], 24, "%" PRIu64, seq);
    res = rquery(r, "event",
                 "SELECT body FROM event_packs WHERE machine = $1"
                 " AND first_seq <= $2 ORDER BY first_seq DESC LIMIT 1",
                 2, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return STORE_UNAVAILABLE;
    if (PQntuples(res) != 1 || !body_sum(res, 0, 0, machine, seq, sum)) {
        PQclear(res);
        reader_err(r,
                   "machine %" PRIu64 ": no event at seq %" PRIu64
                   " to continue from",
                   machine, seq);
        return STORE_CORRUPT;
    }
    PQclear(res);
    return STORE_OK;
}

/* A walk's state: the next seq and the sum the next event chains over. */
struct walk {
    uint64_t machine;
    uint64_t next;
    uint64_t prev;
    uint64_t n;
    bool stopped;
    uint64_t after; /* events up to this one are skipped */
    uint64_t row;   /* the last row's last_seq read */
};

static bool chain_ok(struct store_reader *r, struct walk *w,
                     const struct store_event *ev, const unsigned char *args,
                     uint64_t stored)
{
    uint64_t sum;

    if (ev->seq != w->next) {
        reader_err(r,
                   "machine %" PRIu64 ": seq %" PRIu64 " where seq %" PRIu64
                   " was expected (events missing or out of order)",
                   ev->machine, ev->seq, w->next);
        return false;
    }
    sum = store__event_sum(w->prev, ev->machine, ev->seq, ev->time_ms, ev->op,
                           ev->cpu, args, (size_t)ev->nargs * 4, ev->value,
                           ev->aux, ev->flags, ev->status);
    if (sum != stored) {
        reader_err(r,
                   "machine %" PRIu64 " seq %" PRIu64 ": checksum differs "
                   "(stored %016" PRIx64 ", computed %016" PRIx64 "): the "
                   "event or one before it was changed",
                   ev->machine, ev->seq, stored, sum);
        return false;
    }
    w->prev = sum;
    w->next++;
    return true;
}

/* A packed row's columns (first_seq, last_seq, sum at @col, @col + 1,
 * @col + 3 of @res's row @row) must say what its body holds. */
static bool row_ok(struct store_reader *r, const PGresult *res, int row,
                   int col, uint64_t machine, uint64_t first, uint64_t last,
                   uint64_t last_sum)
{
    return pack_row_matches(r->errmsg, sizeof(r->errmsg), machine,
                            pg__u64(res, row, col), pg__u64(res, row, col + 1),
                            pg__u64(res, row, col + 3), first, last, last_sum);
}

/* The events of row @row of a PACK_COLS result, walked into @w: each
 * checked against the chain, then given to @fn (events up to w->after
 * skipped, w->stopped set past @upto). */
static enum store_status walk_row(struct store_reader *r, struct walk *w,
                                  const PGresult *res, int row, uint64_t upto,
                                  int (*fn)(void *arg,
                                            const struct store_event *ev),
                                  void *arg)
{
    static __thread uint32_t words[STORE_MAX_ARGS];
    static __thread unsigned char body[PACK_BODY_MAX];
    struct pack_cur cur = { 0, 0 };
    const unsigned char *args;
    struct store_event ev;
    uint64_t first = 0, sum = 0;
    size_t len = pg__unhex(PQgetvalue(res, row, 2), body, sizeof(body));
    uint32_t k;

    w->row = pg__u64(res, row, 1);
    for (k = 0; len != (size_t)-1 && cur.off < len; k++) {
        if (k == PACK_EVENTS_MAX ||
            !pack_get(body, len, &cur, w->machine, &ev, words, &sum, &args))
            break;
        if (k == 0)
            first = ev.seq;
        if (ev.seq <= w->after)
            continue;
        if (ev.seq > upto) {
            w->stopped = true;
            return STORE_OK;
        }
        if (!chain_ok(r, w, &ev, args, sum))
            return STORE_CORRUPT;
        w->n++;
        if (fn != NULL && fn(arg, &ev) != 0) {
            w->stopped = true;
            return STORE_OK;
        }
    }
    if (len == (size_t)-1 || k == 0 || cur.off != len) {
        reader_err(r,
                   "machine %" PRIu64 " seq %" PRIu64 ": malformed packed"
                   " row (%zu bytes)",
                   w->machine, w->next, len == (size_t)-1 ? 0 : len);
        return STORE_CORRUPT;
    }
    return row_ok(r, res, row, 0, w->machine, first, ev.seq, sum)
               ? STORE_OK
               : STORE_CORRUPT;
}

/* One chunk of the walk: the rows after w->row up to @upto. */
static enum store_status walk_chunk(
    struct store_reader *r, struct walk *w, uint64_t upto,
    int (*fn)(void *arg, const struct store_event *ev), void *arg, int *rows)
{
    char num[4][24];
    const char *val[4] = { num[0], num[1], num[2], num[3] };
    enum store_status st = STORE_OK;
    PGresult *res;
    int i;

    snprintf(num[0], 24, "%" PRIu64, w->machine);
    snprintf(num[1], 24, "%" PRIu64, w->row);
    snprintf(num[2], 24, "%" PRIu64, upto);
    snprintf(num[3], 24, "%d", PG_READ_CHUNK);
    res = rquery(r, "events",
                 "SELECT " PACK_COLS " FROM event_packs WHERE"
                 " machine = $1 AND last_seq > $2"
                 " AND first_seq > $2 - " PACK_EVENTS_MAX_SQL
                 " AND first_seq <= $3 ORDER BY first_seq LIMIT $4",
                 4, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return STORE_UNAVAILABLE;
    *rows = PQntuples(res);
    for (i = 0; i < *rows && st == STORE_OK && !w->stopped; i++)
        st = walk_row(r, w, res, i, upto, fn, arg);
    PQclear(res);
    return st;
}

static enum store_status walk(struct store_reader *r, uint64_t machine,
                              uint64_t after_seq, uint64_t upto_seq,
                              int (*fn)(void *arg,
                                        const struct store_event *ev),
                              void *arg, uint64_t *count)
{
    struct walk w = { machine,   1,        store__chain_seed(machine), 0, false,
                      after_seq, after_seq };
    uint64_t base, committed, upto;
    enum store_status st;
    int rows = PG_READ_CHUNK;

    st = bounds(r, machine, &base, &committed);
    if (st != STORE_OK)
        return st;
    w.next = base + 1;
    if (after_seq > base) {
        st = sum_of(r, machine, after_seq, &w.prev);
        if (st != STORE_OK)
            return st;
        w.next = after_seq + 1;
    }
    upto = upto_seq != 0 && upto_seq < (uint64_t)INT64_MAX ? upto_seq
                                                           : INT64_MAX;
    while (st == STORE_OK && !w.stopped && rows == PG_READ_CHUNK)
        st = walk_chunk(r, &w, upto, fn, arg, &rows);
    if (count != NULL)
        *count = w.n;
    if (st == STORE_OK && !w.stopped && w.next - 1 < committed &&
        (upto_seq == 0 || w.next - 1 < upto_seq)) {
        reader_err(r,
                   "machine %" PRIu64 ": history ends at seq %" PRIu64
                   ", but seq %" PRIu64 " was committed (truncated)",
                   machine, w.next - 1,
                   upto_seq != 0 && upto_seq < committed ? upto_seq
                                                         : committed);
        return STORE_CORRUPT;
    }
    return st;
}

enum store_status pg_reader_events(struct store_reader *r, uint64_t machine,
                                   uint64_t after_seq, uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count)
{
    enum store_status st;

    if (count != NULL)
        *count = 0;
    if (r->busy) {
        reader_err(r, "events: called from inside its own callback");
        return STORE_INVALID_ARGUMENT;
    }
    if (!rexec(r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        return STORE_UNAVAILABLE;
    r->busy = true;
    st = walk(r, machine, after_seq, upto_seq, fn, arg, count);
    r->busy = false;
    if (!rexec(r, "COMMIT") && st == STORE_OK)
        st = STORE_UNAVAILABLE;
    return st;
}

enum store_status pg_reader_checkpoint(struct store_reader *r, uint64_t machine,
                                       uint64_t at_most, uint64_t *seq,
                                       void **blob, size_t *len)
{
    char num[2][24];
    const char *val[2] = { num[0], num[1] };
    PGresult *res;
    unsigned char *b;
    size_t n;
    const char *hex;

    snprintf(num[0], 24, "%" PRIu64, machine);
    snprintf(num[1], 24, "%" PRId64,
             at_most != 0 && at_most < INT64_MAX ? (int64_t)at_most
                                                 : INT64_MAX);
    res = rquery(r, "checkpoint",
                 "SELECT seq, blob, sum FROM checkpoints"
                 " WHERE machine = $1 AND seq <= $2 ORDER BY seq DESC"
                 " LIMIT 1",
                 2, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return STORE_UNAVAILABLE;
    if (PQntuples(res) == 0) {
        PQclear(res);
        reader_err(r, "machine %" PRIu64 ": no checkpoint", machine);
        return STORE_NOT_FOUND;
    }
    hex = PQgetvalue(res, 0, 1);
    n = strlen(hex) / 2;
    b = malloc(n + 1);
    if (b == NULL) {
        PQclear(res);
        reader_err(r, "out of memory");
        return STORE_UNAVAILABLE;
    }
    n = pg__unhex(hex, b, n + 1);
    *seq = pg__u64(res, 0, 0);
    if (n == (size_t)-1 ||
        store__checkpoint_sum(machine, *seq, b, n) != pg__u64(res, 0, 2)) {
        reader_err(r,
                   "machine %" PRIu64 ": checkpoint at seq %" PRIu64
                   " fails its checksum",
                   machine, *seq);
        free(b);
        PQclear(res);
        return STORE_CORRUPT;
    }
    PQclear(res);
    *blob = b;
    *len = n;
    return STORE_OK;
}

enum store_status pg_reader_parent(struct store_reader *r, uint64_t id,
                                   uint64_t *parent, uint64_t *parent_seq)
{
    char num[24];
    const char *val[1] = { num };
    PGresult *res;

    snprintf(num, sizeof(num), "%" PRIu64, id);
    res = rquery(r, "machine",
                 "SELECT coalesce(parent, 0),"
                 " coalesce(parent_seq, 0) FROM machines WHERE id = $1",
                 1, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return STORE_UNAVAILABLE;
    if (PQntuples(res) == 0) {
        PQclear(res);
        reader_err(r, "machine %" PRIu64 ": no such row", id);
        return STORE_NOT_FOUND;
    }
    *parent = pg__u64(res, 0, 0);
    *parent_seq = pg__u64(res, 0, 1);
    PQclear(res);
    return STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Queries on the store's own reader                                   */
/* ------------------------------------------------------------------ */

enum store_status pg_foreach_event_after(
    struct store *s, uint64_t machine, uint64_t after_seq, uint64_t upto_seq,
    int (*fn)(void *arg, const struct store_event *ev), void *arg,
    uint64_t *count)
{
    return main_status(s, pg_reader_events(&s->rd, machine, after_seq, upto_seq,
                                           fn, arg, count));
}

enum store_status pg_foreach_event(struct store *s, uint64_t machine,
                                   uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count)
{
    return pg_foreach_event_after(s, machine, 0, upto_seq, fn, arg, count);
}

enum store_status pg_checkpoint_get(struct store *s, uint64_t machine,
                                    uint64_t at_most, uint64_t *seq,
                                    void **blob, size_t *len)
{
    enum store_status st = pg_reader_checkpoint(&s->rd, machine, at_most, seq,
                                                blob, len);

    return st == STORE_NOT_FOUND ? st : main_status(s, st);
}

/* Refuses a query from inside another's callback. */
static bool enter(struct store *s, const char *what)
{
    if (s->querying || s->rd.busy) {
        pg__format(s->errmsg, sizeof(s->errmsg),
                   "%s: called from inside "
                   "another query's callback",
                   what);
        return false;
    }
    s->querying = true;
    return true;
}

/* One batch of history rows from @lo to @hi; rows given until the page is
 * full.  @last receives the last seq read. */
static enum store_status history_rows(
    struct store *s, const struct store_history_query *q, uint64_t lo,
    uint64_t hi, int (*fn)(void *arg, const struct store_event *ev), void *arg,
    struct store_page *page, int *nrows, uint64_t *last)
{
    static __thread uint32_t words[PACK_EVENTS_MAX * STORE_MAX_ARGS];
    struct store_event ev[PACK_EVENTS_MAX];
    char num[4][24];
    const char *val[4] = { num[0], num[1], num[2], num[3] };
    PGresult *res;
    bool stop = false;
    int i;

    snprintf(num[0], 24, "%" PRIu64, q->machine);
    snprintf(num[1], 24, "%" PRIu64, lo);
    snprintf(num[2], 24, "%" PRIu64, hi);
    snprintf(num[3], 24, "%d", PG_READ_CHUNK);
    res = rquery(&s->rd, "history",
                 q->newest_first
                     ? "SELECT " PACK_COLS " FROM event_packs"
                       " WHERE machine = $1 AND first_seq <= $3"
                       " AND first_seq > $2 - " PACK_EVENTS_MAX_SQL
                       " AND last_seq >= $2 ORDER BY first_seq DESC LIMIT $4"
                     : "SELECT " PACK_COLS " FROM event_packs"
                       " WHERE machine = $1 AND first_seq <= $3"
                       " AND first_seq > $2 - " PACK_EVENTS_MAX_SQL
                       " AND last_seq >= $2 ORDER BY first_seq LIMIT $4",
                 4, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return STORE_UNAVAILABLE;
    *nrows = PQntuples(res);
    for (i = 0; i < *nrows && !stop; i++) {
        size_t n;

        if (!row_events(res, i, 2, q->machine, ev, words, &n)) {
            reader_err(&s->rd,
                       "machine %" PRIu64 " events %s-%s: malformed packed"
                       " row",
                       q->machine, PQgetvalue(res, i, 0),
                       PQgetvalue(res, i, 1));
            PQclear(res);
            return STORE_UNAVAILABLE;
        }
        /* The next chunk starts past this row. */
        *last = pg__u64(res, i, q->newest_first ? 0 : 1);
        stop = pack_history(q, ev, n, lo, hi, fn, arg, page);
    }
    PQclear(res);
    return STORE_OK;
}

enum store_status pg_history(struct store *s,
                             const struct store_history_query *q,
                             int (*fn)(void *arg, const struct store_event *ev),
                             void *arg, struct store_page *page)
{
    uint64_t lo, hi, last = 0;
    enum store_status st = STORE_OK;
    int rows = PG_READ_CHUNK;

    memset(page, 0, sizeof(*page));
    if (q->machine == 0 || (q->by_addr && q->addr_first > q->addr_last)) {
        pg__format(s->errmsg, sizeof(s->errmsg), "history: %s",
                   q->machine == 0 ? "machine 0" : "empty address range");
        return STORE_INVALID_ARGUMENT;
    }
    if (!enter(s, "history"))
        return STORE_INVALID_ARGUMENT;
    lo = q->seq_first;
    hi = q->seq_last ? q->seq_last : INT64_MAX;
    if (hi > (uint64_t)INT64_MAX)
        hi = INT64_MAX;
    page->cursor = q->cursor;
    if (q->cursor >= (uint64_t)INT64_MAX)
        goto out;
    if (q->cursor != 0) {
        if (q->newest_first && q->cursor - 1 < hi)
            hi = q->cursor - 1;
        else if (!q->newest_first && q->cursor + 1 > lo)
            lo = q->cursor + 1;
    }
    while (lo <= hi && rows == PG_READ_CHUNK && !page->more) {
        st = history_rows(s, q, lo, hi, fn, arg, page, &rows, &last);
        if (st != STORE_OK || rows == 0)
            break;
        if (q->newest_first) {
            if (last <= lo)
                break;
            hi = last - 1;
        } else {
            if (last >= hi)
                break;
            lo = last + 1;
        }
    }
out:
    s->querying = false;
    return main_status(s, st);
}

/* Per-op counts of @machine's events above @after, at most @limit of
 * them (0: all), each given to @fn; @last receives the last seq. */
static enum store_status counts(struct store *s, uint64_t machine,
                                uint64_t after, uint32_t limit,
                                void (*fn)(void *arg, uint32_t op,
                                           uint64_t count),
                                void *arg, uint64_t *last)
{
    static __thread uint32_t words[PACK_EVENTS_MAX * STORE_MAX_ARGS];
    struct store_event ev[PACK_EVENTS_MAX];
    char num[3][24];
    const char *val[3] = { num[0], num[1], limit ? num[2] : NULL };
    struct {
        uint32_t op;
        uint64_t count;
    } *v = NULL;
    size_t nv = 0, cap = 0, j, n, k;
    uint32_t left = limit;
    PGresult *res;
    int i;

    snprintf(num[0], 24, "%" PRIu64, machine);
    snprintf(num[1], 24, "%" PRIu64, after);
    snprintf(num[2], 24, "%" PRIu32, limit);
    /* At most @limit rows hold @limit events. */
    res = rquery(&s->rd, "op counts",
                 "SELECT " PACK_COLS " FROM event_packs WHERE machine = $1"
                 " AND last_seq > $2 AND first_seq > $2 - " PACK_EVENTS_MAX_SQL
                 " ORDER BY first_seq LIMIT $3",
                 3, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return STORE_UNAVAILABLE;
    if (last != NULL)
        *last = 0;
    for (i = 0; i < PQntuples(res) && (limit == 0 || left > 0); i++) {
        if (!row_events(res, i, 2, machine, ev, words, &n)) {
            reader_err(&s->rd,
                       "op counts: machine %" PRIu64 ": malformed packed row",
                       machine);
            PQclear(res);
            free(v);
            return STORE_UNAVAILABLE;
        }
        for (k = 0; k < n && (limit == 0 || left > 0); k++) {
            if (ev[k].seq <= after)
                continue;
            for (j = 0; j < nv && v[j].op < ev[k].op; j++)
                ;
            if (j == nv || v[j].op != ev[k].op) {
                if (nv == cap) {
                    void *nb = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

                    if (nb == NULL) {
                        reader_err(&s->rd, "op counts: out of memory");
                        PQclear(res);
                        free(v);
                        return STORE_UNAVAILABLE;
                    }
                    v = nb;
                    cap = cap ? cap * 2 : 16;
                }
                memmove(v + j + 1, v + j, (nv - j) * sizeof(*v));
                v[j].op = ev[k].op;
                v[j].count = 0;
                nv++;
            }
            v[j].count++;
            if (last != NULL)
                *last = ev[k].seq;
            left--;
        }
    }
    PQclear(res);
    for (j = 0; j < nv; j++)
        fn(arg, v[j].op, v[j].count);
    free(v);
    return STORE_OK;
}

enum store_status pg_op_counts(struct store *s, uint64_t machine,
                               void (*fn)(void *arg, uint32_t op,
                                          uint64_t count),
                               void *arg)
{
    return main_status(s, counts(s, machine, 0, 0, fn, arg, NULL));
}

enum store_status pg_op_counts_page(struct store *s, uint64_t machine,
                                    uint64_t after_seq, uint32_t limit,
                                    void (*fn)(void *arg, uint32_t op,
                                               uint64_t count),
                                    void *arg, uint64_t *last_seq)
{
    if (machine == 0 || limit == 0) {
        pg__format(s->errmsg, sizeof(s->errmsg), "op counts: %s",
                   machine == 0 ? "machine 0" : "limit 0");
        return STORE_INVALID_ARGUMENT;
    }
    return main_status(s,
                       counts(s, machine, after_seq, limit, fn, arg, last_seq));
}

#define MACHINE_COLS \
    "id, tenant, name, config, created, destroyed, nevents, last_seq," \
    " coalesce(parent, 0), coalesce(parent_seq, 0), sum"

/* Row @row of a MACHINE_COLS result as @m (strings borrowed from it). */
static void row_machine(const PGresult *res, int row, struct store_machine *m,
                        bool config)
{
    memset(m, 0, sizeof(*m));
    m->id = pg__u64(res, row, 0);
    m->tenant = PQgetvalue(res, row, 1);
    m->name = PQgetvalue(res, row, 2);
    m->config = config ? PQgetvalue(res, row, 3) : NULL;
    m->created_ms = pg__i64(res, row, 4);
    m->destroyed = !PQgetisnull(res, row, 5);
    m->destroyed_ms = m->destroyed ? pg__i64(res, row, 5) : 0;
    m->nevents = pg__u64(res, row, 6);
    m->last_seq = pg__u64(res, row, 7);
    m->parent = pg__u64(res, row, 8);
    m->parent_seq = pg__u64(res, row, 9);
}

/* The row's checksum: NULL if it holds, else why not (in @buf). */
static const char *row_corrupt(const PGresult *res, int row, char *buf,
                               size_t n)
{
    const struct store_machine *m;
    struct store_machine mm;
    uint64_t sum;

    row_machine(res, row, &mm, true);
    m = &mm;
    sum = store__machine_sum(m->id, m->tenant, m->name, m->config,
                             m->created_ms, m->parent,
                             m->parent != 0 ? m->parent_seq : 0);
    if (sum == pg__u64(res, row, 10))
        return NULL;
    pg__format(buf, n,
               "machine %" PRIu64 ": row fails its checksum "
               "(stored %016" PRIx64 ", computed %016" PRIx64 ")",
               m->id, pg__u64(res, row, 10), sum);
    return buf;
}

enum store_status pg_list_machines(
    struct store *s, const struct store_machine_filter *f,
    int (*fn)(void *arg, const struct store_machine *m), void *arg, bool *more)
{
    static const struct store_machine_filter all;
    char num[3][24];
    const char *val[4];
    struct store_machine m;
    PGresult *res;
    int i, n;

    if (f == NULL)
        f = &all;
    if (more != NULL)
        *more = false;
    if (!enter(s, "list"))
        return STORE_INVALID_ARGUMENT;
    snprintf(num[0], 24, "%" PRIu64, f->after_id);
    snprintf(num[1], 24, "%" PRIu64, (uint64_t)f->limit + 1);
    val[0] = num[0];
    val[1] = f->limit ? num[1] : NULL;
    val[2] = f->tenant;
    val[3] = f->include_destroyed ? "t" : "f";
    res = rquery(&s->rd, "list",
                 "SELECT " MACHINE_COLS " FROM machines"
                 " WHERE id > $1 AND ($3::text IS NULL OR tenant = $3)"
                 " AND ($4::bool OR destroyed IS NULL) ORDER BY id LIMIT $2",
                 4, val, PGRES_TUPLES_OK);
    s->querying = false;
    if (res == NULL)
        return main_status(s, STORE_UNAVAILABLE);
    n = PQntuples(res);
    s->querying = true;
    for (i = 0; i < n; i++) {
        if (f->limit != 0 && (uint32_t)i == f->limit) {
            if (more != NULL)
                *more = true;
            break;
        }
        row_machine(res, i, &m, false);
        if (fn(arg, &m) != 0) {
            if (more != NULL)
                *more = i + 1 < n;
            break;
        }
    }
    s->querying = false;
    PQclear(res);
    return STORE_OK;
}

enum store_status pg_machine_dup(struct store *s, uint64_t id,
                                 struct store_machine **out)
{
    char num[24], why[STORE_MSG_MAX];
    const char *val[1] = { num };
    struct store_machine m, *c;
    const char *bad;
    PGresult *res;
    size_t lt, ln, lc, lb;
    char *p;

    snprintf(num, sizeof(num), "%" PRIu64, id);
    res = rquery(&s->rd, "machine",
                 "SELECT " MACHINE_COLS " FROM machines"
                 " WHERE id = $1",
                 1, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return main_status(s, STORE_UNAVAILABLE);
    if (PQntuples(res) == 0) {
        PQclear(res);
        pg__format(s->errmsg, sizeof(s->errmsg),
                   "machine %" PRIu64 ": not found", id);
        return STORE_NOT_FOUND;
    }
    row_machine(res, 0, &m, true);
    bad = row_corrupt(res, 0, why, sizeof(why));
    lt = strlen(m.tenant) + 1;
    ln = strlen(m.name) + 1;
    lc = strlen(m.config) + 1;
    lb = bad != NULL ? strlen(bad) + 1 : 0;
    c = malloc(sizeof(*c) + lt + ln + lc + lb);
    if (c == NULL) {
        PQclear(res);
        pg__format(s->errmsg, sizeof(s->errmsg), "out of memory");
        return STORE_UNAVAILABLE;
    }
    *c = m;
    p = (char *)(c + 1);
    c->tenant = memcpy(p, m.tenant, lt);
    c->name = memcpy(p + lt, m.name, ln);
    c->config = memcpy(p + lt + ln, m.config, lc);
    c->corrupt = bad != NULL ? memcpy(p + lt + ln + lc, bad, lb) : NULL;
    PQclear(res);
    *out = c;
    return STORE_OK;
}

enum store_status pg_foreach_live_machine(
    struct store *s, int (*fn)(void *arg, const struct store_machine *m),
    void *arg)
{
    char why[STORE_MSG_MAX];
    struct store_machine m;
    PGresult *res;
    int i;

    if (!enter(s, "live machines"))
        return STORE_INVALID_ARGUMENT;
    res = rquery(&s->rd, "live machines",
                 "SELECT " MACHINE_COLS " FROM"
                 " machines WHERE destroyed IS NULL ORDER BY id",
                 0, NULL, PGRES_TUPLES_OK);
    if (res == NULL) {
        s->querying = false;
        return main_status(s, STORE_UNAVAILABLE);
    }
    for (i = 0; i < PQntuples(res); i++) {
        row_machine(res, i, &m, true);
        m.corrupt = row_corrupt(res, i, why, sizeof(why));
        if (fn(arg, &m) != 0)
            break;
    }
    s->querying = false;
    PQclear(res);
    return STORE_OK;
}

enum store_status pg_max_machine_id(struct store *s, uint64_t *id)
{
    PGresult *res = rquery(&s->rd, "largest machine id",
                           "SELECT value FROM"
                           " armmap_meta WHERE key = 'max_id'",
                           0, NULL, PGRES_TUPLES_OK);

    if (res == NULL)
        return main_status(s, STORE_UNAVAILABLE);
    *id = PQntuples(res) == 1 ? pg__u64(res, 0, 0) : 0;
    PQclear(res);
    return STORE_OK;
}

enum store_status pg_rkeys(struct store *s, uint64_t machine,
                           const char *tenant, uint64_t key,
                           int (*fn)(void *arg, const struct store_rkey *k),
                           void *arg)
{
    char num[2][24];
    const char *val[3] = { num[0], tenant != NULL ? tenant : "", num[1] };
    struct store_rkey k;
    unsigned char *buf = NULL;
    PGresult *res;
    int i, n;

    snprintf(num[0], 24, "%" PRIu64, machine);
    snprintf(num[1], 24, "%" PRId64, (int64_t)key);
    res = rquery(
        &s->rd, "request keys",
        "SELECT machine, tenant, key, ord, target, reply"
        " FROM request_keys WHERE machine = $1"
        " AND ($1::bigint != 0 OR tenant = $2) AND ($3::bigint = 0 OR key = $3::bigint)"
        " ORDER BY ord",
        3, val, PGRES_TUPLES_OK);
    if (res == NULL)
        return main_status(s, STORE_UNAVAILABLE);
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        size_t cap = (size_t)PQgetlength(res, i, 5) / 2 + 1;
        unsigned char *nb = realloc(buf, cap);

        if (nb == NULL)
            break;
        buf = nb;
        k.machine = pg__u64(res, i, 0);
        k.tenant = PQgetvalue(res, i, 1);
        k.key = (uint64_t)pg__i64(res, i, 2);
        k.ord = pg__u64(res, i, 3);
        k.target = pg__u64(res, i, 4);
        k.len = pg__unhex(PQgetvalue(res, i, 5), buf, cap);
        k.reply = buf;
        if (k.len == (size_t)-1 || fn(arg, &k) != 0)
            break;
    }
    free(buf);
    PQclear(res);
    if (i < n && buf == NULL) {
        pg__format(s->errmsg, sizeof(s->errmsg), "request keys: out of memory");
        return STORE_UNAVAILABLE;
    }
    return STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Verify                                                              */
/* ------------------------------------------------------------------ */

struct vctx {
    void (*report)(void *arg, const char *line);
    void *arg;
    uint64_t problems;
};

static void problem(struct vctx *v, const char *line)
{
    v->problems++;
    if (v->report != NULL)
        v->report(v->arg, line);
}

/* Checks every machine row, its history and its counts. */
static enum store_status verify_machines(struct store_reader *r, struct vctx *v)
{
    char why[STORE_MSG_MAX];
    PGresult *res = rquery(r, "machines",
                           "SELECT " MACHINE_COLS " FROM"
                           " machines ORDER BY id",
                           0, NULL, PGRES_TUPLES_OK);
    int i;

    if (res == NULL)
        return STORE_UNAVAILABLE;
    for (i = 0; i < PQntuples(res); i++) {
        struct store_machine m;
        uint64_t n = 0;
        enum store_status st;

        row_machine(res, i, &m, true);
        if (row_corrupt(res, i, why, sizeof(why)) != NULL)
            problem(v, why);
        st = walk(r, m.id, 0, 0, NULL, NULL, &n);
        if (st == STORE_UNAVAILABLE) {
            PQclear(res);
            return st;
        }
        if (st != STORE_OK)
            problem(v, r->errmsg);
        else if (n != m.nevents) {
            pg__format(why, sizeof(why),
                       "machine %" PRIu64 ": %" PRIu64
                       " events stored, its row counts %" PRIu64,
                       m.id, n, m.nevents);
            problem(v, why);
        }
    }
    PQclear(res);
    return STORE_OK;
}

static enum store_status verify_orphans(struct store_reader *r, struct vctx *v)
{
    char line[STORE_MSG_MAX];
    PGresult *res = rquery(r, "events",
                           "SELECT machine, sum(last_seq - first_seq + 1)"
                           " FROM event_packs e WHERE NOT EXISTS (SELECT 1 FROM"
                           " machines m WHERE m.id = e.machine) GROUP BY"
                           " machine ORDER BY machine",
                           0, NULL, PGRES_TUPLES_OK);
    int i;

    if (res == NULL)
        return STORE_UNAVAILABLE;
    for (i = 0; i < PQntuples(res); i++) {
        pg__format(line, sizeof(line),
                   "machine %s: %s events without a "
                   "machine row",
                   PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        problem(v, line);
    }
    PQclear(res);
    return STORE_OK;
}

enum store_status pg_verify(const char *path,
                            void (*report)(void *arg, const char *line),
                            void *arg, uint64_t *problems,
                            char err[STORE_MSG_MAX])
{
    struct store_reader r;
    struct vctx v = { report, arg, 0 };
    enum store_status st = STORE_UNAVAILABLE;
    PGresult *res;

    memset(&r, 0, sizeof(r));
    err[0] = '\0';
    if (problems != NULL)
        *problems = 0;
    r.conn = pg__connect(path, err);
    if (r.conn == NULL)
        return STORE_UNAVAILABLE;
    res = rquery(&r, "schema version",
                 "SELECT value FROM armmap_meta"
                 " WHERE key = 'schema_version'",
                 0, NULL, PGRES_TUPLES_OK);
    if (res == NULL) {
        pg__format(err, STORE_MSG_MAX, "%s", r.errmsg);
        PQfinish(r.conn);
        return STORE_UNAVAILABLE;
    }
    if (PQntuples(res) != 1 || pg__i64(res, 0, 0) != PG_SCHEMA_VERSION) {
        pg__format(err, STORE_MSG_MAX,
                   "postgresql: schema version %s, not"
                   " %d",
                   PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "missing",
                   PG_SCHEMA_VERSION);
        PQclear(res);
        PQfinish(r.conn);
        return STORE_INVALID_ARGUMENT;
    }
    PQclear(res);
    if (rexec(&r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) {
        st = verify_machines(&r, &v);
        if (st == STORE_OK)
            st = verify_orphans(&r, &v);
        rexec(&r, "COMMIT");
    }
    if (st != STORE_OK)
        pg__format(err, STORE_MSG_MAX, "%s", r.errmsg);
    if (problems != NULL)
        *problems = v.problems;
    PQfinish(r.conn);
    return st;
}
