/* client/conn.c - libarmmap connections and framing.
 *
 * A connection is a non-blocking socket driven by poll(): every wait is
 * bounded by the connection's I/O timeout, and every wait for a reply also
 * writes whatever requests are still queued.  Reading and writing in the
 * same loop is what makes pipelining safe: the daemon stops reading a
 * connection whose replies pile up, so a client that only wrote until its
 * buffer drained could wait for the daemon forever while the daemon waits
 * for it.
 *
 * Frames are a 4-byte big-endian length and one protobuf message.  A reply
 * frame longer than the connection's max_frame is a protocol error: the
 * library never allocates what a peer merely announces.  Any I/O or framing
 * error marks the connection dead; later calls fail at once with ARMMAP_IO.
 *
 * The connection is set up in armmap_connect_unix() / armmap_connect_tcp():
 * socket, non-blocking connect bounded by connect_timeout_ms, then Hello
 * (tenant and token), whose rejection is returned with the daemon's code.
 *
 * Redirects and retries (armmap__exchange(), for the synchronous calls):
 * every change gets a request key as the call starts (armmap__key()), so
 * sending it again is safe; a pipelined change only if the caller set one.  A MOVED reply names the owner node; the
 * request goes there over a peer connection of the caller's (opened with
 * the same options, at most ARMMAP__PEERS, least recently used closed
 * first) and the machine's owner is remembered (ARMMAP__ROUTES, LRU), so
 * later calls naming it go there first; a peer that cannot be reached is
 * forgotten and the call goes back through the caller's own connection.
 * A call whose own connection is lost while only it is outstanding
 * reconnects to the same address and resends, backing off from 20 to
 * 500 ms, until retry_ms has passed.  Pipelined requests naming a machine
 * keep a copy (armmap__kept) until their reply is taken: a MOVED reply is
 * resent through armmap__exchange() (armmap__resend_moved()), and a lost
 * pipeline whose outstanding requests are all safe to send again is
 * reopened and sent them again (armmap__pipeline_resume()).
 */
#include "armmap_int.h"
#include "envelope.h"
#include "token.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_IO_TIMEOUT_MS      30000
#define DEFAULT_MAX_INFLIGHT       64
#define DEFAULT_RETRY_MS           30000
#define READ_CHUNK                 (256u << 10)
#define KEEP_MAX                   (64u << 10) /* pipelined request copied */

void armmap__failf(struct armmap_conn *conn, enum armmap_status st,
                   const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(conn->errmsg, sizeof(conn->errmsg), fmt, ap);
    va_end(ap);
    if (st == ARMMAP_IO || st == ARMMAP_TIMEOUT || st == ARMMAP_PROTOCOL)
        conn->dead = true;
}

const char *armmap_errmsg(const struct armmap_conn *conn)
{
    return conn ? conn->errmsg : "no connection";
}

const char *armmap_server(const struct armmap_conn *conn)
{
    return conn ? conn->server : "";
}

unsigned armmap_inflight(const struct armmap_conn *conn)
{
    return conn->inflight;
}

static bool reserve(uint8_t **buf, size_t *cap, size_t need)
{
    size_t ncap;
    uint8_t *nb;

    if (need <= *cap)
        return true;
    ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    nb = realloc(*buf, ncap);
    if (!nb)
        return false;
    *buf = nb;
    *cap = ncap;
    return true;
}

/* ---- writing ---------------------------------------------------------- */

static uint64_t req_machine(const Armmap__V1__Request *req);

/* Keeps a copy of pipelined request @id (@len bytes at @p) in slot @id
 * modulo max_inflight (a request still outstanding that long loses its
 * copy), reusing the slot's buffer; not without memory, nor past
 * KEEP_MAX bytes (such a request's MOVED reply is answered as it came). */
static void keep(struct armmap_conn *conn, uint64_t id, const uint8_t *p,
                 size_t len)
{
    struct armmap__kept *k;

    if (len > KEEP_MAX ||
        (conn->kept == NULL &&
         (conn->kept = calloc(conn->max_inflight, sizeof(*k))) == NULL))
        return;
    k = &conn->kept[id % conn->max_inflight];
    k->id = 0;
    if (!reserve(&k->buf, &k->cap, len))
        return;
    memcpy(k->buf, p, len);
    k->len = len;
    k->id = id;
}

static struct armmap__kept *kept_find(struct armmap_conn *conn, uint64_t id)
{
    struct armmap__kept *k;

    if (conn->kept == NULL || id == 0)
        return NULL;
    k = &conn->kept[id % conn->max_inflight];
    return k->id == id ? k : NULL;
}

void armmap__kept_drop(struct armmap_conn *conn, uint64_t id)
{
    struct armmap__kept *k = kept_find(conn, id);

    if (k != NULL)
        k->id = 0;
}

