/* tests/oracle/compare.c - the engine against what the real kernel printed.
 *
 * Each fixture (tests/oracle/fixtures/NAME.txt, written by run.sh from a
 * real boot of Debian 12's 6.1 armmp kernel under QEMU virt) names the
 * machine (RAM, CPUs, kernel command line) and holds the kernel's
 * /proc/meminfo, zoneinfo, buddyinfo, iomem, vmallocinfo, page-table dump
 * (when the kernel has one), the boot layout lines of dmesg and what
 * tests/oracle/module printed (the addresses and descriptors of a fixed
 * sequence of mapping calls).  For each, this program creates the matching
 * machine with the engine library (preset qemu-virt, kernel 6.1), renders
 * the engine's reports, replays the module's sequence, breaks both sides
 * into named fields with the same parsers, and compares field by field.
 *
 *   oracle_compare [-q] [-e EXACT] [-l WORKLOAD] [-w] FIXTURE...
 *
 * Prints one line per differing field (all of them; with -q only
 * regressions), then "oracle: N/M fields exact".  WORKLOAD (tests/oracle/
 * workload.txt) names the fields that depend on what the booted system did
 * before the probe (free pages, page cache, slab ...; a pattern may name
 * one fixture's field, "ram256M-cpus1 ops.kmap"), each with a reason:
 * they are printed as "workload" apart from the model's differences and
 * counted neither in N/M nor in EXACT.  A fixture NAME.txt may have more
 * boots of the same machine beside it, NAME.boot2.txt and NAME.boot3.txt
 * (run.sh): a field on which its real boots disagree is the kernel
 * differing from itself, printed as "varies" with every boot's value and,
 * like the workload fields, counted neither in N/M nor in EXACT; a field
 * all boots agree on is compared as usual.  Paths ending in ".boot2.txt"
 * or ".boot3.txt" given as FIXTUREs are skipped (they are read beside
 * their first boot).  EXACT (tests/oracle/
 * exact.txt) lists "MACHINE FIELD" pairs that matched when the baseline was
 * taken; a pair listed there that no longer matches is a regression and
 * makes the exit status 1.  With -w the program writes EXACT anew from
 * this run instead (`make oracle-baseline`).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mm.h"
#include "mm_int.h"

#define KEY_MAX   160
#define VAL_MAX   320
#define TEXT_LINE_MAX 1024

/* Boots of one machine a comparison reads: NAME.txt, NAME.boot2.txt ... */
#define MAX_BOOTS 3

/* Whose value a parser is reading: the kernel's (the fixture), the
 * kernel's second or third boot of the same machine, or the engine's. */
enum side { SIDE_KERNEL, SIDE_BOOT2, SIDE_BOOT3, SIDE_ARMMAP };

/* One named field: the kernel's value, its other boots' (boot[0] is the
 * second boot), the engine's; any may be absent. */
struct field {
    char key[KEY_MAX];
    char kernel[VAL_MAX];
    char boot[MAX_BOOTS - 1][VAL_MAX];
    char armmap[VAL_MAX];
    bool has_kernel, has_boot[MAX_BOOTS - 1], has_armmap;
};

struct fields {
    struct field *v;
    size_t n, cap;
};

enum section { S_MEMINFO, S_ZONEINFO, S_BUDDYINFO, S_IOMEM, S_VMALLOCINFO,
               S_BOOT, S_PAGETABLES, S_OPS, S_COUNT };

static const char *const sec_names[S_COUNT] = {
    "meminfo", "zoneinfo", "buddyinfo", "iomem", "vmallocinfo", "dmesg",
    "pagetables", "ops",
};

/* One fixture: the machine and the kernel's text per section. */
struct fixture {
    char path[512];
    char name[64];
    char label[320];                    /* "ram=512M cpus=2 vmalloc=480M" */
    unsigned ram_mib, cpus;
    unsigned long initrd_bytes;          /* QEMU's -initrd file; 0 if unknown */
    unsigned long module_bytes;          /* armmap_oracle.ko's size; 0 if unknown */
    char args[256];
    char *sec_text[S_COUNT];            /* per section, malloc'd or NULL */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                     noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("oracle: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL)
        die("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(xrealloc(NULL, n), s, n);
}

/* Copies @src into @dst of @size bytes, cut short if it must be. */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */
/* ------------------------------------------------------------------ */

static struct field *field_find(struct fields *fs, const char *key)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->v[i].key, key) == 0)
            return &fs->v[i];
    return NULL;
}

/* The value of @f on @side and whether it has one there. */
static char *field_val(struct field *f, enum side side, bool **has)
{
    switch (side) {
    case SIDE_KERNEL:
        *has = &f->has_kernel;
        return f->kernel;
    case SIDE_BOOT2:
    case SIDE_BOOT3:
        *has = &f->has_boot[side - SIDE_BOOT2];
        return f->boot[side - SIDE_BOOT2];
    case SIDE_ARMMAP:
        break;
    }
    *has = &f->has_armmap;
    return f->armmap;
}

/* Records @val as @side's value of @key.  A key already given on that side
 * gets "#2", "#3"... so that repeated lines (two RAM banks) stay distinct
 * fields. */
static void field_put(struct fields *fs, enum side side, const char *key, const char *val)
{
    char k[KEY_MAX];
    struct field *f;
    bool *has;

    copy_str(k, sizeof(k), key);
    for (unsigned dup = 2; ; dup++) {
        f = field_find(fs, k);
        if (f == NULL)
            break;
        field_val(f, side, &has);
        if (!*has)
            break;
        char suffix[16];

        snprintf(suffix, sizeof(suffix), "#%u", dup);
        copy_str(k, sizeof(k) - strlen(suffix), key);
        strcat(k, suffix);
    }
    if (f == NULL) {
        if (fs->n == fs->cap) {
            fs->cap = fs->cap ? fs->cap * 2 : 256;
            fs->v = xrealloc(fs->v, fs->cap * sizeof(*fs->v));
        }
        f = &fs->v[fs->n++];
        memset(f, 0, sizeof(*f));
        copy_str(f->key, sizeof(f->key), k);
    }
    copy_str(field_val(f, side, &has), VAL_MAX, val);
    *has = true;
}

