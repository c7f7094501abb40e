/* tests/engine/test_vmalloc.c - vmalloc, vmap, ioremap, module area (vmalloc_suite).
 *
 * Addresses are the aries preset's (3.4: VMALLOC_START 0xf0000000,
 * VMALLOC_END 0xff000000, modules 0xbf000000-0xbfe00000; RAM
 * 0x80200000-0xff2ff000, so device addresses are taken below it).  Each
 * test cites the kernel fact it checks.
 */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KB      1024u
#define MB      (1024u * 1024u)
#define VSTART  0xf0000000u
#define DEV     0x10000000u             /* not RAM on aries */

static struct mm_result res;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static uint32_t vmalloc_ok(struct mm_machine *m, uint32_t size)
{
    ck_assert_msg(mm_vmalloc(m, size, &res) == MM_OK, "vmalloc(0x%x): %s", size, res.msg);
    return res.value;
}

static uint32_t vfree_ok(struct mm_machine *m, uint32_t va)
{
    ck_assert_msg(mm_vfree(m, va, &res) == MM_OK, "vfree(0x%08x): %s", va, res.msg);
    return res.value;
}

static uint32_t ioremap_ok(struct mm_machine *m, uint32_t phys, uint32_t size)
{
    ck_assert_msg(mm_ioremap(m, phys, size, &res) == MM_OK, "ioremap: %s", res.msg);
    return res.value;
}

static struct mm_stats stats(const struct mm_machine *m)
{
    struct mm_stats st;

    mm_get_stats(m, &st);
    return st;
}

/* Free pages of the zone called @name ("Normal", "HighMem"). */
static uint32_t zone_free_of(const struct mm_machine *m, const char *name)
{
    struct mm_stats st = stats(m);

    for (unsigned i = 0; i < st.nr_zones; i++) {
        if (strcmp(st.zone[i].name, name) == 0)
            return st.zone[i].free;
    }
    ck_abort_msg("no zone %s", name);
    return 0;
}

static void expect_fail(enum mm_status got, enum mm_status want, const char *msg)
{
    ck_assert_int_eq(got, want);
    ck_assert_str_eq(res.msg, msg);
}

/* The hardware first-level word for @va, read through a walk. */
static uint32_t l1_of(const struct mm_machine *m, uint32_t va)
{
    struct mm_walk w;

    mm_translate(m, va, 0, &w);
    ck_assert_uint_ge(w.nsteps, 1);
    return w.step[0].desc;
}

static uint32_t pfn_of(const struct mm_machine *m, uint32_t va)
{
    struct mm_walk w;

    ck_assert_int_eq(mm_translate(m, va, MM_ACC_READ, &w), MM_OK);
    return w.pa >> MM_PAGE_SHIFT;
}

/* t_report(), but safe for an empty report (util.c memcpy()s from a NULL
 * buffer then, which UBSan rejects). */
static char *report(const struct mm_machine *m, enum mm_report r)
{
    struct mm_buf b = {0};
    char *s;

    ck_assert_int_eq(mm_report(m, r, &b), MM_OK);
    s = calloc(b.len + 1, 1);
    ck_assert_ptr_nonnull(s);
    if (b.len > 0)
        memcpy(s, b.data, b.len);
    mm_buf_free(&b);
    return s;
}

/* Everything a failed operation must leave as it was. */
struct snap {
    struct mm_stats st;
    char *vmallocinfo, *buddyinfo, *tables;
};

static void snap_take(const struct mm_machine *m, struct snap *s)
{
    s->st = stats(m);
    s->vmallocinfo = report(m, MM_REPORT_VMALLOCINFO);
    s->buddyinfo = report(m, MM_REPORT_BUDDYINFO);
    s->tables = report(m, MM_REPORT_PAGETABLES);
}

static void snap_same(const struct mm_machine *m, struct snap *s)
{
    struct snap now;

    snap_take(m, &now);
    ck_assert_int_eq(memcmp(&now.st, &s->st, sizeof(now.st)), 0);
    ck_assert_str_eq(now.vmallocinfo, s->vmallocinfo);
    ck_assert_str_eq(now.buddyinfo, s->buddyinfo);
    ck_assert_str_eq(now.tables, s->tables);
    free(now.vmallocinfo);
    free(now.buddyinfo);
    free(now.tables);
    free(s->vmallocinfo);
    free(s->buddyinfo);
    free(s->tables);
    t_check(m);
}

/* The same successful operations give the same answers on @a and @b:
 * their allocators and caches are in the same state. */
static void same_future(struct mm_machine *a, struct mm_machine *b)
{
    static const uint32_t sizes[] = {4 * KB, 5 * MB, 12 * KB};
    struct mm_result ra, rb;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ck_assert_int_eq(mm_vmalloc(a, sizes[i], &ra), mm_vmalloc(b, sizes[i], &rb));
        ck_assert_uint_eq(ra.value, rb.value);
        ck_assert_uint_eq(ra.aux, rb.aux);
        if (ra.status == MM_OK)
            ck_assert_uint_eq(pfn_of(a, ra.value), pfn_of(b, rb.value));
    }
    ck_assert_int_eq(mm_alloc_pages(a, MM_ZONE_NORMAL, 0, &ra),
                     mm_alloc_pages(b, MM_ZONE_NORMAL, 0, &rb));
    ck_assert_uint_eq(ra.value, rb.value);
}

/* vmalloc()s of 4 MiB - 4 KiB: 1024 lazy pages each when freed (guard
 * included), and no vmalloc'd page array (1023 pointers fit a page). */
#define LAZY_CHUNK  (4 * MB - 4 * KB)

/* ------------------------------------------------------------------ */
/* Placement                                                           */
/* ------------------------------------------------------------------ */

/* KERNEL: 3.4 mm/vmalloc.c alloc_vmap_area(): first fit from VMALLOC_START */
START_TEST(test_vmalloc_first_at_vmalloc_start)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), VSTART);
    ck_assert_uint_eq(res.aux, 4);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 __get_vm_area_node(): "We always allocate a guard page" */
/* The sorted area array is most of a busy vmalloc area's host memory (a
 * lazily freed area keeps its slot until a purge): a slot is 32 bytes, the
 * array's first growth 16 slots (it was 40 bytes, a pointer between
 * 32-bit fields padded). */
START_TEST(test_vmalloc_area_slot_is_32_bytes)
{
    struct mm_machine *m = t_machine("aries", NULL);
    size_t before = mm__vmap_host_bytes(m->vmap), after = before;

    for (unsigned k = 0; k < 64 && after == before; k++) {
        vfree_ok(m, vmalloc_ok(m, 4 * KB));
        after = mm__vmap_host_bytes(m->vmap);
    }
    ck_assert_uint_eq(after - before, 16 * 32);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vmalloc_next_after_guard_page)
{
    struct mm_machine *m = t_machine("aries", NULL);

    vmalloc_ok(m, 16 * KB);
    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), 0xf0005000u);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 __vmalloc_node_range(): size = PAGE_ALIGN(size) */
