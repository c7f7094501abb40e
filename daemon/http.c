/* daemon/http.c - --http: the HTTP/JSON API, served through libevent's
 * evhttp.
 *
 * One dispatch: an API request is answered by the protobuf path itself.
 * http_json.c turns it into a Request frame; here each request gets a
 * connection of its own, one end of a socketpair handed to
 * srv_conn_accept() exactly as an accepted socket is, and we write a Hello
 * (the bearer token, the tenant) then the Request into the other end and
 * read the two Responses back.  So Hello resolves the tenant and checks the
 * credential, the connection counts against --max-connections, a change's
 * answer arrives only after its commit (commit.c), a kmap with wait_ms
 * parks, and every limit applies as on the socket, with no code of its own.
 * The pair costs two descriptors and a few system calls per request.
 *
 * Tenants: with --tenants-file the token decides (an X-Armmap-Tenant
 * header, if sent, must name the same tenant, as Hello's name must); with
 * --auth-token-file or no credential the tenant is the X-Armmap-Tenant
 * header's, else "default".
 *
 * Browsers: --http-cors lists the origins whose pages may call the API
 * (see cors()).
 *
 * Limits: bodies above --http-max-body are refused by evhttp (413); an
 * HTTP connection silent for --idle-timeout seconds is closed.  If the
 * client goes away before its answer, the answer is dropped (a change it
 * asked for still happens, as on a socket closed after sending).
 */
#include "srv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "armmap.pb-c.h"

#define HELLO_ID     1
#define RATE_TENANTS 1024 /* token buckets kept */

struct http_job;

/* --http-rate: one tenant's token bucket, in thousandths of a request. */
struct rate_bucket {
    char tenant[SRV_TENANT_MAX + 1];
    int64_t ms;     /* monotonic; last refill */
    uint64_t milli; /* tokens x 1000 */
};

struct srv_http {
    struct srv *s;
    struct evhttp *h;
    struct evhttp_bound_socket *bound;
    TAILQ_HEAD(, http_job) jobs;
    struct rate_bucket *rate; /* RATE_TENANTS, once used */
    size_t nrate;
};

/* One API request waiting for the daemon's answer. */
struct http_job {
    struct srv_http *hs;
    struct evhttp_request *req; /* NULL once its client is gone */
    struct bufferevent *bev;    /* our end of the pair */
    struct event *watch;        /* the client's socket: gone? */
    struct srv_http_call hc;
    bool want_text;
    bool hello_done;
    TAILQ_ENTRY(http_job) link;
};

static const char *bearer(struct evkeyvalq *h);

static void send_body(struct evhttp_request *req, int status, const char *ctype,
                      char *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *b = evbuffer_new();

    if (body != NULL) {
        evhttp_add_header(h, "Content-Type", ctype);
        if (b != NULL)
            evbuffer_add(b, body, strlen(body));
    }
    evhttp_send_reply(req, status, NULL, b);
    if (b != NULL)
        evbuffer_free(b);
    free(body);
}

static void send_error(struct evhttp_request *req, int status, int code,
                       const char *msg)
{
    send_body(req, status, "application/json", srv_http_error_json(code, msg));
}

static void job_free(struct http_job *j)
{
    if (j->req != NULL)
        evhttp_connection_set_closecb(evhttp_request_get_connection(j->req),
                                      NULL, NULL);
    if (j->watch != NULL)
        event_free(j->watch);
    TAILQ_REMOVE(&j->hs->jobs, j, link);
    if (j->bev != NULL)
        bufferevent_free(j->bev); /* closes our end: the conn ends */
    srv_http_call_free(&j->hc);
    free(j);
}

/* Answers the job's client (if still there) and frees the job. */
static void job_finish(struct http_job *j, int status, const char *ctype,
                       char *body)
{
    struct evhttp_request *req = j->req;

    if (req != NULL) {
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL,
                                      NULL);
        j->req = NULL;
    }
    job_free(j);
    if (req != NULL)
        send_body(req, status, ctype, body);
    else
        free(body);
}

