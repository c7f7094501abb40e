/* daemon/persist.c - the store: submitting changes, commits, recovery.
 *
 * Every successful change is handed to the store's writer (store.h) with a
 * cookie that is its ticket (commit.c hands them out and decides what a
 * failed write means); the store's in-order completions (store_reap) map
 * onto srv_commit_reaped() calls in ticket order.  A Batch's events go to
 * the store as one unit, committed whole or not at all.  The store's
 * notify fd is watched by a persistent libevent event; its callback reaps.
 *
 * Queue room: the store refuses writes (STORE_BUSY) once its queue is full,
 * but an engine change cannot be taken back cheaply, so the daemon asks
 * before applying anything: srv_persist_has_room() keeps a margin of one
 * full batch, and connections wait (not read) until the next reap.
 *
 * Clones and forks record their parent instead of copying history: the
 * store keeps (parent P, parent_seq SEQ) with the machine's row, meaning
 * "the state of machine P after its event SEQ" (store_submit_machine_fork).
 * Their own events continue at SEQ + 1.  Replaying one replays the
 * ancestors' events first (P up to SEQ, recursively), then its own.  A
 * clone therefore costs one row, however long the history, and the store's
 * purge keeps every ancestor that a live machine replays from.
 *
 * Recovery at start: every live machine is rebuilt from its config by
 * replaying its events through mm_replay(); a mismatch leaves that machine
 * broken (answering INTERNAL with the mismatch) and the others are served.
 */
#include "srv.h"
#include "event_replay.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <event2/event.h>

#include "store.h"

#define QUEUE_BASE 65536u /* writes in flight before pausing */
#define WARN_MAX   1024   /* a store or engine message, more */

/* Where a replay reads (the loop thread's reader, or a worker's own) and
 * what it has to say beside its result: a damaged checkpoint it skipped
 * (logged by the caller, on the loop thread). */
struct replay_env {
    struct store_reader *rd;
    char warn[WARN_MAX];
};

#define FORK_JOBS 4 /* fork replays running or done */

/* One fork's replay on a worker thread (see "Fork replays"): the data
 * of a jobs.c slot. */
struct fork_job {
    uint64_t id, upto;     /* the source and the fork's seq */
    char *config;          /* the source's */
    struct replay_env env; /* its reader (the slot's) and warning */
    /* Filled by the thread: */
    struct mm_machine *m;
    enum mm_status st;
    char err[SRV_MSG_MAX];
};

struct srv_persist {
    struct store *st;
    struct event *ev;                /* store_notify_fd() readable */
    struct srv_jobs *jobs;           /* fork replays (jobs.c) */
    struct fork_job fork[FORK_JOBS]; /* their data */
    uint64_t inflight;               /* submitted, not reaped */
    uint64_t margin;                 /* room one request may need */
    uint64_t resets;                 /* store_reset() calls that ran */
    /* A write may have reached the store since it was opened or last
     * emptied: set before every submit and purge (a purge runs on a
     * worker thread, joined before a reset reads this). */
    atomic_bool written;
    char path[4096];
};

static void take_checkpoint(struct srv *s, struct srv_machine *sm);
static int fork_jobs_open(struct srv *s);
static void fork_jobs_drop(struct srv_persist *p);
static void fork_jobs_close(struct srv_persist *p);

static void on_reaped(void *arg, void *cookie, enum store_status status,
                      const char *msg)
{
    struct srv *s = arg;

    if (status == STORE_FENCED)
        srv_commit_head_lost(s); /* cluster: another node's now */
    s->persist->inflight -= srv_commit_reaped(s, (uint64_t)(uintptr_t)cookie,
                                              status == STORE_OK, msg);
    if (status != STORE_OK)
        srv_log(SRV_LOG_ERROR, "store: write %" PRIu64 " failed: %s: %s",
                (uint64_t)(uintptr_t)cookie, store_status_name(status), msg);
}

static void reap(struct srv *s)
{
    bool was_full = !srv_persist_has_room(s);

    store_reap(s->persist->st, on_reaped, s);
    srv_conn_send_pending(s);
    /* Connections paused for queue room, or deferred until their own
     * changes are answered (srv_conn_defer()), go on. */
    if ((was_full || s->store_waiters > 0) && srv_persist_has_room(s))
        srv_conn_store_room(s);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reap(arg);
}

int srv_persist_open(struct srv *s, char *err, size_t errsz)
{
    struct store_options opt;
    struct srv_persist *p = calloc(1, sizeof(*p));
    char msg[STORE_MSG_MAX];

    if (p == NULL) {
        snprintf(err, errsz, "armmapd: out of memory");
        return -1;
    }
    snprintf(p->path, sizeof(p->path), "%s", s->st->database);
    memset(&opt, 0, sizeof(opt));
    opt.durability = s->st->durability == SRV_DURABILITY_FULL ? STORE_FULL
                                                              : STORE_NORMAL;
    p->margin = s->st->max_batch_ops + 16;
    opt.queue_max = (uint32_t)(QUEUE_BASE + p->margin);
    opt.queue_bytes_max = (size_t)1 << 30;
    opt.max_bytes = s->st->max_db_size;
    opt.node = s->st->node; /* cluster mode (cluster.c) */
    if (srv_commit_open(s) != 0) {
        snprintf(err, errsz, "armmapd: out of memory");
        free(p);
        return -1;
    }
    if (store_open(p->path, &opt, &p->st, msg) != STORE_OK) {
        snprintf(err, errsz, "armmapd: store: %s", msg);
        srv_commit_close(s);
        free(p);
        return -1;
    }
    if (store_open_warning(p->st)[0] != '\0')
        srv_log(SRV_LOG_ERROR, "store: %s", store_open_warning(p->st));
    p->ev = event_new(s->base, store_notify_fd(p->st), EV_READ | EV_PERSIST,
                      on_notify, s);
    if (p->ev == NULL || event_add(p->ev, NULL) != 0) {
        snprintf(err, errsz, "armmapd: store: cannot watch its notify fd");
        event_free(p->ev);
        store_close(p->st);
        srv_commit_close(s);
        free(p);
        return -1;
    }
    atomic_init(&p->written, true); /* recovery may have written */
    s->persist = p;
    if (fork_jobs_open(s) != 0) {
        snprintf(err, errsz,
                 "armmapd: cannot create the fork replays' "
                 "eventfd");
        srv_persist_close(s);
        return -1;
    }
    return 0;
}