START_TEST(test_vmalloc_size_rounds_up_to_a_page)
{
    struct mm_machine *m = t_machine("aries", NULL);

    vmalloc_ok(m, 1);
    ck_assert_uint_eq(res.aux, 1);
    ck_assert_uint_eq(vmalloc_ok(m, 1), 0xf0002000u);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 vmalloc(): GFP_KERNEL | __GFP_HIGHMEM, one order-0 page each */
START_TEST(test_vmalloc_pages_translate_to_own_highmem_pages)
{
    struct mm_machine *m = t_machine("aries", NULL);
    const struct mm_layout *lay = &m->lay;
    uint32_t pfn[4];

    vmalloc_ok(m, 16 * KB);
    for (unsigned i = 0; i < 4; i++) {
        struct mm_page_info pi;

        pfn[i] = pfn_of(m, VSTART + i * 4 * KB);
        mm__page_info(m, pfn[i], &pi);
        ck_assert_int_eq(pi.state, MM_PAGE_USED);
        ck_assert_int_eq(pi.owner, MM_OWN_VMALLOC);
        ck_assert_uint_ge(pfn[i], lay->max_low_pfn);
        for (unsigned j = 0; j < i; j++)
            ck_assert_uint_ne(pfn[i], pfn[j]);
    }
    ck_assert_uint_eq(mm__pte_get(m, VSTART), mm__mk_pte(m, pfn[0], MM_PROT_KERNEL));
    ck_assert_uint_eq(stats(m).vmalloc_pages, 4);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vmalloc_guard_page_faults)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    vmalloc_ok(m, 16 * KB);
    ck_assert_int_eq(mm_translate(m, 0xf0004000u, MM_ACC_READ, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_TRANSLATION_L2);
    mm_destroy(m);
}
END_TEST

/* PAGE_KERNEL is XN on ARM; module_alloc() maps PAGE_KERNEL_EXEC. */
START_TEST(test_vmalloc_page_is_not_executable)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    vmalloc_ok(m, 4 * KB);
    ck_assert_int_eq(mm_translate(m, VSTART, MM_ACC_EXEC, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_PERMISSION_L2);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vmalloc_zero_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    snap_take(m, &s);
    expect_fail(mm_vmalloc(m, 0, &res), MM_INVALID_ARGUMENT, "vmalloc: size 0");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 __vmalloc_node_range(): (size >> PAGE_SHIFT) > totalram_pages */
START_TEST(test_vmalloc_over_totalram_refused)
{
    struct mm_machine *m = t_machine("qemu-virt", NULL);
    struct mm_stats st = stats(m);
    uint32_t total = 0;
    char want[MM_MSG_MAX];
    struct snap s;

    for (unsigned i = 0; i < st.nr_zones; i++)
        total += st.zone[i].managed;
    snprintf(want, sizeof(want),
             "vmalloc: size 0x%x is %u pages, more than totalram_pages (%u)",
             (total + 1) * 4096, total + 1, total);
    snap_take(m, &s);
    expect_fail(mm_vmalloc(m, (total + 1) * 4096, &res), MM_INVALID_ARGUMENT, want);
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 __vmalloc_area_node(): a page array over PAGE_SIZE is itself
 * vmalloc'd (VM_VPAGES), after the area and before its pages. */
START_TEST(test_vmalloc_big_has_vmalloced_page_array)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *vi;

    ck_assert_uint_eq(vmalloc_ok(m, 8 * MB), VSTART);
    ck_assert_uint_eq(res.aux, 2048);
    vi = report(m, MM_REPORT_VMALLOCINFO);
    ck_assert_str_eq(vi,
                     "0xf0000000-0xf0801000 8392704 vmalloc pages=2048 vmalloc vpages\n"
                     "0xf0801000-0xf0804000   12288 vmalloc pages=2 vmalloc\n");
    free(vi);
    ck_assert_uint_eq(stats(m).vmalloc_pages, 2050);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* 4 MiB is 1024 pointers, exactly one page: kmalloc'd, no second area. */
START_TEST(test_vmalloc_4m_has_no_page_array_area)
{
    struct mm_machine *m = t_machine("aries", NULL);

    vmalloc_ok(m, 4 * MB);
    ck_assert_uint_eq(stats(m).vmalloc_areas, 1);
    ck_assert_uint_eq(vmalloc_ok(m, 4 * KB), VSTART + 4 * MB + 4 * KB);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vfree_page_array_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    vmalloc_ok(m, 8 * MB);
    snap_take(m, &s);
    expect_fail(mm_vfree(m, 0xf0801000u, &res), MM_INVALID_ARGUMENT,
                "vfree: 0xf0801000 is the page array of the vmalloc area at 0xf0000000; "
                "it is freed with that area");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vfree_big_frees_page_array_too)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_stats st;

    vmalloc_ok(m, 8 * MB);
    ck_assert_uint_eq(vfree_ok(m, VSTART), 2048);
    ck_assert_uint_eq(res.aux, 2);
    st = stats(m);
    ck_assert_uint_eq(st.vmalloc_areas, 0);
    ck_assert_uint_eq(st.vmalloc_pages, 0);
    ck_assert_uint_eq(st.vmalloc_lazy_pages, 2049 + 3);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* vfree                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_vfree_non_start_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    vmalloc_ok(m, 16 * KB);
    snap_take(m, &s);
    expect_fail(mm_vfree(m, 0xf0001000u, &res), MM_INVALID_ARGUMENT,
                "vfree: 0xf0001000 is not the start of a vmalloc area");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vfree_ioremap_area_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    ck_assert_uint_eq(ioremap_ok(m, DEV, 4 * KB), VSTART);
    snap_take(m, &s);
    expect_fail(mm_vfree(m, VSTART, &res), MM_INVALID_ARGUMENT,
                "vfree: 0xf0000000 is an ioremap area; use iounmap");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vfree_twice_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    vmalloc_ok(m, 16 * KB);
    vfree_ok(m, VSTART);
    snap_take(m, &s);
    expect_fail(mm_vfree(m, VSTART, &res), MM_INVALID_ARGUMENT,
                "vfree: 0xf0000000 is not the start of a vmalloc area "
                "(it was freed and awaits a purge)");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 remove_vm_area() unmaps at once; __vunmap() frees the pages;
 * the TLB is flushed only when the lazy areas are purged. */
START_TEST(test_vfree_unmaps_and_frees_pages_at_once)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_stats before = stats(m), after;
    uint32_t highmem = zone_free_of(m, "HighMem");
    struct mm_walk w;

    vmalloc_ok(m, 16 * KB);
    ck_assert_uint_eq(vfree_ok(m, VSTART), 4);
    ck_assert_int_eq(mm_translate(m, VSTART, MM_ACC_READ, &w), MM_FAULT);
    after = stats(m);
    ck_assert_uint_eq(zone_free_of(m, "HighMem"), highmem);
    ck_assert_uint_eq(after.tlb_flushes, before.tlb_flushes);
    ck_assert_uint_eq(after.vmalloc_lazy_pages, 5);
    ck_assert_uint_eq(after.vmalloc_areas, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_freed_va_not_reused_before_purge)
{
    struct mm_machine *m = t_machine("aries", NULL);

    vmalloc_ok(m, 16 * KB);
    vfree_ok(m, VSTART);
    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), 0xf0005000u);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 free_vmap_area_noflush(): purge when vmap_lazy_nr >
 * lazy_max_pages() = fls(1) * 8192 on one CPU; exactly 8192 waits. */
START_TEST(test_lazy_max_pages_reached_does_not_purge)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    uint32_t va[8], flushes;

    for (unsigned i = 0; i < 8; i++)
        va[i] = vmalloc_ok(m, LAZY_CHUNK);
    flushes = stats(m).tlb_flushes;
    for (unsigned i = 0; i < 8; i++)
        vfree_ok(m, va[i]);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 8192);
    ck_assert_uint_eq(stats(m).tlb_flushes, flushes);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_lazy_max_pages_exceeded_purges_with_one_flush)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    uint32_t va[8], small, flushes;

    small = vmalloc_ok(m, 16 * KB);
    for (unsigned i = 0; i < 8; i++)
        va[i] = vmalloc_ok(m, LAZY_CHUNK);
    for (unsigned i = 0; i < 8; i++)
        vfree_ok(m, va[i]);
    flushes = stats(m).tlb_flushes;
    vfree_ok(m, small);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 0);
    ck_assert_uint_eq(stats(m).tlb_flushes, flushes + 1);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* fls(4) = 3: four CPUs wait for 24576 lazy pages. */
