/* engine/report.c - the kernel's boot-time and /proc reports, byte for byte.
 *
 * mm_report() renders one report into a growable buffer: the boot printouts
 * of arch/arm/mm/init.c mem_init() ("Memory:" lines, the "Virtual kernel
 * memory layout:" block) and /proc/iomem, /proc/buddyinfo, /proc/meminfo as
 * the machine's kernel version prints them.  The vmallocinfo, pkmap, fixmap
 * and page-table reports belong to the modules that own that state.
 *
 * Design.  Every figure comes from the layout computed at create (m->lay),
 * the config, or the counters of mm_get_stats(); nothing is cached here.
 * The era row says which form to print (the numbers are era.c's).  Lines
 * end in "\n" and carry no printk timestamps or log levels.
 *
 * Decisions:
 *  - The Memory: lines are what mem_init() printed at boot, so "available"
 *    is the buddy allocator's free count at that moment: the pages handed
 *    to it (zone managed), not the current free count.  "reserved" is
 *    m->boot_reserved_pages (PageReserved in the banks), "highmem" the
 *    HighMem zone's managed pages (totalhigh_pages).
 *  - 3.13+ generic line: rodata is not modelled apart from .text (ARM's
 *    _etext includes it), so "kernel code" is all of .text and "rodata" 0K;
 *    there is no CMA, so "cma-reserved" is 0K.
 *  - 4.15..5.0 print the image sections with %p, which was hashed; the
 *    layout is printed before the RNG is seeded, so the kernel printed
 *    "0x(ptrval)" (8 characters on 32-bit): that is what we print.
 *  - The DMA (consistent) line is printed only when the config sets a
 *    consistent_dma window (upstream 2.6.35..3.4 print a 2 MiB default one;
 *    msm-3.4, as on aries, prints none).  The msm "timers" line follows
 *    "vector" when user_timers is on.
 *  - /proc/iomem is printed as 3.4 prints it in every era: one "System RAM"
 *    per memblock region (meminfo bank in 2.6.35), with "Kernel code",
 *    "Kernel data" and each carve-out of the config as children, a child
 *    shown only if it fits its region without overlapping an earlier one
 *    (request_resource() fails otherwise).
 *  - VmallocUsed: up to 4.3 the sizes (guard page included) of the areas
 *    between VMALLOC_START and VMALLOC_END, read from /proc/vmallocinfo as
 *    vmalloc.c renders it; 4.4..5.9 print 0; from 5.10 the vmalloc'ed pages
 *    [the two later forms recalled, not read].
 *
 * Emulates: arch/arm/mm/init.c mem_init() (2.6.35, 3.4, msm-3.4, 4.1,
 * 4.19); mm/page_alloc.c mem_init_print_info() (3.14, 4.19, 6.1);
 * arch/arm/kernel/setup.c request_standard_resources(); kernel/resource.c
 * r_show(); mm/vmstat.c frag_show_print(); fs/proc/meminfo.c (3.4).
 */
#include "mm_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* era.c's numbering of the report forms. */
enum { LAYOUT_NONE = 0, LAYOUT_2635 = 1, LAYOUT_3X = 2, LAYOUT_3X_HASHED = 3 };
enum { MEM_BANKS = 1, MEM_REGIONS = 2, MEM_INFO = 3, MEM_INFO_CMA = 4 };

#define KVER_ARGS(k) (k) >> 16, ((k) >> 8) & 0xff, (k)&0xff

static const char *const report_names[MM_REPORT_COUNT] = {
    "layout", "memory", "iomem",      "buddyinfo", "meminfo",  "vmallocinfo",
    "pkmap",  "fixmap", "pagetables", "regions",   "zoneinfo",
};

const char *mm_report_name(enum mm_report r)
{
    if ((unsigned)r >= MM_REPORT_COUNT)
        return NULL;
    return report_names[r];
}

bool mm_report_lookup(const char *name, enum mm_report *out)
{
    assert(name != NULL && out != NULL);
    for (unsigned i = 0; i < MM_REPORT_COUNT; i++) {
        if (strcmp(name, report_names[i]) == 0) {
            *out = (enum mm_report)i;
            return true;
        }
    }
    return false;
}

