/* engine/highmem.c - kmap()/kunmap() through the pkmap window.
 *
 * The pkmap window is the 2 MiB just below PAGE_OFFSET: 512 page slots
 * (LAST_PKMAP = PTRS_PER_PTE) served by the one PTE page kmap_init() made at
 * boot.  kmap() of a highmem page gives it a slot for as long as it has
 * users; kmap() of a lowmem page is just its direct-map address.
 *
 * Design.  The state is the kernel's own, in fixed arrays: pkmap_count[512]
 * (0 free and flushed, 1 mapped without users and not yet flushed, n + 1
 * for n users), last_pkmap_nr (the round-robin cursor, 0 at boot), the pfn
 * each live slot maps (the kernel reads it back from the PTE), and the
 * page_address() hash that turns a page into its pkmap address: 128 buckets
 * chained through the slots, as PA_HASH_ORDER 7 and the LAST_PKMAP-entry
 * page_address_maps[] pool are in the kernel.  No pointers, so a clone is
 * a copy.  The one place the emulation departs from the kernel is where the
 * kernel sleeps: when every slot has users, kmap() returns MM_WOULD_BLOCK
 * and changes nothing (not even last_pkmap_nr, which the sleeping kernel
 * leaves at 511); the caller retries after a kunmap() that reports
 * MM_RES_WAKE.
 *
 * Results.  kmap: value = VA, aux = flush_all_zero_pkmaps() calls in this
 * kmap that cleared a slot (0 or 1), flags MM_RES_FLUSHED when aux > 0.
 * kunmap: value = VA, aux = users left, flags MM_RES_WAKE when the slot
 * drops to count 1 (the kernel's need_wakeup).  kmap_flush: value = slots
 * cleared, aux and MM_RES_FLUSHED as for kmap.
 *
 * Report (MM_REPORT_PKMAP), one header line, then a column header, then one
 * line per slot whose count is not 0, ascending by slot:
 *   pkmap: 0xbfe00000-0xc0000000, 512 slots, last_pkmap_nr 3, 2 in use,
 *          1 unused (awaiting flush), 0 flushes         <- one line
 *   slot  address     count  users  pfn
 *      1  0xbfe01000      2      1  0xafa00
 * slot is decimal, width 4; address 0x%08x; count and users decimal,
 * width 5; pfn 0x%x.  A machine without HIGHMEM prints the single line
 * "pkmap: none (CONFIG_HIGHMEM is not set)".
 *
 * Emulates: mm/highmem.c kmap_high(), map_new_virtual(),
 * flush_all_zero_pkmaps(), kmap_flush_unused(), kmap_high_get(),
 * kunmap_high(), page_address(), set_page_address() (HASHED_PAGE_VIRTUAL);
 * arch/arm/mm/highmem.c kmap(), kunmap(); arch/arm/include/asm/highmem.h
 * PKMAP_BASE, LAST_PKMAP, PKMAP_NR(), PKMAP_ADDR().
 */
#include "mm_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* KERNEL: 3.4 mm/highmem.c PA_HASH_ORDER 7 (page_address_htable) */
#define PA_HASH_ORDER 7
#define PA_HASH_SIZE  (1u << PA_HASH_ORDER)
#define PKMAP_NONE    (-1)

struct mm_pkmap {
    int count[MM_LAST_PKMAP];    /* pkmap_count[]: 0, 1, or users + 1 */
    mm_pfn_t pfn[MM_LAST_PKMAP]; /* the page a slot maps (count >= 1) */
    unsigned last_pkmap_nr;      /* round-robin cursor, 0 at boot */
    int16_t head[PA_HASH_SIZE];  /* page_address hash: first slot */
    int16_t next[MM_LAST_PKMAP]; /* next slot in the same bucket */
};

/* ------------------------------------------------------------------ */
/* Create, clone, destroy                                              */
/* ------------------------------------------------------------------ */

struct mm_pkmap *mm__pkmap_create(void)
{
    struct mm_pkmap *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    for (unsigned i = 0; i < PA_HASH_SIZE; i++)
        p->head[i] = PKMAP_NONE;
    for (unsigned i = 0; i < MM_LAST_PKMAP; i++)
        p->next[i] = PKMAP_NONE;
    return p;
}

struct mm_pkmap *mm__pkmap_clone(const struct mm_pkmap *p)
{
    struct mm_pkmap *c = malloc(sizeof(*c));

