/* tests/client/check_client.h - shared helpers of the client suites.
 *
 * Every test that needs a daemon starts the real armmapd (found next to
 * the test binary through /proc/self/exe) with its own mkdtemp() state
 * directory and socket, talks to it through the real libarmmap or runs the
 * real armmap binary as a subprocess, and stops it in the teardown.
 */
#ifndef ARMMAP_TESTS_CHECK_CLIENT_H
#define ARMMAP_TESTS_CHECK_CLIENT_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "armmap.h"

/* td_start() and the rest of the daemon's life: one harness with the
 * daemon suite. */
#include "../common/daemon.h"
/* ck_loop_assert_*: assertions for loops of thousands of checks. */
#include "../common/ckloop.h"

/* Output of one armmap run. */
struct trun {
    int status; /* exit status, -1 if killed */
    char *out;  /* stdout, NUL-terminated */
    size_t out_len;
    char *err; /* stderr, NUL-terminated */
};

/* The running daemon of the current test (set by tc_daemon_setup). */
extern struct tdaemon tc_d;

/* Checked fixtures: a daemon on a fresh state directory per test. */
void tc_daemon_setup(void);
void tc_daemon_teardown(void);

/* Runs armmap with NULL-terminated arguments ("-s SOCK" is added first
 * when @sock is non-NULL), feeding @in (may be NULL) to its stdin.
 * Bounded: killed after 120 s. */
struct trun tc_armmap(const char *sock, const char *in, size_t in_len, ...);
void tc_run_free(struct trun *r);

/* A connection to tc_d over its Unix socket (default options). */
struct armmap_conn *tc_connect(void);
/* Creates a machine from @preset over @conn; returns its id. */
uint64_t tc_create(struct armmap_conn *conn, const char *preset);

/* Writes @len bytes to a new file in the state dir; returns its path
 * (static buffer, valid until the next call). */
const char *tc_write_file(const char *name, const char *data, size_t len);

/* Suites. */
Suite *parse_suite(void);
Suite *lib_suite(void);
Suite *cli_suite(void);
Suite *bulk_suite(void);
Suite *fuzz_suite(void);
Suite *json_suite(void);
Suite *dist_suite(void);
Suite *stream_suite(void);
Suite *parked_cli_suite(void);
Suite *redirect_suite(void); /* test_redirect.c */

#endif /* ARMMAP_TESTS_CHECK_CLIENT_H */
