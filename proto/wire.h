/* proto/wire.h - protobuf wire-format pieces for the hand-coded envelopes.
 *
 * armmapd (daemon/conn.c) and libarmmap (client/conn.c) code the
 * Request/Response envelope of proto/armmap.proto by hand, because
 * protobuf-c's generic code walks every member of the body oneof on each
 * size, pack and unpack.  Both sides need the same few pieces of the wire
 * format: base-128 varints and the lookup of a oneof member by field
 * number.  They are static inline so that each side compiles them into its
 * own hot path; no library of its own for four functions.
 */
#ifndef ARMMAP_PROTO_WIRE_H
#define ARMMAP_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Reads a varint at *@p (advancing it) into @v.  False if it runs past
 * @end or is longer than 10 bytes: the caller then leaves the bytes to
 * protobuf-c, which decides whether they decode. */
static inline bool wire_get_varint(const uint8_t **p, const uint8_t *end,
                                   uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift;

    for (shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;

        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Reads a tag or a length prefix: a varint of at most 5 bytes, the most
 * protobuf-c reads for either (it refuses a longer one, so a hand-coded
 * decoder must not take it).  False otherwise. */
static inline bool wire_get_varint5(const uint8_t **p, const uint8_t *end,
                                    uint64_t *v)
{
    const uint8_t *start = *p;

    return wire_get_varint(p, end, v) && *p - start <= 5;
}

/* Bytes of @v as a varint, 1 to 10. */
static inline size_t wire_varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes @v as a varint at @p; returns the byte after it. */
static inline uint8_t *wire_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* The member of @d's body oneof whose field number is @number, or NULL
 * (1 and 2 are the envelope's id and status). */
static inline const ProtobufCFieldDescriptor *wire_body_field(
    const ProtobufCMessageDescriptor *d, uint64_t number)
{
    const ProtobufCFieldDescriptor *f;

    if (number < 3 || number > 1000)
        return NULL;
    f = protobuf_c_message_descriptor_get_field(d, (unsigned)number);
    if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE ||
        !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return NULL;
    return f;
}

#endif /* ARMMAP_PROTO_WIRE_H */