static bool field_exact(const struct field *f)
{
    return f->has_kernel && f->has_armmap && strcmp(f->kernel, f->armmap) == 0;
}

/* Whether the kernel's @nboots boots of the machine disagree on @f (absent
 * in one of them is disagreeing). */
static bool field_varies(const struct field *f, int nboots)
{
    for (int b = 0; b < nboots - 1; b++)
        if (f->has_kernel != f->has_boot[b] ||
            (f->has_kernel && strcmp(f->kernel, f->boot[b]) != 0))
            return true;
    return false;
}

/* Whether the engine's value of @f is one of the kernel's @nboots boots'. */
static bool field_equals_a_boot(const struct field *f, int nboots)
{
    if (field_exact(f))
        return true;
    for (int b = 0; b < nboots - 1; b++)
        if (f->has_boot[b] && f->has_armmap && strcmp(f->boot[b], f->armmap) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* Text helpers                                                        */
/* ------------------------------------------------------------------ */

/* Copies @s with runs of blanks squeezed to one space, ends trimmed. */
static void squeeze(char *dst, size_t size, const char *s)
{
    size_t n = 0;
    bool blank = false;

    while (*s == ' ' || *s == '\t')
        s++;
    for (; *s != '\0' && *s != '\n' && n + 1 < size; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\r') {
            blank = true;
            continue;
        }
        if (blank && n > 0 && n + 2 < size)
            dst[n++] = ' ';
        blank = false;
        dst[n++] = *s;
    }
    dst[n] = '\0';
}

/* Calls @fn for each line of @text (without its newline). */
static void each_line(const char *text, void (*fn)(void *arg, const char *line),
                      void *arg)
{
    char line[TEXT_LINE_MAX];

    while (text != NULL && *text != '\0') {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);

        if (len >= sizeof(line))
            len = sizeof(line) - 1;
        memcpy(line, text, len);
        line[len] = '\0';
        fn(arg, line);
        text = nl ? nl + 1 : text + strlen(text);
    }
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ------------------------------------------------------------------ */
/* Parsers: the same for the kernel's text and the engine's            */
/* ------------------------------------------------------------------ */

struct pctx {
    struct fields *fs;
    enum side side;
    char zone[32];                      /* zoneinfo: the zone being read */
    bool in_zone_body;                  /* zoneinfo: past "per-node stats" */
};

static void put(struct pctx *p, const char *prefix, const char *key, const char *val)
{
    char k[KEY_MAX + 64];

    snprintf(k, sizeof(k), "%s.%s", prefix, key);
    field_put(p->fs, p->side, k, val);
}

/* "MemTotal:   500588 kB" -> meminfo.MemTotal = "500588 kB". */
static void parse_meminfo(void *arg, const char *line)
{
    const char *colon = strchr(line, ':');
    char key[64], val[VAL_MAX];

    if (colon == NULL || colon == line || (size_t)(colon - line) >= sizeof(key))
        return;
    memcpy(key, line, (size_t)(colon - line));
    key[colon - line] = '\0';
    squeeze(val, sizeof(val), colon + 1);
    put(arg, "meminfo", key, val);
}

/* zoneinfo: per zone, the figures of struct zone (free, watermarks, spans,
 * managed, cma, protection, start_pfn); the per-node and per-CPU counters
 * are running state and not fields. */
static void parse_zoneinfo(void *arg, const char *line)
{
    static const char *const keys[] = {
        "pages free", "boost", "min", "low", "high", "spanned", "present",
        "managed", "cma",
    };
    struct pctx *p = arg;
    char sq[TEXT_LINE_MAX], key[96];

    squeeze(sq, sizeof(sq), line);
    if (starts(sq, "Node ")) {
        const char *z = strstr(sq, "zone ");

        copy_str(p->zone, sizeof(p->zone), z ? z + 5 : "?");
        p->in_zone_body = true;
        return;
    }
    if (p->zone[0] == '\0')
        return;
    if (starts(sq, "per-node stats")) {
        p->in_zone_body = false;
        return;
    }
    if (starts(sq, "pages free"))
        p->in_zone_body = true;
    if (starts(sq, "pagesets")) {
        p->in_zone_body = false;
        return;
    }
    if (starts(sq, "start_pfn:") || starts(sq, "protection:")) {
        const char *colon = strchr(sq, ':');

        snprintf(key, sizeof(key), "%s.%.*s", p->zone, (int)(colon - sq), sq);
        while (*++colon == ' ')
            ;
        put(p, "zoneinfo", key, colon);
        return;
    }
    if (!p->in_zone_body)
        return;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t n = strlen(keys[i]);

        if (strncmp(sq, keys[i], n) == 0 && sq[n] == ' ' && isdigit((unsigned char)sq[n + 1])) {
            snprintf(key, sizeof(key), "%s.%s", p->zone, keys[i]);
            put(p, "zoneinfo", key, sq + n + 1);
            return;
        }
    }
}

/* "Node 0, zone   Normal  1 2 ..." -> buddyinfo.Normal = "1 2 ...",
 * buddyinfo.Normal.orders = the number of columns. */
static void parse_buddyinfo(void *arg, const char *line)
{
    char sq[TEXT_LINE_MAX], zone[32], key[64], n[16];
    const char *z = strstr(line, "zone ");
    const char *counts;
    unsigned cols = 0;

    if (z == NULL)
        return;
    squeeze(sq, sizeof(sq), z + 5);
    if (sscanf(sq, "%31s", zone) != 1)
        return;
    counts = sq + strlen(zone);
    while (*counts == ' ')
        counts++;
    for (const char *c = counts; *c != '\0'; c++)
        if (c[0] != ' ' && (c[1] == ' ' || c[1] == '\0'))
            cols++;
    put(arg, "buddyinfo", zone, counts);
    snprintf(key, sizeof(key), "%s.orders", zone);
    snprintf(n, sizeof(n), "%u", cols);
    put(arg, "buddyinfo", key, n);
}

/* "  40208000-411fffff : Kernel code" -> iomem.[  ]Kernel code = range;
 * the indent stays in the key (a child and a top-level entry differ). */
