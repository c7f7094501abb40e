/* tests/engine/test_config.c - config keys, presets, validation, text form. */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field-by-field equality (padding and bytes past a name's NUL ignored). */
static void assert_cfg_eq(const struct mm_config *a, const struct mm_config *b)
{
    ck_assert_str_eq(a->preset, b->preset);
    ck_assert_uint_eq(a->nr_banks, b->nr_banks);
    for (unsigned i = 0; i < a->nr_banks; i++) {
        ck_assert_uint_eq(a->banks[i].start, b->banks[i].start);
        ck_assert_uint_eq(a->banks[i].size, b->banks[i].size);
    }
    ck_assert_int_eq(a->split, b->split);
    ck_assert_uint_eq(a->kernel, b->kernel);
    ck_assert_uint_eq(a->vmalloc_size, b->vmalloc_size);
    ck_assert_uint_eq(a->vmalloc_end, b->vmalloc_end);
    ck_assert_uint_eq(a->consistent_dma_size, b->consistent_dma_size);
    ck_assert_uint_eq(a->dma_zone_size, b->dma_zone_size);
    ck_assert_int_eq(a->highmem, b->highmem);
    ck_assert_int_eq(a->thumb2, b->thumb2);
    ck_assert_int_eq(a->user_timers, b->user_timers);
    ck_assert_uint_eq(a->cpus, b->cpus);
    ck_assert_int_eq(a->atomic, b->atomic);
    ck_assert_uint_eq(a->text_offset, b->text_offset);
    ck_assert_uint_eq(a->text.start, b->text.start);
    ck_assert_uint_eq(a->text.size, b->text.size);
    ck_assert_uint_eq(a->init.start, b->init.start);
    ck_assert_uint_eq(a->init.size, b->init.size);
    ck_assert_uint_eq(a->data.start, b->data.start);
    ck_assert_uint_eq(a->data.size, b->data.size);
    ck_assert_uint_eq(a->bss.start, b->bss.start);
    ck_assert_uint_eq(a->bss.size, b->bss.size);
    ck_assert_uint_eq(a->nr_reserves, b->nr_reserves);
    for (unsigned i = 0; i < a->nr_reserves; i++) {
        ck_assert_str_eq(a->reserves[i].name, b->reserves[i].name);
        ck_assert_uint_eq(a->reserves[i].start, b->reserves[i].start);
        ck_assert_uint_eq(a->reserves[i].size, b->reserves[i].size);
    }
}

/* The default config with "key=value" overrides applied; NULL ends. */
static void cfg_with(struct mm_config *cfg, const char *preset, ...)
{
    char err[MM_MSG_MAX];
    const char *kv;
    va_list ap;

    mm_config_default(cfg);
    if (preset != NULL)
        ck_assert_int_eq(mm_config_preset(cfg, preset, err), MM_OK);
    va_start(ap, preset);
    while ((kv = va_arg(ap, const char *)) != NULL) {
        char key[64];
        const char *eq = strchr(kv, '=');

        ck_assert_ptr_nonnull(eq);
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        ck_assert_msg(mm_config_set(cfg, key, eq + 1, err) == MM_OK, "%s", err);
    }
    va_end(ap);
}

/* Validates @cfg and expects the exact message @msg. */
static void expect_invalid(const struct mm_config *cfg, const char *msg)
{
    char err[MM_MSG_MAX] = "";

    ck_assert_int_eq(mm_config_validate(cfg, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, msg);
}

static void expect_valid(const struct mm_config *cfg)
{
    char err[MM_MSG_MAX] = "";

    ck_assert_msg(mm_config_validate(cfg, err) == MM_OK, "%s", err);
}

/* ---- defaults and presets ---- */

START_TEST(test_default_is_valid_34_1g_at_40000000)
{
    struct mm_config cfg;

    mm_config_default(&cfg);
    ck_assert_uint_eq(cfg.kernel, MM_KVER(3, 4, 0));
    ck_assert_uint_eq(cfg.nr_banks, 1);
    ck_assert_uint_eq(cfg.banks[0].start, 0x40000000u);
    ck_assert_uint_eq(cfg.banks[0].size, 0x40000000u);
    ck_assert_int_eq(cfg.split, MM_SPLIT_3G);
    ck_assert_uint_eq(cfg.text_offset, 0x8000u);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_presets_table)
{
    size_t n;
    const struct mm_preset_info *p = mm_presets(&n);

    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(p[0].name, "aries");
    ck_assert_str_eq(p[1].name, "qemu-virt");
    ck_assert_str_eq(p[2].name, "beaglebone-black");
    ck_assert_str_eq(p[3].name, "rpi2");
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_nonnull(p[i].summary);
}
END_TEST

START_TEST(test_each_preset_validates)
{
    size_t n;
    const struct mm_preset_info *p = mm_presets(&n);
    struct mm_config cfg;
    char err[MM_MSG_MAX];

    ck_assert_int_eq(mm_config_preset(&cfg, p[_i].name, err), MM_OK);
    ck_assert_str_eq(cfg.preset, p[_i].name);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_aries_preset_fields)
{
    struct mm_config cfg;

    cfg_with(&cfg, "aries", NULL);
    ck_assert_uint_eq(cfg.kernel, MM_KVER(3, 4, 0));
    ck_assert_uint_eq(cfg.cpus, 4);
    ck_assert_uint_eq(cfg.nr_banks, 7);
    ck_assert_uint_eq(cfg.banks[6].start, 0xa5900000u);
    ck_assert_uint_eq(cfg.banks[6].size, 0xff2ff000u - 0xa5900000u);
    ck_assert(cfg.user_timers);
    ck_assert(cfg.highmem);
    ck_assert_uint_eq(cfg.vmalloc_size, 0);
    ck_assert_uint_eq(cfg.bss.start, 0xc121aae4u);
    ck_assert_uint_eq(cfg.bss.start + cfg.bss.size, 0xc1a4e2e4u);
    ck_assert_str_eq(cfg.reserves[0].name, "rmtfs");
    ck_assert_uint_eq(cfg.reserves[0].start + cfg.reserves[0].size, 0x8ff40000u);
}
END_TEST

START_TEST(test_unknown_preset_not_found)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX];

    ck_assert_int_eq(mm_config_preset(&cfg, "nexus7", err), MM_NOT_FOUND);
    ck_assert_str_eq(err, "preset: unknown preset 'nexus7' (aries, qemu-virt, "
                     "beaglebone-black, rpi2)");
}
END_TEST

