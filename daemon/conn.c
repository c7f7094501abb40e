/* daemon/conn.c - connections: framing, the state machine, ordered replies.
 *
 * A connection is a socket with two libevent events (readable, writable),
 * an input and an output evbuffer, and an explicit state:
 *
 *   CONN_HELLO --Hello ok--> CONN_READY --EOF/SIGTERM--> CONN_DRAINING
 *        \                        \                          |
 *         `-- bad frame/auth --> CONN_CLOSING <--------------'
 *                                     |  all sent, peer not at EOF
 *                                     v
 *                                CONN_LINGER (see conn_close())
 *
 * HELLO and READY read frames (4-byte big-endian length, then one
 * armmap.v1.Request).  The length is checked against --max-frame before a
 * byte of the body is awaited, so a claimed 4 GiB is answered at once and
 * never allocated.  DRAINING reads nothing more but answers what is
 * pending, the frames already read included (a Fork waiting for its
 * replay, or frames behind backpressure, when EOF came: the client asked,
 * so it is answered); a parked kmap is answered WOULD_BLOCK rather than
 * waited for.  A peer that leaves before its Hello is answered nothing
 * more.  CLOSING sends what is queued and closes; DRAINING too, once
 * nothing is pending.  Unless the peer closed its end first, closing is
 * a lingering close (LINGER): shut the write side, discard what still
 * comes, bounded, so the peer reads EOF, not a reset.  Every transition goes
 * through conn_set_state(), which asserts and logs it.
 *
 * Replies leave in request order.  Each answer becomes a struct srv_reply
 * holding the packed frame; a reply to a change also waits for its store
 * ticket (it sits on the server's `waiting` list, in ticket order) and
 * every later reply of the connection waits behind it, so a read never
 * overtakes a change it follows.  Parked kmaps are the exception: they
 * queue their reply when they complete.  A connection that closes while
 * replies wait leaves them on the waiting list (with c == NULL) until
 * their commits are reported.  What a failed commit means for the
 * machines is commit.c's business; here it only turns the reply into
 * UNAVAILABLE.  A request that must see this connection's earlier
 * changes in the store (history) is deferred (srv_conn_defer()): its
 * frame stays in the input until those changes are answered.
 *
 * Backpressure: once more than --max-queued-bytes sit in the output
 * buffer we stop reading (and processing buffered frames) until the client
 * has read half of it.  Each connection also keeps its share of its
 * tenant's unsent reply bytes (--max-inflight-bytes-per-tenant) current.
 *
 * Before Hello (CONN_HELLO) a peer is nobody: a frame may be at most
 * --max-hello-frame (a few KiB), only a Hello body is decoded (dispatch.c),
 * reading stops once that much of reply is unread, and Hello must be
 * complete within --hello-timeout of the connection opening however its
 * bytes trickle in (both events' timeouts are what is left of it).  An
 * unauthenticated peer thus holds one read buffer and a few KiB, for a few
 * seconds.
 *
 * I/O is done here rather than by a bufferevent, for the system calls: a
 * readable socket costs one readv() (no FIONREAD ioctl), every frame it
 * completed is answered, and the replies leave in one writev() before the
 * callback returns.  The write event is added only if the socket did not
 * take everything, so a pipelining client costs epoll_wait, readv and
 * writev per burst, as with redis, instead of also two epoll_ctl() calls
 * to arm and disarm a write event per burst (measured: 7 system calls per
 * burst before, 3 after).  Replies released by a commit report are written
 * once per connection after the reap (srv_conn_send_pending()).
 *
 * The Request/Response envelope is coded by proto/envelope.c, which
 * libarmmap links too; an answer with nothing to wait for and nothing
 * queued ahead is packed straight into the output buffer, without a
 * struct srv_reply.
 */
#include "srv.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>

#include "armmap.pb-c.h"
#include "envelope.h"

enum conn_state {
    CONN_HELLO = 0, /* only Hello is served */
    CONN_READY,     /* serving requests */
    CONN_DRAINING,  /* no more reading; answer what is pending */
    CONN_CLOSING,   /* flush the output, then close */
    CONN_LINGER,    /* output sent, write side shut: discard until EOF */
    CONN_STATE_MAX
};

#define STREAM_LOW_WATER (256u << 10) /* a stream writes below this */
#define STREAM_SLICE     (64u << 10)  /* bytes a stream writes per turn */
/* Bytes asked of one read: as a bufferevent reads, so replies queue no
 * faster than before. */
#define READ_CHUNK   16384
#define LINGER_MS    2000       /* longest lingering close */
#define LINGER_BYTES (1u << 20) /* most bytes it reads and discards */
#define REFUSED_MAX  64         /* refused connections lingering at once */

static const char *const state_names[] = { "hello", "ready", "draining",
                                           "closing", "lingering" };

struct srv_reply {
    TAILQ_ENTRY(srv_reply) clink; /* conn's ordered queue */
    TAILQ_ENTRY(srv_reply) wlink; /* srv.waiting, by ticket */
    struct conn *c;               /* NULL once its connection closed */
    uint64_t id;
    uint64_t first_ticket, ticket; /* tickets it waits for; 0 = ready */
    bool waiting;                  /* on srv.waiting */
    bool failed;                   /* one of its commits failed */
    bool close_after;
    size_t len;                /* a stream's: bytes still to come */
    uint8_t *frame;            /* length prefix + Response */
    struct srv_stream *stream; /* produced as the socket drains */
    bool pending;              /* no answer yet (srv_conn_hold()) */
};

