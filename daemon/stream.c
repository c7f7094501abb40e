/* daemon/stream.c - large replies produced a slice at a time.
 *
 * A Translate with walks of a million addresses answers about 160 MB.
 * Built whole it would hold the loop for seconds and the memory for as
 * long as the peer takes to read it; here it is written as the socket
 * drains, a slice at a time (conn.c decides when), and never exists whole.
 *
 * The same holds for a Phys of a million addresses (seconds of reverse
 * lookups), and for a Dump (an ELF core of every page written: its size
 * is known from the start, and its bytes are read from the machine a
 * slice at a time, dump.c).  The frame is the one armmap__v1__response__pack() would
 * describe, coded by hand in pieces:
 *
 *   length (4 bytes, big-endian)
 *   Response { id = 1; status = 2 (empty: OK); translate = 18 {
 *       pa = 1 (packed fixed32), fault = 2, region = 3, walks = 4 ... } }
 *   or       { id = 1; status = 2; phys = 19 { aliases = 1 ... } }
 *
 * The length comes first, so the walks are counted before a byte is
 * written: a first pass walks every address and adds up the size of its
 * Walk (or Aliases) message, a slice per call (srv_stream_size()); the second pass
 * walks them again and writes them.  Both passes must read the same
 * state, so the stream reads its machine as it was when the request came:
 * the live machine as long as nothing changes it, and a copy made just
 * before the first change (srv_stream_detach_all(), called on every path
 * that changes or frees a machine).  Copying at once cost every stream
 * a full copy of its machine on the loop (the request's handler took
 * 44-68 ms on the bench machine with the copy and the fresh buffers,
 * make bench, fairness); most streams never need the copy.  The copy's
 * host bytes are reserved against the tenant's quota when the stream
 * starts (srv_stream_charge()), so making it later cannot pass the
 * quota.  Each pass costs what building the reply whole cost; the memory
 * held is the addresses, a slice, and the copy if one was made.
 */
#include "srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "armmap.pb-c.h"

#define SLICE_ADDRS   512u /* walks per sizing slice (~0.5 ms) */
#define TEXT_INLINE   512u /* walk text on the stack up to this */
#define WALK_ESTIMATE 160u /* a packed Walk, about: before sizing */

/* Field tags (field number << 3 | wire type 2, length-delimited). */
#define TAG_RESP_STATUS    0x12u          /* Response.status = 2 */
#define TAG_RESP_TRANSLATE (18u << 3 | 2) /* Response.translate = 18 */
#define TAG_RESP_PHYS      (19u << 3 | 2) /* Response.phys = 19 */
#define TAG_RESP_DUMP      (24u << 3 | 2) /* Response.dump = 24 */
#define TAG_DR_ELF         0x0au          /* DumpResult.elf = 1 */
#define TAG_RESP_HISTORY   (21u << 3 | 2) /* Response.history = 21 */
#define TAG_RESP_REPORT    (20u << 3 | 2) /* Response.report = 20 */
#define TAG_HR_EVENTS \
    0x0au                    /* HistoryResult.events = 1:
                                               first, so its other fields
                                               follow the events */
#define TAG_PR_ALIASES 0x0au /* PhysResult.aliases = 1 */
#define ALIAS_INLINE   64u   /* aliases on the stack */
#define ALIAS_ESTIMATE 16u   /* an Aliases entry, about */
#define TAG_TR_PA      0x0au /* TranslateResult.pa = 1 */
#define TAG_TR_FAULT   0x12u /* .fault = 2, packed enum */
#define TAG_TR_REGION \
    0x1au                  /* .region = 3, packed enum:
                                               every value < 128 is one
                                               varint byte (dispatch.c) */
#define TAG_TR_WALKS 0x22u /* .walks = 4 */

enum stream_phase {
    PH_SIZE = 0, /* counting the walks' bytes */
    PH_HEAD,     /* the frame's length and the envelope */
    PH_PA,
    PH_FAULT,
    PH_REGION,
    PH_ITEMS, /* walks, or aliases */
    PH_TAIL,  /* history: the fields after the events */
    PH_DONE
};

