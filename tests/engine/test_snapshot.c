/* tests/engine/test_snapshot.c - mm_snapshot() and mm_restore().
 *
 * Round trips: random op sequences on every preset and era, a snapshot at
 * random points, a restore, then the two machines must agree on every
 * report, the stats, a sample of translations, walks and phys aliases, the
 * seq, a second snapshot byte for byte, and the results of the same
 * further operations.  Each sequence is SNAPSHOT_OPS long, scaled down
 * with the randomized sequences under ARMMAP_RANDOM_OPS (t_random_len():
 * make check, check-full runs them whole); every preset and era still runs.
 * Hostile input: truncation at every byte offset and random bit flips, with
 * the checksum left as is (the checksum names it) and recomputed (the
 * loaders and mm_check() must name it), never a crash.
 */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_OPS 600u               /* operations per run, full length */

static struct mm_buf snap(const struct mm_machine *m)
{
    struct mm_buf b = {0};

    ck_assert_int_eq(mm_snapshot(m, &b), MM_OK);
    return b;
}

static struct mm_machine *restore(const struct mm_machine *m, const struct mm_buf *b)
{
    struct mm_machine *r;
    char err[MM_MSG_MAX];

    ck_assert_msg(mm_restore(mm_machine_config(m), b->data, b->len, &r, err) == MM_OK,
                  "%s", err);
    return r;
}

static void same_reports(const struct mm_machine *a, const struct mm_machine *b,
                         const char *where)
{
    for (int r = 0; r < MM_REPORT_COUNT; r++) {
        struct mm_buf x = {0}, y = {0};
        enum mm_status sx = mm_report(a, (enum mm_report)r, &x);
        enum mm_status sy = mm_report(b, (enum mm_report)r, &y);

        ck_assert_msg(sx == sy && x.len == y.len && (x.len == 0 ||
                      memcmp(x.data, y.data, x.len) == 0),
                      "%s: report %s differs", where, mm_report_name((enum mm_report)r));
        mm_buf_free(&x);
        mm_buf_free(&y);
    }
}

static void same_stats(const struct mm_machine *a, const struct mm_machine *b,
                       const char *where)
{
    struct mm_stats x, y;

    memset(&x, 0, sizeof(x));
    memset(&y, 0, sizeof(y));
    mm_get_stats(a, &x);
    mm_get_stats(b, &y);
    x.host_bytes = y.host_bytes = 0;    /* table capacities may differ */
    ck_assert_msg(memcmp(&x, &y, sizeof(x)) == 0, "%s: stats differ", where);
    ck_assert_uint_eq(mm_seq(a), mm_seq(b));
}

/* Walks of addresses all over the 4 GiB, and every region's start. */
static void same_walks(const struct mm_machine *a, const struct mm_machine *b,
                       struct t_rng *r, const char *where)
{
    enum { N = 4096 };
    static mm_vaddr_t va[N];
    static mm_paddr_t pa[2][N];
    static uint8_t fault[2][N];

    for (unsigned i = 0; i < N; i++)
        va[i] = i < N / 2 ? t_rnd(r, UINT32_MAX) : (uint32_t)(i - N / 2) << 20 |
                                                    t_rnd(r, 1u << 20);
    ck_assert_uint_eq(mm_translate_batch(a, va, N, MM_ACC_READ, pa[0], fault[0]),
                      mm_translate_batch(b, va, N, MM_ACC_READ, pa[1], fault[1]));
    ck_assert_msg(memcmp(pa, pa[1], sizeof(pa[0])) == 0 &&
                  memcmp(fault, fault[1], sizeof(fault[0])) == 0, "%s: translations", where);
    for (unsigned i = 0; i < N; i += 8) {     /* the rebuilt reverse index */
        struct mm_alias x[8], y[8];
        size_t nx = mm_phys_aliases(a, pa[0][i], x, 8);

        ck_assert_uint_eq(nx, mm_phys_aliases(b, pa[0][i], y, 8));
        for (size_t k = 0; k < nx && k < 8; k++)
            ck_assert_msg(x[k].va == y[k].va, "%s: alias of 0x%08x", where, pa[0][i]);
    }
    for (unsigned i = 0; i < 256; i++) {
        struct mm_walk x, y;

        memset(&x, 0, sizeof(x));
        memset(&y, 0, sizeof(y));
        ck_assert_int_eq(mm_translate(a, va[i * 16], MM_ACC_WRITE, &x),
                         mm_translate(b, va[i * 16], MM_ACC_WRITE, &y));
        ck_assert_msg(memcmp(&x, &y, sizeof(x)) == 0, "%s: walk of 0x%08x", where,
                      va[i * 16]);
    }
}

