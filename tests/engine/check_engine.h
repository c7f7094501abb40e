/* tests/engine/check_engine.h - shared declarations of the engine suites. */
#ifndef ARMMAP_TESTS_CHECK_ENGINE_H
#define ARMMAP_TESTS_CHECK_ENGINE_H

#include <check.h>

#include "mm_int.h"

/* One suite per engine file, each listed in main.c.  Declared strongly, so
 * a suite that is missing fails the link instead of passing silently. */
Suite *config_suite(void);
Suite *layout_suite(void);
Suite *physmem_suite(void);
Suite *buddy_suite(void);
Suite *pgtable_suite(void);
Suite *mmu_suite(void);
Suite *kmap_suite(void);
Suite *katomic_suite(void);
Suite *vmalloc_suite(void);
Suite *report_suite(void);
Suite *machine_suite(void);
Suite *random_suite(void);
Suite *physidx_suite(void);
Suite *snapshot_suite(void);
Suite *hostmem_suite(void);
Suite *report_json_suite(void);
Suite *boot61_suite(void);
Suite *kernmem_suite(void);
Suite *modrox_suite(void);
Suite *boots_suite(void);
Suite *hashes61_suite(void);
Suite *ptdump61_suite(void);
Suite *buf_suite(void);

/* Creates a machine from a preset plus "key=value" overrides (NULL ends the
 * list); fails the test with the engine's message if that fails. */
struct mm_machine *t_machine(const char *preset, ...);
/* The config t_machine() would create the machine from. */
struct mm_config t_config(const char *preset, ...);
/* mm_create()'s status for @cfg, its message in @err; the machine, if
 * any, destroyed. */
enum mm_status t_create_status(const struct mm_config *cfg,
                               char err[MM_MSG_MAX]);
/* The number just before @what in @t ("...24140K reserved" -> 24140);
 * fails the test if @what is not there. */
unsigned long t_figure_before(const char *t, const char *what);
/* Rewrites a snapshot's trailer, FNV-1a 64 of every byte before it
 * (little-endian), after a test changed bytes on purpose. */
void t_fix_checksum(uint8_t *buf, size_t len);

/* Fails the test with mm_check()'s message unless the machine is consistent. */
void t_check(const struct mm_machine *m);

/* Renders a report into a malloc'd NUL-terminated string (caller frees). */
char *t_report(const struct mm_machine *m, enum mm_report r);

/* Operations per randomized run: @full, or @full scaled by
 * $ARMMAP_RANDOM_OPS / T_RANDOM_OPS when that is set (rounded up, at least
 * 1).  make check sets it for both builds (2,500 under the sanitizers,
 * where every op costs ten times more, 10,000 plain: Makefile
 * SAN_RANDOM_OPS, PLAIN_RANDOM_OPS); every seed and configuration still
 * runs, and make check-full runs the full length.  A value that is not a whole number
 * from 1 to T_RANDOM_OPS * 100 fails the test (a typo must not quietly
 * shorten or skip the runs). */
#define T_RANDOM_OPS 25000u
unsigned t_random_len(unsigned full);

/* The random operation generator (opgen.c). */
struct t_rng {
    uint64_t s;
};

/* A number below @n (0 if @n is 0). */
uint32_t t_rnd(struct t_rng *r, uint32_t n);
/*
 * What the generator remembers, so that it can make plausible ops and so
 * that nothing it changed is forgotten: every successful allocation, kmap
 * and area goes into a bounded pool, and when a pool is full the generator
 * frees instead of allocating.  The machine's state stays bounded, which
 * keeps mm_check() after every op cheap.
 */
#define T_POOL 48
struct t_pool {
    unsigned n;
    uint32_t v[T_POOL];
    uint32_t order[T_POOL];               /* alloc'd blocks only */
};

struct t_shadow {
    struct t_pool blocks;                 /* alloc'd pfns */
    struct t_pool kmapped;                /* one entry per kmap user */
    struct t_pool areas;                  /* vmalloc/vmap/ioremap/module VAs */
    uint32_t atomic_va[MM_MAX_CPUS][T_POOL]; /* per-CPU pushed VAs, as a stack */
    unsigned natomic[MM_MAX_CPUS];
};

struct t_record {
    struct mm_op op;
    uint32_t args[8];
    struct mm_result res;
};

/* Builds the next op into @rec (its args point into @rec). */
void t_gen_op(const struct mm_machine *m, struct t_shadow *sh, struct t_rng *r,
              struct t_record *rec);
/* Teaches the generator what a successful op produced or released. */
void t_learn(const struct mm_machine *m, struct t_shadow *sh, const struct t_record *rec);

/* Every preset, and the first kernel version of every era row (NULL ends
 * each list); t_machine_era() boots @preset with kernel @kernel, giving
 * vmalloc_end where the era needs the platform to; NULL if the preset
 * cannot boot that kernel at all. */
extern const char *const t_presets[];
extern const char *const t_era_kernels[];
struct mm_machine *t_machine_era(const char *preset, const char *kernel);

#endif
