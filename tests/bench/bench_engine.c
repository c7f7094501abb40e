/* tests/bench/bench_engine.c - in-process speed and memory of the engine.
 *
 * Prints one line per figure: translations per second on a warm machine,
 * machines created per second, host bytes per idle 2 GiB machine (over 1,000
 * machines), the same through the boot template cache (mm_boots) and for
 * the 6.1 reference machine, and kmap+kunmap, kmap_atomic+kunmap_atomic and vmalloc+vfree
 * pairs per second, phys lookups per second (index, and the table walk
 * it replaced), and the snapshot of a 200,000-event machine: its size and
 * the time of mm_snapshot() and mm_restore().  Everything runs on one core; targets are printed
 * beside the figures, and the exit status is 0 either way (figures, not
 * tests: a busy machine must not fail a build).
 */
#include "mm_int.h"                    /* mm__phys_aliases_walk: the old phys path */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct mm_machine *make(const char *preset, const char *key, const char *val)
{
    struct mm_config cfg;
    struct mm_machine *m;
    char err[MM_MSG_MAX];

    mm_config_default(&cfg);
    if (mm_config_preset(&cfg, preset, err) != MM_OK ||
        (key && mm_config_set(&cfg, key, val, err) != MM_OK) ||
        mm_create(&cfg, &m, err) != MM_OK) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    return m;
}

static void die_unless(enum mm_status st, const struct mm_result *r)
{
    if (st != MM_OK) {
        fprintf(stderr, "bench: %s: %s\n", mm_status_name(st), r->msg);
        exit(1);
    }
}

static void print(const char *what, double value, const char *unit, const char *target)
{
    printf("%-44s %14.0f %-10s %s\n", what, value, unit, target);
}

/* A warm aries machine with vmalloc and kmap mappings; addresses spread over
 * lowmem sections, vmalloc pages and pkmap pages. */
static void bench_translate(void)
{
    struct mm_machine *m = make("aries", NULL, NULL);
    enum { N = 1 << 20, ROUNDS = 40 };
    mm_vaddr_t *va = malloc(N * sizeof(*va));
    mm_paddr_t *pa = malloc(N * sizeof(*pa));
    uint8_t *fault = malloc(N);
    struct mm_result r;
    mm_vaddr_t vm[64];
    uint64_t x = 88172645463325252ull;
    size_t ok = 0;
    double t;

    for (int i = 0; i < 64; i++) {
        die_unless(mm_vmalloc(m, 64 * 1024, &r), &r);
        vm[i] = r.value;
    }
    for (int i = 0; i < 256; i++) {
        die_unless(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), &r);
        die_unless(mm_kmap(m, r.value, &r), &r);
    }
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        switch (x % 4) {
        case 0: case 1:
            va[i] = 0xc0000000u + (uint32_t)(x >> 8) % (760u << 20);
            break;
        case 2:
            va[i] = vm[(x >> 8) % 64] + (uint32_t)(x >> 20) % (64 * 1024);
            break;
        default:
            va[i] = 0xbfe01000u + (uint32_t)(x >> 8) % (256 * 4096);
            break;
        }
    }
    t = now();
    for (int k = 0; k < ROUNDS; k++)
        ok += mm_translate_batch(m, va, N, 0, pa, fault);
    t = now() - t;
    if (ok != (size_t)N * ROUNDS)
        fprintf(stderr, "bench: %zu of %d addresses fell in bank holes (faults)\n",
                (size_t)N * ROUNDS - ok, N * ROUNDS);
    print("translate_batch (random lowmem/vmalloc/pkmap)", N * ROUNDS / t,
          "addr/s", "(target >= 20,000,000)");
    free(va);
    free(pa);
    free(fault);
    mm_destroy(m);
}

/* Phys on the warm machine bench_translate uses: physical addresses of
 * random lowmem, vmalloc and pkmap pages, answered from the reverse index
 * (mm_phys_aliases) and, for comparison, by the walk it replaced. */
static void bench_phys(void)
{
    struct mm_machine *m = make("aries", NULL, NULL);
    enum { N = 1 << 20, ROUNDS = 8, WALKED = 20000 };
    mm_paddr_t *pa = malloc(N * sizeof(*pa));
    struct mm_alias out[8];
    struct mm_result r;
    struct mm_walk w;
    mm_vaddr_t vm[64];
    uint64_t x = 88172645463325252ull;
    size_t hits = 0;
    double t;

    for (int i = 0; i < 64; i++) {
        die_unless(mm_vmalloc(m, 64 * 1024, &r), &r);
        vm[i] = r.value;
    }
    for (int i = 0; i < 256; i++) {
        die_unless(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), &r);
        die_unless(mm_kmap(m, r.value, &r), &r);
    }
    for (size_t i = 0; i < N; i++) {
        mm_vaddr_t va;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        switch (x % 4) {
        case 0: case 1: va = 0xc0000000u + (uint32_t)(x >> 8) % (760u << 20); break;
        case 2: va = vm[(x >> 8) % 64] + (uint32_t)(x >> 20) % (64 * 1024); break;
        default: va = 0xbfe01000u + (uint32_t)(x >> 8) % (256 * 4096); break;
        }
        pa[i] = mm_translate(m, va, 0, &w) == MM_OK ? w.pa : (uint32_t)(x >> 32);
    }
    t = now();
    for (int k = 0; k < ROUNDS; k++)
        for (size_t i = 0; i < N; i++)
            hits += mm_phys_aliases(m, pa[i], out, 8);
    t = now() - t;
    print("phys aliases, reverse index", (double)N * ROUNDS / t, "addr/s",
          "(target >= 5,000,000)");
    t = now();
    for (size_t i = 0; i < WALKED; i++)
        hits += mm__phys_aliases_walk(m, pa[i], out, 8);
    t = now() - t;
    print("phys aliases, table walk (before the index)", WALKED / t, "addr/s", "");
    if (hits == 0)
        fprintf(stderr, "bench: no aliases found\n");
    free(pa);
    mm_destroy(m);
}

