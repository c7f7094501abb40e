/* tests/client/test_cli.c - the armmap binary, run as a subprocess.
 *
 * Every command's text and JSON output with the exact values an aries
 * machine gives, the usage errors (exit 2) with their exact sentences, the
 * connection errors (exit 3) and the daemon's errors (exit 4).  Each test
 * has its own fresh daemon, so machine ids start at 1.
 */
#include "check_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RUN(...) tc_armmap(tc_d.sock, NULL, 0, __VA_ARGS__, (char *)NULL)
#define RUN_IN(in, ...) \
    tc_armmap(tc_d.sock, (in), strlen(in), __VA_ARGS__, (char *)NULL)

/* Runs and checks exit status, stdout and stderr exactly (NULL: not checked).
 */
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

/* Runs and checks exit status and that stdout contains @part. */
static void expect_has(struct trun r, int status, const char *part)
{
    ck_assert_msg(r.status == status,
                  "exit %d, wanted %d; stdout: %s; stderr: %s", r.status,
                  status, r.out, r.err);
    ck_assert_msg(strstr(r.out, part) != NULL, "'%s' not in: %s", part, r.out);
    tc_run_free(&r);
}

static void make_aries(void)
{
    expect(RUN("create", "--preset", "aries"), 0, "1\n", "");
}

/* ---- help and usage errors ----------------------------------------------- */

START_TEST(test_help)
{
    struct trun r = RUN("--help");

    ck_assert_int_eq(r.status, 0);
    ck_assert(strncmp(r.out, "usage: armmap [-s SOCKET | -H HOST:PORT]", 40) ==
              0);
    ck_assert(strstr(r.out, "  kmap-atomic M PFN [--cpu C] [--slot NAME]\n") !=
              NULL);
    ck_assert(strstr(
        r.out, "  translate M [--walk] [--access rwxu] [--chunk N] [--input "
               "FILE]\n"));
    ck_assert(strstr(r.out, "2 usage error;\n3 connection error") != NULL);
    ck_assert(strstr(r.out, "  report M iomem|vmallocinfo|buddyinfo|meminfo|zoneinfo|"
                            "pkmap|fixmap|pagetables|regions [--format text|json]\n") != NULL);
    tc_run_free(&r);
    r = RUN("kmap", "--help");
    ck_assert_int_eq(r.status, 0);
    ck_assert(strncmp(r.out,
                      "usage: armmap [global options] kmap M PFN [--wait MS]\n",
                      54) == 0);
    tc_run_free(&r);
    expect_has(RUN("create", "--help"), 0,
               "  --vmalloc-end ADDR     VMALLOC_END override\n");
    expect_has(RUN("fuzz", "--help"), 0, "Deterministic for a seed.");
}
END_TEST

START_TEST(test_every_command_has_help)
{
    static const char *const cmds[] = {
        "ping", "presets", "create", "list", "describe", "destroy", "alloc",
        "free", "kmap", "kunmap", "kmap-atomic", "kunmap-atomic", "vmalloc",
        "vfree", "vmap", "vunmap", "ioremap", "iounmap", "module-alloc",
        "module-free", "kmap-flush", "module-enable-ro", "translate", "phys", "layout", "report",
        "dump", "history", "fork", "clone", "purge", "stats", "batch", "fuzz",
        "replay",
    };
    size_t i;

    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        struct trun r = RUN(cmds[i], "--help");
        char want[64];

        snprintf(want, sizeof(want), "usage: armmap [global options] %s",
                 cmds[i]);
        ck_assert_msg(r.status == 0, "%s --help: exit %d", cmds[i], r.status);
        ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
        ck_assert(strstr(r.out, "--json") != NULL);
        ck_assert(strstr(r.out, "Exit status:") != NULL);
        ck_assert_str_eq(r.err, "");
        tc_run_free(&r);
    }
}
END_TEST

