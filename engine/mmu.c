/* engine/mmu.c - the emulated MMU: translation table walks, the direct map.
 *
 * mm_translate() walks swapper_pg_dir exactly as an ARMv7-A MMU with the
 * short-descriptor format does (TTBCR.N = 0, so TTBR0 translates every
 * address; no LPAE, no PXN): it reads the first-level descriptor at
 * TTBR0[31:14] | VA[31:20] << 2 from emulated physical memory, and for a
 * page table the second-level descriptor at L1[31:10] | VA[19:12] << 2.
 * Descriptor type 0b11 at level 1 is a translation fault (no PXN support).
 * When an access is given, the domain of the first-level descriptor is
 * checked against DACR (00 or 10: domain fault; 11 manager: no further
 * checks; 01 client) and then AP[2:0] (SCTLR.AFE = 0) for the privilege
 * level and read / write / execute, and XN for execute (an instruction
 * fetch also needs read permission).  Faults are typed as the FSR types
 * them: translation / domain / permission, section (level 1) or page
 * (level 2).  An access of just MM_ACC_USER is checked as a PL0 read.
 *
 * Design: one walker, walk(), serves the traced single translation and the
 * batch; with a NULL trace the compiler drops the tracing.  The walk
 * context holds the pgd's four host pages (fetched once), the DACR the
 * access runs under, a table of which AP/XN pairs the access may use, and
 * a small cache of second-level host pages.  The batch also remembers the
 * last block walked (a section, a page, or a faulting MiB) and answers
 * addresses inside it without walking; results are therefore identical to
 * mm_translate()'s, which the tests check.
 *
 * The registers are the ones the kernel loads: TTBR0 = swapper_pg_dir |
 * the TTB walk attributes (3.4 proc-v7-2level.S TTB_FLAGS_SMP 0x6a /
 * TTB_FLAGS_UP 0x59); TTBCR = 0; DACR = 0x15 up to 4.2 (head.S: user,
 * kernel and IO domains client, since DOMAIN_MANAGER is 1 without
 * CPU_USE_DOMAINS); from 4.3 CONFIG_CPU_SW_DOMAIN_PAN (default y) gives
 * 0x51 in the kernel (user domain no access) and 0x55 while user space
 * runs, so PL1 accesses walk under 0x51 and PL0 accesses under 0x55.
 * Kernels before 2.6.38 still switched domains on v7 (CPU_USE_DOMAINS);
 * that is not modelled: they walk with 3.4's DACR.
 * SCTLR = (reset & ~clear) | mmuset of proc-v7.S v7_crval (clear
 * 0x0120c302, mmuset 0x10c03c7d), with SW cleared when SWP_EMULATE (default
 * y on SMP), TE with a Thumb-2 kernel, and A cleared again by
 * alignment_init() on v7; the reset value assumed is 0x00c50078 (the
 * Cortex-A9/A15 reset value: RES1 bits 3-6, 16, 18, 22, 23).  So an SMP
 * machine reads 0x10c5387d, a UP one 0x10c53c7d.
 *
 * Emulates: the ARMv7 VMSA short-descriptor translation (ARM DDI 0406C
 * B3.5, B3.7); arch/arm/include/asm/memory.h __pa(), __va(),
 * virt_to_page(); mm/highmem.c page_address(); arch/arm/kernel/head.S
 * __enable_mmu (DACR); arch/arm/mm/proc-v7.S __v7_setup (SCTLR);
 * arch/arm/mm/proc-v7-2level.S v7_ttb_setup (TTBR0, TTBCR).
 */
#include "mm_int.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define PAGE_MASK32 0xfffff000u

/* ------------------------------------------------------------------ */
/* Registers                                                           */
/* ------------------------------------------------------------------ */

static bool is_smp(const struct mm_machine *m)
{
    return m->lay.smp; /* CONFIG_SMP on an MP-capable ARMv7 core */
}

