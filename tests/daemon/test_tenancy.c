/* tests/daemon/test_tenancy.c - credentials, per-tenant quotas and scope.
 *
 * With --tenants-file each token belongs to one tenant (the file holds
 * only SHA-256 digests of the tokens), the daemon decides the tenant from
 * the token, and quotas may be set per tenant.  Purge, stats and list see
 * only the caller's tenant, except for an admin tenant.  Machines nobody
 * touched for --machine-idle-ttl are destroyed; their history stays
 * readable until purged.
 */
#include "check_daemon.h"
#include "../common/runlen.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "srv.h"

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    td_cleanup(&d);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static Armmap__V1__Response *ping(int fd, uint64_t id);

static void sha_hex(const void *data, size_t len, char out[65])
{
    uint8_t dg[32];

    srv_sha256(data, len, dg);
    hex(dg, 32, out);
}

/* ---- SHA-256 against FIPS 180-4's examples ---------------------------- */

START_TEST(test_sha256_known_vectors)
{
    static const char *const two_blocks =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char out[65];
    char *million = malloc(1000000);

    sha_hex("abc", 3, out);
    ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223"
                          "b00361a396177a9cb410ff61f20015ad");
    sha_hex("", 0, out);
    ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb924"
                          "27ae41e4649b934ca495991b7852b855");
    sha_hex(two_blocks, strlen(two_blocks), out);
    ck_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039"
                          "a33ce45964ff2167f6ecedd419db06c1");
    ck_assert_ptr_nonnull(million);
    memset(million, 'a', 1000000);
    sha_hex(million, 1000000, out);
    ck_assert_str_eq(out, "cdc76e5c9914fb9281a1c7e284d73e67"
                          "f1809a48a497200e046d39ccc7112cd0");
    /* 55 and 56 bytes: the padding's length field fits, or spills over. */
    sha_hex(million, 55, out);
    ck_assert_str_eq(out, "9f4390f8d30c2dd92ec9f095b65e2b9a"
                          "e9b0a925a5258e241c9f1e910f734318");
    sha_hex(million, 56, out);
    ck_assert_str_eq(out, "b35439a4ac6f0948b6d6f9e3c6af0f5f"
                          "590ce20f1bde7090ef7970686ec6738a");
    free(million);
}
END_TEST

/* ---- the tenants file ------------------------------------------------- */

static char tenants_path[400], tenants_flag[420];

/* Writes the tenants file: lines "NAME TOKEN [options]" become
 * "NAME sha256(TOKEN) [options]". */
static void write_tenants(const char *const *lines, size_t n)
{
    FILE *f;
    size_t i;

    snprintf(tenants_path, sizeof(tenants_path), "%s/tenants", d.dir);
    snprintf(tenants_flag, sizeof(tenants_flag), "--tenants-file=%s",
             tenants_path);
    f = fopen(tenants_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# tenant  sha256(token)  options\n\n");
    for (i = 0; i < n; i++) {
        char name[64], tok[64], rest[200] = "", h[65];

        ck_assert_int_ge(sscanf(lines[i], "%63s %63s %199[^\n]", name, tok,
                                rest), 2);
        sha_hex(tok, strlen(tok), h);
        fprintf(f, "%s %s %s\n", name, h, rest);
    }
    fclose(f);
}

static Armmap__V1__Response *hello_token(int fd, uint64_t id,
                                         const char *tenant,
                                         const char *token)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello h = ARMMAP__V1__HELLO__INIT;

    h.protocol = 1;
    h.tenant = (char *)tenant;
    if (token != NULL) {
        h.token.data = (uint8_t *)token;
        h.token.len = strlen(token);
    }
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &h;
    return td_call(fd, &req);
}

static int session_token(const char *tenant, const char *token)
{
    int fd = td_connect(&d);
    Armmap__V1__Response *r = hello_token(fd, 1, tenant, token);

    ck_assert_status(r, 1, 0, "");
    td_free(r);
    return fd;
}

static const char *const three[] = {
    "alice alice-token-1",
    "bob bob-token-2 max-machines-per-tenant=1",
    "root root-token-3 admin",
};

static Armmap__V1__Response *simple(int fd, uint64_t id, int body)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Stats st = ARMMAP__V1__STATS__INIT;

    req.id = id;
    req.body_case = (Armmap__V1__Request__BodyCase)body;
    if (body == ARMMAP__V1__REQUEST__BODY_STATS)
        req.stats = &st;
    else
        req.list = &ref;
    return td_call(fd, &req);
}

static Armmap__V1__Response *describe(int fd, uint64_t id, uint64_t m)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    ref.machine = m;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    return td_call(fd, &req);
}

START_TEST(test_tenants_file_decides_the_tenant)
{
    Armmap__V1__Response *r;
    uint64_t m;
    int fd;

    write_tenants(three, 3);
    td_start(&d, tenants_flag, NULL);
    /* An empty tenant in Hello takes the token's. */
    fd = session_token("", "alice-token-1");
    m = td_create(fd, "qemu-virt", NULL);
    r = describe(fd, 2, m);
    ck_assert_status(r, 2, 0, "");
    ck_assert_str_eq(r->machine->tenant, "alice");
    td_free(r);
    close(fd);
    /* The same name is fine; another is refused. */
    fd = session_token("alice", "alice-token-1");
    close(fd);
    fd = td_connect(&d);
    r = hello_token(fd, 3, "bob", "alice-token-1");
    ck_assert_status(r, 3, ARMMAP__V1__CODE__PERMISSION_DENIED,
                     "hello: this token belongs to tenant 'alice', not 'bob'");
    td_free(r);
    ck_assert(td_closed(fd));
    close(fd);
    fd = td_connect(&d);
    r = hello_token(fd, 4, "alice", "alice-token-2");
    ck_assert_status(r, 4, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "hello: the token is not valid");
    td_free(r);
    close(fd);
    fd = td_connect(&d);
    r = hello_token(fd, 5, "alice", NULL);
    ck_assert_status(r, 5, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "hello: this daemon requires a token");
    td_free(r);
    close(fd);
    /* The digests are all the file holds. */
    ck_assert_ptr_null(strstr(td_log(&d), "alice-token-1"));
}
END_TEST

START_TEST(test_tenants_file_reloaded_on_sighup)
{
    static const char *const four[] = {
        "alice alice-token-1", "carol carol-token-4",
    };
    Armmap__V1__Response *r;
    int fd, i;

    write_tenants(three, 3);
    td_start(&d, tenants_flag, NULL);
    write_tenants(four, 2);
    kill(d.pid, SIGHUP);
    for (i = 0; i < 500 && strstr(td_log(&d), "tenants file reloaded: 2 "
                                  "tenants") == NULL; i++)
        spawn_sleep_ms(10);
    fd = session_token("", "carol-token-4");
    close(fd);
    fd = td_connect(&d);
    r = hello_token(fd, 4, "", "bob-token-2");
    ck_assert_status(r, 4, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "hello: the token is not valid");
    td_free(r);
    close(fd);
    /* A broken file on reload keeps the tenants loaded before. */
    {
        FILE *f = fopen(tenants_path, "w");

        fprintf(f, "alice nothex\n");
        fclose(f);
    }
    kill(d.pid, SIGHUP);
    for (i = 0; i < 500 && strstr(td_log(&d), "keeping the 2 tenants "
                                  "loaded before") == NULL; i++)
        spawn_sleep_ms(10);
    ck_assert_ptr_nonnull(strstr(td_log(&d), "keeping the 2 tenants loaded "
                                 "before"));
    fd = session_token("", "carol-token-4");
    close(fd);
}
END_TEST

/* A reload that drops a tenant, or changes its token, closes the
 * connections the old token opened; the others stay. */
START_TEST(test_reload_revokes_connections_of_changed_tokens)
{
    static const char *const next[] = {
        "alice alice-token-NEW", "root root-token-3 admin",
    };
    Armmap__V1__Response *r;
    int alice, bob, root, fd, i;

    write_tenants(three, 3);
    td_start(&d, tenants_flag, NULL);
    alice = session_token("", "alice-token-1");
    bob = session_token("", "bob-token-2");
    root = session_token("", "root-token-3");
    write_tenants(next, 2);
    kill(d.pid, SIGHUP);
    r = td_recv(alice);
    ck_assert_status(r, 0, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "tenant 'alice': its token was revoked (tenants file "
                     "reloaded)");
    td_free(r);
    ck_assert(td_closed(alice));
    r = td_recv(bob);
    ck_assert_status(r, 0, ARMMAP__V1__CODE__UNAUTHENTICATED,
                     "tenant 'bob': its token was revoked (tenants file "
                     "reloaded)");
    td_free(r);
    for (i = 0; i < 3; i++) {
        r = simple(root, 40 + (uint64_t)i, ARMMAP__V1__REQUEST__BODY_LIST);
        ck_assert_status(r, 40 + (uint64_t)i, 0, "");
        td_free(r);
    }
    fd = session_token("", "alice-token-NEW");
    r = simple(fd, 50, ARMMAP__V1__REQUEST__BODY_LIST);
    ck_assert_status(r, 50, 0, "");
    td_free(r);
    close(fd);
    close(alice);
    close(bob);
    close(root);
}
END_TEST

