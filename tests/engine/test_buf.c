/* tests/engine/test_buf.c - the report buffers' formatter (engine/buf.c).
 *
 * mm__buf_printf() and mm__failf() format the conversions the engine's
 * writers use themselves (flags '-' and '0', a width, l/ll/z, %d %i %u %x
 * %X %c %s %%) and hand anything else to vsnprintf(); either way the text
 * must be glibc's, byte for byte, as every report test compares it.
 */
#include "check_engine.h"

#include "../common/ckloop.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The buffer's text after one mm__buf_printf() into an empty buffer. */
#define FMT_EQ(want, ...)                                                     \
    do {                                                                      \
        struct mm_buf b_ = { 0 };                                             \
        mm__buf_printf(&b_, __VA_ARGS__);                                     \
        ck_assert_ptr_nonnull(b_.data);                                       \
        ck_assert_str_eq(b_.data, want);                                      \
        ck_assert_uint_eq(b_.len, strlen(want));                              \
        mm_buf_free(&b_);                                                     \
    } while (0)

START_TEST(test_printf_hex_edges_and_widths)
{
    FMT_EQ("0x00000000-0xffffffff", "0x%08x-0x%08x", 0u, 0xffffffffu);
    FMT_EQ("0", "%x", 0u);
    FMT_EQ("ffffffff", "%x", 0xffffffffu);
    FMT_EQ("       0|", "%8x|", 0u);
    FMT_EQ("0       |", "%-8x|", 0u);
    FMT_EQ("12345", "%04x", 0x12345u); /* wider than the width */
    FMT_EQ("ffffffffffffffff", "%016llx", 0xffffffffffffffffull);
    FMT_EQ("0000000000000000", "%016llx", 0ull);
    FMT_EQ("00000001ffffffff", "%016llx", 0x1ffffffffull);
    FMT_EQ("0xABCDEF", "0x%X", 0xabcdefu);
    FMT_EQ("\"0x1f\"", "\"0x%llx\"", 0x1full);
    FMT_EQ("ffffffff", "%lx", 0xfffffffful);
    FMT_EQ("   1000", "%7zx", (size_t)0x1000);
}
END_TEST

START_TEST(test_printf_decimal_edges_and_widths)
{
    FMT_EQ("0", "%u", 0u);
    FMT_EQ("4294967295", "%u", 0xffffffffu);
    FMT_EQ("        0K", "%9uK", 0u);
    FMT_EQ("4294967295", "%4u", 0xffffffffu); /* wider than the width */
    FMT_EQ("   1024 kB", "%7u kB", 1024u);
    FMT_EQ("18446744073709551615", "%llu", 18446744073709551615ull);
    FMT_EQ("     0", "%6llu", 0ull);
    FMT_EQ("-2147483648 2147483647", "%d %i", INT_MIN, INT_MAX);
    FMT_EQ("-9223372036854775808", "%lld", LLONG_MIN);
    FMT_EQ("-0005", "%05d", -5);
    FMT_EQ("00005", "%05d", 5);
    FMT_EQ("-5   |", "%-5d|", -5);
    FMT_EQ("   -5", "%5d", -5);
    FMT_EQ("-1", "%ld", -1L);
    FMT_EQ("4096", "%zu", (size_t)4096);
}
END_TEST

START_TEST(test_printf_strings_chars_percent)
{
    FMT_EQ("", "%s", "");
    FMT_EQ("name      |", "%-10s|", "name");
    FMT_EQ("      .text : x", "%11s : %c", ".text", 'x');
    FMT_EQ("vmalloc", "%3s", "vmalloc"); /* longer than the width */
    FMT_EQ("  x|x  |", "%3c|%-3c|", 'x', 'x');
    FMT_EQ("100%", "%u%%", 100u);
    FMT_EQ("\\\"", "\\%c", '"');
    FMT_EQ("\\u001f", "\\u%04x", 0x1fu);
    FMT_EQ("Node 0, zone   Normal      3 ", "Node 0, zone %8s %6u ", "Normal", 3u);
}
END_TEST

/* What the formatter leaves to vsnprintf(): the same text still. */
START_TEST(test_printf_other_conversions_via_vsnprintf)
{
    FMT_EQ("abc|", "%.3s|", "abcdef");
    FMT_EQ("+5 0xff", "%+d %#x", 5, 0xffu);
    FMT_EQ("  1.5", "%5.1f", 1.5);
    FMT_EQ("   ab", "%*s", 5, "ab");
    FMT_EQ("7 x 0007", "%hu x %04hhu", (unsigned short)7, (unsigned char)7);
    FMT_EQ("0x10 and 16", "0x%x and %.2u", 16u, 16u); /* fast part first */
}
END_TEST