START_TEST(test_lazy_max_pages_scales_with_fls_cpus)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t va[25];

    for (unsigned i = 0; i < 25; i++)
        va[i] = vmalloc_ok(m, LAZY_CHUNK);
    for (unsigned i = 0; i < 24; i++)
        vfree_ok(m, va[i]);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 24576);
    vfree_ok(m, va[24]);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* After the purge the cache is gone (the lowest freed area moved it below
 * VMALLOC_START), so the search starts over at VMALLOC_START. */
START_TEST(test_freed_va_reused_after_purge)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    uint32_t va[8], small;

    small = vmalloc_ok(m, 16 * KB);
    for (unsigned i = 0; i < 8; i++)
        va[i] = vmalloc_ok(m, LAZY_CHUNK);
    vfree_ok(m, small);
    for (unsigned i = 0; i < 8; i++)
        vfree_ok(m, va[i]);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 0);
    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), VSTART);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/*
 * Builds X, Y, Z (16 KiB each, 20 KiB areas) at 0xf0000000, 0xf0005000,
 * 0xf000a000, frees Y and purges (eight freed 4 MiB areas above), which
 * leaves the cache on X; then a 32 KiB vmalloc skips the 20 KiB hole and
 * records it as cached_hole_size.  Returns that 32 KiB area.
 */
static uint32_t make_hole(struct mm_machine *m)
{
    uint32_t va[8];

    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), m->lay.vmalloc_start);
    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), m->lay.vmalloc_start + 0x5000);
    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), m->lay.vmalloc_start + 0xa000);
    for (unsigned i = 0; i < 8; i++)
        va[i] = vmalloc_ok(m, LAZY_CHUNK);
    vfree_ok(m, m->lay.vmalloc_start + 0x5000);
    for (unsigned i = 0; i < 8; i++)
        vfree_ok(m, va[i]);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 0);
    return vmalloc_ok(m, 32 * KB);
}

/* KERNEL: 3.4 alloc_vmap_area(): the cache is dropped only when size <
 * cached_hole_size; a request exactly the hole's size goes above the cache. */
START_TEST(test_nextfit_skips_exact_size_hole)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);

    ck_assert_uint_eq(make_hole(m), 0xf000f000u);
    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), 0xf0018000u);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_nextfit_rescans_for_smaller_request)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);

    make_hole(m);
    ck_assert_uint_eq(vmalloc_ok(m, 12 * KB), 0xf0005000u);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* From 5.2 (68ad4a330433) the lowest fit: the exact-size hole is taken. */
START_TEST(test_lowest_fit_takes_exact_size_hole)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", "kernel=6.1", NULL);
    uint32_t vs = m->lay.vmalloc_start;

    ck_assert_uint_eq(make_hole(m), vs + 0xf000);
    ck_assert_uint_eq(vmalloc_ok(m, 16 * KB), vs + 0x5000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* Fills [0xf0000000, 0xff000000) with 240 areas of exactly 1 MiB. */
static void fill_window(struct mm_machine *m, uint32_t va[240])
{
    for (unsigned i = 0; i < 240; i++) {
        va[i] = vmalloc_ok(m, MB - 4 * KB);
        ck_assert_uint_eq(va[i], VSTART + i * MB);
    }
    ck_assert_int_eq(mm_vmalloc(m, 4 * KB, &res), MM_NO_MEMORY);
}

/* Free VA exceeds the request but no hole fits it: the kernel purges once,
 * retries and fails; here nothing changes, the lazy areas stay. */
START_TEST(test_fragmented_request_fails_and_keeps_lazy_areas)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t va[240];
    struct snap s;

    fill_window(m, va);
    for (unsigned i = 0; i < 240; i += 2)
        vfree_ok(m, va[i]);
    /* 120 holes of 1 MiB; the 97th free passed 24576 and purged. */
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 23 * 256);
    snap_take(m, &s);
    expect_fail(mm_vmalloc(m, 2 * MB - 4 * KB, &res), MM_NO_MEMORY,
                "vmalloc: vmap allocation for size 2097152 failed: use vmalloc=<size> "
                "to increase size (no room in 0xf0000000-0xff000000)");
    snap_same(m, &s);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 23 * 256);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 alloc_vmap_area() overflow: purge_vmap_area_lazy() and one
 * retry, which finds the range the purge freed. */
START_TEST(test_full_window_purges_and_retries)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t va[240], flushes;

    fill_window(m, va);
    vfree_ok(m, va[100]);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 256);
    flushes = stats(m).tlb_flushes;
    ck_assert_uint_eq(vmalloc_ok(m, MB - 4 * KB), va[100]);
    ck_assert_uint_eq(stats(m).tlb_flushes, flushes + 1);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* Takes every free page of the machine but @keep Normal order-0 pages. */
static void exhaust(struct mm_machine *m, uint32_t keep)
{
    uint32_t kept[8];

    ck_assert_uint_le(keep, 8);
    for (uint32_t i = 0; i < keep; i++) {
        ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &res), MM_OK);
        kept[i] = res.value;
    }
    for (int z = MM_ZONE_HIGHMEM; z >= MM_ZONE_NORMAL; z--) {
        for (int o = MM_MAX_ORDER - 1; o >= 0; o--) {
            while (mm_alloc_pages(m, (enum mm_zone)z, (unsigned)o, &res) == MM_OK)
                ;
        }
    }
    for (uint32_t i = 0; i < keep; i++)
        ck_assert_int_eq(mm_free_pages(m, kept[i], 0, &res), MM_OK);
    ck_assert_uint_eq(zone_free_of(m, "Normal"), keep);
    ck_assert_uint_eq(zone_free_of(m, "HighMem"), 0);
}

/* Not enough pages (3 free; 3 data pages and a PTE page needed): nothing
 * taken, the lazy area still there, the cache unmoved. */
START_TEST(test_out_of_pages_changes_nothing)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    struct mm_machine *twin;
    struct snap s;

    vmalloc_ok(m, 2 * MB - 4 * KB);
    vfree_ok(m, VSTART);
    exhaust(m, 3);
    twin = mm_clone(m);
    ck_assert_ptr_nonnull(twin);
    snap_take(m, &s);
    expect_fail(mm_vmalloc(m, 12 * KB, &res), MM_NO_MEMORY,
                "vmalloc: out of memory: 4 pages needed (3 data, 0 page array, the rest "
                "page tables)");
    snap_same(m, &s);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 512);
    same_future(m, twin);
    mm_destroy(twin);
    mm_destroy(m);
}
END_TEST

