/* client/cli_case.c - case files: kept fuzz findings, and `armmap replay`.
 *
 * A case file is text, one item a line, '#' comments:
 *
 *     # armmap case: seed 3: expected value 0xbfe00000, daemon answered ...
 *     preset aries
 *     set kernel=5.10
 *     alloc --zone highmem => OK 0xff2fe
 *     kmap 0xff2fe => OK 0xbfe00000
 *     kunmap 0xafa00 => NOT_FOUND
 *
 * "preset" and "set KEY=VALUE" lines give the machine's config (as
 * `armmap create --preset P --KEY VALUE`); every other line is an op in
 * the words of `armmap batch` and, after "=>", the expected answer: the
 * status and, for OK, the value.  `armmap replay` boots a fresh machine
 * per case, applies the ops in batches and compares every answer in order;
 * the first that differs is named (file, line, op, expected and got) and
 * the exit status is 5.  So a directory of kept findings is a test suite.
 *
 * `armmap fuzz --corpus DIR` writes one case per finding: the shrunk ops
 * with the answers a fresh machine gave, except the op the model disagreed
 * with, whose expected answer is the model's when its message names one
 * ("expected value V" or "expected CODE"); replay then fails on that op
 * until the daemon is fixed.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CASE_LINE_MAX 8192
#define CASE_BATCH    1024

/* One op of a case and its expected answer. */
struct case_op {
    struct armmap_op op;
    uint32_t *args;
    enum armmap_status want;
    uint32_t want_value;
    unsigned line;
    char text[160];
};

struct case_file {
    char preset[64];
    struct armmap_setting settings[32];
    char *values[32];
    size_t nsettings;
    struct case_op *ops;
    size_t n, cap;
};

/* The status called @name ("OK", "NOT_FOUND", ...); false if none. */
static bool status_lookup(const char *name, enum armmap_status *out)
{
    unsigned k;

    for (k = 0; k < ARMMAP_NO_SOCKET; k++)
        if (strcmp(armmap_strerror((enum armmap_status)k), name) == 0) {
            *out = (enum armmap_status)k;
            return true;
        }
    return false;
}

/* The answer the model expected, if its message names one. */
static bool model_expected(const char *why, enum armmap_status *st,
                           uint32_t *value)
{
    char code[40];
    unsigned v;

    if (sscanf(why, "expected value 0x%x, daemon answered", &v) == 1) {
        *st = ARMMAP_OK;
        *value = v;
        return true;
    }
    if (sscanf(why, "expected %39[A-Z_], daemon answered", code) == 1 &&
        status_lookup(code, st)) {
        *value = 0;
        return true;
    }
    return false;
}

static void put_answer(FILE *f, enum armmap_status st, uint32_t value)
{
    if (st == ARMMAP_OK)
        fprintf(f, " => OK 0x%x", value);
    else
        fprintf(f, " => %s", armmap_strerror(st));
}

