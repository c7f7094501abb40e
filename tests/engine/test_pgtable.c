/* tests/engine/test_pgtable.c - swapper_pg_dir: entries, PTEs, the dump.
 *
 * Values are those the kernel writes: MT_MEMORY sections (3.4 mmu.c
 * build_mem_type_table()), __pmd_populate() pairs (3.4 pgalloc.h),
 * cpu_v7_set_pte_ext() hardware PTEs (3.4 proc-v7-2level.S) and the
 * kernel_page_tables text of arch/arm/mm/dump.c.
 */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARIES_PGD 0x80204000u           /* PHYS_OFFSET + TEXT_OFFSET - 0x4000 */

static void check_pgtable(const struct mm_machine *m)
{
    char err[MM_MSG_MAX] = "";

    ck_assert_msg(mm__pgtable_check(m, err) == MM_OK, "%s", err);
}

/* The hardware PTE of @va (2048 bytes above the Linux one). */
static uint32_t hw_pte(const struct mm_machine *m, mm_vaddr_t va)
{
    mm_paddr_t base = mm__pte_page(m, va);

    ck_assert_uint_ne(base, 0);
    return mm__phys_read32(m->phys, base + 2048 + ((va >> 12) & 511) * 4);
}

/* A PTE page for tests that call mm__map_memory(), counted like boot's. */
static bool test_alloc_pte(struct mm_machine *m, mm_paddr_t *pa)
{
    char msg[MM_MSG_MAX];
    mm_pfn_t pfn;

    if (mm__alloc_pages(m, MM_ZONE_NORMAL, 0, MM_OWN_PGTABLE, &pfn, "test", msg) != MM_OK)
        return false;
    m->cnt.pte_pages++;
    *pa = (mm_paddr_t)MM_PFN_PHYS(pfn);
    return true;
}

/* ---- memory types ---------------------------------------------------- */

/* KERNEL: 3.4 mmu.c MT_MEMORY on SMP v7: SECT|AP_WRITE|TEX(1)|C|B|S = 0x1140e */
START_TEST(test_section_prot_smp)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(mm__section_prot(m), 0x1140e);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 mmu.c UP keeps CPOLICY_WRITEBACK (C|B), no S: 0x40e */
START_TEST(test_section_prot_up)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);

    ck_assert_uint_eq(mm__section_prot(m), 0x40e);
    mm_destroy(m);
}
END_TEST

/* PAGE_KERNEL = pgprot_kernel | XN: PRESENT|YOUNG|DIRTY|WRITEALLOC|SHARED|XN */
START_TEST(test_mk_pte_kernel_smp)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(mm__mk_pte(m, 0x9f000, MM_PROT_KERNEL), 0x9f00065f);
    ck_assert_uint_eq(mm__mk_pte(m, 0x9f000, MM_PROT_KERNEL_EXEC), 0x9f00045f);
    mm_destroy(m);
}
END_TEST

START_TEST(test_mk_pte_device_and_vectors)
{
    struct mm_machine *m = t_machine("aries", NULL);

    /* MT_DEVICE: PRESENT|YOUNG|DIRTY|XN|DEV_SHARED|SHARED */
    ck_assert_uint_eq(mm__mk_pte(m, 0x4000, MM_PROT_DEVICE), 0x04000653);
    /* MT_HIGH_VECTORS: PRESENT|YOUNG|DIRTY|USER|RDONLY|WRITEALLOC|SHARED */
    ck_assert_uint_eq(mm__mk_pte(m, 0x80000, MM_PROT_HIGH_VECTORS), 0x800005df);
    mm_destroy(m);
}
END_TEST

/* UP: write-back kernel memory, write-through vectors (3.4), no SHARED. */
START_TEST(test_mk_pte_up)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);

    ck_assert_uint_eq(mm__mk_pte(m, 1, MM_PROT_KERNEL), 0x0000124f);
    ck_assert_uint_eq(mm__mk_pte(m, 1, MM_PROT_HIGH_VECTORS), 0x000011cb);
    mm_destroy(m);
}
END_TEST

/* ---- boot tables ------------------------------------------------------ */

START_TEST(test_boot_first_lowmem_section)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(m->lay.pgd_pa, ARIES_PGD);
    ck_assert_uint_eq(mm__l1_read(m, 0xc00), 0x8021140e);
    ck_assert_uint_eq(mm__phys_read32(m->phys, ARIES_PGD + 0xc00 * 4), 0x8021140e);
    mm_destroy(m);
}
END_TEST