START_TEST(test_usage_errors)
{
    expect(RUN("frob"), 2, "",
           "armmap: USAGE: unknown command 'frob' (see armmap --help)\n");
    expect(tc_armmap(tc_d.sock, NULL, 0, (char *)NULL), 2, "",
           "armmap: USAGE: missing command (see armmap --help)\n");
    expect(RUN("--frob", "ping"), 2, "",
           "armmap: USAGE: unknown option '--frob' (see armmap --help)\n");
    expect(RUN("kmap"), 2, "",
           "armmap: USAGE: kmap: missing machine (usage: kmap M PFN [--wait "
           "MS])\n");
    expect(RUN("kmap", "1"), 2, "",
           "armmap: USAGE: kmap: missing argument (usage: kmap M PFN [--wait "
           "MS])\n");
    expect(RUN("kmap", "1", "zz"), 2, "",
           "armmap: USAGE: kmap: bad pfn 'zz': not a number (usage: kmap M PFN "
           "[--wait MS])\n");
    expect(
        RUN("kmap", "1", "0x100000"), 2, "",
        "armmap: USAGE: kmap: bad pfn '0x100000': out of range (max 0xfffff) "
        "(usage: kmap M PFN [--wait MS])\n");
    expect(RUN("translate", "1", "0x100000000"), 6, "",
           "armmap: DATA: translate: bad address '0x100000000': out of range "
           "(max 0xffffffff)\n");
    expect(RUN("describe", "x"), 2, "",
           "armmap: USAGE: describe: bad machine 'x': not a number\n");
    expect(RUN("describe"), 2, "",
           "armmap: USAGE: describe: missing machine (usage: describe M)\n");
    expect(RUN("list", "--frob"), 2, "",
           "armmap: USAGE: list: unknown option '--frob' (usage: list)\n");
    expect(RUN("vmalloc", "1", "16X"), 2, "",
           "armmap: USAGE: vmalloc: bad size '16X': not a size (a number with "
           "K, M or G) "
           "(usage: vmalloc M SIZE)\n");
    expect(RUN("create", "--highmem", "maybe"), 2, "",
           "armmap: USAGE: create: bad --highmem 'maybe': use on, off\n");
    expect(RUN("create", "--cpus", "99"), 2, "",
           "armmap: USAGE: create: bad cpus '99': use 1..32\n");
    expect(RUN("create", "--split", "4G"), 2, "",
           "armmap: USAGE: create: bad --split '4G': use 3G, 2G, 1G\n");
    expect(RUN("report", "1", "frob"), 2, "",
           "armmap: USAGE: report: unknown report 'frob' (usage: report M "
           "iomem|vmallocinfo|"
           "buddyinfo|meminfo|zoneinfo|pkmap|fixmap|pagetables|regions "
           "[--format text|json])\n");
    expect(RUN("purge", "--older-than", "5y"), 2, "",
           "armmap: USAGE: purge: bad age '5y': expected a number with s, m, h "
           "or d\n");
    expect(RUN("fork", "1"), 2, "",
           "armmap: USAGE: fork: missing --at SEQ (usage: fork M --at SEQ "
           "[--name NAME])\n");
    expect(RUN("translate", "1", "--access", "rq"), 2, "",
           "armmap: USAGE: translate: bad access 'rq': use the letters r, w, x "
           "and u\n");
    expect(RUN("history", "1", "--va", "0x10"), 2, "",
           "armmap: USAGE: history: bad range '0x10': expected LO-HI\n");
    expect(RUN("history", "1", "--op", "frob"), 2, "",
           "armmap: USAGE: history: unknown op 'frob'\n");
    expect(RUN("ping", "extra"), 2, "",
           "armmap: USAGE: ping: unexpected argument 'extra' (usage: ping)\n");
    expect(RUN("--timeout", "0", "ping"), 2, "",
           "armmap: USAGE: bad timeout '0': use 1..2147483647 ms\n");
}
END_TEST

START_TEST(test_connection_errors)
{
    expect(
        tc_armmap("/nonexistent/armmapd.sock", NULL, 0, "ping", (char *)NULL),
        3, "",
        "armmap: NO_SOCKET: no such socket: /nonexistent/armmapd.sock "
        "(is armmapd running?)\n");
    expect(RUN("--tenant", "no spaces", "ping"), 3, "",
           "armmap: INVALID_ARGUMENT: hello rejected: hello: tenant 'no "
           "spaces' is not 1-64 "
           "bytes of [A-Za-z0-9._-]\n");
    expect(
        RUN("--token-file", "/nonexistent/token", "ping"), 3, "",
        "armmap: INVALID_ARGUMENT: cannot read token file /nonexistent/token: "
        "No such file or directory\n");
}
END_TEST

