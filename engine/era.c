/* engine/era.c - kernel eras and the layout a machine's config implies.
 *
 * A kernel version selects an era: one row of a table, the row whose
 * `since` is the highest not above the version.  A row holds what that
 * range of kernels fixes at build time (VMALLOC_END, the default vmalloc
 * reserve, the fixmap window, KM_TYPE_NR, the kmap_atomic style) and how
 * mem_init() prints its reports.  Each row names the kernel source it was
 * read from or, where no tree of that version was at hand, the two read
 * versions it lies between and the commit that moved the boundary.
 *
 * Design.  mm__layout_compute() runs the kernel's own boot arithmetic once,
 * on a copy of the banks: sort them (setup_arch()), form the lowmem cut
 * vmalloc_min from the era's reserve or the vmalloc= value with the
 * kernel's clamps (early_vmalloc()), split the bank that straddles the cut
 * and flag what lies above it as highmem, or drop it without HIGHMEM
 * (sanity_check_meminfo() up to 3.15, adjust_lowmem_bounds() after; both
 * give the same cut for sorted, disjoint banks), then merge adjacent banks
 * as memblock_add() does (from 2.6.36; 2.6.35 had no memblock and keeps
 * its meminfo banks as they are).  Everything the rest of the engine needs
 * (high_memory, VMALLOC_START, pfn limits, the fixmap, the resolved image
 * sections) is derived from that, as absolute addresses.  Every error
 * names the config key at fault.
 *
 * Section placement, where a section's start is 0: the first section sits
 * at PAGE_OFFSET + TEXT_OFFSET (_text, KERNEL_RAM_VADDR); .init and .text
 * follow on a page boundary (vmlinux.lds.S ALIGN(PAGE_SIZE); read-only
 * data is counted inside .text, as ARM's _etext includes it), .data on a
 * THREAD_SIZE (8 KiB) boundary (ALIGN(THREAD_SIZE) before _sdata), .bss
 * on a word after .data (BSS_SECTION(0, 0, 0) has no alignment of its own;
 * the notes between them are not modelled).  Eras that print .init first
 * (up to 2.6.39) also place it first.
 *
 * Emulates: arch/arm/kernel/setup.c setup_arch() (bank sort),
 * arm_add_memory() (NR_BANKS); arch/arm/mm/mmu.c early_vmalloc(),
 * sanity_check_meminfo() (2.6.35, 3.4), adjust_lowmem_bounds() (4.19,
 * 6.1); arch/arm/mm/init.c find_limits(), arm_adjust_dma_zone();
 * mm/memblock.c memblock_add() merging; arch/arm/mm/dma-mapping.c
 * init_consistent_dma_size() (3.4); arch/arm/include/asm/memory.h,
 * pgtable.h, highmem.h, fixmap.h constants.
 */
#include "mm_int.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define SZ_2M          0x00200000u
#define SZ_16M         0x01000000u
#define SZ_32M         0x02000000u
#define CONSISTENT_END 0xffe00000u /* KERNEL: 3.4 asm/memory.h */
#define THREAD_SIZE    8192u       /* KERNEL: 3.4 asm/thread_info.h */
#define NR_BANKS_3X    8           /* KERNEL: 3.4 CONFIG_ARM_NR_BANKS default */

/* Report formats (report.c reads them; the numbers are shared there). */
enum { LAYOUT_NONE = 0, LAYOUT_2635 = 1, LAYOUT_3X = 2, LAYOUT_3X_HASHED = 3 };
enum { MEM_BANKS = 1, MEM_REGIONS = 2, MEM_INFO = 3, MEM_INFO_CMA = 4 };

