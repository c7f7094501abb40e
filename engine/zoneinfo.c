/* engine/zoneinfo.c - /proc/zoneinfo of a 6.1 machine.
 *
 * Emulates: 6.1 mm/vmstat.c zoneinfo_show_print() (the zone block: pages
 * free, boost, min, low, high, spanned, present, managed, cma, protection,
 * start_pfn) and the figures behind it from mm/page_alloc.c:
 * calculate_min_free_kbytes(), __setup_per_zone_wmarks(),
 * setup_per_zone_lowmem_reserve(), find_usable_zone_for_movable(), and
 * include/linux/mmzone.h is_highmem_idx().
 *
 * Every zone the kernel is built with is listed, empty ones included (6.1
 * prints them): DMA with CONFIG_ZONE_DMA, Normal, HighMem with
 * CONFIG_HIGHMEM, and Movable.  Left out, because they count running state
 * the engine does not keep: the "per-node stats" block, the per-zone
 * vmstat counters and the per-CPU "pagesets".
 *
 * The watermarks are computed once, as the postcore_initcall
 * init_per_zone_wmark_min() does, from the managed pages of that moment:
 * the CMA area included (cma_activate_area() is a core_initcall), the
 * initrd and the init sections not yet (populate_rootfs() is a
 * rootfs_initcall, free_initmem() runs after every initcall).  The real
 * kernel's managed counts at that moment also depend on every early
 * memblock allocation of its boot, which the engine models only in part,
 * so its min/low/high are exact only where its managed count is.
 */
#include "mm_int.h"

#include <assert.h>
#include <string.h>

enum { Z_DMA, Z_NORMAL, Z_HIGHMEM, Z_MOVABLE, Z_COUNT };

struct zinfo {
    const char *name;
    bool built;   /* the kernel has this zone */
    bool highmem; /* is_highmem_idx() */
    uint32_t start_pfn, spanned, present, managed, free, cma;
    uint32_t wmark_managed; /* managed when init_per_zone_wmark_min() ran */
    uint64_t min, low, high;
    uint64_t reserve[Z_COUNT]; /* lowmem_reserve[] */
};

_Static_assert(Z_COUNT == MM_ZONEINFO_MAX, "mm_zoneinfo holds every zone");

/* KERNEL: 6.1 mm/page_alloc.c sysctl_lowmem_reserve_ratio[] */
static const uint32_t reserve_ratio[Z_COUNT] = { 256, 32, 0, 0 };

/* KERNEL: 6.1 include/linux/swap.h SWAP_CLUSTER_MAX; page_alloc.c
 * watermark_scale_factor */
#define SWAP_CLUSTER_MAX       32u
#define WATERMARK_SCALE_FACTOR 10u