/* ---- mm_config_set ---- */

START_TEST(test_set_unknown_key)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX];

    mm_config_default(&cfg);
    ck_assert_int_eq(mm_config_set(&cfg, "foo", "1", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: unknown key 'foo'");
}
END_TEST

START_TEST(test_set_ram_with_suffixes)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x80200000+0x8c00000,0x89000000+74M", NULL);
    ck_assert_uint_eq(cfg.nr_banks, 2);
    ck_assert_uint_eq(cfg.banks[0].start, 0x80200000u);
    ck_assert_uint_eq(cfg.banks[0].size, 0x8c00000u);
    ck_assert_uint_eq(cfg.banks[1].start, 0x89000000u);
    ck_assert_uint_eq(cfg.banks[1].size, 74u << 20);
}
END_TEST

START_TEST(test_set_ram_4g_bank_and_k_g_suffixes)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0+4G", NULL);
    ck_assert_uint_eq(cfg.banks[0].size, 0x100000000ull);
    cfg_with(&cfg, NULL, "ram=0x40000000+512k", NULL);
    ck_assert_uint_eq(cfg.banks[0].size, 512u << 10);
}
END_TEST

START_TEST(test_set_bad_ram_names_key_and_value)
{
    struct mm_config cfg, before;
    char err[MM_MSG_MAX];

    mm_config_default(&cfg);
    before = cfg;
    ck_assert_int_eq(mm_config_set(&cfg, "ram", "0x80000000", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: ram: bad value '0x80000000' "
                     "(want START+SIZE[,START+SIZE...])");
    assert_cfg_eq(&cfg, &before);
}
END_TEST

START_TEST(test_set_ram_17_banks_refused)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX], v[512] = "";

    mm_config_default(&cfg);
    for (unsigned i = 0; i < 17; i++)
        snprintf(v + strlen(v), sizeof(v) - strlen(v), "%s0x%x+1M", i ? "," : "",
                 0x40000000u + i * 0x100000u);
    ck_assert_int_eq(mm_config_set(&cfg, "ram", v, err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: ram: bad value '0x40000000+1M,0x40100000+1M,"
                     "0x40200000+1M,0x40300000+1M,0x40400000+1M,0x40500000...' "
                     "(at most 16 banks)");
}
END_TEST

START_TEST(test_set_kernel_forms)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX];

    cfg_with(&cfg, NULL, "kernel=3.4", NULL);
    ck_assert_uint_eq(cfg.kernel, MM_KVER(3, 4, 0));
    cfg_with(&cfg, NULL, "kernel=3.4.39", NULL);
    ck_assert_uint_eq(cfg.kernel, MM_KVER(3, 4, 39));
    cfg_with(&cfg, NULL, "kernel=2.6.35", NULL);
    ck_assert_uint_eq(cfg.kernel, MM_KVER(2, 6, 35));
    cfg_with(&cfg, NULL, "kernel=2.6.35.7", NULL);
    ck_assert_uint_eq(cfg.kernel, MM_KVER(2, 6, 35));
    ck_assert_int_eq(mm_config_set(&cfg, "kernel", "2.6", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: kernel: bad value '2.6' "
                     "(want a version like 3.4, 3.4.39, 2.6.35)");
}
END_TEST

START_TEST(test_set_split_values)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX];

    cfg_with(&cfg, NULL, "split=3G_OPT", NULL);
    ck_assert_int_eq(cfg.split, MM_SPLIT_3G_OPT);
    cfg_with(&cfg, NULL, "split=1G", NULL);
    ck_assert_int_eq(cfg.split, MM_SPLIT_1G);
    ck_assert_int_eq(mm_config_set(&cfg, "split", "4G", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: split: bad value '4G' (want 3G, 2G, 1G or 3G_OPT)");
}
END_TEST

START_TEST(test_set_switches_and_atomic)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX];

    cfg_with(&cfg, NULL, "highmem=off", "thumb2=on", "user_timers=on", "atomic=local",
             "cpus=8", NULL);
    ck_assert(!cfg.highmem);
    ck_assert(cfg.thumb2);
    ck_assert(cfg.user_timers);
    ck_assert_int_eq(cfg.atomic, MM_ATOMIC_LOCAL);
    ck_assert_uint_eq(cfg.cpus, 8);
    ck_assert_int_eq(mm_config_set(&cfg, "highmem", "maybe", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: highmem: bad value 'maybe' (want on or off)");
}
END_TEST

START_TEST(test_set_sections_size_or_range)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "text=0xc0008000+0xdfff80", "init=1144K", NULL);
    ck_assert_uint_eq(cfg.text.start, 0xc0008000u);
    ck_assert_uint_eq(cfg.text.size, 0xdfff80u);
    ck_assert_uint_eq(cfg.init.start, 0);
    ck_assert_uint_eq(cfg.init.size, 1144u << 10);
}
END_TEST

START_TEST(test_set_reserve_list_and_empty)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "reserve=rmtfs@0x8ff00000+256K,modem@0x88000000+0x1000", NULL);
    ck_assert_uint_eq(cfg.nr_reserves, 2);
    ck_assert_str_eq(cfg.reserves[1].name, "modem");
    ck_assert_uint_eq(cfg.reserves[1].start, 0x88000000u);
    ck_assert_uint_eq(cfg.reserves[0].size, 0x40000u);
    cfg_with(&cfg, "aries", "reserve=", NULL);
    ck_assert_uint_eq(cfg.nr_reserves, 0);
}
END_TEST

