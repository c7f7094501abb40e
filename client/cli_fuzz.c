/* client/cli_fuzz.c - `armmap fuzz`: random op sequences against a model.
 *
 * The fuzzer keeps its own small model of each machine, written from the
 * kernel's rules and not from the engine: the blocks it allocated, the
 * pkmap window (pkmap_count[] with 0 free, 1 mapped but unused, n = n-1
 * users; the round-robin scan from last_pkmap_nr + 1 that flushes the
 * count-1 slots when it wraps to slot 0; WOULD_BLOCK when every slot has
 * users), the per-CPU kmap_atomic stacks (push, pop only from the top,
 * ORDER otherwise; a page already in pkmap is shared through
 * kmap_high_get()), and the vmalloc, vmap, ioremap and module areas.
 *
 * The model is a checker, not a predictor: ops are generated from its
 * state at the start of a batch, and after the batch answers, every
 * (op, result) pair is checked in order against the model, which then
 * applies the op.  So any op sequence can be checked, including the cut
 * down sequences the shrinker tries.  Where the kernel fixes the answer
 * (pkmap addresses, users left, error codes of invalid ops, the pages an
 * area maps) it is checked exactly; where the allocator chooses (the pfn
 * alloc returns, the address vmalloc or a first kmap_atomic picks) the
 * properties that must hold are checked: alignment, the right zone or
 * window, no overlap with a live block or area, and after every batch
 * every live mapping is translated and compared with the pages it maps.
 *
 * On a disagreement the failing machine's ops are shrunk (chunks deleted
 * while a fresh machine still disagrees) and the shortest sequence found
 * is printed as `armmap batch` lines.  Everything is deterministic for a
 * seed, because the engine is.
 *
 * --inject-bug makes the model scan pkmap from last_pkmap_nr instead of
 * last_pkmap_nr + 1: a wrong expectation, to test the reporting and the
 * shrinker.  A run covers one seed or a range (--seeds), each with the
 * same config (a preset and create flags) or one drawn per seed
 * (--config-random), within --time; coverage (answers per op) is printed
 * per seed and the totals with ops/s last.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAST_PKMAP     512 /* KERNEL: arch/arm highmem.h PTRS_PER_PTE */
#define PAGE_SZ        4096u
#define MAX_BLOCKS     4096
#define MAX_AREAS      1024
#define MAX_CPUS       32
#define MAX_DEPTH      16 /* KM_TYPE_NR on ARM */
#define GEN_DEPTH      6  /* the generator stays below this */
#define MAX_REFS       1024
#define MAX_DEAD       64
#define OP_ARGS        8
#define SHRINK_RUNS    600
#define SHRINK_SECONDS 90
#define WHY_MAX        400
#define NR_FUZZ_OPS    (ARMMAP_OP_KMAP_FLUSH + 1)
#define MAX_BATCH      4096   /* armmapd's default max-batch-ops */
#define MAX_MACHINES   10000  /* armmapd's default max-machines-per-tenant */
#define MAX_SETTINGS   32

enum area_kind { AK_VMALLOC, AK_VMAP, AK_IOREMAP, AK_MODULE };

struct fblock {
    uint32_t pfn;
    uint8_t order;
};

struct farea {
    uint32_t va, pages;
    uint8_t kind;
    uint32_t pa[4]; /* vmap: the pfns' addresses; ioremap: pa[0] */
};

struct fref {
    uint32_t va, pfn;
}; /* a kmap_high_get() through kmap_atomic */

struct fop {
    struct armmap_op op;
    uint32_t args[OP_ARGS];
};

struct model {
    /* machine facts */
    uint32_t page_offset, phys_offset, pkmap_base, high_memory;
    uint32_t high_start, high_end; /* HighMem zone pfns; 0,0 if none */
    uint32_t low_start, low_end;   /* lowmem pfns */
    uint32_t bad_pfn;              /* surely not RAM */
    uint32_t io_phys;              /* 16 non-RAM pages for ioremap */
    unsigned ncpus;
    bool has_pkmap, inject_bug;
    /* state */
    struct fblock blocks[MAX_BLOCKS];
    unsigned nblocks;
    struct farea areas[MAX_AREAS];
    unsigned nareas;
    uint32_t dead[MAX_DEAD];
    unsigned ndead;
    int count[LAST_PKMAP];
    uint32_t kpfn[LAST_PKMAP];
    unsigned last;
    struct {
        uint32_t va, pfn;
    } stack[MAX_CPUS][MAX_DEPTH];
    unsigned depth[MAX_CPUS];
    uint32_t slot_va[MAX_CPUS][MAX_DEPTH]; /* learned: 0 = not yet */
    struct fref refs[MAX_REFS];
    unsigned nrefs;
    unsigned long
        seen[ARMMAP_NO_SOCKET]; /* answers by status, for the summary */
    /* coverage: answers by op and status */
    unsigned long cov[NR_FUZZ_OPS][ARMMAP_NO_SOCKET];
    unsigned storm;             /* generator: kmaps of fresh pages to come */
    bool trace;                 /* print every op and answer to stderr */
};

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    /* xorshift64* */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

static uint32_t rnd_below(struct rng *r, uint32_t n)
{
    return n ? (uint32_t)(rnd(r) % n) : 0;
}

