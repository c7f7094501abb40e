/* store/store_open.c - opening the store: schema, migrations, closing.
 *
 * Thread contract: sq_open() and sq_close() run on the caller's
 * thread while no other thread of this store is running (sq_open()
 * starts the writer and checkpointer last, sq_close() joins them
 * first).  Everything here touches the writer's connection only before
 * the writer thread exists or after it has ended.
 *
 * The store is one SQLite database in WAL mode with two connections.  The
 * writer connection belongs to a writer thread (store_writer.c); the read
 * connection belongs to the caller, the daemon's loop thread
 * (store_read.c).  WAL lets the two run at once: a reader sees the last
 * commit made before its statement started, and never blocks the writer
 * or waits for it.
 *
 * Schema and migrations.  PRAGMA user_version holds the schema version;
 * migrations[] lists the forward steps, each run in its own transaction at
 * open.  event_packs (schema 6; events before it) is a WITHOUT ROWID
 * table clustered on (machine, first_seq), up to 16 events a row: one
 * machine's history is contiguous, so replay and history pages are range
 * scans of one b-tree, a row read per 16 events.  The only other index is
 * machines(tenant), for the per-tenant list (machines are few; their
 * index costs the event rate nothing).  Op and address filters scan a machine's events: measured
 * indexes for them would cost most of the insert rate (see store.h).
 */
#include "store_int.h"

/* ------------------------------------------------------------------ */
/* Schema                                                              */
/* ------------------------------------------------------------------ */

/* One forward migration: the SQL that takes user_version from
 * @version - 1 to @version.  Steps run in order, each in a transaction. */
struct migration {
    int version;
    const char *sql;
};