START_TEST(test_boot_last_lowmem_section)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(mm__l1_read(m, 0xef7), 0xaf91140e);
    ck_assert_uint_eq(mm__l1_read(m, 0xef8), 0);
    mm_destroy(m);
}
END_TEST

/* The hole between banks 0x88e00000-0x89000000 has no sections. */
START_TEST(test_boot_bank_hole_empty)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(mm__l1_read(m, 0xc8b), 0x88d1140e);
    ck_assert_uint_eq(mm__l1_read(m, 0xc8c), 0);
    ck_assert_uint_eq(mm__l1_read(m, 0xc8d), 0);
    ck_assert_uint_eq(mm__l1_read(m, 0xc8e), 0x8901140e);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 mmu.c MT_HIGH_VECTORS .prot_l1 = PMD_TYPE_TABLE, DOMAIN_USER */
START_TEST(test_boot_vectors_table_domain_user)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_paddr_t pte = mm__pte_page(m, 0xffff0000);

    ck_assert_uint_ne(pte, 0);
    ck_assert_uint_eq(mm__l1_read(m, 0xffe), (pte + 2048) | 0x21);
    ck_assert_uint_eq(mm__l1_read(m, 0xfff), (pte + 3072) | 0x21);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 4.19, 6.1 mmu.c MT_HIGH_VECTORS .prot_l1 = PMD_TYPE_TABLE |
 * PMD_DOMAIN(DOMAIN_VECTORS): early_fixmap_shutdown() cleared the early
 * fixmap's KERNEL-domain pmd before devicemaps_init() maps the vectors, so
 * the top table is a fresh VECTORS-domain (3) one, as the real 6.1 kernel
 * shows (0x061 at 0xffe and 0xfff). */
START_TEST(test_boot_vectors_table_domain_vectors_4x)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.19", NULL);
    mm_paddr_t pte = mm__pte_page(m, 0xffff0000);

    ck_assert_uint_ne(pte, 0);
    ck_assert_uint_eq(mm__l1_read(m, 0xffe), (pte + 2048) | 0x61);
    ck_assert_uint_eq(mm__l1_read(m, 0xfff), (pte + 3072) | 0x61);
    check_pgtable(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_boot_vectors_pte)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t lpte = mm__pte_get(m, 0xffff0000);

    ck_assert_uint_eq(lpte & 0xfff, 0x5df);
    /* S | APX | TEX(1) | AP1 | AP0 | C | B | small: kernel and user read-only */
    ck_assert_uint_eq(hw_pte(m, 0xffff0000), (lpte & 0xfffff000) | 0x67e);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 mmu.c kmap_init(): pkmap table with _PAGE_KERNEL_TABLE 0x11 */
START_TEST(test_boot_pkmap_table)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_paddr_t pte = mm__pte_page(m, 0xbfe00000);

    ck_assert_uint_ne(pte, 0);
    ck_assert_uint_eq(mm__l1_read(m, 0xbfe), (pte + 2048) | 0x11);
    ck_assert_uint_eq(mm__l1_read(m, 0xbff), (pte + 3072) | 0x11);
    ck_assert_uint_eq(mm__pte_get(m, 0xbfe00000), 0);
    mm_destroy(m);
}
END_TEST

START_TEST(test_boot_user_space_empty)
{
    struct mm_machine *m = t_machine("aries", NULL);

    for (unsigned i = 0; i < 0xbf0; i++)
        ck_assert_uint_eq(mm__l1_read(m, i), 0);
    mm_destroy(m);
}
END_TEST

START_TEST(test_boot_check_clean)
{
    struct mm_machine *m = t_machine("aries", NULL);

    check_pgtable(m);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_boot_check_clean_presets)
{
    static const char *const kv[][2] = {
        {"qemu-virt", NULL}, {"qemu-virt", "kernel=3.18"}, {"qemu-virt", "kernel=4.4"},
        {"qemu-virt", "kernel=6.1"}, {"qemu-virt", "cpus=1"}, {"qemu-virt", "highmem=0"},
    };

    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        struct mm_machine *m = t_machine(kv[i][0], kv[i][1], NULL);

        check_pgtable(m);
        mm_destroy(m);
    }
}
END_TEST

/* KERNEL: 4.19 map_lowmem(): non-text lowmem is MT_MEMORY_RW (XN). */
START_TEST(test_boot_lowmem_nx_split_4x)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.4", NULL);
    const struct mm_layout *lay = &m->lay;
    unsigned text = lay->text.start >> 20;
    unsigned top = (lay->high_memory - 1) >> 20;
    uint32_t text_pa = lay->text.start - lay->page_offset + lay->phys_offset;

    ck_assert_uint_eq(mm__l1_read(m, text), (text_pa & 0xfff00000) | mm__section_prot(m));
    ck_assert_uint_eq(mm__l1_read(m, top) & 0xfffff, mm__section_prot(m) | 0x10);
    check_pgtable(m);
    mm_destroy(m);
}
END_TEST