void srv_persist_close(struct srv *s)
{
    struct srv_persist *p = s->persist;

    if (p == NULL)
        return;
    srv_cluster_close(s); /* its heartbeat uses the store */
    fork_jobs_close(p);
    store_flush(p->st);
    store_reap(p->st, on_reaped, s);
    srv_conn_send_pending(s);
    event_free(p->ev);
    store_close(p->st);
    srv_commit_close(s);
    free(p);
    s->persist = NULL;
}

enum mm_status srv_persist_reset(struct srv *s, char *err, size_t errsz)
{
    struct srv_persist *p = s->persist;

    fork_jobs_drop(p); /* no reader runs while the store empties */
    store_flush(p->st);
    store_reap(p->st, on_reaped, s);
    p->inflight = 0;
    if (!atomic_load(&p->written))
        return MM_OK; /* still as emptied: nothing to undo */
    if (store_reset(p->st) != STORE_OK) {
        snprintf(err, errsz, "store: %s", store_errmsg(p->st));
        return MM_UNAVAILABLE;
    }
    p->resets++;
    atomic_store(&p->written, false);
    return MM_OK;
}

uint64_t srv_persist_store_resets(const struct srv *s)
{
    return s->persist->resets;
}

struct store *srv_persist_store(struct srv *s)
{
    return s->persist->st;
}

bool srv_persist_has_room(const struct srv *s)
{
    return s->persist->inflight < QUEUE_BASE;
}

void srv_persist_flush(struct srv *s)
{
    store_flush(s->persist->st);
}

uint64_t srv_persist_commits(struct srv *s)
{
    struct store_stats st;

    if (s->persist == NULL || s->persist->st == NULL)
        return 0;
    store_stats(s->persist->st, &st);
    return st.commits;
}

/* Maps an immediate submit failure to a message; returns 0 (no ticket). */
static uint64_t submit_failed(struct srv_persist *p, enum store_status st,
                              char *err, size_t errsz)
{
    snprintf(err, errsz, "store: %s: %s", store_status_name(st),
             store_errmsg(p->st)[0] ? store_errmsg(p->st) : "write refused");
    return 0;
}

/* Before any write is handed to the store (see struct srv_persist). */
static void touch(struct srv_persist *p)
{
    atomic_store_explicit(&p->written, true, memory_order_relaxed);
}

uint64_t srv_persist_create(struct srv *s, struct srv_machine *sm, char *err,
                            size_t errsz)
{
    struct srv_persist *p = s->persist;
    void *cookie = (void *)(uintptr_t)srv_commit_next_ticket(s);
    enum store_status st;
    uint64_t ticket;

    touch(p);
    if (sm->parent != 0)
        st = store_submit_machine_fork(p->st, sm->parent, sm->parent_seq,
                                       sm->tenant, sm->name, sm->config,
                                       sm->created_ms, cookie, &sm->id);
    else
        st = store_submit_machine_create(p->st, sm->tenant, sm->name,
                                         sm->config, sm->created_ms, cookie,
                                         &sm->id);
    if (st != STORE_OK)
        return submit_failed(p, st, err, errsz);
    p->inflight++;
    sm->committed_seq = sm->parent_seq;
    ticket = srv_commit_track(s, sm, SRV_WRITE_CREATE, 0, 1);
    /* A clone or fork starts from a checkpoint of its own, so its replay
     * never walks its ancestry. */
    if (sm->parent != 0 && sm->parent_seq != 0 && sm->m != NULL &&
        mm_seq(sm->m) == sm->parent_seq)
        take_checkpoint(s, sm);
    return ticket;
}

/* Saves @sm's engine state at its current seq as a checkpoint (a write
 * like the others, reaped in order; a failure only means replay starts
 * further back).  Benign if the snapshot or the submit fails. */
static void take_checkpoint(struct srv *s, struct srv_machine *sm)
{
    struct srv_persist *p = s->persist;
    struct mm_buf b;
    uint64_t seq;

    if (sm->m == NULL || (seq = mm_seq(sm->m)) == 0)
        return;
    memset(&b, 0, sizeof(b));
    touch(p);
    if (mm_snapshot(sm->m, &b) == MM_OK && !b.oom &&
        store_submit_checkpoint(p->st, sm->id, seq, b.data, b.len,
                                (void *)(uintptr_t)srv_commit_next_ticket(s)) ==
            STORE_OK) {
        p->inflight++;
        srv_commit_track(s, sm, SRV_WRITE_CHECKPOINT, seq, 1);
    }
    mm_buf_free(&b);
}

uint64_t srv_persist_destroy(struct srv *s, struct srv_machine *sm, char *err,
                             size_t errsz)
{
    struct srv_persist *p = s->persist;
    enum store_status st;

    touch(p);
    st = store_submit_machine_destroy(p->st, sm->id, srv_now_ms(),
                                      (void *)(uintptr_t)srv_commit_next_ticket(
                                          s));
    if (st != STORE_OK)
        return submit_failed(p, st, err, errsz);
    p->inflight++;
    return srv_commit_track(s, sm, SRV_WRITE_DESTROY, 0, 1);
}

uint64_t srv_persist_event(struct srv *s, struct srv_machine *sm,
                           const struct mm_op *op, const struct mm_result *res,
                           char *err, size_t errsz)
{
    struct store_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.machine = sm->id;
    ev.seq = res->seq;
    ev.time_ms = srv_now_ms();
    ev.op = op->code;
    ev.cpu = op->cpu;
    ev.nargs = op->nargs;
    ev.args = op->args;
    ev.value = res->value;
    ev.aux = res->aux;
    ev.flags = res->flags;
    ev.status = (int32_t)res->status;
    return srv_persist_events(s, sm, &ev, 1, err, errsz);
}

uint64_t srv_persist_events(struct srv *s, struct srv_machine *sm,
                            const struct store_event *ev, size_t n, char *err,
                            size_t errsz)
{
    struct srv_persist *p = s->persist;
    enum store_status st;
    uint64_t ticket, every;

    touch(p);
    st = store_submit_events(p->st, ev, n,
                             (void *)(uintptr_t)srv_commit_next_ticket(s));
    if (st != STORE_OK)
        return submit_failed(p, st, err, errsz);
    p->inflight += n;
    sm->events += n;
    ticket = srv_commit_track(s, sm, SRV_WRITE_EVENTS, ev[n - 1].seq, n);
    every = s->st->checkpoint_every;
    if (every != 0 && ev[n - 1].seq / every != (ev[0].seq - 1) / every)
        take_checkpoint(s, sm);
    return ticket;
}

