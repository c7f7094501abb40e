/* tests/engine/test_machine.c - machine lifecycle, dispatch, records, replay. */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_status_and_op_names)
{
    enum mm_status st;

    ck_assert_str_eq(mm_status_name(MM_WOULD_BLOCK), "WOULD_BLOCK");
    ck_assert_str_eq(mm_status_name(MM_STATUS_COUNT), "UNKNOWN");
    ck_assert(mm_status_lookup("ORDER", &st));
    ck_assert_int_eq(st, MM_ORDER);
    ck_assert(!mm_status_lookup("order", &st));
    ck_assert_str_eq(mm_op_name(MM_OP_KMAP_ATOMIC), "kmap_atomic");
    ck_assert_ptr_null(mm_op_name(MM_OP_NONE));
    ck_assert_int_eq(mm_op_lookup("kunmap-atomic"), MM_OP_KUNMAP_ATOMIC);
    ck_assert_int_eq(mm_op_lookup("module_free"), MM_OP_MODULE_FREE);
    ck_assert_int_eq(mm_op_lookup("kmap_"), MM_OP_NONE);
}
END_TEST

START_TEST(test_create_rejects_bad_config)
{
    struct mm_config cfg;
    struct mm_machine *m = (struct mm_machine *)&cfg;
    char err[MM_MSG_MAX];

    mm_config_default(&cfg);
    cfg.nr_banks = 0;
    ck_assert_int_eq(mm_create(&cfg, &m, err), MM_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    ck_assert(strncmp(err, "ram", 3) == 0 || strstr(err, "bank") != NULL);
}
END_TEST

START_TEST(test_seq_counts_successes_only)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;

    ck_assert_uint_eq(mm_seq(m), 0);
    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), MM_OK);
    ck_assert_uint_eq(r.seq, 1);
    ck_assert_int_eq(mm_kunmap(m, r.value, &r), MM_NOT_FOUND);
    ck_assert_uint_eq(r.seq, 0);
    ck_assert_uint_eq(r.value, 0);
    ck_assert_int_eq(mm_vmalloc(m, 4096, &r), MM_OK);
    ck_assert_uint_eq(r.seq, 2);
    ck_assert_uint_eq(mm_seq(m), 2);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_apply_checks_arguments)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t args[2] = {0x9f000, 0};
    struct mm_op op = {.code = MM_OP_KMAP, .cpu = 0, .nargs = 2, .args = args};
    struct mm_result r;

    ck_assert_int_eq(mm_apply(m, &op, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap: takes 1 argument, got 2");
    op.code = MM_OP_KMAP_ATOMIC;
    op.nargs = 3;
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap_atomic: takes 1 to 2 arguments, got 3");
    op.code = MM_OP_KMAP;
    op.nargs = 1;
    op.cpu = 4;
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap: cpu 4 does not exist (the machine has 4 CPUs)");
    op.code = (enum mm_opcode)99;
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "apply: unknown operation 99");
    args[0] = 7;
    op = (struct mm_op){.code = MM_OP_ALLOC, .nargs = 2, .args = args};
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "alloc: zone 7 does not exist (0 DMA, 1 Normal, 2 HighMem)");
    ck_assert_uint_eq(mm_seq(m), 0);
    mm_destroy(m);
}
END_TEST

START_TEST(test_broken_machine_answers_internal)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    char err[MM_MSG_MAX];

    ck_assert_ptr_null(mm_broken(m));
    mm_oops(m, "pkmap count went negative");
    mm_oops(m, "second reason is ignored");
    ck_assert_str_eq(mm_broken(m), "pkmap count went negative");
    ck_assert_int_eq(mm_kmap(m, 0xb0000, &r), MM_INTERNAL);
    ck_assert_str_eq(r.msg, "kmap: machine is broken: pkmap count went negative");
    ck_assert_int_eq(mm_check(m, err), MM_INTERNAL);
    mm_destroy(m);
}
END_TEST