/* 3.18 and earlier map all lowmem MT_MEMORY (executable). */
START_TEST(test_boot_lowmem_all_rwx_3x)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=3.18", NULL);
    unsigned top = (m->lay.high_memory - 1) >> 20;

    ck_assert_uint_eq(mm__l1_read(m, top) & 0xfffff, mm__section_prot(m));
    mm_destroy(m);
}
END_TEST

/* ---- set_pte / pte_clear ---------------------------------------------- */

START_TEST(test_set_pte_writes_both_copies)
{
    struct mm_machine *m = t_machine("aries", NULL);

    mm__set_pte(m, 0xbfe05000, mm__mk_pte(m, 0x9f000, MM_PROT_KERNEL));
    ck_assert_uint_eq(mm__pte_get(m, 0xbfe05000), 0x9f00065f);
    ck_assert_uint_eq(hw_pte(m, 0xbfe05000), 0x9f00045f);
    check_pgtable(m);
    mm_destroy(m);
}
END_TEST

/* Linux pt 1 (VA bit 20 set) lands at +1024, its hardware copy at +3072. */
START_TEST(test_set_pte_second_half)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_paddr_t base = mm__pte_page(m, 0xbff00000);

    mm__set_pte(m, 0xbff01000, mm__mk_pte(m, 0x9f001, MM_PROT_KERNEL));
    ck_assert_uint_eq(mm__phys_read32(m->phys, base + 1024 + 4), 0x9f00165f);
    ck_assert_uint_eq(mm__phys_read32(m->phys, base + 3072 + 4), 0x9f00145f);
    mm_destroy(m);
}
END_TEST

/* cpu_v7_set_pte_ext: !(YOUNG && PRESENT) gives a hardware 0. */
START_TEST(test_set_pte_old_is_hw_zero)
{
    struct mm_machine *m = t_machine("aries", NULL);

    mm__set_pte(m, 0xbfe05000, mm__mk_pte(m, 0x9f000, MM_PROT_KERNEL) & ~MM_L_PTE_YOUNG);
    ck_assert_uint_eq(mm__pte_get(m, 0xbfe05000), 0x9f00065d);
    ck_assert_uint_eq(hw_pte(m, 0xbfe05000), 0);
    mm_destroy(m);
}
END_TEST

/* A clean (not DIRTY) page is write-protected in hardware: APX. */
START_TEST(test_set_pte_clean_is_apx)
{
    struct mm_machine *m = t_machine("aries", NULL);

    mm__set_pte(m, 0xbfe05000, mm__mk_pte(m, 0x9f000, MM_PROT_KERNEL) & ~MM_L_PTE_DIRTY);
    ck_assert_uint_eq(hw_pte(m, 0xbfe05000), 0x9f00065f);
    mm_destroy(m);
}
END_TEST

START_TEST(test_pte_clear)
{
    struct mm_machine *m = t_machine("aries", NULL);

    mm__set_pte(m, 0xbfe05000, mm__mk_pte(m, 0x9f000, MM_PROT_KERNEL));
    mm__pte_clear(m, 0xbfe05000);
    ck_assert_uint_eq(mm__pte_get(m, 0xbfe05000), 0);
    ck_assert_uint_eq(hw_pte(m, 0xbfe05000), 0);
    check_pgtable(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_pte_get_without_table)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(mm__pte_get(m, 0xc0001000), 0);      /* a section */
    ck_assert_uint_eq(mm__pte_get(m, 0x00001000), 0);      /* empty */
    ck_assert_uint_eq(mm__pte_page(m, 0xc0001000), 0);
    mm_destroy(m);
}
END_TEST

START_TEST(test_flush_counts_only)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t before = m->cnt.tlb_flushes;

    mm__flush_tlb_page(m, 0xbfe01000);
    mm__flush_tlb_range(m, 0xbfe00000, 0xc0000000);
    ck_assert_uint_eq(m->cnt.tlb_flushes, before + 2);
    mm_destroy(m);
}
END_TEST

/* ---- pte_alloc ---------------------------------------------------------- */

