/* tests/client/util.c - start the real armmapd, run the real armmap.
 *
 * The daemon runs as a child with its own state directory; its stderr goes
 * to a log file in that directory, which is also where the TCP port is
 * read from when a test asks for --listen 127.0.0.1:0.  armmap runs with
 * stdin, stdout and stderr on pipes, driven by poll() so that neither side
 * can block the other, and is killed if it outlives a fixed bound.
 *
 * ARMMAPD_WRAPPER, when set, is split at spaces and put before the
 * armmapd command line (make valgrind sets it to a valgrind command); the
 * waits for the daemon then last spawn_time_scale() times longer
 * (tests/common/spawn.c, shared with the daemon suite).
 */
#include "check_client.h"
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS     48
#define RUN_LIMIT_MS 120000

struct tdaemon tc_d;

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void tc_binary(const char *name, char *buf, size_t size)
{
    char self[PATH_MAX - 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    slash = strrchr(self, '/');
    ck_assert_ptr_nonnull(slash);
    *slash = '\0';
    snprintf(buf, size, "%s/%s", self, name);
}

void td_init(struct tdaemon *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), "/tmp/armmap-client-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d->dir));
    snprintf(d->sock, sizeof(d->sock), "%s/armmapd.sock", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/stderr.log", d->dir);
}

const char *td_log(const struct tdaemon *d)
{
    static char buf[8192];
    FILE *f = fopen(d->log, "r");
    size_t n = 0;

    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static bool can_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0)
        return false;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", path);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

void td_start(struct tdaemon *d, ...)
{
    char bin[PATH_MAX], sd[128];
    char *argv[MAX_ARGS];
    bool want_port = false;
    int argc = 0, i, status;
    va_list ap;
    char *a;

    tc_binary("armmapd", bin, sizeof(bin));
    snprintf(sd, sizeof(sd), "--state-dir=%s", d->dir);
    argv[argc++] = bin;
    argv[argc++] = sd;
    argv[argc++] = (char *)"--log-level=info";
    va_start(ap, d);
    while ((a = va_arg(ap, char *)) != NULL && argc < MAX_ARGS - 1) {
        if (strncmp(a, "--listen", 8) == 0)
            want_port = true;
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    unlink(d->sock);
    d->pid = fork();
    ck_assert_int_ge(d->pid, 0);
    if (d->pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        /* A test that fails exits without its teardown: take the daemon
         * down with it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        spawn_exec(argv);
        _exit(127);
    }
    for (i = 0; i < 1000 * spawn_time_scale(); i++) {
        if (can_connect(d->sock)) {
            const char *p;

            if (!want_port)
                return;
            p = strstr(td_log(d), "listening on tcp 127.0.0.1:");
            if (p) {
                d->port = atoi(p + strlen("listening on tcp 127.0.0.1:"));
                return;
            }
        }
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = 0;
            ck_abort_msg("armmapd exited at start: %s", td_log(d));
        }
        spawn_sleep_ms(10);
    }
    ck_abort_msg("armmapd did not open %s in %d s: %s", d->sock,
                 10 * spawn_time_scale(), td_log(d));
}

int td_stop(struct tdaemon *d)
{
    int status, i;

    if (d->pid <= 0)
        return -1;
    kill(d->pid, SIGTERM);
    for (i = 0; i < 1000 * spawn_time_scale(); i++) {
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        spawn_sleep_ms(10);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    return -1;
}

void td_cleanup(struct tdaemon *d)
{
    char cmd[200];

    if (d->pid > 0)
        td_stop(d);
    if (strncmp(d->dir, "/tmp/armmap-client-test.", 24) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", d->dir);
    }
    d->dir[0] = '\0';
}

/* A failed check exits the forked test without running the teardown. */
static void cleanup_at_exit(void)
{
    td_cleanup(&tc_d);
}

void tc_daemon_setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    td_init(&tc_d);
    atexit(cleanup_at_exit);
    td_start(&tc_d, (char *)NULL);
}

void tc_daemon_teardown(void)
{
    td_cleanup(&tc_d);
}

/* ---- running armmap ------------------------------------------------------ */

static void append(char **buf, size_t *len, size_t *cap, const char *data,
                   size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap ? *cap : 4096;

        while (ncap < *len + n + 1)
            ncap *= 2;
        *buf = realloc(*buf, ncap);
        ck_assert_ptr_nonnull(*buf);
        *cap = ncap;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

struct trun tc_armmap(const char *sock, const char *in, size_t in_len, ...)
{
    int pin[2], pout[2], perr[2], argc = 0, status, open_fds;
    size_t out_cap = 0, err_cap = 0, err_len = 0, in_off = 0;
    char bin[PATH_MAX], *argv[MAX_ARGS], buf[65536];
    struct trun r;
    long deadline;
    va_list ap;
    pid_t pid;
    char *a;

    memset(&r, 0, sizeof(r));
    tc_binary("armmap", bin, sizeof(bin));
    argv[argc++] = bin;
    if (sock) {
        argv[argc++] = (char *)"-s";
        argv[argc++] = (char *)sock;
    }
    va_start(ap, in_len);
    while ((a = va_arg(ap, char *)) != NULL && argc < MAX_ARGS - 1)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    ck_assert_int_eq(pipe(pin), 0);
    ck_assert_int_eq(pipe(pout), 0);
    ck_assert_int_eq(pipe(perr), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        close(pin[0]);
        close(pin[1]);
        close(pout[0]);
        close(pout[1]);
        close(perr[0]);
        close(perr[1]);
        unsetenv("ARMMAP_SOCKET");
        execv(bin, argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    if (!in || in_len == 0) {
        close(pin[1]);
        pin[1] = -1;
    }
    append(&r.out, &r.out_len, &out_cap, "", 0);
    append(&r.err, &err_len, &err_cap, "", 0);
    deadline = now_ms() + RUN_LIMIT_MS;
    open_fds = 2;
    while (open_fds > 0 && now_ms() < deadline) {
        struct pollfd p[3];
        int np = 0, i;

        p[np].fd = pout[0];
        p[np++].events = POLLIN;
        p[np].fd = perr[0];
        p[np++].events = POLLIN;
        if (pin[1] >= 0) {
            p[np].fd = pin[1];
            p[np++].events = POLLOUT;
        }
        for (i = 0; i < np; i++)
            p[i].revents = 0;
        if (poll(p, (nfds_t)np, 1000) <= 0)
            continue;
        for (i = 0; i < 2; i++) {
            ssize_t n;

            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            n = read(p[i].fd, buf, sizeof(buf));
            if (n <= 0) {
                if (i == 0) {
                    close(pout[0]);
                    pout[0] = -1;
                } else {
                    close(perr[0]);
                    perr[0] = -1;
                }
                open_fds--;
            } else if (i == 0) {
                append(&r.out, &r.out_len, &out_cap, buf, (size_t)n);
            } else {
                append(&r.err, &err_len, &err_cap, buf, (size_t)n);
            }
        }
        if (np == 3 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(pin[1], in + in_off, in_len - in_off);

            if (n > 0)
                in_off += (size_t)n;
            if (n < 0 && errno != EAGAIN) {
                close(pin[1]);
                pin[1] = -1;
            } else if (in_off == in_len) {
                close(pin[1]);
                pin[1] = -1;
            }
        }
        /* A closed pipe is skipped by poll() with fd -1. */
        if (pout[0] < 0)
            p[0].fd = -1;
    }
    if (pin[1] >= 0)
        close(pin[1]);
    if (pout[0] >= 0)
        close(pout[0]);
    if (perr[0] >= 0)
        close(perr[0]);
    if (open_fds > 0)
        kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

void tc_run_free(struct trun *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

struct armmap_conn *tc_connect(void)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];
    enum armmap_status st;

    memset(&opt, 0, sizeof(opt));
    st = armmap_connect_unix(tc_d.sock, opt, &c, err);
    ck_assert_msg(st == ARMMAP_OK, "connect: %s: %s", armmap_strerror(st), err);
    return c;
}

uint64_t tc_create(struct armmap_conn *conn, const char *preset)
{
    struct armmap_machine *m = NULL;
    enum armmap_status st;
    uint64_t id;

    st = armmap_create(conn, preset, NULL, 0, NULL, &m);
    ck_assert_msg(st == ARMMAP_OK, "create %s: %s: %s", preset,
                  armmap_strerror(st), armmap_errmsg(conn));
    id = m->id;
    armmap_machine_free(m);
    return id;
}

const char *tc_write_file(const char *name, const char *data, size_t len)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tc_d.dir, name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}
