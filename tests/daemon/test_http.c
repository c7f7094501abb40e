/* tests/daemon/test_http.c - the HTTP/JSON API (--http): the real armmapd
 * on 127.0.0.1 and a free port, real HTTP/1.1 over loopback from a raw
 * socket, replies parsed with jansson.
 *
 * Every endpoint built so far, every status code's HTTP mapping that a
 * request can provoke, credentials (bearer token, tenants file), two
 * tenants kept apart, and the body size limit.
 */
#include "check_daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "srv.h"
#include "armmap.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD true
#else
#define ASAN_BUILD false
#endif

static struct tdaemon d;
static int port;
static char http_flag[64];

/* Starts armmapd with --http on a free port and the extra flags (at most
 * two, NULL-ended). */
static void start(const char *a, const char *b)
{
    td_init(&d);
    port = td_free_port();
    snprintf(http_flag, sizeof(http_flag), "--http=127.0.0.1:%d", port);
    td_start(&d, http_flag, a, b, NULL);
}

static void stop(void)
{
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    td_cleanup(&d);
}

struct reply {
    int status;
    char headers[2048];
    char *body;                         /* NUL-terminated */
    json_t *json;                       /* the body parsed, if JSON */
};

static void reply_free(struct reply *r)
{
    free(r->body);
    json_decref(r->json);
}

static int connect_http(void)
{
    struct sockaddr_in sa;
    struct timeval tv = { 10 * spawn_time_scale(), 0 };
    int fd = -1, i;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    /* The HTTP socket is bound just after the Unix one td_start waits for. */
    for (i = 0; i < 500 * spawn_time_scale(); i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(fd, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        ck_assert_int_eq(errno, ECONNREFUSED);
        close(fd);
        fd = -1;
        usleep(2000);
    }
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* One request with "Connection: close"; @extra is more header lines
 * ("Name: value\r\n"...) or NULL; @body NULL sends none. */
static struct reply http(const char *method, const char *path,
                         const char *extra, const char *body)
{
    struct reply r;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap), head[4096], *sep;
    int fd = connect_http();
    ssize_t n;

    memset(&r, 0, sizeof(r));
    ck_assert_ptr_nonnull(buf);
    snprintf(head, sizeof(head),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
             "%sContent-Length: %zu\r\n\r\n", method, path,
             extra ? extra : "", body ? strlen(body) : 0);
    td_write(fd, head, strlen(head));
    if (body != NULL)
        td_write(fd, body, strlen(body));
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    ck_assert_msg(n == 0, "read: %s", strerror(errno));
    close(fd);
    buf[len] = '\0';
    ck_assert_int_eq(sscanf(buf, "HTTP/1.1 %d", &r.status), 1);
    sep = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(sep);
    snprintf(r.headers, sizeof(r.headers), "%.*s", (int)(sep - buf), buf);
    r.body = strdup(sep + 4);
    ck_assert_ptr_nonnull(r.body);
    free(buf);
    if (strstr(r.headers, "Content-Type: application/json") != NULL) {
        r.json = json_loads(r.body, 0, NULL);
        ck_assert_msg(r.json != NULL, "not JSON: %s", r.body);
    }
    return r;
}

static const char *jstr(json_t *o, const char *path)
{
    json_t *v = json_object_get(o, path);

    ck_assert_msg(json_is_string(v), "no string '%s'", path);
    return json_string_value(v);
}

/* Asserts an error reply: HTTP status, code name and message. */
static void ck_error(struct reply *r, int status, const char *code,
                     const char *msg)
{
    ck_assert_msg(r->status == status, "status %d, body %s", r->status,
                  r->body);
    ck_assert_ptr_nonnull(r->json);
    ck_assert_str_eq(jstr(r->json, "code"), code);
    ck_assert_str_eq(jstr(r->json, "message"), msg);
    reply_free(r);
}

static void ck_http_error(const char *method, const char *path,
                          const char *extra, const char *body, int status,
                          const char *code, const char *msg)
{
    struct reply r = http(method, path, extra, body);

    ck_error(&r, status, code, msg);
}

/* POSTs one op and returns its "value" (asserting 200 and OK). */
static char *op_value(const char *machine_path, const char *body)
{
    char path[128];
    struct reply r;
    char *v;

    snprintf(path, sizeof(path), "%s/ops", machine_path);
    r = http("POST", path, NULL, body);
    ck_assert_msg(r.status == 200, "%s -> %d %s", body, r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "code"), "OK");
    v = strdup(jstr(r.json, "value"));
    reply_free(&r);
    return v;
}

static void create_aries(const char *extra, const char *want_id)
{
    struct reply r = http("POST", "/api/v1/machines", extra,
                          "{\"preset\":\"aries\",\"name\":\"mi2\"}");

    ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "id"), want_id);
    ck_assert_str_eq(jstr(r.json, "name"), "mi2");
    reply_free(&r);
}

/* Allocates 513 highmem pages on machine 1 and kmaps the first 512 (all
 * of the pkmap window); the 513th pfn goes into @spare (0x... text). */
static void fill_pkmap(char *first, char *spare, size_t size)
{
    static char body[65536];
    struct reply r;
    json_t *res;
    char *p;
    size_t i;

    p = body + sprintf(body, "{\"ops\":[");
    for (i = 0; i < 513; i++)
        p += sprintf(p, "%s{\"op\":\"alloc\",\"zone\":\"highmem\"}",
                     i ? "," : "");
    sprintf(p, "]}");
    r = http("POST", "/api/v1/machines/1/ops", NULL, body);
    ck_assert_int_eq(r.status, 200);
    res = json_object_get(r.json, "results");
    ck_assert_uint_eq(json_array_size(res), 513);
    p = body + sprintf(body, "{\"ops\":[");
    for (i = 0; i < 512; i++)
        p += sprintf(p, "%s{\"op\":\"kmap\",\"pfn\":\"%s\"}", i ? "," : "",
                     jstr(json_array_get(res, i), "value"));
    sprintf(p, "]}");
    snprintf(first, size, "%s", jstr(json_array_get(res, 0), "value"));
    snprintf(spare, size, "%s", jstr(json_array_get(res, 512), "value"));
    reply_free(&r);
    r = http("POST", "/api/v1/machines/1/ops", NULL, body);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "results"),
                                         511), "code"), "OK");
    reply_free(&r);
}

/* The whole mapping, in process: codes no request produces today
 * (ALREADY_EXISTS, FAULT, INTERNAL) included. */
START_TEST(test_status_mapping)
{
    static const int want[MM_STATUS_COUNT] = {
        [MM_OK] = 200, [MM_INVALID_ARGUMENT] = 400, [MM_NOT_FOUND] = 404,
        [MM_ALREADY_EXISTS] = 409, [MM_NO_MEMORY] = 422,
        [MM_WOULD_BLOCK] = 409, [MM_FAULT] = 422, [MM_ORDER] = 409,
        [MM_PERMISSION_DENIED] = 403, [MM_UNAUTHENTICATED] = 401,
        [MM_RESOURCE_EXHAUSTED] = 429, [MM_UNAVAILABLE] = 503,
        [MM_INTERNAL] = 500, [MM_MOVED] = 307,
    };
    char *body;
    int i;

    for (i = 0; i < MM_STATUS_COUNT; i++)
        ck_assert_int_eq(srv_http_status(i), want[i]);
    body = srv_http_error_json(MM_FAULT, "say \"why\"");
    ck_assert_str_eq(body, "{\"code\":\"FAULT\","
                           "\"message\":\"say \\\"why\\\"\"}\n");
    free(body);
}
END_TEST

/* ---- resources -------------------------------------------------------- */