START_TEST(test_pte_alloc_installs_kernel_table)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t pages = m->cnt.pte_pages;
    char msg[MM_MSG_MAX] = "";
    struct mm_page_info pi;
    mm_paddr_t pte;

    ck_assert_int_eq(mm__pte_alloc(m, 0xf8100000, "test", msg), MM_OK);
    pte = mm__pte_page(m, 0xf8100000);
    ck_assert_uint_ne(pte, 0);
    ck_assert_uint_eq(mm__l1_read(m, 0xf80), (pte + 2048) | 0x11);
    ck_assert_uint_eq(mm__l1_read(m, 0xf81), (pte + 3072) | 0x11);
    ck_assert_uint_eq(m->cnt.pte_pages, pages + 1);
    mm__page_info(m, MM_PFN(pte), &pi);
    ck_assert_int_eq(pi.state, MM_PAGE_USED);
    ck_assert_int_eq(pi.owner, MM_OWN_PGTABLE);
    ck_assert_uint_eq(pi.order, 0);
    ck_assert(!mm__pfn_highmem(m, MM_PFN(pte)));
    check_pgtable(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_pte_alloc_existing_is_noop)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char msg[MM_MSG_MAX] = "";
    uint32_t pages;
    mm_paddr_t pte;

    ck_assert_int_eq(mm__pte_alloc(m, 0xf8100000, "test", msg), MM_OK);
    pages = m->cnt.pte_pages;
    pte = mm__pte_page(m, 0xf8100000);
    ck_assert_int_eq(mm__pte_alloc(m, 0xf8000000, "test", msg), MM_OK);
    ck_assert_uint_eq(mm__pte_page(m, 0xf8000000), pte);
    ck_assert_uint_eq(m->cnt.pte_pages, pages);
    mm_destroy(m);
}
END_TEST

/* Takes every lowmem page, so a page table cannot be had. */
static void exhaust_lowmem(struct mm_machine *m)
{
    struct mm_result r;

    for (int order = 10; order >= 0; order--) {
        while (mm_alloc_pages(m, MM_ZONE_NORMAL, (unsigned)order, &r) == MM_OK)
            ;
    }
}

START_TEST(test_pte_alloc_no_memory_changes_nothing)
{
    struct mm_machine *m = t_machine("qemu-virt", "ram=0x40000000+64M", "highmem=0", NULL);
    char msg[MM_MSG_MAX] = "";
    struct mm_stats before, after;
    uint32_t l1a, l1b;

    exhaust_lowmem(m);
    mm_get_stats(m, &before);
    l1a = mm__l1_read(m, 0xf80);
    l1b = mm__l1_read(m, 0xf81);
    ck_assert_int_eq(mm__pte_alloc(m, 0xf8000000, "vmalloc", msg), MM_NO_MEMORY);
    ck_assert_msg(strncmp(msg, "vmalloc", 7) == 0, "%s", msg);
    mm_get_stats(m, &after);
    ck_assert_uint_eq(after.pte_pages, before.pte_pages);
    ck_assert_uint_eq(after.zone[MM_ZONE_NORMAL].free, before.zone[MM_ZONE_NORMAL].free);
    ck_assert_uint_eq(mm__l1_read(m, 0xf80), l1a);
    ck_assert_uint_eq(mm__l1_read(m, 0xf81), l1b);
    check_pgtable(m);
    mm_destroy(m);
}
END_TEST

/* ---- create_mapping ------------------------------------------------------ */

/* Not section aligned: a PTE table with MT_DEVICE's prot_l1 (domain IO). */
START_TEST(test_map_memory_pages_device)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_paddr_t pte;

    ck_assert_int_eq(mm__map_memory(m, 0xf8101000, 0x04001000, 0x2000, MM_PROT_DEVICE,
                                    test_alloc_pte), MM_OK);
    pte = mm__pte_page(m, 0xf8101000);
    ck_assert_uint_eq(mm__l1_read(m, 0xf80), (pte + 2048) | 0x41);
    ck_assert_uint_eq(mm__pte_get(m, 0xf8100000), 0);
    ck_assert_uint_eq(mm__pte_get(m, 0xf8101000), 0x04001653);
    ck_assert_uint_eq(mm__pte_get(m, 0xf8102000), 0x04002653);
    ck_assert_uint_eq(hw_pte(m, 0xf8102000), 0x04002453);
    ck_assert_uint_eq(mm__pte_get(m, 0xf8103000), 0);
    check_pgtable(m);
    mm_destroy(m);
}
END_TEST

/* Lowmem not section aligned: MT_MEMORY pages, prot_l1 PMD_TYPE_TABLE only
 * (no PMD_BIT4 on v6+, domain KERNEL), Linux PTEs pgprot_kernel. */
