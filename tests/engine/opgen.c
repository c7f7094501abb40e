/* tests/engine/opgen.c - the random operation generator the randomized
 * suites share (random, physidx, snapshot): plausible ops mixed with wrong
 * ones, from a seeded xorshift generator, with a shadow of what it holds. */
#include "check_engine.h"

#include <string.h>

uint32_t t_rnd(struct t_rng *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return n ? (uint32_t)(r->s % n) : 0;
}

static void pool_add(struct t_pool *p, uint32_t v, uint32_t order)
{
    if (p->n < T_POOL) {
        p->order[p->n] = order;
        p->v[p->n++] = v;
    }
}

/* Forgets one entry equal to @v (what a successful free released). */
static void pool_del(struct t_pool *p, uint32_t v)
{
    for (unsigned i = 0; i < p->n; i++) {
        if (p->v[i] == v) {
            p->n--;
            p->v[i] = p->v[p->n];
            p->order[i] = p->order[p->n];
            return;
        }
    }
}

static unsigned pool_pick(const struct t_pool *p, struct t_rng *r)
{
    return t_rnd(r, p->n);
}

static bool pool_full(const struct t_pool *p)
{
    return p->n >= T_POOL - 8;            /* room for a vmap's extra users */
}

/* A pfn: usually one we hold, sometimes any RAM-ish or wild value. */
static uint32_t any_pfn(const struct mm_machine *m, const struct t_shadow *sh,
                        struct t_rng *r)
{
    switch (t_rnd(r, 4)) {
    case 0:
        return m->lay.min_pfn + t_rnd(r, m->lay.max_pfn - m->lay.min_pfn);
    case 1:
        return t_rnd(r, 1u << 20);
    default:
        return sh->blocks.n ? sh->blocks.v[pool_pick(&sh->blocks, r)]
                            : m->lay.max_pfn - 1;
    }
}

static void gen_alloc(const struct t_shadow *sh, struct t_rng *r, struct t_record *rec)
{
    uint32_t *a = rec->args;

    if (pool_full(&sh->blocks)) {
        unsigned i = pool_pick(&sh->blocks, r);

        rec->op.code = MM_OP_FREE;
        a[0] = sh->blocks.v[i];
        a[1] = t_rnd(r, 10) == 0 ? t_rnd(r, 4) : sh->blocks.order[i];
    } else {
        rec->op.code = MM_OP_ALLOC;
        a[0] = t_rnd(r, 20) == 0 ? 3 : 1 + t_rnd(r, 2);
        a[1] = t_rnd(r, 30) == 0 ? 11 : (t_rnd(r, 3) == 0 ? t_rnd(r, 6) : 0);
    }
    rec->op.nargs = 2;
}

static void gen_free(const struct mm_machine *m, const struct t_shadow *sh,
                     struct t_rng *r, struct t_record *rec)
{
    uint32_t *a = rec->args;

    rec->op.code = MM_OP_FREE;
    rec->op.nargs = 2;
    if (sh->blocks.n == 0 || t_rnd(r, 8) == 0) {
        a[0] = any_pfn(m, sh, r);
        a[1] = t_rnd(r, 4);
    } else {
        unsigned i = pool_pick(&sh->blocks, r);

        a[0] = sh->blocks.v[i];
        a[1] = t_rnd(r, 10) == 0 ? t_rnd(r, 4) : sh->blocks.order[i];
    }
}

static void gen_kmap(const struct mm_machine *m, const struct t_shadow *sh,
                     struct t_rng *r, struct t_record *rec, bool unmap)
{
    rec->op.nargs = 1;
    if (unmap || pool_full(&sh->kmapped)) {
        rec->op.code = MM_OP_KUNMAP;
        rec->args[0] = sh->kmapped.n == 0 || t_rnd(r, 6) == 0
                       ? any_pfn(m, sh, r)
                       : sh->kmapped.v[pool_pick(&sh->kmapped, r)];
    } else {
        rec->op.code = MM_OP_KMAP;
        rec->args[0] = any_pfn(m, sh, r);
    }
}

