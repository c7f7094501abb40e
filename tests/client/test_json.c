/* tests/client/test_json.c - every command's --json output, parsed.
 *
 * Each command runs as the real armmap binary against a fresh armmapd; its
 * stdout must be JSON Lines that jansson parses whole (every line one
 * object), with the exact values an aries machine gives; errors in JSON
 * mode must be one JSON object on stderr.  Also the CLI fixes of issue 16
 * that are about what is printed: --version, the layout of a missing
 * machine and of a 6.1 kernel, the history cursor, --ram's size error,
 * kmap-atomic's --slot.
 */
#include "check_client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN(...) tc_armmap(tc_d.sock, NULL, 0, __VA_ARGS__, (char *)NULL)
#define RUN_IN(in, ...) \
    tc_armmap(tc_d.sock, (in), strlen(in), __VA_ARGS__, (char *)NULL)

#define MAX_ROWS 64

/* Parsed JSON Lines of one stream. */
struct jrows {
    json_t *row[MAX_ROWS];
    size_t n;
};

/*
 * Parses @text as JSON Lines: every line (each ended by '\n') must be one
 * JSON object.  Fails the test naming @what and the line otherwise.
 */
static void parse_lines(const char *what, const char *text, struct jrows *j)
{
    const char *p = text;

    j->n = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        json_error_t e;
        json_t *v;

        ck_assert_msg(nl != NULL, "%s: last line has no newline: %s", what, p);
        ck_assert_msg(j->n < MAX_ROWS, "%s: too many lines", what);
        v = json_loadb(p, (size_t)(nl - p), 0, &e);
        ck_assert_msg(v != NULL, "%s: invalid JSON (%s) in: %.*s", what, e.text,
                      (int)(nl - p), p);
        ck_assert_msg(json_is_object(v), "%s: not an object: %.*s", what,
                      (int)(nl - p), p);
        j->row[j->n++] = v;
        p = nl + 1;
    }
}

static void free_rows(struct jrows *j)
{
    size_t i;

    for (i = 0; i < j->n; i++)
        json_decref(j->row[i]);
    j->n = 0;
}

/*
 * Runs a command that must succeed with --json: exit 0, stderr empty and
 * stdout @nrows valid lines (any count if @nrows < 0).  The rows stay in
 * @j for exact checks; free_rows() after.
 */
static void ok_json(struct trun r, const char *what, int nrows,
                    struct jrows *j)
{
    ck_assert_msg(r.status == 0, "%s: exit %d; stdout: %s; stderr: %s", what,
                  r.status, r.out, r.err);
    ck_assert_msg(r.err[0] == '\0', "%s: stderr: %s", what, r.err);
    parse_lines(what, r.out, j);
    if (nrows >= 0)
        ck_assert_msg(j->n == (size_t)nrows, "%s: %zu lines, wanted %d: %s",
                      what, j->n, nrows, r.out);
    tc_run_free(&r);
}

/* As ok_json() for commands whose rows are not checked further. */
static void ok_json_any(struct trun r, const char *what, int nrows)
{
    struct jrows j;

    ok_json(r, what, nrows, &j);
    free_rows(&j);
}

static json_int_t int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "no integer '%s'", key);
    return json_integer_value(v);
}

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_string(v), "no string '%s'", key);
    return json_string_value(v);
}

/*
 * A command that must fail with --json: exit @status, stdout either empty
 * or valid JSON Lines, stderr exactly one JSON object
 * {"error":@code,"message":@msg,"exit":@status}.
 */
static void err_json(struct trun r, int status, const char *code,
                     const char *msg)
{
    struct jrows out, err;

    ck_assert_msg(r.status == status, "exit %d, wanted %d; stderr: %s",
                  r.status, status, r.err);
    parse_lines("stdout", r.out, &out);
    parse_lines("stderr", r.err, &err);
    ck_assert_msg(err.n == 1, "stderr: %s", r.err);
    ck_assert_str_eq(str_of(err.row[0], "error"), code);
    ck_assert_str_eq(str_of(err.row[0], "message"), msg);
    ck_assert_int_eq(int_of(err.row[0], "exit"), status);
    ck_assert_int_eq(json_object_size(err.row[0]), 3);
    free_rows(&out);
    free_rows(&err);
    tc_run_free(&r);
}

/* ---- every command ------------------------------------------------------ */

