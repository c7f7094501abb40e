/* engine/mm.h - public API of the per-machine ARM32 kernel memory-map emulator.
 *
 * One struct mm_machine is one emulated 32-bit ARM Linux machine: its RAM
 * banks and zones, a buddy allocator, the lowmem direct map, vmalloc, the
 * pkmap window, the per-CPU fixmap slots, and real ARMv7 short-descriptor
 * page tables kept in the machine's own (sparse) emulated physical memory.
 *
 * The engine is pure: no I/O, no clocks, no randomness, no globals.  The
 * same config and the same operations give the same results, byte for byte.
 * Every state-changing operation goes through mm_apply(); a successful one
 * gets the machine's next sequence number, and its (op, result) pair is the
 * event record from which mm_replay() rebuilds the machine.
 *
 * Addresses are 32-bit (no LPAE); page frame numbers are 20-bit.  Emulated
 * addresses are never stored in host pointers.
 */
#ifndef ARMMAP_ENGINE_MM_H
#define ARMMAP_ENGINE_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t mm_vaddr_t;
typedef uint32_t mm_paddr_t;
typedef uint32_t mm_pfn_t;

#define MM_PAGE_SHIFT 12
#define MM_PAGE_SIZE  4096u
#define MM_MAX_ORDER  11 /* KERNEL: orders 0..10 (MAX_ORDER 11), the default */
/* The most orders a modelled build has: 12 with ARCH_FORCE_MAX_ORDER=12
 * (Debian armmp, config version 3); mm_stats.nr_orders gives a machine's. */
#define MM_MAX_ORDERS   12
#define MM_MAX_BANKS    16
#define MM_MAX_RESERVES 16
#define MM_MAX_CPUS     32
#define MM_MSG_MAX      256 /* error and result messages */
#define MM_NAME_MAX     24
#define MM_CMDLINE_MAX  256 /* the cmdline key, NUL included */
/* The config's version key (struct mm_config.version): what "auto" and
 * the preset's implied switches mean.  1: configs written before the key
 * existed (no reference build: smp on exactly when cpus > 1, errata off,
 * no ZONE_DMA, CMA, PCI or MAX_ORDER 12; a bank reaching 4 GiB keeps its
 * last page), so machines stored then replay as they were built.  2: the
 * reference builds of mm_config_reference() (Debian armmp for qemu-virt
 * 6.1).  3: the reference build as its boot leaves it (buddy orders up to
 * MAX_ORDER - 1, CMA in lowmem when there is no highmem, the DMA atomic
 * pool, the per-CPU first chunk, the init sections freed).  4: the
 * device tree blob QEMU passes, by default (struct mm_config fdt_mode).
 * 5: the boot's early memblock allocations (the dentry and inode hash
 * tables, the unflattened device tree, the per-CPU maps, docs/kernel.md)
 * and the vmalloc space as the reference boot leaves it
 * (engine/vmboot61.c), with its "unpurged vm_area" lines.  6: the
 * command line's dhash_entries= and ihash_entries= size those hash
 * tables (ignored before, as other unknown words are).  7: the boot's
 * BPF program page read-only (bpf_prog_lock_ro(), engine/vmboot61.c).
 * 8: the pages the boot maps in the vmalloc space taken from the buddy
 * allocator (the per-CPU second chunk's, the DMA pool's without CMA),
 * meminfo's Percpu, and the boot's areas in the order the reference
 * boots show (engine/vmboot61.c).
 * mm_config_default() sets the newest; mm_config_parse() of a text
 * without the key gives 1. */
#define MM_CONFIG_VERSION 8u

/* Kernel versions are KERNEL_VERSION(a, b, c) as <linux/version.h> packs them. */
#define MM_KVER(a, b, c) (((uint32_t)(a) << 16) | ((uint32_t)(b) << 8) | (uint32_t)(c))

/* The one status enum shared by engine, wire and client (docs/DESIGN.md). */
enum mm_status {
    MM_OK = 0,
    MM_INVALID_ARGUMENT,
    MM_NOT_FOUND,
    MM_ALREADY_EXISTS,
    MM_NO_MEMORY,   /* the emulated machine is out of memory */
    MM_WOULD_BLOCK, /* the real kernel would sleep: pkmap full */
    MM_FAULT,       /* translation, domain or permission fault */
    MM_ORDER,       /* kunmap_atomic out of stack order */
    MM_PERMISSION_DENIED,
    MM_UNAUTHENTICATED,
    MM_RESOURCE_EXHAUSTED, /* a limit: daemon setting or kmap stack depth */
    MM_UNAVAILABLE,        /* the store is failing */
    MM_INTERNAL,           /* a bug, or a machine that oopsed */
    MM_MOVED,              /* a cluster's other node owns the machine */
    MM_STATUS_COUNT
};

