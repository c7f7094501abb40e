/* store/store_writer.c - submitting writes, the writer thread, group
 * commit, WAL checkpoints, and the control requests run between batches.
 *
 * Thread contract: store_submit_*(), sq_flush(), sq_stats(),
 * sq_set_max_bytes() and sq_purge() may be called from any thread;
 * they take @lock and never hold it across a SQLite call.  The writer
 * thread (writer_main()) alone uses the writer's connection (s->wdb), its
 * statements and s->mt; it changes s->ct under @lock.  The checkpointer
 * thread alone uses s->cdb.  sq_reap() belongs to the caller's (loop)
 * thread.
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
 * Completions come back through a list and an eventfd (sq_notify_fd())
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
 * Control operations that write (purge, the size limit) are executed by the
 * writer thread between two batches while the caller waits, so the store
 * never has two writing connections and never sees SQLITE_BUSY from itself.
 */
#include "store_int.h"

/* ------------------------------------------------------------------ */
/* Batches and the machine table of the writer                         */
/* ------------------------------------------------------------------ */

void store__batch_destroy(struct batch *b)
{
    if (b == NULL)
        return;
    free(b->req);
    free(b->bytes);
    free(b);
}

/* Empties @b for reuse, dropping buffers too big to keep around after a
 * burst. */
void store__batch_reset(struct batch *b)
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

void store__mtab_destroy(struct mtab *t)
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
                              uint64_t last_seq, uint64_t base_seq,
                              uint64_t last_sum)
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
    t->slot[i].base_seq = base_seq;
    t->slot[i].last_sum = last_sum;
    t->slot[i].marked = false;
    t->n++;
    return &t->slot[i];
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

static void *writer_main(void *arg);

/* The writer thread blocks the asynchronous signals, so that SIGTERM and
 * friends are handled by the loop thread (libevent's evsignal) and never
 * interrupt a SQLite system call in the writer.  Faults stay unblocked: a
 * blocked SIGSEGV would kill the process without the sanitizers' report. */