/* With exactly the pages it needs, the same vmalloc succeeds. */
START_TEST(test_exactly_enough_pages_succeeds)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);

    vmalloc_ok(m, 2 * MB - 4 * KB);
    vfree_ok(m, VSTART);
    exhaust(m, 4);
    ck_assert_uint_eq(vmalloc_ok(m, 12 * KB), VSTART + 2 * MB);
    ck_assert_uint_eq(zone_free_of(m, "Normal"), 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ioremap                                                             */
/* ------------------------------------------------------------------ */

/* KERNEL: 3.4 arch/arm/mm/ioremap.c: WARN_ON(pfn_valid(pfn)) */
START_TEST(test_ioremap_ram_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    snap_take(m, &s);
    expect_fail(mm_ioremap(m, 0x80200000u, 4 * KB, &res), MM_INVALID_ARGUMENT,
                "ioremap: 0x80200000-0x80200fff is RAM; ARM refuses to ioremap RAM");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 __get_vm_area_node(): VM_IOREMAP align = 1 << fls(size):
 * 4 KiB gives fls(0x1000) = 13, 8 KiB alignment. */
START_TEST(test_ioremap_4k_is_8k_aligned_in_3_4)
{
    struct mm_machine *m = t_machine("aries", NULL);

    vmalloc_ok(m, 16 * KB);
    ck_assert_uint_eq(ioremap_ok(m, DEV, 4 * KB), 0xf0006000u);
    ck_assert_uint_eq(res.aux, 1);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* get_count_order_long(0x1000) = 12 in 6.x: page alignment. */
START_TEST(test_ioremap_4k_is_page_aligned_in_6_1)
{
    struct mm_machine *m = t_machine("aries", "kernel=6.1", NULL);
    uint32_t vs = m->lay.vmalloc_start;

    vmalloc_ok(m, 16 * KB);
    ck_assert_uint_eq(ioremap_ok(m, DEV, 4 * KB), vs + 0x5000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* The offset into the page is kept; iounmap takes the returned cookie. */
START_TEST(test_ioremap_keeps_offset_and_iounmap_takes_it)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t va = ioremap_ok(m, DEV + 0x10, 0x20);
    struct mm_walk w;

    ck_assert_uint_eq(va, VSTART + 0x10);
    ck_assert_int_eq(mm_translate(m, va, MM_ACC_READ, &w), MM_OK);
    ck_assert_uint_eq(w.pa, DEV + 0x10);
    ck_assert_int_eq(mm_iounmap(m, va, &res), MM_OK);
    ck_assert_uint_eq(res.value, 1);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* An offset that crosses a page boundary maps two pages. */
START_TEST(test_ioremap_offset_spanning_two_pages)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ioremap_ok(m, DEV + 0xff0, 0x20);
    ck_assert_uint_eq(res.aux, 2);
    ck_assert_uint_eq(pfn_of(m, VSTART + 0x1000), (DEV >> 12) + 1);
    mm_destroy(m);
}
END_TEST

START_TEST(test_ioremap_maps_device_ptes)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ioremap_ok(m, DEV, 8 * KB);
    ck_assert_uint_eq(mm__pte_get(m, VSTART + 0x1000),
                      mm__mk_pte(m, (DEV >> 12) + 1, MM_PROT_DEVICE));
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 ioremap.c remap_area_sections(): !SMP and phys, size and VA
 * PMD (2 MiB) aligned; fls(2 MiB) = 22 gives a 4 MiB aligned VA. */
START_TEST(test_ioremap_sections_on_up)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    struct mm_walk w;
    char err[MM_MSG_MAX];

    vmalloc_ok(m, 4 * KB);
    ck_assert_uint_eq(ioremap_ok(m, DEV, 2 * MB), 0xf0400000u);
    ck_assert_uint_eq(l1_of(m, 0xf0400000u), 0x10011452u);
    ck_assert_uint_eq(l1_of(m, 0xf0500000u), 0x10111452u);
    ck_assert_int_eq(mm_translate(m, 0xf0523456u, MM_ACC_READ | MM_ACC_WRITE, &w), MM_OK);
    ck_assert_uint_eq(w.pa, 0x10123456u);
    ck_assert_int_eq(w.step[0].kind, MM_DESC_SECTION);
    ck_assert_int_eq(mm__vmap_check(m, err), MM_OK);
    mm_destroy(m);
}
END_TEST

/* On SMP the same request is mapped with pages. */
START_TEST(test_ioremap_pages_on_smp)
{
    struct mm_machine *m = t_machine("aries", NULL);

    vmalloc_ok(m, 4 * KB);
    ck_assert_uint_eq(ioremap_ok(m, DEV, 2 * MB), 0xf0400000u);
    ck_assert_uint_eq(l1_of(m, 0xf0400000u) & 3, 1);
    ck_assert_uint_eq(pfn_of(m, 0xf0523000u), (DEV + 0x123000) >> 12);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 __iounmap() -> unmap_area_sections(): clear, flush at once. */
START_TEST(test_iounmap_sections_clears_first_level)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    uint32_t flushes;
    char err[MM_MSG_MAX];

    ioremap_ok(m, DEV, 2 * MB);
    flushes = stats(m).tlb_flushes;
    ck_assert_int_eq(mm_iounmap(m, VSTART, &res), MM_OK);
    ck_assert_uint_eq(res.value, 512);
    ck_assert_uint_eq(l1_of(m, VSTART), 0);
    ck_assert_uint_eq(l1_of(m, VSTART + MB), 0);
    ck_assert_uint_eq(stats(m).tlb_flushes, flushes + 1);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 513);
    ck_assert_int_eq(mm__vmap_check(m, err), MM_OK);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 unmap_area_sections() frees a PTE page left in the range
 * (pte_free_kernel()), here the one a purged vmalloc left behind. */
START_TEST(test_ioremap_sections_free_stale_page_table)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    uint32_t va[8], small, ptes, normal;
    char err[MM_MSG_MAX];

    small = vmalloc_ok(m, 16 * KB);
    for (unsigned i = 0; i < 8; i++)
        va[i] = vmalloc_ok(m, LAZY_CHUNK);
    vfree_ok(m, small);
    for (unsigned i = 0; i < 8; i++)
        vfree_ok(m, va[i]);
    ptes = stats(m).pte_pages;
    normal = zone_free_of(m, "Normal");
    ck_assert_uint_eq(ioremap_ok(m, DEV, 2 * MB), VSTART);
    ck_assert_uint_eq(stats(m).pte_pages, ptes - 1);
    ck_assert_uint_eq(zone_free_of(m, "Normal"), normal + 1);
    ck_assert_uint_eq(l1_of(m, VSTART), DEV | 0x11452u);
    ck_assert_int_eq(mm__vmap_check(m, err), MM_OK);
    mm_destroy(m);
}
END_TEST

START_TEST(test_iounmap_non_start_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    ioremap_ok(m, DEV, 8 * KB);
    snap_take(m, &s);
    expect_fail(mm_iounmap(m, VSTART + 0x1000, &res), MM_INVALID_ARGUMENT,
                "iounmap: 0xf0001000 is not the start of an ioremap area");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_ioremap_too_big_changes_nothing)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    vmalloc_ok(m, 4 * KB);
    vfree_ok(m, VSTART);
    snap_take(m, &s);
    ck_assert_int_eq(mm_ioremap(m, 0, 240 * MB, &res), MM_NO_MEMORY);
    snap_same(m, &s);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 2);
    mm_destroy(m);
}
END_TEST