static void job_fail(struct http_job *j, int code, const char *msg)
{
    job_finish(j, srv_http_status(code), "application/json",
               srv_http_error_json(code, msg));
}

/* evhttp frees a request whose connection failed. */
static void on_client_close(struct evhttp_connection *evcon, void *arg)
{
    struct http_job *j = arg;

    (void)evcon;
    j->req = NULL;
}

/*
 * evhttp does not read a connection while its request is being answered,
 * so it would not see the client leave while, say, a kmap waits for a
 * slot.  We watch the socket: at EOF the request's connection is closed,
 * as a socket client's close would be (a parked kmap is cancelled; a
 * change already made stays), and the reply evhttp then fails to write
 * frees its request.  Bytes that are not EOF (a pipelined request) end
 * the watch, and evhttp reads them after the answer.
 */
static void on_client_readable(evutil_socket_t fd, short what, void *arg)
{
    struct http_job *j = arg;
    char c;
    ssize_t n;

    (void)what;
    n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        job_fail(j, MM_UNAVAILABLE, "the client closed the connection");
        return;
    }
    if (n > 0) {
        event_free(j->watch);
        j->watch = NULL;
    }
}

static void watch_client(struct http_job *j)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(j->req);
    struct bufferevent *cb = evhttp_connection_get_bufferevent(evcon);
    evutil_socket_t fd = cb ? bufferevent_getfd(cb) : -1;

    if (fd < 0)
        return;
    j->watch = event_new(j->hs->s->base, fd, EV_READ | EV_PERSIST,
                         on_client_readable, j);
    if (j->watch != NULL)
        event_add(j->watch, NULL);
}

/* The Describe of GET .../events found the machine: the request becomes
 * an event stream (sse.c). */
static void start_events(struct http_job *j)
{
    struct srv *s = j->hs->s;
    struct evhttp_request *req = j->req;
    struct srv_machine *sm = srv_machine_get(s->reg,
                                             srv_id_in(s->reg, j->hc.machine));
    uint64_t after = j->hc.has_since ? j->hc.since : UINT64_MAX;

    if (req == NULL || sm == NULL) {
        job_fail(j, MM_NOT_FOUND, "events: the machine is gone");
        return;
    }
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL,
                                  NULL);
    j->req = NULL;
    job_free(j);
    srv_sse_subscribe(s, req, sm, after,
                      bearer(evhttp_request_get_input_headers(req)));
}

/* The Describe of GET .../at/{seq}/... found the machine: the read is
 * answered from its past state (at_cache.c). */
static void answer_at(struct http_job *j)
{
    struct srv *s = j->hs->s;
    struct srv_machine *sm = srv_machine_get(s->reg,
                                             srv_id_in(s->reg, j->hc.machine));
    const char *ctype;
    char *body;
    int status;

    if (sm == NULL) {
        job_fail(j, MM_NOT_FOUND, "at: the machine is gone");
        return;
    }
    body = srv_at_answer(s, sm, &j->hc, j->want_text, &status, &ctype);
    job_finish(j, status, ctype, body);
}

/* Last-Event-ID, if sent, resumes an event stream as ?since= does.
 * Return: false if it is not a seq (the request is answered 400). */
static bool last_event_id(struct evhttp_request *req, struct srv_http_call *hc)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       "Last-Event-ID");
    char *end;

    if (v == NULL || hc->shape != SRV_HTTP_EVENTS)
        return true;
    errno = 0;
    hc->since = strtoull(v, &end, 10);
    hc->has_since = true;
    if (*v >= '0' && *v <= '9' && *end == '\0' && errno == 0 &&
        hc->since != UINT64_MAX)
        return true;
    srv_http_call_free(hc);
    send_error(req, 400, MM_INVALID_ARGUMENT,
               "events: header Last-Event-ID must be a seq");
    return false;
}

