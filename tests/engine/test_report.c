/* tests/engine/test_report.c - boot printouts and /proc reports.
 *
 * The aries expectations are the real phone's output, kept as data in
 * tests/data/aries.txt (its dmesg layout block, first Memory: line and
 * /proc/iomem) and read from there, timestamps stripped, so the tests and
 * the file cannot drift apart.
 */
#include "check_engine.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The real boot output, relative to the source tree's root. */
#define ARIES_DATA "tests/data/aries.txt"

/* Reads tests/data/aries.txt into a malloc'd string.  The test binary is
 * build/check_engine or build/san/check_engine, so the tree's root is one
 * or two directories above it; the current directory is tried first.
 * Fails the test if the file is nowhere. */
static char *aries_data(void)
{
    char self[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    const char *up[] = {NULL, "/..", "/../.."};
    FILE *f = NULL;
    char *text;
    long size;

    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    for (size_t i = 0; i < sizeof(up) / sizeof(up[0]) && f == NULL; i++) {
        if (up[i] == NULL)
            snprintf(path, sizeof(path), "%s", ARIES_DATA);
        else
            snprintf(path, sizeof(path), "%s%s/%s", self, up[i], ARIES_DATA);
        f = fopen(path, "r");
    }
    ck_assert_msg(f != NULL, "cannot find %s", ARIES_DATA);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    ck_assert_int_gt(size, 0);
    rewind(f);
    text = calloc(1, (size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

/* The lines of section "--- @name ---" of the aries data, from its first
 * line starting with @from (NULL: its first line) to the blank line that
 * ends it, each without its "[    0.000000] " printk timestamp and ending
 * in "\n", as one malloc'd string. */
static char *aries_section(const char *name, const char *from)
{
    char *text = aries_data(), header[64], *p, *out;
    size_t len = 0;
    bool on = from == NULL;

    snprintf(header, sizeof(header), "--- %s ---\n", name);
    p = strstr(text, header);
    ck_assert_msg(p != NULL, "%s has no section %s", ARIES_DATA, header);
    p += strlen(header);
    out = calloc(1, strlen(p) + 1);
    ck_assert_ptr_nonnull(out);
    while (*p != '\0' && *p != '\n') {
        size_t n = strcspn(p, "\n");
        const char *line = p;

        if (line[0] == '[' && strchr(line, ']') != NULL &&
            strchr(line, ']') < line + n) {
            const char *body = strchr(line, ']') + 1;

            if (*body == ' ')
                body++;
            n -= (size_t)(body - line);
            line = body;
        }
        if (!on && strncmp(line, from, strlen(from)) == 0)
            on = true;
        if (on) {
            memcpy(out + len, line, n);
            len += n;
            out[len++] = '\n';
        }
        p = strchr(p, '\n');
        if (p == NULL)
            break;
        p++;
    }
    free(text);
    ck_assert_msg(len > 0, "%s: section %s is empty", ARIES_DATA, name);
    return out;
}

/* Compares @got with @want line by line, naming the first line that
 * differs, then as whole strings (which catches a missing last line). */
static void assert_same_lines(const char *got, const char *want)
{
    unsigned line = 1;

    while (*got != '\0' && *want != '\0') {
        size_t ng = strcspn(got, "\n"), nw = strcspn(want, "\n");

        ck_assert_msg(ng == nw && memcmp(got, want, ng) == 0,
                      "line %u: got '%.*s', the real boot printed '%.*s'",
                      line, (int)ng, got, (int)nw, want);
        got += ng + (got[ng] == '\n');
        want += nw + (want[nw] == '\n');
        line++;
    }
    ck_assert_msg(*got == '\0' && *want == '\0',
                  "line %u: got %s, the real boot %s", line,
                  *got != '\0' ? "more lines" : "fewer lines",
                  *want != '\0' ? "has more" : "ends here");
}

/* Boot figures as the Memory: lines use them. */
struct counts {
    unsigned long long managed, high, present, free;
};

static void counts_of(const struct mm_machine *m, struct counts *c)
{
    struct mm_stats st;

    mm_get_stats(m, &st);
    memset(c, 0, sizeof(*c));
    for (unsigned i = 0; i < st.nr_zones; i++) {
        c->managed += st.zone[i].managed;
        c->present += st.zone[i].present;
        c->free += st.zone[i].free;
        if (strcmp(st.zone[i].name, "HighMem") == 0)
            c->high += st.zone[i].managed;
    }
}

/* Line @n (0-based) of @s, without its newline, in @buf. */
static const char *line_of(const char *s, unsigned n, char *buf, size_t size)
{
    for (; n > 0 && s != NULL; n--) {
        s = strchr(s, '\n');
        if (s != NULL)
            s++;
    }
    ck_assert_ptr_nonnull(s);
    snprintf(buf, size, "%.*s", (int)strcspn(s, "\n"), s);
    return buf;
}

/* ---- layout ---- */

START_TEST(test_aries_layout_matches_real_boot)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);
    /* KERNEL: msm-3.4 mem_init() on aries, tests/data/aries.txt dmesg */
    char *real = aries_section("dmesg", "Virtual kernel memory layout:");

    assert_same_lines(s, real);
    free(real);
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_aries_layout_without_timers)
{
    struct mm_machine *m = t_machine("aries", "user_timers=off", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);
    char line[128];

    ck_assert_str_eq(line_of(s, 2, line, sizeof(line)),
                     "    fixmap  : 0xfff00000 - 0xfffe0000   ( 896 kB)");
    ck_assert_ptr_null(strstr(s, "timers"));
    free(s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: upstream 3.4 mem_init() DMA line, MLM(CONSISTENT_BASE, END). */
START_TEST(test_34_layout_dma_line_with_consistent_window)
{
    struct mm_machine *m = t_machine(NULL, "consistent_dma=14M", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);
    char line[128];

    ck_assert_str_eq(line_of(s, 3, line, sizeof(line)),
                     "    DMA     : 0xff000000 - 0xffe00000   (  14 MB)");
    ck_assert_str_eq(line_of(s, 4, line, sizeof(line)),
                     "    vmalloc : 0xf0000000 - 0xff000000   ( 240 MB)");
    free(s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 2.6.35 init.c: DMA line, .init before .text, no .bss. */
START_TEST(test_2635_layout_form)
{
    struct mm_machine *m = t_machine(NULL, "kernel=2.6.35", "vmalloc_end=0xfe800000",
                                     "consistent_dma=2M", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);

    ck_assert_str_eq(s,
        "Virtual kernel memory layout:\n"
        "    vector  : 0xffff0000 - 0xffff1000   (   4 kB)\n"
        "    fixmap  : 0xfff00000 - 0xfffe0000   ( 896 kB)\n"
        "    DMA     : 0xffc00000 - 0xffe00000   (   2 MB)\n"
        "    vmalloc : 0xf7000000 - 0xfe800000   ( 120 MB)\n"
        "    lowmem  : 0xc0000000 - 0xf6800000   ( 872 MB)\n"
        "    pkmap   : 0xbfe00000 - 0xc0000000   (   2 MB)\n"
        "    modules : 0xbf000000 - 0xbfe00000   (  14 MB)\n"
        "      .init : 0xc0008000 - 0xc0108000   (1024 kB)\n"
        "      .text : 0xc0108000 - 0xc0908000   (8192 kB)\n"
        "      .data : 0xc0908000 - 0xc0a08000   (1024 kB)\n");
    free(s);
    mm_destroy(m);
}
END_TEST

/* 4.19: FIXADDR_END, VMALLOC_END 0xff800000, hashed %p ("(ptrval)"). */
START_TEST(test_419_layout_qemu_virt)
{
    struct mm_machine *m = t_machine("qemu-virt", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);

    ck_assert_str_eq(s,
        "Virtual kernel memory layout:\n"
        "    vector  : 0xffff0000 - 0xffff1000   (   4 kB)\n"
        "    fixmap  : 0xffc00000 - 0xfff00000   (3072 kB)\n"
        "    vmalloc : 0xf0800000 - 0xff800000   ( 240 MB)\n"
        "    lowmem  : 0xc0000000 - 0xf0000000   ( 768 MB)\n"
        "    pkmap   : 0xbfe00000 - 0xc0000000   (   2 MB)\n"
        "    modules : 0xbf000000 - 0xbfe00000   (  14 MB)\n"
        "      .text : 0x(ptrval) - 0x(ptrval)   (8192 kB)\n"
        "      .init : 0x(ptrval) - 0x(ptrval)   (1024 kB)\n"
        "      .data : 0x(ptrval) - 0x(ptrval)   (1024 kB)\n"
        "       .bss : 0x(ptrval) - 0x(ptrval)   (1024 kB)\n");
    free(s);
    mm_destroy(m);
}
END_TEST

/* 3.18: fixmap 0xffc00000-0xffe00000 (2048 kB), addresses not hashed. */
START_TEST(test_318_layout_fixmap_2m)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=3.18", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);
    char line[128];

    ck_assert_str_eq(line_of(s, 2, line, sizeof(line)),
                     "    fixmap  : 0xffc00000 - 0xffe00000   (2048 kB)");
    ck_assert_str_eq(line_of(s, 7, line, sizeof(line)),
                     "      .text : 0xc0008000 - 0xc0808000   (8192 kB)");
    free(s);
    mm_destroy(m);
}
END_TEST

/* No HIGHMEM: no pkmap line, a 16 MB module area up to PAGE_OFFSET. */
START_TEST(test_rpi2_layout)
{
    struct mm_machine *m = t_machine("rpi2", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);

    ck_assert_str_eq(s,
        "Virtual kernel memory layout:\n"
        "    vector  : 0xffff0000 - 0xffff1000   (   4 kB)\n"
        "    fixmap  : 0xffc00000 - 0xfff00000   (3072 kB)\n"
        "    vmalloc : 0xbb800000 - 0xff800000   (1088 MB)\n"
        "    lowmem  : 0x80000000 - 0xbb000000   ( 944 MB)\n"
        "    modules : 0x7f000000 - 0x80000000   (  16 MB)\n"
        "      .text : 0x80008000 - 0x80808000   (8192 kB)\n"
        "      .init : 0x80808000 - 0x80908000   (1024 kB)\n"
        "      .data : 0x80908000 - 0x80a08000   (1024 kB)\n"
        "       .bss : 0x80a08000 - 0x80b08000   (1024 kB)\n");
    free(s);
    mm_destroy(m);
}
END_TEST

/* 4.4.9 (before %p hashing): HIGHMEM built in, the HighMem zone empty. */
START_TEST(test_bbb_layout)
{
    struct mm_machine *m = t_machine("beaglebone-black", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);

    ck_assert_str_eq(s,
        "Virtual kernel memory layout:\n"
        "    vector  : 0xffff0000 - 0xffff1000   (   4 kB)\n"
        "    fixmap  : 0xffc00000 - 0xfff00000   (3072 kB)\n"
        "    vmalloc : 0xe0000000 - 0xff800000   ( 504 MB)\n"
        "    lowmem  : 0xc0000000 - 0xdfe00000   ( 510 MB)\n"
        "    pkmap   : 0xbfe00000 - 0xc0000000   (   2 MB)\n"
        "    modules : 0xbf000000 - 0xbfe00000   (  14 MB)\n"
        "      .text : 0xc0008000 - 0xc0808000   (8192 kB)\n"
        "      .init : 0xc0808000 - 0xc0908000   (1024 kB)\n"
        "      .data : 0xc0908000 - 0xc0a08000   (1024 kB)\n"
        "       .bss : 0xc0a08000 - 0xc0b08000   (1024 kB)\n");
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_61_layout_not_printed)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    struct mm_buf b = {0};

    ck_assert_int_eq(mm_report(m, MM_REPORT_LAYOUT, &b), MM_NOT_FOUND);
    ck_assert_str_eq(b.data, "layout: Linux 6.1.0 does not print the virtual kernel "
                     "memory layout (mem_init() stopped printing it in 5.1)\n");
    mm_buf_free(&b);
    mm_destroy(m);
}
END_TEST

START_TEST(test_50_layout_still_printed)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=5.0", NULL);
    char *s = t_report(m, MM_REPORT_LAYOUT);

    ck_assert(strncmp(s, "Virtual kernel memory layout:\n", 30) == 0);
    free(s);
    mm_destroy(m);
}
END_TEST

/* ---- Memory: lines ---- */

START_TEST(test_aries_memory_bank_line)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *s = t_report(m, MM_REPORT_MEMORY);
    char *real = aries_section("dmesg", NULL);
    char line[256], want[256];

    /* The first line of the real dmesg; the second differs (README). */
    ck_assert_str_eq(line_of(real, 0, want, sizeof(want)),
                     "Memory: 140MB 74MB 4MB 7MB 255MB 88MB 1433MB = 2001MB total");
    ck_assert_str_eq(line_of(s, 0, line, sizeof(line)), want);
    free(real);
    free(s);
    mm_destroy(m);
}
END_TEST

/* The totals line: boot free = managed pages; free + reserved covers every
 * RAM page of the banks (2050044k for aries). */
START_TEST(test_aries_memory_totals_line)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *s = t_report(m, MM_REPORT_MEMORY);
    char line[256], want[256];
    struct counts c;

    counts_of(m, &c);
    snprintf(want, sizeof(want), "Memory: %lluk/%lluk available, %uk reserved, "
             "%lluK highmem", c.managed * 4, c.managed * 4, m->boot_reserved_pages * 4,
             c.high * 4);
    ck_assert_str_eq(line_of(s, 1, line, sizeof(line)), want);
    ck_assert_uint_eq(c.managed * 4 + m->boot_reserved_pages * 4, 2050044);
    ck_assert_str_eq(strchr(strchr(s, '\n') + 1, '\n'), "\n");   /* two lines */
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_memory_line_is_boot_time)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *before = t_report(m, MM_REPORT_MEMORY), *after;
    struct mm_result res;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 3, &res), MM_OK);
    after = t_report(m, MM_REPORT_MEMORY);
    ck_assert_str_eq(before, after);
    t_check(m);
    free(before);
    free(after);
    mm_destroy(m);
}
END_TEST