/* "OK", "INVALID_ARGUMENT", ...; never NULL ("UNKNOWN" out of range). */
const char *mm_status_name(enum mm_status st);
/* Parses a name as mm_status_name() prints it; returns false if unknown. */
bool mm_status_lookup(const char *name, enum mm_status *out);

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

enum mm_split {                  /* KERNEL: arch/arm/Kconfig VMSPLIT_* */
                MM_SPLIT_3G = 0, /* PAGE_OFFSET 0xC0000000 (default) */
                MM_SPLIT_2G,     /* 0x80000000 */
                MM_SPLIT_1G,     /* 0x40000000 */
                MM_SPLIT_3G_OPT  /* 0xB0000000 */
};

enum mm_atomic {                        /* kmap_atomic implementation */
                 MM_ATOMIC_DEFAULT = 0, /* chosen by the kernel version */
                 MM_ATOMIC_KM_TYPE,     /* 2.6: caller names an enum km_type slot */
                 MM_ATOMIC_STACK,       /* 2.6.37..5.10: per-CPU fixmap stack */
                 MM_ATOMIC_LOCAL        /* 5.11+: generic kmap_local stack */
};

enum mm_zone { MM_ZONE_DMA = 0, MM_ZONE_NORMAL, MM_ZONE_HIGHMEM, MM_NR_ZONES };

struct mm_bank { /* one RAM bank, as the bootloader gives it */
    mm_paddr_t start;
    uint64_t size; /* bytes; what lies past 4 GiB is ignored
                                         * from 5.11 (no LPAE), refused before */
};

enum mm_fdt_mode {                  /* the device tree blob the bootloader passes in r2 */
                   MM_FDT_AUTO = 0, /* the board's: QEMU's placement on the reference
                                     * build from config version 4, else none */
                   MM_FDT_NONE,
                   MM_FDT_AT /* at fdt_start, fdt_size bytes */
};

enum mm_tristate {              /* a kernel config switch */
                   MM_AUTO = 0, /* the reference build's value */
                   MM_ON,
                   MM_OFF
};

struct mm_reserve {         /* a memblock_reserve()d carve-out */
    char name[MM_NAME_MAX]; /* shown under System RAM in /proc/iomem */
    mm_paddr_t start;
    uint32_t size;
};

struct mm_section {   /* a kernel image section, [start, end) VA */
    mm_vaddr_t start; /* 0: placed after the previous section */
    uint32_t size;    /* bytes */
};

/*
 * A machine's configuration, by value.  mm_config_default() fills the
 * defaults; mm_config_preset() a named board; mm_config_set() one field by
 * its key, exactly as a client names it.  Zero in an "override" field means
 * "what the kernel version implies".
 */
struct mm_config {
    char preset[MM_NAME_MAX]; /* informational: the preset it came from */
    unsigned nr_banks;
    struct mm_bank banks[MM_MAX_BANKS];
    enum mm_split split;
    uint32_t kernel;              /* MM_KVER(); 2.6.35 .. 6.1.x */
    uint32_t vmalloc_size;        /* the vmalloc= boot parameter; 0 = not given */
    mm_vaddr_t vmalloc_end;       /* override; required before 3.4 (per platform) */
    uint32_t consistent_dma_size; /* override of the coherent-DMA window; 0 = none */
    uint32_t dma_zone_size;       /* bytes of ZONE_DMA from the first bank; 0 = none */
    bool highmem;                 /* CONFIG_HIGHMEM */
    bool thumb2;                  /* CONFIG_THUMB2_KERNEL: 8 MiB module area */
    bool user_timers;             /* msm CONFIG_ARM_USE_USER_ACCESSIBLE_TIMERS */
    unsigned cpus;                /* 1..MM_MAX_CPUS; >1 means an SMP kernel */
    enum mm_atomic atomic;
    uint32_t text_offset; /* TEXT_OFFSET, normally 0x8000 */
    struct mm_section text, init, data, bss;
    unsigned nr_reserves;
    struct mm_reserve reserves[MM_MAX_RESERVES];
    /* CONFIG_SMP.  auto: on for the Debian armmp reference build (see
     * mm_config_reference()), else on exactly when cpus > 1. */
    enum mm_tristate smp;
    /* CONFIG_ARM_ERRATA_798181 (no kmap_high_get shortcut in kmap_atomic /
     * kmap_local).  auto: the reference build's value, else off. */
    enum mm_tristate errata_798181;
    /* The kernel command line, e.g. "mem=700M vmalloc=480M": mem= and
     * vmalloc= act as the kernel's early params do (mem= replaces the banks,
     * vmalloc= the vmalloc key); other words are passed on and ignored, as
     * the kernel hands them to init; cma=SIZE sizes the CMA area of a
     * CONFIG_CMA build; initrd=START,SIZE is reserved at boot and freed
     * after it on the version-3 reference build; dhash_entries= and
     * ihash_entries= size the dentry and inode hash tables of the
     * reference build from version 6; crashkernel= and initrd=
     * elsewhere are refused (not modelled).
     * "" when none. */
    char cmdline[MM_CMDLINE_MAX];
    unsigned version; /* 1 .. MM_CONFIG_VERSION, see there */
    /* The device tree blob (key "fdt": auto, none or ADDR,SIZE): a
     * bootloader fact.  From 5.11 the kernel memblock_reserve()s it for
     * good and maps the 2 MiB from its MiB read-only at FDT_FIXED_BASE. */
    enum mm_fdt_mode fdt_mode;
    mm_paddr_t fdt_start; /* MM_FDT_AT: physical address, 4-byte aligned */
    uint32_t fdt_size;    /* MM_FDT_AT: fdt_totalsize(), bytes */
};

