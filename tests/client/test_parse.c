/* tests/client/test_parse.c - libarmmap's parsers and names, in-process.
 *
 * No daemon: numbers, sizes, ages, access strings, the op grammar shared
 * by the CLI and batch files (and its inverse, armmap_format_op), and the
 * name tables that must agree with proto/armmap.proto.
 */
#include "check_client.h"

#include <string.h>

START_TEST(test_u32_hex_and_decimal)
{
    char err[ARMMAP_ERR_MAX];
    uint32_t v;

    ck_assert(armmap_parse_u32("0x9f000", "pfn", &v, err));
    ck_assert_uint_eq(v, 0x9f000);
    ck_assert(armmap_parse_u32("0XFFFFFFFF", "va", &v, err));
    ck_assert_uint_eq(v, 0xffffffffu);
    ck_assert(armmap_parse_u32("4096", "size", &v, err));
    ck_assert_uint_eq(v, 4096);
}
END_TEST

START_TEST(test_u32_errors_name_the_word)
{
    char err[ARMMAP_ERR_MAX];
    uint32_t v;

    ck_assert(!armmap_parse_u32("zz", "pfn", &v, err));
    ck_assert_str_eq(err, "bad pfn 'zz': not a number");
    ck_assert(!armmap_parse_u32("0x", "address", &v, err));
    ck_assert_str_eq(err, "bad address '0x': not a number");
    ck_assert(!armmap_parse_u32("12ab", "address", &v, err));
    ck_assert_str_eq(err, "bad address '12ab': not a number");
    ck_assert(!armmap_parse_u32("", "address", &v, err));
    ck_assert_str_eq(err, "bad address '': not a number");
    ck_assert(!armmap_parse_u32("-1", "address", &v, err));
    ck_assert_str_eq(err, "bad address '-1': not a number");
    ck_assert(!armmap_parse_u32("0x100000000", "address", &v, err));
    ck_assert_str_eq(
        err, "bad address '0x100000000': out of range (max 0xffffffff)");
    ck_assert(!armmap_parse_u32("99999999999999999999999", "address", &v, err));
    ck_assert_str_eq(err, "bad address '99999999999999999999999': out of range "
                          "(max 0xffffffff)");
}
END_TEST

START_TEST(test_u64)
{
    char err[ARMMAP_ERR_MAX];
    uint64_t v;

    ck_assert(armmap_parse_u64("18446744073709551615", "machine", &v, err));
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert(!armmap_parse_u64("18446744073709551616", "machine", &v, err));
    ck_assert_str_eq(err, "bad machine '18446744073709551616': out of range "
                          "(max 0xffffffffffffffff)");
}
END_TEST

START_TEST(test_sizes)
{
    char err[ARMMAP_ERR_MAX];
    uint32_t v;

    ck_assert(armmap_parse_size("16K", "size", &v, err));
    ck_assert_uint_eq(v, 16384);
    ck_assert(armmap_parse_size("2M", "size", &v, err));
    ck_assert_uint_eq(v, 2u << 20);
    ck_assert(armmap_parse_size("3g", "size", &v, err));
    ck_assert_uint_eq(v, 3u << 30);
    ck_assert(armmap_parse_size("0x1000", "size", &v, err));
    ck_assert_uint_eq(v, 4096);
    ck_assert(armmap_parse_size("64KB", "size", &v, err));
    ck_assert_uint_eq(v, 65536);
    ck_assert(!armmap_parse_size("4G", "size", &v, err));
    ck_assert_str_eq(err, "bad size '4G': out of range (max 4G-1)");
    ck_assert(!armmap_parse_size("16X", "size", &v, err));
    ck_assert_str_eq(err,
                     "bad size '16X': not a size (a number with K, M or G)");
    ck_assert(!armmap_parse_size("K", "size", &v, err));
    ck_assert_str_eq(err, "bad size 'K': not a size (a number with K, M or G)");
}
END_TEST

