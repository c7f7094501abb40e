/* tests/client/test_stream.c - translate and phys as batch tools.
 *
 * The real armmap against a fresh armmapd with an aries machine: addresses
 * from stdin, --input FILE or thousands of arguments; --on-error
 * stop|skip|emit with exit 6 for bad data; --format text|json|csv with one
 * column set for every row, faults keeping their region.
 */
#include "check_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN(...) tc_armmap(tc_d.sock, NULL, 0, __VA_ARGS__, (char *)NULL)
#define RUN_IN(in, ...) \
    tc_armmap(tc_d.sock, (in), strlen(in), __VA_ARGS__, (char *)NULL)

static void expect(struct trun r, int status, const char *out, const char *err)
{
    ck_assert_msg(r.status == status,
                  "exit %d, wanted %d; stdout: %s; stderr: %s", r.status,
                  status, r.out, r.err);
    if (out)
        ck_assert_str_eq(r.out, out);
    if (err)
        ck_assert_str_eq(r.err, err);
    tc_run_free(&r);
}

static void make_aries(void)
{
    expect(RUN("create", "--preset", "aries"), 0, "1\n", "");
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char bad_in[] = "0xc0000000\nzz\n0\n";

START_TEST(test_on_error_modes)
{
    make_aries();
    expect(RUN_IN(bad_in, "translate", "1"), 6,
           "0xc0000000 0x80200000 lowmem -\n",
           "armmap: DATA: translate: line 2: bad address 'zz': not a number\n");
    expect(RUN_IN(bad_in, "translate", "1", "--on-error", "stop"), 6,
           "0xc0000000 0x80200000 lowmem -\n", NULL);
    expect(RUN_IN(bad_in, "translate", "1", "--on-error", "skip"), 6,
           "0xc0000000 0x80200000 lowmem -\n0x00000000 - user translation-l1\n",
           "armmap: DATA: translate: line 2: bad address 'zz': not a number\n"
           "armmap: DATA: translate: 1 bad input line\n");
    expect(RUN_IN(bad_in, "translate", "1", "--on-error", "emit"), 6,
           "0xc0000000 0x80200000 lowmem - -\n"
           "- - - - line 2: bad address 'zz': not a number\n"
           "0x00000000 - user translation-l1 -\n",
           "armmap: DATA: translate: 1 bad input line\n");
    expect(RUN_IN(bad_in, "translate", "1", "--on-error", "emit", "--format",
                  "csv"),
           6,
           "va,pa,region,fault,error\n"
           "0xc0000000,0x80200000,lowmem,,\n"
           ",,,,\"line 2: bad address 'zz': not a number\"\n"
           "0x00000000,,user,translation-l1,\n",
           NULL);
    expect(RUN_IN(bad_in, "--json", "translate", "1", "--on-error", "emit"), 6,
           "{\"va\":3221225472,\"pa\":2149580800,\"region\":\"lowmem\","
           "\"fault\":null,\"error\":null}\n"
           "{\"va\":null,\"pa\":null,\"region\":null,\"fault\":null,\"error\":"
           "\"line 2: bad address 'zz': not a number\"}\n"
           "{\"va\":0,\"pa\":null,\"region\":\"user\",\"fault\":"
           "\"translation-l1\",\"error\":null}\n",
           "{\"error\":\"DATA\",\"message\":\"translate: 1 bad input line\","
           "\"exit\":6}\n");
    /* A bad line at the very end, and arguments instead of stdin. */
    expect(RUN("translate", "1", "--on-error", "emit", "0", "0xq"), 6,
           "0x00000000 - user translation-l1 -\n"
           "- - - - bad address '0xq': not a number\n",
           NULL);
    expect(RUN_IN("0x80200000\nzz\n", "phys", "1", "--on-error", "emit"), 6,
           "0x80200000 0xc0000000 lowmem -\n"
           "- - - line 2: bad address 'zz': not a number\n",
           "armmap: DATA: phys: 1 bad input line\n");
}
END_TEST

/* The common line shape, "0x" and eight hex digits, is parsed eight
 * digits at a time: every digit case is read, and every byte next to the
 * digit ranges (and a control byte that looks like '0' with bit 5 set)
 * is a bad line, as on the general path. */
START_TEST(test_hex_lines)
{
    static const char in[] = "0xC0000ABC\n0xc0000abc\n0XC0000ABC\n"
                             "0xc0000ab\n0xc0000abg\n0xc0000ab:\n"
                             "0xc0000ab@\n0xc0000ab`\n0xc0000abG\n"
                             "0xc0000a\020c\n0xc0000abc \n0xc0000a/c\n"
                             "0xc0000abc";

    make_aries();
    expect(RUN_IN(in, "translate", "1", "--on-error", "emit"), 6,
           "0xc0000abc 0x80200abc lowmem - -\n"
           "0xc0000abc 0x80200abc lowmem - -\n"
           "0xc0000abc 0x80200abc lowmem - -\n"
           "0x0c0000ab - user translation-l1 -\n"
           "- - - - line 5: bad address '0xc0000abg': not a number\n"
           "- - - - line 6: bad address '0xc0000ab:': not a number\n"
           "- - - - line 7: bad address '0xc0000ab@': not a number\n"
           "- - - - line 8: bad address '0xc0000ab`': not a number\n"
           "- - - - line 9: bad address '0xc0000abG': not a number\n"
           "- - - - line 10: bad address '0xc0000a\020c': not a number\n"
           "0xc0000abc 0x80200abc lowmem - -\n"
           "- - - - line 12: bad address '0xc0000a/c': not a number\n"
           "0xc0000abc 0x80200abc lowmem - -\n",
           "armmap: DATA: translate: 7 bad input lines\n");
    expect(RUN_IN("0x80200FFF\n0x80200fff\n0x8020:fff\n", "phys", "1",
                  "--on-error", "skip"),
           6,
           "0x80200fff 0xc0000fff lowmem\n0x80200fff 0xc0000fff lowmem\n",
           "armmap: DATA: phys: line 3: bad address '0x8020:fff': not a "
           "number\narmmap: DATA: phys: 1 bad input line\n");
}
END_TEST

START_TEST(test_formats_keep_fault_region)
{
    make_aries();
    expect(RUN("translate", "1", "--format", "csv", "0xc0000000", "0",
               "0xffff0000"),
           0,
           "va,pa,region,fault\n"
           "0xc0000000,0x80200000,lowmem,\n"
           "0x00000000,,user,translation-l1\n"
           "0xffff0000,0xaf9ff000,vector,\n",
           "");
    expect(RUN("translate", "1", "--access", "u", "0xc0000000"), 0,
           "0xc0000000 - lowmem permission-l1\n", "");
    expect(RUN("translate", "1", "--format", "json", "--access", "u",
               "0xc0000000"),
           0,
           "{\"va\":3221225472,\"pa\":null,\"region\":\"lowmem\",\"fault\":"
           "\"permission-l1\"}\n",
           "");
    /* --json and --format text: the format wins. */
    expect(RUN("--json", "translate", "1", "--format", "text", "0xc0000000"),
           0, "0xc0000000 0x80200000 lowmem -\n", "");
    expect(RUN("translate", "1", "--walk", "--format", "csv", "0xc0000000",
               "0"),
           0,
           "va,pa,region,fault,l1_desc,l2_desc\n"
           "0xc0000000,0x80200000,lowmem,,0x8021140e,\n"
           "0x00000000,,user,translation-l1,0x00000000,\n",
           "");
    expect(RUN("phys", "1", "--format", "csv", "0x80200000", "0x1000"), 0,
           "pa,va,region\n0x80200000,0xc0000000,lowmem\n0x00001000,,\n", "");
    expect(RUN("translate", "1", "--format", "xml", "0"), 2, "",
           "armmap: USAGE: translate: bad --format 'xml': use text, json, "
           "csv\n");
    expect(RUN("phys", "1", "--on-error", "ignore", "0"), 2, "",
           "armmap: USAGE: phys: bad --on-error 'ignore': use stop, skip, "
           "emit\n");
}
END_TEST

/* phys streams from stdin and from --input, past the old ~1,100-argument
 * stop; translate reads --input too. */
START_TEST(test_phys_streams)
{
    enum { N = 20000, NARGS = 3000 };
    char *in = malloc((size_t)N * 12 + 1), *p = in;
    char (*words)[12] = calloc(NARGS, sizeof(*words));
    const char *path;
    struct trun r;
    size_t i;

    ck_assert(in && words);
    make_aries();
    /* 20,000 lowmem pages from 0x80200000: one alias each. */
    for (i = 0; i < N; i++)
        p += sprintf(p, "0x%08zx\n", 0x80200000 + i * 4096);
    r = tc_armmap(tc_d.sock, in, (size_t)(p - in), "phys", "1", (char *)NULL);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_uint_eq(count_lines(r.out), N);
    ck_assert(strncmp(r.out, "0x80200000 0xc0000000 lowmem\n", 29) == 0);
    ck_assert(strstr(r.out, "0x84e1f000 0xc4c1f000 lowmem\n") != NULL);
    tc_run_free(&r);
    path = tc_write_file("pas.txt", in, (size_t)(p - in));
    r = RUN("phys", "1", "--input", path, "--chunk", "777");
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_lines(r.out), N);
    tc_run_free(&r);
    r = RUN("translate", "1", "--input", path);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_lines(r.out), N);
    ck_assert(strncmp(r.out, "0x80200000 - user translation-l1\n", 33) == 0);
    tc_run_free(&r);
    expect(RUN("phys", "1", "--input", "/nonexistent/x"), 1, "",
           "armmap: ERROR: phys: cannot open '/nonexistent/x': No such file "
           "or directory\n");
    expect(RUN("phys", "1", "--input", path, "0x1000"), 2, "",
           "armmap: USAGE: phys: addresses on the line and --input: give one "
           "of them\n");
    /* 3,000 addresses as arguments. */
    for (i = 0; i < NARGS; i++)
        snprintf(words[i], sizeof(words[i]), "0x%08zx", 0x80200000 + i * 4096);
    {
        char bin[4096];
        FILE *f;
        size_t lines = 0;
        int c, st;

        /* tc_armmap takes varargs: run this one through popen(). */
        td_program("armmap", bin, sizeof(bin));
        p = in;
        p += sprintf(p, "'%s' -s '%s' phys 1", bin, tc_d.sock);
        for (i = 0; i < NARGS; i++)
            p += sprintf(p, " %s", words[i]);
        f = popen(in, "r");
        ck_assert_ptr_nonnull(f);
        while ((c = fgetc(f)) != EOF)
            lines += c == '\n';
        st = pclose(f);
        ck_assert_int_eq(st, 0);
        ck_assert_uint_eq(lines, NARGS);
    }
    free(in);
    free(words);
}
END_TEST

Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("stream");

    tcase_add_checked_fixture(tc, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_on_error_modes);
    tcase_add_test(tc, test_formats_keep_fault_region);
    tcase_add_test(tc, test_phys_streams);
    tcase_add_test(tc, test_hex_lines);
    suite_add_tcase(s, tc);
    return s;
}
