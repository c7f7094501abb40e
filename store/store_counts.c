/* store/store_counts.c - op counts of a machine's history, a slice at a
 * time.
 *
 * sq_op_counts() scans every event of a machine in one call: 0.1-0.5 s
 * of the daemon's loop for a machine of 200,000 to 2,000,000 events.
 * sq_op_counts_page() counts the next @limit events after a seq, so
 * the daemon can spread the scan over loop turns and serve other
 * connections between them (daemon/dispatch.c, history jobs).
 *
 * Thread contract: as store_read.c, the read connection's thread.  The
 * statement is prepared per call (tens of microseconds against a slice
 * of milliseconds), so nothing here is added to struct store.
 */
#include "store_int.h"

#define RUN_MAX 64 /* distinct ops gathered per flush */

struct op_run {
    uint32_t op;
    uint64_t count;
};

/* Hands the gathered counts to @fn and empties @v. */
static void flush_runs(struct op_run *v, size_t *n,
                       void (*fn)(void *arg, uint32_t op, uint64_t count),
                       void *arg)
{
    size_t i;

    for (i = 0; i < *n && fn != NULL; i++)
        fn(arg, v[i].op, v[i].count);
    *n = 0;
}

static void add_op(struct op_run *v, size_t *n, uint32_t op,
                   void (*fn)(void *arg, uint32_t op, uint64_t count),
                   void *arg)
{
    size_t i;

    for (i = 0; i < *n; i++) {
        if (v[i].op == op) {
            v[i].count++;
            return;
        }
    }
    if (*n == RUN_MAX)
        flush_runs(v, n, fn, arg);
    v[*n].op = op;
    v[*n].count = 1;
    (*n)++;
}

enum store_status sq_op_counts_page(struct store *s, uint64_t machine,
                                    uint64_t after_seq, uint32_t limit,
                                    void (*fn)(void *arg, uint32_t op,
                                               uint64_t count),
                                    void *arg, uint64_t *last_seq)
{
    static const char sql[] = "SELECT first_seq, body FROM event_packs"
                              " WHERE machine = ?1 AND last_seq > ?2"
                              " AND first_seq > ?2 - " PACK_EVENTS_MAX_SQL
                              " ORDER BY first_seq";
    static _Thread_local uint32_t words[STORE_MAX_ARGS];
    struct op_run v[RUN_MAX];
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    uint32_t left = limit;
    int rc = SQLITE_DONE;

    assert(s != NULL && last_seq != NULL);
    *last_seq = 0;
    if (machine == 0 || limit == 0) {
        set_err(s, "op counts: %s", machine == 0 ? "machine 0" : "limit 0");
        return STORE_INVALID_ARGUMENT;
    }
    if (after_seq >= (uint64_t)INT64_MAX)
        return STORE_OK; /* past every storable seq */
    if (sqlite3_prepare_v2(s->rdb, sql, -1, &st, NULL) != SQLITE_OK) {
        set_err(s, "op counts: %s", sqlite3_errmsg(s->rdb));
        sqlite3_finalize(st);
        return STORE_UNAVAILABLE;
    }
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    sqlite3_bind_int64(st, 2, clamp_u64(after_seq));
    while (left > 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *body = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        struct pack_cur cur = { 0, 0 };
        const unsigned char *args;
        struct store_event ev;
        uint64_t sum;

        while (left > 0 &&
               pack_get(body, len, &cur, machine, &ev, words, &sum, &args)) {
            if (ev.seq > after_seq) {
                *last_seq = ev.seq;
                add_op(v, &n, ev.op, fn, arg);
                left--;
            }
        }
    }
    if (left == 0)
        rc = SQLITE_DONE;
    if (rc != SQLITE_DONE) {
        set_err(s, "op counts: %s", sqlite3_errmsg(s->rdb));
        sqlite3_finalize(st);
        *last_seq = 0;
        return STORE_UNAVAILABLE;
    }
    sqlite3_finalize(st);
    flush_runs(v, &n, fn, arg);
    return STORE_OK;
}