int cli_case_write(struct cli *c, const char *dir, const struct cli_case *k,
                   char *path, size_t size)
{
    char line[CASE_LINE_MAX];
    size_t i;
    FILE *f;

    snprintf(path, size, "%s/fuzz-seed%" PRIu64 ".case", dir, k->seed);
    f = fopen(path, "w");
    if (!f)
        return cli_local_error(c, "cannot write '%s': %s", path,
                               strerror(errno));
    fprintf(f, "# armmap case (armmap replay runs it): seed %" PRIu64 ": ",
            k->seed);
    for (i = 0; k->why[i]; i++)
        fputc(k->why[i] == '\n' ? ' ' : k->why[i], f);
    fprintf(f, "\npreset %s\n", k->preset);
    for (i = 0; i < k->nsettings; i++)
        fprintf(f, "set %s=%s\n", k->settings[i].key, k->settings[i].value);
    for (i = 0; i < k->n; i++) {
        enum armmap_status st = k->results[i].status;
        uint32_t value = k->results[i].value;
        bool model = i == k->fail_index && model_expected(k->why, &st, &value);

        armmap_format_op(&k->ops[i], line, sizeof(line));
        fputs(line, f);
        put_answer(f, st, value);
        if (model) {
            fputs("    # the model's answer; the daemon gave", f);
            put_answer(f, k->results[i].status, k->results[i].value);
        } else if (i == k->fail_index) {
            fputs("    # the daemon's answer: the model disagreed", f);
        }
        fputc('\n', f);
    }
    if (fclose(f) != 0)
        return cli_local_error(c, "cannot write '%s': %s", path,
                               strerror(errno));
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

static void case_free(struct case_file *cf)
{
    size_t i;

    for (i = 0; i < cf->n; i++)
        free(cf->ops[i].args);
    for (i = 0; i < cf->nsettings; i++)
        free(cf->values[i]);
    free(cf->ops);
    memset(cf, 0, sizeof(*cf));
}

/* "OPLINE => CODE [VALUE]": the op and its expected answer. */
static bool parse_op(struct case_op *o, char *text, struct armmap_op_line *pl,
                     char *err, size_t errsize)
{
    char *arrow = strstr(text, "=>"), *hash, code[40], perr[ARMMAP_ERR_MAX];
    unsigned long v;
    int used = 0;

    if (!arrow) {
        snprintf(err, errsize, "no '=> ANSWER' after the op");
        return false;
    }
    *arrow = '\0';
    if (!armmap_parse_op_line(text, pl, perr) || pl->empty) {
        snprintf(err, errsize, "%s", pl->empty ? "no op before '=>'" : perr);
        return false;
    }
    hash = strchr(arrow + 2, '#');
    if (hash)
        *hash = '\0';
    if (sscanf(arrow + 2, " %39s %n", code, &used) != 1 ||
        !status_lookup(code, &o->want)) {
        snprintf(err, errsize, "bad answer '%s': want a status name",
                 arrow + 2);
        return false;
    }
    o->want_value = 0;
    if (o->want == ARMMAP_OK) {
        char *end;

        errno = 0;
        v = strtoul(arrow + 2 + used, &end, 0);
        if (errno || end == arrow + 2 + used || v > 0xffffffffu) {
            snprintf(err, errsize, "bad answer: OK wants a value");
            return false;
        }
        o->want_value = (uint32_t)v;
    }
    snprintf(o->text, sizeof(o->text), "%s", text);
    o->text[strcspn(o->text, "\n")] = '\0';
    while (o->text[0] && o->text[strlen(o->text) - 1] == ' ')
        o->text[strlen(o->text) - 1] = '\0';
    o->op = pl->op;
    o->args = malloc((pl->op.nargs + 1) * sizeof(*o->args));
    if (!o->args) {
        snprintf(err, errsize, "out of memory");
        return false;
    }
    memcpy(o->args, pl->args, pl->op.nargs * sizeof(*o->args));
    o->op.args = o->args;
    return true;
}

/* One line of a case file into @cf; false with @err. */
static bool case_line(struct case_file *cf, char *l, unsigned lineno,
                      struct armmap_op_line *pl, char *err, size_t errsize)
{
    char *p = l + strspn(l, " \t");

    p[strcspn(p, "\r\n")] = '\0';
    if (*p == '\0' || *p == '#')
        return true;
    if (strncmp(p, "preset ", 7) == 0) {
        snprintf(cf->preset, sizeof(cf->preset), "%s", p + 7);
        return true;
    }
    if (strncmp(p, "set ", 4) == 0) {
        char *eq = strchr(p + 4, '=');

        if (!eq || cf->nsettings == 32) {
            snprintf(err, errsize, "bad setting: want set KEY=VALUE");
            return false;
        }
        *eq = '\0';
        cf->values[cf->nsettings] = malloc(strlen(p + 4) + strlen(eq + 1) + 2);
        if (!cf->values[cf->nsettings]) {
            snprintf(err, errsize, "out of memory");
            return false;
        }
        strcpy(cf->values[cf->nsettings], p + 4);
        strcpy(cf->values[cf->nsettings] + strlen(p + 4) + 1, eq + 1);
        cf->settings[cf->nsettings].key = cf->values[cf->nsettings];
        cf->settings[cf->nsettings].value = cf->values[cf->nsettings] +
                                            strlen(p + 4) + 1;
        cf->nsettings++;
        return true;
    }
    if (cf->n == cf->cap) {
        size_t cap = cf->cap ? cf->cap * 2 : 64;
        struct case_op *no = realloc(cf->ops, cap * sizeof(*no));

        if (!no) {
            snprintf(err, errsize, "out of memory");
            return false;
        }
        cf->ops = no;
        cf->cap = cap;
    }
    memset(&cf->ops[cf->n], 0, sizeof(cf->ops[cf->n]));
    cf->ops[cf->n].line = lineno;
    if (!parse_op(&cf->ops[cf->n], p, pl, err, errsize))
        return false;
    cf->n++;
    return true;
}

/* Reads @path; 0, or an exit status after printing the error. */
static int case_read(struct cli *c, const char *path, struct case_file *cf)
{
    struct armmap_op_line *pl = malloc(sizeof(*pl));
    char *l = malloc(CASE_LINE_MAX), err[ARMMAP_ERR_MAX + 64];
    unsigned lineno = 0;
    FILE *f = fopen(path, "r");
    int rc = 0;

    memset(cf, 0, sizeof(*cf));
    if (!f || !pl || !l) {
        rc = f ? cli_local_error(c, "out of memory")
               : cli_local_error(c, "cannot open '%s': %s", path,
                                 strerror(errno));
        goto out;
    }
    while (rc == 0 && fgets(l, CASE_LINE_MAX, f)) {
        lineno++;
        if (!case_line(cf, l, lineno, pl, err, sizeof(err)))
            rc = cli_error(c, "DATA", CLI_EXIT_DATA, "replay: %s:%u: %s", path,
                           lineno, err);
    }
    if (rc == 0 && !cf->preset[0] && !cf->nsettings)
        rc = cli_error(c, "DATA", CLI_EXIT_DATA,
                       "replay: %s: no 'preset' or 'set' line", path);
out:
    if (f)
        fclose(f);
    free(pl);
    free(l);
    return rc;
}

/* ---- replaying ----------------------------------------------------------- */

/* Runs @cf on a fresh machine; 0 when every answer is as expected, 5
 * naming the first that is not, or an error status. */
static int case_run(struct cli *c, const char *path, const struct case_file *cf)
{
    struct armmap_op_result *res = malloc(CASE_BATCH * sizeof(*res));
    struct armmap_op *ops = malloc(CASE_BATCH * sizeof(*ops));
    struct armmap_machine *m = NULL;
    enum armmap_status st;
    size_t i, k, got;
    int rc = 0;

    if (!res || !ops) {
        rc = cli_local_error(c, "out of memory");
        goto out;
    }
    st = armmap_create(c->conn, cf->preset[0] ? cf->preset : NULL, cf->settings,
                       cf->nsettings, "replay", &m);
    if (st != ARMMAP_OK) {
        rc = cli_fail(c, st);
        goto out;
    }
    for (i = 0; i < cf->n && rc == 0; i += k) {
        k = cf->n - i < CASE_BATCH ? cf->n - i : CASE_BATCH;
        for (got = 0; got < k; got++)
            ops[got] = cf->ops[i + got].op;
        st = armmap_batch(c->conn, m->id, ops, k, false, res, &got);
        if (st != ARMMAP_OK) {
            rc = cli_fail(c, st);
            break;
        }
        for (got = 0; got < k && rc == 0; got++) {
            const struct case_op *o = &cf->ops[i + got];
            const struct armmap_op_result *r = &res[got];

            if (r->status == o->want &&
                (o->want != ARMMAP_OK || r->value == o->want_value))
                continue;
            rc = CLI_EXIT_FUZZ;
            if (o->want == ARMMAP_OK && r->status == ARMMAP_OK)
                cli_error(c, "DIFFERS", rc,
                          "replay: %s:%u: %s: expected OK 0x%x, got OK 0x%x",
                          path, o->line, o->text, o->want_value, r->value);
            else
                cli_error(c, "DIFFERS", rc,
                          "replay: %s:%u: %s: expected %s, got %s%s%s", path,
                          o->line, o->text, armmap_strerror(o->want),
                          armmap_strerror(r->status), r->msg[0] ? ": " : "",
                          r->msg);
        }
    }
    armmap_destroy(c->conn, m->id);
out:
    armmap_machine_free(m);
    free(res);
    free(ops);
    return rc;
}

int cli_cmd_replay(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("replay");
    char **pos = calloc((size_t)argc + 1, sizeof(*pos));
    struct case_file cf;
    size_t ops = 0;
    int n, i, rc;

    if (!pos)
        return cli_local_error(c, "out of memory");
    rc = cli_scan(c, cmd, argc, argv, NULL, NULL, pos, argc, &n);
    if (rc < 0 && n < 1)
        rc = cli_usage_error(c, "missing case file (usage: %s)", cmd->usage);
    if (rc < 0)
        rc = cli_connect(c);
    for (i = 0; rc == 0 && i < n; i++) {
        rc = case_read(c, pos[i], &cf);
        if (rc == 0)
            rc = case_run(c, pos[i], &cf);
        ops += cf.n;
        case_free(&cf);
    }
    if (rc == 0 && c->json)
        printf("{\"cases\":%d,\"ops\":%zu,\"status\":\"as expected\"}\n", n,
               ops);
    else if (rc == 0)
        printf("replay: %d case%s, %zu ops: every answer as expected\n", n,
               n == 1 ? "" : "s", ops);
    free(pos);
    return rc < 0 ? 0 : rc;
}
