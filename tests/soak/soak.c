/* tests/soak/soak.c - minutes of mixed traffic against a restarting armmapd.
 *
 * Starts the real armmapd on a temporary state directory and socket, then
 * for SECONDS runs CLIENTS threads, each with its own libarmmap connection
 * and tenant, doing a random mix of everything a client can do: page
 * allocs and frees, kmap/kunmap, kmap_atomic, vmalloc/vfree, ioremap,
 * translate, batches, create/destroy/clone/fork, history, describe and
 * reports, with disconnects and reconnects every hundred operations or so.
 * The main thread restarts the daemon with SIGTERM every RESTART seconds;
 * clients reconnect.  A request cut off by a restart is counted, not
 * failed (the daemon answers every request it has read, not ones still in
 * the socket); a transport error on a connection made since the last
 * restart is a failure.
 *
 * Every change answered OK (machine, seq, op, value) is recorded; the
 * checks at the end:
 *   1. history: every recorded change is in its machine's history, with
 *      the same op and value (machines a client destroys are checked just
 *      before the destroy);
 *   2. replay: every live machine's describe, translations of its known
 *      addresses and all its reports are captured, the daemon is restarted
 *      (recovery replays the history), and everything must read back equal;
 *   3. memory: the daemon's VmRSS is sampled every second; samples in the
 *      first WARMUP seconds of each daemon's life are warm-up.  Rule: the
 *      largest sample of the last third of the run may exceed the largest
 *      of the middle third by at most 20 % + 2 MiB, plus what the store's
 *      SQLite page caches may have filled meanwhile: they grow with the
 *      database up to 2 x 16 MiB (store.c), so the allowance is the
 *      database's growth between the two maxima, capped at 32 MiB;
 *   4. every SIGTERM stop exits 0 and the log has no "broken" machine.
 * After the SECONDS of SIGTERM restarts come KILLS kill -9 trials (100
 * unless -k says otherwise) under the same load: at a random moment
 * 50-550 ms into each daemon's life the main thread sends SIGKILL and
 * starts it again; then every tenant's machines are listed and each must
 * describe OK (usable: not broken, not UNAVAILABLE), and the log must
 * name no broken machine and no lost WAL frames.  Checks 1 and 2 run at
 * the end as before, so every change answered before a kill must be in its
 * history, and every history read must have no gap in its seqs.
 * It prints operations by kind, errors by code, restarts, machines and RSS
 * figures, and exits 1 naming the first failures.
 *
 * Usage: soak -d PATH/armmapd [-t SECONDS] [-c CLIENTS] [-r RESTART]
 *             [-s SEED] [-k KILLS]
 */
#include "armmap.h"
#include "../common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS     64
#define MAX_MACHINES    4               /* per client */
#define MAX_PAGES       48              /* tracked allocations per machine */
#define MAX_AREAS       16              /* tracked vmalloc / ioremap areas */
#define MAX_FAILURES    20
#define WARMUP_S        3
#define CHURN_OPS       120             /* reconnect about this often */
#define NR_TRANSLATE    64
#define MAX_SAMPLES     100000
#define SQLITE_CACHES   (32L << 10)     /* KiB: writer + reader, store.c */

/* ---- settings and global state ----------------------------------------- */

static const char *daemon_path;
static int seconds = 60, nclients = 8, restart_s = 12, kills = 100;
static unsigned seed = 1;
static char dir[64], sock[128], logpath[128], dbpath[128], walpath[136];

static pid_t daemon_pid;
static atomic_uint epoch;               /* bumped at every stop and start */
static atomic_bool restarting;
static atomic_bool stop_clients;
static int restarts, killed;

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char failures[MAX_FAILURES][400];
static int nfailures;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records a failure (the first MAX_FAILURES are kept and printed). */
static void fail(const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&fail_lock);
    if (nfailures < MAX_FAILURES) {
        va_start(ap, fmt);
        vsnprintf(failures[nfailures], sizeof(failures[0]), fmt, ap);
        va_end(ap);
    }
    nfailures++;
    pthread_mutex_unlock(&fail_lock);
}

/* Stops everything at once: the daemon, then this process. */
static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "soak: FAILED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nsoak: state kept in %s\n", dir);
    if (daemon_pid > 0)
        kill(daemon_pid, SIGKILL);
    exit(1);
}

/* ---- the daemon --------------------------------------------------------- */

/* The database and its WAL, KiB. */
static long db_kib(void)
{
    struct stat a, b;
    long n = 0;

    if (stat(dbpath, &a) == 0)
        n += (long)(a.st_size >> 10);
    if (stat(walpath, &b) == 0)
        n += (long)(b.st_size >> 10);
    return n;
}

static void start_daemon(void)
{
    char sd[96];
    struct armmap_options opt;
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX];
    int i;

    snprintf(sd, sizeof(sd), "--state-dir=%s", dir);
    daemon_pid = fork();
    if (daemon_pid < 0)
        die("fork: %s", strerror(errno));
    if (daemon_pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execl(daemon_path, daemon_path, sd, "--log-level=warn",
              (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", daemon_path, strerror(errno));
        _exit(127);
    }
    memset(&opt, 0, sizeof(opt));
    opt.tenant = "soak-probe";
    for (i = 0; i < 3000; i++) {
        int status;

        if (armmap_connect_unix(sock, opt, &c, err) == ARMMAP_OK) {
            armmap_close(c);
            return;
        }
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
            daemon_pid = 0;
            die("armmapd exited at start (status %d); see %s",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, logpath);
        }
        sleep_ms(10);
    }
    die("armmapd did not answer on %s in 30 s", sock);
}

