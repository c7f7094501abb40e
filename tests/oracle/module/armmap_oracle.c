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
 */
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/smp.h>
#include <linux/vmalloc.h>
#include <asm/pgtable.h>

#define TAG "armmap-oracle: "
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
	pr_info(TAG "done\n");

	if (io)
		iounmap(io);
	vfree(v);
	__free_page(p2);
	__free_page(p1);
	return 0;
}

module_init(armmap_oracle_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("armmapd oracle: addresses of a fixed sequence of mapping calls");