/*
 * The era table, ascending.  "read" = the fact was read in that tree;
 * "bound" = the boundary lies between two read versions and is placed at
 * the release that merged the commit named; "spec" = read in the tree of
 * that version listed in docs/kernel.md.
 *
 *  2.6.35 read: Linaro 2.6.35 mmu.c (vmalloc_reserve = SZ_128M, VMALLOC_MIN
 *         = VMALLOC_END - vmalloc_reserve, no offset; vmalloc= clamp
 *         [16M, VMALLOC_END - PAGE_OFFSET - 32M]); v2.6.35-rc1 pgtable.h
 *         (VMALLOC_END from <mach/vmalloc.h>); a 2.6.3x init.c (bank line
 *         per meminfo bank; layout with DMA, .init before .text, no .bss);
 *         fixmap.h 0xfff00000-0xfffe0000 (v2.6.31, v3.4-rc6).
 *  2.6.36 bound: ARM memblock ("ARM: initial LMB trial", July 2010, merged
 *         for 2.6.36): the bank line prints memblock regions.
 *  2.6.37 bound: "mm: stack based kmap_atomic()", committed 2010-10-26 in
 *         the 2.6.37 merge window.
 *  3.0    bound: layout block reordered (.text .init .data .bss); read in
 *         3.4; 2.6.35 still had the old order.  Placed at the midpoint.
 *  3.4    read: msm-3.4 mmu.c (vmalloc_min = VMALLOC_END - 240M -
 *         VMALLOC_OFFSET; vmalloc= does not subtract the offset), init.c,
 *         upstream 3.4 init.c (DMA line); 3.0.27 mmu.c still has
 *         VMALLOC_END - SZ_128M and 3.1.10 still has <mach/vmalloc.h>, so
 *         the fixed 0xff000000 (Nicolas Pitre's vmalloc.h removal) and the
 *         240M default are placed at 3.4.
 *  3.13   spec: mem_init_print_info() replaces the two Memory: lines
 *         (3.14 read for docs/kernel.md; 3.4 read here).
 *  3.16   bound: "ARM: 8031/2: change fixmap mapping region to support 32
 *         CPUs" committed 2014-04-23, after 3.15-rc1: 0xffc00000-0xffe00000,
 *         512 slots (3.18.30 read for docs/kernel.md); meminfo removed in the same
 *         window, so no sanity_check_meminfo() bank split from here.
 *  3.19   bound: "arm: use generic fixmap.h" / "ARM: expand fixmap region
 *         to 3MB" (parent Linux 3.17, merged after 3.18): top-down from
 *         FIXADDR_TOP 0xffeff000, layout prints FIXADDR_END 0xfff00000
 *         (4.1.5 read for docs/kernel.md).
 *  4.0    bound: "cma-reserved" joins the Memory: line (totalcma_pages,
 *         posted Dec 2014; 4.19 read for docs/kernel.md).
 *  4.3    bound: "ARM: 8415/1: early fixmap support for earlycon"
 *         (2015-08-18): FIX_EARLYCON_MEM_BASE = 0, FIX_KMAP_BEGIN = 1.
 *  4.4    bound: VMALLOC_END 0xff800000 (memory.txt change merged with
 *         "ARM: 8433/1: add a VMSPLIT_3G_OPT config option", 2015-10-03,
 *         v4.4-rc1; 4.1.5 and 4.4.1 read for docs/kernel.md).
 *  4.15   spec: %p hashed; the layout is printed before the RNG is ready,
 *         so the section lines read 0x(ptrval).
 *  5.1    spec: the layout block is no longer printed.
 *  5.11   read (stable-5.10 backport of ARM 9012/1, 6.1 tree): FIXADDR_START
 *         0xffc80000; generic kmap_local (KM_MAX_IDX 16); vmalloc= subtracts
 *         VMALLOC_OFFSET too.
 */
