/* tests/engine/test_boots.c - the boot template cache (engine/boots.c).
 *
 * A machine the cache hands out, on the miss that boots its template and
 * on a later hit, must be the machine mm_create() gives: every report as
 * text and JSON, the stats, host bytes, the touched summary, mm_check(),
 * the snapshot bytes, and the results (addresses included) of a fixed and
 * a random sequence of operations, with the snapshots after them.  Configs
 * that differ in one field never share a template; the bounds (entries,
 * bytes) hold with least recently used dropped first; errors are
 * mm_create()'s; threads cloning while templates are dropped get exact
 * machines.
 */
#include "check_engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG ((size_t)1 << 40) /* a byte bound that never binds */

static struct mm_machine *fresh(const struct mm_config *cfg)
{
    struct mm_machine *m;
    char err[MM_MSG_MAX];

    ck_assert_msg(mm_create(cfg, &m, err) == MM_OK, "create: %s", err);
    return m;
}

static struct mm_machine *cached(struct mm_boots *b, const struct mm_config *cfg)
{
    struct mm_machine *m;
    char err[MM_MSG_MAX];

    ck_assert_msg(mm_boots_create(b, cfg, &m, err) == MM_OK, "boots: %s", err);
    ck_assert_str_eq(err, "");
    return m;
}

static struct mm_boots_stats stats(struct mm_boots *b)
{
    struct mm_boots_stats s;

    mm_boots_get_stats(b, &s);
    return s;
}

static char *config_text(const struct mm_config *cfg)
{
    char *t = mm_config_text(cfg);

    ck_assert_ptr_nonnull(t);
    return t;
}

static void same_snapshot(const struct mm_machine *a, const struct mm_machine *b)
{
    struct mm_buf x = {0}, y = {0};

    ck_assert_int_eq(mm_snapshot(a, &x), MM_OK);
    ck_assert_int_eq(mm_snapshot(b, &y), MM_OK);
    ck_assert_uint_eq(x.len, y.len);
    ck_assert_msg(memcmp(x.data, y.data, x.len) == 0, "snapshots differ");
    mm_buf_free(&x);
    mm_buf_free(&y);
}

static void same_report(const struct mm_machine *a, const struct mm_machine *b,
                        enum mm_report r, bool json)
{
    struct mm_buf x = {0}, y = {0};
    enum mm_status sx = json ? mm_report_json(a, r, &x) : mm_report(a, r, &x);
    enum mm_status sy = json ? mm_report_json(b, r, &y) : mm_report(b, r, &y);

    ck_assert_int_eq(sx, sy);
    ck_assert_uint_eq(x.len, y.len);
    ck_assert_msg(x.len == 0 || memcmp(x.data, y.data, x.len) == 0,
                  "report %s (%s) differs", mm_report_name(r), json ? "json" : "text");
    mm_buf_free(&x);
    mm_buf_free(&y);
}

/* Everything a reader can see of @a and @b is the same, but host bytes
 * where @b is a clone: a clone sizes the vmalloc area array to its areas
 * where a boot grew it by doubling, so idle (@idle) the clone holds no
 * more than the boot; once operations grow the array, either may hold
 * more. */
static void same_machine(const struct mm_machine *a, const struct mm_machine *b, bool idle)
{
    struct mm_stats sa, sb;
    char *ca = config_text(mm_machine_config(a));
    char *cb = config_text(mm_machine_config(b));

    ck_assert_str_eq(ca, cb);
    free(ca);
    free(cb);
    t_check(a);
    t_check(b);
    ck_assert_uint_eq(mm_seq(a), mm_seq(b));
    if (idle)
        ck_assert_uint_le(mm_host_bytes(b), mm_host_bytes(a));
    memset(&sa, 0, sizeof(sa));
    memset(&sb, 0, sizeof(sb));
    mm_get_stats(a, &sa);
    mm_get_stats(b, &sb);
    ck_assert_uint_eq(sa.host_bytes, mm_host_bytes(a));
    ck_assert_uint_eq(sb.host_bytes, mm_host_bytes(b));
    sa.host_bytes = sb.host_bytes = 0;
    ck_assert_msg(memcmp(&sa, &sb, sizeof(sa)) == 0, "stats differ");
    ck_assert_msg(memcmp(mm_touched(a), mm_touched(b), sizeof(struct mm_touched)) == 0,
                  "touched summaries differ");
    for (int r = 0; r < MM_REPORT_COUNT; r++) {
        same_report(a, b, (enum mm_report)r, false);
        same_report(a, b, (enum mm_report)r, true);
    }
    same_snapshot(a, b);
}

