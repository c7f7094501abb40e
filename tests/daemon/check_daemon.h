/* tests/daemon/check_daemon.h - shared helpers of the armmapd Check suites.
 *
 * The suites run the real armmapd binary (found next to the test binary)
 * on a temporary state directory and Unix socket, and talk raw frames with
 * protobuf-c: a 4-byte big-endian length, then one armmap.v1.Request; the
 * answer is one armmap.v1.Response.  Every helper fails the test (ck_abort)
 * on a transport error, and every blocking read has a timeout.
 */
#ifndef ARMMAP_TESTS_DAEMON_CHECK_DAEMON_H
#define ARMMAP_TESTS_DAEMON_CHECK_DAEMON_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "armmap.pb-c.h"
/* The suite's waits stretch by spawn_time_scale() under ARMMAPD_WRAPPER
 * (valgrind); proc.h reads a process's VmRSS, descriptors, CPU time. */
#include "../common/proc.h"
#include "../common/spawn.h"
/* td_start() and the rest of the daemon's life: one harness with the
 * client suite. */
#include "../common/daemon.h"
/* ck_loop_assert_*: assertions for loops of thousands of checks. */
#include "../common/ckloop.h"


/* A connection to the daemon's socket with a 10 s (scaled) receive
 * timeout. */
int td_connect(const struct tdaemon *d);
/* Writes raw bytes. */
void td_write(int fd, const void *buf, size_t len);
/* Sends one Request frame. */
void td_send(int fd, const Armmap__V1__Request *req);
/* Sends request @id: a Batch of @n kmap_flush ops on @machine (a change
 * that needs no state, one event each). */
void td_send_flush_batch(int fd, uint64_t id, uint64_t machine, size_t n);
/* Reads one Response; NULL on EOF.  Free with td_free(). */
Armmap__V1__Response *td_recv(int fd);
void td_free(Armmap__V1__Response *r);
/* Sends Ping @id and asserts the Pong. */
void td_ping(int fd, uint64_t id);
/* A loopback TCP port nobody listens on now (bound to 0, read back,
 * closed). */
int td_free_port(void);
/* Starts @d (td_init first) with --http on a loopback port just free;
 * returns the port. */
int td_start_http(struct tdaemon *d);
/* Sends and receives. */
Armmap__V1__Response *td_call(int fd, const Armmap__V1__Request *req);
/* True if the peer closed (read returns 0) within 5 s (scaled). */
bool td_closed(int fd);
/* Describe @machine (request @id), asked again while it answers
 * UNAVAILABLE: a machine being rebuilt on a worker after a failed write
 * (at most 6,000 tries 5 ms apart, scaled).  The last Response. */
Armmap__V1__Response *td_describe_rebuilt(int fd, uint64_t id,
                                          uint64_t machine);

/* Hello as @tenant; asserts OK.  Returns the connection. */
int td_session(const struct tdaemon *d, const char *tenant);
/* Creates a machine (preset, then "key=value" settings NULL-ended);
 * asserts OK and returns its id. */
uint64_t td_create(int fd, const char *preset, ...);
/* Sends one op (args given as an array) without reading the answer. */
void td_op_send(int fd, uint64_t id, uint64_t machine, int code,
                uint32_t cpu, const uint32_t *args, size_t nargs,
                uint32_t wait_ms);
/* Applies one op (args given as an array); returns the Response. */
Armmap__V1__Response *td_op(int fd, uint64_t id, uint64_t machine, int code,
                            uint32_t cpu, const uint32_t *args, size_t nargs,
                            uint32_t wait_ms);
/* Applies one op and asserts OK; returns OpResult.value. */
uint32_t td_op_ok(int fd, uint64_t machine, int code, const uint32_t *args,
                  size_t nargs);
/* Applies @n ops of @code in one Batch on @machine: with @nargs 1, op i
 * takes args[i]; otherwise every op takes all @nargs of @args.  Returns
 * the Response. */
Armmap__V1__Response *td_batch(int fd, uint64_t id, uint64_t machine,
                               int code, const uint32_t *args, size_t nargs,
                               size_t n, bool stop);
/* Allocates @n order-0 HighMem pages in one Batch (id 7); asserts every
 * one succeeded and fills @pfns. */
void td_alloc_highmem(int fd, uint64_t machine, uint32_t *pfns, size_t n);
/* Translates @n addresses (plain lookup); fills @pa and @fault. */
void td_translate(int fd, uint64_t machine, const uint32_t *va, size_t n,
                  uint32_t *pa, uint8_t *fault);

/* The daemon's VmRSS in KiB and its open descriptors (tests/common/proc.c);
 * both assert that /proc could be read. */
long td_rss_kib(const struct tdaemon *d);
int td_fd_count(const struct tdaemon *d);

/* Asserts a response's id, code and message. */
#define ck_assert_status(r, want_id, want_code, want_msg)                     \
    do {                                                                      \
        ck_assert_ptr_nonnull(r);                                             \
        ck_assert_uint_eq((r)->id, (want_id));                                \
        ck_assert_ptr_nonnull((r)->status);                                   \
        ck_assert_str_eq((r)->status->message, (want_msg));                   \
        ck_assert_int_eq((r)->status->code, (want_code));                     \
    } while (0)

Suite *settings_suite(void);
Suite *session_suite(void);
Suite *ops_suite(void);
Suite *frames_suite(void);
Suite *park_suite(void);
Suite *life_suite(void);
Suite *systemd_suite(void);
Suite *durability_suite(void);
Suite *abuse_suite(void);
Suite *commit_suite(void);
Suite *integrity_suite(void);
Suite *inject_suite(void);
Suite *checkpoint_suite(void);
Suite *preauth_suite(void);
Suite *input_suite(void);
Suite *tenancy_suite(void);
Suite *http_suite(void);
Suite *http_static_suite(void);
Suite *http_reports_suite(void);
Suite *names_suite(void);
#ifdef STORE_HAVE_PG
Suite *pg_daemon_suite(void);
Suite *cluster_suite(void);             /* test_cluster.c */
#endif
Suite *reset_suite(void);
Suite *parked_describe_suite(void);
Suite *stream_replies_suite(void);
Suite *rkeys_suite(void);               /* test_rkeys.c */
Suite *linger_suite(void);              /* test_linger.c */
Suite *hugepage_suite(void);            /* test_hugepage.c */
Suite *boots_daemon_suite(void);        /* test_boots.c */
#ifdef STORE_HAVE_PG
Suite *pg_rkeys_suite(void);
Suite *pg_lazy_suite(void);            /* test_pg_lazy.c */
#endif

#endif /* ARMMAP_TESTS_DAEMON_CHECK_DAEMON_H */