START_TEST(test_map_memory_pages_lowmem_type)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_paddr_t pte;

    ck_assert_int_eq(mm__map_memory(m, 0xf8080000, 0x80280000, 0x1000, MM_PROT_KERNEL,
                                    test_alloc_pte), MM_OK);
    pte = mm__pte_page(m, 0xf8080000);
    ck_assert_uint_eq(mm__l1_read(m, 0xf80), (pte + 2048) | 0x01);
    ck_assert_uint_eq(mm__l1_read(m, 0xf81), (pte + 3072) | 0x01);
    ck_assert_uint_eq(mm__pte_get(m, 0xf8080000), 0x8028045f);
    ck_assert_uint_eq(hw_pte(m, 0xf8080000), 0x8028045e);
    check_pgtable(m);
    mm_destroy(m);
}
END_TEST

/* Section aligned from an odd MiB: only pmd[1] is written. */
START_TEST(test_map_memory_odd_section)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_int_eq(mm__map_memory(m, 0xf8100000, 0x04100000, 0x100000, MM_PROT_DEVICE,
                                    test_alloc_pte), MM_OK);
    ck_assert_uint_eq(mm__l1_read(m, 0xf80), 0);
    /* SECT|AP_WRITE|S|XN|TEX(1)|DOMAIN(IO) */
    ck_assert_uint_eq(mm__l1_read(m, 0xf81), 0x04111452);
    mm_destroy(m);
}
END_TEST

/* pgtable_check: memory sections outside lowmem are an inconsistency. */
START_TEST(test_check_flags_section_outside_lowmem)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "";

    mm__l1_write(m, 0xf81, 0x0411140e);
    ck_assert_int_eq(mm__pgtable_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "pgtable: L1[0xf81] 0x0411140e: section at 0xf8100000 "
                          "outside lowmem");
    mm_destroy(m);
}
END_TEST

START_TEST(test_check_flags_section_not_va)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "";

    mm__l1_write(m, 0xc00, 0x8031140e);
    ck_assert_int_eq(mm__pgtable_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "pgtable: L1[0xc00] 0x8031140e: section at 0xc0000000 "
                          "is not __va(0x80300000)");
    mm_destroy(m);
}
END_TEST

/* A UP kernel's ioremap() may use MT_DEVICE sections in the vmalloc area. */
START_TEST(test_check_accepts_ioremap_sections)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    struct mm_result r;
    struct mm_walk w;

    ck_assert_int_eq(mm_ioremap(m, 0x04000000, 0x200000, &r), MM_OK);
    ck_assert_int_eq(mm_translate(m, r.value + 0x100010, MM_ACC_READ, &w), MM_OK);
    ck_assert_uint_eq(w.pa, 0x04100010);
    check_pgtable(m);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_check_flags_bad_hw_pte)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_paddr_t base = mm__pte_page(m, 0xbfe00000);
    char err[MM_MSG_MAX] = "";

    mm__set_pte(m, 0xbfe01000, mm__mk_pte(m, 0x9f000, MM_PROT_KERNEL));
    mm__phys_write32(m->phys, base + 2048 + 4, 0x9f00047f);
    ck_assert_int_eq(mm__pgtable_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "pgtable: PTE of 0xbfe01000: Linux 0x9f00065f, hardware "
                          "0x9f00047f, expected 0x9f00045f");
    mm_destroy(m);
}
END_TEST

START_TEST(test_check_flags_broken_pair)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t e0 = mm__l1_read(m, 0xbfe);
    char err[MM_MSG_MAX] = "";

    mm__l1_write(m, 0xbff, e0);
    ck_assert_int_eq(mm__pgtable_check(m, err), MM_INTERNAL);
    ck_assert_msg(strstr(err, "not a __pmd_populate() pair") != NULL, "%s", err);
    mm_destroy(m);
}
END_TEST

START_TEST(test_check_flags_pte_page_count)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "", want[MM_MSG_MAX];

    m->cnt.pte_pages++;
    snprintf(want, sizeof(want), "pgtable: %u PTE pages in the tables, %u counted",
             m->cnt.pte_pages - 1, m->cnt.pte_pages);
    ck_assert_int_eq(mm__pgtable_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, want);
    mm_destroy(m);
}
END_TEST

/* A PTE page must be reserved or a page-table block, not a user page. */
START_TEST(test_check_flags_foreign_pte_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    char err[MM_MSG_MAX] = "";

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &r), MM_OK);
    mm__pmd_populate(m, 0xf8000000, (mm_paddr_t)MM_PFN_PHYS(r.value), 0x11);
    m->cnt.pte_pages++;
    ck_assert_int_eq(mm__pgtable_check(m, err), MM_INTERNAL);
    ck_assert_msg(strstr(err, "neither reserved nor a page-table block") != NULL, "%s", err);
    mm_destroy(m);
}
END_TEST

