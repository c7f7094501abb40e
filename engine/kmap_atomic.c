/* engine/kmap_atomic.c - kmap_atomic()/kunmap_atomic() through the fixmap.
 *
 * Each CPU owns KM_TYPE_NR (KM_MAX_IDX from 5.11) consecutive fixmap slots;
 * fixmap index x = FIX_KMAP_BEGIN + slot + KM_TYPE_NR * cpu, and its address
 * is FIXADDR_START + (x << 12) where the fixmap grows up (up to 3.18) or
 * FIXADDR_TOP - (x << 12) where it grows down (asm-generic, from 4.1).  The
 * machine's era gives FIXADDR_START/TOP and FIX_KMAP_BEGIN.  Aries (3.4):
 * CPU0's slots are 0xfff00000..0xfff0f000, CPU1's start at 0xfff10000.
 *
 * Design.  Three styles, chosen by m->lay.atomic:
 *  - km_type (2.6.35/2.6.36, before the 2.6.37 stack): the caller names
 *    its enum km_type slot; mapping a slot that is live replaces it
 *    (MM_RES_DISPLACED, aux = the displaced pfn); unmapping leaves the PTE
 *    (stale).
 *  - stack (2.6.37..5.10): a per-CPU stack __kmap_atomic_idx; a push maps
 *    the next slot, kunmap_atomic must name the top slot; unmapping leaves
 *    the PTE in place (no DEBUG_HIGHMEM), so translate still finds the page
 *    until the slot is pushed again.
 *  - local (5.11+ generic kmap_local): the same stack, KM_MAX_IDX deep (per
 *    task in the kernel; per CPU here, as the machine has no tasks); unmap
 *    clears the PTE and flushes the local TLB entry.
 * Where the kernel would BUG or silently corrupt (a full stack, an unmap out
 * of order, an unknown slot), the operation fails and changes nothing.
 * Every slot is EMPTY (PTE 0), LIVE (mapped, in use) or STALE (PTE left
 * behind by an unmap).  A lowmem page needs no slot: its direct address.
 * A highmem page that is already kmap()ed is handed its pkmap address by
 * kmap_high_get() (ARCH_NEEDS_KMAP_HIGH_GET: defined on ARMv7, whose TLB is
 * CPU_TLB_V7, unless ARM_ERRATA_798181: m->lay.kmap_high_get), and
 * kunmap_atomic() of a pkmap address is kunmap_high().  With the erratum
 * switch (Debian's armmp 6.1) an already kmap()ed page gets a fresh slot.
 *
 * Results.  kmap_atomic: value = VA; in km_type style aux = the displaced
 * pfn with MM_RES_DISPLACED.  kunmap_atomic: value = the pfn that was mapped
 * (for a lowmem address, its direct pfn); for a pkmap address also aux =
 * users left and MM_RES_WAKE as kunmap.
 *
 * Report (MM_REPORT_FIXMAP): one header line, then per CPU one line and one
 * line per slot that is live or stale:
 *   kmap_atomic: stack style, 16 slots per CPU, 4 CPUs, fixmap 0xfff00000
 *   cpu 0: depth 1
 *     slot  index  address     pfn       state
 *        0      0  0xfff00000  0xafa00   live
 *        1      1  0xfff01000  0xafa01   stale
 * slot is the depth (km_type index in km_type style, then also a name
 * column), index the fixmap index x, address 0x%08x, pfn 0x%x left-aligned
 * in 8, state "live" or "stale".  In km_type style the CPU line reads
 * "cpu 0: 1 live" and each row ends with the km_type name.
 *
 * Emulates: 2.6.32 arch/arm/mm/highmem.c kmap_atomic(page, type),
 * kunmap_atomic(kvaddr, type); 3.4 arch/arm/mm/highmem.c kmap_atomic(),
 * __kunmap_atomic(); include/linux/highmem.h kmap_atomic_idx_push(),
 * kmap_atomic_idx(), kmap_atomic_idx_pop(); 4.10 arch/arm/mm/highmem.c
 * set_fixmap_pte(); 6.1 mm/highmem.c __kmap_local_page_prot(),
 * __kmap_local_pfn_prot(), kunmap_local_indexed(), kmap_local_idx_push();
 * 6.1 arch/arm/include/asm/highmem.h arch_kmap_local_high_get(),
 * arch_kmap_local_post_map(), arch_kmap_local_post_unmap();
 * asm-generic/fixmap.h __fix_to_virt().
 */
