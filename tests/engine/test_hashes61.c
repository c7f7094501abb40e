/* tests/engine/test_hashes61.c - dhash_entries= and ihash_entries= on the
 * 6.1 reference build (config version 6).
 *
 * vfs_caches_init_early() takes the dentry and inode hash tables from
 * memblock (test_boot61_vfs_hashes).  The command line has a say: a
 * non-zero dhash_entries= / ihash_entries= replaces the size computed from
 * nr_kernel_pages, which alloc_large_system_hash() then rounds up to a
 * power of two and cuts to 1/16 of all memory (4-byte buckets); no
 * one-page minimum applies, so the order it prints can be negative.
 * KERNEL: 6.1 fs/dcache.c set_dhash_entries(), dcache_init_early(),
 * fs/inode.c set_ihash_entries(), inode_init_early(), mm/page_alloc.c
 * alloc_large_system_hash().
 */
#include "check_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Memory: report of a 256 MiB qemu-virt 6.1 machine with the oracle's
 * initrd, @cmdline added, and config @version ("" for the newest). */
static char *memory_256m(const char *cmdline, const char *version)
{
    char cl[256];
    struct mm_machine *m;
    char *mem;

    snprintf(cl, sizeof(cl), "cmdline=initrd=0x48000000,960K %s", cmdline);
    m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+256M", "cpus=1", cl,
                  version[0] ? version : NULL, NULL);
    mem = t_report(m, MM_REPORT_MEMORY);
    t_check(m);
    mm_destroy(m);
    return mem;
}

/* Given sizes replace the computed ones (32768 and 16384 entries on 256
 * MiB, 192K; fixtures/ram256M-cpus1: "24140K reserved"): 1000 dentry
 * buckets round up to 1024, one page; 0x2000 inode buckets are 32K.  The
 * Memory: line's reserved figure drops by the 156K the tables no longer
 * take. */
START_TEST(test_hashes61_given_sizes)
{
    char *mem = memory_256m("dhash_entries=1000 ihash_entries=0x2000", "");

    ck_assert_msg(strstr(mem, "Dentry cache hash table entries: 1024 (order: 0, 4096 bytes, "
                              "linear)\nInode-cache hash table entries: 8192 (order: 3, "
                              "32768 bytes, linear)\n") != NULL,
                  "%s", mem);
    ck_assert_uint_eq(t_figure_before(mem, "K reserved"), 24140 - 156);
    ck_assert_uint_eq(t_figure_before(mem, "K/262144K available"), 221620 + 156);
    free(mem);
    /* 0 keeps the computed size, as no word does */
    mem = memory_256m("dhash_entries=0", "");
    ck_assert_ptr_nonnull(strstr(mem, "Dentry cache hash table entries: 32768 (order: 5, "
                                      "131072 bytes, linear)\n"));
    ck_assert_uint_eq(t_figure_before(mem, "K reserved"), 24140);
    free(mem);
}
END_TEST

/* Below a page the order is negative (ilog2(size) - PAGE_SHIFT, "%d");
 * above 1/16 of memory the table is cut: 256 MiB has 64960 pages for
 * nr_all_pages, 64960 * 4096 / 16 / 4 = 4157440 buckets at most, so 2^31
 * asked gives 2^21 (8 MiB); the last word of a kind counts. */
START_TEST(test_hashes61_small_and_cut)
{
    char *mem = memory_256m("ihash_entries=5 dhash_entries=256 ihash_entries=0x80000000", "");

    ck_assert_msg(strstr(mem, "Dentry cache hash table entries: 256 (order: -2, 1024 bytes, "
                              "linear)\nInode-cache hash table entries: 2097152 (order: 11, "
                              "8388608 bytes, linear)\n") != NULL,
                  "%s", mem);
    free(mem);
}
END_TEST

/* A config stored at version 5 or before replays as it was built: the
 * words were passed on and ignored then, whatever they said. */
START_TEST(test_hashes61_ignored_before_version_6)
{
    char *mem = memory_256m("dhash_entries=1000 ihash_entries=junk", "version=5");

    ck_assert_msg(strstr(mem, "Dentry cache hash table entries: 32768 (order: 5, 131072 "
                              "bytes, linear)\nInode-cache hash table entries: 16384 "
                              "(order: 4, 65536 bytes, linear)\n") != NULL,
                  "%s", mem);
    ck_assert_uint_eq(t_figure_before(mem, "K reserved"), 24140);
    free(mem);
}
END_TEST

/* mm_create()'s message for a 6.1 qemu-virt machine with @cmdline. */
static enum mm_status create_with(const char *cmdline, char err[MM_MSG_MAX])
{
    struct mm_config cfg = t_config("qemu-virt", "kernel=6.1", NULL);

    ck_assert_int_eq(mm_config_set(&cfg, "cmdline", cmdline, err), MM_OK);
    return t_create_status(&cfg, err);
}

/* The engine takes the whole word as simple_strtoul(, , 0) reads a number
 * (no K/M suffix, no empty value), at most 2^31, and not 1: a one-bucket
 * table (shift 0) is not modelled. */
START_TEST(test_hashes61_refused)
{
    char err[MM_MSG_MAX];

    ck_assert_int_eq(create_with("dhash_entries=64K", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "cmdline: bad dhash_entries=64K (want a number of buckets up to 2^31, e.g. "
                          "dhash_entries=65536)");
    ck_assert_int_eq(create_with("ihash_entries=0x80000001", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "cmdline: bad ihash_entries=0x80000001 (want a number of buckets up to 2^31, "
                          "e.g. ihash_entries=65536)");
    ck_assert_int_eq(create_with("ihash_entries=", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "cmdline: bad ihash_entries= (want a number of buckets up to 2^31, e.g. "
                          "ihash_entries=65536)");
    ck_assert_int_eq(create_with("dhash_entries=1", err), MM_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "cmdline: dhash_entries=1: a one-bucket table is not modelled (want 0, the "
                          "computed size, or 2 or more)");
}
END_TEST

Suite *hashes61_suite(void)
{
    Suite *s = suite_create("hashes61");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_hashes61_given_sizes);
    tcase_add_test(tc, test_hashes61_small_and_cut);
    tcase_add_test(tc, test_hashes61_ignored_before_version_6);
    tcase_add_test(tc, test_hashes61_refused);
    suite_add_tcase(s, tc);
    return s;
}
