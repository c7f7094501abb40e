/* tests/bench/bench_recovery.c - armmapd restarts, clones and forks, timed.
 *
 * Starts the real armmapd (next to this binary) on a temporary state
 * directory and fills it through libarmmap: MACHINES qemu-virt machines,
 * EVENTS changes each, sent as pipelined batches.  Every machine gets the
 * same shape of history, in four rounds of EVENTS/5 steps:
 *
 *     alloc (Normal and HighMem alternately)     1 x
 *     kmap pfn, kunmap pfn                       2 x   (pkmap slot churn)
 *     vmalloc 4K..16K                            1 x
 *     vfree                                      1 x
 *
 * Three figures, each printed beside its target (issue 12):
 *
 *  1. Restart with only those machines (EVENTS below --checkpoint-every,
 *     so no checkpoint applies): events replayed per second, from the
 *     daemon's own line "recovered N machines (B broken) from E events in
 *     X ms" (store iteration + replay); target >= 5,000,000/s.  Also timed
 *     from fork() to the first answered Ping, and by armmapd's CPU time
 *     from /proc (steadier than wall time on a loaded machine), and
 *     beside it the time armmapd's main thread spent waiting for a CPU
 *     (/proc/PID/schedstat): on a shared machine, most of the rest; and
 *     how much of armmapd's memory is in transparent huge pages then.
 *     Beside it, where that time goes, by this process's CPU time on one
 *     thread over the same database (libstore and libmm, as armmapd
 *     uses them): the store's walk alone (SQLite step, column reads,
 *     checksum chain, decode) per event, booting the machines, and the
 *     engine's replay per event (of events read into memory first, so
 *     the store is not in it; cold, in a new process as armmapd's start,
 *     and warm), each the least of RUNS; and the rate those would allow
 *     on all online CPUs if they shared the machines perfectly.  This
 *     process neither faults its heap in first nor asks for huge pages,
 *     as armmapd's recovery does (persist.c prefault_heap()), so its cold
 *     boot and replay are an upper bound of armmapd's.
 *  2. Then one machine of BIG events (alloc, kmap, kunmap, free cycles) and
 *     CLONES clones of it are added, and the whole is restarted: the
 *     recovery must take under 1 s.
 *  3. One machine of FORK_EVENTS events; a Fork at its last seq, timed
 *     around armmap_fork() (the request's own latency through libarmmap):
 *     under 10 ms.  A Fork one seq earlier (checkpoint + replay) is printed
 *     beside it for comparison.
 *
 * Each restart is repeated RUNS times (the page cache is warm after the
 * first; the first is the one to read for a cold daemon, not for a cold
 * disk); the best run is compared with the target.
 *
 * Usage: bench_recovery [MACHINES [EVENTS [RUNS [BIG [CLONES
 *                       [FORK_EVENTS]]]]]]
 *        (default 200 5000 3 200000 300 2000000; BIG or FORK_EVENTS 0
 *        skips that part).
 * Set BENCH_KEEP=1 to keep the state directory (to profile a restart:
 * perf record -g build/armmapd --state-dir=DIR).  BENCH_DIR=DIR (a kept
 * directory, the daemon stopped) prints only the split of DIR's recovery,
 * each figure the least of RUNS: a before/after tool for the store walk
 * and the engine's replay.
 */
#include "armmap.h"
#include "mm.h"
#include "store.h"
#include "event_replay.h"
#include "../common/proc.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH       4000            /* under --max-batch-ops (4096) */
#define INFLIGHT        32
#define MAX_RUNS        10
#define FORKS           100             /* timed forks at the last seq */
#define NO_CKPT         "--checkpoint-every=4000000000" /* none applies */
#define MAX_SPLIT       4096            /* machines print_split() takes */

static char dir[64], sock[128], logpath[128], bindir[PATH_MAX - 32];
static char exe[PATH_MAX - 32];         /* this program */

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *detail)
    __attribute__((noreturn));

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_recovery: %s%s%s\n", what,
            detail != NULL ? ": " : "", detail != NULL ? detail : "");
    exit(1);
}

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

    nanosleep(&ts, NULL);
}