START_TEST(test_tcp)
{
    struct tdaemon d;
    char hp[64];

    td_init(&d);
    td_start(&d, "--listen=127.0.0.1:0", (char *)NULL);
    snprintf(hp, sizeof(hp), "127.0.0.1:%d", d.port);
    expect(tc_armmap(NULL, NULL, 0, "-H", hp, "ping", (char *)NULL), 0,
           "pong\n", "");
    expect(tc_armmap(NULL, NULL, 0, "--host", hp, "create", (char *)NULL), 0,
           "1\n", "");
    td_cleanup(&d);
    expect(tc_armmap(NULL, NULL, 0, "-H", "127.0.0.1:1", "ping", (char *)NULL),
           3, "",
           "armmap: REFUSED: connection refused: 127.0.0.1:1 (is armmapd "
           "running?)\n");
    expect(tc_armmap(NULL, NULL, 0, "-H", "nocolon", "ping", (char *)NULL), 2,
           "",
           "armmap: USAGE: bad -H 'nocolon': expected HOST:PORT\n");
}
END_TEST

START_TEST(test_server_errors)
{
    expect(RUN("describe", "999"), 4, "",
           "armmap: NOT_FOUND: describe: machine 999 does not exist\n");
    expect(RUN("kmap", "999", "0x1"), 4, "",
           "armmap: NOT_FOUND: kmap: machine 999 does not exist\n");
    expect(
        RUN("create", "--preset", "nope"), 4, "",
        "armmap: NOT_FOUND: preset: unknown preset 'nope' (aries, qemu-virt, "
        "beaglebone-black, rpi2)\n");
    expect(RUN("create", "--ram", "0x80000000+1G,0x80000000+1G"), 4, "",
           "armmap: INVALID_ARGUMENT: ram: bank 2 overlaps bank 1 "
           "(0x80000000-0xbfffffff)\n");
}
END_TEST

/* ---- machines ------------------------------------------------------------ */

START_TEST(test_ping_presets)
{
    expect(RUN("ping"), 0, "pong\n", "");
    expect(RUN("ping", "--json"), 0,
           "{\"status\":\"OK\",\"server\":\"armmapd 0.1\"}\n", "");
    expect(RUN("--json", "ping"), 0,
           "{\"status\":\"OK\",\"server\":\"armmapd 0.1\"}\n", "");
    expect_has(RUN("presets"), 0,
               "aries            Xiaomi Mi 2, APQ8064, msm-3.4 (3.4.0)");
    expect_has(
        RUN("presets", "--json"), 0,
        "{\"presets\":[{\"name\":\"aries\",\"summary\":\"Xiaomi Mi 2, APQ8064");
}
END_TEST

START_TEST(test_create_list_describe_destroy)
{
    struct trun r;

    make_aries();
    expect(RUN("create", "--preset", "qemu-virt", "--cpus", "2", "--highmem",
               "off", "--vmalloc", "128M", "--name", "lab"),
           0, "2\n", "");
    expect_has(RUN("describe", "2"), 0, "  highmem=off\n");
    expect_has(RUN("describe", "2"), 0, "  cpus=2\n");
    expect_has(RUN("describe", "2"), 0, "name:          lab\n");
    r = RUN("create", "--preset", "aries", "--json", "--name", "j");
    ck_assert_int_eq(r.status, 0);
    ck_assert(
        strncmp(r.out,
                "{\"id\":3,\"name\":\"j\",\"tenant\":\"default\",\"seq\":0,",
                46) == 0);
    ck_assert(
        strstr(r.out, "\"config\":\"preset=aries\\nram=0x80200000+140M,") !=
        NULL);
    ck_assert(strstr(r.out,
                     "\"zones\":[{\"name\":\"Normal\",\"start_pfn\":524800,") !=
              NULL);
    ck_assert_str_eq(r.out + r.out_len - 3, "]}\n");
    tc_run_free(&r);
    expect(RUN("list"), 0,
           "ID       NAME                        SEQ     EVENTS\n"
           "1        -                             0          0\n"
           "2        lab                           0          0\n"
           "3        j                             0          0\n",
           "");
    expect_has(RUN("list", "--json"), 0,
               "{\"machines\":[{\"id\":1,\"name\":\"\",");
    expect_has(RUN("describe", "1"), 0,
               "id:            1\nname:          \n"
               "tenant:        default\nseq:           0\n");
    expect_has(RUN("describe", "1"), 0,
               "zone HighMem  pfn 0xafa00-0xff2ff present 325887");
    expect_has(RUN("describe", "1"), 0, "config:\n  preset=aries\n");
    expect(RUN("destroy", "2"), 0, "destroyed 2\n", "");
    expect(RUN("destroy", "3", "--json"), 0, "{\"id\":3,\"status\":\"OK\"}\n",
           "");
    expect(RUN("destroy", "3"), 4, "",
           "armmap: NOT_FOUND: destroy: machine 3 does not exist\n");
}
END_TEST