    if (c != NULL)
        memcpy(c, p, sizeof(*c));
    return c;
}

void mm__pkmap_destroy(struct mm_pkmap *p)
{
    free(p);
}

size_t mm__pkmap_host_bytes(const struct mm_pkmap *p)
{
    return p != NULL ? sizeof(*p) : 0;
}

/* ------------------------------------------------------------------ */
/* Addresses and the page_address() hash                               */
/* ------------------------------------------------------------------ */

/* True when the machine has a pkmap window (CONFIG_HIGHMEM). */
static bool has_pkmap(const struct mm_machine *m)
{
    return m->lay.pkmap_base != 0;
}

/* PKMAP_ADDR(nr) */
static mm_vaddr_t pkmap_addr(const struct mm_machine *m, unsigned nr)
{
    assert(nr < MM_LAST_PKMAP);
    return m->lay.pkmap_base + ((mm_vaddr_t)nr << MM_PAGE_SHIFT);
}

/* lowmem_page_address(): the direct-map address of a lowmem pfn. */
static mm_vaddr_t lowmem_address(const struct mm_machine *m, mm_pfn_t pfn)
{
    return m->lay.page_offset + ((mm_vaddr_t)pfn << MM_PAGE_SHIFT) - m->lay.phys_offset;
}

/* PageHighMem(): only a HIGHMEM machine's highmem pages go through pkmap. */
static bool page_is_high(const struct mm_machine *m, mm_pfn_t pfn)
{
    return has_pkmap(m) && mm__pfn_highmem(m, pfn);
}

/* The bucket a page hashes to (the kernel hashes the struct page pointer;
 * any fixed function of the page gives the same lookups). */
static unsigned pa_hash(mm_pfn_t pfn)
{
    return (unsigned)((pfn * 0x9e370001u) >> (32 - PA_HASH_ORDER));
}

/* page_address() for a highmem page: its slot, or PKMAP_NONE. */
static int slot_of(const struct mm_pkmap *p, mm_pfn_t pfn)
{
    for (int s = p->head[pa_hash(pfn)]; s != PKMAP_NONE; s = p->next[s]) {
        if (p->pfn[s] == pfn)
            return s;
    }
    return PKMAP_NONE;
}

/* set_page_address(page, PKMAP_ADDR(nr)): records slot @nr for @pfn. */
static void hash_add(struct mm_pkmap *p, unsigned nr, mm_pfn_t pfn)
{
    int16_t *link = &p->head[pa_hash(pfn)];

    while (*link != PKMAP_NONE)
        link = &p->next[*link];
    p->pfn[nr] = pfn;
    p->next[nr] = PKMAP_NONE;
    *link = (int16_t)nr;
}

/* set_page_address(page, NULL) for the page in slot @nr. */
static void hash_del(struct mm_pkmap *p, unsigned nr)
{
    int16_t *link = &p->head[pa_hash(p->pfn[nr])];

    while (*link != (int16_t)nr) {
        assert(*link != PKMAP_NONE);
        link = &p->next[*link];
    }
    *link = p->next[nr];
    p->next[nr] = PKMAP_NONE;
    p->pfn[nr] = 0;
}

mm_vaddr_t mm__pkmap_address(const struct mm_machine *m, mm_pfn_t pfn)
{
    int s;

    if (!has_pkmap(m))
        return 0;
    s = slot_of(m->pkmap, pfn);
    return s == PKMAP_NONE ? 0 : pkmap_addr(m, (unsigned)s);
}

/* ------------------------------------------------------------------ */
/* The slot allocator                                                  */
/* ------------------------------------------------------------------ */

/*
 * flush_all_zero_pkmaps(): every slot left at count 1 loses its PTE and its
 * page address; one flush_tlb_kernel_range() over the whole window if any
 * did.  Returns the number of slots cleared.
 */
static unsigned flush_all_zero_pkmaps(struct mm_machine *m)
{
    struct mm_pkmap *p = m->pkmap;
    unsigned cleared = 0;

    /* flush_cache_kmaps() only matters for VIVT caches: nothing to model. */
    for (unsigned i = 0; i < MM_LAST_PKMAP; i++) {
        if (p->count[i] != 1)
            continue;
        p->count[i] = 0;
        assert(mm__pte_get(m, pkmap_addr(m, i)) != 0);
        mm__pte_clear(m, pkmap_addr(m, i));
        hash_del(p, i);
        cleared++;
    }
    if (cleared != 0) {
        /* KERNEL: 3.4 mm/highmem.c flush_all_zero_pkmaps(): whole window */
        mm__flush_tlb_range(m, pkmap_addr(m, 0),
                            m->lay.pkmap_base + MM_LAST_PKMAP * MM_PAGE_SIZE);
        m->cnt.pkmap_flushes++;
    }
    return cleared;
}

