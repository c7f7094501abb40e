/* tests/daemon/test_linger.c - the daemon's lingering close.
 *
 * When armmapd closes a connection on its own (a frame it refuses with a
 * close, or SIGTERM's drain) while bytes it never read sit in the socket,
 * a plain close() resets the connection: the client's next read fails
 * with ECONNRESET instead of EOF (and over TCP it may lose replies the
 * daemon had written).  The daemon sends what is queued, shuts its write
 * side down, then reads and discards until the client closes, for a
 * bounded time and byte count.  These tests write bytes the daemon will
 * never read behind a closing frame and assert the exact reply, then
 * EOF; and that a client which never closes does not keep the daemon
 * from exiting.  The second case holds the daemon's checks before
 * decoding (dispatch.c) to protobuf-c's 5-byte bound on tags and length
 * prefixes.
 */
#include "check_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Bytes written behind a closing frame: more than one read of the
 * daemon takes (16 KiB), fewer than its lingering close discards. */
#define TRAILER (48u << 10)

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    if (d.pid > 0)
        td_stop(&d);
    td_cleanup(&d);
}

/* Writes @head then TRAILER bytes of zeros in one send() where it fits.
 * A daemon that closed meanwhile (the failure under test) fails the
 * rest of the writes; that is left to the reads to report. */
static void send_with_trailer(int fd, const uint8_t *head, size_t hlen)
{
    static uint8_t buf[64 + TRAILER];
    size_t off = 0, len = hlen + TRAILER;

    ck_assert_uint_le(hlen, 64);
    memset(buf, 0, sizeof(buf));
    memcpy(buf, head, hlen);
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

/* Asserts the next read on @fd is EOF: the daemon's reply before it was
 * read whole and the close was not a reset. */
static void assert_eof(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, 0);

    ck_assert_msg(n == 0, "after the reply: %s",
                  n < 0 ? strerror(errno) : "more bytes, not EOF");
}

/* Writes @head and the trailer on @fd, asserts the one reply (@id,
 * @code, @msg) and EOF after it; closes @fd. */
static void assert_answered_then_eof(int fd, const uint8_t *head, size_t hlen,
                                     uint64_t id, int code, const char *msg)
{
    Armmap__V1__Response *r;

    send_with_trailer(fd, head, hlen);
    r = td_recv(fd);
    ck_assert_status(r, id, code, msg);
    td_free(r);
    assert_eof(fd);
    close(fd);
}

/* An oversized frame is answered RESOURCE_EXHAUSTED and closes the
 * connection; the bytes behind its header, never read, no longer turn
 * the close into a reset. */
START_TEST(test_oversized_frame_then_bytes)
{
    static const uint8_t head[4] = { 0x40, 0, 0, 0 }; /* 1 GiB */
    int fd;

    td_start(&d, "--max-frame=1M", NULL);
    fd = td_session(&d, "alice");
    assert_answered_then_eof(fd, head, sizeof(head), 0,
                             ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                             "frame of 1073741824 bytes exceeds --max-frame "
                             "(1048576 bytes)");
}
END_TEST

/* A frame that does not decode closes the connection too: its reply is
 * read whole, then EOF. */
static void malformed_then_bytes(void)
{
    static const uint8_t frame[5] = { 0, 0, 0, 1, 0x08 }; /* id, cut */
    int fd;

    fd = td_session(&d, "alice");
    assert_answered_then_eof(fd, frame, sizeof(frame), 0,
                             ARMMAP__V1__CODE__INVALID_ARGUMENT,
                             "frame of 1 bytes does not decode as an "
                             "armmap.v1.Request");
}

START_TEST(test_malformed_frame_then_bytes)
{
    td_start(&d, NULL);
    malformed_then_bytes();
    /* The daemon went on serving: the same again. */
    malformed_then_bytes();
}
END_TEST

/* Packs a Hello (id 1, protocol 1, @tenant, @token) as a frame into
 * @frame (64 bytes); returns its length. */
static size_t hello_frame(uint8_t *frame, const char *tenant,
                          const char *token)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello hello = ARMMAP__V1__HELLO__INIT;
    size_t n;

    hello.protocol = 1;
    hello.tenant = (char *)tenant;
    hello.token.data = (uint8_t *)token;
    hello.token.len = strlen(token);
    req.id = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &hello;
    n = armmap__v1__request__get_packed_size(&req);
    ck_assert_uint_le(4 + n, 64);
    frame[0] = frame[1] = frame[2] = 0;
    frame[3] = (uint8_t)n;
    armmap__v1__request__pack(&req, frame + 4);
    return 4 + n;
}

/* A Hello with a wrong token is refused and closes the connection; the
 * client's pipelined requests behind it stay unread and unanswered. */
