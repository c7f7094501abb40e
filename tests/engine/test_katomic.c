/* tests/engine/test_katomic.c - kmap_atomic()/kunmap_atomic() per CPU.
 *
 * Three machines: aries (3.4, stack style, fixmap grows up from 0xfff00000,
 * KM_TYPE_NR 16: CPU0 0xfff00000..0xfff0f000, CPU1 from 0xfff10000), a 6.1
 * machine (generic kmap_local, FIXADDR_TOP 0xffeff000, FIX_KMAP_BEGIN 1:
 * CPU0 depth 0 at 0xffefe000, CPU1 depth 0 at 0xffeee000) and a 2.6.35
 * machine (enum km_type slots).  KERNEL: 2.6.32/3.4/4.10 arch/arm/mm/
 * highmem.c kmap_atomic(), __kunmap_atomic(); 6.1 mm/highmem.c
 * __kmap_local_pfn_prot(), kunmap_local_indexed(); fixmap.h of each.
 */
#include "check_engine.h"

#include <stdlib.h>
#include <string.h>

#define HI0     0xafa00u                /* aries: the first highmem pfn */

static struct mm_machine *aries(void)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(m->lay.max_low_pfn, HI0);
    ck_assert_int_eq(m->lay.atomic, MM_ATOMIC_STACK);
    ck_assert_uint_eq(m->lay.km_type_nr, 16);
    ck_assert_uint_eq(m->cfg.cpus, 4);
    return m;
}

static struct mm_machine *linux61(void)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "highmem=1", "cpus=2",
                                     NULL);

    ck_assert_int_eq(m->lay.atomic, MM_ATOMIC_LOCAL);
    ck_assert_uint_eq(m->lay.km_type_nr, 16);
    ck_assert_uint_ne(m->lay.pkmap_base, 0);
    return m;
}

static struct mm_machine *linux2635(void)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=2.6.35",
                                     "vmalloc_end=0xff000000", "highmem=1", "cpus=2",
                                     NULL);

    ck_assert_int_eq(m->lay.atomic, MM_ATOMIC_KM_TYPE);
    ck_assert_uint_eq(m->lay.km_type_nr, 16);
    ck_assert_uint_ne(m->lay.pkmap_base, 0);
    return m;
}

static uint32_t push(struct mm_machine *m, unsigned cpu, mm_pfn_t pfn)
{
    struct mm_result r;

    ck_assert_msg(mm_kmap_atomic(m, cpu, pfn, -1, &r) == MM_OK, "kmap_atomic: %s", r.msg);
    return r.value;
}

static uint32_t pop(struct mm_machine *m, unsigned cpu, mm_vaddr_t va)
{
    struct mm_result r;

    ck_assert_msg(mm_kunmap_atomic(m, cpu, va, &r) == MM_OK, "kunmap_atomic: %s", r.msg);
    return r.value;
}

static uint32_t pa_of(const struct mm_machine *m, mm_vaddr_t va)
{
    struct mm_walk w;

    ck_assert_msg(mm_translate(m, va, 0, &w) == MM_OK, "0x%08x does not translate", va);
    return w.pa;
}

static uint32_t tlb_flushes(const struct mm_machine *m)
{
    struct mm_stats st;

    mm_get_stats(m, &st);
    return st.tlb_flushes;
}

/* ------------------------------------------------------------------ */
/* Stack style (aries, 3.4)                                            */
/* ------------------------------------------------------------------ */

