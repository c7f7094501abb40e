/* client/cli_cmds.c - the armmap commands for machines, ops and reads.
 *
 * Each command follows one shape: scan the options (cli_scan), convert
 * every value with a precise usage error, connect, make one library call,
 * print the result as text or as one JSON object.  The op commands (alloc,
 * kmap, ...) share libarmmap's op grammar with `armmap batch`
 * (armmap_parse_op_argv), so a line of a batch file reads like the
 * command without its machine.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POS 1100

/* ---- op results --------------------------------------------------------- */

void cli_op_result_text(enum armmap_opcode code,
                        const struct armmap_op_result *r, char *buf,
                        size_t size)
{
    switch (code) {
    case ARMMAP_OP_ALLOC:
        snprintf(buf, size, "pfn 0x%05x", r->value);
        break;
    case ARMMAP_OP_FREE:
        snprintf(buf, size, "freed pfn 0x%05x", r->value);
        break;
    case ARMMAP_OP_KMAP:
        snprintf(buf, size, "va 0x%08x%s", r->value,
                 r->flags & ARMMAP_RES_FLUSHED ? " (pkmap flushed)" : "");
        break;
    case ARMMAP_OP_KUNMAP:
        snprintf(buf, size, "va 0x%08x users %u", r->value, r->aux);
        break;
    case ARMMAP_OP_KMAP_ATOMIC:
        if (r->flags & ARMMAP_RES_DISPLACED)
            snprintf(buf, size, "va 0x%08x displaced pfn 0x%05x", r->value,
                     r->aux);
        else
            snprintf(buf, size, "va 0x%08x", r->value);
        break;
    case ARMMAP_OP_KUNMAP_ATOMIC:
        snprintf(buf, size, "pfn 0x%05x", r->value);
        break;
    case ARMMAP_OP_VMALLOC:
    case ARMMAP_OP_MODULE_ALLOC:
        snprintf(buf, size, "va 0x%08x pages %u", r->value, r->aux);
        break;
    case ARMMAP_OP_VMAP:
    case ARMMAP_OP_IOREMAP:
        snprintf(buf, size, "va 0x%08x", r->value);
        break;
    case ARMMAP_OP_KMAP_FLUSH:
        snprintf(buf, size, "cleared %u", r->value);
        break;
    case ARMMAP_OP_MODULE_ENABLE_RO:
        snprintf(buf, size, "read-only pages %u", r->value);
        break;
    default:
        snprintf(buf, size, "pages %u", r->value);
        break;
    }
}

void cli_op_result_json(FILE *f, enum armmap_opcode code,
                        const struct armmap_op_result *r)
{
    bool first = true;

    cli_json_kstr(f, &first, "op", armmap_op_name(code));
    cli_json_kstr(f, &first, "status", armmap_strerror(r->status));
    if (r->status != ARMMAP_OK) {
        cli_json_kstr(f, &first, "message", r->msg);
        return;
    }
    cli_json_ku64(f, &first, "value", r->value);
    cli_json_ku64(f, &first, "aux", r->aux);
    cli_json_ku64(f, &first, "flags", r->flags);
    cli_json_ku64(f, &first, "seq", r->seq);
}

/* ---- machines ----------------------------------------------------------- */

int cli_cmd_ping(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("ping");
    enum armmap_status st;
    char *pos[1];
    int n, rc;

    if ((rc = cli_scan(c, cmd, argc, argv, NULL, NULL, pos, 0, &n)) >= 0)
        return rc;
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_ping(c->conn);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json) {
        bool first = true;

        fputc('{', stdout);
        cli_json_kstr(stdout, &first, "status", "OK");
        cli_json_kstr(stdout, &first, "server", armmap_server(c->conn));
        fputs("}\n", stdout);
    } else {
        printf("pong\n");
    }
    return 0;
}

int cli_cmd_presets(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("presets");
    struct armmap_preset_list *l;
    enum armmap_status st;
    char *pos[1];
    size_t i;
    int n, rc;

    if ((rc = cli_scan(c, cmd, argc, argv, NULL, NULL, pos, 0, &n)) >= 0)
        return rc;
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_presets(c->conn, &l);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json)
        fputs("{\"presets\":[", stdout);
    for (i = 0; i < l->n; i++) {
        if (c->json) {
            bool first = true;

            fputs(i ? ",{" : "{", stdout);
            cli_json_kstr(stdout, &first, "name", l->items[i].name);
            cli_json_kstr(stdout, &first, "summary", l->items[i].summary);
            fputc('}', stdout);
        } else {
            printf("%-16s %s\n", l->items[i].name, l->items[i].summary);
        }
    }
    if (c->json)
        fputs("]}\n", stdout);
    armmap_preset_list_free(l);
    return 0;
}

