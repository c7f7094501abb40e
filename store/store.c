/* store/store.c - armmapd's event store: schema, group-commit writer, queries.
 *
 * The store is one SQLite database in WAL mode with two connections.  The
 * writer connection belongs to a writer thread; the read connection belongs
 * to the caller (the daemon's loop thread).  WAL lets the two run at once:
 * a reader sees the last commit made before its statement started, and
 * never blocks the writer or waits for it.
 *
 * Why a thread.  The daemon runs one libevent loop and must never block on
 * the disk, but every SQLite write may: a commit write()s the WAL (and with
 * STORE_FULL fsyncs it), and every few MiB of WAL a checkpoint writes and
 * fsyncs the database (that one runs on a third thread with its own
 * connection, so that commits go on meanwhile: see on_wal_commit()).
 * SQLite has no asynchronous interface (its asynchronous-I/O VFS is
 * unmaintained since 2012, "superseded by WAL", which removes the fsync
 * from the commit but not the write or the checkpoint).  A separate
 * process would add IPC and copying for nothing, and a pool of writer
 * threads would gain nothing because SQLite admits one writer at a time.
 * So one writer thread owns
 * one connection, and the loop talks to it through a queue guarded by one
 * mutex that is never held across a SQLite call: submitting a write costs
 * a lock, a copy and, if the writer sleeps, one condition signal.
 * Completions come back through a list and an eventfd (store_notify_fd())
 * that the loop watches, as memcached's worker threads are woken through a
 * pipe.
 *
 * Group commit.  Writes accumulate in the "filling" batch.  The writer takes
 * the whole batch at once, leaving a fresh one behind, and commits it in one
 * transaction; everything submitted meanwhile lands in the next batch.
 * Batches therefore grow with the load: one write per transaction when the
 * daemon is idle (lowest latency), thousands when it is busy (one WAL write,
 * and with STORE_FULL one fsync, for all of them).  A batch succeeds or
 * fails as a whole; a failed one (SQLITE_FULL, SQLITE_IOERR, ...) is rolled
 * back and reported, and the next batch is simply tried: when the disk has
 * room again, writes resume.  The queue is bounded (writes and bytes in
 * flight, counted from submit to reap) and submit answers STORE_BUSY when
 * it is full, which the daemon turns into "stop reading that client".
 *
 * Machine ids are handed out by submit from a counter loaded at open, so
 * the daemon can reply with the id as soon as the creation commits without
 * waiting for SQLite to choose one.  AUTOINCREMENT keeps the largest id ever
 * used in sqlite_sequence, so ids are not reused after a purge.  The writer
 * checks, once per machine per batch, that an event's machine exists and is
 * not destroyed, and keeps per-machine event counts, so that listing
 * machines with their counts reads only the machines table (plus the
 * in-memory counts of this session: see write_marks()).
 * A fork records its parent and the parent's sequence number it branched
 * at; the store does not interpret them, except that a purge never deletes
 * an ancestor of a machine it keeps (a fork's replay starts with its
 * ancestors' events).
 *
 * Schema and migrations.  PRAGMA user_version holds the schema version;
 * migrations[] lists the forward steps, each run in its own transaction at
 * open.  events is a WITHOUT ROWID table clustered on (machine, seq): one
 * machine's history is contiguous, so replay and history pages are range
 * scans of one b-tree.  The only other index is machines(tenant), for the
 * per-tenant list (machines are few; their index costs the event rate
 * nothing).  Op and address filters scan a machine's events: measured
 * indexes for them would cost most of the insert rate (see store.h).
 *
 * Control operations that write (purge, the size limit) are executed by the
 * writer thread between two batches while the caller waits, so the store
 * never has two writing connections and never sees SQLITE_BUSY from itself.
 */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS     5000        /* another process holding a lock */
#define WRITER_CACHE_KIB    16384       /* page cache of each connection */
#define READER_CACHE_KIB    16384
#define PAGE_SIZE           16384       /* of databases we create */
#define WAL_CHECKPOINT_PAGES 1000       /* checkpoint at 16 MiB of WAL */
#define WAL_WRITER_CKPT_PAGES 4000      /* ... in the writer if still 64 MiB */
#define WAL_SIZE_LIMIT      (64 << 20)  /* WAL file kept after a checkpoint */
#define SPARE_BATCHES       2           /* empty batches kept for reuse */
#define SPARE_BYTES_MAX     (8u << 20)  /* bigger spare buffers are freed */
#define SPARE_REQS_MAX      65536

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

enum wreq_kind {
    WREQ_EVENT = 1,
    WREQ_CREATE,
    WREQ_DESTROY
};

/* One queued write.  Its variable data (the args blob, or the three
 * strings of a creation, NUL-terminated one after another) lives in its
 * batch's byte buffer at @off. */
struct wreq {
    enum wreq_kind kind;
    enum store_status status;           /* this write's own outcome */
    char *msg;                          /* malloc'd reason, or NULL */
    void *cookie;
    uint64_t machine;                   /* event's machine, or the id */
    uint64_t seq;                       /* event's, or a fork's parent_seq */
    uint64_t parent;                    /* a fork's parent, else 0 */
    int64_t time_ms;                    /* event time, created, destroyed */
    uint32_t op;
    uint32_t cpu;
    uint32_t value;
    uint32_t aux;
    uint32_t flags;
    int32_t ev_status;
    size_t off;                         /* data in the batch's bytes */
    size_t len;                         /* args blob length in bytes */
};

/* Writes committed (or failed) in one transaction. */
struct batch {
    struct wreq *req;
    size_t n;
    size_t cap;
    unsigned char *bytes;
    size_t used;
    size_t bcap;
    size_t acct;                        /* queue bytes charged for it */
    enum store_status status;           /* STORE_OK or the whole batch's */
    char msg[STORE_MSG_MAX];            /* why the whole batch failed */
    uint64_t nevents;                   /* outcome counters, for stats */
    uint64_t ncreated;
    uint64_t ndestroyed;
    uint64_t nfailed;
    struct batch *next;
};

/* What the writer knows of one machine during one batch. */
enum mstate {
    MACHINE_MISSING = 1,
    MACHINE_ALIVE,
    MACHINE_DESTROYED
};

struct mslot {
    uint64_t id;                        /* 0: empty slot */
    enum mstate state;
    uint64_t count;                     /* events inserted in this batch */
    uint64_t last_seq;
    bool marking;                       /* this batch sets counts_stale */
};

/* A machine's committed event count and last seq, for the counts table
 * (struct store.ct, see write_marks()). */
struct cslot {
    uint64_t id;                        /* 0: empty slot */
    uint64_t nevents;
    uint64_t last_seq;
    bool marked;                        /* its row has counts_stale = 1 */
};

/* Open-addressing hash table of the machines one batch touches. */
struct mtab {
    struct mslot *slot;
    uint32_t cap;                       /* a power of two, or 0 */
    uint32_t *used;                     /* indexes of occupied slots */
    uint32_t nused;
};

/* Open-addressing hash table of every machine the writer touched since
 * open, with its committed counts. */
struct ctab {
    struct cslot *slot;
    uint32_t cap;                       /* a power of two, or 0 */
    uint32_t n;
};

enum ctl_kind {
    CTL_PURGE = 1,
    CTL_MAX_BYTES
};

/* A synchronous request run by the writer thread between batches. */
struct ctl {
    enum ctl_kind kind;
    int64_t cutoff;                     /* CTL_PURGE */
    const char *tenant;                 /* CTL_PURGE; NULL: every tenant */
    uint64_t bytes;                     /* CTL_MAX_BYTES */
    uint64_t result;                    /* machines purged */
    uint64_t events;                    /* CTL_PURGE: events purged */
    enum store_status status;
    char msg[STORE_MSG_MAX];
    bool done;
};

struct store {
    char *path;                         /* as given; names it in messages */
    char *uri;                          /* what SQLite opens (memdb name) */
    bool memory;                        /* ":memory:": memdb, no files */
    sqlite3 *wdb;                       /* writer's; writer thread only */
    sqlite3 *rdb;                       /* readers'; the caller's thread */
    sqlite3 *cdb;                       /* checkpointer's; NULL for memdb */
    int lock_fd;                        /* flock'ed <path>-lock */
    int notify_fd;                      /* eventfd: completions ready */
    char errmsg[STORE_MSG_MAX];         /* last failure of a caller */
    char wmsg[STORE_MSG_MAX];           /* last failure in the writer */
    uint32_t default_max_pages;         /* SQLite's own page limit */
    uint32_t page_size;                 /* of this database */