/* PAN (privileged no-access through the user domain), 4.3+.
 * KERNEL: 4.19 arch/arm/include/asm/domain.h DACR_INIT, DACR_UACCESS_* */
static bool has_pan(const struct mm_machine *m)
{
    return m->cfg.kernel >= MM_KVER(4, 3, 0);
}

/* The DACR in force for an access from PL0 (@user) or PL1. */
static uint32_t dacr_for(const struct mm_machine *m, bool user)
{
    if (!has_pan(m))
        return 0x15;           /* KERNEL: 3.4 head.S: domains 0-2 client */
    return user ? 0x55 : 0x51; /* DACR_UACCESS_ENABLE / DACR_INIT */
}

void mm_get_mmu_regs(const struct mm_machine *m, struct mm_mmu_regs *regs)
{
    /* KERNEL: 3.4 proc-v7.S v7_crval clear=0x0120c302, mmuset=0x10c03c7d */
    uint32_t clear = 0x0120c302u, mmuset = 0x10c03c7du, reset = 0x00c50078u;

    /* KERNEL: 3.4 arch/arm/mm/Kconfig SWP_EMULATE "default y if SMP" */
    if (is_smp(m)) {
        clear |= 1u << 10;
        mmuset &= ~(1u << 10);
    }
    if (m->cfg.thumb2)
        mmuset |= 1u << 30; /* THUMB( orr r0, r0, #1 << 30 ) */
    /* KERNEL: 3.4 proc-v7-2level.S TTB_FLAGS_SMP 0x6a, TTB_FLAGS_UP 0x59 */
    regs->ttbr0 = m->lay.pgd_pa | (is_smp(m) ? 0x6au : 0x59u);
    regs->ttbcr = 0;
    regs->dacr = dacr_for(m, false);
    /* KERNEL: 3.4 arch/arm/mm/alignment.c alignment_init(): v7 clears CR_A */
    regs->sctlr = ((reset & ~clear) | mmuset) & ~(1u << 1);
}

/* ------------------------------------------------------------------ */
/* The walk                                                            */
/* ------------------------------------------------------------------ */

#define L2_CACHE 8 /* second-level host pages remembered */

/* The walk is inlined into both callers so that the batch's copy loses the
 * tracing and keeps its state in registers. */
#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

struct walk_ctx {
    const struct mm_phys *phys;
    const uint32_t *pgd[4]; /* swapper_pg_dir's host pages (NULL: zero) */
    bool check;             /* an access was given */
    uint8_t dom[16];        /* per domain: DACR field in force */
    uint8_t perm_ok[16];    /* [ap << 1 | xn]: the access is allowed */
    mm_pfn_t l2_pfn[L2_CACHE];
    const uint32_t *l2_page[L2_CACHE];
};

/* AP[2:0] with SCTLR.AFE = 0: readable / writable at PL1 and at PL0
 * (ARM DDI 0406C table B3-8; 0b100 is reserved and treated as no access). */
static const uint8_t ap_pl1_r[8] = { 0, 1, 1, 1, 0, 1, 1, 1 };
static const uint8_t ap_pl1_w[8] = { 0, 1, 1, 1, 0, 0, 0, 0 };
static const uint8_t ap_pl0_r[8] = { 0, 0, 1, 1, 0, 0, 1, 1 };
static const uint8_t ap_pl0_w[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };

static void ctx_init(struct walk_ctx *c, const struct mm_machine *m, unsigned access)
{
    bool user = (access & MM_ACC_USER) != 0;
    unsigned want = access & (MM_ACC_READ | MM_ACC_WRITE | MM_ACC_EXEC);
    uint32_t dacr = dacr_for(m, user);
    mm_pfn_t base = MM_PFN(m->lay.pgd_pa & 0xffffc000u);

    assert((m->lay.pgd_pa & 0x3fffu) == 0);
    memset(c, 0, sizeof(*c));
    c->phys = m->phys;
    for (unsigned i = 0; i < 4; i++)
        c->pgd[i] = mm__phys_page(m->phys, base + i);
    for (unsigned i = 0; i < L2_CACHE; i++)
        c->l2_pfn[i] = 0xffffffffu;
    c->check = access != 0;
    if (want == 0)
        want = MM_ACC_READ; /* a bare MM_ACC_USER: a PL0 read */
    for (unsigned d = 0; d < 16; d++)
        c->dom[d] = (uint8_t)((dacr >> (2 * d)) & 3);
    for (unsigned ap = 0; ap < 8; ap++) {
        bool r = user ? ap_pl0_r[ap] : ap_pl1_r[ap];
        bool w = user ? ap_pl0_w[ap] : ap_pl1_w[ap];

        for (unsigned xn = 0; xn < 2; xn++) {
            bool ok = true;

            if ((want & (MM_ACC_READ | MM_ACC_EXEC)) && !r)
                ok = false;
            if ((want & MM_ACC_WRITE) && !w)
                ok = false;
            if ((want & MM_ACC_EXEC) && xn)
                ok = false;
            c->perm_ok[ap << 1 | xn] = ok;
        }
    }
}

/* The host page holding second-level descriptor @pa (NULL: reads zero). */
static inline const uint32_t *l2_page(struct walk_ctx *c, mm_paddr_t pa)
{
    mm_pfn_t pfn = MM_PFN(pa);
    unsigned slot = (pfn ^ (pfn >> 3)) & (L2_CACHE - 1);

    if (c->l2_pfn[slot] != pfn) {
        c->l2_pfn[slot] = pfn;
        c->l2_page[slot] = mm__phys_page(c->phys, pfn);
    }
    return c->l2_page[slot];
}

/* Domain then permission check of a translated descriptor. */
static inline enum mm_fault check_access(const struct walk_ctx *c, unsigned domain,
                                         unsigned ap, unsigned xn, int level)
{
    unsigned d = c->dom[domain];

    if (d == 0 || d == 2) /* no access, or the reserved value */
        return level == 1 ? MM_FAULT_DOMAIN_L1 : MM_FAULT_DOMAIN_L2;
    if (d == 3) /* manager: no permission checks */
        return MM_FAULT_NONE;
    if (!c->perm_ok[ap << 1 | xn])
        return level == 1 ? MM_FAULT_PERMISSION_L1 : MM_FAULT_PERMISSION_L2;
    return MM_FAULT_NONE;
}

/* Records a first-level step with the section / supersection fields. */
static void trace_l1(struct mm_walk_step *s, mm_paddr_t addr, uint32_t d, unsigned kind)
{
    memset(s, 0, sizeof(*s));
    s->level = 1;
    s->kind = (uint8_t)kind;
    s->addr = addr;
    s->desc = d;
    if (kind == MM_DESC_PAGE_TABLE) {
        s->domain = (d >> 5) & 15;
        s->next = d & 0xfffffc00u;
    } else if (kind == MM_DESC_SECTION || kind == MM_DESC_SUPERSECTION) {
        s->domain = kind == MM_DESC_SECTION ? (d >> 5) & 15 : 0;
        s->ap = (uint8_t)(((d >> 15) & 1) << 2 | ((d >> 10) & 3));
        s->tex = (d >> 12) & 7;
        s->c = (d >> 3) & 1;
        s->b = (d >> 2) & 1;
        s->s = (d >> 16) & 1;
        s->ng = (d >> 17) & 1;
        s->xn = (d >> 4) & 1;
        s->next = d & (kind == MM_DESC_SECTION ? 0xfff00000u : 0xff000000u);
    }
}

