/* tests/daemon/test_cluster.c - cluster mode (--node): several armmapd
 * nodes on one PostgreSQL database (issue 18 parts 2 and 3).
 *
 * Settings are checked without a server.  The rest runs a PostgreSQL
 * server started by the suite (tests/common/pgserver.c) and real armmapd
 * nodes, each on a state directory and Unix socket of its own, with
 * loopback --listen and --http ports they advertise: a machine created
 * on node a and asked of node b answers MOVED naming a (and 307 over
 * HTTP); after kill -9 of a, b claims the machine once a's lease has run
 * out and rebuilds it with every answered change; a node frozen past its
 * lease (SIGSTOP) writes nothing once it runs again; of two stores racing
 * to claim one machine exactly one wins, and a store whose machine was
 * claimed away has its write refused STORE_FENCED.  Requests are raw
 * frames, so a MOVED is seen as it is sent (no client follows it).
 * Skipped (after saying so) without the server binaries.
 */
#include "check_daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef STORE_HAVE_PG
#include <libpq-fe.h>
#include <pthread.h>

#include "../common/pgserver.h"
#include "store.h"
#include <poll.h>
#include <sqlite3.h>

/* store/store_int.h: runs SQL on a database's events unpacked (schema 6
 * packs them per row), packing them again after. */
int store__events_exec(sqlite3 *db, const char *sql);
#endif

#define POLLS 400 /* bounded waits: this many tries, 25 ms apart */

/* armmapd --check-config with @a, @b, @c (NULL-ended early): exit 2 and
 * exactly @want on its output. */
static void ck_refused(const char *want, const char *a, const char *b,
                       const char *c)
{
    char out[2048];

    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config", a, b, c, NULL),
                     2);
    out[strcspn(out, "\n")] = '\0';
    ck_assert_str_eq(out, want);
}

START_TEST(test_cluster_node_needs_postgresql)
{
    ck_refused("armmapd: --node needs a PostgreSQL --database (postgresql://...)",
               "--node=n1", "--database=/tmp/x.db", "--listen=127.0.0.1:7001");
    ck_refused("armmapd: --node needs a PostgreSQL --database (postgresql://...)",
               "--node=n1", "--listen=127.0.0.1:7001", NULL);
}
END_TEST

START_TEST(test_cluster_settings_ranges)
{
    ck_refused("armmapd: --lease-ms: '499' is below the minimum of 500",
               "--lease-ms=499", NULL, NULL);
    ck_refused("armmapd: --lease-ms: '600001' is above the maximum of 600000",
               "--lease-ms=600001", NULL, NULL);
    ck_refused("armmapd: --lease-ms: '0' is not a positive number",
               "--lease-ms=0", NULL, NULL);
    ck_refused("armmapd: --node: 'a/b' is not 1-64 bytes of [A-Za-z0-9._-]",
               "--node=a/b", "--database=postgresql:///x", NULL);
    ck_refused("armmapd: --node needs --listen or --advertise (the address "
               "other nodes redirect to)",
               "--node=n1", "--database=postgresql:///x", NULL);
    ck_refused("armmapd: --advertise: '127.0.0.1:0' is not an address to be "
               "reached at (HOST:PORT, no wildcard host, no port 0)",
               "--node=n1", "--database=postgresql:///x",
               "--listen=127.0.0.1:0");
    ck_refused("armmapd: --advertise needs --node", "--advertise=h:1", NULL,
               NULL);
}
END_TEST

START_TEST(test_cluster_wildcard_listen_needs_advertise)
{
    char tok[] = "/tmp/armmap-token-XXXXXX", flag[64], out[2048];
    int fd = mkstemp(tok);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "secret\n", 7), 7);
    close(fd);
    snprintf(flag, sizeof(flag), "--auth-token-file=%s", tok);
    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config", flag,
                            "--node=n1", "--database=postgresql:///x",
                            "--listen=0.0.0.0:7001", NULL),
                     2);
    ck_assert_str_eq(out, "armmapd: --listen: '0.0.0.0:7001' is a wildcard "
                          "address; give --advertise HOST:PORT\n");
    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config", flag,
                            "--node=n1", "--database=postgresql:///x",
                            "--listen=0.0.0.0:7001",
                            "--advertise=10.0.0.5:7001", NULL),
                     0);
    unlink(tok);
}
END_TEST

START_TEST(test_cluster_settings_accepted)
{
    char out[2048];

    ck_assert_int_eq(td_run(out, sizeof(out), "--check-config", "--node=n-1.a",
                            "--database=postgresql:///x",
                            "--listen=127.0.0.1:7001", "--lease-ms=500",
                            "--advertise-http=db1.example:8080", NULL),
                     0);
    ck_assert_str_eq(out, "armmapd: configuration OK\n");
}
END_TEST

#ifdef STORE_HAVE_PG

/* One node: its daemon, binary and HTTP ports. */
struct node {
    struct tdaemon d;
    int port, http;
    char flags[5][320];
};

