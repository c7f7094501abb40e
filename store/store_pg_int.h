/* store/store_pg_int.h - what the files of the PostgreSQL backend share.
 *
 * The backend keeps the SQLite store's contract (store.h) on a PostgreSQL
 * database reached with libpq:
 *  - store_pg.c: opening (connection, schema, migrations), closing, the
 *    submit queue, the writer thread and its group commit (one transaction
 *    per batch: its statements in libpq's pipeline mode, its events by
 *    one binary COPY), reaping, purge and the size limit;
 *  - store_pg_read.c: queries, readers and verify, each on a connection
 *    of its own thread.
 * Only store_pg*.c include this header (store_pg_load.c excepted: it
 * fills the table the macros below name).
 */
#ifndef ARMMAP_STORE_STORE_PG_INT_H
#define ARMMAP_STORE_STORE_PG_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_backend.h"
#include "store_pg_load.h"

/* libpq's functions, called through the table pq_load() fills
 * (store_pg_load.h): pg__connect() loads it before the first connection,
 * so every call on a connection or a result finds it filled. */
#define PQclear              pq_fn.PQclear
#define PQcmdTuples          pq_fn.PQcmdTuples
#define PQconnectdb          pq_fn.PQconnectdb
#define PQenterPipelineMode  pq_fn.PQenterPipelineMode
#define PQerrorMessage       pq_fn.PQerrorMessage
#define PQexec               pq_fn.PQexec
#define PQexecParams         pq_fn.PQexecParams
#define PQexitPipelineMode   pq_fn.PQexitPipelineMode
#define PQfinish             pq_fn.PQfinish
#define PQgetResult          pq_fn.PQgetResult
#define PQgetisnull          pq_fn.PQgetisnull
#define PQgetlength          pq_fn.PQgetlength
#define PQgetvalue           pq_fn.PQgetvalue
#define PQntuples            pq_fn.PQntuples
#define PQpipelineSync       pq_fn.PQpipelineSync
#define PQputCopyData        pq_fn.PQputCopyData
#define PQputCopyEnd         pq_fn.PQputCopyEnd
#define PQresultErrorMessage pq_fn.PQresultErrorMessage
#define PQresultStatus       pq_fn.PQresultStatus
#define PQsendQueryParams    pq_fn.PQsendQueryParams
#define PQstatus             pq_fn.PQstatus

#define PG_SCHEMA_VERSION \
    6 /* as STORE_SCHEMA_VERSION: the
                                           same sums */
#define PG_LOCK_KEY \
    "7021795085577643057"   /* "armmapd1": the
                                           advisory lock of one daemon */
#define PG_LOCK_TRIES   30  /* ... that many times, */
#define PG_LOCK_WAIT_MS 100 /* ... this far apart */
#define PG_SYNC_EVERY \
    256                     /* statements between pipeline
                                           syncs (bounds what the server
                                           buffers for us) */
#define PG_READ_CHUNK 20000 /* events per SELECT in walks */

enum pw_kind {
    PW_EVENT = 1,
    PW_CREATE,
    PW_DESTROY,
    PW_CHECKPOINT,
    PW_RKEY /* a request key: data = tenant NUL, then the reply; seq: its
               ord, parent: its target; never reaped */
};

/* One queued write; @data is its own allocation (args words, the three
 * strings of a creation one after another, or a checkpoint's bytes). */
struct pw {
    enum pw_kind kind;
    enum store_status status;
    char *msg; /* malloc'd reason, or NULL */
    void *cookie;
    uint64_t machine; /* event's machine, or the id */
    uint64_t seq;     /* event's, a fork's parent_seq,
                                           a checkpoint's */
    uint64_t parent;
    int64_t time_ms;
    uint32_t op, cpu, value, aux, flags;
    int32_t ev_status;
    unsigned char *data;
    size_t len;
    uint64_t key;  /* PW_RKEY */
    uint32_t unit; /* as struct wreq (store_int.h) */
};

struct pwq {
    struct pw *w;
    size_t n;
    size_t cap;
};