START_TEST(test_presets_and_machines)
{
    struct reply r;
    json_t *a;

    start(NULL, NULL);
    r = http("GET", "/api/v1/presets", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    a = json_object_get(r.json, "presets");
    ck_assert_uint_eq(json_array_size(a), 4);
    ck_assert_str_eq(jstr(json_array_get(a, 0), "name"), "aries");
    ck_assert_str_eq(jstr(json_array_get(a, 3), "name"), "rpi2");
    reply_free(&r);

    r = http("POST", "/api/v1/machines", NULL,
             "{\"preset\":\"qemu-virt\",\"name\":\"lab\",\"kernel\":\"6.1\"}");
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(jstr(r.json, "id"), "1");
    ck_assert_str_eq(jstr(r.json, "name"), "lab");
    ck_assert_str_eq(jstr(r.json, "tenant"), "default");
    ck_assert_str_eq(jstr(r.json, "seq"), "0");
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "config"), "kernel=6.1"));
    reply_free(&r);
    create_aries(NULL, "2");

    r = http("GET", "/api/v1/machines", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    a = json_object_get(r.json, "machines");
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(jstr(json_array_get(a, 1), "name"), "mi2");
    reply_free(&r);

    r = http("GET", "/api/v1/machines/2", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    a = json_object_get(r.json, "zones");
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(jstr(json_array_get(a, 1), "name"), "HighMem");
    ck_assert_str_eq(jstr(json_array_get(a, 1), "end_pfn"), "0xff2ff");
    reply_free(&r);

    r = http("DELETE", "/api/v1/machines/1", NULL, NULL);
    ck_assert_int_eq(r.status, 204);
    ck_assert_str_eq(r.body, "");
    reply_free(&r);
    ck_http_error("GET", "/api/v1/machines/1", NULL, NULL, 404, "NOT_FOUND",
                  "describe: machine 1 does not exist");
    ck_http_error("DELETE", "/api/v1/machines/1", NULL, NULL, 404,
                  "NOT_FOUND", "destroy: machine 1 does not exist");
    stop();
}
END_TEST

START_TEST(test_ops_batch_translate_history)
{
    struct reply r;
    json_t *res, *walk;
    char *v;

    start(NULL, NULL);
    create_aries(NULL, "1");
    v = op_value("/api/v1/machines/1", "{\"op\":\"alloc\",\"zone\":"
                 "\"highmem\"}");
    ck_assert_str_eq(v, "0xff2fe");
    free(v);
    v = op_value("/api/v1/machines/1", "{\"op\":\"kmap\",\"pfn\":"
                 "\"0xff2fe\"}");
    ck_assert_str_eq(v, "0xbfe01000");
    free(v);

    /* A batch: one result per op, a failure in place. */
    r = http("POST", "/api/v1/machines/1/ops", NULL,
             "{\"ops\":[{\"op\":\"alloc\",\"zone\":2},"
             "{\"op\":\"kmap\",\"pfn\":1045245},"
             "{\"op\":\"kunmap\",\"pfn\":\"0xff2fc\"}]}");
    ck_assert_int_eq(r.status, 200);
    res = json_object_get(r.json, "results");
    ck_assert_uint_eq(json_array_size(res), 3);
    ck_assert_str_eq(jstr(json_array_get(res, 0), "value"), "0xff2fc");
    ck_assert_str_eq(jstr(json_array_get(res, 0), "seq"), "3");
    ck_assert_str_eq(jstr(json_array_get(res, 1), "op"), "kmap");
    ck_assert_str_eq(jstr(json_array_get(res, 1), "value"), "0xbfe02000");
    ck_assert_str_eq(jstr(json_array_get(res, 2), "code"), "NOT_FOUND");
    ck_assert_str_eq(jstr(json_array_get(res, 2), "message"),
                     "kunmap: pfn 0xff2fc is not mapped by kmap");
    reply_free(&r);

    /* Sizes as the settings write them. */
    r = http("POST", "/api/v1/machines/1/ops", NULL,
             "{\"op\":\"vmalloc\",\"size\":\"8K\"}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "value"), "0xf0000000");
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "aux")), 2);
    reply_free(&r);
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"op\":\"vmalloc\",\"size\":\"8Q\"}", 400,
                  "INVALID_ARGUMENT", "op: field 'size' must be a size below "
                  "4G (4096, \"0x1000\", \"8K\", \"1M\")");

    /* module_enable_ro by its field names; aries (3.4) has no
     * STRICT_MODULE_RWX: OK, 0 read-only pages. */
    v = op_value("/api/v1/machines/1", "{\"op\":\"module_alloc\",\"size\":\"8K\"}");
    ck_assert_str_eq(v, "0xbf000000");
    free(v);
    v = op_value("/api/v1/machines/1", "{\"op\":\"module_enable_ro\",\"va\":"
                 "\"0xbf000000\",\"text_size\":4096,\"ro_size\":\"0x2000\"}");
    ck_assert_str_eq(v, "0x0");
    free(v);
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"op\":\"module_enable_ro\",\"va\":\"0xbf000000\"}", 400,
                  "INVALID_ARGUMENT", "op: field 'text_size' is missing");

    /* GET translate with the walk; a fault is a result, not an error. */
    r = http("GET", "/api/v1/machines/1/translate?va=0xbfe01000,0xef800000"
             "&walk=1", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    res = json_object_get(r.json, "results");
    ck_assert_uint_eq(json_array_size(res), 2);
    ck_assert_str_eq(jstr(json_array_get(res, 0), "va"), "0xbfe01000");
    ck_assert_str_eq(jstr(json_array_get(res, 0), "pa"), "0xff2fe000");
    ck_assert_str_eq(jstr(json_array_get(res, 0), "region"), "pkmap");
    ck_assert_str_eq(jstr(json_array_get(res, 0), "fault"), "none");
    walk = json_object_get(json_array_get(res, 0), "walk");
    ck_assert_str_eq(jstr(walk, "text"),
        "L1 0x80206ff8: 0xaf9fd811 table l2=0xaf9fd800 domain=0\n"
        "L2 0xaf9fd804: 0xff2fe45f small pa=0xff2fe000 domain=0 "
        "ap=001(rw/--) tex=001 c=1 b=1 s=1 ng=0 xn=1\n"
        "VA 0xbfe01000 -> PA 0xff2fe000\n");
    ck_assert_str_eq(jstr(json_array_get(json_object_get(walk, "steps"), 1),
                          "desc"), "0xff2fe45f");
    ck_assert(json_is_null(json_object_get(json_array_get(res, 1), "pa")));
    ck_assert_str_eq(jstr(json_array_get(res, 1), "region"), "gap");
    ck_assert_str_eq(jstr(json_array_get(res, 1), "fault"),
                     "translation-l1");
    reply_free(&r);

    /* The query may be %-encoded. */
    r = http("GET", "/api/v1/machines/1/translate?va=0xbfe01000%2C0xbfe02000",
             NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "results")), 2);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "results"),
                                         1), "pa"), "0xff2fd000");
    reply_free(&r);

    /* POST translate: no walk unless asked. */
    r = http("POST", "/api/v1/machines/1/translate", NULL,
             "{\"vas\":[\"0xbfe02000\",3221225472],\"walk\":false}");
    ck_assert_int_eq(r.status, 200);
    res = json_object_get(r.json, "results");
    ck_assert_str_eq(jstr(json_array_get(res, 0), "pa"), "0xff2fd000");
    ck_assert_str_eq(jstr(json_array_get(res, 1), "va"), "0xc0000000");
    ck_assert_str_eq(jstr(json_array_get(res, 1), "pa"), "0x80200000");
    ck_assert_str_eq(jstr(json_array_get(res, 1), "region"), "lowmem");
    ck_assert_ptr_null(json_object_get(json_array_get(res, 1), "walk"));
    reply_free(&r);

    /* phys: every virtual alias of a physical address. */
    r = http("GET", "/api/v1/machines/1/phys?pa=0xff2fe000", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    res = json_object_get(json_array_get(json_object_get(r.json, "results"),
                                         0), "aliases");
    ck_assert_uint_eq(json_array_size(res), 1);
    ck_assert_str_eq(jstr(json_array_get(res, 0), "va"), "0xbfe01000");
    ck_assert_str_eq(jstr(json_array_get(res, 0), "region"), "pkmap");
    reply_free(&r);

    /* History, filtered by op, limited. */
    r = http("GET", "/api/v1/machines/1/history?since=1&op=kmap&limit=1",
             NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    res = json_object_get(r.json, "events");
    ck_assert_uint_eq(json_array_size(res), 1);
    ck_assert_str_eq(jstr(json_array_get(res, 0), "seq"), "2");
    ck_assert_str_eq(jstr(json_array_get(res, 0), "op"), "kmap");
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_array_get(res, 0), "args"), 0)),
                     "0xff2fe");
    ck_assert_str_eq(jstr(r.json, "next_after_seq"), "2");
    ck_assert_str_eq(jstr(json_object_get(r.json, "counts"), "kmap"), "2");
    reply_free(&r);
    stop();
}
END_TEST