/* @what: the op (its name), @i: its index in its sequence. */
static void same_result(const struct mm_result *x, const struct mm_result *y,
                        const char *what, unsigned i)
{
    ck_assert_msg(x->status == y->status && x->value == y->value && x->aux == y->aux &&
                      x->flags == y->flags && x->seq == y->seq &&
                      strcmp(x->msg, y->msg) == 0,
                  "op %u (%s): status %d/%d value 0x%x/0x%x aux 0x%x/0x%x flags %u/%u "
                  "seq %llu/%llu msg '%s'/'%s'",
                  i, what, x->status, y->status, x->value, y->value, x->aux, y->aux,
                  x->flags, y->flags, (unsigned long long)x->seq,
                  (unsigned long long)y->seq, x->msg, y->msg);
}

/* One op on both machines; returns its (equal) value, asserting success. */
static uint32_t both(struct mm_machine *a, struct mm_machine *b, enum mm_opcode code,
                     uint32_t cpu, uint32_t nargs, const uint32_t *args)
{
    struct mm_op op = { code, cpu, nargs, args };
    struct mm_result x, y;

    mm_apply(a, &op, &x);
    mm_apply(b, &op, &y);
    ck_assert_msg(x.status == MM_OK, "%s: %s", mm_op_name(code), x.msg);
    same_result(&x, &y, mm_op_name(code), 0);
    return x.value;
}

/* kmap, kmap_atomic / kmap_local, vmalloc, ioremap and module allocations
 * in a fixed order, each giving both machines the same address. */
static void fixed_ops(struct mm_machine *a, struct mm_machine *b, bool highmem)
{
    uint32_t zone[2] = { highmem ? MM_ZONE_HIGHMEM : MM_ZONE_NORMAL, 0 };
    uint32_t pfn = both(a, b, MM_OP_ALLOC, 0, 2, zone);
    uint32_t v1m[1] = { 1u << 20 }, io[2] = { 0x10000000u, 1u << 20 };
    uint32_t m64k[1] = { 64u << 10 }, v8k[1] = { 8u << 10 };
    uint32_t va, vm;

    both(a, b, MM_OP_KMAP, 0, 1, &pfn);
    va = both(a, b, MM_OP_KMAP_ATOMIC, 0, 1, &pfn);
    vm = both(a, b, MM_OP_VMALLOC, 0, 1, v1m);
    both(a, b, MM_OP_IOREMAP, 0, 2, io);
    both(a, b, MM_OP_MODULE_ALLOC, 0, 1, m64k);
    both(a, b, MM_OP_KUNMAP_ATOMIC, 0, 1, &va);
    both(a, b, MM_OP_VFREE, 0, 1, &vm);
    both(a, b, MM_OP_VMALLOC, 0, 1, v8k);
    both(a, b, MM_OP_KUNMAP, 0, 1, &pfn);
}

/* @n generated ops on both machines: the same ops, the same results. */
static void random_ops(struct mm_machine *a, struct mm_machine *b, unsigned n,
                       uint64_t seed)
{
    struct t_shadow sh;
    struct t_rng rng = { seed };

    memset(&sh, 0, sizeof(sh));
    for (unsigned i = 0; i < n; i++) {
        struct t_record ra, rb;

        t_gen_op(a, &sh, &rng, &ra);
        rb = ra;
        rb.op.args = rb.args;
        mm_apply(a, &ra.op, &ra.res);
        mm_apply(b, &rb.op, &rb.res);
        same_result(&ra.res, &rb.res, mm_op_name(ra.op.code), i);
        if (ra.res.status == MM_OK)
            t_learn(a, &sh, &ra);
    }
}