enum armmap_status armmap__queue(struct armmap_conn *conn,
                                 Armmap__V1__Request *req, bool force,
                                 uint64_t *id)
{
    struct envelope_sizes z;
    size_t len;
    uint8_t *p;

    if (conn->dead)
        return armmap__fail(conn, ARMMAP_IO,
                            "connection unusable after an earlier error");
    if (!force && conn->inflight >= conn->max_inflight)
        return armmap__fail(conn, ARMMAP_RESOURCE_EXHAUSTED,
                            "%u requests already in flight (max_inflight); "
                            "receive replies first",
                            conn->inflight);
    req->id = ++conn->next_id;
    armmap__key(conn, req, false);
    len = envelope_request_size(req, &z);
    if (len > 0xffffffffu)
        return armmap__fail(conn, ARMMAP_INVALID_ARGUMENT,
                            "request of %zu bytes is too large to frame", len);
    if (conn->woff == conn->wlen)
        conn->woff = conn->wlen = 0;
    if (!reserve(&conn->wbuf, &conn->wcap, conn->wlen + 4 + len))
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY,
                            "out of memory queueing a %zu-byte request", len);
    p = conn->wbuf + conn->wlen;
    envelope_put_length(p, len);
    envelope_request_pack(req, &z, p + 4);
    conn->wlen += 4 + len;
    conn->inflight++;
    if (!force && req_machine(req) != 0)
        keep(conn, req->id, p + 4, len);
    if (id)
        *id = req->id;
    return ARMMAP_OK;
}

/* Writes once; returns OK if it wrote or the socket is full. */
static enum armmap_status write_some(struct armmap_conn *conn)
{
    ssize_t n;

    if (conn->woff == conn->wlen)
        return ARMMAP_OK;
    n = send(conn->fd, conn->wbuf + conn->woff, conn->wlen - conn->woff,
             MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return ARMMAP_OK;
        if (errno == EPIPE || errno == ECONNRESET)
            return armmap__fail(conn, ARMMAP_IO,
                                "armmapd closed the connection");
        return armmap__fail(conn, ARMMAP_IO, "write to armmapd failed: %s",
                            strerror(errno));
    }
    conn->woff += (size_t)n;
    if (conn->woff == conn->wlen)
        conn->woff = conn->wlen = 0;
    return ARMMAP_OK;
}

enum armmap_status armmap__flush_some(struct armmap_conn *conn)
{
    if (conn->dead)
        return armmap__fail(conn, ARMMAP_IO,
                            "connection unusable after an earlier error");
    return write_some(conn);
}

/* Pipelined sends only queue until this much is pending; the rest goes out
 * at the next receive.  Many requests then share one send(), and the
 * daemon reads them in one go too: one send() per request cost a third of
 * the client's time and most of the daemon's wake-ups. */
#define FLUSH_AT (64 * 1024)

enum armmap_status armmap__flush_if_full(struct armmap_conn *conn)
{
    if (conn->wlen - conn->woff < FLUSH_AT && !conn->dead)
        return ARMMAP_OK;
    return armmap__flush_some(conn);
}

/* ---- reading ---------------------------------------------------------- */

static enum armmap_status read_some(struct armmap_conn *conn)
{
    ssize_t n;

    if (conn->roff > 0 && conn->roff == conn->rlen) {
        conn->roff = conn->rlen = 0;
    } else if (conn->roff > conn->rcap / 2) {
        memmove(conn->rbuf, conn->rbuf + conn->roff, conn->rlen - conn->roff);
        conn->rlen -= conn->roff;
        conn->roff = 0;
    }
    if (!reserve(&conn->rbuf, &conn->rcap, conn->rlen + READ_CHUNK))
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY,
                            "out of memory reading a reply");
    n = recv(conn->fd, conn->rbuf + conn->rlen, conn->rcap - conn->rlen, 0);
    if (n == 0)
        return armmap__fail(conn, ARMMAP_IO, "armmapd closed the connection");
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return ARMMAP_OK;
        if (errno == ECONNRESET)
            return armmap__fail(conn, ARMMAP_IO,
                                "armmapd closed the connection");
        return armmap__fail(conn, ARMMAP_IO, "read from armmapd failed: %s",
                            strerror(errno));
    }
    conn->rlen += (size_t)n;
    return ARMMAP_OK;
}

/* Unpacks one complete frame from the read buffer, if there is one. */
/* A whole frame at the read position: *@body and *@len, not consumed; or
 * *@body NULL when more bytes are needed (the buffer then has room). */
static enum armmap_status peek_frame(struct armmap_conn *conn,
                                     const uint8_t **body, uint32_t *len_out)
{
    const uint8_t *p = conn->rbuf + conn->roff;
    size_t have = conn->rlen - conn->roff;
    uint32_t len;

    *body = NULL;
    if (have < 4)
        return ARMMAP_OK;
    len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
          p[3];
    if (len > conn->max_frame)
        return armmap__fail(
            conn, ARMMAP_PROTOCOL,
            "reply frame of %u bytes exceeds the client limit of %u", len,
            conn->max_frame);
    if (have - 4 < len) {
        if (!reserve(&conn->rbuf, &conn->rcap, conn->roff + 4 + len))
            return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY,
                                "out of memory for a %u-byte reply", len);
        return ARMMAP_OK;
    }
    *body = p + 4;
    *len_out = len;
    return ARMMAP_OK;
}

/* As peek_frame(), unpacked and consumed: *@out NULL if incomplete. */
static enum armmap_status take_frame(struct armmap_conn *conn,
                                     Armmap__V1__Response **out)
{
    enum armmap_status st;
    const uint8_t *body;
    uint32_t len;

    *out = NULL;
    st = peek_frame(conn, &body, &len);
    if (st != ARMMAP_OK || !body)
        return st;
    *out = envelope_response_unpack(len, body);
    if (!*out)
        return armmap__fail(conn, ARMMAP_PROTOCOL,
                            "malformed reply frame of %u bytes", len);
    conn->roff += 4 + (size_t)len;
    return ARMMAP_OK;
}

/* The I/O timeout, plus the longest kmap wait in flight: a kmap that
 * waits for a pkmap slot may legitimately stay silent that long. */
