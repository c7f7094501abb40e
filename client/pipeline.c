/* client/pipeline.c - libarmmap pipelining and streaming translation.
 *
 * armmap_send_*() only queue a frame in the connection's write buffer (and
 * write what the socket takes without waiting); armmap_recv() then drives
 * the socket both ways until a reply is in.  The window (max_inflight) keeps
 * the number of unanswered requests, and with it the memory both sides
 * spend on them, bounded.
 *
 * armmap_translate_stream() is the batch-query path: it keeps up to
 * STREAM_WINDOW chunks of addresses in flight, reading the oldest chunk's
 * reply while later chunks are still being written, and hands each reply's
 * arrays to the sink straight from the unpacked message (no copy).  Replies
 * to translations come in request order, so the sink sees input order.
 */
#include "armmap_int.h"
#include "envelope.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_CHUNK  4096
#define STREAM_WINDOW 8
#define RESUMES       4 /* reconnections per armmap_recv() */

void armmap_reply_free(struct armmap_reply *r)
{
    if (!r)
        return;
    free(r->batch);
    armmap_translate_result_free(r->translate);
    free(r);
}

enum armmap_status armmap_send_ping(struct armmap_conn *conn, uint64_t *id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping ping = ARMMAP__V1__PING__INIT;
    enum armmap_status st;

    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    st = armmap__queue(conn, &req, false, id);
    return st == ARMMAP_OK ? armmap__flush_if_full(conn) : st;
}

enum armmap_status armmap_send_op(struct armmap_conn *conn, uint64_t machine,
                                  const struct armmap_op *op, uint64_t *id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op wop;
    enum armmap_status st;

    armmap__op_to(&wop, machine, op);
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &wop;
    st = armmap__queue(conn, &req, false, id);
    if (st == ARMMAP_OK && op->wait_ms > conn->wait_ms)
        conn->wait_ms = op->wait_ms; /* it may stay silent that long */
    return st == ARMMAP_OK ? armmap__flush_if_full(conn) : st;
}

enum armmap_status armmap_send_batch(struct armmap_conn *conn, uint64_t machine,
                                     const struct armmap_op *ops, size_t n,
                                     bool stop_on_error, uint64_t *id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b;
    Armmap__V1__Op *wops, **wptrs;
    enum armmap_status st;

    if (!armmap__batch_build(&b, machine, ops, n, stop_on_error, &wops, &wptrs))
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    st = armmap__queue(conn, &req, false, id);
    free(wops);
    free(wptrs);
    return st == ARMMAP_OK ? armmap__flush_if_full(conn) : st;
}

enum armmap_status armmap_send_translate(struct armmap_conn *conn,
                                         uint64_t machine, const uint32_t *va,
                                         size_t n, unsigned access,
                                         uint64_t *id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    enum armmap_status st;

    t.machine = machine;
    t.n_va = n;
    t.va = (uint32_t *)va;
    t.access = access;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    st = armmap__queue(conn, &req, false, id);
    return st == ARMMAP_OK ? armmap__flush_if_full(conn) : st;
}

/* Copies a message into @dst of @size bytes, cut short if need be; for
 * every reply, where snprintf("%s") cost ~500 instructions. */
