/* tests/engine/test_mmu.c - the emulated MMU walk, regions, the direct map.
 *
 * Expected values follow the ARMv7 short-descriptor walk (ARM DDI 0406C
 * B3.5) over the tables the kernel builds for aries (3.4, SMP, PAGE_OFFSET
 * 0xc0000000, PHYS_OFFSET 0x80200000, swapper_pg_dir at 0x80204000).
 */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARIES_PGD 0x80204000u

/* Translates @va with @access and returns the fault (MM_FAULT_NONE if OK). */
static enum mm_fault xlate(const struct mm_machine *m, mm_vaddr_t va, unsigned access,
                           struct mm_walk *w)
{
    enum mm_status st = mm_translate(m, va, access, w);

    ck_assert_int_eq(st, w->fault == MM_FAULT_NONE ? MM_OK : MM_FAULT);
    return w->fault;
}

/* A highmem page, kmapped; returns its pfn and puts the VA in *@va. */
static mm_pfn_t kmap_highmem(struct mm_machine *m, mm_vaddr_t *va)
{
    struct mm_result r;
    mm_pfn_t pfn;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), MM_OK);
    pfn = r.value;
    ck_assert_int_eq(mm_kmap(m, pfn, &r), MM_OK);
    *va = r.value;
    return pfn;
}

/* ---- registers ------------------------------------------------------- */

/* KERNEL: 3.4 proc-v7-2level.S TTB_FLAGS_SMP, head.S DACR, proc-v7.S v7_crval */
START_TEST(test_regs_aries)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_mmu_regs r;

    mm_get_mmu_regs(m, &r);
    ck_assert_uint_eq(r.ttbr0, 0x8020406a);
    ck_assert_uint_eq(r.ttbcr, 0);
    ck_assert_uint_eq(r.dacr, 0x15);
    ck_assert_uint_eq(r.sctlr, 0x10c5387d);
    mm_destroy(m);
}
END_TEST

START_TEST(test_regs_up)
{
    struct mm_machine *m = t_machine("aries", "cpus=1", NULL);
    struct mm_mmu_regs r;

    mm_get_mmu_regs(m, &r);
    ck_assert_uint_eq(r.ttbr0, 0x80204059);
    ck_assert_uint_eq(r.sctlr, 0x10c53c7d);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 4.19 domain.h DACR_INIT with CPU_SW_DOMAIN_PAN */
START_TEST(test_regs_pan_dacr)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.4", NULL);
    struct mm_mmu_regs r;

    mm_get_mmu_regs(m, &r);
    ck_assert_uint_eq(r.dacr, 0x51);
    ck_assert_uint_eq(r.ttbr0 & ~0x3fffu, m->lay.pgd_pa);
    mm_destroy(m);
}
END_TEST

/* ---- walks over the boot tables ---------------------------------------- */

START_TEST(test_walk_lowmem_first_byte)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;
    const struct mm_walk_step *s = &w.step[0];

    ck_assert_int_eq(xlate(m, 0xc0000000, 0, &w), MM_FAULT_NONE);
    ck_assert_uint_eq(w.pa, 0x80200000);
    ck_assert_uint_eq(w.nsteps, 1);
    ck_assert_uint_eq(s->level, 1);
    ck_assert_uint_eq(s->kind, MM_DESC_SECTION);
    ck_assert_uint_eq(s->addr, ARIES_PGD + 0xc00 * 4);
    ck_assert_uint_eq(s->desc, 0x8021140e);
    ck_assert_uint_eq(s->domain, 0);
    ck_assert_uint_eq(s->ap, 1);
    ck_assert_uint_eq(s->tex, 1);
    ck_assert_uint_eq(s->c, 1);
    ck_assert_uint_eq(s->b, 1);
    ck_assert_uint_eq(s->s, 1);
    ck_assert_uint_eq(s->ng, 0);
    ck_assert_uint_eq(s->xn, 0);
    ck_assert_uint_eq(s->next, 0x80200000);
    mm_destroy(m);
}
END_TEST

START_TEST(test_walk_lowmem_last_byte)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xef7fffff, 0, &w), MM_FAULT_NONE);
    ck_assert_uint_eq(w.pa, 0xaf9fffff);
    ck_assert_uint_eq(w.step[0].desc, 0xaf91140e);
    mm_destroy(m);
}
END_TEST

/* high_memory .. VMALLOC_START is the 8 MiB gap: no first-level entry. */
START_TEST(test_walk_gap_after_lowmem)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xef800000, 0, &w), MM_FAULT_TRANSLATION_L1);
    ck_assert_uint_eq(w.nsteps, 1);
    ck_assert_uint_eq(w.step[0].addr, 0x80207be0);
    ck_assert_uint_eq(w.step[0].desc, 0);
    ck_assert_uint_eq(w.step[0].kind, MM_DESC_FAULT);
    ck_assert_uint_eq(w.pa, 0);
    mm_destroy(m);
}
END_TEST

