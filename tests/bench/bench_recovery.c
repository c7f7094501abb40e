/* tests/bench/bench_recovery.c - events replayed per second at armmapd start.
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
 * Then SIGTERM, and a restart with --log-level=info, timed two ways:
 *   - the daemon's own line "recovered N machines (B broken) from E events
 *     in X ms" (store iteration + replay, nothing else);
 *   - from fork() to the first answered Ping on a fresh connection (process
 *     start, opening the store, recovery, listening).
 * Prints both, and events per second for each.  Target (the store brief):
 * at least 1,000,000 events replayed per second.  The restart is repeated
 * RUNS times (the page cache is warm after the first; the first is the
 * one to read for a cold daemon, not for a cold disk).
 *
 * Usage: bench_recovery [MACHINES [EVENTS [RUNS]]]  (default 200 5000 3)
 * Set BENCH_KEEP=1 to keep the state directory (to profile a restart:
 * perf record -g build/armmapd --state-dir=DIR).
 */
#include "armmap.h"
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

static char dir[64], sock[128], logpath[128], bindir[PATH_MAX - 32];

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

static pid_t start_daemon(void)
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
        execl(bin, bin, sd, "--log-level=info", (char *)NULL);
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

int main(int argc, char **argv)
{
    unsigned nm = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200;
    unsigned events = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 5000;
    unsigned runs = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 3;
    char self[PATH_MAX - 32], cmd[128];
    struct armmap_conn *c;
    double t0, t1, best = 0;
    ssize_t n;
    unsigned r;
    pid_t pid;

    if (nm == 0 || events < 5 || runs == 0 || runs > MAX_RUNS)
        die("usage: bench_recovery [MACHINES [EVENTS>=5 [RUNS<=10]]]", NULL);
    events -= events % 5;
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        die("readlink /proc/self/exe", NULL);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(bindir, sizeof(bindir), "%s", self);
    snprintf(dir, sizeof(dir), "/tmp/bench-recovery.XXXXXX");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", NULL);
    snprintf(sock, sizeof(sock), "%s/armmapd.sock", dir);
    snprintf(logpath, sizeof(logpath), "%s/armmapd.log", dir);

    pid = start_daemon();
    c = wait_ping(pid);
    t0 = now_ms();
    fill(c, nm, events);
    t1 = now_ms();
    armmap_close(c);
    printf("recovery: filled %u machines x %u events = %llu events in "
           "%.1f s (%.0f events/s through batches)\n", nm, events,
           (unsigned long long)nm * events, (t1 - t0) / 1e3,
           (double)nm * events / ((t1 - t0) / 1e3));
    stop_daemon(pid);
    printf("recovery: database %.1f MB (+ WAL %.1f MB)\n",
           (double)file_size("armmapd.db") / 1e6,
           (double)file_size("armmapd.db-wal") / 1e6);

    for (r = 0; r < runs; r++) {
        unsigned long long rm = 0, rb = 0, re = 0;
        double ms = 0, rate, cpu;

        t0 = now_ms();
        pid = start_daemon();
        c = wait_ping(pid);
        t1 = now_ms();
        cpu = proc_cpu_s(pid);
        armmap_close(c);
        if (!parse_log(&rm, &rb, &re, &ms))
            die("no \"recovered\" line in", logpath);
        if (rm != nm || rb != 0 || re != (unsigned long long)nm * events)
            die("the daemon did not recover everything; see", logpath);
        rate = ms > 0 ? (double)re / (ms / 1e3) : 0;
        if (rate > best)
            best = rate;
        printf("recovery: run %u: %llu machines, %llu events: recovery "
               "%.1f ms (%.0f events/s), start to ping %.1f ms "
               "(%.0f events/s); armmapd CPU to the ping %.0f ms (%.0f "
               "events per CPU-second)\n", r + 1, rm, re, ms, rate, t1 - t0,
               (double)re / ((t1 - t0) / 1e3), cpu * 1e3,
               cpu > 0 ? (double)re / cpu : 0);
        stop_daemon(pid);
    }
    printf("recovery: best %.0f events/s replayed (target >= 1,000,000): "
           "%s\n", best, best >= 1e6 ? "ok" : "BELOW TARGET");
    if (getenv("BENCH_KEEP") != NULL) {
        printf("recovery: kept %s\n", dir);
    } else {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_recovery: could not remove %s\n", dir);
    }
    return 0;
}