struct mm_preset_info {
    const char *name;
    const char *summary; /* one line: board, SoC, kernel, source */
};

/* The kernel build @cfg models, one line: for qemu-virt with 6.1.x
 * "Debian 12 linux-image-armmp ..."; static storage, never NULL. */
const char *mm_config_reference(const struct mm_config *cfg);

/* Fills @cfg with the defaults (qemu-virt-like: 3.4, 3G/1G, 1 GiB at 0x40000000). */
void mm_config_default(struct mm_config *cfg);

/* The table of presets; *@n receives its length.  Static storage. */
const struct mm_preset_info *mm_presets(size_t *n);

/**
 * mm_config_preset - fill @cfg with the preset called @name
 * Return: MM_OK, or MM_NOT_FOUND with @err naming the unknown preset.
 */
enum mm_status mm_config_preset(struct mm_config *cfg, const char *name,
                                char err[MM_MSG_MAX]);

/**
 * mm_config_set - set one field from text, as "key" and "value"
 * Keys and value syntax are those mm_config_format() prints (sizes take
 * K/M/G suffixes, addresses hex or decimal, banks "START+SIZE,...").
 * The key "preset" loads a preset.  Only the syntax of the value is checked
 * here; mm_config_validate() checks the whole.
 * Return: MM_OK, or MM_INVALID_ARGUMENT with @err naming key and value.
 */
enum mm_status mm_config_set(struct mm_config *cfg, const char *key, const char *value,
                             char err[MM_MSG_MAX]);

/**
 * mm_config_validate - check a whole config as the kernel would at boot
 * Return: MM_OK, or MM_INVALID_ARGUMENT with @err naming the field and the
 * bad value, e.g. "ram: bank 2 overlaps bank 1 (0x89000000-0x8d9fffff)".
 */
enum mm_status mm_config_validate(const struct mm_config *cfg, char err[MM_MSG_MAX]);

/* Writes the canonical text form, one "key=value\n" per field and a last
 * "# reference: ..." comment naming the build modelled (mm_config_reference()),
 * into @buf (NUL-terminated, truncated at @size); returns the length it needs. */
size_t mm_config_format(const struct mm_config *cfg, char *buf, size_t size);
/* mm_config_format()'s text in a malloc'd string (the caller frees it);
 * NULL if host memory runs out. */
char *mm_config_text(const struct mm_config *cfg);

/* Parses what mm_config_format() writes (any subset of keys, on top of the
 * defaults; a text without a "version" line is version 1, as every config
 * stored before that key was, see MM_CONFIG_VERSION).  Return: MM_OK or MM_INVALID_ARGUMENT with @err naming the line. */
enum mm_status mm_config_parse(struct mm_config *cfg, const char *text,
                               char err[MM_MSG_MAX]);

/* ------------------------------------------------------------------ */
/* Machines                                                            */
/* ------------------------------------------------------------------ */

struct mm_machine; /* opaque; one per hosted machine */

/**
 * mm_create - boot a machine from @cfg
 * Validates @cfg, computes the layout, reserves the kernel image, the page
 * tables and the carve-outs, frees the rest to the buddy allocator and
 * builds swapper_pg_dir (lowmem sections, pkmap and fixmap PTE pages).
 * Return: MM_OK with *@out set (free with mm_destroy()), MM_INVALID_ARGUMENT
 * with @err naming the bad field, or MM_NO_MEMORY (host memory).
 */
enum mm_status mm_create(const struct mm_config *cfg, struct mm_machine **out,
                         char err[MM_MSG_MAX]);

/* Frees everything the machine holds.  mm_destroy(NULL) does nothing. */
void mm_destroy(struct mm_machine *m);

/* A deep copy of @m with its sequence number; NULL if host memory runs out. */
struct mm_machine *mm_clone(const struct mm_machine *m);