START_TEST(test_reports_text_or_json)
{
    struct reply r;

    start(NULL, NULL);
    create_aries(NULL, "1");
    r = http("GET", "/api/v1/machines/1/reports/layout",
             "Accept: text/plain\r\n", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.headers, "Content-Type: text/plain"));
    ck_assert_ptr_nonnull(strstr(r.body, "    pkmap   : 0xbfe00000 - "
                                         "0xc0000000   (   2 MB)\n"));
    reply_free(&r);
    r = http("GET", "/api/v1/machines/1/reports/pkmap", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "text"),
                     "pkmap: 0xbfe00000-0xc0000000, 512 slots, last_pkmap_nr "
                     "0, 0 in use, 0 unused (awaiting flush), 0 flushes\n"
                     "slot  address     count  users  pfn\n");
    reply_free(&r);
    ck_http_error("GET", "/api/v1/machines/1/reports/nope", NULL, NULL, 404,
                  "NOT_FOUND", "report 'nope' does not exist (layout, "
                  "memory, iomem, buddyinfo, meminfo, vmallocinfo, pkmap, "
                  "fixmap, pagetables, regions)");
    stop();
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

START_TEST(test_error_mappings)
{
    char body[256], first[32], spare[32];
    struct reply r;

    start("--max-machines-per-tenant=1", NULL);
    create_aries(NULL, "1");
    /* 400: the request itself, and the daemon's INVALID_ARGUMENT. */
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL, "nojson", 400,
                  "INVALID_ARGUMENT", "body: not JSON: '[' or '{' expected "
                  "near 'nojson' (line 1, column 6)");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL, "{\"op\":\"kmap\"}",
                  400, "INVALID_ARGUMENT", "op: field 'pfn' is missing");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"op\":\"alloc\",\"zone\":\"highmem\",\"order\":11}", 400,
                  "INVALID_ARGUMENT", "alloc: order 11 is out of range (0-10)");
    ck_http_error("GET", "/api/v1/machines/1/translate?va=0x1z", NULL, NULL,
                  400, "INVALID_ARGUMENT", "query parameter 'va': '0x1z' is "
                  "not a 32-bit address");
    /* 404 */
    ck_http_error("GET", "/api/v1/nothing", NULL, NULL, 404, "NOT_FOUND",
                  "no such resource: GET /api/v1/nothing");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"op\":\"kunmap\",\"pfn\":\"0xff2fe\"}", 404, "NOT_FOUND",
                  "kunmap: pfn 0xff2fe is not mapped by kmap");
    /* 405, with the methods allowed. */
    r = http("PUT", "/api/v1/machines/1", NULL, NULL);
    ck_assert_ptr_nonnull(strstr(r.headers, "Allow: GET, DELETE"));
    ck_error(&r, 405, "INVALID_ARGUMENT",
             "PUT is not allowed on /api/v1/machines/1 (GET, DELETE)");
    /* 409 ORDER: kunmap_atomic below the top of the stack. */
    free(op_value("/api/v1/machines/1",
                  "{\"op\":\"kmap_atomic\",\"pfn\":\"0xff2fe\"}"));
    free(op_value("/api/v1/machines/1",
                  "{\"op\":\"kmap_atomic\",\"pfn\":\"0xff2fd\"}"));
    r = http("POST", "/api/v1/machines/1/ops", NULL,
             "{\"op\":\"kunmap_atomic\",\"va\":\"0xfff00000\"}");
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(jstr(r.json, "code"), "ORDER");
    reply_free(&r);
    /* 409 WOULD_BLOCK: 512 kmaps fit, the next would wait. */
    fill_pkmap(first, spare, sizeof(first));
    snprintf(body, sizeof(body), "{\"op\":\"kmap\",\"pfn\":\"%s\"}", spare);
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL, body, 409,
                  "WOULD_BLOCK", "kmap: all 512 pkmap slots are in use "
                  "(the kernel would sleep)");
    /* 422 NO_MEMORY: the emulated machine's vmalloc space. */
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"op\":\"vmalloc\",\"size\":\"0x10000000\"}", 422,
                  "NO_MEMORY", "vmalloc: vmap allocation for size 268439552 "
                  "failed: use vmalloc=<size> to increase size (no room in "
                  "0xf0000000-0xff000000)");
    /* 429: a quota. */
    r = http("POST", "/api/v1/machines", NULL, "{\"preset\":\"aries\"}");
    ck_assert_int_eq(r.status, 429);
    ck_assert_str_eq(jstr(r.json, "code"), "RESOURCE_EXHAUSTED");
    reply_free(&r);
    stop();
}
END_TEST

/* Bodies above --http-max-body are refused before they are read whole. */
START_TEST(test_body_limit)
{
    char body[2100];
    struct reply r;

    start("--http-max-body=1K", NULL);
    memset(body, ' ', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    body[0] = '{';
    body[sizeof(body) - 2] = '}';
    r = http("POST", "/api/v1/machines", NULL, body);
    ck_assert_int_eq(r.status, 413);
    reply_free(&r);
    body[1000] = '}';
    body[1001] = '\0';
    r = http("POST", "/api/v1/machines", NULL, body);
    ck_assert_int_eq(r.status, 201);
    reply_free(&r);
    stop();
}
END_TEST

/* Every way of naming an op's arguments, and the shapes refused. */
START_TEST(test_op_arguments)
{
    char *v;

    start("--max-batch-ops=2", NULL);
    create_aries(NULL, "1");
    v = op_value("/api/v1/machines/1", "{\"op\":\"vmap\",\"pfns\":"
                 "[\"0xff2fe\",1045245]}");
    ck_assert_str_eq(v, "0xf0000000");
    free(v);
    v = op_value("/api/v1/machines/1", "{\"op\":\"alloc\",\"args\":[2,1]}");
    ck_assert_str_eq(v, "0xff2fc");
    free(v);
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"op\":\"kmap_atomic\",\"pfn\":\"0xff2fe\",\"slot\":3}",
                  400, "INVALID_ARGUMENT", "kmap_atomic: km_type 3 given, "
                  "but this kernel's kmap_atomic takes no slot (stack style)");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"op\":\"vmap\",\"pfns\":[]}", 400, "INVALID_ARGUMENT",
                  "op: field 'pfns' must be an array of 1 to 1024 pfns");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"op\":\"kmap\",\"pfn\":\"-1\"}", 400,
                  "INVALID_ARGUMENT", "op: field 'pfn' must be a 32-bit "
                  "number or a \"0x...\" string");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL, "[]", 400,
                  "INVALID_ARGUMENT", "body: a JSON object is expected");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL, "{\"ops\":{}}",
                  400, "INVALID_ARGUMENT", "ops: an array is expected");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"ops\":[{\"op\":\"kmap\"}]}", 400, "INVALID_ARGUMENT",
                  "ops[0]: field 'pfn' is missing");
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL,
                  "{\"ops\":[{\"op\":\"kmap_flush\"},{\"op\":\"kmap_flush\"},"
                  "{\"op\":\"kmap_flush\"}]}", 429, "RESOURCE_EXHAUSTED",
                  "batch: 3 ops exceed --max-batch-ops (2)");
    ck_http_error("GET", "/api/v1/machines/1/history?limit=x", NULL, NULL,
                  400, "INVALID_ARGUMENT", "query parameter 'limit': 'x' is "
                  "not a number up to 4294967295");
    ck_http_error("GET", "/api/v1/machines/1/history?op=nap", NULL, NULL,
                  400, "INVALID_ARGUMENT", "query parameter 'op': 'nap' is "
                  "not an operation");
    stop();
}
END_TEST

/* ---- connections ------------------------------------------------------ */

/* Reads one reply of a keep-alive connection (by Content-Length). */
static struct reply read_one(int fd)
{
    static char buf[65536];
    size_t len = 0, want = 0;
    struct reply r;
    char *sep = NULL, *cl;
    ssize_t n;

