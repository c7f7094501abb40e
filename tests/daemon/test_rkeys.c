/* tests/daemon/test_rkeys.c - idempotent retries (Request.request_key).
 *
 * The real armmapd on a temporary SQLite file (and, in suite pg_rkeys, on
 * a PostgreSQL server the suite starts): a change sent with a request key
 * and sent again with the same key on a new connection gets the same
 * reply, byte for byte, and its events are in the history once; the same
 * after a restart; keys of other machines and tenants do not collide; a
 * machine remembers exactly its last 4096 keys.
 */
#include "check_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/pgserver.h"

#define KEPT 4096 /* STORE_RKEYS_KEPT */

static struct tdaemon d;
static char database[320]; /* "--database=..." or "" (SQLite) */

/* One reply frame's bytes. */
struct raw {
    uint8_t *b;
    size_t n;
};

static void start(void)
{
    if (database[0] != '\0')
        td_start(&d, database, NULL);
    else
        td_start(&d, NULL);
}

static void setup(void)
{
    database[0] = '\0';
    td_init(&d);
    start();
}

static void teardown(void)
{
    td_stop(&d);
    td_cleanup(&d);
}

static void recv_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);

        ck_assert_msg(n > 0, "recv: %s after %zu of %zu bytes",
                      n == 0 ? "EOF" : strerror(errno), got, len);
        got += (size_t)n;
    }
}

/* Sends @req and reads its reply frame raw (length prefix included). */
static struct raw call_raw(int fd, const Armmap__V1__Request *req)
{
    struct raw r;
    uint8_t hdr[4];
    size_t n;

    td_send(fd, req);
    recv_full(fd, hdr, 4);
    n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 |
        hdr[3];
    r.n = 4 + n;
    r.b = malloc(r.n);
    ck_assert_ptr_nonnull(r.b);
    memcpy(r.b, hdr, 4);
    recv_full(fd, r.b + 4, n);
    return r;
}

static Armmap__V1__Response *decode(const struct raw *r)
{
    Armmap__V1__Response *resp = armmap__v1__response__unpack(NULL, r->n - 4,
                                                              r->b + 4);

    ck_assert_ptr_nonnull(resp);
    return resp;
}

static void assert_same(const struct raw *a, const struct raw *b)
{
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_int_eq(memcmp(a->b, b->b, a->n), 0);
}

/* An alloc of one HighMem page (op code 1: zone 2, order 0). */
static const uint32_t alloc_args[2] = { 2, 0 };

/* The changes the tests retry, one per kind of body. */
enum keyed_body {
    KEYED_CREATE, /* a machine "keyed" (preset "") */
    KEYED_OP,     /* one alloc on @machine */
    KEYED_BATCH,  /* @n allocs (at most 8) on @machine */
    KEYED_FORK,   /* @machine at seq @n, as "forked" */
};

/* Sends change @body as request @id with request key @key and reads its
 * reply frame raw. */
static struct raw call_keyed(int fd, uint64_t id, uint64_t key,
                             enum keyed_body body, uint64_t machine,
                             uint64_t n)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    Armmap__V1__Op ops[8], *opp[8];
    size_t i;

    for (i = 0; i < 8; i++) {
        armmap__v1__op__init(&ops[i]);
        ops[i].code = ARMMAP__V1__OP_CODE__OP_ALLOC;
        ops[i].n_args = 2;
        ops[i].args = (uint32_t *)alloc_args;
        opp[i] = &ops[i];
    }
    req.id = id;
    req.request_key = key;
    switch (body) {
    case KEYED_CREATE:
        cr.preset = (char *)"";
        cr.name = (char *)"keyed";
        req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
        req.create = &cr;
        break;
    case KEYED_OP:
        ops[0].machine = machine;
        req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
        req.op = &ops[0];
        break;
    case KEYED_BATCH:
        ck_assert_uint_le(n, 8);
        b.machine = machine;
        b.n_ops = (size_t)n;
        b.ops = opp;
        req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
        req.batch = &b;
        break;
    case KEYED_FORK:
        fk.machine = machine;
        fk.at_seq = n;
        fk.name = (char *)"forked";
        req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
        req.fork = &fk;
        break;
    }
    return call_raw(fd, &req);
}

