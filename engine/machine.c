/* engine/machine.c - one emulated machine: boot, operations, records, replay.
 *
 * mm_create() boots a machine the way 3.4's setup_arch() and paging_init()
 * do, in the same order, so that every early allocation lands on the
 * physical page the kernel would give it: memblock reserves the kernel image
 * and swapper_pg_dir, map_lowmem() writes the direct map, devicemaps_init()
 * takes the vectors page and the top PTE page, kmap_init() the pkmap (and,
 * from 3.18, fixmap) PTE page, then the zero page and mem_map; whatever is
 * left is freed to the buddy allocator.  Early allocations are memblock's:
 * top-down below the current limit.
 *
 * Every state change goes through mm_apply(), which checks the argument
 * count, dispatches to the module that owns the operation, and gives a
 * successful change the machine's next sequence number.  The op and its
 * result together are the event record; mm_replay() re-applies one and
 * compares.  A failed operation changes nothing and takes no number.
 *
 * Emulates: arch/arm/kernel/setup.c setup_arch() (memory part),
 * arch/arm/mm/init.c arm_memblock_init(), bootmem_init(), mem_init();
 * arch/arm/mm/mmu.c paging_init(), map_lowmem(), devicemaps_init(),
 * kmap_init(); mm/memblock.c memblock_alloc() (top-down).
 * Not modelled: 3.4's bootmem bitmap and bottom-up bootmem placement (all
 * boot allocations are memblock top-down), the vector page's contents, the
 * msm timer page's device mapping, the kuser-helper stubs page mapping.
 */
#include "mm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MM_SIZEOF_STRUCT_PAGE 32 /* KERNEL: 3.4 ARM, no debug options */
/* KERNEL: 6.1 include/linux/mm_types.h struct page on 32-bit ARM: flags, a
 * 5-word union, _mapcount, _refcount, and memcg_data with CONFIG_MEMCG (set
 * in Debian's config-6.1.0-57-armmp; no HAVE_ALIGNED_STRUCT_PAGE, no
 * LAST_CPUPID_NOT_IN_PAGE_FLAGS, spinlock_t of 4 bytes): 36 bytes. */
#define MM_SIZEOF_STRUCT_PAGE_MEMCG 36
#define MM_MAX_MEMBLOCK_RESERVED    64