enum stream_kind {
    SK_TRANSLATE = 0, /* Translate with walks */
    SK_PHYS,          /* Phys */
    SK_DUMP,          /* Dump: the ELF file, read from st->dump */
    SK_HISTORY,       /* History: st->hr's events, packed in turn */
    SK_REPORT         /* Report: st->text[], written in turn */
};

struct srv_stream {
    enum stream_kind kind;
    const struct mm_machine *m; /* what the passes read */
    struct mm_machine *own;     /* our copy, once made */
    struct srv_machine *sm;     /* read live, not copied yet */
    struct srv_stream *snext;   /* sm->streams */
    uint64_t id;
    uint32_t *va;
    size_t cap; /* addresses va has room for */
    size_t n;
    unsigned access;
    enum stream_phase phase;
    size_t i;            /* next address of the phase */
    uint64_t item_bytes; /* walks or aliases, tags included */
    uint64_t total;      /* the frame, once sized */
    uint64_t written;
    struct srv_registry *reg; /* charged for the copy, or NULL */
    char tenant[SRV_TENANT_MAX + 1];
    uint64_t charged;                    /* host bytes of the copy */
    struct srv_dump *dump;               /* SK_DUMP: the file being read */
    const Armmap__V1__HistoryResult *hr; /* SK_HISTORY: the rows */
    uint8_t *tail;                       /* hr's other fields, packed */
    size_t tail_len;
    struct mm_buf text[2];   /* SK_REPORT: ReportResult.text,
                                           .json (taken) */
    size_t tpos;             /* what of text[i] is written */
    void (*release)(void *); /* frees what holds hr */
    void *release_arg;
};

static size_t varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* A tag, then a length: the head of a length-delimited field. */
static size_t field_head(uint8_t *p, unsigned tag, uint64_t len)
{
    size_t n = varint_put(p, tag);

    return n + varint_put(p + n, len);
}

/* The bytes of TranslateResult or PhysResult (known once the walks or
 * aliases are counted). */
static uint64_t result_len(const struct srv_stream *st)
{
    uint64_t n = st->n;

    if (st->kind == SK_DUMP)
        return 1 + varint_len(st->item_bytes) + st->item_bytes;
    if (st->kind == SK_PHYS)
        return st->item_bytes;
    if (st->kind == SK_HISTORY)
        return st->item_bytes + st->tail_len;
    if (st->kind == SK_REPORT)
        return st->item_bytes;
    return 1 + varint_len(4 * n) + 4 * n + 2 * (1 + varint_len(n) + n) +
           st->item_bytes;
}

static unsigned result_tag(const struct srv_stream *st)
{
    if (st->kind == SK_DUMP)
        return TAG_RESP_DUMP;
    if (st->kind == SK_HISTORY)
        return TAG_RESP_HISTORY;
    if (st->kind == SK_REPORT)
        return TAG_RESP_REPORT;
    return st->kind == SK_PHYS ? TAG_RESP_PHYS : TAG_RESP_TRANSLATE;
}

static uint64_t response_len(const struct srv_stream *st)
{
    uint64_t r = result_len(st);

    return (st->id != 0 ? 1 + varint_len(st->id) : 0) + 2 +
           varint_len(result_tag(st)) + varint_len(r) + r;
}

/* The largest address array of a finished stream is kept for the next
 * (up to KEEP_ADDRS): its pages are then resident, where a fresh 4 MiB
 * array faults them in one by one (most of the cost of starting a
 * 1M-address stream in a VM).  Loop thread only. */
#define KEEP_ADDRS (2u << 20)

static uint32_t *kept_va;
static size_t kept_cap;

static uint32_t *addrs_take(size_t n, size_t *cap)
{
    uint32_t *v;

    if (kept_va != NULL && n <= kept_cap) {
        v = kept_va;
        *cap = kept_cap;
        kept_va = NULL;
        kept_cap = 0;
        return v;
    }
    *cap = n;
    return malloc(n * sizeof(*v));
}