static const struct mm_era eras[] = {
    { MM_KVER(2, 6, 35), "2.6.35 arch/arm/mm/mmu.c, init.c (Linaro 2.6.35)", 0,
      128u << 20, false, false, 0xfff00000u, 0xfffe0000u, 0, 0, 16, 224,
      MM_ATOMIC_KM_TYPE, false, true, LAYOUT_2635, MEM_BANKS },
    { MM_KVER(2, 6, 36), "bound 2.6.35..3.4: ARM memblock (2.6.36)", 0, 128u << 20, false,
      false, 0xfff00000u, 0xfffe0000u, 0, 0, 16, 224, MM_ATOMIC_KM_TYPE, false, true,
      LAYOUT_2635, MEM_REGIONS },
    { MM_KVER(2, 6, 37), "bound: stack based kmap_atomic() (2.6.37)", 0, 128u << 20,
      false, false, 0xfff00000u, 0xfffe0000u, 0, 0, 16, 224, MM_ATOMIC_STACK, false, true,
      LAYOUT_2635, MEM_REGIONS },
    { MM_KVER(3, 0, 0), "bound 2.6.35..3.4: layout .text first, with .bss", 0, 128u << 20,
      false, false, 0xfff00000u, 0xfffe0000u, 0, 0, 16, 224, MM_ATOMIC_STACK, false, true,
      LAYOUT_3X, MEM_REGIONS },
    { MM_KVER(3, 4, 0), "3.4 arch/arm/mm/mmu.c, init.c (msm-3.4, 3.4.39)", 0xff000000u,
      240u << 20, true, false, 0xfff00000u, 0xfffe0000u, 0, 0, 16, 224, MM_ATOMIC_STACK,
      false, true, LAYOUT_3X, MEM_REGIONS },
    { MM_KVER(3, 13, 0), "spec 3.14: mem_init_print_info()", 0xff000000u, 240u << 20,
      true, false, 0xfff00000u, 0xfffe0000u, 0, 0, 16, 224, MM_ATOMIC_STACK, false, true,
      LAYOUT_3X, MEM_INFO },
    { MM_KVER(3, 16, 0), "bound: ARM 8031/2 fixmap 0xffc00000 (3.18.30 read)",
      0xff000000u, 240u << 20, true, false, 0xffc00000u, 0xffe00000u, 0, 0, 16, 512,
      MM_ATOMIC_STACK, true, false, LAYOUT_3X, MEM_INFO },
    { MM_KVER(3, 19, 0), "bound: generic fixmap.h, 3 MiB (4.1.5 read)", 0xff000000u,
      240u << 20, true, false, 0xffc00000u, 0xfff00000u, 0xffeff000u, 0, 16, 512,
      MM_ATOMIC_STACK, true, false, LAYOUT_3X, MEM_INFO },
    { MM_KVER(4, 0, 0), "bound: cma-reserved in mem_init_print_info()", 0xff000000u,
      240u << 20, true, false, 0xffc00000u, 0xfff00000u, 0xffeff000u, 0, 16, 512,
      MM_ATOMIC_STACK, true, false, LAYOUT_3X, MEM_INFO_CMA },
    { MM_KVER(4, 3, 0), "bound: ARM 8415/1 FIX_EARLYCON_MEM_BASE", 0xff000000u,
      240u << 20, true, false, 0xffc00000u, 0xfff00000u, 0xffeff000u, 1, 16, 512,
      MM_ATOMIC_STACK, true, false, LAYOUT_3X, MEM_INFO_CMA },
    { MM_KVER(4, 4, 0), "4.4.1 asm/pgtable.h VMALLOC_END 0xff800000", 0xff800000u,
      240u << 20, true, false, 0xffc00000u, 0xfff00000u, 0xffeff000u, 1, 16, 512,
      MM_ATOMIC_STACK, true, false, LAYOUT_3X, MEM_INFO_CMA },
    { MM_KVER(4, 15, 0), "spec 4.19: %p hashed, 0x(ptrval)", 0xff800000u, 240u << 20,
      true, false, 0xffc00000u, 0xfff00000u, 0xffeff000u, 1, 16, 512, MM_ATOMIC_STACK,
      true, false, LAYOUT_3X_HASHED, MEM_INFO_CMA },
    { MM_KVER(5, 1, 0), "spec: layout block removed (5.1)", 0xff800000u, 240u << 20, true,
      false, 0xffc00000u, 0xfff00000u, 0xffeff000u, 1, 16, 512, MM_ATOMIC_STACK, true,
      false, LAYOUT_NONE, MEM_INFO_CMA },
    { MM_KVER(5, 11, 0), "6.1 asm/fixmap.h, mm/highmem.c, arch/arm/mm/mmu.c", 0xff800000u,
      240u << 20, true, true, 0xffc80000u, 0xfff00000u, 0xffeff000u, 1, 16, 512,
      MM_ATOMIC_LOCAL, true, false, LAYOUT_NONE, MEM_INFO_CMA },
};

#define NR_ERAS    (sizeof(eras) / sizeof(eras[0]))
#define KVER_FIRST MM_KVER(2, 6, 35)
#define KVER_LAST  MM_KVER(6, 1, 255)