unsigned mm__sizeof_struct_page(const struct mm_config *cfg)
{
    return mm__config_memcg(cfg) ? MM_SIZEOF_STRUCT_PAGE_MEMCG : MM_SIZEOF_STRUCT_PAGE;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static const char *const status_names[MM_STATUS_COUNT] = {
    [MM_OK] = "OK",
    [MM_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [MM_NOT_FOUND] = "NOT_FOUND",
    [MM_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [MM_NO_MEMORY] = "NO_MEMORY",
    [MM_WOULD_BLOCK] = "WOULD_BLOCK",
    [MM_FAULT] = "FAULT",
    [MM_ORDER] = "ORDER",
    [MM_PERMISSION_DENIED] = "PERMISSION_DENIED",
    [MM_UNAUTHENTICATED] = "UNAUTHENTICATED",
    [MM_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
    [MM_UNAVAILABLE] = "UNAVAILABLE",
    [MM_INTERNAL] = "INTERNAL",
    [MM_MOVED] = "MOVED",
};

const char *mm_status_name(enum mm_status st)
{
    if ((unsigned)st >= MM_STATUS_COUNT)
        return "UNKNOWN";
    return status_names[st];
}

bool mm_status_lookup(const char *name, enum mm_status *out)
{
    for (unsigned i = 0; i < MM_STATUS_COUNT; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum mm_status)i;
            return true;
        }
    }
    return false;
}

/* Each opcode's name and how many argument words it takes. */
static const struct op_desc {
    const char *name;
    uint32_t min_args, max_args;
} op_descs[MM_OP_COUNT] = {
    [MM_OP_ALLOC] = { "alloc", 2, 2 },
    [MM_OP_FREE] = { "free", 2, 2 },
    [MM_OP_KMAP] = { "kmap", 1, 1 },
    [MM_OP_KUNMAP] = { "kunmap", 1, 1 },
    [MM_OP_KMAP_ATOMIC] = { "kmap_atomic", 1, 2 },
    [MM_OP_KUNMAP_ATOMIC] = { "kunmap_atomic", 1, 1 },
    [MM_OP_VMALLOC] = { "vmalloc", 1, 1 },
    [MM_OP_VFREE] = { "vfree", 1, 1 },
    [MM_OP_VMAP] = { "vmap", 1, MM_OP_MAX_ARGS },
    [MM_OP_VUNMAP] = { "vunmap", 1, 1 },
    [MM_OP_IOREMAP] = { "ioremap", 2, 2 },
    [MM_OP_IOUNMAP] = { "iounmap", 1, 1 },
    [MM_OP_MODULE_ALLOC] = { "module_alloc", 1, 1 },
    [MM_OP_MODULE_FREE] = { "module_free", 1, 1 },
    [MM_OP_KMAP_FLUSH] = { "kmap_flush", 0, 0 },
    [MM_OP_MODULE_ENABLE_RO] = { "module_enable_ro", 3, 3 },
};

const char *mm_op_name(enum mm_opcode op)
{
    if ((unsigned)op >= MM_OP_COUNT || op == MM_OP_NONE)
        return NULL;
    return op_descs[op].name;
}

enum mm_opcode mm_op_lookup(const char *name)
{
    for (unsigned i = 1; i < MM_OP_COUNT; i++) {
        const char *a = op_descs[i].name, *b = name;

        while (*a != '\0' && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return (enum mm_opcode)i;
    }
    return MM_OP_NONE;
}

/* ------------------------------------------------------------------ */
/* Boot: a small memblock                                              */
/* ------------------------------------------------------------------ */

/* memblock.reserved during boot: sorted, merged byte ranges, plus the
 * current allocation limit (memblock_set_current_limit()). */
struct mm_memblock {
    size_t n;
    struct mm_range32 r[MM_MAX_MEMBLOCK_RESERVED];
    uint64_t limit;
    bool full; /* a reservation did not fit the table */
};

/* memblock_reserve(): insert [start, end), merging with neighbours. */
static void memblock_reserve(struct mm_memblock *mb, uint64_t start, uint64_t end)
{
    size_t i = 0, j;

    if (start >= end)
        return;
    while (i < mb->n && mb->r[i].end < start)
        i++;
    j = i;
    while (j < mb->n && mb->r[j].start <= end) {
        if (mb->r[j].start < start)
            start = mb->r[j].start;
        if (mb->r[j].end > end)
            end = mb->r[j].end;
        j++;
    }
    if (i == j && mb->n == MM_MAX_MEMBLOCK_RESERVED) {
        mb->full = true;
        return;
    }
    /* Ranges i..j-1 collapse into one at i. */
    memmove(&mb->r[i + 1], &mb->r[j], (mb->n - j) * sizeof(mb->r[0]));
    mb->n = mb->n - (j - i) + 1;
    mb->r[i].start = (mm_paddr_t)start;
    mb->r[i].end = end;
}

/* memblock_free(): drop [start, end) from the reservations (one range may
 * split in two; if the table has no room for that, it is marked full). */
static void memblock_free(struct mm_memblock *mb, uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < mb->n && start < end; i++) {
        struct mm_range32 *r = &mb->r[i];

        if (r->end <= start || r->start >= end)
            continue;
        if (r->start < start && r->end > end) {
            if (mb->n == MM_MAX_MEMBLOCK_RESERVED) {
                mb->full = true;
                return;
            }
            memmove(&mb->r[i + 1], &mb->r[i], (mb->n - i) * sizeof(mb->r[0]));
            mb->n++;
            mb->r[i].end = (mm_paddr_t)start;
            mb->r[i + 1].start = (mm_paddr_t)end;
            return;
        }
        if (r->start < start) {
            r->end = (mm_paddr_t)start;
        } else if (r->end > end) {
            r->start = (mm_paddr_t)end;
        } else {
            memmove(&mb->r[i], &mb->r[i + 1], (mb->n - i - 1) * sizeof(mb->r[0]));
            mb->n--;
            i--;
        }
    }
}

/* The highest reserved range that overlaps [start, end), or NULL. */
static const struct mm_range32 *memblock_overlap(const struct mm_memblock *mb,
                                                 uint64_t start, uint64_t end)
{
    for (size_t i = mb->n; i-- > 0;) {
        if (mb->r[i].start < end && mb->r[i].end > start)
            return &mb->r[i];
    }
    return NULL;
}

/*
 * memblock_alloc(): the highest @align-aligned range of @size bytes in RAM
 * below the current limit that overlaps no reservation; reserves it and
 * returns its start in *@pa.  False when nothing fits.
 */
static bool memblock_alloc(struct mm_machine *m, uint64_t size, uint64_t align,
                           uint64_t *pa)
{
    struct mm_memblock *mb = m->boot;

    for (unsigned i = m->lay.nr_regions; i-- > 0;) {
        const struct mm_region *rg = &m->lay.regions[i];
        uint64_t top = rg->end < mb->limit ? rg->end : mb->limit;

        while (top >= rg->start + size) {
            uint64_t base = (top - size) & ~(align - 1);
            const struct mm_range32 *hit;

            if (base < rg->start)
                break;
            hit = memblock_overlap(mb, base, base + size);
            if (hit == NULL) {
                memblock_reserve(mb, base, base + size);
                *pa = base;
                return true;
            }
            top = hit->start;
        }
    }
    return false;
}

/*
 * memblock_alloc_range_nid() top-down: the highest @align-aligned range of
 * @size bytes inside [@start, @end) and RAM that overlaps no reservation.
 * Unlike memblock_alloc() the current limit does not apply (an explicit
 * end is given).
 */
static bool memblock_alloc_range(struct mm_machine *m, uint64_t size, uint64_t align,
                                 uint64_t start, uint64_t end, uint64_t *pa)
{
    struct mm_memblock *mb = m->boot;

    for (unsigned i = m->lay.nr_regions; i-- > 0;) {
        const struct mm_region *rg = &m->lay.regions[i];
        uint64_t lo = rg->start > start ? rg->start : start;
        uint64_t top = rg->end < end ? rg->end : end;

        while (top >= lo + size) {
            uint64_t base = (top - size) & ~(align - 1);
            const struct mm_range32 *hit;

            if (base < lo)
                break;
            hit = memblock_overlap(mb, base, base + size);
            if (hit == NULL) {
                memblock_reserve(mb, base, base + size);
                *pa = base;
                return true;
            }
            top = hit->start;
        }
    }
    return false;
}

/*
 * The default CMA area, placed as 6.1 does it from arm_memblock_init():
 * dma_contiguous_reserve(arm_dma_limit = 0xffffffff) ->
 * cma_declare_contiguous_nid(): size and limit aligned to
 * CMA_MIN_ALIGNMENT_BYTES (PAGE_SIZE * pageblock_nr_pages, pageblock_order
 * MAX_ORDER - 1 without HUGETLB_PAGE), the limit capped at the end of
 * DRAM, and the area taken top-down from highmem first when [0, limit)
 * crosses highmem_start, then from [0, min(limit, highmem_start)).  Up to
 * config version 2 only the highmem placement was modelled, and stored
 * machines keep that.  In lowmem dma_contiguous_remap() then remaps the
 * area with pages (below).  KERNEL: 6.1 mm/cma.c
 * cma_declare_contiguous_nid(), kernel/dma/contiguous.c,
 * include/linux/cma.h, include/linux/pageblock-flags.h.
 */
static void reserve_cma(struct mm_machine *m)
{
    const struct mm_layout *lay = &m->lay;
    uint64_t size = mm__config_cma_bytes(&m->cfg);
    uint64_t align = (uint64_t)MM_PAGE_SIZE << (mm__config_max_order(&m->cfg) - 1);
    uint64_t end = lay->regions[lay->nr_regions - 1].end;
    uint64_t limit = 0xffffffffull & ~(align - 1);
    uint64_t highmem_start = lay->lowmem_limit, pa;

    if (size == 0)
        return;
    size = (size + align - 1) & ~(align - 1);
    if (limit > end)
        limit = end;
    if (highmem_start < limit &&
        memblock_alloc_range(m, size, align, highmem_start, limit, &pa)) {
        m->cma_base = (mm_paddr_t)pa;
        m->cma_pages = (uint32_t)(size >> MM_PAGE_SHIFT);
        return;
    }
    if (highmem_start < limit)
        limit = highmem_start;
    if (mm__config_late_boot(&m->cfg) &&
        memblock_alloc_range(m, size, align, 0, limit, &pa)) {
        m->cma_base = (mm_paddr_t)pa;
        m->cma_pages = (uint32_t)(size >> MM_PAGE_SHIFT);
    }
}

/* early_pte_alloc() for create_mapping(): one zeroed PTE page; false if
 * memblock or host memory runs out. */
static bool early_alloc_pte(struct mm_machine *m, mm_paddr_t *pa)
{
    uint64_t p;

    if (!memblock_alloc(m, MM_PAGE_SIZE, MM_PAGE_SIZE, &p) ||
        mm__phys_page_rw(m->phys, MM_PFN(p)) == NULL)
        return false;
    *pa = (mm_paddr_t)p;
    m->cnt.pte_pages++;
    return true;
}

/* iotable_init() and vm_reserve_area_early(): a struct static_vm (a 32-byte
 * vm_struct and a list head, 4-byte aligned) from memblock per static
 * area, from config version 5.  KERNEL: 6.1 arch/arm/mm/mmu.c, mm.h,
 * include/linux/vmalloc.h (no HAVE_ARCH_HUGE_VMALLOC on ARM). */
static bool early_static_vm(struct mm_machine *m)
{
    uint64_t pa;

    return !mm__config_early_memblock(&m->cfg) || memblock_alloc(m, 40, 4, &pa);
}

/* early_pte_alloc() + __pmd_populate() for kmap_init(): a kernel table. */
static enum mm_status early_pte_install(struct mm_machine *m, mm_vaddr_t va,
                                        char err[MM_MSG_MAX])
{
    mm_paddr_t pa;

    if (mm__has_pte_page(m, va))
        return MM_OK;
    if (!early_alloc_pte(m, &pa))
        return mm__fail(err, MM_NO_MEMORY,
                        "create: no lowmem left for the page table of 0x%08x", va);
    mm__pmd_populate(m, va, pa, 0x11); /* KERNEL: _PAGE_KERNEL_TABLE */
    return MM_OK;
}

/*
 * The current limit for early allocations.  3.x: arm_lowmem_limit.  4.x+
 * (adjust_lowmem_bounds()): the first lowmem point that is not 2 MiB
 * aligned, else arm_lowmem_limit, rounded down to 2 MiB.
 */
static uint64_t memblock_limit(const struct mm_layout *lay)
{
    uint64_t limit = 0;

    if (lay->era->meminfo_split)
        return lay->lowmem_limit;
    for (unsigned i = 0; i < lay->nr_regions && limit == 0; i++) {
        const struct mm_region *rg = &lay->regions[i];

        if (rg->highmem || rg->start >= lay->lowmem_limit)
            break;
        if (rg->start % MM_PMD_SIZE != 0)
            limit = rg->start;
        else if (rg->end % MM_PMD_SIZE != 0 && rg->end < lay->lowmem_limit)
            limit = rg->end;
    }
    if (limit == 0)
        limit = lay->lowmem_limit;
    return limit & ~(uint64_t)(MM_PMD_SIZE - 1);
}

/* arm_memblock_init(): the kernel image, swapper_pg_dir, the carve-outs.
 * The image is KERNEL_START.._end, KERNEL_START being _stext (KERNEL: 6.1
 * arch/arm/include/asm/memory.h); from config version 3 that is the
 * reference image's _stext, so its head text up to _stext is free memory;
 * before, the reservation started at _text, and stored machines keep it. */
static void reserve_boot_ranges(struct mm_machine *m)
{
    const struct mm_layout *lay = &m->lay;
    mm_vaddr_t lo = mm__config_late_boot(&m->cfg) ? lay->stext : lay->text.start;
    mm_vaddr_t hi = lay->bss.end;

    if (lay->init.start < lo)
        lo = lay->init.start;
    if (lay->data.end > hi)
        hi = lay->data.end;
    /* KERNEL: 3.4 arch/arm/mm/init.c memblock_reserve(__pa(_stext), _end - _stext) */
    memblock_reserve(m->boot, lo - lay->page_offset + lay->phys_offset,
                     (uint64_t)hi - lay->page_offset + lay->phys_offset);
    /* KERNEL: 3.4 arch/arm/mm/mmu.c arm_mm_memblock_reserve() */
    memblock_reserve(m->boot, lay->pgd_pa, (uint64_t)lay->pgd_pa + 0x4000);
    for (unsigned i = 0; i < m->cfg.nr_reserves; i++) {
        const struct mm_reserve *r = &m->cfg.reserves[i];

        memblock_reserve(m->boot, r->start, (uint64_t)r->start + r->size);
    }
}

/* memblock_is_region_reserved(): whether [start, end) meets a reservation. */
static bool memblock_overlaps(const struct mm_memblock *mb, uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < mb->n; i++) {
        if (mb->r[i].start < end && mb->r[i].end > start)
            return true;
    }
    return false;
}

/*
 * A range the boot loader placed (the initrd, the device tree): *start
 * and the returned *end are [*start, *start + size) rounded out to pages,
 * as memblock reserves partial pages.  Refused, naming it, unless it lies
 * inside one memory region and meets no reservation made so far.
 */
static enum mm_status boot_range_check(const struct mm_machine *m, const char *name,
                                       uint64_t *start, uint64_t size, uint64_t *end,
                                       char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;
    uint64_t s = *start & ~(uint64_t)(MM_PAGE_SIZE - 1);
    uint64_t e = (*start + size + MM_PAGE_SIZE - 1) & ~(uint64_t)(MM_PAGE_SIZE - 1);
    bool memory = false;

    for (unsigned i = 0; i < lay->nr_regions; i++)
        memory |= s >= lay->regions[i].start && e <= lay->regions[i].end;
    if (!memory)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "create: %s 0x%08llx+0x%08llx is not a memory region", name,
                        (unsigned long long)s, (unsigned long long)(e - s));
    if (memblock_overlaps(m->boot, s, e))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "create: %s 0x%08llx+0x%08llx overlaps in-use memory", name,
                        (unsigned long long)s, (unsigned long long)(e - s));
    *start = s;
    *end = e;
    return MM_OK;
}