/* Starts armmapd on dir; @extra: one more option or NULL. */
static pid_t start_daemon(const char *extra)
{
    char bin[PATH_MAX], sd[96];
    pid_t pid;

    snprintf(bin, sizeof(bin), "%s/armmapd", bindir);
    snprintf(sd, sizeof(sd), "--state-dir=%s", dir);
    pid = fork();
    if (pid < 0)
        die("fork", NULL);
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execl(bin, bin, sd, "--log-level=info", extra, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Connects and pings until the daemon answers (at most 120 s). */
static struct armmap_conn *wait_ping(pid_t pid)
{
    struct armmap_options opt;
    char err[ARMMAP_ERR_MAX];
    int i, status;

    memset(&opt, 0, sizeof(opt));
    opt.tenant = "bench";
    opt.io_timeout_ms = 120000;
    opt.max_inflight = INFLIGHT + 1;
    for (i = 0; i < 1200000; i++) {
        struct armmap_conn *c = NULL;

        if (armmap_connect_unix(sock, opt, &c, err) == ARMMAP_OK) {
            if (armmap_ping(c) == ARMMAP_OK)
                return c;
            armmap_close(c);
        }
        if (waitpid(pid, &status, WNOHANG) == pid)
            die("armmapd exited at start; see", logpath);
        sleep_us(100);
    }
    die("armmapd did not answer in 120 s", NULL);
    return NULL;
}

static void stop_daemon(pid_t pid)
{
    int status;

    kill(pid, SIGTERM);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        die("armmapd did not stop cleanly; see", logpath);
}

struct mach {
    uint64_t id;
    uint32_t *val;                      /* one round's results */
    uint32_t *saved;                    /* fill_big: the alloc round's */
};

/* One round for every machine: build @k ops per machine with @make (which
 * may read the previous round's values), send them pipelined as batches,
 * keep the values.  Every op must succeed. */
static void round_all(struct armmap_conn *c, struct mach *m, unsigned nm,
                      unsigned k,
                      void (*make)(const struct mach *, unsigned i,
                                   struct armmap_op *, uint32_t *args))
{
    struct armmap_op *ops = calloc(k, sizeof(*ops));
    uint32_t *args = calloc((size_t)k * 2, sizeof(*args));
    unsigned mi, sent_m = 0, got_m = 0;
    uint64_t *ids = calloc(nm, sizeof(*ids));

    if (ops == NULL || args == NULL || ids == NULL)
        die("out of memory", NULL);
    /* Each machine's round is one batch of k <= MAX_BATCH ops; replies come
     * in order, so the i-th reply is machine i's. */
    while (got_m < nm) {
        while (sent_m < nm && armmap_inflight(c) < INFLIGHT) {
            unsigned i;

            for (i = 0; i < k; i++)
                make(&m[sent_m], i, &ops[i], &args[2 * i]);
            if (armmap_send_batch(c, m[sent_m].id, ops, k, true,
                                  &ids[sent_m]) != ARMMAP_OK)
                die("send batch", armmap_errmsg(c));
            sent_m++;
        }
        {
            struct armmap_reply *rp = NULL;
            size_t i;

            if (armmap_recv(c, &rp) != ARMMAP_OK)
                die("recv", armmap_errmsg(c));
            mi = got_m++;
            if (rp->id != ids[mi] || rp->status != ARMMAP_OK ||
                rp->kind != ARMMAP_REPLY_BATCH || rp->nbatch != k)
                die("batch failed", rp->msg);
            for (i = 0; i < k; i++) {
                if (rp->batch[i].status != ARMMAP_OK)
                    die("an op in a batch failed", rp->batch[i].msg);
                m[mi].val[i] = rp->batch[i].value;
            }
            armmap_reply_free(rp);
        }
    }
    free(ops);
    free(args);
    free(ids);
}

static void mk_alloc(const struct mach *m, unsigned i, struct armmap_op *op,
                     uint32_t *args)
{
    (void)m;
    args[0] = i % 2 ? ARMMAP_ZONE_HIGHMEM : ARMMAP_ZONE_NORMAL;
    args[1] = 0;
    op->code = ARMMAP_OP_ALLOC;
    op->nargs = 2;
    op->args = args;
}

static void mk_kmap(const struct mach *m, unsigned i, struct armmap_op *op,
                    uint32_t *args)
{
    args[0] = m->val[i / 2];            /* the pfns of the alloc round */
    op->code = i % 2 ? ARMMAP_OP_KUNMAP : ARMMAP_OP_KMAP;
    op->nargs = 1;
    op->args = args;
}

static void mk_vmalloc(const struct mach *m, unsigned i, struct armmap_op *op,
                       uint32_t *args)
{
    (void)m;
    args[0] = 4096u * (1 + i % 4);
    op->code = ARMMAP_OP_VMALLOC;
    op->nargs = 1;
    op->args = args;
}

static void mk_vfree(const struct mach *m, unsigned i, struct armmap_op *op,
                     uint32_t *args)
{
    args[0] = m->val[i];                /* the vmalloc round's addresses */
    op->code = ARMMAP_OP_VFREE;
    op->nargs = 1;
    op->args = args;
}

static void mk_free(const struct mach *m, unsigned i, struct armmap_op *op,
                    uint32_t *args)
{
    args[0] = m->saved[i];              /* the alloc round's pfns */
    args[1] = 0;
    op->code = ARMMAP_OP_FREE;
    op->nargs = 2;
    op->args = args;
}

/* One new machine of @events changes (a multiple of 4): cycles of alloc,
 * kmap, kunmap, free, so its memory stays flat however long it runs.
 * Return: its id. */
static uint64_t fill_big(struct armmap_conn *c, unsigned events)
{
    struct armmap_machine *am = NULL;
    struct mach m;
    unsigned steps = events / 4, done, k;

    if (armmap_create(c, "qemu-virt", NULL, 0, NULL, &am) != ARMMAP_OK)
        die("create", armmap_errmsg(c));
    memset(&m, 0, sizeof(m));
    m.id = am->id;
    armmap_machine_free(am);
    m.val = calloc(MAX_BATCH, sizeof(uint32_t));
    m.saved = calloc(MAX_BATCH, sizeof(uint32_t));
    if (m.val == NULL || m.saved == NULL)
        die("out of memory", NULL);
    for (done = 0; done < steps; done += k) {
        k = steps - done < MAX_BATCH / 2 ? steps - done : MAX_BATCH / 2;
        round_all(c, &m, 1, k, mk_alloc);
        memcpy(m.saved, m.val, k * sizeof(uint32_t));
        round_all(c, &m, 1, 2 * k, mk_kmap);
        round_all(c, &m, 1, k, mk_free);
    }
    free(m.val);
    free(m.saved);
    return m.id;
}

static void fill(struct armmap_conn *c, unsigned nm, unsigned events)
{
    unsigned steps = events / 5, done, k, i;
    struct mach *m = calloc(nm, sizeof(*m));

    if (m == NULL)
        die("out of memory", NULL);
    for (i = 0; i < nm; i++) {
        struct armmap_machine *am = NULL;

        if (armmap_create(c, "qemu-virt", NULL, 0, NULL, &am) != ARMMAP_OK)
            die("create", armmap_errmsg(c));
        m[i].id = am->id;
        armmap_machine_free(am);
        m[i].val = calloc(MAX_BATCH, sizeof(uint32_t));
        if (m[i].val == NULL)
            die("out of memory", NULL);
    }
    for (done = 0; done < steps; done += k) {
        k = steps - done < MAX_BATCH / 2 ? steps - done : MAX_BATCH / 2;
        round_all(c, m, nm, k, mk_alloc);
        round_all(c, m, nm, 2 * k, mk_kmap);
        round_all(c, m, nm, k, mk_vmalloc);
        round_all(c, m, nm, k, mk_vfree);
    }
    for (i = 0; i < nm; i++)
        free(m[i].val);
    free(m);
}

/* Reads "recovered N machines (B broken) from E events in X ms". */
static bool parse_log(unsigned long long *machines, unsigned long long *broken,
                      unsigned long long *events, double *ms)
{
    FILE *f = fopen(logpath, "r");
    char line[1024];
    bool found = false;

    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "recovered ");

        if (p != NULL &&
            sscanf(p, "recovered %llu machines (%llu broken) from %llu "
                   "events in %lf ms", machines, broken, events, ms) == 4)
            found = true;
    }
    fclose(f);
    return found;
}