/* ---- ops -------------------------------------------------------------------
 */

START_TEST(test_ops_text)
{
    make_aries();
    /* KERNEL: the first highmem page the buddy allocator hands out on aries. */
    expect(RUN("alloc", "1", "--zone", "highmem"), 0, "pfn 0xff2fe\n", "");
    expect(RUN("kmap", "1", "0xff2fe"), 0, "va 0xbfe01000\n", "");
    expect(RUN("kmap", "1", "1045246"), 0, "va 0xbfe01000\n", "");
    expect(RUN("kunmap", "1", "0xff2fe"), 0, "va 0xbfe01000 users 1\n", "");
    expect(RUN("kunmap", "1", "0xff2fe"), 0, "va 0xbfe01000 users 0\n", "");
    expect(RUN("kunmap", "1", "0xff2fe"), 4, "",
           "armmap: NOT_FOUND: kunmap: pfn 0xff2fe has no kmap users (pkmap "
           "slot 1 at "
           "0xbfe01000 awaits a flush)\n");
    expect(RUN("kmap-flush", "1"), 0, "cleared 1\n", "");
    expect(RUN("alloc", "1", "--zone", "highmem", "--order", "1"), 0,
           "pfn 0xff2fc\n", "");
    expect_has(RUN("kmap-atomic", "1", "0xff2fc", "--cpu", "1"), 0, "va 0x");
    expect(RUN("kmap-atomic", "1", "0xff2fc", "--cpu", "7"), 4, "",
           "armmap: INVALID_ARGUMENT: kmap_atomic: cpu 7 does not exist (the "
           "machine has "
           "4 CPUs)\n");
    expect(RUN("vmalloc", "1", "16K"), 0, "va 0xf0000000 pages 4\n", "");
    expect(RUN("vfree", "1", "0xf0000000"), 0, "pages 4\n", "");
    expect(RUN("vfree", "1", "0xf0000000"), 4, NULL, NULL);
    expect_has(RUN("vmap", "1", "0xff2fc", "0xff2fd"), 0, "va 0x");
    expect_has(RUN("ioremap", "1", "0x10000000", "4K"), 0, "va 0x");
    expect(RUN("ioremap", "1", "0x80200000", "4K"), 4, "",
           "armmap: INVALID_ARGUMENT: ioremap: 0x80200000-0x80200fff is RAM; "
           "ARM refuses "
           "to ioremap RAM\n");
    expect_has(RUN("module-alloc", "1", "8K"), 0, " pages 2\n");
    expect(RUN("free", "1", "0xff2fe"), 0, "freed pfn 0xff2fe\n", "");
    expect(
        RUN("alloc", "1", "--order", "11"), 4, "",
        "armmap: INVALID_ARGUMENT: alloc: order 11 is out of range (0-10)\n");
}
END_TEST

START_TEST(test_ops_json)
{
    make_aries();
    expect(RUN("alloc", "1", "--zone", "highmem", "--json"), 0,
           "{\"op\":\"alloc\",\"status\":\"OK\",\"value\":1045246,\"aux\":0,"
           "\"flags\":0,"
           "\"seq\":1}\n",
           "");
    expect(RUN("kmap", "1", "0xff2fe", "--json"), 0,
           "{\"op\":\"kmap\",\"status\":\"OK\",\"value\":3219132416,\"aux\":0,"
           "\"flags\":0,"
           "\"seq\":2}\n",
           "");
    expect(RUN("kunmap", "1", "0xafa00", "--json"), 4,
           "{\"op\":\"kunmap\",\"status\":\"NOT_FOUND\",\"message\":\"kunmap: "
           "pfn 0xafa00 "
           "is not mapped by kmap\"}\n",
           "{\"error\":\"NOT_FOUND\",\"message\":\"kunmap: pfn 0xafa00 is "
           "not mapped by kmap\",\"exit\":4}\n");
}
END_TEST

