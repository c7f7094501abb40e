/* tests/fuzz/fuzz_engine.c - engine operation sequences from bytes.
 *
 * The input picks a machine and then a sequence of operations, each applied
 * with mm_apply() (or a read such as mm_translate()), and mm_check() must
 * pass after every one of them.  At the end the recorded events, replayed
 * with mm_replay() onto a fresh machine of the same config, must give the
 * same results and the same reports, and so must a clone.
 *
 * Input layout:
 *   byte 0      bit 7 set: the config is text for mm_config_parse() up to
 *               the first NUL (at most 512 bytes; the rest are ops);
 *               clear: a preset (byte 0 mod (presets + 1), 0 = defaults)
 *               and byte 1 tweaks it (highmem, cpus, atomic style, kernel,
 *               split), see pick_config()
 *   then ops    one selector byte each, its operands after it
 *
 * Operands refer back to earlier results where they can: a "pfn" or "va"
 * operand byte below 0xc0 names one of the last values recorded (allocated
 * pfns, mapped addresses; with none recorded yet, the byte itself),
 * otherwise four raw bytes follow.  So how many bytes an op takes depends
 * on its bytes alone, never on what the engine answered: the custom
 * mutator below parses an input into ops without running it.  Selector
 * bit 7 sends a raw op instead: any opcode, cpu and argument count, as a
 * client on the wire could.
 *
 * Budgets: an input's vmallocs and module_allocs may take PAGE_BUDGET
 * pages (256 KiB) in all: one that would take it past that is skipped
 * (not applied, not recorded), as is an ioremap of more than IO_BUDGET
 * pages (1 MiB), and only its first REPORT_BUDGET report ops are
 * rendered; every other op runs.  One input in BIG_EVERY (by its
 * hash), and every input of make check's replays, keeps the old rule
 * instead: reports and ioremaps unbounded, and vmallocs until BIG_BUDGET pages
 * (16 MiB) are passed, the op that crosses it running whole, up to the
 * whole vmalloc area, so allocation failures, a full area and vfree of a
 * huge area stay reachable, and so does the lazy purge (iounmap of large
 * ioremaps counts towards lazy_max_pages() without pages).  The budgets
 * bound what an input does, not what is checked: every op that runs is
 * checked as below.  Inputs that stacked areas of thousands of pages (up
 * to 230 ms each) or rendered a page-table dump per op took most of the
 * time.
 *
 * Speed: the machine for each config (cached by the struct mm_config's
 * bytes) is booted once per process, by the first input with it, and
 * every input starts from an mm_clone() of it, so every later input
 * frees all it allocates and libFuzzer re-runs none for its leak check.
 * The budgets above bound huge vmallocs and report dumps; nocov.txt keeps
 * libFuzzer's hooks out of the whole-state checks, the engine's
 * containers, the snapshot writers and this file's oracles and mutator.
 * Where the time goes now (issue #19; the build without sanitizers,
 * -seed=1 -runs=15000 from the corpus with make fuzz's options, perf):
 * libFuzzer's own loop a third (collecting features, the entropic
 * schedule's rare-feature bookkeeping, the compare hooks of the ops, the
 * mutator's dry runs, writing new inputs).  Of the harness (callgrind,
 * the instructions of 3,357 inputs libFuzzer mutated from the corpus in
 * that run, replayed one by one): the checks 29% (after each op 18:
 * mm_check_touched() and the sampled mm_check_since(); at the end 11),
 * the ops 21%, report ops' rendering 12%, the sampled inputs' snapshots,
 * replays and report comparison 10%, mm_clone() 7% and mm_destroy() 2%,
 * booting configs first seen 5%.  What most of a check costs is fixed
 * (a pass over the 4,096 first-level entries, vmalloc's areas whole).
 * This round cut the harness's instructions per input 22% (3.79 G to 2.95 G
 * for those inputs): every passing whole check starts the next one's record
 * (mm_since_clear(), below), inputs are sampled 1 in 32, not 16, reports
 * are compared with one of the replay and the clone, the cached machine's
 * snapshot is compared on 1 input in 128, the cache hashes its key eight
 * bytes a step, and the snapshot's walk of the buddy's used map has no
 * coverage hooks (nocov.txt).  With make fuzz's rare-feature threshold at
 * 16, not 32 (Makefile), inputs per CPU-second after the seed pass
 * ((runs(15000) - runs(1)) / (CPU(15000) - CPU(1)), old and new build side
 * by side, best of three, load 10 on the 2 cores): 3,891 (3,407, 3,196) to
 * 4,778 (4,475, 4,373); the whole run 3,099 to 4,011; again at load 5,
 * 3,972 (3,880, 3,729) to 5,144 (4,847, 4,678).  UBSan: 2,291 (2,155,
 * 2,155) to 2,838 (2,557, 2,389), 2,358-2,365 edges before and 2,341-2,362
 * after.  ASan+UBSan, make fuzz's ASan options: 1,535 (1,401, 1,375) to
 * 1,690 (1,597, 1,560); the whole run 1,329 to 1,546.  Edges and features
 * after the none runs: 2,886 and 12,285 before, 2,840 and 11,994 after; after
 * the seed pass, every function's edges as before but the 47 of the
 * used-map walk now without hooks.  Tried, not kept: a -merge=1 corpus
 * (1,032 of the 1,574 files, the same edges after the seed pass): only the
 * seed pass is cheaper (libFuzzer keeps some 1,040 inputs either way) and
 * the steady rate was not higher.  Past 5,000 at load 5, not at load 10;
 * what stands in the way: the fixed cost of each whole check and
 * libFuzzer's share.
 * Planted bugs, from the corpus (-seed=1, the none build): expand()
 * putting back the lower half of an order-2 split, the block just
 * allocated, by the end check of the corpus's first such input, 0.06
 * CPU-s into the run, as before this round ("buddy: the order-2 block at
 * pfn 0x7fc00 overlaps the order-2 block at pfn 0x7fc00"); vfree()
 * counting a lazy page too many for areas of three pages (ops only) by
 * the end check after 3,747 inputs, 1.5 CPU-s (7,457 inputs and 2.9
 * CPU-s before this round; from an empty corpus 1,465 inputs): "vmalloc:
 * 3 lazy pages in the areas, 4 counted".
 * The oracles, and what of them is sampled:
 *   always, after every op   seq advances by one on success and not at all
 *                            on failure; no MM_INTERNAL; mm_broken() unset;
 *                            mm_check_touched(): each pgd entry the op
 *                            wrote (L1 pair, its PTE table) by mm_check()'s
 *                            rules, from the engine's touched summary
 *   sampled ops              mm_check_since() after the op: everything
 *                            changed since the last such check passed
 *                            (or since the clone), by mm_check()'s rules
 *   always, at the end       mm_check_since() of the end state (what
 *                            changed since the last check passed)
 *   sampled inputs           mm_check() of the whole end state, which
 *                            must agree with mm_check_since(); the events
 *                            replayed onto a machine as booted (each
 *                            result compared), and an mm_clone() of the
 *                            end state, give the same seq and state (the
 *                            mm_snapshot() bytes) and pass
 *                            mm_check_since() (the replay since the
 *                            machine as booted, the clone since the
 *                            input's last passing check, whose record it
 *                            carries).  The machine as booted is a clone
 *                            of the cached one the input started from.
 *   1 in 4 of those          the input and one of its replay and its clone
 *                            (by bit 12 of the hash; both in make check)
 *                            render every report byte for byte alike, and
 *                            the machine as booted has the bytes
 *                            mm_create() gave (so no input and no clone
 *                            changed the cached machine)
 * The reports are compared on a quarter of the replayed inputs only, with
 * one peer each: the snapshot bytes, compared on every replayed input,
 * are the whole dynamic state, and the three machines have the same
 * config, so reports that differ with equal snapshots would read
 * something outside that state (host-side order, caches, uninitialised
 * bytes).  That is a fault of the report code, not of the sequence, so it
 * shows on any input that renders the report: one in 128, half of them
 * against the replay and half against the clone, and every input of make
 * check's replays against both.  A change to the cached machine stays in
 * it, so the next input whose booted machine is compared (1 in 128 of
 * those with its config) finds it; make check compares it on every one.
 * An op is sampled when a hash of its index and of the input's FNV-1a
 * hash is 0 mod OP_SAMPLE_EVERY, an input when its FNV-1a hash is 0 mod
 * SAMPLE_EVERY (the big inputs are those with bits 4 to 9 of the hash
 * clear, as when that was 16, so the corpus's stay big);
 * FUZZ_FULL_CHECKS (set by make check's replay of corpora and
 * regressions) samples every op and every input.  The choice depends
 * on the bytes alone, so a failure reproduces from its file, and any
 * mutation moves the sampled ops, so the many mutants of a kept sequence
 * check different ones.
 *
 * What sampling costs in guarantees: mm_check_since() finds every
 * violation mm_check() would in what changed, and what did not change is
 * as booted()'s mm_check() left it, so a violation still there at the
 * end of the sequence is caught on every input.  A violation a later op of the same sequence repairs is
 * caught only if a sampled op falls between the two; each mutant has a
 * 1 in 16 chance per op of that window.  Ops can repair each invariant
 * mm_check() covers: a wrong PTE is overwritten by the next map or unmap
 * of its address, a wrong pkmap count is reset by kmap_flush, a wrong
 * kmap_atomic slot by its kunmap_atomic, a wrong lazy vmalloc area or
 * count by the purge, a block on the wrong buddy list by the alloc that
 * takes it.  So for no invariant does sampling only delay detection:
 * the end-of-sequence check is certain, the per-op one is a sample, and
 * make check's replay checks every op of every corpus file.
 * Each sampled check passing, the record starts again there
 * (mm_since_clear()): by the argument below the machine then is one
 * that passes mm_check(), which is all mm_check_since() assumes of its
 * start, so the next check reads only what changed since, and a
 * violation that persists is found by the first check after the op that
 * made it, the end check at the latest.  On sampled inputs the whole
 * mm_check() at the end still reads everything, and a change some
 * record missed shows there as a disagreement.
 *
 * Why the since-check is as strong as mm_check() for a sequence: the
 * input's machine is a clone of one that passed mm_check(), and
 * mm_since_clear() starts the engine's record there.  The buddy records
 * each head its maps gain or lose, as the block was before; the check
 * takes the blocks at the heads changed, then (as the record's first
 * change saw them) and now, checks each block there now by mm_check()'s
 * per-block rules, that they overlap nothing and cover exactly the pages
 * the replaced blocks covered (so with the unchanged blocks they still
 * partition the allocator's pages), the free lists changed (links,
 * lengths), and every count against the start's moved by the changes.
 * The page tables keep a second touched summary that nothing clears:
 * the PTEs and sections of the entries written are checked, and every
 * table entry's form and table page owner (a free can change that), the
 * count of tables and that no page serves two.  pkmap, kmap_atomic,
 * vmalloc and the owners' cross-check are checked whole when an op of
 * their kind ran or their window's entries were written (vmalloc's and
 * the owners' too when the buddy changed), as mm_check_touched() decides.  What the
 * record cannot vouch for is checked whole: a restored machine, past
 * 1,024 buddy changes (the big inputs).  The mm_check() on sampled
 * inputs, and on every op of make check's replays, checks the record
 * itself: a change the record missed would show there as a disagreement.
 *
 * The touched check adds to that, for the page tables: every input
 * starts from a clone of a machine that passed mm_check() with its
 * touched summary cleared, the engine marks each first-level index whose
 * entry or PTE table it writes, and after every op the entries marked
 * are checked and the marks cleared.  So a wrong PTE or section an op
 * writes is caught after that very op even if a later op repairs it;
 * what no op wrote is as the last check left it.  What the entry check
 * cannot see (a table page's owner changed by a free, the count of
 * tables, the other parts' own state) stays with the sampled and the end
 * check above (the since-check reads those).  Checking the other parts per op too (mm_check_touched()
 * with its parts: the buddy, vmalloc and pkmap checks whole) in place of
 * the sampled mm_check() cost 1.6 times the CPU of a pass over the
 * corpus; those parts' checks walk their whole structures.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS     512                 /* per input */
