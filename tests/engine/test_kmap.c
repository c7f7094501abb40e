/* tests/engine/test_kmap.c - kmap()/kunmap() through the pkmap window.
 *
 * Most tests run on aries (3.4, PAGE_OFFSET 0xc0000000, PHYS_OFFSET
 * 0x80200000, highmem from pfn 0xafa00): PKMAP_BASE 0xbfe00000, slot n at
 * 0xbfe00000 + n * 0x1000.  KERNEL: 3.4 mm/highmem.c (the pkmap_count,
 * last_pkmap_nr, map_new_virtual and flush_all_zero_pkmaps facts each test
 * names), arch/arm/include/asm/highmem.h PKMAP_BASE, LAST_PKMAP.
 */
#include "check_engine.h"

#include <stdlib.h>
#include <string.h>

#define HI0         0xafa00u            /* aries: the first highmem pfn */
#define PKMAP(n)    (0xbfe00000u + (uint32_t)(n) * 0x1000u)

static struct mm_machine *aries(void)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(m->lay.max_low_pfn, HI0);
    ck_assert_uint_eq(m->lay.pkmap_base, 0xbfe00000);
    return m;
}

/* kmap that must succeed; returns the VA. */
static uint32_t kmap_ok(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *r)
{
    ck_assert_msg(mm_kmap(m, pfn, r) == MM_OK, "kmap 0x%x: %s", pfn, r->msg);
    return r->value;
}

/* The physical address @va translates to; fails the test on a fault. */
static uint32_t pa_of(const struct mm_machine *m, mm_vaddr_t va)
{
    struct mm_walk w;

    ck_assert_msg(mm_translate(m, va, 0, &w) == MM_OK, "0x%08x does not translate", va);
    return w.pa;
}

static bool faults(const struct mm_machine *m, mm_vaddr_t va)
{
    struct mm_walk w;

    return mm_translate(m, va, 0, &w) == MM_FAULT;
}

/* Fills slots 1..511 then 0 with pfns HI0 + 100 .. HI0 + 611. */
static void fill_window(struct mm_machine *m)
{
    struct mm_result r;

    for (unsigned i = 0; i < 512; i++)
        kmap_ok(m, HI0 + 100 + i, &r);
}

