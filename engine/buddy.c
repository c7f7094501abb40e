/* engine/buddy.c - page frames, zones and the buddy page allocator.
 *
 * The zones come from the layout: ZONE_DMA is [min_pfn, dma_end_pfn) when
 * the machine has one, ZONE_NORMAL [dma_end_pfn, max_low_pfn), ZONE_HIGHMEM
 * [max_low_pfn, max_pfn) when there is RAM above the lowmem cut.  RAM is
 * the pfns inside m->lay.regions; holes between banks are spanned by a zone
 * but are not RAM.  Each zone keeps, per order 0..top (MAX_ORDER - 1: 10, 11
 * with ARCH_FORCE_MAX_ORDER=12 from config version 3), a doubly linked free
 * list and its length, as struct free_area does; allocation takes the head
 * of the smallest non-empty list (__rmqueue_smallest) and splits it, putting
 * the upper halves back on the lower lists (expand); a free merges with its
 * buddy while the buddy is a free block of the same order in the same zone
 * (__free_one_page), and the merged block goes to the list head, or to the
 * tail when the buddy one order up is free too.
 *
 * Design: nothing here is sized by RAM.  The kernel marks free block heads
 * in mem_map (PageBuddy, page_private = order); we keep instead a pool of
 * list nodes, one per free block, found by head pfn through an open-
 * addressing hash, and a second hash from the head pfn of each allocated
 * block to its order and owner.  Memory therefore grows with the number of
 * blocks, not with RAM: a fresh 2 GiB machine needs a few hundred nodes.
 * Which block a pfn lies in is found by probing its top + 1 possible
 * aligned heads.  Boot-reserved pages are a sorted list of pfn ranges.  Both hashes
 * use linear probing at most half full, with backward-shift deletion.  Every
 * operation reserves the host memory it may need before it changes
 * anything, so a failure leaves the allocator exactly as it was.
 *
 * Boot: mm__buddy_init() frees every RAM page outside the reserved ranges in
 * ascending pfn order, each free run cut into the largest naturally aligned
 * blocks (at most order top) as nobootmem's __free_pages_memory() has cut
 * them since 2013, each block freed through __free_one_page().  Runs are cut
 * at zone boundaries, since a buddy block never spans two zones.  3.4 ARM
 * frees differently: lowmem through bootmem's free_all_bootmem_core()
 * (whole free 32-page words at order 5, other pages singly), highmem page by
 * page in free_highpages().  Freed upwards with full merging, both end with
 * the same blocks in the same list order (a block is last inserted when its
 * highest page is freed, with everything below it free and nothing above),
 * which tests/engine/test_buddy.c checks against page-by-page frees.
 *
 * Left out, on purpose:
 * - per-CPU page lists (pcp): 3.4 frees order-0 pages to a per-CPU list and
 *   drains them in batches, and takes order-0 pages from it; here every free
 *   reaches the buddy lists at once and every allocation comes from them.
 *   At boot this changes nothing: mem_init() runs before
 *   setup_per_cpu_pageset(), while every zone uses boot_pageset, whose high
 *   mark of 0 sends each freed page on at once (3.4 init/main.c);
 * - migrate types and pageblocks: one free list per order, not one per
 *   migrate type, so there is no __rmqueue_fallback() stealing of the
 *   largest block and no MIGRATE_RESERVE;
 * - watermarks, lowmem_reserve and reclaim: an allocation fails only when no
 *   zone it may use has a big enough block;
 * - the bootmem bitmap pages that free_all_bootmem_core() frees last (boot
 *   does not model the bitmap).
 *
 * Emulates: 3.4 mm/page_alloc.c __free_one_page(), page_is_buddy(),
 * expand(), __rmqueue_smallest(), the zonelist fallback of
 * get_page_from_freelist(); mm/bootmem.c free_all_bootmem_core() and
 * arch/arm/mm/init.c free_highpages() (by their outcome, see above);
 * arch/arm/mm/init.c find_limits(), arm_bootmem_free() zone limits.
 */
#include "mm_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define NO_PFN    0xffffffffu /* an empty hash slot's key */
#define NIL       (-1)        /* no list node */
#define MIN_BITS  4           /* a hash starts with 16 slots */
#define MIN_NODES 64
#define SWEEP_MIN 64 /* blocks below which the check probes */

/* One free block: what PageBuddy + page_private + page->lru say in the
 * kernel's mem_map. */
struct free_block {
    mm_pfn_t pfn;       /* head */
    int32_t prev, next; /* neighbours on its free list */
    uint8_t order;
    uint8_t zone; /* enum mm_zone */
    bool live;    /* false while on the spare stack */
};

/* A hash slot: head pfn -> node index (free blocks) or order | owner << 8
 * (allocated blocks). */
struct slot {
    mm_pfn_t pfn;
    uint32_t val;
};

struct pfn_map {
    struct slot *s;
    unsigned bits; /* 1 << bits slots */
    uint32_t count;
};

struct free_area { /* KERNEL: struct free_area, one migrate type */
    int32_t head, tail;
    uint32_t nr_free;
};

struct bzone {
    bool populated;
    mm_pfn_t start, end; /* spanned */
    uint32_t present;    /* RAM pages in the span */
    uint32_t managed;    /* freed to the allocator at boot */
    uint32_t free;       /* pages in free blocks */
    struct free_area area[MM_MAX_ORDERS];
};

struct pfn_range {
    mm_pfn_t start, end; /* exclusive */
};

/*
 * Allocated block heads, dense: a byte per pfn (0, or USED_BIT | owner << 4
 * | order), in chunks of UCHUNK pfns allocated when a head first lands in
 * them.  A hash of 8-byte slots at most half full cost 16 to 32 bytes an
 * allocated page (4 MB for a 600 MiB vmalloc); this costs one.  One spare
 * chunk is kept ready so that recording a block never fails once the
 * operation has begun.
 */
#define UCHUNK   4096u
#define NUCHUNKS ((1u << 20) / UCHUNK)
#define USED_BIT 0x80u

struct used_map {
    uint8_t *chunk[NUCHUNKS];
    uint16_t inuse[NUCHUNKS]; /* heads per chunk (up to UCHUNK) */
    uint8_t *spare;           /* a zeroed chunk, ready */
    uint32_t nchunks;         /* chunks allocated, the spare included */
    uint32_t count;           /* heads in all */
};

/*
 * What changed since mm__buddy_track_start() (mm_check_since()): each
 * change to either map as the block headed there was before it (a head
 * first changed gives the block the start saw there, or none), the free
 * lists added to or taken from (bit zone * 16 + order), and the counts
 * at the start.  Past TRACK_MAX changes the record stops (overflow) and
 * mm__buddy_check_since() checks everything.
 */
#define TRACK_MAX 1024u
_Static_assert((TRACK_MAX & (TRACK_MAX - 1)) == 0 && TRACK_MAX <= 1024u,
               "an event's index is 10 bits of its sort key");

struct track_ev {
    mm_pfn_t pfn;
    uint8_t used;    /* the used map's head, else the free map's */
    uint8_t present; /* a block was headed there before the change */
    uint8_t order, owner;
};

struct track {
    bool overflow;
    uint32_t n;
    uint64_t lists;
    uint32_t free[MM_NR_ZONES], node_live, used_count, owned[MM_OWN_COUNT];
    struct track_ev ev[TRACK_MAX];
};

struct mm_buddy {
    struct bzone zone[MM_NR_ZONES];
    mm_pfn_t dma_end, max_low; /* zone boundaries, from the layout */
    bool highmem_config;       /* CONFIG_HIGHMEM: HighMem may be asked for */
    unsigned top;              /* MAX_ORDER - 1: 10, or 11 on Debian armmp */
    uint32_t ram_pages, reserved_pages;
    struct free_block *node;
    uint32_t node_cap, node_live;
    int32_t spare;                /* stack of unused nodes, through ->next */
    struct pfn_map free_map;      /* free block head -> node */
    struct used_map used_map;     /* allocated block head -> order, owner */
    uint32_t owned[MM_OWN_COUNT]; /* pages held per owner */
    struct pfn_range *resv;       /* boot-reserved pages, sorted, merged */
    size_t nresv;
    struct track *track; /* NULL unless recording: 8 KiB a machine otherwise */
};

static const char *const zone_names[MM_NR_ZONES] = {
    [MM_ZONE_DMA] = "DMA", /* KERNEL: 3.4 mm/page_alloc.c zone_names */
    [MM_ZONE_NORMAL] = "Normal",
    [MM_ZONE_HIGHMEM] = "HighMem",
};

/* How a message names who holds a block. */
static const char *const owner_names[MM_OWN_COUNT] = {
    [MM_OWN_NONE] = "nobody",          [MM_OWN_USER] = "alloc",
    [MM_OWN_PGTABLE] = "a page table", [MM_OWN_VMALLOC] = "vmalloc",
    [MM_OWN_BOOT] = "the boot",
};

/* ------------------------------------------------------------------ */
/* pfn hash maps                                                       */
/* ------------------------------------------------------------------ */

/* Fibonacci hashing, as physmem.c: consecutive pfns spread out. */
static size_t map_hash(mm_pfn_t pfn, unsigned bits)
{
    return (size_t)((pfn * 0x9e3779b1u) >> (32 - bits));
}

/* Slot count - 1: the table is a power of two. */
static size_t map_mask(const struct pfn_map *mp)
{
    return ((size_t)1 << mp->bits) - 1;
}

/* An empty map of 1 << @bits slots; false on host OOM. */
static bool map_init(struct pfn_map *mp, unsigned bits)
{
    size_t n = (size_t)1 << bits;

    mp->s = malloc(n * sizeof(*mp->s));
    if (mp->s == NULL)
        return false;
    /* Every byte 0xff: every key NO_PFN (and each value, unused, too). */
    _Static_assert(NO_PFN == 0xffffffffu, "NO_PFN is all ones");
    memset(mp->s, 0xff, n * sizeof(*mp->s));
    mp->bits = bits;
    mp->count = 0;
    return true;
}