START_TEST(test_set_preset_key_loads_preset)
{
    struct mm_config cfg, aries;
    char err[MM_MSG_MAX];

    cfg_with(&cfg, NULL, "preset=aries", NULL);
    ck_assert_int_eq(mm_config_preset(&aries, "aries", err), MM_OK);
    assert_cfg_eq(&cfg, &aries);
    ck_assert_int_eq(mm_config_set(&cfg, "preset", "nope", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: preset: bad value 'nope' (unknown preset)");
}
END_TEST

/* ---- validation: one message per bad value ---- */

START_TEST(test_validate_kernel_too_old)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "kernel=2.6.34", NULL);
    expect_invalid(&cfg, "kernel: 2.6.34 is not supported (2.6.35 to 6.1.x)");
}
END_TEST

START_TEST(test_validate_kernel_too_new)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "kernel=6.2", NULL);
    expect_invalid(&cfg, "kernel: 6.2.0 is not supported (2.6.35 to 6.1.x)");
}
END_TEST

START_TEST(test_validate_kernel_range_ends)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "kernel=2.6.35", "vmalloc_end=0xfe800000", NULL);
    expect_valid(&cfg);
    cfg_with(&cfg, NULL, "kernel=6.1.255", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_no_banks)
{
    struct mm_config cfg;

    mm_config_default(&cfg);
    cfg.nr_banks = 0;
    expect_invalid(&cfg, "ram: 0 banks (1 to 16)");
}
END_TEST

START_TEST(test_validate_empty_bank)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x40000000+0", NULL);
    expect_invalid(&cfg, "ram: bank 1 at 0x40000000 is empty");
}
END_TEST

START_TEST(test_validate_bank_not_page_aligned)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x40000000+1G,0x80000800+1M", NULL);
    expect_invalid(&cfg, "ram: bank 2 0x80000800+0x100000 is not page aligned");
}
END_TEST

START_TEST(test_validate_bank_past_4g)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x40000000+1G,0xf0000000+512M", NULL);
    expect_invalid(&cfg, "ram: bank 2 0xf0000000+0x20000000 ends past 4 GiB");
}
END_TEST

START_TEST(test_validate_bank_overlap)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x89000000+74M,0x8d000000+16M", NULL);
    expect_invalid(&cfg, "ram: bank 2 overlaps bank 1 (0x89000000-0x8d9fffff)");
}
END_TEST

START_TEST(test_validate_adjacent_banks_ok)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x80000000+256M,0x90000000+256M", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_nr_banks_3x)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x80000000+16M,0x81200000+1M,0x81400000+1M,0x81600000+1M,"
             "0x81800000+1M,0x81a00000+1M,0x81c00000+1M,0x81e00000+1M,0x82000000+1M", NULL);
    expect_invalid(&cfg, "ram: 9 banks, but 3.4.0 takes at most 8 (NR_BANKS)");
    cfg_with(&cfg, NULL, "ram=0x80000000+16M,0x81200000+1M,0x81400000+1M,0x81600000+1M,"
             "0x81800000+1M,0x81a00000+1M,0x81c00000+1M,0x81e00000+1M,0x82000000+1M",
             "kernel=3.18", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_3g_opt_before_44)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "split=3G_OPT", "kernel=4.3", NULL);
    expect_invalid(&cfg, "split: 3G_OPT (PAGE_OFFSET 0xb0000000) needs kernel 4.4 or "
                   "later, not 4.3.0");
    cfg_with(&cfg, NULL, "split=3G_OPT", "kernel=4.4", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_vmalloc_not_page_multiple)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "vmalloc=0x1000800", NULL);
    expect_invalid(&cfg, "vmalloc: 0x1000800 is not a multiple of 4K");
}
END_TEST

START_TEST(test_validate_vmalloc_end_fixed_from_34)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "vmalloc_end=0xfe800000", NULL);
    expect_invalid(&cfg, "vmalloc_end: 0xfe800000 given, but 3.4.0 fixes VMALLOC_END "
                   "at 0xff000000");
}
END_TEST

START_TEST(test_validate_vmalloc_end_required_before_34)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "kernel=3.3", NULL);
    expect_invalid(&cfg, "vmalloc_end: required before 3.4 (VMALLOC_END was set per "
                   "platform in <mach/vmalloc.h>)");
}
END_TEST

START_TEST(test_validate_vmalloc_end_too_low)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "kernel=2.6.35", "vmalloc_end=0xc2000000", NULL);
    expect_invalid(&cfg, "vmalloc_end: 0xc2000000 leaves no vmalloc area above "
                   "PAGE_OFFSET 0xc0000000 (needs at least 0xc3000000)");
}
END_TEST

START_TEST(test_validate_vmalloc_end_above_consistent_base)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "kernel=2.6.35", "vmalloc_end=0xffd00000", NULL);
    expect_invalid(&cfg, "vmalloc_end: 0xffd00000 is above CONSISTENT_BASE 0xffc00000");
}
END_TEST

START_TEST(test_validate_vmalloc_end_unaligned)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "kernel=2.6.35", "vmalloc_end=0xfe800800", NULL);
    expect_invalid(&cfg, "vmalloc_end: 0xfe800800 is not page aligned");
}
END_TEST

START_TEST(test_validate_consistent_gone_from_35)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "kernel=3.5", "consistent_dma=2M", NULL);
    expect_invalid(&cfg, "consistent_dma: 0x200000 given, but the consistent DMA "
                   "window is gone from 3.5 on (kernel 3.5.0)");
}
END_TEST

START_TEST(test_validate_consistent_overlaps_vmalloc)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "consistent_dma=16M", NULL);
    expect_invalid(&cfg, "consistent_dma: window 0xfee00000-0xffe00000 overlaps "
                   "vmalloc (VMALLOC_END 0xff000000)");
    cfg_with(&cfg, NULL, "consistent_dma=14M", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_dma_zone_unaligned)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "dma_zone=0x100100", NULL);
    expect_invalid(&cfg, "dma_zone: 0x100100 is not page aligned");
}
END_TEST