/*
 * reserve_initrd_mem() (arm_memblock_init(), right after the image): the
 * initrd= range rounded out to pages, when it lies inside one memory
 * region and meets no reservation (the kernel sees the image's; the
 * engine also swapper_pg_dir and the carve-outs, reserved just after, and
 * refuses that overlap too); the kernel would boot without it
 * otherwise ("INITRD: ... - disabling initrd"), the engine refuses the
 * config instead, and also an initrd in highmem, whose __va() is not its
 * address.  late_boot() frees it.  KERNEL: 6.1 init/initramfs.c
 * reserve_initrd_mem(), arch/arm/mm/init.c arm_memblock_init().
 */
static enum mm_status reserve_initrd(struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;
    uint64_t start, size, end;

    enum mm_status st;

    if (!mm__config_initrd(&m->cfg, &start, &size))
        return MM_OK;
    st = boot_range_check(m, "initrd", &start, size, &end, err);
    if (st != MM_OK)
        return st;
    if (end > lay->lowmem_limit)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "create: initrd 0x%08llx+0x%08llx is not in lowmem",
                        (unsigned long long)start, (unsigned long long)(end - start));
    memblock_reserve(m->boot, start, end);
    m->initrd_start = (mm_paddr_t)start;
    m->initrd_pages = (uint32_t)((end - start) >> MM_PAGE_SHIFT);
    return MM_OK;
}

/*
 * The device tree blob (setup_arch(): memblock_reserve(__atags_pointer,
 * fdt_totalsize()), before arm_memblock_init(); never freed), rounded out
 * to pages as memblock leaves partial pages reserved.  The engine checks
 * what the kernel would not survive: a blob outside RAM or over memory in
 * use (the image, swapper_pg_dir, a carve-out), one that
 * devicemaps_init()'s 2 MiB map from its MiB does not hold, or any blob
 * before 5.11, where it is not modelled.  KERNEL: 6.1 arch/arm/kernel/
 * setup.c setup_arch(), arch/arm/mm/mmu.c devicemaps_init(),
 * asm/memory.h FDT_FIXED_BASE, FDT_FIXED_SIZE.
 */
static enum mm_status reserve_fdt(struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;
    uint64_t start, end;
    uint32_t size;
    enum mm_status st;

    if (!mm__config_fdt(&m->cfg, &start, &size))
        return MM_OK;
    if (lay->fdt_base == 0)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "create: fdt is modelled from 5.11 on (FDT_FIXED_BASE), not "
                        "on %u.%u.%u; use fdt=auto or none",
                        m->cfg.kernel >> 16, (m->cfg.kernel >> 8) & 0xff,
                        m->cfg.kernel & 0xff);
    if (start % MM_SECTION_SIZE + size > MM_FDT_FIXED_SIZE)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "create: fdt 0x%08llx+0x%x ends past the 2 MiB the kernel maps "
                        "from its MiB (FDT_FIXED_SIZE)",
                        (unsigned long long)start, size);
    st = boot_range_check(m, "fdt", &start, size, &end, err);
    if (st != MM_OK)
        return st;
    memblock_reserve(m->boot, start, end);
    m->fdt_start = (mm_paddr_t)start;
    m->fdt_pages = (uint32_t)((end - start) >> MM_PAGE_SHIFT);
    return MM_OK;
}

/* devicemaps_init(): the blob's 2 MiB from its MiB, read-only sections
 * (MT_MEMORY_RO) at FDT_FIXED_BASE, when there is a blob. */
static enum mm_status map_fdt(struct mm_machine *m, char err[MM_MSG_MAX])
{
    mm_paddr_t pa = m->fdt_start & ~(mm_paddr_t)(MM_SECTION_SIZE - 1);

    if (m->fdt_pages == 0)
        return MM_OK;
    if (mm__map_memory(m, m->lay.fdt_base, pa, MM_FDT_FIXED_SIZE, MM_PROT_MEMORY_RO,
                       early_alloc_pte) != MM_OK)
        return mm__fail(err, MM_NO_MEMORY, "create: could not map the device tree");
    return MM_OK;
}

/* map_lowmem(): the direct map of every lowmem region. */
static enum mm_status map_lowmem(struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;

    for (unsigned i = 0; i < lay->nr_regions; i++) {
        const struct mm_region *rg = &lay->regions[i];
        uint64_t end = rg->end < lay->lowmem_limit ? rg->end : lay->lowmem_limit;
        mm_vaddr_t va = rg->start - lay->phys_offset + lay->page_offset;

        if (rg->highmem || rg->start >= end)
            continue;
        if (mm__map_memory(m, va, rg->start, (uint32_t)(end - rg->start), MM_PROT_KERNEL,
                           early_alloc_pte) != MM_OK)
            return mm__fail(err, MM_NO_MEMORY, "create: no lowmem left to map 0x%08x",
                            rg->start);
    }
    return MM_OK;
}

/*
 * dma_contiguous_remap() (paging_init(), after map_lowmem()): the part of
 * the CMA area below arm_lowmem_limit loses its sections (pmd_clear() per
 * 2 MiB) and is mapped again with pages, MT_MEMORY_DMA_READY, each PTE
 * page an early_alloc(); iotable_init() lists it as a static vm area
 * (mm__vm_area_next()).  A highmem area has no direct map to change.
 * KERNEL: 6.1 arch/arm/mm/dma-mapping.c dma_contiguous_remap(),
 * arch/arm/mm/mmu.c paging_init(), iotable_init().
 */
static enum mm_status remap_cma(struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;
    uint64_t start = m->cma_base, end = start + ((uint64_t)m->cma_pages << MM_PAGE_SHIFT);
    mm_vaddr_t va = (mm_vaddr_t)(start - lay->phys_offset + lay->page_offset);

    if (end > lay->lowmem_limit)
        end = lay->lowmem_limit;
    if (m->cma_pages == 0 || start >= end)
        return MM_OK;
    for (uint64_t a = va; a < (uint64_t)va + (end - start); a += MM_PMD_SIZE)
        mm__pmd_clear(m, (mm_vaddr_t)a);
    mm__flush_tlb_range(m, va, (mm_vaddr_t)(va + (end - start) - 1));
    if (!early_static_vm(m) ||
        mm__map_memory(m, va, (mm_paddr_t)start, (uint32_t)(end - start),
                       MM_PROT_DMA_READY, early_alloc_pte) != MM_OK)
        return mm__fail(err, MM_NO_MEMORY,
                        "create: no lowmem left to remap the CMA area");
    m->cma_remap_bytes = (uint32_t)(end - start);
    return MM_OK;
}

/* devicemaps_init() and kmap_init(): vectors, top PTE page, pkmap, fixmap. */
static enum mm_status map_devices(struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;
    /* KERNEL: 3.11 arch/arm/mm/mmu.c devicemaps_init(): vectors + stubs page */
    unsigned nvec = m->cfg.kernel >= MM_KVER(3, 11, 0) ? 2 : 1;
    uint64_t vectors;
    enum mm_status st;

    if (!memblock_alloc(m, nvec * MM_PAGE_SIZE, nvec * MM_PAGE_SIZE, &vectors))
        return mm__fail(err, MM_NO_MEMORY, "create: no lowmem left for the vectors page");
    st = map_fdt(m, err);
    if (st != MM_OK)
        return st;
    /* KERNEL: 4.19, 6.1 arch/arm/mm/mmu.c paging_init(): the early fixmap's
     * table (early_fixmap_init(), _PAGE_KERNEL_TABLE) is gone before the
     * vectors are mapped: early_fixmap_shutdown() clears its pmd, so
     * devicemaps_init() allocates the top table with MT_HIGH_VECTORS'
     * prot_l1, DOMAIN_VECTORS (the real 6.1 armmp kernel shows 0x061 in the
     * L1 entry of its kmap_local slots: tests/oracle). */
    if (mm__map_memory(m, lay->vectors_base, (mm_paddr_t)vectors, MM_PAGE_SIZE,
                       MM_PROT_HIGH_VECTORS, early_alloc_pte) != MM_OK)
        return mm__fail(err, MM_NO_MEMORY,
                        "create: no lowmem left for the top page table");
    /* KERNEL: 4.19, 6.1 devicemaps_init(): "Now create a kernel read-only
     * mapping" of the stubs page at 0xffff0000 + PAGE_SIZE, MT_LOW_VECTORS */
    if (nvec == 2 && mm__map_memory(m, lay->vectors_base + MM_PAGE_SIZE,
                                    (mm_paddr_t)vectors + MM_PAGE_SIZE, MM_PAGE_SIZE,
                                    MM_PROT_LOW_VECTORS, early_alloc_pte) != MM_OK)
        return mm__fail(err, MM_NO_MEMORY, "create: no lowmem left for the stubs page");
    /* pci_reserve_io() */
    if (lay->pci_io_base != 0 && !early_static_vm(m))
        return mm__fail(err, MM_NO_MEMORY, "create: no lowmem left for the PCI I/O area");
    if (lay->pkmap_base != 0) {
        st = early_pte_install(m, lay->pkmap_base, err);
        if (st != MM_OK)
            return st;
    }
    if (lay->era->fixmap_own_pte_page)
        return early_pte_install(m, lay->fixaddr_start, err);
    return MM_OK;
}

