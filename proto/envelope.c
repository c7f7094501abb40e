/* proto/envelope.c - the Request/Response envelope, coded by hand.
 *
 * Request and Response are envelopes: an id, a status (replies) and one
 * body of a oneof with some twenty members.  protobuf-c's generic code
 * walks every member of the oneof's descriptor on each pack, size and
 * unpack, which cost ~2,500 instructions per ping (measured with
 * callgrind), more than the rest of the request's path on either side.
 * So the envelope is coded here by hand, once for armmapd and libarmmap,
 * and only the body goes through protobuf-c, with its own (small)
 * descriptor.  The bytes are the ones protobuf-c writes: fields in number
 * order, zero scalars omitted.  Decoding takes the fast path only for the
 * shape the peer sends (an id, a status and at most one body, each at most
 * once, as varint and length-delimited); anything else (an unknown field,
 * a repeated body that protobuf would merge) goes to protobuf-c's decoder,
 * so both accept and produce the same messages.
 *
 * Sections: decoding requests (the daemon's side), encoding either
 * message, decoding responses (the client's side).
 */
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* ------------------------------------------------------------------ */
/* Decoding requests                                                   */
/* ------------------------------------------------------------------ */

/*
 * The two bodies of the pipelined hot paths, Op and Translate, are decoded
 * by hand too (protobuf-c's generic decoder spent ~650-900 instructions on
 * each, more than the op itself).  Only the encoding protobuf writes for
 * proto3 is taken: each scalar as a varint, the repeated field once and
 * packed; any other shape (an unknown field, a repeated field split in
 * several runs, unpacked elements) returns NULL and protobuf-c decodes the
 * body instead.  Values are truncated as protobuf-c truncates them.
 */

/* The @n packed varints at @p..@end as uint32; false if malformed. */
static bool packed_u32(ProtobufCAllocator *a, const uint8_t *p,
                       const uint8_t *end, size_t *n, uint32_t **out)
{
    const uint8_t *q;
    size_t count = 0, i;
    uint64_t v;

    for (q = p; q < end; q++)
        count += !(*q & 0x80);
    if (count == 0 || (end[-1] & 0x80))
        return count == 0 && p == end;
    *out = a->alloc(a->allocator_data, count * sizeof(uint32_t));
    if (*out == NULL)
        return false;
    for (i = 0; i < count; i++) {
        if (!wire_get_varint(&p, end, &v))
            return false;
        (*out)[i] = (uint32_t)v;
    }
    *n = count;
    return p == end;
}

static ProtobufCMessage *unpack_op(ProtobufCAllocator *a, size_t len,
                                   const uint8_t *p)
{
    const uint8_t *end = p + len;
    Armmap__V1__Op *o = a->alloc(a->allocator_data, sizeof(*o));
    bool have_args = false;
    uint64_t key, v;

    if (o == NULL)
        return NULL;
    armmap__v1__op__init(o);
    while (p < end) {
        if (!wire_get_varint5(&p, end, &key))
            return NULL;
        if (key == (4 << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)) {
            if (have_args || !wire_get_varint5(&p, end, &v) ||
                v > (uint64_t)(end - p) ||
                !packed_u32(a, p, p + v, &o->n_args, &o->args))
                return NULL;
            have_args = true;
            p += v;
            continue;
        }
        if ((key & 7) != PROTOBUF_C_WIRE_TYPE_VARINT ||
            !wire_get_varint(&p, end, &v))
            return NULL;
        switch (key >> 3) {
        case 1:
            o->machine = v;
            break;
        case 2:
            o->code = (Armmap__V1__OpCode)(int32_t)(uint32_t)v;
            break;
        case 3:
            o->cpu = (uint32_t)v;
            break;
        case 5:
            o->wait_ms = (uint32_t)v;
            break;
        default:
            return NULL;
        }
    }
    return &o->base;
}