    memset(&r, 0, sizeof(r));
    for (;;) {
        n = read(fd, buf + len, sizeof(buf) - len - 1);
        ck_assert_int_gt(n, 0);
        len += (size_t)n;
        buf[len] = '\0';
        sep = strstr(buf, "\r\n\r\n");
        if (sep == NULL)
            continue;
        cl = strstr(buf, "Content-Length: ");
        want = (size_t)(sep + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        if (len >= want)
            break;
    }
    ck_assert_uint_eq(len, want);
    ck_assert_int_eq(sscanf(buf, "HTTP/1.1 %d", &r.status), 1);
    r.body = strdup(sep + 4);
    r.json = json_loads(r.body, 0, NULL);
    ck_assert_ptr_nonnull(r.json);
    return r;
}

/* Several requests on one connection, answered in turn. */
START_TEST(test_keep_alive)
{
    static const char req[] =
        "GET /api/v1/presets HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char create[] =
        "POST /api/v1/machines HTTP/1.1\r\nHost: x\r\nContent-Length: 17"
        "\r\n\r\n{\"preset\":\"rpi2\"}";
    struct reply r;
    int fd, i;

    start(NULL, NULL);
    fd = connect_http();
    for (i = 0; i < 3; i++) {
        td_write(fd, req, strlen(req));
        r = read_one(fd);
        ck_assert_int_eq(r.status, 200);
        ck_assert_uint_eq(json_array_size(json_object_get(r.json, "presets")),
                          4);
        reply_free(&r);
    }
    td_write(fd, create, strlen(create));
    r = read_one(fd);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(jstr(r.json, "id"), "1");
    reply_free(&r);
    close(fd);
    stop();
}
END_TEST

/* An HTTP connection silent for --idle-timeout is closed. */
START_TEST(test_idle_timeout)
{
    int fd;

    start("--idle-timeout=1", NULL);
    fd = connect_http();
    ck_assert(td_closed(fd));
    close(fd);
    stop();
}
END_TEST

static uint64_t parked_kmaps(int fd)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Stats st = ARMMAP__V1__STATS__INIT;
    Armmap__V1__Response *r;
    uint64_t n;

    req.id = 9;
    req.body_case = ARMMAP__V1__REQUEST__BODY_STATS;
    req.stats = &st;
    r = td_call(fd, &req);
    ck_assert_status(r, 9, 0, "");
    n = r->stats->parked_kmaps;
    td_free(r);
    return n;
}

/* Waits (bounded) until the daemon counts @want parked kmaps. */
static void wait_parked(int fd, uint64_t want)
{
    uint64_t n = parked_kmaps(fd);
    int i;

    for (i = 0; i < 2500 * spawn_time_scale() && n != want; i++) {
        usleep(2000);
        n = parked_kmaps(fd);
    }
    ck_assert_uint_eq(n, want);
}

/* Sends a kmap that waits for a slot; returns the HTTP connection. */
static int send_waiting_kmap(const char *pfn)
{
    char body[96], head[256];
    int fd = connect_http();

    snprintf(body, sizeof(body), "{\"op\":\"kmap\",\"pfn\":\"%s\","
             "\"wait_ms\":20000}", pfn);
    snprintf(head, sizeof(head), "POST /api/v1/machines/1/ops HTTP/1.1\r\n"
             "Host: x\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
             body);
    td_write(fd, head, strlen(head));
    return fd;
}

/* A kmap with wait_ms parks as on the socket and is answered when a
 * kunmap frees a slot. */
START_TEST(test_parked_kmap_answered)
{
    char first[32], spare[32], body[96];
    struct reply r;
    int pb, fd;

    start(NULL, NULL);
    create_aries(NULL, "1");
    fill_pkmap(first, spare, sizeof(first));
    pb = td_session(&d, "default");
    fd = send_waiting_kmap(spare);
    wait_parked(pb, 1);
    snprintf(body, sizeof(body), "{\"op\":\"kunmap\",\"pfn\":\"%s\"}",
             first);
    free(op_value("/api/v1/machines/1", body));
    r = read_one(fd);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "op"), "kmap");
    ck_assert_str_eq(jstr(r.json, "value"), "0xbfe01000");
    reply_free(&r);
    close(fd);
    close(pb);
    stop();
}
END_TEST

/* A waiting kmap whose HTTP client leaves is cancelled, as a socket
 * client's would be: the slot freed later goes to nobody. */
START_TEST(test_parked_kmap_client_gone)
{
    char first[32], spare[32], body[96], msg[96];
    int pb, fd;

    start(NULL, NULL);
    create_aries(NULL, "1");
    fill_pkmap(first, spare, sizeof(first));
    pb = td_session(&d, "default");
    fd = send_waiting_kmap(spare);
    wait_parked(pb, 1);
    close(fd);
    wait_parked(pb, 0);
    snprintf(body, sizeof(body), "{\"op\":\"kunmap\",\"pfn\":\"%s\"}",
             first);
    free(op_value("/api/v1/machines/1", body));
    snprintf(body, sizeof(body), "{\"op\":\"kunmap\",\"pfn\":\"%s\"}",
             spare);
    snprintf(msg, sizeof(msg), "kunmap: pfn %s is not mapped by kmap", spare);
    ck_http_error("POST", "/api/v1/machines/1/ops", NULL, body, 404,
                  "NOT_FOUND", msg);
    close(pb);
    stop();
}
END_TEST

/* SIGTERM answers a request still waiting (a parked kmap) with 503. */
START_TEST(test_sigterm_answers_waiting)
{
    char first[32], spare[32];
    struct reply r;
    int pb, fd;

    start(NULL, NULL);
    create_aries(NULL, "1");
    fill_pkmap(first, spare, sizeof(first));
    pb = td_session(&d, "default");
    fd = send_waiting_kmap(spare);
    wait_parked(pb, 1);
    close(pb);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    r = read_one(fd);
    ck_error(&r, 503, "UNAVAILABLE", "the daemon is stopping");
    close(fd);
    td_cleanup(&d);
}
END_TEST

START_TEST(test_fork_and_clone)
{
    struct reply r;

    start(NULL, NULL);
    create_aries(NULL, "1");
    free(op_value("/api/v1/machines/1", "{\"op\":\"alloc\",\"zone\":"
                  "\"highmem\"}"));
    free(op_value("/api/v1/machines/1", "{\"op\":\"kmap\",\"pfn\":"
                  "\"0xff2fe\"}"));
    r = http("POST", "/api/v1/machines/1/fork", NULL,
             "{\"at\":1,\"name\":\"before-kmap\"}");
    ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "id"), "2");
    ck_assert_str_eq(jstr(r.json, "name"), "before-kmap");
    reply_free(&r);
    r = http("GET", "/api/v1/machines/2/translate?va=0xbfe01000", NULL, NULL);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "results"),
                                         0), "fault"), "translation-l2");
    reply_free(&r);
    r = http("POST", "/api/v1/machines/1/clone", NULL, NULL);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(jstr(r.json, "id"), "3");
    reply_free(&r);
    r = http("GET", "/api/v1/machines/3/translate?va=0xbfe01000", NULL, NULL);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "results"),
                                         0), "pa"), "0xff2fe000");
    reply_free(&r);
    ck_http_error("POST", "/api/v1/machines/1/fork", NULL, "{}", 400,
                  "INVALID_ARGUMENT", "fork: field 'at' must be a seq");
    stop();
}
END_TEST

/* --http-cors: listed origins get CORS headers and preflights; others
 * get none. */
START_TEST(test_cors_allow_list)
{
    struct reply r;

    start("--http-cors=http://lab.example,http://localhost:3000", NULL);
    r = http("OPTIONS", "/api/v1/machines",
             "Origin: http://localhost:3000\r\n"
             "Access-Control-Request-Method: POST\r\n", NULL);
    ck_assert_int_eq(r.status, 204);
    ck_assert_ptr_nonnull(strstr(r.headers, "Access-Control-Allow-Origin: "
                                            "http://localhost:3000\r\n"));
    ck_assert_ptr_nonnull(strstr(r.headers, "Access-Control-Allow-Methods: "
                                            "GET, POST, DELETE\r\n"));
    ck_assert_ptr_nonnull(strstr(r.headers, "Access-Control-Allow-Headers: "
                                            "Authorization, Content-Type, "
                                            "Accept, X-Armmap-Tenant\r\n"));
    reply_free(&r);
    r = http("GET", "/api/v1/presets", "Origin: http://lab.example\r\n",
             NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.headers, "Access-Control-Allow-Origin: "
                                            "http://lab.example\r\n"));
    reply_free(&r);
    r = http("GET", "/api/v1/presets", "Origin: http://lab.example.evil\r\n",
             NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(strstr(r.headers, "Access-Control"));
    reply_free(&r);
    r = http("OPTIONS", "/api/v1/machines", "Origin: http://evil\r\n", NULL);
    ck_assert_int_eq(r.status, 204);
    ck_assert_ptr_null(strstr(r.headers, "Access-Control"));
    reply_free(&r);
    stop();
}
END_TEST

/* ---- tenants and credentials ------------------------------------------ */