static void parse_iomem(void *arg, const char *line)
{
    const char *sep = strstr(line, " : ");
    size_t indent = strspn(line, " ");
    char key[KEY_MAX], range[64];

    if (sep == NULL)
        return;
    snprintf(key, sizeof(key), "%.*s%s", (int)indent, line, sep + 3);
    snprintf(range, sizeof(range), "%.*s", (int)(sep - line - indent), line + indent);
    put(arg, "iomem", key, range);
}

/* "0xe0800000-0xe0803000 12288 start_kernel+0x540/0x71c pages=2 vmalloc"
 * -> vmallocinfo.0xe0800000 = "0xe0803000 12288 pages=2 vmalloc": the
 * caller (the kernel's %pS, the engine's operation name) is not a field. */
static void parse_vmallocinfo(void *arg, const char *line)
{
    char sq[TEXT_LINE_MAX], start[24], val[VAL_MAX];
    char *tok, *save = NULL;
    size_t n = 0;
    unsigned i = 0;

    squeeze(sq, sizeof(sq), line);
    if (!starts(sq, "0x"))
        return;
    val[0] = '\0';
    for (tok = strtok_r(sq, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
        if (i == 0) {
            char *dash = strchr(tok, '-');

            if (dash == NULL)
                return;
            *dash = '\0';
            copy_str(start, sizeof(start), tok);
            n += (size_t)snprintf(val + n, sizeof(val) - n, "%s", dash + 1);
            continue;
        }
        if (i == 2 && strcmp(tok, "unpurged") != 0)
            continue;                   /* the caller */
        if (n < sizeof(val))
            n += (size_t)snprintf(val + n, sizeof(val) - n, " %s", tok);
    }
    put(arg, "vmallocinfo", start, val);
}

/* "481272K/524288K available (11264K kernel code, ..., 0K highmem)" or
 * the older "2006560k/2006560k available, 43484k reserved, ...": one field
 * per figure, boot.Memory.available, boot.Memory.kernel code, ... */
static void parse_memory_line(void *arg, const char *s)
{
    char copy[TEXT_LINE_MAX], key[KEY_MAX], *tok, *save = NULL;

    copy_str(copy, sizeof(copy), s);
    for (tok = strtok_r(copy, "(,)", &save); tok; tok = strtok_r(NULL, "(,)", &save)) {
        char item[VAL_MAX];
        const char *name;

        squeeze(item, sizeof(item), tok);
        name = strchr(item, ' ');
        if (item[0] == '\0')
            continue;
        if (name == NULL) {
            put(arg, "boot", "Memory", item);
            continue;
        }
        snprintf(key, sizeof(key), "Memory.%s", name + 1);
        item[name - item] = '\0';
        put(arg, "boot", key, item);
    }
}

/* The boot lines: Memory:, the zone and node ranges, cma:, percpu:, the
 * layout block of kernels that print it, the vmalloc= and mem= messages.
 * The key is what names the line; the value the rest. */
static void parse_boot(void *arg, const char *line)
{
    static const char *const zones[] = {"DMA", "DMA32", "Normal", "HighMem", "Movable"};
    char sq[TEXT_LINE_MAX], key[KEY_MAX], val[VAL_MAX];
    const char *colon;

    squeeze(sq, sizeof(sq), line);
    if (sq[0] == '\0' || starts(sq, "Linux version") || starts(sq, "Kernel command line") ||
        starts(sq, "Zone ranges") || starts(sq, "Movable zone start") ||
        starts(sq, "Early memory node ranges") || starts(sq, "Virtual kernel memory layout"))
        return;
    /* run.sh's BOOT_LINES keeps no "... hash table entries: ..." line in
     * the fixtures (the .log has them: tests/engine test_boot61_vfs_hashes
     * checks the engine's), so neither side is compared */
    if (strstr(sq, " hash table entries: ") != NULL)
        return;
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        size_t n = strlen(zones[i]);

        if (line[0] == ' ' && strncmp(sq, zones[i], n) == 0 && sq[n] == ' ') {
            snprintf(key, sizeof(key), "zone.%s", zones[i]);
            put(arg, "boot", key, sq + n + 1);
            return;
        }
    }
    if (starts(sq, "node ")) {
        colon = strchr(sq, ':');
        put(arg, "boot", "node", colon ? colon + 2 : sq);
        return;
    }
    if (starts(sq, "Initmem setup")) {
        put(arg, "boot", "Initmem setup", sq + strlen("Initmem setup "));
        return;
    }
    if (starts(sq, "Built ")) {
        put(arg, "boot", "zonelists", sq);
        return;
    }
    if (starts(sq, "Freeing ")) {
        colon = strrchr(sq, ':');
        if (colon != NULL) {
            snprintf(key, sizeof(key), "%.*s", (int)(colon - sq), sq);
            put(arg, "boot", key, colon + 2);
            return;
        }
    }
    if (starts(sq, "Memory: ") && strstr(sq, " available") != NULL) {
        parse_memory_line(arg, sq + strlen("Memory: "));
        return;
    }
    colon = strchr(sq, ':');
    if (colon != NULL && colon - sq < 40 && colon[1] == ' ') {
        snprintf(key, sizeof(key), "%.*s", (int)(colon - sq), sq);
        copy_str(val, sizeof(val), colon + 2);
        put(arg, "boot", key, val);
        return;
    }
    put(arg, "boot", "line", sq);
}

/* arch/arm/mm/dump.c: "---[ Name ]---" markers and "0xS-0xE SIZE attrs". */
static void parse_pagetables(void *arg, const char *line)
{
    char sq[TEXT_LINE_MAX];
    const char *dash;

    squeeze(sq, sizeof(sq), line);
    if (starts(sq, "---[")) {
        put(arg, "pagetables", "marker", sq);
        return;
    }
    dash = strchr(sq, '-');
    if (starts(sq, "0x") && dash != NULL) {
        char key[32];

        snprintf(key, sizeof(key), "%.*s", (int)(dash - sq), sq);
        put(arg, "pagetables", key, dash + 1);
    }
}

