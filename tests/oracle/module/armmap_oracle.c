// SPDX-License-Identifier: GPL-2.0
/*
 * tests/oracle/module/armmap_oracle.c - a fixed sequence of mapping calls,
 * their addresses and live page-table walks, printed for the oracle.
 *
 * Loaded by the oracle's initramfs (tests/oracle/run.sh) in the booted
 * Debian armmp kernel.  Each line starts "armmap-oracle: " and is one of
 *   op NAME va=0x... [pfn=0x...] [cpu=N]
 *   walk va=0x... l1=0x... [l2=0x...]
 * The sequence, which tests/oracle/compare.c replays on the engine:
 *   1. kmap() of a fresh GFP_HIGHUSER page             op kmap
 *   2. kmap_local_page() of that same page              op kmap_local_same
 *   3. kmap_local_page() of a second fresh page         op kmap_local
 *   (both unmapped again, in reverse order)
 *   4. vmalloc(1 MiB)                                   op vmalloc
 *   5. ioremap(0x10000000, 1 MiB) (virt's PCI window)   op ioremap
 *   6. this module's own text (module_alloc at load)    op module
 *      with its core and init layouts                  module core=... init=...
 *   7. after the frees below, the page-table dump       armmap-pt: LINE
 * The walks read swapper_pg_dir as the MMU would: the first-level
 * descriptor, and the second-level one for a page table.  init_mm is not
 * exported, and an idle task's active_mm is whatever mm it last borrowed,
 * so the table is found where the kernel puts it, 16 KiB below _text
 * (arch/arm/kernel/head.S: swapper_pg_dir = KERNEL_RAM_VADDR - PG_DIR_SIZE,
 * KERNEL_RAM_VADDR = PAGE_OFFSET + TEXT_OFFSET).  TEXT_OFFSET is 0x8000
 * plus whole MiB some platforms reserve (0x208000 with Meson in a
 * multiplatform build), and neither _text nor the table is in kallsyms:
 * the first candidate whose first two entries map lowmem's first two MiB
 * as sections is the table.
 * The module frees what it mapped and stays loaded (returning an error
 * would make busybox's insmod try again with init_module).
 *
 * The page-table dump (step 7): Debian's armmp build has ARM_PTDUMP_CORE
 * but not ARM_PTDUMP_DEBUGFS, so there is no kernel_page_tables file and
 * ptdump_walk_pgd() is not exported.  dump_tables() walks swapper_pg_dir
 * itself over the whole 4 GiB as 6.1's arch/arm/mm/dump.c does and prints
 * the text that file would, one "armmap-pt: " line each (run.sh turns
 * them into the fixture's pagetables section).  The facts it follows:
 *   - every 2 MiB pgd entry is two hardware first-level words; the first
 *     is noted as a section-level entry ("PGD") when it is empty or a
 *     section, else its page table's 512 Linux PTEs are noted ("PTE"); the
 *     second is noted on its own only when it is a section;
 *   - a run of entries sharing level, domain and masked protection bits
 *     is one line "0xSTART-0xEND   %9lu%c LEVEL DOMAIN ATTRS", the size in
 *     the largest of K, M, G dividing it; a run whose masked bits are 0
 *     prints nothing; the domain is the first-level word's (an empty word
 *     is domain 0, KERNEL);
 *   - "---[ NAME ]---" is printed for the first marker at address 0 and
 *     then each time a noted address reaches the next marker's start
 *     (which also ends the run);
 *   - the final note at address 0 closes the last run (its end prints as
 *     0x00000000).
 * It runs after the sequence and its frees, so the dump shows what they
 * leave: kunmap() keeps its pkmap entry until the next flush, the
 * kmap_local slots, the vmalloc and ioremap ranges are cleared again, and
 * the module's own pages carry the permissions complete_formation() gave
 * them.
 */
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/smp.h>
#include <linux/vmalloc.h>
#include <asm/domain.h>
#include <asm/fixmap.h>
#include <asm/memory.h>
#include <asm/pgtable.h>

#define TAG "armmap-oracle: "
#define PT_TAG "armmap-pt: "
static unsigned long swapper;

static unsigned long find_swapper(void)
{
	u32 pa = (u32)__pa(PAGE_OFFSET);
	unsigned int k;

	for (k = 0; k < 16; k++) {
		unsigned long c = PAGE_OFFSET + 0x4000 + k * SZ_1M;
		u32 *l1 = (u32 *)c + (PAGE_OFFSET >> 20);

		if ((l1[0] & 0xfff00003) == (pa | 2) &&
		    (l1[1] & 0xfff00003) == ((pa + SZ_1M) | 2))
			return c;
	}
	return 0;
}

/* The hardware descriptors for @va: L1 from the pgd (two Linux pmd
 * entries per 2 MiB, the hardware L1 entry for 1 MiB), and for a page
 * table, the hardware L2 entry (Linux keeps it 2 KiB above its own PTEs,
 * arch/arm/include/asm/pgtable-2level.h). */
