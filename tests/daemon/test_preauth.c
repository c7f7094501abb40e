/* tests/daemon/test_preauth.c - what a connection costs before Hello.
 *
 * Until Hello succeeds a connection may send frames of at most
 * --max-hello-frame bytes, only a Hello body is decoded, and the whole
 * Hello must arrive within --hello-timeout of the connection opening.
 * The memory figures are the daemon's VmRSS read from /proc, before and
 * after; the bounds are loose (a few MiB) against the gigabyte these
 * requests cost when they were decoded whole.
 */
#include "check_daemon.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BIG_FRAME       (16u << 20)     /* the default --max-frame */
#define NCONNS          40

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
    td_start(&d, NULL);
}

static void teardown(void)
{
    td_cleanup(&d);
}

/* Writes as much of @buf as the peer takes, until it closes or errs;
 * returns the bytes written.  The daemon may close in the middle. */
static size_t write_until_closed(int fd, const uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);

        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done;
}

/* A 16 MiB Request whose Batch body is nothing but empty ops (each two
 * bytes: field 2, length 0): protobuf-c would make 8 million Op structs. */
static uint8_t *empty_ops_frame(size_t *len)
{
    size_t body = BIG_FRAME - 8, i;        /* id, key, 4-byte length */
    uint8_t *f = malloc(4 + BIG_FRAME), *p = f;

    ck_assert_ptr_nonnull(f);
    *p++ = (uint8_t)(BIG_FRAME >> 24);
    *p++ = (uint8_t)(BIG_FRAME >> 16);
    *p++ = (uint8_t)(BIG_FRAME >> 8);
    *p++ = (uint8_t)BIG_FRAME;
    *p++ = 0x08;                            /* id = 1 */
    *p++ = 0x01;
    *p++ = 0x8a;                            /* field 17 (batch), bytes */
    *p++ = 0x01;
    *p++ = (uint8_t)(0x80 | (body & 0x7f));
    *p++ = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
    *p++ = (uint8_t)(0x80 | ((body >> 14) & 0x7f));
    *p++ = (uint8_t)(body >> 21);
    for (i = 0; i < body; i += 2) {
        *p++ = 0x12;
        *p++ = 0x00;
    }
    ck_assert_uint_eq((size_t)(p - f), 4 + BIG_FRAME);
    *len = 4 + BIG_FRAME;
    return f;
}

START_TEST(test_big_frame_before_hello_is_refused_unread)
{
    long before = td_rss_kib(&d), after;
    int fd = td_connect(&d);
    Armmap__V1__Response *r;
    uint8_t *frame;
    size_t len;

    frame = empty_ops_frame(&len);
    write_until_closed(fd, frame, len);
    free(frame);
    r = td_recv(fd);
    ck_assert_status(r, 0, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "frame of 16777216 bytes exceeds --max-hello-frame "
                     "(8192 bytes) before hello");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);
    after = td_rss_kib(&d);
    ck_assert_msg(after - before < 2048, "RSS grew from %ld to %ld KiB",
                  before, after);
}
END_TEST

/* Forty connections each start a 16 MiB frame and keep it unfinished. */
START_TEST(test_unfinished_big_frames_before_hello_cost_little)
{
    static const uint8_t hdr[4] = {
        (uint8_t)(BIG_FRAME >> 24), (uint8_t)(BIG_FRAME >> 16), 0, 0
    };
    static uint8_t chunk[1 << 20];
    long before = td_rss_kib(&d), after;
    int fds[NCONNS], i, k;

    for (i = 0; i < NCONNS; i++) {
        struct timeval tv = { 0, 200000 };

        fds[i] = td_connect(&d);
        /* A bounded wait per send: a daemon that stops reading must not
         * hang the test. */
        setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        td_write(fds[i], hdr, sizeof(hdr));
        for (k = 0; k < 15; k++) {
            if (write_until_closed(fds[i], chunk, sizeof(chunk)) <
                sizeof(chunk))
                break;
        }
    }
    after = td_rss_kib(&d);
    ck_assert_msg(after - before < 4096, "RSS grew from %ld to %ld KiB "
                  "with %d unfinished frames", before, after, NCONNS);
    for (i = 0; i < NCONNS; i++) {
        Armmap__V1__Response *r = td_recv(fds[i]);

        ck_assert_status(r, 0, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                         "frame of 16777216 bytes exceeds --max-hello-frame "
                         "(8192 bytes) before hello");
        td_free(r);
        close(fds[i]);
    }
}
END_TEST

