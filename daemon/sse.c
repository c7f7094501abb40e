/* daemon/sse.c - GET /api/v1/machines/{id}/events: Server-Sent Events,
 * one per committed change.
 *
 * A stream sends, for each change of its machine, in seq order and once:
 *
 *     id: <seq>
 *     event: change
 *     data: <the event as JSON, srv_http_event_json()>
 *
 * and ": hb" comments every --http-heartbeat seconds.  When the machine's
 * destroy is durable the stream ends with "event: destroyed".
 *
 * Design.  Events are read back from the store, never captured on the
 * request path: the store is the only record of what is durable, so a
 * stream can show nothing that a crash would take back, and a change that
 * failed to commit (a fenced machine, commit.c) never shows.  Each watched
 * machine has a feed: commit.c reports its new committed seq (one pointer
 * test when no stream was ever opened), and a deferred callback, off the
 * reap path, reads the new events in slices of SSE_SLICE, formats each once
 * and writes it to every live stream of the feed; feed.sent is the last
 * seq so published.
 *
 * A stream that resumes (Last-Event-ID or ?since=) starts behind: its own
 * deferred callback reads history slice by slice, [next, feed.sent], one
 * slice per loop turn, and waits while its client has more than half its
 * bound unread.  Once next passes feed.sent it is live: from then on the
 * feed's publications carry it.  As both run on the loop thread, every seq
 * is sent exactly once, without a gap.
 *
 * Bounds.  A stream's unsent bytes (its HTTP connection's output) count
 * against its tenant's --max-inflight-bytes-per-tenant as a socket's
 * replies do; a live stream whose unsent bytes pass --max-queued-bytes, or
 * whose tenant passes its bound, is dropped (its connection closed): a
 * client that never reads costs at most that much.  A tenant holds at most
 * --http-max-subscribers streams.
 */
#include "srv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "store.h"

#define SSE_SLICE    256 /* events read per store query */
#define SSE_BUCKETS  64  /* feed hash buckets */
#define SSE_RETRY_MS 20  /* a catching-up stream's wait */

struct sse_feed;

/* One open stream. */
struct sse_sub {
    struct sse_feed *f;
    struct srv_tenant *t; /* counted in t->connections */
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct evbuffer *out;               /* the connection's output */
    struct evbuffer_cb_entry *count_cb; /* keeps @counted up to date */
    size_t counted;                     /* our share of t->inflight_bytes */
    uint64_t next;                      /* the next seq it needs */
    bool live;                          /* carried by the feed */
    char *token;                        /* its bearer token, or NULL */
    const void *file;                   /* the tenants file last checked */
    bool revoked;                       /* its token lost its tenant */
    struct event *catchup;              /* reads history while !live */
    TAILQ_ENTRY(sse_sub) link;
};

/* The streams of one machine. */
struct sse_feed {
    struct srv_sse *x;
    uint64_t id;           /* the store's machine id */
    uint64_t ext_id;       /* what clients see */
    uint64_t head;         /* last seq known committed */
    uint64_t sent;         /* last seq published live */
    struct event *publish; /* deferred: reads (sent, head] */
    TAILQ_HEAD(, sse_sub) subs;
    struct sse_feed *next; /* hash chain */
};

struct srv_sse {
    struct srv *s;
    struct event *heartbeat;
    struct sse_feed *feeds[SSE_BUCKETS];
};

static struct sse_feed **feed_slot(struct srv_sse *x, uint64_t id)
{
    struct sse_feed **pp = &x->feeds[id % SSE_BUCKETS];

    while (*pp != NULL && (*pp)->id != id)
        pp = &(*pp)->next;
    return pp;
}

/* ------------------------------------------------------------------ */
/* Streams                                                             */
/* ------------------------------------------------------------------ */

/* Output buffer callback: the stream's unsent bytes, in its tenant's sum. */
static void on_out_changed(struct evbuffer *b,
                           const struct evbuffer_cb_info *info, void *arg)
{
    struct sse_sub *u = arg;
    size_t now = evbuffer_get_length(b);

    (void)info;
    u->t->inflight_bytes = u->t->inflight_bytes - u->counted + now;
    u->counted = now;
}