struct conn {
    struct srv *s;
    int fd;
    struct event *rev; /* readable, or idle too long */
    struct event *wev; /* writable, or stuck too long */
    struct evbuffer *in, *out;
    bool rd_on;              /* rev is added */
    bool send_pending;       /* on srv.to_send */
    TAILQ_ENTRY(conn) slink; /* srv.to_send */
    bool wr_on;              /* wev is added */
    enum conn_state state;
    uint64_t serial; /* for log lines */
    char peer[80];
    char tenant[SRV_TENANT_MAX + 1];
    struct srv_tenant *t;          /* set by Hello */
    size_t counted;                /* our share of t->inflight_bytes */
    int64_t opened_ms;             /* monotonic, for --hello-timeout */
    struct srv_reply_list replies; /* in request order */
    TAILQ_HEAD(, srv_park) parked;
    TAILQ_ENTRY(conn) link;
    bool paused;            /* reading stopped by backpressure */
    bool store_paused;      /* waiting for store queue room, or
                                           deferred (srv_conn_defer()) */
    bool deferred;          /* the frame being dispatched waits */
    bool drain_frames;      /* DRAINING after Hello: frames read
                                           before it are still answered */
    size_t queued;          /* bytes of replies not yet in output */
    struct srv_reply *hold; /* a stream, or an answer to come
                                           (srv_conn_hold()): no frame is
                                           read or answered meanwhile */
    struct event *sev;      /* zero timer: the stream's next
                                           slice, after a loop turn */
    uint64_t frames;        /* requests read so far */
    bool peer_eof;          /* the peer closed its end */
    bool local;             /* srv_conn_accept_local(): no lingering */
    bool refused;           /* past --max-connections (refuse()) */
    size_t lingered;        /* bytes discarded in CONN_LINGER */
    int64_t linger_end_ms;  /* monotonic: CONN_LINGER's bound */
    int64_t partial_since;  /* ms; a frame began, 0: none */
    unsigned busy;          /* inside a callback: defer destroy */
    bool dead;              /* destroy when busy drops to 0 */
};

static uint64_t conn_serial;

static int64_t monotonic_ms(void);