START_TEST(test_translate_and_phys)
{
    static const char in[] = "# addresses\n0xc0000000\n\n  0   # a comment\n"
                             "3221258240\n";

    make_aries();
    expect(RUN("translate", "1", "0xc0000000", "0"), 0,
           "0xc0000000 0x80200000 lowmem -\n0x00000000 - user translation-l1\n",
           "");
    expect(RUN_IN(in, "translate", "1"), 0,
           "0xc0000000 0x80200000 lowmem -\n0x00000000 - user translation-l1\n"
           "0xc0008000 0x80208000 lowmem -\n",
           "");
    expect(RUN_IN(in, "translate", "1", "--json"), 0,
           "{\"va\":3221225472,\"pa\":2149580800,\"region\":\"lowmem\","
           "\"fault\":null}\n"
           "{\"va\":0,\"pa\":null,\"region\":\"user\",\"fault\":\"translation-"
           "l1\"}\n"
           "{\"va\":3221258240,\"pa\":2149613568,\"region\":\"lowmem\","
           "\"fault\":null}\n",
           "");
    expect(RUN("translate", "1", "--walk", "0xc0008000"), 0,
           "0xc0008000 0x80208000 lowmem -\n"
           "    L1 0x80207000: 0x8021140e section pa=0x80200000 domain=0 "
           "ap=001(rw/--) "
           "tex=001 c=1 b=1 s=1 ng=0 xn=0\n"
           "    VA 0xc0008000 -> PA 0x80208000\n",
           "");
    expect_has(
        RUN("translate", "1", "--walk", "--json", "0xc0008000"), 0,
        "\"walk\":[{\"level\":1,\"kind\":\"section\",\"addr\":2149609472,");
    expect(RUN("translate", "1", "--access", "u", "0xc0000000"), 0,
           "0xc0000000 - lowmem permission-l1\n", "");
    expect(
        RUN_IN("0xc0000000\n0x1\nzz\n0x2\n", "translate", "1"), 6,
        "0xc0000000 0x80200000 lowmem -\n0x00000001 - user translation-l1\n",
        "armmap: DATA: translate: line 3: bad address 'zz': not a number\n");
    expect(RUN_IN("0xc0000000\n", "translate", "9"), 4, "",
           "armmap: NOT_FOUND: translate: machine 9 does not exist\n");
    expect(RUN("phys", "1", "0x80200000", "0x1000"), 0,
           "0x80200000 0xc0000000 lowmem\n0x00001000 - -\n", "");
    expect(RUN("phys", "1", "0x80200000", "--json"), 0,
           "{\"pa\":2149580800,\"va\":3221225472,\"region\":\"lowmem\"}\n",
           "");
}
END_TEST

/* translate's text output names the region of every address, faults
 * included, and calls an ioremap area ioremap: on Debian's armmp 6.1
 * (qemu-virt, 1 GiB) vmalloc 1M lands at 0xf0800000 and ioremap 1M of
 * 0x10000000 at 0xf0980000 (SMP alignment); the guard page after it
 * faults in the ioremap area's window; the FDT map at 0xff800000 (QEMU's
 * device tree at 0x48000000) and the PCI I/O reservation at 0xfee00000
 * are their own regions.  The vmalloc
 * page is in the last 8 MiB highmem block freed at boot (MAX_ORDER 12
 * on the armmp build), after the pages the boot's per-CPU chunk and
 * stacks took from it (config version 8). */
START_TEST(test_translate_names_regions_and_ioremap)
{
    expect(RUN("create", "--preset", "qemu-virt", "--kernel", "6.1"), 0, "1\n", "");
    /* after the boot's own areas (engine/vmboot61.c): the kernel's
     * 0xf09cf000 and 0xf0b00000 on this machine (tests/oracle fixture
     * ram1G-cpus1, less insmod's copy); 0xf093f000 is lazily freed,
     * 0xf0c00000 a 2 MiB step without a page table */
    expect(RUN("vmalloc", "1", "1M"), 0, "va 0xf09cf000 pages 256\n", "");
    expect_has(RUN("ioremap", "1", "0x10000000", "1M"), 0, "0xf0b00000");
    expect(RUN("translate", "1", "0xf0b00000", "0xf0bff000", "0xf0c00000", "0xf09cf000",
               "0xf093f000", "0xff800000", "0xfee00000", "0xbf000000"),
           0,
           "0xf0b00000 0x10000000 ioremap -\n"
           "0xf0bff000 0x100ff000 ioremap -\n"
           "0xf0c00000 - ioremap translation-l1\n"
           "0xf09cf000 0x7e8b8000 vmalloc -\n"
           "0xf093f000 - vmalloc translation-l2\n"
           "0xff800000 0x48000000 fdt -\n"
           "0xfee00000 - pci-io translation-l1\n"
           "0xbf000000 - modules translation-l1\n",
           "");
}
END_TEST

