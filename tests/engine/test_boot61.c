/* tests/engine/test_boot61.c - the end of a 6.1 armmp boot (config version 3).
 *
 * Each value is the real kernel's, from the fixtures of tests/oracle
 * (Debian 12's 6.1.0-57-armmp under QEMU virt), and each fact is read in
 * the 6.1 source named at the test.  A version-2 config keeps the machine
 * it was stored with (test_boot61_version_2_replays_as_before).
 */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many numbers follow "zone NAME" on the first buddyinfo line that
 * names @zone; -1 when no line does. */
static int buddy_orders(const char *t, const char *zone)
{
    char want[32];
    const char *p;
    int n = 0;

    snprintf(want, sizeof(want), "zone %8s ", zone);
    p = strstr(t, want);
    if (p == NULL)
        return -1;
    p += strlen(want);
    while (*p != '\n' && *p != '\0') {
        while (*p == ' ')
            p++;
        if (*p >= '0' && *p <= '9')
            n++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return n;
}

/* A value of "@key: N kB" in a meminfo text; fails the test if absent. */
static unsigned long meminfo_kb(const char *t, const char *key)
{
    char want[40];
    const char *p;
    unsigned long v = 0;

    snprintf(want, sizeof(want), "%s:", key);
    p = strstr(t, want);
    ck_assert_msg(p != NULL, "no %s in:\n%s", key, t);
    ck_assert_int_eq(sscanf(p + strlen(want), " %lu kB", &v), 1);
    return v;
}

/* mm_create()'s status for a qemu-virt 6.1 machine of 1 GiB with kernel
 * command line @cmdline; its message in @err, the machine destroyed. */
static enum mm_status create_virt61_1g(const char *cmdline, char err[MM_MSG_MAX])
{
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    enum mm_status st;

    mm_config_default(&cfg);
    ck_assert_int_eq(mm_config_preset(&cfg, "qemu-virt", err), MM_OK);
    ck_assert_int_eq(mm_config_set(&cfg, "kernel", "6.1", err), MM_OK);
    ck_assert_int_eq(mm_config_set(&cfg, "ram", "0x40000000+1G", err), MM_OK);
    ck_assert_int_eq(mm_config_set(&cfg, "cmdline", cmdline, err), MM_OK);
    st = mm_create(&cfg, &m, err);
    mm_destroy(m);
    return st;
}

/* mm_create()'s status for a qemu-virt 6.1 machine of 1 GiB with
 * fdt=@fdt; its message in @err, the machine destroyed. */
static enum mm_status create_virt61_fdt(const char *fdt, char err[MM_MSG_MAX])
{
    struct mm_config cfg = t_config("qemu-virt", "kernel=6.1",
                                    "ram=0x40000000+1G", NULL);

    ck_assert_int_eq(mm_config_set(&cfg, "fdt", fdt, err), MM_OK);
    return t_create_status(&cfg, err);
}

/*
 * ARCH_FORCE_MAX_ORDER=12 (config-6.1.0-57-armmp): the buddy allocator has
 * orders 0 to 11 and /proc/buddyinfo twelve columns (fixtures/ram1G-
 * cpus1.txt: "zone DMA 5 2 5 6 7 4 4 3 2 4 2 88", HighMem likewise).
 * KERNEL: 6.1 include/linux/mmzone.h MAX_ORDER, mm/vmstat.c
 * frag_show_print(), mm/memblock.c __free_pages_memory() (blocks of up to
 * MAX_ORDER - 1), mm/page_alloc.c __free_one_page().
 */
START_TEST(test_boot61_buddyinfo_twelve_orders)
{
    /* version 4: free counts without the boot's vmalloc pages (vmboot61.c) */
    struct mm_machine *m =
        t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "version=4", NULL);
    char *t = t_report(m, MM_REPORT_BUDDYINFO);
    struct mm_stats st;
    struct mm_result r;

    ck_assert_int_eq(buddy_orders(t, "DMA"), 12);
    ck_assert_int_eq(buddy_orders(t, "HighMem"), 12);
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.nr_orders, 12);
    /* highmem is free in 8 MiB blocks: 256 MiB of it, the CMA area's 16
     * MiB among them less the atomic pool's first 64 pages */
    ck_assert_uint_eq(st.zone[1].nr_free[11], 31);
    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 11, &r), MM_OK);
    ck_assert_uint_eq(r.value & 2047, 0);
    t_check(m);
    free(t);
    mm_destroy(m);
}
END_TEST

