/* client/cli_fuzz_model.c - the fuzzer's model of a machine.
 *
 * Written from the kernel's rules, not from the engine: the blocks it
 * allocated, the pkmap window, the per-CPU kmap_atomic stacks, the areas.
 * fz_check_op() checks one answer and applies the op; fz_check_translations()
 * compares every live mapping with the daemon's page tables.
 */
#include "cli_fuzz.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fz_why(char *why, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, WHY_MAX, fmt, ap);
    va_end(ap);
}

/* ---- machine facts ------------------------------------------------------- */

static uint32_t config_value(const char *config, const char *key,
                             const char **text)
{
    size_t n = strlen(key);
    const char *p = config;

    while (p && *p) {
        if (strncmp(p, key, n) == 0 && p[n] == '=') {
            if (text)
                *text = p + n + 1;
            return (uint32_t)strtoul(p + n + 1, NULL, 0);
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (text)
        *text = "";
    return 0;
}

static uint32_t lowmem_va(const struct model *m, uint32_t pfn)
{
    return m->page_offset + (pfn << 12) - m->phys_offset;
}

bool fz_is_high(const struct model *m, uint32_t pfn)
{
    return m->has_pkmap && pfn >= m->high_start && pfn < m->high_end;
}

/* Learns what the model needs from describe and one translation. */
int fz_model_init(struct cli *c, struct model *m, uint64_t id, bool inject,
                  char *why)
{
    struct armmap_translate_result *tr;
    struct armmap_machine *d;
    const char *split, *atomic, *kernel, *errata;
    uint32_t min_start = 0xffffffffu, max_end = 0;
    enum armmap_status st;
    unsigned i, maj = 0, mid = 0, min = 0;

    memset(m, 0, sizeof(*m));
    m->inject_bug = inject;
    st = armmap_describe(c->conn, id, &d);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    config_value(d->config, "split", &split);
    m->page_offset = strncmp(split, "3G_OPT", 6) == 0 ? 0xb0000000u
                     : strncmp(split, "2G", 2) == 0   ? 0x80000000u
                     : strncmp(split, "1G", 2) == 0   ? 0x40000000u
                                                      : 0xc0000000u;
    m->pkmap_base = m->page_offset - 0x200000u;
    m->ncpus = config_value(d->config, "cpus", NULL);
    config_value(d->config, "atomic", &atomic);
    config_value(d->config, "kernel", &kernel);
    sscanf(kernel, "%u.%u.%u", &maj, &mid, &min);
    /* KERNEL: 2.6.37 replaced kmap_atomic(page, type) by the stack */
    m->km_type = strncmp(atomic, "km_type", 7) == 0 ||
                 (strncmp(atomic, "default", 7) == 0 && maj == 2 && mid == 6 &&
                  min < 37);
    (void)why;
    m->max_order = 10;
    for (i = 0; i < d->nzones; i++) {
        const struct armmap_zone_info *z = &d->zones[i];

        if (z->nr_orders > 0)
            m->max_order = z->nr_orders - 1;
        if (z->start_pfn < min_start)
            min_start = z->start_pfn;
        if (z->end_pfn > max_end)
            max_end = z->end_pfn;
        if (strcmp(z->name, "HighMem") == 0) {
            m->high_start = z->start_pfn;
            m->high_end = z->end_pfn;
        } else {
            if (!m->low_end || z->start_pfn < m->low_start)
                m->low_start = z->start_pfn;
            if (z->end_pfn > m->low_end)
                m->low_end = z->end_pfn;
        }
    }
    m->has_pkmap = m->high_end > m->high_start;
    /* KERNEL: arch/arm/include/asm/highmem.h: ARM_ERRATA_798181 undefines
     * ARCH_NEEDS_KMAP_HIGH_GET.  "auto" is the reference build's choice,
     * which the config's "# reference:" line lists. */
    config_value(d->config, "errata_798181", &errata);
    m->kmap_high_get = m->has_pkmap &&
                       !(strncmp(errata, "on", 2) == 0 ||
                         (strncmp(errata, "auto", 4) == 0 &&
                          strstr(d->config, "ARM_ERRATA_798181") != NULL));
    armmap_machine_free(d);
    if (min_start >= 64) {
        m->bad_pfn = min_start - 1;
        m->io_phys = (min_start - 32) << 12;
    } else {
        m->bad_pfn = max_end;
        m->io_phys = (max_end + 16) << 12;
    }
    st = armmap_translate(c->conn, id, &m->page_offset, 1, 0, false, &tr);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    m->phys_offset = tr->pa[0];
    armmap_translate_result_free(tr);
    m->high_memory = lowmem_va(m, m->low_end);
    if (m->ncpus == 0 || m->ncpus > MAX_CPUS)
        m->ncpus = 1;
    return 0;
}

/* ---- the model's lookups ------------------------------------------------ */

static int block_of(const struct model *m, uint32_t pfn, bool *head)
{
    unsigned i;

    for (i = 0; i < m->nblocks; i++) {
        const struct fblock *b = &m->blocks[i];

        if (pfn >= b->pfn && pfn < b->pfn + (1u << b->order)) {
            *head = pfn == b->pfn;
            return (int)i;
        }
    }
    return -1;
}

int fz_slot_of(const struct model *m, uint32_t pfn)
{
    unsigned i;

    for (i = 0; i < LAST_PKMAP; i++)
        if (m->count[i] >= 1 && m->kpfn[i] == pfn)
            return (int)i;
    return -1;
}

bool fz_all_busy(const struct model *m)
{
    unsigned i;

    for (i = 0; i < LAST_PKMAP; i++)
        if (m->count[i] < 2)
            return false;
    return true;
}

static unsigned flush_zero(struct model *m)
{
    unsigned i, n = 0;

    for (i = 0; i < LAST_PKMAP; i++) {
        if (m->count[i] == 1) {
            m->count[i] = 0;
            n++;
        }
    }
    return n;
}

/* KERNEL: mm/highmem.c map_new_virtual() */
static unsigned new_virtual(struct model *m, uint32_t pfn, unsigned *flushes)
{
    unsigned nr;

    for (;;) {
        if (!m->inject_bug)
            m->last = (m->last + 1) & (LAST_PKMAP - 1);
        nr = m->last;
        if (m->inject_bug)
            m->last = (m->last + 1) & (LAST_PKMAP - 1);
        if (nr == 0 && flush_zero(m))
            (*flushes)++;
        if (m->count[nr] == 0)
            break;
    }
    m->count[nr] = 1;
    m->kpfn[nr] = pfn;
    return nr;
}

static int area_at(const struct model *m, uint32_t va)
{
    unsigned i;

    for (i = 0; i < m->nareas; i++)
        if (m->areas[i].va == va)
            return (int)i;
    return -1;
}

static void area_del(struct model *m, unsigned i)
{
    if (m->ndead < MAX_DEAD)
        m->dead[m->ndead++] = m->areas[i].va;
    m->areas[i] = m->areas[--m->nareas];
}

/* The live area overlapping [va, va + pages), or -1. */
static int area_overlap(const struct model *m, uint32_t va, uint32_t pages)
{
    uint64_t lo = va, hi = (uint64_t)va + (uint64_t)pages * PAGE_SZ;
    unsigned i;

    for (i = 0; i < m->nareas; i++) {
        uint64_t alo = m->areas[i].va & ~(PAGE_SZ - 1);
        uint64_t ahi = alo + (uint64_t)m->areas[i].pages * PAGE_SZ;

        if (lo < ahi && alo < hi)
            return (int)i;
    }
    return -1;
}

static bool area_overlaps(const struct model *m, uint32_t va, uint32_t pages)
{
    return area_overlap(m, va, pages) >= 0;
}

static const char *const area_kinds[] = { "vmalloc", "vmap", "ioremap",
                                          "module" };

/* Names the area @va overlaps in @why; returns false. */
static bool overlap_why(const struct model *m, uint32_t va, uint32_t pages,
                        char *why)
{
    int i = area_overlap(m, va, pages);

    fz_why(why,
           "new area 0x%08x+%u pages overlaps the live %s area 0x%08x+%u pages",
           va, pages, area_kinds[m->areas[i].kind], m->areas[i].va,
           m->areas[i].pages);
    return false;
}

/* Records a live area; returns it, or NULL when the model's table is full
 * (the area is then not followed). */
static struct farea *area_add(struct model *m, uint32_t va, uint32_t pages,
                              uint8_t kind, const uint32_t *pa, unsigned npa)
{
    struct farea *a;
    unsigned i;

    if (m->nareas == MAX_AREAS) {
        m->areas_lost = true;
        return NULL;
    }
    a = &m->areas[m->nareas++];
    memset(a, 0, sizeof(*a));
    a->va = va;
    a->pages = pages;
    a->kind = kind;
    for (i = 0; i < npa && i < 4; i++)
        a->pa[i] = pa[i];
    return a;
}

/* module_enable_ro: refused unless @a[0] is a live module, the sizes page
 * aligned, in order and within it, and it is not protected; else the
 * read-only pages on a STRICT_MODULE_RWX build, 0 (and nothing done) on
 * others.  Which build it is the model learns from the first answer with
 * rodata. */
static bool check_enable_ro(struct model *m, const struct armmap_op *op,
                            const struct armmap_op_result *r, char *why)
{
    const uint32_t *a = op->args;
    int ai = op->nargs == 3 ? area_at(m, a[0]) : -1;
    enum armmap_status exp = ARMMAP_INVALID_ARGUMENT;
    struct farea *ar = ai >= 0 ? &m->areas[ai] : NULL;
    uint32_t want = 0;

    if (ai < 0 && m->areas_lost && op->nargs == 3)
        return true; /* maybe an area the model lost */
    if (ar != NULL && ar->kind == AK_MODULE &&
        ((a[1] | a[2]) & (PAGE_SZ - 1)) == 0 && a[1] <= a[2] &&
        a[2] <= (uint64_t)ar->pages * PAGE_SZ) {
        if (ar->rox == ROX_MAYBE)
            return true; /* refused or not: the model cannot tell */
        if (ar->rox == ROX_NONE)
            exp = ARMMAP_OK;
    }
    if (exp == ARMMAP_OK && r->status == ARMMAP_OK) {
        want = a[2] / PAGE_SZ;
        if (a[2] != 0 && m->strict_modrox == 0)
            m->strict_modrox = r->value == 0 ? 2 : 1;
        if (m->strict_modrox == 2)
            want = 0;
        if (r->value != want) {
            fz_why(why,
                   "module_enable_ro of 0x%08x: %u read-only pages, want %u",
                   a[0], r->value, want);
            return false;
        }
        if (m->strict_modrox == 1)
            ar->rox = ROX_SET;
        else if (m->strict_modrox == 0)
            ar->rox = ROX_MAYBE;
        return true;
    }
    if (r->status != exp) {
        fz_why(
            why,
            "module_enable_ro of 0x%08x: expected %s, daemon answered %s%s%s",
            a[0], armmap_strerror(exp), armmap_strerror(r->status),
            r->status != ARMMAP_OK ? ": " : "", r->msg);
        return false;
    }
    return true;
}

static bool is_fixmap_va(const struct model *m, uint32_t va, unsigned *cpu)
{
    unsigned c, d;

    for (c = 0; c < m->ncpus; c++)
        for (d = 0; d < MAX_DEPTH; d++)
            if (m->slot_va[c][d] && m->slot_va[c][d] == va) {
                *cpu = c;
                return true;
            }
    return false;
}

/* The km_type slot of cpu @cpu learned at @va, or -1. */
static int km_slot_at(const struct model *m, unsigned cpu, uint32_t va)
{
    unsigned d;

    for (d = 0; d < MAX_DEPTH; d++)
        if (m->slot_va[cpu][d] && m->slot_va[cpu][d] == va)
            return (int)d;
    return -1;
}

/*
 * kmap_atomic(page, type) of a highmem page not in pkmap, 2.6.35/2.6.36:
 * the slot's fixed address (learned, the same every time), and a live
 * slot displaced (MM_RES_DISPLACED, aux = its pfn).
 */
static bool check_km_map(struct model *m, unsigned cpu, uint32_t slot,
                         uint32_t pfn, const struct armmap_op_result *r,
                         char *why)
{
    unsigned c;

    if (r->status != ARMMAP_OK) {
        fz_why(why, "expected OK, daemon answered %s: %s",
               armmap_strerror(r->status), r->msg);
        return false;
    }
    if (m->slot_va[cpu][slot] && m->slot_va[cpu][slot] != r->value) {
        fz_why(why,
               "cpu %u km_type slot %u mapped at 0x%08x, earlier at "
               "0x%08x",
               cpu, slot, r->value, m->slot_va[cpu][slot]);
        return false;
    }
    if (!m->slot_va[cpu][slot] &&
        (is_fixmap_va(m, r->value, &c) || (r->value & (PAGE_SZ - 1)))) {
        fz_why(why,
               "cpu %u km_type slot %u got 0x%08x, not a fresh fixmap "
               "page",
               cpu, slot, r->value);
        return false;
    }
    if (m->kt[cpu][slot].live != ((r->flags & ARMMAP_RES_DISPLACED) != 0) ||
        (m->kt[cpu][slot].live && r->aux != m->kt[cpu][slot].pfn)) {
        fz_why(why,
               "cpu %u km_type slot %u: expected %s, daemon answered "
               "flags 0x%x aux 0x%x",
               cpu, slot,
               m->kt[cpu][slot].live ? "the live page displaced"
                                     : "no "
                                       "displacement",
               r->flags, r->aux);
        return false;
    }
    m->slot_va[cpu][slot] = r->value;
    m->kt[cpu][slot].pfn = pfn;
    m->kt[cpu][slot].live = true;
    return true;
}

/* ---- checking one op ---------------------------------------------------- */

#define EXPECT(code) \
    do { \
        exp = (code); \
        goto compare; \
    } while (0)

/* Checks @r against the model for @op and applies it.  Returns false with
 * @why on a disagreement. */
bool fz_check_op(struct model *m, const struct armmap_op *op,
                 const struct armmap_op_result *r, char *why)
{
    const uint32_t *a = op->args;
    enum armmap_status exp = ARMMAP_OK;
    uint32_t want = 0;
    bool head, exact = false;
    unsigned i, flushes = 0;
    int b, s;

    switch (op->code) {
    case ARMMAP_OP_ALLOC: {
        uint32_t zone = op->nargs > 0 ? a[0] : 1,
                 order = op->nargs > 1 ? a[1] : 0;
        uint32_t lo, hi;

        if (zone > 2 || order > m->max_order ||
            (zone == 2 && !m->has_pkmap && !m->high_end))
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (r->status == ARMMAP_NO_MEMORY)
            return true;
        if (r->status != ARMMAP_OK)
            EXPECT(ARMMAP_OK);
        lo = m->low_start;
        hi = zone == 2 && m->high_end ? m->high_end : m->low_end;
        if (r->value & ((1u << order) - 1)) {
            fz_why(why, "pfn 0x%x is not aligned to order %u", r->value, order);
            return false;
        }
        if (r->value < lo || r->value + (1u << order) > hi) {
            fz_why(why, "pfn 0x%x is outside zone pfns 0x%x-0x%x", r->value, lo,
                   hi);
            return false;
        }
        for (i = 0; i < (1u << order); i++) {
            if (block_of(m, r->value + i, &head) >= 0) {
                fz_why(why, "pfn 0x%x is already allocated", r->value + i);
                return false;
            }
        }
        if (m->nblocks < MAX_BLOCKS) {
            m->blocks[m->nblocks].pfn = r->value;
            m->blocks[m->nblocks++].order = (uint8_t)order;
        }
        return true;
    }
    case ARMMAP_OP_FREE:
        if (op->nargs < 2 || a[1] > m->max_order || a[0] == m->bad_pfn)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        b = block_of(m, a[0], &head);
        if (b < 0) {
            if (r->status == ARMMAP_OK) {
                fz_why(why,
                       "freeing pfn 0x%x, which the fuzzer never allocated, "
                       "succeeded",
                       a[0]);
                return false;
            }
            return true;
        }
        if (!head || m->blocks[b].order != a[1])
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        m->blocks[b] = m->blocks[--m->nblocks];
        EXPECT(ARMMAP_OK);
    case ARMMAP_OP_KMAP:
        if (op->nargs < 1 || a[0] == m->bad_pfn)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (!fz_is_high(m, a[0])) {
            if (r->status == ARMMAP_INVALID_ARGUMENT &&
                block_of(m, a[0], &head) < 0)
                return true; /* a hole the fuzzer cannot see */
            want = lowmem_va(m, a[0]);
            exact = true;
            EXPECT(ARMMAP_OK);
        }
        if (r->status == ARMMAP_INVALID_ARGUMENT &&
            block_of(m, a[0], &head) < 0)
            return true;
        s = fz_slot_of(m, a[0]);
        if (s < 0) {
            if (fz_all_busy(m))
                EXPECT(ARMMAP_WOULD_BLOCK);
            s = (int)new_virtual(m, a[0], &flushes);
        }
        m->count[s]++;
        want = m->pkmap_base + (uint32_t)s * PAGE_SZ;
        exact = true;
        EXPECT(ARMMAP_OK);
    case ARMMAP_OP_KUNMAP:
        if (op->nargs < 1 || a[0] == m->bad_pfn)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (!fz_is_high(m, a[0])) {
            if (r->status == ARMMAP_INVALID_ARGUMENT &&
                block_of(m, a[0], &head) < 0)
                return true;
            want = lowmem_va(m, a[0]);
            exact = true;
            EXPECT(ARMMAP_OK);
        }
        if (r->status == ARMMAP_INVALID_ARGUMENT &&
            block_of(m, a[0], &head) < 0)
            return true;
        s = fz_slot_of(m, a[0]);
        if (s < 0 || m->count[s] < 2)
            EXPECT(ARMMAP_NOT_FOUND);
        m->count[s]--;
        if (r->status == ARMMAP_OK && r->aux != (uint32_t)(m->count[s] - 1)) {
            fz_why(why, "kunmap left %u users, the model %d", r->aux,
                   m->count[s] - 1);
            return false;
        }
        want = m->pkmap_base + (uint32_t)s * PAGE_SZ;
        exact = true;
        EXPECT(ARMMAP_OK);
    case ARMMAP_OP_KMAP_ATOMIC: {
        unsigned cpu = op->cpu, d;

        if (cpu >= m->ncpus || op->nargs < 1 ||
            op->nargs != (m->km_type ? 2u : 1u) || a[0] == m->bad_pfn ||
            (m->km_type && a[1] == BAD_KM_SLOT))
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (m->km_type && a[1] >= MAX_DEPTH)
            return true; /* KM_TYPE_NR is the era's */
        if (!fz_is_high(m, a[0])) {
            if (r->status == ARMMAP_INVALID_ARGUMENT &&
                block_of(m, a[0], &head) < 0)
                return true;
            want = lowmem_va(m, a[0]);
            exact = true;
            EXPECT(ARMMAP_OK);
        }
        if (r->status == ARMMAP_INVALID_ARGUMENT &&
            block_of(m, a[0], &head) < 0)
            return true;
        s = m->kmap_high_get ? fz_slot_of(m, a[0]) : -1;
        if (s >= 0) {
            /* KERNEL: arch/arm/mm/highmem.c kmap_atomic(): kmap_high_get() */
            m->count[s]++;
            want = m->pkmap_base + (uint32_t)s * PAGE_SZ;
            exact = true;
            if (m->nrefs < MAX_REFS) {
                m->refs[m->nrefs].va = want;
                m->refs[m->nrefs++].pfn = a[0];
            }
            EXPECT(ARMMAP_OK);
        }
        if (m->km_type)
            return check_km_map(m, cpu, a[1], a[0], r, why);
        d = m->depth[cpu];
        if (d >= MAX_DEPTH)
            return true; /* the stack depth limit is the kernel's */
        if (r->status != ARMMAP_OK)
            EXPECT(ARMMAP_OK);
        if (m->slot_va[cpu][d] && m->slot_va[cpu][d] != r->value) {
            fz_why(why, "cpu %u depth %u mapped at 0x%08x, earlier at 0x%08x",
                   cpu, d, r->value, m->slot_va[cpu][d]);
            return false;
        }
        if (r->value & (PAGE_SZ - 1) ||
            (r->value >= m->pkmap_base &&
             r->value < m->pkmap_base + LAST_PKMAP * PAGE_SZ)) {
            fz_why(why, "kmap_atomic address 0x%08x is not a fixmap page",
                   r->value);
            return false;
        }
        if (!m->slot_va[cpu][d] && is_fixmap_va(m, r->value, &i)) {
            fz_why(why, "cpu %u depth %u got 0x%08x, another slot's address",
                   cpu, d, r->value);
            return false;
        }
        m->slot_va[cpu][d] = r->value;
        m->stack[cpu][d].va = r->value;
        m->stack[cpu][d].pfn = a[0];
        m->depth[cpu] = d + 1;
        return true;
    }
    case ARMMAP_OP_KUNMAP_ATOMIC: {
        unsigned cpu = op->cpu, c, d;
        uint32_t va = op->nargs ? a[0] & ~(PAGE_SZ - 1) : 0;

        if (cpu >= m->ncpus || op->nargs < 1)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (m->has_pkmap && va >= m->pkmap_base &&
            va < m->pkmap_base + LAST_PKMAP * PAGE_SZ) {
            s = (int)((va - m->pkmap_base) / PAGE_SZ);
            if (m->count[s] < 2)
                EXPECT(ARMMAP_NOT_FOUND);
            m->count[s]--;
            for (i = 0; i < m->nrefs; i++) {
                if (m->refs[i].va == va) {
                    m->refs[i] = m->refs[--m->nrefs];
                    break;
                }
            }
            want = m->kpfn[s];
            exact = true;
            EXPECT(ARMMAP_OK);
        }
        if (va >= m->page_offset && va < m->high_memory) {
            want = (va - m->page_offset + m->phys_offset) >> 12;
            exact = true;
            EXPECT(ARMMAP_OK);
        }
        if (!is_fixmap_va(m, va, &c)) {
            if (va < m->pkmap_base - 0x01000000u)
                EXPECT(ARMMAP_INVALID_ARGUMENT); /* user space: no slot */
            return true; /* a fixmap address the model never saw */
        }
        if (m->km_type) {
            /* KERNEL: 2.6.32 arch/arm/mm/highmem.c kunmap_atomic(): the
             * caller's slot; its PTE stays */
            int k = km_slot_at(m, cpu, va);

            if (c != cpu || k < 0)
                EXPECT(ARMMAP_INVALID_ARGUMENT);
            if (!m->kt[cpu][k].live)
                EXPECT(ARMMAP_NOT_FOUND);
            m->kt[cpu][k].live = false;
            want = m->kt[cpu][k].pfn;
            exact = true;
            EXPECT(ARMMAP_OK);
        }
        d = m->depth[cpu];
        if (d == 0)
            EXPECT(ARMMAP_NOT_FOUND);
        if (va != m->stack[cpu][d - 1].va)
            EXPECT(ARMMAP_ORDER);
        want = m->stack[cpu][d - 1].pfn;
        exact = true;
        m->depth[cpu] = d - 1;
        EXPECT(ARMMAP_OK);
    }
    case ARMMAP_OP_VMALLOC:
    case ARMMAP_OP_MODULE_ALLOC: {
        uint32_t pages = op->nargs ? (uint32_t)(((uint64_t)a[0] + PAGE_SZ - 1) /
                                                PAGE_SZ)
                                   : 0;

        if (op->nargs < 1 || a[0] == 0)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (r->status != ARMMAP_OK)
            EXPECT(ARMMAP_OK);
        if (r->value & (PAGE_SZ - 1) || r->aux != pages) {
            fz_why(why,
                   "area 0x%08x of %u pages for size 0x%x (want aligned, %u "
                   "pages)",
                   r->value, r->aux, a[0], pages);
            return false;
        }
        if (area_overlaps(m, r->value, pages))
            return overlap_why(m, r->value, pages, why);
        area_add(m, r->value, pages,
                 op->code == ARMMAP_OP_VMALLOC ? AK_VMALLOC : AK_MODULE, NULL,
                 0);
        return true;
    }
    case ARMMAP_OP_VFREE:
    case ARMMAP_OP_VUNMAP:
    case ARMMAP_OP_IOUNMAP:
    case ARMMAP_OP_MODULE_FREE: {
        uint8_t kind = op->code == ARMMAP_OP_VFREE     ? AK_VMALLOC
                       : op->code == ARMMAP_OP_VUNMAP  ? AK_VMAP
                       : op->code == ARMMAP_OP_IOUNMAP ? AK_IOREMAP
                                                       : AK_MODULE;
        int ai = op->nargs ? area_at(m, a[0]) : -1;

        if (ai < 0 || m->areas[ai].kind != kind) {
            if (m->areas_lost && ai < 0)
                return true; /* maybe an area the model lost */
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        }
        want = m->areas[ai].pages;
        exact = true;
        area_del(m, (unsigned)ai);
        EXPECT(ARMMAP_OK);
    }
    case ARMMAP_OP_VMAP: {
        uint32_t pa[4];

        if (op->nargs == 0)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        for (i = 0; i < op->nargs; i++)
            if (a[i] == m->bad_pfn)
                EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (r->status != ARMMAP_OK)
            EXPECT(ARMMAP_OK);
        if (r->value & (PAGE_SZ - 1)) {
            fz_why(why, "vmap address 0x%08x is not page aligned", r->value);
            return false;
        }
        if (area_overlaps(m, r->value, op->nargs))
            return overlap_why(m, r->value, op->nargs, why);
        for (i = 0; i < op->nargs && i < 4; i++)
            pa[i] = a[i] << 12;
        area_add(m, r->value, op->nargs, AK_VMAP, pa, i);
        return true;
    }
    case ARMMAP_OP_IOREMAP: {
        uint32_t off, pages, pa;
        struct farea *ar;

        if (op->nargs < 2 || a[1] == 0)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (block_of(m, a[0] >> 12, &head) >= 0)
            EXPECT(ARMMAP_INVALID_ARGUMENT); /* ARM refuses to ioremap RAM */
        if (a[0] < m->io_phys || a[0] >= m->io_phys + 16 * PAGE_SZ) {
            /* Not an address the model knows: if the daemon mapped it, the
             * area is not followed. */
            if (r->status == ARMMAP_OK)
                m->areas_lost = true;
            return true;
        }
        if (r->status != ARMMAP_OK)
            EXPECT(ARMMAP_OK);
        off = a[0] & (PAGE_SZ - 1);
        pages = (uint32_t)(((uint64_t)off + a[1] + PAGE_SZ - 1) / PAGE_SZ);
        if ((r->value & (PAGE_SZ - 1)) != off) {
            fz_why(why, "ioremap address 0x%08x does not keep the offset 0x%x",
                   r->value, off);
            return false;
        }
        if (area_overlaps(m, r->value & ~(PAGE_SZ - 1), pages))
            return overlap_why(m, r->value & ~(PAGE_SZ - 1), pages, why);
        pa = a[0] & ~(PAGE_SZ - 1);
        /* With the table full the area is not followed: never overwrite
         * the last one's address (it moved a live area onto this one). */
        ar = area_add(m, r->value & ~(PAGE_SZ - 1), pages, AK_IOREMAP, &pa, 1);
        if (ar != NULL)
            ar->va = r->value;
        return true;
    }
    case ARMMAP_OP_KMAP_FLUSH:
        want = m->has_pkmap ? flush_zero(m) : 0;
        exact = true;
        EXPECT(ARMMAP_OK);
    case ARMMAP_OP_MODULE_ENABLE_RO:
        return check_enable_ro(m, op, r, why);
    default:
        return true;
    }
compare:
    if (r->status != exp) {
        fz_why(why, "expected %s, daemon answered %s%s%s", armmap_strerror(exp),
               armmap_strerror(r->status), r->status != ARMMAP_OK ? ": " : "",
               r->msg);
        if (exp == ARMMAP_OK && exact)
            snprintf(why + strlen(why), WHY_MAX - strlen(why),
                     " (model: value 0x%x)", want);
        return false;
    }
    if (exp == ARMMAP_OK && exact && r->value != want) {
        fz_why(why, "expected value 0x%x, daemon answered 0x%x", want,
               r->value);
        return false;
    }
    if (op->code == ARMMAP_OP_KMAP && exp == ARMMAP_OK && fz_is_high(m, a[0]) &&
        r->aux != flushes) {
        fz_why(why, "expected %u pkmap flushes, daemon answered %u", flushes,
               r->aux);
        return false;
    }
    return true;
}

/* ---- checking translations ---------------------------------------------- */

struct tcheck {
    uint32_t va, pa;
    uint8_t how; /* TC_* */
    uint8_t region;
};

enum { TC_EXACT, TC_MAPPED, TC_FAULT };

#define REGION_MODULES 2
#define REGION_PKMAP   3
#define REGION_LOWMEM  4
#define REGION_VMALLOC 5
#define REGION_FIXMAP  7
#define REGION_IOREMAP 10
#define REGION_ANY     255

static void tc_add(struct tcheck *t, size_t *n, size_t max, uint32_t va,
                   uint32_t pa, uint8_t how, uint8_t region)
{
    if (*n < max) {
        t[*n].va = va;
        t[*n].pa = pa;
        t[*n].how = how;
        t[*n].region = region;
        (*n)++;
    }
}

#define TC_MAX 4096

/* Translates every live mapping the model knows; false with @why if one
 * disagrees. */
int fz_check_translations(struct cli *c, uint64_t id, struct model *m, bool *ok,
                          char *why)
{
    struct tcheck *t = malloc(TC_MAX * sizeof(*t));
    uint32_t *va = malloc(TC_MAX * sizeof(*va));
    struct armmap_translate_result *tr;
    enum armmap_status st;
    size_t n = 0, i;
    unsigned k, p, cpu;

    *ok = true;
    if (!t || !va) {
        free(t);
        free(va);
        return cli_local_error(c, "out of memory");
    }
    if (m->has_pkmap) {
        for (k = 0; k < LAST_PKMAP; k++)
            tc_add(t, &n, TC_MAX, m->pkmap_base + k * PAGE_SZ, m->kpfn[k] << 12,
                   m->count[k] >= 1 ? TC_EXACT : TC_FAULT, REGION_PKMAP);
    }
    for (cpu = 0; cpu < m->ncpus; cpu++)
        for (k = 0; k < m->depth[cpu]; k++)
            tc_add(t, &n, TC_MAX, m->stack[cpu][k].va,
                   m->stack[cpu][k].pfn << 12, TC_EXACT, REGION_FIXMAP);
    for (cpu = 0; m->km_type && cpu < m->ncpus; cpu++)
        for (k = 0; k < MAX_DEPTH; k++)
            if (m->kt[cpu][k].live)
                tc_add(t, &n, TC_MAX, m->slot_va[cpu][k],
                       m->kt[cpu][k].pfn << 12, TC_EXACT, REGION_FIXMAP);
    for (k = 0; k < m->nareas; k++) {
        const struct farea *ar = &m->areas[k];
        uint32_t base = ar->va & ~(PAGE_SZ - 1);

        for (p = 0; p < ar->pages && p < 16; p++) {
            if (ar->kind == AK_VMAP && p < 4)
                tc_add(t, &n, TC_MAX, base + p * PAGE_SZ, ar->pa[p], TC_EXACT,
                       REGION_VMALLOC);
            else if (ar->kind == AK_IOREMAP)
                tc_add(t, &n, TC_MAX, base + p * PAGE_SZ,
                       ar->pa[0] + p * PAGE_SZ, TC_EXACT, REGION_IOREMAP);
            else
                tc_add(t, &n, TC_MAX, base + p * PAGE_SZ, 0, TC_MAPPED,
                       ar->kind == AK_MODULE ? REGION_MODULES : REGION_VMALLOC);
        }
    }
    for (k = 0; k < m->nblocks && k < 256; k++)
        if (!fz_is_high(m, m->blocks[k].pfn))
            tc_add(t, &n, TC_MAX, lowmem_va(m, m->blocks[k].pfn),
                   m->blocks[k].pfn << 12, TC_EXACT, REGION_LOWMEM);
    for (k = 0; k < m->ndead; k++)
        if (!area_overlaps(m, m->dead[k] & ~(PAGE_SZ - 1), 1))
            tc_add(t, &n, TC_MAX, m->dead[k] & ~(PAGE_SZ - 1), 0, TC_FAULT,
                   REGION_ANY);
    m->ndead = 0;
    for (i = 0; i < n; i++)
        va[i] = t[i].va;
    st = n ? armmap_translate(c->conn, id, va, n, 0, false, &tr) : ARMMAP_OK;
    free(va);
    if (st != ARMMAP_OK) {
        free(t);
        return cli_fail(c, st);
    }
    for (i = 0; n && i < n && *ok; i++) {
        const struct tcheck *x = &t[i];
        bool good;

        if (x->how == TC_FAULT)
            good = tr->fault[i] != 0;
        else
            good = tr->fault[i] == 0 &&
                   (x->how == TC_MAPPED || tr->pa[i] == x->pa) &&
                   (x->region == REGION_ANY || tr->region[i] == x->region);
        if (!good) {
            *ok = false;
            if (tr->fault[i])
                fz_why(why, "translate 0x%08x: expected %s, got fault %s",
                       x->va, x->how == TC_FAULT ? "a fault" : "a mapping",
                       armmap_fault_name(tr->fault[i]));
            else
                fz_why(why,
                       "translate 0x%08x: expected %s 0x%08x (%s), got 0x%08x "
                       "(%s)",
                       x->va, x->how == TC_FAULT ? "a fault, not" : "", x->pa,
                       x->region == REGION_ANY ? "any"
                                               : armmap_region_name(x->region),
                       tr->pa[i], armmap_region_name(tr->region[i]));
        }
    }
    if (n)
        armmap_translate_result_free(tr);
    free(t);
    return 0;
}