static void machine_json(FILE *f, const struct armmap_machine *m, bool full)
{
    bool first = true;
    unsigned i, j;

    fputc('{', f);
    cli_json_ku64(f, &first, "id", m->id);
    cli_json_kstr(f, &first, "name", m->name);
    cli_json_kstr(f, &first, "tenant", m->tenant);
    cli_json_ku64(f, &first, "seq", m->seq);
    cli_json_ki64(f, &first, "created_ms", m->created_ms);
    cli_json_ku64(f, &first, "events", m->events);
    cli_json_kstr(f, &first, "broken", m->broken);
    if (full) {
        cli_json_kstr(f, &first, "config", m->config);
        cli_json_ku64(f, &first, "pkmap_in_use", m->pkmap_in_use);
        cli_json_ku64(f, &first, "pkmap_flushes", m->pkmap_flushes);
        cli_json_ku64(f, &first, "tlb_flushes", m->tlb_flushes);
        cli_json_ku64(f, &first, "vmalloc_areas", m->vmalloc_areas);
        cli_json_ku64(f, &first, "vmalloc_pages", m->vmalloc_pages);
        cli_json_ku64(f, &first, "pte_pages", m->pte_pages);
        cli_json_ku64(f, &first, "host_bytes", m->host_bytes);
        cli_json_key(f, &first, "zones");
        fputc('[', f);
        for (i = 0; i < m->nzones; i++) {
            const struct armmap_zone_info *z = &m->zones[i];
            bool zf = true;

            fputs(i ? ",{" : "{", f);
            cli_json_kstr(f, &zf, "name", z->name);
            cli_json_ku64(f, &zf, "start_pfn", z->start_pfn);
            cli_json_ku64(f, &zf, "end_pfn", z->end_pfn);
            cli_json_ku64(f, &zf, "present", z->present);
            cli_json_ku64(f, &zf, "managed", z->managed);
            cli_json_ku64(f, &zf, "free", z->free);
            cli_json_key(f, &zf, "nr_free");
            fputc('[', f);
            for (j = 0; j < z->nr_orders; j++)
                fprintf(f, "%s%u", j ? "," : "", z->nr_free[j]);
            fputs("]}", f);
        }
        fputc(']', f);
        cli_json_ku64(f, &first, "parked_kmaps", m->parked_kmaps);
        cli_json_key(f, &first, "parked");
        fputc('[', f);
        for (i = 0; m->parked && i < m->parked_kmaps; i++)
            fprintf(f, "%s{\"pfn\":\"0x%x\",\"cpu\":%u}", i ? "," : "",
                    m->parked[i].pfn, m->parked[i].cpu);
        fputc(']', f);
    }
    fputs("}", f);
}

static void machine_text(FILE *f, const struct armmap_machine *m)
{
    unsigned i, j;

    fprintf(f, "id:            %" PRIu64 "\n", m->id);
    fprintf(f, "name:          %s\n", m->name);
    fprintf(f, "tenant:        %s\n", m->tenant);
    fprintf(f, "seq:           %" PRIu64 "\n", m->seq);
    if (m->broken[0])
        fprintf(f, "broken:        %s\n", m->broken);
    fprintf(f, "pkmap in use:  %u\n", m->pkmap_in_use);
    fprintf(f, "pkmap flushes: %u\n", m->pkmap_flushes);
    fprintf(f, "tlb flushes:   %u\n", m->tlb_flushes);
    fprintf(f, "vmalloc:       %u areas, %u pages\n", m->vmalloc_areas,
            m->vmalloc_pages);
    fprintf(f, "pte pages:     %u\n", m->pte_pages);
    fprintf(f, "host bytes:    %" PRIu64 "\n", m->host_bytes);
    fprintf(f, "parked kmaps:  %u", m->parked_kmaps);
    for (i = 0; m->parked && i < m->parked_kmaps; i++)
        fprintf(f, "%s pfn 0x%x cpu %u", i ? "," : ":", m->parked[i].pfn,
                m->parked[i].cpu);
    fputc('\n', f);
    for (i = 0; i < m->nzones; i++) {
        const struct armmap_zone_info *z = &m->zones[i];

        fprintf(f, "zone %-8s pfn 0x%05x-0x%05x present %u managed %u free %u:",
                z->name, z->start_pfn, z->end_pfn, z->present, z->managed,
                z->free);
        for (j = 0; j < z->nr_orders; j++)
            fprintf(f, " %u", z->nr_free[j]);
        fputc('\n', f);
    }
    fprintf(f, "config:\n");
    {
        const char *p = m->config, *nl;

        while (*p) {
            nl = strchr(p, '\n');
            if (!nl)
                nl = p + strlen(p);
            fprintf(f, "  %.*s\n", (int)(nl - p), p);
            p = *nl ? nl + 1 : nl;
        }
    }
}

