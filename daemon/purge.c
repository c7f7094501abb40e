/* daemon/purge.c - purges run on a worker thread, answered on completion.
 *
 * store_purge() waits for the store's writer to delete the histories,
 * which took 0.1-0.5 s of the loop for 200,000 events (make bench,
 * fairness).  Here each purge runs on a thread of its own (store_purge()
 * may be called from any thread); its reply keeps its place on its
 * connection (srv_conn_hold()), which reads nothing more meanwhile, while
 * every other connection is served.  When the thread is done it queues the
 * job and writes to an eventfd the loop watches; the loop then adjusts the
 * tenants' stored-event counts and sends the answer.  At most
 * PURGE_THREADS run at once; a purge past that is answered UNAVAILABLE
 * ("retry").
 */
#include "srv.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "armmap.pb-c.h"

#define PURGE_THREADS 4

struct purge_job {
    struct srv *s;
    struct srv_reply *r; /* the held answer */
    uint64_t id;
    bool all; /* an admin's: every tenant */
    char tenant[SRV_TENANT_MAX + 1];
    uint64_t older_than_ms;
    /* Filled by the thread: */
    enum mm_status st;
    uint64_t machines, events;
    char err[SRV_MSG_MAX];
    pthread_t th;
    struct purge_job *next; /* purges.running, then .done */
};

struct srv_purges {
    int efd;
    struct event *ev;
    pthread_mutex_t mu;
    struct purge_job *running; /* loop thread only */
    struct purge_job *done;    /* under mu */
    unsigned nrunning;
};

static void *purge_thread(void *arg)
{
    struct purge_job *j = arg;
    struct srv_purges *p = j->s->purges;
    uint64_t one = 1;

    j->st = srv_persist_purge(j->s, j->all ? NULL : j->tenant, j->older_than_ms,
                              &j->machines, &j->events, j->err, sizeof(j->err));
    pthread_mutex_lock(&p->mu);
    j->next = p->done;
    p->done = j;
    pthread_mutex_unlock(&p->mu);
    if (write(p->efd, &one, sizeof(one)) != sizeof(one))
        abort(); /* an eventfd cannot be full here */
    return NULL;
}

static void unlink_running(struct srv_purges *p, struct purge_job *j)
{
    struct purge_job **pp;

    for (pp = &p->running; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            p->nrunning--;
            return;
        }
    }
}

/* The answer of @j (the thread is joined), and the stored-event counts. */
static void purge_finish(struct srv *s, struct purge_job *j)
{
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    Armmap__V1__Status status = ARMMAP__V1__STATUS__INIT;
    Armmap__V1__PurgeResult pr = ARMMAP__V1__PURGE_RESULT__INIT;
    char msg[SRV_MSG_MAX + 16];

    resp.id = j->id;
    resp.status = &status;
    if (j->st != MM_OK) {
        snprintf(msg, sizeof(msg), "purge: %s", j->err);
        status.code = (Armmap__V1__Code)j->st;
        status.message = msg;
        s->n.errors_by_code[j->st]++;
    } else {
        status.message = (char *)"";
        pr.machines = j->machines;
        pr.events = j->events;
        resp.body_case = ARMMAP__V1__RESPONSE__BODY_PURGE;
        resp.purge = &pr;
        /* An admin's purge spans tenants: count them afresh. */
        if (!j->all)
            srv_registry_sub_events(s->reg, j->tenant, j->events);
        else if (srv_tenants_count_events(s) != MM_OK)
            srv_log(SRV_LOG_WARN, "purge: cannot recount stored events");
    }
    srv_conn_release(j->r, &resp);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    struct srv *s = arg;
    struct srv_purges *p = s->purges;
    struct purge_job *j, *next;
    uint64_t n;

    (void)what;
    if (read(fd, &n, sizeof(n)) < 0)
        return; /* EAGAIN: nothing new */
    pthread_mutex_lock(&p->mu);
    j = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&p->mu);
    for (; j != NULL; j = next) {
        next = j->next;
        pthread_join(j->th, NULL);
        unlink_running(p, j);
        purge_finish(s, j);
        free(j);
    }
}

static int purges_open(struct srv *s)
{
    struct srv_purges *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return -1;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        free(p);
        return -1;
    }
    p->ev = event_new(s->base, p->efd, EV_READ | EV_PERSIST, on_done, s);
    if (p->ev == NULL || event_add(p->ev, NULL) != 0) {
        if (p->ev != NULL)
            event_free(p->ev);
        close(p->efd);
        free(p);
        return -1;
    }
    pthread_mutex_init(&p->mu, NULL);
    s->purges = p;
    return 0;
}

bool srv_purge_start(struct srv_call *call, const char *tenant,
                     uint64_t older_than_ms)
{
    struct srv *s = call->s;
    struct purge_job *j;

    if (s->purges == NULL && purges_open(s) != 0)
        return false;
    if (s->purges->nrunning >= PURGE_THREADS)
        return false;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return false;
    j->s = s;
    j->id = call->id;
    j->all = tenant == NULL;
    snprintf(j->tenant, sizeof(j->tenant), "%s", tenant ? tenant : "");
    j->older_than_ms = older_than_ms;
    j->r = srv_conn_hold(call->c, call->id);
    call->parked = true; /* answered by purge_finish() */
    if (pthread_create(&j->th, NULL, purge_thread, j) != 0) {
        /* Answered at once, in its place. */
        j->st = MM_UNAVAILABLE;
        snprintf(j->err, sizeof(j->err), "no thread to run it; retry");
        purge_finish(s, j);
        free(j);
        return true;
    }
    j->next = s->purges->running;
    s->purges->running = j;
    s->purges->nrunning++;
    return true;
}

void srv_purge_close(struct srv *s)
{
    struct srv_purges *p = s->purges;
    struct purge_job *j, *next;

    if (p == NULL)
        return;
    for (j = p->running; j != NULL; j = next) {
        Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
        Armmap__V1__Status status = ARMMAP__V1__STATUS__INIT;

        next = j->next;
        pthread_join(j->th, NULL);
        status.code = ARMMAP__V1__CODE__UNAVAILABLE;
        status.message = (char *)"purge: the daemon is shutting down";
        resp.id = j->id;
        resp.status = &status;
        srv_conn_release(j->r, &resp); /* frees it: no connection left */
        free(j);
    }
    event_free(p->ev);
    close(p->efd);
    pthread_mutex_destroy(&p->mu);
    free(p);
    s->purges = NULL;
}
