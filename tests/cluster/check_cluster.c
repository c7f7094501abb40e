/* tests/cluster/check_cluster.c - make check-cluster: a real cluster.
 *
 * The contract of docs/deploy.md and issue 18, on loopback, with the real
 * programs: a PostgreSQL server, three armmapd nodes (--node n1..n3,
 * --lease-ms 1000) and Debian's HAProxy running deploy/haproxy.cfg, all
 * started here (tests/cluster/cluster.c); clients are the real libarmmap
 * and, where a test must see what one node answers without libarmmap
 * following MOVED, raw protobuf frames.
 *
 * Suite "files" (no cluster): haproxy -c accepts deploy/haproxy.cfg with
 * one and three nodes and refuses it with none; systemd-analyze verify
 * accepts systemd/armmapd@.service.
 *
 * Suite "cluster": one cluster for the whole case, its tests in order,
 * each reading what it needs from the database again:
 *  1. deploy/armmapd-node.conf passes --check-config;
 *  2. 1,000 machines created through HAProxy (HTTP and binary frontends)
 *     land on all three nodes (owner_node counted in the database), the
 *     list through HAProxy names all of them, and an HTTP read of a
 *     machine through HAProxy is answered by its owner or redirected to it;
 *  3. mixed load through libarmmap (creates, ops, batches, translates)
 *     while n2 is killed with SIGKILL (a change libarmmap could not
 *     deliver is sent again with the same request key, as a client
 *     does): every change answered OK is in the history at its seq with
 *     its value, and nothing else is; every
 *     machine of n2 answers through HAProxy again (the time is printed,
 *     bounded only by a generous cap); each machine is served by exactly
 *     one node;
 *  4. a node frozen (SIGSTOP) past its lease, whose machine another node
 *     then claims, writes nothing when it resumes (SIGCONT): fencing.
 *
 * CLUSTER_KEEP=1 keeps /tmp/armmap-cluster.* (each node's log, HAProxy's
 * log) for a look after a failure.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "armmap.h"
#include "armmap.pb-c.h"
#include "cluster.h"

#define TENANT          "cluster"
#define LEASE_MS        1000
#define NMACHINES       1000
#define NHTTP_CREATES   500             /* the rest through the TCP frontend */
#define VICTIM          1               /* n2 is killed */
#define NWORKERS        4
#define LOAD_PER_NODE   12              /* machines under load per node */
#define WORKER_MACHINES 64
#define MAX_LOG         200000
#define PRE_KILL_MS     3000
#define ROUNDS_AFTER    3               /* passes over its machines after */
#define CAP_MS          60000           /* failure guard, not a target */
#define PRESET          "qemu-virt"

static struct cluster cl;
static bool cl_up;
static char cl_why[CL_ERR];

/* ---- fixture --------------------------------------------------------- */

static void cluster_setup(void)
{
    int i;

    cl_up = false;
    if (cl_init(&cl, LEASE_MS, cl_why) != 0)
        return;
    if (cl_db_start(&cl, "armmap_cluster", cl_why) != 0)
        return;
    for (i = 0; i < 3; i++) {
        if (cl_node_start(&cl, i, cl_why) != 0)
            return;
    }
    if (cl_haproxy_start(&cl, 3, cl_why) != 0)
        return;
    cl_up = true;
}

static void cluster_teardown(void)
{
    cl_stop(&cl);
    cl_up = false;
}

/* Every cluster test starts here: a cluster that did not start fails the
 * test with the reason (CI installs everything it needs). */
static void need_cluster(void)
{
    ck_assert_msg(cl_up, "the cluster did not start: %s", cl_why);
}

static struct armmap_conn *connect_to(const char *hostport)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];
    enum armmap_status st;

    memset(&opt, 0, sizeof(opt));
    opt.tenant = TENANT;
    opt.io_timeout_ms = 60000;
    st = armmap_connect_tcp(hostport, opt, &c, err);
    ck_assert_msg(st == ARMMAP_OK, "connect %s: %s: %s", hostport,
                  armmap_strerror(st), err);
    return c;
}

/* A connection through HAProxy's binary frontend, or NULL. */
static struct armmap_conn *try_haproxy(void)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];

    memset(&opt, 0, sizeof(opt));
    opt.tenant = TENANT;
    opt.io_timeout_ms = 60000;
    if (armmap_connect_tcp(cl.tcp_addr, opt, &c, err) != ARMMAP_OK)
        return NULL;
    return c;
}

/* A live node whose heartbeat was late by a whole lease (a loaded
 * machine: a 1 s lease is short) answers UNAVAILABLE "node lease
 * expired", having applied nothing, until it has registered again. */
static bool lease_lapsed(enum armmap_status st, const struct armmap_conn *c)
{
    return st == ARMMAP_UNAVAILABLE &&
           strstr(armmap_errmsg(c), "node lease expired") != NULL;
}

/* ---- raw frames: what one node answers, MOVED not followed ------------ */

