/* engine/pgtable.c - swapper_pg_dir: ARMv7 short-descriptor page tables.
 *
 * The kernel's page tables live in the machine's emulated physical memory,
 * in exactly the layout the 2-level ARM kernel gives them, so that the MMU
 * walk in mmu.c reads them as the hardware would.  swapper_pg_dir is 16 KiB
 * at m->lay.pgd_pa: 4096 hardware first-level words.  A Linux pgd entry is
 * a pair of them (2 MiB).  A PTE page (4 KiB) serves one pair: Linux pt 0 at
 * +0, Linux pt 1 at +1024, hardware pt 0 at +2048, hardware pt 1 at +3072;
 * the first-level words point at the hardware halves.
 *
 * Design: every write goes through two primitives, the first-level word
 * (mm__l1_write) and set_pte_ext() (the Linux PTE and the hardware PTE
 * derived from it, as cpu_v7_set_pte_ext does), so the two copies can never
 * disagree (vmalloc.c's ioremap writes its UP MT_DEVICE sections and
 * clears pgd entries through mm__l1_write() too).  The memory types the
 * kernel uses (mem_types[] after build_mem_type_table()) are computed per
 * machine from the facts that change them: SMP or UP (m->lay.smp, CONFIG_SMP; a UP kernel keeps
 * the default write-back policy and no Shared bit), and the kernel version
 * (vectors domain from 4.3, non-executable lowmem outside the kernel text
 * from 3.19; before 2.6.38 v7 still used domains and cpu_v7_set_pte_ext
 * gave the kernel write access to read-only user pages, which is not
 * modelled: those kernels get 3.4's rules).  There is no TLB: translation always walks the tables, so the
 * TLB flush calls only count.  mm__pgtable_check() re-derives every entry
 * from these rules and from the buddy allocator's view of the PTE pages.
 *
 * Emulates: arch/arm/mm/mmu.c build_mem_type_table() (v7 part),
 * create_mapping(), alloc_init_pud(), alloc_init_section(),
 * alloc_init_pte(), early_pte_alloc(), map_lowmem() (3.19+ RW/RWX split);
 * arch/arm/mm/init.c fix_kernmem_perms(), mark_rodata_ro() (6.1 reference
 * build, config version 3);
 * arch/arm/include/asm/pgalloc.h __pmd_populate(), pte_alloc_kernel();
 * arch/arm/mm/proc-v7-2level.S cpu_v7_set_pte_ext();
 * arch/arm/include/asm/pgtable.h set_pte_at(), mk_pte(), pte_clear();
 * arch/arm/include/asm/tlbflush.h flush_tlb_kernel_page/range() (counted).
 */
#include "mm_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* KERNEL: 3.4 arch/arm/include/asm/pgtable-2level-hwdef.h */
#define PMD_TYPE_MASK       0x3u
#define PMD_TYPE_TABLE      0x1u
#define PMD_TYPE_SECT       0x2u
#define PMD_SECT_BUFFERABLE (1u << 2)
#define PMD_SECT_CACHEABLE  (1u << 3)
#define PMD_SECT_XN         (1u << 4)
#define PMD_DOMAIN(x)       ((uint32_t)(x) << 5)
#define PMD_SECT_AP_WRITE   (1u << 10)
#define PMD_SECT_TEX(x)     ((uint32_t)(x) << 12)
#define PMD_SECT_S          (1u << 16)
#define PMD_SECT_SUPER      (1u << 18)
#define PMD_SECT_WB         (PMD_SECT_CACHEABLE | PMD_SECT_BUFFERABLE)
#define PMD_SECT_WBWA       (PMD_SECT_TEX(1) | PMD_SECT_CACHEABLE | PMD_SECT_BUFFERABLE)
#define PTE_EXT_XN          (1u << 0)
#define PTE_EXT_AP0         (1u << 4)
#define PTE_EXT_AP1         (1u << 5)
#define PTE_EXT_TEX(x)      ((uint32_t)(x) << 6)
#define PTE_EXT_APX         (1u << 9)
#define PTE_EXT_NG          (1u << 11)
#define PTE_TYPE_SMALL      0x2u

/* KERNEL: 3.4 arch/arm/include/asm/pgtable-2level.h (memory types, bits 2-5) */
#define L_PTE_MT_WRITETHROUGH (0x02u << 2)
#define L_PTE_MT_WRITEBACK    (0x03u << 2)
#define L_PTE_MT_WRITEALLOC   (0x07u << 2)
#define L_PTE_MT_DEV_SHARED   (0x04u << 2)

/* KERNEL: 3.4 arch/arm/include/asm/domain.h; 4.3+ adds DOMAIN_VECTORS 3 */
#define DOMAIN_KERNEL  0
#define DOMAIN_USER    1
#define DOMAIN_IO      2
#define DOMAIN_VECTORS 3

#define KERNEL_TABLE   (PMD_TYPE_TABLE | (1u << 4) | PMD_DOMAIN(DOMAIN_KERNEL))
#define PAGE_MASK32    0xfffff000u
#define SECTION_MASK32 0xfff00000u

/* KERNEL: 6.1 arch/arm/include/asm/pgtable-2level-hwdef.h */
#define PMD_SECT_APX (1u << 15)

/* One entry of mem_types[] after build_mem_type_table(). */
struct mem_type {
    uint32_t prot_pte;  /* Linux PTE bits */
    uint32_t prot_l1;   /* first-level bits of a page table */
    uint32_t prot_sect; /* section bits; 0: pages only */
};

enum mem_type_id {
    MT_MEMORY_RWX, /* 3.4 MT_MEMORY */
    MT_MEMORY_RW,  /* 3.19+ non-text lowmem */
    MT_DEVICE,
    MT_HIGH_VECTORS,
    MT_LOW_VECTORS,
    MT_MEMORY_DMA_READY,
    MT_MEMORY_RO /* 6.1: the device tree's map */
};

/* ------------------------------------------------------------------ */
/* Memory types                                                        */
/* ------------------------------------------------------------------ */

/* is_smp(): CONFIG_SMP, and with SMP_ON_UP the boot test of MPIDR (MP set,
 * U clear), which every ARMv7 MP core modelled here passes (A8 would not). */
static bool is_smp(const struct mm_machine *m)
{
    return m->lay.smp; /* CONFIG_SMP on an MP-capable ARMv7 core */
}

/*
 * kern_pgprot: the cache policy's Linux memory type, Shared on SMP.
 * KERNEL: 3.4 arch/arm/mm/mmu.c build_mem_type_table(): is_smp() forces
 * CPOLICY_WRITEALLOC, UP keeps the default CPOLICY_WRITEBACK; L_PTE_SHARED
 * when is_smp() (4.x: when the boot PMD flags carry S, i.e. PMD_FLAGS_SMP).
 */
static uint32_t kern_pgprot(const struct mm_machine *m)
{
    return is_smp(m) ? L_PTE_MT_WRITEALLOC | MM_L_PTE_SHARED : L_PTE_MT_WRITEBACK;
}