START_TEST(test_tenants_file_errors_name_the_line)
{
    static const char *const dup[] = { "a tok-1", "b tok-1" };
    static const char *const badopt[] = { "a tok-1 max-machines=3" };
    char out[1024], want[600];
    FILE *f;

    write_tenants(dup, 2);
    ck_assert_int_eq(td_run(out, sizeof(out), tenants_flag, "--check-config",
                            NULL), 2);
    snprintf(want, sizeof(want), "armmapd: %s:4: tenant 'b' has the same "
             "token as tenant 'a'\n", tenants_path);
    ck_assert_str_eq(out, want);
    write_tenants(badopt, 1);
    ck_assert_int_eq(td_run(out, sizeof(out), tenants_flag, "--check-config",
                            NULL), 2);
    snprintf(want, sizeof(want), "armmapd: %s:3: unknown option "
             "'max-machines' (max-machines-per-tenant, max-parked-kmaps, "
             "max-host-bytes-per-tenant, max-inflight-bytes-per-tenant, "
             "machine-idle-ttl, admin)\n",
             tenants_path);
    ck_assert_str_eq(out, want);
    f = fopen(tenants_path, "w");
    fprintf(f, "alice 0123\n");
    fclose(f);
    ck_assert_int_eq(td_run(out, sizeof(out), tenants_flag, "--check-config",
                            NULL), 2);
    snprintf(want, sizeof(want), "armmapd: %s:1: '0123' is not the 64 hex "
             "digits of a SHA-256\n", tenants_path);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(td_run(out, sizeof(out), tenants_flag,
                            "--auth-token-file=/dev/null", "--check-config",
                            NULL), 2);
    ck_assert_str_eq(out, "armmapd: --tenants-file and --auth-token-file "
                     "cannot both be given\n");
}
END_TEST

START_TEST(test_machines_quota_from_the_tenants_file)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Response *r;
    int fd;

    write_tenants(three, 3);
    td_start(&d, tenants_flag, NULL);
    fd = session_token("", "bob-token-2");
    td_create(fd, "qemu-virt", NULL);
    cr.preset = (char *)"qemu-virt";
    req.id = 9;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    r = td_call(fd, &req);
    ck_assert_status(r, 9, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "create: tenant 'bob' has 1 machines "
                     "(max-machines-per-tenant in --tenants-file)");
    td_free(r);
    close(fd);
    /* alice has the default. */
    fd = session_token("", "alice-token-1");
    td_create(fd, "qemu-virt", NULL);
    td_create(fd, "qemu-virt", NULL);
    close(fd);
}
END_TEST

/* ---- scope: purge, stats, list ---------------------------------------- */

static void destroy(int fd, uint64_t m)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;

    ref.machine = m;
    req.id = 6;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESTROY;
    req.destroy = &ref;
    r = td_call(fd, &req);
    ck_assert_status(r, 6, 0, "");
    td_free(r);
}

static Armmap__V1__Response *purge_all(int fd, uint64_t id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Purge pu = ARMMAP__V1__PURGE__INIT;

    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PURGE;
    req.purge = &pu;
    return td_call(fd, &req);
}

static Armmap__V1__Response *history(int fd, uint64_t id, uint64_t m)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;

    h.machine = m;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    return td_call(fd, &req);
}

