/* tests/client/test_lib.c - libarmmap against the real armmapd.
 *
 * Connection failures each with their own code and sentence, Hello
 * rejections carrying the daemon's code and message, every blocking call
 * on an aries machine with the exact values the kernel's rules give
 * (KERNEL: mm/highmem.c map_new_virtual() starts at last_pkmap_nr + 1, so
 * the first kmap gets slot 1 at PKMAP_BASE + 4K = 0xbfe01000), pipelining
 * with its window, the streaming translation, and the client's frame
 * limit.
 */
#include "check_client.h"
#include "../common/spawn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct armmap_options no_options(void)
{
    struct armmap_options o;

    memset(&o, 0, sizeof(o));
    return o;
}

/* A Unix socket at @path that is bound, listening if @listening, and never
 * answers; returns its fd. */
static int mute_socket(const char *path, bool listening)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (listening)
        ck_assert_int_eq(listen(fd, 4), 0);
    return fd;
}

/* ---- connecting ---------------------------------------------------------- */

START_TEST(test_connect_no_such_socket)
{
    struct armmap_conn *c = (struct armmap_conn *)1;
    char err[ARMMAP_ERR_MAX], path[160];

    snprintf(path, sizeof(path), "%s/nothing.sock", tc_d.dir);
    ck_assert_int_eq(armmap_connect_unix(path, no_options(), &c, err),
                     ARMMAP_NO_SOCKET);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err + strlen(err) -
                         strlen("nothing.sock (is armmapd running?)"),
                     "nothing.sock (is armmapd running?)");
    ck_assert(strncmp(err, "no such socket: /tmp/", 21) == 0);
}
END_TEST

START_TEST(test_connect_refused)
{
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX], path[160], want[300];
    int fd;

    snprintf(path, sizeof(path), "%s/deaf.sock", tc_d.dir);
    fd = mute_socket(path, false);
    ck_assert_int_eq(armmap_connect_unix(path, no_options(), &c, err),
                     ARMMAP_REFUSED);
    snprintf(want, sizeof(want), "connection refused: %s (is armmapd running?)",
             path);
    ck_assert_str_eq(err, want);
    close(fd);
}
END_TEST

START_TEST(test_connect_hello_timeout)
{
    struct armmap_options o = no_options();
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX], path[160];
    int fd;

    snprintf(path, sizeof(path), "%s/mute.sock", tc_d.dir);
    fd = mute_socket(path, true);
    o.io_timeout_ms = 200;
    ck_assert_int_eq(armmap_connect_unix(path, o, &c, err), ARMMAP_TIMEOUT);
    ck_assert_str_eq(err, "hello: no reply from armmapd within 200 ms");
    close(fd);
}
END_TEST

START_TEST(test_connect_bad_path_and_hostport)
{
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX], longpath[200];

    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    ck_assert_int_eq(armmap_connect_unix(longpath, no_options(), &c, err),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert(strstr(err, "longer than 107 bytes") != NULL);
    ck_assert_int_eq(armmap_connect_tcp("nocolon", no_options(), &c, err),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "bad address 'nocolon': expected HOST:PORT");
    ck_assert_int_eq(
        armmap_connect_tcp("no-such-host.invalid:7070", no_options(), &c, err),
        ARMMAP_NO_SOCKET);
    ck_assert(strncmp(err, "cannot resolve no-such-host.invalid:7070: ", 42) ==
              0);
}
END_TEST

START_TEST(test_connect_bad_tenant_rejected)
{
    struct armmap_options o = no_options();
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX];

    o.tenant = "bad tenant";
    ck_assert_int_eq(armmap_connect_unix(tc_d.sock, o, &c, err),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(
        err, "hello rejected: hello: tenant 'bad tenant' is not 1-64 bytes "
             "of [A-Za-z0-9._-]");
}
END_TEST

START_TEST(test_connect_token)
{
    struct armmap_options o = no_options();
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX], tok[160], bad[160];
    struct tdaemon d;
    FILE *f;

    td_init(&d);
    snprintf(tok, sizeof(tok), "%s/token", d.dir);
    snprintf(bad, sizeof(bad), "%s/bad", d.dir);
    f = fopen(tok, "w");
    fputs("s3cret\n", f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("guess\n", f);
    fclose(f);
    {
        char arg[200];

        snprintf(arg, sizeof(arg), "--auth-token-file=%s", tok);
        td_start(&d, arg, (char *)NULL);
    }
    ck_assert_int_eq(armmap_connect_unix(d.sock, o, &c, err),
                     ARMMAP_UNAUTHENTICATED);
    ck_assert_str_eq(err,
                     "hello rejected: hello: this daemon requires a token");
    o.token_file = bad;
    ck_assert_int_eq(armmap_connect_unix(d.sock, o, &c, err),
                     ARMMAP_UNAUTHENTICATED);
    ck_assert_str_eq(err, "hello rejected: hello: the token is not valid");
    o.token_file = tok;
    ck_assert_int_eq(armmap_connect_unix(d.sock, o, &c, err), ARMMAP_OK);
    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    armmap_close(c);
    td_cleanup(&d);
}
END_TEST

START_TEST(test_connect_tcp)
{
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX], hp[64];
    struct tdaemon d;

    td_init(&d);
    td_start(&d, "--listen=127.0.0.1:0", (char *)NULL);
    ck_assert_int_gt(d.port, 0);
    snprintf(hp, sizeof(hp), "127.0.0.1:%d", d.port);
    ck_assert_int_eq(armmap_connect_tcp(hp, no_options(), &c, err), ARMMAP_OK);
    ck_assert_str_eq(armmap_server(c), "armmapd 0.1");
    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    armmap_close(c);
    td_cleanup(&d);
}
END_TEST

/* ---- blocking calls ------------------------------------------------------ */

START_TEST(test_ping_and_presets)
{
    struct armmap_conn *c = tc_connect();
    struct armmap_preset_list *p;
    bool aries = false;
    size_t i;

    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    ck_assert_str_eq(armmap_errmsg(c), "");
    ck_assert_int_eq(armmap_presets(c, &p), ARMMAP_OK);
    for (i = 0; i < p->n; i++)
        if (strcmp(p->items[i].name, "aries") == 0)
            aries = strstr(p->items[i].summary, "Xiaomi Mi 2") != NULL;
    ck_assert(aries);
    armmap_preset_list_free(p);
    armmap_close(c);
}
END_TEST

