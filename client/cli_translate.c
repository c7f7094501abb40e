/* client/cli_translate.c - `armmap translate`: the batch-query path.
 *
 * Without --walk the addresses (from the command line or stdin) are fed to
 * armmap_translate_stream(), which keeps several chunks in flight, and the
 * results are formatted by hand into a large output buffer: at millions of
 * lines a second printf() would be the bottleneck.  Input is read in big
 * blocks and parsed in place, one address a line, hex (0x) or decimal,
 * blank lines and '#' comments skipped; a bad line stops the stream with a
 * usage error naming its line number (the lines before it have been
 * printed).
 *
 * With --walk each address also gets its page-table walk, so the request
 * is made with armmap_translate() in smaller chunks.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_BLOCK   (1u << 20)
#define OUT_BLOCK  (1u << 20)
#define WALK_CHUNK 256

struct tr_input {
    /* stdin mode */
    int fd;
    char *buf; /* [pos, len) unparsed */
    size_t pos, len, cap;
    bool eof;
    unsigned long line;
    /* argv mode */
    char **words;
    size_t nwords, next;
    /* a parse error */
    bool bad;
    char err[ARMMAP_ERR_MAX + 32];
};

struct tr_output {
    char *buf;
    size_t len;
    bool json;
    bool write_failed;
};

static void out_flush(struct tr_output *o)
{
    size_t off = 0;
    ssize_t n;

    fflush(stdout);
    while (off < o->len) {
        n = write(STDOUT_FILENO, o->buf + off, o->len - off);
        if (n <= 0) {
            o->write_failed = true;
            break;
        }
        off += (size_t)n;
    }
    o->len = 0;
}

static const char hexdig[] = "0123456789abcdef";

static char *put_hex8(char *p, uint32_t v)
{
    int i;

    *p++ = '0';
    *p++ = 'x';
    for (i = 7; i >= 0; i--)
        *p++ = hexdig[(v >> (i * 4)) & 0xf];
    return p;
}

static char *put_dec(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);

    memcpy(p, s, n);
    return p + n;
}

/* Appends one result line; lines are at most ~100 bytes. */
static void out_result(struct tr_output *o, uint32_t va, uint32_t pa,
                       uint8_t fault, uint8_t region)
{
    char *p;

    if (o->len + 128 > OUT_BLOCK)
        out_flush(o);
    p = o->buf + o->len;
    if (o->json) {
        p = put_str(p, "{\"va\":");
        p = put_dec(p, va);
        if (fault) {
            p = put_str(p, ",\"fault\":\"");
            p = put_str(p, armmap_fault_name(fault));
        } else {
            p = put_str(p, ",\"pa\":");
            p = put_dec(p, pa);
            p = put_str(p, ",\"region\":\"");
            p = put_str(p, armmap_region_name(region));
        }
        p = put_str(p, "\"}\n");
    } else {
        p = put_hex8(p, va);
        *p++ = ' ';
        if (fault) {
            p = put_str(p, "fault ");
            p = put_str(p, armmap_fault_name(fault));
        } else {
            p = put_hex8(p, pa);
            *p++ = ' ';
            p = put_str(p, armmap_region_name(region));
        }
        *p++ = '\n';
    }
    o->len = (size_t)(p - o->buf);
}

/* Parses one address word [s, e); false with in->err on error. */
static bool parse_word(struct tr_input *in, const char *s, const char *e,
                       uint32_t *out)
{
    char word[64], err[ARMMAP_ERR_MAX];
    size_t n = (size_t)(e - s);
    const char *p = s;
    uint64_t v = 0;

    /* Fast path: plain hex or decimal that fits. */
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && n <= 10) {
        for (p = s + 2; p < e; p++) {
            unsigned d;

            if (*p >= '0' && *p <= '9')
                d = (unsigned)(*p - '0');
            else if (*p >= 'a' && *p <= 'f')
                d = (unsigned)(*p - 'a' + 10);
            else if (*p >= 'A' && *p <= 'F')
                d = (unsigned)(*p - 'A' + 10);
            else
                break;
            v = v << 4 | d;
        }
        if (p == e) {
            *out = (uint32_t)v;
            return true;
        }
    }
    if (n >= sizeof(word))
        n = sizeof(word) - 1;
    memcpy(word, s, n);
    word[n] = '\0';
    if (!armmap_parse_u32(word, "address", out, err)) {
        in->bad = true;
        if (in->words)
            snprintf(in->err, sizeof(in->err), "%s", err);
        else
            snprintf(in->err, sizeof(in->err), "line %lu: %s", in->line, err);
        return false;
    }
    return true;
}