static enum mm_status report_regions(const struct mm_machine *m, struct mm_buf *out);

enum mm_status mm_report(const struct mm_machine *m, enum mm_report r, struct mm_buf *out)
{
    enum mm_status (*const fns[MM_REPORT_COUNT])(const struct mm_machine *,
                                                 struct mm_buf *) = {
        [MM_REPORT_LAYOUT] = mm__report_layout,
        [MM_REPORT_MEMORY] = mm__report_memory,
        [MM_REPORT_IOMEM] = mm__report_iomem,
        [MM_REPORT_BUDDYINFO] = mm__report_buddyinfo,
        [MM_REPORT_MEMINFO] = mm__report_meminfo,
        [MM_REPORT_VMALLOCINFO] = mm__report_vmallocinfo,
        [MM_REPORT_PKMAP] = mm__report_pkmap,
        [MM_REPORT_FIXMAP] = mm__report_fixmap,
        [MM_REPORT_PAGETABLES] = mm__report_pagetables,
        [MM_REPORT_REGIONS] = report_regions,
        [MM_REPORT_ZONEINFO] = mm__report_zoneinfo,
    };
    enum mm_status st;

    assert(m != NULL && out != NULL);
    if ((unsigned)r >= MM_REPORT_COUNT) {
        mm__buf_printf(out, "report: unknown report %u\n", (unsigned)r);
        return out->oom ? MM_NO_MEMORY : MM_INVALID_ARGUMENT;
    }
    st = fns[r](m, out);
    if (out->oom)
        return MM_NO_MEMORY;
    return st;
}

/* ------------------------------------------------------------------ */
/* Virtual kernel memory layout                                        */
/* ------------------------------------------------------------------ */

/* KERNEL: 3.4 init.c "    %-8s: 0x%08lx - 0x%08lx   (%4ld kB)" via MLK() */
static void mlk(struct mm_buf *b, const char *name, uint32_t lo, uint32_t hi)
{
    mm__buf_printf(b, "    %-8s: 0x%08x - 0x%08x   (%4u kB)\n", name, lo, hi,
                   (hi - lo) >> 10);
}

/* MLM(): the same in MB. */
static void mlm(struct mm_buf *b, const char *name, uint32_t lo, uint32_t hi)
{
    mm__buf_printf(b, "    %-8s: 0x%08x - 0x%08x   (%4u MB)\n", name, lo, hi,
                   (hi - lo) >> 20);
}

/* MLK_ROUNDUP() of an image section, with 0x%p as the era prints it. */
static void section(struct mm_buf *b, const char *name, mm_vaddr_t lo, mm_vaddr_t hi,
                    bool hashed)
{
    unsigned kb = (unsigned)(((uint64_t)hi - lo + 1023) / 1024);

    if (hashed)
        mm__buf_printf(b, "%11s : 0x(ptrval) - 0x(ptrval)   (%4u kB)\n", name, kb);
    else
        mm__buf_printf(b, "%11s : 0x%08x - 0x%08x   (%4u kB)\n", name, lo, hi, kb);
}

/* The fixed lines, vector down to modules, then the image sections in the
 * era's order (mb unused for those). */