static int wait_timeout(const struct armmap_conn *conn)
{
    int64_t t = conn->io_timeout_ms;

    if (t < 0)
        return -1;
    t += conn->wait_ms;
    return t > 0x7fffffff ? 0x7fffffff : (int)t;
}

/* Reads until one frame is in, writing queued requests meanwhile; then
 * either unpacks and consumes it into *@out (@body NULL) or, with @body,
 * hands out its bytes unconsumed. */
static enum armmap_status read_frame_as(struct armmap_conn *conn,
                                        Armmap__V1__Response **out,
                                        const uint8_t **body, uint32_t *len)
{
    enum armmap_status st;
    struct pollfd pfd;
    int rc;

    for (;;) {
        if (body) {
            st = peek_frame(conn, body, len);
            if (st != ARMMAP_OK || *body)
                return st;
        } else {
            st = take_frame(conn, out);
            if (st != ARMMAP_OK || *out)
                return st;
        }
        st = write_some(conn);
        if (st != ARMMAP_OK)
            return st;
        pfd.fd = conn->fd;
        pfd.events = POLLIN | (conn->woff < conn->wlen ? POLLOUT : 0);
        pfd.revents = 0;
        rc = poll(&pfd, 1, wait_timeout(conn));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return armmap__fail(conn, ARMMAP_IO, "poll failed: %s",
                                strerror(errno));
        if (rc == 0)
            return armmap__fail(conn, ARMMAP_TIMEOUT,
                                "no reply from armmapd within %d ms",
                                wait_timeout(conn));
        if (pfd.revents & POLLOUT) {
            st = write_some(conn);
            if (st != ARMMAP_OK)
                return st;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            st = read_some(conn);
            if (st != ARMMAP_OK)
                return st;
        }
    }
}

static enum armmap_status read_frame(struct armmap_conn *conn,
                                     Armmap__V1__Response **out)
{
    return read_frame_as(conn, out, NULL, NULL);
}

static enum armmap_status stash_push(struct armmap_conn *conn,
                                     Armmap__V1__Response *resp)
{
    Armmap__V1__Response **ns;
    size_t ncap;

    if (conn->nstash == conn->stash_cap) {
        ncap = conn->stash_cap ? conn->stash_cap * 2 : 8;
        ns = realloc(conn->stash, ncap * sizeof(*ns));
        if (!ns) {
            armmap__v1__response__free_unpacked(resp, NULL);
            return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
        }
        conn->stash = ns;
        conn->stash_cap = ncap;
    }
    conn->stash[conn->nstash++] = resp;
    return ARMMAP_OK;
}

static Armmap__V1__Response *stash_take(struct armmap_conn *conn, size_t i)
{
    Armmap__V1__Response *r = conn->stash[i];

    memmove(conn->stash + i, conn->stash + i + 1,
            (conn->nstash - i - 1) * sizeof(*conn->stash));
    conn->nstash--;
    return r;
}

enum armmap_status armmap__wait(struct armmap_conn *conn, uint64_t id,
                                Armmap__V1__Response **out)
{
    enum armmap_status st;
    Armmap__V1__Response *r;
    size_t i;

    *out = NULL;
    for (i = 0; i < conn->nstash; i++) {
        if (conn->stash[i]->id == id) {
            *out = stash_take(conn, i);
            if (--conn->inflight == 0)
                conn->wait_ms = 0;
            return ARMMAP_OK;
        }
    }
    if (conn->dead)
        return armmap__fail(conn, ARMMAP_IO,
                            "connection unusable after an earlier error");
    for (;;) {
        st = read_frame(conn, &r);
        if (st != ARMMAP_OK)
            return st;
        if (r->id == id) {
            *out = r;
            conn->inflight--;
            if (conn->inflight == 0)
                conn->wait_ms = 0;
            return ARMMAP_OK;
        }
        if (r->id == 0 || r->id > conn->next_id) {
            /* A reply to nothing we sent: the daemon's own error. */
            st = armmap__fail(conn, ARMMAP_PROTOCOL,
                              "reply with unknown id %llu%s%s",
                              (unsigned long long)r->id,
                              r->status && r->status->message[0] ? ": " : "",
                              r->status ? r->status->message : "");
            if (r->status && r->status->code != 0) {
                st = (enum armmap_status)r->status->code;
                snprintf(conn->errmsg, sizeof(conn->errmsg), "%s",
                         r->status->message);
                conn->dead = true;
            }
            armmap__v1__response__free_unpacked(r, NULL);
            return st;
        }
        st = stash_push(conn, r);
        if (st != ARMMAP_OK)
            return st;
    }
}

enum armmap_status armmap__next(struct armmap_conn *conn,
                                Armmap__V1__Response **out)
{
    enum armmap_status st;

    *out = NULL;
    if (conn->nstash > 0) {
        *out = stash_take(conn, 0);
        if (--conn->inflight == 0)
            conn->wait_ms = 0;
        return ARMMAP_OK;
    }
    if (conn->inflight == 0)
        return armmap__fail(conn, ARMMAP_NOT_FOUND, "no request in flight");
    if (conn->dead)
        return armmap__fail(conn, ARMMAP_IO,
                            "connection unusable after an earlier error");
    st = read_frame(conn, out);
    if (st == ARMMAP_OK)
        conn->inflight--;
    if (conn->inflight == 0)
        conn->wait_ms = 0;
    return st;
}

