/* tests/client/test_redirect.c - libarmmap's request keys, retries after a
 * lost connection, and redirects to a machine's owner node.
 *
 * The real armmapd and the real libarmmap: a change sent with a key the
 * daemon has seen is answered as the first time; a change outstanding
 * while armmapd is stopped (SIGSTOP), killed (SIGKILL) and started again
 * on the same socket is resent by the library on a new connection and
 * applied exactly once.
 */
#include "check_client.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static struct armmap_conn *connect_opts(const char *sock, int retry_ms)
{
    struct armmap_options o;
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];
    enum armmap_status st;

    memset(&o, 0, sizeof(o));
    o.tenant = "redirect";
    o.retry_ms = retry_ms;
    st = armmap_connect_unix(sock, o, &c, err);
    ck_assert_msg(st == ARMMAP_OK, "connect: %s", err);
    return c;
}

static uint64_t seq_of(struct armmap_conn *c, uint64_t m)
{
    struct armmap_machine *d = NULL;
    uint64_t seq;

    ck_assert_int_eq(armmap_describe(c, m, &d), ARMMAP_OK);
    seq = d->seq;
    armmap_machine_free(d);
    return seq;
}

static size_t history_len(struct armmap_conn *c, uint64_t m)
{
    struct armmap_history *h = NULL;
    struct armmap_history_query q;
    size_t n;

    memset(&q, 0, sizeof(q));
    ck_assert_int_eq(armmap_history(c, m, &q, &h), ARMMAP_OK);
    n = h->n;
    armmap_history_free(h);
    return n;
}

/* A change sent again with armmap_set_request_key() on another
 * connection is answered with the first result and applied once. */
START_TEST(test_same_key_applies_once)
{
    struct armmap_conn *a = connect_opts(tc_d.sock, 0);
    struct armmap_conn *b = connect_opts(tc_d.sock, 0);
    struct armmap_op_result r1, r2;
    uint64_t m = tc_create(a, "aries");

    armmap_set_request_key(a, 0x5eed);
    ck_assert_int_eq(armmap_alloc(a, m, ARMMAP_ZONE_HIGHMEM, 0, &r1),
                     ARMMAP_OK);
    ck_assert_uint_eq(armmap_last_request_key(a), 0x5eed);
    armmap_set_request_key(b, 0x5eed);
    ck_assert_int_eq(armmap_alloc(b, m, ARMMAP_ZONE_HIGHMEM, 0, &r2),
                     ARMMAP_OK);
    ck_assert_uint_eq(r2.seq, r1.seq);
    ck_assert_uint_eq(r2.value, r1.value);
    ck_assert_uint_eq(seq_of(b, m), r1.seq);
    /* The next change gets a fresh key of its own. */
    ck_assert_int_eq(armmap_alloc(a, m, ARMMAP_ZONE_HIGHMEM, 0, &r2),
                     ARMMAP_OK);
    ck_assert_uint_ne(armmap_last_request_key(a), 0x5eed);
    ck_assert_uint_ne(armmap_last_request_key(a), 0);
    ck_assert_uint_eq(r2.seq, r1.seq + 1);
    armmap_close(a);
    armmap_close(b);
}
END_TEST

/* The change a thread waits for. */
struct waiter {
    struct armmap_conn *c;
    uint64_t m;
    pid_t tid;
    volatile int started;
    enum armmap_status st;
    struct armmap_op_result res;
};

static void *run_alloc(void *arg)
{
    struct waiter *w = arg;

    w->tid = (pid_t)syscall(SYS_gettid);
    __atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
    w->st = armmap_alloc(w->c, w->m, ARMMAP_ZONE_HIGHMEM, 0, &w->res);
    return NULL;
}

/* True once thread @tid sits in poll(): its request is written. */
static bool in_poll(pid_t tid)
{
    char path[64], buf[64];
    FILE *f;
    long nr = -1;

    snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    if (fgets(buf, sizeof(buf), f) != NULL)
        nr = strtol(buf, NULL, 10);
    fclose(f);
#ifdef SYS_poll
    return nr == SYS_poll;
#else
    return nr == SYS_ppoll;
#endif
}

/* A change written to a stopped armmapd, which is then killed and started
 * again on the same socket: the library reconnects and resends it, and
 * the machine has it once. */
START_TEST(test_retry_after_kill)
{
    struct armmap_conn *c = connect_opts(tc_d.sock, 20000);
    struct waiter w;
    pthread_t th;
    int i, status;

    memset(&w, 0, sizeof(w));
    w.c = c;
    w.m = tc_create(c, "aries");
    ck_assert_int_eq(kill(tc_d.pid, SIGSTOP), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, run_alloc, &w), 0);
    for (i = 0; i < 1000 && !(__atomic_load_n(&w.started, __ATOMIC_SEQ_CST) &&
                               in_poll(w.tid));
         i++)
        usleep(10000);
    ck_assert_msg(i < 1000, "the change was not sent within 10 s");
    ck_assert_int_eq(kill(tc_d.pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(tc_d.pid, &status, 0), tc_d.pid);
    ck_assert(WIFSIGNALED(status));
    td_start(&tc_d, (char *)NULL);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_msg(w.st == ARMMAP_OK, "alloc: %s", armmap_errmsg(c));
    ck_assert_uint_eq(w.res.seq, 1);
    ck_assert_uint_eq(seq_of(c, w.m), 1);
    ck_assert_uint_eq(history_len(c, w.m), 1);
    armmap_close(c);
}
END_TEST

Suite *redirect_suite(void)
{
    Suite *s = suite_create("redirect");
    TCase *tc = tcase_create("retry");

    tcase_add_checked_fixture(tc, tc_daemon_setup, tc_daemon_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_key_applies_once);
    tcase_add_test(tc, test_retry_after_kill);
    suite_add_tcase(s, tc);
    return s;
}