static bool start_thread(struct store *s, pthread_t *t, void *(*fn)(void *arg))
{
    static const int faults[] = { SIGSEGV, SIGBUS,  SIGFPE, SIGILL,
                                  SIGTRAP, SIGABRT, SIGSYS };
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

bool store__start_writer(struct store *s)
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
            s->ckpt_base = 0; /* the WAL restarted */
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
bool store__start_checkpointer(struct store *s, const struct store_options *opt,
                               char *err)
{
    char sql[64];
    int rc;

    if (s->memory)
        return true; /* memdb has no WAL */
    rc = sqlite3_open_v2(s->uri, &s->cdb,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                             SQLITE_OPEN_URI,
                         NULL);
    format(sql, sizeof(sql), "PRAGMA synchronous = %s",
           opt->durability == STORE_FULL ? "FULL" : "NORMAL");
    if (rc != SQLITE_OK || db_exec(s->cdb, sql) != SQLITE_OK) {
        store__sqlite_err(s->path, s->cdb, "opening the checkpoint connection",
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

/* ------------------------------------------------------------------ */
/* Submitting writes                                                   */
/* ------------------------------------------------------------------ */

/* Under s->lock: makes room in the filling batch for one write carrying
 * @len bytes of data, and returns it zeroed with @data pointing at its
 * bytes; STORE_BUSY when the queue bound is reached. */
static enum store_status check_room(struct store *s, size_t writes, size_t cost)
{
    if (s->stopping) {
        set_err(s, "store is closing");
        return STORE_UNAVAILABLE;
    }
    if (s->inflight > 0 && (s->inflight + writes > s->queue_max ||
                            s->inflight_bytes + cost > s->bytes_max)) {
        set_err(s, "write queue full (%" PRIu32 " writes, %zu bytes)",
                s->inflight, s->inflight_bytes);
        return STORE_BUSY;
    }
    return STORE_OK;
}

/* Under s->lock, after check_room(): the slot of reserve(). */
static enum store_status reserve_slot(struct store *s, size_t len,
                                      struct wreq **req, unsigned char **data)
{
    struct batch *b = s->filling;
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        struct wreq *nreq = realloc(b->req, ncap * sizeof(*nreq));

        if (nreq == NULL)
            goto oom;
        b->req = nreq;
        b->cap = ncap;
    }
    if (b->bytes == NULL || b->used + len > b->bcap) {
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
    (*req)->unit = 1;
    *data = b->bytes + b->used; /* never NULL: memcpy() targets it */
    return STORE_OK;
oom:
    set_err(s, "out of memory queueing a write");
    return STORE_UNAVAILABLE;
}

static enum store_status reserve(struct store *s, size_t len, struct wreq **req,
                                 unsigned char **data)
{
    enum store_status rc = check_room(s, 1, sizeof(struct wreq) + len);

    return rc == STORE_OK ? reserve_slot(s, len, req, data) : rc;
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
    if (s->writer_idle && s->holds == 0) { /* else: at store_release() */
        s->writer_idle = false;
        pthread_cond_signal(&s->wake);
    }
}

/* Checks one event of a submission; false (and sq_errmsg()) if the
 * store cannot take it. */
static bool event_valid(struct store *s, const struct store_event *ev)
{
    if (ev->machine == 0 || ev->seq == 0 || ev->nargs > STORE_MAX_ARGS ||
        (ev->nargs > 0 && ev->args == NULL) ||
        ev->machine > (uint64_t)INT64_MAX || ev->seq > (uint64_t)INT64_MAX) {
        pthread_mutex_lock(&s->lock);
        set_err(s,
                "event %" PRIu64 " of machine %" PRIu64 ": invalid "
                "(machine and seq must be 1..2^63-1, nargs %" PRIu32
                " at most %d)",
                ev->seq, ev->machine, ev->nargs, STORE_MAX_ARGS);
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    return true;
}

/* Under s->lock: fills the write reserve_slot() returned from @ev. */
static void fill_event(struct wreq *r, const struct store_event *ev,
                       unsigned char *data, size_t len, void *cookie)
{
    uint32_t i;

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
}

/* Under s->lock: takes back the last @n writes enqueue() counted, of
 * @len bytes of data in all (a unit that could not be queued whole). */
static void unqueue(struct store *s, size_t n, size_t len)
{
    struct batch *b = s->filling;
    size_t cost = n * sizeof(struct wreq) + len;

    b->n -= n;
    b->used -= len;
    b->acct -= cost;
    s->inflight -= (uint32_t)n;
    s->inflight_bytes -= cost;
    s->submitted -= n;
}

enum store_status sq_submit_event(struct store *s, const struct store_event *ev,
                                  void *cookie)
{
    assert(s != NULL && ev != NULL);
    return sq_submit_events(s, ev, 1, cookie);
}

enum store_status sq_submit_events(struct store *s,
                                   const struct store_event *ev, size_t n,
                                   void *cookie)
{
    size_t i, len, total = 0, queued = 0, qlen = 0;
    struct wreq *first = NULL, *r;
    unsigned char *data;
    enum store_status rc;

    assert(s != NULL && (ev != NULL || n == 0));
    for (i = 0; i < n; i++) {
        if (!event_valid(s, &ev[i]))
            return STORE_INVALID_ARGUMENT;
        if (ev[i].machine != ev[0].machine || ev[i].seq != ev[0].seq + i)
            break;
        total += (size_t)ev[i].nargs * 4;
    }
    if (n == 0 || n > UINT32_MAX || i < n) {
        pthread_mutex_lock(&s->lock);
        set_err(s,
                "a unit of %zu events must be of one machine, in seq "
                "order",
                n);
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&s->lock);
    rc = check_room(s, n, n * sizeof(struct wreq) + total);
    for (i = 0; rc == STORE_OK && i < n; i++) {
        len = (size_t)ev[i].nargs * 4;
        rc = reserve_slot(s, len, &r, &data);
        if (rc != STORE_OK)
            break;
        fill_event(r, &ev[i], data, len, cookie);
        r->unit = 0;
        enqueue(s, len);
        queued++;
        qlen += len;
    }
    if (rc != STORE_OK) {
        unqueue(s, queued, qlen);
    } else {
        first = &s->filling->req[s->filling->n - n];
        first->unit = (uint32_t)n;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Queues a machine row; @parent is 0 for a machine that is not a fork. */
static enum store_status submit_machine(struct store *s, uint64_t parent,
                                        uint64_t parent_seq, const char *tenant,
                                        const char *name, const char *config,
                                        int64_t created_ms, void *cookie,
                                        uint64_t *id)
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

enum store_status sq_submit_machine_create(struct store *s, const char *tenant,
                                           const char *name, const char *config,
                                           int64_t created_ms, void *cookie,
                                           uint64_t *id)
{
    return submit_machine(s, 0, 0, tenant, name, config, created_ms, cookie,
                          id);
}

enum store_status sq_submit_machine_fork(struct store *s, uint64_t parent,
                                         uint64_t parent_seq,
                                         const char *tenant, const char *name,
                                         const char *config, int64_t created_ms,
                                         void *cookie, uint64_t *id)
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

enum store_status sq_submit_machine_destroy(struct store *s, uint64_t id,
                                            int64_t destroyed_ms, void *cookie)
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

enum store_status sq_submit_checkpoint(struct store *s, uint64_t machine,
                                       uint64_t seq, const void *blob,
                                       size_t len, void *cookie)
{
    struct wreq *r;
    unsigned char *data;
    enum store_status rc;

    assert(s != NULL);
    if (machine == 0 || machine > (uint64_t)INT64_MAX || seq == 0 ||
        seq > (uint64_t)INT64_MAX || len == 0 || blob == NULL ||
        len > (size_t)INT32_MAX) {
        pthread_mutex_lock(&s->lock);
        set_err(s,
                "checkpoint of machine %" PRIu64 " at seq %" PRIu64
                ": invalid (machine and seq 1..2^63-1, 1..2^31-1 bytes)",
                machine, seq);
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&s->lock);
    rc = reserve(s, len, &r, &data);
    if (rc == STORE_OK) {
        r->kind = WREQ_CHECKPOINT;
        r->cookie = cookie;
        r->machine = machine;
        r->seq = seq;
        r->len = len;
        memcpy(data, blob, len);
        enqueue(s, len);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void sq_hold(struct store *s, bool on)
{
    pthread_mutex_lock(&s->lock);
    if (on) {
        s->holds++;
    } else if (s->holds > 0 && --s->holds == 0 && s->filling->n > 0 &&
               s->writer_idle) {
        s->writer_idle = false;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
}

enum store_status sq_submit_rkey(struct store *s, const struct store_rkey *k,
                                 void *cookie)
{
    const char *tenant = k->tenant != NULL ? k->tenant : "";
    size_t lt = strlen(tenant) + 1;
    struct wreq *r;
    unsigned char *data;
    enum store_status rc;

    pthread_mutex_lock(&s->lock);
    if (k->key == 0 || (k->reply == NULL && k->len > 0) ||
        k->machine > (uint64_t)INT64_MAX || k->ord == 0 ||
        k->ord > (uint64_t)INT64_MAX || k->target > (uint64_t)INT64_MAX ||
        k->len > (size_t)INT32_MAX) {
        set_err(s, "request key: invalid (key 0, or machine, ord or reply"
                   " out of range)");
        pthread_mutex_unlock(&s->lock);
        return STORE_INVALID_ARGUMENT;
    }
    rc = s->stopping ? check_room(s, 1, 0)
                     : reserve_slot(s, lt + k->len, &r, &data);
    if (rc == STORE_OK) {
        r->kind = WREQ_RKEY;
        r->cookie = cookie;
        r->machine = k->machine;
        r->seq = k->ord;
        r->parent = k->target;
        r->key = k->key;
        r->len = k->len;
        memcpy(data, tenant, lt);
        if (k->len > 0)
            memcpy(data + lt, k->reply, k->len);
        enqueue(s, lt + k->len);
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

static void wreq_fail(struct wreq *r, enum store_status status, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));

/* Fails one write of a batch that otherwise goes on. */
static void wreq_fail(struct wreq *r, enum store_status status, const char *fmt,
                      ...)
{
    char buf[STORE_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vformat(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->status = status;
    free(r->msg);
    r->msg = strdup(buf); /* NULL: reap names the status */
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
                         (uint64_t)sqlite3_column_int64(s->w_state, 2),
                         (uint64_t)sqlite3_column_int64(s->w_state, 3),
                         (uint64_t)sqlite3_column_int64(s->w_state, 4));
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

/* The seq of machine @m's last event, committed or earlier in this batch;
 * for a fork without events of its own, its parent_seq.  An event is
 * stored only if its seq is this + 1 (an append with an expected version),
 * so a machine's history has no gap and no reordering, whatever failed
 * before it. */
static uint64_t last_stored(struct store *s, const struct mslot *m)
{
    const struct cslot *c;
    uint64_t last;

    if (m->count > 0)
        return m->last_seq;
    c = ctab_get(&s->ct, m->id);
    if (c == NULL)
        return 0;
    last = c->last_seq;
    return last > c->base_seq ? last : c->base_seq;
}

/* The sum that machine @m's next event chains over. */
static uint64_t last_sum(struct store *s, const struct mslot *m)
{
    const struct cslot *c;

    if (m->count > 0)
        return m->last_sum;
    c = ctab_get(&s->ct, m->id);
    return c != NULL && c->last_sum != 0 ? c->last_sum
                                         : store__chain_seed(m->id);
}

void store__packs_destroy(struct store *s)
{
    uint32_t i;

    for (i = 0; i < PACK_SLOTS; i++) {
        free(s->pk[i].body);
        s->pk[i].body = NULL;
    }
}

/* Forgets every pending pack's events (rolled back with their unit or
 * batch). */
static void pack_drop(struct store *s)
{
    uint32_t i;

    for (i = 0; i < s->npk; i++) {
        struct pack *p = &s->pk[s->pk_used[i]];

        p->n = 0;
        p->len = 0;
    }
    s->npk = 0;
}

/* Writes pending pack @p (not empty) as one event_packs row.  An SQLite
 * code: a failure fails the batch (a duplicate row cannot happen, each
 * event's seq having been checked against the machine's last). */
static int pack_write(struct store *s, struct pack *p)
{
    sqlite3_stmt *st = s->w_event;
    int rc;

    sqlite3_bind_int64(st, 1, (sqlite3_int64)p->machine);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)p->first_seq);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)p->last_seq);
    sqlite3_bind_blob(st, 4, p->body, (int)p->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)p->sum);
    rc = wstep(s, st);
    p->n = 0;
    p->len = 0;
    return rc;
}

/* Writes every pending pack.  An SQLite code. */
static int pack_flush(struct store *s)
{
    uint32_t i;
    int rc = SQLITE_OK;

    for (i = 0; rc == SQLITE_OK && i < s->npk; i++) {
        struct pack *p = &s->pk[s->pk_used[i]];

        if (p->n > 0)
            rc = pack_write(s, p);
    }
    if (rc == SQLITE_OK)
        s->npk = 0;
    return rc;
}

/* Appends event @r (its @args bytes, its chained @sum) to its machine's
 * pending pack (a slot by machine id), first writing what that slot
 * holds if @r cannot continue it.  An SQLite code. */
static int pack_add(struct store *s, const struct wreq *r,
                    const unsigned char *args, uint64_t sum)
{
    uint32_t slot = (uint32_t)((r->machine * UINT64_C(0x9e3779b97f4a7c15)) >>
                               58); /* PACK_SLOTS = 64 */
    struct pack *p = &s->pk[slot];
    struct store_event ev = {
        .machine = r->machine,
        .seq = r->seq,
        .time_ms = r->time_ms,
        .op = r->op,
        .cpu = r->cpu,
        .nargs = (uint32_t)(r->len / 4),
        .value = r->value,
        .aux = r->aux,
        .flags = r->flags,
        .status = r->ev_status,
    };
    size_t need = pack_event_max(ev.nargs);
    int rc = SQLITE_OK;

    if (p->n > 0 && (p->machine != r->machine || p->last_seq + 1 != r->seq ||
                     p->n == PACK_EVENTS_MAX))
        rc = pack_write(s, p);
    if (rc != SQLITE_OK)
        return rc;
    if (!pack_room(&p->body, p->len, &p->cap, need)) {
        format(s->wmsg, sizeof(s->wmsg), "out of memory");
        return SQLITE_NOMEM;
    }
    if (p->n == 0) {
        uint32_t i;

        p->machine = r->machine;
        p->first_seq = r->seq;
        p->cur = (struct pack_cur){ 0, 0 };
        for (i = 0; i < s->npk && s->pk_used[i] != slot; i++)
            ;
        if (i == s->npk)
            s->pk_used[s->npk++] = (uint8_t)slot;
    }
    p->len += pack_put_bytes(p->body + p->len, &p->cur, &ev, args, sum);
    p->last_seq = r->seq;
    p->sum = sum;
    p->n++;
    return SQLITE_OK;
}

/* Each write_*() returns SQLITE_OK, also when only that write failed (it
 * then carries its own status), or the SQLite error that fails the batch. */
static int write_event(struct store *s, struct batch *b, struct wreq *r)
{
    int rc = SQLITE_OK;
    struct mslot *m = machine_state(s, r->machine, &rc);
    const unsigned char *args;
    uint64_t expected, sum;

    if (m == NULL)
        return rc;
    if (m->state != MACHINE_ALIVE) {
        wreq_fail(r, STORE_NOT_FOUND,
                  "event %" PRIu64 ": machine %" PRIu64 " %s", r->seq,
                  r->machine,
                  m->state == MACHINE_MISSING ? "does not exist"
                                              : "is destroyed");
        return SQLITE_OK;
    }
    expected = last_stored(s, m) + 1;
    if (r->seq != expected) {
        wreq_fail(r, STORE_CONFLICT,
                  "machine %" PRIu64 ": event seq %" PRIu64
                  " refused: expected seq %" PRIu64,
                  r->machine, r->seq, expected);
        return SQLITE_OK;
    }
    /* An event without arguments has no bytes, and a batch of only such
     * events no buffer: no pointer arithmetic on NULL. */
    args = r->len > 0 ? b->bytes + r->off : NULL;
    sum = store__event_sum(last_sum(s, m), r->machine, r->seq, r->time_ms,
                           r->op, r->cpu, args, r->len, r->value, r->aux,
                           r->flags, r->ev_status);
    rc = pack_add(s, r, args, sum);
    if (rc != SQLITE_OK)
        return rc;
    m->count++;
    m->last_seq = r->seq;
    m->last_sum = sum;
    r->sum = sum;
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
            wreq_fail(r, STORE_NOT_FOUND,
                      "fork: parent machine %" PRIu64 " does not exist",
                      r->parent);
            return SQLITE_OK;
        }
        /* The state it continues must be stored (a write of the parent
         * before it may have failed). */
        if (last_stored(s, p) < r->seq) {
            wreq_fail(r, STORE_CONFLICT,
                      "fork: parent machine %" PRIu64
                      " has events up to seq %" PRIu64 ", not %" PRIu64,
                      r->parent, last_stored(s, p), r->seq);
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
    sqlite3_bind_int64(st, 8,
                       (sqlite3_int64)store__machine_sum(
                           r->machine, tenant, name, config, r->time_ms,
                           r->parent, r->parent != 0 ? r->seq : 0));
    rc = wstep(s, st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        wreq_fail(r, STORE_ALREADY_EXISTS, "machine %" PRIu64 " already exists",
                  r->machine);
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
        c = ctab_add(&s->ct, r->machine, 0, 0, r->parent != 0 ? r->seq : 0, 0);
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
        wreq_fail(r, STORE_NOT_FOUND,
                  "destroy: machine %" PRIu64
                  " does not exist or is already destroyed",
                  r->machine);
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
 * (store__overlay_counts(); counts only grow).  The row is written at destroy
 * (write_destroy()) and at close (store__flush_counts()).  So that a crash
 * loses nothing, the first batch that adds events to a machine in a session
 * also sets its row's counts_stale, in the same transaction, and
 * sq_open() recounts the rows still marked (one range scan each, only
 * after a crash, in memory: store__load_stale_counts()).
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
        c->last_sum = m->last_sum;
        if (m->marking)
            c->marked = true;
    }
}

/* At close: writes the counts of the rows marked stale, in one
 * transaction.  If that fails they stay marked and the next open
 * recounts them. */
void store__flush_counts(struct store *s)
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

int store__load_stale_counts(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(
        s->wdb,
        "SELECT id, coalesce(parent_seq, 0),"
        " (SELECT coalesce(sum(last_seq - first_seq + 1), 0)"
        "  FROM event_packs WHERE machine = id),"
        " coalesce((SELECT max(last_seq) FROM event_packs"
        "  WHERE machine = id), 0),"
        " coalesce((SELECT sum FROM event_packs WHERE machine = id"
        "  ORDER BY first_seq DESC LIMIT 1), 0)"
        " FROM machines WHERE counts_stale = 1",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct cslot *c = ctab_add(&s->ct,
                                   (uint64_t)sqlite3_column_int64(st, 0),
                                   (uint64_t)sqlite3_column_int64(st, 2),
                                   (uint64_t)sqlite3_column_int64(st, 3),
                                   (uint64_t)sqlite3_column_int64(st, 1),
                                   (uint64_t)sqlite3_column_int64(st, 4));

        if (c == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        c->marked = true; /* its row is still marked */
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc;
}

/* A reader's row: the committed counts may be ahead of it. */
void store__overlay_counts(struct store *s, struct store_machine *m)
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

/* A checkpoint: its machine must be live and its events up to the seq
 * stored (the state it captures is theirs). */
static int write_checkpoint(struct store *s, struct batch *b, struct wreq *r)
{
    sqlite3_stmt *st = s->w_checkpoint;
    const unsigned char *blob = b->bytes + r->off;
    int rc = SQLITE_OK;
    struct mslot *m = machine_state(s, r->machine, &rc);

    if (m == NULL)
        return rc;
    if (m->state != MACHINE_ALIVE) {
        wreq_fail(r, STORE_NOT_FOUND, "checkpoint: machine %" PRIu64 " %s",
                  r->machine,
                  m->state == MACHINE_MISSING ? "does not exist"
                                              : "is destroyed");
        return SQLITE_OK;
    }
    if (last_stored(s, m) < r->seq) {
        wreq_fail(r, STORE_CONFLICT,
                  "checkpoint: machine %" PRIu64 " has "
                  "events up to seq %" PRIu64 ", not %" PRIu64,
                  r->machine, last_stored(s, m), r->seq);
        return SQLITE_OK;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->machine);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->seq);
    sqlite3_bind_blob(st, 3, blob, (int)r->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4,
                       (sqlite3_int64)store__checkpoint_sum(r->machine, r->seq,
                                                            blob, r->len));
    return wstep(s, st);
}

/* A request key: kept only if the write it follows (the nearest earlier
 * one of its cookie, in the same batch: store_hold()) was; the oldest
 * keys of its scope beyond STORE_RKEYS_KEPT go. */
static int write_rkey(struct store *s, struct batch *b, struct wreq *r)
{
    sqlite3_stmt *st = s->w_rkey;
    const char *tenant = (const char *)b->bytes + r->off;
    size_t lt = strlen(tenant) + 1;
    const struct wreq *w = r;
    int rc;

    while (w > b->req && (--w)->cookie != r->cookie)
        ;
    if (w == r || w->cookie != r->cookie || w->kind == WREQ_RKEY ||
        w->status != STORE_OK) {
        r->status = STORE_CONFLICT; /* its change was not kept */
        return SQLITE_OK;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->machine);
    sqlite3_bind_text(st, 2, tenant, (int)lt - 1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)r->key);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)r->seq);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)r->parent);
    sqlite3_bind_blob(st, 6, b->bytes + r->off + lt, (int)r->len,
                      SQLITE_STATIC);
    rc = wstep(s, st);
    if (rc != SQLITE_OK || r->seq <= STORE_RKEYS_KEPT ||
        r->seq % STORE_RKEYS_TRIM != 0)
        return rc;
    st = s->w_rkey_trim;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->machine);
    sqlite3_bind_text(st, 2, tenant, (int)lt - 1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(r->seq - STORE_RKEYS_KEPT));
    return wstep(s, st);
}

static int write_one(struct store *s, struct batch *b, struct wreq *r)
{
    switch (r->kind) {
    case WREQ_EVENT:
        return write_event(s, b, r);
    case WREQ_CREATE:
        return write_create(s, b, r);
    case WREQ_DESTROY:
        return write_destroy(s, b, r);
    case WREQ_CHECKPOINT:
        return write_checkpoint(s, b, r);
    case WREQ_RKEY:
        return write_rkey(s, b, r);
    }
    return SQLITE_MISUSE;
}

/*
 * Writes the unit of @n events that begins at @u (sq_submit_events():
 * one machine) inside a savepoint: all of them are kept, or, if one is
 * refused, none, and every write of the unit carries that refusal.
 * Returns as write_one().
 */
static int write_unit(struct store *s, struct batch *b, struct wreq *u,
                      uint32_t n)
{
    struct mslot *m, saved;
    uint64_t nevents = b->nevents;
    const struct wreq *bad = NULL;
    uint32_t i;
    int rc = SQLITE_OK;

    m = machine_state(s, u->machine, &rc);
    if (m == NULL)
        return rc;
    saved = *m;
    rc = pack_flush(s); /* what the savepoint keeps is written */
    if (rc == SQLITE_OK)
        rc = wstep(s, s->w_unit);
    for (i = 0; rc == SQLITE_OK && i < n && bad == NULL; i++) {
        rc = write_event(s, b, &u[i]);
        if (u[i].status != STORE_OK)
            bad = &u[i];
    }
    if (rc != SQLITE_OK)
        return rc; /* the whole batch fails */
    if (bad != NULL) {
        char why[STORE_MSG_MAX];

        format(why, sizeof(why), "%s",
               bad->msg != NULL ? bad->msg : store_status_name(bad->status));
        pack_drop(s); /* the unit's own events only */
        rc = wstep(s, s->w_unit_undo);
        if (rc != SQLITE_OK)
            return rc;
        m = machine_state(s, u->machine, &rc);
        if (m == NULL)
            return rc;
        *m = saved;
        b->nevents = nevents;
        for (i = 0; i < n; i++)
            wreq_fail(&u[i], bad->status,
                      "%s (a unit of %" PRIu32 " events:"
                      " none kept)",
                      why, n);
    }
    return wstep(s, s->w_unit_end);
}

void store__head_write(struct store *s)
{
    unsigned char rec[HEAD_BYTES];
    const uint64_t v[4] = { s->head.machine, s->head.seq, s->head.sum,
                            s->head.max_id };
    int i, j;

    if (s->lock_fd < 0)
        return;
    memcpy(rec, HEAD_MAGIC, 16);
    for (i = 0; i < 4; i++)
        for (j = 0; j < 8; j++)
            rec[16 + 8 * i + j] = (unsigned char)(v[i] >> (8 * j));
    if (pwrite(s->lock_fd, rec, sizeof(rec), 0) != (ssize_t)sizeof(rec))
        return; /* benign: the check is skipped */
}

/* After @b committed: the head record names its last event and machine. */
static void head_advance(struct store *s, const struct batch *b)
{
    bool moved = false;
    size_t i;

    for (i = b->n; i-- > 0;) {
        const struct wreq *r = &b->req[i];

        if (r->status != STORE_OK)
            continue;
        if (r->kind == WREQ_EVENT && !moved) {
            s->head.machine = r->machine;
            s->head.seq = r->seq;
            s->head.sum = r->sum;
            moved = true;
        } else if (r->kind == WREQ_CREATE && r->machine > s->head.max_id) {
            s->head.max_id = r->machine;
            moved = true;
        }
    }
    if (moved)
        store__head_write(s);
}

/* Commits @b in one transaction, or rolls it all back and records why.
 * A unit of several writes is never split: sq_submit_events() queues
 * it whole into one batch, under one hold of the lock. */
static void commit_batch(struct store *s, struct batch *b)
{
    size_t i, k;
    int rc;

    mtab_clear(&s->mt);
    pack_drop(s);
    rc = wstep(s, s->w_begin);
    for (i = 0; rc == SQLITE_OK && i < b->n; i += k) {
        struct wreq *r = &b->req[i];

        k = r->unit > 1 ? r->unit : 1;
        assert(r->unit != 0 && i + k <= b->n);
        if (k > 1)
            rc = write_unit(s, b, r, (uint32_t)k);
        else
            rc = write_one(s, b, r);
        b->nfailed += r->status != STORE_OK && r->kind != WREQ_RKEY ? k : 0;
    }
    if (rc == SQLITE_OK)
        rc = pack_flush(s);
    pack_drop(s); /* a failed batch's pending events go with it */
    if (rc == SQLITE_OK)
        rc = write_marks(s);
    if (rc == SQLITE_OK && s->fail_permille > 0 &&
        (unsigned)rand_r(&s->fail_seed) % 1000 < s->fail_permille) {
        format(s->wmsg, sizeof(s->wmsg),
               "injected commit failure "
               "(ARMMAPD_TEST_FAIL_COMMITS)");
        rc = SQLITE_IOERR;
    }
    if (rc == SQLITE_OK)
        rc = wstep(s, s->w_commit);
    if (rc == SQLITE_OK) {
        b->status = STORE_OK;
        head_advance(s, b);
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

/* A purge statement's parameters: ?1 the cutoff, ?2 the tenant (NULL:
 * every tenant's machines). */
static void bind_purge(sqlite3_stmt *st, const struct ctl *c)
{
    sqlite3_bind_int64(st, 1, c->cutoff);
    if (c->tenant != NULL)
        sqlite3_bind_text(st, 2, c->tenant, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
}

/* Deletes the purged machines' rows of events; *@events: how many events
 * they held.  An SQLite code. */
static int purge_events(struct store *s, uint64_t *events)
{
    sqlite3_stmt *st = s->w_purge_events;
    int rc;

    *events = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *events += (uint64_t)sqlite3_column_int64(st, 0);
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    else
        format(s->wmsg, sizeof(s->wmsg), "%s", sqlite3_errmsg(s->wdb));
    sqlite3_reset(st);
    return rc;
}

static void run_purge(struct store *s, struct ctl *c)
{
    int rc;

    bind_purge(s->w_purge_events, c);
    bind_purge(s->w_purge_checkpoints, c);
    bind_purge(s->w_purge_machines, c);
    bind_purge(s->w_purge_rkeys, c);
    rc = wstep(s, s->w_begin);
    if (rc == SQLITE_OK)
        rc = purge_events(s, &c->events);
    if (rc == SQLITE_OK)
        rc = wstep(s, s->w_purge_checkpoints);
    if (rc == SQLITE_OK)
        rc = wstep(s, s->w_purge_rkeys);
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
    /* The head's event may be gone with its machine. */
    if (c->events > 0) {
        s->head.machine = s->head.seq = s->head.sum = 0;
        store__head_write(s);
    }
    /* Benign if it fails: the pages stay on the freelist and are reused. */
    if (c->result > 0) {
        while (sqlite3_step(s->w_vacuum) == SQLITE_ROW)
            ;
        sqlite3_reset(s->w_vacuum);
    }
    c->status = STORE_OK;
}

/* An inline store (sq_test_inline_writer(): the fuzz harnesses, which
 * reset after every input that wrote) empties its tables with no rollback
 * journal: journalling the pages that a reset frees (16 KiB each, copied
 * into the memdb journal in 1 KiB chunks) was half of its cost.  Nothing
 * rolls a reset back but its own failure, which fails the harness; the
 * journal (memdb's MEMORY) is back before any other write, or the reset
 * fails: journal_back().  Turning it off may fail: it then stays on. */
static void journal_off(struct store *s)
{
    (void)sqlite3_exec(s->wdb, "PRAGMA journal_mode = OFF", NULL, NULL, NULL);
}

/* True if the writer's connection journals in memory again. */
static bool journal_back(struct store *s)
{
    sqlite3_stmt *st;
    bool ok = false;

    if (sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode = MEMORY", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(st, 0);

        ok = mode != NULL && strcmp((const char *)mode, "memory") == 0;
    }
    if (!ok)
        format(s->wmsg, sizeof(s->wmsg), "journal_mode stays off: %s",
               sqlite3_errmsg(s->wdb));
    sqlite3_finalize(st);
    return ok;
}

/* The statements of a reset, prepared at the first and kept: the
 * fuzzers reset once per input, and parsing them each time was half the
 * writer thread's work there.  w_reset_probe gives one column per table,
 * non-NULL if it holds a row; a DELETE runs only on those (on an empty
 * table it still journals the root page: most of a reset's cost), and
 * with none, no transaction either.  *@deleted: the tables emptied;
 * *@unjournalled: an inline store's journal was turned off. */
static int reset_rows(struct store *s, uint32_t *deleted, bool *unjournalled)
{
    static const char *const sql[] = {
        "DELETE FROM event_packs",     "DELETE FROM checkpoints",
        "DELETE FROM machines",        "DELETE FROM request_keys",
        "DELETE FROM sqlite_sequence",
    };
    static const char probe[] = "SELECT (SELECT 1 FROM event_packs LIMIT 1),"
                                " (SELECT 1 FROM checkpoints LIMIT 1),"
                                " (SELECT 1 FROM machines LIMIT 1),"
                                " (SELECT 1 FROM request_keys LIMIT 1),"
                                " (SELECT 1 FROM sqlite_sequence LIMIT 1)";
    _Static_assert(sizeof(sql) / sizeof(sql[0]) ==
                       sizeof(s->w_reset) / sizeof(s->w_reset[0]),
                   "one statement per w_reset slot");
    bool full[sizeof(sql) / sizeof(sql[0])];
    uint32_t n = 0;
    size_t i;
    int rc;

    if (s->w_reset_probe == NULL &&
        sqlite3_prepare_v2(s->wdb, probe, -1, &s->w_reset_probe, NULL) !=
            SQLITE_OK) {
        format(s->wmsg, sizeof(s->wmsg), "%s", sqlite3_errmsg(s->wdb));
        return SQLITE_ERROR;
    }
    rc = sqlite3_step(s->w_reset_probe);
    if (rc != SQLITE_ROW) {
        format(s->wmsg, sizeof(s->wmsg), "%s", sqlite3_errmsg(s->wdb));
        sqlite3_reset(s->w_reset_probe);
        return rc == SQLITE_OK ? SQLITE_ERROR : rc;
    }
    for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        full[i] = sqlite3_column_type(s->w_reset_probe, (int)i) != SQLITE_NULL;
        n += full[i];
    }
    sqlite3_reset(s->w_reset_probe);
    *deleted = n;
    if (n == 0)
        return SQLITE_OK;
    if (s->inline_writer) {
        journal_off(s);
        *unjournalled = true;
    }
    rc = wstep(s, s->w_begin);
    for (i = 0; rc == SQLITE_OK && i < sizeof(sql) / sizeof(sql[0]); i++) {
        if (!full[i])
            continue;
        if (s->w_reset[i] == NULL &&
            sqlite3_prepare_v2(s->wdb, sql[i], -1, &s->w_reset[i], NULL) !=
                SQLITE_OK) {
            format(s->wmsg, sizeof(s->wmsg), "%s", sqlite3_errmsg(s->wdb));
            return SQLITE_ERROR;
        }
        rc = wstep(s, s->w_reset[i]);
    }
    return rc == SQLITE_OK ? wstep(s, s->w_commit) : rc;
}

/* sq_reset(): every row goes, AUTOINCREMENT's counter too; then the
 * writer's own memory of machines.  The caller made sure nothing is
 * queued. */
static void run_reset(struct store *s, struct ctl *c)
{
    uint32_t deleted = 0;
    bool unjournalled = false;
    int rc = reset_rows(s, &deleted, &unjournalled);

    if (rc != SQLITE_OK) {
        format(c->msg, sizeof(c->msg), "reset: %s", s->wmsg);
        if (!sqlite3_get_autocommit(s->wdb))
            wstep(s, s->w_rollback);
    }
    if (unjournalled && !journal_back(s)) {
        if (rc == SQLITE_OK)
            format(c->msg, sizeof(c->msg), "reset: %s", s->wmsg);
        rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) {
        c->status = STORE_UNAVAILABLE;
        return;
    }
    memset(&s->head, 0, sizeof(s->head));
    pthread_mutex_lock(&s->lock);
    if (s->ct.cap > 0)
        memset(s->ct.slot, 0, s->ct.cap * sizeof(*s->ct.slot));
    s->ct.n = 0;
    s->next_id = 1;
    s->st.commits = s->st.failed_batches = s->st.events = 0;
    s->st.machines_created = s->st.machines_destroyed = 0;
    s->st.writes_failed = s->st.largest_batch = 0;
    s->st.reset_deletes = deleted;
    pthread_mutex_unlock(&s->lock);
    c->status = STORE_OK;
}

static void run_ctl(struct store *s, struct ctl *c)
{
    switch (c->kind) {
    case CTL_PURGE:
        run_purge(s, c);
        break;
    case CTL_RESET:
        run_reset(s, c);
        break;
    case CTL_MAX_BYTES:
        if (pragma_int(s->wdb, "max_page_count",
                       store__max_pages(s, c->bytes)) != SQLITE_OK) {
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

    (void)n; /* EAGAIN: the counter is already set */
}

/* Makes sure an empty batch is spare for take_filling().  Called and
 * returns with s->lock held, but drops it to allocate: a store_hold()
 * may begin meanwhile, so the caller looks at the state again.  False if
 * out of memory. */
static bool spare_batch(struct store *s)
{
    struct batch *fresh;

    pthread_mutex_unlock(&s->lock);
    fresh = calloc(1, sizeof(*fresh));
    pthread_mutex_lock(&s->lock);
    if (fresh == NULL)
        return false;
    fresh->next = s->spare;
    s->spare = fresh;
    s->nspare++;
    return true;
}

/* Takes the filling batch, leaving a spare empty one in its place,
 * without dropping s->lock: nothing submitted under a store_hold() is
 * taken apart from the rest of it. */
static struct batch *take_filling(struct store *s)
{
    struct batch *b = s->filling;
    struct batch *fresh = s->spare;

    assert(fresh != NULL && s->holds == 0);
    s->spare = fresh->next;
    s->nspare--;
    fresh->next = NULL;
    s->filling = fresh;
    return b;
}

/* Commits @b, just taken from s->filling under s->lock, and hands it to
 * sq_reap(): the lock is dropped while SQLite works and held again on
 * return.  The writer thread's work, or sq_test_pump()'s. */
static void commit_taken(struct store *s, struct batch *b)
{
    struct timespec cpu = { 0, 0 };
    bool timed =
        !s->inline_writer; /* inline: the caller's CPU, not a writer's */

    pthread_mutex_unlock(&s->lock);
    commit_batch(s, b);
    if (timed)
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    pthread_mutex_lock(&s->lock);
    if (timed)
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
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
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
        if (s->filling->n > 0 && s->holds == 0) {
            if (s->spare == NULL) {
                if (!spare_batch(s)) { /* out of memory: retry shortly */
                    struct timespec ts = { 0, 10 * 1000 * 1000 };

                    pthread_mutex_unlock(&s->lock);
                    nanosleep(&ts, NULL);
                    pthread_mutex_lock(&s->lock);
                }
                continue; /* the lock was dropped: look again */
            }
            commit_taken(s, take_filling(s));
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

/* ------------------------------------------------------------------ */
/* Test mode: the writer's work on the caller's thread                 */
/* ------------------------------------------------------------------ */

/* Serializes the writer's work of every inline store: the caller that
 * pumps (the loop) and those that hand a control request (purge.c's
 * threads) never use s->wdb at the same time. */
static pthread_mutex_t inline_lock = PTHREAD_MUTEX_INITIALIZER;

int sq_test_inline_writer(struct store *s)
{
    if (s->be != &store_sqlite_backend || !s->memory || !s->thread_started)
        return -1;
    pthread_mutex_lock(&s->lock);
    s->stopping = true; /* the writer commits what is queued and ends */
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&s->lock);
    s->thread_started = false;
    s->inline_writer = true;
    s->stopping = false;
    s->writer_idle = false;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* What writer_main() does with the filling batch, until none is left to
 * take (a hold keeps it for the next pump). */
void sq_test_pump(struct store *s)
{
    assert(s->inline_writer);
    pthread_mutex_lock(&inline_lock);
    pthread_mutex_lock(&s->lock);
    while (s->filling->n > 0 && s->holds == 0) {
        if (s->spare == NULL) {
            if (!spare_batch(s))
                break; /* out of memory: the next pump tries again */
            continue;  /* the lock was dropped: look again */
        }
        commit_taken(s, take_filling(s));
    }
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&inline_lock);
}

/* Hands @c to the writer and waits until it is done; any thread.  Its
 * failure's message stays in c->msg: sq_errmsg() is not touched.  An
 * inline store runs it here, as the writer would between two batches. */
static enum store_status hand_ctl(struct store *s, struct ctl *c)
{
    if (s->inline_writer) {
        pthread_mutex_lock(&inline_lock);
        run_ctl(s, c);
        pthread_mutex_unlock(&inline_lock);
        return c->status;
    }
    pthread_mutex_lock(&s->lock);
    while (s->ctl != NULL && !s->stopping)
        pthread_cond_wait(&s->progress, &s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        format(c->msg, sizeof(c->msg), "store is closing");
        c->status = STORE_UNAVAILABLE;
        return STORE_UNAVAILABLE;
    }
    s->ctl = c;
    s->writer_idle = false;
    pthread_cond_signal(&s->wake);
    while (!c->done)
        pthread_cond_wait(&s->progress, &s->lock);
    s->ctl = NULL;
    pthread_cond_broadcast(&s->progress);
    pthread_mutex_unlock(&s->lock);
    return c->status;
}

/* hand_ctl() for the thread that owns sq_errmsg(), which it sets. */
static enum store_status call_writer(struct store *s, struct ctl *c)
{
    enum store_status rc = hand_ctl(s, c);

    if (rc != STORE_OK)
        set_err(s, "%s", c->msg);
    return rc;
}

size_t sq_reap(struct store *s,
               void (*done)(void *arg, void *cookie, enum store_status status,
                            const char *msg),
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

            if (r->unit == 0 || r->kind == WREQ_RKEY)
                continue; /* with its unit's first; keys: never */
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
        store__batch_reset(b);
        if (s->nspare < SPARE_BATCHES) {
            b->next = s->spare;
            s->spare = b;
            s->nspare++;
        } else {
            store__batch_destroy(b);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

void sq_flush(struct store *s)
{
    uint64_t target;

    if (s->inline_writer) {
        sq_test_pump(s);
        return;
    }
    pthread_mutex_lock(&s->lock);
    target = s->submitted;
    while (s->processed < target)
        pthread_cond_wait(&s->progress, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

void sq_stats(struct store *s, struct store_stats *st)
{
    pthread_mutex_lock(&s->lock);
    *st = s->st;
    st->queued = s->inflight;
    pthread_mutex_unlock(&s->lock);
}

enum store_status sq_set_max_bytes(struct store *s, uint64_t bytes)
{
    struct ctl c;

    memset(&c, 0, sizeof(c));
    c.kind = CTL_MAX_BYTES;
    c.bytes = bytes;
    return call_writer(s, &c);
}

enum store_status sq_reset(struct store *s)
{
    struct ctl c;
    bool idle;

    assert(s != NULL);
    if (!s->memory) {
        set_err(s, "reset: %s is a database file, not :memory:", s->path);
        return STORE_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&s->lock);
    idle = s->inflight == 0 && s->filling->n == 0 && s->done_head == NULL;
    pthread_mutex_unlock(&s->lock);
    if (!idle) {
        set_err(s, "reset: writes are still queued or unreaped");
        return STORE_BUSY;
    }
    memset(&c, 0, sizeof(c));
    c.kind = CTL_RESET;
    return call_writer(s, &c);
}

enum store_status sq_purge(struct store *s, const char *tenant,
                           int64_t older_than_ms, int64_t now_ms,
                           uint64_t *purged, uint64_t *events)
{
    char msg[STORE_MSG_MAX];
    enum store_status rc = sq_purge_r(s, tenant, older_than_ms, now_ms, purged,
                                      events, msg, sizeof(msg));

    if (rc != STORE_OK)
        set_err(s, "%s", msg);
    return rc;
}

enum store_status sq_purge_r(struct store *s, const char *tenant,
                             int64_t older_than_ms, int64_t now_ms,
                             uint64_t *purged, uint64_t *events, char *err,
                             size_t errsz)
{
    struct ctl c;
    enum store_status rc;

    memset(&c, 0, sizeof(c));
    c.kind = CTL_PURGE;
    c.cutoff = now_ms - older_than_ms;
    c.tenant = tenant;
    rc = hand_ctl(s, &c);
    if (purged != NULL)
        *purged = c.result;
    if (events != NULL)
        *events = c.events;
    if (rc != STORE_OK && errsz > 0)
        format(err, errsz, "%s", c.msg);
    return rc;
}