static const char *const on_off[] = { "on", "off", NULL };
static const char *const splits[] = { "3G", "2G", "1G", "3G_OPT", NULL };
static const char *const atomics[] = { "stack", "km_type", "local", "default",
                                       NULL };

const struct cli_create_flag cli_create_flags[] = {
    { "--ram", "ram", NULL },
    { "--split", "split", splits },
    { "--kernel", "kernel", NULL },
    { "--vmalloc", "vmalloc", NULL },
    { "--vmalloc-end", "vmalloc_end", NULL },
    { "--consistent-dma", "consistent_dma", NULL },
    { "--dma-zone", "dma_zone", NULL },
    { "--highmem", "highmem", on_off },
    { "--thumb2", "thumb2", on_off },
    { "--user-timers", "user_timers", on_off },
    { "--cpus", "cpus", NULL },
    { "--atomic", "atomic", atomics },
    { "--text-offset", "text_offset", NULL },
    { "--text", "text", NULL },
    { "--init", "init", NULL },
    { "--data", "data", NULL },
    { "--bss", "bss", NULL },
    { "--reserve", "reserve", NULL },
    { "--smp", "smp", NULL },
    { "--cmdline", "cmdline", NULL },
    { "--fdt", "fdt", NULL },
};

#define NR_CREATE_FLAGS (sizeof(cli_create_flags) / sizeof(cli_create_flags[0]))
const size_t cli_nr_create_flags = NR_CREATE_FLAGS;

static bool check_choice(struct cli *c, const struct cli_create_flag *f,
                         const char *v)
{
    unsigned i;

    if (!f->choices)
        return true;
    for (i = 0; f->choices[i]; i++)
        if (strcmp(v, f->choices[i]) == 0)
            return true;
    cli__usage_error(c, "bad %s '%s': use %s%s%s%s%s", f->flag, v,
                     f->choices[0], f->choices[1] ? ", " : "",
                     f->choices[1] ? f->choices[1] : "",
                     f->choices[1] && f->choices[2] ? ", " : "",
                     f->choices[1] && f->choices[2] ? f->choices[2] : "");
    return false;
}

/* One number of a --ram bank: decimal or 0x hex with an optional K, M or
 * G suffix, as the engine reads it; advances *@p past it. */
static bool ram_number(const char **p, uint64_t *out)
{
    unsigned long long v;
    unsigned shift = 0;
    char *end;

    if (**p < '0' || **p > '9')
        return false;
    errno = 0;
    v = strtoull(*p, &end, 0);
    if (errno != 0)
        return false;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift && v > (~0ull >> shift))
        return false;
    *out = (uint64_t)v << shift;
    *p = end + (shift ? 1 : 0);
    return true;
}

/*
 * Checks --ram's START+SIZE[,...] before it is sent, so that the error
 * names the part that is wrong (the engine only says the value is bad):
 * a start above 0xffffffff or a size above 4G, which 32-bit physical
 * addresses cannot hold.  Other rules (overlaps, bank count) stay the
 * engine's.
 */
static bool check_ram(struct cli *c, const char *v)
{
    const char *p = v;
    unsigned bank = 1;

    for (;; bank++) {
        const char *start_text = p, *size_text;
        uint64_t start, size;

        if (!ram_number(&p, &start)) {
            cli__usage_error(c,
                             "bad --ram '%s': bank %u start '%.*s' is not a "
                             "number",
                             v, bank, (int)strcspn(start_text, "+,"),
                             start_text);
            return false;
        }
        if (*p != '+') {
            cli__usage_error(c, "bad --ram '%s': bank %u wants START+SIZE", v,
                             bank);
            return false;
        }
        size_text = ++p;
        if (!ram_number(&p, &size) || (*p != ',' && *p != '\0')) {
            cli__usage_error(c,
                             "bad --ram '%s': bank %u size '%.*s' is not a "
                             "size (a number with K, M or G)",
                             v, bank, (int)strcspn(size_text, ","), size_text);
            return false;
        }
        if (start > 0xffffffffu) {
            cli__usage_error(c,
                             "bad --ram '%s': bank %u start '%.*s' is above "
                             "0xffffffff",
                             v, bank, (int)(size_text - 1 - start_text),
                             start_text);
            return false;
        }
        if (size > 0x100000000ull) {
            cli__usage_error(c,
                             "bad --ram '%s': bank %u size '%.*s' is above "
                             "4G",
                             v, bank, (int)(p - size_text), size_text);
            return false;
        }
        if (*p == '\0')
            return true;
        p++;
    }
}

