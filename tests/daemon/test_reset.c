/* tests/daemon/test_reset.c - srv_reset(): a server back as srv_create()
 * left it, so that tests/fuzz/fuzz_conn.c can build one server and replay
 * every input against the same starting state.
 *
 * In process, like the conn fuzz harness: a server on an in-memory store
 * with token authentication, one end of a socketpair handed to
 * srv_conn_accept(), the loop run by hand until the server closes the
 * connection.  The oracle is byte equality of everything the server
 * wrote back for the same requests before and after srv_reset().
 */
#include "check_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "srv.h"

#define RESET_TOKEN     "reset-token"
#define LOOP_ROUNDS     200000          /* bound on loop turns per session */
#define LOOP_SECONDS    20              /* and on wall time */

struct rig {
    char dir[64];
    char token[96];
    char sock[96];
    char db[96];
    struct srv_settings st;
    struct srv *s;
};

/* --idle-timeout of the next rig (the default unless a test sets it). */
static const char *rig_idle = "300";

static void rig_settings(struct rig *r, const char *database)
{
    char *argv[] = {
        "armmapd", "--state-dir", r->dir, "--database", (char *)database,
        "--socket", r->sock, "--auth-token-file", r->token,
        "--log-level", "error", "--idle-timeout", (char *)rig_idle, NULL
    };
    char err[1024];
    FILE *f;

    snprintf(r->dir, sizeof(r->dir), "/tmp/armmap-reset-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r->dir));
    snprintf(r->token, sizeof(r->token), "%s/token", r->dir);
    snprintf(r->sock, sizeof(r->sock), "%s/s.sock", r->dir);
    snprintf(r->db, sizeof(r->db), "%s/store.db", r->dir);
    if (strcmp(database, "file") == 0)
        argv[4] = r->db;
    f = fopen(r->token, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(RESET_TOKEN "\n", f), 0);
    ck_assert_int_eq(fclose(f), 0);
    srv_settings_init(&r->st);
    ck_assert_msg(srv_settings_parse(&r->st, (int)(sizeof(argv) /
                                                   sizeof(argv[0])) - 1,
                                     argv, err, sizeof(err)) == 0 &&
                  srv_settings_finish(&r->st, err, sizeof(err)) == 0,
                  "%s", err);
    r->s = srv_create(&r->st, err, sizeof(err));
    ck_assert_msg(r->s != NULL, "%s", err);
}

static void rig_free(struct rig *r)
{
    srv_destroy(r->s);
    srv_settings_free(&r->st);
    unlink(r->token);
    unlink(r->sock);
    unlink(r->db);
    {
        char p[128];

        snprintf(p, sizeof(p), "%s-wal", r->db);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", r->db);
        unlink(p);
        snprintf(p, sizeof(p), "%s-lock", r->db);
        unlink(p);
    }
    rmdir(r->dir);
}

/* Appends one framed Request to @buf (@len bytes so far, room for it). */
static size_t frame(uint8_t *buf, size_t len, size_t cap,
                    const Armmap__V1__Request *req)
{
    size_t n = armmap__v1__request__get_packed_size(req);

    ck_assert_uint_le(len + 4 + n, cap);
    buf[len] = (uint8_t)(n >> 24);
    buf[len + 1] = (uint8_t)(n >> 16);
    buf[len + 2] = (uint8_t)(n >> 8);
    buf[len + 3] = (uint8_t)n;
    armmap__v1__request__pack(req, buf + len + 4);
    return len + 4 + n;
}

/* Appends Hello (request 1) and a Create of a qemu-virt (request 2). */
static size_t hello_create(uint8_t *buf, size_t len, size_t cap)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello hello = ARMMAP__V1__HELLO__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;

    hello.protocol = 1;
    hello.tenant = "lab";
    hello.token.data = (uint8_t *)RESET_TOKEN;
    hello.token.len = strlen(RESET_TOKEN);
    req.id = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &hello;
    len = frame(buf, len, cap, &req);
    cr.preset = "qemu-virt";
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    req.id = 2;
    return frame(buf, len, cap, &req);
}

/* A session: Hello, create two machines, changes on each (with request
 * key @key when not 0), a translation, a report, a destroy, then a
 * request on the destroyed machine. */