START_TEST(test_two_tenants_by_header)
{
    struct reply r;

    start(NULL, NULL);
    create_aries("X-Armmap-Tenant: alice\r\n", "1");
    ck_http_error("GET", "/api/v1/machines/1", "X-Armmap-Tenant: bob\r\n",
                  NULL, 404, "NOT_FOUND", "describe: machine 1 does not exist");
    ck_http_error("POST", "/api/v1/machines/1/ops", "X-Armmap-Tenant: bob\r\n",
                  "{\"op\":\"alloc\",\"zone\":\"highmem\"}", 404, "NOT_FOUND",
                  "alloc: machine 1 does not exist");
    r = http("GET", "/api/v1/machines", "X-Armmap-Tenant: bob\r\n", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "machines")),
                      0);
    reply_free(&r);
    r = http("GET", "/api/v1/machines/1", "X-Armmap-Tenant: alice\r\n", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "tenant"), "alice");
    reply_free(&r);
    ck_http_error("GET", "/api/v1/machines", "X-Armmap-Tenant: a/b\r\n",
                  NULL, 400, "INVALID_ARGUMENT",
                  "hello: tenant 'a/b' is not 1-64 bytes of [A-Za-z0-9._-]");
    stop();
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_bearer_token)
{
    char path[400], flag[420];

    td_init(&d);
    snprintf(path, sizeof(path), "%s/token", d.dir);
    write_text(path, "s3cret\n");
    snprintf(flag, sizeof(flag), "--auth-token-file=%s", path);
    port = td_free_port();
    snprintf(http_flag, sizeof(http_flag), "--http=127.0.0.1:%d", port);
    td_start(&d, http_flag, flag, NULL);
    ck_http_error("GET", "/api/v1/machines", NULL, NULL, 401,
                  "UNAUTHENTICATED", "hello: this daemon requires a token");
    ck_http_error("GET", "/api/v1/machines", "Authorization: Bearer nope\r\n",
                  NULL, 401, "UNAUTHENTICATED",
                  "hello: the token is not valid");
    create_aries("Authorization: Bearer s3cret\r\n", "1");
    stop();
}
END_TEST

/* Writes a tenants file of @n (tenant, token) lines at @path. */
static void write_tenants(const char *path, const char *const who[][2],
                          size_t n)
{
    char line[200];
    uint8_t dg[32];
    FILE *f = fopen(path, "w");
    size_t i, j, k;

    ck_assert_ptr_nonnull(f);
    for (i = 0; i < n; i++) {
        srv_sha256(who[i][1], strlen(who[i][1]), dg);
        k = (size_t)snprintf(line, sizeof(line), "%s ", who[i][0]);
        for (j = 0; j < 32; j++)
            k += (size_t)snprintf(line + k, sizeof(line) - k, "%02x", dg[j]);
        fprintf(f, "%s\n", line);
    }
    fclose(f);
}

/* Starts armmapd with --http and a tenants file (d.dir/tenants) of @n
 * (tenant, token) lines. */
static void start_with_tenants(const char *const who[][2], size_t n)
{
    char path[400], flag[420];

    td_init(&d);
    snprintf(path, sizeof(path), "%s/tenants", d.dir);
    write_tenants(path, who, n);
    snprintf(flag, sizeof(flag), "--tenants-file=%s", path);
    port = td_free_port();
    snprintf(http_flag, sizeof(http_flag), "--http=127.0.0.1:%d", port);
    td_start(&d, http_flag, flag, NULL);
}

/* With --tenants-file the token decides the tenant, as in Hello. */
START_TEST(test_tenants_file_tokens)
{
    static const char *const who[][2] = { { "alice", "tok-a" },
                                          { "bob", "tok-b" } };
    char path[400], extra[128];
    struct reply r;

    start_with_tenants(who, 2);

    r = http("POST", "/api/v1/machines", "Authorization: Bearer tok-a\r\n",
             "{\"preset\":\"aries\"}");
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(jstr(r.json, "tenant"), "alice");
    snprintf(path, sizeof(path), "/api/v1/machines/%s", jstr(r.json, "id"));
    reply_free(&r);
    r = http("GET", path, "Authorization: Bearer tok-b\r\n", NULL);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    r = http("GET", path, "Authorization: Bearer tok-a\r\n", NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    snprintf(extra, sizeof(extra), "Authorization: Bearer tok-b\r\n"
             "X-Armmap-Tenant: alice\r\n");
    ck_http_error("GET", "/api/v1/machines", extra, NULL, 403,
                  "PERMISSION_DENIED", "hello: this token belongs to tenant "
                  "'bob', not 'alice'");
    ck_http_error("GET", "/api/v1/machines", NULL, NULL, 401,
                  "UNAUTHENTICATED", "hello: this daemon requires a token");
    stop();
}
END_TEST

/* --http follows --listen's rule: loopback unless a credential is set. */
START_TEST(test_http_setting_checked)
{
    char out[1024];

    ck_assert_int_eq(td_run(out, sizeof(out), "--http=10.1.2.3:8080",
                            "--check-config", NULL), 2);
    ck_assert_ptr_nonnull(strstr(out, "armmapd: --http: '10.1.2.3:8080' is "
                                      "not a loopback address; refusing to "
                                      "serve it without --auth-token-file or "
                                      "--tenants-file"));
    ck_assert_int_eq(td_run(out, sizeof(out), "--http=nohost",
                            "--check-config", NULL), 2);
    ck_assert_ptr_nonnull(strstr(out, "armmapd: --http: 'nohost' is not "
                                      "HOST:PORT"));
}
END_TEST

/* ---- event streams (GET .../events) ----------------------------------- */

/* One open event stream: its socket and what it sent, de-chunked. */
struct sse {
    int fd;
    char raw[1 << 16];
    size_t nraw;
    char text[1 << 17];
    size_t ntext;
    bool ended;                         /* the last chunk came */
};

/* Opens GET @path with @extra headers; asserts 200 and the event-stream
 * type.  The headers arrive once the stream is registered. */
static struct sse *sse_open(const char *path, const char *extra)
{
    struct sse *e = calloc(1, sizeof(*e));
    char head[1024], *sep = NULL;
    ssize_t n;

    ck_assert_ptr_nonnull(e);
    e->fd = connect_http();
    snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n",
             path, extra ? extra : "");
    td_write(e->fd, head, strlen(head));
    while (sep == NULL) {
        n = read(e->fd, e->raw + e->nraw, sizeof(e->raw) - e->nraw - 1);
        ck_assert_msg(n > 0, "stream closed before its headers");
        e->nraw += (size_t)n;
        e->raw[e->nraw] = '\0';
        sep = strstr(e->raw, "\r\n\r\n");
    }
    ck_assert_msg(strncmp(e->raw, "HTTP/1.1 200", 12) == 0, "%s", e->raw);
    ck_assert_ptr_nonnull(strstr(e->raw,
                                 "Content-Type: text/event-stream\r\n"));
    ck_assert_ptr_nonnull(strstr(e->raw, "Transfer-Encoding: chunked\r\n"));
    e->nraw -= (size_t)(sep + 4 - e->raw);
    memmove(e->raw, sep + 4, e->nraw);
    return e;
}

static void sse_close(struct sse *e)
{
    close(e->fd);
    free(e);
}

/* Moves the complete chunks of e->raw into e->text. */
static void sse_dechunk(struct sse *e)
{
    for (;;) {
        char *end;
        unsigned long size;
        size_t line;

        e->raw[e->nraw] = '\0';
        end = strstr(e->raw, "\r\n");
        if (end == NULL)
            return;
        size = strtoul(e->raw, NULL, 16);
        line = (size_t)(end + 2 - e->raw);
        if (e->nraw < line + size + 2)
            return;
        ck_assert_uint_lt(e->ntext + size, sizeof(e->text));
        memcpy(e->text + e->ntext, e->raw + line, size);
        e->ntext += size;
        e->text[e->ntext] = '\0';
        if (size == 0)
            e->ended = true;
        e->nraw -= line + size + 2;
        memmove(e->raw, e->raw + line + size + 2, e->nraw);
    }
}

/* The next message of @e ("id: ...\nevent: ...\ndata: ...", without the
 * blank line) into @out; heartbeat comments are skipped unless @hb.
 * Return: false if the stream ended first. */
static bool sse_next(struct sse *e, char *out, size_t size, bool hb)
{
    char *end;
    ssize_t n;

    for (;;) {
        sse_dechunk(e);
        end = strstr(e->text, "\n\n");
        if (end != NULL) {
            size_t len = (size_t)(end - e->text);
            bool skip = !hb && e->text[0] == ':';

            snprintf(out, size, "%.*s", (int)len, e->text);
            e->ntext -= len + 2;
            memmove(e->text, end + 2, e->ntext + 1);
            if (!skip)
                return true;
            continue;
        }
        if (e->ended)
            return false;
        n = read(e->fd, e->raw + e->nraw, sizeof(e->raw) - e->nraw - 1);
        ck_assert_msg(n >= 0, "stream read: %s", strerror(errno));
        if (n == 0)
            return false;
        e->nraw += (size_t)n;
    }
}