/* Records a second-level step; @domain is the one its table's entry gives. */
static void trace_l2(struct mm_walk_step *s, mm_paddr_t addr, uint32_t d, unsigned kind,
                     unsigned domain)
{
    memset(s, 0, sizeof(*s));
    s->level = 2;
    s->kind = (uint8_t)kind;
    s->addr = addr;
    s->desc = d;
    s->domain = (uint8_t)domain;
    if (kind == MM_DESC_SMALL_PAGE) {
        s->ap = (uint8_t)(((d >> 9) & 1) << 2 | ((d >> 4) & 3));
        s->tex = (d >> 6) & 7;
        s->xn = d & 1;
        s->next = d & 0xfffff000u;
    } else if (kind == MM_DESC_LARGE_PAGE) {
        s->ap = (uint8_t)(((d >> 9) & 1) << 2 | ((d >> 4) & 3));
        s->tex = (d >> 12) & 7;
        s->xn = (d >> 15) & 1;
        s->next = d & 0xffff0000u;
    }
    if (kind != MM_DESC_FAULT) {
        s->c = (d >> 3) & 1;
        s->b = (d >> 2) & 1;
        s->s = (d >> 10) & 1;
        s->ng = (d >> 11) & 1;
    }
}

/*
 * One translation table walk.  Returns the fault; on success *@pa is the
 * physical address.  *@span receives the size mask of the block whose
 * addresses all give this same result: the MiB for anything decided at the
 * first level (a supersection's 16 entries are each read on their own, as
 * the hardware would), the 4 KiB page otherwise.  @w, if not
 * NULL, receives the steps.
 */
static inline ALWAYS_INLINE enum mm_fault walk(struct walk_ctx *c, mm_paddr_t ttb,
                                               mm_vaddr_t va, mm_paddr_t *pa,
                                               uint32_t *span, struct mm_walk *w)
{
    unsigned idx = va >> 20;
    const uint32_t *pg = c->pgd[idx >> 10];
    uint32_t l1 = pg != NULL ? pg[idx & 1023] : 0;
    mm_paddr_t l1_addr = ttb | (idx << 2);
    unsigned domain, ap, xn;
    mm_paddr_t l2_addr;
    const uint32_t *l2pg;
    uint32_t l2;

    *span = 0x000fffffu;
    switch (l1 & 3) {
    case 0:
    case 3: /* 0b11 without PXN: reserved, faults */
        if (w != NULL) {
            trace_l1(&w->step[0], l1_addr, l1, MM_DESC_FAULT);
            w->nsteps = 1;
        }
        return MM_FAULT_TRANSLATION_L1;
    case 2:
        if (l1 & (1u << 18)) { /* supersection: domain 0 */
            *pa = (l1 & 0xff000000u) | (va & 0x00ffffffu);
            domain = 0;
        } else {
            *pa = (l1 & 0xfff00000u) | (va & 0x000fffffu);
            domain = (l1 >> 5) & 15;
        }
        if (w != NULL) {
            trace_l1(&w->step[0], l1_addr, l1,
                     (l1 & (1u << 18)) ? MM_DESC_SUPERSECTION : MM_DESC_SECTION);
            w->nsteps = 1;
        }
        if (!c->check)
            return MM_FAULT_NONE;
        ap = ((l1 >> 15) & 1) << 2 | ((l1 >> 10) & 3);
        return check_access(c, domain, ap, (l1 >> 4) & 1, 1);
    default:
        break;
    }
    domain = (l1 >> 5) & 15;
    l2_addr = (l1 & 0xfffffc00u) | ((va >> 10) & 0x3fcu);
    l2pg = l2_page(c, l2_addr);
    l2 = l2pg != NULL ? l2pg[(l2_addr & 0xfffu) >> 2] : 0;
    *span = 0x00000fffu;
    if (w != NULL) {
        trace_l1(&w->step[0], l1_addr, l1, MM_DESC_PAGE_TABLE);
        trace_l2(&w->step[1], l2_addr, l2,
                 (l2 & 3) == 0   ? MM_DESC_FAULT
                 : (l2 & 3) == 1 ? MM_DESC_LARGE_PAGE
                                 : MM_DESC_SMALL_PAGE,
                 domain);
        w->nsteps = 2;
    }
    switch (l2 & 3) {
    case 0:
        return MM_FAULT_TRANSLATION_L2;
    case 1: /* 64 KiB large page */
        *pa = (l2 & 0xffff0000u) | (va & 0xffffu);
        ap = ((l2 >> 9) & 1) << 2 | ((l2 >> 4) & 3);
        xn = (l2 >> 15) & 1;
        break;
    default: /* 4 KiB small page */
        *pa = (l2 & 0xfffff000u) | (va & 0xfffu);
        ap = ((l2 >> 9) & 1) << 2 | ((l2 >> 4) & 3);
        xn = l2 & 1;
        break;
    }
    if (!c->check)
        return MM_FAULT_NONE;
    return check_access(c, domain, ap, xn, 2);
}

