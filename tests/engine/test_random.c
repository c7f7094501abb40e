/* tests/engine/test_random.c - randomized op sequences with fixed seeds.
 *
 * Each run drives one machine through a long sequence of operations drawn
 * from a seeded xorshift generator: mostly plausible ones (freeing what was
 * allocated, unmapping the top of a kmap_atomic stack) mixed with wrong ones
 * (random pfns and addresses, bad orders, CPUs that do not exist).  After
 * every operation mm_check() must pass.  Every (op, result) pair is kept;
 * at the end a fresh machine from the same config replays them all and must
 * give every result again, and the two machines must print the same reports.
 *
 * Length: each run is RUN_OPS (25,000) operations, unless ARMMAP_RANDOM_OPS
 * names another count (1 or more).  make check sets it lower for the
 * sanitizer build only, where mm_check() after every op costs ten times
 * more; every seed and configuration still runs there, and make check-full
 * runs the full length in both builds.
 */
#include "check_engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RUN_OPS 25000u                  /* operations per run by default */

struct rng {
    uint64_t s;
};

static uint32_t rnd(struct rng *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return n ? (uint32_t)(r->s % n) : 0;
}

/*
 * What the generator remembers, so that it can make plausible ops and so
 * that nothing it changed is forgotten: every successful allocation, kmap
 * and area goes into a bounded pool, and when a pool is full the generator
 * frees instead of allocating.  The machine's state stays bounded, which
 * keeps mm_check() after every op cheap.
 */
#define POOL 48
struct pool {
    unsigned n;
    uint32_t v[POOL];
    uint32_t order[POOL];               /* alloc'd blocks only */
};

struct shadow {
    struct pool blocks;                 /* alloc'd pfns */
    struct pool kmapped;                /* one entry per kmap user */
    struct pool areas;                  /* vmalloc/vmap/ioremap/module VAs */
    uint32_t atomic_va[MM_MAX_CPUS][POOL]; /* per-CPU pushed VAs, as a stack */
    unsigned natomic[MM_MAX_CPUS];
};

struct record {
    struct mm_op op;
    uint32_t args[8];
    struct mm_result res;
};

static void pool_add(struct pool *p, uint32_t v, uint32_t order)
{
    if (p->n < POOL) {
        p->order[p->n] = order;
        p->v[p->n++] = v;
    }
}

/* Forgets one entry equal to @v (what a successful free released). */
static void pool_del(struct pool *p, uint32_t v)
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

static unsigned pool_pick(const struct pool *p, struct rng *r)
{
    return rnd(r, p->n);
}

static bool pool_full(const struct pool *p)
{
    return p->n >= POOL - 8;            /* room for a vmap's extra users */
}

/* A pfn: usually one we hold, sometimes any RAM-ish or wild value. */
static uint32_t any_pfn(const struct mm_machine *m, const struct shadow *sh,
                        struct rng *r)
{
    switch (rnd(r, 4)) {
    case 0:
        return m->lay.min_pfn + rnd(r, m->lay.max_pfn - m->lay.min_pfn);
    case 1:
        return rnd(r, 1u << 20);
    default:
        return sh->blocks.n ? sh->blocks.v[pool_pick(&sh->blocks, r)]
                            : m->lay.max_pfn - 1;
    }
}

static void gen_alloc(const struct shadow *sh, struct rng *r, struct record *rec)
{
    uint32_t *a = rec->args;

    if (pool_full(&sh->blocks)) {
        unsigned i = pool_pick(&sh->blocks, r);

        rec->op.code = MM_OP_FREE;
        a[0] = sh->blocks.v[i];
        a[1] = rnd(r, 10) == 0 ? rnd(r, 4) : sh->blocks.order[i];
    } else {
        rec->op.code = MM_OP_ALLOC;
        a[0] = rnd(r, 20) == 0 ? 3 : 1 + rnd(r, 2);
        a[1] = rnd(r, 30) == 0 ? 11 : (rnd(r, 3) == 0 ? rnd(r, 6) : 0);
    }
    rec->op.nargs = 2;
}

static void gen_free(const struct mm_machine *m, const struct shadow *sh,
                     struct rng *r, struct record *rec)
{
    uint32_t *a = rec->args;

    rec->op.code = MM_OP_FREE;
    rec->op.nargs = 2;
    if (sh->blocks.n == 0 || rnd(r, 8) == 0) {
        a[0] = any_pfn(m, sh, r);
        a[1] = rnd(r, 4);
    } else {
        unsigned i = pool_pick(&sh->blocks, r);

        a[0] = sh->blocks.v[i];
        a[1] = rnd(r, 10) == 0 ? rnd(r, 4) : sh->blocks.order[i];
    }
}

