/* daemon/http_static.c - --http serves the teaching page: every path
 * outside /api/ is a file under --http-root.
 *
 * Contract: only GET and HEAD (others 405); the URL path, percent-decoded
 * once, must be made of segments of [A-Za-z0-9._-] that do not start with
 * a dot (so no "..", no hidden files) and hold no NUL; "/" and a path
 * ending in "/" mean its index.html.  The file's real path (symlinks
 * resolved) must lie under the root's real path, be a regular file and
 * hold at most SRV_HTTP_STATIC_MAX bytes.  Anything else is 404 with a
 * JSON error naming the path, as the API's errors are.  Answers carry the
 * type by extension, an ETag and Last-Modified from the file's size and
 * mtime (If-None-Match answers 304), "Cache-Control: no-cache" (a browser
 * revalidates, so a changed page is seen at once), nosniff, and a Content
 * Security Policy that lets the page load only its own files.
 */
#include "srv.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define STATIC_PATH_MAX 1024

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".json", "application/json" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".woff2", "font/woff2" },
};

/* The Content-Type of @name by its extension; octet-stream if unknown. */
static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    size_t i;

    for (i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

/* True if @rel ("a/b.js", decoded, no leading '/') is a name we serve. */
static bool is_safe_relpath(const char *rel)
{
    bool seg_start = true;

    if (*rel == '\0')
        return false;
    for (; *rel != '\0'; rel++) {
        char c = *rel;

        if (c == '/') {
            if (seg_start)
                return false; /* "//" or a leading '/' */
            seg_start = true;
            continue;
        }
        if (seg_start && c == '.')
            return false; /* "..", ".", ".hidden" */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
        seg_start = false;
    }
    return !seg_start; /* not ending in '/' */
}

/*
 * The relative file name for URL path @path (still percent-encoded) into
 * @rel: decoded, "index.html" appended to "/" or ".../".
 * Return: true if @path names something we may serve.
 */
static bool relpath_of(const char *path, char *rel, size_t relsz)
{
    size_t len = 0;
    char *dec = evhttp_uridecode(path, 0, &len);
    bool ok;

    if (dec == NULL)
        return false;
    ok = dec[0] == '/' && strlen(dec) == len; /* no %00 */
    if (ok) {
        int n = snprintf(rel, relsz, "%s%s", dec + 1,
                         dec[len - 1] == '/' ? "index.html" : "");

        ok = n > 0 && (size_t)n < relsz && is_safe_relpath(rel);
    }
    free(dec);
    return ok;
}

/*
 * Opens @rel under @root, refusing what resolves outside it (a symlink
 * out), what is not a regular file, or what is too large.
 * Return: the descriptor with *@st filled, or -1.
 */
static int open_under(const char *root, const char *rel, struct stat *st)
{
    char want[PATH_MAX + STATIC_PATH_MAX + 2];
    char real_root[PATH_MAX], real_file[PATH_MAX];
    size_t n;
    int fd;

    if (realpath(root, real_root) == NULL)
        return -1;
    snprintf(want, sizeof(want), "%s/%s", real_root, rel);
    if (realpath(want, real_file) == NULL)
        return -1;
    n = strlen(real_root);
    if (strncmp(real_file, real_root, n) != 0 ||
        (real_file[n] != '/' && !(n == 1 && real_root[0] == '/')))
        return -1;
    fd = open(real_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
        st->st_size > (off_t)SRV_HTTP_STATIC_MAX) {
        close(fd);
        return -1;
    }
    return fd;
}

static void not_found(struct evhttp_request *req, const char *path)
{
    char msg[160];
    char *body;
    struct evbuffer *b = evbuffer_new();

    snprintf(msg, sizeof(msg), "no such file: %.100s", path);
    body = srv_http_error_json(MM_NOT_FOUND, msg);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    if (b != NULL && body != NULL)
        evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, 404, NULL, b);
    if (b != NULL)
        evbuffer_free(b);
    free(body);
}

/* The validators of @st: ETag and Last-Modified. */
static void validators(const struct stat *st, char *etag, size_t etagsz,
                       char *date, size_t datesz)
{
    struct tm tm;

    snprintf(etag, etagsz, "\"%llx-%llx-%lx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec,
             (unsigned long)st->st_mtim.tv_nsec);
    gmtime_r(&st->st_mtim.tv_sec, &tm);
    strftime(date, datesz, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void srv_http_static(struct srv *s, struct evhttp_request *req)
{
    const char *root = s->st->http_root ? s->st->http_root : SRV_WEB_ROOT;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    char rel[STATIC_PATH_MAX], etag[80], date[64];
    const char *inm;
    struct evbuffer *b;
    struct stat st;
    int fd;

    if (path == NULL || path[0] == '\0')
        path = "/";
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        char *body = srv_http_error_json(MM_INVALID_ARGUMENT,
                                         "the page's files take GET or HEAD");

        evhttp_add_header(out, "Allow", "GET, HEAD");
        evhttp_add_header(out, "Content-Type", "application/json");
        b = evbuffer_new();
        if (b != NULL && body != NULL)
            evbuffer_add(b, body, strlen(body));
        evhttp_send_reply(req, 405, NULL, b);
        if (b != NULL)
            evbuffer_free(b);
        free(body);
        return;
    }
    if (!relpath_of(path, rel, sizeof(rel)) ||
        (fd = open_under(root, rel, &st)) < 0) {
        not_found(req, path);
        return;
    }
    validators(&st, etag, sizeof(etag), date, sizeof(date));
    evhttp_add_header(out, "ETag", etag);
    evhttp_add_header(out, "Last-Modified", date);
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    inm = evhttp_find_header(evhttp_request_get_input_headers(req),
                             "If-None-Match");
    if (inm != NULL && strcmp(inm, etag) == 0) {
        close(fd);
        evhttp_send_reply(req, 304, NULL, NULL);
        return;
    }
    evhttp_add_header(out, "Content-Type", content_type(rel));
    evhttp_add_header(out, "Content-Security-Policy",
                      "default-src 'self'; img-src 'self' data:; "
                      "style-src 'self' 'unsafe-inline'; "
                      "frame-ancestors 'none'");
    if (cmd == EVHTTP_REQ_HEAD) {
        /* The headers of a GET, no body (evhttp would send one). */
        char len[32];

        snprintf(len, sizeof(len), "%lld", (long long)st.st_size);
        evhttp_add_header(out, "Content-Length", len);
        close(fd);
        evhttp_send_reply(req, 200, NULL, NULL);
        return;
    }
    b = evbuffer_new();
    /* evbuffer_add_file() owns fd from here, failed or not. */
    if (b == NULL ||
        (st.st_size > 0 && evbuffer_add_file(b, fd, 0, st.st_size) != 0)) {
        if (b == NULL)
            close(fd);
        if (b != NULL)
            evbuffer_free(b);
        not_found(req, path);
        return;
    }
    if (st.st_size == 0)
        close(fd);
    evhttp_send_reply(req, 200, NULL, b);
    evbuffer_free(b);
}