START_TEST(test_create_describe_list_destroy)
{
    struct armmap_conn *c = tc_connect();
    struct armmap_setting s[] = { { "cpus", "2" }, { "vmalloc", "256M" } };
    struct armmap_machine *m, *d;
    struct armmap_machine_list *l;

    ck_assert_int_eq(armmap_create(c, "qemu-virt", s, 2, "lab", &m), ARMMAP_OK);
    ck_assert_str_eq(m->name, "lab");
    ck_assert_str_eq(m->tenant, "default");
    ck_assert(strstr(m->config, "cpus=2\n") != NULL);
    ck_assert_int_eq(armmap_describe(c, m->id, &d), ARMMAP_OK);
    ck_assert_uint_eq(d->id, m->id);
    ck_assert_uint_eq(d->seq, 0);
    ck_assert_uint_ge(d->nzones, 1);
    armmap_machine_free(d);
    ck_assert_int_eq(armmap_list(c, &l), ARMMAP_OK);
    ck_assert_uint_eq(l->n, 1);
    ck_assert_uint_eq(l->items[0].id, m->id);
    armmap_machine_list_free(l);
    ck_assert_int_eq(armmap_destroy(c, m->id), ARMMAP_OK);
    ck_assert_int_eq(armmap_describe(c, m->id, &d), ARMMAP_NOT_FOUND);
    ck_assert_ptr_null(d);
    ck_assert(strstr(armmap_errmsg(c), "does not exist") != NULL);
    armmap_machine_free(m);
    armmap_close(c);
}
END_TEST

/* The ARMMAP_0 layout of a machine (client/compat_v0.c), as a program
 * built before the twelfth buddy order sees it; v0_describe() and
 * v0_list() are what such a program's armmap_describe@ARMMAP_0 and
 * armmap_list@ARMMAP_0 run. */
struct zone_v0 {
    char name[16];
    uint32_t start_pfn, end_pfn, present, managed, free;
    uint32_t nr_free[11];
};
struct machine_v0 {
    uint64_t id;
    char *name, *tenant, *config;
    uint64_t seq;
    int64_t created_ms;
    unsigned nzones;
    struct zone_v0 zones[ARMMAP_MAX_ZONES];
    uint32_t pkmap_in_use, pkmap_flushes, tlb_flushes;
    uint32_t vmalloc_areas, vmalloc_pages, pte_pages;
    uint64_t host_bytes;
    char *broken;
    uint64_t events;
    uint32_t parked_kmaps;
    struct armmap_parked_kmap *parked;
};
struct machine_list_v0 {
    size_t n;
    struct machine_v0 *items;
};
enum armmap_status v0_describe(struct armmap_conn *conn, uint64_t machine,
                               struct machine_v0 **out);
enum armmap_status v0_list(struct armmap_conn *conn,
                           struct machine_list_v0 **out);
void v0_machine_free(struct machine_v0 *m);
void v0_machine_list_free(struct machine_list_v0 *l);

/* Debian's 6.1 armmp reference has 12 buddy orders, aries's 3.4 kernel 11;
 * the old layout gets the first 11 and every other field unchanged. */
START_TEST(test_buddy_orders_new_and_old_layout)
{
    struct armmap_conn *c = tc_connect();
    struct armmap_setting k61 = { "kernel", "6.1" };
    struct armmap_machine *virt, *aries;
    struct machine_v0 *old;
    struct machine_list_v0 *l;
    unsigned z;

    ck_assert_int_eq(armmap_create(c, "qemu-virt", &k61, 1, "v", &virt),
                     ARMMAP_OK);
    ck_assert_int_eq(armmap_create(c, "aries", NULL, 0, "a", &aries),
                     ARMMAP_OK);
    ck_assert_uint_eq(virt->zones[0].nr_orders, 12);
    ck_assert_uint_eq(aries->zones[0].nr_orders, 11);
    ck_assert_uint_eq(aries->zones[0].nr_free[11], 0);
    ck_assert_int_eq(v0_describe(c, virt->id, &old), ARMMAP_OK);
    ck_assert_uint_eq(old->id, virt->id);
    ck_assert_str_eq(old->name, "v");
    ck_assert_str_eq(old->config, virt->config);
    ck_assert_uint_eq(old->nzones, virt->nzones);
    for (z = 0; z < old->nzones; z++) {
        ck_assert_str_eq(old->zones[z].name, virt->zones[z].name);
        ck_assert_uint_eq(old->zones[z].free, virt->zones[z].free);
        ck_assert_int_eq(memcmp(old->zones[z].nr_free, virt->zones[z].nr_free,
                                sizeof(old->zones[z].nr_free)),
                         0);
    }
    ck_assert_uint_eq(old->pte_pages, virt->pte_pages);
    ck_assert_uint_eq(old->host_bytes, virt->host_bytes);
    ck_assert_str_eq(old->broken, "");
    v0_machine_free(old);
    ck_assert_int_eq(v0_list(c, &l), ARMMAP_OK);
    ck_assert_uint_eq(l->n, 2);
    ck_assert_uint_eq(l->items[1].id, aries->id);
    ck_assert_str_eq(l->items[1].name, "a");
    ck_assert_str_eq(l->items[1].tenant, "default");
    ck_assert_uint_eq(l->items[1].events, 0);
    v0_machine_list_free(l);
    armmap_machine_free(virt);
    armmap_machine_free(aries);
    armmap_close(c);
}
END_TEST