/*
 * vecs_pgprot: as kern_pgprot, except that a UP kernel maps the vectors
 * write-through.  KERNEL: 3.4 build_mem_type_table() "Only use
 * write-through for non-SMP systems"; gone in 4.19 (the 4.1 boundary is
 * not verified in source).
 */
static uint32_t vecs_pgprot(const struct mm_machine *m)
{
    if (!is_smp(m) && m->cfg.kernel < MM_KVER(4, 1, 0))
        return L_PTE_MT_WRITETHROUGH;
    return kern_pgprot(m);
}

/* pgprot_kernel = PRESENT | YOUNG | DIRTY | kern_pgprot (build_mem_type_table()). */
static uint32_t pgprot_kernel(const struct mm_machine *m)
{
    return MM_L_PTE_PRESENT | MM_L_PTE_YOUNG | MM_L_PTE_DIRTY | kern_pgprot(m);
}

/* The domain of the vectors page table.  KERNEL: 3.4 mmu.c mem_types[]
 * MT_HIGH_VECTORS .domain = DOMAIN_USER; 4.19 DOMAIN_VECTORS (from 4.3). */
static unsigned vectors_domain(const struct mm_machine *m)
{
    return m->cfg.kernel >= MM_KVER(4, 3, 0) ? DOMAIN_VECTORS : DOMAIN_USER;
}

/*
 * mem_types[@id] for this machine.  KERNEL: 3.4 arch/arm/mm/mmu.c
 * mem_types[] and build_mem_type_table() for ARMv7 with TEX remap
 * (SCTLR.TRE) and no ECC: MT_MEMORY section = SECT | AP_WRITE | cp->pmd
 * (| S on SMP); MT_DEVICE section gains XN and TEX(1); prot_l1 gets the
 * domain; no PMD_BIT4 on v6+.  MT_MEMORY_RW is 4.19's (XN section, XN PTE).
 */
static struct mem_type mem_type(const struct mm_machine *m, enum mem_type_id id)
{
    uint32_t sect_mem = PMD_TYPE_SECT | PMD_SECT_AP_WRITE | PMD_DOMAIN(DOMAIN_KERNEL) |
                        (is_smp(m) ? PMD_SECT_WBWA | PMD_SECT_S : PMD_SECT_WB);
    struct mem_type t = { 0, 0, 0 };

    switch (id) {
    case MT_MEMORY_RWX:
        t.prot_pte = pgprot_kernel(m);
        t.prot_l1 = PMD_TYPE_TABLE | PMD_DOMAIN(DOMAIN_KERNEL);
        t.prot_sect = sect_mem;
        break;
    case MT_MEMORY_RW:
        t.prot_pte = pgprot_kernel(m) | MM_L_PTE_XN;
        t.prot_l1 = PMD_TYPE_TABLE | PMD_DOMAIN(DOMAIN_KERNEL);
        t.prot_sect = sect_mem | PMD_SECT_XN;
        break;
    case MT_DEVICE:
        t.prot_pte = MM_L_PTE_PRESENT | MM_L_PTE_YOUNG | MM_L_PTE_DIRTY | MM_L_PTE_XN |
                     L_PTE_MT_DEV_SHARED | MM_L_PTE_SHARED;
        t.prot_l1 = PMD_TYPE_TABLE | PMD_DOMAIN(DOMAIN_IO);
        t.prot_sect = PMD_TYPE_SECT | PMD_SECT_AP_WRITE | PMD_SECT_S | PMD_SECT_XN |
                      PMD_SECT_TEX(1) | PMD_DOMAIN(DOMAIN_IO);
        break;
    case MT_HIGH_VECTORS:
        t.prot_pte = MM_L_PTE_PRESENT | MM_L_PTE_YOUNG | MM_L_PTE_DIRTY | MM_L_PTE_USER |
                     MM_L_PTE_RDONLY | vecs_pgprot(m);
        t.prot_l1 = PMD_TYPE_TABLE | PMD_DOMAIN(vectors_domain(m));
        break;
    case MT_LOW_VECTORS:
        /* KERNEL: 4.19, 6.1 mmu.c mem_types[MT_LOW_VECTORS]: MT_HIGH_VECTORS
         * without L_PTE_USER, vecs_pgprot added the same way */
        t.prot_pte = MM_L_PTE_PRESENT | MM_L_PTE_YOUNG | MM_L_PTE_DIRTY |
                     MM_L_PTE_RDONLY | vecs_pgprot(m);
        t.prot_l1 = PMD_TYPE_TABLE | PMD_DOMAIN(vectors_domain(m));
        break;
    case MT_MEMORY_DMA_READY:
        /* KERNEL: 6.1 mmu.c mem_types[MT_MEMORY_DMA_READY]: PRESENT | YOUNG |
         * DIRTY | XN, kern_pgprot and L_PTE_SHARED added as for MT_MEMORY_RW;
         * prot_l1 PMD_TYPE_TABLE | DOMAIN_KERNEL; no prot_sect, so
         * create_mapping() always uses pages */
        t.prot_pte = pgprot_kernel(m) | MM_L_PTE_XN;
        t.prot_l1 = PMD_TYPE_TABLE | PMD_DOMAIN(DOMAIN_KERNEL);
        break;
    case MT_MEMORY_RO:
        /* KERNEL: 6.1 mmu.c mem_types[MT_MEMORY_RO] (PMD_TYPE_SECT, XN PTE,
         * L_PTE_RDONLY) and build_mem_type_table(): PMD_SECT_XN on v6+,
         * PMD_SECT_APX | PMD_SECT_AP_WRITE (kernel read-only), the cache
         * policy's pmd bits and PMD_SECT_S with the other memory types */
        t.prot_pte = pgprot_kernel(m) | MM_L_PTE_XN | MM_L_PTE_RDONLY;
        t.prot_l1 = PMD_TYPE_TABLE | PMD_DOMAIN(DOMAIN_KERNEL);
        t.prot_sect = sect_mem | PMD_SECT_XN | PMD_SECT_APX;
        break;
    }
    return t;
}

/*
 * Whether lowmem outside the kernel text is mapped non-executable.
 * KERNEL: 4.19 arch/arm/mm/mmu.c map_lowmem() splits each region at
 * kernel_x_start/end into MT_MEMORY_RW and MT_MEMORY_RWX (introduced in
 * 3.19 with "allow non-text sections to be non-executable"; 3.18 and
 * earlier map all lowmem MT_MEMORY).  What STRICT_KERNEL_RWX changes
 * after boot is mm__fix_kernmem_perms().
 */
static bool lowmem_nx(const struct mm_machine *m)
{
    return m->cfg.kernel >= MM_KVER(3, 19, 0);
}

/* __pa(KERNEL_START) rounded down and __pa(__init_end) rounded up to 1 MiB.
 * KERNEL: 4.19 map_lowmem(): KERNEL_START is _stext; 6.1 map_kernel():
 * kernel_x_start is kernel_sec_start, which head.S sets to PHYS_OFFSET
 * (the state at boot; fix_kernmem_perms() of STRICT_KERNEL_RWX later
 * takes X from [PAGE_OFFSET, _stext), mm__fix_kernmem_perms()). */