static const struct migration migrations[] = {
    { 1, "CREATE TABLE machines ("
         " id        INTEGER PRIMARY KEY AUTOINCREMENT,"
         " tenant    TEXT NOT NULL,"
         " name      TEXT NOT NULL,"
         " config    TEXT NOT NULL,"    /* the engine's canonical text */
         " created   INTEGER NOT NULL," /* unix ms */
         " destroyed INTEGER,"          /* unix ms; NULL while live */
         " nevents   INTEGER NOT NULL DEFAULT 0,"
         " last_seq  INTEGER NOT NULL DEFAULT 0,"
         " parent    INTEGER,"   /* forked from; NULL if not */
         " parent_seq INTEGER);" /* ...after its event parent_seq */
         "CREATE INDEX machines_tenant ON machines(tenant);"
         "CREATE TABLE events ("
         " machine INTEGER NOT NULL,"
         " seq     INTEGER NOT NULL,"
         " time    INTEGER NOT NULL," /* unix ms */
         " op      INTEGER NOT NULL,"
         " cpu     INTEGER NOT NULL,"
         " args    BLOB NOT NULL," /* 32-bit words, little-endian */
         " value   INTEGER NOT NULL,"
         " aux     INTEGER NOT NULL,"
         " flags   INTEGER NOT NULL,"
         " status  INTEGER NOT NULL,"
         " PRIMARY KEY (machine, seq)) WITHOUT ROWID;" },
    /* nevents and last_seq are written at destroy and at close, not with
     * every batch; counts_stale = 1 says they may lag (see write_marks()). */
    { 2, "ALTER TABLE machines ADD COLUMN"
         " counts_stale INTEGER NOT NULL DEFAULT 0;" },
    /* Integrity: each event's sum chains over its machine's previous one
     * (store__event_sum()), each machine row's covers what never changes
     * (store__machine_sum()); fill_sums() computes them for old rows. */
    { 3, "ALTER TABLE events ADD COLUMN sum INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE machines ADD COLUMN sum INTEGER NOT NULL DEFAULT 0;"
         /* A machine's engine state after its event seq (mm_snapshot()
       * bytes, opaque here), so replay can start there. */
         "CREATE TABLE checkpoints ("
         " machine INTEGER NOT NULL,"
         " seq     INTEGER NOT NULL,"
         " blob    BLOB NOT NULL,"
         " sum     INTEGER NOT NULL,"
         " PRIMARY KEY (machine, seq)) WITHOUT ROWID;" },
    /* Event sums move from byte-wise FNV-1a to the word-wise chain of
     * store__event_sum() (recovery spent 11% of its time in the old one);
     * fill_sums() recomputes every row's, nothing else changes. */
    { 4, "" },
    /* Idempotent retries: a change's request key (Request.request_key)
     * and the reply it got, kept in the transaction of the change.
     * machine: the machine the change named, 0 for a Create (keys of a
     * tenant's creations); ord counts 1, 2, ... per (machine, tenant),
     * and only the last STORE_RKEYS_KEPT are kept; target: the machine
     * the change made or changed (a purge of it drops the key); reply:
     * the encoded Response without its id.  See store.h. */
    { 5, "CREATE TABLE request_keys ("
         " machine INTEGER NOT NULL,"
         " tenant  TEXT NOT NULL,"
         " key     INTEGER NOT NULL," /* 64 bits, two's complement */
         " ord     INTEGER NOT NULL,"
         " target  INTEGER NOT NULL,"
         " reply   BLOB NOT NULL,"
         " PRIMARY KEY (machine, tenant, key)) WITHOUT ROWID;"
         "CREATE INDEX request_keys_ord"
         " ON request_keys(machine, tenant, ord);" },
    /* Events packed per row (docs/DESIGN.md, "Recovery speed"): a row
     * holds one machine's events first_seq..last_seq (at most
     * PACK_EVENTS_MAX), body as store_pack.h lays out, each event with
     * its own seq and chained sum; sum is the last event's.  A committed
     * row is never rewritten.  pack_events() moves the events table's
     * rows into packs (sums as they are) and drops it. */
    { 6, "CREATE TABLE event_packs ("
         " machine   INTEGER NOT NULL,"
         " first_seq INTEGER NOT NULL,"
         " last_seq  INTEGER NOT NULL,"
         " body      BLOB NOT NULL,"
         " sum       INTEGER NOT NULL,"
         " PRIMARY KEY (machine, first_seq)) WITHOUT ROWID;" },
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

const char *store_status_name(enum store_status st)
{
    switch (st) {
    case STORE_OK:
        return "OK";
    case STORE_INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
    case STORE_NOT_FOUND:
        return "NOT_FOUND";
    case STORE_ALREADY_EXISTS:
        return "ALREADY_EXISTS";
    case STORE_BUSY:
        return "BUSY";
    case STORE_UNAVAILABLE:
        return "UNAVAILABLE";
    case STORE_CONFLICT:
        return "CONFLICT";
    case STORE_CORRUPT:
        return "CORRUPT";
    case STORE_FENCED:
        return "FENCED";
    }
    return "?";
}

/* Runs a one-row integer query (a PRAGMA, a count).  SQLITE_OK with
 * *@out the value (0 if no row), or an SQLite error code (never
 * SQLITE_OK) with *@out 0: *@out is always written. */
static int query_int(sqlite3 *db, const char *sql, sqlite3_int64 *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    *out = 0;
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return SQLITE_OK;
    return rc != SQLITE_OK ? rc : SQLITE_ERROR;
}

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */
/* ------------------------------------------------------------------ */

/* Explains why SQLite could not open @path.  SQLite retries a failed
 * read-write open read-only, so its errno is often the misleading ENOENT
 * of that retry; ask the file system directly instead. */
static void explain_cantopen(const char *path, char *err)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t len;

    if (access(path, F_OK) == 0) {
        if (access(path, R_OK | W_OK) != 0) {
            format(err, STORE_MSG_MAX, "%s: cannot open the database: %s", path,
                   strerror(errno));
            return;
        }
        format(err, STORE_MSG_MAX, "%s: cannot open the database", path);
        return;
    }
    if (slash == NULL) {
        strcpy(dir, ".");
    } else {
        len = (size_t)(slash - path);
        if (len == 0)
            len = 1; /* "/x.db": the root */
        if (len >= sizeof(dir))
            len = sizeof(dir) - 1;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    if (access(dir, W_OK | X_OK) != 0) {
        format(err, STORE_MSG_MAX,
               "%s: cannot create the database: directory %s: %s", path, dir,
               strerror(errno));
        return;
    }
    format(err, STORE_MSG_MAX, "%s: cannot create the database", path);
}

/* Formats "<path>: <sqlite message>" with the errno SQLite saw, if any. */
void store__sqlite_err(const char *path, sqlite3 *db, const char *what,
                       char *err)
{
    int e = sqlite3_system_errno(db);

    if (e != 0)
        format(err, STORE_MSG_MAX, "%s: %s%s%s (%s)", path, what,
               *what ? ": " : "", sqlite3_errmsg(db), strerror(e));
    else
        format(err, STORE_MSG_MAX, "%s: %s%s%s", path, what, *what ? ": " : "",
               sqlite3_errmsg(db));
}

static int prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

/* The machines a purge with cutoff ?1 keeps: those live or destroyed at or
 * after the cutoff, and every ancestor of one of them, whose history its
 * replay needs, however long ago that ancestor was destroyed. */
#define PURGE_KEEP \
    "WITH RECURSIVE keep(id) AS (" \
    " SELECT id FROM machines WHERE destroyed IS NULL OR destroyed >= ?1" \
    " UNION SELECT m.parent FROM machines m JOIN keep k ON m.id = k.id" \
    " WHERE m.parent IS NOT NULL) "

/* The machines a purge deletes (after PURGE_KEEP). */
#define PURGE_GONE \
    "SELECT id FROM machines WHERE destroyed < ?1 AND id NOT IN keep" \
    " AND (?2 IS NULL OR tenant = ?2)"

static int prepare_writer(struct store *s)
{
    int rc = SQLITE_OK;

#define PREP(field, sql) \
    if (rc == SQLITE_OK) \
    rc = prepare(s->wdb, &s->field, sql)
    PREP(w_begin, "BEGIN IMMEDIATE");
    PREP(w_commit, "COMMIT");
    PREP(w_rollback, "ROLLBACK");
    PREP(w_event, "INSERT INTO event_packs (machine, first_seq, last_seq,"
                  " body, sum) VALUES (?1, ?2, ?3, ?4, ?5)");
    PREP(w_create, "INSERT INTO machines (id, tenant, name, config, created,"
                   " parent, parent_seq, sum)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    PREP(w_destroy, "UPDATE machines SET destroyed = ?2, nevents = ?3,"
                    " last_seq = ?4, counts_stale = 0"
                    " WHERE id = ?1 AND destroyed IS NULL");
    PREP(w_state, "SELECT destroyed IS NOT NULL, nevents, last_seq,"
                  " coalesce(parent_seq, 0),"
                  " coalesce((SELECT sum FROM event_packs WHERE machine = ?1"
                  "  ORDER BY first_seq DESC LIMIT 1), 0)"
                  " FROM machines WHERE id = ?1");
    PREP(w_mark, "UPDATE machines SET counts_stale = 1 WHERE id = ?1");
    PREP(w_flush, "UPDATE machines SET nevents = ?2, last_seq = ?3,"
                  " counts_stale = 0 WHERE id = ?1");
    PREP(w_purge_events,
         PURGE_KEEP "DELETE FROM event_packs WHERE machine IN"
                    " (SELECT id FROM machines WHERE destroyed < ?1"
                    " AND id NOT IN keep"
                    " AND (?2 IS NULL OR tenant = ?2))"
                    " RETURNING last_seq - first_seq + 1");
    PREP(w_purge_machines, PURGE_KEEP "DELETE FROM machines"
                                      " WHERE destroyed < ?1 AND id NOT IN keep"
                                      " AND (?2 IS NULL OR tenant = ?2)");
    PREP(w_vacuum, "PRAGMA incremental_vacuum");
    PREP(w_unit, "SAVEPOINT unit");
    PREP(w_unit_undo, "ROLLBACK TO unit");
    PREP(w_unit_end, "RELEASE unit");
    PREP(w_checkpoint, "INSERT OR REPLACE INTO checkpoints"
                       " (machine, seq, blob, sum) VALUES (?1, ?2, ?3, ?4)");
    PREP(w_purge_checkpoints,
         PURGE_KEEP "DELETE FROM checkpoints"
                    " WHERE machine IN (SELECT id FROM machines"
                    " WHERE destroyed < ?1 AND id NOT IN keep"
                    " AND (?2 IS NULL OR tenant = ?2))");
    PREP(w_rkey, "INSERT OR REPLACE INTO request_keys"
                 " (machine, tenant, key, ord, target, reply)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    PREP(w_rkey_trim, "DELETE FROM request_keys WHERE machine = ?1"
                      " AND tenant = ?2 AND ord <= ?3");
    PREP(w_purge_rkeys,
         PURGE_KEEP "DELETE FROM request_keys WHERE machine IN (" PURGE_GONE
                    ") OR target IN (" PURGE_GONE ")");
#undef PREP
    return rc;
}

static int prepare_reader(struct store *s)
{
    int rc = SQLITE_OK;

#define PREP(field, sql) \
    if (rc == SQLITE_OK) \
    rc = prepare(s->rdb, &s->field, sql)
    PREP(r_history[0], "SELECT " PACK_COLUMNS " FROM event_packs"
                       " WHERE machine = ?1 AND first_seq <= ?3"
                       " AND first_seq > ?2 - " PACK_EVENTS_MAX_SQL
                       " AND last_seq >= ?2 ORDER BY first_seq");
    PREP(r_history[1], "SELECT " PACK_COLUMNS " FROM event_packs"
                       " WHERE machine = ?1 AND first_seq <= ?3"
                       " AND first_seq > ?2 - " PACK_EVENTS_MAX_SQL
                       " AND last_seq >= ?2 ORDER BY first_seq DESC");
    PREP(r_op_counts, "SELECT body FROM event_packs WHERE machine = ?1");
    PREP(r_list_all, "SELECT " LIST_COLUMNS " FROM machines"
                     " WHERE id > ?1 AND (?2 OR destroyed IS NULL)"
                     " ORDER BY id");
    PREP(r_list_tenant, "SELECT " LIST_COLUMNS " FROM machines"
                        " WHERE tenant = ?3 AND id > ?1"
                        " AND (?2 OR destroyed IS NULL) ORDER BY id");
    PREP(r_machine, "SELECT " MACHINE_COLUMNS " FROM machines WHERE id = ?1");
    PREP(r_live, "SELECT " MACHINE_COLUMNS " FROM machines"
                 " WHERE destroyed IS NULL ORDER BY id");
    PREP(r_max_id, "SELECT max(coalesce((SELECT seq FROM sqlite_sequence"
                   " WHERE name = 'machines'), 0),"
                   " coalesce((SELECT max(id) FROM machines), 0))");
    PREP(r_rkeys, "SELECT machine, tenant, key, ord, target, reply"
                  " FROM request_keys WHERE machine = ?1"
                  " AND (?1 != 0 OR tenant = ?2) AND (?3 = 0 OR key = ?3)"
                  " ORDER BY ord");
#undef PREP
    s->rd.s = s;
    s->rd.db = s->rdb;
    if (rc == SQLITE_OK)
        rc = store__reader_prepare(&s->rd);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Checksums                                                           */
/* ------------------------------------------------------------------ */

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME  UINT64_C(0x100000001b3)

static uint64_t fnv_bytes(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    int i;

    for (i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return fnv_bytes(h, b, 8);
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    if (s == NULL)
        s = "";
    return fnv_bytes(h, (const unsigned char *)s, strlen(s) + 1);
}

uint64_t store__chain_seed(uint64_t machine)
{
    return fnv_u64(FNV_OFFSET, machine);
}

/* One step of the event chain: folds the 64-bit word @w into @h.  For a
 * fixed @h it is a bijection of @w (xor), and for a fixed @w one of @h
 * (xor, a multiplication by an odd constant, an xorshift), so changing any
 * one word of an event, or any earlier sum, always changes every later
 * sum; several changes at once go unnoticed with odds of about 2^-64. */
static inline uint64_t chain_word(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= UINT64_C(0x9e3779b97f4a7c15);
    return h ^ h >> 29;
}

uint64_t store__event_sum(uint64_t prev, uint64_t machine, uint64_t seq,
                          int64_t time_ms, uint32_t op, uint32_t cpu,
                          const unsigned char *args, size_t len, uint32_t value,
                          uint32_t aux, uint32_t flags, int32_t status)
{
    uint64_t h = chain_word(prev, machine);
    size_t i;

    h = chain_word(h, seq);
    h = chain_word(h, (uint64_t)time_ms);
    h = chain_word(h, (uint64_t)op | (uint64_t)cpu << 32);
    h = chain_word(h, len);
    for (i = 0; i < len; i += 8) { /* args, 8 bytes at a time */
        uint64_t w = 0;
        size_t j;

        for (j = 0; j < 8 && i + j < len; j++)
            w |= (uint64_t)args[i + j] << (8 * j);
        h = chain_word(h, w);
    }
    h = chain_word(h, (uint64_t)value | (uint64_t)aux << 32);
    h = chain_word(h, (uint64_t)flags | (uint64_t)(uint32_t)status << 32);
    return h != 0 ? h : 1;
}

uint64_t store__machine_sum(uint64_t id, const char *tenant, const char *name,
                            const char *config, int64_t created_ms,
                            uint64_t parent, uint64_t parent_seq)
{
    uint64_t h = fnv_u64(FNV_OFFSET, id);

    h = fnv_str(h, tenant);
    h = fnv_str(h, name);
    h = fnv_str(h, config);
    h = fnv_u64(h, (uint64_t)created_ms);
    h = fnv_u64(h, parent);
    h = fnv_u64(h, parent_seq);
    return h != 0 ? h : 1;
}

uint64_t store__checkpoint_sum(uint64_t machine, uint64_t seq, const void *blob,
                               size_t len)
{
    uint64_t h = fnv_u64(FNV_OFFSET, machine);

    h = fnv_u64(h, seq);
    h = fnv_u64(h, len);
    h = fnv_bytes(h, blob, len);
    return h != 0 ? h : 1;
}

static void sql_machine_sum(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
    (void)argc;
    sqlite3_result_int64(ctx, (sqlite3_int64)store__machine_sum(
                                  (uint64_t)sqlite3_value_int64(v[0]),
                                  (const char *)sqlite3_value_text(v[1]),
                                  (const char *)sqlite3_value_text(v[2]),
                                  (const char *)sqlite3_value_text(v[3]),
                                  sqlite3_value_int64(v[4]),
                                  (uint64_t)sqlite3_value_int64(v[5]),
                                  (uint64_t)sqlite3_value_int64(v[6])));
}

int store__register_sums(sqlite3 *db)
{
    return sqlite3_create_function(db, "store_machine_sum", 7,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                   sql_machine_sum, NULL, NULL);
}

/* One row of copy_rows(): @rd the row read (NULL once all are: a last
 * write, if any), @wr the write statement.  Returns SQLITE_OK to go on. */
typedef int (*copy_row_fn)(void *arg, sqlite3_stmt *rd, sqlite3_stmt *wr);

/* The migrations' copy loop: prepares @select and @write, hands every row
 * of @select to @row with the write statement, then @row once more with
 * no row; SQLITE_OK or the first error (a statement's, or @row's). */
static int copy_rows(sqlite3 *db, const char *select, const char *write,
                     copy_row_fn row, void *arg)
{
    sqlite3_stmt *rd = NULL, *wr = NULL;
    int rc = sqlite3_prepare_v2(db, select, -1, &rd, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, write, -1, &wr, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(rd)) == SQLITE_ROW)
        rc = row(arg, rd, wr);
    if (rc == SQLITE_DONE)
        rc = row(arg, NULL, wr);
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    return rc;
}

/* Runs write statement @wr with what is bound, and resets it. */
static int step_write(sqlite3_stmt *wr)
{
    int rc = sqlite3_step(wr) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;

    sqlite3_reset(wr);
    return rc;
}

/* fill_sums()'s chain: the machine of the row before, and its sum. */
struct sum_chain {
    uint64_t machine, prev;
};

static int sum_row(void *arg, sqlite3_stmt *rd, sqlite3_stmt *wr)
{
    struct sum_chain *c = arg;
    uint64_t m;
    const unsigned char *args;
    size_t len;

    if (rd == NULL)
        return SQLITE_OK;
    m = (uint64_t)sqlite3_column_int64(rd, 0);
    args = sqlite3_column_blob(rd, 5);
    len = (size_t)sqlite3_column_bytes(rd, 5);
    if (m != c->machine) {
        c->machine = m;
        c->prev = store__chain_seed(m);
    }
    c->prev = store__event_sum(c->prev, m,
                               (uint64_t)sqlite3_column_int64(rd, 1),
                               sqlite3_column_int64(rd, 2),
                               (uint32_t)sqlite3_column_int64(rd, 3),
                               (uint32_t)sqlite3_column_int64(rd, 4), args, len,
                               (uint32_t)sqlite3_column_int64(rd, 6),
                               (uint32_t)sqlite3_column_int64(rd, 7),
                               (uint32_t)sqlite3_column_int64(rd, 8),
                               (int32_t)sqlite3_column_int64(rd, 9));
    sqlite3_bind_int64(wr, 1, (sqlite3_int64)m);
    sqlite3_bind_int64(wr, 2, sqlite3_column_int64(rd, 1));
    sqlite3_bind_int64(wr, 3, (sqlite3_int64)c->prev);
    return step_write(wr);
}

/* Migration 4 (which also completes 3): the sums of the rows an older
 * version wrote, in one pass over each table. */
static int fill_sums(sqlite3 *db)
{
    struct sum_chain c = { 0, 0 };
    int rc = copy_rows(db,
                       "SELECT machine, " EVENT_COLUMNS
                       " FROM events ORDER BY machine, seq",
                       "UPDATE events SET sum = ?3"
                       " WHERE machine = ?1 AND seq = ?2",
                       sum_row, &c);

    if (rc != SQLITE_OK)
        return rc;
    return db_exec(db, "UPDATE machines SET sum = store_machine_sum(id,"
                       " tenant, name, config, created, parent, parent_seq)");
}

/* store__pack_events()'s pack being filled: machine @machine's events
 * @first..@last, @n of them in @body (@len bytes), the last one's @sum. */
struct pack_fill {
    unsigned char *body;
    struct pack_cur cur;
    uint64_t machine, first, last, sum;
    size_t len, n;
};

/* Inserts the pack in @f as its machine's row: statement @wr of
 * store__pack_events(); then @f is empty. */
static int put_pack(sqlite3_stmt *wr, struct pack_fill *f)
{
    sqlite3_bind_int64(wr, 1, (sqlite3_int64)f->machine);
    sqlite3_bind_int64(wr, 2, (sqlite3_int64)f->first);
    sqlite3_bind_int64(wr, 3, (sqlite3_int64)f->last);
    sqlite3_bind_blob(wr, 4, f->body, (int)f->len, SQLITE_STATIC);
    sqlite3_bind_int64(wr, 5, (sqlite3_int64)f->sum);
    f->n = f->len = 0;
    f->cur = (struct pack_cur){ 0, 0 };
    return step_write(wr);
}

static int pack_row(void *arg, sqlite3_stmt *rd, sqlite3_stmt *wr)
{
    struct pack_fill *f = arg;
    const unsigned char *args;
    int alen, rc = SQLITE_OK;
    struct store_event ev;

    if (rd == NULL)
        return f->n > 0 ? put_pack(wr, f) : SQLITE_OK;
    args = sqlite3_column_blob(rd, 5);
    alen = sqlite3_column_bytes(rd, 5);
    ev = (struct store_event){
        .machine = (uint64_t)sqlite3_column_int64(rd, 0),
        .seq = (uint64_t)sqlite3_column_int64(rd, 1),
        .time_ms = sqlite3_column_int64(rd, 2),
        .op = (uint32_t)sqlite3_column_int64(rd, 3),
        .cpu = (uint32_t)sqlite3_column_int64(rd, 4),
        .nargs = (uint32_t)alen / 4,
        .value = (uint32_t)sqlite3_column_int64(rd, 6),
        .aux = (uint32_t)sqlite3_column_int64(rd, 7),
        .flags = (uint32_t)sqlite3_column_int64(rd, 8),
        .status = (int32_t)sqlite3_column_int64(rd, 9),
    };
    if (alen % 4 != 0 || alen > 4 * STORE_MAX_ARGS)
        return SQLITE_CORRUPT;
    if (f->n > 0 && (ev.machine != f->machine || ev.seq != f->last + 1 ||
                     f->n == PACK_EVENTS_MAX))
        rc = put_pack(wr, f);
    if (f->n == 0) {
        f->machine = ev.machine;
        f->first = ev.seq;
    }
    f->sum = (uint64_t)sqlite3_column_int64(rd, 10);
    f->len += pack_put_bytes(f->body + f->len, &f->cur, &ev, args, f->sum);
    f->last = ev.seq;
    f->n++;
    return rc;
}

/* Migration 6: every row of the events table into packs of at most
 * PACK_EVENTS_MAX consecutive events of one machine, each event's sum
 * moved as it is (a damaged row stays detectably damaged: a gap in seq
 * ends a pack, so it shows as the same gap); then the table goes.  A
 * malformed args blob (not whole words, over STORE_MAX_ARGS) fails the
 * migration rather than be dropped. */
int store__pack_events(sqlite3 *db)
{
    struct pack_fill f = { 0 };
    int rc;

    f.body = malloc(PACK_EVENTS_MAX * pack_event_max(STORE_MAX_ARGS));
    if (f.body == NULL)
        return SQLITE_NOMEM;
    rc = copy_rows(db,
                   "SELECT machine, " EVENT_COLUMNS
                   " FROM events ORDER BY machine, seq",
                   "INSERT INTO event_packs (machine, first_seq,"
                   " last_seq, body, sum)"
                   " VALUES (?1, ?2, ?3, ?4, ?5)",
                   pack_row, &f);
    free(f.body);
    return rc == SQLITE_OK ? db_exec(db, "DROP TABLE events") : rc;
}

/* store__unpack_events(): one pack's events as rows of the events table. */
static int unpack_row(void *arg, sqlite3_stmt *rd, sqlite3_stmt *wr)
{
    uint32_t *words = arg;
    const unsigned char *body, *args;
    struct pack_cur cur = { 0, 0 };
    struct store_event ev;
    uint64_t m, sum;
    size_t len;
    int rc = SQLITE_OK;

    if (rd == NULL)
        return SQLITE_OK;
    m = (uint64_t)sqlite3_column_int64(rd, 0);
    body = sqlite3_column_blob(rd, 1);
    len = (size_t)sqlite3_column_bytes(rd, 1);
    while (rc == SQLITE_OK && cur.off < len) {
        if (!pack_get(body, len, &cur, m, &ev, words, &sum, &args))
            return SQLITE_CORRUPT;
        sqlite3_bind_int64(wr, 1, (sqlite3_int64)m);
        sqlite3_bind_int64(wr, 2, (sqlite3_int64)ev.seq);
        sqlite3_bind_int64(wr, 3, ev.time_ms);
        sqlite3_bind_int64(wr, 4, ev.op);
        sqlite3_bind_int64(wr, 5, ev.cpu);
        sqlite3_bind_blob(wr, 6, args, 4 * (int)ev.nargs, SQLITE_STATIC);
        sqlite3_bind_int64(wr, 7, ev.value);
        sqlite3_bind_int64(wr, 8, ev.aux);
        sqlite3_bind_int64(wr, 9, ev.flags);
        sqlite3_bind_int64(wr, 10, ev.status);
        sqlite3_bind_int64(wr, 11, (sqlite3_int64)sum);
        rc = step_write(wr);
    }
    return rc;
}

int store__unpack_events(sqlite3 *db)
{
    uint32_t words[STORE_MAX_ARGS];
    int rc;

    rc = db_exec(db, "CREATE TABLE events ("
                     " machine INTEGER NOT NULL, seq INTEGER NOT NULL,"
                     " time INTEGER NOT NULL, op INTEGER NOT NULL,"
                     " cpu INTEGER NOT NULL, args BLOB NOT NULL,"
                     " value INTEGER NOT NULL, aux INTEGER NOT NULL,"
                     " flags INTEGER NOT NULL, status INTEGER NOT NULL,"
                     " sum INTEGER NOT NULL DEFAULT 0,"
                     " PRIMARY KEY (machine, seq)) WITHOUT ROWID");
    if (rc == SQLITE_OK)
        rc = copy_rows(db,
                       "SELECT machine, body FROM event_packs"
                       " ORDER BY machine, first_seq",
                       "INSERT INTO events (machine, " EVENT_COLUMNS
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                       " ?9, ?10, ?11)",
                       unpack_row, words);
    return rc == SQLITE_OK ? db_exec(db, "DELETE FROM event_packs") : rc;
}

int store__events_exec(sqlite3 *db, const char *sql)
{
    int rc = db_exec(db, "BEGIN IMMEDIATE");

    if (rc == SQLITE_OK)
        rc = store__unpack_events(db);
    if (rc == SQLITE_OK)
        rc = db_exec(db, sql);
    if (rc == SQLITE_OK)
        rc = store__pack_events(db);
    if (rc == SQLITE_OK)
        return db_exec(db, "COMMIT");
    db_exec(db, "ROLLBACK");
    return rc;
}

/* Brings the schema of a database at version @from up to ours, one
 * transaction per step.  A new database first gets its page size and
 * incremental auto-vacuum, which can only be chosen before the first table
 * exists.  16 KiB pages: measured, the writer used 14% less CPU per event
 * than with 4 KiB (fewer WAL frames, so fewer write() calls and page
 * splits), and events are small rows that pack densely either way. */
static bool migrate(struct store *s, int from, char *err)
{
    size_t i;
    char sql[64];

    if (from == 0 &&
        (pragma_int(s->wdb, "page_size", PAGE_SIZE) != SQLITE_OK ||
         db_exec(s->wdb, "PRAGMA auto_vacuum = INCREMENTAL") != SQLITE_OK)) {
        store__sqlite_err(s->path, s->wdb, "setting up a new database", err);
        return false;
    }
    for (i = 0; i < NMIGRATIONS; i++) {
        const struct migration *m = &migrations[i];

        assert(m->version == (int)i + 1);
        if (m->version <= from)
            continue;
        format(sql, sizeof(sql), "PRAGMA user_version = %d", m->version);
        if (db_exec(s->wdb, "BEGIN IMMEDIATE") != SQLITE_OK ||
            db_exec(s->wdb, m->sql) != SQLITE_OK ||
            (m->version == 4 && (s->resummed = from > 0) &&
             fill_sums(s->wdb) != SQLITE_OK) ||
            (m->version == 6 && store__pack_events(s->wdb) != SQLITE_OK) ||
            db_exec(s->wdb, sql) != SQLITE_OK ||
            db_exec(s->wdb, "COMMIT") != SQLITE_OK) {
            char what[64];

            format(what, sizeof(what), "migrating to schema version %d",
                   m->version);
            store__sqlite_err(s->path, s->wdb, what, err);
            if (!sqlite3_get_autocommit(s->wdb))
                db_exec(s->wdb, "ROLLBACK");
            return false;
        }
    }
    return true;
}

/* One store per database file: two daemons on one file would hand out the
 * same machine ids.  The lock is an flock() on "<path>-lock", not on the
 * database itself: closing any descriptor of the database file drops every
 * POSIX lock this process holds on it, SQLite's included, so the store must
 * never open and close the database file behind SQLite's back.  The lock
 * file is left in place when the store closes (unlinking a lock file races
 * with the next opener). */
static bool lock_database(struct store *s, char *err)
{
    char lock_path[4096 + 8];

    format(lock_path, sizeof(lock_path), "%s-lock", s->path);
    s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        format(err, STORE_MSG_MAX, "%s: cannot open the lock file %s: %s",
               s->path, lock_path, strerror(errno));
        return false;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            format(err, STORE_MSG_MAX,
                   "%s: the database is in use by another store", s->path);
        else
            format(err, STORE_MSG_MAX, "%s: flock %s: %s", s->path, lock_path,
                   strerror(errno));
        return false;
    }
    return true;
}

/* The page limit for a size limit of @bytes (0: SQLite's own maximum).
 * s->page_size is never 0 once open_writer() returned true; before that
 * (0) the limit is SQLite's own. */
long long store__max_pages(const struct store *s, uint64_t bytes)
{
    uint64_t pages;

    if (bytes == 0 || s->page_size == 0)
        return s->default_max_pages;
    pages = bytes / s->page_size;
    if (pages > s->default_max_pages)
        return s->default_max_pages;
    return pages ? (long long)pages : 1;
}

/* Opens the writer's connection and the schema; on failure fills @err. */
static bool open_writer(struct store *s, const struct store_options *opt,
                        char *err)
{
    sqlite3_int64 version, objects, v;
    char sql[96];
    int rc;

    rc = sqlite3_open_v2(s->uri, &s->wdb,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                         NULL);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_CANTOPEN)
            explain_cantopen(s->path, err);
        else
            store__sqlite_err(s->path, s->wdb, "", err);
        return false;
    }
    sqlite3_extended_result_codes(s->wdb, 1);
    sqlite3_busy_timeout(s->wdb, BUSY_TIMEOUT_MS);
    store__register_sums(s->wdb);

    if (!s->memory && !lock_database(s, err))
        return false;

    /* The first read: a file that is not a database fails here. */
    if (query_int(s->wdb, "PRAGMA user_version", &version) != SQLITE_OK) {
        store__sqlite_err(s->path, s->wdb, "", err);
        return false;
    }
    if (version > STORE_SCHEMA_VERSION) {
        format(err, STORE_MSG_MAX,
               "%s: database schema version %lld is newer than this "
               "armmapd supports (%d); refusing to open it",
               s->path, (long long)version, STORE_SCHEMA_VERSION);
        return false;
    }
    if (version < 0) {
        format(err, STORE_MSG_MAX,
               "%s: database schema version %lld is not an armmapd "
               "version",
               s->path, (long long)version);
        return false;
    }
    if (version == 0) {
        if (query_int(s->wdb, "SELECT count(*) FROM sqlite_master", &objects) !=
            SQLITE_OK) {
            store__sqlite_err(s->path, s->wdb, "", err);
            return false;
        }
        if (objects != 0) {
            format(err, STORE_MSG_MAX,
                   "%s: not an armmapd database (it has tables but no "
                   "schema version)",
                   s->path);
            return false;
        }
    }
    if (sqlite3_db_readonly(s->wdb, "main") == 1) {
        format(err, STORE_MSG_MAX, "%s: the database file is read-only",
               s->path);
        return false;
    }
    if (!migrate(s, (int)version, err))
        return false;
    /* Rows left marked by a session that did not close (see write_marks):
     * count their events again, in memory only, so that opening writes
     * nothing (a full disk does not stop it); the counts reach the rows at
     * sq_close(). */
    if (store__load_stale_counts(s) != SQLITE_OK) {
        store__sqlite_err(s->path, s->wdb, "recounting events", err);
        return false;
    }

    if (!s->memory) {
        sqlite3_stmt *st = NULL;
        const unsigned char *mode = NULL;

        rc = sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode = WAL", -1, &st,
                                NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            mode = sqlite3_column_text(st, 0);
        if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
            if (mode != NULL)
                format(err, STORE_MSG_MAX,
                       "%s: cannot switch to WAL mode (journal mode is %s)",
                       s->path, (const char *)mode);
            else
                store__sqlite_err(s->path, s->wdb, "switching to WAL mode",
                                  err);
            sqlite3_finalize(st);
            return false;
        }
        sqlite3_finalize(st);
    }
    format(sql, sizeof(sql), "PRAGMA synchronous = %s",
           opt->durability == STORE_FULL ? "FULL" : "NORMAL");
    if (db_exec(s->wdb, sql) != SQLITE_OK ||
        pragma_int(s->wdb, "cache_size", -WRITER_CACHE_KIB) != SQLITE_OK ||
        pragma_int(s->wdb, "journal_size_limit", WAL_SIZE_LIMIT) != SQLITE_OK ||
        sqlite3_wal_autocheckpoint(s->wdb,
                                   s->memory ? 0 : WAL_CHECKPOINT_PAGES) !=
            SQLITE_OK ||
        query_int(s->wdb, "PRAGMA synchronous", &v) != SQLITE_OK) {
        store__sqlite_err(s->path, s->wdb, "configuring", err);
        return false;
    }
    s->st.synchronous = (int)v;
    if (query_int(s->wdb, "PRAGMA max_page_count", &v) != SQLITE_OK) {
        store__sqlite_err(s->path, s->wdb, "reading max_page_count", err);
        return false;
    }
    s->default_max_pages = (uint32_t)v;
    if (query_int(s->wdb, "PRAGMA page_size", &v) != SQLITE_OK) {
        store__sqlite_err(s->path, s->wdb, "reading page_size", err);
        return false;
    }
    if (v < 512 || v > 65536) { /* SQLite's range: a divisor below */
        format(err, STORE_MSG_MAX, "%s: page size %lld is not one SQLite uses",
               s->path, (long long)v);
        return false;
    }
    s->page_size = (uint32_t)v;
    if (opt->max_bytes != 0 &&
        pragma_int(s->wdb, "max_page_count",
                   store__max_pages(s, opt->max_bytes)) != SQLITE_OK) {
        store__sqlite_err(s->path, s->wdb, "setting max_page_count", err);
        return false;
    }
    if (query_int(s->wdb,
                  "SELECT max(coalesce((SELECT seq FROM sqlite_sequence"
                  " WHERE name = 'machines'), 0),"
                  " coalesce((SELECT max(id) FROM machines), 0))",
                  &v) != SQLITE_OK) {
        store__sqlite_err(s->path, s->wdb, "reading machine ids", err);
        return false;
    }
    s->next_id = (uint64_t)v + 1;
    if (prepare_writer(s) != SQLITE_OK) {
        store__sqlite_err(s->path, s->wdb, "preparing statements", err);
        return false;
    }
    return true;
}

