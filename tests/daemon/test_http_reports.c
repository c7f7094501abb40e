/* tests/daemon/test_http_reports.c - structured reports over HTTP and the
 * socket: the real armmapd with --http on 127.0.0.1, machines set up over
 * its protobuf socket, reports fetched with libevent's HTTP client.
 *
 * GET .../reports/NAME answers the engine's JSON (with the kernel's text
 * beside it as "text") unless Accept asks for text/plain only; the Report
 * request's format field picks text, JSON or both on the socket.
 */
#include "check_daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

static struct tdaemon d;
static int http_port;

/* Starts armmapd with --http on a port the kernel just handed out. */
static void start_http(void)
{
    http_port = td_start_http(&d);
}

static void stop_http(void)
{
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    td_cleanup(&d);
}

struct answer {
    struct event_base *base;            /* left when the answer is in */
    int status;                         /* 0: no answer (connection failed) */
    char ctype[64];
    char *body;                         /* NUL-terminated, malloc'd */
};

static void on_answer(struct evhttp_request *req, void *arg)
{
    struct answer *a = arg;
    struct evbuffer *in;
    const char *ct;
    size_t n;

    event_base_loopbreak(a->base);      /* the connection may stay open */
    if (req == NULL || evhttp_request_get_response_code(req) == 0)
        return;
    a->status = evhttp_request_get_response_code(req);
    ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    snprintf(a->ctype, sizeof(a->ctype), "%s", ct != NULL ? ct : "");
    in = evhttp_request_get_input_buffer(req);
    n = evbuffer_get_length(in);
    a->body = malloc(n + 1);
    ck_assert_ptr_nonnull(a->body);
    evbuffer_remove(in, a->body, n);
    a->body[n] = '\0';
}

/* GET @path with header Accept: @accept (none if NULL), through libevent's
 * client; retried while the listener is not up yet (bounded). */
static struct answer get(const char *path, const char *accept)
{
    struct answer a;

    for (int tries = 0; tries < 200 * spawn_time_scale(); tries++) {
        struct event_base *base = event_base_new();
        struct evhttp_connection *conn;
        struct evhttp_request *req;
        struct evkeyvalq *h;

        memset(&a, 0, sizeof(a));
        ck_assert_ptr_nonnull(base);
        a.base = base;
        conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", (uint16_t)http_port);
        ck_assert_ptr_nonnull(conn);
        evhttp_connection_set_timeout(conn, 10 * spawn_time_scale());
        req = evhttp_request_new(on_answer, &a);
        h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Host", "127.0.0.1");
        if (accept != NULL)
            evhttp_add_header(h, "Accept", accept);
        ck_assert_int_eq(evhttp_make_request(conn, req, EVHTTP_REQ_GET, path), 0);
        event_base_dispatch(base);
        evhttp_connection_free(conn);
        event_base_free(base);
        if (a.status != 0)
            return a;
        usleep(5000);
    }
    ck_abort_msg("no HTTP answer for %s", path);
    return a;
}

static json_t *parse(const struct answer *a)
{
    json_error_t err;
    json_t *o = json_loads(a->body, 0, &err);

    ck_assert_msg(o != NULL, "%s: %s", err.text, a->body);
    return o;
}

/* The text of report @kind over the socket, as armmap report prints it. */
static char *socket_report(int fd, uint64_t m, int kind, int format, char **json)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Report rp = ARMMAP__V1__REPORT__INIT;
    Armmap__V1__Response *r;
    char *text;

    req.id = 40;
    rp.machine = m;
    rp.kind = kind;
    rp.format = format;
    req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    req.report = &rp;
    r = td_call(fd, &req);
    ck_assert_status(r, 40, ARMMAP__V1__CODE__OK, "");
    text = strdup(r->report->text);
    *json = strdup(r->report->json);
    ck_assert(text != NULL && *json != NULL);
    td_free(r);
    return text;
}

/* aries with one highmem page kmapped twice: machine 1. */
static uint64_t aries_with_kmaps(int fd)
{
    uint64_t m = td_create(fd, "aries", NULL);
    uint32_t pfn;

    td_alloc_highmem(fd, m, &pfn, 1);
    ck_assert_uint_eq(pfn, 0xff2fe);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);
    return m;
}

START_TEST(test_report_json_by_default_text_on_request)
{
    static const char *const pkmap_text =
        "pkmap: 0xbfe00000-0xc0000000, 512 slots, last_pkmap_nr 1, 1 in use, "
        "0 unused (awaiting flush), 0 flushes\n"
        "slot  address     count  users  pfn\n"
        "   1  0xbfe01000      3      2  0xff2fe\n";
    static const char *const accepts[] = {
        NULL, "application/json", "*/*", "text/plain, application/json",
    };
    struct answer a;
    json_t *o, *slot;
    int fd;

    start_http();
    fd = td_session(&d, "default");
    ck_assert_uint_eq(aries_with_kmaps(fd), 1);
    for (size_t i = 0; i < sizeof(accepts) / sizeof(accepts[0]); i++) {
        a = get("/api/v1/machines/1/reports/pkmap", accepts[i]);
        ck_assert_int_eq(a.status, 200);
        ck_assert_str_eq(a.ctype, "application/json");
        o = parse(&a);
        ck_assert_str_eq(json_string_value(json_object_get(o, "report")), "pkmap");
        ck_assert_str_eq(json_string_value(json_object_get(o, "seq")), "3");
        ck_assert_int_eq(json_integer_value(json_object_get(o, "in_use")), 1);
        ck_assert_int_eq(json_integer_value(json_object_get(o, "free")), 511);
        slot = json_array_get(json_object_get(o, "slots"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(slot, "address")),
                         "0xbfe01000");
        ck_assert_str_eq(json_string_value(json_object_get(slot, "pfn")), "0xff2fe");
        ck_assert_int_eq(json_integer_value(json_object_get(slot, "users")), 2);
        ck_assert_str_eq(json_string_value(json_object_get(o, "text")), pkmap_text);
        json_decref(o);
        free(a.body);
    }
    a = get("/api/v1/machines/1/reports/pkmap", "text/plain");
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(a.ctype, "text/plain; charset=utf-8");
    ck_assert_str_eq(a.body, pkmap_text);
    free(a.body);
    close(fd);
    stop_http();
}
END_TEST