static void conn_destroy(struct conn *c);
static void conn_close(struct conn *c);
static void conn_drop_work(struct conn *c);
static void conn_free_io(struct conn *c);
static void conn_process(struct conn *c);
static void stream_kick(struct conn *c);
static void conn_leave(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_send(struct conn *c);
static void conn_maybe_resume(struct conn *c);
static void conn_cancel_parked(struct conn *c);
static void conn_reading(struct conn *c, bool on);
static void reply_direct(struct conn *c, const Armmap__V1__Response *resp,
                         bool close_after);

static void conn_set_state(struct conn *c, enum conn_state st)
{
    assert(st < CONN_STATE_MAX);
    assert(c->state != CONN_CLOSING || st == CONN_CLOSING || st == CONN_LINGER);
    assert(c->state != CONN_LINGER || st == CONN_LINGER);
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

struct srv_tenant *srv_conn_tenant_state(const struct conn *c)
{
    return c->t;
}

void srv_conn_hello_done(struct conn *c, struct srv_tenant *t)
{
    snprintf(c->tenant, sizeof(c->tenant), "%s", t->name);
    c->t = t;
    t->connections++;
    if (c->state == CONN_HELLO) {
        conn_set_state(c, CONN_READY);
        /* The idle timeout replaces --hello-timeout, on both events. */
        if (c->rd_on) {
            conn_reading(c, false); /* event_del: drops the timeout */
            conn_reading(c, true);
        }
        if (c->wr_on) {
            struct timeval tv = { (time_t)c->s->st->idle_timeout, 0 };

            event_del(c->wev);
            event_add(c->wev, c->s->st->idle_timeout > 0 ? &tv : NULL);
        }
    }
    srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": hello from tenant '%s'%s",
            c->serial, t->name, t->admin ? " (admin)" : "");
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

/* Writes the length prefix and the packed @resp at @buf. */
static void pack_frame(const Armmap__V1__Response *resp,
                       const struct envelope_sizes *z, uint8_t *buf)
{
    envelope_put_length(buf, z->total);
    envelope_response_pack(resp, z, buf + 4);
}

uint8_t *srv_response_pack(const Armmap__V1__Response *resp, size_t *len)
{
    struct envelope_sizes z;
    size_t n = envelope_response_size(resp, &z);
    uint8_t *buf = malloc(4 + n);

    if (buf == NULL)
        abort();
    pack_frame(resp, &z, buf);
    *len = 4 + n;
    return buf;
}

/* A reply and its frame in one allocation (the frame follows the struct);
 * a frame replaced later (a failed commit) is a separate malloc. */
static struct srv_reply *reply_new(const Armmap__V1__Response *resp)
{
    struct envelope_sizes z;
    size_t n = resp != NULL ? envelope_response_size(resp, &z) : 0;
    struct srv_reply *r = malloc(sizeof(*r) + (resp != NULL ? 4 + n : 0));

    if (r == NULL)
        abort();
    memset(r, 0, sizeof(*r));
    if (resp != NULL) {
        r->frame = (uint8_t *)(r + 1);
        r->len = 4 + n;
        pack_frame(resp, &z, r->frame);
    }
    return r;
}

static uint8_t *pack_status(uint64_t id, int code, const char *msg, size_t *len)
{
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    Armmap__V1__Status status = ARMMAP__V1__STATUS__INIT;

    status.code = (Armmap__V1__Code)code;
    status.message = (char *)(msg != NULL ? msg : "");
    resp.id = id;
    resp.status = &status;
    return srv_response_pack(&resp, len);
}

static void reply_free(struct srv_reply *r)
{
    srv_stream_free(r->stream);
    if (r->frame != (uint8_t *)(r + 1))
        free(r->frame);
    free(r);
}

/* Replaces the frame of @r (see reply_new()). */
static void reply_set_frame(struct srv_reply *r, uint8_t *frame, size_t len)
{
    if (r->frame != (uint8_t *)(r + 1))
        free(r->frame);
    r->frame = frame;
    r->len = len;
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
    struct srv_reply *r = reply_new(NULL);
    uint8_t *frame;
    size_t len;

    if (code >= 0 && code < MM_STATUS_COUNT) {
        c->s->n.errors_by_code[code] += code != MM_OK;
        if (c->t != NULL)
            c->t->errors_by_code[code] += code != MM_OK;
    }
    r->id = id;
    r->close_after = close;
    frame = pack_status(id, code, msg, &len);
    reply_set_frame(r, frame, len);
    queue_reply(c, r);
}

void srv_conn_reply(struct srv_call *call)
{
    Armmap__V1__Response *resp = call->resp;
    Armmap__V1__Status status = ARMMAP__V1__STATUS__INIT;
    struct srv_reply *r;

    if (call->parked)
        return;
    call->s->n.errors_by_code[call->code] += call->code != MM_OK;
    if (call->c->t != NULL)
        call->c->t->errors_by_code[call->code] += call->code != MM_OK;
    status.code = (Armmap__V1__Code)call->code;
    status.message = call->msg;
    if (call->owner != NULL) /* MOVED (cluster.c) */
        status.owner = (char *)call->owner;
    resp->id = call->id;
    resp->status = &status;
    if (call->code != MM_OK)
        resp->body_case = ARMMAP__V1__RESPONSE__BODY__NOT_SET;
    if (call->rkey != 0 && call->ticket != 0 && call->stream == NULL)
        srv_rkeys_remember(call, resp);
    if (call->stream != NULL && call->code == MM_OK) {
        /* Queued with its size still to count (an estimate until then);
         * the connection reads nothing more until it is sent. */
        r = reply_new(NULL);
        r->id = call->id;
        r->stream = call->stream;
        r->len = (size_t)srv_stream_left(r->stream);
        call->stream = NULL;
        call->c->hold = r;
        conn_reading(call->c, false);
        queue_reply(call->c, r);
        stream_kick(call->c);
        return;
    }
    srv_stream_free(call->stream);
    call->stream = NULL;
    if (call->ticket == 0 && TAILQ_EMPTY(&call->c->replies)) {
        /* Nothing to wait for and nothing ahead: straight to the output. */
        reply_direct(call->c, resp, call->close_after);
        return;
    }
    r = reply_new(resp);
    r->id = call->id;
    r->close_after = call->close_after;
    if (call->ticket != 0) {
        r->first_ticket = call->first_ticket != 0 ? call->first_ticket
                                                  : call->ticket;
        r->ticket = call->ticket;
        r->waiting = true;
    }
    queue_reply(call->c, r);
}

void srv_conn_reply_again(struct srv_call *call, const uint8_t *body,
                          size_t len, uint64_t wait)
{
    struct srv_reply *r = reply_new(NULL);
    uint8_t *frame;
    size_t flen;

    r->id = call->id;
    frame = srv_rkeys_frame(call->id, body, len, &flen);
    reply_set_frame(r, frame, flen);
    if (wait != 0) {
        /* Behind every ticket handed out so far, so that the waiting
         * list stays in ticket order; released with them. */
        r->first_ticket = wait;
        r->ticket = srv_commit_next_ticket(call->s) - 1;
        r->waiting = true;
    }
    queue_reply(call->c, r);
}

/* Unsent reply bytes before @c stops being read: before Hello only a few
 * KiB (a peer that sends requests unauthenticated and never reads must
 * not make us hold --max-queued-bytes of "say hello first"). */
static uint64_t queue_limit(const struct conn *c)
{
    return c->state == CONN_HELLO ? c->s->st->max_hello_frame
                                  : c->s->st->max_queued_bytes;
}

/* Brings @c's share of its tenant's unsent reply bytes up to date. */
static void conn_count_inflight(struct conn *c)
{
    size_t now = evbuffer_get_length(c->out) + c->queued;

    if (c->t == NULL || now == c->counted)
        return;
    c->t->inflight_bytes = c->t->inflight_bytes - c->counted + now;
    c->counted = now;
}

/* Replies still waiting for commits count too: a client that pipelines
 * changes faster than they commit is paused as well. */
static void conn_check_queued(struct conn *c)
{
    size_t out = evbuffer_get_length(c->out);

    conn_count_inflight(c);
    if (!c->paused && c->state != CONN_CLOSING &&
        out + c->queued > queue_limit(c)) {
        c->paused = true;
        conn_reading(c, false);
        srv_log(SRV_LOG_DEBUG,
                "conn %" PRIu64 ": %zu reply bytes queued; "
                "reading paused",
                c->serial, out + c->queued);
    }
}

/* Moves ready replies from the head of the queue to the output.  Outside
 * a callback of this connection (a parked kmap's timer, say) it also
 * writes; inside one, the callback writes once at its end. */
static void conn_flush(struct conn *c)
{
    struct srv_reply *r;

    while ((r = TAILQ_FIRST(&c->replies)) != NULL && !r->waiting &&
           !r->pending) {
        if (r->stream != NULL) {
            stream_kick(c); /* its turn: written in slices */
            break;
        }
        TAILQ_REMOVE(&c->replies, r, clink);
        c->queued -= r->len;
        evbuffer_add(c->out, r->frame, r->len);
        reply_free(r);
    }
    conn_check_queued(c);
    if (c->busy == 0)
        conn_send(c);
}

/* Packs @resp straight into the output (no reply is queued ahead). */
static void reply_direct(struct conn *c, const Armmap__V1__Response *resp,
                         bool close_after)
{
    struct envelope_sizes z;
    size_t n = envelope_response_size(resp, &z);
    struct evbuffer_iovec v;

    if (evbuffer_reserve_space(c->out, (ev_ssize_t)(4 + n), &v, 1) < 1 ||
        v.iov_len < 4 + n)
        abort(); /* host memory, as elsewhere */
    pack_frame(resp, &z, v.iov_base);
    v.iov_len = 4 + n;
    if (evbuffer_commit_space(c->out, &v, 1) != 0)
        abort();
    if (close_after && c->state != CONN_CLOSING)
        conn_set_state(c, CONN_CLOSING);
    conn_check_queued(c);
    if (c->busy == 0)
        conn_send(c);
}

/* Whether frames in the input are read and answered: before and after
 * Hello, and while a greeted connection drains. */
static bool conn_takes_frames(const struct conn *c)
{
    return c->state == CONN_HELLO || c->state == CONN_READY ||
           (c->state == CONN_DRAINING && c->drain_frames);
}

/* Whether the input holds a whole frame. */
static bool input_has_frame(const struct conn *c)
{
    size_t len = evbuffer_get_length(c->in);
    uint8_t hdr[4];

    if (len < 4)
        return false;
    evbuffer_copyout(c->in, hdr, 4);
    return len - 4 >= ((size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
                       (size_t)hdr[2] << 8 | hdr[3]);
}

static bool conn_has_pending(const struct conn *c)
{
    return !TAILQ_EMPTY(&c->replies) || !TAILQ_EMPTY(&c->parked) ||
           (c->state == CONN_DRAINING && c->drain_frames && input_has_frame(c));
}

/* Closes the connection if it is closing/draining and has sent everything;
 * if output remains, the write event calls back here once it is sent. */
static void conn_maybe_finish(struct conn *c)
{
    if (c->state != CONN_CLOSING && c->state != CONN_DRAINING)
        return;
    if (c->state == CONN_DRAINING && conn_has_pending(c))
        return;
    if (c->state == CONN_CLOSING && !TAILQ_EMPTY(&c->replies) &&
        (TAILQ_FIRST(&c->replies)->waiting ||
         TAILQ_FIRST(&c->replies)->pending ||
         TAILQ_FIRST(&c->replies)->stream != NULL))
        return;
    conn_send(c);
    if (c->dead)
        conn_destroy(c);
    else if (evbuffer_get_length(c->out) == 0)
        conn_close(c);
}

void srv_commit_done(struct srv *s, uint64_t ticket, bool ok, const char *msg)
{
    struct srv_reply *r, *next;
    struct conn *c;

    for (r = TAILQ_FIRST(&s->waiting); r != NULL && r->first_ticket <= ticket;
         r = next) {
        next = TAILQ_NEXT(r, wlink);
        if (!ok)
            r->failed = true;
        if (r->ticket > ticket)
            continue;
        TAILQ_REMOVE(&s->waiting, r, wlink);
        r->waiting = false;
        if (r->failed) {
            char text[SRV_MSG_MAX];
            uint8_t *frame;
            size_t len;

            snprintf(text, sizeof(text), "store: %s",
                     msg != NULL ? msg : "commit failed");
            if (r->c != NULL)
                r->c->queued -= r->len;
            frame = pack_status(r->id, MM_UNAVAILABLE, text, &len);
            reply_set_frame(r, frame, len);
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
            c = r->c;
            /* Written once after the reap, with all the replies its
             * commits released (srv_conn_send_pending()), not once per
             * reply. */
            if (!c->send_pending) {
                c->send_pending = true;
                c->busy++;
                TAILQ_INSERT_TAIL(&s->to_send, c, slink);
            }
            conn_flush(c);
        }
    }
}

void srv_conn_send_pending(struct srv *s)
{
    struct conn *c;

    while ((c = TAILQ_FIRST(&s->to_send)) != NULL) {
        TAILQ_REMOVE(&s->to_send, c, slink);
        c->send_pending = false;
        conn_send(c);
        conn_maybe_finish(c);
        c->busy--;
        if (c->dead && c->busy == 0)
            conn_destroy(c);
    }
}

/* ------------------------------------------------------------------ */
/* Streamed replies                                                    */
/* ------------------------------------------------------------------ */

/* A stream writes a slice when the output is below STREAM_LOW_WATER and
 * its reply is the first of the queue, then lets the loop turn (a zero
 * timer: epoll_wait runs first, so other connections are served between
 * slices).  Its size is counted the same way, a slice per turn, as soon
 * as it is queued, earlier replies or not. */

static void stream_cb(evutil_socket_t fd, short what, void *arg);

static void stream_kick(struct conn *c)
{
    static const struct timeval zero = { 0, 0 };

    if (c->dead || c->hold == NULL || c->hold->stream == NULL)
        return;
    if (c->sev == NULL) {
        c->sev = evtimer_new(c->s->base, stream_cb, c);
        if (c->sev == NULL)
            abort(); /* host memory, as elsewhere */
    }
    if (!evtimer_pending(c->sev, NULL))
        evtimer_add(c->sev, &zero);
}

/* Brings r->len (and c->queued) to what the stream has still to write. */
static void stream_count(struct conn *c, struct srv_reply *r)
{
    size_t left = (size_t)srv_stream_left(r->stream);

    c->queued = c->queued - r->len + left;
    r->len = left;
}

/* Frames are read again (the held reply is out, or answered); the
 * replies after it follow. */
static void hold_end(struct conn *c)
{
    c->hold = NULL;
    conn_flush(c);
    if (conn_takes_frames(c) && !c->paused && !c->store_paused) {
        if (c->state != CONN_DRAINING)
            conn_reading(c, true);
        event_active(c->rev, EV_READ, 0); /* frames already buffered */
    }
    conn_maybe_finish(c);
}

static void stream_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct srv_reply *r = c->hold;

    (void)fd;
    (void)what;
    if (r == NULL || r->stream == NULL || c->dead)
        return;
    c->busy++;
    if (!srv_stream_size(r->stream)) {
        stream_count(c, r);
        stream_kick(c);
    } else if (TAILQ_FIRST(&c->replies) == r &&
               evbuffer_get_length(c->out) < STREAM_LOW_WATER) {
        bool done = srv_stream_emit(r->stream, c->out, STREAM_SLICE);

        stream_count(c, r);
        conn_check_queued(c);
        if (done) {
            TAILQ_REMOVE(&c->replies, r, clink);
            c->queued -= r->len;
            reply_free(r);
            hold_end(c);
        }
    } else {
        stream_count(c, r); /* sized: the exact count */
    }
    conn_leave(c); /* writes; kicks the next slice */
}

struct srv_reply *srv_conn_hold(struct conn *c, uint64_t id)
{
    struct srv_reply *r = reply_new(NULL);

    r->id = id;
    r->pending = true;
    c->hold = r;
    conn_reading(c, false);
    queue_reply(c, r);
    return r;
}

void srv_conn_release(struct srv_reply *r, const Armmap__V1__Response *resp)
{
    struct conn *c = r->c;
    uint8_t *frame;
    size_t len;

    if (c == NULL) { /* its connection closed */
        reply_free(r);
        return;
    }
    frame = srv_response_pack(resp, &len);
    reply_set_frame(r, frame, len);
    c->queued += len;
    r->pending = false;
    c->busy++;
    hold_end(c);
    conn_leave(c);
}

void srv_conn_release_stream(struct srv_reply *r, struct srv_stream *st)
{
    struct conn *c = r->c;

    r->stream = st;
    if (c == NULL) { /* its connection closed */
        reply_free(r);
        return;
    }
    r->len = (size_t)srv_stream_left(st);
    c->queued += r->len;
    r->pending = false;
    c->busy++; /* c->hold stays: stream_cb ends it */
    conn_flush(c);
    stream_kick(c);
    conn_leave(c);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/* Time left of --hello-timeout, at least 1 ms. */
static void hello_left(const struct conn *c, struct timeval *tv)
{
    int64_t left = c->opened_ms + (int64_t)c->s->st->hello_timeout * 1000 -
                   monotonic_ms();

    if (left < 1)
        left = 1;
    tv->tv_sec = (time_t)(left / 1000);
    tv->tv_usec = (suseconds_t)(left % 1000) * 1000;
}

/* True (and @c marked dead) if Hello is overdue.  @timed_out: an event
 * of @c timed out, and before Hello their timeouts are what is left of
 * --hello-timeout (the coarse clock may not have caught up yet). */
static bool hello_overdue(struct conn *c, bool timed_out)
{
    uint64_t limit_ms = c->s->st->hello_timeout * 1000;

    if (c->state != CONN_HELLO || limit_ms == 0 ||
        (!timed_out && (uint64_t)(monotonic_ms() - c->opened_ms) < limit_ms))
        return false;
    srv_log(SRV_LOG_INFO,
            "conn %" PRIu64 ": no hello within --hello-timeout "
            "(%" PRIu64 " s); closing",
            c->serial, c->s->st->hello_timeout);
    c->dead = true;
    return true;
}

/* Adds or removes the read event (idle timeout included). */
static void conn_reading(struct conn *c, bool on)
{
    struct timeval tv;

    if (on == c->rd_on)
        return;
    c->rd_on = on;
    if (!on) {
        event_del(c->rev);
        return;
    }
    if (c->state == CONN_HELLO && c->s->st->hello_timeout > 0) {
        hello_left(c, &tv);
        event_add(c->rev, &tv);
        return;
    }
    tv.tv_sec = (time_t)c->s->st->idle_timeout;
    tv.tv_usec = 0;
    event_add(c->rev, c->s->st->idle_timeout > 0 ? &tv : NULL);
}

/* Writes what the socket takes now, without waiting.  The write event is
 * added only while output remains after that: replies computed in one
 * pass over the input leave in one write(), as redis does, with no
 * epoll_ctl() per reply batch.  A failed write marks the connection dead. */
static void conn_send(struct conn *c)
{
    struct timeval tv;
    size_t left;

    if (c->dead)
        return;
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);

        if (n >= 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": %s", c->serial,
                evutil_socket_error_to_string(errno));
        c->dead = true;
        return;
    }
    conn_count_inflight(c);
    left = evbuffer_get_length(c->out);
    if (left > 0 && !c->wr_on) {
        tv.tv_sec = (time_t)c->s->st->idle_timeout;
        tv.tv_usec = 0;
        if (c->state == CONN_HELLO && c->s->st->hello_timeout > 0)
            hello_left(c, &tv); /* a reader too slow before Hello */
        event_add(c->wev, tv.tv_sec > 0 || tv.tv_usec > 0 ? &tv : NULL);
        c->wr_on = true;
    } else if (left == 0 && c->wr_on) {
        event_del(c->wev);
        c->wr_on = false;
    }
    if (c->hold != NULL && c->hold->stream != NULL && left < STREAM_LOW_WATER)
        stream_kick(c);
    conn_maybe_resume(c);
}

/* The largest frame @c may send now. */
static uint64_t frame_limit(const struct conn *c)
{
    return c->state == CONN_HELLO ? c->s->st->max_hello_frame
                                  : c->s->st->max_frame;
}

static void conn_process(struct conn *c)
{
    struct evbuffer *in = c->in;

    c->busy++;
    while (conn_takes_frames(c) && !c->paused && !c->store_paused &&
           c->hold == NULL) {
        uint8_t hdr[4];
        uint32_t n;
        const uint8_t *body;

        if (evbuffer_get_length(in) < 4)
            break;
        if (!srv_persist_has_room(c->s)) {
            /* The store's queue is full: wait for the next reap. */
            c->store_paused = true;
            c->s->store_waiters++;
            conn_reading(c, false);
            break;
        }
        evbuffer_copyout(in, hdr, 4);
        n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
            (uint32_t)hdr[2] << 8 | hdr[3];
        if (n > frame_limit(c)) {
            char msg[SRV_MSG_MAX];

            if (c->state == CONN_HELLO)
                snprintf(msg, sizeof(msg),
                         "frame of %" PRIu32 " bytes exceeds "
                         "--max-hello-frame (%" PRIu64 " bytes) before hello",
                         n, c->s->st->max_hello_frame);
            else
                snprintf(msg, sizeof(msg),
                         "frame of %" PRIu32 " bytes "
                         "exceeds --max-frame (%" PRIu64 " bytes)",
                         n, c->s->st->max_frame);
            srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": %s; closing", c->serial,
                    msg);
            evbuffer_drain(in, evbuffer_get_length(in));
            srv_conn_reply_status(c, 0, MM_RESOURCE_EXHAUSTED, msg, true);
            break;
        }
        if (evbuffer_get_length(in) < 4 + (size_t)n)
            break;
        body = evbuffer_pullup(in, 4 + (ev_ssize_t)n) + 4;
        c->frames++;
        c->s->n.requests++;
        srv_dispatch(c->s, c, body, n);
        if (c->deferred) {
            /* Answered later: the frame stays until this connection's
             * changes are answered (srv_conn_store_room()). */
            c->frames--;
            c->s->n.requests--;
            c->deferred = false;
            c->store_paused = true;
            c->s->store_waiters++;
            conn_reading(c, false);
            break;
        }
        if (c->t != NULL)
            c->t->requests++;
        evbuffer_drain(in, 4 + (size_t)n);
        if (c->state == CONN_CLOSING)
            evbuffer_drain(in, evbuffer_get_length(in));
    }
    if (c->state == CONN_DRAINING)
        conn_cancel_parked(c); /* a kmap read before the drain parked */
    c->busy--;
    if (c->dead && c->busy == 0)
        conn_destroy(c);
    else
        conn_maybe_finish(c); /* may free @c: the last use */
}