void srv_persist_hold(struct srv *s, bool on)
{
    if (on)
        store_hold(s->persist->st);
    else
        store_release(s->persist->st);
}

enum mm_status srv_persist_rkey(struct srv *s, const struct store_rkey *k,
                                uint64_t ticket)
{
    touch(s->persist);
    if (store_submit_rkey(s->persist->st, k, (void *)(uintptr_t)ticket) ==
        STORE_OK)
        return MM_OK;
    srv_log(SRV_LOG_ERROR, "store: request key not kept: %s",
            store_errmsg(s->persist->st));
    return MM_UNAVAILABLE;
}

enum mm_status srv_persist_rkeys(
    struct srv *s, uint64_t machine, const char *tenant, uint64_t key,
    int (*fn)(void *arg, const struct store_rkey *k), void *arg)
{
    if (store_rkeys(s->persist->st, machine, tenant, key, fn, arg) == STORE_OK)
        return MM_OK;
    srv_log(SRV_LOG_ERROR, "store: request keys: %s",
            store_errmsg(s->persist->st));
    return MM_UNAVAILABLE;
}

/* ------------------------------------------------------------------ */
/* Replay                                                              */
/* ------------------------------------------------------------------ */

/* Where a replay reads (the loop thread's reader, or a worker's own) and
 * what it has to say beside its result: a damaged checkpoint it skipped
 * (logged by the caller, on the loop thread). */

struct replay_ctx {
    struct mm_machine *m;
    uint64_t last_seq;
    uint64_t count;
    enum mm_status st;
    char *err;
    size_t errsz;
};

static int replay_one(void *arg, const struct store_event *ev)
{
    struct replay_ctx *rc = arg;
    char msg[MM_MSG_MAX];

    if (srv_event_replay(rc->m, ev, msg) != MM_OK) {
        rc->st = MM_INTERNAL;
        snprintf(rc->err, rc->errsz, "replay of machine %" PRIu64 " failed: %s",
                 ev->machine, msg);
        return 1;
    }
    rc->last_seq = ev->seq;
    rc->count++;
    return 0;
}

/* One link of a machine's ancestry: replay @id's events up to @upto. */
struct link {
    uint64_t id;
    uint64_t upto; /* 0: all */
};

/* The store's failure as the daemon's: a corrupt history breaks the
 * machine (INTERNAL), anything else is the store failing (UNAVAILABLE). */
static enum mm_status store_failed(const struct replay_env *env,
                                   enum store_status st, char *err,
                                   size_t errsz)
{
    snprintf(err, errsz, "store: %s", store_reader_errmsg(env->rd));
    return st == STORE_CORRUPT ? MM_INTERNAL : MM_UNAVAILABLE;
}

/* Fills *@chain with machine @id's ancestry, root first, @id last: as deep
 * as it goes (no limit; each link costs one row read). */
static enum mm_status ancestry(struct replay_env *env, uint64_t id,
                               uint64_t upto, struct link **chain, size_t *n,
                               char *err, size_t errsz)
{
    struct link *v = NULL;
    size_t cap = 0, k = 0, i;

    for (;;) {
        uint64_t parent, pseq;
        enum store_status st = store_reader_parent(env->rd, id, &parent, &pseq);

        if (st == STORE_NOT_FOUND) {
            snprintf(err, errsz,
                     "machine %" PRIu64 "'s history is gone "
                     "(purged)",
                     id);
            free(v);
            return MM_NOT_FOUND;
        }
        if (st != STORE_OK) {
            free(v);
            return store_failed(env, st, err, errsz);
        }
        if (k == cap) {
            struct link *nv = realloc(v, (cap ? 2 * cap : 8) * sizeof(*v));

            if (nv == NULL) {
                free(v);
                snprintf(err, errsz, "replay: out of host memory");
                return MM_NO_MEMORY;
            }
            v = nv;
            cap = cap ? 2 * cap : 8;
        }
        v[k].id = id;
        v[k].upto = upto;
        k++;
        if (parent == 0 || pseq == 0) /* seq 0: nothing of the parent */
            break;
        /* A fork at a seq before its parent's own branch point replays
         * only that far into the grandparent. */
        upto = upto != 0 && upto < pseq ? upto : pseq;
        id = parent;
    }
    for (i = 0; i < k / 2; i++) {
        struct link x = v[i];

        v[i] = v[k - 1 - i];
        v[k - 1 - i] = x;
    }
    *chain = v;
    *n = k;
    return MM_OK;
}

/* Replays machine @id's own events after seq @after (0: from its first)
 * up to @upto (0: all) onto @m. */
static enum mm_status replay_link(struct replay_env *env, uint64_t id,
                                  uint64_t after, uint64_t upto,
                                  struct mm_machine *m, uint64_t *count,
                                  char *err, size_t errsz)
{
    struct replay_ctx rc;
    enum store_status st;

    memset(&rc, 0, sizeof(rc));
    rc.m = m;
    rc.st = MM_OK;
    rc.err = err;
    rc.errsz = errsz;
    st = store_reader_events(env->rd, id, after, upto, replay_one, &rc, NULL);
    *count += rc.count;
    if (rc.st != MM_OK)
        return rc.st;
    if (st != STORE_OK)
        return store_failed(env, st, err, errsz);
    if (upto != 0 && mm_seq(m) < upto) {
        snprintf(err, errsz,
                 "machine %" PRIu64 " has events only up to seq %" PRIu64
                 ", not %" PRIu64,
                 id, mm_seq(m), upto);
        return MM_NOT_FOUND;
    }
    return MM_OK;
}

/* Replaces *@mp by machine @id's state from its nearest checkpoint at or
 * below @upto, and sets *@after to its seq; *@after 0 if there is none or
 * it cannot be used (a damaged one is noted in env->warn and skipped: the
 * events are the truth).  MM_UNAVAILABLE if the store failed. */
static enum mm_status from_checkpoint(struct replay_env *env, uint64_t id,
                                      uint64_t upto, struct mm_machine **mp,
                                      uint64_t *after, char *err, size_t errsz)
{
    struct mm_machine *r = NULL;
    char emsg[MM_MSG_MAX];
    enum store_status st;
    uint64_t seq;
    void *blob;
    size_t len;

    *after = 0;
    st = store_reader_checkpoint(env->rd, id, upto, &seq, &blob, &len);
    if (st == STORE_NOT_FOUND)
        return MM_OK;
    if (st == STORE_CORRUPT) {
        snprintf(env->warn, sizeof(env->warn),
                 "machine %" PRIu64 ": %s; "
                 "replaying its events instead",
                 id, store_reader_errmsg(env->rd));
        return MM_OK;
    }
    if (st != STORE_OK)
        return store_failed(env, st, err, errsz);
    if (mm_restore(mm_machine_config(*mp), blob, len, &r, emsg) != MM_OK) {
        snprintf(env->warn, sizeof(env->warn),
                 "machine %" PRIu64 ": checkpoint at seq %" PRIu64
                 " does not restore (%s); "
                 "replaying its events instead",
                 id, seq, emsg);
        free(blob);
        return MM_OK;
    }
    free(blob);
    mm_destroy(*mp);
    *mp = r;
    *after = seq;
    return MM_OK;
}