static size_t session_keyed(uint8_t *buf, size_t cap, uint64_t key)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Translate tr = ARMMAP__V1__TRANSLATE__INIT;
    Armmap__V1__Report rep = ARMMAP__V1__REPORT__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    uint32_t alloc_args[2] = { 1, 0 }, vm_args[1] = { 3 * 4096 };
    uint32_t vas[2] = { 0xc0000000u, 0xffff0000u };
    size_t len = hello_create(buf, 0, cap);

    cr.preset = "rpi2";
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    req.id = 3;
    len = frame(buf, len, cap, &req);
    op.machine = 1;
    op.code = ARMMAP__V1__OP_CODE__OP_ALLOC;
    op.n_args = 2;
    op.args = alloc_args;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    req.id = 4;
    len = frame(buf, len, cap, &req);
    op.machine = 2;
    op.code = ARMMAP__V1__OP_CODE__OP_VMALLOC;
    op.n_args = 1;
    op.args = vm_args;
    req.id = 5;
    req.request_key = key;
    len = frame(buf, len, cap, &req);
    req.request_key = 0;
    tr.machine = 2;
    tr.n_va = 2;
    tr.va = vas;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &tr;
    req.id = 6;
    len = frame(buf, len, cap, &req);
    rep.machine = 1;
    rep.kind = ARMMAP__V1__REPORT_KIND__REPORT_MEMORY;
    req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    req.report = &rep;
    req.id = 7;
    len = frame(buf, len, cap, &req);
    ref.machine = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESTROY;
    req.destroy = &ref;
    req.id = 8;
    len = frame(buf, len, cap, &req);
    op.machine = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    req.id = 9;
    return frame(buf, len, cap, &req);
}

static size_t session_bytes(uint8_t *buf, size_t cap)
{
    return session_keyed(buf, cap, 0);
}

/* The reply to request @id in @buf: its status code and message. */
static void reply_status(const uint8_t *buf, size_t len, uint64_t id,
                         int *code, char *msg, size_t msgsz)
{
    size_t off = 0;

    *code = -1;
    while (len - off >= 4) {
        uint32_t n = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
                     (uint32_t)buf[off + 2] << 8 | buf[off + 3];
        Armmap__V1__Response *r;

        ck_assert_uint_le(off + 4 + n, len);
        r = armmap__v1__response__unpack(NULL, n, buf + off + 4);
        ck_assert_ptr_nonnull(r);
        if (r->id == id) {
            const Armmap__V1__Status *st =
                r->body_case == ARMMAP__V1__RESPONSE__BODY_OP &&
                r->op->status != NULL ? r->op->status : r->status;

            *code = st != NULL ? (int)st->code : 0;
            snprintf(msg, msgsz, "%s", st != NULL ? st->message : "");
            if (r->body_case == ARMMAP__V1__RESPONSE__BODY_MACHINE)
                snprintf(msg, msgsz, "machine %llu",
                         (unsigned long long)r->machine->id);
        }
        armmap__v1__response__free_unpacked(r, NULL);
        off += 4 + n;
    }
    ck_assert_uint_eq(off, len);
}

/* @buf's replies repacked with the one field that states the time (a
 * machine's created_ms) zeroed; the same length as @buf. */
static void untime(uint8_t *buf, size_t len)
{
    size_t off = 0;

    while (len - off >= 4) {
        uint32_t n = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
                     (uint32_t)buf[off + 2] << 8 | buf[off + 3];
        Armmap__V1__Response *r;

        ck_assert_uint_le(off + 4 + n, len);
        r = armmap__v1__response__unpack(NULL, n, buf + off + 4);
        ck_assert_ptr_nonnull(r);
        if (r->body_case == ARMMAP__V1__RESPONSE__BODY_MACHINE) {
            ck_assert_int_gt(r->machine->created_ms, 0);
            r->machine->created_ms = 0;
            memset(buf + off + 4, 0, n);
            /* A shorter varint: the frame keeps its length, padded. */
            ck_assert_uint_le(armmap__v1__response__get_packed_size(r), n);
            armmap__v1__response__pack(r, buf + off + 4);
        }
        armmap__v1__response__free_unpacked(r, NULL);
        off += 4 + n;
    }
}