/* Frees @u; its connection is the caller's business (see the callers). */
static void sub_free(struct srv *s, struct sse_sub *u)
{
    struct sse_feed *f = u->f;

    TAILQ_REMOVE(&f->subs, u, link);
    if (u->catchup != NULL)
        event_free(u->catchup);
    if (u->count_cb != NULL)
        evbuffer_remove_cb_entry(u->out, u->count_cb);
    u->t->inflight_bytes -= u->counted;
    u->t->sse_subscribers--;
    u->t->connections--;
    srv_tenant_release(s, u->t);
    free(u->token);
    free(u);
    if (TAILQ_EMPTY(&f->subs)) {
        *feed_slot(f->x, f->id) = f->next;
        event_free(f->publish);
        free(f);
    }
}

/* The client went away, or evhttp gave up on the connection (a timeout);
 * evhttp frees the connection after this.  A request still being sent is
 * detached from it first, and so is ours to free. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct sse_sub *u = arg;
    struct evhttp_request *req = u->req;
    struct srv *s = u->f->x->s;

    (void)evcon;
    sub_free(s, u);
    if (evhttp_request_get_connection(req) == NULL)
        evhttp_request_free(req);
}

/* Ends @u by closing its connection (a stream that fell too far behind,
 * shutdown). */
static void sub_drop(struct srv *s, struct sse_sub *u, const char *why)
{
    struct evhttp_connection *evcon = u->evcon;

    srv_log(SRV_LOG_INFO,
            "http: event stream of machine %" PRIu64 " dropped: %s",
            u->f->ext_id, why);
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    sub_free(s, u);
    evhttp_connection_free(evcon); /* frees the request too */
}

/* Ends @u with a last chunk; the connection stays for more requests,
 * with the idle timeout back. */
static void sub_end(struct srv *s, struct sse_sub *u)
{
    struct evhttp_request *req = u->req;
    struct timeval tv = { (time_t)s->st->idle_timeout, 0 };

    bufferevent_set_timeouts(evhttp_connection_get_bufferevent(u->evcon),
                             s->st->idle_timeout > 0 ? &tv : NULL,
                             s->st->idle_timeout > 0 ? &tv : NULL);
    evhttp_connection_set_closecb(u->evcon, NULL, NULL);
    sub_free(s, u);
    evhttp_send_reply_end(req);
}

/*
 * With --tenants-file: true while @u's token still names its tenant.  A
 * reload (SIGHUP) swaps s->tenants_file, so the check is redone at the
 * first write after one, and at every heartbeat (@force), which also
 * covers a file struct allocated where an older one was.
 */
static bool sub_allowed(struct srv *s, struct sse_sub *u, bool force)
{
    const struct srv_tenant_conf *conf;

    if (s->tenants_file == NULL || u->revoked)
        return !u->revoked;
    if (!force && u->file == (const void *)s->tenants_file)
        return true;
    u->file = s->tenants_file;
    conf = u->token != NULL
               ? srv_tenants_match(s->tenants_file, (const uint8_t *)u->token,
                                   strlen(u->token))
               : NULL;
    u->revoked = conf == NULL || strcmp(conf->name, u->t->name) != 0;
    return !u->revoked;
}

/* True if @u may take more bytes now; a live stream past its bounds is
 * dropped (false). */
static bool sub_room(struct srv *s, struct sse_sub *u)
{
    size_t out = evbuffer_get_length(u->out);

    if (!sub_allowed(s, u, false)) {
        sub_drop(s, u,
                 "its token no longer names its tenant (tenants "
                 "file reloaded)");
        return false;
    }
    if (out > s->st->max_queued_bytes) {
        sub_drop(s, u, "its client left more than --max-queued-bytes unread");
        return false;
    }
    if (u->t->max_inflight_bytes != 0 &&
        u->t->inflight_bytes > u->t->max_inflight_bytes) {
        sub_drop(s, u,
                 "its tenant's unsent bytes passed "
                 "--max-inflight-bytes-per-tenant");
        return false;
    }
    return true;
}

static void sub_write(struct sse_sub *u, const char *text, size_t len)
{
    struct evbuffer *b = evbuffer_new();

    if (b == NULL)
        return;
    evbuffer_add(b, text, len);
    evhttp_send_reply_chunk(u->req, b);
    evbuffer_free(b);
}

