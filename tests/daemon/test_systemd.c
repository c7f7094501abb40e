/* tests/daemon/test_systemd.c - the systemd units and armmapd under them.
 *
 * Four checks, all with systemd's own tools rather than guesses about
 * what systemd would do:
 *  - `systemd-analyze verify` accepts systemd/armmapd.service and
 *    systemd/armmapd.socket.  The installed unit names
 *    /usr/local/sbin/armmapd, which need not exist here, so the units are
 *    copied to a temporary directory with ExecStart pointing at the
 *    armmapd built next to this test binary.
 *  - `systemd-analyze security --offline=true` rates the service's
 *    exposure at 2.0 or below (the figure is printed).
 *  - armmapd started by `systemd-socket-activate` (which binds the socket,
 *    waits for the first connection and execs armmapd with $LISTEN_FDS and
 *    $LISTEN_PID set, as systemd does for armmapd.socket) answers Hello and
 *    Ping on the passed socket, binds no socket of its own, and sends
 *    READY=1 to the $NOTIFY_SOCKET datagram socket this test listens on,
 *    from its main process (what NotifyAccess=main requires), and
 *    STOPPING=1 on SIGTERM before a clean exit.
 *    A second run takes its directory from $STATE_DIRECTORY instead of
 *    --state-dir, as under StateDirectory=.
 *  - man/armmapd.8 and man/armmap.1 format with `groff -man -ww -z`
 *    without a warning.
 *
 * The unit files are found by walking up from the test binary's directory
 * (build/ or build/san/) to the directory holding systemd/armmapd.service.
 * The tools are looked up in $PATH; when one is missing the test prints
 * why and returns without failing (CI installs the systemd package, so
 * there it always runs).
 */
#define _GNU_SOURCE                     /* struct ucred, SCM_CREDENTIALS */
#include "check_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#define OUT_SIZE        65536
#define MAX_EXPOSURE    2.0

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    td_cleanup(&d);
}

/* Finds @name in $PATH (then the usual directories); false if absent. */
static bool find_program(const char *name, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    char *save = NULL, *dir;

    snprintf(dirs, sizeof(dirs), "%s:/usr/bin:/bin:/usr/sbin:/sbin",
             path != NULL ? path : "");
    for (dir = strtok_r(dirs, ":", &save); dir != NULL;
         dir = strtok_r(NULL, ":", &save)) {
        snprintf(buf, size, "%s/%s", dir, name);
        if (dir[0] != '\0' && access(buf, X_OK) == 0)
            return true;
    }
    return false;
}

/* The source tree: the nearest ancestor of the test binary's directory
 * that holds systemd/armmapd.service. */
static void source_dir(char *buf, size_t size)
{
    char bin[PATH_MAX - 64], probe[PATH_MAX];
    char *slash;
    int up;

    td_binary(bin, sizeof(bin));
    for (up = 0; up < 4; up++) {
        slash = strrchr(bin, '/');
        ck_assert_ptr_nonnull(slash);
        *slash = '\0';
        snprintf(probe, sizeof(probe), "%s/systemd/armmapd.service", bin);
        if (access(probe, R_OK) == 0) {
            snprintf(buf, size, "%s", bin);
            return;
        }
    }
    ck_abort_msg("systemd/armmapd.service not found above the test binary");
}

/* Copies @src to @dst, replacing the line "ExecStart=/usr/local/sbin/armmapd"
 * by one naming @exec_path. */
