/* tests/engine/test_layout.c - eras and mm__layout_compute().
 *
 * Expected values are the kernel's arithmetic (docs/kernel.md sections 1
 * and 2), worked out by hand in each test's comment.
 */
#include "check_engine.h"

#include <string.h>

/* The layout of a preset (or the defaults) with "key=value" overrides. */
static void layout_of(struct mm_layout *lay, const char *preset, ...)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX];
    const char *kv;
    va_list ap;

    mm_config_default(&cfg);
    if (preset != NULL)
        ck_assert_int_eq(mm_config_preset(&cfg, preset, err), MM_OK);
    va_start(ap, preset);
    while ((kv = va_arg(ap, const char *)) != NULL) {
        char key[64];
        const char *eq = strchr(kv, '=');

        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        ck_assert_msg(mm_config_set(&cfg, key, eq + 1, err) == MM_OK, "%s", err);
    }
    va_end(ap);
    ck_assert_msg(mm_config_validate(&cfg, err) == MM_OK, "%s", err);
    ck_assert_msg(mm__layout_compute(&cfg, lay, err) == MM_OK, "%s", err);
}

/* ---- the era table ---- */

START_TEST(test_era_range_ends)
{
    ck_assert_ptr_null(mm__era_for(MM_KVER(2, 6, 34)));
    ck_assert_ptr_nonnull(mm__era_for(MM_KVER(2, 6, 35)));
    ck_assert_ptr_nonnull(mm__era_for(MM_KVER(6, 1, 255)));
    ck_assert_ptr_null(mm__era_for(MM_KVER(6, 2, 0)));
}
END_TEST

/* KERNEL: "mm: stack based kmap_atomic()" went into 2.6.37 */
START_TEST(test_era_atomic_style_boundaries)
{
    ck_assert_int_eq(mm__era_for(MM_KVER(2, 6, 36))->atomic_default, MM_ATOMIC_KM_TYPE);
    ck_assert_int_eq(mm__era_for(MM_KVER(2, 6, 37))->atomic_default, MM_ATOMIC_STACK);
    ck_assert_int_eq(mm__era_for(MM_KVER(5, 10, 255))->atomic_default, MM_ATOMIC_STACK);
    ck_assert_int_eq(mm__era_for(MM_KVER(5, 11, 0))->atomic_default, MM_ATOMIC_LOCAL);
}
END_TEST

START_TEST(test_era_vmalloc_end_boundaries)
{
    ck_assert_uint_eq(mm__era_for(MM_KVER(3, 3, 255))->vmalloc_end, 0);
    ck_assert_uint_eq(mm__era_for(MM_KVER(3, 3, 255))->vmalloc_reserve, 128u << 20);
    ck_assert_uint_eq(mm__era_for(MM_KVER(3, 4, 0))->vmalloc_end, 0xff000000u);
    ck_assert_uint_eq(mm__era_for(MM_KVER(3, 4, 0))->vmalloc_reserve, 240u << 20);
    ck_assert_uint_eq(mm__era_for(MM_KVER(4, 3, 0))->vmalloc_end, 0xff000000u);
    ck_assert_uint_eq(mm__era_for(MM_KVER(4, 4, 0))->vmalloc_end, 0xff800000u);
}
END_TEST

START_TEST(test_era_fixmap_per_version)
{
    const struct mm_era *e34 = mm__era_for(MM_KVER(3, 4, 0));
    const struct mm_era *e318 = mm__era_for(MM_KVER(3, 18, 30));
    const struct mm_era *e41 = mm__era_for(MM_KVER(4, 1, 5));
    const struct mm_era *e419 = mm__era_for(MM_KVER(4, 19, 0));
    const struct mm_era *e61 = mm__era_for(MM_KVER(6, 1, 0));

    ck_assert_uint_eq(e34->fixaddr_start, 0xfff00000u);
    ck_assert_uint_eq(e34->fixaddr_end, 0xfffe0000u);
    ck_assert_uint_eq(e34->fix_kmap_slots, 224);
    ck_assert_uint_eq(e318->fixaddr_start, 0xffc00000u);
    ck_assert_uint_eq(e318->fixaddr_end, 0xffe00000u);
    ck_assert_uint_eq(e318->fix_kmap_top, 0);
    ck_assert_uint_eq(e41->fixaddr_end, 0xfff00000u);
    ck_assert_uint_eq(e41->fix_kmap_top, 0xffeff000u);
    ck_assert_uint_eq(e41->fix_kmap_begin, 0);
    ck_assert_uint_eq(e419->fix_kmap_begin, 1);
    ck_assert_uint_eq(e61->fixaddr_start, 0xffc80000u);
}
END_TEST