/* PA 0x88e00000-0x89000000 is not RAM: its lowmem VAs are unmapped. */
START_TEST(test_walk_bank_hole)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xc8c00000, 0, &w), MM_FAULT_TRANSLATION_L1);
    ck_assert_int_eq(xlate(m, 0xc8dfffff, 0, &w), MM_FAULT_TRANSLATION_L1);
    ck_assert_int_eq(xlate(m, 0xc8e00000, 0, &w), MM_FAULT_NONE);
    ck_assert_uint_eq(w.pa, 0x89000000);
    mm_destroy(m);
}
END_TEST

START_TEST(test_walk_user_space_unmapped)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0x00008000, 0, &w), MM_FAULT_TRANSLATION_L1);
    ck_assert_uint_eq(w.step[0].addr, ARIES_PGD);
    mm_destroy(m);
}
END_TEST

START_TEST(test_walk_vector_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    uint32_t l1 = mm__l1_read(m, 0xfff);
    uint32_t lpte = mm__pte_get(m, 0xffff0000);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xffff0abc, 0, &w), MM_FAULT_NONE);
    ck_assert_uint_eq(w.pa, (lpte & 0xfffff000) | 0xabc);
    ck_assert_uint_eq(w.nsteps, 2);
    ck_assert_uint_eq(w.step[0].kind, MM_DESC_PAGE_TABLE);
    ck_assert_uint_eq(w.step[0].addr, ARIES_PGD + 0xfff * 4);
    ck_assert_uint_eq(w.step[0].domain, 1);
    ck_assert_uint_eq(w.step[0].next, l1 & 0xfffffc00);
    ck_assert_uint_eq(w.step[1].kind, MM_DESC_SMALL_PAGE);
    ck_assert_uint_eq(w.step[1].addr, (l1 & 0xfffffc00) + 0xf0 * 4);
    ck_assert_uint_eq(w.step[1].desc, (lpte & 0xfffff000) | 0x67e);
    ck_assert_uint_eq(w.step[1].ap, 7);
    ck_assert_uint_eq(w.step[1].xn, 0);
    mm_destroy(m);
}
END_TEST

START_TEST(test_walk_pkmap_after_kmap)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;
    mm_vaddr_t va;
    mm_pfn_t pfn = kmap_highmem(m, &va);

    ck_assert_uint_eq(va, 0xbfe01000);
    ck_assert_int_eq(xlate(m, va + 0x123, MM_ACC_READ | MM_ACC_WRITE, &w), MM_FAULT_NONE);
    ck_assert_uint_eq(w.pa, (pfn << 12) | 0x123);
    ck_assert_uint_eq(w.step[0].addr, ARIES_PGD + 0xbfe * 4);
    ck_assert_uint_eq(w.step[1].desc, (pfn << 12) | 0x45f);
    ck_assert_uint_eq(w.step[1].ap, 1);
    ck_assert_uint_eq(w.step[1].xn, 1);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_walk_pkmap_empty_slot)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xbfe00000, 0, &w), MM_FAULT_TRANSLATION_L2);
    ck_assert_uint_eq(w.nsteps, 2);
    ck_assert_uint_eq(w.step[1].kind, MM_DESC_FAULT);
    mm_destroy(m);
}
END_TEST

/* vmalloc always adds a guard page: mapped table, empty PTE. */
START_TEST(test_walk_vmalloc_guard_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    struct mm_walk w;

    ck_assert_int_eq(mm_vmalloc(m, 4096, &r), MM_OK);
    ck_assert_int_eq(xlate(m, r.value, MM_ACC_READ, &w), MM_FAULT_NONE);
    ck_assert_int_eq(xlate(m, r.value + 4096, MM_ACC_READ, &w), MM_FAULT_TRANSLATION_L2);
    t_check(m);
    mm_destroy(m);
}
END_TEST

/* ---- permissions ----------------------------------------------------------- */

/* AP 001: PL0 has no access to kernel sections. */
START_TEST(test_perm_user_read_lowmem)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xc0100000, MM_ACC_USER | MM_ACC_READ, &w),
                     MM_FAULT_PERMISSION_L1);
    ck_assert_uint_eq(w.pa, 0);
    ck_assert_int_eq(xlate(m, 0xc0100000, MM_ACC_USER, &w), MM_FAULT_PERMISSION_L1);
    mm_destroy(m);
}
END_TEST