static void copy_unit(const char *src, const char *dst, const char *exec_path)
{
    FILE *in = fopen(src, "r"), *out;
    char line[1024];
    bool replaced = false;

    ck_assert_msg(in != NULL, "%s: %s", src, strerror(errno));
    out = fopen(dst, "w");
    ck_assert_msg(out != NULL, "%s: %s", dst, strerror(errno));
    while (fgets(line, sizeof(line), in) != NULL) {
        if (strcmp(line, "ExecStart=/usr/local/sbin/armmapd\n") == 0) {
            fprintf(out, "ExecStart=%s\n", exec_path);
            replaced = true;
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    if (strstr(src, ".service") != NULL)
        ck_assert_msg(replaced, "%s has no ExecStart=/usr/local/sbin/armmapd",
                      src);
}

/* Copies both units into d.dir/units/; fills @service and @socket. */
static void copy_units(char *service, char *socket_unit, size_t size)
{
    char src[PATH_MAX - 64], path[PATH_MAX], bin[PATH_MAX];

    source_dir(src, sizeof(src));
    td_binary(bin, sizeof(bin));
    snprintf(service, size, "%s/units", d.dir);
    ck_assert_int_eq(mkdir(service, 0700), 0);
    snprintf(service, size, "%s/units/armmapd.service", d.dir);
    snprintf(socket_unit, size, "%s/units/armmapd.socket", d.dir);
    snprintf(path, sizeof(path), "%s/systemd/armmapd.service", src);
    copy_unit(path, service, bin);
    snprintf(path, sizeof(path), "%s/systemd/armmapd.socket", src);
    copy_unit(path, socket_unit, bin);
}

START_TEST(test_units_pass_systemd_analyze_verify)
{
    char analyze[PATH_MAX], service[PATH_MAX], sock[PATH_MAX];
    static char out[OUT_SIZE];
    int rc;

    if (!find_program("systemd-analyze", analyze, sizeof(analyze))) {
        printf("SKIP verify: systemd-analyze not installed "
               "(apt-get install systemd)\n");
        return;
    }
    copy_units(service, sock, sizeof(service));
    {
        /* --man=no: the man pages are not installed where man finds them. */
        char *argv[] = { analyze, (char *)"verify", (char *)"--man=no",
                         sock, service, NULL };

        rc = td_run_argv(out, sizeof(out), argv);
    }
    printf("systemd-analyze verify: exit %d\n%s", rc, out);
    ck_assert_msg(rc == 0, "systemd-analyze verify failed (%d):\n%s", rc, out);
    /* Warnings about our units are failures too (exit status stays 0). */
    ck_assert_msg(strstr(out, "armmapd.service") == NULL &&
                  strstr(out, "armmapd.socket") == NULL,
                  "systemd-analyze verify warns:\n%s", out);
}
END_TEST

START_TEST(test_service_exposure_is_at_most_2)
{
    char analyze[PATH_MAX], service[PATH_MAX], sock[PATH_MAX];
    static char out[OUT_SIZE];
    const char *p;
    char *end;
    double level;
    int rc;

    if (!find_program("systemd-analyze", analyze, sizeof(analyze))) {
        printf("SKIP security: systemd-analyze not installed "
               "(apt-get install systemd)\n");
        return;
    }
    copy_units(service, sock, sizeof(service));
    {
        char *argv[] = { analyze, (char *)"security", (char *)"--offline=true",
                         (char *)"--no-pager", service, NULL };

        rc = td_run_argv(out, sizeof(out), argv);
    }
    ck_assert_msg(rc == 0, "systemd-analyze security failed (%d):\n%s", rc,
                  out);
    p = strstr(out, "Overall exposure level for armmapd.service:");
    ck_assert_msg(p != NULL, "no exposure level in:\n%s", out);
    p = strchr(p, ':') + 1;
    while (*p == ' ')
        p++;
    level = strtod(p, &end);
    ck_assert_msg(end != p, "unparsable exposure level: %.40s", p);
    printf("armmapd.service overall exposure level: %.1f\n", level);
    ck_assert_msg(level <= MAX_EXPOSURE, "exposure %.1f > %.1f:\n%s", level,
                  MAX_EXPOSURE, out);
}
END_TEST

/* _i == 0: man/armmapd.8; _i == 1: man/armmap.1. */
START_TEST(test_man_pages_render_without_warnings)
{
    static const char *const pages[] = { "man/armmapd.8", "man/armmap.1" };
    char groff[PATH_MAX], src[PATH_MAX - 64], page[PATH_MAX];
    static char out[OUT_SIZE];
    int rc;

    if (!find_program("groff", groff, sizeof(groff))) {
        printf("SKIP %s: groff not installed (apt-get install groff-base)\n",
               pages[_i]);
        return;
    }
    source_dir(src, sizeof(src));
    snprintf(page, sizeof(page), "%s/%s", src, pages[_i]);
    ck_assert_msg(access(page, R_OK) == 0, "%s: %s", page, strerror(errno));
    {
        /* -ww: every warning; -z: format, print nothing. */
        char *argv[] = { groff, (char *)"-man", (char *)"-ww", (char *)"-z",
                         page, NULL };

        rc = td_run_argv(out, sizeof(out), argv);
    }
    ck_assert_msg(rc == 0 && out[0] == '\0', "groff %s: exit %d:\n%s",
                  pages[_i], rc, out);
}
END_TEST

/* A datagram socket at @path, as systemd's notification socket. */
static int notify_listen(const char *path)
{
    struct timeval tv = { 10, 0 };
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

    ck_assert_int_ge(fd, 0);
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* The sender's pid comes with each message, as systemd sees it. */
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one,
                                sizeof(one)), 0);
    return fd;
}

/* Receives one datagram into @msg (NUL-terminated); its sender's pid goes
 * to @sender.  False on timeout. */
static bool notify_recv(int fd, char *msg, size_t size, pid_t *sender)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } ctl;
    struct iovec iov = { msg, size - 1 };
    struct msghdr mh;
    struct cmsghdr *c;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    n = recvmsg(fd, &mh, 0);
    if (n < 0)
        return false;
    msg[n] = '\0';
    *sender = 0;
    for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred uc;

            memcpy(&uc, CMSG_DATA(c), sizeof(uc));
            *sender = uc.pid;
        }
    }
    return true;
}

/* Reads notifications (at most 16, 10 s each) until one holds @want as a
 * line, and asserts that every one came from @main_pid (systemd's
 * NotifyAccess=main drops the others).  The text of all of them goes to
 * @seen. */