/* bootmem_init(): the zero page, then mem_map for the whole pfn span. */
static enum mm_status reserve_late(struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;
    uint64_t span, pages, pa, align;

    if (!memblock_alloc(m, MM_PAGE_SIZE, MM_PAGE_SIZE, &pa))
        return mm__fail(err, MM_NO_MEMORY, "create: no lowmem left for the zero page");
    /* KERNEL: 3.4, 6.1 mm/page_alloc.c alloc_node_mem_map(): the span aligned
     * to MAX_ORDER_NR_PAGES (1 << (MAX_ORDER - 1)); Debian's armmp sets
     * CONFIG_ARCH_FORCE_MAX_ORDER=12, so 2048 pages there, else 1024 */
    align = 1u << (mm__config_max_order(&m->cfg) - 1);
    span = ((uint64_t)lay->max_pfn + align - 1) / align * align -
           (lay->min_pfn & ~(mm_pfn_t)(align - 1));
    pages = span * (mm__config_memcg(&m->cfg) ? MM_SIZEOF_STRUCT_PAGE_MEMCG
                                              : MM_SIZEOF_STRUCT_PAGE);
    if (!memblock_alloc(m, pages, 64, &pa))
        return mm__fail(err, MM_NO_MEMORY,
                        "create: no lowmem left for mem_map (%llu bytes)",
                        (unsigned long long)pages);
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* The boot's small memblock allocations (config version 5)            */
/* ------------------------------------------------------------------ */

#define SMP_CACHE_BYTES 64u /* KERNEL: 6.1 arch/arm L1_CACHE_BYTES, v7 */

/* memblock_alloc() of @size bytes aligned to @align; false if no room. */
static bool early_small(struct mm_machine *m, uint64_t size, uint64_t align)
{
    uint64_t pa;

    return memblock_alloc(m, size, align, &pa);
}

/*
 * free_area_init_core() -> setup_usemap(), after alloc_node_mem_map():
 * each populated zone's pageblock flags, NR_PAGEBLOCK_BITS (4) a
 * pageblock of 1 << pageblock_order (MAX_ORDER - 1 without HUGETLB_PAGE)
 * pages, in whole longs.  KERNEL: 6.1 mm/page_alloc.c usemap_size(),
 * include/linux/pageblock-flags.h.
 */
static bool reserve_usemaps(struct mm_machine *m)
{
    const struct mm_layout *lay = &m->lay;
    const mm_pfn_t bound[] = { lay->min_pfn, lay->dma_end_pfn, lay->max_low_pfn,
                               lay->max_pfn };
    uint64_t block = 1ull << (mm__config_max_order(&m->cfg) - 1);

    for (unsigned z = 0; z + 1 < sizeof(bound) / sizeof(bound[0]); z++) {
        uint64_t pages = bound[z + 1] > bound[z] ? bound[z + 1] - bound[z] : 0;
        uint64_t bits;

        if (pages == 0)
            continue;
        pages += bound[z] & (block - 1);
        bits = (pages + block - 1) / block * 4;
        if (!early_small(m, (bits + 31) / 32 * 4, SMP_CACHE_BYTES))
            return false;
    }
    return true;
}

/*
 * The bytes unflatten_device_tree() takes for QEMU's virt tree: its first
 * pass sizes each node as a 108-byte struct device_node plus its name,
 * each property as a 48-byte struct property, and a "name" property
 * (48 bytes plus the name up to '@') for every node without one, 4-byte
 * aligned (armmp: CONFIG_OF_KOBJ, no OF_DYNAMIC; a 32-bit kobject and
 * bin_attribute); the copy is that, aligned to 4, plus a 4-byte end
 * marker.  QEMU 7.2's tree (-M virt -cpu cortex-a15, dumpdtb) with one
 * CPU, an initrd and a command line: 56 nodes, 220 properties, 20795
 * bytes, less /chosen's rng-seed (48), which early_init_dt_scan_chosen()
 * has replaced with NOPs; each further CPU adds cpu@N and its cpu-map
 * coreN (628 bytes) and cpu@0 gains enable-method (48); without an
 * initrd /chosen lacks linux,initrd-start and -end (96).  KERNEL: 6.1
 * drivers/of/fdt.c populate_node(), populate_properties(),
 * __unflatten_device_tree(), early_init_dt_scan_chosen();
 * include/linux/of.h, fwnode.h, kobject.h, sysfs.h.  docs/kernel.md.
 */
static uint32_t qemu_virt_tree_bytes(unsigned cpus, bool initrd)
{
    uint32_t size = 20795 - 48;

    if (cpus > 1)
        size += 48 + (cpus - 1) * 628;
    if (!initrd)
        size -= 2 * 48;
    return ((size + 3) & ~3u) + 4;
}

/*
 * setup_arch() after paging_init(): request_standard_resources()' struct
 * resource (32 bytes without LPAE) per memblock.memory range, then
 * unflatten_device_tree()'s copy of QEMU's tree (the blob QEMU placed:
 * fdt auto), then start_kernel()'s setup_command_line():
 * saved_command_line and static_command_line, strlen + 1 each.
 * KERNEL: 6.1 arch/arm/kernel/setup.c setup_arch(),
 * request_standard_resources(), init/main.c setup_command_line().
 */
static bool reserve_setup_arch(struct mm_machine *m)
{
    const struct mm_layout *lay = &m->lay;
    uint64_t start, size, cmdline = strlen(m->cfg.cmdline) + 1;

    for (unsigned i = 0; i < lay->nr_regions; i++) {
        /* one memblock range, though the engine splits it at the lowmem cut */
        if ((i == 0 || lay->regions[i].start != lay->regions[i - 1].end) &&
            !early_small(m, 32, SMP_CACHE_BYTES))
            return false;
    }
    if (m->fdt_pages != 0 && m->cfg.fdt_mode == MM_FDT_AUTO &&
        !early_small(m,
                     qemu_virt_tree_bytes(m->cfg.cpus,
                                          mm__config_initrd(&m->cfg, &start, &size)),
                     4))
        return false;
    return early_small(m, cmdline, SMP_CACHE_BYTES) &&
           early_small(m, cmdline, SMP_CACHE_BYTES);
}

/* pcpu_alloc_first_chunk() for the region of @map_size bytes at @offset
 * of the unit: the chunk with its populated bitmap (struct pcpu_chunk is
 * 92 bytes on 32-bit with MEMCG_KMEM), then the allocation and boundary
 * bitmaps (a bit per PCPU_MIN_ALLOC_SIZE, 4 bytes) and a 32-byte
 * pcpu_block_md per page.  KERNEL: 6.1 mm/percpu.c, percpu-internal.h. */
static bool percpu_chunk_maps(struct mm_machine *m, uint32_t offset, uint32_t map_size)
{
    uint32_t start = offset % MM_PAGE_SIZE;
    uint32_t pages = (start + map_size + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
    uint32_t bits = pages * MM_PAGE_SIZE / 4;

    return early_small(m, 92 + 4 * ((pages + 31) / 32), SMP_CACHE_BYTES) &&
           early_small(m, 4 * ((bits + 31) / 32), SMP_CACHE_BYTES) &&
           early_small(m, 4 * ((bits + 1 + 31) / 32), SMP_CACHE_BYTES) &&
           early_small(m, 32 * pages, SMP_CACHE_BYTES);
}

/*
 * What pcpu_embed_first_chunk() allocates around the units (config
 * version 5): pcpu_alloc_alloc_info()'s page before them and the
 * group-pointer page (PFN_ALIGN(nr_groups * 4), cache aligned) after
 * pcpu_build_alloc_info(); after the units pcpu_setup_first_chunk()'s
 * group offsets and sizes (one group), unit map and offsets (nr_cpu_ids
 * each), the chunk slot lists (__pcpu_size_to_slot(unit) + 4 list heads)
 * and the reserved and dynamic chunks' maps; then both pages are freed.
 * percpu_info() takes the two pages, percpu_first_chunk_maps() the rest;
 * reserve_percpu() allocates the units in between.
 */
static bool percpu_info(struct mm_machine *m, uint64_t *ai, uint64_t *areas)
{
    return memblock_alloc(m, MM_PAGE_SIZE, MM_PAGE_SIZE, ai) &&
           memblock_alloc(m, MM_PAGE_SIZE, SMP_CACHE_BYTES, areas);
}

static bool percpu_first_chunk_maps(struct mm_machine *m, uint64_t ai, uint64_t areas)
{
    uint32_t s, r, d, unit = mm__percpu_unit_pages(&m->cfg) * MM_PAGE_SIZE;
    uint32_t s4, fls = 0, cpus = m->cfg.cpus;

    mm__percpu_sizes(&m->cfg, &s, &r, &d);
    s4 = (s + 3) & ~3u;
    while (fls < 32 && (unit >> fls) != 0)
        fls++;
    if (!early_small(m, 4, SMP_CACHE_BYTES) || !early_small(m, 4, SMP_CACHE_BYTES) ||
        !early_small(m, 4 * cpus, SMP_CACHE_BYTES) ||
        !early_small(m, 4 * cpus, SMP_CACHE_BYTES) ||
        !early_small(m, 8 * (fls - 5 + 2 + 4), SMP_CACHE_BYTES) ||
        !percpu_chunk_maps(m, s4, r) || !percpu_chunk_maps(m, s4 + r, d - (s4 - s)))
        return false;
    memblock_free(m->boot, ai, ai + MM_PAGE_SIZE);
    memblock_free(m->boot, areas, areas + MM_PAGE_SIZE);
    return true;
}

/* consistent_init() (core_initcall, up to 3.5): PTE pages for the window. */
static enum mm_status init_consistent(struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;

    for (uint64_t va = lay->consistent_start & ~(MM_PMD_SIZE - 1);
         lay->consistent_end != 0 && va < lay->consistent_end; va += MM_PMD_SIZE) {
        enum mm_status st = mm__pte_alloc(m, (mm_vaddr_t)va, "create", err);

        if (st != MM_OK)
            return st;
    }
    return MM_OK;
}

/*
 * setup_per_cpu_areas() (start_kernel(), after setup_arch()): the first
 * chunk, PFN_ALIGN(static + PERCPU_MODULE_RESERVE + PERCPU_DYNAMIC_RESERVE)
 * a unit, one unit per possible CPU, in one memblock allocation (atom
 * PAGE_SIZE, no lower goal below lowmem: MAX_DMA_ADDRESS is 0xffffffff
 * without a DMA zone size).  Its bitmaps and maps are small memblock
 * allocations that are not modelled.  KERNEL: 6.1 mm/percpu.c
 * setup_per_cpu_areas(), pcpu_embed_first_chunk(), pcpu_fc_alloc();
 * include/linux/percpu.h.
 */
static bool reserve_percpu(struct mm_machine *m)
{
    uint64_t pa, ai = 0, areas = 0;
    uint32_t pages = mm__percpu_unit_pages(&m->cfg);
    bool maps = mm__config_early_memblock(&m->cfg);

    if (pages == 0)
        return true;
    if (maps && !percpu_info(m, &ai, &areas))
        return false;
    if (!memblock_alloc(m, (uint64_t)pages * m->cfg.cpus * MM_PAGE_SIZE, MM_PAGE_SIZE,
                        &pa))
        return false;
    return !maps || percpu_first_chunk_maps(m, ai, areas);
}

/*
 * free_area_init_core()'s nr_kernel_pages (@all: nr_all_pages): per zone
 * its present pages less its memmap (calc_memmap_size(): the span times
 * sizeof(struct page), page-aligned), lowmem zones summed; a highmem zone
 * adds its present pages to @all only, and takes its memmap off the
 * kernel pages when they exceed twice that.  ARM has no dma_reserve.
 * KERNEL: 6.1 mm/page_alloc.c free_area_init_core(), calc_memmap_size().
 */
static uint64_t kernel_pages(const struct mm_machine *m, uint64_t *all)
{
    const struct mm_layout *lay = &m->lay;
    const mm_pfn_t bound[] = { lay->min_pfn, lay->dma_end_pfn, lay->max_low_pfn,
                               lay->max_pfn };
    uint64_t kernel = 0;

    *all = 0;
    for (unsigned z = 0; z + 1 < sizeof(bound) / sizeof(bound[0]); z++) {
        uint64_t span = bound[z + 1] > bound[z] ? bound[z + 1] - bound[z] : 0;
        uint64_t present = span != 0 ? mm__ram_pages_in(lay, bound[z], bound[z + 1]) : 0;
        uint64_t memmap = (span * mm__sizeof_struct_page(&m->cfg) + MM_PAGE_SIZE - 1) >>
                          MM_PAGE_SHIFT;

        if (z == 2) { /* ZONE_HIGHMEM */
            if (kernel > memmap * 2)
                kernel -= memmap;
            *all += present;
            continue;
        }
        if (present >= memmap)
            present -= memmap;
        kernel += present;
        *all += present;
    }
    return kernel;
}

/* ilog2(roundup_pow_of_two(@n)) for @n >= 1 */
static unsigned order_base_2(uint64_t n)
{
    unsigned shift = 0;

    while ((1ull << shift) < n)
        shift++;
    return shift;
}

unsigned mm__vfs_hash_shift(const struct mm_machine *m, unsigned scale)
{
    const uint64_t bucket = 4; /* sizeof(struct hlist_bl_head), (hlist_head) */
    uint64_t all, n = kernel_pages(m, &all), max;
    /* the command line's say: dhash_entries= for the dentry table (scale
     * 13), ihash_entries= for the inode table (14); 0 if none */
    uint64_t given = mm__config_hash_entries(&m->cfg, scale == 13 ? "dhash_entries="
                                                                  : "ihash_entries=");

    if (!mm__config_early_memblock(&m->cfg))
        return 0;
    if (given != 0) {
        n = given;
    } else {
        /* round up to a MiB of pages, then 1 bucket per 2^scale bytes */
        n = (n + 255) & ~(uint64_t)255;
        n = scale > MM_PAGE_SHIFT ? n >> (scale - MM_PAGE_SHIFT)
                                  : n << (MM_PAGE_SHIFT - scale);
        if (n * bucket < MM_PAGE_SIZE)
            n = MM_PAGE_SIZE / bucket;
    }
    /* at most 1/16 of all memory, and 2^31 buckets */
    max = ((all << MM_PAGE_SHIFT) >> 4) / bucket;
    if (max > 0x80000000ull)
        max = 0x80000000ull;
    n = (uint64_t)1 << order_base_2(n);
    while (n > max)
        n >>= 1;
    return order_base_2(n);
}

/*
 * vfs_caches_init_early() (start_kernel(), after setup_per_cpu_areas()):
 * dcache_init_early() then inode_init_early() take their hash tables
 * from memblock (HASH_EARLY, SMP_CACHE_BYTES aligned, never freed).
 * Scale 13 and 14; dhash_entries= / ihash_entries= from config version 6
 * (mm__vfs_hash_shift()).  KERNEL: 6.1
 * fs/dcache.c dcache_init_early(), fs/inode.c inode_init_early(),
 * mm/page_alloc.c alloc_large_system_hash().
 */
static bool reserve_vfs_hashes(struct mm_machine *m)
{
    static const unsigned scales[] = { 13, 14 };
    uint64_t pa;

    for (unsigned i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
        unsigned shift = mm__vfs_hash_shift(m, scales[i]);

        if (shift != 0 && !memblock_alloc(m, (uint64_t)4 << shift, 64, &pa))
            return false;
    }
    return true;
}

/*
 * atomic_pool_init()'s pool from a CMA area in lowmem: the pages come
 * from dma_alloc_from_contiguous() at the area's start and are used
 * through the direct map, which __dma_remap() first gives the pool's
 * protection, pgprot_dmacoherent(PAGE_KERNEL) (L_PTE_MT_BUFFERABLE,
 * L_PTE_XN; ARM_DMA_MEM_BUFFERABLE), PTE by PTE (the area is mapped with
 * pages since dma_contiguous_remap(), remap_cma() above), then flushes the
 * range.  A highmem CMA area's pool is a vmalloc-space remap instead
 * (vmboot61.c).  KERNEL: 6.1 arch/arm/mm/dma-mapping.c atomic_pool_init(),
 * __alloc_from_contiguous(), __dma_remap(), __dma_update_pte();
 * arch/arm/include/asm/pgtable.h pgprot_dmacoherent().
 */
static void dma_remap_pool(struct mm_machine *m)
{
    const struct mm_layout *lay = &m->lay;
    uint32_t bytes = m->cma_used << MM_PAGE_SHIFT;
    mm_vaddr_t va = (mm_vaddr_t)(m->cma_base - lay->phys_offset + lay->page_offset);

    if (m->cma_remap_bytes < bytes)
        return;
    for (uint32_t off = 0; off < bytes; off += MM_PAGE_SIZE) {
        mm__set_pte(m, va + off, MM_PTE_DMACOHERENT(mm__pte_get(m, va + off)));
    }
    mm__flush_tlb_range(m, va, va + bytes);
}

/*
 * What the 6.1 reference boot does after mem_init() (config version 3):
 * free_initmem() returns __init_begin..__init_end to the buddy allocator
 * (here: the range leaves memblock.reserved before the buddy is built, so
 * the pages are free; the Memory: line leaves them out, as it was printed
 * first), and atomic_pool_init() (postcore_initcall) takes
 * DEFAULT_DMA_COHERENT_POOL_SIZE, 256 KiB, from the CMA area; with
 * STRICT_KERNEL_RWX free_initmem() and mark_rodata_ro() also set the
 * image's section permissions (mm__fix_kernmem_perms()).  KERNEL: 6.1
 * arch/arm/mm/init.c free_initmem(), mm/page_alloc.c free_reserved_area(),
 * arch/arm/mm/dma-mapping.c atomic_pool_init(), __alloc_from_contiguous().
 */
static void late_boot(struct mm_machine *m)
{
    const struct mm_layout *lay = &m->lay;
    uint64_t start, end;

    if (!mm__config_late_boot(&m->cfg))
        return;
    start = (uint64_t)lay->init.start - lay->page_offset + lay->phys_offset;
    end = (uint64_t)lay->init.end - lay->page_offset + lay->phys_offset;
    start = (start + MM_PAGE_SIZE - 1) & ~(uint64_t)(MM_PAGE_SIZE - 1);
    end &= ~(uint64_t)(MM_PAGE_SIZE - 1);
    if (start < end) {
        memblock_free(m->boot, start, end);
        m->initmem_pages = (uint32_t)((end - start) >> MM_PAGE_SHIFT);
    }
    /* KERNEL: 6.1 arch/arm/mm/init.c free_initrd_mem(): rounded out as reserved */
    if (m->initrd_pages != 0)
        memblock_free(m->boot, m->initrd_start,
                      (uint64_t)m->initrd_start +
                          ((uint64_t)m->initrd_pages << MM_PAGE_SHIFT));
    if (m->cma_pages != 0) {
        m->cma_used = (256u << 10) >> MM_PAGE_SHIFT;
        dma_remap_pool(m);
    }
    mm__fix_kernmem_perms(m);
}

static enum mm_status boot(struct mm_machine *m, char err[MM_MSG_MAX])
{
    struct mm_memblock mb = { 0 };
    struct mm_stats st;
    enum mm_status rc;

    m->boot = &mb;
    mb.limit = memblock_limit(&m->lay);
    reserve_boot_ranges(m);
    /* the kernel reserves the blob first; checking the initrd first names
     * a bad initrd= rather than the blob QEMU would place after it */
    rc = reserve_initrd(m, err);
    if (rc == MM_OK)
        rc = reserve_fdt(m, err);
    if (rc != MM_OK)
        goto out;
    reserve_cma(m);
    for (unsigned i = 0; i < 4; i++) {
        if (mm__phys_page_rw(m->phys, MM_PFN(m->lay.pgd_pa) + i) == NULL) {
            rc = mm__fail(err, MM_NO_MEMORY, "create: out of host memory");
            goto out;
        }
    }
    rc = map_lowmem(m, err);
    if (rc == MM_OK)
        rc = remap_cma(m, err);
    if (rc == MM_OK)
        rc = map_devices(m, err);
    if (rc == MM_OK)
        rc = reserve_late(m, err);
    if (rc == MM_OK && mm__config_early_memblock(&m->cfg) &&
        !(reserve_usemaps(m) && reserve_setup_arch(m)))
        rc = mm__fail(err, MM_NO_MEMORY, "create: no lowmem left for setup_arch()");
    if (rc == MM_OK && !reserve_percpu(m))
        rc = mm__fail(err, MM_NO_MEMORY, "create: no lowmem left for the per-CPU areas");
    if (rc == MM_OK && !reserve_vfs_hashes(m))
        rc = mm__fail(err, MM_NO_MEMORY,
                      "create: no lowmem left for the VFS hash tables");
    if (rc == MM_OK)
        late_boot(m);
    if (rc == MM_OK && mb.full)
        rc = mm__fail(err, MM_INVALID_ARGUMENT, "create: too many disjoint reservations");
    if (rc == MM_OK && mm__buddy_init(m, mb.r, mb.n) != MM_OK)
        rc = mm__fail(err, MM_NO_MEMORY, "create: out of host memory");
    if (rc == MM_OK)
        rc = init_consistent(m, err);
out:
    m->boot = NULL;
    if (rc != MM_OK)
        return rc;
    mm__buddy_stats(m, &st);
    m->boot_reserved_pages = st.reserved_pages;
    m->boot_pte_pages = m->cnt.pte_pages - mm__buddy_owned_pages(m, MM_OWN_PGTABLE);
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* Create, destroy, clone                                              */
/* ------------------------------------------------------------------ */

enum mm_status mm_create(const struct mm_config *cfg, struct mm_machine **out,
                         char err[MM_MSG_MAX])
{
    struct mm_machine *m;
    enum mm_status st;

    *out = NULL;
    err[0] = '\0';
    st = mm_config_validate(cfg, err);
    if (st != MM_OK)
        return st;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return mm__fail(err, MM_NO_MEMORY, "create: out of host memory");
    m->cfg = *cfg;
    st = mm__layout_compute(cfg, &m->lay, err);
    if (st != MM_OK)
        goto fail;
    m->phys = mm__phys_create();
    if (m->phys == NULL)
        goto oom;
    st = boot(m, err);
    if (st != MM_OK)
        goto fail;
    m->pkmap = mm__pkmap_create();
    m->katomic = mm__katomic_create(m);
    m->vmap = mm__vmap_create(m);
    if (m->pkmap == NULL || m->katomic == NULL || m->vmap == NULL)
        goto oom;
    if (mm__physidx_build(m) != MM_OK)
        goto oom;
    if ((st = mm__vmap_boot(m, err)) != MM_OK)
        goto fail;
    *out = m;
    return MM_OK;
oom:
    st = mm__fail(err, MM_NO_MEMORY, "create: out of host memory");
fail:
    mm_destroy(m);
    return st;
}

void mm_destroy(struct mm_machine *m)
{
    if (m == NULL)
        return;
    mm__physidx_destroy(m->physidx);
    mm__vmap_destroy(m->vmap);
    mm__katomic_destroy(m->katomic);
    mm__pkmap_destroy(m->pkmap);
    mm__buddy_destroy(m->buddy);
    mm__phys_destroy(m->phys);
    free(m);
}

struct mm_machine *mm_clone(const struct mm_machine *m)
{
    struct mm_machine *c = malloc(sizeof(*c));

    if (c == NULL)
        return NULL;
    *c = *m;
    c->phys = mm__phys_clone(m->phys);
    c->buddy = mm__buddy_clone(m->buddy);
    c->pkmap = mm__pkmap_clone(m->pkmap);
    c->katomic = mm__katomic_clone(m->katomic);
    c->vmap = mm__vmap_clone(m->vmap);
    c->physidx = mm__physidx_clone(m->physidx);
    if (!c->phys || !c->buddy || !c->pkmap || !c->katomic || !c->vmap ||
        (m->physidx && !c->physidx)) {
        mm_destroy(c);
        return NULL;
    }
    return c;
}

const struct mm_config *mm_machine_config(const struct mm_machine *m)
{
    return &m->cfg;
}

uint64_t mm_seq(const struct mm_machine *m)
{
    return m->seq;
}

size_t mm_host_bytes(const struct mm_machine *m)
{
    return sizeof(*m) + mm__phys_host_bytes(m->phys) + mm__buddy_host_bytes(m->buddy) +
           mm__pkmap_host_bytes(m->pkmap) + mm__katomic_host_bytes(m->katomic) +
           mm__vmap_host_bytes(m->vmap) + mm__physidx_host_bytes(m->physidx);
}

void mm_oops(struct mm_machine *m, const char *why)
{
    if (m->broken[0] != '\0')
        return; /* keep the first reason */
    snprintf(m->broken, sizeof(m->broken), "%s", why[0] ? why : "(no reason given)");
}

const char *mm_broken(const struct mm_machine *m)
{
    return m->broken[0] ? m->broken : NULL;
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

/* Checks what every op shares: a known opcode, its argument count, a CPU
 * that exists, a machine that is not broken. */
static enum mm_status op_precheck(const struct mm_machine *m, const struct mm_op *op,
                                  struct mm_result *res)
{
    const struct op_desc *d;

    if ((unsigned)op->code >= MM_OP_COUNT || op->code == MM_OP_NONE)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT, "apply: unknown operation %d",
                        (int)op->code);
    d = &op_descs[op->code];
    if (op->nargs < d->min_args || op->nargs > d->max_args) {
        if (d->min_args == d->max_args)
            return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                            "%s: takes %u argument%s, got %u", d->name, d->min_args,
                            d->min_args == 1 ? "" : "s", op->nargs);
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: takes %u to %u arguments, got %u", d->name, d->min_args,
                        d->max_args, op->nargs);
    }
    if (op->cpu >= m->cfg.cpus)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: cpu %u does not exist (the machine has %u CPU%s)", d->name,
                        op->cpu, m->cfg.cpus, m->cfg.cpus == 1 ? "" : "s");
    if (m->broken[0] != '\0')
        return mm__fail(res->msg, MM_INTERNAL, "%s: machine is broken: %s", d->name,
                        m->broken);
    return MM_OK;
}

