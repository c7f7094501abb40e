/* engine/vmboot61.c - the vmalloc space the 6.1 reference boot leaves.
 *
 * Debian 12's armmp kernel on QEMU's virt board has about a hundred areas
 * in its vmalloc space by the time /init runs: IRQ and thread stacks
 * (CONFIG_VMAP_STACK), the GIC's and the AMBA devices' ioremaps, the DMA
 * atomic pool's remap, the per-CPU second chunk, crypto scratch buffers,
 * and lazily freed areas not yet purged.  Every later vmalloc or ioremap
 * lands after them.  This file is what the kernel allocates, in the order
 * it does, replayed at mm_create() through the engine's own vmalloc(),
 * ioremap() and vfree(), so that the addresses follow from the allocator.
 *
 * The facts are the fixtures of tests/oracle (vmallocinfo of real boots
 * at 256 MiB to 3 GiB and 1 to 4 CPUs, three boots a machine; the caller
 * column names each area's kernel function) and the kernel sources named
 * per entry.  The order is the one the one-CPU boots show.  With more CPUs
 * the boot is concurrent and two boots with the same CPU count place their
 * threads differently (2 CPUs: 52 to 55 live kernel_clone stacks); there
 * the table adds what scales with the CPUs (per CPU an IRQ stack, two
 * scomp buffers freed and two kept, a per-CPU unit; per secondary CPU an
 * idle thread and eight kernel threads) in the order most 2- to 4-CPU
 * fixtures show (T_UP, T_SMP and the CPU-count rows), which gets the
 * counts, the sizes and VmallocUsed within the boots' range.
 *
 * Config version 8 is the order the fixtures recorded again (2026-12-06,
 * with the page-table walk) agree on in all three boots, where version 7
 * followed the two earlier boots; a row names the versions it is for
 * (SINCE, UNTIL), so stored version 5-7 machines replay as they were
 * built.  Version 8 replays 13 thread stacks after the UART and GPIO
 * ioremaps on one CPU (version 7: 14), 14 on 2 or 3 CPUs (13), then the
 * per-CPU chunk, RTC's ioremap, the rest; the last one-CPU thread before n_tty
 * alive; with 2 or 3 CPUs two more threads alive before the scomp
 * scratches and the one below n_tty exited; with 4 CPUs a stack before
 * the BPF and gen_pool pages, the second early freed area just before the
 * UART's ioremap and one secondary kthread after it.  What matches
 * (make oracle-diff, fields the three boots agree on): every one-CPU
 * vmallocinfo field; 3 to 11 vmallocinfo fields differ on each 2-CPU
 * machine, 27 to 38 on the 3- and 4-CPU ones (ram768M-cpus4 puts the BPF
 * page after the second GIC ioremap instead).  The rest are the threads'
 * places after RTC's ioremap, which flip between boots of the same
 * machine (scheduling, not modelled: "varies" fields are not counted).
 *
 * Emulates: arch/arm/kernel/irq.c init_irq_stacks(); kernel/fork.c
 * alloc_thread_stack_node() (THREAD_SIZE 8 KiB, THREAD_ALIGN 16 KiB with
 * VMAP_STACK); drivers/irqchip/irq-gic.c gic_of_setup();
 * drivers/irqchip/irq-gic-v2m.c gicv2m_init_one(); kernel/bpf/core.c
 * bpf_prog_alloc_no_stats(); lib/genalloc.c gen_pool_add_owner();
 * include/linux/filter.h bpf_prog_lock_ro();
 * kernel/dma/remap.c dma_common_contiguous_remap() (arch/arm/mm/
 * dma-mapping.c atomic_pool_init(), DEFAULT_DMA_COHERENT_POOL_SIZE,
 * __alloc_remap_buffer(), __dma_alloc_buffer());
 * lib/devres.c __devm_ioremap_resource(), devm_ioremap(); mm/percpu-vm.c
 * pcpu_create_chunk(), pcpu_populate_chunk(), pcpu_alloc_pages(),
 * pcpu_map_pages(); crypto/scompress.c crypto_scomp_init_tfm()
 * (SCOMP_SCRATCH_SIZE 128 KiB, src and dst per CPU); drivers/tty/n_tty.c
 * n_tty_open().
 */
#include "mm_int.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define KIB 1024u