/* The slot holding @pfn, or the empty slot that ends its probe run. */
static size_t map_find(const struct pfn_map *mp, mm_pfn_t pfn)
{
    size_t mask = map_mask(mp);
    size_t i = map_hash(pfn, mp->bits);

    while (mp->s[i].pfn != pfn && mp->s[i].pfn != NO_PFN)
        i = (i + 1) & mask;
    return i;
}

/* The value stored for @pfn; false if there is none. */
static bool map_get(const struct pfn_map *mp, mm_pfn_t pfn, uint32_t *val)
{
    const struct slot *sl = &mp->s[map_find(mp, pfn)];

    if (sl->pfn == NO_PFN)
        return false;
    *val = sl->val;
    return true;
}

/* Makes room for @extra more keys without passing half full; @mp is
 * unchanged if host memory runs out. */
static bool map_reserve(struct pfn_map *mp, uint32_t extra)
{
    struct pfn_map old = *mp, grown;
    unsigned bits = mp->bits;

    while (((size_t)mp->count + extra) * 2 > ((size_t)1 << bits))
        bits++;
    if (bits == mp->bits)
        return true;
    if (!map_init(&grown, bits))
        return false;
    for (size_t i = 0; i <= map_mask(&old); i++) {
        if (old.s[i].pfn != NO_PFN)
            grown.s[map_find(&grown, old.s[i].pfn)] = old.s[i];
    }
    grown.count = old.count;
    free(old.s);
    *mp = grown;
    return true;
}

/* Adds a key that is not there yet; room was reserved. */
static void map_put(struct pfn_map *mp, mm_pfn_t pfn, uint32_t val)
{
    size_t i = map_find(mp, pfn);

    assert(mp->s[i].pfn == NO_PFN);
    assert(((size_t)mp->count + 1) * 2 <= map_mask(mp) + 1);
    mp->s[i] = (struct slot){ pfn, val };
    mp->count++;
}

/* Whether home slot @j lies cyclically in (@hole, @i]. */
static bool home_between(size_t hole, size_t j, size_t i)
{
    if (hole <= i)
        return hole < j && j <= i;
    return hole < j || j <= i;
}

/* Removes a present key, shifting its run back over the hole. */
static void map_del(struct pfn_map *mp, mm_pfn_t pfn)
{
    size_t mask = map_mask(mp);
    size_t hole = map_find(mp, pfn), i = hole;

    assert(mp->s[hole].pfn == pfn);
    mp->count--;
    for (;;) {
        i = (i + 1) & mask;
        if (mp->s[i].pfn == NO_PFN)
            break;
        if (home_between(hole, map_hash(mp->s[i].pfn, mp->bits), i))
            continue;
        mp->s[hole] = mp->s[i];
        hole = i;
    }
    mp->s[hole] = (struct slot){ NO_PFN, 0 };
}

/* A slot-for-slot copy, so the clone probes as the original does. */
static bool map_clone(struct pfn_map *dst, const struct pfn_map *src)
{
    size_t n = map_mask(src) + 1;

    dst->s = malloc(n * sizeof(*dst->s));
    if (dst->s == NULL)
        return false;
    memcpy(dst->s, src->s, n * sizeof(*dst->s));
    dst->bits = src->bits;
    dst->count = src->count;
    return true;
}

/* The used map's byte for @pfn, or 0. */
static unsigned umap_byte(const struct used_map *u, mm_pfn_t pfn)
{
    const uint8_t *c = pfn < (1u << 20) ? u->chunk[pfn / UCHUNK] : NULL;

    return c != NULL ? c[pfn % UCHUNK] : 0;
}

/* The value stored for head @pfn (order | owner << 8); false if none. */
static bool umap_get(const struct used_map *u, mm_pfn_t pfn, uint32_t *val)
{
    unsigned v = umap_byte(u, pfn);

    if (v == 0)
        return false;
    *val = (v & 0xf) | ((v >> 4) & 0x7) << 8;
    return true;
}

/* Makes sure a put cannot fail; false on host OOM. */
static bool umap_reserve(struct used_map *u)
{
    if (u->spare == NULL) {
        u->spare = calloc(UCHUNK, 1);
        if (u->spare == NULL)
            return false;
        u->nchunks++;
    }
    return true;
}

/* Records head @pfn with @val (order | owner << 8); room was reserved. */
static void umap_put(struct used_map *u, mm_pfn_t pfn, uint32_t val)
{
    uint8_t **c = &u->chunk[pfn / UCHUNK];

    assert(pfn < (1u << 20) && (val & 0xff) <= 0xf && (val >> 8) <= 0x7);
    if (*c == NULL) {
        assert(u->spare != NULL);
        *c = u->spare;
        u->spare = NULL;
    }
    assert((*c)[pfn % UCHUNK] == 0);
    (*c)[pfn % UCHUNK] = (uint8_t)(USED_BIT | (val >> 8) << 4 | (val & 0xf));
    u->inuse[pfn / UCHUNK]++;
    u->count++;
}

/* Forgets head @pfn; an emptied chunk becomes the spare or is freed. */
static void umap_del(struct used_map *u, mm_pfn_t pfn)
{
    uint8_t **c = &u->chunk[pfn / UCHUNK];

    assert(umap_byte(u, pfn) != 0);
    (*c)[pfn % UCHUNK] = 0;
    u->count--;
    if (--u->inuse[pfn / UCHUNK] == 0) {
        if (u->spare == NULL) {
            u->spare = *c;
        } else {
            free(*c);
            u->nchunks--;
        }
        *c = NULL;
    }
}

/* The first head at or after @pfn, or NO_PFN: ascending iteration. */
static mm_pfn_t umap_next(const struct used_map *u, mm_pfn_t pfn)
{
    for (uint32_t c = pfn / UCHUNK; c < NUCHUNKS; c++) {
        const uint8_t *ch = u->chunk[c];

        if (ch == NULL || u->inuse[c] == 0)
            continue;
        for (uint32_t i = c == pfn / UCHUNK ? pfn % UCHUNK : 0; i < UCHUNK; i++) {
            uint64_t w;

            /* Eight clear bytes at a time once aligned: the heads are
             * sparse, and this walk was most of mm_check()'s buddy part. */
            if (i % 8 == 0 && i + 8 <= UCHUNK) {
                memcpy(&w, ch + i, sizeof(w));
                if (w == 0) {
                    i += 7;
                    continue;
                }
            }
            if (ch[i] != 0)
                return c * UCHUNK + i;
        }
    }
    return NO_PFN;
}

static void umap_free(struct used_map *u)
{
    for (uint32_t c = 0; c < NUCHUNKS; c++)
        free(u->chunk[c]);
    free(u->spare);
    memset(u, 0, sizeof(*u));
}

/* A chunk-for-chunk copy into @dst (whose pointers are not owned yet). */
static bool umap_clone(struct used_map *dst, const struct used_map *src)
{
    *dst = *src;
    dst->spare = NULL;
    dst->nchunks = 0;
    for (uint32_t c = 0; c < NUCHUNKS; c++) {
        dst->chunk[c] = NULL;
        if (src->chunk[c] == NULL)
            continue;
        dst->chunk[c] = malloc(UCHUNK);
        if (dst->chunk[c] == NULL)
            return false;
        dst->nchunks++;
        memcpy(dst->chunk[c], src->chunk[c], UCHUNK);
    }
    return src->spare == NULL || umap_reserve(dst);
}

/* ------------------------------------------------------------------ */
/* Free block nodes and free lists                                     */
/* ------------------------------------------------------------------ */

/* Makes sure @extra more nodes can be taken; unchanged on host OOM. */
static bool pool_reserve(struct mm_buddy *b, uint32_t extra)
{
    struct free_block *grown;
    uint32_t cap = b->node_cap;

    while (b->node_live + extra > cap)
        cap = cap != 0 ? cap * 2 : MIN_NODES;
    if (cap == b->node_cap)
        return true;
    grown = realloc(b->node, cap * sizeof(*grown));
    if (grown == NULL)
        return false;
    b->node = grown;
    /* Push the new nodes so that the lowest index is taken first. */
    for (uint32_t i = cap; i-- > b->node_cap;) {
        grown[i] = (struct free_block){ .pfn = NO_PFN, .prev = NIL, .next = b->spare };
        b->spare = (int32_t)i;
    }
    b->node_cap = cap;
    return true;
}

/* Room for any one alloc or free: expand() adds at most b->top blocks.
 * Every alloc and free asks, and there almost always is room already:
 * that is said first, in a few compares, before any of the three growers
 * is called. */
static bool reserve_for_op(struct mm_buddy *b)
{
    uint32_t extra = b->top + 1;

    if (b->node_live + extra <= b->node_cap &&
        ((size_t)b->free_map.count + extra) * 2 <= map_mask(&b->free_map) + 1 &&
        b->used_map.spare != NULL)
        return true;
    return pool_reserve(b, extra) && map_reserve(&b->free_map, extra) &&
           umap_reserve(&b->used_map);
}

/* zone->free_area[order]. */
/* Records the block headed at @pfn in the used (@used) or free map as it
 * is before a change there. */
static void track(struct mm_buddy *b, bool used, mm_pfn_t pfn, bool present,
                  unsigned order, unsigned owner)
{
    struct track *t = b->track;

    if (t == NULL)
        return;
    if (t->n == TRACK_MAX) {
        t->overflow = true;
        return;
    }
    t->ev[t->n++] = (struct track_ev){ pfn, used, present, (uint8_t)order,
                                       (uint8_t)owner };
}

static int32_t free_node(const struct mm_buddy *b, mm_pfn_t pfn);

static struct free_area *area_of(struct mm_buddy *b, unsigned zone, unsigned order)
{
    return &b->zone[zone].area[order];
}

/* list_add() (@tail false) or list_add_tail() of a new free block, with
 * the bookkeeping set_page_order() and nr_free++ do. */