static bool open_reader(struct store *s, char *err)
{
    int rc = sqlite3_open_v2(s->uri, &s->rdb,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_URI,
                             NULL);

    if (rc != SQLITE_OK) {
        store__sqlite_err(s->path, s->rdb, "opening the read connection", err);
        return false;
    }
    sqlite3_extended_result_codes(s->rdb, 1);
    sqlite3_busy_timeout(s->rdb, BUSY_TIMEOUT_MS);
    if (pragma_int(s->rdb, "query_only", 1) != SQLITE_OK ||
        pragma_int(s->rdb, "cache_size", -READER_CACHE_KIB) != SQLITE_OK ||
        (!s->memory &&
         pragma_int(s->rdb, "mmap_size", READER_MMAP_BYTES) != SQLITE_OK) ||
        prepare_reader(s) != SQLITE_OK) {
        store__sqlite_err(s->path, s->rdb, "preparing the read connection",
                          err);
        return false;
    }
    return true;
}

/* What SQLite opens for s->path.  ":memory:" becomes a database of SQLite's
 * memdb VFS whose name starts with '/', which makes it shared by the
 * writer's and the reader's connections in this process (a plain
 * ":memory:" would give each its own).  memdb has no WAL: a read waits
 * (busy timeout) while the writer commits.  The name carries the store's
 * address and a counter, so two stores never share one. */