START_TEST(test_perm_kernel_rwx_lowmem_3x)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xc0100000, MM_ACC_READ | MM_ACC_WRITE | MM_ACC_EXEC, &w),
                     MM_FAULT_NONE);
    mm_destroy(m);
}
END_TEST

/* AP 111: the vectors are read-only from PL1 too. */
START_TEST(test_perm_kernel_write_vectors)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xffff0000, MM_ACC_WRITE, &w), MM_FAULT_PERMISSION_L2);
    ck_assert_int_eq(xlate(m, 0xffff0000, MM_ACC_READ | MM_ACC_EXEC, &w), MM_FAULT_NONE);
    mm_destroy(m);
}
END_TEST

START_TEST(test_perm_user_vectors)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    ck_assert_int_eq(xlate(m, 0xffff0000, MM_ACC_USER | MM_ACC_EXEC, &w), MM_FAULT_NONE);
    ck_assert_int_eq(xlate(m, 0xffff0000, MM_ACC_USER | MM_ACC_WRITE, &w),
                     MM_FAULT_PERMISSION_L2);
    mm_destroy(m);
}
END_TEST

/* PAGE_KERNEL is XN. */
START_TEST(test_perm_exec_vmalloc_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    struct mm_walk w;

    ck_assert_int_eq(mm_vmalloc(m, 8192, &r), MM_OK);
    ck_assert_int_eq(xlate(m, r.value, MM_ACC_EXEC, &w), MM_FAULT_PERMISSION_L2);
    ck_assert_int_eq(xlate(m, r.value, MM_ACC_READ | MM_ACC_WRITE, &w), MM_FAULT_NONE);
    mm_destroy(m);
}
END_TEST

/* module_alloc uses PAGE_KERNEL_EXEC. */
START_TEST(test_perm_exec_module_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;
    struct mm_walk w;

    ck_assert_int_eq(mm_module_alloc(m, 4096, &r), MM_OK);
    ck_assert_int_eq(xlate(m, r.value, MM_ACC_EXEC, &w), MM_FAULT_NONE);
    ck_assert_str_eq(mm_region_name(m, r.value), "modules");
    mm_destroy(m);
}
END_TEST

/* 3.19+: lowmem outside the kernel text is MT_MEMORY_RW, XN. */
START_TEST(test_perm_exec_lowmem_nx_4x)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.4", NULL);
    struct mm_walk w;
    mm_vaddr_t top = m->lay.high_memory - 4096;

    ck_assert_int_eq(xlate(m, m->lay.text.start, MM_ACC_EXEC, &w), MM_FAULT_NONE);
    ck_assert_int_eq(xlate(m, top, MM_ACC_EXEC, &w), MM_FAULT_PERMISSION_L1);
    ck_assert_uint_eq(w.step[0].xn, 1);
    ck_assert_int_eq(xlate(m, top, MM_ACC_READ | MM_ACC_WRITE, &w), MM_FAULT_NONE);
    mm_destroy(m);
}
END_TEST

/* DACR 0x15 leaves domain 3 "no access": a domain fault at either level. */
START_TEST(test_domain_fault_section)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    mm__l1_write(m, 0xef8, 0x80211460 | 0x2 | 0x400);  /* section, domain 3 */
    ck_assert_int_eq(xlate(m, 0xef800000, MM_ACC_READ, &w), MM_FAULT_DOMAIN_L1);
    ck_assert_uint_eq(w.step[0].domain, 3);
    ck_assert_int_eq(xlate(m, 0xef800000, 0, &w), MM_FAULT_NONE);
    mm_destroy(m);
}
END_TEST

START_TEST(test_domain_fault_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char msg[MM_MSG_MAX];
    struct mm_walk w;

    ck_assert_int_eq(mm__pte_alloc(m, 0xf8000000, "test", msg), MM_OK);
    mm__l1_write(m, 0xf80, (mm__l1_read(m, 0xf80) & ~0x1e0u) | 0x60);
    mm__set_pte(m, 0xf8000000, mm__mk_pte(m, 0x80300, MM_PROT_KERNEL));
    ck_assert_int_eq(xlate(m, 0xf8000000, MM_ACC_READ, &w), MM_FAULT_DOMAIN_L2);
    mm_destroy(m);
}
END_TEST

/* 4.3+ PAN: PL1 runs with the user domain "no access", PL0 with client. */
START_TEST(test_domain_pan_user_domain)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.4", NULL);
    struct mm_walk w;

    /* a user-accessible section (AP 011) in domain USER (1) */
    mm__l1_write(m, 0x100, 0x10000c22);
    ck_assert_int_eq(xlate(m, 0x10000000, MM_ACC_READ, &w), MM_FAULT_DOMAIN_L1);
    ck_assert_int_eq(xlate(m, 0x10000000, MM_ACC_USER | MM_ACC_READ, &w), MM_FAULT_NONE);
    mm_destroy(m);
}
END_TEST

