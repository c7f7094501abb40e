/* engine/physmem.c - the machine's emulated physical memory, kept sparse.
 *
 * A 32-bit machine can have up to 4 GiB of RAM, but only the pages the
 * engine writes (page tables, mostly) hold anything but zeroes.  So memory
 * is a map from page frame number to a host copy of that 4 KiB page; a page
 * nobody wrote reads as zero and costs nothing.
 *
 * Design: an open-addressing hash table with linear probing, keyed by pfn.
 * The keys live in their own array (an empty slot holds NO_PFN, which no
 * 20-bit pfn equals) so that a probe touches one cache line of keys before
 * the page pointer; the table is a power of two and at most half full, so a
 * lookup is one multiply, one shift and, almost always, one or two key
 * compares.  mm__phys_read32() is what the MMU walk calls once per level,
 * so it is kept to exactly that; there is no lookup cache (a cache written
 * from a const reader would need care for no measured gain).  Deletion
 * shifts later members of the probe run back into the hole (no tombstones),
 * so the table never degrades.  The table doubles when an insertion would
 * take it past half full; it never shrinks.  Pages are calloc'd one by one.
 *
 * Emulates: nothing in the kernel; this is the RAM the kernel's page tables
 * live in, read by the emulated MMU and written by set_pte_ext() and
 * __pmd_populate().
 */
#include "mm_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define NO_PFN     0xffffffffu /* an empty slot's key */
#define MIN_BITS   4           /* 16 slots to start with */
#define PAGE_WORDS (MM_PAGE_SIZE / 4)

struct mm_phys {
    unsigned bits;    /* the table has 1 << bits slots */
    size_t count;     /* pages held */
    uint32_t *keys;   /* pfn per slot, NO_PFN if empty */
    uint32_t **pages; /* the page per slot, NULL if empty */
};

/* Fibonacci hashing: the top @bits bits of pfn * 2^32/phi spread the
 * consecutive pfns page tables use over the whole table. */
static size_t slot_hash(uint32_t pfn, unsigned bits)
{
    return (size_t)((pfn * 0x9e3779b1u) >> (32 - bits));
}

/* Slot count - 1: the table is a power of two. */
static size_t slot_mask(const struct mm_phys *p)
{
    return ((size_t)1 << p->bits) - 1;
}

/* The slot holding @pfn, or the empty slot where it would go. */
static size_t find_slot(const struct mm_phys *p, uint32_t pfn)
{
    size_t mask = slot_mask(p);
    size_t i = slot_hash(pfn, p->bits);

    while (p->keys[i] != pfn && p->keys[i] != NO_PFN)
        i = (i + 1) & mask;
    return i;
}

/* Allocates an empty table of 1 << @bits slots into @p's arrays. */
static bool table_alloc(struct mm_phys *p, unsigned bits)
{
    size_t n = (size_t)1 << bits;

    p->keys = malloc(n * sizeof(*p->keys));
    p->pages = calloc(n, sizeof(*p->pages));
    if (p->keys == NULL || p->pages == NULL) {
        free(p->keys);
        free(p->pages);
        p->keys = NULL;
        p->pages = NULL;
        return false;
    }
    memset(p->keys, 0xff, n * sizeof(*p->keys));
    p->bits = bits;
    return true;
}

/* Doubles the table, rehashing every page; leaves @p as it was on failure. */
static bool table_grow(struct mm_phys *p)
{
    struct mm_phys old = *p;
    size_t n = (size_t)1 << old.bits;

    if (!table_alloc(p, old.bits + 1)) {
        *p = old;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (old.keys[i] != NO_PFN) {
            size_t j = find_slot(p, old.keys[i]);

            p->keys[j] = old.keys[i];
            p->pages[j] = old.pages[i];
        }
    }
    free(old.keys);
    free(old.pages);
    return true;
}

struct mm_phys *mm__phys_create(void)
{
    struct mm_phys *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    if (!table_alloc(p, MIN_BITS)) {
        free(p);
        return NULL;
    }
    return p;
}

void mm__phys_destroy(struct mm_phys *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i <= slot_mask(p); i++)
        free(p->pages[i]);
    free(p->keys);
    free(p->pages);
    free(p);
}

struct mm_phys *mm__phys_clone(const struct mm_phys *p)
{
    struct mm_phys *c;