#define RING        64                  /* remembered pfns and vas */
#define MAX_EVENTS  MAX_OPS
#ifndef SAMPLE_EVERY
#define SAMPLE_EVERY 32                 /* 1 input in 32: mm_check(), replay, clone */
#endif
#ifndef OP_SAMPLE_EVERY
#define OP_SAMPLE_EVERY 16              /* 1 op in 16: mm_check_since() */
#endif
#ifndef REPORT_SAMPLE_EVERY
#define REPORT_SAMPLE_EVERY 4           /* of those: reports, the boot */
#endif
#define MAX_SPANS   MAX_OPS             /* ops the mutator can see */
#define MAX_PICKS   (MAX_OPS * 8)       /* operand bytes it can change */
#ifndef PAGE_BUDGET
#define PAGE_BUDGET 64                  /* vmalloc'd pages per input */
#endif
#define IO_BUDGET   256                 /* pages per ioremap */
#define REPORT_BUDGET 4                 /* reports rendered per input */
#define BIG_EVERY   64                  /* 1 input in 64: the old budget */
#define BIG_BUDGET  4096                /* its pages, then one op past it */


struct input {
    const uint8_t *p;
    size_t left;
};

/* Where the ops of an input are, found by a dry run (no machine). */
struct layout {
    size_t head;                        /* bytes of the config part */
    unsigned nops, npicks;
    size_t op[MAX_SPANS + 1];           /* op i is [op[i], op[i + 1]) */
    size_t pick[MAX_PICKS];             /* offsets of operand bytes */
};