/* The module's lines (tests/oracle/module): "op NAME va=0x... [pfn=0x...
 * cpu=N]", then "walk va=0x... l1=0x... [l2=0x...]" for it.  Fields:
 * ops.NAME, the address; ops.NAME.l1 and ops.NAME.l2, the descriptors'
 * attribute bits (the table and page addresses in them are the boot's). */
static void put_walk(void *arg, const char *op, uint32_t l1, bool has_l2, uint32_t l2)
{
    char key[KEY_MAX], val[32];

    snprintf(key, sizeof(key), "%s.l1", op);
    snprintf(val, sizeof(val), "0x%03x", l1 & 0x3ffu);
    put(arg, "ops", key, val);
    if (has_l2) {
        snprintf(key, sizeof(key), "%s.l2", op);
        snprintf(val, sizeof(val), "0x%03x", l2 & 0xfffu);
        put(arg, "ops", key, val);
    }
}

struct ops_ctx {
    struct pctx p;
    char op[32];
};

static void parse_ops(void *arg, const char *line)
{
    struct ops_ctx *o = arg;
    char name[32], val[32];
    unsigned va, l1, l2;
    int n;

    if (sscanf(line, "op %31s va=0x%x", name, &va) == 2) {
        copy_str(o->op, sizeof(o->op), name);
        snprintf(val, sizeof(val), "0x%08x", va);
        put(&o->p, "ops", name, val);
        return;
    }
    n = sscanf(line, "walk va=0x%x l1=0x%x l2=0x%x", &va, &l1, &l2);
    if (n >= 2 && o->op[0] != '\0')
        put_walk(&o->p, o->op, l1, n == 3, l2);
}

static void (*const parsers[S_COUNT])(void *, const char *) = {
    parse_meminfo, parse_zoneinfo, parse_buddyinfo, parse_iomem,
    parse_vmallocinfo, parse_boot, parse_pagetables, NULL,
};

static void parse_section(struct fields *fs, enum side side, enum section s,
                          const char *text)
{
    struct ops_ctx o = {.p = {.fs = fs, .side = side}};

    if (s == S_OPS)
        each_line(text, parse_ops, &o);
    else
        each_line(text, parsers[s], &o.p);
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;

    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    do {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 65536;
            buf = xrealloc(buf, cap + 1);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f))
        die("%s: read error", path);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int section_lookup(const char *name)
{
    for (int s = 0; s < S_COUNT; s++)
        if (strcmp(name, sec_names[s]) == 0)
            return s;
    return -1;
}

/* "3072" MiB -> "3G", "768" -> "768M". */
static void mib_text(char *dst, size_t size, unsigned mib)
{
    if (mib % 1024 == 0)
        snprintf(dst, size, "%uG", mib / 1024);
    else
        snprintf(dst, size, "%uM", mib);
}

static void fixture_load(struct fixture *fx, const char *path)
{
    char *text = read_file(path), *line, *save = NULL;
    int cur = -1;
    size_t len[S_COUNT] = {0};
    char ram[16];

    memset(fx, 0, sizeof(*fx));
    copy_str(fx->path, sizeof(fx->path), path);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (starts(line, "@@ ")) {
            cur = section_lookup(line + 3);
            continue;
        }
        if (cur < 0) {
            if (sscanf(line, "machine %63s", fx->name) == 1 ||
                sscanf(line, "ram %u", &fx->ram_mib) == 1 ||
                sscanf(line, "cpus %u", &fx->cpus) == 1 ||
                sscanf(line, "initrd %lu", &fx->initrd_bytes) == 1 ||
                sscanf(line, "module_file %lu", &fx->module_bytes) == 1)
                continue;
            if (starts(line, "args"))
                squeeze(fx->args, sizeof(fx->args), line + 4);
            continue;
        }
        size_t l = strlen(line);

        fx->sec_text[cur] = xrealloc(fx->sec_text[cur], len[cur] + l + 2);
        memcpy(fx->sec_text[cur] + len[cur], line, l);
        len[cur] += l;
        fx->sec_text[cur][len[cur]++] = '\n';
        fx->sec_text[cur][len[cur]] = '\0';
    }
    free(text);
    if (fx->name[0] == '\0' || fx->ram_mib == 0 || fx->cpus == 0)
        die("%s: not a fixture (no machine, ram or cpus line)", path);
    mib_text(ram, sizeof(ram), fx->ram_mib);
    snprintf(fx->label, sizeof(fx->label), "ram=%s cpus=%u%s%s", ram, fx->cpus,
             fx->args[0] ? " " : "", fx->args);
}

static void fixture_free(struct fixture *fx)
{
    for (int s = 0; s < S_COUNT; s++)
        free(fx->sec_text[s]);
}

/* ------------------------------------------------------------------ */
/* The engine's machine                                                */
/* ------------------------------------------------------------------ */

static enum mm_status set(struct mm_config *cfg, const char *key, const char *val,
                          char err[MM_MSG_MAX])
{
    return mm_config_set(cfg, key, val, err);
}

/* The kernel command line's memory words, one by one, for an engine that
 * has no "cmdline" key: vmalloc= and cma= as settings, mem= as the size of
 * the one bank.  A word the engine cannot take is reported in @note. */
static enum mm_status apply_words(struct mm_config *cfg, const struct fixture *fx,
                                  char *note, size_t nsize, char err[MM_MSG_MAX])
{
    char args[256], *w, *save = NULL;
    enum mm_status st = MM_OK;

    copy_str(args, sizeof(args), fx->args);
    for (w = strtok_r(args, " ", &save); w && st == MM_OK; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        char bank[64];

        if (eq == NULL)
            continue;
        *eq++ = '\0';
        if (strcmp(w, "vmalloc") == 0 || strcmp(w, "cma") == 0) {
            if (set(cfg, w, eq, err) != MM_OK)
                snprintf(note, nsize, "%s=%s not taken: %s", w, eq, err);
        } else if (strcmp(w, "mem") == 0) {
            snprintf(bank, sizeof(bank), "0x40000000+%s", eq);
            st = set(cfg, "ram", bank, err);
        }
    }
    return st;
}