/* What one table entry does. */
enum boot_what {
    B_VMALLOC,     /* vmalloc(size) named by caller */
    B_STACK,       /* a thread stack: 8 KiB, 16 KiB aligned */
    B_IOREMAP,     /* ioremap(arg, size) */
    B_FREED,       /* vmalloc(size), vfree()d: an "unpurged vm_area" */
    B_FREED_STACK, /* a stack of a thread that exited, not purged */
    B_DMA,         /* the atomic pool's remap, when it is remapped */
    B_PCPU         /* the per-CPU second chunk: its map, then its units */
};

/* How many times an entry runs. */
enum boot_times {
    T_ONCE,      /* count times */
    T_PER_CPU,   /* count times per CPU */
    T_SECONDARY, /* count times per CPU after the first */
    T_UP,        /* count times with one CPU only */
    T_SMP,       /* count times with more than one CPU only */
    T_FEW,       /* count times with one to three CPUs */
    T_FEW_SMP,   /* count times with two or three CPUs */
    T_MANY,      /* count times with four CPUs or more */
};

struct boot_step {
    uint8_t what;  /* enum boot_what */
    uint8_t times; /* enum boot_times */
    uint8_t count;
    uint8_t caller; /* index into callers[] */
    uint32_t size;  /* bytes mapped (B_PCPU: unused) */
    uint32_t arg;   /* B_IOREMAP: physical address */
    uint8_t since;  /* the first config version the row is for (0: 5) */
    uint8_t until;  /* the last one (0: every later one) */
};

/* A row that replaced another from a config version on: stored machines
 * of the versions before replay the old row, as they were built. */
#define EVERY    0, 0
#define SINCE(v) (v), 0
#define UNTIL(v) 0, (v)

/* The callers vmallocinfo names (%pS without the offset). */
static const char *const callers[] = {
    "start_kernel",                /* 0: init_irq_stacks(), inlined */
    "gic_of_setup",                /* 1 */
    "gicv2m_init",                 /* 2 */
    "bpf_prog_alloc_no_stats",     /* 3 */
    "kernel_clone",                /* 4 */
    "gen_pool_add_owner",          /* 5 */
    "dma_common_contiguous_remap", /* 6 */
    "__devm_ioremap_resource",     /* 7 */
    "pcpu_create_chunk",           /* 8 */
    "devm_ioremap",                /* 9 */
    "crypto_scomp_init_tfm",       /* 10 */
    "n_tty_open",                  /* 11 */
    "fork_idle",                   /* 12 */
    "pcpu_get_vm_areas",           /* 13 */
};

enum {
    C_IRQ,
    C_GIC,
    C_V2M,
    C_BPF,
    C_CLONE,
    C_GENPOOL,
    C_DMA,
    C_DEVRES,
    C_PCPU,
    C_DEVM,
    C_SCOMP,
    C_NTTY,
    C_IDLE,
    C_PCPU_VM
};

/* QEMU virt's devices as the armmp kernel maps them (hw/arm/virt.c
 * base_memmap: GIC distributor 0x08000000, CPU interface 0x08010000,
 * GICv2m 0x08020000, 64 KiB each; UART 0x09000000, RTC 0x09010000, GPIO
 * 0x09030000, 4 KiB each; the fixtures' phys= column). */