const struct mm_era *mm__era_for(uint32_t kernel)
{
    const struct mm_era *e = NULL;

    if (kernel < KVER_FIRST || kernel > KVER_LAST)
        return NULL;
    for (size_t i = 0; i < NR_ERAS && eras[i].since <= kernel; i++)
        e = &eras[i];
    return e;
}

bool mm__era_ignores_high_ram(const struct mm_era *era)
{
    return era->since >= MM_KVER(5, 11, 0);
}

/*
 * RAM at the top of the 32-bit physical space (5.11+, 6.1 read).  KERNEL:
 * 6.1 drivers/of/fdt.c early_init_dt_add_memory_arch(): what lies past
 * MAX_MEMBLOCK_ADDR (~0, phys_addr_t 32-bit without LPAE) is dropped with
 * "Ignoring memory range 0x100000000 - END"; mm/memblock.c
 * memblock_cap_size() then caps the size at PHYS_ADDR_MAX - base, so a
 * bank reaching 4 GiB ends at 0xffffffff and its last page is lost.
 * Configs of version 1 were built keeping that page, and still are.
 */
static void clip_banks(struct mm_layout *lay, const struct mm_config *cfg,
                       struct mm_bank *b, unsigned n)
{
    for (unsigned i = 0; i < n && mm__era_ignores_high_ram(lay->era); i++) {
        uint64_t end = b[i].start + b[i].size;

        if (end > 0x100000000ull) {
            if (lay->ignored_end == 0)
                lay->ignored_start = 0x100000000ull;
            lay->ignored_end = end;
            end = 0x100000000ull;
        }
        if (end == 0x100000000ull && cfg->version >= 2)
            b[i].size = 0xffffffffull - b[i].start;
    }
}

/* KERNEL: arch/arm/Kconfig PAGE_OFFSET defaults per VMSPLIT_* */
static mm_vaddr_t split_page_offset(enum mm_split s)
{
    switch (s) {
    case MM_SPLIT_2G:
        return 0x80000000u;
    case MM_SPLIT_1G:
        return 0x40000000u;
    case MM_SPLIT_3G_OPT:
        return 0xb0000000u;
    case MM_SPLIT_3G:
    default:
        return 0xc0000000u;
    }
}

/* Sorts bank copies by start (setup_arch() sorts meminfo the same way). */
static unsigned sorted_banks(const struct mm_config *cfg, struct mm_bank *out)
{
    unsigned n = cfg->nr_banks;

    memcpy(out, cfg->banks, n * sizeof(*out));
    for (unsigned i = 1; i < n; i++) {
        struct mm_bank b = out[i];
        unsigned j = i;

        for (; j > 0 && out[j - 1].start > b.start; j--)
            out[j] = out[j - 1];
        out[j] = b;
    }
    return n;
}

/*
 * The lowmem cut as a VA.  KERNEL: 3.4 mmu.c vmalloc_min / early_vmalloc(),
 * 2.6.35 VMALLOC_MIN, 6.1 vmalloc_size.  vmalloc= is clamped silently, as
 * the kernel does (it only prints a warning).
 */
static mm_vaddr_t cut_va(const struct mm_era *era, const struct mm_config *cfg,
                         mm_vaddr_t page_offset, mm_vaddr_t vend)
{
    uint32_t reserve = cfg->vmalloc_size;
    uint32_t offset = era->param_cut_has_offset ? MM_VMALLOC_OFFSET : 0;
    uint32_t max;

    if (reserve == 0) {
        reserve = era->vmalloc_reserve;
        offset = era->default_cut_has_offset ? MM_VMALLOC_OFFSET : 0;
        return vend - reserve - offset;
    }
    max = vend - (page_offset + SZ_32M) - offset;
    if (reserve < SZ_16M)
        reserve = SZ_16M;
    if (reserve > max)
        reserve = max;
    return vend - reserve - offset;
}

/* One piece of a bank after the cut; a meminfo bank in 3.x terms. */
struct part {
    uint64_t start, end;
    bool highmem;
};

/*
 * Splits the sorted banks at @cut (a PA) and drops what the kernel drops.
 * KERNEL: 3.4 mmu.c sanity_check_meminfo(): the straddling bank is split in
 * two when meminfo has room (NR_BANKS 8), else its high part is ignored;
 * without HIGHMEM everything above the cut is ignored/truncated.  From 3.16
 * there is no meminfo and no NR_BANKS limit.  Returns the part count.
 */
