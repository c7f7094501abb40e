/* store/store_pg.c - the PostgreSQL backend: opening, the writer, purge.
 *
 * Thread contract: as the SQLite store's.  pg_open() and pg_close() run
 * on the caller's thread while no other thread of this store runs; submits
 * come from any thread under @lock; the writer thread alone uses @wconn
 * and the machine table @mt; queries use the caller's connection
 * (store_pg_read.c).
 *
 * Group commit: the writer takes everything queued, checks each write
 * against what it knows of the machines (loaded for the whole batch with
 * one SELECT), and sends the batch as one transaction: the other writes
 * one statement each and the machines' counts in libpq's pipeline mode
 * (one round trip), then the events by one binary COPY, then COMMIT.  A
 * write the checks refuse (NOT_FOUND, CONFLICT, ALREADY_EXISTS) sends
 * nothing, so a unit of events is checked whole before any of it is sent:
 * all or none.  A server error fails the
 * whole batch (every write STORE_UNAVAILABLE with the server's message)
 * and the machine table is reloaded for the next one.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "store_pg_int.h"
#include "store_pack.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

void pg__format(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(buf, n, fmt, ap) < 0 && n > 0)
        buf[0] = '\0';
    va_end(ap);
}

/* libpq's messages end with a newline (and may hold several lines). */
static void trim(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (; *s != '\0'; s++)
        if (*s == '\n')
            *s = ' ';
}

void pg__conn_err(PGconn *c, const char *what, char *err)
{
    pg__format(err, STORE_MSG_MAX, "postgresql: %s: %s", what,
               c != NULL ? PQerrorMessage(c) : "out of memory");
    trim(err);
}

PGconn *pg__connect(const char *url, char *err)
{
    PGconn *c;
    PGresult *r;

    if (!pq_load(err, STORE_MSG_MAX))
        return NULL;
    c = PQconnectdb(url);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        pg__conn_err(c, "cannot connect", err);
        PQfinish(c);
        return NULL;
    }
    /* Quiet notices (CREATE ... IF NOT EXISTS) and fixed formats. */
    r = PQexec(c, "SET client_min_messages = warning;"
                  " SET bytea_output = 'hex'");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg__conn_err(c, "setting up the session", err);
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

PGresult *pg__exec(PGconn *c, const char *what, const char *sql, int n,
                   const char *const *params, int want, char *err)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != (ExecStatusType)want) {
        pg__format(err, STORE_MSG_MAX, "postgresql: %s: %s", what,
                   r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c));
        trim(err);
        PQclear(r);
        return NULL;
    }
    return r;
}

uint64_t pg__u64(const PGresult *r, int row, int col)
{
    return (uint64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int64_t pg__i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Runs @sql (several statements allowed, no parameters). */
static bool exec_ok(PGconn *c, const char *what, const char *sql, char *err)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    if (!ok) {
        pg__format(err, STORE_MSG_MAX, "postgresql: %s: %s", what,
                   r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c));
        trim(err);
    }
    PQclear(r);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Schema                                                              */
/* ------------------------------------------------------------------ */

/* Schema version 5's table (store_open.c's migration 5 says what the
 * columns mean); a version 4 database gets it at open (schema_ready()). */
#define RKEYS_SQL \
    "CREATE TABLE request_keys (" \
    " machine bigint NOT NULL, tenant text NOT NULL, key bigint NOT NULL," \
    " ord bigint NOT NULL, target bigint NOT NULL, reply bytea NOT NULL," \
    " PRIMARY KEY (machine, tenant, key));" \
    "CREATE INDEX request_keys_ord ON request_keys(machine, tenant, ord);"

/* Schema version 6's table (store_open.c's migration 6 says what the
 * columns mean; the body is store_pack.h's); a version 5 database gets it
 * at open, its events moved into it (pack_events()). */
#define PACKS_SQL \
    "CREATE TABLE event_packs (" \
    " machine bigint NOT NULL, first_seq bigint NOT NULL," \
    " last_seq bigint NOT NULL, body bytea NOT NULL, sum bigint NOT NULL," \
    " PRIMARY KEY (machine, first_seq));"

/* The same logical tables as the SQLite schema (store_open.c); sums and
 * the 64-bit words are stored as bigint (two's complement). */
static const char schema_sql[] =
    "CREATE TABLE armmap_meta (key text PRIMARY KEY, value bigint NOT NULL);"
    "CREATE TABLE machines ("
    " id bigint PRIMARY KEY, tenant text NOT NULL, name text NOT NULL,"
    " config text NOT NULL, created bigint NOT NULL, destroyed bigint,"
    " nevents bigint NOT NULL DEFAULT 0, last_seq bigint NOT NULL DEFAULT 0,"
    " parent bigint, parent_seq bigint, sum bigint NOT NULL,"
    " last_sum bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX machines_tenant ON machines(tenant);" PACKS_SQL
    "CREATE TABLE checkpoints ("
    " machine bigint NOT NULL, seq bigint NOT NULL, blob bytea NOT NULL,"
    " sum bigint NOT NULL, PRIMARY KEY (machine, seq));" RKEYS_SQL
    "INSERT INTO armmap_meta VALUES ('schema_version', 6), ('max_id', 0);";

static bool pack_events(struct store *s, char *err);

/* Creates the schema in an empty database, or checks the version of
 * ours; refuses a database with other tables of those names. */
static bool schema_ready(struct store *s, char *err)
{
    PGconn *c = s->wconn;
    PGresult *r = pg__exec(c, "reading the schema",
                           "SELECT to_regclass('armmap_meta') IS NOT NULL,"
                           " to_regclass('machines') IS NOT NULL",
                           0, NULL, PGRES_TUPLES_OK, err);
    bool meta, machines;
    int64_t v;

    if (r == NULL)
        return false;
    meta = PQgetvalue(r, 0, 0)[0] == 't';
    machines = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    if (!meta && machines) {
        pg__format(err, STORE_MSG_MAX,
                   "postgresql: the database has a "
                   "machines table but no armmap_meta: not an armmapd "
                   "database");
        return false;
    }
    if (!meta)
        return exec_ok(c, "creating the schema", schema_sql, err);
    r = pg__exec(c, "reading the schema version",
                 "SELECT value FROM"
                 " armmap_meta WHERE key = 'schema_version'",
                 0, NULL, PGRES_TUPLES_OK, err);
    if (r == NULL)
        return false;
    v = PQntuples(r) == 1 ? pg__i64(r, 0, 0) : -1;
    PQclear(r);
    if (v == 4) { /* one additive step */
        if (!exec_ok(c, "migrating to schema version 5",
                     RKEYS_SQL "UPDATE armmap_meta SET value = 5"
                               " WHERE key = 'schema_version';",
                     err))
            return false;
        v = 5;
    }
    if (v == 5)
        return pack_events(s, err);
    if (v != PG_SCHEMA_VERSION) {
        pg__format(err, STORE_MSG_MAX,
                   "postgresql: schema version %" PRId64
                   " is not %d (a newer armmapd's, or not ours)",
                   v, PG_SCHEMA_VERSION);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */
/* ------------------------------------------------------------------ */

static void *writer_main(void *arg);

/* The writer's session: connected, holding the database's advisory lock
 * (one armmapd per database), commits as durable as asked. */
static bool writer_session(struct store *s, char *err)
{
    PGresult *r;
    bool held = false;
    int tries;

    s->wconn = pg__connect(s->url, err);
    if (s->wconn == NULL)
        return false;
    /* An armmapd killed a moment ago still holds the lock until the
     * server notices its session is gone: retried for a while. */
    for (tries = 0; !held && tries < PG_LOCK_TRIES; tries++) {
        struct timespec ts = { 0, PG_LOCK_WAIT_MS * 1000000L };

        if (tries > 0)
            nanosleep(&ts, NULL);
        /* Cluster nodes share the lock; a single armmapd holds it alone. */
        r = pg__exec(s->wconn, "taking the database's lock",
                     s->node != NULL
                         ? "SELECT pg_try_advisory_lock_shared(" PG_LOCK_KEY ")"
                         : "SELECT pg_try_advisory_lock(" PG_LOCK_KEY ")",
                     0, NULL, PGRES_TUPLES_OK, err);
        if (r == NULL)
            return false;
        held = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
    }
    if (!held) {
        pg__format(err, STORE_MSG_MAX,
                   "postgresql: the database is in use "
                   "by another armmapd (its advisory lock is held)");
        return false;
    }
    /* NORMAL: a commit returns before the server's WAL flush, so a crash
     * of the server (not of armmapd) may lose the last commits. */
    return exec_ok(s->wconn, "setting durability",
                   s->st.synchronous == 2 ? "SET synchronous_commit = on"
                                          : "SET synchronous_commit = off",
                   err);
}

static bool open_writer(struct store *s, const struct store_options *opt,
                        char *err)
{
    s->st.synchronous = opt->durability == STORE_FULL ? 2 : 1;
    if (!writer_session(s, err))
        return false;
    if (!exec_ok(s->wconn, "opening", "BEGIN", err))
        return false;
    return schema_ready(s, err) &&
           (s->node == NULL || pg__cluster_schema(s->wconn, err)) &&
           exec_ok(s->wconn, "creating the schema", "COMMIT", err);
}

/* Writer thread: a new session when the server dropped the last one
 * (restarted, or the backend terminated); false with @err if that fails
 * (the batch fails, the next one tries again). */
static bool writer_alive(struct store *s, char *err)
{
    if (s->wconn != NULL && PQstatus(s->wconn) == CONNECTION_OK)
        return true;
    PQfinish(s->wconn);
    s->wconn = NULL;
    return writer_session(s, err);
}

static bool load_next_id(struct store *s, char *err)
{
    PGresult *r = pg__exec(s->wconn, "reading the largest machine id",
                           "SELECT value FROM armmap_meta WHERE key ="
                           " 'max_id'",
                           0, NULL, PGRES_TUPLES_OK, err);

    if (r == NULL)
        return false;
    s->next_id = (PQntuples(r) == 1 ? pg__u64(r, 0, 0) : 0) + 1;
    PQclear(r);
    return true;
}

enum store_status pg_open(const char *path, const struct store_options *opt,
                          struct store **out, char err[STORE_MSG_MAX])
{
    static const struct store_options defaults;
    struct store *s;

    err[0] = '\0';
    if (opt == NULL)
        opt = &defaults;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->url = strdup(path)) == NULL) {
        free(s);
        pg__format(err, STORE_MSG_MAX, "postgresql: out of memory");
        return STORE_UNAVAILABLE;
    }
    s->notify_fd = -1;
    s->rd.s = s;
    s->queue_max = opt->queue_max ? opt->queue_max : STORE_QUEUE_DEFAULT;
    s->bytes_max = opt->queue_bytes_max ? opt->queue_bytes_max
                                        : STORE_QUEUE_BYTES_DEFAULT;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->progress, NULL);
    pthread_mutex_init(&s->idlock, NULL);
    if (opt->node != NULL && (s->node = strdup(opt->node)) == NULL) {
        pg__format(err, STORE_MSG_MAX, "postgresql: out of memory");
        goto fail;
    }
    if (!open_writer(s, opt, err) || !load_next_id(s, err))
        goto fail;
    s->rd.conn = pg__connect(s->url, err);
    if (s->rd.conn == NULL)
        goto fail;
    s->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->notify_fd < 0) {
        pg__format(err, STORE_MSG_MAX, "postgresql: eventfd: %s",
                   strerror(errno));
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        pg__format(err, STORE_MSG_MAX,
                   "postgresql: cannot start the "
                   "writer thread");
        goto fail;
    }
    s->thread_started = true;
    if (opt->max_bytes != 0 &&
        pg_set_max_bytes(s, opt->max_bytes) != STORE_OK) {
        pg__format(err, STORE_MSG_MAX, "%s", s->errmsg);
        pg_close(s);
        return STORE_UNAVAILABLE;
    }
    *out = s;
    return STORE_OK;