/* Every report of an aries and of a 6.1 machine: JSON that names itself,
 * the text the socket gives beside it; the 6.1 layout is a 404 either way. */
START_TEST(test_every_report_over_http)
{
    static const char *const names[] = {
        "layout", "memory", "iomem", "buddyinfo", "meminfo", "vmallocinfo",
        "pkmap", "fixmap", "pagetables", "regions",
    };
    char path[128];
    int fd;

    start_http();
    fd = td_session(&d, "default");
    ck_assert_uint_eq(aries_with_kmaps(fd), 1);
    ck_assert_uint_eq(td_create(fd, "qemu-virt", "kernel=6.1", NULL), 2);
    for (uint64_t m = 1; m <= 2; m++) {
        for (int k = 0; k < 10; k++) {
            struct answer a;
            char *text, *json;
            json_t *o;

            snprintf(path, sizeof(path), "/api/v1/machines/%llu/reports/%s",
                     (unsigned long long)m, names[k]);
            a = get(path, NULL);
            o = parse(&a);
            if (m == 2 && k == 0) {
                ck_assert_int_eq(a.status, 404);
                ck_assert_str_eq(json_string_value(json_object_get(o, "code")),
                                 "NOT_FOUND");
                ck_assert_str_eq(json_string_value(json_object_get(o, "message")),
                                 "layout: Linux 6.1.0 does not print the virtual "
                                 "kernel memory layout (mem_init() stopped printing "
                                 "it in 5.1)\n");
                json_decref(o);
                free(a.body);
                a = get(path, "text/plain");
                ck_assert_int_eq(a.status, 404);
                free(a.body);
                continue;
            }
            ck_assert_int_eq(a.status, 200);
            ck_assert_str_eq(json_string_value(json_object_get(o, "report")), names[k]);
            ck_assert_str_eq(json_string_value(json_object_get(o, "kernel")),
                             m == 1 ? "3.4.0" : "6.1.0");
            text = socket_report(fd, m, k, ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT,
                                 &json);
            ck_assert_str_eq(json_string_value(json_object_get(o, "text")), text);
            ck_assert_str_eq(json, "");
            free(text);
            free(json);
            json_decref(o);
            free(a.body);
        }
    }
    close(fd);
    stop_http();
}
END_TEST

/* On the socket: JSON alone, both, and a format that does not exist. */
START_TEST(test_report_format_on_the_socket)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Report rp = ARMMAP__V1__REPORT__INIT;
    Armmap__V1__Response *r;
    char *text, *json;
    int fd;

    td_init(&d);
    td_start(&d, NULL);
    fd = td_session(&d, "default");
    ck_assert_uint_eq(aries_with_kmaps(fd), 1);
    text = socket_report(fd, 1, ARMMAP__V1__REPORT_KIND__REPORT_MEMINFO,
                         ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_JSON, &json);
    ck_assert_str_eq(text, "");
    ck_assert_str_eq(json, "{\"report\":\"meminfo\",\"kernel\":\"3.4.0\",\"seq\":\"3\","
                           "\"fields\":{\"MemTotal\":2006560,\"MemFree\":2006556,"
                           "\"HighTotal\":1303548,\"HighFree\":1303544,"
                           "\"LowTotal\":703012,\"LowFree\":703012,"
                           "\"VmallocTotal\":245760,\"VmallocUsed\":0}}");
    free(text);
    free(json);
    text = socket_report(fd, 1, ARMMAP__V1__REPORT_KIND__REPORT_MEMINFO,
                         ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT_AND_JSON, &json);
    ck_assert(strncmp(text, "MemTotal:        2006560 kB\n", 28) == 0);
    ck_assert(strncmp(json, "{\"report\":\"meminfo\",", 20) == 0);
    free(text);
    free(json);
    req.id = 41;
    rp.machine = 1;
    rp.kind = ARMMAP__V1__REPORT_KIND__REPORT_PKMAP_TABLE;
    rp.format = 7;
    req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    req.report = &rp;
    r = td_call(fd, &req);
    ck_assert_status(r, 41, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "report: unknown format 7");
    td_free(r);
    close(fd);
    stop_http();
}
END_TEST

Suite *http_reports_suite(void)
{
    Suite *s = suite_create("http_reports");
    TCase *tc = tcase_create("http_reports");

    tcase_add_test(tc, test_report_json_by_default_text_on_request);
    tcase_add_test(tc, test_every_report_over_http);
    tcase_add_test(tc, test_report_format_on_the_socket);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
