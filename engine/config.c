/* engine/config.c - machine configuration: defaults, presets, keys, checks.
 *
 * A struct mm_config is plain data.  This file fills it (defaults, named
 * board presets), sets one field from its textual key and value, checks a
 * whole config the way the kernel would refuse it at boot, and converts it
 * to and from the canonical "key=value" text.
 *
 * Design.  One table lists the keys in their fixed output order, each with
 * a setter (text -> field, syntax only, all-or-nothing) and a printer
 * (field -> canonical text).  mm_config_format() walks the table; so does
 * mm_config_parse(), which applies lines on top of the defaults in a copy
 * and commits only when every line was good.  Printers emit only forms the
 * setters read back, so parse(format(cfg)) == cfg.  Validation checks each
 * field alone (naming the key and the value), then asks era.c to compute
 * the layout, which reports what only the whole config can show (the image
 * outside lowmem, a carve-out outside RAM, VMALLOC_END missing).
 *
 * Decisions where the kernel is silent or merely warns:
 *  - vmalloc= is clamped to [16 MiB, VMALLOC_END - PAGE_OFFSET - 32 MiB]
 *    silently, as early_vmalloc() does (it only printk()s); 0 means "not
 *    given".  It must be a multiple of 4 KiB (the model keeps page-aligned
 *    lowmem).
 *  - More than 8 banks before 3.16 are refused: arm_add_memory() ignores
 *    bank 9 on with "NR_BANKS too low" (CONFIG_ARM_NR_BANKS default 8).
 *  - A VMALLOC_END override on a kernel that fixes VMALLOC_END is refused;
 *    so is a consistent-DMA window from 3.5 on (the CMA rework removed it).
 *  - The kmap_atomic style may be chosen freely; the CPU count must fit
 *    the era's fixmap in that style's slots per CPU.
 *
 * Emulates: arch/arm/kernel/setup.c arm_add_memory() (bank limit),
 * arch/arm/mm/mmu.c early_vmalloc() (the value; clamping is in era.c),
 * arch/arm/kernel/head.S KERNEL_RAM_VADDR check, lib/cmdline.c memparse().
 */
#include "mm_int.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SZ_1K 0x400u
#define SZ_1M 0x100000u
#define SZ_1G 0x40000000u

#define KVER_ARGS(k) (k) >> 16, ((k) >> 8) & 0xff, (k)&0xff

/* ------------------------------------------------------------------ */
/* Defaults and presets                                                */
/* ------------------------------------------------------------------ */

void mm_config_default(struct mm_config *cfg)
{
    assert(cfg != NULL);
    memset(cfg, 0, sizeof(*cfg));
    cfg->nr_banks = 1;
    cfg->banks[0] = (struct mm_bank){ 0x40000000u, SZ_1G };
    cfg->split = MM_SPLIT_3G;
    cfg->kernel = MM_KVER(3, 4, 0);
    cfg->highmem = true;
    cfg->cpus = 1;
    cfg->atomic = MM_ATOMIC_DEFAULT;
    cfg->text_offset = 0x8000u; /* KERNEL: arch/arm/Makefile textofs-y */
    /* Illustrative sizes of a typical ARMv7 kernel (.text includes rodata). */
    cfg->text.size = 8 * SZ_1M;
    cfg->init.size = SZ_1M;
    cfg->data.size = SZ_1M;
    cfg->bss.size = SZ_1M;
    cfg->version = MM_CONFIG_VERSION;
}

/*
 * Xiaomi Mi 2 "aries": APQ8064 (4x Krait), msm-3.4 kernel.  Banks, image
 * sections and the rmtfs carve-out are those of the real boot output in
 * tests/data/aries.txt (its /proc/iomem and layout block); CPUs from the SoC.
 */
static void preset_aries(struct mm_config *cfg)
{
    static const struct mm_bank banks[] = {
        { 0x80200000u, 0x08c00000u }, { 0x89000000u, 0x04a00000u },
        { 0x8ec00000u, 0x00400000u }, { 0x8f700000u, 0x00700000u },
        { 0x8ff00000u, 0x0ff00000u }, { 0xa0000000u, 0x05800000u },
        { 0xa5900000u, 0x599ff000u },
    };

    cfg->nr_banks = sizeof(banks) / sizeof(banks[0]);
    memcpy(cfg->banks, banks, sizeof(banks));
    cfg->kernel = MM_KVER(3, 4, 0);
    cfg->cpus = 4;
    cfg->user_timers = true;
    cfg->text = (struct mm_section){ 0xc0008000u, 0xc0e07f80u - 0xc0008000u };
    cfg->init = (struct mm_section){ 0xc0f00000u, 0xc101df40u - 0xc0f00000u };
    cfg->data = (struct mm_section){ 0xc101e000u, 0xc121aac0u - 0xc101e000u };
    cfg->bss = (struct mm_section){ 0xc121aae4u, 0xc1a4e2e4u - 0xc121aae4u };
    cfg->nr_reserves = 1;
    snprintf(cfg->reserves[0].name, MM_NAME_MAX, "rmtfs");
    cfg->reserves[0].start = 0x8ff00000u;
    cfg->reserves[0].size = 0x40000u;
}

/*
 * QEMU "virt" board: RAM from 0x40000000 (hw/arm/virt.c memory map), 1 GiB
 * here (override ram=).  Linux 4.19: the last LTS that still prints the
 * virtual memory layout, with the 4.x VMALLOC_END and fixmap, the generic
 * Memory: line and stack-style kmap_atomic; multi_v7_defconfig has HIGHMEM,
 * and QEMU's default is one CPU.
 */
static void preset_qemu_virt(struct mm_config *cfg)
{
    cfg->kernel = MM_KVER(4, 19, 0);
}

/*
 * BeagleBone Black (TI AM335x, one Cortex-A8, 512 MiB DDR3L at 0x80000000;
 * balena-os-device-support#7).  The kernel sees 0x80000000-0x9fdfffff
 * (130560 pages: balena-beaglebone#25, Linux 4.4.9, PAGE_OFFSET 0xc0000000
 * from its pgdat address; meta-flutter#461 "Normal [mem 0x80000000-
 * 0x9fdfffff], HighMem empty", so HIGHMEM is built in).
 */
static void preset_beaglebone_black(struct mm_config *cfg)
{
    cfg->banks[0] = (struct mm_bank){ 0x80000000u, 0x1fe00000u };
    cfg->kernel = MM_KVER(4, 4, 9);
}

/*
 * Raspberry Pi 2 Model B (BCM2836, four Cortex-A7).  Linux 4.4.21-v7+ sees
 * RAM 0x00000000-0x3b000000 with the default GPU split (raspberrypi/linux
 * #1641 boot log); bcm2709_defconfig sets CONFIG_VMSPLIT_2G (raspberrypi/
 * linux#5245, #1641 "Consider using a HIGHMEM enabled kernel": no HIGHMEM).
 */
static void preset_rpi2(struct mm_config *cfg)
{
    cfg->banks[0] = (struct mm_bank){ 0x00000000u, 0x3b000000u };
    cfg->split = MM_SPLIT_2G;
    cfg->kernel = MM_KVER(4, 4, 21);
    cfg->highmem = false;
    cfg->cpus = 4;
}

static const struct mm_preset_info preset_infos[] = {
    { "aries", "Xiaomi Mi 2, APQ8064, msm-3.4 (3.4.0), 2 GB in 7 banks; spec/aries.txt" },
    { "qemu-virt", "QEMU virt, 1 GiB at 0x40000000, Linux 4.19; hw/arm/virt.c" },
    { "beaglebone-black",
      "BeagleBone Black, AM335x, 510 MiB at 0x80000000, Linux 4.4.9" },
    { "rpi2", "Raspberry Pi 2 B, BCM2836, 944 MiB at 0, VMSPLIT_2G, Linux 4.4.21" },
};

static void (*const preset_fills[])(struct mm_config *) = {
    preset_aries,
    preset_qemu_virt,
    preset_beaglebone_black,
    preset_rpi2,
};

#define NR_PRESETS (sizeof(preset_infos) / sizeof(preset_infos[0]))

const struct mm_preset_info *mm_presets(size_t *n)
{
    assert(n != NULL);
    *n = NR_PRESETS;
    return preset_infos;
}

