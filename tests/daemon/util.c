/* tests/daemon/util.c - speak raw frames to the real armmapd.
 *
 * tests/common/daemon.c starts and stops it; every wait here is
 * stretched by spawn_time_scale() (tests/common/spawn.c).
 */
#include "check_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int td_connect(const struct tdaemon *d)
{
    struct timeval tv = { 10 * spawn_time_scale(), 0 };
    int fd = td_unix_connect(d->sock);

    ck_assert_msg(fd >= 0, "connect %s: %s", d->sock, strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

void td_write(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

void td_send(int fd, const Armmap__V1__Request *req)
{
    size_t n = armmap__v1__request__get_packed_size(req);
    uint8_t *buf = malloc(4 + n);

    ck_assert_ptr_nonnull(buf);
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    armmap__v1__request__pack(req, buf + 4);
    td_write(fd, buf, 4 + n);
    free(buf);
}

/* Reads exactly @len bytes; false on EOF before the first byte. */
static bool read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);

        if (n == 0 && got == 0)
            return false;
        ck_assert_msg(n > 0, "recv: %s after %zu of %zu bytes",
                      n == 0 ? "EOF" : strerror(errno), got, len);
        got += (size_t)n;
    }
    return true;
}

Armmap__V1__Response *td_recv(int fd)
{
    uint8_t hdr[4], *body;
    Armmap__V1__Response *r;
    uint32_t n;

    if (!read_full(fd, hdr, 4))
        return NULL;
    n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
        (uint32_t)hdr[2] << 8 | hdr[3];
    ck_assert_uint_le(n, 256u << 20);
    body = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(body);
    if (n > 0)
        ck_assert(read_full(fd, body, n));
    r = armmap__v1__response__unpack(NULL, n, body);
    free(body);
    ck_assert_msg(r != NULL, "a response did not decode");
    return r;
}

void td_free(Armmap__V1__Response *r)
{
    if (r != NULL)
        armmap__v1__response__free_unpacked(r, NULL);
}

void td_ping(int fd, uint64_t id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping p = ARMMAP__V1__PING__INIT;
    Armmap__V1__Response *r;

    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &p;
    r = td_call(fd, &req);
    ck_assert_status(r, id, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_PONG);
    td_free(r);
}

Armmap__V1__Response *td_call(int fd, const Armmap__V1__Request *req)
{
    td_send(fd, req);
    return td_recv(fd);
}

Armmap__V1__Response *td_describe_rebuilt(int fd, uint64_t id,
                                          uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;
    int i;

    ref.machine = machine;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    r = td_call(fd, &req);
    for (i = 0; i < 6000 * spawn_time_scale() && r != NULL &&
                r->status->code == ARMMAP__V1__CODE__UNAVAILABLE; i++) {
        struct timespec ms = { 0, 5000000 };

        td_free(r);
        nanosleep(&ms, NULL);
        r = td_call(fd, &req);
    }
    return r;
}

bool td_closed(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    char buf[256];
    int i;

    for (i = 0; i < 50 * spawn_time_scale(); i++) {
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

int td_session(const struct tdaemon *d, const char *tenant)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello hello = ARMMAP__V1__HELLO__INIT;
    Armmap__V1__Response *r;
    int fd = td_connect(d);

    hello.protocol = 1;
    hello.tenant = (char *)tenant;
    req.id = 1;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &hello;
    r = td_call(fd, &req);
    ck_assert_status(r, 1, 0, "");
    td_free(r);
    return fd;
}

uint64_t td_create(int fd, const char *preset, ...)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Setting kv[16], *kvp[16];
    char text[16][128];
    Armmap__V1__Response *r;
    const char *a;
    uint64_t id;
    va_list ap;
    size_t n = 0;

    cr.preset = (char *)(preset != NULL ? preset : "");
    va_start(ap, preset);
    while ((a = va_arg(ap, const char *)) != NULL && n < 16) {
        char *eq;

        snprintf(text[n], sizeof(text[n]), "%s", a);
        eq = strchr(text[n], '=');
        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        armmap__v1__setting__init(&kv[n]);
        kv[n].key = text[n];
        kv[n].value = eq + 1;
        kvp[n] = &kv[n];
        n++;
    }
    va_end(ap);
    cr.n_settings = n;
    cr.settings = kvp;
    req.id = 77;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    r = td_call(fd, &req);
    ck_assert_status(r, 77, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_MACHINE);
    id = r->machine->id;
    td_free(r);
    return id;
}