/* module-enable-ro on Debian's 6.1 armmp build: sizes as the other
 * commands take them, the read-only pages printed, text and JSON; a
 * missing size and a second call are refused with their messages. */
START_TEST(test_module_enable_ro_cli)
{
    expect(RUN("create", "--preset", "qemu-virt", "--kernel", "6.1"), 0, "1\n", "");
    expect(RUN("module-alloc", "1", "16K"), 0, "va 0xbf000000 pages 4\n", "");
    expect(RUN("module-enable-ro", "1", "0xbf000000", "4K"), 2, "",
           "armmap: USAGE: module-enable-ro: missing argument (usage: "
           "module-enable-ro M VA TEXT_SIZE RO_SIZE)\n");
    expect(RUN("module-enable-ro", "1", "0xbf000000", "4K", "8K"), 0,
           "read-only pages 2\n", "");
    expect(RUN("module-enable-ro", "1", "0xbf000000", "4K", "8K", "--json"), 4,
           "{\"op\":\"module_enable_ro\",\"status\":\"INVALID_ARGUMENT\","
           "\"message\":\"module_enable_ro: the module at 0xbf000000 is "
           "protected already\"}\n",
           NULL);
    expect(RUN("translate", "1", "--access", "w", "0xbf000000", "0xbf002000"), 0,
           "0xbf000000 - modules permission-l2\n"
           "0xbf002000 0x7e8ba000 modules -\n",
           "");
}
END_TEST

/* A kernel command line and the region table, for a 6.1 machine that no
 * longer prints the layout block. */
START_TEST(test_create_cmdline_and_regions)
{
    expect(RUN("create", "--preset", "qemu-virt", "--kernel", "6.1", "--cmdline",
               "mem=700M vmalloc=480M cma=32M"),
           0, "1\n", "");
    expect_has(RUN("report", "1", "regions"), 0,
               "\nlowmem     0xc0000000 0xe1000000    528M  ");
    expect_has(RUN("report", "1", "meminfo"), 0, "CmaTotal:          32768 kB\n");
    expect_has(RUN("layout", "1"), 0, ", 32768K cma-reserved, 143360K highmem)\n");
    expect_has(RUN("describe", "1"), 0,
               "  # reference: Debian 12 linux-image-armmp (6.1.0-57-armmp");
}
END_TEST

/* --fdt places the device tree (docs/kernel.md): the region table says
 * where, describe shows the setting, and a blob over the image is
 * refused by name. */
START_TEST(test_create_fdt)
{
    expect(RUN("create", "--preset", "qemu-virt", "--kernel", "6.1", "--fdt",
               "0x4c080000,64K"),
           0, "1\n", "");
    expect_has(RUN("report", "1", "regions"), 0,
               "\nfdt        0xff800000 0xffa00000      2M  devicemaps_init(): the DTB at "
               "0x4c080000+64K, read-only sections\n");
    expect_has(RUN("describe", "1"), 0, "  fdt=0x4c080000,64K\n");
    expect_has(RUN("translate", "1", "0xff880000"), 0, "0xff880000 0x4c080000 fdt -\n");
    expect(RUN("create", "--preset", "qemu-virt", "--kernel", "6.1", "--fdt",
               "0x40300000,1M"),
           4, "", "armmap: INVALID_ARGUMENT: create: fdt 0x40300000+0x00100000 overlaps "
              "in-use memory\n");
}
END_TEST