enum mm_status mm_config_preset(struct mm_config *cfg, const char *name,
                                char err[MM_MSG_MAX])
{
    assert(cfg != NULL && name != NULL && err != NULL);
    for (size_t i = 0; i < NR_PRESETS; i++) {
        if (strcmp(name, preset_infos[i].name) == 0) {
            mm_config_default(cfg);
            preset_fills[i](cfg);
            snprintf(cfg->preset, MM_NAME_MAX, "%s", name);
            err[0] = '\0';
            return MM_OK;
        }
    }
    return mm__fail(err, MM_NOT_FOUND,
                    "preset: unknown preset '%s' (aries, qemu-virt, "
                    "beaglebone-black, rpi2)",
                    name);
}

/*
 * The Debian 12 armmp reference: qemu-virt running kernel 6.1.x.  Facts
 * read from its config-6.1.0-57-armmp (linux-image-6.1.0-57-armmp
 * 6.1.192-3, armhf): CONFIG_SMP=y, CONFIG_SMP_ON_UP=y, CONFIG_NR_CPUS=8,
 * CONFIG_HIGHMEM=y, CONFIG_ARM_ERRATA_798181=y, CONFIG_ARM_LPAE not set.
 * QEMU's Cortex-A15 reports MPIDR.MP without U, so head.S __fixup_smp
 * keeps smp_on_up and is_smp() holds with one CPU too.
 */
static bool parse_num(const char **s, uint64_t *out);

static bool debian_armmp(const struct mm_config *cfg)
{
    return cfg->version >= 2 && strcmp(cfg->preset, "qemu-virt") == 0 &&
           cfg->kernel >= MM_KVER(6, 1, 0) && cfg->kernel <= MM_KVER(6, 1, 255);
}

bool mm__config_smp(const struct mm_config *cfg)
{
    if (cfg->smp != MM_AUTO)
        return cfg->smp == MM_ON;
    return debian_armmp(cfg) || cfg->cpus > 1;
}

bool mm__config_errata_798181(const struct mm_config *cfg)
{
    if (cfg->errata_798181 != MM_AUTO)
        return cfg->errata_798181 == MM_ON;
    return debian_armmp(cfg);
}

/* config-6.1.0-57-armmp: CONFIG_ZONE_DMA=y */
bool mm__config_zone_dma(const struct mm_config *cfg)
{
    return debian_armmp(cfg);
}

/* config-6.1.0-57-armmp: CONFIG_MEMCG=y */
bool mm__config_memcg(const struct mm_config *cfg)
{
    return debian_armmp(cfg);
}

/* config-6.1.0-57-armmp: CONFIG_ARCH_FORCE_MAX_ORDER=12; KERNEL: 6.1
 * include/linux/mmzone.h MAX_ORDER, 11 by default */
unsigned mm__config_max_order(const struct mm_config *cfg)
{
    return debian_armmp(cfg) ? 12 : 11;
}

/* Version 3: the reference build as its boot leaves it (MM_CONFIG_VERSION). */
bool mm__config_late_boot(const struct mm_config *cfg)
{
    return debian_armmp(cfg) && cfg->version >= 3;
}

/* Version 6: the command line's dhash_entries= and ihash_entries= size the
 * dentry and inode hash tables (MM_CONFIG_VERSION); ignored before. */
static bool config_hash_words(const struct mm_config *cfg)
{
    return cfg->version >= 6;
}

/* Version 5: the boot's early memblock allocations (MM_CONFIG_VERSION). */
bool mm__config_early_memblock(const struct mm_config *cfg)
{
    return debian_armmp(cfg) && cfg->version >= 5;
}

/* Version 8: the boot takes from the page allocator the pages its vmalloc
 * space maps, as the kernel does: the per-CPU second chunk's first pages
 * (pcpu_populate_chunk()) and, on a machine without a CMA area, the DMA
 * atomic pool's (__dma_alloc_buffer()), held as MM_OWN_BOOT
 * (engine/vmboot61.c).  Stored version-7 machines keep the free counts
 * they were built with. */
bool mm__config_boot_pages(const struct mm_config *cfg)
{
    return debian_armmp(cfg) && cfg->version >= 8;
}

/* The buddy allocator's MAX_ORDER: the build's from version 3; configs
 * stored before keep the 11 orders they were built with. */
unsigned mm__config_buddy_orders(const struct mm_config *cfg)
{
    return mm__config_late_boot(cfg) ? mm__config_max_order(cfg) : 11;
}

/* config-6.1.0-57-armmp: CONFIG_CMA=y, CONFIG_CMA_SIZE_SEL_MBYTES=y,
 * CONFIG_CMA_SIZE_MBYTES=16 */
static bool config_cma(const struct mm_config *cfg)
{
    return debian_armmp(cfg);
}

bool mm__config_cma(const struct mm_config *cfg)
{
    return config_cma(cfg);
}

/* CONFIG_ZSWAP: the real armmp kernel's /proc/meminfo has the Zswap lines
 * (tests/oracle/fixtures, every machine) */
bool mm__config_zswap(const struct mm_config *cfg)
{
    return debian_armmp(cfg);
}

/* The last cma= word's value (the kernel's early_cma() keeps the last). */
static const char *cmdline_cma(const struct mm_config *cfg)
{
    const char *w = cfg->cmdline, *last = NULL;

    while (*w != '\0') {
        size_t n = strcspn(w, " ");

        if (n > 4 && strncmp(w, "cma=", 4) == 0)
            last = w + 4;
        w += n;
        while (*w == ' ')
            w++;
    }
    return last;
}

uint64_t mm__config_cma_bytes(const struct mm_config *cfg)
{
    const char *v = cmdline_cma(cfg);
    uint64_t size;

    if (!config_cma(cfg))
        return 0;
    if (v != NULL && parse_num(&v, &size))
        return size;
    return 16u << 20;
}

/* The largest dhash_entries= / ihash_entries= the engine takes: 2^31, the
 * most roundup_pow_of_two() can give in a 32-bit unsigned long.  The
 * table is then cut to 1/16 of memory anyway (mm__vfs_hash_shift()). */
#define HASH_ENTRIES_MAX 0x80000000ull

/* @w (@n bytes) is "KEY=VALUE" with @key "dhash_entries=" or
 * "ihash_entries=": *@arg = VALUE. */
static bool hash_word(const char *w, size_t n, const char **arg)
{
    static const char *const keys[] = { "dhash_entries=", "ihash_entries=" };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t k = strlen(keys[i]);

        if (n >= k && strncmp(w, keys[i], k) == 0) {
            *arg = w + k;
            return true;
        }
    }
    return false;
}

/* A hash table word's value, @n bytes at @v: a number as simple_strtoul(,,
 * 0) reads one (decimal, 0x hex, 0 octal), the whole word, at most
 * HASH_ENTRIES_MAX. */
static bool parse_hash_entries(const char *v, size_t n, uint64_t *out)
{
    char buf[24], *end;
    unsigned long long x;

    if (n == 0 || n >= sizeof(buf) || !isdigit((unsigned char)v[0]))
        return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    errno = 0;
    x = strtoull(buf, &end, 0);
    if (errno != 0 || *end != '\0' || x > HASH_ENTRIES_MAX)
        return false;
    *out = x;
    return true;
}

uint64_t mm__config_hash_entries(const struct mm_config *cfg, const char *key)
{
    const char *w = cfg->cmdline;
    size_t k = strlen(key);
    uint64_t v = 0, x;

    if (!config_hash_words(cfg))
        return 0;
    while (*w != '\0') {
        size_t n = strcspn(w, " ");

        if (n >= k && strncmp(w, key, k) == 0 && parse_hash_entries(w + k, n - k, &x))
            v = x;
        w += n;
        while (*w == ' ')
            w++;
    }
    return v;
}

/* initrd=START,SIZE (or initrdmem=): START and SIZE of the last such word,
 * memparse() each.  KERNEL: 6.1 init/do_mounts_initrd.c early_initrdmem():
 * each word overwrites phys_initrd_start/size; one without ",SIZE" changes
 * nothing (cmdline_initrd_word() refuses it). */
