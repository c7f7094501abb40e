/* tests/engine/test_modrox.c - STRICT_MODULE_RWX: a loaded module's pages.
 *
 * load_module() takes the module's core layout from module_alloc()
 * (PAGE_KERNEL_EXEC: read-write, executable), then complete_formation()
 * runs module_enable_ro(), module_enable_nx() and module_enable_x() before
 * the module's init: text read-only and executable, rodata read-only and
 * not executable, data not executable.  KERNEL: 6.1 kernel/module/main.c
 * complete_formation(); kernel/module/strict_rwx.c; arch/arm/mm/pageattr.c
 * set_memory_ro() (L_PTE_RDONLY), set_memory_nx() (L_PTE_XN).  The Debian
 * armmp build has CONFIG_STRICT_MODULE_RWX=y.  The real kernel's value
 * (tests/oracle/fixtures, every machine): the probe module's own text at
 * 0xbf000000 has the second-level descriptor attributes 0x65e (APX set,
 * XN clear) where a fresh module_alloc page has 0x45e.
 */
#include "check_engine.h"

#include <stdlib.h>

/* The hardware second-level descriptor of @va (0 if the walk has none). */
static uint32_t l2(const struct mm_machine *m, mm_vaddr_t va)
{
    struct mm_walk w;

    mm_translate(m, va, 0, &w);
    return w.nsteps == 2 ? w.step[1].desc : 0;
}

static struct mm_machine *virt61(void)
{
    return t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", NULL);
}