bool cli_check_create_flag(struct cli *c, const struct cli_create_flag *f,
                           const char *v)
{
    uint32_t cpus;

    if (!check_choice(c, f, v))
        return false;
    if (strcmp(f->key, "ram") == 0 && !check_ram(c, v))
        return false;
    if (strcmp(f->key, "cpus") == 0) {
        if (!cli_u32_arg(c, v, "cpus", &cpus))
            return false;
        if (cpus < 1 || cpus > 32) {
            cli__usage_error(c, "bad cpus '%s': use 1..32", v);
            return false;
        }
    }
    return true;
}

int cli_cmd_create(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("create");
    struct cli_opt defs[NR_CREATE_FLAGS + 3];
    const char *vals[NR_CREATE_FLAGS + 3];
    struct armmap_setting settings[NR_CREATE_FLAGS];
    struct armmap_machine *m;
    enum armmap_status st;
    size_t i, ns = 0;
    char *pos[1];
    int n, rc;

    for (i = 0; i < NR_CREATE_FLAGS; i++) {
        defs[i].name = cli_create_flags[i].flag;
        defs[i].has_arg = true;
    }
    defs[NR_CREATE_FLAGS].name = "--preset";
    defs[NR_CREATE_FLAGS].has_arg = true;
    defs[NR_CREATE_FLAGS + 1].name = "--name";
    defs[NR_CREATE_FLAGS + 1].has_arg = true;
    defs[NR_CREATE_FLAGS + 2].name = NULL;
    if ((rc = cli_scan(c, cmd, argc, argv, defs, vals, pos, 0, &n)) >= 0)
        return rc;
    for (i = 0; i < NR_CREATE_FLAGS; i++) {
        if (!vals[i])
            continue;
        if (!cli_check_create_flag(c, &cli_create_flags[i], vals[i]))
            return CLI_EXIT_USAGE;
        settings[ns].key = cli_create_flags[i].key;
        settings[ns].value = vals[i];
        ns++;
    }
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_create(c->conn, vals[NR_CREATE_FLAGS], settings, ns,
                       vals[NR_CREATE_FLAGS + 1], &m);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json) {
        machine_json(stdout, m, true);
        fputc('\n', stdout);
    } else {
        printf("%" PRIu64 "\n", m->id);
    }
    armmap_machine_free(m);
    return 0;
}

int cli_cmd_list(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("list");
    struct armmap_machine_list *l;
    enum armmap_status st;
    char *pos[1];
    size_t i;
    int n, rc;

    if ((rc = cli_scan(c, cmd, argc, argv, NULL, NULL, pos, 0, &n)) >= 0)
        return rc;
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_list(c->conn, &l);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json) {
        fputs("{\"machines\":[", stdout);
        for (i = 0; i < l->n; i++) {
            if (i)
                fputc(',', stdout);
            machine_json(stdout, &l->items[i], false);
        }
        fputs("]}\n", stdout);
    } else {
        printf("%-8s %-20s %10s %10s\n", "ID", "NAME", "SEQ", "EVENTS");
        for (i = 0; i < l->n; i++)
            printf("%-8" PRIu64 " %-20s %10" PRIu64 " %10" PRIu64 "%s\n",
                   l->items[i].id, l->items[i].name[0] ? l->items[i].name : "-",
                   l->items[i].seq, l->items[i].events,
                   l->items[i].broken[0] ? " broken" : "");
    }
    armmap_machine_list_free(l);
    return 0;
}

/* Scans "CMD M" with no options and connects; *@m receives the machine.
 * Returns -1 to go on, or the exit status (0 after --help). */
static int machine_only(struct cli *c, const char *name, int argc, char **argv,
                        uint64_t *m)
{
    const struct cli_command *cmd = cli_command_lookup(name);
    char *pos[1];
    int n, rc;

    if ((rc = cli_scan_machine(c, cmd, argc, argv, NULL, NULL, pos, 1, &n,
                               m)) >= 0)
        return rc;
    rc = cli_connect(c);
    return rc ? rc : -1;
}

int cli_cmd_describe(struct cli *c, int argc, char **argv)
{
    struct armmap_machine *m;
    enum armmap_status st;
    uint64_t id;
    int rc;

    if ((rc = machine_only(c, "describe", argc, argv, &id)) >= 0)
        return rc;
    st = armmap_describe(c->conn, id, &m);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json) {
        machine_json(stdout, m, true);
        fputc('\n', stdout);
    } else {
        machine_text(stdout, m);
    }
    armmap_machine_free(m);
    return 0;
}

