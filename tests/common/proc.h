/* tests/common/proc.h - a process seen from outside, through /proc.
 *
 * The daemon suite, the soak and the benchmarks watch armmapd's resident
 * memory, open descriptors and CPU time without its help.  Each reader
 * returns a negative number (or 0 for CPU time) when the file cannot be
 * read, and leaves what to do about it to the caller.  Linux only.
 */
#ifndef ARMMAP_TESTS_COMMON_PROC_H
#define ARMMAP_TESTS_COMMON_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/**
 * proc_rss_kib() - resident memory of a process.
 * @pid: the process.
 *
 * Return: VmRSS from /proc/PID/status in KiB, -1 if unreadable.
 */
long proc_rss_kib(pid_t pid);

/**
 * proc_huge_kib() - memory of a process in transparent huge pages.
 * @pid: the process.
 *
 * Return: AnonHugePages from /proc/PID/smaps_rollup (Linux 4.14) in KiB,
 * -1 if unreadable.
 */
long proc_huge_kib(pid_t pid);

/**
 * proc_huge_advised() - whether a process advised huge pages anywhere.
 * @pid: the process.
 *
 * Return: true if a mapping of /proc/PID/smaps carries the "hg" VmFlag
 * (madvise(MADV_HUGEPAGE)); false if none does or it is unreadable.
 */
bool proc_huge_advised(pid_t pid);

/**
 * proc_fd_count() - open descriptors of a process.
 * @pid: the process.
 *
 * Return: the entries of /proc/PID/fd, -1 if unreadable.
 */
int proc_fd_count(pid_t pid);

/**
 * proc_cpu_s() - CPU time a process has used so far.
 * @pid: the process.
 *
 * Less disturbed than the wall clock by other jobs on a shared machine.
 * Return: user + system seconds of all its threads (utime and stime of
 * /proc/PID/stat over the clock tick rate), 0 if unreadable.
 */
double proc_cpu_s(pid_t pid);

#endif /* ARMMAP_TESTS_COMMON_PROC_H */
