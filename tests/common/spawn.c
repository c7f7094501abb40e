/* tests/common/spawn.c - run armmapd behind ARMMAPD_WRAPPER.
 *
 * The wrapper is split at spaces (no quoting: a valgrind command line
 * needs none) into a static buffer, so spawn_exec() allocates nothing
 * between fork() and exec().
 */
#define _XOPEN_SOURCE 700               /* nftw() */

#include "spawn.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS     64                 /* of armmapd's own command line */
#define MAX_WRAP     24                 /* words of ARMMAPD_WRAPPER */
#define WRAP_SCALE   20                 /* waits under a wrapper */
#define DEATH_WORDS  3                  /* setpriv --pdeathsig TERM */

extern char **environ;

int spawn_time_scale(void)
{
    const char *s = getenv("ARMMAPD_TIMEOUT_SCALE");

    if (s != NULL && atoi(s) > 0)
        return atoi(s);
    return spawn_wrapped() ? WRAP_SCALE : 1;
}

bool spawn_wrapped(void)
{
    const char *w = getenv("ARMMAPD_WRAPPER");

    return w != NULL && w[0] != '\0';
}

/* Fills @all from index @n with the words of ARMMAPD_WRAPPER (split in
 * @words, @size bytes) and then @argv, NULL-ended; allocates nothing.
 * @all holds MAX_WRAP + MAX_ARGS + 1 entries past @n. */
static void wrap_argv(char **argv, char *words, size_t size, char **all,
                      int n)
{
    char *save = NULL, *w;
    int i;

    if (spawn_wrapped()) {
        snprintf(words, size, "%s", getenv("ARMMAPD_WRAPPER"));
        for (w = strtok_r(words, " ", &save); w != NULL && n < MAX_WRAP;
             w = strtok_r(NULL, " ", &save))
            all[n++] = w;
    }
    for (i = 0; argv[i] != NULL && i < MAX_ARGS; i++)
        all[n++] = argv[i];
    all[n] = NULL;
}

void spawn_exec(char **argv)
{
    static char words[1024];
    char *all[MAX_WRAP + MAX_ARGS + 1];

    assert(argv != NULL && argv[0] != NULL);
    if (!spawn_wrapped()) {
        execv(argv[0], argv);
        return;
    }
    wrap_argv(argv, words, sizeof(words), all, 0);
    execvp(all[0], all);
}

pid_t spawn_start(char **argv, const char *log)
{
    char words[1024], *all[DEATH_WORDS + MAX_WRAP + MAX_ARGS + 1];
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    int rc;

    assert(argv != NULL && argv[0] != NULL && log != NULL);
    all[0] = (char *)"setpriv";
    all[1] = (char *)"--pdeathsig";
    all[2] = (char *)"TERM";
    wrap_argv(argv, words, sizeof(words), all, DEATH_WORDS);
    rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0) {
        rc = posix_spawn_file_actions_addopen(
            &fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (rc == 0)
            rc = posix_spawnp(&pid, all[0], &fa, NULL, all, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return pid;
}

int64_t spawn_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool spawn_wait_clock_past(int64_t ms)
{
    const struct timespec step = { 0, 1000000L };
    long n = 10000L * spawn_time_scale();

    while (spawn_wall_ms() <= ms && n-- > 0)
        nanosleep(&step, NULL);
    return spawn_wall_ms() > ms;
}

void spawn_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* nftw() callback: removes each entry after its contents (FTW_DEPTH). */
static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

int spawn_remove_tree(const char *dir)
{
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int spawn_unix_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}