static long file_size(const char *name)
{
    char path[192];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Milliseconds @pid's main thread (the one that recovers, with its
 * workers beside it) has spent runnable but waiting for a CPU, from
 * /proc/PID/schedstat; -1 if unreadable.  Beside the CPU time it says
 * where the rest of the wall time went on a loaded machine. */
static double runqueue_wait_ms(pid_t pid)
{
    char path[64];
    unsigned long long run, wait;
    FILE *f;
    int n;

    snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fscanf(f, "%llu %llu", &run, &wait);
    fclose(f);
    return n == 2 ? (double)wait / 1e6 : -1;
}

/* ---- where recovery's time goes (one thread, CPU time) ---------------- */

/* The machines of the database and, for the engine's part alone, every
 * event they hold, read into memory once (so replaying them times the
 * engine, not the store). */
struct split {
    uint64_t id[MAX_SPLIT];
    char *config[MAX_SPLIT];
    struct mm_machine *m[MAX_SPLIT];
    size_t first[MAX_SPLIT + 1];        /* machine i's events: ev[first[i]..] */
    size_t n;
    struct store_event *ev;
    size_t *off;                        /* event i's args: args[off[i]..] */
    uint32_t *args;
    size_t nev, cap, nargs, args_cap;
};

static double thread_cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int split_row(void *arg, const struct store_machine *row)
{
    struct split *sp = arg;

    if (sp->n == MAX_SPLIT)
        return 1;
    sp->id[sp->n] = row->id;
    sp->config[sp->n] = strdup(row->config != NULL ? row->config : "");
    if (sp->config[sp->n] == NULL)
        die("out of memory", NULL);
    sp->n++;
    return 0;
}