static ProtobufCMessage *unpack_translate(ProtobufCAllocator *a, size_t len,
                                          const uint8_t *p)
{
    const uint8_t *end = p + len;
    Armmap__V1__Translate *t = a->alloc(a->allocator_data, sizeof(*t));
    bool have_va = false;
    uint64_t key, v;
    size_t i;

    if (t == NULL)
        return NULL;
    armmap__v1__translate__init(t);
    while (p < end) {
        if (!wire_get_varint5(&p, end, &key))
            return NULL;
        if (key == (2 << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)) {
            if (have_va || !wire_get_varint5(&p, end, &v) ||
                v > (uint64_t)(end - p) || v % 4 != 0)
                return NULL;
            have_va = true;
            if (v > 0) {
                t->va = a->alloc(a->allocator_data, (size_t)v);
                if (t->va == NULL)
                    return NULL;
                t->n_va = (size_t)v / 4;
                for (i = 0; i < t->n_va; i++, p += 4)
                    t->va[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                               (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            }
            continue;
        }
        if ((key & 7) != PROTOBUF_C_WIRE_TYPE_VARINT ||
            !wire_get_varint(&p, end, &v))
            return NULL;
        switch (key >> 3) {
        case 1:
            t->machine = v;
            break;
        case 3:
            t->access = (uint32_t)v;
            break;
        case 4:
            t->walk = v != 0;
            break;
        default:
            return NULL;
        }
    }
    return &t->base;
}

/* A request body: by hand for Op and Translate when it can, else
 * protobuf-c. */
static ProtobufCMessage *request_body(ProtobufCAllocator *a,
                                      const ProtobufCFieldDescriptor *f,
                                      size_t len, const uint8_t *p)
{
    ProtobufCMessage *m = NULL;

    if (f->id == ARMMAP__V1__REQUEST__BODY_OP)
        m = unpack_op(a, len, p);
    else if (f->id == ARMMAP__V1__REQUEST__BODY_TRANSLATE)
        m = unpack_translate(a, len, p);
    if (m != NULL)
        return m;
    return protobuf_c_message_unpack(f->descriptor, a, len, p);
}

Armmap__V1__Request *envelope_request_unpack(ProtobufCAllocator *a, size_t len,
                                             const uint8_t *buf)
{
    const uint8_t *p = buf, *end = buf + len, *body = NULL;
    const ProtobufCFieldDescriptor *f = NULL;
    Armmap__V1__Request *req;
    ProtobufCMessage *sub;
    uint64_t key, id = 0, rkey = 0, n, blen = 0;
    bool have_id = false, have_rkey = false;

    while (p < end) {
        if (!wire_get_varint5(&p, end, &key))
            goto slow;
        if (key == (1 << 3 | PROTOBUF_C_WIRE_TYPE_VARINT) && !have_id) {
            if (!wire_get_varint(&p, end, &id))
                goto slow;
            have_id = true;
            continue;
        }
        if (key == (2 << 3 | PROTOBUF_C_WIRE_TYPE_VARINT) && !have_rkey) {
            if (!wire_get_varint(&p, end, &rkey))
                goto slow;
            have_rkey = true;
            continue;
        }
        if ((key & 7) != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED || f != NULL)
            goto slow;
        f = wire_body_field(&armmap__v1__request__descriptor, key >> 3);
        if (f == NULL || !wire_get_varint5(&p, end, &n) ||
            n > (uint64_t)(end - p))
            goto slow;
        body = p;
        blen = n;
        p += n;
    }
    req = a->alloc(a->allocator_data, sizeof(*req));
    if (req == NULL)
        return NULL;
    armmap__v1__request__init(req);
    req->id = id;
    req->request_key = rkey;
    if (f != NULL) {
        sub = request_body(a, f, blen, body);
        if (sub == NULL)
            return NULL; /* the arena owns what was made */
        req->body_case = (Armmap__V1__Request__BodyCase)f->id;
        *(ProtobufCMessage **)((char *)req + f->offset) = sub;
    }
    return req;
slow:
    return armmap__v1__request__unpack(a, len, buf);
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

enum body_how {
    BODY_GENERIC = 0, /* protobuf-c packs it */
    BODY_TRANSLATE,   /* a TranslateResult, coded here */
    BODY_PHYS         /* a PhysResult, coded here */
};

/* A TranslateResult without walks (the pipelined one-address case) is
 * coded by hand as well: packed pa, then the packed fault and region
 * enums. */
static bool tr_by_hand(const ProtobufCMessage *sub)
{
    return sub->descriptor == &armmap__v1__translate_result__descriptor &&
           ((const Armmap__V1__TranslateResult *)sub)->n_walks == 0;
}

/* Enum arrays are read as uint32_t: the same size (asserted), and the
 * generated enums have no negative named value, so unsigned int is the
 * type compilers give them. */
_Static_assert(sizeof(Armmap__V1__Fault) == sizeof(uint32_t) &&
                   sizeof(Armmap__V1__Region) == sizeof(uint32_t),
               "enum size");

/* Bytes of @n enum values as packed varints: int32 on the wire, so a
 * negative one takes 10 bytes; the usual value (< 128) one. */
static size_t enums_size(const void *values, size_t n)
{
    const uint32_t *v = values;
    size_t s = 0, i;

    for (i = 0; i < n; i++)
        s += v[i] < 0x80 ? 1
                         : wire_varint_size((uint64_t)(int64_t)(int32_t)v[i]);
    return s;
}

/* Writes field @field of @n packed enum values (nothing when @n is 0). */
static uint8_t *put_enums(uint8_t *p, unsigned field, const void *values,
                          size_t n)
{
    const uint32_t *v = values;
    size_t i;

    if (n == 0)
        return p;
    *p++ = (uint8_t)(field << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    p = wire_put_varint(p, enums_size(v, n));
    for (i = 0; i < n; i++) {
        if (v[i] < 0x80)
            *p++ = (uint8_t)v[i];
        else
            p = wire_put_varint(p, (uint64_t)(int64_t)(int32_t)v[i]);
    }
    return p;
}

/* Writes field @field of @n packed fixed32 values (nothing when @n is 0). */
static uint8_t *put_fixed32s(uint8_t *p, unsigned field, const uint32_t *v,
                             size_t n)
{
    size_t i;

    if (n == 0)
        return p;
    *p++ = (uint8_t)(field << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    p = wire_put_varint(p, 4 * n);
    for (i = 0; i < n; i++, p += 4) {
        p[0] = (uint8_t)v[i];
        p[1] = (uint8_t)(v[i] >> 8);
        p[2] = (uint8_t)(v[i] >> 16);
        p[3] = (uint8_t)(v[i] >> 24);
    }
    return p;
}

/* Bytes of a length-delimited field whose contents are @len bytes. */
static size_t field_size(size_t len)
{
    return 1 + wire_varint_size(len) + len;
}

static size_t tr_size(const Armmap__V1__TranslateResult *t)
{
    size_t n = 0;

    if (t->n_pa > 0)
        n += field_size(4 * t->n_pa);
    if (t->n_fault > 0)
        n += field_size(enums_size(t->fault, t->n_fault));
    if (t->n_region > 0)
        n += field_size(enums_size(t->region, t->n_region));
    return n;
}

static void tr_pack(const Armmap__V1__TranslateResult *t, uint8_t *p)
{
    p = put_fixed32s(p, 1, t->pa, t->n_pa);
    p = put_enums(p, 2, t->fault, t->n_fault);
    put_enums(p, 3, t->region, t->n_region);
}

/* A PhysResult is coded by hand too: protobuf-c's generic code spends
 * most of a big phys reply's time walking one Aliases message per address.
 * The bytes are those protobuf-c writes: per address an Aliases (field 1)
 * holding packed va (field 1, fixed32) and packed region (field 2, enum
 * varints), each left out when empty. */
static size_t phys_alias_size(const Armmap__V1__PhysResult__Aliases *a)
{
    size_t n = 0;

    if (a->n_va == 0 && a->n_region == 0) /* the usual two first */
        return 0;
    if (a->n_va == 1 && a->n_region == 1 && (uint32_t)a->region[0] < 0x80)
        return 9; /* 0a 04 va 12 01 region */

    if (a->n_va > 0)
        n += field_size(4 * a->n_va);
    if (a->n_region > 0)
        n += field_size(enums_size(a->region, a->n_region));
    return n;
}

static size_t phys_size(const Armmap__V1__PhysResult *pr)
{
    size_t n = 0, i, a;

    for (i = 0; i < pr->n_aliases; i++) {
        a = phys_alias_size(pr->aliases[i]);
        n += 1 + wire_varint_size(a) + a;
    }
    return n;
}

static void phys_pack(const Armmap__V1__PhysResult *pr, uint8_t *p)
{
    const Armmap__V1__PhysResult__Aliases *a;
    size_t i;

    for (i = 0; i < pr->n_aliases; i++) {
        a = pr->aliases[i];
        *p++ = 1 << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
        if (a->n_va == 0 && a->n_region == 0) {
            *p++ = 0;
            continue;
        }
        p = wire_put_varint(p, phys_alias_size(a));
        p = put_fixed32s(p, 1, a->va, a->n_va);
        p = put_enums(p, 2, a->region, a->n_region);
    }
}

/* Codes are int32 on the wire, negative ones as 10-byte varints; the C
 * enum may be unsigned (every named value is positive), hence the casts. */
static size_t status_size(const Armmap__V1__Status *st)
{
    size_t n = 0, m;

    if (st->code != 0)
        n += 1 + wire_varint_size((uint64_t)(int64_t)(int32_t)st->code);
    m = st->message != NULL ? strlen(st->message) : 0;
    if (m > 0)
        n += 1 + wire_varint_size(m) + m;
    m = st->owner != NULL ? strlen(st->owner) : 0;
    if (m > 0)
        n += 1 + wire_varint_size(m) + m;
    return n;
}

/* A string field @tag of @m bytes, when not empty (proto3). */
static uint8_t *string_pack(uint8_t *p, unsigned tag, const char *s)
{
    size_t m = s != NULL ? strlen(s) : 0;

    if (m == 0)
        return p;
    *p++ = (uint8_t)(tag << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    p = wire_put_varint(p, m);
    memcpy(p, s, m);
    return p + m;
}

/* The body of an envelope (described by @d, the member @body_case) into
 * @z: its field, message, size and codec; the bytes of its tag, length
 * and contents, or 0 without one.  A case @d lacks is no body, as for
 * protobuf-c. */
static size_t body_size(const ProtobufCMessageDescriptor *d, const void *env,
                        uint32_t body_case, struct envelope_sizes *z)
{
    if (body_case == 0)
        return 0;
    z->f = wire_body_field(d, body_case);
    if (z->f == NULL)
        return 0;
    z->sub = *(ProtobufCMessage *const *)((const char *)env + z->f->offset);
    if (z->sub == NULL)
        return 0;
    if (tr_by_hand(z->sub)) {
        z->how = BODY_TRANSLATE;
        z->body = tr_size((const void *)z->sub);
    } else if (z->sub->descriptor == &armmap__v1__phys_result__descriptor) {
        z->how = BODY_PHYS;
        z->body = phys_size((const void *)z->sub);
    } else {
        z->how = BODY_GENERIC;
        z->body = protobuf_c_message_get_packed_size(z->sub);
    }
    return wire_varint_size((uint64_t)z->f->id << 3) +
           wire_varint_size(z->body) + z->body;
}

static uint8_t *body_pack(const struct envelope_sizes *z, uint8_t *p)
{
    if (z->sub == NULL)
        return p;
    p = wire_put_varint(p, (uint64_t)z->f->id << 3 |
                               PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    p = wire_put_varint(p, z->body);
    if (z->how == BODY_TRANSLATE)
        tr_pack((const void *)z->sub, p);
    else if (z->how == BODY_PHYS)
        phys_pack((const void *)z->sub, p);
    else
        protobuf_c_message_pack(z->sub, p);
    return p + z->body;
}

/* Field 1 of both envelopes. */
static size_t id_size(uint64_t id)
{
    return id != 0 ? 1 + wire_varint_size(id) : 0;
}

/* Request.request_key (field 2) has the same shape. */
static uint8_t *request_key_pack(uint64_t key, uint8_t *p)
{
    if (key == 0)
        return p;
    *p++ = 2 << 3 | PROTOBUF_C_WIRE_TYPE_VARINT;
    return wire_put_varint(p, key);
}

static uint8_t *id_pack(uint64_t id, uint8_t *p)
{
    if (id == 0)
        return p;
    *p++ = 1 << 3 | PROTOBUF_C_WIRE_TYPE_VARINT;
    return wire_put_varint(p, id);
}

size_t envelope_request_size(const Armmap__V1__Request *req,
                             struct envelope_sizes *z)
{
    memset(z, 0, sizeof(*z));
    z->total = id_size(req->id) + id_size(req->request_key) +
               body_size(&armmap__v1__request__descriptor, req,
                         (uint32_t)req->body_case, z);
    return z->total;
}

void envelope_request_pack(const Armmap__V1__Request *req,
                           const struct envelope_sizes *z, uint8_t *out)
{
    body_pack(z, request_key_pack(req->request_key, id_pack(req->id, out)));
}

size_t envelope_response_size(const Armmap__V1__Response *resp,
                              struct envelope_sizes *z)
{
    size_t n;

    memset(z, 0, sizeof(*z));
    n = id_size(resp->id);
    if (resp->status != NULL) {
        z->status = status_size(resp->status);
        n += 1 + wire_varint_size(z->status) + z->status;
    }
    n += body_size(&armmap__v1__response__descriptor, resp,
                   (uint32_t)resp->body_case, z);
    z->total = n;
    return n;
}

void envelope_response_pack(const Armmap__V1__Response *resp,
                            const struct envelope_sizes *z, uint8_t *p)
{
    p = id_pack(resp->id, p);
    if (resp->status != NULL) {
        const Armmap__V1__Status *st = resp->status;

        *p++ = 2 << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
        p = wire_put_varint(p, z->status);
        if (st->code != 0) {
            *p++ = 1 << 3 | PROTOBUF_C_WIRE_TYPE_VARINT;
            p = wire_put_varint(p, (uint64_t)(int64_t)(int32_t)st->code);
        }
        p = string_pack(p, 2, st->message);
        p = string_pack(p, 3, st->owner);
    }
    body_pack(z, p);
}

/* ------------------------------------------------------------------ */
/* Decoding responses                                                  */
/* ------------------------------------------------------------------ */

/*
 * Decoded replies are allocated as protobuf-c's default allocator would
 * (malloc), so armmap__v1__response__free_unpacked(r, NULL) frees them.
 */

static void *sys_alloc(void *data, size_t size)
{
    (void)data;
    return malloc(size);
}

static void sys_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* protobuf-c's default allocator, which free_unpacked(m, NULL) matches. */
static ProtobufCAllocator sys_allocator = { sys_alloc, sys_free, NULL };

/* A packed enum field's @n bytes at @p into *@out / *@count; false if
 * malformed, out of memory, or seen before (protobuf-c would merge). */
static bool take_enums(bool *seen, const uint8_t *p, size_t n, size_t *count,
                       uint32_t **out)
{
    *out = NULL; /* an empty field allocates none */
    if (*seen)
        return false;
    if (!packed_u32(&sys_allocator, p, p + n, count, out)) {
        free(*out); /* malformed after the allocation */
        *out = NULL;
        *count = 0;
        return false;
    }
    *seen = true;
    return true;
}

/* A TranslateResult as armmapd writes it without walks (packed pa, fault
 * and region, each once), or NULL: then protobuf-c decodes it. */
static ProtobufCMessage *unpack_translate_result(size_t len, const uint8_t *p)
{
    const uint8_t *end = p + len;
    Armmap__V1__TranslateResult *t = malloc(sizeof(*t));
    bool seen[2] = { false, false };
    uint32_t *v = NULL;
    uint64_t key, n;
    size_t i;

    if (!t)
        return NULL;
    armmap__v1__translate_result__init(t);
    while (p < end) {
        if (!wire_get_varint5(&p, end, &key) ||
            (key & 7) != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
            !wire_get_varint5(&p, end, &n) || n > (uint64_t)(end - p))
            goto fail;
        if (key >> 3 == 1) {
            if (t->pa || n % 4 != 0)
                goto fail;
            t->n_pa = (size_t)n / 4;
            t->pa = malloc(n ? (size_t)n : 1);
            if (!t->pa)
                goto fail;
            for (i = 0; i < t->n_pa; i++)
                t->pa[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                           (uint32_t)p[4 * i + 2] << 16 |
                           (uint32_t)p[4 * i + 3] << 24;
        } else if (key >> 3 == 2) {
            if (!take_enums(&seen[0], p, (size_t)n, &t->n_fault, &v))
                goto fail;
            t->fault = (Armmap__V1__Fault *)v;
        } else if (key >> 3 == 3) {
            if (!take_enums(&seen[1], p, (size_t)n, &t->n_region, &v))
                goto fail;
            t->region = (Armmap__V1__Region *)v;
        } else {
            goto fail; /* walks, or unknown */
        }
        p += n;
    }
    return &t->base;
fail:
    armmap__v1__translate_result__free_unpacked(t, NULL);
    return NULL;
}

/* A reply body: by hand for a TranslateResult when it can, else
 * protobuf-c. */
static ProtobufCMessage *response_body(const ProtobufCFieldDescriptor *f,
                                       size_t len, const uint8_t *p)
{
    ProtobufCMessage *m = NULL;

    if (f->id == ARMMAP__V1__RESPONSE__BODY_TRANSLATE)
        m = unpack_translate_result(len, p);
    return m ? m : protobuf_c_message_unpack(f->descriptor, NULL, len, p);
}

Armmap__V1__Response *envelope_response_unpack(size_t len, const uint8_t *buf)
{
    const uint8_t *p = buf, *end = buf + len;
    Armmap__V1__Response *r = malloc(sizeof(*r));
    const ProtobufCFieldDescriptor *f;
    ProtobufCMessage *sub;
    bool have_id = false;
    uint64_t key, n;

    if (!r)
        return NULL;
    armmap__v1__response__init(r);
    while (p < end) {
        if (!wire_get_varint5(&p, end, &key))
            goto slow;
        if (key == (1 << 3 | PROTOBUF_C_WIRE_TYPE_VARINT) && !have_id) {
            if (!wire_get_varint(&p, end, &r->id))
                goto slow;
            have_id = true;
            continue;
        }
        if ((key & 7) != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
            !wire_get_varint5(&p, end, &n) || n > (uint64_t)(end - p))
            goto slow;
        if (key >> 3 == 2 && !r->status) {
            r->status = armmap__v1__status__unpack(NULL, (size_t)n, p);
            if (!r->status)
                goto slow;
        } else {
            f = wire_body_field(&armmap__v1__response__descriptor, key >> 3);
            if (!f || r->body_case != ARMMAP__V1__RESPONSE__BODY__NOT_SET)
                goto slow;
            sub = response_body(f, (size_t)n, p);
            if (!sub)
                goto slow;
            r->body_case = (Armmap__V1__Response__BodyCase)f->id;
            *(ProtobufCMessage **)((char *)r + f->offset) = sub;
        }
        p += n;
    }
    return r;
slow:
    armmap__v1__response__free_unpacked(r, NULL);
    return armmap__v1__response__unpack(NULL, len, buf);
}