/* ---- descriptor decoding ---------------------------------------------------- */

/* bits[1:0] == 0b11 without PXN: a translation fault. */
START_TEST(test_decode_l1_type3_faults)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    mm__l1_write(m, 0xef8, 0x8021140f);
    ck_assert_int_eq(xlate(m, 0xef800000, 0, &w), MM_FAULT_TRANSLATION_L1);
    mm_destroy(m);
}
END_TEST

START_TEST(test_decode_supersection)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;

    mm__l1_write(m, 0xef8, 0x81040c02 | (5u << 5));    /* domain bits are PA[39:36] */
    ck_assert_int_eq(xlate(m, 0xef812345, MM_ACC_READ, &w), MM_FAULT_NONE);
    ck_assert_uint_eq(w.pa, 0x81812345);
    ck_assert_uint_eq(w.step[0].kind, MM_DESC_SUPERSECTION);
    ck_assert_uint_eq(w.step[0].domain, 0);
    ck_assert_uint_eq(w.step[0].next, 0x81000000);
    mm_destroy(m);
}
END_TEST

START_TEST(test_decode_large_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char msg[MM_MSG_MAX];
    struct mm_walk w;
    mm_paddr_t hw;

    ck_assert_int_eq(mm__pte_alloc(m, 0xf8000000, "test", msg), MM_OK);
    hw = mm__pte_page(m, 0xf8000000) + 2048 + 0x12 * 4;
    /* large page 0x90000000, XN (bit 15), AP 001 */
    mm__phys_write32(m->phys, hw, 0x90000000 | 0x8000 | 0x10 | 1);
    ck_assert_int_eq(xlate(m, 0xf8012345, 0, &w), MM_FAULT_NONE);
    ck_assert_uint_eq(w.pa, 0x90002345);
    ck_assert_uint_eq(w.step[1].kind, MM_DESC_LARGE_PAGE);
    ck_assert_uint_eq(w.step[1].xn, 1);
    ck_assert_int_eq(xlate(m, 0xf8012345, MM_ACC_EXEC, &w), MM_FAULT_PERMISSION_L2);
    mm_destroy(m);
}
END_TEST

/* ---- text ------------------------------------------------------------------- */

START_TEST(test_format_section)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;
    char buf[512];
    size_t n;

    xlate(m, 0xc0000000, 0, &w);
    n = mm_walk_format(&w, buf, sizeof(buf));
    ck_assert_str_eq(buf, "L1 0x80207000: 0x8021140e section pa=0x80200000 domain=0 "
                          "ap=001(rw/--) tex=001 c=1 b=1 s=1 ng=0 xn=0\n"
                          "VA 0xc0000000 -> PA 0x80200000\n");
    ck_assert_uint_eq(n, strlen(buf));
    mm_destroy(m);
}
END_TEST

START_TEST(test_format_fault)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;
    char buf[512];

    xlate(m, 0xef800000, 0, &w);
    mm_walk_format(&w, buf, sizeof(buf));
    ck_assert_str_eq(buf, "L1 0x80207be0: 0x00000000 fault\n"
                          "VA 0xef800000: translation fault (level 1)\n");
    mm_destroy(m);
}
END_TEST

START_TEST(test_format_page_and_truncation)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_walk w;
    char buf[512], small[16], want[512];
    uint32_t l1 = mm__l1_read(m, 0xfff), lpte = mm__pte_get(m, 0xffff0000);
    size_t n;

    xlate(m, 0xffff0000, MM_ACC_WRITE, &w);
    n = mm_walk_format(&w, buf, sizeof(buf));
    snprintf(want, sizeof(want),
             "L1 0x80207ffc: 0x%08x table l2=0x%08x domain=1\n"
             "L2 0x%08x: 0x%08x small pa=0x%08x domain=1 ap=111(ro/ro) tex=001 c=1 b=1 "
             "s=1 ng=0 xn=0\n"
             "VA 0xffff0000: permission fault (level 2)\n",
             l1, l1 & 0xfffffc00, (l1 & 0xfffffc00) + 0x3c0, (lpte & 0xfffff000) | 0x67e,
             lpte & 0xfffff000);
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(mm_walk_format(&w, small, sizeof(small)), n);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
    ck_assert(strncmp(small, want, sizeof(small) - 1) == 0);
    mm_destroy(m);
}
END_TEST