/*
 * The initrd= word for QEMU's -initrd: hw/arm/boot.c puts it at
 * loader_start + MIN(ram_size / 2, 128 MiB), 0x48000000 on every machine
 * of the matrix (RAM from 0x40000000, at least 256 MiB; mem= does not
 * move it).  Its size is the fixture's "initrd" header line; fixtures
 * recorded before run.sh wrote that line give it only through the
 * kernel's own "Freeing initrd memory: NK" (free_initrd_mem() frees the
 * pages reserve_initrd_mem() rounded out, so N K is the size rounded up to
 * pages: the Freeing field then checks the engine's arithmetic only, the
 * Memory: line's figures are what it moves).  "" when neither says.
 */
static void initrd_word(const struct fixture *fx, char *w, size_t size)
{
    const char *d = fx->sec_text[S_BOOT], *p;
    unsigned long bytes = fx->initrd_bytes, k;
    unsigned long half = (unsigned long)fx->ram_mib << 19;

    w[0] = '\0';
    if (bytes == 0 && d != NULL && (p = strstr(d, "Freeing initrd memory: ")) != NULL &&
        sscanf(p + strlen("Freeing initrd memory: "), "%luK", &k) == 1)
        bytes = k << 10;
    if (bytes != 0)
        snprintf(w, size, "initrd=0x%lx,%lu", 0x40000000ul + (half < (128ul << 20) ? half
                                                                           : 128ul << 20),
                 bytes);
}

/* Creates the machine @fx describes.  NULL with @err if the engine refuses. */
static struct mm_machine *machine_for(const struct fixture *fx, char *note, size_t nsize,
                                      char err[MM_MSG_MAX])
{
    struct mm_config cfg, probe;
    struct mm_machine *m = NULL;
    char v[64], ird[64], line[sizeof(fx->args) + 64];

    note[0] = '\0';
    if (mm_config_preset(&cfg, "qemu-virt", err) != MM_OK ||
        set(&cfg, "kernel", "6.1", err) != MM_OK)
        return NULL;
    snprintf(v, sizeof(v), "0x40000000+%uM", fx->ram_mib);
    if (set(&cfg, "ram", v, err) != MM_OK)
        return NULL;
    snprintf(v, sizeof(v), "%u", fx->cpus);
    if (set(&cfg, "cpus", v, err) != MM_OK)
        return NULL;
    probe = cfg;
    initrd_word(fx, ird, sizeof(ird));
    snprintf(line, sizeof(line), "%s%s%s", fx->args, fx->args[0] && ird[0] ? " " : "", ird);
    if (set(&probe, "cmdline", line, err) == MM_OK) {
        cfg = probe;
    } else if (fx->args[0] != '\0') {
        if (set(&probe, "cmdline", fx->args, err) == MM_OK)
            cfg = probe;
        else if (apply_words(&cfg, fx, note, nsize, err) != MM_OK)
            return NULL;
    }
    if (mm_create(&cfg, &m, err) != MM_OK)
        return NULL;
    return m;
}