/* ------------------------------------------------------------------ */
/* Reading events                                                      */
/* ------------------------------------------------------------------ */

/* "id: N\nevent: change\ndata: JSON\n\n" for @ev, malloc'd. */
static char *event_text(const struct store_event *ev, size_t *len)
{
    char *json = srv_http_event_json(ev), *text;
    size_t n = strlen(json) + 64;

    text = malloc(n);
    if (text == NULL)
        abort();
    *len = (size_t)snprintf(text, n,
                            "id: %" PRIu64 "\nevent: change\n"
                            "data: %s\n\n",
                            ev->seq, json);
    free(json);
    return text;
}

struct read_ctx {
    struct srv *s;
    struct sse_feed *f;
    struct sse_sub *only; /* a catching-up stream, or NULL */
};

/* One event read back: to @only, or to every live stream of the feed that
 * needs it. */
static int read_one(void *arg, const struct store_event *ev)
{
    struct read_ctx *rc = arg;
    struct sse_sub *u;
    size_t len;
    char *text = event_text(ev, &len);

    if (rc->only != NULL) {
        sub_write(rc->only, text, len);
        rc->only->next = ev->seq + 1;
    } else {
        TAILQ_FOREACH(u, &rc->f->subs, link)
        {
            if (u->live && ev->seq >= u->next && sub_allowed(rc->s, u, false)) {
                sub_write(u, text, len);
                u->next = ev->seq + 1;
            }
        }
    }
    free(text);
    return 0;
}

/* Reads events [@first, @last] of @f's machine to @only or the live
 * streams.  Return: false if the store could not be read. */
static bool read_range(struct srv *s, struct sse_feed *f, struct sse_sub *only,
                       uint64_t first, uint64_t last)
{
    struct store_history_query q;
    struct store_page page;
    struct read_ctx rc = { s, f, only };
    char err[SRV_MSG_MAX];

    memset(&q, 0, sizeof(q));
    q.machine = f->id;
    q.seq_first = first;
    q.seq_last = last;
    if (srv_persist_history(s, &q, read_one, &rc, &page, NULL, err,
                            sizeof(err)) != MM_OK) {
        srv_log(SRV_LOG_WARN, "http: event stream of machine %" PRIu64 ": %s",
                f->ext_id, err);
        return false;
    }
    return true;
}

static bool has_live(const struct sse_feed *f)
{
    const struct sse_sub *u;

    TAILQ_FOREACH(u, &f->subs, link)
    {
        if (u->live)
            return true;
    }
    return false;
}

/* Drops the live streams of @f past their bounds.  The feed is freed
 * with its last stream: the caller looks it up again. */
static void drop_full(struct srv *s, struct sse_feed *f)
{
    struct sse_sub *u, *next;

    for (u = TAILQ_FIRST(&f->subs); u != NULL; u = next) {
        next = TAILQ_NEXT(u, link);
        if ((u->live || u->revoked) && !sub_room(s, u) && next == NULL)
            return; /* @f may be gone */
    }
}

/* Deferred: publishes (sent, head] of @f, a few slices per turn. */
static void on_publish(evutil_socket_t fd, short what, void *arg)
{
    struct sse_feed *f = arg;
    struct srv *s = f->x->s;
    uint64_t id = f->id, last;
    int i;

    (void)fd;
    (void)what;
    for (i = 0; i < 4 && f->sent < f->head; i++) {
        last = f->head - f->sent > SSE_SLICE ? f->sent + SSE_SLICE : f->head;
        if (!has_live(f)) {
            f->sent = f->head; /* nobody to tell; stragglers read */
            return;
        }
        drop_full(s, f); /* and the revoked */
        if (*feed_slot(s->sse, id) != f)
            return;
        if (!read_range(s, f, NULL, f->sent + 1, last))
            return; /* tried again at the next commit */
        f->sent = last;
        drop_full(s, f);
        if (*feed_slot(s->sse, id) != f)
            return; /* its last stream was dropped */
    }
    if (f->sent < f->head)
        event_active(f->publish, EV_TIMEOUT, 0);
}