static void why_set(char *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void why_set(char *why, const char *fmt, ...)
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

static bool is_high(const struct model *m, uint32_t pfn)
{
    return m->has_pkmap && pfn >= m->high_start && pfn < m->high_end;
}

/* Learns what the model needs from describe and one translation. */
static int model_init(struct cli *c, struct model *m, uint64_t id, bool inject,
                      char *why)
{
    struct armmap_translate_result *tr;
    struct armmap_machine *d;
    const char *split, *atomic, *kernel;
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
    if (strncmp(atomic, "km_type", 7) == 0 ||
        (strncmp(atomic, "default", 7) == 0 && maj == 2 && mid == 6 &&
         min < 37)) {
        armmap_machine_free(d);
        why_set(why,
                "machine %" PRIu64
                " uses km_type kmap_atomic (2.6); the fuzzer "
                "models the stack styles only",
                id);
        return CLI_EXIT_USAGE;
    }
    for (i = 0; i < d->nzones; i++) {
        const struct armmap_zone_info *z = &d->zones[i];

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

static int slot_of(const struct model *m, uint32_t pfn)
{
    unsigned i;

    for (i = 0; i < LAST_PKMAP; i++)
        if (m->count[i] >= 1 && m->kpfn[i] == pfn)
            return (int)i;
    return -1;
}

static bool all_busy(const struct model *m)
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

    why_set(
        why,
        "new area 0x%08x+%u pages overlaps the live %s area 0x%08x+%u pages",
        va, pages, area_kinds[m->areas[i].kind], m->areas[i].va,
        m->areas[i].pages);
    return false;
}

static void area_add(struct model *m, uint32_t va, uint32_t pages, uint8_t kind,
                     const uint32_t *pa, unsigned npa)
{
    struct farea *a;
    unsigned i;

    if (m->nareas == MAX_AREAS)
        return;
    a = &m->areas[m->nareas++];
    memset(a, 0, sizeof(*a));
    a->va = va;
    a->pages = pages;
    a->kind = kind;
    for (i = 0; i < npa && i < 4; i++)
        a->pa[i] = pa[i];
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

/* ---- checking one op ---------------------------------------------------- */

#define EXPECT(code)  \
    do {              \
        exp = (code); \
        goto compare; \
    } while (0)

/* Checks @r against the model for @op and applies it.  Returns false with
 * @why on a disagreement. */
static bool check_op(struct model *m, const struct armmap_op *op,
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

        if (zone > 2 || order > 10 ||
            (zone == 2 && !m->has_pkmap && !m->high_end))
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (r->status == ARMMAP_NO_MEMORY)
            return true;
        if (r->status != ARMMAP_OK)
            EXPECT(ARMMAP_OK);
        lo = m->low_start;
        hi = zone == 2 && m->high_end ? m->high_end : m->low_end;
        if (r->value & ((1u << order) - 1)) {
            why_set(why, "pfn 0x%x is not aligned to order %u", r->value,
                    order);
            return false;
        }
        if (r->value < lo || r->value + (1u << order) > hi) {
            why_set(why, "pfn 0x%x is outside zone pfns 0x%x-0x%x", r->value,
                    lo, hi);
            return false;
        }
        for (i = 0; i < (1u << order); i++) {
            if (block_of(m, r->value + i, &head) >= 0) {
                why_set(why, "pfn 0x%x is already allocated", r->value + i);
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
        if (op->nargs < 2 || a[1] > 10 || a[0] == m->bad_pfn)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        b = block_of(m, a[0], &head);
        if (b < 0) {
            if (r->status == ARMMAP_OK) {
                why_set(why,
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
        if (!is_high(m, a[0])) {
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
        s = slot_of(m, a[0]);
        if (s < 0) {
            if (all_busy(m))
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
        if (!is_high(m, a[0])) {
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
        s = slot_of(m, a[0]);
        if (s < 0 || m->count[s] < 2)
            EXPECT(ARMMAP_NOT_FOUND);
        m->count[s]--;
        if (r->status == ARMMAP_OK && r->aux != (uint32_t)(m->count[s] - 1)) {
            why_set(why, "kunmap left %u users, the model %d", r->aux,
                    m->count[s] - 1);
            return false;
        }
        want = m->pkmap_base + (uint32_t)s * PAGE_SZ;
        exact = true;
        EXPECT(ARMMAP_OK);
    case ARMMAP_OP_KMAP_ATOMIC: {
        unsigned cpu = op->cpu, d;

        if (cpu >= m->ncpus || op->nargs < 1 || op->nargs > 1 ||
            a[0] == m->bad_pfn)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (!is_high(m, a[0])) {
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
        s = slot_of(m, a[0]);
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
        d = m->depth[cpu];
        if (d >= MAX_DEPTH)
            return true; /* the stack depth limit is the kernel's */
        if (r->status != ARMMAP_OK)
            EXPECT(ARMMAP_OK);
        if (m->slot_va[cpu][d] && m->slot_va[cpu][d] != r->value) {
            why_set(why, "cpu %u depth %u mapped at 0x%08x, earlier at 0x%08x",
                    cpu, d, r->value, m->slot_va[cpu][d]);
            return false;
        }
        if (r->value & (PAGE_SZ - 1) ||
            (r->value >= m->pkmap_base &&
             r->value < m->pkmap_base + LAST_PKMAP * PAGE_SZ)) {
            why_set(why, "kmap_atomic address 0x%08x is not a fixmap page",
                    r->value);
            return false;
        }
        if (!m->slot_va[cpu][d] && is_fixmap_va(m, r->value, &i)) {
            why_set(why, "cpu %u depth %u got 0x%08x, another slot's address",
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
            why_set(why,
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

        if (ai < 0 || m->areas[ai].kind != kind)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
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
            why_set(why, "vmap address 0x%08x is not page aligned", r->value);
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

        if (op->nargs < 2 || a[1] == 0)
            EXPECT(ARMMAP_INVALID_ARGUMENT);
        if (block_of(m, a[0] >> 12, &head) >= 0)
            EXPECT(ARMMAP_INVALID_ARGUMENT); /* ARM refuses to ioremap RAM */
        if (a[0] < m->io_phys || a[0] >= m->io_phys + 16 * PAGE_SZ)
            return true; /* not an address the model knows */
        if (r->status != ARMMAP_OK)
            EXPECT(ARMMAP_OK);
        off = a[0] & (PAGE_SZ - 1);
        pages = (uint32_t)(((uint64_t)off + a[1] + PAGE_SZ - 1) / PAGE_SZ);
        if ((r->value & (PAGE_SZ - 1)) != off) {
            why_set(why, "ioremap address 0x%08x does not keep the offset 0x%x",
                    r->value, off);
            return false;
        }
        if (area_overlaps(m, r->value & ~(PAGE_SZ - 1), pages))
            return overlap_why(m, r->value & ~(PAGE_SZ - 1), pages, why);
        pa = a[0] & ~(PAGE_SZ - 1);
        area_add(m, r->value & ~(PAGE_SZ - 1), pages, AK_IOREMAP, &pa, 1);
        m->areas[m->nareas - 1].va = r->value;
        return true;
    }
    case ARMMAP_OP_KMAP_FLUSH:
        want = m->has_pkmap ? flush_zero(m) : 0;
        exact = true;
        EXPECT(ARMMAP_OK);
    default: return true;
    }
compare:
    if (r->status != exp) {
        why_set(why, "expected %s, daemon answered %s%s%s",
                armmap_strerror(exp), armmap_strerror(r->status),
                r->status != ARMMAP_OK ? ": " : "", r->msg);
        if (exp == ARMMAP_OK && exact)
            snprintf(why + strlen(why), WHY_MAX - strlen(why),
                     " (model: value 0x%x)", want);
        return false;
    }
    if (exp == ARMMAP_OK && exact && r->value != want) {
        why_set(why, "expected value 0x%x, daemon answered 0x%x", want,
                r->value);
        return false;
    }
    if (op->code == ARMMAP_OP_KMAP && exp == ARMMAP_OK && is_high(m, a[0]) &&
        r->aux != flushes) {
        why_set(why, "expected %u pkmap flushes, daemon answered %u", flushes,
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
static int check_translations(struct cli *c, uint64_t id, struct model *m,
                              bool *ok, char *why)
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
    for (k = 0; k < m->nareas; k++) {
        const struct farea *ar = &m->areas[k];
        uint32_t base = ar->va & ~(PAGE_SZ - 1);

        for (p = 0; p < ar->pages && p < 16; p++) {
            if (ar->kind == AK_VMAP && p < 4)
                tc_add(t, &n, TC_MAX, base + p * PAGE_SZ, ar->pa[p], TC_EXACT,
                       REGION_VMALLOC);
            else if (ar->kind == AK_IOREMAP)
                tc_add(t, &n, TC_MAX, base + p * PAGE_SZ,
                       ar->pa[0] + p * PAGE_SZ, TC_EXACT, REGION_VMALLOC);
            else
                tc_add(t, &n, TC_MAX, base + p * PAGE_SZ, 0, TC_MAPPED,
                       ar->kind == AK_MODULE ? REGION_MODULES : REGION_VMALLOC);
        }
    }
    for (k = 0; k < m->nblocks && k < 256; k++)
        if (!is_high(m, m->blocks[k].pfn))
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
                why_set(why, "translate 0x%08x: expected %s, got fault %s",
                        x->va, x->how == TC_FAULT ? "a fault" : "a mapping",
                        armmap_fault_name(tr->fault[i]));
            else
                why_set(why,
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

/* ---- generating ops ------------------------------------------------------ */

static void set_op(struct fop *f, enum armmap_opcode code, uint32_t cpu,
                   unsigned n, ...)
{
    va_list ap;
    unsigned i;

    memset(f, 0, sizeof(*f));
    va_start(ap, n);
    for (i = 0; i < n && i < OP_ARGS; i++)
        f->args[i] = va_arg(ap, uint32_t);
    va_end(ap);
    f->op.code = code;
    f->op.cpu = cpu;
    f->op.nargs = n;
    f->op.args = f->args;
}

/* A page of a block the model holds, optionally only highmem ones. */
static bool pick_page(struct rng *r, const struct model *m, bool high,
                      uint32_t *pfn)
{
    unsigned tries, i;

    for (tries = 0; tries < 16 && m->nblocks; tries++) {
        const struct fblock *b = &m->blocks[rnd_below(r, m->nblocks)];

        i = rnd_below(r, 1u << b->order);
        if (!high || is_high(m, b->pfn + i)) {
            *pfn = b->pfn + i;
            return true;
        }
    }
    return false;
}

static bool block_busy(const struct model *m, const struct fblock *b)
{
    unsigned i, c, d;

    for (i = 0; i < LAST_PKMAP; i++)
        if (m->count[i] >= 2 && m->kpfn[i] >= b->pfn &&
            m->kpfn[i] < b->pfn + (1u << b->order))
            return true;
    for (c = 0; c < m->ncpus; c++)
        for (d = 0; d < m->depth[c]; d++)
            if (m->stack[c][d].pfn >= b->pfn &&
                m->stack[c][d].pfn < b->pfn + (1u << b->order))
                return true;
    for (i = 0; i < m->nareas; i++)
        if (m->areas[i].kind == AK_VMAP)
            for (d = 0; d < 4 && d < m->areas[i].pages; d++)
                if ((m->areas[i].pa[d] >> 12) >= b->pfn &&
                    (m->areas[i].pa[d] >> 12) < b->pfn + (1u << b->order))
                    return true;
    return false;
}

static unsigned pick_area(struct rng *r, const struct model *m, uint8_t kind,
                          int *out)
{
    unsigned i, n = 0, idx[MAX_AREAS];

    for (i = 0; i < m->nareas; i++)
        if (m->areas[i].kind == kind)
            idx[n++] = i;
    *out = n ? (int)idx[rnd_below(r, n)] : -1;
    return n;
}

/* A highmem page the pkmap window does not hold yet (for kmap storms). */
static bool pick_fresh_high(struct rng *r, const struct model *m, uint32_t *pfn)
{
    unsigned tries;

    for (tries = 0; tries < 32; tries++)
        if (pick_page(r, m, true, pfn) && slot_of(m, *pfn) < 0)
            return true;
    return false;
}

/* One valid-looking op of the category @roll names; false if the model's
 * state offers none (the caller rolls again). */
static bool gen_valid(struct rng *r, struct model *m, uint32_t roll,
                      struct fop *f)
{
    uint32_t pfn, cpu = rnd_below(r, m->ncpus);
    bool room = m->nareas + 256 < MAX_AREAS;
    unsigned i, start;
    int ai;

    if (roll < 10) {
        bool high = m->has_pkmap && rnd_below(r, 3) != 0;
        uint32_t order = rnd_below(r, 8) == 0 ? 5 : rnd_below(r, 3);

        if (m->nblocks + 256 >= MAX_BLOCKS)
            return false;
        set_op(f, ARMMAP_OP_ALLOC, 0, 2, high ? 2u : 1u, order);
        return true;
    }
    if (roll < 14) {
        const struct fblock *b;

        if (!m->nblocks)
            return false;
        b = &m->blocks[rnd_below(r, m->nblocks)];
        if (block_busy(m, b))
            return false;
        set_op(f, ARMMAP_OP_FREE, 0, 2, b->pfn, (uint32_t)b->order);
        return true;
    }
    if (roll < 40) {
        if (rnd_below(r, 3)
                ? !pick_fresh_high(r, m, &pfn) && !pick_page(r, m, false, &pfn)
                : !pick_page(r, m, false, &pfn))
            return false;
        set_op(f, ARMMAP_OP_KMAP, 0, 1, pfn);
        return true;
    }
    if (roll < 52) {
        start = rnd_below(r, LAST_PKMAP);
        for (i = 0; i < LAST_PKMAP && m->has_pkmap; i++) {
            unsigned sl = (start + i) % LAST_PKMAP;

            if (m->count[sl] >= 2) {
                set_op(f, ARMMAP_OP_KUNMAP, 0, 1, m->kpfn[sl]);
                return true;
            }
        }
        return false;
    }
    if (roll < 60) {
        if (m->depth[cpu] >= GEN_DEPTH ||
            !pick_page(r, m, rnd_below(r, 4) != 0, &pfn))
            return false;
        set_op(f, ARMMAP_OP_KMAP_ATOMIC, cpu, 1, pfn);
        return true;
    }
    if (roll < 68) {
        if (m->depth[cpu]) {
            set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1,
                   m->stack[cpu][m->depth[cpu] - 1].va);
            return true;
        }
        if (!m->nrefs)
            return false;
        set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1,
               m->refs[rnd_below(r, m->nrefs)].va);
        return true;
    }
    if (roll < 72) {
        if (!room)
            return false;
        set_op(f, ARMMAP_OP_VMALLOC, 0, 1, 1 + rnd_below(r, 64 * 1024));
        return true;
    }
    if (roll < 76) {
        if (!pick_area(r, m, AK_VMALLOC, &ai))
            return false;
        set_op(f, ARMMAP_OP_VFREE, 0, 1, m->areas[ai].va);
        return true;
    }
    if (roll < 79) {
        uint32_t p[4] = { 0, 0, 0, 0 }, n = 1 + rnd_below(r, 4);

        if (!room)
            return false;
        for (i = 0; i < n; i++)
            if (!pick_page(r, m, false, &p[i]))
                return false;
        set_op(f, ARMMAP_OP_VMAP, 0, 4, p[0], p[1], p[2], p[3]);
        f->op.nargs = n;
        return true;
    }
    if (roll < 82) {
        if (!pick_area(r, m, AK_VMAP, &ai))
            return false;
        set_op(f, ARMMAP_OP_VUNMAP, 0, 1, m->areas[ai].va);
        return true;
    }
    if (roll < 84) {
        if (!room)
            return false;
        set_op(f, ARMMAP_OP_IOREMAP, 0, 2,
               m->io_phys + rnd_below(r, 8) * PAGE_SZ,
               1 + rnd_below(r, 8 * PAGE_SZ));
        return true;
    }
    if (roll < 87) {
        if (!pick_area(r, m, AK_IOREMAP, &ai))
            return false;
        set_op(f, ARMMAP_OP_IOUNMAP, 0, 1, m->areas[ai].va);
        return true;
    }
    if (roll < 89) {
        if (!room)
            return false;
        set_op(f, ARMMAP_OP_MODULE_ALLOC, 0, 1, 1 + rnd_below(r, 32 * 1024));
        return true;
    }
    if (roll < 91) {
        if (!pick_area(r, m, AK_MODULE, &ai))
            return false;
        set_op(f, ARMMAP_OP_MODULE_FREE, 0, 1, m->areas[ai].va);
        return true;
    }
    set_op(f, ARMMAP_OP_KMAP_FLUSH, 0, 0);
    return true;
}

/* One op from the model's state: mostly valid-looking, 8% deliberately
 * invalid, and now and then a storm of kmaps of fresh highmem pages that
 * fills the pkmap window up to WOULD_BLOCK. */
static void gen_op(struct rng *r, struct model *m, struct fop *f)
{
    uint32_t roll, pfn, cpu = rnd_below(r, m->ncpus);
    unsigned tries;
    int ai;

    if (m->storm > 0 && all_busy(m))
        m->storm = 0;
    if (m->storm > 0) {
        m->storm--;
        if (pick_fresh_high(r, m, &pfn)) {
            set_op(f, ARMMAP_OP_KMAP, 0, 1, pfn);
            return;
        }
        set_op(f, ARMMAP_OP_ALLOC, 0, 2, 2u, 5u);
        return;
    }
    roll = rnd_below(r, 1000);
    if (roll < 3 && m->has_pkmap) {
        m->storm = LAST_PKMAP + 64;
        set_op(f, ARMMAP_OP_ALLOC, 0, 2, 2u, 6u);
        return;
    }
    if (roll >= 80) {
        for (tries = 0; tries < 8; tries++)
            if (gen_valid(r, m, rnd_below(r, 92), f))
                return;
        set_op(f, ARMMAP_OP_ALLOC, 0, 2, 1u, 0u);
        return;
    }
    /* Deliberately invalid ops, each with its one right answer. */
    switch (rnd_below(r, 9)) {
    case 0:
        set_op(f, ARMMAP_OP_KMAP, 0, 1, m->bad_pfn); /* not RAM */
        return;
    case 1:
        if (pick_page(r, m, true, &pfn) && slot_of(m, pfn) < 0) {
            set_op(f, ARMMAP_OP_KUNMAP, 0, 1, pfn); /* NOT_FOUND */
            return;
        }
        set_op(f, ARMMAP_OP_VMALLOC, 0, 1, 0); /* size 0 */
        return;
    case 2:
        if (m->depth[cpu] >= 2) {
            set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1,
                   m->stack[cpu][0].va); /* ORDER */
            return;
        }
        set_op(f, ARMMAP_OP_KMAP_ATOMIC, m->ncpus, 1,
               m->bad_pfn); /* no such cpu */
        return;
    case 3:
        set_op(f, ARMMAP_OP_ALLOC, 0, 2, 1u, 11u); /* order 11 */
        return;
    case 4:
        if (pick_area(r, m, AK_VMALLOC, &ai)) {
            set_op(f, ARMMAP_OP_VFREE, 0, 1,
                   m->areas[ai].va + PAGE_SZ); /* not a start */
            return;
        }
        if (pick_area(r, m, AK_VMAP, &ai)) {
            set_op(f, ARMMAP_OP_VFREE, 0, 1, m->areas[ai].va); /* wrong kind */
            return;
        }
        set_op(f, ARMMAP_OP_VFREE, 0, 1, 0x1000u);
        return;
    case 5:
        if (m->nblocks && m->blocks[0].order < 10) {
            set_op(f, ARMMAP_OP_FREE, 0, 2, m->blocks[0].pfn,
                   (uint32_t)m->blocks[0].order + 1); /* wrong order */
            return;
        }
        set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1, 0x1000u); /* user address */
        return;
    case 6:
        if (pick_page(r, m, false, &pfn)) {
            set_op(f, ARMMAP_OP_IOREMAP, 0, 2, pfn << 12, PAGE_SZ); /* RAM */
            return;
        }
        set_op(f, ARMMAP_OP_IOREMAP, 0, 2, m->io_phys, 0u); /* size 0 */
        return;
    case 7:
        if (pick_page(r, m, true, &pfn)) {
            set_op(f, ARMMAP_OP_KMAP_ATOMIC, cpu, 2, pfn,
                   3u); /* a km_type slot */
            return;
        }
        set_op(f, ARMMAP_OP_VMAP, 0, 1, m->bad_pfn); /* not RAM */
        return;
    default: set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1, 0x1000u); return;
    }
}

/* ---- running sequences ----------------------------------------------------
 */

struct history {
    struct fop *ops;
    size_t n, cap;
};

static bool history_add(struct history *h, const struct fop *f)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 256;
        struct fop *no = realloc(h->ops, ncap * sizeof(*no));

        if (!no)
            return false;
        h->ops = no;
        h->cap = ncap;
    }
    h->ops[h->n] = *f;
    h->ops[h->n].op.args = h->ops[h->n].args;
    h->n++;
    return true;
}

struct failure {
    bool found;
    size_t index; /* the op, or the last op of the batch */
    bool translation;
    char why[WHY_MAX];
};

static int run_batch_in(struct cli *c, uint64_t id, struct model *m,
                        struct fop *ops, size_t n, size_t base,
                        struct failure *fail, struct armmap_op *batch,
                        struct armmap_op_result *res);

/* Sends @n ops as one batch to @id and checks them; *@fail on disagreement. */
static int run_batch(struct cli *c, uint64_t id, struct model *m,
                     struct fop *ops, size_t n, size_t base,
                     struct failure *fail)
{
    struct armmap_op *batch = malloc(n * sizeof(*batch));
    struct armmap_op_result *res = malloc(n * sizeof(*res));
    int rc;

    if (!batch || !res) {
        free(batch);
        free(res);
        return cli_local_error(c, "out of memory");
    }
    rc = run_batch_in(c, id, m, ops, n, base, fail, batch, res);
    free(batch);
    free(res);
    return rc;
}

/* run_batch() with its arrays. */
static int run_batch_in(struct cli *c, uint64_t id, struct model *m,
                        struct fop *ops, size_t n, size_t base,
                        struct failure *fail, struct armmap_op *batch,
                        struct armmap_op_result *res)
{
    enum armmap_status st;
    size_t i, got;
    bool ok;
    int rc;

    for (i = 0; i < n; i++) {
        batch[i] = ops[i].op;
        batch[i].args = ops[i].args;
    }
    for (i = 0; m->trace && i < n; i++) {
        char l[128];

        armmap_format_op(&batch[i], l, sizeof(l));
        fprintf(stderr, "fuzz: %" PRIu64 " #%zu send %s\n", id, base + i, l);
    }
    st = armmap_batch(c->conn, id, batch, n, false, res, &got);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    for (i = 0; i < got; i++) {
        if ((unsigned)res[i].status < ARMMAP_NO_SOCKET) {
            m->seen[res[i].status]++;
            if ((unsigned)batch[i].code < NR_FUZZ_OPS)
                m->cov[batch[i].code][res[i].status]++;
        }
        if (m->trace) {
            char l[128];

            armmap_format_op(&batch[i], l, sizeof(l));
            fprintf(stderr, "fuzz: %" PRIu64 " #%zu %s -> %s 0x%x aux %u\n", id,
                    base + i, l, armmap_strerror(res[i].status), res[i].value,
                    res[i].aux);
        }
        if (!check_op(m, &batch[i], &res[i], fail->why)) {
            fail->found = true;
            fail->index = base + i;
            return 0;
        }
    }
    if (got != n) {
        fail->found = true;
        fail->index = base + got;
        why_set(fail->why, "batch of %zu ops answered with %zu results", n,
                got);
        return 0;
    }
    rc = check_translations(c, id, m, &ok, fail->why);
    if (rc)
        return rc;
    if (!ok) {
        fail->found = true;
        fail->translation = true;
        fail->index = base + n - 1;
    }
    return 0;
}

/* What every machine of a run boots with, and how the run batches. */
struct fuzz_cfg {
    const char *preset;
    struct armmap_setting settings[MAX_SETTINGS];
    size_t nsettings;
    char values[MAX_SETTINGS][32]; /* drawn values (--config-random) */
    unsigned batch;
    bool inject;
};

static int create_machine(struct cli *c, const struct fuzz_cfg *cfg,
                          uint64_t *id)
{
    struct armmap_machine *mach;
    enum armmap_status st;

    st = armmap_create(c->conn, cfg->preset, cfg->settings, cfg->nsettings,
                       "fuzz", &mach);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    *id = mach->id;
    armmap_machine_free(mach);
    return 0;
}

/* Replays @ops on a fresh machine; *@fail says whether they disagree. */
static int replay(struct cli *c, const struct fuzz_cfg *cfg, struct fop *ops,
                  size_t n, struct model *m, struct failure *fail)
{
    char why[WHY_MAX];
    uint64_t id;
    size_t i, k;
    int rc;

    memset(fail, 0, sizeof(*fail));
    if ((rc = create_machine(c, cfg, &id)))
        return rc;
    rc = model_init(c, m, id, cfg->inject, why);
    for (i = 0; rc == 0 && i < n && !fail->found; i += k) {
        k = n - i < cfg->batch ? n - i : cfg->batch;
        rc = run_batch(c, id, m, ops + i, k, i, fail);
    }
    armmap_destroy(c->conn, id);
    return rc;
}

/* Deletes chunks of @h while the rest still disagrees. */
static int shrink(struct cli *c, const struct fuzz_cfg *cfg, struct history *h,
                  struct model *m, struct failure *best, unsigned *runs)
{
    struct fop *cand = malloc((h->n + 1) * sizeof(*cand));
    size_t chunk = h->n / 2 ? h->n / 2 : 1, i;
    time_t start = time(NULL);
    struct failure f;
    int rc = 0;

    if (!cand)
        return cli_local_error(c, "out of memory");
    while (chunk >= 1 && rc == 0) {
        bool progress = false;

        for (i = 0; i < h->n && h->n > 1 && rc == 0;) {
            size_t k = chunk < h->n - i ? chunk : h->n - i, j;

            if (*runs >= SHRINK_RUNS || time(NULL) - start > SHRINK_SECONDS)
                break;
            memcpy(cand, h->ops, i * sizeof(*cand));
            memcpy(cand + i, h->ops + i + k, (h->n - i - k) * sizeof(*cand));
            for (j = 0; j < h->n - k; j++)
                cand[j].op.args = cand[j].args;
            (*runs)++;
            rc = replay(c, cfg, cand, h->n - k, m, &f);
            if (rc == 0 && f.found) {
                /* Keep the prefix up to the new failure point only. */
                h->n = f.index + 1;
                memcpy(h->ops, cand, h->n * sizeof(*cand));
                for (j = 0; j < h->n; j++)
                    h->ops[j].op.args = h->ops[j].args;
                *best = f;
                progress = true;
            } else {
                i += k;
            }
        }
        if (*runs >= SHRINK_RUNS || time(NULL) - start > SHRINK_SECONDS)
            break;
        if (!progress)
            chunk /= 2;
        else if (chunk > h->n / 2 && h->n > 1)
            chunk = h->n / 2;
    }
    free(cand);
    return rc;
}

static void print_ops(const struct cli *c, const struct history *h,
                      const struct failure *f)
{
    char line[256];
    size_t i;

    for (i = 0; i < h->n; i++) {
        struct armmap_op op = h->ops[i].op;

        op.args = h->ops[i].args; /* the array may have moved */
        armmap_format_op(&op, line, sizeof(line));
        if (c->json) {
            fputs(i ? "," : "", stdout);
            cli_json_str(stdout, line);
        } else {
            printf("  %s%s%s\n", line, i == f->index ? "    # <- " : "",
                   i == f->index
                       ? (f->translation ? "translation check after this op"
                                         : "disagrees")
                       : "");
        }
    }
}

/* ---- the run: seeds, configs, totals ------------------------------------ */

/* Answers over the machines of a run, by status and by op and status. */
struct fuzz_totals {
    unsigned long seen[ARMMAP_NO_SOCKET];
    unsigned long cov[NR_FUZZ_OPS][ARMMAP_NO_SOCKET];
    size_t ops;
    bool highmem; /* some machine had a HighMem zone (pkmap) */
};

struct fuzz_opts {
    uint32_t nops;     /* per seed; 0: until --time runs out */
    uint32_t nmach;
    uint64_t seed_lo, seed_hi;
    double seconds;    /* --time; 0: none */
    bool random_cfg, keep, no_shrink, trace;
    const char *corpus; /* --corpus DIR, or NULL */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void totals_add(struct fuzz_totals *t, const struct model *m)
{
    unsigned k, o;

    t->highmem |= m->has_pkmap;
    for (k = 0; k < ARMMAP_NO_SOCKET; k++) {
        t->seen[k] += m->seen[k];
        for (o = 0; o < NR_FUZZ_OPS; o++)
            t->cov[o][k] += m->cov[o][k];
    }
}

/* "OK 2101, INVALID_ARGUMENT 212" or, in JSON, {"OK":2101,...}. */
static void print_counts(bool json, const unsigned long *cnt)
{
    bool first = true;
    unsigned k;

    if (json)
        fputc('{', stdout);
    for (k = 0; k < ARMMAP_NO_SOCKET; k++) {
        if (!cnt[k])
            continue;
        if (json)
            cli_json_ku64(stdout, &first,
                          armmap_strerror((enum armmap_status)k), cnt[k]);
        else
            printf("%s%s %lu", first ? " " : ", ",
                   armmap_strerror((enum armmap_status)k), cnt[k]);
        first = false;
    }
    if (json)
        fputc('}', stdout);
}

/* The codes the op mix aims at; those a run never got are "not reached". */
static const enum armmap_status aimed[] = {
    ARMMAP_OK,        ARMMAP_INVALID_ARGUMENT, ARMMAP_NOT_FOUND,
    ARMMAP_NO_MEMORY, ARMMAP_WOULD_BLOCK,      ARMMAP_ORDER,
};

/*
 * Coverage of a run: per op, the answers it got; then the aimed-at codes
 * never answered.  Text: "fuzz: coverage: kmap OK 310, WOULD_BLOCK 3"
 * lines; JSON: "coverage":{"kmap":{"OK":310,...},...},"not_reached":[...]
 * (fields of an object the caller opened).
 */
static void print_coverage(bool json, const struct fuzz_totals *t)
{
    bool first = true;
    unsigned o, k;

    if (json)
        fputs(",\"coverage\":{", stdout);
    for (o = 1; o < NR_FUZZ_OPS; o++) {
        unsigned long sum = 0;

        for (k = 0; k < ARMMAP_NO_SOCKET; k++)
            sum += t->cov[o][k];
        if (!sum)
            continue;
        if (json) {
            cli_json_key(stdout, &first,
                         armmap_op_name((enum armmap_opcode)o));
        } else {
            printf("fuzz: coverage: %s", armmap_op_name((enum armmap_opcode)o));
        }
        print_counts(json, t->cov[o]);
        if (!json)
            fputc('\n', stdout);
    }
    if (json)
        fputs("},\"not_reached\":[", stdout);
    else
        printf("fuzz: not reached:");
    first = true;
    for (k = 0; k < sizeof(aimed) / sizeof(aimed[0]); k++) {
        if (t->seen[aimed[k]])
            continue;
        if (json)
            printf("%s\"%s\"", first ? "" : ",", armmap_strerror(aimed[k]));
        else
            printf("%s %s", first ? "" : ",", armmap_strerror(aimed[k]));
        first = false;
    }
    /* Without HighMem, kmap and kmap_atomic of a lowmem page return its
     * lowmem address: no pkmap slot to wait for, no stack to unwind. */
    if (json)
        printf("],\"highmem\":%s", t->highmem ? "true" : "false");
    else
        printf("%s%s\n", first ? " none" : "",
               t->highmem ? ""
                          : " (no HighMem zone: WOULD_BLOCK and ORDER cannot "
                            "happen)");
}

/* "aries" or "aries kernel=4.4 split=1G": the preset and the settings. */
static void cfg_text(const struct fuzz_cfg *cfg, char *buf, size_t size)
{
    size_t i, n;

    n = (size_t)snprintf(buf, size, "%s", cfg->preset);
    for (i = 0; i < cfg->nsettings && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, " %s=%s",
                              cfg->settings[i].key, cfg->settings[i].value);
}

static void cfg_set(struct fuzz_cfg *cfg, const char *key, const char *value)
{
    size_t i = cfg->nsettings++;

    snprintf(cfg->values[i], sizeof(cfg->values[i]), "%s", value);
    cfg->settings[i].key = key;
    cfg->settings[i].value = cfg->values[i];
}

/*
 * --config-random: a config drawn from @seed across presets, kernel eras
 * (those whose kmap_atomic is a stack: the model has no km_type slots),
 * splits, CPU counts and highmem.  Kernels before 3.4 get a VMALLOC_END,
 * which they set per platform.  The engine may refuse a draw (lowmem that
 * does not fit a split): the caller draws again.
 */
static void draw_config(struct fuzz_cfg *cfg, struct rng *r)
{
    static const char *const presets[] = { "aries", "qemu-virt",
                                           "beaglebone-black", "rpi2" };
    static const char *const kernels[] = { "2.6.38", "3.0",  "3.4",  "3.10",
                                           "4.4",    "4.9",  "4.19", "5.4",
                                           "5.10",   "5.15", "6.1" };
    static const char *const split_names[] = { "3G", "2G", "1G", "3G_OPT" };
    const char *k;
    char cpus[8];

    cfg->nsettings = 0;
    cfg->preset = presets[rnd_below(r, 4)];
    if (rnd_below(r, 4)) {
        k = kernels[rnd_below(r, sizeof(kernels) / sizeof(kernels[0]))];
        cfg_set(cfg, "kernel", k);
        if (k[0] == '2' || strcmp(k, "3.0") == 0)
            cfg_set(cfg, "vmalloc_end", "0xf0000000");
    }
    if (rnd_below(r, 2))
        cfg_set(cfg, "split", split_names[rnd_below(r, 4)]);
    if (rnd_below(r, 2)) {
        snprintf(cpus, sizeof(cpus), "%u", 1 + rnd_below(r, 4));
        cfg_set(cfg, "cpus", cpus);
    }
    /* A bigger vmalloc area leaves less lowmem, so that the small presets
     * get a HighMem zone (pkmap, kmap_atomic stacks) too. */
    if (rnd_below(r, 3) == 0)
        cfg_set(cfg, "vmalloc", "600M");
    if (rnd_below(r, 8) == 0)
        cfg_set(cfg, "highmem", "off");
}

/* Boots one machine per the config, or for --config-random draws until
 * the engine takes one (at most 64 draws). */
static int config_for_seed(struct cli *c, struct fuzz_cfg *cfg,
                           const struct fuzz_opts *o, uint64_t seed)
{
    struct armmap_machine *mach;
    enum armmap_status st;
    struct rng r;
    unsigned tries;

    if (!o->random_cfg)
        return 0;
    r.s = seed * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
    for (tries = 0; tries < 64; tries++) {
        draw_config(cfg, &r);
        st = armmap_create(c->conn, cfg->preset, cfg->settings, cfg->nsettings,
                           "fuzz-probe", &mach);
        if (st == ARMMAP_OK) {
            armmap_destroy(c->conn, mach->id);
            armmap_machine_free(mach);
            return 0;
        }
        if (st != ARMMAP_INVALID_ARGUMENT)
            return cli_fail(c, st);
    }
    return cli_local_error(c, "seed %" PRIu64 ": no config drawn boots",
                           seed);
}

/* Prints the shrunk reproduction of a disagreement. */
static void print_finding(struct cli *c, const struct fuzz_cfg *cfg,
                          uint64_t seed, struct history *h,
                          const struct failure *best, unsigned runs,
                          uint64_t kept)
{
    char desc[256];

    cfg_text(cfg, desc, sizeof(desc));
    if (c->json) {
        printf("{\"seed\":%" PRIu64 ",\"status\":\"disagreement\",\"preset\":",
               seed);
        cli_json_str(stdout, cfg->preset);
        fputs(",\"config\":", stdout);
        cli_json_str(stdout, desc);
        printf(",\"shrink_runs\":%u,\"message\":", runs);
        cli_json_str(stdout, best->why);
        if (kept)
            printf(",\"kept\":%" PRIu64, kept);
        fputs(",\"ops\":[", stdout);
        print_ops(c, h, best);
        fputs("]}\n", stdout);
        return;
    }
    printf("fuzz: seed %" PRIu64 ": disagreement: %s\n", seed, best->why);
    printf("fuzz: shortest reproduction: %zu ops on a fresh %s machine "
           "(%u shrink runs):\n",
           h->n, desc, runs);
    print_ops(c, h, best);
    if (kept)
        printf("fuzz: kept machine %" PRIu64 " (named \"fuzz\"), which "
               "disagreed\n", kept);
}

/* Saves the finding @h (failing at @best) as a case in o->corpus: the
 * answers of a fresh machine, and the model's where it names one. */
static int save_case(struct cli *c, const struct fuzz_cfg *cfg,
                     const struct fuzz_opts *o, uint64_t seed,
                     const struct history *h, const struct failure *best)
{
    struct armmap_op_result *res = calloc(h->n + 1, sizeof(*res));
    struct armmap_op *ops = calloc(h->n + 1, sizeof(*ops));
    struct armmap_machine *m = NULL;
    struct cli_case k;
    enum armmap_status st;
    char path[4096];
    size_t i, got, step;
    int rc = 0;

    if (!res || !ops) {
        rc = cli_local_error(c, "out of memory");
        goto out;
    }
    for (i = 0; i < h->n; i++) {
        ops[i] = h->ops[i].op;
        ops[i].args = h->ops[i].args;
    }
    st = armmap_create(c->conn, cfg->preset, cfg->settings, cfg->nsettings,
                       "fuzz-case", &m);
    for (i = 0; st == ARMMAP_OK && i < h->n; i += step) {
        step = h->n - i < cfg->batch ? h->n - i : cfg->batch;
        st = armmap_batch(c->conn, m->id, ops + i, step, false, res + i, &got);
    }
    if (m)
        armmap_destroy(c->conn, m->id);
    if (st != ARMMAP_OK) {
        rc = cli_fail(c, st);
        goto out;
    }
    k.seed = seed;
    k.preset = cfg->preset;
    k.settings = cfg->settings;
    k.nsettings = cfg->nsettings;
    k.ops = ops;
    k.results = res;
    k.n = h->n;
    k.fail_index = best->index;
    k.why = best->why;
    rc = cli_case_write(c, o->corpus, &k, path, sizeof(path));
    if (rc == 0 && !c->json)
        printf("fuzz: saved %s\n", path);
out:
    armmap_machine_free(m);
    free(res);
    free(ops);
    return rc;
}

/* Shrinks machine @mi's history after @fail and prints it; exit 5. */
static int report_finding(struct cli *c, const struct fuzz_cfg *cfg,
                          const struct fuzz_opts *o, uint64_t seed,
                          struct history *h, struct model *scratch,
                          const struct failure *fail, uint64_t kept)
{
    struct failure best = *fail;
    unsigned runs = 0;
    int rc = 0;

    h->n = fail->index + 1;
    if (!o->no_shrink)
        rc = shrink(c, cfg, h, scratch, &best, &runs);
    if (rc == 0) /* confirm the final sequence and take its message */
        rc = replay(c, cfg, h->ops, h->n, scratch, &best);
    if (rc)
        return rc;
    if (!best.found)
        best = *fail;
    print_finding(c, cfg, seed, h, &best, runs, kept);
    if (o->corpus && (rc = save_case(c, cfg, o, seed, h, &best)))
        return rc;
    return CLI_EXIT_FUZZ;
}

/* The per-seed summary of a clean run. */
static void print_clean(struct cli *c, const struct fuzz_cfg *cfg,
                        uint64_t seed, size_t done, unsigned nmach,
                        const struct fuzz_totals *t)
{
    char desc[256];

    cfg_text(cfg, desc, sizeof(desc));
    if (c->json) {
        printf("{\"seed\":%" PRIu64 ",\"ops\":%zu,\"machines\":%u,\"preset\":",
               seed, done, nmach);
        cli_json_str(stdout, cfg->preset);
        fputs(",\"config\":", stdout);
        cli_json_str(stdout, desc);
        fputs(",\"status\":\"clean\",\"answers\":", stdout);
        print_counts(true, t->seen);
        print_coverage(true, t);
        fputs("}\n", stdout);
        return;
    }
    printf("fuzz: seed %" PRIu64 ": %zu ops on %u %s machines: no "
           "disagreement\n",
           seed, done, nmach, desc);
    printf("fuzz: answers:");
    print_counts(false, t->seen);
    fputc('\n', stdout);
    print_coverage(false, t);
}

/*
 * One seed: boots the machines, drives ops in batches round-robin until
 * the op count or the deadline, checks every answer.  Adds to @all;
 * returns 0 when clean, 5 after printing a finding, or an error status.
 */
static int fuzz_seed(struct cli *c, struct fuzz_cfg *cfg,
                     const struct fuzz_opts *o, uint64_t seed, double deadline,
                     struct fuzz_totals *all)
{
    struct model *models = calloc(o->nmach, sizeof(*models));
    struct model *scratch = calloc(1, sizeof(*scratch));
    struct history *hist = calloc(o->nmach, sizeof(*hist));
    uint64_t *ids = calloc(o->nmach, sizeof(*ids)), kept = 0;
    struct fop *ops = malloc(cfg->batch * sizeof(*ops));
    struct fuzz_totals t;
    struct failure fail;
    char why[WHY_MAX];
    struct rng rng;
    size_t done = 0, i, k;
    unsigned mi = 0;
    int rc = 0;

    memset(&t, 0, sizeof(t));
    memset(&fail, 0, sizeof(fail));
    if (!models || !scratch || !hist || !ids || !ops) {
        rc = cli_local_error(c, "out of memory");
        goto out;
    }
    for (i = 0; i < o->nmach && rc == 0; i++) {
        rc = create_machine(c, cfg, &ids[i]);
        if (rc == 0)
            rc = model_init(c, &models[i], ids[i], cfg->inject, why);
        models[i].trace = o->trace;
        if (rc == CLI_EXIT_USAGE)
            cli_usage_error(c, "%s", why);
    }
    if (rc)
        goto out;
    rng.s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (rng.s == 0)
        rng.s = 1;
    while ((o->nops == 0 || done < o->nops) && !fail.found) {
        size_t base = hist[mi].n;

        if (deadline > 0 && now_s() >= deadline)
            break;
        k = o->nops && o->nops - done < cfg->batch ? o->nops - done
                                                   : cfg->batch;
        for (i = 0; i < k; i++) {
            gen_op(&rng, &models[mi], &ops[i]);
            if (!history_add(&hist[mi], &ops[i])) {
                rc = cli_local_error(c, "out of memory");
                goto out;
            }
        }
        /* The model generated from its state at the start of the batch;
         * the checker replays from that same state. */
        rc = run_batch(c, ids[mi], &models[mi], hist[mi].ops + base, k, base,
                       &fail);
        if (rc)
            goto out;
        done += k;
        if (!fail.found)
            mi = (mi + 1) % o->nmach;
    }
    for (i = 0; i < o->nmach; i++)
        totals_add(&t, &models[i]);
    t.ops = done;
    for (i = 0; i < o->nmach; i++)
        totals_add(all, &models[i]);
    all->ops += done;
    if (!fail.found) {
        print_clean(c, cfg, seed, done, o->nmach, &t);
        goto out;
    }
    if (!c->json)
        fprintf(stderr,
                "armmap: fuzz: seed %" PRIu64 ": machine %" PRIu64
                " op %zu: %s\n",
                seed, ids[mi], fail.index, fail.why);
    if (o->keep) {
        kept = ids[mi];
        ids[mi] = 0; /* not destroyed below */
    }
    rc = report_finding(c, cfg, o, seed, &hist[mi], scratch, &fail, kept);
out:
    for (i = 0; ids && i < o->nmach; i++)
        if (ids[i])
            armmap_destroy(c->conn, ids[i]);
    for (i = 0; hist && i < o->nmach; i++)
        free(hist[i].ops);
    free(hist);
    free(ids);
    free(models);
    free(scratch);
    free(ops);
    return rc;
}

/* The last line: every seed's ops, the time, ops/s and answers. */
static void print_total(struct cli *c, const struct fuzz_totals *t,
                        unsigned long nseeds, double secs, int rc)
{
    double rate = secs > 0 ? (double)t->ops / secs : 0;

    if (c->json) {
        printf("{\"total\":true,\"seeds\":%lu,\"ops\":%zu,\"seconds\":%.3f,"
               "\"ops_per_s\":%.0f,\"status\":\"%s\",\"answers\":",
               nseeds, t->ops, secs, rate,
               rc == CLI_EXIT_FUZZ ? "disagreement" : "clean");
        print_counts(true, t->seen);
        fputs("}\n", stdout);
        return;
    }
    printf("fuzz: total: %lu seed%s, %zu ops in %.2f s, %.0f ops/s; answers:",
           nseeds, nseeds == 1 ? "" : "s", t->ops, secs, rate);
    print_counts(false, t->seen);
    fputc('\n', stdout);
}

/* "A..B" or "A" into [*lo, *hi]. */
static bool parse_seeds(struct cli *c, const char *v, uint64_t *lo,
                        uint64_t *hi)
{
    const char *dots = strstr(v, "..");
    char first[32];

    if (!dots)
        return cli_u64_arg(c, v, "seed", lo) && (*hi = *lo, true);
    if ((size_t)(dots - v) >= sizeof(first)) {
        cli_usage_error(c, "bad seeds '%s': expected A..B", v);
        return false;
    }
    memcpy(first, v, (size_t)(dots - v));
    first[dots - v] = '\0';
    if (!cli_u64_arg(c, first, "seed", lo) ||
        !cli_u64_arg(c, dots + 2, "seed", hi))
        return false;
    if (*lo > *hi) {
        cli_usage_error(c, "bad seeds '%s': A is above B", v);
        return false;
    }
    return true;
}

/* The fuzz options, in the order of vals[] after the create flags. */
enum {
    FZ_PRESET, FZ_OPS, FZ_SEED, FZ_SEEDS, FZ_MACHINES, FZ_BATCH, FZ_TIME,
    FZ_CONFIG_RANDOM, FZ_KEEP, FZ_INJECT, FZ_NO_SHRINK, FZ_TRACE, FZ_CORPUS,
    NR_FZ
};

static const struct cli_opt fuzz_opts_defs[NR_FZ] = {
    [FZ_PRESET] = { "--preset", true },
    [FZ_OPS] = { "--ops", true },
    [FZ_SEED] = { "--seed", true },
    [FZ_SEEDS] = { "--seeds", true },
    [FZ_MACHINES] = { "--machines", true },
    [FZ_BATCH] = { "--batch", true },
    [FZ_TIME] = { "--time", true },
    [FZ_CONFIG_RANDOM] = { "--config-random", false },
    [FZ_KEEP] = { "--keep", false },
    [FZ_INJECT] = { "--inject-bug", false },
    [FZ_NO_SHRINK] = { "--no-shrink", false },
    [FZ_TRACE] = { "--trace", false },
    [FZ_CORPUS] = { "--corpus", true },
};

/* Checks the fuzz options in @v into @o and @cfg; -1 or an exit status. */
static int fuzz_parse(struct cli *c, const char **v, struct fuzz_opts *o,
                      struct fuzz_cfg *cfg)
{
    uint32_t batch = 64, secs = 0;

    o->nops = 2000;
    o->nmach = 2;
    o->seed_lo = o->seed_hi = 1;
    if (v[FZ_OPS] && !cli_u32_arg(c, v[FZ_OPS], "ops", &o->nops))
        return CLI_EXIT_USAGE;
    if (v[FZ_OPS] && o->nops == 0)
        return cli_usage_error(c, "bad ops '0': use 1 or more");
    if (v[FZ_SEED] && v[FZ_SEEDS])
        return cli_usage_error(c, "--seed and --seeds: give one of them");
    if (v[FZ_SEED] && !cli_u64_arg(c, v[FZ_SEED], "seed", &o->seed_lo))
        return CLI_EXIT_USAGE;
    o->seed_hi = o->seed_lo;
    if (v[FZ_SEEDS] && !parse_seeds(c, v[FZ_SEEDS], &o->seed_lo, &o->seed_hi))
        return CLI_EXIT_USAGE;
    if (v[FZ_MACHINES] &&
        !cli_u32_arg(c, v[FZ_MACHINES], "machines", &o->nmach))
        return CLI_EXIT_USAGE;
    if (o->nmach < 1 || o->nmach > MAX_MACHINES)
        return cli_usage_error(c, "bad machines '%s': use 1..%u",
                               v[FZ_MACHINES], MAX_MACHINES);
    if (v[FZ_BATCH] && !cli_u32_arg(c, v[FZ_BATCH], "batch", &batch))
        return CLI_EXIT_USAGE;
    if (batch < 1 || batch > MAX_BATCH)
        return cli_usage_error(c, "bad batch '%s': use 1..%u", v[FZ_BATCH],
                               MAX_BATCH);
    if (v[FZ_TIME] && !cli_u32_arg(c, v[FZ_TIME], "time", &secs))
        return CLI_EXIT_USAGE;
    if (v[FZ_TIME] && secs == 0)
        return cli_usage_error(c, "bad time '0': use 1 or more seconds");
    if (v[FZ_TIME] && !v[FZ_OPS])
        o->nops = 0; /* until the time runs out */
    o->seconds = secs;
    o->random_cfg = v[FZ_CONFIG_RANDOM] != NULL;
    o->keep = v[FZ_KEEP] != NULL;
    o->no_shrink = v[FZ_NO_SHRINK] != NULL;
    o->trace = v[FZ_TRACE] != NULL;
    o->corpus = v[FZ_CORPUS];
    if (o->random_cfg && (v[FZ_PRESET] || cfg->nsettings))
        return cli_usage_error(c, "--config-random draws the config: no "
                                  "--preset or config flags with it");
    cfg->preset = v[FZ_PRESET] ? v[FZ_PRESET] : "aries";
    cfg->batch = batch;
    cfg->inject = v[FZ_INJECT] != NULL;
    return -1;
}

int cli_cmd_fuzz(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("fuzz");
    struct cli_opt defs[NR_FZ + MAX_SETTINGS + 1];
    const char *vals[NR_FZ + MAX_SETTINGS + 1];
    struct fuzz_totals all;
    struct fuzz_opts o;
    struct fuzz_cfg cfg;
    unsigned long nseeds = 0;
    double t0, deadline = 0;
    uint64_t seed;
    char *pos[1];
    size_t i;
    int n, rc;

    memset(&cfg, 0, sizeof(cfg));
    memset(&all, 0, sizeof(all));
    memcpy(defs, fuzz_opts_defs, sizeof(fuzz_opts_defs));
    for (i = 0; i < cli_nr_create_flags && i < MAX_SETTINGS; i++) {
        defs[NR_FZ + i].name = cli_create_flags[i].flag;
        defs[NR_FZ + i].has_arg = true;
    }
    defs[NR_FZ + i].name = NULL;
    if ((rc = cli_scan(c, cmd, argc, argv, defs, vals, pos, 0, &n)) >= 0)
        return rc;
    for (i = 0; i < cli_nr_create_flags && i < MAX_SETTINGS; i++) {
        if (!vals[NR_FZ + i])
            continue;
        if (!cli_check_create_flag(c, &cli_create_flags[i], vals[NR_FZ + i]))
            return CLI_EXIT_USAGE;
        cfg.settings[cfg.nsettings].key = cli_create_flags[i].key;
        cfg.settings[cfg.nsettings++].value = vals[NR_FZ + i];
    }
    if ((rc = fuzz_parse(c, vals, &o, &cfg)) >= 0)
        return rc;
    if ((rc = cli_connect(c)))
        return rc;
    t0 = now_s();
    if (o.seconds > 0)
        deadline = t0 + o.seconds;
    for (seed = o.seed_lo; rc == 0; seed++) {
        if (nseeds && deadline > 0 && now_s() >= deadline)
            break;
        rc = config_for_seed(c, &cfg, &o, seed);
        if (rc == 0)
            rc = fuzz_seed(c, &cfg, &o, seed, deadline, &all);
        nseeds++;
        fflush(stdout);
        if (seed == o.seed_hi)
            break;
    }
    if (rc == 0 || rc == CLI_EXIT_FUZZ)
        print_total(c, &all, nseeds, now_s() - t0, rc);
    return rc;
}
