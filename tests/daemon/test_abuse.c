/* tests/daemon/test_abuse.c - clients that misbehave on purpose.
 *
 * Each test drives the real armmapd the way a careless or hostile client
 * would and then looks at the daemon from outside: its replies (exact
 * codes, messages and order), its resident memory (VmRSS in
 * /proc/PID/status) and its open descriptors (/proc/PID/fd).  The cases
 * test_frames.c, test_park.c and test_session.c already cover (a 4 GiB
 * length, one connection past the limit, a dripping frame, one parked kmap
 * cancelled, pipelines of a few thousand) are not repeated here; these are
 * the heavier versions: a client that never reads, a million creates
 * against a small --max-machines, 100,000 mixed requests on one
 * connection, thousands of connections opened and dropped, and parked
 * kmaps abandoned in a loop.
 *
 * Memory bounds are stated per test and skipped under ARMMAPD_WRAPPER
 * (valgrind's own memory would dominate; it checks leaks itself there)
 * and in the ASan build (its quarantine keeps freed memory resident by
 * design; LeakSanitizer checks leaks there); request counts shrink under
 * valgrind (ABUSE_N()).  The million creates are a million in make
 * check-full (CI); make check sends its share of them (run_len(): 100,000
 * under the sanitizers, 400,000 plain), every reply still checked.
 */
#include "check_daemon.h"
#include "../common/runlen.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD true
#else
#define ASAN_BUILD false
#endif

/* Request counts: the full figure normally, a fiftieth under valgrind. */
#define ABUSE_N(n) (spawn_wrapped() ? (n) / 50 : (n))

/* Check's ck_assert records every passing assertion (a write to a file):
 * the loops over a million replies test with this instead. */
#define EXPECT(cond, ...)                                                     \
    do {                                                                      \
        if (!(cond))                                                          \
            ck_abort_msg(__VA_ARGS__);                                        \
    } while (0)

static struct tdaemon d;

static void teardown(void)
{
    td_cleanup(&d);
}

/* ---- looking at the daemon from outside --------------------------------- */

/* Fails if RSS grew more than @limit_kib from @before (not under valgrind
 * or ASan). */
static void rss_bounded(long before, long limit_kib, const char *what)
{
    long now = td_rss_kib(&d);

    if (getenv("ABUSE_VERBOSE") != NULL)
        fprintf(stderr, "%s: RSS %ld -> %ld KiB\n", what, before, now);
    if (spawn_wrapped() || ASAN_BUILD)
        return;
    ck_assert_msg(now - before <= limit_kib,
                  "%s: armmapd RSS grew from %ld to %ld KiB (limit +%ld)",
                  what, before, now, limit_kib);
}

/* ---- requests ---------------------------------------------------------- */

static void ping(int fd, uint64_t id)
{
    td_ping(fd, id);
}

static Armmap__V1__StatsResult *stats(int fd, Armmap__V1__Response **keep)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Stats st = ARMMAP__V1__STATS__INIT;

    req.id = 3;
    req.body_case = ARMMAP__V1__REQUEST__BODY_STATS;
    req.stats = &st;
    *keep = td_call(fd, &req);
    ck_assert_status(*keep, 3, 0, "");
    return (*keep)->stats;
}

/* The daemon's fd count once exactly @n connections are open (its stats
 * say so, asked over @fd, one of them): connections a client dropped are
 * closed by then. */
static int fds_at(int fd, uint64_t n)
{
    Armmap__V1__Response *keep;
    uint64_t open = 0;
    int i;

    for (i = 0; i < 500 * spawn_time_scale(); i++) {
        open = stats(fd, &keep)->connections;
        td_free(keep);
        if (open == n)
            return td_fd_count(&d);
        usleep(10000);
    }
    ck_abort_msg("the daemon still has %" PRIu64 " connections, not %" PRIu64,
                 open, n);
    return -1;
}

/* fds_at(), then waits (bounded) for the count to come down to @want: a
 * refused connection is closed lingering, after the client's own close,
 * so it may still hold a descriptor when the connection count is right. */
