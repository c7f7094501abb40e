/* tests/cluster/cluster.c - a real armmapd cluster on loopback (cluster.h).
 *
 * Processes are started with fork() and exec(), their output going to
 * files in the cluster's directory, and found again only by the pids kept
 * here: cl_stop() ends exactly those.  Readiness is observed, never
 * guessed: a node is up when its health check answers 200, HAProxy when
 * its stats socket shows every node UP.
 */
#include "cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../common/spawn.h"

#define NODE_START_MS    60000
#define HAPROXY_START_MS 30000
#define STOP_MS          10000
#define IO_TIMEOUT_S     30

int64_t cl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cl_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

int cl_free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, len) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

int cl_node_index(const char *name)
{
    if (name == NULL || name[0] != 'n' || name[1] < '1' ||
        name[1] > '0' + CL_MAX_NODES || name[2] != '\0')
        return -1;
    return name[1] - '1';
}

/* The directory of this program, in @buf. */
static bool self_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    char *slash;

    if (n <= 0)
        return false;
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    return true;
}

/* deploy/haproxy.cfg in the nearest ancestor of @dir holding one. */
static bool find_cfg(const char *dir, char *cfg, size_t size)
{
    char d[PATH_MAX - 32];
    char *slash;
    int up;

    snprintf(d, sizeof(d), "%s", dir);
    for (up = 0; up < 5; up++) {
        snprintf(cfg, size, "%s/deploy/haproxy.cfg", d);
        if (access(cfg, R_OK) == 0)
            return true;
        slash = strrchr(d, '/');
        if (slash == NULL || slash == d)
            return false;
        *slash = '\0';
    }
    return false;
}

static bool find_haproxy(char *buf, size_t size)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    char *save = NULL, *d;

    snprintf(dirs, sizeof(dirs), "/usr/sbin:%s", path != NULL ? path : "");
    for (d = strtok_r(dirs, ":", &save); d != NULL;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, size, "%s/haproxy", d);
        if (d[0] != '\0' && access(buf, X_OK) == 0)
            return true;
    }
    return false;
}

int cl_init(struct cluster *c, int lease_ms, char *err)
{
    char self[PATH_MAX - 64], why[256];

    memset(c, 0, sizeof(*c));
    c->lease_ms = lease_ms;
    if (!self_dir(self, sizeof(self))) {
        snprintf(err, CL_ERR, "cannot read /proc/self/exe");
        return -1;
    }
    snprintf(c->armmapd, sizeof(c->armmapd), "%s/armmapd", self);
    if (access(c->armmapd, X_OK) != 0) {
        snprintf(err, CL_ERR, "%.400s: %s (make it first)", c->armmapd,
                 strerror(errno));
        return -1;
    }
    if (!find_cfg(self, c->cfg, sizeof(c->cfg))) {
        snprintf(err, CL_ERR, "no deploy/haproxy.cfg above %.400s", self);
        return -1;
    }
    if (!find_haproxy(c->haproxy_bin, sizeof(c->haproxy_bin))) {
        snprintf(err, CL_ERR, "haproxy is not installed (apt-get install "
                 "haproxy, or sh tests/deps.sh)");
        return -1;
    }
    if (!pgserver_available(why)) {
        snprintf(err, CL_ERR, "%s", why);
        return -1;
    }
    snprintf(c->dir, sizeof(c->dir), "/tmp/armmap-cluster.XXXXXX");
    if (mkdtemp(c->dir) == NULL) {
        snprintf(err, CL_ERR, "mkdtemp: %s", strerror(errno));
        c->dir[0] = '\0';
        return -1;
    }
    snprintf(c->stats, sizeof(c->stats), "%s/haproxy.stats", c->dir);
    snprintf(c->halog, sizeof(c->halog), "%s/haproxy.log", c->dir);
    return 0;
}