fail:
    pg_close(s);
    return STORE_UNAVAILABLE;
}

const char *pg_open_warning(const struct store *s)
{
    return s->warning;
}

const char *pg_errmsg(const struct store *s)
{
    return s->errmsg;
}

int pg_notify_fd(const struct store *s)
{
    return s->notify_fd;
}

static void pwq_free(struct pwq *q)
{
    size_t i;

    for (i = 0; i < q->n; i++) {
        free(q->w[i].data);
        free(q->w[i].msg);
    }
    free(q->w);
    memset(q, 0, sizeof(*q));
}

void pg_close(struct store *s)
{
    if (s == NULL)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    PQfinish(s->wconn);
    PQfinish(s->rd.conn);
    pg__cluster_close(s);
    if (s->notify_fd >= 0)
        close(s->notify_fd);
    pwq_free(&s->filling);
    pwq_free(&s->done);
    free(s->mt.slot);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->progress);
    pthread_mutex_destroy(&s->idlock);
    free(s->node);
    free(s->url);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Submitting                                                          */
/* ------------------------------------------------------------------ */

/* Under @lock: room for @n writes of @bytes more (one is always let into
 * an empty queue). */
static enum store_status check_room(struct store *s, size_t n, size_t bytes)
{
    if (s->stopping) {
        pg__format(s->errmsg, sizeof(s->errmsg), "store closing");
        return STORE_UNAVAILABLE;
    }
    if (s->inflight > 0 && (s->inflight + n > s->queue_max ||
                            s->inflight_bytes + bytes > s->bytes_max)) {
        pg__format(s->errmsg, sizeof(s->errmsg),
                   "write queue full (%" PRIu32 " writes, %zu bytes)",
                   s->inflight, s->inflight_bytes);
        return STORE_BUSY;
    }
    return STORE_OK;
}

/* Under @lock: a new write at the end of the filling queue, its @len
 * bytes of data allocated; NULL if out of memory. */
static struct pw *push(struct store *s, size_t len)
{
    struct pwq *q = &s->filling;
    struct pw *w;

    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        struct pw *nw = realloc(q->w, cap * sizeof(*nw));

        if (nw == NULL)
            return NULL;
        q->w = nw;
        q->cap = cap;
    }
    w = &q->w[q->n];
    memset(w, 0, sizeof(*w));
    if (len > 0 && (w->data = malloc(len)) == NULL)
        return NULL;
    w->len = len;
    w->unit = 1;
    q->n++;
    s->inflight++;
    s->inflight_bytes += len + sizeof(*w);
    s->submitted++;
    return w;
}

static void wake_writer(struct store *s)
{
    if (s->holds == 0) /* else: at store_release() */
        pthread_cond_signal(&s->wake);
}