static enum mm_status op_alloc(struct mm_machine *m, const uint32_t *a,
                               struct mm_result *res)
{
    mm_pfn_t pfn;
    enum mm_status st;

    if (a[0] >= MM_NR_ZONES)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "alloc: zone %u does not exist (0 DMA, 1 Normal, 2 HighMem)",
                        a[0]);
    st = mm__alloc_pages(m, (enum mm_zone)a[0], a[1], MM_OWN_USER, &pfn, "alloc",
                         res->msg);
    if (st == MM_OK)
        res->value = pfn;
    return st;
}

static enum mm_status op_free(struct mm_machine *m, const uint32_t *a,
                              struct mm_result *res)
{
    enum mm_status st = mm__free_pages(m, a[0], a[1], MM_OWN_USER, "free", res->msg);

    if (st == MM_OK)
        res->value = a[0];
    return st;
}

/* The parts (MM_TOUCH_*) an op of kind @code may change, whatever it
 * answers: its own, the allocator's for ops that take or give pages
 * (vmalloc's areas and page tables too), pkmap's for kunmap_atomic of a
 * pkmap address.  The page tables are marked where they are written. */
static unsigned touches(enum mm_opcode code)
{
    switch (code) {
    case MM_OP_ALLOC:
    case MM_OP_FREE:
        return MM_TOUCH_BUDDY;
    case MM_OP_KMAP:
    case MM_OP_KUNMAP:
    case MM_OP_KMAP_FLUSH:
        return MM_TOUCH_PKMAP;
    case MM_OP_KMAP_ATOMIC:
    case MM_OP_KUNMAP_ATOMIC:
        return MM_TOUCH_KATOMIC | MM_TOUCH_PKMAP;
    case MM_OP_VMALLOC:
    case MM_OP_VFREE:
    case MM_OP_VMAP:
    case MM_OP_VUNMAP:
    case MM_OP_IOREMAP:
    case MM_OP_IOUNMAP:
    case MM_OP_MODULE_ALLOC:
    case MM_OP_MODULE_FREE:
        return MM_TOUCH_VMAP | MM_TOUCH_BUDDY;
    case MM_OP_MODULE_ENABLE_RO:
        return MM_TOUCH_VMAP;
    default:
        return MM_TOUCH_BUDDY | MM_TOUCH_PKMAP | MM_TOUCH_KATOMIC | MM_TOUCH_VMAP;
    }
}