/* Where map_new_virtual() would sleep: no slot is 0 or 1, so even the
 * wrap-time flush frees nothing. */
static bool all_slots_busy(const struct mm_pkmap *p)
{
    for (unsigned i = 0; i < MM_LAST_PKMAP; i++) {
        if (p->count[i] < 2)
            return false;
    }
    return true;
}

/*
 * map_new_virtual(): the round-robin scan from last_pkmap_nr + 1, flushing
 * the count-1 slots when it wraps to slot 0.  The caller has ruled out the
 * sleeping case, so a free slot is found within one turn after the flush.
 * Leaves the new slot at count 1; *@flushes counts flushes that cleared.
 */
static unsigned map_new_virtual(struct mm_machine *m, mm_pfn_t pfn, unsigned *flushes)
{
    struct mm_pkmap *p = m->pkmap;
    unsigned count = MM_LAST_PKMAP;
    unsigned nr;

    for (;;) {
        p->last_pkmap_nr = (p->last_pkmap_nr + 1) & (MM_LAST_PKMAP - 1);
        nr = p->last_pkmap_nr;
        if (nr == 0) {
            if (flush_all_zero_pkmaps(m) != 0)
                (*flushes)++;
            count = MM_LAST_PKMAP;
        }
        if (p->count[nr] == 0)
            break;
        count--;
        /* all_slots_busy() was false: the scan cannot run dry. */
        assert(count != 0);
    }
    /* KERNEL: 3.4 mm/highmem.c map_new_virtual(): set_pte_at, mk_pte(kmap_prot) */
    mm__set_pte(m, pkmap_addr(m, nr), mm__mk_pte(m, pfn, MM_PROT_KERNEL));
    p->count[nr] = 1;
    hash_add(p, nr, pfn);
    return nr;
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

enum mm_status mm__kmap(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *res)
{
    struct mm_pkmap *p = m->pkmap;
    unsigned flushes = 0;
    int s;

    assert(m != NULL && res != NULL && p != NULL);
    if (!mm__pfn_valid(m, pfn))
        return mm__fail(res->msg, MM_INVALID_ARGUMENT, "kmap: pfn 0x%x is not RAM", pfn);
    if (!page_is_high(m, pfn)) {
        /* KERNEL: 3.4 arch/arm/mm/highmem.c kmap(): !PageHighMem -> page_address */
        res->value = lowmem_address(m, pfn);
        return MM_OK;
    }
    s = slot_of(p, pfn);
    if (s == PKMAP_NONE) {
        if (all_slots_busy(p))
            return mm__fail(
                res->msg, MM_WOULD_BLOCK,
                "kmap: all %u pkmap slots are in use (the kernel would sleep)",
                (unsigned)MM_LAST_PKMAP);
        s = (int)map_new_virtual(m, pfn, &flushes);
    }
    /* KERNEL: 3.4 mm/highmem.c kmap_high(): count++, BUG_ON(count < 2) */
    p->count[s]++;
    assert(p->count[s] >= 2);
    res->value = pkmap_addr(m, (unsigned)s);
    res->aux = flushes;
    if (flushes != 0)
        res->flags |= MM_RES_FLUSHED;
    return MM_OK;
}

/* kunmap_high() on slot @s: one user less; the PTE stays until a flush. */
static void kunmap_slot(struct mm_machine *m, unsigned s, struct mm_result *res)
{
    struct mm_pkmap *p = m->pkmap;

    assert(p->count[s] >= 2);
    p->count[s]--;
    res->aux = (uint32_t)(p->count[s] - 1);
    /* KERNEL: 3.4 mm/highmem.c kunmap_high(): case 1 -> need_wakeup */
    if (p->count[s] == 1)
        res->flags |= MM_RES_WAKE;
}

enum mm_status mm__kunmap(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *res)
{
    struct mm_pkmap *p = m->pkmap;
    int s;

    assert(m != NULL && res != NULL && p != NULL);
    if (!mm__pfn_valid(m, pfn))
        return mm__fail(res->msg, MM_INVALID_ARGUMENT, "kunmap: pfn 0x%x is not RAM",
                        pfn);
    if (!page_is_high(m, pfn)) {
        /* KERNEL: 3.4 arch/arm/mm/highmem.c kunmap(): !PageHighMem -> return */
        res->value = lowmem_address(m, pfn);
        return MM_OK;
    }
    s = slot_of(p, pfn);
    if (s == PKMAP_NONE)
        return mm__fail(res->msg, MM_NOT_FOUND, "kunmap: pfn 0x%x is not mapped by kmap",
                        pfn);
    if (p->count[s] < 2)
        /* The kernel would BUG() on the count reaching 0. */
        return mm__fail(res->msg, MM_NOT_FOUND,
                        "kunmap: pfn 0x%x has no kmap users (pkmap slot %d at 0x%08x "
                        "awaits a flush)",
                        pfn, s, pkmap_addr(m, (unsigned)s));
    kunmap_slot(m, (unsigned)s, res);
    res->value = pkmap_addr(m, (unsigned)s);
    return MM_OK;
}

enum mm_status mm__kmap_flush(struct mm_machine *m, struct mm_result *res)
{
    unsigned cleared;

    assert(m != NULL && res != NULL);
    /* Without HIGHMEM kmap_flush_unused() is an empty inline. */
    if (!has_pkmap(m))
        return MM_OK;
    cleared = flush_all_zero_pkmaps(m);
    res->value = cleared;
    if (cleared != 0) {
        res->aux = 1;
        res->flags |= MM_RES_FLUSHED;
    }
    return MM_OK;
}

mm_vaddr_t mm__kmap_high_get(struct mm_machine *m, mm_pfn_t pfn)
{
    struct mm_pkmap *p = m->pkmap;
    int s;

    if (!has_pkmap(m))
        return 0;
    s = slot_of(p, pfn);
    if (s == PKMAP_NONE)
        return 0;
    /* KERNEL: 3.4 mm/highmem.c kmap_high_get(): BUG_ON(count < 1); count++ */
    assert(p->count[s] >= 1);
    p->count[s]++;
    return pkmap_addr(m, (unsigned)s);
}

enum mm_status mm__kunmap_high_va(struct mm_machine *m, mm_vaddr_t va,
                                  struct mm_result *res)
{
    struct mm_pkmap *p = m->pkmap;
    unsigned s;

    assert(m != NULL && res != NULL);
    if (!has_pkmap(m) || va < m->lay.pkmap_base ||
        va - m->lay.pkmap_base >= MM_LAST_PKMAP * MM_PAGE_SIZE)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "kunmap_atomic: 0x%08x is not in the pkmap window", va);
    /* KERNEL: 3.4 arch/arm/mm/highmem.c __kunmap_atomic(): PKMAP_NR(vaddr) */
    s = (va - m->lay.pkmap_base) >> MM_PAGE_SHIFT;
    if (p->count[s] < 2)
        return mm__fail(res->msg, MM_NOT_FOUND,
                        "kunmap_atomic: 0x%08x is not a kmapped address (pkmap slot %u "
                        "has %s)",
                        va, s, p->count[s] == 0 ? "no mapping" : "no users");
    kunmap_slot(m, s, res);
    res->value = p->pfn[s];
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* Stats, check, report                                                */
/* ------------------------------------------------------------------ */

void mm__pkmap_stats(const struct mm_machine *m, struct mm_stats *st)
{
    const struct mm_pkmap *p = m->pkmap;

    st->pkmap_in_use = 0;
    for (unsigned i = 0; i < MM_LAST_PKMAP; i++) {
        if (p->count[i] >= 2)
            st->pkmap_in_use++;
    }
}

/* The hash holds exactly the slots with count >= 1, each once. */
static enum mm_status check_hash(const struct mm_machine *m, unsigned live,
                                 char err[MM_MSG_MAX])
{
    const struct mm_pkmap *p = m->pkmap;
    unsigned seen = 0;

    for (unsigned b = 0; b < PA_HASH_SIZE; b++) {
        for (int s = p->head[b]; s != PKMAP_NONE; s = p->next[s]) {
            if (s < 0 || s >= MM_LAST_PKMAP || ++seen > live)
                return mm__fail(err, MM_INTERNAL,
                                "pkmap: page_address hash bucket %u is corrupt", b);
            if (p->count[s] < 1 || pa_hash(p->pfn[s]) != b)
                return mm__fail(err, MM_INTERNAL,
                                "pkmap: page_address hash lists slot %d (count %d, "
                                "pfn 0x%x) in bucket %u",
                                s, p->count[s], p->pfn[s], b);
        }
    }
    if (seen != live)
        return mm__fail(err, MM_INTERNAL,
                        "pkmap: page_address hash holds %u pages, %u slots are mapped",
                        seen, live);
    return MM_OK;
}

/* One slot: count against its PTE (@pte, read by the caller) and its
 * page address. */
static enum mm_status check_slot(const struct mm_machine *m, unsigned i, uint32_t pte,
                                 char err[MM_MSG_MAX])
{
    const struct mm_pkmap *p = m->pkmap;
    mm_vaddr_t va = pkmap_addr(m, i);

    if (p->count[i] < 0)
        return mm__fail(err, MM_INTERNAL, "pkmap: slot %u has count %d", i, p->count[i]);
    if (p->count[i] == 0) {
        if (pte != 0)
            return mm__fail(err, MM_INTERNAL,
                            "pkmap: slot %u (0x%08x) is free but its PTE is 0x%08x", i,
                            va, pte);
        return MM_OK;
    }
    if (!page_is_high(m, p->pfn[i]))
        return mm__fail(err, MM_INTERNAL, "pkmap: slot %u maps pfn 0x%x, not highmem RAM",
                        i, p->pfn[i]);
    if (pte != mm__mk_pte(m, p->pfn[i], MM_PROT_KERNEL))
        return mm__fail(err, MM_INTERNAL,
                        "pkmap: slot %u (0x%08x, count %d) should map pfn 0x%x, PTE is "
                        "0x%08x",
                        i, va, p->count[i], p->pfn[i], pte);
    if (slot_of(p, p->pfn[i]) != (int)i)
        return mm__fail(err, MM_INTERNAL, "pkmap: page_address(pfn 0x%x) is not slot %u",
                        p->pfn[i], i);
    return MM_OK;
}

enum mm_status mm__pkmap_check(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_pkmap *p = m->pkmap;
    const uint32_t *pg;
    unsigned live = 0;
    enum mm_status st;
    bool one;

    if (p->last_pkmap_nr >= MM_LAST_PKMAP)
        return mm__fail(err, MM_INTERNAL, "pkmap: last_pkmap_nr %u is out of range",
                        p->last_pkmap_nr);
    if (!has_pkmap(m)) {
        for (unsigned i = 0; i < MM_LAST_PKMAP; i++) {
            if (p->count[i] != 0)
                return mm__fail(err, MM_INTERNAL,
                                "pkmap: slot %u is in use on a machine without HIGHMEM",
                                i);
        }
        return check_hash(m, 0, err);
    }
    if (!mm__has_pte_page(m, m->lay.pkmap_base))
        return mm__fail(err, MM_INTERNAL, "pkmap: no PTE page for 0x%08x",
                        m->lay.pkmap_base);
    /* The window's PTEs from their table page, read once: a lookup of the
     * page per slot (mm__pte_get()) was most of this check's time.  A
     * window across two tables (never on the configs we boot) reads per
     * slot. */
    one = (m->lay.pkmap_base >> 21) == (pkmap_addr(m, MM_LAST_PKMAP - 1) >> 21);
    pg = mm__phys_page(m->phys, MM_PFN(mm__pte_page(m, m->lay.pkmap_base)));
    for (unsigned i = 0; i < MM_LAST_PKMAP; i++) {
        unsigned w = (pkmap_addr(m, i) >> MM_PAGE_SHIFT) & (MM_PTRS_PER_PTE - 1);
        uint32_t pte = !one ? mm__pte_get(m, pkmap_addr(m, i)) : pg != NULL ? pg[w] : 0;

        st = check_slot(m, i, pte, err);
        if (st != MM_OK)
            return st;
        if (p->count[i] >= 1)
            live++;
    }
    return check_hash(m, live, err);
}

enum mm_status mm__report_pkmap(const struct mm_machine *m, struct mm_buf *out)
{
    struct mm_pkmap_view v;

    if (!mm__pkmap_view(m, &v)) {
        mm__buf_printf(out, "pkmap: none (CONFIG_HIGHMEM is not set)\n");
        return out->oom ? MM_NO_MEMORY : MM_OK;
    }
    mm__buf_printf(out,
                   "pkmap: 0x%08x-0x%08x, %u slots, last_pkmap_nr %u, %u in use, "
                   "%u unused (awaiting flush), %u flushes\n",
                   m->lay.pkmap_base, m->lay.pkmap_base + MM_LAST_PKMAP * MM_PAGE_SIZE,
                   (unsigned)MM_LAST_PKMAP, v.last_pkmap_nr, v.in_use, v.unused,
                   m->cnt.pkmap_flushes);
    mm__buf_printf(out, "slot  address     count  users  pfn\n");
    for (unsigned i = 0; i < MM_LAST_PKMAP; i++) {
        if (v.count[i] == 0)
            continue;
        mm__buf_printf(out, "%4u  0x%08x  %5d  %5d  0x%x\n", i, pkmap_addr(m, i),
                       v.count[i], v.count[i] - 1, v.pfn[i]);
    }
    return out->oom ? MM_NO_MEMORY : MM_OK;
}

/* The window's state, for both report forms. */
bool mm__pkmap_view(const struct mm_machine *m, struct mm_pkmap_view *v)
{
    const struct mm_pkmap *p = m->pkmap;

    memset(v, 0, sizeof(*v));
    if (!has_pkmap(m))
        return false;
    for (unsigned i = 0; i < MM_LAST_PKMAP; i++) {
        v->in_use += p->count[i] >= 2;
        v->unused += p->count[i] == 1;
    }
    v->last_pkmap_nr = p->last_pkmap_nr;
    v->count = p->count;
    v->pfn = p->pfn;
    return true;
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/*
 * Payload: u32 last_pkmap_nr, u32 count of slots in use (pkmap_count != 0),
 * then per such slot ascending: u16 slot, u32 pkmap_count, u32 pfn.  The
 * page_address hash is rebuilt from them.
 */
void mm__pkmap_save(const struct mm_pkmap *p, struct mm_buf *out)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < MM_LAST_PKMAP; i++)
        n += p->count[i] != 0;
    mm__wr_u32(out, p->last_pkmap_nr);
    mm__wr_u32(out, n);
    for (unsigned i = 0; i < MM_LAST_PKMAP; i++) {
        if (p->count[i] != 0) {
            mm__wr_u16(out, (uint16_t)i);
            mm__wr_u32(out, (uint32_t)p->count[i]);
            mm__wr_u32(out, p->pfn[i]);
        }
    }
}