/* SIGTERM and wait (40 s: the drain is bounded to 30); must exit 0. */
static void stop_daemon(void)
{
    int status, i;

    kill(daemon_pid, SIGTERM);
    for (i = 0; i < 4000; i++) {
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid)
            break;
        sleep_ms(10);
    }
    if (i == 4000) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, &status, 0);
        fail("armmapd did not exit within 40 s of SIGTERM");
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail("armmapd stopped with status %d (signal %d) after SIGTERM",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1,
             WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    daemon_pid = 0;
}

static void restart_daemon(void)
{
    atomic_store(&restarting, true);
    atomic_fetch_add(&epoch, 1);
    stop_daemon();
    start_daemon();
    atomic_fetch_add(&epoch, 1);
    atomic_store(&restarting, false);
    restarts++;
}

/* kill -9 at a random moment, and a start on what it left. */
static void kill_restart(void)
{
    int status;

    atomic_store(&restarting, true);
    atomic_fetch_add(&epoch, 1);
    kill(daemon_pid, SIGKILL);
    if (waitpid(daemon_pid, &status, 0) != daemon_pid)
        die("waitpid: %s", strerror(errno));
    daemon_pid = 0;
    start_daemon();
    atomic_fetch_add(&epoch, 1);
    atomic_store(&restarting, false);
    killed++;
}

/* The log lines a kill must never cause; fails on the first. */
static void check_log(void)
{
    FILE *f = fopen(logpath, "r");
    char line[512];

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, "broken") != NULL || strstr(line, "lost committed") != NULL)
            fail("daemon log: %s", line);
    if (f != NULL)
        fclose(f);
}

/* ---- what a client knows ---------------------------------------------- */

enum kind {
    K_ALLOC, K_FREE, K_KMAP, K_KUNMAP, K_KMAP_ATOMIC, K_VMALLOC, K_VFREE,
    K_IOREMAP, K_IOUNMAP, K_TRANSLATE, K_BATCH, K_CREATE, K_DESTROY,
    K_CLONE, K_FORK, K_HISTORY, K_DESCRIBE, K_REPORT, K_RECONNECT, NKINDS
};

static const char *const kind_name[NKINDS] = {
    "alloc", "free", "kmap", "kunmap", "kmap_atomic+kunmap_atomic",
    "vmalloc", "vfree", "ioremap", "iounmap", "translate", "batch",
    "create", "destroy", "clone", "fork", "history", "describe", "report",
    "reconnect",
};

struct page {
    uint32_t pfn, order;
    uint32_t kva;                       /* kmap address, 0 if not kmapped */
};

struct mach {
    uint64_t id;
    unsigned cpus;
    bool highmem;
    size_t npages, nvm, nio;
    struct page pages[MAX_PAGES];
    uint32_t vm[MAX_AREAS], io[MAX_AREAS];
};

/* One answered change. */
struct rec {
    uint64_t machine, seq;
    uint32_t op, value;
};

struct client {
    int idx;
    pthread_t th;
    uint64_t rng;
    struct armmap_conn *c;
    unsigned conn_epoch;                /* epoch when c was connected */
    char tenant[32];
    size_t nm;
    struct mach m[MAX_MACHINES];
    struct rec *recs;
    size_t nrecs, caprecs;
    uint64_t ops[NKINDS];
    uint64_t errs[ARMMAP_NO_HOST_MEMORY + 1];
    uint64_t cut;                       /* requests cut off by a restart */
    uint64_t verified;                  /* changes found in history */
};

static struct client clients[MAX_CLIENTS];

static uint32_t rnd(struct client *cl, uint32_t n)
{
    /* xorshift64* */
    cl->rng ^= cl->rng >> 12;
    cl->rng ^= cl->rng << 25;
    cl->rng ^= cl->rng >> 27;
    return (uint32_t)((cl->rng * 2685821657736338717ull) >> 33) % n;
}

static void record(struct client *cl, uint64_t machine,
                   enum armmap_opcode op, const struct armmap_op_result *r)
{
    if (r->status != ARMMAP_OK || r->seq == 0)
        return;
    if (cl->nrecs == cl->caprecs) {
        cl->caprecs = cl->caprecs ? cl->caprecs * 2 : 4096;
        cl->recs = realloc(cl->recs, cl->caprecs * sizeof(*cl->recs));
        if (cl->recs == NULL)
            die("out of memory");
    }
    cl->recs[cl->nrecs++] = (struct rec){ machine, r->seq, op, r->value };
}

static bool connect_client(struct client *cl)
{
    struct armmap_options opt;
    char err[ARMMAP_ERR_MAX];
    double deadline = now_s() + 60;

    memset(&opt, 0, sizeof(opt));
    opt.tenant = cl->tenant;
    opt.io_timeout_ms = 45000;
    while (!atomic_load(&stop_clients)) {
        unsigned e = atomic_load(&epoch);
        enum armmap_status st = armmap_connect_unix(sock, opt, &cl->c, err);

        if (st == ARMMAP_OK) {
            cl->conn_epoch = e;
            return true;
        }
        if (now_s() > deadline) {
            fail("client %d: no connection for 60 s: %s: %s", cl->idx,
                 armmap_strerror(st), err);
            return false;
        }
        sleep_ms(20);
    }
    return false;
}

