/* tests/daemon/test_frames.c - bad frames, limits on connections, idle
 * timeouts, backpressure.  After every bad frame the daemon must still
 * serve a new connection.
 */
#include "check_daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
    td_start(&d, "--max-connections=3", "--max-queued-bytes=4096",
             "--log-level=debug", "--admin-tenant=conns", NULL);
}

static void teardown(void)
{
    td_cleanup(&d);
}

/* A new session still answers ping. */
static void still_serving(void)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;
    int fd = td_session(&d, "after");
    Armmap__V1__Response *r;

    req.id = 99;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &p;
    r = td_call(fd, &req);
    ck_assert_status(r, 99, 0, "");
    td_free(r);
    close(fd);
}

START_TEST(test_oversize_length_refused_before_allocation)
{
    static const uint8_t hdr[4] = { 0xff, 0xff, 0xff, 0xff };
    long before = td_rss_kib(&d), after;
    int fd = td_connect(&d);
    Armmap__V1__Response *r;

    td_write(fd, hdr, 4);
    r = td_recv(fd);
    ck_assert_status(
        r, 0, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
        "frame of 4294967295 bytes exceeds --max-hello-frame (8192 bytes) "
        "before hello");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);
    after = td_rss_kib(&d);
    ck_assert_msg(after - before < 8192, "RSS grew from %ld to %ld KiB", before,
                  after);
    still_serving();
}
END_TEST

START_TEST(test_garbage_text_is_an_oversize_frame)
{
    static const char http[] = "GET / HTTP/1.1\r\n\r\n";
    int fd = td_connect(&d);
    Armmap__V1__Response *r;

    td_write(fd, http, sizeof(http) - 1);
    r = td_recv(fd);
    /* "GET " read as a big-endian length is 0x47455420. */
    ck_assert_status(
        r, 0, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
        "frame of 1195725856 bytes exceeds --max-hello-frame (8192 bytes) "
        "before hello");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);
    still_serving();
}
END_TEST

START_TEST(test_body_that_does_not_decode)
{
    static const uint8_t frame[] = { 0, 0, 0, 3, 0x0f, 0x0f, 0x0f };
    int fd = td_connect(&d);
    Armmap__V1__Response *r;

    td_write(fd, frame, sizeof(frame));
    r = td_recv(fd);
    ck_assert_status(
        r, 0, ARMMAP__V1__CODE__INVALID_ARGUMENT,
        "frame of 3 bytes does not decode as an armmap.v1.Request");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);
    still_serving();
}
END_TEST

START_TEST(test_empty_request_has_no_body)
{
    static const uint8_t frame[] = { 0, 0, 0, 0 };
    int fd = td_session(&d, "t");
    Armmap__V1__Response *r;

    td_write(fd, frame, sizeof(frame));
    r = td_recv(fd);
    ck_assert_status(r, 0, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "request 0 has no body this daemon knows");
    td_free(r);
    close(fd);
    still_serving();
}
END_TEST

START_TEST(test_truncated_frame_then_close)
{
    static const uint8_t part[] = { 0, 0, 0, 100, 8, 1, 0x5a, 0 };
    int fd = td_connect(&d);

    td_write(fd, part, sizeof(part));
    close(fd);
    still_serving();
}
END_TEST

START_TEST(test_too_many_connections)
{
    int a = td_connect(&d), b = td_session(&d, "conns"), c = td_connect(&d);
    int e = td_connect(&d), i;
    Armmap__V1__Response *r = td_recv(e);
    uint64_t open = 3;

    ck_assert_status(r, 0, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "too many connections (--max-connections 3)");
    td_free(r);
    ck_assert(td_closed(e));
    close(e);
    close(a);
    /* Serving again once the daemon has seen a go (its count, asked over
     * b, is then b and c). */
    for (i = 0; i < 1000 * spawn_time_scale() && open != 2; i++) {
        Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
        Armmap__V1__Stats st = ARMMAP__V1__STATS__INIT;

        if (i > 0)
            usleep(2000);
        req.id = 2;
        req.body_case = ARMMAP__V1__REQUEST__BODY_STATS;
        req.stats = &st;
        r = td_call(b, &req);
        ck_assert_status(r, 2, 0, "");
        open = r->stats->connections;
        td_free(r);
    }
    ck_assert_uint_eq(open, 2);
    still_serving();
    close(b);
    close(c);
}
END_TEST

/* Sends @n copies of @req (ids 500, 501, ...) while reading the replies,
 * as a client that pipelines does: the daemon stops reading us whenever
 * more than --max-queued-bytes of replies are pending, so we must write
 * and read at the same time.  Every reply must come, in order, OK; @check
 * looks at each. */