#include "mm_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum slot_state {
    SLOT_EMPTY = 0, /* PTE 0 */
    SLOT_LIVE,      /* mapped and in use */
    SLOT_STALE      /* unmapped, PTE left in place */
};

struct ka_slot {
    mm_pfn_t pfn;  /* the page mapped (LIVE, STALE) */
    uint8_t state; /* enum slot_state */
};

struct mm_katomic {
    enum mm_atomic style;        /* resolved: never MM_ATOMIC_DEFAULT */
    unsigned ncpus;              /* CONFIG_NR_CPUS as configured */
    unsigned nslots;             /* slots per CPU (KM_TYPE_NR/KM_MAX_IDX) */
    unsigned depth[MM_MAX_CPUS]; /* __kmap_atomic_idx (stack, local) */
    struct ka_slot slot[];       /* ncpus * nslots, CPU-major */
};

/*
 * ARM enum km_type as 2.6.35/2.6.36 define it, KM_TYPE_NR 16.  KM_KDB came
 * with kdb in 2.6.35 after KM_L2_CACHE; KM_L1_CACHE (kmap_high_l1_vipt())
 * precedes them; 2.6.32 upstream had neither KM_L1_CACHE nor KM_KDB (14).
 * KERNEL: 2.6.32 arch/arm/include/asm/kmap_types.h (zybsyzlz/linux-2.6.32);
 * 2.6.35 tenderloin and 3.x msm trees arch/arm/include/asm/kmap_types.h.
 * The first 13, which both share, are also libarmmap's (proto/names.h
 * ARMMAP_KM_TYPE_LIST); tests/daemon/test_names.c holds them equal.
 */
