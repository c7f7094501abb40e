/* tests/bench/bench_daemon.c - requests per second through armmapd.
 *
 * Starts the real armmapd (next to this binary, found through
 * /proc/self/exe) on a mkdtemp() state directory, with its Unix socket
 * there and a TCP listener on 127.0.0.1 port 0; the port the kernel chose
 * is read from the daemon's "listening on tcp 127.0.0.1:PORT" log line
 * (--log-level=info, stderr to a file in the state directory).  The
 * store runs with the daemon's default durability, normal.  One aries
 * machine is booted, with 16 HighMem pages allocated for kmap.
 *
 * Figures, one line each, through the real libarmmap:
 *  - round trips per second on one connection, one request at a time:
 *    ping, and kmap+kunmap pairs (two round trips each, pairs/s);
 *  - pipelined requests per second on one connection, 64 in flight
 *    (armmap_send_*() / armmap_recv() as a sliding window): ping and a
 *    one-address translate over the Unix socket and over TCP loopback,
 *    and mapping operations (kmap and kunmap alternating over the 16
 *    pages, so the pkmap window never fills), each one applied, logged and
 *    committed by the store before its reply;
 *  - addresses translated per second in batches of 4,096
 *    (armmap_translate_stream()), Unix socket and TCP loopback;
 *  - for diagnosis, the pipelined ping, translate and kmap/kunmap again
 *    in raw frames (the proto code packed into libarmmap, without the
 *    library's connection code), 64 in flight as two bursts of 32 frames
 *    with one send() per burst, as redis-benchmark -P writes them.
 *    libarmmap's armmap_send_*() write each request with its own send(), so
 *    the library figures include one system call per request on our side
 *    and few requests per read on the daemon's; the raw figures show what
 *    the daemon does when requests arrive coalesced;
 *  - raw frames on 2 and on 50 connections at once, each with 64 in
 *    flight, driven by one poll() loop as redis-benchmark -c N drives its
 *    clients (replies checked by their status code, read by hand);
 *  - the pipelined kmap/kunmap again on a second daemon started with
 *    --database :memory: (SQLite's memdb), and the difference per change,
 *    in wall-clock and in armmapd CPU microseconds: what the file store
 *    (WAL writes, checkpoints) costs;
 *  - fairness: ping latency (p50, p99, max) on one connection, one ping
 *    at a time from a child process, while another connection runs in
 *    turn a 1M-address phys, a 1M-address translate with walks, a
 *    10,000-row history, a dump, a fork at the end of a machine of
 *    200,000 events and a purge of another such machine; and idle, for
 *    comparison.  Target (the issue): p99 under 2 ms.
 * Under each pipelined figure: armmapd's CPU (all threads, /proc/PID/stat)
 * and this process's per request, which other jobs on a shared machine
 * disturb much less than the rates; next to it, for the figures compared
 * with redis, redis-server's CPU per GET in the matching reference run.
 *
 * Targets (the issue): pipelined reads (ping, one-address translate) at
 * least as many per second as redis-benchmark's GET at depth 64 on this
 * machine in this run, over the same kind of socket and with as many
 * connections (-c 1 for the one-connection figures, -c 2, and the
 * issue's own command with redis-benchmark's default 50 clients for the
 * 50-connection ones); pipelined mapping operations >= 200,000/s; batch
 * translation >= 5,000,000 addresses/s.  Every line says whether its
 * target is met.  The redis figures come from running the script named by
 * -r (tests/bench/redis_ref.sh) before the daemon starts, so the two never
 * compete for the CPUs; its lines "redis_get_p64_unix N",
 * "redis_get_p64_tcp N" (-c 50), "redis_get_p64_c1_unix N",
 * "redis_get_p64_c1_tcp N" (-c 1) and "redis_get_p64_c2_unix N" (-c 2)
 * are parsed, and the "redis_cpu_p64_..." line after each (redis-server's
 * CPU microseconds per GET).  Without -r, or if the script fails, the
 * read targets say "no reference".
 *
 * Every measurement runs a fixed number of operations and also stops
 * issuing new ones after MEASURE_S seconds, so the whole bench stays well
 * under a minute on a slow machine.  A failed request aborts the bench
 * (exit 1); a missed target does not (exit 0), so `make bench` goes on.
 *
 * Usage: bench_daemon [-r REDIS_REF_SCRIPT] [-o FIGURE]
 * FIGURE selects figures by a part of their names: rtt-ping, rtt-kmap,
 * pipe-ping-unix, pipe-translate-unix, pipe-ping-tcp, pipe-translate-tcp,
 * pipe-kmap (with the :memory: comparison), raw-ping, raw-translate,
 * raw-kmap, multi-ping-2, multi-translate-2, multi-ping-50,
 * multi-translate-50, batch-unix, batch-tcp, fairness (e.g. -o pipe-kmap while perf
 * records armmapd).
 */
#include "armmap.h"
#include "armmap.pb-c.h"
#include "../common/proc.h"
#include "../common/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MEASURE_S     2.0      /* stop issuing requests after this long */
#define DEPTH         64       /* pipelined requests in flight */
#define N_RTT         100000u  /* single round trips (ping) */
#define N_RTT_PAIRS   30000u   /* single kmap+kunmap pairs */
#define N_PIPE        2000000u /* pipelined requests per figure */
#define N_BATCH_ADDR  20000000u
#define BATCH         4096u
#define N_PAGES       16u      /* HighMem pages kmapped in turn */

#define TARGET_MAP_OPS  200000.0
#define TARGET_ADDRS    5000000.0

struct bench {
    char dir[64];
    char sock[128];
    char log[128];
    char bindir[PATH_MAX - 32];
    char tcp[32];         /* "127.0.0.1:PORT" */
    pid_t pid;
    uint64_t machine;
    uint32_t pfn[N_PAGES];
    uint32_t va_one;      /* the address the one-address translate asks */
    double redis_unix;    /* 0: not measured */
    double redis_tcp;
    double redis_c1_unix; /* redis-benchmark -c 1: one connection too */
    double redis_c1_tcp;
    double redis_c2_unix; /* -c 2 */
    /* redis-server's CPU microseconds per GET in those runs */
    double cpu_unix, cpu_tcp, cpu_c1_unix, cpu_c1_tcp, cpu_c2_unix;
    const char *database; /* --database for the daemon; NULL: default */
};