START_TEST(test_validate_cpus_zero_and_33)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "cpus=0", NULL);
    expect_invalid(&cfg, "cpus: 0 (1 to 32)");
    cfg_with(&cfg, NULL, "cpus=33", "kernel=4.19", NULL);
    expect_invalid(&cfg, "cpus: 33 (1 to 32)");
}
END_TEST

START_TEST(test_validate_cpus_beyond_34_fixmap)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "cpus=15", NULL);
    expect_invalid(&cfg, "cpus: 15 CPUs need 240 kmap_atomic slots, the 3.4.0 fixmap "
                   "has 224 (at most 14 CPUs)");
    cfg_with(&cfg, NULL, "cpus=14", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_cpus_32_from_316)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "cpus=32", "kernel=3.15", NULL);
    expect_invalid(&cfg, "cpus: 32 CPUs need 512 kmap_atomic slots, the 3.15.0 fixmap "
                   "has 224 (at most 14 CPUs)");
    cfg_with(&cfg, NULL, "cpus=32", "kernel=3.16", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_text_offset)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "text_offset=0x10000", NULL);
    expect_invalid(&cfg, "text_offset: 0x10000 must be 0xXXX8000 below 16 MiB "
                   "(head.S: KERNEL_RAM_VADDR at 0xXXXX8000)");
    cfg_with(&cfg, NULL, "text_offset=0x208000", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_section_size_zero)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "bss=0", NULL);
    expect_invalid(&cfg, "bss: size 0");
}
END_TEST

START_TEST(test_validate_text_not_at_text_offset)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "text=0xc0010000+8M", NULL);
    expect_invalid(&cfg, "text: starts at 0xc0010000, but _text is PAGE_OFFSET + "
                   "text_offset = 0xc0008000");
}
END_TEST

/* aries' image is its 3.4 kernel's (.text at _text, .init after it);
 * 2.6.35 links .init first, so the combination is refused by name. */
START_TEST(test_validate_aries_image_under_2635)
{
    struct mm_config cfg;

    cfg_with(&cfg, "aries", "kernel=2.6.35", "vmalloc_end=0xf0000000", NULL);
    expect_invalid(&cfg, "init: Linux 2.6.35 puts .init first, at _text = 0xc0008000, but "
                   "preset aries's image puts .text first: give text= and init= for this "
                   "kernel, or use preset qemu-virt");
    cfg_with(&cfg, "qemu-virt", "kernel=2.6.35", "vmalloc_end=0xf0000000", NULL);
    ck_assert_int_eq(mm_config_validate(&cfg, (char[MM_MSG_MAX]){0}), MM_OK);
}
END_TEST

START_TEST(test_validate_init_inside_text)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "init=0xc0400000+1M", NULL);
    expect_invalid(&cfg, "init: starts at 0xc0400000, inside .text (ends 0xc0808000)");
}
END_TEST

START_TEST(test_validate_image_outside_lowmem)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x40000000+8M", NULL);
    expect_invalid(&cfg, "text: kernel image 0xc0008000-0xc0b07fff (PA 0x40008000-"
                   "0x40b07fff) is not in lowmem RAM");
}
END_TEST

START_TEST(test_validate_reserve_outside_ram)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "reserve=foo@0x10000000+4K", NULL);
    expect_invalid(&cfg, "reserve: foo 0x10000000-0x10000fff is not in RAM");
}
END_TEST

START_TEST(test_validate_reserve_across_adjacent_banks_ok)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "ram=0x40000000+512M,0x60000000+512M",
             "reserve=x@0x5ff00000+2M", NULL);
    expect_valid(&cfg);
}
END_TEST

START_TEST(test_validate_reserve_empty_and_nameless)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "reserve=foo@0x40000000+0", NULL);
    expect_invalid(&cfg, "reserve: foo at 0x40000000 is empty");
    mm_config_default(&cfg);
    cfg.nr_reserves = 1;
    cfg.reserves[0].start = 0x40000000u;
    cfg.reserves[0].size = 4096;
    expect_invalid(&cfg, "reserve: entry 1 has no name");
}
END_TEST

START_TEST(test_create_returns_validation_error)
{
    struct mm_config cfg;
    struct mm_machine *m = (struct mm_machine *)&cfg;
    char err[MM_MSG_MAX];

    cfg_with(&cfg, NULL, "cpus=15", NULL);
    ck_assert_int_eq(mm_create(&cfg, &m, err), MM_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(err, "cpus: 15 CPUs need 240 kmap_atomic slots, the 3.4.0 fixmap "
                     "has 224 (at most 14 CPUs)");
}
END_TEST

/* ---- text form ---- */

START_TEST(test_format_default_exact)
{
    struct mm_config cfg;
    char buf[2048];

    mm_config_default(&cfg);
    mm_config_format(&cfg, buf, sizeof(buf));
    ck_assert_str_eq(buf,
        "preset=\n"
        "ram=0x40000000+1G\n"
        "split=3G\n"
        "kernel=3.4.0\n"
        "vmalloc=0x0\n"
        "vmalloc_end=0x00000000\n"
        "consistent_dma=0x0\n"
        "dma_zone=0x0\n"
        "highmem=on\n"
        "thumb2=off\n"
        "user_timers=off\n"
        "cpus=1\n"
        "atomic=default\n"
        "text_offset=0x8000\n"
        "text=8M\n"
        "init=1M\n"
        "data=1M\n"
        "bss=1M\n"
        "reserve=\n"
        "smp=auto\n"
        "errata_798181=auto\n"
        "cmdline=\n"
        "version=8\n"
        "# reference: no reference build: the era's upstream code with this config's "
        "switches\n");
}
END_TEST

/* KERNEL: 6.1 Makefile filechk_version.h: SUBLEVEL > 255 gives 255. */
START_TEST(test_set_kernel_sublevel_clamped_at_255)
{
    struct mm_config cfg;
    char buf[2048];

    cfg_with(&cfg, NULL, "kernel=4.19.319", NULL);
    ck_assert_uint_eq(cfg.kernel, MM_KVER(4, 19, 255));
    cfg_with(&cfg, NULL, "kernel=6.1.192", NULL);
    ck_assert_uint_eq(cfg.kernel, MM_KVER(6, 1, 192));
    mm_config_format(&cfg, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "\nkernel=6.1.192\n"));
}
END_TEST

