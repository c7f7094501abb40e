/* tests/engine/test_physidx.c - the reverse map against the table walk.
 *
 * mm_phys_aliases() answers from physidx.c's index; mm__phys_aliases_walk()
 * is the walk over every table it replaced, kept as the oracle.  Random op
 * sequences on every preset and era compare the two, after every op, on
 * addresses the machine really maps (each region's pages, translated) and
 * on random RAM, and once more on a clone that goes its own way.
 *
 * Length: PHYSIDX_OPS operations per run, scaled down with the randomized
 * sequences under ARMMAP_RANDOM_OPS (t_random_len()): make check runs
 * them shorter (its sanitizer build walks every table after every op ten
 * times slower), make check-full at full length.
 */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PHYSIDX_OPS 500u                /* operations per run, full length */

/* Both answers for @pa must be the same list: count, order, regions. */
static void same_aliases(const struct mm_machine *m, mm_paddr_t pa, const char *where)
{
    struct mm_alias a[16], b[16];
    size_t na = mm_phys_aliases(m, pa, a, 16);
    size_t nb = mm__phys_aliases_walk(m, pa, b, 16);

    ck_assert_msg(na == nb, "%s: pa 0x%08x: index has %zu aliases, walk %zu", where, pa,
                  na, nb);
    for (size_t i = 0; i < na && i < 16; i++) {
        ck_assert_msg(a[i].va == b[i].va, "%s: pa 0x%08x alias %zu: 0x%08x vs 0x%08x",
                      where, pa, i, a[i].va, b[i].va);
        ck_assert_int_eq(a[i].region, b[i].region);
    }
}

/* The PA that @va translates to, compared if it translates at all. */
static void probe_va(const struct mm_machine *m, mm_vaddr_t va, const char *where)
{
    struct mm_walk w;

    if (mm_translate(m, va, 0, &w) == MM_OK)
        same_aliases(m, w.pa, where);
}

/* A few addresses from each kind of mapping, plus random RAM. */
static void probe(const struct mm_machine *m, const struct t_shadow *sh, struct t_rng *r,
                  const char *where)
{
    const struct mm_layout *lay = &m->lay;

    for (unsigned i = 0; i < sh->areas.n; i++)
        probe_va(m, sh->areas.v[i] + (t_rnd(r, 4) << 12) + t_rnd(r, 4096), where);
    if (lay->pkmap_base)
        probe_va(m, lay->pkmap_base + (t_rnd(r, 512) << 12), where);
    probe_va(m, lay->fixaddr_start + (t_rnd(r, 256) << 12), where);
    probe_va(m, lay->vectors_base + t_rnd(r, 4096), where);
    probe_va(m, lay->page_offset + t_rnd(r, lay->high_memory - lay->page_offset), where);
    same_aliases(m, (lay->min_pfn + t_rnd(r, lay->max_pfn - lay->min_pfn)) << 12 |
                    t_rnd(r, 4096), where);
    same_aliases(m, t_rnd(r, UINT32_MAX), where);
}

static bool run(const char *preset, const char *kernel, uint64_t seed, unsigned nops)
{
    struct mm_machine *m = t_machine_era(preset, kernel), *c = NULL;
    struct t_shadow sh, csh;
    struct t_rng r = {seed};
    struct t_record rec;
    char where[96];

    if (m == NULL)
        return false;
    memset(&sh, 0, sizeof(sh));
    for (unsigned i = 0; i < nops; i++) {
        t_gen_op(m, &sh, &r, &rec);
        if (mm_apply(m, &rec.op, &rec.res) == MM_OK)
            t_learn(m, &sh, &rec);
        snprintf(where, sizeof(where), "%s %s seed %llu op %u (%s)", preset, kernel,
                 (unsigned long long)seed, i, mm_op_name(rec.op.code));
        probe(m, &sh, &r, where);
        if (i == nops / 2) {
            c = mm_clone(m);
            ck_assert_ptr_nonnull(c);
            csh = sh;
        }
    }
    ck_assert_ptr_nonnull(c);           /* cloned at op nops / 2 */
    for (unsigned i = 0; i < nops / 2; i++) {
        t_gen_op(c, &csh, &r, &rec);
        if (mm_apply(c, &rec.op, &rec.res) == MM_OK)
            t_learn(c, &csh, &rec);
        snprintf(where, sizeof(where), "clone of %s %s op %u", preset, kernel, i);
        probe(c, &csh, &r, where);
    }
    for (unsigned i = 0; i < 1000; i++)     /* every kind of RAM page, sampled */
        same_aliases(m, (m->lay.min_pfn + t_rnd(&r, m->lay.max_pfn - m->lay.min_pfn))
                        << 12, "final sweep");
    mm_destroy(c);
    mm_destroy(m);
    return true;
}