int cl_db_start(struct cluster *c, const char *name, char *err)
{
    char why[256];

    if (pgserver_start(&c->pg, why) != 0) {
        snprintf(err, CL_ERR, "PostgreSQL: %s", why);
        pgserver_stop(&c->pg);
        return -1;
    }
    c->pg_up = true;
    if (pgserver_create_db(&c->pg, name, c->db) != 0) {
        snprintf(err, CL_ERR, "CREATE DATABASE %s: %s", name, c->db);
        return -1;
    }
    return 0;
}

const char *cl_node_log(const struct cluster *c, int i)
{
    static char buf[3073];
    FILE *f = fopen(c->node[i].log, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f == NULL)
        return buf;
    if (fseek(f, -(long)(sizeof(buf) - 1), SEEK_END) != 0)
        rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Gives node @i its name, ports and directory the first time. */
static int node_prepare(struct cluster *c, int i, char *err)
{
    struct cl_node *n = &c->node[i];
    char base[sizeof(c->dir)];

    if (n->name[0] != '\0')
        return 0;
    snprintf(n->name, sizeof(n->name), "n%c", '1' + i);
    n->port = cl_free_port();
    n->http_port = cl_free_port();
    while (n->http_port == n->port)
        n->http_port = cl_free_port();
    if (n->port <= 0 || n->http_port <= 0) {
        snprintf(err, CL_ERR, "no free loopback port");
        return -1;
    }
    snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%d", n->port);
    memcpy(base, c->dir, sizeof(base));
    snprintf(n->dir, sizeof(n->dir), "%s/n%c", base, '1' + i);
    snprintf(n->log, sizeof(n->log), "%s/n%c.log", base, '1' + i);
    if (mkdir(n->dir, 0700) != 0) {
        snprintf(err, CL_ERR, "mkdir %s: %s", n->dir, strerror(errno));
        return -1;
    }
    if (i + 1 > c->nnodes)
        c->nnodes = i + 1;
    return 0;
}

int cl_node_start(struct cluster *c, int i, char *err)
{
    struct cl_node *n = &c->node[i];
    char a_dir[128], a_db[300], a_node[32], a_listen[48], a_http[48];
    char a_lease[32], body[256];
    char *argv[] = { c->armmapd, a_dir, a_db, a_node, a_listen, a_http,
                     a_lease, (char *)"--log-level=info", NULL };
    int64_t deadline;

    if (node_prepare(c, i, err) != 0)
        return -1;
    snprintf(a_dir, sizeof(a_dir), "--state-dir=%s", n->dir);
    snprintf(a_db, sizeof(a_db), "--database=%s", c->db);
    snprintf(a_node, sizeof(a_node), "--node=%s", n->name);
    snprintf(a_listen, sizeof(a_listen), "--listen=%s", n->addr);
    snprintf(a_http, sizeof(a_http), "--http=127.0.0.1:%d", n->http_port);
    snprintf(a_lease, sizeof(a_lease), "--lease-ms=%d", c->lease_ms);
    n->pid = fork();
    if (n->pid < 0) {
        snprintf(err, CL_ERR, "fork: %s", strerror(errno));
        n->pid = 0;
        return -1;
    }
    if (n->pid == 0) {
        int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        spawn_exec(argv);
        _exit(127);
    }
    deadline = cl_now_ms() + (int64_t)NODE_START_MS * spawn_time_scale();
    while (cl_now_ms() < deadline) {
        int status;

        if (cl_http(n->http_port, "GET", "/api/v1/health", NULL, NULL, body,
                    sizeof(body), NULL, 0) == 200)
            return 0;
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            snprintf(err, CL_ERR, "armmapd %s exited at start (%d): %s",
                     n->name, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     cl_node_log(c, i));
            return -1;
        }
        cl_sleep_ms(20);
    }
    snprintf(err, CL_ERR, "node %s: no 200 from /api/v1/health in %d s: %s",
             n->name, NODE_START_MS / 1000, cl_node_log(c, i));
    return -1;
}