static char *make_uri(const struct store *s)
{
    static atomic_uint serial;
    char buf[96];

    if (!s->memory)
        return strdup(s->path);
    snprintf(buf, sizeof(buf), "file:/armmapd-%p-%u?vfs=memdb", (void *)s,
             atomic_fetch_add(&serial, 1));
    return strdup(buf);
}

/* Test hook: ARMMAPD_TEST_FAIL_COMMITS="SEED:PERMILLE" makes the writer
 * fail that share of its commits at random (rolled back, reported
 * UNAVAILABLE as a full disk would be), so tests can check that no
 * failure point loses or breaks anything.  Unset, it costs nothing. */
static void fail_hook(struct store *s)
{
    const char *v = getenv("ARMMAPD_TEST_FAIL_COMMITS");
    unsigned seed, permille;

    if (v != NULL && sscanf(v, "%u:%u", &seed, &permille) == 2 &&
        permille <= 1000) {
        s->fail_seed = seed;
        s->fail_permille = permille;
    }
}

const char *sq_open_warning(const struct store *s)
{
    return s->warning;
}

/* Reads the head record from the lock file and checks that the database
 * reaches it (see struct head); fills s->warning if it does not.  Any
 * failure to read just skips the check: the record is advisory. */
static void check_head(struct store *s)
{
    unsigned char rec[HEAD_BYTES];
    uint64_t v[4] = { 0 }, max_id = 0;
    sqlite3_int64 x;
    sqlite3_stmt *st = NULL;
    bool found = false;
    int i, j;

    if (s->lock_fd < 0 ||
        pread(s->lock_fd, rec, sizeof(rec), 0) != (ssize_t)sizeof(rec) ||
        memcmp(rec, HEAD_MAGIC, 16) != 0)
        return;
    for (i = 0; i < 4; i++)
        for (j = 0; j < 8; j++)
            v[i] |= (uint64_t)rec[16 + 8 * i + j] << (8 * j);
    s->head.machine = v[0];
    s->head.seq = v[1];
    s->head.sum = v[2];
    s->head.max_id = v[3];
    if (query_int(s->wdb,
                  "SELECT max(coalesce((SELECT seq FROM"
                  " sqlite_sequence WHERE name = 'machines'), 0),"
                  " coalesce((SELECT max(id) FROM machines), 0))",
                  &x) != SQLITE_OK)
        return;
    max_id = (uint64_t)x;
    if (s->head.machine != 0 &&
        sqlite3_prepare_v2(s->wdb,
                           "SELECT body FROM event_packs"
                           " WHERE machine = ?1 AND first_seq <= ?2"
                           " ORDER BY first_seq DESC LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        uint64_t sum = 0;
        bool there;

        sqlite3_bind_int64(st, 1, (sqlite3_int64)s->head.machine);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)s->head.seq);
        there = sqlite3_step(st) == SQLITE_ROW &&
                pack_find(sqlite3_column_blob(st, 0),
                          (size_t)sqlite3_column_bytes(st, 0), s->head.machine,
                          s->head.seq, &sum);
        found = there && sum == s->head.sum;
        /* Sums recomputed by this open's migration differ from the
         * recorded one: then the event being there is what counts, and
         * the record takes its new sum. */
        if (!found && s->resummed && there) {
            s->head.sum = sum;
            store__head_write(s);
            found = true;
        }
        sqlite3_finalize(st);
    } else {
        found = true;
    }
    if (found && max_id >= s->head.max_id)
        return;
    format(s->warning, sizeof(s->warning),
           "%s: committed writes are "
           "missing: the last commit made (recorded in %s-lock) holds "
           "event %" PRIu64 " of machine %" PRIu64
           " and machine ids up to %" PRIu64
           ", but the database %s; its WAL (%s-wal) lost committed "
           "frames",
           s->path, s->path, s->head.seq, s->head.machine, s->head.max_id,
           !found ? "lacks that event" : "has fewer machines", s->path);
}