/*
 * On a machine without highmem the default CMA area falls back to the top
 * of lowmem: cma_declare_contiguous_nid() tries [highmem_start, limit)
 * only when the range crosses it, then takes [base, limit) top-down, the
 * limit aligned down to 8 MiB (CMA_MIN_ALIGNMENT_BYTES).  fixtures/
 * ram256M-cpus1.txt: "cma: Reserved 16 MiB at 0x4f000000", cma-reserved
 * 16384K, zone DMA cma 4096, CmaTotal 16384 kB; ram2G-cpus2-mem700M.txt:
 * at 0x6a800000 (700 MiB ends at 0x6bc00000, aligned down 0x6b800000).
 * (test_boot61_cma_remapped_with_pages: how paging_init() maps it.)
 * KERNEL: 6.1 mm/cma.c cma_declare_contiguous_nid(),
 * kernel/dma/contiguous.c.
 */
START_TEST(test_boot61_cma_in_lowmem)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+256M", NULL);
    char *mem = t_report(m, MM_REPORT_MEMORY), *mi = t_report(m, MM_REPORT_MEMINFO);
    char *zi = t_report(m, MM_REPORT_ZONEINFO);

    ck_assert(strncmp(mem, "cma: Reserved 16 MiB at 0x4f000000\n", 35) == 0);
    ck_assert_ptr_nonnull(strstr(mem, ", 16384K cma-reserved, 0K highmem)\n"));
    ck_assert_uint_eq(meminfo_kb(mi, "CmaTotal"), 16384);
    ck_assert_uint_eq(meminfo_kb(mi, "CmaFree"), 16128);
    ck_assert_ptr_nonnull(strstr(zi, "        cma      4096\n"));
    t_check(m);
    free(mem);
    free(mi);
    free(zi);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G", "cpus=2",
                  "cmdline=mem=700M", NULL);
    mem = t_report(m, MM_REPORT_MEMORY);
    ck_assert(strncmp(mem, "cma: Reserved 16 MiB at 0x6a800000\n", 35) == 0);
    free(mem);
    mm_destroy(m);
}
END_TEST

/*
 * paging_init() runs dma_contiguous_remap() right after map_lowmem(): a
 * lowmem CMA area (clipped at arm_lowmem_limit) loses its sections
 * (pmd_clear()) and iotable_init() maps it again with MT_MEMORY_DMA_READY,
 * which has no prot_sect, so with pages: one early_alloc()'d PTE page per
 * 2 MiB (8 for 16 MiB, 32K more in the Memory: line's reserved figure),
 * first-level bits PMD_TYPE_TABLE | DOMAIN_KERNEL (0x001, no PMD_BIT4 on
 * v7), PTEs PRESENT | YOUNG | DIRTY | XN | kern_pgprot (hardware 0x45f on
 * SMP, as PAGE_KERNEL).  iotable_init() lists it as a static vm area:
 * fixtures/ram256M-cpus1.txt "0xcf000000-0xd0000000 16777216
 * iotable_init+0x0/0xf4 phys=0x4f000000 ioremap" (no guard page).  A
 * highmem CMA area is not remapped (ram1G-cpus1.txt has no such line:
 * test_boot61_pci_io_in_vmallocinfo).
 * KERNEL: 6.1 arch/arm/mm/dma-mapping.c dma_contiguous_remap(),
 * arch/arm/mm/mmu.c paging_init(), iotable_init(), mem_types[], mm/vmalloc.c
 * s_show().
 */
START_TEST(test_boot61_cma_remapped_with_pages)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+256M", NULL);
    char *vi = t_report(m, MM_REPORT_VMALLOCINFO), *mem = t_report(m, MM_REPORT_MEMORY);
    struct mm_walk w;

    ck_assert_msg(strstr(vi, "0xcf000000-0xd0000000 16777216 iotable_init phys=0x4f000000 "
                             "ioremap\n") == vi,
                  "%s", vi);
    /* + 1024K: QEMU's device tree (test_boot61_fdt_reserved_and_mapped),
     * + 192K: the dentry and inode hash tables (test_boot61_vfs_hashes),
     * + 28K: the other early allocations (test_boot61_early_memblock) */
    ck_assert_uint_eq(t_figure_before(mem, "K reserved"), 21904 + 32 + 1024 + 192 + 28);
    for (mm_vaddr_t va = 0xcf000000u; va < 0xd0000000u; va += 0x100000u) {
        uint32_t l1 = mm__l1_read(m, va >> 20);

        ck_assert_uint_eq(l1 & 0xfffu, (va & 0x100000u) ? 0xc01u : 0x801u);
    }
    ck_assert_int_eq(mm_translate(m, 0xcf123000u, 0, &w), MM_OK);
    ck_assert_uint_eq(w.pa, 0x4f123000u);
    ck_assert_uint_eq(w.nsteps, 2);
    ck_assert_uint_eq(w.step[1].desc, 0x4f12345fu);
    /* the rest of lowmem keeps its sections */
    ck_assert_uint_eq(mm__l1_read(m, 0xcef) & 3u, 2u);
    t_check(m);
    free(vi);
    free(mem);
    mm_destroy(m);
}
END_TEST