static struct bench g;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stop_daemon(void)
{
    if (g.pid > 0) {
        kill(g.pid, SIGTERM);
        waitpid(g.pid, NULL, 0);
        g.pid = 0;
    }
}

static void cleanup(void)
{
    char cmd[128];

    stop_daemon();
    if (g.dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_daemon: could not remove %s\n", g.dir);
        g.dir[0] = '\0';
    }
}

/* Prints "bench_daemon: " and the message, cleans up, exits 1. */
static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "bench_daemon: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    cleanup();
    exit(1);
}

/* ---- the redis reference --------------------------------------------- */

static void run_redis_ref(const char *script)
{
    char cmd[PATH_MAX + 16], line[256];
    FILE *p;
    double v;

    snprintf(cmd, sizeof(cmd), "sh '%s'", script);
    p = popen(cmd, "r");
    if (!p) {
        fprintf(stderr, "bench_daemon: cannot run %s\n", script);
        return;
    }
    while (fgets(line, sizeof(line), p)) {
        if (sscanf(line, "redis_get_p64_c1_unix %lf", &v) == 1)
            g.redis_c1_unix = v;
        else if (sscanf(line, "redis_get_p64_c1_tcp %lf", &v) == 1)
            g.redis_c1_tcp = v;
        else if (sscanf(line, "redis_get_p64_c2_unix %lf", &v) == 1)
            g.redis_c2_unix = v;
        else if (sscanf(line, "redis_cpu_p64_c1_unix %lf", &v) == 1)
            g.cpu_c1_unix = v;
        else if (sscanf(line, "redis_cpu_p64_c1_tcp %lf", &v) == 1)
            g.cpu_c1_tcp = v;
        else if (sscanf(line, "redis_cpu_p64_c2_unix %lf", &v) == 1)
            g.cpu_c2_unix = v;
        else if (sscanf(line, "redis_cpu_p64_unix %lf", &v) == 1)
            g.cpu_unix = v;
        else if (sscanf(line, "redis_cpu_p64_tcp %lf", &v) == 1)
            g.cpu_tcp = v;
        else if (sscanf(line, "redis_get_p64_unix %lf", &v) == 1)
            g.redis_unix = v;
        else if (sscanf(line, "redis_get_p64_tcp %lf", &v) == 1)
            g.redis_tcp = v;
    }
    if (pclose(p) != 0)
        fprintf(stderr, "bench_daemon: %s failed; no redis reference\n",
                script);
}

/* ---- the daemon -------------------------------------------------------- */

