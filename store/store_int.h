/* store/store_int.h - what the files of store/ share, and nothing else.
 *
 * The store is one SQLite database in WAL mode with three connections, each
 * owned by one thread (see each file's header for its thread contract):
 *  - store_open.c: opening (schema, migrations, the reads recovery needs
 *    before anything runs) and closing; the caller's thread, while no
 *    other thread of this store runs;
 *  - store_writer.c: submitting writes (any thread, under @lock), the
 *    writer thread and its group commit, the checkpointer thread, and the
 *    control requests (purge, size limit) the writer runs between batches;
 *  - store_read.c: history and machine queries on the read connection, the
 *    caller's (loop) thread only.
 * Only files of store/ include this header (and tests that need to).
 */
#ifndef ARMMAP_STORE_STORE_INT_H
#define ARMMAP_STORE_STORE_INT_H

#include "store.h"
#include "store_backend.h"
#include "store_pack.h"


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

#define BUSY_TIMEOUT_MS  5000  /* another process holding a lock */
#define WRITER_CACHE_KIB 16384 /* page cache of each connection */
#define READER_CACHE_KIB 16384
#define READER_MMAP_BYTES \
    (1LL << 30)                          /* reads map the file: no pread
                                           copy (recovery's walk) */
#define PAGE_SIZE             16384      /* of databases we create */
#define WAL_CHECKPOINT_PAGES  1000       /* checkpoint at 16 MiB of WAL */
#define WAL_WRITER_CKPT_PAGES 4000       /* ... in the writer if still 64 MiB */
#define WAL_SIZE_LIMIT        (64 << 20) /* WAL file kept after a checkpoint */
#define SPARE_BATCHES         2          /* empty batches kept for reuse */
#define SPARE_BYTES_MAX       (8u << 20) /* bigger spare buffers are freed */
#define SPARE_REQS_MAX        65536

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

enum wreq_kind {
    WREQ_EVENT = 1,
    WREQ_CREATE,
    WREQ_DESTROY,
    WREQ_CHECKPOINT,
    WREQ_RKEY /* a request key: tenant NUL, then the reply; never reaped */
};

/* One queued write.  Its variable data (the args blob, or the three
 * strings of a creation, NUL-terminated one after another) lives in its
 * batch's byte buffer at @off. */
struct wreq {
    enum wreq_kind kind;
    enum store_status status; /* this write's own outcome */
    char *msg;                /* malloc'd reason, or NULL */
    void *cookie;
    uint64_t machine; /* event's machine, or the id */
    uint64_t seq;     /* event's, or a fork's parent_seq */
    uint64_t parent;  /* a fork's parent, else 0 */
    int64_t time_ms;  /* event time, created, destroyed */
    uint32_t op;
    uint32_t cpu;
    uint32_t value;
    uint32_t aux;
    uint32_t flags;
    int32_t ev_status;
    size_t off;    /* data in the batch's bytes */
    size_t len;    /* args blob length in bytes */
    uint64_t sum;  /* an event's, once written */
    uint64_t key;  /* WREQ_RKEY: the key (seq: its ord, parent: its
                      target) */
    uint32_t unit; /* writes in the unit it begins;
                                           0: it continues the one before */
};

/* Writes committed (or failed) in one transaction. */
struct batch {
    struct wreq *req;
    size_t n;
    size_t cap;
    unsigned char *bytes;
    size_t used;
    size_t bcap;
    size_t acct;              /* queue bytes charged for it */
    enum store_status status; /* STORE_OK or the whole batch's */
    char msg[STORE_MSG_MAX];  /* why the whole batch failed */
    uint64_t nevents;         /* outcome counters, for stats */
    uint64_t ncreated;
    uint64_t ndestroyed;
    uint64_t nfailed;
    struct batch *next;
};

/* What the writer knows of one machine during one batch. */
enum mstate { MACHINE_MISSING = 1, MACHINE_ALIVE, MACHINE_DESTROYED };

struct mslot {
    uint64_t id; /* 0: empty slot */
    enum mstate state;
    uint64_t count; /* events inserted in this batch */
    uint64_t last_seq;
    uint64_t last_sum; /* of that last event */
    bool marking;      /* this batch sets counts_stale */
};