START_TEST(test_printf_appends_to_what_is_there)
{
    struct mm_buf b = { 0 };

    mm__buf_printf(&b, "%s", "");
    ck_assert_ptr_nonnull(b.data); /* an empty text still allocates, as before */
    ck_assert_str_eq(b.data, "");
    ck_assert_uint_eq(b.len, 0);
    for (unsigned i = 0; i < 300; i++)
        mm__buf_printf(&b, "0x%08x-", i * 0x01010101u);
    mm__buf_printf(&b, "%.2s", "end");
    ck_assert_uint_eq(b.len, 300 * 11 + 2);
    ck_assert_uint_eq(strlen(b.data), b.len);
    ck_assert_int_eq(memcmp(b.data, "0x00000000-0x01010101-0x02020202-", 33), 0);
    ck_assert_str_eq(b.data + 299 * 11, "0x2c2c2c2b-en");
    ck_assert(!b.oom);
    mm_buf_free(&b);
}
END_TEST

/* Every width and flag the fast path takes, against libc's snprintf(). */
#define INT_FMTS(X)                                                           \
    X("%u") X("%x") X("%X") X("%d") X("%08x") X("%-8u|") X("%9u") X("%1x")   \
        X("%0u") X("%12d") X("%-12d|") X("%03d") X("%016x")
#define LL_FMTS(X) X("%llu") X("%llx") X("%016llx") X("%-20llu|") X("%lld") X("%021lld")
#define SAME_AS_SNPRINTF(f)                                                   \
    do {                                                                      \
        struct mm_buf b_ = { 0 };                                             \
                                                                              \
        snprintf(want, sizeof(want), f, v);                                   \
        mm__buf_printf(&b_, f, v);                                            \
        ck_loop_assert_msg(b_.data != NULL && strcmp(b_.data, want) == 0,     \
                           "%s of 0x%llx: '%s', want '%s'", f,                \
                           (unsigned long long)v, b_.data, want);             \
        mm_buf_free(&b_);                                                     \
    } while (0);

START_TEST(test_printf_agrees_with_snprintf)
{
    static const unsigned vals[] = { 0, 1, 9, 10, 15, 16, 255, 1023, 1024, 99999,
                                     0x7fffffff, 0x80000000u, 0xfffffffe, 0xffffffffu };
    static const unsigned long long lvals[] = { 0, 1, 0xffffffffull, 0x100000000ull,
                                                0x7fffffffffffffffull, 0x8000000000000000ull,
                                                0xffffffffffffffffull };
    char want[64];

    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        unsigned v = vals[i];

        INT_FMTS(SAME_AS_SNPRINTF)
    }
    for (size_t i = 0; i < sizeof(lvals) / sizeof(lvals[0]); i++) {
        unsigned long long v = lvals[i];

        LL_FMTS(SAME_AS_SNPRINTF)
    }
}
END_TEST

/* mm__failf() keeps MM_MSG_MAX - 1 bytes and a NUL, as vsnprintf(). */
START_TEST(test_failf_cuts_at_msg_max)
{
    char msg[MM_MSG_MAX], longer[MM_MSG_MAX + 40];
    char want[MM_MSG_MAX];

    mm__failf(msg, "kunmap: pfn 0x%x is not kmapped (%u users)", 0x8f000u, 0u);
    ck_assert_str_eq(msg, "kunmap: pfn 0x8f000 is not kmapped (0 users)");

    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    mm__failf(msg, "%s: %08x", longer, 0xdeadbeefu);
    ck_assert_uint_eq(strlen(msg), MM_MSG_MAX - 1);
    memset(want, 'a', MM_MSG_MAX - 1); /* the first MM_MSG_MAX - 1 bytes */
    want[MM_MSG_MAX - 1] = '\0';
    ck_assert_str_eq(msg, want);

    /* exactly full, then one over, in the padding of a number */
    mm__failf(msg, "%*s", MM_MSG_MAX - 1, "x"); /* vsnprintf()'s '*' */
    ck_assert_uint_eq(strlen(msg), MM_MSG_MAX - 1);
    mm__failf(msg, "%s%5u", longer + 45, 7u); /* MM_MSG_MAX - 6 + 5 bytes */
    ck_assert_uint_eq(strlen(msg), MM_MSG_MAX - 1);
    ck_assert_str_eq(msg + MM_MSG_MAX - 6, "    7");
    mm__failf(msg, "%s%5u", longer + 44, 7u); /* one more: the 7 is cut */
    ck_assert_uint_eq(strlen(msg), MM_MSG_MAX - 1);
    ck_assert_str_eq(msg + MM_MSG_MAX - 5, "    ");
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");

    tcase_add_test(tc, test_printf_hex_edges_and_widths);
    tcase_add_test(tc, test_printf_decimal_edges_and_widths);
    tcase_add_test(tc, test_printf_strings_chars_percent);
    tcase_add_test(tc, test_printf_other_conversions_via_vsnprintf);
    tcase_add_test(tc, test_printf_appends_to_what_is_there);
    tcase_add_test(tc, test_printf_agrees_with_snprintf);
    tcase_add_test(tc, test_failf_cuts_at_msg_max);
    suite_add_tcase(s, tc);
    return s;
}
