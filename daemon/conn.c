/* daemon/conn.c - connections: framing, the state machine, ordered replies.
 *
 * A connection is a bufferevent plus an explicit state:
 *
 *   CONN_HELLO --Hello ok--> CONN_READY --EOF/SIGTERM--> CONN_DRAINING
 *        \                        \                          |
 *         `-- bad frame/auth --> CONN_CLOSING <--------------'
 *
 * HELLO and READY read frames (4-byte big-endian length, then one
 * armmap.v1.Request).  The length is checked against --max-frame before a
 * byte of the body is awaited, so a claimed 4 GiB is answered at once and
 * never allocated.  DRAINING reads nothing more but answers what is
 * pending; CLOSING sends what is queued and closes.  Every transition goes
 * through conn_set_state(), which asserts and logs it.
 *
 * Replies leave in request order.  Each answer becomes a struct srv_reply
 * holding the packed frame; a reply to a change also waits for its store
 * ticket (it sits on the server's `waiting` list, in ticket order) and
 * every later reply of the connection waits behind it, so a read never
 * overtakes a change it follows.  Parked kmaps are the exception: they
 * queue their reply when they complete.  A connection that closes while
 * replies wait leaves them on the waiting list (with c == NULL) so that a
 * failed commit can still be undone.
 *
 * Backpressure: once more than --max-queued-bytes sit in the output
 * buffer we stop reading (and processing buffered frames) until the client
 * has read half of it (the write low watermark).
 */
#include "srv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "armmap.pb-c.h"

enum conn_state {
    CONN_HELLO = 0, /* only Hello is served */
    CONN_READY,     /* serving requests */
    CONN_DRAINING,  /* no more reading; answer what is pending */
    CONN_CLOSING,   /* flush the output, then close */
    CONN_STATE_MAX
};

static const char *const state_names[] = {
    "hello", "ready", "draining", "closing"
};

struct srv_reply {
    TAILQ_ENTRY(srv_reply) clink;       /* conn's ordered queue */
    TAILQ_ENTRY(srv_reply) wlink;       /* srv.waiting, by ticket */
    struct conn *c;                     /* NULL once its connection closed */
    uint64_t id;
    uint64_t first_ticket, ticket;      /* tickets it waits for; 0 = ready */
    bool waiting;                       /* on srv.waiting */
    bool failed;                        /* one of its commits failed */
    bool close_after;
    enum srv_undo undo;
    uint64_t undo_machine;
    struct srv_machine *undo_sm;
    size_t len;
    uint8_t *frame;                     /* length prefix + Response */
};

struct conn {
    struct srv *s;
    struct bufferevent *bev;
    enum conn_state state;
    uint64_t serial;                    /* for log lines */
    char peer[80];
    char tenant[SRV_TENANT_MAX + 1];
    struct srv_reply_list replies;      /* in request order */
    TAILQ_HEAD(, srv_park) parked;
    TAILQ_ENTRY(conn) link;
    bool paused;                        /* reading stopped by backpressure */
    bool store_paused;                  /* waiting for store queue room */
    size_t queued;                      /* bytes of replies not yet in output */
    uint64_t frames;                    /* requests read so far */
    int64_t partial_since;              /* ms; a frame began, 0: none */
    unsigned busy;                      /* inside a callback: defer destroy */
    bool dead;                          /* destroy when busy drops to 0 */
};

static uint64_t conn_serial;

static void conn_destroy(struct conn *c);
static void conn_process(struct conn *c);
static void conn_flush(struct conn *c);

static void conn_set_state(struct conn *c, enum conn_state st)
{
    assert(st < CONN_STATE_MAX);
    assert(c->state != CONN_CLOSING || st == CONN_CLOSING);
    if (c->state == st)
        return;
    srv_log(SRV_LOG_DEBUG, "conn %" PRIu64 ": %s -> %s", c->serial,
            state_names[c->state], state_names[st]);
    c->state = st;
}

const char *srv_conn_tenant(const struct conn *c)
{
    return c->tenant;
}

bool srv_conn_in_hello(const struct conn *c)
{
    return c->state == CONN_HELLO;
}

void srv_conn_hello_done(struct conn *c, const char *tenant)
{
    snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
    if (c->state == CONN_HELLO)
        conn_set_state(c, CONN_READY);
    srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": hello from tenant '%s'", c->serial,
            tenant);
}