static void copy_msg(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Converts a reply's body; returns false if host memory ran out. */
static bool reply_from(struct armmap_conn *conn, struct armmap_reply *r,
                       const Armmap__V1__Response *resp)
{
    size_t i;

    r->id = resp->id;
    r->status = armmap__reply_status(conn, resp);
    copy_msg(r->msg, sizeof(r->msg), conn->errmsg);
    switch (resp->body_case) {
    case ARMMAP__V1__RESPONSE__BODY_PONG:
        r->kind = ARMMAP_REPLY_PONG;
        break;
    case ARMMAP__V1__RESPONSE__BODY_OP:
        r->kind = ARMMAP_REPLY_OP;
        armmap__op_result_from(&r->op, resp->op);
        r->op.status = r->status;
        if (r->status != ARMMAP_OK && !r->op.msg[0])
            copy_msg(r->op.msg, sizeof(r->op.msg), r->msg);
        break;
    case ARMMAP__V1__RESPONSE__BODY_BATCH:
        r->kind = ARMMAP_REPLY_BATCH;
        r->batch = calloc(resp->batch->n_results + 1, sizeof(*r->batch));
        if (!r->batch)
            return false;
        for (i = 0; i < resp->batch->n_results; i++)
            armmap__op_result_from(&r->batch[i], resp->batch->results[i]);
        r->nbatch = resp->batch->n_results;
        break;
    case ARMMAP__V1__RESPONSE__BODY_TRANSLATE:
        r->kind = ARMMAP_REPLY_TRANSLATE;
        if (armmap__translate_from(conn, resp->translate, resp->translate->n_pa,
                                   resp->translate->n_walks > 0,
                                   &r->translate) != ARMMAP_OK) {
            r->status = ARMMAP_PROTOCOL;
            snprintf(r->msg, sizeof(r->msg), "%s", conn->errmsg);
        }
        break;
    default:
        r->kind = ARMMAP_REPLY_NONE;
        break;
    }
    return true;
}

/*
 * The common replies decoded straight from the frame's bytes into the
 * public reply: an OK status with no message and a pong, an op result, or
 * a translate result without walks.  Anything else (an error, walks,
 * batches, a field we do not expect) returns false and takes the general
 * path, which decodes the same bytes through the envelope codec.  This
 * skips protobuf-c's allocations of the message tree (five or six blocks
 * per reply) and the zeroing of the whole reply.
 */
struct fast_reply {
    uint64_t id;
    enum armmap_reply_kind kind;
    const uint8_t *pa, *fault, *region;
    size_t npa_bytes, nfault, nregion;
    uint32_t value, aux, flags;
    uint64_t seq;
};

/* A length-delimited field's body at *@p: [*body, *body + *n). */
static bool fast_len(const uint8_t **p, const uint8_t *end,
                     const uint8_t **body, size_t *n)
{
    uint64_t v;

    if (!wire_get_varint5(p, end, &v) || v > (uint64_t)(end - *p))
        return false;
    *body = *p;
    *n = (size_t)v;
    *p += v;
    return true;
}

/* A Status that says OK and nothing else. */
static bool fast_status_ok(const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    uint64_t key, v;

    while (p < end) {
        if (!wire_get_varint5(&p, end, &key) || key != (1 << 3) ||
            !wire_get_varint(&p, end, &v) || v != 0)
            return false;
    }
    return true;
}

static bool fast_op(struct fast_reply *f, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n, *body;
    uint64_t key, v;
    size_t len;

    while (p < end) {
        if (!wire_get_varint5(&p, end, &key))
            return false;
        if (key == (1 << 3 | 2)) {
            if (!fast_len(&p, end, &body, &len) || !fast_status_ok(body, len))
                return false;
            continue;
        }
        if ((key & 7) != 0 || !wire_get_varint(&p, end, &v))
            return false;
        switch (key >> 3) {
        case 2:
            f->value = (uint32_t)v;
            break;
        case 3:
            f->aux = (uint32_t)v;
            break;
        case 4:
            f->flags = (uint32_t)v;
            break;
        case 5:
            f->seq = v;
            break;
        default:
            return false;
        }
    }
    f->kind = ARMMAP_REPLY_OP;
    return true;
}

/* Whether each of the @n bytes at @p is a varint of its own (the packed
 * fault and region codes of a translation, which all fit one byte). */
static bool small_varints(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] & 0x80)
            return false;
    return true;
}