/* A machine's committed event count and last seq, for the counts table
 * (struct store.ct, see write_marks()). */
struct cslot {
    uint64_t id; /* 0: empty slot */
    uint64_t nevents;
    uint64_t last_seq;
    uint64_t base_seq; /* a fork's parent_seq, else 0 */
    uint64_t last_sum; /* its last event's sum; 0: none */
    bool marked;       /* its row has counts_stale = 1 */
};

/* A row the writer is packing: consecutive events of one machine in a
 * batch, written as one event_packs row when it holds PACK_EVENTS_MAX,
 * when another machine's event takes its slot, before a unit's savepoint
 * (so a unit rolled back takes only its own events) and at the commit.
 * PACK_SLOTS of them, a slot by machine id: events of machines that take
 * turns in a group commit (one client each) still fill rows. */
#define PACK_SLOTS 64
struct pack {
    unsigned char *body; /* store_pack.h layout */
    size_t len;
    size_t cap;
    uint32_t n; /* events in it; 0: none pending */
    uint64_t machine;
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t sum; /* its last event's */
    struct pack_cur cur;
};

/* Open-addressing hash table of the machines one batch touches. */
struct mtab {
    struct mslot *slot;
    uint32_t cap;   /* a power of two, or 0 */
    uint32_t *used; /* indexes of occupied slots */
    uint32_t nused;
};

/* Open-addressing hash table of every machine the writer touched since
 * open, with its committed counts. */
struct ctab {
    struct cslot *slot;
    uint32_t cap; /* a power of two, or 0 */
    uint32_t n;
};

enum ctl_kind {
    CTL_PURGE = 1,
    CTL_MAX_BYTES,
    CTL_RESET /* sq_reset() */
};

/* A synchronous request run by the writer thread between batches. */
struct ctl {
    enum ctl_kind kind;
    int64_t cutoff;     /* CTL_PURGE */
    const char *tenant; /* CTL_PURGE; NULL: every tenant */
    uint64_t bytes;     /* CTL_MAX_BYTES */
    uint64_t result;    /* machines purged */
    uint64_t events;    /* CTL_PURGE: events purged */
    enum store_status status;
    char msg[STORE_MSG_MAX];
    bool done;
};

/*
 * The head record: what the last commit holds, written into "<path>-lock"
 * (outside the database and its WAL) after every commit that added events
 * or machines.  At open the database must reach it: if the WAL lost
 * committed frames (truncated or deleted after a kill), the database lacks
 * that event or machine id, and sq_open_warning() says so.
 */
#define HEAD_MAGIC "armmapd-head-1\n" /* 16 bytes with the NUL */
#define HEAD_BYTES (16 + 4 * 8)

struct head {
    uint64_t machine; /* the last event committed, or 0 */
    uint64_t seq;
    uint64_t sum;
    uint64_t max_id; /* the largest machine id committed */
};

/* A read connection and the statements replay needs (store.h).  The
 * store embeds one on its own read connection (@own false). */
struct store_reader {
    struct store *s;
    sqlite3 *db;
    bool own; /* db is this reader's to close */
    sqlite3_stmt *events;
    sqlite3_stmt *event_sum;  /* one event's sum */
    sqlite3_stmt *base;       /* parent_seq, last_seq, stale */
    sqlite3_stmt *checkpoint; /* the nearest at or below a seq */
    sqlite3_stmt *parent;     /* parent, parent_seq */
    char errmsg[STORE_MSG_MAX];
};