int cli_cmd_destroy(struct cli *c, int argc, char **argv)
{
    enum armmap_status st;
    uint64_t id;
    int rc;

    if ((rc = machine_only(c, "destroy", argc, argv, &id)) >= 0)
        return rc;
    st = armmap_destroy(c->conn, id);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json)
        printf("{\"id\":%" PRIu64 ",\"status\":\"OK\"}\n", id);
    else
        printf("destroyed %" PRIu64 "\n", id);
    return 0;
}

int cli_cmd_op(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup(c->cmd);
    struct armmap_op_line *line;
    struct armmap_op_result res;
    char err[ARMMAP_ERR_MAX], text[128];
    enum armmap_status st;
    char **words;
    uint64_t m = 0;
    bool have_m = false;
    int i, nw = 0, rc;

    words = calloc((size_t)argc + 1, sizeof(*words));
    line = malloc(sizeof(*line));
    if (!words || !line) {
        free(words);
        free(line);
        return cli_local_error(c, "out of memory");
    }
    /* The first positional is the machine; the rest is the op's own line. */
    words[nw++] = argv[0];
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_command_help(stdout, cmd);
            free(words);
            free(line);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            c->json = true;
            continue;
        }
        if (!have_m && argv[i][0] != '-') {
            if (!cli_machine_arg(c, argv[i], &m)) {
                free(words);
                free(line);
                return CLI_EXIT_USAGE;
            }
            have_m = true;
            continue;
        }
        words[nw++] = argv[i];
        /* An option's value is not the machine. */
        if (argv[i][0] == '-' && !strchr(argv[i], '=') && i + 1 < argc)
            words[nw++] = argv[++i];
    }
    if (!have_m) {
        free(words);
        free(line);
        return cli_usage_error(c, "missing machine (usage: %s)", cmd->usage);
    }
    if (!armmap_parse_op_argv(nw, words, line, err)) {
        char *u = strstr(err, " (usage: ");

        if (u) /* the batch-line usage: ours has M */
            *u = '\0';
        free(words);
        free(line);
        return cli_error(c, "USAGE", CLI_EXIT_USAGE, "%s (usage: %s)", err,
                         cmd->usage);
    }
    free(words);
    if ((rc = cli_connect(c))) {
        free(line);
        return rc;
    }
    st = armmap_op(c->conn, m, &line->op, &res);
    if (st != ARMMAP_OK && st >= ARMMAP_NO_SOCKET) {
        free(line);
        return cli_fail(c, st);
    }
    if (c->json) {
        fputc('{', stdout);
        cli_op_result_json(stdout, line->op.code, &res);
        fputs("}\n", stdout);
    }
    if (st != ARMMAP_OK) {
        free(line);
        return cli_status_error(c, st, res.msg);
    }
    if (!c->json) {
        cli_op_result_text(line->op.code, &res, text, sizeof(text));
        printf("%s\n", text);
    }
    free(line);
    return 0;
}

/* ---- reads --------------------------------------------------------------- */

/* Prints report text, ending it with a newline if it has none. */
static void print_text(const char *text)
{
    fputs(text, stdout);
    if (text[0] && text[strlen(text) - 1] != '\n')
        fputc('\n', stdout);
}

/* Prints one report; returns its status. */
static enum armmap_status show_report(struct cli *c, uint64_t m,
                                      enum armmap_report k, bool *first_json)
{
    enum armmap_status st;
    char *text;

    st = armmap_report(c->conn, m, k, &text);
    if (st != ARMMAP_OK)
        return st;
    if (c->json)
        cli_json_kstr(stdout, first_json, armmap_report_name(k), text);
    else
        print_text(text);
    armmap_free(text);
    return ARMMAP_OK;
}

/*
 * The Memory: lines, then the layout block.  Both are fetched before anything
 * is printed: a missing machine fails both (reported once, as the daemon's
 * error), while a kernel that never printed the block (5.0+) fails only the
 * first, which is said in the output ("layout_missing" in JSON, a note on
 * stderr in text).
 */