static void pipeline(int fd, Armmap__V1__Request *req, size_t n,
                     void (*check)(const Armmap__V1__Response *r, size_t i))
{
    size_t one = armmap__v1__request__get_packed_size(req) + 16;
    size_t cap = n * one, len = 0, sent = 0, got = 0, ngot = 0, rcap = 1 << 20;
    uint8_t *out = malloc(cap), *in = malloc(rcap);
    size_t i;
    int spins = 0;

    ck_assert(out != NULL && in != NULL);
    for (i = 0; i < n; i++) {
        size_t k;

        req->id = 500 + (uint64_t)i;
        k = armmap__v1__request__get_packed_size(req);
        ck_assert_uint_le(len + 4 + k, cap);
        out[len] = (uint8_t)(k >> 24);
        out[len + 1] = (uint8_t)(k >> 16);
        out[len + 2] = (uint8_t)(k >> 8);
        out[len + 3] = (uint8_t)k;
        armmap__v1__request__pack(req, out + len + 4);
        len += 4 + k;
    }
    while (ngot < n && spins++ < 1000000) {
        struct pollfd p = { fd, POLLIN | (sent < len ? POLLOUT : 0), 0 };
        ssize_t k;

        ck_assert_int_ge(poll(&p, 1, 5000), 1);
        if ((p.revents & POLLOUT) && sent < len) {
            k = send(fd, out + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (k > 0)
                sent += (size_t)k;
        }
        if (!(p.revents & POLLIN))
            continue;
        k = recv(fd, in + got, rcap - got, MSG_DONTWAIT);
        ck_assert_int_ne(k, 0);
        if (k > 0)
            got += (size_t)k;
        for (;;) {
            Armmap__V1__Response *r;
            uint32_t flen;

            if (got < 4)
                break;
            flen = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
                   (uint32_t)in[2] << 8 | in[3];
            if (got < 4 + (size_t)flen)
                break;
            r = armmap__v1__response__unpack(NULL, flen, in + 4);
            ck_assert_status(r, 500 + ngot, 0, "");
            check(r, ngot);
            td_free(r);
            ngot++;
            memmove(in, in + 4 + flen, got - 4 - flen);
            got -= 4 + flen;
        }
    }
    ck_assert_uint_eq(ngot, n);
    free(out);
    free(in);
}

static void check_translate(const Armmap__V1__Response *r, size_t i)
{
    (void)i;
    ck_assert_uint_eq(r->translate->pa[99], 0x40000000u + 99 * 4096u);
}

static void check_seq(const Armmap__V1__Response *r, size_t i)
{
    ck_assert_uint_eq(r->op->seq, i + 1);
}

START_TEST(test_backpressure_answers_everything_in_order)
{
    /* 300 translate replies of ~600 bytes each against a 4 KiB limit. */
    int fd = td_session(&d, "bp");
    uint64_t m = td_create(fd, "qemu-virt", NULL);
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    uint32_t va[100];
    int i;

    for (i = 0; i < 100; i++)
        va[i] = 0xc0000000u + (uint32_t)i * 4096u;
    t.machine = m;
    t.n_va = 100;
    t.va = va;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    pipeline(fd, &req, 300, check_translate);
    ck_assert_ptr_nonnull(strstr(td_log(&d), "reading paused"));
    close(fd);
}
END_TEST

START_TEST(test_backpressure_counts_replies_waiting_for_commits)
{
    /* 3000 changes: their ~20-byte replies wait for commits, and more
     * than 4 KiB of them pause the connection too. */
    int fd = td_session(&d, "bp");
    uint64_t m = td_create(fd, "qemu-virt", NULL);
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;

    op.machine = m;
    op.code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    pipeline(fd, &req, 3000, check_seq);
    ck_assert_ptr_nonnull(strstr(td_log(&d), "reading paused"));
    close(fd);
}
END_TEST

START_TEST(test_idle_connection_times_out)
{
    struct tdaemon d2;
    int fd;

    td_init(&d2);
    td_start(&d2, "--idle-timeout=1", NULL);
    fd = td_session(&d2, "idle");
    ck_assert(td_closed(fd));
    close(fd);
    ck_assert_ptr_nonnull(strstr(td_log(&d2), "idle for 1 s; closing"));
    td_cleanup(&d2);
}
END_TEST

/* One byte every 300 ms keeps the read timeout from firing, but the frame
 * itself must arrive within the idle timeout. */
START_TEST(test_dripping_frame_is_closed)
{
    static const uint8_t hdr[4] = { 0, 0, 0, 100 };
    struct tdaemon d2;
    int fd, i;

    td_init(&d2);
    td_start(&d2, "--idle-timeout=1", NULL);
    fd = td_session(&d2, "drip");
    td_write(fd, hdr, sizeof(hdr));
    for (i = 0; i < 20; i++) {
        usleep(300 * 1000);
        if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
            break;
    }
    ck_assert_int_lt(i, 10);            /* closed after about 1.2 s */
    close(fd);
    ck_assert_ptr_nonnull(strstr(td_log(&d2), "a frame took longer than "
                                 "--idle-timeout (1 s) to arrive; closing"));
    td_cleanup(&d2);
}
END_TEST

START_TEST(test_max_machines_in_total)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Response *r;
    struct tdaemon d2;
    int a, b;

    td_init(&d2);
    td_start(&d2, "--max-machines=1", NULL);
    a = td_session(&d2, "one");
    b = td_session(&d2, "two");
    td_create(a, "qemu-virt", NULL);
    cr.preset = (char *)"qemu-virt";
    req.id = 3;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    r = td_call(b, &req);
    ck_assert_status(r, 3, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "create: the daemon holds 1 machines (--max-machines)");
    td_free(r);
    close(a);
    close(b);
    td_cleanup(&d2);
}
END_TEST

Suite *frames_suite(void)
{
    Suite *s = suite_create("frames");
    TCase *tc = tcase_create("frames");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_oversize_length_refused_before_allocation);
    tcase_add_test(tc, test_garbage_text_is_an_oversize_frame);
    tcase_add_test(tc, test_body_that_does_not_decode);
    tcase_add_test(tc, test_empty_request_has_no_body);
    tcase_add_test(tc, test_truncated_frame_then_close);
    tcase_add_test(tc, test_too_many_connections);
    tcase_add_test(tc, test_backpressure_answers_everything_in_order);
    tcase_add_test(tc, test_backpressure_counts_replies_waiting_for_commits);
    tcase_add_test(tc, test_idle_connection_times_out);
    tcase_add_test(tc, test_dripping_frame_is_closed);
    tcase_add_test(tc, test_max_machines_in_total);
    suite_add_tcase(s, tc);
    return s;
}