/* Cluster mode: a MOVED answer is a 307 to the owner's HTTP address
 * with the same path and query; 503 (the same MOVED body) if the owner
 * has no HTTP address. */
static int moved_location(struct srv *s, struct evhttp_request *req,
                          const char *owner)
{
    const char *http = srv_cluster_http_of(s, owner);
    char *loc;
    size_t n;

    if (http == NULL)
        return 503;
    n = strlen(http) + strlen(evhttp_request_get_uri(req)) + 8;
    loc = malloc(n);
    if (loc == NULL)
        abort(); /* as the daemon does without host memory */
    snprintf(loc, n, "http://%s%s", http, evhttp_request_get_uri(req));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
    free(loc);
    return 307;
}

/* One Response read from the pair. */
static void on_response(struct http_job *j, const Armmap__V1__Response *r)
{
    int code = r->status ? (int)r->status->code : MM_OK;
    const char *ctype;
    char *body;
    int status;

    if (!j->hello_done) {
        j->hello_done = true;
        /* A refusal of the connection itself (--max-connections) comes
         * as the first frame too, with id 0. */
        if (code != MM_OK)
            job_fail(j, code, r->status->message);
        return;
    }
    if (j->hc.shape == SRV_HTTP_EVENTS && code == MM_OK) {
        start_events(j);
        return;
    }
    if (j->hc.at && code == MM_OK) {
        answer_at(j);
        return;
    }
    body = srv_http_render(&j->hc, r, j->want_text, &status, &ctype);
    if (code == MM_MOVED && j->req != NULL)
        status = moved_location(j->hs->s, j->req, r->status->owner);
    job_finish(j, status, ctype, body);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct http_job *j = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        uint8_t hdr[4], *buf;
        Armmap__V1__Response *r;
        size_t len;
        bool last;

        if (evbuffer_copyout(in, hdr, 4) != 4)
            return;
        len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
              (size_t)hdr[2] << 8 | hdr[3];
        if (evbuffer_get_length(in) < len + 4)
            return;
        evbuffer_drain(in, 4);
        buf = evbuffer_pullup(in, (ev_ssize_t)len);
        r = armmap__v1__response__unpack(NULL, len, buf);
        evbuffer_drain(in, len);
        if (r == NULL) {
            job_fail(j, MM_INTERNAL, "the daemon's answer did not decode");
            return;
        }
        last = j->hello_done || (r->status && (int)r->status->code != MM_OK);
        on_response(j, r);
        armmap__v1__response__free_unpacked(r, NULL);
        if (last)
            return; /* the job is freed */
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct http_job *j = arg;

    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        job_fail(j, MM_UNAVAILABLE,
                 j->hs->s->stopping
                     ? "the daemon is stopping"
                     : "the daemon closed the request's connection before "
                       "answering");
}

/* "Bearer TOKEN" from the Authorization header, or NULL. */
static const char *bearer(struct evkeyvalq *h)
{
    const char *a = evhttp_find_header(h, "Authorization");

    if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    return a + 7;
}

/* Writes Hello and the API Request into the pair. */
static int send_frames(struct http_job *j, struct evkeyvalq *h)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello hello = ARMMAP__V1__HELLO__INIT;
    const char *tenant = evhttp_find_header(h, "X-Armmap-Tenant");
    const char *token = bearer(h);
    struct evbuffer *out = bufferevent_get_output(j->bev);
    uint8_t hdr[4], *buf;
    size_t n;
    int rc;

    if (tenant == NULL)
        tenant = j->hs->s->tenants_file != NULL ? "" : "default";
    hello.protocol = SRV_PROTOCOL;
    hello.tenant = (char *)tenant;
    if (token != NULL) {
        hello.token.data = (uint8_t *)token;
        hello.token.len = strlen(token);
    }
    req.id = HELLO_ID;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &hello;
    n = armmap__v1__request__get_packed_size(&req);
    buf = malloc(n);
    if (buf == NULL)
        return -1;
    armmap__v1__request__pack(&req, buf);
    hdr[0] = (uint8_t)(n >> 24);
    hdr[1] = (uint8_t)(n >> 16);
    hdr[2] = (uint8_t)(n >> 8);
    hdr[3] = (uint8_t)n;
    rc = evbuffer_add(out, hdr, 4) | evbuffer_add(out, buf, n) |
         evbuffer_add(out, j->hc.frame, j->hc.len);
    free(buf);
    return rc;
}