struct event {
    struct mm_op op;
    uint32_t args[MM_OP_MAX_ARGS];
    struct mm_result res;
};

struct state {
    struct input in;
    const uint8_t *base;                /* the input's first byte */
    struct layout *lay;                 /* dry run: NULL machine, this set */
    bool full;                          /* replay and clone at the end */
    bool every_op;                      /* mm_check() after every op */
    bool reports_alike;                 /* replay or clone render alike */
    unsigned peers;                     /* which: 1 replay, 2 clone, 3 both */
    uint32_t seed;                      /* the input's hash */
    unsigned nop;                       /* index of the op being run */
    struct mm_machine *m;
    unsigned cpus;
    uint32_t pfn[RING], va[RING];
    unsigned npfn, nva;
    struct event *ev;
    unsigned nev;
    bool vmap_big;                      /* the one vmap of many pages done */
    bool big;                           /* BIG_BUDGET rule, not PAGE_BUDGET */
    unsigned reports;                   /* report ops rendered so far */
    uint64_t pages;                     /* vmalloc and module_alloc pages */
};

static uint8_t u8(struct input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static uint32_t u32(struct input *in)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v = v << 8 | u8(in);
    return v;
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_engine: %s: %s\n", what, detail);
    abort();
}

static void remember(uint32_t *ring, unsigned *n, uint32_t v)
{
    ring[*n % RING] = v;
    (*n)++;
}

static void note_pick(struct state *s)
{
    if (s->lay != NULL && s->in.left > 0 && s->lay->npicks < MAX_PICKS)
        s->lay->pick[s->lay->npicks++] = (size_t)(s->in.p - s->base);
}

static uint32_t pick(struct state *s, const uint32_t *ring, unsigned n)
{
    uint8_t b;

    note_pick(s);
    b = u8(&s->in);
    if (b < 0xc0) {
        unsigned have = n < RING ? n : RING;

        return n > 0 ? ring[(n - 1 - b % have) % RING] : b;
    }
    return u32(&s->in);
}

static uint32_t pick_pfn(struct state *s)
{
    return pick(s, s->pfn, s->npfn);
}

static uint32_t pick_va(struct state *s)
{
    return pick(s, s->va, s->nva);
}

/* A size: mostly a few pages, sometimes up to 1 MiB, rarely anything
 * (most of those fail; the few that fit make mm_check() slow). */
static uint32_t pick_size(struct state *s)
{
    uint8_t b;

    note_pick(s);
    b = u8(&s->in);

    if (b < 0xe0)
        return (uint32_t)(b % 32 + 1) * MM_PAGE_SIZE - (b & 0x20 ? 1 : 0);
    if (b < 0xff)
        return u32(&s->in) % (1u << 20) + 1;
    return u32(&s->in);
}

static void set_or_fail(struct mm_config *cfg, const char *k, const char *v)
{
    char err[MM_MSG_MAX];

    if (mm_config_set(cfg, k, v, err) != MM_OK)
        fail("config", err);
}

static void preset_config(uint8_t b0, uint8_t b1, struct mm_config *cfg);

/* preset_config() of @b0, @b1, remembered by the preset and @b1 (the
 * 1,280 preset configs, 1.5 MB): its mm_config_preset() and
 * mm_config_set() calls parse strings on every input (2% of the time,
 * the mutator's dry runs included), and those are all the result depends
 * on.  The config code's edges still count the first time one is seen. */
static void preset_config_cached(uint8_t b0, uint8_t b1, struct mm_config *cfg)
{
    static struct {
        bool used;
        struct mm_config cfg;
    } *slots;
    size_t n, k;

    mm_presets(&n);
    k = b0 % (n + 1) * 256 + b1;
    if (slots == NULL && (slots = calloc((n + 1) * 256, sizeof(*slots))) == NULL)
        fail("preset", "out of memory");
    if (!slots[k].used) {
        preset_config(b0, b1, &slots[k].cfg);
        slots[k].used = true;
    }
    *cfg = slots[k].cfg;
}

/* Returns false if the config is not one to run (invalid text). */
static bool pick_config(struct state *s, struct mm_config *cfg)
{
    char err[MM_MSG_MAX];
    uint8_t b0 = u8(&s->in), b1;

    if (b0 & 0x80) {
        char text[513];
        size_t i = 0;

        while (s->in.left > 0 && i < sizeof(text) - 1) {
            uint8_t c = u8(&s->in);

            if (c == 0)
                break;
            text[i++] = (char)c;
        }
        text[i] = '\0';
        mm_config_default(cfg);
        return mm_config_parse(cfg, text, err) == MM_OK;
    }
    b1 = u8(&s->in);
    preset_config_cached(b0, b1, cfg);
    return true;
}