/* The fresh machine, the miss's and the hit's agree at boot and after
 * the same operations. */
static void check_identical(const struct mm_config *cfg, bool highmem)
{
    struct mm_boots *b = mm_boots_new(8, BIG);
    struct mm_machine *f, *miss, *hit;
    struct mm_boots_stats s;

    ck_assert_ptr_nonnull(b);
    f = fresh(cfg);
    miss = cached(b, cfg);
    hit = cached(b, cfg);
    s = stats(b);
    ck_assert_uint_eq(s.misses, 1);
    ck_assert_uint_eq(s.hits, 1);
    ck_assert_uint_eq(s.entries, 1);
    same_machine(f, miss, true);
    same_machine(f, hit, true);
    fixed_ops(f, miss, highmem);
    same_machine(f, miss, false);
    mm_destroy(f);
    f = fresh(cfg);
    random_ops(f, hit, 400, 0x5eed);
    same_machine(f, hit, false);
    mm_destroy(f);
    mm_destroy(miss);
    mm_destroy(hit);
    /* The template was not changed by its clones' operations. */
    f = fresh(cfg);
    hit = cached(b, cfg);
    same_machine(f, hit, true);
    mm_destroy(f);
    mm_destroy(hit);
    mm_boots_free(b);
}

START_TEST(test_identical_aries)
{
    struct mm_config cfg = t_config("aries", NULL);

    ck_assert_uint_eq(cfg.kernel, MM_KVER(3, 4, 0));
    check_identical(&cfg, true);
}
END_TEST

START_TEST(test_identical_virt61_1g_1cpu)
{
    struct mm_config cfg =
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "cpus=1", NULL);

    ck_assert_uint_eq(cfg.version, MM_CONFIG_VERSION);
    check_identical(&cfg, true);
}
END_TEST

START_TEST(test_identical_virt61_2g_4cpus)
{
    struct mm_config cfg =
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+2G", "cpus=4", NULL);

    check_identical(&cfg, true);
}
END_TEST

/* The config a machine from the cache reports is its caller's, exactly. */
static void has_config(const struct mm_machine *m, const struct mm_config *cfg)
{
    char *want = config_text(cfg), *got = config_text(mm_machine_config(m));

    ck_assert_str_eq(got, want);
    free(want);
    free(got);
}

START_TEST(test_one_field_apart)
{
    struct mm_config base = t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", NULL);
    struct mm_config v[] = {
        base,
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "vmalloc=480M", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "cmdline=cma=32M", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "cpus=2", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "cpus=4", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+768M", NULL),
    };
    size_t n = sizeof(v) / sizeof(v[0]);
    struct mm_boots *b = mm_boots_new(16, BIG);
    struct mm_boots_stats s;

    for (size_t i = 0; i < n; i++) {
        struct mm_machine *m = cached(b, &v[i]), *f = fresh(&v[i]);

        has_config(m, &v[i]);
        same_machine(f, m, true);
        mm_destroy(m);
        mm_destroy(f);
        s = stats(b);
        ck_assert_uint_eq(s.entries, i + 1);
        ck_assert_uint_eq(s.misses, i + 1);
        ck_assert_uint_eq(s.hits, 0);
    }
    /* Each again: a hit on its own template. */
    for (size_t i = 0; i < n; i++) {
        struct mm_machine *m = cached(b, &v[i]);

        has_config(m, &v[i]);
        mm_destroy(m);
    }
    s = stats(b);
    ck_assert_uint_eq(s.entries, n);
    ck_assert_uint_eq(s.misses, n);
    ck_assert_uint_eq(s.hits, n);
    mm_boots_free(b);
}
END_TEST