START_TEST(test_set_smp_and_errata_switches)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX];

    cfg_with(&cfg, NULL, "smp=on", "errata_798181=off", NULL);
    ck_assert_int_eq(cfg.smp, MM_ON);
    ck_assert_int_eq(cfg.errata_798181, MM_OFF);
    cfg_with(&cfg, NULL, "smp=auto", NULL);
    ck_assert_int_eq(cfg.smp, MM_AUTO);
    ck_assert_int_eq(mm_config_set(&cfg, "smp", "maybe", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: smp: bad value 'maybe' (want on, off or auto)");
}
END_TEST

/* CONFIG_SMP is the build's: one CPU under Debian's armmp 6.1 is still SMP. */
START_TEST(test_smp_default_per_reference_build)
{
    struct mm_config cfg;

    cfg_with(&cfg, "qemu-virt", "kernel=6.1", NULL);
    ck_assert_uint_eq(cfg.cpus, 1);
    ck_assert(mm__config_smp(&cfg));
    ck_assert(mm__config_errata_798181(&cfg));
    ck_assert_str_eq(mm_config_reference(&cfg),
                     "Debian 12 linux-image-armmp (6.1.0-57-armmp, 6.1.192-3 armhf): "
                     "SMP, SMP_ON_UP, HIGHMEM, ZONE_DMA, MEMCG, CMA 16M, ARM_ERRATA_798181, PCI, no LPAE");
    cfg_with(&cfg, "qemu-virt", "kernel=6.1", "smp=off", NULL);
    ck_assert(!mm__config_smp(&cfg));
    cfg_with(&cfg, "qemu-virt", NULL);
    ck_assert(!mm__config_smp(&cfg));
    ck_assert(!mm__config_errata_798181(&cfg));
    cfg_with(&cfg, NULL, "cpus=2", NULL);
    ck_assert(mm__config_smp(&cfg));
}
END_TEST

/*
 * A config stored by a daemon from before the version key (this text is
 * what mm_config_format() wrote then, before smp, errata_798181 and
 * cmdline existed) replays to the layout it had: "auto" meant no reference
 * build, so one CPU is a UP kernel (ioremap 1M after vmalloc 1M at
 * 0xf0a00000), no ZONE_DMA, no CMA, kmap_high_get on.  The same text with
 * version=2 is the Debian armmp build (0xf0980000, ZONE_DMA, CMA 16M).
 */
static const char old_qemu_virt_61[] =
    "preset=qemu-virt\n"
    "ram=0x40000000+1G\n"
    "split=3G\n"
    "kernel=6.1.0\n"
    "vmalloc=0x0\n"
    "vmalloc_end=0x00000000\n"
    "consistent_dma=0x0\n"
    "dma_zone=0x0\n"
    "highmem=on\n"
    "thumb2=off\n"
    "user_timers=off\n"
    "cpus=1\n"
    "atomic=default\n"
    "text_offset=0x8000\n"
    "text=8M\n"
    "init=1M\n"
    "data=1M\n"
    "bss=1M\n"
    "reserve=\n";

static struct mm_machine *machine_from_text(const char *text)
{
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    char err[MM_MSG_MAX];

    mm_config_default(&cfg);
    ck_assert_msg(mm_config_parse(&cfg, text, err) == MM_OK, "%s", err);
    ck_assert_msg(mm_create(&cfg, &m, err) == MM_OK, "%s", err);
    return m;
}

static uint32_t op_value(struct mm_machine *m, enum mm_status st, const struct mm_result *r)
{
    (void)m;
    ck_assert_msg(st == MM_OK, "%s", r->msg);
    return r->value;
}

START_TEST(test_config_without_version_replays_old_layout)
{
    struct mm_machine *m = machine_from_text(old_qemu_virt_61);
    const struct mm_config *c = mm_machine_config(m);
    struct mm_result r;
    struct mm_stats st;
    char buf[2048];

    ck_assert_uint_eq(c->version, 1);
    ck_assert(!mm__config_smp(c));
    ck_assert(!mm__config_errata_798181(c));
    ck_assert(!mm__config_zone_dma(c));
    ck_assert_uint_eq(mm__config_cma_bytes(c), 0);
    ck_assert_uint_eq(mm__config_max_order(c), 11);
    ck_assert_str_eq(mm_config_reference(c),
                     "no reference build: the era's upstream code with this config's switches");
    ck_assert_uint_eq(op_value(m, mm_vmalloc(m, 1 << 20, &r), &r), 0xf0800000);
    ck_assert_uint_eq(op_value(m, mm_ioremap(m, 0x10000000, 1 << 20, &r), &r), 0xf0a00000);
    mm_get_stats(m, &st);
    ck_assert_str_eq(st.zone[0].name, "Normal");
    /* Formatting it again keeps it old: version=1 is written out. */
    mm_config_format(c, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "\nversion=1\n"));
    mm_destroy(m);

    m = machine_from_text(buf);
    ck_assert_uint_eq(mm_machine_config(m)->version, 1);
    ck_assert_uint_eq(op_value(m, mm_vmalloc(m, 1 << 20, &r), &r), 0xf0800000);
    ck_assert_uint_eq(op_value(m, mm_ioremap(m, 0x10000000, 1 << 20, &r), &r), 0xf0a00000);
    mm_destroy(m);
}
END_TEST

