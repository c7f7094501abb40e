/* daemon/jobs.c - a few jobs on worker threads, each with a store reader.
 *
 * A fork's replay (persist.c) and a cluster claim (cluster.c) run off the
 * loop the same way: a pool of a few slots, each a job running or done;
 * a new job takes a free slot, else the oldest done one (its result
 * dropped), else there is none and the caller works on the loop.  A job
 * gets a store reader a finished job left (spares kept between jobs),
 * else none (the kind opens one, on the loop or on its thread).  A
 * thread that returns writes an eventfd; the loop then joins every job
 * that is returning (never a running one: that would block the loop),
 * calls the kind's joined() for each and its all_done() once.  The kind
 * takes a result when a request naming it runs again, and clears the
 * slot.  What a job computes lives in the kind's own array (one element
 * per slot, srv_job_data()); the pool only runs it.
 */
#include "srv.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "store.h"

#define JOBS_MAX 8

struct srv_job {
    bool used, joined; /* joined: done, its thread joined */
    atomic_bool done;  /* the thread is returning */
    uint64_t serial;   /* start order: the oldest done is reused */
    pthread_t th;
    struct store_reader *rd;
    void *data; /* the kind's element for this slot */
    struct srv_jobs *pool;
};

struct srv_jobs {
    const struct srv_job_ops *ops;
    void *arg;
    size_t n;
    struct srv_job jobs[JOBS_MAX];
    uint64_t serial;
    struct store_reader *spare[JOBS_MAX]; /* readers between jobs */
    size_t nspare;
    int efd; /* eventfd: a job is done */
    struct event *ev;
};

static void *job_thread(void *arg)
{
    struct srv_job *j = arg;
    uint64_t one = 1;

    j->pool->ops->work(j);
    atomic_store(&j->done, true);
    if (write(j->pool->efd, &one, sizeof(one)) != sizeof(one))
        abort(); /* an eventfd cannot be full here */
    return NULL;
}

/* The loop's side of finished jobs: join them, then the kind goes on. */
static void on_jobs_done(evutil_socket_t fd, short what, void *arg)
{
    struct srv_jobs *p = arg;
    uint64_t n;
    size_t i;

    (void)what;
    if (read(fd, &n, sizeof(n)) < 0)
        return; /* EAGAIN: nothing new */
    for (i = 0; i < p->n; i++) {
        struct srv_job *j = &p->jobs[i];

        if (!j->used || j->joined || !atomic_load(&j->done))
            continue;
        pthread_join(j->th, NULL);
        j->joined = true;
        if (p->ops->joined != NULL)
            p->ops->joined(j);
    }
    p->ops->all_done(p->arg);
}

struct srv_jobs *srv_jobs_create(struct event_base *base, size_t n,
                                 const struct srv_job_ops *ops, void *arg,
                                 void *data, size_t size)
{
    struct srv_jobs *p;
    size_t i;

    assert(n <= JOBS_MAX && ops->work != NULL && ops->all_done != NULL);
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->ops = ops;
    p->arg = arg;
    p->n = n;
    for (i = 0; i < n; i++) {
        atomic_init(&p->jobs[i].done, false);
        p->jobs[i].pool = p;
        p->jobs[i].data = (char *)data + i * size;
    }
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->ev = p->efd >= 0
                ? event_new(base, p->efd, EV_READ | EV_PERSIST, on_jobs_done, p)
                : NULL;
    if (p->ev == NULL || event_add(p->ev, NULL) != 0) {
        srv_jobs_destroy(p);
        return NULL;
    }
    return p;
}

void srv_jobs_destroy(struct srv_jobs *p)
{
    if (p == NULL)
        return;
    srv_jobs_drop(p, true);
    while (p->nspare > 0)
        store_reader_close(p->spare[--p->nspare]);
    if (p->ev != NULL)
        event_free(p->ev);
    if (p->efd >= 0)
        close(p->efd);
    free(p);
}

void srv_jobs_clear(struct srv_job *j)
{
    struct srv_jobs *p = j->pool;
    void *data = j->data;

    if (p->ops->clear != NULL)
        p->ops->clear(j);
    if (j->rd != NULL && p->nspare < p->n)
        p->spare[p->nspare++] = j->rd; /* for the next job */
    else
        store_reader_close(j->rd);
    memset(j, 0, sizeof(*j));
    atomic_init(&j->done, false);
    j->pool = p;
    j->data = data;
}

void srv_jobs_drop(struct srv_jobs *p, bool running)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        struct srv_job *j = &p->jobs[i];

        if (running && j->used && !j->joined)
            pthread_join(j->th, NULL);
        if (j->used && (running || j->joined))
            srv_jobs_clear(j);
    }
}

struct srv_job *srv_jobs_find(struct srv_jobs *p,
                              bool (*is)(const void *data, const void *key),
                              const void *key)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (p->jobs[i].used && is(p->jobs[i].data, key))
            return &p->jobs[i];
    return NULL;
}

struct srv_job *srv_jobs_slot(struct srv_jobs *p)
{
    struct srv_job *best = NULL;
    size_t i;

    for (i = 0; i < p->n && (best == NULL || best->used); i++) {
        struct srv_job *j = &p->jobs[i];

        if (!j->used ||
            (j->joined && (best == NULL || j->serial < best->serial)))
            best = j;
    }
    if (best == NULL)
        return NULL;
    if (best->used)
        srv_jobs_clear(best);
    best->used = true;
    best->serial = ++p->serial;
    if (p->nspare > 0)
        best->rd = p->spare[--p->nspare];
    return best;
}

bool srv_jobs_start(struct srv_job *j)
{
    if (pthread_create(&j->th, NULL, job_thread, j) != 0) {
        srv_jobs_clear(j);
        return false;
    }
    return true;
}

void *srv_job_data(const struct srv_job *j)
{
    return j->data;
}

bool srv_job_joined(const struct srv_job *j)
{
    return j->joined;
}

struct store_reader **srv_job_reader(struct srv_job *j)
{
    return &j->rd;
}
