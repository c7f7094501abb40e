/* tests/client/test_fuzz.c - `armmap fuzz` against the real daemon.
 *
 * A fixed seed with a few thousand ops must finish clean, and print the
 * same summary twice (the fuzzer is deterministic for a seed).  With the
 * hidden --inject-bug the model expects the wrong pkmap slot (KERNEL:
 * mm/highmem.c map_new_virtual() increments last_pkmap_nr before it looks,
 * so the first kmap gets slot 1, not slot 0): the fuzzer must report it,
 * shrink it to a short sequence, and that sequence, replayed with
 * `armmap batch` on a fresh machine, must show the daemon's answer.
 */
#include "check_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

START_TEST(test_fixed_seed_is_clean_and_deterministic)
{
    static const char head[] =
        "fuzz: seed 42: 3000 ops on 2 aries machines: no "
        "disagreement\nfuzz: answers: OK ";
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--ops", "3000",
                              "--seed", "42", (char *)NULL);
    struct trun b;

    ck_assert_msg(a.status == 0, "exit %d: %.400s%.400s", a.status, a.out, a.err);
    ck_assert(strncmp(a.out, head, strlen(head)) == 0);
    ck_assert(strstr(a.out, "WOULD_BLOCK") != NULL);
    ck_assert(strstr(a.out, "ORDER") != NULL);
    ck_assert(strstr(a.out, "INVALID_ARGUMENT") != NULL);
    b = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--ops", "3000", "--seed", "42",
                  (char *)NULL);
    ck_assert_int_eq(b.status, 0);
    /* The same but for the last line, which has the time and ops/s. */
    ck_assert_ptr_nonnull(strstr(a.out, "\nfuzz: total: 1 seed, 3000 ops in "));
    *strstr(a.out, "\nfuzz: total: ") = '\0';
    *strstr(b.out, "\nfuzz: total: ") = '\0';
    ck_assert_str_eq(a.out, b.out);
    ck_assert_ptr_nonnull(
        strstr(a.out, "\nfuzz: coverage: kmap OK "));
    ck_assert_ptr_nonnull(strstr(a.out, "\nfuzz: not reached: "));
    tc_run_free(&a);
    tc_run_free(&b);
    /* Machines are destroyed at the end. */
    a = tc_armmap(tc_d.sock, NULL, 0, "list", (char *)NULL);
    ck_assert_str_eq(a.out,
                     "ID       NAME                        SEQ     EVENTS\n");
    tc_run_free(&a);
}
END_TEST

START_TEST(test_other_preset_is_clean)
{
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--preset",
                              "qemu-virt", "--ops", "2000", "--seed", "7",
                              "--machines", "3", "--json", (char *)NULL);

    ck_assert_msg(a.status == 0, "exit %d: %.400s%.400s", a.status, a.out, a.err);
    ck_assert(strstr(a.out, "{\"seed\":7,\"ops\":2000,\"machines\":3,\"preset\":"
                     "\"qemu-virt\",\"config\":\"qemu-virt\",\"status\":"
                     "\"clean\",\"answers\":{\"OK\":") == a.out);
    ck_assert(strstr(a.out, "\n{\"total\":true,\"seeds\":1,\"ops\":2000,"
                     "\"seconds\":") != NULL);
    tc_run_free(&a);
}
END_TEST