START_TEST(test_config_version_2_is_the_reference_build)
{
    char text[sizeof(old_qemu_virt_61) + 16];
    struct mm_machine *m;
    struct mm_result r;
    struct mm_stats st;

    snprintf(text, sizeof(text), "%sversion=2\n", old_qemu_virt_61);
    m = machine_from_text(text);
    ck_assert_uint_eq(mm_machine_config(m)->version, 2);
    ck_assert(mm__config_smp(mm_machine_config(m)));
    ck_assert_uint_eq(mm__config_cma_bytes(mm_machine_config(m)), 16u << 20);
    ck_assert_uint_eq(op_value(m, mm_vmalloc(m, 1 << 20, &r), &r), 0xf0800000);
    ck_assert_uint_eq(op_value(m, mm_ioremap(m, 0x10000000, 1 << 20, &r), &r), 0xf0980000);
    mm_get_stats(m, &st);
    ck_assert_str_eq(st.zone[0].name, "DMA");
    mm_destroy(m);
}
END_TEST

/* A version line before the preset line still counts; unknown versions
 * are refused by name; a new config carries the current version. */
START_TEST(test_config_version_key)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX];

    mm_config_default(&cfg);
    ck_assert_uint_eq(cfg.version, MM_CONFIG_VERSION);
    ck_assert_uint_eq(MM_CONFIG_VERSION, 8);
    ck_assert_int_eq(mm_config_preset(&cfg, "qemu-virt", err), MM_OK);
    ck_assert_uint_eq(cfg.version, MM_CONFIG_VERSION);
    ck_assert_int_eq(mm_config_parse(&cfg, "version=1\npreset=qemu-virt\nkernel=6.1\n", err),
                     MM_OK);
    ck_assert_uint_eq(cfg.version, 1);
    ck_assert_int_eq(mm_config_parse(&cfg, "cpus=2\n", err), MM_OK);
    ck_assert_uint_eq(cfg.version, 1);
    ck_assert_int_eq(mm_config_set(&cfg, "version", "9", err), MM_INVALID_ARGUMENT);
    /* the message fits MM_MSG_MAX with the prefix */
    ck_assert_str_eq(err, "config: version: bad value '9' (want 1 (before the reference "
                     "build), 2, 3 (its end of boot), 4 (QEMU's device tree), 5 (its "
                     "early allocations and vmalloc space), 6 (dhash_entries=, "
                     "ihash_entries=), 7 (its vmalloc mappings) or 8 (their pages, order))");
    ck_assert_int_eq(mm_config_set(&cfg, "version", "2", err), MM_OK);
    ck_assert_uint_eq(cfg.version, 2);
}
END_TEST

/* Before version 2 a bank reaching 4 GiB kept its last page, as stored
 * machines were built; from version 2 memblock_cap_size() takes it. */
START_TEST(test_config_version_1_keeps_4g_last_page)
{
    struct mm_machine *m = machine_from_text("preset=qemu-virt\nkernel=6.1\nram=0x40000000+3G\n");
    char *io = t_report(m, MM_REPORT_IOMEM);

    ck_assert_ptr_nonnull(strstr(io, "40000000-ffffffff : System RAM\n"));
    free(io);
    mm_destroy(m);
    m = machine_from_text("preset=qemu-virt\nkernel=6.1\nram=0x40000000+3G\nversion=2\n");
    io = t_report(m, MM_REPORT_IOMEM);
    ck_assert_ptr_nonnull(strstr(io, "40000000-fffffffe : System RAM\n"));
    free(io);
    mm_destroy(m);
}
END_TEST

START_TEST(test_validate_smp_off_with_two_cpus)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "cpus=2", "smp=off", NULL);
    expect_invalid(&cfg, "cpus: 2 CPUs need an SMP kernel, but smp=off (CONFIG_SMP not "
                   "set runs one CPU)");
}
END_TEST

START_TEST(test_validate_errata_798181_before_419)
{
    struct mm_config cfg;

    cfg_with(&cfg, NULL, "cpus=2", "errata_798181=on", NULL);
    expect_invalid(&cfg, "errata_798181: on is modelled from 4.19 (the first tree read "
                   "with it), not 3.4.0");
    cfg_with(&cfg, NULL, "kernel=4.19", "errata_798181=on", NULL);
    expect_invalid(&cfg, "errata_798181: on needs smp (arch/arm/Kconfig "
                   "ARM_ERRATA_798181 depends on SMP)");
}
END_TEST

/* 5.11+: RAM past 4 GiB is ignored (early_init_dt_add_memory_arch()). */
START_TEST(test_validate_bank_past_4g_ignored_on_61)
{
    struct mm_config cfg;
    char err[MM_MSG_MAX] = "";

    cfg_with(&cfg, "qemu-virt", "kernel=6.1", "ram=0x40000000+4G", NULL);
    ck_assert_msg(mm_config_validate(&cfg, err) == MM_OK, "%s", err);
}
END_TEST

/* mem= and vmalloc= on the command line act as the kernel's early params:
 * mem=700M replaces QEMU's 1 GiB with 700M at PHYS_OFFSET; vmalloc=480M on
 * 6.1 cuts lowmem at 0xff800000 - 480M - 8M = 0xe1000000. */
START_TEST(test_cmdline_mem_and_vmalloc)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1",
                                     "cmdline=console=ttyAMA0 mem=700M vmalloc=480M",
                                     NULL);

    ck_assert_uint_eq(m->lay.nr_regions, 1);
    ck_assert_uint_eq(m->lay.regions[0].start, 0x40000000u);
    ck_assert_uint_eq(m->lay.regions[0].end, 0x6bc00000u);
    ck_assert_uint_eq(m->lay.lowmem_limit, 0x61000000u);
    ck_assert_uint_eq(m->lay.high_memory, 0xe1000000u);
    ck_assert_uint_eq(m->lay.vmalloc_start, 0xe1800000u);
    ck_assert_str_eq(m->cfg.cmdline, "console=ttyAMA0 mem=700M vmalloc=480M");
    mm_destroy(m);
    /* mem=SIZE@START, twice: two banks; the DT's RAM is gone */
    m = t_machine("qemu-virt", "kernel=6.1", "cmdline=mem=256M mem=256M@0x60000000", NULL);
    ck_assert_uint_eq(m->lay.nr_regions, 2);
    ck_assert_uint_eq(m->lay.regions[0].end, 0x50000000u);
    ck_assert_uint_eq(m->lay.regions[1].start, 0x60000000u);
    ck_assert_uint_eq(m->lay.regions[1].end, 0x70000000u);
    mm_destroy(m);
}
END_TEST