static enum mm_status dispatch(struct mm_machine *m, const struct mm_op *op,
                               struct mm_result *res)
{
    const uint32_t *a = op->args;

    switch (op->code) {
    case MM_OP_ALLOC:
        return op_alloc(m, a, res);
    case MM_OP_FREE:
        return op_free(m, a, res);
    case MM_OP_KMAP:
        return mm__kmap(m, a[0], res);
    case MM_OP_KUNMAP:
        return mm__kunmap(m, a[0], res);
    case MM_OP_KMAP_ATOMIC:
        return mm__kmap_atomic(m, op->cpu, a[0], op->nargs > 1 ? (int)a[1] : -1, res);
    case MM_OP_KUNMAP_ATOMIC:
        return mm__kunmap_atomic(m, op->cpu, a[0], res);
    case MM_OP_VMALLOC:
        return mm__vmalloc(m, a[0], res);
    case MM_OP_VFREE:
        return mm__vfree(m, a[0], res);
    case MM_OP_VMAP:
        return mm__vmap(m, a, op->nargs, res);
    case MM_OP_VUNMAP:
        return mm__vunmap(m, a[0], res);
    case MM_OP_IOREMAP:
        return mm__ioremap(m, a[0], a[1], res);
    case MM_OP_IOUNMAP:
        return mm__iounmap(m, a[0], res);
    case MM_OP_MODULE_ALLOC:
        return mm__module_alloc(m, a[0], res);
    case MM_OP_MODULE_FREE:
        return mm__module_free(m, a[0], res);
    case MM_OP_KMAP_FLUSH:
        return mm__kmap_flush(m, res);
    case MM_OP_MODULE_ENABLE_RO:
        return mm__module_enable_ro(m, a[0], a[1], a[2], res);
    case MM_OP_NONE:
    case MM_OP_COUNT:
        break;
    }
    return mm__fail(res->msg, MM_INTERNAL, "apply: no handler for operation %d",
                    (int)op->code);
}

