/* tests/fuzz/fuzz_http.c - the HTTP API's JSON layer (daemon/http_json.c).
 *
 * The input is a request as http.c hands it over: its first line is the
 * method, the second the path, the third the query, the rest the body.
 * srv_http_build() routes it; when it builds a Request, that frame must
 * decode as one (length prefix included), and every reply shape is then
 * rendered from a Response decoded from the body's bytes (when they
 * decode), as if the daemon had answered that.
 *
 * Oracles beyond the sanitizers: a refusal carries an HTTP status of 400,
 * 404 or 405 and a message; a built frame decodes; a rendering is JSON
 * text (or a report's text) with a status the mapping allows.  The body's
 * first bytes also make an event record whose event-stream JSON must be
 * one line (an SSE "data:" line cannot hold a newline).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "armmap.pb-c.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

/* The next line of @text (NUL-terminated copy into @out). */
static const char *line(const char *text, const char *end, char *out,
                        size_t outsz)
{
    const char *nl = memchr(text, '\n', (size_t)(end - text));
    size_t len = nl ? (size_t)(nl - text) : (size_t)(end - text);

    if (len >= outsz)
        len = outsz - 1;
    memcpy(out, text, len);
    out[len] = '\0';
    return nl ? nl + 1 : end;
}

static void check_frame(const struct srv_http_call *hc)
{
    Armmap__V1__Request *r;
    size_t n;

    if (hc->len < 4)
        fail("frame shorter than its prefix");
    n = (size_t)hc->frame[0] << 24 | (size_t)hc->frame[1] << 16 |
        (size_t)hc->frame[2] << 8 | hc->frame[3];
    if (n != hc->len - 4)
        fail("frame length prefix is wrong");
    r = armmap__v1__request__unpack(NULL, n, hc->frame + 4);
    if (r == NULL)
        fail("built frame does not decode");
    armmap__v1__request__free_unpacked(r, NULL);
}

static void render_all(struct srv_http_call *hc, const uint8_t *body,
                       size_t len)
{
    Armmap__V1__Response *r = armmap__v1__response__unpack(NULL, len, body);
    int shape, status;
    const char *ctype;
    char *text;

    if (r == NULL)
        return;
    for (shape = SRV_HTTP_PRESETS; shape <= SRV_HTTP_HISTORY; shape++) {
        hc->shape = (enum srv_http_shape)shape;
        text = srv_http_render(hc, r, shape & 1, &status, &ctype);
        if (status < 200 || status > 599 || ctype == NULL)
            fail("rendering has no status or type");
        if (text == NULL && status != 204)
            fail("rendering without a body");
        free(text);
    }
    armmap__v1__response__free_unpacked(r, NULL);
}

/* An event record from @len bytes at @b (words little-endian). */
static void check_event(const uint8_t *b, size_t len)
{
    uint32_t w[4 + 16];
    struct store_event ev;
    size_t i;
    char *text;

    memset(w, 0, sizeof(w));
    for (i = 0; i < sizeof(w) && i < len; i++)
        w[i / 4] |= (uint32_t)b[i] << (8 * (i % 4));
    memset(&ev, 0, sizeof(ev));
    ev.machine = 1;
    ev.seq = w[0];
    ev.op = w[1] % (MM_OP_COUNT + 2);
    ev.cpu = w[2] & 7;
    ev.nargs = w[3] % 17;               /* vmap's pfns: a few suffice */
    ev.args = &w[4];
    ev.value = w[4];
    ev.flags = w[5];
    text = srv_http_event_json(&ev);
    if (text == NULL || strchr(text, '\n') != NULL)
        fail("an event's JSON is not one line");
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char method[16], path[600], query[600];
    struct srv_http_call hc;
    int status;

    p = line(p, end, method, sizeof(method));
    p = line(p, end, path, sizeof(path));
    p = line(p, end, query, sizeof(query));
    check_event((const uint8_t *)p, (size_t)(end - p));
    status = srv_http_build(&hc, method, path, query, p, (size_t)(end - p));
    if (status != 0) {
        if ((status != 400 && status != 404 && status != 405 &&
             status != 500) || hc.msg[0] == '\0' || hc.frame != NULL)
            fail("refusal without a status, a message, or with a frame");
        return 0;
    }
    check_frame(&hc);
    render_all(&hc, (const uint8_t *)p, (size_t)(end - p));
    srv_http_call_free(&hc);
    return 0;
}
