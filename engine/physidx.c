/* engine/physidx.c - the reverse map: which virtual addresses map a physical one.
 *
 * mm_phys_aliases() used to answer by walking all 4096 first-level entries
 * and every second-level table (about 25 us an address).  This index holds
 * the same answer ready: one entry per hardware mapping the MMU would
 * follow, keyed by what it maps.  A first-level section (or one 1 MiB entry
 * of a supersection) is keyed by its output MiB; a second-level small or
 * large page entry by its output 4 KiB pfn.  Each entry stores the virtual
 * base it is reached from, so a lookup is one table read per key (and a
 * probe of the overflow when it holds anything) and a sort of the hits.  That covers __va() lowmem, the pkmap and fixmap slot
 * tables, vmalloc/vmap/ioremap/module areas and the vectors page alike,
 * because all of them are nothing but these descriptors.
 *
 * It is kept at the page-table write choke point: pgtable.c calls
 * mm__physidx_l1() around every first-level write and mm__physidx_l2()
 * around every hardware PTE write, so the index follows exactly what the
 * walk would see.  It is built by one full walk after boot (and after a
 * restore) and cloned with the machine.  If host memory runs out while it
 * is updated it marks itself stale and lookups fall back to the walk, so an
 * answer is never wrong.
 *
 * Design, sized so that the index costs about what the kernel's own maps
 * would (4 bytes a mapped page): almost every physical page and MiB has at
 * most one mapping of its kind, so each has one "first" slot in a dense
 * table: a 16-bit slot per MiB (4096 of them) for sections, and for pages
 * 4 KiB chunks of 1024 32-bit slots, allocated when a page in that 4 MiB
 * of physical space is first mapped and freed when its last one goes (one
 * emptied chunk is kept as a spare, so kmap/kunmap do not churn).  The
 * rare further aliases (a page vmapped twice, kmapped and vmapped) go to
 * an overflow: chained hashing over a pool of 12-byte entries with a free
 * list.  A key has overflow entries only while its first slot is taken.
 */
#include "mm_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define NONE     (-1)
#define SECT_KEY 0x100000u /* section keys: SECT_KEY | output MiB */
#define MIN_BITS 4

struct entry {
    uint32_t key; /* pfn, or SECT_KEY | MiB */
    uint32_t va;  /* page or MiB base it is reached from */
    int32_t next; /* next entry in the bucket, or in the free list */
};

#define CHUNK_PFNS 1024u /* pfns per dense chunk */
#define NCHUNKS    ((1u << 20) / CHUNK_PFNS)
#define NMIB       4096u

struct mm_physidx {
    bool stale;                   /* an update failed: answer by walking */
    uint16_t sect[NMIB];          /* per output MiB: first VA MiB + 1, or 0 */
    uint32_t *chunk[NCHUNKS];     /* per pfn: first VA | 1, or 0; NULL: none */
    uint16_t chunk_used[NCHUNKS]; /* taken slots per chunk */
    uint32_t *spare_chunk;        /* an emptied chunk kept for reuse, or NULL */
    uint32_t nchunks;             /* chunks allocated, the spare included */
    unsigned bits;                /* overflow: 1 << bits buckets */
    int32_t *bucket;
    struct entry *e;
    uint32_t cap, live;
    int32_t spare; /* free list through ->next */
};

static size_t key_hash(uint32_t key, unsigned bits)
{
    return (size_t)((key * 0x9e3779b1u) >> (32 - bits));
}

static bool buckets_alloc(struct mm_physidx *x, unsigned bits)
{
    size_t n = (size_t)1 << bits;
    int32_t *b = malloc(n * sizeof(*b));

    if (b == NULL)
        return false;
    memset(b, 0xff, n * sizeof(*b)); /* NONE */
    free(x->bucket);
    x->bucket = b;
    x->bits = bits;
    for (uint32_t i = 0; i < x->cap; i++) {
        if (x->e[i].key != UINT32_MAX) {
            size_t h = key_hash(x->e[i].key, bits);

            x->e[i].next = b[h];
            b[h] = (int32_t)i;
        }
    }
    return true;
}

static struct mm_physidx *physidx_new(void)
{
    struct mm_physidx *x = calloc(1, sizeof(*x));

    if (x == NULL)
        return NULL;
    x->spare = NONE;
    if (!buckets_alloc(x, MIN_BITS)) {
        free(x);
        return NULL;
    }
    return x;
}

void mm__physidx_destroy(struct mm_physidx *x)
{
    if (x == NULL)
        return;
    for (unsigned i = 0; i < NCHUNKS; i++)
        free(x->chunk[i]);
    free(x->spare_chunk);
    free(x->bucket);
    free(x->e);
    free(x);
}

