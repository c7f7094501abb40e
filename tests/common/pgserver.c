/* tests/common/pgserver.c - a private PostgreSQL server (pgserver.h). */
#include "pgserver.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define START_WAIT_MS   60000
#define STOP_WAIT_MS    20000
#define POLL_MS         50

/* The bin directory of the newest installed server, in @bin. */
static bool find_bin(char *bin, size_t n)
{
    glob_t g;
    bool ok = false;

    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 &&
        g.gl_pathc > 0) {
        const char *last = g.gl_pathv[g.gl_pathc - 1];
        size_t len = strlen(last) - strlen("/initdb");

        if (len < n) {
            memcpy(bin, last, len);
            bin[len] = '\0';
            ok = true;
        }
    }
    globfree(&g);
    return ok;
}

bool pgserver_available(char *why)
{
    char bin[200];

    if (!find_bin(bin, sizeof(bin))) {
        snprintf(why, 128, "no /usr/lib/postgresql/*/bin/initdb (Debian's "
                 "postgresql package)");
        return false;
    }
    return true;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* In a forked child: become the postgres user when root, quiet output,
 * exec @argv. */
static void child_exec(char **argv, const char *log)
{
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

    if (getuid() == 0) {
        struct passwd *pw = getpwnam("postgres");

        if (pw == NULL || setgid(pw->pw_gid) != 0 ||
            setuid(pw->pw_uid) != 0)
            _exit(126);
    }
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    setsid();
    execv(argv[0], argv);
    _exit(127);
}

/* Runs @argv to its end; its exit status, -1 if it could not run. */
static int run(char **argv, const char *log)
{
    int st;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0)
        child_exec(argv, log);
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void rm_dir(const char *dir)
{
    char cmd[256];
    int rc;

    if (dir[0] == '\0')
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    rc = system(cmd);
    (void)rc;
}

/* The initdb'd data directory every server of this user and this major
 * version starts from, copied (initdb cost 1.6 CPU s a server, the copy
 * 0.4): made once, by whichever test run gets there first, in a
 * directory of its own that is then renamed into place, so that runs in
 * parallel never see half of one (the loser of the rename removes its
 * own).  Its PG_VERSION, written last by initdb, says it is whole. */
static bool template_path(const char *bin, char *tpl, size_t n)
{
    const char *end = strrchr(bin, '/'), *v = end;

    while (v != NULL && v > bin && v[-1] != '/')
        v--;
    if (end == NULL || v == NULL || end - v <= 0 || end - v > 16)
        return false;
    return snprintf(tpl, n, "/tmp/armmap-pg-template-%u-%.*s",
                    (unsigned)getuid(), (int)(end - v), v) < (int)n;
}

/* True if @tpl is a real directory owned by the user the servers run as
 * (postgres when root) and writable by no one else: /tmp is shared, and
 * a template someone else planted would configure our servers. */
static bool template_trusted(const char *tpl)
{
    struct passwd *pw = getuid() == 0 ? getpwnam("postgres") : NULL;
    uid_t owner = pw != NULL ? pw->pw_uid : getuid();
    struct stat st;

    return lstat(tpl, &st) == 0 && S_ISDIR(st.st_mode) &&
           st.st_uid == owner && (st.st_mode & 022) == 0;
}

/* Makes the template @tpl with @bin's initdb if it is not there; in @dir
 * (the caller's temporary directory, owned by the server's user) while
 * it is being made.  Return: 0, or -1 with @err. */
static int template_make(const char *bin, const char *tpl, const char *dir,
                         char *err)
{
    char exe[256], data[192], log[192], ver[300];
    char *init[] = { exe, "-D", data, "-A", "trust", "-U", "postgres",
                     "-E", "UTF8", "--no-sync", NULL };

    snprintf(ver, sizeof(ver), "%s/PG_VERSION", tpl);
    if (access(ver, F_OK) != 0) {
        snprintf(data, sizeof(data), "%s/template", dir);
        snprintf(log, sizeof(log), "%s/log", dir);
        snprintf(exe, sizeof(exe), "%s/initdb", bin);
        if (run(init, log) != 0) {
            snprintf(err, 256, "initdb failed (see %s)", log);
            return -1;
        }
        if (rename(data, tpl) != 0)     /* another run made it first */
            rm_dir(data);
    }
    if (access(ver, F_OK) != 0) {
        snprintf(err, 256, "no PostgreSQL template in %s", tpl);
        return -1;
    }
    if (!template_trusted(tpl)) {
        snprintf(err, 256, "%s is not a directory of the server's user, "
                 "writable only by it: remove it", tpl);
        return -1;
    }
    return 0;
}

/* initdb's data directory into @data: a copy of the template. */
static int init_data(const char *bin, const char *dir, const char *data,
                     char *err)
{
    char tpl[128], cmd[400];

    if (!template_path(bin, tpl, sizeof(tpl))) {
        snprintf(err, 256, "no PostgreSQL version in %s", bin);
        return -1;
    }
    if (template_make(bin, tpl, dir, err) != 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", tpl, data);
    if (system(cmd) != 0) {
        snprintf(err, 256, "copying %s failed", tpl);
        return -1;
    }
    return 0;
}

static bool answers(const struct pgserver *pg)
{
    return PQping(pg->url) == PQPING_OK;
}

int pgserver_start(struct pgserver *pg, char *err)
{
    char bin[200], exe[256], data[192], log[192], sock[160];
    char *serve[] = { exe, "-D", data, "-k", pg->dir, "-c",
                      "listen_addresses=", "-c", "max_connections=100",
                      NULL };
    long waited;

    memset(pg, 0, sizeof(*pg));
    if (!find_bin(bin, sizeof(bin))) {
        pgserver_available(err);
        return -1;
    }
    snprintf(pg->dir, sizeof(pg->dir), "/tmp/armmap-pg-XXXXXX");
    if (mkdtemp(pg->dir) == NULL) {
        snprintf(err, 256, "mkdtemp: %s", strerror(errno));
        pg->dir[0] = '\0';
        return -1;
    }
    if (getuid() == 0) {
        struct passwd *pw = getpwnam("postgres");

        if (pw == NULL || chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0) {
            snprintf(err, 256, "running as root needs the postgres user");
            rm_dir(pg->dir);
            return -1;
        }
    }
    snprintf(data, sizeof(data), "%s/data", pg->dir);
    snprintf(log, sizeof(log), "%s/log", pg->dir);
    if (init_data(bin, pg->dir, data, err) != 0)
        return -1;
    snprintf(exe, sizeof(exe), "%s/postgres", bin);
    snprintf(sock, sizeof(sock), "%s", pg->dir);
    snprintf(pg->url, sizeof(pg->url),
             "postgresql:///postgres?host=%s&user=postgres", sock);
    pg->pid = fork();
    if (pg->pid < 0) {
        snprintf(err, 256, "fork: %s", strerror(errno));
        pg->pid = 0;
        return -1;
    }
    if (pg->pid == 0)
        child_exec(serve, log);
    for (waited = 0; waited < START_WAIT_MS; waited += POLL_MS) {
        if (answers(pg))
            return 0;
        if (waitpid(pg->pid, NULL, WNOHANG) == pg->pid) {
            pg->pid = 0;
            snprintf(err, 256, "postgres exited at start (see %s)", log);
            return -1;
        }
        sleep_ms(POLL_MS);
    }
    snprintf(err, 256, "postgres did not answer within %d s (see %s)",
             START_WAIT_MS / 1000, log);
    return -1;
}

int pgserver_create_db(const struct pgserver *pg, const char *name,
                       char *url)
{
    char sql[128];
    PGconn *c = PQconnectdb(pg->url);
    PGresult *r;
    int rc = 0;

    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(url, 256, "%s", PQerrorMessage(c));
        rc = -1;
    } else {
        snprintf(url, 256, "postgresql:///%s?host=%s&user=postgres", name,
                 pg->dir);
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

bool pgserver_try(struct pgserver *pg, char *why)
{
    memset(pg, 0, sizeof(*pg));
    if (!pgserver_available(why))
        return false;
    if (pgserver_start(pg, why) == 0)
        return true;
    pgserver_stop(pg);
    return false;
}

void pgserver_stop(struct pgserver *pg)
{
    long waited;

    if (pg->pid > 0) {
        kill(pg->pid, SIGINT);          /* fast shutdown */
        for (waited = 0; waited < STOP_WAIT_MS; waited += POLL_MS) {
            if (waitpid(pg->pid, NULL, WNOHANG) == pg->pid)
                break;
            sleep_ms(POLL_MS);
        }
        if (waited >= STOP_WAIT_MS) {
            kill(pg->pid, SIGKILL);
            waitpid(pg->pid, NULL, 0);
        }
        pg->pid = 0;
    }
    rm_dir(pg->dir);
    pg->dir[0] = '\0';
}

static struct pgserver fix;             /* the fixture's server */
static bool fix_up;                     /* it runs */
static char fix_why[256];               /* why it does not */

void pgfix_setup(void)
{
    fix_up = pgserver_try(&fix, fix_why);
}

void pgfix_teardown(void)
{
    if (fix_up)
        pgserver_stop(&fix);
    fix_up = false;
}

const struct pgserver *pgfix_server(const char *who)
{
    if (fix_up)
        return &fix;
    fprintf(stderr, "%s: skipped, no PostgreSQL server: %s\n", who, fix_why);
    return NULL;
}