/* A kmap_flush (no state needed, one event) with @key; its seq. */
static uint64_t flush_keyed(int fd, uint64_t key, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;
    Armmap__V1__Response *r;
    uint64_t seq;

    op.machine = machine;
    op.code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
    req.id = 9;
    req.request_key = key;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    r = td_call(fd, &req);
    ck_assert_status(r, 9, 0, "");
    seq = r->op->seq;
    td_free(r);
    return seq;
}

/* Keyed kmap_flushes of @machine with keys 1..@n, pipelined WINDOW at a
 * time (request id = key): asserts each is answered OK as the machine's
 * change number key (the machine had none before).  Pipelined, the
 * daemon commits them in groups: the same keys, far fewer commits than
 * one round trip each. */
static void flush_keys_from_one(int fd, uint64_t machine, uint64_t n)
{
    enum { WINDOW = 64 };
    uint64_t k, sent = 0, got = 0;

    while (got < n) {
        for (; sent < n && sent - got < WINDOW; sent++) {
            Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
            Armmap__V1__Op op = ARMMAP__V1__OP__INIT;

            op.machine = machine;
            op.code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
            req.id = sent + 1;
            req.request_key = sent + 1;
            req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
            req.op = &op;
            td_send(fd, &req);
        }
        for (k = got + 1; got < sent; got++, k++) {
            Armmap__V1__Response *r = td_recv(fd);

            ck_assert_status(r, k, 0, "");
            ck_assert_uint_eq(r->op->seq, k);
            td_free(r);
        }
    }
}

/* The events of @machine in its history (one page: fewer than 1000). */
static size_t history_count(int fd, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;
    Armmap__V1__Response *r;
    size_t n;

    h.machine = machine;
    req.id = 11;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    r = td_call(fd, &req);
    ck_assert_status(r, 11, 0, "");
    ck_assert_uint_eq(r->history->next_after_seq, 0);
    n = r->history->n_events;
    td_free(r);
    return n;
}

/* The machines of the caller's tenant. */
static size_t list_count(int fd)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;
    size_t n;

    req.id = 12;
    req.body_case = ARMMAP__V1__REQUEST__BODY_LIST;
    req.list = &ref;
    r = td_call(fd, &req);
    ck_assert_status(r, 12, 0, "");
    n = r->machines->n_machines;
    td_free(r);
    return n;
}

static uint64_t machine_seq(int fd, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;
    uint64_t seq;

    ref.machine = machine;
    req.id = 13;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    r = td_call(fd, &req);
    ck_assert_status(r, 13, 0, "");
    seq = r->machine->seq;
    td_free(r);
    return seq;
}

/* ---- the cases ------------------------------------------------------ */

/* An op, a batch, a create and a fork, each sent again with its key on a
 * new connection: the same bytes back, nothing applied twice. */