START_TEST(test_after_hello_the_big_frame_limit_applies)
{
    static const uint8_t hdr[4] = { 0x00, 0x10, 0x00, 0x00 };   /* 1 MiB */
    int fd = td_session(&d, "t");
    struct pollfd p = { fd, POLLIN, 0 };

    /* Accepted (it waits for the body): no answer, no close. */
    td_write(fd, hdr, sizeof(hdr));
    ck_assert_int_eq(poll(&p, 1, 300), 0);
    close(fd);
}
END_TEST

/* Only Hello is decoded before Hello: another body is refused by its
 * field number alone, whatever its bytes. */
START_TEST(test_other_bodies_before_hello_are_not_decoded)
{
    static const uint8_t frame[] = {
        0, 0, 0, 7, 0x08, 0x05,             /* id = 5 */
        0x8a, 0x01, 0x02, 0xff, 0xff        /* batch: 2 undecodable bytes */
    };
    int fd = td_connect(&d);
    Armmap__V1__Response *r;

    td_write(fd, frame, sizeof(frame));
    r = td_recv(fd);
    ck_assert_status(r, 5, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "batch: say hello first");
    td_free(r);
    close(fd);
}
END_TEST

START_TEST(test_silent_connection_closed_after_hello_timeout)
{
    struct tdaemon d2;
    int fd;

    td_init(&d2);
    td_start(&d2, "--hello-timeout=1", "--idle-timeout=300", NULL);
    fd = td_connect(&d2);
    ck_assert(td_closed(fd));
    close(fd);
    ck_assert_ptr_nonnull(strstr(td_log(&d2), "no hello within "
                                 "--hello-timeout (1 s); closing"));
    td_cleanup(&d2);
}
END_TEST

/* A Hello dripped a byte every 100 ms: each byte resets an idle timer,
 * but the whole Hello must still arrive within --hello-timeout. */
START_TEST(test_dripping_hello_closed_after_hello_timeout)
{
    static const uint8_t frame[] = { 0, 0, 0, 64, 0x08, 0x01 };
    struct tdaemon d2;
    bool closed = false;
    int fd, i;

    td_init(&d2);
    td_start(&d2, "--hello-timeout=1", "--idle-timeout=300", NULL);
    fd = td_connect(&d2);
    for (i = 0; i < 60 * spawn_time_scale() && !closed; i++) {
        struct pollfd p = { fd, POLLIN, 0 };
        uint8_t b = frame[i % sizeof(frame)];

        if (send(fd, &b, 1, MSG_NOSIGNAL) != 1)
            closed = true;
        else if (poll(&p, 1, 100) == 1)
            closed = true;
    }
    ck_assert(closed);
    ck_assert(td_closed(fd));
    close(fd);
    ck_assert_ptr_nonnull(strstr(td_log(&d2), "no hello within "
                                 "--hello-timeout (1 s); closing"));
    td_cleanup(&d2);
}
END_TEST

Suite *preauth_suite(void)
{
    Suite *s = suite_create("preauth");
    TCase *tc = tcase_create("preauth");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_big_frame_before_hello_is_refused_unread);
    tcase_add_test(tc, test_unfinished_big_frames_before_hello_cost_little);
    tcase_add_test(tc, test_after_hello_the_big_frame_limit_applies);
    tcase_add_test(tc, test_other_bodies_before_hello_are_not_decoded);
    tcase_add_test(tc, test_silent_connection_closed_after_hello_timeout);
    tcase_add_test(tc, test_dripping_hello_closed_after_hello_timeout);
    suite_add_tcase(s, tc);
    return s;
}