unsigned mm__layout_rows(const struct mm_machine *m, struct mm_layout_row *r,
                         unsigned *nareas)
{
    const struct mm_layout *lay = &m->lay;
    int fmt = lay->era->layout_fmt;
    unsigned n = 0;

    *nareas = 0;
    if (fmt == LAYOUT_NONE)
        return 0;
    r[n++] = (struct mm_layout_row){ "vector", lay->vectors_base,
                                     lay->vectors_base + MM_PAGE_SIZE, false };
    if (lay->timers_base != 0 && fmt != LAYOUT_2635)
        r[n++] = (struct mm_layout_row){ "timers", lay->timers_base,
                                         lay->timers_base + MM_PAGE_SIZE, false };
    r[n++] = (struct mm_layout_row){ "fixmap", lay->fixaddr_start, lay->fixaddr_end,
                                     false };
    if (lay->consistent_start != 0)
        r[n++] = (struct mm_layout_row){ "DMA", lay->consistent_start,
                                         lay->consistent_end, true };
    r[n++] = (struct mm_layout_row){ "vmalloc", lay->vmalloc_start, lay->vmalloc_end,
                                     true };
    r[n++] = (struct mm_layout_row){ "lowmem", lay->page_offset, lay->high_memory, true };
    if (lay->pkmap_base != 0)
        r[n++] = (struct mm_layout_row){ "pkmap", lay->pkmap_base,
                                         lay->pkmap_base + MM_LAST_PKMAP * MM_PAGE_SIZE,
                                         true };
    r[n++] = (struct mm_layout_row){ "modules", lay->modules_vaddr, lay->modules_end,
                                     true };
    *nareas = n;
    if (fmt == LAYOUT_2635) {
        /* KERNEL: 2.6.35 init.c: .init, .text, .data; no .bss line */
        r[n++] = (struct mm_layout_row){ ".init", lay->init.start, lay->init.end, false };
        r[n++] = (struct mm_layout_row){ ".text", lay->text.start, lay->text.end, false };
        r[n++] = (struct mm_layout_row){ ".data", lay->data.start, lay->data.end, false };
        return n;
    }
    r[n++] = (struct mm_layout_row){ ".text", lay->text.start, lay->text.end, false };
    r[n++] = (struct mm_layout_row){ ".init", lay->init.start, lay->init.end, false };
    r[n++] = (struct mm_layout_row){ ".data", lay->data.start, lay->data.end, false };
    r[n++] = (struct mm_layout_row){ ".bss", lay->bss.start, lay->bss.end, false };
    return n;
}

enum mm_status mm__report_layout(const struct mm_machine *m, struct mm_buf *out)
{
    const struct mm_layout *lay = &m->lay;
    int fmt = lay->era->layout_fmt;
    bool hashed = fmt == LAYOUT_3X_HASHED;
    struct mm_layout_row r[MM_MAX_LAYOUT_ROWS];
    unsigned nareas, n = mm__layout_rows(m, r, &nareas);