START_TEST(test_injected_bug_is_reported_and_shrunk)
{
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--ops", "2000",
                              "--seed", "42", "--inject-bug", (char *)NULL);
    char *p, *batch, *line;
    size_t nops = 0, len = 0;
    struct trun b;

    ck_assert_msg(a.status == 5, "exit %d: %s%s", a.status, a.out, a.err);
    ck_assert(strstr(a.out,
                     "fuzz: seed 42: disagreement: expected value 0xbfe00000, "
                     "daemon answered 0xbfe01000\n") == a.out);
    ck_assert(strstr(a.out, "fuzz: shortest reproduction: ") != NULL);
    ck_assert(strstr(a.err, "armmap: fuzz: seed 42: machine ") != NULL);
    /* The reproduction: indented batch lines, the last one marked. */
    batch = calloc(1, a.out_len + 1);
    for (p = strstr(a.out, "\n  "); p; p = strstr(p, "\n  ")) {
        char *hash;

        line = p + 3;
        p = strchr(line, '\n');
        ck_assert_ptr_nonnull(p);
        hash = strstr(line, "    # <- disagrees");
        if (hash)
            ck_assert(hash + strlen("    # <- disagrees") == p);
        memcpy(batch + len, line, (size_t)(p - line));
        len += (size_t)(p - line);
        batch[len++] = '\n';
        nops++;
    }
    ck_assert_uint_ge(nops, 1);
    ck_assert_uint_le(nops, 3);
    ck_assert(strstr(a.out, "    # <- disagrees\n") != NULL);
    tc_run_free(&a);
    a = tc_armmap(tc_d.sock, NULL, 0, "create", "--preset", "aries",
                  (char *)NULL);
    ck_assert_int_eq(a.status, 0);
    a.out[strlen(a.out) - 1] = '\0';
    b = tc_armmap(tc_d.sock, batch, len, "batch", a.out, (char *)NULL);
    ck_assert_msg(b.status == 0, "exit %d: %s%s", b.status, b.out, b.err);
    ck_assert(strstr(b.out, ": va 0xbfe01000\n") != NULL);
    tc_run_free(&a);
    tc_run_free(&b);
    free(batch);
}
END_TEST

START_TEST(test_injected_bug_json)
{
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--ops", "500",
                              "--seed", "3", "--inject-bug", "--json",
                              (char *)NULL);

    ck_assert_int_eq(a.status, 5);
    ck_assert(strstr(a.out, "{\"seed\":3,\"status\":\"disagreement\","
                     "\"preset\":\"aries\",\"config\":\"aries\","
                     "\"shrink_runs\":") == a.out);
    ck_assert(strstr(a.out, ",\"message\":\"expected value 0xbfe00000, daemon "
                     "answered 0xbfe01000\",\"ops\":[\"") != NULL);
    ck_assert(strstr(a.out, "]}\n{\"total\":true,\"seeds\":1,") != NULL);
    ck_assert(strstr(a.out, "\"status\":\"disagreement\",\"answers\":{") !=
              NULL);
    tc_run_free(&a);
}
END_TEST

START_TEST(test_fuzz_usage)
{
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--machines", "0",
                              (char *)NULL);

    ck_assert_int_eq(a.status, 2);
    ck_assert_str_eq(a.err,
                     "armmap: USAGE: fuzz: bad machines '0': use 1..10000\n");
    tc_run_free(&a);
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--seed", "x", (char *)NULL);
    ck_assert_int_eq(a.status, 2);
    ck_assert_str_eq(a.err,
                     "armmap: USAGE: fuzz: bad seed 'x': not a number\n");
    tc_run_free(&a);
}
END_TEST