static void walk(unsigned long va)
{
	pgd_t *pgd = (pgd_t *)swapper + pgd_index(va);
	u32 *l1 = (u32 *)pgd + ((va >> 20) & 1);
	u32 d1 = *l1;

	if ((d1 & 3) == 1) {
		u32 *hw = (u32 *)phys_to_virt(d1 & ~0x3ffu);
		u32 d2 = hw[(va >> 12) & 0xff];

		pr_info(TAG "walk va=0x%08lx l1=0x%08x l2=0x%08x\n", va, d1, d2);
	} else {
		pr_info(TAG "walk va=0x%08lx l1=0x%08x\n", va, d1);
	}
}

static void op(const char *name, unsigned long va, struct page *page)
{
	if (page)
		pr_info(TAG "op %s va=0x%08lx pfn=0x%lx cpu=%d\n", name, va,
			page_to_pfn(page), raw_smp_processor_id());
	else
		pr_info(TAG "op %s va=0x%08lx\n", name, va);
	walk(va);
}

/* ---- the page-table dump ------------------------------------------ */

/* One attribute word: printed as @on when (prot & mask) == val, else as
 * @off (nothing when @off is NULL). */
struct pt_attr {
	u32 mask, val;
	const char *on, *off;
};

#define SECT_AP (PMD_SECT_APX | PMD_SECT_AP_READ | PMD_SECT_AP_WRITE)

/* First-level sections, ARMv7 (dump.c section_bits[], non-LPAE, v6+). */
static const struct pt_attr sect_attrs[] = {
	{ SECT_AP, PMD_SECT_APX | PMD_SECT_AP_WRITE, "    ro", NULL },
	{ SECT_AP, PMD_SECT_AP_WRITE, "    RW", NULL },
	{ SECT_AP, PMD_SECT_AP_READ, "USR ro", NULL },
	{ SECT_AP, PMD_SECT_AP_READ | PMD_SECT_AP_WRITE, "USR RW", NULL },
	{ PMD_SECT_XN, PMD_SECT_XN, "NX", "x " },
	{ PMD_SECT_S, PMD_SECT_S, "SHD", "   " },
};

/* Linux PTEs (dump.c pte_bits[], non-LPAE): the memory type names. */
static const struct pt_attr pte_attrs[] = {
	{ L_PTE_USER, L_PTE_USER, "USR", "   " },
	{ L_PTE_RDONLY, L_PTE_RDONLY, "ro", "RW" },
	{ L_PTE_XN, L_PTE_XN, "NX", "x " },
	{ L_PTE_SHARED, L_PTE_SHARED, "SHD", "   " },
	{ L_PTE_MT_MASK, L_PTE_MT_UNCACHED, "SO/UNCACHED", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_BUFFERABLE, "MEM/BUFFERABLE/WC", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_WRITETHROUGH, "MEM/CACHED/WT", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_WRITEBACK, "MEM/CACHED/WBRA", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_MINICACHE, "MEM/MINICACHE", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_WRITEALLOC, "MEM/CACHED/WBWA", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_DEV_SHARED, "DEV/SHARED", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_DEV_NONSHARED, "DEV/NONSHARED", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_DEV_WC, "DEV/WC", NULL },
	{ L_PTE_MT_MASK, L_PTE_MT_DEV_CACHED, "DEV/CACHED", NULL },
};

enum pt_kind { PT_NONE, PT_SECT, PT_PTE };

struct pt_mark {
	unsigned long start;
	const char *name;
};

struct pt_run {
	const struct pt_mark *mark;	/* the last marker printed */
	unsigned long start;
	enum pt_kind kind;		/* PT_NONE: nothing noted yet */
	u32 prot;
	const char *domain;
};

static u32 attrs_mask(const struct pt_attr *a, size_t n)
{
	u32 mask = 0;

	while (n--)
		mask |= a[n].mask;
	return mask;
}

static const char *domain_of(u32 l1)
{
	switch (l1 & PMD_DOMAIN_MASK) {
	case PMD_DOMAIN(DOMAIN_KERNEL):
		return "KERNEL ";
	case PMD_DOMAIN(DOMAIN_USER):
		return "USER   ";
	case PMD_DOMAIN(DOMAIN_IO):
		return "IO     ";
	case PMD_DOMAIN(DOMAIN_VECTORS):
		return "VECTORS";
	}
	return "unknown";
}

/* Prints the run [r->start, end) as kernel_page_tables would. */
static void pt_print(const struct pt_run *r, unsigned long end)
{
	static const char units[] = "KMG";
	const struct pt_attr *a = r->kind == PT_SECT ? sect_attrs : pte_attrs;
	size_t n = r->kind == PT_SECT ? ARRAY_SIZE(sect_attrs) : ARRAY_SIZE(pte_attrs);
	unsigned long size = (end - r->start) >> 10;
	const char *u = units;
	char line[160];
	int len;

	while (size % 1024 == 0 && u[1] != '\0') {
		size /= 1024;
		u++;
	}
	len = scnprintf(line, sizeof(line), "0x%08lx-0x%08lx   %9lu%c %s %s",
			r->start, end, size, *u, r->kind == PT_SECT ? "PGD" : "PTE",
			r->domain);
	for (; n > 0; n--, a++) {
		const char *w = (r->prot & a->mask) == a->val ? a->on : a->off;

		if (w)
			len += scnprintf(line + len, sizeof(line) - len, " %s", w);
	}
	pr_info(PT_TAG "%s\n", line);
}

