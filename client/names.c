/* client/names.c - libarmmap's name tables and text parsers.
 *
 * Everything here works without a connection: status, op, region, fault
 * and report names; numbers, sizes, ages and access strings as the CLI
 * takes them; and the op grammar shared by the CLI's op commands and the
 * lines of `armmap batch`, so that "kmap 0x9f000" means the same in both.
 * Parsers never print; they fill an error buffer with a sentence that
 * names the word that was wrong.
 */
#include "armmap_int.h"
#include "names.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PFN_MAX 0xfffffu /* page frame numbers are 20 bits */

/* libarmmap's codes and ops are the wire's numbers (proto/names.h). */
#define SAME_CODE(s, name) \
    _Static_assert((int)ARMMAP_##s == (int)ARMMAP__V1__CODE__##s, "code " #s);
#define SAME_OP(s, name) \
    _Static_assert((int)ARMMAP_OP_##s == (int)ARMMAP__V1__OP_CODE__OP_##s, \
                   "op " #s);
ARMMAP_STATUS_LIST(SAME_CODE)
ARMMAP_OP_LIST(SAME_OP)
_Static_assert((int)ARMMAP_OP_COUNT == (int)NAMES_OP_COUNT, "op count");
_Static_assert((int)ARMMAP_MOVED + 1 == (int)NAMES_STATUS_COUNT,
               "status count");

static const char *const client_status_names[] = {
    "NO_SOCKET", "REFUSED",   "TIMEOUT",        "IO",
    "PROTOCOL",  "CANCELLED", "NO_HOST_MEMORY",
};

const char *armmap_strerror(enum armmap_status st)
{
    unsigned u = (unsigned)st;

    if (u < NAMES_STATUS_COUNT)
        return names_status(u);
    if (u >= ARMMAP_NO_SOCKET &&
        u - ARMMAP_NO_SOCKET <
            sizeof(client_status_names) / sizeof(client_status_names[0]))
        return client_status_names[u - ARMMAP_NO_SOCKET];
    return "UNKNOWN";
}

const char *armmap_op_name(enum armmap_opcode op)
{
    return names_op((unsigned)op);
}

/* Compares @a and @b treating '-' and '_' alike. */
static bool name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;

        if (x != y)
            return false;
    }
    return *a == *b;
}

enum armmap_opcode armmap_op_lookup(const char *name)
{
    unsigned i;

    for (i = 1; i < ARMMAP_OP_COUNT; i++)
        if (name_eq(name, names_op(i)))
            return (enum armmap_opcode)i;
    return ARMMAP_OP_NONE;
}

const char *armmap_region_name(unsigned region)
{
    return names_region(region) != NULL ? names_region(region) : "unknown";
}

const char *armmap_fault_name(unsigned fault)
{
    return names_fault(fault) != NULL ? names_fault(fault) : "unknown";
}

static const char *const report_names[ARMMAP_REPORT_COUNT] = {
    "layout", "memory", "iomem",      "buddyinfo", "meminfo",  "vmallocinfo",
    "pkmap",  "fixmap", "pagetables", "regions",   "zoneinfo",
};

const char *armmap_report_name(enum armmap_report r)
{
    if ((unsigned)r >= ARMMAP_REPORT_COUNT)
        return NULL;
    return report_names[r];
}

bool armmap_report_lookup(const char *name, enum armmap_report *out)
{
    unsigned i;

    for (i = 0; i < ARMMAP_REPORT_COUNT; i++) {
        if (strcmp(name, report_names[i]) == 0) {
            *out = (enum armmap_report)i;
            return true;
        }
    }
    return false;
}

/* The km_type slots every ARM 2.6 kernel shares (proto/names.h); the
 * engine knows the full per-version lists. */
int armmap_km_type_lookup(const char *name)
{
    unsigned i;

    for (i = 0; i < NAMES_KM_TYPE_COUNT; i++)
        if (strcmp(name, names_km_type(i)) == 0)
            return (int)i;
    return -1;
}