/* True once @pid, not our child, has ended: gone, or a zombie its
 * parent has yet to reap. */
static bool ended(pid_t pid)
{
    char path[64], buf[256];
    const char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return true;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Waits (bounded) for @pid to end; SIGKILL if it does not.  A test run
 * in a forked child ends processes its parent started: those it cannot
 * reap, it watches in /proc. */
static void reap(pid_t pid)
{
    int64_t deadline = cl_now_ms() + STOP_MS;

    while (cl_now_ms() < deadline) {
        pid_t r = waitpid(pid, NULL, WNOHANG);

        if (r == pid || (r < 0 && errno == ECHILD && ended(pid)))
            return;
        cl_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    if (waitpid(pid, NULL, 0) < 0) {
        while (!ended(pid))
            cl_sleep_ms(10);
    }
}

void cl_node_kill(struct cluster *c, int i, int sig)
{
    struct cl_node *n = &c->node[i];

    if (n->pid <= 0)
        return;
    kill(n->pid, sig);
    if (sig == SIGTERM)
        kill(n->pid, SIGCONT);          /* in case it was stopped */
    reap(n->pid);
    n->pid = 0;
}

static void setenv_int(const char *name, int v)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "%d", v);
    setenv(name, buf, 1);
}

void cl_haproxy_env(const struct cluster *c, int n)
{
    char name[64], bind[32];
    int i;

    snprintf(bind, sizeof(bind), "127.0.0.1:%d", c->tcp_port);
    setenv("ARMMAP_TCP_BIND", bind, 1);
    snprintf(bind, sizeof(bind), "127.0.0.1:%d", c->http_port);
    setenv("ARMMAP_HTTP_BIND", bind, 1);
    if (c->stats[0] != '\0')
        setenv("ARMMAP_HAPROXY_STATS", c->stats, 1);
    else
        unsetenv("ARMMAP_HAPROXY_STATS");
    setenv("ARMMAP_HAPROXY_LOG", "stderr", 1);
    unsetenv("ARMMAP_HAPROXY_USER");
    for (i = 0; i < CL_MAX_NODES; i++) {
        const char *const keys[] = { "NAME", "HOST", "PORT", "HTTP_PORT" };
        size_t k;

        for (k = 0; k < 4; k++) {
            snprintf(name, sizeof(name), "ARMMAP_NODE%d_%s", i + 1, keys[k]);
            unsetenv(name);
        }
        if (i >= n)
            continue;
        snprintf(name, sizeof(name), "ARMMAP_NODE%d_NAME", i + 1);
        setenv(name, c->node[i].name, 1);
        snprintf(name, sizeof(name), "ARMMAP_NODE%d_HOST", i + 1);
        setenv(name, "127.0.0.1", 1);
        snprintf(name, sizeof(name), "ARMMAP_NODE%d_PORT", i + 1);
        setenv_int(name, c->node[i].port);
        snprintf(name, sizeof(name), "ARMMAP_NODE%d_HTTP_PORT", i + 1);
        setenv_int(name, c->node[i].http_port);
    }
}

/* Frontend ports, once. */
static void haproxy_ports(struct cluster *c)
{
    if (c->tcp_port != 0)
        return;
    c->tcp_port = cl_free_port();
    do {
        c->http_port = cl_free_port();
    } while (c->http_port == c->tcp_port);
    snprintf(c->tcp_addr, sizeof(c->tcp_addr), "127.0.0.1:%d", c->tcp_port);
}