enum mm_status mm_translate(const struct mm_machine *m, mm_vaddr_t va, unsigned access,
                            struct mm_walk *w)
{
    struct walk_ctx c;
    mm_paddr_t pa = 0;
    uint32_t span;
    enum mm_fault f;

    assert(w != NULL);
    memset(w, 0, sizeof(*w));
    ctx_init(&c, m, access);
    w->va = va;
    f = walk(&c, m->lay.pgd_pa & 0xffffc000u, va, &pa, &span, w);
    w->fault = f;
    w->pa = f == MM_FAULT_NONE ? pa : 0;
    return f == MM_FAULT_NONE ? MM_OK : MM_FAULT;
}

size_t mm_translate_batch(const struct mm_machine *m, const mm_vaddr_t *va, size_t n,
                          unsigned access, mm_paddr_t *pa, uint8_t *fault)
{
    struct walk_ctx c;
    mm_paddr_t ttb = m->lay.pgd_pa & 0xffffc000u;
    /* The last block walked: addresses with (v & ~mask) == base share it. */
    uint32_t base = 0, mask = 0, out = 0;
    uint8_t last = 0;
    size_t ok = 0;

    if (n == 0)
        return 0;
    ctx_init(&c, m, access);
    for (size_t i = 0; i < n; i++) {
        mm_vaddr_t v = va[i];

        if (i == 0 || (v & ~mask) != base) {
            mm_paddr_t p = 0;

            last = (uint8_t)walk(&c, ttb, v, &p, &mask, NULL);
            base = v & ~mask;
            out = last == MM_FAULT_NONE ? p & ~mask : 0;
        }
        if (last == MM_FAULT_NONE) {
            pa[i] = out | (v & mask);
            ok++;
        } else {
            pa[i] = 0;
        }
        fault[i] = last;
    }
    return ok;
}

/* ------------------------------------------------------------------ */
/* Names and text                                                      */
/* ------------------------------------------------------------------ */

const char *mm_fault_name(enum mm_fault f)
{
    static const char *const names[] = {
        [MM_FAULT_NONE] = "none",
        [MM_FAULT_TRANSLATION_L1] = "translation fault (level 1)",
        [MM_FAULT_TRANSLATION_L2] = "translation fault (level 2)",
        [MM_FAULT_DOMAIN_L1] = "domain fault (level 1)",
        [MM_FAULT_DOMAIN_L2] = "domain fault (level 2)",
        [MM_FAULT_PERMISSION_L1] = "permission fault (level 1)",
        [MM_FAULT_PERMISSION_L2] = "permission fault (level 2)",
    };

    if ((unsigned)f >= sizeof(names) / sizeof(names[0]))
        return "unknown fault";
    return names[f];
}

/* What AP[2:0] grants PL1 and PL0 (SCTLR.AFE = 0): "rw/--" and so on. */
static const char *ap_text(unsigned ap)
{
    static const char *const t[8] = {
        "--/--", "rw/--", "rw/ro", "rw/rw", "--/--", "ro/--", "ro/ro", "ro/ro",
    };

    return t[ap & 7];
}

/* Appends to @buf at *@len (snprintf-style: counts what did not fit). */
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int k;

    va_start(ap, fmt);
    if (*len < size)
        k = vsnprintf(buf + *len, size - *len, fmt, ap);
    else
        k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len += (size_t)k;
}