/* Coarse is enough for a limit counted in seconds, and it is read on the
 * read path whenever a burst ends inside a frame. */
static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
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
        evbuffer_get_length(c->in) == 0) {
        c->partial_since = 0;
        return;
    }
    now = monotonic_ms();
    if (progressed || c->partial_since == 0) {
        c->partial_since = now;
    } else if ((uint64_t)(now - c->partial_since) >= limit_ms) {
        srv_log(SRV_LOG_INFO,
                "conn %" PRIu64 ": a frame took longer than "
                "--idle-timeout (%" PRIu64 " s) to arrive; closing",
                c->serial, c->s->st->idle_timeout);
        c->dead = true;
    }
}

/* Output went below half of --max-queued-bytes: read again, and first
 * answer the frames already buffered (through the read callback, made
 * active: this may run deep inside another callback). */
static void conn_maybe_resume(struct conn *c)
{
    if (!c->paused || c->dead ||
        evbuffer_get_length(c->out) + c->queued > queue_limit(c) / 2)
        return;
    c->paused = false;
    if (c->hold != NULL)
        return; /* hold_end() resumes it */
    if ((c->state == CONN_HELLO || c->state == CONN_READY) && !c->store_paused)
        conn_reading(c, true);
    srv_log(SRV_LOG_DEBUG, "conn %" PRIu64 ": reading resumed", c->serial);
    event_active(c->rev, EV_READ, 0);
}