/*
 * Boot templates (engine/boots.c): a bounded, thread-safe cache of booted
 * machines keyed by the config's canonical text (mm_config_format()), so
 * that creating a machine costs an mm_clone() of a booted one instead of
 * a boot.  A machine it hands out is identical to mm_create()'s (reports,
 * addresses, snapshots), but for host bytes: a clone sizes its vmalloc
 * area array to its areas, so idle it holds no more.  At most @max_entries templates and
 * @max_bytes host bytes (their mm_host_bytes() and keys) are kept, least
 * recently used dropped first; 0 entries keeps none (every call boots).
 */
struct mm_boots;
struct mm_boots_stats {
    size_t entries; /* templates kept now */
    size_t bytes;   /* host bytes they count against max_bytes */
    uint64_t hits, misses, evictions;
};
/* NULL if host memory runs out.  Free with mm_boots_free() (NULL: nothing). */
struct mm_boots *mm_boots_new(size_t max_entries, size_t max_bytes);
void mm_boots_free(struct mm_boots *b);
/* As mm_create(@cfg, @out, @err), same results and errors; safe to call
 * from several threads at once.  Failed boots are not kept. */
enum mm_status mm_boots_create(struct mm_boots *b, const struct mm_config *cfg,
                               struct mm_machine **out, char err[MM_MSG_MAX]);
void mm_boots_get_stats(struct mm_boots *b, struct mm_boots_stats *out);

/* The validated config the machine was created from (borrowed). */
const struct mm_config *mm_machine_config(const struct mm_machine *m);

/* Number of changes applied so far (the sequence number of the last one). */
uint64_t mm_seq(const struct mm_machine *m);

/* Host bytes this machine holds, exactly: the sum of the sizes the engine
 * asked malloc for on its behalf (structures, tables, sparse emulated pages,
 * the phys index), not malloc's own per-block overhead.  For quotas. */
size_t mm_host_bytes(const struct mm_machine *m);

/* Marks @m broken with @why (an invariant failed); every later operation
 * answers MM_INTERNAL with that reason.  mm_broken() returns it, or NULL. */
void mm_oops(struct mm_machine *m, const char *why);
const char *mm_broken(const struct mm_machine *m);

/* ------------------------------------------------------------------ */
/* Operations and event records                                        */
/* ------------------------------------------------------------------ */

enum mm_opcode {
    MM_OP_NONE = 0,
    MM_OP_ALLOC,         /* args: zone, order            value: pfn */
    MM_OP_FREE,          /* args: pfn, order             value: pfn */
    MM_OP_KMAP,          /* args: pfn                    value: va, aux: flushes */
    MM_OP_KUNMAP,        /* args: pfn                    value: va, aux: users left */
    MM_OP_KMAP_ATOMIC,   /* args: pfn [, km_type slot]   value: va, aux: displaced pfn */
    MM_OP_KUNMAP_ATOMIC, /* args: va                     value: pfn */
    MM_OP_VMALLOC,       /* args: size                   value: va, aux: pages */
    MM_OP_VFREE,         /* args: va                     value: pages freed */
    MM_OP_VMAP,          /* args: pfn...                 value: va */
    MM_OP_VUNMAP,        /* args: va                     value: pages */
    MM_OP_IOREMAP,       /* args: phys, size             value: va */
    MM_OP_IOUNMAP,       /* args: va                     value: pages */
    MM_OP_MODULE_ALLOC,  /* args: size                   value: va, aux: pages */
    MM_OP_MODULE_FREE,   /* args: va                     value: pages freed */
    MM_OP_KMAP_FLUSH,    /* kmap_flush_unused()          value: slots cleared */
    MM_OP_MODULE_ENABLE_RO, /* args: va, text_size, ro_size  value: read-only pages */
    MM_OP_COUNT
};

#define MM_OP_MAX_ARGS 1024 /* vmap of at most 1024 pages */

/* "alloc", "free", "kmap", "kunmap", "kmap_atomic", ...; NULL out of range. */
const char *mm_op_name(enum mm_opcode op);
/* Parses an op name (also with '-' for '_'); MM_OP_NONE if unknown. */
enum mm_opcode mm_op_lookup(const char *name);

struct mm_op {
    enum mm_opcode code;
    uint32_t cpu; /* the CPU it runs on (kmap_atomic) */
    uint32_t nargs;
    const uint32_t *args; /* borrowed; meaning per opcode above */
};

#define MM_RES_DISPLACED 0x1 /* aux holds a page whose mapping was replaced */
#define MM_RES_WAKE      0x2 /* a pkmap slot lost its last user: retry waiters */
#define MM_RES_FLUSHED   0x4 /* the pkmap window was flushed (aux counts) */