/* The bytes at the end of @buf that are not a whole frame yet. */
static size_t frames_tail(const uint8_t *buf, size_t len)
{
    size_t off = 0;

    while (len - off >= 4) {
        uint32_t n = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
                     (uint32_t)buf[off + 2] << 8 | buf[off + 3];

        if (len - off - 4 < n)
            break;
        off += 4 + n;
    }
    return len - off;
}

/* Hello, a Create (machine 1), five vmallocs of @size bytes (seqs 1..5),
 * then @nforks Forks of machine 1 at seq 3 (request ids 100, 101, ...):
 * each replays the first three vmallocs on a worker thread. */
static size_t session_forks(uint8_t *buf, size_t cap, uint32_t size,
                            int nforks)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    uint32_t vm_args[1] = { size };
    size_t len = hello_create(buf, 0, cap);

    op.machine = 1;
    op.code = ARMMAP__V1__OP_CODE__OP_VMALLOC;
    op.n_args = 1;
    op.args = vm_args;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    for (int i = 0; i < 5; i++) {
        req.id = 10 + (uint64_t)i;
        len = frame(buf, len, cap, &req);
    }
    fk.machine = 1;
    fk.at_seq = 3;
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &fk;
    for (int i = 0; i < nforks; i++) {
        req.id = 100 + (uint64_t)i;
        len = frame(buf, len, cap, &req);
    }
    return len;
}

/* Loop turns until @path exists (bounded by LOOP_ROUNDS and time). */
static void loop_until_file(struct srv *s, const char *path)
{
    time_t deadline = time(NULL) + LOOP_SECONDS;

    for (int round = 0; round < LOOP_ROUNDS && access(path, F_OK) != 0;
         round++) {
        struct timeval tv = { 0, 2000 };

        event_base_loopexit(s->base, &tv);
        event_base_loop(s->base, EVLOOP_ONCE);
        ck_assert_msg(time(NULL) < deadline, "%s never appeared", path);
    }
    ck_assert_int_eq(access(path, F_OK), 0);
}

/* This process's threads (/proc/self/status). */
static int count_threads(void)
{
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    ck_assert_int_gt(n, 0);
    return n;
}

/* Loop turns until a worker has ended and been joined: fewer than @n
 * threads (bounded by LOOP_ROUNDS and time). */
static void loop_until_threads_below(struct srv *s, int n)
{
    time_t deadline = time(NULL) + LOOP_SECONDS;

    for (int round = 0; round < LOOP_ROUNDS && count_threads() >= n;
         round++) {
        struct timeval tv = { 0, 2000 };

        event_base_loopexit(s->base, &tv);
        event_base_loop(s->base, EVLOOP_ONCE);
        ck_assert_msg(time(NULL) < deadline, "the worker did not end");
    }
    ck_assert_int_lt(count_threads(), n);
}

/* Writes @in on a fresh connection, keeps the sending side open until
 * the reply to request @wait_id has come (0: closes it at once), and runs
 * the loop until the server has closed; returns what it wrote back
 * (malloc'd, *@outlen bytes). */
static uint8_t *converse_until(struct srv *s, const uint8_t *in, size_t inlen,
                               uint64_t wait_id, size_t *outlen)
{
    size_t cap = 1 << 20, len = 0;
    uint8_t *out = malloc(cap);
    time_t deadline = time(NULL) + LOOP_SECONDS;
    bool shut = false;
    int sv[2];

    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    srv_conn_accept(s, sv[0]);
    ck_assert_int_eq(send(sv[1], in, inlen, MSG_NOSIGNAL), (ssize_t)inlen);
    for (int round = 0; round < LOOP_ROUNDS; round++) {
        struct timeval tv = { 0, 2000 };
        ssize_t n;

        if (!shut) {
            int code = 0;
            char msg[256];

            if (wait_id != 0)
                reply_status(out, len - frames_tail(out, len), wait_id,
                             &code, msg, sizeof(msg));
            if (code != -1) {
                ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
                shut = true;
            }
        }
        event_base_loopexit(s->base, &tv);
        event_base_loop(s->base, EVLOOP_ONCE);
        n = recv(sv[1], out + len, cap - len, MSG_DONTWAIT);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            break;
        ck_assert_msg(time(NULL) < deadline, "the server did not close");
    }
    close(sv[1]);
    ck_assert_uint_eq(s->n.connections, 0);
    *outlen = len;
    return out;
}