static bool fast_translate(struct fast_reply *f, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n, *body;
    uint64_t key;
    size_t len;

    while (p < end) {
        if (!wire_get_varint5(&p, end, &key) || (key & 7) != 2 ||
            !fast_len(&p, end, &body, &len))
            return false;
        if (key >> 3 == 1 && !f->pa && len % 4 == 0) {
            f->pa = body;
            f->npa_bytes = len;
        } else if (!small_varints(body, len)) {
            return false; /* a value of two bytes or more */
        } else if (key >> 3 == 2 && !f->fault) {
            f->fault = body;
            f->nfault = len;
        } else if (key >> 3 == 3 && !f->region) {
            f->region = body;
            f->nregion = len;
        } else {
            return false; /* walks, or a repeated field */
        }
    }
    f->kind = ARMMAP_REPLY_TRANSLATE;
    return true;
}

/* Decodes a Response frame's body into @f; false: use the general path. */
static bool fast_decode(struct fast_reply *f, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n, *body;
    bool have_body = false, ok;
    uint64_t key;
    size_t len;

    memset(f, 0, sizeof(*f));
    while (p < end) {
        if (!wire_get_varint5(&p, end, &key))
            return false;
        if (key == (1 << 3 | 0)) {
            if (!wire_get_varint(&p, end, &f->id))
                return false;
            continue;
        }
        if ((key & 7) != 2 || !fast_len(&p, end, &body, &len))
            return false;
        if (key >> 3 == 2) {
            if (!fast_status_ok(body, len))
                return false;
            continue;
        }
        if (have_body)
            return false;
        have_body = true;
        if (key >> 3 == ARMMAP__V1__RESPONSE__BODY_PONG && len == 0) {
            f->kind = ARMMAP_REPLY_PONG;
            ok = true;
        } else if (key >> 3 == ARMMAP__V1__RESPONSE__BODY_OP)
            ok = fast_op(f, body, len);
        else if (key >> 3 == ARMMAP__V1__RESPONSE__BODY_TRANSLATE)
            ok = fast_translate(f, body, len);
        else
            ok = false;
        if (!ok)
            return false;
    }
    return have_body;
}

/* A reply from @f: one block for the reply, one for a translation.
 * NULL when host memory ran out or the arrays disagree in length (the
 * general path then says which). */
static struct armmap_reply *fast_reply_make(const struct fast_reply *f)
{
    struct armmap_reply *r = malloc(sizeof(*r));
    size_t n = f->npa_bytes / 4, i;
    struct armmap_translate_result *t;

    if (!r)
        return NULL;
    r->id = f->id;
    r->status = ARMMAP_OK;
    r->msg[0] = '\0';
    r->kind = f->kind;
    r->op.status = ARMMAP_OK;
    r->op.value = f->value;
    r->op.aux = f->aux;
    r->op.flags = f->flags;
    r->op.seq = f->seq;
    r->op.msg[0] = '\0';
    r->nbatch = 0;
    r->batch = NULL;
    r->translate = NULL;
    if (f->kind != ARMMAP_REPLY_TRANSLATE)
        return r;
    if ((f->nfault && f->nfault != n) || (f->nregion && f->nregion != n) ||
        !(t = armmap__result_block(n, false))) {
        free(r);
        return NULL;
    }
    for (i = 0; i < n; i++)
        t->pa[i] = (uint32_t)f->pa[4 * i] | (uint32_t)f->pa[4 * i + 1] << 8 |
                   (uint32_t)f->pa[4 * i + 2] << 16 |
                   (uint32_t)f->pa[4 * i + 3] << 24;
    if (f->nfault)
        memcpy(t->fault, f->fault, n);
    if (f->nregion)
        memcpy(t->region, f->region, n);
    r->translate = t;
    return r;
}

struct armmap_reply *armmap__reply_fast(const uint8_t *body, size_t len)
{
    struct fast_reply f;

    return fast_decode(&f, body, len) ? fast_reply_make(&f) : NULL;
}

/* The general path: the reply unpacked by the envelope codec. */
static enum armmap_status reply_general(struct armmap_conn *conn,
                                        Armmap__V1__Response *resp,
                                        struct armmap_reply **out)
{
    struct armmap_reply *r;