/*
 * devicemaps_init() ends with pci_reserve_io(): vm_reserve_area_early(
 * PCI_IO_VIRT_BASE 0xfee00000, SZ_2M) adds a static vm area, VM_IOREMAP
 * without phys_addr, that /proc/vmallocinfo lists in every fixture:
 * "0xfee00000-0xff000000 2097152 pci_reserve_io+0x0/0x38 ioremap"; on
 * 1 GiB it is the only boot area (the CMA area is in highmem).
 * KERNEL: 6.1 arch/arm/mm/mmu.c pci_reserve_io(), arch/arm/mm/ioremap.c
 * vm_reserve_area_early(), mm/vmalloc.c s_show().
 */
START_TEST(test_boot61_pci_io_in_vmallocinfo)
{
    /* version 4: before the boot's own vmalloc areas (vmboot61.c) */
    struct mm_machine *m =
        t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "version=4", NULL);
    char *vi = t_report(m, MM_REPORT_VMALLOCINFO);

    ck_assert_str_eq(vi, "0xfee00000-0xff000000 2097152 pci_reserve_io ioremap\n");
    t_check(m);
    free(vi);
    mm_destroy(m);
}
END_TEST

/*
 * atomic_pool_init() (postcore_initcall, after cma_activate_area()) takes
 * DEFAULT_DMA_COHERENT_POOL_SIZE, 256 KiB, from the CMA area when there is
 * one: CmaFree is 16128 kB of 16384 in every fixture with CMA, and the
 * zone's free count drops by 64 pages.  With cma=0 there is no area and
 * both lines are 0 (ram2G-cpus2-cma0.txt).  KERNEL: 6.1
 * arch/arm/mm/dma-mapping.c atomic_pool_init(), __alloc_from_contiguous().
 */
START_TEST(test_boot61_atomic_pool_from_cma)
{
    /* version 4: free counts without the boot's vmalloc pages (vmboot61.c) */
    struct mm_machine *m =
        t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "version=4", NULL);
    char *mi = t_report(m, MM_REPORT_MEMINFO);
    struct mm_stats st;

    ck_assert_uint_eq(meminfo_kb(mi, "CmaTotal"), 16384);
    ck_assert_uint_eq(meminfo_kb(mi, "CmaFree"), 16128);
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.zone[1].managed, 65536);
    ck_assert_uint_eq(st.zone[1].free, 65536 - 64);
    ck_assert_uint_eq(meminfo_kb(mi, "HighFree"), (65536 - 64) * 4);
    free(mi);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G", "cmdline=cma=0", NULL);
    mi = t_report(m, MM_REPORT_MEMINFO);
    ck_assert_uint_eq(meminfo_kb(mi, "CmaTotal"), 0);
    ck_assert_uint_eq(meminfo_kb(mi, "CmaFree"), 0);
    free(mi);
    mm_destroy(m);
}
END_TEST

/*
 * free_initmem() frees __init_begin..__init_end after boot: "Freeing
 * unused kernel image (initmem) memory: 2048K" (every fixture), printed
 * after Memory:, which did not count it; MemTotal does.  KERNEL: 6.1
 * arch/arm/mm/init.c free_initmem(), mm/page_alloc.c free_reserved_area().
 */
START_TEST(test_boot61_initmem_freed)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", NULL);
    char *mem = t_report(m, MM_REPORT_MEMORY), *mi = t_report(m, MM_REPORT_MEMINFO);
    const char *tail = "K highmem)\nFreeing unused kernel image (initmem) memory: 2048K\n";
    unsigned long avail = t_figure_before(mem, "K/1048576K available");
    struct mm_result r;

    ck_assert_str_eq(mem + strlen(mem) - strlen(tail), tail);
    ck_assert_uint_eq(meminfo_kb(mi, "MemTotal"), avail + 16384 + 2048);
    /* the image's init pages (0x41200000 - 0x41400000) are free lowmem now */
    ck_assert_int_eq(mm_free_pages(m, 0x41200, 0, &r), MM_NOT_FOUND);
    ck_assert_int_eq(mm_free_pages(m, 0x413ff, 0, &r), MM_NOT_FOUND);
    ck_assert_int_eq(mm_free_pages(m, 0x41400, 0, &r), MM_INVALID_ARGUMENT);
    t_check(m);
    free(mem);
    free(mi);
    mm_destroy(m);
}
END_TEST

/*
 * initrd=START,SIZE (init/do_mounts_initrd.c early_initrd(), memparse()
 * for both; QEMU passes the same through the device tree):
 * reserve_initrd_mem(), from arm_memblock_init(), reserves it rounded out to
 * pages, so mem_init()'s Memory: line counts it as reserved; after boot
 * ARM's free_initrd_mem() rounds out the same way and free_reserved_area()
 * prints "Freeing initrd memory: %ldK" (before the initmem line, as in
 * fixtures/ram1G-cpus1.txt "Freeing initrd memory: 960K"); MemTotal counts
 * the pages again.  A range that is not memory or overlaps a reservation is
 * refused (the kernel would boot without it), and so is one in highmem
 * (__va() of it is not its address).  KERNEL: 6.1 init/initramfs.c
 * reserve_initrd_mem(), arch/arm/mm/init.c arm_memblock_init(),
 * free_initrd_mem(), mm/page_alloc.c free_reserved_area().
 */