START_TEST(test_fault_names)
{
    ck_assert_str_eq(mm_fault_name(MM_FAULT_NONE), "none");
    ck_assert_str_eq(mm_fault_name(MM_FAULT_TRANSLATION_L1), "translation fault (level 1)");
    ck_assert_str_eq(mm_fault_name(MM_FAULT_TRANSLATION_L2), "translation fault (level 2)");
    ck_assert_str_eq(mm_fault_name(MM_FAULT_DOMAIN_L1), "domain fault (level 1)");
    ck_assert_str_eq(mm_fault_name(MM_FAULT_DOMAIN_L2), "domain fault (level 2)");
    ck_assert_str_eq(mm_fault_name(MM_FAULT_PERMISSION_L1), "permission fault (level 1)");
    ck_assert_str_eq(mm_fault_name(MM_FAULT_PERMISSION_L2), "permission fault (level 2)");
    ck_assert_str_eq(mm_fault_name((enum mm_fault)99), "unknown fault");
}
END_TEST

/* ---- batch ------------------------------------------------------------------ */

/* 100,000 addresses over every region, some repeated on the same page. */
static mm_vaddr_t *mixed_addresses(const struct mm_machine *m, size_t n)
{
    mm_vaddr_t *va = malloc(n * sizeof(*va));
    uint64_t x = 0x9e3779b97f4a7c15ull;

    ck_assert_ptr_nonnull(va);
    for (size_t i = 0; i < n; i++) {
        uint32_t r;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r = (uint32_t)(x >> 16);
        switch (x % 8) {
        case 0: va[i] = r; break;
        case 1: va[i] = 0xc0000000u + r % (0x30000000u); break;
        case 2: va[i] = 0xbfe00000u + r % 0x200000u; break;
        case 3: va[i] = m->lay.vmalloc_start + r % 0x100000u; break;
        case 4: va[i] = 0xfff00000u + r % 0x100000u; break;
        case 5: va[i] = i > 0 ? (va[i - 1] & ~0xfffu) | (r & 0xfff) : r; break;
        case 6: va[i] = m->lay.modules_vaddr + r % 0x10000u; break;
        default: va[i] = 0xffff0000u + r % 0x2000u; break;
        }
    }
    return va;
}

START_TEST(test_batch_equals_single)
{
    static const unsigned accesses[] = {
        0, MM_ACC_READ, MM_ACC_WRITE, MM_ACC_EXEC, MM_ACC_USER | MM_ACC_READ,
        MM_ACC_USER | MM_ACC_WRITE, MM_ACC_READ | MM_ACC_WRITE | MM_ACC_EXEC,
    };
    enum { N = 100000 };
    struct mm_machine *m = t_machine("aries", NULL);
    mm_paddr_t *pa = malloc(N * sizeof(*pa));
    uint8_t *fault = malloc(N);
    struct mm_result r;
    mm_vaddr_t *va, kva;

    ck_assert_int_eq(mm_vmalloc(m, 64 * 1024, &r), MM_OK);
    ck_assert_int_eq(mm_module_alloc(m, 16 * 1024, &r), MM_OK);
    for (int i = 0; i < 8; i++)
        kmap_highmem(m, &kva);
    va = mixed_addresses(m, N);
    for (size_t a = 0; a < sizeof(accesses) / sizeof(accesses[0]); a++) {
        size_t ok = mm_translate_batch(m, va, N, accesses[a], pa, fault), want = 0;

        for (size_t i = 0; i < N; i++) {
            struct mm_walk w;
            enum mm_status st = mm_translate(m, va[i], accesses[a], &w);

            ck_assert_msg(fault[i] == w.fault && pa[i] == w.pa,
                          "access %u va 0x%08x: batch %u 0x%08x, single %u 0x%08x",
                          accesses[a], va[i], fault[i], pa[i], w.fault, w.pa);
            want += st == MM_OK;
        }
        ck_assert_uint_eq(ok, want);
    }
    free(va);
    free(pa);
    free(fault);
    mm_destroy(m);
}
END_TEST

START_TEST(test_batch_empty)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_uint_eq(mm_translate_batch(m, NULL, 0, 0, NULL, NULL), 0);
    mm_destroy(m);
}
END_TEST