static const struct boot_step table[] = {
    { B_STACK, T_PER_CPU, 1, C_IRQ, 8 * KIB, 0, EVERY },
    { B_IOREMAP, T_ONCE, 1, C_GIC, 64 * KIB, 0x08000000u, EVERY },
    { B_IOREMAP, T_ONCE, 1, C_GIC, 64 * KIB, 0x08010000u, EVERY },
    { B_IOREMAP, T_ONCE, 1, C_V2M, 4 * KIB, 0x08020000u, EVERY },
    /* freed rows: what they were is not printed; their size is */
    { B_FREED, T_ONCE, 1, C_CLONE, 12 * KIB, 0, EVERY },
    { B_STACK, T_MANY, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_VMALLOC, T_ONCE, 1, C_BPF, 4 * KIB, 0, EVERY },
    { B_STACK, T_ONCE, 1, C_CLONE, 8 * KIB, 0, UNTIL(7) },
    { B_STACK, T_FEW, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_VMALLOC, T_ONCE, 1, C_GENPOOL, 4 * KIB, 0, EVERY },
    { B_STACK, T_ONCE, 1, C_CLONE, 8 * KIB, 0, EVERY },
    { B_STACK, T_UP, 1, C_CLONE, 8 * KIB, 0, EVERY },
    { B_FREED, T_ONCE, 1, C_CLONE, 12 * KIB, 0, UNTIL(7) },
    { B_FREED, T_FEW, 1, C_CLONE, 12 * KIB, 0, SINCE(8) },
    { B_STACK, T_SMP, 1, C_CLONE, 8 * KIB, 0, EVERY },
    { B_FREED, T_ONCE, 1, C_CLONE, 4 * KIB, 0, EVERY },
    { B_STACK, T_ONCE, 13, C_CLONE, 8 * KIB, 0, EVERY },
    { B_STACK, T_UP, 3, C_CLONE, 8 * KIB, 0, EVERY },
    /* smp_init(): the secondary CPUs' idle threads, then their kthreads */
    { B_STACK, T_SECONDARY, 1, C_IDLE, 8 * KIB, 0, EVERY },
    { B_STACK, T_SMP, 2, C_CLONE, 8 * KIB, 0, UNTIL(7) },
    { B_STACK, T_FEW_SMP, 2, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_STACK, T_MANY, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_STACK, T_SECONDARY, 6, C_CLONE, 8 * KIB, 0, EVERY },
    { B_DMA, T_ONCE, 1, C_DMA, 256 * KIB, 0, EVERY },
    { B_STACK, T_ONCE, 1, C_CLONE, 8 * KIB, 0, EVERY },
    { B_FREED, T_MANY, 1, C_CLONE, 12 * KIB, 0, SINCE(8) },
    { B_IOREMAP, T_ONCE, 1, C_DEVRES, 4 * KIB, 0x09000000u, EVERY },
    { B_IOREMAP, T_ONCE, 1, C_DEVRES, 4 * KIB, 0x09030000u, EVERY },
    { B_STACK, T_MANY, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_STACK, T_ONCE, 13, C_CLONE, 8 * KIB, 0, EVERY },
    { B_STACK, T_UP, 1, C_CLONE, 8 * KIB, 0, UNTIL(7) },
    { B_STACK, T_FEW_SMP, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_PCPU, T_ONCE, 1, C_PCPU, 0, 0, EVERY },
    { B_IOREMAP, T_ONCE, 1, C_DEVM, 4 * KIB, 0x09010000u, EVERY },
    { B_STACK, T_ONCE, 10, C_CLONE, 8 * KIB, 0, UNTIL(7) },
    { B_STACK, T_UP, 11, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_STACK, T_FEW_SMP, 11, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_STACK, T_MANY, 10, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_FREED_STACK, T_SMP, 3, C_CLONE, 8 * KIB, 0, UNTIL(7) },
    { B_FREED_STACK, T_FEW_SMP, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_FREED_STACK, T_MANY, 3, C_CLONE, 8 * KIB, 0, SINCE(8) },
    /* the first scomp tfm's scratches, freed with it, then the next's */
    { B_FREED, T_PER_CPU, 2, C_SCOMP, 128 * KIB, 0, EVERY },
    { B_VMALLOC, T_PER_CPU, 2, C_SCOMP, 128 * KIB, 0, EVERY },
    { B_STACK, T_ONCE, 1, C_CLONE, 8 * KIB, 0, EVERY },
    { B_STACK, T_SMP, 1, C_CLONE, 8 * KIB, 0, EVERY },
    { B_FREED_STACK, T_UP, 1, C_CLONE, 8 * KIB, 0, UNTIL(7) },
    { B_STACK, T_UP, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_FREED_STACK, T_SMP, 5, C_CLONE, 8 * KIB, 0, EVERY },
    { B_STACK, T_SMP, 1, C_CLONE, 8 * KIB, 0, UNTIL(7) },
    { B_STACK, T_MANY, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_FREED_STACK, T_FEW_SMP, 1, C_CLONE, 8 * KIB, 0, SINCE(8) },
    { B_VMALLOC, T_ONCE, 1, C_NTTY, 12 * KIB, 0, EVERY },
    /* /init's first processes (SMP boots run more of them by now) */
    { B_FREED_STACK, T_SMP, 10, C_CLONE, 8 * KIB, 0, EVERY },
    { B_STACK, T_SECONDARY, 2, C_CLONE, 8 * KIB, 0, EVERY },
};