START_TEST(test_era_report_forms)
{
    ck_assert_int_eq(mm__era_for(MM_KVER(2, 6, 35))->memory_fmt, 1);
    ck_assert_int_eq(mm__era_for(MM_KVER(2, 6, 36))->memory_fmt, 2);
    ck_assert_int_eq(mm__era_for(MM_KVER(3, 12, 0))->memory_fmt, 2);
    ck_assert_int_eq(mm__era_for(MM_KVER(3, 13, 0))->memory_fmt, 3);
    ck_assert_int_eq(mm__era_for(MM_KVER(2, 6, 39))->layout_fmt, 1);
    ck_assert_int_eq(mm__era_for(MM_KVER(3, 0, 0))->layout_fmt, 2);
    ck_assert_int_eq(mm__era_for(MM_KVER(4, 15, 0))->layout_fmt, 3);
    ck_assert_int_eq(mm__era_for(MM_KVER(5, 0, 255))->layout_fmt, 3);
    ck_assert_int_eq(mm__era_for(MM_KVER(5, 1, 0))->layout_fmt, 0);
}
END_TEST

/* ---- aries (docs/kernel.md section 8) ---- */

START_TEST(test_aries_cut_and_lowmem)
{
    struct mm_layout lay;

    layout_of(&lay, "aries", NULL);
    ck_assert_uint_eq(lay.page_offset, 0xc0000000u);
    ck_assert_uint_eq(lay.phys_offset, 0x80200000u);
    ck_assert_uint_eq(lay.vmalloc_min, 0xef800000u);    /* 0xff000000 - 240M - 8M */
    ck_assert_uint_eq(lay.lowmem_limit, 0xafa00000u);
    ck_assert_uint_eq(lay.high_memory, 0xef800000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xf0000000u);
    ck_assert_uint_eq(lay.vmalloc_end, 0xff000000u);
    ck_assert_uint_eq(lay.min_pfn, 0x80200);
    ck_assert_uint_eq(lay.max_low_pfn, 0xafa00);
    ck_assert_uint_eq(lay.max_pfn, 0xff2ff);
    ck_assert_uint_eq(lay.dma_end_pfn, 0x80200);
}
END_TEST

START_TEST(test_aries_regions_merge_across_cut)
{
    struct mm_layout lay;

    layout_of(&lay, "aries", NULL);
    /* The bank split at 0xafa00000 is one memblock region again. */
    ck_assert_uint_eq(lay.nr_regions, 7);
    ck_assert_uint_eq(lay.regions[6].start, 0xa5900000u);
    ck_assert_uint_eq(lay.regions[6].end, 0xff2ff000u);
    ck_assert(!lay.regions[6].highmem);
    ck_assert(!lay.regions[0].highmem);
}
END_TEST

START_TEST(test_aries_fixed_areas)
{
    struct mm_layout lay;

    layout_of(&lay, "aries", NULL);
    ck_assert_uint_eq(lay.task_size, 0xbf000000u);
    ck_assert_uint_eq(lay.modules_vaddr, 0xbf000000u);
    ck_assert_uint_eq(lay.modules_end, 0xbfe00000u);
    ck_assert_uint_eq(lay.pkmap_base, 0xbfe00000u);
    ck_assert_uint_eq(lay.fixaddr_start, 0xfff00000u);
    ck_assert_uint_eq(lay.fixaddr_end, 0xfffe0000u);
    ck_assert_uint_eq(lay.vectors_base, 0xffff0000u);
    ck_assert_uint_eq(lay.timers_base, 0xfffef000u);
    ck_assert_uint_eq(lay.consistent_start, 0);
    ck_assert_uint_eq(lay.pgd_pa, 0x80204000u);
    ck_assert_uint_eq(lay.km_type_nr, 16);
    ck_assert_int_eq(lay.atomic, MM_ATOMIC_STACK);
}
END_TEST

