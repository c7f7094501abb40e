/* tests/daemon/test_parked_describe.c - a machine's parked kmaps, as
 * describing it shows them over the socket and over HTTP.
 *
 * KERNEL: mm/highmem.c map_new_virtual() sleeps on pkmap_map_wait when no
 * slot is free; kunmap_high() wakes the waiters.  The daemon parks such a
 * kmap (Op.wait_ms); Machine.parked_kmaps and Machine.parked list them,
 * oldest first, so a page can show kmaps that other clients parked.  The
 * real armmapd runs with --http on 127.0.0.1; HTTP is spoken over a raw
 * socket with "Connection: close".
 */
#include "check_daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <jansson.h>

#define NPAGES 514                      /* 512 slots and two that wait */

static struct tdaemon d;
static int http_port;

/* One HTTP/1.1 GET of @path with Connection: close; returns the body as
 * JSON after asserting status 200.  Retries while the listener is not up
 * (bounded); every read has a timeout. */
static json_t *http_get_json(const char *path)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 10};
    char req[256], buf[65536], *body;
    size_t used = 0;
    ssize_t n;
    json_error_t err;
    json_t *o;
    int fd = -1, tries;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)http_port);
    for (tries = 0; tries < 200 * spawn_time_scale(); tries++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(fd, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        close(fd);
        fd = -1;
        usleep(5000);
    }
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n", path);
    td_write(fd, req, strlen(req));
    while (used < sizeof(buf) - 1 &&
           (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
        used += (size_t)n;
    close(fd);
    buf[used] = '\0';
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s", buf);
    body = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    o = json_loads(body + 4, 0, &err);
    ck_assert_msg(o != NULL, "%s: %s", err.text, body + 4);
    return o;
}

/* Describes machine @m over @fd; the caller frees the Response. */
static Armmap__V1__Response *describe(int fd, uint64_t m)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Response *r;

    req.id = 30;
    ref.machine = m;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    r = td_call(fd, &req);
    ck_assert_status(r, 30, 0, "");
    return r;
}

/* Checks that describing machine 1 over the socket (@fd) and over HTTP
 * shows exactly the @n parked kmaps @pfn/@cpu, oldest first. */
static void expect_parked(int fd, size_t n, const uint32_t *pfn,
                          const uint32_t *cpu)
{
    Armmap__V1__Response *r = describe(fd, 1);
    json_t *o = http_get_json("/api/v1/machines/1"), *list, *e;
    char hex[16];

    ck_assert_uint_eq(r->machine->parked_kmaps, n);
    ck_assert_uint_eq(r->machine->n_parked, n);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "parked_kmaps")),
                     (json_int_t)n);
    list = json_object_get(o, "parked");
    ck_assert_uint_eq(json_array_size(list), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(r->machine->parked[i]->pfn, pfn[i]);
        ck_assert_uint_eq(r->machine->parked[i]->cpu, cpu[i]);
        e = json_array_get(list, i);
        snprintf(hex, sizeof(hex), "0x%x", pfn[i]);
        ck_assert_str_eq(json_string_value(json_object_get(e, "pfn")), hex);
        ck_assert_int_eq(json_integer_value(json_object_get(e, "cpu")),
                         (json_int_t)cpu[i]);
    }
    json_decref(o);
    td_free(r);
}

START_TEST(test_describe_shows_parked_kmaps)
{
    static uint32_t pfns[NPAGES];
    static const uint32_t waiting[] = {0x7fe00, 0x7fe01}, cpus[] = {0, 1};
    Armmap__V1__Response *r;
    uint64_t m;
    int fd, a, b;

    http_port = td_start_http(&d);
    fd = td_session(&d, "default");
    a = td_session(&d, "default");
    b = td_session(&d, "default");
    m = td_create(fd, "qemu-virt", "cpus=2", NULL);
    ck_assert_uint_eq(m, 1);
    td_alloc_highmem(fd, m, pfns, NPAGES);
    r = td_batch(fd, 8, m, ARMMAP__V1__OP_CODE__OP_KMAP, pfns, 1, 512, true);
    ck_assert_status(r, 8, 0, "");
    ck_assert_uint_eq(r->batch->n_results, 512);
    td_free(r);
    ck_assert_uint_eq(pfns[512], 0x7fe00);
    ck_assert_uint_eq(pfns[513], 0x7fe01);
    expect_parked(fd, 0, NULL, NULL);
    /* Two other clients park a kmap each on the full window; a ping sent
     * behind each is answered once its kmap is parked. */
    td_op_send(a, 11, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0, &pfns[512], 1,
               10000);
    td_ping(a, 12);
    td_op_send(b, 13, m, ARMMAP__V1__OP_CODE__OP_KMAP, 1, &pfns[513], 1,
               10000);
    td_ping(b, 14);
    expect_parked(fd, 2, waiting, cpus);
    /* A kunmap wakes the oldest: it gets the slot, one still waits. */
    r = td_op(fd, 15, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &pfns[5], 1, 0);
    ck_assert_status(r, 15, 0, "");
    td_free(r);
    r = td_recv(a);
    ck_assert_status(r, 11, 0, "");
    td_free(r);
    expect_parked(fd, 1, waiting + 1, cpus + 1);
    close(a);
    close(b);
    close(fd);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    td_cleanup(&d);
}
END_TEST

Suite *parked_describe_suite(void)
{
    Suite *s = suite_create("parked_describe");
    TCase *tc = tcase_create("parked_describe");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_describe_shows_parked_kmaps);
    suite_add_tcase(s, tc);
    return s;
}