/* ---- kernel_page_tables ---------------------------------------------------- */

/* The report split into lines (caller frees lines[0] and lines). */
static char **report_lines(const struct mm_machine *m, size_t *n)
{
    char *text = t_report(m, MM_REPORT_PAGETABLES);
    size_t cap = 16, k = 0;
    char **lines = malloc(cap * sizeof(*lines));

    ck_assert_ptr_nonnull(lines);
    for (char *p = text; *p != '\0';) {
        char *nl = strchr(p, '\n');

        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        if (k == cap) {
            lines = realloc(lines, (cap *= 2) * sizeof(*lines));
            ck_assert_ptr_nonnull(lines);
        }
        lines[k++] = p;
        p = nl + 1;
    }
    ck_assert_uint_gt(k, 0);
    ck_assert_ptr_eq(lines[0], text);
    *n = k;
    return lines;
}

static size_t find_line(char **lines, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(lines[i], s) == 0)
            return i;
    }
    ck_abort_msg("no line \"%s\"", s);
    return 0;
}

START_TEST(test_dump_starts_with_modules)
{
    struct mm_machine *m = t_machine("aries", NULL);
    size_t n;
    char **l = report_lines(m, &n);

    /* KERNEL: dump.c prints the first marker at address 0, and nothing is
     * mapped in user space, modules or (before a kmap) pkmap. */
    ck_assert_str_eq(l[0], "---[ Modules ]---");
    ck_assert_str_eq(l[1], "---[ Kernel Mapping ]---");
    ck_assert_str_eq(l[2], "0xc0000000-0xc8c00000         140M     RW x  SHD");
    ck_assert_str_eq(l[3], "0xc8e00000-0xcd800000          74M     RW x  SHD");
    free(l[0]);
    free(l);
    mm_destroy(m);
}
END_TEST

START_TEST(test_dump_markers_in_order)
{
    static const char *const hdr[] = {
        "---[ Modules ]---", "---[ Kernel Mapping ]---", "---[ vmalloc() Area ]---",
        "---[ vmalloc() End ]---", "---[ Fixmap Area ]---", "---[ Vectors ]---",
        "---[ Vectors End ]---",
    };
    struct mm_machine *m = t_machine("aries", NULL);
    size_t n, at = 0;
    char **l = report_lines(m, &n);

    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
        size_t k = find_line(l, n, hdr[i]);

        ck_assert_msg(i == 0 || k > at, "%s out of order", hdr[i]);
        at = k;
    }
    free(l[0]);
    free(l);
    mm_destroy(m);
}
END_TEST

/* The last lowmem run ends at high_memory, the vector page is USR ro. */
START_TEST(test_dump_vectors_and_lowmem_end)
{
    struct mm_machine *m = t_machine("aries", NULL);
    size_t n, v;
    char **l = report_lines(m, &n);

    v = find_line(l, n, "---[ Vectors ]---");
    ck_assert_str_eq(l[v + 1], "0xffff0000-0xffff1000           4K USR ro x  SHD "
                               "MEM/CACHED/WBWA");
    ck_assert_str_eq(l[v + 2], "---[ Vectors End ]---");
    ck_assert_uint_eq(v + 3, n);
    v = find_line(l, n, "---[ vmalloc() Area ]---");
    ck_assert_msg(strstr(l[v - 1], "-0xef800000 ") != NULL &&
                  strstr(l[v - 1], "     RW x  SHD") != NULL, "%s", l[v - 1]);
    free(l[0]);
    free(l);
    mm_destroy(m);
}
END_TEST

/* A kmapped page shows under Modules as one PAGE_KERNEL page. */
START_TEST(test_dump_kmap_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    size_t n;
    char **l;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), MM_OK);
    ck_assert_int_eq(mm_kmap(m, r.value, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000);
    l = report_lines(m, &n);
    ck_assert_uint_ge(n, 3);
    ck_assert_str_eq(l[0], "---[ Modules ]---");
    ck_assert_str_eq(l[1], "0xbfe01000-0xbfe02000           4K     RW NX SHD "
                           "MEM/CACHED/WBWA");
    ck_assert_str_eq(l[2], "---[ Kernel Mapping ]---");
    free(l[0]);
    free(l);
    mm_destroy(m);
}
END_TEST

/* Debian's armmp 6.1 is built SMP: with one CPU the vectors and lowmem
 * still carry the shared bit and WBWA (is_smp() through SMP_ON_UP on a
 * Cortex-A15); smp=off is a UP build: no SHD, WBRA vectors. */