int cli_cmd_layout(struct cli *c, int argc, char **argv)
{
    enum armmap_status st_layout, st_mem;
    char *layout = NULL, *memory = NULL, why[ARMMAP_ERR_MAX];
    bool first = true;
    uint64_t m;
    int rc;

    if ((rc = machine_only(c, "layout", argc, argv, &m)) >= 0)
        return rc;
    st_layout = armmap_report(c->conn, m, ARMMAP_REPORT_LAYOUT, &layout);
    snprintf(why, sizeof(why), "%s", armmap_errmsg(c->conn));
    why[strcspn(why, "\n")] = '\0';
    if (st_layout != ARMMAP_OK && st_layout != ARMMAP_NOT_FOUND)
        return cli_fail(c, st_layout);
    st_mem = armmap_report(c->conn, m, ARMMAP_REPORT_MEMORY, &memory);
    if (st_mem != ARMMAP_OK) {
        armmap_free(layout);
        return cli_fail(c, st_mem);
    }
    /* mem_init() prints the Memory: lines before the layout block. */
    if (c->json) {
        fputc('{', stdout);
        cli_json_kstr(stdout, &first, "memory", memory);
        if (layout)
            cli_json_kstr(stdout, &first, "layout", layout);
        else
            cli_json_kstr(stdout, &first, "layout_missing", why);
        fputs("}\n", stdout);
    } else {
        print_text(memory);
        if (layout)
            print_text(layout);
        else
            fprintf(stderr, "armmap: %s\n", why);
    }
    armmap_free(layout);
    armmap_free(memory);
    return 0;
}

/* --format json: the structured report, one JSON object on a line. */
static int show_report_json(struct cli *c, uint64_t m, enum armmap_report k)
{
    enum armmap_status st;
    char *json;

    st = armmap_report_json(c->conn, m, k, &json);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    printf("%s\n", json);
    armmap_free(json);
    return 0;
}

int cli_cmd_report(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = { { "--format", true },
                                           { NULL, false } };
    const struct cli_command *cmd = cli_command_lookup("report");
    const char *vals[1] = { NULL };
    enum armmap_report k;
    enum armmap_status st;
    bool first = true, json = false;
    char *pos[2];
    uint64_t m;
    int n, rc;

    if ((rc = cli_scan_machine(c, cmd, argc, argv, defs, vals, pos, 2, &n,
                               &m)) >= 0)
        return rc;
    if (n < 2)
        return cli_usage_error(c, "missing report kind (usage: %s)",
                               cmd->usage);
    if (!armmap_report_lookup(pos[1], &k))
        return cli_usage_error(c, "unknown report '%s' (usage: %s)", pos[1],
                               cmd->usage);
    if (vals[0] != NULL && strcmp(vals[0], "json") == 0)
        json = true;
    else if (vals[0] != NULL && strcmp(vals[0], "text") != 0)
        return cli_usage_error(c, "bad --format '%s': use text or json",
                               vals[0]);
    if ((rc = cli_connect(c)))
        return rc;
    if (json)
        return show_report_json(c, m, k);
    if (c->json)
        fputc('{', stdout);
    st = show_report(c, m, k, &first);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json)
        fputs("}\n", stdout);
    return 0;
}

int cli_cmd_dump(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("dump");
    enum armmap_status st;
    uint8_t *elf;
    size_t len;
    char *pos[2];
    uint64_t m;
    FILE *f;
    int n, rc;

    if ((rc = cli_scan_machine(c, cmd, argc, argv, NULL, NULL, pos, 2, &n,
                               &m)) >= 0)
        return rc;
    if (n < 2)
        return cli_usage_error(c, "missing file (usage: %s)", cmd->usage);
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_dump(c->conn, m, &elf, &len);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    f = fopen(pos[1], "wb");
    if (!f || fwrite(elf, 1, len, f) != len || fclose(f) != 0) {
        int e = errno;

        armmap_free(elf);
        return cli_local_error(c, "cannot write %s: %s", pos[1], strerror(e));
    }
    armmap_free(elf);
    if (c->json) {
        bool first = true;

        fputc('{', stdout);
        cli_json_kstr(stdout, &first, "file", pos[1]);
        cli_json_ku64(stdout, &first, "bytes", len);
        fputs("}\n", stdout);
    } else {
        printf("wrote %zu bytes to %s\n", len, pos[1]);
    }
    return 0;
}