static int count_event(void *arg, const struct store_event *ev)
{
    (void)ev;
    ++*(uint64_t *)arg;
    return 0;
}

/* Grows *@p (of @size-byte items) to hold @need; *@cap is its capacity. */
static void grow(void **p, size_t size, size_t *cap, size_t need)
{
    size_t c = *cap != 0 ? *cap : 65536;
    void *q;

    while (c < need)
        c *= 2;
    if (c == *cap)
        return;
    q = realloc(*p, c * size);
    if (q == NULL)
        die("out of memory", NULL);
    *p = q;
    *cap = c;
}

/* Keeps a copy of @ev (its args in sp->args, at sp->off[]; split_walk()
 * points each copy at them once all are read) in the split @arg. */
static int keep_event(void *arg, const struct store_event *ev)
{
    struct split *sp = arg;
    size_t cap = sp->cap;

    grow((void **)&sp->ev, sizeof(*sp->ev), &sp->cap, sp->nev + 1);
    grow((void **)&sp->off, sizeof(*sp->off), &cap, sp->nev + 1);
    grow((void **)&sp->args, sizeof(*sp->args), &sp->args_cap,
         sp->nargs + ev->nargs);
    sp->ev[sp->nev] = *ev;
    sp->off[sp->nev] = sp->nargs;
    memcpy(&sp->args[sp->nargs], ev->args, ev->nargs * sizeof(uint32_t));
    sp->nargs += ev->nargs;
    sp->nev++;
    return 0;
}

/* Walks every machine's history on @rd, giving each event to @fn with
 * @arg; returns the thread's CPU ms. */
static double split_walk(struct split *sp, struct store_reader *rd,
                         int (*fn)(void *, const struct store_event *),
                         void *arg)
{
    double t0 = thread_cpu_ms();
    size_t i;

    for (i = 0; i < sp->n; i++) {
        sp->first[i] = sp->nev;
        if (store_reader_events(rd, sp->id[i], 0, 0, fn, arg, NULL) !=
            STORE_OK)
            die("store walk", store_reader_errmsg(rd));
    }
    sp->first[sp->n] = sp->nev;
    for (i = 0; i < sp->nev; i++)
        sp->ev[i].args = &sp->args[sp->off[i]];
    return thread_cpu_ms() - t0;
}

/* Boots every machine of @sp from its config as armmapd does (a clone
 * from a boot template cache, daemon/boots.c, empty at start as the
 * daemon's is); returns the CPU ms. */
static double split_boot(struct split *sp)
{
    double t0 = thread_cpu_ms();
    struct mm_boots *b = mm_boots_new(32, (size_t)32 << 20);
    size_t i;

    if (b == NULL)
        die("boot", "out of memory");
    for (i = 0; i < sp->n; i++) {
        struct mm_config cfg;
        char msg[MM_MSG_MAX];

        mm_config_default(&cfg);
        if (mm_config_parse(&cfg, sp->config[i], msg) != MM_OK ||
            mm_boots_create(b, &cfg, &sp->m[i], msg) != MM_OK)
            die("boot", msg);
    }
    mm_boots_free(b);
    return thread_cpu_ms() - t0;
}