static bool notify_wait(int fd, pid_t main_pid, const char *want, char *seen,
                        size_t seensz)
{
    size_t used = 0, wlen = strlen(want);
    int i;

    seen[0] = '\0';
    for (i = 0; i < 16; i++) {
        char msg[1024];
        const char *p;
        pid_t sender;

        if (!notify_recv(fd, msg, sizeof(msg), &sender))
            return false;
        ck_assert_msg(sender == main_pid, "'%s' sent by pid %d, not %d", msg,
                      (int)sender, (int)main_pid);
        used += (size_t)snprintf(seen + used, seensz - used, "[%s]", msg);
        if (used >= seensz)
            used = seensz - 1;
        for (p = msg; p != NULL && *p != '\0';) {
            if (strncmp(p, want, wlen) == 0 &&
                (p[wlen] == '\n' || p[wlen] == '\0'))
                return true;
            p = strchr(p, '\n');
            if (p != NULL)
                p++;
        }
    }
    return false;
}

/* True if a stream connection to @path succeeds (it is closed at once;
 * armmapd sees it end). */
static bool can_connect(const char *path)
{
    int fd = spawn_unix_connect(path);

    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static Armmap__V1__Response *ping(int fd, uint64_t id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;

    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &p;
    return td_call(fd, &req);
}

/* _i == 0: --state-dir DIR; _i == 1: STATE_DIRECTORY=DIR:DIR/other. */
START_TEST(test_socket_activated_ping_and_ready)
{
    char activate[PATH_MAX], bin[PATH_MAX], own_sock[320], db[320];
    char notify_path[320], notify_env[360], state_env[700], seen[4096];
    char lis[340];
    Armmap__V1__Response *r;
    struct stat sb;
    int nfd, fd, i;
    pid_t pid;

    if (!find_program("systemd-socket-activate", activate, sizeof(activate))) {
        printf("SKIP socket activation: systemd-socket-activate not "
               "installed (apt-get install systemd)\n");
        return;
    }
    td_binary(bin, sizeof(bin));
    snprintf(own_sock, sizeof(own_sock), "%s/armmapd.sock", d.dir);
    snprintf(db, sizeof(db), "%s/armmapd.db", d.dir);
    snprintf(d.sock, sizeof(d.sock), "%s/activate.sock", d.dir);
    snprintf(notify_path, sizeof(notify_path), "%s/notify.sock", d.dir);
    snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", notify_path);
    snprintf(state_env, sizeof(state_env), "STATE_DIRECTORY=%s:%s/other",
             d.dir, d.dir);
    snprintf(lis, sizeof(lis), "--listen=%s", d.sock);
    nfd = notify_listen(notify_path);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int lfd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (lfd >= 0) {
            dup2(lfd, 2);
            close(lfd);
        }
        close(nfd);
        if (_i == 0)
            execl(activate, activate, lis, "-E", notify_env, bin,
                  "--state-dir", d.dir, "--log-level=info", (char *)NULL);
        else
            execl(activate, activate, lis, "-E", notify_env, "-E", state_env,
                  bin, "--log-level=info", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", activate, strerror(errno));
        _exit(127);
    }
    d.pid = pid;            /* systemd-socket-activate execs armmapd itself */

    /* systemd-socket-activate binds the socket, listens, then starts
     * armmapd at the first connection: wait until it accepts (the kernel
     * queues the connection; between bind and listen it is refused). */
    for (i = 0; i < 500 && !can_connect(d.sock); i++)
        spawn_sleep_ms(10);
    ck_assert_msg(stat(d.sock, &sb) == 0 && S_ISSOCK(sb.st_mode),
                  "no socket %s: %s", d.sock, td_log(&d));
    ck_assert_msg(can_connect(d.sock), "%s refuses: %s", d.sock, td_log(&d));
    fd = td_session(&d, "systemd");
    r = ping(fd, 7);
    ck_assert_status(r, 7, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_PONG);
    td_free(r);

    ck_assert_msg(notify_wait(nfd, pid, "READY=1", seen, sizeof(seen)),
                  "no READY=1; got %s; log: %s", seen, td_log(&d));
    /* It served the passed socket and bound none of its own; its database
     * is in the directory it was given. */
    ck_assert_int_ne(access(own_sock, F_OK), 0);
    ck_assert_msg(access(db, F_OK) == 0, "no %s: %s", db, td_log(&d));
    if (_i == 1) {
        char other[330];

        snprintf(other, sizeof(other), "%s/other", d.dir);
        ck_assert_int_ne(access(other, F_OK), 0);
    }
    ck_assert_msg(strstr(td_log(&d), "serving 1 sockets from systemd") != NULL,
                  "%s", td_log(&d));
    close(fd);

    /* SIGTERM (systemctl stop): a clean stop, and STOPPING=1 on the way. */
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    ck_assert_msg(notify_wait(nfd, pid, "STOPPING=1", seen, sizeof(seen)),
                  "no STOPPING=1; got %s", seen);
    close(nfd);
}
END_TEST

Suite *systemd_suite(void)
{
    Suite *s = suite_create("systemd");
    TCase *tc = tcase_create("units");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_units_pass_systemd_analyze_verify);
    tcase_add_test(tc, test_service_exposure_is_at_most_2);
    tcase_add_loop_test(tc, test_man_pages_render_without_warnings, 0, 2);
    tcase_add_loop_test(tc, test_socket_activated_ping_and_ready, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
