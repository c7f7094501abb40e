/* tests/fuzz/fuzz_batch.c - the op lines of `armmap batch` files.
 *
 * The input is a batch file: each line goes through libarmmap's op grammar
 * (armmap_parse_op_line(), the parser `armmap batch` reads files with),
 * and the first word of each line through the number parsers the CLI uses
 * for its other arguments (armmap_parse_u32/u64/size/duration_ms/access).
 *
 * Oracle beyond the sanitizers: a line that parses must come back through
 * armmap_format_op() as a line that parses to the same op (code, cpu,
 * arguments, wait), which is how the CLI's fuzz command prints the ops it
 * replays; and a line that fails must say why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "armmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINE_TEXT   (ARMMAP_LINE_MAX_ARGS * 12 + 128)

static void fail(const char *what, const char *line, const char *detail)
{
    fprintf(stderr, "fuzz_batch: %s: line '%s': %s\n", what, line, detail);
    abort();
}

static bool same_op(const struct armmap_op *a, const struct armmap_op *b)
{
    return a->code == b->code && a->cpu == b->cpu && a->nargs == b->nargs &&
           a->wait_ms == b->wait_ms &&
           (a->nargs == 0 ||
            memcmp(a->args, b->args, a->nargs * sizeof(uint32_t)) == 0);
}

static void numbers(const char *line)
{
    char word[64], err[ARMMAP_ERR_MAX];
    size_t n = strcspn(line, " \t");
    uint32_t u32;
    uint64_t u64;
    unsigned acc;
    bool ok32, ok64;

    if (n >= sizeof(word))
        n = sizeof(word) - 1;
    memcpy(word, line, n);
    word[n] = '\0';
    ok32 = armmap_parse_u32(word, "x", &u32, err);
    ok64 = armmap_parse_u64(word, "x", &u64, err);
    if (ok32 != (ok64 && u64 <= 0xffffffffu) || (ok32 && u32 != u64))
        fail("u32 vs u64", word, "they disagree");
    armmap_parse_size(word, "size", &u32, err);
    armmap_parse_duration_ms(word, &u64, err);
    armmap_parse_access(word, &acc, err);
}

static void one_line(const char *line, struct armmap_op_line *a,
                     struct armmap_op_line *b, char *text)
{
    char err[ARMMAP_ERR_MAX];
    size_t len;

    numbers(line);
    err[0] = '\0';
    if (!armmap_parse_op_line(line, a, err)) {
        if (err[0] == '\0')
            fail("parse", line, "failed without a message");
        return;
    }
    if (a->empty)
        return;
    len = armmap_format_op(&a->op, text, LINE_TEXT);
    if (len >= LINE_TEXT)
        fail("format", line, "longer than a line can be");
    if (!armmap_parse_op_line(text, b, err))
        fail("format does not parse back", line, err);
    if (b->empty || !same_op(&a->op, &b->op))
        fail("format parses back to another op", line, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct armmap_op_line a, b;
    static char text[LINE_TEXT];
    char *copy = malloc(size + 1), *p, *end;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    end = copy + strlen(copy);          /* a NUL ends the file */
    for (p = copy; p < end;) {
        char *nl = strchr(p, '\n');

        if (nl != NULL)
            *nl = '\0';
        one_line(p, &a, &b, text);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    free(copy);
    return 0;
}