static bool initrd_word(const char *w, size_t n, const char **arg)
{
    if (n > 7 && strncmp(w, "initrd=", 7) == 0)
        *arg = w + 7;
    else if (n > 10 && strncmp(w, "initrdmem=", 10) == 0)
        *arg = w + 10;
    else
        return false;
    return true;
}

static bool parse_initrd(const char *p, uint64_t *start, uint64_t *size)
{
    if (!parse_num(&p, start) || *p != ',')
        return false;
    p++;
    return parse_num(&p, size) && (*p == '\0' || *p == ' ');
}

bool mm__config_initrd(const struct mm_config *cfg, uint64_t *start, uint64_t *size)
{
    const char *w = cfg->cmdline, *arg;
    bool found = false;

    *start = *size = 0;
    while (*w != '\0') {
        size_t n = strcspn(w, " ");

        if (initrd_word(w, n, &arg))
            found = parse_initrd(arg, start, size);
        w += n;
        while (*w == ' ')
            w++;
    }
    return found && *size != 0;
}

/*
 * The device tree blob: fdt=ADDR,SIZE, or for "auto" on the reference
 * build from config version 4 where QEMU's virt board puts its blob when
 * it boots a kernel directly: right after the initrd, 4 KiB aligned, the
 * initrd being at RAM + min(RAM / 2, 128 MiB) (so the blob is there when
 * there is no initrd); QEMU's blob is FDT_MAX_SIZE, 1 MiB.  Here the
 * initrd is the initrd= word's, RAM the banks (QEMU's -m, before mem=).
 * QEMU 7.2 hw/arm/boot.c arm_setup_direct_kernel_boot() (dtb_start,
 * align 4 KiB for a 32-bit kernel), device_tree.c create_device_tree();
 * the fixtures' 256 pages reserved beside the initrd agree.
 */
bool mm__config_fdt(const struct mm_config *cfg, uint64_t *start, uint32_t *size)
{
    uint64_t istart, isize, ram = 0;

    *start = cfg->fdt_start;
    *size = cfg->fdt_size;
    if (cfg->fdt_mode != MM_FDT_AUTO)
        return cfg->fdt_mode == MM_FDT_AT;
    if (!debian_armmp(cfg) || cfg->version < 4 || cfg->nr_banks == 0)
        return false;
    for (unsigned i = 0; i < cfg->nr_banks && i < MM_MAX_BANKS; i++)
        ram += cfg->banks[i].size;
    if (!mm__config_initrd(cfg, &istart, &isize)) {
        istart = cfg->banks[0].start + (ram / 2 < (128u << 20) ? ram / 2 : (128u << 20));
        isize = 0;
    }
    *start = (istart + isize + MM_PAGE_SIZE - 1) & ~(uint64_t)(MM_PAGE_SIZE - 1);
    *size = 1u << 20;
    return true;
}

/* QEMU virt under the armmp kernel, whose built-in pl011, pl031 and pl061
 * drivers claim the board's devices (report.c mm__iomem_devices()). */
bool mm__config_board_devices(const struct mm_config *cfg)
{
    return debian_armmp(cfg);
}

/* config-6.1.0-57-armmp: CONFIG_PCI=y */
bool mm__config_pci(const struct mm_config *cfg)
{
    return debian_armmp(cfg);
}

const char *mm_config_reference(const struct mm_config *cfg)
{
    assert(cfg != NULL);
    if (debian_armmp(cfg))
        return "Debian 12 linux-image-armmp (6.1.0-57-armmp, 6.1.192-3 armhf): "
               "SMP, SMP_ON_UP, HIGHMEM, ZONE_DMA, MEMCG, CMA 16M, ARM_ERRATA_798181, PCI, no LPAE";
    if (strcmp(cfg->preset, "aries") == 0)
        return "Xiaomi aries msm-3.4 kernel, as its boot log shows it";
    if (strcmp(cfg->preset, "beaglebone-black") == 0)
        return "BeagleBone Black Linux 4.4.9, as its boot log shows it";
    if (strcmp(cfg->preset, "rpi2") == 0)
        return "Raspberry Pi bcm2709_defconfig 4.4.21-v7+, as its boot log shows it";
    return "no reference build: the era's upstream code with this config's switches";
}

/* ------------------------------------------------------------------ */
/* Value syntax                                                        */
/* ------------------------------------------------------------------ */

/* memparse(): a decimal or 0x number with an optional K/M/G suffix.
 * Advances *s; false on no digits or overflow of 64 bits. */
static bool parse_num(const char **s, uint64_t *out)
{
    const char *p = *s;
    unsigned long long v;
    char *end;
    unsigned shift = 0;

    if (!isdigit((unsigned char)*p))
        return false;
    errno = 0;
    v = strtoull(p, &end, 0);
    if (errno != 0 || end == p)
        return false;
    switch (*end) {
    case 'K':
    case 'k':
        shift = 10;
        end++;
        break;
    case 'M':
    case 'm':
        shift = 20;
        end++;
        break;
    case 'G':
    case 'g':
        shift = 30;
        end++;
        break;
    default:
        break;
    }
    if (shift != 0 && v > (~0ull >> shift))
        return false;
    *out = (uint64_t)v << shift;
    *s = end;
    return true;
}

/* A whole value that is one number no larger than @max. */
static bool parse_whole(const char *v, uint64_t max, uint64_t *out)
{
    return parse_num(&v, out) && *v == '\0' && *out <= max;
}

/* START+SIZE; @start may be absent when @need_start is false. */
static bool parse_range(const char **s, bool need_start, uint64_t *start, uint64_t *size)
{
    const char *p = *s;
    uint64_t a;

    if (!parse_num(&p, &a))
        return false;
    if (*p == '+') {
        p++;
        *start = a;
        if (!parse_num(&p, size))
            return false;
    } else if (need_start) {
        return false;
    } else {
        *start = 0;
        *size = a;
    }
    *s = p;
    return true;
}

static bool parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0)
        *out = true;
    else if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)
        *out = false;
    else
        return false;
    return true;
}

/* "3.4", "3.4.39", "2.6.35", "2.6.35.7" (the 4th number is EXTRAVERSION,
 * not part of LINUX_VERSION_CODE), "4.19.319" (clamped to 4.19.255). */
static bool parse_kernel(const char *v, uint32_t *out)
{
    unsigned long n[4] = { 0, 0, 0, 0 };
    unsigned k = 0;
    const char *p = v;

    while (k < 4) {
        char *end;

        if (!isdigit((unsigned char)*p))
            return false;
        n[k++] = strtoul(p, &end, 10);
        p = end;
        if (*p != '.')
            break;
        p++;
    }
    if (*p != '\0' || k < 2 || (n[0] == 2 && k < 3) || (k == 4 && n[0] != 2))
        return false;
    if (n[0] > 255 || n[1] > 255 || n[2] > 99999)
        return false;
    /* KERNEL: 6.1 Makefile filechk_version.h: a SUBLEVEL above 255 makes
     * LINUX_VERSION_CODE end in 255 (4.19.319 is KERNEL_VERSION(4, 19, 255)) */
    if (n[2] > 255)
        n[2] = 255;
    *out = MM_KVER(n[0], n[1], n[2]);
    return true;
}

/* ------------------------------------------------------------------ */
/* Canonical text                                                      */
/* ------------------------------------------------------------------ */

/* snprintf()-style accumulation that reports the length it needs. */
struct out {
    char *buf;
    size_t size, len;
};