/* What the writer knows of one machine (committed state). */
struct pm {
    uint64_t id; /* 0: empty slot */
    bool alive;
    bool fenced; /* cluster: not this node's at its epoch */
    bool exists;
    uint64_t last_seq;
    uint64_t last_sum;
    uint64_t nevents;
    bool dirty; /* counts to write in this batch */
};

struct pmtab {
    struct pm *slot;
    size_t cap; /* a power of two, or 0 */
    size_t n;
};

struct pg_ctl {
    bool purge; /* else: the size limit */
    const char *tenant;
    int64_t cutoff;
    uint64_t bytes;
    uint64_t purged;
    uint64_t events;
    enum store_status status;
    char msg[STORE_MSG_MAX];
    bool done;
};

struct store_reader {
    struct store *s; /* first: see store_backend.h */
    PGconn *conn;
    bool own;
    bool busy; /* a walk is running (reentry) */
    char errmsg[STORE_MSG_MAX];
};

struct store {
    const struct store_backend *be; /* first: see store_backend.h */
    char *url;
    PGconn *wconn;          /* the writer thread's */
    struct store_reader rd; /* the caller's connection */
    int notify_fd;
    char errmsg[STORE_MSG_MAX];
    char warning[STORE_MSG_MAX];
    bool querying; /* caller's thread: reentry guard */
    bool reaping;
    struct pmtab mt;     /* writer thread only */
    uint64_t max_bytes;  /* writer: 0 none */
    uint64_t size_base;  /* counted at the limit's setting
                                           and after purges */
    uint64_t size_added; /* bytes inserted since */

    /* Cluster mode (store_pg_cluster.c): @node NULL means single node. */
    char *node;
    uint32_t lease_ms; /* as registered */
    PGconn *hbconn;    /* register and heartbeat */
    PGconn *idconn;    /* id reservations, under @idlock */
    pthread_mutex_t idlock;
    uint64_t id_next, id_end; /* under @idlock: ids reserved */

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t progress;
    /* Below: under @lock. */
    struct pwq filling;
    struct pwq done;
    struct pg_ctl *ctl;
    bool stopping;
    uint32_t holds; /* store_hold(): no new batch while > 0 */
    int64_t epoch;  /* cluster: this node's, 0 until registered */
    uint64_t next_id;
    uint32_t queue_max;
    size_t bytes_max;
    uint32_t inflight;
    size_t inflight_bytes;
    uint64_t submitted;
    uint64_t processed;
    struct store_stats st;
};

/* store_open.c's checksums (declared in store_int.h too, which these
 * files cannot include: it defines the SQLite struct store). */
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

/* store_pg.c */
void pg__format(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "postgresql: <what>: <libpq's message>" into @err */
void pg__conn_err(PGconn *c, const char *what, char *err);
/* connects and checks the connection; NULL with @err set */
PGconn *pg__connect(const char *url, char *err);
/* runs @sql with text parameters; the result, or NULL with @err set */
PGresult *pg__exec(PGconn *c, const char *what, const char *sql, int n,
                   const char *const *params, int want, char *err);
uint64_t pg__u64(const PGresult *r, int row, int col);
int64_t pg__i64(const PGresult *r, int row, int col);

/* store_pg_cluster.c */
/* The cluster's additions to the schema (additive, idempotent). */
bool pg__cluster_schema(PGconn *c, char *err);
/* A fresh machine id for this node (a block is reserved at a time);
 * false with @err if the server failed. */
bool pg__cluster_new_id(struct store *s, uint64_t *id, char *err);
/* Writer, in a cluster batch's open transaction: false if this node's
 * row lacks its epoch or lease (every write then fails STORE_FENCED
 * with @why); @err set (and true returned) only if the server failed. */
bool pg__cluster_node_ok(struct store *s, int64_t epoch, char *why, char *err,
                         bool *failed);
void pg__cluster_close(struct store *s);

/* store_pg_read.c */
/* hex bytea text ("\x0102...") into @out (@cap bytes); its length, or
 * (size_t)-1 if it is not that */
size_t pg__unhex(const char *text, unsigned char *out, size_t cap);

#endif /* ARMMAP_STORE_STORE_PG_INT_H */
