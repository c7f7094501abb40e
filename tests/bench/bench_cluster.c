/* tests/bench/bench_cluster.c - what a second node buys on this machine,
 * and how long a dead node's machines are away.
 *
 * A PostgreSQL server and armmapd nodes on loopback, started as
 * make check-cluster starts them (tests/cluster/cluster.c), and prints:
 *  - mapping ops per second (kmap/kunmap pairs, each change committed to
 *    PostgreSQL; nodes with the default 10 s lease) from CLIENTS client threads, each on its own machine,
 *    pipelined WINDOW deep on a connection to the machine's owner: with
 *    one node, then with two (half the machines on each), and the ratio;
 *  - translated addresses per second from the same threads (batches of
 *    BATCH addresses, pipelined), one node then two, and the ratio;
 *  - the failover time: HAProxy (deploy/haproxy.cfg) in front of two
 *    nodes with --lease-ms LEASE_MS, a machine of n2, kill -9 of n2, and
 *    the time to the first successful describe of that machine through
 *    HAProxy (a new connection per try, 10 ms apart), TRIALS times (n2
 *    restarted and given a new machine each time);
 *  - the PostgreSQL connections the two nodes hold (pg_stat_activity),
 *    for max_connections.
 * Figures only: nothing is asserted about speed.  A failure to start or
 * a request failing outside the failover window exits 1.  Each figure
 * runs MEASURE_MS; on a shared 2-core machine the ratio says how much of
 * a core a node and PostgreSQL leave to each other, not how the cluster
 * scales on more cores.
 */
#include "armmap.h"
#include "../cluster/cluster.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLIENTS    4
#define WINDOW     32
#define BATCH      4096
#define TWINDOW    4
#define MEASURE_MS 3000
#define LEASE_MS   1000                /* failover */
#define RATE_LEASE 10000               /* the rates: the default lease */
#define TRIALS     3
#define CAP_MS     60000

static struct cluster cl;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_cluster: %s%s%s\n", what, why[0] ? ": " : "",
            why);
    cl_stop(&cl);
    exit(1);
}

static struct armmap_conn *open_conn(const char *hostport)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];

    memset(&opt, 0, sizeof(opt));
    opt.tenant = "bench";
    opt.max_inflight = 64;
    if (armmap_connect_tcp(hostport, opt, &c, err) != ARMMAP_OK)
        die("connect", err);
    return c;
}

struct client {
    pthread_t th;
    const char *addr;                   /* the owner node of its machine */
    uint64_t machine;
    uint32_t pfn, va[BATCH];
    int translate;                      /* 0: kmap/kunmap, 1: translate */
    int64_t until_ms;
    long done;                          /* ops, or addresses translated */
    char err[ARMMAP_MSG_MAX + 64];
};

/* A machine on @addr with one highmem page, and BATCH addresses to
 * translate: that page's pkmap address and lowmem. */
static void client_prepare(struct client *k, const char *addr)
{
    struct armmap_conn *c = open_conn(addr);
    struct armmap_machine *m = NULL;
    struct armmap_op_result r;
    enum armmap_status st;
    int64_t t0;
    size_t i;

    k->addr = addr;
    /* UNAVAILABLE: a node whose heartbeat came late (a loaded machine)
     * serves again once it has registered anew. */
    for (t0 = cl_now_ms(); (st = armmap_create(c, "aries", NULL, 0, NULL,
                                               &m)) == ARMMAP_UNAVAILABLE &&
                           cl_now_ms() - t0 < CAP_MS;)
        cl_sleep_ms(50);
    if (st != ARMMAP_OK)
        die("create", armmap_errmsg(c));
    k->machine = m->id;
    armmap_machine_free(m);
    for (t0 = cl_now_ms(); (st = armmap_alloc(c, k->machine,
                                              ARMMAP_ZONE_HIGHMEM, 0, &r)) ==
                               ARMMAP_UNAVAILABLE &&
                           cl_now_ms() - t0 < CAP_MS;)
        cl_sleep_ms(50);
    if (st != ARMMAP_OK)
        die("alloc", armmap_errmsg(c));
    k->pfn = r.value;
    for (i = 0; i < BATCH; i++)
        k->va[i] = 0xc0000000u + (uint32_t)i * 4096u;
    armmap_close(c);
}

/* Keeps WINDOW kmap/kunmap ops (or TWINDOW translates) in flight until
 * until_ms; counts what came back OK. */
static void *client_main(void *arg)
{
    struct client *k = arg;
    struct armmap_conn *c = open_conn(k->addr);
    unsigned window = k->translate ? TWINDOW : WINDOW;
    long sent = 0;

    while (cl_now_ms() < k->until_ms || armmap_inflight(c) > 0) {
        struct armmap_reply *r = NULL;

        while (cl_now_ms() < k->until_ms && armmap_inflight(c) < window) {
            uint64_t id;
            enum armmap_status st;

            if (k->translate) {
                st = armmap_send_translate(c, k->machine, k->va, BATCH, 0,
                                           &id);
            } else {
                struct armmap_op op = {
                    .code = sent % 2 == 0 ? ARMMAP_OP_KMAP
                                          : ARMMAP_OP_KUNMAP,
                    .nargs = 1, .args = &k->pfn };

                st = armmap_send_op(c, k->machine, &op, &id);
            }
            if (st != ARMMAP_OK) {
                snprintf(k->err, sizeof(k->err), "send: %s",
                         armmap_strerror(st));
                goto out;
            }
            sent++;
        }
        if (armmap_recv(c, &r) != ARMMAP_OK) {
            snprintf(k->err, sizeof(k->err), "recv: %s", armmap_errmsg(c));
            goto out;
        }
        if (r->status != ARMMAP_OK) {
            snprintf(k->err, sizeof(k->err), "%s: %s",
                     armmap_strerror(r->status), r->msg);
            armmap_reply_free(r);
            goto out;
        }
        k->done += k->translate ? BATCH : 1;
        armmap_reply_free(r);
    }
out:
    armmap_close(c);
    return NULL;
}