static void add_free_block(struct mm_buddy *b, unsigned zone, mm_pfn_t pfn,
                           unsigned order, bool tail)
{
    struct free_area *fa = area_of(b, zone, order);
    int32_t idx = b->spare;
    struct free_block *n;

    assert(idx != NIL);
    if (b->track != NULL) {
        int32_t old = free_node(b, pfn);

        track(b, false, pfn, old != NIL, old != NIL ? b->node[old].order : 0, 0);
        b->track->lists |= 1ull << (zone * 16 + order);
    }
    n = &b->node[idx];
    b->spare = n->next;
    *n = (struct free_block){ pfn, NIL, NIL, (uint8_t)order, (uint8_t)zone, true };
    if (fa->head == NIL) {
        fa->head = fa->tail = idx;
    } else if (tail) {
        n->prev = fa->tail;
        b->node[fa->tail].next = idx;
        fa->tail = idx;
    } else {
        n->next = fa->head;
        b->node[fa->head].prev = idx;
        fa->head = idx;
    }
    fa->nr_free++;
    b->zone[zone].free += 1u << order;
    b->node_live++;
    map_put(&b->free_map, pfn, (uint32_t)idx);
}

/* list_del() + rmv_page_order() + nr_free--: the block leaves the lists. */
static void del_free_block(struct mm_buddy *b, int32_t idx)
{
    struct free_block *n = &b->node[idx];
    struct free_area *fa = area_of(b, n->zone, n->order);

    if (b->track != NULL) {
        track(b, false, n->pfn, true, n->order, 0);
        b->track->lists |= 1ull << (n->zone * 16 + n->order);
    }
    if (n->prev != NIL)
        b->node[n->prev].next = n->next;
    else
        fa->head = n->next;
    if (n->next != NIL)
        b->node[n->next].prev = n->prev;
    else
        fa->tail = n->prev;
    fa->nr_free--;
    b->zone[n->zone].free -= 1u << n->order;
    b->node_live--;
    map_del(&b->free_map, n->pfn);
    *n = (struct free_block){ .pfn = NO_PFN, .prev = NIL, .next = b->spare };
    b->spare = idx;
}

/* The node of the free block headed at @pfn, or NIL. */
static int32_t free_node(const struct mm_buddy *b, mm_pfn_t pfn)
{
    uint32_t v;

    return map_get(&b->free_map, pfn, &v) ? (int32_t)v : NIL;
}

/* ------------------------------------------------------------------ */
/* Zones                                                               */
/* ------------------------------------------------------------------ */

/* page_zonenum() by the zone boundaries (meaningful for RAM pfns). */
static unsigned zone_of(const struct mm_buddy *b, mm_pfn_t pfn)
{
    if (pfn < b->dma_end && b->zone[MM_ZONE_DMA].populated)
        return MM_ZONE_DMA;
    if (pfn < b->max_low)
        return MM_ZONE_NORMAL;
    return MM_ZONE_HIGHMEM;
}

/* A zone index the kernel has: DMA only with CONFIG_ZONE_DMA (a DMA size),
 * HighMem only with CONFIG_HIGHMEM; Normal always.  An empty one (no
 * highmem RAM, or DMA covering all lowmem) falls back downwards. */
static bool zone_requestable(const struct mm_buddy *b, unsigned zone)
{
    switch (zone) {
    case MM_ZONE_DMA:
        return b->zone[MM_ZONE_DMA].populated;
    case MM_ZONE_NORMAL:
        return true;
    case MM_ZONE_HIGHMEM:
        return b->highmem_config || b->zone[MM_ZONE_HIGHMEM].populated;
    default:
        return false;
    }
}

/* A region's first whole page (memblock regions are page aligned; round
 * inwards all the same, as PFN_UP/PFN_DOWN do). */
static mm_pfn_t region_start_pfn(const struct mm_region *r)
{
    return (mm_pfn_t)(((uint64_t)r->start + MM_PAGE_SIZE - 1) >> MM_PAGE_SHIFT);
}

/* The pfn just past a region's last whole page. */
static mm_pfn_t region_end_pfn(const struct mm_region *r)
{
    return (mm_pfn_t)(r->end >> MM_PAGE_SHIFT);
}

/* RAM pages in [@s, @e). */
static uint32_t ram_pages_in(const struct mm_layout *lay, mm_pfn_t s, mm_pfn_t e)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < lay->nr_regions; i++) {
        mm_pfn_t rs = region_start_pfn(&lay->regions[i]);
        mm_pfn_t re = region_end_pfn(&lay->regions[i]);

        if (rs < s)
            rs = s;
        if (re > e)
            re = e;
        if (rs < re)
            n += re - rs;
    }
    return n;
}

uint32_t mm__ram_pages_in(const struct mm_layout *lay, mm_pfn_t s, mm_pfn_t e)
{
    return ram_pages_in(lay, s, e);
}