static void out_printf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(o->len < o->size ? o->buf + o->len : NULL,
                  o->len < o->size ? o->size - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

/* A size as the shortest exact K/M/G form, else hex. */
static void out_size(struct out *o, uint64_t v)
{
    if (v != 0 && v % SZ_1G == 0)
        out_printf(o, "%lluG", (unsigned long long)(v / SZ_1G));
    else if (v != 0 && v % SZ_1M == 0)
        out_printf(o, "%lluM", (unsigned long long)(v / SZ_1M));
    else if (v != 0 && v % SZ_1K == 0)
        out_printf(o, "%lluK", (unsigned long long)(v / SZ_1K));
    else
        out_printf(o, "0x%llx", (unsigned long long)v);
}

static const char *const split_names[] = { "3G", "2G", "1G", "3G_OPT" };
static const char *const tristate_names[] = { "auto", "on", "off" };
static const char *const atomic_names[] = { "default", "km_type", "stack", "local" };

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

/* A setter parses @v into @cfg and returns NULL, or a hint for the error. */

static const char *set_preset(struct mm_config *cfg, const char *v)
{
    char err[MM_MSG_MAX];
    struct mm_config tmp;

    if (*v == '\0') {
        cfg->preset[0] = '\0';
        return NULL;
    }
    if (mm_config_preset(&tmp, v, err) != MM_OK)
        return "unknown preset";
    tmp.version = cfg->version; /* a stored config's stamp stays */
    *cfg = tmp;
    return NULL;
}

static const char *set_ram(struct mm_config *cfg, const char *v)
{
    struct mm_bank b[MM_MAX_BANKS];
    unsigned n = 0;

    for (;;) {
        uint64_t start, size;

        if (n == MM_MAX_BANKS)
            return "at most 16 banks";
        if (!parse_range(&v, true, &start, &size) || start > 0xffffffffu ||
            size > 0x100000000ull)
            return "want START+SIZE[,START+SIZE...]";
        b[n++] = (struct mm_bank){ (mm_paddr_t)start, size };
        if (*v == '\0')
            break;
        if (*v++ != ',')
            return "want START+SIZE[,START+SIZE...]";
    }
    cfg->nr_banks = n;
    memset(cfg->banks, 0, sizeof(cfg->banks));
    memcpy(cfg->banks, b, n * sizeof(b[0]));
    return NULL;
}

static const char *set_split(struct mm_config *cfg, const char *v)
{
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(v, split_names[i]) == 0) {
            cfg->split = (enum mm_split)i;
            return NULL;
        }
    }
    return "want 3G, 2G, 1G or 3G_OPT";
}

static const char *set_kernel(struct mm_config *cfg, const char *v)
{
    return parse_kernel(v, &cfg->kernel) ? NULL
                                         : "want a version like 3.4, 3.4.39, 2.6.35";
}

/* Setters for the plain 32-bit numeric fields. */
#define NUM_SETTER(fn, field, hint) \
    static const char *fn(struct mm_config *cfg, const char *v) \
    { \
        uint64_t x; \
        if (!parse_whole(v, 0xffffffffu, &x)) \
            return hint; \
        cfg->field = (uint32_t)x; \
        return NULL; \
    }

NUM_SETTER(set_vmalloc, vmalloc_size, "want a size below 4G, e.g. 240M (0: not given)")
NUM_SETTER(set_vmalloc_end, vmalloc_end,
           "want an address, e.g. 0xfe800000 (0: the era's)")
NUM_SETTER(set_consistent, consistent_dma_size, "want a size, e.g. 14M (0: none)")
NUM_SETTER(set_dma_zone, dma_zone_size, "want a size, e.g. 256M (0: no ZONE_DMA)")
NUM_SETTER(set_text_offset, text_offset, "want an offset, e.g. 0x8000")

#define BOOL_SETTER(fn, field) \
    static const char *fn(struct mm_config *cfg, const char *v) \
    { \
        return parse_bool(v, &cfg->field) ? NULL : "want on or off"; \
    }

BOOL_SETTER(set_highmem, highmem)
BOOL_SETTER(set_thumb2, thumb2)
BOOL_SETTER(set_user_timers, user_timers)

static const char *set_cpus(struct mm_config *cfg, const char *v)
{
    uint64_t x;

    if (!parse_whole(v, 0xffffffffu, &x))
        return "want a number of CPUs";
    cfg->cpus = (unsigned)x;
    return NULL;
}

static const char *set_atomic(struct mm_config *cfg, const char *v)
{
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(v, atomic_names[i]) == 0) {
            cfg->atomic = (enum mm_atomic)i;
            return NULL;
        }
    }
    return "want km_type, stack, local or default";
}

static const char *set_tristate(enum mm_tristate *out, const char *v)
{
    bool b;

    if (strcmp(v, "auto") == 0) {
        *out = MM_AUTO;
        return NULL;
    }
    if (!parse_bool(v, &b))
        return "want on, off or auto";
    *out = b ? MM_ON : MM_OFF;
    return NULL;
}

static const char *set_smp(struct mm_config *cfg, const char *v)
{
    return set_tristate(&cfg->smp, v);
}

static const char *set_errata_798181(struct mm_config *cfg, const char *v)
{
    return set_tristate(&cfg->errata_798181, v);
}

/* Version 8 (engine/vmboot61.c): the boot's vmalloc areas in the order
 * the three boots of each fixture recorded again agree on (the per-CPU
 * chunk after the thread stacks before it, which threads are alive);
 * the table's rows name the versions they are for, so stored version 5-7
 * machines replay as they were built. */
static const char *set_version(struct mm_config *cfg, const char *v)
{
    uint64_t x;

    if (!parse_whole(v, MM_CONFIG_VERSION, &x) || x < 1)
        return "want 1 (before the reference build), 2, 3 (its end of boot), 4 "
               "(QEMU's device tree), 5 (its early allocations and vmalloc space), 6 "
               "(dhash_entries=, ihash_entries=), 7 (its vmalloc mappings) or 8 (their "
               "pages, order)";
    cfg->version = (unsigned)x;
    return NULL;
}

/* fdt: "auto", "none" or ADDR,SIZE (memparse() each).  KERNEL: 6.1
 * arch/arm/kernel/head-common.S __vet_atags: r2 must be 4-byte aligned;
 * scripts/dtc/libfdt/fdt.h: the header alone is 40 bytes.  Where the blob
 * may lie is checked with the layout (machine.c reserve_fdt()). */
static const char *set_fdt(struct mm_config *cfg, const char *v)
{
    const char *p = v;
    uint64_t start, size;

    if (strcmp(v, "auto") == 0 || strcmp(v, "none") == 0) {
        cfg->fdt_mode = v[0] == 'a' ? MM_FDT_AUTO : MM_FDT_NONE;
        cfg->fdt_start = 0;
        cfg->fdt_size = 0;
        return NULL;
    }
    if (!parse_num(&p, &start) || *p++ != ',' || !parse_num(&p, &size) || *p != '\0')
        return "want auto, none or ADDR,SIZE, e.g. 0x480f0000,1M";
    if (start > 0xffffffffu || start % 4 != 0)
        return "the address must be 4-byte aligned and below 4 GiB (head.S __vet_atags)";
    if (size < 40 || size > MM_FDT_WINDOW)
        return "the size must be 40 bytes (an FDT header) to 2M";
    cfg->fdt_mode = MM_FDT_AT;
    cfg->fdt_start = (mm_paddr_t)start;
    cfg->fdt_size = (uint32_t)size;
    return NULL;
}

/* Only the length and the byte values; the words are checked with the
 * whole config (mm__config_effective()). */
static const char *set_cmdline(struct mm_config *cfg, const char *v)
{
    size_t n = strlen(v);

    if (n >= MM_CMDLINE_MAX)
        return "at most 255 characters";
    for (size_t i = 0; i < n; i++) {
        if (!isprint((unsigned char)v[i]))
            return "printable characters only";
    }
    memcpy(cfg->cmdline, v, n + 1);
    return NULL;
}

static const char *set_section(struct mm_section *sec, const char *v)
{
    uint64_t start, size;

    if (!parse_range(&v, false, &start, &size) || *v != '\0' || start > 0xffffffffu ||
        size > 0xffffffffu)
        return "want START+SIZE or SIZE";
    sec->start = (mm_vaddr_t)start;
    sec->size = (uint32_t)size;
    return NULL;
}

static const char *set_text(struct mm_config *cfg, const char *v)
{
    return set_section(&cfg->text, v);
}

static const char *set_init(struct mm_config *cfg, const char *v)
{
    return set_section(&cfg->init, v);
}

static const char *set_data(struct mm_config *cfg, const char *v)
{
    return set_section(&cfg->data, v);
}

static const char *set_bss(struct mm_config *cfg, const char *v)
{
    return set_section(&cfg->bss, v);
}

