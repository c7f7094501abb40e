/* engine/bootlog61.c - the memory lines a 6.1 kernel logs around "Memory:".
 *
 * Emulates, in the order dmesg shows them:
 * - arch/arm/mm/mmu.c early_vmalloc(): "vmalloc area is too small,
 *   limiting to %luMiB" below 16 MiB, "... too big ..." above VMALLOC_END
 *   - (PAGE_OFFSET + SZ_32M + VMALLOC_OFFSET) (the clamps are era.c's);
 * - mm/cma.c cma_declare_contiguous_nid(): "cma: Reserved %ld MiB at %pa";
 * - mm/page_alloc.c free_area_init(): "Zone ranges:" (one line per zone
 *   but Movable, "empty" or "[mem %#018Lx-%#018Lx]"), "Movable zone start
 *   for each node" (no movablecore=, so no node line), "Early memory node
 *   ranges" with one "node   0" line per memblock.memory range, and
 *   free_area_init_node()'s "Initmem setup node 0 [mem ...]";
 * - mm/percpu.c pcpu_embed_first_chunk(): "percpu: Embedded %zu pages/cpu
 *   s%zu r%zu d%zu u%zu" where the per-CPU first chunk is modelled
 *   (config version 3 of the reference build);
 * - build_all_zonelists(): "Built 1 zonelists, mobility grouping on.
 *   Total pages: N" for the reference build, where N is what
 *   free_area_init_core() first sets as each zone's managed pages: present
 *   pages less the zone's memmap (calc_memmap_size(), lowmem zones only;
 *   the SPARSEMEM hole estimate is not modelled: the engine's zones have
 *   no holes in the reference machines).
 * - mm/page_alloc.c alloc_large_system_hash() for vfs_caches_init_early():
 *   "Dentry cache hash table entries: ..." and "Inode-cache ..." (version
 *   5, machine.c mm__vfs_hash_shift());
 * and after Memory:, arch/arm/mm/init.c free_initmem() -> mm/page_alloc.c
 * free_reserved_area(): "Freeing unused kernel image (initmem) memory: %ldK"
 * (version 3), after "Freeing initrd memory: %ldK" when initrd= names one.
 * The zone bounds are arch/arm/mm/init.c zone_sizes_init()'s: ZONE_DMA up
 * to the DMA limit, ZONE_NORMAL up to max_low_pfn, ZONE_HIGHMEM to max_pfn.
 */
#include "mm_int.h"

#include <string.h>

/* KERNEL: 6.1 include/linux/mmzone.h MIGRATE_TYPES with CONFIG_CMA and
 * CONFIG_MEMORY_ISOLATION (CMA selects it): UNMOVABLE, MOVABLE,
 * RECLAIMABLE, HIGHATOMIC, CMA, ISOLATE */
#define MIGRATE_TYPES_CMA 6u

/* KERNEL: 6.1 include/linux/percpu.h (32-bit) and mm/percpu.c */
#define PERCPU_MODULE_RESERVE     (8u << 10)
#define PERCPU_DYNAMIC_RESERVE    (20u << 10)
#define PERCPU_DYNAMIC_EARLY_SIZE (12u << 10)
#define PCPU_MIN_UNIT_SIZE        (32u << 10)

/* pcpu_build_alloc_info(): size_sum, the page-aligned static + reserved +
 * dynamic bytes (atom PAGE_SIZE, one unit per allocation). */
static uint32_t percpu_size_sum(uint32_t static_size)
{
    uint32_t dyn = PERCPU_DYNAMIC_RESERVE > PERCPU_DYNAMIC_EARLY_SIZE
                       ? PERCPU_DYNAMIC_RESERVE
                       : PERCPU_DYNAMIC_EARLY_SIZE;

    return (static_size + PERCPU_MODULE_RESERVE + dyn + MM_PAGE_SIZE - 1) &
           ~(MM_PAGE_SIZE - 1);
}