/* Appends @n bytes of @s to @b, NUL-terminated. */
static void buf_add(struct mm_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* zoneinfo as the engine's statistics give it, for an engine without a
 * zoneinfo report: the zones it has, with their spans and page counts. */
static void synth_zoneinfo(const struct mm_machine *m, struct mm_buf *b)
{
    struct mm_stats st;
    char line[256];
    int n;

    mm_get_stats(m, &st);
    for (unsigned i = 0; i < st.nr_zones; i++) {
        const struct mm_zone_stats *z = &st.zone[i];

        n = snprintf(line, sizeof(line),
                     "Node 0, zone %8s\n  pages free     %u\n        spanned  %u\n"
                     "        present  %u\n        managed  %u\n",
                     z->name, z->free, z->end_pfn - z->start_pfn, z->present, z->managed);
        buf_add(b, line, (size_t)n);
        if (z->present > 0) {
            n = snprintf(line, sizeof(line), "  start_pfn:           %u\n", z->start_pfn);
            buf_add(b, line, (size_t)n);
        }
    }
}

/* A number after "@key=0x" on the kernel's "op @name" line; @dflt if none. */
static uint32_t op_arg(const char *ops, const char *name, const char *key, uint32_t dflt)
{
    char want[64];
    const char *line, *k;

    snprintf(want, sizeof(want), "op %s ", name);
    line = strstr(ops, want);
    if (line == NULL)
        return dflt;
    snprintf(want, sizeof(want), " %s=", key);
    k = strstr(line, want);
    if (k == NULL || k > strchr(line, '\n'))
        return dflt;
    return (uint32_t)strtoul(k + strlen(want), NULL, 0);
}

/* The engine's "op" and "walk" lines for the module's sequence, on the
 * same CPU the kernel ran it on, with a module of the same size. */
static void engine_op(struct mm_buf *b, const struct mm_machine *m, const char *name,
                      enum mm_status st, uint32_t va)
{
    struct mm_walk w;
    char line[160];
    int n;

    if (st != MM_OK)
        return;
    n = snprintf(line, sizeof(line), "op %s va=0x%08x\n", name, va);
    buf_add(b, line, (size_t)n);
    mm_translate(m, va, 0, &w);
    if (w.nsteps == 2)
        n = snprintf(line, sizeof(line), "walk va=0x%08x l1=0x%08x l2=0x%08x\n", va,
                     w.step[0].desc, w.step[1].desc);
    else
        n = snprintf(line, sizeof(line), "walk va=0x%08x l1=0x%08x\n", va,
                     w.nsteps ? w.step[0].desc : 0);
    buf_add(b, line, (size_t)n);
}

/*
 * insmod before the module's init runs: load_module() copies the .ko into a
 * vmalloc'd buffer and frees it (free_copy(), a lazy vfree) just before
 * do_init_module(), so the copy's range is still taken when the module's
 * vmalloc runs.  KERNEL: 6.1 kernel/module/main.c copy_module_from_user(),
 * load_module(), free_copy().  Fixtures without the "module_file" header
 * line: 160 KiB, the 40 pages (and a guard) between the last area their
 * vmallocinfo lists and the module's vmalloc on every one-CPU machine.
 */
#define MODULE_FILE_DEFAULT (160u << 10)

static void replay_insmod(struct mm_machine *m, unsigned long bytes)
{
    struct mm_result r, fr;

    if (mm_vmalloc(m, bytes ? (uint32_t)bytes : MODULE_FILE_DEFAULT, &r) == MM_OK)
        mm_vfree(m, r.value, &fr);
}

/* One layout of the probe's "module core=0x... size=0x... text=0x...
 * ro=0x... ro_after_init=0x..." line (@which "core" or "init"); false if
 * the fixture has none (recorded before the probe printed it). */
struct mod_layout {
    uint32_t size, text, ro;
};

static bool module_layout(const char *ops, const char *which, struct mod_layout *l)
{
    char want[32];
    const char *line;
    unsigned long base;
    unsigned size, text, ro;

    snprintf(want, sizeof(want), "module %s=", which);
    line = strstr(ops, want);
    if (line == NULL ||
        sscanf(line + strlen(want), "0x%lx size=0x%x text=0x%x ro=0x%x", &base, &size,
               &text, &ro) != 4)
        return false;
    l->size = size;
    l->text = text;
    l->ro = ro;
    return true;
}

/*
 * load_module(): move_module() takes the core layout, then the init layout,
 * from module_alloc(); complete_formation() protects both
 * (module_enable_ro(), module_enable_nx(), module_enable_x(): text
 * read-only, rodata read-only and not executable, the rest not
 * executable; ro_after_init stays writable until the init returns).
 * Returns the core layout's address in @r.  Fixtures without the layout
 * lines: the core alone, one page of text (all the op's walk shows).
 * KERNEL: 6.1 kernel/module/main.c move_module(), complete_formation();
 * kernel/module/strict_rwx.c.
 */
static enum mm_status replay_module(struct mm_machine *m, const char *ops, uint32_t msize,
                                    struct mm_result *r)
{
    struct mod_layout core, init;
    struct mm_result ri, p;
    enum mm_status st;

    if (!module_layout(ops, "core", &core) || !module_layout(ops, "init", &init)) {
        st = mm_module_alloc(m, msize, r);
        if (st == MM_OK)
            mm__module_enable_ro(m, r->value, MM_PAGE_SIZE, MM_PAGE_SIZE, &p);
        return st;
    }
    st = mm_module_alloc(m, core.size, r);
    if (st != MM_OK)
        return st;
    if (init.size != 0 && mm_module_alloc(m, init.size, &ri) == MM_OK)
        mm__module_enable_ro(m, ri.value, init.text, init.ro, &p);
    mm__module_enable_ro(m, r->value, core.text, core.ro, &p);
    return MM_OK;
}

static void replay_ops(struct mm_machine *m, const struct fixture *fx, const char *ops,
                       struct mm_buf *b)
{
    unsigned cpu = op_arg(ops, "kmap_local", "cpu", 0);
    uint32_t msize = 0x4000;
    const char *ms = strstr(ops, "module size=");
    struct mm_result r1, r2, r, rv, ri;
    enum mm_status st, stv, sti;
    mm_pfn_t p1, p2;

    if (ms != NULL)
        msize = (uint32_t)strtoul(ms + strlen("module size="), NULL, 0);
    replay_insmod(m, fx->module_bytes);
    if (mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r) != MM_OK &&
        mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &r) != MM_OK)
        return;
    p1 = r.value;
    if (mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &r) != MM_OK &&
        mm_alloc_pages(m, MM_ZONE_NORMAL, 0, &r) != MM_OK)
        return;
    p2 = r.value;
    st = mm_kmap(m, p1, &r);
    engine_op(b, m, "kmap", st, r.value);
    st = mm_kmap_atomic(m, cpu, p1, -1, &r1);
    engine_op(b, m, "kmap_local_same", st, r1.value);
    st = mm_kmap_atomic(m, cpu, p2, -1, &r2);
    engine_op(b, m, "kmap_local", st, r2.value);
    if (r2.status == MM_OK)
        mm_kunmap_atomic(m, cpu, r2.value, &r);
    if (r1.status == MM_OK)
        mm_kunmap_atomic(m, cpu, r1.value, &r);
    mm_kunmap(m, p1, &r);
    stv = mm_vmalloc(m, 1u << 20, &rv);
    engine_op(b, m, "vmalloc", stv, rv.value);
    sti = mm_ioremap(m, 0x10000000u, 1u << 20, &ri);
    engine_op(b, m, "ioremap", sti, ri.value);
    /* The probe prints its own text: load_module() took it from
     * module_alloc() and complete_formation() protected it before the init
     * ran (replay_module()). */
    st = replay_module(m, ops, msize, &r);
    engine_op(b, m, "module", st, r.value);
    /* The probe's frees before its page-table dump, in its order. */
    if (sti == MM_OK)
        mm_iounmap(m, ri.value, &r);
    if (stv == MM_OK)
        mm_vfree(m, rv.value, &r);
    mm_free_pages(m, p2, 0, &r);
    mm_free_pages(m, p1, 0, &r);
}

/* Renders the engine's text for section @s into @b (empty if it has none). */
static void render(const struct mm_machine *m, enum section s, struct mm_buf *b)
{
    static const char *const names[S_COUNT] = {
        "meminfo", "zoneinfo", "buddyinfo", "iomem", "vmallocinfo", NULL, "pagetables",
        NULL,
    };
    enum mm_report r;

    if (s == S_BOOT) {
        /* The Memory: line(s); the layout block where the era prints it
         * (MM_NOT_FOUND leaves the reason in the buffer: dropped). */
        if (mm_report_lookup("layout", &r) && mm_report(m, r, b) != MM_OK)
            b->len = 0;
        if (b->data != NULL)
            b->data[b->len] = '\0';
        if (mm_report_lookup("memory", &r))
            (void)mm_report(m, r, b);
        return;
    }
    if (mm_report_lookup(names[s], &r)) {
        if (mm_report(m, r, b) != MM_OK)
            b->len = 0;
        if (b->data != NULL)
            b->data[b->len] = '\0';
        return;
    }
    if (s == S_ZONEINFO)
        synth_zoneinfo(m, b);
}

/* ------------------------------------------------------------------ */
/* The baseline                                                        */
/* ------------------------------------------------------------------ */