/* NAME@START+SIZE[,...]; the empty value means none. */
static const char *set_reserve(struct mm_config *cfg, const char *v)
{
    struct mm_reserve r[MM_MAX_RESERVES];
    unsigned n = 0;
    const char *hint = "want NAME@START+SIZE[,...]";

    memset(r, 0, sizeof(r));
    while (*v != '\0') {
        const char *at = strchr(v, '@');
        uint64_t start, size;
        size_t len;

        if (n == MM_MAX_RESERVES)
            return "at most 16 reservations";
        if (at == NULL)
            return hint;
        len = (size_t)(at - v);
        if (len == 0 || len >= MM_NAME_MAX || memchr(v, ',', len) != NULL)
            return "want NAME@START+SIZE[,...] with a name of 1 to 23 characters";
        memcpy(r[n].name, v, len);
        v = at + 1;
        if (!parse_range(&v, true, &start, &size) || start > 0xffffffffu ||
            size > 0xffffffffu)
            return hint;
        r[n].start = (mm_paddr_t)start;
        r[n].size = (uint32_t)size;
        n++;
        if (*v == ',' && v[1] != '\0')
            v++;
        else if (*v != '\0')
            return hint;
    }
    cfg->nr_reserves = n;
    memcpy(cfg->reserves, r, sizeof(r));
    return NULL;
}

/* Printers: the canonical text of each key's value. */

static void put_preset(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%s", cfg->preset);
}

static void put_ram(struct out *o, const struct mm_config *cfg)
{
    for (unsigned i = 0; i < cfg->nr_banks; i++) {
        out_printf(o, "%s0x%08x+", i ? "," : "", cfg->banks[i].start);
        out_size(o, cfg->banks[i].size);
    }
}

static void put_split(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%s", (unsigned)cfg->split < 4 ? split_names[cfg->split] : "?");
}

static void put_kernel(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%u.%u.%u", cfg->kernel >> 16, (cfg->kernel >> 8) & 0xff,
               cfg->kernel & 0xff);
}

static void put_vmalloc(struct out *o, const struct mm_config *cfg)
{
    out_size(o, cfg->vmalloc_size);
}

static void put_vmalloc_end(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "0x%08x", cfg->vmalloc_end);
}

static void put_consistent(struct out *o, const struct mm_config *cfg)
{
    out_size(o, cfg->consistent_dma_size);
}

static void put_dma_zone(struct out *o, const struct mm_config *cfg)
{
    out_size(o, cfg->dma_zone_size);
}

static void put_highmem(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%s", cfg->highmem ? "on" : "off");
}

static void put_thumb2(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%s", cfg->thumb2 ? "on" : "off");
}

static void put_user_timers(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%s", cfg->user_timers ? "on" : "off");
}

static void put_cpus(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%u", cfg->cpus);
}

static void put_atomic(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%s", (unsigned)cfg->atomic < 4 ? atomic_names[cfg->atomic] : "?");
}

static void put_text_offset(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "0x%x", cfg->text_offset);
}

static void put_section(struct out *o, const struct mm_section *s)
{
    if (s->start != 0)
        out_printf(o, "0x%08x+", s->start);
    out_size(o, s->size);
}

static void put_text(struct out *o, const struct mm_config *cfg)
{
    put_section(o, &cfg->text);
}

static void put_init(struct out *o, const struct mm_config *cfg)
{
    put_section(o, &cfg->init);
}

static void put_data(struct out *o, const struct mm_config *cfg)
{
    put_section(o, &cfg->data);
}

static void put_bss(struct out *o, const struct mm_config *cfg)
{
    put_section(o, &cfg->bss);
}

static void put_reserve(struct out *o, const struct mm_config *cfg)
{
    for (unsigned i = 0; i < cfg->nr_reserves; i++) {
        const struct mm_reserve *r = &cfg->reserves[i];

        out_printf(o, "%s%s@0x%08x+", i ? "," : "", r->name, r->start);
        out_size(o, r->size);
    }
}

static void put_tristate(struct out *o, enum mm_tristate t)
{
    out_printf(o, "%s", (unsigned)t < 3 ? tristate_names[t] : "?");
}

static void put_smp(struct out *o, const struct mm_config *cfg)
{
    put_tristate(o, cfg->smp);
}

static void put_errata_798181(struct out *o, const struct mm_config *cfg)
{
    put_tristate(o, cfg->errata_798181);
}

static void put_cmdline(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%s", cfg->cmdline);
}

static void put_fdt(struct out *o, const struct mm_config *cfg)
{
    if (cfg->fdt_mode == MM_FDT_AT) {
        out_printf(o, "0x%08x,", cfg->fdt_start);
        out_size(o, cfg->fdt_size);
    } else {
        out_printf(o, "%s", cfg->fdt_mode == MM_FDT_NONE ? "none" : "auto");
    }
}

/* Whether @cfg's "fdt" line is left out: "auto", so that the text (and the
 * hash of it a snapshot keeps) of a config stored before the key stays. */
static bool omit_fdt(const struct mm_config *cfg)
{
    return cfg->fdt_mode == MM_FDT_AUTO;
}

static void put_version(struct out *o, const struct mm_config *cfg)
{
    out_printf(o, "%u", cfg->version);
}

/* Every key, in the order mm_config_format() prints them.  "preset" comes
 * first so that parsing a formatted config loads the preset, then
 * overrides every field. */
static const struct key {
    const char *name;
    const char *(*set)(struct mm_config *cfg, const char *v);
    void (*put)(struct out *o, const struct mm_config *cfg);
    bool (*omit)(const struct mm_config *cfg); /* NULL: always printed */
} keys[] = {
    { "preset", set_preset, put_preset, NULL },
    { "ram", set_ram, put_ram, NULL },
    { "split", set_split, put_split, NULL },
    { "kernel", set_kernel, put_kernel, NULL },
    { "vmalloc", set_vmalloc, put_vmalloc, NULL },
    { "vmalloc_end", set_vmalloc_end, put_vmalloc_end, NULL },
    { "consistent_dma", set_consistent, put_consistent, NULL },
    { "dma_zone", set_dma_zone, put_dma_zone, NULL },
    { "highmem", set_highmem, put_highmem, NULL },
    { "thumb2", set_thumb2, put_thumb2, NULL },
    { "user_timers", set_user_timers, put_user_timers, NULL },
    { "cpus", set_cpus, put_cpus, NULL },
    { "atomic", set_atomic, put_atomic, NULL },
    { "text_offset", set_text_offset, put_text_offset, NULL },
    { "text", set_text, put_text, NULL },
    { "init", set_init, put_init, NULL },
    { "data", set_data, put_data, NULL },
    { "bss", set_bss, put_bss, NULL },
    { "reserve", set_reserve, put_reserve, NULL },
    { "smp", set_smp, put_smp, NULL },
    { "errata_798181", set_errata_798181, put_errata_798181, NULL },
    { "cmdline", set_cmdline, put_cmdline, NULL },
    { "fdt", set_fdt, put_fdt, omit_fdt },
    { "version", set_version, put_version, NULL },
};

#define NR_KEYS (sizeof(keys) / sizeof(keys[0]))

enum mm_status mm_config_set(struct mm_config *cfg, const char *key, const char *value,
                             char err[MM_MSG_MAX])
{
    assert(cfg != NULL && key != NULL && value != NULL && err != NULL);
    for (size_t i = 0; i < NR_KEYS; i++) {
        struct mm_config tmp = *cfg;
        const char *hint;

        if (strcmp(key, keys[i].name) != 0)
            continue;
        hint = keys[i].set(&tmp, value);
        if (hint != NULL)
            return mm__fail(err, MM_INVALID_ARGUMENT,
                            "config: %s: bad value '%.80s%s' "
                            "(%s)",
                            key, value, strlen(value) > 80 ? "..." : "", hint);
        *cfg = tmp;
        err[0] = '\0';
        return MM_OK;
    }
    return mm__fail(err, MM_INVALID_ARGUMENT, "config: unknown key '%s'", key);
}

size_t mm_config_format(const struct mm_config *cfg, char *buf, size_t size)
{
    struct out o = { buf, size, 0 };

    assert(cfg != NULL && (buf != NULL || size == 0));
    if (size > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < NR_KEYS; i++) {
        if (keys[i].omit != NULL && keys[i].omit(cfg))
            continue;
        out_printf(&o, "%s=", keys[i].name);
        keys[i].put(&o, cfg);
        out_printf(&o, "\n");
    }
    /* A comment (parsing skips it): the kernel build modelled, for describe. */
    out_printf(&o, "# reference: %s\n", mm_config_reference(cfg));
    return o.len;
}

