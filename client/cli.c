/* client/cli.c - main() of armmap, the armmapd command line.
 *
 *   armmap [-s SOCKET | -H HOST:PORT] [--tenant NAME] [--token-file F]
 *          [--timeout MS] [--json] COMMAND ...
 *
 * main() takes the global options, finds the command in a table and hands
 * it the rest of the line.  Each command scans its own options with
 * cli_scan() and converts every value before it connects (cli_connect()),
 * so usage errors are reported the same with or without a daemon.
 *
 * Errors go to stderr as "armmap: CODE: message", CODE being USAGE for a
 * command line that makes no sense, a client-side code (NO_SOCKET,
 * REFUSED, TIMEOUT, IO, PROTOCOL) for the connection, or the daemon's
 * code; the exit status tells the class apart (cli.h).
 */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char global_help[] =
    "usage: armmap [-s SOCKET | -H HOST:PORT] [--tenant NAME] [--token-file "
    "F]\n"
    "              [--timeout MS] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Talks to armmapd, the daemon hosting emulated 32-bit ARM Linux memory "
    "maps.\n"
    "\n"
    "Global options:\n"
    "  -s, --socket PATH     Unix socket (default $ARMMAP_SOCKET, else\n"
    "                        " CLI_DEFAULT_SOCKET ")\n"
    "  -H, --host HOST:PORT  connect over TCP instead\n"
    "  --tenant NAME         tenant to act as (default \"default\")\n"
    "  --token-file FILE     send the auth token read from FILE\n"
    "  --timeout MS          I/O timeout per wait (default 30000)\n"
    "  --json                one JSON object per result (per line for "
    "streams)\n"
    "  -h, --help            this help; `armmap COMMAND --help` for a command\n"
    "  --version             print the version and exit\n"
    "\n"
    "Numbers are decimal or 0x hex; sizes take K, M or G suffixes (powers of\n"
    "1024); M is a machine id as `create` prints it.\n"
    "\n"
    "Commands:\n";

static const char exit_help[] =
    "\n"
    "Exit status: 0 success; 1 local failure (a file); 2 usage error;\n"
    "3 connection error (no socket, refused, timeout, hello rejected);\n"
    "4 the daemon answered an error; 5 fuzz found a disagreement (or a\n"
    "replayed case differs);\n"
    "6 bad input data (an address line of translate or phys).\n"
    "Errors are printed to stderr as `armmap: CODE: message`, or with --json\n"
    "as one line {\"error\":CODE,\"message\":TEXT,\"exit\":STATUS}.\n";