START_TEST(test_cmdline_refusals)
{
    struct mm_config cfg;

    cfg_with(&cfg, "qemu-virt", "kernel=6.1", "cmdline=mem=700M cma=32M@0x60000000",
             NULL);
    expect_invalid(&cfg, "cmdline: bad cma=32M@0x60000000 (want SIZE, e.g. cma=32M; "
                   "@BASE is not modelled)");
    cfg_with(&cfg, "qemu-virt", "kernel=4.19", "cmdline=cma=32M", NULL);
    expect_invalid(&cfg, "cmdline: cma= needs CONFIG_CMA, which this build has not "
                   "(only the Debian armmp reference has it)");
    cfg_with(&cfg, "qemu-virt", "kernel=4.19", "cmdline=initrd=0x48000000,8M", NULL);
    expect_invalid(&cfg, "cmdline: initrd=0x48000000,8M is not modelled");
    cfg_with(&cfg, "qemu-virt", "kernel=6.1", "cmdline=initrd=0x48000000", NULL);
    expect_invalid(&cfg, "cmdline: bad initrd=0x48000000 (want START,SIZE below 4 GiB, "
                   "e.g. initrd=0x48000000,960K)");
    cfg_with(&cfg, "qemu-virt", "kernel=6.1", "cmdline=mem=70X", NULL);
    expect_invalid(&cfg, "cmdline: bad mem=70X (want SIZE[@START], e.g. mem=700M)");
    cfg_with(&cfg, "qemu-virt", "kernel=6.1", "cmdline=vmalloc=1001", NULL);
    expect_invalid(&cfg, "cmdline: bad vmalloc=1001 (want a size in pages, e.g. "
                   "vmalloc=480M)");
    cfg_with(&cfg, "qemu-virt", "kernel=4.4", "cmdline=mem=256M", NULL);
    expect_invalid(&cfg, "cmdline: mem= is modelled from 4.19 (the first early_mem() "
                   "read), not 4.4.0");
}
END_TEST

START_TEST(test_cmdline_round_trips)
{
    struct mm_config cfg, back;
    char buf[4096], err[MM_MSG_MAX];

    cfg_with(&cfg, "qemu-virt", "kernel=6.1", "cmdline=mem=700M vmalloc=480M", NULL);
    mm_config_format(&cfg, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "\ncmdline=mem=700M vmalloc=480M\n"));
    ck_assert_int_eq(mm_config_parse(&back, buf, err), MM_OK);
    ck_assert_str_eq(back.cmdline, "mem=700M vmalloc=480M");
}
END_TEST

START_TEST(test_format_aries_ram_and_reserve)
{
    struct mm_config cfg;
    char buf[2048];

    cfg_with(&cfg, "aries", NULL);
    mm_config_format(&cfg, buf, sizeof(buf));
    ck_assert(strstr(buf, "\nram=0x80200000+140M,0x89000000+74M,0x8ec00000+4M,"
                     "0x8f700000+7M,0x8ff00000+255M,0xa0000000+88M,"
                     "0xa5900000+1468412K\n") != NULL);
    ck_assert(strstr(buf, "\ntext=0xc0008000+0xdfff80\n") != NULL);
    ck_assert(strstr(buf, "\nreserve=rmtfs@0x8ff00000+256K\n") != NULL);
}
END_TEST