/* Runs every client doing @translate for MEASURE_MS; per second. */
static double measure(struct client *k, int translate)
{
    int64_t t0 = cl_now_ms(), t1;
    long total = 0;
    int i;

    for (i = 0; i < CLIENTS; i++) {
        k[i].translate = translate;
        k[i].until_ms = t0 + MEASURE_MS;
        k[i].done = 0;
        k[i].err[0] = '\0';
        if (pthread_create(&k[i].th, NULL, client_main, &k[i]) != 0)
            die("pthread_create failed", "");
    }
    for (i = 0; i < CLIENTS; i++)
        pthread_join(k[i].th, NULL);
    t1 = cl_now_ms();
    for (i = 0; i < CLIENTS; i++) {
        if (k[i].err[0] != '\0')
            die("client", k[i].err);
        total += k[i].done;
    }
    return (double)total * 1000.0 / (double)(t1 - t0);
}

/* kill -9 of n2 owning @machine, then describe through HAProxy until OK:
 * the milliseconds, -1 past CAP_MS. */
static int64_t failover_ms(uint64_t machine)
{
    int64_t t0 = cl_now_ms();

    cl_node_kill(&cl, 1, SIGKILL);
    while (cl_now_ms() - t0 < CAP_MS) {
        struct armmap_options opt;
        struct armmap_conn *c = NULL;
        struct armmap_machine *m = NULL;
        char err[ARMMAP_ERR_MAX];
        enum armmap_status st;

        memset(&opt, 0, sizeof(opt));
        opt.tenant = "bench";
        opt.io_timeout_ms = 5000;
        if (armmap_connect_tcp(cl.tcp_addr, opt, &c, err) == ARMMAP_OK) {
            st = armmap_describe(c, machine, &m);
            armmap_machine_free(m);
            armmap_close(c);
            if (st == ARMMAP_OK)
                return cl_now_ms() - t0;
        }
        cl_sleep_ms(10);
    }
    return -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

int main(void)
{
    static struct client k[CLIENTS];
    char err[CL_ERR];
    double ops1, ops2, tr1, tr2;
    int64_t fo[TRIALS], conns;
    int i;

    if (cl_init(&cl, RATE_LEASE, err) != 0) {
        printf("bench_cluster: skipped: %s\n", err);
        return 0;
    }
    if (cl_db_start(&cl, "armmap_bench", err) != 0 ||
        cl_node_start(&cl, 0, err) != 0)
        die("start", err);
    for (i = 0; i < CLIENTS; i++)
        client_prepare(&k[i], cl.node[0].addr);
    ops1 = measure(k, 0);
    tr1 = measure(k, 1);

    /* A second node; half the clients move to machines it owns. */
    if (cl_node_start(&cl, 1, err) != 0)
        die("start", err);
    for (i = CLIENTS / 2; i < CLIENTS; i++)
        client_prepare(&k[i], cl.node[1].addr);
    ops2 = measure(k, 0);
    tr2 = measure(k, 1);
    /* What PostgreSQL's max_connections must leave room for. */
    if (!cl_sql(&cl, "SELECT count(*) - 1 FROM pg_stat_activity WHERE"
                " datname = current_database()", &conns, err))
        die("pg_stat_activity", err);
    printf("cluster: kmap/kunmap ops per second (%d clients, pipelined %d, "
           "each committed to PostgreSQL): 1 node %.0f, 2 nodes %.0f "
           "(x%.2f)\n", CLIENTS, WINDOW, ops1, ops2, ops2 / ops1);
    printf("cluster: translated addresses per second (batches of %d): "
           "1 node %.2f million, 2 nodes %.2f million (x%.2f)\n", BATCH,
           tr1 / 1e6, tr2 / 1e6, tr2 / tr1);
    printf("cluster: PostgreSQL connections held by the 2 nodes after "
           "that: %" PRId64 "\n", conns);

    /* Failover: both nodes again with a short lease, HAProxy in front. */
    cl_node_kill(&cl, 0, SIGTERM);
    cl_node_kill(&cl, 1, SIGTERM);
    cl.lease_ms = LEASE_MS;
    if (cl_node_start(&cl, 0, err) != 0 || cl_node_start(&cl, 1, err) != 0 ||
        cl_haproxy_start(&cl, 2, err) != 0)
        die("start", err);
    for (i = 0; i < TRIALS; i++) {
        struct client m;

        if (i > 0 && cl_node_start(&cl, 1, err) != 0)
            die("start", err);
        client_prepare(&m, cl.node[1].addr);
        fo[i] = failover_ms(m.machine);
        if (fo[i] < 0)
            die("a machine of the killed node did not answer through "
                "HAProxy within 60 s", "");
        printf("cluster: failover %d: kill -9 to the first answer through "
               "HAProxy: %" PRId64 " ms (lease %d ms)\n", i + 1, fo[i],
               LEASE_MS);
    }
    qsort(fo, TRIALS, sizeof(fo[0]), cmp_i64);
    printf("cluster: failover median %" PRId64 " ms, lease %d ms\n",
           fo[TRIALS / 2], LEASE_MS);
    cl_stop(&cl);
    return 0;
}