static unsigned cut_banks(const struct mm_layout *lay, const struct mm_config *cfg,
                          const struct mm_bank *b, unsigned n, uint64_t cut,
                          struct part *out, uint64_t *lowmem_limit)
{
    unsigned np = 0;

    *lowmem_limit = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t s = b[i].start, e = b[i].start + b[i].size;
        bool room = !lay->era->meminfo_split || n < NR_BANKS_3X;

        if (s < cut) {
            uint64_t lo_end = e < cut ? e : cut;

            out[np++] = (struct part){ s, lo_end, false };
            if (lo_end > *lowmem_limit)
                *lowmem_limit = lo_end;
        }
        if (e > cut && cfg->highmem && (s >= cut || room))
            out[np++] = (struct part){ s > cut ? s : cut, e, true };
    }
    return np;
}

/* memblock_add() merging (2.6.36+); 2.6.35 keeps its meminfo banks. */
static void make_regions(struct mm_layout *lay, const struct part *p, unsigned np,
                         bool merge)
{
    lay->nr_regions = 0;
    for (unsigned i = 0; i < np; i++) {
        struct mm_region *last = lay->nr_regions ? &lay->regions[lay->nr_regions - 1]
                                                 : NULL;

        if (merge && last != NULL && last->end == p[i].start) {
            last->end = p[i].end;
            continue;
        }
        assert(lay->nr_regions < MM_MAX_REGIONS);
        lay->regions[lay->nr_regions++] = (struct mm_region){ (mm_paddr_t)p[i].start,
                                                              p[i].end, p[i].highmem };
    }
    for (unsigned i = 0; i < lay->nr_regions; i++)
        lay->regions[i].highmem = lay->regions[i].start >= lay->lowmem_limit;
}

/* VMALLOC_END, the consistent window and their checks. */
static enum mm_status vmalloc_window(const struct mm_config *cfg, struct mm_layout *lay,
                                     char err[MM_MSG_MAX])
{
    const struct mm_era *era = lay->era;
    uint32_t cons = (cfg->consistent_dma_size + SZ_2M - 1) & ~(SZ_2M - 1);
    mm_vaddr_t cbase = CONSISTENT_END - (cons ? cons : SZ_2M);

    lay->vmalloc_end = era->vmalloc_end ? era->vmalloc_end : cfg->vmalloc_end;
    if (lay->vmalloc_end == 0)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "vmalloc_end: required before 3.4 (VMALLOC_END was set "
                        "per platform in <mach/vmalloc.h>)");
    if (lay->vmalloc_end < lay->page_offset + SZ_32M + SZ_16M)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "vmalloc_end: 0x%08x leaves no vmalloc area above PAGE_OFFSET "
                        "0x%08x (needs at least 0x%08x)",
                        lay->vmalloc_end, lay->page_offset,
                        lay->page_offset + SZ_32M + SZ_16M);
    if (era->vmalloc_end == 0 && lay->vmalloc_end > cbase)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "vmalloc_end: 0x%08x is above CONSISTENT_BASE 0x%08x",
                        lay->vmalloc_end, cbase);
    if (cons != 0 && cbase < lay->vmalloc_end)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "consistent_dma: window 0x%08x-0x%08x overlaps vmalloc "
                        "(VMALLOC_END 0x%08x)",
                        cbase, CONSISTENT_END, lay->vmalloc_end);
    /* KERNEL: 3.4 dma-mapping.c init_consistent_dma_size(): 2 MiB grain */
    lay->consistent_start = cons ? cbase : 0;
    lay->consistent_end = cons ? CONSISTENT_END : 0;
    return MM_OK;
}

