/* tests/common/spawn.c - run armmapd behind ARMMAPD_WRAPPER.
 *
 * The wrapper is split at spaces (no quoting: a valgrind command line
 * needs none) into a static buffer, so spawn_exec() allocates nothing
 * between fork() and exec().
 */
#define _XOPEN_SOURCE 700               /* nftw() */

#include "spawn.h"

#include <assert.h>
#include <ftw.h>
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

void spawn_exec(char **argv)
{
    static char words[1024];
    char *all[MAX_WRAP + MAX_ARGS + 1], *save = NULL, *w;
    int n = 0, i;

    assert(argv != NULL && argv[0] != NULL);
    if (!spawn_wrapped()) {
        execv(argv[0], argv);
        return;
    }
    snprintf(words, sizeof(words), "%s", getenv("ARMMAPD_WRAPPER"));
    for (w = strtok_r(words, " ", &save); w != NULL && n < MAX_WRAP;
         w = strtok_r(NULL, " ", &save))
        all[n++] = w;
    for (i = 0; argv[i] != NULL && i < MAX_ARGS; i++)
        all[n++] = argv[i];
    all[n] = NULL;
    execvp(all[0], all);
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