/* Reusing the last block must not leak into the next MiB or page. */
START_TEST(test_batch_block_edges)
{
    struct mm_machine *m = t_machine("aries", NULL);
    const mm_vaddr_t va[] = {
        0xc8bfffff, 0xc8c00000, 0xc8dfffff, 0xc8e00000, 0xbfe00fff, 0xbfe01000,
        0xef7fffff, 0xef800000, 0x00000001, 0x00000001,
    };
    enum { N = sizeof(va) / sizeof(va[0]) };
    mm_paddr_t pa[N];
    uint8_t fault[N];
    mm_vaddr_t kva;

    kmap_highmem(m, &kva);
    ck_assert_uint_eq(mm_translate_batch(m, va, N, 0, pa, fault), 4);
    ck_assert_uint_eq(pa[0], 0x88dfffff);
    ck_assert_uint_eq(fault[1], MM_FAULT_TRANSLATION_L1);
    ck_assert_uint_eq(fault[2], MM_FAULT_TRANSLATION_L1);
    ck_assert_uint_eq(pa[3], 0x89000000);
    ck_assert_uint_eq(fault[4], MM_FAULT_TRANSLATION_L2);
    ck_assert_uint_eq(fault[5], MM_FAULT_NONE);
    ck_assert_uint_eq(pa[6], 0xaf9fffff);
    ck_assert_uint_eq(fault[7], MM_FAULT_TRANSLATION_L1);
    ck_assert_uint_eq(fault[9], MM_FAULT_TRANSLATION_L1);
    ck_assert_uint_eq(pa[9], 0);
    mm_destroy(m);
}
END_TEST

/* ---- regions ------------------------------------------------------------------ */

START_TEST(test_region_names_aries)
{
    struct mm_machine *m = t_machine("aries", NULL);

    ck_assert_str_eq(mm_region_name(m, 0x00000000), "user");
    ck_assert_str_eq(mm_region_name(m, 0xbeffffff), "user");
    ck_assert_str_eq(mm_region_name(m, 0xbf000000), "modules");
    ck_assert_str_eq(mm_region_name(m, 0xbfdfffff), "modules");
    ck_assert_str_eq(mm_region_name(m, 0xbfe00000), "pkmap");
    ck_assert_str_eq(mm_region_name(m, 0xbfffffff), "pkmap");
    ck_assert_str_eq(mm_region_name(m, 0xc0000000), "lowmem");
    ck_assert_str_eq(mm_region_name(m, 0xef7fffff), "lowmem");
    ck_assert_str_eq(mm_region_name(m, 0xef800000), "gap");
    ck_assert_str_eq(mm_region_name(m, 0xf0000000), "vmalloc");
    ck_assert_str_eq(mm_region_name(m, 0xfeffffff), "vmalloc");
    ck_assert_str_eq(mm_region_name(m, 0xfff00000), "fixmap");
    ck_assert_str_eq(mm_region_name(m, 0xfffdffff), "fixmap");
    ck_assert_str_eq(mm_region_name(m, 0xffff0000), "vector");
    ck_assert_str_eq(mm_region_name(m, 0xffff0fff), "vector");
    ck_assert_str_eq(mm_region_name(m, 0xffff1000), "gap");
    ck_assert_str_eq(mm_region_name(m, 0xffffffff), "gap");
    mm_destroy(m);
}
END_TEST

/* Without HIGHMEM the module area runs up to PAGE_OFFSET; no pkmap. */
START_TEST(test_region_no_pkmap_without_highmem)
{
    struct mm_machine *m = t_machine("qemu-virt", "highmem=0", NULL);

    ck_assert_str_eq(mm_region_name(m, m->lay.page_offset - 1), "modules");
    mm_destroy(m);
}
END_TEST

/* ---- __pa, __va, virt_to_page, page_address ----------------------------------- */

START_TEST(test_pa_lowmem)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "";
    mm_paddr_t pa;

    ck_assert_int_eq(mm_pa(m, 0xc0000000, &pa, err), MM_OK);
    ck_assert_uint_eq(pa, 0x80200000);
    ck_assert_int_eq(mm_pa(m, 0xef7fffff, &pa, err), MM_OK);
    ck_assert_uint_eq(pa, 0xaf9fffff);
    mm_destroy(m);
}
END_TEST