enum mm_status mm_apply(struct mm_machine *m, const struct mm_op *op,
                        struct mm_result *res)
{
    enum mm_status st;

    res->value = res->aux = res->flags = 0;
    res->seq = 0;
    res->msg[0] = '\0';
    st = op_precheck(m, op, res);
    if (st == MM_OK) {
        m->touched.parts |= touches(op->code);
        m->since.parts |= touches(op->code);
        st = dispatch(m, op, res);
    }
    res->status = st;
    if (st == MM_OK) {
        res->msg[0] = '\0';
        res->seq = ++m->seq;
    } else {
        res->value = res->aux = res->flags = 0;
    }
    return st;
}

enum mm_status mm_replay(struct mm_machine *m, const struct mm_op *op,
                         const struct mm_result *expected, char err[MM_MSG_MAX])
{
    struct mm_result got;

    mm_apply(m, op, &got);
    if (got.status == expected->status && got.value == expected->value &&
        got.aux == expected->aux && got.flags == expected->flags &&
        got.seq == expected->seq)
        return MM_OK;
    return mm__fail(err, MM_INTERNAL,
                    "replay: seq %llu %s: recorded %s value=0x%x aux=0x%x flags=0x%x, "
                    "replayed %s value=0x%x aux=0x%x flags=0x%x%s%s",
                    (unsigned long long)expected->seq,
                    mm_op_name(op->code) ? mm_op_name(op->code) : "?",
                    mm_status_name(expected->status), expected->value, expected->aux,
                    expected->flags, mm_status_name(got.status), got.value, got.aux,
                    got.flags, got.msg[0] ? ": " : "", got.msg);
}

/* Typed entry points. */

static enum mm_status apply_args(struct mm_machine *m, enum mm_opcode code, uint32_t cpu,
                                 const uint32_t *args, uint32_t nargs,
                                 struct mm_result *res)
{
    struct mm_op op = { .code = code, .cpu = cpu, .nargs = nargs, .args = args };

    return mm_apply(m, &op, res);
}

enum mm_status mm_alloc_pages(struct mm_machine *m, enum mm_zone zone, unsigned order,
                              struct mm_result *res)
{
    uint32_t a[2] = { (uint32_t)zone, order };

    return apply_args(m, MM_OP_ALLOC, 0, a, 2, res);
}

enum mm_status mm_free_pages(struct mm_machine *m, mm_pfn_t pfn, unsigned order,
                             struct mm_result *res)
{
    uint32_t a[2] = { pfn, order };

    return apply_args(m, MM_OP_FREE, 0, a, 2, res);
}

enum mm_status mm_kmap(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *res)
{
    return apply_args(m, MM_OP_KMAP, 0, &pfn, 1, res);
}

enum mm_status mm_kunmap(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *res)
{
    return apply_args(m, MM_OP_KUNMAP, 0, &pfn, 1, res);
}

enum mm_status mm_kmap_atomic(struct mm_machine *m, unsigned cpu, mm_pfn_t pfn,
                              int km_type, struct mm_result *res)
{
    uint32_t a[2] = { pfn, (uint32_t)km_type };

    return apply_args(m, MM_OP_KMAP_ATOMIC, cpu, a, km_type < 0 ? 1 : 2, res);
}

enum mm_status mm_kunmap_atomic(struct mm_machine *m, unsigned cpu, mm_vaddr_t va,
                                struct mm_result *res)
{
    return apply_args(m, MM_OP_KUNMAP_ATOMIC, cpu, &va, 1, res);
}

enum mm_status mm_vmalloc(struct mm_machine *m, uint32_t size, struct mm_result *res)
{
    return apply_args(m, MM_OP_VMALLOC, 0, &size, 1, res);
}

enum mm_status mm_vfree(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res)
{
    return apply_args(m, MM_OP_VFREE, 0, &va, 1, res);
}

enum mm_status mm_vmap(struct mm_machine *m, const mm_pfn_t *pfns, uint32_t n,
                       struct mm_result *res)
{
    return apply_args(m, MM_OP_VMAP, 0, pfns, n, res);
}

enum mm_status mm_vunmap(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res)
{
    return apply_args(m, MM_OP_VUNMAP, 0, &va, 1, res);
}

enum mm_status mm_ioremap(struct mm_machine *m, mm_paddr_t phys, uint32_t size,
                          struct mm_result *res)
{
    uint32_t a[2] = { phys, size };

    return apply_args(m, MM_OP_IOREMAP, 0, a, 2, res);
}

enum mm_status mm_iounmap(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res)
{
    return apply_args(m, MM_OP_IOUNMAP, 0, &va, 1, res);
}

enum mm_status mm_module_alloc(struct mm_machine *m, uint32_t size, struct mm_result *res)
{
    return apply_args(m, MM_OP_MODULE_ALLOC, 0, &size, 1, res);
}

enum mm_status mm_module_free(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res)
{
    return apply_args(m, MM_OP_MODULE_FREE, 0, &va, 1, res);
}