/* ---- numbers ---------------------------------------------------------- */

void armmap__set_err(char err[ARMMAP_ERR_MAX], const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err, ARMMAP_ERR_MAX, fmt, ap);
    va_end(ap);
}

/* Parses hex (0x) or decimal digits of @text up to @end (or the NUL). */
static bool parse_digits(const char *text, const char **end, uint64_t *out,
                         bool *overflow)
{
    const char *p = text;
    unsigned base = 10, d;
    uint64_t v = 0;
    bool any = false;

    *overflow = false;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (;; p++) {
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            *overflow = true;
        else
            v = v * base + d;
        any = true;
    }
    *end = p;
    *out = v;
    return any;
}

static bool parse_num(const char *text, const char *what, uint64_t max,
                      uint64_t *out, char err[ARMMAP_ERR_MAX])
{
    const char *end;
    bool overflow;
    uint64_t v;

    if (!text || !parse_digits(text, &end, &v, &overflow) || *end != '\0') {
        armmap__set_err(err, "bad %s '%s': not a number", what,
                        text ? text : "");
        return false;
    }
    if (overflow || v > max) {
        armmap__set_err(err, "bad %s '%s': out of range (max 0x%llx)", what,
                        text, (unsigned long long)max);
        return false;
    }
    *out = v;
    return true;
}