START_TEST(test_purge_is_scoped_to_the_tenant)
{
    static const uint32_t alloc[2] = { 1, 0 };   /* Normal, order 0 */
    Armmap__V1__Response *r;
    int alice, mallory;
    uint64_t m;

    td_start(&d, NULL);
    alice = td_session(&d, "alice");
    mallory = td_session(&d, "mallory");
    m = td_create(alice, "qemu-virt", NULL);
    td_op_ok(alice, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    destroy(alice, m);
    spawn_sleep_ms(5);
    r = purge_all(mallory, 2);
    ck_assert_status(r, 2, 0, "");
    ck_assert_uint_eq(r->purge->machines, 0);
    ck_assert_uint_eq(r->purge->events, 0);
    td_free(r);
    /* alice's destroyed machine keeps its history until alice purges. */
    r = history(alice, 3, m);
    ck_assert_status(r, 3, 0, "");
    ck_assert_uint_eq(r->history->n_events, 1);
    td_free(r);
    r = history(mallory, 4, m);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
    spawn_sleep_ms(5);                        /* destroyed before "now" */
    r = purge_all(alice, 5);
    ck_assert_status(r, 5, 0, "");
    ck_assert_uint_eq(r->purge->machines, 1);
    ck_assert_uint_eq(r->purge->events, 1);
    td_free(r);
    close(alice);
    close(mallory);
}
END_TEST

/* Applies one Normal order-0 alloc on @m; returns the Response. */
static Armmap__V1__Response *alloc_one(int fd, uint64_t id, uint64_t m)
{
    static const uint32_t alloc[2] = { 1, 0 };   /* Normal, order 0 */

    return td_op(fd, id, m, ARMMAP__V1__OP_CODE__OP_ALLOC, 0, alloc, 2, 0);
}

/* --max-events-per-tenant: the store holds at most 6 events for lab's
 * machines; a destroyed machine's events count until purged; another
 * tenant is not held back; the count survives a restart. */
START_TEST(test_stored_events_quota_per_tenant)
{
    static const uint32_t alloc[2] = { 1, 0 };
    Armmap__V1__Response *r;
    int lab, other, i;
    uint64_t m, m2;

    td_start(&d, "--max-events-per-tenant=6", NULL);
    lab = td_session(&d, "lab");
    other = td_session(&d, "other");
    m = td_create(lab, "qemu-virt", NULL);
    for (i = 0; i < 4; i++)
        td_op_ok(lab, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    r = td_batch(lab, 8, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2, 3, true);
    ck_assert_status(r, 8, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "batch: tenant 'lab' has 4 events stored "
                     "(--max-events-per-tenant 6); destroy and purge "
                     "machines");
    td_free(r);
    r = td_batch(lab, 9, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2, 2, true);
    ck_assert_status(r, 9, 0, "");
    td_free(r);
    r = alloc_one(lab, 10, m);
    ck_assert_status(r, 10, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "alloc: tenant 'lab' has 6 events stored "
                     "(--max-events-per-tenant 6); destroy and purge "
                     "machines");
    td_free(r);
    m2 = td_create(other, "qemu-virt", NULL);
    td_op_ok(other, m2, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    /* Destroyed, its events still count; purged, they no longer do. */
    destroy(lab, m);
    m = td_create(lab, "qemu-virt", NULL);
    r = alloc_one(lab, 11, m);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED);
    td_free(r);
    close(lab);
    close(other);
    ck_assert_int_eq(td_stop(&d), 0);
    td_start(&d, "--max-events-per-tenant=6", NULL);
    lab = td_session(&d, "lab");
    r = alloc_one(lab, 12, m);
    ck_assert_status(r, 12, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "alloc: tenant 'lab' has 6 events stored "
                     "(--max-events-per-tenant 6); destroy and purge "
                     "machines");
    td_free(r);
    spawn_sleep_ms(5);                        /* destroyed before "now" */
    r = purge_all(lab, 13);
    ck_assert_status(r, 13, 0, "");
    ck_assert_uint_eq(r->purge->machines, 1);
    ck_assert_uint_eq(r->purge->events, 6);
    td_free(r);
    r = alloc_one(lab, 14, m);
    ck_assert_status(r, 14, 0, "");
    td_free(r);
    close(lab);
}
END_TEST

/* The same quota for one tenant from the tenants file. */
START_TEST(test_stored_events_quota_from_the_tenants_file)
{
    static const char *const lines[] = {
        "alice alice-token-1 max-events-per-tenant=2",
        "bob bob-token-2",
    };
    static const uint32_t alloc[2] = { 1, 0 };
    Armmap__V1__Response *r;
    int alice, bob;
    uint64_t a, b;

    write_tenants(lines, 2);
    td_start(&d, tenants_flag, "--max-events-per-tenant=3", NULL);
    alice = session_token("", "alice-token-1");
    bob = session_token("", "bob-token-2");
    a = td_create(alice, "qemu-virt", NULL);
    b = td_create(bob, "qemu-virt", NULL);
    td_op_ok(alice, a, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    td_op_ok(alice, a, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    r = alloc_one(alice, 5, a);
    ck_assert_status(r, 5, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "alloc: tenant 'alice' has 2 events stored "
                     "(max-events-per-tenant in --tenants-file 2); destroy "
                     "and purge machines");
    td_free(r);
    td_op_ok(bob, b, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    td_op_ok(bob, b, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    td_op_ok(bob, b, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    r = alloc_one(bob, 6, b);
    ck_assert_status(r, 6, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "alloc: tenant 'bob' has 3 events stored "
                     "(--max-events-per-tenant 3); destroy and purge "
                     "machines");
    td_free(r);
    close(alice);
    close(bob);
}
END_TEST

/* A purge runs on a worker: requests pipelined behind it on its
 * connection are answered after it, in order; another connection's are
 * served; a purge whose connection closes before it ends does no harm. */
START_TEST(test_async_purge_answers_in_order)
{
    enum { OPS = 2047, BATCHES = 5 };
    static const uint32_t alloc[2] = { 1, 0 };
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Purge pu = ARMMAP__V1__PURGE__INIT;
    Armmap__V1__Ping pi = ARMMAP__V1__PING__INIT;
    Armmap__V1__Response *r;
    uint64_t m, m2;
    int a, b, k;

    td_start(&d, NULL);
    a = td_session(&d, "lab");
    b = td_session(&d, "other");
    m = td_create(a, "qemu-virt", NULL);
    for (k = 0; k < BATCHES; k++) {     /* OPS events each */
        r = td_batch(a, 3, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2, OPS,
                     true);
        ck_assert_status(r, 3, 0, "");
        ck_assert_uint_eq(r->batch->n_results, OPS);
        td_free(r);
    }
    destroy(a, m);
    spawn_sleep_ms(5);                        /* destroyed before "now" */
    pu.older_than_ms = 0;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PURGE;
    req.purge = &pu;
    req.id = 10;
    td_send(a, &req);
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &pi;
    req.id = 11;
    td_send(a, &req);
    m2 = td_create(b, "qemu-virt", NULL);       /* another connection */
    td_op_ok(b, m2, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    r = td_recv(a);
    ck_assert_status(r, 10, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_PURGE);
    ck_assert_uint_eq(r->purge->machines, 1);
    ck_assert_uint_eq(r->purge->events, BATCHES * OPS);
    td_free(r);
    r = td_recv(a);
    ck_assert_status(r, 11, 0, "");
    td_free(r);
    r = history(a, 12, m);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
    r = purge_all(a, 13);
    ck_assert_status(r, 13, 0, "");
    ck_assert_uint_eq(r->purge->machines, 0);
    ck_assert_uint_eq(r->purge->events, 0);
    td_free(r);
    /* Its asker gone before the answer: the daemon goes on. */
    destroy(b, m2);
    spawn_sleep_ms(5);
    req.body_case = ARMMAP__V1__REQUEST__BODY_PURGE;
    req.purge = &pu;
    req.id = 14;
    td_send(b, &req);
    close(b);
    r = ping(a, 15);
    ck_assert_status(r, 15, 0, "");
    td_free(r);
    close(a);
    ck_assert_int_eq(td_stop(&d), 0);
}
END_TEST

static Armmap__V1__Response *history_q(int fd, uint64_t id, uint64_t m,
                                       uint32_t limit, uint64_t after,
                                       bool newest)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;

    h.machine = m;
    h.limit = limit;
    h.after_seq = after;
    h.newest_first = newest;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    td_send(fd, &req);
    return NULL;
}

/* A history of more than 500 rows is read a page per loop turn: it
 * answers exactly what pages of 400 rows say, with the op counts and
 * the cursor, in its place among pipelined requests. */
START_TEST(test_paged_history_equals_small_pages)
{
    enum { OPS = 2047 };
    static const uint32_t alloc[2] = { 1, 0 };
    Armmap__V1__Response *r, *big, *p;
    uint64_t m, after = 0;
    size_t i, at = 0;
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "lab");
    m = td_create(fd, "qemu-virt", NULL);
    r = td_batch(fd, 3, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2, OPS, true);
    ck_assert_status(r, 3, 0, "");
    td_free(r);
    history_q(fd, 4, m, 0, 0, false);           /* every row: paged */
    {
        Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
        Armmap__V1__Ping pi = ARMMAP__V1__PING__INIT;

        req.id = 5;
        req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
        req.ping = &pi;
        td_send(fd, &req);                      /* answered after it */
    }
    big = td_recv(fd);
    ck_assert_status(big, 4, 0, "");
    r = td_recv(fd);
    ck_assert_status(r, 5, 0, "");
    td_free(r);
    ck_assert_uint_eq(big->history->n_events, OPS);
    ck_assert_uint_eq(big->history->next_after_seq, 0);
    ck_assert_uint_eq(big->history->n_counts, 1);
    ck_assert_int_eq(big->history->counts[0]->op,
                     ARMMAP__V1__OP_CODE__OP_ALLOC);
    ck_assert_uint_eq(big->history->counts[0]->count, OPS);
    do {
        history_q(fd, 6, m, 400, after, false);
        p = td_recv(fd);
        ck_assert_status(p, 6, 0, "");
        for (i = 0; i < p->history->n_events; i++, at++) {
            const Armmap__V1__Event *x = big->history->events[at];
            const Armmap__V1__Event *y = p->history->events[i];

            ck_assert_uint_eq(x->seq, y->seq);
            ck_assert_uint_eq(x->seq, at + 1);
            ck_assert_int_eq(x->op, y->op);
            ck_assert_uint_eq(x->n_args, y->n_args);
            ck_assert_uint_eq(x->result->value, y->result->value);
        }
        after = p->history->next_after_seq;
        td_free(p);
    } while (after != 0);
    ck_assert_uint_eq(at, OPS);
    td_free(big);
    /* A limit of 1000, newest first: 1000 rows, then the cursor. */
    history_q(fd, 7, m, 1000, 0, true);
    r = td_recv(fd);
    ck_assert_status(r, 7, 0, "");
    ck_assert_uint_eq(r->history->n_events, 1000);
    ck_assert_uint_eq(r->history->events[0]->seq, OPS);
    ck_assert_uint_eq(r->history->events[999]->seq, OPS - 999);
    ck_assert_uint_eq(r->history->next_after_seq, OPS - 999);
    td_free(r);
    close(fd);
}
END_TEST

/* What a Stats answer to @fd says, in the order of the struct. */
struct stats_want {
    uint64_t machines, connections, requests, changes, commits;
};

/* Asks @fd for stats (request @id) and asserts @w. */
static void expect_stats(int fd, uint64_t id, struct stats_want w)
{
    Armmap__V1__Response *r = simple(fd, id, ARMMAP__V1__REQUEST__BODY_STATS);

    ck_assert_status(r, id, 0, "");
    ck_assert_uint_eq(r->stats->machines, w.machines);
    ck_assert_uint_eq(r->stats->connections, w.connections);
    ck_assert_uint_eq(r->stats->requests, w.requests);
    ck_assert_uint_eq(r->stats->changes, w.changes);
    ck_assert_uint_eq(r->stats->commits, w.commits);
    td_free(r);
}

START_TEST(test_stats_and_list_are_scoped_admin_sees_all)
{
    Armmap__V1__Response *r;
    int alice, bob, root;

    write_tenants(three, 3);
    td_start(&d, tenants_flag, NULL);
    alice = session_token("", "alice-token-1");
    bob = session_token("", "bob-token-2");
    root = session_token("", "root-token-3");
    td_create(alice, "qemu-virt", NULL);
    td_create(alice, "qemu-virt", NULL);
    /* bob's: his hello and this stats */
    expect_stats(bob, 2, (struct stats_want){ 0, 1, 2, 0, 0 });
    r = simple(bob, 3, ARMMAP__V1__REQUEST__BODY_LIST);
    ck_assert_status(r, 3, 0, "");
    ck_assert_uint_eq(r->machines->n_machines, 0);
    td_free(r);
    expect_stats(alice, 4, (struct stats_want){ 2, 1, 4, 2, 0 });
    expect_stats(root, 5, (struct stats_want){ 2, 3, 9, 2, 2 });
    close(alice);
    close(bob);
    close(root);
}
END_TEST

/* Without a tenants file stats and purge are the caller's tenant's as
 * well; the tenant --admin-tenant names sees and purges the daemon's.  A
 * tenants file marks its own admins: the flag is refused beside one. */
START_TEST(test_stats_scoped_without_a_tenants_file)
{
    Armmap__V1__Response *r;
    char out[1024];
    int alice, bob, ops;

    write_tenants(three, 3);
    ck_assert_int_eq(td_run(out, sizeof(out), tenants_flag,
                            "--admin-tenant=ops", "--check-config", NULL), 2);
    ck_assert_str_eq(out, "armmapd: --admin-tenant: with --tenants-file the "
                     "file marks admins ('admin' on a tenant's line)\n");
    td_start(&d, "--admin-tenant=ops", NULL);
    alice = td_session(&d, "alice");
    bob = td_session(&d, "bob");
    ops = td_session(&d, "ops");
    td_create(alice, "qemu-virt", NULL);
    td_create(alice, "qemu-virt", NULL);
    /* bob's: his hello and this stats */
    expect_stats(bob, 2, (struct stats_want){ 0, 1, 2, 0, 0 });
    expect_stats(alice, 3, (struct stats_want){ 2, 1, 4, 2, 0 });
    /* 3 hellos, 2 creates, 3 stats */
    expect_stats(ops, 4, (struct stats_want){ 2, 3, 8, 2, 2 });
    /* The admin's purge covers every tenant; bob's only his own. */
    destroy(alice, td_create(alice, "qemu-virt", NULL));
    spawn_sleep_ms(5);                        /* destroyed before "now" */
    r = purge_all(bob, 7);
    ck_assert_status(r, 7, 0, "");
    ck_assert_uint_eq(r->purge->machines, 0);
    td_free(r);
    r = purge_all(ops, 8);
    ck_assert_status(r, 8, 0, "");
    ck_assert_uint_eq(r->purge->machines, 1);
    td_free(r);
    close(alice);
    close(bob);
    close(ops);
}
END_TEST

START_TEST(test_admin_purges_every_tenant)
{
    Armmap__V1__Response *r;
    int alice, bob, root;

    write_tenants(three, 3);
    td_start(&d, tenants_flag, NULL);
    alice = session_token("", "alice-token-1");
    bob = session_token("", "bob-token-2");
    root = session_token("", "root-token-3");
    destroy(alice, td_create(alice, "qemu-virt", NULL));
    destroy(bob, td_create(bob, "qemu-virt", NULL));
    spawn_sleep_ms(5);                        /* destroyed before "now" */
    r = purge_all(root, 7);
    ck_assert_status(r, 7, 0, "");
    ck_assert_uint_eq(r->purge->machines, 2);
    td_free(r);
    close(alice);
    close(bob);
    close(root);
}
END_TEST

/* ---- parked kmaps ----------------------------------------------------- */

START_TEST(test_parked_kmaps_are_limited_per_tenant)
{
    enum { NPAGES = 516 };
    uint32_t pfns[NPAGES];
    Armmap__V1__Response *r;
    uint64_t m;
    int fd, i;

    td_start(&d, "--max-parked-kmaps=3", NULL);
    fd = td_session(&d, "t");
    m = td_create(fd, "qemu-virt", NULL);
    td_alloc_highmem(fd, m, pfns, NPAGES);
    r = td_batch(fd, 7, m, ARMMAP__V1__OP_CODE__OP_KMAP, pfns, 1, 512, true);
    ck_assert_status(r, 7, 0, "");
    td_free(r);
    for (i = 0; i < 3; i++)
        td_op_send(fd, 100 + (uint64_t)i, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0,
                   &pfns[512 + i], 1, 60000);
    r = td_op(fd, 200, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0, &pfns[515], 1,
              60000);
    ck_assert_status(r, 200, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "kmap: tenant 't' has 3 parked kmaps "
                     "(--max-parked-kmaps)");
    td_free(r);
    close(fd);
}
END_TEST

/* ---- host memory -------------------------------------------------------- */

static uint64_t host_bytes_of(int fd, uint64_t m)
{
    Armmap__V1__Response *r = describe(fd, 8, m);
    uint64_t n;

    ck_assert_status(r, 8, 0, "");
    n = r->machine->host_bytes;
    td_free(r);
    return n;
}

/* Large vmallocs on rpi2 cost the host megabytes (touched pages, page
 * tables): once the tenant's machines hold --max-host-bytes-per-tenant,
 * growing ops and creates are refused, frees still work. */
START_TEST(test_host_memory_quota_with_large_vmallocs)
{
    const uint32_t big[1] = { 16u << 20 }, small[1] = { 4096 };
    Armmap__V1__Response *r;
    uint64_t m, held;
    char want[256];
    uint32_t va;
    int fd;

    td_start(&d, "--max-host-bytes-per-tenant=128K", NULL);
    fd = td_session(&d, "lab");
    m = td_create(fd, "rpi2", NULL);
    ck_assert_uint_lt(host_bytes_of(fd, m), 128u << 10);
    va = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, big, 1);
    held = host_bytes_of(fd, m);
    ck_assert_uint_ge(held, 128u << 10);
    r = td_op(fd, 11, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, 0, small, 1, 0);
    snprintf(want, sizeof(want), "vmalloc: tenant 'lab' holds %llu host "
             "bytes (--max-host-bytes-per-tenant 131072)",
             (unsigned long long)held);
    ck_assert_status(r, 11, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED, want);
    td_free(r);
    r = simple(fd, 12, ARMMAP__V1__REQUEST__BODY_LIST);
    td_free(r);
    {
        Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
        Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;

        cr.preset = (char *)"rpi2";
        req.id = 13;
        req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
        req.create = &cr;
        r = td_call(fd, &req);
        snprintf(want, sizeof(want), "create: tenant 'lab' holds %llu host "
                 "bytes (--max-host-bytes-per-tenant 131072)",
                 (unsigned long long)held);
        ck_assert_status(r, 13, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED, want);
        td_free(r);
    }
    /* Another tenant is not held back by this one. */
    {
        int other = td_session(&d, "other");

        td_create(other, "rpi2", NULL);
        close(other);
    }
    /* Frees run; the page tables the vmalloc made stay (as the kernel
     * keeps them), so the tenant stays over until it destroys. */
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_VFREE, &va, 1);
    destroy(fd, m);
    m = td_create(fd, "rpi2", NULL);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, small, 1);
    close(fd);
}
END_TEST

/* A Batch is held to the quota op by op, as single ops are: once the
 * first 16 MiB vmalloc takes the tenant past 128K, the next three are
 * refused with the quota's name and change nothing. */
START_TEST(test_batch_of_large_vmallocs_held_to_host_quota)
{
    const uint32_t big[4] = { 16u << 20, 16u << 20, 16u << 20, 16u << 20 };
    Armmap__V1__Response *r;
    uint64_t m, held;
    char want[256];
    size_t i;
    int fd;

    td_start(&d, "--max-host-bytes-per-tenant=128K", NULL);
    fd = td_session(&d, "lab");
    m = td_create(fd, "rpi2", NULL);
    r = td_batch(fd, 9, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, big, 1, 4, false);
    ck_assert_status(r, 9, 0, "");
    ck_assert_uint_eq(r->batch->n_results, 4);
    ck_assert_int_eq(r->batch->results[0]->status->code, 0);
    held = host_bytes_of(fd, m);
    ck_assert_uint_ge(held, 128u << 10);
    snprintf(want, sizeof(want), "vmalloc: tenant 'lab' holds %llu host "
             "bytes (--max-host-bytes-per-tenant 131072)",
             (unsigned long long)held);
    for (i = 1; i < 4; i++) {
        ck_assert_int_eq(r->batch->results[i]->status->code,
                         ARMMAP__V1__CODE__RESOURCE_EXHAUSTED);
        ck_assert_str_eq(r->batch->results[i]->status->message, want);
        ck_assert_uint_eq(r->batch->results[i]->seq, 0);
    }
    td_free(r);
    r = describe(fd, 10, m);
    ck_assert_status(r, 10, 0, "");
    ck_assert_uint_eq(r->machine->seq, 1);       /* one change only */
    ck_assert_uint_eq(r->machine->vmalloc_pages, 4096 + 4); /* + its array */
    ck_assert_uint_eq(r->machine->host_bytes, held);
    td_free(r);
    close(fd);
}
END_TEST

static Armmap__V1__Response *clone_of(int fd, uint64_t id, uint64_t m)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone cl = ARMMAP__V1__CLONE__INIT;

    cl.machine = m;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    req.clone = &cl;
    return td_call(fd, &req);
}

static Armmap__V1__Response *fork_of(int fd, uint64_t id, uint64_t m,
                                     uint64_t at_seq)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;

    fk.machine = m;
    fk.at_seq = at_seq;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &fk;
    return td_call(fd, &req);
}

static size_t machines_listed(int fd)
{
    Armmap__V1__Response *r = simple(fd, 12, ARMMAP__V1__REQUEST__BODY_LIST);
    size_t n;

    ck_assert_status(r, 12, 0, "");
    n = r->machines->n_machines;
    td_free(r);
    return n;
}

/* Starts the daemon with the host quota 1.5 times what one rpi2 machine
 * holds, that machine already made (it is recovered): room for it, not
 * for a copy.  Returns the session; *@m and *@held what it holds. */
static int one_and_a_half(uint64_t *m, uint64_t *held, uint64_t *quota_out)
{
    static const uint32_t page[1] = { 4096 };
    char quota[64];
    uint64_t one;
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "lab");
    *m = td_create(fd, "rpi2", NULL);
    td_op_ok(fd, *m, ARMMAP__V1__OP_CODE__OP_VMALLOC, page, 1);
    td_op_ok(fd, *m, ARMMAP__V1__OP_CODE__OP_VMALLOC, page, 1);
    one = host_bytes_of(fd, *m);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    *quota_out = one + one / 2;
    snprintf(quota, sizeof(quota), "--max-host-bytes-per-tenant=%llu",
             (unsigned long long)*quota_out);
    td_start(&d, quota, NULL);
    fd = td_session(&d, "lab");
    *held = host_bytes_of(fd, *m);
    ck_assert_uint_lt(*held, one + one / 2);
    ck_assert_uint_gt(2 * *held, one + one / 2);
    return fd;
}