/* 2.6.35 lists meminfo banks: the bank split at the cut shows twice. */
START_TEST(test_2635_memory_lists_split_banks)
{
    struct mm_machine *m = t_machine(NULL, "kernel=2.6.35", "vmalloc_end=0xfe800000",
                                     NULL);
    char *s = t_report(m, MM_REPORT_MEMORY);
    char line[256];

    ck_assert_str_eq(line_of(s, 0, line, sizeof(line)),
                     "Memory: 872MB 152MB = 1024MB total");
    free(s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.14 mem_init_print_info(): no cma-reserved yet. */
START_TEST(test_314_memory_generic_line)
{
    struct mm_machine *m = t_machine(NULL, "kernel=3.14", NULL);
    char *s = t_report(m, MM_REPORT_MEMORY);
    char want[256];
    struct counts c;

    counts_of(m, &c);
    snprintf(want, sizeof(want), "Memory: %lluK/%lluK available (8192K kernel code, "
             "1024K rwdata, 0K rodata, 1024K init, 1024K bss, %lluK reserved, "
             "%lluK highmem)\n", c.managed * 4, c.present * 4,
             (c.present - c.managed) * 4, c.high * 4);
    ck_assert_str_eq(s, want);
    ck_assert_uint_eq(c.present * 4, 1048576);
    free(s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 4.19 mem_init_print_info(): cma-reserved, then highmem. */
START_TEST(test_419_memory_generic_line_cma)
{
    struct mm_machine *m = t_machine("qemu-virt", NULL);
    char *s = t_report(m, MM_REPORT_MEMORY);
    char want[256];
    struct counts c;

    counts_of(m, &c);
    snprintf(want, sizeof(want), "Memory: %lluK/%lluK available (8192K kernel code, "
             "1024K rwdata, 0K rodata, 1024K init, 1024K bss, %lluK reserved, "
             "0K cma-reserved, %lluK highmem)\n", c.managed * 4, c.present * 4,
             (c.present - c.managed) * 4, c.high * 4);
    ck_assert_str_eq(s, want);
    ck_assert_uint_eq(c.high * 4, 262144);
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_memory_line_without_highmem)
{
    struct mm_machine *m = t_machine("rpi2", NULL);
    char *s = t_report(m, MM_REPORT_MEMORY);

    ck_assert_ptr_nonnull(strstr(s, "K reserved, 0K cma-reserved)\n"));
    ck_assert_ptr_null(strstr(s, "highmem"));
    free(s);
    mm_destroy(m);
}
END_TEST

/* ---- /proc/iomem ---- */

/* Without LPAE a bank reaching 4 GiB loses its last page (memblock caps the
 * size at PHYS_ADDR_MAX - base), and RAM past 4 GiB is ignored with a
 * message: QEMU virt -m 3072 and -m 4096 under Debian's 6.1 armmp. */
START_TEST(test_61_ram_to_4g_loses_last_page)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+3G",
                                     NULL);
    char *io = t_report(m, MM_REPORT_IOMEM);
    char *mi = t_report(m, MM_REPORT_MEMINFO);
    char *mem;

    ck_assert_ptr_nonnull(strstr(io, "40000000-fffffffe : System RAM\n"));
    ck_assert_ptr_nonnull(strstr(mi, "HighTotal:       2359292 kB\n"));
    free(io);
    free(mi);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+4G", NULL);
    io = t_report(m, MM_REPORT_IOMEM);
    mem = t_report(m, MM_REPORT_MEMORY);
    ck_assert_ptr_nonnull(strstr(io, "40000000-fffffffe : System RAM\n"));
    ck_assert_msg(strncmp(mem, "Ignoring memory range 0x100000000 - 0x140000000\n"
                          "cma: ", 53) == 0, "%s", mem);
    ck_assert_ptr_nonnull(strstr(mem, "\nMemory: "));
    free(io);
    free(mem);
    mm_destroy(m);
}
END_TEST

/* The region table exists in every era, 5.1+ included (no layout block). */
/*
 * /proc/zoneinfo of Debian's armmp 6.1 on QEMU virt with 3 GiB, 2 CPUs
 * (tests/oracle/fixtures/ram3G-cpus2.txt, a real boot).  Exact where the
 * figures follow from the layout: every zone is listed, empty Normal and
 * Movable included; HighMem's managed count includes the activated CMA
 * area (4096 pages, its "cma" line); its min is managed / 1024 capped at
 * 128; DMA's protection is HighMem's managed / 256 (lowmem_reserve_ratio);
 * the empty Movable zone counts as highmem (min 32 = SWAP_CLUSTER_MAX).
 * KERNEL: 6.1 mm/vmstat.c zoneinfo_show_print(), mm/page_alloc.c
 * __setup_per_zone_wmarks(), setup_per_zone_lowmem_reserve(),
 * mm/cma.c cma_activate_area().
 */
START_TEST(test_zoneinfo_61_debian_armmp)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+3G",
                                     "cpus=2", NULL);
    char *t = t_report(m, MM_REPORT_ZONEINFO);

    ck_assert_ptr_nonnull(strstr(t, "Node 0, zone      DMA\n"));
    ck_assert_ptr_nonnull(strstr(t, "        protection: (0, 0, 2303, 2303)\n"
                                    "  node_unreclaimable:  0\n"
                                    "  start_pfn:           262144\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "Node 0, zone   Normal\n"
        "  pages free     0\n"
        "        boost    0\n"
        "        min      0\n"
        "        low      0\n"
        "        high     0\n"
        "        spanned  0\n"
        "        present  0\n"
        "        managed  0\n"
        "        cma      0\n"
        "        protection: (0, 0, 0, 0)\n"
        "Node 0, zone  HighMem\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "        min      128\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "        spanned  589823\n"
        "        present  589823\n"
        "        managed  589823\n"
        "        cma      4096\n"
        "        protection: (0, 0, 0, 0)\n"
        "  node_unreclaimable:  0\n"
        "  start_pfn:           458752\n"
        "Node 0, zone  Movable\n"
        "  pages free     0\n"
        "        boost    0\n"
        "        min      32\n"
        "        low      32\n"
        "        high     32\n"
        "        spanned  0\n"
        "        present  0\n"
        "        managed  0\n"
        "        cma      0\n"
        "        protection: (0, 0, 0, 0)\n"));
    free(t);
    mm_destroy(m);
}
END_TEST