static void retries_answer_the_first_reply(bool restart)
{
    int fd = td_session(&d, "alice"), fd2;
    uint64_t m, child;
    struct raw op1, op2, b1, b2, c1, c2, f1, f2;
    Armmap__V1__Response *r;

    c1 = call_keyed(fd, 20, 0xc0ffee, KEYED_CREATE, 0, 0);
    r = decode(&c1);
    ck_assert_status(r, 20, 0, "");
    m = r->machine->id;
    td_free(r);
    op1 = call_keyed(fd, 21, 0x1111222233334444u, KEYED_OP, m, 0);
    r = decode(&op1);
    ck_assert_status(r, 21, 0, "");
    ck_assert_uint_eq(r->op->seq, 1);
    td_free(r);
    b1 = call_keyed(fd, 22, 0xffffffffffffffffu, KEYED_BATCH, m, 3);
    r = decode(&b1);
    ck_assert_status(r, 22, 0, "");
    ck_assert_uint_eq(r->batch->n_results, 3);
    td_free(r);
    f1 = call_keyed(fd, 23, 7, KEYED_FORK, m, 2);
    r = decode(&f1);
    ck_assert_status(r, 23, 0, "");
    child = r->machine->id;
    ck_assert_uint_eq(r->machine->seq, 2);
    td_free(r);
    close(fd);
    if (restart) {
        ck_assert_int_eq(td_stop(&d), 0);
        start();
    }

    fd2 = td_session(&d, "alice");
    c2 = call_keyed(fd2, 20, 0xc0ffee, KEYED_CREATE, 0, 0);
    op2 = call_keyed(fd2, 21, 0x1111222233334444u, KEYED_OP, m, 0);
    b2 = call_keyed(fd2, 22, 0xffffffffffffffffu, KEYED_BATCH, m, 3);
    f2 = call_keyed(fd2, 23, 7, KEYED_FORK, m, 2);
    assert_same(&c1, &c2);
    assert_same(&op1, &op2);
    assert_same(&b1, &b2);
    assert_same(&f1, &f2);
    ck_assert_uint_eq(list_count(fd2), 2);
    ck_assert_uint_eq(history_count(fd2, m), 4);
    ck_assert_uint_eq(machine_seq(fd2, m), 4);
    ck_assert_uint_eq(machine_seq(fd2, child), 2);
    /* A retry under another request id: that id, the same answer. */
    free(op2.b);
    op2 = call_keyed(fd2, 99, 0x1111222233334444u, KEYED_OP, m, 0);
    r = decode(&op2);
    ck_assert_status(r, 99, 0, "");
    ck_assert_uint_eq(r->op->seq, 1);
    td_free(r);
    ck_assert_uint_eq(machine_seq(fd2, m), 4);
    close(fd2);
    free(op1.b);
    free(op2.b);
    free(b1.b);
    free(b2.b);
    free(c1.b);
    free(c2.b);
    free(f1.b);
    free(f2.b);
}

START_TEST(test_retries_answer_the_first_reply)
{
    retries_answer_the_first_reply(false);
}
END_TEST

START_TEST(test_retries_after_restart)
{
    retries_answer_the_first_reply(true);
}
END_TEST

/* The same key on two machines, and from two tenants, is two keys. */
START_TEST(test_keys_do_not_collide)
{
    int a = td_session(&d, "alice"), b = td_session(&d, "bob");
    uint64_t ma = td_create(a, NULL, NULL), ma2 = td_create(a, NULL, NULL);
    uint64_t mb;
    struct raw ca, cb;
    Armmap__V1__Response *r;

    ck_assert_uint_eq(flush_keyed(a, 5, ma), 1);
    ck_assert_uint_eq(flush_keyed(a, 5, ma2), 1);
    ck_assert_uint_eq(flush_keyed(a, 5, ma), 1); /* a retry */
    ck_assert_uint_eq(machine_seq(a, ma), 1);
    ck_assert_uint_eq(machine_seq(a, ma2), 1);
    /* Bob's machine, alice's key: applied; his retry of alice's machine
     * with her key is answered as any request of his to it. */
    mb = td_create(b, NULL, NULL);
    ck_assert_uint_eq(flush_keyed(b, 5, mb), 1);
    ca = call_keyed(b, 30, 5, KEYED_OP, ma, 0);
    r = decode(&ca);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
    free(ca.b);
    /* Creates: a key is per tenant. */
    ca = call_keyed(a, 31, 77, KEYED_CREATE, 0, 0);
    cb = call_keyed(b, 31, 77, KEYED_CREATE, 0, 0);
    ck_assert(ca.n != cb.n || memcmp(ca.b, cb.b, ca.n) != 0);
    ck_assert_uint_eq(list_count(a), 3);
    ck_assert_uint_eq(list_count(b), 2);
    free(ca.b);
    free(cb.b);
    close(a);
    close(b);
}
END_TEST

/* A machine keeps its last 4096 keys: the 4097th evicts the first, which
 * applies again when retried; the second is still answered, also after a
 * restart (the store keeps the same ones). */