/*
 * Accounts for the status of one call.  True if the daemon answered (OK
 * or an error code); false if the connection failed, which is expected
 * only when the daemon was restarted since the connection was made.
 */
static bool answered(struct client *cl, enum armmap_status st,
                     const char *what)
{
    if (st < ARMMAP_NO_SOCKET) {
        cl->errs[st] += st != ARMMAP_OK;
        /* A broken machine or a failing store is never the client's
         * doing. */
        if (st == ARMMAP_INTERNAL || st == ARMMAP_UNAVAILABLE)
            fail("client %d: %s: %s: %s", cl->idx, what,
                 armmap_strerror(st), armmap_errmsg(cl->c));
        return true;
    }
    if (st <= ARMMAP_NO_HOST_MEMORY)
        cl->errs[st]++;
    if (st == ARMMAP_IO && (atomic_load(&restarting) ||
                            atomic_load(&epoch) != cl->conn_epoch)) {
        cl->cut++;
    } else {
        fail("client %d: %s: %s on a connection made after the last "
             "restart: %s", cl->idx, what, armmap_strerror(st),
             armmap_errmsg(cl->c));
    }
    armmap_close(cl->c);
    cl->c = NULL;
    return false;
}

/* ---- operations ------------------------------------------------------ */

static void add_machine(struct client *cl, const struct armmap_machine *am,
                        const struct mach *copy)
{
    struct mach *m;

    if (cl->nm == MAX_MACHINES)
        return;
    m = &cl->m[cl->nm++];
    if (copy != NULL)
        *m = *copy;
    else
        memset(m, 0, sizeof(*m));
    m->id = am->id;
    m->cpus = strstr(am->config, "cpus=4") != NULL ? 4 : 1;
    m->highmem = strstr(am->config, "highmem=on") != NULL;
}

static void op_create(struct client *cl)
{
    static const char *const presets[] = { "qemu-virt", "aries",
                                           "beaglebone-black" };
    struct armmap_machine *am = NULL;
    enum armmap_status st;

    if (cl->nm == MAX_MACHINES)
        return;
    st = armmap_create(cl->c, presets[rnd(cl, 3)], NULL, 0, NULL, &am);
    if (answered(cl, st, "create") && st == ARMMAP_OK)
        add_machine(cl, am, NULL);
    armmap_machine_free(am);
}

/* Fetches every event of @machine: op and value per seq (index seq). */
static enum armmap_status fetch_history(struct armmap_conn *c,
                                        uint64_t machine, uint32_t **ops,
                                        uint32_t **vals, uint64_t *maxseq)
{
    struct armmap_history_query q;
    uint64_t prev = 0;
    size_t cap = 1024;
    uint32_t *o = calloc(cap, sizeof(*o)), *v = calloc(cap, sizeof(*v));

    memset(&q, 0, sizeof(q));
    *maxseq = 0;
    if (o == NULL || v == NULL)
        die("out of memory");
    for (;;) {
        struct armmap_history *h = NULL;
        enum armmap_status st = armmap_history(c, machine, &q, &h);
        size_t i;

        if (st != ARMMAP_OK) {
            free(o);
            free(v);
            return st;
        }
        for (i = 0; i < h->n; i++) {
            const struct armmap_event *e = &h->events[i];

            while (e->seq >= cap) {
                o = realloc(o, 2 * cap * sizeof(*o));
                v = realloc(v, 2 * cap * sizeof(*v));
                if (o == NULL || v == NULL)
                    die("out of memory");
                memset(o + cap, 0, cap * sizeof(*o));
                memset(v + cap, 0, cap * sizeof(*v));
                cap *= 2;
            }
            if (prev != 0 && e->seq != prev + 1)
                fail("machine %" PRIu64 ": history jumps from seq %" PRIu64
                     " to %" PRIu64, machine, prev, e->seq);
            prev = e->seq;
            o[e->seq] = (uint32_t)e->op;
            v[e->seq] = e->result.value;
            if (e->seq > *maxseq)
                *maxseq = e->seq;
        }
        q.after_seq = h->next_after_seq;
        armmap_history_free(h);
        if (q.after_seq == 0)
            break;
    }
    *ops = o;
    *vals = v;
    return ARMMAP_OK;
}

/* Checks the client's records of @machine against its history over @c
 * and drops them.  Returns the history call's status (records are kept
 * if it failed). */
static enum armmap_status verify_machine(struct client *cl,
                                         struct armmap_conn *c,
                                         uint64_t machine)
{
    uint32_t *ops, *vals;
    uint64_t maxseq;
    size_t i, keep = 0;
    int bad = 0;
    enum armmap_status st = fetch_history(c, machine, &ops, &vals, &maxseq);

    if (st != ARMMAP_OK)
        return st;
    for (i = 0; i < cl->nrecs; i++) {
        const struct rec *r = &cl->recs[i];

        if (r->machine != machine) {
            cl->recs[keep++] = *r;
            continue;
        }
        if (r->seq > maxseq || ops[r->seq] != r->op ||
            vals[r->seq] != r->value) {
            if (bad++ < 3)
                fail("machine %" PRIu64 " seq %" PRIu64 ": answered %s "
                     "value 0x%x, history has %s value 0x%x", machine,
                     r->seq, armmap_op_name(r->op), r->value,
                     r->seq > maxseq ? "nothing"
                                     : armmap_op_name(ops[r->seq]),
                     r->seq > maxseq ? 0 : vals[r->seq]);
        } else {
            cl->verified++;
        }
    }
    cl->nrecs = keep;
    free(ops);
    free(vals);
    return ARMMAP_OK;
}