/* Replays machine @id's own events (seq <= @upto) after its ancestors',
 * or after its nearest checkpoint, onto *@mp. */
static enum mm_status replay_chain(struct replay_env *env, uint64_t id,
                                   uint64_t upto, struct mm_machine **mp,
                                   uint64_t *count, char *err, size_t errsz)
{
    struct link *chain = NULL;
    enum mm_status ms;
    uint64_t after;
    size_t n = 0, i;

    ms = from_checkpoint(env, id, upto, mp, &after, err, errsz);
    if (ms != MM_OK)
        return ms;
    if (after != 0)
        return replay_link(env, id, after, upto, *mp, count, err, errsz);
    ms = ancestry(env, id, upto, &chain, &n, err, errsz);
    for (i = 0; ms == MM_OK && i < n; i++)
        ms = replay_link(env, chain[i].id, 0, chain[i].upto, *mp, count, err,
                         errsz);
    free(chain);
    return ms;
}

static void log_warn(const struct replay_env *env)
{
    if (env->warn[0] != '\0')
        srv_log(SRV_LOG_WARN, "%s", env->warn);
}

/* At recovery, a clone or fork whose parent was recovered already (ids
 * grow, so parents come first) and stands exactly at the seq it branched
 * at starts from a copy of the parent's state: only its own events are
 * replayed, not its whole ancestry again.  NULL if that does not apply. */
static struct mm_machine *recovered_parent_copy(struct srv *s,
                                                const struct store_machine *row)
{
    struct srv_machine *p;

    if (row->parent == 0 || row->parent_seq == 0)
        return NULL;
    p = srv_machine_get(s->reg, row->parent);
    if (p == NULL || p->m == NULL || p->broken != NULL ||
        mm_broken(p->m) != NULL || mm_seq(p->m) != row->parent_seq)
        return NULL;
    return mm_clone(p->m);
}

enum mm_status srv_persist_replay(struct srv *s, uint64_t id, uint64_t upto,
                                  struct mm_machine **m, char *err,
                                  size_t errsz)
{
    struct replay_env env;
    uint64_t count = 0;
    enum mm_status st;

    env.rd = store_main_reader(s->persist->st);
    env.warn[0] = '\0';
    st = replay_chain(&env, id, upto, m, &count, err, errsz);
    log_warn(&env);
    return st;
}

/* ------------------------------------------------------------------ */
/* Fork replays                                                        */
/* ------------------------------------------------------------------ */

/* A Fork that must replay (its seq is not the source's last) used to
 * replay on the loop thread: up to --checkpoint-every events, and with
 * checkpoints off the source's whole history, while no other connection
 * was served.  Now a worker thread does it on a store reader of its own
 * (the engine is pure; the machine is new, nobody else sees it), and the
 * Fork's frame waits in its connection (srv_conn_defer()), which reads
 * nothing more meanwhile.  When the thread is done it writes an eventfd;
 * the loop joins it and re-processes the deferred connections
 * (srv_conn_store_room()), whose Fork is dispatched again and now takes
 * the finished machine (srv_persist_fork_replay()).  The result depends
 * only on (source, seq), so any Fork of that pair may take it.  At most
 * FORK_JOBS jobs are kept, running or done; past that the oldest done one
 * is dropped (its connection closed, say), and if all are running the
 * replay runs on the loop as before. */

/* Test hook: ARMMAPD_TEST_FORK_GATE=PATH makes each worker replay (a
 * Fork's, or a rebuild's after a failed write: commit.c) create
 * PATH.started and wait (at most 60 s) until PATH exists, so a test can
 * show the loop serving others meanwhile without timing anything. */
