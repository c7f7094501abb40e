/* tests/daemon/test_http_static.c - the teaching page's files (--http-root,
 * daemon/http_static.c): the real armmapd on 127.0.0.1 and a free port,
 * raw HTTP/1.1 from a socket, a root directory made in the test.
 *
 * Exact bodies and types of the files served, validators (ETag, 304),
 * HEAD, 405, and every way out of the root refused: "..", its encodings,
 * hidden files, NUL, symlinks out, directories, files above the size
 * bound; the API beside it still answers.
 */
#include "check_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "srv.h"

static struct tdaemon d;
static int port;
static char root[400];                  /* d.dir/web */

struct page {
    int status;
    char head[2048];
    char body[4096];
    size_t len;
};

static void put(const char *rel, const char *text)
{
    char path[600];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* The root: index.html, app.js, style.css, sub/index.html, data.bin, a
 * hidden file, a directory, a file of SRV_HTTP_STATIC_MAX + 1 bytes, a
 * symlink inside and one out to d.dir/secret.txt. */
static void make_root(void)
{
    char path[600], target[600];
    int fd;

    snprintf(root, sizeof(root), "%s/web", d.dir);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    snprintf(path, sizeof(path), "%s/sub", root);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/dir.js", root);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    put("index.html", "<!doctype html><title>armmap</title>\n");
    put("app.js", "export const x = 1;\n");
    put("style.css", "body { color: #111; }\n");
    put("sub/index.html", "<p>sub</p>\n");
    put("data.bin", "raw");
    put(".secret", "hidden");
    snprintf(path, sizeof(path), "%s/secret.txt", d.dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "outside", 7), 7);
    close(fd);
    snprintf(target, sizeof(target), "%s/out.txt", root);
    ck_assert_int_eq(symlink(path, target), 0);
    snprintf(target, sizeof(target), "%s/alias.js", root);
    ck_assert_int_eq(symlink("app.js", target), 0);
    snprintf(path, sizeof(path), "%s/big.txt", root);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)SRV_HTTP_STATIC_MAX + 1), 0);
    close(fd);
}

static void start_static(void)
{
    char http[64], rootflag[440];

    td_init(&d);
    make_root();
    port = td_free_port();
    snprintf(http, sizeof(http), "--http=127.0.0.1:%d", port);
    snprintf(rootflag, sizeof(rootflag), "--http-root=%s", root);
    td_start(&d, http, rootflag, NULL);
}

static void stop_static(void)
{
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    td_cleanup(&d);
}