static const char *const km_names_16[] = {
    "KM_BOUNCE_READ",
    "KM_SKB_SUNRPC_DATA",
    "KM_SKB_DATA_SOFTIRQ",
    "KM_USER0",
    "KM_USER1",
    "KM_BIO_SRC_IRQ",
    "KM_BIO_DST_IRQ",
    "KM_PTE0",
    "KM_PTE1",
    "KM_IRQ0",
    "KM_IRQ1",
    "KM_SOFTIRQ0",
    "KM_SOFTIRQ1",
    "KM_L1_CACHE",
    "KM_L2_CACHE",
    "KM_KDB",
};
/* 2.6.32 upstream: no KM_L1_CACHE, no KM_KDB (KM_TYPE_NR 14). */
static const char *const km_names_14[] = {
    "KM_BOUNCE_READ",
    "KM_SKB_SUNRPC_DATA",
    "KM_SKB_DATA_SOFTIRQ",
    "KM_USER0",
    "KM_USER1",
    "KM_BIO_SRC_IRQ",
    "KM_BIO_DST_IRQ",
    "KM_PTE0",
    "KM_PTE1",
    "KM_IRQ0",
    "KM_IRQ1",
    "KM_SOFTIRQ0",
    "KM_SOFTIRQ1",
    "KM_L2_CACHE",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* Create, clone, destroy                                              */
/* ------------------------------------------------------------------ */

static size_t katomic_size(unsigned ncpus, unsigned nslots)
{
    return sizeof(struct mm_katomic) + (size_t)ncpus * nslots * sizeof(struct ka_slot);
}

struct mm_katomic *mm__katomic_create(const struct mm_machine *m)
{
    unsigned ncpus = m->cfg.cpus, nslots = m->lay.km_type_nr;
    struct mm_katomic *k;

    assert(ncpus >= 1 && ncpus <= MM_MAX_CPUS);
    k = calloc(1, katomic_size(ncpus, nslots));
    if (k == NULL)
        return NULL;
    k->style = m->lay.atomic;
    if (k->style == MM_ATOMIC_DEFAULT && m->lay.era != NULL)
        k->style = m->lay.era->atomic_default;
    k->ncpus = ncpus;
    k->nslots = nslots;
    return k;
}

struct mm_katomic *mm__katomic_clone(const struct mm_katomic *k)
{
    size_t size = katomic_size(k->ncpus, k->nslots);
    struct mm_katomic *c = malloc(size);

    if (c != NULL)
        memcpy(c, k, size);
    return c;
}

void mm__katomic_destroy(struct mm_katomic *k)
{
    free(k);
}

size_t mm__katomic_host_bytes(const struct mm_katomic *k)
{
    return k != NULL ? katomic_size(k->ncpus, k->nslots) : 0;
}

/* ------------------------------------------------------------------ */
/* Slots and addresses                                                 */
/* ------------------------------------------------------------------ */

static struct ka_slot *slot_at(struct mm_katomic *k, unsigned cpu, unsigned i)
{
    assert(cpu < k->ncpus && i < k->nslots);
    return &k->slot[cpu * k->nslots + i];
}

static const struct ka_slot *slot_get(const struct mm_katomic *k, unsigned cpu,
                                      unsigned i)
{
    assert(cpu < k->ncpus && i < k->nslots);
    return &k->slot[cpu * k->nslots + i];
}

/* FIX_KMAP_BEGIN + type + KM_TYPE_NR * cpu, as every era computes it. */
static unsigned fix_index(const struct mm_machine *m, unsigned cpu, unsigned i)
{
    /* KERNEL: 4.10 arch/arm/mm/highmem.c kmap_atomic(): idx = FIX_KMAP_BEGIN
     * + type + KM_TYPE_NR * smp_processor_id() (FIX_KMAP_BEGIN 0 before 4.4) */
    return m->lay.era->fix_kmap_begin + i + m->katomic->nslots * cpu;
}

/* __fix_to_virt(): bottom-up before 4.1, FIXADDR_TOP - (x << 12) after. */
static mm_vaddr_t fix_to_virt(const struct mm_machine *m, unsigned x)
{
    const struct mm_era *era = m->lay.era;

    if (era->fix_kmap_top != 0)
        return era->fix_kmap_top - ((mm_vaddr_t)x << MM_PAGE_SHIFT);
    return era->fixaddr_start + ((mm_vaddr_t)x << MM_PAGE_SHIFT);
}

static mm_vaddr_t slot_va(const struct mm_machine *m, unsigned cpu, unsigned i)
{
    return fix_to_virt(m, fix_index(m, cpu, i));
}

/* The CPU and slot whose address is @va (page-aligned), if any. */
static bool find_slot(const struct mm_machine *m, mm_vaddr_t va, unsigned *cpu,
                      unsigned *i)
{
    const struct mm_katomic *k = m->katomic;
    const struct mm_era *era = m->lay.era;
    unsigned base = era->fix_kmap_begin;
    uint32_t off;

    if (era->fix_kmap_top != 0) {
        if (va > era->fix_kmap_top)
            return false;
        off = (era->fix_kmap_top - va) >> MM_PAGE_SHIFT;
    } else {
        if (va < era->fixaddr_start)
            return false;
        off = (va - era->fixaddr_start) >> MM_PAGE_SHIFT;
    }
    if (off < base || k->nslots == 0 || off - base >= k->ncpus * k->nslots)
        return false;
    *cpu = (off - base) / k->nslots;
    *i = (off - base) % k->nslots;
    return true;
}

static bool is_stack_style(const struct mm_katomic *k)
{
    return k->style == MM_ATOMIC_STACK || k->style == MM_ATOMIC_LOCAL;
}

static const char *style_name(enum mm_atomic style)
{
    switch (style) {
    case MM_ATOMIC_KM_TYPE:
        return "km_type";
    case MM_ATOMIC_STACK:
        return "stack";
    case MM_ATOMIC_LOCAL:
        return "local";
    case MM_ATOMIC_DEFAULT:
        break;
    }
    return "default";
}

/* The machine's enum km_type names, or NULL outside km_type style. */
static const char *const *km_names(const struct mm_machine *m, size_t *n)
{
    const struct mm_katomic *k = m->katomic;

    *n = 0;
    if (k == NULL || k->style != MM_ATOMIC_KM_TYPE)
        return NULL;
    if (k->nslots == ARRAY_LEN(km_names_14)) {
        *n = ARRAY_LEN(km_names_14);
        return km_names_14;
    }
    /* 16 (2.6.35+); a shorter KM_TYPE_NR keeps the leading names. */
    *n = k->nslots < ARRAY_LEN(km_names_16) ? k->nslots : ARRAY_LEN(km_names_16);
    return km_names_16;
}

const char *mm_km_type_name(const struct mm_machine *m, int km_type)
{
    size_t n;
    const char *const *names = km_names(m, &n);

    if (names == NULL || km_type < 0 || (size_t)km_type >= n)
        return NULL;
    return names[km_type];
}

/* A slot's name for messages and reports; "?" past the known names. */
static const char *km_label(const struct mm_machine *m, unsigned i)
{
    const char *name = mm_km_type_name(m, (int)i);

    return name != NULL ? name : "?";
}

/* ASCII case-insensitive equality, independent of the locale. */
static bool name_eq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char ca = (*a >= 'a' && *a <= 'z') ? (char)(*a - 'a' + 'A') : *a;
        char cb = (*b >= 'a' && *b <= 'z') ? (char)(*b - 'a' + 'A') : *b;

        if (ca != cb)
            return false;
    }
    return *a == *b;
}