/* With all RAM in lowmem (768 MiB) Movable follows DMA: not highmem, min 0
 * (fixtures/ram768M-cpus4.txt); HighMem is empty, min 32. */
START_TEST(test_zoneinfo_61_lowmem_only)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+768M",
                                     "cpus=4", NULL);
    char *t = t_report(m, MM_REPORT_ZONEINFO);

    ck_assert_ptr_nonnull(strstr(t,
        "Node 0, zone  HighMem\n"
        "  pages free     0\n"
        "        boost    0\n"
        "        min      32\n"
        "        low      32\n"
        "        high     32\n"));
    ck_assert_ptr_nonnull(strstr(t,
        "Node 0, zone  Movable\n"
        "  pages free     0\n"
        "        boost    0\n"
        "        min      0\n"
        "        low      0\n"
        "        high     0\n"));
    free(t);
    mm_destroy(m);
}
END_TEST

/* Other eras print other fields: the report says it renders 6.1 only. */
START_TEST(test_zoneinfo_refused_before_61)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_buf b = {0};

    ck_assert_int_eq(mm_report(m, MM_REPORT_ZONEINFO, &b), MM_NOT_FOUND);
    ck_assert_str_eq(b.data, "zoneinfo: rendered in the 6.1 format only (mm/vmstat.c "
                     "zoneinfo_show_print()); this machine runs Linux 3.4.0\n");
    mm_buf_free(&b);
    mm_destroy(m);
}
END_TEST