    assert(p != NULL);
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if (!table_alloc(c, p->bits)) {
        free(c);
        return NULL;
    }
    /* Same size, same slots: the copy probes exactly as the original. */
    for (size_t i = 0; i <= slot_mask(p); i++) {
        if (p->keys[i] == NO_PFN)
            continue;
        c->pages[i] = malloc(MM_PAGE_SIZE);
        if (c->pages[i] == NULL) {
            mm__phys_destroy(c);
            return NULL;
        }
        memcpy(c->pages[i], p->pages[i], MM_PAGE_SIZE);
        c->keys[i] = p->keys[i];
        c->count++;
    }
    return c;
}

const uint32_t *mm__phys_page(const struct mm_phys *p, mm_pfn_t pfn)
{
    assert(p != NULL);
    return p->pages[find_slot(p, pfn)];
}

uint32_t *mm__phys_page_rw(struct mm_phys *p, mm_pfn_t pfn)
{
    size_t i;
    uint32_t *page;

    assert(p != NULL && pfn != NO_PFN);
    i = find_slot(p, pfn);
    if (p->pages[i] != NULL)
        return p->pages[i];
    page = calloc(PAGE_WORDS, sizeof(*page));
    if (page == NULL)
        return NULL;
    if ((p->count + 1) * 2 > slot_mask(p) + 1) {
        if (!table_grow(p)) {
            free(page);
            return NULL;
        }
        i = find_slot(p, pfn);
    }
    p->keys[i] = pfn;
    p->pages[i] = page;
    p->count++;
    return page;
}

/* Whether slot @j lies cyclically in (@hole, @i]: then the key at @i,
 * whose home is @j, may not move back into @hole. */
static bool home_between(size_t hole, size_t j, size_t i)
{
    if (hole <= i)
        return hole < j && j <= i;
    return hole < j || j <= i;
}

void mm__phys_drop(struct mm_phys *p, mm_pfn_t pfn)
{
    size_t mask, hole, i;

    assert(p != NULL);
    hole = find_slot(p, pfn);
    if (p->pages[hole] == NULL)
        return;
    free(p->pages[hole]);
    p->count--;
    /* Backward-shift deletion (Knuth 6.4 algorithm R). */
    mask = slot_mask(p);
    i = hole;
    for (;;) {
        i = (i + 1) & mask;
        if (p->keys[i] == NO_PFN)
            break;
        if (home_between(hole, slot_hash(p->keys[i], p->bits), i))
            continue;
        p->keys[hole] = p->keys[i];
        p->pages[hole] = p->pages[i];
        hole = i;
    }
    p->keys[hole] = NO_PFN;
    p->pages[hole] = NULL;
}

uint32_t mm__phys_read32(const struct mm_phys *p, mm_paddr_t pa)
{
    const uint32_t *page;

    assert((pa & 3) == 0);
    page = p->pages[find_slot(p, pa >> MM_PAGE_SHIFT)];
    return page != NULL ? page[(pa & (MM_PAGE_SIZE - 1)) >> 2] : 0;
}

void mm__phys_write32(struct mm_phys *p, mm_paddr_t pa, uint32_t val)
{
    uint32_t *page;

    assert((pa & 3) == 0);
    page = p->pages[find_slot(p, pa >> MM_PAGE_SHIFT)];
    assert(page != NULL);
    page[(pa & (MM_PAGE_SIZE - 1)) >> 2] = val;
}

size_t mm__phys_host_bytes(const struct mm_phys *p)
{
    size_t slots;

    if (p == NULL)
        return 0;
    slots = slot_mask(p) + 1;
    return sizeof(*p) + slots * (sizeof(*p->keys) + sizeof(*p->pages)) +
           p->count * (size_t)MM_PAGE_SIZE;
}

size_t mm__phys_count(const struct mm_phys *p)
{
    assert(p != NULL);
    return p->count;
}

/* A held page for the sorted walk: qsort() has no context argument, so
 * each element carries its own key. */
struct pfn_slot {
    uint32_t pfn;
    size_t slot;
};

/* Ascending pfn order for qsort(). */
static int pfn_slot_cmp(const void *a, const void *b)
{
    const struct pfn_slot *x = a, *y = b;

    return (x->pfn > y->pfn) - (x->pfn < y->pfn);
}

/* The slower path when the sort array cannot be had: repeatedly pick the
 * smallest pfn above the last one visited.  Quadratic, but allocation-free. */