START_TEST(test_aries_sections_as_given)
{
    struct mm_layout lay;

    layout_of(&lay, "aries", NULL);
    ck_assert_uint_eq(lay.text.start, 0xc0008000u);
    ck_assert_uint_eq(lay.text.end, 0xc0e07f80u);
    ck_assert_uint_eq(lay.init.start, 0xc0f00000u);
    ck_assert_uint_eq(lay.init.end, 0xc101df40u);
    ck_assert_uint_eq(lay.data.start, 0xc101e000u);
    ck_assert_uint_eq(lay.data.end, 0xc121aac0u);
    ck_assert_uint_eq(lay.bss.start, 0xc121aae4u);
    ck_assert_uint_eq(lay.bss.end, 0xc1a4e2e4u);
}
END_TEST

/* ---- vmalloc= ---- */

/* KERNEL: 3.4 early_vmalloc(): vmalloc=240M gives vmalloc_min 0xf0000000
 * (no VMALLOC_OFFSET): 768 MB lowmem, VMALLOC_START 0xf0800000, 232 MB. */
START_TEST(test_34_vmalloc_240m_quirk)
{
    struct mm_layout lay;

    layout_of(&lay, "aries", "vmalloc=240M", NULL);
    ck_assert_uint_eq(lay.vmalloc_min, 0xf0000000u);
    ck_assert_uint_eq(lay.high_memory, 0xf0000000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xf0800000u);
    ck_assert_uint_eq((lay.high_memory - lay.page_offset) >> 20, 768);
    ck_assert_uint_eq((lay.vmalloc_end - lay.vmalloc_start) >> 20, 232);
}
END_TEST

/* vmalloc=1M is raised to 16M: cut 0xfe000000, lowmem 992 MB of 1 GiB. */
START_TEST(test_vmalloc_too_small_clamped_to_16m)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x80000000+2G", "vmalloc=1M", NULL);
    ck_assert_uint_eq(lay.vmalloc_min, 0xfe000000u);
    ck_assert_uint_eq(lay.high_memory, 0xfe000000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xfe800000u);
    ck_assert_uint_eq(lay.lowmem_limit, 0xbe000000u);
}
END_TEST

/* vmalloc=16M exactly is kept. */
START_TEST(test_vmalloc_16m_boundary_kept)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x80000000+2G", "vmalloc=16M", NULL);
    ck_assert_uint_eq(lay.vmalloc_min, 0xfe000000u);
}
END_TEST

/* vmalloc=1G is cut to VMALLOC_END - (PAGE_OFFSET + 32M) = 976 MB: lowmem
 * keeps 32 MB. */
START_TEST(test_vmalloc_too_large_clamped)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "vmalloc=1G", "text=4M", "init=64K", "data=64K", "bss=64K",
              NULL);
    ck_assert_uint_eq(lay.vmalloc_min, 0xc2000000u);
    ck_assert_uint_eq(lay.high_memory, 0xc2000000u);
    ck_assert_uint_eq(lay.lowmem_limit, 0x42000000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xc2800000u);
}
END_TEST

/* 4.4 (VMALLOC_END 0xff800000): the aries RAM gives 768 MB lowmem. */
START_TEST(test_44_aries_ram_768m_lowmem)
{
    struct mm_layout lay;

    layout_of(&lay, "aries", "kernel=4.4", "user_timers=off", NULL);
    ck_assert_uint_eq(lay.vmalloc_min, 0xf0000000u);
    ck_assert_uint_eq(lay.high_memory, 0xf0000000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xf0800000u);
    ck_assert_uint_eq(lay.vmalloc_end, 0xff800000u);
    ck_assert_uint_eq((lay.high_memory - lay.page_offset) >> 20, 768);
}
END_TEST