/* min_unit_size rounded up to the atom (PAGE_SIZE) */
static uint32_t percpu_unit_size(uint32_t static_size)
{
    uint32_t sum = percpu_size_sum(static_size);

    return sum > PCPU_MIN_UNIT_SIZE ? sum : PCPU_MIN_UNIT_SIZE;
}

uint32_t mm__percpu_unit_pages(const struct mm_config *cfg)
{
    uint32_t s = mm__config_percpu_static(cfg);

    return s == 0 ? 0 : percpu_unit_size(s) >> MM_PAGE_SHIFT;
}

/* The first chunk's pages a unit, all populated at boot: PFN_DOWN(size_sum)
 * that pcpu_setup_first_chunk() adds to pcpu_nr_populated. */
uint32_t mm__percpu_first_pages(const struct mm_config *cfg)
{
    uint32_t s = mm__config_percpu_static(cfg);

    return s == 0 ? 0 : percpu_size_sum(s) >> MM_PAGE_SHIFT;
}

void mm__percpu_sizes(const struct mm_config *cfg, uint32_t *static_size,
                      uint32_t *reserved, uint32_t *dyn)
{
    uint32_t s = mm__config_percpu_static(cfg);

    *static_size = s;
    *reserved = s == 0 ? 0 : PERCPU_MODULE_RESERVE;
    *dyn = s == 0 ? 0 : percpu_size_sum(s) - s - PERCPU_MODULE_RESERVE;
}

static void percpu_line(const struct mm_machine *m, struct mm_buf *out)
{
    uint32_t s = mm__config_percpu_static(&m->cfg), sum;

    if (s == 0)
        return;
    sum = percpu_size_sum(s);
    mm__buf_printf(out, "percpu: Embedded %u pages/cpu s%u r%u d%u u%u\n",
                   sum >> MM_PAGE_SHIFT, s, PERCPU_MODULE_RESERVE,
                   sum - s - PERCPU_MODULE_RESERVE, percpu_unit_size(s));
}

/* early_vmalloc()'s warnings, for the vmalloc= the machine booted with. */
static void vmalloc_clamp_line(const struct mm_machine *m, struct mm_buf *out)
{
    const struct mm_layout *lay = &m->lay;
    struct mm_config eff;
    char err[MM_MSG_MAX];
    uint64_t max = (uint64_t)lay->vmalloc_end - lay->page_offset - (32u << 20) -
                   MM_VMALLOC_OFFSET;

    if (mm__config_effective(&m->cfg, &eff, err) != MM_OK || eff.vmalloc_size == 0)
        return;
    if (eff.vmalloc_size < (16u << 20))
        mm__buf_printf(out, "vmalloc area is too small, limiting to 16MiB\n");
    else if (eff.vmalloc_size > max)
        mm__buf_printf(out, "vmalloc area is too big, limiting to %lluMiB\n",
                       (unsigned long long)max >> 20);
}

void mm__report_boot_61_late(const struct mm_machine *m, struct mm_buf *out)
{
    /* populate_rootfs() (rootfs_initcall) frees the initrd before
     * kernel_init() frees the init sections */
    if (m->initrd_pages != 0)
        mm__buf_printf(out, "Freeing initrd memory: %uK\n", m->initrd_pages << 2);
    if (m->initmem_pages != 0)
        mm__buf_printf(out, "Freeing unused kernel image (initmem) memory: %uK\n",
                       m->initmem_pages << 2);
}

static void zone_range(struct mm_buf *out, const char *name, mm_pfn_t lo, mm_pfn_t hi)
{
    mm__buf_printf(out, "  %-8s ", name);
    if (hi <= lo)
        mm__buf_printf(out, "empty\n");
    else
        mm__buf_printf(out, "[mem 0x%016llx-0x%016llx]\n",
                       (unsigned long long)lo << MM_PAGE_SHIFT,
                       ((unsigned long long)hi << MM_PAGE_SHIFT) - 1);
}

