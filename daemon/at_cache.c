/* daemon/at_cache.c - GET /api/v1/machines/{id}/at/{seq}/...: reads of a
 * machine as it was at a past seq.
 *
 * A page that scrubs through a machine's history asks for seq after seq,
 * usually near each other.  The state at (machine, seq) is rebuilt from
 * the store, never from the live machine: from a kept state of the same
 * machine a little before (its clone, then the events in between), else as
 * recovery does (srv_persist_replay(): the nearest checkpoint at or below
 * seq, then the events after it; seq 0 is the machine freshly booted from
 * its config).  So one rebuild replays at most about --checkpoint-every
 * events, on the loop.  States are kept in a small LRU cache bounded by
 * count (--http-at-cache) and host bytes (--http-at-cache-bytes); they are
 * no machines: no id, no tenant quota, never listed, gone at exit.
 *
 * The reads themselves are the protobuf path's: a translate or phys is
 * produced by stream.c (srv_stream_translate(), srv_stream_phys()) and a
 * report by mm_report(), as dispatch.c does, into a Response that
 * srv_http_render() turns into the same JSON as the live routes give.
 */
#include "srv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "armmap.pb-c.h"

struct at_entry {
    uint64_t id; /* the store's machine id */
    uint64_t seq;
    struct mm_machine *m;
    size_t bytes;                 /* mm_host_bytes() */
    struct at_entry *prev, *next; /* most recently used first */
};

struct srv_at {
    struct at_entry *head, *tail;
    size_t n;
    uint64_t bytes;
    struct mm_machine *spare; /* the last state too big to keep */
};

/* Takes @e, which is on @x's list, off it: the head is the entry with no
 * prev, the tail the one with no next. */
static void unlink_entry(struct srv_at *x, struct at_entry *e)
{
    if (x->head == e)
        x->head = e->next;
    else
        e->prev->next = e->next;
    if (x->tail == e)
        x->tail = e->prev;
    else
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
    x->n--;
    x->bytes -= e->bytes;
}

static void push_front(struct srv_at *x, struct at_entry *e)
{
    e->prev = NULL;
    e->next = x->head;
    if (x->head != NULL)
        x->head->prev = e;
    else
        x->tail = e;
    x->head = e;
    x->n++;
    x->bytes += e->bytes;
}

static void entry_free(struct at_entry *e)
{
    mm_destroy(e->m);
    free(e);
}

/* The kept state of @id to start from for @seq: the latest one before
 * @seq, at or after the machine's own first event and the checkpoint a
 * replay would start from; NULL if none is that close. */
static struct at_entry *base_for(struct srv *s, const struct srv_machine *sm,
                                 uint64_t seq)
{
    uint64_t every = s->st->checkpoint_every;
    uint64_t floor = every != 0 ? seq / every * every : 0;
    struct at_entry *e, *best = NULL;

    for (e = s->at->head; e != NULL; e = e->next) {
        if (e->id == sm->id && e->seq < seq && e->seq >= sm->parent_seq &&
            e->seq >= floor && (best == NULL || e->seq > best->seq))
            best = e;
    }
    return best;
}

/* Rebuilds @sm's state at @seq into *@out.  Return: as the replay. */
static enum mm_status rebuild(struct srv *s, struct srv_machine *sm,
                              uint64_t seq, struct mm_machine **out, char *err,
                              size_t errsz)
{
    struct at_entry *base = base_for(s, sm, seq);
    struct mm_machine *m = NULL;
    struct mm_config cfg;
    char emsg[MM_MSG_MAX];
    enum mm_status st;

    if (base != NULL) {
        m = mm_clone(base->m);
        if (m == NULL) {
            snprintf(err, errsz, "at: out of host memory");
            return MM_NO_MEMORY;
        }
        st = srv_persist_replay_after(s, sm->id, base->seq, seq, m, err, errsz);
    } else {
        mm_config_default(&cfg);
        st = mm_config_parse(&cfg, sm->config, emsg);
        if (st == MM_OK)
            st = srv_boot(&cfg, &m, emsg);
        if (st != MM_OK)
            snprintf(err, errsz, "at: config of machine %" PRIu64 ": %s",
                     sm->ext_id, emsg);
        else if (seq > 0)
            st = srv_persist_replay(s, sm->id, seq, &m, err, errsz);
    }
    if (st != MM_OK) {
        mm_destroy(m);
        return st;
    }
    *out = m;
    return MM_OK;
}

/* Drops least recently used states until the cache is within its bounds. */
static void trim(struct srv *s)
{
    struct srv_at *x = s->at;

    while (x->tail != NULL && (x->n > s->st->http_at_cache ||
                               x->bytes > s->st->http_at_cache_bytes)) {
        struct at_entry *e = x->tail;

        unlink_entry(x, e);
        entry_free(e);
    }
}

/* @sm's state at @seq, borrowed until the next call. */
static enum mm_status at_get(struct srv *s, struct srv_machine *sm,
                             uint64_t seq, struct mm_machine **out, char *err,
                             size_t errsz)
{
    struct srv_at *x = s->at;
    struct at_entry *e;
    enum mm_status st;

    mm_destroy(x->spare);
    x->spare = NULL;
    for (e = x->head; e != NULL; e = e->next) {
        if (e->id == sm->id && e->seq == seq) {
            unlink_entry(x, e);
            push_front(x, e);
            *out = e->m;
            return MM_OK;
        }
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errsz, "at: out of host memory");
        return MM_NO_MEMORY;
    }
    st = rebuild(s, sm, seq, &e->m, err, errsz);
    if (st != MM_OK) {
        free(e);
        return st;
    }
    e->id = sm->id;
    e->seq = seq;
    e->bytes = mm_host_bytes(e->m);
    *out = e->m;
    if (e->bytes > s->st->http_at_cache_bytes) {
        x->spare = e->m; /* served once, not kept */
        free(e);
        return MM_OK;
    }
    push_front(x, e);
    trim(s);
    return MM_OK;
}

