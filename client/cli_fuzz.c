/* client/cli_fuzz.c - `armmap fuzz`: random op sequences against a model.
 *
 * The fuzzer keeps its own small model of each machine, written from the
 * kernel's rules and not from the engine: the blocks it allocated, the
 * pkmap window (pkmap_count[] with 0 free, 1 mapped but unused, n = n-1
 * users; the round-robin scan from last_pkmap_nr + 1 that flushes the
 * count-1 slots when it wraps to slot 0; WOULD_BLOCK when every slot has
 * users), the per-CPU kmap_atomic stacks (push, pop only from the top,
 * ORDER otherwise; a page already in pkmap is shared through
 * kmap_high_get()), and the vmalloc, vmap, ioremap and module areas.
 *
 * The model is a checker, not a predictor: ops are generated from its
 * state at the start of a batch, and after the batch answers, every
 * (op, result) pair is checked in order against the model, which then
 * applies the op.  So any op sequence can be checked, including the cut
 * down sequences the shrinker tries.  Where the kernel fixes the answer
 * (pkmap addresses, users left, error codes of invalid ops, the pages an
 * area maps) it is checked exactly; where the allocator chooses (the pfn
 * alloc returns, the address vmalloc or a first kmap_atomic picks) the
 * properties that must hold are checked: alignment, the right zone or
 * window, no overlap with a live block or area, and after every batch
 * every live mapping is translated and compared with the pages it maps.
 *
 * On a disagreement the failing machine's ops are shrunk (chunks deleted
 * while a fresh machine still disagrees) and the shortest sequence found
 * is printed as `armmap batch` lines.  Everything is deterministic for a
 * seed, because the engine is.
 *
 * --inject-bug makes the model scan pkmap from last_pkmap_nr instead of
 * last_pkmap_nr + 1: a wrong expectation, to test the reporting and the
 * shrinker.  A run covers one seed or a range (--seeds), each with the
 * same config (a preset and create flags) or one drawn per seed
 * (--config-random), within --time; coverage (answers per op) is printed
 * per seed and the totals with ops/s last.
 */
#include "cli_fuzz.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the run: seeds, configs, totals ------------------------------------ */

/* Answers over the machines of a run, by status and by op and status. */
struct fuzz_totals {
    unsigned long seen[ARMMAP_NO_SOCKET];
    unsigned long cov[NR_FUZZ_OPS][ARMMAP_NO_SOCKET];
    size_t ops;
    bool highmem; /* some machine had a HighMem zone (pkmap) */
    bool stack;   /* some machine's kmap_atomic was a stack (not km_type) */
};