START_TEST(test_pa_not_lowmem)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "";
    mm_paddr_t pa;

    ck_assert_int_eq(mm_pa(m, 0xef800000, &pa, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "pa: 0xef800000 is in gap, not lowmem (0xc0000000-0xef800000)");
    ck_assert_int_eq(mm_pa(m, 0xbfe01000, &pa, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "pa: 0xbfe01000 is in pkmap, not lowmem (0xc0000000-0xef800000)");
    mm_destroy(m);
}
END_TEST

START_TEST(test_va_lowmem_and_not)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "";
    mm_vaddr_t va;

    ck_assert_int_eq(mm_va(m, 0x80200000, &va, err), MM_OK);
    ck_assert_uint_eq(va, 0xc0000000);
    ck_assert_int_eq(mm_va(m, 0xaf9fffff, &va, err), MM_OK);
    ck_assert_uint_eq(va, 0xef7fffff);
    ck_assert_int_eq(mm_va(m, 0xafa00000, &va, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "va: physical 0xafa00000 is not lowmem (0x80200000-0xafa00000)");
    ck_assert_int_eq(mm_va(m, 0x801fffff, &va, err), MM_INVALID_ARGUMENT);
    mm_destroy(m);
}
END_TEST

START_TEST(test_virt_to_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "";
    mm_pfn_t pfn;

    ck_assert_int_eq(mm_virt_to_page(m, 0xc0001234, &pfn, err), MM_OK);
    ck_assert_uint_eq(pfn, 0x80201);
    ck_assert_int_eq(mm_virt_to_page(m, 0xc8c00000, &pfn, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "virt_to_page: 0xc8c00000 is lowmem but pfn 0x88e00 is not RAM");
    ck_assert_int_eq(mm_virt_to_page(m, 0xf0000000, &pfn, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "virt_to_page: 0xf0000000 is in vmalloc, not lowmem "
                          "(0xc0000000-0xef800000)");
    mm_destroy(m);
}
END_TEST

START_TEST(test_page_address_lowmem)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "";
    mm_vaddr_t va;

    ck_assert_int_eq(mm_page_address(m, 0x80201, &va, err), MM_OK);
    ck_assert_uint_eq(va, 0xc0001000);
    mm_destroy(m);
}
END_TEST

START_TEST(test_page_address_highmem)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "", want[MM_MSG_MAX];
    struct mm_result r;
    mm_vaddr_t va;
    mm_pfn_t pfn;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), MM_OK);
    pfn = r.value;
    ck_assert_int_eq(mm_page_address(m, pfn, &va, err), MM_NOT_FOUND);
    snprintf(want, sizeof(want), "page_address: highmem pfn 0x%x is not kmapped "
             "(the kernel returns NULL)", pfn);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(mm_kmap(m, pfn, &r), MM_OK);
    ck_assert_int_eq(mm_page_address(m, pfn, &va, err), MM_OK);
    ck_assert_uint_eq(va, 0xbfe01000);
    mm_destroy(m);
}
END_TEST

START_TEST(test_page_address_not_ram)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char err[MM_MSG_MAX] = "";
    mm_vaddr_t va;

    ck_assert_int_eq(mm_page_address(m, 0x88e00, &va, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "page_address: pfn 0x88e00 is not RAM");
    mm_destroy(m);
}
END_TEST

/* ---- aliases --------------------------------------------------------------- */

START_TEST(test_aliases_lowmem_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_alias a[4];
    struct mm_result r;
    mm_paddr_t pa;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &r), MM_OK);
    pa = (mm_paddr_t)MM_PFN_PHYS(r.value) + 0x10;
    ck_assert_uint_eq(mm_phys_aliases(m, pa, a, 4), 1);
    ck_assert_uint_eq(a[0].va, pa - 0x80200000 + 0xc0000000);
    ck_assert_str_eq(mm_vregion_name(a[0].region), "lowmem");
    mm_destroy(m);
}
END_TEST

START_TEST(test_aliases_kmapped_highmem_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_alias a[4];
    mm_vaddr_t va;
    mm_pfn_t pfn = kmap_highmem(m, &va);

    ck_assert_uint_eq(mm_phys_aliases(m, (mm_paddr_t)MM_PFN_PHYS(pfn) + 0x123, a, 4), 1);
    ck_assert_uint_eq(a[0].va, 0xbfe01123);
    ck_assert_str_eq(mm_vregion_name(a[0].region), "pkmap");
    mm_destroy(m);
}
END_TEST

START_TEST(test_aliases_unmapped_highmem_page)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result r;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), MM_OK);
    ck_assert_uint_eq(mm_phys_aliases(m, (mm_paddr_t)MM_PFN_PHYS(r.value), NULL, 0), 0);
    mm_destroy(m);
}
END_TEST

/* 3.4 kunmap_atomic leaves the PTE: the stale alias is still there. */
START_TEST(test_aliases_stale_kmap_atomic)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_alias a[4];
    struct mm_result r;
    mm_paddr_t pa;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), MM_OK);
    pa = (mm_paddr_t)MM_PFN_PHYS(r.value);
    ck_assert_int_eq(mm_kmap_atomic(m, 0, r.value, -1, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xfff00000);
    ck_assert_int_eq(mm_kunmap_atomic(m, 0, 0xfff00000, &r), MM_OK);
    ck_assert_uint_eq(mm_phys_aliases(m, pa, a, 4), 1);
    ck_assert_uint_eq(a[0].va, 0xfff00000);
    ck_assert_str_eq(mm_vregion_name(a[0].region), "fixmap");
    mm_destroy(m);
}
END_TEST

