/* client/cli.h - shared declarations of the armmap command line.
 *
 * The CLI is main() and option handling (cli.c), the machine, op and read
 * commands (cli_cmds.c), streaming translation (cli_translate.c), batches
 * (cli_batch.c), the fuzzer (cli_fuzz*.c, see cli_fuzz.h), case files and
 * replay (cli_case.c) and a small JSON writer (cli_json.c).  Every command
 * parses all of its arguments before it connects, so a usage error never
 * needs a daemon.
 *
 * Exit statuses (armmap --help documents them): 0 success, 2 usage error,
 * 3 connection error (including a rejected Hello), 4 an error the daemon
 * answered, 5 the fuzzer found a disagreement, 6 bad input data (an
 * address line of translate or phys), 1 a local failure (a file that
 * cannot be written).
 */
#ifndef ARMMAP_CLIENT_CLI_H
#define ARMMAP_CLIENT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "armmap.h"

#define CLI_EXIT_OK     0
#define CLI_EXIT_LOCAL  1
#define CLI_EXIT_USAGE  2
#define CLI_EXIT_CONN   3
#define CLI_EXIT_SERVER 4
#define CLI_EXIT_FUZZ   5
#define CLI_EXIT_DATA   6 /* bad input lines of translate, phys */

#define CLI_VERSION "0.1" /* as armmapd's, printed by --version */

#define CLI_DEFAULT_SOCKET "./armmapd-state/armmapd.sock"

struct cli {
    const char *socket;       /* -s, $ARMMAP_SOCKET or the default */
    const char *hostport;     /* -H: TCP instead */
    const char *tenant;       /* --tenant */
    const char *token_file;   /* --token-file */
    int timeout_ms;           /* --timeout; 0 = library default */
    bool json;                /* --json */
    const char *cmd;          /* the command's name */
    struct armmap_conn *conn; /* after cli_connect() */
};

/* A command: parses @argv (argv[0] is the command) and runs; returns the
 * exit status. */
struct cli_command {
    const char *name;
    int (*run)(struct cli *c, int argc, char **argv);
    const char *usage; /* "kmap M PFN [--wait MS]" */
    const char *help;  /* what it does and every option */
};

/* The table of commands (cli.c). */
const struct cli_command *cli_command_lookup(const char *name);

/* Prints a command's usage, help, --json and the exit statuses. */
void cli_command_help(FILE *f, const struct cli_command *cmd);

/* Prints "armmap: USAGE: <cmd>: <message>" and returns CLI_EXIT_USAGE.
 * A macro, so that the status is visible where it is returned (to clang's
 * static analyzer too, which otherwise follows the error path as if the
 * command went on). */
#define cli_usage_error(c, ...) \
    (cli__usage_error((c), __VA_ARGS__), CLI_EXIT_USAGE)