/* A 4-page module: one page of text, one of rodata, two of data. */
START_TEST(test_modrox_layout)
{
    struct mm_machine *m = virt61();
    struct mm_result r;

    ck_assert_int_eq(mm_module_alloc(m, 0x4000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbf000000);
    ck_assert_uint_eq(l2(m, 0xbf000000) & 0xfffu, 0x45e); /* module_alloc: RWX */
    ck_assert_int_eq(mm__module_enable_ro(m, 0xbf000000, 0x1000, 0x2000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 2);
    ck_assert_uint_eq(l2(m, 0xbf000000) & 0xfffu, 0x65e); /* the kernel's */
    ck_assert_uint_eq(l2(m, 0xbf001000) & 0xfffu, 0x65f); /* rodata: RO, XN */
    ck_assert_uint_eq(l2(m, 0xbf002000) & 0xfffu, 0x45f); /* data: RW, XN */
    ck_assert_uint_eq(l2(m, 0xbf003000) & 0xfffu, 0x45f);
    ck_assert_uint_eq(mm__pte_get(m, 0xbf000000) & 0x280u, 0x080); /* RDONLY */
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* The MMU applies them: writes to text and rodata fault, so does a fetch
 * from rodata or data; text executes and data takes writes. */
START_TEST(test_modrox_translate)
{
    struct mm_machine *m = virt61();
    struct mm_result r;
    struct mm_walk w;

    ck_assert_int_eq(mm_module_alloc(m, 0x4000, &r), MM_OK);
    ck_assert_int_eq(mm__module_enable_ro(m, r.value, 0x1000, 0x2000, &r), MM_OK);
    ck_assert_int_eq(mm_translate(m, 0xbf000010, MM_ACC_WRITE, &w), MM_FAULT);
    ck_assert_int_eq(w.fault, MM_FAULT_PERMISSION_L2);
    ck_assert_int_eq(mm_translate(m, 0xbf001000, MM_ACC_WRITE, &w), MM_FAULT);
    ck_assert_int_eq(mm_translate(m, 0xbf001000, MM_ACC_EXEC, &w), MM_FAULT);
    ck_assert_int_eq(mm_translate(m, 0xbf002000, MM_ACC_EXEC, &w), MM_FAULT);
    ck_assert_int_eq(mm_translate(m, 0xbf000010, MM_ACC_READ | MM_ACC_EXEC, &w), MM_OK);
    ck_assert_int_eq(mm_translate(m, 0xbf003ffc, MM_ACC_WRITE, &w), MM_OK);
    mm_destroy(m);
}
END_TEST

/* module_free (vfree with VM_FLUSH_RESET_PERMS) gives the pages back; the
 * next module in the same place is writable again. */
START_TEST(test_modrox_free_resets)
{
    struct mm_machine *m = virt61();
    struct mm_result r;

    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_int_eq(mm__module_enable_ro(m, 0xbf000000, 0x2000, 0x2000, &r), MM_OK);
    ck_assert_int_eq(mm_module_free(m, 0xbf000000, &r), MM_OK);
    t_check(m);
    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbf003000); /* the freed range awaits a purge */
    ck_assert_uint_eq(l2(m, 0xbf003000) & 0xfffu, 0x45e);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* Bad input is refused, naming what is wrong, and changes nothing. */
START_TEST(test_modrox_refusals)
{
    struct mm_machine *m = virt61();
    struct mm_result r;

    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_int_eq(mm__module_enable_ro(m, 0xbf001000, 0x1000, 0x1000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: 0xbf001000 is not the start of a "
                            "module_alloc area");
    ck_assert_int_eq(mm__module_enable_ro(m, 0xbf000000, 0x800, 0x1000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: text 0x800 and rodata end 0x1000 must be "
                            "page aligned, in order, within the module's 0x2000 bytes");
    ck_assert_int_eq(mm__module_enable_ro(m, 0xbf000000, 0x1000, 0x3000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_uint_eq(l2(m, 0xbf000000) & 0xfffu, 0x45e);
    ck_assert_int_eq(mm__module_enable_ro(m, 0xbf000000, 0x1000, 0x1000, &r), MM_OK);
    ck_assert_int_eq(mm__module_enable_ro(m, 0xbf000000, 0x1000, 0x1000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: the module at 0xbf000000 is protected "
                            "already");
    ck_assert_int_eq(mm_vmalloc(m, 0x1000, &r), MM_OK);
    ck_assert_int_eq(mm__module_enable_ro(m, r.value, 0, 0, &r), MM_INVALID_ARGUMENT);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* A snapshot keeps the protection: the restored machine checks clean and
 * its module text is still read-only. */
START_TEST(test_modrox_snapshot)
{
    struct mm_machine *m = virt61(), *back = NULL;
    struct mm_buf b = { 0 };
    struct mm_result r;
    char err[MM_MSG_MAX] = "";

    ck_assert_int_eq(mm_module_alloc(m, 0x4000, &r), MM_OK);
    ck_assert_int_eq(mm__module_enable_ro(m, 0xbf000000, 0x1000, 0x2000, &r), MM_OK);
    ck_assert_int_eq(mm_snapshot(m, &b), MM_OK);
    ck_assert_msg(mm_restore(mm_machine_config(m), b.data, b.len, &back, err) == MM_OK,
                  "%s", err);
    ck_assert_uint_eq(l2(back, 0xbf000000) & 0xfffu, 0x65e);
    ck_assert_uint_eq(l2(back, 0xbf002000) & 0xfffu, 0x45f);
    t_check(back);
    mm_destroy(back);
    mm_destroy(m);
    mm_buf_free(&b);
}
END_TEST

/* Builds without STRICT_MODULE_RWX leave module_alloc's pages as they are
 * (module_enable_x() alone: PAGE_KERNEL_EXEC is executable already). */
START_TEST(test_modrox_other_builds_unchanged)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.19", "ram=0x40000000+256M",
                                     NULL);
    struct mm_result r;
    uint32_t before;
    mm_vaddr_t va;

    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    va = r.value;
    before = l2(m, va);
    ck_assert_int_eq(mm__module_enable_ro(m, va, 0x1000, 0x1000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0);
    ck_assert_uint_eq(l2(m, va), before);
    ck_assert_uint_eq(mm__pte_get(m, va) & 0x280u, 0); /* neither RDONLY nor XN */
    t_check(m);
    mm_destroy(m);
}
END_TEST

Suite *modrox_suite(void)
{
    Suite *s = suite_create("modrox");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_modrox_layout);
    tcase_add_test(tc, test_modrox_translate);
    tcase_add_test(tc, test_modrox_free_resets);
    tcase_add_test(tc, test_modrox_refusals);
    tcase_add_test(tc, test_modrox_snapshot);
    tcase_add_test(tc, test_modrox_other_builds_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