/* 0 once armmapd accepts on @path, else -1. */
static int try_connect(const char *path)
{
    int fd = spawn_unix_connect(path);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* The TCP listener starts before the Unix one, so once the Unix socket
 * answers the log already names the port. */
static void read_tcp_port(void)
{
    static const char key[] = "listening on tcp 127.0.0.1:";
    char buf[8192];
    ssize_t n;
    char *p;
    int fd = open(g.log, O_RDONLY);

    if (fd < 0)
        die("cannot read %s", g.log);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    p = strstr(buf, key);
    if (!p || atoi(p + strlen(key)) <= 0)
        die("armmapd did not log its TCP port: %s", buf);
    snprintf(g.tcp, sizeof(g.tcp), "127.0.0.1:%d", atoi(p + strlen(key)));
}

static void start_daemon(void)
{
    char bin[PATH_MAX], sd[96], db[64];
    int i, status;

    snprintf(bin, sizeof(bin), "%s/armmapd", g.bindir);
    snprintf(sd, sizeof(sd), "--state-dir=%s", g.dir);
    g.pid = fork();
    if (g.pid < 0)
        die("fork failed: %s", strerror(errno));
    if (g.pid == 0) {
        int fd = open(g.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        /* stdout too: a pipe reading our output must not wait for it */
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        snprintf(db, sizeof(db), "--database=%s",
                 g.database ? g.database : "");
        if (g.database)
            execl(bin, bin, sd, "--listen=127.0.0.1:0", "--log-level=info",
                  db, (char *)NULL);
        else
            execl(bin, bin, sd, "--listen=127.0.0.1:0", "--log-level=info",
                  (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 500; i++) {
        if (try_connect(g.sock) == 0) {
            read_tcp_port();
            return;
        }
        if (waitpid(g.pid, &status, WNOHANG) == g.pid) {
            g.pid = 0;
            die("armmapd (%s) exited at start", bin);
        }
        usleep(10000);
    }
    die("armmapd did not open %s in 5 s", g.sock);
}

static struct armmap_conn *connect_unix(void)
{
    struct armmap_options opt;
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX];

    memset(&opt, 0, sizeof(opt));
    opt.max_inflight = DEPTH;
    if (armmap_connect_unix(g.sock, opt, &c, err) != ARMMAP_OK)
        die("connect %s: %s", g.sock, err);
    return c;
}

static struct armmap_conn *connect_tcp(void)
{
    struct armmap_options opt;
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX];

    memset(&opt, 0, sizeof(opt));
    opt.max_inflight = DEPTH;
    if (armmap_connect_tcp(g.tcp, opt, &c, err) != ARMMAP_OK)
        die("connect %s: %s", g.tcp, err);
    return c;
}

/* Boots the machine and allocates the pages the kmap figures use. */
static void setup_machine(struct armmap_conn *c)
{
    struct armmap_machine *m;
    struct armmap_op_result r;
    unsigned i;

    if (armmap_create(c, "aries", NULL, 0, "bench", &m) != ARMMAP_OK)
        die("create aries: %s", armmap_errmsg(c));
    g.machine = m->id;
    armmap_machine_free(m);
    for (i = 0; i < N_PAGES; i++) {
        if (armmap_alloc(c, g.machine, ARMMAP_ZONE_HIGHMEM, 0, &r) !=
            ARMMAP_OK)
            die("alloc highmem: %s", armmap_errmsg(c));
        g.pfn[i] = r.value;
    }
    /* A kmapped page: its translation walks the pkmap page table. */
    if (armmap_kmap(c, g.machine, g.pfn[0], 0, &r) != ARMMAP_OK)
        die("kmap: %s", armmap_errmsg(c));
    g.va_one = r.value + 0x123;
    if (armmap_kunmap(c, g.machine, g.pfn[0], &r) != ARMMAP_OK)
        die("kunmap: %s", armmap_errmsg(c));
}

/* ---- CPU accounting ---------------------------------------------------- */

/* CPU spent by the daemon and by this process (the clients) between
 * cpu_begin() and cpu_end(), per request: a figure that the other load on
 * a shared machine disturbs far less than the rate. */
struct cpu_mark {
    double daemon, self;
};

static struct cpu_mark cpu_now(void)
{
    struct cpu_mark m;

    m.daemon = proc_cpu_s(g.pid);
    m.self = proc_cpu_s(getpid());
    return m;
}

static struct cpu_mark last_cpu;        /* of the last measured figure */
static double last_n;                   /* its requests */

static void cpu_begin(void)
{
    last_cpu = cpu_now();
}

static void cpu_end(double n)
{
    struct cpu_mark m = cpu_now();

    last_cpu.daemon = m.daemon - last_cpu.daemon;
    last_cpu.self = m.self - last_cpu.self;
    last_n = n;
}

/* ---- printing ---------------------------------------------------------- */

static void line_plain(const char *what, double rate, const char *unit)
{
    printf("%-44s %12.0f %-8s\n", what, rate, unit);
    fflush(stdout);
}

static void line_redis(const char *what, double rate, double cpu)
{
    printf("%-44s %12.0f req/s    redis-server %.2f us CPU/req\n", what,
           rate, cpu);
    fflush(stdout);
}

/* The redis-server CPU per GET of the run a figure is compared with, for
 * the CPU line under it; 0: none. */
static double ref_cpu;

static void line_target(const char *what, double rate, const char *unit,
                        double target, const char *tname)
{
    if (target <= 0) {
        printf("%-44s %12.0f %-8s target: %s: no reference\n", what, rate,
               unit, tname);
    } else {
        printf("%-44s %12.0f %-8s target >= %.0f (%s): %s\n", what, rate,
               unit, target, tname, rate >= target ? "met" : "MISSED");
    }
    if (last_n > 0 && ref_cpu > 0)
        printf("%-44s %12.2f us CPU/req in armmapd (redis-server %.2f), "
               "%.2f in the client\n", "", last_cpu.daemon * 1e6 / last_n,
               ref_cpu, last_cpu.self * 1e6 / last_n);
    else if (last_n > 0)
        printf("%-44s %12.2f us CPU/req in armmapd, %.2f in the client\n",
               "", last_cpu.daemon * 1e6 / last_n,
               last_cpu.self * 1e6 / last_n);
    last_n = 0;
    ref_cpu = 0;
    fflush(stdout);
}

/* ---- single round trips ------------------------------------------------ */

static double rtt_ping(struct armmap_conn *c)
{
    double t0 = now_s(), t;
    unsigned i;

    for (i = 0; i < N_RTT; i++) {
        if (armmap_ping(c) != ARMMAP_OK)
            die("ping: %s", armmap_errmsg(c));
        if ((i & 1023) == 0 && i > 0 && now_s() - t0 > MEASURE_S)
            break;
    }
    t = now_s() - t0;
    return i / t;
}

static double rtt_kmap_pairs(struct armmap_conn *c)
{
    struct armmap_op_result r;
    double t0 = now_s(), t;
    unsigned i;

    for (i = 0; i < N_RTT_PAIRS; i++) {
        uint32_t pfn = g.pfn[i % N_PAGES];

        if (armmap_kmap(c, g.machine, pfn, 0, &r) != ARMMAP_OK)
            die("kmap 0x%x: %s", pfn, armmap_errmsg(c));
        if (armmap_kunmap(c, g.machine, pfn, &r) != ARMMAP_OK)
            die("kunmap 0x%x: %s", pfn, armmap_errmsg(c));
        if ((i & 255) == 0 && i > 0 && now_s() - t0 > MEASURE_S)
            break;
    }
    t = now_s() - t0;
    return i / t;
}

/* ---- pipelining -------------------------------------------------------- */

enum pipe_kind { PIPE_PING, PIPE_TRANSLATE1, PIPE_KMAP };

static enum armmap_status pipe_send(struct armmap_conn *c, enum pipe_kind k,
                                    uint64_t i)
{
    struct armmap_op op;
    uint32_t pfn;
    uint64_t id;

    switch (k) {
    case PIPE_PING:
        return armmap_send_ping(c, &id);
    case PIPE_TRANSLATE1:
        return armmap_send_translate(c, g.machine, &g.va_one, 1, 0, &id);
    case PIPE_KMAP:
        /* kmap, kunmap of the same page, then the next page */
        pfn = g.pfn[(i / 2) % N_PAGES];
        memset(&op, 0, sizeof(op));
        op.code = (i & 1) ? ARMMAP_OP_KUNMAP : ARMMAP_OP_KMAP;
        op.nargs = 1;
        op.args = &pfn;
        return armmap_send_op(c, g.machine, &op, &id);
    }
    return ARMMAP_INVALID_ARGUMENT;
}

static void pipe_check(struct armmap_conn *c, enum pipe_kind k,
                       const struct armmap_reply *r)
{
    if (r->status != ARMMAP_OK)
        die("pipelined request %llu: %s: %s", (unsigned long long)r->id,
            armmap_strerror(r->status), r->msg);
    switch (k) {
    case PIPE_PING:
        if (r->kind != ARMMAP_REPLY_PONG)
            die("ping: reply kind %d", (int)r->kind);
        break;
    case PIPE_TRANSLATE1:
        if (r->kind != ARMMAP_REPLY_TRANSLATE || !r->translate ||
            r->translate->n != 1 || r->translate->fault[0] != 0)
            die("translate 0x%x: bad reply", g.va_one);
        break;
    case PIPE_KMAP:
        if (r->kind != ARMMAP_REPLY_OP || r->op.seq == 0)
            die("kmap/kunmap: bad reply (%s)", armmap_errmsg(c));
        break;
    }
}

/* Keeps DEPTH requests in flight: one sent for each reply taken. */
static double pipelined(struct armmap_conn *c, enum pipe_kind k, uint64_t n)
{
    struct armmap_reply *r;
    uint64_t sent = 0, got = 0;
    double t0 = now_s(), t;
    bool stop = false;

    cpu_begin();
    while (sent < n && sent < DEPTH) {
        if (pipe_send(c, k, sent) != ARMMAP_OK)
            die("send: %s", armmap_errmsg(c));
        sent++;
    }
    while (got < sent) {
        if (armmap_recv(c, &r) != ARMMAP_OK)
            die("recv: %s", armmap_errmsg(c));
        pipe_check(c, k, r);
        armmap_reply_free(r);
        got++;
        if ((got & 4095) == 0 && now_s() - t0 > MEASURE_S)
            stop = true;
        /* kmap/kunmap go in pairs, so stop only after a kunmap */
        if (sent < n && !(stop && (sent & 1) == 0)) {
            if (pipe_send(c, k, sent) != ARMMAP_OK)
                die("send: %s", armmap_errmsg(c));
            sent++;
        }
    }
    t = now_s() - t0;
    cpu_end((double)got);
    return got / t;
}

/* ---- raw frames: what the daemon does with coalesced requests ---------- */

/* Raw frames, 64 in flight as two bursts of 32, one send() per burst (see
 * the file comment): the daemon's own speed with coalesced requests. */
#define RAW_BURST 32u

struct raw {
    int fd;
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint64_t next_id;
};

static void raw_write_all(struct raw *r, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(r->fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("raw send: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* Appends one frame for @req to @buf (room checked by the caller). */
static size_t raw_frame(Armmap__V1__Request *req, uint8_t *buf)
{
    size_t len = armmap__v1__request__pack(req, buf + 4);

    buf[0] = (uint8_t)(len >> 24);
    buf[1] = (uint8_t)(len >> 16);
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    return 4 + len;
}

/* The status code of a packed Response, read by hand (field 2, its field
 * 1): checking every reply through protobuf-c's generic decoder would make
 * the bench's own CPU the limit of the multi-connection figures.  -1 if the
 * bytes do not parse. */
static long reply_code(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;

    while (p < end) {
        uint64_t key = 0, v = 0;
        unsigned sh;

        for (sh = 0; p < end; sh += 7) {
            key |= (uint64_t)(*p & 0x7f) << sh;
            if (!(*p++ & 0x80))
                break;
        }
        if ((key & 7) == 0) {           /* varint */
            while (p < end && (*p++ & 0x80))
                ;
            continue;
        }
        if ((key & 7) == 5) {           /* fixed32 */
            p += 4;
            continue;
        }
        if ((key & 7) == 1) {           /* fixed64 */
            p += 8;
            continue;
        }
        if ((key & 7) != 2)
            return -1;
        for (sh = 0; p < end; sh += 7) {
            v |= (uint64_t)(*p & 0x7f) << sh;
            if (!(*p++ & 0x80))
                break;
        }
        if (v > (uint64_t)(end - p))
            return -1;
        if (key >> 3 == 2) {            /* Status: its code is field 1 */
            const uint8_t *q = p, *qe = p + v;

            while (q < qe) {
                uint8_t k = *q++;
                uint64_t x = 0;

                for (sh = 0; q < qe; sh += 7) {
                    x |= (uint64_t)(*q & 0x7f) << sh;
                    if (!(*q++ & 0x80))
                        break;
                }
                if (k == (1 << 3))
                    return (long)x;
                if ((k & 7) != 2)
                    return -1;
                q += x;                 /* the message string */
            }
            return 0;
        }
        p += v;
    }
    return 0;                           /* no status: OK */
}

/* Dies with the reply's message unless the frame at @p (@len bytes) is OK. */
static void raw_check(const uint8_t *p, size_t len)
{
    Armmap__V1__Response *resp;

    if (reply_code(p, len) == 0)
        return;
    resp = armmap__v1__response__unpack(NULL, len, p);
    die("raw reply: %s", resp && resp->status && resp->status->message
                             ? resp->status->message
                             : "malformed");
}

/* Drops the first @off bytes of the read buffer. */
static void raw_consume(struct raw *r, size_t off)
{
    if (off == 0)
        return;
    memmove(r->rbuf, r->rbuf + off, r->rlen - off);
    r->rlen -= off;
}

/* Reads until @want whole frames arrived; checks each is OK. */
static void raw_read_replies(struct raw *r, unsigned want)
{
    size_t off = 0;

    while (want > 0) {
        uint32_t len;
        ssize_t n;

        while (r->rlen - off >= 4 && want > 0) {
            const uint8_t *p = r->rbuf + off;

            len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                  (uint32_t)p[2] << 8 | p[3];
            if (r->rlen - off - 4 < len)
                break;
            raw_check(p + 4, len);
            off += 4 + len;
            want--;
        }
        if (want == 0)
            break;
        raw_consume(r, off);
        off = 0;
        if (r->rcap - r->rlen < 65536) {
            r->rcap = r->rcap * 2 + 65536;
            r->rbuf = realloc(r->rbuf, r->rcap);
            if (!r->rbuf)
                die("out of memory");
        }
        n = recv(r->fd, r->rbuf + r->rlen, r->rcap - r->rlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("raw recv: %s", n == 0 ? "armmapd hung up" : strerror(errno));
        r->rlen += (size_t)n;
    }
    raw_consume(r, off);
}

static void raw_connect(struct raw *r)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello hello = ARMMAP__V1__HELLO__INIT;
    struct sockaddr_un sa;
    uint8_t buf[256];

    memset(r, 0, sizeof(*r));
    r->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", g.sock);
    if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("raw connect: %s", strerror(errno));
    hello.protocol = 1;
    hello.tenant = (char *)ARMMAP_DEFAULT_TENANT;
    req.id = ++r->next_id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &hello;
    raw_write_all(r, buf, raw_frame(&req, buf));
    raw_read_replies(r, 1);
}

/* Packs burst @b (RAW_BURST requests of kind @k) into @buf. */
static size_t raw_burst(struct raw *r, enum pipe_kind k, uint64_t b,
                        uint8_t *buf)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping ping = ARMMAP__V1__PING__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Translate tr = ARMMAP__V1__TRANSLATE__INIT;
    size_t len = 0;
    uint32_t pfn;
    unsigned i;

    for (i = 0; i < RAW_BURST; i++) {
        uint64_t n = b * RAW_BURST + i;

        req.id = ++r->next_id;
        switch (k) {
        case PIPE_PING:
            req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
            req.ping = &ping;
            break;
        case PIPE_TRANSLATE1:
            tr.machine = g.machine;
            tr.n_va = 1;
            tr.va = &g.va_one;
            req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
            req.translate = &tr;
            break;
        case PIPE_KMAP:
            pfn = g.pfn[(n / 2) % N_PAGES];
            op.machine = g.machine;
            op.code = (n & 1) ? ARMMAP__V1__OP_CODE__OP_KUNMAP
                              : ARMMAP__V1__OP_CODE__OP_KMAP;
            op.n_args = 1;
            op.args = &pfn;
            req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
            req.op = &op;
            break;
        }
        len += raw_frame(&req, buf + len);
    }
    return len;
}

static double raw_pipelined(enum pipe_kind k, uint64_t n)
{
    uint8_t buf[RAW_BURST * 64];
    uint64_t sent = 0, got = 0, nb = n / RAW_BURST;
    double t0, t;
    struct raw r;

    raw_connect(&r);
    cpu_begin();
    t0 = now_s();
    /* two bursts in flight: DEPTH requests */
    while (sent < 2 && sent < nb) {
        raw_write_all(&r, buf, raw_burst(&r, k, sent, buf));
        sent++;
    }
    while (got < sent) {
        raw_read_replies(&r, RAW_BURST);
        got++;
        if (sent < nb && now_s() - t0 < MEASURE_S) {
            raw_write_all(&r, buf, raw_burst(&r, k, sent, buf));
            sent++;
        }
    }
    t = now_s() - t0;
    cpu_end((double)(got * RAW_BURST));
    close(r.fd);
    free(r.rbuf);
    return (double)(got * RAW_BURST) / t;
}

/* Raw frames on @nconn connections at once, each with two bursts of 32 in
 * flight, driven by one poll() loop as redis-benchmark drives its clients
 * (-c N -P 64): the daemon's figure for many pipelining clients. */
static double raw_multi(enum pipe_kind k, unsigned nconn, uint64_t n)
{
    uint8_t buf[RAW_BURST * 64];
    struct raw *r = calloc(nconn, sizeof(*r));
    struct pollfd *pf = calloc(nconn, sizeof(*pf));
    unsigned *inflight = calloc(nconn, sizeof(*inflight)); /* replies owed */
    uint64_t sent = 0, got = 0, nb = n / RAW_BURST, busy = 0;
    double t0, t;
    unsigned i;

    if (!r || !pf || !inflight)
        die("out of memory");
    for (i = 0; i < nconn; i++) {
        raw_connect(&r[i]);
        pf[i].fd = r[i].fd;
        pf[i].events = POLLIN;
    }
    cpu_begin();
    t0 = now_s();
    for (i = 0; i < nconn; i++) {
        while (inflight[i] < 2 * RAW_BURST && sent < nb) {
            raw_write_all(&r[i], buf, raw_burst(&r[i], k, sent, buf));
            sent++;
            inflight[i] += RAW_BURST;
        }
        busy += inflight[i] > 0;
    }
    while (busy > 0) {
        if (poll(pf, nconn, 10000) <= 0)
            die("raw multi: no reply in 10 s");
        for (i = 0; i < nconn; i++) {
            struct raw *c = &r[i];
            size_t off = 0;
            ssize_t m;
            unsigned done = 0;

            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (c->rcap - c->rlen < 65536) {
                c->rcap = c->rcap * 2 + 65536;
                c->rbuf = realloc(c->rbuf, c->rcap);
                if (!c->rbuf)
                    die("out of memory");
            }
            m = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
            if (m <= 0)
                die("raw multi recv: %s",
                    m == 0 ? "armmapd hung up" : strerror(errno));
            c->rlen += (size_t)m;
            while (c->rlen - off >= 4) {
                const uint8_t *p = c->rbuf + off;
                uint32_t len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                               (uint32_t)p[2] << 8 | p[3];

                if (c->rlen - off - 4 < len)
                    break;
                raw_check(p + 4, len);
                off += 4 + len;
                done++;
            }
            raw_consume(c, off);
            got += done;
            inflight[i] -= done;
            /* a burst answered: send the next one */
            while (inflight[i] <= RAW_BURST && sent < nb &&
                   now_s() - t0 < MEASURE_S) {
                raw_write_all(c, buf, raw_burst(c, k, sent, buf));
                sent++;
                inflight[i] += RAW_BURST;
            }
            if (inflight[i] == 0) {
                pf[i].fd = -1;          /* done with this one */
                busy--;
            }
        }
    }
    t = now_s() - t0;
    cpu_end((double)got);
    for (i = 0; i < nconn; i++) {
        close(r[i].fd);
        free(r[i].rbuf);
    }
    free(r);
    free(pf);
    free(inflight);
    return (double)got / t;
}

/* ---- batch translation ------------------------------------------------- */

/* armmap_translate_stream() passes one argument to both callbacks. */
struct stream_state {
    uint64_t next, total; /* source */
    double deadline;
    uint64_t n, faults;   /* sink */
};

/* 70% lowmem, 10% the vectors page, 10% the kmapped page, 10% anywhere. */
static long stream_source(void *arg, uint32_t *va, size_t max)
{
    struct stream_state *s = arg;
    size_t n = 0;

    if (now_s() > s->deadline)
        return 0;
    while (n < max && s->next < s->total) {
        uint32_t h = (uint32_t)(s->next * 2654435761u);
        uint32_t x = (uint32_t)(s->next % 10);

        if (x < 7)
            va[n] = 0xc0000000u + h % 0x2f800000u;
        else if (x == 7)
            va[n] = 0xffff0000u + h % 0x1000u;
        else if (x == 8)
            va[n] = (g.va_one & ~0xfffu) + h % 0x1000u;
        else
            va[n] = h;
        n++;
        s->next++;
    }
    return (long)n;
}

static bool stream_sink(void *arg, const uint32_t *va, const uint32_t *pa,
                        const uint8_t *fault, const uint8_t *region, size_t n)
{
    struct stream_state *s = arg;
    size_t i;

    (void)va;
    (void)pa;
    (void)region;
    for (i = 0; i < n; i++)
        s->faults += fault[i] != 0;
    s->n += n;
    return true;
}

static double batch_translate(struct armmap_conn *c)
{
    struct stream_state s;
    double t0 = now_s(), t;
    enum armmap_status st;

    memset(&s, 0, sizeof(s));
    s.total = N_BATCH_ADDR;
    s.deadline = t0 + MEASURE_S;
    st = armmap_translate_stream(c, g.machine, 0, BATCH, stream_source,
                                 stream_sink, &s);
    t = now_s() - t0;
    if (st != ARMMAP_OK)
        die("translate stream: %s: %s", armmap_strerror(st),
            armmap_errmsg(c));
    if (s.n != s.next || s.faults == 0 || s.faults == s.n)
        die("translate stream: %llu results for %llu addresses, %llu faults",
            (unsigned long long)s.n, (unsigned long long)s.next,
            (unsigned long long)s.faults);
    return (double)s.n / t;
}

/* ---- fairness: pings beside a heavy neighbour ------------------------- */

/* A child process pings on its own connection, one at a time, until its
 * control pipe closes (or FAIR_MAX_S passes), and writes the latencies'
 * p50/p99/max and count back: the figure is what a neighbour's large
 * request costs everyone else. */
#define FAIR_MAX_PINGS  2000000u
#define FAIR_MAX_S      120.0
#define FAIR_EVENTS     200000u  /* events of the large machine */
#define FAIR_N          1048576u /* addresses of phys and translate */

struct fair_stats {
    double p50, p99, max; /* milliseconds */
    unsigned long n;
};

struct pinger {
    pid_t pid;
    int ctl;  /* closed by us: stop */
    int res;  /* struct fair_stats comes back here */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void pinger_child(int ctl, int res)
{
    struct armmap_conn *c = connect_unix();
    double *lat = malloc(FAIR_MAX_PINGS * sizeof(*lat));
    struct fair_stats fs;
    double t_end = now_s() + FAIR_MAX_S;
    unsigned long n = 0;
    struct pollfd pfd;
    char one = 1;

    if (lat == NULL)
        _exit(1);
    if (armmap_ping(c) != ARMMAP_OK)
        _exit(1);
    if (write(res, &one, 1) != 1)       /* ready */
        _exit(1);
    pfd.fd = ctl;
    pfd.events = POLLIN;
    while (n < FAIR_MAX_PINGS && now_s() < t_end) {
        double t0;

        pfd.revents = 0;
        if (poll(&pfd, 1, 0) > 0)
            break;                       /* EOF: the neighbour is done */
        t0 = now_s();
        if (armmap_ping(c) != ARMMAP_OK)
            _exit(1);
        lat[n++] = (now_s() - t0) * 1e3;
    }
    memset(&fs, 0, sizeof(fs));
    if (n > 0) {
        qsort(lat, n, sizeof(*lat), cmp_double);
        fs.p50 = lat[n / 2];
        fs.p99 = lat[n * 99 / 100];
        fs.max = lat[n - 1];
    }
    fs.n = n;
    if (write(res, &fs, sizeof(fs)) != (ssize_t)sizeof(fs))
        _exit(1);
    armmap_close(c);
    _exit(0);
}

/* Starts the pinger and returns once its first ping was answered. */
static void pinger_start(struct pinger *p)
{
    int ctl[2], res[2];
    char one;

    if (pipe(ctl) != 0 || pipe(res) != 0)
        die("pipe: %s", strerror(errno));
    fflush(stdout);
    p->pid = fork();
    if (p->pid < 0)
        die("fork failed: %s", strerror(errno));
    if (p->pid == 0) {
        close(ctl[1]);
        close(res[0]);
        pinger_child(ctl[0], res[1]);
    }
    close(ctl[0]);
    close(res[1]);
    p->ctl = ctl[1];
    p->res = res[0];
    if (read(p->res, &one, 1) != 1)
        die("the pinger failed to start");
}

static struct fair_stats pinger_stop(struct pinger *p)
{
    struct fair_stats fs;
    int status;

    close(p->ctl);
    if (read(p->res, &fs, sizeof(fs)) != (ssize_t)sizeof(fs))
        die("the pinger failed");
    close(p->res);
    waitpid(p->pid, &status, 0);
    return fs;
}

static void fair_line(const char *what, double neighbour_s, const char *note,
                      struct fair_stats fs)
{
    printf("%-44s ping p50 %6.3f p99 %7.3f max %8.3f ms (%lu pings; "
           "neighbour %.2f s%s%s) [target p99 < 2 ms: %s]\n", what, fs.p50,
           fs.p99, fs.max, fs.n, neighbour_s, note[0] ? ", " : "", note,
           fs.p99 < 2.0 ? "met" : "NOT met");
}

/* A connection that accepts the largest replies (a 1M-walk translate). */
static struct armmap_conn *connect_big(void)
{
    struct armmap_options opt;
    struct armmap_conn *c;
    char err[ARMMAP_ERR_MAX];

    memset(&opt, 0, sizeof(opt));
    opt.max_frame = 1u << 30;
    if (armmap_connect_unix(g.sock, opt, &c, err) != ARMMAP_OK)
        die("connect %s: %s", g.sock, err);
    return c;
}

/* A machine of FAIR_EVENTS events: kmap/kunmap pairs over N_PAGES pages,
 * applied in batches of 4,096. */
static uint64_t fair_big_machine(struct armmap_conn *c, const char *name)
{
    static struct armmap_op_result res[4096];
    static struct armmap_op ops[4096];
    static uint32_t pfn[N_PAGES];
    struct armmap_machine *m;
    struct armmap_op_result r;
    uint64_t id, done = 0;
    size_t i, nres;

    if (armmap_create(c, "aries", NULL, 0, name, &m) != ARMMAP_OK)
        die("create aries: %s", armmap_errmsg(c));
    id = m->id;
    armmap_machine_free(m);
    for (i = 0; i < N_PAGES; i++) {
        if (armmap_alloc(c, id, ARMMAP_ZONE_HIGHMEM, 0, &r) != ARMMAP_OK)
            die("alloc highmem: %s", armmap_errmsg(c));
        pfn[i] = r.value;
    }
    for (i = 0; i < 4096; i++) {
        ops[i].code = i % 2 == 0 ? ARMMAP_OP_KMAP : ARMMAP_OP_KUNMAP;
        ops[i].nargs = 1;
        ops[i].args = &pfn[(i / 2) % N_PAGES];
    }
    while (done < FAIR_EVENTS) {
        if (armmap_batch(c, id, ops, 4096, true, res, &nres) != ARMMAP_OK ||
            nres != 4096)
            die("batch: %s", armmap_errmsg(c));
        done += 4096;
    }
    return id;
}

/* Runs @step on @c while the pinger pings; prints the figure. */
#define FAIR_STEP(what, stmt)                                              \
    do {                                                                   \
        struct pinger p_;                                                  \
        double t0_;                                                        \
        note[0] = '\0';                                                    \
        pinger_start(&p_);                                                 \
        t0_ = now_s();                                                     \
        stmt;                                                              \
        t0_ = now_s() - t0_;                                               \
        fair_line(what, t0_, note, pinger_stop(&p_));                      \
    } while (0)

static void fair_status(char *note, size_t size, struct armmap_conn *c,
                        enum armmap_status st)
{
    if (st != ARMMAP_OK)
        snprintf(note, size, "answered code %d: %.100s", (int)st,
                 armmap_errmsg(c));
}

static void fairness(void)
{
    struct armmap_conn *c = connect_big();
    uint32_t *addr = malloc(FAIR_N * sizeof(*addr));
    struct armmap_translate_result *tr = NULL;
    struct armmap_phys_result *pr = NULL;
    struct armmap_history_query q;
    struct armmap_history *h = NULL;
    struct armmap_machine *fm = NULL;
    uint64_t big, victim, seq, pm = 0, pe = 0;
    uint8_t *elf = NULL;
    size_t elf_len = 0, i;
    char note[160];
    double t0;

    if (addr == NULL)
        die("out of memory");
    printf("fairness: one connection pings while another runs each "
           "request; the large machine has %u events (the issue's "
           "2,000,000 take too long to build here)\n", FAIR_EVENTS);
    t0 = now_s();
    big = fair_big_machine(c, "fair-big");
    victim = fair_big_machine(c, "fair-purged");
    printf("%-44s %.2f s\n", "(building the two large machines)",
           now_s() - t0);
    FAIR_STEP("idle (no neighbour, 0.5 s)", usleep(500000));
    /* Physical addresses of lowmem, as translate finds them. */
    for (i = 0; i < FAIR_N; i++)
        addr[i] = 0xc0000000u + (uint32_t)(i % 16384) * 4096u;
    if (armmap_translate(c, g.machine, addr, 16384, 0, false, &tr) !=
        ARMMAP_OK)
        die("translate: %s", armmap_errmsg(c));
    for (i = 0; i < FAIR_N; i++)
        addr[i] = tr->pa[i % 16384] + (uint32_t)(i % 4096);
    armmap_translate_result_free(tr);
    tr = NULL;
    FAIR_STEP("beside a 1M-address phys",
              fair_status(note, sizeof(note), c,
                          armmap_phys(c, g.machine, addr, FAIR_N, &pr)));
    armmap_phys_result_free(pr);
    for (i = 0; i < FAIR_N; i++)
        addr[i] = 0xc0000000u + (uint32_t)(i % 16384) * 4096u + 0x10;
    FAIR_STEP("beside a 1M-address translate with walks",
              fair_status(note, sizeof(note), c,
                          armmap_translate(c, g.machine, addr, FAIR_N, 0,
                                           true, &tr)));
    armmap_translate_result_free(tr);
    memset(&q, 0, sizeof(q));
    q.limit = 10000;
    FAIR_STEP("beside a 10,000-row history",
              fair_status(note, sizeof(note), c,
                          armmap_history(c, big, &q, &h)));
    if (h != NULL && h->n != 10000)
        die("history: %zu rows, not 10000", h->n);
    armmap_history_free(h);
    FAIR_STEP("beside a dump",
              fair_status(note, sizeof(note), c,
                          armmap_dump(c, big, &elf, &elf_len)));
    armmap_free(elf);
    /* At the last seq but one: a replay of every event (at the last seq
     * itself the fork is a clone of the live machine). */
    if (armmap_describe(c, big, &fm) != ARMMAP_OK)
        die("describe: %s", armmap_errmsg(c));
    seq = fm->seq;
    armmap_machine_free(fm);
    fm = NULL;
    FAIR_STEP("beside a fork replaying 200,000 events",
              fair_status(note, sizeof(note), c,
                          armmap_fork(c, big, seq - 1, "f", &fm)));
    armmap_machine_free(fm);
    if (armmap_destroy(c, victim) != ARMMAP_OK)
        die("destroy: %s", armmap_errmsg(c));
    FAIR_STEP("beside a purge of 200,000 events",
              fair_status(note, sizeof(note), c,
                          armmap_purge(c, 0, &pm, &pe)));
    free(addr);
    armmap_close(c);
}

/* ---- main -------------------------------------------------------------- */

static void find_bindir(void)
{
    char self[PATH_MAX - 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (n <= 0)
        die("readlink /proc/self/exe failed");
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (!slash)
        die("odd /proc/self/exe: %s", self);
    *slash = '\0';
    snprintf(g.bindir, sizeof(g.bindir), "%s", self);
}

/* -o FIGURE: run only the figures whose name contains FIGURE (to profile
 * one with perf). */
static bool want(const char *only, const char *name)
{
    return only == NULL || strstr(name, only) != NULL;
}

int main(int argc, char **argv)
{
    struct armmap_conn *cu, *ct;
    const char *redis_script = NULL, *only = NULL;
    double kmap_file = 0, kmap_file_cpu = 0;
    int opt;

    while ((opt = getopt(argc, argv, "r:o:")) != -1) {
        if (opt == 'r') {
            redis_script = optarg;
        } else if (opt == 'o') {
            only = optarg;
        } else {
            fprintf(stderr, "usage: bench_daemon [-r REDIS_REF_SCRIPT] "
                            "[-o FIGURE]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    find_bindir();
    if (redis_script)
        run_redis_ref(redis_script);

    snprintf(g.dir, sizeof(g.dir), "/tmp/armmapd-bench.XXXXXX");
    if (!mkdtemp(g.dir)) {
        g.dir[0] = '\0';
        die("mkdtemp failed: %s", strerror(errno));
    }
    snprintf(g.sock, sizeof(g.sock), "%s/armmapd.sock", g.dir);
    snprintf(g.log, sizeof(g.log), "%s/stderr.log", g.dir);
    start_daemon();
    cu = connect_unix();
    ct = connect_tcp();
    setup_machine(cu);

    printf("armmapd: aries machine, durability normal, depth %d; targets: "
           "redis GET at the same depth and number of connections\n", DEPTH);
    if (g.redis_unix > 0 || g.redis_tcp > 0) {
        line_redis("redis GET -P 64 -c 1 (one connection), Unix",
                   g.redis_c1_unix, g.cpu_c1_unix);
        line_redis("redis GET -P 64 -c 1 (one connection), TCP",
                   g.redis_c1_tcp, g.cpu_c1_tcp);
        line_redis("redis GET -P 64 -c 2, Unix", g.redis_c2_unix,
                   g.cpu_c2_unix);
        line_redis("redis GET -P 64 (-c 50, the issue's), Unix",
                   g.redis_unix, g.cpu_unix);
        line_redis("redis GET -P 64 (-c 50, the issue's), TCP", g.redis_tcp,
                   g.cpu_tcp);
    }
    if (want(only, "rtt-ping"))
        line_plain("ping round trips, Unix", rtt_ping(cu), "req/s");
    if (want(only, "rtt-kmap"))
        line_plain("kmap+kunmap round-trip pairs, Unix", rtt_kmap_pairs(cu),
                   "pairs/s");
    if (want(only, "pipe-ping-unix")) {
        ref_cpu = g.cpu_c1_unix;
        line_target("pipelined ping, 1 conn, Unix",
                    pipelined(cu, PIPE_PING, N_PIPE), "req/s",
                    g.redis_c1_unix, "redis -c 1 Unix");
    }
    if (want(only, "pipe-translate-unix")) {
        ref_cpu = g.cpu_c1_unix;
        line_target("pipelined 1-address translate, 1 conn, Unix",
                    pipelined(cu, PIPE_TRANSLATE1, N_PIPE), "req/s",
                    g.redis_c1_unix, "redis -c 1 Unix");
    }
    if (want(only, "pipe-ping-tcp")) {
        ref_cpu = g.cpu_c1_tcp;
        line_target("pipelined ping, 1 conn, TCP",
                    pipelined(ct, PIPE_PING, N_PIPE), "req/s",
                    g.redis_c1_tcp, "redis -c 1 TCP");
    }
    if (want(only, "pipe-translate-tcp")) {
        ref_cpu = g.cpu_c1_tcp;
        line_target("pipelined 1-address translate, 1 conn, TCP",
                    pipelined(ct, PIPE_TRANSLATE1, N_PIPE), "req/s",
                    g.redis_c1_tcp, "redis -c 1 TCP");
    }
    if (want(only, "pipe-kmap")) {
        kmap_file = pipelined(cu, PIPE_KMAP, N_PIPE);
        kmap_file_cpu = last_cpu.daemon / last_n;
        line_target("pipelined kmap/kunmap (committed), Unix", kmap_file,
                    "ops/s", TARGET_MAP_OPS, "issue");
    }
    if (want(only, "raw-ping")) {
        ref_cpu = g.cpu_c1_unix;
        line_target("raw frames, 32/send: ping, 1 conn, Unix",
                    raw_pipelined(PIPE_PING, N_PIPE), "req/s",
                    g.redis_c1_unix, "redis -c 1 Unix");
    }
    if (want(only, "raw-translate")) {
        ref_cpu = g.cpu_c1_unix;
        line_target("raw frames, 32/send: 1-address translate",
                    raw_pipelined(PIPE_TRANSLATE1, N_PIPE), "req/s",
                    g.redis_c1_unix, "redis -c 1 Unix");
    }
    if (want(only, "raw-kmap"))
        line_target("raw frames, 32/send: kmap/kunmap",
                    raw_pipelined(PIPE_KMAP, N_PIPE), "ops/s",
                    TARGET_MAP_OPS, "issue");
    if (want(only, "multi-ping-2")) {
        ref_cpu = g.cpu_c2_unix;
        line_target("raw frames, 2 conns: ping, Unix",
                    raw_multi(PIPE_PING, 2, N_PIPE), "req/s",
                    g.redis_c2_unix, "redis -c 2 Unix");
    }
    if (want(only, "multi-translate-2")) {
        ref_cpu = g.cpu_c2_unix;
        line_target("raw frames, 2 conns: 1-address translate",
                    raw_multi(PIPE_TRANSLATE1, 2, N_PIPE), "req/s",
                    g.redis_c2_unix, "redis -c 2 Unix");
    }
    if (want(only, "multi-ping-50")) {
        ref_cpu = g.cpu_unix;
        line_target("raw frames, 50 conns: ping, Unix",
                    raw_multi(PIPE_PING, 50, N_PIPE), "req/s", g.redis_unix,
                    "redis -c 50 Unix");
    }
    if (want(only, "multi-translate-50")) {
        ref_cpu = g.cpu_unix;
        line_target("raw frames, 50 conns: 1-address translate",
                    raw_multi(PIPE_TRANSLATE1, 50, N_PIPE), "req/s",
                    g.redis_unix, "redis -c 50 Unix");
    }
    if (want(only, "batch-unix"))
        line_target("batch translate 4096/request, Unix", batch_translate(cu),
                    "addr/s", TARGET_ADDRS, "issue");
    if (want(only, "batch-tcp"))
        line_target("batch translate 4096/request, TCP", batch_translate(ct),
                    "addr/s", TARGET_ADDRS, "issue");
    if (want(only, "fairness"))
        fairness();
    armmap_close(ct);
    armmap_close(cu);

    /* The same committed changes with the store in SQLite's memdb: what
     * the file (WAL writes, checkpoints) adds per change. */
    if (want(only, "pipe-kmap")) {
        double kmap_mem, mem_cpu;

        stop_daemon();
        g.database = ":memory:";
        start_daemon();
        cu = connect_unix();
        setup_machine(cu);
        kmap_mem = pipelined(cu, PIPE_KMAP, N_PIPE);
        mem_cpu = last_cpu.daemon / last_n;
        line_target("pipelined kmap/kunmap, --database :memory:", kmap_mem,
                    "ops/s", TARGET_MAP_OPS, "issue");
        printf("%-44s %12.2f us/change wall, %.2f us/change armmapd CPU\n",
               "the file store adds", 1e6 / kmap_file - 1e6 / kmap_mem,
               (kmap_file_cpu - mem_cpu) * 1e6);
        armmap_close(cu);
    }
    cleanup();
    return 0;
}