START_TEST(test_boot61_initrd_reserved_then_freed)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G",
                                     "cmdline=initrd=0x48000000,960K", NULL);
    char *mem = t_report(m, MM_REPORT_MEMORY), *mi = t_report(m, MM_REPORT_MEMINFO);
    const char *tail = "K highmem)\nFreeing initrd memory: 960K\n"
                       "Freeing unused kernel image (initmem) memory: 2048K\n";
    char err[MM_MSG_MAX];

    ck_assert_str_eq(mem + strlen(mem) - strlen(tail), tail);
    /* 1003376K and 28816K with neither an initrd nor QEMU's 1 MiB device
     * tree, which follows the initrd (test_boot61_fdt_reserved_and_mapped),
     * nor the 768K of hash tables (test_boot61_vfs_hashes) and the 28K of
     * other early allocations (test_boot61_early_memblock) */
    ck_assert_uint_eq(t_figure_before(mem, "K/1048576K available"),
                      1003376 - 960 - 1024 - 768 - 28);
    ck_assert_uint_eq(t_figure_before(mem, "K reserved"), 28816 + 960 + 1024 + 768 + 28);
    ck_assert_uint_eq(meminfo_kb(mi, "MemTotal"), 1003376 - 1024 - 768 - 28 + 16384 + 2048);
    t_check(m);
    free(mem);
    free(mi);
    mm_destroy(m);
    /* not page aligned: two pages reserved and freed */
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G",
                  "cmdline=initrd=0x48000800,4K", NULL);
    mem = t_report(m, MM_REPORT_MEMORY);
    ck_assert_ptr_nonnull(strstr(mem, "\nFreeing initrd memory: 8K\n"));
    free(mem);
    mm_destroy(m);
    ck_assert_int_eq(create_virt61_1g("initrd=0x40300000,1M", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "create: initrd 0x40300000+0x00100000 overlaps in-use memory");
    ck_assert_int_eq(create_virt61_1g("initrd=0x20000000,1M", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "create: initrd 0x20000000+0x00100000 is not a memory region");
    ck_assert_int_eq(create_virt61_1g("initrd=0x78000000,1M", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "create: initrd 0x78000000+0x00100000 is not in lowmem");
}
END_TEST

/*
 * init_per_zone_wmark_min() is a postcore_initcall: it computes
 * min_free_kbytes = int_sqrt(16 * lowmem kB) and every zone's watermarks
 * from the managed pages of that moment, before populate_rootfs()
 * (rootfs_initcall) frees the initrd and free_initmem() the init sections,
 * so neither counts; /proc/zoneinfo's managed, read later, counts both.
 * fixtures/ram1G-cpus2-vm480M.txt HighMem "low 301", "high 478" and
 * ram2G-cpus1-vm8M.txt "low 401", "high 674" (each with QEMU's 960K
 * initrd).  KERNEL: 6.1 mm/page_alloc.c init_per_zone_wmark_min(),
 * calculate_min_free_kbytes(), __setup_per_zone_wmarks(); init/initramfs.c
 * populate_rootfs().
 */
START_TEST(test_boot61_watermarks_before_late_frees)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G",
                                     "cpus=2", "cmdline=vmalloc=480M initrd=0x48000000,960K",
                                     NULL);
    struct mm_zoneinfo z[MM_ZONEINFO_MAX];
    unsigned n = 0, r = 0;
    uint64_t lowmem;

    ck_assert_int_eq(mm__zoneinfo(m, z, &n), MM_OK);
    ck_assert_str_eq(z[2].name, "HighMem");
    ck_assert_uint_eq(z[2].low, 301);
    ck_assert_uint_eq(z[2].high, 478);
    /* DMA's min is pages_min: int_sqrt(16 * 4 * pages) / 4 of the DMA
     * pages managed before 512 init and 240 initrd pages were freed */
    lowmem = (uint64_t)z[0].managed - 512 - 240;
    while ((r + 1) * (r + 1) <= lowmem * 64)
        r++;
    ck_assert_str_eq(z[0].name, "DMA");
    ck_assert_uint_eq(z[0].min, r / 4);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G", "cpus=1",
                  "cmdline=vmalloc=8M initrd=0x48000000,960K", NULL);
    ck_assert_int_eq(mm__zoneinfo(m, z, &n), MM_OK);
    ck_assert_uint_eq(z[2].low, 401);
    ck_assert_uint_eq(z[2].high, 674);
    mm_destroy(m);
}
END_TEST