static int raw_open(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct timeval tv = { 30, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
                  "connect 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

static void raw_send(int fd, const Armmap__V1__Request *req)
{
    size_t n = armmap__v1__request__get_packed_size(req), off = 0;
    uint8_t *buf = malloc(4 + n);

    ck_assert_ptr_nonnull(buf);
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    armmap__v1__request__pack(req, buf + 4);
    while (off < 4 + n) {
        ssize_t w = send(fd, buf + off, 4 + n - off, MSG_NOSIGNAL);

        ck_assert_msg(w > 0, "send: %s", strerror(errno));
        off += (size_t)w;
    }
    free(buf);
}

static bool read_full(int fd, uint8_t *p, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, p + got, len - got, 0);

        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

/* The next reply; NULL if the connection ended or timed out (30 s). */
static Armmap__V1__Response *raw_recv(int fd)
{
    Armmap__V1__Response *r;
    uint8_t hdr[4], *body;
    uint32_t n;

    if (!read_full(fd, hdr, 4))
        return NULL;
    n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
        (uint32_t)hdr[2] << 8 | hdr[3];
    ck_assert_uint_le(n, 64u << 20);
    body = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(body);
    if (!read_full(fd, body, n)) {
        free(body);
        return NULL;
    }
    r = armmap__v1__response__unpack(NULL, n, body);
    free(body);
    ck_assert_msg(r != NULL, "a reply did not decode");
    return r;
}

static int raw_code(const Armmap__V1__Response *r)
{
    return r->status != NULL ? (int)r->status->code : 0;
}

/* A session on node @i, after Hello as TENANT. */
static int raw_session(int i)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello hello = ARMMAP__V1__HELLO__INIT;
    Armmap__V1__Response *r;
    int fd = raw_open(cl.node[i].port);

    hello.protocol = 1;
    hello.tenant = (char *)TENANT;
    req.id = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &hello;
    raw_send(fd, &req);
    r = raw_recv(fd);
    ck_assert_msg(r != NULL && raw_code(r) == 0, "Hello to %s failed",
                  cl.node[i].name);
    armmap__v1__response__free_unpacked(r, NULL);
    return fd;
}

/* Describe @machine on the session @fd; its code, and Status.owner in
 * @owner. */
static int raw_describe(int fd, uint64_t machine, char *owner, size_t size)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;
    int code;

    ref.machine = machine;
    req.id = machine + 100;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    raw_send(fd, &req);
    r = raw_recv(fd);
    ck_assert_msg(r != NULL, "no reply to describe %" PRIu64, machine);
    ck_assert_uint_eq(r->id, machine + 100);
    code = raw_code(r);
    snprintf(owner, size, "%s", r->status != NULL && r->status->owner != NULL
                                    ? r->status->owner : "");
    armmap__v1__response__free_unpacked(r, NULL);
    return code;
}

/* ---- suite "files" ----------------------------------------------------- */

START_TEST(test_haproxy_cfg_is_valid)
{
    static char out[16384];
    char why[CL_ERR];
    struct cluster c;
    int rc, n;

    if (cl_init(&c, LEASE_MS, why) != 0 && c.haproxy_bin[0] == '\0')
        ck_abort_msg("%s", why);
    /* cl_init() may have stopped at PostgreSQL: haproxy is all we need. */
    for (n = 1; n <= 3; n += 2) {
        for (int i = 0; i < n; i++) {
            snprintf(c.node[i].name, sizeof(c.node[i].name), "n%d", i + 1);
            c.node[i].port = 7001 + i;
            c.node[i].http_port = 8001 + i;
        }
        rc = cl_haproxy_check(&c, n, out, sizeof(out));
        ck_assert_msg(rc == 0, "haproxy -c with %d nodes: exit %d:\n%s", n,
                      rc, out);
        ck_assert_msg(strstr(out, "Configuration file is valid") != NULL,
                      "%s", out);
        ck_assert_msg(strstr(out, "WARNING") == NULL, "warnings:\n%s", out);
    }
    /* No node: refused, naming what is missing. */
    rc = cl_haproxy_check(&c, 0, out, sizeof(out));
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "ARMMAP_NODE1_HOST") != NULL, "%s", out);
    if (c.dir[0] != '\0')
        cl_stop(&c);
}
END_TEST

/* systemd-analyze verify of an instance of the template, with ExecStart
 * naming the armmapd built next to this program. */
START_TEST(test_unit_template_verifies)
{
    char self[PATH_MAX - 64], unit[PATH_MAX], cmd[4 * PATH_MAX], dir[64];
    static char out[16384];
    size_t got;
    FILE *p;
    int rc;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (access("/usr/bin/systemd-analyze", X_OK) != 0 &&
        access("/bin/systemd-analyze", X_OK) != 0) {
        printf("SKIP unit: systemd-analyze not installed\n");
        return;
    }
    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(unit, sizeof(unit), "%s/../systemd/armmapd@.service", self);
    if (access(unit, R_OK) != 0)
        snprintf(unit, sizeof(unit), "%s/../../systemd/armmapd@.service",
                 self);
    ck_assert_msg(access(unit, R_OK) == 0, "systemd/armmapd@.service not "
                  "found above %s", self);
    snprintf(dir, sizeof(dir), "/tmp/armmap-unit.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd),
             "grep -c '^ExecStart=/usr/local/sbin/armmapd ' '%s' >/dev/null &&"
             " sed 's|^ExecStart=/usr/local/sbin/armmapd |ExecStart=%s/armmapd |'"
             " '%s' > '%s/armmapd@.service' &&"
             " systemd-analyze verify --man=no '%s/armmapd@n1.service' 2>&1;"
             " echo \"exit $?\"; rm -rf '%s'",
             unit, self, unit, dir, dir, dir);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = '\0';
    rc = pclose(p);
    printf("systemd-analyze verify armmapd@n1.service:\n%s", out);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "exit 0\n") != NULL, "%s", out);
    /* Warnings about the unit are failures too (exit status stays 0). */
    ck_assert_msg(strstr(out, "armmapd@") == NULL, "verify warns:\n%s", out);
}
END_TEST

/* ---- suite "cluster" --------------------------------------------------- */

/* armmapd --check-config on deploy/armmapd-node.conf, the database
 * pointed at this cluster's. */
START_TEST(test_node_conf_checks)
{
    char conf[PATH_MAX], db[300], cmd[2 * PATH_MAX + 400], out[4096];
    size_t got;
    FILE *p;
    int rc;

    need_cluster();
    snprintf(conf, sizeof(conf), "%s", cl.cfg);
    *strrchr(conf, '/') = '\0';
    strncat(conf, "/armmapd-node.conf", sizeof(conf) - strlen(conf) - 1);
    snprintf(db, sizeof(db), "%s", cl.db);
    snprintf(cmd, sizeof(cmd),
             "'%s' --config='%s' --node=n1 --database='%s' --check-config 2>&1",
             cl.armmapd, conf, db);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = '\0';
    rc = pclose(p);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
                  "--check-config of %s: %s", conf, out);
}
END_TEST