struct fuzz_opts {
    uint32_t nops; /* per seed; 0: until --time runs out */
    uint32_t nmach;
    uint64_t seed_lo, seed_hi;
    double seconds; /* --time; 0: none */
    bool random_cfg, keep, no_shrink, trace;
    const char *corpus; /* --corpus DIR, or NULL */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void totals_add(struct fuzz_totals *t, const struct model *m)
{
    unsigned k, o;

    t->highmem |= m->has_pkmap;
    t->stack |= !m->km_type;
    for (k = 0; k < ARMMAP_NO_SOCKET; k++) {
        t->seen[k] += m->seen[k];
        for (o = 0; o < NR_FUZZ_OPS; o++)
            t->cov[o][k] += m->cov[o][k];
    }
}

/* "OK 2101, INVALID_ARGUMENT 212" or, in JSON, {"OK":2101,...}. */
static void print_counts(bool json, const unsigned long *cnt)
{
    bool first = true;
    unsigned k;

    if (json)
        fputc('{', stdout);
    for (k = 0; k < ARMMAP_NO_SOCKET; k++) {
        if (!cnt[k])
            continue;
        if (json)
            cli_json_ku64(stdout, &first,
                          armmap_strerror((enum armmap_status)k), cnt[k]);
        else
            printf("%s%s %lu", first ? " " : ", ",
                   armmap_strerror((enum armmap_status)k), cnt[k]);
        first = false;
    }
    if (json)
        fputc('}', stdout);
}

/* The codes the op mix aims at; those a run never got are "not reached". */
static const enum armmap_status aimed[] = {
    ARMMAP_OK,        ARMMAP_INVALID_ARGUMENT, ARMMAP_NOT_FOUND,
    ARMMAP_NO_MEMORY, ARMMAP_WOULD_BLOCK,      ARMMAP_ORDER,
};

/*
 * Coverage of a run: per op, the answers it got; then the aimed-at codes
 * never answered.  Text: "fuzz: coverage: kmap OK 310, WOULD_BLOCK 3"
 * lines; JSON: "coverage":{"kmap":{"OK":310,...},...},"not_reached":[...]
 * (fields of an object the caller opened).
 */
static void print_coverage(bool json, const struct fuzz_totals *t)
{
    bool first = true;
    unsigned o, k;

    if (json)
        fputs(",\"coverage\":{", stdout);
    for (o = 1; o < NR_FUZZ_OPS; o++) {
        unsigned long sum = 0;

        for (k = 0; k < ARMMAP_NO_SOCKET; k++)
            sum += t->cov[o][k];
        if (!sum)
            continue;
        if (json) {
            cli_json_key(stdout, &first, armmap_op_name((enum armmap_opcode)o));
        } else {
            printf("fuzz: coverage: %s", armmap_op_name((enum armmap_opcode)o));
        }
        print_counts(json, t->cov[o]);
        if (!json)
            fputc('\n', stdout);
    }
    if (json)
        fputs("},\"not_reached\":[", stdout);
    else
        printf("fuzz: not reached:");
    first = true;
    for (k = 0; k < sizeof(aimed) / sizeof(aimed[0]); k++) {
        if (t->seen[aimed[k]])
            continue;
        if (json)
            printf("%s\"%s\"", first ? "" : ",", armmap_strerror(aimed[k]));
        else
            printf("%s %s", first ? "" : ",", armmap_strerror(aimed[k]));
        first = false;
    }
    /* Without HighMem, kmap and kmap_atomic of a lowmem page return its
     * lowmem address: no pkmap slot to wait for, no stack to unwind. */
    if (json)
        printf("],\"highmem\":%s,\"km_type\":%s", t->highmem ? "true" : "false",
               t->stack ? "false" : "true");
    else
        printf("%s%s%s\n", first ? " none" : "",
               t->highmem ? ""
                          : " (no HighMem zone: WOULD_BLOCK and ORDER cannot "
                            "happen)",
               t->highmem && !t->stack
                   ? " (km_type kmap_atomic: no stack, so no ORDER)"
                   : "");
}

/* "aries" or "aries kernel=4.4 split=1G": the preset and the settings. */
static void cfg_text(const struct fuzz_cfg *cfg, char *buf, size_t size)
{
    size_t i, n;

    n = (size_t)snprintf(buf, size, "%s", cfg->preset);
    for (i = 0; i < cfg->nsettings && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, " %s=%s", cfg->settings[i].key,
                              cfg->settings[i].value);
}

static void cfg_set(struct fuzz_cfg *cfg, const char *key, const char *value)
{
    size_t i = cfg->nsettings++;

    snprintf(cfg->values[i], sizeof(cfg->values[i]), "%s", value);
    cfg->settings[i].key = key;
    cfg->settings[i].value = cfg->values[i];
}

/*
 * --config-random: a config drawn from @seed across presets, kernel eras
 * (km_type, stack and local kmap_atomic), splits, CPU counts, vmalloc
 * sizes and highmem.  Kernels before 3.4 get a VMALLOC_END,
 * which they set per platform.  The engine may refuse a draw (lowmem that
 * does not fit a split): the caller draws again.
 */
static void draw_config(struct fuzz_cfg *cfg, struct rng *r)
{
    static const char *const presets[] = { "aries", "qemu-virt",
                                           "beaglebone-black", "rpi2" };
    static const char *const kernels[] = { "2.6.35", "2.6.36", "2.6.38", "3.0",
                                           "3.4",    "3.10",   "4.4",    "4.9",
                                           "4.19",   "5.4",    "5.10",   "5.15",
                                           "6.1" };
    static const char *const split_names[] = { "3G", "2G", "1G", "3G_OPT" };
    const char *k;
    char cpus[8];

    cfg->nsettings = 0;
    cfg->preset = presets[rnd_below(r, 4)];
    if (rnd_below(r, 4)) {
        k = kernels[rnd_below(r, sizeof(kernels) / sizeof(kernels[0]))];
        cfg_set(cfg, "kernel", k);
        if (k[0] == '2' || strcmp(k, "3.0") == 0)
            cfg_set(cfg, "vmalloc_end", "0xf0000000");
    }
    if (rnd_below(r, 2))
        cfg_set(cfg, "split", split_names[rnd_below(r, 4)]);
    if (rnd_below(r, 2)) {
        snprintf(cpus, sizeof(cpus), "%u", 1 + rnd_below(r, 4));
        cfg_set(cfg, "cpus", cpus);
    }
    /* A bigger vmalloc area leaves less lowmem, so that the small presets
     * get a HighMem zone (pkmap, kmap_atomic stacks) too. */
    if (rnd_below(r, 3) == 0)
        cfg_set(cfg, "vmalloc", "600M");
    if (rnd_below(r, 8) == 0)
        cfg_set(cfg, "highmem", "off");
}

/* Boots one machine per the config, or for --config-random draws until
 * the engine takes one (at most 64 draws). */
static int config_for_seed(struct cli *c, struct fuzz_cfg *cfg,
                           const struct fuzz_opts *o, uint64_t seed)
{
    struct armmap_machine *mach;
    enum armmap_status st;
    struct rng r;
    unsigned tries;

    if (!o->random_cfg)
        return 0;
    r.s = seed * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
    for (tries = 0; tries < 64; tries++) {
        draw_config(cfg, &r);
        st = armmap_create(c->conn, cfg->preset, cfg->settings, cfg->nsettings,
                           "fuzz-probe", &mach);
        if (st == ARMMAP_OK) {
            armmap_destroy(c->conn, mach->id);
            armmap_machine_free(mach);
            return 0;
        }
        if (st != ARMMAP_INVALID_ARGUMENT)
            return cli_fail(c, st);
    }
    return cli_local_error(c, "seed %" PRIu64 ": no config drawn boots", seed);
}

/* Prints the shrunk reproduction of a disagreement. */
static void print_finding(struct cli *c, const struct fuzz_cfg *cfg,
                          uint64_t seed, struct history *h,
                          const struct failure *best, unsigned runs,
                          uint64_t kept)
{
    char desc[256];

    cfg_text(cfg, desc, sizeof(desc));
    if (c->json) {
        printf("{\"seed\":%" PRIu64 ",\"status\":\"disagreement\",\"preset\":",
               seed);
        cli_json_str(stdout, cfg->preset);
        fputs(",\"config\":", stdout);
        cli_json_str(stdout, desc);
        printf(",\"shrink_runs\":%u,\"message\":", runs);
        cli_json_str(stdout, best->why);
        if (kept)
            printf(",\"kept\":%" PRIu64, kept);
        fputs(",\"ops\":[", stdout);
        fz_print_ops(c, h, best);
        fputs("]}\n", stdout);
        return;
    }
    printf("fuzz: seed %" PRIu64 ": disagreement: %s\n", seed, best->why);
    printf("fuzz: shortest reproduction: %zu ops on a fresh %s machine "
           "(%u shrink runs):\n",
           h->n, desc, runs);
    fz_print_ops(c, h, best);
    if (kept)
        printf("fuzz: kept machine %" PRIu64 " (named \"fuzz\"), which "
               "disagreed\n",
               kept);
}

/* Saves the finding @h (failing at @best) as a case in o->corpus: the
 * answers of a fresh machine, and the model's where it names one. */
static int save_case(struct cli *c, const struct fuzz_cfg *cfg,
                     const struct fuzz_opts *o, uint64_t seed,
                     const struct history *h, const struct failure *best)
{
    struct armmap_op_result *res = calloc(h->n + 1, sizeof(*res));
    struct armmap_op *ops = calloc(h->n + 1, sizeof(*ops));
    struct armmap_machine *m = NULL;
    struct cli_case k;
    enum armmap_status st;
    char path[4096];
    size_t i, got, step;
    int rc = 0;

    if (!res || !ops) {
        rc = cli_local_error(c, "out of memory");
        goto out;
    }
    for (i = 0; i < h->n; i++) {
        ops[i] = h->ops[i].op;
        ops[i].args = h->ops[i].args;
    }
    st = armmap_create(c->conn, cfg->preset, cfg->settings, cfg->nsettings,
                       "fuzz-case", &m);
    for (i = 0; st == ARMMAP_OK && i < h->n; i += step) {
        step = h->n - i < cfg->batch ? h->n - i : cfg->batch;
        st = armmap_batch(c->conn, m->id, ops + i, step, false, res + i, &got);
    }
    if (m)
        armmap_destroy(c->conn, m->id);
    if (st != ARMMAP_OK) {
        rc = cli_fail(c, st);
        goto out;
    }
    k.seed = seed;
    k.preset = cfg->preset;
    k.settings = cfg->settings;
    k.nsettings = cfg->nsettings;
    k.ops = ops;
    k.results = res;
    k.n = h->n;
    k.fail_index = best->index;
    k.why = best->why;
    rc = cli_case_write(c, o->corpus, &k, path, sizeof(path));
    if (rc == 0 && !c->json)
        printf("fuzz: saved %s\n", path);
out:
    armmap_machine_free(m);
    free(res);
    free(ops);
    return rc;
}

/* Shrinks machine @mi's history after @fail and prints it; exit 5. */
static int report_finding(struct cli *c, const struct fuzz_cfg *cfg,
                          const struct fuzz_opts *o, uint64_t seed,
                          struct history *h, struct model *scratch,
                          const struct failure *fail, uint64_t kept)
{
    struct failure best = *fail;
    unsigned runs = 0;
    int rc = 0;

    h->n = fail->index + 1;
    if (!o->no_shrink)
        rc = fz_shrink(c, cfg, h, scratch, &best, &runs);
    if (rc == 0) /* confirm the final sequence and take its message */
        rc = fz_replay(c, cfg, h->ops, h->n, scratch, &best);
    if (rc)
        return rc;
    if (!best.found)
        best = *fail;
    print_finding(c, cfg, seed, h, &best, runs, kept);
    if (o->corpus && (rc = save_case(c, cfg, o, seed, h, &best)))
        return rc;
    return CLI_EXIT_FUZZ;
}

/* The per-seed summary of a clean run. */
static void print_clean(struct cli *c, const struct fuzz_cfg *cfg,
                        uint64_t seed, size_t done, unsigned nmach,
                        const struct fuzz_totals *t)
{
    char desc[256];

    cfg_text(cfg, desc, sizeof(desc));
    if (c->json) {
        printf("{\"seed\":%" PRIu64 ",\"ops\":%zu,\"machines\":%u,\"preset\":",
               seed, done, nmach);
        cli_json_str(stdout, cfg->preset);
        fputs(",\"config\":", stdout);
        cli_json_str(stdout, desc);
        fputs(",\"status\":\"clean\",\"answers\":", stdout);
        print_counts(true, t->seen);
        print_coverage(true, t);
        fputs("}\n", stdout);
        return;
    }
    printf("fuzz: seed %" PRIu64 ": %zu ops on %u %s machines: no "
           "disagreement\n",
           seed, done, nmach, desc);
    printf("fuzz: answers:");
    print_counts(false, t->seen);
    fputc('\n', stdout);
    print_coverage(false, t);
}

/*
 * One seed: boots the machines, drives ops in batches round-robin until
 * the op count or the deadline, checks every answer.  Adds to @all;
 * returns 0 when clean, 5 after printing a finding, or an error status.
 */
static int fuzz_seed(struct cli *c, struct fuzz_cfg *cfg,
                     const struct fuzz_opts *o, uint64_t seed, double deadline,
                     struct fuzz_totals *all)
{
    struct model *models = calloc(o->nmach, sizeof(*models));
    struct model *scratch = calloc(1, sizeof(*scratch));
    struct history *hist = calloc(o->nmach, sizeof(*hist));
    uint64_t *ids = calloc(o->nmach, sizeof(*ids)), kept = 0;
    struct fop *ops = malloc(cfg->batch * sizeof(*ops));
    struct fuzz_totals t;
    struct failure fail;
    char why[WHY_MAX];
    struct rng rng;
    size_t done = 0, i, k;
    unsigned mi = 0;
    int rc = 0;