/* Asserts that @r is a refusal of @what by the host-bytes quota @quota
 * while tenant 'lab' holds @held, naming @more (0: not known to the test,
 * only the message's start is compared); frees @r. */
static void expect_host_refusal(Armmap__V1__Response *r, const char *what,
                                uint64_t held, uint64_t more, uint64_t quota)
{
    char want[256];
    int n;

    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED);
    n = snprintf(want, sizeof(want), "%s: tenant 'lab' holds %llu host bytes "
                 "and would need ", what, (unsigned long long)held);
    if (more != 0) {
        snprintf(want + n, sizeof(want) - (size_t)n, "%llu more "
                 "(--max-host-bytes-per-tenant %llu)",
                 (unsigned long long)more, (unsigned long long)quota);
        ck_assert_str_eq(r->status->message, want);
    } else {
        ck_assert_msg(strncmp(r->status->message, want, strlen(want)) == 0,
                      "got '%s'", r->status->message);
    }
    td_free(r);
}

/* A clone, a fork and a create are counted before they join the tenant:
 * one that would take it past the quota is refused with what it would
 * add, and no machine is made. */
START_TEST(test_clone_and_fork_counted_against_host_quota)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;
    uint64_t m, held, quota;
    int fd;

    fd = one_and_a_half(&m, &held, &quota);
    expect_host_refusal(clone_of(fd, 20, m), "clone", held, held, quota);
    /* At its last seq a fork is a clone; at seq 1 it is replayed. */
    expect_host_refusal(fork_of(fd, 21, m, 2), "fork", held, held, quota);
    expect_host_refusal(fork_of(fd, 22, m, 1), "fork", held, 0, quota);
    cr.preset = (char *)"rpi2";
    req.id = 23;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    expect_host_refusal(td_call(fd, &req), "create", held, 0, quota);
    ck_assert_uint_eq(machines_listed(fd), 1);
    ck_assert_uint_eq(host_bytes_of(fd, m), held);
    close(fd);
}
END_TEST