static uint8_t *converse(struct srv *s, const uint8_t *in, size_t inlen,
                         size_t *outlen)
{
    return converse_until(s, in, inlen, 0, outlen);
}

/* Machine @id's whole state, as bytes (malloc'd, *@len). */
static char *machine_bytes(struct srv *s, uint64_t id, size_t *len)
{
    struct srv_machine *sm = srv_machine_get(s->reg, id);
    struct mm_buf b = { 0 };

    ck_assert_ptr_nonnull(sm);
    ck_assert_ptr_nonnull(sm->m);
    ck_assert_int_eq(mm_snapshot(sm->m, &b), MM_OK);
    *len = b.len;
    return b.data;
}

/* fuzz_conn's "history ends at seq 0, but seq 3 was committed
 * (truncated)" (tests/fuzz/regress/conn/fork-history-truncated-*): a Fork
 * whose connection went away left its replay running on a worker; the
 * reset emptied the store under it, and the next input's Fork of the same
 * (machine, seq), ids being reused from 1, took that replay's result: the
 * truncation error, or the machine of the input before.  Here the
 * replay ends unclaimed before the reset, so that the old code fails every
 * time.  A reset joins and drops the replays, so after it a Fork replays
 * the new history: its machine is the same as a second Fork's, which
 * always replays afresh. */
START_TEST(test_reset_drops_a_forks_replay)
{
    static uint8_t in[8192];
    char gate[128], started[140], err[1024], msg[256];
    struct rig r;
    uint8_t *b;
    char *f1, *f2;
    size_t inlen, blen, l1, l2;
    int sv[2], code, threads;

    rig_settings(&r, ":memory:");
    snprintf(gate, sizeof(gate), "%s/gate", r.dir);
    snprintf(started, sizeof(started), "%s.started", gate);
    ck_assert_int_eq(setenv("ARMMAPD_TEST_FORK_GATE", gate, 1), 0);
    /* Input 1: the Fork's replay starts and waits at the gate; the client
     * goes away without its answer. */
    inlen = session_forks(in, sizeof(in), 4096, 1);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    srv_conn_accept(r.s, sv[0]);
    ck_assert_int_eq(send(sv[1], in, inlen, MSG_NOSIGNAL), (ssize_t)inlen);
    loop_until_file(r.s, started);
    close(sv[1]);
    srv_conn_close_all(r.s); /* as srv_reset() would: the Fork is gone */
    ck_assert_uint_eq(r.s->n.connections, 0);
    /* The replay finishes, unclaimed, before the reset. */
    threads = count_threads();
    ck_assert_int_eq(close(open(gate, O_WRONLY | O_CREAT, 0600)), 0);
    loop_until_threads_below(r.s, threads);
    srv_persist_flush(r.s);
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    /* Input 2: other vmallocs on the new machine 1, then two Forks at 3. */
    inlen = session_forks(in, sizeof(in), 3 * 4096, 2);
    b = converse_until(r.s, in, inlen, 101, &blen);
    reply_status(b, blen, 100, &code, msg, sizeof(msg));
    ck_assert_msg(code == 0, "fork: %d %s", code, msg);
    ck_assert_str_eq(msg, "machine 2");
    reply_status(b, blen, 101, &code, msg, sizeof(msg));
    ck_assert_msg(code == 0, "fork: %d %s", code, msg);
    ck_assert_str_eq(msg, "machine 3");
    f1 = machine_bytes(r.s, 2, &l1);
    f2 = machine_bytes(r.s, 3, &l2);
    ck_assert_msg(l1 == l2 && memcmp(f1, f2, l1) == 0,
                  "the first Fork took the replay of the input before "
                  "(%zu snapshot bytes, not %zu)",
                  l1, l2);
    free(f1);
    free(f2);
    free(b);
    unlink(gate);
    unlink(started);
    unsetenv("ARMMAPD_TEST_FORK_GATE");
    rig_free(&r);
}
END_TEST