START_TEST(test_layout_and_reports)
{
    struct trun r;

    make_aries();
    r = RUN("layout", "1");
    ck_assert_int_eq(r.status, 0);
    /* mem_init() order, as spec/aries.txt shows it: Memory: lines first */
    ck_assert(strncmp(r.out,
                      "Memory: 140MB 74MB 4MB 7MB 255MB 88MB 1433MB = 2001MB total\n",
                      60) == 0);
    ck_assert(strstr(r.out,
                     "highmem\nVirtual kernel memory layout:\n"
                     "    vector  : 0xffff0000 - 0xffff1000   (   4 kB)\n") != NULL);
    ck_assert(
        strstr(r.out, "    lowmem  : 0xc0000000 - 0xef800000   ( 760 MB)\n") !=
        NULL);
    ck_assert(
        strstr(r.out,
               "Memory: 140MB 74MB 4MB 7MB 255MB 88MB 1433MB = 2001MB total\n"
               "Memory: 2006560k/2006560k available, 43484k reserved, 1303548K "
               "highmem\n") != NULL);
    tc_run_free(&r);
    expect_has(RUN("layout", "1", "--json"), 0,
               "\",\"layout\":\"Virtual kernel memory layout:\\n    vector  : "
               "0xffff0000");
    expect_has(RUN("layout", "1", "--json"), 0, "{\"memory\":\"Memory: 140MB ");
    expect_has(RUN("report", "1", "meminfo"), 0,
               "MemTotal:        2006560 kB\n");
    expect_has(RUN("report", "1", "pkmap"), 0,
               "pkmap: 0xbfe00000-0xc0000000, 512 slots");
    expect_has(RUN("report", "1", "iomem"), 0, "System RAM");
    expect_has(RUN("report", "1", "buddyinfo"), 0, "zone");
    expect_has(RUN("report", "1", "vmallocinfo", "--json"), 0,
               "{\"vmallocinfo\":");
    expect(RUN("report", "1", "fixmap"), 0, NULL, "");
    expect(RUN("report", "1", "pagetables"), 0, NULL, "");
    /* --format json: the engine's structured report, one line */
    expect(RUN("report", "1", "meminfo", "--format", "json"), 0,
           "{\"report\":\"meminfo\",\"kernel\":\"3.4.0\",\"seq\":\"0\","
           "\"fields\":{\"MemTotal\":2006560,\"MemFree\":2006560,"
           "\"HighTotal\":1303548,\"HighFree\":1303548,\"LowTotal\":703012,"
           "\"LowFree\":703012,\"VmallocTotal\":245760,\"VmallocUsed\":0}}\n",
           "");
    expect(RUN("report", "1", "pkmap", "--format", "xml"), 2, "",
           "armmap: USAGE: report: bad --format 'xml': use text or json\n");
}
END_TEST

START_TEST(test_dump_history_fork_purge_stats)
{
    char path[200], want[300];
    struct stat st;
    struct trun r;

    make_aries();
    expect(RUN("alloc", "1", "--zone", "highmem"), 0, "pfn 0xff2fe\n", "");
    expect(RUN("kmap", "1", "0xff2fe"), 0, "va 0xbfe01000\n", "");
    expect(RUN("vmalloc", "1", "16K"), 0, "va 0xf0000000 pages 4\n", "");
    snprintf(path, sizeof(path), "%s/core", tc_d.dir);
    r = RUN("dump", "1", path);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(stat(path, &st), 0);
    snprintf(want, sizeof(want), "wrote %lld bytes to %s\n",
             (long long)st.st_size, path);
    ck_assert_str_eq(r.out, want);
    tc_run_free(&r);
    expect(RUN("history", "1"), 0,
           "       1 alloc         0x2 0x0 -> pfn 0xff2fe\n"
           "       2 kmap          0xff2fe -> va 0xbfe01000\n"
           "       3 vmalloc       0x4000 -> va 0xf0000000 pages 4\n",
           "");
    expect(RUN("history", "1", "--op", "kmap"), 0,
           "       2 kmap          0xff2fe -> va 0xbfe01000\n", "");
    expect(RUN("history", "1", "--limit", "1"), 0,
           "       1 alloc         0x2 0x0 -> pfn 0xff2fe\n",
           "armmap: history: more after seq 1 (--after 1 or --all)\n");
    expect(RUN("history", "1", "--limit", "1", "--all", "--newest"), 0,
           "       3 vmalloc       0x4000 -> va 0xf0000000 pages 4\n"
           "       2 kmap          0xff2fe -> va 0xbfe01000\n"
           "       1 alloc         0x2 0x0 -> pfn 0xff2fe\n",
           "");
    expect_has(RUN("history", "1", "--json", "--since", "2", "--until", "2"), 0,
               "\"op\":\"kmap\",\"cpu\":0,\"args\":[1045246],\"result\":{"
               "\"op\":\"kmap\","
               "\"status\":\"OK\",\"value\":3219132416,");
    r = RUN("dump", "1", path, "--json");
    ck_assert_int_eq(r.status, 0);
    snprintf(want, sizeof(want), "{\"file\":\"%s\",\"bytes\":%lld}\n", path,
             (long long)st.st_size);
    ck_assert_str_eq(r.out, want);
    tc_run_free(&r);
    expect(RUN("fork", "1", "--at", "2"), 0, "2\n", "");
    expect_has(RUN("describe", "2"), 0, "seq:           2\n");
    expect(RUN("clone", "1"), 0, "3\n", "");
    expect_has(RUN("describe", "3"), 0, "seq:           3\n");
    expect_has(RUN("fork", "1", "--at", "1", "--name", "f1", "--json"), 0,
               "{\"id\":4,\"name\":\"f1\",\"tenant\":\"default\",\"seq\":1,");
    expect_has(RUN("clone", "1", "--json"), 0,
               "{\"id\":5,\"name\":\"\",\"tenant\":\"default\",\"seq\":3,");
    expect_has(RUN("describe", "1", "--json"), 0,
               "{\"id\":1,\"name\":\"\",\"tenant\":\"default\",\"seq\":3,");
    expect(RUN("fork", "1", "--at", "99"), 4, "",
           "armmap: INVALID_ARGUMENT: fork: machine 1 has 3 changes; at_seq 99 "
           "is beyond them\n");
    expect(RUN("destroy", "4"), 0, "destroyed 4\n", "");
    expect(RUN("destroy", "5"), 0, "destroyed 5\n", "");
    expect(RUN("purge", "--older-than", "1d"), 0,
           "purged 0 machines, 0 events\n", "");
    expect(RUN("purge", "--older-than", "1d", "--json"), 0,
           "{\"machines\":0,\"events\":0}\n", "");
    expect_has(RUN("stats"), 0, "machines     3\n");
    expect_has(RUN("stats", "--json"), 0, "{\"connections\":1,\"machines\":3,");
}
END_TEST