char *mm_config_text(const struct mm_config *cfg)
{
    size_t n = mm_config_format(cfg, NULL, 0);
    char *t = malloc(n + 1);

    if (t != NULL)
        mm_config_format(cfg, t, n + 1);
    return t;
}

/* Strips spaces and tabs from both ends of [s, e) in place. */
static void trim(char **s, char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
}

/* Applies one "key=value" line to @cfg. */
static enum mm_status parse_line(struct mm_config *cfg, char *s, char *e, unsigned lineno,
                                 char err[MM_MSG_MAX])
{
    char *eq;
    char msg[MM_MSG_MAX];

    trim(&s, &e);
    *e = '\0';
    if (s == e || *s == '#')
        return MM_OK;
    eq = strchr(s, '=');
    if (eq == NULL)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "config: line %u: '%.64s' is not "
                        "key=value",
                        lineno, s);
    *eq = '\0';
    {
        char *ke = eq, *vs = eq + 1;

        trim(&s, &ke);
        *ke = '\0';
        trim(&vs, &e);
        *e = '\0';
        if (mm_config_set(cfg, s, vs, msg) != MM_OK)
            return mm__fail(err, MM_INVALID_ARGUMENT, "config: line %u: %s", lineno,
                            strncmp(msg, "config: ", 8) == 0 ? msg + 8 : msg);
    }
    return MM_OK;
}

enum mm_status mm_config_parse(struct mm_config *cfg, const char *text,
                               char err[MM_MSG_MAX])
{
    struct mm_config tmp;
    size_t len;
    char *copy, *line;
    unsigned lineno = 0;
    enum mm_status st = MM_OK;

    assert(cfg != NULL && text != NULL && err != NULL);
    mm_config_default(&tmp);
    tmp.version = 1; /* no version line: written before it existed */
    len = strlen(text);
    copy = malloc(len + 1);
    if (copy == NULL)
        return mm__fail(err, MM_NO_MEMORY, "config: out of host memory");
    memcpy(copy, text, len + 1);
    for (line = copy; st == MM_OK && *line != '\0';) {
        char *nl = strchr(line, '\n');
        char *end = nl != NULL ? nl : line + strlen(line);

        lineno++;
        st = parse_line(&tmp, line, end, lineno, err);
        line = nl != NULL ? nl + 1 : end;
    }
    free(copy);
    if (st != MM_OK)
        return st;
    *cfg = tmp;
    err[0] = '\0';
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* The kernel command line                                             */
/* ------------------------------------------------------------------ */

#define ULONG_MAX32 0xffffffffull

/*
 * mem=SIZE[@START].  KERNEL: 4.19, 6.1 arch/arm/kernel/setup.c early_mem():
 * the first mem= removes every memblock.memory region; START defaults to
 * PHYS_OFFSET (the first bank here); arm_add_memory() rounds START up to a
 * page, cuts a bank crossing ULONG_MAX at ULONG_MAX (losing the last page),
 * ignores one starting past it, trims what lies below PHYS_OFFSET and
 * rounds the size down to a page.
 */
static enum mm_status cmdline_mem(struct mm_config *eff, const char *arg, bool *usermem,
                                  mm_paddr_t phys_offset, char err[MM_MSG_MAX])
{
    const char *p = arg;
    uint64_t size, start = phys_offset, astart;

    if (eff->kernel < MM_KVER(4, 19, 0))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cmdline: mem= is modelled from 4.19 "
                        "(the first early_mem() read), not %u.%u.%u",
                        KVER_ARGS(eff->kernel));
    if (!parse_num(&p, &size) || (*p == '@' && (p++, !parse_num(&p, &start))) ||
        (*p != '\0' && *p != ' '))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cmdline: bad mem=%.40s (want "
                        "SIZE[@START], e.g. mem=700M)",
                        arg);
    if (!*usermem) {
        *usermem = true;
        eff->nr_banks = 0;
    }
    astart = (start + MM_PAGE_SIZE - 1) & ~(uint64_t)(MM_PAGE_SIZE - 1);
    size = astart > start + size ? 0 : size - (astart - start);
    if (astart > ULONG_MAX32)
        return MM_OK; /* "Ignoring memory at ..." */
    if (astart + size > ULONG_MAX32)
        size = ULONG_MAX32 - astart; /* "Truncating memory at ..." */
    if (astart < phys_offset) {
        if (astart + size <= phys_offset)
            return MM_OK; /* "Ignoring memory below PHYS_OFFSET" */
        size -= phys_offset - astart;
        astart = phys_offset;
    }
    size &= ~(uint64_t)(MM_PAGE_SIZE - 1);
    if (size == 0)
        return MM_OK;
    if (eff->nr_banks == MM_MAX_BANKS)
        return mm__fail(err, MM_INVALID_ARGUMENT, "cmdline: more than %u mem= banks",
                        MM_MAX_BANKS);
    eff->banks[eff->nr_banks++] = (struct mm_bank){ (mm_paddr_t)astart, size };
    return MM_OK;
}

/* vmalloc=SIZE.  KERNEL: 6.1 arch/arm/mm/mmu.c early_vmalloc(): memparse();
 * the clamps are era.c's. */
static enum mm_status cmdline_vmalloc(struct mm_config *eff, const char *arg,
                                      char err[MM_MSG_MAX])
{
    const char *p = arg;
    uint64_t size;

    if (!parse_num(&p, &size) || (*p != '\0' && *p != ' ') || size > 0xffffffffu ||
        size == 0 || size % MM_PAGE_SIZE != 0)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cmdline: bad vmalloc=%.40s (want a "
                        "size in pages, e.g. vmalloc=480M)",
                        arg);
    eff->vmalloc_size = (uint32_t)size;
    return MM_OK;
}

/* cma=SIZE.  KERNEL: 6.1 kernel/dma/contiguous.c early_cma(): SIZE[@BASE
 * [-LIMIT]]; only SIZE is modelled, and only on a CONFIG_CMA build. */
static enum mm_status cmdline_cma_word(const struct mm_config *eff, const char *arg,
                                       char err[MM_MSG_MAX])
{
    const char *p = arg;
    uint64_t size;

    if (!config_cma(eff))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cmdline: cma= needs CONFIG_CMA, which "
                        "this build has not (only the Debian armmp reference has it)");
    if (!parse_num(&p, &size) || (*p != '\0' && *p != ' ') || size > 0xffffffffu)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cmdline: bad cma=%.40s (want SIZE, "
                        "e.g. cma=32M; @BASE is not modelled)",
                        arg);
    return MM_OK;
}

/* initrd=START,SIZE: modelled on the config-version-3 reference build
 * (reserved at boot, freed after it; machine.c), refused elsewhere. */
static enum mm_status cmdline_initrd_word(const struct mm_config *eff, const char *w,
                                          size_t n, const char *arg, char err[MM_MSG_MAX])
{
    uint64_t start, size;

    if (!mm__config_late_boot(eff))
        return mm__fail(err, MM_INVALID_ARGUMENT, "cmdline: %.*s is not modelled",
                        (int)(n < 40 ? n : 40), w);
    if (!parse_initrd(arg, &start, &size) || start > 0xffffffffu || size > 0xffffffffu ||
        start + size > 0x100000000ull)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cmdline: bad %.*s (want START,SIZE below 4 GiB, e.g. "
                        "initrd=0x48000000,960K)",
                        (int)(n < 40 ? n : 40), w);
    return MM_OK;
}

/* Words that change memory in ways not modelled: refused, never ignored. */
/* dhash_entries=N, ihash_entries=N (config version 6 on).  KERNEL: 6.1
 * fs/dcache.c set_dhash_entries(), fs/inode.c set_ihash_entries():
 * simple_strtoul(str, &str, 0); 0 keeps the computed size.  The engine
 * takes the whole word as a number or refuses it, and refuses 1: a table
 * of one bucket (shift 0) is not modelled. */