/* The config of a preset input's first bytes @b0 and @b1. */
static void preset_config(uint8_t b0, uint8_t b1, struct mm_config *cfg)
{
    static const char *const kernels[] = { NULL, "2.6.35", "3.4", "6.1" };
    static const char *const atomics[] = { NULL, "km_type", "stack", "local" };
    static const char *const cpus[] = { NULL, "1", "2", "4" };
    char err[MM_MSG_MAX];
    size_t n;

    mm_presets(&n);
    mm_config_default(cfg);
    if (b0 % (n + 1) != 0 &&
        mm_config_preset(cfg, mm_presets(&n)[b0 % (n + 1) - 1].name, err) !=
            MM_OK)
        fail("preset", err);
    if (b1 & 1)
        set_or_fail(cfg, "highmem", cfg->highmem ? "off" : "on");
    if (cpus[b1 >> 1 & 3] != NULL)
        set_or_fail(cfg, "cpus", cpus[b1 >> 1 & 3]);
    if (kernels[b1 >> 3 & 3] != NULL)
        set_or_fail(cfg, "kernel", kernels[b1 >> 3 & 3]);
    if (atomics[b1 >> 5 & 3] != NULL)
        set_or_fail(cfg, "atomic", atomics[b1 >> 5 & 3]);
    if (b1 & 0x80)
        set_or_fail(cfg, "split", "2G");
}

/* mm_broken() and the page-table entries the op touched, always (which
 * clears the touched summary); when @whole, mm_check_since() (all that
 * changed since the clone), and when @full mm_check() as well, which must
 * agree with it. */
static void check(struct state *s, const char *after, bool whole, bool full)
{
    char err[MM_MSG_MAX];

    if (mm_broken(s->m) != NULL)
        fail(after, mm_broken(s->m));
    if (mm_check_touched(s->m, 0, err) != MM_OK)
        fail(after, err);
    if (!whole)
        return;
    if (mm_check_since(s->m, err) != MM_OK)
        fail(after, err);
    if (full && mm_check(s->m, err) != MM_OK) {
        char msg[MM_MSG_MAX + 64];

        snprintf(msg, sizeof(msg), "mm_check_since() passed, mm_check(): %s", err);
        fail(after, msg);
    }
}

static void record(struct state *s, const struct mm_op *op,
                   const struct mm_result *res)
{
    struct event *e;

    if (res->status != MM_OK)
        return;
    if (s->nev == MAX_EVENTS)
        fail("record", "more events than ops");
    e = &s->ev[s->nev++];
    e->op = *op;
    memcpy(e->args, op->args, op->nargs * sizeof(uint32_t));
    e->op.args = e->args;
    e->res = *res;
}

/* Whether op number s->nop (of this input) gets a whole mm_check(): a
 * hash of its index and of the input's first bytes, so that a sequence
 * keeps the same sample when libFuzzer mutates its tail. */
static bool op_sampled(const struct state *s)
{
    uint32_t h = (s->nop + 1) * 0x9e3779b1u ^ s->seed;

    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h % OP_SAMPLE_EVERY == 0;
}

/* Whether @op is a vmalloc or module_alloc the page budget skips: on a
 * big input, any once its pages passed BIG_BUDGET (the op that crosses it
 * runs whole); else any whose pages would take the input past
 * PAGE_BUDGET.  Else an ioremap of more than IO_BUDGET pages (each a PTE
 * to write and check) but on a big input. */
static bool over_budget(const struct state *s, const struct mm_op *op)
{
    uint64_t want;

    if (op->code == MM_OP_IOREMAP && !s->big && op->nargs > 1)
        return ((uint64_t)op->args[1] + MM_PAGE_SIZE - 1) >> MM_PAGE_SHIFT >
               IO_BUDGET;
    if (op->code != MM_OP_VMALLOC && op->code != MM_OP_MODULE_ALLOC)
        return false;
    if (s->big)
        return s->pages > BIG_BUDGET;
    want = op->nargs > 0 ? ((uint64_t)op->args[0] + MM_PAGE_SIZE - 1) >> MM_PAGE_SHIFT
                         : 0;
    return s->pages + want > PAGE_BUDGET;
}

/* Applies @op, checks, records, remembers what it returned. */
static void apply(struct state *s, const struct mm_op *op)
{
    static int trace = -1;
    struct mm_result res;
    uint64_t seq;
    bool whole;

    if (s->m == NULL)
        return;                         /* dry run */
    if (over_budget(s, op))
        return;                         /* not run */
    if (trace < 0)
        trace = getenv("FUZZ_ENGINE_TRACE") != NULL;
    seq = mm_seq(s->m);
    memset(&res, 0, sizeof(res));
    mm_apply(s->m, op, &res);
    if (trace) {
        fprintf(stderr, "op %s cpu %u nargs %u [", mm_op_name(op->code),
                op->cpu, op->nargs);
        for (uint32_t i = 0; i < op->nargs && i < 8; i++)
            fprintf(stderr, " 0x%x", op->args[i]);
        fprintf(stderr, " ] -> %s value 0x%x aux 0x%x seq %llu %s\n",
                mm_status_name(res.status), res.value, res.aux,
                (unsigned long long)res.seq, res.msg);
    }
    if (res.status == MM_OK && res.seq != seq + 1)
        fail(mm_op_name(op->code), "seq did not advance by one");
    if (res.status != MM_OK && (res.seq != 0 || mm_seq(s->m) != seq))
        fail(mm_op_name(op->code), "a failed op took a seq");
    if (res.status == MM_INTERNAL)
        fail(mm_op_name(op->code), res.msg);
    whole = s->every_op || op_sampled(s);
    check(s, mm_op_name(op->code) ? mm_op_name(op->code) : "raw op", whole,
          s->every_op);
    if (whole)
        mm_since_clear(s->m);           /* it passed: the next check's start */
    record(s, op, &res);
    if (res.status != MM_OK)
        return;
    switch (op->code) {
    case MM_OP_ALLOC:
        remember(s->pfn, &s->npfn, res.value);
        break;
    case MM_OP_VMALLOC:
    case MM_OP_MODULE_ALLOC:
        s->pages += res.aux;
        remember(s->va, &s->nva, res.value);
        break;
    case MM_OP_KMAP:
    case MM_OP_KMAP_ATOMIC:
    case MM_OP_VMAP:
    case MM_OP_IOREMAP:
        remember(s->va, &s->nva, res.value);
        break;
    default:
        break;
    }
}