/* 6.1: vmalloc= also subtracts VMALLOC_OFFSET; 4.4 does not. */
START_TEST(test_61_vmalloc_param_subtracts_offset)
{
    struct mm_layout l44, l61;

    layout_of(&l44, "aries", "kernel=4.4", "vmalloc=256M", NULL);
    layout_of(&l61, "aries", "kernel=6.1", "vmalloc=256M", NULL);
    ck_assert_uint_eq(l44.vmalloc_min, 0xef800000u);
    ck_assert_uint_eq(l61.vmalloc_min, 0xef000000u);
    ck_assert_uint_eq(l61.vmalloc_start, 0xef800000u);
}
END_TEST

/* 6.1 upper clamp: VMALLOC_END - (PAGE_OFFSET + 32M + 8M). */
START_TEST(test_61_vmalloc_too_large_clamped)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "kernel=6.1", "vmalloc=2G", "text=4M", "init=64K", "data=64K",
              "bss=64K", NULL);
    ck_assert_uint_eq(lay.vmalloc_min, 0xc2000000u);
}
END_TEST

/* ---- splits ---- */

/* 2G/2G: cut 0xef800000 is PA 0xef800000 for 2 GiB at 0x80000000;
 * 0x6f800000 (1784 MB) of lowmem, the rest high. */
START_TEST(test_split_2g_boundary)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x80000000+2G", "split=2G", NULL);
    ck_assert_uint_eq(lay.page_offset, 0x80000000u);
    ck_assert_uint_eq(lay.task_size, 0x7f000000u);
    ck_assert_uint_eq(lay.pkmap_base, 0x7fe00000u);
    ck_assert_uint_eq(lay.lowmem_limit, 0xef800000u);
    ck_assert_uint_eq(lay.high_memory, 0xef800000u);
    ck_assert_uint_eq(lay.max_pfn, 0x100000);
}
END_TEST

/* 1G/3G: 2 GiB at 0x80000000 is all lowmem (cut PA 0x12f800000). */
START_TEST(test_split_1g_all_lowmem)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x80000000+2G", "split=1G", NULL);
    ck_assert_uint_eq(lay.page_offset, 0x40000000u);
    ck_assert_uint_eq(lay.modules_vaddr, 0x3f000000u);
    ck_assert_uint_eq(lay.lowmem_limit, 0x100000000ull);
    ck_assert_uint_eq(lay.high_memory, 0xc0000000u);
    ck_assert_uint_eq(lay.max_low_pfn, lay.max_pfn);
}
END_TEST

/* 3G_OPT (4.4+): 1 GiB at 0x40000000 maps entirely: lowmem ends at the
 * cut 0xf0000000 exactly. */
START_TEST(test_split_3g_opt_full_1g)
{
    struct mm_layout lay;

    layout_of(&lay, "qemu-virt", "split=3G_OPT", NULL);
    ck_assert_uint_eq(lay.page_offset, 0xb0000000u);
    ck_assert_uint_eq(lay.high_memory, 0xf0000000u);
    ck_assert_uint_eq(lay.lowmem_limit, 0x80000000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xf0800000u);
    ck_assert_uint_eq(lay.nr_regions, 1);
    ck_assert_uint_eq(lay.max_low_pfn, lay.max_pfn);
}
END_TEST

/* 3G on 3.4 with 1 GiB at 0x40000000: 760 MB low, 264 MB high. */
START_TEST(test_split_3g_default_machine)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, NULL);
    ck_assert_uint_eq(lay.lowmem_limit, 0x6f800000u);
    ck_assert_uint_eq(lay.max_pfn, 0x80000);
    ck_assert_uint_eq(lay.nr_regions, 1);
}
END_TEST

/* ---- banks ---- */