static void addrs_give(uint32_t *v, size_t cap)
{
    if (v != NULL && cap <= KEEP_ADDRS && cap > kept_cap) {
        free(kept_va);
        kept_va = v;
        kept_cap = cap;
    } else {
        free(v);
    }
}

static struct srv_stream *stream_new(enum stream_kind kind,
                                     struct srv_machine *sm, uint64_t id,
                                     const uint32_t *va, size_t n,
                                     unsigned access)
{
    struct srv_stream *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return NULL;
    st->va = addrs_take(n + 1, &st->cap);
    if (st->va == NULL) {
        free(st);
        return NULL;
    }
    if (n != 0)
        memcpy(st->va, va, n * sizeof(*va));
    st->n = n;
    st->id = id;
    st->access = access;
    st->phase = PH_SIZE;
    st->kind = kind;
    if (sm == NULL)
        return st; /* srv_stream_*_of(): st->m set by caller */
    st->m = sm->m;
    st->sm = sm;
    st->snext = sm->streams;
    sm->streams = st;
    return st;
}

/* A stream over @m that belongs to no registered machine (a past state
 * from the at-cache): @m must not change or be freed until
 * srv_stream_free(). */
static struct srv_stream *stream_of(enum stream_kind kind,
                                    const struct mm_machine *m, uint64_t id,
                                    const uint32_t *va, size_t n,
                                    unsigned access)
{
    struct srv_stream *st = stream_new(kind, NULL, id, va, n, access);

    if (st != NULL)
        st->m = m;
    return st;
}

struct srv_stream *srv_stream_translate_of(const struct mm_machine *m,
                                           uint64_t id, const uint32_t *va,
                                           size_t n, unsigned access)
{
    return stream_of(SK_TRANSLATE, m, id, va, n, access);
}

struct srv_stream *srv_stream_phys_of(const struct mm_machine *m, uint64_t id,
                                      const uint32_t *pa, size_t n)
{
    return stream_of(SK_PHYS, m, id, pa, n, 0);
}

struct srv_stream *srv_stream_translate(struct srv_machine *sm, uint64_t id,
                                        const uint32_t *va, size_t n,
                                        unsigned access)
{
    return stream_new(SK_TRANSLATE, sm, id, va, n, access);
}

struct srv_stream *srv_stream_phys(struct srv_machine *sm, uint64_t id,
                                   const uint32_t *pa, size_t n)
{
    return stream_new(SK_PHYS, sm, id, pa, n, 0);
}

struct srv_stream *srv_stream_dump(struct srv_machine *sm, uint64_t id)
{
    struct srv_stream *st = stream_new(SK_DUMP, sm, id, NULL, 0, 0);

    if (st == NULL)
        return NULL;
    if (srv_dump_open(st->m, &st->dump) != MM_OK) {
        srv_stream_free(st);
        return NULL;
    }
    st->item_bytes = srv_dump_len(st->dump); /* the elf field's data */
    st->total = 4 + response_len(st);
    st->phase = PH_HEAD; /* sized from the start */
    return st;
}

struct srv_stream *srv_stream_history(uint64_t id,
                                      const Armmap__V1__HistoryResult *hr,
                                      void (*release)(void *), void *arg)
{
    struct srv_stream *st = stream_new(SK_HISTORY, NULL, id, NULL, 0, 0);
    Armmap__V1__HistoryResult rest;

    if (st == NULL)
        return NULL;
    rest = *hr;
    rest.n_events = 0;
    rest.events = NULL;
    st->tail_len = armmap__v1__history_result__get_packed_size(&rest);
    st->tail = malloc(st->tail_len + 1);
    if (st->tail == NULL) {
        srv_stream_free(st);
        return NULL;
    }
    armmap__v1__history_result__pack(&rest, st->tail);
    st->hr = hr;
    st->n = hr->n_events;
    st->release = release;
    st->release_arg = arg;
    return st;
}

