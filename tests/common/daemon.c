/* tests/common/daemon.c - start the real armmapd, stop it, read its log.
 *
 * ARMMAPD_WRAPPER, when set, is split at spaces and put before the
 * armmapd command line (make valgrind sets it to a valgrind command), and
 * every wait here is stretched by spawn_time_scale() (spawn.c).
 */
#include "daemon.h"
#include "spawn.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS   48
#define DIR_PREFIX "/tmp/armmapd-test."
#define TCP_LOG    "listening on tcp 127.0.0.1:"
#define RUN_LIMIT_MS 60000L             /* a td_run program, unscaled */

void td_program(const char *name, char *buf, size_t size)
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

void td_binary(char *buf, size_t size)
{
    td_program("armmapd", buf, size);
}

void td_init(struct tdaemon *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), DIR_PREFIX "XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d->dir));
    snprintf(d->sock, sizeof(d->sock), "%s/armmapd.sock", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/stderr.log", d->dir);
}

/* In the child of fork(), which may not allocate until it execs or
 * exits (the parent has threads): says that exec @path failed, with plain write()s. */
static _Noreturn void exec_failed(const char *path)
{
    const char *why = strerror(errno);

    (void)!write(2, "exec ", 5);
    (void)!write(2, path, strlen(path));
    (void)!write(2, ": ", 2);
    (void)!write(2, why, strlen(why));
    (void)!write(2, "\n", 1);
    _exit(127);
}

/* Whether @d is up: its socket accepts and, if @want_port, its log names
 * the TCP port (then in d->port). */
static bool daemon_ready(struct tdaemon *d, bool want_port)
{
    int fd = spawn_unix_connect(d->sock);
    const char *p;

    if (fd < 0)
        return false;
    close(fd);
    if (!want_port)
        return true;
    p = strstr(td_log(d), TCP_LOG);
    if (p == NULL)
        return false;
    d->port = atoi(p + strlen(TCP_LOG));
    return true;
}

void td_start(struct tdaemon *d, ...)
{
    char bin[PATH_MAX], sd[300];
    char *argv[MAX_ARGS];
    bool want_port = false;
    int argc = 0, i, status;
    va_list ap;
    char *a;

    td_binary(bin, sizeof(bin));
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
    d->pid = spawn_start(argv, d->log);
    ck_assert_msg(d->pid > 0, "cannot start %s: %s", bin, strerror(errno));
    for (i = 0; i < 1000 * spawn_time_scale(); i++) {
        if (daemon_ready(d, want_port))
            return;
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = 0;
            ck_abort_msg("armmapd exited at start (status %d): %s",
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                         td_log(d));
        }
        spawn_sleep_ms(10);
    }
    ck_abort_msg("armmapd did not open %s in %d s: %s", d->sock,
                 10 * spawn_time_scale(), td_log(d));
}

/* Starts @argv in a child of fork() with stdout and stderr on
 * @pipefd[1]: its pid, or -1. */
static pid_t spawn_capture(const int pipefd[2], char *const argv[],
                           bool wrapped)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    close(pipefd[1]);
    if (wrapped)
        spawn_exec((char **)argv);
    else
        execv(argv[0], argv);
    exec_failed(argv[0]);
}

/* Runs @argv (NULL-ended) as td_run_argv() says; behind ARMMAPD_WRAPPER
 * if @wrapped (armmapd itself), else the program as named. */
static int run_capture(char *out, size_t outsz, char *const argv[],
                       bool wrapped)
{
    int pipefd[2], status;
    size_t got = 0;
    long waited = 0, limit = RUN_LIMIT_MS * (long)spawn_time_scale();
    pid_t pid;

    ck_assert_int_eq(pipe(pipefd), 0);
    pid = spawn_capture(pipefd, argv, wrapped);
    ck_assert_int_ge(pid, 0);
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    for (;;) {
        char buf[4096];
        ssize_t n = read(pipefd[0], buf, sizeof(buf));

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break;
        if (n < 0) {
            if (waited >= limit)
                break;
            spawn_sleep_ms(10);
            waited += 10;
            continue;
        }
        if (out != NULL && got + 1 < outsz) {
            size_t k =
                (size_t)n < outsz - 1 - got ? (size_t)n : outsz - 1 - got;

            memcpy(out + got, buf, k);
            got += k;
        }
    }
    if (out != NULL && outsz > 0)
        out[got] = '\0';
    close(pipefd[0]);
    if (waited >= limit)
        kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int td_run_argv(char *out, size_t outsz, char *const argv[])
{
    return run_capture(out, outsz, argv, false);
}

int td_run(char *out, size_t outsz, ...)
{
    char bin[PATH_MAX];
    char *argv[MAX_ARGS];
    int argc = 0;
    va_list ap;
    char *a;

    td_binary(bin, sizeof(bin));
    argv[argc++] = bin;
    va_start(ap, outsz);
    while ((a = va_arg(ap, char *)) != NULL && argc < MAX_ARGS - 1)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return run_capture(out, outsz, argv, true);
}

int td_stop(struct tdaemon *d)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, SIGTERM);
    return td_wait(d);
}

int td_wait(struct tdaemon *d)
{
    int status, i;

    if (d->pid <= 0)
        return -1;
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

void td_discard(struct tdaemon *d)
{
    if (d->pid > 0)
        td_stop(d);
    if (strncmp(d->dir, DIR_PREFIX, strlen(DIR_PREFIX)) == 0 &&
        spawn_remove_tree(d->dir) != 0)
        fprintf(stderr, "could not remove %s: %s\n", d->dir, strerror(errno));
    d->dir[0] = '\0';
}

void td_cleanup(struct tdaemon *d)
{
    if (d->pid > 0)
        td_stop(d);
    if (d->log[0] != '\0' && d->dir[0] != '\0') {
        const char *log = td_log(d);

        /* Under SANITIZE=1 the daemon reports leaks and errors here. */
        ck_assert_msg(strstr(log, "Sanitizer") == NULL &&
                      strstr(log, "runtime error") == NULL, "%s", log);
    }
    td_discard(d);
}

const char *td_log(const struct tdaemon *d)
{
    static char buf[65536];
    FILE *f = fopen(d->log, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

bool td_log_wait(const struct tdaemon *d, const char *text)
{
    struct timespec ms = { 0, 1000000 };

    for (int i = 0; i < 20000 * spawn_time_scale(); i++) {
        if (strstr(td_log(d), text) != NULL)
            return true;
        nanosleep(&ms, NULL);
    }
    return false;
}

struct tdaemon td_shared;

void td_shared_setup(void)
{
    td_init(&td_shared);
    td_start(&td_shared, (char *)NULL);
}

void td_shared_teardown(void)
{
    td_cleanup(&td_shared);
}

const char *td_tenant_name(const char *prefix, char *buf, size_t size)
{
    static unsigned calls;

    snprintf(buf, size, "%s-%d-%u", prefix, (int)getpid(), ++calls);
    return buf;
}