START_TEST(test_clone_is_independent)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_machine *c;
    struct mm_result r1, r2;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r1), MM_OK);
    ck_assert_int_eq(mm_kmap(m, r1.value, &r1), MM_OK);
    c = mm_clone(m);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(mm_seq(c), 2);
    /* The same op on both gives the same result... */
    ck_assert_int_eq(mm_vmalloc(m, 8192, &r1), MM_OK);
    ck_assert_int_eq(mm_vmalloc(c, 8192, &r2), MM_OK);
    ck_assert_uint_eq(r1.value, r2.value);
    ck_assert_uint_eq(r1.seq, r2.seq);
    /* ...and a change to one does not reach the other. */
    ck_assert_int_eq(mm_vfree(m, r1.value, &r1), MM_OK);
    ck_assert_int_eq(mm_vfree(c, r2.value, &r2), MM_OK);
    ck_assert_int_eq(mm_vfree(m, r2.value, &r1), MM_INVALID_ARGUMENT);
    t_check(m);
    t_check(c);
    mm_destroy(m);
    mm_destroy(c);
}
END_TEST

START_TEST(test_replay_detects_mismatch)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_machine *fresh = t_machine("aries", NULL);
    uint32_t size = 16384;
    struct mm_op op = {.code = MM_OP_VMALLOC, .nargs = 1, .args = &size};
    struct mm_result rec;
    char err[MM_MSG_MAX];

    ck_assert_int_eq(mm_apply(m, &op, &rec), MM_OK);
    ck_assert_int_eq(mm_replay(fresh, &op, &rec, err), MM_OK);
    rec.value += 0x1000;
    rec.seq = 2;
    ck_assert_int_eq(mm_replay(fresh, &op, &rec, err), MM_INTERNAL);
    ck_assert_str_eq(err, "replay: seq 2 vmalloc: recorded OK value=0xf0001000 aux=0x4 "
                          "flags=0x0, replayed OK value=0xf0005000 aux=0x4 flags=0x0");
    mm_destroy(m);
    mm_destroy(fresh);
}
END_TEST

/* The memory target: an idle 2 GiB machine costs under 256 KiB. */
START_TEST(test_idle_2g_machine_is_small)
{
    struct mm_machine *m = t_machine("qemu-virt", "ram=0x40000000+2G", NULL);

    ck_assert_uint_lt(mm_host_bytes(m), 256 * 1024);
    mm_destroy(m);
}
END_TEST

/* rpi2's RAM starts at physical 0, so pfn 0 is an ordinary page and may
 * become a page table: "PA 0" must never mean "none". */
START_TEST(test_page_table_at_physical_zero)
{
    struct mm_machine *m = t_machine("rpi2", NULL);
    struct mm_result r;
    struct mm_walk w;
    mm_vaddr_t mod, vm;

    ck_assert_int_eq(mm_module_alloc(m, 0xb0f, &r), MM_OK);
    mod = r.value;
    ck_assert_uint_eq(mod, 0x7f000000);
    ck_assert_int_eq(mm_vmalloc(m, 0x96b, &r), MM_OK);
    vm = r.value;
    ck_assert(mm__has_pte_page(m, mod));
    ck_assert(mm__has_pte_page(m, vm));
    ck_assert(mm__pte_page(m, mod) == 0 || mm__pte_page(m, vm) == 0);
    ck_assert_int_eq(mm_translate(m, vm, MM_ACC_WRITE, &w), MM_OK);
    ck_assert_int_eq(mm_translate(m, mod, MM_ACC_EXEC, &w), MM_OK);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_destroy_null)
{
    mm_destroy(NULL);
}
END_TEST

/* The touched L1 indexes, in order, as "0x..." words; "" if none. */
static void touched_l1(const struct mm_machine *m, char *out, size_t n)
{
    const struct mm_touched *t = mm_touched(m);

    out[0] = '\0';
    for (unsigned i = 0; i < 4096; i++) {
        if (t->l1[i / 64] >> (i % 64) & 1)
            snprintf(out + strlen(out), n - strlen(out), "%s0x%03x", out[0] ? " " : "", i);
    }
}

/* aries (3.4): the first vmalloc of 16 KiB lands at VMALLOC_START
 * 0xf0000000, whose pgd entry (L1 0xf00 and 0xf01) has no table yet:
 * __pmd_populate() writes both halves, the four PTEs are in MiB 0xf00.
 * A kmap writes the PTE of pkmap slot 1 (0xbfe01000, MiB 0xbfe). */