struct mm_result {
    enum mm_status status;
    uint32_t value; /* per opcode, see enum mm_opcode */
    uint32_t aux;
    uint32_t flags;       /* MM_RES_* */
    uint64_t seq;         /* the change's sequence number; 0 if it failed */
    char msg[MM_MSG_MAX]; /* the error, naming what was wrong; "" on success */
};

/**
 * mm_apply - apply one operation, as the kernel function it names would
 * Context: mutates @m on success only; an operation that fails changes
 * nothing and takes no sequence number.
 * Return: @res->status: MM_OK or the error the opcode documents.
 */
enum mm_status mm_apply(struct mm_machine *m, const struct mm_op *op,
                        struct mm_result *res);

/**
 * mm_replay - re-apply a recorded operation and compare the outcome
 * Return: MM_OK if status, value, aux, flags and seq all equal @expected;
 * MM_INTERNAL with @err naming the sequence number and both results if not.
 */
enum mm_status mm_replay(struct mm_machine *m, const struct mm_op *op,
                         const struct mm_result *expected, char err[MM_MSG_MAX]);

/* Typed entry points: each builds an mm_op and calls mm_apply(). */
enum mm_status mm_alloc_pages(struct mm_machine *m, enum mm_zone zone, unsigned order,
                              struct mm_result *res);
enum mm_status mm_free_pages(struct mm_machine *m, mm_pfn_t pfn, unsigned order,
                             struct mm_result *res);
enum mm_status mm_kmap(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *res);
enum mm_status mm_kunmap(struct mm_machine *m, mm_pfn_t pfn, struct mm_result *res);
enum mm_status mm_kmap_atomic(struct mm_machine *m, unsigned cpu, mm_pfn_t pfn,
                              int km_type, struct mm_result *res);
enum mm_status mm_kunmap_atomic(struct mm_machine *m, unsigned cpu, mm_vaddr_t va,
                                struct mm_result *res);
enum mm_status mm_vmalloc(struct mm_machine *m, uint32_t size, struct mm_result *res);
enum mm_status mm_vfree(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res);
enum mm_status mm_vmap(struct mm_machine *m, const mm_pfn_t *pfns, uint32_t n,
                       struct mm_result *res);
enum mm_status mm_vunmap(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res);
enum mm_status mm_ioremap(struct mm_machine *m, mm_paddr_t phys, uint32_t size,
                          struct mm_result *res);
enum mm_status mm_iounmap(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res);
enum mm_status mm_module_alloc(struct mm_machine *m, uint32_t size,
                               struct mm_result *res);
enum mm_status mm_module_free(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res);
/* complete_formation()'s module_enable_ro(), module_enable_nx() and
 * module_enable_x() on the module at @va: [0, @text_size) read-only and
 * executable, [@text_size, @ro_size) read-only, the rest not executable
 * (mm_int.h mm__module_enable_ro()).  Value: the read-only pages, 0 on a
 * build without STRICT_MODULE_RWX, where nothing changes.  Refused
 * (MM_INVALID_ARGUMENT): @va not a live module_alloc area, sizes not page
 * aligned, out of order or past the module, a module protected already. */
enum mm_status mm_module_enable_ro(struct mm_machine *m, mm_vaddr_t va,
                                   uint32_t text_size, uint32_t ro_size,
                                   struct mm_result *res);

/* km_type slot names of the 2.6 enum, for MM_OP_KMAP_ATOMIC in km_type style:
 * mm_km_type_name(3) is "KM_USER0"; lookup returns -1 if unknown. */
const char *mm_km_type_name(const struct mm_machine *m, int km_type);
int mm_km_type_lookup(const struct mm_machine *m, const char *name);

/* ------------------------------------------------------------------ */
/* Translation (never changes machine state)                          */
/* ------------------------------------------------------------------ */

#define MM_ACC_READ  0x1
#define MM_ACC_WRITE 0x2
#define MM_ACC_EXEC  0x4
#define MM_ACC_USER  0x8 /* PL0; without it the access is PL1 */
/* An access of 0 is a plain lookup: descriptors decoded, no checks. */

enum mm_fault {
    MM_FAULT_NONE = 0,
    MM_FAULT_TRANSLATION_L1, /* FSR 0b00101 */
    MM_FAULT_TRANSLATION_L2, /* FSR 0b00111 */
    MM_FAULT_DOMAIN_L1,      /* FSR 0b01001 */
    MM_FAULT_DOMAIN_L2,      /* FSR 0b01011 */
    MM_FAULT_PERMISSION_L1,  /* FSR 0b01101 */
    MM_FAULT_PERMISSION_L2   /* FSR 0b01111 */
};

/* "none", "translation fault (level 1)", ... */
const char *mm_fault_name(enum mm_fault f);

