/* tests/engine/test_ptdump61.c - the 6.1 reference boot's vmalloc area in
 * kernel_page_tables, against the real kernel's (tests/oracle/fixtures,
 * ram1G-cpus1: Debian's armmp 6.1 on QEMU virt, 1 GiB, one CPU; the
 * probe's walk of swapper_pg_dir as arch/arm/mm/dump.c prints it).
 */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dump's line for the run starting at @va ("" if there is none), as a
 * malloc'd string. */
static char *dump_line(const struct mm_machine *m, mm_vaddr_t va)
{
    char *text = t_report(m, MM_REPORT_PAGETABLES), *line, *nl;
    char key[16];

    snprintf(key, sizeof(key), "0x%08x-", va);
    line = strstr(text, key);
    if (line == NULL || (line != text && line[-1] != '\n')) {
        free(text);
        return strdup("");
    }
    nl = strchr(line, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    line = strdup(line);
    free(text);
    ck_assert_ptr_nonnull(line);
    return line;
}

static void assert_dump_line(const struct mm_machine *m, mm_vaddr_t va, const char *want)
{
    char *got = dump_line(m, va);

    ck_assert_str_eq(got, want);
    free(got);
}

/* KERNEL: 6.1 include/linux/filter.h bpf_prog_lock_ro(): the boot's BPF
 * program (bpf_prog_alloc_no_stats, one page) is not JITed, so
 * bpf_prog_select_runtime() makes it read-only; the fixture's line. */
#define BPF_VA   0xf0809000u
#define BPF_LINE "0xf0809000-0xf080a000           4K PTE KERNEL      ro NX SHD MEM/CACHED/WBWA"

START_TEST(test_ptdump61_bpf_page_read_only)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    struct mm_walk w;

    assert_dump_line(m, BPF_VA, BPF_LINE);
    ck_assert_uint_eq(mm__pte_get(m, BPF_VA) & (MM_L_PTE_RDONLY | MM_L_PTE_XN),
                      MM_L_PTE_RDONLY | MM_L_PTE_XN);
    ck_assert_int_eq(mm_translate(m, BPF_VA + 0x10, MM_ACC_WRITE, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_PERMISSION_L2);
    ck_assert_int_eq(mm_translate(m, BPF_VA + 0x10, MM_ACC_READ, &w), MM_OK);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* A config stored before version 7 keeps the page it was built with. */
START_TEST(test_ptdump61_bpf_page_writable_before_version_7)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "version=6", NULL);

    assert_dump_line(m, BPF_VA,
                     "0xf0809000-0xf080a000           4K PTE KERNEL      RW NX SHD "
                     "MEM/CACHED/WBWA");
    ck_assert_uint_eq(mm__pte_get(m, BPF_VA) & MM_L_PTE_RDONLY, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* set_vm_flush_reset_perms(): the program's vfree purges every lazily
 * freed area at once (vm_unmap_aliases()), so vmallocinfo lists no
 * unpurged range after it; the next vmalloc of a page maps read-write. */
START_TEST(test_ptdump61_bpf_vfree_purges)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    struct mm_result r;
    char *vi = t_report(m, MM_REPORT_VMALLOCINFO);

    ck_assert_ptr_nonnull(strstr(vi, " unpurged vm_area\n"));
    free(vi);
    ck_assert_int_eq(mm_vfree(m, BPF_VA, &r), MM_OK);
    ck_assert_uint_eq(r.value, 1);
    vi = t_report(m, MM_REPORT_VMALLOCINFO);
    ck_assert_ptr_null(strstr(vi, " unpurged vm_area\n"));
    free(vi);
    assert_dump_line(m, BPF_VA, "");
    ck_assert_int_eq(mm_vmalloc(m, 0x1000, &r), MM_OK);
    ck_assert_uint_eq(mm__pte_get(m, (mm_vaddr_t)r.value) & MM_L_PTE_RDONLY, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* A clone and a snapshot's restore carry the read-only page. */
START_TEST(test_ptdump61_bpf_read_only_in_clone_and_snapshot)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL), *c, *r = NULL;
    struct mm_buf b = { 0 };
    char err[MM_MSG_MAX] = "";

    c = mm_clone(m);
    ck_assert_ptr_nonnull(c);
    assert_dump_line(c, BPF_VA, BPF_LINE);
    t_check(c);
    ck_assert_int_eq(mm_snapshot(m, &b), MM_OK);
    ck_assert_msg(mm_restore(mm_machine_config(m), b.data, b.len, &r, err) == MM_OK, "%s",
                  err);
    assert_dump_line(r, BPF_VA, BPF_LINE);
    t_check(r);
    mm_buf_free(&b);
    mm_destroy(r);
    mm_destroy(c);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 6.1 arch/arm/mm/dma-mapping.c atomic_pool_init() ->
 * __alloc_from_contiguous(): the pool's 256 KiB from a CMA area in highmem
 * (16 MiB at 0x7f000000 on 1 GiB) are remapped by
 * dma_common_contiguous_remap() with pgprot_dmacoherent(PAGE_KERNEL); the
 * fixture's line. */
#define POOL_VA   0xf0883000u
#define POOL_LINE "0xf0883000-0xf08c3000         256K PTE KERNEL      RW NX SHD MEM/BUFFERABLE/WC"

START_TEST(test_ptdump61_dma_pool_remap_mapped)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);

    assert_dump_line(m, POOL_VA, POOL_LINE);
    /* the CMA area's first and last pool pages, L_PTE_MT_BUFFERABLE | XN */
    ck_assert_uint_eq(mm__pte_get(m, POOL_VA) & ~0xfffu, 0x7f000000u);
    ck_assert_uint_eq(mm__pte_get(m, POOL_VA) & (MM_L_PTE_MT_MASK | MM_L_PTE_XN),
                      (0x01u << 2) | MM_L_PTE_XN);
    ck_assert_uint_eq(mm__pte_get(m, POOL_VA + 0x3f000) & ~0xfffu, 0x7f03f000u);
    ck_assert_uint_eq(mm__pte_get(m, POOL_VA + 0x40000), 0); /* the guard */
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* Before version 7 the remap keeps its addresses only; before version 8
 * a machine without CMA maps nothing there either (its pool's pages were
 * not taken from the page allocator then). */
START_TEST(test_ptdump61_dma_pool_unmapped_before_7_or_without_cma)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "version=6", NULL);
    char *text;

    assert_dump_line(m, POOL_VA, "");
    ck_assert_uint_eq(mm__pte_get(m, POOL_VA), 0);
    t_check(m);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "cmdline=cma=0", "version=7", NULL);
    text = t_report(m, MM_REPORT_PAGETABLES);
    ck_assert_ptr_null(strstr(text, "BUFFERABLE"));
    ck_assert_uint_eq(mm__pte_get(m, POOL_VA), 0);
    free(text);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 6.1 arch/arm/mm/dma-mapping.c atomic_pool_init() without a CMA
 * area: __alloc_remap_buffer() -> __dma_alloc_buffer() takes an order-6
 * block (get_order(256 KiB), nothing in excess to free after split_page())
 * with GFP_KERNEL | GFP_DMA, so from ZONE_DMA, all of lowmem on this
 * build, and dma_common_contiguous_remap() maps it with
 * pgprot_dmacoherent(PAGE_KERNEL).  The line of ram2G-cpus2-cma0.txt (all
 * three boots).  The block is the one the engine's buddy allocator hands
 * out (the dump prints no physical address); a version-7 machine leaves it
 * free. */