START_TEST(test_ioremap_zero_and_wrap_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    snap_take(m, &s);
    expect_fail(mm_ioremap(m, DEV, 0, &res), MM_INVALID_ARGUMENT, "ioremap: size 0");
    expect_fail(mm_ioremap(m, 0xfffff000u, 0x2000, &res), MM_INVALID_ARGUMENT,
                "ioremap: 0xfffff000 + 0x2000 wraps past 4 GiB");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* module_alloc                                                        */
/* ------------------------------------------------------------------ */

/* KERNEL: 3.4 arch/arm/kernel/module.c module_alloc(): MODULES_VADDR to
 * MODULES_END, GFP_KERNEL (lowmem), PAGE_KERNEL_EXEC. */
START_TEST(test_module_alloc_in_module_window_executable)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;
    uint32_t pfn;

    ck_assert_int_eq(mm_module_alloc(m, 8 * KB, &res), MM_OK);
    ck_assert_uint_eq(res.value, 0xbf000000u);
    ck_assert_uint_eq(res.aux, 2);
    ck_assert_int_eq(mm_translate(m, 0xbf001000u, MM_ACC_EXEC, &w), MM_OK);
    pfn = w.pa >> 12;
    ck_assert_uint_lt(pfn, m->lay.max_low_pfn);
    ck_assert_uint_eq(mm__pte_get(m, 0xbf001000u),
                      mm__mk_pte(m, pfn, MM_PROT_KERNEL_EXEC));
    ck_assert_int_eq(mm_module_alloc(m, 4 * KB, &res), MM_OK);
    ck_assert_uint_eq(res.value, 0xbf003000u);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* 19809c2da28a (4.12): vmalloc pages are __GFP_HIGHMEM, modules too. */
START_TEST(test_module_alloc_uses_highmem_from_4_12)
{
    struct mm_machine *m = t_machine("aries", "kernel=4.19", NULL);

    ck_assert_int_eq(mm_module_alloc(m, 4 * KB, &res), MM_OK);
    ck_assert_uint_ge(pfn_of(m, res.value), m->lay.max_low_pfn);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* 14 MiB window: 14 MiB - 4 KiB plus the guard fills it exactly. */
START_TEST(test_module_window_full)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    snap_take(m, &s);
    ck_assert_int_eq(mm_module_alloc(m, 14 * MB, &res), MM_NO_MEMORY);
    snap_same(m, &s);
    ck_assert_int_eq(mm_module_alloc(m, 14 * MB - 4 * KB, &res), MM_OK);
    ck_assert_uint_eq(res.value, 0xbf000000u);
    ck_assert_int_eq(mm_module_alloc(m, 4 * KB, &res), MM_NO_MEMORY);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_module_free_vmalloc_area_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct snap s;

    vmalloc_ok(m, 4 * KB);
    snap_take(m, &s);
    expect_fail(mm_module_free(m, VSTART, &res), MM_INVALID_ARGUMENT,
                "module_free: 0xf0000000 is a vmalloc area; use vfree");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_module_free_returns_pages)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_int_eq(mm_module_alloc(m, 12 * KB, &res), MM_OK);
    ck_assert_int_eq(mm_module_free(m, 0xbf000000u, &res), MM_OK);
    ck_assert_uint_eq(res.value, 3);
    ck_assert_uint_eq(stats(m).vmalloc_pages, 0);
    ck_assert_uint_eq(stats(m).vmalloc_lazy_pages, 4);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* vmap                                                                */
/* ------------------------------------------------------------------ */

/* KERNEL: 3.4 vmap(): maps the given pages PAGE_KERNEL, allocates none. */
START_TEST(test_vmap_maps_given_pages)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_pfn_t pfns[2];
    uint32_t highmem;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &res), MM_OK);
    pfns[0] = res.value;
    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &res), MM_OK);
    pfns[1] = res.value;
    highmem = zone_free_of(m, "HighMem");
    ck_assert_int_eq(mm_vmap(m, pfns, 2, &res), MM_OK);
    ck_assert_uint_eq(res.value, VSTART);
    ck_assert_uint_eq(pfn_of(m, VSTART), pfns[0]);
    ck_assert_uint_eq(pfn_of(m, VSTART + 4 * KB), pfns[1]);
    ck_assert_uint_eq(zone_free_of(m, "HighMem"), highmem);
    ck_assert_uint_eq(stats(m).vmalloc_pages, 0);
    t_check(m);
    ck_assert_int_eq(mm_vunmap(m, VSTART, &res), MM_OK);
    ck_assert_uint_eq(res.value, 2);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vmap_non_ram_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_pfn_t pfns[2] = {0x80200, DEV >> 12};
    struct snap s;

    snap_take(m, &s);
    expect_fail(mm_vmap(m, pfns, 2, &res), MM_INVALID_ARGUMENT,
                "vmap: pfn 0x10000 is not RAM");
    snap_same(m, &s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vmap_no_pages_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);

    memset(&res, 0, sizeof(res));
    expect_fail(mm__vmap(m, NULL, 0, &res), MM_INVALID_ARGUMENT, "vmap: no pages");
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vunmap_vmalloc_area_refused)
{
    struct mm_machine *m = t_machine("aries", NULL);

    vmalloc_ok(m, 4 * KB);
    expect_fail(mm_vunmap(m, VSTART, &res), MM_INVALID_ARGUMENT,
                "vunmap: 0xf0000000 is a vmalloc area; use vfree");
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* /proc/vmallocinfo, stats, clone                                     */
/* ------------------------------------------------------------------ */

/* KERNEL: 3.4 s_show(): "0x%p-0x%p %7ld", caller, " pages=%d", flags. */
START_TEST(test_vmallocinfo_format_3_4)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_pfn_t pfns[2] = {0x80300, 0x80301};
    char *vi;

    ck_assert_int_eq(mm_module_alloc(m, 8 * KB, &res), MM_OK);
    vmalloc_ok(m, 16 * KB);
    ck_assert_int_eq(mm_vmap(m, pfns, 2, &res), MM_OK);
    ioremap_ok(m, DEV, 4 * KB);
    vi = report(m, MM_REPORT_VMALLOCINFO);
    ck_assert_str_eq(vi,
                     "0xbf000000-0xbf003000   12288 module_alloc pages=2 vmalloc\n"
                     "0xf0000000-0xf0005000   20480 vmalloc pages=4 vmalloc\n"
                     "0xf0005000-0xf0008000   12288 vmap vmap\n"
                     "0xf0008000-0xf000a000    8192 ioremap ioremap\n");
    free(vi);
    mm_destroy(m);
}
END_TEST

/* Later ARM ioremap records phys_addr, which s_show prints. */
START_TEST(test_vmallocinfo_ioremap_phys_later)
{
    struct mm_machine *m = t_machine("aries", "kernel=3.10", NULL);
    char *vi;

    ioremap_ok(m, DEV, 4 * KB);
    vi = report(m, MM_REPORT_VMALLOCINFO);
    ck_assert_str_eq(vi, "0xf0000000-0xf0002000    8192 ioremap phys=10000000 ioremap\n");
    free(vi);
    mm_destroy(m);
}
END_TEST

/* The sequence on Debian's armmp 6.1 (SMP build, one CPU): the
 * SMP ioremap alignment (IOREMAP_MAX_ORDER 7 + PAGE_SHIFT) places 1M at
 * 0xf0980000; a UP build (IOREMAP_MAX_ORDER 24) at 0xf0a00000.  KERNEL:
 * 6.1 arch/arm/include/asm/memory.h "#if !defined(CONFIG_SMP) ...". */
START_TEST(test_ioremap_placement_follows_config_smp)
{
    /* version 4: an empty vmalloc area (no boot areas, vmboot61.c) */
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "version=4", NULL);

    ck_assert_uint_eq(vmalloc_ok(m, 1 << 20), 0xf0800000);
    ck_assert_uint_eq(ioremap_ok(m, 0x10000000, 1 << 20), 0xf0980000);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "smp=off", "version=4", NULL);
    ck_assert_uint_eq(vmalloc_ok(m, 1 << 20), 0xf0800000);
    ck_assert_uint_eq(ioremap_ok(m, 0x10000000, 1 << 20), 0xf0a00000);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 6.1 mm/vmalloc.c s_show() " phys=%pa": 0x and 8 digits. */
START_TEST(test_vmallocinfo_phys_pa_61)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *vi;
    uint32_t va = ioremap_ok(m, 0x09000000, 4 * KB);

    vi = report(m, MM_REPORT_VMALLOCINFO);
    ck_assert_ptr_nonnull(strstr(vi, " ioremap phys=0x09000000 ioremap\n"));
    ck_assert_uint_ne(va, 0);
    free(vi);
    mm_destroy(m);
}
END_TEST

/* remove_vm_area() unlinks from vmlist first: lazy areas are not listed. */
START_TEST(test_vmallocinfo_omits_lazy_areas)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *vi;

    vmalloc_ok(m, 4 * KB);
    vmalloc_ok(m, 4 * KB);
    vfree_ok(m, VSTART);
    vi = report(m, MM_REPORT_VMALLOCINFO);
    ck_assert_str_eq(vi, "0xf0002000-0xf0004000    8192 vmalloc pages=1 vmalloc\n");
    free(vi);
    mm_destroy(m);
}
END_TEST

START_TEST(test_stats_count_areas_pages_lazy)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_stats st;

    vmalloc_ok(m, 16 * KB);
    vmalloc_ok(m, 8 * KB);
    ioremap_ok(m, DEV, 4 * KB);
    vfree_ok(m, VSTART);
    st = stats(m);
    ck_assert_uint_eq(st.vmalloc_areas, 2);
    ck_assert_uint_eq(st.vmalloc_pages, 2);
    ck_assert_uint_eq(st.vmalloc_lazy_pages, 5);
    mm_destroy(m);
}
END_TEST