START_TEST(test_ops_mark_what_they_touch)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    char l1[256];

    mm_touched_clear(m);
    touched_l1(m, l1, sizeof(l1));
    ck_assert_str_eq(l1, "");
    ck_assert_uint_eq(mm_touched(m)->parts, 0);
    ck_assert_int_eq(mm_vmalloc(m, 16384, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xf0000000);
    touched_l1(m, l1, sizeof(l1));
    ck_assert_str_eq(l1, "0xf00 0xf01");
    ck_assert_uint_eq(mm_touched(m)->parts, MM_TOUCH_VMAP | MM_TOUCH_BUDDY);
    mm_touched_clear(m);
    ck_assert_int_eq(mm_kmap(m, 0xafa00, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000);
    touched_l1(m, l1, sizeof(l1));
    ck_assert_str_eq(l1, "0xbfe");
    ck_assert_uint_eq(mm_touched(m)->parts, MM_TOUCH_PKMAP);
    mm_destroy(m);
}
END_TEST

/* mm_check_touched() finds a wrong hardware PTE in what an op touched
 * (the entry's own check, no part asked for), clears the summary, and (its stated limit) passes a wrong entry outside
 * it, which mm_check() finds. */
START_TEST(test_check_touched_checks_what_changed)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    char err[MM_MSG_MAX];
    mm_paddr_t hw;

    mm_touched_clear(m);
    ck_assert_int_eq(mm_vmalloc(m, 16384, &r), MM_OK);
    ck_assert_int_eq(mm_check_touched(m, MM_TOUCH_ALL, err), MM_OK);
    ck_assert_int_eq(mm_vmalloc(m, 4096, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xf0005000);
    /* The hardware PTE of 0xf0001000, written behind the engine's back. */
    hw = mm__pte_page(m, 0xf0001000) + MM_PTE_HWTABLE_OFF + 1 * 4;
    mm__phys_write32(m->phys, hw, mm__phys_read32(m->phys, hw) ^ 0x10);
    ck_assert_int_eq(mm_check_touched(m, 0, err), MM_INTERNAL);
    ck_assert_msg(strncmp(err, "pgtable: PTE of 0xf0001000: ", 28) == 0, "%s", err);
    ck_assert_uint_eq(mm_touched(m)->parts, 0);
    ck_assert_int_eq(mm_check_touched(m, MM_TOUCH_ALL, err), MM_OK);
    ck_assert_int_eq(mm_check(m, err), MM_INTERNAL);
    ck_assert_msg(strncmp(err, "pgtable: PTE of 0xf0001000: ", 28) == 0, "%s", err);
    mm_destroy(m);
}
END_TEST

/* mm_check_since() on a clone of a checked machine after ops of every
 * part (vmalloc and vfree, pages taken and given back, kmap): it passes,
 * as mm_check() does. */
START_TEST(test_check_since_passes_after_ops)
{
    struct mm_machine *boot = t_machine("aries", NULL);
    struct mm_machine *m = mm_clone(boot);
    struct mm_result r, a;
    char err[MM_MSG_MAX];

    ck_assert_ptr_nonnull(m);
    mm_since_clear(m);
    ck_assert_int_eq(mm_check_since(m, err), MM_OK);
    ck_assert_int_eq(mm_vmalloc(m, 16384, &r), MM_OK);
    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 3, &a), MM_OK);
    ck_assert_int_eq(mm_kmap(m, 0xafa00, &r), MM_OK);
    ck_assert_int_eq(mm_vmalloc(m, 12288, &r), MM_OK);
    ck_assert_int_eq(mm_vfree(m, r.value, &r), MM_OK);
    ck_assert_int_eq(mm_free_pages(m, a.value, 3, &r), MM_OK);
    ck_assert_int_eq(mm_check_since(m, err), MM_OK);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(mm_check(m, err), MM_OK);
    mm_destroy(m);
    mm_destroy(boot);
}
END_TEST

/* The record of what changed is host memory only while asked for: a
 * machine that never called mm_since_clear() (every machine armmapd
 * hosts) and its clones hold none; one that did holds the record of 1,024
 * buddy changes (8 bytes each, the counts beside), and its clone a copy
 * of it, which finds the same changes. */
START_TEST(test_check_since_record_only_when_asked)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_machine *c = mm_clone(m), *d;
    size_t idle = mm_host_bytes(m), rec;
    struct mm_result r;
    char err[MM_MSG_MAX];

    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(mm_host_bytes(c), idle);
    mm_since_clear(m);
    rec = mm_host_bytes(m) - idle;
    ck_assert_uint_ge(rec, 1024 * 8);
    ck_assert_uint_lt(rec, 1024 * 8 + 256);
    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 2, &r), MM_OK);
    d = mm_clone(m);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(mm_host_bytes(d), mm_host_bytes(m));
    ck_assert_int_eq(mm_check_since(d, err), MM_OK);
    ck_assert_int_eq(mm_free_pages(d, r.value, 2, &r), MM_OK);
    ck_assert_int_eq(mm_check_since(d, err), MM_OK);
    mm_destroy(d);
    mm_destroy(c);
    mm_destroy(m);
}
END_TEST