START_TEST(test_physidx_every_preset_and_era)
{
    unsigned nops = t_random_len(PHYSIDX_OPS);
    uint64_t seed = 100;
    unsigned ran = 0;

    for (unsigned p = 0; t_presets[p] != NULL; p++)
        for (unsigned k = 0; t_era_kernels[k] != NULL; k++)
            ran += run(t_presets[p], t_era_kernels[k], seed++, nops);
    ck_assert_uint_ge(ran, 50);         /* of 56: aries needs 3.0 or later */
}
END_TEST

/* A lowmem page has its __va() alias; once vmapped, a second one, listed in
 * ascending order; vunmap takes it away again. */
START_TEST(test_physidx_vmap_alias)
{
    struct mm_machine *m = t_machine("qemu-virt", NULL);
    struct mm_result res, al;
    struct mm_alias a[4];
    mm_pfn_t pfn;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &al), MM_OK);
    pfn = al.value;
    ck_assert_uint_eq(mm_phys_aliases(m, pfn << 12 | 0x10, a, 4), 1);
    ck_assert_str_eq(mm_vregion_name(a[0].region), "lowmem");
    ck_assert_int_eq(mm_vmap(m, &pfn, 1, &res), MM_OK);
    ck_assert_uint_eq(mm_phys_aliases(m, pfn << 12 | 0x10, a, 4), 2);
    ck_assert_uint_eq(a[0].va, m->lay.page_offset + (pfn << 12) - m->lay.phys_offset + 0x10);
    ck_assert_uint_eq(a[1].va, res.value + 0x10);
    ck_assert_str_eq(mm_vregion_name(a[1].region), "vmalloc");
    ck_assert_int_eq(mm_vunmap(m, res.value, &res), MM_OK);
    same_aliases(m, pfn << 12 | 0x10, "after vunmap");
    mm_destroy(m);
}
END_TEST

/* A clone's index reads the clone's own first-level table: the source,
 * its index warmed by a vmalloc, is destroyed before the clone maps and
 * unmaps pages (the sanitized build would see a read of freed memory). */
START_TEST(test_physidx_clone_outlives_source)
{
    struct mm_machine *m = t_machine("qemu-virt", NULL), *c;
    struct mm_result res, fr;
    struct mm_walk w;

    ck_assert_int_eq(mm_vmalloc(m, 0x3000, &res), MM_OK);
    c = mm_clone(m);
    ck_assert_ptr_nonnull(c);
    mm_destroy(m);
    ck_assert_int_eq(mm_vfree(c, res.value, &fr), MM_OK);
    ck_assert_int_eq(mm_vmalloc(c, 0x5000, &res), MM_OK);
    for (uint32_t i = 0; i < 5; i++) {
        ck_assert_int_eq(mm_translate(c, res.value + i * 0x1000, 0, &w), MM_OK);
        same_aliases(c, w.pa, "clone after its source");
    }
    mm_destroy(c);
}
END_TEST

Suite *physidx_suite(void)
{
    Suite *s = suite_create("physidx");
    TCase *tc = tcase_create("index");

    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_physidx_vmap_alias);
    tcase_add_test(tc, test_physidx_clone_outlives_source);
    tcase_add_test(tc, test_physidx_every_preset_and_era);
    suite_add_tcase(s, tc);
    return s;
}