struct store {
    const struct store_backend *be; /* first: see store_backend.h */
    char *path;                     /* as given; names it in messages */
    char *uri;                      /* what SQLite opens (memdb name) */
    bool memory;                    /* ":memory:": memdb, no files */
    sqlite3 *wdb;                   /* writer's; writer thread only */
    sqlite3 *rdb;                   /* readers'; the caller's thread */
    sqlite3 *cdb;                   /* checkpointer's; NULL for memdb */
    int lock_fd;                    /* flock'ed <path>-lock */
    int notify_fd;                  /* eventfd: completions ready */
    char errmsg[STORE_MSG_MAX];     /* last failure of a caller */
    char wmsg[STORE_MSG_MAX];       /* last failure in the writer */
    uint32_t default_max_pages;     /* SQLite's own page limit */
    uint32_t page_size;             /* of this database */

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
    sqlite3_stmt *w_reset[5]; /* sq_reset()'s deletes, made at its first use */
    sqlite3_stmt *w_reset_probe; /* ... which tables hold rows, likewise */
    sqlite3_stmt *w_unit;        /* SAVEPOINT of a multi-write unit */
    sqlite3_stmt *w_unit_undo;   /* ROLLBACK TO it */
    sqlite3_stmt *w_unit_end;    /* RELEASE it */
    sqlite3_stmt *w_checkpoint;
    sqlite3_stmt *w_purge_checkpoints;
    sqlite3_stmt *w_rkey;        /* request_keys: one kept */
    sqlite3_stmt *w_rkey_trim;   /* ... the oldest beyond the bound go */
    sqlite3_stmt *w_purge_rkeys; /* ... with their machines */

    /* Reader statements. */
    sqlite3_stmt *r_history[2]; /* oldest first, newest first */
    sqlite3_stmt *r_op_counts;
    sqlite3_stmt *r_list_all;
    sqlite3_stmt *r_list_tenant;
    sqlite3_stmt *r_machine;
    sqlite3_stmt *r_live;
    sqlite3_stmt *r_max_id;
    sqlite3_stmt *r_rkeys;
    struct store_reader rd;      /* replay reads on rdb */
    char corrupt[STORE_MSG_MAX]; /* store_machine.corrupt */
    char warning[STORE_MSG_MAX]; /* sq_open_warning() */
    unsigned fail_permille;      /* test hook: commits to fail */
    unsigned fail_seed;          /* its rand_r() state (writer) */
    struct head head;            /* writer thread (after open) */
    bool resummed;               /* this open recomputed the event
                                           sums (migration 4) */

    struct mtab mt;              /* writer thread only */
    struct pack pk[PACK_SLOTS];  /* writer thread only */
    uint8_t pk_used[PACK_SLOTS]; /* slots that may hold events */
    uint32_t npk;
    struct ctab ct; /* the writer changes it under @lock;
                                           callers read it under @lock */
    bool reaping;   /* caller's thread only */

    pthread_t thread;
    bool thread_started;
    bool inline_writer; /* sq_test_inline_writer(): no thread */
    pthread_t ckpt_thread;
    bool ckpt_started;
    bool sync_inited;
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* the writer waits for work here */
    pthread_cond_t progress;  /* flush and ctl callers wait here */
    pthread_cond_t ckpt_wake; /* the checkpointer waits here */

    /* Everything below is protected by @lock. */
    struct batch *filling;   /* submits append here */
    struct batch *done_head; /* committed or failed, unreaped */
    struct batch **done_tail;
    struct batch *spare; /* empty batches for reuse */
    unsigned nspare;
    struct ctl *ctl;  /* pending control request */
    bool writer_idle; /* waiting on @wake */
    uint32_t holds;   /* store_hold(): no new batch while > 0 */
    bool stopping;
    bool ckpt_wanted; /* the WAL outgrew its threshold */
    int ckpt_base;    /* frames the last one copied */
    bool ckpt_stopping;
    uint64_t next_id; /* next machine id to hand out */
    uint32_t queue_max;
    size_t bytes_max;
    uint32_t inflight; /* writes submitted, not reaped */
    size_t inflight_bytes;
    uint64_t submitted; /* writes ever submitted */
    uint64_t processed; /* writes ever committed or failed */
    struct store_stats st;
};

#define EVENT_COLUMNS       "seq, time, op, cpu, args, value, aux, flags, status, sum"
#define PACK_COLUMNS        "first_seq, last_seq, body, sum"
#define PACK_EVENTS_MAX_SQL "16" /* PACK_EVENTS_MAX, in SQL text */
#define MACHINE_COLUMNS \
    "id, tenant, name, config, created, destroyed, nevents, last_seq," \
    " parent, parent_seq, sum"
#define LIST_COLUMNS \
    "id, tenant, name, NULL, created, destroyed, nevents, last_seq," \
    " parent, parent_seq"

/* ------------------------------------------------------------------ */
/* Small helpers (every file)                                          */
/* ------------------------------------------------------------------ */