static void gen_kmap(const struct mm_machine *m, const struct shadow *sh,
                     struct rng *r, struct record *rec, bool unmap)
{
    rec->op.nargs = 1;
    if (unmap || pool_full(&sh->kmapped)) {
        rec->op.code = MM_OP_KUNMAP;
        rec->args[0] = sh->kmapped.n == 0 || rnd(r, 6) == 0
                       ? any_pfn(m, sh, r)
                       : sh->kmapped.v[pool_pick(&sh->kmapped, r)];
    } else {
        rec->op.code = MM_OP_KMAP;
        rec->args[0] = any_pfn(m, sh, r);
    }
}

static void gen_atomic(const struct mm_machine *m, const struct shadow *sh,
                       struct rng *r, struct record *rec, bool unmap)
{
    unsigned c = rec->op.cpu < MM_MAX_CPUS ? rec->op.cpu : 0;
    unsigned n = sh->natomic[c];
    uint32_t *a = rec->args;

    rec->op.nargs = 1;
    if (unmap || n >= POOL || pool_full(&sh->kmapped)) {
        rec->op.code = MM_OP_KUNMAP_ATOMIC;
        if (n > 0 && rnd(r, 5) != 0)
            a[0] = sh->atomic_va[c][rnd(r, 4) == 0 ? rnd(r, n) : n - 1];
        else
            a[0] = m->lay.fixaddr_start + (rnd(r, 64) << 12);
        return;
    }
    rec->op.code = MM_OP_KMAP_ATOMIC;
    a[0] = any_pfn(m, sh, r);
    if (m->lay.atomic == MM_ATOMIC_KM_TYPE || rnd(r, 40) == 0) {
        a[1] = rnd(r, m->lay.km_type_nr + 2);
        rec->op.nargs = 2;
    }
}

/* vmalloc, vmap, ioremap, module_alloc, or one of their frees. */
static void gen_area(const struct mm_machine *m, const struct shadow *sh,
                     struct rng *r, struct record *rec, bool unmap)
{
    static const enum mm_opcode frees[] = {
        MM_OP_VFREE, MM_OP_VUNMAP, MM_OP_IOUNMAP, MM_OP_MODULE_FREE,
    };
    uint32_t *a = rec->args;

    rec->op.nargs = 1;
    if (unmap || pool_full(&sh->areas)) {
        rec->op.code = frees[rnd(r, 4)];
        a[0] = sh->areas.n == 0 || rnd(r, 8) == 0
               ? m->lay.vmalloc_start + (rnd(r, 256) << 12)
               : sh->areas.v[pool_pick(&sh->areas, r)];
        return;
    }
    switch (rnd(r, 4)) {
    case 0:
        rec->op.code = MM_OP_VMALLOC;
        a[0] = rnd(r, 40) == 0 ? rnd(r, 0x40000000) : 1 + rnd(r, 64 * 1024);
        break;
    case 1:
        rec->op.code = MM_OP_VMAP;
        rec->op.nargs = 1 + rnd(r, 6);
        for (unsigned i = 0; i < rec->op.nargs; i++)
            a[i] = any_pfn(m, sh, r);
        break;
    case 2:
        rec->op.code = MM_OP_IOREMAP;
        a[0] = rnd(r, 10) == 0 ? (m->lay.min_pfn << 12) + rnd(r, 1 << 20)
                               : 0x10000000 + (rnd(r, 4096) << 12) + rnd(r, 3) * 0x10;
        a[1] = rnd(r, 3) == 0 ? 0x100000 : 1 + rnd(r, 0x8000);
        rec->op.nargs = 2;
        break;
    default:
        rec->op.code = MM_OP_MODULE_ALLOC;
        a[0] = 1 + rnd(r, 128 * 1024);
        break;
    }
}

/* Builds the next op into @rec. */
static void gen_op(const struct mm_machine *m, struct shadow *sh, struct rng *r,
                   struct record *rec)
{
    unsigned cpus = m->cfg.cpus;

    memset(rec, 0, sizeof(*rec));
    rec->op.args = rec->args;
    rec->op.cpu = rnd(r, 50) == 0 ? cpus + rnd(r, 3) : rnd(r, cpus);
    switch (rnd(r, 16)) {
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
        rec->op.nargs = rnd(r, 2);
        break;
    }
}

/* Teaches the generator what a successful op produced or released. */
static void learn(const struct mm_machine *m, struct shadow *sh,
                  const struct record *rec)
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
        if (sh->natomic[c] < POOL)
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