/* A draining connection does not wait for pkmap slots: each parked kmap
 * is answered WOULD_BLOCK, saying why. */
static void conn_cancel_parked(struct conn *c)
{
    struct srv_park *p;

    while ((p = TAILQ_FIRST(&c->parked)) != NULL) {
        uint64_t id = p->req_id;
        char msg[SRV_MSG_MAX];

        snprintf(msg, sizeof(msg), "%s (%s)", p->msg,
                 c->s->stopping ? "the daemon is shutting down"
                                : "the client closed its end");
        srv_park_cancel(p);
        srv_conn_reply_status(c, id, MM_WOULD_BLOCK, msg, false);
    }
}

/* Peer EOF or SIGTERM: answer what was asked, then close. */
static void conn_begin_drain(struct conn *c)
{
    if (c->state != CONN_HELLO && c->state != CONN_READY)
        return;
    conn_reading(c, false);
    c->drain_frames = c->state == CONN_READY;
    if (!c->drain_frames)
        evbuffer_drain(c->in, evbuffer_get_length(c->in)); /* no Hello */
    conn_set_state(c, CONN_DRAINING);
    conn_cancel_parked(c);
}

/*
 * Lingering close.  A close() with unread bytes in the socket resets the
 * connection: the peer's read fails with ECONNRESET instead of EOF, and
 * over TCP the replies still in flight may be lost.  So once everything
 * queued is sent, unless the peer closed its end already, @c shuts its
 * write side down (the peer reads EOF after the last reply) and reads and
 * discards until the peer closes, for at most LINGER_MS and LINGER_BYTES;
 * then closes.  It still counts against --max-connections meanwhile, and
 * a daemon stopping waits for it no longer than that.
 */