int mm_km_type_lookup(const struct mm_machine *m, const char *name)
{
    size_t n;
    const char *const *names = km_names(m, &n);

    if (names == NULL || name == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (name_eq(names[i], name))
            return (int)i;
    }
    return -1;
}

/* lowmem_page_address(). */
static mm_vaddr_t lowmem_address(const struct mm_machine *m, mm_pfn_t pfn)
{
    return m->lay.page_offset + ((mm_vaddr_t)pfn << MM_PAGE_SHIFT) - m->lay.phys_offset;
}

/* PageHighMem() on a machine with CONFIG_HIGHMEM. */
static bool page_is_high(const struct mm_machine *m, mm_pfn_t pfn)
{
    return m->lay.pkmap_base != 0 && mm__pfn_highmem(m, pfn);
}

/* ------------------------------------------------------------------ */
/* kmap_atomic                                                         */
/* ------------------------------------------------------------------ */

/* The km_type argument must match the style: a slot in km_type style,
 * none in stack and local style. */
static enum mm_status check_km_type(const struct mm_machine *m, int km_type,
                                    struct mm_result *res)
{
    const struct mm_katomic *k = m->katomic;

    if (k->style != MM_ATOMIC_KM_TYPE) {
        if (km_type < 0)
            return MM_OK;
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "kmap_atomic: km_type %d given, but this kernel's kmap_atomic "
                        "takes no slot (%s style)",
                        km_type, style_name(k->style));
    }
    if (km_type >= 0 && (unsigned)km_type < k->nslots)
        return MM_OK;
    if (km_type < 0)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "kmap_atomic: this kernel's kmap_atomic takes a km_type slot "
                        "(0..%u, %s..%s)",
                        k->nslots - 1, km_label(m, 0), km_label(m, k->nslots - 1));
    return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                    "kmap_atomic: km_type %d is out of range (0..%u, %s..%s)", km_type,
                    k->nslots - 1, km_label(m, 0), km_label(m, k->nslots - 1));
}

/* A slot the kernel could not use without clobbering another mapping. */
static enum mm_status check_slot_room(const struct mm_machine *m, unsigned cpu,
                                      unsigned i, struct mm_result *res)
{
    unsigned x = fix_index(m, cpu, i);
    unsigned slots = m->lay.era->fix_kmap_slots;
    mm_vaddr_t va = fix_to_virt(m, x);

    /* KERNEL: 3.4 fixmap.h FIX_KMAP_END 224 (no check: slot 224+ overruns) */
    if (slots != 0 && x - m->lay.era->fix_kmap_begin >= slots)
        return mm__fail(res->msg, MM_RESOURCE_EXHAUSTED,
                        "kmap_atomic: cpu %u slot %u is fixmap index %u (0x%08x), past "
                        "the %u kmap slots of this kernel",
                        cpu, i, x, va, slots);
    if (!mm__has_pte_page(m, va))
        return mm__fail(res->msg, MM_INTERNAL,
                        "kmap_atomic: no PTE page for fixmap slot 0x%08x", va);
    return MM_OK;
}

/* set_top_pte() / set_fixmap_pte(): PTE, then local_flush_tlb_kernel_page. */
static void map_slot(struct mm_machine *m, unsigned cpu, unsigned i, mm_pfn_t pfn)
{
    struct ka_slot *s = slot_at(m->katomic, cpu, i);
    mm_vaddr_t va = slot_va(m, cpu, i);

    mm__set_pte(m, va, mm__mk_pte(m, pfn, MM_PROT_KERNEL));
    mm__flush_tlb_page(m, va);
    s->pfn = pfn;
    s->state = SLOT_LIVE;
}