/* Reads that never change the machine: they must not, and must not crash. */
static void reads(struct state *s)
{
    uint32_t va = pick_va(s), pa, pfn;
    unsigned acc = u8(&s->in) & 0xf;
    uint64_t seq;
    struct mm_alias al[8];
    char err[MM_MSG_MAX], text[1024];
    mm_paddr_t pas[4];
    mm_vaddr_t vas[4];
    uint8_t faults[4];
    struct mm_walk w;

    pfn = pick_pfn(s);
    for (int i = 0; i < 4; i++)
        vas[i] = pick_va(s) + (uint32_t)i * 0x800;
    if (s->m == NULL)
        return;                         /* dry run */
    seq = mm_seq(s->m);
    if (mm_translate(s->m, va, acc, &w) == MM_OK) {
        mm_phys_aliases(s->m, w.pa, al, 8);
        if (mm_pa(s->m, va, &pa, err) == MM_OK && pa != w.pa)
            fail("mm_pa", "disagrees with the walk");
    }
    mm_walk_format(&w, text, sizeof(text));
    mm_region_name(s->m, va);
    mm_virt_to_page(s->m, va, &pa, err);
    mm_page_address(s->m, pfn, &va, err);
    mm_va(s->m, pfn << MM_PAGE_SHIFT, &va, err);
    mm_translate_batch(s->m, vas, 4, acc, pas, faults);
    for (int i = 0; i < 4; i++) {
        if (mm_translate(s->m, vas[i], acc, &w) == MM_OK
                ? faults[i] != 0 || pas[i] != w.pa
                : faults[i] != (uint8_t)w.fault)
            fail("mm_translate_batch", "disagrees with mm_translate");
    }
    if (mm_seq(s->m) != seq)
        fail("reads", "changed the sequence number");
}

/* A JSON value at *@p (RFC 8259 syntax, depth bounded); false if none.
 * The harness links no JSON library, so this is the check. */
static bool json_value(const char **p, int depth)
{
    const char *q = *p;

    if (depth > 32)
        return false;
    if (*q == '{' || *q == '[') {
        char close = *q == '{' ? '}' : ']';

        q++;
        if (*q == close) {
            *p = q + 1;
            return true;
        }
        for (;;) {
            if (close == '}' && (*q != '"' || !json_value(&q, depth + 1) || *q++ != ':'))
                return false;
            if (!json_value(&q, depth + 1))
                return false;
            if (*q == close) {
                *p = q + 1;
                return true;
            }
            if (*q++ != ',')
                return false;
        }
    }
    if (*q == '"') {
        for (q++; *q != '"'; q++) {
            if ((unsigned char)*q < 0x20)
                return false;
            if (*q == '\\' && (*++q == '\0' || strchr("\"\\/bfnrtu", *q) == NULL))
                return false;
        }
        *p = q + 1;
        return true;
    }
    if (*q == '-' || (*q >= '0' && *q <= '9')) {
        q += *q == '-';
        if (*q < '0' || *q > '9' || (*q == '0' && q[1] >= '0' && q[1] <= '9'))
            return false;
        while (*q >= '0' && *q <= '9')
            q++;
        *p = q;
        return true;
    }
    for (const char *const *w = (const char *const[]){"true", "false", "null", NULL};
         *w != NULL; w++) {
        if (strncmp(q, *w, strlen(*w)) == 0) {
            *p = q + strlen(*w);
            return true;
        }
    }
    return false;
}

/* Buffers kept from input to input, emptied before each use: reports and
 * snapshots grow to hundreds of KiB, and under ASan each doubling of a
 * fresh buffer was an mmap, a copy and a munmap (12% of the harness's
 * time in page faults).  The engine appends and keeps a NUL after the
 * text, so an emptied buffer reads as "" until something is appended. */
enum { BUF_REPORT, BUF_STATE, BUF_WANT, BUF_OTHER, NBUFS };

static struct mm_buf *scratch(int which)
{
    static struct mm_buf bufs[NBUFS];
    struct mm_buf *b = &bufs[which];

    b->len = 0;
    b->oom = false;
    if (b->data != NULL)
        b->data[0] = '\0';
    return b;
}

static void report(struct state *s, enum mm_report r)
{
    struct mm_buf *b;
    const char *p;

    if (s->m == NULL || (!s->big && s->reports >= REPORT_BUDGET))
        return;                         /* dry run, or over budget */
    s->reports++;
    mm_report(s->m, r, scratch(BUF_REPORT));
    /* The structured form: one JSON object, or the text's refusal. */
    b = scratch(BUF_REPORT);
    if (mm_report_json(s->m, r, b) == MM_OK) {
        p = b->len > 0 ? b->data : NULL;
        if (p == NULL || *p != '{' || !json_value(&p, 0) || *p != '\0')
            fail("mm_report_json", p != NULL ? b->data : "(empty)");
    }
}