static int fds_settle(int fd, uint64_t n, int want)
{
    int got = fds_at(fd, n), i;

    for (i = 0; got != want && i < 500 * spawn_time_scale(); i++) {
        usleep(10000);
        got = td_fd_count(&d);
    }
    return got;
}

/* Appends one frame of @req to @buf (at least 4 + packed size free). */
static size_t put_frame(uint8_t *buf, const Armmap__V1__Request *req)
{
    size_t n = armmap__v1__request__get_packed_size(req);

    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    armmap__v1__request__pack(req, buf + 4);
    return 4 + n;
}

/*
 * A pipelining client: @n requests made one at a time by @make (request
 * i), written as fast as the socket takes them while the replies are read
 * and handed to @check in arrival order.  Neither side can block the
 * other: writes are non-blocking and every loop reads what has come.
 * Fails if 5 s (scaled) pass without progress.
 */
struct pipeline {
    int fd;
    size_t n;
    void (*make)(struct pipeline *p, size_t i, Armmap__V1__Request *req);
    void (*check)(struct pipeline *p, const Armmap__V1__Response *r,
                  size_t i);
    void *ctx;
};

#define OUT_CHUNK (64u << 10)
#define FRAME_MAX (4u << 10)            /* the requests made here */

static void run_pipeline(struct pipeline *p)
{
    size_t rcap = 1u << 20, got = 0, next = 0, ngot = 0, olen = 0, osent = 0;
    uint8_t *out = malloc(OUT_CHUNK + FRAME_MAX), *in = malloc(rcap);

    ck_assert(out != NULL && in != NULL);
    while (ngot < p->n) {
        struct pollfd pf = { p->fd, POLLIN, 0 };
        size_t off = 0;
        ssize_t k;

        /* Refill the output chunk with the next requests. */
        if (osent == olen && next < p->n) {
            olen = osent = 0;
            while (next < p->n && olen < OUT_CHUNK) {
                Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;

                p->make(p, next, &req);
                EXPECT(armmap__v1__request__get_packed_size(&req) <=
                       FRAME_MAX - 4, "request %zu too big", next);
                olen += put_frame(out + olen, &req);
                next++;
            }
        }
        if (osent < olen)
            pf.events |= POLLOUT;
        EXPECT(poll(&pf, 1, 5000 * spawn_time_scale()) == 1,
               "no progress: %zu of %zu requests sent, %zu answered",
               next, p->n, ngot);
        if ((pf.revents & POLLOUT) && osent < olen) {
            k = send(p->fd, out + osent, olen - osent,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
            EXPECT(k > 0 || errno == EAGAIN, "send: %s", strerror(errno));
            if (k > 0)
                osent += (size_t)k;
        }
        if (!(pf.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (got == rcap) {
            rcap *= 2;
            in = realloc(in, rcap);
            EXPECT(in != NULL, "out of memory");
        }
        k = recv(p->fd, in + got, rcap - got, MSG_DONTWAIT);
        EXPECT(k != 0, "EOF after %zu of %zu replies", ngot, p->n);
        if (k < 0) {
            EXPECT(errno == EAGAIN, "recv: %s", strerror(errno));
            continue;
        }
        got += (size_t)k;
        while (got - off >= 4) {
            const uint8_t *h = in + off;
            uint32_t flen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                            (uint32_t)h[2] << 8 | h[3];
            Armmap__V1__Response *r;

            if (got - off < 4 + (size_t)flen)
                break;
            r = armmap__v1__response__unpack(NULL, flen, in + off + 4);
            EXPECT(r != NULL && r->status != NULL,
                   "reply %zu does not decode", ngot);
            p->check(p, r, ngot);
            td_free(r);
            ngot++;
            off += 4 + flen;
        }
        memmove(in, in + off, got - off);
        got -= off;
    }
    ck_assert_uint_eq(got, 0);
    free(out);
    free(in);
}

/* ---- a client that never reads ----------------------------------------- */

#define NR_VA 1024                      /* addresses per translate */

/* The kernel's default socket buffer size (bytes). */
static long sock_buffer(void)
{
    FILE *f = fopen("/proc/sys/net/core/wmem_default", "r");
    long n = 0;

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld", &n), 1);
    fclose(f);
    return n;
}

/* Sends the @flen bytes of @frame on @fd again and again, never reading,
 * until the socket has taken nothing for 500 ms (scaled).  Returns the
 * bytes sent. */
static size_t send_until_stalled(int fd, const uint8_t *frame, size_t flen)
{
    size_t sent = 0;

    for (;;) {
        struct pollfd pf = { fd, POLLOUT, 0 };
        size_t off = sent % flen;
        ssize_t k;

        if (poll(&pf, 1, 500 * spawn_time_scale()) != 1)
            break;
        k = send(fd, frame + off, flen - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        ck_assert_msg(k > 0 || errno == EAGAIN, "send: %s", strerror(errno));
        if (k > 0)
            sent += (size_t)k;
        ck_assert_msg(sent < (size_t)256 << 20, "the daemon read 256 MiB "
                      "of requests from a client that never reads");
    }
    return sent;
}

/*
 * A translate of 1024 addresses with walks answers about 180 KiB.  The
 * client sends such requests (4 KiB each) as long as the socket takes them
 * and never reads: the daemon must stop reading it once 1 MiB of replies
 * waits, so that the client can only fill the kernel's socket buffers, and
 * the daemon's memory stays near the bound; others must still be served.
 * Without the pause every 4 KiB sent would cost the daemon 180 KiB.
 */
START_TEST(test_never_reading_client_is_bounded)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    Armmap__V1__Response *r;
    static uint8_t frame[16384];
    static uint32_t va[NR_VA];
    size_t flen, sent = 0, nreq = 0;
    long before;
    int hog, other, fds, i;
    uint64_t m;

    td_init(&d);
    td_start(&d, "--max-queued-bytes=1M", "--log-level=debug", NULL);
    other = td_session(&d, "other");
    m = td_create(other, "qemu-virt", NULL);
    for (i = 0; i < NR_VA; i++)
        va[i] = 0xc0000000u + (uint32_t)i * 4096u;
    t.machine = m;
    t.n_va = NR_VA;
    t.va = va;
    t.walk = true;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    /* One reply, read, to warm the daemon's buffers up. */
    req.id = 1;
    r = td_call(other, &req);
    if (getenv("ABUSE_VERBOSE") != NULL)
        fprintf(stderr, "translate reply: %zu bytes\n",
                armmap__v1__response__get_packed_size(r));
    td_free(r);
    ping(other, 2);
    fds = fds_at(other, 1);
    before = td_rss_kib(&d);

    hog = td_session(&d, "other");
    flen = put_frame(frame, &req);
    sent = send_until_stalled(hog, frame, flen);
    nreq = sent / flen;
    if (getenv("ABUSE_VERBOSE") != NULL)
        fprintf(stderr, "%zu requests of %zu bytes sent, none read\n", nreq,
                flen);
    /* At least the 1 MiB of replies before the pause; at most those six
     * and what the socket buffers take (both directions, counted in
     * requests). */
    ck_assert_uint_ge(nreq, 6);
    ck_assert_msg(nreq <= 8 + 2 * (size_t)sock_buffer() / flen,
                  "%zu requests taken from a client that never reads", nreq);
    /* The send stalls when the socket buffers are full and the daemon
     * reads no more for a while: on a loaded machine that can be before
     * it has queued the replies that pause it, so wait for the line. */
    ck_assert_msg(td_log_wait(&d, "reading paused"), "%s", td_log(&d));
    /* 1 MiB queued + one reply over it + buffers: 4 MiB (measured:
     * 1.6 MiB, with 18 requests taken). */
    rss_bounded(before, 4096, "while a client does not read");
    /* Others are served meanwhile. */
    for (i = 0; i < 10; i++)
        ping(other, 10 + (uint64_t)i);
    ck_assert_int_eq(fds_at(other, 2), fds + 1);
    close(hog);
    ck_assert_int_eq(fds_at(other, 1), fds);
    ping(other, 30);
    rss_bounded(before, 4096, "after the client left");
    close(other);
}
END_TEST

/* ---- a million creates against --max-machines=3 ------------------------ */
/* (make check: run_len()'s share of the million; check-full: all.) */

struct creates {
    size_t ok;
    char want[128];
};

static void make_create(struct pipeline *p, size_t i,
                        Armmap__V1__Request *req)
{
    static Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;

    (void)p;
    cr.preset = (char *)"qemu-virt";
    req->id = 1000 + (uint64_t)i;
    req->body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req->create = &cr;
}

static void check_create(struct pipeline *p, const Armmap__V1__Response *r,
                         size_t i)
{
    struct creates *c = p->ctx;

    EXPECT(r->id == 1000 + (uint64_t)i, "reply %zu has id %" PRIu64, i,
           r->id);
    if (i < 3) {
        EXPECT(r->status->code == 0 &&
               r->body_case == ARMMAP__V1__RESPONSE__BODY_MACHINE,
               "create %zu: %s", i, r->status->message);
        c->ok++;
        return;
    }
    EXPECT(r->status->code == ARMMAP__V1__CODE__RESOURCE_EXHAUSTED &&
           strcmp(r->status->message, c->want) == 0,
           "create %zu: code %d '%s'", i, r->status->code, r->status->message);
}

START_TEST(test_a_million_creates_meet_the_machine_limit)
{
    struct creates c = { 0, "create: the daemon holds 3 machines "
                            "(--max-machines)" };
    struct pipeline p = { 0, ABUSE_N(run_len(1000000)), make_create,
                          check_create, &c };
    Armmap__V1__Response *keep;
    Armmap__V1__StatsResult *st;
    long before;

    td_init(&d);
    td_start(&d, "--max-machines=3", NULL);
    p.fd = td_session(&d, "many");
    ping(p.fd, 2);
    before = td_rss_kib(&d);
    run_pipeline(&p);
    ck_assert_uint_eq(c.ok, 3);
    st = stats(p.fd, &keep);
    ck_assert_uint_eq(st->machines, 3);
    ck_assert_uint_ge(st->n_errors_by_code,
                      ARMMAP__V1__CODE__RESOURCE_EXHAUSTED + 1);
    ck_assert_uint_eq(st->errors_by_code[ARMMAP__V1__CODE__RESOURCE_EXHAUSTED],
                      p.n - 3);
    td_free(keep);
    /* The three machines cost about 350 KiB; the refusals must cost
     * nothing that stays. */
    rss_bounded(before, 4096, "after a million refused creates");
    close(p.fd);
}
END_TEST

/* ---- 100,000 mixed requests on one connection --------------------------- */

/* Request i is, by i % 4: ping, kmap_flush (a change: seq i / 4 + 1),
 * translate of one lowmem address, describe (seq as of the flushes). */
struct mixed {
    uint64_t m;
    uint32_t va;
    Armmap__V1__Ping ping;
    Armmap__V1__Op op;
    Armmap__V1__Translate tr;
    Armmap__V1__MachineRef ref;
};

static void make_mixed(struct pipeline *p, size_t i, Armmap__V1__Request *req)
{
    struct mixed *x = p->ctx;

    req->id = 7 + (uint64_t)i;
    switch (i % 4) {
    case 0:
        req->body_case = ARMMAP__V1__REQUEST__BODY_PING;
        req->ping = &x->ping;
        break;
    case 1:
        req->body_case = ARMMAP__V1__REQUEST__BODY_OP;
        req->op = &x->op;
        break;
    case 2:
        req->body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
        req->translate = &x->tr;
        break;
    default:
        req->body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
        req->describe = &x->ref;
        break;
    }
}

static void check_mixed(struct pipeline *p, const Armmap__V1__Response *r,
                        size_t i)
{
    struct mixed *x = p->ctx;

    EXPECT(r->id == 7 + (uint64_t)i, "reply %zu has id %" PRIu64, i, r->id);
    EXPECT(r->status->code == 0, "request %zu: %s", i, r->status->message);
    switch (i % 4) {
    case 0:
        EXPECT(r->body_case == ARMMAP__V1__RESPONSE__BODY_PONG,
               "request %zu: not a pong", i);
        break;
    case 1:
        EXPECT(r->body_case == ARMMAP__V1__RESPONSE__BODY_OP &&
               r->op->seq == i / 4 + 1, "request %zu: not seq %zu", i,
               i / 4 + 1);
        break;
    case 2:
        EXPECT(r->body_case == ARMMAP__V1__RESPONSE__BODY_TRANSLATE &&
               r->translate->n_pa == 1 &&
               r->translate->pa[0] == 0x40000000u + 0x123456u,
               "request %zu: translation wrong", i);
        break;
    default:
        EXPECT(r->body_case == ARMMAP__V1__RESPONSE__BODY_MACHINE &&
               r->machine->id == x->m && r->machine->seq == i / 4 + 1,
               "request %zu: describe not at seq %zu", i, i / 4 + 1);
        break;
    }
}

START_TEST(test_deep_pipeline_of_mixed_requests)
{
    struct mixed x;
    struct pipeline p = { 0, ABUSE_N(100000), make_mixed, check_mixed, &x };
    Armmap__V1__Response *keep;
    Armmap__V1__StatsResult *st;

    td_init(&d);
    td_start(&d, NULL);
    p.fd = td_session(&d, "deep");
    x.m = td_create(p.fd, "qemu-virt", NULL);
    x.va = 0xc0123456u;
    armmap__v1__ping__init(&x.ping);
    armmap__v1__op__init(&x.op);
    x.op.machine = x.m;
    x.op.code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
    armmap__v1__translate__init(&x.tr);
    x.tr.machine = x.m;
    x.tr.n_va = 1;
    x.tr.va = &x.va;
    armmap__v1__machine_ref__init(&x.ref);
    x.ref.machine = x.m;
    run_pipeline(&p);
    st = stats(p.fd, &keep);
    /* hello + create + the pipeline, and this stats request itself. */
    ck_assert_uint_eq(st->requests, p.n + 3);
    ck_assert_uint_eq(st->changes, p.n / 4 + 1);
    td_free(keep);
    close(p.fd);
}
END_TEST

/* ---- connections up to and past the limit, in a loop ------------------- */

#define CONN_LIMIT 8

static void churn(int rounds)
{
    static const uint8_t part[] = { 0, 0, 0, 100, 8, 1 };
    int i;

    for (i = 0; i < rounds; i++) {
        int fd;

        switch (i % 3) {
        case 0:                         /* a whole session */
            fd = td_session(&d, "churn");
            ping(fd, 5);
            break;
        case 1:                         /* connects, says nothing */
            fd = td_connect(&d);
            break;
        default:                        /* half a frame, then gone */
            fd = td_connect(&d);
            td_write(fd, part, sizeof(part));
            break;
        }
        close(fd);
    }
}

START_TEST(test_connection_churn_leaks_nothing)
{
    int fd, fds, rounds = ABUSE_N(3000);
    long before;

    td_init(&d);
    td_start(&d, "--admin-tenant=watch", NULL); /* counts every conn */
    churn(300);                         /* warm up */
    fd = td_session(&d, "watch");
    fds = fds_at(fd, 1);
    before = td_rss_kib(&d);
    churn(rounds);
    ck_assert_int_eq(fds_at(fd, 1), fds);
    rss_bounded(before, 1024, "after 3000 connections came and went");
    close(fd);
}
END_TEST

START_TEST(test_refusals_past_the_connection_limit)
{
    char limit[64], want[96];
    int held[CONN_LIMIT], fds, i;
    long before;

    snprintf(limit, sizeof(limit), "--max-connections=%d", CONN_LIMIT);
    snprintf(want, sizeof(want), "too many connections (--max-connections "
             "%d)", CONN_LIMIT);
    td_init(&d);
    td_start(&d, limit, NULL);
    held[0] = td_session(&d, "held");
    fds = fds_at(held[0], 1) - 1;
    for (i = 1; i < CONN_LIMIT; i++)
        held[i] = td_session(&d, "held");
    ck_assert_int_eq(fds_at(held[0], CONN_LIMIT), fds + CONN_LIMIT);
    before = td_rss_kib(&d);
    for (i = 0; i < ABUSE_N(500); i++) {
        int fd = td_connect(&d);
        Armmap__V1__Response *r = td_recv(fd);

        ck_assert_status(r, 0, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED, want);
        td_free(r);
        ck_assert(td_closed(fd));
        close(fd);
    }
    ck_assert_int_eq(fds_settle(held[0], CONN_LIMIT, fds + CONN_LIMIT),
                     fds + CONN_LIMIT);
    rss_bounded(before, 512, "after 500 refused connections");
    /* The held ones still work, and the limit counts exactly. */
    for (i = 0; i < CONN_LIMIT; i++)
        ping(held[i], 40 + (uint64_t)i);
    close(held[CONN_LIMIT - 1]);
    ck_assert_int_eq(fds_at(held[0], CONN_LIMIT - 1), fds + CONN_LIMIT - 1);
    held[CONN_LIMIT - 1] = td_session(&d, "again");
    ping(held[CONN_LIMIT - 1], 50);
    for (i = 1; i < CONN_LIMIT; i++)
        close(held[i]);
    ck_assert_int_eq(fds_at(held[0], 1), fds + 1);
    close(held[0]);
}
END_TEST

/* ---- parked kmaps abandoned by their connections ----------------------- */

#define NPAGES 513                      /* LAST_PKMAP (512) + 1 */

static uint32_t pkmap_in_use(int fd, uint64_t m)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;
    uint32_t n;

    ref.machine = m;
    req.id = 8;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    r = td_call(fd, &req);
    ck_assert_status(r, 8, 0, "");
    n = r->machine->pkmap_in_use;
    td_free(r);
    return n;
}

/* Parks a kmap of @pfn on a new connection, checks it is parked, closes
 * the connection and waits until the daemon has dropped the wait. */
static void park_and_leave(int fd, uint64_t m, uint32_t pfn)
{
    Armmap__V1__Response *keep;
    int other = td_session(&d, "park"), i;
    uint64_t parked = 0;

    td_op_send(other, 15, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0, &pfn, 1, 60000);
    /* A ping behind it answers first: the kmap is parked by then. */
    ping(other, 16);
    parked = stats(fd, &keep)->parked_kmaps;
    td_free(keep);
    ck_assert_uint_eq(parked, 1);
    close(other);
    for (i = 0; i < 500 * spawn_time_scale() && parked != 0; i++) {
        usleep(2000);
        parked = stats(fd, &keep)->parked_kmaps;
        td_free(keep);
    }
    ck_assert_uint_eq(parked, 0);
}

START_TEST(test_abandoned_parked_kmaps_leave_nothing)
{
    uint32_t pfns[NPAGES], va, pa;
    Armmap__V1__Response *r;
    int fd, fds, i, rounds = ABUSE_N(500);
    long before;
    uint64_t m;
    uint8_t fault;

    td_init(&d);
    td_start(&d, NULL);
    fd = td_session(&d, "park");
    m = td_create(fd, "qemu-virt", NULL);
    td_alloc_highmem(fd, m, pfns, NPAGES);
    r = td_batch(fd, 7, m, ARMMAP__V1__OP_CODE__OP_KMAP, pfns, 1, NPAGES - 1,
                 true);
    ck_assert_status(r, 7, 0, "");
    ck_assert_uint_eq(r->batch->n_results, NPAGES - 1);
    td_free(r);
    ck_assert_uint_eq(pkmap_in_use(fd, m), 512);

    park_and_leave(fd, m, pfns[NPAGES - 1]);      /* warm up */
    fds = fds_at(fd, 1);
    before = td_rss_kib(&d);
    for (i = 0; i < rounds; i++)
        park_and_leave(fd, m, pfns[NPAGES - 1]);
    ck_assert_int_eq(fds_at(fd, 1), fds);
    rss_bounded(before, 1024, "after 500 abandoned parked kmaps");

    /* Nobody took a slot: still 512 in use, the spare page unmapped. */
    ck_assert_uint_eq(pkmap_in_use(fd, m), 512);
    r = td_op(fd, 20, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0,
              &pfns[NPAGES - 1], 1, 0);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
    /* A freed slot goes to the next kmap, at once. */
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, &pfns[0], 1);
    ck_assert_uint_eq(pkmap_in_use(fd, m), 511);
    va = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfns[NPAGES - 1], 1);
    td_translate(fd, m, &va, 1, &pa, &fault);
    ck_assert_uint_eq(fault, 0);
    ck_assert_uint_eq(pa, pfns[NPAGES - 1] << 12);
    ck_assert_uint_eq(pkmap_in_use(fd, m), 512);
    close(fd);
}
END_TEST