/* The config's section by placement order (.init first up to 2.6.39). */
static void section_order(const struct mm_config *cfg, struct mm_layout *lay,
                          const struct mm_section *sec[4], const char *name[4],
                          mm_vaddr_t *res[4][2])
{
    bool init_first = lay->era->layout_fmt == LAYOUT_2635;
    const struct mm_section *s[4] = { &cfg->text, &cfg->init, &cfg->data, &cfg->bss };
    const char *n[4] = { "text", "init", "data", "bss" };
    mm_vaddr_t *r[4][2] = { { &lay->text.start, &lay->text.end },
                            { &lay->init.start, &lay->init.end },
                            { &lay->data.start, &lay->data.end },
                            { &lay->bss.start, &lay->bss.end } };
    const unsigned order[2][4] = { { 0, 1, 2, 3 }, { 1, 0, 2, 3 } };

    for (unsigned i = 0; i < 4; i++) {
        unsigned k = order[init_first][i];

        sec[i] = s[k];
        name[i] = n[k];
        res[i][0] = r[k][0];
        res[i][1] = r[k][1];
    }
}

/* An image laid out for the other section order: a preset's image (aries:
 * its 3.4 kernel's, .text first) under a kernel that puts .init first. */
static enum mm_status wrong_order(const struct mm_config *cfg, const char *name[4],
                                  mm_vaddr_t text, char err[MM_MSG_MAX])
{
    char who[MM_NAME_MAX + 16] = "the image";

    if (cfg->preset[0] != '\0')
        snprintf(who, sizeof(who), "preset %s's image", cfg->preset);
    return mm__fail(err, MM_INVALID_ARGUMENT,
                    "%s: Linux %u.%u.%u puts .%s first, at _text = 0x%08x, but %s "
                    "puts .%s first: give text= and init= for this kernel, or use "
                    "preset qemu-virt",
                    name[0], cfg->kernel >> 16, (cfg->kernel >> 8) & 0xff,
                    cfg->kernel & 0xff, name[0], text, who, name[1]);
}

/* Places the image sections (see the file comment for the alignments). */
static enum mm_status place_sections(const struct mm_config *cfg, struct mm_layout *lay,
                                     char err[MM_MSG_MAX])
{
    const struct mm_section *sec[4];
    const char *name[4];
    mm_vaddr_t *res[4][2];
    const uint64_t align[4] = { 1, MM_PAGE_SIZE, THREAD_SIZE, 4 };
    uint64_t prev = (uint64_t)lay->page_offset + cfg->text_offset;

    section_order(cfg, lay, sec, name, res);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t start = (prev + align[i] - 1) & ~(align[i] - 1);

        if (i == 0 && sec[0]->start != 0 && sec[0]->start != prev && sec[1]->start != 0 &&
            sec[1]->start < sec[0]->start)
            return wrong_order(cfg, name, (mm_vaddr_t)prev, err);
        if (i == 0 && sec[0]->start != 0 && sec[0]->start != prev)
            return mm__fail(err, MM_INVALID_ARGUMENT,
                            "%s: starts at 0x%08x, but _text is PAGE_OFFSET + "
                            "text_offset = 0x%08x",
                            name[0], sec[0]->start, (mm_vaddr_t)prev);
        if (i > 0 && sec[i]->start != 0 && sec[i]->start < prev)
            return mm__fail(err, MM_INVALID_ARGUMENT,
                            "%s: starts at 0x%08x, inside .%s (ends 0x%08x)", name[i],
                            sec[i]->start, name[i - 1], (mm_vaddr_t)prev);
        if (sec[i]->start != 0)
            start = sec[i]->start;
        if (start + sec[i]->size > 0x100000000ull)
            return mm__fail(err, MM_INVALID_ARGUMENT, "%s: 0x%08x+0x%x runs past 4 GiB",
                            name[i], (mm_vaddr_t)start, sec[i]->size);
        *res[i][0] = (mm_vaddr_t)start;
        *res[i][1] = (mm_vaddr_t)(start + sec[i]->size);
        prev = start + sec[i]->size;
    }
    return MM_OK;
}

/* The image must sit in one lowmem region (head.S maps it there). */
static enum mm_status check_image(const struct mm_layout *lay, char err[MM_MSG_MAX])
{
    mm_vaddr_t lo = lay->text.start < lay->init.start ? lay->text.start : lay->init.start;
    mm_vaddr_t hi = lay->bss.end;
    uint64_t plo = (uint64_t)lo - lay->page_offset + lay->phys_offset;
    uint64_t phi = (uint64_t)hi - lay->page_offset + lay->phys_offset;