void srv_conn_add_park(struct conn *c, struct srv_park *p)
{
    TAILQ_INSERT_TAIL(&c->parked, p, clink);
}

void srv_conn_unpark(struct conn *c, struct srv_park *p)
{
    TAILQ_REMOVE(&c->parked, p, clink);
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

static uint8_t *pack_response(const Armmap__V1__Response *resp, size_t *len)
{
    size_t n = armmap__v1__response__get_packed_size(resp);
    uint8_t *buf = malloc(4 + n);

    if (buf == NULL)
        abort();
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    armmap__v1__response__pack(resp, buf + 4);
    *len = 4 + n;
    return buf;
}

static uint8_t *pack_status(uint64_t id, int code, const char *msg, size_t *len)
{
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    Armmap__V1__Status status = ARMMAP__V1__STATUS__INIT;

    status.code = (Armmap__V1__Code)code;
    status.message = (char *)(msg != NULL ? msg : "");
    resp.id = id;
    resp.status = &status;
    return pack_response(&resp, len);
}

static void reply_free(struct srv_reply *r)
{
    free(r->frame);
    free(r);
}

static void queue_reply(struct conn *c, struct srv_reply *r)
{
    r->c = c;
    c->queued += r->len;
    TAILQ_INSERT_TAIL(&c->replies, r, clink);
    if (r->waiting)
        TAILQ_INSERT_TAIL(&c->s->waiting, r, wlink);
    if (r->close_after && c->state != CONN_CLOSING)
        conn_set_state(c, CONN_CLOSING);
    conn_flush(c);
}

void srv_conn_reply_status(struct conn *c, uint64_t id, int code,
                           const char *msg, bool close)
{
    struct srv_reply *r = calloc(1, sizeof(*r));

    if (r == NULL)
        abort();
    if (code >= 0 && code < MM_STATUS_COUNT)
        c->s->n.errors_by_code[code] += code != MM_OK;
    r->id = id;
    r->close_after = close;
    r->frame = pack_status(id, code, msg, &r->len);
    queue_reply(c, r);
}

void srv_conn_reply(struct srv_call *call)
{
    Armmap__V1__Response *resp = call->resp;
    Armmap__V1__Status status = ARMMAP__V1__STATUS__INIT;
    struct srv_reply *r;

    if (call->parked)
        return;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    call->s->n.errors_by_code[call->code] += call->code != MM_OK;
    status.code = (Armmap__V1__Code)call->code;
    status.message = call->msg;
    resp->id = call->id;
    resp->status = &status;
    if (call->code != MM_OK)
        resp->body_case = ARMMAP__V1__RESPONSE__BODY__NOT_SET;
    r->id = call->id;
    r->frame = pack_response(resp, &r->len);
    r->close_after = call->close_after;
    if (call->ticket != 0) {
        r->first_ticket =
            call->first_ticket != 0 ? call->first_ticket : call->ticket;
        r->ticket = call->ticket;
        r->waiting = true;
        r->undo = call->undo;
        r->undo_machine = call->undo_machine;
        r->undo_sm = call->undo_sm;
    }
    queue_reply(call->c, r);
}

/* Moves ready replies from the head of the queue to the output. */
static void conn_flush(struct conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct srv_reply *r;

    while ((r = TAILQ_FIRST(&c->replies)) != NULL && !r->waiting) {
        TAILQ_REMOVE(&c->replies, r, clink);
        c->queued -= r->len;
        evbuffer_add(out, r->frame, r->len);
        reply_free(r);
    }
    /* Replies still waiting for commits count too: a client that pipelines
     * changes faster than they commit is paused as well. */
    if (!c->paused && c->state != CONN_CLOSING &&
        evbuffer_get_length(out) + c->queued > c->s->st->max_queued_bytes) {
        c->paused = true;
        bufferevent_disable(c->bev, EV_READ);
        srv_log(SRV_LOG_DEBUG, "conn %" PRIu64 ": %zu reply bytes queued; "
                "reading paused", c->serial,
                evbuffer_get_length(out) + c->queued);
    }
}

static bool conn_has_pending(const struct conn *c)
{
    return !TAILQ_EMPTY(&c->replies) || !TAILQ_EMPTY(&c->parked);
}

/* Closes the connection if it is closing/draining and has sent everything. */
static void conn_maybe_finish(struct conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (c->state != CONN_CLOSING && c->state != CONN_DRAINING)
        return;
    if (c->state == CONN_DRAINING && conn_has_pending(c))
        return;
    if (c->state == CONN_CLOSING && !TAILQ_EMPTY(&c->replies) &&
        TAILQ_FIRST(&c->replies)->waiting)
        return;
    if (evbuffer_get_length(out) == 0)
        conn_destroy(c);
    else
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/* Undoes the in-memory effect of a change whose commit failed. */
static void undo_change(struct srv *s, struct srv_reply *r, const char *msg)
{
    struct srv_machine *sm;
    char err[SRV_MSG_MAX];

    switch (r->undo) {
    case SRV_UNDO_NONE:
        break;
    case SRV_UNDO_REBUILD:
        sm = srv_machine_get(s->reg, r->undo_machine);
        if (sm != NULL && srv_machine_rebuild(s, sm, err, sizeof(err)) != 0)
            srv_log(SRV_LOG_ERROR,
                    "machine %" PRIu64 ": rebuild after a failed "
                    "commit: %s",
                    sm->id, err);
        break;
    case SRV_UNDO_UNCREATE:
        sm = srv_machine_unlink(s->reg, r->undo_machine);
        if (sm != NULL) {
            srv_park_fail_machine(s, sm, MM_UNAVAILABLE, msg);
            srv_machine_free(sm);
        }
        break;
    case SRV_UNDO_UNDESTROY:
        srv_machine_relink(s->reg, r->undo_sm);
        r->undo_sm = NULL;
        break;
    }
}

void srv_commit_done(struct srv *s, uint64_t ticket, bool ok, const char *msg)
{
    struct srv_reply *r, *next;

    for (r = TAILQ_FIRST(&s->waiting); r != NULL && r->first_ticket <= ticket;
         r = next) {
        next = TAILQ_NEXT(r, wlink);
        if (!ok && !r->failed) {
            r->failed = true;
            undo_change(s, r, msg);
        }
        if (r->ticket > ticket)
            continue;
        TAILQ_REMOVE(&s->waiting, r, wlink);
        r->waiting = false;
        if (r->undo == SRV_UNDO_UNDESTROY && r->undo_sm != NULL) {
            srv_machine_free(r->undo_sm);
            r->undo_sm = NULL;
        }
        if (r->failed) {
            char text[SRV_MSG_MAX];

            free(r->frame);
            snprintf(text, sizeof(text), "store: %s",
                     msg != NULL ? msg : "commit failed");
            if (r->c != NULL)
                r->c->queued -= r->len;
            r->frame = pack_status(r->id, MM_UNAVAILABLE, text, &r->len);
            if (r->c != NULL)
                r->c->queued += r->len;
            s->n.errors_by_code[MM_UNAVAILABLE]++;
        } else {
            s->n.committed++;
        }
        if (r->c == NULL) {
            reply_free(r);
            continue;
        }
        if (TAILQ_FIRST(&r->c->replies) == r) {
            struct conn *c = r->c;

            c->busy++;
            conn_flush(c);
            conn_maybe_finish(c);
            c->busy--;
            if (c->dead && c->busy == 0)
                conn_destroy(c);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static void conn_process(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    c->busy++;
    while ((c->state == CONN_HELLO || c->state == CONN_READY) && !c->paused &&
           !c->store_paused) {
        uint8_t hdr[4];
        uint32_t n;
        const uint8_t *body;

        if (evbuffer_get_length(in) < 4)
            break;
        if (!srv_persist_has_room(c->s)) {
            /* The store's queue is full: wait for the next reap. */
            c->store_paused = true;
            c->s->store_waiters++;
            bufferevent_disable(c->bev, EV_READ);
            break;
        }
        evbuffer_copyout(in, hdr, 4);
        n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
            (uint32_t)hdr[2] << 8 | hdr[3];
        if (n > c->s->st->max_frame) {
            char msg[SRV_MSG_MAX];

            snprintf(msg, sizeof(msg), "frame of %" PRIu32 " bytes exceeds "
                     "--max-frame (%" PRIu64 " bytes)", n, c->s->st->max_frame);
            srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": %s; closing", c->serial,
                    msg);
            evbuffer_drain(in, evbuffer_get_length(in));
            srv_conn_reply_status(c, 0, MM_RESOURCE_EXHAUSTED, msg, true);
            break;
        }
        if (evbuffer_get_length(in) < 4 + (size_t)n)
            break;
        evbuffer_drain(in, 4);
        body = n > 0 ? evbuffer_pullup(in, n) : (const uint8_t *)"";
        c->frames++;
        c->s->n.requests++;
        srv_dispatch(c->s, c, body, n);
        evbuffer_drain(in, n);
        if (c->state == CONN_CLOSING)
            evbuffer_drain(in, evbuffer_get_length(in));
    }
    conn_maybe_finish(c);
    c->busy--;
    if (c->dead && c->busy == 0)
        conn_destroy(c);
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A frame must arrive whole within --idle-timeout of its first byte.  The
 * read timeout restarts with every byte, so on its own it would let a
 * client that drips one byte a second hold a connection forever.  Time
 * spent paused by backpressure is ours, not the client's, and not counted. */
static void conn_check_partial(struct conn *c, bool progressed)
{
    uint64_t limit_ms = c->s->st->idle_timeout * 1000;
    int64_t now;

    if (limit_ms == 0 || c->paused || c->store_paused ||
        (c->state != CONN_HELLO && c->state != CONN_READY) ||
        evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
        c->partial_since = 0;
        return;
    }
    now = monotonic_ms();
    if (progressed || c->partial_since == 0) {
        c->partial_since = now;
    } else if ((uint64_t)(now - c->partial_since) >= limit_ms) {
        srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": a frame took longer than "
                "--idle-timeout (%" PRIu64 " s) to arrive; closing",
                c->serial, c->s->st->idle_timeout);
        c->dead = true;
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    uint64_t frames = c->frames;

    (void)bev;
    c->busy++;
    conn_process(c);
    if (!c->dead)
        conn_check_partial(c, c->frames != frames);
    c->busy--;
    if (c->dead && c->busy == 0)
        conn_destroy(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(bev);

    c->busy++;
    if (c->paused && evbuffer_get_length(out) + c->queued <=
                         c->s->st->max_queued_bytes / 2) {
        c->paused = false;
        if ((c->state == CONN_HELLO || c->state == CONN_READY) &&
            !c->store_paused)
            bufferevent_enable(bev, EV_READ);
        srv_log(SRV_LOG_DEBUG, "conn %" PRIu64 ": reading resumed", c->serial);
        conn_process(c);
    }
    conn_maybe_finish(c);
    c->busy--;
    if (c->dead && c->busy == 0)
        conn_destroy(c);
}

/* Peer EOF: answer what was asked, then close. */
static void conn_begin_drain(struct conn *c)
{
    struct srv_park *p;

    if (c->state == CONN_CLOSING || c->state == CONN_DRAINING)
        return;
    bufferevent_disable(c->bev, EV_READ);
    conn_set_state(c, CONN_DRAINING);
    while ((p = TAILQ_FIRST(&c->parked)) != NULL) {
        if (c->s->stopping) {
            uint64_t id = p->req_id;
            char msg[SRV_MSG_MAX];

            snprintf(msg, sizeof(msg), "%s (the daemon is shutting down)",
                     p->msg);
            srv_park_cancel(p);
            srv_conn_reply_status(c, id, MM_WOULD_BLOCK, msg, false);
        } else {
            srv_park_cancel(p);
        }
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    c->busy++;
    if (what & BEV_EVENT_TIMEOUT) {
        if ((what & BEV_EVENT_READING) && conn_has_pending(c)) {
            bufferevent_enable(bev, EV_READ);
        } else {
            srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": idle for %" PRIu64 " s; "
                    "closing", c->serial, c->s->st->idle_timeout);
            c->dead = true;
        }
    } else if (what & BEV_EVENT_EOF) {
        srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": closed by peer", c->serial);
        conn_process(c);
        conn_begin_drain(c);
        conn_maybe_finish(c);
    } else if (what & BEV_EVENT_ERROR) {
        srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": %s", c->serial,
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        c->dead = true;
    }
    c->busy--;
    if (c->dead && c->busy == 0)
        conn_destroy(c);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

static void describe_peer(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[64];

    snprintf(buf, size, "unix");
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        evutil_inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        evutil_inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%u", host, ntohs(a->sin6_port));
    }
}

/* Too many connections: one status frame, sent as is, then close. */
static void refuse(struct srv *s, int fd)
{
    char msg[SRV_MSG_MAX];
    uint8_t *frame;
    size_t len;

    snprintf(msg, sizeof(msg),
             "too many connections (--max-connections %" PRIu64 ")",
             s->st->max_connections);
    frame = pack_status(0, MM_RESOURCE_EXHAUSTED, msg, &len);
    if (send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        srv_log(SRV_LOG_DEBUG, "refusing a connection: send failed");
    free(frame);
    s->n.errors_by_code[MM_RESOURCE_EXHAUSTED]++;
    srv_log(SRV_LOG_WARN, "%s", msg);
    evutil_closesocket(fd);
}

void srv_conn_accept(struct srv *s, int fd)
{
    struct conn *c;
    struct timeval tv;

    if (s->n.connections >= s->st->max_connections) {
        refuse(s, fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto err_close;
    c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL)
        goto err_free;
    c->s = s;
    c->serial = ++conn_serial;
    c->state = CONN_HELLO;
    TAILQ_INIT(&c->replies);
    TAILQ_INIT(&c->parked);
    describe_peer(fd, c->peer, sizeof(c->peer));
    TAILQ_INSERT_TAIL(&s->conns, c, link);
    s->n.connections++;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, s->st->max_queued_bytes / 2, 0);
    if (s->st->idle_timeout > 0) {
        tv.tv_sec = (time_t)s->st->idle_timeout;
        tv.tv_usec = 0;
        bufferevent_set_timeouts(c->bev, &tv, &tv);
    }
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": open from %s", c->serial, c->peer);
    return;
err_free:
    free(c);
err_close:
    evutil_closesocket(fd);
    srv_log(SRV_LOG_ERROR, "accept: out of memory");
}

static void conn_destroy(struct conn *c)
{
    struct srv_reply *r;
    struct srv_park *p;

    if (c->busy > 0) {
        c->dead = true;
        return;
    }
    while ((p = TAILQ_FIRST(&c->parked)) != NULL)
        srv_park_cancel(p);
    while ((r = TAILQ_FIRST(&c->replies)) != NULL) {
        TAILQ_REMOVE(&c->replies, r, clink);
        if (r->waiting)
            r->c = NULL;            /* the commit still decides its undo */
        else
            reply_free(r);
    }
    if (c->store_paused)
        c->s->store_waiters--;
    TAILQ_REMOVE(&c->s->conns, c, link);
    c->s->n.connections--;
    srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": closed", c->serial);
    bufferevent_free(c->bev);
    if (c->s->stopping && TAILQ_EMPTY(&c->s->conns))
        event_base_loopbreak(c->s->base);
    free(c);
}

void srv_conn_drain_all(struct srv *s)
{
    struct conn *c, *next;

    TAILQ_FOREACH(c, &s->conns, link)
        c->busy++;
    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = TAILQ_NEXT(c, link)) {
        conn_process(c);            /* complete frames already read */
        conn_begin_drain(c);
    }
    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_maybe_finish(c);
        c->busy--;
        if (c->dead && c->busy == 0)
            conn_destroy(c);
    }
}

void srv_conn_store_room(struct srv *s)
{
    struct conn *c, *next;

    if (s->store_waiters == 0)
        return;
    TAILQ_FOREACH(c, &s->conns, link)
        c->busy++;
    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = TAILQ_NEXT(c, link)) {
        if (c->store_paused && srv_persist_has_room(s)) {
            c->store_paused = false;
            s->store_waiters--;
            if ((c->state == CONN_HELLO || c->state == CONN_READY) &&
                !c->paused)
                bufferevent_enable(c->bev, EV_READ);
            conn_process(c);
        }
    }
    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        c->busy--;
        if (c->dead && c->busy == 0)
            conn_destroy(c);
    }
}

void srv_conn_close_all(struct srv *s)
{
    struct conn *c;

    while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
        c->busy = 0;
        conn_destroy(c);
    }
}

/* Frees replies left waiting after their connections closed (shutdown). */
void srv_conn_free_waiting(struct srv *s)
{
    struct srv_reply *r;

    while ((r = TAILQ_FIRST(&s->waiting)) != NULL) {
        TAILQ_REMOVE(&s->waiting, r, wlink);
        if (r->undo_sm != NULL)
            srv_machine_free(r->undo_sm);
        if (r->c != NULL) {
            TAILQ_REMOVE(&r->c->replies, r, clink);
        }
        reply_free(r);
    }
}