/* The same ops on both machines give the same results. */
static void same_future(struct mm_machine *m, struct mm_machine *c, struct t_shadow sh,
                        struct t_rng r, unsigned nops, const char *where)
{
    for (unsigned i = 0; i < nops; i++) {
        struct t_record rec;
        struct mm_result rc;

        t_gen_op(m, &sh, &r, &rec);
        mm_apply(m, &rec.op, &rec.res);
        mm_apply(c, &rec.op, &rc);
        ck_assert_msg(rec.res.status == rc.status && rec.res.value == rc.value &&
                      rec.res.aux == rc.aux && rec.res.flags == rc.flags &&
                      rec.res.seq == rc.seq && strcmp(rec.res.msg, rc.msg) == 0,
                      "%s: op %u (%s) after restore: %s 0x%x / %s 0x%x", where, i,
                      mm_op_name(rec.op.code), mm_status_name(rec.res.status),
                      rec.res.value, mm_status_name(rc.status), rc.value);
        if (rec.res.status == MM_OK)
            t_learn(m, &sh, &rec);
    }
}

/* Snapshot, restore, and compare everything; then both go on alike. */
static void round_trip(struct mm_machine *m, const struct t_shadow *sh, struct t_rng *r,
                       const char *where)
{
    struct mm_buf a = snap(m), b;
    struct mm_machine *c = restore(m, &a);
    char err[MM_MSG_MAX];

    ck_assert_msg(mm_check(c, err) == MM_OK, "%s: %s", where, err);
    b = snap(c);
    ck_assert_msg(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                  "%s: the restored machine snapshots differently", where);
    same_reports(m, c, where);
    same_stats(m, c, where);
    same_walks(m, c, r, where);
    {
        struct mm_machine *m2 = mm_clone(m);

        ck_assert_ptr_nonnull(m2);
        same_future(m2, c, *sh, *r, 150, where);
        same_reports(m2, c, where);
        mm_destroy(m2);
    }
    mm_buf_free(&a);
    mm_buf_free(&b);
    mm_destroy(c);
}

static bool run(const char *preset, const char *kernel, uint64_t seed, unsigned nops)
{
    struct mm_machine *m = t_machine_era(preset, kernel);
    struct t_shadow sh;
    struct t_rng r = {seed};
    char where[96];

    if (m == NULL)
        return false;
    memset(&sh, 0, sizeof(sh));
    snprintf(where, sizeof(where), "%s %s fresh", preset, kernel);
    round_trip(m, &sh, &r, where);
    for (unsigned i = 0; i < nops; i++) {
        struct t_record rec;

        t_gen_op(m, &sh, &r, &rec);
        if (mm_apply(m, &rec.op, &rec.res) == MM_OK)
            t_learn(m, &sh, &rec);
        if (t_rnd(&r, 150) == 0 || i + 1 == nops) {
            snprintf(where, sizeof(where), "%s %s seed %llu op %u", preset, kernel,
                     (unsigned long long)seed, i);
            round_trip(m, &sh, &r, where);
        }
    }
    mm_destroy(m);
    return true;
}

START_TEST(test_snapshot_every_preset_and_era)
{
    unsigned nops = t_random_len(SNAPSHOT_OPS);
    uint64_t seed = 500;
    unsigned ran = 0;

    for (unsigned p = 0; t_presets[p] != NULL; p++)
        for (unsigned k = 0; t_era_kernels[k] != NULL; k++)
            ran += run(t_presets[p], t_era_kernels[k], seed++, nops);
    ck_assert_uint_ge(ran, 50);
}
END_TEST

/* A small busy machine: kmaps, kmap_atomic, every kind of area. */
static struct mm_machine *busy(unsigned nops)
{
    struct mm_machine *m = t_machine("qemu-virt", "ram=0x40000000+96M", "vmalloc=64M",
                                     NULL);
    struct t_shadow sh;
    struct t_rng r = {77};

    memset(&sh, 0, sizeof(sh));
    for (unsigned i = 0; i < nops; i++) {
        struct t_record rec;

        t_gen_op(m, &sh, &r, &rec);
        if (mm_apply(m, &rec.op, &rec.res) == MM_OK)
            t_learn(m, &sh, &rec);
    }
    return m;
}

