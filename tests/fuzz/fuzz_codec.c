/* tests/fuzz/fuzz_codec.c - proto/envelope.c against protobuf-c.
 *
 * proto/envelope.c, which armmapd and libarmmap both link, codes the
 * Request/Response envelope (and the Op, Translate, TranslateResult and
 * PhysResult bodies) by hand for speed and promises the very messages and
 * bytes protobuf-c gives.  This harness holds them to
 * it, differentially, on every input read as both a Request and a
 * Response:
 *
 *   1. envelope_request_unpack() and envelope_response_unpack() decode exactly
 *      what protobuf-c decodes (both fail, or both succeed and the two
 *      messages pack to the same bytes);
 *   2. what decodes, stripped of the unknown fields protobuf-c keeps,
 *      packs through envelope_response_pack() (framed by the daemon's
 *      srv_response_pack()) and envelope_request_pack() to exactly
 *      protobuf-c's bytes (the packers serve messages armmapd and
 *      libarmmap build themselves, which never have unknown fields, and
 *      leave them out);
 *   3. libarmmap's phys fast path (client/calls.c armmap__phys_fast(), a
 *      third hand decoder) accepts only what protobuf-c decodes as a
 *      successful phys reply to the same id, and gives the very result
 *      the general path (armmap__phys_from() on protobuf-c's message)
 *      gives.  Inputs protobuf-c rejects are tried as replies to id 0;
 *   4. libarmmap's pipeline fast path (client/pipeline.c
 *      armmap__reply_fast()) accepts only successful pongs, op results and
 *      translations protobuf-c decodes, and gives the very reply the
 *      general path (reply_from() there) makes of protobuf-c's message.
 *
 * Any difference aborts, naming the side that differs.
 */
#include "armmap_int.h"
#include "envelope.h"
#include "srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "armmap.pb-c.h"

/* A ProtobufCAllocator that remembers every block, so that what the hand
 * decoder leaves behind on failure (its arena owns it in the daemon) is
 * freed here too and LeakSanitizer stays quiet. */
struct tracked {
    void **blocks;
    size_t n, cap;
};

static void *tracked_alloc(void *data, size_t size)
{
    struct tracked *t = data;
    void *p;

    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        void **nb = realloc(t->blocks, ncap * sizeof(*nb));

        if (nb == NULL)
            abort();
        t->blocks = nb;
        t->cap = ncap;
    }
    p = malloc(size ? size : 1);
    if (p == NULL)
        abort();
    t->blocks[t->n++] = p;
    return p;
}

/* Blocks are freed all at once by tracked_release(). */
static void tracked_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

static void tracked_release(struct tracked *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        free(t->blocks[i]);
    free(t->blocks);
}

static void differ(const char *what, size_t len)
{
    fprintf(stderr, "fuzz_codec: %s differs from protobuf-c on a %zu-byte "
            "input\n", what, len);
    abort();
}

/* Packs @m with protobuf-c; malloc'ed. */
static uint8_t *generic_pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(m);
    buf = malloc(*len ? *len : 1);
    if (buf == NULL)
        abort();
    protobuf_c_message_pack(m, buf);
    return buf;
}

static bool same_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la, lb;
    uint8_t *pa = generic_pack(a, &la), *pb = generic_pack(b, &lb);
    bool same = la == lb && memcmp(pa, pb, la) == 0;

    free(pa);
    free(pb);
    return same;
}

/* Frees every unknown field protobuf-c kept in @m and its submessages. */
static void strip_unknown(ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    unsigned i;
    size_t j;

    for (i = 0; i < m->n_unknown_fields; i++)
        free(m->unknown_fields[i].data);
    free(m->unknown_fields);
    m->unknown_fields = NULL;
    m->n_unknown_fields = 0;
    for (i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *at = (char *)m + f->offset;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
            *(uint32_t *)((char *)m + f->quantifier_offset) != f->id)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *)((char *)m + f->quantifier_offset);

            for (j = 0; j < n; j++)
                strip_unknown((*(ProtobufCMessage ***)at)[j]);
        } else if (*(ProtobufCMessage **)at != NULL) {
            strip_unknown(*(ProtobufCMessage **)at);
        }
    }
}

static void check_request(const uint8_t *data, size_t size)
{
    struct tracked t = { NULL, 0, 0 };
    ProtobufCAllocator a = { tracked_alloc, tracked_free, &t };
    Armmap__V1__Request *want = armmap__v1__request__unpack(NULL, size, data);
    Armmap__V1__Request *got = envelope_request_unpack(&a, size, data);

    if ((want == NULL) != (got == NULL))
        differ(want ? "envelope_request_unpack (rejects)" :
                      "envelope_request_unpack (accepts)", size);
    if (want != NULL) {
        struct envelope_sizes z;
        size_t n, glen;
        uint8_t *mine, *theirs;

        if (!same_bytes(&want->base, &got->base))
            differ("envelope_request_unpack", size);
        strip_unknown(&want->base);
        n = envelope_request_size(want, &z);
        mine = malloc(n ? n : 1);
        if (mine == NULL)
            abort();
        envelope_request_pack(want, &z, mine);
        theirs = generic_pack(&want->base, &glen);
        if (n != glen || memcmp(mine, theirs, n) != 0)
            differ("envelope_request_pack", size);
        free(mine);
        free(theirs);
    }
    armmap__v1__request__free_unpacked(want, NULL);
    tracked_release(&t);
}