/* The vectors page: its direct-map address and 0xffff0000, ascending;
 * @max bounds what is written, not what is counted. */
START_TEST(test_aliases_vectors_page_and_max)
{
    struct mm_machine *m = t_machine("aries", NULL);
    mm_paddr_t pa = mm__pte_get(m, 0xffff0000) & 0xfffff000;
    struct mm_alias a[2] = {{0, MM_VREGION_GAP}, {0, MM_VREGION_GAP}};

    ck_assert_uint_eq(mm_phys_aliases(m, pa, a, 2), 2);
    ck_assert_uint_eq(a[0].va, pa - 0x80200000 + 0xc0000000);
    ck_assert_str_eq(mm_vregion_name(a[0].region), "lowmem");
    ck_assert_uint_eq(a[1].va, 0xffff0000);
    ck_assert_str_eq(mm_vregion_name(a[1].region), "vector");
    memset(a, 0, sizeof(a));
    ck_assert_uint_eq(mm_phys_aliases(m, pa, a, 1), 2);
    ck_assert_uint_eq(a[0].va, pa - 0x80200000 + 0xc0000000);
    ck_assert_uint_eq(a[1].va, 0);
    mm_destroy(m);
}
END_TEST

Suite *mmu_suite(void)
{
    Suite *s = suite_create("mmu");
    TCase *tc = tcase_create("regs");

    tcase_add_test(tc, test_regs_aries);
    tcase_add_test(tc, test_regs_up);
    tcase_add_test(tc, test_regs_pan_dacr);
    suite_add_tcase(s, tc);

    tc = tcase_create("walk");
    tcase_add_test(tc, test_walk_lowmem_first_byte);
    tcase_add_test(tc, test_walk_lowmem_last_byte);
    tcase_add_test(tc, test_walk_gap_after_lowmem);
    tcase_add_test(tc, test_walk_bank_hole);
    tcase_add_test(tc, test_walk_user_space_unmapped);
    tcase_add_test(tc, test_walk_vector_page);
    tcase_add_test(tc, test_walk_pkmap_after_kmap);
    tcase_add_test(tc, test_walk_pkmap_empty_slot);
    tcase_add_test(tc, test_walk_vmalloc_guard_page);
    suite_add_tcase(s, tc);

    tc = tcase_create("perm");
    tcase_add_test(tc, test_perm_user_read_lowmem);
    tcase_add_test(tc, test_perm_kernel_rwx_lowmem_3x);
    tcase_add_test(tc, test_perm_kernel_write_vectors);
    tcase_add_test(tc, test_perm_user_vectors);
    tcase_add_test(tc, test_perm_exec_vmalloc_page);
    tcase_add_test(tc, test_perm_exec_module_page);
    tcase_add_test(tc, test_perm_exec_lowmem_nx_4x);
    tcase_add_test(tc, test_domain_fault_section);
    tcase_add_test(tc, test_domain_fault_page);
    tcase_add_test(tc, test_domain_pan_user_domain);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode");
    tcase_add_test(tc, test_decode_l1_type3_faults);
    tcase_add_test(tc, test_decode_supersection);
    tcase_add_test(tc, test_decode_large_page);
    tcase_add_test(tc, test_format_section);
    tcase_add_test(tc, test_format_fault);
    tcase_add_test(tc, test_format_page_and_truncation);
    tcase_add_test(tc, test_fault_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_batch_equals_single);
    tcase_add_test(tc, test_batch_empty);
    tcase_add_test(tc, test_batch_block_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("direct");
    tcase_add_test(tc, test_region_names_aries);
    tcase_add_test(tc, test_region_no_pkmap_without_highmem);
    tcase_add_test(tc, test_pa_lowmem);
    tcase_add_test(tc, test_pa_not_lowmem);
    tcase_add_test(tc, test_va_lowmem_and_not);
    tcase_add_test(tc, test_virt_to_page);
    tcase_add_test(tc, test_page_address_lowmem);
    tcase_add_test(tc, test_page_address_highmem);
    tcase_add_test(tc, test_page_address_not_ram);
    suite_add_tcase(s, tc);

    tc = tcase_create("aliases");
    tcase_add_test(tc, test_aliases_lowmem_page);
    tcase_add_test(tc, test_aliases_kmapped_highmem_page);
    tcase_add_test(tc, test_aliases_unmapped_highmem_page);
    tcase_add_test(tc, test_aliases_stale_kmap_atomic);
    tcase_add_test(tc, test_aliases_vectors_page_and_max);
    suite_add_tcase(s, tc);
    return s;
}