static void kernel_x_range(const struct mm_machine *m, uint64_t *start, uint64_t *end)
{
    const struct mm_layout *lay = &m->lay;
    uint64_t s = m->cfg.kernel >= MM_KVER(6, 1, 0)
                     ? lay->phys_offset
                     : (uint64_t)lay->stext - lay->page_offset + lay->phys_offset;
    uint64_t e = (uint64_t)lay->init.end - lay->page_offset + lay->phys_offset;

    *start = s & ~(uint64_t)(MM_SECTION_SIZE - 1);
    *end = (e + MM_SECTION_SIZE - 1) & ~(uint64_t)(MM_SECTION_SIZE - 1);
}

/*
 * The memory type map_lowmem() gives physical address @pa of the lowmem
 * region [@rs, @re), with @nx lowmem_nx() and [@xs, @xe) kernel_x_range()
 * (the caller derives them once per check).  KERNEL: 4.19 map_lowmem(): a
 * region wholly below kernel_x_start stays RWX ("end < kernel_x_start"),
 * one at or above kernel_x_end is RW, a region across the kernel is RW /
 * RWX / RW.
 */
static enum mem_type_id lowmem_type(bool nx, uint64_t xs, uint64_t xe, uint64_t rs,
                                    uint64_t re, uint64_t pa)
{
    if (!nx)
        return MT_MEMORY_RWX;
    if (re < xs)
        return MT_MEMORY_RWX;
    if (rs >= xe)
        return MT_MEMORY_RW;
    return pa >= xs && pa < xe ? MT_MEMORY_RWX : MT_MEMORY_RW;
}

uint32_t mm__section_prot(const struct mm_machine *m)
{
    return mem_type(m, MT_MEMORY_RWX).prot_sect;
}

/* ------------------------------------------------------------------ */
/* STRICT_KERNEL_RWX: the section permissions set after boot           */
/* ------------------------------------------------------------------ */


/* One entry of nx_perms[] / ro_perms[]: sections of [start, end) get
 * (e & mask) | prot. */
struct section_perm {
    uint64_t start, end;
    uint32_t mask, prot;
};

/*
 * The ranges fix_kernmem_perms() (nx_perms[]) and mark_rodata_ro()
 * (ro_perms[]) change on this machine, into @p; returns how many (0 when
 * the build has no STRICT_KERNEL_RWX or the boot is not modelled that
 * far).  KERNEL: 6.1 arch/arm/mm/init.c nx_perms[]: "pre-text NX"
 * PAGE_OFFSET.._stext, "init NX" __init_begin.._sdata, "rodata NX"
 * __start_rodata_section_aligned..__init_begin, each ~PMD_SECT_XN /
 * PMD_SECT_XN; ro_perms[] "text/rodata RO" _stext..__init_begin,
 * ~(PMD_SECT_APX | PMD_SECT_AP_WRITE) / PMD_SECT_APX | PMD_SECT_AP_WRITE.
 * arch/arm/kernel/vmlinux.lds.S: __start_rodata_section_aligned =
 * ALIGN(__start_rodata, 1 << SECTION_SHIFT), rodata following _etext.
 */
static unsigned section_perms(const struct mm_machine *m, struct section_perm p[4])
{
    const struct mm_layout *lay = &m->lay;
    uint64_t rodata = ((uint64_t)lay->text.end + MM_SECTION_SIZE - 1) &
                      ~(uint64_t)(MM_SECTION_SIZE - 1);
    uint32_t ro = PMD_SECT_APX | PMD_SECT_AP_WRITE;

    if (!mm__config_strict_rwx(&m->cfg))
        return 0;
    p[0] = (struct section_perm){ lay->page_offset, lay->stext, ~PMD_SECT_XN,
                                  PMD_SECT_XN };
    p[1] = (struct section_perm){ lay->init.start, lay->data.start, ~PMD_SECT_XN,
                                  PMD_SECT_XN };
    p[2] = (struct section_perm){ rodata, lay->init.start, ~PMD_SECT_XN, PMD_SECT_XN };
    p[3] = (struct section_perm){ lay->stext, lay->init.start, ~ro, ro };
    return 4;
}

/* Whether @p is applied: set_section_perms() skips ("BUG: %s section
 * %lx-%lx not aligned") a range whose start or end is not section
 * aligned.  KERNEL: 6.1 arch/arm/mm/init.c set_section_perms(). */
static bool section_perm_aligned(const struct section_perm *p)
{
    return ((p->start | p->end) & (MM_SECTION_SIZE - 1)) == 0;
}

/* The section word @e of @va after the permission updates of the boot. */
static uint32_t kernmem_perms(const struct section_perm *p, unsigned n, mm_vaddr_t va,
                              uint32_t e)
{
    for (unsigned i = 0; i < n; i++) {
        if (section_perm_aligned(&p[i]) && va >= p[i].start && va < p[i].end)
            e = (e & p[i].mask) | p[i].prot;
    }
    return e;
}

/*
 * fix_kernmem_perms() (from free_initmem()) and then mark_rodata_ro(): the
 * first-level word of each lowmem MiB of the ranges above.  The kernel
 * rewrites the word whatever it holds; here only sections are changed (on
 * the reference build every MiB from PAGE_OFFSET to _sdata is one).
 * KERNEL: 6.1 arch/arm/mm/init.c section_update(), set_section_perms().
 */
void mm__fix_kernmem_perms(struct mm_machine *m)
{
    struct section_perm p[4];
    unsigned n = section_perms(m, p);

    for (unsigned i = 0; i < n; i++) {
        if (!section_perm_aligned(&p[i]))
            continue;
        for (uint64_t a = p[i].start; a < p[i].end && a < m->lay.high_memory;
             a += MM_SECTION_SIZE) {
            uint32_t e = mm__l1_read(m, (unsigned)(a >> 20));

            if ((e & PMD_TYPE_MASK) == PMD_TYPE_SECT)
                mm__l1_write(m, (unsigned)(a >> 20), (e & p[i].mask) | p[i].prot);
        }
    }
}

/* ------------------------------------------------------------------ */
/* First level                                                         */
/* ------------------------------------------------------------------ */

uint32_t mm__l1_read(const struct mm_machine *m, unsigned idx)
{
    assert(idx < 4096);
    return mm__phys_read32(m->phys, m->lay.pgd_pa + idx * 4u);
}

void mm__l1_write(struct mm_machine *m, unsigned idx, uint32_t val)
{
    uint32_t *pg;

    assert(idx < 4096);
    mm__touch_l1(m, idx);
    pg = mm__phys_page_rw(m->phys, MM_PFN(m->lay.pgd_pa) + idx / 1024);
    assert(pg != NULL); /* machine.c creates the pgd's pages at boot */
    if (pg != NULL) {
        mm__physidx_l1(m, idx, pg[idx % 1024], false);
        pg[idx % 1024] = val;
        mm__physidx_l1(m, idx, val, true);
    }
}