    if (fmt == LAYOUT_NONE) {
        mm__buf_printf(out,
                       "layout: Linux %u.%u.%u does not print the virtual kernel "
                       "memory layout (mem_init() stopped printing it in 5.1)\n",
                       KVER_ARGS(m->cfg.kernel));
        return MM_NOT_FOUND;
    }
    mm__buf_printf(out, "Virtual kernel memory layout:\n");
    for (unsigned i = 0; i < nareas; i++)
        (r[i].mb ? mlm : mlk)(out, r[i].name, r[i].lo, r[i].hi);
    for (unsigned i = nareas; i < n; i++)
        section(out, r[i].name, r[i].lo, r[i].hi, hashed);
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* Memory: lines                                                       */
/* ------------------------------------------------------------------ */

/* Boot figures from the zones: pages handed to the buddy allocator. */
struct boot_counts {
    uint64_t managed, high_managed, present;
};

static void boot_counts(const struct mm_machine *m, struct boot_counts *c)
{
    struct mm_stats st;

    mm_get_stats(m, &st);
    memset(c, 0, sizeof(*c));
    for (unsigned i = 0; i < st.nr_zones && i < MM_NR_ZONES; i++) {
        c->managed += st.zone[i].managed;
        c->present += st.zone[i].present;
        if (st.zone[i].name != NULL && strcmp(st.zone[i].name, "HighMem") == 0)
            c->high_managed += st.zone[i].managed;
    }
    /* mem_init() runs before cma_activate_area(), free_initrd_mem() and
     * free_initmem(): the CMA area, the initrd and the init sections are not
     * managed yet */
    c->managed -= m->cma_pages + m->initmem_pages + m->initrd_pages;
    if (m->cma_pages != 0 && mm__pfn_highmem(m, MM_PFN(m->cma_base)))
        c->high_managed -= m->cma_pages;
}

/* The figures both forms print.  KERNEL: 3.4 init.c mem_init(); 3.14/4.19
 * mm/page_alloc.c mem_init_print_info(NULL). */
void mm__memory_figs(const struct mm_machine *m, struct mm_memory_figs *f)
{
    const struct mm_layout *lay = &m->lay;
    struct boot_counts c;

    boot_counts(m, &c);
    memset(f, 0, sizeof(*f));
    f->form = lay->era->memory_fmt;
    f->managed_kb = c.managed << 2;
    f->present_kb = c.present << 2;
    f->highmem_kb = c.high_managed << 2;
    if (f->form == MEM_BANKS || f->form == MEM_REGIONS) {
        f->reserved_kb = (uint64_t)m->boot_reserved_pages << 2;
        f->has_highmem = true;
        return;
    }
    f->code_kb = (lay->text.end - lay->stext) >> 10;
    f->rwdata_kb = (lay->data.end - lay->data.start) >> 10;
    f->rodata_kb = lay->rodata_size >> 10;
    f->init_kb = (lay->init.end - lay->init.start) >> 10;
    f->bss_kb = (lay->bss.end - lay->bss.start) >> 10;
    /* KERNEL: 6.1 mm/page_alloc.c mem_init_print_info(): reserved is
     * physpages - totalram_pages() - totalcma_pages; the CMA area is still
     * memblock-reserved then (cma_init_reserved_areas() is a core_initcall) */
    f->reserved_kb = (c.present - c.managed - m->cma_pages) << 2;
    f->cma_kb = (uint64_t)m->cma_pages << 2;
    f->has_highmem = m->cfg.highmem;
}

/* KERNEL: 3.4 init.c mem_init(): the bank line and the totals line. */
static void memory_lines_3x(const struct mm_machine *m, struct mm_buf *b)
{
    const struct mm_layout *lay = &m->lay;
    struct mm_memory_figs f;
    uint64_t physpages = 0;

    mm__memory_figs(m, &f);
    mm__buf_printf(b, "Memory:");
    for (unsigned i = 0; i < lay->nr_regions; i++) {
        uint64_t pages = (lay->regions[i].end >> MM_PAGE_SHIFT) -
                         (lay->regions[i].start >> MM_PAGE_SHIFT);

        physpages += pages;
        mm__buf_printf(b, " %lluMB", (unsigned long long)(pages >> 8));
    }
    mm__buf_printf(b, " = %lluMB total\n", (unsigned long long)(physpages >> 8));
    mm__buf_printf(b, "Memory: %lluk/%lluk available, %lluk reserved, %lluK highmem\n",
                   (unsigned long long)f.managed_kb, (unsigned long long)f.managed_kb,
                   (unsigned long long)f.reserved_kb, (unsigned long long)f.highmem_kb);
}

/* KERNEL: 3.14/4.19 mm/page_alloc.c mem_init_print_info(NULL). */
static void memory_line_info(const struct mm_machine *m, struct mm_buf *b, bool cma)
{
    struct mm_memory_figs f;

    mm__memory_figs(m, &f);
    mm__buf_printf(b,
                   "Memory: %lluK/%lluK available (%lluK kernel code, %lluK rwdata, "
                   "%lluK rodata, %lluK init, %lluK bss, %lluK reserved",
                   (unsigned long long)f.managed_kb, (unsigned long long)f.present_kb,
                   (unsigned long long)f.code_kb, (unsigned long long)f.rwdata_kb,
                   (unsigned long long)f.rodata_kb, (unsigned long long)f.init_kb,
                   (unsigned long long)f.bss_kb, (unsigned long long)f.reserved_kb);
    if (cma)
        mm__buf_printf(b, ", %lluK cma-reserved", (unsigned long long)f.cma_kb);
    if (f.has_highmem)
        mm__buf_printf(b, ", %lluK highmem", (unsigned long long)f.highmem_kb);
    mm__buf_printf(b, ")\n");
}

enum mm_status mm__report_memory(const struct mm_machine *m, struct mm_buf *out)
{
    /* KERNEL: 6.1 drivers/of/fdt.c early_init_dt_add_memory_arch(), printed
     * at boot before mem_init() */
    if (m->lay.ignored_end != 0)
        mm__buf_printf(out, "Ignoring memory range 0x%llx - 0x%llx\n",
                       (unsigned long long)m->lay.ignored_start,
                       (unsigned long long)m->lay.ignored_end);
    if (m->cfg.kernel >= MM_KVER(6, 1, 0))
        mm__report_boot_61(m, out);
    switch (m->lay.era->memory_fmt) {
    case MEM_BANKS:
    case MEM_REGIONS:
        /* 2.6.35 lists its meminfo banks, later kernels memblock regions:
         * m->lay.regions holds whichever the era has. */
        memory_lines_3x(m, out);
        break;
    case MEM_INFO:
        memory_line_info(m, out, false);
        break;
    default:
        memory_line_info(m, out, true);
        break;
    }
    if (m->cfg.kernel >= MM_KVER(6, 1, 0))
        mm__report_boot_61_late(m, out);
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* /proc/iomem                                                         */
/* ------------------------------------------------------------------ */

/* struct mm_iomem_res (mm_int.h, shared with report_json.c) by its short
 * local name. */
#define res mm_iomem_res

/* request_resource() under @parent: false if it does not fit or collides. */
static bool fits(const struct res *parent, const struct res *kids, unsigned n,
                 const struct res *r)
{
    if (r->start < parent->start || r->end > parent->end || r->end < r->start)
        return false;
    for (unsigned i = 0; i < n; i++) {
        if (r->start <= kids[i].end && kids[i].start <= r->end)
            return false;
    }
    return true;
}

/* The children of one System RAM region, sorted by start. */
unsigned mm__iomem_children(const struct mm_machine *m, const struct res *ram,
                            struct res *kids)
{
    const struct mm_layout *lay = &m->lay;
    uint64_t delta = (uint64_t)lay->phys_offset - lay->page_offset;
    mm_vaddr_t end = lay->bss.end > lay->data.end ? lay->bss.end : lay->data.end;
    struct res cand[2 + MM_MAX_RESERVES];
    unsigned nc = 0, n = 0;

