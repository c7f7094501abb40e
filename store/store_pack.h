/* store/store_pack.h - the body of a packed events row (docs/DESIGN.md,
 * "Recovery speed where no checkpoint applies": events packed per row).
 *
 * A body holds one machine's consecutive events back to back, each as:
 *
 *     sum     u64, little-endian (its chained sum, store__event_sum())
 *     seq     varint
 *     time    zigzag varint of time_ms minus the previous event's in the
 *             body (the first: minus 0)
 *     op, cpu, nargs, value, aux, flags   varints
 *     status  zigzag varint
 *     args    nargs u32 words, little-endian
 *
 * (varint: 7 bits a byte, least significant first, the high bit set on
 * every byte but the last; at most 10 bytes.)  Each event keeps its own
 * seq and its own chained sum, so a reader checks the chain per event and
 * names the seq where it breaks, exactly as with one row per event.  The
 * chain's args bytes are the body's own (the same little-endian words the
 * schema 5 args column held).  Varints keep a body smaller than the one
 * row per event it replaces (~25 bytes an event plus its args).
 *
 * Pure functions: no SQLite, no threads; every store file may use them.
 */
#ifndef ARMMAP_STORE_STORE_PACK_H
#define ARMMAP_STORE_STORE_PACK_H

#include "store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PACK_EVENTS_MAX 16 /* events per row the writer packs */
#define PACK_HEAD_MAX   69 /* an event's bytes before its args, at most */

/* Where a reader or writer is in a body: start at { 0, 0 }. */
struct pack_cur {
    size_t off;   /* the next event's first byte */
    int64_t time; /* the previous event's time_ms (0 before the first) */
};

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

static inline size_t pack_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static inline uint64_t pack_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline uint64_t unpack_zigzag(uint64_t v)
{
    return (v >> 1) ^ (0 - (v & 1));
}

/* Reads a varint at @p[*@off] of @len bytes; false if it runs past @len
 * or past 10 bytes. */