/* A machine after 200,000 successful events of a steady mix (allocations,
 * kmaps, vmallocs, vmaps kept live in rings and released as the rings
 * turn over), then its snapshot size and the time of snapshot and restore.
 * The store's target is a fork at the last seq of a 2,000,000-event
 * machine in under 10 ms, so a restore must be far below that. */
static void bench_snapshot(void)
{
    struct mm_machine *m = make("aries", NULL, NULL), *r;
    enum { EVENTS = 200000, RING = 512, ROUNDS = 20 };
    static mm_pfn_t blocks[RING], kmapped[RING];
    static mm_vaddr_t areas[RING];
    struct mm_buf b = {0};
    struct mm_result res;
    char err[MM_MSG_MAX];
    double ts, tr;
    unsigned i = 0;

    while (mm_seq(m) < EVENTS) {
        unsigned k = i % RING, turn = i / RING;

        if (turn > 0) {                 /* release what this ring slot held */
            mm_kunmap(m, kmapped[k], &res);
            mm_free_pages(m, kmapped[k], 0, &res);
            mm_free_pages(m, blocks[k], k % 3, &res);
            mm_vfree(m, areas[k], &res);
        }
        if (mm_alloc_pages(m, MM_ZONE_NORMAL, k % 3, &res) == MM_OK)
            blocks[k] = res.value;
        if (mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &res) == MM_OK) {
            kmapped[k] = res.value;
            mm_kmap(m, res.value, &res);
        }
        if (mm_vmalloc(m, 4096u * (1 + k % 17), &res) == MM_OK)
            areas[k] = res.value;
        i++;
    }
    ts = now();
    for (int n = 0; n < ROUNDS; n++) {
        b.len = 0;
        die_unless(mm_snapshot(m, &b), &res);
    }
    ts = (now() - ts) / ROUNDS;
    tr = now();
    for (int n = 0; n < ROUNDS; n++) {
        if (mm_restore(mm_machine_config(m), b.data, b.len, &r, err) != MM_OK) {
            fprintf(stderr, "bench: %s\n", err);
            exit(1);
        }
        mm_destroy(r);
    }
    tr = (now() - tr) / ROUNDS;
    print("snapshot bytes, aries after 200,000 events", (double)b.len, "bytes", "");
    print("snapshot time", ts * 1e6, "us", "");
    print("restore time (boot + load + mm_check)", tr * 1e6, "us",
          "(fork target < 10,000 us)");
    mm_buf_free(&b);
    mm_destroy(m);
}

/* Issue 13's figure: one create and one large vmalloc on rpi2 (about 7 MB
 * of host memory per machine before the dense maps). */
static void bench_hostmem(void)
{
    struct mm_machine *m = make("rpi2", NULL, NULL);
    struct mm_result r;

    die_unless(mm_vmalloc(m, 600u << 20, &r), &r);
    print("host bytes, rpi2 + vmalloc(600 MiB)", (double)mm_host_bytes(m), "bytes",
          "(was about 7,000,000)");
    mm_destroy(m);
}