static void drop_machine(struct client *cl, size_t k)
{
    cl->m[k] = cl->m[--cl->nm];
}

static void op_destroy(struct client *cl, size_t k)
{
    uint64_t id = cl->m[k].id;
    enum armmap_status st;

    if (cl->nm < 2)
        return;
    /* The history goes with the machine: check it first. */
    st = verify_machine(cl, cl->c, id);
    if (!answered(cl, st, "history before destroy") || st != ARMMAP_OK)
        return;
    st = armmap_destroy(cl->c, id);
    drop_machine(cl, k);
    answered(cl, st, "destroy");
}

static void op_clone_or_fork(struct client *cl, size_t k, bool fork)
{
    struct armmap_machine *am = NULL, *d = NULL;
    struct mach copy = cl->m[k];
    enum armmap_status st;

    if (cl->nm == MAX_MACHINES)
        return;
    if (!fork) {
        st = armmap_clone(cl->c, copy.id, NULL, &am);
    } else {
        st = armmap_describe(cl->c, copy.id, &d);
        if (!answered(cl, st, "describe"))
            return;
        /* The fork has the state at a past seq: its pages are unknown. */
        memset(&copy.npages, 0, sizeof(copy) - offsetof(struct mach, npages));
        st = armmap_fork(cl->c, copy.id, d != NULL ? d->seq / 2 : 0, NULL,
                         &am);
        armmap_machine_free(d);
    }
    if (answered(cl, st, fork ? "fork" : "clone") && st == ARMMAP_OK)
        add_machine(cl, am, &copy);
    armmap_machine_free(am);
}

static void op_alloc(struct client *cl, struct mach *m)
{
    struct armmap_op_result r;
    enum armmap_zone zone = m->highmem && rnd(cl, 2) ? ARMMAP_ZONE_HIGHMEM
                                                     : ARMMAP_ZONE_NORMAL;
    uint32_t order = rnd(cl, 3);
    enum armmap_status st;

    if (m->npages == MAX_PAGES)
        return;
    st = armmap_alloc(cl->c, m->id, zone, order, &r);
    if (!answered(cl, st, "alloc"))
        return;
    record(cl, m->id, ARMMAP_OP_ALLOC, &r);
    if (st == ARMMAP_OK)
        m->pages[m->npages++] = (struct page){ r.value, order, 0 };
}

static void op_free(struct client *cl, struct mach *m)
{
    struct armmap_op_result r;
    enum armmap_status st;
    size_t k;

    if (m->npages == 0)
        return;
    k = rnd(cl, (uint32_t)m->npages);
    if (m->pages[k].kva != 0)
        return;
    st = armmap_free_pages(cl->c, m->id, m->pages[k].pfn, m->pages[k].order,
                           &r);
    if (!answered(cl, st, "free"))
        return;
    record(cl, m->id, ARMMAP_OP_FREE, &r);
    m->pages[k] = m->pages[--m->npages];
}

static void op_kmap(struct client *cl, struct mach *m, bool map)
{
    struct armmap_op_result r;
    enum armmap_status st;
    struct page *p;

    if (m->npages == 0)
        return;
    p = &m->pages[rnd(cl, (uint32_t)m->npages)];
    if (map && p->kva == 0) {
        st = armmap_kmap(cl->c, m->id, p->pfn, 0, &r);
        if (!answered(cl, st, "kmap"))
            return;
        record(cl, m->id, ARMMAP_OP_KMAP, &r);
        if (st == ARMMAP_OK)
            p->kva = r.value;
    } else if (!map && p->kva != 0) {
        st = armmap_kunmap(cl->c, m->id, p->pfn, &r);
        if (!answered(cl, st, "kunmap"))
            return;
        record(cl, m->id, ARMMAP_OP_KUNMAP, &r);
        p->kva = 0;
    }
}

static void op_kmap_atomic(struct client *cl, struct mach *m)
{
    struct armmap_op_result r;
    enum armmap_status st;
    uint32_t cpu = rnd(cl, m->cpus), pfn;

    if (m->npages == 0)
        return;
    pfn = m->pages[rnd(cl, (uint32_t)m->npages)].pfn;
    st = armmap_kmap_atomic(cl->c, m->id, cpu, pfn, -1, &r);
    if (!answered(cl, st, "kmap_atomic"))
        return;
    record(cl, m->id, ARMMAP_OP_KMAP_ATOMIC, &r);
    if (st != ARMMAP_OK)
        return;
    st = armmap_kunmap_atomic(cl->c, m->id, cpu, r.value, &r);
    if (answered(cl, st, "kunmap_atomic"))
        record(cl, m->id, ARMMAP_OP_KUNMAP_ATOMIC, &r);
}