static void conn_close(struct conn *c)
{
    struct timeval tv = { LINGER_MS / 1000, (LINGER_MS % 1000) * 1000 };

    if (c->peer_eof || c->local || shutdown(c->fd, SHUT_WR) != 0) {
        conn_destroy(c);
        return;
    }
    conn_set_state(c, CONN_LINGER);
    conn_drop_work(c);
    c->paused = false;
    evbuffer_drain(c->in, evbuffer_get_length(c->in));
    if (c->wr_on) {
        event_del(c->wev);
        c->wr_on = false;
    }
    if (c->sev != NULL)
        event_del(c->sev);
    c->linger_end_ms = monotonic_ms() + LINGER_MS;
    c->rd_on = true;
    event_add(c->rev, &tv); /* replaces any timeout it had */
}

/* CONN_LINGER: reads and discards what is there; marks @c dead at EOF,
 * on an error, or past either bound. */
static void linger_read(struct conn *c, bool timed_out)
{
    static uint8_t sink[READ_CHUNK];
    struct timeval tv;
    int64_t left;
    ssize_t n = -1;

    while (!timed_out && c->lingered < LINGER_BYTES) {
        n = recv(c->fd, sink, sizeof(sink), 0);
        if (n > 0)
            c->lingered += (size_t)n;
        else if (n == 0 || errno != EINTR)
            break;
    }
    left = c->linger_end_ms - monotonic_ms();
    if (n == 0 ||
        (n < 0 && !timed_out && errno != EAGAIN && errno != EWOULDBLOCK)) {
        c->dead = true; /* EOF, or the peer is gone */
    } else if (timed_out || left <= 0 || c->lingered >= LINGER_BYTES) {
        srv_log(SRV_LOG_INFO,
                "conn %" PRIu64 ": the peer did not close its end "
                "within %d ms or %u bytes after the daemon's; closing",
                c->serial, LINGER_MS, LINGER_BYTES);
        c->dead = true;
    } else {
        tv.tv_sec = (time_t)(left / 1000);
        tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
        event_add(c->rev, &tv);
    }
}