/* Replays every kept event on its booted machine as recovery does
 * (srv_event_replay(), the daemon's own), destroys the machines; returns
 * the CPU ms of the replay alone. */
static double split_replay(struct split *sp)
{
    double t0 = thread_cpu_ms(), ms;
    size_t i, e;

    for (i = 0; i < sp->n; i++)
        for (e = sp->first[i]; e < sp->first[i + 1]; e++) {
            char msg[MM_MSG_MAX];

            /* Recovery finds each event in cache (just decoded); here
             * they stream from memory, so fetch ahead. */
            __builtin_prefetch(&sp->ev[e + 8]);
            __builtin_prefetch(&sp->args[sp->off[e] + 32]);
            if (srv_event_replay(sp->m[i], &sp->ev[e], msg) != MM_OK)
                die("replay", msg);
        }
    ms = thread_cpu_ms() - t0;
    for (i = 0; i < sp->n; i++)
        mm_destroy(sp->m[i]);
    return ms;
}

/* One boot and replay in a new process (this program again, with
 * BENCH_COLD set: see cold_child()), whose heap has never held a machine,
 * as armmapd's at start: *@boot and *@replay, CPU ms.  A forked child
 * would not do: its first writes to the heap it shares with this process
 * are copy-on-write faults, which armmapd's start does not have. */
static void split_cold(double *boot, double *replay)
{
    char cmd[PATH_MAX + 256];
    FILE *f;
    int n;

    snprintf(cmd, sizeof(cmd), "BENCH_COLD=1 BENCH_DIR='%s' '%s'", dir, exe);
    f = popen(cmd, "r");
    if (f == NULL)
        die("popen", cmd);
    n = fscanf(f, "cold %lf %lf", boot, replay);
    if (pclose(f) != 0 || n != 2)
        die("a cold replay failed", cmd);
}

static void keep_min(double *best, double v)
{
    if (*best < 0 || v < *best)
        *best = v;
}

/* Prints the split of a no-checkpoint recovery of the database in dir
 * (the daemon stopped), each figure the least of @runs: the store's walk;
 * boot and engine replay cold (each run in a new process, as armmapd
 * starts) and warm (this process again, its heap already grown). */
static void print_split(unsigned runs)
{
    static struct split sp;
    struct store_options opt;
    char path[192], err[STORE_MSG_MAX];
    struct store *st;
    uint64_t n = 0;
    double walk = -1, boot = -1, cold = -1, wboot = -1, warm = -1, b, r;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned i;

    memset(&opt, 0, sizeof(opt));
    snprintf(path, sizeof(path), "%s/armmapd.db", dir);
    if (store_open(path, &opt, &st, err) != STORE_OK)
        die("store_open", err);
    if (store_foreach_live_machine(st, split_row, &sp) != STORE_OK ||
        sp.n == MAX_SPLIT)
        die("machine rows", store_errmsg(st));
    for (i = 0; i < runs; i++) {
        n = 0;
        keep_min(&walk, split_walk(&sp, store_main_reader(st), count_event,
                                   &n));
    }
    split_walk(&sp, store_main_reader(st), keep_event, &sp);
    store_close(st);
    if (n == 0 || sp.nev != n)
        die("the store walks disagree", NULL);
    if (getenv("BENCH_COLD") != NULL) {         /* split_cold()'s child */
        b = split_boot(&sp);
        printf("cold %.6f %.6f\n", b, split_replay(&sp));
        return;
    }
    for (i = 0; i < runs; i++) {
        split_cold(&b, &r);
        keep_min(&boot, b);
        keep_min(&cold, r);
    }
    for (i = 0; i <= runs; i++) {
        b = split_boot(&sp);
        r = split_replay(&sp);
        if (i > 0) {                    /* the first grew this heap */
            keep_min(&wboot, b);
            keep_min(&warm, r);
        }
    }
    printf("recovery: split by CPU time on one thread, least of %u: store "
           "walk (step, columns, checksum, decode) %.0f ns/event; boot "
           "%.2f ms per machine (warm %.2f); engine replay %.0f ns/event "
           "cold (a new process), %.0f warm; so at most %.0f events/s on "
           "%ld CPUs sharing the machines perfectly (%.0f per CPU-second)\n",
           runs, walk * 1e6 / (double)n, boot / (double)sp.n,
           wboot / (double)sp.n, cold * 1e6 / (double)n,
           warm * 1e6 / (double)n,
           (double)n / ((walk + boot + cold) / 1e3) *
               (double)(cpus > 0 ? cpus : 1),
           cpus, (double)n / ((walk + boot + cold) / 1e3));
    for (i = 0; i < sp.n; i++)
        free(sp.config[i]);
    free(sp.ev);
    free(sp.off);
    free(sp.args);
}