START_TEST(test_bad_token_then_bytes)
{
    uint8_t frame[64];
    char path[300], flag[320];
    size_t n;
    FILE *f;
    int fd;

    snprintf(path, sizeof(path), "%s/token", d.dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("a-token-of-32-bytes-or-so-000000\n", f);
    fclose(f);
    chmod(path, 0600);
    snprintf(flag, sizeof(flag), "--auth-token-file=%s", path);
    td_start(&d, flag, NULL);
    n = hello_frame(frame, "alice", "wrong");
    fd = td_connect(&d);
    assert_answered_then_eof(fd, frame, n, 1,
                             ARMMAP__V1__CODE__UNAUTHENTICATED,
                             "hello: the token is not valid");
}
END_TEST

/* Polls (bounded) until @ready(@arg). */
static bool wait_until(bool (*ready)(const char *), const char *arg)
{
    struct timespec ms = { 0, 1000000 };
    int i;

    for (i = 0; i < 20000 * spawn_time_scale(); i++) {
        if (ready(arg))
            return true;
        nanosleep(&ms, NULL);
    }
    return false;
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static bool log_has(const char *text)
{
    return strstr(td_log(&d), text) != NULL;
}

/* A connection past --max-connections whose client already sent its
 * Hello and more (the daemon, stopped, accepts only once they sit in the
 * socket) is refused with one status frame, read whole, then EOF: the
 * refusal closes lingering too, not with a reset. */
START_TEST(test_refused_connection_then_bytes)
{
    Armmap__V1__Response *r;
    uint8_t frame[64];
    size_t n;
    int held, fd;

    td_start(&d, "--max-connections=1", NULL);
    /* td_start()'s probe (conn 1) is gone before the one held. */
    ck_assert_msg(wait_until(log_has, "conn 1: closed"), "%s", td_log(&d));
    held = td_session(&d, "alice");
    n = hello_frame(frame, "bob", "");
    ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
    fd = td_connect(&d);
    send_with_trailer(fd, frame, n);
    ck_assert_int_eq(kill(d.pid, SIGCONT), 0);
    r = td_recv(fd);
    ck_assert_status(r, 0, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "too many connections (--max-connections 1)");
    td_free(r);
    assert_eof(fd);
    close(fd);
    /* The refused one never counted: the held one is still served. */
    td_ping(held, 2);
    close(held);
}
END_TEST

/* Refused connections linger at most 64 at a time (REFUSED_MAX in
 * daemon/conn.c): clients that read their refusal and keep their
 * sockets, more of them than that (a flood), hold no more of the
 * daemon's descriptors; some do hold one (they were closed lingering). */
#define REFUSED_N 72

/* The descriptor bound fds_within() waits for: a refusal past the
 * lingering ones closes at once, but after its status frame is written,
 * so the client can read the frame while the daemon still holds it. */
static int fd_limit;

static bool fds_within(const char *unused)
{
    (void)unused;
    return td_fd_count(&d) <= fd_limit;
}

START_TEST(test_refused_lingering_is_bounded)
{
    Armmap__V1__Response *r;
    int fds[REFUSED_N], held, base, n, i;

    td_start(&d, "--max-connections=1", NULL);
    ck_assert_msg(wait_until(log_has, "conn 1: closed"), "%s", td_log(&d));
    held = td_session(&d, "alice");
    base = td_fd_count(&d);
    for (i = 0; i < REFUSED_N; i++) {
        fds[i] = td_connect(&d);
        r = td_recv(fds[i]);
        ck_assert_status(r, 0, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                         "too many connections (--max-connections 1)");
        td_free(r);
    }
    fd_limit = base + 64;
    ck_assert_msg(wait_until(fds_within, NULL), "%d descriptors, want at most %d",
                  td_fd_count(&d), fd_limit);
    n = td_fd_count(&d);
    ck_assert_int_gt(n, base);
    for (i = 0; i < REFUSED_N; i++)
        close(fds[i]);
    td_ping(held, 2);
    close(held);
}
END_TEST

/* Sends Ping @id in a write of its own. */
static void send_ping(int fd, uint64_t id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping ping = ARMMAP__V1__PING__INIT;

    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    td_send(fd, &req);
}

/* SIGTERM while a Fork waits for its replay (held at the fork gate): the
 * connection reads nothing behind the Fork meanwhile, so the pings the
 * client pipelines in writes of their own, one before the drain starts
 * and two after, stay unread.  The Fork, read before the drain, is
 * answered whole; then EOF, not a reset; then the daemon exits 0. */
START_TEST(test_sigterm_pipelined_writes)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    Armmap__V1__Response *r;
    char gate[300], started[320];
    uint64_t src;
    int fa, fd, i;

    snprintf(gate, sizeof(gate), "%s/gate", d.dir);
    snprintf(started, sizeof(started), "%s/gate.started", d.dir);
    setenv("ARMMAPD_TEST_FORK_GATE", gate, 1);
    td_start(&d, "--checkpoint-every=1000", NULL);
    unsetenv("ARMMAPD_TEST_FORK_GATE");
    fa = td_session(&d, "alice");
    src = td_create(fa, "qemu-virt", NULL);
    for (i = 0; i < 4; i++) { /* seqs 1..2000 */
        td_send_flush_batch(fa, 30, src, 500);
        r = td_recv(fa);
        ck_assert_status(r, 30, 0, "");
        td_free(r);
    }
    fk.machine = src;
    fk.at_seq = 1999; /* checkpoint 1000, then 999 events */
    req.id = 11;
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &fk;
    td_send(fa, &req);
    ck_assert_msg(wait_until(file_exists, started),
                  "the fork's replay never started: %s", td_log(&d));
    send_ping(fa, 12);
    kill(d.pid, SIGTERM);
    ck_assert_msg(wait_until(log_has, "signal 15: stopping"),
                  "not stopping: %s", td_log(&d));
    send_ping(fa, 13);
    send_ping(fa, 14);
    fd = open(gate, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);

    r = td_recv(fa);
    ck_assert_status(r, 11, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_MACHINE);
    ck_assert_uint_eq(r->machine->seq, 1999);
    td_free(r);
    assert_eof(fa);
    close(fa);
    ck_assert_int_eq(td_wait(&d), 0);
}
END_TEST

/* A client that never closes its end (nor reads to EOF) when SIGTERM
 * drains its connection holds the daemon only for the lingering close's
 * bound: the daemon exits 0 while the client still holds the socket, and
 * its log says the bound ended the close. */
START_TEST(test_sigterm_client_never_closes)
{
    int fa, fb;

    td_start(&d, NULL);
    fa = td_session(&d, "alice");
    fb = td_session(&d, "bob");
    td_ping(fa, 2);
    send_ping(fb, 3); /* never read */
    kill(d.pid, SIGTERM);
    ck_assert_int_eq(td_wait(&d), 0);
    ck_assert_msg(strstr(td_log(&d),
                         ": the peer did not close its "
                         "end within 2000 ms or 1048576 bytes after the "
                         "daemon's; closing") != NULL,
                  "%s", td_log(&d));
    ck_assert_ptr_null(td_recv(fa)); /* the daemon's end was shut */
    close(fa);
    close(fb);
}
END_TEST

/* Tags and length prefixes longer than 5 bytes: protobuf-c refuses
 * them, so the daemon's own look at the bytes before decoding must not
 * read them either.  Before Hello, a Ping (field 11) whose tag takes 6
 * bytes is a frame that does not decode (and closes), not a Ping asked
 * too early. */
START_TEST(test_overlong_tag_before_hello)
{
    static const uint8_t frame[] = {
        0,    0,    0,    9,    0x08, 0x07, /* id 7 */
        0xda, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00
    };
    int fd;

    td_start(&d, NULL);
    fd = td_connect(&d);
    assert_answered_then_eof(fd, frame, sizeof(frame), 0,
                             ARMMAP__V1__CODE__INVALID_ARGUMENT,
                             "frame of 9 bytes does not decode as an "
                             "armmap.v1.Request");
}
END_TEST

/* After Hello, a Hello whose tenant string has a 6-byte length prefix
 * and bytes that are not UTF-8: a frame that does not decode, not a
 * string checked as if protobuf-c had read it. */
START_TEST(test_overlong_length_after_hello)
{
    static const uint8_t frame[] = {
        0,    0,    0,    14,   0x08, 0x05, /* id 5 */
        0x52, 0x0a,                         /* hello, 10 bytes */
        0x12, 0x81, 0x80, 0x80, 0x80, 0x80,
        0x00, /* tenant: length 1 in 6 bytes */
        0xff, 0x08, 0x01
    };
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "alice");
    assert_answered_then_eof(fd, frame, sizeof(frame), 0,
                             ARMMAP__V1__CODE__INVALID_ARGUMENT,
                             "frame of 14 bytes does not decode as an "
                             "armmap.v1.Request");
}
END_TEST

Suite *linger_suite(void)
{
    Suite *s = suite_create("linger");
    TCase *tc = tcase_create("linger");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60 * spawn_time_scale());
    tcase_add_test(tc, test_oversized_frame_then_bytes);
    tcase_add_test(tc, test_malformed_frame_then_bytes);
    tcase_add_test(tc, test_bad_token_then_bytes);
    tcase_add_test(tc, test_refused_connection_then_bytes);
    tcase_add_test(tc, test_refused_lingering_is_bounded);
    tcase_add_test(tc, test_sigterm_pipelined_writes);
    tcase_add_test(tc, test_sigterm_client_never_closes);
    suite_add_tcase(s, tc);
    tc = tcase_create("overlong varints");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60 * spawn_time_scale());
    tcase_add_test(tc, test_overlong_tag_before_hello);
    tcase_add_test(tc, test_overlong_length_after_hello);
    suite_add_tcase(s, tc);
    return s;
}