/* Refills the input buffer keeping the unparsed tail; false at EOF. */
static bool refill(struct tr_input *in)
{
    size_t keep = in->len - in->pos;
    ssize_t n;

    if (in->eof)
        return false;
    memmove(in->buf, in->buf + in->pos, keep);
    in->len = keep;
    in->pos = 0;
    if (in->len == in->cap) {
        char *nb = realloc(in->buf, in->cap * 2);

        if (!nb)
            return false;
        in->buf = nb;
        in->cap *= 2;
    }
    n = read(in->fd, in->buf + in->len, in->cap - in->len);
    if (n <= 0) {
        in->eof = true;
        return keep > 0;
    }
    in->len += (size_t)n;
    return true;
}

/* The next line of stdin as [*s, *e) without the newline; false at EOF. */
static bool next_line(struct tr_input *in, const char **s, const char **e)
{
    char *nl;

    for (;;) {
        nl = memchr(in->buf + in->pos, '\n', in->len - in->pos);
        if (nl || (in->eof && in->pos < in->len)) {
            *s = in->buf + in->pos;
            *e = nl ? nl : in->buf + in->len;
            in->pos = nl ? (size_t)(nl - in->buf) + 1 : in->len;
            in->line++;
            return true;
        }
        if (!refill(in))
            return false;
    }
}

/* Trims spaces and a comment; returns false for a blank line. */
static bool trim(const char **s, const char **e)
{
    const char *p = memchr(*s, '#', (size_t)(*e - *s));

    if (p)
        *e = p;
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
    return *s < *e;
}

static long source(void *arg, uint32_t *va, size_t max)
{
    struct tr_input *in = arg;
    const char *s, *e;
    size_t n = 0;

    /* A bad address ends the input there: what came before it is still
     * translated and printed, then the caller reports the line. */
    if (in->bad)
        return 0;
    if (in->words) {
        while (n < max && in->next < in->nwords) {
            const char *w = in->words[in->next++];

            if (!parse_word(in, w, w + strlen(w), &va[n]))
                return (long)n;
            n++;
        }
        return (long)n;
    }
    while (n < max && next_line(in, &s, &e)) {
        if (!trim(&s, &e))
            continue;
        if (!parse_word(in, s, e, &va[n]))
            return (long)n;
        n++;
    }
    return (long)n;
}

struct tr_ctx {
    struct tr_input in;
    struct tr_output out;
};

static bool sink(void *arg, const uint32_t *va, const uint32_t *pa,
                 const uint8_t *fault, const uint8_t *region, size_t n)
{
    struct tr_ctx *t = arg;
    size_t i;

    for (i = 0; i < n; i++)
        out_result(&t->out, va[i], pa[i], fault[i], region[i]);
    return !t->out.write_failed;
}

static void walk_print(struct cli *c, const struct armmap_walk *w)
{
    const char *p, *nl;
    unsigned i;

    if (c->json)
        return;
    if (w->text && w->text[0]) {
        for (p = w->text; *p; p = *nl ? nl + 1 : nl) {
            nl = strchr(p, '\n');
            if (!nl)
                nl = p + strlen(p);
            printf("    %.*s\n", (int)(nl - p), p);
        }
        return;
    }
    for (i = 0; i < w->nsteps; i++) {
        const struct armmap_walk_step *s = &w->steps[i];

        printf(
            "    L%u %s desc 0x%08x at 0x%08x domain %u ap %u tex %u%s%s%s%s%s"
            " next 0x%08x\n",
            s->level, s->kind, s->desc, s->addr, s->domain, s->ap, s->tex,
            s->c ? " C" : "", s->b ? " B" : "", s->s ? " S" : "",
            s->ng ? " nG" : "", s->xn ? " XN" : "", s->next);
    }
}

/* The --walk path: translate @n addresses in chunks, print with walks. */
static int translate_walk(struct cli *c, uint64_t m, unsigned access,
                          struct tr_ctx *t)
{
    uint32_t *va = malloc(WALK_CHUNK * sizeof(*va));
    struct armmap_translate_result *r;
    enum armmap_status st;
    long n;
    size_t i;
    unsigned k;

