/* client/cli_fuzz_shrink.c - running, replaying and shrinking op sequences.
 *
 * fz_run_batch() sends one batch and checks its answers in order;
 * fz_replay() runs a sequence on a fresh machine; fz_shrink() deletes
 * chunks of a failing sequence while a fresh machine still disagrees,
 * within SHRINK_RUNS runs and SHRINK_SECONDS.
 */
#include "cli_fuzz.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- running sequences ----------------------------------------------------
 */


bool fz_history_add(struct history *h, const struct fop *f)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 256;
        struct fop *no = realloc(h->ops, ncap * sizeof(*no));

        if (!no)
            return false;
        h->ops = no;
        h->cap = ncap;
    }
    h->ops[h->n] = *f;
    h->ops[h->n].op.args = h->ops[h->n].args;
    h->n++;
    return true;
}


static int run_batch_in(struct cli *c, uint64_t id, struct model *m,
                        struct fop *ops, size_t n, size_t base,
                        struct failure *fail, struct armmap_op *batch,
                        struct armmap_op_result *res);

/* Sends @n ops as one batch to @id and checks them; *@fail on disagreement. */
int fz_run_batch(struct cli *c, uint64_t id, struct model *m, struct fop *ops,
                 size_t n, size_t base, struct failure *fail)
{
    struct armmap_op *batch = malloc(n * sizeof(*batch));
    struct armmap_op_result *res = malloc(n * sizeof(*res));
    int rc;

    if (!batch || !res) {
        free(batch);
        free(res);
        return cli_local_error(c, "out of memory");
    }
    rc = run_batch_in(c, id, m, ops, n, base, fail, batch, res);
    free(batch);
    free(res);
    return rc;
}

/* fz_run_batch() with its arrays. */
static int run_batch_in(struct cli *c, uint64_t id, struct model *m,
                        struct fop *ops, size_t n, size_t base,
                        struct failure *fail, struct armmap_op *batch,
                        struct armmap_op_result *res)
{
    enum armmap_status st;
    size_t i, got;
    bool ok;
    int rc;

    for (i = 0; i < n; i++) {
        batch[i] = ops[i].op;
        batch[i].args = ops[i].args;
    }
    for (i = 0; m->trace && i < n; i++) {
        char l[128];

        armmap_format_op(&batch[i], l, sizeof(l));
        fprintf(stderr, "fuzz: %" PRIu64 " #%zu send %s\n", id, base + i, l);
    }
    st = armmap_batch(c->conn, id, batch, n, false, res, &got);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    for (i = 0; i < got; i++) {
        if ((unsigned)res[i].status < ARMMAP_NO_SOCKET) {
            m->seen[res[i].status]++;
            if ((unsigned)batch[i].code < NR_FUZZ_OPS)
                m->cov[batch[i].code][res[i].status]++;
        }
        if (m->trace) {
            char l[128];

            armmap_format_op(&batch[i], l, sizeof(l));
            fprintf(stderr, "fuzz: %" PRIu64 " #%zu %s -> %s 0x%x aux %u\n", id,
                    base + i, l, armmap_strerror(res[i].status), res[i].value,
                    res[i].aux);
        }
        if (!fz_check_op(m, &batch[i], &res[i], fail->why)) {
            fail->found = true;
            fail->index = base + i;
            return 0;
        }
    }
    if (got != n) {
        fail->found = true;
        fail->index = base + got;
        fz_why(fail->why, "batch of %zu ops answered with %zu results", n, got);
        return 0;
    }
    rc = fz_check_translations(c, id, m, &ok, fail->why);
    if (rc)
        return rc;
    if (!ok) {
        fail->found = true;
        fail->translation = true;
        fail->index = base + n - 1;
    }
    return 0;
}


int fz_create_machine(struct cli *c, const struct fuzz_cfg *cfg, uint64_t *id)
{
    struct armmap_machine *mach;
    enum armmap_status st;

    st = armmap_create(c->conn, cfg->preset, cfg->settings, cfg->nsettings,
                       "fuzz", &mach);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    *id = mach->id;
    armmap_machine_free(mach);
    return 0;
}

/* Replays @ops on a fresh machine; *@fail says whether they disagree. */
int fz_replay(struct cli *c, const struct fuzz_cfg *cfg, struct fop *ops,
              size_t n, struct model *m, struct failure *fail)
{
    char why[WHY_MAX];
    uint64_t id = 0; /* set by fz_create_machine() on 0 */
    size_t i, k;
    int rc;

    memset(fail, 0, sizeof(*fail));
    if ((rc = fz_create_machine(c, cfg, &id)))
        return rc;
    rc = fz_model_init(c, m, id, cfg->inject, why);
    for (i = 0; rc == 0 && i < n && !fail->found; i += k) {
        k = n - i < cfg->batch ? n - i : cfg->batch;
        rc = fz_run_batch(c, id, m, ops + i, k, i, fail);
    }
    armmap_destroy(c->conn, id);
    return rc;
}

/* Deletes chunks of @h while the rest still disagrees. */
int fz_shrink(struct cli *c, const struct fuzz_cfg *cfg, struct history *h,
              struct model *m, struct failure *best, unsigned *runs)
{
    struct fop *cand = malloc((h->n + 1) * sizeof(*cand));
    size_t chunk = h->n / 2 ? h->n / 2 : 1, i;
    time_t start = time(NULL);
    struct failure f;
    int rc = 0;

    if (!cand)
        return cli_local_error(c, "out of memory");
    while (chunk >= 1 && rc == 0) {
        bool progress = false;

        for (i = 0; i < h->n && h->n > 1 && rc == 0;) {
            size_t k = chunk < h->n - i ? chunk : h->n - i, j;

            if (*runs >= SHRINK_RUNS || time(NULL) - start > SHRINK_SECONDS)
                break;
            memcpy(cand, h->ops, i * sizeof(*cand));
            memcpy(cand + i, h->ops + i + k, (h->n - i - k) * sizeof(*cand));
            for (j = 0; j < h->n - k; j++)
                cand[j].op.args = cand[j].args;
            (*runs)++;
            rc = fz_replay(c, cfg, cand, h->n - k, m, &f);
            if (rc == 0 && f.found) {
                /* Keep the prefix up to the new failure point only. */
                h->n = f.index + 1;
                memcpy(h->ops, cand, h->n * sizeof(*cand));
                for (j = 0; j < h->n; j++)
                    h->ops[j].op.args = h->ops[j].args;
                *best = f;
                progress = true;
            } else {
                i += k;
            }
        }
        if (*runs >= SHRINK_RUNS || time(NULL) - start > SHRINK_SECONDS)
            break;
        if (!progress)
            chunk /= 2;
        else if (chunk > h->n / 2 && h->n > 1)
            chunk = h->n / 2;
    }
    free(cand);
    return rc;
}

void fz_print_ops(const struct cli *c, const struct history *h,
                  const struct failure *f)
{
    char line[256];
    size_t i;

    for (i = 0; i < h->n; i++) {
        struct armmap_op op = h->ops[i].op;

        op.args = h->ops[i].args; /* the array may have moved */
        armmap_format_op(&op, line, sizeof(line));
        if (c->json) {
            fputs(i ? "," : "", stdout);
            cli_json_str(stdout, line);
        } else {
            printf("  %s%s%s\n", line, i == f->index ? "    # <- " : "",
                   i == f->index
                       ? (f->translation ? "translation check after this op"
                                         : "disagrees")
                       : "");
        }
    }
}