/*
 * arm_memblock_init() reserves KERNEL_START.._end, and KERNEL_START is
 * _stext (0xc0300000 on armmp), not _text (0xc0208000): the head text and
 * the alignment up to _stext are free memory after boot (swapper_pg_dir,
 * below _text, is reserved apart).  KERNEL: 6.1 arch/arm/mm/init.c
 * arm_memblock_init(), arch/arm/include/asm/memory.h KERNEL_START,
 * arch/arm/mm/mmu.c arm_mm_memblock_reserve().
 */
START_TEST(test_boot61_reserved_from_stext)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    struct mm_result r;

    ck_assert_int_eq(mm_free_pages(m, 0x40208, 0, &r), MM_NOT_FOUND);
    ck_assert_int_eq(mm_free_pages(m, 0x402ff, 0, &r), MM_NOT_FOUND);
    ck_assert_int_eq(mm_free_pages(m, 0x40300, 0, &r), MM_INVALID_ARGUMENT);
    ck_assert_int_eq(mm_free_pages(m, 0x40204, 0, &r), MM_INVALID_ARGUMENT);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/*
 * setup_per_cpu_areas() embeds the first chunk: PFN_ALIGN(static 45012 +
 * PERCPU_MODULE_RESERVE 8192 + PERCPU_DYNAMIC_RESERVE 20480) = 18 pages a
 * CPU, "percpu: Embedded 18 pages/cpu s45012 r8192 d20524 u73728" after
 * the node lines (every fixture; s is the armmp image's .data..percpu).
 * It is a memblock allocation of 18 pages per possible CPU, so the
 * Memory: line's reserved grows by 72K a CPU.  KERNEL: 6.1 mm/percpu.c
 * setup_per_cpu_areas(), pcpu_embed_first_chunk(), pcpu_build_alloc_info();
 * include/linux/percpu.h.
 */
START_TEST(test_boot61_percpu_first_chunk)
{
    struct mm_machine *a = t_machine("qemu-virt", "kernel=6.1", "cpus=1", NULL);
    struct mm_machine *b = t_machine("qemu-virt", "kernel=6.1", "cpus=4", NULL);
    char *ma = t_report(a, MM_REPORT_MEMORY), *mb = t_report(b, MM_REPORT_MEMORY);

    ck_assert_ptr_nonnull(strstr(ma, "Initmem setup node 0 [mem 0x0000000040000000-"
                                     "0x000000007fffffff]\n"
                                     "percpu: Embedded 18 pages/cpu s45012 r8192 d20524 "
                                     "u73728\n"
                                     "Built 1 zonelists"));
    ck_assert_uint_eq(t_figure_before(mb, "K reserved") - t_figure_before(ma, "K reserved"), 3 * 72);
    free(ma);
    free(mb);
    mm_destroy(a);
    mm_destroy(b);
}
END_TEST

/*
 * early_vmalloc() warns when it clamps: fixtures/ram2G-cpus1-vm8M.txt logs
 * "vmalloc area is too small, limiting to 16MiB" first; above VMALLOC_END
 * - (PAGE_OFFSET + 32 MiB + VMALLOC_OFFSET) = 0xff800000 - 0xc2800000
 * (976 MiB) it says "too big".  KERNEL: 6.1 arch/arm/mm/mmu.c early_vmalloc().
 */
START_TEST(test_boot61_vmalloc_clamp_lines)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G",
                                     "cmdline=vmalloc=8M", NULL);
    char *mem = t_report(m, MM_REPORT_MEMORY);

    ck_assert(strncmp(mem, "vmalloc area is too small, limiting to 16MiB\n"
                           "cma: Reserved 16 MiB at 0xbf000000\n", 80) == 0);
    free(mem);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+256M", "cmdline=vmalloc=990M",
                  NULL);
    mem = t_report(m, MM_REPORT_MEMORY);
    ck_assert(strncmp(mem, "vmalloc area is too big, limiting to 976MiB\n", 44) == 0);
    free(mem);
    mm_destroy(m);
}
END_TEST

/*
 * A machine stored at version 2 replays as it was built: eleven orders, no
 * CMA in lowmem, nothing freed after boot, no per-CPU chunk, CmaFree ==
 * CmaTotal, and the same allocation addresses.
 */
START_TEST(test_boot61_version_2_replays_as_before)
{
    static const char text[] = "preset=qemu-virt\nkernel=6.1\nram=0x40000000+256M\n"
                               "version=2\n";
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    char err[MM_MSG_MAX], *t;
    struct mm_result r;
    struct mm_stats st;

    mm_config_default(&cfg);
    ck_assert_msg(mm_config_parse(&cfg, text, err) == MM_OK, "%s", err);
    ck_assert_msg(mm_create(&cfg, &m, err) == MM_OK, "%s", err);
    t = t_report(m, MM_REPORT_BUDDYINFO);
    ck_assert_int_eq(buddy_orders(t, "DMA"), 11);
    free(t);
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.nr_orders, 11);
    ck_assert_uint_eq(st.zone[0].managed, 59830); /* as oracle-diff showed before */
    ck_assert_uint_eq(m->cma_pages, 0);
    t = t_report(m, MM_REPORT_MEMORY);
    ck_assert_ptr_null(strstr(t, "Freeing"));
    ck_assert_ptr_null(strstr(t, "percpu:"));
    free(t);
    ck_assert_int_eq(mm_free_pages(m, 0x40208, 0, &r), MM_INVALID_ARGUMENT);
    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0x4fdb8);
    mm_destroy(m);
}
END_TEST