/* One entry at @va: extends the current run or ends it.  @kind PT_NONE
 * with @va 0 is the final note. */
static void pt_note(struct pt_run *r, unsigned long va, enum pt_kind kind, u32 val,
		    const char *domain)
{
	u32 prot = val & (kind == PT_SECT ? attrs_mask(sect_attrs, ARRAY_SIZE(sect_attrs)) :
			  kind == PT_PTE ? attrs_mask(pte_attrs, ARRAY_SIZE(pte_attrs)) : 0);
	bool crossed;

	if (r->kind == PT_NONE) {
		pr_info(PT_TAG "---[ %s ]---\n", r->mark->name);
		goto start;
	}
	crossed = va >= r->mark[1].start;
	if (prot == r->prot && kind == r->kind && domain == r->domain && !crossed)
		return;
	if (r->prot)
		pt_print(r, va);
	if (crossed) {
		r->mark++;
		pr_info(PT_TAG "---[ %s ]---\n", r->mark->name);
	}
start:
	r->start = va;
	r->kind = kind;
	r->prot = prot;
	r->domain = domain;
}

static void dump_tables(void)
{
	const struct pt_mark marks[] = {
		{ MODULES_VADDR, "Modules" },
		{ PAGE_OFFSET, "Kernel Mapping" },
		{ VMALLOC_START, "vmalloc() Area" },
		{ FDT_FIXED_BASE, "FDT Area" },
		{ FIXADDR_START, "Fixmap Area" },
		{ VECTORS_BASE, "Vectors" },
		{ VECTORS_BASE + 2 * PAGE_SIZE, "Vectors End" },
		{ ~0ul, NULL },
	};
	struct pt_run r = { .mark = marks, .kind = PT_NONE };
	const u32 *l1 = (const u32 *)swapper;
	unsigned int i, k;

	for (i = 0; i < 2048; i++) {
		unsigned long va = (unsigned long)i << 21;
		u32 lo = l1[2 * i], hi = l1[2 * i + 1];

		if (lo == 0 || (lo & 2)) {
			pt_note(&r, va, PT_SECT, lo, domain_of(lo));
		} else {
			const u32 *pte = (const u32 *)phys_to_virt(lo & PAGE_MASK);

			for (k = 0; k < 512; k++)
				pt_note(&r, va + k * PAGE_SIZE, PT_PTE, pte[k], domain_of(lo));
		}
		if (hi & 2)
			pt_note(&r, va + SZ_1M, PT_SECT, hi, domain_of(hi));
	}
	pt_note(&r, 0, PT_NONE, 0, NULL);
}

static int __init armmap_oracle_init(void)
{
	struct page *p1, *p2;
	void *k, *l1, *l2, *v;
	void __iomem *io;

	swapper = find_swapper();
	if (!swapper)
		return -ENOENT;
	pr_info(TAG "pgd=0x%08lx\n", swapper);
	p1 = alloc_page(GFP_HIGHUSER);
	p2 = alloc_page(GFP_HIGHUSER);
	if (!p1 || !p2)
		return -ENOMEM;
	k = kmap(p1);
	op("kmap", (unsigned long)k, p1);
	l1 = kmap_local_page(p1);
	op("kmap_local_same", (unsigned long)l1, p1);
	l2 = kmap_local_page(p2);
	op("kmap_local", (unsigned long)l2, p2);
	kunmap_local(l2);
	kunmap_local(l1);
	kunmap(p1);

	v = vmalloc(SZ_1M);
	if (v)
		op("vmalloc", (unsigned long)v, NULL);
	io = ioremap(0x10000000, SZ_1M);
	if (io)
		op("ioremap", (unsigned long)io, NULL);
	op("module", (unsigned long)THIS_MODULE->core_layout.base, NULL);
	pr_info(TAG "module size=0x%x\n", THIS_MODULE->core_layout.size);
	pr_info(TAG "module core=0x%08lx size=0x%x text=0x%x ro=0x%x ro_after_init=0x%x\n",
		(unsigned long)THIS_MODULE->core_layout.base, THIS_MODULE->core_layout.size,
		THIS_MODULE->core_layout.text_size, THIS_MODULE->core_layout.ro_size,
		THIS_MODULE->core_layout.ro_after_init_size);
	pr_info(TAG "module init=0x%08lx size=0x%x text=0x%x ro=0x%x ro_after_init=0x%x\n",
		(unsigned long)THIS_MODULE->init_layout.base, THIS_MODULE->init_layout.size,
		THIS_MODULE->init_layout.text_size, THIS_MODULE->init_layout.ro_size,
		THIS_MODULE->init_layout.ro_after_init_size);

	if (io)
		iounmap(io);
	vfree(v);
	__free_page(p2);
	__free_page(p1);
	dump_tables();
	pr_info(TAG "done\n");
	return 0;
}

module_init(armmap_oracle_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("armmapd oracle: addresses of a fixed sequence of mapping calls");