enum store_status sq_open(const char *path, const struct store_options *opt,
                          struct store **out, char err[STORE_MSG_MAX])
{
    static const struct store_options defaults;
    struct store *s;

    assert(out != NULL && err != NULL);
    *out = NULL;
    err[0] = '\0';
    if (path == NULL || path[0] == '\0') {
        format(err, STORE_MSG_MAX, "store_open: no database path");
        return STORE_INVALID_ARGUMENT;
    }
    if (strncmp(path, "file:", 5) == 0) {
        format(err, STORE_MSG_MAX,
               "%s: the store takes a file path or "
               "\":memory:\", not a URI",
               path);
        return STORE_INVALID_ARGUMENT;
    }
    if (opt == NULL)
        opt = &defaults;

    s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->memory = strcmp(path, ":memory:") == 0;
    if (s == NULL || (s->path = strdup(path)) == NULL ||
        (s->uri = make_uri(s)) == NULL) {
        if (s != NULL)
            free(s->path);
        free(s);
        format(err, STORE_MSG_MAX, "%s: out of memory", path);
        return STORE_UNAVAILABLE;
    }
    s->lock_fd = -1;
    s->notify_fd = -1;
    s->done_tail = &s->done_head;
    s->queue_max = opt->queue_max ? opt->queue_max : STORE_QUEUE_DEFAULT;
    s->bytes_max = opt->queue_bytes_max ? opt->queue_bytes_max
                                        : STORE_QUEUE_BYTES_DEFAULT;