START_TEST(test_format_reports_needed_length)
{
    struct mm_config cfg;
    char small[16], big[2048];
    size_t need;

    cfg_with(&cfg, "aries", NULL);
    need = mm_config_format(&cfg, small, sizeof(small));
    ck_assert_uint_eq(need, mm_config_format(&cfg, big, sizeof(big)));
    ck_assert_uint_eq(strlen(big), need);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

START_TEST(test_roundtrip_each_preset)
{
    size_t n;
    const struct mm_preset_info *p = mm_presets(&n);
    struct mm_config cfg, back;
    char buf[2048], err[MM_MSG_MAX];

    cfg_with(&cfg, p[_i].name, NULL);
    mm_config_format(&cfg, buf, sizeof(buf));
    ck_assert_msg(mm_config_parse(&back, buf, err) == MM_OK, "%s", err);
    assert_cfg_eq(&cfg, &back);
}
END_TEST

START_TEST(test_roundtrip_every_field_changed)
{
    struct mm_config cfg, back;
    char buf[2048], buf2[2048], err[MM_MSG_MAX];

    cfg_with(&cfg, "aries", "ram=0x40000000+0x1234000,0x80000000+3G", "split=1G",
             "kernel=2.6.35", "vmalloc=0x1001000", "vmalloc_end=0xfe800000",
             "consistent_dma=6M", "dma_zone=0x3000", "highmem=off", "thumb2=on",
             "user_timers=off", "cpus=3", "atomic=stack", "text_offset=0x208000",
             "text=0x1000", "init=0xc0000000+1", "data=3G", "bss=3K",
             "reserve=a@0x40000000+1,b@0x80001000+0x10", NULL);
    mm_config_format(&cfg, buf, sizeof(buf));
    ck_assert_msg(mm_config_parse(&back, buf, err) == MM_OK, "%s", err);
    assert_cfg_eq(&cfg, &back);
    mm_config_format(&back, buf2, sizeof(buf2));
    ck_assert_str_eq(buf, buf2);
}
END_TEST

START_TEST(test_parse_subset_on_defaults)
{
    struct mm_config cfg, expect;
    char err[MM_MSG_MAX];

    cfg_with(&cfg, "aries", NULL);
    ck_assert_int_eq(mm_config_parse(&cfg, "# a comment\n\n cpus = 2 \nkernel=4.19",
                                     err), MM_OK);
    cfg_with(&expect, NULL, "cpus=2", "kernel=4.19", NULL);
    assert_cfg_eq(&cfg, &expect);
}
END_TEST

START_TEST(test_parse_error_names_line_and_leaves_cfg)
{
    struct mm_config cfg, before;
    char err[MM_MSG_MAX];

    cfg_with(&cfg, "aries", NULL);
    before = cfg;
    ck_assert_int_eq(mm_config_parse(&cfg, "cpus=2\nfoo=1\n", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: line 2: unknown key 'foo'");
    assert_cfg_eq(&cfg, &before);
    ck_assert_int_eq(mm_config_parse(&cfg, "cpus=2\nsplit=5G\n", err),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: line 2: split: bad value '5G' "
                     "(want 3G, 2G, 1G or 3G_OPT)");
    ck_assert_int_eq(mm_config_parse(&cfg, "highmem\n", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "config: line 1: 'highmem' is not key=value");
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    size_t npresets;

    mm_presets(&npresets);
    tcase_add_test(tc, test_default_is_valid_34_1g_at_40000000);
    tcase_add_test(tc, test_presets_table);
    tcase_add_loop_test(tc, test_each_preset_validates, 0, (int)npresets);
    tcase_add_test(tc, test_aries_preset_fields);
    tcase_add_test(tc, test_unknown_preset_not_found);
    tcase_add_test(tc, test_set_unknown_key);
    tcase_add_test(tc, test_set_ram_with_suffixes);
    tcase_add_test(tc, test_set_ram_4g_bank_and_k_g_suffixes);
    tcase_add_test(tc, test_set_bad_ram_names_key_and_value);
    tcase_add_test(tc, test_set_ram_17_banks_refused);
    tcase_add_test(tc, test_set_kernel_forms);
    tcase_add_test(tc, test_set_split_values);
    tcase_add_test(tc, test_set_switches_and_atomic);
    tcase_add_test(tc, test_set_sections_size_or_range);
    tcase_add_test(tc, test_set_reserve_list_and_empty);
    tcase_add_test(tc, test_set_preset_key_loads_preset);
    tcase_add_test(tc, test_validate_kernel_too_old);
    tcase_add_test(tc, test_validate_kernel_too_new);
    tcase_add_test(tc, test_validate_kernel_range_ends);
    tcase_add_test(tc, test_validate_no_banks);
    tcase_add_test(tc, test_validate_empty_bank);
    tcase_add_test(tc, test_validate_bank_not_page_aligned);
    tcase_add_test(tc, test_validate_bank_past_4g);
    tcase_add_test(tc, test_validate_bank_overlap);
    tcase_add_test(tc, test_validate_adjacent_banks_ok);
    tcase_add_test(tc, test_validate_nr_banks_3x);
    tcase_add_test(tc, test_validate_3g_opt_before_44);
    tcase_add_test(tc, test_validate_vmalloc_not_page_multiple);
    tcase_add_test(tc, test_validate_vmalloc_end_fixed_from_34);
    tcase_add_test(tc, test_validate_vmalloc_end_required_before_34);
    tcase_add_test(tc, test_validate_vmalloc_end_too_low);
    tcase_add_test(tc, test_validate_vmalloc_end_above_consistent_base);
    tcase_add_test(tc, test_validate_vmalloc_end_unaligned);
    tcase_add_test(tc, test_validate_consistent_gone_from_35);
    tcase_add_test(tc, test_validate_consistent_overlaps_vmalloc);
    tcase_add_test(tc, test_validate_dma_zone_unaligned);
    tcase_add_test(tc, test_validate_cpus_zero_and_33);
    tcase_add_test(tc, test_validate_cpus_beyond_34_fixmap);
    tcase_add_test(tc, test_validate_cpus_32_from_316);
    tcase_add_test(tc, test_validate_text_offset);
    tcase_add_test(tc, test_validate_section_size_zero);
    tcase_add_test(tc, test_validate_text_not_at_text_offset);
    tcase_add_test(tc, test_validate_init_inside_text);
    tcase_add_test(tc, test_validate_aries_image_under_2635);
    tcase_add_test(tc, test_validate_image_outside_lowmem);
    tcase_add_test(tc, test_validate_reserve_outside_ram);
    tcase_add_test(tc, test_validate_reserve_across_adjacent_banks_ok);
    tcase_add_test(tc, test_validate_reserve_empty_and_nameless);
    tcase_add_test(tc, test_create_returns_validation_error);
    tcase_add_test(tc, test_format_default_exact);
    tcase_add_test(tc, test_set_kernel_sublevel_clamped_at_255);
    tcase_add_test(tc, test_set_smp_and_errata_switches);
    tcase_add_test(tc, test_smp_default_per_reference_build);
    tcase_add_test(tc, test_validate_smp_off_with_two_cpus);
    tcase_add_test(tc, test_config_without_version_replays_old_layout);
    tcase_add_test(tc, test_config_version_2_is_the_reference_build);
    tcase_add_test(tc, test_config_version_key);
    tcase_add_test(tc, test_config_version_1_keeps_4g_last_page);
    tcase_add_test(tc, test_validate_errata_798181_before_419);
    tcase_add_test(tc, test_validate_bank_past_4g_ignored_on_61);
    tcase_add_test(tc, test_cmdline_mem_and_vmalloc);
    tcase_add_test(tc, test_cmdline_refusals);
    tcase_add_test(tc, test_cmdline_round_trips);
    tcase_add_test(tc, test_format_aries_ram_and_reserve);
    tcase_add_test(tc, test_format_reports_needed_length);
    tcase_add_loop_test(tc, test_roundtrip_each_preset, 0, (int)npresets);
    tcase_add_test(tc, test_roundtrip_every_field_changed);
    tcase_add_test(tc, test_parse_subset_on_defaults);
    tcase_add_test(tc, test_parse_error_names_line_and_leaves_cfg);
    suite_add_tcase(s, tc);
    return s;
}