struct mm_physidx *mm__physidx_clone(const struct mm_physidx *x)
{
    struct mm_physidx *c;

    if (x == NULL)
        return NULL;
    c = malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    *c = *x;
    memset(c->chunk, 0, sizeof(c->chunk));
    c->spare_chunk = NULL; /* a clone starts without one */
    c->nchunks -= x->spare_chunk != NULL;
    c->bucket = malloc(((size_t)1 << x->bits) * sizeof(*c->bucket));
    c->e = x->cap ? malloc(x->cap * sizeof(*c->e)) : NULL;
    for (unsigned i = 0; i < NCHUNKS; i++) {
        if (x->chunk[i] == NULL)
            continue;
        c->chunk[i] = malloc(CHUNK_PFNS * sizeof(uint32_t));
        if (c->chunk[i] == NULL)
            break;
        memcpy(c->chunk[i], x->chunk[i], CHUNK_PFNS * sizeof(uint32_t));
    }
    if (c->bucket == NULL || (x->cap && c->e == NULL)) {
        mm__physidx_destroy(c);
        return NULL;
    }
    for (unsigned i = 0; i < NCHUNKS; i++) {
        if (x->chunk[i] != NULL && c->chunk[i] == NULL) {
            mm__physidx_destroy(c);
            return NULL;
        }
    }
    memcpy(c->bucket, x->bucket, ((size_t)1 << x->bits) * sizeof(*c->bucket));
    if (x->cap)
        memcpy(c->e, x->e, x->cap * sizeof(*c->e));
    return c;
}

size_t mm__physidx_host_bytes(const struct mm_physidx *x)
{
    if (x == NULL)
        return 0;
    return sizeof(*x) + ((size_t)1 << x->bits) * sizeof(*x->bucket) +
           (size_t)x->cap * sizeof(*x->e) +
           (size_t)x->nchunks * CHUNK_PFNS * sizeof(uint32_t);
}

/* Makes room for one more entry; false if host memory runs out. */
static bool reserve_one(struct mm_physidx *x)
{
    if (x->spare == NONE) {
        uint32_t ncap = x->cap ? x->cap * 2 : 16;
        struct entry *ne = realloc(x->e, ncap * sizeof(*ne));

        if (ne == NULL)
            return false;
        x->e = ne;
        for (uint32_t i = ncap; i-- > x->cap;) {
            ne[i].key = UINT32_MAX;
            ne[i].next = x->spare;
            x->spare = (int32_t)i;
        }
        x->cap = ncap;
    }
    if (x->live + 1 > (1u << x->bits) && !buckets_alloc(x, x->bits + 1))
        return false;
    return true;
}

static void ovf_add(struct mm_physidx *x, uint32_t key, uint32_t va)
{
    size_t h;
    int32_t i;

    if (!reserve_one(x)) {
        x->stale = true;
        return;
    }
    i = x->spare;
    x->spare = x->e[i].next;
    h = key_hash(key, x->bits);
    x->e[i].key = key;
    x->e[i].va = va;
    x->e[i].next = x->bucket[h];
    x->bucket[h] = i;
    x->live++;
}

/* Removes the overflow entry (@key, @va), or with @any the first entry
 * of @key, whose VA goes to *@va.  Return: whether there was one. */
static bool ovf_del(struct mm_physidx *x, uint32_t key, uint32_t *va, bool any)
{
    int32_t *link = &x->bucket[key_hash(key, x->bits)];

    if (x->live == 0)
        return false;
    while (*link != NONE) {
        struct entry *e = &x->e[*link];

        if (e->key == key && (any || e->va == *va)) {
            int32_t i = *link;

            *link = e->next;
            e->key = UINT32_MAX;
            e->next = x->spare;
            x->spare = i;
            x->live--;
            *va = e->va;
            return true;
        }
        link = &e->next;
    }
    return false;
}

/* The dense first slot of @key, as a VA; false if it is empty.  A section
 * key's slot holds the VA MiB + 1, a page key's slot VA | 1. */
static bool first_get(const struct mm_physidx *x, uint32_t key, uint32_t *va)
{
    if (key & SECT_KEY) {
        uint16_t v = x->sect[key & (NMIB - 1)];

        *va = (uint32_t)(v - 1) << 20;
        return v != 0;
    }
    if (x->chunk[key / CHUNK_PFNS] == NULL)
        return false;
    *va = x->chunk[key / CHUNK_PFNS][key % CHUNK_PFNS] & ~1u;
    return x->chunk[key / CHUNK_PFNS][key % CHUNK_PFNS] != 0;
}