#define POOL0_VA  0xf089f000u
#define POOL0_PFN 0x41640u
#define POOL0_LINE \
    "0xf089f000-0xf08df000         256K PTE KERNEL      RW NX SHD MEM/BUFFERABLE/WC"

START_TEST(test_ptdump61_dma_pool_without_cma_mapped)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G",
                                     "cpus=2", "cmdline=cma=0", NULL);
    struct mm_machine *old = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G",
                                       "cpus=2", "cmdline=cma=0", "version=7", NULL);
    struct mm_page_info pi;
    mm_pfn_t pfn;

    assert_dump_line(m, POOL0_VA, POOL0_LINE);
    pfn = MM_PFN(mm__pte_get(m, POOL0_VA));
    ck_assert_uint_eq(pfn, POOL0_PFN);
    ck_assert_uint_eq(mm__pte_get(m, POOL0_VA) & (MM_L_PTE_MT_MASK | MM_L_PTE_XN),
                      (0x01u << 2) | MM_L_PTE_XN);
    ck_assert_uint_eq(MM_PFN(mm__pte_get(m, POOL0_VA + 0x3f000)), pfn + 63);
    ck_assert_uint_eq(mm__pte_get(m, POOL0_VA + 0x40000), 0); /* the guard */
    mm__page_info(m, pfn, &pi);
    ck_assert_int_eq(pi.state, MM_PAGE_USED);
    ck_assert_int_eq(pi.zone, MM_ZONE_DMA);
    ck_assert_int_eq(pi.owner, MM_OWN_BOOT);
    ck_assert_uint_eq(pi.head, pfn);
    ck_assert_uint_eq(pi.order, 6);
    /* the pool's 64 and the per-CPU chunk's 3 a CPU; version 7 took none */
    ck_assert_uint_eq(mm__buddy_owned_pages(m, MM_OWN_BOOT), 64 + 2 * 3);
    ck_assert_uint_eq(mm__buddy_owned_pages(old, MM_OWN_BOOT), 0);
    mm__page_info(old, pfn, &pi);
    ck_assert_int_eq(pi.state, MM_PAGE_FREE);
    t_check(m);
    mm_destroy(old);
    mm_destroy(m);
}
END_TEST