static void one_op(struct state *s)
{
    uint8_t sel = u8(&s->in);
    uint32_t args[MM_OP_MAX_ARGS];
    struct mm_op op;

    memset(&op, 0, sizeof(op));
    op.args = args;
    if (sel & 0x80) {
        /* Raw: as a client could send it. */
        op.code = (enum mm_opcode)(sel & 0x1f);
        op.cpu = u8(&s->in);
        op.nargs = u8(&s->in) % 5;
        for (uint32_t i = 0; i < op.nargs; i++)
            args[i] = u8(&s->in) & 1 ? pick_va(s) : pick_pfn(s);
        apply(s, &op);
        return;
    }
    op.cpu = s->cpus > 1 ? u8(&s->in) % s->cpus : 0;
    switch (sel % 18) {
    case 0:
        op.code = MM_OP_ALLOC;
        args[0] = u8(&s->in) % 4;
        args[1] = u8(&s->in) % 12;
        op.nargs = 2;
        break;
    case 1:
        op.code = MM_OP_FREE;
        args[0] = pick_pfn(s);
        args[1] = u8(&s->in) % 12;
        op.nargs = 2;
        break;
    case 2:
    case 3:
        op.code = sel % 18 == 2 ? MM_OP_KMAP : MM_OP_KUNMAP;
        args[0] = pick_pfn(s);
        op.nargs = 1;
        break;
    case 4:
        op.code = MM_OP_KMAP_ATOMIC;
        args[0] = pick_pfn(s);
        args[1] = u8(&s->in) % 24;
        op.nargs = sel & 0x40 ? 2 : 1;
        break;
    case 5:
        op.code = MM_OP_KUNMAP_ATOMIC;
        args[0] = pick_va(s);
        op.nargs = 1;
        break;
    case 6:
    case 12:
        op.code = sel % 18 == 6 ? MM_OP_VMALLOC : MM_OP_MODULE_ALLOC;
        args[0] = pick_size(s);
        op.nargs = 1;
        break;
    case 7:
    case 9:
    case 11:
    case 13:
        op.code = sel % 18 == 7 ? MM_OP_VFREE :
                  sel % 18 == 9 ? MM_OP_VUNMAP :
                  sel % 18 == 11 ? MM_OP_IOUNMAP : MM_OP_MODULE_FREE;
        args[0] = pick_va(s);
        op.nargs = 1;
        break;
    case 8:
        op.code = MM_OP_VMAP;
        op.nargs = u8(&s->in) % 9;
        if (op.nargs == 0 && (sel & 0x40) && !s->vmap_big) {
            /* Once per input: the largest vmap, of one page repeated. */
            s->vmap_big = true;
            op.nargs = MM_OP_MAX_ARGS + (sel & 0x20 ? 1 : 0);
            args[0] = pick_pfn(s);
            for (uint32_t i = 1; i < op.nargs && i < MM_OP_MAX_ARGS; i++)
                args[i] = args[0] + i;
            if (op.nargs > MM_OP_MAX_ARGS)
                op.nargs = MM_OP_MAX_ARGS;  /* never past our array */
            break;
        }
        for (uint32_t i = 0; i < op.nargs; i++)
            args[i] = pick_pfn(s);
        break;
    case 10:
        op.code = MM_OP_IOREMAP;
        args[0] = u8(&s->in) & 1 ? pick_pfn(s) << MM_PAGE_SHIFT : u32(&s->in);
        args[1] = pick_size(s);
        op.nargs = 2;
        break;
    case 14:
        op.code = MM_OP_KMAP_FLUSH;
        break;
    case 15:
        reads(s);
        return;
    case 16:
        report(s, (enum mm_report)(u8(&s->in) % MM_REPORT_COUNT));
        return;
    default:
        if (sel & 0x40) {
            op.code = MM_OP_MODULE_ENABLE_RO;
            args[0] = pick_va(s);
            args[1] = (uint32_t)(u8(&s->in) % 4) << MM_PAGE_SHIFT | (sel & 0x20 ? 0x800 : 0);
            args[2] = args[1] + ((uint32_t)(u8(&s->in) % 4) << MM_PAGE_SHIFT);
            op.nargs = 3;
            break;
        }
        sel = u8(&s->in);
        if (s->m != NULL)
            mm_km_type_name(s->m, (int)(int8_t)sel);
        return;
    }
    apply(s, &op);
}

static void render_all(const struct mm_machine *m, struct mm_buf *b)
{
    for (int r = 0; r < MM_REPORT_COUNT; r++) {
        mm_report(m, (enum mm_report)r, b);
        mm_report_json(m, (enum mm_report)r, b);
    }
}

/* @m's reports must be @want's bytes. */
static void same_reports(const struct mm_buf *want, const struct mm_machine *m,
                         const char *what)
{
    struct mm_buf *y = scratch(BUF_OTHER);

    render_all(m, y);
    if (y->oom || want->len != y->len ||
        (y->len > 0 && memcmp(want->data, y->data, y->len) != 0))
        fail(what, "reports differ");
}

/* @m's snapshot bytes must be @want's: the whole dynamic state. */
static void same_state(const struct mm_buf *want, const struct mm_machine *m,
                       const char *what)
{
    struct mm_buf *y = scratch(BUF_OTHER);

    if (mm_snapshot(m, y) != MM_OK)
        fail(what, "mm_snapshot failed");
    if (want->len != y->len ||
        (y->len > 0 && memcmp(want->data, y->data, y->len) != 0))
        fail(what, "states differ");
}

/* Replays the recorded events onto @r (a machine as booted, taken); it
 * must end as s->m did (same seq and state), as must a clone of s->m.
 * With s->full, the copies pass mm_check(); with s->reports_alike the
 * input's machine and those of s->peers render every report alike. */
static void replay(struct state *s, struct mm_machine *r)
{
    struct mm_machine *c;
    char err[MM_MSG_MAX];
    struct mm_buf *state = scratch(BUF_STATE), *want;

    mm_since_clear(r); /* as booted, checked whole then */
    for (unsigned i = 0; i < s->nev; i++) {
        if (mm_replay(r, &s->ev[i].op, &s->ev[i].res, err) != MM_OK)
            fail("mm_replay", err);
    }
    if (mm_seq(r) != mm_seq(s->m))
        fail("replay", "sequence numbers differ");
    c = mm_clone(s->m);
    if (c == NULL)
        fail("mm_clone", "out of memory");
    if (mm_snapshot(s->m, state) != MM_OK)
        fail("mm_snapshot", "failed");
    same_state(state, r, "replay");
    same_state(state, c, "clone");
    if (s->full) {
        if (mm_check_since(r, err) != MM_OK)
            fail("mm_check_since after replay", err);
        if (mm_check_since(c, err) != MM_OK)
            fail("mm_check_since after clone", err);
    }
    if (s->reports_alike) {
        want = scratch(BUF_WANT);
        render_all(s->m, want);
        if (want->oom)
            fail("reports", "out of host memory");
        if (s->peers & 1)
            same_reports(want, r, "replay");
        if (s->peers & 2)
            same_reports(want, c, "clone");
    }
    mm_destroy(r);
    mm_destroy(c);
}

/* Booted machines by their config: the bytes of the struct mm_config
 * (mm_config_default() zeroes it first), so inputs whose config parts
 * differ but give the same config (most mutants of a text config, preset
 * tweaks the preset already had) share one; with the mm_snapshot() bytes
 * each had when mm_create() returned it.  A miss boots a machine inside
 * the input, and an input that allocates more than it frees is run again
 * by libFuzzer for its leak check: keyed by the config part's bytes in
 * 64 direct-mapped slots, one input in 14 missed and 719 of -seed=1
 * -runs=20000 were such re-runs.  Now a config misses the first time it
 * is seen, then again only when CACHE_PROBE others took its slots (there
 * are 1,280 preset configs; text ones are unbounded).  Booting all preset
 * configs in LLVMFuzzerInitialize() instead cost 0.7 CPU-s per process
 * and 90 MB, more than the first-sight re-runs save in 20,000 runs. */