    memset(&t, 0, sizeof(t));
    memset(&fail, 0, sizeof(fail));
    if (!models || !scratch || !hist || !ids || !ops) {
        rc = cli_local_error(c, "out of memory");
        goto out;
    }
    for (i = 0; i < o->nmach && rc == 0; i++) {
        rc = fz_create_machine(c, cfg, &ids[i]);
        if (rc == 0)
            rc = fz_model_init(c, &models[i], ids[i], cfg->inject, why);
        models[i].trace = o->trace;
        if (rc == CLI_EXIT_USAGE)
            cli__usage_error(c, "%s", why);
    }
    if (rc)
        goto out;
    rng.s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (rng.s == 0)
        rng.s = 1;
    while ((o->nops == 0 || done < o->nops) && !fail.found) {
        size_t base = hist[mi].n;

        if (deadline > 0 && now_s() >= deadline)
            break;
        k = o->nops && o->nops - done < cfg->batch ? o->nops - done
                                                   : cfg->batch;
        models[mi].gen_blocks = models[mi].gen_areas = 0;
        for (i = 0; i < k; i++) {
            fz_gen_op(&rng, &models[mi], &ops[i]);
            if (!fz_history_add(&hist[mi], &ops[i])) {
                rc = cli_local_error(c, "out of memory");
                goto out;
            }
        }
        /* The model generated from its state at the start of the batch;
         * the checker replays from that same state. */
        rc = fz_run_batch(c, ids[mi], &models[mi], hist[mi].ops + base, k, base,
                          &fail);
        if (rc)
            goto out;
        done += k;
        if (!fail.found)
            mi = (mi + 1) % o->nmach;
    }
    for (i = 0; i < o->nmach; i++)
        totals_add(&t, &models[i]);
    t.ops = done;
    for (i = 0; i < o->nmach; i++)
        totals_add(all, &models[i]);
    all->ops += done;
    if (!fail.found) {
        print_clean(c, cfg, seed, done, o->nmach, &t);
        goto out;
    }
    if (!c->json)
        fprintf(stderr,
                "armmap: fuzz: seed %" PRIu64 ": machine %" PRIu64
                " op %zu: %s\n",
                seed, ids[mi], fail.index, fail.why);
    if (o->keep) {
        kept = ids[mi];
        ids[mi] = 0; /* not destroyed below */
    }
    rc = report_finding(c, cfg, o, seed, &hist[mi], scratch, &fail, kept);
out:
    for (i = 0; ids && i < o->nmach; i++)
        if (ids[i])
            armmap_destroy(c->conn, ids[i]);
    for (i = 0; hist && i < o->nmach; i++)
        free(hist[i].ops);
    free(hist);
    free(ids);
    free(models);
    free(scratch);
    free(ops);
    return rc;
}

/* The last line: every seed's ops, the time, ops/s and answers. */
static void print_total(struct cli *c, const struct fuzz_totals *t,
                        unsigned long nseeds, double secs, int rc)
{
    double rate = secs > 0 ? (double)t->ops / secs : 0;

    if (c->json) {
        printf("{\"total\":true,\"seeds\":%lu,\"ops\":%zu,\"seconds\":%.3f,"
               "\"ops_per_s\":%.0f,\"status\":\"%s\",\"answers\":",
               nseeds, t->ops, secs, rate,
               rc == CLI_EXIT_FUZZ ? "disagreement" : "clean");
        print_counts(true, t->seen);
        fputs("}\n", stdout);
        return;
    }
    printf("fuzz: total: %lu seed%s, %zu ops in %.2f s, %.0f ops/s; answers:",
           nseeds, nseeds == 1 ? "" : "s", t->ops, secs, rate);
    print_counts(false, t->seen);
    fputc('\n', stdout);
}

/* "A..B" or "A" into [*lo, *hi]. */
static bool parse_seeds(struct cli *c, const char *v, uint64_t *lo,
                        uint64_t *hi)
{
    const char *dots = strstr(v, "..");
    char first[32];

    if (!dots)
        return cli_u64_arg(c, v, "seed", lo) && (*hi = *lo, true);
    if ((size_t)(dots - v) >= sizeof(first)) {
        cli__usage_error(c, "bad seeds '%s': expected A..B", v);
        return false;
    }
    memcpy(first, v, (size_t)(dots - v));
    first[dots - v] = '\0';
    if (!cli_u64_arg(c, first, "seed", lo) ||
        !cli_u64_arg(c, dots + 2, "seed", hi))
        return false;
    if (*lo > *hi) {
        cli__usage_error(c, "bad seeds '%s': A is above B", v);
        return false;
    }
    return true;
}

/* The fuzz options, in the order of vals[] after the create flags. */
enum {
    FZ_PRESET,
    FZ_OPS,
    FZ_SEED,
    FZ_SEEDS,
    FZ_MACHINES,
    FZ_BATCH,
    FZ_TIME,
    FZ_CONFIG_RANDOM,
    FZ_KEEP,
    FZ_INJECT,
    FZ_NO_SHRINK,
    FZ_TRACE,
    FZ_CORPUS,
    NR_FZ
};

static const struct cli_opt fuzz_opts_defs[NR_FZ] = {
    [FZ_PRESET] = { "--preset", true },
    [FZ_OPS] = { "--ops", true },
    [FZ_SEED] = { "--seed", true },
    [FZ_SEEDS] = { "--seeds", true },
    [FZ_MACHINES] = { "--machines", true },
    [FZ_BATCH] = { "--batch", true },
    [FZ_TIME] = { "--time", true },
    [FZ_CONFIG_RANDOM] = { "--config-random", false },
    [FZ_KEEP] = { "--keep", false },
    [FZ_INJECT] = { "--inject-bug", false },
    [FZ_NO_SHRINK] = { "--no-shrink", false },
    [FZ_TRACE] = { "--trace", false },
    [FZ_CORPUS] = { "--corpus", true },
};

/* Checks the fuzz options in @v into @o and @cfg; -1 or an exit status. */
static int fuzz_parse(struct cli *c, const char **v, struct fuzz_opts *o,
                      struct fuzz_cfg *cfg)
{
    uint32_t batch = 64, secs = 0;