/*
 * Dumps are streamed (stream.c): a connection reads no further request
 * until its dump is out, and the dump is read from the machine as the
 * socket drains, so a client that asks for dumps and never reads holds at
 * most one output buffer's worth (256 KiB low water + a 64 KiB slice) and
 * the dump's page list: eight such connections, each sending dump
 * requests (a dozen bytes each) until their sockets stop taking them,
 * grow the daemon by less than 512 KiB each (2.2 MiB measured for all
 * eight), not by what they asked nor by --max-queued-bytes each.
 */
START_TEST(test_never_reading_dump_clients_are_bounded)
{
    enum { NHOGS = 8 };
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Dump ref = ARMMAP__V1__DUMP__INIT;
    const uint32_t size[1] = { 8u << 20 };
    Armmap__V1__Response *r;
    uint8_t frame[64];
    size_t flen, sent = 0, dump_len;
    int hogs[NHOGS], other, i;
    long before;
    uint64_t m;

    td_init(&d);
    td_start(&d, "--max-queued-bytes=1M", NULL);
    other = td_session(&d, "other");
    m = td_create(other, "qemu-virt", NULL);
    for (i = 0; i < 8; i++)             /* page tables: a larger dump */
        td_op_ok(other, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, size, 1);
    ref.machine = m;
    req.id = 3;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DUMP;
    req.dump = &ref;
    r = td_call(other, &req);
    ck_assert_status(r, 3, 0, "");
    dump_len = r->dump->elf.len;
    td_free(r);
    ping(other, 4);
    before = td_rss_kib(&d);
    flen = put_frame(frame, &req);
    for (i = 0; i < NHOGS; i++) {
        hogs[i] = td_session(&d, "other");
        sent += send_until_stalled(hogs[i], frame, flen);
    }
    if (getenv("ABUSE_VERBOSE") != NULL)
        fprintf(stderr, "dumps of %zu bytes: %zu asked, none read\n",
                dump_len, sent / flen);
    ck_assert_uint_gt(sent / flen, (size_t)NHOGS * ((1u << 20) / dump_len));
    rss_bounded(before, NHOGS * 512L,
                "while dump clients do not read");
    ping(other, 5);
    for (i = 0; i < NHOGS; i++)
        close(hogs[i]);
    ping(other, 6);
    close(other);
}
END_TEST

Suite *abuse_suite(void)
{
    Suite *s = suite_create("abuse");
    TCase *tc = tcase_create("abuse");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_never_reading_client_is_bounded);
    tcase_add_test(tc, test_never_reading_dump_clients_are_bounded);
    tcase_add_test(tc, test_a_million_creates_meet_the_machine_limit);
    tcase_add_test(tc, test_deep_pipeline_of_mixed_requests);
    tcase_add_test(tc, test_connection_churn_leaks_nothing);
    tcase_add_test(tc, test_refusals_past_the_connection_limit);
    tcase_add_test(tc, test_abandoned_parked_kmaps_leave_nothing);
    suite_add_tcase(s, tc);
    return s;
}