/* Starts node @name on database @url (lease @lease_ms). */
static void node_start(struct node *n, const char *name, const char *url,
                       int lease_ms)
{
    td_init(&n->d);
    n->port = td_free_port();
    n->http = td_free_port();
    snprintf(n->flags[0], sizeof(n->flags[0]), "--database=%s", url);
    snprintf(n->flags[1], sizeof(n->flags[1]), "--node=%s", name);
    snprintf(n->flags[2], sizeof(n->flags[2]), "--listen=127.0.0.1:%d",
             n->port);
    snprintf(n->flags[3], sizeof(n->flags[3]), "--http=127.0.0.1:%d",
             n->http);
    snprintf(n->flags[4], sizeof(n->flags[4]), "--lease-ms=%d", lease_ms);
    td_start(&n->d, n->flags[0], n->flags[1], n->flags[2], n->flags[3],
             n->flags[4], NULL);
}

static void node_stop(struct node *n)
{
    ck_assert_msg(td_stop(&n->d) == 0, "%s", td_log(&n->d));
    td_cleanup(&n->d);
}

/* A new database for one test; false (test skipped) without a server. */
static bool new_db(const char *name, char *url)
{
    const struct pgserver *pg = pgfix_server("test_cluster");

    if (pg == NULL)
        return false;
    ck_assert_msg(pgserver_create_db(pg, name, url) == 0, "%s", url);
    return true;
}

/* ---- raw requests ---- */

static Armmap__V1__Response *describe(int fd, uint64_t id, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    ref.machine = machine;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    return td_call(fd, &req);
}

static Armmap__V1__Response *history(int fd, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;

    h.machine = machine;
    req.id = 9;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    return td_call(fd, &req);
}

static Armmap__V1__Response *list(int fd)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    req.id = 10;
    req.body_case = ARMMAP__V1__REQUEST__BODY_LIST;
    req.list = &ref;
    return td_call(fd, &req);
}

/* Describes @machine at @fd until it answers OK (a claim and rebuild),
 * at most POLLS times; the answer. */
static Armmap__V1__Response *describe_until_ok(int fd, uint64_t machine)
{
    Armmap__V1__Response *r = NULL;
    int i;

    for (i = 0; i < POLLS; i++) {
        r = describe(fd, 5, machine);
        ck_assert_ptr_nonnull(r->status);
        if (r->status->code == ARMMAP__V1__CODE__OK)
            return r;
        /* Still owned by the dead node's lease: MOVED to it. */
        ck_assert_msg(r->status->code == ARMMAP__V1__CODE__MOVED,
                      "describe: %d %s", r->status->code, r->status->message);
        td_free(r);
        usleep(25000);
    }
    ck_abort_msg("machine %llu was never claimed",
                 (unsigned long long)machine);
    return NULL;
}

/* Allocates and kmaps @n highmem pages on @m at @fd; the kmapped va. */
static void kmap_pages(int fd, uint64_t m, uint32_t *va, size_t n)
{
    uint32_t alloc[2] = { 2, 0 }; /* zone HighMem, order 0 */
    size_t i;

    for (i = 0; i < n; i++) {
        uint32_t pfn = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc,
                                2);

        va[i] = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);
    }
}

/* ---- HTTP ---- */

struct reply {
    int status;
    char head[2048];
    char body[4096];
};