/* The first reserved range that ends after @pfn (nresv if none). */
static size_t resv_from(const struct mm_buddy *b, mm_pfn_t pfn)
{
    size_t lo = 0, hi = b->nresv;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (b->resv[mid].end <= pfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Boot-reserved pages in [@s, @e) (RAM or not). */
static uint32_t resv_pages_in(const struct mm_buddy *b, mm_pfn_t s, mm_pfn_t e)
{
    uint32_t n = 0;

    for (size_t i = resv_from(b, s); i < b->nresv && b->resv[i].start < e; i++) {
        mm_pfn_t rs = b->resv[i].start > s ? b->resv[i].start : s;
        mm_pfn_t re = b->resv[i].end < e ? b->resv[i].end : e;

        n += re - rs;
    }
    return n;
}

/* Boot-reserved RAM pages in [@s, @e). */
static uint32_t resv_ram_pages_in(const struct mm_buddy *b, const struct mm_layout *lay,
                                  mm_pfn_t s, mm_pfn_t e)
{
    uint32_t n = 0;

    for (size_t i = resv_from(b, s); i < b->nresv && b->resv[i].start < e; i++) {
        mm_pfn_t rs = b->resv[i].start > s ? b->resv[i].start : s;
        mm_pfn_t re = b->resv[i].end < e ? b->resv[i].end : e;

        n += ram_pages_in(lay, rs, re);
    }
    return n;
}

/* Whether @pfn is in a boot-reserved range. */
static bool is_reserved(const struct mm_buddy *b, mm_pfn_t pfn)
{
    size_t i = resv_from(b, pfn);

    return i < b->nresv && b->resv[i].start <= pfn;
}

/* ------------------------------------------------------------------ */
/* The allocator proper                                                */
/* ------------------------------------------------------------------ */

/* __free_one_page(): merge with the buddy while it is a free block of the
 * same order in the same zone, then add to the list head, or to the tail
 * if the buddy one order up is free (it may merge soon).
 * KERNEL: 3.4 mm/page_alloc.c __free_one_page(), page_is_buddy().  The
 * higher buddy is found from the combined block, as a 3.4.39 tree has it
 * (allwinner-zh/linux-3.4-sunxi); 3.4.0 (msm-3.4) found it from the freed
 * page, so an upper half never went to the tail (fixed upstream in 2012). */
static void free_one_page(struct mm_buddy *b, unsigned zone, mm_pfn_t pfn, unsigned order)
{
    bool tail = false;

    assert((pfn & ((1u << order) - 1)) == 0);
    while (order < b->top) {
        mm_pfn_t buddy = pfn ^ (1u << order);
        int32_t idx = free_node(b, buddy);

        if (idx == NIL || b->node[idx].order != order || b->node[idx].zone != zone)
            break;
        del_free_block(b, idx);
        pfn &= buddy; /* combined_idx = buddy_idx & page_idx */
        order++;
    }
    if (order < b->top - 1) { /* KERNEL: order < MAX_ORDER-2 */
        mm_pfn_t higher_page = pfn & ~(1u << order);
        mm_pfn_t higher_buddy = higher_page ^ (1u << (order + 1));
        int32_t idx = free_node(b, higher_buddy);

        tail = idx != NIL && b->node[idx].order == order + 1 &&
               b->node[idx].zone == zone_of(b, higher_page);
    }
    add_free_block(b, zone, pfn, order, tail);
}

/* expand(): the upper halves of a split block go to the lower lists' heads,
 * largest first. */
static void expand(struct mm_buddy *b, unsigned zone, mm_pfn_t pfn, unsigned low,
                   unsigned high)
{
    uint32_t size = 1u << high;

    while (high > low) {
        high--;
        size >>= 1;
        add_free_block(b, zone, pfn + size, high, false);
    }
}

/* __rmqueue_smallest(): the head of the smallest non-empty list at or above
 * @order, split down to @order; NO_PFN if the zone has none. */
static mm_pfn_t rmqueue_smallest(struct mm_buddy *b, unsigned zone, unsigned order)
{
    for (unsigned o = order; o <= b->top; o++) {
        int32_t idx = area_of(b, zone, o)->head;
        mm_pfn_t pfn;

        if (idx == NIL)
            continue;
        pfn = b->node[idx].pfn;
        del_free_block(b, idx);
        expand(b, zone, pfn, order, o);
        return pfn;
    }
    return NO_PFN;
}

/* The free block containing @pfn: its node, or NIL.  Heads are aligned to
 * their order, so only top + 1 heads can contain a pfn. */
static int32_t free_block_at(const struct mm_buddy *b, mm_pfn_t pfn)
{
    for (unsigned k = 0; k <= b->top; k++) {
        int32_t idx = free_node(b, pfn & ~((1u << k) - 1));

        if (idx != NIL && pfn - b->node[idx].pfn < (1u << b->node[idx].order))
            return idx;
    }
    return NIL;
}

/* The allocated block containing @pfn; false if there is none. */
static bool used_block_at(const struct mm_buddy *b, mm_pfn_t pfn, mm_pfn_t *head,
                          unsigned *order, enum mm_owner *owner)
{
    for (unsigned k = 0; k <= b->top; k++) {
        mm_pfn_t h = pfn & ~((1u << k) - 1);
        uint32_t v;

        if (umap_get(&b->used_map, h, &v) && pfn - h < (1u << (v & 0xff))) {
            *head = h;
            *order = v & 0xff;
            *owner = (enum mm_owner)(v >> 8);
            return true;
        }
    }
    return false;
}

/* __free_pages_memory(): cut [@s, @e) into the largest naturally aligned
 * blocks and free each, upwards.  KERNEL: mm/nobootmem.c after 2013 (3.4's
 * cut 32-page words; the outcome is the same, see the file comment). */
static bool free_pages_memory(struct mm_buddy *b, unsigned zone, mm_pfn_t s, mm_pfn_t e)
{
    while (s < e) {
        unsigned order = 0;

        while (order < b->top && (s & (1u << order)) == 0)
            order++;
        while (order > 0 && (uint64_t)s + (1u << order) > e)
            order--; /* order 0 always fits: s < e */
        if (!reserve_for_op(b))
            return false;
        free_one_page(b, zone, s, order);
        b->zone[zone].managed += 1u << order;
        s += 1u << order;
    }
    return true;
}

/* Frees the pages of [@s, @e) (RAM, one zone) that are not reserved. */
static bool free_unreserved(struct mm_buddy *b, unsigned zone, mm_pfn_t s, mm_pfn_t e)
{
    for (size_t i = 0; i < b->nresv && s < e; i++) {
        const struct pfn_range *r = &b->resv[i];

        if (r->end <= s)
            continue;
        if (r->start >= e)
            break;
        if (r->start > s && !free_pages_memory(b, zone, s, r->start))
            return false;
        s = r->end;
    }
    return s >= e || free_pages_memory(b, zone, s, e);
}

/* Copies the reserved byte ranges as pfn ranges, widened to whole pages
 * (a page is reserved if any byte of it is) and merged. */
static bool copy_reserved(struct mm_buddy *b, const struct mm_range32 *r, size_t n)
{
    if (n == 0)
        return true;
    b->resv = malloc(n * sizeof(*b->resv));
    if (b->resv == NULL)
        return false;
    b->nresv = 0;
    for (size_t i = 0; i < n; i++) {
        mm_pfn_t s = MM_PFN(r[i].start);
        mm_pfn_t e = (mm_pfn_t)((r[i].end + MM_PAGE_SIZE - 1) >> MM_PAGE_SHIFT);

        assert(r[i].start < r[i].end);
        assert(i == 0 || r[i].start >= r[i - 1].end);
        if (b->nresv > 0 && s <= b->resv[b->nresv - 1].end)
            b->resv[b->nresv - 1].end = e;
        else
            b->resv[b->nresv++] = (struct pfn_range){ s, e };
    }
    return true;
}

/* The zones as the layout draws them. */
static void setup_zones(struct mm_buddy *b, const struct mm_machine *m)
{
    const struct mm_layout *lay = &m->lay;
    const mm_pfn_t bound[MM_NR_ZONES + 1] = {
        lay->min_pfn,
        lay->dma_end_pfn,
        lay->max_low_pfn,
        lay->max_pfn,
    };

    /* KERNEL: 6.1 include/linux/mmzone.h MAX_ORDER (CONFIG_ARCH_FORCE_MAX_ORDER) */
    b->top = mm__config_buddy_orders(&m->cfg) - 1;
    b->dma_end = lay->dma_end_pfn;
    b->max_low = lay->max_low_pfn;
    b->highmem_config = m->cfg.highmem;
    for (unsigned z = 0; z < MM_NR_ZONES; z++) {
        struct bzone *zn = &b->zone[z];

        zn->start = bound[z];
        zn->end = bound[z + 1];
        zn->populated = zn->start < zn->end;
        if (!zn->populated)
            zn->start = zn->end = 0;
        else
            zn->present = ram_pages_in(lay, zn->start, zn->end);
        for (unsigned o = 0; o <= b->top; o++)
            zn->area[o] = (struct free_area){ NIL, NIL, 0 };
    }
    for (unsigned i = 0; i < lay->nr_regions; i++)
        b->ram_pages += region_end_pfn(&lay->regions[i]) -
                        region_start_pfn(&lay->regions[i]);
}

enum mm_status mm__buddy_init(struct mm_machine *m, const struct mm_range32 *reserved,
                              size_t nreserved)
{
    const struct mm_layout *lay;
    struct mm_buddy *b;
    uint32_t managed = 0;

    assert(m != NULL && (reserved != NULL || nreserved == 0));
    lay = &m->lay;
    assert(lay->min_pfn <= lay->dma_end_pfn && lay->dma_end_pfn <= lay->max_low_pfn &&
           lay->max_low_pfn <= lay->max_pfn);
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return MM_NO_MEMORY;
    b->spare = NIL;
    setup_zones(b, m);
    if (!map_init(&b->free_map, MIN_BITS) || !umap_reserve(&b->used_map) ||
        !copy_reserved(b, reserved, nreserved))
        goto oom;
    for (unsigned i = 0; i < lay->nr_regions; i++) {
        mm_pfn_t rs = region_start_pfn(&lay->regions[i]);
        mm_pfn_t re = region_end_pfn(&lay->regions[i]);

        for (unsigned z = 0; z < MM_NR_ZONES; z++) {
            const struct bzone *zn = &b->zone[z];
            mm_pfn_t s = rs > zn->start ? rs : zn->start;
            mm_pfn_t e = re < zn->end ? re : zn->end;

            if (zn->populated && s < e && !free_unreserved(b, z, s, e))
                goto oom;
        }
    }
    for (unsigned z = 0; z < MM_NR_ZONES; z++)
        managed += b->zone[z].managed;
    b->reserved_pages = b->ram_pages - managed;
    m->buddy = b;
    return MM_OK;
oom:
    mm__buddy_destroy(b);
    return MM_NO_MEMORY;
}

struct mm_buddy *mm__buddy_clone(const struct mm_buddy *b)
{
    struct mm_buddy *c;

    assert(b != NULL);
    c = malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    *c = *b;
    c->node = NULL;
    c->resv = NULL;
    c->track = NULL;
    c->free_map.s = NULL;
    memset(&c->used_map, 0, sizeof(c->used_map));
    if (b->track != NULL) { /* a clone carries its original's record */
        c->track = malloc(sizeof(*c->track));
        if (c->track == NULL)
            goto oom;
        memcpy(c->track, b->track, sizeof(*c->track));
    }
    if (b->node_cap > 0) {
        c->node = malloc(b->node_cap * sizeof(*c->node));
        if (c->node == NULL)
            goto oom;
        memcpy(c->node, b->node, b->node_cap * sizeof(*c->node));
    }
    if (b->nresv > 0) {
        c->resv = malloc(b->nresv * sizeof(*c->resv));
        if (c->resv == NULL)
            goto oom;
        memcpy(c->resv, b->resv, b->nresv * sizeof(*c->resv));
    }
    if (!map_clone(&c->free_map, &b->free_map) || !umap_clone(&c->used_map, &b->used_map))
        goto oom;
    return c;
oom:
    mm__buddy_destroy(c);
    return NULL;
}

void mm__buddy_destroy(struct mm_buddy *b)
{
    if (b == NULL)
        return;
    free(b->node);
    free(b->free_map.s);
    umap_free(&b->used_map);
    free(b->resv);
    free(b->track);
    free(b);
}

bool mm__pfn_valid(const struct mm_machine *m, mm_pfn_t pfn)
{
    assert(m != NULL);
    for (unsigned i = 0; i < m->lay.nr_regions; i++) {
        if (pfn >= region_start_pfn(&m->lay.regions[i]) &&
            pfn < region_end_pfn(&m->lay.regions[i]))
            return true;
    }
    return false;
}

/* KERNEL: 3.4 PageHighMem(page) <=> pfn >= max_low (arch/arm/mm/init.c). */
bool mm__pfn_highmem(const struct mm_machine *m, mm_pfn_t pfn)
{
    assert(m != NULL);
    return pfn >= m->lay.max_low_pfn;
}

enum mm_zone mm__pfn_zone(const struct mm_machine *m, mm_pfn_t pfn)
{
    assert(m != NULL);
    if (pfn < m->lay.dma_end_pfn && m->lay.dma_end_pfn > m->lay.min_pfn)
        return MM_ZONE_DMA;
    if (pfn < m->lay.max_low_pfn)
        return MM_ZONE_NORMAL;
    return MM_ZONE_HIGHMEM;
}

void mm__page_info(const struct mm_machine *m, mm_pfn_t pfn, struct mm_page_info *pi)
{
    const struct mm_buddy *b;
    int32_t idx;

    assert(m != NULL && m->buddy != NULL && pi != NULL);
    b = m->buddy;
    memset(pi, 0, sizeof(*pi));
    pi->zone = mm__pfn_zone(m, pfn);
    pi->state = MM_PAGE_HOLE;
    if (!mm__pfn_valid(m, pfn))
        return;
    pi->state = MM_PAGE_RESERVED;
    if (is_reserved(b, pfn))
        return;
    /* The allocated blocks first: their map is a byte per pfn, where the
     * free blocks' is a hash probed at all 11 heads, and the checks ask
     * mostly about allocated pages (each vmalloc page).  Blocks never
     * overlap (mm__buddy_check() says so), so the order changes no answer. */
    if (used_block_at(b, pfn, &pi->head, &pi->order, &pi->owner)) {
        pi->state = MM_PAGE_USED;
        return;
    }
    idx = free_block_at(b, pfn);
    if (idx != NIL) {
        pi->state = MM_PAGE_FREE;
        pi->head = b->node[idx].pfn;
        pi->order = b->node[idx].order;
    }
    /* else: RAM in no block, which mm__buddy_check() reports; RESERVED
     * is the nearest true answer (the allocator does not have it). */
}

/* Whether a populated zone lies below @zone (for the message). */
static bool zone_below(const struct mm_buddy *b, unsigned zone)
{
    for (unsigned z = 0; z < zone; z++) {
        if (b->zone[z].populated)
            return true;
    }
    return false;
}

enum mm_status mm__alloc_pages(struct mm_machine *m, enum mm_zone zone, unsigned order,
                               enum mm_owner owner, mm_pfn_t *pfn, const char *op,
                               char msg[MM_MSG_MAX])
{
    struct mm_buddy *b;

    assert(m != NULL && m->buddy != NULL && pfn != NULL && op != NULL && msg != NULL);
    assert(owner > MM_OWN_NONE && owner < MM_OWN_COUNT);
    b = m->buddy;
    if ((unsigned)zone >= MM_NR_ZONES)
        return mm__fail(msg, MM_INVALID_ARGUMENT,
                        "%s: zone %u does not exist (0 DMA, 1 Normal, 2 HighMem)", op,
                        (unsigned)zone);
    if (order > b->top)
        return mm__fail(msg, MM_INVALID_ARGUMENT, "%s: order %u is out of range (0-%u)",
                        op, order, b->top);
    if (!zone_requestable(b, zone))
        return mm__fail(msg, MM_INVALID_ARGUMENT,
                        "%s: zone %s does not exist on this machine", op,
                        zone_names[zone]);
    if (!reserve_for_op(b))
        return mm__fail(msg, MM_NO_MEMORY, "%s: out of host memory", op);
    /* The zonelist: the preferred zone, then each lower one. */
    for (int z = (int)zone; z >= 0; z--) {
        mm_pfn_t p;

        if (!b->zone[z].populated)
            continue;
        p = rmqueue_smallest(b, (unsigned)z, order);
        if (p != NO_PFN) {
            uint32_t v = 0;

            track(b, true, p, umap_get(&b->used_map, p, &v), v & 0xff, v >> 8);
            umap_put(&b->used_map, p, order | (uint32_t)owner << 8);
            b->owned[owner] += 1u << order;
            *pfn = p;
            return MM_OK;
        }
    }
    return mm__fail(msg, MM_NO_MEMORY, "%s: no free block of order %u in zone %s%s", op,
                    order, zone_names[zone], zone_below(b, zone) ? " or below" : "");
}

enum mm_status mm__free_pages(struct mm_machine *m, mm_pfn_t pfn, unsigned order,
                              enum mm_owner owner, const char *op, char msg[MM_MSG_MAX])
{
    struct mm_buddy *b;
    mm_pfn_t head;
    unsigned held_order;
    enum mm_owner held_by;

    assert(m != NULL && m->buddy != NULL && op != NULL && msg != NULL);
    assert(owner > MM_OWN_NONE && owner < MM_OWN_COUNT);
    b = m->buddy;
    if (order > b->top)
        return mm__fail(msg, MM_INVALID_ARGUMENT, "%s: order %u is out of range (0-%u)",
                        op, order, b->top);
    if (!mm__pfn_valid(m, pfn))
        return mm__fail(msg, MM_INVALID_ARGUMENT, "%s: pfn 0x%x is not RAM", op, pfn);
    if (is_reserved(b, pfn))
        return mm__fail(msg, MM_INVALID_ARGUMENT, "%s: pfn 0x%x is reserved", op, pfn);
    /* The allocated blocks first, as mm__page_info() asks: a block's head
     * is one byte of their map, where finding a pfn in no free block probes
     * the free blocks' hash at all top + 1 heads, on every free.  Blocks
     * never overlap (mm__buddy_check() says so), so a pfn in an allocated
     * block is in no free one and the order of the checks changes no
     * answer. */
    if (!used_block_at(b, pfn, &head, &held_order, &held_by)) {
        if (free_block_at(b, pfn) != NIL)
            return mm__fail(msg, MM_NOT_FOUND, "%s: pfn 0x%x is already free", op, pfn);
        return mm__fail(msg, MM_INTERNAL, "%s: pfn 0x%x is in no block", op, pfn);
    }
    if (held_by != owner)
        return mm__fail(msg, MM_INVALID_ARGUMENT, "%s: pfn 0x%x is held by %s, not by %s",
                        op, pfn, owner_names[held_by], owner_names[owner]);
    if (head != pfn)
        return mm__fail(msg, MM_INVALID_ARGUMENT,
                        "%s: pfn 0x%x is not the head of its block "
                        "(the order-%u block at pfn 0x%x)",
                        op, pfn, held_order, head);
    if (held_order != order)
        return mm__fail(msg, MM_INVALID_ARGUMENT,
                        "%s: pfn 0x%x heads an order-%u block, not order %u", op, pfn,
                        held_order, order);
    if (!reserve_for_op(b))
        return mm__fail(msg, MM_NO_MEMORY, "%s: out of host memory", op);
    track(b, true, pfn, true, held_order, held_by);
    umap_del(&b->used_map, pfn);
    b->owned[owner] -= 1u << order;
    free_one_page(b, zone_of(b, pfn), pfn, order);
    return MM_OK;
}

void mm__buddy_stats(const struct mm_machine *m, struct mm_stats *st)
{
    const struct mm_buddy *b;

    assert(m != NULL && m->buddy != NULL && st != NULL);
    b = m->buddy;
    memset(st->zone, 0, sizeof(st->zone));
    st->nr_zones = 0;
    for (unsigned z = 0; z < MM_NR_ZONES; z++) {
        const struct bzone *zn = &b->zone[z];
        struct mm_zone_stats *zs;

        if (!zn->populated)
            continue;
        zs = &st->zone[st->nr_zones++];
        zs->name = zone_names[z];
        zs->start_pfn = zn->start;
        zs->end_pfn = zn->end;
        zs->present = zn->present;
        zs->managed = zn->managed;
        zs->free = zn->free;
        for (unsigned o = 0; o <= b->top; o++)
            zs->nr_free[o] = zn->area[o].nr_free;
    }
    st->nr_orders = b->top + 1;
    st->ram_pages = b->ram_pages;
    st->reserved_pages = b->reserved_pages;
}

/* Free and managed pages of @zone; both 0 where it is not populated. */
void mm__buddy_zone_pages(const struct mm_machine *m, enum mm_zone zone, uint32_t *free,
                          uint32_t *managed)
{
    const struct bzone *zn;

    assert(m != NULL && m->buddy != NULL && (unsigned)zone < MM_NR_ZONES);
    zn = &m->buddy->zone[zone];
    *free = zn->populated ? zn->free : 0;
    *managed = zn->populated ? zn->managed : 0;
}

/* An allocated block, for the sorted walk. */
void mm__buddy_foreach_used(const struct mm_machine *m,
                            void (*fn)(void *arg, mm_pfn_t pfn, unsigned order,
                                       enum mm_owner owner),
                            void *arg)
{
    const struct used_map *u;

    assert(m != NULL && m->buddy != NULL && fn != NULL);
    u = &m->buddy->used_map;
    for (mm_pfn_t p = umap_next(u, 0); p != NO_PFN; p = umap_next(u, p + 1)) {
        uint32_t v = 0;

        umap_get(u, p, &v);
        fn(arg, p, v & 0xff, (enum mm_owner)(v >> 8));
    }
}

uint32_t mm__buddy_owned_pages(const struct mm_machine *m, enum mm_owner owner)
{
    assert(m != NULL && m->buddy != NULL && owner < MM_OWN_COUNT);
    return m->buddy->owned[owner];
}

size_t mm__buddy_host_bytes(const struct mm_buddy *b)
{
    if (b == NULL)
        return 0;
    return sizeof(*b) + b->node_cap * sizeof(*b->node) +
           (map_mask(&b->free_map) + 1) * sizeof(struct slot) +
           (size_t)b->used_map.nchunks * UCHUNK + b->nresv * sizeof(*b->resv) +
           (b->track != NULL ? sizeof(*b->track) : 0);
}

/* ------------------------------------------------------------------ */
/* Consistency check                                                   */
/* ------------------------------------------------------------------ */

/* Sorts @bits-bit keys by 8-bit counting passes; returns the buffer
 * (@a or @tmp) that holds the result.  Linear, where qsort() with its
 * callback would dominate the check. */
static uint32_t *radix_sort(uint32_t *a, uint32_t *tmp, size_t n, unsigned bits)
{
    for (unsigned shift = 0; shift < bits; shift += 8) {
        size_t start[257] = { 0 };
        uint32_t *t;

        for (size_t i = 0; i < n; i++)
            start[((a[i] >> shift) & 0xff) + 1]++;
        for (unsigned d = 1; d <= 256; d++)
            start[d] += start[d - 1];
        for (size_t i = 0; i < n; i++)
            tmp[start[(a[i] >> shift) & 0xff]++] = a[i];
        t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* Every block, free or allocated, as pfn << 4 | order into @key (room for
 * @n); false if the counts do not match what is there or an order is bad. */
static enum mm_status collect_blocks(const struct mm_buddy *b, uint32_t *key, size_t n,
                                     size_t *nfree, char err[MM_MSG_MAX])
{
    const struct used_map *u = &b->used_map;
    size_t k = 0;

    for (uint32_t i = 0; i < b->node_cap; i++) {
        const struct free_block *fb = &b->node[i];

        if (!fb->live)
            continue;
        if (k == n || fb->order > b->top)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: bad free block node for pfn 0x%x "
                            "(order %u, %u nodes counted live)",
                            fb->pfn, fb->order, b->node_live);
        key[k++] = fb->pfn << 4 | fb->order;
    }
    *nfree = k;
    for (mm_pfn_t p = umap_next(u, 0); p != NO_PFN; p = umap_next(u, p + 1)) {
        uint32_t v = 0;

        umap_get(u, p, &v);
        if (k == n || (v & 0xff) > b->top)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: bad allocated block at pfn 0x%x "
                            "(order %u, %u blocks counted)",
                            p, v & 0xff, u->count);
        key[k++] = p << 4 | (v & 0xff);
    }
    if (k != n)
        return mm__fail(err, MM_INTERNAL, "buddy: %zu blocks found, %zu counted", k, n);
    return MM_OK;
}

/* No two blocks, free or allocated, share a page: sorted by head, each
 * must end before the next begins.  MM_NO_MEMORY if the sort arrays cannot
 * be had, or for a few blocks, where probing each block's possible heads
 * (the caller's fallback) costs less than the sort.  Unless MM_NO_MEMORY,
 * *@heads: the allocated blocks' heads ascending, as the used map's walk
 * gives them (NULL if that array cannot be had), *@nheads of them; the
 * caller frees it.  check_used() reads them instead of walking the map a
 * second time (the walk was most of the buddy check's time). */
static enum mm_status check_overlaps(const struct mm_buddy *b, mm_pfn_t **heads,
                                     size_t *nheads, char err[MM_MSG_MAX])
{
    size_t n = (size_t)b->node_live + b->used_map.count, nfree = 0;
    uint32_t *key, *tmp, *v, prev = 0;
    enum mm_status st;

    *heads = NULL;
    *nheads = 0;
    if (n <= SWEEP_MIN)
        return MM_NO_MEMORY;
    key = malloc((n + 1) * sizeof(*key));
    tmp = malloc((n + 1) * sizeof(*tmp));
    if (key == NULL || tmp == NULL) {
        free(key);
        free(tmp);
        return MM_NO_MEMORY;
    }
    st = collect_blocks(b, key, n, &nfree, err);
    if (st == MM_OK && (*heads = malloc((n - nfree + 1) * sizeof(**heads))) != NULL) {
        *nheads = n - nfree;
        for (size_t i = 0; i < *nheads; i++)
            (*heads)[i] = key[nfree + i] >> 4;
    }
    /* The allocated blocks' keys are ascending already (the map's walk):
     * only the free ones are sorted, and the two merged in the sweep. */
    v = st == MM_OK ? radix_sort(key, tmp, nfree, 24) : key;
    for (size_t i = 0, j = nfree, k = 0; k < n && st == MM_OK; k++) {
        uint32_t cur = j == n || (i < nfree && v[i] < key[j]) ? v[i++] : key[j++];

        if (k > 0 && (cur >> 4) < (prev >> 4) + (1u << (prev & 0xf)))
            st = mm__fail(err, MM_INTERNAL,
                          "buddy: the order-%u block at pfn 0x%x "
                          "overlaps the order-%u block at pfn 0x%x",
                          cur & 0xf, cur >> 4, prev & 0xf, prev >> 4);
        prev = cur;
    }
    free(key);
    free(tmp);
    return st;
}

/* Another block (free or allocated) that contains @pfn, other than the
 * block under test (@self_node for a free one, @self_used for an allocated
 * one).  Blocks are aligned, so two overlap only if one holds the other's
 * head: checking every block's head finds every overlap. */
static bool other_block_at(const struct mm_buddy *b, mm_pfn_t pfn, int32_t self_node,
                           bool self_used, mm_pfn_t *other)
{
    for (unsigned k = 0; k <= b->top; k++) {
        mm_pfn_t h = pfn & ~((1u << k) - 1);
        int32_t idx = free_node(b, h);
        uint32_t v;

        if (idx != NIL && idx != self_node && pfn - h < (1u << b->node[idx].order)) {
            *other = h;
            return true;
        }
        if (umap_get(&b->used_map, h, &v) && !(self_used && h == pfn) &&
            pfn - h < (1u << (v & 0xff))) {
            *other = h;
            return true;
        }
    }
    return false;
}

/* What every block, free or allocated, must satisfy; @probe: look for
 * overlapping blocks here (when the sorted sweep could not run). */
static enum mm_status check_block(const struct mm_machine *m, const char *what,
                                  mm_pfn_t pfn, unsigned order, unsigned zone,
                                  int32_t self_node, bool probe, char err[MM_MSG_MAX])
{
    const struct mm_buddy *b = m->buddy;
    const struct bzone *zn = &b->zone[zone];
    uint64_t end = (uint64_t)pfn + (1u << order);
    mm_pfn_t other;

    if (order > b->top)
        return mm__fail(err, MM_INTERNAL, "buddy: %s block at pfn 0x%x has order %u",
                        what, pfn, order);
    if ((pfn & ((1u << order) - 1)) != 0)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %s block at pfn 0x%x is not aligned to its order %u",
                        what, pfn, order);
    if (!zn->populated || pfn < zn->start || end > zn->end || zone_of(b, pfn) != zone)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %s order-%u block at pfn 0x%x is not inside zone %s",
                        what, order, pfn, zone_names[zone]);
    if (ram_pages_in(&m->lay, pfn, (mm_pfn_t)end) != (1u << order))
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %s order-%u block at pfn 0x%x is not all RAM", what,
                        order, pfn);
    if (resv_pages_in(b, pfn, (mm_pfn_t)end) != 0)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %s order-%u block at pfn 0x%x overlaps reserved pages",
                        what, order, pfn);
    if (probe && other_block_at(b, pfn, self_node, self_node == NIL, &other))
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %s order-%u block at pfn 0x%x overlaps the block at "
                        "pfn 0x%x",
                        what, order, pfn, other);
    return MM_OK;
}

