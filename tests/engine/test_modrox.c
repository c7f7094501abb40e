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
 * XN clear) where a fresh module_alloc page has 0x45e.  The operation is
 * MM_OP_MODULE_ENABLE_RO (mm_module_enable_ro()); freeing a protected
 * module purges the lazy areas (VM_FLUSH_RESET_PERMS).
 */
#include "check_engine.h"

#include <stdlib.h>
#include <string.h>

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
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf000000, 0x1000, 0x2000, &r), MM_OK);
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
    ck_assert_int_eq(mm_module_enable_ro(m, r.value, 0x1000, 0x2000, &r), MM_OK);
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

/* module_free of a module never protected leaves its range lazily freed,
 * awaiting a purge: the next module goes after it. */
START_TEST(test_modrox_free_unprotected_stays_lazy)
{
    struct mm_machine *m = virt61();
    struct mm_result r;

    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_int_eq(mm_module_free(m, 0xbf000000, &r), MM_OK);
    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbf003000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* module_free of a protected module (vfree of a VM_FLUSH_RESET_PERMS
 * area) clears its PTEs and purges every lazy area at once
 * (vm_remove_mappings() -> _vm_unmap_aliases()): an unprotected module
 * freed before it goes too, with one TLB flush over both ranges, and the
 * next module takes the lowest address again, writable.  KERNEL: 6.1
 * mm/vmalloc.c __vunmap(), vm_remove_mappings(), _vm_unmap_aliases(). */
START_TEST(test_modrox_free_purges)
{
    struct mm_machine *m = virt61();
    struct mm_result r;
    struct mm_stats before, after;
    struct mm_walk w;

    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK); /* 0xbf000000 */
    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK); /* 0xbf003000 */
    ck_assert_uint_eq(r.value, 0xbf003000);
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf003000, 0x2000, 0x2000, &r), MM_OK);
    ck_assert_int_eq(mm_module_free(m, 0xbf000000, &r), MM_OK); /* lazy */
    mm_get_stats(m, &before);
    ck_assert_int_eq(mm_module_free(m, 0xbf003000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 2);
    mm_get_stats(m, &after);
    ck_assert_uint_eq(after.tlb_flushes, before.tlb_flushes + 1);
    ck_assert_int_eq(mm_translate(m, 0xbf003000, MM_ACC_READ, &w), MM_FAULT);
    t_check(m);
    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbf000000);
    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xbf003000);
    ck_assert_uint_eq(l2(m, 0xbf003000) & 0xfffu, 0x45e);
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf003000, 0x1000, 0x1000, &r), MM_OK);
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
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf001000, 0x1000, 0x1000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: 0xbf001000 is not the start of a "
                            "module_alloc area");
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf000000, 0x800, 0x1000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: text 0x800 and rodata end 0x1000 must be "
                            "page aligned, in order, within the module's 0x2000 bytes");
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf000000, 0x1000, 0x3000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_uint_eq(l2(m, 0xbf000000) & 0xfffu, 0x45e);
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf000000, 0x1000, 0x1000, &r), MM_OK);
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf000000, 0x1000, 0x1000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: the module at 0xbf000000 is protected "
                            "already");
    ck_assert_int_eq(mm_vmalloc(m, 0x1000, &r), MM_OK);
    ck_assert_int_eq(mm_module_enable_ro(m, r.value, 0, 0, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: 0xf09cf000 is a vmalloc area; use vfree");
    ck_assert_int_eq(mm_module_free(m, 0xbf000000, &r), MM_OK);
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf000000, 0x1000, 0x1000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: 0xbf000000 is not the start of a "
                            "module_alloc area");
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* The operation: its name, three arguments, a sequence number on success
 * and none on a refusal, which changes nothing (the snapshot is the same
 * bytes); a fresh machine replays the events to the same results. */
START_TEST(test_modrox_operation)
{
    struct mm_machine *m = virt61(), *fresh = virt61();
    uint32_t a[3] = { 0xbf000000, 0x1000, 0x3000 };
    struct mm_op op = { MM_OP_MODULE_ENABLE_RO, 0, 3, a };
    struct mm_result r, alloc, ro;
    struct mm_buf b1 = { 0 }, b2 = { 0 };
    char err[MM_MSG_MAX];
    uint32_t size = 0x4000;
    struct mm_op aop = { MM_OP_MODULE_ALLOC, 0, 1, &size };

    ck_assert_int_eq(mm_op_lookup("module_enable_ro"), MM_OP_MODULE_ENABLE_RO);
    ck_assert_int_eq(mm_op_lookup("module-enable-ro"), MM_OP_MODULE_ENABLE_RO);
    ck_assert_int_eq(MM_OP_MODULE_ENABLE_RO, 16);
    ck_assert_str_eq(mm_op_name(MM_OP_MODULE_ENABLE_RO), "module_enable_ro");
    op.nargs = 2;
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: takes 3 arguments, got 2");
    op.nargs = 3;
    ck_assert_int_eq(mm_apply(m, &aop, &alloc), MM_OK);
    ck_assert_uint_eq(alloc.value, 0xbf000000);
    ck_assert_int_eq(mm_snapshot(m, &b1), MM_OK);
    a[2] = 0x6000; /* past the module */
    ck_assert_int_eq(mm_apply(m, &op, &r), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: text 0x1000 and rodata end 0x6000 must be "
                            "page aligned, in order, within the module's 0x4000 bytes");
    ck_assert_uint_eq(r.seq, 0);
    ck_assert_int_eq(mm_snapshot(m, &b2), MM_OK);
    ck_assert_uint_eq(b1.len, b2.len);
    ck_assert(memcmp(b1.data, b2.data, b1.len) == 0);
    a[2] = 0x3000;
    ck_assert_int_eq(mm_apply(m, &op, &ro), MM_OK);
    ck_assert_uint_eq(ro.value, 3);
    ck_assert_uint_eq(ro.seq, alloc.seq + 1);
    ck_assert_uint_eq(mm_seq(m), ro.seq);
    ck_assert_int_eq(mm_replay(fresh, &aop, &alloc, err), MM_OK);
    ck_assert_msg(mm_replay(fresh, &op, &ro, err) == MM_OK, "%s", err);
    ck_assert_uint_eq(l2(fresh, 0xbf002000) & 0xfffu, 0x65f);
    ck_assert_uint_eq(l2(fresh, 0xbf003000) & 0xfffu, 0x45f);
    t_check(fresh);
    mm_buf_free(&b1);
    mm_buf_free(&b2);
    mm_destroy(fresh);
    mm_destroy(m);
}
END_TEST

/* A clone carries the protection: its module is read-only, and a second
 * module_enable_ro on the clone is refused as on the original. */
START_TEST(test_modrox_clone)
{
    struct mm_machine *m = virt61(), *c;
    struct mm_result r;

    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf000000, 0x1000, 0x1000, &r), MM_OK);
    c = mm_clone(m);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(l2(c, 0xbf000000) & 0xfffu, 0x65e);
    ck_assert_int_eq(mm_module_enable_ro(c, 0xbf000000, 0x1000, 0x1000, &r),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: the module at 0xbf000000 is protected "
                            "already");
    t_check(c);
    mm_destroy(c);
    mm_destroy(m);
}
END_TEST