/* 2.6: the caller's slot; a live mapping there is displaced. */
static enum mm_status kmap_km_type(struct mm_machine *m, unsigned cpu, mm_pfn_t pfn,
                                   unsigned type, struct mm_result *res)
{
    struct ka_slot *s = slot_at(m->katomic, cpu, type);
    enum mm_status st = check_slot_room(m, cpu, type, res);

    if (st != MM_OK)
        return st;
    if (s->state == SLOT_LIVE) {
        res->aux = s->pfn;
        res->flags |= MM_RES_DISPLACED;
    }
    /* KERNEL: 2.6.32 arch/arm/mm/highmem.c kmap_atomic(): idx = type +
     * KM_TYPE_NR * smp_processor_id(); set_pte_ext; local_flush_tlb_kernel_page */
    map_slot(m, cpu, type, pfn);
    res->value = slot_va(m, cpu, type);
    return MM_OK;
}

/* 2.6.37..6.1: push the per-CPU stack. */
static enum mm_status kmap_push(struct mm_machine *m, unsigned cpu, mm_pfn_t pfn,
                                struct mm_result *res)
{
    struct mm_katomic *k = m->katomic;
    unsigned d = k->depth[cpu];
    enum mm_status st;

    /* KERNEL: 6.1 mm/highmem.c kmap_local_idx_push(): BUG_ON(idx >= KM_MAX_IDX);
     * 3.4 checks only with DEBUG_HIGHMEM (and spills into the next CPU) */
    if (d >= k->nslots)
        return mm__fail(res->msg, MM_RESOURCE_EXHAUSTED,
                        "kmap_atomic: cpu %u's kmap_atomic stack is full (depth %u)", cpu,
                        d);
    st = check_slot_room(m, cpu, d, res);
    if (st != MM_OK)
        return st;
    map_slot(m, cpu, d, pfn);
    k->depth[cpu] = d + 1;
    res->value = slot_va(m, cpu, d);
    return MM_OK;
}

enum mm_status mm__kmap_atomic(struct mm_machine *m, unsigned cpu, mm_pfn_t pfn,
                               int km_type, struct mm_result *res)
{
    struct mm_katomic *k = m->katomic;
    mm_vaddr_t va;
    enum mm_status st;

    assert(m != NULL && res != NULL && k != NULL);
    if (cpu >= k->ncpus)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "kmap_atomic: cpu %u does not exist (the machine has %u CPU%s)",
                        cpu, k->ncpus, k->ncpus == 1 ? "" : "s");
    if (!mm__pfn_valid(m, pfn))
        return mm__fail(res->msg, MM_INVALID_ARGUMENT, "kmap_atomic: pfn 0x%x is not RAM",
                        pfn);
    st = check_km_type(m, km_type, res);
    if (st != MM_OK)
        return st;
    if (!page_is_high(m, pfn)) {
        /* KERNEL: 3.4 arch/arm/mm/highmem.c kmap_atomic(): !PageHighMem */
        res->value = lowmem_address(m, pfn);
        return MM_OK;
    }
    /* KERNEL: 3.4 arch/arm/mm/highmem.c kmap_atomic(): kmap_high_get() first;
     * 6.1 arch_kmap_local_high_get(); neither with ARM_ERRATA_798181, where
     * kmap_high_get() is a stub returning NULL (asm/highmem.h) */
    va = m->lay.kmap_high_get ? mm__kmap_high_get(m, pfn) : 0;
    if (va != 0) {
        res->value = va;
        return MM_OK;
    }
    if (k->style == MM_ATOMIC_KM_TYPE)
        return kmap_km_type(m, cpu, pfn, (unsigned)km_type, res);
    return kmap_push(m, cpu, pfn, res);
}

/* ------------------------------------------------------------------ */
/* kunmap_atomic                                                       */
/* ------------------------------------------------------------------ */

/* 2.6: the slot @va names stops being live; its PTE stays (stale). */
static enum mm_status kunmap_km_type(struct mm_machine *m, unsigned cpu, mm_vaddr_t va,
                                     struct mm_result *res)
{
    struct mm_katomic *k = m->katomic;
    unsigned c, i;
    struct ka_slot *s;