/* Every create flag reaches the fuzzed machines. */
START_TEST(test_create_flags)
{
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--preset",
                              "qemu-virt", "--kernel", "5.10", "--split", "2G",
                              "--cpus", "4", "--ops", "1000", "--seed", "5",
                              (char *)NULL);

    ck_assert_msg(a.status == 0, "exit %d: %.400s%.400s", a.status, a.out, a.err);
    ck_assert(strstr(a.out, "fuzz: seed 5: 1000 ops on 2 qemu-virt split=2G "
                            "kernel=5.10 cpus=4 machines: no disagreement\n") ==
              a.out);
    tc_run_free(&a);
    /* 6.1 on qemu-virt is Debian's armmp build: 12 buddy orders
     * (ARCH_FORCE_MAX_ORDER), so order 11 is a valid alloc there. */
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--preset", "qemu-virt",
                  "--kernel", "6.1", "--ops", "3000", "--seed", "5", (char *)NULL);
    ck_assert_msg(a.status == 0, "exit %d: %.400s%.400s", a.status, a.out, a.err);
    ck_assert(strstr(a.out, "fuzz: seed 5: 3000 ops on 2 qemu-virt kernel=6.1 "
                            "machines: no disagreement\n") == a.out);
    tc_run_free(&a);
    /* A km_type kernel: named slots, displacement, no stack. */
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--preset", "qemu-virt",
                  "--kernel", "2.6.35", "--vmalloc-end", "0xf0000000", "--cpus",
                  "4", "--ops", "5000", "--seed", "1", (char *)NULL);
    ck_assert_msg(a.status == 0, "exit %d: %.400s%.400s", a.status, a.out, a.err);
    ck_assert(strstr(a.out, "fuzz: seed 1: 5000 ops on 2 qemu-virt "
                            "kernel=2.6.35 vmalloc_end=0xf0000000 cpus=4 "
                            "machines: no disagreement\n") == a.out);
    ck_assert(strstr(a.out, "\nfuzz: coverage: kmap_atomic OK ") != NULL);
    ck_assert(strstr(a.out, "\nfuzz: coverage: kunmap_atomic OK ") != NULL);
    ck_assert(strstr(a.out, "WOULD_BLOCK ") != NULL);
    ck_assert(strstr(a.out, " (km_type kmap_atomic: no stack, so no ORDER)\n") !=
              NULL);
    tc_run_free(&a);
    /* The small presets reach pkmap and the stacks once they have HighMem;
     * without it, the report says why those answers cannot come. */
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--preset", "beaglebone-black",
                  "--vmalloc", "600M", "--ops", "3000", "--seed", "3",
                  (char *)NULL);
    ck_assert_msg(a.status == 0, "exit %d: %.400s%.400s", a.status, a.out, a.err);
    ck_assert(strstr(a.out, "WOULD_BLOCK ") != NULL);
    ck_assert(strstr(a.out, "ORDER ") != NULL);
    tc_run_free(&a);
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--preset", "beaglebone-black",
                  "--ops", "500", (char *)NULL);
    ck_assert_int_eq(a.status, 0);
    ck_assert(strstr(a.out, "(no HighMem zone: WOULD_BLOCK and ORDER cannot "
                            "happen)\n") != NULL);
    tc_run_free(&a);
}
END_TEST

/* --config-random --seeds draws a config per seed, the same every time. */
START_TEST(test_config_random_seeds)
{
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--config-random",
                              "--seeds", "1..4", "--ops", "300", (char *)NULL);
    struct trun b = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--config-random",
                              "--seeds", "1..4", "--ops", "300", (char *)NULL);
    const char *p;
    int n = 0;

    ck_assert_msg(a.status == 0, "exit %d: %.400s%.400s", a.status, a.out, a.err);
    ck_assert_int_eq(b.status, 0);
    for (p = a.out; (p = strstr(p, ": no disagreement\n")); p++)
        n++;
    ck_assert_int_eq(n, 4);
    ck_assert(strstr(a.out, "fuzz: seed 1: 300 ops on 2 ") != NULL);
    ck_assert(strstr(a.out, "fuzz: seed 4: 300 ops on 2 ") != NULL);
    ck_assert(strstr(a.out, "\nfuzz: total: 4 seeds, 1200 ops in ") != NULL);
    *strstr(a.out, "\nfuzz: total: ") = '\0';
    *strstr(b.out, "\nfuzz: total: ") = '\0';
    ck_assert_str_eq(a.out, b.out);
    tc_run_free(&a);
    tc_run_free(&b);
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--config-random", "--preset",
                  "rpi2", (char *)NULL);
    ck_assert_int_eq(a.status, 2);
    ck_assert_str_eq(a.err, "armmap: USAGE: fuzz: --config-random draws the "
                            "config: no --preset or config flags with it\n");
    tc_run_free(&a);
}
END_TEST

/* --time runs until the budget is spent; the caps are the daemon's. */
START_TEST(test_time_and_caps)
{
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--time", "1",
                              "--batch", "4096", "--machines", "3",
                              (char *)NULL);
    unsigned long ops = 0;
    const char *p;

    ck_assert_msg(a.status == 0, "exit %d: %.400s%.400s", a.status, a.out, a.err);
    p = strstr(a.out, "\nfuzz: total: 1 seed, ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p, "\nfuzz: total: 1 seed, %lu ops", &ops), 1);
    ck_assert_uint_ge(ops, 4096);
    ck_assert(strstr(p, " ops/s; answers: OK ") != NULL);
    tc_run_free(&a);
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--batch", "4097", (char *)NULL);
    ck_assert_int_eq(a.status, 2);
    ck_assert_str_eq(a.err, "armmap: USAGE: fuzz: bad batch '4097': use "
                            "1..4096\n");
    tc_run_free(&a);
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--seeds", "5..2", (char *)NULL);
    ck_assert_int_eq(a.status, 2);
    ck_assert_str_eq(a.err, "armmap: USAGE: fuzz: bad seeds '5..2': A is "
                            "above B\n");
    tc_run_free(&a);
}
END_TEST

