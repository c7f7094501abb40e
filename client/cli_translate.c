/* client/cli_translate.c - `armmap translate` and `armmap phys`: the
 * batch-query paths.
 *
 * Addresses come from the command line, from stdin or from --input FILE,
 * one a line, hex (0x) or decimal, blank lines and '#' comments skipped.
 * Without --walk, translate feeds them to armmap_translate_stream() and
 * phys to armmap_phys_stream(), which keep several chunks in flight.
 * Input is read in big blocks and parsed in place and results are
 * formatted by hand into a large output buffer: at millions of lines a
 * second printf() would be the bottleneck.
 *
 * Every row of one output has the same columns (--format text|json|csv):
 * translate: va, pa, region, fault (a fault keeps its region; the absent
 * one of pa and fault is "-", empty or null); phys: pa, va, region, one row
 * per alias (va and region empty when there is none).  With --on-error
 * emit, every row also has an "error" column and a bad input line becomes
 * a row of its own, in input order.  A bad line is a data error (exit 6):
 * --on-error stop (the default) ends the stream there, after printing
 * what came before; skip reports it on stderr and goes on; emit puts it in
 * the output and goes on; either way the exit status says some failed.
 *
 * With --walk each address also gets its page-table walk, so the request
 * is made with armmap_translate() in smaller chunks.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_BLOCK   (1u << 16)
#define OUT_BLOCK  (1u << 16)
#define WALK_CHUNK 256

enum on_error { ON_ERROR_STOP, ON_ERROR_SKIP, ON_ERROR_EMIT };
enum out_format { FMT_TEXT, FMT_JSON, FMT_CSV };

/* A bad line kept for --on-error emit: printed before result @at. */
struct bad_row {
    size_t at;
    char msg[ARMMAP_ERR_MAX + 32];
};

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
    /* a parse error: with ON_ERROR_STOP the first ends the input */
    enum on_error mode;
    bool bad;
    char err[ARMMAP_ERR_MAX + 32];
    unsigned long nbad;
    size_t nvalid;     /* addresses handed out so far */
    struct bad_row *q; /* ON_ERROR_EMIT: rows waiting for their turn */
    size_t qhead, qlen, qcap;
    const struct cli *cli;
};

/* A piece of a row made ahead: at most FRAG_MAX bytes, so that it can
 * be copied whole (out_room() keeps far more room than that). */
#define FRAG_MAX 32

struct frag {
    char s[FRAG_MAX];
    size_t n;
};

/*
 * The parts of every row, made once per output by the column writers
 * below (so they are the same bytes): a row is then a few fixed-size
 * copies and the addresses.  For translate: [va] va [pa] pa|none
 * region[r] fault[f] end; for phys: [pa] pa [va] va region[r] end, or
 * [pa] pa phys_none end.
 */
struct row_frags {
    struct frag first;  /* the first column's start */
    struct frag second; /* the second column's start */
    struct frag none;   /* an empty value */
    struct frag region[256];
    struct frag fault[256]; /* [0]: the empty fault column */
    struct frag phys_none;  /* phys: empty region column */
    struct frag end;        /* the error column if any, and the end */
};