/* int_sqrt(): the integer square root, rounded down. */
static uint64_t isqrt(uint64_t x)
{
    uint64_t r = 0, bit = 1ull << 62;

    while (bit > x)
        bit >>= 2;
    while (bit != 0) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

/* Pages of [lo, hi) that are freed after the postcore initcalls: the
 * initrd (free_initrd_mem()) and the init sections (free_initmem()). */
static uint32_t freed_late(const struct mm_machine *m, mm_pfn_t lo, mm_pfn_t hi)
{
    const struct mm_layout *lay = &m->lay;
    mm_pfn_t init = MM_PFN((uint64_t)lay->init.start - lay->page_offset +
                           lay->phys_offset);
    mm_pfn_t initrd = MM_PFN(m->initrd_start);
    uint32_t n = 0;

    if (m->initmem_pages != 0 && init >= lo && init < hi)
        n += m->initmem_pages;
    if (m->initrd_pages != 0 && initrd >= lo && initrd < hi)
        n += m->initrd_pages;
    return n;
}

/* The zones' page counts from the machine's statistics. */
static void fill_counts(const struct mm_machine *m, struct zinfo *z)
{
    static const char *const names[Z_COUNT] = { "DMA", "Normal", "HighMem", "Movable" };
    struct mm_stats st;

    mm_get_stats(m, &st);
    for (unsigned k = 0; k < Z_COUNT; k++) {
        z[k].name = names[k];
        for (unsigned i = 0; i < st.nr_zones && k != Z_MOVABLE; i++) {
            const struct mm_zone_stats *s = &st.zone[i];

            if (s->name == NULL || strcmp(s->name, names[k]) != 0)
                continue;
            z[k].start_pfn = s->start_pfn;
            z[k].spanned = s->end_pfn - s->start_pfn;
            z[k].present = s->present;
            z[k].managed = s->managed;
            z[k].wmark_managed = s->managed - freed_late(m, s->start_pfn, s->end_pfn);
            z[k].free = s->free;
            if (m->cma_pages != 0 && MM_PFN(m->cma_base) >= s->start_pfn &&
                MM_PFN(m->cma_base) < s->end_pfn)
                z[k].cma = m->cma_pages;
        }
    }
    z[Z_DMA].built = mm__config_zone_dma(&m->cfg) || m->cfg.dma_zone_size != 0;
    z[Z_NORMAL].built = true;
    z[Z_HIGHMEM].built = m->cfg.highmem;
    z[Z_MOVABLE].built = true;
    /* KERNEL: find_usable_zone_for_movable(): the highest zone with a pfn
     * range; ZONE_MOVABLE counts as highmem when that is ZONE_HIGHMEM. */
    z[Z_HIGHMEM].highmem = true;
    z[Z_MOVABLE].highmem = m->cfg.highmem && z[Z_HIGHMEM].spanned != 0;
}

/* KERNEL: calculate_min_free_kbytes(), then __setup_per_zone_wmarks(). */
static void set_watermarks(struct zinfo *z)
{
    uint64_t buffer_pages = 0, lowmem_pages = 0, min_kb, pages_min;

    for (unsigned k = 0; k < Z_COUNT; k++) {
        /* nr_free_buffer_pages(): GFP_USER's zonelist, DMA and Normal;
         * the watermarks are still 0 at the first call */
        if (z[k].built && (k == Z_DMA || k == Z_NORMAL))
            buffer_pages += z[k].wmark_managed;
        if (z[k].built && !z[k].highmem)
            lowmem_pages += z[k].wmark_managed;
    }
    min_kb = isqrt(buffer_pages * 4 * 16);
    min_kb = min_kb < 128 ? 128 : min_kb > 262144 ? 262144 : min_kb;
    pages_min = min_kb >> 2;
    for (unsigned k = 0; k < Z_COUNT; k++) {
        uint64_t managed = z[k].wmark_managed, tmp, scale;

        if (!z[k].built)
            continue;
        tmp = lowmem_pages != 0 ? pages_min * managed / lowmem_pages : 0;
        if (z[k].highmem) {
            uint64_t min_pages = managed / 1024;

            z[k].min = min_pages < SWAP_CLUSTER_MAX ? SWAP_CLUSTER_MAX
                       : min_pages > 128            ? 128
                                                    : min_pages;
        } else {
            z[k].min = tmp;
        }
        /* mult_frac(managed, watermark_scale_factor, 10000) */
        scale = managed / 10000 * WATERMARK_SCALE_FACTOR +
                managed % 10000 * WATERMARK_SCALE_FACTOR / 10000;
        tmp = (tmp >> 2) > scale ? tmp >> 2 : scale;
        z[k].low = z[k].min + tmp;
        z[k].high = z[k].low + tmp;
    }
}

/* KERNEL: setup_per_zone_lowmem_reserve(). */
static void set_reserves(struct zinfo *z)
{
    for (unsigned i = 0; i < Z_COUNT; i++) {
        bool clear = reserve_ratio[i] == 0 || z[i].wmark_managed == 0;
        uint64_t upper = 0;

        for (unsigned j = i + 1; j < Z_COUNT; j++) {
            if (!z[j].built)
                continue;
            upper += z[j].wmark_managed;
            z[i].reserve[j] = clear ? 0 : upper / reserve_ratio[i];
        }
    }
}

enum mm_status mm__zoneinfo(const struct mm_machine *m,
                            struct mm_zoneinfo out[MM_ZONEINFO_MAX], unsigned *n)
{
    struct zinfo z[Z_COUNT];

    assert(m != NULL && out != NULL && n != NULL);
    *n = 0;
    if (m->cfg.kernel < MM_KVER(6, 1, 0))
        return MM_NOT_FOUND;
    memset(z, 0, sizeof(z));
    fill_counts(m, z);
    set_watermarks(z);
    set_reserves(z);
    for (unsigned k = 0; k < Z_COUNT; k++) {
        struct mm_zoneinfo *o = &out[*n];

        if (!z[k].built)
            continue;
        memset(o, 0, sizeof(*o));
        o->name = z[k].name;
        o->free = z[k].free;
        o->spanned = z[k].spanned;
        o->present = z[k].present;
        o->managed = z[k].managed;
        o->cma = z[k].cma;
        o->min = z[k].min;
        o->low = z[k].low;
        o->high = z[k].high;
        o->start_pfn = z[k].start_pfn;
        for (unsigned j = 0; j < Z_COUNT; j++) {
            if (z[j].built)
                o->protection[o->nr_protection++] = z[k].reserve[j];
        }
        (*n)++;
    }
    return MM_OK;
}

static void print_zone(struct mm_buf *out, const struct mm_zoneinfo *z)
{
    mm__buf_printf(out,
                   "Node 0, zone %8s\n"
                   "  pages free     %u\n"
                   "        boost    0\n"
                   "        min      %llu\n"
                   "        low      %llu\n"
                   "        high     %llu\n"
                   "        spanned  %u\n"
                   "        present  %u\n"
                   "        managed  %u\n"
                   "        cma      %u\n"
                   "        protection: ",
                   z->name, z->free, (unsigned long long)z->min,
                   (unsigned long long)z->low, (unsigned long long)z->high, z->spanned,
                   z->present, z->managed, z->cma);
    for (unsigned j = 0; j < z->nr_protection; j++)
        mm__buf_printf(out, "%s%llu", j == 0 ? "(" : ", ",
                       (unsigned long long)z->protection[j]);
    mm__buf_printf(out, ")\n");
    /* populated_zone(): the rest only for zones with present pages */
    if (z->present != 0)
        mm__buf_printf(out, "  node_unreclaimable:  0\n  start_pfn:           %u\n",
                       z->start_pfn);
}

enum mm_status mm__report_zoneinfo(const struct mm_machine *m, struct mm_buf *out)
{
    struct mm_zoneinfo z[MM_ZONEINFO_MAX];
    unsigned n;

    if (mm__zoneinfo(m, z, &n) != MM_OK) {
        mm__buf_printf(out,
                       "zoneinfo: rendered in the 6.1 format only (mm/vmstat.c "
                       "zoneinfo_show_print()); this machine runs Linux %u.%u.%u\n",
                       m->cfg.kernel >> 16, (m->cfg.kernel >> 8) & 0xff,
                       m->cfg.kernel & 0xff);
        return MM_NOT_FOUND;
    }
    for (unsigned k = 0; k < n; k++)
        print_zone(out, &z[k]);
    return MM_OK;
}