START_TEST(test_dump_one_cpu_smp_build_61)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    size_t n, v;
    char **l = report_lines(m, &n);

    ck_assert_uint_eq(m->cfg.cpus, 1);
    /* "pre-text NX" after boot (test_kernmem.c) */
    ck_assert_uint_eq(mm__l1_read(m, 0xc00), 0x4001141eu);
    v = find_line(l, n, "---[ Vectors ]---");
    ck_assert_str_eq(l[v + 1], "0xffff0000-0xffff1000           4K PTE VECTORS USR ro x  "
                               "SHD MEM/CACHED/WBWA");
    /* KERNEL: 6.1 devicemaps_init(): the stubs page, MT_LOW_VECTORS */
    ck_assert_str_eq(l[v + 2], "0xffff1000-0xffff2000           4K PTE VECTORS     ro x  "
                               "SHD MEM/CACHED/WBWA");
    ck_assert_str_eq(l[v + 3], "---[ Vectors End ]---");
    {
        struct mm_walk w;

        ck_assert_int_eq(mm_translate(m, 0xffff1000, MM_ACC_READ, &w), MM_OK);
        ck_assert_uint_eq(w.pa, (mm__pte_get(m, 0xffff0000) & 0xfffff000u) + 0x1000);
        ck_assert_int_eq(mm_translate(m, 0xffff1000, MM_ACC_READ | MM_ACC_USER, &w),
                         MM_FAULT);
    }
    free(l[0]);
    free(l);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "smp=off", NULL);
    l = report_lines(m, &n);
    ck_assert_uint_eq(mm__l1_read(m, 0xc00), 0x4000041eu);
    v = find_line(l, n, "---[ Vectors ]---");
    ck_assert_str_eq(l[v + 1], "0xffff0000-0xffff1000           4K PTE VECTORS USR ro x  "
                               "    MEM/CACHED/WBRA");
    free(l[0]);
    free(l);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 6.1 arch/arm/mm/dump.c: level name and domain columns, an "FDT
 * Area" marker and no "vmalloc() End"; 4.19: the domain column only. */
START_TEST(test_dump_61_format)
{
    /* version 4: no boot vmalloc areas between the markers (vmboot61.c) */
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "version=4", NULL);
    size_t n;
    char **l = report_lines(m, &n);

    ck_assert_uint_ge(n, 10);
    ck_assert_str_eq(l[0], "---[ Modules ]---");
    ck_assert_str_eq(l[1], "---[ Kernel Mapping ]---");
    /* map_kernel() maps kernel_sec_start (PHYS_OFFSET) to __init_end
     * rounded up RWX; after boot STRICT_KERNEL_RWX leaves only the text
     * executable, text and rodata read-only (6.1 init.c nx_perms[],
     * ro_perms[]; test_kernmem.c) */
    ck_assert_str_eq(l[2], "0xc0000000-0xc0300000           3M PGD KERNEL      RW NX SHD");
    ck_assert_str_eq(l[3], "0xc0300000-0xc0e00000          11M PGD KERNEL      ro x  SHD");
    ck_assert_str_eq(l[4], "0xc0e00000-0xc1200000           4M PGD KERNEL      ro NX SHD");
    ck_assert_str_eq(l[5], "0xc1200000-0xf0000000         750M PGD KERNEL      RW NX SHD");
    ck_assert_str_eq(l[6], "---[ vmalloc() Area ]---");
    ck_assert_str_eq(l[7], "---[ FDT Area ]---");
    /* devicemaps_init(): QEMU's device tree, MT_MEMORY_RO sections */
    ck_assert_str_eq(l[8], "0xff800000-0xffa00000           2M PGD KERNEL      ro NX SHD");
    ck_assert_str_eq(l[9], "---[ Fixmap Area ]---");
    free(l[0]);
    free(l);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=4.19", NULL);
    l = report_lines(m, &n);
    ck_assert_uint_ge(n, 3);
    ck_assert_str_eq(l[2], "0xc0000000-0xc0a00000          10M KERNEL      RW x     ");
    (void)find_line(l, n, "---[ vmalloc() End ]---");
    free(l[0]);
    free(l);
    mm_destroy(m);
}
END_TEST

/* A CMA area in lowmem (256 MiB: its 16 MiB at the top of lowmem, mapped
 * with pages by dma_contiguous_remap()) gives atomic_pool_init() its 256
 * KiB; __alloc_from_contiguous() then __dma_remap()s those pages of the
 * direct map with pgprot_dmacoherent(PAGE_KERNEL): L_PTE_MT_BUFFERABLE and
 * L_PTE_XN.  The oracle's walk of the real armmp kernel on 256 MiB shows
 * exactly these two lines.  KERNEL: 6.1 arch/arm/mm/dma-mapping.c
 * atomic_pool_init(), __alloc_from_contiguous(), __dma_remap(),
 * __dma_update_pte(); arch/arm/include/asm/pgtable.h pgprot_dmacoherent(). */