/* Sets (@on; also replacing what it held) or empties the first slot of
 * @key; false on host OOM (only when it needs a new chunk). */
static bool first_set(struct mm_physidx *x, uint32_t key, uint32_t va, bool on)
{
    uint32_t c = key / CHUNK_PFNS;

    if (key & SECT_KEY) {
        x->sect[key & (NMIB - 1)] = on ? (uint16_t)((va >> 20) + 1) : 0;
        return true;
    }
    if (x->chunk[c] == NULL && x->spare_chunk != NULL) {
        x->chunk[c] = x->spare_chunk; /* all zero: it was emptied */
        x->spare_chunk = NULL;
    } else if (x->chunk[c] == NULL) {
        x->chunk[c] = calloc(CHUNK_PFNS, sizeof(uint32_t));
        if (x->chunk[c] == NULL)
            return false;
        x->nchunks++;
    }
    if ((x->chunk[c][key % CHUNK_PFNS] != 0) != on) /* not a replacement */
        x->chunk_used[c] += on ? 1 : -1;
    x->chunk[c][key % CHUNK_PFNS] = on ? va | 1 : 0;
    if (x->chunk_used[c] == 0) { /* kept as the spare: kmap churn */
        if (x->spare_chunk == NULL) {
            x->spare_chunk = x->chunk[c];
        } else {
            free(x->chunk[c]);
            x->nchunks--;
        }
        x->chunk[c] = NULL;
    }
    return true;
}

/* The dense first slot of page key @key, or NULL while its chunk is
 * absent. */
static uint32_t *page_slot(const struct mm_physidx *x, uint32_t key)
{
    uint32_t *c = x->chunk[key / CHUNK_PFNS];

    return c != NULL ? &c[key % CHUNK_PFNS] : NULL;
}

/* add() and del() first try the common case of every PTE write (a page
 * with one mapping, in a chunk that stays): a slot and a count. */
static void add(struct mm_physidx *x, uint32_t key, uint32_t va)
{
    uint32_t first, *slot;

    if (x->stale)
        return;
    slot = key & SECT_KEY ? NULL : page_slot(x, key);
    if (slot != NULL && *slot == 0) {
        *slot = va | 1;
        x->chunk_used[key / CHUNK_PFNS]++;
        return;
    }
    if (first_get(x, key, &first))
        ovf_add(x, key, va);
    else if (!first_set(x, key, va, true))
        x->stale = true;
}

static void del(struct mm_physidx *x, uint32_t key, uint32_t va)
{
    uint32_t first, next, *slot;

    if (x->stale)
        return;
    slot = key & SECT_KEY ? NULL : page_slot(x, key);
    if (slot != NULL && *slot == (va | 1) && x->live == 0 &&
        x->chunk_used[key / CHUNK_PFNS] > 1) {
        *slot = 0;
        x->chunk_used[key / CHUNK_PFNS]--;
        return;
    }
    if (first_get(x, key, &first) && first == va) {
        if (ovf_del(x, key, &next, true))
            first_set(x, key, next, true); /* a replacement: cannot fail */
        else
            first_set(x, key, va, false);
        return;
    }
    if (!ovf_del(x, key, &va, false)) {
        assert(!"physidx: removing a mapping it never held");
        x->stale = true;
    }
}

/* ------------------------------------------------------------------ */
/* What a descriptor maps, exactly as the walk in mmu.c decodes it      */
/* ------------------------------------------------------------------ */

/* The pfn hardware second-level entry @d (index @j of its table) maps;
 * false if it is a fault entry. */
static bool l2_output(uint32_t d, unsigned j, mm_pfn_t *pfn)
{
    if ((d & 3) == 0)
        return false;
    if ((d & 3) == 1) /* large page: this entry's 4 KiB of it */
        *pfn = MM_PFN((d & 0xffff0000u) | ((j << 12) & 0xf000u));
    else
        *pfn = MM_PFN(d & 0xfffff000u);
    return true;
}

/* Adds (@on) or removes every mapping first-level entry @d at @idx holds. */
static void l1_apply(struct mm_physidx *x, const struct mm_machine *m, unsigned idx,
                     uint32_t d, bool on)
{
    mm_vaddr_t mbase = (mm_vaddr_t)idx << 20;

    if ((d & 3) == 2) {
        uint32_t blk = (d & (1u << 18)) ? (d & 0xff000000u) | (mbase & 0x00f00000u)
                                        : d & 0xfff00000u;

        (on ? add : del)(x, SECT_KEY | (blk >> 20), mbase);
    } else if ((d & 3) == 1) {
        mm_paddr_t table = d & 0xfffffc00u;
        const uint32_t *pg = mm__phys_page(m->phys, MM_PFN(table));
        mm_pfn_t pfn;

        if (pg == NULL)
            return;
        pg += (table & 0xc00u) / 4;
        for (unsigned j = 0; j < 256; j++)
            if (l2_output(pg[j], j, &pfn))
                (on ? add : del)(x, pfn, mbase | (j << 12));
    }
}