static void gen_atomic(const struct mm_machine *m, const struct t_shadow *sh,
                       struct t_rng *r, struct t_record *rec, bool unmap)
{
    unsigned c = rec->op.cpu < MM_MAX_CPUS ? rec->op.cpu : 0;
    unsigned n = sh->natomic[c];
    uint32_t *a = rec->args;

    rec->op.nargs = 1;
    if (unmap || n >= T_POOL || pool_full(&sh->kmapped)) {
        rec->op.code = MM_OP_KUNMAP_ATOMIC;
        if (n > 0 && t_rnd(r, 5) != 0)
            a[0] = sh->atomic_va[c][t_rnd(r, 4) == 0 ? t_rnd(r, n) : n - 1];
        else
            a[0] = m->lay.fixaddr_start + (t_rnd(r, 64) << 12);
        return;
    }
    rec->op.code = MM_OP_KMAP_ATOMIC;
    a[0] = any_pfn(m, sh, r);
    if (m->lay.atomic == MM_ATOMIC_KM_TYPE || t_rnd(r, 40) == 0) {
        a[1] = t_rnd(r, m->lay.km_type_nr + 2);
        rec->op.nargs = 2;
    }
}

/* vmalloc, vmap, ioremap, module_alloc, module_enable_ro, or one of their
 * frees. */
static void gen_area(const struct mm_machine *m, const struct t_shadow *sh,
                     struct t_rng *r, struct t_record *rec, bool unmap)
{
    static const enum mm_opcode frees[] = {
        MM_OP_VFREE, MM_OP_VUNMAP, MM_OP_IOUNMAP, MM_OP_MODULE_FREE,
    };
    uint32_t *a = rec->args;

    rec->op.nargs = 1;
    if (unmap || pool_full(&sh->areas)) {
        rec->op.code = frees[t_rnd(r, 4)];
        a[0] = sh->areas.n == 0 || t_rnd(r, 8) == 0
               ? m->lay.vmalloc_start + (t_rnd(r, 256) << 12)
               : sh->areas.v[pool_pick(&sh->areas, r)];
        return;
    }
    switch (t_rnd(r, 5)) {
    case 4: /* complete_formation() on a module, or on something else */
        rec->op.code = MM_OP_MODULE_ENABLE_RO;
        rec->op.nargs = 3;
        a[0] = sh->areas.n == 0 || t_rnd(r, 8) == 0
               ? m->lay.modules_vaddr + (t_rnd(r, 64) << 12)
               : sh->areas.v[pool_pick(&sh->areas, r)];
        a[1] = t_rnd(r, 4) << 12 | (t_rnd(r, 16) == 0 ? 0x800 : 0);
        a[2] = a[1] + (t_rnd(r, 4) << 12);
        break;
    case 0:
        rec->op.code = MM_OP_VMALLOC;
        a[0] = t_rnd(r, 40) == 0 ? t_rnd(r, 0x40000000) : 1 + t_rnd(r, 64 * 1024);
        break;
    case 1:
        rec->op.code = MM_OP_VMAP;
        rec->op.nargs = 1 + t_rnd(r, 6);
        for (unsigned i = 0; i < rec->op.nargs; i++)
            a[i] = any_pfn(m, sh, r);
        break;
    case 2:
        rec->op.code = MM_OP_IOREMAP;
        a[0] = t_rnd(r, 10) == 0 ? (m->lay.min_pfn << 12) + t_rnd(r, 1 << 20)
                               : 0x10000000 + (t_rnd(r, 4096) << 12) + t_rnd(r, 3) * 0x10;
        a[1] = t_rnd(r, 3) == 0 ? 0x100000 : 1 + t_rnd(r, 0x8000);
        rec->op.nargs = 2;
        break;
    default:
        rec->op.code = MM_OP_MODULE_ALLOC;
        a[0] = 1 + t_rnd(r, 128 * 1024);
        break;
    }
}

/* Builds the next op into @rec. */
void t_gen_op(const struct mm_machine *m, struct t_shadow *sh, struct t_rng *r,
                   struct t_record *rec)
{
    unsigned cpus = m->cfg.cpus;