void cli__usage_error(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "armmap: CODE: message" for @st and returns the exit status of
 * its class (connection or server). */
int cli_status_error(const struct cli *c, enum armmap_status st,
                     const char *msg);

/* Prints "armmap: CODE: message" (no command prefix: the message has its
 * own) or, in JSON mode, {"error":CODE,"message":...,"exit":@status} on
 * stderr; returns @status.  Every error of the CLI goes through here. */
int cli_error(const struct cli *c, const char *code, int status,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prints "armmap: ERROR: message" and returns CLI_EXIT_LOCAL. */
int cli_local_error(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Connects (once) per the global options; returns 0 or an exit status. */
int cli_connect(struct cli *c);

/* A command's call failed: report conn's message under @st's code. */
int cli_fail(struct cli *c, enum armmap_status st);

/*
 * Option scanning shared by the commands.  @defs lists the options a
 * command takes (name with its dashes, whether it takes a value); values
 * land in @vals[i] (the last given wins; NULL if absent) and flags set
 * vals[i] to "1".  Positionals are collected into @pos (at most @maxpos).
 * --json and --help are accepted everywhere.  Returns -1 on success, or
 * an exit status after printing the error (or the help).
 */
struct cli_opt {
    const char *name;
    bool has_arg;
};
int cli_scan(struct cli *c, const struct cli_command *cmd, int argc,
             char **argv, const struct cli_opt *defs, const char **vals,
             char **pos, int maxpos, int *npos);

/* cli_scan() for a command whose first positional is a machine: also a
 * usage error if it is missing or not a machine id; *@m receives it.
 * Returns -1 on success, or an exit status as cli_scan() does. */
int cli_scan_machine(struct cli *c, const struct cli_command *cmd, int argc,
                     char **argv, const struct cli_opt *defs, const char **vals,
                     char **pos, int maxpos, int *npos, uint64_t *m);

/* Parsers that print a usage error for the command: return true or false. */
bool cli_machine_arg(struct cli *c, const char *text, uint64_t *out);
bool cli_u32_arg(struct cli *c, const char *text, const char *what,
                 uint32_t *out);
bool cli_u64_arg(struct cli *c, const char *text, const char *what,
                 uint64_t *out);

/* The config flags of `create` (and `fuzz`): flag, engine key, and the
 * values allowed (NULL: any text the engine parses). */
struct cli_create_flag {
    const char *flag;           /* --vmalloc-end */
    const char *key;            /* vmalloc_end */
    const char *const *choices; /* NULL-terminated, or NULL */
};
extern const struct cli_create_flag cli_create_flags[];
extern const size_t cli_nr_create_flags;
/* Checks what the CLI can of a flag's value (choices, cpus, --ram's parts);
 * prints the usage error and returns false if it is bad. */
bool cli_check_create_flag(struct cli *c, const struct cli_create_flag *f,
                           const char *v);

/* Human rendering of an op result: "va 0xffe00000", "pfn 0x9f000", ...
 * into @buf. */
void cli_op_result_text(enum armmap_opcode code,
                        const struct armmap_op_result *r, char *buf,
                        size_t size);
/* JSON rendering of an op result: "op", "status", "value", ... fields
 * (without braces). */
void cli_op_result_json(FILE *f, enum armmap_opcode code,
                        const struct armmap_op_result *r);

/* JSON helpers (cli_json.c). */
void cli_json_str(FILE *f, const char *s);
void cli_json_key(FILE *f, bool *first, const char *key);
void cli_json_kstr(FILE *f, bool *first, const char *key, const char *val);
void cli_json_ku64(FILE *f, bool *first, const char *key, uint64_t val);
void cli_json_ki64(FILE *f, bool *first, const char *key, int64_t val);
void cli_json_kbool(FILE *f, bool *first, const char *key, bool val);

/* A kept fuzz finding, for cli_case_write() (cli_case.c). */
struct cli_case {
    uint64_t seed;
    const char *preset;
    const struct armmap_setting *settings;
    size_t nsettings;
    const struct armmap_op *ops;            /* the shrunk sequence */
    const struct armmap_op_result *results; /* a fresh machine's answers */
    size_t n;
    size_t fail_index; /* the op the model disagreed with */
    const char *why;   /* the model's message */
};

/* Writes @k as DIR/fuzz-seedS.case (its path into @path); 0 or an exit
 * status after printing the error. */
int cli_case_write(struct cli *c, const char *dir, const struct cli_case *k,
                   char *path, size_t size);

/* The commands. */
int cli_cmd_ping(struct cli *c, int argc, char **argv);
int cli_cmd_presets(struct cli *c, int argc, char **argv);
int cli_cmd_create(struct cli *c, int argc, char **argv);
int cli_cmd_list(struct cli *c, int argc, char **argv);
int cli_cmd_describe(struct cli *c, int argc, char **argv);
int cli_cmd_destroy(struct cli *c, int argc, char **argv);
int cli_cmd_op(struct cli *c, int argc, char **argv);
int cli_cmd_translate(struct cli *c, int argc, char **argv);
int cli_cmd_phys(struct cli *c, int argc, char **argv);
int cli_cmd_layout(struct cli *c, int argc, char **argv);
int cli_cmd_report(struct cli *c, int argc, char **argv);
int cli_cmd_dump(struct cli *c, int argc, char **argv);
int cli_cmd_history(struct cli *c, int argc, char **argv);
int cli_cmd_fork(struct cli *c, int argc, char **argv);
int cli_cmd_clone(struct cli *c, int argc, char **argv);
int cli_cmd_purge(struct cli *c, int argc, char **argv);
int cli_cmd_stats(struct cli *c, int argc, char **argv);
int cli_cmd_batch(struct cli *c, int argc, char **argv);
int cli_cmd_fuzz(struct cli *c, int argc, char **argv);
int cli_cmd_replay(struct cli *c, int argc, char **argv);

#endif /* ARMMAP_CLIENT_CLI_H */