struct exact {
    char **v;                           /* "MACHINE FIELD" */
    size_t n, cap;
};

static void exact_add(struct exact *e, const char *s)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 1024;
        e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
    }
    e->v[e->n++] = xstrdup(s);
}

static void exact_free(struct exact *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void exact_load(struct exact *e, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];

    if (f == NULL)
        return;                         /* no baseline yet: nothing can regress */
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '\0' && line[0] != '#')
            exact_add(e, line);
    }
    fclose(f);
    if (e->n > 0)                       /* an empty file: e->v is NULL */
        qsort(e->v, e->n, sizeof(*e->v), cmp_str);
}

static bool exact_has(const struct exact *e, const char *s)
{
    return e->n > 0 && bsearch(&s, e->v, e->n, sizeof(*e->v), cmp_str) != NULL;
}

/* ------------------------------------------------------------------ */
/* Workload fields                                                     */
/* ------------------------------------------------------------------ */

/* The patterns of tests/oracle/workload.txt ("PATTERN | REASON" lines). */
struct workload {
    char **pattern;
    size_t n, cap;
};

static void workload_load(struct workload *w, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    unsigned lineno = 0;

    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        char *bar;

        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        bar = strstr(line, " | ");
        if (bar == NULL || bar == line || bar[3] == '\0')
            die("%s:%u: want \"PATTERN | REASON\", got \"%s\"", path, lineno, line);
        *bar = '\0';
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 64;
            w->pattern = xrealloc(w->pattern, w->cap * sizeof(*w->pattern));
        }
        w->pattern[w->n++] = xstrdup(line);
    }
    fclose(f);
}

static void workload_free(struct workload *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->pattern[i]);
    free(w->pattern);
}

/* A pattern names a field ("meminfo.MemFree") or one fixture's field
 * ("ram256M-cpus1 ops.kmap"): it is matched against both. */