    if (!find_slot(m, va, &c, &i) || c != cpu)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "kunmap_atomic: 0x%08x is not one of cpu %u's km_type slots "
                        "(0x%08x-0x%08x)",
                        va, cpu, slot_va(m, cpu, 0), slot_va(m, cpu, k->nslots - 1));
    s = slot_at(k, cpu, i);
    if (s->state != SLOT_LIVE)
        return mm__fail(res->msg, MM_NOT_FOUND,
                        "kunmap_atomic: km_type slot %u (%s) of cpu %u at 0x%08x is not "
                        "mapped",
                        i, km_label(m, i), cpu, va);
    /* KERNEL: 2.6.32 arch/arm/mm/highmem.c kunmap_atomic(): the PTE is only
     * cleared with DEBUG_HIGHMEM */
    s->state = SLOT_STALE;
    res->value = s->pfn;
    return MM_OK;
}

/* 2.6.37+: pop the top slot, which @va must be. */
static enum mm_status kunmap_pop(struct mm_machine *m, unsigned cpu, mm_vaddr_t va,
                                 struct mm_result *res)
{
    struct mm_katomic *k = m->katomic;
    unsigned c, i, d = k->depth[cpu];
    mm_vaddr_t top;
    struct ka_slot *s;

    if (!find_slot(m, va, &c, &i))
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "kunmap_atomic: 0x%08x is not a kmap_atomic address", va);
    if (d == 0)
        return mm__fail(res->msg, MM_NOT_FOUND,
                        "kunmap_atomic: cpu %u has no kmap_atomic mapping to unmap "
                        "(0x%08x)",
                        cpu, va);
    top = slot_va(m, cpu, d - 1);
    if (va != top)
        return mm__fail(res->msg, MM_ORDER,
                        "kunmap_atomic: 0x%08x is not the top of cpu %u's kmap_atomic "
                        "stack (expected 0x%08x)",
                        va, cpu, top);
    s = slot_at(k, cpu, d - 1);
    res->value = s->pfn;
    if (k->style == MM_ATOMIC_LOCAL) {
        /* KERNEL: 6.1 mm/highmem.c kunmap_local_indexed(): pte_clear, then
         * arch_kmap_local_post_unmap() = local_flush_tlb_kernel_page */
        mm__pte_clear(m, top);
        mm__flush_tlb_page(m, top);
        s->state = SLOT_EMPTY;
        s->pfn = 0;
    } else {
        /* KERNEL: 3.4 arch/arm/mm/highmem.c __kunmap_atomic(): PTE left
         * unless DEBUG_HIGHMEM; kmap_atomic_idx_pop() */
        s->state = SLOT_STALE;
    }
    k->depth[cpu] = d - 1;
    return MM_OK;
}

enum mm_status mm__kunmap_atomic(struct mm_machine *m, unsigned cpu, mm_vaddr_t va,
                                 struct mm_result *res)
{
    struct mm_katomic *k = m->katomic;
    const struct mm_layout *lay = &m->lay;
    mm_vaddr_t page = va & ~(mm_vaddr_t)(MM_PAGE_SIZE - 1);

    assert(m != NULL && res != NULL && k != NULL);
    if (cpu >= k->ncpus)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "kunmap_atomic: cpu %u does not exist (the machine has %u CPU%s)",
                        cpu, k->ncpus, k->ncpus == 1 ? "" : "s");
    /* KERNEL: 3.4 arch/arm/mm/highmem.c __kunmap_atomic(): a pkmap address
     * came from kmap_high_get(); 6.1 mm/highmem.c kmap_high_unmap_local()
     * does this only under ARCH_NEEDS_KMAP_HIGH_GET, else it is a WARN */
    if (lay->pkmap_base != 0 && page >= lay->pkmap_base &&
        page - lay->pkmap_base < MM_LAST_PKMAP * MM_PAGE_SIZE) {
        if (!lay->kmap_high_get)
            return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                            "kunmap_atomic: 0x%08x is a pkmap address, and this kernel "
                            "(ARM_ERRATA_798181) never hands one out",
                            va);
        return mm__kunmap_high_va(m, page, res);
    }
    if (page >= lay->page_offset && page < lay->high_memory) {
        /* A lowmem page was never given a slot: nothing to undo. */
        res->value = MM_PFN(page - lay->page_offset + lay->phys_offset);
        return MM_OK;
    }
    if (k->style == MM_ATOMIC_KM_TYPE)
        return kunmap_km_type(m, cpu, page, res);
    return kunmap_pop(m, cpu, page, res);
}

/* ------------------------------------------------------------------ */
/* Check and report                                                    */
/* ------------------------------------------------------------------ */