    memset(rec, 0, sizeof(*rec));
    rec->op.args = rec->args;
    rec->op.cpu = t_rnd(r, 50) == 0 ? cpus + t_rnd(r, 3) : t_rnd(r, cpus);
    switch (t_rnd(r, 16)) {
    case 0: case 1: gen_alloc(sh, r, rec); break;
    case 2: case 3: gen_free(m, sh, r, rec); break;
    case 4: case 5: gen_kmap(m, sh, r, rec, false); break;
    case 6:         gen_kmap(m, sh, r, rec, true); break;
    case 7: case 8: gen_atomic(m, sh, r, rec, false); break;
    case 9:         gen_atomic(m, sh, r, rec, true); break;
    case 10: case 11: gen_area(m, sh, r, rec, false); break;
    case 12: case 13: gen_area(m, sh, r, rec, true); break;
    case 14:
        rec->op.code = MM_OP_KMAP_FLUSH;
        break;
    default:
        rec->op.code = MM_OP_ALLOC;     /* a wrong argument count */
        rec->op.nargs = t_rnd(r, 2);
        break;
    }
}

/* Teaches the generator what a successful op produced or released. */
void t_learn(const struct mm_machine *m, struct t_shadow *sh,
                  const struct t_record *rec)
{
    const uint32_t *a = rec->args;
    unsigned c = rec->op.cpu;

    switch (rec->op.code) {
    case MM_OP_ALLOC:
        pool_add(&sh->blocks, rec->res.value, a[1]);
        break;
    case MM_OP_FREE:
        pool_del(&sh->blocks, a[0]);
        break;
    case MM_OP_KMAP:
        pool_add(&sh->kmapped, a[0], 0);
        break;
    case MM_OP_KUNMAP:
        pool_del(&sh->kmapped, a[0]);
        break;
    case MM_OP_KMAP_ATOMIC:
        if (sh->natomic[c] < T_POOL)
            sh->atomic_va[c][sh->natomic[c]++] = rec->res.value;
        /* A page already in the pkmap window gained a pkmap user. */
        if (rec->res.value >= m->lay.pkmap_base && rec->res.value < m->lay.page_offset)
            pool_add(&sh->kmapped, a[0], 0);
        break;
    case MM_OP_KUNMAP_ATOMIC:
        if (sh->natomic[c] > 0 && sh->atomic_va[c][sh->natomic[c] - 1] == a[0])
            sh->natomic[c]--;
        if (a[0] >= m->lay.pkmap_base && a[0] < m->lay.page_offset)
            pool_del(&sh->kmapped, rec->res.value);
        break;
    case MM_OP_VMALLOC:
    case MM_OP_VMAP:
    case MM_OP_IOREMAP:
    case MM_OP_MODULE_ALLOC:
        pool_add(&sh->areas, rec->res.value & ~0xfffu, 0);
        break;
    case MM_OP_VFREE:
    case MM_OP_VUNMAP:
    case MM_OP_IOUNMAP:
    case MM_OP_MODULE_FREE:
        pool_del(&sh->areas, a[0]);
        break;
    default:
        break;
    }
}


/* The first version of every row of era.c's table. */
const char *const t_era_kernels[] = {
    "2.6.35", "2.6.36", "2.6.37", "3.0", "3.4", "3.13", "3.16", "3.19",
    "4.0", "4.3", "4.4", "4.15", "5.1", "5.11", NULL,
};

const char *const t_presets[] = {
    "aries", "qemu-virt", "beaglebone-black", "rpi2", NULL,
};

struct mm_machine *t_machine_era(const char *preset, const char *kernel)
{
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    char err[MM_MSG_MAX], err2[MM_MSG_MAX];

    ck_assert_msg(mm_config_preset(&cfg, preset, err) == MM_OK, "%s", err);
    ck_assert_msg(mm_config_set(&cfg, "kernel", kernel, err) == MM_OK, "%s", err);
    if (mm_create(&cfg, &m, err) == MM_OK)
        return m;
    /* Before 3.4 VMALLOC_END is per platform: the config must give it. */
    ck_assert_msg(mm_config_set(&cfg, "vmalloc_end", "0xff000000", err2) == MM_OK, "%s",
                  err2);
    if (mm_create(&cfg, &m, err2) != MM_OK)
        return NULL;                    /* e.g. aries' fixed 3.4 image before 3.0 */
    return m;
}