struct srv_stream *srv_stream_report(uint64_t id, struct mm_buf *text,
                                     struct mm_buf *json)
{
    struct srv_stream *st = stream_new(SK_REPORT, NULL, id, NULL, 0, 0);
    unsigned k;

    if (st == NULL)
        return NULL;
    st->text[0] = *text;
    st->text[1] = *json;
    memset(text, 0, sizeof(*text));
    memset(json, 0, sizeof(*json));
    for (k = 0; k < 2; k++) { /* proto3: "" is not written */
        if (st->text[k].len != 0)
            st->item_bytes += 1 + varint_len(st->text[k].len) + st->text[k].len;
    }
    st->total = 4 + response_len(st);
    st->phase = PH_HEAD; /* sized from the start */
    return st;
}

/* Takes @st off its machine's list (it no longer reads the machine). */
static void stream_unlink(struct srv_stream *st)
{
    struct srv_stream **pp;

    if (st->sm == NULL)
        return;
    for (pp = &st->sm->streams; *pp != NULL; pp = &(*pp)->snext) {
        if (*pp == st) {
            *pp = st->snext;
            break;
        }
    }
    st->sm = NULL;
    st->snext = NULL;
}

void srv_stream_detach_all(struct srv_machine *sm)
{
    struct srv_stream *st;

    while ((st = sm->streams) != NULL) {
        sm->streams = st->snext;
        st->snext = NULL;
        st->sm = NULL;
        st->own = mm_clone(st->m);
        if (st->own == NULL)
            abort(); /* host memory, as zmalloc does */
        st->m = st->own;
        if (st->dump != NULL)
            srv_dump_rebind(st->dump, st->m);
    }
}

void srv_stream_charge(struct srv_stream *st, struct srv_registry *r,
                       const char *tenant)
{
    st->reg = r;
    snprintf(st->tenant, sizeof(st->tenant), "%s", tenant);
    st->charged = mm_host_bytes(st->m); /* the copy it may make */
    srv_registry_hold_bytes(r, tenant, st->charged, 0);
}

void srv_stream_free(struct srv_stream *st)
{
    if (st == NULL)
        return;
    if (st->reg != NULL)
        srv_registry_hold_bytes(st->reg, st->tenant, 0, st->charged);
    stream_unlink(st);
    srv_dump_close(st->dump);
    free(st->tail);
    mm_buf_free(&st->text[0]);
    mm_buf_free(&st->text[1]);
    if (st->release != NULL)
        st->release(st->release_arg);
    if (st->own != NULL)
        mm_destroy(st->own);
    addrs_give(st->va, st->cap);
    free(st);
}

uint64_t srv_stream_left(const struct srv_stream *st)
{
    if (st->phase == PH_SIZE)
        return 4 + (uint64_t)st->n * (st->kind == SK_PHYS ? ALIAS_ESTIMATE
                                                          : WALK_ESTIMATE + 6);
    return st->total - st->written;
}

/* One address's Walk message, built on the stack. */
struct walk_msg {
    Armmap__V1__Walk wm;
    Armmap__V1__WalkStep steps[2], *ptrs[2];
    char small[TEXT_INLINE], *text;
};

/* Walks address @i into @m; walk_done() frees what it may have taken. */
static void walk_build(const struct srv_stream *st, size_t i,
                       struct walk_msg *m)
{
    struct mm_walk w;
    size_t tlen;

    memset(&w, 0, sizeof(w));
    mm_translate(st->m, st->va[i], st->access, &w);
    tlen = mm_walk_format(&w, NULL, 0);
    m->text = m->small;
    if (tlen >= sizeof(m->small)) {
        m->text = malloc(tlen + 1);
        if (m->text == NULL)
            abort(); /* host memory, as zmalloc does */
    }
    mm_walk_format(&w, m->text, tlen + 1);
    srv_walk_fill(&m->wm, m->steps, m->ptrs, &w, m->text);
}