static bool event_valid(struct store *s, const struct store_event *ev)
{
    if (ev->machine == 0 || ev->seq == 0 || ev->nargs > STORE_MAX_ARGS ||
        (ev->nargs > 0 && ev->args == NULL) ||
        ev->machine > (uint64_t)INT64_MAX || ev->seq > (uint64_t)INT64_MAX) {
        pthread_mutex_lock(&s->lock);
        pg__format(s->errmsg, sizeof(s->errmsg),
                   "event %" PRIu64 " of machine %" PRIu64
                   ": invalid (machine and seq must"
                   " be 1..2^63-1, nargs %" PRIu32 " at most %d)",
                   ev->seq, ev->machine, ev->nargs, STORE_MAX_ARGS);
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    return true;
}

static void fill_event(struct pw *w, const struct store_event *ev, void *cookie)
{
    uint32_t i;

    w->kind = PW_EVENT;
    w->cookie = cookie;
    w->machine = ev->machine;
    w->seq = ev->seq;
    w->time_ms = ev->time_ms;
    w->op = ev->op;
    w->cpu = ev->cpu;
    w->value = ev->value;
    w->aux = ev->aux;
    w->flags = ev->flags;
    w->ev_status = ev->status;
    for (i = 0; i < ev->nargs; i++) {
        w->data[4 * i] = (unsigned char)ev->args[i];
        w->data[4 * i + 1] = (unsigned char)(ev->args[i] >> 8);
        w->data[4 * i + 2] = (unsigned char)(ev->args[i] >> 16);
        w->data[4 * i + 3] = (unsigned char)(ev->args[i] >> 24);
    }
}

void pg_hold(struct store *s, bool on)
{
    pthread_mutex_lock(&s->lock);
    if (on)
        s->holds++;
    else if (s->holds > 0 && --s->holds == 0 && s->filling.n > 0)
        pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

enum store_status pg_submit_rkey(struct store *s, const struct store_rkey *k,
                                 void *cookie)
{
    const char *tenant = k->tenant != NULL ? k->tenant : "";
    size_t lt = strlen(tenant) + 1;
    struct pw *w;

    pthread_mutex_lock(&s->lock);
    if (k->key == 0 || (k->reply == NULL && k->len > 0) ||
        k->machine > (uint64_t)INT64_MAX || k->ord == 0 ||
        k->ord > (uint64_t)INT64_MAX || k->target > (uint64_t)INT64_MAX ||
        k->len > (size_t)INT32_MAX - lt) {
        pg__format(s->errmsg, sizeof(s->errmsg),
                   "request key: invalid (key 0, or machine, ord or reply"
                   " out of range)");
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    if (s->stopping || (w = push(s, lt + k->len)) == NULL) {
        pg__format(s->errmsg, sizeof(s->errmsg),
                   s->stopping ? "store closing" : "out of memory");
        pthread_mutex_unlock(&s->lock);
        return STORE_UNAVAILABLE;
    }
    w->kind = PW_RKEY;
    w->cookie = cookie;
    w->machine = k->machine;
    w->seq = k->ord;
    w->parent = k->target;
    w->key = k->key;
    memcpy(w->data, tenant, lt);
    if (k->len > 0)
        memcpy(w->data + lt, k->reply, k->len);
    wake_writer(s);
    pthread_mutex_unlock(&s->lock);
    return STORE_OK;
}

/* Under @lock: drops the last @n writes pushed (a unit that failed). */
static void unpush(struct store *s, size_t n)
{
    while (n-- > 0) {
        struct pw *w = &s->filling.w[--s->filling.n];

        s->inflight--;
        s->inflight_bytes -= w->len + sizeof(*w);
        s->submitted--;
        free(w->data);
    }
}

enum store_status pg_submit_events(struct store *s,
                                   const struct store_event *ev, size_t n,
                                   void *cookie)
{
    size_t i, total = 0;
    enum store_status rc;

    for (i = 0; i < n; i++) {
        if (!event_valid(s, &ev[i]))
            return STORE_INVALID_ARGUMENT;
        if (ev[i].machine != ev[0].machine || ev[i].seq != ev[0].seq + i)
            break;
        total += (size_t)ev[i].nargs * 4 + sizeof(struct pw);
    }
    pthread_mutex_lock(&s->lock);
    if (n == 0 || n > UINT32_MAX || i < n) {
        pg__format(s->errmsg, sizeof(s->errmsg),
                   "a unit of %zu events must"
                   " be of one machine, in seq order",
                   n);
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    rc = check_room(s, n, total);
    for (i = 0; rc == STORE_OK && i < n; i++) {
        struct pw *w = push(s, (size_t)ev[i].nargs * 4);

        if (w == NULL) {
            unpush(s, i);
            pg__format(s->errmsg, sizeof(s->errmsg), "out of memory");
            rc = STORE_UNAVAILABLE;
            break;
        }
        fill_event(w, &ev[i], cookie);
        w->unit = i == 0 ? (uint32_t)n : 0;
    }
    if (rc == STORE_OK)
        wake_writer(s);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

enum store_status pg_submit_event(struct store *s, const struct store_event *ev,
                                  void *cookie)
{
    return pg_submit_events(s, ev, 1, cookie);
}

enum store_status pg_submit_machine_fork(struct store *s, uint64_t parent,
                                         uint64_t parent_seq,
                                         const char *tenant, const char *name,
                                         const char *config, int64_t created_ms,
                                         void *cookie, uint64_t *id)
{
    size_t lt, ln, lc;
    struct pw *w;
    enum store_status rc;
    uint64_t cid = 0;
    char cerr[STORE_MSG_MAX];

    if (config == NULL || id == NULL || parent > (uint64_t)INT64_MAX ||
        parent_seq > (uint64_t)INT64_MAX) {
        pthread_mutex_lock(&s->lock);
        pg__format(s->errmsg, sizeof(s->errmsg), "machine creation: %s",
                   config == NULL ? "no config"
                   : id == NULL   ? "no id"
                                  : "bad parent");
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    tenant = tenant != NULL ? tenant : "";
    name = name != NULL ? name : "";
    lt = strlen(tenant) + 1;
    ln = strlen(name) + 1;
    lc = strlen(config) + 1;
    /* Cluster: ids come from the database, shared by every node. */
    if (s->node != NULL && !pg__cluster_new_id(s, &cid, cerr)) {
        pthread_mutex_lock(&s->lock);
        pg__format(s->errmsg, sizeof(s->errmsg), "%s", cerr);
        pthread_mutex_unlock(&s->lock);
        return STORE_UNAVAILABLE;
    }
    pthread_mutex_lock(&s->lock);
    rc = check_room(s, 1, lt + ln + lc + sizeof(*w));
    if (rc == STORE_OK) {
        w = push(s, lt + ln + lc);
        if (w == NULL) {
            pg__format(s->errmsg, sizeof(s->errmsg), "out of memory");
            rc = STORE_UNAVAILABLE;
        } else {
            w->kind = PW_CREATE;
            w->cookie = cookie;
            w->machine = cid != 0 ? cid : s->next_id++;
            w->parent = parent;
            w->seq = parent != 0 ? parent_seq : 0;
            w->time_ms = created_ms;
            memcpy(w->data, tenant, lt);
            memcpy(w->data + lt, name, ln);
            memcpy(w->data + lt + ln, config, lc);
            *id = w->machine;
            wake_writer(s);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

enum store_status pg_submit_machine_create(struct store *s, const char *tenant,
                                           const char *name, const char *config,
                                           int64_t created_ms, void *cookie,
                                           uint64_t *id)
{
    return pg_submit_machine_fork(s, 0, 0, tenant, name, config, created_ms,
                                  cookie, id);
}

/* Queues a write without data of @kind. */
static enum store_status submit_plain(struct store *s, enum pw_kind kind,
                                      uint64_t id, uint64_t seq, int64_t ms,
                                      const void *blob, size_t len,
                                      void *cookie)
{
    struct pw *w;
    enum store_status rc;

    pthread_mutex_lock(&s->lock);
    rc = check_room(s, 1, len + sizeof(*w));
    if (rc == STORE_OK) {
        w = push(s, len);
        if (w == NULL) {
            pg__format(s->errmsg, sizeof(s->errmsg), "out of memory");
            rc = STORE_UNAVAILABLE;
        } else {
            w->kind = kind;
            w->cookie = cookie;
            w->machine = id;
            w->seq = seq;
            w->time_ms = ms;
            if (len > 0)
                memcpy(w->data, blob, len);
            wake_writer(s);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

enum store_status pg_submit_machine_destroy(struct store *s, uint64_t id,
                                            int64_t destroyed_ms, void *cookie)
{
    if (id == 0 || id > (uint64_t)INT64_MAX) {
        pthread_mutex_lock(&s->lock);
        pg__format(s->errmsg, sizeof(s->errmsg),
                   "destroy: machine %" PRIu64 " is not a machine id", id);
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    return submit_plain(s, PW_DESTROY, id, 0, destroyed_ms, NULL, 0, cookie);
}

enum store_status pg_submit_checkpoint(struct store *s, uint64_t machine,
                                       uint64_t seq, const void *blob,
                                       size_t len, void *cookie)
{
    if (machine == 0 || seq == 0 || machine > (uint64_t)INT64_MAX ||
        seq > (uint64_t)INT64_MAX || (blob == NULL && len > 0)) {
        pthread_mutex_lock(&s->lock);
        pg__format(s->errmsg, sizeof(s->errmsg),
                   "checkpoint of machine %" PRIu64 " at seq %" PRIu64
                   ": invalid",
                   machine, seq);
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    return submit_plain(s, PW_CHECKPOINT, machine, seq, 0, blob, len, cookie);
}

/* ------------------------------------------------------------------ */
/* The writer's machine table                                          */
/* ------------------------------------------------------------------ */

static struct pm *pm_find(struct pmtab *t, uint64_t id)
{
    size_t i;

    if (t->cap == 0)
        return NULL;
    for (i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (t->cap - 1);
         t->slot[i].id != 0; i = (i + 1) & (t->cap - 1))
        if (t->slot[i].id == id)
            return &t->slot[i];
    return NULL;
}

/* The slot of @id, added empty if new; NULL if out of memory. */
static struct pm *pm_add(struct pmtab *t, uint64_t id)
{
    struct pm *m = pm_find(t, id);
    size_t i;

    if (m != NULL)
        return m;
    if ((t->n + 1) * 2 > t->cap) {
        struct pmtab nt = { NULL, t->cap ? t->cap * 2 : 1024, 0 };

        nt.slot = calloc(nt.cap, sizeof(*nt.slot));
        if (nt.slot == NULL)
            return NULL;
        for (i = 0; i < t->cap; i++)
            if (t->slot[i].id != 0)
                *pm_add(&nt, t->slot[i].id) = t->slot[i];
        free(t->slot);
        *t = nt;
    }
    for (i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (t->cap - 1);
         t->slot[i].id != 0; i = (i + 1) & (t->cap - 1))
        ;
    t->slot[i].id = id;
    t->n++;
    return &t->slot[i];
}

static void pm_clear(struct pmtab *t)
{
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

/* The seq a machine's next event must have, over its fork base. */
static uint64_t last_stored(const struct pm *m)
{
    return m->last_seq;
}

/* Loads the machines @q's writes name that the table lacks, in one
 * query.  False (with @err) if the server failed. */
static bool load_machines(struct store *s, const struct pwq *q, int64_t x_epoch,
                          char *err)
{
    char *ids, *p;
    const char *param[1];
    PGresult *r;
    size_t i, k = 0;
    int row;
    bool ok = true;

    ids = malloc(q->n * 42 + 3);
    if (ids == NULL) {
        pg__format(err, STORE_MSG_MAX, "out of memory");
        return false;
    }
    p = ids;
    *p++ = '{';
    for (i = 0; i < q->n; i++) {
        const struct pw *w = &q->w[i];
        uint64_t id = w->kind == PW_CREATE ? w->parent : w->machine;

        if (id == 0 || w->kind == PW_RKEY || pm_find(&s->mt, id) != NULL)
            continue;
        p += sprintf(p, "%s%" PRIu64, k++ ? "," : "", id);
    }
    *p++ = '}';
    *p = '\0';
    if (k == 0) {
        free(ids);
        return true;
    }
    param[0] = ids;
    if (s->node != NULL) {
        /* Cluster: locked until the commit, so no claim slips between
         * this check and the writes; each checked for being ours. */
        char ep[24];
        const char *cparam[3] = { ids, s->node, ep };

        snprintf(ep, sizeof(ep), "%" PRId64, x_epoch);
        r = pg__exec(s->wconn, "reading machines",
                     "SELECT id, destroyed IS"
                     " NULL, greatest(last_seq, coalesce(parent_seq, 0)),"
                     " last_sum, nevents, owner_node IS NOT DISTINCT FROM $2"
                     " AND owner_epoch IS NOT DISTINCT FROM $3::bigint"
                     " FROM machines WHERE id = ANY($1::bigint[])"
                     " ORDER BY id FOR SHARE",
                     3, cparam, PGRES_TUPLES_OK, err);
    } else {
        r = pg__exec(s->wconn, "reading machines",
                     "SELECT id, destroyed IS"
                     " NULL, greatest(last_seq, coalesce(parent_seq, 0)),"
                     " last_sum, nevents FROM machines WHERE id ="
                     " ANY($1::bigint[])",
                     1, param, PGRES_TUPLES_OK, err);
    }
    if (r == NULL) {
        free(ids);
        return false;
    }
    for (row = 0; ok && row < PQntuples(r); row++) {
        struct pm *m = pm_add(&s->mt, pg__u64(r, row, 0));

        if (m == NULL) {
            ok = false;
            break;
        }
        m->exists = true;
        m->alive = PQgetvalue(r, row, 1)[0] == 't';
        m->last_seq = pg__u64(r, row, 2);
        m->last_sum = pg__u64(r, row, 3);
        m->nevents = pg__u64(r, row, 4);
        m->fenced = s->node != NULL && PQgetvalue(r, row, 5)[0] != 't';
    }
    PQclear(r);
    /* The rest do not exist. */
    for (i = 0; ok && i < q->n; i++) {
        const struct pw *w = &q->w[i];
        uint64_t id = w->kind == PW_CREATE ? w->parent : w->machine;

        if (id != 0 && pm_find(&s->mt, id) == NULL)
            ok = pm_add(&s->mt, id) != NULL;
    }
    free(ids);
    if (!ok)
        pg__format(err, STORE_MSG_MAX, "out of memory");
    return ok;
}

/* ------------------------------------------------------------------ */
/* The batch: checks, then statements in pipeline mode                 */
/* ------------------------------------------------------------------ */

/* A batch being sent. */
struct send {
    struct store *s;
    int pending; /* statements since the last sync */
    bool failed;
    char err[STORE_MSG_MAX];
    unsigned char *copy; /* the events, COPY binary rows */
    size_t ncopy;
    size_t capcopy;
    uint64_t rows;
    uint64_t bytes; /* data inserted, for max_bytes */
    int64_t epoch;  /* cluster: the node's epoch for this batch */
    /* The packed rows being filled (schema 6, as store_writer.c packs):
     * a slot by machine id, each consecutive events of one machine, at
     * most PACK_EVENTS_MAX; added to the COPY rows when another event
     * cannot continue it and at the end of the batch. */
    struct pg_pack {
        unsigned char *body;
        size_t len;
        size_t cap;
        uint32_t n;
        uint64_t machine;
        uint64_t first;
        uint64_t last;
        uint64_t sum;
        struct pack_cur cur;
    } pk[64];
};

static void wfail(struct pw *w, enum store_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void wfail(struct pw *w, enum store_status st, const char *fmt, ...)
{
    char buf[STORE_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
        buf[0] = '\0';
    va_end(ap);
    w->status = st;
    free(w->msg);
    w->msg = strdup(buf);
}

/* Reads every result up to the next sync point; the first error is
 * kept. */
static void drain(struct send *x)
{
    PGconn *c = x->s->wconn;
    int nulls = 0;

    if (PQpipelineSync(c) != 1) {
        if (!x->failed)
            pg__conn_err(c, "sending a batch", x->err);
        x->failed = true;
        return;
    }
    while (nulls <= x->pending + 1) {
        PGresult *r = PQgetResult(c);
        ExecStatusType st;

        if (r == NULL) {
            nulls++;
            if (PQstatus(c) != CONNECTION_OK)
                break;
            continue;
        }
        st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            x->pending = 0;
            return;
        }
        if (st == PGRES_FATAL_ERROR && !x->failed) {
            pg__format(x->err, sizeof(x->err), "postgresql: %s",
                       PQresultErrorMessage(r));
            trim(x->err);
            x->failed = true;
        }
        PQclear(r);
    }
    if (!x->failed)
        pg__conn_err(c, "reading a batch's results", x->err);
    x->failed = true;
}

static void send_params(struct send *x, const char *sql, int n,
                        const char *const *val, const int *len, const int *fmt)
{
    if (x->failed)
        return;
    if (PQsendQueryParams(x->s->wconn, sql, n, NULL, val, len, fmt, 0) != 1) {
        pg__conn_err(x->s->wconn, "sending a batch", x->err);
        x->failed = true;
        return;
    }
    if (++x->pending >= PG_SYNC_EVERY)
        drain(x);
}

static void send_sql(struct send *x, const char *sql)
{
    send_params(x, sql, 0, NULL, NULL, NULL);
}

/* Room for @n more bytes of COPY data. */
static bool copy_room(struct send *x, size_t n)
{
    if (x->ncopy + n > x->capcopy) {
        size_t cap = x->capcopy ? x->capcopy * 2 : 1u << 20;
        unsigned char *nb;

        while (cap < x->ncopy + n)
            cap *= 2;
        nb = realloc(x->copy, cap);
        if (nb == NULL) {
            pg__format(x->err, sizeof(x->err), "out of memory");
            x->failed = true;
            return false;
        }
        x->copy = nb;
        x->capcopy = cap;
    }
    return true;
}

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
    int i;

    for (i = bytes - 1; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

/* One bigint field of a COPY binary row. */
static size_t field_i64(unsigned char *p, int64_t v)
{
    put_be(p, 8, 4);
    put_be(p + 4, (uint64_t)v, 8);
    return 12;
}

#define PACK_FIELDS 5

/* Adds packed row @p (not empty) to the batch's COPY rows, in the column
 * order of event_packs, and empties it. */
static void pack_copy(struct send *x, struct pg_pack *p)
{
    unsigned char *q;

    if (!copy_room(x, 2 + 4 * 12 + 4 + p->len))
        return;
    q = x->copy + x->ncopy;
    put_be(q, PACK_FIELDS, 2);
    q += 2;
    q += field_i64(q, (int64_t)p->machine);
    q += field_i64(q, (int64_t)p->first);
    q += field_i64(q, (int64_t)p->last);
    put_be(q, p->len, 4);
    memcpy(q + 4, p->body, p->len);
    q += 4 + p->len;
    q += field_i64(q, (int64_t)p->sum);
    x->ncopy = (size_t)(q - x->copy);
    x->rows++;
    x->bytes += p->len + 64;
    p->n = 0;
    p->len = 0;
}

/* Adds every packed row being filled to the COPY rows. */
static void pack_flush(struct send *x)
{
    size_t i;

    for (i = 0; i < sizeof(x->pk) / sizeof(x->pk[0]); i++)
        if (x->pk[i].n > 0)
            pack_copy(x, &x->pk[i]);
}

/* Frees the packed rows' buffers. */
static void pack_free(struct send *x)
{
    size_t i;

    for (i = 0; i < sizeof(x->pk) / sizeof(x->pk[0]); i++)
        free(x->pk[i].body);
}

/* Adds event @w (checked) with its chained @sum to its machine's packed
 * row, first adding what that slot holds to the COPY if @w cannot
 * continue it. */
static void add_event(struct send *x, const struct pw *w, uint64_t sum)
{
    struct pg_pack *p =
        &x->pk[(w->machine * UINT64_C(0x9e3779b97f4a7c15)) >> 58];
    struct store_event ev = {
        .machine = w->machine,
        .seq = w->seq,
        .time_ms = w->time_ms,
        .op = w->op,
        .cpu = w->cpu,
        .nargs = (uint32_t)(w->len / 4),
        .value = w->value,
        .aux = w->aux,
        .flags = w->flags,
        .status = w->ev_status,
    };
    size_t need = pack_event_max(ev.nargs);

    if (p->n > 0 && (p->machine != w->machine || p->last + 1 != w->seq ||
                     p->n == PACK_EVENTS_MAX))
        pack_copy(x, p);
    if (!pack_room(&p->body, p->len, &p->cap, need)) {
        pg__format(x->err, sizeof(x->err), "out of memory");
        x->failed = true;
        return;
    }
    if (p->n == 0) {
        p->machine = w->machine;
        p->first = w->seq;
        p->cur = (struct pack_cur){ 0, 0 };
    }
    p->len += pack_put_bytes(p->body + p->len, &p->cur, &ev, w->data, sum);
    p->last = w->seq;
    p->sum = sum;
    p->n++;
}

/* Sends the batch's events with one COPY (outside pipeline mode, inside
 * the batch's transaction). */
static void copy_events(struct send *x)
{
    static const unsigned char header[19] = "PGCOPY\n\377\r\n";
    static const unsigned char trailer[2] = { 0xff, 0xff };
    PGconn *c = x->s->wconn;
    PGresult *r;
    size_t off;
    bool ok;

    pack_flush(x);
    if (x->failed || x->rows == 0)
        return;
    r = PQexec(c, "COPY event_packs FROM STDIN (FORMAT binary)");
    ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    ok = ok && PQputCopyData(c, (const char *)header, 19) == 1;
    for (off = 0; ok && off < x->ncopy; off += 1u << 20) {
        size_t n = x->ncopy - off < (1u << 20) ? x->ncopy - off : 1u << 20;

        ok = PQputCopyData(c, (const char *)x->copy + off, (int)n) == 1;
    }
    ok = ok && PQputCopyData(c, (const char *)trailer, 2) == 1;
    if (PQputCopyEnd(c, ok ? NULL : "armmapd: sending failed") != 1)
        ok = false;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !x->failed) {
            pg__format(x->err, sizeof(x->err),
                       "postgresql: inserting "
                       "events: %s",
                       PQresultErrorMessage(r));
            trim(x->err);
            x->failed = true;
        }
        PQclear(r);
    }
    if (!ok && !x->failed) {
        pg__conn_err(c, "inserting events", x->err);
        x->failed = true;
    }
}

/* Migration 6, inside the opening transaction: every row of the events
 * table into packed rows (as store_open.c's store__pack_events(), each
 * sum as it is, a gap in seq ending a row), by one COPY; then the table
 * goes and the version is 6. */
static bool pack_events(struct store *s, char *err)
{
    static unsigned char args[4 * STORE_MAX_ARGS];
    struct send *x = calloc(1, sizeof(*x));
    PGresult *r;
    bool ok;
    int i, rows;

    if (x == NULL) {
        pg__format(err, STORE_MSG_MAX, "postgresql: out of memory");
        return false;
    }
    x->s = s;
    ok = exec_ok(s->wconn, "migrating to schema version 6",
                 PACKS_SQL "DECLARE ev NO SCROLL CURSOR FOR SELECT machine,"
                           " seq, time, op, cpu, args, value, aux, flags,"
                           " status, sum FROM events ORDER BY machine, seq",
                 err);
    while (ok && !x->failed) {
        r = pg__exec(s->wconn, "migrating to schema version 6",
                     "FETCH 10000 FROM ev", 0, NULL, PGRES_TUPLES_OK, err);
        if (r == NULL) {
            ok = false;
            break;
        }
        rows = PQntuples(r);
        for (i = 0; i < rows && ok && !x->failed; i++) {
            size_t len = pg__unhex(PQgetvalue(r, i, 5), args, sizeof(args));
            struct pw w = {
                .machine = pg__u64(r, i, 0),
                .seq = pg__u64(r, i, 1),
                .time_ms = pg__i64(r, i, 2),
                .op = (uint32_t)pg__u64(r, i, 3),
                .cpu = (uint32_t)pg__u64(r, i, 4),
                .data = args,
                .len = len,
                .value = (uint32_t)pg__u64(r, i, 6),
                .aux = (uint32_t)pg__u64(r, i, 7),
                .flags = (uint32_t)pg__u64(r, i, 8),
                .ev_status = (int32_t)pg__i64(r, i, 9),
            };

            if (len == (size_t)-1 || len % 4 != 0) {
                pg__format(err, STORE_MSG_MAX,
                           "postgresql: migrating to schema version 6:"
                           " machine %" PRIu64 " event %" PRIu64
                           ": malformed args",
                           w.machine, w.seq);
                ok = false;
                break;
            }
            add_event(x, &w, pg__u64(r, i, 10));
        }
        PQclear(r);
        if (rows == 0)
            break;
    }
    ok = ok &&
         exec_ok(s->wconn, "migrating to schema version 6", "CLOSE ev", err);
    if (ok)
        copy_events(x);
    if (x->failed) {
        pg__format(err, STORE_MSG_MAX, "%s", x->err);
        ok = false;
    }
    ok = ok && exec_ok(s->wconn, "migrating to schema version 6",
                       "DROP TABLE events; UPDATE armmap_meta SET value = 6"
                       " WHERE key = 'schema_version';",
                       err);
    pack_free(x);
    free(x->copy);
    free(x);
    return ok;
}

/* Checks event @w against its machine; the reason it is refused, or
 * STORE_OK. */
static enum store_status check_event(struct pm *m, struct pw *w, uint64_t next)
{
    if (m == NULL || !m->exists || !m->alive) {
        wfail(w, STORE_NOT_FOUND, "event %" PRIu64 ": machine %" PRIu64 " %s",
              w->seq, w->machine,
              m == NULL || !m->exists ? "does not exist" : "is destroyed");
        return STORE_NOT_FOUND;
    }
    if (w->seq != next) {
        wfail(w, STORE_CONFLICT,
              "machine %" PRIu64 ": event seq %" PRIu64
              " refused: expected seq %" PRIu64,
              w->machine, w->seq, next);
        return STORE_CONFLICT;
    }
    return STORE_OK;
}

/* Cluster: true (and @w failed STORE_FENCED) if machine @m is not this
 * node's at this batch's epoch. */
static bool fenced(const struct send *x, const struct pm *m, struct pw *w,
                   const char *what)
{
    if (m == NULL || !m->exists || !m->fenced)
        return false;
    wfail(w, STORE_FENCED,
          "%s: machine %" PRIu64 " is not owned by node %s (epoch %" PRId64 ")",
          what, m->id, x->s->node, x->epoch);
    return true;
}

/* A unit of @n events of one machine: checked whole, then sent whole. */
static void do_unit(struct send *x, struct pw *u, uint32_t n)
{
    struct pm *m = pm_find(&x->s->mt, u->machine);
    uint64_t sum;
    uint32_t i;

    for (i = 0; i < n; i++)
        if (fenced(x, m, &u[i], "event"))
            continue;
    if (m != NULL && m->fenced && m->exists)
        return;

    for (i = 0; i < n; i++) {
        enum store_status st = check_event(m, &u[i],
                                           (m ? last_stored(m) : 0) + 1 + i);

        if (st != STORE_OK) {
            char why[STORE_MSG_MAX];
            uint32_t j;

            pg__format(why, sizeof(why), "%s", u[i].msg);
            for (j = 0; n > 1 && j < n; j++)
                wfail(&u[j], st,
                      "%s (a unit of %" PRIu32 " events: none "
                      "kept)",
                      why, n);
            return;
        }
    }
    assert(m != NULL); /* check_event() refuses a missing machine's */
    sum = m->last_sum != 0 ? m->last_sum : store__chain_seed(m->id);
    for (i = 0; i < n; i++) {
        sum = store__event_sum(sum, u[i].machine, u[i].seq, u[i].time_ms,
                               u[i].op, u[i].cpu, u[i].data, u[i].len,
                               u[i].value, u[i].aux, u[i].flags,
                               u[i].ev_status);
        add_event(x, &u[i], sum);
    }
    m->last_seq = u[n - 1].seq;
    m->last_sum = sum;
    m->nevents += n;
    m->dirty = true;
}

static void do_create(struct send *x, struct pw *w, uint64_t *max_id)
{
    const char *tenant = (const char *)w->data;
    const char *name = tenant + strlen(tenant) + 1;
    const char *config = name + strlen(name) + 1;
    char num[6][24];
    const char *val[10];
    struct pm *p, *m;

    if (w->parent != 0) {
        p = pm_find(&x->s->mt, w->parent);
        if (p == NULL || !p->exists) {
            wfail(w, STORE_NOT_FOUND,
                  "fork: parent machine %" PRIu64 " does not exist", w->parent);
            return;
        }
        if (last_stored(p) < w->seq) {
            wfail(w, STORE_CONFLICT,
                  "fork: parent machine %" PRIu64
                  " has events up to seq %" PRIu64 ", not %" PRIu64,
                  w->parent, last_stored(p), w->seq);
            return;
        }
    }
    m = pm_add(&x->s->mt, w->machine);
    if (m == NULL) {
        pg__format(x->err, sizeof(x->err), "out of memory");
        x->failed = true;
        return;
    }
    if (m->exists) {
        wfail(w, STORE_ALREADY_EXISTS, "machine %" PRIu64 " already exists",
              w->machine);
        return;
    }
    m->exists = m->alive = true;
    m->last_seq = w->parent != 0 ? w->seq : 0;
    m->last_sum = 0;
    m->nevents = 0;
    snprintf(num[0], 24, "%" PRIu64, w->machine);
    snprintf(num[1], 24, "%" PRId64, w->time_ms);
    snprintf(num[2], 24, "%" PRIu64, w->parent);
    snprintf(num[3], 24, "%" PRIu64, w->seq);
    snprintf(num[4], 24, "%" PRId64,
             (int64_t)store__machine_sum(w->machine, tenant, name, config,
                                         w->time_ms, w->parent,
                                         w->parent != 0 ? w->seq : 0));
    val[0] = num[0];
    val[1] = tenant;
    val[2] = name;
    val[3] = config;
    val[4] = num[1];
    val[5] = w->parent != 0 ? num[2] : NULL;
    val[6] = w->parent != 0 ? num[3] : NULL;
    val[7] = num[4];
    if (x->s->node != NULL) {
        /* Cluster: this node owns what it creates. */
        snprintf(num[5], 24, "%" PRId64, x->epoch);
        val[8] = x->s->node;
        val[9] = num[5];
        send_params(x,
                    "INSERT INTO machines (id, tenant, name, config, created,"
                    " parent, parent_seq, sum, owner_node, owner_epoch)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    10, val, NULL, NULL);
    } else {
        send_params(x,
                    "INSERT INTO machines (id, tenant, name, config, created,"
                    " parent, parent_seq, sum) VALUES ($1, $2, $3, $4, $5,"
                    " $6, $7, $8)",
                    8, val, NULL, NULL);
    }
    x->bytes += w->len + 128;
    if (w->machine > *max_id)
        *max_id = w->machine;
}

static void do_destroy(struct send *x, struct pw *w)
{
    struct pm *m = pm_find(&x->s->mt, w->machine);
    char num[2][24];
    const char *val[2] = { num[0], num[1] };

    if (fenced(x, m, w, "destroy"))
        return;
    if (m == NULL || !m->exists || !m->alive) {
        wfail(w, STORE_NOT_FOUND,
              "destroy: machine %" PRIu64
              " does not exist or is already destroyed",
              w->machine);
        return;
    }
    m->alive = false;
    snprintf(num[0], 24, "%" PRIu64, w->machine);
    snprintf(num[1], 24, "%" PRId64, w->time_ms);
    send_params(x, "UPDATE machines SET destroyed = $2 WHERE id = $1", 2, val,
                NULL, NULL);
}

static void do_checkpoint(struct send *x, struct pw *w)
{
    struct pm *m = pm_find(&x->s->mt, w->machine);
    char num[3][24];
    const char *val[4] = { num[0], num[1], (const char *)w->data, num[2] };
    int len[4] = { 0, 0, (int)w->len, 0 };
    int fmt[4] = { 0, 0, 1, 0 };

    if (fenced(x, m, w, "checkpoint"))
        return;
    if (m == NULL || !m->exists || !m->alive) {
        wfail(w, STORE_NOT_FOUND, "checkpoint: machine %" PRIu64 " %s",
              w->machine,
              m == NULL || !m->exists ? "does not exist" : "is destroyed");
        return;
    }
    if (last_stored(m) < w->seq) {
        wfail(w, STORE_CONFLICT,
              "checkpoint: machine %" PRIu64 " has "
              "events up to seq %" PRIu64 ", not %" PRIu64,
              w->machine, last_stored(m), w->seq);
        return;
    }
    if (val[2] == NULL)
        val[2] = "";
    snprintf(num[0], 24, "%" PRIu64, w->machine);
    snprintf(num[1], 24, "%" PRIu64, w->seq);
    snprintf(num[2], 24, "%" PRId64,
             (int64_t)store__checkpoint_sum(w->machine, w->seq, w->data,
                                            w->len));
    send_params(x,
                "INSERT INTO checkpoints VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (machine, seq) DO UPDATE SET blob ="
                " excluded.blob, sum = excluded.sum",
                4, val, len, fmt);
    x->bytes += w->len + 64;
}

/* A request key: kept only if the write it follows (the nearest earlier
 * one of its cookie: store_hold() keeps them in one batch) was; the
 * oldest keys of its scope beyond STORE_RKEYS_KEPT go. */
static void do_rkey(struct send *x, const struct pwq *q, struct pw *w)
{
    const struct pw *c = w;
    const char *tenant = (const char *)w->data;
    size_t lt = strlen(tenant) + 1;
    char num[5][24];
    const char *val[6] = { num[0], tenant, num[1],
                           num[2], num[3], (const char *)w->data + lt };
    int len[6] = { 0, 0, 0, 0, 0, (int)(w->len - lt) };
    int fmt[6] = { 0, 0, 0, 0, 0, 1 };

    while (c > q->w && (--c)->cookie != w->cookie)
        ;
    if (c == w || c->cookie != w->cookie || c->kind == PW_RKEY ||
        c->status != STORE_OK) {
        w->status = STORE_CONFLICT; /* its change was not kept */
        return;
    }
    snprintf(num[0], 24, "%" PRIu64, w->machine);
    snprintf(num[1], 24, "%" PRId64, (int64_t)w->key);
    snprintf(num[2], 24, "%" PRIu64, w->seq);
    snprintf(num[3], 24, "%" PRIu64, w->parent);
    send_params(x,
                "INSERT INTO request_keys VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (machine, tenant, key) DO UPDATE SET"
                " ord = excluded.ord, target = excluded.target,"
                " reply = excluded.reply",
                6, val, len, fmt);
    x->bytes += w->len + 64;
    if (w->seq <= STORE_RKEYS_KEPT || w->seq % STORE_RKEYS_TRIM != 0)
        return;
    snprintf(num[4], 24, "%" PRIu64, w->seq - STORE_RKEYS_KEPT);
    val[2] = num[4];
    send_params(x,
                "DELETE FROM request_keys WHERE machine = $1"
                " AND tenant = $2 AND ord <= $3",
                3, val, len, fmt);
}

/* The counts of the machines this batch gave events, and the largest id. */
static void send_counts(struct send *x, uint64_t max_id)
{
    struct pmtab *t = &x->s->mt;
    char num[4][24];
    const char *val[4] = { num[0], num[1], num[2], num[3] };
    size_t i;

    for (i = 0; i < t->cap; i++) {
        struct pm *m = &t->slot[i];

        if (m->id == 0 || !m->dirty)
            continue;
        m->dirty = false;
        snprintf(num[0], 24, "%" PRIu64, m->id);
        snprintf(num[1], 24, "%" PRIu64, m->nevents);
        snprintf(num[2], 24, "%" PRIu64, m->last_seq);
        snprintf(num[3], 24, "%" PRId64, (int64_t)m->last_sum);
        send_params(x,
                    "UPDATE machines SET nevents = $2, last_seq = $3,"
                    " last_sum = $4 WHERE id = $1",
                    4, val, NULL, NULL);
    }
    if (max_id != 0) {
        snprintf(num[0], 24, "%" PRIu64, max_id);
        send_params(x,
                    "UPDATE armmap_meta SET value = greatest(value, $1)"
                    " WHERE key = 'max_id'",
                    1, val, NULL, NULL);
    }
}

/* The dirty marks a failed batch leaves must not survive it: the table is
 * reloaded from the database. */
static void run_writes(struct send *x, struct pwq *q, uint64_t *max_id)
{
    size_t i = 0;

    while (i < q->n && !x->failed) {
        struct pw *w = &q->w[i];

        switch (w->kind) {
        case PW_EVENT:
            do_unit(x, w, w->unit ? w->unit : 1);
            i += w->unit ? w->unit : 1;
            continue;
        case PW_CREATE:
            do_create(x, w, max_id);
            break;
        case PW_DESTROY:
            do_destroy(x, w);
            break;
        case PW_CHECKPOINT:
            do_checkpoint(x, w);
            break;
        case PW_RKEY:
            do_rkey(x, q, w);
            break;
        }
        i++;
    }
}

/* The rest of a batch once its transaction is open (BEGIN sent): the
 * writes and counts in pipeline mode, the events by COPY, COMMIT. */
static bool finish_batch(struct send *x, struct pwq *q, char *err)
{
    struct store *s = x->s;
    uint64_t max_id = 0;
    bool ok;

    run_writes(x, q, &max_id);
    pack_flush(x); /* counted in x->bytes below */
    send_counts(x, max_id);
    drain(x);
    PQexitPipelineMode(s->wconn);
    if (!x->failed && s->max_bytes != 0 &&
        s->size_base + s->size_added + x->bytes > s->max_bytes) {
        pg__format(x->err, sizeof(x->err),
                   "postgresql: database or disk is "
                   "full (the size limit is %" PRIu64 " bytes)",
                   s->max_bytes);
        x->failed = true;
    }
    copy_events(x);
    if (!x->failed && !exec_ok(s->wconn, "commit", "COMMIT", x->err))
        x->failed = true;
    ok = !x->failed;
    if (ok)
        s->size_added += x->bytes;
    else
        pg__format(err, STORE_MSG_MAX, "%s", x->err);
    if (!ok) /* ends a transaction left open */
        PQclear(PQexec(s->wconn, "ROLLBACK"));
    pack_free(x);
    free(x->copy);
    return ok;
}

/* Cluster mode: the writer knows nothing across batches (other nodes
 * write too); the transaction opens first, then this node's lease is
 * checked and the batch's machines are read, locked and checked for
 * being ours, then the writes go as in a single node's batch.  A node
 * whose lease is gone fails every write STORE_FENCED. */
static bool run_cluster_batch(struct store *s, struct pwq *q, char *err)
{
    struct send x;
    char why[STORE_MSG_MAX];
    bool failed = false;
    size_t i;

    memset(&x, 0, sizeof(x));
    x.s = s;
    pthread_mutex_lock(&s->lock);
    x.epoch = s->epoch;
    pthread_mutex_unlock(&s->lock);
    pm_clear(&s->mt);
    if (!writer_alive(s, err) || !exec_ok(s->wconn, "begin", "BEGIN", err))
        return false;
    if (!pg__cluster_node_ok(s, x.epoch, why, err, &failed)) {
        PQclear(PQexec(s->wconn, "ROLLBACK"));
        if (failed)
            return false;
        for (i = 0; i < q->n; i++)
            wfail(&q->w[i], STORE_FENCED, "%s", why);
        return true;
    }
    if (!load_machines(s, q, x.epoch, err) ||
        PQenterPipelineMode(s->wconn) != 1) {
        if (err[0] == '\0')
            pg__conn_err(s->wconn, "entering pipeline mode", err);
        PQclear(PQexec(s->wconn, "ROLLBACK"));
        return false;
    }
    return finish_batch(&x, q, err);
}

/* Commits @q in one transaction; false (with @err) if it failed whole.
 * The statements go in pipeline mode up to one sync, then the events by
 * COPY, then COMMIT. */
static bool run_batch(struct store *s, struct pwq *q, char *err)
{
    struct send x;

    memset(&x, 0, sizeof(x));
    x.s = s;
    if (s->node != NULL)
        return run_cluster_batch(s, q, err);
    if (!writer_alive(s, err) || !load_machines(s, q, 0, err))
        return false;
    if (PQenterPipelineMode(s->wconn) != 1) {
        pg__conn_err(s->wconn, "entering pipeline mode", err);
        return false;
    }
    send_sql(&x, "BEGIN");
    return finish_batch(&x, q, err);
}

/* ------------------------------------------------------------------ */
/* The writer thread                                                   */
/* ------------------------------------------------------------------ */

static void run_ctl(struct store *s, struct pg_ctl *c);

static void notify(struct store *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->notify_fd, &one, sizeof(one));

    (void)n;
}

/* Under @lock: moves @q's writes to the done queue. */
static bool append_done(struct store *s, struct pwq *q)
{
    struct pwq *d = &s->done;

    if (d->n == 0) {
        free(d->w);
        *d = *q;
        memset(q, 0, sizeof(*q));
        return true;
    }
    if (d->n + q->n > d->cap) {
        size_t cap = d->n + q->n;
        struct pw *nw = realloc(d->w, cap * sizeof(*nw));

        if (nw == NULL)
            return false;
        d->w = nw;
        d->cap = cap;
    }
    memcpy(d->w + d->n, q->w, q->n * sizeof(*q->w));
    d->n += q->n;
    free(q->w);
    memset(q, 0, sizeof(*q));
    return true;
}

static void account(struct store *s, const struct pwq *q, bool ok,
                    const char *err)
{
    size_t i;

    if (ok)
        s->st.commits++;
    else
        s->st.failed_batches++;
    if (q->n > s->st.largest_batch)
        s->st.largest_batch = q->n;
    for (i = 0; i < q->n; i++) {
        struct pw *w = &q->w[i];

        if (!ok) {
            w->status = STORE_UNAVAILABLE;
            free(w->msg);
            w->msg = strdup(err);
        }
        if (w->status != STORE_OK) {
            if ((w->kind != PW_EVENT || w->unit != 0) && w->kind != PW_RKEY)
                s->st.writes_failed++;
            continue;
        }
        if (w->kind == PW_EVENT)
            s->st.events++;
        else if (w->kind == PW_CREATE)
            s->st.machines_created++;
        else if (w->kind == PW_DESTROY)
            s->st.machines_destroyed++;
    }
}

static void writer_cpu(struct store *s)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
        s->st.writer_cpu_ns = (uint64_t)ts.tv_sec * 1000000000u +
                              (uint64_t)ts.tv_nsec;
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    char err[STORE_MSG_MAX];

    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct pwq q;
        bool ok;

        while (s->ctl == NULL &&
               (s->filling.n == 0 ? !s->stopping : s->holds > 0))
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->ctl != NULL) {
            struct pg_ctl *c = s->ctl;

            pthread_mutex_unlock(&s->lock);
            run_ctl(s, c);
            pthread_mutex_lock(&s->lock);
            c->done = true;
            s->ctl = NULL;
            pthread_cond_broadcast(&s->progress);
            continue;
        }
        if (s->filling.n == 0)
            break; /* stopping, nothing queued */
        q = s->filling;
        memset(&s->filling, 0, sizeof(s->filling));
        pthread_mutex_unlock(&s->lock);

        ok = run_batch(s, &q, err);
        if (!ok)
            pm_clear(&s->mt);

        pthread_mutex_lock(&s->lock);
        account(s, &q, ok, err);
        writer_cpu(s);
        s->processed += q.n;
        if (!append_done(s, &q)) {
            /* Out of memory: dropped without a report (cannot happen for
             * a first batch, which is moved whole). */
            pwq_free(&q);
        }
        pthread_cond_broadcast(&s->progress);
        notify(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Reaping                                                             */
/* ------------------------------------------------------------------ */

size_t pg_reap(struct store *s,
               void (*done)(void *arg, void *cookie, enum store_status status,
                            const char *msg),
               void *arg)
{
    struct pwq q;
    uint64_t junk;
    ssize_t rd = read(s->notify_fd, &junk, sizeof(junk));
    size_t i, n = 0;

    (void)rd;
    pthread_mutex_lock(&s->lock);
    q = s->done;
    memset(&s->done, 0, sizeof(s->done));
    for (i = 0; i < q.n; i++) {
        s->inflight--;
        s->inflight_bytes -= q.w[i].len + sizeof(q.w[i]);
    }
    pthread_mutex_unlock(&s->lock);

    s->reaping = true;
    for (i = 0; i < q.n; i++) {
        const struct pw *w = &q.w[i];

        if ((w->kind == PW_EVENT && w->unit == 0) || w->kind == PW_RKEY)
            continue; /* with its unit's first; keys: never */
        if (done != NULL)
            done(arg, w->cookie, w->status,
                 w->status == STORE_OK ? ""
                 : w->msg != NULL      ? w->msg
                                       : store_status_name(w->status));
        n++;
    }
    s->reaping = false;
    pwq_free(&q);
    return n;
}

void pg_flush(struct store *s)
{
    uint64_t target;

    pthread_mutex_lock(&s->lock);
    target = s->submitted;
    while (s->processed < target)
        pthread_cond_wait(&s->progress, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

/* store_reset() empties only ":memory:" stores: a PostgreSQL database is
 * never emptied. */
enum store_status pg_reset(struct store *s)
{
    pg__format(s->errmsg, sizeof(s->errmsg),
               "reset: a PostgreSQL "
               "database is never emptied");
    return STORE_INVALID_ARGUMENT;
}

void pg_stats(struct store *s, struct store_stats *st)
{
    pthread_mutex_lock(&s->lock);
    *st = s->st;
    st->queued = s->inflight;
    pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------ */
/* Control requests: purge and the size limit (writer thread)          */
/* ------------------------------------------------------------------ */

/* Runs @c on the writer thread between batches and waits for it. */
static void call_ctl(struct store *s, struct pg_ctl *c)
{
    pthread_mutex_lock(&s->lock);
    while (s->ctl != NULL)
        pthread_cond_wait(&s->progress, &s->lock);
    s->ctl = c;
    pthread_cond_signal(&s->wake);
    while (!c->done)
        pthread_cond_wait(&s->progress, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

#define PURGE_KEEP \
    "WITH RECURSIVE keep(id) AS (" \
    " SELECT id FROM machines WHERE destroyed IS NULL OR destroyed >= $1" \
    " UNION SELECT m.parent FROM machines m JOIN keep k ON m.id = k.id" \
    " WHERE m.parent IS NOT NULL), " \
    "gone AS (SELECT id FROM machines WHERE destroyed < $1" \
    " AND id NOT IN (SELECT id FROM keep)" \
    " AND ($2::text IS NULL OR tenant = $2)) "

/* The size the limit counts: the stored bytes of every row plus a fixed
 * overhead per row (a counted total, so that a purge gives room back at
 * once; PostgreSQL's files shrink only when vacuumed).  One scan. */
static bool count_bytes(struct store *s, char *err)
{
    PGresult *r = pg__exec(
        s->wconn, "counting the database's size",
        "SELECT (SELECT coalesce(sum(octet_length(body)), 0) + 64 * count(*)"
        " FROM event_packs) + (SELECT coalesce(sum(octet_length(tenant) +"
        " octet_length(name) + octet_length(config)), 0) + 128 * count(*)"
        " FROM machines) + (SELECT coalesce(sum(octet_length(blob)), 0) +"
        " 64 * count(*) FROM checkpoints)",
        0, NULL, PGRES_TUPLES_OK, err);

    if (r == NULL)
        return false;
    s->size_base = pg__u64(r, 0, 0);
    s->size_added = 0;
    PQclear(r);
    return true;
}

static void run_purge(struct store *s, struct pg_ctl *c)
{
    char cut[24];
    const char *val[2] = { cut, c->tenant };
    PGresult *r;

    snprintf(cut, sizeof(cut), "%" PRId64, c->cutoff);
    c->status = STORE_UNAVAILABLE;
    if (!exec_ok(s->wconn, "purge", "BEGIN", c->msg))
        return;
    r = pg__exec(s->wconn, "purge",
                 PURGE_KEEP
                 ", ev AS (DELETE FROM event_packs"
                 " WHERE machine IN (SELECT id FROM gone)"
                 " RETURNING last_seq - first_seq + 1 AS n),"
                 " ck AS (DELETE FROM checkpoints WHERE machine IN (SELECT"
                 " id FROM gone)), rk AS (DELETE FROM request_keys WHERE"
                 " machine IN (SELECT id FROM gone) OR target IN (SELECT id"
                 " FROM gone)), mm AS (DELETE FROM machines WHERE id IN"
                 " (SELECT id FROM gone) RETURNING id)"
                 " SELECT (SELECT count(*) FROM mm), (SELECT"
                 " coalesce(sum(n), 0) FROM ev)",
                 2, val, PGRES_TUPLES_OK, c->msg);
    if (r == NULL || !exec_ok(s->wconn, "purge", "COMMIT", c->msg)) {
        char ignore[STORE_MSG_MAX];

        PQclear(r);
        exec_ok(s->wconn, "purge", "ROLLBACK", ignore);
        return;
    }
    c->purged = pg__u64(r, 0, 0);
    c->events = pg__u64(r, 0, 1);
    PQclear(r);
    pm_clear(&s->mt); /* purged machines leave it */
    if (s->max_bytes != 0 && !count_bytes(s, c->msg))
        return;
    c->status = STORE_OK;
}

static void run_ctl(struct store *s, struct pg_ctl *c)
{
    if (c->purge) {
        run_purge(s, c);
        return;
    }
    c->status = STORE_UNAVAILABLE;
    if (!count_bytes(s, c->msg))
        return;
    s->max_bytes = c->bytes;
    c->status = STORE_OK;
}

enum store_status pg_set_max_bytes(struct store *s, uint64_t bytes)
{
    struct pg_ctl c;

    memset(&c, 0, sizeof(c));
    c.bytes = bytes;
    call_ctl(s, &c);
    if (c.status != STORE_OK)
        pg__format(s->errmsg, sizeof(s->errmsg), "%s", c.msg);
    return c.status;
}

enum store_status pg_purge_r(struct store *s, const char *tenant,
                             int64_t older_than_ms, int64_t now_ms,
                             uint64_t *purged, uint64_t *events, char *err,
                             size_t errsz)
{
    struct pg_ctl c;

    memset(&c, 0, sizeof(c));
    c.purge = true;
    c.tenant = tenant;
    c.cutoff = now_ms - older_than_ms;
    call_ctl(s, &c);
    if (purged != NULL)
        *purged = c.status == STORE_OK ? c.purged : 0;
    if (events != NULL)
        *events = c.status == STORE_OK ? c.events : 0;
    if (c.status != STORE_OK && err != NULL && errsz > 0)
        pg__format(err, errsz, "%s", c.msg);
    return c.status;
}

enum store_status pg_purge(struct store *s, const char *tenant,
                           int64_t older_than_ms, int64_t now_ms,
                           uint64_t *purged, uint64_t *events)
{
    return pg_purge_r(s, tenant, older_than_ms, now_ms, purged, events,
                      s->errmsg, sizeof(s->errmsg));
}

const struct store_backend store_pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .open_warning = pg_open_warning,
    .close = pg_close,
    .errmsg = pg_errmsg,
    .submit_event = pg_submit_event,
    .submit_events = pg_submit_events,
    .submit_machine_create = pg_submit_machine_create,
    .submit_machine_fork = pg_submit_machine_fork,
    .submit_machine_destroy = pg_submit_machine_destroy,
    .submit_checkpoint = pg_submit_checkpoint,
    .hold = pg_hold,
    .submit_rkey = pg_submit_rkey,
    .rkeys = pg_rkeys,
    .notify_fd = pg_notify_fd,
    .reap = pg_reap,
    .flush = pg_flush,
    .reset = pg_reset,
    .stats = pg_stats,
    .set_max_bytes = pg_set_max_bytes,
    .history = pg_history,
    .op_counts = pg_op_counts,
    .op_counts_page = pg_op_counts_page,
    .list_machines = pg_list_machines,
    .machine_dup = pg_machine_dup,
    .foreach_live_machine = pg_foreach_live_machine,
    .foreach_event = pg_foreach_event,
    .checkpoint_get = pg_checkpoint_get,
    .foreach_event_after = pg_foreach_event_after,
    .reader_open = pg_reader_open,
    .reader_close = pg_reader_close,
    .main_reader = pg_main_reader,
    .reader_errmsg = pg_reader_errmsg,
    .reader_events = pg_reader_events,
    .reader_checkpoint = pg_reader_checkpoint,
    .reader_parent = pg_reader_parent,
    .max_machine_id = pg_max_machine_id,
    .purge = pg_purge,
    .purge_r = pg_purge_r,
    .verify = pg_verify,
    .node_register = pg_node_register,
    .node_heartbeat = pg_node_heartbeat,
    .machine_owner = pg_machine_owner,
    .machine_claim = pg_machine_claim,
    .set_next_id = pg_set_next_id,
    .reader_machine_owner = pg_reader_machine_owner,
    .reader_machine_claim = pg_reader_machine_claim,
};