/* After boot the CMA area is managed and free in its zone (meminfo's
 * HighTotal and the zone's managed), while the Memory: line, printed
 * before cma_activate_area(), does not count it (kernel: 1 GiB gives
 * HighMem managed 65536 with cma 4096). */
START_TEST(test_cma_counted_in_zone_after_boot)
{
    /* version 4: free counts without the boot's vmalloc pages (vmboot61.c) */
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "version=4", NULL);
    struct mm_stats st;
    char *t;

    mm_get_stats(m, &st);
    ck_assert_str_eq(st.zone[1].name, "HighMem");
    ck_assert_uint_eq(st.zone[1].managed, 65536);
    /* the kernel's nr_free_cma 4032 of 4096: the DMA atomic pool took 64 */
    ck_assert_uint_eq(st.zone[1].free, 65536 - 64);
    t = t_report(m, MM_REPORT_MEMORY);
    ck_assert_ptr_nonnull(strstr(t, ", 16384K cma-reserved, 245760K highmem)\n"));
    free(t);
    mm_destroy(m);
}
END_TEST

/*
 * 6.1's /proc/meminfo lines, in the order and with the names the real
 * armmp kernel prints (tests/oracle/fixtures/ram3G-cpus2.txt), less
 * MemAvailable (not modelled); counters of what the engine
 * never has are 0 as there (SwapTotal, Zswap, Dirty, Bounce ...);
 * CommitLimit is half of MemTotal (vm_commit_limit(), overcommit_ratio 50,
 * no swap: the kernel's 1549316 kB for 3098632 kB); Percpu is the first
 * chunk's 18 pages and the second chunk's 3 populated ones a CPU, the
 * kernel's 168 kB for two CPUs (a version-7 machine has no second chunk's
 * pages and prints no Percpu).  KERNEL: 6.1 fs/proc/meminfo.c
 * meminfo_proc_show(), mm/util.c vm_commit_limit(), mm/percpu.c
 * pcpu_nr_pages().
 */
START_TEST(test_meminfo_61_lines)
{
    static const char *const keys[] = {
        "MemTotal", "MemFree", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
        "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)", "Unevictable",
        "Mlocked", "HighTotal", "HighFree", "LowTotal", "LowFree", "SwapTotal", "SwapFree",
        "Zswap", "Zswapped", "Dirty", "Writeback", "AnonPages", "Mapped", "Shmem",
        "KReclaimable", "Slab", "SReclaimable", "SUnreclaim", "KernelStack", "PageTables",
        "SecPageTables", "NFS_Unstable", "Bounce", "WritebackTmp", "CommitLimit",
        "Committed_AS", "VmallocTotal", "VmallocUsed", "VmallocChunk", "Percpu", "CmaTotal",
        "CmaFree",
    };
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+3G",
                                     "cpus=2", NULL);
    char *t = t_report(m, MM_REPORT_MEMINFO), *p = t;
    unsigned long total = 0, limit = 0;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t n = strlen(keys[i]);

        ck_assert_msg(strncmp(p, keys[i], n) == 0 && p[n] == ':', "want %s at: %.40s",
                      keys[i], p);
        p = strchr(p, '\n') + 1;
    }
    ck_assert_str_eq(p, "");
    ck_assert_ptr_nonnull(strstr(t, "\nSwapTotal:             0 kB\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nZswapped:              0 kB\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nHighTotal:       2359292 kB\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nVmallocTotal:     245760 kB\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nVmallocChunk:          0 kB\n"));
    ck_assert_ptr_nonnull(strstr(t, "\nCmaTotal:          16384 kB\n"));
    ck_assert_int_eq(sscanf(t, "MemTotal: %lu kB", &total), 1);
    ck_assert_int_eq(sscanf(strstr(t, "CommitLimit:"), "CommitLimit: %lu kB", &limit), 1);
    ck_assert_uint_eq(limit, total / 4 / 2 * 4);
    ck_assert_ptr_nonnull(strstr(t, "\nPercpu:              168 kB\n"));
    free(t);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+3G", "cpus=2", "version=7",
                  NULL);
    t = t_report(m, MM_REPORT_MEMINFO);
    ck_assert_ptr_null(strstr(t, "Percpu:"));
    ck_assert_ptr_nonnull(strstr(t, "\nVmallocChunk:          0 kB\nCmaTotal:"));
    free(t);
    mm_destroy(m);
}
END_TEST