int cl_haproxy_check(struct cluster *c, int n, char *out, size_t size)
{
    char *argv[] = { c->haproxy_bin, (char *)"-c", (char *)"-f", c->cfg,
                     NULL };
    int pipefd[2], status;
    size_t got = 0;
    pid_t pid;

    haproxy_ports(c);
    if (pipe(pipefd) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        cl_haproxy_env(c, n);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    for (;;) {
        ssize_t r = read(pipefd[0], out + got, size - 1 - got);

        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == size - 1)
            break;
    }
    out[got] = '\0';
    close(pipefd[0]);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* "show stat" from the stats socket into @buf; false if unreachable. */
static bool show_stat(const struct cluster *c, char *buf, size_t size)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { 5, 0 };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    static const char cmd[] = "show stat\n";
    size_t got = 0;

    if (fd < 0)
        return false;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->stats);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        send(fd, cmd, sizeof(cmd) - 1, MSG_NOSIGNAL) !=
            (ssize_t)sizeof(cmd) - 1) {
        close(fd);
        return false;
    }
    for (;;) {
        ssize_t r = recv(fd, buf + got, size - 1 - got, 0);

        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == size - 1)
            break;
    }
    buf[got] = '\0';
    close(fd);
    return got > 0;
}

bool cl_haproxy_status(const struct cluster *c, const char *backend,
                       const char *server, char *status, size_t size)
{
    static char buf[65536];
    char *line, *save = NULL;

    if (!show_stat(c, buf, sizeof(buf)))
        return false;
    /* CSV: pxname,svname, ... the 18th field is status. */
    for (line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[18], *p = line;
        int k;

        for (k = 0; k < 18 && p != NULL; k++) {
            f[k] = p;
            p = strchr(p, ',');
            if (p != NULL)
                *p++ = '\0';
        }
        if (k == 18 && strcmp(f[0], backend) == 0 &&
            strcmp(f[1], server) == 0) {
            snprintf(status, size, "%s", f[17]);
            return true;
        }
    }
    return false;
}

/* True when every one of the first @n nodes is UP in both backends. */
static bool all_up(const struct cluster *c, int n)
{
    static const char *const be[] = { "armmap_nodes_tcp",
                                      "armmap_nodes_http" };
    char st[64];
    int i, b;

    for (i = 0; i < n; i++) {
        for (b = 0; b < 2; b++) {
            if (!cl_haproxy_status(c, be[b], c->node[i].name, st,
                                   sizeof(st)) ||
                strcmp(st, "UP") != 0)
                return false;
        }
    }
    return true;
}