enum mm_desc_kind {
    MM_DESC_FAULT = 0,
    MM_DESC_PAGE_TABLE, /* first level: coarse table */
    MM_DESC_SECTION,
    MM_DESC_SUPERSECTION,
    MM_DESC_LARGE_PAGE,
    MM_DESC_SMALL_PAGE
};

struct mm_walk_step {
    uint8_t level;  /* 1 or 2 */
    uint8_t kind;   /* enum mm_desc_kind */
    uint8_t domain; /* 0..15 */
    uint8_t ap;     /* AP[2:0] = APX:AP[1:0] */
    uint8_t tex, c, b, s, ng, xn;
    mm_paddr_t addr; /* physical address of the descriptor */
    uint32_t desc;   /* its value */
    mm_paddr_t next; /* L2 table base or output base */
};

struct mm_walk {
    mm_vaddr_t va;
    mm_paddr_t pa; /* valid when fault == MM_FAULT_NONE */
    enum mm_fault fault;
    unsigned nsteps;
    struct mm_walk_step step[2];
};

/**
 * mm_translate - walk the page tables for @va as the MMU does
 * @access: MM_ACC_* bits, or 0 for a plain lookup.
 * Return: MM_OK with @w filled, or MM_FAULT with @w->fault typed as the
 * architecture types it.  Never changes @m.
 */
enum mm_status mm_translate(const struct mm_machine *m, mm_vaddr_t va, unsigned access,
                            struct mm_walk *w);

/**
 * mm_translate_batch - translate @n addresses without traces
 * Addresses on a page already walked reuse that walk.  @pa[i] receives the
 * physical address, @fault[i] an enum mm_fault (0 when it translated).
 * Return: the number of addresses that translated.
 */
size_t mm_translate_batch(const struct mm_machine *m, const mm_vaddr_t *va, size_t n,
                          unsigned access, mm_paddr_t *pa, uint8_t *fault);

/* Renders a walk as text, one step a line, with decoded fields. */
size_t mm_walk_format(const struct mm_walk *w, char *buf, size_t size);

/* The virtual regions mm_region_of() tells apart.  The numbers are the
 * wire's (enum Region of proto/armmap.proto, REGION_ + the same suffix);
 * the daemon asserts they agree.  (enum mm_vregion: struct mm_region is a
 * memory bank of the layout.) */
enum mm_vregion {
    MM_VREGION_GAP = 0, /* none of the others */
    MM_VREGION_USER,
    MM_VREGION_MODULES,
    MM_VREGION_PKMAP,
    MM_VREGION_LOWMEM,
    MM_VREGION_VMALLOC,
    MM_VREGION_CONSISTENT,
    MM_VREGION_FIXMAP,
    MM_VREGION_TIMERS,
    MM_VREGION_VECTOR,  /* the stubs page too */
    MM_VREGION_IOREMAP, /* a live ioremap() area in vmalloc */
    MM_VREGION_FDT,     /* 5.11+ DTB map */
    MM_VREGION_PCI_IO,  /* the PCI I/O reservation */
    MM_VREGION_COUNT
};

/* The region @va lies in.  Never changes @m. */
enum mm_vregion mm_region_of(const struct mm_machine *m, mm_vaddr_t va);

/* "gap", "user", "modules", "pkmap", "lowmem", "vmalloc", "consistent",
 * "fixmap", "timers", "vector", "ioremap", "fdt", "pci-io"; "unknown" for
 * a value out of range. */
const char *mm_vregion_name(enum mm_vregion r);

/* mm_vregion_name(mm_region_of(@m, @va)). */
const char *mm_region_name(const struct mm_machine *m, mm_vaddr_t va);

/* __pa() of a lowmem address, __va() of a lowmem physical address,
 * virt_to_page(), page_address().  MM_INVALID_ARGUMENT where the kernel's
 * macro would be meaningless (not lowmem); page_address of a highmem page
 * that is not kmapped is MM_NOT_FOUND (the kernel returns NULL). */
enum mm_status mm_pa(const struct mm_machine *m, mm_vaddr_t va, mm_paddr_t *pa,
                     char err[MM_MSG_MAX]);
enum mm_status mm_va(const struct mm_machine *m, mm_paddr_t pa, mm_vaddr_t *va,
                     char err[MM_MSG_MAX]);
enum mm_status mm_virt_to_page(const struct mm_machine *m, mm_vaddr_t va, mm_pfn_t *pfn,
                               char err[MM_MSG_MAX]);
enum mm_status mm_page_address(const struct mm_machine *m, mm_pfn_t pfn, mm_vaddr_t *va,
                               char err[MM_MSG_MAX]);

struct mm_alias {
    mm_vaddr_t va;
    enum mm_vregion region; /* as mm_region_of() */
};

/* Every virtual address that maps physical address @pa, ascending: what a
 * walk of every table would find, answered from a reverse index kept as
 * the tables change.  Writes at most @max; returns how many there are. */