bool armmap_parse_u32(const char *text, const char *what, uint32_t *out,
                      char err[ARMMAP_ERR_MAX])
{
    uint64_t v;

    if (!parse_num(text, what, 0xffffffffu, &v, err))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool armmap_parse_u64(const char *text, const char *what, uint64_t *out,
                      char err[ARMMAP_ERR_MAX])
{
    return parse_num(text, what, UINT64_MAX, out, err);
}

/* A number at most @max, as parse_num(). */
static bool parse_max(const char *text, const char *what, uint32_t max,
                      uint32_t *out, char err[ARMMAP_ERR_MAX])
{
    uint64_t v;

    if (!parse_num(text, what, max, &v, err))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool armmap_parse_size(const char *text, const char *what, uint32_t *out,
                       char err[ARMMAP_ERR_MAX])
{
    const char *end;
    bool overflow;
    uint64_t v, mul = 1;

    if (!text || !parse_digits(text, &end, &v, &overflow)) {
        armmap__set_err(err,
                        "bad %s '%s': not a size (a number with K, M or G)",
                        what, text ? text : "");
        return false;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1u << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1u << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1u << 30;
        end++;
        break;
    default:
        armmap__set_err(err,
                        "bad %s '%s': not a size (a number with K, M or G)",
                        what, text);
        return false;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0') {
        armmap__set_err(err,
                        "bad %s '%s': not a size (a number with K, M or G)",
                        what, text);
        return false;
    }
    if (overflow || v > 0xffffffffull / mul) {
        armmap__set_err(err, "bad %s '%s': out of range (max 4G-1)", what,
                        text);
        return false;
    }
    *out = (uint32_t)(v * mul);
    return true;
}

bool armmap_parse_duration_ms(const char *text, uint64_t *out,
                              char err[ARMMAP_ERR_MAX])
{
    const char *end;
    bool overflow;
    uint64_t v, mul = 1000;

    if (!text || !parse_digits(text, &end, &v, &overflow)) {
        armmap__set_err(err,
                        "bad age '%s': expected a number with s, m, h or d",
                        text ? text : "");
        return false;
    }
    switch (*end) {
    case '\0':
        break;
    case 's':
        end++;
        break;
    case 'm':
        mul = 60000;
        end++;
        break;
    case 'h':
        mul = 3600000;
        end++;
        break;
    case 'd':
        mul = 86400000;
        end++;
        break;
    default:
        break;
    }
    if (*end != '\0') {
        armmap__set_err(err,
                        "bad age '%s': expected a number with s, m, h or d",
                        text);
        return false;
    }
    if (overflow || v > UINT64_MAX / mul) {
        armmap__set_err(err, "bad age '%s': out of range", text);
        return false;
    }
    *out = v * mul;
    return true;
}

bool armmap_parse_access(const char *text, unsigned *out,
                         char err[ARMMAP_ERR_MAX])
{
    unsigned acc = 0, bit;
    const char *p;

    if (strcmp(text, "-") == 0) {
        *out = 0;
        return true;
    }
    for (p = text; *p; p++) {
        switch (*p) {
        case 'r':
            bit = ARMMAP_ACC_READ;
            break;
        case 'w':
            bit = ARMMAP_ACC_WRITE;
            break;
        case 'x':
            bit = ARMMAP_ACC_EXEC;
            break;
        case 'u':
            bit = ARMMAP_ACC_USER;
            break;
        default:
            armmap__set_err(err,
                            "bad access '%s': use the letters r, w, x and u",
                            text);
            return false;
        }
        if (acc & bit) {
            armmap__set_err(err, "bad access '%s': '%c' given twice", text, *p);
            return false;
        }
        acc |= bit;
    }
    *out = acc;
    return true;
}

/* ---- the op grammar --------------------------------------------------- */

enum arg_kind { ARG_PFN, ARG_VA, ARG_SIZE, ARG_PHYS };

struct op_syntax {
    enum armmap_opcode code;
    const char *usage;
    unsigned nfixed; /* positional arguments */
    enum arg_kind kind[3];
    bool variadic; /* vmap: one or more pfns */
    unsigned opts; /* OPT_* accepted */
};

#define OPT_ZONE  0x1
#define OPT_ORDER 0x2
#define OPT_WAIT  0x4
#define OPT_CPU   0x8
#define OPT_SLOT  0x10

static const struct op_syntax syntax[ARMMAP_OP_COUNT] = {
    [ARMMAP_OP_ALLOC] = { ARMMAP_OP_ALLOC,
                          "alloc [--zone normal|highmem|dma] [--order N]",
                          0,
                          { 0, 0 },
                          false,
                          OPT_ZONE | OPT_ORDER },
    [ARMMAP_OP_FREE] = { ARMMAP_OP_FREE,
                         "free PFN [--order N]",
                         1,
                         { ARG_PFN, 0 },
                         false,
                         OPT_ORDER },
    [ARMMAP_OP_KMAP] = { ARMMAP_OP_KMAP,
                         "kmap PFN [--wait MS]",
                         1,
                         { ARG_PFN, 0 },
                         false,
                         OPT_WAIT },
    [ARMMAP_OP_KUNMAP] = { ARMMAP_OP_KUNMAP,
                           "kunmap PFN",
                           1,
                           { ARG_PFN, 0 },
                           false,
                           0 },
    [ARMMAP_OP_KMAP_ATOMIC] = { ARMMAP_OP_KMAP_ATOMIC,
                                "kmap-atomic PFN [--cpu C] [--slot NAME]",
                                1,
                                { ARG_PFN, 0 },
                                false,
                                OPT_CPU | OPT_SLOT },
    [ARMMAP_OP_KUNMAP_ATOMIC] = { ARMMAP_OP_KUNMAP_ATOMIC,
                                  "kunmap-atomic VA [--cpu C]",
                                  1,
                                  { ARG_VA, 0 },
                                  false,
                                  OPT_CPU },
    [ARMMAP_OP_VMALLOC] = { ARMMAP_OP_VMALLOC,
                            "vmalloc SIZE",
                            1,
                            { ARG_SIZE, 0 },
                            false,
                            0 },
    [ARMMAP_OP_VFREE] = { ARMMAP_OP_VFREE,
                          "vfree VA",
                          1,
                          { ARG_VA, 0 },
                          false,
                          0 },
    [ARMMAP_OP_VMAP] = { ARMMAP_OP_VMAP,
                         "vmap PFN...",
                         1,
                         { ARG_PFN, 0 },
                         true,
                         0 },
    [ARMMAP_OP_VUNMAP] = { ARMMAP_OP_VUNMAP,
                           "vunmap VA",
                           1,
                           { ARG_VA, 0 },
                           false,
                           0 },
    [ARMMAP_OP_IOREMAP] = { ARMMAP_OP_IOREMAP,
                            "ioremap PHYS SIZE",
                            2,
                            { ARG_PHYS, ARG_SIZE },
                            false,
                            0 },
    [ARMMAP_OP_IOUNMAP] = { ARMMAP_OP_IOUNMAP,
                            "iounmap VA",
                            1,
                            { ARG_VA, 0 },
                            false,
                            0 },
    [ARMMAP_OP_MODULE_ALLOC] = { ARMMAP_OP_MODULE_ALLOC,
                                 "module-alloc SIZE",
                                 1,
                                 { ARG_SIZE, 0 },
                                 false,
                                 0 },
    [ARMMAP_OP_MODULE_FREE] = { ARMMAP_OP_MODULE_FREE,
                                "module-free VA",
                                1,
                                { ARG_VA, 0 },
                                false,
                                0 },
    [ARMMAP_OP_KMAP_FLUSH] = { ARMMAP_OP_KMAP_FLUSH,
                               "kmap-flush",
                               0,
                               { 0, 0 },
                               false,
                               0 },
    [ARMMAP_OP_MODULE_ENABLE_RO] = { ARMMAP_OP_MODULE_ENABLE_RO,
                                     "module-enable-ro VA TEXT_SIZE RO_SIZE",
                                     3,
                                     { ARG_VA, ARG_SIZE, ARG_SIZE },
                                     false,
                                     0 },
};

static bool parse_arg(enum arg_kind kind, const char *opname, const char *text,
                      uint32_t *out, char err[ARMMAP_ERR_MAX])
{
    char e[ARMMAP_ERR_MAX];
    bool ok;

    switch (kind) {
    case ARG_PFN:
        ok = parse_max(text, "pfn", PFN_MAX, out, e);
        break;
    case ARG_VA:
        ok = armmap_parse_u32(text, "address", out, e);
        break;
    case ARG_PHYS:
        ok = armmap_parse_u32(text, "physical address", out, e);
        break;
    default:
        ok = armmap_parse_size(text, "size", out, e);
        break;
    }
    if (!ok)
        armmap__set_err(err, "%s: %s", opname, e);
    return ok;
}

static bool parse_zone(const char *text, uint32_t *out,
                       char err[ARMMAP_ERR_MAX])
{
    if (strcmp(text, "dma") == 0 || strcmp(text, "DMA") == 0)
        *out = ARMMAP_ZONE_DMA;
    else if (strcmp(text, "normal") == 0 || strcmp(text, "Normal") == 0)
        *out = ARMMAP_ZONE_NORMAL;
    else if (strcmp(text, "highmem") == 0 || strcmp(text, "HighMem") == 0)
        *out = ARMMAP_ZONE_HIGHMEM;
    else {
        armmap__set_err(err, "alloc: bad zone '%s': use normal, highmem or dma",
                        text);
        return false;
    }
    return true;
}

/* One --option of an op; *@i advances past its value. */
static bool parse_opt(const struct op_syntax *sx, const char *opname, int argc,
                      char **argv, int *i, uint32_t *zone, uint32_t *order,
                      uint32_t *wait, uint32_t *cpu, long *slot,
                      char err[ARMMAP_ERR_MAX])
{
    const char *name = argv[*i], *val, *eq = strchr(name, '=');
    char key[32], e[ARMMAP_ERR_MAX];
    size_t klen = eq ? (size_t)(eq - name) : strlen(name);
    int s;

    if (klen >= sizeof(key))
        klen = sizeof(key) - 1;
    memcpy(key, name, klen);
    key[klen] = '\0';
    if (eq) {
        val = eq + 1;
    } else if (*i + 1 < argc) {
        val = argv[++*i];
    } else {
        val = NULL;
    }
#define WANT(flag) ((sx->opts & (flag)) != 0)
    if (strcmp(key, "--zone") == 0 && WANT(OPT_ZONE)) {
        if (!val)
            goto missing;
        return parse_zone(val, zone, err);
    }
    if (strcmp(key, "--order") == 0 && WANT(OPT_ORDER)) {
        if (!val)
            goto missing;
        if (!armmap_parse_u32(val, "order", order, e))
            goto bad;
        return true;
    }
    if (strcmp(key, "--wait") == 0 && WANT(OPT_WAIT)) {
        if (!val)
            goto missing;
        if (!armmap_parse_u32(val, "wait", wait, e))
            goto bad;
        return true;
    }
    if (strcmp(key, "--cpu") == 0 && WANT(OPT_CPU)) {
        if (!val)
            goto missing;
        if (!armmap_parse_u32(val, "cpu", cpu, e))
            goto bad;
        return true;
    }
    if (strcmp(key, "--slot") == 0 && WANT(OPT_SLOT)) {
        uint32_t v;

        if (!val)
            goto missing;
        s = armmap_km_type_lookup(val);
        if (s >= 0) {
            *slot = s;
            return true;
        }
        if (!parse_max(val, "slot", 63, &v, e)) {
            armmap__set_err(
                err,
                "%s: bad slot '%s': not a km_type name (KM_USER0, ...) "
                "or a number 0..63",
                opname, val);
            return false;
        }
        *slot = (long)v;
        return true;
    }
#undef WANT
    armmap__set_err(err, "%s: unknown option '%s' (usage: %s)", opname, key,
                    sx->usage);
    return false;
missing:
    armmap__set_err(err, "%s: option %s needs a value", opname, key);
    return false;
bad:
    armmap__set_err(err, "%s: %s", opname, e);
    return false;
}

bool armmap_parse_op_argv(int argc, char **argv, struct armmap_op_line *out,
                          char err[ARMMAP_ERR_MAX])
{
    const struct op_syntax *sx;
    enum armmap_opcode code;
    uint32_t zone = ARMMAP_ZONE_NORMAL, order = 0, wait = 0, cpu = 0;
    uint32_t npos = 0;
    const char *opname;
    long slot = -1;
    int i;

    memset(&out->op, 0, sizeof(out->op));
    out->empty = false;
    out->op.args = out->args;
    if (argc < 1) {
        out->empty = true;
        return true;
    }
    code = armmap_op_lookup(argv[0]);
    if (code == ARMMAP_OP_NONE) {
        armmap__set_err(err, "unknown op '%s'", argv[0]);
        return false;
    }
    sx = &syntax[code];
    opname = argv[0];
    for (i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            if (!parse_opt(sx, opname, argc, argv, &i, &zone, &order, &wait,
                           &cpu, &slot, err))
                return false;
            continue;
        }
        if (npos >= sx->nfixed && !sx->variadic) {
            armmap__set_err(err, "%s: unexpected argument '%s' (usage: %s)",
                            opname, argv[i], sx->usage);
            return false;
        }
        if (npos >= ARMMAP_LINE_MAX_ARGS) {
            armmap__set_err(err, "%s: more than %d arguments", opname,
                            ARMMAP_LINE_MAX_ARGS);
            return false;
        }
        if (!parse_arg(sx->kind[npos < sx->nfixed ? npos : sx->nfixed - 1],
                       opname, argv[i], &out->args[npos], err))
            return false;
        npos++;
    }
    if (npos < sx->nfixed) {
        armmap__set_err(err, "%s: missing argument (usage: %s)", opname,
                        sx->usage);
        return false;
    }
    out->op.code = code;
    out->op.cpu = cpu;
    out->op.wait_ms = wait;
    if (code == ARMMAP_OP_ALLOC) {
        out->args[0] = zone;
        out->args[1] = order;
        npos = 2;
    } else if (code == ARMMAP_OP_FREE) {
        out->args[1] = order;
        npos = 2;
    } else if (code == ARMMAP_OP_KMAP_ATOMIC && slot >= 0) {
        out->args[1] = (uint32_t)slot;
        npos = 2;
    }
    out->op.nargs = npos;
    return true;
}

#define LINE_MAX_WORDS (ARMMAP_LINE_MAX_ARGS + 16)

bool armmap_parse_op_line(const char *line, struct armmap_op_line *out,
                          char err[ARMMAP_ERR_MAX])
{
    char *copy, *p, **words;
    int n = 0;
    bool ok;

    copy = strdup(line);
    words = malloc(LINE_MAX_WORDS * sizeof(*words));
    if (!copy || !words) {
        free(copy);
        free(words);
        armmap__set_err(err, "out of memory");
        return false;
    }
    p = strchr(copy, '#');
    if (p)
        *p = '\0';
    for (p = strtok(copy, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
        if (n == LINE_MAX_WORDS) {
            free(copy);
            free(words);
            armmap__set_err(err, "line has more than %d words", LINE_MAX_WORDS);
            return false;
        }
        words[n++] = p;
    }
    ok = armmap_parse_op_argv(n, words, out, err);
    free(copy);
    free(words);
    return ok;
}

/* ---- formatting ------------------------------------------------------- */

/* Appends to @buf at *@len as snprintf would, keeping the total length. */
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(*len < size ? buf + *len : NULL,
                  *len < size ? size - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

size_t armmap_format_op(const struct armmap_op *op, char *buf, size_t size)
{
    static const char *const zones[] = { "dma", "normal", "highmem" };
    const char *name = armmap_op_name(op->code);
    size_t len = 0;
    char word[32];
    uint32_t i;

    if (size > 0)
        buf[0] = '\0';
    if (!name)
        name = "none";
    for (i = 0; name[i] && i < sizeof(word) - 1; i++)
        word[i] = name[i] == '_' ? '-' : name[i];
    word[i] = '\0';
    put(buf, size, &len, "%s", word);
    switch (op->code) {
    case ARMMAP_OP_ALLOC:
        if (op->nargs > 0 && op->args[0] < 3)
            put(buf, size, &len, " --zone %s", zones[op->args[0]]);
        else if (op->nargs > 0)
            put(buf, size, &len, " --zone %u", op->args[0]);
        if (op->nargs > 1)
            put(buf, size, &len, " --order %u", op->args[1]);
        return len;
    case ARMMAP_OP_FREE:
        if (op->nargs > 0)
            put(buf, size, &len, " 0x%x", op->args[0]);
        if (op->nargs > 1)
            put(buf, size, &len, " --order %u", op->args[1]);
        return len;
    case ARMMAP_OP_KMAP_ATOMIC:
        if (op->nargs > 0)
            put(buf, size, &len, " 0x%x", op->args[0]);
        put(buf, size, &len, " --cpu %u", op->cpu);
        if (op->nargs > 1)
            put(buf, size, &len, " --slot %u", op->args[1]);
        return len;
    case ARMMAP_OP_KUNMAP_ATOMIC:
        if (op->nargs > 0)
            put(buf, size, &len, " 0x%x", op->args[0]);
        put(buf, size, &len, " --cpu %u", op->cpu);
        return len;
    default:
        for (i = 0; i < op->nargs; i++)
            put(buf, size, &len, " 0x%x", op->args[i]);
        if (op->code == ARMMAP_OP_KMAP && op->wait_ms)
            put(buf, size, &len, " --wait %u", op->wait_ms);
        return len;
    }
}