/* Deferred: one slice of history for a stream that is behind. */
static void on_catchup(evutil_socket_t fd, short what, void *arg)
{
    struct sse_sub *u = arg;
    struct sse_feed *f = u->f;
    struct srv *s = f->x->s;
    struct timeval tv = { 0, SSE_RETRY_MS * 1000 };
    uint64_t last;

    (void)fd;
    (void)what;
    if (!sub_allowed(s, u, false)) {
        sub_drop(s, u,
                 "its token no longer names its tenant (tenants "
                 "file reloaded)");
        return;
    }
    if (u->next > f->sent) {
        u->live = true;
        return;
    }
    if (evbuffer_get_length(u->out) > s->st->max_queued_bytes / 2) {
        evtimer_add(u->catchup, &tv); /* its client reads first */
        return;
    }
    last = f->sent - u->next >= SSE_SLICE ? u->next + SSE_SLICE - 1 : f->sent;
    if (!read_range(s, f, u, u->next, last)) {
        evtimer_add(u->catchup, &tv);
        return;
    }
    u->next = last + 1;
    if (u->next > f->sent)
        u->live = true;
    else
        event_active(u->catchup, EV_TIMEOUT, 0);
}

/* ------------------------------------------------------------------ */
/* Heartbeats                                                          */
/* ------------------------------------------------------------------ */

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    struct srv_sse *x = arg;
    struct sse_feed *f, *fnext;
    struct sse_sub *u, *unext;
    size_t i;

    (void)fd;
    (void)what;
    for (i = 0; i < SSE_BUCKETS; i++) {
        for (f = x->feeds[i]; f != NULL; f = fnext) {
            fnext = f->next;
            for (u = TAILQ_FIRST(&f->subs); u != NULL; u = unext) {
                unext = TAILQ_NEXT(u, link);
                /* A stream dropped here frees the feed with the last
                 * one, after which unext is NULL. */
                sub_allowed(x->s, u, true);
                if (sub_room(x->s, u))
                    sub_write(u, ": hb\n\n", 6);
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* The interface                                                       */
/* ------------------------------------------------------------------ */

static struct srv_sse *sse_get(struct srv *s)
{
    struct srv_sse *x = s->sse;
    struct timeval tv;

    if (x != NULL)
        return x;
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    x->s = s;
    if (s->st->http_heartbeat > 0) {
        x->heartbeat = event_new(s->base, -1, EV_PERSIST, on_heartbeat, x);
        if (x->heartbeat == NULL) {
            free(x);
            return NULL;
        }
        tv.tv_sec = (time_t)s->st->http_heartbeat;
        tv.tv_usec = 0;
        event_add(x->heartbeat, &tv);
    }
    s->sse = x;
    return x;
}

static struct sse_feed *feed_get(struct srv_sse *x, struct srv_machine *sm)
{
    struct sse_feed **pp = feed_slot(x, sm->id), *f = *pp;

    if (f != NULL)
        return f;
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->publish = event_new(x->s->base, -1, 0, on_publish, f);
    if (f->publish == NULL) {
        free(f);
        return NULL;
    }
    f->x = x;
    f->id = sm->id;
    f->ext_id = sm->ext_id;
    f->head = f->sent = sm->committed_seq;
    TAILQ_INIT(&f->subs);
    *pp = f;
    return f;
}

static void refuse(struct evhttp_request *req, int code, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    char *body = srv_http_error_json(code, msg);

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    if (b != NULL)
        evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, srv_http_status(code), NULL, b);
    if (b != NULL)
        evbuffer_free(b);
    free(body);
}

/* Starts the reply: headers, and no read timeout (a stream's client
 * sends nothing; one that does not read is bounded by its bytes). */
static void start_reply(struct srv *s, struct sse_sub *u)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(u->req);
    struct bufferevent *bev;
    struct timeval tv;

    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_send_reply_start(u->req, 200, "OK");
    bev = evhttp_connection_get_bufferevent(u->evcon);
    tv.tv_sec = (time_t)s->st->idle_timeout;
    tv.tv_usec = 0;
    bufferevent_set_timeouts(bev, NULL, s->st->idle_timeout > 0 ? &tv : NULL);
    u->out = bufferevent_get_output(bev);
    u->count_cb = evbuffer_add_cb(u->out, on_out_changed, u);
}

void srv_sse_subscribe(struct srv *s, struct evhttp_request *req,
                       struct srv_machine *sm, uint64_t after,
                       const char *token)
{
    struct srv_sse *x = sse_get(s);
    struct srv_tenant *t = srv_tenant_get(s, sm->tenant, NULL);
    struct sse_feed *f;
    struct sse_sub *u;
    char msg[SRV_MSG_MAX];

    if (x == NULL || t == NULL) {
        refuse(req, MM_INTERNAL, "events: out of host memory");
        return;
    }
    if (t->sse_subscribers >= s->st->http_max_subscribers) {
        snprintf(msg, sizeof(msg),
                 "events: tenant '%s' has %" PRIu64
                 " event streams open (--http-max-subscribers)",
                 t->name, t->sse_subscribers);
        refuse(req, MM_RESOURCE_EXHAUSTED, msg);
        srv_tenant_release(s, t);
        return;
    }
    f = feed_get(x, sm);
    u = f != NULL ? calloc(1, sizeof(*u)) : NULL;
    if (u == NULL ||
        (u->catchup = event_new(s->base, -1, 0, on_catchup, u)) == NULL) {
        free(u);
        if (f != NULL && TAILQ_EMPTY(&f->subs)) {
            *feed_slot(x, f->id) = f->next;
            event_free(f->publish);
            free(f);
        }
        refuse(req, MM_INTERNAL, "events: out of host memory");
        srv_tenant_release(s, t);
        return;
    }
    u->f = f;
    u->t = t;
    u->req = req;
    u->token = token != NULL ? strdup(token) : NULL;
    u->file = s->tenants_file;
    u->evcon = evhttp_request_get_connection(req);
    t->sse_subscribers++;
    t->connections++;
    u->next = after >= f->sent ? f->sent + 1 : after + 1;
    TAILQ_INSERT_TAIL(&f->subs, u, link);
    evhttp_connection_set_closecb(u->evcon, on_close, u);
    start_reply(s, u);
    if (u->next > f->sent)
        u->live = true;
    else
        event_active(u->catchup, EV_TIMEOUT, 0);
}

void srv_sse_committed(struct srv *s, struct srv_machine *sm)
{
    struct sse_feed *f = *feed_slot(s->sse, sm->id);

    if (f == NULL || sm->committed_seq <= f->head)
        return;
    f->head = sm->committed_seq;
    event_active(f->publish, EV_TIMEOUT, 0);
}

void srv_sse_destroyed(struct srv *s, struct srv_machine *sm)
{
    struct sse_feed *f = *feed_slot(s->sse, sm->id);
    struct sse_sub *u;
    char text[128];
    int len;

    if (f == NULL)
        return;
    /* What committed before the destroy goes first, to the live streams;
     * a stream still reading history stops where it is. */
    while (f->sent < f->head && has_live(f)) {
        uint64_t last = f->head - f->sent > SSE_SLICE ? f->sent + SSE_SLICE
                                                      : f->head;

        if (!read_range(s, f, NULL, f->sent + 1, last))
            break;
        f->sent = last;
    }
    len = snprintf(text, sizeof(text),
                   "event: destroyed\ndata: "
                   "{\"machine\":\"%" PRIu64 "\",\"seq\":\"%" PRIu64 "\"}\n\n",
                   f->ext_id, f->head);
    /* The feed is freed with its last stream. */
    while ((u = TAILQ_FIRST(&f->subs)) != NULL) {
        bool last = TAILQ_NEXT(u, link) == NULL;

        sub_write(u, text, (size_t)len);
        sub_end(s, u);
        if (last)
            break;
    }
}

void srv_sse_free(struct srv *s)
{
    struct srv_sse *x = s->sse;
    size_t i;

    if (x == NULL)
        return;
    /* sub_drop() frees its stream alone, and the feed with its last
     * stream; so each next one is taken before. */
    for (i = 0; i < SSE_BUCKETS; i++) {
        struct sse_feed *f, *fnext;
        struct sse_sub *u, *unext;

        for (f = x->feeds[i]; f != NULL; f = fnext) {
            fnext = f->next;
            for (u = TAILQ_FIRST(&f->subs); u != NULL; u = unext) {
                unext = TAILQ_NEXT(u, link);
                sub_drop(s, u, "the daemon stops");
            }
        }
    }
    if (x->heartbeat != NULL)
        event_free(x->heartbeat);
    free(x);
    s->sse = NULL;
}