    for (unsigned i = 0; i < lay->nr_regions; i++) {
        const struct mm_region *r = &lay->regions[i];
        uint64_t end = r->end < lay->lowmem_limit ? r->end : lay->lowmem_limit;

        if (r->start <= plo && phi <= end && lo >= lay->page_offset)
            return MM_OK;
    }
    return mm__fail(err, MM_INVALID_ARGUMENT,
                    "text: kernel image 0x%08x-0x%08x (PA 0x%08llx-0x%08llx) is not "
                    "in lowmem RAM",
                    lo, hi - 1, (unsigned long long)plo, (unsigned long long)phi - 1);
}

/* Carve-outs must lie in RAM as the bootloader gave it. */
static enum mm_status check_reserves(const struct mm_config *cfg, const struct mm_bank *b,
                                     unsigned n, char err[MM_MSG_MAX])
{
    for (unsigned k = 0; k < cfg->nr_reserves; k++) {
        const struct mm_reserve *r = &cfg->reserves[k];
        uint64_t s = r->start, e = (uint64_t)r->start + r->size;
        bool ok = false;

        for (unsigned i = 0; i < n && !ok; i++) {
            uint64_t bs = b[i].start, be = b[i].start + b[i].size;

            /* Adjacent banks are one memblock region. */
            while (i + 1 < n && b[i + 1].start == be) {
                i++;
                be = b[i].start + b[i].size;
            }
            ok = bs <= s && e <= be;
        }
        if (!ok)
            return mm__fail(err, MM_INVALID_ARGUMENT,
                            "reserve: %s 0x%08x-0x%08llx is not in RAM", r->name,
                            r->start, (unsigned long long)e - 1);
    }
    return MM_OK;
}

/* ZONE_DMA from the first bank.  KERNEL: 3.4 init.c arm_adjust_dma_zone():
 * a DMA size not below lowmem leaves all of lowmem in ZONE_DMA.  KERNEL:
 * 6.1 arch/arm/mm/init.c setup_dma_zone(): with CONFIG_ZONE_DMA and no
 * mdesc->dma_zone_size, arm_dma_limit is 0xffffffff and zone_sizes_init()
 * gives ZONE_DMA min(arm_dma_pfn_limit, max_low): all of lowmem, and
 * ZONE_NORMAL is empty (Debian's armmp has CONFIG_ZONE_DMA=y). */
static mm_pfn_t dma_end(const struct mm_config *cfg, const struct mm_layout *lay)
{
    uint64_t pages = cfg->dma_zone_size >> MM_PAGE_SHIFT;

    if (pages == 0)
        return mm__config_zone_dma(cfg) ? lay->max_low_pfn : lay->min_pfn;
    if (pages >= (uint64_t)(lay->max_low_pfn - lay->min_pfn))
        return lay->max_low_pfn;
    return lay->min_pfn + (mm_pfn_t)pages;
}

/* The fixed addresses of the era and the config's switches. */
static void fixed_addresses(const struct mm_config *cfg, struct mm_layout *lay)
{
    const struct mm_era *era = lay->era;

    lay->task_size = lay->page_offset - SZ_16M; /* memory.h */
    lay->modules_vaddr = lay->page_offset - (cfg->thumb2 ? 0x00800000u : SZ_16M);
    lay->modules_end = cfg->highmem ? lay->page_offset - MM_PMD_SIZE : lay->page_offset;
    lay->pkmap_base = cfg->highmem ? lay->page_offset - MM_PMD_SIZE : 0;
    lay->fixaddr_start = era->fixaddr_start;
    lay->fixaddr_end = era->fixaddr_end;
    lay->vectors_base = 0xffff0000u;                             /* CONFIG_VECTORS_BASE */
    lay->timers_base = cfg->user_timers ? 0xfffef000u : 0;       /* msm-3.4 Kconfig */
    lay->pgd_pa = lay->phys_offset + cfg->text_offset - 0x4000u; /* head.S */
    lay->km_type_nr = era->km_type_nr;
    lay->atomic = cfg->atomic == MM_ATOMIC_DEFAULT ? era->atomic_default : cfg->atomic;
    /* KERNEL: 6.1 arch/arm/mm/mmu.c devicemaps_init(): the DTB at
     * FDT_FIXED_BASE 0xff800000 (asm/memory.h; ARM 9012/1, era 5.11), the
     * vectors page and, from 3.11, the stubs page at 0xffff1000 (4.19 and
     * 6.1 read); pci_reserve_io() keeps PCI_IO_VIRT_BASE 0xfee00000
     * (asm/io.h) from vmalloc on a CONFIG_PCI build. */
    lay->fdt_base = era->fixaddr_start == 0xffc80000u ? 0xff800000u : 0;
    lay->pci_io_base = mm__config_pci(cfg) ? 0xfee00000u : 0;
    lay->vectors_end = lay->vectors_base +
                       (cfg->kernel >= MM_KVER(3, 11, 0) ? 2 : 1) * MM_PAGE_SIZE;
    lay->smp = mm__config_smp(cfg);
    /* KERNEL: 4.19, 6.1 arch/arm/include/asm/highmem.h: ARCH_NEEDS_KMAP_HIGH_GET
     * unless CONFIG_ARM_ERRATA_798181 (or SMP with CPU_TLB_V6: ARMv6 TLBs,
     * which this ARMv7 model never has) */
    lay->kmap_high_get = cfg->highmem && !mm__config_errata_798181(cfg);
}

