/* engine/ptdump.c - the kernel_page_tables report, as arch/arm/mm/dump.c.
 *
 * CONFIG_ARM_PTDUMP's debugfs file walks swapper_pg_dir from address 0 to
 * the top and prints each run of pages (or sections) that share their
 * protection bits as one line, "0xSTART-0xEND   SIZE attrs", with a
 * "---[ name ]---" header where an address marker is crossed.  This file
 * walks the emulated tables the same way and prints the same text.
 *
 * Design: a direct transcription of dump.c's state machine (note_page()),
 * fed from the first-level words and the Linux PTEs in emulated memory.
 * Its quirks are kept on purpose: the first header ("Modules") is printed
 * at address 0, so user space and pkmap appear under it; markers advance
 * one per noted entry; a run whose masked bits are zero (unmapped, or a
 * PTE whose only bits are outside the masks) prints nothing; the Linux PTE
 * (not the hardware one) gives the attributes of a page.  Three forms:
 *  - before 4.19: no domain column (the form this file first modelled; the
 *    release that added the column was not read);
 *  - 4.19 (read): each run line also names the first-level domain
 *    ("KERNEL ", "USER   ", "IO     ", "VECTORS"), and a domain change
 *    starts a new run;
 *  - 5.11+ (6.1 read): the level name ("PGD" for a first-level entry on
 *    2-level tables, "PTE") before the domain, and the markers lose
 *    "vmalloc() End" and gain "FDT Area" at FDT_FIXED_BASE.  The level
 *    name's first release between 4.19 and 6.1 was not read; it is placed
 *    with the FDT move (5.11 era).
 * Vectors End is VECTORS_BASE + 2 pages in every form.
 *
 * Emulates: arch/arm/mm/dump.c (4.x, 4.19, 6.1) walk_pgd(), walk_pmd(),
 * walk_pte(), get_domain_name(), note_page(), dump_prot(),
 * address_markers[], pte_bits[], section_bits[].
 */
#include "mm_int.h"

#include <assert.h>
#include <inttypes.h>

/* KERNEL: arch/arm/include/asm/pgtable-2level-hwdef.h */
#define PMD_SECT_XN       (1u << 4)
#define PMD_SECT_AP_WRITE (1u << 10)
#define PMD_SECT_AP_READ  (1u << 11)
#define PMD_SECT_APX      (1u << 15)
#define PMD_SECT_S        (1u << 16)

/* KERNEL: arch/arm/include/asm/pgtable-2level.h L_PTE_MT_* (bits 2-5) */
#define L_PTE_MT(x)     ((uint32_t)(x) << 2)
#define L_PTE_MT_MASK32 L_PTE_MT(0x0f)

#define LEVEL_PMD 3 /* dump.c's pg_level[] index of a section */
#define LEVEL_PTE 4

struct prot_bits {
    uint32_t mask, val;
    const char *set, *clear;
};

/* KERNEL: 4.x arch/arm/mm/dump.c pte_bits[] (non-LPAE) */
static const struct prot_bits pte_bits[] = {
    { MM_L_PTE_USER, MM_L_PTE_USER, "USR", "   " },
    { MM_L_PTE_RDONLY, MM_L_PTE_RDONLY, "ro", "RW" },
    { MM_L_PTE_XN, MM_L_PTE_XN, "NX", "x " },
    { MM_L_PTE_SHARED, MM_L_PTE_SHARED, "SHD", "   " },
    { L_PTE_MT_MASK32, L_PTE_MT(0x00), "SO/UNCACHED", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x01), "MEM/BUFFERABLE/WC", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x02), "MEM/CACHED/WT", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x03), "MEM/CACHED/WBRA", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x06), "MEM/MINICACHE", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x07), "MEM/CACHED/WBWA", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x04), "DEV/SHARED", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x0c), "DEV/NONSHARED", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x09), "DEV/WC", NULL },
    { L_PTE_MT_MASK32, L_PTE_MT(0x0b), "DEV/CACHED", NULL },
};