START_TEST(test_kmap_first_highmem_page_gets_slot_1)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    /* KERNEL: 3.4 mm/highmem.c map_new_virtual(): last_pkmap_nr starts at 0
     * and is incremented before use */
    ck_assert_int_eq(mm_kmap(m, HI0, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000);
    ck_assert_uint_eq(r.aux, 0);
    ck_assert_uint_eq(r.flags, 0);
    ck_assert_uint_eq(r.seq, 1);
    ck_assert_uint_eq(pa_of(m, 0xbfe01000), 0xafa00000);
    ck_assert_uint_eq(pa_of(m, 0xbfe01abc), 0xafa00abc);
    ck_assert_str_eq(mm_region_name(m, 0xbfe01000), "pkmap");
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_lowmem_page_is_direct_map)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    struct mm_stats st;

    /* KERNEL: 3.4 arch/arm/mm/highmem.c kmap(): !PageHighMem -> page_address */
    ck_assert_int_eq(mm_kmap(m, 0x80205, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xc0005000);
    ck_assert_int_eq(mm_kmap(m, HI0 - 1, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xef7ff000);
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.pkmap_in_use, 0);
    /* No slot was taken: the first highmem kmap still gets slot 1. */
    ck_assert_uint_eq(kmap_ok(m, HI0, &r), 0xbfe01000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_pfn_not_ram)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    ck_assert_int_eq(mm_kmap(m, 0x10, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap: pfn 0x10 is not RAM");
    ck_assert_int_eq(mm_kmap(m, 0x88e00, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap: pfn 0x88e00 is not RAM");
    ck_assert_uint_eq(mm_seq(m), 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_same_page_shares_slot)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    struct mm_stats st;
    uint32_t tlb;
    char *rep;

    kmap_ok(m, HI0, &r);
    mm_get_stats(m, &st);
    tlb = st.tlb_flushes;
    /* KERNEL: 3.4 mm/highmem.c kmap_high(): page_address() hit, count++ */
    ck_assert_uint_eq(kmap_ok(m, HI0, &r), 0xbfe01000);
    ck_assert_uint_eq(r.aux, 0);
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.pkmap_in_use, 1);
    ck_assert_uint_eq(st.tlb_flushes, tlb);
    ck_assert_uint_eq(kmap_ok(m, HI0 + 1, &r), 0xbfe02000);
    rep = t_report(m, MM_REPORT_PKMAP);
    ck_assert_str_eq(rep,
                     "pkmap: 0xbfe00000-0xc0000000, 512 slots, last_pkmap_nr 2, 2 in use, "
                     "0 unused (awaiting flush), 0 flushes\n"
                     "slot  address     count  users  pfn\n"
                     "   1  0xbfe01000      3      2  0xafa00\n"
                     "   2  0xbfe02000      2      1  0xafa01\n");
    free(rep);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_512_pages_fill_the_window)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    struct mm_stats st;

    for (unsigned i = 0; i < 511; i++) {
        ck_assert_uint_eq(kmap_ok(m, HI0 + i, &r), PKMAP(i + 1));
        ck_assert_uint_eq(r.flags, 0);
    }
    /* KERNEL: 3.4 mm/highmem.c map_new_virtual(): (511 + 1) & LAST_PKMAP_MASK
     * wraps to slot 0; flush_all_zero_pkmaps() finds no count-1 slot */
    ck_assert_uint_eq(kmap_ok(m, HI0 + 511, &r), 0xbfe00000);
    ck_assert_uint_eq(r.aux, 0);
    ck_assert_uint_eq(r.flags, 0);
    ck_assert_uint_eq(pa_of(m, 0xbfe00000), 0xafbff000);
    ck_assert_uint_eq(pa_of(m, 0xbffff000), 0xafbfe000);
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.pkmap_in_use, 512);
    ck_assert_uint_eq(st.pkmap_flushes, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_513th_page_would_block_and_changes_nothing)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    struct mm_stats before, after;
    char *rep_before, *rep_after;
    char err[MM_MSG_MAX];

    fill_window(m);
    mm_get_stats(m, &before);
    rep_before = t_report(m, MM_REPORT_PKMAP);
    /* KERNEL: 3.4 mm/highmem.c map_new_virtual(): all counts >= 2 -> sleep */
    ck_assert_int_eq(mm_kmap(m, HI0 + 1000, &r), MM_WOULD_BLOCK);
    ck_assert_str_eq(r.msg, "kmap: all 512 pkmap slots are in use (the kernel would sleep)");
    ck_assert_uint_eq(r.seq, 0);
    ck_assert_uint_eq(r.value, 0);
    mm_get_stats(m, &after);
    rep_after = t_report(m, MM_REPORT_PKMAP);
    /* last_pkmap_nr (in the header) and every count are unchanged. */
    ck_assert_str_eq(rep_before, rep_after);
    ck_assert(strstr(rep_after, "last_pkmap_nr 0, 512 in use") != NULL);
    ck_assert_uint_eq(after.seq, before.seq);
    ck_assert_uint_eq(after.tlb_flushes, before.tlb_flushes);
    ck_assert_uint_eq(after.pkmap_flushes, before.pkmap_flushes);
    ck_assert_int_eq(mm__pkmap_check(m, err), MM_OK);
    /* A page that is already mapped still gets its slot. */
    ck_assert_uint_eq(kmap_ok(m, HI0 + 100, &r), 0xbfe01000);
    free(rep_before);
    free(rep_after);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_after_kunmap_wakes_and_retry_flushes)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    fill_window(m);
    /* Slot 5 holds HI0 + 104. */
    ck_assert_int_eq(mm_kunmap(m, HI0 + 104, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbfe05000);
    ck_assert_uint_eq(r.flags, MM_RES_WAKE);
    /* The retry wraps (last_pkmap_nr was 0), flushes slot 5, takes it. */
    ck_assert_uint_eq(kmap_ok(m, HI0 + 1000, &r), 0xbfe05000);
    ck_assert_uint_eq(r.aux, 1);
    ck_assert_uint_eq(r.flags, MM_RES_FLUSHED);
    ck_assert_uint_eq(pa_of(m, 0xbfe05000), (HI0 + 1000) << 12);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kunmap_keeps_pte_until_flush)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    kmap_ok(m, HI0, &r);
    ck_assert_int_eq(mm_kunmap(m, HI0, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000);
    ck_assert_uint_eq(r.aux, 0);
    ck_assert_uint_eq(r.flags, MM_RES_WAKE);
    /* KERNEL: 3.4 mm/highmem.c kunmap_high(): the PTE is not cleared */
    ck_assert_uint_eq(pa_of(m, 0xbfe01000), 0xafa00000);
    /* Count 1 is unusable until the next flush: a new page takes slot 2. */
    ck_assert_uint_eq(kmap_ok(m, HI0 + 1, &r), 0xbfe02000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_again_before_flush_gets_same_slot)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    kmap_ok(m, HI0, &r);
    ck_assert_int_eq(mm_kunmap(m, HI0, &r), MM_OK);
    /* page_address() still finds the count-1 slot. */
    ck_assert_uint_eq(kmap_ok(m, HI0, &r), 0xbfe01000);
    ck_assert_uint_eq(kmap_ok(m, HI0 + 1, &r), 0xbfe02000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_slot_reused_only_after_wrap_flush)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    struct mm_stats st;

    kmap_ok(m, HI0, &r);                        /* slot 1 */
    ck_assert_int_eq(mm_kunmap(m, HI0, &r), MM_OK);
    for (unsigned i = 2; i < 512; i++)          /* slots 2..511 */
        ck_assert_uint_eq(kmap_ok(m, HI0 + i, &r), PKMAP(i));
    ck_assert_uint_eq(pa_of(m, 0xbfe01000), 0xafa00000);
    /* The wrap to slot 0 flushes slot 1, then slot 0 (free) is taken. */
    ck_assert_uint_eq(kmap_ok(m, HI0 + 600, &r), 0xbfe00000);
    ck_assert_uint_eq(r.aux, 1);
    ck_assert_uint_eq(r.flags, MM_RES_FLUSHED);
    ck_assert(faults(m, 0xbfe01000));
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.pkmap_flushes, 1);
    /* Slot 1 is free again and next in turn. */
    ck_assert_uint_eq(kmap_ok(m, HI0 + 601, &r), 0xbfe01000);
    ck_assert_uint_eq(r.flags, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_flush_clears_unused_slots)
{
    struct mm_machine *m = aries();
    struct mm_op op = {.code = MM_OP_KMAP_FLUSH};
    struct mm_result r;
    struct mm_stats st;
    uint32_t tlb;

    kmap_ok(m, HI0, &r);
    kmap_ok(m, HI0 + 1, &r);
    ck_assert_int_eq(mm_kunmap(m, HI0, &r), MM_OK);
    mm_get_stats(m, &st);
    tlb = st.tlb_flushes;
    /* KERNEL: 3.4 mm/highmem.c kmap_flush_unused() */
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_OK);
    ck_assert_uint_eq(r.value, 1);
    ck_assert_uint_eq(r.aux, 1);
    ck_assert_uint_eq(r.flags, MM_RES_FLUSHED);
    ck_assert(faults(m, 0xbfe01000));
    ck_assert_uint_eq(pa_of(m, 0xbfe02000), 0xafa01000);
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.pkmap_flushes, 1);
    ck_assert_uint_eq(st.tlb_flushes, tlb + 1);
    /* The page lost its address: a new kmap takes the next slot, 3. */
    ck_assert_uint_eq(kmap_ok(m, HI0, &r), 0xbfe03000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_flush_with_nothing_to_clear)
{
    struct mm_machine *m = aries();
    struct mm_op op = {.code = MM_OP_KMAP_FLUSH};
    struct mm_result r;
    struct mm_stats st;

    kmap_ok(m, HI0, &r);
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0);
    ck_assert_uint_eq(r.aux, 0);
    ck_assert_uint_eq(r.flags, 0);
    mm_get_stats(m, &st);
    ck_assert_uint_eq(st.pkmap_flushes, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kunmap_not_mapped_page)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    ck_assert_int_eq(mm_kunmap(m, 0xb0000, &r), MM_NOT_FOUND);
    ck_assert_str_eq(r.msg, "kunmap: pfn 0xb0000 is not mapped by kmap");
    ck_assert_uint_eq(r.seq, 0);
    ck_assert_int_eq(mm_kunmap(m, 0x10, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kunmap: pfn 0x10 is not RAM");
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kunmap_lowmem_page_is_a_no_op)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    /* KERNEL: 3.4 arch/arm/mm/highmem.c kunmap(): !PageHighMem -> return */
    ck_assert_int_eq(mm_kunmap(m, 0x9f000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xdee00000);
    ck_assert_uint_eq(r.aux, 0);
    ck_assert_uint_eq(r.flags, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kunmap_counts_users_down)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    kmap_ok(m, HI0, &r);
    kmap_ok(m, HI0, &r);
    ck_assert_int_eq(mm_kunmap(m, HI0, &r), MM_OK);
    ck_assert_uint_eq(r.aux, 1);
    ck_assert_uint_eq(r.flags, 0);
    ck_assert_int_eq(mm_kunmap(m, HI0, &r), MM_OK);
    ck_assert_uint_eq(r.aux, 0);
    ck_assert_uint_eq(r.flags, MM_RES_WAKE);
    /* KERNEL: 3.4 mm/highmem.c kunmap_high(): count 0 would BUG() */
    ck_assert_int_eq(mm_kunmap(m, HI0, &r), MM_NOT_FOUND);
    ck_assert_str_eq(r.msg, "kunmap: pfn 0xafa00 has no kmap users (pkmap slot 1 at "
                            "0xbfe01000 awaits a flush)");
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_without_highmem_is_direct)
{
    struct mm_machine *m = t_machine("qemu-virt", "highmem=0", NULL);
    struct mm_op op = {.code = MM_OP_KMAP_FLUSH};
    struct mm_result r;
    char *rep;

    ck_assert_uint_eq(m->lay.pkmap_base, 0);
    /* qemu-virt: RAM at 0x40000000 is PAGE_OFFSET 0xc0000000 */
    ck_assert_int_eq(mm_kmap(m, 0x40123, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xc0123000);
    ck_assert_int_eq(mm_kunmap(m, 0x40123, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xc0123000);
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0);
    rep = t_report(m, MM_REPORT_PKMAP);
    ck_assert_str_eq(rep, "pkmap: none (CONFIG_HIGHMEM is not set)\n");
    free(rep);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_kmap_on_6_1)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "highmem=1", NULL);
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;

    /* KERNEL: 6.1 mm/highmem.c get_next_pkmap_nr(): the same cursor */
    ck_assert_uint_eq(m->lay.pkmap_base, 0xbfe00000);
    ck_assert_uint_eq(kmap_ok(m, hi, &r), 0xbfe01000);
    ck_assert_uint_eq(kmap_ok(m, hi + 1, &r), 0xbfe02000);
    ck_assert_uint_eq(pa_of(m, 0xbfe02000), (hi + 1) << 12);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_pkmap_address_and_high_get)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    ck_assert_uint_eq(mm__pkmap_address(m, HI0), 0);
    ck_assert_uint_eq(mm__kmap_high_get(m, HI0), 0);
    kmap_ok(m, HI0, &r);
    ck_assert_uint_eq(mm__pkmap_address(m, HI0), 0xbfe01000);
    /* KERNEL: 3.4 mm/highmem.c kmap_high_get(): count++ */
    ck_assert_uint_eq(mm__kmap_high_get(m, HI0), 0xbfe01000);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(mm__kunmap_high_va(m, 0xbfe01000, &r), MM_OK);
    ck_assert_uint_eq(r.value, HI0);
    ck_assert_uint_eq(r.aux, 1);
    ck_assert_uint_eq(r.flags, 0);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(mm__kunmap_high_va(m, 0xbfe02000, &r), MM_NOT_FOUND);
    ck_assert_str_eq(r.msg, "kunmap_atomic: 0xbfe02000 is not a kmapped address "
                            "(pkmap slot 2 has no mapping)");
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_pkmap_clone_is_independent)
{
    struct mm_machine *m = aries();
    struct mm_machine *c;
    struct mm_result r;

    kmap_ok(m, HI0, &r);
    c = mm_clone(m);
    ck_assert_ptr_nonnull(c);
    kmap_ok(m, HI0 + 1, &r);
    ck_assert_uint_eq(kmap_ok(c, HI0 + 7, &r), 0xbfe02000);
    ck_assert_uint_eq(mm__pkmap_address(c, HI0 + 1), 0);
    ck_assert_uint_eq(mm__pkmap_address(m, HI0 + 7), 0);
    t_check(m);
    t_check(c);
    mm_destroy(c);
    mm_destroy(m);
}
END_TEST

