/* tests/client/test_redirect.c - libarmmap's request keys, retries after a
 * lost connection, and redirects to a machine's owner node.
 *
 * The real armmapd and the real libarmmap: a change sent with a key the
 * daemon has seen is answered as the first time; a change outstanding
 * while armmapd is stopped (SIGSTOP), killed (SIGKILL) and started again
 * on the same socket is resent by the library on a new connection and
 * applied exactly once.  Suite redirect's case "moved" (a PostgreSQL
 * server started by the suite, tests/common/pgserver.c, and two real
 * armmapd nodes on it): a client of node b changing a machine of node a
 * gets a's answer, applied once, through libarmmap's peer connection; after
 * a is killed -9, the same client's next change is served once b has
 * claimed the machine.  Skipped (after saying so) without the server.
 */
#include "check_client.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
    /* A poll interrupted by a signal (SIGCHLD when the daemon is
     * stopped) goes on as restart_syscall. */
    if (nr == SYS_restart_syscall)
        return true;
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

#ifdef STORE_HAVE_PG
#include "../common/pgserver.h"

/* A loopback port nobody listens on now. */
static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* One node of the cluster on database @url. */
static void node_start(struct tdaemon *d, const char *name, const char *url)
{
    char db[320], node[80], listen[80];

    td_init(d);
    snprintf(db, sizeof(db), "--database=%s", url);
    snprintf(node, sizeof(node), "--node=%s", name);
    snprintf(listen, sizeof(listen), "--listen=127.0.0.1:%d", free_port());
    td_start(d, db, node, listen, "--lease-ms=1000", (char *)NULL);
}

/* Two nodes a and b on a fresh database @db of the suite's server, a
 * redirect client of each in @ca and @cb, and a machine created through
 * a (so owned by a) in @m.  False (the test then passes, the suite said
 * why) without the server. */
static bool two_nodes(const char *db, struct tdaemon *a, struct tdaemon *b,
                      struct armmap_conn **ca, struct armmap_conn **cb,
                      uint64_t *m)
{
    const struct pgserver *pg = pgfix_server("test_redirect");
    char url[256];

    if (pg == NULL)
        return false;
    ck_assert_msg(pgserver_create_db(pg, db, url) == 0, "%s", url);
    node_start(a, "a", url);
    node_start(b, "b", url);
    *ca = connect_opts(a->sock, 0);
    *cb = connect_opts(b->sock, 0);
    *m = tc_create(*ca, "aries");
    return true;
}

/* A change of node a's machine sent to node b is served by a, once; once
 * a is dead and its lease over, by b, once. */