/*
 * The lines 6.1 logs before Memory: on QEMU virt with 3 GiB (fixtures/
 * ram3G-cpus2.txt) and with 768 MiB (ram768M-cpus4.txt: no highmem, and
 * the memmap of 196608 36-byte pages, 1728 pages, is what Total pages
 * lacks).  KERNEL: 6.1 mm/cma.c, mm/page_alloc.c free_area_init(),
 * free_area_init_node(), free_area_init_core(), build_all_zonelists().
 */
START_TEST(test_61_boot_zone_lines)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+3G",
                                     "cpus=2", NULL);
    char *t = t_report(m, MM_REPORT_MEMORY);

    ck_assert_msg(strncmp(t,
        "cma: Reserved 16 MiB at 0xfe800000\n"
        "Zone ranges:\n"
        "  DMA      [mem 0x0000000040000000-0x000000006fffffff]\n"
        "  Normal   empty\n"
        "  HighMem  [mem 0x0000000070000000-0x00000000ffffefff]\n"
        "Movable zone start for each node\n"
        "Early memory node ranges\n"
        "  node   0: [mem 0x0000000040000000-0x00000000ffffefff]\n"
        "Initmem setup node 0 [mem 0x0000000040000000-0x00000000ffffefff]\n"
        "percpu: Embedded 18 pages/cpu s45012 r8192 d20524 u73728\n"
        "Built 1 zonelists, mobility grouping on.  Total pages: 784703\n"
        "Dentry cache hash table entries: 131072 (order: 7, 524288 bytes, linear)\n"
        "Inode-cache hash table entries: 65536 (order: 6, 262144 bytes, linear)\n"
        "Memory: ", 424 + 57 + 73 + 71) == 0, "%s", t);
    free(t);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+768M", "cpus=4", NULL);
    t = t_report(m, MM_REPORT_MEMORY);
    ck_assert_ptr_nonnull(strstr(t, "  HighMem  empty\n"));
    ck_assert_ptr_nonnull(strstr(t, "Built 1 zonelists, mobility grouping on.  "
                                    "Total pages: 194880\n"));
    free(t);
    mm_destroy(m);
}
END_TEST

/*
 * Debian's armmp 6.1 image, as the real kernel prints it (fixtures, every
 * machine): iomem "Kernel code" 40208000-411fffff (_text to __init_begin,
 * TEXT_OFFSET 0x208000) and "Kernel data" 41400000-41607607 (_sdata to
 * _end); the Memory: line's sections.  KERNEL: 6.1 arch/arm/kernel/setup.c
 * request_standard_resources(), mm/page_alloc.c mem_init_print_info(),
 * arch/arm/kernel/vmlinux.lds.S.  A config that sets its own image keeps it.
 */
/*
 * QEMU virt's AMBA devices as the armmp kernel's built-in drivers leave
 * them in /proc/iomem (fixtures/ram1G-cpus1.txt, every fixture alike):
 * amba_device_add() requests the node's resource, named by its full name
 * (of_address_to_resource()); pl011 and pl061 claim it again through
 * devm_ioremap_resource() as "DEVNAME RESNAME", pl031 through
 * amba_request_regions() under its driver's name.  KERNEL: 6.1
 * drivers/amba/bus.c amba_device_try_add(), amba_request_regions();
 * drivers/of/address.c __of_address_to_resource(); lib/devres.c
 * __devm_ioremap_resource(); drivers/rtc/rtc-pl031.c; QEMU hw/arm/virt.c
 * base_memmap (UART, RTC, GPIO: 4 KiB each).
 */
START_TEST(test_61_armmp_iomem_devices)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *io = t_report(m, MM_REPORT_IOMEM);

    ck_assert_str_eq(io, "09000000-09000fff : pl011@9000000\n"
                         "  09000000-09000fff : 9000000.pl011 pl011@9000000\n"
                         "09010000-09010fff : pl031@9010000\n"
                         "  09010000-09010fff : rtc-pl031\n"
                         "09030000-09030fff : pl061@9030000\n"
                         "  09030000-09030fff : 9030000.pl061 pl061@9030000\n"
                         "40000000-7fffffff : System RAM\n"
                         "  40208000-411fffff : Kernel code\n"
                         "  41400000-41607607 : Kernel data\n");
    free(io);
    mm_destroy(m);
    /* another kernel on the same board: no driver modelled, no lines */
    m = t_machine("qemu-virt", "kernel=4.19", NULL);
    io = t_report(m, MM_REPORT_IOMEM);
    ck_assert(strncmp(io, "40000000-7fffffff : System RAM\n", 31) == 0);
    free(io);
    mm_destroy(m);
}
END_TEST

START_TEST(test_61_armmp_kernel_image)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *io = t_report(m, MM_REPORT_IOMEM), *mem = t_report(m, MM_REPORT_MEMORY);

    ck_assert_ptr_nonnull(strstr(io, "  40208000-411fffff : Kernel code\n"
                                     "  41400000-41607607 : Kernel data\n"));
    ck_assert_ptr_nonnull(strstr(mem, " available (11264K kernel code, 1700K rwdata, "
                                      "3736K rodata, 2048K init, 376K bss, "));
    ck_assert_uint_eq(m->lay.text.start, 0xc0208000);
    free(io);
    free(mem);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "bss=2M", NULL);
    mem = t_report(m, MM_REPORT_MEMORY);
    ck_assert_ptr_nonnull(strstr(mem, " available (8192K kernel code, 1024K rwdata, "
                                      "0K rodata, 1024K init, 2048K bss, "));
    free(mem);
    mm_destroy(m);
}
END_TEST

START_TEST(test_regions_61_debian_armmp)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *t = t_report(m, MM_REPORT_REGIONS);

    ck_assert_str_eq(t,
        "# Linux 6.1.0; Debian 12 linux-image-armmp (6.1.0-57-armmp, 6.1.192-3 armhf): "
        "SMP, SMP_ON_UP, HIGHMEM, ZONE_DMA, MEMCG, CMA 16M, ARM_ERRATA_798181, PCI, no LPAE\n"
        "name       start      end           size  mapped by\n"
        "user       0x00000000 0xbf000000   3056M  per-process page tables (TTBR0)\n"
        "modules    0xbf000000 0xbfe00000     14M  module_alloc(): PTE pages on demand\n"
        "pkmap      0xbfe00000 0xc0000000      2M  kmap(): pkmap_page_table\n"
        "lowmem     0xc0000000 0xf0000000    768M  map_lowmem(): sections, the direct map\n"
        "vmalloc    0xf0800000 0xff800000    240M  vmalloc(), vmap(), ioremap(): PTE pages "
        "on demand\n"
        "pci-io     0xfee00000 0xff000000      2M  pci_reserve_io(): reserved inside vmalloc\n"
        "fdt        0xff800000 0xffa00000      2M  devicemaps_init(): the DTB at "
        "0x48000000+1024K, read-only sections\n"
        "fixmap     0xffc80000 0xfff00000   2560K  kmap_local(): fixmap PTEs per CPU\n"
        "vector     0xffff0000 0xffff2000      8K  devicemaps_init(): vectors page and "
        "stubs page\n");
    free(t);
    mm_destroy(m);
}
END_TEST