START_TEST(test_batch_command)
{
    static const char ops[] =
        "# a batch\nalloc --zone highmem\nkmap 0xff2fe\n\n"
        "kunmap 0xafa00   # never mapped\nvmalloc 16K\n";
    static const char bad[] = "kmap 0xff2fe\nkmapp 1\n";
    const char *path;

    make_aries();
    path = tc_write_file("ops.txt", ops, strlen(ops));
    expect(
        RUN("batch", "1", path), 4,
        "alloc --zone highmem: pfn 0xff2fe\n"
        "kmap 0xff2fe: va 0xbfe01000\n"
        "kunmap 0xafa00: NOT_FOUND: kunmap: pfn 0xafa00 is not mapped by kmap\n"
        "vmalloc 16K: va 0xf0000000 pages 4\n",
        "");
    expect(RUN_IN("kmap 0xff2fe\nkunmap 0xafa00\nkmap 0xff2fe\n", "batch", "1",
                  "--stop-on-error"),
           4,
           "kmap 0xff2fe: va 0xbfe01000\n"
           "kunmap 0xafa00: NOT_FOUND: kunmap: pfn 0xafa00 is not mapped by "
           "kmap\n",
           "");
    expect(RUN_IN("kmap-flush\n", "batch", "1", "--json"), 0,
           "{\"line\":1,\"op\":\"kmap_flush\",\"status\":\"OK\",\"value\":0,"
           "\"aux\":0,"
           "\"flags\":0,\"seq\":5}\n",
           "");
    path = tc_write_file("bad.txt", bad, strlen(bad));
    {
        char want[300];

        snprintf(want, sizeof(want),
                 "armmap: USAGE: batch: %s:2: unknown op 'kmapp'\n", path);
        expect(RUN("batch", "1", path), 2, "", want);
    }
    /* Nothing of a batch with a bad line was applied. */
    expect_has(RUN("describe", "1"), 0, "seq:           5\n");
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");

    tcase_add_checked_fixture(tc, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_every_command_has_help);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_connection_errors);
    tcase_add_test(tc, test_tcp);
    tcase_add_test(tc, test_server_errors);
    tcase_add_test(tc, test_ping_presets);
    tcase_add_test(tc, test_create_list_describe_destroy);
    tcase_add_test(tc, test_ops_text);
    tcase_add_test(tc, test_ops_json);
    tcase_add_test(tc, test_translate_and_phys);
    tcase_add_test(tc, test_translate_names_regions_and_ioremap);
    tcase_add_test(tc, test_module_enable_ro_cli);
    tcase_add_test(tc, test_layout_and_reports);
    tcase_add_test(tc, test_create_cmdline_and_regions);
    tcase_add_test(tc, test_create_fdt);
    tcase_add_test(tc, test_dump_history_fork_purge_stats);
    tcase_add_test(tc, test_batch_command);
    suite_add_tcase(s, tc);
    return s;
}