void mm__physidx_l1(struct mm_machine *m, unsigned idx, uint32_t d, bool on)
{
    if (m->physidx != NULL)
        l1_apply(m->physidx, m, idx, d, on);
}

/* mm__physidx_l2() for a mapping entry @d, with an index to keep.  Kept
 * out of line so that the early return there saves no registers. */
__attribute__((noinline)) static void l2_apply(struct mm_machine *m, mm_vaddr_t va,
                                               mm_paddr_t hw_pa, uint32_t l1, uint32_t d,
                                               bool on)
{
    unsigned j = (va >> 12) & 255;
    mm_pfn_t pfn;

    if ((l1 & 3) != 1)
        return;
    /* Only an entry the first level really points at is visible to the MMU. */
    if ((l1 & 0xfffffc00u) + j * 4 != hw_pa)
        return;
    if (l2_output(d, j, &pfn))
        (on ? add : del)(m->physidx, pfn, va & 0xfffff000u);
}

/* Every PTE write calls this twice (the old entry out, the new one in),
 * and one of the two is usually a fault entry: that case returns before
 * l2_apply()'s work (and its register saves) begins. */
void mm__physidx_l2(struct mm_machine *m, mm_vaddr_t va, mm_paddr_t hw_pa, uint32_t l1,
                    uint32_t d, bool on)
{
    if (m->physidx == NULL || (d & 3) == 0)
        return; /* no index yet, or a fault entry: nothing */
    l2_apply(m, va, hw_pa, l1, d, on);
}

enum mm_status mm__physidx_build(struct mm_machine *m)
{
    struct mm_physidx *x = physidx_new();

    if (x == NULL)
        return MM_NO_MEMORY;
    for (unsigned i = 0; i < 4096 && !x->stale; i++)
        l1_apply(x, m, i, mm__l1_read(m, i), true);
    if (x->stale) {
        mm__physidx_destroy(x);
        return MM_NO_MEMORY;
    }
    mm__physidx_destroy(m->physidx);
    m->physidx = x;
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* Lookup                                                              */
/* ------------------------------------------------------------------ */

#define HITS_MAX 64

/* Appends to @hit (up to HITS_MAX, counting all in *@n) the address within
 * each mapping of @key, with @off added to its base. */
static void collect(const struct mm_physidx *x, uint32_t key, uint32_t off,
                    mm_vaddr_t *hit, size_t *n, bool *overflow)
{
    uint32_t first;

    if (!first_get(x, key, &first))
        return;
    hit[(*n)++] = first | off;
    if (x->live == 0)
        return;
    for (int32_t i = x->bucket[key_hash(key, x->bits)]; i != NONE; i = x->e[i].next) {
        if (x->e[i].key != key)
            continue;
        if (*n < HITS_MAX)
            hit[(*n)++] = x->e[i].va | off;
        else
            *overflow = true;
    }
}

size_t mm_phys_aliases(const struct mm_machine *m, mm_paddr_t pa, struct mm_alias *out,
                       size_t max)
{
    const struct mm_physidx *x = m->physidx;
    mm_vaddr_t hit[HITS_MAX];
    size_t n = 0;
    bool overflow = false;

    if (x == NULL || x->stale)
        return mm__phys_aliases_walk(m, pa, out, max);
    collect(x, SECT_KEY | (pa >> 20), pa & 0x000fffffu, hit, &n, &overflow);
    collect(x, MM_PFN(pa), pa & 0xfffu, hit, &n, &overflow);
    if (overflow) /* more aliases than a kernel ever makes */
        return mm__phys_aliases_walk(m, pa, out, max);
    for (size_t i = 1; i < n; i++) { /* ascending, as the walk finds them */
        mm_vaddr_t v = hit[i];
        size_t k = i;

        for (; k > 0 && hit[k - 1] > v; k--)
            hit[k] = hit[k - 1];
        hit[k] = v;
    }
    for (size_t i = 0; i < n && i < max; i++) {
        out[i].va = hit[i];
        out[i].region = mm_region_of(m, hit[i]);
    }
    return n;
}