    armmap__resend_moved(conn, &resp);
    armmap__kept_drop(conn, resp->id);
    r = calloc(1, sizeof(*r));
    if (!r || !reply_from(conn, r, resp)) {
        armmap_reply_free(r);
        armmap__v1__response__free_unpacked(resp, NULL);
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    }
    armmap__v1__response__free_unpacked(resp, NULL);
    *out = r;
    return ARMMAP_OK;
}

enum armmap_status armmap_recv(struct armmap_conn *conn,
                               struct armmap_reply **out)
{
    Armmap__V1__Response *resp;
    enum armmap_status st;
    const uint8_t *body;
    size_t len = 0;
    int i;

    *out = NULL;
    st = armmap__next_raw(conn, &body, &len);
    /* A lost connection whose requests may all go again: they do. */
    for (i = 0; st != ARMMAP_OK && i < RESUMES &&
                (st = armmap__pipeline_resume(conn, st)) == ARMMAP_OK;
         i++)
        st = armmap__next_raw(conn, &body, &len);
    if (st != ARMMAP_OK)
        return st;
    if (!body) { /* replies stashed by an earlier wait */
        st = armmap__next(conn, &resp);
        return st == ARMMAP_OK ? reply_general(conn, resp, out) : st;
    }
    if ((*out = armmap__reply_fast(body, len)) != NULL) {
        armmap__kept_drop(conn, (*out)->id);
        conn->errmsg[0] = '\0';
        return ARMMAP_OK;
    }
    resp = envelope_response_unpack(len, body);
    if (!resp)
        return armmap__fail(conn, ARMMAP_PROTOCOL,
                            "malformed reply frame of %zu bytes", len);
    return reply_general(conn, resp, out);
}


/* ---- streaming translation -------------------------------------------- */

struct chunk {
    uint64_t id;
    size_t n;
    uint32_t *va; /* STREAM chunk-sized buffer */
};

struct stream {
    struct armmap_conn *conn;
    uint64_t machine;
    unsigned access;
    size_t chunk;
    unsigned window;
    struct chunk ring[STREAM_WINDOW];
    unsigned head, count; /* oldest chunk in flight, how many */
    uint8_t *narrow;      /* 2 * chunk: a reply's faults, then its
                             regions, as the sink's bytes */
};

/* Takes the replies still in flight, so the connection stays usable. */
static void drain(struct stream *s)
{
    Armmap__V1__Response *resp;

    while (s->count > 0) {
        if (armmap__wait(s->conn, s->ring[s->head].id, &resp) == ARMMAP_OK)
            armmap__v1__response__free_unpacked(resp, NULL);
        s->head = (s->head + 1) % s->window;
        s->count--;
    }
}

/* @n enum values (faults or regions) at @v, of which @have were sent
 * (0: the field was left out, all zero), as bytes at @out.  Every named
 * value fits a byte (proto/names.h). */
static void narrow(uint8_t *out, const void *v, size_t have, size_t n)
{
    const uint32_t *e = v;
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = i < have ? (uint8_t)e[i] : 0;
}