START_TEST(test_ram_below_cut_no_highmem)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x80000000+512M", NULL);
    ck_assert_uint_eq(lay.lowmem_limit, 0xa0000000u);
    ck_assert_uint_eq(lay.high_memory, 0xe0000000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xe0800000u);
    ck_assert_uint_eq(lay.max_low_pfn, lay.max_pfn);
}
END_TEST

/* A bank ending exactly at the cut: nothing is high. */
START_TEST(test_bank_ending_at_cut)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x40000000+760M", NULL);
    ck_assert_uint_eq(lay.lowmem_limit, 0x6f800000u);
    ck_assert_uint_eq(lay.max_pfn, 0x6f800);
    ck_assert_uint_eq(lay.high_memory, 0xef800000u);
}
END_TEST

/* A bank starting exactly at the cut is wholly highmem. */
START_TEST(test_bank_starting_at_cut_is_high)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x40000000+512M,0x6f800000+64M", NULL);
    ck_assert_uint_eq(lay.lowmem_limit, 0x60000000u);
    ck_assert_uint_eq(lay.high_memory, 0xe0000000u);
    ck_assert_uint_eq(lay.nr_regions, 2);
    ck_assert(lay.regions[1].highmem);
}
END_TEST

START_TEST(test_banks_sorted_phys_offset_lowest)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x50000000+256M,0x40000000+256M", NULL);
    ck_assert_uint_eq(lay.phys_offset, 0x40000000u);
    ck_assert_uint_eq(lay.nr_regions, 1);            /* adjacent: merged */
    ck_assert_uint_eq(lay.regions[0].end, 0x60000000u);
}
END_TEST

/* Without HIGHMEM the RAM above the cut is dropped ("Truncating RAM"). */
START_TEST(test_no_highmem_truncates)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "highmem=off", NULL);
    ck_assert_uint_eq(lay.nr_regions, 1);
    ck_assert_uint_eq(lay.regions[0].end, 0x6f800000u);
    ck_assert_uint_eq(lay.max_pfn, 0x6f800);
    ck_assert_uint_eq(lay.pkmap_base, 0);
    ck_assert_uint_eq(lay.modules_end, 0xc0000000u);
}
END_TEST

START_TEST(test_no_highmem_drops_high_banks)
{
    struct mm_layout lay;

    layout_of(&lay, "aries", "highmem=off", NULL);
    ck_assert_uint_eq(lay.nr_regions, 7);
    ck_assert_uint_eq(lay.regions[6].start, 0xa5900000u);
    ck_assert_uint_eq(lay.regions[6].end, 0xafa00000u);
    ck_assert_uint_eq(lay.max_pfn, 0xafa00);
}
END_TEST

/* KERNEL: 3.4 sanity_check_meminfo(): with 8 banks there is no room to
 * split, "NR_BANKS too low, ignoring high memory". */
START_TEST(test_34_eight_banks_high_part_ignored)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x40000000+1M,0x40200000+1M,0x40400000+1M,0x40600000+1M,"
              "0x40800000+1M,0x40a00000+1M,0x40c00000+4M,0x41000000+1G", "text=512K",
              "init=64K", "data=64K", "bss=64K", NULL);
    ck_assert_uint_eq(lay.lowmem_limit, 0x6f800000u);
    ck_assert_uint_eq(lay.max_pfn, 0x6f800);
}
END_TEST

/* From 3.16 (memblock, no NR_BANKS) the same RAM keeps its highmem. */
START_TEST(test_316_eight_banks_keep_highmem)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "kernel=3.16", "ram=0x40000000+1M,0x40200000+1M,0x40400000+1M,"
              "0x40600000+1M,0x40800000+1M,0x40a00000+1M,0x40c00000+4M,0x41000000+1G",
              "text=512K", "init=64K", "data=64K", "bss=64K", NULL);
    ck_assert_uint_eq(lay.lowmem_limit, 0x6f800000u);
    ck_assert_uint_eq(lay.max_pfn, 0x81000);
}
END_TEST

