/* daemon/commit.c - the commit path: tickets, the fence, undo, rebuilds.
 *
 * Every write handed to the store gets a ticket, a counter that grows by
 * one per write; the store reports writes in submission order, so a FIFO
 * of (machine, kind, seq) per ticket in flight tells, at each report, whose
 * write it was.  The replies waiting for tickets are conn.c's business
 * (srv_commit_done(): order and bytes); what a failed write means for the
 * machines is decided here, and only here:
 *
 *  - events (a change, or a whole Batch, which the store keeps whole or
 *    not at all): the machine's engine state is ahead of its log.  It is
 *    fenced: every new request to it answers UNAVAILABLE.  Writes of it
 *    still in flight fail as well (the store appends only at last seq + 1,
 *    so nothing submitted after a failed write can commit past it).  Once
 *    none is in flight, a deferred callback, off the request path, has it
 *    rebuilt once from what the store committed, by a replay on a worker
 *    thread (persist.c's fork replays), so the loop keeps serving others
 *    meanwhile; the callback installs the result and lifts the fence;
 *  - a creation: the machine never existed; it is unlinked (its later
 *    writes fail in the store with NOT_FOUND);
 *  - a destroy: the machine is linked back as it was.
 *
 * Cluster mode (cluster.c): a write the store refused as STORE_FENCED (the
 * machine is another node's now, or this node's lease is gone) marks its
 * machine lost; a lost machine is fenced like the others, but once none
 * of its writes is in flight it is dropped from memory instead of
 * rebuilt (the owner serves it; a later request here looks it up).
 *
 * A machine struct stays allocated while writes of it are in flight, even
 * after a destroy or a failed creation unlinked it ("gone"), so that every
 * FIFO entry points at live memory; it is freed at its last reap.
 *
 * Event counters stay exact: srv_machine.events counts what was submitted,
 * and a rebuild resets it to what the store holds.
 */
#include "srv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct inflight {
    struct srv_machine *sm;
    enum srv_write kind;
    uint64_t seq;   /* SRV_WRITE_EVENTS: its last seq */
    size_t nwrites; /* store writes (events) in it */
    uint64_t rkey;  /* its change's request key, or 0 */
    uint64_t rscope;
};

struct srv_commit {
    struct event *rebuild_ev;    /* runs the rebuild queue */
    struct srv_machine *queue;   /* machines to rebuild */
    struct srv_machine *waiting; /* their replay runs on a worker */
    struct inflight *ring;       /* writes in flight, by ticket */
    size_t cap;                  /* a power of two */
    size_t head, n;
    uint64_t head_ticket; /* ticket of ring[head] */
    uint64_t next_ticket;
};

static void on_rebuild(evutil_socket_t fd, short what, void *arg);

int srv_commit_open(struct srv *s)
{
    struct srv_commit *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return -1;
    k->cap = 1024;
    k->ring = malloc(k->cap * sizeof(*k->ring));
    k->rebuild_ev = event_new(s->base, -1, 0, on_rebuild, s);
    if (k->ring == NULL || k->rebuild_ev == NULL) {
        free(k->ring);
        if (k->rebuild_ev != NULL)
            event_free(k->rebuild_ev);
        free(k);
        return -1;
    }
    k->next_ticket = 1;
    k->head_ticket = 1;
    s->commit = k;
    return 0;
}

void srv_commit_close(struct srv *s)
{
    struct srv_commit *k = s->commit;
    struct srv_machine *sm;

    if (k == NULL)
        return;
    assert(k->n == 0);
    srv_commit_replays_done(s); /* the waiting ones with the others */
    while ((sm = k->queue) != NULL) {
        k->queue = sm->rnext;
        sm->rebuild_queued = false;
        if (sm->gone)
            srv_machine_free(sm); /* linked ones: the registry's */
    }
    event_free(k->rebuild_ev);
    free(k->ring);
    free(k);
    s->commit = NULL;
}

uint64_t srv_commit_next_ticket(const struct srv *s)
{
    return s->commit->next_ticket;
}

/* Doubles the ring, keeping its order; aborts without host memory, as
 * the daemon does elsewhere (the write is already in the store). */
static void ring_grow(struct srv_commit *k)
{
    struct inflight *nr = malloc(2 * k->cap * sizeof(*nr));
    size_t i;

    if (nr == NULL)
        abort();
    for (i = 0; i < k->n; i++)
        nr[i] = k->ring[(k->head + i) & (k->cap - 1)];
    free(k->ring);
    k->ring = nr;
    k->cap *= 2;
    k->head = 0;
}