static void walk_done(struct walk_msg *m)
{
    if (m->text != m->small)
        free(m->text);
}

/* One physical address's Aliases message, built on the stack. */
struct alias_msg {
    Armmap__V1__PhysResult__Aliases am;
    struct mm_alias small[ALIAS_INLINE], *v;
    uint32_t va[ALIAS_INLINE], *vap;
    Armmap__V1__Region region[ALIAS_INLINE], *regp;
};

static void alias_build(const struct srv_stream *st, size_t i,
                        struct alias_msg *m)
{
    size_t n = mm_phys_aliases(st->m, st->va[i], m->small, ALIAS_INLINE), k;

    m->v = m->small;
    m->vap = m->va;
    m->regp = m->region;
    if (n > ALIAS_INLINE) {
        m->v = malloc(n * sizeof(*m->v));
        m->vap = malloc(n * sizeof(*m->vap));
        m->regp = malloc(n * sizeof(*m->regp));
        if (m->v == NULL || m->vap == NULL || m->regp == NULL)
            abort(); /* host memory */
        n = mm_phys_aliases(st->m, st->va[i], m->v, n);
    }
    armmap__v1__phys_result__aliases__init(&m->am);
    for (k = 0; k < n; k++) {
        m->vap[k] = m->v[k].va;
        m->regp[k] = (Armmap__V1__Region)m->v[k].region;
    }
    m->am.n_va = m->am.n_region = n;
    m->am.va = m->vap;
    m->am.region = m->regp;
}

static void alias_done(struct alias_msg *m)
{
    if (m->v != m->small) {
        free(m->v);
        free(m->vap);
        free(m->regp);
    }
}

/* Item @i: a Walk (translate) or an Aliases (phys) message. */
struct item {
    union {
        struct walk_msg w;
        struct alias_msg a;
    } u;
};

/* History event @i: built already (the rows st->hr holds). */
static size_t item_build_event(const struct srv_stream *st, size_t i)
{
    return armmap__v1__event__get_packed_size(st->hr->events[i]);
}

/* Builds item @i into @it; returns its packed size. */
static size_t item_build(const struct srv_stream *st, size_t i, struct item *it)
{
    if (st->kind == SK_HISTORY)
        return item_build_event(st, i);
    if (st->kind == SK_PHYS) {
        alias_build(st, i, &it->u.a);
        return protobuf_c_message_get_packed_size(&it->u.a.am.base);
    }
    walk_build(st, i, &it->u.w);
    return armmap__v1__walk__get_packed_size(&it->u.w.wm);
}

static void item_pack(const struct srv_stream *st, struct item *it,
                      uint8_t *buf)
{
    if (st->kind == SK_HISTORY)
        armmap__v1__event__pack(st->hr->events[st->i], buf);
    else if (st->kind == SK_PHYS)
        protobuf_c_message_pack(&it->u.a.am.base, buf);
    else
        armmap__v1__walk__pack(&it->u.w.wm, buf);
}

static void item_done(const struct srv_stream *st, struct item *it)
{
    if (st->kind == SK_PHYS)
        alias_done(&it->u.a);
    else if (st->kind == SK_TRANSLATE)
        walk_done(&it->u.w);
}

bool srv_stream_size(struct srv_stream *st)
{
    size_t end = st->i + SLICE_ADDRS < st->n ? st->i + SLICE_ADDRS : st->n;

    if (st->phase != PH_SIZE)
        return true;
    for (; st->i < end; st->i++) {
        struct item it;
        size_t len = item_build(st, st->i, &it);

        item_done(st, &it);
        st->item_bytes += 1 + varint_len(len) + len;
    }
    if (st->i < st->n)
        return false;
    st->total = 4 + response_len(st);
    st->phase = PH_HEAD;
    st->i = 0;
    return true;
}

static void add(struct srv_stream *st, struct evbuffer *out, const void *p,
                size_t len)
{
    if (evbuffer_add(out, p, len) != 0)
        abort(); /* host memory, as elsewhere */
    st->written += len;
}