static inline void vformat(char *buf, size_t n, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static inline void vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
    if (n == 0)
        return;
    if (vsnprintf(buf, n, fmt, ap) < 0)
        buf[0] = '\0';
}

static inline void format(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void format(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(buf, n, fmt, ap);
    va_end(ap);
}

/* Records a caller-side failure for sq_errmsg(). */
__attribute__((format(printf, 2, 3))) static inline void set_err(
    struct store *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
}

static inline void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* SQLite integers are signed 64-bit; sequence numbers above that range
 * cannot be stored, so bounds are clamped to it. */
static inline sqlite3_int64 clamp_u64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static inline int db_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* PRAGMA takes no bound parameters, so the value is formatted in. */
static inline int pragma_int(sqlite3 *db, const char *name, long long value)
{
    char sql[96];

    format(sql, sizeof(sql), "PRAGMA %s = %lld", name, value);
    return db_exec(db, sql);
}


/* ------------------------------------------------------------------ */
/* Shared between the files of store/                                  */
/* ------------------------------------------------------------------ */

/* store_open.c: checksums over the fields in a fixed little-endian
 * layout: any change of a stored value (a bit flip, an edit) changes the
 * sum; they detect accidents, not a forger.  Event sums chain 64-bit words
 * (schema 4, fast enough for recovery's walk); machine and checkpoint sums
 * are 64-bit FNV-1a.  A sum is never 0 (0 stands for "no event yet" in the
 * writer's tables). */
uint64_t store__chain_seed(uint64_t machine);
uint64_t store__event_sum(uint64_t prev, uint64_t machine, uint64_t seq,
                          int64_t time_ms, uint32_t op, uint32_t cpu,
                          const unsigned char *args, size_t len, uint32_t value,
                          uint32_t aux, uint32_t flags, int32_t status);
uint64_t store__machine_sum(uint64_t id, const char *tenant, const char *name,
                            const char *config, int64_t created_ms,
                            uint64_t parent, uint64_t parent_seq);
uint64_t store__checkpoint_sum(uint64_t machine, uint64_t seq, const void *blob,
                               size_t len);
/* Registers store_machine_sum() as an SQL function on @db. */
int store__register_sums(sqlite3 *db);

/* Schema 6's move (migration 6): the rows of an events table of the
 * schema 5 layout (with sums) into event_packs, each event's sum as it
 * is; the events table goes.  And back, for tests that damage single
 * events with SQL: store__unpack_events() makes that events table from
 * event_packs and empties event_packs.  An SQLite code; the caller holds
 * the transaction. */
int store__pack_events(sqlite3 *db);
int store__unpack_events(sqlite3 *db);
/* Runs @sql (which may read and change the table "events") on @db's events
 * unpacked, then packs them again, in one transaction: how tests damage
 * single events.  An SQLite code (sqlite3_errmsg(@db) says why). */
int store__events_exec(sqlite3 *db, const char *sql);

void store__sqlite_err(const char *path, sqlite3 *db, const char *what,
                       char *err);
long long store__max_pages(const struct store *s, uint64_t bytes);

/* store_read.c: prepares (finalizes) the statements of @r on r->db */
int store__reader_prepare(struct store_reader *r);
void store__reader_finalize(struct store_reader *r);

/* store_writer.c: the writer's buffers and tables (freed at close) */
void store__batch_destroy(struct batch *b);
void store__batch_reset(struct batch *b);
void store__mtab_destroy(struct mtab *t);
void store__packs_destroy(struct store *s);
/* starts the writer thread; false if it could not */
bool store__start_writer(struct store *s);
/* opens the checkpointer's connection and starts its thread */
bool store__start_checkpointer(struct store *s, const struct store_options *opt,
                               char *err);
/* at close, after the writer stopped: writes the committed counts */
void store__flush_counts(struct store *s);
/* a reader's row: the committed counts may be ahead of it */
void store__overlay_counts(struct store *s, struct store_machine *m);
/* writes s->head into the lock file (benign if it fails) */
void store__head_write(struct store *s);
/* at open: loads the counts of rows a crashed session left stale into the
 * counts table, without writing (so a full disk does not stop the open);
 * an SQLite code */
int store__load_stale_counts(struct store *s);

#endif /* ARMMAP_STORE_STORE_INT_H */