void td_op_send(int fd, uint64_t id, uint64_t machine, int code,
                uint32_t cpu, const uint32_t *args, size_t nargs,
                uint32_t wait_ms)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op op = ARMMAP__V1__OP__INIT;

    op.machine = machine;
    op.code = (Armmap__V1__OpCode)code;
    op.cpu = cpu;
    op.n_args = nargs;
    op.args = (uint32_t *)args;
    op.wait_ms = wait_ms;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &op;
    td_send(fd, &req);
}

Armmap__V1__Response *td_op(int fd, uint64_t id, uint64_t machine, int code,
                            uint32_t cpu, const uint32_t *args, size_t nargs,
                            uint32_t wait_ms)
{
    td_op_send(fd, id, machine, code, cpu, args, nargs, wait_ms);
    return td_recv(fd);
}

uint32_t td_op_ok(int fd, uint64_t machine, int code, const uint32_t *args,
                  size_t nargs)
{
    Armmap__V1__Response *r = td_op(fd, 5, machine, code, 0, args, nargs, 0);
    uint32_t v;

    ck_assert_status(r, 5, 0, "");
    ck_assert_int_eq(r->body_case, ARMMAP__V1__RESPONSE__BODY_OP);
    v = r->op->value;
    td_free(r);
    return v;
}

Armmap__V1__Response *td_batch(int fd, uint64_t id, uint64_t machine,
                               int code, const uint32_t *args, size_t nargs,
                               size_t n, bool stop)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    Armmap__V1__Op *ops = calloc(n, sizeof(*ops)),
                   **opp = calloc(n, sizeof(*opp));
    Armmap__V1__Response *r;
    size_t i;

    ck_assert(ops != NULL && opp != NULL);
    for (i = 0; i < n; i++) {
        armmap__v1__op__init(&ops[i]);
        ops[i].code = (Armmap__V1__OpCode)code;
        ops[i].n_args = nargs;
        ops[i].args = (uint32_t *)(nargs == 1 ? &args[i] : args);
        opp[i] = &ops[i];
    }
    b.machine = machine;
    b.n_ops = n;
    b.ops = opp;
    b.stop_on_error = stop;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    r = td_call(fd, &req);
    free(ops);
    free(opp);
    return r;
}

void td_alloc_highmem(int fd, uint64_t machine, uint32_t *pfns, size_t n)
{
    static const uint32_t alloc[2] = { 2, 0 };  /* zone HighMem, order 0 */
    Armmap__V1__Response *r;
    size_t i;

    r = td_batch(fd, 7, machine, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2, n,
                 true);
    ck_assert_status(r, 7, 0, "");
    ck_assert_uint_eq(r->batch->n_results, n);
    for (i = 0; i < n; i++)
        pfns[i] = r->batch->results[i]->value;
    td_free(r);
}

void td_translate(int fd, uint64_t machine, const uint32_t *va, size_t n,
                  uint32_t *pa, uint8_t *fault)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    Armmap__V1__Response *r;

    t.machine = machine;
    t.n_va = n;
    t.va = (uint32_t *)va;
    req.id = 9;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    r = td_call(fd, &req);
    ck_assert_status(r, 9, 0, "");
    ck_assert_uint_eq(r->translate->n_pa, n);
    ck_assert_uint_eq(r->translate->n_fault, n);
    memcpy(pa, r->translate->pa, n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++)
        fault[i] = (uint8_t)r->translate->fault[i];
    td_free(r);
}

long td_rss_kib(const struct tdaemon *d)
{
    long kib = proc_rss_kib(d->pid);

    ck_assert_int_gt(kib, 0);
    return kib;
}

int td_fd_count(const struct tdaemon *d)
{
    int n = proc_fd_count(d->pid);

    ck_assert_int_ge(n, 0);
    return n;
}

void td_send_flush_batch(int fd, uint64_t id, uint64_t machine, size_t n)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    Armmap__V1__Op *ops = calloc(n, sizeof(*ops));
    Armmap__V1__Op **opp = calloc(n, sizeof(*opp));
    size_t i;

    ck_assert(ops != NULL && opp != NULL);
    for (i = 0; i < n; i++) {
        armmap__v1__op__init(&ops[i]);
        ops[i].code = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
        opp[i] = &ops[i];
    }
    b.machine = machine;
    b.n_ops = n;
    b.ops = opp;
    req.id = id;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    td_send(fd, &req);
    free(ops);
    free(opp);
}

int td_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

int td_start_http(struct tdaemon *d)
{
    int port = td_free_port();
    char flag[64];

    td_init(d);
    snprintf(flag, sizeof(flag), "--http=127.0.0.1:%d", port);
    td_start(d, flag, NULL);
    return port;
}