    /* KERNEL: 3.4 setup.c kernel_code = [__pa(_text), __pa(_etext - 1)],
     * kernel_data = [__pa(_sdata), __pa(_end - 1)]; 6.1 setup.c ends
     * kernel_code at __pa(__init_begin - 1), rodata included */
    mm_vaddr_t code_end = m->cfg.kernel >= MM_KVER(6, 1, 0) &&
                                  lay->init.start > lay->text.start
                              ? lay->init.start
                              : lay->text.end;

    cand[nc++] = (struct res){ "Kernel code", lay->text.start + delta,
                               code_end - 1 + delta };
    cand[nc++] = (struct res){ "Kernel data", lay->data.start + delta, end - 1 + delta };
    for (unsigned i = 0; i < m->cfg.nr_reserves; i++) {
        const struct mm_reserve *r = &m->cfg.reserves[i];

        cand[nc++] = (struct res){ r->name, r->start, (uint64_t)r->start + r->size - 1 };
    }
    for (unsigned i = 0; i < nc; i++) {
        unsigned j;

        if (!fits(ram, kids, n, &cand[i]))
            continue;
        for (j = n; j > 0 && kids[j - 1].start > cand[i].start; j--)
            kids[j] = kids[j - 1];
        kids[j] = cand[i];
        n++;
    }
    return n;
}

/*
 * QEMU virt's AMBA devices (hw/arm/virt.c base_memmap: 4 KiB each) as the
 * armmp kernel leaves them: amba_device_try_add() requests the node's
 * resource, named by the node's full name (of_address_to_resource());
 * pl011 and pl061 claim it again with devm_ioremap_resource(), named
 * "DEVNAME RESNAME" (the bus id "%llx.%pOFn" and the node name), pl031
 * with amba_request_regions() under its driver's name.  fw-cfg, virtio-mmio
 * and PCIe have no driver bound on that boot, so no line.  KERNEL: 6.1
 * drivers/amba/bus.c, drivers/of/address.c, lib/devres.c
 * __devm_ioremap_resource(), drivers/rtc/rtc-pl031.c; every fixture of
 * tests/oracle lists exactly these.
 */
unsigned mm__iomem_devices(const struct mm_machine *m, struct res *dev, struct res *claim)
{
    static const struct res devs[] = {
        { "pl011@9000000", 0x09000000u, 0x09000fffu },
        { "pl031@9010000", 0x09010000u, 0x09010fffu },
        { "pl061@9030000", 0x09030000u, 0x09030fffu },
    };
    static const char *const claims[] = { "9000000.pl011 pl011@9000000", "rtc-pl031",
                                          "9030000.pl061 pl061@9030000" };
    unsigned n = sizeof(devs) / sizeof(devs[0]);

    if (!mm__config_board_devices(&m->cfg))
        return 0;
    for (unsigned i = 0; i < n; i++) {
        dev[i] = devs[i];
        claim[i] = (struct res){ claims[i], devs[i].start, devs[i].end };
    }
    return n;
}

static void iomem_line(struct mm_buf *out, const char *indent, const struct res *r)
{
    /* KERNEL: kernel/resource.c r_show(): "%*s%0*llx-%0*llx : %s\n" */
    mm__buf_printf(out, "%s%08llx-%08llx : %s\n", indent, (unsigned long long)r->start,
                   (unsigned long long)r->end, r->name);
}

enum mm_status mm__report_iomem(const struct mm_machine *m, struct mm_buf *out)
{
    const struct mm_layout *lay = &m->lay;
    struct res dev[MM_MAX_IOMEM_DEVS], claim[MM_MAX_IOMEM_DEVS];
    unsigned nd = mm__iomem_devices(m, dev, claim), d = 0;

