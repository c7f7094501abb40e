/* tests/common/spawn.h - run armmapd behind ARMMAPD_WRAPPER.
 *
 * The daemon and client Check suites start the real armmapd as a child.
 * When ARMMAPD_WRAPPER is set (make valgrind sets it to a valgrind
 * command), its words go before the armmapd command line, and every wait
 * for the daemon lasts spawn_time_scale() times longer.  Plain C and POSIX
 * only: no Check, no project headers.
 */
#ifndef ARMMAP_TESTS_COMMON_SPAWN_H
#define ARMMAP_TESTS_COMMON_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * spawn_time_scale() - how many times longer every wait lasts.
 *
 * Return: ARMMAPD_TIMEOUT_SCALE if set to a positive number, else 20 when
 * ARMMAPD_WRAPPER is set, else 1.
 */
int spawn_time_scale(void);

/**
 * spawn_wrapped() - whether ARMMAPD_WRAPPER puts a command before armmapd.
 *
 * Return: true if ARMMAPD_WRAPPER is set and not empty.
 */
bool spawn_wrapped(void);

/**
 * spawn_exec() - exec armmapd in a child, behind the wrapper if set.
 * @argv: NULL-ended; argv[0] is the armmapd path.  At most 64 arguments
 *        are passed on, and at most 24 words of ARMMAPD_WRAPPER.
 *
 * Allocates nothing (safe after fork() in a threaded process).
 * Return: only if exec failed (errno says why).
 */
void spawn_exec(char **argv);

/**
 * spawn_start() - start armmapd (behind the wrapper if set) in a child
 * that gets SIGTERM when the calling thread ends (a test that crashes or
 * is killed takes its daemon down).
 * @argv: as spawn_exec() takes it
 * @log:  the child's stderr is appended to this file (made if missing)
 *
 * Starts it with posix_spawnp() (CLONE_VM | CLONE_VFORK in glibc: no
 * copy of the caller's page tables, which fork() made of every sanitized
 * test process for every daemon it started), through `setpriv
 * --pdeathsig TERM` (util-linux), as no code of ours runs in the child to
 * call prctl(PR_SET_PDEATHSIG).
 * Return: the child's pid, or -1 (errno set) if it could not be started.
 */
pid_t spawn_start(char **argv, const char *log);

/**
 * spawn_wall_ms() - the wall clock (CLOCK_REALTIME) in ms, as armmapd
 * stamps machines and events with it.
 */
int64_t spawn_wall_ms(void);

/**
 * spawn_wait_clock_past() - wait until the wall clock reads more than @ms.
 * @ms: a spawn_wall_ms() reading, plus whatever age a test needs
 *
 * For tests of what the daemon decides by its wall clock (a purge of
 * machines destroyed more than N ms ago): read the clock after the reply
 * that stamped something, then wait for the exact age instead of sleeping
 * a guess.  Checks in 1 ms steps, for at most 10 s (scaled).
 * Return: true once the clock is past @ms, false if it never got there.
 */
bool spawn_wait_clock_past(int64_t ms);

/**
 * spawn_sleep_ms() - sleep @ms milliseconds: a polling loop's step
 * between looks at a condition, never a wait in place of one.
 */
void spawn_sleep_ms(long ms);

/**
 * spawn_remove_tree() - remove @dir and everything under it, in-process.
 * @dir: a directory; symbolic links in it are removed, never followed
 *
 * What `rm -rf` did without running a shell and rm for every test's state
 * directory.  Return: 0, or -1 (errno set) if anything stayed.
 */
int spawn_remove_tree(const char *dir);

/**
 * spawn_unix_connect() - a Unix stream connection (close-on-exec).
 * @path: the socket's path; longer than sun_path allows is cut there
 *
 * Return: the connected descriptor, or -1 (errno set) if none.
 */
int spawn_unix_connect(const char *path);

#endif /* ARMMAP_TESTS_COMMON_SPAWN_H */