    /* Writer statements. */
    sqlite3_stmt *w_begin;
    sqlite3_stmt *w_commit;
    sqlite3_stmt *w_rollback;
    sqlite3_stmt *w_event;
    sqlite3_stmt *w_create;
    sqlite3_stmt *w_destroy;
    sqlite3_stmt *w_state;
    sqlite3_stmt *w_mark;
    sqlite3_stmt *w_flush;
    sqlite3_stmt *w_purge_events;
    sqlite3_stmt *w_purge_machines;
    sqlite3_stmt *w_vacuum;

    /* Reader statements. */
    sqlite3_stmt *r_history[2];         /* oldest first, newest first */
    sqlite3_stmt *r_op_counts;
    sqlite3_stmt *r_list_all;
    sqlite3_stmt *r_list_tenant;
    sqlite3_stmt *r_machine;
    sqlite3_stmt *r_live;
    sqlite3_stmt *r_events;
    sqlite3_stmt *r_max_id;

    struct mtab mt;                     /* writer thread only */
    struct ctab ct;                     /* the writer changes it under @lock;
                                           callers read it under @lock */
    bool reaping;                       /* caller's thread only */

    pthread_t thread;
    bool thread_started;
    pthread_t ckpt_thread;
    bool ckpt_started;
    bool sync_inited;
    pthread_mutex_t lock;
    pthread_cond_t wake;                /* the writer waits for work here */
    pthread_cond_t progress;            /* flush and ctl callers wait here */
    pthread_cond_t ckpt_wake;           /* the checkpointer waits here */

    /* Everything below is protected by @lock. */
    struct batch *filling;              /* submits append here */
    struct batch *done_head;            /* committed or failed, unreaped */
    struct batch **done_tail;
    struct batch *spare;                /* empty batches for reuse */
    unsigned nspare;
    struct ctl *ctl;                    /* pending control request */
    bool writer_idle;                   /* waiting on @wake */
    bool stopping;
    bool ckpt_wanted;                   /* the WAL outgrew its threshold */
    int ckpt_base;                      /* frames the last one copied */
    bool ckpt_stopping;
    uint64_t next_id;                   /* next machine id to hand out */
    uint32_t queue_max;
    size_t bytes_max;
    uint32_t inflight;                  /* writes submitted, not reaped */
    size_t inflight_bytes;
    uint64_t submitted;                 /* writes ever submitted */
    uint64_t processed;                 /* writes ever committed or failed */
    struct store_stats st;
};

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
    { 1,
      "CREATE TABLE machines ("
      " id        INTEGER PRIMARY KEY AUTOINCREMENT,"
      " tenant    TEXT NOT NULL,"
      " name      TEXT NOT NULL,"
      " config    TEXT NOT NULL,"       /* the engine's canonical text */
      " created   INTEGER NOT NULL,"    /* unix ms */
      " destroyed INTEGER,"             /* unix ms; NULL while live */
      " nevents   INTEGER NOT NULL DEFAULT 0,"
      " last_seq  INTEGER NOT NULL DEFAULT 0,"
      " parent    INTEGER,"             /* forked from; NULL if not */
      " parent_seq INTEGER);"           /* ...after its event parent_seq */
      "CREATE INDEX machines_tenant ON machines(tenant);"
      "CREATE TABLE events ("
      " machine INTEGER NOT NULL,"
      " seq     INTEGER NOT NULL,"
      " time    INTEGER NOT NULL,"      /* unix ms */
      " op      INTEGER NOT NULL,"
      " cpu     INTEGER NOT NULL,"
      " args    BLOB NOT NULL,"         /* 32-bit words, little-endian */
      " value   INTEGER NOT NULL,"
      " aux     INTEGER NOT NULL,"
      " flags   INTEGER NOT NULL,"
      " status  INTEGER NOT NULL,"
      " PRIMARY KEY (machine, seq)) WITHOUT ROWID;" },
    /* nevents and last_seq are written at destroy and at close, not with
     * every batch; counts_stale = 1 says they may lag (see write_marks()). */
    { 2,
      "ALTER TABLE machines ADD COLUMN"
      " counts_stale INTEGER NOT NULL DEFAULT 0;" },
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

#define EVENT_COLUMNS \
    "seq, time, op, cpu, args, value, aux, flags, status"
#define MACHINE_COLUMNS \
    "id, tenant, name, config, created, destroyed, nevents, last_seq," \
    " parent, parent_seq"
#define LIST_COLUMNS \
    "id, tenant, name, NULL, created, destroyed, nevents, last_seq," \
    " parent, parent_seq"

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
    }
    return "?";
}

static void vformat(char *buf, size_t n, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
    if (n == 0)
        return;
    if (vsnprintf(buf, n, fmt, ap) < 0)
        buf[0] = '\0';
}

