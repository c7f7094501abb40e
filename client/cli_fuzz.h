/* client/cli_fuzz.h - the parts of `armmap fuzz` (internal).
 *
 * cli_fuzz_model.c: the model of one machine, checking each (op, answer)
 * pair and the translations of every live mapping; cli_fuzz_gen.c: the
 * op generator, weighted so that every mechanism is reached;
 * cli_fuzz_shrink.c: running op sequences in batches, replaying them on
 * fresh machines and shrinking a failing one; cli_fuzz.c: the command
 * (seeds, configs, coverage, totals, corpus).  See cli_fuzz.c for the
 * design.
 */
#ifndef ARMMAP_CLIENT_CLI_FUZZ_H
#define ARMMAP_CLIENT_CLI_FUZZ_H

#include "cli.h"

#include <inttypes.h>

#define LAST_PKMAP     512 /* KERNEL: arch/arm highmem.h PTRS_PER_PTE */
#define PAGE_SZ        4096u
#define MAX_BLOCKS     4096
#define MAX_AREAS      1024
#define MAX_CPUS       32
#define MAX_DEPTH      16 /* KM_TYPE_NR on ARM */
#define GEN_DEPTH      6  /* the generator stays below this */
#define GEN_KM_SLOTS   4  /* km_type slots the generator uses (0..3) */
#define BAD_KM_SLOT    99 /* beyond any KM_TYPE_NR */
#define MAX_REFS       1024
#define MAX_DEAD       64
#define OP_ARGS        8
#define SHRINK_RUNS    600
#define SHRINK_SECONDS 90
#define WHY_MAX        400
#define NR_FUZZ_OPS    ARMMAP_OP_COUNT
#define MAX_BATCH      4096  /* armmapd's default max-batch-ops */
#define MAX_MACHINES   10000 /* armmapd's default max-machines-per-tenant */
#define MAX_SETTINGS   32

enum area_kind { AK_VMALLOC, AK_VMAP, AK_IOREMAP, AK_MODULE };

struct fblock {
    uint32_t pfn;
    uint8_t order;
};

struct farea {
    uint32_t va, pages;
    uint8_t kind;
    uint8_t rox;    /* module: ROX_* of module_enable_ro */
    uint32_t pa[4]; /* vmap: the pfns' addresses; ioremap: pa[0] */
};

/* What module_enable_ro did to a module, as far as the model can tell:
 * with rodata end 0 it answers 0 whether the build protects (a second
 * call is refused) or not (nothing changes). */
#define ROX_NONE  0 /* never protected */
#define ROX_SET   1 /* protected: a second call is refused */
#define ROX_MAYBE 2 /* ro_size 0 on a build the model cannot tell */

struct fref {
    uint32_t va, pfn;
}; /* a kmap_high_get() through kmap_atomic */

struct fop {
    struct armmap_op op;
    uint32_t args[OP_ARGS];
};