    if (!va)
        return cli_local_error(c, "out of memory");
    while ((n = source(&t->in, va, WALK_CHUNK)) > 0) {
        st = armmap_translate(c->conn, m, va, (size_t)n, access, true, &r);
        if (st != ARMMAP_OK) {
            free(va);
            return cli_fail(c, st);
        }
        for (i = 0; i < r->n; i++) {
            const struct armmap_walk *w = &r->walks[i];

            if (!c->json) {
                t->out.len = 0;
                out_result(&t->out, va[i], r->pa[i], r->fault[i], r->region[i]);
                fwrite(t->out.buf, 1, t->out.len, stdout);
                t->out.len = 0;
                walk_print(c, w);
                continue;
            }
            printf("{\"va\":%u,", va[i]);
            if (r->fault[i])
                printf("\"fault\":\"%s\",", armmap_fault_name(r->fault[i]));
            else
                printf("\"pa\":%u,\"region\":\"%s\",", r->pa[i],
                       armmap_region_name(r->region[i]));
            fputs("\"walk\":[", stdout);
            for (k = 0; k < w->nsteps; k++) {
                const struct armmap_walk_step *s = &w->steps[k];
                bool first = true;

                fputs(k ? ",{" : "{", stdout);
                cli_json_ku64(stdout, &first, "level", s->level);
                cli_json_kstr(stdout, &first, "kind", s->kind);
                cli_json_ku64(stdout, &first, "addr", s->addr);
                cli_json_ku64(stdout, &first, "desc", s->desc);
                cli_json_ku64(stdout, &first, "domain", s->domain);
                cli_json_ku64(stdout, &first, "ap", s->ap);
                cli_json_ku64(stdout, &first, "tex", s->tex);
                cli_json_kbool(stdout, &first, "c", s->c);
                cli_json_kbool(stdout, &first, "b", s->b);
                cli_json_kbool(stdout, &first, "s", s->s);
                cli_json_kbool(stdout, &first, "ng", s->ng);
                cli_json_kbool(stdout, &first, "xn", s->xn);
                cli_json_ku64(stdout, &first, "next", s->next);
                fputc('}', stdout);
            }
            fputs("],\"text\":", stdout);
            cli_json_str(stdout, w->text);
            fputs("}\n", stdout);
        }
        armmap_translate_result_free(r);
    }
    free(va);
    return 0;
}

int cli_cmd_translate(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = {
        { "--walk", false },
        { "--access", true },
        { "--chunk", true },
        { NULL, false },
    };
    const struct cli_command *cmd = cli_command_lookup("translate");
    char err[ARMMAP_ERR_MAX];
    enum armmap_status st;
    const char *vals[3];
    struct tr_ctx t;
    unsigned access = 0;
    uint32_t chunk = 0;
    char **pos;
    uint64_t m;
    int n, rc, i;
    uint32_t dummy;

    pos = calloc((size_t)argc + 1, sizeof(*pos));
    if (!pos)
        return cli_local_error(c, "out of memory");
    rc = cli_scan(c, cmd, argc, argv, defs, vals, pos, argc, &n);
    if (rc >= 0) {                      /* --help, or a usage error */
        free(pos);
        return rc;
    }
    if (n < 1)
        rc = cli_usage_error(c, "missing machine (usage: %s)", cmd->usage);
    if (rc < 0 && !cli_machine_arg(c, pos[0], &m))
        rc = CLI_EXIT_USAGE;
    if (rc < 0 && vals[1] && !armmap_parse_access(vals[1], &access, err))
        rc = cli_usage_error(c, "%s", err);
    if (rc < 0 && vals[2] && !cli_u32_arg(c, vals[2], "chunk", &chunk))
        rc = CLI_EXIT_USAGE;
    if (rc < 0 && vals[2] && (chunk == 0 || chunk > 1u << 20))
        rc = cli_usage_error(c, "bad chunk '%s': use 1..1048576", vals[2]);
    /* Check every address before connecting. */
    for (i = 1; rc < 0 && i < n; i++)
        if (!cli_u32_arg(c, pos[i], "address", &dummy))
            rc = CLI_EXIT_USAGE;
    if (rc < 0)
        rc = cli_connect(c);
    if (rc != 0) {
        free(pos);
        return rc;
    }
    memset(&t, 0, sizeof(t));
    t.out.json = c->json;
    t.out.buf = malloc(OUT_BLOCK);
    if (n > 1) {
        t.in.words = pos + 1;
        t.in.nwords = (size_t)n - 1;
    } else {
        t.in.fd = STDIN_FILENO;
        t.in.cap = IN_BLOCK;
        t.in.buf = malloc(t.in.cap);
    }
    if (!t.out.buf || (!t.in.words && !t.in.buf)) {
        free(t.out.buf);
        free(t.in.buf);
        free(pos);
        return cli_local_error(c, "out of memory");
    }
    if (vals[0]) {
        rc = translate_walk(c, m, access, &t);
    } else {
        st = armmap_translate_stream(c->conn, m, access, chunk, source, sink,
                                     &t);
        out_flush(&t.out);
        if (st == ARMMAP_CANCELLED && t.out.write_failed)
            rc = cli_local_error(c, "writing the output failed");
        else if (st != ARMMAP_OK)
            rc = cli_fail(c, st);
        else
            rc = 0;
    }
    if (rc == 0 && t.in.bad)
        rc = cli_usage_error(c, "%s", t.in.err);
    free(t.out.buf);
    free(t.in.buf);
    free(pos);
    return rc;
}