/* The frame's length, the envelope, and the head of the pa field.  A
 * reply past 4 GiB cannot be framed: it is answered RESOURCE_EXHAUSTED
 * instead (the stream then ends there). */
static void emit_head(struct srv_stream *st, struct evbuffer *out)
{
    uint64_t rlen = response_len(st);
    uint8_t h[64];
    size_t k = 4;

    if (rlen > UINT32_MAX) {
        char msg[SRV_MSG_MAX];
        uint8_t *frame;
        size_t flen;
        Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
        Armmap__V1__Status status = ARMMAP__V1__STATUS__INIT;

        if (st->kind == SK_DUMP)
            snprintf(msg, sizeof(msg),
                     "dump: a reply of %llu bytes, more "
                     "than a frame can hold",
                     (unsigned long long)rlen);
        else
            snprintf(msg, sizeof(msg),
                     "%s: %zu addresses make a reply of "
                     "%llu bytes, more than a frame can hold",
                     st->kind == SK_PHYS ? "phys" : "translate", st->n,
                     (unsigned long long)rlen);
        status.code = ARMMAP__V1__CODE__RESOURCE_EXHAUSTED;
        status.message = msg;
        resp.id = st->id;
        resp.status = &status;
        frame = srv_response_pack(&resp, &flen);
        add(st, out, frame, flen);
        free(frame);
        st->written = st->total;
        st->phase = PH_DONE;
        return;
    }
    h[0] = (uint8_t)(rlen >> 24);
    h[1] = (uint8_t)(rlen >> 16);
    h[2] = (uint8_t)(rlen >> 8);
    h[3] = (uint8_t)rlen;
    if (st->id != 0) {
        h[k++] = 0x08; /* Response.id = 1, varint */
        k += varint_put(h + k, st->id);
    }
    h[k++] = TAG_RESP_STATUS;
    h[k++] = 0; /* Status{}: OK, no message */
    k += field_head(h + k, result_tag(st), result_len(st));
    st->phase = st->kind == SK_HISTORY && st->n == 0 ? PH_TAIL : PH_ITEMS;
    if (st->kind == SK_DUMP)
        k += field_head(h + k, TAG_DR_ELF, st->item_bytes);
    if (st->kind == SK_TRANSLATE) {
        k += field_head(h + k, TAG_TR_PA, 4 * (uint64_t)st->n);
        st->phase = PH_PA;
    }
    add(st, out, h, k);
    st->i = 0;
}

/* Writes the next slice of the pa, fault or region field. */
static void emit_column(struct srv_stream *st, struct evbuffer *out)
{
    mm_paddr_t pa[SLICE_ADDRS];
    uint8_t fault[SLICE_ADDRS], bytes[4 * SLICE_ADDRS], h[16];
    size_t k = st->n - st->i < SLICE_ADDRS ? st->n - st->i : SLICE_ADDRS;
    size_t j;

    if (st->phase == PH_REGION) {
        for (j = 0; j < k; j++)
            bytes[j] = (uint8_t)mm_region_of(st->m, st->va[st->i + j]);
        add(st, out, bytes, k);
    } else {
        mm_translate_batch(st->m, st->va + st->i, k, st->access, pa, fault);
        if (st->phase == PH_FAULT) {
            add(st, out, fault, k);
        } else {
            for (j = 0; j < k; j++) { /* fixed32: little-endian */
                bytes[4 * j] = (uint8_t)pa[j];
                bytes[4 * j + 1] = (uint8_t)(pa[j] >> 8);
                bytes[4 * j + 2] = (uint8_t)(pa[j] >> 16);
                bytes[4 * j + 3] = (uint8_t)(pa[j] >> 24);
            }
            add(st, out, bytes, 4 * k);
        }
    }
    st->i += k;
    if (st->i < st->n)
        return;
    st->i = 0;
    if (st->phase == PH_PA) {
        st->phase = PH_FAULT;
        add(st, out, h, field_head(h, TAG_TR_FAULT, st->n));
    } else if (st->phase == PH_FAULT) {
        st->phase = PH_REGION;
        add(st, out, h, field_head(h, TAG_TR_REGION, st->n));
    } else {
        st->phase = PH_ITEMS;
    }
}