START_TEST(test_follows_moved)
{
    struct tdaemon a, b;
    struct armmap_conn *ca, *cb;
    struct armmap_op_result r;
    uint64_t m;
    int status;

    if (!two_nodes("armmap_redirect", &a, &b, &ca, &cb, &m))
        return;
    ck_assert_int_eq(armmap_alloc(cb, m, ARMMAP_ZONE_HIGHMEM, 0, &r),
                     ARMMAP_OK);
    ck_assert_uint_eq(r.seq, 1);
    ck_assert_uint_eq(seq_of(cb, m), 1); /* describe: a's, through b */
    ck_assert_uint_eq(seq_of(ca, m), 1);
    ck_assert_uint_eq(history_len(cb, m), 1);
    /* a dies: b claims the machine once a's lease has run out, and the
     * client, whose route to a fails, goes back through b. */
    ck_assert_int_eq(kill(a.pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(a.pid, &status, 0), a.pid);
    ck_assert_int_eq(armmap_alloc(cb, m, ARMMAP_ZONE_HIGHMEM, 0, &r),
                     ARMMAP_OK);
    ck_assert_uint_eq(r.seq, 2);
    ck_assert_uint_eq(history_len(cb, m), 2);
    armmap_close(ca);
    armmap_close(cb);
    td_cleanup(&b);
    td_cleanup(&a);
}
END_TEST

/* Pipelined requests for node a's machine sent to node b: each MOVED
 * reply is followed (the request resent to a), so every reply is the
 * owner's, in order, under the id its send returned; a ping between them
 * is b's own. */
START_TEST(test_pipeline_follows_moved)
{
    static const uint32_t hi[2] = { ARMMAP_ZONE_HIGHMEM, 0 };
    struct armmap_op op = { .code = ARMMAP_OP_ALLOC, .nargs = 2, .args = hi };
    struct tdaemon a, b;
    struct armmap_conn *ca, *cb;
    struct armmap_reply *r;
    uint64_t m, ids[4];
    int i;

    if (!two_nodes("armmap_pipe_moved", &a, &b, &ca, &cb, &m))
        return;
    ck_assert_int_eq(armmap_send_op(cb, m, &op, &ids[0]), ARMMAP_OK);
    ck_assert_int_eq(armmap_send_op(cb, m, &op, &ids[1]), ARMMAP_OK);
    ck_assert_int_eq(armmap_send_ping(cb, &ids[2]), ARMMAP_OK);
    ck_assert_int_eq(armmap_send_op(cb, m, &op, &ids[3]), ARMMAP_OK);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(armmap_recv(cb, &r), ARMMAP_OK);
        ck_assert_uint_eq(r->id, ids[i]);
        ck_assert_msg(r->status == ARMMAP_OK, "reply %d: %d %s", i, r->status,
                      r->msg);
        if (i != 2) {
            ck_assert_int_eq(r->kind, ARMMAP_REPLY_OP);
            ck_assert_uint_eq(r->op.seq, (uint64_t)(i < 2 ? i + 1 : 3));
        }
        armmap_reply_free(r);
    }
    ck_assert_uint_eq(seq_of(ca, m), 3);
    ck_assert_uint_eq(history_len(ca, m), 3);
    armmap_close(ca);
    armmap_close(cb);
    ck_assert_int_eq(td_stop(&a), 0);
    ck_assert_int_eq(td_stop(&b), 0);
    td_cleanup(&b);
    td_cleanup(&a);
}
END_TEST
#endif

/* Pipelined keyed changes outstanding when the daemon is killed and
 * started again: armmap_recv() reconnects, resends them in order under
 * their ids, and each is applied once; an unkeyed change outstanding is
 * not resent (ARMMAP_IO). */
START_TEST(test_pipeline_resends_keyed_after_kill)
{
    static const uint32_t hi[2] = { ARMMAP_ZONE_HIGHMEM, 0 };
    struct armmap_op op = { .code = ARMMAP_OP_ALLOC, .nargs = 2, .args = hi };
    struct armmap_conn *c = connect_opts(tc_d.sock, 20000);
    struct armmap_reply *r;
    uint64_t m, ids[3];
    int i, status;

    m = tc_create(c, "aries");
    ck_assert_int_eq(kill(tc_d.pid, SIGSTOP), 0);
    for (i = 0; i < 3; i++) {
        armmap_set_request_key(c, 1000 + (uint64_t)i);
        ck_assert_int_eq(armmap_send_op(c, m, &op, &ids[i]), ARMMAP_OK);
    }
    ck_assert_int_eq(kill(tc_d.pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(tc_d.pid, &status, 0), tc_d.pid);
    td_start(&tc_d, (char *)NULL);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(armmap_recv(c, &r), ARMMAP_OK);
        ck_assert_uint_eq(r->id, ids[i]);
        ck_assert_msg(r->status == ARMMAP_OK, "%s", r->msg);
        ck_assert_uint_eq(r->op.seq, (uint64_t)i + 1);
        armmap_reply_free(r);
    }
    ck_assert_uint_eq(history_len(c, m), 3);
    /* Unkeyed: not resent. */
    ck_assert_int_eq(kill(tc_d.pid, SIGSTOP), 0);
    ck_assert_int_eq(armmap_send_op(c, m, &op, &ids[0]), ARMMAP_OK);
    ck_assert_int_eq(kill(tc_d.pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(tc_d.pid, &status, 0), tc_d.pid);
    td_start(&tc_d, (char *)NULL);
    ck_assert_int_eq(armmap_recv(c, &r), ARMMAP_IO);
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
    tcase_add_test(tc, test_pipeline_resends_keyed_after_kill);
    suite_add_tcase(s, tc);
#ifdef STORE_HAVE_PG
    tc = tcase_create("moved");
    tcase_add_unchecked_fixture(tc, pgfix_setup, pgfix_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_follows_moved);
    tcase_add_test(tc, test_pipeline_follows_moved);
    suite_add_tcase(s, tc);
#endif
    return s;
}