START_TEST(test_regions_aries)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *t = t_report(m, MM_REPORT_REGIONS);

    ck_assert_ptr_nonnull(strstr(t, "\nlowmem     0xc0000000 0xef800000    760M  "));
    ck_assert_ptr_nonnull(strstr(t, "\nfixmap     0xfff00000 0xfffe0000    896K  "
                                    "kmap_atomic(): fixmap PTEs per CPU\n"));
    ck_assert_ptr_nonnull(strstr(t, "\ntimers     0xfffef000 0xffff0000      4K  "));
    ck_assert_ptr_null(strstr(t, "pci-io"));
    ck_assert_ptr_null(strstr(t, "fdt"));
    free(t);
    mm_destroy(m);
}
END_TEST

/* translate's region names: ioremap areas, the DTB map, the PCI window. */
START_TEST(test_region_names_61)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    struct mm_result r;

    ck_assert_int_eq(mm_ioremap(m, 0x09000000, 4096, &r), MM_OK);
    ck_assert_str_eq(mm_region_name(m, r.value), "ioremap");
    ck_assert_str_eq(mm_region_name(m, r.value + 4096), "ioremap");  /* its guard */
    ck_assert_str_eq(mm_region_name(m, r.value + 8192), "vmalloc");
    ck_assert_str_eq(mm_region_name(m, 0xfee00000), "pci-io");
    ck_assert_str_eq(mm_region_name(m, 0xff800000), "fdt");
    ck_assert_int_eq(mm_region_of(m, r.value), MM_VREGION_IOREMAP);
    ck_assert_int_eq(mm_region_of(m, r.value + 8192), MM_VREGION_VMALLOC);
    ck_assert_int_eq(mm_region_of(m, 0xfee00000), MM_VREGION_PCI_IO);
    ck_assert_int_eq(mm_region_of(m, 0xff800000), MM_VREGION_FDT);
    ck_assert_int_eq(mm_region_of(m, 0xc0000000), MM_VREGION_LOWMEM);
    ck_assert_str_eq(mm_vregion_name(MM_VREGION_PCI_IO), "pci-io");
    ck_assert_str_eq(mm_vregion_name(MM_VREGION_COUNT), "unknown");
    ck_assert_str_eq(mm_region_name(m, 0xffa00000), "gap");
    ck_assert_str_eq(mm_region_name(m, 0xffff1000), "vector");
    ck_assert_int_eq(mm_iounmap(m, r.value, &r), MM_OK);
    ck_assert_str_eq(mm_region_name(m, 0xf0800000), "vmalloc");
    mm_destroy(m);
}
END_TEST

/* KERNEL: 6.1 mmu.c pci_reserve_io(): vmalloc skips 0xfee00000-0xff000000. */
START_TEST(test_vmalloc_avoids_pci_io_61)
{
    /* version 4: an empty vmalloc area (no boot areas, vmboot61.c) */
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", "version=4", NULL);
    struct mm_result r;

    ck_assert_int_eq(mm_vmalloc(m, 220u << 20, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xf0800000);
    ck_assert_int_eq(mm_vmalloc(m, 8u << 20, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xfe439000);
    ck_assert_int_eq(mm_vmalloc(m, 2u << 20, &r), MM_OK);
    ck_assert_uint_eq(r.value, 0xff000000);
    t_check(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_aries_iomem_matches_real)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *s = t_report(m, MM_REPORT_IOMEM);
    char *real = aries_section("/proc/iomem", NULL);

    assert_same_lines(s, real);
    free(real);
    free(s);
    mm_destroy(m);
}
END_TEST

/* request_resource() refuses a child overlapping an earlier sibling. */
START_TEST(test_iomem_conflicting_reserve_hidden)
{
    struct mm_machine *m = t_machine(NULL, "reserve=a@0x40100000+4K,b@0x41000000+8K",
                                     NULL);
    char *s = t_report(m, MM_REPORT_IOMEM);

    ck_assert_str_eq(s,
        "40000000-7fffffff : System RAM\n"
        "  40008000-40807fff : Kernel code\n"
        "  40908000-40b07fff : Kernel data\n"
        "  41000000-41001fff : b\n");
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_iomem_no_highmem_lists_kept_ram_only)
{
    struct mm_machine *m = t_machine(NULL, "highmem=off", NULL);
    char *s = t_report(m, MM_REPORT_IOMEM);
    char line[128];

    ck_assert_str_eq(line_of(s, 0, line, sizeof(line)), "40000000-6f7fffff : System RAM");
    free(s);
    mm_destroy(m);
}
END_TEST

/* ---- /proc/buddyinfo ---- */

START_TEST(test_buddyinfo_format)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *s = t_report(m, MM_REPORT_BUDDYINFO);
    struct mm_stats st;
    char want[512] = "";

    mm_get_stats(m, &st);
    for (unsigned i = 0; i < st.nr_zones; i++) {
        if (st.zone[i].present == 0)
            continue;
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "Node 0, zone %8s ",
                 st.zone[i].name);
        for (unsigned o = 0; o < MM_MAX_ORDER; o++)
            snprintf(want + strlen(want), sizeof(want) - strlen(want), "%6u ",
                     st.zone[i].nr_free[o]);
        strcat(want, "\n");
    }
    ck_assert_str_eq(s, want);
    ck_assert(strncmp(s, "Node 0, zone   Normal ", 22) == 0);
    ck_assert_ptr_nonnull(strstr(s, "\nNode 0, zone  HighMem "));
    ck_assert_uint_eq(strcspn(s, "\n"), 13 + 8 + 1 + 7 * MM_MAX_ORDER);
    free(s);
    mm_destroy(m);
}
END_TEST

/* An empty HighMem zone (BBB: 510 MiB, all lowmem) is not listed. */
START_TEST(test_buddyinfo_skips_unpopulated_zone)
{
    struct mm_machine *m = t_machine("beaglebone-black", NULL);
    char *s = t_report(m, MM_REPORT_BUDDYINFO);

    ck_assert_ptr_null(strstr(s, "HighMem"));
    ck_assert(strncmp(s, "Node 0, zone   Normal ", 22) == 0);
    free(s);
    mm_destroy(m);
}
END_TEST

/* Debian's armmp 6.1: CONFIG_ZONE_DMA with no platform dma_zone_size puts
 * all lowmem in ZONE_DMA; Normal is empty and not listed. */