/* The "id" of a machine in a JSON reply; 0 if none. */
static uint64_t json_id(const char *body)
{
    const char *p = strstr(body, "\"id\":\"");

    return p != NULL ? strtoull(p + 6, NULL, 10) : 0;
}

/* GET /api/v1/machines/@id through HAProxy's HTTP frontend, following one
 * 307, which must name the owner's HTTP address (the database's owner);
 * asserts 200 with the machine. */
static void http_describe(int64_t id)
{
    char body[4096], path[128], loc[256], err[CL_ERR], sql[160];
    int64_t owner;
    int code;

    snprintf(path, sizeof(path), "/api/v1/machines/%" PRId64, id);
    code = cl_http(cl.http_port, "GET", path, TENANT, NULL, body,
                   sizeof(body), loc, sizeof(loc));
    if (code == 307) {
        char want[256];

        snprintf(sql, sizeof(sql), "SELECT owner_node FROM machines WHERE"
                 " id = %" PRId64, id);
        ck_assert_msg(cl_sql(&cl, sql, &owner, err), "%s", err);
        ck_assert(owner >= 0 && owner < cl.nnodes);
        snprintf(want, sizeof(want), "http://127.0.0.1:%d%s",
                 cl.node[owner].http_port, path);
        ck_assert_str_eq(loc, want);
        code = cl_http(cl.node[owner].http_port, "GET", path, TENANT, NULL,
                       body, sizeof(body), NULL, 0);
    }
    ck_assert_msg(code == 200, "GET %s: %d %s", path, code, body);
    ck_assert_uint_eq(json_id(body), (uint64_t)id);
}

START_TEST(test_creates_land_on_every_node)
{
    static int64_t rows[3 * 2];
    char body[4096], err[CL_ERR], sql[256];
    struct armmap_machine_list *list = NULL;
    struct armmap_conn *c;
    int64_t total = 0, n;
    long nrows, r;
    int i, code;

    need_cluster();
    for (i = 0; i < NHTTP_CREATES; i++) {
        int64_t deadline = cl_now_ms() + CAP_MS;

        do {
            code = cl_http(cl.http_port, "POST", "/api/v1/machines", TENANT,
                           "{\"preset\":\"" PRESET "\"}", body,
                           sizeof(body), NULL, 0);
        } while (code == 503 && strstr(body, "node lease expired") != NULL &&
                 cl_now_ms() < deadline);
        ck_assert_msg(code == 201, "create %d through HAProxy: %d %s", i,
                      code, body);
        ck_assert_uint_ne(json_id(body), 0);
    }
    /* The binary frontend balances connections: one per create. */
    for (; i < NMACHINES; i++) {
        struct armmap_machine *m = NULL;

        int64_t deadline = cl_now_ms() + CAP_MS;
        enum armmap_status st;

        c = connect_to(cl.tcp_addr);
        while (lease_lapsed(st = armmap_create(c, PRESET, NULL, 0, NULL, &m),
                            c) && cl_now_ms() < deadline) {
            armmap_close(c);
            c = connect_to(cl.tcp_addr);
        }
        ck_assert_msg(st == ARMMAP_OK, "create %d: %s", i, armmap_errmsg(c));
        armmap_machine_free(m);
        armmap_close(c);
    }
    nrows = cl_sql_rows(&cl, "SELECT owner_node, count(*) FROM machines"
                        " WHERE tenant = '" TENANT "' GROUP BY owner_node"
                        " ORDER BY owner_node", 2, rows, 3, err);
    ck_assert_msg(nrows >= 0, "%s", err);
    for (r = 0; r < nrows; r++) {
        printf("creates: node %" PRId64 ": %" PRId64 " machines\n",
               rows[2 * r] + 1, rows[2 * r + 1]);
        ck_assert_msg(rows[2 * r] >= 0, "machines owned by no node");
        total += rows[2 * r + 1];
    }
    ck_assert_int_eq(total, NMACHINES);
    ck_assert_int_eq(nrows, 3);
    for (r = 0; r < 3; r++)
        ck_assert_int_gt(rows[2 * r + 1], 0);

    /* HTTP by machine: the hashed node answers, or 307 to the owner. */
    for (i = 0; i < 30; i++) {
        int64_t id;

        snprintf(sql, sizeof(sql), "SELECT id FROM machines WHERE tenant = '"
                 TENANT "' ORDER BY id OFFSET %d LIMIT 1", i * 31);
        ck_assert_msg(cl_sql(&cl, sql, &id, err), "%s", err);
        http_describe(id);
    }
    n = 0;
    ck_assert(cl_sql(&cl, "SELECT coalesce(sum(last_seq - first_seq + 1), 0)"
                     " FROM event_packs", &n, err));
    ck_assert_int_eq(n, 0);

    /* The list comes from the shared table, whichever node answers. */
    c = connect_to(cl.tcp_addr);
    ck_assert_int_eq(armmap_list(c, &list), ARMMAP_OK);
    ck_assert_uint_eq(list->n, NMACHINES);
    armmap_machine_list_free(list);
    armmap_close(c);
}
END_TEST

/* ---- the load ------------------------------------------------------------ */

struct mstate {
    uint64_t id;
    int phase;                          /* 0..4, see step() */
    uint32_t pfn, va, vva;
};

struct logent {
    uint64_t machine, seq;
    uint32_t op, value;
};

struct worker {
    pthread_t th;
    uint64_t idx;                       /* in the request keys it makes */
    uint64_t nkeys;
    struct mstate m[WORKER_MACHINES];
    size_t nm;
    struct logent *log;
    size_t nlog;
    long changes, reads, creates, reconnects, retries, rounds_after;
    char why_retry[160];                /* the first resend's cause */
    char err[600];                      /* the first failure */
};

static volatile int load_stop;
static volatile int load_killed;

static bool logit(struct worker *w, uint64_t machine, const
                  struct armmap_op_result *r, uint32_t op)
{
    if (w->nlog == MAX_LOG) {
        snprintf(w->err, sizeof(w->err), "log full");
        return false;
    }
    w->log[w->nlog++] = (struct logent){ machine, r->seq, op, r->value };
    w->changes++;
    return true;
}

