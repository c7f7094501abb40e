/* tests/common/proc.c - a process seen from outside, through /proc.
 *
 * Plain reads of proc(5) files, one per call: nothing is cached, so two
 * samples taken a second apart are two readings.
 */
#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The first "@key %ld" line of /proc/@pid/@file (@key ends in ':'); -1
 * if the file cannot be read or has no such line. */
static long read_kib(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    size_t klen = strlen(key);
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) == 0 &&
            sscanf(line + klen, " %ld", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}

long proc_rss_kib(pid_t pid)
{
    return read_kib(pid, "status", "VmRSS:");
}

long proc_huge_kib(pid_t pid)
{
    return read_kib(pid, "smaps_rollup", "AnonHugePages:");
}

bool proc_huge_advised(pid_t pid)
{
    char path[64], line[512];
    bool advised = false;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    while (!advised && fgets(line, sizeof(line), f) != NULL)
        advised = strncmp(line, "VmFlags:", 8) == 0 &&
                  strstr(line, " hg") != NULL;
    fclose(f);
    return advised;
}

int proc_fd_count(pid_t pid)
{
    char path[64];
    struct dirent *e;
    int n = 0;
    DIR *dir;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    dir = opendir(path);
    if (dir == NULL)
        return -1;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(dir);
    return n;
}

double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    const char *p;
    ssize_t n;
    int fd, i;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strrchr(buf, ')');              /* the name may hold spaces */
    /* fields 3.. follow ") "; utime and stime are fields 14 and 15 */
    for (i = 3; i < 14 && p != NULL; i++)
        p = strchr(p + 1, ' ');
    if (p == NULL || sscanf(p + 1, "%lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