/* KERNEL: 6.1 arch/arm/include/asm/thread_info.h THREAD_SIZE 8 KiB,
 * THREAD_ALIGN 2 * THREAD_SIZE with VMAP_STACK (config-6.1.0-57-armmp:
 * CONFIG_VMAP_STACK=y). */
#define THREAD_SZ    (8 * KIB)
#define THREAD_ALIGN (16 * KIB)

bool mm__config_boot_vmap(const struct mm_config *cfg)
{
    return mm__config_late_boot(cfg) && cfg->version >= 5;
}

/* Config version 7: the boot's areas map what the kernel's dump shows:
 * the BPF program page read-only, as bpf_prog_select_runtime() leaves a
 * program the build does not JIT (mm__vmap_lock_ro()), and the DMA atomic
 * pool's remap mapped; stored version-5 and 6 machines keep them as they
 * were built.  KERNEL: 6.1 include/linux/filter.h bpf_prog_lock_ro(); the
 * fixtures' dump: the bpf_prog_alloc_no_stats page is `ro NX` on every
 * machine, the pool's 256K `RW NX SHD MEM/BUFFERABLE/WC`. */
bool mm__config_boot_maps(const struct mm_config *cfg)
{
    return mm__config_boot_vmap(cfg) && cfg->version >= 7;
}

const char *mm__boot_caller_name(unsigned idx)
{
    return idx < sizeof(callers) / sizeof(callers[0]) ? callers[idx] : NULL;
}

/* The atomic pool is remapped unless it comes from a CMA area in lowmem,
 * which __alloc_from_contiguous() uses through the direct map.  KERNEL:
 * 6.1 arch/arm/mm/dma-mapping.c atomic_pool_init(),
 * __alloc_from_contiguous(), __alloc_remap_buffer(). */
static bool pool_remapped(const struct mm_machine *m)
{
    return m->cma_pages == 0 || m->cma_remap_bytes == 0;
}

/*
 * Takes a 2^@order block for the boot to keep (MM_OWN_BOOT) from @zone, or
 * from Normal where the build has no such zone (GFP_DMA without
 * CONFIG_ZONE_DMA, __GFP_HIGHMEM without CONFIG_HIGHMEM); the buddy falls
 * back to the zones below as the zonelist does.  Return: MM_OK with *@pfn,
 * MM_NO_MEMORY (res->msg says why), and nothing taken.
 */
static enum mm_status boot_alloc(struct mm_machine *m, enum mm_zone zone, unsigned order,
                                 mm_pfn_t *pfn, struct mm_result *res)
{
    enum mm_status st = mm__alloc_pages(m, zone, order, MM_OWN_BOOT, pfn, "boot",
                                        res->msg);

    if (st == MM_INVALID_ARGUMENT && zone != MM_ZONE_NORMAL)
        st = mm__alloc_pages(m, MM_ZONE_NORMAL, order, MM_OWN_BOOT, pfn, "boot",
                             res->msg);
    if (st == MM_OK)
        m->boot_held_pages += 1u << order;
    return st;
}

static void boot_free(struct mm_machine *m, mm_pfn_t pfn, unsigned order)
{
    char msg[MM_MSG_MAX];
    enum mm_status st = mm__free_pages(m, pfn, order, MM_OWN_BOOT, "boot", msg);

    assert(st == MM_OK);
    (void)st;
    m->boot_held_pages -= 1u << order;
}

/* get_order() of the pool: its size is DEFAULT_DMA_COHERENT_POOL_SIZE, a
 * power of two pages, so split_page() leaves nothing in excess to free and
 * the engine keeps the block whole. */
static unsigned pool_order(uint32_t pages)
{
    unsigned order = 0;

    while ((1u << order) < pages)
        order++;
    assert((1u << order) == pages);
    return order;
}

/*
 * The remapped pool's pages into *@phys (0: the remap maps nothing).  A
 * highmem CMA area's first ones, which late_boot() counts as taken
 * (cma_used), from config version 7.  Without CMA, from version 8,
 * __alloc_remap_buffer() -> __dma_alloc_buffer(): alloc_pages() of
 * get_order(size) with the pool's GFP_KERNEL | GFP_DMA (ZONE_DMA, all of
 * lowmem on this build), then split_page().  Return: MM_OK, or the
 * allocation's failure (nothing taken).  KERNEL: 6.1
 * arch/arm/mm/dma-mapping.c atomic_pool_init(), __alloc_from_contiguous()
 * (PageHighMem: dma_common_contiguous_remap()), __alloc_remap_buffer(),
 * __dma_alloc_buffer().
 */