static void format(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void format(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(buf, n, fmt, ap);
    va_end(ap);
}

/* Records a caller-side failure for store_errmsg(). */
static void set_err(struct store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct store *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* SQLite integers are signed 64-bit; sequence numbers above that range
 * cannot be stored, so bounds are clamped to it. */
static sqlite3_int64 clamp_u64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static int db_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* PRAGMA takes no bound parameters, so the value is formatted in. */
static int pragma_int(sqlite3 *db, const char *name, long long value)
{
    char sql[96];

    format(sql, sizeof(sql), "PRAGMA %s = %lld", name, value);
    return db_exec(db, sql);
}

/* Runs a one-row integer query (a PRAGMA, a count). */
static int query_int(sqlite3 *db, const char *sql, sqlite3_int64 *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *out = 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Batches and the machine table of the writer                         */
/* ------------------------------------------------------------------ */

static void batch_destroy(struct batch *b)
{
    if (b == NULL)
        return;
    free(b->req);
    free(b->bytes);
    free(b);
}

/* Empties @b for reuse, dropping buffers too big to keep around after a
 * burst. */
static void batch_reset(struct batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        free(b->req[i].msg);
    b->n = 0;
    b->used = 0;
    b->acct = 0;
    b->status = STORE_OK;
    b->msg[0] = '\0';
    b->nevents = b->ncreated = b->ndestroyed = b->nfailed = 0;
    b->next = NULL;
    if (b->bcap > SPARE_BYTES_MAX) {
        free(b->bytes);
        b->bytes = NULL;
        b->bcap = 0;
    }
    if (b->cap > SPARE_REQS_MAX) {
        free(b->req);
        b->req = NULL;
        b->cap = 0;
    }
}

static void mtab_destroy(struct mtab *t)
{
    free(t->slot);
    free(t->used);
    t->slot = NULL;
    t->used = NULL;
    t->cap = t->nused = 0;
}

static void mtab_clear(struct mtab *t)
{
    uint32_t i;

    for (i = 0; i < t->nused; i++)
        t->slot[t->used[i]].id = 0;
    t->nused = 0;
}

static uint32_t mtab_hash(uint64_t id, uint32_t cap)
{
    return (uint32_t)((id * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (cap - 1);
}

/* Where @id is or would go. */
static uint32_t mtab_find(const struct mtab *t, uint64_t id)
{
    uint32_t i = mtab_hash(id, t->cap);

    while (t->slot[i].id != 0 && t->slot[i].id != id)
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* Doubles the table; false if out of memory (the table is unchanged). */
static bool mtab_grow(struct mtab *t)
{
    uint32_t ncap = t->cap ? t->cap * 2 : 256;
    struct mslot *nslot = calloc(ncap, sizeof(*nslot));
    uint32_t *nused = malloc(ncap / 2 * sizeof(*nused));
    struct mtab old = *t;
    uint32_t i;

    if (nslot == NULL || nused == NULL) {
        free(nslot);
        free(nused);
        return false;
    }
    t->slot = nslot;
    t->used = nused;
    t->cap = ncap;
    t->nused = 0;
    for (i = 0; i < old.nused; i++) {
        const struct mslot *o = &old.slot[old.used[i]];
        uint32_t j = mtab_find(t, o->id);

        t->slot[j] = *o;
        t->used[t->nused++] = j;
    }
    free(old.slot);
    free(old.used);
    return true;
}

/* The counts table's slot for @id, or NULL. */
static struct cslot *ctab_get(const struct ctab *t, uint64_t id)
{
    uint32_t i;

    if (t->cap == 0)
        return NULL;
    for (i = mtab_hash(id, t->cap); t->slot[i].id != 0;
         i = (i + 1) & (t->cap - 1)) {
        if (t->slot[i].id == id)
            return &t->slot[i];
    }
    return NULL;
}

/* Adds @id (not there yet) with its row's counts; NULL if out of memory.
 * The caller holds the store's lock: readers may be looking. */
static struct cslot *ctab_add(struct ctab *t, uint64_t id, uint64_t nevents,
                              uint64_t last_seq)
{
    uint32_t i;

    if ((t->n + 1) * 2 > t->cap) {
        uint32_t ncap = t->cap ? t->cap * 2 : 256;
        struct cslot *ns = calloc(ncap, sizeof(*ns));

        if (ns == NULL)
            return NULL;
        for (i = 0; i < t->cap; i++) {
            uint32_t j;

            if (t->slot[i].id == 0)
                continue;
            for (j = mtab_hash(t->slot[i].id, ncap); ns[j].id != 0;
                 j = (j + 1) & (ncap - 1))
                ;
            ns[j] = t->slot[i];
        }
        free(t->slot);
        t->slot = ns;
        t->cap = ncap;
    }
    for (i = mtab_hash(id, t->cap); t->slot[i].id != 0;
         i = (i + 1) & (t->cap - 1))
        ;
    t->slot[i].id = id;
    t->slot[i].nevents = nevents;
    t->slot[i].last_seq = last_seq;
    t->slot[i].marked = false;
    t->n++;
    return &t->slot[i];
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
            format(err, STORE_MSG_MAX, "%s: cannot open the database: %s",
                   path, strerror(errno));
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
            len = 1;                    /* "/x.db": the root */
        if (len >= sizeof(dir))
            len = sizeof(dir) - 1;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    if (access(dir, W_OK | X_OK) != 0) {
        format(err, STORE_MSG_MAX,
               "%s: cannot create the database: directory %s: %s",
               path, dir, strerror(errno));
        return;
    }
    format(err, STORE_MSG_MAX, "%s: cannot create the database", path);
}

/* Formats "<path>: <sqlite message>" with the errno SQLite saw, if any. */
static void sqlite_err(const char *path, sqlite3 *db, const char *what,
                       char *err)
{
    int e = sqlite3_system_errno(db);

    if (e != 0)
        format(err, STORE_MSG_MAX, "%s: %s%s%s (%s)", path, what,
               *what ? ": " : "", sqlite3_errmsg(db), strerror(e));
    else
        format(err, STORE_MSG_MAX, "%s: %s%s%s", path, what,
               *what ? ": " : "", sqlite3_errmsg(db));
}

static int prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
                              NULL);
}

/* The machines a purge with cutoff ?1 keeps: those live or destroyed at or
 * after the cutoff, and every ancestor of one of them, whose history its
 * replay needs, however long ago that ancestor was destroyed. */
#define PURGE_KEEP \
    "WITH RECURSIVE keep(id) AS (" \
    " SELECT id FROM machines WHERE destroyed IS NULL OR destroyed >= ?1" \
    " UNION SELECT m.parent FROM machines m JOIN keep k ON m.id = k.id" \
    " WHERE m.parent IS NOT NULL) "

static int prepare_writer(struct store *s)
{
    int rc = SQLITE_OK;

#define PREP(field, sql) \
    if (rc == SQLITE_OK) \
        rc = prepare(s->wdb, &s->field, sql)
    PREP(w_begin, "BEGIN IMMEDIATE");
    PREP(w_commit, "COMMIT");
    PREP(w_rollback, "ROLLBACK");
    PREP(w_event, "INSERT INTO events (machine, " EVENT_COLUMNS ")"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    PREP(w_create, "INSERT INTO machines (id, tenant, name, config, created,"
                   " parent, parent_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    PREP(w_destroy, "UPDATE machines SET destroyed = ?2, nevents = ?3,"
                    " last_seq = ?4, counts_stale = 0"
                    " WHERE id = ?1 AND destroyed IS NULL");
    PREP(w_state, "SELECT destroyed IS NOT NULL, nevents, last_seq"
                  " FROM machines WHERE id = ?1");
    PREP(w_mark, "UPDATE machines SET counts_stale = 1 WHERE id = ?1");
    PREP(w_flush, "UPDATE machines SET nevents = ?2, last_seq = ?3,"
                  " counts_stale = 0 WHERE id = ?1");
    PREP(w_purge_events, PURGE_KEEP "DELETE FROM events WHERE machine IN"
                         " (SELECT id FROM machines WHERE destroyed < ?1"
                         " AND id NOT IN keep"
                         " AND (?2 IS NULL OR tenant = ?2))");
    PREP(w_purge_machines, PURGE_KEEP "DELETE FROM machines"
                           " WHERE destroyed < ?1 AND id NOT IN keep"
                           " AND (?2 IS NULL OR tenant = ?2)");
    PREP(w_vacuum, "PRAGMA incremental_vacuum");
#undef PREP
    return rc;
}

static int prepare_reader(struct store *s)
{
    int rc = SQLITE_OK;

#define PREP(field, sql) \
    if (rc == SQLITE_OK) \
        rc = prepare(s->rdb, &s->field, sql)
    PREP(r_history[0], "SELECT " EVENT_COLUMNS " FROM events"
                       " WHERE machine = ?1 AND seq BETWEEN ?2 AND ?3"
                       " AND (?4 IS NULL OR op = ?4) ORDER BY seq");
    PREP(r_history[1], "SELECT " EVENT_COLUMNS " FROM events"
                       " WHERE machine = ?1 AND seq BETWEEN ?2 AND ?3"
                       " AND (?4 IS NULL OR op = ?4) ORDER BY seq DESC");
    PREP(r_op_counts, "SELECT op FROM events WHERE machine = ?1");
    PREP(r_list_all, "SELECT " LIST_COLUMNS " FROM machines"
                     " WHERE id > ?1 AND (?2 OR destroyed IS NULL)"
                     " ORDER BY id");
    PREP(r_list_tenant, "SELECT " LIST_COLUMNS " FROM machines"
                        " WHERE tenant = ?3 AND id > ?1"
                        " AND (?2 OR destroyed IS NULL) ORDER BY id");
    PREP(r_machine, "SELECT " MACHINE_COLUMNS " FROM machines WHERE id = ?1");
    PREP(r_live, "SELECT " MACHINE_COLUMNS " FROM machines"
                 " WHERE destroyed IS NULL ORDER BY id");
    PREP(r_events, "SELECT " EVENT_COLUMNS " FROM events"
                   " WHERE machine = ?1 AND seq <= ?2 ORDER BY seq");
    PREP(r_max_id, "SELECT max(coalesce((SELECT seq FROM sqlite_sequence"
                   " WHERE name = 'machines'), 0),"
                   " coalesce((SELECT max(id) FROM machines), 0))");
#undef PREP
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
        sqlite_err(s->path, s->wdb, "setting up a new database", err);
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
            db_exec(s->wdb, sql) != SQLITE_OK ||
            db_exec(s->wdb, "COMMIT") != SQLITE_OK) {
            char what[64];

            format(what, sizeof(what), "migrating to schema version %d",
                   m->version);
            sqlite_err(s->path, s->wdb, what, err);
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
            format(err, STORE_MSG_MAX, "%s: flock %s: %s", s->path,
                   lock_path, strerror(errno));
        return false;
    }
    return true;
}

/* The page limit for a size limit of @bytes (0: SQLite's own maximum). */
static long long max_pages(const struct store *s, uint64_t bytes)
{
    uint64_t pages = bytes / s->page_size;

    if (bytes == 0 || pages > s->default_max_pages)
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
                         SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_CANTOPEN)
            explain_cantopen(s->path, err);
        else
            sqlite_err(s->path, s->wdb, "", err);
        return false;
    }
    sqlite3_extended_result_codes(s->wdb, 1);
    sqlite3_busy_timeout(s->wdb, BUSY_TIMEOUT_MS);

    if (!s->memory && !lock_database(s, err))
        return false;

    /* The first read: a file that is not a database fails here. */
    if (query_int(s->wdb, "PRAGMA user_version", &version) != SQLITE_OK) {
        sqlite_err(s->path, s->wdb, "", err);
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
               "version", s->path, (long long)version);
        return false;
    }
    if (version == 0) {
        if (query_int(s->wdb, "SELECT count(*) FROM sqlite_master",
                      &objects) != SQLITE_OK) {
            sqlite_err(s->path, s->wdb, "", err);
            return false;
        }
        if (objects != 0) {
            format(err, STORE_MSG_MAX,
                   "%s: not an armmapd database (it has tables but no "
                   "schema version)", s->path);
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
     * count their events again. */
    if (db_exec(s->wdb, "UPDATE machines SET"
                " nevents = (SELECT count(*) FROM events"
                "  WHERE events.machine = machines.id),"
                " last_seq = coalesce((SELECT max(seq) FROM events"
                "  WHERE events.machine = machines.id), 0),"
                " counts_stale = 0 WHERE counts_stale = 1") != SQLITE_OK) {
        sqlite_err(s->path, s->wdb, "recounting events", err);
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
                sqlite_err(s->path, s->wdb, "switching to WAL mode", err);
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
        sqlite3_wal_autocheckpoint(s->wdb, s->memory ? 0 : WAL_CHECKPOINT_PAGES)
            != SQLITE_OK ||
        query_int(s->wdb, "PRAGMA synchronous", &v) != SQLITE_OK) {
        sqlite_err(s->path, s->wdb, "configuring", err);
        return false;
    }
    s->st.synchronous = (int)v;
    if (query_int(s->wdb, "PRAGMA max_page_count", &v) != SQLITE_OK) {
        sqlite_err(s->path, s->wdb, "reading max_page_count", err);
        return false;
    }
    s->default_max_pages = (uint32_t)v;
    if (query_int(s->wdb, "PRAGMA page_size", &v) != SQLITE_OK) {
        sqlite_err(s->path, s->wdb, "reading page_size", err);
        return false;
    }
    s->page_size = (uint32_t)v;
    if (opt->max_bytes != 0 &&
        pragma_int(s->wdb, "max_page_count",
                   max_pages(s, opt->max_bytes)) != SQLITE_OK) {
        sqlite_err(s->path, s->wdb, "setting max_page_count", err);
        return false;
    }
    if (query_int(s->wdb,
                  "SELECT max(coalesce((SELECT seq FROM sqlite_sequence"
                  " WHERE name = 'machines'), 0),"
                  " coalesce((SELECT max(id) FROM machines), 0))",
                  &v) != SQLITE_OK) {
        sqlite_err(s->path, s->wdb, "reading machine ids", err);
        return false;
    }
    s->next_id = (uint64_t)v + 1;
    if (prepare_writer(s) != SQLITE_OK) {
        sqlite_err(s->path, s->wdb, "preparing statements", err);
        return false;
    }
    return true;
}

static bool open_reader(struct store *s, char *err)
{
    int rc = sqlite3_open_v2(s->uri, &s->rdb,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                             SQLITE_OPEN_URI, NULL);

    if (rc != SQLITE_OK) {
        sqlite_err(s->path, s->rdb, "opening the read connection", err);
        return false;
    }
    sqlite3_extended_result_codes(s->rdb, 1);
    sqlite3_busy_timeout(s->rdb, BUSY_TIMEOUT_MS);
    if (pragma_int(s->rdb, "query_only", 1) != SQLITE_OK ||
        pragma_int(s->rdb, "cache_size", -READER_CACHE_KIB) != SQLITE_OK ||
        prepare_reader(s) != SQLITE_OK) {
        sqlite_err(s->path, s->rdb, "preparing the read connection", err);
        return false;
    }
    return true;
}

static void *writer_main(void *arg);
static void flush_counts(struct store *s);

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

/* The writer thread blocks the asynchronous signals, so that SIGTERM and
 * friends are handled by the loop thread (libevent's evsignal) and never
 * interrupt a SQLite system call in the writer.  Faults stay unblocked: a
 * blocked SIGSEGV would kill the process without the sanitizers' report. */
static bool start_thread(struct store *s, pthread_t *t,
                         void *(*fn)(void *arg))
{
    static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
                                  SIGABRT, SIGSYS };
    sigset_t all, old;
    size_t i;
    int rc;

    sigfillset(&all);
    for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(t, NULL, fn, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0;
}

static bool start_writer(struct store *s)
{
    s->thread_started = start_thread(s, &s->thread, writer_main);
    return s->thread_started;
}

/*
 * Checkpoints.  SQLite's automatic checkpoint runs inside the commit that
 * crosses the threshold, on the writer thread: it copies 16 MiB of pages
 * into the database and fsyncs it while every change waits.  Measured with
 * pipelined committed changes (tests/bench/bench_daemon.c), that stall cost
 * about a third of the rate.  So a third connection on its own thread runs
 * PASSIVE checkpoints, which never block the writer, when the writer's WAL
 * hook reports the threshold crossed.  A passive checkpoint copies the
 * frames that exist when it starts; under a steady load the writer keeps
 * appending, so the WAL might never be wholly copied and restart.  If it
 * reaches WAL_WRITER_CKPT_PAGES, the writer checkpoints itself as SQLite
 * would have (cheap by then: most frames are already copied), and the next
 * transaction restarts the WAL: its size stays bounded.
 */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct store *s = arg;

    if (pages >= WAL_WRITER_CKPT_PAGES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
    } else if (pages >= WAL_CHECKPOINT_PAGES) {
        pthread_mutex_lock(&s->lock);
        if (pages < s->ckpt_base)
            s->ckpt_base = 0;           /* the WAL restarted */
        if (!s->ckpt_wanted && pages - s->ckpt_base >= WAL_CHECKPOINT_PAGES) {
            s->ckpt_wanted = true;
            pthread_cond_signal(&s->ckpt_wake);
        }
        pthread_mutex_unlock(&s->lock);
    }
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    struct store *s = arg;
    int log, done;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->ckpt_wanted && !s->ckpt_stopping)
            pthread_cond_wait(&s->ckpt_wake, &s->lock);
        if (s->ckpt_stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        /* Failure is benign: the frames stay in the WAL for the next one. */
        if (sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                      &log, &done) != SQLITE_OK)
            done = 0;
        pthread_mutex_lock(&s->lock);
        /* The next one when as many frames again have come. */
        s->ckpt_base = done > 0 ? done : 0;
        s->ckpt_wanted = false;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Opens the checkpointer's connection and starts its thread; the writer's
 * automatic checkpoints give way to it (see on_wal_commit()). */
static bool start_checkpointer(struct store *s, const struct store_options *opt,
                               char *err)
{
    char sql[64];
    int rc;

    if (s->memory)
        return true;                    /* memdb has no WAL */
    rc = sqlite3_open_v2(s->uri, &s->cdb,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                         SQLITE_OPEN_URI, NULL);
    format(sql, sizeof(sql), "PRAGMA synchronous = %s",
           opt->durability == STORE_FULL ? "FULL" : "NORMAL");
    if (rc != SQLITE_OK || db_exec(s->cdb, sql) != SQLITE_OK) {
        sqlite_err(s->path, s->cdb, "opening the checkpoint connection",
                   err);
        return false;
    }
    sqlite3_extended_result_codes(s->cdb, 1);
    s->ckpt_started = start_thread(s, &s->ckpt_thread, checkpointer_main);
    if (!s->ckpt_started) {
        format(err, STORE_MSG_MAX, "%s: cannot start the checkpoint thread",
               s->path);
        return false;
    }
    sqlite3_wal_hook(s->wdb, on_wal_commit, s);
    return true;
}

enum store_status store_open(const char *path, const struct store_options *opt,
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
        format(err, STORE_MSG_MAX, "%s: the store takes a file path or "
               "\":memory:\", not a URI", path);
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
    if (!start_checkpointer(s, opt, err))
        goto fail;
    if (!start_writer(s)) {
        format(err, STORE_MSG_MAX, "%s: cannot start the writer thread",
               path);
        goto fail;
    }
    *out = s;
    return STORE_OK;

fail_sync:
    format(err, STORE_MSG_MAX, "%s: cannot create locks", path);
fail:
    store_close(s);
    return STORE_UNAVAILABLE;
}

static void finalize_all(struct store *s)
{
    sqlite3_stmt **all[] = {
        &s->w_begin, &s->w_commit, &s->w_rollback, &s->w_event,
        &s->w_create, &s->w_destroy, &s->w_state, &s->w_mark, &s->w_flush,
        &s->w_purge_events, &s->w_purge_machines, &s->w_vacuum,
        &s->r_history[0], &s->r_history[1], &s->r_op_counts,
        &s->r_list_all, &s->r_list_tenant, &s->r_machine, &s->r_live,
        &s->r_events, &s->r_max_id,
    };
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
}

void store_close(struct store *s)
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
        flush_counts(s);
    finalize_all(s);
    /* The last connection to close checkpoints and removes the WAL. */
    sqlite3_close(s->cdb);
    sqlite3_close(s->rdb);
    sqlite3_close(s->wdb);
    if (s->lock_fd >= 0)
        close(s->lock_fd);              /* releases the flock */
    if (s->notify_fd >= 0)
        close(s->notify_fd);
    while ((b = s->done_head) != NULL) {
        s->done_head = b->next;
        batch_reset(b);
        batch_destroy(b);
    }
    while ((b = s->spare) != NULL) {
        s->spare = b->next;
        batch_destroy(b);
    }
    if (s->filling != NULL)
        batch_reset(s->filling);
    batch_destroy(s->filling);
    mtab_destroy(&s->mt);
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

const char *store_errmsg(const struct store *s)
{
    return s->errmsg;
}

int store_notify_fd(const struct store *s)
{
    return s->notify_fd;
}

/* ------------------------------------------------------------------ */
/* Submitting writes                                                   */
/* ------------------------------------------------------------------ */

/* Under s->lock: makes room in the filling batch for one write carrying
 * @len bytes of data, and returns it zeroed with @data pointing at its
 * bytes; STORE_BUSY when the queue bound is reached. */
static enum store_status reserve(struct store *s, size_t len,
                                 struct wreq **req, unsigned char **data)
{
    struct batch *b = s->filling;
    size_t cost = sizeof(struct wreq) + len;

    if (s->stopping) {
        set_err(s, "store is closing");
        return STORE_UNAVAILABLE;
    }
    if (s->inflight > 0 && (s->inflight >= s->queue_max ||
                            s->inflight_bytes + cost > s->bytes_max)) {
        set_err(s, "write queue full (%" PRIu32 " writes, %zu bytes)",
                s->inflight, s->inflight_bytes);
        return STORE_BUSY;
    }
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        struct wreq *nreq = realloc(b->req, ncap * sizeof(*nreq));

        if (nreq == NULL)
            goto oom;
        b->req = nreq;
        b->cap = ncap;
    }
    if (b->used + len > b->bcap) {
        size_t ncap = b->bcap ? b->bcap : 4096;
        unsigned char *nbytes;

        while (ncap < b->used + len)
            ncap *= 2;
        nbytes = realloc(b->bytes, ncap);
        if (nbytes == NULL)
            goto oom;
        b->bytes = nbytes;
        b->bcap = ncap;
    }
    *req = &b->req[b->n];
    memset(*req, 0, sizeof(**req));
    (*req)->off = b->used;
    *data = b->bytes != NULL ? b->bytes + b->used : NULL;
    return STORE_OK;
oom:
    set_err(s, "out of memory queueing a write");
    return STORE_UNAVAILABLE;
}

/* Under s->lock: counts the write reserve() returned and wakes the
 * writer if it sleeps. */
static void enqueue(struct store *s, size_t len)
{
    struct batch *b = s->filling;
    size_t cost = sizeof(struct wreq) + len;

    b->n++;
    b->used += len;
    b->acct += cost;
    s->inflight++;
    s->inflight_bytes += cost;
    s->submitted++;
    if (s->writer_idle) {
        s->writer_idle = false;
        pthread_cond_signal(&s->wake);
    }
}

enum store_status store_submit_event(struct store *s,
                                     const struct store_event *ev,
                                     void *cookie)
{
    size_t len, i;
    struct wreq *r;
    unsigned char *data;
    enum store_status rc;

    assert(s != NULL && ev != NULL);
    if (ev->machine == 0 || ev->seq == 0 || ev->nargs > STORE_MAX_ARGS ||
        (ev->nargs > 0 && ev->args == NULL) ||
        ev->machine > (uint64_t)INT64_MAX || ev->seq > (uint64_t)INT64_MAX) {
        pthread_mutex_lock(&s->lock);
        set_err(s, "event %" PRIu64 " of machine %" PRIu64 ": invalid "
                "(machine and seq must be 1..2^63-1, nargs %" PRIu32
                " at most %d)", ev->seq, ev->machine, ev->nargs,
                STORE_MAX_ARGS);
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    len = (size_t)ev->nargs * 4;
    pthread_mutex_lock(&s->lock);
    rc = reserve(s, len, &r, &data);
    if (rc == STORE_OK) {
        r->kind = WREQ_EVENT;
        r->cookie = cookie;
        r->machine = ev->machine;
        r->seq = ev->seq;
        r->time_ms = ev->time_ms;
        r->op = ev->op;
        r->cpu = ev->cpu;
        r->value = ev->value;
        r->aux = ev->aux;
        r->flags = ev->flags;
        r->ev_status = ev->status;
        r->len = len;
        for (i = 0; i < ev->nargs; i++)
            put_le32(data + 4 * i, ev->args[i]);
        enqueue(s, len);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Queues a machine row; @parent is 0 for a machine that is not a fork. */
static enum store_status submit_machine(struct store *s, uint64_t parent,
                                        uint64_t parent_seq,
                                        const char *tenant, const char *name,
                                        const char *config, int64_t created_ms,
                                        void *cookie, uint64_t *id)
{
    size_t lt, ln, lc;
    struct wreq *r;
    unsigned char *data;
    enum store_status rc;

    assert(s != NULL);
    if (config == NULL || id == NULL || parent > (uint64_t)INT64_MAX ||
        parent_seq > (uint64_t)INT64_MAX) {
        pthread_mutex_lock(&s->lock);
        set_err(s, "create: a machine needs a config (and a valid parent)");
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    tenant = tenant ? tenant : "";
    name = name ? name : "";
    lt = strlen(tenant) + 1;
    ln = strlen(name) + 1;
    lc = strlen(config) + 1;
    pthread_mutex_lock(&s->lock);
    rc = reserve(s, lt + ln + lc, &r, &data);
    if (rc == STORE_OK) {
        r->kind = WREQ_CREATE;
        r->cookie = cookie;
        r->machine = s->next_id++;
        r->parent = parent;
        r->seq = parent_seq;
        r->time_ms = created_ms;
        memcpy(data, tenant, lt);
        memcpy(data + lt, name, ln);
        memcpy(data + lt + ln, config, lc);
        *id = r->machine;
        enqueue(s, lt + ln + lc);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

enum store_status store_submit_machine_create(struct store *s,
                                              const char *tenant,
                                              const char *name,
                                              const char *config,
                                              int64_t created_ms,
                                              void *cookie, uint64_t *id)
{
    return submit_machine(s, 0, 0, tenant, name, config, created_ms, cookie,
                          id);
}

enum store_status store_submit_machine_fork(struct store *s, uint64_t parent,
                                            uint64_t parent_seq,
                                            const char *tenant,
                                            const char *name,
                                            const char *config,
                                            int64_t created_ms, void *cookie,
                                            uint64_t *id)
{
    if (parent == 0) {
        pthread_mutex_lock(&s->lock);
        set_err(s, "fork: parent machine 0 is invalid");
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    return submit_machine(s, parent, parent_seq, tenant, name, config,
                          created_ms, cookie, id);
}

enum store_status store_submit_machine_destroy(struct store *s, uint64_t id,
                                               int64_t destroyed_ms,
                                               void *cookie)
{
    struct wreq *r;
    unsigned char *data;
    enum store_status rc;

    assert(s != NULL);
    if (id == 0 || id > (uint64_t)INT64_MAX) {
        pthread_mutex_lock(&s->lock);
        set_err(s, "destroy: machine id %" PRIu64 " is invalid", id);
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&s->lock);
    rc = reserve(s, 0, &r, &data);
    if (rc == STORE_OK) {
        r->kind = WREQ_DESTROY;
        r->cookie = cookie;
        r->machine = id;
        r->time_ms = destroyed_ms;
        enqueue(s, 0);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The writer thread                                                   */
/* ------------------------------------------------------------------ */

/* Steps a statement that returns no row and resets it.  On failure the
 * message is kept in s->wmsg, before the reset can change it. */
static int wstep(struct store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        rc = SQLITE_OK;
    } else {
        format(s->wmsg, sizeof(s->wmsg), "%s", sqlite3_errmsg(s->wdb));
    }
    sqlite3_reset(st);
    return rc;
}

static void wreq_fail(struct wreq *r, enum store_status status,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fails one write of a batch that otherwise goes on. */
static void wreq_fail(struct wreq *r, enum store_status status,
                      const char *fmt, ...)
{
    char buf[STORE_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vformat(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->status = status;
    free(r->msg);
    r->msg = strdup(buf);               /* NULL: reap names the status */
}

/* The batch's entry for machine @id, read from the database the first
 * time the batch meets it.  NULL with an SQLite code in *rc on failure. */
static struct mslot *machine_state(struct store *s, uint64_t id, int *rc)
{
    struct mtab *t = &s->mt;
    struct mslot *m;
    uint32_t i;
    int step;

    if (t->cap == 0 || (t->nused + 1) * 2 > t->cap) {
        if (!mtab_grow(t)) {
            format(s->wmsg, sizeof(s->wmsg), "out of memory");
            *rc = SQLITE_NOMEM;
            return NULL;
        }
    }
    i = mtab_find(t, id);
    m = &t->slot[i];
    if (m->id == id)
        return m;
    sqlite3_bind_int64(s->w_state, 1, (sqlite3_int64)id);
    step = sqlite3_step(s->w_state);
    if (step == SQLITE_ROW) {
        m->state = sqlite3_column_int(s->w_state, 0) ? MACHINE_DESTROYED
                                                     : MACHINE_ALIVE;
        if (ctab_get(&s->ct, id) == NULL) {
            struct cslot *c;

            pthread_mutex_lock(&s->lock);
            c = ctab_add(&s->ct, id,
                         (uint64_t)sqlite3_column_int64(s->w_state, 1),
                         (uint64_t)sqlite3_column_int64(s->w_state, 2));
            pthread_mutex_unlock(&s->lock);
            if (c == NULL) {
                format(s->wmsg, sizeof(s->wmsg), "out of memory");
                sqlite3_reset(s->w_state);
                *rc = SQLITE_NOMEM;
                return NULL;
            }
        }
    } else if (step == SQLITE_DONE) {
        m->state = MACHINE_MISSING;
    } else {
        format(s->wmsg, sizeof(s->wmsg), "%s", sqlite3_errmsg(s->wdb));
        sqlite3_reset(s->w_state);
        *rc = step;
        return NULL;
    }
    sqlite3_reset(s->w_state);
    m->id = id;
    m->count = 0;
    m->last_seq = 0;
    m->marking = false;
    t->used[t->nused++] = i;
    return m;
}

/* Each write_*() returns SQLITE_OK, also when only that write failed (it
 * then carries its own status), or the SQLite error that fails the batch. */
static int write_event(struct store *s, struct batch *b, struct wreq *r)
{
    sqlite3_stmt *st = s->w_event;
    int rc = SQLITE_OK;
    struct mslot *m = machine_state(s, r->machine, &rc);

    if (m == NULL)
        return rc;
    if (m->state != MACHINE_ALIVE) {
        wreq_fail(r, STORE_NOT_FOUND, "event %" PRIu64 ": machine %" PRIu64
                  " %s", r->seq, r->machine,
                  m->state == MACHINE_MISSING ? "does not exist"
                                              : "is destroyed");
        return SQLITE_OK;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->machine);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->seq);
    sqlite3_bind_int64(st, 3, r->time_ms);
    sqlite3_bind_int64(st, 4, r->op);
    sqlite3_bind_int64(st, 5, r->cpu);
    if (r->len > 0)
        sqlite3_bind_blob(st, 6, b->bytes + r->off, (int)r->len,
                          SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(st, 6, 0);
    sqlite3_bind_int64(st, 7, r->value);
    sqlite3_bind_int64(st, 8, r->aux);
    sqlite3_bind_int64(st, 9, r->flags);
    sqlite3_bind_int64(st, 10, r->ev_status);
    rc = wstep(s, st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        wreq_fail(r, STORE_ALREADY_EXISTS, "event %" PRIu64 " of machine %"
                  PRIu64 " is already stored", r->seq, r->machine);
        return SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        return rc;
    m->count++;
    if (r->seq > m->last_seq)
        m->last_seq = r->seq;
    b->nevents++;
    return SQLITE_OK;
}

static int write_create(struct store *s, struct batch *b, struct wreq *r)
{
    sqlite3_stmt *st = s->w_create;
    const char *tenant = (const char *)b->bytes + r->off;
    const char *name = tenant + strlen(tenant) + 1;
    const char *config = name + strlen(name) + 1;
    uint32_t i;
    int rc = SQLITE_OK;

    if (r->parent != 0) {
        struct mslot *p = machine_state(s, r->parent, &rc);

        if (p == NULL)
            return rc;
        if (p->state == MACHINE_MISSING) {
            wreq_fail(r, STORE_NOT_FOUND, "fork: parent machine %" PRIu64
                      " does not exist", r->parent);
            return SQLITE_OK;
        }
        sqlite3_bind_int64(st, 6, (sqlite3_int64)r->parent);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)r->seq);
    } else {
        sqlite3_bind_null(st, 6);
        sqlite3_bind_null(st, 7);
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->machine);
    sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, config, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->time_ms);
    rc = wstep(s, st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        wreq_fail(r, STORE_ALREADY_EXISTS, "machine %" PRIu64
                  " already exists", r->machine);
        return SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        return rc;
    if (s->mt.cap != 0) {
        i = mtab_find(&s->mt, r->machine);
        if (s->mt.slot[i].id == r->machine)
            s->mt.slot[i].state = MACHINE_ALIVE;
    }
    if (ctab_get(&s->ct, r->machine) == NULL) {
        struct cslot *c;

        pthread_mutex_lock(&s->lock);
        c = ctab_add(&s->ct, r->machine, 0, 0);
        pthread_mutex_unlock(&s->lock);
        if (c == NULL) {
            format(s->wmsg, sizeof(s->wmsg), "out of memory");
            return SQLITE_NOMEM;
        }
    }
    b->ncreated++;
    return SQLITE_OK;
}

static int write_destroy(struct store *s, struct batch *b, struct wreq *r)
{
    sqlite3_stmt *st = s->w_destroy;
    uint64_t nevents = 0, last_seq = 0;
    const struct cslot *c;
    struct mslot *m;
    uint32_t i;
    int rc = SQLITE_OK;

    /* The row gets its exact counts: committed ones and this batch's. */
    m = machine_state(s, r->machine, &rc);
    if (m == NULL)
        return rc;
    c = ctab_get(&s->ct, r->machine);
    if (c != NULL) {
        nevents = c->nevents + m->count;
        last_seq = c->last_seq > m->last_seq ? c->last_seq : m->last_seq;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->machine);
    sqlite3_bind_int64(st, 2, r->time_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)nevents);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)last_seq);
    rc = wstep(s, st);
    if (rc != SQLITE_OK)
        return rc;
    if (sqlite3_changes(s->wdb) == 0) {
        wreq_fail(r, STORE_NOT_FOUND, "destroy: machine %" PRIu64
                  " does not exist or is already destroyed", r->machine);
        return SQLITE_OK;
    }
    if (s->mt.cap != 0) {
        i = mtab_find(&s->mt, r->machine);
        if (s->mt.slot[i].id == r->machine)
            s->mt.slot[i].state = MACHINE_DESTROYED;
    }
    b->ndestroyed++;
    return SQLITE_OK;
}

/*
 * Event counts.  Rewriting the machine rows' nevents and last_seq with
 * every batch cost a second 16 KiB page in the WAL per commit (measured:
 * 7% of the writer's CPU per change with pipelined changes).  Instead the
 * counts table (s->ct) keeps every touched machine's committed counts in
 * memory, and readers take the larger of the row's and the table's
 * (overlay_counts(); counts only grow).  The row is written at destroy
 * (write_destroy()) and at close (flush_counts()).  So that a crash loses
 * nothing, the first batch that adds events to a machine in a session also
 * sets its row's counts_stale, in the same transaction, and store_open()
 * recounts the rows still marked (one range scan each, only after a crash).
 */
static int write_marks(struct store *s)
{
    struct mtab *t = &s->mt;
    uint32_t i;
    int rc;

    for (i = 0; i < t->nused; i++) {
        struct mslot *m = &t->slot[t->used[i]];
        const struct cslot *c;

        /* A destroy in this batch wrote the exact counts already. */
        if (m->count == 0 || m->state == MACHINE_DESTROYED)
            continue;
        c = ctab_get(&s->ct, m->id);
        if (c != NULL && c->marked)
            continue;
        sqlite3_bind_int64(s->w_mark, 1, (sqlite3_int64)m->id);
        rc = wstep(s, s->w_mark);
        if (rc != SQLITE_OK)
            return rc;
        m->marking = true;
    }
    return SQLITE_OK;
}

/* After a commit: its counts are the committed ones now.  Called with the
 * store's lock held. */
static void counts_committed(struct store *s)
{
    const struct mtab *t = &s->mt;
    uint32_t i;

    for (i = 0; i < t->nused; i++) {
        const struct mslot *m = &t->slot[t->used[i]];
        struct cslot *c = ctab_get(&s->ct, m->id);

        if (c == NULL || m->count == 0)
            continue;
        c->nevents += m->count;
        if (m->last_seq > c->last_seq)
            c->last_seq = m->last_seq;
        if (m->marking)
            c->marked = true;
    }
}

/* At close: writes the counts of the rows marked stale, in one
 * transaction.  If that fails they stay marked and the next open
 * recounts them. */
static void flush_counts(struct store *s)
{
    uint32_t i;
    int rc;

    if (s->ct.n == 0 || s->w_flush == NULL || s->w_begin == NULL)
        return;
    rc = wstep(s, s->w_begin);
    for (i = 0; rc == SQLITE_OK && i < s->ct.cap; i++) {
        const struct cslot *c = &s->ct.slot[i];

        if (c->id == 0 || !c->marked)
            continue;
        sqlite3_bind_int64(s->w_flush, 1, (sqlite3_int64)c->id);
        sqlite3_bind_int64(s->w_flush, 2, (sqlite3_int64)c->nevents);
        sqlite3_bind_int64(s->w_flush, 3, (sqlite3_int64)c->last_seq);
        rc = wstep(s, s->w_flush);
    }
    if (rc == SQLITE_OK)
        rc = wstep(s, s->w_commit);
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(s->wdb))
        wstep(s, s->w_rollback);
}

/* A reader's row: the committed counts may be ahead of it. */
static void overlay_counts(struct store *s, struct store_machine *m)
{
    const struct cslot *c;

    pthread_mutex_lock(&s->lock);
    c = ctab_get(&s->ct, m->id);
    if (c != NULL) {
        if (c->nevents > m->nevents)
            m->nevents = c->nevents;
        if (c->last_seq > m->last_seq)
            m->last_seq = c->last_seq;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Commits @b in one transaction, or rolls it all back and records why. */
static void commit_batch(struct store *s, struct batch *b)
{
    size_t i;
    int rc;

    mtab_clear(&s->mt);
    rc = wstep(s, s->w_begin);
    for (i = 0; rc == SQLITE_OK && i < b->n; i++) {
        struct wreq *r = &b->req[i];

        switch (r->kind) {
        case WREQ_EVENT:
            rc = write_event(s, b, r);
            break;
        case WREQ_CREATE:
            rc = write_create(s, b, r);
            break;
        case WREQ_DESTROY:
            rc = write_destroy(s, b, r);
            break;
        }
        if (r->status != STORE_OK)
            b->nfailed++;
    }
    if (rc == SQLITE_OK)
        rc = write_marks(s);
    if (rc == SQLITE_OK)
        rc = wstep(s, s->w_commit);
    if (rc == SQLITE_OK) {
        b->status = STORE_OK;
        return;
    }
    /* SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR do);
     * only an open transaction needs the ROLLBACK. */
    format(b->msg, sizeof(b->msg), "%s", s->wmsg);
    if (!sqlite3_get_autocommit(s->wdb))
        wstep(s, s->w_rollback);
    b->status = STORE_UNAVAILABLE;
    b->nevents = b->ncreated = b->ndestroyed = 0;
    b->nfailed = b->n;
}

static void run_purge(struct store *s, struct ctl *c)
{
    int rc;

    sqlite3_bind_int64(s->w_purge_events, 1, c->cutoff);
    sqlite3_bind_int64(s->w_purge_machines, 1, c->cutoff);
    if (c->tenant != NULL) {
        sqlite3_bind_text(s->w_purge_events, 2, c->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->w_purge_machines, 2, c->tenant, -1,
                          SQLITE_STATIC);
    } else {
        sqlite3_bind_null(s->w_purge_events, 2);
        sqlite3_bind_null(s->w_purge_machines, 2);
    }
    rc = wstep(s, s->w_begin);
    if (rc == SQLITE_OK) {
        rc = wstep(s, s->w_purge_events);
        c->events = (uint64_t)sqlite3_changes(s->wdb);
    }
    if (rc == SQLITE_OK) {
        rc = wstep(s, s->w_purge_machines);
        c->result = (uint64_t)sqlite3_changes(s->wdb);
    }
    if (rc == SQLITE_OK)
        rc = wstep(s, s->w_commit);
    if (rc != SQLITE_OK) {
        format(c->msg, sizeof(c->msg), "purge: %s", s->wmsg);
        if (!sqlite3_get_autocommit(s->wdb))
            wstep(s, s->w_rollback);
        c->status = STORE_UNAVAILABLE;
        c->result = c->events = 0;
        return;
    }
    /* Benign if it fails: the pages stay on the freelist and are reused. */
    if (c->result > 0) {
        while (sqlite3_step(s->w_vacuum) == SQLITE_ROW)
            ;
        sqlite3_reset(s->w_vacuum);
    }
    c->status = STORE_OK;
}

static void run_ctl(struct store *s, struct ctl *c)
{
    switch (c->kind) {
    case CTL_PURGE:
        run_purge(s, c);
        break;
    case CTL_MAX_BYTES:
        if (pragma_int(s->wdb, "max_page_count",
                       max_pages(s, c->bytes)) != SQLITE_OK) {
            format(c->msg, sizeof(c->msg), "max_page_count: %s",
                   sqlite3_errmsg(s->wdb));
            c->status = STORE_UNAVAILABLE;
        } else {
            c->status = STORE_OK;
        }
        break;
    }
}

static void notify(struct store *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->notify_fd, &one, sizeof(one));

    (void)n;                    /* EAGAIN: the counter is already set */
}

/* Takes the filling batch, leaving an empty one in its place.  Called and
 * returns with s->lock held; NULL if no empty batch could be allocated. */
static struct batch *take_filling(struct store *s)
{
    struct batch *b = s->filling;
    struct batch *fresh = s->spare;

    if (fresh != NULL) {
        s->spare = fresh->next;
        s->nspare--;
        fresh->next = NULL;
    } else {
        pthread_mutex_unlock(&s->lock);
        fresh = calloc(1, sizeof(*fresh));
        pthread_mutex_lock(&s->lock);
        if (fresh == NULL)
            return NULL;
        b = s->filling;                 /* it may have grown meanwhile */
    }
    s->filling = fresh;
    return b;
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    struct timespec cpu;
    struct batch *b;
    struct ctl *c;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        c = s->ctl;
        if (c != NULL && !c->done) {
            pthread_mutex_unlock(&s->lock);
            run_ctl(s, c);
            pthread_mutex_lock(&s->lock);
            c->done = true;
            pthread_cond_broadcast(&s->progress);
            continue;
        }
        if (s->filling->n > 0) {
            b = take_filling(s);
            if (b == NULL) {            /* out of memory: retry shortly */
                struct timespec ts = { 0, 10 * 1000 * 1000 };

                pthread_mutex_unlock(&s->lock);
                nanosleep(&ts, NULL);
                pthread_mutex_lock(&s->lock);
                continue;
            }
            pthread_mutex_unlock(&s->lock);
            commit_batch(s, b);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
            pthread_mutex_lock(&s->lock);
            s->st.writer_cpu_ns = (uint64_t)cpu.tv_sec * 1000000000u +
                                  (uint64_t)cpu.tv_nsec;
            if (b->status == STORE_OK) {
                counts_committed(s);
                s->st.commits++;
                s->st.events += b->nevents;
                s->st.machines_created += b->ncreated;
                s->st.machines_destroyed += b->ndestroyed;
            } else {
                s->st.failed_batches++;
            }
            s->st.writes_failed += b->nfailed;
            if (b->n > s->st.largest_batch)
                s->st.largest_batch = b->n;
            s->processed += b->n;
            *s->done_tail = b;
            s->done_tail = &b->next;
            pthread_cond_broadcast(&s->progress);
            notify(s);
            continue;
        }
        if (s->stopping)
            break;
        s->writer_idle = true;
        pthread_cond_wait(&s->wake, &s->lock);
        s->writer_idle = false;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Runs @c on the writer thread and waits for it. */
static enum store_status call_writer(struct store *s, struct ctl *c)
{
    pthread_mutex_lock(&s->lock);
    while (s->ctl != NULL && !s->stopping)
        pthread_cond_wait(&s->progress, &s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        format(c->msg, sizeof(c->msg), "store is closing");
        return STORE_UNAVAILABLE;
    }
    s->ctl = c;
    s->writer_idle = false;
    pthread_cond_signal(&s->wake);
    while (!c->done)
        pthread_cond_wait(&s->progress, &s->lock);
    s->ctl = NULL;
    pthread_cond_broadcast(&s->progress);
    if (c->status != STORE_OK)
        set_err(s, "%s", c->msg);
    pthread_mutex_unlock(&s->lock);
    return c->status;
}

size_t store_reap(struct store *s,
                  void (*done)(void *arg, void *cookie,
                               enum store_status status, const char *msg),
                  void *arg)
{
    struct batch *list, *b, *next;
    uint64_t junk;
    ssize_t rd;
    size_t i, n = 0;

    assert(s != NULL && !s->reaping);
    /* Drain the eventfd first: a batch finished after this read will make
     * it readable again, so no completion is left unannounced. */
    rd = read(s->notify_fd, &junk, sizeof(junk));
    (void)rd;
    pthread_mutex_lock(&s->lock);
    list = s->done_head;
    s->done_head = NULL;
    s->done_tail = &s->done_head;
    for (b = list; b != NULL; b = b->next) {
        s->inflight -= (uint32_t)b->n;
        s->inflight_bytes -= b->acct;
    }
    pthread_mutex_unlock(&s->lock);

    s->reaping = true;
    for (b = list; b != NULL; b = b->next) {
        for (i = 0; i < b->n; i++) {
            const struct wreq *r = &b->req[i];
            enum store_status st = b->status != STORE_OK ? b->status
                                                         : r->status;
            const char *msg = "";

            if (b->status != STORE_OK)
                msg = b->msg;
            else if (r->status != STORE_OK)
                msg = r->msg ? r->msg : store_status_name(r->status);
            if (done != NULL)
                done(arg, r->cookie, st, msg);
            n++;
        }
    }
    s->reaping = false;

    pthread_mutex_lock(&s->lock);
    for (b = list; b != NULL; b = next) {
        next = b->next;
        batch_reset(b);
        if (s->nspare < SPARE_BATCHES) {
            b->next = s->spare;
            s->spare = b;
            s->nspare++;
        } else {
            batch_destroy(b);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

void store_flush(struct store *s)
{
    uint64_t target;

    pthread_mutex_lock(&s->lock);
    target = s->submitted;
    while (s->processed < target)
        pthread_cond_wait(&s->progress, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

void store_stats(struct store *s, struct store_stats *st)
{
    pthread_mutex_lock(&s->lock);
    *st = s->st;
    st->queued = s->inflight;
    pthread_mutex_unlock(&s->lock);
}

enum store_status store_set_max_bytes(struct store *s, uint64_t bytes)
{
    struct ctl c;

    memset(&c, 0, sizeof(c));
    c.kind = CTL_MAX_BYTES;
    c.bytes = bytes;
    return call_writer(s, &c);
}

enum store_status store_purge(struct store *s, const char *tenant,
                              int64_t older_than_ms, int64_t now_ms,
                              uint64_t *purged, uint64_t *events)
{
    struct ctl c;
    enum store_status rc;

    memset(&c, 0, sizeof(c));
    c.kind = CTL_PURGE;
    c.cutoff = now_ms - older_than_ms;
    c.tenant = tenant;
    rc = call_writer(s, &c);
    if (purged != NULL)
        *purged = c.result;
    if (events != NULL)
        *events = c.events;
    return rc;
}

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
                       struct store_event *ev,
                       uint32_t words[STORE_MAX_ARGS])
{
    const unsigned char *blob = sqlite3_column_blob(st, 4);
    int len = sqlite3_column_bytes(st, 4);     /* after the blob: see API */
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

/* The address filter of store_history(): an argument word or the value in
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

enum store_status store_history(struct store *s,
                                const struct store_history_query *q,
                                int (*fn)(void *arg,
                                          const struct store_event *ev),
                                void *arg, struct store_page *page)
{
    sqlite3_stmt *st;
    uint64_t lo, hi;
    uint32_t words[STORE_MAX_ARGS];
    struct store_event ev;
    int rc;

    assert(s != NULL && q != NULL && page != NULL);
    memset(page, 0, sizeof(*page));
    if (q->machine == 0 ||
        (q->by_addr && q->addr_first > q->addr_last)) {
        set_err(s, "history: %s", q->machine == 0 ? "machine 0"
                                                  : "empty address range");
        return STORE_INVALID_ARGUMENT;
    }
    st = s->r_history[q->newest_first ? 1 : 0];
    if (!stmt_idle(s, st, "history"))
        return STORE_INVALID_ARGUMENT;
    lo = q->seq_first;
    hi = q->seq_last ? q->seq_last : UINT64_MAX;
    if (q->cursor >= (uint64_t)INT64_MAX)
        return STORE_OK;                /* past every storable seq */
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

static bool count_op(struct op_count **v, size_t *n, size_t *cap,
                     uint32_t op)
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

enum store_status store_op_counts(struct store *s, uint64_t machine,
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
    m->parent = (uint64_t)sqlite3_column_int64(st, 8);     /* NULL: 0 */
    m->parent_seq = (uint64_t)sqlite3_column_int64(st, 9);
    if (m->tenant == NULL)
        m->tenant = "";
    if (m->name == NULL)
        m->name = "";
}

enum store_status store_list_machines(struct store *s,
                                      const struct store_machine_filter *f,
                                      int (*fn)(void *arg,
                                                const struct store_machine *m),
                                      void *arg, bool *more)
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
        overlay_counts(s, &m);
        m.config = NULL;                /* lists do not read the config */
        rows++;
        if (fn != NULL && fn(arg, &m) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return read_failed(s, st, "list machines");
    sqlite3_reset(st);
    return STORE_OK;
}

enum store_status store_machine_dup(struct store *s, uint64_t id,
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
    overlay_counts(s, &m);
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

enum store_status store_foreach_live_machine(struct store *s,
                                             int (*fn)(void *arg,
                                                 const struct store_machine *m),
                                             void *arg)
{
    sqlite3_stmt *st = s->r_live;
    struct store_machine m;
    int rc;

    if (!stmt_idle(s, st, "live machines"))
        return STORE_INVALID_ARGUMENT;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_machine(st, &m);
        overlay_counts(s, &m);
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

enum store_status store_foreach_event(struct store *s, uint64_t machine,
                                      uint64_t upto_seq,
                                      int (*fn)(void *arg,
                                                const struct store_event *ev),
                                      void *arg, uint64_t *count)
{
    sqlite3_stmt *st = s->r_events;
    uint32_t words[STORE_MAX_ARGS];
    struct store_event ev;
    uint64_t n = 0;
    int rc;

    if (count != NULL)
        *count = 0;
    if (!stmt_idle(s, st, "events"))
        return STORE_INVALID_ARGUMENT;
    sqlite3_bind_int64(st, 1, clamp_u64(machine));
    sqlite3_bind_int64(st, 2, upto_seq ? clamp_u64(upto_seq) : INT64_MAX);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!read_event(st, machine, &ev, words))
            return bad_blob(s, st, machine);
        n++;
        if (fn != NULL && fn(arg, &ev) != 0)
            break;
    }
    if (count != NULL)
        *count = n;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return read_failed(s, st, "events");
    sqlite3_reset(st);
    return STORE_OK;
}

enum store_status store_max_machine_id(struct store *s, uint64_t *id)
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