static void event_print(const struct cli *c, const struct armmap_event *e)
{
    char text[128];
    size_t i;

    if (c->json) {
        bool first = true;

        fputc('{', stdout);
        cli_json_ku64(stdout, &first, "seq", e->seq);
        cli_json_ki64(stdout, &first, "time_ms", e->time_ms);
        cli_json_kstr(stdout, &first, "op",
                      armmap_op_name(e->op) ? armmap_op_name(e->op) : "?");
        cli_json_ku64(stdout, &first, "cpu", e->cpu);
        cli_json_key(stdout, &first, "args");
        fputc('[', stdout);
        for (i = 0; i < e->nargs; i++)
            printf("%s%u", i ? "," : "", e->args[i]);
        fputs("],\"result\":{", stdout);
        cli_op_result_json(stdout, e->op, &e->result);
        fputs("}}\n", stdout);
        return;
    }
    printf("%8" PRIu64 " %-13s", e->seq,
           armmap_op_name(e->op) ? armmap_op_name(e->op) : "?");
    if (e->op == ARMMAP_OP_KMAP_ATOMIC || e->op == ARMMAP_OP_KUNMAP_ATOMIC)
        printf(" cpu %u", e->cpu);
    for (i = 0; i < e->nargs; i++)
        printf(" 0x%x", e->args[i]);
    if (e->result.status == ARMMAP_OK) {
        cli_op_result_text(e->op, &e->result, text, sizeof(text));
        printf(" -> %s\n", text);
    } else {
        printf(" -> %s: %s\n", armmap_strerror(e->result.status),
               e->result.msg);
    }
}

int cli_cmd_history(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = {
        { "--since", true }, { "--until", true }, { "--op", true },
        { "--va", true },    { "--limit", true }, { "--newest", false },
        { "--after", true }, { "--all", false },  { NULL, false },
    };
    const struct cli_command *cmd = cli_command_lookup("history");
    struct armmap_history_query q;
    struct armmap_history *h;
    enum armmap_status st;
    const char *vals[9];
    char *pos[1];
    uint64_t m;
    size_t i;
    int n, rc;

    if ((rc = cli_scan_machine(c, cmd, argc, argv, defs, vals, pos, 1, &n,
                               &m)) >= 0)
        return rc;
    memset(&q, 0, sizeof(q));
    if (vals[0] && !cli_u64_arg(c, vals[0], "seq", &q.since_seq))
        return CLI_EXIT_USAGE;
    if (vals[1] && !cli_u64_arg(c, vals[1], "seq", &q.until_seq))
        return CLI_EXIT_USAGE;
    if (vals[2]) {
        q.op = armmap_op_lookup(vals[2]);
        if (q.op == ARMMAP_OP_NONE)
            return cli_usage_error(c, "unknown op '%s'", vals[2]);
    }
    if (vals[3]) {
        const char *dash = strchr(vals[3], '-');
        char lo[32];

        if (!dash || (size_t)(dash - vals[3]) >= sizeof(lo))
            return cli_usage_error(c, "bad range '%s': expected LO-HI",
                                   vals[3]);
        memcpy(lo, vals[3], (size_t)(dash - vals[3]));
        lo[dash - vals[3]] = '\0';
        if (!cli_u32_arg(c, lo, "address", &q.addr_lo) ||
            !cli_u32_arg(c, dash + 1, "address", &q.addr_hi))
            return CLI_EXIT_USAGE;
        if (q.addr_lo > q.addr_hi)
            return cli_usage_error(c, "bad range '%s': LO is above HI",
                                   vals[3]);
    }
    if (vals[4] && !cli_u32_arg(c, vals[4], "limit", &q.limit))
        return CLI_EXIT_USAGE;
    q.newest_first = vals[5] != NULL;
    if (vals[6] && !cli_u64_arg(c, vals[6], "seq", &q.after_seq))
        return CLI_EXIT_USAGE;
    if ((rc = cli_connect(c)))
        return rc;
    for (;;) {
        st = armmap_history(c->conn, m, &q, &h);
        if (st != ARMMAP_OK)
            return cli_fail(c, st);
        for (i = 0; i < h->n; i++)
            event_print(c, &h->events[i]);
        q.after_seq = h->next_after_seq;
        if (!vals[7] || h->next_after_seq == 0 || h->n == 0) {
            /* The paging cursor: a last JSON line, or a note on stderr. */
            if (!vals[7] && h->next_after_seq && c->json)
                printf("{\"next_after\":%" PRIu64 "}\n", h->next_after_seq);
            else if (!vals[7] && h->next_after_seq)
                fprintf(stderr,
                        "armmap: history: more after seq %" PRIu64
                        " (--after %" PRIu64 " or --all)\n",
                        h->next_after_seq, h->next_after_seq);
            armmap_history_free(h);
            break;
        }
        armmap_history_free(h);
    }
    return 0;
}

static int print_new_machine(struct cli *c, struct armmap_machine *m)
{
    if (c->json) {
        machine_json(stdout, m, true);
        fputc('\n', stdout);
    } else {
        printf("%" PRIu64 "\n", m->id);
    }
    armmap_machine_free(m);
    return 0;
}