/* ---- replies counted before they are built ------------------------------ */

/* A Translate request of @n walks on @m, id @id. */
static void send_walks(int fd, uint64_t id, uint64_t m, const uint32_t *va,
                       size_t n)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;

    t.machine = m;
    t.n_va = n;
    t.va = (uint32_t *)va;
    t.walk = true;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    td_send(fd, &req);
}

/* Waits (bounded) until @fd has bytes to read: the stream began. */
static bool wait_readable(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    int i;

    for (i = 0; i < 600 * spawn_time_scale(); i++) {
        if (poll(&p, 1, 1000) > 0 && (p.revents & POLLIN))
            return true;
    }
    return false;
}

/* A streamed reply answers from a copy of the machine: the copy counts
 * against the quota before it is made (refused when it would not fit),
 * and for as long as the reply is being sent. */
START_TEST(test_streamed_copy_counted_against_host_quota)
{
    enum { N = 16384 };
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Phys ph = ARMMAP__V1__PHYS__INIT;
    uint32_t *va = calloc(N + 1, sizeof(uint32_t));
    uint64_t m, held, quota;
    int fd, i;

    ck_assert_ptr_nonnull(va);
    fd = one_and_a_half(&m, &held, &quota);
    for (i = 0; i < N; i++)
        va[i] = 0xc0000000u + (uint32_t)i * 64;
    send_walks(fd, 30, m, va, N);
    expect_host_refusal(td_recv(fd), "translate", held, held, quota);
    memset(va, 0, (N + 1) * sizeof(uint32_t));     /* pa 0, N + 1 times */
    ph.machine = m;
    ph.n_pa = N + 1;
    ph.pa = va;
    req.id = 31;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PHYS;
    req.phys = &ph;
    expect_host_refusal(td_call(fd, &req), "phys", held, held, quota);
    free(va);
    close(fd);
}
END_TEST

/* While a streamed reply is being sent its copy is reserved: a clone that
 * fits beside the machine does not fit beside the machine and the copy,
 * and fits again once the reader went away.  The reply is 2^18 walks
 * (about 42 MB) in check-full, run_len()'s share in make check (26,215
 * under the sanitizers, 4 MB; 104,858 plain): either stays unsent far
 * past the socket's buffer and the stream's low water (256 KiB). */
START_TEST(test_streamed_copy_held_while_sending)
{
    const size_t n = run_len(1u << 18);
    Armmap__V1__Response *r = NULL;
    uint32_t *va = malloc(n * sizeof(uint32_t));
    uint64_t m, one, q;
    char quota[64];
    int fd, reader, i;

    ck_assert_ptr_nonnull(va);
    td_start(&d, NULL);
    fd = td_session(&d, "lab");
    m = td_create(fd, "qemu-virt", NULL);
    one = host_bytes_of(fd, m);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    q = 2 * one + one / 2;
    snprintf(quota, sizeof(quota), "--max-host-bytes-per-tenant=%llu",
             (unsigned long long)q);
    td_start(&d, quota, NULL);
    fd = td_session(&d, "lab");
    one = host_bytes_of(fd, m);
    reader = td_session(&d, "lab");
    for (i = 0; i < (int)n; i++)
        va[i] = 0xc0000000u + (uint32_t)i * 64;
    send_walks(reader, 40, m, va, n);
    ck_assert(wait_readable(reader));   /* its copy is reserved */
    expect_host_refusal(clone_of(fd, 41, m), "clone", 2 * one, one, q);
    close(reader);
    for (i = 0; i < 200 * spawn_time_scale(); i++) {
        r = clone_of(fd, 42, m);
        if (r->status == NULL || r->status->code == 0)
            break;
        td_free(r);
        r = NULL;
        spawn_sleep_ms(10);
    }
    ck_assert_ptr_nonnull(r);
    ck_assert_status(r, 42, 0, "");
    td_free(r);
    free(va);
    close(fd);
}
END_TEST

/* A streamed reply says what the machine was when the request came, even
 * if a change comes while it is being sent (the stream reads the machine
 * live until then, and a copy from then on): 16,384 walks of a vmalloc'd
 * area, vfree'd on another connection mid-stream, all show it mapped;
 * asked again, they fault. */
START_TEST(test_streamed_reply_unchanged_by_a_change_meanwhile)
{
    enum { N = 16384, PAGES = 16 };
    const uint32_t size[1] = { PAGES * 4096 };
    uint32_t *va = malloc(N * sizeof(uint32_t)), pa[PAGES], after[PAGES];
    uint8_t fault[PAGES];
    Armmap__V1__Response *r;
    uint32_t area;
    uint64_t m;
    int fd, reader, i;

    ck_assert_ptr_nonnull(va);
    td_start(&d, NULL);
    fd = td_session(&d, "lab");
    reader = td_session(&d, "lab");
    m = td_create(fd, "qemu-virt", NULL);
    area = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_VMALLOC, size, 1);
    for (i = 0; i < N; i++)
        va[i] = area + (uint32_t)(i % PAGES) * 4096 + 0x10;
    td_translate(fd, m, va, PAGES, pa, fault);
    for (i = 0; i < PAGES; i++)
        ck_assert_uint_eq(fault[i], 0);
    send_walks(reader, 50, m, va, N);
    ck_assert(wait_readable(reader));   /* being sent, not read */
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_VFREE, &area, 1);
    r = td_recv(reader);
    ck_assert_status(r, 50, 0, "");
    ck_assert_uint_eq(r->translate->n_pa, N);
    ck_assert_uint_eq(r->translate->n_walks, N);
    for (i = 0; i < N; i++) {
        ck_assert_uint_eq(r->translate->fault[i], 0);
        ck_assert_uint_eq(r->translate->pa[i], pa[i % PAGES]);
    }
    td_free(r);
    td_translate(fd, m, va, PAGES, after, fault);
    for (i = 0; i < PAGES; i++)
        ck_assert_uint_ne(fault[i], 0);
    free(va);
    close(reader);
    close(fd);
}
END_TEST

/* The size of test_walk_reply_streamed_to_a_peer_that_never_reads: at
 * full length (check-full, or no $ARMMAP_RANDOM_OPS) a million walks a
 * connection against the default --max-inflight-bytes-per-tenant; in make
 * check (a shorter $ARMMAP_RANDOM_OPS) an eighth of that against an eighth
 * of the quota, and an eighth of the RSS allowance: the daemon walks every
 * address twice (its sizing pass and its writing pass), 2 x 2 million
 * walks, 8 CPU s of the sanitized tenancy suite's 30. */
struct walk_run {
    size_t n;               /* walks a connection asks for */
    const char *quota;      /* --max-inflight-bytes-per-tenant */
    const char *refusal;    /* the refused ping's message */
    long rss_kib;           /* the daemon's RSS may grow less than this */
};

static struct walk_run walk_run_size(void)
{
    static const struct walk_run full = {
        1u << 20, "--max-inflight-bytes-per-tenant=256M",
        "ping: tenant 'walker' has 268435456 or more reply bytes unsent "
        "(--max-inflight-bytes-per-tenant)", 64 * 1024
    };
    static const struct walk_run eighth = {
        1u << 17, "--max-inflight-bytes-per-tenant=32M",
        "ping: tenant 'walker' has 33554432 or more reply bytes unsent "
        "(--max-inflight-bytes-per-tenant)", 8 * 1024
    };
    return run_len_short() ? eighth : full;
}

/* Two connections each ask for a million walks (about 160 MB of reply)
 * and never read: each reply is streamed as its socket drains, so the
 * daemon holds a slice of each, not the replies, and another tenant's
 * connection is served meanwhile.  The replies count, whole, against
 * their tenant's unsent bytes before they are built: 2 x 167 MB is over
 * --max-inflight-bytes-per-tenant (256M), so that tenant waits.  (In
 * make check, an eighth of each: walk_run_size().) */