static enum mm_status pool_pages(struct mm_machine *m, uint32_t size, mm_paddr_t *phys,
                                 struct mm_result *res)
{
    mm_pfn_t pfn;
    enum mm_status st;

    *phys = 0;
    if (m->cma_pages != 0) {
        if (mm__config_boot_maps(&m->cfg) &&
            ((uint64_t)m->cma_used << MM_PAGE_SHIFT) >= size)
            *phys = (mm_paddr_t)m->cma_base;
        return MM_OK;
    }
    if (!mm__config_boot_pages(&m->cfg))
        return MM_OK;
    st = boot_alloc(m, MM_ZONE_DMA, pool_order(size / MM_PAGE_SIZE), &pfn, res);
    if (st == MM_OK)
        *phys = (mm_paddr_t)pfn << MM_PAGE_SHIFT;
    return st;
}

/* The DMA atomic pool's remap; a failed remap gives the pages it took back
 * (__alloc_remap_buffer(): __dma_free_buffer()). */
static enum mm_status boot_pool(struct mm_machine *m, uint32_t size,
                                struct mm_result *res)
{
    uint32_t pages = size / MM_PAGE_SIZE;
    mm_paddr_t phys;
    enum mm_status st = pool_pages(m, size, &phys, res);

    if (st != MM_OK)
        return st;
    st = mm__vmap_boot_area(m, false, pages, phys, res);
    if (st != MM_OK && phys != 0 && m->cma_pages == 0)
        boot_free(m, MM_PFN(phys), pool_order(pages));
    return st;
}

/* KERNEL: 6.1 mm/percpu.c pcpu_balance_populated(): the work that creates
 * the second chunk populates it up to PCPU_EMPTY_POP_PAGES_HIGH (4) empty
 * populated pages; the first chunk still had one, so the new chunk's first
 * three pages of each unit are (the fixtures' dump: 12K at the start of
 * every unit on 35 of 36 boots, 16K on the other). */
#define PCPU_POP_PAGES 3u

/*
 * pcpu_populate_chunk() of the chunk at @base (@unit pages a CPU) for its
 * first PCPU_POP_PAGES pages: pcpu_alloc_pages() takes them CPU by CPU,
 * page by page, order 0, GFP_KERNEL | __GFP_HIGHMEM, then pcpu_map_pages()
 * maps each CPU's run with PAGE_KERNEL (pte_alloc_kernel() where the 2 MiB
 * step has no table); flush_cache_vmap() flushes no TLB.  If a page is
 * missing, those taken go back and nothing is mapped.  KERNEL: 6.1
 * mm/percpu-vm.c pcpu_populate_chunk(), pcpu_alloc_pages(),
 * pcpu_map_pages(), __pcpu_map_pages().
 */
static enum mm_status pcpu_populate(struct mm_machine *m, mm_vaddr_t base, uint32_t unit,
                                    struct mm_result *res)
{
    mm_pfn_t pfns[MM_MAX_CPUS * PCPU_POP_PAGES];
    uint32_t per = unit < PCPU_POP_PAGES ? unit : PCPU_POP_PAGES;
    uint32_t n = m->cfg.cpus * per;
    enum mm_status st = MM_OK;

    assert(m->cfg.cpus <= MM_MAX_CPUS);
    for (uint32_t i = 0; i < n; i++) {
        st = boot_alloc(m, MM_ZONE_HIGHMEM, 0, &pfns[i], res);
        if (st != MM_OK) {
            while (i-- > 0)
                boot_free(m, pfns[i], 0);
            return st;
        }
    }
    for (uint32_t i = 0; i < n && st == MM_OK; i++) {
        mm_vaddr_t va = base + ((i / per) * unit + i % per) * MM_PAGE_SIZE;

        st = mm__pte_alloc(m, va, "boot", res->msg);
        if (st == MM_OK)
            mm__set_pte(m, va, mm__mk_pte(m, pfns[i], MM_PROT_KERNEL));
    }
    if (st == MM_OK)
        m->pcpu_populated = per;
    return st;
}