struct tr_output {
    char *buf;
    size_t len;
    enum out_format fmt;
    bool error_col; /* --on-error emit: every row has an "error" column */
    bool write_failed;
    struct row_frags *rf; /* made by out_frags() */
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

/* "00".."ff": two hex digits per byte value. */
static char hex_pairs[512];

static void hex_pairs_init(void)
{
    unsigned b;

    for (b = 0; b < 256; b++) {
        hex_pairs[2 * b] = hexdig[b >> 4];
        hex_pairs[2 * b + 1] = hexdig[b & 0xf];
    }
}

static inline char *put_hex8(char *p, uint32_t v)
{
    p[0] = '0';
    p[1] = 'x';
    memcpy(p + 2, hex_pairs + 2 * (v >> 24), 2);
    memcpy(p + 4, hex_pairs + 2 * (v >> 16 & 0xff), 2);
    memcpy(p + 6, hex_pairs + 2 * (v >> 8 & 0xff), 2);
    memcpy(p + 8, hex_pairs + 2 * (v & 0xff), 2);
    return p + 10;
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

/* Makes room for one row (rows are at most ~700 bytes). */
static char *out_room(struct tr_output *o)
{
    if (o->len + 1024 > OUT_BLOCK)
        out_flush(o);
    return o->buf + o->len;
}

/* The empty value of a column: "-" in text, "" in CSV, null in JSON. */
static char *put_none(char *p, enum out_format fmt)
{
    if (fmt == FMT_TEXT)
        *p++ = '-';
    else if (fmt == FMT_JSON)
        p = put_str(p, "null");
    return p;
}

/* An address column: 0x%08x in text and CSV, decimal in JSON. */
static inline char *put_addr(char *p, enum out_format fmt, uint32_t v)
{
    return fmt == FMT_JSON ? put_dec(p, v) : put_hex8(p, v);
}

/* A name column (region, fault: no characters that need escaping). */
static char *put_name(char *p, enum out_format fmt, const char *name)
{
    if (fmt == FMT_JSON)
        *p++ = '"';
    p = put_str(p, name);
    if (fmt == FMT_JSON)
        *p++ = '"';
    return p;
}

/* Starts column @key: a separator (none before the first), and the key in
 * JSON. */
static char *put_col(char *p, enum out_format fmt, const char *key, bool first)
{
    if (fmt == FMT_JSON) {
        *p++ = first ? '{' : ',';
        *p++ = '"';
        p = put_str(p, key);
        *p++ = '"';
        *p++ = ':';
    } else if (!first) {
        *p++ = fmt == FMT_CSV ? ',' : ' ';
    }
    return p;
}

/* Ends a row, with an empty "error" column when the output has one. */
static char *put_end(struct tr_output *o, char *p)
{
    if (o->error_col) {
        p = put_col(p, o->fmt, "error", false);
        p = put_none(p, o->fmt);
    }
    if (o->fmt == FMT_JSON)
        *p++ = '}';
    *p++ = '\n';
    return p;
}

/* The header line of a CSV output. */
static void out_header(struct tr_output *o, const char *cols)
{
    char *p;

    if (o->fmt != FMT_CSV)
        return;
    p = put_str(out_room(o), cols);
    if (o->error_col)
        p = put_str(p, ",error");
    *p++ = '\n';
    o->len = (size_t)(p - o->buf);
}

/* Appends one translate row: va, pa, region, fault. */
static void out_result(struct tr_output *o, uint32_t va, uint32_t pa,
                       uint8_t fault, uint8_t region)
{
    char *p = out_room(o);

    p = put_col(p, o->fmt, "va", true);
    p = put_addr(p, o->fmt, va);
    p = put_col(p, o->fmt, "pa", false);
    p = fault ? put_none(p, o->fmt) : put_addr(p, o->fmt, pa);
    p = put_col(p, o->fmt, "region", false);
    p = put_name(p, o->fmt, armmap_region_name(region));
    p = put_col(p, o->fmt, "fault", false);
    p = fault ? put_name(p, o->fmt, armmap_fault_name(fault))
              : put_none(p, o->fmt);
    o->len = (size_t)(put_end(o, p) - o->buf);
}

/* Makes @f from the bytes [b, e). */
static void frag_set(struct frag *f, const char *b, const char *e)
{
    memset(f->s, 0, sizeof(f->s));
    f->n = (size_t)(e - b);
    memcpy(f->s, b, f->n);
}

static char *put_frag(char *p, const struct frag *f)
{
    memcpy(p, f->s, FRAG_MAX);
    return p + f->n;
}

/* Makes the row pieces of @o for columns @k1 and @k2 (va, pa for
 * translate; pa, va for phys).  False if out of memory. */
static bool out_frags(struct tr_output *o, const char *k1, const char *k2)
{
    struct row_frags *rf = calloc(1, sizeof(*rf));
    char tmp[128], *p;
    unsigned i;

    if (!rf)
        return false;
    hex_pairs_init();
    frag_set(&rf->first, tmp, put_col(tmp, o->fmt, k1, true));
    frag_set(&rf->second, tmp, put_col(tmp, o->fmt, k2, false));
    frag_set(&rf->none, tmp, put_none(tmp, o->fmt));
    for (i = 0; i < 256; i++) {
        p = put_col(tmp, o->fmt, "region", false);
        frag_set(&rf->region[i], tmp,
                 put_name(p, o->fmt, armmap_region_name(i)));
        p = put_col(tmp, o->fmt, "fault", false);
        frag_set(&rf->fault[i], tmp,
                 i ? put_name(p, o->fmt, armmap_fault_name(i))
                   : put_none(p, o->fmt));
    }
    p = put_col(tmp, o->fmt, "region", false);
    frag_set(&rf->phys_none, tmp, put_none(p, o->fmt));
    frag_set(&rf->end, tmp, put_end(o, tmp));
    o->rf = rf;
    return true;
}

/* out_result() and out_alias() from the pieces: the same bytes. */
static void out_result_fast(struct tr_output *o, uint32_t va, uint32_t pa,
                            uint8_t fault, uint8_t region)
{
    const struct row_frags *rf = o->rf;
    char *p = out_room(o);

    p = put_frag(p, &rf->first);
    p = put_addr(p, o->fmt, va);
    p = put_frag(p, &rf->second);
    p = fault ? put_frag(p, &rf->none) : put_addr(p, o->fmt, pa);
    p = put_frag(p, &rf->region[region]);
    p = put_frag(p, &rf->fault[fault]);
    o->len = (size_t)(put_frag(p, &rf->end) - o->buf);
}

static void out_alias_fast(struct tr_output *o, uint32_t pa, const uint32_t *va,
                           uint8_t region)
{
    const struct row_frags *rf = o->rf;
    char *p = out_room(o);

    p = put_frag(p, &rf->first);
    p = put_addr(p, o->fmt, pa);
    p = put_frag(p, &rf->second);
    if (va) {
        p = put_addr(p, o->fmt, *va);
        p = put_frag(p, &rf->region[region]);
    } else {
        p = put_frag(p, &rf->none);
        p = put_frag(p, &rf->phys_none);
    }
    o->len = (size_t)(put_frag(p, &rf->end) - o->buf);
}

/* Appends a bad input line's row: every column empty but "error". */
static void out_bad(struct tr_output *o, const char *const *cols, size_t ncols,
                    const char *msg)
{
    char *p = out_room(o), *q;
    size_t i;

    for (i = 0; i < ncols; i++) {
        p = put_col(p, o->fmt, cols[i], i == 0);
        p = put_none(p, o->fmt);
    }
    p = put_col(p, o->fmt, "error", false);
    if (o->fmt == FMT_TEXT) { /* the last column: spaces are fine */
        p = put_str(p, msg);
        *p++ = '\n';
        o->len = (size_t)(p - o->buf);
        return;
    }
    /* JSON and CSV: a quoted string; the message has no newline. */
    *p++ = '"';
    for (q = (char *)msg; *q; q++) {
        if (*q == '"')
            *p++ = o->fmt == FMT_CSV ? '"' : '\\';
        else if (*q == '\\' && o->fmt == FMT_JSON)
            *p++ = '\\';
        *p++ = *q;
    }
    *p++ = '"';
    if (o->fmt == FMT_JSON)
        *p++ = '}';
    *p++ = '\n';
    o->len = (size_t)(p - o->buf);
}

/* Counts the bad line in in->err and acts per --on-error: stop ends the
 * input, skip reports it now, emit queues its row for its turn. */
static void bad_line(struct tr_input *in)
{
    struct bad_row *r;

    in->nbad++;
    if (in->mode == ON_ERROR_STOP) {
        in->bad = true;
    } else if (in->mode == ON_ERROR_SKIP) {
        cli_error(in->cli, "DATA", CLI_EXIT_DATA, "%s: %s", in->cli->cmd,
                  in->err);
    } else {
        if (in->qlen == in->qcap) {
            size_t cap = in->qcap ? in->qcap * 2 : 16;

            r = realloc(in->q, cap * sizeof(*r));
            if (!r) { /* out of memory: stop here, as with stop */
                in->bad = true;
                return;
            }
            in->q = r;
            in->qcap = cap;
        }
        r = &in->q[in->qlen++];
        r->at = in->nvalid;
        snprintf(r->msg, sizeof(r->msg), "%s", in->err);
    }
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
        if (in->words)
            snprintf(in->err, sizeof(in->err), "%s", err);
        else
            snprintf(in->err, sizeof(in->err), "line %lu: %s", in->line, err);
        bad_line(in);
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

/*
 * The line "0x" + 8 hex digits + "\n" at @s (11 bytes readable) into
 * *@out; false for anything else (the general path then parses it).  The
 * eight digits are checked and converted together, in one 64-bit word
 * (each byte's arithmetic stays inside its byte: every byte is below
 * 0x80 when the sums are used).
 */
static bool hex8_line(const unsigned char *s, uint32_t *out)
{
    const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
    uint64_t x, y, digit, letter, nib, t;

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return false; /* the word below is read little-endian */
#endif
    if (s[0] != '0' || s[1] != 'x' || s[10] != '\n')
        return false;
    memcpy(&x, s + 2, 8); /* the first digit in the low byte */
    y = x | ones * 0x20;  /* 'A'-'F' as 'a'-'f' */
    digit = (x + ones * (0x80 - '0')) & ~(x + ones * (0x80 - '9' - 1));
    letter = (y + ones * (0x80 - 'a')) & ~(y + ones * (0x80 - 'f' - 1));
    if ((x & high) || ((digit | letter) & high) != high)
        return false;
    nib = (y & ones * 0x0f) + ((y >> 6) & ones) * 9;       /* a-f: 1-6 + 9 */
    t = ((nib << 4) | (nib >> 8)) & 0x00ff00ff00ff00ffull; /* pairs */
    t = (t | t >> 8) & 0x0000ffff0000ffffull;
    t = (t | t >> 16) & 0xffffffffull;
    *out = __builtin_bswap32((uint32_t)t); /* the first digit on top */
    return true;
}

static long source(void *arg, uint32_t *va, size_t max)
{
    struct tr_input *in = arg;
    const char *s, *e;
    size_t n = 0;

    /* With --on-error stop a bad address ends the input there: what came
     * before it is still translated and printed, then the caller reports
     * the line.  Otherwise bad_line() has dealt with it and we go on. */
    if (in->bad)
        return 0;
    if (in->words) {
        while (n < max && in->next < in->nwords && !in->bad) {
            const char *w = in->words[in->next++];

            if (parse_word(in, w, w + strlen(w), &va[n])) {
                in->nvalid++;
                n++;
            }
        }
        return (long)n;
    }
    while (n < max && !in->bad) {
        /* The common line, "0x" and 8 hex digits, parsed in place. */
        if (in->len - in->pos >= 11 &&
            hex8_line((const unsigned char *)in->buf + in->pos, &va[n])) {
            in->pos += 11;
            in->line++;
            in->nvalid++;
            n++;
            continue;
        }
        if (!next_line(in, &s, &e))
            break;
        if (!trim(&s, &e))
            continue;
        if (parse_word(in, s, e, &va[n])) {
            in->nvalid++;
            n++;
        }
    }
    return (long)n;
}

struct tr_ctx {
    struct tr_input in;
    struct tr_output out;
    const char *const *cols; /* the command's columns, for bad rows */
    size_t ncols;
    size_t done; /* results printed so far */
};

static const char *const tr_cols[] = { "va", "pa", "region", "fault" };
static const char *const phys_cols[] = { "pa", "va", "region" };

/* Prints the queued bad rows whose turn has come (all of them at the
 * end: @all). */
static void flush_bad(struct tr_ctx *t, bool all)
{
    struct tr_input *in = &t->in;

    while (in->qhead < in->qlen && (all || in->q[in->qhead].at <= t->done)) {
        out_bad(&t->out, t->cols, t->ncols, in->q[in->qhead].msg);
        in->qhead++;
    }
    if (in->qhead == in->qlen)
        in->qhead = in->qlen = 0;
}

static bool sink(void *arg, const uint32_t *va, const uint32_t *pa,
                 const uint8_t *fault, const uint8_t *region, size_t n)
{
    struct tr_ctx *t = arg;
    size_t i;

    for (i = 0; i < n; i++) {
        if (t->in.qlen)
            flush_bad(t, false);
        out_result_fast(&t->out, va[i], pa[i], fault[i], region[i]);
        t->done++;
    }
    return !t->out.write_failed;
}

static void walk_print(const struct armmap_walk *w)
{
    const char *p, *nl;
    unsigned i;

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

/* The walk as a JSON array of steps. */
static void walk_json(const struct armmap_walk *w)
{
    unsigned k;

    fputc('[', stdout);
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
    fputc(']', stdout);
}

/*
 * One --walk row: the four columns, then the descriptors.  Text: the walk's
 * lines indented under the row; JSON: "walk" (the steps) and "text"; CSV:
 * l1_desc and l2_desc, the descriptors read at each level (empty when the
 * walk stopped before it).
 */
static void walk_row(struct tr_ctx *t, uint32_t va, uint32_t pa, uint8_t fault,
                     uint8_t region, const struct armmap_walk *w)
{
    struct tr_output *o = &t->out;
    unsigned k, lv;

    out_result(o, va, pa, fault, region);
    if (o->fmt == FMT_TEXT) {
        fwrite(o->buf, 1, o->len, stdout);
        o->len = 0;
        walk_print(w);
        return;
    }
    /* Reopen the row: drop its end ("}\n" or "\n") and append. */
    o->len -= o->fmt == FMT_JSON ? 2 : 1;
    fwrite(o->buf, 1, o->len, stdout);
    o->len = 0;
    if (o->fmt == FMT_JSON) {
        fputs(",\"walk\":", stdout);
        walk_json(w);
        fputs(",\"text\":", stdout);
        cli_json_str(stdout, w->text);
        fputs("}\n", stdout);
        return;
    }
    for (lv = 1; lv <= 2; lv++) {
        fputc(',', stdout);
        for (k = 0; k < w->nsteps; k++)
            if (w->steps[k].level == lv) {
                printf("0x%08x", w->steps[k].desc);
                break;
            }
    }
    fputc('\n', stdout);
}

/* The --walk path: translate in chunks, print with walks. */
static int translate_walk(struct cli *c, uint64_t m, unsigned access,
                          struct tr_ctx *t)
{
    uint32_t *va = malloc(WALK_CHUNK * sizeof(*va));
    struct armmap_translate_result *r;
    enum armmap_status st;
    long n;
    size_t i;

    if (!va)
        return cli_local_error(c, "out of memory");
    while ((n = source(&t->in, va, WALK_CHUNK)) > 0) {
        st = armmap_translate(c->conn, m, va, (size_t)n, access, true, &r);
        if (st != ARMMAP_OK) {
            free(va);
            return cli_fail(c, st);
        }
        for (i = 0; i < r->n; i++) {
            if (t->in.qlen) {
                flush_bad(t, false);
                fwrite(t->out.buf, 1, t->out.len, stdout);
                t->out.len = 0;
            }
            walk_row(t, va[i], r->pa[i], r->fault[i], r->region[i],
                     &r->walks[i]);
            t->done++;
        }
        armmap_translate_result_free(r);
    }
    free(va);
    return 0;
}

/* Prints a chunk's alias rows (one per alias, or one saying none). */
static bool phys_sink(void *arg, const uint32_t *pa,
                      const struct armmap_phys_result *r)
{
    struct tr_ctx *t = arg;
    size_t i, j;

    for (i = 0; i < r->n; i++) {
        const struct armmap_aliases *a = &r->items[i];

        if (t->in.qlen)
            flush_bad(t, false);
        if (a->n == 0)
            out_alias_fast(&t->out, pa[i], NULL, 0);
        for (j = 0; j < a->n; j++)
            out_alias_fast(&t->out, pa[i], &a->va[j], a->region[j]);
        t->done++;
    }
    return !t->out.write_failed;
}

/* The phys path: chunks of @chunk addresses (0: the library's), a few in
 * flight. */
static int phys_stream(struct cli *c, uint64_t m, size_t chunk,
                       struct tr_ctx *t)
{
    enum armmap_status st;

    st = armmap_phys_stream(c->conn, m, chunk, source, phys_sink, t);
    if (st == ARMMAP_CANCELLED && t->out.write_failed)
        return 0; /* stream_finish() reports it */
    return st == ARMMAP_OK ? 0 : cli_fail(c, st);
}

/* The options translate and phys share. */
enum {
    OPT_INPUT,
    OPT_ON_ERROR,
    OPT_FORMAT,
    OPT_CHUNK,
    OPT_WALK,
    OPT_ACCESS,
    NR_OPTS
};

struct stream_args {
    uint64_t m;
    unsigned access;
    uint32_t chunk;
    int fd; /* --input FILE opened, or stdin */
};

/*
 * Scans and checks a stream command's line into @a and @t (every address on
 * the line too) and connects.  Returns -1 to go on, or an exit status.
 */
static int stream_setup(struct cli *c, const struct cli_command *cmd, int argc,
                        char **argv, const struct cli_opt *defs, char **pos,
                        struct stream_args *a, struct tr_ctx *t,
                        const char **vals)
{
    char err[ARMMAP_ERR_MAX];
    uint32_t dummy;
    int n, rc, i;

    rc = cli_scan_machine(c, cmd, argc, argv, defs, vals, pos, argc, &n, &a->m);
    if (rc >= 0) /* --help, or a usage error */
        return rc;
    if (vals[OPT_ACCESS] &&
        !armmap_parse_access(vals[OPT_ACCESS], &a->access, err))
        return cli_usage_error(c, "%s", err);
    if (vals[OPT_CHUNK] && !cli_u32_arg(c, vals[OPT_CHUNK], "chunk", &a->chunk))
        return CLI_EXIT_USAGE;
    if (vals[OPT_CHUNK] && (a->chunk == 0 || a->chunk > 1u << 20))
        return cli_usage_error(c, "bad chunk '%s': use 1..1048576",
                               vals[OPT_CHUNK]);
    if (!vals[OPT_ON_ERROR] || strcmp(vals[OPT_ON_ERROR], "stop") == 0)
        t->in.mode = ON_ERROR_STOP;
    else if (strcmp(vals[OPT_ON_ERROR], "skip") == 0)
        t->in.mode = ON_ERROR_SKIP;
    else if (strcmp(vals[OPT_ON_ERROR], "emit") == 0)
        t->in.mode = ON_ERROR_EMIT;
    else
        return cli_usage_error(c, "bad --on-error '%s': use stop, skip, emit",
                               vals[OPT_ON_ERROR]);
    t->out.fmt = c->json ? FMT_JSON : FMT_TEXT;
    if (vals[OPT_FORMAT] && strcmp(vals[OPT_FORMAT], "text") == 0)
        t->out.fmt = FMT_TEXT;
    else if (vals[OPT_FORMAT] && strcmp(vals[OPT_FORMAT], "json") == 0)
        t->out.fmt = FMT_JSON;
    else if (vals[OPT_FORMAT] && strcmp(vals[OPT_FORMAT], "csv") == 0)
        t->out.fmt = FMT_CSV;
    else if (vals[OPT_FORMAT])
        return cli_usage_error(c, "bad --format '%s': use text, json, csv",
                               vals[OPT_FORMAT]);
    t->out.error_col = t->in.mode == ON_ERROR_EMIT;
    if (!out_frags(&t->out, t->cols[0], t->cols[1]))
        return cli_local_error(c, "out of memory");
    if (n > 1 && vals[OPT_INPUT])
        return cli_usage_error(c, "addresses on the line and --input: "
                                  "give one of them");
    /* Addresses on the line are checked before connecting, unless bad
     * ones are to be skipped or emitted. */
    for (i = 1; t->in.mode == ON_ERROR_STOP && i < n; i++)
        if (!armmap_parse_u32(pos[i], "address", &dummy, err))
            return cli_error(c, "DATA", CLI_EXIT_DATA, "%s: %s", cmd->name,
                             err);
    a->fd = STDIN_FILENO;
    if (vals[OPT_INPUT] && strcmp(vals[OPT_INPUT], "-") != 0) {
        a->fd = open(vals[OPT_INPUT], O_RDONLY | O_CLOEXEC);
        if (a->fd < 0)
            return cli_local_error(c, "cannot open '%s': %s", vals[OPT_INPUT],
                                   strerror(errno));
    }
    t->in.cli = c;
    t->out.buf = malloc(OUT_BLOCK);
    if (n > 1) {
        t->in.words = pos + 1;
        t->in.nwords = (size_t)n - 1;
    } else {
        t->in.fd = a->fd;
        t->in.cap = IN_BLOCK;
        t->in.buf = malloc(t->in.cap);
    }
    if (!t->out.buf || (!t->in.words && !t->in.buf))
        return cli_local_error(c, "out of memory");
    return cli_connect(c) ? CLI_EXIT_CONN : -1;
}

/* Frees what stream_setup() made. */
static void stream_done(struct stream_args *a, struct tr_ctx *t)
{
    if (a->fd > STDIN_FILENO)
        close(a->fd);
    free(t->out.buf);
    free(t->out.rf);
    free(t->in.buf);
    free(t->in.q);
}

/*
 * The end of a stream: the queued bad rows, the output flushed, then the
 * exit status: @rc if something failed already, else 6 (data error) for bad
 * lines, naming the line with --on-error stop and counting them otherwise.
 */
static int stream_finish(struct cli *c, struct tr_ctx *t, int rc)
{
    flush_bad(t, true);
    out_flush(&t->out);
    fflush(stdout);
    if (rc == 0 && t->out.write_failed)
        return cli_local_error(c, "writing the output failed");
    if (rc != 0 || t->in.nbad == 0)
        return rc;
    if (t->in.mode == ON_ERROR_STOP)
        return cli_error(c, "DATA", CLI_EXIT_DATA, "%s: %s", c->cmd, t->in.err);
    return cli_error(c, "DATA", CLI_EXIT_DATA, "%s: %lu bad input line%s",
                     c->cmd, t->in.nbad, t->in.nbad == 1 ? "" : "s");
}

int cli_cmd_translate(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = {
        [OPT_INPUT] = { "--input", true },
        [OPT_ON_ERROR] = { "--on-error", true },
        [OPT_FORMAT] = { "--format", true },
        [OPT_CHUNK] = { "--chunk", true },
        [OPT_WALK] = { "--walk", false },
        [OPT_ACCESS] = { "--access", true },
        [NR_OPTS] = { NULL, false },
    };
    const struct cli_command *cmd = cli_command_lookup("translate");
    const char *vals[NR_OPTS] = { NULL };
    struct stream_args a;
    enum armmap_status st;
    struct tr_ctx t;
    char **pos;
    int rc;

    memset(&a, 0, sizeof(a));
    memset(&t, 0, sizeof(t));
    t.cols = tr_cols;
    t.ncols = 4;
    pos = calloc((size_t)argc + 1, sizeof(*pos));
    if (!pos)
        return cli_local_error(c, "out of memory");
    rc = stream_setup(c, cmd, argc, argv, defs, pos, &a, &t, vals);
    if (rc >= 0) {
        stream_done(&a, &t);
        free(pos);
        return rc;
    }
    out_header(&t.out, vals[OPT_WALK] && t.out.fmt == FMT_CSV
                           ? "va,pa,region,fault,l1_desc,l2_desc"
                           : "va,pa,region,fault");
    if (vals[OPT_WALK] && t.out.fmt == FMT_CSV && t.out.error_col)
        rc = cli_usage_error(c, "--walk --format csv and --on-error emit: "
                                "use one of them");
    else if (vals[OPT_WALK]) {
        out_flush(&t.out);
        rc = translate_walk(c, a.m, a.access, &t);
    } else {
        st = armmap_translate_stream(c->conn, a.m, a.access, a.chunk, source,
                                     sink, &t);
        if (st == ARMMAP_CANCELLED && t.out.write_failed)
            rc = 0; /* stream_finish() reports it */
        else if (st != ARMMAP_OK)
            rc = cli_fail(c, st);
        else
            rc = 0;
    }
    rc = stream_finish(c, &t, rc);
    stream_done(&a, &t);
    free(pos);
    return rc;
}

int cli_cmd_phys(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = {
        [OPT_INPUT] = { "--input", true },
        [OPT_ON_ERROR] = { "--on-error", true },
        [OPT_FORMAT] = { "--format", true },
        [OPT_CHUNK] = { "--chunk", true },
        [OPT_WALK] = { NULL, false }, /* no --walk, --access */
    };
    const struct cli_command *cmd = cli_command_lookup("phys");
    const char *vals[NR_OPTS] = { NULL };
    struct stream_args a;
    struct tr_ctx t;
    char **pos;
    int rc;

    memset(&a, 0, sizeof(a));
    memset(&t, 0, sizeof(t));
    t.cols = phys_cols;
    t.ncols = 3;
    pos = calloc((size_t)argc + 1, sizeof(*pos));
    if (!pos)
        return cli_local_error(c, "out of memory");
    rc = stream_setup(c, cmd, argc, argv, defs, pos, &a, &t, vals);
    if (rc < 0) {
        out_header(&t.out, "pa,va,region");
        rc = phys_stream(c, a.m, a.chunk, &t);
        rc = stream_finish(c, &t, rc);
    }
    stream_done(&a, &t);
    free(pos);
    return rc;
}