/* @msg with the value of "time_ms" replaced by T (it is the wall clock). */
static void no_time(char *msg)
{
    char *t = strstr(msg, "\"time_ms\":\""), *q;

    if (t == NULL)
        return;
    t += 11;
    q = strchr(t, '"');
    ck_assert_ptr_nonnull(q);
    memmove(t + 1, q, strlen(q) + 1);
    *t = 'T';
}

static void ck_next(struct sse *e, const char *want)
{
    char msg[4096];

    ck_assert_msg(sse_next(e, msg, sizeof(msg), false), "stream ended; "
                  "wanted %s", want);
    no_time(msg);
    ck_assert_str_eq(msg, want);
}

/* The message of one kmap_flush at @seq (what td_send_flush_batch sends). */
static void ck_flush(struct sse *e, uint64_t seq)
{
    char want[512];

    snprintf(want, sizeof(want), "id: %" PRIu64 "\nevent: change\ndata: "
             "{\"seq\":\"%" PRIu64 "\",\"time_ms\":\"T\",\"op\":\"kmap_flush\","
             "\"cpu\":0,\"args\":[],\"result\":{\"op\":\"kmap_flush\","
             "\"code\":\"OK\",\"value\":\"0x0\",\"aux\":0,\"flags\":[],"
             "\"seq\":\"%" PRIu64 "\"}}", seq, seq, seq);
    ck_next(e, want);
}

/* Applies @n kmap_flush ops on machine 1 over the protobuf socket @fd. */
static void flushes(int fd, size_t n)
{
    Armmap__V1__Response *r;

    td_send_flush_batch(fd, 9, 1, n);
    r = td_recv(fd);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->status ? (int)r->status->code : 0, MM_OK);
    td_free(r);
}

/* Changes made through libarmmap on the protobuf socket arrive as
 * events, exactly. */
START_TEST(test_events_exact)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    struct armmap_op_result res;
    char err[ARMMAP_ERR_MAX];
    struct sse *e;

    start(NULL, NULL);
    create_aries(NULL, "1");
    e = sse_open("/api/v1/machines/1/events", NULL);
    memset(&opt, 0, sizeof(opt));
    opt.tenant = "default";
    ck_assert_msg(armmap_connect_unix(d.sock, opt, &c, err) == ARMMAP_OK,
                  "%s", err);
    ck_assert_int_eq(armmap_alloc(c, 1, ARMMAP_ZONE_HIGHMEM, 0, &res),
                     ARMMAP_OK);
    ck_assert_uint_eq(res.value, 0xff2fe);
    ck_assert_int_eq(armmap_kmap(c, 1, 0xff2fe, 0, &res), ARMMAP_OK);
    ck_assert_uint_eq(res.value, 0xbfe01000);
    ck_next(e, "id: 1\nevent: change\ndata: {\"seq\":\"1\",\"time_ms\":\"T\","
            "\"op\":\"alloc\",\"cpu\":0,\"args\":[\"0x2\",\"0x0\"],\"zone\":"
            "\"highmem\",\"order\":0,\"result\":{\"op\":\"alloc\",\"code\":"
            "\"OK\",\"value\":\"0xff2fe\",\"aux\":0,\"flags\":[],\"seq\":"
            "\"1\"}}");
    ck_next(e, "id: 2\nevent: change\ndata: {\"seq\":\"2\",\"time_ms\":\"T\","
            "\"op\":\"kmap\",\"cpu\":0,\"args\":[\"0xff2fe\"],\"pfn\":"
            "\"0xff2fe\",\"result\":{\"op\":\"kmap\",\"code\":\"OK\","
            "\"value\":\"0xbfe01000\",\"aux\":0,\"flags\":[],\"seq\":\"2\"}}");
    /* A refused change has no seq and no event: the next one is 3. */
    ck_assert_int_eq(armmap_kunmap(c, 1, 2, &res), ARMMAP_INVALID_ARGUMENT);
    ck_assert_int_eq(armmap_kmap_flush(c, 1, &res), ARMMAP_OK);
    ck_flush(e, 3);
    armmap_close(c);
    sse_close(e);
    stop();
}
END_TEST

/* Disconnect, changes, reconnect with Last-Event-ID (or ?since=): the
 * stream goes on from the next seq, through history then live, with no
 * gap and no duplicate; also across many slices of history. */
START_TEST(test_events_resume)
{
    struct sse *e;
    uint64_t i;
    int fd;

    start(NULL, NULL);
    create_aries(NULL, "1");
    fd = td_session(&d, "default");
    e = sse_open("/api/v1/machines/1/events", NULL);
    flushes(fd, 2);
    ck_flush(e, 1);
    ck_flush(e, 2);
    sse_close(e);
    flushes(fd, 3);
    e = sse_open("/api/v1/machines/1/events", "Last-Event-ID: 2\r\n");
    for (i = 3; i <= 5; i++)
        ck_flush(e, i);
    flushes(fd, 1);
    ck_flush(e, 6);
    sse_close(e);
    e = sse_open("/api/v1/machines/1/events?since=4", NULL);
    ck_flush(e, 5);
    ck_flush(e, 6);
    sse_close(e);
    /* 1,000 events of history, and 700 more made while it is read. */
    flushes(fd, 994);
    e = sse_open("/api/v1/machines/1/events?since=0", NULL);
    flushes(fd, 700);
    for (i = 1; i <= 1700; i++)
        ck_flush(e, i);
    flushes(fd, 1);
    ck_flush(e, 1701);
    sse_close(e);
    ck_http_error("GET", "/api/v1/machines/1/events",
                  "Last-Event-ID: 12x\r\n", NULL, 400, "INVALID_ARGUMENT",
                  "events: header Last-Event-ID must be a seq");
    ck_http_error("GET", "/api/v1/machines/1/events?since=-1", NULL, NULL,
                  400, "INVALID_ARGUMENT", "query parameter 'since': '-1' is "
                  "not a number up to 18446744073709551614");
    ck_http_error("POST", "/api/v1/machines/1/events", NULL, NULL, 405,
                  "INVALID_ARGUMENT", "POST is not allowed on "
                  "/api/v1/machines/1/events (GET)");
    close(fd);
    stop();
}
END_TEST

/* A stream opened with a token that a reloaded tenants file no longer
 * has ends before the next event, as a revoked connection does. */
START_TEST(test_events_token_revoked)
{
    static const char *const before[][2] = { { "alice", "tok-a" } };
    static const char *const after[][2] = { { "alice", "tok-c" } };
    char path[400], msg[512], mpath[64], ops[80];
    struct reply r;
    struct sse *e;
    int i;

    start_with_tenants(before, 1);
    r = http("POST", "/api/v1/machines", "Authorization: Bearer tok-a\r\n",
             "{\"preset\":\"aries\"}");
    ck_assert_int_eq(r.status, 201);
    snprintf(mpath, sizeof(mpath), "/api/v1/machines/%s", jstr(r.json, "id"));
    reply_free(&r);
    snprintf(path, sizeof(path), "%s/events", mpath);
    e = sse_open(path, "Authorization: Bearer tok-a\r\n");
    snprintf(ops, sizeof(ops), "%s/ops", mpath);
    r = http("POST", ops, "Authorization: Bearer tok-a\r\n",
             "{\"op\":\"kmap_flush\"}");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    ck_flush(e, 1);
    snprintf(path, sizeof(path), "%s/tenants", d.dir);
    write_tenants(path, after, 1);
    ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
    /* The new token works once the reload is done. */
    for (i = 0; i < 500; i++) {
        r = http("POST", ops, "Authorization: Bearer tok-c\r\n",
                 "{\"op\":\"kmap_flush\"}");
        if (r.status == 200)
            break;
        ck_assert_int_eq(r.status, 401);
        reply_free(&r);
        usleep(10000);
    }
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    ck_assert_msg(!sse_next(e, msg, sizeof(msg), false), "after the "
                  "reload the stream sent: %s", msg);
    sse_close(e);
    stop();
}
END_TEST