/* One slot's state against its depth and its PTE. */
static enum mm_status check_one(const struct mm_machine *m, unsigned cpu, unsigned i,
                                char err[MM_MSG_MAX])
{
    const struct mm_katomic *k = m->katomic;
    const struct ka_slot *s = slot_get(k, cpu, i);
    mm_vaddr_t va = slot_va(m, cpu, i);
    uint32_t pte = mm__pte_get(m, va);
    bool below = i < k->depth[cpu];

    if (s->state > SLOT_STALE)
        return mm__fail(err, MM_INTERNAL, "fixmap: cpu %u slot %u has state %u", cpu, i,
                        s->state);
    if (is_stack_style(k) && below != (s->state == SLOT_LIVE))
        return mm__fail(err, MM_INTERNAL, "fixmap: cpu %u slot %u is %s at depth %u", cpu,
                        i, s->state == SLOT_LIVE ? "live" : "not live", k->depth[cpu]);
    if (k->style == MM_ATOMIC_LOCAL && !below && s->state != SLOT_EMPTY)
        return mm__fail(err, MM_INTERNAL,
                        "fixmap: cpu %u slot %u above depth %u is not empty", cpu, i,
                        k->depth[cpu]);
    if (s->state == SLOT_EMPTY) {
        if (pte != 0)
            return mm__fail(err, MM_INTERNAL,
                            "fixmap: cpu %u slot %u (0x%08x) is empty but its PTE is "
                            "0x%08x",
                            cpu, i, va, pte);
        return MM_OK;
    }
    if (!page_is_high(m, s->pfn))
        return mm__fail(err, MM_INTERNAL,
                        "fixmap: cpu %u slot %u maps pfn 0x%x, not highmem RAM", cpu, i,
                        s->pfn);
    if (pte != mm__mk_pte(m, s->pfn, MM_PROT_KERNEL))
        return mm__fail(err, MM_INTERNAL,
                        "fixmap: cpu %u slot %u (0x%08x, %s) should map pfn 0x%x, PTE is "
                        "0x%08x",
                        cpu, i, va, s->state == SLOT_LIVE ? "live" : "stale", s->pfn,
                        pte);
    return MM_OK;
}

enum mm_status mm__katomic_check(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_katomic *k = m->katomic;
    enum mm_status st;

    if (k->ncpus != m->cfg.cpus || k->nslots != m->lay.km_type_nr)
        return mm__fail(err, MM_INTERNAL,
                        "fixmap: %u CPUs x %u slots, the machine has %u x %u", k->ncpus,
                        k->nslots, m->cfg.cpus, m->lay.km_type_nr);
    for (unsigned c = 0; c < k->ncpus; c++) {
        if (k->depth[c] > (is_stack_style(k) ? k->nslots : 0))
            return mm__fail(err, MM_INTERNAL, "fixmap: cpu %u has depth %u", c,
                            k->depth[c]);
        for (unsigned i = 0; i < k->nslots; i++) {
            st = check_one(m, c, i, err);
            if (st != MM_OK)
                return st;
        }
    }
    return MM_OK;
}

/* One CPU's block of the fixmap report. */
static void report_cpu(const struct mm_machine *m, unsigned cpu, struct mm_buf *out)
{
    const struct mm_katomic *k = m->katomic;
    bool km = k->style == MM_ATOMIC_KM_TYPE;
    struct mm_katomic_slot s;
    unsigned live = 0, shown = 0;

    for (unsigned i = 0; i < k->nslots; i++) {
        if (mm__katomic_slot(m, cpu, i, &s)) {
            live += s.live;
            shown++;
        }
    }
    if (km)
        mm__buf_printf(out, "cpu %u: %u live\n", cpu, live);
    else
        mm__buf_printf(out, "cpu %u: depth %u\n", cpu, k->depth[cpu]);
    if (shown == 0)
        return;
    mm__buf_printf(out, "  slot  index  address     pfn       state%s\n",
                   km ? "  name" : "");
    for (unsigned i = 0; i < k->nslots; i++) {
        const char *state;
        char pfn[16];

        if (!mm__katomic_slot(m, cpu, i, &s))
            continue;
        state = s.live ? "live" : "stale";
        snprintf(pfn, sizeof(pfn), "0x%x", s.pfn);
        mm__buf_printf(out, "  %4u  %5u  0x%08x  %-8s  ", i, s.index, s.va, pfn);
        if (s.name != NULL)
            mm__buf_printf(out, "%-5s  %s\n", state, s.name);
        else
            mm__buf_printf(out, "%s\n", state);
    }
}