static enum mm_status cmdline_hash_word(const char *w, size_t n, const char *arg,
                                        char err[MM_MSG_MAX])
{
    size_t key = (size_t)(arg - w);
    uint64_t v;

    if (!parse_hash_entries(arg, n - key, &v))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cmdline: bad %.*s (want a number of buckets up to 2^31, "
                        "e.g. %.*s65536)",
                        (int)(n < 40 ? n : 40), w, (int)key, w);
    if (v == 1)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cmdline: %.*s: a one-bucket table is not modelled (want 0, the "
                        "computed size, or 2 or more)",
                        (int)(n < 40 ? n : 40), w);
    return MM_OK;
}

static bool refused_word(const char *w, size_t n)
{
    static const char *const refused[] = { "crashkernel=" };

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        size_t k = strlen(refused[i]);

        if (n >= k && strncmp(w, refused[i], k) == 0)
            return true;
    }
    return false;
}

/* True when @cfg's image fields are still mm_config_default()'s. */
static bool default_image(const struct mm_config *cfg)
{
    struct mm_config d;

    mm_config_default(&d);
    return cfg->text_offset == d.text_offset &&
           memcmp(&cfg->text, &d.text, sizeof(d.text)) == 0 &&
           memcmp(&cfg->init, &d.init, sizeof(d.init)) == 0 &&
           memcmp(&cfg->data, &d.data, sizeof(d.data)) == 0 &&
           memcmp(&cfg->bss, &d.bss, sizeof(d.bss)) == 0;
}

/*
 * The Debian armmp 6.1.0-57 vmlinuz image, where the config keeps the
 * default image.  Facts of the real kernel (tests/oracle/fixtures): iomem
 * "Kernel code" 40208000-411fffff and "Kernel data" 41400000-41607607
 * (6.1 setup.c: _text .. __init_begin - 1, _sdata .. _end - 1), and the
 * Memory: line's 11264K kernel code (_etext - _stext), 1700K rwdata,
 * 3736K rodata, 2048K init and 376K bss.  arch/arm/kernel/vmlinux.lds.S
 * (6.1) with STRICT_KERNEL_RWX and DEBUG_ALIGN_RODATA (config-6.1.0-57-
 * armmp) aligns _stext, _etext and __init_begin to 1 MiB: _stext is
 * 0xc0300000, _etext 0xc0e00000, rodata follows.  The split of the
 * 0x207608 bytes from _sdata to _end between .data and .bss is not
 * printed: .data takes 1700K + 1020 bytes and .bss the rest (376K + 524),
 * which gives every printed figure.  Debian's System.map is a stub, so no finer
 * symbol was read.
 */
static void reference_image(struct mm_config *eff)
{
    eff->text_offset = 0x208000u;
    eff->text = (struct mm_section){ 0, 0xc0e00000u - 0xc0208000u }; /* _text.._etext */
    eff->init = (struct mm_section){ 0xc1200000u, 2u << 20 };
    eff->data = (struct mm_section){ 0xc1400000u, (1700u << 10) + 1020u };
    eff->bss = (struct mm_section){ 0, 0x207608u - (1700u << 10) - 1020u };
}

void mm__config_image_extras(const struct mm_config *cfg, mm_vaddr_t *stext,
                             uint32_t *rodata)
{
    *stext = 0;
    *rodata = 0;
    if (debian_armmp(cfg) && default_image(cfg)) {
        *stext = 0xc0300000u;
        *rodata = 3736u << 10;
    }
}

/* config-6.1.0-57-armmp: CONFIG_STRICT_KERNEL_RWX=y; its section
 * permissions are set after boot, so from config version 3, and only for
 * the reference image (whose sections it aligns). */
bool mm__config_strict_rwx(const struct mm_config *cfg)
{
    return mm__config_late_boot(cfg) && default_image(cfg);
}

/* config-6.1.0-57-armmp: CONFIG_STRICT_MODULE_RWX=y (arch/Kconfig 6.1: the
 * default where ARM selects ARCH_OPTIONAL_KERNEL_RWX_DEFAULT, CPU_V7), and
 * rodata_enabled stays true (no "rodata=" on the command line).  A build
 * property: it needs no boot step, so every version of the reference build. */
bool mm__config_strict_module_rwx(const struct mm_config *cfg)
{
    return debian_armmp(cfg);
}

/* The first per-CPU chunk's static part, __per_cpu_end - __per_cpu_start
 * of the reference image: "percpu: Embedded 18 pages/cpu s45012 ..." in
 * every boot of tests/oracle/fixtures.  0 (not modelled) elsewhere. */
uint32_t mm__config_percpu_static(const struct mm_config *cfg)
{
    return mm__config_late_boot(cfg) && default_image(cfg) ? 45012u : 0;
}

enum mm_status mm__config_effective(const struct mm_config *cfg, struct mm_config *eff,
                                    char err[MM_MSG_MAX])
{
    const char *w = cfg->cmdline, *arg;
    bool usermem = false;
    mm_paddr_t phys_offset = cfg->nr_banks > 0 ? cfg->banks[0].start : 0;
    enum mm_status st = MM_OK;

    *eff = *cfg;
    if (debian_armmp(cfg) && default_image(cfg))
        reference_image(eff);
    for (unsigned i = 1; i < cfg->nr_banks && i < MM_MAX_BANKS; i++) {
        if (cfg->banks[i].start < phys_offset)
            phys_offset = cfg->banks[i].start;
    }
    while (st == MM_OK && *w != '\0') {
        size_t n = strcspn(w, " ");

        if (n > 4 && strncmp(w, "mem=", 4) == 0)
            st = cmdline_mem(eff, w + 4, &usermem, phys_offset, err);
        else if (n > 8 && strncmp(w, "vmalloc=", 8) == 0)
            st = cmdline_vmalloc(eff, w + 8, err);
        else if (n > 4 && strncmp(w, "cma=", 4) == 0)
            st = cmdline_cma_word(eff, w + 4, err);
        else if (initrd_word(w, n, &arg))
            st = cmdline_initrd_word(eff, w, n, arg, err);
        else if (hash_word(w, n, &arg) && config_hash_words(cfg))
            st = cmdline_hash_word(w, n, arg, err);
        else if (refused_word(w, n))
            st = mm__fail(err, MM_INVALID_ARGUMENT, "cmdline: %.*s is not modelled",
                          (int)(n < 40 ? n : 40), w);
        w += n;
        while (*w == ' ')
            w++;
    }
    if (st == MM_OK && usermem && eff->nr_banks == 0)
        st = mm__fail(err, MM_INVALID_ARGUMENT, "cmdline: mem= leaves no RAM");
    return st;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

static enum mm_status check_banks(const struct mm_config *cfg, const struct mm_era *era,
                                  char err[MM_MSG_MAX])
{
    if (cfg->nr_banks == 0 || cfg->nr_banks > MM_MAX_BANKS)
        return mm__fail(err, MM_INVALID_ARGUMENT, "ram: %u banks (1 to %u)",
                        cfg->nr_banks, MM_MAX_BANKS);
    /* KERNEL: 3.4 setup.c arm_add_memory(): "NR_BANKS too low" */
    if (era->meminfo_split && cfg->nr_banks > 8)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "ram: %u banks, but %u.%u.%u takes "
                        "at most 8 (NR_BANKS)",
                        cfg->nr_banks, KVER_ARGS(cfg->kernel));
    for (unsigned i = 0; i < cfg->nr_banks; i++) {
        const struct mm_bank *b = &cfg->banks[i];

        if (b->size == 0)
            return mm__fail(err, MM_INVALID_ARGUMENT, "ram: bank %u at 0x%08x is empty",
                            i + 1, b->start);
        if (b->start % MM_PAGE_SIZE != 0 || b->size % MM_PAGE_SIZE != 0)
            return mm__fail(err, MM_INVALID_ARGUMENT,
                            "ram: bank %u 0x%08x+0x%llx is not "
                            "page aligned",
                            i + 1, b->start, (unsigned long long)b->size);
        /* 5.11+: drivers/of/fdt.c early_init_dt_add_memory_arch() ignores
         * what lies past MAX_MEMBLOCK_ADDR with a message (era.c) */
        if (b->start + b->size > 0x100000000ull && !mm__era_ignores_high_ram(era))
            return mm__fail(err, MM_INVALID_ARGUMENT,
                            "ram: bank %u 0x%08x+0x%llx ends "
                            "past 4 GiB",
                            i + 1, b->start, (unsigned long long)b->size);
        for (unsigned j = 0; j < i; j++) {
            const struct mm_bank *o = &cfg->banks[j];

            if (b->start < o->start + o->size && o->start < b->start + b->size)
                return mm__fail(err, MM_INVALID_ARGUMENT,
                                "ram: bank %u overlaps bank %u "
                                "(0x%08x-0x%08llx)",
                                i + 1, j + 1, o->start,
                                (unsigned long long)(o->start + o->size - 1));
        }
    }
    return MM_OK;
}