/* A tenant sees only its own machines' streams. */
START_TEST(test_events_tenants)
{
    struct sse *e;
    int fd;

    start(NULL, NULL);
    create_aries("X-Armmap-Tenant: alice\r\n", "1");
    ck_http_error("GET", "/api/v1/machines/1/events",
                  "X-Armmap-Tenant: bob\r\n", NULL, 404, "NOT_FOUND",
                  "describe: machine 1 does not exist");
    ck_http_error("GET", "/api/v1/machines/2/events",
                  "X-Armmap-Tenant: alice\r\n", NULL, 404, "NOT_FOUND",
                  "describe: machine 2 does not exist");
    e = sse_open("/api/v1/machines/1/events", "X-Armmap-Tenant: alice\r\n");
    fd = td_session(&d, "alice");
    flushes(fd, 1);
    ck_flush(e, 1);
    close(fd);
    sse_close(e);
    stop();
}
END_TEST

/* A stream's client sends nothing: --idle-timeout, which closes a silent
 * connection, does not end it (a plain connection opened with it is the
 * clock). */
START_TEST(test_events_outlive_idle_timeout)
{
    struct sse *e;
    int fd, clock_fd;

    start("--idle-timeout=1", "--http-heartbeat=0");
    create_aries(NULL, "1");
    e = sse_open("/api/v1/machines/1/events", NULL);
    clock_fd = connect_http();
    ck_assert(td_closed(clock_fd));
    close(clock_fd);
    fd = td_session(&d, "default");
    flushes(fd, 1);
    ck_flush(e, 1);
    close(fd);
    sse_close(e);
    stop();
}
END_TEST

/* Destroying the machine ends its streams with "destroyed". */
START_TEST(test_events_destroyed)
{
    struct sse *e, *e2;
    struct reply r;
    char msg[256];
    int fd;

    start(NULL, NULL);
    create_aries(NULL, "1");
    e = sse_open("/api/v1/machines/1/events", NULL);
    e2 = sse_open("/api/v1/machines/1/events", NULL);
    fd = td_session(&d, "default");
    flushes(fd, 1);
    r = http("DELETE", "/api/v1/machines/1", NULL, NULL);
    ck_assert_int_eq(r.status, 204);
    reply_free(&r);
    ck_flush(e, 1);
    ck_next(e, "event: destroyed\ndata: {\"machine\":\"1\",\"seq\":\"1\"}");
    ck_assert(!sse_next(e, msg, sizeof(msg), true));
    ck_assert(e->ended);
    ck_flush(e2, 1);
    ck_next(e2, "event: destroyed\ndata: {\"machine\":\"1\",\"seq\":\"1\"}");
    close(fd);
    sse_close(e);
    sse_close(e2);
    stop();
}
END_TEST

/* --http-heartbeat: ": hb" comments; --http-max-subscribers: 429. */
START_TEST(test_events_heartbeat_and_limit)
{
    struct sse *e, *e2, *e3 = NULL;
    char msg[64];
    int i;

    start("--http-heartbeat=1", "--http-max-subscribers=2");
    create_aries(NULL, "1");
    e = sse_open("/api/v1/machines/1/events", NULL);
    ck_assert(sse_next(e, msg, sizeof(msg), true));
    ck_assert_str_eq(msg, ": hb");
    e2 = sse_open("/api/v1/machines/1/events", NULL);
    ck_http_error("GET", "/api/v1/machines/1/events", NULL, NULL, 429,
                  "RESOURCE_EXHAUSTED", "events: tenant 'default' has 2 "
                  "event streams open (--http-max-subscribers)");
    /* A stream whose client left frees its place (once the daemon has
     * seen it go). */
    sse_close(e2);
    for (i = 0; i < 500 && e3 == NULL; i++) {
        int fd = connect_http(), status = 0;
        static const char req[] =
            "GET /api/v1/machines/1/events HTTP/1.1\r\nHost: x\r\n\r\n";
        char head[512];
        ssize_t n;

        td_write(fd, req, strlen(req));
        n = read(fd, head, sizeof(head) - 1);
        ck_assert_int_gt(n, 0);
        head[n] = '\0';
        ck_assert_int_eq(sscanf(head, "HTTP/1.1 %d", &status), 1);
        close(fd);
        if (status == 200)
            e3 = e;
        else
            usleep(10000);
    }
    ck_assert_ptr_nonnull(e3);
    sse_close(e);
    stop();
}
END_TEST

/* A subscriber that never reads costs at most --max-queued-bytes: it is
 * dropped, and the daemon's memory stays flat. */
START_TEST(test_events_slow_subscriber_bounded)
{
    struct sse *e;
    long before;
    char buf[65536];
    size_t got = 0;
    ssize_t n;
    int fd, i, rcv = 4096;

    start("--max-queued-bytes=256K", NULL);
    create_aries(NULL, "1");
    e = sse_open("/api/v1/machines/1/events", NULL);
    setsockopt(e->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    fd = td_session(&d, "default");
    flushes(fd, 1);
    before = td_rss_kib(&d);
    /* 160,000 events: about 40 MB of stream. */
    for (i = 0; i < 40; i++)
        flushes(fd, 4000);
    if (!spawn_wrapped() && !ASAN_BUILD)
        ck_assert_msg(td_rss_kib(&d) - before <= 16384, "RSS %ld -> %ld KiB",
                      before, td_rss_kib(&d));
    /* What was queued arrives, then the end: far less than sent. */
    while ((n = read(e->fd, buf, sizeof(buf))) > 0)
        got += (size_t)n;
    ck_assert_int_eq(n, 0);
    ck_assert_uint_lt(got, 4u << 20);
    close(fd);
    sse_close(e);
    stop();
}
END_TEST

/* ---- reads of the past (GET .../at/{seq}/...) -------------------------- */

/* The pa (or "fault:NAME") of @va on @machine_path at @seq. */
static void ck_at_pa(const char *machine_path, uint64_t seq, const char *va,
                     const char *want)
{
    char path[256], got[64];
    struct reply r;
    json_t *o;

    snprintf(path, sizeof(path), "%s/at/%" PRIu64 "/translate?va=%s",
             machine_path, seq, va);
    r = http("GET", path, NULL, NULL);
    ck_assert_msg(r.status == 200, "%s: %d %s", path, r.status, r.body);
    o = json_array_get(json_object_get(r.json, "results"), 0);
    if (json_is_null(json_object_get(o, "pa")))
        snprintf(got, sizeof(got), "fault:%s", jstr(o, "fault"));
    else
        snprintf(got, sizeof(got), "%s", jstr(o, "pa"));
    ck_assert_msg(strcmp(got, want) == 0, "%s: %s, not %s", path, got, want);
    reply_free(&r);
}

/* Four changes over the protobuf socket: alloc (seq 1), kmap at
 * 0xbfe01000 (2), kunmap (3: the pte stays until a flush), kmap_flush
 * (4). */
static void four_changes(void)
{
    static const uint32_t highmem[2] = { 2, 0 };
    uint32_t pfn;
    int fd = td_session(&d, "default");

    pfn = td_op_ok(fd, 1, MM_OP_ALLOC, highmem, 2);
    ck_assert_uint_eq(pfn, 0xff2fe);
    ck_assert_uint_eq(td_op_ok(fd, 1, MM_OP_KMAP, &pfn, 1), 0xbfe01000);
    td_op_ok(fd, 1, MM_OP_KUNMAP, &pfn, 1);
    flushes(fd, 1);
    close(fd);
}

/* Translate, phys and reports as the machine was at each seq; no machine
 * is created for it. */
START_TEST(test_at_reads)
{
    static const char *const pa_at[] = {
        "fault:translation-l2", "fault:translation-l2", "0xff2fe000",
        "0xff2fe000", "fault:translation-l2"
    };
    struct reply r;
    uint64_t seq;

    start(NULL, NULL);
    create_aries(NULL, "1");
    four_changes();
    for (seq = 0; seq <= 4; seq++)
        ck_at_pa("/api/v1/machines/1", seq, "0xbfe01000", pa_at[seq]);
    r = http("POST", "/api/v1/machines/1/at/2/translate", NULL,
             "{\"vas\":[\"0xbfe01000\",\"0xbfe02000\"]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"results\":[{\"va\":\"0xbfe01000\",\"pa\":"
                     "\"0xff2fe000\",\"region\":\"pkmap\",\"fault\":\"none\"},"
                     "{\"va\":\"0xbfe02000\",\"pa\":null,\"region\":"
                     "\"pkmap\",\"fault\":\"translation-l2\"}]}\n");
    reply_free(&r);
    r = http("GET", "/api/v1/machines/1/at/2/phys?pa=0xff2fe000", NULL,
             NULL);
    ck_assert_str_eq(r.body, "{\"results\":[{\"pa\":\"0xff2fe000\","
                     "\"aliases\":[{\"va\":\"0xbfe01000\",\"region\":"
                     "\"pkmap\"}]}]}\n");
    reply_free(&r);
    r = http("GET", "/api/v1/machines/1/at/0/phys?pa=0xff2fe000", NULL,
             NULL);
    ck_assert_str_eq(r.body, "{\"results\":[{\"pa\":\"0xff2fe000\","
                     "\"aliases\":[]}]}\n");
    reply_free(&r);
    r = http("GET", "/api/v1/machines/1/at/3/reports/pkmap",
             "Accept: text/plain\r\n", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "last_pkmap_nr 1, 0 in use, 1 unused "
                                 "(awaiting flush), 0 flushes\n") != NULL,
                  "%s", r.body);
    reply_free(&r);
    ck_http_error("GET", "/api/v1/machines/1/at/5/translate?va=0", NULL,
                  NULL, 404, "NOT_FOUND",
                  "at: machine 1 has no seq 5 (its last is 4)");
    ck_http_error("GET", "/api/v1/machines/1/at/x/translate?va=0", NULL,
                  NULL, 404, "NOT_FOUND", "at: 'x' is not a seq");
    ck_http_error("GET", "/api/v1/machines/1/at/1/reports/nope", NULL, NULL,
                  404, "NOT_FOUND", "report 'nope' does not exist (layout, "
                  "memory, iomem, buddyinfo, meminfo, vmallocinfo, pkmap, "
                  "fixmap, pagetables, regions)");
    ck_http_error("DELETE", "/api/v1/machines/1/at/1/phys", NULL, NULL, 405,
                  "INVALID_ARGUMENT", "DELETE is not allowed on "
                  "/api/v1/machines/1/at/1/phys (GET, POST)");
    ck_http_error("GET", "/api/v1/machines/1/at/1/translate?va=0",
                  "X-Armmap-Tenant: bob\r\n", NULL, 404, "NOT_FOUND",
                  "describe: machine 1 does not exist");
    r = http("GET", "/api/v1/machines", NULL, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "machines")),
                      1);
    reply_free(&r);
    stop();
}
END_TEST