enum mm_status mm__report_fixmap(const struct mm_machine *m, struct mm_buf *out)
{
    const struct mm_katomic *k = m->katomic;

    mm__buf_printf(out,
                   "kmap_atomic: %s style, %u slots per CPU, %u CPU%s, fixmap "
                   "0x%08x\n",
                   style_name(k->style), k->nslots, k->ncpus, k->ncpus == 1 ? "" : "s",
                   m->lay.fixaddr_start);
    for (unsigned c = 0; c < k->ncpus; c++)
        report_cpu(m, c, out);
    return out->oom ? MM_NO_MEMORY : MM_OK;
}

/* The slots' state, for both report forms. */
void mm__katomic_view(const struct mm_machine *m, struct mm_katomic_view *v)
{
    const struct mm_katomic *k = m->katomic;

    v->style = style_name(k->style);
    v->ncpus = k->ncpus;
    v->nslots = k->nslots;
    v->depth = k->depth;
}

bool mm__katomic_slot(const struct mm_machine *m, unsigned cpu, unsigned i,
                      struct mm_katomic_slot *s)
{
    const struct ka_slot *ks = slot_get(m->katomic, cpu, i);

    if (ks->state == SLOT_EMPTY)
        return false;
    s->index = fix_index(m, cpu, i);
    s->va = slot_va(m, cpu, i);
    s->pfn = ks->pfn;
    s->live = ks->state == SLOT_LIVE;
    s->name = m->katomic->style == MM_ATOMIC_KM_TYPE ? km_label(m, i) : NULL;
    return true;
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/*
 * Payload: u32 depth per CPU (ncpus, from the config), u32 count of slots
 * not empty, then per such slot ascending: u32 index (CPU-major), u8
 * state, u32 pfn.
 */
void mm__katomic_save(const struct mm_katomic *k, struct mm_buf *out)
{
    size_t total = (size_t)k->ncpus * k->nslots;
    uint32_t n = 0;

    for (unsigned c = 0; c < k->ncpus; c++)
        mm__wr_u32(out, k->depth[c]);
    for (size_t i = 0; i < total; i++)
        n += k->slot[i].state != SLOT_EMPTY;
    mm__wr_u32(out, n);
    for (size_t i = 0; i < total; i++) {
        if (k->slot[i].state != SLOT_EMPTY) {
            mm__wr_u32(out, (uint32_t)i);
            mm__wr_u8(out, k->slot[i].state);
            mm__wr_u32(out, k->slot[i].pfn);
        }
    }
}

void mm__katomic_load(struct mm_machine *m, struct mm_rd *rd)
{
    struct mm_katomic *k = mm__katomic_clone(m->katomic); /* fresh: all empty */
    size_t total;
    int64_t last = -1;
    uint32_t n;

    if (k == NULL) {
        mm__rd_oom(rd);
        return;
    }
    total = (size_t)k->ncpus * k->nslots;
    for (unsigned c = 0; c < k->ncpus && rd->st == MM_OK; c++) {
        k->depth[c] = mm__rd_u32(rd);
        if (rd->st == MM_OK && k->depth[c] > k->nslots)
            mm__rd_fail(rd, "cpu %u: stack depth %u of %u slots", c, k->depth[c],
                        k->nslots);
    }
    n = mm__rd_u32(rd);
    if (mm__rd_count(rd, n, 9, (uint32_t)total, "slots")) {
        for (uint32_t i = 0; i < n && rd->st == MM_OK; i++) {
            uint32_t idx = mm__rd_u32(rd);
            uint8_t state = mm__rd_u8(rd);
            mm_pfn_t pfn = mm__rd_u32(rd);

            if (rd->st != MM_OK)
                break;
            if (idx >= total || (int64_t)idx <= last || state == SLOT_EMPTY ||
                state > SLOT_STALE || pfn >= (1u << 20)) {
                mm__rd_fail(rd, "slot %u: state %u, pfn 0x%x", idx, state, pfn);
                break;
            }
            last = idx;
            k->slot[idx] = (struct ka_slot){ pfn, state };
        }
    }
    if (rd->st != MM_OK) {
        mm__katomic_destroy(k);
        return;
    }
    mm__katomic_destroy(m->katomic);
    m->katomic = k;
}