/* Ends a callback: writes what it produced, destroys a dead connection. */
static void conn_leave(struct conn *c)
{
    if (!c->dead)
        conn_send(c);
    c->busy--;
    if (c->dead && c->busy == 0)
        conn_destroy(c);
}

/* Reads once: 1 with data, 0 at EOF, -1 on an error (logged), -2 if
 * nothing was there. */
static int conn_read(struct conn *c)
{
    struct evbuffer_iovec v[2];
    struct iovec iov[2];
    ssize_t n;
    int nv, i;

    nv = evbuffer_reserve_space(c->in, READ_CHUNK, v, 2);
    if (nv < 1)
        abort(); /* host memory, as elsewhere */
    for (i = 0; i < nv; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len;
    }
    do {
        n = readv(c->fd, iov, nv);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        evbuffer_commit_space(c->in, v, 0);
        if (n == 0)
            return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -2;
        srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": %s", c->serial,
                evutil_socket_error_to_string(errno));
        return -1;
    }
    for (i = 0; i < nv; i++) {
        size_t take = (size_t)n < v[i].iov_len ? (size_t)n : v[i].iov_len;

        v[i].iov_len = take;
        n -= (ssize_t)take;
    }
    evbuffer_commit_space(c->in, v, nv);
    return 1;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    uint64_t frames = c->frames;
    int rc;

    (void)fd;
    c->busy++;
    if (c->state == CONN_LINGER) {
        linger_read(c, (what & EV_TIMEOUT) != 0);
        conn_leave(c);
        return;
    }
    if (hello_overdue(c, (what & EV_TIMEOUT) != 0)) {
        conn_leave(c);
        return;
    }
    if (what & EV_TIMEOUT) {
        /* Idle: a client waiting for answers we owe it is not idle. */
        if (!conn_has_pending(c)) {
            srv_log(SRV_LOG_INFO,
                    "conn %" PRIu64 ": idle for %" PRIu64 " s; closing",
                    c->serial, c->s->st->idle_timeout);
            c->dead = true;
        }
        conn_leave(c);
        return;
    }
    if (c->state == CONN_DRAINING) {
        /* Made active (see resume): nothing more is read, and what was
         * read before the drain is answered. */
        conn_process(c);
        conn_leave(c);
        return;
    }
    rc = conn_read(c);
    if (rc == 1 || rc == -2) { /* -2: made active, see resume */
        if (c->state == CONN_CLOSING)
            evbuffer_drain(c->in, evbuffer_get_length(c->in));
        conn_process(c);
        if (!c->dead)
            conn_check_partial(c, c->frames != frames);
        /* Still in Hello: re-arm the read event with what is left of
         * --hello-timeout, which a byte at a time must not extend. */
        if (!c->dead && c->state == CONN_HELLO && c->rd_on &&
            c->s->st->hello_timeout > 0) {
            struct timeval tv;

            hello_left(c, &tv);
            event_add(c->rev, &tv);
        }
        /* Replies of this pass leave now. */
        if (!c->dead)
            conn_send(c);
    } else if (rc == 0) {
        srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": closed by peer", c->serial);
        c->peer_eof = true;
        /* Nothing more comes, whatever the state: an EOF stays readable,
         * and a closing connection left reading spun the loop until its
         * reader made room. */
        conn_reading(c, false);
        conn_process(c);
        conn_begin_drain(c);
        conn_maybe_finish(c);
    } else if (rc == -1) {
        c->dead = true;
    }
    conn_leave(c);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    c->busy++;
    if (hello_overdue(c, (what & EV_TIMEOUT) != 0)) {
        conn_leave(c);
        return;
    }
    if (what & EV_TIMEOUT) {
        srv_log(SRV_LOG_INFO,
                "conn %" PRIu64 ": idle for %" PRIu64 " s; "
                "closing",
                c->serial, c->s->st->idle_timeout);
        c->dead = true;
        conn_leave(c);
        return;
    }
    conn_send(c);
    conn_maybe_finish(c);
    conn_leave(c);
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

/* A connection on @fd in CONN_HELLO, on s->conns, reading nothing yet;
 * NULL if out of memory (@fd left open).  Counts in nothing. */
static struct conn *conn_new(struct srv *s, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    if (c->in == NULL || c->out == NULL || c->rev == NULL || c->wev == NULL ||
        evutil_make_socket_nonblocking(fd) != 0) {
        conn_free_io(c);
        free(c);
        return NULL;
    }
    c->s = s;
    c->serial = ++conn_serial;
    c->state = CONN_HELLO;
    c->opened_ms = monotonic_ms();
    TAILQ_INIT(&c->replies);
    TAILQ_INIT(&c->parked);
    describe_peer(fd, c->peer, sizeof(c->peer));
    TAILQ_INSERT_TAIL(&s->conns, c, link);
    return c;
}