/* One free list: links, node fields, and with @blocks the blocks
 * themselves and unmerged buddies.  Adds the pages it holds to *@pages and
 * its length to *@nodes. */
static enum mm_status check_list(const struct mm_machine *m, unsigned zone,
                                 unsigned order, bool blocks, bool probe, uint32_t *pages,
                                 uint32_t *nodes, char err[MM_MSG_MAX])
{
    const struct mm_buddy *b = m->buddy;
    const struct free_area *fa = &b->zone[zone].area[order];
    int32_t prev = NIL, idx = fa->head;
    uint32_t len = 0;

    for (; idx != NIL; prev = idx, idx = b->node[idx].next) {
        const struct free_block *n;
        int32_t bud;
        enum mm_status st;

        if (idx < 0 || (uint32_t)idx >= b->node_cap || len >= b->node_cap)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: %s order-%u free list is broken at node %d",
                            zone_names[zone], order, (int)idx);
        n = &b->node[idx];
        if (!n->live || n->prev != prev || n->zone != zone || n->order != order)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: %s order-%u free list holds a bad node for pfn 0x%x",
                            zone_names[zone], order, n->pfn);
        if (free_node(b, n->pfn) != idx)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: free block at pfn 0x%x is missing from the free map",
                            n->pfn);
        if (!blocks) {
            len++;
            continue;
        }
        st = check_block(m, "free", n->pfn, order, zone, idx, probe, err);
        if (st != MM_OK)
            return st;
        bud = order < b->top ? free_node(b, n->pfn ^ (1u << order)) : NIL;
        if (bud != NIL && b->node[bud].order == order && b->node[bud].zone == zone)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: order-%u buddies at pfn 0x%x and 0x%x are both free",
                            order, n->pfn, b->node[bud].pfn);
        len++;
    }
    if (fa->tail != prev || len != fa->nr_free)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %s order-%u free list has %u blocks, nr_free says %u",
                        zone_names[zone], order, len, fa->nr_free);
    *pages += len << order;
    *nodes += len;
    return MM_OK;
}

