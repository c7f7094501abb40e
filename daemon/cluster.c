/* daemon/cluster.c - cluster mode (--node): the node's lease, machine
 * ownership, MOVED redirects, lazy claims and rebuilds.
 *
 * Several armmapd nodes share one PostgreSQL database (store.h, "Cluster
 * mode").  A node registers at start (a new epoch) and a thread of its
 * own renews its lease every third of --lease-ms on a connection of its
 * own, so the loop never waits for a heartbeat.  The thread records when
 * the last heartbeat that succeeded was sent (monotonic ms); the loop
 * serves machines only while that is less than a lease ago, and answers
 * UNAVAILABLE "node lease expired" otherwise.  A node that finds its
 * lease gone (no heartbeat for a whole lease, or its row replaced)
 * registers again: a new epoch, under which it owns nothing, so the loop
 * drops every machine it holds (commit.c, srv_commit_lose()) and claims
 * them again lazily, like any other node.
 *
 * The machines a node holds in memory are the ones it owns: created here
 * (the store writes this node as owner) or claimed.  A request naming a
 * machine the node does not hold looks the owner up in the database:
 *  - another node, live: MOVED, Status.owner its advertised address, the
 *    message "machine M is served by node NAME at HOST:PORT";
 *  - no live owner: one conditional UPDATE claims it (of nodes racing,
 *    one wins; the others read the winner and answer MOVED); then
 *  - ours: it is rebuilt from its latest checkpoint and the later events
 *    on a fork-replay worker (persist.c) while the request's connection
 *    waits (srv_conn_defer()), and served once rebuilt.
 * The owner lookup and the claim run on a worker thread with a store
 * reader of its own (claim_thread(), at most CLAIM_JOBS at once) while
 * the request's connection waits (srv_conn_defer()), as the rebuild
 * does: a claim waiting for a row lock stalls nobody else.  Only when
 * every worker is busy do they run on the loop, as before.
 * Fencing does not rely on any of this: every write transaction checks
 * the node's epoch and lease and each machine's owner (store_pg.c), and
 * a write refused so (STORE_FENCED) drops its machine from memory.
 */
#include "srv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "store.h"

#define HTTP_CACHE     32   /* owners' HTTP addresses remembered (307) */
#define CLAIM_JOBS     8    /* owner lookups and claims off the loop */
#define CLAIM_FRESH_MS 1000 /* a result older than this is asked again */

/* One machine's owner lookup, and claim if no live node owns it, on a
 * thread with a store reader of its own (the data of a jobs.c slot); the
 * loop takes the result when the request that started it (or another
 * naming the machine) runs again. */
struct claim_job {
    uint64_t id;
    struct store *st_store;
    enum store_status st;
    struct store_owner o; /* after the claim: as it stands then */
    bool claimed;         /* the claim ran */
    bool won;
    char err[STORE_MSG_MAX];
    int64_t done_ms; /* mono ms the loop joined it */
};

struct srv_cluster {
    struct srv *s;
    struct store *st;
    struct store_node node;
    pthread_t th;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;                   /* under @lock */
    char why[STORE_MSG_MAX];     /* under @lock: what the thread has to
                                report (the loop logs it) */
    atomic_int_fast64_t epoch;   /* the thread's: the registered one */
    atomic_int_fast64_t last_ok; /* mono ms the last good heartbeat
                                    was sent */
    int64_t loop_epoch;          /* the epoch the loop's machines are of */
    int efd;                     /* eventfd: the thread registered again */
    struct event *ev;
    struct {
        char address[STORE_ADDR_MAX];
        char http[STORE_ADDR_MAX];
    } http_of[HTTP_CACHE];
    size_t nhttp;
    struct srv_jobs *jobs;              /* claims (jobs.c) */
    struct claim_job claim[CLAIM_JOBS]; /* their data */
};

/* ------------------------------------------------------------------ */
/* The lease (its own thread)                                          */
/* ------------------------------------------------------------------ */

/* Heartbeat thread: hands @what to the loop, which logs it (the log
 * belongs to the loop thread: SIGHUP reopens it there). */
static void report(struct srv_cluster *k, const char *what, const char *err)
{
    uint64_t one = 1;

    pthread_mutex_lock(&k->lock);
    snprintf(k->why, sizeof(k->why), "%s%s%s", what, err[0] ? ": " : "", err);
    pthread_mutex_unlock(&k->lock);
    if (write(k->efd, &one, sizeof(one)) != sizeof(one))
        abort(); /* an eventfd cannot be full here */
}