START_TEST(test_durations)
{
    char err[ARMMAP_ERR_MAX];
    uint64_t v;

    ck_assert(armmap_parse_duration_ms("30", &v, err));
    ck_assert_uint_eq(v, 30000);
    ck_assert(armmap_parse_duration_ms("5m", &v, err));
    ck_assert_uint_eq(v, 300000);
    ck_assert(armmap_parse_duration_ms("2h", &v, err));
    ck_assert_uint_eq(v, 7200000);
    ck_assert(armmap_parse_duration_ms("7d", &v, err));
    ck_assert_uint_eq(v, 604800000);
    ck_assert(!armmap_parse_duration_ms("7w", &v, err));
    ck_assert_str_eq(err, "bad age '7w': expected a number with s, m, h or d");
}
END_TEST

START_TEST(test_access)
{
    char err[ARMMAP_ERR_MAX];
    unsigned v;

    ck_assert(armmap_parse_access("rw", &v, err));
    ck_assert_uint_eq(v, ARMMAP_ACC_READ | ARMMAP_ACC_WRITE);
    ck_assert(armmap_parse_access("xu", &v, err));
    ck_assert_uint_eq(v, ARMMAP_ACC_EXEC | ARMMAP_ACC_USER);
    ck_assert(armmap_parse_access("-", &v, err));
    ck_assert_uint_eq(v, 0);
    ck_assert(!armmap_parse_access("rr", &v, err));
    ck_assert_str_eq(err, "bad access 'rr': 'r' given twice");
    ck_assert(!armmap_parse_access("q", &v, err));
    ck_assert_str_eq(err, "bad access 'q': use the letters r, w, x and u");
}
END_TEST

START_TEST(test_op_lines)
{
    struct armmap_op_line l;
    char err[ARMMAP_ERR_MAX];

    ck_assert(armmap_parse_op_line("kmap 0x9f000", &l, err));
    ck_assert_int_eq(l.op.code, ARMMAP_OP_KMAP);
    ck_assert_uint_eq(l.op.nargs, 1);
    ck_assert_uint_eq(l.op.args[0], 0x9f000);
    ck_assert(armmap_parse_op_line("  vmalloc 16K   # a comment", &l, err));
    ck_assert_int_eq(l.op.code, ARMMAP_OP_VMALLOC);
    ck_assert_uint_eq(l.op.args[0], 16384);
    ck_assert(armmap_parse_op_line("alloc --zone highmem --order 2", &l, err));
    ck_assert_int_eq(l.op.code, ARMMAP_OP_ALLOC);
    ck_assert_uint_eq(l.op.nargs, 2);
    ck_assert_uint_eq(l.op.args[0], ARMMAP_ZONE_HIGHMEM);
    ck_assert_uint_eq(l.op.args[1], 2);
    ck_assert(armmap_parse_op_line("alloc", &l, err));
    ck_assert_uint_eq(l.op.args[0], ARMMAP_ZONE_NORMAL);
    ck_assert_uint_eq(l.op.args[1], 0);
    ck_assert(armmap_parse_op_line(
        "kmap-atomic 0xaf000 --cpu=3 --slot KM_USER0", &l, err));
    ck_assert_int_eq(l.op.code, ARMMAP_OP_KMAP_ATOMIC);
    ck_assert_uint_eq(l.op.cpu, 3);
    ck_assert_uint_eq(l.op.nargs, 2);
    ck_assert_uint_eq(l.op.args[1], 3);
    ck_assert(
        armmap_parse_op_line("kunmap_atomic 0xfff00000 --cpu 1", &l, err));
    ck_assert_int_eq(l.op.code, ARMMAP_OP_KUNMAP_ATOMIC);
    ck_assert_uint_eq(l.op.args[0], 0xfff00000u);
    ck_assert(armmap_parse_op_line("vmap 1 2 3", &l, err));
    ck_assert_uint_eq(l.op.nargs, 3);
    ck_assert_uint_eq(l.op.args[2], 3);
    ck_assert(armmap_parse_op_line("ioremap 0x10000000 64K", &l, err));
    ck_assert_uint_eq(l.op.args[0], 0x10000000);
    ck_assert_uint_eq(l.op.args[1], 65536);
    ck_assert(armmap_parse_op_line("kmap 0x9f000 --wait 250", &l, err));
    ck_assert_uint_eq(l.op.wait_ms, 250);
    ck_assert(armmap_parse_op_line("kmap-flush", &l, err));
    ck_assert_int_eq(l.op.code, ARMMAP_OP_KMAP_FLUSH);
    ck_assert_uint_eq(l.op.nargs, 0);
    ck_assert(armmap_parse_op_line("   # only a comment", &l, err));
    ck_assert(l.empty);
    ck_assert(armmap_parse_op_line("", &l, err));
    ck_assert(l.empty);
}
END_TEST