START_TEST(test_clone_is_independent)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_machine *c;
    char *a, *b;

    vmalloc_ok(m, 8 * MB);
    vfree_ok(m, VSTART);
    vmalloc_ok(m, 4 * KB);
    c = mm_clone(m);
    ck_assert_ptr_nonnull(c);
    same_future(m, c);
    vmalloc_ok(c, 4 * KB);
    a = report(m, MM_REPORT_VMALLOCINFO);
    b = report(c, MM_REPORT_VMALLOCINFO);
    ck_assert_str_ne(a, b);
    free(a);
    free(b);
    t_check(m);
    t_check(c);
    mm_destroy(c);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The 6.1 reference boot's vmalloc space (config version 5)           */
/* ------------------------------------------------------------------ */

/* The line of @text that begins with @start, without its newline (static). */
static const char *line_at(const char *text, const char *start)
{
    static char line[160];
    char want[32];
    const char *p = strncmp(text, start, strlen(start)) == 0 ? text : NULL;
    size_t n;

    snprintf(want, sizeof(want), "\n%s", start);
    if (p == NULL && (p = strstr(text, want)) != NULL)
        p++;
    if (p == NULL)
        return "(none)";
    n = strcspn(p, "\n");
    snprintf(line, sizeof(line), "%.*s", (int)n, p);
    return line;
}

/* The oracle module's insmod and sequence (tests/oracle/compare.c): the
 * lazily freed 160 KiB copy of the .ko at @copy, vmalloc(1M) at @va,
 * ioremap(0x10000000, 1M) at @io; then checks and destroys @m. */
static void probe_sequence(struct mm_machine *m, uint32_t copy, uint32_t va, uint32_t io)
{
    ck_assert_uint_eq(vmalloc_ok(m, 160u << 10), copy);
    vfree_ok(m, copy);
    ck_assert_uint_eq(vmalloc_ok(m, 1u << 20), va);
    ck_assert_uint_eq(ioremap_ok(m, 0x10000000, 1u << 20), io);
    t_check(m);
    mm_destroy(m);
}

/* Debian's armmp 6.1 on QEMU virt, 1 GiB, one CPU: the areas and the
 * unpurged ranges the kernel's /proc/vmallocinfo lists (tests/oracle/
 * fixtures/ram1G-cpus1.txt, callers without their offsets), then the
 * oracle module's vmalloc and ioremap after insmod's 160 KiB copy: the
 * kernel's 0xf09f8000 and 0xf0b00000.  KERNEL: 6.1 mm/vmalloc.c
 * s_show(), show_purge_info(); engine/vmboot61.c for each area. */
START_TEST(test_boot61_vmalloc_space_one_cpu)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *vi = report(m, MM_REPORT_VMALLOCINFO);
    struct mm_stats st = stats(m);

    ck_assert_str_eq(line_at(vi, "0xf0800000"),
                     "0xf0800000-0xf0803000   12288 start_kernel pages=2 vmalloc");
    ck_assert_str_eq(line_at(vi, "0xf0803000"),
                     "0xf0803000-0xf0805000    8192 gicv2m_init phys=0x08020000 ioremap");
    ck_assert_str_eq(line_at(vi, "0xf0830000"),
                     "0xf0830000-0xf0841000   69632 gic_of_setup phys=0x08010000 ioremap");
    ck_assert_str_eq(line_at(vi, "0xf0883000"),
                     "0xf0883000-0xf08c4000  266240 dma_common_contiguous_remap "
                     "dma-coherent");
    ck_assert_str_eq(line_at(vi, "0xf08ff000"),
                     "0xf08ff000-0xf0912000   77824 pcpu_create_chunk pages=18 vmalloc");
    ck_assert_str_eq(line_at(vi, "0xf0912000"),
                     "0xf0912000-0xf0914000    8192 devm_ioremap phys=0x09010000 ioremap");
    ck_assert_str_eq(line_at(vi, "0xf09a2000"),
                     "0xf09a2000-0xf09c3000  135168 crypto_scomp_init_tfm pages=32 vmalloc");
    ck_assert_str_eq(line_at(vi, "0xf09cb000"),
                     "0xf09cb000-0xf09cf000   16384 n_tty_open pages=3 vmalloc");
    ck_assert_str_eq(line_at(vi, "0xff7ee000"),
                     "0xff7ee000-0xff800000   73728 pcpu_get_vm_areas vmalloc");
    ck_assert_ptr_nonnull(strstr(vi, "0xff7ee000-0xff800000   73728 pcpu_get_vm_areas vmalloc\n"
                                     "0xf0805000-0xf0809000   16384 unpurged vm_area\n"
                                     "0xf082b000-0xf082f000   16384 unpurged vm_area\n"
                                     "0xf0841000-0xf0843000    8192 unpurged vm_area\n"
                                     "0xf093f000-0xf0981000  270336 unpurged vm_area\n"));
    /* the last thread alive, as on the second and third boots */
    ck_assert_str_eq(line_at(vi, "0xf09c8000"),
                     "0xf09c8000-0xf09cb000   12288 kernel_clone pages=2 vmalloc");
    /* 46 thread stacks, 2 + 2 crypto ... : the kernel's VmallocUsed 724 kB */
    ck_assert_uint_eq(st.vmalloc_pages, 181);
    free(vi);
    probe_sequence(m, 0xf09cf000, 0xf09f8000, 0xf0b00000);
}
END_TEST

/* Creates the 6.1 reference machine of @ram and @cpus (@extra, @extra2:
 * more config lines, or NULL), asserts that its vmallocinfo has each line of
 * @want (NULL-terminated; an "unpurged" one whole, the others by their
 * start) and @pages vmalloc pages (0: not checked), then destroys it. */
static void assert_boot_areas(const char *ram, const char *cpus, const char *extra,
                              const char *extra2, const char *const *want, uint32_t pages)
{
    struct mm_machine *m =
        t_machine("qemu-virt", "kernel=6.1", ram, cpus, extra, extra2, NULL);
    char *vi = report(m, MM_REPORT_VMALLOCINFO);

    for (size_t i = 0; want[i] != NULL; i++) {
        char start[16];

        if (strstr(want[i], "unpurged") != NULL) {
            char line[96];

            snprintf(line, sizeof(line), "\n%s\n", want[i]);
            ck_assert_msg(strstr(vi, line) != NULL, "no \"%s\"", want[i]);
            continue;
        }
        snprintf(start, sizeof(start), "%.10s", want[i]);
        ck_assert_str_eq(line_at(vi, start), want[i]);
    }
    if (pages != 0)
        ck_assert_uint_eq(stats(m).vmalloc_pages, pages);
    t_check(m);
    free(vi);
    mm_destroy(m);
}

/* Config version 8 (engine/vmboot61.c): the three boots of ram256M-cpus1
 * agree on a thread stack, then the per-CPU chunk right after it (not
 * aligned), RTC's ioremap, then the next stack; the last thread before
 * n_tty is alive (VmallocUsed 724 kB).  Version 7 replays one stack more
 * before the chunk and that thread exited, as it was built. */
START_TEST(test_boot61_v8_chunk_order_one_cpu)
{
    static const char *const want[] = {
        "0xd08bc000-0xd08bf000   12288 kernel_clone pages=2 vmalloc",
        "0xd08bf000-0xd08d2000   77824 pcpu_create_chunk pages=18 vmalloc",
        "0xd08d2000-0xd08d4000    8192 devm_ioremap phys=0x09010000 ioremap",
        "0xd08d4000-0xd08d7000   12288 kernel_clone pages=2 vmalloc",
        "0xd0988000-0xd098b000   12288 kernel_clone pages=2 vmalloc",
        NULL,
    };
    struct mm_config cfg;

    mm_config_default(&cfg);
    ck_assert_uint_eq(cfg.version, 8);
    assert_boot_areas("ram=0x40000000+256M", "cpus=1", NULL, NULL, want, 181);
}
END_TEST