/* The attribute fields shared by sections and pages. */
static void put_attrs(char *buf, size_t size, size_t *len, const struct mm_walk_step *s)
{
    put(buf, size, len,
        " pa=0x%08x domain=%u ap=%u%u%u(%s) tex=%u%u%u c=%u b=%u s=%u"
        " ng=%u xn=%u\n",
        s->next, s->domain, (s->ap >> 2) & 1, (s->ap >> 1) & 1, s->ap & 1, ap_text(s->ap),
        (s->tex >> 2) & 1, (s->tex >> 1) & 1, s->tex & 1, s->c, s->b, s->s, s->ng, s->xn);
}

static void put_step(char *buf, size_t size, size_t *len, const struct mm_walk_step *s)
{
    static const char *const kinds[] = {
        [MM_DESC_FAULT] = "fault",      [MM_DESC_PAGE_TABLE] = "table",
        [MM_DESC_SECTION] = "section",  [MM_DESC_SUPERSECTION] = "supersection",
        [MM_DESC_LARGE_PAGE] = "large", [MM_DESC_SMALL_PAGE] = "small",
    };
    const char *kind = "?";

    if (s->kind < sizeof(kinds) / sizeof(kinds[0]))
        kind = kinds[s->kind];

    put(buf, size, len, "L%u 0x%08x: 0x%08x %s", s->level, s->addr, s->desc, kind);
    if (s->kind == MM_DESC_FAULT)
        put(buf, size, len, "\n");
    else if (s->kind == MM_DESC_PAGE_TABLE)
        put(buf, size, len, " l2=0x%08x domain=%u\n", s->next, s->domain);
    else
        put_attrs(buf, size, len, s);
}

/*
 * The format, one line each, fields in this order:
 *   L1 0xADDR: 0xDESC fault
 *   L1 0xADDR: 0xDESC table l2=0xBASE domain=D
 *   L1 0xADDR: 0xDESC section|supersection pa=0xBASE domain=D ap=AAA(PL1/PL0)
 *       tex=TTT c=C b=B s=S ng=G xn=X
 *   L2 0xADDR: 0xDESC fault
 *   L2 0xADDR: 0xDESC small|large pa=0xBASE domain=D ap=... (as above)
 *   VA 0xVVVVVVVV -> PA 0xPPPPPPPP
 *   VA 0xVVVVVVVV: <mm_fault_name()>
 * ADDR is the descriptor's physical address, BASE the next table or the
 * output block, PL1/PL0 each "rw", "ro" or "--"; an L2 line's domain is
 * its table's.
 */
size_t mm_walk_format(const struct mm_walk *w, char *buf, size_t size)
{
    size_t len = 0;

    if (size > 0)
        buf[0] = '\0';
    for (unsigned i = 0; i < w->nsteps && i < 2; i++)
        put_step(buf, size, &len, &w->step[i]);
    if (w->fault == MM_FAULT_NONE)
        put(buf, size, &len, "VA 0x%08x -> PA 0x%08x\n", w->va, w->pa);
    else
        put(buf, size, &len, "VA 0x%08x: %s\n", w->va, mm_fault_name(w->fault));
    return len;
}

/* ------------------------------------------------------------------ */
/* Regions and the direct map                                          */
/* ------------------------------------------------------------------ */

static bool in(mm_vaddr_t va, uint64_t start, uint64_t end)
{
    return va >= start && va < end;
}

enum mm_vregion mm_region_of(const struct mm_machine *m, mm_vaddr_t va)
{
    const struct mm_layout *lay = &m->lay;