/* Records why a change failed. */
static bool change_failed(struct worker *w, struct armmap_conn *c,
                          enum armmap_status st, const char *what,
                          uint64_t id)
{
    snprintf(w->err, sizeof(w->err), "%s on machine %" PRIu64 " (after the "
             "kill: %d): %s: %s", what, id, load_killed,
             armmap_strerror(st), c != NULL ? armmap_errmsg(c) : "");
    return false;
}

/* A new connection through HAProxy for a read that lost its connection,
 * or that libarmmap answered MOVED (it could not reach the owner named),
 * and for a change sent again; false after 60 s without one. */
static bool reconnect(struct worker *w, struct armmap_conn **c)
{
    int64_t deadline = cl_now_ms() + CAP_MS;

    armmap_close(*c);
    w->reconnects++;
    while (cl_now_ms() < deadline) {
        *c = try_haproxy();
        if (*c != NULL)
            return true;
        cl_sleep_ms(20);
    }
    *c = NULL;
    snprintf(w->err, sizeof(w->err), "no connection through HAProxy in "
             "60 s");
    return false;
}

static bool translate_ok(struct worker *w, struct armmap_conn **c,
                         struct mstate *m)
{
    int64_t deadline = cl_now_ms() + CAP_MS;

    while (cl_now_ms() < deadline) {
        struct armmap_translate_result *t = NULL;
        enum armmap_status st =
            armmap_translate(*c, m->id, &m->va, 1, 0, false, &t);

        if (st == ARMMAP_OK) {
            bool good = t->n == 1 && t->fault[0] == 0 &&
                        t->pa[0] >> 12 == m->pfn;

            if (!good)
                snprintf(w->err, sizeof(w->err), "machine %" PRIu64
                         ": va 0x%x -> pa 0x%x fault %u, kmapped pfn 0x%x",
                         m->id, m->va, t->pa[0], t->fault[0], m->pfn);
            armmap_translate_result_free(t);
            w->reads++;
            return good;
        }
        if (st < ARMMAP_NO_SOCKET && st != ARMMAP_MOVED &&
            !lease_lapsed(st, *c)) {
            snprintf(w->err, sizeof(w->err), "translate on machine %"
                     PRIu64 ": %s: %s", m->id, armmap_strerror(st),
                     armmap_errmsg(*c));
            return false;
        }
        if (!reconnect(w, c))
            return false;
    }
    snprintf(w->err, sizeof(w->err), "translate on machine %" PRIu64
             " failed for 60 s", m->id);
    return false;
}

/* One change, as a client must make it across a node's death: libarmmap
 * follows MOVED and resends after a lost connection by itself; when it
 * still fails on this side of the socket (the owner a MOVED named cannot
 * be reached: it died, and its lease has not run out yet), the change is
 * sent again with the same request key (armmap_set_request_key()) on a
 * new connection through HAProxy, so it is applied at most once.  A
 * daemon's answer other than OK is a failure. */
struct change {
    const char *what;
    struct mstate *m;
    const struct armmap_op *ops;        /* one op, or a batch of @n */
    size_t n;
    struct armmap_op_result res[3];
    size_t nres;
    struct armmap_machine *made;        /* create */
};

static enum armmap_status send_change(struct armmap_conn *c, struct change *x)
{
    if (x->m == NULL)
        return armmap_create(c, PRESET, NULL, 0, NULL, &x->made);
    if (x->n == 1) {
        x->nres = 1;
        return armmap_op(c, x->m->id, x->ops, &x->res[0]);
    }
    return armmap_batch(c, x->m->id, x->ops, x->n, true, x->res, &x->nres);
}

static bool reconnect(struct worker *w, struct armmap_conn **c);

static bool change(struct worker *w, struct armmap_conn **cp, struct change *x)
{
    uint64_t key = w->idx << 48 | ++w->nkeys;
    int64_t deadline = cl_now_ms() + CAP_MS;
    enum armmap_status st;

    for (;;) {
        armmap_set_request_key(*cp, key);
        st = send_change(*cp, x);
        if (st == ARMMAP_OK)
            return true;
        if ((st < ARMMAP_NO_SOCKET && st != ARMMAP_MOVED &&
             !lease_lapsed(st, *cp)) ||
            cl_now_ms() > deadline)
            return change_failed(w, *cp, st, x->what,
                                 x->m != NULL ? x->m->id : 0);
        if (w->retries++ == 0)
            snprintf(w->why_retry, sizeof(w->why_retry), "%s: %.120s",
                     armmap_strerror(st), armmap_errmsg(*cp));
        if (!reconnect(w, cp))
            return false;
        cl_sleep_ms(20);
    }
}

/* A change of one op on @m, logged; its value in *@value. */
static bool op1(struct worker *w, struct armmap_conn **cp, struct mstate *m,
                const char *what, enum armmap_opcode code, const uint32_t *args,
                uint32_t nargs, uint32_t *value)
{
    struct armmap_op op = { .code = code, .nargs = nargs, .args = args };
    struct change x = { .what = what, .m = m, .ops = &op, .n = 1 };

    if (!change(w, cp, &x) || !logit(w, m->id, &x.res[0], code))
        return false;
    if (value != NULL)
        *value = x.res[0].value;
    return true;
}

/* One step of a machine's cycle: alloc, kmap, translate, a batch of
 * kunmap + free + vmalloc, vfree. */