START_TEST(test_boot61_v7_chunk_order_one_cpu_kept)
{
    static const char *const want[] = {
        "0xd08c0000-0xd08c3000   12288 kernel_clone pages=2 vmalloc",
        "0xd08c3000-0xd08d6000   77824 pcpu_create_chunk pages=18 vmalloc",
        "0xd08d6000-0xd08d8000    8192 devm_ioremap phys=0x09010000 ioremap",
        "0xd08d8000-0xd08db000   12288 kernel_clone pages=2 vmalloc",
        "0xd0988000-0xd098b000   12288 unpurged vm_area",
        NULL,
    };

    assert_boot_areas("ram=0x40000000+256M", "cpus=1", "version=7", NULL, want, 179);
}
END_TEST

/* The same with two CPUs (ram2G-cpus2-cma0, all three boots): two stacks
 * more than one CPU's before the chunk, where version 7 has one; the
 * thread at 0xf0958000 alive, the one at 0xf0a88000 exited (version 7 the
 * reverse); VmallocUsed 1060 kB (version 7: 1052). */
START_TEST(test_boot61_v8_chunk_order_two_cpus)
{
    static const char *const want[] = {
        "0xf091c000-0xf091f000   12288 kernel_clone pages=2 vmalloc",
        "0xf091f000-0xf0932000   77824 pcpu_create_chunk pages=18 vmalloc",
        "0xf0932000-0xf0934000    8192 devm_ioremap phys=0x09010000 ioremap",
        "0xf0934000-0xf0937000   12288 kernel_clone pages=2 vmalloc",
        "0xf0958000-0xf095b000   12288 kernel_clone pages=2 vmalloc",
        "0xf0a88000-0xf0a8b000   12288 unpurged vm_area",
        NULL,
    };

    assert_boot_areas("ram=0x40000000+2G", "cpus=2", "cmdline=cma=0", NULL, want, 265);
}
END_TEST

START_TEST(test_boot61_v7_chunk_order_two_cpus_kept)
{
    static const char *const want[] = {
        "0xf091b000-0xf092e000   77824 pcpu_create_chunk pages=18 vmalloc",
        "0xf092e000-0xf0930000    8192 devm_ioremap phys=0x09010000 ioremap",
        "0xf0930000-0xf0933000   12288 kernel_clone pages=2 vmalloc",
        "0xf0958000-0xf095b000   12288 unpurged vm_area",
        "0xf0a88000-0xf0a8b000   12288 kernel_clone pages=2 vmalloc",
        NULL,
    };

    assert_boot_areas("ram=0x40000000+2G", "cpus=2", "cmdline=cma=0", "version=7", want, 263);
}
END_TEST

/* Four CPUs (ram2G-cpus4, all three boots): a thread stack before the BPF
 * page and the gen_pool page, which follow it; version 7 replays them
 * before the stack.  The second early freed area comes just before the
 * UART's ioremap (second and third boots). */
START_TEST(test_boot61_v8_early_order_four_cpus)
{
    static const char *const want[] = {
        "0xf0828000-0xf082b000   12288 kernel_clone pages=2 vmalloc",
        "0xf082b000-0xf082d000    8192 bpf_prog_alloc_no_stats pages=1 vmalloc",
        "0xf082d000-0xf082f000    8192 gen_pool_add_owner pages=1 vmalloc",
        "0xf091b000-0xf091f000   16384 unpurged vm_area",
        "0xf091f000-0xf0921000    8192 __devm_ioremap_resource phys=0x09000000 ioremap",
        "0xf095b000-0xf096e000   77824 pcpu_create_chunk pages=18 vmalloc",
        NULL,
    };

    assert_boot_areas("ram=0x40000000+2G", "cpus=4", NULL, NULL, want, 0);
}
END_TEST

START_TEST(test_boot61_v7_early_order_four_cpus_kept)
{
    static const char *const want[] = {
        "0xf0827000-0xf0829000    8192 bpf_prog_alloc_no_stats pages=1 vmalloc",
        "0xf0829000-0xf082b000    8192 gen_pool_add_owner pages=1 vmalloc",
        "0xf082c000-0xf082f000   12288 kernel_clone pages=2 vmalloc",
        "0xf0923000-0xf0925000    8192 __devm_ioremap_resource phys=0x09000000 ioremap",
        NULL,
    };

    assert_boot_areas("ram=0x40000000+2G", "cpus=4", "version=7", NULL, want, 0);
}
END_TEST

/* 256 MiB: the CMA area is in lowmem, so the atomic pool is used through
 * the direct map and not remapped; the kernel's module then gets 0xd09b8000
 * and 0xd0b00000 (fixture ram256M-cpus1). */
START_TEST(test_boot61_lowmem_cma_no_pool_remap)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+256M", NULL);
    char *vi = report(m, MM_REPORT_VMALLOCINFO);

    ck_assert_ptr_null(strstr(vi, "dma-coherent"));
    ck_assert_str_eq(line_at(vi, "0xd0884000"),
                     "0xd0884000-0xd0887000   12288 kernel_clone pages=2 vmalloc");
    free(vi);
    probe_sequence(m, 0xd098f000, 0xd09b8000, 0xd0b00000);
}
END_TEST

/* Per CPU: an IRQ stack, two scomp buffers and a unit of the per-CPU
 * chunk (4 CPUs: 4 * 73728 below 0xff800000, as every 4-CPU fixture). */
START_TEST(test_boot61_per_cpu_areas)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G", "cpus=4",
                                     NULL);
    char *vi = report(m, MM_REPORT_VMALLOCINFO);
    size_t irq = 0, scomp = 0, idle = 0;

    for (const char *p = vi; (p = strstr(p, " start_kernel ")) != NULL; p++)
        irq++;
    for (const char *p = vi; (p = strstr(p, " crypto_scomp_init_tfm ")) != NULL; p++)
        scomp++;
    for (const char *p = vi; (p = strstr(p, " fork_idle ")) != NULL; p++)
        idle++;
    ck_assert_uint_eq(irq, 4);
    ck_assert_uint_eq(scomp, 8);
    ck_assert_uint_eq(idle, 3);
    ck_assert_str_eq(line_at(vi, "0xf080c000"),
                     "0xf080c000-0xf080f000   12288 start_kernel pages=2 vmalloc");
    ck_assert_str_eq(line_at(vi, "0xff7b8000"),
                     "0xff7b8000-0xff800000  294912 pcpu_get_vm_areas vmalloc");
    free(vi);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* Lazily freed areas that touch are one "unpurged vm_area" line, listed
 * after the live areas; version 4 (before) lists none.  KERNEL: 6.1
 * mm/vmalloc.c free_vmap_area_noflush() merge_or_add_vmap_area(). */
START_TEST(test_vmallocinfo_unpurged_merged_61)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    uint32_t a = vmalloc_ok(m, 4096), b = vmalloc_ok(m, 4096);
    const char *want = "0xf09cf000-0xf09d3000   16384 unpurged vm_area\n";
    char *vi;
    size_t n;

    ck_assert_uint_eq(a, 0xf09cf000);
    ck_assert_uint_eq(b, 0xf09d1000);
    vfree_ok(m, a);
    vfree_ok(m, b);
    vi = report(m, MM_REPORT_VMALLOCINFO);
    n = strlen(vi);
    ck_assert_uint_gt(n, 60);
    ck_assert_str_eq(vi + n - strlen(want), want);
    free(vi);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "version=4", NULL);
    vfree_ok(m, vmalloc_ok(m, 4096));
    vi = report(m, MM_REPORT_VMALLOCINFO);
    ck_assert_ptr_null(strstr(vi, "unpurged"));
    free(vi);
    mm_destroy(m);
}
END_TEST

/* A snapshot keeps the boot areas' callers and the lazily freed ones:
 * the restored machine reports the same vmallocinfo. */