    if (va < lay->task_size)
        return MM_VREGION_USER;
    if (in(va, lay->modules_vaddr, lay->modules_end))
        return MM_VREGION_MODULES;
    if (lay->pkmap_base != 0 &&
        in(va, lay->pkmap_base, (uint64_t)lay->pkmap_base + MM_LAST_PKMAP * MM_PAGE_SIZE))
        return MM_VREGION_PKMAP;
    if (in(va, lay->page_offset, lay->high_memory))
        return MM_VREGION_LOWMEM;
    if (lay->pci_io_base != 0 &&
        in(va, lay->pci_io_base, (uint64_t)lay->pci_io_base + MM_PCI_IO_SIZE))
        return MM_VREGION_PCI_IO;
    if (in(va, lay->vmalloc_start, lay->vmalloc_end))
        return mm__vmap_is_ioremap(m, va) ? MM_VREGION_IOREMAP : MM_VREGION_VMALLOC;
    if (lay->consistent_end != 0 && in(va, lay->consistent_start, lay->consistent_end))
        return MM_VREGION_CONSISTENT;
    if (lay->fdt_base != 0 &&
        in(va, lay->fdt_base, (uint64_t)lay->fdt_base + MM_FDT_FIXED_SIZE))
        return MM_VREGION_FDT;
    if (in(va, lay->fixaddr_start, lay->fixaddr_end))
        return MM_VREGION_FIXMAP;
    if (lay->timers_base != 0 &&
        in(va, lay->timers_base, (uint64_t)lay->timers_base + MM_PAGE_SIZE))
        return MM_VREGION_TIMERS;
    if (in(va, lay->vectors_base, lay->vectors_end))
        return MM_VREGION_VECTOR;
    return MM_VREGION_GAP;
}

const char *mm_vregion_name(enum mm_vregion r)
{
    static const char *const names[MM_VREGION_COUNT] = {
        [MM_VREGION_GAP] = "gap",
        [MM_VREGION_USER] = "user",
        [MM_VREGION_MODULES] = "modules",
        [MM_VREGION_PKMAP] = "pkmap",
        [MM_VREGION_LOWMEM] = "lowmem",
        [MM_VREGION_VMALLOC] = "vmalloc",
        [MM_VREGION_CONSISTENT] = "consistent",
        [MM_VREGION_FIXMAP] = "fixmap",
        [MM_VREGION_TIMERS] = "timers",
        [MM_VREGION_VECTOR] = "vector",
        [MM_VREGION_IOREMAP] = "ioremap",
        [MM_VREGION_FDT] = "fdt",
        [MM_VREGION_PCI_IO] = "pci-io",
    };

    return (unsigned)r < MM_VREGION_COUNT ? names[r] : "unknown";
}

const char *mm_region_name(const struct mm_machine *m, mm_vaddr_t va)
{
    return mm_vregion_name(mm_region_of(m, va));
}

static bool is_lowmem_va(const struct mm_machine *m, mm_vaddr_t va)
{
    return in(va, m->lay.page_offset, m->lay.high_memory);
}

enum mm_status mm_pa(const struct mm_machine *m, mm_vaddr_t va, mm_paddr_t *pa,
                     char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;

    if (!is_lowmem_va(m, va))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "pa: 0x%08x is in %s, not lowmem (0x%08x-0x%08x)", va,
                        mm_region_name(m, va), lay->page_offset, lay->high_memory);
    /* KERNEL: 3.4 arch/arm/include/asm/memory.h __virt_to_phys() */
    *pa = va - lay->page_offset + lay->phys_offset;
    return MM_OK;
}

enum mm_status mm_va(const struct mm_machine *m, mm_paddr_t pa, mm_vaddr_t *va,
                     char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;

    if (pa < lay->phys_offset || pa >= lay->lowmem_limit)
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "va: physical 0x%08x is not lowmem (0x%08x-0x%08x)", pa,
                        lay->phys_offset, (uint32_t)lay->lowmem_limit);
    /* KERNEL: 3.4 arch/arm/include/asm/memory.h __phys_to_virt() */
    *va = pa - lay->phys_offset + lay->page_offset;
    return MM_OK;
}