uint64_t srv_commit_track(struct srv *s, struct srv_machine *sm,
                          enum srv_write kind, uint64_t seq, size_t nwrites)
{
    struct srv_commit *k = s->commit;
    struct inflight *f;

    assert(sm != NULL);
    if (k->n == k->cap)
        ring_grow(k);
    f = &k->ring[(k->head + k->n) & (k->cap - 1)];
    f->sm = sm;
    f->kind = kind;
    f->seq = seq;
    f->nwrites = nwrites;
    f->rkey = 0;
    k->n++;
    sm->inflight++;
    return k->next_ticket++;
}

bool srv_commit_pending(const struct srv *s, uint64_t ticket)
{
    return ticket != 0 && ticket >= s->commit->head_ticket;
}

void srv_commit_set_rkey(struct srv *s, uint64_t ticket, uint64_t scope,
                         uint64_t key)
{
    struct srv_commit *k = s->commit;
    struct inflight *f;

    if (!srv_commit_pending(s, ticket) || ticket - k->head_ticket >= k->n)
        return;
    f = &k->ring[(k->head + (ticket - k->head_ticket)) & (k->cap - 1)];
    f->rkey = key;
    f->rscope = scope;
}

/* Queues @sm for a rebuild by the deferred callback. */
static void queue_rebuild(struct srv *s, struct srv_machine *sm)
{
    struct srv_commit *k = s->commit;

    if (sm->rebuild_queued)
        return;
    sm->rebuild_queued = true;
    sm->rnext = k->queue;
    k->queue = sm;
    event_active(k->rebuild_ev, EV_TIMEOUT, 0);
}

/* After a reap or a refusal: frees a gone machine with nothing in flight,
 * or queues a fenced one's rebuild. */
static void settle(struct srv *s, struct srv_machine *sm)
{
    if (sm->inflight > 0)
        return;
    if (sm->gone) {
        if (!sm->rebuild_queued)
            srv_machine_free(sm);
        return;
    }
    if (sm->fenced)
        queue_rebuild(s, sm);
}

void srv_commit_lose(struct srv *s, struct srv_machine *sm)
{
    sm->lost = true;
    sm->fenced = true;
    settle(s, sm);
}

void srv_commit_head_lost(struct srv *s)
{
    struct srv_commit *k = s->commit;

    assert(k->n > 0);
    k->ring[k->head].sm->lost = true;
}

/* A lost machine with nothing in flight leaves memory: unlinked (if it
 * still is), its parked kmaps answered, freed. */
static void drop_lost(struct srv *s, struct srv_machine *sm)
{
    char msg[SRV_MSG_MAX];

    snprintf(msg, sizeof(msg),
             "kmap: machine %" PRIu64 " is no longer served "
             "by this node",
             sm->ext_id);
    if (srv_machine_get(s->reg, sm->id) == sm)
        srv_machine_unlink(s->reg, sm->id);
    srv_park_fail_machine(s, sm, MM_UNAVAILABLE, msg);
    srv_log(SRV_LOG_WARN, "cluster: machine %" PRIu64 " dropped: %s", sm->id,
            "another node owns it now");
    srv_machine_free(sm);
}

void srv_commit_refused(struct srv *s, struct srv_machine *sm)
{
    sm->fenced = true;
    settle(s, sm);
}

/* The undo of a failed write of @f. */
static void undo(struct srv *s, const struct inflight *f, const char *msg)
{
    struct srv_machine *sm = f->sm;

    switch (f->kind) {
    case SRV_WRITE_EVENTS:
        sm->fenced = true;
        break;
    case SRV_WRITE_CREATE:
        if (!sm->gone && srv_machine_get(s->reg, sm->id) == sm) {
            srv_machine_unlink(s->reg, sm->id);
            srv_park_fail_machine(s, sm, MM_UNAVAILABLE, msg);
        }
        sm->gone = true;
        break;
    case SRV_WRITE_DESTROY:
        /* Unlinked by the destroy; back, unless its creation failed. */
        if (!sm->gone && srv_machine_get(s->reg, sm->id) == NULL)
            srv_machine_relink(s->reg, sm);
        if (sm->lost)
            sm->fenced = true; /* dropped once settled */
        break;
    case SRV_WRITE_CHECKPOINT:
        break; /* replay just starts further back */
    }
}