/* The per-CPU second chunk: pcpu_alloc_chunk()'s obj_cgroups array
 * (CONFIG_MEMCG_KMEM: one pointer per PCPU_MIN_ALLOC_SIZE = 4 bytes of a
 * unit, so a unit's size; vmalloc'd as it is over a page), then
 * pcpu_get_vm_areas() of one unit per CPU.  KERNEL: 6.1 mm/percpu.c
 * pcpu_alloc_chunk(), pcpu_mem_zalloc(); mm/percpu-vm.c
 * pcpu_create_chunk(). */
static enum mm_status boot_pcpu(struct mm_machine *m, struct mm_result *res)
{
    uint32_t unit = mm__percpu_unit_pages(&m->cfg);
    enum mm_status st;

    if (unit == 0) /* an image of the config's own: no per-CPU figures */
        return MM_OK;
    st = mm__vmalloc(m, unit * MM_PAGE_SIZE, res);
    if (st != MM_OK)
        return st;
    mm__vmap_set_caller(m, res->value, C_PCPU);
    st = mm__vmap_boot_area(m, true, unit * m->cfg.cpus, 0, res);
    if (st != MM_OK)
        return st;
    mm__vmap_set_caller(m, res->value, C_PCPU_VM);
    if (mm__config_boot_pages(&m->cfg))
        st = pcpu_populate(m, res->value, unit, res);
    return st;
}

static enum mm_status boot_one(struct mm_machine *m, const struct boot_step *s,
                               struct mm_result *res)
{
    enum mm_status st;
    struct mm_result fr;

    switch (s->what) {
    case B_STACK:
    case B_FREED_STACK:
        st = mm__vmalloc_aligned(m, THREAD_SZ, THREAD_ALIGN, res);
        break;
    case B_IOREMAP:
        st = mm__ioremap(m, s->arg, s->size, res);
        break;
    case B_DMA:
        if (!pool_remapped(m))
            return MM_OK;
        st = boot_pool(m, s->size, res);
        break;
    case B_PCPU:
        return boot_pcpu(m, res);
    default:
        st = mm__vmalloc(m, s->size, res);
        break;
    }
    if (st != MM_OK)
        return st;
    mm__vmap_set_caller(m, res->value, s->caller);
    if (s->what == B_FREED || s->what == B_FREED_STACK)
        st = mm__vfree(m, res->value, &fr);
    else if (s->caller == C_BPF && mm__config_boot_maps(&m->cfg))
        st = mm__vmap_lock_ro(m, res->value, &fr);
    return st;
}

static unsigned step_times(const struct mm_machine *m, const struct boot_step *s)
{
    if (m->cfg.version < s->since || (s->until != 0 && m->cfg.version > s->until))
        return 0;
    switch (s->times) {
    case T_PER_CPU:
        return s->count * m->cfg.cpus;
    case T_SECONDARY:
        return s->count * (m->cfg.cpus - 1);
    case T_UP:
        return m->cfg.cpus == 1 ? s->count : 0;
    case T_SMP:
        return m->cfg.cpus > 1 ? s->count : 0;
    case T_FEW:
        return m->cfg.cpus < 4 ? s->count : 0;
    case T_FEW_SMP:
        return m->cfg.cpus > 1 && m->cfg.cpus < 4 ? s->count : 0;
    case T_MANY:
        return m->cfg.cpus >= 4 ? s->count : 0;
    default:
        return s->count;
    }
}

/*
 * Replays the table on a machine just created (config version 5 of the
 * reference build; nothing elsewhere).  A machine whose vmalloc area or
 * memory is too small for all of it (more CPUs than the build's NR_CPUS 8
 * with vmalloc=8M) keeps what fit: the replay stops at the first step
 * that fails, which changed nothing (as the kernel's failed allocation
 * leaves that driver or thread out).  Return: MM_OK; the error is for
 * host memory only.
 */
enum mm_status mm__vmap_boot(struct mm_machine *m, char err[MM_MSG_MAX])
{
    struct mm_result res;

    if (!mm__config_boot_vmap(&m->cfg))
        return MM_OK;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        unsigned n = step_times(m, &table[i]);

        for (unsigned k = 0; k < n; k++) {
            memset(&res, 0, sizeof(res));
            if (boot_one(m, &table[i], &res) == MM_OK)
                continue;
            if (strstr(res.msg, "host memory") != NULL)
                return mm__fail(err, MM_NO_MEMORY, "create: out of host memory");
            return MM_OK;
        }
    }
    return MM_OK;
}
