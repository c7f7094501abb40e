/* client/cli_fuzz_gen.c - the fuzzer's op generator.
 *
 * Ops are drawn from the model's state at the start of a batch: mostly
 * valid-looking ones on what it holds, deliberately invalid ones with one
 * right answer, and now and then a storm of kmaps of fresh highmem pages
 * that fills the pkmap window (WOULD_BLOCK) on machines with HighMem.
 */
#include "cli_fuzz.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        if (!high || fz_is_high(m, b->pfn + i)) {
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
        if (pick_page(r, m, true, pfn) && fz_slot_of(m, *pfn) < 0)
            return true;
    return false;
}

/* One valid-looking op of the category @roll names; false if the model's
 * state offers none (the caller rolls again). */
static bool gen_valid(struct rng *r, struct model *m, uint32_t roll,
                      struct fop *f)
{
    uint32_t pfn, cpu = rnd_below(r, m->ncpus);
    bool room = m->nareas + m->gen_areas + 256 < MAX_AREAS;
    unsigned i, start;
    int ai;

    if (roll < 10) {
        bool high = m->has_pkmap && rnd_below(r, 3) != 0;
        uint32_t order = rnd_below(r, 8) == 0 ? 5 : rnd_below(r, 3);

        if (m->nblocks + m->gen_blocks + 256 >= MAX_BLOCKS)
            return false;
        m->gen_blocks++;
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
    if (roll < 60 && m->km_type) {
        /* A few slots, so that live ones are displaced now and then. */
        if (!pick_page(r, m, rnd_below(r, 4) != 0, &pfn))
            return false;
        set_op(f, ARMMAP_OP_KMAP_ATOMIC, cpu, 2, pfn,
               rnd_below(r, GEN_KM_SLOTS));
        return true;
    }
    if (roll < 60) {
        if (m->depth[cpu] >= GEN_DEPTH ||
            !pick_page(r, m, rnd_below(r, 4) != 0, &pfn))
            return false;
        set_op(f, ARMMAP_OP_KMAP_ATOMIC, cpu, 1, pfn);
        return true;
    }
    if (roll < 68 && m->km_type) {
        uint32_t k = rnd_below(r, GEN_KM_SLOTS);

        /* The slot's address once learned: live (OK) or not (NOT_FOUND). */
        if (m->slot_va[cpu][k]) {
            set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1, m->slot_va[cpu][k]);
            return true;
        }
        if (!m->nrefs)
            return false;
        set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1,
               m->refs[rnd_below(r, m->nrefs)].va);
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
        m->gen_areas++;
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
        m->gen_areas++;
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
        m->gen_areas++;
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
        m->gen_areas++;
        set_op(f, ARMMAP_OP_MODULE_ALLOC, 0, 1, 1 + rnd_below(r, 32 * 1024));
        return true;
    }
    if (roll < 91) {
        if (!pick_area(r, m, AK_MODULE, &ai))
            return false;
        set_op(f, ARMMAP_OP_MODULE_FREE, 0, 1, m->areas[ai].va);
        return true;
    }
    if (roll < 93) {
        uint32_t text = rnd_below(r, 3) * PAGE_SZ;

        if (!pick_area(r, m, AK_MODULE, &ai))
            return false;
        set_op(f, ARMMAP_OP_MODULE_ENABLE_RO, 0, 3, m->areas[ai].va, text,
               text + rnd_below(r, 3) * PAGE_SZ);
        return true;
    }
    set_op(f, ARMMAP_OP_KMAP_FLUSH, 0, 0);
    return true;
}

/* One op from the model's state: mostly valid-looking, 8% deliberately
 * invalid, and now and then a storm of kmaps of fresh highmem pages that
 * fills the pkmap window up to WOULD_BLOCK. */
void fz_gen_op(struct rng *r, struct model *m, struct fop *f)
{
    uint32_t roll, pfn, cpu = rnd_below(r, m->ncpus);
    unsigned tries;
    int ai;

    if (m->storm > 0 && fz_all_busy(m))
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
            if (gen_valid(r, m, rnd_below(r, 94), f))
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
        if (pick_page(r, m, true, &pfn) && fz_slot_of(m, pfn) < 0) {
            set_op(f, ARMMAP_OP_KUNMAP, 0, 1, pfn); /* NOT_FOUND */
            return;
        }
        set_op(f, ARMMAP_OP_VMALLOC, 0, 1, 0); /* size 0 */
        return;
    case 2:
        if (m->km_type && m->ncpus > 1 && m->slot_va[(cpu + 1) % m->ncpus][0]) {
            set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1,
                   m->slot_va[(cpu + 1) % m->ncpus][0]); /* another CPU's */
            return;
        }
        if (m->depth[cpu] >= 2) {
            set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1,
                   m->stack[cpu][0].va); /* ORDER */
            return;
        }
        set_op(f, ARMMAP_OP_KMAP_ATOMIC, m->ncpus, 1,
               m->bad_pfn); /* no such cpu */
        return;
    case 3:
        set_op(f, ARMMAP_OP_ALLOC, 0, 2, 1u, m->max_order + 1); /* too big */
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
        if (m->nblocks && m->blocks[0].order < m->max_order) {
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
        if (m->km_type && pick_page(r, m, true, &pfn)) {
            if (rnd_below(r, 2))
                set_op(f, ARMMAP_OP_KMAP_ATOMIC, cpu, 1, pfn); /* no slot */
            else
                set_op(f, ARMMAP_OP_KMAP_ATOMIC, cpu, 2, pfn, BAD_KM_SLOT);
            return;
        }
        if (pick_page(r, m, true, &pfn)) {
            set_op(f, ARMMAP_OP_KMAP_ATOMIC, cpu, 2, pfn,
                   3u); /* a km_type slot */
            return;
        }
        set_op(f, ARMMAP_OP_VMAP, 0, 1, m->bad_pfn); /* not RAM */
        return;
    default:
        set_op(f, ARMMAP_OP_KUNMAP_ATOMIC, cpu, 1, 0x1000u);
        return;
    }
}