#define SECT_AP_MASK (PMD_SECT_APX | PMD_SECT_AP_READ | PMD_SECT_AP_WRITE)

/* KERNEL: 4.x arch/arm/mm/dump.c section_bits[] (__LINUX_ARM_ARCH__ >= 6) */
static const struct prot_bits section_bits[] = {
    { SECT_AP_MASK, PMD_SECT_APX | PMD_SECT_AP_WRITE, "    ro", NULL },
    { SECT_AP_MASK, PMD_SECT_AP_WRITE, "    RW", NULL },
    { SECT_AP_MASK, PMD_SECT_AP_READ, "USR ro", NULL },
    { SECT_AP_MASK, PMD_SECT_AP_READ | PMD_SECT_AP_WRITE, "USR RW", NULL },
    { PMD_SECT_XN, PMD_SECT_XN, "NX", "x " },
    { PMD_SECT_S, PMD_SECT_S, "SHD", "   " },
};

#define NBITS(a) (sizeof(a) / sizeof((a)[0]))

struct addr_marker {
    uint32_t start;
    const char *name;
};

enum pt_form {
    PT_PLAIN = 0, /* no domain column */
    PT_DOMAIN,    /* 4.19: domain column */
    PT_LEVEL      /* 6.1: level name and domain */
};

struct pg_state {
    const struct mm_pt_sink *sink; /* gets each marker and run */
    const struct addr_marker *marker;
    uint32_t start;
    unsigned level;
    uint32_t prot;
    int domain; /* PMD_DOMAIN field of the run; -1 none */
    enum pt_form form;
    uint32_t pte_mask, sect_mask; /* level_mask() of LEVEL_PTE, LEVEL_PMD */
};

/* KERNEL: 4.19, 6.1 arch/arm/mm/dump.c get_domain_name() (non-LPAE) */
static const char *domain_name(int d)
{
    static const char *const names[] = { "KERNEL ", "USER   ", "IO     ", "VECTORS" };

    return d >= 0 && d < 4 ? names[d] : "unknown";
}

/* The OR of a level's masks (ptdump_init()); 0 for levels without bits. */
static uint32_t level_mask(unsigned level)
{
    const struct prot_bits *b = level == LEVEL_PMD ? section_bits : pte_bits;
    size_t n = level == LEVEL_PMD ? NBITS(section_bits) : NBITS(pte_bits);
    uint32_t mask = 0;

    if (level != LEVEL_PMD && level != LEVEL_PTE)
        return 0;
    for (size_t i = 0; i < n; i++)
        mask |= b[i].mask;
    return mask;
}

/* dump_prot(): the " set" or " clear" word per entry of the level's table,
 * into @run. */
static void dump_prot(const struct pg_state *st, struct mm_pt_run *run)
{
    const struct prot_bits *b = st->level == LEVEL_PMD ? section_bits : pte_bits;
    size_t n = st->level == LEVEL_PMD ? NBITS(section_bits) : NBITS(pte_bits);

    run->nattrs = 0;
    if (st->level != LEVEL_PMD && st->level != LEVEL_PTE)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *s = (st->prot & b[i].mask) == b[i].val ? b[i].set : b[i].clear;

        if (s != NULL && run->nattrs < NBITS(run->attrs))
            run->attrs[run->nattrs++] = s;
    }
}

/* Hands the run [st->start, addr) to the sink (addr 0: the top of 4 GiB). */
static void note_run(struct pg_state *st, uint32_t addr)
{
    struct mm_pt_run run;

    run.start = st->start;
    run.end = addr != 0 ? addr : 0x100000000ull;
    run.section = st->level == LEVEL_PMD;
    run.domain = st->form != PT_PLAIN ? st->domain : -1;
    dump_prot(st, &run);
    st->sink->run(st->sink->arg, &run);
}

static void note_marker(struct pg_state *st)
{
    st->sink->marker(st->sink->arg, st->marker->name, st->marker->start);
}