/* Heartbeat thread: register again (a new epoch); true if it did. */
static bool reregister(struct srv_cluster *k)
{
    char err[STORE_MSG_MAX];
    int64_t t0 = srv_mono_ms(), epoch;

    if (store_node_register(k->st, &k->node, &epoch, err) != STORE_OK) {
        report(k, "registering again", err);
        return false;
    }
    atomic_store(&k->epoch, epoch);
    atomic_store(&k->last_ok, t0);
    report(k, "its lease was lost; registered again (it owns no machine now)",
           "");
    return true;
}

/* Heartbeat thread: one renewal, or a new registration once the lease is
 * gone by this node's own clock (a heartbeat sent later than a lease
 * after the last good one may find the row renewable, but the node has
 * been answering "lease expired" meanwhile and others may own its
 * machines: it starts over as a new incarnation). */
static void beat(struct srv_cluster *k)
{
    char err[STORE_MSG_MAX];
    int64_t t0 = srv_mono_ms();
    enum store_status rc;

    if (t0 - atomic_load(&k->last_ok) >= (int64_t)k->node.lease_ms) {
        reregister(k);
        return;
    }
    rc = store_node_heartbeat(k->st, err);
    /* A renewal that came back after the lease had run out (it waited
     * on the database) renewed a row others may have seen expired, and
     * this node has said "lease expired" meanwhile: it starts over. */
    if (rc == STORE_OK &&
        srv_mono_ms() - atomic_load(&k->last_ok) >= (int64_t)k->node.lease_ms)
        reregister(k);
    else if (rc == STORE_OK)
        atomic_store(&k->last_ok, t0);
    else if (rc == STORE_FENCED)
        reregister(k);
    else
        report(k, "heartbeat", err);
}