static bool step(struct worker *w, struct armmap_conn **cp, struct mstate *m)
{
    uint32_t a[2];

    switch (m->phase) {
    case 0:
        a[0] = ARMMAP_ZONE_HIGHMEM;
        a[1] = 0;
        if (!op1(w, cp, m, "alloc", ARMMAP_OP_ALLOC, a, 2, &m->pfn))
            return false;
        break;
    case 1:
        if (!op1(w, cp, m, "kmap", ARMMAP_OP_KMAP, &m->pfn, 1, &m->va))
            return false;
        break;
    case 2:
        if (!translate_ok(w, cp, m))
            return false;
        break;
    case 3: {
        uint32_t a_pfn[1] = { m->pfn }, a_free[2] = { m->pfn, 0 };
        uint32_t a_size[1] = { 8192 };
        struct armmap_op ops[3] = {
            { .code = ARMMAP_OP_KUNMAP, .nargs = 1, .args = a_pfn },
            { .code = ARMMAP_OP_FREE, .nargs = 2, .args = a_free },
            { .code = ARMMAP_OP_VMALLOC, .nargs = 1, .args = a_size },
        };
        struct change x = { .what = "batch", .m = m, .ops = ops, .n = 3 };
        size_t i;

        if (!change(w, cp, &x))
            return false;
        for (i = 0; i < 3; i++) {
            if (i >= x.nres || x.res[i].status != ARMMAP_OK) {
                snprintf(w->err, sizeof(w->err), "batch on machine %" PRIu64
                         ": op %zu: %s", m->id, i,
                         i < x.nres ? x.res[i].msg : "not applied");
                return false;
            }
            if (!logit(w, m->id, &x.res[i], ops[i].code))
                return false;
        }
        m->vva = x.res[2].value;
        break;
    }
    default:
        if (!op1(w, cp, m, "vfree", ARMMAP_OP_VFREE, &m->vva, 1, NULL))
            return false;
        break;
    }
    m->phase = (m->phase + 1) % 5;
    return true;
}

static bool create_one(struct worker *w, struct armmap_conn **cp)
{
    struct change x = { .what = "create" };

    if (!change(w, cp, &x))
        return false;
    w->creates++;
    if (w->nm < WORKER_MACHINES)
        w->m[w->nm++] = (struct mstate){ .id = x.made->id };
    armmap_machine_free(x.made);
    return true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct armmap_conn *c = try_haproxy();
    long n = 0;

    if (c == NULL) {
        snprintf(w->err, sizeof(w->err), "no connection through HAProxy");
        return NULL;
    }
    while (!load_stop && w->err[0] == '\0') {
        int killed = load_killed;
        size_t i;

        for (i = 0; i < w->nm && !load_stop; i++) {
            if (!step(w, &c, &w->m[i]))
                goto out;
            if (++n % 40 == 0 && !create_one(w, &c))
                goto out;
        }
        if (killed)
            w->rounds_after++;
    }
out:
    armmap_close(c);
    return NULL;
}