enum armmap_status armmap__next_raw(struct armmap_conn *conn,
                                    const uint8_t **body, size_t *len)
{
    enum armmap_status st;
    uint32_t n = 0;

    *body = NULL;
    if (conn->nstash > 0) /* those are unpacked already: armmap__next() */
        return ARMMAP_OK;
    if (conn->inflight == 0)
        return armmap__fail(conn, ARMMAP_NOT_FOUND, "no request in flight");
    if (conn->dead)
        return armmap__fail(conn, ARMMAP_IO,
                            "connection unusable after an earlier error");
    st = read_frame_as(conn, NULL, body, &n);
    if (st != ARMMAP_OK)
        return st;
    conn->roff += 4 + (size_t)n;
    *len = n;
    if (--conn->inflight == 0)
        conn->wait_ms = 0;
    return ARMMAP_OK;
}

enum armmap_status armmap__reply_status(struct armmap_conn *conn,
                                        const Armmap__V1__Response *resp)
{
    const Armmap__V1__Status *s = resp->status;

    if (resp->body_case == ARMMAP__V1__RESPONSE__BODY_OP && resp->op &&
        resp->op->status)
        s = resp->op->status;
    if (!s || s->code == ARMMAP__V1__CODE__OK) {
        conn->errmsg[0] = '\0';
        return ARMMAP_OK;
    }
    snprintf(conn->errmsg, sizeof(conn->errmsg), "%s",
             s->message ? s->message : "");
    return (enum armmap_status)s->code;
}

/* ---- connecting ------------------------------------------------------- */

static struct armmap_conn *conn_create(int fd, const struct armmap_options *opt)
{
    struct armmap_conn *c = calloc(1, sizeof(*c));

    if (c != NULL) {
        c->opt = *opt;
        c->tenant = opt->tenant ? strdup(opt->tenant) : NULL;
        c->token_file = opt->token_file ? strdup(opt->token_file) : NULL;
        if ((opt->tenant && !c->tenant) ||
            (opt->token_file && !c->token_file)) {
            free(c->tenant);
            free(c);
            c = NULL;
        }
    }
    if (!c) {
        close(fd);
        return NULL;
    }
    c->opt.tenant = c->tenant;
    c->opt.token_file = c->token_file;
    c->fd = fd;
    c->io_timeout_ms = opt->io_timeout_ms == 0 ? DEFAULT_IO_TIMEOUT_MS
                                               : opt->io_timeout_ms;
    c->max_frame = opt->max_frame ? opt->max_frame : ARMMAP_DEFAULT_MAX_FRAME;
    c->max_inflight = opt->max_inflight ? opt->max_inflight
                                        : DEFAULT_MAX_INFLIGHT;
    return c;
}

void armmap_close(struct armmap_conn *conn)
{
    size_t i;

    if (!conn)
        return;
    for (i = 0; i < conn->nstash; i++)
        armmap__v1__response__free_unpacked(conn->stash[i], NULL);
    for (i = 0; i < ARMMAP__PEERS; i++)
        armmap_close(conn->peers[i]);
    for (i = 0; conn->kept != NULL && i < conn->max_inflight; i++)
        free(conn->kept[i].buf);
    free(conn->kept);
    free(conn->routes);
    free(conn->stash);
    free(conn->wbuf);
    free(conn->rbuf);
    free(conn->tenant);
    free(conn->token_file);
    if (conn->fd >= 0)
        close(conn->fd);
    free(conn);
}

/* Maps a connect() errno to a status and a sentence about @where. */
static enum armmap_status connect_error(int e, const char *where,
                                        char err[ARMMAP_ERR_MAX])
{
    switch (e) {
    case ENOENT:
        armmap__set_err(err, "no such socket: %s (is armmapd running?)", where);
        return ARMMAP_NO_SOCKET;
    case ECONNREFUSED:
        armmap__set_err(err, "connection refused: %s (is armmapd running?)",
                        where);
        return ARMMAP_REFUSED;
    case ETIMEDOUT:
        armmap__set_err(err, "connect to %s timed out", where);
        return ARMMAP_TIMEOUT;
    case EACCES:
    case EPERM:
        armmap__set_err(err, "permission denied connecting to %s", where);
        return ARMMAP_IO;
    default:
        armmap__set_err(err, "cannot connect to %s: %s", where, strerror(e));
        return ARMMAP_IO;
    }
}

