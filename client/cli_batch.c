/* client/cli_batch.c - `armmap batch M [FILE]`: many ops, few round trips.
 *
 * The whole input is parsed first (libarmmap's op grammar, one op a line),
 * so a typo on line 900 is a usage error before anything is applied.  The
 * ops' arguments are packed into one pool (a parsed line has room for 1024
 * arguments; keeping a struct per op would cost 4 KiB each), then sent in
 * Batch requests of up to --max-ops ops, one after the other; with
 * --stop-on-error the daemon stops at the first failure and so do we.
 *
 * Output: one line per op applied, "LINE: RESULT" with the op's own text,
 * or one JSON object per op.  Exit 0 if every op succeeded, 4 if any
 * failed.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct parsed_op {
    struct armmap_op op; /* op.args unset until sending */
    size_t arg_off;      /* into the pool */
    unsigned long line;
    char *text; /* the line, trimmed */
};

struct batch_input {
    struct parsed_op *ops;
    size_t n, cap;
    uint32_t *pool;
    size_t pool_len, pool_cap;
};

static void input_free(struct batch_input *in)
{
    size_t i;

    for (i = 0; i < in->n; i++)
        free(in->ops[i].text);
    free(in->ops);
    free(in->pool);
}

static bool input_add(struct batch_input *in, const struct armmap_op_line *l,
                      unsigned long line, const char *text)
{
    struct parsed_op *p;

    if (in->n == in->cap) {
        size_t ncap = in->cap ? in->cap * 2 : 256;
        struct parsed_op *no = realloc(in->ops, ncap * sizeof(*no));

        if (!no)
            return false;
        in->ops = no;
        in->cap = ncap;
    }
    while (in->pool_len + l->op.nargs > in->pool_cap) {
        size_t ncap = in->pool_cap ? in->pool_cap * 2 : 1024;
        uint32_t *np = realloc(in->pool, ncap * sizeof(*np));

        if (!np)
            return false;
        in->pool = np;
        in->pool_cap = ncap;
    }
    p = &in->ops[in->n];
    p->op = l->op;
    p->op.args = NULL;
    p->arg_off = in->pool_len;
    p->line = line;
    p->text = strdup(text);
    if (!p->text)
        return false;
    if (l->op.nargs)
        memcpy(in->pool + in->pool_len, l->args,
               l->op.nargs * sizeof(uint32_t));
    in->pool_len += l->op.nargs;
    in->n++;
    return true;
}

/* Reads and parses every line of @f; returns -1 or an exit status. */
static int read_ops(struct cli *c, FILE *f, const char *name,
                    struct batch_input *in)
{
    struct armmap_op_line *l = malloc(sizeof(*l));
    char err[ARMMAP_ERR_MAX];
    unsigned long lineno = 0;
    char *line = NULL, *s, *e;
    size_t cap = 0;
    ssize_t len;

    if (!l)
        return cli_local_error(c, "out of memory");
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        s = line;
        e = strchr(line, '#');
        if (!e)
            e = line + len;
        *e = '\0'; /* the comment is not echoed */
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
                         e[-1] == '\t'))
            *--e = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (!armmap_parse_op_line(s, l, err)) {
            free(l);
            free(line);
            return cli_usage_error(c, "%s:%lu: %s", name, lineno, err);
        }
        if (l->empty)
            continue;
        if (!input_add(in, l, lineno, s)) {
            free(l);
            free(line);
            return cli_local_error(c, "out of memory");
        }
    }
    free(l);
    free(line);
    if (ferror(f))
        return cli_local_error(c, "reading %s failed", name);
    return -1;
}

static void print_result(struct cli *c, const struct parsed_op *p,
                         const struct armmap_op_result *r)
{
    char text[128];

    if (c->json) {
        bool first = true;

        fputc('{', stdout);
        cli_json_ku64(stdout, &first, "line", p->line);
        fputc(',', stdout);
        cli_op_result_json(stdout, p->op.code, r);
        fputs("}\n", stdout);
        return;
    }
    if (r->status == ARMMAP_OK) {
        cli_op_result_text(p->op.code, r, text, sizeof(text));
        printf("%s: %s\n", p->text, text);
    } else {
        printf("%s: %s: %s\n", p->text, armmap_strerror(r->status), r->msg);
    }
}

/* Sends ops [from, from + n) as one Batch; *@failed counts failures. */
static int send_batch(struct cli *c, uint64_t m, struct batch_input *in,
                      size_t from, size_t n, bool stop, struct armmap_op *ops,
                      struct armmap_op_result *res, size_t *failed,
                      bool *stopped)
{
    enum armmap_status st;
    size_t i, got;

    for (i = 0; i < n; i++) {
        ops[i] = in->ops[from + i].op;
        ops[i].args = in->pool + in->ops[from + i].arg_off;
    }
    st = armmap_batch(c->conn, m, ops, n, stop, res, &got);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    for (i = 0; i < got; i++) {
        print_result(c, &in->ops[from + i], &res[i]);
        if (res[i].status != ARMMAP_OK)
            (*failed)++;
    }
    *stopped = got < n || (stop && *failed);
    return -1;
}

int cli_cmd_batch(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = {
        { "--stop-on-error", false },
        { "--max-ops", true },
        { NULL, false },
    };
    const struct cli_command *cmd = cli_command_lookup("batch");
    struct batch_input in;
    struct armmap_op *ops = NULL;
    struct armmap_op_result *res = NULL;
    const char *vals[2];
    uint32_t max_ops = 1024;
    size_t from, failed = 0;
    bool stopped = false;
    char *pos[2];
    uint64_t m;
    FILE *f = stdin;
    int n, rc;

    memset(&in, 0, sizeof(in));
    if ((rc = cli_scan_machine(c, cmd, argc, argv, defs, vals, pos, 2, &n,
                               &m)) >= 0)
        return rc;
    if (vals[1] && !cli_u32_arg(c, vals[1], "max-ops", &max_ops))
        return CLI_EXIT_USAGE;
    if (max_ops == 0 || max_ops > 65536)
        return cli_usage_error(c, "bad max-ops '%s': use 1..65536", vals[1]);
    if (n > 1 && strcmp(pos[1], "-") != 0) {
        f = fopen(pos[1], "r");
        if (!f)
            return cli_usage_error(c, "cannot open %s: %s", pos[1],
                                   strerror(errno));
    }
    rc = read_ops(c, f, n > 1 ? pos[1] : "stdin", &in);
    if (f != stdin)
        fclose(f);
    if (rc < 0)
        rc = cli_connect(c);
    if (rc == 0) {
        ops = calloc(max_ops, sizeof(*ops));
        res = calloc(max_ops, sizeof(*res));
        if (!ops || !res)
            rc = cli_local_error(c, "out of memory");
    }
    for (from = 0; rc == 0 && from < in.n && !stopped; from += max_ops) {
        size_t k = in.n - from < max_ops ? in.n - from : max_ops;
        int r = send_batch(c, m, &in, from, k, vals[0] != NULL, ops, res,
                           &failed, &stopped);

        if (r >= 0)
            rc = r;
    }
    free(ops);
    free(res);
    input_free(&in);
    if (rc == 0 && failed)
        rc = CLI_EXIT_SERVER;
    return rc;
}