/* A snapshot's restore keeps the pool's mapping, and mm_check() follows
 * it: a PTE of the pool changed behind the engine's back is found. */
START_TEST(test_ptdump61_dma_pool_snapshot_and_check)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL), *r = NULL;
    struct mm_buf b = { 0 };
    char err[MM_MSG_MAX] = "";

    ck_assert_int_eq(mm_snapshot(m, &b), MM_OK);
    ck_assert_msg(mm_restore(mm_machine_config(m), b.data, b.len, &r, err) == MM_OK, "%s",
                  err);
    assert_dump_line(r, POOL_VA, POOL_LINE);
    t_check(r);
    mm__set_pte(r, POOL_VA + 0x1000, 0);
    ck_assert_int_eq(mm_check(r, err), MM_INTERNAL);
    ck_assert_str_eq(err, "vmalloc: PTE of 0xf0884000 is 0x00000000, the area maps pfn 0x7f001");
    mm_buf_free(&b);
    mm_destroy(r);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 6.1 mm/percpu-vm.c pcpu_populate_chunk(): the second chunk's
 * first three pages of every unit (72 KiB each here) are populated when
 * it is created: pcpu_alloc_pages() takes them one by one, order 0,
 * GFP_KERNEL | __GFP_HIGHMEM, CPU after CPU, and pcpu_map_pages() maps
 * each CPU's run with PAGE_KERNEL.  ram2G-cpus4.txt, all three boots. */
static const mm_vaddr_t pcpu_runs[] = { 0xff7b8000u, 0xff7ca000u, 0xff7dc000u,
                                        0xff7ee000u };

START_TEST(test_ptdump61_pcpu_chunk_populated)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G",
                                     "cpus=4", NULL);
    mm_pfn_t prev = 0;

    for (size_t i = 0; i < sizeof(pcpu_runs) / sizeof(pcpu_runs[0]); i++) {
        char want[128];

        snprintf(want, sizeof(want),
                 "0x%08x-0x%08x          12K PTE KERNEL      RW NX SHD MEM/CACHED/WBWA",
                 pcpu_runs[i], pcpu_runs[i] + 0x3000);
        assert_dump_line(m, pcpu_runs[i], want);
        ck_assert_uint_eq(mm__pte_get(m, pcpu_runs[i] + 0x3000), 0);
        for (unsigned k = 0; k < 3; k++) {
            mm_pfn_t pfn = MM_PFN(mm__pte_get(m, pcpu_runs[i] + k * 0x1000));
            struct mm_page_info pi;

            mm__page_info(m, pfn, &pi);
            ck_assert_int_eq(pi.state, MM_PAGE_USED);
            ck_assert_int_eq(pi.zone, MM_ZONE_HIGHMEM);
            ck_assert_int_eq(pi.owner, MM_OWN_BOOT);
            ck_assert_uint_eq(pi.order, 0);
            ck_assert_uint_ne(pfn, prev);
            prev = pfn;
        }
    }
    ck_assert_uint_eq(mm__buddy_owned_pages(m, MM_OWN_BOOT), 4 * 3);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* A config stored at version 7 replays without those pages: nothing is
 * mapped in the chunk and the boot holds no page of its own. */