/* Writes the item of the next address, its tag and length first. */
static void emit_item(struct srv_stream *st, struct evbuffer *out)
{
    struct item it;
    struct evbuffer_iovec v;
    size_t len = item_build(st, st->i, &it), h;

    if (evbuffer_reserve_space(out, (ev_ssize_t)(len + 16), &v, 1) < 1 ||
        v.iov_len < len + 16)
        abort(); /* host memory */
    h = field_head(v.iov_base,
                   st->kind == SK_PHYS      ? TAG_PR_ALIASES
                   : st->kind == SK_HISTORY ? TAG_HR_EVENTS
                                            : TAG_TR_WALKS,
                   len);
    item_pack(st, &it, (uint8_t *)v.iov_base + h);
    item_done(st, &it);
    v.iov_len = h + len;
    if (evbuffer_commit_space(out, &v, 1) != 0)
        abort();
    st->written += h + len;
    if (++st->i == st->n)
        st->phase = st->kind == SK_HISTORY ? PH_TAIL : PH_DONE;
}

/* Writes the next bytes of the dump, up to @budget (at least one). */
static void emit_dump(struct srv_stream *st, struct evbuffer *out,
                      size_t budget)
{
    struct evbuffer_iovec v;
    size_t want = budget != 0 ? budget : 1, got;

    if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1 ||
        v.iov_len < want)
        abort(); /* host memory */
    got = srv_dump_read(st->dump, v.iov_base, want);
    v.iov_len = got;
    if (evbuffer_commit_space(out, &v, 1) != 0)
        abort();
    st->written += got;
    if (got < want || st->written == st->total)
        st->phase = PH_DONE;
}

/* Writes up to @budget bytes (at least one) of the report's fields: st->i
 * is the field (0 text, 1 json), st->tpos what of it is written,
 * its tag and length first. */
static void emit_report(struct srv_stream *st, struct evbuffer *out,
                        size_t budget)
{
    const struct mm_buf *b;
    uint8_t h[16];
    size_t k;

    while (st->i < 2 && st->text[st->i].len == 0)
        st->i++;
    if (st->i == 2) {
        st->phase = PH_DONE;
        return;
    }
    b = &st->text[st->i];
    if (st->tpos == 0)
        add(st, out, h, field_head(h, (unsigned)(0x0a + 8 * st->i), b->len));
    k = b->len - st->tpos < budget ? b->len - st->tpos : budget;
    if (k == 0)
        k = 1;
    add(st, out, b->data + st->tpos, k);
    st->tpos += k;
    if (st->tpos == b->len) {
        st->tpos = 0;
        st->i++;
    }
}

bool srv_stream_emit(struct srv_stream *st, struct evbuffer *out, size_t budget)
{
    uint64_t start = st->written;

    while (st->phase != PH_DONE && st->written - start < budget) {
        switch (st->phase) {
        case PH_SIZE:
            return false; /* not sized yet */
        case PH_HEAD:
            emit_head(st, out);
            break;
        case PH_PA:
        case PH_FAULT:
        case PH_REGION:
            emit_column(st, out);
            break;
        case PH_ITEMS:
            if (st->kind == SK_DUMP)
                emit_dump(st, out, (size_t)(budget - (st->written - start)));
            else if (st->kind == SK_REPORT)
                emit_report(st, out, (size_t)(budget - (st->written - start)));
            else
                emit_item(st, out);
            break;
        case PH_TAIL:
            add(st, out, st->tail, st->tail_len);
            st->phase = PH_DONE;
            break;
        case PH_DONE:
            break;
        }
    }
    return st->phase == PH_DONE;
}