/* The snapshot's area word that holds the module's protection (after
 * start, end, nr_pages): the offset of the record of @start in @b. */
static size_t rox_offset(const struct mm_buf *b, uint32_t start, uint32_t end)
{
    uint8_t want[12];
    uint32_t v[3] = { start, end, (end - start) / MM_PAGE_SIZE - 1 };

    for (unsigned i = 0; i < 12; i++)
        want[i] = (uint8_t)(v[i / 4] >> (8 * (i % 4)));
    for (size_t i = 0; i + 16 <= b->len; i++)
        if (memcmp(b->data + i, want, 12) == 0)
            return i + 12;
    ck_abort_msg("no area 0x%08x-0x%08x in the snapshot", start, end);
    return 0;
}

/* mm_check() (and so a restore) refuses a module protection that
 * module_enable_ro() cannot have set, even where the PTEs agree with it:
 * text past the read-only end (0x80000002: 2 text pages, 0 read-only, on
 * a 2-page module, whose PTEs are module_alloc's), a value without its
 * set bit, and any protection on a build without STRICT_MODULE_RWX. */
START_TEST(test_modrox_check_malformed)
{
    static const struct {
        const char *kernel;
        uint32_t rox;
        const char *msg;
    } cases[] = {
        { "kernel=6.1", 0x80000002u,
          "restore: check: the state is inconsistent: vmalloc: module 0xbf000000: "
          "protection 0x80000002 is not text "
          "<= read-only <= its 2 pages on a STRICT_MODULE_RWX build" },
        { "kernel=6.1", 0x00010002u,
          "restore: check: the state is inconsistent: vmalloc: module 0xbf000000: "
          "protection 0x00010002 is not text "
          "<= read-only <= its 2 pages on a STRICT_MODULE_RWX build" },
        { "kernel=4.19", 0x80010000u, NULL },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mm_machine *m = t_machine("qemu-virt", cases[i].kernel,
                                         "ram=0x40000000+256M", NULL),
                          *back = NULL;
        struct mm_buf b = { 0 };
        struct mm_result r;
        char err[MM_MSG_MAX] = "";
        size_t at;

        ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
        ck_assert_int_eq(mm_snapshot(m, &b), MM_OK);
        at = rox_offset(&b, r.value, r.value + 0x3000);
        for (unsigned k = 0; k < 4; k++)
            b.data[at + k] = (char)(uint8_t)(cases[i].rox >> (8 * k));
        t_fix_checksum((uint8_t *)b.data, b.len);
        ck_assert_int_eq(mm_restore(mm_machine_config(m), b.data, b.len, &back, err),
                         MM_INVALID_ARGUMENT);
        if (cases[i].msg != NULL)
            ck_assert_str_eq(err, cases[i].msg);
        else
            ck_assert_msg(strstr(err, "protection 0x80010000 is not") != NULL, "%s", err);
        ck_assert_ptr_null(back);
        mm_buf_free(&b);
        mm_destroy(m);
    }
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
    ck_assert_int_eq(mm_module_enable_ro(m, 0xbf000000, 0x1000, 0x2000, &r), MM_OK);
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
    ck_assert_int_eq(mm_module_enable_ro(m, va, 0x1000, 0x1000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0);
    ck_assert_uint_eq(l2(m, va), before);
    ck_assert_uint_eq(mm__pte_get(m, va) & 0x280u, 0); /* neither RDONLY nor XN */
    /* Nothing was protected, so a second call is no refusal either; bad
     * sizes are refused as on any build. */
    ck_assert_int_eq(mm_module_enable_ro(m, va, 0x1000, 0x1000, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0);
    ck_assert_int_eq(mm_module_enable_ro(m, va, 0x1000, 0x800, &r), MM_INVALID_ARGUMENT);
    ck_assert_int_eq(mm_module_free(m, va, &r), MM_OK);
    ck_assert_int_eq(mm_module_alloc(m, 0x2000, &r), MM_OK);
    ck_assert_uint_eq(r.value, va + 0x3000); /* no reset-perms purge */
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
    tcase_add_test(tc, test_modrox_free_unprotected_stays_lazy);
    tcase_add_test(tc, test_modrox_free_purges);
    tcase_add_test(tc, test_modrox_refusals);
    tcase_add_test(tc, test_modrox_operation);
    tcase_add_test(tc, test_modrox_clone);
    tcase_add_test(tc, test_modrox_check_malformed);
    tcase_add_test(tc, test_modrox_snapshot);
    tcase_add_test(tc, test_modrox_other_builds_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