START_TEST(test_machine_commands_json)
{
    struct jrows j;

    ok_json_any(RUN("--json", "ping"), "ping", 1);
    ok_json(RUN("--json", "presets"), "presets", 1, &j);
    ck_assert_int_eq(json_array_size(json_object_get(j.row[0], "presets")), 4);
    free_rows(&j);
    ok_json(RUN("--json", "create", "--preset", "aries"), "create", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "id"), 1);
    ck_assert_str_eq(str_of(j.row[0], "tenant"), "default");
    free_rows(&j);
    ok_json(RUN("--json", "list"), "list", 1, &j);
    ck_assert_int_eq(json_array_size(json_object_get(j.row[0], "machines")), 1);
    free_rows(&j);
    ok_json(RUN("--json", "describe", "1"), "describe", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "seq"), 0);
    free_rows(&j);
    ok_json(RUN("--json", "alloc", "1", "--zone", "highmem"), "alloc", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "value"), 0xff2fe);
    free_rows(&j);
    ok_json(RUN("--json", "kmap", "1", "0xff2fe"), "kmap", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "value"), 0xbfe01000);
    free_rows(&j);
    ok_json(RUN("--json", "kmap-atomic", "1", "0xff2fe"), "kmap-atomic", 1, &j);
    ck_assert_str_eq(str_of(j.row[0], "status"), "OK");
    free_rows(&j);
    ok_json_any(RUN("--json", "vmalloc", "1", "16K"), "vmalloc", 1);
    ok_json_any(RUN("--json", "vmap", "1", "0xff2fe"), "vmap", 1);
    ok_json_any(RUN("--json", "ioremap", "1", "0x10000000", "4K"), "ioremap",
                1);
    ok_json_any(RUN("--json", "module-alloc", "1", "8K"), "module-alloc", 1);
    ok_json_any(RUN("--json", "kmap-flush", "1"), "kmap-flush", 1);
    ok_json(RUN("--json", "fork", "1", "--at", "1"), "fork", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "id"), 2);
    free_rows(&j);
    ok_json(RUN("--json", "clone", "1"), "clone", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "id"), 3);
    free_rows(&j);
    ok_json(RUN("--json", "destroy", "3"), "destroy", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "id"), 3);
    free_rows(&j);
    ok_json(RUN("--json", "purge", "--older-than", "1d"), "purge", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "machines"), 0);
    free_rows(&j);
    ok_json(RUN("--json", "stats"), "stats", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "machines"), 2);
    free_rows(&j);
}
END_TEST

START_TEST(test_read_commands_json)
{
    static const char *const reports[] = {
        "iomem", "vmallocinfo", "buddyinfo", "meminfo", "pkmap", "fixmap",
        "pagetables", "layout", "memory",
    };
    char path[160];
    struct jrows j;
    size_t i;

    ok_json_any(RUN("--json", "create", "--preset", "aries"), "create", 1);
    ok_json_any(RUN("--json", "alloc", "1", "--zone", "highmem"), "alloc", 1);
    ok_json_any(RUN("--json", "kmap", "1", "0xff2fe"), "kmap", 1);
    ok_json(RUN("--json", "translate", "1", "0xc0000000", "0"), "translate", 2,
            &j);
    ck_assert_int_eq(int_of(j.row[0], "pa"), 0x80200000);
    ck_assert_str_eq(str_of(j.row[0], "region"), "lowmem");
    ck_assert_str_eq(str_of(j.row[1], "fault"), "translation-l1");
    free_rows(&j);
    ok_json(RUN_IN("0xbfe01000\n", "--json", "translate", "1", "--walk"),
            "translate --walk", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "pa"), 0xff2fe000);
    ck_assert(json_is_array(json_object_get(j.row[0], "walk")));
    free_rows(&j);
    ok_json(RUN("--json", "phys", "1", "0x80200000", "0x1000"), "phys", 2, &j);
    ck_assert_int_eq(int_of(j.row[0], "va"), 0xc0000000);
    ck_assert(json_is_null(json_object_get(j.row[1], "va")));
    ck_assert(json_is_null(json_object_get(j.row[1], "region")));
    ck_assert_int_eq(json_object_size(j.row[1]), 3);
    free_rows(&j);
    ok_json(RUN("--json", "layout", "1"), "layout", 1, &j);
    ck_assert(strncmp(str_of(j.row[0], "layout"),
                      "Virtual kernel memory layout:\n", 30) == 0);
    ck_assert(strncmp(str_of(j.row[0], "memory"), "Memory: ", 8) == 0);
    free_rows(&j);
    for (i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
        ok_json(RUN("--json", "report", "1", reports[i]), reports[i], 1, &j);
        ck_assert(json_is_string(json_object_get(j.row[0], reports[i])));
        free_rows(&j);
    }
    snprintf(path, sizeof(path), "%s/core", tc_d.dir);
    ok_json(RUN("--json", "dump", "1", path), "dump", 1, &j);
    ck_assert_str_eq(str_of(j.row[0], "file"), path);
    free_rows(&j);
    ok_json(RUN("--json", "history", "1"), "history", 2, &j);
    ck_assert_str_eq(str_of(j.row[1], "op"), "kmap");
    free_rows(&j);
    ok_json_any(RUN_IN("kmap-flush\nvmalloc 8K\n", "--json", "batch", "1"),
                "batch", 2);
    ok_json(RUN("--json", "fuzz", "--ops", "40", "--seed", "1"), "fuzz", 2,
            &j);
    ck_assert_str_eq(str_of(j.row[0], "status"), "clean");
    ck_assert(json_is_object(json_object_get(j.row[0], "coverage")));
    ck_assert(json_is_true(json_object_get(j.row[1], "total")));
    ck_assert_int_eq(int_of(j.row[1], "ops"), 40);
    ck_assert(json_is_object(json_object_get(j.row[1], "answers")));
    free_rows(&j);
    {
        static const char one[] = "preset aries\nkmap-flush => OK 0x0\n";
        const char *cf = tc_write_file("one.case", one, strlen(one));

        ok_json(RUN("--json", "replay", cf), "replay", 1, &j);
        ck_assert_int_eq(int_of(j.row[0], "cases"), 1);
        ck_assert_int_eq(int_of(j.row[0], "ops"), 1);
        free_rows(&j);
    }
}
END_TEST