START_TEST(test_key_table_bounded)
{
    int fd = td_session(&d, "alice");
    uint64_t m = td_create(fd, NULL, NULL);

    flush_keys_from_one(fd, m, KEPT + 1);
    ck_assert_uint_eq(flush_keyed(fd, 2, m), 2); /* remembered */
    ck_assert_uint_eq(flush_keyed(fd, KEPT + 1, m), KEPT + 1);
    ck_assert_uint_eq(machine_seq(fd, m), KEPT + 1);
    close(fd);
    ck_assert_int_eq(td_stop(&d), 0);
    start();
    fd = td_session(&d, "alice");
    ck_assert_uint_eq(flush_keyed(fd, 2, m), 2);
    ck_assert_uint_eq(flush_keyed(fd, 3, m), 3);
    ck_assert_uint_eq(machine_seq(fd, m), KEPT + 1);
    ck_assert_uint_eq(flush_keyed(fd, 1, m), KEPT + 2); /* evicted */
    ck_assert_uint_eq(machine_seq(fd, m), KEPT + 2);
    /* That made key 1 the newest and evicted key 2. */
    ck_assert_uint_eq(flush_keyed(fd, 2, m), KEPT + 3);
    ck_assert_uint_eq(flush_keyed(fd, 3, m), KEPT + 4);
    ck_assert_uint_eq(flush_keyed(fd, 4, m), KEPT + 5);
    ck_assert_uint_eq(flush_keyed(fd, 1, m), KEPT + 2);
    close(fd);
}
END_TEST

/* A destroy retried after it committed: its first answer, not NOT_FOUND. */
START_TEST(test_destroy_retried)
{
    int fd = td_session(&d, "alice");
    uint64_t m = td_create(fd, NULL, NULL);
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    struct raw a, b;
    Armmap__V1__Response *r;

    ref.machine = m;
    req.id = 40;
    req.request_key = 4040;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESTROY;
    req.destroy = &ref;
    a = call_raw(fd, &req);
    b = call_raw(fd, &req);
    assert_same(&a, &b);
    r = decode(&a);
    ck_assert_status(r, 40, 0, "");
    td_free(r);
    req.request_key = 0; /* without a key: gone */
    free(b.b);
    b = call_raw(fd, &req);
    r = decode(&b);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
    free(a.b);
    free(b.b);
    close(fd);
}
END_TEST

Suite *rkeys_suite(void)
{
    Suite *s = suite_create("rkeys");
    TCase *tc = tcase_create("rkeys");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_retries_answer_the_first_reply);
    tcase_add_test(tc, test_retries_after_restart);
    tcase_add_test(tc, test_keys_do_not_collide);
    tcase_add_test(tc, test_key_table_bounded);
    tcase_add_test(tc, test_destroy_retried);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- the same on PostgreSQL ------------------------------------------- */

#ifdef STORE_HAVE_PG
/* A fresh database @name; false (said) without a server. */
static bool pg_start(const char *name)
{
    char url[256];
    const struct pgserver *pg = pgfix_server("test_rkeys");

    if (pg == NULL)
        return false;
    ck_assert_msg(pgserver_create_db(pg, name, url) == 0, "%s", url);
    snprintf(database, sizeof(database), "--database=%s", url);
    td_init(&d);
    start();
    return true;
}

START_TEST(test_pg_retries)
{
    if (!pg_start("armmap_rkeys_retries"))
        return;
    retries_answer_the_first_reply(true);
    teardown();
}
END_TEST

START_TEST(test_pg_key_table_bounded)
{
    int fd;
    uint64_t m;

    if (!pg_start("armmap_rkeys_bounded"))
        return;
    fd = td_session(&d, "alice");
    m = td_create(fd, NULL, NULL);
    flush_keys_from_one(fd, m, KEPT + 1);
    close(fd);
    ck_assert_int_eq(td_stop(&d), 0);
    start();
    fd = td_session(&d, "alice");
    ck_assert_uint_eq(flush_keyed(fd, 2, m), 2);
    ck_assert_uint_eq(flush_keyed(fd, 1, m), KEPT + 2); /* evicted */
    ck_assert_uint_eq(machine_seq(fd, m), KEPT + 2);
    close(fd);
    teardown();
}
END_TEST

Suite *pg_rkeys_suite(void)
{
    Suite *s = suite_create("pg_rkeys");
    TCase *tc = tcase_create("pg_rkeys");

    tcase_add_unchecked_fixture(tc, pgfix_setup, pgfix_teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_pg_retries);
    tcase_add_test(tc, test_pg_key_table_bounded);
    suite_add_tcase(s, tc);
    return s;
}
#endif