/* The check reads each slot's own PTE: a wrong one in slot 1 and a
 * stray one in a free slot are both named. */
START_TEST(test_pkmap_check_reads_each_slot_pte)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    char err[MM_MSG_MAX];

    ck_assert_uint_eq(kmap_ok(m, HI0, &r), PKMAP(1));
    ck_assert_int_eq(mm__pkmap_check(m, err), MM_OK);
    mm__set_pte(m, PKMAP(1), mm__mk_pte(m, HI0 + 1, MM_PROT_KERNEL));
    ck_assert_int_eq(mm__pkmap_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "pkmap: slot 1 (0xbfe01000, count 2) should map pfn 0xafa00, "
                          "PTE is 0xafa0165f");
    mm__set_pte(m, PKMAP(1), mm__mk_pte(m, HI0, MM_PROT_KERNEL));
    ck_assert_int_eq(mm__pkmap_check(m, err), MM_OK);
    mm__set_pte(m, PKMAP(511), mm__mk_pte(m, HI0 + 2, MM_PROT_KERNEL));
    ck_assert_int_eq(mm__pkmap_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "pkmap: slot 511 (0xbffff000) is free but its PTE is 0xafa0265f");
    mm_destroy(m);
}
END_TEST

Suite *kmap_suite(void)
{
    Suite *s = suite_create("kmap");
    TCase *tc = tcase_create("pkmap");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_kmap_first_highmem_page_gets_slot_1);
    tcase_add_test(tc, test_kmap_lowmem_page_is_direct_map);
    tcase_add_test(tc, test_kmap_pfn_not_ram);
    tcase_add_test(tc, test_kmap_same_page_shares_slot);
    tcase_add_test(tc, test_kmap_512_pages_fill_the_window);
    tcase_add_test(tc, test_kmap_513th_page_would_block_and_changes_nothing);
    tcase_add_test(tc, test_kmap_after_kunmap_wakes_and_retry_flushes);
    tcase_add_test(tc, test_kunmap_keeps_pte_until_flush);
    tcase_add_test(tc, test_kmap_again_before_flush_gets_same_slot);
    tcase_add_test(tc, test_kmap_slot_reused_only_after_wrap_flush);
    tcase_add_test(tc, test_kmap_flush_clears_unused_slots);
    tcase_add_test(tc, test_kmap_flush_with_nothing_to_clear);
    tcase_add_test(tc, test_kunmap_not_mapped_page);
    tcase_add_test(tc, test_kunmap_lowmem_page_is_a_no_op);
    tcase_add_test(tc, test_kunmap_counts_users_down);
    tcase_add_test(tc, test_kmap_without_highmem_is_direct);
    tcase_add_test(tc, test_kmap_on_6_1);
    tcase_add_test(tc, test_pkmap_address_and_high_get);
    tcase_add_test(tc, test_pkmap_clone_is_independent);
    tcase_add_test(tc, test_pkmap_check_reads_each_slot_pte);
    suite_add_tcase(s, tc);
    return s;
}