static void op_area(struct client *cl, struct mach *m, bool io, bool make)
{
    uint32_t *list = io ? m->io : m->vm;
    size_t *n = io ? &m->nio : &m->nvm;
    struct armmap_op_result r;
    enum armmap_status st;

    if (make && *n < MAX_AREAS) {
        uint32_t size = (1 + rnd(cl, io ? 4 : 16)) * 4096u;
        enum armmap_opcode op = io ? ARMMAP_OP_IOREMAP : ARMMAP_OP_VMALLOC;

        if (io)
            st = armmap_ioremap(cl->c, m->id,
                                0x10000000u + rnd(cl, 256) * 4096u, size, &r);
        else
            st = armmap_vmalloc(cl->c, m->id, size, &r);
        if (!answered(cl, st, io ? "ioremap" : "vmalloc"))
            return;
        record(cl, m->id, op, &r);
        if (st == ARMMAP_OK)
            list[(*n)++] = r.value;
    } else if (!make && *n > 0) {
        size_t k = rnd(cl, (uint32_t)*n);
        enum armmap_opcode op = io ? ARMMAP_OP_IOUNMAP : ARMMAP_OP_VFREE;

        if (io)
            st = armmap_iounmap(cl->c, m->id, list[k], &r);
        else
            st = armmap_vfree(cl->c, m->id, list[k], &r);
        if (!answered(cl, st, io ? "iounmap" : "vfree"))
            return;
        record(cl, m->id, op, &r);
        list[k] = list[--*n];
    }
}

/* Addresses worth translating on @m: lowmem samples and every address the
 * client mapped.  Returns how many (at most @max). */
static size_t known_vas(struct client *cl, const struct mach *m,
                        uint32_t *va, size_t max)
{
    size_t n = 0, i;

    for (i = 0; i < m->npages && n < max; i++)
        if (m->pages[i].kva != 0)
            va[n++] = m->pages[i].kva;
    for (i = 0; i < m->nvm && n < max; i++)
        va[n++] = m->vm[i];
    for (i = 0; i < m->nio && n < max; i++)
        va[n++] = m->io[i];
    for (i = 0; n < max; i++)
        va[n++] = cl != NULL ? 0xc0000000u + rnd(cl, 0x30000000u)
                             : 0xbf000000u + (uint32_t)i * 0x00531000u;
    return n;
}

static void op_translate(struct client *cl, struct mach *m)
{
    uint32_t va[NR_TRANSLATE];
    struct armmap_translate_result *t = NULL;
    size_t n = known_vas(cl, m, va, NR_TRANSLATE);
    enum armmap_status st;

    st = armmap_translate(cl->c, m->id, va, n, 0, rnd(cl, 8) == 0, &t);
    answered(cl, st, "translate");
    armmap_translate_result_free(t);
}

static void op_batch(struct client *cl, struct mach *m)
{
    struct armmap_op ops[8];
    struct armmap_op_result res[8];
    uint32_t args[8][2];
    size_t nres = 0, i, n = 0;
    bool frees = m->npages > MAX_PAGES / 2;
    enum armmap_status st;

    memset(ops, 0, sizeof(ops));
    for (i = 0; i < 8; i++) {
        if (frees) {
            if (i >= m->npages || m->pages[m->npages - 1 - i].kva != 0)
                break;
            args[i][0] = m->pages[m->npages - 1 - i].pfn;
            args[i][1] = m->pages[m->npages - 1 - i].order;
            ops[i].code = ARMMAP_OP_FREE;
        } else {
            if (m->npages + i >= MAX_PAGES)
                break;
            args[i][0] = ARMMAP_ZONE_NORMAL;
            args[i][1] = 0;
            ops[i].code = ARMMAP_OP_ALLOC;
        }
        ops[i].nargs = 2;
        ops[i].args = args[i];
        n++;
    }
    if (n == 0)
        return;
    st = armmap_batch(cl->c, m->id, ops, n, false, res, &nres);
    if (!answered(cl, st, "batch"))
        return;
    for (i = 0; i < nres; i++) {
        record(cl, m->id, ops[i].code, &res[i]);
        if (res[i].status == ARMMAP_OK && !frees)
            m->pages[m->npages++] = (struct page){ res[i].value, 0, 0 };
        cl->errs[res[i].status] += res[i].status != ARMMAP_OK;
    }
    if (frees)
        m->npages -= nres;
}

static void op_read(struct client *cl, struct mach *m, enum kind k)
{
    struct armmap_history_query q;
    struct armmap_history *h = NULL;
    struct armmap_machine *d = NULL;
    enum armmap_status st;
    char *text = NULL;

    switch (k) {
    case K_HISTORY:
        memset(&q, 0, sizeof(q));
        q.limit = 50;
        q.newest_first = true;
        st = armmap_history(cl->c, m->id, &q, &h);
        armmap_history_free(h);
        break;
    case K_DESCRIBE:
        st = armmap_describe(cl->c, m->id, &d);
        armmap_machine_free(d);
        break;
    default:
        st = armmap_report(cl->c, m->id,
                           (enum armmap_report)rnd(cl, ARMMAP_REPORT_COUNT),
                           &text);
        armmap_free(text);
        break;
    }
    answered(cl, st, kind_name[k]);
}

