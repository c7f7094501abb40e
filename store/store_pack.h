/* store/store_pack.h - the body of a packed events row (docs/DESIGN.md,
 * "Recovery speed where no checkpoint applies": events packed per row).
 *
 * A body holds one machine's consecutive events back to back, each in a
 * fixed little-endian layout followed by its argument words:
 *
 *     seq u64, time i64, op u32, cpu u32, nargs u32, value u32, aux u32,
 *     flags u32, status i32, sum u64, then nargs u32 words
 *
 * Each event keeps its own seq and its own chained sum (store__event_sum()
 * over the machine's previous event), so a reader of a body checks the
 * chain per event and names the seq where it breaks, exactly as with one
 * row per event.  The chain's args bytes are the body's own (the same
 * little-endian words the args column holds).
 *
 * Pure functions: no SQLite, no threads; every store file may use them.
 */
#ifndef ARMMAP_STORE_STORE_PACK_H
#define ARMMAP_STORE_STORE_PACK_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PACK_HEAD_BYTES 52 /* an event's fixed fields */
#define PACK_EVENTS_MAX 16 /* events per row the writer packs */

static inline void pack_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void pack_le64(unsigned char *p, uint64_t v)
{
    pack_le32(p, (uint32_t)v);
    pack_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t unpack_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t unpack_le64(const unsigned char *p)
{
    return (uint64_t)unpack_le32(p) | (uint64_t)unpack_le32(p + 4) << 32;
}

/* The bytes one event with @nargs argument words takes in a body. */
static inline size_t pack_event_bytes(uint32_t nargs)
{
    return PACK_HEAD_BYTES + 4 * (size_t)nargs;
}

/* Writes @ev's fixed fields (its machine is the row's, not written; its
 * args not touched) and its chained @sum at @p: PACK_HEAD_BYTES bytes,
 * to be followed by its ev->nargs argument words, little-endian. */
static inline void pack_put_head(unsigned char *p,
                                 const struct store_event *ev, uint64_t sum)
{
    pack_le64(p, ev->seq);
    pack_le64(p + 8, (uint64_t)ev->time_ms);
    pack_le32(p + 16, ev->op);
    pack_le32(p + 20, ev->cpu);
    pack_le32(p + 24, ev->nargs);
    pack_le32(p + 28, ev->value);
    pack_le32(p + 32, ev->aux);
    pack_le32(p + 36, ev->flags);
    pack_le32(p + 40, (uint32_t)ev->status);
    pack_le64(p + 44, sum);
}

/* Writes @ev (its machine is the row's, not written) and its chained
 * @sum at @p, which has room for pack_event_bytes(ev->nargs) bytes;
 * returns the bytes written. */
static inline size_t pack_put(unsigned char *p, const struct store_event *ev,
                              uint64_t sum)
{
    uint32_t i;

    pack_put_head(p, ev, sum);
    for (i = 0; i < ev->nargs; i++)
        pack_le32(p + PACK_HEAD_BYTES + 4 * (size_t)i, ev->args[i]);
    return pack_event_bytes(ev->nargs);
}

/* Reads the event at @body[*@off] (of @len bytes in all) into @ev, with
 * ev->machine = @machine and ev->args = @words, its stored sum into *@sum
 * and where its args bytes start (what the chain hashes) into *@args;
 * advances *@off past it.  False, and nothing advanced, if fewer bytes
 * are left than the event needs or nargs exceeds STORE_MAX_ARGS (a cut or
 * damaged body). */
static inline bool pack_get(const unsigned char *body, size_t len, size_t *off,
                            uint64_t machine, struct store_event *ev,
                            uint32_t words[STORE_MAX_ARGS], uint64_t *sum,
                            const unsigned char **args)
{
    const unsigned char *p = body + *off;
    uint32_t nargs, i;

    if (*off > len || len - *off < PACK_HEAD_BYTES)
        return false;
    nargs = unpack_le32(p + 24);
    if (nargs > STORE_MAX_ARGS ||
        len - *off - PACK_HEAD_BYTES < 4 * (size_t)nargs)
        return false;
    ev->machine = machine;
    ev->seq = unpack_le64(p);
    ev->time_ms = (int64_t)unpack_le64(p + 8);
    ev->op = unpack_le32(p + 16);
    ev->cpu = unpack_le32(p + 20);
    ev->nargs = nargs;
    ev->value = unpack_le32(p + 28);
    ev->aux = unpack_le32(p + 32);
    ev->flags = unpack_le32(p + 36);
    ev->status = (int32_t)unpack_le32(p + 40);
    *sum = unpack_le64(p + 44);
    *args = p + PACK_HEAD_BYTES;
    for (i = 0; i < nargs; i++)
        words[i] = unpack_le32(p + PACK_HEAD_BYTES + 4 * (size_t)i);
    ev->args = words;
    *off += pack_event_bytes(nargs);
    return true;
}

/* The stored sum of event @seq in @body (@len bytes), into *@sum; false
 * if the body does not hold that event whole. */
static inline bool pack_find(const unsigned char *body, size_t len,
                             uint64_t machine, uint64_t seq, uint64_t *sum)
{
    static _Thread_local uint32_t words[STORE_MAX_ARGS];
    struct store_event ev;
    const unsigned char *args;
    size_t off = 0;

    while (pack_get(body, len, &off, machine, &ev, words, sum, &args))
        if (ev.seq == seq)
            return true;
    return false;
}

#endif /* ARMMAP_STORE_STORE_PACK_H */