size_t mm_phys_aliases(const struct mm_machine *m, mm_paddr_t pa, struct mm_alias *out,
                       size_t max);

/* ------------------------------------------------------------------ */
/* Reports, counters, checks                                           */
/* ------------------------------------------------------------------ */

/* A growable text or byte buffer the engine writes reports into.
 * Zero-initialise it; free its data with mm_buf_free(). */
struct mm_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom; /* set if an append ran out of memory */
};
void mm_buf_free(struct mm_buf *b);

enum mm_report {
    MM_REPORT_LAYOUT = 0,  /* "Virtual kernel memory layout:" block */
    MM_REPORT_MEMORY,      /* the boot "Memory:" line(s) */
    MM_REPORT_IOMEM,       /* /proc/iomem */
    MM_REPORT_BUDDYINFO,   /* /proc/buddyinfo */
    MM_REPORT_MEMINFO,     /* /proc/meminfo fields that exist here */
    MM_REPORT_VMALLOCINFO, /* /proc/vmallocinfo */
    MM_REPORT_PKMAP,       /* pkmap slot table */
    MM_REPORT_FIXMAP,      /* per-CPU kmap_atomic slot table */
    MM_REPORT_PAGETABLES,  /* kernel_page_tables, as arch/arm/mm/dump.c */
    MM_REPORT_REGIONS,     /* the virtual regions, every era: a table */
    MM_REPORT_ZONEINFO,    /* /proc/zoneinfo's zone blocks (6.1 format) */
    MM_REPORT_COUNT
};

const char *mm_report_name(enum mm_report r); /* "layout", "memory", ... */
bool mm_report_lookup(const char *name, enum mm_report *out);

/**
 * mm_report - render report @r in the kernel's own format, appended to @out
 * Return: MM_OK; MM_NOT_FOUND if this kernel version never printed it (the
 * layout block after 5.0) or the engine renders it for other versions only
 * (zoneinfo: 6.1), with @out->data holding the reason;
 * MM_NO_MEMORY if @out could not grow.
 */
enum mm_status mm_report(const struct mm_machine *m, enum mm_report r,
                         struct mm_buf *out);

/**
 * mm_report_json - render report @r as one JSON object, appended to @out
 * The same data as mm_report(), gathered by the same code, structured as
 * docs/api-reports.md describes (addresses "0x..." strings, numbers that
 * may pass 2^53 decimal strings, enums as names); no trailing newline.
 * Return: as mm_report(); on MM_NOT_FOUND @out holds the reason as text
 * (not JSON), the same text mm_report() gives.
 */
enum mm_status mm_report_json(const struct mm_machine *m, enum mm_report r,
                              struct mm_buf *out);

struct mm_zone_stats {
    const char *name;            /* "DMA", "Normal", "HighMem" */
    mm_pfn_t start_pfn, end_pfn; /* spanned */
    uint32_t present;            /* RAM pages in the span */
    uint32_t managed;            /* handed to the buddy allocator at boot */
    uint32_t free;
    uint32_t nr_free[MM_MAX_ORDERS]; /* free blocks per order, nr_orders used */
};

struct mm_stats {
    uint64_t seq;
    unsigned nr_zones;
    unsigned nr_orders; /* MAX_ORDER of the machine's buddy allocator */
    struct mm_zone_stats zone[MM_NR_ZONES];
    uint32_t ram_pages, reserved_pages;
    uint32_t pkmap_in_use;  /* slots with count >= 2 */
    uint32_t pkmap_flushes; /* flush_all_zero_pkmaps() that cleared a slot */
    uint32_t tlb_flushes;   /* local + global TLB flush operations */
    uint32_t vmalloc_areas, vmalloc_pages, vmalloc_lazy_pages;
    uint32_t pte_pages; /* second-level table pages */
    size_t host_bytes;
};

void mm_get_stats(const struct mm_machine *m, struct mm_stats *st);

/**
 * mm_check - cross-check page tables against every piece of bookkeeping
 * Context: reads only.
 * Return: MM_OK, or MM_INTERNAL with @err describing the first inconsistency.
 */
enum mm_status mm_check(const struct mm_machine *m, char err[MM_MSG_MAX]);

/*
 * What ops changed since the summary was last cleared: the first-level
 * indexes whose entry or second-level table was written (bit i of l1 is
 * L1[i], the MiB at i << 20), and the parts whose state an op may have
 * changed (MM_TOUCH_*, by the op's kind, failed ops included).  A clone
 * starts with its original's summary; mm_create()'s holds the boot.
 */
#define MM_TOUCH_BUDDY   0x1u /* page allocator (alloc, free, vmalloc, ...) */
#define MM_TOUCH_PKMAP   0x2u
#define MM_TOUCH_KATOMIC 0x4u
#define MM_TOUCH_VMAP    0x8u /* vmalloc areas */
#define MM_TOUCH_ALL     0xfu
struct mm_touched {
    uint64_t l1[4096 / 64];
    unsigned parts;
};