/* mm_check_since() finds a wrong hardware PTE an op wrote, though
 * mm_check_touched() cleared the touched summary in between.  Its stated
 * limit: after mm_since_clear() the entry is no longer among what changed,
 * and a wrong PTE there is for mm_check() to find. */
START_TEST(test_check_since_finds_a_changed_pte)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    char err[MM_MSG_MAX];
    mm_paddr_t hw;

    mm_since_clear(m);
    ck_assert_int_eq(mm_vmalloc(m, 16384, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xf0000000);
    ck_assert_int_eq(mm_check_touched(m, MM_TOUCH_ALL, err), MM_OK);
    hw = mm__pte_page(m, 0xf0001000) + MM_PTE_HWTABLE_OFF + 1 * 4;
    mm__phys_write32(m->phys, hw, mm__phys_read32(m->phys, hw) ^ 0x10);
    ck_assert_int_eq(mm_check_since(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "pgtable: PTE of 0xf0001000: Linux 0xff2fc65f, "
                          "hardware 0xff2fc44f, expected 0xff2fc45f");
    mm__phys_write32(m->phys, hw, mm__phys_read32(m->phys, hw) ^ 0x10);
    ck_assert_int_eq(mm_check_since(m, err), MM_OK);
    mm_since_clear(m);
    mm__phys_write32(m->phys, hw, mm__phys_read32(m->phys, hw) ^ 0x10);
    ck_assert_int_eq(mm_check_since(m, err), MM_OK);
    ck_assert_int_eq(mm_check(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "pgtable: PTE of 0xf0001000: Linux 0xff2fc65f, "
                          "hardware 0xff2fc44f, expected 0xff2fc45f");
    mm_destroy(m);
}
END_TEST

/* mm_check_since() checks each buddy block an op took or gave back by
 * mm_check()'s rules: with the RAM bank cut short below a block taken
 * since the start, that block is the one it names. */
START_TEST(test_check_since_finds_a_changed_block)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result a;
    char err[MM_MSG_MAX];
    uint64_t end;
    unsigned i;

    mm_since_clear(m);
    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 3, &a), MM_OK);
    ck_assert_uint_eq(a.value, 0xaea00);
    for (i = 0; i < m->lay.nr_regions; i++) {
        if (m->lay.regions[i].start <= 0xaea00000 && m->lay.regions[i].end > 0xaea00000)
            break;
    }
    ck_assert_uint_lt(i, m->lay.nr_regions);
    end = m->lay.regions[i].end;
    m->lay.regions[i].end = 0xaea04000; /* half the block */
    ck_assert_int_eq(mm_check_since(m, err), MM_INTERNAL);
    ck_assert_str_eq(err, "buddy: allocated order-3 block at pfn 0xaea00 is not all RAM");
    m->lay.regions[i].end = end;
    ck_assert_int_eq(mm_check_since(m, err), MM_OK);
    mm_destroy(m);
}
END_TEST

Suite *machine_suite(void)
{
    Suite *s = suite_create("machine");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_status_and_op_names);
    tcase_add_test(tc, test_create_rejects_bad_config);
    tcase_add_test(tc, test_seq_counts_successes_only);
    tcase_add_test(tc, test_apply_checks_arguments);
    tcase_add_test(tc, test_broken_machine_answers_internal);
    tcase_add_test(tc, test_clone_is_independent);
    tcase_add_test(tc, test_replay_detects_mismatch);
    tcase_add_test(tc, test_idle_2g_machine_is_small);
    tcase_add_test(tc, test_check_since_passes_after_ops);
    tcase_add_test(tc, test_check_since_record_only_when_asked);
    tcase_add_test(tc, test_check_since_finds_a_changed_pte);
    tcase_add_test(tc, test_check_since_finds_a_changed_block);
    tcase_add_test(tc, test_ops_mark_what_they_touch);
    tcase_add_test(tc, test_check_touched_checks_what_changed);
    tcase_add_test(tc, test_page_table_at_physical_zero);
    tcase_add_test(tc, test_destroy_null);
    suite_add_tcase(s, tc);
    return s;
}