enum mm_status mm_virt_to_page(const struct mm_machine *m, mm_vaddr_t va, mm_pfn_t *pfn,
                               char err[MM_MSG_MAX])
{
    const struct mm_layout *lay = &m->lay;
    mm_pfn_t p;

    if (!is_lowmem_va(m, va))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "virt_to_page: 0x%08x is in %s, not lowmem (0x%08x-0x%08x)", va,
                        mm_region_name(m, va), lay->page_offset, lay->high_memory);
    p = MM_PFN(va - lay->page_offset + lay->phys_offset);
    if (!mm__pfn_valid(m, p))
        return mm__fail(err, MM_INVALID_ARGUMENT,
                        "virt_to_page: 0x%08x is lowmem but pfn 0x%x is not RAM", va, p);
    *pfn = p;
    return MM_OK;
}

enum mm_status mm_page_address(const struct mm_machine *m, mm_pfn_t pfn, mm_vaddr_t *va,
                               char err[MM_MSG_MAX])
{
    mm_vaddr_t v;

    if (!mm__pfn_valid(m, pfn))
        return mm__fail(err, MM_INVALID_ARGUMENT, "page_address: pfn 0x%x is not RAM",
                        pfn);
    if (!mm__pfn_highmem(m, pfn)) {
        /* KERNEL: 3.4 include/linux/mm.h lowmem_page_address() */
        *va = (mm_vaddr_t)(MM_PFN_PHYS(pfn) - m->lay.phys_offset + m->lay.page_offset);
        return MM_OK;
    }
    v = mm__pkmap_address(m, pfn);
    if (v == 0)
        return mm__fail(err, MM_NOT_FOUND,
                        "page_address: highmem pfn 0x%x is not kmapped "
                        "(the kernel returns NULL)",
                        pfn);
    *va = v;
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* Aliases                                                             */
/* ------------------------------------------------------------------ */

struct alias_sink {
    const struct mm_machine *m;
    struct mm_alias *out;
    size_t max, n;
};

static void alias_add(struct alias_sink *a, mm_vaddr_t va)
{
    if (a->n < a->max) {
        a->out[a->n].va = va;
        a->out[a->n].region = mm_region_of(a->m, va);
    }
    a->n++;
}

/* The 256 entries of the hardware table at @table for the MiB at @mbase. */
static void scan_l2(const struct mm_machine *m, struct alias_sink *a, mm_paddr_t table,
                    mm_vaddr_t mbase, mm_paddr_t pa)
{
    const uint32_t *pg = mm__phys_page(m->phys, MM_PFN(table));
    const uint32_t *t;

    if (pg == NULL)
        return;
    t = pg + (table & 0xc00u) / 4;
    for (unsigned j = 0; j < 256; j++) {
        uint32_t d = t[j], out;

        if ((d & 3) == 0)
            continue;
        if ((d & 3) == 1) /* large page: this entry's 4 KiB of it */
            out = (d & 0xffff0000u) | ((j << 12) & 0xf000u);
        else
            out = d & 0xfffff000u;
        if (out == (pa & PAGE_MASK32))
            alias_add(a, mbase | (j << 12) | (pa & 0xfffu));
    }
}

size_t mm__phys_aliases_walk(const struct mm_machine *m, mm_paddr_t pa,
                             struct mm_alias *out, size_t max)
{
    struct alias_sink a = { m, out, max, 0 };
    mm_pfn_t base = MM_PFN(m->lay.pgd_pa);

    for (unsigned i = 0; i < 4096; i++) {
        const uint32_t *pg = mm__phys_page(m->phys, base + i / 1024);
        uint32_t d = pg != NULL ? pg[i % 1024] : 0;
        mm_vaddr_t mbase = (mm_vaddr_t)i << 20;

        if ((d & 3) == 1) {
            scan_l2(m, &a, d & 0xfffffc00u, mbase, pa);
        } else if ((d & 3) == 2) {
            uint32_t blk = (d & (1u << 18)) ? (d & 0xff000000u) | (mbase & 0x00f00000u)
                                            : d & 0xfff00000u;

            if (blk == (pa & 0xfff00000u))
                alias_add(&a, mbase | (pa & 0x000fffffu));
        }
    }
    return a.n;
}