/* pmd_off_k(): the even first-level index of @va's Linux pgd entry. */
static unsigned pmd_index(mm_vaddr_t va)
{
    return (va >> 21) * 2;
}

void mm__pmd_populate(struct mm_machine *m, mm_vaddr_t va, mm_paddr_t pte_pa,
                      uint32_t prot_l1)
{
    unsigned idx = pmd_index(va);
    uint32_t pmdval = (pte_pa + MM_PTE_HWTABLE_OFF) | prot_l1;

    assert((pte_pa & ~PAGE_MASK32) == 0);
    /* KERNEL: 3.4 arch/arm/include/asm/pgalloc.h __pmd_populate() */
    mm__l1_write(m, idx, pmdval);
    mm__l1_write(m, idx + 1, pmdval + 256 * sizeof(uint32_t));
}

bool mm__has_pte_page(const struct mm_machine *m, mm_vaddr_t va)
{
    return (mm__l1_read(m, pmd_index(va)) & PMD_TYPE_MASK) == PMD_TYPE_TABLE;
}

/* The PTE page first-level entry @pmd points at (pmd_page_vaddr(): the
 * Linux half), or 0 if it is no table. */
static mm_paddr_t pmd_table(uint32_t pmd)
{
    return (pmd & PMD_TYPE_MASK) == PMD_TYPE_TABLE ? pmd & PAGE_MASK32 : 0;
}

mm_paddr_t mm__pte_page(const struct mm_machine *m, mm_vaddr_t va)
{
    return pmd_table(mm__l1_read(m, pmd_index(va)));
}

/* ------------------------------------------------------------------ */
/* Second level                                                        */
/* ------------------------------------------------------------------ */

/*
 * The hardware PTE cpu_v7_set_pte_ext() stores for Linux PTE @pte.
 * KERNEL: 3.4 arch/arm/mm/proc-v7-2level.S cpu_v7_set_pte_ext (no
 * CPU_USE_DOMAINS on v7): clear bits 4-9 and the type, add ext, AP0 and
 * the small-page type; TEX(1) from MT bit 4; APX if RDONLY or not DIRTY;
 * AP1 if USER; XN; zero unless YOUNG and PRESENT.
 */
static uint32_t v7_hw_pte(uint32_t pte, uint32_t ext)
{
    uint32_t hw = (pte & ~0x3f3u) | ext | PTE_EXT_AP0 | PTE_TYPE_SMALL;

    if (pte & (1u << 4))
        hw |= PTE_EXT_TEX(1);
    if ((pte & MM_L_PTE_RDONLY) || !(pte & MM_L_PTE_DIRTY))
        hw |= PTE_EXT_APX;
    if (pte & MM_L_PTE_USER)
        hw |= PTE_EXT_AP1;
    if (pte & MM_L_PTE_XN)
        hw |= PTE_EXT_XN;
    if (!(pte & MM_L_PTE_YOUNG) || !(pte & MM_L_PTE_PRESENT))
        hw = 0;
    return hw;
}

/* set_pte_at()'s ext: nG for present user PTEs below TASK_SIZE.
 * KERNEL: 3.4 arch/arm/include/asm/pgtable.h set_pte_at() */
static uint32_t pte_ext_for(const struct mm_machine *m, mm_vaddr_t va, uint32_t pte)
{
    uint32_t pu = MM_L_PTE_PRESENT | MM_L_PTE_USER;

    return va < m->lay.task_size && (pte & pu) == pu ? PTE_EXT_NG : 0;
}

/* set_pte_ext(): the Linux PTE and, 2048 bytes above, the hardware PTE.
 * The first-level page is looked up once (each lookup is a physmem probe,
 * and every vmalloc and vfree page comes here): it holds both the Linux
 * pmd (the even entry) and the entry of @va's own MiB, which the reverse
 * map checks.  The table must exist. */
static void set_pte_ext(struct mm_machine *m, mm_vaddr_t va, uint32_t pte, uint32_t ext)
{
    const uint32_t *l1pg = mm__phys_page(m->phys, MM_PFN(m->lay.pgd_pa) + (va >> 30));
    unsigned i = (va >> MM_PAGE_SHIFT) & (MM_PTRS_PER_PTE - 1);
    uint32_t hw = v7_hw_pte(pte, ext);
    uint32_t pmd, l1, *pg;
    mm_paddr_t table, hw_pa;

    assert(l1pg != NULL); /* machine.c creates the pgd's pages at boot */
    assert((m->lay.pgd_pa & (MM_PAGE_SIZE - 1)) == 0);
    pmd = l1pg[pmd_index(va) % 1024];
    l1 = l1pg[(va >> 20) % 1024];
    assert((pmd & PMD_TYPE_MASK) == PMD_TYPE_TABLE);
    table = pmd_table(pmd);
    hw_pa = table + MM_PTE_HWTABLE_OFF + i * 4u;
    pg = mm__phys_page_rw(m->phys, MM_PFN(table));
    assert(pg != NULL); /* created when the table was allocated */

    mm__touch_l1(m, va >> 20);
    pg[i] = pte;
    mm__physidx_l2(m, va, hw_pa, l1, pg[i + MM_PTE_HWTABLE_OFF / 4], false);
    pg[i + MM_PTE_HWTABLE_OFF / 4] = hw;
    mm__physidx_l2(m, va, hw_pa, l1, hw, true);
}

uint32_t mm__pte_get(const struct mm_machine *m, mm_vaddr_t va)
{
    if (!mm__has_pte_page(m, va))
        return 0;
    return mm__phys_read32(m->phys,
                           mm__pte_page(m, va) + ((va >> MM_PAGE_SHIFT) & 511) * 4u);
}

uint32_t mm__mk_pte(const struct mm_machine *m, mm_pfn_t pfn, enum mm_prot prot)
{
    uint32_t bits = 0;

    /* KERNEL: 3.4 pgtable.h PAGE_KERNEL = pgprot_kernel | L_PTE_XN,
     * PAGE_KERNEL_EXEC = pgprot_kernel; ioremap uses MT_DEVICE.prot_pte. */
    switch (prot) {
    case MM_PROT_KERNEL:
        bits = pgprot_kernel(m) | MM_L_PTE_XN;
        break;
    case MM_PROT_KERNEL_EXEC:
        bits = pgprot_kernel(m);
        break;
    case MM_PROT_DEVICE:
        bits = mem_type(m, MT_DEVICE).prot_pte;
        break;
    case MM_PROT_HIGH_VECTORS:
        bits = mem_type(m, MT_HIGH_VECTORS).prot_pte;
        break;
    case MM_PROT_LOW_VECTORS:
        bits = mem_type(m, MT_LOW_VECTORS).prot_pte;
        break;
    case MM_PROT_DMA_READY:
        bits = mem_type(m, MT_MEMORY_DMA_READY).prot_pte;
        break;
    case MM_PROT_MEMORY_RO:
        bits = mem_type(m, MT_MEMORY_RO).prot_pte;
        break;
    }
    assert(pfn < (1u << 20));
    return (pfn << MM_PAGE_SHIFT) | bits;
}