/* One random operation on a random machine of @cl. */
static void step(struct client *cl)
{
    size_t k = cl->nm > 0 ? rnd(cl, (uint32_t)cl->nm) : 0;
    struct mach *m = &cl->m[k];
    enum kind what;
    uint32_t dice = rnd(cl, 100);

    if (cl->nm == 0 || (cl->nm < 2 && dice < 20))
        what = K_CREATE;
    else if (dice < 14)
        what = K_ALLOC;
    else if (dice < 24)
        what = K_FREE;
    else if (dice < 32)
        what = K_KMAP;
    else if (dice < 39)
        what = K_KUNMAP;
    else if (dice < 45)
        what = K_KMAP_ATOMIC;
    else if (dice < 51)
        what = K_VMALLOC;
    else if (dice < 56)
        what = K_VFREE;
    else if (dice < 59)
        what = K_IOREMAP;
    else if (dice < 62)
        what = K_IOUNMAP;
    else if (dice < 72)
        what = K_TRANSLATE;
    else if (dice < 80)
        what = K_BATCH;
    else if (dice < 82)
        what = K_CREATE;
    else if (dice < 84)
        what = K_DESTROY;
    else if (dice < 85)
        what = K_CLONE;
    else if (dice < 86)
        what = K_FORK;
    else if (dice < 90)
        what = K_HISTORY;
    else if (dice < 95)
        what = K_DESCRIBE;
    else
        what = K_REPORT;
    cl->ops[what]++;
    switch (what) {
    case K_ALLOC: op_alloc(cl, m); break;
    case K_FREE: op_free(cl, m); break;
    case K_KMAP: op_kmap(cl, m, true); break;
    case K_KUNMAP: op_kmap(cl, m, false); break;
    case K_KMAP_ATOMIC: op_kmap_atomic(cl, m); break;
    case K_VMALLOC: op_area(cl, m, false, true); break;
    case K_VFREE: op_area(cl, m, false, false); break;
    case K_IOREMAP: op_area(cl, m, true, true); break;
    case K_IOUNMAP: op_area(cl, m, true, false); break;
    case K_TRANSLATE: op_translate(cl, m); break;
    case K_BATCH: op_batch(cl, m); break;
    case K_CREATE: op_create(cl); break;
    case K_DESTROY: op_destroy(cl, k); break;
    case K_CLONE: op_clone_or_fork(cl, k, false); break;
    case K_FORK: op_clone_or_fork(cl, k, true); break;
    default: op_read(cl, m, what); break;
    }
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    unsigned n = 0;

    while (!atomic_load(&stop_clients)) {
        if (cl->c == NULL && !connect_client(cl))
            break;
        step(cl);
        if (cl->c != NULL && ++n % (CHURN_OPS / 2 + rnd(cl, CHURN_OPS)) == 0) {
            armmap_close(cl->c);
            cl->c = NULL;
            cl->ops[K_RECONNECT]++;
        }
    }
    return NULL;
}

/* ---- the final checks ---------------------------------------------------- */

struct text {
    char *buf;
    size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len)
            break;
        t->cap = t->cap ? t->cap * 2 + (size_t)n : 65536;
        t->buf = realloc(t->buf, t->cap);
        if (t->buf == NULL)
            die("out of memory");
    }
    t->len += (size_t)n;
}

/* Everything a client can read about @m, as text. */
static void capture(struct armmap_conn *c, const struct mach *m,
                    struct text *t)
{
    uint32_t va[256];
    size_t n = known_vas(NULL, m, va, 256), i;
    struct armmap_translate_result *tr = NULL;
    struct armmap_machine *d = NULL;
    enum armmap_status st;
    int k;

    st = armmap_describe(c, m->id, &d);
    if (st != ARMMAP_OK) {
        put(t, "describe: %s %s\n", armmap_strerror(st), armmap_errmsg(c));
        return;
    }
    put(t, "seq %" PRIu64 " pkmap %u/%u tlb %u vmalloc %u/%u pte %u "
        "broken '%s'\n", d->seq, d->pkmap_in_use, d->pkmap_flushes,
        d->tlb_flushes, d->vmalloc_areas, d->vmalloc_pages, d->pte_pages,
        d->broken);
    for (i = 0; i < d->nzones; i++)
        put(t, "zone %s free %u\n", d->zones[i].name, d->zones[i].free);
    armmap_machine_free(d);
    st = armmap_translate(c, m->id, va, n, 0, false, &tr);
    if (st == ARMMAP_OK) {
        for (i = 0; i < n; i++)
            put(t, "%08x -> %08x %u %u\n", va[i], tr->pa[i], tr->fault[i],
                tr->region[i]);
    } else {
        put(t, "translate: %s\n", armmap_strerror(st));
    }
    armmap_translate_result_free(tr);
    for (k = 0; k < ARMMAP_REPORT_COUNT; k++) {
        char *text = NULL;

        st = armmap_report(c, m->id, (enum armmap_report)k, &text);
        put(t, "report %d: %s\n%s\n", k, armmap_strerror(st),
            text != NULL ? text : "");
        armmap_free(text);
    }
}

static struct armmap_conn *checker(const char *tenant)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];

    memset(&opt, 0, sizeof(opt));
    opt.tenant = tenant;
    opt.io_timeout_ms = 60000;
    if (armmap_connect_unix(sock, opt, &c, err) != ARMMAP_OK)
        die("checker connection: %s", err);
    return c;
}

/* Every machine of every client's tenant must describe OK. */
static void check_usable(void)
{
    int i;

    for (i = 0; i < nclients; i++) {
        struct armmap_conn *c = checker(clients[i].tenant);
        struct armmap_machine_list *l = NULL;
        enum armmap_status st = armmap_list(c, &l);
        size_t k;

        if (st != ARMMAP_OK)
            fail("kill %d: list of %s: %s: %s", killed, clients[i].tenant,
                 armmap_strerror(st), armmap_errmsg(c));
        for (k = 0; l != NULL && k < l->n; k++) {
            struct armmap_machine *d = NULL;

            st = armmap_describe(c, l->items[k].id, &d);
            if (st != ARMMAP_OK && st != ARMMAP_NOT_FOUND)
                fail("kill %d: machine %" PRIu64 " is not usable after the "
                     "restart: %s: %s", killed, l->items[k].id,
                     armmap_strerror(st), armmap_errmsg(c));
            armmap_machine_free(d);
        }
        armmap_machine_list_free(l);
        armmap_close(c);
    }
}