START_TEST(test_op_line_errors)
{
    struct armmap_op_line l;
    char err[ARMMAP_ERR_MAX];

    ck_assert(!armmap_parse_op_line("kmapp 1", &l, err));
    ck_assert_str_eq(err, "unknown op 'kmapp'");
    ck_assert(!armmap_parse_op_line("kmap", &l, err));
    ck_assert_str_eq(err,
                     "kmap: missing argument (usage: kmap PFN [--wait MS])");
    ck_assert(!armmap_parse_op_line("kmap 1 2", &l, err));
    ck_assert_str_eq(
        err, "kmap: unexpected argument '2' (usage: kmap PFN [--wait MS])");
    ck_assert(!armmap_parse_op_line("kmap 0x100000", &l, err));
    ck_assert_str_eq(err,
                     "kmap: bad pfn '0x100000': out of range (max 0xfffff)");
    ck_assert(!armmap_parse_op_line("vfree 0x1ffffffff", &l, err));
    ck_assert_str_eq(
        err, "vfree: bad address '0x1ffffffff': out of range (max 0xffffffff)");
    ck_assert(!armmap_parse_op_line("kmap 1 --cpu 2", &l, err));
    ck_assert_str_eq(
        err, "kmap: unknown option '--cpu' (usage: kmap PFN [--wait MS])");
    ck_assert(!armmap_parse_op_line("alloc --zone", &l, err));
    ck_assert_str_eq(err, "alloc: option --zone needs a value");
    ck_assert(!armmap_parse_op_line("alloc --zone movable", &l, err));
    ck_assert_str_eq(err,
                     "alloc: bad zone 'movable': use normal, highmem or dma");
    ck_assert(!armmap_parse_op_line("vmalloc 1Q", &l, err));
    ck_assert_str_eq(
        err, "vmalloc: bad size '1Q': not a size (a number with K, M or G)");
    ck_assert(!armmap_parse_op_line("kmap-atomic 1 --slot KM_NOPE", &l, err));
    ck_assert_str_eq(err, "kmap-atomic: bad slot 'KM_NOPE': not a km_type name "
                          "(KM_USER0, ...) or a number 0..63");
}
END_TEST

START_TEST(test_format_op_round_trip)
{
    static const char *const lines[] = {
        "alloc --zone highmem --order 2",
        "free 0x9f000 --order 1",
        "kmap 0xaf000",
        "kmap 0xaf000 --wait 100",
        "kunmap 0xaf000",
        "kmap-atomic 0xaf000 --cpu 1",
        "kmap-atomic 0xaf000 --cpu 0 --slot 3",
        "kunmap-atomic 0xfff00000 --cpu 2",
        "vmalloc 0x4000",
        "vfree 0xf0000000",
        "vmap 0x1 0x2 0x3",
        "vunmap 0xf0000000",
        "ioremap 0x10000000 0x1000",
        "iounmap 0xf0001000",
        "module-alloc 0x2000",
        "module-free 0xbf000000",
        "kmap-flush",
        "module-enable-ro 0xbf000000 0x1000 0x3000",
    };
    struct armmap_op_line l;
    char err[ARMMAP_ERR_MAX], buf[128];
    size_t i;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        ck_assert_msg(armmap_parse_op_line(lines[i], &l, err), "%s: %s",
                      lines[i], err);
        armmap_format_op(&l.op, buf, sizeof(buf));
        ck_assert_str_eq(buf, lines[i]);
    }
}
END_TEST