/* The text sink: "---[ name ]---" and one line per run, as dump.c prints. */
struct pt_text {
    struct mm_buf *out;
    enum pt_form form;
};

static void text_marker(void *arg, const char *name, uint32_t addr)
{
    struct pt_text *t = arg;

    (void)addr;
    mm__buf_printf(t->out, "---[ %s ]---\n", name);
}

/* The run with its size in the largest unit that divides it (K, M, G). */
static void text_run(void *arg, const struct mm_pt_run *run)
{
    static const char units[] = "KMG";
    struct pt_text *t = arg;
    const char *unit = units;
    uint32_t delta = (uint32_t)((run->end - run->start) >> 10);

    mm__buf_printf(t->out, "0x%08" PRIx32 "-0x%08" PRIx32 "   ", run->start,
                   (uint32_t)run->end);
    while (!(delta & 1023) && unit[1] != '\0') {
        delta >>= 10;
        unit++;
    }
    mm__buf_printf(t->out, "%9" PRIu32 "%c", delta, *unit);
    /* KERNEL: 6.1 dump.c "%9lu%c %s" with pg_level[].name, PGD on 2 levels */
    if (t->form == PT_LEVEL)
        mm__buf_printf(t->out, " %s", run->section ? "PGD" : "PTE");
    if (run->domain >= 0)
        mm__buf_printf(t->out, " %s", domain_name(run->domain));
    for (unsigned i = 0; i < run->nattrs; i++)
        mm__buf_printf(t->out, " %s", run->attrs[i]);
    mm__buf_printf(t->out, "\n");
}

/* note_page(): extends the current run or closes it and starts another,
 * for each of @n entries of @level from @addr on (a PTE table's 512, or
 * one section), @val NULL reading as zeros.  The loop over a table's
 * entries is here rather than in walk_pte(), so that the fuzz build's
 * entry for note_page() in tests/fuzz/nocov.txt (no coverage hooks) covers
 * its per-entry compares too. */
static void note_page(struct pg_state *st, uint32_t addr, unsigned level,
                      const uint32_t *val, unsigned n, int domain)
{
    uint32_t mask = level == LEVEL_PTE   ? st->pte_mask
                    : level == LEVEL_PMD ? st->sect_mask
                                         : 0;
    bool same;            /* the current run is of this level and domain */
    uint32_t want, limit; /* its bits; the next marker's address */

    if (st->form == PT_PLAIN)
        domain = -1;
    same = st->level == level && st->domain == domain;
    want = st->prot;
    limit = st->marker[1].start;
    for (unsigned i = 0; i < n; i++, addr += MM_PAGE_SIZE) {
        uint32_t prot = val != NULL ? val[i] & mask : 0;

        if (same && prot == want && addr < limit)
            continue; /* the run goes on: what the test below finds, in registers */
        if (st->level == 0) {
            st->level = level;
            st->prot = prot;
            st->domain = domain;
            note_marker(st);
        } else if (prot != st->prot || level != st->level || domain != st->domain ||
                   addr >= st->marker[1].start) {
            if (st->prot != 0)
                note_run(st, addr);
            if (addr >= st->marker[1].start) {
                st->marker++;
                note_marker(st);
            }
            st->start = addr;
            st->prot = prot;
            st->level = level;
            st->domain = domain;
        }
        same = st->level == level && st->domain == domain;
        want = st->prot;
        limit = st->marker[1].start;
    }
}

/* The domain field of a first-level entry (PMD_DOMAIN_MASK, bits 5-8). */
static int pmd_domain(uint32_t pmd)
{
    return (int)((pmd >> 5) & 0xf);
}

/* walk_pte(): the 512 Linux PTEs of the table the pgd entry points at. */
static void walk_pte(const struct mm_machine *m, struct pg_state *st, uint32_t pmd,
                     uint32_t addr)
{
    note_page(st, addr, LEVEL_PTE, mm__phys_page(m->phys, MM_PFN(pmd)), MM_PTRS_PER_PTE,
              pmd_domain(pmd));
}