/* Present pages less the memmap of lowmem zones, summed over the zones. */
static uint64_t total_pages(const struct mm_machine *m)
{
    struct mm_stats st;
    uint64_t total = 0, size = mm__sizeof_struct_page(&m->cfg);

    mm_get_stats(m, &st);
    for (unsigned i = 0; i < st.nr_zones && i < MM_NR_ZONES; i++) {
        const struct mm_zone_stats *z = &st.zone[i];
        uint64_t memmap = ((uint64_t)(z->end_pfn - z->start_pfn) * size + MM_PAGE_SIZE -
                           1) >>
                          MM_PAGE_SHIFT;

        if (z->name != NULL && strcmp(z->name, "HighMem") == 0)
            memmap = 0;
        total += z->present > memmap ? z->present - memmap : 0;
    }
    return total;
}

static void node_ranges(const struct mm_machine *m, struct mm_buf *out)
{
    const struct mm_layout *lay = &m->lay;

    for (unsigned i = 0; i < lay->nr_regions;) {
        uint64_t start = lay->regions[i].start, end = lay->regions[i].end;

        /* one memblock range, though the engine splits it at the lowmem cut */
        while (++i < lay->nr_regions && lay->regions[i].start == end)
            end = lay->regions[i].end;
        mm__buf_printf(out, "  node   0: [mem 0x%016llx-0x%016llx]\n",
                       (unsigned long long)(start + MM_PAGE_SIZE - 1) &
                           ~(MM_PAGE_SIZE - 1ull),
                       (unsigned long long)(end & ~(MM_PAGE_SIZE - 1ull)) - 1);
    }
}

/* alloc_large_system_hash()'s line for an early table of 4-byte buckets
 * (vfs_caches_init_early(), after "Kernel command line:"). */
static void hash_line(const struct mm_machine *m, struct mm_buf *out, const char *name,
                      unsigned scale)
{
    unsigned shift = mm__vfs_hash_shift(m, scale);

    if (shift != 0)
        /* ilog2(size) - PAGE_SHIFT, negative below a page ("%d") */
        mm__buf_printf(out, "%s hash table entries: %lu (order: %d, %lu bytes, linear)\n",
                       name, 1ul << shift, (int)shift + 2 - MM_PAGE_SHIFT, 4ul << shift);
}

void mm__report_boot_61(const struct mm_machine *m, struct mm_buf *out)
{
    const struct mm_layout *lay = &m->lay;
    mm_pfn_t dma_end = lay->min_pfn;

    vmalloc_clamp_line(m, out);
    if (m->cma_pages != 0)
        mm__buf_printf(out, "cma: Reserved %u MiB at 0x%08x\n", m->cma_pages >> 8,
                       m->cma_base);
    mm__buf_printf(out, "Zone ranges:\n");
    if (mm__config_zone_dma(&m->cfg) || m->cfg.dma_zone_size != 0) {
        dma_end = lay->dma_end_pfn;
        zone_range(out, "DMA", lay->min_pfn, dma_end);
    }
    zone_range(out, "Normal", dma_end, lay->max_low_pfn);
    if (m->cfg.highmem)
        zone_range(out, "HighMem", lay->max_low_pfn, lay->max_pfn);
    mm__buf_printf(out, "Movable zone start for each node\nEarly memory node ranges\n");
    node_ranges(m, out);
    mm__buf_printf(out, "Initmem setup node 0 [mem 0x%016llx-0x%016llx]\n",
                   (unsigned long long)lay->min_pfn << MM_PAGE_SHIFT,
                   ((unsigned long long)lay->max_pfn << MM_PAGE_SHIFT) - 1);
    percpu_line(m, out);
    if (mm__config_cma(&m->cfg)) {
        uint64_t total = total_pages(m);
        /* pageblock_nr_pages: 1 << (MAX_ORDER - 1) without HUGETLB_PAGE */
        uint64_t min = (1ull << (mm__config_max_order(&m->cfg) - 1)) * MIGRATE_TYPES_CMA;

        mm__buf_printf(out,
                       "Built 1 zonelists, mobility grouping %s.  Total pages: %llu\n",
                       total < min ? "off" : "on", (unsigned long long)total);
    }
    hash_line(m, out, "Dentry cache", 13);
    hash_line(m, out, "Inode-cache", 14);
}