static bool accepts_text(struct evkeyvalq *h)
{
    const char *a = evhttp_find_header(h, "Accept");

    return a != NULL && strstr(a, "text/plain") != NULL &&
           strstr(a, "application/json") == NULL;
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

/* Starts the job: the socketpair, its connection, the two frames. */
static void job_start(struct srv_http *hs, struct evhttp_request *req,
                      struct srv_http_call *hc)
{
    struct http_job *j = calloc(1, sizeof(*j));
    int sv[2];

    if (j == NULL) {
        srv_http_call_free(hc);
        send_error(req, 500, MM_INTERNAL, "out of host memory");
        return;
    }
    j->hs = hs;
    j->req = req;
    j->hc = *hc;
    j->want_text = accepts_text(evhttp_request_get_input_headers(req));
    TAILQ_INSERT_TAIL(&hs->jobs, j, link);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0) {
        job_fail(j, MM_RESOURCE_EXHAUSTED,
                 "cannot open a connection for "
                 "the request (out of descriptors)");
        return;
    }
    j->bev = bufferevent_socket_new(hs->s->base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    if (j->bev == NULL) {
        close(sv[0]);
        close(sv[1]);
        job_fail(j, MM_INTERNAL, "out of host memory");
        return;
    }
    bufferevent_setcb(j->bev, on_read, NULL, on_event, j);
    bufferevent_enable(j->bev, EV_READ);
    evhttp_connection_set_closecb(evhttp_request_get_connection(req),
                                  on_client_close, j);
    watch_client(j);
    if (send_frames(j, evhttp_request_get_input_headers(req)) != 0) {
        close(sv[0]);
        job_fail(j, MM_INTERNAL, "out of host memory");
        return;
    }
    srv_conn_accept_local(hs->s, sv[0]);
}

/* True if @origin is one of --http-cors's comma-separated origins. */
static bool origin_allowed(const char *list, const char *origin)
{
    size_t n = strlen(origin);

    while (list != NULL && *list != '\0') {
        size_t len = strcspn(list, ",");

        if (len == n && strncmp(list, origin, n) == 0)
            return true;
        list += len;
        list += *list == ',';
    }
    return false;
}

/*
 * CORS: a page from an origin --http-cors lists may call the API (the
 * answer names that origin); others get no CORS header, so the browser
 * keeps the answer from them.  A preflight (OPTIONS) is answered here.
 * Return: true if the request was answered (a preflight).
 */
static bool cors(struct srv_http *hs, struct evhttp_request *req)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *origin =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");
    bool ok = origin != NULL && origin_allowed(hs->s->st->http_cors, origin);

    if (ok) {
        evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
        evhttp_add_header(out, "Vary", "Origin");
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_OPTIONS)
        return false;
    if (ok) {
        evhttp_add_header(out, "Access-Control-Allow-Methods",
                          "GET, POST, DELETE");
        evhttp_add_header(out, "Access-Control-Allow-Headers",
                          "Authorization, Content-Type, Accept, "
                          "X-Armmap-Tenant");
        evhttp_add_header(out, "Access-Control-Max-Age", "600");
    }
    evhttp_send_reply(req, 204, NULL, NULL);
    return true;
}