START_TEST(test_katomic_slots_per_cpu)
{
    struct mm_machine *m = aries();
    uint32_t tlb = tlb_flushes(m);

    /* KERNEL: 3.4 arch/arm/mm/highmem.c kmap_atomic(): idx = type +
     * KM_TYPE_NR * smp_processor_id(); FIXADDR_START 0xfff00000 */
    ck_assert_uint_eq(push(m, 0, HI0), 0xfff00000);
    ck_assert_uint_eq(push(m, 0, HI0 + 1), 0xfff01000);
    ck_assert_uint_eq(push(m, 0, HI0 + 2), 0xfff02000);
    ck_assert_uint_eq(push(m, 1, HI0 + 3), 0xfff10000);
    ck_assert_uint_eq(push(m, 3, HI0 + 4), 0xfff30000);
    /* set_top_pte(): one local TLB flush per map */
    ck_assert_uint_eq(tlb_flushes(m), tlb + 5);
    ck_assert_uint_eq(pa_of(m, 0xfff01000), 0xafa01000);
    ck_assert_uint_eq(pa_of(m, 0xfff10010), 0xafa03010);
    ck_assert_uint_eq(pa_of(m, 0xfff30000), 0xafa04000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_unmap_out_of_order)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    char *before, *after;

    push(m, 0, HI0);
    push(m, 0, HI0 + 1);
    push(m, 0, HI0 + 2);
    before = t_report(m, MM_REPORT_FIXMAP);
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xfff01000, &r), MM_ORDER);
    ck_assert_str_eq(r.msg, "kunmap_atomic: 0xfff01000 is not the top of cpu 0's "
                            "kmap_atomic stack (expected 0xfff02000)");
    ck_assert_uint_eq(r.seq, 0);
    after = t_report(m, MM_REPORT_FIXMAP);
    ck_assert_str_eq(before, after);
    /* CPU 1 has nothing pushed, whatever the address. */
    ck_assert_int_eq(mm_kunmap_atomic(m, 1, 0xfff02000, &r), MM_NOT_FOUND);
    ck_assert_str_eq(r.msg, "kunmap_atomic: cpu 1 has no kmap_atomic mapping to unmap "
                            "(0xfff02000)");
    ck_assert_uint_eq(pop(m, 0, 0xfff02000), HI0 + 2);
    ck_assert_uint_eq(pop(m, 0, 0xfff01000), HI0 + 1);
    ck_assert_uint_eq(pop(m, 0, 0xfff00000), HI0);
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xfff00000, &r), MM_NOT_FOUND);
    ck_assert_str_eq(r.msg, "kunmap_atomic: cpu 0 has no kmap_atomic mapping to unmap "
                            "(0xfff00000)");
    free(before);
    free(after);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_stack_full_at_16)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    char *before, *after;

    for (unsigned i = 0; i < 16; i++)
        ck_assert_uint_eq(push(m, 0, HI0 + i), 0xfff00000 + i * 0x1000);
    before = t_report(m, MM_REPORT_FIXMAP);
    ck_assert_int_eq(mm_kmap_atomic(m, 0, HI0 + 16, -1, &r), MM_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(r.msg, "kmap_atomic: cpu 0's kmap_atomic stack is full (depth 16)");
    after = t_report(m, MM_REPORT_FIXMAP);
    ck_assert_str_eq(before, after);
    /* The next CPU's slot 0 (0xfff10000) was not touched. */
    ck_assert_uint_eq(push(m, 1, HI0 + 16), 0xfff10000);
    free(before);
    free(after);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_cpu_out_of_range)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(mm__kmap_atomic(m, 4, HI0, -1, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap_atomic: cpu 4 does not exist (the machine has 4 CPUs)");
    ck_assert_int_eq(mm__kunmap_atomic(m, 7, 0xfff00000, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg,
                     "kunmap_atomic: cpu 7 does not exist (the machine has 4 CPUs)");
    ck_assert_int_eq(mm_kmap_atomic(m, 4, HI0, -1, &r), MM_INVALID_ARGUMENT);
    ck_assert_uint_eq(mm_seq(m), 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_stack_unmap_leaves_stale_pte)
{
    struct mm_machine *m = aries();
    uint32_t tlb;
    char *rep;

    push(m, 0, HI0);
    push(m, 0, HI0 + 1);
    tlb = tlb_flushes(m);
    ck_assert_uint_eq(pop(m, 0, 0xfff01000), HI0 + 1);
    /* KERNEL: 3.4 __kunmap_atomic(): PTE cleared only with DEBUG_HIGHMEM */
    ck_assert_uint_eq(tlb_flushes(m), tlb);
    ck_assert_uint_eq(pa_of(m, 0xfff01000), 0xafa01000);
    rep = t_report(m, MM_REPORT_FIXMAP);
    ck_assert_str_eq(rep,
                     "kmap_atomic: stack style, 16 slots per CPU, 4 CPUs, fixmap "
                     "0xfff00000\n"
                     "cpu 0: depth 1\n"
                     "  slot  index  address     pfn       state\n"
                     "     0      0  0xfff00000  0xafa00   live\n"
                     "     1      1  0xfff01000  0xafa01   stale\n"
                     "cpu 1: depth 0\n"
                     "cpu 2: depth 0\n"
                     "cpu 3: depth 0\n");
    free(rep);
    t_check(m);
    /* The slot is reused by the next push and now maps the new page. */
    ck_assert_uint_eq(push(m, 0, HI0 + 9), 0xfff01000);
    ck_assert_uint_eq(pa_of(m, 0xfff01000), 0xafa09000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_pkmapped_page_uses_pkmap_va)
{
    struct mm_machine *m = aries();
    struct mm_result r;
    char *rep;

    ck_assert_int_eq(mm_kmap(m, HI0, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000);
    /* KERNEL: 3.4 arch/arm/mm/highmem.c kmap_atomic(): kmap_high_get() */
    ck_assert_uint_eq(push(m, 0, HI0), 0xbfe01000);
    rep = t_report(m, MM_REPORT_PKMAP);
    ck_assert(strstr(rep, "   1  0xbfe01000      3      2  0xafa00\n") != NULL);
    free(rep);
    /* No fixmap slot was used: the next push takes depth 0. */
    ck_assert_uint_eq(push(m, 0, HI0 + 1), 0xfff00000);
    ck_assert_int_eq(mm_kunmap(m, HI0, &r), MM_OK);
    ck_assert_uint_eq(r.aux, 1);
    ck_assert_uint_eq(r.flags, 0);
    /* KERNEL: 3.4 __kunmap_atomic(): a pkmap address -> kunmap_high() */
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xbfe01000, &r), MM_OK);
    ck_assert_uint_eq(r.value, HI0);
    ck_assert_uint_eq(r.aux, 0);
    ck_assert_uint_eq(r.flags, MM_RES_WAKE);
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xbfe01000, &r), MM_NOT_FOUND);
    ck_assert_str_eq(r.msg, "kunmap_atomic: 0xbfe01000 is not a kmapped address "
                            "(pkmap slot 1 has no users)");
    /* The fixmap stack is as it was. */
    ck_assert_uint_eq(pop(m, 0, 0xfff00000), HI0 + 1);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_lowmem_page_is_direct)
{
    struct mm_machine *m = aries();

    ck_assert_uint_eq(push(m, 0, 0x80205), 0xc0005000);
    ck_assert_uint_eq(pop(m, 0, 0xc0005000), 0x80205);
    ck_assert_uint_eq(pop(m, 2, 0xc0005123), 0x80205);
    ck_assert_uint_eq(push(m, 0, HI0), 0xfff00000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_bad_arguments_on_stack_machine)
{
    struct mm_machine *m = aries();
    struct mm_result r;

    ck_assert_int_eq(mm_kmap_atomic(m, 0, HI0, 3, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap_atomic: km_type 3 given, but this kernel's kmap_atomic "
                            "takes no slot (stack style)");
    ck_assert_int_eq(mm_kmap_atomic(m, 0, 0x10, -1, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap_atomic: pfn 0x10 is not RAM");
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xf0000000, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kunmap_atomic: 0xf0000000 is not a kmap_atomic address");
    ck_assert_ptr_null(mm_km_type_name(m, 3));
    ck_assert_int_eq(mm_km_type_lookup(m, "KM_USER0"), -1);
    ck_assert_uint_eq(mm_seq(m), 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Local style (6.1)                                                   */
/* ------------------------------------------------------------------ */

START_TEST(test_katomic_local_addresses)
{
    struct mm_machine *m = linux61();
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;

    /* KERNEL: 6.1 fixmap.h FIX_KMAP_BEGIN 1, FIXADDR_TOP 0xffeff000,
     * asm-generic/fixmap.h __fix_to_virt(x) = FIXADDR_TOP - (x << 12) */
    ck_assert_uint_eq(push(m, 0, hi), 0xffefe000);
    ck_assert_uint_eq(push(m, 0, hi + 1), 0xffefd000);
    ck_assert_uint_eq(push(m, 1, hi + 2), 0xffeee000);
    for (unsigned i = 2; i < 16; i++)
        ck_assert_uint_eq(push(m, 0, hi + 2 + i), 0xffefe000 - i * 0x1000);
    /* KERNEL: 6.1 mm/highmem.c kmap_local_idx_push(): BUG_ON(idx >= KM_MAX_IDX) */
    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi + 40, -1, &r), MM_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(r.msg, "kmap_atomic: cpu 0's kmap_atomic stack is full (depth 16)");
    ck_assert_uint_eq(pa_of(m, 0xffefd000), (hi + 1) << 12);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_local_unmap_clears_pte)
{
    struct mm_machine *m = linux61();
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_walk w;
    uint32_t tlb;

    tlb = tlb_flushes(m);
    ck_assert_uint_eq(push(m, 0, hi), 0xffefe000);
    ck_assert_uint_eq(tlb_flushes(m), tlb + 1);
    ck_assert_uint_eq(pa_of(m, 0xffefe000), hi << 12);
    /* KERNEL: 6.1 mm/highmem.c kunmap_local_indexed(): pte_clear, then
     * arch_kmap_local_post_unmap() local_flush_tlb_kernel_page */
    ck_assert_uint_eq(pop(m, 0, 0xffefe000), hi);
    ck_assert_uint_eq(tlb_flushes(m), tlb + 2);
    ck_assert_int_eq(mm_translate(m, 0xffefe000, 0, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_TRANSLATION_L2);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_local_out_of_order)
{
    struct mm_machine *m = linux61();
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;

    push(m, 0, hi);
    push(m, 0, hi + 1);
    push(m, 0, hi + 2);
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xffefd000, &r), MM_ORDER);
    ck_assert_str_eq(r.msg, "kunmap_atomic: 0xffefd000 is not the top of cpu 0's "
                            "kmap_atomic stack (expected 0xffefc000)");
    ck_assert_uint_eq(pa_of(m, 0xffefd000), (hi + 1) << 12);
    ck_assert_uint_eq(pop(m, 0, 0xffefc000), hi + 2);
    ck_assert_uint_eq(pop(m, 0, 0xffefd000), hi + 1);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_local_pkmapped_page)
{
    /* Without ARM_ERRATA_798181 (not Debian's armmp build). */
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "highmem=1", "cpus=2",
                                     "errata_798181=off", NULL);
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;

    ck_assert_int_eq(mm_kmap(m, hi, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000);
    /* KERNEL: 6.1 arch/arm/include/asm/highmem.h arch_kmap_local_high_get() */
    ck_assert_uint_eq(push(m, 1, hi), 0xbfe01000);
    ck_assert_uint_eq(pop(m, 1, 0xbfe01000), hi);
    ck_assert_uint_eq(push(m, 1, hi + 1), 0xffeee000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* Debian 12's armmp 6.1 has CONFIG_ARM_ERRATA_798181: kmap_high_get() is a
 * stub, so the real kernel on Cortex-A15 gives a kmap()ed highmem page a
 * fresh fixmap slot.  KERNEL: 6.1 arch/arm/include/asm/highmem.h. */
START_TEST(test_katomic_local_pkmapped_page_errata_798181)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;

    ck_assert(!m->lay.kmap_high_get);
    ck_assert_int_eq(mm_kmap(m, hi, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000);
    ck_assert_uint_eq(push(m, 0, hi), 0xffefe000);
    /* kmap_high_unmap_local() is compiled out: a pkmap address is not one */
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xbfe01000, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kunmap_atomic: 0xbfe01000 is a pkmap address, and this "
                     "kernel (ARM_ERRATA_798181) never hands one out");
    ck_assert_uint_eq(pop(m, 0, 0xffefe000), hi);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* km_type style (2.6.35)                                              */
/* ------------------------------------------------------------------ */

START_TEST(test_km_type_names)
{
    struct mm_machine *m = linux2635();

    ck_assert_str_eq(mm_km_type_name(m, 0), "KM_BOUNCE_READ");
    ck_assert_str_eq(mm_km_type_name(m, 3), "KM_USER0");
    ck_assert_str_eq(mm_km_type_name(m, 13), "KM_L1_CACHE");
    ck_assert_str_eq(mm_km_type_name(m, 15), "KM_KDB");
    ck_assert_ptr_null(mm_km_type_name(m, 16));
    ck_assert_ptr_null(mm_km_type_name(m, -1));
    ck_assert_int_eq(mm_km_type_lookup(m, "KM_USER0"), 3);
    ck_assert_int_eq(mm_km_type_lookup(m, "km_user1"), 4);
    ck_assert_int_eq(mm_km_type_lookup(m, "KM_KDB"), 15);
    ck_assert_int_eq(mm_km_type_lookup(m, "KM_USER"), -1);
    ck_assert_int_eq(mm_km_type_lookup(m, "KM_TYPE_NR"), -1);
    mm_destroy(m);
}
END_TEST

START_TEST(test_km_type_slot_addresses)
{
    struct mm_machine *m = linux2635();
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;

    /* KERNEL: 2.6.32 arch/arm/mm/highmem.c kmap_atomic(): idx = type +
     * KM_TYPE_NR * smp_processor_id(), vaddr = __fix_to_virt(FIX_KMAP_BEGIN + idx) */
    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi, 3, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xfff03000);
    ck_assert_uint_eq(r.flags, 0);
    ck_assert_int_eq(mm_kmap_atomic(m, 1, hi + 1, 3, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xfff13000);
    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi + 2, 15, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xfff0f000);
    ck_assert_uint_eq(pa_of(m, 0xfff13000), (hi + 1) << 12);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_km_type_overwrite_displaces)
{
    struct mm_machine *m = linux2635();
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;
    char *rep;

    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi, 3, &r), MM_OK);
    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi + 1, 3, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xfff03000);
    ck_assert_uint_eq(r.aux, hi);
    ck_assert_uint_eq(r.flags, MM_RES_DISPLACED);
    ck_assert_uint_eq(pa_of(m, 0xfff03000), (hi + 1) << 12);
    rep = t_report(m, MM_REPORT_FIXMAP);
    ck_assert(strstr(rep, "kmap_atomic: km_type style, 16 slots per CPU, 2 CPUs") == rep);
    ck_assert(strstr(rep, "cpu 0: 1 live\n") != NULL);
    ck_assert(strstr(rep, "live   KM_USER0\n") != NULL);
    free(rep);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_km_type_bad_slot)
{
    struct mm_machine *m = linux2635();
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;

    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi, -1, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap_atomic: this kernel's kmap_atomic takes a km_type slot "
                            "(0..15, KM_BOUNCE_READ..KM_KDB)");
    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi, 16, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap_atomic: km_type 16 is out of range (0..15, "
                            "KM_BOUNCE_READ..KM_KDB)");
    ck_assert_uint_eq(mm_seq(m), 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_km_type_unmap)
{
    struct mm_machine *m = linux2635();
    mm_pfn_t hi = m->lay.max_low_pfn;
    struct mm_result r;

    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi, 3, &r), MM_OK);
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xfff03000, &r), MM_OK);
    ck_assert_uint_eq(r.value, hi);
    /* KERNEL: 2.6.32 kunmap_atomic(): the PTE stays without DEBUG_HIGHMEM */
    ck_assert_uint_eq(pa_of(m, 0xfff03000), hi << 12);
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xfff03000, &r), MM_NOT_FOUND);
    ck_assert_str_eq(r.msg, "kunmap_atomic: km_type slot 3 (KM_USER0) of cpu 0 at "
                            "0xfff03000 is not mapped");
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xfff13000, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kunmap_atomic: 0xfff13000 is not one of cpu 0's km_type "
                            "slots (0xfff00000-0xfff0f000)");
    /* Mapping over a stale slot displaces nothing. */
    ck_assert_int_eq(mm_kmap_atomic(m, 0, hi + 1, 3, &r), MM_OK);
    ck_assert_uint_eq(r.flags, 0);
    ck_assert_uint_eq(r.aux, 0);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_katomic_clone_is_independent)
{
    struct mm_machine *m = aries();
    struct mm_machine *c;

    push(m, 0, HI0);
    c = mm_clone(m);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(push(m, 0, HI0 + 1), 0xfff01000);
    ck_assert_uint_eq(pop(c, 0, 0xfff00000), HI0);
    ck_assert_uint_eq(push(c, 0, HI0 + 2), 0xfff00000);
    t_check(m);
    t_check(c);
    mm_destroy(c);
    mm_destroy(m);
}
END_TEST