#define CACHE_SLOTS 4096                /* a power of two */
#define CACHE_PROBE 8                   /* slots a config may take */
static struct {
    bool used;
    struct mm_config cfg;
    struct mm_machine *m;
    struct mm_buf state;
} cache[CACHE_SLOTS];

/* The cache's key hash of @cfg: eight bytes a step (the struct is over
 * a kilobyte, hashed on every input; FNV-1a's byte loop was 3% of the
 * time), then the tail bytes. */
static uint32_t cfg_hash(const struct mm_config *cfg)
{
    const uint8_t *p = (const uint8_t *)cfg;
    uint64_t h = 0x9e3779b97f4a7c15u, w;
    size_t n = sizeof(*cfg);

    for (; n >= sizeof(w); p += sizeof(w), n -= sizeof(w)) {
        memcpy(&w, p, sizeof(w));
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    while (n-- > 0)
        h = (h ^ *p++) * 0x100000001b3u;
    return (uint32_t)(h ^ h >> 29);
}

/* The booted machine for @cfg, or NULL if it does not boot; borrowed from
 * the cache.  *@state: its snapshot as booted. */
static struct mm_machine *booted(const struct mm_config *cfg,
                                 const struct mm_buf **state)
{
    uint32_t h = cfg_hash(cfg);
    unsigned slot = h % CACHE_SLOTS;
    struct mm_machine *m;
    char err[MM_MSG_MAX];

    for (unsigned i = 0; i < CACHE_PROBE; i++) {
        unsigned k = (h + i) % CACHE_SLOTS;

        if (!cache[k].used) {
            slot = k;
            break;
        }
        if (memcmp(&cache[k].cfg, cfg, sizeof(*cfg)) == 0) {
            *state = &cache[k].state;
            return cache[k].m;
        }
    }
    *state = &cache[slot].state;
    if (mm_create(cfg, &m, err) != MM_OK)
        m = NULL;                       /* remembered too: it never boots */
    else if (mm_check(m, err) != MM_OK)
        fail("mm_check after mm_create", err);
    mm_destroy(cache[slot].m);
    cache[slot].used = true;
    cache[slot].cfg = *cfg;
    cache[slot].m = m;
    cache[slot].state.len = 0;
    if (m != NULL && mm_snapshot(m, &cache[slot].state) != MM_OK)
        fail("mm_snapshot after mm_create", "failed");
    return m;
}

/* The machine to replay onto, as booted: a clone of the cached booted
 * machine.  When @check_boot, its snapshot must still be the bytes it
 * had when mm_create() returned it (so neither the inputs run since nor
 * the clone changed it). */
static struct mm_machine *replay_target(struct mm_machine *boot,
                                        const struct mm_buf *state, bool check_boot)
{
    struct mm_machine *r = mm_clone(boot);

    if (r == NULL)
        fail("mm_clone", "out of memory");
    if (check_boot)
        same_state(state, r, "the replay's booted machine");
    return r;
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;

    while (n-- > 0)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static int full_checks = -1;            /* FUZZ_FULL_CHECKS set */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct event events[MAX_EVENTS];
    struct mm_machine *boot;
    const struct mm_buf *boot_state;
    struct mm_config cfg;
    struct state s;
    unsigned n = 0;

    if (size < 2)
        return 0;
    if (full_checks < 0)
        full_checks = getenv("FUZZ_FULL_CHECKS") != NULL;
    memset(&s, 0, sizeof(s));
    s.in.p = s.base = data;
    s.in.left = size;
    s.ev = events;
    s.seed = fnv1a(data, size);
    s.full = full_checks || s.seed % SAMPLE_EVERY == 0;
    s.every_op = full_checks;
    s.reports_alike = full_checks ||
                      (s.full && s.seed / SAMPLE_EVERY % REPORT_SAMPLE_EVERY == 0);
    s.peers = full_checks ? 3 : s.seed >> 12 & 1 ? 1 : 2;
    s.big = full_checks || s.seed / 16 % BIG_EVERY == 0; /* as ever: the corpus's */
    if (!pick_config(&s, &cfg))
        return 0;
    boot = booted(&cfg, &boot_state);
    if (boot == NULL)
        return 0;
    s.m = mm_clone(boot);
    if (s.m == NULL)
        fail("mm_clone", "out of memory");
    s.cpus = mm_machine_config(s.m)->cpus;
    mm_touched_clear(s.m);              /* booted() checked it whole */
    mm_since_clear(s.m);
    while (s.in.left > 0 && n < MAX_OPS) {
        s.nop = n++;
        one_op(&s);
    }
    check(&s, "the last op", true, s.full);
    if (s.full)
        replay(&s, replay_target(boot, boot_state, s.reports_alike));
    mm_destroy(s.m);
    return 0;
}

/* ---- structure-aware mutation ------------------------------------------
 * The mutator sees an input as its config part and a list of ops (found by
 * a dry run of the parser above, no machine) and edits whole ops: delete
 * one, duplicate one elsewhere, swap two, append a fresh one, or set an
 * operand to an address at a region boundary or a boundary size.  A
 * quarter of the time it leaves the bytes to libFuzzer's own mutator.
 * FUZZ_ENGINE_BYTES=1 turns it off (bytes only), to compare the two.
 */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1,
                                 const uint8_t *d2, size_t s2, uint8_t *out,
                                 size_t max_out, unsigned int seed);

/* Region edges of the 32-bit ARM kernel map (3G/2G splits), and sizes. */
static const uint32_t edges[] = {
    0x00000000, 0x00001000, 0x7f000000, 0x7fe00000, 0x80000000, 0xbf000000,
    0xbfe00000, 0xc0000000, 0xc0008000, 0xe0000000, 0xef800000, 0xf0000000,
    0xfe000000, 0xfee00000, 0xff000000, 0xffc00000, 0xffe00000, 0xfff00000,
    0xffff0000, 0xfffff000, 0xffffffff,
};
static const uint32_t sizes[] = {
    0, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x100000, 0x200000, 0x800000,
    0x8000000, 0x10000000, 0x7fffffff, 0xfffff000, 0xffffffff,
};