    o->nops = 2000;
    o->nmach = 2;
    o->seed_lo = o->seed_hi = 1;
    if (v[FZ_OPS] && !cli_u32_arg(c, v[FZ_OPS], "ops", &o->nops))
        return CLI_EXIT_USAGE;
    if (v[FZ_OPS] && o->nops == 0)
        return cli_usage_error(c, "bad ops '0': use 1 or more");
    if (v[FZ_SEED] && v[FZ_SEEDS])
        return cli_usage_error(c, "--seed and --seeds: give one of them");
    if (v[FZ_SEED] && !cli_u64_arg(c, v[FZ_SEED], "seed", &o->seed_lo))
        return CLI_EXIT_USAGE;
    o->seed_hi = o->seed_lo;
    if (v[FZ_SEEDS] && !parse_seeds(c, v[FZ_SEEDS], &o->seed_lo, &o->seed_hi))
        return CLI_EXIT_USAGE;
    if (v[FZ_MACHINES] &&
        !cli_u32_arg(c, v[FZ_MACHINES], "machines", &o->nmach))
        return CLI_EXIT_USAGE;
    if (o->nmach < 1 || o->nmach > MAX_MACHINES)
        return cli_usage_error(c, "bad machines '%s': use 1..%u",
                               v[FZ_MACHINES], MAX_MACHINES);
    if (v[FZ_BATCH] && !cli_u32_arg(c, v[FZ_BATCH], "batch", &batch))
        return CLI_EXIT_USAGE;
    if (batch < 1 || batch > MAX_BATCH)
        return cli_usage_error(c, "bad batch '%s': use 1..%u", v[FZ_BATCH],
                               MAX_BATCH);
    if (v[FZ_TIME] && !cli_u32_arg(c, v[FZ_TIME], "time", &secs))
        return CLI_EXIT_USAGE;
    if (v[FZ_TIME] && secs == 0)
        return cli_usage_error(c, "bad time '0': use 1 or more seconds");
    if (v[FZ_TIME] && !v[FZ_OPS])
        o->nops = 0; /* until the time runs out */
    o->seconds = secs;
    o->random_cfg = v[FZ_CONFIG_RANDOM] != NULL;
    o->keep = v[FZ_KEEP] != NULL;
    o->no_shrink = v[FZ_NO_SHRINK] != NULL;
    o->trace = v[FZ_TRACE] != NULL;
    o->corpus = v[FZ_CORPUS];
    if (o->random_cfg && (v[FZ_PRESET] || cfg->nsettings))
        return cli_usage_error(c, "--config-random draws the config: no "
                                  "--preset or config flags with it");
    cfg->preset = v[FZ_PRESET] ? v[FZ_PRESET] : "aries";
    cfg->batch = batch;
    cfg->inject = v[FZ_INJECT] != NULL;
    return -1;
}

int cli_cmd_fuzz(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("fuzz");
    struct cli_opt defs[NR_FZ + MAX_SETTINGS + 1];
    const char *vals[NR_FZ + MAX_SETTINGS + 1];
    struct fuzz_totals all;
    struct fuzz_opts o;
    struct fuzz_cfg cfg;
    unsigned long nseeds = 0;
    double t0, deadline = 0;
    uint64_t seed;
    char *pos[1];
    size_t i;
    int n, rc;

    memset(&cfg, 0, sizeof(cfg));
    memset(&all, 0, sizeof(all));
    memcpy(defs, fuzz_opts_defs, sizeof(fuzz_opts_defs));
    for (i = 0; i < cli_nr_create_flags && i < MAX_SETTINGS; i++) {
        defs[NR_FZ + i].name = cli_create_flags[i].flag;
        defs[NR_FZ + i].has_arg = true;
    }
    defs[NR_FZ + i].name = NULL;
    if ((rc = cli_scan(c, cmd, argc, argv, defs, vals, pos, 0, &n)) >= 0)
        return rc;
    for (i = 0; i < cli_nr_create_flags && i < MAX_SETTINGS; i++) {
        if (!vals[NR_FZ + i])
            continue;
        if (!cli_check_create_flag(c, &cli_create_flags[i], vals[NR_FZ + i]))
            return CLI_EXIT_USAGE;
        cfg.settings[cfg.nsettings].key = cli_create_flags[i].key;
        cfg.settings[cfg.nsettings++].value = vals[NR_FZ + i];
    }
    if ((rc = fuzz_parse(c, vals, &o, &cfg)) >= 0)
        return rc;
    if ((rc = cli_connect(c)))
        return rc;
    t0 = now_s();
    if (o.seconds > 0)
        deadline = t0 + o.seconds;
    for (seed = o.seed_lo; rc == 0; seed++) {
        if (nseeds && deadline > 0 && now_s() >= deadline)
            break;
        rc = config_for_seed(c, &cfg, &o, seed);
        if (rc == 0)
            rc = fuzz_seed(c, &cfg, &o, seed, deadline, &all);
        nseeds++;
        fflush(stdout);
        if (seed == o.seed_hi)
            break;
    }
    if (rc == 0 || rc == CLI_EXIT_FUZZ)
        print_total(c, &all, nseeds, now_s() - t0, rc);
    return rc;
}