/* The allocated block's head after @p (the first: NO_PFN), from @heads
 * (*@j the index of @p) if check_overlaps() gave them, else from the map. */
static mm_pfn_t next_head(const struct used_map *mp, const mm_pfn_t *heads, size_t nheads,
                          size_t *j, mm_pfn_t p)
{
    if (heads == NULL)
        return umap_next(mp, p == NO_PFN ? 0 : p + 1);
    if (p != NO_PFN)
        ++*j;
    return *j < nheads ? heads[*j] : NO_PFN;
}

/* Every allocated block (@heads: see check_overlaps()); adds its pages
 * to @used per zone. */
static enum mm_status check_used(const struct mm_machine *m, bool probe,
                                 const mm_pfn_t *heads, size_t nheads,
                                 uint32_t used[MM_NR_ZONES], char err[MM_MSG_MAX])
{
    const struct mm_buddy *b = m->buddy;
    const struct used_map *mp = &b->used_map;
    uint32_t n = 0, owned[MM_OWN_COUNT] = { 0 };
    size_t j = 0;

    for (mm_pfn_t p = next_head(mp, heads, nheads, &j, NO_PFN); p != NO_PFN;
         p = next_head(mp, heads, nheads, &j, p)) {
        uint32_t v = 0;
        unsigned order, owner, zone;
        enum mm_status st;

        umap_get(mp, p, &v);
        order = v & 0xff;
        owner = v >> 8;
        n++;
        if (owner == MM_OWN_NONE || owner >= MM_OWN_COUNT)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: allocated block at pfn 0x%x has owner %u", p, owner);
        zone = zone_of(b, p);
        st = check_block(m, "allocated", p, order, zone, NIL, probe, err);
        if (st != MM_OK)
            return st;
        used[zone] += 1u << order;
        owned[owner] += 1u << order;
    }
    if (n != mp->count)
        return mm__fail(err, MM_INTERNAL, "buddy: %u allocated blocks, the map counts %u",
                        n, mp->count);
    for (unsigned o = 0; o < MM_OWN_COUNT; o++) {
        if (owned[o] != b->owned[o])
            return mm__fail(err, MM_INTERNAL, "buddy: %s holds %u pages, counted %u",
                            owner_names[o], owned[o], b->owned[o]);
    }
    return MM_OK;
}

