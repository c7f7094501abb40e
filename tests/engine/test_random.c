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
 * names another count (1 or more; t_random_len()).  make check sets it
 * lower: 2,500 for the sanitizer build, where mm_check() after every op
 * costs ten times more, 10,000 plain; every seed and configuration still
 * runs in both, and make check-full runs the full length in both builds.
 */
#include "check_engine.h"

#include <stdlib.h>
#include <string.h>

#define RUN_OPS T_RANDOM_OPS            /* operations per run by default */

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
    struct t_record *log = calloc(nops, sizeof(*log));
    struct t_shadow sh;
    struct t_rng r = {seed};
    char err[MM_MSG_MAX];
    unsigned ok = 0;

    ck_assert_ptr_nonnull(log);
    memset(&sh, 0, sizeof(sh));
    for (unsigned i = 0; i < nops; i++) {
        struct t_record *rec = &log[i];

        t_gen_op(m, &sh, &r, rec);
        mm_apply(m, &rec->op, &rec->res);
        if (rec->res.status == MM_OK) {
            ok++;
            t_learn(m, &sh, rec);
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

/* Operations per run: RUN_OPS, or $ARMMAP_RANDOM_OPS (t_random_len()). */
static unsigned run_ops(void)
{
    return t_random_len(RUN_OPS);
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

    /* "slow": CK_EXCLUDE_TAGS=slow leaves these out of a quick run. */
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_random_aries);
    tcase_add_test(tc, test_random_small_highmem);
    tcase_add_test(tc, test_random_eras);
    tcase_add_test(tc, test_random_km_type);
    suite_add_tcase(s, tc);
    return s;
}