/* Split, vmalloc window and coherent-DMA fields against the era. */
static enum mm_status check_vm(const struct mm_config *cfg, const struct mm_era *era,
                               char err[MM_MSG_MAX])
{
    if ((unsigned)cfg->split > MM_SPLIT_3G_OPT)
        return mm__fail(err, MM_INVALID_ARGUMENT, "split: bad value %u", cfg->split);
    /* KERNEL: ARM 8433/1 "add a VMSPLIT_3G_OPT config option" (v4.4-rc1) */
    if (cfg->split == MM_SPLIT_3G_OPT && cfg->kernel < MM_KVER(4, 4, 0))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "split: 3G_OPT (PAGE_OFFSET 0xb0000000) "
                        "needs kernel 4.4 or later, not %u.%u.%u",
                        KVER_ARGS(cfg->kernel));
    if (cfg->vmalloc_size % MM_PAGE_SIZE != 0)
        return mm__fail(err, MM_INVALID_ARGUMENT, "vmalloc: 0x%x is not a multiple of 4K",
                        cfg->vmalloc_size);
    if (era->vmalloc_end != 0 && cfg->vmalloc_end != 0)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "vmalloc_end: 0x%08x given, but "
                        "%u.%u.%u fixes VMALLOC_END at 0x%08x",
                        cfg->vmalloc_end, KVER_ARGS(cfg->kernel), era->vmalloc_end);
    if (cfg->vmalloc_end % MM_PAGE_SIZE != 0)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "vmalloc_end: 0x%08x is not page aligned", cfg->vmalloc_end);
    /* KERNEL: 3.5 "ARM: dma-mapping: remove custom consistent dma region" */
    if (cfg->consistent_dma_size != 0 && cfg->kernel >= MM_KVER(3, 5, 0))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "consistent_dma: 0x%x given, but the "
                        "consistent DMA window is gone from 3.5 on (kernel %u.%u.%u)",
                        cfg->consistent_dma_size, KVER_ARGS(cfg->kernel));
    if (cfg->dma_zone_size % MM_PAGE_SIZE != 0)
        return mm__fail(err, MM_INVALID_ARGUMENT, "dma_zone: 0x%x is not page aligned",
                        cfg->dma_zone_size);
    return MM_OK;
}

/* CPUs against the era's fixmap, kmap_atomic style, TEXT_OFFSET. */
static enum mm_status check_cpu(const struct mm_config *cfg, const struct mm_era *era,
                                char err[MM_MSG_MAX])
{
    unsigned need;

    if (cfg->cpus == 0 || cfg->cpus > MM_MAX_CPUS)
        return mm__fail(err, MM_INVALID_ARGUMENT, "cpus: %u (1 to %u)", cfg->cpus,
                        MM_MAX_CPUS);
    need = cfg->cpus * era->km_type_nr;
    if (era->fix_kmap_slots != 0 && need > era->fix_kmap_slots)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cpus: %u CPUs need %u kmap_atomic "
                        "slots, the %u.%u.%u fixmap has %u (at most %u CPUs)",
                        cfg->cpus, need, KVER_ARGS(cfg->kernel), era->fix_kmap_slots,
                        era->fix_kmap_slots / era->km_type_nr);
    if ((unsigned)cfg->atomic > MM_ATOMIC_LOCAL)
        return mm__fail(err, MM_INVALID_ARGUMENT, "atomic: bad value %u", cfg->atomic);
    if ((unsigned)cfg->smp > MM_OFF || (unsigned)cfg->errata_798181 > MM_OFF)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "smp: bad value %u or errata_798181: "
                        "bad value %u",
                        cfg->smp, cfg->errata_798181);
    /* KERNEL: arch/arm/Kconfig NR_CPUS "depends on SMP"; without it one CPU */
    if (cfg->smp == MM_OFF && cfg->cpus > 1)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "cpus: %u CPUs need an SMP kernel, but "
                        "smp=off (CONFIG_SMP not set runs one CPU)",
                        cfg->cpus);
    /* Read in 4.19 and 6.1 arch/arm/include/asm/highmem.h; older trees were
     * not read, so the switch is refused there rather than guessed. */
    if (cfg->errata_798181 == MM_ON && cfg->kernel < MM_KVER(4, 19, 0))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "errata_798181: on is modelled from "
                        "4.19 (the first tree read with it), not %u.%u.%u",
                        KVER_ARGS(cfg->kernel));
    if (cfg->errata_798181 == MM_ON && mm__config_smp(cfg) == false)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "errata_798181: on needs smp "
                        "(arch/arm/Kconfig ARM_ERRATA_798181 depends on SMP)");
    /* KERNEL: 3.4 head.S "KERNEL_RAM_VADDR must start at 0xXXXX8000" */
    if ((cfg->text_offset & 0xffffu) != 0x8000u || cfg->text_offset >= 0x01000000u)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "text_offset: 0x%x must be 0xXXX8000 "
                        "below 16 MiB (head.S: KERNEL_RAM_VADDR at 0xXXXX8000)",
                        cfg->text_offset);
    return MM_OK;
}

/* Section sizes and carve-out entries (their placement is era.c's). */
static enum mm_status check_image(const struct mm_config *cfg, char err[MM_MSG_MAX])
{
    const struct mm_section *s[4] = { &cfg->text, &cfg->init, &cfg->data, &cfg->bss };
    const char *name[4] = { "text", "init", "data", "bss" };

    for (unsigned i = 0; i < 4; i++) {
        if (s[i]->size == 0)
            return mm__fail(err, MM_INVALID_ARGUMENT, "%s: size 0", name[i]);
    }
    if (cfg->nr_reserves > MM_MAX_RESERVES)
        return mm__fail(err, MM_INVALID_ARGUMENT, "reserve: %u entries (at most %u)",
                        cfg->nr_reserves, MM_MAX_RESERVES);
    for (unsigned i = 0; i < cfg->nr_reserves; i++) {
        const struct mm_reserve *r = &cfg->reserves[i];

        if (r->name[0] == '\0' || memchr(r->name, '\0', MM_NAME_MAX) == NULL)
            return mm__fail(err, MM_INVALID_ARGUMENT, "reserve: entry %u has no name",
                            i + 1);
        if (r->size == 0)
            return mm__fail(err, MM_INVALID_ARGUMENT, "reserve: %s at 0x%08x is empty",
                            r->name, r->start);
        if ((uint64_t)r->start + r->size > 0x100000000ull)
            return mm__fail(err, MM_INVALID_ARGUMENT,
                            "reserve: %s 0x%08x+0x%x ends past "
                            "4 GiB",
                            r->name, r->start, r->size);
    }
    return MM_OK;
}

enum mm_status mm_config_validate(const struct mm_config *cfg, char err[MM_MSG_MAX])
{
    const struct mm_era *era;
    struct mm_layout lay;
    enum mm_status st;

    struct mm_config eff;

    assert(cfg != NULL && err != NULL);
    err[0] = '\0';
    st = mm__config_effective(cfg, &eff, err);
    if (st != MM_OK)
        return st;
    cfg = &eff;
    era = mm__era_for(cfg->kernel);
    if (era == NULL)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "kernel: %u.%u.%u is not supported "
                        "(2.6.35 to 6.1.x)",
                        KVER_ARGS(cfg->kernel));
    st = check_banks(cfg, era, err);
    if (st == MM_OK)
        st = check_vm(cfg, era, err);
    if (st == MM_OK)
        st = check_cpu(cfg, era, err);
    if (st == MM_OK)
        st = check_image(cfg, err);
    if (st == MM_OK)
        st = mm__layout_compute(cfg, &lay, err);
    return st;
}