size_t srv_commit_reaped(struct srv *s, uint64_t ticket, bool ok,
                         const char *msg)
{
    struct srv_commit *k = s->commit;
    struct inflight f;

    assert(k->n > 0 && ticket == k->head_ticket);
    f = k->ring[k->head];
    k->head = (k->head + 1) & (k->cap - 1);
    k->n--;
    k->head_ticket++;
    f.sm->inflight--;
    if (!ok && f.rkey != 0)
        srv_rkeys_failed(s, f.rscope, f.sm->tenant, f.rkey, ticket);
    if (!ok)
        undo(s, &f, msg);
    else if (f.kind == SRV_WRITE_EVENTS && f.seq > f.sm->committed_seq)
        f.sm->committed_seq = f.seq;
    else if (f.kind == SRV_WRITE_DESTROY) {
        f.sm->gone = true;
        srv_rkeys_drop(s, f.sm->id, f.sm->tenant);
    }
    if (ok && s->sse != NULL && f.kind == SRV_WRITE_EVENTS)
        srv_sse_committed(s, f.sm); /* event streams (sse.c) */
    else if (ok && s->sse != NULL && f.kind == SRV_WRITE_DESTROY)
        srv_sse_destroyed(s, f.sm);
    if (f.kind != SRV_WRITE_CHECKPOINT) /* no reply waits for one */
        srv_commit_done(s, ticket, ok, msg);
    settle(s, f.sm);
    return f.nwrites;
}

void srv_commit_replays_done(struct srv *s)
{
    struct srv_commit *k = s->commit;
    struct srv_machine *sm;

    if (k == NULL || k->waiting == NULL)
        return;
    while ((sm = k->waiting) != NULL) { /* still rebuild_queued */
        k->waiting = sm->rnext;
        sm->rnext = k->queue;
        k->queue = sm;
    }
    event_active(k->rebuild_ev, EV_TIMEOUT, 0);
}

/* Replaces sm->m by @m, the outcome @st of its rebuild (@err if it
 * failed: the machine is then marked broken). */
static void install(struct srv *s, struct srv_machine *sm, enum mm_status st,
                    struct mm_machine *m, const char *err)
{
    if (st != MM_OK) {
        srv_machine_set_broken(sm, err);
        srv_log(SRV_LOG_ERROR,
                "machine %" PRIu64 ": rebuild after a "
                "failed write: %s",
                sm->id, err);
        return;
    }
    srv_stream_detach_all(sm);
    mm_destroy(sm->m);
    sm->m = m;
    srv_machine_account(s->reg, sm);
    srv_log(SRV_LOG_WARN,
            "machine %" PRIu64 ": rebuilt at seq %" PRIu64
            " after a failed write",
            sm->id, mm_seq(sm->m));
}

/* The deferred callback: has each queued machine rebuilt from the store,
 * now that none of its writes is in flight.  Its replay (the whole
 * committed history: upto 0, which no Fork asks for) runs on a worker;
 * until it is done the machine waits on k->waiting, still queued and
 * fenced, and srv_commit_replays_done() brings it back here to take the
 * result. */
static void on_rebuild(evutil_socket_t fd, short what, void *arg)
{
    struct srv *s = arg;
    struct srv_commit *k = s->commit;
    struct srv_machine *sm, *next;
    struct mm_machine *m;
    char err[SRV_MSG_MAX];
    enum mm_status st;

    (void)fd;
    (void)what;
    sm = k->queue;
    k->queue = NULL;
    for (; sm != NULL; sm = next) {
        next = sm->rnext;
        sm->rnext = NULL;
        sm->rebuild_queued = false;
        if (sm->gone) {
            settle(s, sm);
            continue;
        }
        if (!sm->fenced || sm->inflight > 0)
            continue;                          /* settle() queues it again */
        srv_rkeys_drop(s, sm->id, sm->tenant); /* reloaded: committed */
        if (sm->lost) {
            drop_lost(s, sm);
            continue;
        }
        err[0] = '\0';
        st = srv_persist_fork_replay(s, sm->id, sm->config, 0, &m, err,
                                     sizeof(err));
        if (st == MM_WOULD_BLOCK) {
            sm->rebuild_queued = true;
            sm->rnext = k->waiting;
            k->waiting = sm;
            continue;
        }
        install(s, sm, st, m, err);
        sm->fenced = false;
        if (sm->m != NULL) {
            sm->committed_seq = mm_seq(sm->m);
            sm->events = sm->committed_seq > sm->parent_seq
                             ? sm->committed_seq - sm->parent_seq
                             : 0;
        }
    }
}