/* Per zone: the span, present, and free + allocated + reserved == RAM. */
static enum mm_status check_zone(const struct mm_machine *m, unsigned zone,
                                 uint32_t list_pages, uint32_t used, char err[MM_MSG_MAX])
{
    const struct mm_buddy *b = m->buddy;
    const struct bzone *zn = &b->zone[zone];
    const mm_pfn_t bound[MM_NR_ZONES + 1] = {
        m->lay.min_pfn,
        m->lay.dma_end_pfn,
        m->lay.max_low_pfn,
        m->lay.max_pfn,
    };
    uint32_t resv;

    if (zn->populated != (bound[zone] < bound[zone + 1]) ||
        (zn->populated && (zn->start != bound[zone] || zn->end != bound[zone + 1])))
        return mm__fail(err, MM_INTERNAL,
                        "buddy: zone %s does not span the layout's "
                        "[0x%x, 0x%x)",
                        zone_names[zone], bound[zone], bound[zone + 1]);
    if (!zn->populated)
        return MM_OK;
    resv = resv_ram_pages_in(b, &m->lay, zn->start, zn->end);
    if (zn->present != ram_pages_in(&m->lay, zn->start, zn->end))
        return mm__fail(err, MM_INTERNAL,
                        "buddy: zone %s counts %u present pages, "
                        "its span holds %u",
                        zone_names[zone], zn->present,
                        ram_pages_in(&m->lay, zn->start, zn->end));
    if (zn->free != list_pages)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: zone %s counts %u free pages, "
                        "its lists hold %u",
                        zone_names[zone], zn->free, list_pages);
    if ((uint64_t)list_pages + used + resv != zn->present ||
        zn->managed + resv != zn->present)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: zone %s has %u free + %u allocated + "
                        "%u reserved pages, %u present, %u managed",
                        zone_names[zone], list_pages, used, resv, zn->present,
                        zn->managed);
    return MM_OK;
}

/* The free lists' blocks (@nodes) against the nodes live and the free
 * map; RAM against the pages managed (@managed) and reserved. */
static enum mm_status check_totals(const struct mm_machine *m, uint32_t nodes,
                                   uint32_t managed, char err[MM_MSG_MAX])
{
    const struct mm_buddy *b = m->buddy;
    uint32_t ram = 0;

    if (nodes != b->node_live || nodes != b->free_map.count)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %u blocks on the free lists, %u nodes "
                        "live, %u in the free map",
                        nodes, b->node_live, b->free_map.count);
    for (unsigned i = 0; i < m->lay.nr_regions; i++)
        ram += region_end_pfn(&m->lay.regions[i]) - region_start_pfn(&m->lay.regions[i]);
    if (ram != b->ram_pages || b->reserved_pages != ram - managed)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %u RAM pages (%u counted), %u reserved, "
                        "%u managed",
                        ram, b->ram_pages, b->reserved_pages, managed);
    return MM_OK;
}

enum mm_status mm__buddy_check(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_buddy *b;
    uint32_t used[MM_NR_ZONES] = { 0 }, nodes = 0, managed = 0;
    enum mm_status st;
    mm_pfn_t *heads;
    size_t nheads;
    bool probe;

    assert(m != NULL && m->buddy != NULL && err != NULL);
    b = m->buddy;
    st = check_overlaps(b, &heads, &nheads, err);
    if (st != MM_OK && st != MM_NO_MEMORY) {
        free(heads);
        return st;
    }
    probe = st == MM_NO_MEMORY;
    st = check_used(m, probe, heads, nheads, used, err);
    free(heads);
    for (unsigned z = 0; z < MM_NR_ZONES && st == MM_OK; z++) {
        uint32_t pages = 0;

        for (unsigned o = 0; o <= b->top && st == MM_OK; o++)
            st = check_list(m, z, o, true, probe, &pages, &nodes, err);
        if (st == MM_OK)
            st = check_zone(m, z, pages, used[z], err);
        managed += b->zone[z].managed;
    }
    return st == MM_OK ? check_totals(m, nodes, managed, err) : st;
}

/* ------------------------------------------------------------------ */
/* The check of what changed                                           */
/* ------------------------------------------------------------------ */

/* Without host memory for the record nothing is recorded, and
 * mm__buddy_check_since() checks the whole allocator, as it does past
 * TRACK_MAX changes. */
void mm__buddy_track_start(struct mm_buddy *b)
{
    struct track *t = b->track;

    if (t == NULL && (t = b->track = malloc(sizeof(*t))) == NULL)
        return;
    t->overflow = false;
    t->n = 0;
    t->lists = 0;
    for (unsigned z = 0; z < MM_NR_ZONES; z++)
        t->free[z] = b->zone[z].free;
    t->node_live = b->node_live;
    t->used_count = b->used_map.count;
    memcpy(t->owned, b->owned, sizeof(t->owned));
}

bool mm__buddy_tracking(const struct mm_buddy *b)
{
    return b->track != NULL;
}

/* A block as the record knows it: head << 4 | order, and whose it is. */
struct tblock {
    uint32_t key;
    uint8_t used, owner, zone;
};

/* The next run of pages covered by the sorted blocks @a[*@i..@n), their
 * touching neighbours merged: [*@s, *@e); false when none is left. */
static bool next_run(const struct tblock *a, size_t n, size_t *i, uint64_t *s,
                     uint64_t *e)
{
    if (*i == n)
        return false;
    *s = a[*i].key >> 4;
    *e = *s + (1u << (a[*i].key & 0xf));
    for (++*i; *i < n && (a[*i].key >> 4) == *e; ++*i)
        *e += 1u << (a[*i].key & 0xf);
    return true;
}

/* A block changed since the start and there now: as check_block(), and a
 * free one in the free map, its node as its list says, its buddy not
 * free at its order. */
static enum mm_status check_changed(const struct mm_machine *m, const struct tblock *t,
                                    char err[MM_MSG_MAX])
{
    const struct mm_buddy *b = m->buddy;
    mm_pfn_t pfn = t->key >> 4;
    unsigned order = t->key & 0xf;
    const struct free_block *n;
    int32_t idx, bud;

    if (t->used) {
        if (t->owner == MM_OWN_NONE || t->owner >= MM_OWN_COUNT)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: allocated block at pfn 0x%x has owner %u", pfn,
                            t->owner);
        return check_block(m, "allocated", pfn, order, t->zone, NIL, false, err);
    }
    idx = free_node(b, pfn);
    n = &b->node[idx];
    if (!n->live || n->pfn != pfn)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: free block at pfn 0x%x is missing from the free map",
                        pfn);
    if (check_block(m, "free", pfn, order, n->zone, idx, false, err) != MM_OK)
        return MM_INTERNAL;
    bud = order < b->top ? free_node(b, pfn ^ (1u << order)) : NIL;
    if (bud != NIL && b->node[bud].order == order && b->node[bud].zone == n->zone)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: order-%u buddies at pfn 0x%x and 0x%x are both free",
                        order, pfn, b->node[bud].pfn);
    return MM_OK;
}

/* The blocks the record names, as the start saw them (@then) and as they
 * are (@now); *@nthen and *@nnow of them. */
static void changed_blocks(const struct mm_buddy *b, uint32_t *idx, struct tblock *then,
                           size_t *nthen, struct tblock *now, size_t *nnow)
{
    const struct track *t = b->track;
    uint32_t *key;

    *nthen = *nnow = 0;
    /* By (head, map), then in the order they happened: 21 + 10 bits.
     * Both lists come out ascending by head. */
    for (uint32_t i = 0; i < t->n; i++)
        idx[i] = (t->ev[i].pfn << 1 | t->ev[i].used) << 10 | i;
    key = radix_sort(idx, idx + t->n, t->n, 32);
    for (uint32_t i = 0; i < t->n; i++) {
        const struct track_ev *e = &t->ev[key[i] & (TRACK_MAX - 1)];
        uint32_t v;
        int32_t node;

        if (i > 0 && key[i - 1] >> 10 == key[i] >> 10)
            continue; /* the first change of a head saw it as it was */
        if (e->present)
            then[(*nthen)++] = (struct tblock){ e->pfn << 4 | e->order, e->used, e->owner,
                                                (uint8_t)zone_of(b, e->pfn) };
        if (e->used && umap_get(&b->used_map, e->pfn, &v))
            now[(*nnow)++] = (struct tblock){ e->pfn << 4 | (v & 0xff), 1,
                                              (uint8_t)(v >> 8),
                                              (uint8_t)zone_of(b, e->pfn) };
        else if (!e->used && (node = free_node(b, e->pfn)) != NIL)
            now[(*nnow)++] = (struct tblock){ e->pfn << 4 | b->node[node].order, 0, 0,
                                              b->node[node].zone };
    }
}

/* The changed blocks now cover exactly the pages those they replaced
 * covered, without overlapping one another; the counts moved by what
 * changed. */