/* One restart, timed: returns the best (fastest) recovery in ms over
 * @runs, after checking that @want machines came back, none broken, and
 * (unless @want_events is 0) exactly @want_events events replayed.
 * *@cpu_ms: the least CPU time armmapd spent from exec to the first Ping
 * (a bound on recovery that other jobs on the machine barely disturb). */
static double restarts(const char *what, const char *extra, unsigned runs,
                       unsigned long long want,
                       unsigned long long want_events, double *cpu_ms)
{
    double best = -1, best_cpu = -1;
    unsigned r;

    for (r = 0; r < runs; r++) {
        unsigned long long rm = 0, rb = 0, re = 0;
        struct armmap_conn *c;
        double ms = 0, t0, t1, cpu, waited;
        long huge;
        pid_t pid;

        t0 = now_ms();
        pid = start_daemon(extra);
        c = wait_ping(pid);
        t1 = now_ms();
        cpu = proc_cpu_s(pid);
        waited = runqueue_wait_ms(pid);
        huge = proc_huge_kib(pid);
        armmap_close(c);
        if (!parse_log(&rm, &rb, &re, &ms))
            die("no \"recovered\" line in", logpath);
        if (rm != want || rb != 0 ||
            (want_events != 0 && re != want_events))
            die("the daemon did not recover everything; see", logpath);
        if (best < 0 || ms < best)
            best = ms;
        if (best_cpu < 0 || cpu < best_cpu)
            best_cpu = cpu;
        printf("recovery: %s run %u: %llu machines, %llu events replayed: "
               "recovery %.1f ms (%.0f events/s), start to ping %.1f ms; "
               "armmapd CPU to the ping %.0f ms; its main thread waited "
               "%.0f ms for a CPU; %.1f MiB of it in huge pages\n",
               what, r + 1, rm, re, ms, ms > 0 ? (double)re / (ms / 1e3) : 0,
               t1 - t0, cpu * 1e3, waited, huge > 0 ? (double)huge / 1024 : 0);
        stop_daemon(pid);
    }
    *cpu_ms = best_cpu * 1e3;
    return best;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Times FORKS forks of @id at @seq through libarmmap; returns the median
 * in ms and sets *@min_ms. */
static double time_forks(struct armmap_conn *c, uint64_t id, uint64_t seq,
                         double *min_ms)
{
    double t[FORKS];
    unsigned i;

    for (i = 0; i < FORKS; i++) {
        struct armmap_machine *am = NULL;
        double t0 = now_ms();

        if (armmap_fork(c, id, seq, NULL, &am) != ARMMAP_OK)
            die("fork", armmap_errmsg(c));
        t[i] = now_ms() - t0;
        armmap_machine_free(am);
    }
    qsort(t, FORKS, sizeof(t[0]), cmp_double);
    *min_ms = t[0];
    return t[FORKS / 2];
}

static void clone_many(struct armmap_conn *c, uint64_t id, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct armmap_machine *am = NULL;

        if (armmap_clone(c, id, NULL, &am) != ARMMAP_OK)
            die("clone", armmap_errmsg(c));
        armmap_machine_free(am);
    }
}

static unsigned arg(int argc, char **argv, int i, unsigned dflt)
{
    return argc > i ? (unsigned)strtoul(argv[i], NULL, 10) : dflt;
}