START_TEST(test_reset_same_requests_same_reply_bytes)
{
    static uint8_t in[8192];
    struct rig r;
    uint8_t *a, *b;
    size_t inlen = session_bytes(in, sizeof(in)), alen, blen;
    char err[1024], msg[256];
    int code;

    rig_settings(&r, ":memory:");
    a = converse(r.s, in, inlen, &alen);
    srv_persist_flush(r.s);
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    b = converse(r.s, in, inlen, &blen);
    /* Nine replies, the machines numbered from 1 both times. */
    reply_status(a, alen, 2, &code, msg, sizeof(msg));
    ck_assert_int_eq(code, 0);
    ck_assert_str_eq(msg, "machine 1");
    reply_status(b, blen, 3, &code, msg, sizeof(msg));
    ck_assert_str_eq(msg, "machine 2");
    reply_status(b, blen, 9, &code, msg, sizeof(msg));
    ck_assert_int_eq(code, MM_NOT_FOUND);
    /* Byte for byte, but for the creation times. */
    ck_assert_uint_eq(alen, blen);
    untime(a, alen);
    untime(b, blen);
    ck_assert_int_eq(memcmp(a, b, alen), 0);
    ck_assert_uint_eq(srv_registry_count(r.s->reg), 1);
    free(a);
    free(b);
    rig_free(&r);
}
END_TEST

/* A keyed change after a reset is a new change: the reset forgets the
 * request keys with the machines (a remembered one would answer the
 * vmalloc of the new machine 2 without applying it). */
START_TEST(test_reset_forgets_request_keys)
{
    static uint8_t in[8192];
    struct rig r;
    uint8_t *a;
    size_t inlen = session_keyed(in, sizeof(in), 0xfeedfacecafef00du), alen;
    char err[1024];
    int round;

    rig_settings(&r, ":memory:");
    for (round = 0; round < 2; round++) {
        a = converse(r.s, in, inlen, &alen);
        free(a);
        srv_persist_flush(r.s);
        ck_assert_ptr_nonnull(srv_machine_get(r.s->reg, 2));
        ck_assert_uint_eq(mm_seq(srv_machine_get(r.s->reg, 2)->m), 1);
        ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    }
    rig_free(&r);
}
END_TEST

START_TEST(test_reset_forgets_machines_and_counters)
{
    static uint8_t in[8192];
    struct rig r;
    uint8_t *a;
    size_t inlen = session_bytes(in, sizeof(in)), alen;
    char err[1024];

    rig_settings(&r, ":memory:");
    a = converse(r.s, in, inlen, &alen);
    free(a);
    ck_assert_uint_eq(srv_registry_count(r.s->reg), 1);
    ck_assert_uint_eq(r.s->n.requests, 9);
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    ck_assert_uint_eq(srv_registry_count(r.s->reg), 0);
    ck_assert_uint_eq(r.s->n.requests, 0);
    ck_assert_uint_eq(r.s->n.changes, 0);
    ck_assert_ptr_null(r.s->tenants);
    ck_assert_uint_eq(srv_persist_commits(r.s), 0);
    rig_free(&r);
}
END_TEST

/* A reset empties the store only if a write reached it since it was
 * last emptied: the fuzz harness resets after every input, and most
 * inputs write nothing.  A reset that skips it must leave the same
 * server: the same session gets the same replies after it. */
START_TEST(test_reset_skips_an_untouched_store)
{
    static uint8_t in[8192], hello[512];
    struct rig r;
    uint8_t *a, *b;
    size_t inlen = session_bytes(in, sizeof(in)), alen, blen, hlen;
    char err[1024];

    /* Hello alone: request 1 of hello_create()'s two frames. */
    hello_create(hello, 0, sizeof(hello));
    hlen = 4 + ((size_t)hello[2] << 8 | hello[3]);
    rig_settings(&r, ":memory:");
    /* The store as opened counts as touched (recovery ran on it). */
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    ck_assert_uint_eq(srv_persist_store_resets(r.s), 1);
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    ck_assert_uint_eq(srv_persist_store_resets(r.s), 1);
    free(converse(r.s, hello, hlen, &blen));
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    ck_assert_uint_eq(srv_persist_store_resets(r.s), 1);
    a = converse(r.s, in, inlen, &alen);
    srv_persist_flush(r.s);
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    ck_assert_uint_eq(srv_persist_store_resets(r.s), 2);
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), 0);
    ck_assert_uint_eq(srv_persist_store_resets(r.s), 2);
    b = converse(r.s, in, inlen, &blen);
    ck_assert_uint_eq(alen, blen);
    untime(a, alen);
    untime(b, blen);
    ck_assert_int_eq(memcmp(a, b, alen), 0);
    free(a);
    free(b);
    rig_free(&r);
}
END_TEST

