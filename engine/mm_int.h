/* engine/mm_int.h - internal interfaces shared by the engine's files.
 *
 * Only engine/ .c files and the engine tests include this.  Each module keeps its
 * own state private to its .c file behind a pointer in struct mm_machine
 * (struct mm_phys, mm_buddy, mm_pkmap, mm_katomic, mm_vmap, mm_physidx),
 * with a create/clone/destroy triple, so that a machine is cloned by
 * cloning each part, and a save/load pair for snapshots (snapshot.c).  Functions shared between files carry the mm__ prefix.
 *
 * Message convention: every error message starts with the operation's name
 * and names the values involved, e.g.
 *   "kunmap: pfn 0x9f000 is not mapped by kmap".
 */
#ifndef ARMMAP_ENGINE_MM_INT_H
#define ARMMAP_ENGINE_MM_INT_H

#include "mm.h"

#include <stdarg.h>

/* KERNEL: arch/arm/include/asm/pgtable-2level.h, highmem.h, pgtable.h */
#define MM_SECTION_SIZE    0x00100000u
#define MM_PMD_SIZE        0x00200000u /* one Linux pgd entry */
#define MM_PTRS_PER_PTE    512
#define MM_PTRS_PER_PGD    2048
#define MM_LAST_PKMAP      512
#define MM_VMALLOC_OFFSET  0x00800000u
#define MM_PTE_HWTABLE_OFF 2048 /* bytes from Linux PTE to h/w PTE */
#define MM_PFN(pa)         ((mm_pfn_t)((pa) >> MM_PAGE_SHIFT))
#define MM_PFN_PHYS(pfn)   ((uint64_t)(pfn) << MM_PAGE_SHIFT)

/* Linux PTE bits (pgtable-2level.h, 3.4). */
#define MM_L_PTE_PRESENT (1u << 0)
#define MM_L_PTE_YOUNG   (1u << 1)
#define MM_L_PTE_MT_MASK (0xfu << 2)
#define MM_L_PTE_DIRTY   (1u << 6)
#define MM_L_PTE_RDONLY  (1u << 7)
#define MM_L_PTE_USER    (1u << 8)
#define MM_L_PTE_XN      (1u << 9)
#define MM_L_PTE_SHARED  (1u << 10)

/* The Linux PTE @pte with pgprot_dmacoherent()'s memory type and XN:
 * L_PTE_MT_BUFFERABLE (0x01 << 2) with ARM_DMA_MEM_BUFFERABLE.  The DMA
 * atomic pool's pages, through the direct map or a vmalloc-space remap.
 * KERNEL: 6.1 arch/arm/include/asm/pgtable.h pgprot_dmacoherent(). */
#define MM_PTE_DMACOHERENT(pte) (((pte) & ~MM_L_PTE_MT_MASK) | (0x01u << 2) | MM_L_PTE_XN)

/* Formats into a message buffer of MM_MSG_MAX bytes; returns @st.  Used as
 * "return mm__fail(res->msg, MM_NOT_FOUND, "kunmap: pfn 0x%x ...", pfn);"
 * A macro, so that the status returned is visible where it is used (to
 * the compiler and to clang's static analyzer, which otherwise follows
 * failure paths as if they had succeeded). */