/* Runs @st (a translate or phys stream) to its end and decodes the
 * Response it framed.  NULL without host memory. */
static Armmap__V1__Response *run_stream(struct srv_stream *st)
{
    struct evbuffer *b = evbuffer_new();
    Armmap__V1__Response *r = NULL;
    size_t len;

    if (st == NULL || b == NULL)
        goto out;
    while (!srv_stream_size(st))
        ;
    while (!srv_stream_emit(st, b, 1u << 20))
        ;
    len = evbuffer_get_length(b);
    if (len >= 4)
        r = armmap__v1__response__unpack(NULL, len - 4,
                                         evbuffer_pullup(b, -1) + 4);
out:
    srv_stream_free(st);
    if (b != NULL)
        evbuffer_free(b);
    return r;
}

static char *fail_body(int code, const char *msg, int *status,
                       const char **ctype)
{
    *status = srv_http_status(code);
    *ctype = "application/json";
    return srv_http_error_json(code, msg);
}

/* A report of @m, rendered as the live route renders it. */
static char *report(const struct srv_http_call *hc, struct mm_machine *m,
                    bool want_text, int *status, const char **ctype)
{
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    Armmap__V1__ReportResult rr = ARMMAP__V1__REPORT_RESULT__INIT;
    struct mm_buf buf;
    enum mm_status st;
    char *body;

    memset(&buf, 0, sizeof(buf));
    st = mm_report(m, (enum mm_report)hc->report_kind, &buf);
    if (st != MM_OK || buf.data == NULL) {
        body = fail_body(st != MM_OK ? (int)st : MM_INTERNAL,
                         "report: the report could not be made", status, ctype);
        mm_buf_free(&buf);
        return body;
    }
    rr.text = strndup(buf.data, buf.len);
    mm_buf_free(&buf);
    if (rr.text == NULL)
        return fail_body(MM_NO_MEMORY, "report: out of host memory", status,
                         ctype);
    resp.body_case = ARMMAP__V1__RESPONSE__BODY_REPORT;
    resp.report = &rr;
    body = srv_http_render(hc, &resp, want_text, status, ctype);
    free(rr.text);
    return body;
}

char *srv_at_answer(struct srv *s, struct srv_machine *sm,
                    const struct srv_http_call *hc, bool want_text, int *status,
                    const char **ctype)
{
    Armmap__V1__Response *r;
    Armmap__V1__TranslateResult *tr;
    struct mm_machine *m;
    char err[SRV_MSG_MAX];
    enum mm_status st;
    size_t walks;
    char *body;

    if (hc->at_seq > sm->committed_seq) {
        snprintf(err, sizeof(err),
                 "at: machine %" PRIu64 " has no seq %" PRIu64
                 " (its last is %" PRIu64 ")",
                 sm->ext_id, hc->at_seq, sm->committed_seq);
        return fail_body(MM_NOT_FOUND, err, status, ctype);
    }
    if (hc->shape != SRV_HTTP_REPORT &&
        hc->n_addr > s->st->max_translate_batch) {
        snprintf(err, sizeof(err),
                 "%s: %zu addresses exceed "
                 "--max-translate-batch (%" PRIu64 ")",
                 hc->shape == SRV_HTTP_PHYS ? "phys" : "translate", hc->n_addr,
                 s->st->max_translate_batch);
        return fail_body(MM_RESOURCE_EXHAUSTED, err, status, ctype);
    }
    if (s->at == NULL && (s->at = calloc(1, sizeof(*s->at))) == NULL)
        return fail_body(MM_NO_MEMORY, "at: out of host memory", status, ctype);
    st = at_get(s, sm, hc->at_seq, &m, err, sizeof(err));
    if (st != MM_OK)
        return fail_body(st, err, status, ctype);
    if (hc->shape == SRV_HTTP_REPORT)
        return report(hc, m, want_text, status, ctype);
    r = run_stream(
        hc->shape == SRV_HTTP_PHYS
            ? srv_stream_phys_of(m, 2, hc->addr, hc->n_addr)
            : srv_stream_translate_of(m, 2, hc->addr, hc->n_addr, hc->access));
    if (r == NULL)
        return fail_body(MM_NO_MEMORY, "at: out of host memory", status, ctype);
    /* The stream always walks; the walks go out only if asked for.  The
     * body is a oneof: translate is only there when it is the case. */
    tr = r->body_case == ARMMAP__V1__RESPONSE__BODY_TRANSLATE ? r->translate
                                                              : NULL;
    walks = tr != NULL ? tr->n_walks : 0;
    if (tr != NULL && !hc->walk)
        tr->n_walks = 0;
    body = srv_http_render(hc, r, want_text, status, ctype);
    if (tr != NULL)
        tr->n_walks = walks;
    armmap__v1__response__free_unpacked(r, NULL);
    return body;
}

void srv_at_free(struct srv *s)
{
    struct srv_at *x = s->at;
    struct at_entry *e;

    if (x == NULL)
        return;
    while ((e = x->head) != NULL) {
        unlink_entry(x, e);
        entry_free(e);
    }
    mm_destroy(x->spare);
    free(x);
    s->at = NULL;
}