static int cmp_log(const void *a, const void *b)
{
    const struct logent *x = a, *y = b;

    if (x->machine != y->machine)
        return x->machine < y->machine ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every logged change is in the history at its seq with its op and value,
 * and the machine's history holds nothing else. */
/* Prints machine @id's answered changes (@log, @n of them) beside its
 * history (from the database), for a failure's message. */
static void show_machine(uint64_t id, const struct logent *log, size_t n)
{
    static int64_t ev[3 * 4096];
    char sql[160], err[CL_ERR];
    long rows, r;
    size_t k;

    printf("machine %" PRIu64 ": answered OK (seq op value):", id);
    for (k = 0; k < n; k++)
        printf(" %" PRIu64 ":%u:0x%x", log[k].seq, log[k].op, log[k].value);
    /* Events are packed per row (schema 6): the rows' seq ranges. */
    snprintf(sql, sizeof(sql), "SELECT first_seq, last_seq, sum FROM"
             " event_packs WHERE machine = %" PRIu64 " ORDER BY first_seq", id);
    rows = cl_sql_rows(&cl, sql, 3, ev, 4096, err);
    printf("\nmachine %" PRIu64 ": stored rows (seqs sum):", id);
    for (r = 0; r < rows; r++)
        printf(" %" PRId64 "-%" PRId64 ":%016" PRIx64, ev[3 * r],
               ev[3 * r + 1], (uint64_t)ev[3 * r + 2]);
    printf("%s\n", rows < 0 ? err : "");
}

static void compare_history(struct logent *log, size_t n)
{
    struct armmap_conn *c = connect_to(cl.tcp_addr);
    size_t i = 0, machines = 0;

    qsort(log, n, sizeof(*log), cmp_log);
    while (i < n) {
        uint64_t id = log[i].machine, after = 0;
        size_t j = i, k;

        while (j < n && log[j].machine == id)
            j++;
        for (k = i; k < j; k++) {
            if (log[k].seq != k - i + 1)
                show_machine(id, log + i, j - i);
            ck_assert_msg(log[k].seq == k - i + 1, "machine %" PRIu64
                          ": answered seqs are not 1..%zu (seq %" PRIu64
                          " at %zu)", id, j - i, log[k].seq, k - i + 1);
        }
        k = i;
        for (;;) {
            struct armmap_history_query q;
            struct armmap_history *h = NULL;
            size_t e;

            memset(&q, 0, sizeof(q));
            q.after_seq = after;
            ck_assert_msg(armmap_history(c, id, &q, &h) == ARMMAP_OK,
                          "history of %" PRIu64 ": %s", id,
                          armmap_errmsg(c));
            for (e = 0; e < h->n; e++, k++) {
                const struct armmap_event *ev = &h->events[e];

                ck_assert_msg(k < j, "machine %" PRIu64 ": seq %" PRIu64
                              " in the history was never answered OK", id,
                              ev->seq);
                ck_assert_uint_eq(ev->seq, log[k].seq);
                ck_assert_msg((uint32_t)ev->op == log[k].op &&
                              ev->result.value == log[k].value,
                              "machine %" PRIu64 " seq %" PRIu64 ": history "
                              "has op %d value 0x%x, the client was answered"
                              " op %u value 0x%x", id, ev->seq, ev->op,
                              ev->result.value, log[k].op, log[k].value);
            }
            after = h->next_after_seq;
            armmap_history_free(h);
            if (after == 0)
                break;
        }
        ck_assert_msg(k == j, "machine %" PRIu64 ": %zu changes answered OK,"
                      " %zu in the history", id, j - i, k - i);
        machines++;
        i = j;
    }
    armmap_close(c);
    printf("history: %zu changes on %zu machines, each at its seq\n", n,
           machines);
}

/* Machines of node @node under load, spread over the workers. */
static void pick_machines(struct worker *w, int node, size_t *next)
{
    static int64_t ids[LOAD_PER_NODE];
    char sql[256], err[CL_ERR];
    long n, i;

    snprintf(sql, sizeof(sql), "SELECT id FROM machines WHERE tenant = '"
             TENANT "' AND owner_node = '%s' ORDER BY id DESC LIMIT %d",
             cl.node[node].name, LOAD_PER_NODE);
    n = cl_sql_rows(&cl, sql, 1, ids, LOAD_PER_NODE, err);
    ck_assert_msg(n == LOAD_PER_NODE, "%ld machines of %s: %s", n,
                  cl.node[node].name, err);
    for (i = 0; i < n; i++, (*next)++) {
        struct worker *x = &w[*next % NWORKERS];

        x->m[x->nm++] = (struct mstate){ .id = (uint64_t)ids[i] };
    }
}

/* The last failure answer_ms() saw. */
static char answer_err[ARMMAP_ERR_MAX + 32];

/* Describe through HAProxy (libarmmap following MOVED) until it answers
 * OK; the milliseconds since @t0, or -1 after CAP_MS with answer_err. */
static int64_t answer_ms(uint64_t id, int64_t t0)
{
    struct armmap_conn *c = NULL;

    while (cl_now_ms() - t0 < CAP_MS) {
        struct armmap_machine *m = NULL;
        enum armmap_status st;

        if (c == NULL)
            c = try_haproxy();
        if (c == NULL) {
            cl_sleep_ms(10);
            continue;
        }
        st = armmap_describe(c, id, &m);
        armmap_machine_free(m);
        if (st == ARMMAP_OK) {
            armmap_close(c);
            return cl_now_ms() - t0;
        }
        ck_assert_msg(st != ARMMAP_NOT_FOUND, "machine %" PRIu64 " lost: %s",
                      id, armmap_errmsg(c));
        snprintf(answer_err, sizeof(answer_err), "%s: %s",
                 armmap_strerror(st), armmap_errmsg(c));
        if (st >= ARMMAP_NO_SOCKET) {
            armmap_close(c);
            c = NULL;
        }
        cl_sleep_ms(10);
    }
    armmap_close(c);
    return -1;
}

/* Each machine is served by exactly one live node: asked directly, one
 * answers it, every other answers MOVED naming that one. */
static void owned_once(void)
{
    static int64_t ids[4 * NMACHINES];
    char err[CL_ERR], owner[64];
    int fd[CL_MAX_NODES], i, nn = cl.nnodes;
    long n, k;

    n = cl_sql_rows(&cl, "SELECT id FROM machines WHERE tenant = '" TENANT
                    "' AND destroyed IS NULL ORDER BY id", 1, ids,
                    4 * NMACHINES, err);
    ck_assert_msg(n >= NMACHINES, "%ld machines: %s", n, err);
    ck_assert_int_le(nn, CL_MAX_NODES);
    for (i = 0; i < nn; i++)
        fd[i] = cl.node[i].pid > 0 ? raw_session(i) : -1;
    for (k = 0; k < n; k++) {
        int served = -1;
        char moved_to[CL_MAX_NODES][64];

        for (i = 0; i < nn; i++) {
            int code;

            if (fd[i] < 0)
                continue;
            code = raw_describe(fd[i], (uint64_t)ids[k], owner,
                                sizeof(owner));
            for (int64_t t = cl_now_ms();
                 code == ARMMAP_UNAVAILABLE && cl_now_ms() - t < CAP_MS;) {
                cl_sleep_ms(50);        /* a lapsed lease: until renewed */
                code = raw_describe(fd[i], (uint64_t)ids[k], owner,
                                    sizeof(owner));
            }
            if (code == 0) {
                ck_assert_msg(served < 0, "machine %" PRId64 " served by "
                              "%s and %s", ids[k], cl.node[served].name,
                              cl.node[i].name);
                served = i;
                moved_to[i][0] = '\0';
            } else {
                ck_assert_msg(code == ARMMAP_MOVED, "machine %" PRId64
                              " at %s: code %d", ids[k], cl.node[i].name,
                              code);
                snprintf(moved_to[i], sizeof(moved_to[i]), "%s", owner);
            }
        }
        ck_assert_msg(served >= 0, "machine %" PRId64 " served by no node",
                      ids[k]);
        for (i = 0; i < nn; i++) {
            if (fd[i] >= 0 && i != served)
                ck_assert_str_eq(moved_to[i], cl.node[served].addr);
        }
    }
    for (i = 0; i < nn; i++) {
        if (fd[i] >= 0)
            close(fd[i]);
    }
    printf("ownership: %ld machines, each served by exactly one node\n", n);
}

START_TEST(test_kill_under_load_loses_nothing)
{
    static struct worker w[NWORKERS];
    static int64_t victims[NMACHINES];
    struct logent *all;
    char err[CL_ERR], sql[256];
    size_t next = 0, nall = 0;
    int64_t t0, first_ms, all_ms = 0, n, guard;
    long nvictims, i, k;

    need_cluster();
    memset(w, 0, sizeof(w));
    for (i = 0; i < 3; i++)
        pick_machines(w, (int)i, &next);
    snprintf(sql, sizeof(sql), "SELECT id FROM machines WHERE tenant = '"
             TENANT "' AND owner_node = '%s' ORDER BY id",
             cl.node[VICTIM].name);
    nvictims = cl_sql_rows(&cl, sql, 1, victims, NMACHINES, err);
    ck_assert_msg(nvictims > LOAD_PER_NODE, "%s", err);

    load_stop = 0;
    load_killed = 0;
    for (i = 0; i < NWORKERS; i++) {
        w[i].idx = (uint64_t)i + 1;
        w[i].log = calloc(MAX_LOG, sizeof(*w[i].log));
        ck_assert_ptr_nonnull(w[i].log);
        ck_assert_int_eq(pthread_create(&w[i].th, NULL, worker_main, &w[i]),
                         0);
    }
    cl_sleep_ms(PRE_KILL_MS);
    t0 = cl_now_ms();
    cl_node_kill(&cl, VICTIM, SIGKILL);
    load_killed = 1;
    /* The first machine of the victim not under load: failover time. */
    first_ms = answer_ms((uint64_t)victims[0], t0);
    ck_assert_msg(first_ms >= 0, "no machine of the killed node answered "
                  "within %d s (last: %s)", CAP_MS / 1000, answer_err);
    /* Load goes on until every worker went over its machines (a third of
     * them the victim's) ROUNDS_AFTER times since the kill. */
    for (guard = cl_now_ms(); cl_now_ms() - guard < 3 * CAP_MS / 2;) {
        bool done = true, failed = false;

        for (i = 0; i < NWORKERS; i++) {
            done = done && w[i].rounds_after >= ROUNDS_AFTER;
            failed = failed || w[i].err[0] != '\0';
        }
        if (done || failed)
            break;
        cl_sleep_ms(50);
    }
    load_stop = 1;
    for (i = 0; i < NWORKERS; i++)
        pthread_join(w[i].th, NULL);
    for (i = 0; i < NWORKERS; i++) {
        printf("worker %ld: %ld changes, %ld translates, %ld creates, %ld "
               "reconnects, %ld changes sent again with their key (first: "
               "%s), %ld rounds after the kill%s%s\n", i, w[i].changes,
               w[i].reads, w[i].creates, w[i].reconnects, w[i].retries,
               w[i].why_retry, w[i].rounds_after, w[i].err[0] ? ": " : "",
               w[i].err);
    }
    for (i = 0; i < NWORKERS; i++)
        ck_assert_msg(w[i].err[0] == '\0', "worker %ld: %s", i, w[i].err);
    for (i = 0; i < NWORKERS; i++)
        ck_assert_int_ge(w[i].rounds_after, ROUNDS_AFTER);
    /* Every machine of the victim answers through HAProxy again: those it
     * had before the load, and those created on it during the load. */
    n = cl_sql_rows(&cl, sql, 1, victims + nvictims, NMACHINES - nvictims,
                    err);
    ck_assert_msg(n >= 0, "%s", err);
    nvictims += (long)n;
    for (k = 0; k < nvictims; k++) {
        int64_t ms = answer_ms((uint64_t)victims[k], t0);

        ck_assert_msg(ms >= 0, "machine %" PRId64 " of %s did not answer "
                      "through HAProxy within %d s of the kill (last: %s)",
                      victims[k], cl.node[VICTIM].name, CAP_MS / 1000,
                      answer_err);
        all_ms = ms;
    }
    /* And over HTTP: the hash no longer picks the dead node. */
    for (k = 0; k < nvictims; k += nvictims / 10 + 1)
        http_describe(victims[k]);
    printf("failover (lease %d ms): first machine of %s answered %" PRId64
           " ms after kill -9, all of them (%ld asks) by %" PRId64 " ms\n",
           LEASE_MS, cl.node[VICTIM].name, first_ms, nvictims, all_ms);

    for (i = 0; i < NWORKERS; i++)
        nall += w[i].nlog;
    all = malloc((nall + 1) * sizeof(*all));
    ck_assert_ptr_nonnull(all);
    for (i = 0, nall = 0; i < NWORKERS; i++) {
        memcpy(all + nall, w[i].log, w[i].nlog * sizeof(*all));
        nall += w[i].nlog;
        free(w[i].log);
    }
    compare_history(all, nall);
    ck_assert(cl_sql(&cl, "SELECT coalesce(sum(last_seq - first_seq + 1), 0)"
                     " FROM event_packs", &n, err));
    ck_assert_int_eq(n, (int64_t)nall);
    free(all);

    /* Nothing is left to the dead node; nothing is served twice. */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM machines WHERE"
             " destroyed IS NULL AND owner_node = '%s'",
             cl.node[VICTIM].name);
    ck_assert(cl_sql(&cl, sql, &n, err));
    ck_assert_int_eq(n, 0);
    owned_once();
    ck_assert(cl_sql(&cl, "SELECT count(*) FROM machines m WHERE"
                     " destroyed IS NULL AND NOT EXISTS (SELECT 1 FROM nodes"
                     " n WHERE n.name = m.owner_node AND n.epoch ="
                     " m.owner_epoch AND n.expires_at > now())", &n, err));
    ck_assert_int_eq(n, 0);
}
END_TEST

