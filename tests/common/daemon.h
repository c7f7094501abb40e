/* tests/common/daemon.h - the real armmapd on a temporary socket.
 *
 * The daemon and client Check suites start build/armmapd (or
 * build/san/armmapd), found next to the test binary, as a child on its own
 * mkdtemp() state directory, so tests never share a database or a socket.
 * Its stderr goes to a log file in that directory.  Every helper fails the
 * test (ck_abort) when the daemon cannot be started, and every wait is
 * bounded and stretched by spawn_time_scale() (spawn.h: ARMMAPD_WRAPPER).
 */
#ifndef ARMMAP_TESTS_COMMON_DAEMON_H
#define ARMMAP_TESTS_COMMON_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

#include "spawn.h"

struct tdaemon {
    pid_t pid;                          /* 0: not running */
    char dir[64];                       /* the temporary state directory */
    char sock[128];
    char log[320];                      /* its stderr */
    int port;                           /* TCP port when started with
                                           --listen (read from its log) */
};

/* The path of program @name (armmapd, armmap, ...) next to the test
 * binary. */
void td_program(const char *name, char *buf, size_t size);
/* The path of the armmapd binary next to the test binary. */
void td_binary(char *buf, size_t size);
/* Creates a fresh state directory (mkdtemp) for @d. */
void td_init(struct tdaemon *d);
/* Starts armmapd on @d's directory with extra flags (NULL-ended) and
 * waits (10 s, scaled) until its socket accepts and, given --listen, its
 * log names the TCP port.  Logs at info into d->log.  The daemon gets
 * SIGTERM if the test process ends first. */
void td_start(struct tdaemon *d, ...);
/* Runs armmapd with the given arguments (NULL-ended), waits for it, and
 * returns its exit status (-1 if killed); its stdout+stderr go to @out
 * (may be NULL).  Killed after 60 s (scaled). */
int td_run(char *out, size_t outsz, ...);
/* The same for any program: @argv is NULL-ended, argv[0] its path (run
 * as named, never behind ARMMAPD_WRAPPER). */
int td_run_argv(char *out, size_t outsz, char *const argv[]);
/* SIGTERM, wait, return the exit status (-1 if killed by a signal). */
int td_stop(struct tdaemon *d);
/* Waits up to 10 s (scaled) for the daemon to exit (SIGKILL after); its
 * status. */
int td_wait(struct tdaemon *d);
/* Stops the daemon, asserts its log holds no sanitizer report, and
 * removes the state directory. */
void td_cleanup(struct tdaemon *d);
/* td_cleanup() without the assertion: for an atexit() handler, when the
 * test has already failed. */
void td_discard(struct tdaemon *d);
/* A Unix stream connection to @path: spawn_unix_connect() (spawn.h). */
#define td_unix_connect(path) spawn_unix_connect(path)
/*
 * A daemon shared by the tests of one test case, for tests that need no
 * fresh one: each works as a tenant of its own (td_tenant_name()) on
 * machines of its own and asserts only on them, so that the tests pass
 * in any order, forked or not (CK_FORK=no, CK_RUN_CASE).  A test that
 * restarts, kills or reconfigures the daemon, or reads its log, starts
 * its own instead.
 *   tcase_add_unchecked_fixture(tc, td_shared_setup, td_shared_teardown);
 * starts td_shared (no extra flags) once for the case and stops it after
 * its last test, asserting its log holds no sanitizer report.
 */
extern struct tdaemon td_shared;
void td_shared_setup(void);
void td_shared_teardown(void);
/* "@prefix-PID-N": a tenant name no other test of this run uses (N counts
 * the calls of this process); into @buf, which is returned. */
const char *td_tenant_name(const char *prefix, char *buf, size_t size);

/* The contents of d->log (static buffer, its first 64 KiB). */
const char *td_log(const struct tdaemon *d);
/* Polls the log (bounded: 20 s, stretched by spawn_time_scale()) until it
 * holds @text; false if it never does. */
bool td_log_wait(const struct tdaemon *d, const char *text);

#endif /* ARMMAP_TESTS_COMMON_DAEMON_H */