/* The tenant a request will be served as, for its rate: with
 * --tenants-file its token's (NULL if none matches: Hello refuses it),
 * else X-Armmap-Tenant's or "default" (NULL if not a valid name). */
static const char *rate_tenant(struct srv_http *hs, struct evkeyvalq *h)
{
    const char *name = evhttp_find_header(h, "X-Armmap-Tenant");
    const struct srv_tenant_conf *conf;
    const char *token;

    if (hs->s->tenants_file != NULL) {
        token = bearer(h);
        conf = token != NULL
                   ? srv_tenants_match(hs->s->tenants_file,
                                       (const uint8_t *)token, strlen(token))
                   : NULL;
        return conf != NULL ? conf->name : NULL;
    }
    if (name == NULL)
        name = "default";
    return srv_valid_tenant(name) ? name : NULL;
}

/* @tenant's bucket: found, or a new full one in place of the one least
 * recently refilled.  NULL without host memory. */
static struct rate_bucket *bucket(struct srv_http *hs, const char *tenant,
                                  uint64_t full, int64_t now)
{
    struct rate_bucket *b, *oldest = NULL;
    size_t i;

    if (hs->rate == NULL &&
        (hs->rate = calloc(RATE_TENANTS, sizeof(*hs->rate))) == NULL)
        return NULL;
    for (i = 0; i < hs->nrate; i++) {
        b = &hs->rate[i];
        if (strcmp(b->tenant, tenant) == 0)
            return b;
        if (oldest == NULL || b->ms < oldest->ms)
            oldest = b;
    }
    b = hs->nrate < RATE_TENANTS ? &hs->rate[hs->nrate++] : oldest;
    snprintf(b->tenant, sizeof(b->tenant), "%s", tenant);
    b->ms = now;
    b->milli = full;
    return b;
}

/*
 * --http-rate and --http-burst: a token bucket per tenant, refilled at
 * the rate, holding at most the burst; a request takes one token.  One
 * that finds none is answered 429 with Retry-After (whole seconds until
 * a token is back).  Return: true if answered so.
 */
static bool over_rate(struct srv_http *hs, struct evhttp_request *req)
{
    uint64_t rate = hs->s->st->http_rate, burst = hs->s->st->http_burst;
    const char *tenant;
    struct rate_bucket *b;
    int64_t now;
    uint64_t full, wait_ms;
    char msg[SRV_MSG_MAX], after[24];

    if (rate == 0)
        return false;
    tenant = rate_tenant(hs, evhttp_request_get_input_headers(req));
    if (tenant == NULL)
        return false;
    full = (burst != 0 ? burst : rate) * 1000;
    now = srv_mono_ms();
    b = bucket(hs, tenant, full, now);
    if (b == NULL)
        return false;
    if (now > b->ms) {
        b->milli += (uint64_t)(now - b->ms) * rate;
        if (b->milli > full)
            b->milli = full;
        b->ms = now;
    }
    if (b->milli >= 1000) {
        b->milli -= 1000;
        return false;
    }
    wait_ms = (1000 - b->milli + rate - 1) / rate;
    snprintf(after, sizeof(after), "%" PRIu64, (wait_ms + 999) / 1000);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
                      after);
    snprintf(msg, sizeof(msg),
             "http: tenant '%s' is over --http-rate (%" PRIu64
             " requests/s, burst %" PRIu64 ")",
             tenant, rate, full / 1000);
    send_error(req, 429, MM_RESOURCE_EXHAUSTED, msg);
    return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct srv_http *hs = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = (const char *)evbuffer_pullup(in, -1);
    struct srv_http_call hc;
    char *query;
    int status;

    if (cors(hs, req))
        return;
    if (hs->s->stopping) {
        send_error(req, 503, MM_UNAVAILABLE, "the daemon is stopping");
        return;
    }
    /* GET /api/v1/health: no session, no tenant (load balancers). */
    if (evhttp_uri_get_path(uri) != NULL &&
        strcmp(evhttp_uri_get_path(uri), "/api/v1/health") == 0 &&
        evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        int code;
        char *text = srv_cluster_health(hs->s, &code);

        send_body(req, code, "application/json", text);
        return;
    }
    /* Outside /api/: the teaching page's files (http_static.c). */
    if (evhttp_uri_get_path(uri) == NULL ||
        strncmp(evhttp_uri_get_path(uri), "/api/", 5) != 0) {
        srv_http_static(hs->s, req);
        return;
    }
    if (over_rate(hs, req))
        return;
    /* Query values are numbers, lists and names: %2C and friends are
     * decoded once for the whole query. */
    query = evhttp_uri_get_query(uri)
                ? evhttp_uridecode(evhttp_uri_get_query(uri), 0, NULL)
                : NULL;
    status = srv_http_build(&hc, method_name(evhttp_request_get_command(req)),
                            evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri)
                                                     : "/",
                            query, body, len);
    free(query);
    if (status != 0) {
        if (hc.allow[0] != '\0')
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                              hc.allow);
        send_error(req, status, hc.code, hc.msg);
        return;
    }
    if (!last_event_id(req, &hc))
        return;
    job_start(hs, req, &hc);
}