/* Non-blocking connect bounded by @timeout_ms; closes @fd on failure. */
static enum armmap_status connect_fd(int fd, const struct sockaddr *sa,
                                     socklen_t len, int timeout_ms,
                                     const char *where,
                                     char err[ARMMAP_ERR_MAX])
{
    struct pollfd pfd;
    socklen_t elen = sizeof(int);
    int e = 0, rc;

    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        e = errno;
        close(fd);
        return connect_error(e, where, err);
    }
    if (connect(fd, sa, len) == 0)
        return ARMMAP_OK;
    if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR) {
        e = errno;
        close(fd);
        return connect_error(e, where, err);
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    do {
        rc = poll(&pfd, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        close(fd);
        armmap__set_err(err, "connect to %s timed out after %d ms", where,
                        timeout_ms);
        return ARMMAP_TIMEOUT;
    }
    if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
        e = errno;
    if (e != 0) {
        close(fd);
        return connect_error(e, where, err);
    }
    return ARMMAP_OK;
}

/* Sends Hello and waits for its reply; takes @conn on failure. */
static enum armmap_status hello(struct armmap_conn *conn,
                                const struct armmap_options *opt,
                                char err[ARMMAP_ERR_MAX])
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello h = ARMMAP__V1__HELLO__INIT;
    Armmap__V1__Response *resp = NULL;
    uint8_t token[TOKEN_MAX];
    size_t tlen = 0;
    enum armmap_status st;
    uint64_t id;

    if (opt->token_file) {
        char msg[ARMMAP_ERR_MAX];

        if (token_read_file(opt->token_file, token, &tlen, msg, sizeof(msg)) !=
            0) {
            armmap__set_err(err, "%s", msg);
            st = ARMMAP_INVALID_ARGUMENT;
            goto out;
        }
        h.token.data = token;
        h.token.len = tlen;
    }
    h.protocol = 1;
    h.tenant = (char *)(opt->tenant && opt->tenant[0] ? opt->tenant
                                                      : ARMMAP_DEFAULT_TENANT);
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &h;
    st = armmap__queue(conn, &req, true, &id);
    if (st == ARMMAP_OK)
        st = armmap__wait(conn, id, &resp);
    if (st != ARMMAP_OK) {
        armmap__set_err(err, "hello: %s", conn->errmsg);
        goto out;
    }
    st = armmap__reply_status(conn, resp);
    if (st != ARMMAP_OK) {
        armmap__set_err(err, "hello rejected: %s", conn->errmsg);
    } else if (resp->body_case == ARMMAP__V1__RESPONSE__BODY_HELLO &&
               resp->hello) {
        snprintf(conn->server, sizeof(conn->server), "%s", resp->hello->server);
    }
    armmap__v1__response__free_unpacked(resp, NULL);
out:
    memset(token, 0, sizeof(token));
    return st;
}

static enum armmap_status finish_connect(int fd,
                                         const struct armmap_options *opt,
                                         const char *addr, bool tcp,
                                         struct armmap_conn **out,
                                         char err[ARMMAP_ERR_MAX])
{
    struct armmap_conn *c = conn_create(fd, opt);
    enum armmap_status st;

    if (!c) {
        armmap__set_err(err, "out of memory");
        return ARMMAP_NO_HOST_MEMORY;
    }
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->tcp = tcp;
    st = hello(c, opt, err);
    if (st != ARMMAP_OK) {
        armmap_close(c);
        return st;
    }
    c->errmsg[0] = '\0';
    *out = c;
    return ARMMAP_OK;
}

enum armmap_status armmap_connect_unix(const char *path,
                                       struct armmap_options opt,
                                       struct armmap_conn **out,
                                       char err[ARMMAP_ERR_MAX])
{
    struct sockaddr_un sun;
    enum armmap_status st;
    int fd, cto;

    *out = NULL;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (!path || !path[0] || strlen(path) >= sizeof(sun.sun_path)) {
        armmap__set_err(err,
                        "bad socket path '%s': empty or longer than %zu bytes",
                        path ? path : "", sizeof(sun.sun_path) - 1);
        return ARMMAP_INVALID_ARGUMENT;
    }
    memcpy(sun.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        armmap__set_err(err, "socket: %s", strerror(errno));
        return ARMMAP_IO;
    }
    cto = opt.connect_timeout_ms ? opt.connect_timeout_ms
                                 : DEFAULT_CONNECT_TIMEOUT_MS;
    st = connect_fd(fd, (const struct sockaddr *)&sun, sizeof(sun), cto, path,
                    err);
    if (st != ARMMAP_OK)
        return st;
    return finish_connect(fd, &opt, path, false, out, err);
}

/* Splits "host:port" or "[v6]:port" into @host and @port. */
static bool split_hostport(const char *hp, char *host, size_t hsz,
                           const char **port)
{
    const char *colon;
    size_t n;

    if (hp[0] == '[') {
        colon = strstr(hp, "]:");
        if (!colon)
            return false;
        n = (size_t)(colon - hp - 1);
        if (n == 0 || n >= hsz)
            return false;
        memcpy(host, hp + 1, n);
        host[n] = '\0';
        *port = colon + 2;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            return false;
        n = (size_t)(colon - hp);
        if (n == 0 || n >= hsz)
            return false;
        memcpy(host, hp, n);
        host[n] = '\0';
        *port = colon + 1;
    }
    return **port != '\0';
}