static void foreach_unsorted(const struct mm_phys *p,
                             bool (*fn)(void *arg, mm_pfn_t pfn, const uint8_t *data),
                             void *arg)
{
    uint64_t last = 0; /* visit pfns >= last */

    for (size_t done = 0; done < p->count; done++) {
        size_t best = SIZE_MAX;

        for (size_t i = 0; i <= slot_mask(p); i++) {
            if (p->keys[i] != NO_PFN && p->keys[i] >= last &&
                (best == SIZE_MAX || p->keys[i] < p->keys[best]))
                best = i;
        }
        assert(best != SIZE_MAX);
        if (!fn(arg, p->keys[best], (const uint8_t *)p->pages[best]))
            return;
        last = (uint64_t)p->keys[best] + 1;
    }
}

void mm__phys_foreach(const struct mm_phys *p,
                      bool (*fn)(void *arg, mm_pfn_t pfn, const uint8_t *data), void *arg)
{
    struct pfn_slot *v;
    size_t n = 0;

    assert(p != NULL && fn != NULL);
    if (p->count == 0)
        return;
    v = malloc(p->count * sizeof(*v));
    if (v == NULL) {
        foreach_unsorted(p, fn, arg);
        return;
    }
    for (size_t i = 0; i <= slot_mask(p); i++) {
        if (p->keys[i] != NO_PFN)
            v[n++] = (struct pfn_slot){ p->keys[i], i };
    }
    assert(n == p->count);
    qsort(v, n, sizeof(*v), pfn_slot_cmp);
    for (size_t k = 0; k < n; k++) {
        if (!fn(arg, v[k].pfn, (const uint8_t *)p->pages[v[k].slot]))
            break;
    }
    free(v);
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/*
 * Payload: u32 page count, then per page, ascending by pfn: u32 pfn, a
 * 128-byte bitmap of the page's nonzero words, and those words in order.
 * Page tables are mostly zero, so a page costs 132 bytes plus 4 a live entry.
 */
static bool save_page(void *arg, mm_pfn_t pfn, const uint8_t *data)
{
    struct mm_buf *out = arg;
    const uint32_t *w = (const uint32_t *)(const void *)data;
    uint8_t map[PAGE_WORDS / 8];

    memset(map, 0, sizeof(map));
    for (unsigned i = 0; i < PAGE_WORDS; i++)
        if (w[i] != 0)
            map[i / 8] |= (uint8_t)(1u << (i % 8));
    mm__wr_u32(out, pfn);
    mm__buf_append(out, map, sizeof(map));
    for (unsigned i = 0; i < PAGE_WORDS; i++)
        if (w[i] != 0)
            mm__wr_u32(out, w[i]);
    return !out->oom;
}

void mm__phys_save(const struct mm_phys *p, struct mm_buf *out)
{
    mm__wr_u32(out, (uint32_t)p->count);
    mm__phys_foreach(p, save_page, out);
}

/* Reads one page record into @p; pfns must ascend past *@last. */
static void load_page(struct mm_phys *p, struct mm_rd *rd, int64_t *last)
{
    uint8_t map[PAGE_WORDS / 8];
    mm_pfn_t pfn = mm__rd_u32(rd);
    uint32_t *w;

    if (!mm__rd_bytes(rd, map, sizeof(map)))
        return;
    if (pfn >= (1u << 20) || (int64_t)pfn <= *last) {
        mm__rd_fail(rd, "page pfn 0x%x out of range or not ascending", pfn);
        return;
    }
    *last = pfn;
    w = mm__phys_page_rw(p, pfn);
    if (w == NULL) {
        mm__rd_oom(rd);
        return;
    }
    for (unsigned i = 0; i < PAGE_WORDS; i++) {
        if (map[i / 8] & (1u << (i % 8))) {
            w[i] = mm__rd_u32(rd);
            if (rd->st == MM_OK && w[i] == 0) {
                mm__rd_fail(rd, "page pfn 0x%x word %u marked nonzero holds 0", pfn, i);
                return;
            }
        }
    }
}

void mm__phys_load(struct mm_machine *m, struct mm_rd *rd)
{
    uint32_t n = mm__rd_u32(rd);
    struct mm_phys *p;
    int64_t last = -1;

    if (!mm__rd_count(rd, n, 4 + PAGE_WORDS / 8, 1u << 20, "pages"))
        return;
    p = mm__phys_create();
    if (p == NULL) {
        mm__rd_oom(rd);
        return;
    }
    for (uint32_t i = 0; i < n && rd->st == MM_OK; i++)
        load_page(p, rd, &last);
    if (rd->st != MM_OK) {
        mm__phys_destroy(p);
        return;
    }
    mm__phys_destroy(m->phys);
    m->phys = p;
}