static void create_drop(struct mm_boots *b, const struct mm_config *cfg)
{
    mm_destroy(cached(b, cfg));
}

START_TEST(test_entry_bound_lru)
{
    struct mm_config c[4] = {
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+256M", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+512M", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+768M", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", NULL),
    };
    struct mm_boots *b = mm_boots_new(3, BIG);
    struct mm_boots_stats s;

    create_drop(b, &c[0]);
    create_drop(b, &c[1]);
    create_drop(b, &c[2]);
    create_drop(b, &c[0]); /* hit: c[1] is now the least recently used */
    create_drop(b, &c[3]); /* N + 1 configs: c[1] dropped */
    s = stats(b);
    ck_assert_uint_eq(s.entries, 3);
    ck_assert_uint_eq(s.evictions, 1);
    ck_assert_uint_eq(s.misses, 4);
    ck_assert_uint_eq(s.hits, 1);
    create_drop(b, &c[0]);
    create_drop(b, &c[2]);
    create_drop(b, &c[3]);
    s = stats(b);
    ck_assert_uint_eq(s.hits, 4);
    ck_assert_uint_eq(s.misses, 4);
    create_drop(b, &c[1]); /* booted again, dropping c[0] */
    s = stats(b);
    ck_assert_uint_eq(s.misses, 5);
    ck_assert_uint_eq(s.entries, 3);
    ck_assert_uint_eq(s.evictions, 2);
    mm_boots_free(b);
}
END_TEST

START_TEST(test_byte_bound)
{
    /* Fewer CPUs, fewer host bytes: c[2] fits where c[0] was. */
    struct mm_config c[3] = {
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "cpus=3", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "cpus=2", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "cpus=1", NULL),
    };
    struct mm_boots *b = mm_boots_new(100, BIG);
    struct mm_boots_stats s;
    size_t one, two;

    create_drop(b, &c[0]);
    one = stats(b).bytes;
    ck_assert_uint_gt(one, 0);
    create_drop(b, &c[1]);
    two = stats(b).bytes;
    ck_assert_uint_gt(two, one);
    mm_boots_free(b);
    /* Room for two of them, not three: the least recently used goes. */
    b = mm_boots_new(100, two + 1);
    create_drop(b, &c[0]);
    create_drop(b, &c[1]);
    create_drop(b, &c[2]);
    s = stats(b);
    ck_assert_uint_eq(s.entries, 2);
    ck_assert_uint_eq(s.evictions, 1);
    ck_assert_uint_le(s.bytes, two + 1);
    create_drop(b, &c[2]);
    create_drop(b, &c[0]);
    s = stats(b);
    ck_assert_uint_eq(s.hits, 1);
    ck_assert_uint_eq(s.misses, 4);
    mm_boots_free(b);
    /* A template bigger than the bound alone is not kept; the machine is
     * still handed out. */
    b = mm_boots_new(100, one - 1);
    create_drop(b, &c[0]);
    create_drop(b, &c[0]);
    s = stats(b);
    ck_assert_uint_eq(s.entries, 0);
    ck_assert_uint_eq(s.bytes, 0);
    ck_assert_uint_eq(s.misses, 2);
    mm_boots_free(b);
}
END_TEST

START_TEST(test_zero_entries_boots_each_time)
{
    struct mm_config cfg = t_config("aries", NULL);
    struct mm_boots *b = mm_boots_new(0, BIG);
    struct mm_machine *m = cached(b, &cfg), *f = fresh(&cfg);
    struct mm_boots_stats s;

    same_machine(f, m, true);
    mm_destroy(m);
    mm_destroy(f);
    create_drop(b, &cfg);
    s = stats(b);
    ck_assert_uint_eq(s.entries, 0);
    ck_assert_uint_eq(s.misses, 2);
    ck_assert_uint_eq(s.hits, 0);
    mm_boots_free(b);
}
END_TEST

