/* proto/envelope.h - the one wire codec of the Request/Response envelope.
 *
 * armmapd decodes Requests and encodes Responses; libarmmap encodes
 * Requests and decodes Responses.  Both link this module, so the bytes
 * each side writes and the messages each side reads are coded once.  The
 * envelope (an id, a status, one body of a oneof with some twenty members)
 * is coded by hand, as are the bodies of the pipelined hot paths (Op and
 * Translate requests, TranslateResult and PhysResult replies); every other
 * body goes through protobuf-c.  The contract, held by
 * tests/fuzz/fuzz_codec.c: the same bytes as protobuf-c's pack and the
 * same messages (and the same failures) as protobuf-c's unpack.
 *
 * A frame on the wire is a 4-byte big-endian length, then the message;
 * envelope_put_length() writes that prefix, the rest is the caller's
 * (daemon/conn.c, client/conn.c: bytes and reply order only).
 */
#ifndef ARMMAP_PROTO_ENVELOPE_H
#define ARMMAP_PROTO_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "armmap.pb-c.h"

/* How a message's body is coded: worked out once by the _size function
 * and handed to the _pack function with the sizes. */
struct envelope_sizes {
    size_t total;                      /* bytes of the message */
    size_t status;                     /* of the Status (responses) */
    size_t body;                       /* of the body message */
    const ProtobufCFieldDescriptor *f; /* the body member, or NULL */
    const ProtobufCMessage *sub;       /* the body, or NULL */
    int how;                           /* generic, or which by-hand codec */
};

/**
 * envelope_request_size - bytes of @req as protobuf-c packs it
 * @z: receives what envelope_request_pack() needs
 * Context: reads @req only.  Unknown fields are not counted (messages we
 * build have none).
 * Return: the size, which is also z->total.
 */
size_t envelope_request_size(const Armmap__V1__Request *req,
                             struct envelope_sizes *z);

/**
 * envelope_request_pack - write @req's z->total bytes at @out
 * @z: from envelope_request_size(@req) (the message unchanged since)
 */
void envelope_request_pack(const Armmap__V1__Request *req,
                           const struct envelope_sizes *z, uint8_t *out);

/**
 * envelope_response_size - bytes of @resp as protobuf-c packs it
 * @z: receives what envelope_response_pack() needs
 * Return: the size, which is also z->total.
 */
size_t envelope_response_size(const Armmap__V1__Response *resp,
                              struct envelope_sizes *z);

/**
 * envelope_response_pack - write @resp's z->total bytes at @out
 * @z: from envelope_response_size(@resp) (the message unchanged since)
 */
void envelope_response_pack(const Armmap__V1__Response *resp,
                            const struct envelope_sizes *z, uint8_t *out);

/**
 * envelope_request_unpack - decode a Request as armmap__v1__request__unpack()
 * does (the same message, the same failures)
 * @a: where the message's memory comes from (an arena in the daemon).  On
 *     failure blocks already taken from @a are not given back: @a owns them.
 * Return: the request, or NULL if the bytes do not decode (or @a failed).
 */
Armmap__V1__Request *envelope_request_unpack(ProtobufCAllocator *a, size_t len,
                                             const uint8_t *buf);

/**
 * envelope_response_unpack - decode a Response as
 * armmap__v1__response__unpack(NULL, ...) does
 * Return: the response, allocated as protobuf-c's default allocator does
 * (free it with armmap__v1__response__free_unpacked(r, NULL)), or NULL if
 * the bytes do not decode or memory ran out.
 */
Armmap__V1__Response *envelope_response_unpack(size_t len, const uint8_t *buf);

/* Writes @n as the 4-byte big-endian length prefix of a frame. */
static inline void envelope_put_length(uint8_t p[4], size_t n)
{
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
}

#endif /* ARMMAP_PROTO_ENVELOPE_H */