/* A cache of two states, scrubbed forward and back, and a fork's past
 * (its parent's events first). */
START_TEST(test_at_cache_and_fork)
{
    static const char *const pa_at[] = {
        "fault:translation-l2", "fault:translation-l2", "0xff2fe000",
        "0xff2fe000", "fault:translation-l2"
    };
    struct reply r;
    int i;

    start("--http-at-cache=2", NULL);
    create_aries(NULL, "1");
    four_changes();
    for (i = 0; i < 3; i++) {
        int k;

        for (k = 0; k <= 4; k++)
            ck_at_pa("/api/v1/machines/1", (uint64_t)k, "0xbfe01000",
                     pa_at[k]);
        for (k = 4; k >= 0; k--)
            ck_at_pa("/api/v1/machines/1", (uint64_t)k, "0xbfe01000",
                     pa_at[k]);
    }
    r = http("POST", "/api/v1/machines/1/fork", NULL, "{\"at\":2}");
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(jstr(r.json, "id"), "2");
    reply_free(&r);
    ck_at_pa("/api/v1/machines/2", 2, "0xbfe01000", "0xff2fe000");
    ck_at_pa("/api/v1/machines/2", 1, "0xbfe01000", "fault:translation-l2");
    ck_http_error("GET", "/api/v1/machines/2/at/3/translate?va=0", NULL,
                  NULL, 404, "NOT_FOUND",
                  "at: machine 2 has no seq 3 (its last is 2)");
    stop();
}
END_TEST

/* States larger than --http-at-cache-bytes are served once, not kept. */
START_TEST(test_at_too_big_to_keep)
{
    static const char *const pa_at[] = {
        "fault:translation-l2", "fault:translation-l2", "0xff2fe000",
        "0xff2fe000", "fault:translation-l2"
    };
    int k, i;

    start("--http-at-cache-bytes=4096", NULL);
    create_aries(NULL, "1");
    four_changes();
    for (i = 0; i < 2; i++) {
        for (k = 4; k >= 0; k--)
            ck_at_pa("/api/v1/machines/1", (uint64_t)k, "0xbfe01000",
                     pa_at[k]);
    }
    stop();
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

/* --http-rate 1 --http-burst 3: three requests at once pass, then 429
 * with Retry-After and the JSON error; another tenant has its own
 * bucket. */
START_TEST(test_rate_limit)
{
    struct reply r;
    int i;

    start("--http-rate=1", "--http-burst=3");
    for (i = 0; i < 3; i++) {
        r = http("GET", "/api/v1/presets", NULL, NULL);
        ck_assert_int_eq(r.status, 200);
        reply_free(&r);
    }
    /* A token comes back each second: within 20 requests one finds the
     * bucket empty however slowly they run. */
    for (i = 0; i < 20; i++) {
        r = http("GET", "/api/v1/presets", NULL, NULL);
        if (r.status == 429)
            break;
        ck_assert_int_eq(r.status, 200);
        reply_free(&r);
    }
    ck_assert_ptr_nonnull(strstr(r.headers, "\r\nRetry-After: 1"));
    ck_error(&r, 429, "RESOURCE_EXHAUSTED", "http: tenant 'default' is over "
             "--http-rate (1 requests/s, burst 3)");
    r = http("GET", "/api/v1/presets", "X-Armmap-Tenant: bob\r\n", NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    stop();
}
END_TEST

/* A request line or a header above 16 KiB is refused (400) and its
 * connection closed, before any of it is routed. */
START_TEST(test_header_and_uri_limits)
{
    static char big[20100];
    char head[64];
    int fd, k;

    start(NULL, NULL);
    for (k = 0; k < 2; k++) {
        fd = connect_http();
        memset(big, 'a', sizeof(big) - 1);
        if (k == 0)
            memcpy(big, "GET /api/v1/presets?x=", 22);
        else
            memcpy(big, "GET /api/v1/presets HTTP/1.1\r\nX-Big: ", 37);
        td_write(fd, big, strlen(big));
        td_write(fd, k == 0 ? " HTTP/1.1\r\n\r\n" : "\r\n\r\n",
                 k == 0 ? 13 : 4);
        ck_assert_int_eq(read(fd, head, 12), 12);
        head[12] = '\0';
        ck_assert_str_eq(head, "HTTP/1.1 400");
        ck_assert(td_closed(fd));
        close(fd);
    }
    stop();
}
END_TEST

Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_status_mapping);
    tcase_add_test(tc, test_presets_and_machines);
    tcase_add_test(tc, test_ops_batch_translate_history);
    tcase_add_test(tc, test_reports_text_or_json);
    tcase_add_test(tc, test_error_mappings);
    tcase_add_test(tc, test_body_limit);
    tcase_add_test(tc, test_op_arguments);
    tcase_add_test(tc, test_keep_alive);
    tcase_add_test(tc, test_idle_timeout);
    tcase_add_test(tc, test_parked_kmap_answered);
    tcase_add_test(tc, test_parked_kmap_client_gone);
    tcase_add_test(tc, test_fork_and_clone);
    tcase_add_test(tc, test_sigterm_answers_waiting);
    tcase_add_test(tc, test_cors_allow_list);
    tcase_add_test(tc, test_two_tenants_by_header);
    tcase_add_test(tc, test_bearer_token);
    tcase_add_test(tc, test_tenants_file_tokens);
    tcase_add_test(tc, test_http_setting_checked);
    suite_add_tcase(s, tc);
    tc = tcase_create("events");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_events_exact);
    tcase_add_test(tc, test_events_resume);
    tcase_add_test(tc, test_events_tenants);
    tcase_add_test(tc, test_events_token_revoked);
    tcase_add_test(tc, test_events_destroyed);
    tcase_add_test(tc, test_events_outlive_idle_timeout);
    tcase_add_test(tc, test_events_heartbeat_and_limit);
    tcase_add_test(tc, test_events_slow_subscriber_bounded);
    suite_add_tcase(s, tc);
    tc = tcase_create("at");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_at_reads);
    tcase_add_test(tc, test_at_cache_and_fork);
    tcase_add_test(tc, test_at_too_big_to_keep);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rate_limit);
    tcase_add_test(tc, test_header_and_uri_limits);
    suite_add_tcase(s, tc);
    return s;
}