/*
 * Too many connections: one status frame, then the lingering close every
 * connection gets (conn_close()), so a client that sent its Hello already
 * reads the refusal, then EOF, not a reset.  A refused connection reads
 * no frame and does not count against --max-connections; past
 * REFUSED_MAX of them lingering at once (a flood), or out of memory, one
 * is sent its frame and closed at once.
 */
static void refuse(struct srv *s, int fd)
{
    char msg[SRV_MSG_MAX];
    struct conn *c = NULL;
    uint8_t *frame;
    size_t len;

    snprintf(msg, sizeof(msg),
             "too many connections (--max-connections %" PRIu64 ")",
             s->st->max_connections);
    srv_log(SRV_LOG_WARN, "%s", msg);
    if (s->n.refusing < REFUSED_MAX)
        c = conn_new(s, fd);
    if (c != NULL) {
        c->refused = true;
        s->n.refusing++;
        srv_conn_reply_status(c, 0, MM_RESOURCE_EXHAUSTED, msg, true);
        conn_maybe_finish(c);
        return;
    }
    frame = pack_status(0, MM_RESOURCE_EXHAUSTED, msg, &len);
    if (send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        srv_log(SRV_LOG_DEBUG, "refusing a connection: send failed");
    free(frame);
    s->n.errors_by_code[MM_RESOURCE_EXHAUSTED]++;
    evutil_closesocket(fd);
}

/* Takes @fd; the new connection, or NULL if it was refused or failed
 * (@fd closed). */
static struct conn *conn_accept(struct srv *s, int fd)
{
    struct conn *c;

    if (s->n.connections >= s->st->max_connections) {
        refuse(s, fd);
        return NULL;
    }
    c = conn_new(s, fd);
    if (c == NULL) {
        evutil_closesocket(fd);
        srv_log(SRV_LOG_ERROR, "accept: out of memory");
        return NULL;
    }
    s->n.connections++;
    conn_reading(c, true);
    srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": open from %s", c->serial, c->peer);
    return c;
}

void srv_conn_accept(struct srv *s, int fd)
{
    conn_accept(s, fd);
}

void srv_conn_accept_local(struct srv *s, int fd)
{
    struct conn *c = conn_accept(s, fd);

    if (c != NULL)
        c->local = true;
}

/* Frees the events and buffers (either may be NULL); keeps the fd. */
static void conn_free_io(struct conn *c)
{
    if (c->rev != NULL)
        event_free(c->rev);
    if (c->wev != NULL)
        event_free(c->wev);
    if (c->sev != NULL)
        event_free(c->sev);
    if (c->in != NULL)
        evbuffer_free(c->in);
    if (c->out != NULL)
        evbuffer_free(c->out);
}

/* Lets go of everything @c was to answer: parked kmaps, queued replies
 * (one waiting for a commit or an answer is freed when that comes), its
 * place among the store's waiters. */
static void conn_drop_work(struct conn *c)
{
    struct srv_reply *r;
    struct srv_park *p;

    while ((p = TAILQ_FIRST(&c->parked)) != NULL)
        srv_park_cancel(p);
    while ((r = TAILQ_FIRST(&c->replies)) != NULL) {
        TAILQ_REMOVE(&c->replies, r, clink);
        if (r->waiting || r->pending)
            r->c = NULL; /* freed when its commit is reported,
                                       or by srv_conn_release() */
        else
            reply_free(r);
    }
    c->queued = 0;
    c->hold = NULL;
    if (c->store_paused)
        c->s->store_waiters--;
    c->store_paused = false;
}

static void conn_destroy(struct conn *c)
{
    if (c->busy > 0) {
        c->dead = true;
        return;
    }
    conn_drop_work(c);
    TAILQ_REMOVE(&c->s->conns, c, link);
    if (c->refused)
        c->s->n.refusing--;
    else
        c->s->n.connections--;
    if (c->t != NULL) {
        c->t->inflight_bytes -= c->counted;
        c->t->connections--;
        srv_tenant_release(c->s, c->t);
    }
    srv_log(SRV_LOG_INFO, "conn %" PRIu64 ": closed", c->serial);
    conn_free_io(c);
    evutil_closesocket(c->fd);
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
        conn_process(c); /* complete frames already read */
        conn_begin_drain(c);
    }
    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_maybe_finish(c);
        conn_leave(c);
    }
}

bool srv_conn_has_waiting(const struct conn *c)
{
    const struct srv_reply *r;

    TAILQ_FOREACH(r, &c->replies, clink)
    {
        if (r->waiting)
            return true;
    }
    return false;
}

void srv_conn_defer(struct conn *c)
{
    c->deferred = true;
}

void srv_conn_revoke(struct srv *s)
{
    struct conn *c, *next;
    char msg[SRV_MSG_MAX];

    TAILQ_FOREACH(c, &s->conns, link)
    c->busy++;
    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = TAILQ_NEXT(c, link)) {
        if (c->t == NULL || !c->t->revoked || c->state == CONN_CLOSING ||
            c->state == CONN_LINGER)
            continue;
        snprintf(msg, sizeof(msg),
                 "tenant '%s': its token was revoked "
                 "(tenants file reloaded)",
                 c->t->name);
        conn_reading(c, false);
        srv_conn_reply_status(c, 0, MM_UNAUTHENTICATED, msg, true);
    }
    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_maybe_finish(c);
        conn_leave(c);
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
                conn_reading(c, true);
            conn_process(c);
        }
    }
    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_leave(c);
    }
}

/* Destroys every connection; destroying one frees only that one, so the
 * next is taken before. */
void srv_conn_close_all(struct srv *s)
{
    struct conn *c, *next;

    for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
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
        if (r->c != NULL) {
            TAILQ_REMOVE(&r->c->replies, r, clink);
        }
        reply_free(r);
    }
}