static void test_gate(void)
{
    const char *gate = getenv("ARMMAPD_TEST_FORK_GATE");
    char started[4200];
    int fd, i;

    if (gate == NULL || gate[0] == '\0')
        return;
    snprintf(started, sizeof(started), "%s.started", gate);
    fd = open(started, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    for (i = 0; i < 60000 && access(gate, F_OK) != 0; i++) {
        struct timespec ms = { 0, 1000000 };

        nanosleep(&ms, NULL);
    }
}

/* The source's state at @upto, from its config: a fresh machine, then
 * the nearest checkpoint and the events after it (or the ancestry). */
static enum mm_status fork_build(struct replay_env *env, const char *config,
                                 uint64_t id, uint64_t upto,
                                 struct mm_machine **m, char *err, size_t errsz)
{
    struct mm_config cfg;
    char emsg[MM_MSG_MAX];
    uint64_t count = 0;
    enum mm_status st;

    *m = NULL;
    mm_config_default(&cfg);
    st = mm_config_parse(&cfg, config, emsg);
    if (st == MM_OK)
        st = srv_boot(&cfg, m, emsg);
    if (st != MM_OK) {
        snprintf(err, errsz, "%s", emsg);
        return MM_INTERNAL;
    }
    st = replay_chain(env, id, upto, m, &count, err, errsz);
    if (st != MM_OK) {
        mm_destroy(*m);
        *m = NULL;
    }
    return st;
}

static void fork_work(struct srv_job *job)
{
    struct fork_job *j = srv_job_data(job);

    test_gate();
    j->env.rd = *srv_job_reader(job);
    j->st = fork_build(&j->env, j->config, j->id, j->upto, &j->m, j->err,
                       sizeof(j->err));
}

/* The loop's side of a finished job: log its warning. */
static void fork_joined(struct srv_job *job)
{
    struct fork_job *j = srv_job_data(job);

    log_warn(&j->env);
}

/* The deferred Forks run again. */
static void fork_all_done(void *arg)
{
    srv_commit_replays_done(arg);
    srv_conn_store_room(arg);
}

static void fork_clear(struct srv_job *job)
{
    struct fork_job *j = srv_job_data(job);

    free(j->config);
    mm_destroy(j->m);
    memset(j, 0, sizeof(*j));
}

static const struct srv_job_ops fork_ops = { fork_work, fork_joined,
                                             fork_all_done, fork_clear };

static int fork_jobs_open(struct srv *s)
{
    struct srv_persist *p = s->persist;

    p->jobs = srv_jobs_create(s->base, FORK_JOBS, &fork_ops, s, p->fork,
                              sizeof(p->fork[0]));
    return p->jobs != NULL ? 0 : -1;
}

/* Waits for the jobs still running and drops every result (at close,
 * and before a reset: a result is of machine ids that a reset reuses). */
static void fork_jobs_drop(struct srv_persist *p)
{
    if (p->jobs != NULL)
        srv_jobs_drop(p->jobs, true);
}

static void fork_jobs_close(struct srv_persist *p)
{
    srv_jobs_destroy(p->jobs);
    p->jobs = NULL;
}

/* Starts a job for (@id, @upto) on a thread; false if there is no slot
 * or it cannot start. */
static bool job_start(struct srv *s, uint64_t id, const char *config,
                      uint64_t upto)
{
    struct srv_persist *p = s->persist;
    struct srv_job *job = srv_jobs_slot(p->jobs);
    struct fork_job *j;

    if (job == NULL)
        return false;
    j = srv_job_data(job);
    j->id = id;
    j->upto = upto;
    j->config = strdup(config);
    if (j->config == NULL ||
        (*srv_job_reader(job) == NULL &&
         store_reader_open(p->st, srv_job_reader(job)) != STORE_OK)) {
        srv_jobs_clear(job);
        return false;
    }
    return srv_jobs_start(job);
}

struct fork_key {
    uint64_t id, upto;
};

static bool is_fork(const void *data, const void *key)
{
    const struct fork_job *j = data;
    const struct fork_key *k = key;

    return j->id == k->id && j->upto == k->upto;
}

enum mm_status srv_persist_fork_replay(struct srv *s, uint64_t id,
                                       const char *config, uint64_t upto,
                                       struct mm_machine **m, char *err,
                                       size_t errsz)
{
    struct srv_persist *p = s->persist;
    struct fork_key key = { id, upto };
    struct srv_job *job = srv_jobs_find(p->jobs, is_fork, &key);
    struct replay_env env;
    enum mm_status st;

    *m = NULL;
    if (job != NULL) {
        struct fork_job *j = srv_job_data(job);

        if (!srv_job_joined(job))
            return MM_WOULD_BLOCK; /* still running */
        st = j->st;
        *m = j->m;
        j->m = NULL;
        snprintf(err, errsz, "%s", j->err);
        srv_jobs_clear(job);
        return st;
    }
    if (job_start(s, id, config, upto))
        return MM_WOULD_BLOCK;
    /* No worker to be had: on the loop, as before. */
    env.rd = store_main_reader(p->st);
    env.warn[0] = '\0';
    st = fork_build(&env, config, id, upto, m, err, errsz);
    log_warn(&env);
    return st;
}

enum mm_status srv_persist_replay_after(struct srv *s, uint64_t id,
                                        uint64_t after, uint64_t upto,
                                        struct mm_machine *m, char *err,
                                        size_t errsz)
{
    struct replay_env env;
    uint64_t count = 0;
    enum mm_status st;

    env.rd = store_main_reader(s->persist->st);
    env.warn[0] = '\0';
    st = replay_link(&env, id, after, upto, m, &count, err, errsz);
    log_warn(&env);
    return st;
}

/* ------------------------------------------------------------------ */
/* Recovery                                                            */
/* ------------------------------------------------------------------ */

/* Recovery runs in two passes.  Machines that descend from no other (the
 * bulk of the events) are rebuilt in parallel: the loop thread and up to
 * MAX_RECOVERY_WORKERS - 1 threads, one per further CPU, each with a store
 * reader of its own, take them one at a time (the engine is pure, one
 * machine one thread).  Then the loop thread, in id order, rebuilds the
 * clones and forks (each from a copy of its recovered parent when it can)
 * and registers every machine, logging what the workers found. */
#define MAX_RECOVERY_WORKERS 4

struct rec_item {
    struct store_machine row; /* its strings are this item's */
    struct mm_machine *m;
    enum mm_status st;
    uint64_t count;        /* events replayed */
    bool done;             /* rebuilt in the parallel pass */
    char msg[SRV_MSG_MAX]; /* why it is broken */
    char warn[WARN_MAX];   /* a skipped checkpoint */
};

/* An item of the parallel pass, with its size to order by. */
struct rec_slot {
    uint64_t events; /* stored events */
    size_t i;        /* index in rec_list.v */
};

struct rec_list {
    struct rec_item *v;
    size_t n, cap;
    struct rec_slot *order; /* the parallel pass's items, largest first */
    size_t norder;
    uint64_t events;    /* stored events of the parallel pass's machines */
    size_t prefault;    /* heap bytes each of its threads faults in first */
    bool huge;          /* ... in transparent huge pages */
    atomic_size_t next; /* the parallel pass's next item */
    bool oom;           /* a row could not be kept */
};

struct rec_worker {
    pthread_t th;
    struct rec_list *l;
    struct store *st;
    struct store_reader *rd; /* the worker's own, NULL if none */
    void *plug;              /* prefault_heap()'s */
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void rec_item_free(struct rec_item *it)
{
    free((char *)it->row.tenant);
    free((char *)it->row.name);
    free((char *)it->row.config);
    free((char *)it->row.corrupt);
    mm_destroy(it->m);
}

/* True if the parallel pass rebuilds @it: a trusted row, no parent. */
static bool rec_parallel_item(const struct rec_item *it)
{
    return it->row.corrupt == NULL &&
           (it->row.parent == 0 || it->row.parent_seq == 0);
}

/* store_foreach_live_machine(): keeps a copy of every row. */
static int collect_row(void *arg, const struct store_machine *row)
{
    struct rec_list *l = arg;
    struct rec_item *it;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct rec_item *v = realloc(l->v, cap * sizeof(*v));

        if (v == NULL) {
            l->oom = true;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    it = &l->v[l->n];
    memset(it, 0, sizeof(*it));
    it->row = *row;
    it->row.tenant = dup_or_null(row->tenant);
    it->row.name = dup_or_null(row->name);
    it->row.config = strdup(row->config != NULL ? row->config : "");
    it->row.corrupt = dup_or_null(row->corrupt);
    l->n++;
    if (rec_parallel_item(it))
        l->events += row->nevents;
    if (it->row.config == NULL ||
        (row->tenant != NULL && it->row.tenant == NULL) ||
        (row->name != NULL && it->row.name == NULL) ||
        (row->corrupt != NULL && it->row.corrupt == NULL)) {
        l->oom = true;
        return 1;
    }
    return 0;
}

/* Rebuilds @it from its config and its history (checkpoint, ancestry). */
static void rebuild_item(struct replay_env *env, struct rec_item *it)
{
    struct mm_config cfg;
    char emsg[MM_MSG_MAX];

    env->warn[0] = '\0';
    mm_config_default(&cfg);
    it->st = mm_config_parse(&cfg, it->row.config, emsg);
    if (it->st == MM_OK)
        it->st = srv_boot(&cfg, &it->m, emsg);
    if (it->st != MM_OK)
        snprintf(it->msg, sizeof(it->msg),
                 "recovery: config of machine %" PRIu64 ": %s", it->row.id,
                 emsg);
    else
        it->st = replay_chain(env, it->row.id, 0, &it->m, &it->count, it->msg,
                              sizeof(it->msg));
    memcpy(it->warn, env->warn, sizeof(it->warn));
}

/*
 * First-touch page faults were a fifth of recovery's CPU: rebuilding a
 * machine grows the heap of its thread's malloc arena page by page (page
 * tables, buddy maps, the vmalloc area array), ~10,500 faults for the
 * bench's 200 machines x 5,000 events, each a trap (costly in a VM).  So
 * each thread of the parallel pass first takes the heap it will need from
 * its arena in pieces, has the kernel populate them (MADV_POPULATE_WRITE,
 * Linux 5.14; older kernels refuse it and the pages fault as before), and
 * frees them again: the machines are then built in memory already mapped.
 * The last piece (the plug) stays allocated until the pass is done, so the
 * freed ones are not the arena's top and the allocator does not give them
 * back to the kernel at once; freeing the plug after the pass lets it trim
 * what was not used.  The estimate is the bench's mix measured (about 64
 * KiB to boot a machine, 24 bytes per event), capped per thread; RSS after
 * recovery stays the same (within 1 MB here), the faults fall to ~2,600
 * (the rest is start-up and SQLite).
 *
 * Before they are populated, the pieces (contiguous where they come from
 * the arena's top) are advised MADV_HUGEPAGE and collapsed into
 * transparent huge pages (MADV_COLLAPSE, Linux 6.1): the replay's random
 * reads over ~20 MB of page tables, hash tables and area arrays then miss
 * the TLB far less, which is what GLIBC_TUNABLES=glibc.malloc.hugetlb=1
 * bought when set in the environment (it advises the main arena's heap as
 * it grows).  MADV_HUGEPAGE alone would get no huge page here: malloc has
 * already written a chunk header into every 64 KiB piece, so each 2 MiB
 * block has small pages mapped and only khugepaged, much later, would
 * collapse it; MADV_COLLAPSE does it now, copying those few pages.  It
 * ignores the THP sysfs mode, so it is asked for only where the mode is
 * not "never".  Only this transient region, sized by the events to
 * replay, is advised: nothing per machine, so a small machine costs no
 * more host memory after recovery than before.
 * Only an optimization: a failure of any step is ignored.
 */
#define PREFAULT_PIECE   (64u << 10) /* under glibc's mmap threshold */
#define PREFAULT_MAX     (64u << 20) /* per thread */
#define PREFAULT_MACHINE (64u << 10)
#define PREFAULT_EVENT   24u
#define PREFAULT_GAP     64u /* malloc's overhead between two pieces */
#define THP_MODE_FILE    "/sys/kernel/mm/transparent_hugepage/enabled"

#ifndef MADV_COLLAPSE /* glibc 2.36's <sys/mman.h> lacks it */
/* KERNEL: include/uapi/asm-generic/mman-common.h, Linux 6.1 */
#define MADV_COLLAPSE 25
#endif

/* The file reads e.g. "always [madvise] never". */
bool srv_thp_allowed(void)
{
    char mode[128];
    FILE *f = fopen(THP_MODE_FILE, "re");
    bool ok;

    if (f == NULL)
        return false;
    ok = fgets(mode, sizeof(mode), f) != NULL &&
         strstr(mode, "[never]") == NULL;
    fclose(f);
    return ok;
}

/* The whole pages of [p, p + len) as [*a, *e); false if there are none. */
static bool whole_pages(uintptr_t p, uintptr_t len, uintptr_t *a, uintptr_t *e)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);

    *a = (p + pg - 1) & ~(pg - 1);
    *e = (p + len) & ~(pg - 1);
    return *e > *a;
}

/* Populates the whole pages of [p, p + len); false if the kernel cannot. */
static bool populate(void *p, size_t len)
{
    uintptr_t a, e;

    return !whole_pages((uintptr_t)p, len, &a, &e) ||
           madvise((void *)a, e - a, MADV_POPULATE_WRITE) == 0;
}

/* Backs the whole pages of [p, p + len) with transparent huge pages where
 * the kernel can: each 2 MiB-aligned block wholly inside becomes one. */
static void make_huge(uintptr_t p, uintptr_t len)
{
    uintptr_t a, e;

    if (whole_pages(p, len, &a, &e) &&
        madvise((void *)a, e - a, MADV_HUGEPAGE) == 0)
        (void)madvise((void *)a, e - a, MADV_COLLAPSE);
}

/* make_huge() on each run of the @n pieces that lie one after the other
 * in the heap (malloc's chunk header apart). */
static void make_huge_runs(void *const *piece, size_t n)
{
    size_t i, start = 0;

    for (i = 1; i <= n; i++) {
        uintptr_t end = (uintptr_t)piece[i - 1] + PREFAULT_PIECE;

        if (i < n && (uintptr_t)piece[i] >= end &&
            (uintptr_t)piece[i] - end <= PREFAULT_GAP)
            continue;
        make_huge((uintptr_t)piece[start], end - (uintptr_t)piece[start]);
        start = i;
    }
}

/* Faults in about @bytes of this thread's heap, in huge pages if @huge
 * (see above); returns the plug, for the caller to free() when its
 * thread's work is done (NULL if nothing could be had). */
static void *prefault_heap(size_t bytes, bool huge)
{
    void *piece[PREFAULT_MAX / PREFAULT_PIECE + 1];
    size_t want, n = 0, i;
    bool kernel_can = true;

    if (bytes == 0)
        return NULL;
    if (bytes > PREFAULT_MAX)
        bytes = PREFAULT_MAX;
    want = bytes / PREFAULT_PIECE + 1;
    while (n < want && (piece[n] = malloc(PREFAULT_PIECE)) != NULL)
        n++;
    if (huge)
        make_huge_runs(piece, n);
    for (i = 0; i < n && kernel_can; i++)
        kernel_can = populate(piece[i], PREFAULT_PIECE);
    for (i = 0; i + 1 < n; i++)
        free(piece[i]);
    return n > 0 ? piece[n - 1] : NULL;
}

/* The parallel pass: machines with a trusted row and no parent.  Returns
 * prefault_heap()'s plug. */
static void *rec_run(struct rec_list *l, struct store_reader *rd)
{
    void *plug = prefault_heap(l->prefault, l->huge);
    struct replay_env env;
    size_t i;

    env.rd = rd;
    while ((i = atomic_fetch_add(&l->next, 1)) < l->norder) {
        struct rec_item *it = &l->v[l->order[i].i];

        rebuild_item(&env, it);
        it->done = true;
    }
    return plug;
}

/* A worker opens its own reader, so the loop thread starts its share at
 * once instead of first opening a connection per worker (a few ms of
 * SQLite open, pragmas and prepares each, on the critical path).  A worker
 * without a reader takes no items: the others do them. */
static void *rec_thread(void *arg)
{
    struct rec_worker *w = arg;

    if (store_reader_open(w->st, &w->rd) == STORE_OK)
        w->plug = rec_run(w->l, w->rd);
    return NULL;
}

/* qsort(): more stored events first, then lower index (a total order). */
static int by_events_desc(const void *a, const void *b)
{
    const struct rec_slot *x = a, *y = b;

    if (x->events != y->events)
        return x->events > y->events ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/*
 * The parallel pass's items, largest first: the threads take them one at
 * a time, so the pass ends at most one small item apart on every thread;
 * a large machine taken last would leave the others idle for its whole
 * replay.  Stored events stand for the size (exact where no checkpoint
 * applies).  False if out of memory (the sequential pass then rebuilds
 * them all).
 */
static bool rec_order(struct rec_list *l)
{
    size_t i;

    l->order = malloc((l->n ? l->n : 1) * sizeof(*l->order));
    if (l->order == NULL)
        return false;
    l->norder = 0;
    for (i = 0; i < l->n; i++)
        if (rec_parallel_item(&l->v[i])) {
            l->order[l->norder].events = l->v[i].row.nevents;
            l->order[l->norder].i = i;
            l->norder++;
        }
    qsort(l->order, l->norder, sizeof(*l->order), by_events_desc);
    return true;
}

/* Threads for the parallel pass beside the loop thread: one per further
 * online CPU, at most MAX_RECOVERY_WORKERS - 1, none if threads cannot be
 * had (the loop thread then does it all, as it does a worker's share when
 * that worker gets no reader). */
static size_t rec_parallel(struct srv *s, struct rec_list *l)
{
    struct rec_worker w[MAX_RECOVERY_WORKERS - 1];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want, n = 0, i;
    void *plug;

    if (!rec_order(l))
        return 0;
    want = cpus > 1 ? (size_t)cpus - 1 : 0;
    if (want > MAX_RECOVERY_WORKERS - 1)
        want = MAX_RECOVERY_WORKERS - 1;
    if (want > l->n / 2)
        want = l->n / 2;
    l->prefault =
        (size_t)((l->n * PREFAULT_MACHINE + l->events * PREFAULT_EVENT) /
                 (want + 1));
    l->huge = srv_thp_allowed();
    for (i = 0; i < want; i++) {
        w[n].l = l;
        w[n].st = s->persist->st;
        w[n].rd = NULL;
        w[n].plug = NULL;
        if (pthread_create(&w[n].th, NULL, rec_thread, &w[n]) != 0)
            break;
        n++;
    }
    plug = rec_run(l, store_main_reader(s->persist->st));
    for (i = 0; i < n; i++) {
        pthread_join(w[i].th, NULL);
        store_reader_close(w[i].rd);
        free(w[i].plug);
    }
    free(plug);
    free(l->order);
    l->order = NULL;
    return n;
}

struct recover_ctx {
    struct srv *s;
    uint64_t machines, events, broken;
    bool failed;
    char *err;
    size_t errsz;
};

/* The sequential pass for one item: rebuilds it unless the parallel pass
 * did, and registers it. */
static int recover_one(struct recover_ctx *rc, struct rec_item *it)
{
    struct srv *s = rc->s;
    const struct store_machine *row = &it->row;
    struct srv_machine *sm;
    struct replay_env env;

    env.rd = store_main_reader(s->persist->st);
    if (it->done) {
        /* rebuilt by the parallel pass */
    } else if (row->corrupt != NULL) {
        /* Its row was changed: neither its tenant nor its config can be
         * trusted, so it is not rebuilt (it answers INTERNAL). */
        it->st = MM_INTERNAL;
        snprintf(it->msg, sizeof(it->msg), "recovery: %s", row->corrupt);
    } else if ((it->m = recovered_parent_copy(s, row)) != NULL) {
        it->st = replay_link(&env, row->id, 0, 0, it->m, &it->count, it->msg,
                             sizeof(it->msg));
    } else {
        rebuild_item(&env, it);
    }
    if (it->warn[0] != '\0')
        srv_log(SRV_LOG_WARN, "%s", it->warn);
    if (it->st == MM_UNAVAILABLE) {
        snprintf(rc->err, rc->errsz, "armmapd: %s", it->msg);
        rc->failed = true;
        return 1;
    }
    sm = srv_machine_add(s->reg, row->id, row->tenant, row->name, row->config,
                         row->created_ms, it->m);
    if (sm == NULL) {
        snprintf(rc->err, rc->errsz, "armmapd: out of memory in recovery");
        rc->failed = true;
        return 1;
    }
    sm->parent = row->parent;
    sm->parent_seq = row->parent_seq;
    sm->events = row->nevents;
    sm->committed_seq = it->m != NULL && it->st == MM_OK ? mm_seq(it->m)
                                                         : row->last_seq;
    it->m = NULL; /* the registry's now */
    rc->machines++;
    rc->events += it->count;
    if (it->st != MM_OK) {
        rc->broken++;
        srv_machine_set_broken(sm, it->msg);
        srv_log(SRV_LOG_ERROR, "machine %" PRIu64 " is broken: %s", row->id,
                it->msg);
    }
    return 0;
}

int srv_persist_recover(struct srv *s, char *err, size_t errsz)
{
    struct recover_ctx rc;
    struct rec_list l;
    struct timespec t0, t1;
    enum store_status st;
    size_t i, workers = 0;
    double ms;

    /* Cluster mode: a new incarnation owns nothing; machines are claimed
     * and rebuilt when asked for (cluster.c). */
    if (s->st->node != NULL)
        return srv_cluster_open(s, s->persist->st, err, errsz);
    memset(&rc, 0, sizeof(rc));
    memset(&l, 0, sizeof(l));
    atomic_init(&l.next, 0);
    rc.s = s;
    rc.err = err;
    rc.errsz = errsz;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = store_foreach_live_machine(s->persist->st, collect_row, &l);
    if (st == STORE_OK && l.oom)
        st = STORE_UNAVAILABLE;
    if (st == STORE_OK) {
        workers = rec_parallel(s, &l);
        for (i = 0; i < l.n && !rc.failed; i++)
            recover_one(&rc, &l.v[i]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (i = 0; i < l.n; i++)
        rec_item_free(&l.v[i]);
    free(l.v);
    if (rc.failed)
        return -1;
    if (st != STORE_OK) {
        snprintf(err, errsz, "armmapd: store %s: %s", s->persist->path,
                 store_errmsg(s->persist->st)[0] != '\0'
                     ? store_errmsg(s->persist->st)
                     : "out of memory reading machine rows");
        return -1;
    }
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
         (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    s->n.recovered_machines = rc.machines;
    s->n.recovered_events = rc.events;
    srv_log(rc.broken ? SRV_LOG_WARN : SRV_LOG_INFO,
            "recovered %" PRIu64 " machines (%" PRIu64 " broken) from %" PRIu64
            " events in %.1f ms (%zu thread%s)",
            rc.machines, rc.broken, rc.events, ms, workers + 1,
            workers ? "s" : "");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */
/* ------------------------------------------------------------------ */

static void print_problem(void *arg, const char *line)
{
    printf("%s: %s\n", (const char *)arg, line);
}

int srv_persist_verify(const struct srv_settings *st)
{
    char err[STORE_MSG_MAX];
    uint64_t problems = 0;
    enum store_status rc;

    rc = store_verify(st->database, print_problem, st->database, &problems,
                      err);
    if (rc != STORE_OK) {
        fprintf(stderr, "armmapd: --verify: %s\n", err);
        return 1;
    }
    if (problems > 0) {
        printf("armmapd: %s: %" PRIu64 " problem%s found\n", st->database,
               problems, problems == 1 ? "" : "s");
        return 1;
    }
    printf("armmapd: %s: OK (integrity_check, machine rows, histories)\n",
           st->database);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

enum mm_status srv_persist_history(
    struct srv *s, const struct store_history_query *q,
    int (*fn)(void *arg, const struct store_event *e), void *arg,
    struct store_page *page, void (*count)(void *arg, uint32_t op, uint64_t n),
    char *err, size_t errsz)
{
    enum store_status st;

    st = store_history(s->persist->st, q, fn, arg, page);
    if (st == STORE_OK && count != NULL)
        st = store_op_counts(s->persist->st, q->machine, count, arg);
    if (st == STORE_INVALID_ARGUMENT) {
        snprintf(err, errsz, "history: %s", store_errmsg(s->persist->st));
        return MM_INVALID_ARGUMENT;
    }
    if (st != STORE_OK) {
        snprintf(err, errsz, "store: %s", store_errmsg(s->persist->st));
        return MM_UNAVAILABLE;
    }
    return MM_OK;
}

enum mm_status srv_persist_op_counts(struct srv *s, uint64_t id,
                                     void (*fn)(void *arg, uint32_t op,
                                                uint64_t n),
                                     void *arg)
{
    return store_op_counts(s->persist->st, id, fn, arg) == STORE_OK
               ? MM_OK
               : MM_UNAVAILABLE;
}

enum mm_status srv_persist_op_counts_page(struct srv *s, uint64_t id,
                                          uint64_t after_seq, uint32_t limit,
                                          void (*fn)(void *arg, uint32_t op,
                                                     uint64_t n),
                                          void *arg, uint64_t *last_seq)
{
    return store_op_counts_page(s->persist->st, id, after_seq, limit, fn, arg,
                                last_seq) == STORE_OK
               ? MM_OK
               : MM_UNAVAILABLE;
}

enum mm_status srv_persist_purge(struct srv *s, const char *tenant,
                                 uint64_t older_than_ms, uint64_t *machines,
                                 uint64_t *events, char *err, size_t errsz)
{
    /* The store keeps every ancestor a live clone or fork replays from.
     * The caller keeps @older_than_ms within int64 (dispatch.c). */
    char msg[STORE_MSG_MAX];
    enum store_status st;

    touch(s->persist);
    st = store_purge_r(s->persist->st, tenant, (int64_t)older_than_ms,
                       srv_now_ms(), machines, events, msg, sizeof(msg));

    /* Any thread (purge.c's workers): store_purge_r() leaves the loop
     * thread's store_errmsg() alone. */
    if (st != STORE_OK) {
        snprintf(err, errsz, "store: %s", msg);
        return MM_UNAVAILABLE;
    }
    return MM_OK;
}

struct destroyed_ctx {
    void (*fn)(void *arg, const char *tenant, uint64_t events);
    void *arg;
};

static int destroyed_row(void *arg, const struct store_machine *row)
{
    struct destroyed_ctx *dc = arg;

    if (row->destroyed)
        dc->fn(dc->arg, row->tenant != NULL ? row->tenant : "", row->nevents);
    return 0;
}

enum mm_status srv_persist_foreach_destroyed(
    struct srv *s, void (*fn)(void *arg, const char *tenant, uint64_t events),
    void *arg)
{
    struct store_machine_filter f;
    struct destroyed_ctx dc = { fn, arg };

    memset(&f, 0, sizeof(f));
    f.include_destroyed = true;
    if (store_list_machines(s->persist->st, &f, destroyed_row, &dc, NULL) !=
        STORE_OK)
        return MM_UNAVAILABLE;
    return MM_OK;
}

enum mm_status srv_persist_machine_tenant(struct srv *s, uint64_t id,
                                          char tenant[SRV_TENANT_MAX + 1])
{
    struct store_machine *row = NULL;
    enum store_status st = store_machine_dup(s->persist->st, id, &row);

    if (st == STORE_NOT_FOUND)
        return MM_NOT_FOUND;
    if (st != STORE_OK)
        return MM_UNAVAILABLE;
    snprintf(tenant, SRV_TENANT_MAX + 1, "%s",
             row->tenant != NULL ? row->tenant : "");
    free(row);
    return MM_OK;
}