static void check_response(const uint8_t *data, size_t size)
{
    Armmap__V1__Response *want = armmap__v1__response__unpack(NULL, size,
                                                               data);
    Armmap__V1__Response *got = envelope_response_unpack(size, data);

    if ((want == NULL) != (got == NULL))
        differ(want ? "envelope_response_unpack (rejects)" :
                      "envelope_response_unpack (accepts)", size);
    if (want != NULL && !same_bytes(&want->base, &got->base))
        differ("envelope_response_unpack", size);
    if (want != NULL) {
        size_t flen, glen;
        uint8_t *frame, *theirs;

        strip_unknown(&want->base);
        frame = srv_response_pack(want, &flen);
        theirs = generic_pack(&want->base, &glen);
        if (flen != 4 + glen || memcmp(frame + 4, theirs, glen) != 0 ||
            frame[0] != (uint8_t)(glen >> 24) ||
            frame[1] != (uint8_t)(glen >> 16) ||
            frame[2] != (uint8_t)(glen >> 8) || frame[3] != (uint8_t)glen)
            differ("srv_response_pack", size);
        free(frame);
        free(theirs);
    }
    armmap__v1__response__free_unpacked(want, NULL);
    armmap__v1__response__free_unpacked(got, NULL);
}

/* Whether @a and @b hold the same aliases, item by item. */
static bool same_phys(const struct armmap_phys_result *a,
                      const struct armmap_phys_result *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const struct armmap_aliases *x = &a->items[i], *y = &b->items[i];

        if (x->n != y->n ||
            (x->n > 0 && (memcmp(x->va, y->va, x->n * sizeof(*x->va)) != 0 ||
                          memcmp(x->region, y->region, x->n) != 0)))
            return false;
    }
    return true;
}

static void check_phys_fast(const uint8_t *data, size_t size)
{
    Armmap__V1__Response *want = armmap__v1__response__unpack(NULL, size,
                                                               data);
    uint64_t id = want != NULL ? want->id : 0;
    struct armmap_phys_result *fast = NULL, *slow;

    if (!armmap__phys_fast(data, size, id, &fast)) {
        armmap__v1__response__free_unpacked(want, NULL);
        return;
    }
    if (fast == NULL)
        abort(); /* out of memory */
    if (want == NULL)
        differ("armmap__phys_fast (accepts)", size);
    if (want->body_case != ARMMAP__V1__RESPONSE__BODY_PHYS ||
        (want->status != NULL && (want->status->code != 0 ||
                                  want->status->message[0] != '\0')))
        differ("armmap__phys_fast (not a successful phys reply)", size);
    slow = armmap__phys_from(want->phys);
    if (slow == NULL)
        abort();
    if (!same_phys(fast, slow))
        differ("armmap__phys_fast (result)", size);
    armmap_phys_result_free(fast);
    armmap_phys_result_free(slow);
    armmap__v1__response__free_unpacked(want, NULL);
}

/* Whether a Status says OK and nothing else (or is absent). */
static bool status_ok(const Armmap__V1__Status *st)
{
    return st == NULL || (st->code == 0 && st->message[0] == '\0' &&
                          st->owner[0] == '\0');
}

/* Whether the fast path's translation @g is the general path's of @t:
 * the same addresses, and faults and regions (zero when absent) cut to a
 * byte as armmap__translate_from() cuts them. */
static bool same_translation(const struct armmap_translate_result *g,
                             const Armmap__V1__TranslateResult *t)
{
    if (g == NULL || g->walks != NULL || t->n_walks != 0 || g->n != t->n_pa ||
        (t->n_fault != 0 && t->n_fault != g->n) ||
        (t->n_region != 0 && t->n_region != g->n))
        return false;
    for (size_t i = 0; i < g->n; i++)
        if (g->pa[i] != t->pa[i] ||
            g->fault[i] != (t->n_fault ? (uint8_t)t->fault[i] : 0) ||
            g->region[i] != (t->n_region ? (uint8_t)t->region[i] : 0))
            return false;
    return true;
}

static bool same_reply(const struct armmap_reply *r,
                       const Armmap__V1__Response *want)
{
    const Armmap__V1__OpResult *op = want->op;

    if (r->id != want->id || r->status != ARMMAP_OK || r->msg[0] != '\0' ||
        !status_ok(want->status) || r->nbatch != 0 || r->batch != NULL)
        return false;
    switch (want->body_case) {
    case ARMMAP__V1__RESPONSE__BODY_PONG:
        return r->kind == ARMMAP_REPLY_PONG && r->translate == NULL;
    case ARMMAP__V1__RESPONSE__BODY_OP:
        return r->kind == ARMMAP_REPLY_OP && r->translate == NULL &&
               status_ok(op->status) && r->op.status == ARMMAP_OK &&
               r->op.msg[0] == '\0' && r->op.value == op->value &&
               r->op.aux == op->aux && r->op.flags == op->flags &&
               r->op.seq == op->seq;
    case ARMMAP__V1__RESPONSE__BODY_TRANSLATE:
        return r->kind == ARMMAP_REPLY_TRANSLATE &&
               same_translation(r->translate, want->translate);
    default:
        return false;
    }
}

static void check_reply_fast(const uint8_t *data, size_t size)
{
    struct armmap_reply *fast = armmap__reply_fast(data, size);
    Armmap__V1__Response *want;

    if (fast == NULL)
        return;
    want = armmap__v1__response__unpack(NULL, size, data);
    if (want == NULL)
        differ("armmap__reply_fast (accepts)", size);
    if (!same_reply(fast, want))
        differ("armmap__reply_fast (reply)", size);
    armmap_reply_free(fast);
    armmap__v1__response__free_unpacked(want, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request(data, size);
    check_response(data, size);
    check_phys_fast(data, size);
    check_reply_fast(data, size);
    return 0;
}