START_TEST(test_61_armmp_lowmem_is_zone_dma)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *s = t_report(m, MM_REPORT_BUDDYINFO);
    struct mm_stats st;
    struct mm_result r;

    ck_assert(strncmp(s, "Node 0, zone      DMA ", 22) == 0);
    ck_assert_ptr_null(strstr(s, "Normal"));
    ck_assert_ptr_nonnull(strstr(s, "\nNode 0, zone  HighMem "));
    ck_assert_uint_eq(m->lay.dma_end_pfn, m->lay.max_low_pfn);
    mm_get_stats(m, &st);
    ck_assert_str_eq(st.zone[0].name, "DMA");
    ck_assert_uint_eq(st.zone[0].end_pfn, 0x70000);
    /* GFP_KERNEL falls back to ZONE_DMA */
    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &r), MM_OK);
    ck_assert_uint_lt(r.value, 0x70000);
    free(s);
    mm_destroy(m);
}
END_TEST

/* Debian's armmp 6.1: struct page is 36 bytes (CONFIG_MEMCG) and mem_map
 * spans MAX_ORDER_NR_PAGES = 2048-aligned pfns (ARCH_FORCE_MAX_ORDER=12):
 * 1 GiB at 0x40000000 takes 0x40000 * 36 bytes = 9 MiB, 1 MiB more than
 * 0x40000 * 32 bytes on a build without MEMCG. */
START_TEST(test_61_armmp_mem_map_36_byte_pages)
{
    /* the same non-default image on both and no device tree, so only
     * mem_map differs */
    struct mm_machine *a = t_machine("qemu-virt", "kernel=6.1", "bss=2M", "fdt=none", NULL);
    struct mm_machine *b = t_machine(NULL, "kernel=6.1", "cpus=2", "bss=2M", NULL);

    ck_assert_uint_eq(a->cma_pages, 4096);
    /* a also freed its 1 MiB of init sections after boot (config version 3) */
    ck_assert_uint_eq(a->initmem_pages, 256);
    /* and took 768K of dentry and inode hash tables and a page of smaller
     * early allocations (config version 5; no device tree here) */
    ck_assert_uint_eq(a->boot_reserved_pages + a->initmem_pages - a->cma_pages -
                          b->boot_reserved_pages,
                      256 + 192 + 1);
    mm_destroy(a);
    mm_destroy(b);
}
END_TEST

/* Debian's armmp: CONFIG_CMA_SIZE_MBYTES=16, placed top-down in highmem
 * with 8 MiB alignment (pageblock_order 11); the Memory: line counts it as
 * cma-reserved and leaves it out of highmem; after boot it is free memory
 * again (CmaTotal/CmaFree).  cma=32M on the cmdline doubles it. */
START_TEST(test_61_armmp_cma_default_and_cmdline)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *mem = t_report(m, MM_REPORT_MEMORY);
    char *mi = t_report(m, MM_REPORT_MEMINFO);

    ck_assert_uint_eq(m->cma_base, 0x7f000000u);
    ck_assert_uint_eq(m->cma_pages, 4096);
    ck_assert_ptr_nonnull(strstr(mem, ", 16384K cma-reserved, 245760K highmem)\n"));
    ck_assert_ptr_nonnull(strstr(mi, "HighTotal:        262144 kB\n"));
    /* less the 256 KiB DMA atomic pool (atomic_pool_init()) */
    ck_assert_ptr_nonnull(strstr(mi, "\nCmaTotal:          16384 kB\n"
                                     "CmaFree:           16128 kB\n"));
    free(mem);
    free(mi);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", "cmdline=cma=32M", NULL);
    ck_assert_uint_eq(m->cma_base, 0x7e000000u);
    ck_assert_uint_eq(m->cma_pages, 8192);
    mm_destroy(m);
    /* no CONFIG_CMA outside the reference build */
    m = t_machine("qemu-virt", NULL);
    ck_assert_uint_eq(m->cma_pages, 0);
    mm_destroy(m);
}
END_TEST

START_TEST(test_buddyinfo_dma_zone)
{
    struct mm_machine *m = t_machine(NULL, "dma_zone=256M", NULL);
    char *s = t_report(m, MM_REPORT_BUDDYINFO);

    ck_assert(strncmp(s, "Node 0, zone      DMA ", 22) == 0);
    free(s);
    mm_destroy(m);
}
END_TEST

/* ---- /proc/meminfo ---- */

START_TEST(test_meminfo_aries)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *s = t_report(m, MM_REPORT_MEMINFO);
    struct counts c;
    char want[512];

    counts_of(m, &c);
    snprintf(want, sizeof(want),
             "MemTotal:       %8llu kB\nMemFree:        %8llu kB\n"
             "HighTotal:      %8llu kB\nHighFree:       %8llu kB\n"
             "LowTotal:       %8llu kB\nLowFree:        %8llu kB\n"
             "VmallocTotal:     245760 kB\nVmallocUsed:           0 kB\n",
             c.managed * 4, c.free * 4, c.high * 4, c.high * 4,
             (c.managed - c.high) * 4, (c.free - c.high) * 4);
    ck_assert_str_eq(s, want);
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_meminfo_no_highmem_lines)
{
    struct mm_machine *m = t_machine("rpi2", NULL);
    char *s = t_report(m, MM_REPORT_MEMINFO);

    ck_assert_ptr_null(strstr(s, "High"));
    ck_assert_ptr_null(strstr(s, "Low"));
    ck_assert_ptr_nonnull(strstr(s, "\nVmallocTotal:    1114112 kB\n"));
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_meminfo_memfree_follows_allocations)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result res;
    struct counts c;
    char *s, want[64];

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 2, &res), MM_OK);
    t_check(m);
    counts_of(m, &c);
    s = t_report(m, MM_REPORT_MEMINFO);
    snprintf(want, sizeof(want), "MemFree:        %8llu kB\n", c.free * 4);
    ck_assert_ptr_nonnull(strstr(s, want));
    ck_assert_uint_eq(c.managed - c.free, 4);
    free(s);
    mm_destroy(m);
}
END_TEST