/* ---- fencing ------------------------------------------------------------- */

#define FROZEN 2                        /* n3 is frozen */
#define CLAIMER 0                       /* n1 claims its machine */

START_TEST(test_frozen_node_does_not_write)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Response *r;
    struct armmap_op_result res;
    struct armmap_conn *c;
    uint32_t size = 5 * 4096;           /* a vmalloc nothing else asks for */
    char sql[300], err[CL_ERR], owner[64];
    int64_t id, seq, n, deadline, expired = 0, owner_node, code;
    int fd;

    need_cluster();
    ck_assert_int_gt(cl.node[FROZEN].pid, 0);
    snprintf(sql, sizeof(sql), "SELECT id FROM machines WHERE tenant = '"
             TENANT "' AND owner_node = '%s' ORDER BY id LIMIT 1",
             cl.node[FROZEN].name);
    ck_assert_msg(cl_sql(&cl, sql, &id, err), "%s", err);
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(last_seq), 0) FROM"
             " event_packs WHERE machine = %" PRId64, id);
    ck_assert(cl_sql(&cl, sql, &seq, err));

    fd = raw_session(FROZEN);
    kill(cl.node[FROZEN].pid, SIGSTOP);
    /* A change waits in the frozen node's socket. */
    op.machine = (uint64_t)id;
    op.code = ARMMAP__V1__OP_CODE__OP_VMALLOC;
    op.n_args = 1;
    op.args = &size;
    req.id = 4242;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    raw_send(fd, &req);

    /* Its lease runs out by the database's clock. */
    snprintf(sql, sizeof(sql), "SELECT (expires_at < now())::int FROM nodes"
             " WHERE name = '%s'", cl.node[FROZEN].name);
    for (deadline = cl_now_ms() + CAP_MS; cl_now_ms() < deadline;) {
        ck_assert_msg(cl_sql(&cl, sql, &expired, err), "%s", err);
        if (expired)
            break;
        cl_sleep_ms(50);
    }
    ck_assert_msg(expired, "the lease of a stopped node did not expire");

    /* Another node claims the machine and changes it. */
    c = connect_to(cl.node[CLAIMER].addr);
    for (deadline = cl_now_ms() + CAP_MS;;) {
        enum armmap_status st =
            armmap_alloc(c, (uint64_t)id, ARMMAP_ZONE_NORMAL, 0, &res);

        if (st == ARMMAP_OK)
            break;
        ck_assert_msg(lease_lapsed(st, c) && cl_now_ms() < deadline,
                      "alloc at %s: %s", cl.node[CLAIMER].name,
                      armmap_errmsg(c));
        cl_sleep_ms(50);
    }
    ck_assert_uint_eq(res.seq, (uint64_t)seq + 1);
    armmap_close(c);
    snprintf(sql, sizeof(sql), "SELECT owner_node FROM machines WHERE id = %"
             PRId64, id);
    ck_assert(cl_sql(&cl, sql, &owner_node, err));
    ck_assert_int_eq(owner_node, CLAIMER);

    /* The frozen node resumes: its waiting change must not be written. */
    kill(cl.node[FROZEN].pid, SIGCONT);
    r = raw_recv(fd);
    if (r != NULL) {
        code = raw_code(r);
        printf("fencing: the resumed node answered code %" PRId64 ": %s\n",
               code, r->status != NULL ? r->status->message : "");
        ck_assert_msg(code != 0, "a node past its lease applied a change to "
                      "a machine another node owns");
        armmap__v1__response__free_unpacked(r, NULL);
    } else {
        printf("fencing: the resumed node closed the connection\n");
    }
    close(fd);
    snprintf(sql, sizeof(sql), "SELECT coalesce(sum(last_seq - first_seq"
             " + 1), 0) FROM event_packs WHERE machine = %" PRId64, id);
    ck_assert(cl_sql(&cl, sql, &n, err));
    ck_assert_int_eq(n, seq + 1);
    /* The one event after seq is the claimer's alloc (events are packed
     * per row: read through the history). */
    {
        struct armmap_conn *hc = connect_to(cl.tcp_addr);
        struct armmap_history_query q;
        struct armmap_history *h = NULL;

        memset(&q, 0, sizeof(q));
        q.after_seq = (uint64_t)seq;
        ck_assert_msg(armmap_history(hc, (uint64_t)id, &q, &h) == ARMMAP_OK,
                      "%s", armmap_errmsg(hc));
        ck_assert_uint_eq(h->n, 1);
        ck_assert_int_eq(h->events[0].op, ARMMAP_OP_ALLOC);
        armmap_history_free(h);
        armmap_close(hc);
    }

    /* And it does not serve the machine any more: MOVED to the claimer
     * (UNAVAILABLE while it has no lease of its own). */
    fd = raw_session(FROZEN);
    deadline = cl_now_ms() + CAP_MS;
    do {                                /* asked at least once */
        code = raw_describe(fd, (uint64_t)id, owner, sizeof(owner));
        ck_assert_msg(code != 0, "the resumed node still serves machine %"
                      PRId64, id);
        if (code == ARMMAP_MOVED)
            break;
        ck_assert_int_eq(code, ARMMAP_UNAVAILABLE);
        cl_sleep_ms(50);
    } while (cl_now_ms() < deadline);
    ck_assert_int_eq(code, ARMMAP_MOVED);
    ck_assert_str_eq(owner, cl.node[CLAIMER].addr);
    close(fd);
}
END_TEST