/* Restoring @len bytes of @buf must fail cleanly, or give a sound machine. */
static enum mm_status try_restore(const struct mm_machine *m, const uint8_t *buf,
                                  size_t len)
{
    struct mm_machine *r = NULL;
    char err[MM_MSG_MAX], err2[MM_MSG_MAX];
    enum mm_status st = mm_restore(mm_machine_config(m), buf, len, &r, err);

    if (st == MM_OK) {
        ck_assert_msg(mm_check(r, err2) == MM_OK, "restored a broken machine: %s", err2);
        mm_destroy(r);
    } else {
        ck_assert_int_eq(st, MM_INVALID_ARGUMENT);
        ck_assert_ptr_null(r);
        ck_assert_msg(strncmp(err, "restore: ", 9) == 0, "message: %s", err);
    }
    return st;
}

START_TEST(test_snapshot_truncated_everywhere)
{
    struct mm_machine *m = busy(300);
    struct mm_buf b = snap(m);
    uint8_t *cut = malloc(b.len);
    char err[MM_MSG_MAX];
    struct mm_machine *r;

    ck_assert_ptr_nonnull(cut);
    for (size_t len = 0; len < b.len; len++) {
        /* As cut: the checksum names it. */
        ck_assert_int_eq(mm_restore(mm_machine_config(m), b.data, len, &r, err),
                         MM_INVALID_ARGUMENT);
        ck_assert_ptr_null(r);
        if (len >= 16)
            ck_assert_str_eq(err, "restore: checksum mismatch: the snapshot is corrupt "
                                  "or truncated");
        /* Cut with a valid checksum: the reader must name it. */
        if (len >= 8) {
            memcpy(cut, b.data, len);
            t_fix_checksum(cut, len);
            ck_assert_int_eq(try_restore(m, cut, len), MM_INVALID_ARGUMENT);
        }
    }
    free(cut);
    mm_buf_free(&b);
    mm_destroy(m);
}
END_TEST

START_TEST(test_snapshot_bit_flips)
{
    struct mm_machine *m = busy(300);
    struct mm_buf b = snap(m);
    uint8_t *x = malloc(b.len);
    struct t_rng r = {4242};
    unsigned refused = 0;

    ck_assert_ptr_nonnull(x);
    for (unsigned i = 0; i < 3000; i++) {
        unsigned flips = 1 + t_rnd(&r, 3);

        memcpy(x, b.data, b.len);
        for (unsigned k = 0; k < flips; k++) {
            size_t at = i < 1500 ? t_rnd(&r, 200) : t_rnd(&r, (uint32_t)b.len - 8);

            x[at] ^= (uint8_t)(1u << t_rnd(&r, 8));
        }
        if (i % 2 == 0)
            ck_assert_int_eq(try_restore(m, x, b.len), MM_INVALID_ARGUMENT);
        t_fix_checksum(x, b.len);
        refused += try_restore(m, x, b.len) != MM_OK;
    }
    ck_assert_uint_gt(refused, 2000);   /* a flip in a cursor or counter may pass */
    free(x);
    mm_buf_free(&b);
    mm_destroy(m);
}
END_TEST

START_TEST(test_snapshot_other_config)
{
    struct mm_machine *m = busy(50), *o = t_machine("qemu-virt", "ram=0x40000000+128M",
                                                    "vmalloc=64M", NULL), *r;
    struct mm_buf b = snap(m);
    char err[MM_MSG_MAX];

    ck_assert_int_eq(mm_restore(mm_machine_config(o), b.data, b.len, &r, err),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "restore: header: taken on another config (config hash differs)");
    b.data[8] = 2;                      /* version 2 */
    t_fix_checksum((uint8_t *)b.data, b.len);
    ck_assert_int_eq(mm_restore(mm_machine_config(m), b.data, b.len, &r, err),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "restore: header: version 2, this engine reads version 1");
    b.data[0] = 'X';
    t_fix_checksum((uint8_t *)b.data, b.len);
    ck_assert_int_eq(mm_restore(mm_machine_config(m), b.data, b.len, &r, err),
                     MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "restore: header: not a machine snapshot (bad magic)");
    mm_buf_free(&b);
    mm_destroy(m);
    mm_destroy(o);
}
END_TEST

START_TEST(test_snapshot_broken_machine)
{
    struct mm_machine *m = busy(10);
    struct mm_buf b = {0};

    mm_oops(m, "test");
    ck_assert_int_eq(mm_snapshot(m, &b), MM_INTERNAL);
    mm_buf_free(&b);
    mm_destroy(m);
}
END_TEST

Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("snapshot");

    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_snapshot_other_config);
    tcase_add_test(tc, test_snapshot_broken_machine);
    tcase_add_test(tc, test_snapshot_bit_flips);
    tcase_add_test(tc, test_snapshot_truncated_everywhere);
    tcase_add_test(tc, test_snapshot_every_preset_and_era);
    suite_add_tcase(s, tc);
    return s;
}