START_TEST(test_create_errors)
{
    struct armmap_conn *c = tc_connect();
    struct armmap_setting s[] = { { "ram", "0x80000000+1G,0x80000000+1G" } };
    struct armmap_machine *m = NULL;

    ck_assert_int_eq(armmap_create(c, "nope", NULL, 0, NULL, &m),
                     ARMMAP_NOT_FOUND);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(armmap_errmsg(c), "preset: unknown preset 'nope' (aries, "
                                       "qemu-virt, beaglebone-black, rpi2)");
    ck_assert_int_eq(armmap_create(c, NULL, s, 1, NULL, &m),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(armmap_errmsg(c),
                     "ram: bank 2 overlaps bank 1 (0x80000000-0xbfffffff)");
    /* The connection stays usable after answered errors. */
    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    armmap_close(c);
}
END_TEST

START_TEST(test_kmap_cycle_exact)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries");
    struct armmap_op_result r;

    /* KERNEL: buddy allocator: the highest free highmem block on aries. */
    ck_assert_int_eq(armmap_alloc(c, m, ARMMAP_ZONE_HIGHMEM, 0, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, 0xff2fe);
    ck_assert_uint_eq(r.seq, 1);
    ck_assert_int_eq(armmap_kmap(c, m, 0xff2fe, 0, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000u);
    ck_assert_int_eq(armmap_kmap(c, m, 0xff2fe, 0, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, 0xbfe01000u);
    ck_assert_int_eq(armmap_kunmap(c, m, 0xff2fe, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.aux, 1);
    ck_assert_int_eq(armmap_kunmap(c, m, 0xff2fe, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.aux, 0);
    ck_assert_uint_eq(r.flags, ARMMAP_RES_WAKE);
    ck_assert_int_eq(armmap_kunmap(c, m, 0xff2fe, &r), ARMMAP_NOT_FOUND);
    ck_assert_int_eq(r.status, ARMMAP_NOT_FOUND);
    ck_assert_uint_eq(r.seq, 0);
    ck_assert_str_eq(r.msg,
                     "kunmap: pfn 0xff2fe has no kmap users (pkmap slot 1 at "
                     "0xbfe01000 awaits a flush)");
    ck_assert_str_eq(armmap_errmsg(c), r.msg);
    ck_assert_int_eq(armmap_kmap_flush(c, m, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, 1);
    ck_assert_int_eq(armmap_kunmap(c, m, 0xff2fe, &r), ARMMAP_NOT_FOUND);
    ck_assert_str_eq(r.msg, "kunmap: pfn 0xff2fe is not mapped by kmap");
    ck_assert_int_eq(armmap_kmap(c, m, 0x1, 0, &r), ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "kmap: pfn 0x1 is not RAM");
    armmap_close(c);
}
END_TEST

START_TEST(test_atomic_vmalloc_ioremap_module)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries");
    struct armmap_op_result r, a1, a2;
    uint32_t pfns[2];

    ck_assert_int_eq(armmap_alloc(c, m, ARMMAP_ZONE_HIGHMEM, 1, &r), ARMMAP_OK);
    pfns[0] = r.value;
    pfns[1] = r.value + 1;
    ck_assert_int_eq(armmap_kmap_atomic(c, m, 1, pfns[0], -1, &a1), ARMMAP_OK);
    ck_assert_int_eq(armmap_kmap_atomic(c, m, 1, pfns[1], -1, &a2), ARMMAP_OK);
    ck_assert_uint_ne(a1.value, a2.value);
    ck_assert_int_eq(armmap_kunmap_atomic(c, m, 1, a1.value, &r), ARMMAP_ORDER);
    ck_assert_int_eq(armmap_kunmap_atomic(c, m, 1, a2.value, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, pfns[1]);
    ck_assert_int_eq(armmap_kunmap_atomic(c, m, 1, a1.value, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, pfns[0]);
    ck_assert_int_eq(armmap_kmap_atomic(c, m, 9, pfns[0], -1, &r),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(
        r.msg, "kmap_atomic: cpu 9 does not exist (the machine has 4 CPUs)");
    ck_assert_int_eq(armmap_vmalloc(c, m, 16384, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, 0xf0000000u);
    ck_assert_uint_eq(r.aux, 4);
    ck_assert_int_eq(armmap_vfree(c, m, 0xf0000000u, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, 4);
    ck_assert_int_eq(armmap_vmap(c, m, pfns, 2, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_vunmap(c, m, r.value, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_ioremap(c, m, 0x10000000u, 4096, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_iounmap(c, m, r.value, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_ioremap(c, m, 0x80200000u, 4096, &r),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg,
                     "ioremap: 0x80200000-0x80200fff is RAM; ARM refuses to "
                     "ioremap RAM");
    ck_assert_int_eq(armmap_module_alloc(c, m, 8192, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_module_free(c, m, r.value, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_free_pages(c, m, pfns[0], 1, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_vmalloc(c, m, 0, &r), ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "vmalloc: size 0");
    armmap_close(c);
}
END_TEST

/* armmap_module_enable_ro() on Debian's 6.1 armmp build (qemu-virt, 1
 * GiB; STRICT_MODULE_RWX): three read-only pages of a four-page module,
 * the engine's refusals with their messages; on aries (3.4) the same call
 * changes nothing and answers 0. */
START_TEST(test_module_enable_ro_call)
{
    struct armmap_conn *c = tc_connect();
    struct armmap_setting kv[2] = { { "kernel", "6.1" }, { "ram", "0x40000000+1G" } };
    struct armmap_machine *mach = NULL;
    struct armmap_op_result r;
    uint64_t m, old;

    ck_assert_int_eq(armmap_create(c, "qemu-virt", kv, 2, NULL, &mach), ARMMAP_OK);
    m = mach->id;
    armmap_machine_free(mach);
    ck_assert_int_eq(armmap_module_alloc(c, m, 0x4000, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, 0xbf000000u);
    ck_assert_int_eq(armmap_module_enable_ro(c, m, 0xbf000000u, 0x1000, 0x5000, &r),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: text 0x1000 and rodata end 0x5000 must "
                            "be page aligned, in order, within the module's 0x4000 "
                            "bytes");
    ck_assert_int_eq(armmap_module_enable_ro(c, m, 0xbf000000u, 0x1000, 0x3000, &r),
                     ARMMAP_OK);
    ck_assert_uint_eq(r.value, 3);
    ck_assert_uint_eq(r.seq, 2);
    ck_assert_int_eq(armmap_module_enable_ro(c, m, 0xbf000000u, 0x1000, 0x3000, &r),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: the module at 0xbf000000 is protected "
                            "already");
    ck_assert_int_eq(armmap_module_enable_ro(c, m, 0xf0000000u, 0, 0, &r),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(r.msg, "module_enable_ro: 0xf0000000 is not the start of a "
                            "module_alloc area");
    old = tc_create(c, "aries");
    ck_assert_int_eq(armmap_module_alloc(c, old, 0x2000, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_module_enable_ro(c, old, r.value, 0x1000, 0x2000, &r),
                     ARMMAP_OK);
    ck_assert_uint_eq(r.value, 0);
    armmap_close(c);
}
END_TEST

START_TEST(test_batch_call)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries");
    uint32_t a0[2] = { 2, 0 }, a1[1] = { 0xff2fe }, a2[1] = { 0x1 },
             a3[1] = { 4096 };
    struct armmap_op ops[4] = {
        { ARMMAP_OP_ALLOC, 0, 2, a0, 0 },
        { ARMMAP_OP_KMAP, 0, 1, a1, 0 },
        { ARMMAP_OP_KMAP, 0, 1, a2, 0 },
        { ARMMAP_OP_VMALLOC, 0, 1, a3, 0 },
    };
    struct armmap_op_result res[4];
    size_t n;

    ck_assert_int_eq(armmap_batch(c, m, ops, 4, false, res, &n), ARMMAP_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(res[0].value, 0xff2fe);
    ck_assert_uint_eq(res[1].value, 0xbfe01000u);
    ck_assert_int_eq(res[2].status, ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(res[2].msg, "kmap: pfn 0x1 is not RAM");
    ck_assert_int_eq(res[3].status, ARMMAP_OK);
    ck_assert_int_eq(armmap_batch(c, m, ops + 2, 2, true, res, &n), ARMMAP_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(armmap_batch(c, 12345, ops, 1, false, res, &n),
                     ARMMAP_NOT_FOUND);
    armmap_close(c);
}
END_TEST

START_TEST(test_translate_and_walk)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries");
    uint32_t va[3] = { 0xc0000000u, 0x0, 0xc0008000u };
    struct armmap_translate_result *t;

    ck_assert_int_eq(armmap_translate(c, m, va, 3, 0, false, &t), ARMMAP_OK);
    ck_assert_uint_eq(t->n, 3);
    ck_assert_uint_eq(t->pa[0], 0x80200000u);
    ck_assert_uint_eq(t->fault[0], 0);
    ck_assert_str_eq(armmap_region_name(t->region[0]), "lowmem");
    ck_assert_uint_eq(t->fault[1], 1);
    ck_assert_ptr_null(t->walks);
    armmap_translate_result_free(t);
    ck_assert_int_eq(
        armmap_translate(c, m, va + 2, 1, ARMMAP_ACC_READ, true, &t),
        ARMMAP_OK);
    ck_assert_uint_eq(t->pa[0], 0x80208000u);
    ck_assert_ptr_nonnull(t->walks);
    ck_assert_uint_eq(t->walks[0].nsteps, 1);
    ck_assert_str_eq(t->walks[0].steps[0].kind, "section");
    ck_assert_uint_eq(t->walks[0].steps[0].level, 1);
    ck_assert(strstr(t->walks[0].text, "VA 0xc0008000 -> PA 0x80208000") !=
              NULL);
    armmap_translate_result_free(t);
    armmap_close(c);
}
END_TEST

/* A phys reply of many addresses, with none, one and two aliases each,
 * decodes into one block whose every item is exact (the daemon codes it
 * by hand, the library decodes it by hand: they must agree with the
 * proto).  A bad machine still gives the daemon's error. */
START_TEST(test_phys_many)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "beaglebone-black");
    struct armmap_translate_result *t;
    struct armmap_phys_result *p;
    struct armmap_op_result r;
    uint32_t pa[3000], vm, vpa;
    size_t i;

    /* Without highmem, a vmalloc page is also in lowmem. */
    ck_assert_int_eq(armmap_vmalloc(c, m, 4096, &r), ARMMAP_OK);
    vm = r.value;
    ck_assert_uint_eq(vm, 0xe0000000u);
    ck_assert_int_eq(armmap_translate(c, m, &vm, 1, 0, false, &t), ARMMAP_OK);
    vpa = t->pa[0];
    armmap_translate_result_free(t);
    ck_assert_uint_eq(vpa, 0x9f9f8000u);
    for (i = 0; i < 3000; i++)
        pa[i] = i % 3 == 0   ? 0x1000u
                : i % 3 == 1 ? 0x80000000u + 4 * (uint32_t)i
                             : vpa + 0x123u;
    ck_assert_int_eq(armmap_phys(c, m, pa, 3000, &p), ARMMAP_OK);
    ck_assert_uint_eq(p->n, 3000);
    for (i = 0; i < 3000; i++) {
        const struct armmap_aliases *a = &p->items[i];

        if (i % 3 == 0) {
            ck_loop_assert_uint_eq(a->n, 0);
        } else if (i % 3 == 1) {
            ck_loop_assert_uint_eq(a->n, 1);
            ck_loop_assert_uint_eq(a->va[0], 0xc0000000u + 4 * (uint32_t)i);
            ck_loop_assert_str_eq(armmap_region_name(a->region[0]), "lowmem");
        } else {
            ck_loop_assert_uint_eq(a->n, 2);
            ck_loop_assert_uint_eq(a->va[0], 0xdf9f8123u);
            ck_loop_assert_str_eq(armmap_region_name(a->region[0]), "lowmem");
            ck_loop_assert_uint_eq(a->va[1], 0xe0000123u);
            ck_loop_assert_str_eq(armmap_region_name(a->region[1]), "vmalloc");
        }
    }
    armmap_phys_result_free(p);
    ck_assert_int_eq(armmap_phys(c, m + 100, pa, 3, &p), ARMMAP_NOT_FOUND);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(armmap_errmsg(c), "phys: machine 101 does not exist");
    armmap_close(c);
}
END_TEST

/* armmap_phys_stream(): pas 0x80000000 + 0x1000 * i + 4, i < 20,000
 * (beaglebone-black's 510 MiB of lowmem from 0x80000000, then nothing). */
struct phys_ctx {
    uint32_t next, end;
    size_t got, calls, stop_after;
};

static long phys_src(void *arg, uint32_t *pa, size_t max)
{
    struct phys_ctx *s = arg;
    size_t n = 0;

    while (n < max && s->next < s->end)
        pa[n++] = 0x80000000u + s->next++ * 0x1000u + 4;
    return (long)n;
}

static bool phys_check(void *arg, const uint32_t *pa,
                       const struct armmap_phys_result *r)
{
    struct phys_ctx *s = arg;
    size_t i;

    for (i = 0; i < r->n; i++, s->got++) {
        ck_loop_assert_uint_eq(pa[i],
                               0x80000000u + (uint32_t)s->got * 0x1000u + 4);
        if (pa[i] < 0x80000000u + 510u * 1024 * 1024) {
            /* (the vectors page has a second alias, above lowmem) */
            ck_loop_assert_uint_ge(r->items[i].n, 1);
            ck_loop_assert_uint_eq(r->items[i].va[0], pa[i] + 0x40000000u);
            ck_loop_assert_str_eq(armmap_region_name(r->items[i].region[0]),
                                  "lowmem");
        } else {
            ck_loop_assert_uint_eq(r->items[i].n, 0);
        }
    }
    return ++s->calls != s->stop_after;
}

START_TEST(test_phys_stream)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "beaglebone-black"), id;
    struct phys_ctx s = { 0, 200000, 0, 0, 0 };
    struct armmap_reply *rep;

    ck_assert_int_eq(armmap_phys_stream(c, m, 1000, phys_src, phys_check, &s),
                     ARMMAP_OK);
    ck_assert_uint_eq(s.got, 200000);
    ck_assert_uint_eq(s.calls, 200);
    /* Stopped by the sink with chunks in flight: the connection still
     * works. */
    memset(&s, 0, sizeof(s));
    s.end = 10000;
    s.stop_after = 2;
    ck_assert_int_eq(armmap_phys_stream(c, m, 1000, phys_src, phys_check, &s),
                     ARMMAP_CANCELLED);
    ck_assert_str_eq(armmap_errmsg(c), "stopped by the result callback");
    ck_assert_uint_eq(s.got, 2000);
    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    /* The daemon's error, and the connection still works. */
    memset(&s, 0, sizeof(s));
    s.end = 10000;
    ck_assert_int_eq(
        armmap_phys_stream(c, m + 100, 1000, phys_src, phys_check, &s),
        ARMMAP_NOT_FOUND);
    ck_assert_str_eq(armmap_errmsg(c), "phys: machine 101 does not exist");
    ck_assert_uint_eq(s.got, 0);
    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    /* A reply pending: refused before anything is sent. */
    ck_assert_int_eq(armmap_send_ping(c, &id), ARMMAP_OK);
    ck_assert_int_eq(armmap_phys_stream(c, m, 0, phys_src, phys_check, &s),
                     ARMMAP_INVALID_ARGUMENT);
    ck_assert_str_eq(armmap_errmsg(c), "1 replies pending: receive them "
                                       "before a phys stream");
    ck_assert_int_eq(armmap_recv(c, &rep), ARMMAP_OK);
    ck_assert_uint_eq(rep->id, id);
    armmap_reply_free(rep);
    armmap_close(c);
}
END_TEST

START_TEST(test_phys_report_history)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries");
    struct armmap_history_query q;
    struct armmap_phys_result *p;
    struct armmap_history *h;
    struct armmap_op_result r;
    uint32_t pa = 0xff2fe000u;
    char *text;

    ck_assert_int_eq(armmap_alloc(c, m, ARMMAP_ZONE_HIGHMEM, 0, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_kmap(c, m, 0xff2fe, 0, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_phys(c, m, &pa, 1, &p), ARMMAP_OK);
    ck_assert_uint_eq(p->n, 1);
    ck_assert_uint_eq(p->items[0].n, 1);
    ck_assert_uint_eq(p->items[0].va[0], 0xbfe01000u);
    ck_assert_str_eq(armmap_region_name(p->items[0].region[0]), "pkmap");
    armmap_phys_result_free(p);
    ck_assert_int_eq(armmap_report(c, m, ARMMAP_REPORT_LAYOUT, &text),
                     ARMMAP_OK);
    ck_assert(strncmp(text, "Virtual kernel memory layout:\n", 30) == 0);
    ck_assert(
        strstr(text, "    pkmap   : 0xbfe00000 - 0xc0000000   (   2 MB)\n") !=
        NULL);
    armmap_free(text);
    ck_assert_int_eq(armmap_report_json(c, m, ARMMAP_REPORT_PKMAP, &text), ARMMAP_OK);
    ck_assert_str_eq(text, "{\"report\":\"pkmap\",\"kernel\":\"3.4.0\","
                           "\"seq\":\"2\",\"highmem\":true,"
                           "\"start\":\"0xbfe00000\",\"end\":\"0xc0000000\","
                           "\"nr_slots\":512,\"last_pkmap_nr\":1,\"in_use\":1,"
                           "\"unused\":0,\"free\":511,\"flushes\":0,\"slots\":["
                           "{\"slot\":1,\"address\":\"0xbfe01000\",\"count\":2,"
                           "\"users\":1,\"pfn\":\"0xff2fe\",\"state\":\"in-use\"}]}");
    armmap_free(text);
    memset(&q, 0, sizeof(q));
    ck_assert_int_eq(armmap_history(c, m, &q, &h), ARMMAP_OK);
    ck_assert_uint_eq(h->n, 2);
    ck_assert_int_eq(h->events[0].op, ARMMAP_OP_ALLOC);
    ck_assert_uint_eq(h->events[1].result.value, 0xbfe01000u);
    ck_assert_uint_eq(h->next_after_seq, 0);
    armmap_history_free(h);
    q.limit = 1;
    ck_assert_int_eq(armmap_history(c, m, &q, &h), ARMMAP_OK);
    ck_assert_uint_eq(h->n, 1);
    ck_assert_uint_eq(h->next_after_seq, 1);
    q.after_seq = h->next_after_seq;
    armmap_history_free(h);
    ck_assert_int_eq(armmap_history(c, m, &q, &h), ARMMAP_OK);
    ck_assert_uint_eq(h->n, 1);
    ck_assert_uint_eq(h->events[0].seq, 2);
    armmap_history_free(h);
    armmap_close(c);
}
END_TEST

START_TEST(test_fork_clone_dump_stats_purge)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries"), nm, ne;
    struct armmap_machine *f, *cl;
    struct armmap_op_result r;
    struct armmap_stats s;
    uint8_t *elf;
    size_t len;

    ck_assert_int_eq(armmap_alloc(c, m, ARMMAP_ZONE_HIGHMEM, 0, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_kmap(c, m, 0xff2fe, 0, &r), ARMMAP_OK);
    ck_assert_int_eq(armmap_fork(c, m, 1, "f", &f), ARMMAP_OK);
    ck_assert_uint_eq(f->seq, 1);
    ck_assert_str_eq(f->name, "f");
    ck_assert_int_eq(armmap_clone(c, m, NULL, &cl), ARMMAP_OK);
    ck_assert_uint_eq(cl->seq, 2);
    ck_assert_int_eq(armmap_dump(c, m, &elf, &len), ARMMAP_OK);
    ck_assert_uint_gt(len, 52);
    ck_assert(memcmp(elf, "\177ELF", 4) == 0);
    ck_assert_uint_eq(elf[4], 1); /* ELFCLASS32 */
    armmap_free(elf);
    ck_assert_int_eq(armmap_stats(c, &s), ARMMAP_OK);
    ck_assert_uint_eq(s.machines, 3);
    ck_assert_uint_ge(s.changes, 2);
    ck_assert_int_eq(armmap_destroy(c, f->id), ARMMAP_OK);
    ck_assert_int_eq(armmap_purge(c, 60000, &nm, &ne), ARMMAP_OK);
    ck_assert_uint_eq(nm, 0);
    /* Purge older_than 1 takes what was destroyed 2 ms or more ago. */
    ck_assert(spawn_wait_clock_past(spawn_wall_ms() + 1));
    ck_assert_int_eq(armmap_purge(c, 1, &nm, &ne), ARMMAP_OK);
    ck_assert_uint_eq(nm, 1);
    armmap_machine_free(f);
    armmap_machine_free(cl);
    armmap_close(c);
}
END_TEST

/* ---- pipelining -----------------------------------------------------------
 */

/*
 * armmap_recv() decodes common replies straight from the frame (pong, an
 * OK op, a translation without walks) and the rest through the general
 * codec: both must give every field the blocking calls give.
 */
START_TEST(test_recv_fast_and_general_paths_agree)
{
    static const uint32_t va[] = { 0xc0000000u, 0, 0xffff0000u, 0xbfe01000u,
                                   0xf0000000u, 0xef800000u };
    struct armmap_conn *c = tc_connect();
    struct armmap_translate_result *want;
    struct armmap_reply *rep;
    struct armmap_op op;
    uint32_t size = 16384, pfn = 0xafa00;
    uint64_t id, m;
    size_t i, n = sizeof(va) / sizeof(va[0]);

    m = tc_create(c, "aries");
    memset(&op, 0, sizeof(op));
    op.code = ARMMAP_OP_VMALLOC;
    op.nargs = 1;
    op.args = &size;
    ck_assert_int_eq(armmap_send_op(c, m, &op, &id), ARMMAP_OK);
    ck_assert_int_eq(armmap_recv(c, &rep), ARMMAP_OK);
    ck_assert_uint_eq(rep->id, id);
    ck_assert_int_eq(rep->kind, ARMMAP_REPLY_OP);
    ck_assert_int_eq(rep->status, ARMMAP_OK);
    ck_assert_int_eq(rep->op.status, ARMMAP_OK);
    ck_assert_uint_eq(rep->op.value, 0xf0000000u);
    ck_assert_uint_eq(rep->op.aux, 4);
    ck_assert_uint_eq(rep->op.flags, 0);
    ck_assert_uint_eq(rep->op.seq, 1);
    ck_assert_str_eq(rep->op.msg, "");
    ck_assert_str_eq(rep->msg, "");
    ck_assert_ptr_null(rep->translate);
    ck_assert_ptr_null(rep->batch);
    armmap_reply_free(rep);
    /* An op the daemon refuses: the general path, with its message. */
    op.code = ARMMAP_OP_KUNMAP;
    op.args = &pfn;
    ck_assert_int_eq(armmap_send_op(c, m, &op, &id), ARMMAP_OK);
    ck_assert_int_eq(armmap_recv(c, &rep), ARMMAP_OK);
    ck_assert_int_eq(rep->status, ARMMAP_NOT_FOUND);
    ck_assert_str_eq(rep->msg, "kunmap: pfn 0xafa00 is not mapped by kmap");
    armmap_reply_free(rep);
    ck_assert_str_eq(armmap_errmsg(c),
                     "kunmap: pfn 0xafa00 is not mapped by kmap");
    /* Translations with faults: pa, fault and region as the blocking call. */
    ck_assert_int_eq(armmap_translate(c, m, va, n, 0, false, &want),
                     ARMMAP_OK);
    ck_assert_int_eq(armmap_send_translate(c, m, va, n, 0, &id), ARMMAP_OK);
    ck_assert_int_eq(armmap_recv(c, &rep), ARMMAP_OK);
    ck_assert_int_eq(rep->kind, ARMMAP_REPLY_TRANSLATE);
    ck_assert_str_eq(armmap_errmsg(c), "");
    ck_assert_uint_eq(rep->translate->n, n);
    ck_assert_ptr_null(rep->translate->walks);
    for (i = 0; i < n; i++) {
        ck_loop_assert_uint_eq(rep->translate->pa[i], want->pa[i]);
        ck_loop_assert_uint_eq(rep->translate->fault[i], want->fault[i]);
        ck_loop_assert_uint_eq(rep->translate->region[i], want->region[i]);
    }
    ck_assert_uint_eq(rep->translate->fault[1], 1);
    ck_assert_str_eq(armmap_region_name(rep->translate->region[1]), "user");
    ck_assert_uint_eq(rep->translate->pa[2], 0xaf9ff000u);
    armmap_reply_free(rep);
    armmap_translate_result_free(want);
    /* A translate of a missing machine: the general path's error. */
    ck_assert_int_eq(armmap_send_translate(c, 99, va, 1, 0, &id), ARMMAP_OK);
    ck_assert_int_eq(armmap_recv(c, &rep), ARMMAP_OK);
    ck_assert_int_eq(rep->status, ARMMAP_NOT_FOUND);
    ck_assert_str_eq(rep->msg, "translate: machine 99 does not exist");
    armmap_reply_free(rep);
    ck_assert_int_eq(armmap_send_ping(c, &id), ARMMAP_OK);
    ck_assert_int_eq(armmap_recv(c, &rep), ARMMAP_OK);
    ck_assert_int_eq(rep->kind, ARMMAP_REPLY_PONG);
    ck_assert_uint_eq(rep->id, id);
    armmap_reply_free(rep);
    armmap_close(c);
}
END_TEST

START_TEST(test_pipelining_window_and_order)
{
    struct armmap_options o = no_options();
    struct armmap_conn *c;
    struct armmap_reply *rep;
    char err[ARMMAP_ERR_MAX];
    uint64_t ids[8], id, m;
    struct armmap_op op;
    uint32_t pfn = 0xff2fe, va = 0xc0000000u;
    unsigned i;

    o.max_inflight = 8;
    ck_assert_int_eq(armmap_connect_unix(tc_d.sock, o, &c, err), ARMMAP_OK);
    m = tc_create(c, "aries");
    memset(&op, 0, sizeof(op));
    op.code = ARMMAP_OP_KMAP;
    op.nargs = 1;
    op.args = &pfn;
    ck_assert_int_eq(armmap_send_ping(c, &ids[0]), ARMMAP_OK);
    ck_assert_int_eq(armmap_send_op(c, m, &op, &ids[1]), ARMMAP_OK);
    ck_assert_int_eq(armmap_send_translate(c, m, &va, 1, 0, &ids[2]),
                     ARMMAP_OK);
    for (i = 3; i < 8; i++)
        ck_assert_int_eq(armmap_send_ping(c, &ids[i]), ARMMAP_OK);
    ck_assert_uint_eq(armmap_inflight(c), 8);
    ck_assert_int_eq(armmap_send_ping(c, &id), ARMMAP_RESOURCE_EXHAUSTED);
    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(armmap_recv(c, &rep), ARMMAP_OK);
        ck_assert_uint_eq(rep->id, ids[i]);
        ck_assert_int_eq(rep->status, ARMMAP_OK);
        if (i == 1) {
            ck_assert_int_eq(rep->kind, ARMMAP_REPLY_OP);
            ck_assert_uint_eq(rep->op.value, 0xbfe01000u);
        } else if (i == 2) {
            ck_assert_int_eq(rep->kind, ARMMAP_REPLY_TRANSLATE);
            ck_assert_uint_eq(rep->translate->pa[0], 0x80200000u);
        } else {
            ck_assert_int_eq(rep->kind, ARMMAP_REPLY_PONG);
        }
        armmap_reply_free(rep);
    }
    ck_assert_int_eq(armmap_recv(c, &rep), ARMMAP_NOT_FOUND);
    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    armmap_close(c);
}
END_TEST

struct stream_ctx {
    uint32_t next, end;
    uint32_t *pa;
    uint8_t *fault;
    size_t got;
};

static long gen_src(void *arg, uint32_t *va, size_t max)
{
    struct stream_ctx *s = arg;
    size_t n = 0;

    while (n < max && s->next < s->end)
        va[n++] = 0xbf000000u + s->next++ * 0x1000u + 0x123;
    return (long)n;
}

static bool collect(void *arg, const uint32_t *va, const uint32_t *pa,
                    const uint8_t *fault, const uint8_t *region, size_t n)
{
    struct stream_ctx *s = arg;
    size_t i;

    (void)region;
    for (i = 0; i < n; i++) {
        ck_loop_assert_uint_eq(va[i], 0xbf000000u +
                                          (uint32_t)(s->got + i) * 0x1000u +
                                          0x123);
        s->pa[s->got + i] = pa[i];
        s->fault[s->got + i] = fault[i];
    }
    s->got += n;
    return true;
}

START_TEST(test_translate_stream_in_order)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries");
    struct armmap_translate_result *t;
    struct stream_ctx s;
    uint32_t *va;
    size_t i, n = 0x40000; /* 1 GiB of pages above 0xbf000000 */

    memset(&s, 0, sizeof(s));
    s.end = (uint32_t)n;
    s.pa = calloc(n, sizeof(*s.pa));
    s.fault = calloc(n, 1);
    va = calloc(n, sizeof(*va));
    ck_assert_int_eq(
        armmap_translate_stream(c, m, 0, 1000, gen_src, collect, &s),
        ARMMAP_OK);
    ck_assert_uint_eq(s.got, n);
    for (i = 0; i < n; i++)
        va[i] = 0xbf000000u + (uint32_t)i * 0x1000u + 0x123;
    ck_assert_int_eq(armmap_translate(c, m, va, n, 0, false, &t), ARMMAP_OK);
    for (i = 0; i < n; i++) {
        ck_loop_assert_uint_eq(t->fault[i], s.fault[i]);
        if (!t->fault[i])
            ck_loop_assert_uint_eq(t->pa[i], s.pa[i]);
    }
    /* 0xc0000123 is lowmem: the first page of the direct map. */
    ck_assert_uint_eq(s.pa[0x1000], 0x80200123u);
    armmap_translate_result_free(t);
    free(s.pa);
    free(s.fault);
    free(va);
    armmap_close(c);
}
END_TEST

static bool stop_at_once(void *arg, const uint32_t *va, const uint32_t *pa,
                         const uint8_t *fault, const uint8_t *region, size_t n)
{
    (void)arg;
    (void)va;
    (void)pa;
    (void)fault;
    (void)region;
    (void)n;
    return false;
}

START_TEST(test_translate_stream_cancel_and_bad_machine)
{
    struct armmap_conn *c = tc_connect();
    uint64_t m = tc_create(c, "aries");
    struct stream_ctx s;

    memset(&s, 0, sizeof(s));
    s.end = 100000;
    ck_assert_int_eq(
        armmap_translate_stream(c, m, 0, 1000, gen_src, stop_at_once, &s),
        ARMMAP_CANCELLED);
    ck_assert_str_eq(armmap_errmsg(c), "stopped by the result callback");
    /* Every chunk still in flight was drained: the connection works. */
    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    memset(&s, 0, sizeof(s));
    s.end = 100000;
    ck_assert_int_eq(
        armmap_translate_stream(c, 999, 0, 1000, gen_src, stop_at_once, &s),
        ARMMAP_NOT_FOUND);
    ck_assert_str_eq(armmap_errmsg(c), "translate: machine 999 does not exist");
    ck_assert_int_eq(armmap_ping(c), ARMMAP_OK);
    armmap_close(c);
}
END_TEST

START_TEST(test_frame_limit_is_an_error)
{
    struct armmap_options o = no_options();
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX];
    uint8_t *elf = NULL;
    size_t len;
    uint64_t m;

    o.max_frame = 2048;
    ck_assert_int_eq(armmap_connect_unix(tc_d.sock, o, &c, err), ARMMAP_OK);
    m = tc_create(c, "aries");
    ck_assert_int_eq(armmap_dump(c, m, &elf, &len), ARMMAP_PROTOCOL);
    ck_assert_ptr_null(elf);
    ck_assert(strncmp(armmap_errmsg(c), "reply frame of ", 15) == 0);
    ck_assert(strstr(armmap_errmsg(c),
                     " bytes exceeds the client limit of 2048") != NULL);
    ck_assert_int_eq(armmap_ping(c), ARMMAP_IO);
    ck_assert_str_eq(armmap_errmsg(c),
                     "connection unusable after an earlier error");
    armmap_close(c);
}
END_TEST

START_TEST(test_daemon_gone_is_io)
{
    struct armmap_options o = no_options();
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];

    o.retry_ms = ARMMAP_RETRY_OFF;
    ck_assert_int_eq(armmap_connect_unix(tc_d.sock, o, &c, err), ARMMAP_OK);
    td_stop(&tc_d);
    ck_assert_int_eq(armmap_ping(c), ARMMAP_IO);
    ck_assert_str_eq(armmap_errmsg(c), "armmapd closed the connection");
    armmap_close(c);
}
END_TEST

/* With retries on, a daemon that stays gone is given retry_ms to come
 * back; then the call fails saying why the reconnects did. */
START_TEST(test_daemon_gone_retries_then_io)
{
    struct armmap_options o = no_options();
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX], want[ARMMAP_ERR_MAX];

    o.retry_ms = 300;
    ck_assert_int_eq(armmap_connect_unix(tc_d.sock, o, &c, err), ARMMAP_OK);
    td_stop(&tc_d);
    ck_assert_int_eq(armmap_ping(c), ARMMAP_IO);
    snprintf(want, sizeof(want),
             "reconnecting: no such socket: %s (is armmapd running?)",
             tc_d.sock);
    ck_assert_str_eq(armmap_errmsg(c), want);
    armmap_close(c);
}
END_TEST

/* Fills the pkmap window: 512 highmem pages kmapped, slots 1..511 then 0. */
static uint32_t fill_pkmap(struct armmap_conn *c, uint64_t m)
{
    struct armmap_op ops[512];
    struct armmap_op_result *res = calloc(512, sizeof(*res)), r;
    uint32_t *pfn = calloc(512, sizeof(*pfn)), base;
    size_t i, n;

    ck_assert_int_eq(armmap_alloc(c, m, ARMMAP_ZONE_HIGHMEM, 9, &r), ARMMAP_OK);
    base = r.value;
    for (i = 0; i < 512; i++) {
        pfn[i] = base + (uint32_t)i;
        memset(&ops[i], 0, sizeof(ops[i]));
        ops[i].code = ARMMAP_OP_KMAP;
        ops[i].nargs = 1;
        ops[i].args = &pfn[i];
    }
    ck_assert_int_eq(armmap_batch(c, m, ops, 512, true, res, &n), ARMMAP_OK);
    ck_assert_uint_eq(n, 512);
    ck_assert_uint_eq(res[0].value, 0xbfe01000u);
    ck_assert_uint_eq(res[510].value, 0xbfffe000u + 0x1000u);
    ck_assert_uint_eq(res[511].value, 0xbfe00000u);
    free(res);
    free(pfn);
    return base;
}

START_TEST(test_kmap_waits_for_a_slot)
{
    struct armmap_conn *a = tc_connect(), *b = tc_connect();
    uint64_t m = tc_create(a, "aries"), id;
    struct armmap_op_result r;
    struct armmap_reply *rep;
    struct armmap_op op;
    uint32_t base, extra;

    base = fill_pkmap(a, m);
    ck_assert_int_eq(armmap_alloc(a, m, ARMMAP_ZONE_HIGHMEM, 0, &r), ARMMAP_OK);
    extra = r.value;
    /* KERNEL: mm/highmem.c map_new_virtual(): no free slot -> sleep. */
    ck_assert_int_eq(armmap_kmap(a, m, extra, 0, &r), ARMMAP_WOULD_BLOCK);
    ck_assert_str_eq(
        r.msg, "kmap: all 512 pkmap slots are in use (the kernel would sleep)");
    memset(&op, 0, sizeof(op));
    op.code = ARMMAP_OP_KMAP;
    op.nargs = 1;
    op.args = &extra;
    op.wait_ms = 5000;
    ck_assert_int_eq(armmap_send_op(a, m, &op, &id), ARMMAP_OK);
    /* The pfn in slot 5 loses its last user: the waiter gets slot 5 after
     * the wrap-time flush. */
    ck_assert_int_eq(armmap_kunmap(b, m, base + 4, &r), ARMMAP_OK);
    ck_assert_uint_eq(r.value, 0xbfe05000u);
    ck_assert_uint_eq(r.flags, ARMMAP_RES_WAKE);
    ck_assert_int_eq(armmap_recv(a, &rep), ARMMAP_OK);
    ck_assert_uint_eq(rep->id, id);
    ck_assert_int_eq(rep->status, ARMMAP_OK);
    ck_assert_uint_eq(rep->op.value, 0xbfe05000u);
    ck_assert_uint_eq(rep->op.flags, ARMMAP_RES_FLUSHED);
    armmap_reply_free(rep);
    armmap_close(a);
    armmap_close(b);
}
END_TEST

START_TEST(test_kmap_wait_expires)
{
    struct armmap_conn *a = tc_connect();
    uint64_t m = tc_create(a, "aries");
    struct armmap_op_result r;
    uint32_t extra;

    fill_pkmap(a, m);
    ck_assert_int_eq(armmap_alloc(a, m, ARMMAP_ZONE_HIGHMEM, 0, &r), ARMMAP_OK);
    extra = r.value;
    ck_assert_int_eq(armmap_kmap(a, m, extra, 100, &r), ARMMAP_WOULD_BLOCK);
    ck_assert_int_eq(armmap_ping(a), ARMMAP_OK);
    armmap_close(a);
}
END_TEST

Suite *lib_suite(void)
{
    Suite *s = suite_create("lib");
    TCase *conn = tcase_create("connect");
    TCase *calls = tcase_create("calls");
    TCase *pipe = tcase_create("pipeline");

    tcase_add_checked_fixture(conn, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(conn, 30);
    tcase_add_test(conn, test_connect_no_such_socket);
    tcase_add_test(conn, test_connect_refused);
    tcase_add_test(conn, test_connect_hello_timeout);
    tcase_add_test(conn, test_connect_bad_path_and_hostport);
    tcase_add_test(conn, test_connect_bad_tenant_rejected);
    tcase_add_test(conn, test_connect_token);
    tcase_add_test(conn, test_connect_tcp);
    tcase_add_test(conn, test_daemon_gone_is_io);
    tcase_add_test(conn, test_daemon_gone_retries_then_io);
    suite_add_tcase(s, conn);

    tcase_add_checked_fixture(calls, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(calls, 30);
    tcase_add_test(calls, test_ping_and_presets);
    tcase_add_test(calls, test_create_describe_list_destroy);
    tcase_add_test(calls, test_buddy_orders_new_and_old_layout);
    tcase_add_test(calls, test_create_errors);
    tcase_add_test(calls, test_kmap_cycle_exact);
    tcase_add_test(calls, test_atomic_vmalloc_ioremap_module);
    tcase_add_test(calls, test_module_enable_ro_call);
    tcase_add_test(calls, test_batch_call);
    tcase_add_test(calls, test_translate_and_walk);
    tcase_add_test(calls, test_phys_report_history);
    tcase_add_test(calls, test_phys_many);
    tcase_add_test(calls, test_phys_stream);
    tcase_add_test(calls, test_fork_clone_dump_stats_purge);
    suite_add_tcase(s, calls);

    tcase_add_checked_fixture(pipe, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(pipe, 60);
    tcase_add_test(pipe, test_pipelining_window_and_order);
    tcase_add_test(pipe, test_recv_fast_and_general_paths_agree);
    tcase_add_test(pipe, test_translate_stream_in_order);
    tcase_add_test(pipe, test_translate_stream_cancel_and_bad_machine);
    tcase_add_test(pipe, test_frame_limit_is_an_error);
    tcase_add_test(pipe, test_kmap_waits_for_a_slot);
    tcase_add_test(pipe, test_kmap_wait_expires);
    suite_add_tcase(s, pipe);
    return s;
}