START_TEST(test_names_match_the_proto)
{
    ck_assert_str_eq(armmap_strerror(ARMMAP_OK), "OK");
    ck_assert_str_eq(armmap_strerror(ARMMAP_WOULD_BLOCK), "WOULD_BLOCK");
    ck_assert_int_eq(ARMMAP_WOULD_BLOCK, 5);
    ck_assert_int_eq(ARMMAP_INTERNAL, 12);
    ck_assert_str_eq(armmap_strerror(ARMMAP_INTERNAL), "INTERNAL");
    ck_assert_str_eq(armmap_strerror(ARMMAP_NO_SOCKET), "NO_SOCKET");
    ck_assert_str_eq(armmap_strerror(ARMMAP_TIMEOUT), "TIMEOUT");
    ck_assert_str_eq(armmap_strerror((enum armmap_status)99), "UNKNOWN");
    ck_assert_str_eq(armmap_op_name(ARMMAP_OP_KMAP_ATOMIC), "kmap_atomic");
    ck_assert_int_eq(armmap_op_lookup("kmap-atomic"), ARMMAP_OP_KMAP_ATOMIC);
    ck_assert_int_eq(armmap_op_lookup("module_free"), ARMMAP_OP_MODULE_FREE);
    ck_assert_int_eq(armmap_op_lookup("module-enable-ro"), ARMMAP_OP_MODULE_ENABLE_RO);
    ck_assert_int_eq(ARMMAP_OP_MODULE_ENABLE_RO, 16);
    ck_assert_str_eq(armmap_op_name(ARMMAP_OP_MODULE_ENABLE_RO), "module_enable_ro");
    ck_assert_int_eq(armmap_op_lookup("nope"), ARMMAP_OP_NONE);
    ck_assert_ptr_null(armmap_op_name(ARMMAP_OP_COUNT));
    ck_assert_str_eq(armmap_region_name(4), "lowmem");
    ck_assert_str_eq(armmap_region_name(9), "vector");
    ck_assert_str_eq(armmap_fault_name(2), "translation-l2");
    ck_assert_str_eq(armmap_report_name(ARMMAP_REPORT_PAGETABLES),
                     "pagetables");
    ck_assert_int_eq(armmap_km_type_lookup("KM_USER0"), 3);
    ck_assert_int_eq(armmap_km_type_lookup("KM_NOPE"), -1);
}
END_TEST

START_TEST(test_close_null_and_free_null)
{
    armmap_close(NULL);
    armmap_machine_free(NULL);
    armmap_machine_list_free(NULL);
    armmap_preset_list_free(NULL);
    armmap_translate_result_free(NULL);
    armmap_phys_result_free(NULL);
    armmap_history_free(NULL);
    armmap_reply_free(NULL);
    armmap_free(NULL);
    ck_assert_str_eq(armmap_errmsg(NULL), "no connection");
}
END_TEST

Suite *parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_u32_hex_and_decimal);
    tcase_add_test(tc, test_u32_errors_name_the_word);
    tcase_add_test(tc, test_u64);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_durations);
    tcase_add_test(tc, test_access);
    tcase_add_test(tc, test_op_lines);
    tcase_add_test(tc, test_op_line_errors);
    tcase_add_test(tc, test_format_op_round_trip);
    tcase_add_test(tc, test_names_match_the_proto);
    tcase_add_test(tc, test_close_null_and_free_null);
    suite_add_tcase(s, tc);
    return s;
}