START_TEST(test_walk_reply_streamed_to_a_peer_that_never_reads)
{
    enum { NCONNS = 2 };
    const struct walk_run run = walk_run_size();
    Armmap__V1__Response *r;
    uint32_t *va = malloc(run.n * sizeof(uint32_t));
    int fds[NCONNS], fd, walker, i;
    long before, after;
    uint64_t m;
    size_t k;

    ck_assert_ptr_nonnull(va);
    td_start(&d, run.quota, NULL);
    fd = td_session(&d, "other");
    walker = td_session(&d, "walker");
    m = td_create(walker, "qemu-virt", NULL);
    for (k = 0; k < run.n; k++)
        va[k] = 0xc0000000u + (uint32_t)k * 64;
    for (i = 0; i < NCONNS; i++)
        fds[i] = td_session(&d, "walker");
    before = td_rss_kib(&d);
    for (i = 0; i < NCONNS; i++)
        send_walks(fds[i], 21, m, va, run.n);
    r = ping(fd, 22);                   /* served while they are counted */
    ck_assert_status(r, 22, 0, "");
    td_free(r);
    for (i = 0; i < NCONNS; i++)
        ck_assert_msg(wait_readable(fds[i]), "no reply began on conn %d", i);
    r = ping(fd, 23);                   /* and while they wait for readers */
    ck_assert_status(r, 23, 0, "");
    td_free(r);
    r = ping(walker, 25);
    ck_assert_status(r, 25, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED, run.refusal);
    td_free(r);
    after = td_rss_kib(&d);
    ck_assert_msg(after - before < run.rss_kib, "RSS grew from %ld to %ld KiB",
                  before, after);
    for (i = 0; i < NCONNS; i++)
        close(fds[i]);
    r = ping(fd, 24);
    ck_assert_status(r, 24, 0, "");
    td_free(r);
    free(va);
    close(walker);
    close(fd);
}
END_TEST

/* A streamed reply (16,384 walks, 2.6 MB) arrives whole and in its place
 * among pipelined requests, and says exactly what replies built whole say
 * (translates of 2,048 walks, 330 KB each, are not streamed). */
START_TEST(test_streamed_reply_complete_and_in_order)
{
    enum { N = 16384, CHUNK = 2048 };
    Armmap__V1__Response *r, *whole;
    uint32_t *va = malloc(N * sizeof(uint32_t));
    uint8_t *a = malloc(4096), *b = malloc(4096);
    const Armmap__V1__TranslateResult *s;
    int fd, i, k;
    uint64_t m;

    ck_assert(va != NULL && a != NULL && b != NULL);
    td_start(&d, NULL);
    fd = td_session(&d, "walker");
    m = td_create(fd, "qemu-virt", NULL);
    for (i = 0; i < N; i++) {           /* lowmem, user (faults), vectors */
        if (i % 4 == 3)
            va[i] = (uint32_t)i * 0x1000;
        else if (i % 97 == 5)
            va[i] = 0xffff0000u + (uint32_t)(i % 4096);
        else
            va[i] = 0xc0000000u + (uint32_t)i * 0x1000 + 0x10;
    }
    send_walks(fd, 41, m, va, N);
    {
        Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
        Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;

        req.id = 42;
        req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
        req.ping = &p;
        td_send(fd, &req);
    }
    for (k = 0; k < N / CHUNK; k++)
        send_walks(fd, 50 + (uint64_t)k, m, va + k * CHUNK, CHUNK);
    r = td_recv(fd);
    ck_assert_status(r, 41, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_TRANSLATE);
    s = r->translate;
    ck_assert_uint_eq(s->n_pa, N);
    ck_assert_uint_eq(s->n_fault, N);
    ck_assert_uint_eq(s->n_region, N);
    ck_assert_uint_eq(s->n_walks, N);
    ck_assert_uint_eq(s->pa[0], 0x40000010);        /* 0xc0000010 */
    ck_assert_uint_eq(s->fault[0], 0);
    ck_assert_uint_eq(s->region[0], ARMMAP__V1__REGION__REGION_LOWMEM);
    ck_assert_str_eq(s->walks[0]->steps[0]->kind, "section");
    ck_assert_uint_eq(s->walks[0]->steps[0]->addr, 0x40007000);
    ck_assert_uint_eq(s->walks[0]->steps[0]->desc, 0x4000040e);
    ck_assert_uint_ne(s->fault[3], 0);         /* user: unmapped */
    {
        Armmap__V1__Response *p = td_recv(fd);

        ck_assert_status(p, 42, 0, "");
        td_free(p);
    }
    for (k = 0; k < N / CHUNK; k++) {
        const Armmap__V1__TranslateResult *w;

        whole = td_recv(fd);
        ck_assert_status(whole, 50 + (uint64_t)k, 0, "");
        w = whole->translate;
        ck_assert_uint_eq(w->n_walks, CHUNK);
        for (i = 0; i < CHUNK; i++) {
            size_t j = (size_t)k * CHUNK + (size_t)i, la, lb;

            ck_assert_uint_eq(s->pa[j], w->pa[i]);
            ck_assert_uint_eq(s->fault[j], w->fault[i]);
            ck_assert_uint_eq(s->region[j], w->region[i]);
            la = armmap__v1__walk__get_packed_size(s->walks[j]);
            lb = armmap__v1__walk__get_packed_size(w->walks[i]);
            ck_assert_uint_eq(la, lb);
            ck_assert_uint_le(la, 4096);
            armmap__v1__walk__pack(s->walks[j], a);
            armmap__v1__walk__pack(w->walks[i], b);
            ck_assert_msg(memcmp(a, b, la) == 0, "walk %zu differs", j);
        }
        td_free(whole);
    }
    td_free(r);
    free(va);
    free(a);
    free(b);
    close(fd);
}
END_TEST

static void send_phys(int fd, uint64_t id, uint64_t m, const uint32_t *pa,
                      size_t n)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Phys ph = ARMMAP__V1__PHYS__INIT;

    ph.machine = m;
    ph.n_pa = n;
    ph.pa = (uint32_t *)pa;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PHYS;
    req.phys = &ph;
    td_send(fd, &req);
}

/* A Phys of 20,480 addresses is streamed; it says exactly what Phys
 * replies of 4,096 addresses (built whole) say, and its neighbours'
 * replies keep their places. */
START_TEST(test_streamed_phys_equals_whole_replies)
{
    enum { N = 20480, CHUNK = 4096 };
    Armmap__V1__Response *r, *whole;
    uint32_t *pa = malloc(N * sizeof(uint32_t));
    const Armmap__V1__PhysResult *s;
    int fd, i, k;
    uint64_t m;

    ck_assert_ptr_nonnull(pa);
    td_start(&d, NULL);
    fd = td_session(&d, "phys");
    m = td_create(fd, "qemu-virt", NULL);
    for (i = 0; i < N; i++)             /* RAM, and past it every 5th */
        pa[i] = i % 5 == 4 ? 0x10000000u + (uint32_t)i
                           : 0x40000010u + (uint32_t)i * 0x1000;
    send_phys(fd, 61, m, pa, N);
    for (k = 0; k < N / CHUNK; k++)
        send_phys(fd, 70 + (uint64_t)k, m, pa + k * CHUNK, CHUNK);
    r = td_recv(fd);
    ck_assert_status(r, 61, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_PHYS);
    s = r->phys;
    ck_assert_uint_eq(s->n_aliases, N);
    ck_assert_uint_ge(s->aliases[0]->n_va, 1);
    ck_assert_uint_eq(s->aliases[0]->va[0], 0xc0000010);
    ck_assert_int_eq(s->aliases[0]->region[0],
                     ARMMAP__V1__REGION__REGION_LOWMEM);
    ck_assert_uint_eq(s->aliases[4]->n_va, 0);
    for (k = 0; k < N / CHUNK; k++) {
        const Armmap__V1__PhysResult *w;

        whole = td_recv(fd);
        ck_assert_status(whole, 70 + (uint64_t)k, 0, "");
        w = whole->phys;
        ck_assert_uint_eq(w->n_aliases, CHUNK);
        for (i = 0; i < CHUNK; i++) {
            const Armmap__V1__PhysResult__Aliases *x =
                s->aliases[k * CHUNK + i], *y = w->aliases[i];
            size_t j;

            ck_assert_uint_eq(x->n_va, y->n_va);
            ck_assert_uint_eq(x->n_region, y->n_region);
            for (j = 0; j < x->n_va; j++) {
                ck_assert_uint_eq(x->va[j], y->va[j]);
                ck_assert_int_eq(x->region[j], y->region[j]);
            }
        }
        td_free(whole);
    }
    td_free(r);
    free(pa);
    close(fd);
}
END_TEST

static Armmap__V1__Response *ping(int fd, uint64_t id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;

    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &p;
    return td_call(fd, &req);
}

/* The op counts of a history of 200,704 events are counted a slice per
 * loop turn: a ping sent on another connection just after the history
 * request is answered while the history's reply is still being made. */