/* Index of the first differing line, for the failure message. */
static void first_difference(const char *a, const char *b, char *out,
                             size_t size)
{
    size_t i = 0, line = 0, start = 0;

    while (a[i] != '\0' && a[i] == b[i]) {
        if (a[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    snprintf(out, size, "line %zu: before '%.80s' after '%.80s'", line + 1,
             a + start, b + start);
}

static void final_checks(size_t *machines, uint64_t *verified)
{
    struct text *before = calloc((size_t)nclients * MAX_MACHINES,
                                 sizeof(*before));
    int i;
    size_t k;

    if (before == NULL)
        die("out of memory");
    *machines = 0;
    *verified = 0;
    for (i = 0; i < nclients; i++) {
        struct client *cl = &clients[i];
        struct armmap_conn *c = checker(cl->tenant);

        for (k = 0; k < cl->nm; k++) {
            enum armmap_status st = verify_machine(cl, c, cl->m[k].id);

            if (st != ARMMAP_OK)
                fail("history of machine %" PRIu64 ": %s: %s", cl->m[k].id,
                     armmap_strerror(st), armmap_errmsg(c));
            capture(c, &cl->m[k], &before[i * MAX_MACHINES + k]);
            (*machines)++;
        }
        if (cl->nrecs != 0)
            fail("client %d: %zu answered changes on machines it lost "
                 "track of", i, cl->nrecs);
        *verified += cl->verified;
        armmap_close(c);
    }
    restart_daemon();
    for (i = 0; i < nclients; i++) {
        struct client *cl = &clients[i];
        struct armmap_conn *c = checker(cl->tenant);

        for (k = 0; k < cl->nm; k++) {
            struct text *b = &before[i * MAX_MACHINES + k];
            struct text after = { NULL, 0, 0 };
            const char *was, *now;
            char diff[256];

            capture(c, &cl->m[k], &after);
            /* A capture that got nothing left its buffer NULL. */
            was = b->buf != NULL ? b->buf : "";
            now = after.buf != NULL ? after.buf : "";
            if (after.len != b->len || strcmp(now, was) != 0) {
                first_difference(was, now, diff, sizeof(diff));
                fail("machine %" PRIu64 " reads back differently after "
                     "recovery: %s", cl->m[k].id, diff);
            }
            free(after.buf);
            free(b->buf);
        }
        armmap_close(c);
    }
    free(before);
}

/* ---- main ------------------------------------------------------------ */

struct sample {
    double t;                           /* since the run started */
    double age;                         /* since this daemon started */
    long kib;                           /* VmRSS */
    long db;                            /* database + WAL, KiB */
    int life;                           /* which daemon (restarts so far) */
};

static struct sample samples[MAX_SAMPLES];
static size_t nsamples;

/* The memory rule (see the header); prints the figures it used. */
static void check_memory(double run_s, long *peak)
{
    long mid = 0, last = 0, mid_db = 0, last_db = 0, cache, limit, life_max;
    int life = -1;
    size_t i;

    *peak = 0;
    printf("rss max per daemon life, KiB:");
    for (i = 0, life_max = 0; i <= nsamples; i++) {
        const struct sample *s = &samples[i];

        if (i == nsamples || s->life != life) {
            if (life >= 0)
                printf(" %ld", life_max);
            if (i == nsamples)
                break;
            life = s->life;
            life_max = 0;
        }
        if (s->kib > life_max)
            life_max = s->kib;
        if (s->kib > *peak)
            *peak = s->kib;
        if (s->age < WARMUP_S)
            continue;
        if (s->t >= run_s / 3 && s->t < 2 * run_s / 3 && s->kib > mid) {
            mid = s->kib;
            mid_db = s->db;
        }
        if (s->t >= 2 * run_s / 3 && s->kib > last) {
            last = s->kib;
            last_db = s->db;
        }
    }
    cache = last_db - mid_db;
    cache = cache < 0 ? 0 : cache > SQLITE_CACHES ? SQLITE_CACHES : cache;
    limit = mid + mid / 5 + 2048 + cache;
    printf("\nrss: middle third max %ld KiB (database %ld KiB), last third "
           "max %ld KiB (database %ld KiB); limit %ld KiB = middle + 20%% "
           "+ 2048 + %ld of cache room\n", mid, mid_db, last, last_db, limit,
           cache);
    fflush(stdout);
    if (mid == 0 || last == 0)
        fail("memory: too few samples after warm-up (run longer than %d s)",
             3 * WARMUP_S);
    else if (last > limit)
        fail("memory: the daemon grew from %ld KiB (middle third) to %ld "
             "KiB (last third), over the limit of %ld KiB", mid, last,
             limit);
}

static void usage(void)
{
    fprintf(stderr, "usage: soak -d ARMMAPD [-t SECONDS] [-c CLIENTS] "
            "[-r RESTART_SECONDS] [-s SEED] [-k KILLS]\n");
    exit(2);
}

/* KILLS kill -9 trials under the clients' load (see the header). */
static void kill_trials(void)
{
    uint64_t r = 0x2545f4914f6cdd1dull * (seed + 1);
    int k;

    for (k = 0; k < kills && nfailures == 0; k++) {
        r ^= r >> 12;
        r ^= r << 25;
        r ^= r >> 27;
        sleep_ms(50 + (long)((r * 2685821657736338717ull) >> 33) % 500);
        kill_restart();
        check_usable();
        check_log();
    }
    printf("soak: %d kill -9 trials, each restarted and checked\n", killed);
    fflush(stdout);
}

static void run(double *run_s)
{
    double t0 = now_s(), life0 = t0, next_restart = t0 + restart_s,
           next_sample = t0;
    int i;

    for (i = 0; i < nclients; i++) {
        clients[i].idx = i;
        clients[i].rng = 0x9e3779b97f4a7c15ull * (seed + (unsigned)i + 1);
        snprintf(clients[i].tenant, sizeof(clients[i].tenant), "soak%d", i);
        if (pthread_create(&clients[i].th, NULL, client_main, &clients[i]))
            die("pthread_create failed");
    }
    while (now_s() < t0 + seconds) {
        double now = now_s();

        if (now >= next_sample && nsamples < MAX_SAMPLES) {
            samples[nsamples++] = (struct sample){ now - t0, now - life0,
                                                   proc_rss_kib(daemon_pid),
                                                   db_kib(), restarts };
            next_sample += 1;
        }
        if (now >= next_restart && now + 2 < t0 + seconds) {
            restart_daemon();
            life0 = now_s();
            next_restart = life0 + restart_s;
            next_sample = life0;
        }
        sleep_ms(50);
    }
    *run_s = now_s() - t0;
    kill_trials();
    atomic_store(&stop_clients, true);
    for (i = 0; i < nclients; i++) {
        pthread_join(clients[i].th, NULL);
        armmap_close(clients[i].c);
        clients[i].c = NULL;
    }
}

static void print_figures(double run_s, size_t machines, uint64_t verified,
                          long peak, long final)
{
    uint64_t ops[NKINDS] = { 0 }, errs[ARMMAP_NO_HOST_MEMORY + 1] = { 0 };
    uint64_t total = 0, cut = 0;
    int i, k;

    for (i = 0; i < nclients; i++) {
        for (k = 0; k < NKINDS; k++)
            ops[k] += clients[i].ops[k];
        for (k = 0; k <= ARMMAP_NO_HOST_MEMORY; k++)
            errs[k] += clients[i].errs[k];
        cut += clients[i].cut;
    }
    printf("soak: %.0f s, %d clients, %d restarts (SIGTERM), then %d "
           "kill -9 trials, seed %u\n", run_s, nclients, restarts, killed,
           seed);
    printf("operations by kind:\n");
    for (k = 0; k < NKINDS; k++) {
        printf("  %-26s %10" PRIu64 "\n", kind_name[k], ops[k]);
        total += k == K_RECONNECT ? 0 : ops[k];
    }
    printf("  %-26s %10" PRIu64 " (%.0f/s)\n", "total", total,
           (double)total / run_s);
    printf("errors by code (answered, and client-side):\n");
    for (k = 1; k <= ARMMAP_NO_HOST_MEMORY; k++)
        if (errs[k] != 0)
            printf("  %-26s %10" PRIu64 "\n",
                   armmap_strerror((enum armmap_status)k), errs[k]);
    printf("requests cut off by a restart: %" PRIu64 "\n", cut);
    printf("answered changes found in history: %" PRIu64 "\n", verified);
    printf("machines live at the end: %zu (replayed and compared)\n",
           machines);
    printf("rss: peak %ld KiB, final %ld KiB, %zu samples; database at "
           "the end %ld KiB\n", peak, final, nsamples, db_kib());
    fflush(stdout);
}

int main(int argc, char **argv)
{
    size_t machines;
    uint64_t verified;
    double run_s;
    long peak, final;
    char cmd[128];
    int opt, i;

    while ((opt = getopt(argc, argv, "d:t:c:r:s:k:")) != -1) {
        switch (opt) {
        case 'd': daemon_path = optarg; break;
        case 't': seconds = atoi(optarg); break;
        case 'c': nclients = atoi(optarg); break;
        case 'r': restart_s = atoi(optarg); break;
        case 's': seed = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'k': kills = atoi(optarg); break;
        default: usage();
        }
    }
    if (daemon_path == NULL || seconds < 1 || nclients < 1 ||
        nclients > MAX_CLIENTS || restart_s < 1 || kills < 0)
        usage();
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof(dir), "/tmp/armmap-soak.XXXXXX");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp: %s", strerror(errno));
    snprintf(sock, sizeof(sock), "%s/armmapd.sock", dir);
    snprintf(logpath, sizeof(logpath), "%s/stderr.log", dir);
    snprintf(dbpath, sizeof(dbpath), "%s/armmapd.db", dir);
    snprintf(walpath, sizeof(walpath), "%s-wal", dbpath);
    start_daemon();
    run(&run_s);
    final = proc_rss_kib(daemon_pid);
    final_checks(&machines, &verified);
    stop_daemon();
    check_memory(run_s, &peak);
    print_figures(run_s, machines, verified, peak, final);
    check_log();
    if (nfailures > 0) {
        for (i = 0; i < nfailures && i < MAX_FAILURES; i++)
            fprintf(stderr, "soak: FAILED: %s\n", failures[i]);
        fprintf(stderr, "soak: %d failures; state and log kept in %s\n",
                nfailures, dir);
        return 1;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "soak: could not remove %s\n", dir);
    printf("soak: OK\n");
    return 0;
}