START_TEST(test_dump_61_atomic_pool_in_lowmem_cma_is_bufferable)
{
    struct mm_machine *m =
        t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+256M", "cpus=1", NULL);
    size_t n;
    char **l = report_lines(m, &n);
    size_t i = find_line(l, n, "0xc1200000-0xcf000000         222M PGD KERNEL      RW NX SHD");

    ck_assert_uint_lt(i + 2, n);
    ck_assert_str_eq(l[i + 1], "0xcf000000-0xcf040000         256K PTE KERNEL      RW NX SHD "
                               "MEM/BUFFERABLE/WC");
    ck_assert_str_eq(l[i + 2], "0xcf040000-0xd0000000       16128K PTE KERNEL      RW NX SHD "
                               "MEM/CACHED/WBWA");
    free(l[0]);
    free(l);
    t_check(m);
    mm_destroy(m);
}
END_TEST

Suite *pgtable_suite(void)
{
    Suite *s = suite_create("pgtable");
    TCase *tc = tcase_create("types");

    tcase_add_test(tc, test_section_prot_smp);
    tcase_add_test(tc, test_section_prot_up);
    tcase_add_test(tc, test_mk_pte_kernel_smp);
    tcase_add_test(tc, test_mk_pte_device_and_vectors);
    tcase_add_test(tc, test_mk_pte_up);
    tcase_add_test(tc, test_dump_one_cpu_smp_build_61);
    tcase_add_test(tc, test_dump_61_format);
    suite_add_tcase(s, tc);

    tc = tcase_create("boot");
    tcase_add_test(tc, test_boot_first_lowmem_section);
    tcase_add_test(tc, test_boot_last_lowmem_section);
    tcase_add_test(tc, test_boot_bank_hole_empty);
    tcase_add_test(tc, test_boot_vectors_table_domain_user);
    tcase_add_test(tc, test_boot_vectors_table_domain_vectors_4x);
    tcase_add_test(tc, test_boot_vectors_pte);
    tcase_add_test(tc, test_boot_pkmap_table);
    tcase_add_test(tc, test_boot_user_space_empty);
    tcase_add_test(tc, test_boot_check_clean);
    tcase_add_test(tc, test_boot_check_clean_presets);
    tcase_add_test(tc, test_boot_lowmem_nx_split_4x);
    tcase_add_test(tc, test_boot_lowmem_all_rwx_3x);
    suite_add_tcase(s, tc);

    tc = tcase_create("pte");
    tcase_add_test(tc, test_set_pte_writes_both_copies);
    tcase_add_test(tc, test_set_pte_second_half);
    tcase_add_test(tc, test_set_pte_old_is_hw_zero);
    tcase_add_test(tc, test_set_pte_clean_is_apx);
    tcase_add_test(tc, test_pte_clear);
    tcase_add_test(tc, test_pte_get_without_table);
    tcase_add_test(tc, test_flush_counts_only);
    tcase_add_test(tc, test_pte_alloc_installs_kernel_table);
    tcase_add_test(tc, test_pte_alloc_existing_is_noop);
    tcase_add_test(tc, test_pte_alloc_no_memory_changes_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("map");
    tcase_add_test(tc, test_map_memory_pages_device);
    tcase_add_test(tc, test_map_memory_pages_lowmem_type);
    tcase_add_test(tc, test_map_memory_odd_section);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_test(tc, test_check_flags_section_outside_lowmem);
    tcase_add_test(tc, test_check_flags_section_not_va);
    tcase_add_test(tc, test_check_accepts_ioremap_sections);
    tcase_add_test(tc, test_check_flags_bad_hw_pte);
    tcase_add_test(tc, test_check_flags_broken_pair);
    tcase_add_test(tc, test_check_flags_pte_page_count);
    tcase_add_test(tc, test_check_flags_foreign_pte_page);
    suite_add_tcase(s, tc);

    tc = tcase_create("dump");
    tcase_add_test(tc, test_dump_starts_with_modules);
    tcase_add_test(tc, test_dump_markers_in_order);
    tcase_add_test(tc, test_dump_vectors_and_lowmem_end);
    tcase_add_test(tc, test_dump_kmap_page);
    tcase_add_test(tc, test_dump_61_atomic_pool_in_lowmem_cma_is_bufferable);
    suite_add_tcase(s, tc);
    return s;
}