void mm__set_pte(struct mm_machine *m, mm_vaddr_t va, uint32_t linux_pte)
{
    set_pte_ext(m, va, linux_pte, pte_ext_for(m, va, linux_pte));
}

void mm__pte_clear(struct mm_machine *m, mm_vaddr_t va)
{
    /* KERNEL: 3.4 pgtable.h pte_clear() = set_pte_ext(ptep, __pte(0), 0) */
    set_pte_ext(m, va, 0, 0);
}

void mm__flush_tlb_page(struct mm_machine *m, mm_vaddr_t va)
{
    (void)va;
    m->cnt.tlb_flushes++;
}

void mm__flush_tlb_range(struct mm_machine *m, mm_vaddr_t start, mm_vaddr_t end)
{
    (void)start;
    (void)end;
    m->cnt.tlb_flushes++;
}

/* Makes the PTE page at @pa read as zero (early_alloc() and __GFP_ZERO).
 * Return: false if host memory runs out. */
static bool zero_page(struct mm_machine *m, mm_paddr_t pa)
{
    uint32_t *pg = mm__phys_page_rw(m->phys, MM_PFN(pa));

    if (pg == NULL)
        return false;
    memset(pg, 0, MM_PAGE_SIZE);
    return true;
}

/* Whether either half of @va's pgd entry is a section (pmd_bad()). */
static bool pmd_is_section(const struct mm_machine *m, mm_vaddr_t va)
{
    unsigned idx = pmd_index(va);

    return (mm__l1_read(m, idx) & PMD_TYPE_SECT) ||
           (mm__l1_read(m, idx + 1) & PMD_TYPE_SECT);
}

/* Takes an order-0 page for a page table, Normal first (DMA if the machine
 * has no Normal zone: the buddy answers INVALID_ARGUMENT and changes nothing). */
static enum mm_status alloc_pte_page(struct mm_machine *m, mm_pfn_t *pfn, const char *op,
                                     char msg[MM_MSG_MAX])
{
    enum mm_status st;

    st = mm__alloc_pages(m, MM_ZONE_NORMAL, 0, MM_OWN_PGTABLE, pfn, op, msg);

    if (st == MM_INVALID_ARGUMENT)
        st = mm__alloc_pages(m, MM_ZONE_DMA, 0, MM_OWN_PGTABLE, pfn, op, msg);
    return st;
}