/* Reads one slot record into @p; slots must ascend past *@last. */
static void load_slot(const struct mm_machine *m, struct mm_pkmap *p, struct mm_rd *rd,
                      int *last)
{
    unsigned nr = mm__rd_u16(rd);
    uint32_t count = mm__rd_u32(rd);
    mm_pfn_t pfn = mm__rd_u32(rd);

    if (rd->st != MM_OK)
        return;
    if (!has_pkmap(m) || nr >= MM_LAST_PKMAP || (int)nr <= *last) {
        mm__rd_fail(rd, "slot %u out of range or not ascending", nr);
        return;
    }
    if (count == 0 || count > (1u << 30) || !page_is_high(m, pfn) ||
        slot_of(p, pfn) != PKMAP_NONE) {
        mm__rd_fail(rd, "slot %u: count %u, pfn 0x%x (not one highmem page a slot)", nr,
                    count, pfn);
        return;
    }
    *last = (int)nr;
    p->count[nr] = (int)count;
    hash_add(p, nr, pfn);
}

void mm__pkmap_load(struct mm_machine *m, struct mm_rd *rd)
{
    uint32_t last_nr = mm__rd_u32(rd), n = mm__rd_u32(rd);
    struct mm_pkmap *p;
    int last = -1;

    if (rd->st == MM_OK && last_nr >= MM_LAST_PKMAP) {
        mm__rd_fail(rd, "last_pkmap_nr %u out of range", last_nr);
        return;
    }
    if (!mm__rd_count(rd, n, 10, MM_LAST_PKMAP, "slots"))
        return;
    p = mm__pkmap_create();
    if (p == NULL) {
        mm__rd_oom(rd);
        return;
    }
    p->last_pkmap_nr = last_nr;
    for (uint32_t i = 0; i < n && rd->st == MM_OK; i++)
        load_slot(m, p, rd, &last);
    if (rd->st != MM_OK) {
        mm__pkmap_destroy(p);
        return;
    }
    mm__pkmap_destroy(m->pkmap);
    m->pkmap = p;
}