enum mm_status mm_module_enable_ro(struct mm_machine *m, mm_vaddr_t va,
                                   uint32_t text_size, uint32_t ro_size,
                                   struct mm_result *res)
{
    uint32_t a[3] = { va, text_size, ro_size };

    return apply_args(m, MM_OP_MODULE_ENABLE_RO, 0, a, 3, res);
}

/* ------------------------------------------------------------------ */
/* Counters and checks                                                 */
/* ------------------------------------------------------------------ */

/*
 * The CMA area after boot.  KERNEL: 6.1 mm/cma.c cma_activate_area() ->
 * mm/page_alloc.c init_cma_reserved_pageblock(): a core_initcall frees
 * each pageblock of the area to its zone (adjust_managed_page_count(),
 * zone->cma_pages += pageblock_nr_pages), so /proc counts it in the zone's
 * managed and free pages.  Only movable allocations may use it and no
 * engine operation is movable, so it stays free but for the DMA atomic
 * pool that boot took from it (late_boot()): free blocks of the top
 * order (its pageblocks never merge with non-CMA neighbours,
 * __free_one_page() migratetype_is_mergeable()).
 */
static void stats_add_cma(const struct mm_machine *m, struct mm_stats *st)
{
    mm_pfn_t pfn = MM_PFN(m->cma_base);
    unsigned top = st->nr_orders - 1;

    for (unsigned i = 0; i < st->nr_zones && m->cma_pages != 0; i++) {
        struct mm_zone_stats *z = &st->zone[i];

        if (pfn < z->start_pfn || pfn >= z->end_pfn)
            continue;
        z->managed += m->cma_pages;
        z->free += m->cma_pages - m->cma_used;
        z->nr_free[top] += m->cma_pages >> top;
        /* cma_alloc() took the first cma_used pages (a power of two) of the
         * first block: the rest of it is one free block per order between */
        if (m->cma_used != 0) {
            z->nr_free[top]--;
            for (unsigned o = top; o-- > 0 && (1u << o) >= m->cma_used;)
                z->nr_free[o]++;
        }
        return;
    }
}

void mm_get_stats(const struct mm_machine *m, struct mm_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->seq = m->seq;
    mm__buddy_stats(m, st);
    stats_add_cma(m, st);
    mm__pkmap_stats(m, st);
    mm__vmap_stats(m, st);
    st->pkmap_flushes = m->cnt.pkmap_flushes;
    st->tlb_flushes = m->cnt.tlb_flushes;
    st->pte_pages = m->cnt.pte_pages;
    st->host_bytes = mm_host_bytes(m);
}

/* What no single module can see: the buddy's view of who holds pages
 * against each holder's own count. */
static enum mm_status check_owners(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    uint32_t held = mm__buddy_owned_pages(m, MM_OWN_VMALLOC);
    struct mm_stats st;

    memset(&st, 0, sizeof(st));
    mm__vmap_stats(m, &st);
    if (held != st.vmalloc_pages)
        return mm__fail(err, MM_INTERNAL,
                        "check: the buddy allocator holds %u vmalloc pages, "
                        "the vmalloc areas %u",
                        held, st.vmalloc_pages);
    if (mm__buddy_owned_pages(m, MM_OWN_PGTABLE) + m->boot_pte_pages != m->cnt.pte_pages)
        return mm__fail(err, MM_INTERNAL,
                        "check: the buddy allocator holds %u page-table pages and boot "
                        "reserved %u, but %u are counted",
                        mm__buddy_owned_pages(m, MM_OWN_PGTABLE), m->boot_pte_pages,
                        m->cnt.pte_pages);
    if (mm__buddy_owned_pages(m, MM_OWN_BOOT) != m->boot_held_pages)
        return mm__fail(err, MM_INTERNAL,
                        "check: the buddy allocator holds %u pages for the boot, "
                        "which took %u",
                        mm__buddy_owned_pages(m, MM_OWN_BOOT), m->boot_held_pages);
    return MM_OK;
}

enum mm_status mm_check(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    enum mm_status (*const checks[])(const struct mm_machine *, char *) = {
        mm__buddy_check,   mm__pgtable_check, mm__pkmap_check,
        mm__katomic_check, mm__vmap_check,    check_owners,
    };

    err[0] = '\0';
    if (m->broken[0] != '\0')
        return mm__fail(err, MM_INTERNAL, "check: machine is broken: %s", m->broken);
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        enum mm_status st = checks[i](m, err);

        if (st != MM_OK)
            return st;
    }
    return MM_OK;
}

const struct mm_touched *mm_touched(const struct mm_machine *m)
{
    return &m->touched;
}

void mm_touched_clear(struct mm_machine *m)
{
    memset(&m->touched, 0, sizeof(m->touched));
}

/* The parts in @parts (MM_TOUCH_*) other than the buddy and the page
 * tables, whole: pkmap, kmap_atomic, vmalloc, the owners' cross-check. */
static enum mm_status check_parts(const struct mm_machine *m, unsigned parts,
                                  char err[MM_MSG_MAX])
{
    enum mm_status st = MM_OK;

    if (parts & MM_TOUCH_PKMAP)
        st = mm__pkmap_check(m, err);
    if (st == MM_OK && (parts & MM_TOUCH_KATOMIC))
        st = mm__katomic_check(m, err);
    if (st == MM_OK && (parts & MM_TOUCH_VMAP))
        st = mm__vmap_check(m, err);
    if (st == MM_OK && (parts & (MM_TOUCH_BUDDY | MM_TOUCH_VMAP)))
        st = check_owners(m, err);
    return st;
}

void mm_since_clear(struct mm_machine *m)
{
    memset(&m->since, 0, sizeof(m->since));
    mm__buddy_track_start(m->buddy);
}

static unsigned implied_parts(const struct mm_machine *m, const struct mm_touched *t);

enum mm_status mm_check_since(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    enum mm_status st;
    unsigned parts;

    err[0] = '\0';
    if (m->broken[0] != '\0')
        return mm__fail(err, MM_INTERNAL, "check: machine is broken: %s", m->broken);
    if (!mm__buddy_tracking(m->buddy))
        return mm_check(m, err); /* no record: since the boot or a restore */
    /* The other parts whole where what their checks read changed, as
     * mm_check_touched() decides it. */
    parts = implied_parts(m, &m->since);
    st = mm__buddy_check_since(m, err);
    if (st == MM_OK)
        st = mm__pgtable_check_since(m, m->since.l1, err);
    if (st == MM_OK)
        st = check_parts(m, parts, err);
    return st;
}

/* The parts whose checks read what @t marks: pkmap's and kmap_atomic's
 * read their windows' PTEs, vmalloc's its areas' PTEs and their pages'
 * owners, and the page-table check each table page's owner. */
static unsigned implied_parts(const struct mm_machine *m, const struct mm_touched *t)
{
    const struct mm_layout *lay = &m->lay;
    unsigned parts = t->parts;

    for (unsigned i = 0; i < 4096; i++) {
        mm_vaddr_t va = (mm_vaddr_t)i << 20;

        if (t->l1[i / 64] == 0) {
            i |= 63; /* a clear word: its 64 indexes at once */
            continue;
        }
        if (!(t->l1[i / 64] >> (i % 64) & 1))
            continue;
        if (va + MM_SECTION_SIZE > lay->pkmap_base &&
            va < lay->pkmap_base + MM_LAST_PKMAP * MM_PAGE_SIZE)
            parts |= MM_TOUCH_PKMAP;
        if (va + MM_SECTION_SIZE > lay->fixaddr_start)
            parts |= MM_TOUCH_KATOMIC;
        if ((va + MM_SECTION_SIZE > lay->vmalloc_start && va < lay->vmalloc_end) ||
            (va + MM_SECTION_SIZE > lay->modules_vaddr && va < lay->modules_end))
            parts |= MM_TOUCH_VMAP;
    }
    return parts & MM_TOUCH_BUDDY ? parts | MM_TOUCH_VMAP : parts;
}

enum mm_status mm_check_touched(struct mm_machine *m, unsigned parts,
                                char err[MM_MSG_MAX])
{
    const struct mm_touched *t = &m->touched;
    enum mm_status st = MM_OK;

    err[0] = '\0';
    if (m->broken[0] != '\0')
        return mm__fail(err, MM_INTERNAL, "check: machine is broken: %s", m->broken);
    if (parts != 0)
        parts &= implied_parts(m, t);
    if (parts & MM_TOUCH_BUDDY)
        st = mm__pgtable_check(m, err);
    else
        st = mm__pgtable_check_l1(m, t->l1, err);
    if (st == MM_OK && (parts & MM_TOUCH_BUDDY))
        st = mm__buddy_check(m, err);
    if (st == MM_OK)
        st = check_parts(m, parts, err);
    mm_touched_clear(m);
    return st;
}

void mm_foreach_phys_page(const struct mm_machine *m,
                          bool (*fn)(void *arg, mm_pfn_t pfn, const uint8_t *data),
                          void *arg)
{
    mm__phys_foreach(m->phys, fn, arg);
}