/* --keep leaves the machine that disagreed, its history readable. */
START_TEST(test_keep)
{
    struct trun a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--ops", "500",
                              "--seed", "3", "--inject-bug", "--keep",
                              "--no-shrink", (char *)NULL);
    unsigned long id = 0;
    const char *p;
    char ids[32];

    ck_assert_int_eq(a.status, 5);
    p = strstr(a.out, "fuzz: kept machine ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p, "fuzz: kept machine %lu", &id), 1);
    tc_run_free(&a);
    snprintf(ids, sizeof(ids), "%lu", id);
    a = tc_armmap(tc_d.sock, NULL, 0, "history", ids, "--limit", "1",
                  (char *)NULL);
    ck_assert_int_eq(a.status, 0);
    ck_assert(strncmp(a.out, "       1 ", 9) == 0);
    tc_run_free(&a);
}
END_TEST

/* A finding kept with --corpus becomes a case file that replay runs: it
 * fails naming the op while the daemon disagrees with the model, and
 * passes once the expected answer is the daemon's. */
START_TEST(test_corpus_and_replay)
{
    char dir[200], path[300], want[600];
    struct trun a;
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/corpus", tc_d.dir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    a = tc_armmap(tc_d.sock, NULL, 0, "fuzz", "--ops", "500", "--seed", "3",
                  "--inject-bug", "--corpus", dir, (char *)NULL);
    ck_assert_int_eq(a.status, 5);
    snprintf(path, sizeof(path), "%s/fuzz-seed3.case", dir);
    snprintf(want, sizeof(want), "\nfuzz: saved %s\n", path);
    ck_assert_msg(strstr(a.out, want) != NULL, "%s", a.out);
    tc_run_free(&a);
    a = tc_armmap(tc_d.sock, NULL, 0, "replay", path, (char *)NULL);
    ck_assert_int_eq(a.status, 5);
    snprintf(want, sizeof(want),
             "armmap: DIFFERS: replay: %s:3: kmap 0xff289: expected OK "
             "0xbfe00000, got OK 0xbfe01000\n",
             path);
    ck_assert_str_eq(a.err, want);
    ck_assert_str_eq(a.out, "");
    tc_run_free(&a);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# the daemon is right\npreset aries\nkmap 0xff2fa => OK 0xbfe01000\n"
          "kunmap 0xafa00 => NOT_FOUND\nalloc --zone highmem => OK 0xff2fe\n",
          f);
    ck_assert_int_eq(fclose(f), 0);
    a = tc_armmap(tc_d.sock, NULL, 0, "replay", path, path, (char *)NULL);
    ck_assert_int_eq(a.status, 0);
    ck_assert_str_eq(a.out, "replay: 2 cases, 6 ops: every answer as "
                            "expected\n");
    tc_run_free(&a);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("preset aries\nkmap 0xff2fa\n", f);
    ck_assert_int_eq(fclose(f), 0);
    a = tc_armmap(tc_d.sock, NULL, 0, "replay", path, (char *)NULL);
    ck_assert_int_eq(a.status, 6);
    snprintf(want, sizeof(want),
             "armmap: DATA: replay: %s:2: no '=> ANSWER' after the op\n", path);
    ck_assert_str_eq(a.err, want);
    tc_run_free(&a);
}
END_TEST

Suite *fuzz_suite(void)
{
    Suite *s = suite_create("fuzz");
    TCase *tc = tcase_create("fuzz");

    tcase_add_checked_fixture(tc, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_fixed_seed_is_clean_and_deterministic);
    tcase_add_test(tc, test_other_preset_is_clean);
    tcase_add_test(tc, test_injected_bug_is_reported_and_shrunk);
    tcase_add_test(tc, test_injected_bug_json);
    tcase_add_test(tc, test_fuzz_usage);
    tcase_add_test(tc, test_create_flags);
    tcase_add_test(tc, test_config_random_seeds);
    tcase_add_test(tc, test_time_and_caps);
    tcase_add_test(tc, test_keep);
    tcase_add_test(tc, test_corpus_and_replay);
    suite_add_tcase(s, tc);
    return s;
}