int srv_http_start(struct srv *s, char *err, size_t errsz)
{
    const char *spec = s->st->http;
    const char *colon;
    struct srv_http *hs;
    char host[256];

    if (spec == NULL)
        return 0;
    colon = strrchr(spec, ':'); /* checked by settings.c */
    snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    hs = calloc(1, sizeof(*hs));
    if (hs == NULL || (hs->h = evhttp_new(s->base)) == NULL) {
        free(hs);
        snprintf(err, errsz, "armmapd: --http: out of memory");
        return -1;
    }
    hs->s = s;
    TAILQ_INIT(&hs->jobs);
    s->http = hs;
    evhttp_set_allowed_methods(hs->h, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                          EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
                                          EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_max_body_size(hs->h, (ev_ssize_t)s->st->http_max_body);
    evhttp_set_max_headers_size(hs->h, 16384);
    if (s->st->idle_timeout > 0)
        evhttp_set_timeout(hs->h, (int)s->st->idle_timeout);
    evhttp_set_gencb(hs->h, on_request, hs);
    hs->bound = evhttp_bind_socket_with_handle(hs->h, host,
                                               (ev_uint16_t)atoi(colon + 1));
    if (hs->bound == NULL) {
        snprintf(err, errsz, "armmapd: --http: cannot listen on %s", spec);
        return -1;
    }
    srv_log(SRV_LOG_INFO, "http: listening on %s", spec);
    return 0;
}

void srv_http_stop_accepting(struct srv *s)
{
    if (s->http != NULL && s->http->bound != NULL) {
        evhttp_del_accept_socket(s->http->h, s->http->bound);
        s->http->bound = NULL;
    }
}

void srv_http_free(struct srv *s)
{
    struct srv_http *hs = s->http;

    if (hs == NULL)
        return;
    srv_sse_free(s);
    srv_at_free(s);
    /* Requests still waiting (a parked kmap at shutdown) are answered 503,
     * and the loop turns a few times, without blocking, so that those
     * answers leave before the connections are freed. */
    if (!TAILQ_EMPTY(&hs->jobs)) {
        struct http_job *j, *next;
        int i;

        /* job_fail() frees its job and no other. */
        for (j = TAILQ_FIRST(&hs->jobs); j != NULL; j = next) {
            next = TAILQ_NEXT(j, link);
            job_fail(j, MM_UNAVAILABLE, "the daemon is stopping");
        }
        for (i = 0; i < 4; i++)
            event_base_loop(s->base, EVLOOP_NONBLOCK);
    }
    evhttp_free(hs->h);
    free(hs->rate);
    free(hs);
    s->http = NULL;
}