#define mm__fail(msg, st, ...) (mm__failf((msg), __VA_ARGS__), (st))
void mm__failf(char msg[MM_MSG_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------ */
/* Eras and the derived layout (config.c, era.c)                       */
/* ------------------------------------------------------------------ */

/*
 * What a kernel version selects.  era.c holds the table, one row per range
 * of versions, each row citing the kernel source it was read from.
 */
struct mm_era {
    uint32_t since;              /* first version (MM_KVER) of this row */
    const char *source;          /* "3.4.39 arch/arm/mm/mmu.c", for docs */
    mm_vaddr_t vmalloc_end;      /* 0: per platform (config must give it) */
    uint32_t vmalloc_reserve;    /* default size of the vmalloc area */
    bool default_cut_has_offset; /* default cut also subtracts VMALLOC_OFFSET */
    bool param_cut_has_offset;   /* vmalloc= subtracts it too (6.1) */
    mm_vaddr_t fixaddr_start;    /* FIXADDR_START */
    mm_vaddr_t fixaddr_end;      /* the end the layout block prints */
    mm_vaddr_t fix_kmap_top;     /* top-down: FIXADDR_TOP; 0 if bottom-up */
    unsigned fix_kmap_begin;     /* FIX_KMAP_BEGIN index */
    unsigned km_type_nr;         /* slots per CPU (KM_TYPE_NR / KM_MAX_IDX) */
    unsigned fix_kmap_slots;     /* fixmap kmap slots in all (e.g. 224 in 3.4) */
    enum mm_atomic atomic_default;
    bool fixmap_own_pte_page; /* fixmap PTE page apart from top_pmd's */
    bool meminfo_split;       /* 3.x sanity_check_meminfo() (else 4.x memblock) */
    int layout_fmt;           /* report.c: which layout block, 0 = none */
    int memory_fmt;           /* report.c: which Memory: line(s) */
};

/* The era row for @kernel, or NULL if the version is out of range. */
const struct mm_era *mm__era_for(uint32_t kernel);

/* Whether the era ignores RAM past 4 GiB at boot (instead of refusing it). */
bool mm__era_ignores_high_ram(const struct mm_era *era);

/* cfg.smp and cfg.errata_798181 with "auto" resolved (config.c). */
bool mm__config_smp(const struct mm_config *cfg);
bool mm__config_errata_798181(const struct mm_config *cfg);
/**
 * mm__config_effective - @cfg with its cmdline applied, as setup_arch()'s
 * parse_early_param() would: mem= (4.19+) replaces the banks, vmalloc=
 * sets vmalloc_size.  Return: MM_OK with *@eff filled, or
 * MM_INVALID_ARGUMENT with @err naming the word.
 */
enum mm_status mm__config_effective(const struct mm_config *cfg, struct mm_config *eff,
                                    char err[MM_MSG_MAX]);

/* CONFIG_ZONE_DMA without a platform dma_zone_size: all lowmem is ZONE_DMA
 * (the Debian armmp reference build only). */
bool mm__config_zone_dma(const struct mm_config *cfg);

/* CONFIG_MEMCG (a 36-byte struct page in 6.1): the Debian armmp build. */
bool mm__config_memcg(const struct mm_config *cfg);
/* MAX_ORDER: CONFIG_ARCH_FORCE_MAX_ORDER=12 in the Debian armmp build, else
 * 11.  Only mem_map's alignment follows it; the buddy keeps 11 orders. */
unsigned mm__config_max_order(const struct mm_config *cfg);
/* Version 3 of the reference build: what its boot does after mem_init(). */
bool mm__config_late_boot(const struct mm_config *cfg);
/* MAX_ORDER of the machine's buddy allocator (11, or the build's from v3). */
unsigned mm__config_buddy_orders(const struct mm_config *cfg);
/* CONFIG_STRICT_KERNEL_RWX's section permissions are set (version 3 of
 * the reference build with its own image). */
bool mm__config_strict_rwx(const struct mm_config *cfg);
/* CONFIG_STRICT_MODULE_RWX: complete_formation() makes a module's text and
 * rodata read-only and its data non-executable (the reference build). */
bool mm__config_strict_module_rwx(const struct mm_config *cfg);
/* complete_formation()'s module_enable_ro(), module_enable_nx() and
 * module_enable_x() on the core layout of a module loaded at @va, a live
 * module_alloc area: [0, @text_size) read-only and executable, [@text_size,
 * @ro_size) read-only and not executable, the rest not executable.  Both
 * sizes page aligned, text_size <= ro_size <= the area's mapped bytes.
 * Without STRICT_MODULE_RWX nothing changes and value = 0 (again on a
 * second call: nothing was protected); else value = read-only pages and a
 * second call is refused.  The operation MM_OP_MODULE_ENABLE_RO
 * (mm_module_enable_ro()); tests/oracle calls it directly. */
enum mm_status mm__module_enable_ro(struct mm_machine *m, mm_vaddr_t va,
                                    uint32_t text_size, uint32_t ro_size,
                                    struct mm_result *res);
/* fix_kernmem_perms() and mark_rodata_ro() on the lowmem sections of the
 * image (pgtable.c); nothing unless mm__config_strict_rwx(). */
void mm__fix_kernmem_perms(struct mm_machine *m);
/* The reference image's static per-CPU bytes; 0 when not modelled. */
uint32_t mm__config_percpu_static(const struct mm_config *cfg);
/* Pages of one first-chunk per-CPU unit (setup_per_cpu_areas()); 0 when
 * the per-CPU areas are not modelled. */
uint32_t mm__percpu_unit_pages(const struct mm_config *cfg);
uint32_t mm__percpu_first_pages(const struct mm_config *cfg);
/* The first chunk's static, reserved and dynamic bytes (the percpu: line's
 * s, r and d); 0, 0, 0 when the per-CPU areas are not modelled. */
void mm__percpu_sizes(const struct mm_config *cfg, uint32_t *static_size,
                      uint32_t *reserved, uint32_t *dyn);

/* The default CMA area's size in bytes: cma=SIZE from the cmdline, else
 * CONFIG_CMA_SIZE_MBYTES of a CONFIG_CMA build (16M for Debian's armmp),
 * else 0. */
uint64_t mm__config_cma_bytes(const struct mm_config *cfg);

/* The reference image's _stext and rodata size (config.c); 0 and 0 when
 * the machine has no reference image (_stext is then _text). */
void mm__config_image_extras(const struct mm_config *cfg, mm_vaddr_t *stext,
                             uint32_t *rodata);
/* RAM pages of the layout's regions in pfns [@s, @e) (buddy.c). */
struct mm_layout;
uint32_t mm__ram_pages_in(const struct mm_layout *lay, mm_pfn_t s, mm_pfn_t e);
/* Version 5 of the reference build: the boot's early memblock allocations
 * (the unflattened device tree, the per-CPU maps, the hash tables...). */
bool mm__config_early_memblock(const struct mm_config *cfg);
/* log2 of the entries of the early hash table of @scale (13: dentry, 14:
 * inode) of 4-byte buckets, alloc_large_system_hash() (machine.c), sized
 * by the command line's dhash_entries= / ihash_entries= when it has one
 * (config version 6); 0 when the machine does not model them. */
unsigned mm__vfs_hash_shift(const struct mm_machine *m, unsigned scale);
/* sizeof(struct page) of the machine's build (machine.c). */
unsigned mm__sizeof_struct_page(const struct mm_config *cfg);
/* CONFIG_CMA and CONFIG_ZSWAP: the Debian armmp reference build only. */
bool mm__config_cma(const struct mm_config *cfg);
bool mm__config_zswap(const struct mm_config *cfg);
/* CONFIG_PCI: on for the Debian armmp reference build only. */
bool mm__config_pci(const struct mm_config *cfg);
/* The reference build on its board (QEMU virt's devices in /proc/iomem). */
bool mm__config_board_devices(const struct mm_config *cfg);
/* The initrd= of the kernel command line (the last one), when it names a
 * non-empty range; mm__config_effective() refused it unless the config is
 * the version-3 reference build. */
bool mm__config_initrd(const struct mm_config *cfg, uint64_t *start, uint64_t *size);
/* The last "@key<N>" word of the command line (@key "dhash_entries=" or
 * "ihash_entries="): N, or 0 (none, or config version before 6). */
uint64_t mm__config_hash_entries(const struct mm_config *cfg, const char *key);

#define MM_FDT_FIXED_SIZE 0x00200000u       /* 6.1 asm/memory.h 2 * SECTION_SIZE */
#define MM_FDT_WINDOW     MM_FDT_FIXED_SIZE /* the most of a blob that map can hold */

/* The device tree blob the bootloader passes: false when none (key "fdt",
 * "auto" resolved as QEMU places it on the version-4 reference build). */
bool mm__config_fdt(const struct mm_config *cfg, uint64_t *start, uint32_t *size);
#define MM_PCI_IO_SIZE 0x00200000u /* 6.1 mmu.c pci_reserve_io() SZ_2M */

struct mm_region { /* a memblock.memory region after the cut */
    mm_paddr_t start;
    uint64_t end; /* exclusive */
    bool highmem;
};

#define MM_MAX_REGIONS (MM_MAX_BANKS + 1)

/*
 * Every constant of one machine, derived from its config once at create.
 * All addresses absolute; pfns absolute (not relative to PHYS_PFN_OFFSET).
 */
struct mm_layout {
    const struct mm_era *era;
    mm_vaddr_t page_offset;      /* PAGE_OFFSET */
    mm_paddr_t phys_offset;      /* PHYS_OFFSET: the first bank's start */
    mm_vaddr_t task_size;        /* TASK_SIZE */
    mm_vaddr_t modules_vaddr;    /* MODULES_VADDR */
    mm_vaddr_t modules_end;      /* MODULES_END */
    mm_vaddr_t pkmap_base;       /* PKMAP_BASE; 0 without HIGHMEM */
    mm_vaddr_t vmalloc_min;      /* the lowmem cut, as a VA */
    mm_vaddr_t high_memory;      /* VA just past lowmem */
    mm_vaddr_t vmalloc_start;    /* VMALLOC_START */
    mm_vaddr_t vmalloc_end;      /* VMALLOC_END */
    uint64_t lowmem_limit;       /* arm_lowmem_limit, PA, exclusive */
    mm_vaddr_t fixaddr_start;    /* FIXADDR_START */
    mm_vaddr_t fixaddr_end;      /* printed end of fixmap */
    mm_vaddr_t vectors_base;     /* 0xffff0000 */
    mm_vaddr_t timers_base;      /* 0 unless cfg.user_timers */
    mm_vaddr_t consistent_start; /* coherent-DMA window; 0 if none */
    mm_vaddr_t consistent_end;
    mm_paddr_t pgd_pa;     /* swapper_pg_dir */
    unsigned km_type_nr;   /* kmap_atomic slots per CPU */
    enum mm_atomic atomic; /* resolved style */
    mm_pfn_t min_pfn;      /* first RAM pfn */
    mm_pfn_t max_low_pfn;  /* end of lowmem (exclusive) */
    mm_pfn_t max_pfn;      /* end of RAM (exclusive) */
    mm_pfn_t dma_end_pfn;  /* end of ZONE_DMA; == min_pfn if none */
    unsigned nr_regions;
    struct mm_region regions[MM_MAX_REGIONS]; /* sorted, merged as memblock merges */
    struct {
        mm_vaddr_t start, end;
    } text, init, data, bss; /* resolved */
    mm_vaddr_t stext;        /* _stext: text.start unless the image says */
    uint32_t rodata_size;    /* __end_rodata - __start_rodata; 0: in .text */
    bool smp;                /* CONFIG_SMP (cfg.smp resolved) */
    bool kmap_high_get;      /* ARCH_NEEDS_KMAP_HIGH_GET with HIGHMEM */
    mm_vaddr_t fdt_base;     /* FDT_FIXED_BASE read-only DTB map; 0 if none */
    mm_vaddr_t pci_io_base;  /* PCI_IO_VIRT_BASE reservation; 0 if none */
    mm_vaddr_t vectors_end;  /* vectors page, and the stubs page from 3.11 */
    uint64_t ignored_start;  /* RAM past 4 GiB ignored at boot; 0 if none */
    uint64_t ignored_end;
};

/**
 * mm__layout_compute - derive the layout from a config, as the kernel's
 * setup_arch() / sanity_check_meminfo() / adjust_lowmem_bounds() would
 * Return: MM_OK, or MM_INVALID_ARGUMENT with @err naming the field
 * (e.g. no lowmem left below the cut).
 */
enum mm_status mm__layout_compute(const struct mm_config *cfg, struct mm_layout *lay,
                                  char err[MM_MSG_MAX]);

/* ------------------------------------------------------------------ */
/* The machine                                                         */
/* ------------------------------------------------------------------ */

struct mm_phys;
struct mm_buddy;
struct mm_pkmap;
struct mm_katomic;
struct mm_vmap;
struct mm_memblock;
struct mm_physidx;

struct mm_counters {
    uint32_t tlb_flushes;   /* every local or global flush */
    uint32_t pkmap_flushes; /* flush_all_zero_pkmaps() that cleared a slot */
    uint32_t pte_pages;     /* second-level tables allocated, boot included */
};

struct mm_machine {
    struct mm_config cfg;
    struct mm_layout lay;
    uint64_t seq;
    char broken[MM_MSG_MAX]; /* mm_oops() reason; "" while healthy */
    struct mm_counters cnt;
    uint32_t boot_reserved_pages; /* PageReserved at boot, for the Memory: line */
    uint32_t boot_pte_pages;      /* PTE pages memblock gave at boot */
    uint32_t boot_held_pages;     /* pages the boot took from the buddy for good */
    uint32_t pcpu_populated;      /* pages of each unit the second per-CPU chunk maps */
    mm_paddr_t cma_base;          /* the default CMA area */
    uint32_t cma_pages;           /* its pages; 0 if none */
    uint32_t cma_used;            /* of them, taken at boot (DMA atomic pool) */
    uint32_t initmem_pages;       /* init sections freed after mem_init() */
    uint32_t cma_remap_bytes;     /* of the CMA area, remapped with pages in lowmem */
    mm_paddr_t initrd_start;      /* initrd=, rounded out to pages */
    uint32_t initrd_pages;      /* its pages, reserved at boot, freed after; 0 if none */
    mm_paddr_t fdt_start;       /* the device tree blob, rounded out to pages */
    uint32_t fdt_pages;         /* its pages, reserved for good; 0 if none */
    struct mm_memblock *boot;   /* memblock during mm_create(); NULL after */
    struct mm_phys *phys;       /* physmem.c */
    struct mm_buddy *buddy;     /* buddy.c */
    struct mm_pkmap *pkmap;     /* highmem.c */
    struct mm_katomic *katomic; /* kmap_atomic.c */
    struct mm_vmap *vmap;       /* vmalloc.c */
    struct mm_physidx *physidx; /* physidx.c: NULL during boot */
    struct mm_touched touched;  /* since mm_touched_clear() (check.c) */
    struct mm_touched since;    /* since mm_since_clear(): not cleared by checks */
};

/* ------------------------------------------------------------------ */
/* Emulated physical memory (physmem.c)                                */
/* ------------------------------------------------------------------ */

/* Sparse: a page takes host memory once written; unwritten memory reads 0. */
struct mm_phys *mm__phys_create(void);
struct mm_phys *mm__phys_clone(const struct mm_phys *p);
void mm__phys_destroy(struct mm_phys *p);
/* The page's words, or NULL if never written (reads as zero). */
const uint32_t *mm__phys_page(const struct mm_phys *p, mm_pfn_t pfn);
/* The page's words, created zeroed if needed; NULL if host memory runs out. */
uint32_t *mm__phys_page_rw(struct mm_phys *p, mm_pfn_t pfn);
/* Forgets a page (it reads as zero again and its host memory is freed). */
void mm__phys_drop(struct mm_phys *p, mm_pfn_t pfn);
uint32_t mm__phys_read32(const struct mm_phys *p, mm_paddr_t pa);
/* Writes a word; the page must have been created with mm__phys_page_rw(). */
void mm__phys_write32(struct mm_phys *p, mm_paddr_t pa, uint32_t val);
size_t mm__phys_host_bytes(const struct mm_phys *p);
size_t mm__phys_count(const struct mm_phys *p);
void mm__phys_foreach(const struct mm_phys *p,
                      bool (*fn)(void *arg, mm_pfn_t pfn, const uint8_t *data),
                      void *arg);

/* ------------------------------------------------------------------ */
/* Page frames and the buddy allocator (buddy.c)                       */
/* ------------------------------------------------------------------ */

enum mm_owner { /* who holds an allocated block */
                MM_OWN_NONE = 0,
                MM_OWN_USER,    /* the alloc operation */
                MM_OWN_PGTABLE, /* a second-level page table */
                MM_OWN_VMALLOC, /* a vmalloc or module_alloc page */
                MM_OWN_BOOT,    /* kept by the boot: the per-CPU chunk's
                                 * pages, a DMA pool's (vmboot61.c) */
                MM_OWN_COUNT
};

enum mm_page_state {
    MM_PAGE_HOLE = 0, /* not RAM */
    MM_PAGE_RESERVED, /* memblock-reserved at boot */
    MM_PAGE_FREE,     /* in a free buddy block */
    MM_PAGE_USED      /* in an allocated block */
};

struct mm_page_info {
    enum mm_page_state state;
    enum mm_zone zone;
    mm_pfn_t head;       /* first pfn of its block (FREE, USED) */
    unsigned order;      /* its block's order (FREE, USED) */
    enum mm_owner owner; /* USED only */
};

struct mm_range32 {
    mm_paddr_t start;
    uint64_t end; /* exclusive */
};

/*
 * Builds the zones from m->lay and frees every RAM page outside @reserved
 * (sorted, non-overlapping, byte ranges; a page is free only if wholly
 * outside them) in ascending order, merging as __free_pages() does.
 * Sets m->buddy.  Return: MM_OK or MM_NO_MEMORY.
 */
enum mm_status mm__buddy_init(struct mm_machine *m, const struct mm_range32 *reserved,
                              size_t nreserved);
struct mm_buddy *mm__buddy_clone(const struct mm_buddy *b);
void mm__buddy_destroy(struct mm_buddy *b);

/* RAM the kernel uses (in a region of m->lay), and its zone. */
bool mm__pfn_valid(const struct mm_machine *m, mm_pfn_t pfn);
bool mm__pfn_highmem(const struct mm_machine *m, mm_pfn_t pfn);
enum mm_zone mm__pfn_zone(const struct mm_machine *m, mm_pfn_t pfn);
void mm__page_info(const struct mm_machine *m, mm_pfn_t pfn, struct mm_page_info *pi);

/**
 * mm__alloc_pages - take a 2^@order block, from @zone or the zones below it
 * (HighMem falls back to Normal then DMA; Normal to DMA; never upward).
 * @op names the operation for the message.
 * Return: MM_OK with *@pfn set, MM_INVALID_ARGUMENT (order > 10, no such
 * zone on this machine), MM_NO_MEMORY (no block).  Changes nothing on error.
 */
enum mm_status mm__alloc_pages(struct mm_machine *m, enum mm_zone zone, unsigned order,
                               enum mm_owner owner, mm_pfn_t *pfn, const char *op,
                               char msg[MM_MSG_MAX]);

/**
 * mm__free_pages - return a block taken by mm__alloc_pages()
 * Return: MM_OK, MM_INVALID_ARGUMENT (not RAM, not a block head, wrong
 * order, reserved, held by another owner), MM_NOT_FOUND (already free).
 */
enum mm_status mm__free_pages(struct mm_machine *m, mm_pfn_t pfn, unsigned order,
                              enum mm_owner owner, const char *op, char msg[MM_MSG_MAX]);

/* Fills st->zone[], nr_zones, ram_pages, reserved_pages. */
void mm__buddy_stats(const struct mm_machine *m, struct mm_stats *st);
void mm__buddy_zone_pages(const struct mm_machine *m, enum mm_zone zone, uint32_t *free,
                          uint32_t *managed);
/* Calls @fn for each allocated block, ascending. */
/* Pages held by @owner, kept as blocks are taken and returned. */
uint32_t mm__buddy_owned_pages(const struct mm_machine *m, enum mm_owner owner);
void mm__buddy_foreach_used(const struct mm_machine *m,
                            void (*fn)(void *arg, mm_pfn_t pfn, unsigned order,
                                       enum mm_owner owner),
                            void *arg);
enum mm_status mm__buddy_check(const struct mm_machine *m, char err[MM_MSG_MAX]);
/* Starts recording which blocks change (forgets what was recorded). */
void mm__buddy_track_start(struct mm_buddy *b);
/* Whether it was started (on this machine or the one it is a clone of). */
bool mm__buddy_tracking(const struct mm_buddy *b);
/* mm__buddy_check() of the blocks changed since mm__buddy_track_start()
 * and of every count; the whole check when the record overflowed or
 * none was started. */
enum mm_status mm__buddy_check_since(const struct mm_machine *m, char err[MM_MSG_MAX]);
size_t mm__buddy_host_bytes(const struct mm_buddy *b);

/* ------------------------------------------------------------------ */
/* Page tables (pgtable.c) and the MMU (mmu.c)                         */
/* ------------------------------------------------------------------ */

enum mm_prot {                       /* the kernel's mem_types[] we use */
               MM_PROT_KERNEL = 0,   /* PAGE_KERNEL: kmap, vmalloc, fixmap */
               MM_PROT_KERNEL_EXEC,  /* PAGE_KERNEL_EXEC: module_alloc */
               MM_PROT_DEVICE,       /* MT_DEVICE: ioremap */
               MM_PROT_HIGH_VECTORS, /* MT_HIGH_VECTORS */
               MM_PROT_LOW_VECTORS,  /* MT_LOW_VECTORS: the stubs page, kernel ro */
               MM_PROT_DMA_READY,    /* MT_MEMORY_DMA_READY: a lowmem CMA area, pages */
               MM_PROT_MEMORY_RO     /* MT_MEMORY_RO: the device tree's sections */
};

/* Hardware first-level entry @idx (0..4095) of swapper_pg_dir. */
uint32_t mm__l1_read(const struct mm_machine *m, unsigned idx);
void mm__l1_write(struct mm_machine *m, unsigned idx, uint32_t val);

/* The first-level value of a 1 MiB MT_MEMORY section at @pa for this machine
 * (0x1140e | pa on SMP ARMv7). */
uint32_t mm__section_prot(const struct mm_machine *m);

/* __pmd_populate(): installs the PTE page at @pte_pa for the 2 MiB around
 * @va, with first-level bits @prot_l1 (0x11 for _PAGE_KERNEL_TABLE). */
void mm__pmd_populate(struct mm_machine *m, mm_vaddr_t va, mm_paddr_t pte_pa,
                      uint32_t prot_l1);

/* pmd_clear(): both first-level words of @va's 2 MiB become 0 (a PTE page
 * there is dropped, not freed: boot use only). */
void mm__pmd_clear(struct mm_machine *m, mm_vaddr_t va);

/* map_lowmem(): sections where (va|end|pa) are 1 MiB aligned per 2 MiB step,
 * else a PTE table from @alloc_pte (boot memblock; false when nothing is
 * left).  Return: MM_OK or MM_NO_MEMORY. */
enum mm_status mm__map_memory(struct mm_machine *m, mm_vaddr_t va, mm_paddr_t pa,
                              uint32_t size, enum mm_prot prot,
                              bool (*alloc_pte)(struct mm_machine *m, mm_paddr_t *pa));

/* Whether @va's 2 MiB has a PTE page (the pgd entry is a table), and that
 * page's PA (meaningful only then: RAM may start at physical 0, so 0 is a
 * valid PTE page address). */
bool mm__has_pte_page(const struct mm_machine *m, mm_vaddr_t va);
mm_paddr_t mm__pte_page(const struct mm_machine *m, mm_vaddr_t va);

/* Ensures a PTE page for @va (pte_alloc_kernel): one order-0 lowmem page from
 * the buddy allocator, owner MM_OWN_PGTABLE, zeroed, installed with 0x11.
 * Return: MM_OK, MM_NO_MEMORY (msg names @op). */
enum mm_status mm__pte_alloc(struct mm_machine *m, mm_vaddr_t va, const char *op,
                             char msg[MM_MSG_MAX]);

/* The Linux PTE for @va (0 if no PTE page). */
uint32_t mm__pte_get(const struct mm_machine *m, mm_vaddr_t va);
/* mk_pte(): the Linux PTE for @pfn with @prot on this machine. */
uint32_t mm__mk_pte(const struct mm_machine *m, mm_pfn_t pfn, enum mm_prot prot);
/* set_pte_ext(): writes the Linux PTE and the hardware PTE derived from it as
 * cpu_v7_set_pte_ext does.  The PTE page must exist. */
void mm__set_pte(struct mm_machine *m, mm_vaddr_t va, uint32_t linux_pte);
void mm__pte_clear(struct mm_machine *m, mm_vaddr_t va);
/* TLB maintenance: counted, nothing cached (translate always walks). */
void mm__flush_tlb_page(struct mm_machine *m, mm_vaddr_t va);
void mm__flush_tlb_range(struct mm_machine *m, mm_vaddr_t start, mm_vaddr_t end);

enum mm_status mm__pgtable_check(const struct mm_machine *m, char err[MM_MSG_MAX]);
/* The pgd entries holding the indexes set in @l1 (4096 bits), as above. */
enum mm_status mm__pgtable_check_l1(const struct mm_machine *m, const uint64_t *l1,
                                    char err[MM_MSG_MAX]);
/* Marks L1[@idx] touched (check.c). */
static inline void mm__touch_l1(struct mm_machine *m, unsigned idx)
{
    m->touched.l1[idx / 64] |= 1ull << (idx % 64);
    m->since.l1[idx / 64] |= 1ull << (idx % 64);
}
/* mm__pgtable_check() of every entry, but the PTEs and section bits only
 * of the pgd entries holding an index set in @l1 (mm_check_since()). */
enum mm_status mm__pgtable_check_since(const struct mm_machine *m, const uint64_t *l1,
                                       char err[MM_MSG_MAX]);
enum mm_status mm__report_pagetables(const struct mm_machine *m, struct mm_buf *out);

/* ------------------------------------------------------------------ */
/* kmap / pkmap (highmem.c) and kmap_atomic (kmap_atomic.c)            */
/* ------------------------------------------------------------------ */

/* Each op function fills @res (value, aux, flags, msg) but not res->seq;
 * machine.c assigns the sequence number on MM_OK. */
struct mm_pkmap *mm__pkmap_create(void);
struct mm_pkmap *mm__pkmap_clone(const struct mm_pkmap *p);
void mm__pkmap_destroy(struct mm_pkmap *p);
enum mm_status mm__kmap(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *res);
enum mm_status mm__kunmap(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *res);
enum mm_status mm__kmap_flush(struct mm_machine *m, struct mm_result *res);
/* page_address() of a highmem page: its pkmap VA, or 0. */
mm_vaddr_t mm__pkmap_address(const struct mm_machine *m, mm_pfn_t pfn);
/* kmap_high_get(): if @pfn is pkmapped, count++ and return its VA; else 0. */
mm_vaddr_t mm__kmap_high_get(struct mm_machine *m, mm_pfn_t pfn);
/* kunmap_high() by pkmap VA, for kunmap_atomic of a kmap_high_get mapping. */
enum mm_status mm__kunmap_high_va(struct mm_machine *m, mm_vaddr_t va,
                                  struct mm_result *res);
void mm__pkmap_stats(const struct mm_machine *m, struct mm_stats *st);
enum mm_status mm__pkmap_check(const struct mm_machine *m, char err[MM_MSG_MAX]);
enum mm_status mm__report_pkmap(const struct mm_machine *m, struct mm_buf *out);
size_t mm__pkmap_host_bytes(const struct mm_pkmap *p);

struct mm_katomic *mm__katomic_create(const struct mm_machine *m);
struct mm_katomic *mm__katomic_clone(const struct mm_katomic *k);
void mm__katomic_destroy(struct mm_katomic *k);
enum mm_status mm__kmap_atomic(struct mm_machine *m, unsigned cpu, mm_pfn_t pfn,
                               int km_type, struct mm_result *res);
enum mm_status mm__kunmap_atomic(struct mm_machine *m, unsigned cpu, mm_vaddr_t va,
                                 struct mm_result *res);
enum mm_status mm__katomic_check(const struct mm_machine *m, char err[MM_MSG_MAX]);
enum mm_status mm__report_fixmap(const struct mm_machine *m, struct mm_buf *out);
size_t mm__katomic_host_bytes(const struct mm_katomic *k);

/* ------------------------------------------------------------------ */
/* vmalloc, vmap, ioremap, module area (vmalloc.c)                     */
/* ------------------------------------------------------------------ */

struct mm_vmap *mm__vmap_create(const struct mm_machine *m);
struct mm_vmap *mm__vmap_clone(const struct mm_vmap *v);
void mm__vmap_destroy(struct mm_vmap *v);
enum mm_status mm__vmalloc(struct mm_machine *m, uint32_t size, struct mm_result *res);
enum mm_status mm__vfree(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res);
/* vmboot61.c: the reference build's vmalloc space after boot (config
 * version 5), replayed through the functions below at mm_create(). */
#define MM_BOOT_CALLER 16u /* struct area caller values from here: boot callers */
bool mm__config_boot_vmap(const struct mm_config *cfg);
bool mm__config_boot_maps(const struct mm_config *cfg); /* version 7 */
/* Version 8: the boot's areas take their pages from the page allocator
 * (the per-CPU chunk's, a DMA pool without CMA), MM_OWN_BOOT (config.c). */
bool mm__config_boot_pages(const struct mm_config *cfg);
enum mm_status mm__vmap_boot(struct mm_machine *m, char err[MM_MSG_MAX]);
const char *mm__boot_caller_name(unsigned idx); /* NULL past the table */
enum mm_status mm__vmalloc_aligned(struct mm_machine *m, uint32_t size, uint32_t align,
                                   struct mm_result *res);
enum mm_status mm__vmap_boot_area(struct mm_machine *m, bool pcpu, uint32_t pages,
                                  mm_paddr_t phys, struct mm_result *res);
void mm__vmap_set_caller(struct mm_machine *m, mm_vaddr_t va, unsigned idx);
/* bpf_prog_lock_ro(): the vmalloc area at @va read-only (res->value: pages) */
enum mm_status mm__vmap_lock_ro(struct mm_machine *m, mm_vaddr_t va,
                                struct mm_result *res);
enum mm_status mm__vmap(struct mm_machine *m, const mm_pfn_t *pfns, uint32_t n,
                        struct mm_result *res);
enum mm_status mm__vunmap(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res);
enum mm_status mm__ioremap(struct mm_machine *m, mm_paddr_t phys, uint32_t size,
                           struct mm_result *res);
enum mm_status mm__iounmap(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res);
enum mm_status mm__module_alloc(struct mm_machine *m, uint32_t size,
                                struct mm_result *res);
enum mm_status mm__module_free(struct mm_machine *m, mm_vaddr_t va,
                               struct mm_result *res);
void mm__vmap_stats(const struct mm_machine *m, struct mm_stats *st);
/* Whether @va lies in a live ioremap() area (its guard page included). */
bool mm__vmap_is_ioremap(const struct mm_machine *m, mm_vaddr_t va);
enum mm_status mm__vmap_check(const struct mm_machine *m, char err[MM_MSG_MAX]);
enum mm_status mm__report_vmallocinfo(const struct mm_machine *m, struct mm_buf *out);
size_t mm__vmap_host_bytes(const struct mm_vmap *v);

/* ------------------------------------------------------------------ */
/* The reverse map: physical address -> virtual aliases (physidx.c)    */
/* ------------------------------------------------------------------ */

/* Builds @m's index by one walk of its tables (after boot or restore),
 * replacing any it had.  Return: MM_OK or MM_NO_MEMORY. */
enum mm_status mm__physidx_build(struct mm_machine *m);
struct mm_physidx *mm__physidx_clone(const struct mm_physidx *x);
void mm__physidx_destroy(struct mm_physidx *x);
size_t mm__physidx_host_bytes(const struct mm_physidx *x);
/* pgtable.c calls these with @on false for the old descriptor before it
 * writes and with @on true for the new one after: first-level entry @idx,
 * and the hardware PTE at physical @hw_pa for @va, where @l1 is the
 * first-level entry of @va's MiB (L1[@va >> 20], which the caller has
 * read: the PTE counts only if it points at @hw_pa's table). */
void mm__physidx_l1(struct mm_machine *m, unsigned idx, uint32_t d, bool on);
void mm__physidx_l2(struct mm_machine *m, mm_vaddr_t va, mm_paddr_t hw_pa, uint32_t l1,
                    uint32_t d, bool on);
/* The walk over every table that the index replaces (mmu.c); the test
 * oracle, and the fallback when the index went stale. */
size_t mm__phys_aliases_walk(const struct mm_machine *m, mm_paddr_t pa,
                             struct mm_alias *out, size_t max);

/* ------------------------------------------------------------------ */
/* Snapshots (snapshot.c, and each module's save and load)             */
/* ------------------------------------------------------------------ */

/* Little-endian writers; on host OOM they set b->oom. */
void mm__wr_u8(struct mm_buf *b, uint8_t v);
void mm__wr_u16(struct mm_buf *b, uint16_t v);
void mm__wr_u32(struct mm_buf *b, uint32_t v);
void mm__wr_u64(struct mm_buf *b, uint64_t v);

/* A bounded reader over a snapshot.  The first failure sticks: later reads
 * return 0 and change nothing, so a loader may read a record whole and
 * check rd->st once.  @err receives "restore: WHERE: what is wrong". */
struct mm_rd {
    const uint8_t *p;
    size_t len, off;   /* bytes [off, len) are left */
    enum mm_status st; /* MM_OK, MM_INVALID_ARGUMENT or MM_NO_MEMORY */
    const char *where; /* the section being read, for messages */
    char *err;         /* MM_MSG_MAX bytes */
};
uint8_t mm__rd_u8(struct mm_rd *rd);
uint16_t mm__rd_u16(struct mm_rd *rd);
uint32_t mm__rd_u32(struct mm_rd *rd);
uint64_t mm__rd_u64(struct mm_rd *rd);
bool mm__rd_bytes(struct mm_rd *rd, void *dst, size_t n);
/* Fails the reader (once) with MM_INVALID_ARGUMENT; returns rd->st. */
enum mm_status mm__rd_fail(struct mm_rd *rd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mm__rd_oom(struct mm_rd *rd);
/* Whether @n records of at least @each bytes can follow (n <= @max and the
 * bytes are there); fails the reader naming @what if not. */
bool mm__rd_count(struct mm_rd *rd, uint32_t n, size_t each, uint32_t max,
                  const char *what);

/* Each module writes its dynamic state, and reads it back into the freshly
 * booted machine @m (same config), replacing its part; on failure the
 * reader holds the error and @m keeps a consistent (fresh or loaded) part
 * that mm_destroy() frees. */
void mm__phys_save(const struct mm_phys *p, struct mm_buf *out);
void mm__phys_load(struct mm_machine *m, struct mm_rd *rd);
void mm__buddy_save(const struct mm_machine *m, struct mm_buf *out);
void mm__buddy_load(struct mm_machine *m, struct mm_rd *rd);
void mm__pkmap_save(const struct mm_pkmap *p, struct mm_buf *out);
void mm__pkmap_load(struct mm_machine *m, struct mm_rd *rd);
void mm__katomic_save(const struct mm_katomic *k, struct mm_buf *out);
void mm__katomic_load(struct mm_machine *m, struct mm_rd *rd);
void mm__vmap_save(const struct mm_vmap *v, struct mm_buf *out);
void mm__vmap_load(struct mm_machine *m, struct mm_rd *rd);

/* ------------------------------------------------------------------ */
/* Reports (report.c) and buffers (buf.c)                              */
/* ------------------------------------------------------------------ */

/* Append to a buffer; on host OOM they set b->oom and drop the text. */
void mm__buf_printf(struct mm_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mm__buf_append(struct mm_buf *b, const void *data, size_t len);

enum mm_status mm__report_layout(const struct mm_machine *m, struct mm_buf *out);
enum mm_status mm__report_memory(const struct mm_machine *m, struct mm_buf *out);
enum mm_status mm__report_iomem(const struct mm_machine *m, struct mm_buf *out);
enum mm_status mm__report_buddyinfo(const struct mm_machine *m, struct mm_buf *out);
enum mm_status mm__report_meminfo(const struct mm_machine *m, struct mm_buf *out);
/* zoneinfo.c */
enum mm_status mm__report_zoneinfo(const struct mm_machine *m, struct mm_buf *out);
/* bootlog61.c: 6.1's boot lines before "Memory:" (cma:, zone and node
 * ranges, Built N zonelists) */
void mm__report_boot_61(const struct mm_machine *m, struct mm_buf *out);
/* The 6.1 lines after Memory: ("Freeing unused kernel image ..."). */
void mm__report_boot_61_late(const struct mm_machine *m, struct mm_buf *out);
/* One zone block of 6.1 /proc/zoneinfo, the figures its text prints. */
#define MM_ZONEINFO_MAX 4 /* DMA, Normal, HighMem, Movable */
struct mm_zoneinfo {
    const char *name; /* "DMA", "Normal", ... */
    uint32_t free, spanned, present, managed, cma;
    uint64_t min, low, high;              /* watermarks, pages */
    unsigned nr_protection;               /* one per zone listed */
    uint64_t protection[MM_ZONEINFO_MAX]; /* lowmem_reserve[] */
    uint32_t start_pfn;                   /* printed only if present != 0 */
};
/* Fills @z with the zones the kernel is built with, in its order, and sets
 * @n.  Return: MM_OK, or MM_NOT_FOUND before 6.1 (nothing filled). */
enum mm_status mm__zoneinfo(const struct mm_machine *m,
                            struct mm_zoneinfo z[MM_ZONEINFO_MAX], unsigned *n);
/* meminfo61.c: /proc/meminfo of 6.1 machines */
enum mm_status mm__report_meminfo_61(const struct mm_machine *m, struct mm_buf *out);

/* ------------------------------------------------------------------ */
/* The data behind the reports, shared by report.c and report_json.c   */
/* ------------------------------------------------------------------ */

/* One row of the regions report (report.c region_rows()). */
struct mm_region_row {
    const char *name;    /* as mm_region_name() */
    uint64_t start, end; /* [start, end) */
    const char *what;    /* the kernel code that maps it */
};
#define MM_MAX_REGION_ROWS 16
#define MM_REGION_TEXT_MAX 72
/* The rows into @r; a "what" built for this machine (the fdt row's, with
 * the blob's address) is written to @text, which must outlive @r's use. */
unsigned mm__region_rows(const struct mm_machine *m, struct mm_region_row *r,
                         char text[MM_REGION_TEXT_MAX]);

/* One line of the layout block: MLK() (kB) or MLM() (MB) of [lo, hi). */
struct mm_layout_row {
    const char *name;
    uint32_t lo, hi;
    bool mb; /* printed in MB (else kB) */
};
#define MM_MAX_LAYOUT_ROWS 12
/* The area lines and then the section lines of the era's layout block;
 * *@nareas receives how many of the rows are areas.  0 rows: no block. */
unsigned mm__layout_rows(const struct mm_machine *m, struct mm_layout_row *r,
                         unsigned *nareas);

/* The figures of the boot Memory: line(s), in the era's form. */
struct mm_memory_figs {
    int form;             /* era.c memory_fmt: 1 banks, 2 regions,
                                       3 info, 4 info with cma-reserved */
    uint64_t managed_kb;  /* available */
    uint64_t present_kb;  /* the second "available" figure (info) */
    uint64_t reserved_kb; /* as the form defines it */
    uint64_t highmem_kb;
    uint64_t code_kb, rwdata_kb, rodata_kb, init_kb, bss_kb, cma_kb;
    bool has_highmem; /* the info form prints highmem */
};
void mm__memory_figs(const struct mm_machine *m, struct mm_memory_figs *f);

/* A /proc/iomem resource; end inclusive, as struct resource. */
struct mm_iomem_res {
    const char *name;
    uint64_t start, end;
};
#define MM_MAX_IOMEM_KIDS (2 + MM_MAX_RESERVES)
/* The children of System RAM region @ram that request_resource() takes. */
unsigned mm__iomem_children(const struct mm_machine *m, const struct mm_iomem_res *ram,
                            struct mm_iomem_res *kids);
/* The board's devices as the kernel's drivers left them: @dev[i] the
 * top-level resource, @claim[i] its one child; sorted by start. */
#define MM_MAX_IOMEM_DEVS 4
unsigned mm__iomem_devices(const struct mm_machine *m, struct mm_iomem_res *dev,
                           struct mm_iomem_res *claim);

/* /proc/meminfo's fields, in the kernel's order, values in kB. */
struct mm_meminfo_field {
    const char *name; /* "MemTotal", no colon */
    uint64_t kb;
};
#define MM_MAX_MEMINFO 48
unsigned mm__meminfo_fields(const struct mm_machine *m, struct mm_meminfo_field *f);
/* The same for 6.1, every line meminfo_proc_show() prints (meminfo61.c). */
unsigned mm__meminfo_fields_61(const struct mm_machine *m, struct mm_meminfo_field *f);

/* The pkmap window's state (highmem.c).  False without CONFIG_HIGHMEM. */
struct mm_pkmap_view {
    unsigned last_pkmap_nr;
    unsigned in_use;     /* slots with count >= 2 */
    unsigned unused;     /* count == 1: awaiting the flush */
    const int *count;    /* pkmap_count[MM_LAST_PKMAP] (borrowed) */
    const mm_pfn_t *pfn; /* the page of each slot with count >= 1 */
};
bool mm__pkmap_view(const struct mm_machine *m, struct mm_pkmap_view *v);

/* The kmap_atomic slots (kmap_atomic.c). */
struct mm_katomic_view {
    const char *style; /* "km_type", "stack", "local" */
    unsigned ncpus, nslots;
    const unsigned *depth; /* per CPU (stack styles; 0 in km_type) */
};
void mm__katomic_view(const struct mm_machine *m, struct mm_katomic_view *v);
struct mm_katomic_slot {
    unsigned index; /* the fixmap index */
    mm_vaddr_t va;
    mm_pfn_t pfn;
    bool live;        /* else stale: unmapped, PTE left */
    const char *name; /* the km_type name; NULL in stack styles */
};
/* Slot @i of @cpu; false if it is empty (PTE 0). */
bool mm__katomic_slot(const struct mm_machine *m, unsigned cpu, unsigned i,
                      struct mm_katomic_slot *s);

/* One area /proc/vmallocinfo lists (vmalloc.c). */
struct mm_vm_area {
    mm_vaddr_t start, end; /* the guard page included */
    const char *caller;    /* "vmalloc", "module_alloc", "vmap", "ioremap",
                            * "iotable_init", "pci_reserve_io" */
    uint32_t nr_pages;     /* pages=, when has_pages */
    mm_paddr_t phys;       /* ioremap's physical base; 0 otherwise */
    bool has_pages, ioremap, vmap, vpages; /* the flags s_show() prints */
    bool vpages_area;                      /* the vmalloc'd page array of another */
    bool vm_alloc;     /* VM_ALLOC: " vmalloc" (has_pages, or the per-CPU chunk) */
    bool dma_coherent; /* VM_DMA_COHERENT: the DMA atomic pool's remap */
};
/* The area listed after position *@pos (0 to start); false at the end. */
bool mm__vm_area_next(const struct mm_machine *m, size_t *pos, struct mm_vm_area *a);
/* The lazily freed ranges, merged where they touch (show_purge_info()). */
bool mm__vm_unpurged_next(const struct mm_machine *m, size_t *pos, mm_vaddr_t *start,
                          mm_vaddr_t *end);

/* kernel_page_tables (ptdump.c): each address marker crossed and each run
 * of entries that share their protection bits, in address order. */
struct mm_pt_run {
    uint32_t start;
    uint64_t end; /* exclusive; 0x100000000 at the top */
    bool section; /* a first-level (PGD) run, else PTEs */
    int domain;   /* PMD_DOMAIN of the run; -1 before 4.19 */
    unsigned nattrs;
    const char *attrs[16]; /* dump_prot()'s words, as printed */
};
struct mm_pt_sink {
    void (*marker)(void *arg, const char *name, uint32_t addr);
    void (*run)(void *arg, const struct mm_pt_run *run);
    void *arg;
};
/* The form of the era: 0 plain, 1 with domain, 2 with level and domain. */
int mm__ptdump_form(const struct mm_machine *m);
/* "KERNEL", "USER", "IO", "VECTORS" (dump.c's names, unpadded). */
const char *mm__ptdump_domain(int d);
void mm__ptdump_walk(const struct mm_machine *m, const struct mm_pt_sink *sink);

#endif /* ARMMAP_ENGINE_MM_INT_H */