enum mm_status mm__pte_alloc(struct mm_machine *m, mm_vaddr_t va, const char *op,
                             char msg[MM_MSG_MAX])
{
    mm_pfn_t pfn;
    enum mm_status st;

    assert(op != NULL);
    if (mm__has_pte_page(m, va))
        return MM_OK;
    if (pmd_is_section(m, va))
        return mm__fail(msg, MM_INTERNAL,
                        "%s: the pgd entry of 0x%08x holds a section "
                        "(0x%08x 0x%08x)",
                        op, va, mm__l1_read(m, pmd_index(va)),
                        mm__l1_read(m, pmd_index(va) + 1));
    /* KERNEL: 3.4 mm/memory.c __pte_alloc_kernel() -> pte_alloc_one_kernel(),
     * PGALLOC_GFP (GFP_KERNEL | __GFP_ZERO): one order-0 lowmem page. */
    st = alloc_pte_page(m, &pfn, op, msg);
    if (st != MM_OK)
        return st;
    if (!zero_page(m, (mm_paddr_t)MM_PFN_PHYS(pfn))) {
        /* Host memory ran out: give the page back, so nothing changed. */
        mm__free_pages(m, pfn, 0, MM_OWN_PGTABLE, op, msg);
        return mm__fail(msg, MM_NO_MEMORY, "%s: out of host memory for a page table", op);
    }
    /* KERNEL: 3.4 pgalloc.h pmd_populate_kernel(): _PAGE_KERNEL_TABLE */
    mm__pmd_populate(m, va, (mm_paddr_t)MM_PFN_PHYS(pfn), KERNEL_TABLE);
    m->cnt.pte_pages++;
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* create_mapping()                                                    */
/* ------------------------------------------------------------------ */

/* alloc_init_pte(): a PTE table for [addr, end) from @alloc_pte if the pgd
 * entry is empty (early_pte_alloc()), then one PTE per page, ext 0. */
static enum mm_status alloc_init_pte(struct mm_machine *m, uint32_t addr, uint64_t end,
                                     uint64_t phys, const struct mem_type *t,
                                     bool (*alloc_pte)(struct mm_machine *m,
                                                       mm_paddr_t *pa))
{
    if (mm__l1_read(m, pmd_index(addr)) == 0) {
        mm_paddr_t pa;

        if (!alloc_pte(m, &pa) || !zero_page(m, pa))
            return MM_NO_MEMORY;
        mm__pmd_populate(m, addr, pa, t->prot_l1);
    }
    /* KERNEL: 3.4 early_pte_alloc() BUG_ON(pmd_bad(*pmd)) */
    if (!mm__has_pte_page(m, addr))
        return MM_INVALID_ARGUMENT;
    for (uint64_t a = addr; a < end; a += MM_PAGE_SIZE, phys += MM_PAGE_SIZE)
        set_pte_ext(m, (mm_vaddr_t)a, (uint32_t)phys | t->prot_pte, 0);
    return MM_OK;
}

/* alloc_init_section(): 1 MiB sections when addr, end and phys are all
 * section aligned (starting at pmd[1] for an odd MiB), else PTEs. */
static enum mm_status alloc_init_section(
    struct mm_machine *m, uint32_t addr, uint64_t end, uint64_t phys,
    const struct mem_type *t, bool (*alloc_pte)(struct mm_machine *m, mm_paddr_t *pa))
{
    if (t->prot_sect != 0 && ((addr | end | phys) & (MM_SECTION_SIZE - 1)) == 0) {
        for (uint64_t a = addr; a < end; a += MM_SECTION_SIZE, phys += MM_SECTION_SIZE)
            mm__l1_write(m, (unsigned)(a >> 20), (uint32_t)phys | t->prot_sect);
        return MM_OK;
    }
    return alloc_init_pte(m, addr, end, phys, t, alloc_pte);
}

/* create_mapping() for [va, va + size) -> pa with memory type @t, one
 * pgd step (2 MiB) at a time.  KERNEL: 3.4 arch/arm/mm/mmu.c */
static enum mm_status create_mapping(struct mm_machine *m, mm_vaddr_t va, mm_paddr_t pa,
                                     uint32_t size, const struct mem_type *t,
                                     bool (*alloc_pte)(struct mm_machine *m,
                                                       mm_paddr_t *pa))
{
    uint64_t addr = va & PAGE_MASK32;
    uint64_t phys = pa & PAGE_MASK32;
    uint64_t end = addr + (((uint64_t)size + (va & ~PAGE_MASK32) + MM_PAGE_SIZE - 1) &
                           ~(uint64_t)(MM_PAGE_SIZE - 1));

    while (addr < end) {
        uint64_t next = (addr + MM_PMD_SIZE) & ~(uint64_t)(MM_PMD_SIZE - 1);
        enum mm_status st;

        if (next > end)
            next = end;
        st = alloc_init_section(m, (uint32_t)addr, next, phys, t, alloc_pte);
        if (st != MM_OK)
            return st;
        phys += next - addr;
        addr = next;
    }
    return MM_OK;
}

/* create_mapping() of [s, e) of the region at (va, rs) with type @id. */
static enum mm_status map_piece(struct mm_machine *m, mm_vaddr_t va, uint64_t rs,
                                uint64_t s, uint64_t e, enum mem_type_id id,
                                bool (*alloc_pte)(struct mm_machine *m, mm_paddr_t *pa))
{
    struct mem_type t = mem_type(m, id);

    return create_mapping(m, (mm_vaddr_t)(va + (s - rs)), (mm_paddr_t)s,
                          (uint32_t)(e - s), &t, alloc_pte);
}

/*
 * map_lowmem() for one memblock region [pa, pa + size).  3.18 and earlier:
 * all MT_MEMORY.  3.19+: KERNEL: 4.19 arch/arm/mm/mmu.c map_lowmem(), the
 * RW / RWX / RW split around [kernel_x_start, kernel_x_end), the RWX piece
 * always whole.
 */
static enum mm_status map_lowmem_region(struct mm_machine *m, mm_vaddr_t va,
                                        mm_paddr_t pa, uint32_t size,
                                        bool (*alloc_pte)(struct mm_machine *m,
                                                          mm_paddr_t *pa))
{
    uint64_t rs = pa, re = (uint64_t)pa + size, xs, xe;
    enum mm_status st = MM_OK;

    if (!lowmem_nx(m))
        return map_piece(m, va, rs, rs, re, MT_MEMORY_RWX, alloc_pte);
    kernel_x_range(m, &xs, &xe);
    if (re < xs)
        return map_piece(m, va, rs, rs, re, MT_MEMORY_RWX, alloc_pte);
    if (rs >= xe)
        return map_piece(m, va, rs, rs, re, MT_MEMORY_RW, alloc_pte);
    if (rs < xs)
        st = map_piece(m, va, rs, rs, xs, MT_MEMORY_RW, alloc_pte);
    if (st == MM_OK)
        st = map_piece(m, va, rs, xs, xe, MT_MEMORY_RWX, alloc_pte);
    if (st == MM_OK && xe < re)
        st = map_piece(m, va, rs, xe, re, MT_MEMORY_RW, alloc_pte);
    return st;
}

/* KERNEL: 6.1 arch/arm/include/asm/pgtable-2level.h pmd_clear(): pmdp[0]
 * and pmdp[1] = 0 */
void mm__pmd_clear(struct mm_machine *m, mm_vaddr_t va)
{
    unsigned idx = (va >> 20) & ~1u;

    mm__l1_write(m, idx, 0);
    mm__l1_write(m, idx + 1, 0);
}

enum mm_status mm__map_memory(struct mm_machine *m, mm_vaddr_t va, mm_paddr_t pa,
                              uint32_t size, enum mm_prot prot,
                              bool (*alloc_pte)(struct mm_machine *m, mm_paddr_t *pa))
{
    struct mem_type t;

    assert(alloc_pte != NULL && size != 0);
    switch (prot) {
    case MM_PROT_KERNEL:
        return map_lowmem_region(m, va, pa, size, alloc_pte);
    case MM_PROT_KERNEL_EXEC:
        t = mem_type(m, MT_MEMORY_RWX);
        break;
    case MM_PROT_DEVICE:
        t = mem_type(m, MT_DEVICE);
        break;
    case MM_PROT_LOW_VECTORS:
        t = mem_type(m, MT_LOW_VECTORS);
        break;
    case MM_PROT_DMA_READY:
        t = mem_type(m, MT_MEMORY_DMA_READY);
        break;
    case MM_PROT_MEMORY_RO:
        t = mem_type(m, MT_MEMORY_RO);
        break;
    case MM_PROT_HIGH_VECTORS:
    default:
        t = mem_type(m, MT_HIGH_VECTORS);
        break;
    }
    return create_mapping(m, va, pa, size, &t, alloc_pte);
}

/* ------------------------------------------------------------------ */
/* Consistency check                                                   */
/* ------------------------------------------------------------------ */

/* What the check derives once rather than per entry: the first-level
 * table, and the section bits that depend on the machine alone (they
 * went through is_smp() and the config's string compares on each of the
 * hundreds of lowmem sections, most of mm_check()'s time). */
struct l1_check {
    uint32_t l1[4096];
    struct section_perm perms[4];
    unsigned nperms;
    uint32_t sect[MT_LOW_VECTORS + 1]; /* mem_type(m, id).prot_sect */
    uint32_t sect_ro;                  /* mem_type(m, MT_MEMORY_RO).prot_sect */
    bool nx;                           /* lowmem_nx(m) */
    uint64_t xs, xe;                   /* kernel_x_range(m) when nx */
    uint64_t rs, re;                   /* the lowmem region last found */
};

/* A section of the device tree's map: devicemaps_init()'s MT_MEMORY_RO
 * sections at FDT_FIXED_BASE, from the blob's MiB on. */
static bool is_fdt_section(const struct mm_machine *m, const struct l1_check *c,
                           mm_vaddr_t va, uint32_t e)
{
    mm_vaddr_t base = m->lay.fdt_base;
    uint32_t pa = (m->fdt_start & SECTION_MASK32) + (va - base);

    return m->fdt_pages != 0 && va >= base && va - base < MM_FDT_FIXED_SIZE &&
           e == (pa | c->sect_ro);
}

/* The region of m->lay holding @pa (clipped at lowmem) into *@rs, *@re,
 * for the section rule; false if @pa is not lowmem RAM.  *@rs, *@re come
 * in as the region found last ([0, 0) at first): the sections are checked
 * in ascending order, most in the region of the one before. */
static bool lowmem_region_of(const struct mm_machine *m, uint64_t pa, uint64_t *rs,
                             uint64_t *re)
{
    const struct mm_layout *lay = &m->lay;

    if (pa >= *rs && pa < *re)
        return true; /* the caller's last region (regions do not overlap) */
    for (unsigned i = 0; i < lay->nr_regions; i++) {
        const struct mm_region *rg = &lay->regions[i];
        uint64_t end = rg->end < lay->lowmem_limit ? rg->end : lay->lowmem_limit;

        if (!rg->highmem && pa >= rg->start && pa < end) {
            *rs = rg->start;
            *re = end;
            return true;
        }
    }
    return false;
}

/* An ioremap() section (UP kernels, 3.4 remap_area_sections()): MT_DEVICE
 * bits, in the vmalloc area, over memory that is not RAM. */
static bool is_ioremap_section(const struct mm_machine *m, const struct l1_check *c,
                               mm_vaddr_t va, uint32_t e)
{
    const struct mm_layout *lay = &m->lay;

    return va >= lay->vmalloc_start && va < lay->vmalloc_end &&
           (e & ~SECTION_MASK32) == c->sect[MT_DEVICE] &&
           !mm__pfn_valid(m, MM_PFN(e & SECTION_MASK32));
}

/* A section at first-level index @idx: lowmem RAM, at __va(pa), with the
 * bits map_lowmem() gives that address; or an ioremap() section. */
static enum mm_status check_section(const struct mm_machine *m, struct l1_check *c,
                                    unsigned idx, uint32_t e, char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;
    mm_vaddr_t va = (mm_vaddr_t)idx << 20;
    uint64_t pa = e & SECTION_MASK32;
    uint32_t want;

    if (e & (PMD_SECT_SUPER | 1u))
        return mm__fail(err, MM_INTERNAL,
                        "pgtable: L1[0x%03x] 0x%08x: supersection or reserved type", idx,
                        e);
    if (is_ioremap_section(m, c, va, e) || is_fdt_section(m, c, va, e))
        return MM_OK;
    if (va < lay->page_offset || va >= lay->high_memory)
        return mm__fail(err, MM_INTERNAL,
                        "pgtable: L1[0x%03x] 0x%08x: section at 0x%08x outside lowmem",
                        idx, e, va);
    if (pa != (uint64_t)va - lay->page_offset + lay->phys_offset)
        return mm__fail(err, MM_INTERNAL,
                        "pgtable: L1[0x%03x] 0x%08x: section at 0x%08x is not "
                        "__va(0x%08x)",
                        idx, e, va, (uint32_t)pa);
    if (!lowmem_region_of(m, pa, &c->rs, &c->re) || pa + MM_SECTION_SIZE > c->re)
        return mm__fail(err, MM_INTERNAL,
                        "pgtable: L1[0x%03x] 0x%08x: section maps 0x%08x, "
                        "not lowmem RAM",
                        idx, e, (uint32_t)pa);
    want = (uint32_t)pa | c->sect[lowmem_type(c->nx, c->xs, c->xe, c->rs, c->re, pa)];
    want = kernmem_perms(c->perms, c->nperms, va, want);
    if (e != want)
        return mm__fail(err, MM_INTERNAL, "pgtable: L1[0x%03x] 0x%08x: expected 0x%08x",
                        idx, e, want);
    return MM_OK;
}

/* The PTE page of a table pair: lowmem RAM, boot-reserved or an order-0
 * buddy block owned by MM_OWN_PGTABLE. */
static enum mm_status check_pte_page(const struct mm_machine *m, unsigned idx, uint32_t e,
                                     char err[MM_MSG_MAX])
{
    mm_pfn_t pfn = MM_PFN(e);
    struct mm_page_info pi;

    if (!mm__pfn_valid(m, pfn) || mm__pfn_highmem(m, pfn))
        return mm__fail(err, MM_INTERNAL,
                        "pgtable: L1[0x%03x] 0x%08x: PTE page pfn 0x%x is not "
                        "lowmem RAM",
                        idx, e, pfn);
    mm__page_info(m, pfn, &pi);
    if (pi.state == MM_PAGE_RESERVED)
        return MM_OK;
    if (pi.state == MM_PAGE_USED && pi.owner == MM_OWN_PGTABLE && pi.head == pfn &&
        pi.order == 0)
        return MM_OK;
    return mm__fail(err, MM_INTERNAL,
                    "pgtable: L1[0x%03x] 0x%08x: PTE page pfn 0x%x is neither reserved "
                    "nor a page-table block (state %d, owner %d, order %u)",
                    idx, e, pfn, (int)pi.state, (int)pi.owner, pi.order);
}

/* Whether the eight Linux PTEs at @pg and their hardware PTEs are 0. */
static bool clear8(const uint32_t *pg)
{
    uint64_t w = 0, x;

    for (unsigned k = 0; k < 8; k += 2) {
        memcpy(&x, pg + k, sizeof(x));
        w |= x;
        memcpy(&x, pg + k + MM_PTE_HWTABLE_OFF / 4, sizeof(x));
        w |= x;
    }
    return w == 0;
}

/* Every hardware PTE of the table at @idx equals the one set_pte_ext()
 * derives from its Linux PTE. */
static enum mm_status check_ptes(const struct mm_machine *m, unsigned idx, uint32_t e,
                                 char err[MM_MSG_MAX])
{
    const uint32_t *pg = mm__phys_page(m->phys, MM_PFN(e));
    mm_vaddr_t base = (mm_vaddr_t)idx << 20;

    if (pg == NULL)
        return MM_OK; /* never written: all zero, consistent */
    for (unsigned i = 0; i < MM_PTRS_PER_PTE; i++) {
        mm_vaddr_t va = base + (i << MM_PAGE_SHIFT);
        uint32_t want;

        /* A clear pair is consistent: v7_hw_pte(0, ext) is 0 (not young).
         * Most entries of most tables are clear: eight pairs at a time,
         * in 8-byte words (a 4-byte load per entry and its ASan check
         * were most of this loop's time in the fuzz build). */
        if (i % 8 == 0 && clear8(pg + i)) {
            i += 7;
            continue;
        }
        if ((pg[i] | pg[i + MM_PTE_HWTABLE_OFF / 4]) == 0)
            continue;
        want = v7_hw_pte(pg[i], pte_ext_for(m, va, pg[i]));

        if (pg[i + MM_PTE_HWTABLE_OFF / 4] != want)
            return mm__fail(err, MM_INTERNAL,
                            "pgtable: PTE of 0x%08x: Linux 0x%08x, hardware 0x%08x, "
                            "expected 0x%08x",
                            va, pg[i], pg[i + MM_PTE_HWTABLE_OFF / 4], want);
    }
    return MM_OK;
}

/* One pgd entry (first-level pair 2i, 2i+1, from the table @l1);
 * records its PTE page.  Unless @deep, only what a change elsewhere can
 * alter: the pair's form and its PTE page's owner, not the PTEs or the
 * section bits (mm__pgtable_check_since()). */
static enum mm_status check_pgd_entry_as(const struct mm_machine *m, struct l1_check *c,
                                         unsigned i, bool deep, mm_pfn_t *pages,
                                         unsigned *npages, char err[MM_MSG_MAX])
{
    unsigned idx = 2 * i;
    uint32_t e0 = c->l1[idx], e1 = c->l1[idx + 1];
    enum mm_status st;

    if ((e0 & PMD_TYPE_MASK) == PMD_TYPE_TABLE) {
        if (e1 != e0 + 1024 || (e0 & 0xc00) != MM_PTE_HWTABLE_OFF)
            return mm__fail(err, MM_INTERNAL,
                            "pgtable: L1[0x%03x] 0x%08x, L1[0x%03x] 0x%08x: not a "
                            "__pmd_populate() pair",
                            idx, e0, idx + 1, e1);
        st = check_pte_page(m, idx, e0, err);
        if (st == MM_OK && deep)
            st = check_ptes(m, idx, e0, err);
        pages[(*npages)++] = MM_PFN(e0);
        return st;
    }
    if ((e1 & PMD_TYPE_MASK) == PMD_TYPE_TABLE)
        return mm__fail(err, MM_INTERNAL,
                        "pgtable: L1[0x%03x] 0x%08x is a table without its pair 0x%08x",
                        idx + 1, e1, e0);
    for (unsigned h = 0; h < 2; h++) {
        uint32_t e = h ? e1 : e0;

        if (e == 0)
            continue;
        if ((e & PMD_TYPE_MASK) == 0)
            return mm__fail(err, MM_INTERNAL,
                            "pgtable: L1[0x%03x] 0x%08x: a fault entry with bits set",
                            idx + h, e);
        if (!deep)
            continue;
        st = check_section(m, c, idx + h, e, err);
        if (st != MM_OK)
            return st;
    }
    return MM_OK;
}

/* One pgd entry, all of it. */
static enum mm_status check_pgd_entry(const struct mm_machine *m, struct l1_check *c,
                                      unsigned i, mm_pfn_t *pages, unsigned *npages,
                                      char err[MM_MSG_MAX])
{
    return check_pgd_entry_as(m, c, i, true, pages, npages, err);
}

static int cmp_pfn(const void *a, const void *b)
{
    mm_pfn_t x = *(const mm_pfn_t *)a, y = *(const mm_pfn_t *)b;

    return (x > y) - (x < y);
}

/* The 4096 first-level entries into @l1: what mm__l1_read() reads, in
 * one lookup per page of the table instead of one per entry (the
 * lookups were most of mm_check()'s time). */
static void read_l1(const struct mm_machine *m, uint32_t *l1)
{
    for (unsigned idx = 0; idx < 4096; idx += MM_PAGE_SIZE / 4) {
        mm_paddr_t pa = m->lay.pgd_pa + idx * 4u;
        const uint32_t *pg = mm__phys_page(m->phys, MM_PFN(pa));

        if ((pa & (MM_PAGE_SIZE - 1)) != 0) {
            for (unsigned k = idx; k < 4096; k++)
                l1[k] = mm__l1_read(m, k); /* unaligned table: per entry */
            return;
        }
        if (pg != NULL)
            memcpy(l1 + idx, pg, MM_PAGE_SIZE);
        else
            memset(l1 + idx, 0, MM_PAGE_SIZE);
    }
}

/* What @c holds but the table (the caller reads it as it needs). */
static void l1_check_init(const struct mm_machine *m, struct l1_check *c)
{
    c->nperms = section_perms(m, c->perms);
    for (unsigned id = 0; id <= MT_LOW_VECTORS; id++)
        c->sect[id] = mem_type(m, (enum mem_type_id)id).prot_sect;
    c->sect_ro = mem_type(m, MT_MEMORY_RO).prot_sect;
    c->nx = lowmem_nx(m);
    c->xs = c->xe = 0;
    if (c->nx)
        kernel_x_range(m, &c->xs, &c->xe);
    c->rs = c->re = 0; /* no region found yet */
}

enum mm_status mm__pgtable_check_l1(const struct mm_machine *m, const uint64_t *l1,
                                    char err[MM_MSG_MAX])
{
    mm_pfn_t pages[2];
    struct l1_check c;
    bool init = false;

    for (unsigned i = 0; i < MM_PTRS_PER_PGD; i++) {
        unsigned idx = 2 * i, npages = 0;
        enum mm_status st;

        if (l1[idx / 64] == 0) {
            i |= 31; /* a clear word: its 32 entries at once */
            continue;
        }
        if ((l1[idx / 64] >> (idx % 64) & 3) == 0)
            continue;
        if (!init) {
            l1_check_init(m, &c);
            init = true;
        }
        c.l1[idx] = mm__l1_read(m, idx);
        c.l1[idx + 1] = mm__l1_read(m, idx + 1);
        st = check_pgd_entry(m, &c, i, pages, &npages, err);
        if (st != MM_OK)
            return st;
    }
    return MM_OK;
}

/* Whether the 32 first-level entries at @e (16 pairs) are all 0. */
static bool clear16(const uint32_t *e)
{
    uint64_t w = 0, x;

    for (unsigned k = 0; k < 32; k += 2) {
        memcpy(&x, e + k, sizeof(x));
        w |= x;
    }
    return w == 0;
}

/* Whether any of the 16 pairs at @e holds a second-level table. */
static bool table16(const uint32_t *e)
{
    unsigned n = 0;

    for (unsigned k = 0; k < 32; k += 2)
        n += (e[k] & PMD_TYPE_MASK) == PMD_TYPE_TABLE;
    return n != 0;
}

/* Every pgd entry, deeply those holding an index set in @l1 (NULL: all). */
static enum mm_status check_all(const struct mm_machine *m, const uint64_t *l1,
                                char err[MM_MSG_MAX])
{
    mm_pfn_t pages[MM_PTRS_PER_PGD];
    struct l1_check c;
    unsigned npages = 0;

    read_l1(m, c.l1);
    l1_check_init(m, &c);
    for (unsigned i = 0; i < MM_PTRS_PER_PGD; i++) {
        enum mm_status st;
        bool deep;

        /* A clear pair is consistent (check_pgd_entry() passes it); most
         * of the 2048 are, and the call per pair was most of the time
         * the check spent on them.  Sixteen at a time where all are
         * (the user half), or for the since-check where none was written
         * and none holds a table (lowmem's sections): the loop was most
         * of its time. */
        if (i % 16 == 0 &&
            (clear16(c.l1 + 2 * i) ||
             (l1 != NULL && (l1[i / 32] >> (2 * i % 64) & 0xffffffffu) == 0 &&
              !table16(c.l1 + 2 * i)))) {
            i += 15;
            continue;
        }
        if ((c.l1[2 * i] | c.l1[2 * i + 1]) == 0)
            continue;
        /* An unwritten pair without a table is as the last whole check
         * saw it, and nothing else it reads can change. */
        deep = l1 == NULL || (l1[2 * i / 64] >> (2 * i % 64) & 3) != 0;
        if (!deep && (c.l1[2 * i] & PMD_TYPE_MASK) != PMD_TYPE_TABLE)
            continue;
        st = check_pgd_entry_as(m, &c, i, deep, pages, &npages, err);
        if (st != MM_OK)
            return st;
    }
    qsort(pages, npages, sizeof(pages[0]), cmp_pfn);
    for (unsigned i = 1; i < npages; i++) {
        if (pages[i] == pages[i - 1])
            return mm__fail(err, MM_INTERNAL,
                            "pgtable: PTE page pfn 0x%x serves two pgd entries",
                            pages[i]);
    }
    if (npages != m->cnt.pte_pages)
        return mm__fail(err, MM_INTERNAL,
                        "pgtable: %u PTE pages in the tables, %u counted", npages,
                        m->cnt.pte_pages);
    return MM_OK;
}

enum mm_status mm__pgtable_check(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    return check_all(m, NULL, err);
}

enum mm_status mm__pgtable_check_since(const struct mm_machine *m, const uint64_t *l1,
                                       char err[MM_MSG_MAX])
{
    return check_all(m, l1, err);
}