int cl_haproxy_start(struct cluster *c, int n, char *err)
{
    char *argv[] = { c->haproxy_bin, (char *)"-db", (char *)"-f", c->cfg,
                     NULL };
    int64_t deadline;

    haproxy_ports(c);
    c->haproxy = fork();
    if (c->haproxy < 0) {
        snprintf(err, CL_ERR, "fork: %s", strerror(errno));
        c->haproxy = 0;
        return -1;
    }
    if (c->haproxy == 0) {
        int fd = open(c->halog, O_WRONLY | O_CREAT | O_APPEND, 0600);

        cl_haproxy_env(c, n);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    deadline = cl_now_ms() + HAPROXY_START_MS;
    while (cl_now_ms() < deadline) {
        if (waitpid(c->haproxy, NULL, WNOHANG) == c->haproxy) {
            c->haproxy = 0;
            snprintf(err, CL_ERR, "haproxy exited at start (see %s)",
                     c->halog);
            return -1;
        }
        if (all_up(c, n))
            return 0;
        cl_sleep_ms(50);
    }
    snprintf(err, CL_ERR, "haproxy: not every node UP in %d s (see %s)",
             HAPROXY_START_MS / 1000, c->halog);
    return -1;
}

void cl_stop(struct cluster *c)
{
    char cmd[128];
    int i;

    if (c->haproxy > 0) {
        kill(c->haproxy, SIGTERM);
        reap(c->haproxy);
        c->haproxy = 0;
    }
    for (i = 0; i < CL_MAX_NODES; i++)
        cl_node_kill(c, i, SIGTERM);
    if (c->pg_up)
        pgserver_stop(&c->pg);
    c->pg_up = false;
    if (c->dir[0] != '\0' && getenv("CLUSTER_KEEP") == NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", c->dir);
    }
    c->dir[0] = '\0';
}

/* ---- HTTP ------------------------------------------------------------ */

static int http_connect(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct timeval tv = { IO_TIMEOUT_S, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Copies header @name's value (case-insensitive) from @head to @out. */
static void header_value(const char *head, const char *name, char *out,
                         size_t size)
{
    size_t len = strlen(name);
    const char *p = head;

    out[0] = '\0';
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            const char *v = p + len + 1, *end;

            while (*v == ' ')
                v++;
            end = strpbrk(v, "\r\n");
            if (end == NULL)
                end = v + strlen(v);
            snprintf(out, size, "%.*s", (int)(end - v), v);
            return;
        }
    }
}

int cl_http(int port, const char *method, const char *path,
            const char *tenant, const char *body, char *out, size_t size,
            char *location, size_t locsize)
{
    static char resp[1 << 20];
    char req[2048];
    size_t got = 0, blen = body != NULL ? strlen(body) : 0;
    int fd = http_connect(port), n, code = -1;
    char *sep;

    if (out != NULL && size > 0)
        out[0] = '\0';
    if (location != NULL && locsize > 0)
        location[0] = '\0';
    if (fd < 0)
        return -1;
    n = snprintf(req, sizeof(req),
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Connection: close\r\nX-Armmap-Tenant: %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 method, path, port, tenant != NULL ? tenant : "default",
                 blen);
    if (n <= 0 || (size_t)n >= sizeof(req) || !send_all(fd, req, (size_t)n) ||
        (blen > 0 && !send_all(fd, body, blen))) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);

        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == sizeof(resp) - 1)
            break;
    }
    close(fd);
    resp[got] = '\0';
    if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
        return -1;
    sep = strstr(resp, "\r\n\r\n");
    if (sep != NULL) {
        *sep = '\0';
        if (out != NULL && size > 0)
            snprintf(out, size, "%s", sep + 4);
    }
    if (location != NULL && locsize > 0)
        header_value(resp, "Location", location, locsize);
    return code;
}

/* ---- the database ------------------------------------------------------ */

bool cl_sql(const struct cluster *c, const char *sql, int64_t *out,
            char *err)
{
    int64_t v;
    long n = cl_sql_rows(c, sql, 1, &v, 1, err);

    if (n < 0)
        return false;
    if (n == 0) {
        snprintf(err, CL_ERR, "no row from: %s", sql);
        return false;
    }
    *out = v;
    return true;
}

long cl_sql_rows(const struct cluster *c, const char *sql, int ncols,
                 int64_t *vals, long max, char *err)
{
    PGconn *pc = PQconnectdb(c->db);
    PGresult *r;
    long rows = -1, i;
    int k;

    if (PQstatus(pc) != CONNECTION_OK) {
        snprintf(err, CL_ERR, "connect %s: %s", c->db, PQerrorMessage(pc));
        PQfinish(pc);
        return -1;
    }
    r = PQexec(pc, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) < ncols) {
        snprintf(err, CL_ERR, "%s: %s", sql, PQerrorMessage(pc));
    } else {
        rows = PQntuples(r) < max ? PQntuples(r) : max;
        for (i = 0; i < rows; i++) {
            for (k = 0; k < ncols; k++) {
                const char *v = PQgetvalue(r, (int)i, k);

                if (PQgetisnull(r, (int)i, k))
                    vals[i * ncols + k] = -1;
                else if (v[0] == 'n')
                    vals[i * ncols + k] = cl_node_index(v);
                else if (v[0] == 't' || v[0] == 'f')
                    vals[i * ncols + k] = v[0] == 't';
                else
                    vals[i * ncols + k] = strtoll(v, NULL, 10);
            }
        }
    }
    PQclear(r);
    PQfinish(pc);
    return rows;
}