START_TEST(test_history_op_counts_counted_between_other_requests)
{
    enum { BATCHES = 49, OPS = 4096 };
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;
    Armmap__V1__Response *r;
    struct pollfd pf;
    uint64_t m;
    int fd, other, i;

    td_start(&d, NULL);
    fd = td_session(&d, "hist");
    other = td_session(&d, "other");
    m = td_create(fd, "qemu-virt", NULL);
    for (i = 0; i < BATCHES; i++)
        td_send_flush_batch(fd, 100 + (uint64_t)i, m, OPS);
    for (i = 0; i < BATCHES; i++) {
        r = td_recv(fd);
        ck_assert_status(r, 100 + (uint64_t)i, 0, "");
        td_free(r);
    }
    h.machine = m;
    h.limit = 10;
    req.id = 7;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    td_send(fd, &req);
    req.id = 8;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &p;
    td_send(other, &req);
    r = td_recv(other);
    ck_assert_status(r, 8, 0, "");
    td_free(r);
    pf.fd = fd;
    pf.events = POLLIN;
    pf.revents = 0;
    ck_assert_int_eq(poll(&pf, 1, 0), 0);   /* still counting */
    r = td_recv(fd);
    ck_assert_status(r, 7, 0, "");
    ck_assert_uint_eq(r->history->n_events, 10);
    ck_assert_uint_eq(r->history->events[9]->seq, 10);
    ck_assert_uint_eq(r->history->n_counts, 1);
    ck_assert_int_eq(r->history->counts[0]->op,
                     ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH);
    ck_assert_uint_eq(r->history->counts[0]->count, BATCHES * OPS);
    ck_assert_uint_eq(r->history->next_after_seq, 10);
    td_free(r);
    close(other);
    close(fd);
}
END_TEST

static void flush_batches(int fd, uint64_t m, int n)
{
    Armmap__V1__Response *r;
    int i;

    for (i = 0; i < n; i++)
        td_send_flush_batch(fd, 200 + (uint64_t)i, m, 4096);
    for (i = 0; i < n; i++) {
        r = td_recv(fd);
        ck_assert_status(r, 200 + (uint64_t)i, 0, "");
        td_free(r);
    }
}

/* A history by op, asked on @fd for @m: @limit rows after @after. */
static Armmap__V1__Response *kmaps_of(int fd, uint64_t m, uint32_t limit,
                                      uint64_t after, bool newest)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;

    h.machine = m;
    h.op = ARMMAP__V1__OP_CODE__OP_KMAP;
    h.limit = limit;
    h.after_seq = after;
    h.newest_first = newest;
    req.id = 30;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    return td_call(fd, &req);
}

static void expect_kmaps(Armmap__V1__Response *r, size_t n,
                         const uint64_t *seq, uint64_t next)
{
    size_t i;

    ck_assert_status(r, 30, 0, "");
    ck_assert_uint_eq(r->history->n_events, n);
    for (i = 0; i < n; i++)
        ck_assert_uint_eq(r->history->events[i]->seq, seq[i]);
    ck_assert_uint_eq(r->history->next_after_seq, next);
    td_free(r);
}

/* A query by op whose two matches are 12,290 events apart (the daemon
 * reads such queries a window of 2,000 seqs per loop turn) answers exactly as
 * one scan would: rows, next_after_seq, op counts. */
START_TEST(test_filtered_history_across_windows)
{
    static const uint64_t both[2] = { 2, 12292 }, last[1] = { 12292 },
                          first[1] = { 2 };
    Armmap__V1__Response *r;
    uint32_t pfn;
    uint64_t m;
    int fd;

    td_start(&d, NULL);
    fd = td_session(&d, "hist");
    m = td_create(fd, "qemu-virt", NULL);
    td_alloc_highmem(fd, m, &pfn, 1);                           /* 1 */
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);     /* 2 */
    flush_batches(fd, m, 3);                            /* 3..12290 */
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, &pfn, 1);   /* 12291 */
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);     /* 12292 */
    flush_batches(fd, m, 1);                            /* ..16388 */
    expect_kmaps(kmaps_of(fd, m, 1, 0, false), 1, first, 2);
    expect_kmaps(kmaps_of(fd, m, 1, 2, false), 1, last, 0);
    expect_kmaps(kmaps_of(fd, m, 2, 0, false), 2, both, 0);
    expect_kmaps(kmaps_of(fd, m, 1, 0, true), 1, last, 12292);
    expect_kmaps(kmaps_of(fd, m, 1, 12292, true), 1, first, 0);
    expect_kmaps(kmaps_of(fd, m, 1, 2, true), 0, NULL, 0);
    r = kmaps_of(fd, m, 10, 0, false);
    ck_assert_status(r, 30, 0, "");
    ck_assert_uint_eq(r->history->n_counts, 4);
    ck_assert_int_eq(r->history->counts[0]->op, ARMMAP__V1__OP_CODE__OP_ALLOC);
    ck_assert_uint_eq(r->history->counts[0]->count, 1);
    ck_assert_int_eq(r->history->counts[1]->op, ARMMAP__V1__OP_CODE__OP_KMAP);
    ck_assert_uint_eq(r->history->counts[1]->count, 2);
    ck_assert_int_eq(r->history->counts[2]->op,
                     ARMMAP__V1__OP_CODE__OP_KUNMAP);
    ck_assert_uint_eq(r->history->counts[2]->count, 1);
    ck_assert_int_eq(r->history->counts[3]->op,
                     ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH);
    ck_assert_uint_eq(r->history->counts[3]->count, 4 * 4096);
    td_free(r);
    close(fd);
}
END_TEST

/* A tenant's connections that do not read hold at most about
 * --max-inflight-bytes-per-tenant of replies between them: past it, the
 * tenant's requests on any connection are refused, another tenant's are
 * served, and once the replies are read the tenant is served again. */
START_TEST(test_inflight_reply_bytes_limited_per_tenant)
{
    enum { N = 65536, SENDS = 16 };
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    Armmap__V1__Response *r;
    uint32_t *va = malloc(N * sizeof(uint32_t));
    int hog, b, other, i, refused = 0;
    uint64_t m;

    ck_assert_ptr_nonnull(va);
    td_start(&d, "--max-inflight-bytes-per-tenant=1M", NULL);
    hog = td_session(&d, "t");
    b = td_session(&d, "t");
    other = td_session(&d, "u");
    m = td_create(hog, "qemu-virt", NULL);
    for (i = 0; i < N; i++)
        va[i] = 0xc0000000u + (uint32_t)i * 4096;
    t.machine = m;
    t.n_va = N;
    t.va = va;
    req.id = 30;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    for (i = 0; i < SENDS; i++)         /* ~390 KB of reply each, unread */
        td_send(hog, &req);
    for (i = 0; i < 500 * spawn_time_scale() && !refused; i++) {
        r = ping(b, 31);
        ck_assert_uint_eq(r->id, 31);
        if (r->status->code == ARMMAP__V1__CODE__RESOURCE_EXHAUSTED) {
            ck_assert_str_eq(r->status->message, "ping: tenant 't' has "
                             "1048576 or more reply bytes unsent "
                             "(--max-inflight-bytes-per-tenant)");
            refused = 1;
        } else {
            ck_assert_int_eq(r->status->code, 0);
            spawn_sleep_ms(10);
        }
        td_free(r);
    }
    ck_assert(refused);
    r = ping(other, 32);
    ck_assert_status(r, 32, 0, "");
    td_free(r);
    for (i = 0; i < SENDS; i++) {
        r = td_recv(hog);
        ck_assert_uint_eq(r->id, 30);
        td_free(r);
    }
    r = ping(b, 33);
    ck_assert_status(r, 33, 0, "");
    td_free(r);
    free(va);
    close(hog);
    close(b);
    close(other);
}
END_TEST

/* The same quota from the tenants file, for one tenant only. */
START_TEST(test_inflight_quota_from_the_tenants_file)
{
    static const char *const lines[] = {
        "alice alice-token-1 max-inflight-bytes-per-tenant=1M",
        "bob bob-token-2",
    };
    enum { N = 65536, SENDS = 16 };
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    Armmap__V1__Response *r;
    uint32_t *va = malloc(N * sizeof(uint32_t));
    int hog, b, other, i, refused = 0;
    uint64_t m;

    ck_assert_ptr_nonnull(va);
    write_tenants(lines, 2);
    td_start(&d, tenants_flag, NULL);
    hog = session_token("", "alice-token-1");
    b = session_token("", "alice-token-1");
    other = session_token("", "bob-token-2");
    m = td_create(hog, "qemu-virt", NULL);
    for (i = 0; i < N; i++)
        va[i] = 0xc0000000u + (uint32_t)i * 4096;
    t.machine = m;
    t.n_va = N;
    t.va = va;
    req.id = 30;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    for (i = 0; i < SENDS; i++)
        td_send(hog, &req);
    for (i = 0; i < 500 * spawn_time_scale() && !refused; i++) {
        r = ping(b, 31);
        if (r->status->code == ARMMAP__V1__CODE__RESOURCE_EXHAUSTED) {
            ck_assert_str_eq(r->status->message, "ping: tenant 'alice' has "
                             "1048576 or more reply bytes unsent "
                             "(max-inflight-bytes-per-tenant in "
                             "--tenants-file)");
            refused = 1;
        } else {
            ck_assert_int_eq(r->status->code, 0);
            spawn_sleep_ms(10);
        }
        td_free(r);
    }
    ck_assert(refused);
    r = ping(other, 32);                /* bob has the default, 256M */
    ck_assert_status(r, 32, 0, "");
    td_free(r);
    free(va);
    close(hog);
    close(b);
    close(other);
}
END_TEST

/* ---- lifecycle -------------------------------------------------------- */

