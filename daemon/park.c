/* daemon/park.c - kmaps waiting for a pkmap slot (Op.wait_ms).
 *
 * The real kernel's kmap() sleeps when every pkmap slot is pinned until a
 * kunmap() frees one and wakes the waiters (mm/highmem.c, pkmap_map_wait).
 * A kmap with Op.wait_ms that the engine answers MM_WOULD_BLOCK becomes a
 * struct srv_park on its machine's FIFO and on its connection, with a
 * timer.  A result carrying MM_RES_WAKE on that machine retries every
 * parked kmap in arrival order; a success answers its request (after its
 * commit, like any change); the timer answers WOULD_BLOCK with the
 * engine's message.  A park whose connection closes is cancelled.
 *
 * A park holds its machine (a pointer: every park of a machine is answered
 * or cancelled before the machine is freed) and its tenant, whose
 * parked_kmaps it counts for --max-parked-kmaps: each park is a timer and
 * some 300 bytes that a client could otherwise pile up without bound.
 */
#include "srv.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

/* Takes @p off the FIFO of its machine @sm (p->sm) and off its
 * connection's list (a park is on both from srv_park_kmap() until here),
 * and frees it. */
static void park_free(struct srv_machine *sm, struct srv_park *p)
{
    TAILQ_REMOVE(&sm->parked, p, mlink);
    assert(TAILQ_FIRST(&sm->parked) != p);
    srv_conn_unpark(p->c, p);
    event_free(p->timer);
    p->s->n.parked_kmaps--;
    if (p->t != NULL)
        p->t->parked_kmaps--;
    free(p);
}

static void on_park_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct srv_park *p = arg;
    struct conn *c = p->c;
    uint64_t id = p->req_id;
    char msg[SRV_MSG_MAX];

    (void)fd;
    (void)what;
    snprintf(msg, sizeof(msg), "%s", p->msg);
    park_free(p->sm, p);
    srv_conn_reply_status(c, id, MM_WOULD_BLOCK, msg, false);
}

int srv_park_kmap(struct srv *s, struct conn *c, struct srv_tenant *t,
                  struct srv_machine *sm, uint64_t req_id, uint32_t cpu,
                  uint32_t pfn, uint32_t wait_ms, const char *msg)
{
    struct srv_park *p = calloc(1, sizeof(*p));
    struct timeval tv;

    if (p == NULL)
        return -1;
    p->timer = evtimer_new(s->base, on_park_timeout, p);
    if (p->timer == NULL) {
        free(p);
        return -1;
    }
    p->s = s;
    p->c = c;
    p->t = t;
    p->req_id = req_id;
    p->sm = sm;
    p->cpu = cpu;
    p->pfn = pfn;
    snprintf(p->msg, sizeof(p->msg), "%s", msg);
    tv.tv_sec = wait_ms / 1000;
    tv.tv_usec = (wait_ms % 1000) * 1000;
    evtimer_add(p->timer, &tv);
    TAILQ_INSERT_TAIL(&sm->parked, p, mlink);
    srv_conn_add_park(c, p);
    s->n.parked_kmaps++;
    if (t != NULL)
        t->parked_kmaps++;
    return 0;
}

void srv_park_wake(struct srv *s, struct srv_machine *sm)
{
    struct srv_park *p, *next;

    for (p = TAILQ_FIRST(&sm->parked); p != NULL; p = next) {
        next = TAILQ_NEXT(p, mlink);
        if (!srv_persist_has_room(s))
            break; /* retried at the next wake */
        if (srv_dispatch_kmap_retry(s, p))
            park_free(sm, p);
    }
}

void srv_park_fail_machine(struct srv *s, struct srv_machine *sm, int code,
                           const char *msg)
{
    struct srv_park *p;

    (void)s;
    while ((p = TAILQ_FIRST(&sm->parked)) != NULL) {
        struct conn *c = p->c;
        uint64_t id = p->req_id;

        park_free(sm, p);
        srv_conn_reply_status(c, id, code, msg, false);
    }
}

void srv_park_cancel(struct srv_park *p)
{
    park_free(p->sm, p);
}

size_t srv_park_list(const struct srv_machine *sm, uint32_t *pfn, uint32_t *cpu,
                     size_t max)
{
    const struct srv_park *p;
    size_t n = 0;

    TAILQ_FOREACH(p, &sm->parked, mlink)
    {
        if (n < max) {
            pfn[n] = p->pfn;
            cpu[n] = p->cpu;
        }
        n++;
    }
    return n;
}