int cli_cmd_fork(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = {
        { "--at", true },
        { "--name", true },
        { NULL, false },
    };
    const struct cli_command *cmd = cli_command_lookup("fork");
    struct armmap_machine *nm;
    enum armmap_status st;
    const char *vals[3];
    uint64_t m, at;
    char *pos[1];
    int n, rc;

    if ((rc = cli_scan_machine(c, cmd, argc, argv, defs, vals, pos, 1, &n,
                               &m)) >= 0)
        return rc;
    if (!vals[0])
        return cli_usage_error(c, "missing --at SEQ (usage: %s)", cmd->usage);
    if (!cli_u64_arg(c, vals[0], "seq", &at))
        return CLI_EXIT_USAGE;
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_fork(c->conn, m, at, vals[1], &nm);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    return print_new_machine(c, nm);
}

int cli_cmd_clone(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = { { "--name", true },
                                           { NULL, false } };
    const struct cli_command *cmd = cli_command_lookup("clone");
    struct armmap_machine *nm;
    enum armmap_status st;
    const char *vals[2];
    char *pos[1];
    uint64_t m;
    int n, rc;

    if ((rc = cli_scan_machine(c, cmd, argc, argv, defs, vals, pos, 1, &n,
                               &m)) >= 0)
        return rc;
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_clone(c->conn, m, vals[0], &nm);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    return print_new_machine(c, nm);
}

int cli_cmd_purge(struct cli *c, int argc, char **argv)
{
    static const struct cli_opt defs[] = { { "--older-than", true },
                                           { NULL, false } };
    const struct cli_command *cmd = cli_command_lookup("purge");
    char err[ARMMAP_ERR_MAX];
    enum armmap_status st;
    uint64_t ms, nm = 0, ne = 0;
    const char *vals[2];
    char *pos[1];
    int n, rc;

    if ((rc = cli_scan(c, cmd, argc, argv, defs, vals, pos, 0, &n)) >= 0)
        return rc;
    if (!vals[0])
        return cli_usage_error(c, "missing --older-than AGE (usage: %s)",
                               cmd->usage);
    if (!armmap_parse_duration_ms(vals[0], &ms, err))
        return cli_usage_error(c, "%s", err);
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_purge(c->conn, ms, &nm, &ne);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json)
        printf("{\"machines\":%" PRIu64 ",\"events\":%" PRIu64 "}\n", nm, ne);
    else
        printf("purged %" PRIu64 " machines, %" PRIu64 " events\n", nm, ne);
    return 0;
}

int cli_cmd_stats(struct cli *c, int argc, char **argv)
{
    const struct cli_command *cmd = cli_command_lookup("stats");
    struct armmap_stats s;
    enum armmap_status st;
    char *pos[1];
    size_t i;
    int n, rc;

    if ((rc = cli_scan(c, cmd, argc, argv, NULL, NULL, pos, 0, &n)) >= 0)
        return rc;
    if ((rc = cli_connect(c)))
        return rc;
    st = armmap_stats(c->conn, &s);
    if (st != ARMMAP_OK)
        return cli_fail(c, st);
    if (c->json) {
        bool first = true;

        fputc('{', stdout);
        cli_json_ku64(stdout, &first, "connections", s.connections);
        cli_json_ku64(stdout, &first, "machines", s.machines);
        cli_json_ku64(stdout, &first, "requests", s.requests);
        cli_json_ku64(stdout, &first, "changes", s.changes);
        cli_json_ku64(stdout, &first, "commits", s.commits);
        cli_json_ku64(stdout, &first, "parked_kmaps", s.parked_kmaps);
        cli_json_ku64(stdout, &first, "uptime_ms", s.uptime_ms);
        cli_json_key(stdout, &first, "errors_by_code");
        fputc('{', stdout);
        for (i = 0, first = true; i < s.ncodes; i++)
            if (s.errors_by_code[i])
                cli_json_ku64(stdout, &first,
                              armmap_strerror((enum armmap_status)i),
                              s.errors_by_code[i]);
        fputs("}}\n", stdout);
        return 0;
    }
    printf("connections  %" PRIu64 "\n", s.connections);
    printf("machines     %" PRIu64 "\n", s.machines);
    printf("requests     %" PRIu64 "\n", s.requests);
    printf("changes      %" PRIu64 "\n", s.changes);
    printf("commits      %" PRIu64 "\n", s.commits);
    printf("parked kmaps %" PRIu64 "\n", s.parked_kmaps);
    printf("uptime ms    %" PRIu64 "\n", s.uptime_ms);
    for (i = 0; i < s.ncodes; i++)
        if (s.errors_by_code[i])
            printf("errors %-18s %" PRIu64 "\n",
                   armmap_strerror((enum armmap_status)i), s.errors_by_code[i]);
    return 0;
}