static void compare_reports(const struct mm_machine *a, const struct mm_machine *b)
{
    static const enum mm_report rs[] = {
        MM_REPORT_BUDDYINFO, MM_REPORT_MEMINFO, MM_REPORT_VMALLOCINFO,
        MM_REPORT_PKMAP, MM_REPORT_FIXMAP, MM_REPORT_PAGETABLES,
    };

    for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
        char *x = t_report(a, rs[i]), *y = t_report(b, rs[i]);

        ck_assert_msg(strcmp(x, y) == 0, "report %s differs after replay",
                      mm_report_name(rs[i]));
        free(x);
        free(y);
    }
}

/* Runs @nops random ops on a machine made from @preset and @override, with
 * mm_check after each, then replays them on a fresh machine. */
static void run(const char *preset, const char *override, uint64_t seed, unsigned nops)
{
    struct mm_machine *m = t_machine(preset, override, NULL);
    struct mm_machine *fresh = t_machine(preset, override, NULL);
    struct record *log = calloc(nops, sizeof(*log));
    struct shadow sh;
    struct rng r = {seed};
    char err[MM_MSG_MAX];
    unsigned ok = 0;

    ck_assert_ptr_nonnull(log);
    memset(&sh, 0, sizeof(sh));
    for (unsigned i = 0; i < nops; i++) {
        struct record *rec = &log[i];

        gen_op(m, &sh, &r, rec);
        mm_apply(m, &rec->op, &rec->res);
        if (rec->res.status == MM_OK) {
            ok++;
            learn(m, &sh, rec);
        } else {
            ck_assert_msg(rec->res.msg[0] != '\0', "op %u (%s) failed with no message",
                          i, mm_op_name(rec->op.code));
        }
        ck_assert_msg(mm_check(m, err) == MM_OK, "seed %llu op %u (%s -> %s): %s",
                      (unsigned long long)seed, i, mm_op_name(rec->op.code),
                      mm_status_name(rec->res.status), err);
    }
    ck_assert_uint_gt(ok, nops / 5);    /* the mix really changes state */
    for (unsigned i = 0; i < nops; i++) {
        log[i].op.args = log[i].args;
        ck_assert_msg(mm_replay(fresh, &log[i].op, &log[i].res, err) == MM_OK,
                      "seed %llu op %u: %s", (unsigned long long)seed, i, err);
    }
    ck_assert_uint_eq(mm_seq(fresh), mm_seq(m));
    compare_reports(m, fresh);
    free(log);
    mm_destroy(m);
    mm_destroy(fresh);
}

/* Operations per run: RUN_OPS, or $ARMMAP_RANDOM_OPS when it is set; a
 * value that is not a whole number from 1 to RUN_OPS * 100 fails the test
 * (a typo must not quietly shorten or skip the runs). */
static unsigned run_ops(void)
{
    const char *s = getenv("ARMMAP_RANDOM_OPS");
    unsigned long n;
    char *end;

    if (s == NULL || *s == '\0')
        return RUN_OPS;
    errno = 0;
    n = strtoul(s, &end, 10);
    ck_assert_msg(errno == 0 && *end == '\0' && n >= 1 && n <= RUN_OPS * 100ul,
                  "ARMMAP_RANDOM_OPS='%s' is not a count from 1 to %lu", s,
                  RUN_OPS * 100ul);
    return (unsigned)n;
}

/* 8 runs x 25,000 ops = 200,000 operations over five configurations. */
START_TEST(test_random_aries)
{
    run("aries", "kernel=3.4", 1, run_ops());
    run("aries", "kernel=3.4", 2, run_ops());
}
END_TEST

START_TEST(test_random_small_highmem)
{
    run("qemu-virt", "vmalloc=600M", 3, run_ops());
    run("qemu-virt", "cpus=1", 4, run_ops());
}
END_TEST

START_TEST(test_random_eras)
{
    run("qemu-virt", "kernel=6.1", 5, run_ops());
    run("qemu-virt", "kernel=4.19", 6, run_ops());
    run("aries", "kernel=4.4", 7, run_ops());
}
END_TEST

START_TEST(test_random_km_type)
{
    run("qemu-virt", "atomic=km_type", 8, run_ops());
}
END_TEST

Suite *random_suite(void)
{
    Suite *s = suite_create("random");
    TCase *tc = tcase_create("sequences");

    /* "slow": make check runs these apart from the other engine cases
     * (CK_INCLUDE_TAGS / CK_EXCLUDE_TAGS). */
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_random_aries);
    tcase_add_test(tc, test_random_small_highmem);
    tcase_add_test(tc, test_random_eras);
    tcase_add_test(tc, test_random_km_type);
    suite_add_tcase(s, tc);
    return s;
}