/* Holes below the cut do not move it: lowmem ends at the last low bank. */
START_TEST(test_hole_does_not_move_cut)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "ram=0x40000000+64M,0x50000000+64M", NULL);
    ck_assert_uint_eq(lay.lowmem_limit, 0x54000000u);
    ck_assert_uint_eq(lay.high_memory, 0xd4000000u);
    ck_assert_uint_eq(lay.nr_regions, 2);
}
END_TEST

/* ---- 2.6.35 ---- */

/* VMALLOC_MIN = VMALLOC_END - 128M, no offset: Kirkwood's 0xfe800000
 * gives 0xf6800000 and 872 MB of lowmem; meminfo banks are not merged. */
START_TEST(test_2635_cut_and_split_banks)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "kernel=2.6.35", "vmalloc_end=0xfe800000", NULL);
    ck_assert_uint_eq(lay.vmalloc_min, 0xf6800000u);
    ck_assert_uint_eq(lay.lowmem_limit, 0x76800000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xf7000000u);
    ck_assert_uint_eq(lay.nr_regions, 2);
    ck_assert_uint_eq(lay.regions[0].end, 0x76800000u);
    ck_assert(lay.regions[1].highmem);
    ck_assert_int_eq(lay.atomic, MM_ATOMIC_KM_TYPE);
}
END_TEST

START_TEST(test_2636_merges_split_bank)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "kernel=2.6.36", "vmalloc_end=0xfe800000", NULL);
    ck_assert_uint_eq(lay.nr_regions, 1);
    ck_assert_uint_eq(lay.lowmem_limit, 0x76800000u);
}
END_TEST

/* .init first up to 2.6.39, then .text, .data on 8 KiB, .bss on 4. */
START_TEST(test_2635_sections_init_first)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "kernel=2.6.35", "vmalloc_end=0xfe800000", "init=0x11000",
              "text=0x300800", "data=0x1000", NULL);
    ck_assert_uint_eq(lay.init.start, 0xc0008000u);
    ck_assert_uint_eq(lay.text.start, 0xc0019000u);
    ck_assert_uint_eq(lay.data.start, 0xc031a000u);
    ck_assert_uint_eq(lay.bss.start, 0xc031b000u);
}
END_TEST

START_TEST(test_34_default_section_placement)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "text=0x300800", "init=0x1234", "data=0x100", NULL);
    ck_assert_uint_eq(lay.text.start, 0xc0008000u);
    ck_assert_uint_eq(lay.text.end, 0xc0308800u);
    ck_assert_uint_eq(lay.init.start, 0xc0309000u);
    ck_assert_uint_eq(lay.data.start, 0xc030c000u);
    ck_assert_uint_eq(lay.bss.start, 0xc030c100u);
}
END_TEST

/* ---- switches ---- */

START_TEST(test_thumb2_module_area_8m)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "thumb2=on", NULL);
    ck_assert_uint_eq(lay.modules_vaddr, 0xbf800000u);
    ck_assert_uint_eq(lay.modules_end, 0xbfe00000u);
}
END_TEST

/* KERNEL: 3.4 init_consistent_dma_size(): 2 MiB grain below 0xffe00000. */
START_TEST(test_consistent_window_34)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "consistent_dma=14M", NULL);
    ck_assert_uint_eq(lay.consistent_start, 0xff000000u);
    ck_assert_uint_eq(lay.consistent_end, 0xffe00000u);
    layout_of(&lay, NULL, "consistent_dma=3M", NULL);
    ck_assert_uint_eq(lay.consistent_start, 0xffa00000u);
}
END_TEST

START_TEST(test_dma_zone_end)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "dma_zone=256M", NULL);
    ck_assert_uint_eq(lay.dma_end_pfn, 0x50000);
    layout_of(&lay, NULL, "dma_zone=2G", NULL);
    ck_assert_uint_eq(lay.dma_end_pfn, lay.max_low_pfn);
}
END_TEST