/*
 * QEMU passes its 1 MiB device tree right after the initrd, 4 KiB aligned
 * (hw/arm/boot.c): 0x480f0000 with the oracle's 960K initrd.  The kernel
 * reserves it for good (setup_arch(): memblock_reserve(__atags_pointer,
 * fdt_totalsize())) and maps the 2 MiB from its MiB read-only at
 * FDT_FIXED_BASE (devicemaps_init(), MT_MEMORY_RO: SECT | XN | AP_WRITE |
 * APX | WBWA | S = 0x1941e on SMP).  fixtures/ram1G-cpus1.txt: "Memory:
 * 1000596K/1048576K available ... 31596K reserved", as the engine has it
 * since config version 5 (test_boot61_early_memblock); it left out 1820K
 * before the blob and 796K before the hash tables.
 * KERNEL: 6.1 arch/arm/kernel/setup.c setup_arch(), arch/arm/mm/mmu.c
 * devicemaps_init(), build_mem_type_table(), asm/memory.h FDT_FIXED_BASE.
 */
START_TEST(test_boot61_fdt_reserved_and_mapped)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G",
                                     "cmdline=initrd=0x48000000,960K", NULL);
    char *mem = t_report(m, MM_REPORT_MEMORY), *mi = t_report(m, MM_REPORT_MEMINFO);
    struct mm_walk tr;
    struct mm_result r;

    ck_assert_uint_eq(t_figure_before(mem, "K/1048576K available"), 1000596);
    ck_assert_uint_eq(t_figure_before(mem, "K reserved"), 31596);
    ck_assert_uint_eq(meminfo_kb(mi, "MemTotal"), 1019988);
    ck_assert_uint_eq(mm__l1_read(m, 0xff8), 0x4800041eu | 0x19000u);
    ck_assert_uint_eq(mm__l1_read(m, 0xff9), 0x4810041eu | 0x19000u);
    ck_assert_int_eq(mm_translate(m, 0xff8f0000u, 0, &tr), MM_OK);
    ck_assert_uint_eq(tr.pa, 0x480f0000u);
    /* the blob's pages are reserved; the page after it is not */
    ck_assert_int_eq(mm_free_pages(m, 0x480f0, 0, &r), MM_INVALID_ARGUMENT);
    ck_assert_int_eq(mm_free_pages(m, 0x481ef, 0, &r), MM_INVALID_ARGUMENT);
    t_check(m);
    free(mem);
    free(mi);
    mm_destroy(m);
    /* no initrd: the blob is where QEMU would have put one, RAM + 128M */
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", NULL);
    ck_assert_uint_eq(mm__l1_read(m, 0xff8), 0x4800041eu | 0x19000u);
    ck_assert_uint_eq(m->fdt_start, 0x48000000u);
    ck_assert_uint_eq(m->fdt_pages, 256);
    mm_destroy(m);
    /* version 3 configs keep their machine: no blob, nothing mapped */
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "version=3", NULL);
    ck_assert_uint_eq(mm__l1_read(m, 0xff8), 0);
    ck_assert_uint_eq(m->fdt_pages, 0);
    mm_destroy(m);
}
END_TEST

/* fdt=ADDR,SIZE places the blob; fdt=none passes none; bad values are
 * refused naming what is wrong. */