struct model {
    /* machine facts */
    uint32_t page_offset, phys_offset, pkmap_base, high_memory;
    uint32_t high_start, high_end; /* HighMem zone pfns; 0,0 if none */
    uint32_t low_start, low_end;   /* lowmem pfns */
    uint32_t bad_pfn;              /* surely not RAM */
    uint32_t io_phys;              /* 16 non-RAM pages for ioremap */
    unsigned ncpus;
    unsigned max_order; /* the buddy allocator's highest order: 10, or
                           11 with ARCH_FORCE_MAX_ORDER=12 (6.1 armmp) */
    bool has_pkmap, inject_bug;
    uint8_t strict_modrox; /* learned: 0 unknown, 1 STRICT_MODULE_RWX,
                              2 not (module_enable_ro answers 0) */
    bool kmap_high_get;    /* kmap_atomic of a kmap()ed page returns
                                      its pkmap address (not with
                                      ARM_ERRATA_798181) */
    /* state */
    struct fblock blocks[MAX_BLOCKS];
    unsigned nblocks;
    struct farea areas[MAX_AREAS];
    unsigned nareas;
    /* Entries the ops generated for the current batch may add: a batch is
     * generated whole before any result comes back, so the room checks
     * count them too. */
    unsigned gen_blocks, gen_areas;
    bool areas_lost; /* the daemon holds areas not in areas[]
                                      (table full, or an ioremap of an
                                      address the model does not follow) */
    uint32_t dead[MAX_DEAD];
    unsigned ndead;
    int count[LAST_PKMAP];
    uint32_t kpfn[LAST_PKMAP];
    unsigned last;
    struct {
        uint32_t va, pfn;
    } stack[MAX_CPUS][MAX_DEPTH];
    unsigned depth[MAX_CPUS];
    uint32_t slot_va[MAX_CPUS][MAX_DEPTH]; /* learned: 0 = not yet */
    /* km_type style (2.6.35, 2.6.36): the caller names the slot; a live
     * slot mapped again is displaced; unmapping leaves it stale */
    bool km_type;
    struct {
        uint32_t pfn;
        bool live;
    } kt[MAX_CPUS][MAX_DEPTH];
    struct fref refs[MAX_REFS];
    unsigned nrefs;
    unsigned long
        seen[ARMMAP_NO_SOCKET]; /* answers by status, for the summary */
    /* coverage: answers by op and status */
    unsigned long cov[NR_FUZZ_OPS][ARMMAP_NO_SOCKET];
    unsigned storm; /* generator: kmaps of fresh pages to come */
    bool trace;     /* print every op and answer to stderr */
};

struct rng {
    uint64_t s;
};

static inline uint64_t rnd(struct rng *r)
{
    /* xorshift64* */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

static inline uint32_t rnd_below(struct rng *r, uint32_t n)
{
    return n ? (uint32_t)(rnd(r) % n) : 0;
}

/* A message of a disagreement, printf-style, into @why (WHY_MAX). */
void fz_why(char *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The ops sent to one machine so far. */
struct history {
    struct fop *ops;
    size_t n, cap;
};

struct failure {
    bool found;
    size_t index; /* the op, or the last op of the batch */
    bool translation;
    char why[WHY_MAX];
};

/* What every machine of a run boots with, and how the run batches. */
struct fuzz_cfg {
    const char *preset;
    struct armmap_setting settings[MAX_SETTINGS];
    size_t nsettings;
    char values[MAX_SETTINGS][32]; /* drawn values (--config-random) */
    unsigned batch;
    bool inject;
};

/* cli_fuzz_model.c */
bool fz_is_high(const struct model *m, uint32_t pfn);
int fz_model_init(struct cli *c, struct model *m, uint64_t id, bool inject,
                  char *why);
int fz_slot_of(const struct model *m, uint32_t pfn);
bool fz_all_busy(const struct model *m);
bool fz_check_op(struct model *m, const struct armmap_op *op,
                 const struct armmap_op_result *r, char *why);
int fz_check_translations(struct cli *c, uint64_t id, struct model *m, bool *ok,
                          char *why);

/* cli_fuzz_gen.c */
void fz_gen_op(struct rng *r, struct model *m, struct fop *f);

/* cli_fuzz_shrink.c */
bool fz_history_add(struct history *h, const struct fop *f);
int fz_run_batch(struct cli *c, uint64_t id, struct model *m, struct fop *ops,
                 size_t n, size_t base, struct failure *fail);
int fz_create_machine(struct cli *c, const struct fuzz_cfg *cfg, uint64_t *id);
int fz_replay(struct cli *c, const struct fuzz_cfg *cfg, struct fop *ops,
              size_t n, struct model *m, struct failure *fail);
int fz_shrink(struct cli *c, const struct fuzz_cfg *cfg, struct history *h,
              struct model *m, struct failure *best, unsigned *runs);
void fz_print_ops(const struct cli *c, const struct history *h,
                  const struct failure *f);

#endif /* ARMMAP_CLIENT_CLI_FUZZ_H */