START_TEST(test_boot61_snapshot_keeps_boot_areas)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "cpus=2", NULL), *r = NULL;
    struct mm_buf b = {0};
    char err[MM_MSG_MAX] = "";
    char *a, *c;

    ck_assert_int_eq(mm_snapshot(m, &b), MM_OK);
    ck_assert_msg(mm_restore(mm_machine_config(m), b.data, b.len, &r, err) == MM_OK, "%s",
                  err);
    a = report(m, MM_REPORT_VMALLOCINFO);
    c = report(r, MM_REPORT_VMALLOCINFO);
    ck_assert_str_eq(c, a);
    ck_assert_ptr_nonnull(strstr(c, " fork_idle pages=2 vmalloc\n"));
    ck_assert_ptr_nonnull(strstr(c, " unpurged vm_area\n"));
    t_check(r);
    free(a);
    free(c);
    mm_buf_free(&b);
    mm_destroy(r);
    mm_destroy(m);
}
END_TEST

/* 32 CPUs (more than armmp's NR_CPUS 8) in a 16 MiB vmalloc area: the
 * replay keeps what fits and the machine is created; 8 CPUs fit whole. */
START_TEST(test_boot61_replay_stops_when_full)
{
    struct mm_machine *m =
        t_machine("qemu-virt", "kernel=6.1", "cpus=32", "vmalloc=8M", NULL);
    char *vi = report(m, MM_REPORT_VMALLOCINFO);

    ck_assert_ptr_null(strstr(vi, " n_tty_open "));
    ck_assert_ptr_nonnull(strstr(vi, " pcpu_get_vm_areas "));
    t_check(m);
    free(vi);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "cpus=8", "vmalloc=8M", NULL);
    vi = report(m, MM_REPORT_VMALLOCINFO);
    ck_assert_ptr_nonnull(strstr(vi, " n_tty_open "));
    free(vi);
    mm_destroy(m);
}
END_TEST

Suite *vmalloc_suite(void)
{
    Suite *s = suite_create("vmalloc");
    TCase *tc = tcase_create("placement");
    TCase *tf = tcase_create("free");
    TCase *ti = tcase_create("ioremap");
    TCase *tm = tcase_create("module");
    TCase *tr = tcase_create("report");

    tcase_add_test(tc, test_vmalloc_first_at_vmalloc_start);
    tcase_add_test(tc, test_vmalloc_next_after_guard_page);
    tcase_add_test(tc, test_vmalloc_area_slot_is_32_bytes);
    tcase_add_test(tc, test_vmalloc_size_rounds_up_to_a_page);
    tcase_add_test(tc, test_vmalloc_pages_translate_to_own_highmem_pages);
    tcase_add_test(tc, test_vmalloc_guard_page_faults);
    tcase_add_test(tc, test_vmalloc_page_is_not_executable);
    tcase_add_test(tc, test_vmalloc_zero_refused);
    tcase_add_test(tc, test_vmalloc_over_totalram_refused);
    tcase_add_test(tc, test_vmalloc_big_has_vmalloced_page_array);
    tcase_add_test(tc, test_vmalloc_4m_has_no_page_array_area);
    tcase_add_test(tc, test_nextfit_skips_exact_size_hole);
    tcase_add_test(tc, test_nextfit_rescans_for_smaller_request);
    tcase_add_test(tc, test_lowest_fit_takes_exact_size_hole);
    tcase_add_test(tc, test_fragmented_request_fails_and_keeps_lazy_areas);
    tcase_add_test(tc, test_full_window_purges_and_retries);
    tcase_add_test(tc, test_out_of_pages_changes_nothing);
    tcase_add_test(tc, test_exactly_enough_pages_succeeds);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tcase_add_test(tf, test_vfree_page_array_refused);
    tcase_add_test(tf, test_vfree_big_frees_page_array_too);
    tcase_add_test(tf, test_vfree_non_start_refused);
    tcase_add_test(tf, test_vfree_ioremap_area_refused);
    tcase_add_test(tf, test_vfree_twice_refused);
    tcase_add_test(tf, test_vfree_unmaps_and_frees_pages_at_once);
    tcase_add_test(tf, test_freed_va_not_reused_before_purge);
    tcase_add_test(tf, test_lazy_max_pages_reached_does_not_purge);
    tcase_add_test(tf, test_lazy_max_pages_exceeded_purges_with_one_flush);
    tcase_add_test(tf, test_lazy_max_pages_scales_with_fls_cpus);
    tcase_add_test(tf, test_freed_va_reused_after_purge);
    tcase_set_timeout(tf, 60);
    suite_add_tcase(s, tf);

    tcase_add_test(ti, test_ioremap_ram_refused);
    tcase_add_test(ti, test_ioremap_4k_is_8k_aligned_in_3_4);
    tcase_add_test(ti, test_ioremap_4k_is_page_aligned_in_6_1);
    tcase_add_test(ti, test_ioremap_keeps_offset_and_iounmap_takes_it);
    tcase_add_test(ti, test_ioremap_offset_spanning_two_pages);
    tcase_add_test(ti, test_ioremap_maps_device_ptes);
    tcase_add_test(ti, test_ioremap_sections_on_up);
    tcase_add_test(ti, test_ioremap_pages_on_smp);
    tcase_add_test(ti, test_iounmap_sections_clears_first_level);
    tcase_add_test(ti, test_ioremap_sections_free_stale_page_table);
    tcase_add_test(ti, test_iounmap_non_start_refused);
    tcase_add_test(ti, test_ioremap_too_big_changes_nothing);
    tcase_add_test(ti, test_ioremap_zero_and_wrap_refused);
    suite_add_tcase(s, ti);

    tcase_add_test(tm, test_module_alloc_in_module_window_executable);
    tcase_add_test(tm, test_module_alloc_uses_highmem_from_4_12);
    tcase_add_test(tm, test_module_window_full);
    tcase_add_test(tm, test_module_free_vmalloc_area_refused);
    tcase_add_test(tm, test_module_free_returns_pages);
    tcase_add_test(tm, test_vmap_maps_given_pages);
    tcase_add_test(tm, test_vmap_non_ram_refused);
    tcase_add_test(tm, test_vmap_no_pages_refused);
    tcase_add_test(tm, test_vunmap_vmalloc_area_refused);
    suite_add_tcase(s, tm);

    tcase_add_test(tr, test_vmallocinfo_format_3_4);
    tcase_add_test(tr, test_vmallocinfo_ioremap_phys_later);
    tcase_add_test(tr, test_vmallocinfo_omits_lazy_areas);
    tcase_add_test(tr, test_ioremap_placement_follows_config_smp);
    tcase_add_test(tr, test_vmallocinfo_phys_pa_61);
    tcase_add_test(tr, test_stats_count_areas_pages_lazy);
    tcase_add_test(tr, test_clone_is_independent);
    tcase_add_test(tr, test_boot61_vmalloc_space_one_cpu);
    tcase_add_test(tr, test_boot61_lowmem_cma_no_pool_remap);
    tcase_add_test(tr, test_boot61_per_cpu_areas);
    tcase_add_test(tr, test_vmallocinfo_unpurged_merged_61);
    tcase_add_test(tr, test_boot61_v8_chunk_order_one_cpu);
    tcase_add_test(tr, test_boot61_v7_chunk_order_one_cpu_kept);
    tcase_add_test(tr, test_boot61_v8_chunk_order_two_cpus);
    tcase_add_test(tr, test_boot61_v7_chunk_order_two_cpus_kept);
    tcase_add_test(tr, test_boot61_v8_early_order_four_cpus);
    tcase_add_test(tr, test_boot61_v7_early_order_four_cpus_kept);
    tcase_add_test(tr, test_boot61_snapshot_keeps_boot_areas);
    tcase_add_test(tr, test_boot61_replay_stops_when_full);
    suite_add_tcase(s, tr);
    return s;
}