START_TEST(test_boot61_fdt_setting)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G",
                                     "fdt=0x4c080000,64K", NULL);
    struct mm_config cfg;
    char err[MM_MSG_MAX], text[2048];

    ck_assert_uint_eq(mm__l1_read(m, 0xff8), 0x4c00041eu | 0x19000u);
    ck_assert_uint_eq(m->fdt_start, 0x4c080000u);
    ck_assert_uint_eq(m->fdt_pages, 16);
    mm_config_format(mm_machine_config(m), text, sizeof(text));
    ck_assert_ptr_nonnull(strstr(text, "\nfdt=0x4c080000,64K\n"));
    t_check(m);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "fdt=none", NULL);
    ck_assert_uint_eq(mm__l1_read(m, 0xff8), 0);
    mm_destroy(m);
    /* in highmem: the kernel reads it through its own map, not __va() */
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+2G", "fdt=0xbff00000,1M",
                  NULL);
    ck_assert_uint_eq(mm__l1_read(m, 0xff8), 0xbff0041eu | 0x19000u);
    ck_assert_uint_eq(mm__l1_read(m, 0xff9), 0xc000041eu | 0x19000u);
    t_check(m);
    mm_destroy(m);
    /* "auto" is not written, so configs stored before the key read the same */
    mm_config_default(&cfg);
    mm_config_format(&cfg, text, sizeof(text));
    ck_assert_ptr_null(strstr(text, "fdt="));
    ck_assert_int_eq(mm_config_set(&cfg, "fdt", "0x48000002,1M", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: fdt: bad value '0x48000002,1M' (the address must be "
                          "4-byte aligned and below 4 GiB (head.S __vet_atags))");
    ck_assert_int_eq(mm_config_set(&cfg, "fdt", "0x48000000", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: fdt: bad value '0x48000000' (want auto, none or "
                          "ADDR,SIZE, e.g. 0x480f0000,1M)");
    ck_assert_int_eq(mm_config_set(&cfg, "fdt", "0x48000000,3M", err), MM_INVALID_ARGUMENT);
    ck_assert_int_eq(create_virt61_fdt("0x480f0000,2M", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "create: fdt 0x480f0000+0x200000 ends past the 2 MiB the "
                          "kernel maps from its MiB (FDT_FIXED_SIZE)");
    ck_assert_int_eq(create_virt61_fdt("0x20000000,1M", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "create: fdt 0x20000000+0x00100000 is not a memory region");
    ck_assert_int_eq(create_virt61_fdt("0x40300000,1M", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "create: fdt 0x40300000+0x00100000 overlaps in-use memory");
    mm_config_default(&cfg);
    ck_assert_int_eq(mm_config_set(&cfg, "fdt", "0x48000000,1M", err), MM_OK);
    ck_assert_int_eq(mm_create(&cfg, &m, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "create: fdt is modelled from 5.11 on (FDT_FIXED_BASE), not on "
                          "3.4.0; use fdt=auto or none");
}
END_TEST

/*
 * vfs_caches_init_early() takes the dentry and inode hash tables from
 * memblock before mem_init(): 4-byte buckets, one per 2^13 (dentry) or
 * 2^14 (inode) bytes of nr_kernel_pages (lowmem present pages less their
 * memmap, less the highmem memmap) rounded up to a MiB, then to a power
 * of two.  The kernel's lines: fixtures/ram256M-cpus1.log (64960 kernel
 * pages), ram512M-cpus2.log, ram3G-cpus4-vm600M.log (lowmem 368 MiB, the
 * highmem memmap charged).  The Memory: line of ram256M-cpus1.txt is
 * "221620K/262144K available ... 24140K reserved", with the rest of the
 * early allocations (28K here: test_boot61_early_memblock).  Config
 * version 4 keeps the machine it stored, 220K short.  KERNEL: 6.1 fs/dcache.c
 * dcache_init_early(), fs/inode.c inode_init_early(), mm/page_alloc.c
 * alloc_large_system_hash(), free_area_init_core(), calc_memmap_size().
 */
START_TEST(test_boot61_vfs_hashes)
{
    static const struct {
        const char *ram, *cpus, *cmdline, *lines;
    } cases[] = {
        { "ram=0x40000000+256M", "cpus=1", "cmdline=",
          "Dentry cache hash table entries: 32768 (order: 5, 131072 bytes, linear)\n"
          "Inode-cache hash table entries: 16384 (order: 4, 65536 bytes, linear)\n" },
        { "ram=0x40000000+512M", "cpus=2", "cmdline=",
          "Dentry cache hash table entries: 65536 (order: 6, 262144 bytes, linear)\n"
          "Inode-cache hash table entries: 32768 (order: 5, 131072 bytes, linear)\n" },
        { "ram=0x40000000+3G", "cpus=4", "cmdline=vmalloc=600M",
          "Dentry cache hash table entries: 65536 (order: 6, 262144 bytes, linear)\n"
          "Inode-cache hash table entries: 32768 (order: 5, 131072 bytes, linear)\n" },
    };
    struct mm_machine *m;
    char *mem;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        m = t_machine("qemu-virt", "kernel=6.1", cases[i].ram, cases[i].cpus,
                      cases[i].cmdline, NULL);
        mem = t_report(m, MM_REPORT_MEMORY);
        ck_assert_msg(strstr(mem, cases[i].lines) != NULL, "%s", mem);
        ck_assert_ptr_nonnull(strstr(strstr(mem, cases[i].lines), "\nMemory: "));
        t_check(m);
        free(mem);
        mm_destroy(m);
    }
    /* the oracle's 960K initrd where QEMU puts it, RAM + 128M */
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+256M",
                  "cmdline=initrd=0x48000000,960K", NULL);
    mem = t_report(m, MM_REPORT_MEMORY);
    ck_assert_uint_eq(t_figure_before(mem, "K/262144K available"), 221620);
    ck_assert_uint_eq(t_figure_before(mem, "K reserved"), 24140);
    free(mem);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+256M",
                  "cmdline=initrd=0x48000000,960K", "version=4", NULL);
    mem = t_report(m, MM_REPORT_MEMORY);
    ck_assert_ptr_null(strstr(mem, "hash table"));
    ck_assert_uint_eq(t_figure_before(mem, "K reserved"), 24140 - 28 - 128 - 64);
    free(mem);
    mm_destroy(m);
}
END_TEST

/*
 * The rest of what the boot takes from memblock before mem_init() (config
 * version 5): the static vm areas' structs, the pageblock flags, the
 * memory resource, the unflattened copy of QEMU's tree, the command line
 * copies and the per-CPU chunk's maps.  With the oracle's 960K initrd
 * where QEMU puts it, each machine's Memory: line, MemTotal, CommitLimit
 * and zone figures are the real kernel's: fixtures/ram768M-cpus4.txt,
 * ram1G-cpus3-cma64M.txt and ram3G-cpus4-vm600M.txt (the watermarks are
 * taken before the initrd and init sections are freed, managed after).
 * Version 4 keeps its machine, 220K short on 256 MiB
 * (test_boot61_vfs_hashes).  KERNEL: 6.1 arch/arm/mm/mmu.c
 * iotable_init(), vm_reserve_area_early(), mm/page_alloc.c
 * setup_usemap(), arch/arm/kernel/setup.c request_standard_resources(),
 * drivers/of/fdt.c unflatten_device_tree(), init/main.c
 * setup_command_line(), mm/percpu.c pcpu_embed_first_chunk(),
 * pcpu_setup_first_chunk(), pcpu_alloc_first_chunk().
 */
START_TEST(test_boot61_early_memblock)
{
    static const struct {
        const char *ram, *cpus, *cmdline, *available, *reserved, *zone_lines;
        unsigned long total, commit;
    } cases[] = {
        { "ram=0x40000000+768M", "cpus=4", "cmdline=initrd=0x48000000,960K",
          "740508K/786432K available", "29540K reserved",
          "        min      869\n        low      1086\n        high     1303\n"
          "        spanned  196608\n        present  196608\n        managed  189975\n",
          759900, 379948 },
        { "ram=0x40000000+1G", "cpus=3", "cmdline=initrd=0x48000000,960K cma=64M",
          "951300K/1048576K available", "31740K reserved",
          "        managed  189425\n", 1019844, 509920 },
        { "ram=0x40000000+3G", "cpus=4", "cmdline=initrd=0x48000000,960K vmalloc=600M",
          "3079480K/3145724K available", "49860K reserved",
          "        min      606\n        low      757\n        high     908\n"
          "        spanned  104448\n        present  104448\n        managed  92735\n",
          3098872, 1549436 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", cases[i].ram,
                                         cases[i].cpus, cases[i].cmdline, NULL);
        char *mem = t_report(m, MM_REPORT_MEMORY), *mi = t_report(m, MM_REPORT_MEMINFO);
        char *zi = t_report(m, MM_REPORT_ZONEINFO);

        ck_assert_msg(strstr(mem, cases[i].available) != NULL, "%s", mem);
        ck_assert_msg(strstr(mem, cases[i].reserved) != NULL, "%s", mem);
        ck_assert_uint_eq(meminfo_kb(mi, "MemTotal"), cases[i].total);
        ck_assert_uint_eq(meminfo_kb(mi, "CommitLimit"), cases[i].commit);
        ck_assert_msg(strstr(zi, cases[i].zone_lines) != NULL, "%s", zi);
        t_check(m);
        free(mem);
        free(mi);
        free(zi);
        mm_destroy(m);
    }
}
END_TEST

Suite *boot61_suite(void)
{
    Suite *s = suite_create("boot61");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_boot61_buddyinfo_twelve_orders);
    tcase_add_test(tc, test_boot61_cma_in_lowmem);
    tcase_add_test(tc, test_boot61_atomic_pool_from_cma);
    tcase_add_test(tc, test_boot61_cma_remapped_with_pages);
    tcase_add_test(tc, test_boot61_pci_io_in_vmallocinfo);
    tcase_add_test(tc, test_boot61_initmem_freed);
    tcase_add_test(tc, test_boot61_initrd_reserved_then_freed);
    tcase_add_test(tc, test_boot61_watermarks_before_late_frees);
    tcase_add_test(tc, test_boot61_reserved_from_stext);
    tcase_add_test(tc, test_boot61_percpu_first_chunk);
    tcase_add_test(tc, test_boot61_vmalloc_clamp_lines);
    tcase_add_test(tc, test_boot61_version_2_replays_as_before);
    tcase_add_test(tc, test_boot61_fdt_reserved_and_mapped);
    tcase_add_test(tc, test_boot61_fdt_setting);
    tcase_add_test(tc, test_boot61_vfs_hashes);
    tcase_add_test(tc, test_boot61_early_memblock);
    suite_add_tcase(s, tc);
    return s;
}
