/* tests/daemon/test_boots.c - armmapd creates machines through its boot
 * template cache (daemon/boots.c): each is the machine mm_create() gives.
 *
 * The real armmapd creates machines of several configs (two of the same,
 * others one field apart); every report it renders, and the addresses of
 * the same operations, equal those of a machine booted here by
 * mm_create() from the same config and given the same operations; and
 * again after a restart, whose recovery boots through the cache too.
 */
#include "check_daemon.h"
#include "mm.h"
#include "srv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    td_cleanup(&d);
}

#define NCFG 5
/* Settings of each machine, on the qemu-virt preset but the last. */
static const char *const cfgs[NCFG][4] = {
    { "kernel=6.1", "ram=0x40000000+1G", NULL },
    { "kernel=6.1", "ram=0x40000000+1G", NULL },
    { "kernel=6.1", "ram=0x40000000+1G", "vmalloc=480M", NULL },
    { "kernel=6.1", "ram=0x40000000+2G", "cpus=4", NULL },
    { NULL },
};

static const char *preset_of(int i)
{
    return i == NCFG - 1 ? "aries" : "qemu-virt";
}

/* Boots config @i here, by mm_create(). */
static struct mm_machine *local_machine(int i)
{
    struct mm_config cfg;
    struct mm_machine *m;
    char err[MM_MSG_MAX];

    mm_config_default(&cfg);
    ck_assert_int_eq(mm_config_preset(&cfg, preset_of(i), err), MM_OK);
    for (int k = 0; cfgs[i][k] != NULL; k++) {
        char key[32];
        const char *eq = strchr(cfgs[i][k], '=');

        snprintf(key, sizeof(key), "%.*s", (int)(eq - cfgs[i][k]), cfgs[i][k]);
        ck_assert_int_eq(mm_config_set(&cfg, key, eq + 1, err), MM_OK);
    }
    ck_assert_msg(mm_create(&cfg, &m, err) == MM_OK, "%s", err);
    return m;
}

static uint64_t create(int fd, int i)
{
    const char *const *kv = cfgs[i];

    /* The rows are NULL-padded: td_create() stops at the first NULL. */
    return td_create(fd, preset_of(i), kv[0], kv[1], kv[2], NULL);
}

/* Every report of the daemon's @machine equals the local @m's. */
static void same_reports(int fd, uint64_t machine, const struct mm_machine *m)
{
    for (int k = 0; k < MM_REPORT_COUNT; k++) {
        Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
        Armmap__V1__Report rep = ARMMAP__V1__REPORT__INIT;
        Armmap__V1__Response *r;
        struct mm_buf want = {0};
        enum mm_status st = mm_report(m, (enum mm_report)k, &want);

        rep.machine = machine;
        rep.kind = (Armmap__V1__ReportKind)k;
        req.id = 90;
        req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
        req.report = &rep;
        r = td_call(fd, &req);
        ck_assert_ptr_nonnull(r);
        if (st == MM_OK) {
            ck_assert_msg(r->status == NULL || r->status->code == 0,
                          "report %d: %s", k, r->status->message);
            ck_assert_ptr_nonnull(r->report);
            ck_assert_str_eq(r->report->text, want.data != NULL ? want.data : "");
        } else {
            ck_assert_ptr_nonnull(r->status);
            ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
        }
        td_free(r);
        mm_buf_free(&want);
    }
}

/* One op on the daemon's @machine and on @m: the same value. */
static void same_op(int fd, uint64_t machine, struct mm_machine *m,
                    enum mm_opcode code, const uint32_t *args, uint32_t nargs)
{
    struct mm_op op = { code, 0, nargs, args };
    struct mm_result res;

    ck_assert_int_eq(mm_apply(m, &op, &res), MM_OK);
    ck_assert_uint_eq(td_op_ok(fd, machine, (int)code, args, nargs), res.value);
}

/* kmap, kmap_atomic, vmalloc, ioremap and module_alloc, in that order. */
static void same_ops(int fd, uint64_t machine, struct mm_machine *m)
{
    uint32_t zone[2] = { MM_ZONE_HIGHMEM, 0 };
    uint32_t v1m[1] = { 1u << 20 }, io[2] = { 0x10000000u, 1u << 20 };
    uint32_t m64k[1] = { 64u << 10 };
    struct mm_result res;
    uint32_t pfn;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &res), MM_OK);
    pfn = res.value;
    ck_assert_uint_eq(td_op_ok(fd, machine, MM_OP_ALLOC, zone, 2), pfn);
    same_op(fd, machine, m, MM_OP_KMAP, &pfn, 1);
    same_op(fd, machine, m, MM_OP_KMAP_ATOMIC, &pfn, 1);
    same_op(fd, machine, m, MM_OP_VMALLOC, v1m, 1);
    same_op(fd, machine, m, MM_OP_IOREMAP, io, 2);
    same_op(fd, machine, m, MM_OP_MODULE_ALLOC, m64k, 1);
}

START_TEST(test_created_and_recovered_match_mm_create)
{
    struct mm_machine *local[NCFG];
    uint64_t id[NCFG];
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "boots");
    for (int i = 0; i < NCFG; i++) {
        local[i] = local_machine(i);
        id[i] = create(fd, i);
        same_reports(fd, id[i], local[i]);
        same_ops(fd, id[i], local[i]);
        same_reports(fd, id[i], local[i]);
    }
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    td_start(&d, NULL);
    ck_assert_ptr_nonnull(strstr(td_log(&d), "recovered 5 machines (0 broken)"));
    fd = td_session(&d, "boots");
    for (int i = 0; i < NCFG; i++) {
        same_reports(fd, id[i], local[i]);
        mm_destroy(local[i]);
    }
    close(fd);
}
END_TEST

/* srv_config_text() (the text h_create() logs) is mm_config_text()'s for
 * more distinct configs than it remembers, asked twice in turn (each
 * remembered, then forgotten for later ones) and once more in reverse. */
START_TEST(test_config_text_is_mm_config_text)
{
    enum { N = 12 }; /* distinct: 4 cpus counts by 3 vmalloc sizes */
    static const char *const vm[3] = { "240M", "320M", "480M" };
    char err[MM_MSG_MAX];

    for (int pass = 0; pass < 3; pass++) {
        for (int j = 0; j < 2 * N; j++) {
            int i = pass < 2 ? j / 2 : N - 1 - j / 2;
            struct mm_config cfg;
            char cpus[8], *want, *got;

            mm_config_default(&cfg);
            ck_assert_int_eq(mm_config_preset(&cfg, "qemu-virt", err), MM_OK);
            snprintf(cpus, sizeof(cpus), "%d", 1 + i % 4);
            ck_assert_int_eq(mm_config_set(&cfg, "cpus", cpus, err), MM_OK);
            ck_assert_int_eq(mm_config_set(&cfg, "vmalloc", vm[i / 4], err),
                             MM_OK);
            want = mm_config_text(&cfg);
            got = srv_config_text(&cfg);
            ck_assert_ptr_nonnull(want);
            ck_assert_ptr_nonnull(got);
            ck_assert_str_eq(got, want);
            free(want);
            free(got);
        }
    }
}
END_TEST

Suite *boots_daemon_suite(void)
{
    Suite *s = suite_create("boots");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_created_and_recovered_match_mm_create);
    tcase_add_test(tc, test_config_text_is_mm_config_text);
    suite_add_tcase(s, tc);
    return s;
}