const struct mm_touched *mm_touched(const struct mm_machine *m);
void mm_touched_clear(struct mm_machine *m);

/**
 * mm_check_touched - mm_check() of what the summary names, then clears it
 * @parts: which touched parts to check whole (MM_TOUCH_*; 0: only the
 *         touched page-table entries)
 * The pgd entries (L1 pairs) holding a touched index, each with its
 * second-level table, by mm_check()'s rules; and each touched part in
 * @parts whole, with those whose checks read what changed: pkmap's,
 * kmap_atomic's or vmalloc's when an index of their window is touched,
 * vmalloc's, the owners' cross-check and every page-table entry when the
 * buddy is (a table page's or an area page's owner may have changed).
 * Not checked: what only the whole table shows (a PTE page serving two
 * entries, the count of PTE pages).  Given a machine that passed
 * mm_check() when the summary was last cleared, and all of MM_TOUCH_*,
 * this finds every inconsistency mm_check() would in what changed;
 * mm_check() of a later state finds what persists.
 * Return: MM_OK, or MM_INTERNAL with @err describing the first inconsistency.
 */
enum mm_status mm_check_touched(struct mm_machine *m, unsigned parts,
                                char err[MM_MSG_MAX]);

/*
 * mm_since_clear - start recording what changes, for mm_check_since()
 * Records the page-table indexes written and the parts touched (as the
 * touched summary, but not cleared by mm_check_touched()) and each buddy
 * block headed, freed or taken, with the allocator's counts as they are
 * now.  A clone carries its original's record; a restored machine has
 * none.
 */
void mm_since_clear(struct mm_machine *m);

/**
 * mm_check_since - mm_check() of what changed since mm_since_clear()
 * Given a machine that passed mm_check() at mm_since_clear(): the buddy's
 * changed blocks by mm_check()'s rules, that they cover exactly the pages
 * of the blocks they replaced, the free lists changed, and every count;
 * the PTEs and section bits of the pgd entries written, the form and PTE
 * page owner of every other; pkmap, kmap_atomic, vmalloc and the owners'
 * cross-check whole if what they read changed, as mm_check_touched()
 * decides it from the parts and entries touched since.  So it finds every inconsistency mm_check() would in
 * what changed; what did not change is as that mm_check() left it.
 * Without mm_since_clear() (since mm_create() or mm_restore()) it is
 * mm_check(); past 1,024 buddy changes the buddy is checked whole.
 * Return: MM_OK, or MM_INTERNAL with @err describing the first inconsistency.
 */
enum mm_status mm_check_since(const struct mm_machine *m, char err[MM_MSG_MAX]);

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/**
 * mm_snapshot - append @m's whole dynamic state to @out as bytes
 * The bytes are versioned, little-endian, checksummed, and carry a hash of
 * the config, so they restore only onto the same config.  Reads only.
 * Return: MM_OK; MM_NO_MEMORY if @out could not grow; MM_INTERNAL if @m is
 * broken (mm_broken(): there is no state worth keeping).  On error @out
 * may hold a partial snapshot after its old length.
 */
enum mm_status mm_snapshot(const struct mm_machine *m, struct mm_buf *out);

/**
 * mm_restore - rebuild the machine a snapshot was taken of
 * @cfg: the config the machine was created from (mm_machine_config()).
 * Every byte is validated; the machine handed out passes mm_check() and
 * behaves exactly as the original did at the snapshot (same seq, reports,
 * translations, and results of any later operations).
 * Return: MM_OK with *@out set; MM_INVALID_ARGUMENT with @err naming what
 * is wrong (bad magic or version, another config, checksum, truncation, a
 * field out of range, an inconsistent state); MM_NO_MEMORY (host memory).
 */
enum mm_status mm_restore(const struct mm_config *cfg, const void *buf, size_t len,
                          struct mm_machine **out, char err[MM_MSG_MAX]);

/* Calls @fn for each emulated physical page that holds written data,
 * ascending by pfn; used to dump memory.  Stops early if @fn returns false. */
void mm_foreach_phys_page(const struct mm_machine *m,
                          bool (*fn)(void *arg, mm_pfn_t pfn, const uint8_t *data),
                          void *arg);

/* The MMU registers the kernel holds: TTBR0, TTBCR, DACR, SCTLR. */
struct mm_mmu_regs {
    uint32_t ttbr0, ttbcr, dacr, sctlr;
};
void mm_get_mmu_regs(const struct mm_machine *m, struct mm_mmu_regs *regs);

#ifdef __cplusplus
}
#endif

#endif /* ARMMAP_ENGINE_MM_H */
