/* tests/client/util.c - the suite's daemon fixture, the real armmap.
 *
 * The daemon is started by tests/common/daemon.c (shared with the daemon
 * suite).  armmap runs with stdin, stdout and stderr on pipes, driven by
 * poll() so that neither side can block the other, and is killed if it
 * outlives a fixed bound.
 */
#include "check_client.h"
#include "../common/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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

extern char **environ;

struct tdaemon tc_d;

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A failed check exits the forked test without running the teardown. */
static void cleanup_at_exit(void)
{
    td_discard(&tc_d);
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

/* The environment without the variables that start with @prefix (e.g.
 * "NAME="): a malloc()ed array of environ's own strings, NULL-ended. */
static char **env_without(const char *prefix)
{
    size_t n = 0, i, k = 0;
    char **env;

    while (environ[n] != NULL)
        n++;
    env = malloc((n + 1) * sizeof(*env));
    ck_assert_ptr_nonnull(env);
    for (i = 0; i < n; i++)
        if (strncmp(environ[i], prefix, strlen(prefix)) != 0)
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

/* armmap @bin with @argv and @env, its stdin, stdout and stderr on the
 * pipes, started by posix_spawn(): glibc's clones the caller's memory
 * (CLONE_VM | CLONE_VFORK) instead of copying its page tables as fork()
 * does, which in the sanitized suites (a test process of hundreds of MB
 * of shadow and quarantine) cost more system time than armmap's run.
 * Return: its pid, or -1 (also when @bin cannot be executed). */
static pid_t spawn_armmap(const char *bin, char **argv, char **env,
                          const int pin[2], const int pout[2],
                          const int perr[2])
{
    const int ends[6] = { pin[0], pin[1], pout[0], pout[1], perr[0], perr[1] };
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    int i, rc = posix_spawn_file_actions_init(&fa);

    if (rc != 0)
        return -1;
    rc = posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    for (i = 0; i < 6 && rc == 0; i++)
        rc = posix_spawn_file_actions_addclose(&fa, ends[i]);
    if (rc == 0)
        rc = posix_spawn(&pid, bin, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

struct trun tc_armmap(const char *sock, const char *in, size_t in_len, ...)
{
    int pin[2], pout[2], perr[2], argc = 0, status, open_fds;
    size_t out_cap = 0, err_cap = 0, err_len = 0, in_off = 0;
    char bin[PATH_MAX], *argv[MAX_ARGS], buf[65536];
    struct trun r;
    long deadline;
    va_list ap;
    char **env;
    pid_t pid;
    char *a;

    memset(&r, 0, sizeof(r));
    td_program("armmap", bin, sizeof(bin));
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
    env = env_without("ARMMAP_SOCKET=");
    pid = spawn_armmap(bin, argv, env, pin, pout, perr);
    free(env);
    ck_assert_int_ge(pid, 0);
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