START_TEST(test_errors_are_mm_create_s)
{
    struct mm_config cfg = t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", NULL);
    struct mm_boots *b = mm_boots_new(4, BIG);
    struct mm_machine *m = NULL, *f = NULL;
    char want[MM_MSG_MAX], got[MM_MSG_MAX];
    enum mm_status sw, sg;

    cfg.cpus = MM_MAX_CPUS + 1;
    sw = mm_create(&cfg, &f, want);
    sg = mm_boots_create(b, &cfg, &m, got);
    ck_assert_int_eq(sw, MM_INVALID_ARGUMENT);
    ck_assert_int_eq(sg, sw);
    ck_assert_str_eq(got, want);
    ck_assert_ptr_null(m);
    sg = mm_boots_create(b, &cfg, &m, got); /* failures are not kept */
    ck_assert_int_eq(sg, sw);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(stats(b).entries, 0);
    ck_assert_uint_eq(stats(b).misses, 2);
    mm_boots_free(b);
    mm_boots_free(NULL);
}
END_TEST

/* Threads create machines of three configs through a cache that holds
 * two, so templates are dropped while others clone them; every machine
 * must still be exact (its snapshot the fresh one's). */
#define THREADS    4
#define PER_THREAD 24

struct race {
    struct mm_boots *b;
    const struct mm_config *cfg;  /* [3] */
    const struct mm_buf *want;    /* [3]: fresh machines' snapshots */
    unsigned seed;
    unsigned bad;
};

static void *race_thread(void *arg)
{
    struct race *r = arg;

    for (unsigned i = 0; i < PER_THREAD; i++) {
        unsigned k = (i + r->seed) % 3;
        struct mm_machine *m;
        struct mm_buf got = {0};
        char err[MM_MSG_MAX];

        if (mm_boots_create(r->b, &r->cfg[k], &m, err) != MM_OK) {
            r->bad++;
            continue;
        }
        if (mm_snapshot(m, &got) != MM_OK || got.len != r->want[k].len ||
            memcmp(got.data, r->want[k].data, got.len) != 0 || mm_check(m, err) != MM_OK)
            r->bad++;
        mm_buf_free(&got);
        mm_destroy(m);
    }
    return NULL;
}

START_TEST(test_threads)
{
    struct mm_config cfg[3] = {
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+512M", NULL),
        t_config("qemu-virt", "kernel=6.1", "ram=0x40000000+1G", "cpus=2", NULL),
        t_config("aries", NULL),
    };
    struct mm_buf want[3] = {{0}};
    struct mm_boots *b = mm_boots_new(2, BIG);
    struct race r[THREADS];
    pthread_t th[THREADS];
    struct mm_boots_stats s;

    for (int k = 0; k < 3; k++) {
        struct mm_machine *f = fresh(&cfg[k]);

        ck_assert_int_eq(mm_snapshot(f, &want[k]), MM_OK);
        mm_destroy(f);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        r[i] = (struct race){ b, cfg, want, i, 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_thread, &r[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_uint_eq(r[i].bad, 0);
    }
    s = stats(b);
    ck_assert_uint_eq(s.hits + s.misses, THREADS * PER_THREAD);
    ck_assert_uint_le(s.entries, 2);
    for (int k = 0; k < 3; k++)
        mm_buf_free(&want[k]);
    mm_boots_free(b);
}
END_TEST

Suite *boots_suite(void)
{
    Suite *s = suite_create("boots");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_identical_aries);
    tcase_add_test(tc, test_identical_virt61_1g_1cpu);
    tcase_add_test(tc, test_identical_virt61_2g_4cpus);
    tcase_add_test(tc, test_one_field_apart);
    tcase_add_test(tc, test_entry_bound_lru);
    tcase_add_test(tc, test_byte_bound);
    tcase_add_test(tc, test_zero_entries_boots_each_time);
    tcase_add_test(tc, test_errors_are_mm_create_s);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}