static uint32_t rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Finds the ops of @data; false if it has no config part to keep. */
static bool parse_layout(const uint8_t *data, size_t size, struct layout *lay)
{
    struct mm_config cfg;
    struct state s;
    unsigned n = 0;

    memset(&s, 0, sizeof(s));
    memset(lay, 0, offsetof(struct layout, op));
    s.in.p = s.base = data;
    s.in.left = size;
    s.lay = lay;
    if (size < 2 || !pick_config(&s, &cfg))
        return false;
    s.cpus = cfg.cpus;
    lay->head = (size_t)(s.in.p - data);
    lay->npicks = 0;
    while (s.in.left > 0 && n < MAX_SPANS) {
        lay->op[n++] = (size_t)(s.in.p - data);
        one_op(&s);
    }
    lay->nops = n;
    lay->op[n] = (size_t)(s.in.p - data);
    return true;
}

/* Replaces [at, at + len) of @data (@size bytes) with @with (@wlen). */
static size_t splice(uint8_t *data, size_t size, size_t max, size_t at,
                     size_t len, const uint8_t *with, size_t wlen)
{
    if (size - len + wlen > max)
        return 0;
    memmove(data + at + wlen, data + at + len, size - at - len);
    if (wlen > 0)
        memcpy(data + at, with, wlen);
    return size - len + wlen;
}

static size_t set_operand(uint8_t *data, size_t size, size_t max,
                          const struct layout *lay, uint32_t *x)
{
    size_t at = lay->pick[rnd(x) % lay->npicks];
    uint32_t v = rnd(x) & 1 ? edges[rnd(x) % (sizeof(edges) / 4)]
                            : sizes[rnd(x) % (sizeof(sizes) / 4)];
    uint8_t with[5] = { 0xff, (uint8_t)(v >> 24), (uint8_t)(v >> 16),
                        (uint8_t)(v >> 8), (uint8_t)v };
    size_t old = data[at] >= 0xc0 ? 5 : 1;

    if (rnd(x) % 4 == 0)
        v += rnd(x) % 3 - 1;            /* one either side */
    with[1] = (uint8_t)(v >> 24), with[2] = (uint8_t)(v >> 16);
    with[3] = (uint8_t)(v >> 8), with[4] = (uint8_t)v;
    if (at + old > size)
        old = size - at;
    return splice(data, size, max, at, old, with, sizeof(with));
}

static size_t op_edit(uint8_t *data, size_t size, size_t max,
                      const struct layout *lay, uint32_t *x)
{
    static struct layout one;
    uint8_t tmp[64];
    unsigned i = lay->nops > 0 ? rnd(x) % lay->nops : 0;
    unsigned j = rnd(x) % (lay->nops + 1);
    size_t a = lay->op[i], alen = lay->op[i + 1] - a;

    switch (lay->nops > 0 ? rnd(x) % 4 : 3) {
    case 0:                             /* delete op i */
        return lay->nops > 1 ? splice(data, size, max, a, alen, NULL, 0) : 0;
    case 1:                             /* op i again, before op j */
        if (alen > sizeof(tmp))
            return 0;
        memcpy(tmp, data + a, alen);
        return splice(data, size, max, lay->op[j], 0, tmp, alen);
    case 2: {                           /* swap ops i and j (i < j) */
        size_t b, blen, n;
        uint8_t *buf;

        if (j >= lay->nops || i == j)
            return 0;
        if (j < i) {
            unsigned t = i;

            i = j, j = t;
        }
        a = lay->op[i], alen = lay->op[i + 1] - a;
        b = lay->op[j], blen = lay->op[j + 1] - b;
        n = b + blen - a;
        buf = malloc(n);
        if (buf == NULL)
            return 0;
        memcpy(buf, data + b, blen);
        memcpy(buf + blen, data + a + alen, b - a - alen);
        memcpy(buf + blen + b - a - alen, data + a, alen);
        memcpy(data + a, buf, n);
        free(buf);
        return size;
    }
    default:                            /* a fresh op, before op j */
        for (size_t k = 0; k < sizeof(tmp); k++)
            tmp[k] = (uint8_t)rnd(x);
        tmp[0] &= rnd(x) % 4 == 0 ? 0xff : 0x7f;    /* mostly typed ops */
        {
            uint8_t probe[2 + sizeof(tmp)];

            /* Its length: parse it after a default-config header. */
            probe[0] = 0;
            probe[1] = data[1];
            memcpy(probe + 2, tmp, sizeof(tmp));
            if (!parse_layout(probe, sizeof(probe), &one) || one.nops == 0)
                return 0;
            return splice(data, size, max, lay->op[j], 0, tmp,
                          one.op[1] - one.op[0]);
        }
    }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    static struct layout lay;
    static int bytes = -1;
    uint32_t x = seed | 1;
    size_t out = 0;

    if (bytes < 0)
        bytes = getenv("FUZZ_ENGINE_BYTES") != NULL;
    if (!bytes && rnd(&x) % 4 != 0 && parse_layout(data, size, &lay)) {
        if (lay.npicks > 0 && rnd(&x) % 3 == 0)
            out = set_operand(data, size, max_size, &lay, &x);
        else
            out = op_edit(data, size, max_size, &lay, &x);
    }
    return out != 0 ? out : LLVMFuzzerMutate(data, size, max_size);
}

/* The config and first ops of @d1, then the ops of @d2 from one of them. */
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1,
                                 const uint8_t *d2, size_t s2, uint8_t *out,
                                 size_t max_out, unsigned int seed)
{
    static struct layout l1, l2;
    uint32_t x = seed | 1;
    size_t a, b;

    if (getenv("FUZZ_ENGINE_BYTES") != NULL)
        return 0;
    if (!parse_layout(d1, s1, &l1) || !parse_layout(d2, s2, &l2) ||
        l1.nops == 0 || l2.nops == 0)
        return 0;
    a = l1.op[rnd(&x) % (l1.nops + 1)];
    b = l2.op[rnd(&x) % l2.nops];
    if (a + (s2 - b) > max_out)
        return 0;
    memcpy(out, d1, a);
    memcpy(out + a, d2 + b, s2 - b);
    return a + (s2 - b);
}