Suite *katomic_suite(void)
{
    Suite *s = suite_create("katomic");
    TCase *st = tcase_create("stack");
    TCase *lo = tcase_create("local");
    TCase *km = tcase_create("km_type");

    tcase_add_test(st, test_katomic_slots_per_cpu);
    tcase_add_test(st, test_katomic_unmap_out_of_order);
    tcase_add_test(st, test_katomic_stack_full_at_16);
    tcase_add_test(st, test_katomic_cpu_out_of_range);
    tcase_add_test(st, test_katomic_stack_unmap_leaves_stale_pte);
    tcase_add_test(st, test_katomic_pkmapped_page_uses_pkmap_va);
    tcase_add_test(st, test_katomic_lowmem_page_is_direct);
    tcase_add_test(st, test_katomic_bad_arguments_on_stack_machine);
    tcase_add_test(st, test_katomic_clone_is_independent);
    tcase_add_test(lo, test_katomic_local_addresses);
    tcase_add_test(lo, test_katomic_local_unmap_clears_pte);
    tcase_add_test(lo, test_katomic_local_out_of_order);
    tcase_add_test(lo, test_katomic_local_pkmapped_page);
    tcase_add_test(lo, test_katomic_local_pkmapped_page_errata_798181);
    tcase_add_test(km, test_km_type_names);
    tcase_add_test(km, test_km_type_slot_addresses);
    tcase_add_test(km, test_km_type_overwrite_displaces);
    tcase_add_test(km, test_km_type_bad_slot);
    tcase_add_test(km, test_km_type_unmap);
    suite_add_tcase(s, st);
    suite_add_tcase(s, lo);
    suite_add_tcase(s, km);
    return s;
}
