/* tests/engine/test_kernmem.c - STRICT_KERNEL_RWX section permissions.
 *
 * The 6.1 armmp reference build (config version 3) runs fix_kernmem_perms()
 * from free_initmem() and mark_rodata_ro() after it: the lowmem sections
 * of [PAGE_OFFSET, _stext), rodata and init become XN, [_stext,
 * __init_begin) read-only (APX | AP_WRITE).  KERNEL: 6.1 arch/arm/mm/init.c
 * nx_perms[], ro_perms[], set_section_perms(), section_update();
 * arch/arm/kernel/vmlinux.lds.S __start_rodata_section_aligned.  The
 * image is the reference one: _stext 0xc0300000, _etext (= __start_rodata)
 * 0xc0e00000, __init_begin 0xc1200000, _sdata 0xc1400000, _end 0xc1607608.
 * The base section of an SMP v7 kernel is 0x1140e (SECT | AP_WRITE | TEX(1)
 * | C | B | S); XN is bit 4, APX bit 15.
 */
#include "check_engine.h"

#include <stdlib.h>

/* The first-level word of @va. */
static uint32_t l1(const struct mm_machine *m, mm_vaddr_t va)
{
    return mm__l1_read(m, va >> 20);
}

static struct mm_machine *virt61(const char *ram)
{
    return t_machine("qemu-virt", "kernel=6.1", ram, NULL);
}

/* Every lowmem section of the 256 MiB machine, per range of the tables. */
START_TEST(test_kernmem_sections_256m)
{
    struct mm_machine *m = virt61("ram=0x40000000+256M");
    char err[MM_MSG_MAX] = "";

    ck_assert_uint_eq(l1(m, 0xc0000000), 0x4001141e); /* pre-text NX */
    ck_assert_uint_eq(l1(m, 0xc0200000), 0x4021141e); /* head text below _stext */
    ck_assert_uint_eq(l1(m, 0xc0300000), 0x4031940e); /* text: RO, executable */
    ck_assert_uint_eq(l1(m, 0xc0d00000), 0x40d1940e); /* last text MiB */
    ck_assert_uint_eq(l1(m, 0xc0e00000), 0x40e1941e); /* rodata: RO, NX */
    ck_assert_uint_eq(l1(m, 0xc1100000), 0x4111941e); /* last rodata MiB */
    ck_assert_uint_eq(l1(m, 0xc1200000), 0x4121141e); /* init NX (freed) */
    ck_assert_uint_eq(l1(m, 0xc1400000), 0x4141141e); /* data: map_lowmem RW */
    ck_assert_uint_eq(l1(m, 0xc1700000), 0x4171141e); /* after _end */
    ck_assert_uint_eq(l1(m, 0xcef00000), 0x4ef1141e); /* last MiB below CMA */
    /* the CMA area (0x4f000000, 16 MiB) is mapped with pages
     * (test_boot61_cma_remapped_with_pages) */
    ck_assert_uint_eq(l1(m, 0xcff00000) & 0xfffu, 0xc01u);
    ck_assert_msg(mm__pgtable_check(m, err) == MM_OK, "%s", err);
    mm_destroy(m);
}
END_TEST

/* The MMU applies them: a PL1 write to text or rodata is a section
 * permission fault, so is an instruction fetch from rodata or the page
 * below _stext; reads and text fetches translate. */
START_TEST(test_kernmem_translate_faults)
{
    struct mm_machine *m = virt61("ram=0x40000000+256M");
    struct mm_walk w;

    ck_assert_int_eq(mm_translate(m, 0xc0300010, MM_ACC_WRITE, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_PERMISSION_L1);
    ck_assert_str_eq(mm_fault_name(w.fault), "permission fault (level 1)");
    ck_assert_uint_eq(w.step[0].ap, 5); /* APX:AP = 1:01, PL1 read-only */
    ck_assert_int_eq(mm_translate(m, 0xc0e00000, MM_ACC_WRITE, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_PERMISSION_L1);
    ck_assert_int_eq(mm_translate(m, 0xc0e00000, MM_ACC_EXEC, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_PERMISSION_L1);
    ck_assert_int_eq(mm_translate(m, 0xc0200000, MM_ACC_EXEC, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_PERMISSION_L1);
    ck_assert_int_eq(mm_translate(m, 0xc0300010, MM_ACC_READ | MM_ACC_EXEC, &w), MM_OK);
    ck_assert_uint_eq(w.pa, 0x40300010);
    ck_assert_int_eq(mm_translate(m, 0xc0200000, MM_ACC_WRITE, &w), MM_OK);
    ck_assert_uint_eq(w.pa, 0x40200000);
    ck_assert_int_eq(mm_translate(m, 0xc1700000, MM_ACC_WRITE, &w), MM_OK);
    mm_destroy(m);
}
END_TEST

/* A version-2 config (stored before the end of boot was modelled) keeps
 * the boot-time RWX sections of map_kernel(), so it replays as before. */
START_TEST(test_kernmem_version_2_unchanged)
{
    static const char text[] = "preset=qemu-virt\nkernel=6.1\nram=0x40000000+256M\n"
                               "version=2\n";
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    char err[MM_MSG_MAX];
    struct mm_walk w;

    mm_config_default(&cfg);
    ck_assert_msg(mm_config_parse(&cfg, text, err) == MM_OK, "%s", err);
    ck_assert_msg(mm_create(&cfg, &m, err) == MM_OK, "%s", err);

    ck_assert_uint_eq(l1(m, 0xc0000000), 0x4001140e);
    ck_assert_uint_eq(l1(m, 0xc0300000), 0x4031140e);
    ck_assert_uint_eq(l1(m, 0xc0e00000), 0x40e1140e);
    ck_assert_uint_eq(l1(m, 0xc1700000), 0x4171141e);
    ck_assert_int_eq(mm_translate(m, 0xc0300010, MM_ACC_WRITE, &w), MM_OK);
    mm_destroy(m);
}
END_TEST

/* Eras without the reference build are unchanged: 4.19 maps its text RWX. */
START_TEST(test_kernmem_other_eras_unchanged)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.19", "ram=0x40000000+256M",
                                     NULL);
    struct mm_walk w;

    ck_assert_uint_eq(l1(m, 0xc0000000) & 0x8010u, 0); /* no APX, no XN */
    ck_assert_int_eq(mm_translate(m, 0xc0000000, MM_ACC_WRITE, &w), MM_OK);
    mm_destroy(m);
}
END_TEST

Suite *kernmem_suite(void)
{
    Suite *s = suite_create("kernmem");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_kernmem_sections_256m);
    tcase_add_test(tc, test_kernmem_translate_faults);
    tcase_add_test(tc, test_kernmem_version_2_unchanged);
    tcase_add_test(tc, test_kernmem_other_eras_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