/* --json history --limit N keeps the paging cursor as a last line. */
START_TEST(test_history_cursor_json)
{
    struct jrows j;

    ok_json_any(RUN("--json", "create", "--preset", "aries"), "create", -1);
    ok_json_any(RUN("--json", "alloc", "1"), "alloc", 1);
    ok_json_any(RUN("--json", "alloc", "1"), "alloc", 1);
    ok_json_any(RUN("--json", "alloc", "1"), "alloc", 1);
    ok_json(RUN("--json", "history", "1", "--limit", "2"), "history", 3, &j);
    ck_assert_int_eq(int_of(j.row[0], "seq"), 1);
    ck_assert_int_eq(int_of(j.row[1], "seq"), 2);
    ck_assert_int_eq(json_object_size(j.row[2]), 1);
    ck_assert_int_eq(int_of(j.row[2], "next_after"), 2);
    free_rows(&j);
    ok_json(RUN("--json", "history", "1", "--limit", "2", "--after", "2"),
            "history --after", 1, &j);
    ck_assert_int_eq(int_of(j.row[0], "seq"), 3);
    free_rows(&j);
    ok_json(RUN("--json", "history", "1", "--limit", "1", "--all"),
            "history --all", 3, &j);
    ck_assert_int_eq(int_of(j.row[2], "seq"), 3);
    free_rows(&j);
}
END_TEST

/* ---- errors in JSON mode ------------------------------------------------ */

START_TEST(test_errors_json)
{
    err_json(RUN("--json", "layout", "999"), 4, "NOT_FOUND",
             "report: machine 999 does not exist");
    err_json(RUN("layout", "999", "--json"), 4, "NOT_FOUND",
             "report: machine 999 does not exist");
    err_json(RUN("--json", "describe", "999"), 4, "NOT_FOUND",
             "describe: machine 999 does not exist");
    err_json(RUN("--json", "kmap", "1", "zz"), 2, "USAGE",
             "kmap: bad pfn 'zz': not a number (usage: kmap M PFN [--wait "
             "MS])");
    err_json(RUN("--json", "frob"), 2, "USAGE",
             "unknown command 'frob' (see armmap --help)");
    err_json(RUN("describe", "x", "--json"), 2, "USAGE",
             "describe: bad machine 'x': not a number");
    err_json(tc_armmap("/nonexistent/armmapd.sock", NULL, 0, "--json", "ping",
                       (char *)NULL),
             3, "NO_SOCKET",
             "no such socket: /nonexistent/armmapd.sock (is armmapd "
             "running?)");
    ok_json_any(RUN("--json", "create", "--preset", "aries"), "create", -1);
    /* An op the daemon refuses: its result on stdout, the error on stderr. */
    err_json(RUN("--json", "kunmap", "1", "0xafa00"), 4, "NOT_FOUND",
             "kunmap: pfn 0xafa00 is not mapped by kmap");
}
END_TEST

/* ---- the other CLI fixes ------------------------------------------------ */