static enum mm_status check_changes(const struct mm_machine *m, const struct tblock *then,
                                    size_t nthen, const struct tblock *now, size_t nnow,
                                    uint32_t dused[MM_NR_ZONES], char err[MM_MSG_MAX])
{
    const struct mm_buddy *b = m->buddy;
    const struct track *t = b->track;
    uint32_t free[MM_NR_ZONES], owned[MM_OWN_COUNT], live = t->node_live,
                                                     used = t->used_count;
    size_t i = 0, j = 0;
    uint64_t s0, e0, s1, e1;

    memcpy(free, t->free, sizeof(free));
    memcpy(owned, t->owned, sizeof(owned));
    for (size_t k = 0; k < nnow; k++) {
        uint32_t c = now[k].key, pages = 1u << (c & 0xf);

        if (k > 0 && (c >> 4) < (now[k - 1].key >> 4) + (1u << (now[k - 1].key & 0xf)))
            return mm__fail(err, MM_INTERNAL,
                            "buddy: the order-%u block at pfn 0x%x "
                            "overlaps the order-%u block at pfn 0x%x",
                            c & 0xf, c >> 4, now[k - 1].key & 0xf, now[k - 1].key >> 4);
        if (now[k].used) {
            used++;
            dused[now[k].zone] += pages;
            if (now[k].owner < MM_OWN_COUNT)
                owned[now[k].owner] += pages;
        } else {
            live++;
            free[now[k].zone] += pages;
        }
    }
    for (size_t k = 0; k < nthen; k++) {
        uint32_t pages = 1u << (then[k].key & 0xf);

        if (then[k].used) {
            used--;
            dused[then[k].zone] -= pages;
            if (then[k].owner < MM_OWN_COUNT)
                owned[then[k].owner] -= pages;
        } else {
            live--;
            free[then[k].zone] -= pages;
        }
    }
    for (bool a = next_run(now, nnow, &i, &s1, &e1),
              c = next_run(then, nthen, &j, &s0, &e0);
         a || c;
         a = next_run(now, nnow, &i, &s1, &e1), c = next_run(then, nthen, &j, &s0, &e0)) {
        if (!a || !c || s0 != s1 || e0 != e1)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: the changed blocks cover [0x%llx, 0x%llx), "
                            "those they replaced [0x%llx, 0x%llx)",
                            a ? (unsigned long long)s1 : 0ull,
                            a ? (unsigned long long)e1 : 0ull,
                            c ? (unsigned long long)s0 : 0ull,
                            c ? (unsigned long long)e0 : 0ull);
    }
    if (live != b->node_live || live != b->free_map.count || used != b->used_map.count)
        return mm__fail(err, MM_INTERNAL,
                        "buddy: %u free and %u allocated blocks after the changes, "
                        "%u nodes live, %u in the free map, %u in the used map",
                        live, used, b->node_live, b->free_map.count, b->used_map.count);
    for (unsigned o = 0; o < MM_OWN_COUNT; o++) {
        if (owned[o] != b->owned[o])
            return mm__fail(err, MM_INTERNAL, "buddy: %s holds %u pages, counted %u",
                            owner_names[o], owned[o], b->owned[o]);
    }
    for (unsigned z = 0; z < MM_NR_ZONES; z++) {
        if (free[z] != b->zone[z].free)
            return mm__fail(err, MM_INTERNAL,
                            "buddy: zone %s counts %u free pages, "
                            "its changes leave %u",
                            zone_names[z], b->zone[z].free, free[z]);
    }
    return MM_OK;
}

enum mm_status mm__buddy_check_since(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_buddy *b;
    struct tblock *then, *now;
    uint32_t *idx;
    size_t nthen, nnow;
    uint32_t nodes = 0, managed = 0, dused[MM_NR_ZONES] = { 0 };
    enum mm_status st = MM_OK;

    assert(m != NULL && m->buddy != NULL && err != NULL);
    b = m->buddy;
    if (b->track == NULL || b->track->overflow)
        return mm__buddy_check(m, err);
    idx = malloc((2 * b->track->n + 1) * sizeof(*idx));
    then = malloc((b->track->n + 1) * sizeof(*then));
    now = malloc((b->track->n + 1) * sizeof(*now));
    if (idx == NULL || then == NULL || now == NULL) {
        free(idx);
        free(then);
        free(now);
        return mm__buddy_check(m, err);
    }
    changed_blocks(b, idx, then, &nthen, now, &nnow);
    for (size_t k = 0; k < nnow && st == MM_OK; k++)
        st = check_changed(m, &now[k], err);
    if (st == MM_OK)
        st = check_changes(m, then, nthen, now, nnow, dused, err);
    free(idx);
    free(then);
    free(now);
    for (unsigned z = 0; z < MM_NR_ZONES && st == MM_OK; z++) {
        const struct bzone *zn = &b->zone[z];
        uint32_t pages = 0, resv;

        for (unsigned o = 0; o <= b->top && st == MM_OK; o++) {
            uint32_t lp = 0, ln = 0; /* counted below from nr_free */

            /* A list added to or taken from: its links and nodes (each
             * changed block's own check is check_changed()'s). */
            if (b->track->lists >> (z * 16 + o) & 1)
                st = check_list(m, z, o, false, false, &lp, &ln, err);
            pages += zn->area[o].nr_free << o;
            nodes += zn->area[o].nr_free;
        }
        if (st != MM_OK)
            break;
        /* Allocated pages at the start, by its full check: present less
         * reserved less free; since moved by the changed blocks. */
        resv = zn->populated ? resv_ram_pages_in(b, &m->lay, zn->start, zn->end) : 0;
        st = check_zone(m, z, pages, zn->present - resv - b->track->free[z] + dused[z],
                        err);
        managed += zn->managed;
    }
    return st == MM_OK ? check_totals(m, nodes, managed, err) : st;
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/*
 * Payload: for each zone and order, the free list from head to tail (u32
 * count, u32 pfns): the order matters, it is the order blocks are handed
 * out in.  Then the allocated blocks ascending (u32 count, then u32 pfn,
 * u8 order, u8 owner).  Zones, RAM and reservations come from the config.
 */
static void save_used(void *arg, mm_pfn_t pfn, unsigned order, enum mm_owner owner)
{
    struct mm_buf *out = arg;

    mm__wr_u32(out, pfn);
    mm__wr_u8(out, (uint8_t)order);
    mm__wr_u8(out, (uint8_t)owner);
}

void mm__buddy_save(const struct mm_machine *m, struct mm_buf *out)
{
    const struct mm_buddy *b = m->buddy;

    for (unsigned z = 0; z < MM_NR_ZONES; z++) {
        for (unsigned o = 0; o <= b->top; o++) {
            const struct free_area *fa = &b->zone[z].area[o];

            mm__wr_u32(out, fa->nr_free);
            for (int32_t i = fa->head; i != NIL; i = b->node[i].next)
                mm__wr_u32(out, b->node[i].pfn);
        }
    }
    mm__wr_u32(out, b->used_map.count);
    mm__buddy_foreach_used(m, save_used, out);
}

/* An empty allocator with @fresh's zones and reservations; NULL on OOM. */
static struct mm_buddy *buddy_empty(const struct mm_buddy *fresh)
{
    struct mm_buddy *b = malloc(sizeof(*b));

    if (b == NULL)
        return NULL;
    *b = *fresh;
    b->node = NULL;
    b->node_cap = b->node_live = 0;
    b->spare = NIL;
    b->free_map.s = NULL;
    memset(&b->used_map, 0, sizeof(b->used_map));
    b->resv = NULL;
    b->track = NULL;
    memset(b->owned, 0, sizeof(b->owned));
    for (unsigned z = 0; z < MM_NR_ZONES; z++) {
        b->zone[z].free = 0;
        for (unsigned o = 0; o <= b->top; o++)
            b->zone[z].area[o] = (struct free_area){ NIL, NIL, 0 };
    }
    if (!map_init(&b->free_map, MIN_BITS) || !umap_reserve(&b->used_map) ||
        (fresh->nresv > 0 &&
         (b->resv = malloc(fresh->nresv * sizeof(*b->resv))) == NULL)) {
        mm__buddy_destroy(b);
        return NULL;
    }
    if (fresh->nresv > 0)
        memcpy(b->resv, fresh->resv, fresh->nresv * sizeof(*b->resv));
    return b;
}

/* Whether the 2^@order block at @pfn lies in zone @z and is in neither map. */
static bool block_fits(struct mm_rd *rd, const struct mm_buddy *b, unsigned z,
                       mm_pfn_t pfn, unsigned order)
{
    const struct bzone *zn = &b->zone[z];
    uint32_t v;

    if (!zn->populated || pfn < zn->start || pfn >= zn->end ||
        zn->end - pfn < (1u << order) || (pfn & ((1u << order) - 1)) != 0) {
        mm__rd_fail(rd, "order-%u block at pfn 0x%x is not an aligned block of zone %s",
                    order, pfn, zone_names[z]);
        return false;
    }
    if (map_get(&b->free_map, pfn, &v) || umap_get(&b->used_map, pfn, &v)) {
        mm__rd_fail(rd, "pfn 0x%x heads two blocks", pfn);
        return false;
    }
    return true;
}

static void load_free_lists(struct mm_buddy *b, struct mm_rd *rd)
{
    for (unsigned z = 0; z < MM_NR_ZONES; z++) {
        for (unsigned o = 0; o <= b->top && rd->st == MM_OK; o++) {
            uint32_t n = mm__rd_u32(rd);

            if (!mm__rd_count(rd, n, 4, 1u << 20, "free blocks"))
                return;
            if (!pool_reserve(b, n) || !map_reserve(&b->free_map, n)) {
                mm__rd_oom(rd);
                return;
            }
            for (uint32_t i = 0; i < n; i++) {
                mm_pfn_t pfn = mm__rd_u32(rd);

                if (rd->st != MM_OK || !block_fits(rd, b, z, pfn, o))
                    return;
                add_free_block(b, z, pfn, o, true);
            }
        }
    }
}

static void load_used(struct mm_buddy *b, struct mm_rd *rd)
{
    uint32_t n = mm__rd_u32(rd);

    if (!mm__rd_count(rd, n, 6, 1u << 20, "allocated blocks"))
        return;
    for (uint32_t i = 0; i < n; i++) {
        mm_pfn_t pfn = mm__rd_u32(rd);
        unsigned order = mm__rd_u8(rd), owner = mm__rd_u8(rd);

        if (rd->st != MM_OK)
            return;
        if (order > b->top || owner == MM_OWN_NONE || owner >= MM_OWN_COUNT) {
            mm__rd_fail(rd, "allocated block at pfn 0x%x: order %u, owner %u", pfn, order,
                        owner);
            return;
        }
        if (!block_fits(rd, b, zone_of(b, pfn), pfn, order))
            return;
        if (!umap_reserve(&b->used_map)) {
            mm__rd_oom(rd);
            return;
        }
        umap_put(&b->used_map, pfn, order | (uint32_t)owner << 8);
        b->owned[owner] += 1u << order;
    }
}

void mm__buddy_load(struct mm_machine *m, struct mm_rd *rd)
{
    struct mm_buddy *b = buddy_empty(m->buddy);

    if (b == NULL) {
        mm__rd_oom(rd);
        return;
    }
    load_free_lists(b, rd);
    if (rd->st == MM_OK)
        load_used(b, rd);
    if (rd->st != MM_OK) {
        mm__buddy_destroy(b);
        return;
    }
    mm__buddy_destroy(m->buddy);
    m->buddy = b;
}