static inline bool unpack_varint(const unsigned char *p, size_t len,
                                 size_t *off, uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift;

    for (shift = 0; shift < 70 && *off < len; shift += 7) {
        unsigned char b = p[(*off)++];

        x |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* The bytes one event with @nargs argument words takes in a body, at
 * most. */
static inline size_t pack_event_max(uint32_t nargs)
{
    return PACK_HEAD_MAX + 4 * (size_t)nargs;
}

/* Writes @ev (its machine is the row's, not written) with its chained
 * @sum at @p, @ev->args taken from @args (its nargs words, little-endian
 * bytes); @p has room for pack_event_max(ev->nargs) bytes.  Advances
 * @cur past it; returns the bytes written. */
static inline size_t pack_put_bytes(unsigned char *p, struct pack_cur *cur,
                                    const struct store_event *ev,
                                    const unsigned char *args, uint64_t sum)
{
    size_t n = 8;

    pack_le64(p, sum);
    n += pack_varint(p + n, ev->seq);
    n += pack_varint(p + n, pack_zigzag((int64_t)((uint64_t)ev->time_ms -
                                                  (uint64_t)cur->time)));
    n += pack_varint(p + n, ev->op);
    n += pack_varint(p + n, ev->cpu);
    n += pack_varint(p + n, ev->nargs);
    n += pack_varint(p + n, ev->value);
    n += pack_varint(p + n, ev->aux);
    n += pack_varint(p + n, ev->flags);
    n += pack_varint(p + n, pack_zigzag(ev->status));
    if (ev->nargs > 0)
        memcpy(p + n, args, 4 * (size_t)ev->nargs);
    n += 4 * (size_t)ev->nargs;
    cur->off += n;
    cur->time = ev->time_ms;
    return n;
}

/* As pack_put_bytes(), the args from ev->args. */
static inline size_t pack_put(unsigned char *p, struct pack_cur *cur,
                              const struct store_event *ev, uint64_t sum)
{
    unsigned char args[4 * STORE_MAX_ARGS];
    uint32_t i;

    for (i = 0; i < ev->nargs; i++)
        pack_le32(args + 4 * (size_t)i, ev->args[i]);
    return pack_put_bytes(p, cur, ev, args, sum);
}

/* Reads the event at @body[cur->off] (of @len bytes in all) into @ev, with
 * ev->machine = @machine and ev->args = @words, its stored sum into *@sum
 * and where its args bytes start (what the chain hashes) into *@args;
 * advances @cur past it.  False, and @cur unchanged, if the body ends
 * inside the event, a field does not fit its type, or nargs exceeds
 * STORE_MAX_ARGS (a cut or damaged body). */
static inline bool pack_get(const unsigned char *body, size_t len,
                            struct pack_cur *cur, uint64_t machine,
                            struct store_event *ev,
                            uint32_t words[STORE_MAX_ARGS], uint64_t *sum,
                            const unsigned char **args)
{
    uint64_t f[9];
    size_t off = cur->off, i;

    if (off > len || len - off < 8)
        return false;
    off += 8;
    for (i = 0; i < 9; i++)
        if (!unpack_varint(body, len, &off, &f[i]))
            return false;
    if (f[2] > UINT32_MAX || f[3] > UINT32_MAX || f[4] > STORE_MAX_ARGS ||
        f[5] > UINT32_MAX || f[6] > UINT32_MAX || f[7] > UINT32_MAX ||
        f[8] > UINT32_MAX || len - off < 4 * f[4])
        return false;
    *sum = unpack_le64(body + cur->off);
    ev->machine = machine;
    ev->seq = f[0];
    ev->time_ms = (int64_t)((uint64_t)cur->time + unpack_zigzag(f[1]));
    ev->op = (uint32_t)f[2];
    ev->cpu = (uint32_t)f[3];
    ev->nargs = (uint32_t)f[4];
    ev->value = (uint32_t)f[5];
    ev->aux = (uint32_t)f[6];
    ev->flags = (uint32_t)f[7];
    ev->status = (int32_t)(uint32_t)unpack_zigzag(f[8]);
    *args = body + off;
    for (i = 0; i < ev->nargs; i++)
        words[i] = unpack_le32(body + off + 4 * i);
    ev->args = words;
    cur->off = off + 4 * (size_t)ev->nargs;
    cur->time = ev->time_ms;
    return true;
}

/* Every event of @body (@len bytes) into @ev[0..*@n), their args in
 * @words (PACK_EVENTS_MAX x STORE_MAX_ARGS); false if the body is
 * malformed or holds more than PACK_EVENTS_MAX. */
static inline bool pack_get_all(const unsigned char *body, size_t len,
                                uint64_t machine, struct store_event *ev,
                                uint32_t *words, size_t *n)
{
    struct pack_cur cur = { 0, 0 };
    const unsigned char *args;
    uint64_t sum;

    *n = 0;
    while (cur.off < len) {
        if (*n == PACK_EVENTS_MAX ||
            !pack_get(body, len, &cur, machine, &ev[*n],
                      words + *n * STORE_MAX_ARGS, &sum, &args))
            return false;
        (*n)++;
    }
    return true;
}

/* The stored sum of event @seq in @body (@len bytes), into *@sum; false
 * if the body does not hold that event whole. */
static inline bool pack_find(const unsigned char *body, size_t len,
                             uint64_t machine, uint64_t seq, uint64_t *sum)
{
    static _Thread_local uint32_t words[STORE_MAX_ARGS];
    struct pack_cur cur = { 0, 0 };
    struct store_event ev;
    const unsigned char *args;

    while (pack_get(body, len, &cur, machine, &ev, words, sum, &args))
        if (ev.seq == seq)
            return true;
    return false;
}

/* Room for @need more bytes in *@body (@len used, *@cap allocated);
 * false if out of memory (nothing changed). */
static inline bool pack_room(unsigned char **body, size_t len, size_t *cap,
                             size_t need)
{
    size_t ncap = *cap ? *cap : 4096;
    unsigned char *nb;

    if (len + need <= *cap)
        return true;
    while (ncap < len + need)
        ncap *= 2;
    nb = realloc(*body, ncap);
    if (nb == NULL)
        return false;
    *body = nb;
    *cap = ncap;
    return true;
}

/* A packed row's columns (@cfirst, @clast, @csum) must say what its body
 * holds (@first..@last, the last event's @sum): true if they do, else
 * false with why in @why (naming machine @machine and a seq). */
static inline bool pack_row_matches(char *why, size_t n, uint64_t machine,
                                    uint64_t cfirst, uint64_t clast,
                                    uint64_t csum, uint64_t first,
                                    uint64_t last, uint64_t sum)
{
    if (cfirst == first && clast == last && csum == sum)
        return true;
    snprintf(why, n,
             "machine %" PRIu64 " seq %" PRIu64
             ": its packed row says seq %" PRIu64 "-%" PRIu64 " sum %016" PRIx64
             " but holds seq %" PRIu64 "-%" PRIu64 " sum %016" PRIx64,
             machine, cfirst != first ? first : last, cfirst, clast, csum,
             first, last, sum);
    return false;
}

/* One event of a machine's walk against its chain (the reader's and
 * --verify's one check): its seq must be *@next_seq, and its @stored sum
 * the @computed one (store__event_sum() over *@prev); then *@prev becomes
 * it and *@next_seq the next.  Else false with why in @why. */
static inline bool pack_chain_ok(char *why, size_t n,
                                 const struct store_event *ev, uint64_t stored,
                                 uint64_t computed, uint64_t *next_seq,
                                 uint64_t *prev)
{
    if (ev->seq != *next_seq) {
        snprintf(why, n,
                 "machine %" PRIu64 ": seq %" PRIu64 " where seq %" PRIu64
                 " was expected (events missing or out of order)",
                 ev->machine, ev->seq, *next_seq);
        return false;
    }
    if (computed != stored) {
        snprintf(why, n,
                 "machine %" PRIu64 " seq %" PRIu64 ": checksum differs "
                 "(stored %016" PRIx64 ", computed %016" PRIx64 "): the "
                 "event or one before it was changed",
                 ev->machine, ev->seq, stored, computed);
        return false;
    }
    *prev = computed;
    (*next_seq)++;
    return true;
}

/* The address filter of a history query: an argument word or the value
 * in [lo, hi]. */
static inline bool pack_touches(const struct store_event *ev, uint32_t lo,
                                uint32_t hi)
{
    uint32_t i;

    if (ev->value >= lo && ev->value <= hi)
        return true;
    for (i = 0; i < ev->nargs; i++)
        if (ev->args[i] >= lo && ev->args[i] <= hi)
            return true;
    return false;
}

/* Gives history query @q the @n events of one row (@ev, in seq order),
 * in the query's order: those in [@lo, @hi] that pass its filters, until
 * the page is full or @fn asks to stop (then page->more is set and true
 * returned: the query stops). */
static inline bool pack_history(const struct store_history_query *q,
                                const struct store_event *ev, size_t n,
                                uint64_t lo, uint64_t hi,
                                int (*fn)(void *arg,
                                          const struct store_event *ev),
                                void *arg, struct store_page *page)
{
    size_t k;

    for (k = 0; k < n; k++) {
        const struct store_event *e = &ev[q->newest_first ? n - 1 - k : k];

        if (e->seq < lo || e->seq > hi || (q->by_op && e->op != q->op) ||
            (q->by_addr && !pack_touches(e, q->addr_first, q->addr_last)))
            continue;
        if (q->limit != 0 && page->rows == q->limit) {
            page->more = true;
            return true;
        }
        page->rows++;
        page->cursor = e->seq;
        if (fn != NULL && fn(arg, e) != 0) {
            page->more = true;
            return true;
        }
    }
    return false;
}

#endif /* ARMMAP_STORE_STORE_PACK_H */