START_TEST(test_ptdump61_pcpu_chunk_empty_before_version_8)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G",
                                     "cpus=4", "version=7", NULL);

    for (size_t i = 0; i < sizeof(pcpu_runs) / sizeof(pcpu_runs[0]); i++) {
        assert_dump_line(m, pcpu_runs[i], "");
        ck_assert_uint_eq(mm__pte_get(m, pcpu_runs[i]), 0);
    }
    ck_assert_uint_eq(mm__buddy_owned_pages(m, MM_OWN_BOOT), 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* The chunk's pages survive a snapshot, and mm_check() counts them: a
 * page the boot holds freed behind the engine's back is found. */
START_TEST(test_ptdump61_pcpu_chunk_snapshot_and_check)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G",
                                     "cpus=4", NULL),
                      *r = NULL;
    struct mm_buf b = { 0 };
    char err[MM_MSG_MAX] = "";
    mm_pfn_t pfn;

    ck_assert_int_eq(mm_snapshot(m, &b), MM_OK);
    ck_assert_msg(mm_restore(mm_machine_config(m), b.data, b.len, &r, err) == MM_OK, "%s",
                  err);
    assert_dump_line(r, pcpu_runs[0],
                     "0xff7b8000-0xff7bb000          12K PTE KERNEL      RW NX SHD "
                     "MEM/CACHED/WBWA");
    ck_assert_uint_eq(mm__pte_get(r, pcpu_runs[3]), mm__pte_get(m, pcpu_runs[3]));
    t_check(r);
    pfn = MM_PFN(mm__pte_get(r, pcpu_runs[0]));
    ck_assert_int_eq(mm__free_pages(r, pfn, 0, MM_OWN_BOOT, "test", err), MM_OK);
    ck_assert_int_eq(mm_check(r, err), MM_INTERNAL);
    ck_assert_str_eq(err, "check: the buddy allocator holds 11 pages for the boot, "
                          "which took 12");
    mm_buf_free(&b);
    mm_destroy(r);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 6.1 mm/vmalloc.c vfree() -> remove_vm_area() ->
 * vunmap_range_noflush(): an area's PTEs are cleared at once; only its
 * address range (vmallocinfo's "unpurged vm_area") and the TLB flush wait
 * for the purge.  The fixture's dump prints nothing for those ranges, and
 * neither does the engine's: no PTE is left in them. */
START_TEST(test_ptdump61_unpurged_ranges_unmapped)
{
    static const mm_vaddr_t lazy[][2] = {
        { 0xf0805000u, 0xf0809000u }, { 0xf082b000u, 0xf082f000u },
        { 0xf0841000u, 0xf0843000u }, { 0xf093f000u, 0xf0981000u },
    };
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *vi = t_report(m, MM_REPORT_VMALLOCINFO);

    for (size_t i = 0; i < sizeof(lazy) / sizeof(lazy[0]); i++) {
        char line[64];

        snprintf(line, sizeof(line), "0x%08x-0x%08x %7u unpurged vm_area\n", lazy[i][0],
                 lazy[i][1], lazy[i][1] - lazy[i][0]);
        ck_assert_msg(strstr(vi, line) != NULL, "no \"%s\"", line);
        for (mm_vaddr_t va = lazy[i][0]; va < lazy[i][1]; va += 0x1000)
            ck_assert_uint_eq(mm__pte_get(m, va), 0);
        assert_dump_line(m, lazy[i][0], "");
    }
    free(vi);
    mm_destroy(m);
}
END_TEST

Suite *ptdump61_suite(void)
{
    Suite *s = suite_create("ptdump61");
    TCase *tb = tcase_create("bpf"), *td = tcase_create("dma_pool");
    TCase *tl = tcase_create("lazy"), *tp = tcase_create("pcpu");

    tcase_add_test(tb, test_ptdump61_bpf_page_read_only);
    tcase_add_test(tb, test_ptdump61_bpf_page_writable_before_version_7);
    tcase_add_test(tb, test_ptdump61_bpf_vfree_purges);
    tcase_add_test(tb, test_ptdump61_bpf_read_only_in_clone_and_snapshot);
    suite_add_tcase(s, tb);
    tcase_add_test(td, test_ptdump61_dma_pool_remap_mapped);
    tcase_add_test(td, test_ptdump61_dma_pool_unmapped_before_7_or_without_cma);
    tcase_add_test(td, test_ptdump61_dma_pool_snapshot_and_check);
    tcase_add_test(td, test_ptdump61_dma_pool_without_cma_mapped);
    suite_add_tcase(s, td);
    tcase_add_test(tl, test_ptdump61_unpurged_ranges_unmapped);
    suite_add_tcase(s, tl);
    tcase_add_test(tp, test_ptdump61_pcpu_chunk_populated);
    tcase_add_test(tp, test_ptdump61_pcpu_chunk_empty_before_version_8);
    tcase_add_test(tp, test_ptdump61_pcpu_chunk_snapshot_and_check);
    suite_add_tcase(s, tp);
    return s;
}