START_TEST(test_reset_refuses_a_database_file)
{
    struct rig r;
    char err[1024];
    char want[512];

    rig_settings(&r, "file");
    ck_assert_int_eq(srv_reset(r.s, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "armmapd: reset: the store %s is not :memory:", r.db);
    ck_assert_str_eq(err, want);
    rig_free(&r);
}
END_TEST

/* A connection closing after a bad frame, whose peer then shuts down its
 * sending side without reading: the daemon's read event stayed added, so
 * the EOF (always readable) made every pass of the loop read 0 bytes and
 * retry the blocked write; the loop spun at full CPU until --idle-timeout
 * closed the connection (fuzz_conn spent most of its time there).  One
 * non-blocking run of the loop must return with the connection still
 * open and waiting for its reader; then it answers and closes. */
START_TEST(test_closing_connection_stops_reading_at_eof)
{
    static uint8_t in[16384];
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello hello = ARMMAP__V1__HELLO__INIT;
    Armmap__V1__Presets presets = ARMMAP__V1__PRESETS__INIT;
    static const uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xf0 };
    size_t inlen = 0, len = 0, cap = 1 << 20;
    uint8_t *out = malloc(cap);
    time_t deadline;
    struct rig r;
    int sv[2], small = 4096, code;
    char msg[256];

    ck_assert_ptr_nonnull(out);
    rig_idle = "1";
    rig_settings(&r, ":memory:");
    rig_idle = "300";
    hello.protocol = 1;
    hello.tenant = "lab";
    hello.token.data = (uint8_t *)RESET_TOKEN;
    hello.token.len = strlen(RESET_TOKEN);
    req.id = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &hello;
    inlen = frame(in, inlen, sizeof(in), &req);
    req.body_case = ARMMAP__V1__REQUEST__BODY_PRESETS;
    req.presets = &presets;
    for (uint64_t id = 2; id < 600; id++) {
        req.id = id;
        inlen = frame(in, inlen, sizeof(in), &req);
    }
    memcpy(in + inlen, huge, sizeof(huge));
    inlen += sizeof(huge);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    /* The daemon's end takes a few KiB: its replies fill it. */
    ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
                                sizeof(small)), 0);
    srv_conn_accept(r.s, sv[0]);
    ck_assert_int_eq(send(sv[1], in, inlen, MSG_NOSIGNAL), (ssize_t)inlen);
    ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
    event_base_loop(r.s->base, EVLOOP_NONBLOCK);
    ck_assert_uint_eq(r.s->n.connections, 1);
    /* Read everything: the bad frame is answered, then the close. */
    deadline = time(NULL) + LOOP_SECONDS;
    for (int round = 0; round < LOOP_ROUNDS; round++) {
        struct timeval tv = { 0, 2000 };
        ssize_t n;

        event_base_loopexit(r.s->base, &tv);
        event_base_loop(r.s->base, EVLOOP_ONCE);
        n = recv(sv[1], out + len, cap - len, MSG_DONTWAIT);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            break;
        ck_assert_msg(time(NULL) < deadline, "the server did not close");
    }
    close(sv[1]);
    ck_assert_uint_eq(r.s->n.connections, 0);
    reply_status(out, len, 599, &code, msg, sizeof(msg));
    ck_assert_int_eq(code, 0);
    reply_status(out, len, 0, &code, msg, sizeof(msg));
    ck_assert_int_eq(code, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED);
    ck_assert_str_eq(msg, "frame of 4294967280 bytes exceeds --max-frame "
                          "(16777216 bytes)");
    free(out);
    rig_free(&r);
}
END_TEST

Suite *reset_suite(void)
{
    Suite *s = suite_create("reset");
    TCase *tc = tcase_create("reset");

    tcase_add_test(tc, test_reset_same_requests_same_reply_bytes);
    tcase_add_test(tc, test_reset_forgets_machines_and_counters);
    tcase_add_test(tc, test_reset_forgets_request_keys);
    tcase_add_test(tc, test_reset_refuses_a_database_file);
    tcase_add_test(tc, test_reset_skips_an_untouched_store);
    tcase_add_test(tc, test_reset_drops_a_forks_replay);
    tcase_add_test(tc, test_closing_connection_stops_reading_at_eof);
    suite_add_tcase(s, tc);
    return s;
}