/* Last: every node stopped (SIGTERM: a clean exit, where a sanitizer
 * build reports leaks); no node's log holds a sanitizer report or an
 * error (a failover, a claim and a fenced write are warnings and info). */
START_TEST(test_nodes_logged_no_error)
{
    int i;

    need_cluster();
    for (i = 0; i < cl.nnodes; i++) {
        static char log[1 << 20];
        FILE *f;
        size_t n;

        cl_node_kill(&cl, i, SIGTERM);
        f = fopen(cl.node[i].log, "r");
        ck_assert_ptr_nonnull(f);
        n = fread(log, 1, sizeof(log) - 1, f);
        fclose(f);
        log[n] = '\0';
        ck_assert_msg(strstr(log, "Sanitizer") == NULL &&
                      strstr(log, "runtime error") == NULL,
                      "node %s:\n%s", cl.node[i].name, log);
        {
            const char *e = strstr(log, "armmapd: error:");
            const char *end = e != NULL ? strchr(e, '\n') : NULL;

            ck_assert_msg(e == NULL, "node %s logged: %.*s",
                          cl.node[i].name,
                          (int)(end != NULL ? end - e : 300), e);
        }
    }
}
END_TEST

static Suite *files_suite(void)
{
    Suite *s = suite_create("files");
    TCase *tc = tcase_create("files");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_haproxy_cfg_is_valid);
    tcase_add_test(tc, test_unit_template_verifies);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");

    /* One cluster for the case, started in the runner's process before
     * the first test; the tests run in this order. */
    tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_node_conf_checks);
    tcase_add_test(tc, test_creates_land_on_every_node);
    tcase_add_test(tc, test_kill_under_load_loses_nothing);
    tcase_add_test(tc, test_frozen_node_does_not_write);
    tcase_add_test(tc, test_nodes_logged_no_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(files_suite());
    int failed;

    /* What a test printed survives its failing assertion. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    srunner_add_suite(sr, cluster_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