static void *beat_thread(void *arg)
{
    struct srv_cluster *k = arg;
    int64_t every = k->node.lease_ms / 3;

    pthread_mutex_lock(&k->lock);
    while (!k->stop) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += every / 1000;
        ts.tv_nsec += (every % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&k->wake, &k->lock, &ts);
        if (k->stop)
            break;
        pthread_mutex_unlock(&k->lock);
        beat(k);
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The loop's side                                                     */
/* ------------------------------------------------------------------ */

struct drop_list {
    struct srv_machine **v;
    size_t n, cap;
};

static void collect(void *arg, struct srv_machine *sm)
{
    struct drop_list *d = arg;

    if (d->n < d->cap)
        d->v[d->n++] = sm;
}

/* A new epoch: every machine held belongs to the old one. */
static void drop_all(struct srv *s)
{
    struct drop_list d;
    size_t i;

    d.n = 0;
    d.cap = srv_registry_count(s->reg);
    d.v = calloc(d.cap + 1, sizeof(*d.v));
    if (d.v == NULL)
        abort(); /* as the daemon does without host memory */
    srv_registry_foreach(s->reg, NULL, collect, &d);
    for (i = 0; i < d.n; i++)
        srv_commit_lose(s, d.v[i]);
    free(d.v);
    if (d.n > 0)
        srv_log(SRV_LOG_WARN, "cluster: dropped %zu machines of the old epoch",
                d.n);
}

static void claim_drop_done(struct srv_cluster *k);

static void on_epoch(evutil_socket_t fd, short what, void *arg)
{
    struct srv *s = arg;
    struct srv_cluster *k = s->cluster;
    uint64_t n;

    char why[STORE_MSG_MAX];

    (void)what;
    if (read(fd, &n, sizeof(n)) < 0)
        return;
    pthread_mutex_lock(&k->lock);
    snprintf(why, sizeof(why), "%s", k->why);
    k->why[0] = '\0';
    pthread_mutex_unlock(&k->lock);
    if (why[0] != '\0')
        srv_log(SRV_LOG_WARN, "cluster: node %s (epoch %" PRId64 "): %s",
                k->node.name, (int64_t)atomic_load(&k->epoch), why);
    if (atomic_load(&k->epoch) == k->loop_epoch)
        return;
    k->loop_epoch = atomic_load(&k->epoch);
    drop_all(s);
    claim_drop_done(k);
}

/* ------------------------------------------------------------------ */
/* Owner lookups and claims (worker threads)                           */
/* ------------------------------------------------------------------ */

/* Test hook: ARMMAPD_TEST_CLAIM_GATE=PATH makes each claim job create
 * PATH.started before its first query (tests wait on it). */
static void claim_started(void)
{
    const char *gate = getenv("ARMMAPD_TEST_CLAIM_GATE");
    char started[4200];
    int fd;

    if (gate == NULL || gate[0] == '\0')
        return;
    snprintf(started, sizeof(started), "%s.started", gate);
    fd = open(started, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

/* The lookup, then the claim unless another live node owns it, then the
 * owner as it stands after a lost claim. */
static void claim_work(struct srv_job *job)
{
    struct claim_job *j = srv_job_data(job);
    struct store_reader **rd = srv_job_reader(job);

    claim_started();
    if (*rd == NULL && store_reader_open(j->st_store, rd) != STORE_OK) {
        /* store_errmsg() is the loop's: the reason stays unsaid here */
        snprintf(j->err, sizeof(j->err), "cannot open a store reader");
        j->st = STORE_UNAVAILABLE;
    } else {
        j->st = store_reader_machine_owner(*rd, j->id, &j->o, j->err);
    }
    if (j->st == STORE_OK && !j->o.mine && !(j->o.live && !j->o.mine)) {
        j->claimed = true;
        j->st = store_reader_machine_claim(*rd, j->id, &j->won, j->err);
        if (j->st == STORE_OK && !j->won)
            j->st = store_reader_machine_owner(*rd, j->id, &j->o, j->err);
    }
}

static void claim_joined(struct srv_job *job)
{
    struct claim_job *j = srv_job_data(job);

    j->done_ms = srv_mono_ms();
}

/* The waiting requests run again. */
static void claim_all_done(void *arg)
{
    srv_conn_store_room(arg);
}

static void claim_clear(struct srv_job *job)
{
    memset(srv_job_data(job), 0, sizeof(struct claim_job));
}

static const struct srv_job_ops claim_ops = { claim_work, claim_joined,
                                              claim_all_done, claim_clear };

/* Forgets every finished result (a new epoch owns nothing they say). */
static void claim_drop_done(struct srv_cluster *k)
{
    srv_jobs_drop(k->jobs, false);
}

static bool is_claim(const void *data, const void *key)
{
    return ((const struct claim_job *)data)->id == *(const uint64_t *)key;
}

/* Starts a job for @id in a free slot, or the oldest finished one; false
 * if every slot is running or the thread cannot start. */
static bool claim_start(struct srv_cluster *k, uint64_t id)
{
    struct srv_job *job = srv_jobs_slot(k->jobs);
    struct claim_job *j;

    if (job == NULL)
        return false;
    j = srv_job_data(job);
    j->id = id;
    j->st_store = k->st;
    return srv_jobs_start(job);
}

int srv_cluster_open(struct srv *s, struct store *st, char *err, size_t errsz)
{
    struct srv_cluster *k;
    char msg[STORE_MSG_MAX];
    int64_t epoch;

    if (s->st->node == NULL)
        return 0;
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        snprintf(err, errsz, "armmapd: out of memory");
        return -1;
    }
    k->s = s;
    k->st = st;
    k->efd = -1;
    k->node.name = s->st->node;
    k->node.address = s->st->advertise;
    k->node.http_address = s->st->advertise_http;
    k->node.lease_ms = (uint32_t)s->st->lease_ms;
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->wake, NULL);
    s->cluster = k;
    if (store_node_register(st, &k->node, &epoch, msg) != STORE_OK) {
        snprintf(err, errsz, "armmapd: --node %s: %s", k->node.name, msg);
        return -1;
    }
    atomic_init(&k->epoch, epoch);
    atomic_init(&k->last_ok, srv_mono_ms());
    k->loop_epoch = epoch;
    k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    k->ev = k->efd >= 0
                ? event_new(s->base, k->efd, EV_READ | EV_PERSIST, on_epoch, s)
                : NULL;
    k->jobs = k->ev != NULL ? srv_jobs_create(s->base, CLAIM_JOBS, &claim_ops,
                                              s, k->claim, sizeof(k->claim[0]))
                            : NULL;
    if (k->ev == NULL || event_add(k->ev, NULL) != 0 || k->jobs == NULL ||
        pthread_create(&k->th, NULL, beat_thread, k) != 0) {
        snprintf(err, errsz, "armmapd: --node: cannot start the heartbeat");
        return -1;
    }
    k->started = true;
    srv_log(SRV_LOG_INFO,
            "cluster: node %s registered as epoch %" PRId64 " (lease %" PRIu32
            " ms)",
            k->node.name, epoch, k->node.lease_ms);
    return 0;
}

void srv_cluster_close(struct srv *s)
{
    struct srv_cluster *k = s->cluster;

    if (k == NULL)
        return;
    if (k->started) {
        pthread_mutex_lock(&k->lock);
        k->stop = true;
        pthread_cond_signal(&k->wake);
        pthread_mutex_unlock(&k->lock);
        pthread_join(k->th, NULL);
    }
    srv_jobs_destroy(k->jobs);
    if (k->ev != NULL)
        event_free(k->ev);
    if (k->efd >= 0)
        close(k->efd);
    pthread_mutex_destroy(&k->lock);
    pthread_cond_destroy(&k->wake);
    free(k);
    s->cluster = NULL;
}

bool srv_cluster_serving(const struct srv *s)
{
    const struct srv_cluster *k = s->cluster;

    if (k == NULL)
        return true;
    return srv_mono_ms() - atomic_load(&k->last_ok) <
               (int64_t)k->node.lease_ms &&
           atomic_load(&k->epoch) == k->loop_epoch;
}

/* Remembers @o's HTTP address for the 307 of its TCP address. */
static void remember_http(struct srv_cluster *k, const struct store_owner *o)
{
    size_t i;

    if (o->http_address[0] == '\0')
        return;
    for (i = 0; i < k->nhttp; i++) {
        if (strcmp(k->http_of[i].address, o->address) == 0)
            break;
    }
    if (i == k->nhttp) {
        if (k->nhttp < HTTP_CACHE)
            k->nhttp++;
        else
            i = (size_t)(o->epoch % HTTP_CACHE); /* any slot goes */
    }
    snprintf(k->http_of[i].address, sizeof(k->http_of[i].address), "%s",
             o->address);
    snprintf(k->http_of[i].http, sizeof(k->http_of[i].http), "%s",
             o->http_address);
}

const char *srv_cluster_http_of(const struct srv *s, const char *address)
{
    const struct srv_cluster *k = s->cluster;
    size_t i;

    if (k == NULL || address == NULL)
        return NULL;
    for (i = 0; i < k->nhttp; i++) {
        if (strcmp(k->http_of[i].address, address) == 0)
            return k->http_of[i].http;
    }
    return NULL;
}

/* The call answers MOVED to @o's node. */
static void moved(struct srv_call *call, const char *what, uint64_t ext,
                  const struct store_owner *o)
{
    (void)what;
    remember_http(call->s->cluster, o);
    srv_call_fail(call, MM_MOVED,
                  "machine %" PRIu64 " is served by node %s at %s", ext,
                  o->node, o->address);
    call->owner = srv_call_strdup(call, o->address);
}

/* The rebuild of the claimed machine @row (ours now) for @call: on a
 * worker (the call waits) or at once; registered when done. */
static struct srv_machine *rebuild(struct srv_call *call, const char *what,
                                   const struct store_machine *row)
{
    struct srv *s = call->s;
    struct mm_machine *m = NULL;
    struct srv_machine *sm;
    char err[SRV_MSG_MAX];
    uint64_t last = row->last_seq > row->parent_seq ? row->last_seq
                                                    : row->parent_seq;
    enum mm_status st;

    st = srv_persist_fork_replay(s, row->id, row->config, 0, &m, err,
                                 sizeof(err));
    if (st == MM_WOULD_BLOCK) {
        srv_conn_defer(call->c);
        call->parked = true;
        return NULL;
    }
    if (st != MM_OK) {
        srv_call_fail(call, st == MM_NOT_FOUND ? MM_UNAVAILABLE : st,
                      "%s: machine %" PRIu64 ": rebuilding it: %s", what,
                      srv_id_out(s->reg, row->id), err);
        return NULL;
    }
    if (mm_seq(m) != last) {
        /* A replay started before the claim (the machine was elsewhere
         * since): not the machine as it stands. */
        srv_call_fail(call, MM_UNAVAILABLE,
                      "%s: machine %" PRIu64 " was rebuilt at seq %" PRIu64
                      ", not its last %" PRIu64 "; retry",
                      what, srv_id_out(s->reg, row->id), mm_seq(m), last);
        mm_destroy(m);
        return NULL;
    }
    sm = srv_machine_add(s->reg, row->id, row->tenant, row->name, row->config,
                         row->created_ms, m);
    if (sm == NULL) {
        srv_call_fail(call, MM_NO_MEMORY, "%s: out of host memory", what);
        return NULL;
    }
    sm->parent = row->parent;
    sm->parent_seq = row->parent_seq;
    sm->events = row->nevents;
    sm->committed_seq = mm_seq(m);
    srv_machine_account(s->reg, sm);
    srv_log(SRV_LOG_INFO,
            "cluster: machine %" PRIu64 " rebuilt at seq %" PRIu64 " (claimed)",
            row->id, mm_seq(m));
    return sm;
}

/* The owner lookup and claim of machine @id for @call, from a worker: the
 * finished job's result (true), or false with the call parked until it
 * is done.  Without a worker to be had, on the loop as before. */
static bool claim_result(struct srv_call *call, uint64_t id,
                         enum store_status *st, struct store_owner *o,
                         bool *won, char *err)
{
    struct srv_cluster *k = call->s->cluster;
    struct store *store = srv_persist_store(call->s);
    struct srv_job *job = srv_jobs_find(k->jobs, is_claim, &id);
    struct claim_job *j = job != NULL ? srv_job_data(job) : NULL;

    *won = false;
    if (j != NULL && srv_job_joined(job) &&
        srv_mono_ms() - j->done_ms > CLAIM_FRESH_MS)
        srv_jobs_clear(job); /* nobody took it in time: ask again */
    else if (j != NULL && srv_job_joined(job)) {
        *st = j->st;
        *o = j->o;
        *won = j->won;
        snprintf(err, STORE_MSG_MAX, "%s", j->err);
        srv_jobs_clear(job);
        return true;
    }
    job = srv_jobs_find(k->jobs, is_claim, &id);
    if (job != NULL || claim_start(k, id)) {
        srv_conn_defer(call->c);
        call->parked = true;
        return false;
    }
    *st = store_machine_owner(store, id, o, err);
    if (*st == STORE_OK && !o->mine && !o->live) {
        *st = store_machine_claim(store, id, won, err);
        if (*st == STORE_OK && !*won)
            *st = store_machine_owner(store, id, o, err);
    }
    return true;
}

struct srv_machine *srv_cluster_find(struct srv_call *call, const char *what,
                                     uint64_t ext, const char *missing)
{
    struct srv *s = call->s;
    struct store_machine *row = NULL;
    struct store_owner o;
    struct srv_machine *sm = NULL;
    char err[STORE_MSG_MAX];
    uint64_t id = srv_id_in(s->reg, ext);
    enum store_status st;
    bool won = false;

    if (id == 0 ||
        store_machine_dup(srv_persist_store(s), id, &row) != STORE_OK) {
        srv_call_fail(call, MM_NOT_FOUND, "%s: %s", what, missing);
        return NULL;
    }
    if (row->destroyed || strcmp(row->tenant != NULL ? row->tenant : "",
                                 srv_conn_tenant(call->c)) != 0) {
        srv_call_fail(call, MM_NOT_FOUND, "%s: %s", what, missing);
        goto out;
    }
    if (!claim_result(call, id, &st, &o, &won, err))
        goto out; /* parked until the worker is done */
    if (st == STORE_OK && o.live && !o.mine) {
        moved(call, what, ext, &o);
        goto out;
    }
    if (st == STORE_OK && !o.mine) {
        if (!won) {
            srv_call_fail(call, MM_UNAVAILABLE,
                          "%s: machine %" PRIu64 " could not be claimed; retry",
                          what, ext);
            goto out;
        }
        /* Read again: a write of the last owner that held the row when
         * the claim came may have committed more events. */
        srv_log(SRV_LOG_INFO, "cluster: claimed machine %" PRIu64, id);
        free(row);
        row = NULL;
        if (store_machine_dup(srv_persist_store(s), id, &row) != STORE_OK) {
            srv_call_fail(call, MM_UNAVAILABLE,
                          "%s: machine %" PRIu64 ": store: %s", what, ext,
                          store_errmsg(srv_persist_store(s)));
            goto out;
        }
    }
    if (st != STORE_OK) {
        srv_call_fail(call, MM_UNAVAILABLE, "%s: store: %s", what, err);
        goto out;
    }
    sm = rebuild(call, what, row);
out:
    free(row);
    return sm;
}

char *srv_cluster_health(const struct srv *s, int *status)
{
    const struct srv_cluster *k = s->cluster;
    size_t n = 128 + STORE_NODE_MAX;
    char *text = malloc(n);

    *status = 200;
    if (text == NULL)
        abort(); /* as the daemon does without host memory */
    if (k == NULL) {
        snprintf(text, n, "{\"node\":null}\n");
        return text;
    }
    if (!srv_cluster_serving(s))
        *status = 503;
    snprintf(text, n, "{\"node\":\"%s\",\"epoch\":%" PRId64 "}\n", k->node.name,
             (int64_t)atomic_load(&k->epoch));
    return text;
}