enum mm_status mm__layout_compute(const struct mm_config *given, struct mm_layout *lay,
                                  char err[MM_MSG_MAX])
{
    struct mm_config eff;
    const struct mm_config *cfg = &eff;
    struct mm_bank b[MM_MAX_BANKS];
    struct part parts[MM_MAX_REGIONS + 1];
    unsigned n, np;
    uint64_t cut;
    enum mm_status st;

    assert(given != NULL && lay != NULL && err != NULL);
    memset(lay, 0, sizeof(*lay));
    st = mm__config_effective(given, &eff, err); /* the cmdline's mem=, vmalloc= */
    if (st != MM_OK)
        return st;
    lay->era = mm__era_for(cfg->kernel);
    if (lay->era == NULL)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "kernel: %u.%u.%u is outside "
                        "2.6.35 .. 6.1.x",
                        cfg->kernel >> 16, (cfg->kernel >> 8) & 0xff, cfg->kernel & 0xff);
    if (cfg->nr_banks == 0 || cfg->nr_banks > MM_MAX_BANKS)
        return mm__fail(err, MM_INVALID_ARGUMENT, "ram: %u banks (1 to %u)",
                        cfg->nr_banks, MM_MAX_BANKS);
    lay->page_offset = split_page_offset(cfg->split);
    n = sorted_banks(cfg, b);
    clip_banks(lay, cfg, b, n);
    lay->phys_offset = b[0].start;
    fixed_addresses(cfg, lay);
    st = vmalloc_window(cfg, lay, err);
    if (st != MM_OK)
        return st;
    lay->vmalloc_min = cut_va(lay->era, cfg, lay->page_offset, lay->vmalloc_end);
    cut = (uint64_t)lay->vmalloc_min - lay->page_offset + lay->phys_offset;
    np = cut_banks(lay, cfg, b, n, cut, parts, &lay->lowmem_limit);
    make_regions(lay, parts, np, lay->era->since >= MM_KVER(2, 6, 36));
    /* KERNEL: 3.4 mmu.c high_memory = __va(arm_lowmem_limit - 1) + 1 */
    lay->high_memory =
        (mm_vaddr_t)(lay->lowmem_limit - 1 - lay->phys_offset + lay->page_offset) + 1;
    lay->vmalloc_start = (lay->high_memory + MM_VMALLOC_OFFSET) &
                         ~(MM_VMALLOC_OFFSET - 1); /* pgtable.h */
    lay->min_pfn = MM_PFN(lay->regions[0].start);
    lay->max_low_pfn = (mm_pfn_t)(lay->lowmem_limit >> MM_PAGE_SHIFT);
    lay->max_pfn = (mm_pfn_t)(lay->regions[lay->nr_regions - 1].end >> MM_PAGE_SHIFT);
    lay->dma_end_pfn = dma_end(cfg, lay);
    st = place_sections(cfg, lay, err);
    mm__config_image_extras(given, &lay->stext, &lay->rodata_size);
    if (lay->stext == 0)
        lay->stext = lay->text.start;
    if (st == MM_OK)
        st = check_image(lay, err);
    if (st == MM_OK)
        st = check_reserves(cfg, b, n, err);
    return st;
}