static const struct cli_command commands[] = {
    { "ping", cli_cmd_ping, "ping",
      "Round trip to the daemon; prints \"pong\"." },
    { "presets", cli_cmd_presets, "presets",
      "Lists machine presets: name and a one-line description." },
    { "create", cli_cmd_create,
      "create [--preset NAME] [--name NAME] [config flags...]",
      "Boots a machine and prints its id alone.  Config flags (each maps to\n"
      "the engine's key with '-' as '_'):\n"
      "  --ram BANKS            START+SIZE,..., e.g. 0x80000000+2G\n"
      "  --split S              3G, 2G, 1G or 3G_OPT (PAGE_OFFSET)\n"
      "  --kernel VERSION       2.6.35 .. 6.1.x\n"
      "  --vmalloc SIZE         the vmalloc= boot parameter\n"
      "  --vmalloc-end ADDR     VMALLOC_END override\n"
      "  --consistent-dma SIZE  coherent DMA window size\n"
      "  --dma-zone SIZE        bytes of ZONE_DMA from the first bank\n"
      "  --cpus N               1..32\n"
      "  --highmem on|off       CONFIG_HIGHMEM\n"
      "  --thumb2 on|off        CONFIG_THUMB2_KERNEL\n"
      "  --user-timers on|off   msm user-accessible timers page\n"
      "  --atomic stack|km_type|local   kmap_atomic implementation\n"
      "  --text-offset SIZE     TEXT_OFFSET\n"
      "  --text, --init, --data, --bss [START+]SIZE   kernel image sections\n"
      "  --reserve NAME@START+SIZE[,...]   memblock carve-outs\n"
      "Values are passed to the daemon as text; the engine checks them." },
    { "list", cli_cmd_list, "list", "Lists the tenant's machines." },
    { "describe", cli_cmd_describe, "describe M",
      "Shows one machine: config, zones, counters." },
    { "destroy", cli_cmd_destroy, "destroy M",
      "Destroys a machine (its history stays)." },
    { "alloc", cli_cmd_op, "alloc M [--zone normal|highmem|dma] [--order N]",
      "alloc_pages(): prints the first pfn of the block." },
    { "free", cli_cmd_op, "free M PFN [--order N]",
      "__free_pages() of a block." },
    { "kmap", cli_cmd_op, "kmap M PFN [--wait MS]",
      "kmap() of a page; with --wait, waits up to MS for a pkmap slot\n"
      "instead of answering WOULD_BLOCK.  Prints the virtual address." },
    { "kunmap", cli_cmd_op, "kunmap M PFN", "kunmap() of a kmapped page." },
    { "kmap-atomic", cli_cmd_op, "kmap-atomic M PFN [--cpu C] [--slot NAME]",
      "kmap_atomic() on CPU C (default 0).  --slot names the km_type slot\n"
      "(KM_USER0, ... or a number): required on km_type machines (atomic\n"
      "km_type, the 2.6 kernels), refused on the others." },
    { "kunmap-atomic", cli_cmd_op, "kunmap-atomic M VA [--cpu C]",
      "kunmap_atomic() of VA on CPU C (must be the top of its stack)." },
    { "vmalloc", cli_cmd_op, "vmalloc M SIZE",
      "vmalloc(): prints the address." },
    { "vfree", cli_cmd_op, "vfree M VA", "vfree()." },
    { "vmap", cli_cmd_op, "vmap M PFN...", "vmap() of the pages, in order." },
    { "vunmap", cli_cmd_op, "vunmap M VA", "vunmap()." },
    { "ioremap", cli_cmd_op, "ioremap M PHYS SIZE",
      "ioremap(): prints the address." },
    { "iounmap", cli_cmd_op, "iounmap M VA", "iounmap()." },
    { "module-alloc", cli_cmd_op, "module-alloc M SIZE", "module_alloc()." },
    { "module-free", cli_cmd_op, "module-free M VA", "module_memfree()." },
    { "kmap-flush", cli_cmd_op, "kmap-flush M", "kmap_flush_unused()." },
    { "module-enable-ro", cli_cmd_op, "module-enable-ro M VA TEXT_SIZE RO_SIZE",
      "complete_formation()'s module_enable_ro(), module_enable_nx() and\n"
      "module_enable_x() on the module at VA: text read-only, rodata up to\n"
      "RO_SIZE read-only and not executable, the rest not executable.\n"
      "Prints the read-only pages (0 without STRICT_MODULE_RWX)." },
    { "translate", cli_cmd_translate,
      "translate M [--walk] [--access rwxu] [--chunk N] [--input FILE]\n"
      "          [--on-error stop|skip|emit] [--format text|json|csv] [VA...]",
      "Walks the page tables for each VA (or, with none, for each line of\n"
      "stdin or FILE: one address a line, hex or decimal, '#' comments) and\n"
      "prints one row per address in input order, always the same columns:\n"
      "va, pa, region, fault (\"0xc0000000 0x80200000 lowmem -\",\n"
      "\"0x00000000 - user translation-l1\"; a fault keeps its region).\n"
      "Input is streamed in pipelined chunks of N addresses (default 4096).\n"
      "  --walk          every step of each walk (CSV: l1_desc, l2_desc)\n"
      "  --access LETTERS  check an access: r read, w write, x exec, u user\n"
      "  --input FILE    read addresses from FILE ('-': stdin)\n"
      "  --on-error MODE a bad line: stop there (default), skip it (named\n"
      "                  on stderr) or emit an error row (an \"error\"\n"
      "                  column on every row); exit 6 if any\n"
      "  --format F      text (default; '-' for an empty column), json (the\n"
      "                  default with --json; null), csv (a header line)" },
    { "phys", cli_cmd_phys,
      "phys M [--input FILE] [--on-error stop|skip|emit] [--format "
      "text|json|csv]\n"
      "          [--chunk N] [PA...]",
      "Every virtual alias of each physical address (or, with none, of each\n"
      "line of stdin or FILE), one row per alias: pa, va, region (va and\n"
      "region empty when it has none).  Chunks of N addresses (default\n"
      "65536) a request; --input, --on-error and --format as for translate." },
    { "layout", cli_cmd_layout, "layout M",
      "The boot \"Virtual kernel memory layout\" block and the Memory lines,\n"
      "exactly as the kernel prints them." },
    { "report", cli_cmd_report,
      "report M iomem|vmallocinfo|buddyinfo|meminfo|zoneinfo|pkmap|fixmap|"
      "pagetables|regions [--format text|json]",
      "Prints one report in the kernel's format (also layout, memory);\n"
      "regions is the virtual region table of every kernel version.\n"
      "--format json prints it as one JSON object instead, its fields as\n"
      "docs/api-reports.md describes them." },
    { "dump", cli_cmd_dump, "dump M FILE",
      "Writes the machine's ELF32 core to FILE." },
    { "history", cli_cmd_history,
      "history M [--since SEQ] [--until SEQ] [--op OP] [--va LO-HI] [--limit "
      "N]\n"
      "          [--newest] [--after SEQ] [--all]",
      "The machine's event log.  --op filters by op name, --va by addresses\n"
      "in args or value, --newest lists newest first, --after continues after\n"
      "a sequence number, --all follows the paging cursor to the end.\n"
      "Without --all, when more events follow, the cursor is printed: on\n"
      "stderr as a note, with --json as a last line {\"next_after\":SEQ}." },
    { "fork", cli_cmd_fork, "fork M --at SEQ [--name NAME]",
      "A new machine with M's first SEQ events; prints its id." },
    { "clone", cli_cmd_clone, "clone M [--name NAME]",
      "A new machine in M's present state; prints its id." },
    { "purge", cli_cmd_purge, "purge --older-than AGE",
      "Deletes histories of machines destroyed more than AGE ago\n"
      "(AGE: a number with s, m, h or d)." },
    { "stats", cli_cmd_stats, "stats", "The daemon's counters." },
    { "batch", cli_cmd_batch, "batch M [FILE] [--stop-on-error] [--max-ops N]",
      "Applies the ops in FILE (or stdin), one a line in the words of the op\n"
      "commands without the machine (\"kmap 0x9f000\", \"vmalloc 16K\",\n"
      "\"alloc --zone highmem\"; '#' comments), in Batch round trips of up to\n"
      "N ops (default 1024), and prints one result line per op.\n"
      "  --stop-on-error  stop at the first op that fails" },
    { "fuzz", cli_cmd_fuzz,
      "fuzz [--preset NAME] [config flags...] [--config-random] [--ops N]\n"
      "          [--seed S | --seeds A..B] [--time SECONDS] [--machines K]\n"
      "          [--batch B] [--keep] [--corpus DIR] [--no-shrink] [--trace]\n"
      "          [--inject-bug]",
      "Creates K machines (default 2, at most 10000) and drives N random ops\n"
      "(default 2000; with --time and no --ops, until the time is spent)\n"
      "through batches of B (default 64, at most 4096), valid-looking and\n"
      "deliberately invalid, checking every answer against an independent\n"
      "model: the pages it allocated, kmap counts and the pkmap slot rules\n"
      "(LAST_PKMAP slots, WOULD_BLOCK when full), per-CPU kmap_atomic stacks\n"
      "and their unmap order, vmalloc/vmap/ioremap/module areas; after each\n"
      "batch every live mapping is translated and compared with the pages it\n"
      "maps.  Exact results are checked where the kernel fixes them (pfns of\n"
      "kmap and kunmap, error codes of invalid ops, the pages of each area);\n"
      "where the allocator chooses (which pfn alloc returns, which address\n"
      "vmalloc, kmap or kmap_atomic picks) properties are checked instead:\n"
      "page aligned, inside the right window, not overlapping a live area,\n"
      "and translating to the pages given.\n"
      "Machines boot from --preset (default aries) and every `create` config\n"
      "flag (--kernel, --vmalloc-end, --cpus, ...), km_type kernels (2.6.35,\n"
      "2.6.36: named slots, displacement) included.  --config-random draws a\n"
      "config per seed instead: preset, kernel era, split, CPUs, vmalloc\n"
      "size, highmem.\n"
      "Per seed it prints the answers and the coverage (answers per op, and\n"
      "which of OK, INVALID_ARGUMENT, NOT_FOUND, NO_MEMORY, WOULD_BLOCK, ORDER\n"
      "never came, and why when a machine has no HighMem); a last line gives\n"
      "the seeds, ops, seconds, ops/s and answers (also in JSON).\n"
      "On a disagreement it prints the seed and the shortest op sequence that\n"
      "still reproduces it (shrunk by deleting ops and re-running on fresh\n"
      "machines) as `armmap batch` lines, and exits 5.\n"
      "  --seeds A..B    run seeds A to B, stopping at the first finding\n"
      "  --time SECONDS  stop starting batches (and seeds) after SECONDS\n"
      "  --keep          keep the machine that disagreed (its id is printed)\n"
      "  --corpus DIR    save each shrunk finding as DIR/fuzz-seedS.case\n"
      "                  (see replay)\n"
      "  --no-shrink     print the whole failing sequence, unshrunk\n"
      "  --trace         print every op sent and every answer on stderr\n"
      "  --inject-bug    make the model expect the wrong pkmap slot: a\n"
      "                  disagreement on purpose, to test the reporting\n"
      "Deterministic for a seed.  Other machines are destroyed at the end." },
    { "replay", cli_cmd_replay, "replay CASE...",
      "Runs case files (as `fuzz --corpus` writes them): each boots a fresh\n"
      "machine from its \"preset NAME\" and \"set KEY=VALUE\" lines and applies\n"
      "its op lines (\"kmap 0xff2fe => OK 0xbfe01000\", \"kunmap 0x1 =>\n"
      "NOT_FOUND\": an op in batch words, then the expected status and, for OK,\n"
      "value), comparing every answer.  The first that differs is named\n"
      "(file:line, op, expected, got) and the exit status is 5." },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct cli_command *cli_command_lookup(const char *name)
{
    size_t i;

    for (i = 0; i < NR_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_help(FILE *f)
{
    size_t i;

    fputs(global_help, f);
    for (i = 0; i < NR_COMMANDS; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fputs(exit_help, f);
}

void cli_command_help(FILE *f, const struct cli_command *cmd)
{
    fprintf(f, "usage: armmap [global options] %s\n\n%s\n", cmd->usage,
            cmd->help);
    fputs("\n  --json          print JSON instead of text\n", f);
    fputs(exit_help, f);
}

/* ---- errors ------------------------------------------------------------ */

/* Set by main() when --json appears anywhere on the line, so that errors
 * found before a command scans its own --json are JSON too. */
static bool json_errors;

/*
 * Prints one error: "armmap: CODE: [cmd: ]message" in text mode, or in JSON
 * mode one line {"error":CODE,"message":"[cmd: ]message","exit":STATUS} on
 * stderr.  Returns @status.
 */
static int print_error(const struct cli *c, const char *code, int status,
                       bool with_cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static int print_error(const struct cli *c, const char *code, int status,
                       bool with_cmd, const char *fmt, va_list ap)
{
    char msg[2048];
    int off = 0;

    msg[0] = '\0';
    if (with_cmd && c && c->cmd)
        off = snprintf(msg, sizeof(msg), "%s: ", c->cmd);
    vsnprintf(msg + off, sizeof(msg) - (size_t)off, fmt, ap);
    if (json_errors || (c && c->json)) {
        bool first = true;

        fputc('{', stderr);
        cli_json_kstr(stderr, &first, "error", code);
        cli_json_kstr(stderr, &first, "message", msg);
        cli_json_ki64(stderr, &first, "exit", status);
        fputs("}\n", stderr);
    } else {
        fprintf(stderr, "armmap: %s: %s\n", code, msg);
    }
    return status;
}

void cli__usage_error(const struct cli *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_error(c, "USAGE", CLI_EXIT_USAGE, true, fmt, ap);
    va_end(ap);
}

int cli_local_error(const struct cli *c, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = print_error(c, "ERROR", CLI_EXIT_LOCAL, true, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_error(const struct cli *c, const char *code, int status,
              const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = print_error(c, code, status, false, fmt, ap);
    va_end(ap);
    return rc;
}

static bool is_connection_status(enum armmap_status st)
{
    return st >= ARMMAP_NO_SOCKET;
}

int cli_status_error(const struct cli *c, enum armmap_status st,
                     const char *msg)
{
    return cli_error(c, armmap_strerror(st),
                     is_connection_status(st) ? CLI_EXIT_CONN : CLI_EXIT_SERVER,
                     "%s", msg && msg[0] ? msg : "failed");
}

int cli_fail(struct cli *c, enum armmap_status st)
{
    return cli_status_error(c, st, armmap_errmsg(c->conn));
}

int cli_connect(struct cli *c)
{
    struct armmap_options opt;
    char err[ARMMAP_ERR_MAX];
    enum armmap_status st;

    if (c->conn)
        return 0;
    memset(&opt, 0, sizeof(opt));
    opt.tenant = c->tenant;
    opt.token_file = c->token_file;
    opt.io_timeout_ms = c->timeout_ms;
    if (c->hostport)
        st = armmap_connect_tcp(c->hostport, opt, &c->conn, err);
    else
        st = armmap_connect_unix(c->socket, opt, &c->conn, err);
    if (st != ARMMAP_OK)
        return cli_error(c, armmap_strerror(st), CLI_EXIT_CONN, "%s", err);
    return 0;
}

/* ---- argument scanning ------------------------------------------------- */

int cli_scan(struct cli *c, const struct cli_command *cmd, int argc,
             char **argv, const struct cli_opt *defs, const char **vals,
             char **pos, int maxpos, int *npos)
{
    bool options = true;
    int i, j;

    *npos = 0;
    for (j = 0; defs && defs[j].name; j++)
        vals[j] = NULL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq;
        size_t klen;

        if (options && strcmp(a, "--") == 0) {
            options = false;
            continue;
        }
        if (!options || a[0] != '-' || a[1] == '\0' ||
            (a[1] != '-' && !(a[1] >= 'a' && a[1] <= 'z'))) {
            if (*npos >= maxpos)
                return cli_usage_error(c,
                                       "unexpected argument '%s' (usage: %s)",
                                       a, cmd->usage);
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            c->json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_command_help(stdout, cmd);
            return CLI_EXIT_OK;
        }
        eq = strchr(a, '=');
        klen = eq ? (size_t)(eq - a) : strlen(a);
        for (j = 0; defs && defs[j].name; j++)
            if (strlen(defs[j].name) == klen &&
                strncmp(defs[j].name, a, klen) == 0)
                break;
        if (!defs || !defs[j].name)
            return cli_usage_error(c, "unknown option '%.*s' (usage: %s)",
                                   (int)klen, a, cmd->usage);
        if (!defs[j].has_arg) {
            if (eq)
                return cli_usage_error(c, "option %s takes no value",
                                       defs[j].name);
            vals[j] = "1";
        } else if (eq) {
            vals[j] = eq + 1;
        } else if (i + 1 < argc) {
            vals[j] = argv[++i];
        } else {
            return cli_usage_error(c, "option %s needs a value", defs[j].name);
        }
    }
    return -1;
}

int cli_scan_machine(struct cli *c, const struct cli_command *cmd, int argc,
                     char **argv, const struct cli_opt *defs, const char **vals,
                     char **pos, int maxpos, int *npos, uint64_t *m)
{
    int rc = cli_scan(c, cmd, argc, argv, defs, vals, pos, maxpos, npos);

    if (rc >= 0)
        return rc;
    if (*npos < 1)
        return cli_usage_error(c, "missing machine (usage: %s)", cmd->usage);
    if (!cli_machine_arg(c, pos[0], m))
        return CLI_EXIT_USAGE;
    return -1;
}

bool cli_machine_arg(struct cli *c, const char *text, uint64_t *out)
{
    char err[ARMMAP_ERR_MAX];

    if (!armmap_parse_u64(text, "machine", out, err)) {
        cli__usage_error(c, "%s", err);
        return false;
    }
    return true;
}

bool cli_u32_arg(struct cli *c, const char *text, const char *what,
                 uint32_t *out)
{
    char err[ARMMAP_ERR_MAX];

    if (!armmap_parse_u32(text, what, out, err)) {
        cli__usage_error(c, "%s", err);
        return false;
    }
    return true;
}

bool cli_u64_arg(struct cli *c, const char *text, const char *what,
                 uint64_t *out)
{
    char err[ARMMAP_ERR_MAX];

    if (!armmap_parse_u64(text, what, out, err)) {
        cli__usage_error(c, "%s", err);
        return false;
    }
    return true;
}

/* ---- main --------------------------------------------------------------- */

/* Takes a global option's value: "--x V", "--x=V" or "-s V". */
static const char *global_value(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) == 0 && a[n] == '=')
        return a + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    cli__usage_error(NULL, "option %s needs a value", name);
    return NULL;
}

static bool is_opt(const char *a, const char *name)
{
    size_t n = strlen(name);

    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

int main(int argc, char **argv)
{
    const struct cli_command *cmd;
    struct cli c;
    uint32_t t;
    int i, rc;

    memset(&c, 0, sizeof(c));
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            json_errors = true;
    c.socket = getenv("ARMMAP_SOCKET");
    if (!c.socket || !c.socket[0])
        c.socket = CLI_DEFAULT_SOCKET;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];

        if (is_opt(a, "-s") || is_opt(a, "--socket")) {
            if (!(c.socket = global_value(argc, argv, &i,
                                          a[1] == 's' ? "-s" : "--socket")))
                return CLI_EXIT_USAGE;
            c.hostport = NULL;
        } else if (is_opt(a, "-H") || is_opt(a, "--host")) {
            if (!(c.hostport = global_value(argc, argv, &i,
                                            a[1] == 'H' ? "-H" : "--host")))
                return CLI_EXIT_USAGE;
        } else if (is_opt(a, "--tenant")) {
            if (!(c.tenant = global_value(argc, argv, &i, "--tenant")))
                return CLI_EXIT_USAGE;
        } else if (is_opt(a, "--token-file")) {
            if (!(c.token_file = global_value(argc, argv, &i, "--token-file")))
                return CLI_EXIT_USAGE;
        } else if (is_opt(a, "--timeout")) {
            const char *v = global_value(argc, argv, &i, "--timeout");

            if (!v || !cli_u32_arg(&c, v, "timeout", &t))
                return CLI_EXIT_USAGE;
            if (t == 0 || t > 0x7fffffff)
                return cli_usage_error(NULL,
                                       "bad timeout '%s': use 1..2147483647 ms",
                                       v);
            c.timeout_ms = (int)t;
        } else if (strcmp(a, "--json") == 0) {
            c.json = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("armmap %s\n", CLI_VERSION);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error(NULL,
                                   "unknown option '%s' (see armmap --help)",
                                   a);
        }
    }
    if (c.hostport && (!strrchr(c.hostport, ':') || c.hostport[0] == ':' ||
                       strrchr(c.hostport, ':')[1] == '\0'))
        return cli_usage_error(NULL, "bad -H '%s': expected HOST:PORT",
                               c.hostport);
    if (i >= argc)
        return cli_usage_error(NULL, "missing command (see armmap --help)");
    cmd = cli_command_lookup(argv[i]);
    if (!cmd)
        return cli_usage_error(NULL, "unknown command '%s' (see armmap --help)",
                               argv[i]);
    c.cmd = cmd->name;
    rc = cmd->run(&c, argc - i, argv + i);
    if (fflush(stdout) != 0 && rc == 0)
        rc = cli_local_error(&c, "writing the output failed");
    armmap_close(c.conn);
    return rc;
}