enum armmap_status armmap_connect_tcp(const char *hostport,
                                      struct armmap_options opt,
                                      struct armmap_conn **out,
                                      char err[ARMMAP_ERR_MAX])
{
    struct addrinfo hints, *res = NULL;
    enum armmap_status st;
    const char *port;
    char host[256];
    int fd, rc, one = 1, cto;

    *out = NULL;
    if (!hostport || !split_hostport(hostport, host, sizeof(host), &port)) {
        armmap__set_err(err, "bad address '%s': expected HOST:PORT",
                        hostport ? hostport : "");
        return ARMMAP_INVALID_ARGUMENT;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        armmap__set_err(err, "cannot resolve %s: %s", hostport,
                        gai_strerror(rc));
        return ARMMAP_NO_SOCKET;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        armmap__set_err(err, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return ARMMAP_IO;
    }
    cto = opt.connect_timeout_ms ? opt.connect_timeout_ms
                                 : DEFAULT_CONNECT_TIMEOUT_MS;
    st = connect_fd(fd, res->ai_addr, res->ai_addrlen, cto, hostport, err);
    freeaddrinfo(res);
    if (st != ARMMAP_OK)
        return st;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return finish_connect(fd, &opt, hostport, true, out, err);
}

/* ---- libarmmap.so.0's first ABI (ARMMAP_0) ---------------------------- */

/* struct armmap_options before retry_ms: programs linked against
 * ARMMAP_0 pass this, by value, to armmap_connect_*@ARMMAP_0; they get
 * the default retry_ms. */
struct options_v0 {
    const char *tenant;
    const char *token_file;
    int connect_timeout_ms;
    int io_timeout_ms;
    uint32_t max_frame;
    unsigned max_inflight;
};

static struct armmap_options from_v0(const struct options_v0 *o)
{
    struct armmap_options opt;

    memset(&opt, 0, sizeof(opt));
    opt.tenant = o->tenant;
    opt.token_file = o->token_file;
    opt.connect_timeout_ms = o->connect_timeout_ms;
    opt.io_timeout_ms = o->io_timeout_ms;
    opt.max_frame = o->max_frame;
    opt.max_inflight = o->max_inflight;
    return opt;
}

__attribute__((visibility("default"))) enum armmap_status v0_connect_unix(
    const char *path, struct options_v0 o, struct armmap_conn **out,
    char err[ARMMAP_ERR_MAX]);
__attribute__((visibility("default"))) enum armmap_status v0_connect_tcp(
    const char *hostport, struct options_v0 o, struct armmap_conn **out,
    char err[ARMMAP_ERR_MAX]);

enum armmap_status v0_connect_unix(const char *path, struct options_v0 o,
                                   struct armmap_conn **out,
                                   char err[ARMMAP_ERR_MAX])
{
    return armmap_connect_unix(path, from_v0(&o), out, err);
}

enum armmap_status v0_connect_tcp(const char *hostport, struct options_v0 o,
                                  struct armmap_conn **out,
                                  char err[ARMMAP_ERR_MAX])
{
    return armmap_connect_tcp(hostport, from_v0(&o), out, err);
}

__asm__(".symver v0_connect_unix,armmap_connect_unix@ARMMAP_0");
__asm__(".symver v0_connect_tcp,armmap_connect_tcp@ARMMAP_0");

/* ---- request keys ----------------------------------------------------- */

void armmap_set_request_key(struct armmap_conn *conn, uint64_t key)
{
    conn->next_key = key;
}

uint64_t armmap_last_request_key(const struct armmap_conn *conn)
{
    return conn->last_key;
}

static bool is_change(const Armmap__V1__Request *req)
{
    switch (req->body_case) {
    case ARMMAP__V1__REQUEST__BODY_CREATE:
    case ARMMAP__V1__REQUEST__BODY_DESTROY:
    case ARMMAP__V1__REQUEST__BODY_OP:
    case ARMMAP__V1__REQUEST__BODY_BATCH:
    case ARMMAP__V1__REQUEST__BODY_FORK:
    case ARMMAP__V1__REQUEST__BODY_CLONE:
        return true;
    default:
        return false;
    }
}

/* A fresh random key, never 0: getrandom() ARMMAP__KEYS at a time. */
static uint64_t random_key(struct armmap_conn *conn)
{
    uint64_t k;

    while (conn->nkeys == 0) {
        ssize_t n = getrandom(conn->keys, sizeof(conn->keys), 0);

        if (n == (ssize_t)sizeof(conn->keys)) {
            conn->nkeys = ARMMAP__KEYS;
        } else if (n < 0 && errno != EINTR) {
            /* No entropy source: unique enough per process and call. */
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            conn->keys[0] = ((uint64_t)ts.tv_sec * 1000000000u +
                             (uint64_t)ts.tv_nsec) ^
                            (uint64_t)getpid() << 48 ^ ++conn->clock << 32;
            conn->nkeys = 1;
        }
    }
    k = conn->keys[--conn->nkeys];
    return k != 0 ? k : 1;
}

void armmap__key(struct armmap_conn *conn, Armmap__V1__Request *req, bool fresh)
{
    if (req->request_key != 0 || !is_change(req))
        return;
    if (conn->next_key != 0) {
        req->request_key = conn->next_key;
        conn->next_key = 0;
    } else if (fresh) {
        req->request_key = random_key(conn);
    } else {
        return;
    }
    conn->last_key = req->request_key;
}

/* ---- redirects and retries --------------------------------------------- */

/* The machine @req names, or 0 (create, list, ...). */
static uint64_t req_machine(const Armmap__V1__Request *req)
{
    switch (req->body_case) {
    case ARMMAP__V1__REQUEST__BODY_OP:
        return req->op->machine;
    case ARMMAP__V1__REQUEST__BODY_BATCH:
        return req->batch->machine;
    case ARMMAP__V1__REQUEST__BODY_TRANSLATE:
        return req->translate->machine;
    case ARMMAP__V1__REQUEST__BODY_PHYS:
        return req->phys->machine;
    case ARMMAP__V1__REQUEST__BODY_REPORT:
        return req->report->machine;
    case ARMMAP__V1__REQUEST__BODY_HISTORY:
        return req->history->machine;
    case ARMMAP__V1__REQUEST__BODY_FORK:
        return req->fork->machine;
    case ARMMAP__V1__REQUEST__BODY_CLONE:
        return req->clone->machine;
    case ARMMAP__V1__REQUEST__BODY_DUMP:
        return req->dump->machine;
    case ARMMAP__V1__REQUEST__BODY_DESTROY:
    case ARMMAP__V1__REQUEST__BODY_DESCRIBE:
        return req->destroy->machine; /* MachineRef members alias */
    default:
        return 0;
    }
}

static struct armmap__route *route_find(struct armmap_conn *base,
                                        uint64_t machine)
{
    size_t i;

    if (base->routes == NULL || machine == 0)
        return NULL;
    for (i = 0; i < ARMMAP__ROUTES; i++)
        if (base->routes[i].machine == machine)
            return &base->routes[i];
    return NULL;
}

/* Remembers that @owner serves @machine (the least recently used goes). */
static void route_put(struct armmap_conn *base, uint64_t machine,
                      const char *owner)
{
    struct armmap__route *r = route_find(base, machine);
    size_t i;

    if (machine == 0)
        return;
    if (base->routes == NULL &&
        (base->routes = calloc(ARMMAP__ROUTES, sizeof(*r))) == NULL)
        return;
    for (i = 0; r == NULL && i < ARMMAP__ROUTES; i++)
        if (base->routes[i].machine == 0)
            r = &base->routes[i];
    if (r == NULL) {
        r = &base->routes[0];
        for (i = 1; i < ARMMAP__ROUTES; i++)
            if (base->routes[i].used < r->used)
                r = &base->routes[i];
    }
    r->machine = machine;
    r->used = ++base->clock;
    snprintf(r->owner, sizeof(r->owner), "%s", owner);
}

static void route_drop(struct armmap_conn *base, uint64_t machine)
{
    struct armmap__route *r = route_find(base, machine);

    if (r != NULL)
        r->machine = 0;
}

/* The connection to node @owner: @base itself, a kept peer, or a new one
 * (same options; the least recently used peer closed for it); NULL with
 * @base's message set if it cannot be opened. */
static struct armmap_conn *peer_get(struct armmap_conn *base, const char *owner,
                                    enum armmap_status *st)
{
    char err[ARMMAP_ERR_MAX];
    struct armmap_conn *c = NULL;
    size_t i, slot = 0;

    if (base->tcp && strcmp(base->addr, owner) == 0)
        return base;
    for (i = 0; i < ARMMAP__PEERS; i++) {
        if (base->peers[i] && strcmp(base->peers[i]->addr, owner) == 0) {
            base->peer_used[i] = ++base->clock;
            return base->peers[i];
        }
        if (base->peers[i] == NULL ||
            (base->peers[slot] != NULL &&
             base->peer_used[i] < base->peer_used[slot]))
            slot = i;
    }
    *st = armmap_connect_tcp(owner, base->opt, &c, err);
    if (*st != ARMMAP_OK) {
        armmap__failf(base, ARMMAP_OK, "owner node %s: %s", owner, err);
        return NULL;
    }
    armmap_close(base->peers[slot]);
    base->peers[slot] = c;
    base->peer_used[slot] = ++base->clock;
    return c;
}

/* Connects @conn again to its address (same Hello), in place: what was
 * queued or stashed on the old socket is gone. */
static enum armmap_status reopen(struct armmap_conn *conn)
{
    char err[ARMMAP_ERR_MAX];
    struct armmap_conn *n = NULL;
    enum armmap_status st;
    size_t i;

    st = conn->tcp ? armmap_connect_tcp(conn->addr, conn->opt, &n, err)
                   : armmap_connect_unix(conn->addr, conn->opt, &n, err);
    if (st != ARMMAP_OK) {
        armmap__failf(conn, ARMMAP_OK, "reconnecting: %s", err);
        return st;
    }
    close(conn->fd);
    conn->fd = n->fd;
    n->fd = -1;
    armmap_close(n);
    for (i = 0; i < conn->nstash; i++)
        armmap__v1__response__free_unpacked(conn->stash[i], NULL);
    conn->nstash = 0;
    conn->woff = conn->wlen = conn->roff = conn->rlen = 0;
    conn->inflight = 0;
    conn->wait_ms = 0;
    conn->dead = false;
    return ARMMAP_OK;
}

static enum armmap_status send_wait(struct armmap_conn *conn,
                                    Armmap__V1__Request *req,
                                    Armmap__V1__Response **out)
{
    enum armmap_status st;
    uint64_t id;

    st = armmap__queue(conn, req, true, &id);
    return st == ARMMAP_OK ? armmap__wait(conn, id, out) : st;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Before trying again (a lost connection, an unreachable owner): false
 * once retry_ms has passed since the first such wait (*@deadline 0 until
 * then) or retries are off; else sleeps, backing off from 20 to 500 ms. */
static bool retry_wait(const struct armmap_conn *conn, int64_t *deadline,
                       int64_t *pause)
{
    int retry = conn->opt.retry_ms ? conn->opt.retry_ms : DEFAULT_RETRY_MS;
    struct timespec ts;
    int64_t left;

    if (retry < 0)
        return false;
    if (*deadline == 0)
        *deadline = now_ms() + retry;
    left = *deadline - now_ms();
    if (left <= 0)
        return false;
    if (*pause > left)
        *pause = left;
    ts.tv_sec = (time_t)(*pause / 1000);
    ts.tv_nsec = (long)(*pause % 1000) * 1000000;
    nanosleep(&ts, NULL);
    *pause = *pause * 2 > 500 ? 500 : *pause * 2;
    return true;
}

/* send_wait(), and after a lost connection (only this request was
 * outstanding on it) reconnect and resend until retry_ms has passed. */
static enum armmap_status send_retrying(struct armmap_conn *conn,
                                        Armmap__V1__Request *req,
                                        Armmap__V1__Response **out)
{
    bool alone = conn->inflight == 0 && conn->nstash == 0 && !conn->dead;
    enum armmap_status st = send_wait(conn, req, out);
    int64_t deadline = 0, pause = 20;

    while (st == ARMMAP_IO && alone && retry_wait(conn, &deadline, &pause)) {
        if (reopen(conn) != ARMMAP_OK) {
            st = ARMMAP_IO;
            continue;
        }
        st = send_wait(conn, req, out);
    }
    return st;
}

enum armmap_status armmap__exchange(struct armmap_conn *conn,
                                    Armmap__V1__Request *req,
                                    Armmap__V1__Response **out)
{
    uint64_t machine = req_machine(req);
    struct armmap__route *r = route_find(conn, machine);
    struct armmap_conn *target = conn;
    Armmap__V1__Response *resp = NULL;
    enum armmap_status st = ARMMAP_OK;
    int64_t deadline = 0, pause = 20;
    int hops = 0;

    assert(conn != NULL);
    *out = NULL;
    armmap__key(conn, req, true); /* resent below: always keyed */
    if (r != NULL) {
        r->used = ++conn->clock;
        target = peer_get(conn, r->owner, &st);
    }
    for (;;) {
        if (target == NULL) {
            /* The owner is unreachable; peer_get() or the send said why. */
            assert(st != ARMMAP_OK);
            route_drop(conn, machine);
            if (!retry_wait(conn, &deadline, &pause))
                return st;
            target = conn;
            hops = 0;
        }
        st = target == conn ? send_retrying(conn, req, &resp)
                            : send_wait(target, req, &resp);
        if (st != ARMMAP_OK && target != conn) {
            snprintf(conn->errmsg, sizeof(conn->errmsg),
                     "owner node %.120s: %.300s", target->addr, target->errmsg);
            target = NULL; /* that node died: ask our own again */
            continue;
        }
        if (st != ARMMAP_OK)
            return st;
        if (resp->status == NULL ||
            resp->status->code != ARMMAP__V1__CODE__MOVED ||
            resp->status->owner == NULL || resp->status->owner[0] == '\0' ||
            hops++ == ARMMAP__HOPS)
            break;
        route_put(conn, machine, resp->status->owner);
        target = peer_get(conn, resp->status->owner, &st);
        armmap__v1__response__free_unpacked(resp, NULL);
        resp = NULL;
    }
    *out = resp;
    return ARMMAP_OK;
}

bool armmap__resend_moved(struct armmap_conn *conn, Armmap__V1__Response **resp)
{
    struct armmap__kept *k = kept_find(conn, (*resp)->id);
    Armmap__V1__Request *req;
    Armmap__V1__Response *again = NULL;
    uint64_t id = (*resp)->id;
    enum armmap_status st;

    if (k == NULL || (*resp)->status == NULL ||
        (*resp)->status->code != ARMMAP__V1__CODE__MOVED ||
        (*resp)->status->owner == NULL || (*resp)->status->owner[0] == '\0')
        return false;
    req = armmap__v1__request__unpack(NULL, k->len, k->buf);
    armmap__kept_drop(conn, id);
    if (req == NULL)
        return false;
    route_put(conn, req_machine(req), (*resp)->status->owner);
    st = armmap__exchange(conn, req, &again);
    armmap__v1__request__free_unpacked(req, NULL);
    if (st != ARMMAP_OK)
        return false;
    again->id = id;
    armmap__v1__response__free_unpacked(*resp, NULL);
    *resp = again;
    return true;
}

/* False unless the kept copies are every request outstanding and each is
 * safe to send again. */
static bool kept_all_safe(struct armmap_conn *conn)
{
    unsigned i, n = 0;

    if (conn->kept == NULL)
        return false;
    for (i = 0; i < conn->max_inflight; i++) {
        Armmap__V1__Request *req;
        bool safe;

        if (conn->kept[i].id == 0)
            continue;
        req = armmap__v1__request__unpack(NULL, conn->kept[i].len,
                                          conn->kept[i].buf);
        safe = req != NULL && (!is_change(req) || req->request_key != 0);
        armmap__v1__request__free_unpacked(req, NULL);
        if (!safe)
            return false;
        n++;
    }
    return n > 0 && n == conn->inflight;
}

/* Queues the kept copies again, as they were (their ids included), in
 * id order. */
static bool kept_requeue(struct armmap_conn *conn)
{
    uint64_t last = 0;

    for (;;) {
        struct armmap__kept *k = NULL;
        unsigned i;

        for (i = 0; i < conn->max_inflight; i++)
            if (conn->kept[i].id > last &&
                (k == NULL || conn->kept[i].id < k->id))
                k = &conn->kept[i];
        if (k == NULL)
            return true;
        last = k->id;
        if (!reserve(&conn->wbuf, &conn->wcap, conn->wlen + 4 + k->len))
            return false;
        envelope_put_length(conn->wbuf + conn->wlen, k->len);
        memcpy(conn->wbuf + conn->wlen + 4, k->buf, k->len);
        conn->wlen += 4 + k->len;
        conn->inflight++;
    }
}

enum armmap_status armmap__pipeline_resume(struct armmap_conn *conn,
                                           enum armmap_status st)
{
    int64_t deadline = 0, pause = 20;
    unsigned outstanding = conn->inflight;

    if (st != ARMMAP_IO || !kept_all_safe(conn))
        return st;
    while (retry_wait(conn, &deadline, &pause)) {
        if (reopen(conn) != ARMMAP_OK)
            continue;
        if (!kept_requeue(conn)) {
            conn->dead = true;
            return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY,
                                "out of memory resending %u requests",
                                outstanding);
        }
        return ARMMAP_OK;
    }
    return st;
}