/* walk_pmd(): pmd[0] (a section, empty, or a table), then pmd[1] if it is
 * a section (pmd_large()).  @l1: the pgd page holding entry 2 * @i, NULL
 * reads as 0 (as mm__l1_read() of a missing page). */
static void walk_pmd(const struct mm_machine *m, struct pg_state *st, unsigned i,
                     const uint32_t *l1)
{
    uint32_t addr = (uint32_t)i << 21;
    unsigned k = (2 * i) % 1024;
    uint32_t pmd0 = l1 != NULL ? l1[k] : 0, pmd1 = l1 != NULL ? l1[k + 1] : 0;

    if (pmd0 == 0 || (pmd0 & 2) != 0)
        note_page(st, addr, LEVEL_PMD, &pmd0, 1, pmd_domain(pmd0));
    else
        walk_pte(m, st, pmd0, addr);
    if (pmd1 & 2)
        note_page(st, addr + MM_SECTION_SIZE, LEVEL_PMD, &pmd1, 1, pmd_domain(pmd1));
}

static enum pt_form form_of(const struct mm_machine *m)
{
    return m->cfg.kernel >= MM_KVER(5, 11, 0)   ? PT_LEVEL
           : m->cfg.kernel >= MM_KVER(4, 19, 0) ? PT_DOMAIN
                                                : PT_PLAIN;
}

int mm__ptdump_form(const struct mm_machine *m)
{
    return (int)form_of(m);
}

/* The domain names without dump.c's padding, for report_json.c. */
const char *mm__ptdump_domain(int d)
{
    static const char *const names[] = { "KERNEL", "USER", "IO", "VECTORS" };

    return d >= 0 && d < 4 ? names[d] : "unknown";
}

void mm__ptdump_walk(const struct mm_machine *m, const struct mm_pt_sink *sink)
{
    const struct mm_layout *lay = &m->lay;
    enum pt_form form = form_of(m);
    /* KERNEL: 4.x, 4.19 arch/arm/mm/dump.c address_markers[]; 6.1 has
     * "FDT Area" at FDT_FIXED_BASE where 4.19 had "vmalloc() End" */
    const struct addr_marker markers[] = {
        { lay->modules_vaddr, "Modules" },
        { lay->page_offset, "Kernel Mapping" },
        { lay->vmalloc_start, "vmalloc() Area" },
        form == PT_LEVEL ? (struct addr_marker){ 0xff800000u, "FDT Area" }
                         : (struct addr_marker){ lay->vmalloc_end, "vmalloc() End" },
        { lay->fixaddr_start, "Fixmap Area" },
        { lay->vectors_base, "Vectors" },
        { lay->vectors_base + 2 * MM_PAGE_SIZE, "Vectors End" },
        { 0xffffffffu, NULL },
    };
    const uint32_t *l1 = NULL;
    struct pg_state st = {
        sink, markers, 0, 0, 0, -1, form, level_mask(LEVEL_PTE), level_mask(LEVEL_PMD)
    };

    assert(sink != NULL);
    /* pgd_none() and pud_none() are constant 0 with the folded levels, so
     * every pgd entry goes to walk_pmd(). */
    for (unsigned i = 0; i < MM_PTRS_PER_PGD; i++) {
        /* each of swapper_pg_dir's four pages looked up once, not per entry */
        if (i % 512 == 0)
            l1 = mm__phys_page(m->phys, MM_PFN(lay->pgd_pa) + i / 512);
        walk_pmd(m, &st, i, l1);
    }
    note_page(&st, 0, 0, NULL, 1, -1); /* level 0: no bits */
}

enum mm_status mm__report_pagetables(const struct mm_machine *m, struct mm_buf *out)
{
    struct pt_text t = { out, form_of(m) };
    const struct mm_pt_sink sink = { text_marker, text_run, &t };

    assert(out != NULL);
    mm__ptdump_walk(m, &sink);
    return out->oom ? MM_NO_MEMORY : MM_OK;
}