/* KERNEL: 3.4 get_vmalloc_info(): area sizes include the guard page. */
START_TEST(test_meminfo_vmalloc_used_34_includes_guard)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result res;
    char *s;

    ck_assert_int_eq(mm_vmalloc(m, 8192, &res), MM_OK);
    t_check(m);
    s = t_report(m, MM_REPORT_MEMINFO);
    ck_assert_ptr_nonnull(strstr(s, "\nVmallocUsed:          12 kB\n"));
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_meminfo_vmalloc_used_module_area_not_counted)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result res;
    char *s;

    ck_assert_int_eq(mm_module_alloc(m, 8192, &res), MM_OK);
    s = t_report(m, MM_REPORT_MEMINFO);
    ck_assert_ptr_nonnull(strstr(s, "\nVmallocUsed:           0 kB\n"));
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_meminfo_vmalloc_used_44_zero)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.4", NULL);
    struct mm_result res;
    char *s;

    ck_assert_int_eq(mm_vmalloc(m, 8192, &res), MM_OK);
    s = t_report(m, MM_REPORT_MEMINFO);
    ck_assert_ptr_nonnull(strstr(s, "\nVmallocUsed:           0 kB\n"));
    free(s);
    mm_destroy(m);
}
END_TEST

START_TEST(test_meminfo_vmalloc_used_510_pages)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=5.10", NULL);
    struct mm_result res;
    char *s;

    ck_assert_int_eq(mm_vmalloc(m, 8192, &res), MM_OK);
    s = t_report(m, MM_REPORT_MEMINFO);
    ck_assert_ptr_nonnull(strstr(s, "\nVmallocUsed:           8 kB\n"));
    free(s);
    mm_destroy(m);
}
END_TEST

/* ---- dispatcher ---- */

START_TEST(test_each_preset_boots_and_reports)
{
    size_t n;
    const struct mm_preset_info *p = mm_presets(&n);
    struct mm_machine *m = t_machine(p[_i].name, NULL);

    t_check(m);
    for (unsigned r = 0; r < MM_REPORT_COUNT; r++) {
        struct mm_buf b = {0};
        enum mm_status st = mm_report(m, (enum mm_report)r, &b);
        bool zoneinfo_era = r != MM_REPORT_ZONEINFO ||
                            mm_machine_config(m)->kernel >= MM_KVER(6, 1, 0);

        ck_assert_msg(st == (zoneinfo_era ? MM_OK : MM_NOT_FOUND), "%s: %s", mm_report_name((enum mm_report)r),
                      mm_status_name(st));
        ck_assert(!b.oom);
        mm_buf_free(&b);
    }
    mm_destroy(m);
}
END_TEST

START_TEST(test_report_names_and_lookup)
{
    enum mm_report r;

    ck_assert_str_eq(mm_report_name(MM_REPORT_LAYOUT), "layout");
    ck_assert_str_eq(mm_report_name(MM_REPORT_PAGETABLES), "pagetables");
    ck_assert_ptr_null(mm_report_name(MM_REPORT_COUNT));
    for (unsigned i = 0; i < MM_REPORT_COUNT; i++) {
        ck_assert(mm_report_lookup(mm_report_name((enum mm_report)i), &r));
        ck_assert_int_eq(r, (enum mm_report)i);
    }
    ck_assert(!mm_report_lookup("slabinfo", &r));
}
END_TEST

START_TEST(test_report_unknown_id)
{
    struct mm_machine *m = t_machine(NULL, NULL);
    struct mm_buf b = {0};

    ck_assert_int_eq(mm_report(m, MM_REPORT_COUNT, &b), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(b.data, "report: unknown report 11\n");
    mm_buf_free(&b);
    mm_destroy(m);
}
END_TEST

Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    size_t npresets;

    mm_presets(&npresets);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_aries_layout_matches_real_boot);
    tcase_add_test(tc, test_aries_layout_without_timers);
    tcase_add_test(tc, test_34_layout_dma_line_with_consistent_window);
    tcase_add_test(tc, test_2635_layout_form);
    tcase_add_test(tc, test_419_layout_qemu_virt);
    tcase_add_test(tc, test_318_layout_fixmap_2m);
    tcase_add_test(tc, test_rpi2_layout);
    tcase_add_test(tc, test_bbb_layout);
    tcase_add_test(tc, test_61_layout_not_printed);
    tcase_add_test(tc, test_50_layout_still_printed);
    tcase_add_test(tc, test_aries_memory_bank_line);
    tcase_add_test(tc, test_aries_memory_totals_line);
    tcase_add_test(tc, test_memory_line_is_boot_time);
    tcase_add_test(tc, test_2635_memory_lists_split_banks);
    tcase_add_test(tc, test_314_memory_generic_line);
    tcase_add_test(tc, test_419_memory_generic_line_cma);
    tcase_add_test(tc, test_memory_line_without_highmem);
    tcase_add_test(tc, test_aries_iomem_matches_real);
    tcase_add_test(tc, test_iomem_conflicting_reserve_hidden);
    tcase_add_test(tc, test_iomem_no_highmem_lists_kept_ram_only);
    tcase_add_test(tc, test_buddyinfo_format);
    tcase_add_test(tc, test_buddyinfo_skips_unpopulated_zone);
    tcase_add_test(tc, test_buddyinfo_dma_zone);
    tcase_add_test(tc, test_meminfo_aries);
    tcase_add_test(tc, test_meminfo_no_highmem_lines);
    tcase_add_test(tc, test_meminfo_memfree_follows_allocations);
    tcase_add_test(tc, test_meminfo_vmalloc_used_34_includes_guard);
    tcase_add_test(tc, test_meminfo_vmalloc_used_module_area_not_counted);
    tcase_add_test(tc, test_meminfo_vmalloc_used_44_zero);
    tcase_add_test(tc, test_meminfo_vmalloc_used_510_pages);
    tcase_add_loop_test(tc, test_each_preset_boots_and_reports, 0, (int)npresets);
    tcase_add_test(tc, test_report_names_and_lookup);
    tcase_add_test(tc, test_report_unknown_id);
    tcase_add_test(tc, test_61_ram_to_4g_loses_last_page);
    tcase_add_test(tc, test_regions_61_debian_armmp);
    tcase_add_test(tc, test_61_armmp_iomem_devices);
    tcase_add_test(tc, test_regions_aries);
    tcase_add_test(tc, test_region_names_61);
    tcase_add_test(tc, test_vmalloc_avoids_pci_io_61);
    tcase_add_test(tc, test_61_armmp_lowmem_is_zone_dma);
    tcase_add_test(tc, test_61_armmp_mem_map_36_byte_pages);
    tcase_add_test(tc, test_61_armmp_cma_default_and_cmdline);
    tcase_add_test(tc, test_zoneinfo_61_debian_armmp);
    tcase_add_test(tc, test_meminfo_61_lines);
    tcase_add_test(tc, test_61_boot_zone_lines);
    tcase_add_test(tc, test_61_armmp_kernel_image);
    tcase_add_test(tc, test_zoneinfo_61_lowmem_only);
    tcase_add_test(tc, test_zoneinfo_refused_before_61);
    tcase_add_test(tc, test_cma_counted_in_zone_after_boot);
    suite_add_tcase(s, tc);
    return s;
}