    if (!open_writer(s, opt, err) || !open_reader(s, err))
        goto fail;
    check_head(s);
    fail_hook(s);
    s->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->filling = calloc(1, sizeof(*s->filling));
    if (s->notify_fd < 0 || s->filling == NULL) {
        format(err, STORE_MSG_MAX, "%s: %s", path,
               s->notify_fd < 0 ? strerror(errno) : "out of memory");
        goto fail;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        goto fail_sync;
    if (pthread_cond_init(&s->wake, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        goto fail_sync;
    }
    if (pthread_cond_init(&s->progress, NULL) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        goto fail_sync;
    }
    if (pthread_cond_init(&s->ckpt_wake, NULL) != 0) {
        pthread_cond_destroy(&s->progress);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        goto fail_sync;
    }
    s->sync_inited = true;
    if (!store__start_checkpointer(s, opt, err))
        goto fail;
    if (!store__start_writer(s)) {
        format(err, STORE_MSG_MAX, "%s: cannot start the writer thread", path);
        goto fail;
    }
    *out = s;
    return STORE_OK;

fail_sync:
    format(err, STORE_MSG_MAX, "%s: cannot create locks", path);
fail:
    sq_close(s);
    return STORE_UNAVAILABLE;
}

static void finalize_all(struct store *s)
{
    sqlite3_stmt **all[] = {
        &s->w_begin,
        &s->w_commit,
        &s->w_rollback,
        &s->w_event,
        &s->w_create,
        &s->w_destroy,
        &s->w_state,
        &s->w_mark,
        &s->w_flush,
        &s->w_purge_events,
        &s->w_purge_machines,
        &s->w_vacuum,
        &s->w_reset[0],
        &s->w_reset[1],
        &s->w_reset[2],
        &s->w_reset[3],
        &s->w_reset[4],
        &s->w_reset_probe,
        &s->w_unit,
        &s->w_unit_undo,
        &s->w_unit_end,
        &s->w_checkpoint,
        &s->w_purge_checkpoints,
        &s->w_rkey,
        &s->w_rkey_trim,
        &s->w_purge_rkeys,
        &s->r_rkeys,
        &s->r_history[0],
        &s->r_history[1],
        &s->r_op_counts,
        &s->r_list_all,
        &s->r_list_tenant,
        &s->r_machine,
        &s->r_live,
        &s->r_max_id,
    };
    size_t i;

    store__reader_finalize(&s->rd);
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
}

void sq_close(struct store *s)
{
    struct batch *b;

    if (s == NULL)
        return;
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->lock);
        s->ckpt_stopping = true;
        pthread_cond_signal(&s->ckpt_wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->ckpt_thread, NULL);
    }
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    if (s->thread_started)
        store__flush_counts(s);
    finalize_all(s);
    /* The last connection to close checkpoints and removes the WAL. */
    sqlite3_close(s->cdb);
    sqlite3_close(s->rdb);
    sqlite3_close(s->wdb);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    if (s->notify_fd >= 0)
        close(s->notify_fd);
    while ((b = s->done_head) != NULL) {
        s->done_head = b->next;
        store__batch_reset(b);
        store__batch_destroy(b);
    }
    while ((b = s->spare) != NULL) {
        s->spare = b->next;
        store__batch_destroy(b);
    }
    if (s->filling != NULL)
        store__batch_reset(s->filling);
    store__batch_destroy(s->filling);
    store__mtab_destroy(&s->mt);
    store__packs_destroy(s);
    free(s->ct.slot);
    if (s->sync_inited) {
        pthread_cond_destroy(&s->ckpt_wake);
        pthread_cond_destroy(&s->progress);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
    }
    free(s->uri);
    free(s->path);
    free(s);
}

const char *sq_errmsg(const struct store *s)
{
    return s->errmsg;
}

int sq_notify_fd(const struct store *s)
{
    return s->notify_fd;
}