/* One request ("Connection: close"; @extra: more header lines or NULL). */
static struct page get(const char *method, const char *path,
                       const char *extra)
{
    struct sockaddr_in sa;
    struct timeval tv = { 10 * spawn_time_scale(), 0 };
    static char buf[16384];
    struct page p;
    char req[2048], *sep;
    size_t len = 0;
    ssize_t n;
    int fd = -1, i;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    /* The HTTP socket is bound just after the Unix one td_start waits for. */
    for (i = 0; i < 500 * spawn_time_scale() && fd < 0; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(fd, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            ck_assert_int_eq(errno, ECONNREFUSED);
            close(fd);
            fd = -1;
            usleep(2000);
        }
    }
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n%s\r\n", method, path, extra ? extra : "");
    td_write(fd, req, strlen(req));
    while (len < sizeof(buf) - 1 &&
           (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    memset(&p, 0, sizeof(p));
    ck_assert_int_eq(sscanf(buf, "HTTP/1.1 %d", &p.status), 1);
    sep = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(sep);
    snprintf(p.head, sizeof(p.head), "%.*s\r\n", (int)(sep - buf), buf);
    p.len = len - (size_t)(sep + 4 - buf);
    ck_assert_uint_lt(p.len, sizeof(p.body));
    memcpy(p.body, sep + 4, p.len);
    return p;
}

/* The value of header @name in @p (static buffer), or "". */
static const char *header(const struct page *p, const char *name)
{
    static char v[256];
    char key[64];
    const char *at;

    snprintf(key, sizeof(key), "\r\n%s: ", name);
    at = strstr(p->head, key);
    if (at == NULL)
        return "";
    at += strlen(key);
    snprintf(v, sizeof(v), "%.*s", (int)strcspn(at, "\r"), at);
    return v;
}

static void ck_file(const char *path, const char *body, const char *type)
{
    struct page p = get("GET", path, NULL);

    ck_assert_msg(p.status == 200, "%s: %d", path, p.status);
    ck_assert_str_eq(p.body, body);
    ck_assert_str_eq(header(&p, "Content-Type"), type);
    ck_assert_str_eq(header(&p, "Cache-Control"), "no-cache");
    ck_assert_str_eq(header(&p, "X-Content-Type-Options"), "nosniff");
    ck_assert_int_eq(header(&p, "ETag")[0], '"');
    ck_assert_ptr_nonnull(strstr(header(&p, "Last-Modified"), " GMT"));
}

static void ck_404(const char *path, const char *shown)
{
    struct page p = get("GET", path, NULL);
    char want[300];

    snprintf(want, sizeof(want), "{\"code\":\"NOT_FOUND\",\"message\":"
             "\"no such file: %s\"}\n", shown);
    ck_assert_msg(p.status == 404, "%s: %d", path, p.status);
    ck_assert_str_eq(p.body, want);
    ck_assert_str_eq(header(&p, "Content-Type"), "application/json");
}

START_TEST(test_files_and_types)
{
    start_static();
    ck_file("/", "<!doctype html><title>armmap</title>\n",
            "text/html; charset=utf-8");
    ck_file("/index.html", "<!doctype html><title>armmap</title>\n",
            "text/html; charset=utf-8");
    ck_file("/app.js", "export const x = 1;\n",
            "text/javascript; charset=utf-8");
    ck_file("/style.css", "body { color: #111; }\n",
            "text/css; charset=utf-8");
    ck_file("/sub/", "<p>sub</p>\n", "text/html; charset=utf-8");
    ck_file("/data.bin", "raw", "application/octet-stream");
    /* A symlink that stays under the root is its target; a query is
     * not part of the name. */
    ck_file("/alias.js?v=2", "export const x = 1;\n",
            "text/javascript; charset=utf-8");
    ck_file("/%61pp.js", "export const x = 1;\n",
            "text/javascript; charset=utf-8");
    stop_static();
}
END_TEST

START_TEST(test_validators_head_methods)
{
    struct page p, q;
    char inm[300];

    start_static();
    p = get("GET", "/app.js", NULL);
    ck_assert_int_eq(p.status, 200);
    snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", header(&p, "ETag"));
    q = get("GET", "/app.js", inm);
    ck_assert_int_eq(q.status, 304);
    ck_assert_uint_eq(q.len, 0);
    ck_assert_str_eq(header(&q, "ETag"), header(&p, "ETag"));
    q = get("GET", "/app.js", "If-None-Match: \"other\"\r\n");
    ck_assert_int_eq(q.status, 200);
    ck_assert_str_eq(q.body, "export const x = 1;\n");
    q = get("HEAD", "/app.js", NULL);
    ck_assert_int_eq(q.status, 200);
    ck_assert_uint_eq(q.len, 0);
    ck_assert_str_eq(header(&q, "Content-Length"), "20");
    ck_assert_str_eq(header(&q, "Content-Type"),
                     "text/javascript; charset=utf-8");
    q = get("POST", "/index.html", "Content-Length: 0\r\n");
    ck_assert_int_eq(q.status, 405);
    ck_assert_str_eq(header(&q, "Allow"), "GET, HEAD");
    ck_assert_str_eq(q.body, "{\"code\":\"INVALID_ARGUMENT\",\"message\":"
                             "\"the page's files take GET or HEAD\"}\n");
    /* The API beside the page answers as before. */
    q = get("GET", "/api/v1/machines", NULL);
    ck_assert_int_eq(q.status, 200);
    ck_assert_str_eq(q.body, "{\"machines\":[]}\n");
    stop_static();
}
END_TEST

START_TEST(test_escapes_refused)
{
    start_static();
    ck_404("/../secret.txt", "/../secret.txt");
    ck_404("/%2e%2e/secret.txt", "/%2e%2e/secret.txt");
    ck_404("/sub/../../secret.txt", "/sub/../../secret.txt");
    ck_404("/..%2fsecret.txt", "/..%2fsecret.txt");
    ck_404("/sub/%2e%2e/index.html", "/sub/%2e%2e/index.html");
    ck_404("/./index.html", "/./index.html");
    ck_404("/sub//index.html", "/sub//index.html");
    ck_404("/.secret", "/.secret");
    ck_404("/index.html%00.js", "/index.html%00.js");
    ck_404("/out.txt", "/out.txt");             /* symlink out of the root */
    ck_404("/dir.js", "/dir.js");               /* a directory */
    ck_404("/big.txt", "/big.txt");             /* above the size bound */
    ck_404("/missing.js", "/missing.js");
    ck_404("/a%20b.js", "/a%20b.js");           /* a space: not a name */
    ck_404("/api", "/api");
    stop_static();
}
END_TEST

START_TEST(test_root_missing)
{
    char http[64];

    td_init(&d);
    port = td_free_port();
    snprintf(http, sizeof(http), "--http=127.0.0.1:%d", port);
    td_start(&d, http, "--http-root=/nonexistent/armmapd-web", NULL);
    ck_404("/", "/");
    ck_404("/index.html", "/index.html");
    stop_static();
}
END_TEST

Suite *http_static_suite(void)
{
    Suite *s = suite_create("http_static");
    TCase *tc = tcase_create("files");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_files_and_types);
    tcase_add_test(tc, test_validators_head_methods);
    tcase_add_test(tc, test_escapes_refused);
    tcase_add_test(tc, test_root_missing);
    suite_add_tcase(s, tc);
    return s;
}
