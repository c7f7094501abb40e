/* tests/cluster/cluster.h - a real armmapd cluster on loopback, for tests.
 *
 * Starts what docs/deploy.md describes, on one host: a private PostgreSQL
 * server (tests/common/pgserver.c), armmapd nodes n1, n2, ... each with
 * --node, --listen and --http on free loopback ports and --lease-ms, and
 * Debian's HAProxy running deploy/haproxy.cfg with the nodes' addresses in
 * its environment (ARMMAP_NODEn_*) and a stats socket to read server
 * states from.  Shared by tests/cluster/check_cluster.c and
 * tests/bench/bench_cluster.c: plain C, POSIX and libpq, no Check; every
 * function reports failure through its return value and an @err buffer
 * (at least CL_ERR bytes), and every wait is bounded.
 *
 * Binaries: armmapd next to the calling program (build/ or build/san/);
 * deploy/haproxy.cfg in the nearest ancestor directory of it that holds
 * one; haproxy at /usr/sbin/haproxy or on $PATH.
 */
#ifndef ARMMAP_TESTS_CLUSTER_CLUSTER_H
#define ARMMAP_TESTS_CLUSTER_CLUSTER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/pgserver.h"

#define CL_MAX_NODES 3
#define CL_ERR       512

struct cl_node {
    char name[8];                       /* "n1" ... */
    int port;                           /* --listen 127.0.0.1:port */
    int http_port;                      /* --http 127.0.0.1:http_port */
    char addr[32];                      /* "127.0.0.1:port" */
    char dir[96];                       /* its --state-dir */
    char log[128];                      /* its stderr */
    pid_t pid;                          /* 0: not running */
};

struct cluster {
    char dir[64];                       /* haproxy's files; nodes' dirs */
    struct pgserver pg;
    bool pg_up;
    char db[256];                       /* the nodes' --database */
    int lease_ms;
    int nnodes;                         /* started at least once */
    struct cl_node node[CL_MAX_NODES];
    pid_t haproxy;
    int tcp_port, http_port;            /* HAProxy's two frontends */
    char tcp_addr[32];                  /* "127.0.0.1:tcp_port" */
    char stats[96], halog[96], cfg[PATH_MAX];
    char armmapd[PATH_MAX], haproxy_bin[PATH_MAX];
};

/**
 * cl_init() - find the binaries and deploy/haproxy.cfg, make a directory.
 * @lease_ms: the nodes' --lease-ms.
 * Return: 0, or -1 with @err (haproxy or the PostgreSQL server missing).
 */
int cl_init(struct cluster *c, int lease_ms, char *err);

/** cl_db_start() - PostgreSQL and an empty database @name for the nodes. */
int cl_db_start(struct cluster *c, const char *name, char *err);

/**
 * cl_node_start() - start node @i (name "n<i+1>"), waiting (at most 60 s)
 * until GET /api/v1/health answers 200 on its HTTP port.
 * A node started again keeps its name, ports and directory.
 * Return: 0, or -1 with @err (its log's tail when it exited).
 */
int cl_node_start(struct cluster *c, int i, char *err);

/** cl_node_kill() - send @sig (SIGKILL, SIGTERM) to node @i and reap it. */
void cl_node_kill(struct cluster *c, int i, int sig);

/** cl_node_log() - the tail (last 3 KiB) of node @i's stderr, static. */
const char *cl_node_log(const struct cluster *c, int i);

/**
 * cl_haproxy_env() - put the ARMMAP_* variables deploy/haproxy.cfg reads
 * into this process's environment, for @n nodes (0 .. n-1).
 */
void cl_haproxy_env(const struct cluster *c, int n);

/**
 * cl_haproxy_start() - HAProxy in front of the first @n nodes, waiting (at
 * most 30 s) until it accepts on both frontends and the stats socket
 * shows each node UP in armmap_nodes_tcp and armmap_nodes_http.
 * Return: 0, or -1 with @err.
 */
int cl_haproxy_start(struct cluster *c, int n, char *err);

/**
 * cl_haproxy_check() - `haproxy -c -f deploy/haproxy.cfg` with @n nodes in
 * the environment.
 * @out: receives its output (@size bytes).
 * Return: its exit status, -1 if it did not run.
 */
int cl_haproxy_check(struct cluster *c, int n, char *out, size_t size);

/**
 * cl_haproxy_status() - a server's status in HAProxy ("UP", "DOWN",
 * "UP 1/2", ...) from the stats socket's "show stat".
 * Return: true with @status filled, false if not found.
 */
bool cl_haproxy_status(const struct cluster *c, const char *backend,
                       const char *server, char *status, size_t size);

/** cl_stop() - stop HAProxy, every node and PostgreSQL; remove the files. */
void cl_stop(struct cluster *c);

/**
 * cl_http() - one HTTP/1.1 request to 127.0.0.1:@port (Connection: close,
 * X-Armmap-Tenant: @tenant), 30 s at most.  One thread at a time (the
 * response is read into a static buffer).
 * @body: NULL for none.  @out: receives the response body (NUL-ended,
 * truncated to @size); @location, if not NULL, its Location header.
 * Return: the status code, -1 if there was no response.
 */
int cl_http(int port, const char *method, const char *path,
            const char *tenant, const char *body, char *out, size_t size,
            char *location, size_t locsize);

/**
 * cl_sql() - run @sql on the cluster's database; the first column of the
 * first row as a number.
 * Return: true with *@out set, false with @err (no row, an error).
 */
bool cl_sql(const struct cluster *c, const char *sql, int64_t *out,
            char *err);

/**
 * cl_sql_rows() - run @sql; each row's first @ncols columns (numbers; a
 * text column is read as its node index, "n2" -> 1, see cl_node_index())
 * into @vals, row after row, at most @max rows.
 * Return: the rows, or -1 with @err.
 */
long cl_sql_rows(const struct cluster *c, const char *sql, int ncols,
                 int64_t *vals, long max, char *err);

/** cl_node_index() - "n3" -> 2; -1 for anything else. */
int cl_node_index(const char *name);

/** cl_free_port() - a TCP port on 127.0.0.1 nobody listens on just now. */
int cl_free_port(void);

/** cl_now_ms() - CLOCK_MONOTONIC in milliseconds. */
int64_t cl_now_ms(void);

/** cl_sleep_ms() - sleep @ms: a polling loop's step. */
void cl_sleep_ms(long ms);

#endif /* ARMMAP_TESTS_CLUSTER_CLUSTER_H */