START_TEST(test_version)
{
    struct trun r = RUN("--version");

    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "armmap 0.1\n");
    ck_assert_str_eq(r.err, "");
    tc_run_free(&r);
}
END_TEST

START_TEST(test_layout_missing_machine_and_kernel)
{
    struct trun r;
    struct jrows j;

    r = RUN("layout", "999");
    ck_assert_int_eq(r.status, 4);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err,
                     "armmap: NOT_FOUND: report: machine 999 does not exist\n");
    tc_run_free(&r);
    ok_json_any(RUN("--json", "create", "--kernel", "6.1"), "create", -1);
    r = RUN("layout", "1");
    ck_assert_int_eq(r.status, 0);
    /* 6.1 logs its zone ranges before the Memory: line */
    ck_assert(strncmp(r.out, "Zone ranges:\n", 13) == 0);
    ck_assert(strstr(r.out, "\nMemory: ") != NULL);
    ck_assert_str_eq(r.err,
                     "armmap: layout: Linux 6.1.0 does not print the virtual "
                     "kernel memory layout (mem_init() stopped printing it in "
                     "5.1)\n");
    tc_run_free(&r);
    ok_json(RUN("--json", "layout", "1"), "layout 6.1", 1, &j);
    ck_assert_str_eq(str_of(j.row[0], "layout_missing"),
                     "layout: Linux 6.1.0 does not print the virtual kernel "
                     "memory layout (mem_init() stopped printing it in 5.1)");
    ck_assert(strncmp(str_of(j.row[0], "memory"), "Zone ranges:\n", 13) == 0);
    ck_assert(strstr(str_of(j.row[0], "memory"), "\nMemory: ") != NULL);
    free_rows(&j);
}
END_TEST

START_TEST(test_create_ram_names_the_part)
{
    struct trun r = RUN("create", "--ram", "0x80000000+8G");

    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "armmap: USAGE: create: bad --ram "
                            "'0x80000000+8G': bank 1 size '8G' is above 4G\n");
    tc_run_free(&r);
    r = RUN("create", "--ram", "0x0+1G,0x100000000+1G");
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err,
                     "armmap: USAGE: create: bad --ram '0x0+1G,0x100000000+1G'"
                     ": bank 2 start '0x100000000' is above 0xffffffff\n");
    tc_run_free(&r);
    r = RUN("create", "--ram", "0x80000000+1Q");
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "armmap: USAGE: create: bad --ram "
                            "'0x80000000+1Q': bank 1 size '1Q' is not a size "
                            "(a number with K, M or G)\n");
    tc_run_free(&r);
    r = RUN("create", "--ram", "0x80000000");
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "armmap: USAGE: create: bad --ram '0x80000000': "
                            "bank 1 wants START+SIZE\n");
    tc_run_free(&r);
    /* A whole 4G bank is the engine's to judge, and it boots. */
    r = RUN("create", "--ram", "0x80000000+512M");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "1\n");
    tc_run_free(&r);
}
END_TEST

/* The usage says --slot is required on km_type machines; it is. */
START_TEST(test_kmap_atomic_slot)
{
    struct trun r = RUN("kmap-atomic", "--help");

    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "required on km_type machines") != NULL, "%s",
                  r.out);
    tc_run_free(&r);
    r = RUN("create", "--kernel", "2.6.35", "--vmalloc-end", "0xf0000000");
    ck_assert_int_eq(r.status, 0);
    tc_run_free(&r);
    r = RUN("alloc", "1", "--zone", "highmem");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "pfn 0x7fc00\n");
    tc_run_free(&r);
    r = RUN("kmap-atomic", "1", "0x7fc00");
    ck_assert_int_eq(r.status, 4);
    ck_assert_str_eq(r.err, "armmap: INVALID_ARGUMENT: kmap_atomic: this "
                            "kernel's kmap_atomic takes a km_type slot (0..15, "
                            "KM_BOUNCE_READ..KM_KDB)\n");
    tc_run_free(&r);
    r = RUN("kmap-atomic", "1", "0x7fc00", "--slot", "KM_USER0");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "va 0xfff03000\n");
    tc_run_free(&r);
}
END_TEST

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");

    tcase_add_checked_fixture(tc, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_machine_commands_json);
    tcase_add_test(tc, test_read_commands_json);
    tcase_add_test(tc, test_history_cursor_json);
    tcase_add_test(tc, test_errors_json);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_layout_missing_machine_and_kernel);
    tcase_add_test(tc, test_create_ram_names_the_part);
    tcase_add_test(tc, test_kmap_atomic_slot);
    suite_add_tcase(s, tc);
    return s;
}