static bool workload_has(const struct workload *w, const char *pair, const char *key)
{
    for (size_t i = 0; w != NULL && i < w->n; i++)
        if (fnmatch(w->pattern[i], key, 0) == 0 || fnmatch(w->pattern[i], pair, 0) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* Comparing                                                           */
/* ------------------------------------------------------------------ */

/* The sections as field names begin ("boot", not "dmesg"). */
static const char *const key_prefix[S_COUNT] = {
    "meminfo", "zoneinfo", "buddyinfo", "iomem", "vmallocinfo", "boot", "pagetables",
    "ops",
};

static int section_of_key(const char *key)
{
    size_t n = strcspn(key, ".");

    for (int s = 0; s < S_COUNT; s++)
        if (strlen(key_prefix[s]) == n && strncmp(key, key_prefix[s], n) == 0)
            return s;
    return S_BOOT;
}

struct totals {
    size_t fields, exact, regressions;
    size_t sec_fields[S_COUNT], sec_exact[S_COUNT];
    size_t workload, workload_equal;    /* fields of the WORKLOAD list */
    size_t varies, varies_equal;        /* fields the boots disagree on;
                                         * the engine equal to one of them */
    bool quiet;
    const struct workload *wl;
    const struct exact *baseline;
    struct exact *seen;                 /* exact pairs of this run */
    struct exact *all;                  /* every "MACHINE FIELD" of this run */
};

/* Counts and prints @f of @fx: a workload field, a field the kernel's
 * @nboots boots disagree on, or a model field, exact or not. */
static void report_field(const struct fixture *fx, const struct field *f, int nboots,
                         struct totals *t)
{
    char pair[512];
    bool ok = field_exact(f), was;

    assert(nboots >= 1 && nboots <= MAX_BOOTS);
    snprintf(pair, sizeof(pair), "%s %s", fx->name, f->key);
    exact_add(t->all, pair);
    if (workload_has(t->wl, pair, f->key)) {
        t->workload++;
        t->workload_equal += ok;
        if (!ok && !t->quiet)
            printf("oracle: %s workload %s: kernel %s, armmap %s\n", fx->label, f->key,
                   f->has_kernel ? f->kernel : "(none)",
                   f->has_armmap ? f->armmap : "(none)");
        return;
    }
    if (field_varies(f, nboots)) {
        static const char *const nth[MAX_BOOTS - 1] = { "second", "third" };

        t->varies++;
        t->varies_equal += field_equals_a_boot(f, nboots);
        if (t->quiet)
            return;
        printf("oracle: %s varies %s: kernel %s", fx->label, f->key,
               f->has_kernel ? f->kernel : "(none)");
        for (int b = 0; b < nboots - 1; b++)
            printf(", %s boot %s", nth[b], f->has_boot[b] ? f->boot[b] : "(none)");
        printf(", armmap %s\n", f->has_armmap ? f->armmap : "(none)");
        return;
    }
    t->fields++;
    t->sec_fields[section_of_key(f->key)]++;
    if (ok) {
        t->exact++;
        t->sec_exact[section_of_key(f->key)]++;
        exact_add(t->seen, pair);
        return;
    }
    was = exact_has(t->baseline, pair);
    if (was)
        t->regressions++;
    if (t->quiet && !was)
        return;
    printf("oracle: %s%s %s: kernel %s, armmap %s\n", was ? "REGRESSION " : "",
           fx->label, f->key, f->has_kernel ? f->kernel : "(none)",
           f->has_armmap ? f->armmap : "(none)");
}

/* Whether @s ends with @suffix. */
static bool ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Whether @path is a machine's later boot, read beside its first. */
static bool is_later_boot(const char *path)
{
    return ends(path, ".boot2.txt") || ends(path, ".boot3.txt");
}

/* Reads the later boots beside @fx (NAME.boot2.txt, then NAME.boot3.txt,
 * for NAME.txt) into the BOOT2, BOOT3 sides of @fs, up to the first
 * missing one.  Returns how many boots the machine has, @fx's included;
 * dies if one is of another machine. */
static int load_boots(const struct fixture *fx, struct fields *fs)
{
    char path[sizeof(fx->path) + 16];
    struct fixture other;
    size_t n = strlen(fx->path);
    int nboots = 1;

    if (!ends(fx->path, ".txt"))
        return nboots;
    for (; nboots < MAX_BOOTS; nboots++) {
        snprintf(path, sizeof(path), "%.*s.boot%d.txt", (int)(n - 4), fx->path,
                 nboots + 1);
        if (access(path, R_OK) != 0)
            break;
        fixture_load(&other, path);
        if (other.ram_mib != fx->ram_mib || other.cpus != fx->cpus ||
            strcmp(other.args, fx->args) != 0)
            die("%s: not the machine of %s (%s, not %s)", path, fx->path, other.label,
                fx->label);
        for (int s = 0; s < S_COUNT; s++)
            if (other.sec_text[s] != NULL)
                parse_section(fs, (enum side)(SIDE_BOOT2 + nboots - 1), (enum section)s,
                              other.sec_text[s]);
        fixture_free(&other);
    }
    return nboots;
}

static void compare_fixture(const char *path, struct totals *t)
{
    struct fixture fx;
    struct fields fs = {0};
    struct mm_machine *m;
    char err[MM_MSG_MAX], note[2 * MM_MSG_MAX + 64];
    int nboots;

    if (is_later_boot(path))
        return;
    fixture_load(&fx, path);
    for (int s = 0; s < S_COUNT; s++)
        if (fx.sec_text[s] != NULL)
            parse_section(&fs, SIDE_KERNEL, (enum section)s, fx.sec_text[s]);
    nboots = load_boots(&fx, &fs);
    m = machine_for(&fx, note, sizeof(note), err);
    if (m == NULL) {
        printf("oracle: %s: armmap refuses the machine: %s\n", fx.label, err);
    } else {
        if (note[0] != '\0' && !t->quiet)
            printf("oracle: %s: %s\n", fx.label, note);
        /* The probe dumps the page tables after its sequence and its
         * frees: the engine's report is rendered after the replay too. */
        static const enum section order[S_COUNT] = {
            S_MEMINFO, S_ZONEINFO, S_BUDDYINFO, S_IOMEM, S_VMALLOCINFO, S_BOOT, S_OPS,
            S_PAGETABLES,
        };

        for (int i = 0; i < S_COUNT; i++) {
            enum section s = order[i];
            struct mm_buf b = {0};

            /* A section the kernel did not print (no page-table dump in
             * this build) is not compared. */
            if (fx.sec_text[s] == NULL)
                continue;
            if (s == S_OPS)
                replay_ops(m, &fx, fx.sec_text[s], &b);
            else
                render(m, s, &b);
            if (b.data != NULL)
                parse_section(&fs, SIDE_ARMMAP, s, b.data);
            mm_buf_free(&b);
        }
        mm_destroy(m);
    }
    for (size_t i = 0; i < fs.n; i++)
        report_field(&fx, &fs.v[i], nboots, t);
    free(fs.v);
    fixture_free(&fx);
}

/* Pairs of the baseline this run never produced: the fixtures changed
 * (`make oracle`) and the baseline was not taken again. */
static size_t stale_pairs(const struct totals *t)
{
    size_t n = 0;

    if (t->all->n > 0)
        qsort(t->all->v, t->all->n, sizeof(*t->all->v), cmp_str);
    for (size_t i = 0; i < t->baseline->n; i++) {
        if (!exact_has(t->all, t->baseline->v[i])) {
            printf("oracle: REGRESSION %s: in exact.txt but in no fixture "
                   "(run make oracle-baseline after make oracle)\n", t->baseline->v[i]);
            n++;
        }
    }
    return n;
}

static void write_baseline(const char *path, struct exact *seen)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    qsort(seen->v, seen->n, sizeof(*seen->v), cmp_str);
    fprintf(f, "# tests/oracle/exact.txt: fields that match the real kernel "
               "(make oracle-baseline).\n# A field listed here that stops "
               "matching fails make check.\n");
    for (size_t i = 0; i < seen->n; i++)
        fprintf(f, "%s\n", seen->v[i]);
    if (fclose(f) != 0)
        die("%s: write error", path);
}

static void usage(void)
{
    fprintf(stderr, "usage: oracle_compare [-q] [-e EXACT] [-l WORKLOAD] [-w] "
                    "FIXTURE...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct exact baseline = {0}, seen = {0}, all = {0};
    struct workload wl = {0};
    struct totals t = {.baseline = &baseline, .seen = &seen, .all = &all, .wl = &wl};
    const char *exact_path = NULL, *workload_path = NULL;
    bool write = false;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-q") == 0)
            t.quiet = true;
        else if (strcmp(argv[i], "-w") == 0)
            write = true;
        else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc)
            exact_path = argv[++i];
        else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
            workload_load(&wl, workload_path = argv[++i]);
        else
            usage();
    }
    if (i == argc || (write && exact_path == NULL))
        usage();
    if (exact_path != NULL && !write)
        exact_load(&baseline, exact_path);
    for (; i < argc; i++)
        compare_fixture(argv[i], &t);
    if (!write)
        t.regressions += stale_pairs(&t);
    printf("oracle:");
    for (int s = 0; s < S_COUNT; s++)
        if (t.sec_fields[s] > 0)
            printf(" %s %zu/%zu", key_prefix[s], t.sec_exact[s], t.sec_fields[s]);
    printf("\noracle: %zu/%zu fields exact\n", t.exact, t.fields);
    if (wl.n > 0)
        printf("oracle: workload: %zu fields of the running system, %zu equal, "
               "not counted (reasons: %s)\n",
               t.workload, t.workload_equal, workload_path);
    if (t.varies > 0)
        printf("oracle: varies between boots: %zu fields the kernel's boots disagree "
               "on, armmap equal to one boot on %zu, not counted\n",
               t.varies, t.varies_equal);
    if (write) {
        write_baseline(exact_path, &seen);
        printf("oracle: %zu exact fields written to %s\n", seen.n, exact_path);
    } else if (t.regressions > 0) {
        printf("oracle: %zu regressions against %s\n", t.regressions, exact_path);
    }
    exact_free(&baseline);
    exact_free(&seen);
    exact_free(&all);
    workload_free(&wl);
    return !write && t.regressions > 0;
}