    for (unsigned i = 0; i <= lay->nr_regions; i++) {
        uint64_t next = i < lay->nr_regions ? lay->regions[i].start : UINT64_MAX;
        struct res ram, kids[MM_MAX_IOMEM_KIDS];
        unsigned n;

        for (; d < nd && dev[d].start < next; d++) {
            iomem_line(out, "", &dev[d]);
            iomem_line(out, "  ", &claim[d]);
        }
        if (i == lay->nr_regions)
            break;
        ram = (struct res){ "System RAM", lay->regions[i].start,
                            lay->regions[i].end - 1 };
        n = mm__iomem_children(m, &ram, kids);
        iomem_line(out, "", &ram);
        for (unsigned k = 0; k < n; k++)
            iomem_line(out, "  ", &kids[k]);
    }
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* /proc/buddyinfo, /proc/meminfo                                      */
/* ------------------------------------------------------------------ */

enum mm_status mm__report_buddyinfo(const struct mm_machine *m, struct mm_buf *out)
{
    struct mm_stats st;

    mm_get_stats(m, &st);
    for (unsigned i = 0; i < st.nr_zones && i < MM_NR_ZONES; i++) {
        const struct mm_zone_stats *z = &st.zone[i];

        /* KERNEL: 3.4 mm/vmstat.c frag_show_print(); populated zones only */
        if (z->present == 0 || z->name == NULL)
            continue;
        mm__buf_printf(out, "Node 0, zone %8s ", z->name);
        for (unsigned o = 0; o < st.nr_orders; o++)
            mm__buf_printf(out, "%6u ", z->nr_free[o]);
        mm__buf_printf(out, "\n");
    }
    return MM_OK;
}

/* Sums the sizes of the vmalloc-range areas /proc/vmallocinfo lists. */
static uint64_t vmalloc_area_bytes(const struct mm_machine *m)
{
    struct mm_vm_area a;
    uint64_t used = 0;
    size_t pos = 0;

    while (mm__vm_area_next(m, &pos, &a)) {
        if (a.start >= m->lay.vmalloc_start && a.start < m->lay.vmalloc_end)
            used += a.end - a.start;
    }
    return used;
}

/* VmallocUsed in kB, per era (see the file comment). */
static uint64_t vmalloc_used_kb(const struct mm_machine *m, const struct mm_stats *st)
{
    if (m->cfg.kernel >= MM_KVER(5, 10, 0))
        return (uint64_t)st->vmalloc_pages << 2;
    if (m->cfg.kernel >= MM_KVER(4, 4, 0))
        return 0;
    return vmalloc_area_bytes(m) >> 10;
}

/* The fields /proc/meminfo prints here, in its order. */
unsigned mm__meminfo_fields(const struct mm_machine *m, struct mm_meminfo_field *f)
{
    struct mm_stats st;
    uint64_t total = 0, free = 0, htotal = 0, hfree = 0;
    unsigned n = 0;

    if (m->cfg.kernel >= MM_KVER(6, 1, 0))
        return mm__meminfo_fields_61(m, f);
    mm_get_stats(m, &st);
    for (unsigned i = 0; i < st.nr_zones && i < MM_NR_ZONES; i++) {
        const struct mm_zone_stats *z = &st.zone[i];

        total += z->managed;
        free += z->free;
        if (z->name != NULL && strcmp(z->name, "HighMem") == 0) {
            htotal += z->managed;
            hfree += z->free;
        }
    }
    /* The zones' figures include the activated CMA area (mm_get_stats()). */
    f[n++] = (struct mm_meminfo_field){ "MemTotal", total << 2 };
    f[n++] = (struct mm_meminfo_field){ "MemFree", free << 2 };
    if (m->cfg.highmem) {
        f[n++] = (struct mm_meminfo_field){ "HighTotal", htotal << 2 };
        f[n++] = (struct mm_meminfo_field){ "HighFree", hfree << 2 };
        f[n++] = (struct mm_meminfo_field){ "LowTotal", (total - htotal) << 2 };
        f[n++] = (struct mm_meminfo_field){ "LowFree", (free - hfree) << 2 };
    }
    f[n++] = (struct mm_meminfo_field){
        "VmallocTotal", (m->lay.vmalloc_end - m->lay.vmalloc_start) >> 10
    };
    f[n++] = (struct mm_meminfo_field){ "VmallocUsed", vmalloc_used_kb(m, &st) };
    /* KERNEL: 6.1 fs/proc/meminfo.c CmaTotal/CmaFree with CONFIG_CMA; left
     * out when the area would sit in lowmem (not modelled, see machine.c) */
    if (m->cma_pages != 0) {
        f[n++] = (struct mm_meminfo_field){ "CmaTotal", (uint64_t)m->cma_pages << 2 };
        f[n++] = (struct mm_meminfo_field){ "CmaFree", (uint64_t)m->cma_pages << 2 };
    }
    assert(n <= MM_MAX_MEMINFO);
    return n;
}

enum mm_status mm__report_meminfo(const struct mm_machine *m, struct mm_buf *out)
{
    struct mm_meminfo_field f[MM_MAX_MEMINFO];
    unsigned n;