/* GET @path from 127.0.0.1:@port ("Connection: close"). */
static struct reply http_get(int port, const char *path)
{
    struct sockaddr_in sa;
    struct timeval tv = { 10, 0 };
    struct reply r;
    char buf[8192], req[512], *sep;
    size_t len = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0), i;

    memset(&r, 0, sizeof(r));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    /* The HTTP socket is bound just after the Unix one td_start waits
     * for: a refused connect is tried again, a bounded number of times. */
    for (i = 0; fd >= 0 && i < POLLS &&
                connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0;
         i++) {
        ck_assert_msg(errno == ECONNREFUSED, "connect: %s", strerror(errno));
        close(fd);
        usleep(25000);
        fd = socket(AF_INET, SOCK_STREAM, 0);
    }
    ck_assert_msg(fd >= 0 && i < POLLS, "connect to port %d: refused", port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
             "\r\n",
             path);
    td_write(fd, req, strlen(req));
    while (len < sizeof(buf) - 1 &&
           (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    ck_assert_int_eq(sscanf(buf, "HTTP/1.1 %d", &r.status), 1);
    sep = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(sep);
    snprintf(r.head, sizeof(r.head), "%.*s", (int)(sep - buf), buf);
    snprintf(r.body, sizeof(r.body), "%s", sep + 4);
    return r;
}

/* ---- the tests ---- */

START_TEST(test_cluster_moved_and_307)
{
    struct node a, b, c;
    char url[256], want[512];
    Armmap__V1__Response *r;
    struct reply h;
    uint64_t m;
    int fa, fb, fc;

    if (!new_db("cluster_moved", url))
        return;
    node_start(&a, "a", url, 10000);
    node_start(&b, "b", url, 10000);
    fa = td_session(&a.d, "default");
    fb = td_session(&b.d, "default");
    m = td_create(fa, "qemu-virt", NULL);
    ck_assert_uint_eq(m, 1);

    r = describe(fb, 4, m);
    snprintf(want, sizeof(want), "machine 1 is served by node a at 127.0.0.1:%d",
             a.port);
    ck_assert_status(r, 4, ARMMAP__V1__CODE__MOVED, want);
    snprintf(want, sizeof(want), "127.0.0.1:%d", a.port);
    ck_assert_str_eq(r->status->owner, want);
    td_free(r);
    /* A change too; and a machine created on b is b's. */
    r = td_op(fb, 6, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__MOVED);
    td_free(r);
    /* Ids come from the shared database, a block of 16 per node. */
    ck_assert_uint_eq(td_create(fb, "qemu-virt", NULL), 17);
    r = describe(fa, 7, 17);
    snprintf(want, sizeof(want),
             "machine 17 is served by node b at 127.0.0.1:%d", b.port);
    ck_assert_status(r, 7, ARMMAP__V1__CODE__MOVED, want);
    td_free(r);

    /* History is in the shared database: any node serves it. */
    td_op_ok(fa, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
    r = history(fb, m);
    ck_assert_status(r, 9, ARMMAP__V1__CODE__OK, "");
    ck_assert_uint_eq(r->history->n_events, 1);
    td_free(r);
    /* So is the list: every node's machines of the tenant. */
    r = list(fb);
    ck_assert_status(r, 10, ARMMAP__V1__CODE__OK, "");
    ck_assert_uint_eq(r->machines->n_machines, 2);
    ck_assert_uint_eq(r->machines->machines[0]->id, 1);
    ck_assert_uint_eq(r->machines->machines[0]->seq, 1);
    ck_assert_uint_eq(r->machines->machines[1]->id, 17);
    td_free(r);

    h = http_get(b.http, "/api/v1/machines/1?x=1");
    ck_assert_int_eq(h.status, 307);
    snprintf(want, sizeof(want),
             "Location: http://127.0.0.1:%d/api/v1/machines/1?x=1", a.http);
    ck_assert_msg(strstr(h.head, want) != NULL, "%s", h.head);
    h = http_get(a.http, "/api/v1/machines/1");
    ck_assert_int_eq(h.status, 200);
    h = http_get(a.http, "/api/v1/health");
    ck_assert_int_eq(h.status, 200);
    ck_assert_str_eq(h.body, "{\"node\":\"a\",\"epoch\":1}\n");
    h = http_get(b.http, "/api/v1/health");
    ck_assert_int_eq(h.status, 200);
    ck_assert_str_eq(h.body, "{\"node\":\"b\",\"epoch\":1}\n");

    /* An owner without HTTP: 503 with the MOVED answer naming it. */
    td_init(&c.d);
    c.port = td_free_port();
    snprintf(c.flags[0], sizeof(c.flags[0]), "--database=%s", url);
    snprintf(c.flags[1], sizeof(c.flags[1]), "--listen=127.0.0.1:%d", c.port);
    td_start(&c.d, c.flags[0], "--node=c", c.flags[1], NULL);
    fc = td_session(&c.d, "default");
    ck_assert_uint_eq(td_create(fc, "qemu-virt", NULL), 33);
    h = http_get(b.http, "/api/v1/machines/33");
    ck_assert_int_eq(h.status, 503);
    snprintf(want, sizeof(want),
             "{\"code\":\"MOVED\",\"message\":\"machine 33 is served by "
             "node c at 127.0.0.1:%d\"}\n",
             c.port);
    ck_assert_str_eq(h.body, want);
    close(fc);
    node_stop(&c);

    close(fa);
    close(fb);
    node_stop(&a);
    node_stop(&b);
    /* A node started again is a new incarnation. */
    node_start(&a, "a", url, 10000);
    h = http_get(a.http, "/api/v1/health");
    ck_assert_str_eq(h.body, "{\"node\":\"a\",\"epoch\":2}\n");
    node_stop(&a);
}
END_TEST

START_TEST(test_cluster_failover_after_kill)
{
    struct node a, b;
    char url[256], out[4096];
    uint32_t va[3], pa[3], pa2[3];
    uint8_t fault[3], fault2[3];
    Armmap__V1__Response *r;
    struct reply h;
    uint64_t m, seq;
    int fa, fb;

    if (!new_db("cluster_failover", url))
        return;
    node_start(&a, "a", url, 600);
    node_start(&b, "b", url, 600);
    fa = td_session(&a.d, "default");
    fb = td_session(&b.d, "default");
    m = td_create(fa, "qemu-virt", NULL);
    kmap_pages(fa, m, va, 3);
    td_translate(fa, m, va, 3, pa, fault);
    r = describe(fa, 3, m);
    ck_assert_status(r, 3, ARMMAP__V1__CODE__OK, "");
    seq = r->machine->seq;
    ck_assert_uint_eq(seq, 6);
    td_free(r);

    kill(a.d.pid, SIGKILL);
    td_wait(&a.d);
    close(fa);
    r = describe_until_ok(fb, m);
    ck_assert_uint_eq(r->machine->seq, seq);
    td_free(r);
    td_translate(fb, m, va, 3, pa2, fault2);
    ck_assert_mem_eq(pa2, pa, sizeof(pa));
    ck_assert_mem_eq(fault2, fault, sizeof(fault));
    /* b owns it now: its changes continue the history. */
    r = td_op(fb, 8, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_status(r, 8, ARMMAP__V1__CODE__OK, "");
    ck_assert_uint_eq(r->op->seq, seq + 1);
    td_free(r);
    h = http_get(b.http, "/api/v1/health");
    ck_assert_int_eq(h.status, 200);
    close(fb);
    node_stop(&b);
    td_cleanup(&a.d);
    /* Both nodes' writes make one sound history. */
    ck_assert_int_eq(td_run(out, sizeof(out), a.flags[0], "--verify", NULL), 0);
    ck_assert_msg(strstr(out, ": OK (") != NULL, "%s", out);
}
END_TEST

START_TEST(test_cluster_frozen_node_is_fenced)
{
    struct node a, b;
    char url[256];
    uint32_t va[1];
    Armmap__V1__Response *r;
    uint64_t m;
    size_t i;
    int fa, fb, code;

    if (!new_db("cluster_fenced", url))
        return;
    node_start(&a, "a", url, 600);
    node_start(&b, "b", url, 600);
    fa = td_session(&a.d, "default");
    fb = td_session(&b.d, "default");
    m = td_create(fa, "qemu-virt", NULL);
    kmap_pages(fa, m, va, 1);

    kill(a.d.pid, SIGSTOP);
    r = describe_until_ok(fb, m); /* a's lease ran out: b claimed it */
    ck_assert_uint_eq(r->machine->seq, 2);
    td_free(r);
    td_op_ok(fb, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
    kill(a.d.pid, SIGCONT);

    /* a's connection, open since before the freeze: its change is
     * refused, and nothing of it is stored. */
    r = td_op(fa, 11, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    code = r->status->code;
    ck_assert_msg(code == ARMMAP__V1__CODE__UNAVAILABLE ||
                      code == ARMMAP__V1__CODE__MOVED,
                  "a's change after the freeze: %d %s", code,
                  r->status->message);
    td_free(r);
    /* Once a is a new incarnation it redirects to b. */
    for (i = 0; i < POLLS; i++) {
        r = describe(fa, 12, m);
        code = r->status->code;
        td_free(r);
        if (code == ARMMAP__V1__CODE__MOVED)
            break;
        ck_assert_int_eq(code, ARMMAP__V1__CODE__UNAVAILABLE);
        usleep(25000);
    }
    ck_assert_int_eq(code, ARMMAP__V1__CODE__MOVED);
    r = history(fb, m);
    ck_assert_status(r, 9, ARMMAP__V1__CODE__OK, "");
    ck_assert_uint_eq(r->history->n_events, 3); /* alloc, kmap, b's flush */
    ck_assert_uint_eq(r->history->events[2]->seq, 3);
    ck_assert_int_eq(r->history->events[2]->op,
                     ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH);
    td_free(r);
    close(fa);
    close(fb);
    node_stop(&a);
    node_stop(&b);
}
END_TEST

/* Health follows the lease: a node whose heartbeats cannot get through
 * (the test holds the nodes table locked) answers 503 and serves no
 * machine once a lease has passed; afterwards it is a new incarnation. */
START_TEST(test_cluster_health_follows_the_lease)
{
    struct node a;
    char url[256];
    Armmap__V1__Response *r;
    struct reply h;
    PGconn *c;
    PGresult *res;
    uint64_t m;
    int fa, i;

    if (!new_db("cluster_health", url))
        return;
    node_start(&a, "a", url, 600);
    fa = td_session(&a.d, "default");
    m = td_create(fa, "qemu-virt", NULL);
    c = PQconnectdb(url);
    res = PQexec(c, "BEGIN; LOCK TABLE nodes IN ACCESS EXCLUSIVE MODE");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    for (i = 0; i < POLLS; i++) {
        h = http_get(a.http, "/api/v1/health");
        if (h.status == 503)
            break;
        ck_assert_int_eq(h.status, 200);
        usleep(25000);
    }
    ck_assert_int_eq(h.status, 503);
    ck_assert_str_eq(h.body, "{\"node\":\"a\",\"epoch\":1}\n");
    r = describe(fa, 4, m);
    ck_assert_status(r, 4, ARMMAP__V1__CODE__UNAVAILABLE,
                     "describe: node lease expired");
    td_free(r);
    res = PQexec(c, "COMMIT");
    PQclear(res);
    PQfinish(c);
    for (i = 0; i < POLLS; i++) {
        h = http_get(a.http, "/api/v1/health");
        if (h.status == 200)
            break;
        usleep(25000);
    }
    ck_assert_int_eq(h.status, 200);
    ck_assert_str_eq(h.body, "{\"node\":\"a\",\"epoch\":2}\n");
    /* The new incarnation claims its old machine again when asked. */
    r = describe_until_ok(fa, m);
    ck_assert_uint_eq(r->machine->seq, 0);
    td_free(r);
    close(fa);
    node_stop(&a);
}
END_TEST

/* A machine whose row names another owner (as after a claim this node
 * missed) refuses this node's write in the store, and the node drops it
 * and redirects. */
START_TEST(test_cluster_fenced_write_drops_the_machine)
{
    struct node a, b;
    char url[256], want[512], q[256];
    Armmap__V1__Response *r;
    PGconn *c;
    PGresult *res;
    uint64_t m;
    int fa, i, code = 0;

    if (!new_db("cluster_dropped", url))
        return;
    node_start(&a, "a", url, 10000);
    node_start(&b, "b", url, 10000);
    fa = td_session(&a.d, "default");
    m = td_create(fa, "qemu-virt", NULL);
    td_op_ok(fa, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
    c = PQconnectdb(url);
    snprintf(q, sizeof(q),
             "UPDATE machines SET owner_node = 'b', owner_epoch = 1"
             " WHERE id = %llu",
             (unsigned long long)m);
    res = PQexec(c, q);
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(c);
    r = td_op(fa, 21, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, 0, NULL, 0, 0);
    ck_assert_status(r, 21, ARMMAP__V1__CODE__UNAVAILABLE,
                     "store: event: machine 1 is not owned by node a "
                     "(epoch 1)");
    td_free(r);
    for (i = 0; i < POLLS; i++) {
        r = describe(fa, 22, m);
        code = r->status->code;
        if (code == ARMMAP__V1__CODE__MOVED)
            break;
        ck_assert_int_eq(code, ARMMAP__V1__CODE__UNAVAILABLE);
        td_free(r);
        usleep(25000);
    }
    snprintf(want, sizeof(want), "machine 1 is served by node b at 127.0.0.1:%d",
             b.port);
    ck_assert_status(r, 22, ARMMAP__V1__CODE__MOVED, want);
    td_free(r);
    r = history(fa, m);
    ck_assert_status(r, 9, ARMMAP__V1__CODE__OK, "");
    ck_assert_uint_eq(r->history->n_events, 1);
    td_free(r);
    close(fa);
    node_stop(&a);
    node_stop(&b);
}
END_TEST

/* ---- the store's side: claims and fences ---- */

static struct store *cstore(const char *url, const char *name, int64_t *ep)
{
    struct store_options opt;
    struct store_node n;
    struct store *s = NULL;
    char err[STORE_MSG_MAX];

    memset(&opt, 0, sizeof(opt));
    opt.node = name;
    ck_assert_msg(store_open(url, &opt, &s, err) == STORE_OK, "%s", err);
    n.name = name;
    n.address = "127.0.0.1:1";
    n.http_address = NULL;
    n.lease_ms = 60000;
    ck_assert_msg(store_node_register(s, &n, ep, err) == STORE_OK, "%s", err);
    return s;
}

static void sql(const char *url, const char *text)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, text);

    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s",
                  PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

struct reaped {
    enum store_status st;
    char msg[STORE_MSG_MAX];
};

static void on_done(void *arg, void *cookie, enum store_status st,
                    const char *msg)
{
    struct reaped *r = arg;

    (void)cookie;
    r->st = st;
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

/* Submits one kmap_flush event of @m at @seq and reaps its outcome. */
static struct reaped one_event(struct store *s, uint64_t m, uint64_t seq)
{
    struct store_event ev;
    struct reaped r = { STORE_INVALID_ARGUMENT, "" };

    memset(&ev, 0, sizeof(ev));
    ev.machine = m;
    ev.seq = seq;
    ev.op = 1;
    ck_assert_int_eq(store_submit_event(s, &ev, NULL), STORE_OK);
    store_flush(s);
    ck_assert_uint_eq(store_reap(s, on_done, &r), 1);
    return r;
}

struct racer {
    struct store *s;
    uint64_t m;
    bool won;
};

static void *race(void *arg)
{
    struct racer *x = arg;
    char err[STORE_MSG_MAX];

    ck_assert_int_eq(store_machine_claim(x->s, x->m, &x->won, err), STORE_OK);
    return NULL;
}

START_TEST(test_cluster_store_claim_race_and_fence)
{
    char url[256], err[STORE_MSG_MAX];
    struct store *x, *y, *z;
    struct racer ry, rz;
    struct store_owner o;
    struct reaped rp;
    pthread_t ty, tz;
    int64_t ex, ey, ez;
    uint64_t m;

    if (!new_db("cluster_race", url))
        return;
    x = cstore(url, "x", &ex);
    ck_assert_int_eq(ex, 1);
    ck_assert_int_eq(store_submit_machine_create(x, "t", "n", "cfg", 1, NULL,
                                                 &m),
                     STORE_OK);
    store_flush(x);
    ck_assert_uint_eq(store_reap(x, NULL, NULL), 1);
    rp = one_event(x, m, 1);
    ck_assert_int_eq(rp.st, STORE_OK);
    ck_assert_int_eq(store_machine_owner(x, m, &o, err), STORE_OK);
    ck_assert(o.live && o.mine);
    ck_assert_str_eq(o.node, "x");

    /* x's lease runs out (as if frozen); y and z race for its machine. */
    sql(url, "UPDATE nodes SET expires_at = now() - interval '1 second'"
             " WHERE name = 'x'");
    y = cstore(url, "y", &ey);
    z = cstore(url, "z", &ez);
    ry.s = y;
    rz.s = z;
    ry.m = rz.m = m;
    ck_assert_int_eq(pthread_create(&ty, NULL, race, &ry), 0);
    ck_assert_int_eq(pthread_create(&tz, NULL, race, &rz), 0);
    pthread_join(ty, NULL);
    pthread_join(tz, NULL);
    ck_assert_int_eq(ry.won + rz.won, 1);
    ck_assert_int_eq(store_machine_owner(y, m, &o, err), STORE_OK);
    ck_assert(o.live);
    ck_assert_str_eq(o.node, ry.won ? "y" : "z");
    ck_assert(o.mine == ry.won);

    /* x's heartbeat would renew its row, but its machine is gone: its
     * write is refused, and nothing is stored. */
    ck_assert_int_eq(store_node_heartbeat(x, err), STORE_OK);
    rp = one_event(x, m, 2);
    ck_assert_int_eq(rp.st, STORE_FENCED);
    ck_assert_str_eq(rp.msg, "event: machine 1 is not owned by node x "
                             "(epoch 1)");
    rp = one_event(ry.won ? y : z, m, 2);
    ck_assert_int_eq(rp.st, STORE_OK);
    /* A node replaced by a new incarnation cannot write at all. */
    ck_assert_int_eq(store_node_heartbeat(x, err), STORE_OK);
    store_close(x);
    x = cstore(url, "x", &ex);
    ck_assert_int_eq(ex, 2);
    store_close(y);
    store_close(z);
    store_close(x);
}
END_TEST

START_TEST(test_cluster_store_sqlite_refuses)
{
    struct store_options opt;
    struct store *s = NULL;
    char err[STORE_MSG_MAX], path[] = "/tmp/armmap-cluster-XXXXXX";
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(path);
    memset(&opt, 0, sizeof(opt));
    opt.node = "n1";
    ck_assert_int_eq(store_open(path, &opt, &s, err), STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "cluster mode needs PostgreSQL");
    ck_assert_int_eq(store_open(path, NULL, &s, err), STORE_OK);
    ck_assert_int_eq(store_machine_claim(s, 1, &(bool){ false }, err),
                     STORE_INVALID_ARGUMENT);
    ck_assert_str_eq(err, "cluster mode needs PostgreSQL");
    store_close(s);
    unlink(path);
}
END_TEST


/* ---- armmapd --copy-to: a single node's SQLite into PostgreSQL ---- */

/* What a machine answers: describe's machine, its history and the
 * translation of @va, packed (the bytes compared across stores). */
struct answers {
    uint8_t desc[4096], hist[65536];
    size_t ndesc, nhist;
    uint32_t pa[4];
    uint8_t fault[4];
};

static void answers_of(int fd, uint64_t m, const uint32_t *va,
                       struct answers *a)
{
    Armmap__V1__Response *r = describe(fd, 5, m);

    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__OK);
    a->ndesc = armmap__v1__machine__get_packed_size(r->machine);
    ck_assert_uint_le(a->ndesc, sizeof(a->desc));
    armmap__v1__machine__pack(r->machine, a->desc);
    td_free(r);
    r = history(fd, m);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__OK);
    a->nhist = armmap__v1__response__get_packed_size(r);
    ck_assert_uint_le(a->nhist, sizeof(a->hist));
    armmap__v1__response__pack(r, a->hist);
    td_free(r);
    td_translate(fd, m, va, 4, a->pa, a->fault);
}

/* A clone (@at 0) or a fork at @at of @m; the new id. */
static uint64_t branch_of(int fd, uint64_t m, uint64_t at)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone cl = ARMMAP__V1__CLONE__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    Armmap__V1__Response *r;
    uint64_t id;

    req.id = 9;
    if (at == 0) {
        cl.machine = m;
        req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
        req.clone = &cl;
    } else {
        fk.machine = m;
        fk.at_seq = at;
        req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
        req.fork = &fk;
    }
    r = td_call(fd, &req);
    ck_assert_msg(r->status->code == ARMMAP__V1__CODE__OK, "%s",
                  r->status->message);
    id = r->machine->id;
    td_free(r);
    return id;
}

/* A kmap_flush on @m with request key @key; its reply, packed, in @buf
 * (@size bytes); the packed length. */
static size_t keyed_flush(int fd, uint64_t m, uint64_t key, uint8_t *buf,
                          size_t size)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Response *r;
    size_t n;

    op.machine = m;
    op.code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
    req.id = 21;
    req.request_key = key;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    r = td_call(fd, &req);
    ck_assert_msg(r->status->code == ARMMAP__V1__CODE__OK, "%s",
                  r->status->message);
    n = armmap__v1__response__get_packed_size(r);
    ck_assert_uint_le(n, size);
    armmap__v1__response__pack(r, buf);
    td_free(r);
    return n;
}

static uint8_t keyed_reply[1024];
static size_t keyed_len;

/* A single node's database: machine 1 with 8 kmapped pages (16 events,
 * checkpoints every 5), its clone 2, its fork 3 at seq 7 and 2 more
 * pages on each branch, then a kmap_flush on 3 with request key 77
 * (its reply in keyed_reply); @va the kmapped addresses of machine 1. */
static void sqlite_node(struct tdaemon *d, uint32_t va[8])
{
    uint32_t more[2];
    int fd;

    td_init(d);
    td_start(d, "--checkpoint-every=5", NULL);
    fd = td_session(d, "alice");
    ck_assert_uint_eq(td_create(fd, "qemu-virt", NULL), 1);
    kmap_pages(fd, 1, va, 8);
    ck_assert_uint_eq(branch_of(fd, 1, 0), 2);
    ck_assert_uint_eq(branch_of(fd, 1, 7), 3);
    kmap_pages(fd, 2, more, 2);
    kmap_pages(fd, 3, more, 2);
    keyed_len = keyed_flush(fd, 3, 77, keyed_reply, sizeof(keyed_reply));
    close(fd);
}

START_TEST(test_cluster_copy_store_from_sqlite)
{
    struct answers want[3], got;
    struct tdaemon a;
    struct node n;
    char url[512], db[400], out[2048], from[420], to[560];
    uint32_t va[8];
    uint64_t m;
    int fd;

    if (!new_db("copy", url))
        return;
    sqlite_node(&a, va);
    fd = td_session(&a, "alice");
    for (m = 1; m <= 3; m++)
        answers_of(fd, m, va, &want[m - 1]);
    close(fd);
    ck_assert_int_eq(td_stop(&a), 0);
    snprintf(db, sizeof(db), "%s/armmapd.db", a.dir);
    snprintf(from, sizeof(from), "--database=%s", db);
    snprintf(to, sizeof(to), "--copy-to=%s", url);
    ck_assert_msg(td_run(out, sizeof(out), from, to, NULL) == 0, "%s", out);
    snprintf(to, sizeof(to),
             "armmapd: copied %s: 3 machines (0 destroyed), 25 events, "
             "7 checkpoints, 1 request keys\n",
             db);
    ck_assert_str_eq(out, to);
    /* Again: the target is no longer empty. */
    snprintf(to, sizeof(to), "--copy-to=%s", url);
    ck_assert_int_eq(td_run(out, sizeof(out), from, to, NULL), 1);
    ck_assert_str_eq(out, "armmapd: --copy-to: target is not empty (it has "
                          "held machines up to id 3): refusing to copy into "
                          "it\n");
    td_cleanup(&a);

    node_start(&n, "n1", url, 10000);
    fd = td_session(&n.d, "alice");
    for (m = 1; m <= 3; m++) {
        td_free(describe_until_ok(fd, m));
        answers_of(fd, m, va, &got);
        ck_assert_mem_eq(got.desc, want[m - 1].desc, want[m - 1].ndesc);
        ck_assert_uint_eq(got.ndesc, want[m - 1].ndesc);
        ck_assert_uint_eq(got.nhist, want[m - 1].nhist);
        ck_assert_mem_eq(got.hist, want[m - 1].hist, want[m - 1].nhist);
        ck_assert_mem_eq(got.pa, want[m - 1].pa, sizeof(got.pa));
        ck_assert_mem_eq(got.fault, want[m - 1].fault, sizeof(got.fault));
    }
    /* The key came along: its retry is answered as before, not applied. */
    ck_assert_uint_eq(keyed_flush(fd, 3, 77, got.hist, sizeof(got.hist)),
                      keyed_len);
    ck_assert_mem_eq(got.hist, keyed_reply, keyed_len);
    answers_of(fd, 3, va, &got);
    ck_assert_mem_eq(got.hist, want[2].hist, want[2].nhist);
    /* New machines continue after the copied ids. */
    ck_assert_uint_gt(td_create(fd, "qemu-virt", NULL), 3);
    close(fd);
    node_stop(&n);
}
END_TEST

/* A source whose checksum chain is broken is refused, naming the event,
 * and nothing reaches the target. */
START_TEST(test_cluster_copy_store_refuses_corrupt)
{
    struct tdaemon a;
    char url[512], db[400], out[2048], from[420], to[560];
    uint32_t va[8];
    sqlite3 *q;

    if (!new_db("copybad", url))
        return;
    sqlite_node(&a, va);
    ck_assert_int_eq(td_stop(&a), 0);
    snprintf(db, sizeof(db), "%s/armmapd.db", a.dir);
    ck_assert_int_eq(sqlite3_open(db, &q), SQLITE_OK);
    ck_assert_int_eq(store__events_exec(q, "UPDATE events SET flags = 1"
                                           " WHERE machine = 1 AND seq = 12"),
                     SQLITE_OK);
    sqlite3_close(q);
    snprintf(from, sizeof(from), "--database=%s", db);
    snprintf(to, sizeof(to), "--copy-to=%s", url);
    ck_assert_int_eq(td_run(out, sizeof(out), from, to, NULL), 1);
    ck_assert_msg(strstr(out, "refusing a corrupt source") != NULL &&
                      strstr(out, "machine 1 seq 12: checksum") != NULL,
                  "%s", out);
    /* The target is still empty: a good copy goes in. */
    ck_assert_int_eq(sqlite3_open(db, &q), SQLITE_OK);
    ck_assert_int_eq(store__events_exec(q, "UPDATE events SET flags = 0"
                                           " WHERE machine = 1 AND seq = 12"),
                     SQLITE_OK);
    sqlite3_close(q);
    ck_assert_msg(td_run(out, sizeof(out), from, to, NULL) == 0, "%s", out);
    td_cleanup(&a);
}
END_TEST

/* Runs @sql on a connection of the test's own; asserts it succeeded. */
static void pg_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);

    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s",
                  sql, PQerrorMessage(c));
    PQclear(r);
}