/* Reads the oldest chunk's reply and gives it to @sink. */
static enum armmap_status deliver(struct stream *s,
                                  bool (*sink)(void *arg, const uint32_t *va,
                                               const uint32_t *pa,
                                               const uint8_t *fault,
                                               const uint8_t *region, size_t n),
                                  void *arg)
{
    struct chunk *c = &s->ring[s->head];
    const Armmap__V1__TranslateResult *tr;
    Armmap__V1__Response *resp;
    enum armmap_status st;
    char msg[ARMMAP_ERR_MAX];
    bool go;

    st = armmap__wait(s->conn, c->id, &resp);
    if (st != ARMMAP_OK)
        return st;
    s->head = (s->head + 1) % s->window;
    s->count--;
    st = armmap__reply_status(s->conn, resp);
    if (st == ARMMAP_OK &&
        resp->body_case != ARMMAP__V1__RESPONSE__BODY_TRANSLATE)
        st = armmap__fail(s->conn, ARMMAP_PROTOCOL,
                          "translate answered with body %d",
                          (int)resp->body_case);
    tr = resp->translate;
    if (st == ARMMAP_OK &&
        (tr->n_pa != c->n || (tr->n_fault && tr->n_fault != c->n) ||
         (tr->n_region && tr->n_region != c->n)))
        st = armmap__fail(s->conn, ARMMAP_PROTOCOL,
                          "translate of %zu addresses answered with %zu", c->n,
                          tr->n_pa);
    if (st != ARMMAP_OK) {
        armmap__v1__response__free_unpacked(resp, NULL);
        snprintf(msg, sizeof(msg), "%s", s->conn->errmsg);
        if (!s->conn->dead)
            drain(s);
        snprintf(s->conn->errmsg, sizeof(s->conn->errmsg), "%s", msg);
        return st;
    }
    narrow(s->narrow, tr->fault, tr->n_fault, c->n);
    narrow(s->narrow + s->chunk, tr->region, tr->n_region, c->n);
    go = sink(arg, c->va, tr->pa, s->narrow, s->narrow + s->chunk, c->n);
    armmap__v1__response__free_unpacked(resp, NULL);
    if (!go) {
        drain(s);
        return armmap__fail(s->conn, ARMMAP_CANCELLED,
                            "stopped by the result callback");
    }
    return ARMMAP_OK;
}

/* Asks @source for the next chunk and queues it; *@eof at the end. */
static enum armmap_status send_chunk(struct stream *s,
                                     long (*source)(void *arg, uint32_t *va,
                                                    size_t max),
                                     void *arg, bool *eof)
{
    struct chunk *c = &s->ring[(s->head + s->count) % s->window];
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    enum armmap_status st;
    long n;

    n = source(arg, c->va, s->chunk);
    if (n < 0) {
        drain(s);
        return armmap__fail(s->conn, ARMMAP_CANCELLED,
                            "stopped by the address source");
    }
    if (n == 0) {
        *eof = true;
        return ARMMAP_OK;
    }
    c->n = (size_t)n > s->chunk ? s->chunk : (size_t)n;
    t.machine = s->machine;
    t.n_va = c->n;
    t.va = c->va;
    t.access = s->access;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    st = armmap__queue(s->conn, &req, true, &c->id);
    if (st != ARMMAP_OK)
        return st;
    s->count++;
    return armmap__flush_some(s->conn);
}

static void stream_fini(struct stream *s)
{
    unsigned i;

    for (i = 0; i < STREAM_WINDOW; i++)
        free(s->ring[i].va);
    free(s->narrow);
}

enum armmap_status armmap_translate_stream(
    struct armmap_conn *conn, uint64_t machine, unsigned access, size_t chunk,
    long (*source)(void *arg, uint32_t *va, size_t max),
    bool (*sink)(void *arg, const uint32_t *va, const uint32_t *pa,
                 const uint8_t *fault, const uint8_t *region, size_t n),
    void *arg)
{
    struct stream s;
    enum armmap_status st = ARMMAP_OK;
    bool eof = false;
    unsigned i;

    memset(&s, 0, sizeof(s));
    s.conn = conn;
    s.machine = machine;
    s.access = access;
    s.chunk = chunk ? chunk : STREAM_CHUNK;
    s.window = conn->max_inflight < STREAM_WINDOW ? conn->max_inflight
                                                  : STREAM_WINDOW;
    if (s.window == 0)
        s.window = 1;
    s.narrow = calloc(s.chunk, 2);
    for (i = 0; i < s.window; i++) {
        s.ring[i].va = malloc(s.chunk * sizeof(uint32_t));
        if (!s.ring[i].va)
            break;
    }
    if (!s.narrow || i < s.window) {
        stream_fini(&s);
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    }
    while (st == ARMMAP_OK && (!eof || s.count > 0)) {
        while (st == ARMMAP_OK && !eof && s.count < s.window)
            st = send_chunk(&s, source, arg, &eof);
        if (st == ARMMAP_OK && s.count > 0)
            st = deliver(&s, sink, arg);
    }
    stream_fini(&s);
    if (st == ARMMAP_OK)
        conn->errmsg[0] = '\0';
    return st;
}