    if (m->cfg.kernel >= MM_KVER(6, 1, 0))
        return mm__report_meminfo_61(m, out);
    n = mm__meminfo_fields(m, f);

    /* KERNEL: 3.4 fs/proc/meminfo.c "MemTotal:       %8lu kB\n" (a 16-wide
     * name, the colon included) */
    for (unsigned i = 0; i < n; i++) {
        char name[24];

        snprintf(name, sizeof(name), "%s:", f[i].name);
        mm__buf_printf(out, "%-16s%8llu kB\n", name, (unsigned long long)f[i].kb);
    }
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* Regions                                                             */
/* ------------------------------------------------------------------ */

/*
 * The virtual regions of the machine as a table, for every era (5.1+ no
 * longer print the layout block).  A header line names the kernel and the
 * build modelled, then one row per region, ascending:
 *   name  start       end         size      mapped by
 * start and end as 0x%08x (end exclusive; 0x100000000 never occurs: the
 * vector region ends below it), size in K or M as the layout block rounds,
 * "mapped by" the kernel code that maps it.  The names are those
 * mm_region_name() gives; gaps are not listed.
 */
/* struct mm_region_row (mm_int.h, shared with report_json.c) by its short
 * local name. */
#define region_row mm_region_row

unsigned mm__region_rows(const struct mm_machine *m, struct region_row *r,
                         char text[MM_REGION_TEXT_MAX])
{
    const struct mm_layout *lay = &m->lay;
    unsigned n = 0;

    r[n++] = (struct region_row){ "user", 0, lay->task_size,
                                  "per-process page tables (TTBR0)" };
    r[n++] = (struct region_row){ "modules", lay->modules_vaddr, lay->modules_end,
                                  "module_alloc(): PTE pages on demand" };
    if (lay->pkmap_base != 0)
        r[n++] = (struct region_row){ "pkmap", lay->pkmap_base,
                                      (uint64_t)lay->pkmap_base +
                                          MM_LAST_PKMAP * MM_PAGE_SIZE,
                                      "kmap(): pkmap_page_table" };
    r[n++] = (struct region_row){ "lowmem", lay->page_offset, lay->high_memory,
                                  "map_lowmem(): sections, the direct map" };
    r[n++] = (struct region_row){ "vmalloc", lay->vmalloc_start, lay->vmalloc_end,
                                  "vmalloc(), vmap(), ioremap(): PTE pages on demand" };
    if (lay->pci_io_base != 0)
        r[n++] = (struct region_row){ "pci-io", lay->pci_io_base,
                                      (uint64_t)lay->pci_io_base + MM_PCI_IO_SIZE,
                                      "pci_reserve_io(): reserved inside vmalloc" };
    if (lay->consistent_end != 0)
        r[n++] = (struct region_row){ "consistent", lay->consistent_start,
                                      lay->consistent_end,
                                      "dma_alloc_coherent(): consistent_pte" };
    if (lay->fdt_base != 0) {
        r[n] = (struct region_row){ "fdt", lay->fdt_base,
                                    (uint64_t)lay->fdt_base + MM_FDT_FIXED_SIZE,
                                    "devicemaps_init(): no DTB passed" };
        if (m->fdt_pages != 0) {
            snprintf(text, MM_REGION_TEXT_MAX,
                     "devicemaps_init(): the DTB at 0x%08x+%uK, read-only sections",
                     m->fdt_start, m->fdt_pages << 2);
            r[n].what = text;
        }
        n++;
    }
    r[n++] = (struct region_row){ "fixmap", lay->fixaddr_start, lay->fixaddr_end,
                                  lay->atomic == MM_ATOMIC_LOCAL
                                      ? "kmap_local(): fixmap PTEs per CPU"
                                      : "kmap_atomic(): fixmap PTEs per CPU" };
    if (lay->timers_base != 0)
        r[n++] = (struct region_row){ "timers", lay->timers_base,
                                      (uint64_t)lay->timers_base + MM_PAGE_SIZE,
                                      "msm user-accessible timer page" };
    r[n++] = (struct region_row){ "vector", lay->vectors_base, lay->vectors_end,
                                  lay->vectors_end - lay->vectors_base > MM_PAGE_SIZE
                                      ? "devicemaps_init(): vectors page and stubs page"
                                      : "devicemaps_init(): vectors page" };
    return n;
}

/* A size as the layout block prints it: MB when whole megabytes, else kB. */
static void region_size(struct mm_buf *b, uint64_t size)
{
    if (size != 0 && size % (1u << 20) == 0)
        mm__buf_printf(b, "%6lluM", (unsigned long long)(size >> 20));
    else
        mm__buf_printf(b, "%6lluK", (unsigned long long)(size >> 10));
}

static enum mm_status report_regions(const struct mm_machine *m, struct mm_buf *out)
{
    struct region_row r[MM_MAX_REGION_ROWS];
    char text[MM_REGION_TEXT_MAX];
    unsigned n = mm__region_rows(m, r, text);

    mm__buf_printf(out, "# Linux %u.%u.%u; %s\n", KVER_ARGS(m->cfg.kernel),
                   mm_config_reference(&m->cfg));
    mm__buf_printf(out, "%-10s %-10s %-10s %7s  %s\n", "name", "start", "end", "size",
                   "mapped by");
    for (unsigned i = 0; i < n; i++) {
        mm__buf_printf(out, "%-10s 0x%08llx 0x%08llx ", r[i].name,
                       (unsigned long long)r[i].start, (unsigned long long)r[i].end);
        region_size(out, r[i].end - r[i].start);
        mm__buf_printf(out, "  %s\n", r[i].what);
    }
    return MM_OK;
}