/* While node b's claim of a dead node's machine waits for a row lock the
 * test holds, b answers a new connection's Hello, a ping and a describe
 * of its own machine; the claim's request is answered once the lock
 * goes. */
START_TEST(test_cluster_claim_off_the_loop)
{
    struct node a, b;
    char url[256], sql[256];
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;
    struct pollfd pfd;
    uint64_t m, m2;
    PGconn *c;
    PGresult *res;
    int fa, fb, fc, i;

    if (!new_db("cluster_claim_async", url))
        return;
    node_start(&a, "a", url, 10000);
    node_start(&b, "b", url, 10000);
    fa = td_session(&a.d, "default");
    fb = td_session(&b.d, "default");
    m = td_create(fa, "qemu-virt", NULL);
    m2 = td_create(fb, "qemu-virt", NULL);
    kill(a.d.pid, SIGKILL);
    td_wait(&a.d);
    close(fa);
    c = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    pg_ok(c, "UPDATE nodes SET expires_at = now() - interval '1 second'"
             " WHERE name = 'a'");
    pg_ok(c, "BEGIN");
    snprintf(sql, sizeof(sql),
             "SELECT 1 FROM machines WHERE id = %llu FOR UPDATE",
             (unsigned long long)m);
    pg_ok(c, sql);
    ref.machine = m;
    req.id = 30;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    td_send(fb, &req);
    /* b's claim now waits for the test's lock. */
    for (i = 0; i < POLLS; i++) {
        pg_ok(c, "SELECT pg_stat_clear_snapshot()"); /* fresh in the txn */
        res = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE"
                        " wait_event_type = 'Lock' AND query LIKE"
                        " '%FOR UPDATE%' AND pid <> pg_backend_pid()");
        ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
        if (strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
            PQclear(res);
            break;
        }
        PQclear(res);
        usleep(25000);
    }
    ck_assert_msg(i < POLLS, "b's claim never waited for the lock");
    fc = td_session(&b.d, "default");
    td_ping(fc, 31);
    r = describe(fc, 32, m2);
    ck_assert_status(r, 32, ARMMAP__V1__CODE__OK, "");
    ck_assert_uint_eq(r->machine->id, m2);
    td_free(r);
    pfd.fd = fb;
    pfd.events = POLLIN;
    pfd.revents = 0;
    ck_assert_int_eq(poll(&pfd, 1, 0), 0); /* the claim still waits */
    pg_ok(c, "COMMIT");
    r = td_recv(fb);
    ck_assert_status(r, 30, ARMMAP__V1__CODE__OK, "");
    ck_assert_uint_eq(r->machine->id, m);
    td_free(r);
    PQfinish(c);
    close(fb);
    close(fc);
    node_stop(&b);
    td_cleanup(&a.d);
}
END_TEST
#endif /* STORE_HAVE_PG */

Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("settings");

    /* Each test starts armmapd several times (sanitized in make check). */
    tcase_set_timeout(tc, 30 * spawn_time_scale());
    tcase_add_test(tc, test_cluster_node_needs_postgresql);
    tcase_add_test(tc, test_cluster_settings_ranges);
    tcase_add_test(tc, test_cluster_settings_accepted);
    tcase_add_test(tc, test_cluster_wildcard_listen_needs_advertise);
    suite_add_tcase(s, tc);
#ifdef STORE_HAVE_PG
    tc = tcase_create("nodes");
    tcase_add_unchecked_fixture(tc, pgfix_setup, pgfix_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cluster_store_sqlite_refuses);
    tcase_add_test(tc, test_cluster_store_claim_race_and_fence);
    tcase_add_test(tc, test_cluster_moved_and_307);
    tcase_add_test(tc, test_cluster_failover_after_kill);
    tcase_add_test(tc, test_cluster_frozen_node_is_fenced);
    tcase_add_test(tc, test_cluster_health_follows_the_lease);
    tcase_add_test(tc, test_cluster_fenced_write_drops_the_machine);
    tcase_add_test(tc, test_cluster_copy_store_from_sqlite);
    tcase_add_test(tc, test_cluster_copy_store_refuses_corrupt);
    tcase_add_test(tc, test_cluster_claim_off_the_loop);
    suite_add_tcase(s, tc);
#endif
    return s;
}