static void bench_create(void)
{
    enum { N = 1000 };
    struct mm_machine **ms = malloc(N * sizeof(*ms));
    size_t bytes = 0;
    double t = now();

    for (int i = 0; i < N; i++)
        ms[i] = make("qemu-virt", "ram", "0x40000000+2G");
    t = now() - t;
    for (int i = 0; i < N; i++)
        bytes += mm_host_bytes(ms[i]);
    print("machines created (qemu-virt, 2 GiB)", N / t, "/s", "");
    print("host bytes per idle 2 GiB machine (1,000)", (double)bytes / N, "bytes",
          "(target < 262,144)");
    for (int i = 0; i < N; i++)
        mm_destroy(ms[i]);
    free(ms);
}

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* N machines of @kernel created by mm_create() or, with @b, through the
 * boot template cache, all kept (where the heap grows, first-touch page
 * faults are most of it, so this depends on what ran before); prints the
 * rate, with @bytes_what the host bytes per idle machine, the CPU time per
 * machine, and the CPU time of a machine created and destroyed again on
 * the grown heap (no faults: the creation's own cost). */
static void create_n(const char *what, const char *bytes_what, const char *kernel,
                     struct mm_boots *b)
{
    enum { N = 1000 };
    struct mm_machine **ms = malloc(N * sizeof(*ms));
    struct mm_config cfg;
    char err[MM_MSG_MAX];
    size_t bytes = 0;
    double t, c;

    mm_config_default(&cfg);
    if (ms == NULL || mm_config_preset(&cfg, "qemu-virt", err) != MM_OK ||
        mm_config_set(&cfg, "ram", "0x40000000+2G", err) != MM_OK ||
        mm_config_set(&cfg, "kernel", kernel, err) != MM_OK) {
        fprintf(stderr, "bench: %s\n", ms == NULL ? "out of memory" : err);
        exit(1);
    }
    t = now();
    c = cpu_now();
    for (int i = 0; i < N; i++) {
        enum mm_status st = b != NULL ? mm_boots_create(b, &cfg, &ms[i], err)
                                      : mm_create(&cfg, &ms[i], err);

        if (st != MM_OK) {
            fprintf(stderr, "bench: %s\n", err);
            exit(1);
        }
    }
    c = cpu_now() - c;
    t = now() - t;
    for (int i = 0; i < N; i++)
        bytes += mm_host_bytes(ms[i]);
    print(what, N / t, "/s", "");
    if (bytes_what != NULL)
        print(bytes_what, (double)bytes / N, "bytes", "");
    print("  CPU per machine, 1,000 kept", c / N * 1e6, "us", "");
    for (int i = 0; i < N; i++)
        mm_destroy(ms[i]);
    c = cpu_now();
    for (int i = 0; i < N; i++) {
        if ((b != NULL ? mm_boots_create(b, &cfg, &ms[0], err)
                       : mm_create(&cfg, &ms[0], err)) != MM_OK) {
            fprintf(stderr, "bench: %s\n", err);
            exit(1);
        }
        mm_destroy(ms[0]);
    }
    c = cpu_now() - c;
    print("  CPU per machine created and destroyed", c / N * 1e6, "us", "");
    free(ms);
}

/* The daemon creates machines through mm_boots (daemon/boots.c): the
 * same figures for clones of a booted template, and for the 6.1 reference
 * machine, whose boot replays its vmalloc table. */
static void bench_create_cached(void)
{
    struct mm_boots *b = mm_boots_new(32, (size_t)32 << 20);

    if (b == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    create_n("machines created, mm_create (qemu-virt)", NULL, "4.19", NULL);
    create_n("machines created, boot cache (qemu-virt)",
             "host bytes per idle machine, boot cache", "4.19", b);
    create_n("machines created (qemu-virt 6.1, 2 GiB)",
             "host bytes per idle 6.1 machine (1,000)", "6.1", NULL);
    create_n("machines created, boot cache (6.1, 2 GiB)",
             "host bytes per idle 6.1 machine, cache", "6.1", b);
    mm_boots_free(b);
}

static void bench_kmap(void)
{
    struct mm_machine *m = make("aries", NULL, NULL);
    enum { N = 2000000 };
    mm_pfn_t pfn[64];
    struct mm_result r;
    double t;

    for (int i = 0; i < 64; i++) {
        die_unless(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), &r);
        pfn[i] = r.value;
    }
    t = now();
    for (int i = 0; i < N; i++) {
        mm_kmap(m, pfn[i & 63], &r);
        mm_kunmap(m, pfn[i & 63], &r);
    }
    t = now() - t;
    print("kmap+kunmap pairs (highmem)", N / t, "pairs/s", "");

    /* Fresh pages: a page still in the pkmap window would take the
     * kmap_high_get() path instead of a fixmap slot. */
    for (int i = 0; i < 64; i++) {
        die_unless(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r), &r);
        pfn[i] = r.value;
    }
    t = now();
    for (int i = 0; i < N; i++) {
        mm_kmap_atomic(m, (unsigned)i & 3, pfn[i & 63], -1, &r);
        mm_kunmap_atomic(m, (unsigned)i & 3, r.value, &r);
    }
    t = now() - t;
    die_unless(r.status, &r);
    print("kmap_atomic+kunmap_atomic pairs", N / t, "pairs/s", "");
    mm_destroy(m);
}

static void bench_vmalloc(void)
{
    struct mm_machine *m = make("aries", NULL, NULL);
    enum { N = 500000 };
    struct mm_result r;
    double t = now();

    for (int i = 0; i < N; i++) {
        die_unless(mm_vmalloc(m, 16 * 1024, &r), &r);
        die_unless(mm_vfree(m, r.value, &r), &r);
    }
    t = now() - t;
    print("vmalloc(16 KiB)+vfree pairs", N / t, "pairs/s", "");
    mm_destroy(m);
}

int main(void)
{
    printf("armmapd engine bench (one core, in-process)\n");
    bench_translate();
    bench_phys();
    bench_create();
    bench_create_cached();
    bench_hostmem();
    bench_kmap();
    bench_vmalloc();
    bench_snapshot();
    return 0;
}