START_TEST(test_idle_machines_are_reaped_history_kept)
{
    static const uint32_t alloc[2] = { 1, 0 };   /* Normal, order 0 */
    Armmap__V1__Response *r;
    uint64_t m;
    size_t left = 1;
    int fd, i;

    td_start(&d, "--machine-idle-ttl=1", NULL);
    fd = td_session(&d, "lab");
    m = td_create(fd, "qemu-virt", NULL);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    for (i = 0; i < 100 * spawn_time_scale() && left > 0; i++) {
        spawn_sleep_ms(100);
        r = simple(fd, 2, ARMMAP__V1__REQUEST__BODY_LIST);
        ck_assert_status(r, 2, 0, "");
        left = r->machines->n_machines;
        td_free(r);
    }
    ck_assert_uint_eq(left, 0);
    r = describe(fd, 3, m);
    ck_assert_status(r, 3, ARMMAP__V1__CODE__NOT_FOUND,
                     "describe: machine 1 does not exist");
    td_free(r);
    r = history(fd, 4, m);
    ck_assert_status(r, 4, 0, "");
    ck_assert_uint_eq(r->history->n_events, 1);
    td_free(r);
    ck_assert_ptr_nonnull(strstr(td_log(&d), "machine 1 of tenant 'lab': "
                                 "untouched for 1 s (--machine-idle-ttl); "
                                 "destroyed"));
    close(fd);
}
END_TEST

/* The tenants file's machine-idle-ttl overrides the setting: alice's
 * machine is reaped, bob's (the default, never) stays, though both were
 * created at the same time and the reaper looks at both in each pass. */
START_TEST(test_idle_ttl_per_tenant_override)
{
    static const char *const lines[] = {
        "alice alice-token-1 machine-idle-ttl=1", "bob bob-token-2",
    };
    Armmap__V1__Response *r;
    uint64_t ma, mb;
    size_t left = 1;
    int alice, bob, i;

    write_tenants(lines, 2);
    td_start(&d, tenants_flag, NULL);
    alice = session_token("", "alice-token-1");
    bob = session_token("", "bob-token-2");
    ma = td_create(alice, "qemu-virt", NULL);
    mb = td_create(bob, "qemu-virt", NULL);
    for (i = 0; i < 100 * spawn_time_scale() && left > 0; i++) {
        spawn_sleep_ms(100);
        r = simple(alice, 2, ARMMAP__V1__REQUEST__BODY_LIST);
        left = r->machines->n_machines;
        td_free(r);
    }
    ck_assert_uint_eq(left, 0);
    spawn_sleep_ms(1200);                     /* one more reaper pass */
    r = describe(bob, 3, mb);
    ck_assert_status(r, 3, 0, "");
    td_free(r);
    ck_assert_uint_ne(ma, mb);
    close(alice);
    close(bob);
}
END_TEST

/* With a tenants file machine ids are opaque: not 1, 2, 3 (which would
 * count everyone's machines), the same after a restart, and a guessed
 * neighbour of one's own id is nobody's. */
START_TEST(test_machine_ids_are_opaque_with_a_tenants_file)
{
    Armmap__V1__Response *r;
    uint64_t a1, b1, a2;
    char want[128];
    int alice, bob;

    write_tenants(three, 3);
    td_start(&d, tenants_flag, NULL);
    alice = session_token("", "alice-token-1");
    bob = session_token("", "bob-token-2");
    a1 = td_create(alice, "qemu-virt", NULL);
    b1 = td_create(bob, "qemu-virt", NULL);
    a2 = td_create(alice, "qemu-virt", NULL);
    ck_assert_uint_gt(a1, 1000);
    ck_assert_uint_gt(b1, 1000);
    ck_assert_uint_gt(a2, 1000);
    ck_assert_uint_ne(a2, a1 + 1);
    ck_assert_uint_ne(a2, a1 + 2);
    ck_assert_uint_lt(a1, 1ull << 48);
    r = describe(alice, 2, a1 + 1);
    snprintf(want, sizeof(want), "describe: machine %llu does not exist",
             (unsigned long long)(a1 + 1));
    ck_assert_status(r, 2, ARMMAP__V1__CODE__NOT_FOUND, want);
    td_free(r);
    r = describe(alice, 3, b1);         /* bob's */
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    td_free(r);
    close(alice);
    close(bob);
    ck_assert_int_eq(td_stop(&d), 0);
    td_start(&d, tenants_flag, NULL);
    alice = session_token("", "alice-token-1");
    r = describe(alice, 4, a2);
    ck_assert_status(r, 4, 0, "");
    ck_assert_uint_eq(r->machine->id, a2);
    td_free(r);
    r = simple(alice, 5, ARMMAP__V1__REQUEST__BODY_LIST);
    ck_assert_status(r, 5, 0, "");
    ck_assert_uint_eq(r->machines->n_machines, 2);
    td_free(r);
    close(alice);
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

#define ID_RUN_FULL 100000u           /* ids in a run, at full length */

/* Ids in the permutation run: ID_RUN_FULL, or in proportion to
 * $ARMMAP_RANDOM_OPS of 25,000 (the engine's randomized runs' length,
 * which make check sets lower: 10,000 ids under the sanitizers, where
 * each costs 8 SHA-256 blocks at -O1, 40,000 plain; check-full runs
 * 100,000).  At least 1,000. */
static size_t id_run_len(void)
{
    size_t n = run_len(ID_RUN_FULL);

    return n > 1000 ? n : 1000;
}

/* The id permutation in-process: every id comes back, no two collide in
 * a run of id_run_len() (100,000 in check-full), and without a key ids
 * are the store's. */
START_TEST(test_id_permutation_round_trips)
{
    static uint64_t seen[ID_RUN_FULL];
    struct srv_registry *r = srv_registry_create();
    size_t n = id_run_len();
    uint8_t key[32];
    uint64_t id;
    size_t i, j;

    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(srv_id_out(r, 7), 7);
    ck_assert_uint_eq(srv_id_in(r, 7), 7);
    for (i = 0; i < 32; i++)
        key[i] = (uint8_t)(i * 37 + 1);
    srv_registry_set_id_key(r, key);
    for (id = 1; id <= n; id++) {
        uint64_t ext = srv_id_out(r, id);

        ck_loop_assert_uint_lt(ext, 1ull << 48);
        ck_loop_assert_uint_eq(srv_id_in(r, ext), id);
        seen[id - 1] = ext;
    }
    qsort(seen, n, sizeof(seen[0]), cmp_u64);
    for (j = 1; j < n; j++)
        ck_loop_assert_uint_ne(seen[j], seen[j - 1]);
    ck_assert_uint_eq(srv_id_in(r, 1ull << 48), 0);
    srv_registry_destroy(r);
}
END_TEST

Suite *tenancy_suite(void)
{
    Suite *s = suite_create("tenancy");
    TCase *tc = tcase_create("tenancy");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sha256_known_vectors);
    tcase_add_test(tc, test_tenants_file_decides_the_tenant);
    tcase_add_test(tc, test_tenants_file_reloaded_on_sighup);
    tcase_add_test(tc, test_reload_revokes_connections_of_changed_tokens);
    tcase_add_test(tc, test_tenants_file_errors_name_the_line);
    tcase_add_test(tc, test_machines_quota_from_the_tenants_file);
    tcase_add_test(tc, test_purge_is_scoped_to_the_tenant);
    tcase_add_test(tc, test_stats_and_list_are_scoped_admin_sees_all);
    tcase_add_test(tc, test_admin_purges_every_tenant);
    tcase_add_test(tc, test_stats_scoped_without_a_tenants_file);
    tcase_add_test(tc, test_parked_kmaps_are_limited_per_tenant);
    tcase_add_test(tc, test_idle_machines_are_reaped_history_kept);
    tcase_add_test(tc, test_idle_ttl_per_tenant_override);
    tcase_add_test(tc, test_machine_ids_are_opaque_with_a_tenants_file);
    tcase_add_test(tc, test_id_permutation_round_trips);
    tcase_add_test(tc, test_host_memory_quota_with_large_vmallocs);
    tcase_add_test(tc, test_batch_of_large_vmallocs_held_to_host_quota);
    tcase_add_test(tc, test_clone_and_fork_counted_against_host_quota);
    tcase_add_test(tc, test_streamed_copy_counted_against_host_quota);
    tcase_add_test(tc, test_streamed_copy_held_while_sending);
    tcase_add_test(tc, test_streamed_reply_unchanged_by_a_change_meanwhile);
    tcase_add_test(tc, test_walk_reply_streamed_to_a_peer_that_never_reads);
    tcase_add_test(tc, test_streamed_reply_complete_and_in_order);
    tcase_add_test(tc, test_streamed_phys_equals_whole_replies);
    tcase_add_test(tc, test_stored_events_quota_per_tenant);
    tcase_add_test(tc, test_stored_events_quota_from_the_tenants_file);
    tcase_add_test(tc, test_async_purge_answers_in_order);
    tcase_add_test(tc, test_paged_history_equals_small_pages);
    tcase_add_test(tc, test_history_op_counts_counted_between_other_requests);
    tcase_add_test(tc, test_filtered_history_across_windows);
    tcase_add_test(tc, test_inflight_reply_bytes_limited_per_tenant);
    tcase_add_test(tc, test_inflight_quota_from_the_tenants_file);
    suite_add_tcase(s, tc);
    return s;
}