int main(int argc, char **argv)
{
    unsigned nm = arg(argc, argv, 1, 200), events = arg(argc, argv, 2, 5000);
    unsigned runs = arg(argc, argv, 3, 3), big = arg(argc, argv, 4, 200000);
    unsigned clones = arg(argc, argv, 5, 300);
    unsigned fork_events = arg(argc, argv, 6, 2000000);
    unsigned long long total;
    char self[PATH_MAX - 32], cmd[128];
    struct armmap_conn *c;
    double t0, t1, ms, cpu, cpu0, rate;
    ssize_t n;
    pid_t pid;

    if (nm == 0 || events < 5 || runs == 0 || runs > MAX_RUNS)
        die("usage: bench_recovery [MACHINES [EVENTS>=5 [RUNS<=10 [BIG "
            "[CLONES [FORK_EVENTS]]]]]]", NULL);
    events -= events % 5;
    big -= big % 4;
    fork_events -= fork_events % 4;
    total = (unsigned long long)nm * events;
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        die("readlink /proc/self/exe", NULL);
    self[n] = '\0';
    snprintf(exe, sizeof(exe), "%s", self);
    *strrchr(self, '/') = '\0';
    snprintf(bindir, sizeof(bindir), "%s", self);
    if (getenv("BENCH_DIR") != NULL) {         /* the split alone */
        snprintf(dir, sizeof(dir), "%s", getenv("BENCH_DIR"));
        print_split(runs);
        return 0;
    }
    snprintf(dir, sizeof(dir), "/tmp/bench-recovery.XXXXXX");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", NULL);
    snprintf(sock, sizeof(sock), "%s/armmapd.sock", dir);
    snprintf(logpath, sizeof(logpath), "%s/armmapd.log", dir);

    pid = start_daemon(NO_CKPT);
    c = wait_ping(pid);
    t0 = now_ms();
    fill(c, nm, events);
    t1 = now_ms();
    armmap_close(c);
    printf("recovery: filled %u machines x %u events = %llu events in "
           "%.1f s (%.0f events/s through batches)\n", nm, events, total,
           (t1 - t0) / 1e3, (double)total / ((t1 - t0) / 1e3));
    stop_daemon(pid);
    printf("recovery: database %.1f MB (+ WAL %.1f MB)\n",
           (double)file_size("armmapd.db") / 1e6,
           (double)file_size("armmapd.db-wal") / 1e6);

    ms = restarts("no checkpoints", NO_CKPT, runs, nm, total, &cpu);
    rate = ms > 0 ? (double)total / (ms / 1e3) : 0;
    printf("recovery: best %.0f events/s replayed where no checkpoint "
           "applies, %.0f per armmapd CPU-second (target >= 5,000,000): "
           "%s\n", rate, cpu > 0 ? (double)total / (cpu / 1e3) : 0,
           rate >= 5e6 ? "ok" : "BELOW TARGET");
    print_split(runs);

    if (big > 0) {
        pid = start_daemon(NULL);
        c = wait_ping(pid);
        t0 = now_ms();
        clone_many(c, fill_big(c, big), clones);
        printf("recovery: added 1 machine of %u events and %u clones of it "
               "in %.1f s\n", big, clones, (now_ms() - t0) / 1e3);
        armmap_close(c);
        stop_daemon(pid);
        ms = restarts("with clones", NULL, runs, nm + 1 + clones, 0, &cpu);
        printf("recovery: %u x %u events + %u clones of a %u-event machine "
               "in %.1f ms (target < 1000 ms): %s; armmapd CPU from exec to "
               "the first ping %.0f ms: %s\n", nm, events, clones, big, ms,
               ms < 1000 ? "ok" : "ABOVE TARGET", cpu,
               cpu < 1000 ? "ok" : "ABOVE TARGET");
    }

    if (fork_events > 0) {
        double med, lo, med1, lo1;
        uint64_t id;

        pid = start_daemon(NULL);
        c = wait_ping(pid);
        t0 = now_ms();
        id = fill_big(c, fork_events);
        printf("recovery: filled 1 machine with %u events in %.1f s\n",
               fork_events, (now_ms() - t0) / 1e3);
        cpu0 = proc_cpu_s(pid);
        med = time_forks(c, id, fork_events, &lo);
        cpu0 = proc_cpu_s(pid) - cpu0;
        med1 = time_forks(c, id, fork_events - 1, &lo1);
        armmap_close(c);
        stop_daemon(pid);
        printf("recovery: fork at the last seq of a %u-event machine: "
               "median %.2f ms, best %.2f ms over %d (armmapd CPU %.2f ms "
               "each, in 10 ms ticks) (target < 10 ms): %s\n", fork_events,
               med, lo, FORKS, cpu0 * 1e3 / FORKS,
               med < 10 ? "ok" : "ABOVE TARGET");
        printf("recovery: fork one seq earlier (checkpoint + replay): median "
               "%.2f ms, best %.2f ms\n", med1, lo1);
    }
    if (getenv("BENCH_KEEP") != NULL) {
        printf("recovery: kept %s\n", dir);
    } else {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_recovery: could not remove %s\n", dir);
    }
    return 0;
}