START_TEST(test_atomic_explicit_and_61_fixmap)
{
    struct mm_layout lay;

    layout_of(&lay, NULL, "atomic=km_type", NULL);
    ck_assert_int_eq(lay.atomic, MM_ATOMIC_KM_TYPE);
    layout_of(&lay, "qemu-virt", "kernel=6.1", NULL);
    ck_assert_int_eq(lay.atomic, MM_ATOMIC_LOCAL);
    ck_assert_uint_eq(lay.fixaddr_start, 0xffc80000u);
    ck_assert_uint_eq(lay.fixaddr_end, 0xfff00000u);
}
END_TEST

START_TEST(test_presets_layouts)
{
    struct mm_layout lay;

    layout_of(&lay, "rpi2", NULL);
    ck_assert_uint_eq(lay.page_offset, 0x80000000u);
    ck_assert_uint_eq(lay.high_memory, 0xbb000000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xbb800000u);
    ck_assert_uint_eq(lay.pkmap_base, 0);
    layout_of(&lay, "beaglebone-black", NULL);
    ck_assert_uint_eq(lay.high_memory, 0xdfe00000u);
    ck_assert_uint_eq(lay.vmalloc_start, 0xe0000000u);
    ck_assert_uint_eq(lay.max_low_pfn, lay.max_pfn);
}
END_TEST

Suite *layout_suite(void)
{
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("layout");

    tcase_add_test(tc, test_era_range_ends);
    tcase_add_test(tc, test_era_atomic_style_boundaries);
    tcase_add_test(tc, test_era_vmalloc_end_boundaries);
    tcase_add_test(tc, test_era_fixmap_per_version);
    tcase_add_test(tc, test_era_report_forms);
    tcase_add_test(tc, test_aries_cut_and_lowmem);
    tcase_add_test(tc, test_aries_regions_merge_across_cut);
    tcase_add_test(tc, test_aries_fixed_areas);
    tcase_add_test(tc, test_aries_sections_as_given);
    tcase_add_test(tc, test_34_vmalloc_240m_quirk);
    tcase_add_test(tc, test_vmalloc_too_small_clamped_to_16m);
    tcase_add_test(tc, test_vmalloc_16m_boundary_kept);
    tcase_add_test(tc, test_vmalloc_too_large_clamped);
    tcase_add_test(tc, test_44_aries_ram_768m_lowmem);
    tcase_add_test(tc, test_61_vmalloc_param_subtracts_offset);
    tcase_add_test(tc, test_61_vmalloc_too_large_clamped);
    tcase_add_test(tc, test_split_2g_boundary);
    tcase_add_test(tc, test_split_1g_all_lowmem);
    tcase_add_test(tc, test_split_3g_opt_full_1g);
    tcase_add_test(tc, test_split_3g_default_machine);
    tcase_add_test(tc, test_ram_below_cut_no_highmem);
    tcase_add_test(tc, test_bank_ending_at_cut);
    tcase_add_test(tc, test_bank_starting_at_cut_is_high);
    tcase_add_test(tc, test_banks_sorted_phys_offset_lowest);
    tcase_add_test(tc, test_no_highmem_truncates);
    tcase_add_test(tc, test_no_highmem_drops_high_banks);
    tcase_add_test(tc, test_34_eight_banks_high_part_ignored);
    tcase_add_test(tc, test_316_eight_banks_keep_highmem);
    tcase_add_test(tc, test_hole_does_not_move_cut);
    tcase_add_test(tc, test_2635_cut_and_split_banks);
    tcase_add_test(tc, test_2636_merges_split_bank);
    tcase_add_test(tc, test_2635_sections_init_first);
    tcase_add_test(tc, test_34_default_section_placement);
    tcase_add_test(tc, test_thumb2_module_area_8m);
    tcase_add_test(tc, test_consistent_window_34);
    tcase_add_test(tc, test_dma_zone_end);
    tcase_add_test(tc, test_atomic_explicit_and_61_fixmap);
    tcase_add_test(tc, test_presets_layouts);
    suite_add_tcase(s, tc);
    return s;
}
