/* daemon/http_json.c - the HTTP API's JSON: routes to Requests, Responses
 * to JSON.
 *
 * Nothing here runs an operation: srv_http_build() turns a method, a path,
 * a query and a JSON body into the framed armmap.v1.Request the protobuf
 * path would receive, and srv_http_render() turns the Response it answered
 * into the HTTP reply.  http.c carries the frames (see there).
 *
 * JSON conventions: addresses, pfns and descriptor values are "0x..."
 * strings; 64-bit numbers (ids, seqs, times, byte counts) are decimal
 * strings; small counts are JSON numbers; enums are names ("kmap",
 * "pkmap", "translation-l1"), never numbers or base64.  Inputs take a
 * number either as a JSON integer or as a string strtoull() reads whole
 * ("0xff2fe", "4096").
 */
#include "srv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "armmap.pb-c.h"
#include "store.h"
#include "names.h"

#define HTTP_REQ_ID 2 /* the API request's frame id */

/* ------------------------------------------------------------------ */
/* Memory for a Request being built: every block freed after packing.  */
/* ------------------------------------------------------------------ */

struct bag {
    void **p;
    size_t n, cap;
};

static void *bag_alloc(struct bag *b, size_t size)
{
    void *q;

    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        void **np = realloc(b->p, cap * sizeof(*np));

        if (np == NULL)
            abort();
        b->p = np;
        b->cap = cap;
    }
    q = calloc(1, size ? size : 1);
    if (q == NULL)
        abort();
    b->p[b->n++] = q;
    return q;
}

static char *bag_strdup(struct bag *b, const char *s)
{
    char *d = bag_alloc(b, strlen(s) + 1);

    memcpy(d, s, strlen(s) + 1);
    return d;
}

static void bag_free(struct bag *b)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        free(b->p[i]);
    free(b->p);
}

#define BNEW(b, T, INIT) ((T *)bag_new((b), sizeof(T), &(T)INIT))

static void *bag_new(struct bag *b, size_t size, const void *init)
{
    void *q = bag_alloc(b, size);

    memcpy(q, init, size);
    return q;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static const char *const zone_names[] = { "dma", "normal", "highmem" };

/* Region and fault names: proto/names.h. */
static const char *region_name(unsigned r)
{
    return names_region(r) != NULL ? names_region(r) : "unknown";
}

static const char *fault_name(unsigned f)
{
    return names_fault(f) != NULL ? names_fault(f) : "unknown";
}

int srv_http_status(int code)
{
    switch (code) {
    case MM_OK:
        return 200;
    case MM_INVALID_ARGUMENT:
        return 400;
    case MM_UNAUTHENTICATED:
        return 401;
    case MM_PERMISSION_DENIED:
        return 403;
    case MM_NOT_FOUND:
        return 404;
    case MM_ALREADY_EXISTS:
    case MM_WOULD_BLOCK:
    case MM_ORDER:
        return 409;
    case MM_NO_MEMORY:
    case MM_FAULT:
        return 422;
    case MM_RESOURCE_EXHAUSTED:
        return 429;
    case MM_UNAVAILABLE:
        return 503;
    case MM_MOVED:
        return 307; /* Location: the owner node (cluster mode) */
    default:
        return 500;
    }
}

/* @o as compact JSON and a newline (for curl users), malloc'd; takes @o. */
static char *dump_line(json_t *o)
{
    char *text, *line;
    size_t n;

    if (o == NULL)
        abort();
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        abort();
    n = strlen(text);
    line = malloc(n + 2);
    if (line == NULL)
        abort();
    memcpy(line, text, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    free(text);
    return line;
}

char *srv_http_error_json(int code, const char *msg)
{
    return dump_line(json_pack("{s:s,s:s}", "code",
                               mm_status_name((enum mm_status)code), "message",
                               msg));
}

/* ------------------------------------------------------------------ */
/* Reading numbers from JSON and the query string                      */
/* ------------------------------------------------------------------ */

/* A whole unsigned number in @text (base as strtoull's 0). */
static bool text_u64(const char *text, uint64_t *out)
{
    char *end;

    if (text == NULL || text[0] == '\0' || text[0] == '-' ||
        isspace((unsigned char)text[0]))
        return false;
    errno = 0;
    *out = strtoull(text, &end, 0);
    return errno == 0 && *end == '\0';
}

/* @v as an unsigned number up to @max: a JSON integer or a string. */
static bool json_u64(const json_t *v, uint64_t max, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        if (i < 0)
            return false;
        *out = (uint64_t)i;
    } else if (!json_is_string(v) || !text_u64(json_string_value(v), out)) {
        return false;
    }
    return *out <= max;
}

static void fail(struct srv_http_call *hc, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct srv_http_call *hc, int code, const char *fmt, ...)
{
    va_list ap;

    hc->code = code;
    hc->http_status = srv_http_status(code);
    va_start(ap, fmt);
    vsnprintf(hc->msg, sizeof(hc->msg), fmt, ap);
    va_end(ap);
}

/* The query parameter @key of @query ("a=1&b=2"), copied into @buf;
 * false if absent.  Values are numbers and names: no %-decoding. */
static bool query_get(const char *query, const char *key, char *buf,
                      size_t size)
{
    size_t klen = strlen(key);
    const char *p = query;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(buf, size, "%.*s", (int)(len - klen - 1), p + klen + 1);
            return true;
        }
        if (len == klen && strncmp(p, key, klen) == 0) {
            buf[0] = '\0';
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* Parameter @key as a number; true if absent (*@out untouched) or valid. */
static bool query_u64(struct srv_http_call *hc, const char *query,
                      const char *key, uint64_t max, uint64_t *out)
{
    char buf[64];

    if (!query_get(query, key, buf, sizeof(buf)))
        return true;
    if (!text_u64(buf, out) || *out > max) {
        fail(hc, MM_INVALID_ARGUMENT,
             "query parameter '%s': '%.40s' is not "
             "a number up to %" PRIu64,
             key, buf, max);
        return false;
    }
    return true;
}

static bool query_bool(const char *query, const char *key)
{
    char buf[16];

    return query_get(query, key, buf, sizeof(buf)) &&
           (buf[0] == '\0' || strcmp(buf, "1") == 0 ||
            strcmp(buf, "true") == 0);
}

/* ------------------------------------------------------------------ */
/* Building Requests                                                   */
/* ------------------------------------------------------------------ */

struct build {
    struct srv_http_call *hc;
    struct bag bag;
    Armmap__V1__Request *req;
    json_t *body; /* parsed body, or NULL */
    const char *query;
    uint64_t machine;
};

/* The body as a JSON object (an empty body is {}); false with hc failed. */
static bool need_object(struct build *b, const char *body, size_t len)
{
    json_error_t je;

    if (len == 0) {
        b->body = json_object();
        return true;
    }
    b->body = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (b->body == NULL) {
        fail(b->hc, MM_INVALID_ARGUMENT,
             "body: not JSON: %s (line %d, "
             "column %d)",
             je.text, je.line, je.column);
        return false;
    }
    if (!json_is_object(b->body)) {
        fail(b->hc, MM_INVALID_ARGUMENT, "body: a JSON object is expected");
        return false;
    }
    return true;
}

static void build_presets(struct build *b)
{
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_PRESETS;
    b->req->presets = BNEW(&b->bag, Armmap__V1__Presets,
                           ARMMAP__V1__PRESETS__INIT);
    b->hc->shape = SRV_HTTP_PRESETS;
}

static void build_list(struct build *b)
{
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_LIST;
    b->req->list = BNEW(&b->bag, Armmap__V1__MachineRef,
                        ARMMAP__V1__MACHINE_REF__INIT);
    b->hc->shape = SRV_HTTP_MACHINES;
}

/* Every key but "preset" and "name" is a config setting, in body order. */
static void build_create(struct build *b)
{
    Armmap__V1__Create *cr = BNEW(&b->bag, Armmap__V1__Create,
                                  ARMMAP__V1__CREATE__INIT);
    const char *key;
    json_t *v;
    size_t n = 0;

    cr->settings = bag_alloc(&b->bag, (json_object_size(b->body) + 1) *
                                          sizeof(*cr->settings));
    json_object_foreach(b->body, key, v)
    {
        char num[32];
        const char *text = json_string_value(v);

        if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            text = num;
        }
        if (text == NULL) {
            fail(b->hc, MM_INVALID_ARGUMENT,
                 "create: field '%.60s' must be "
                 "a string or a number",
                 key);
            return;
        }
        if (strcmp(key, "preset") == 0) {
            cr->preset = bag_strdup(&b->bag, text);
        } else if (strcmp(key, "name") == 0) {
            cr->name = bag_strdup(&b->bag, text);
        } else {
            Armmap__V1__Setting *st = BNEW(&b->bag, Armmap__V1__Setting,
                                           ARMMAP__V1__SETTING__INIT);

            st->key = bag_strdup(&b->bag, key);
            st->value = bag_strdup(&b->bag, text);
            cr->settings[n++] = st;
        }
    }
    cr->n_settings = n;
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    b->req->create = cr;
    b->hc->shape = SRV_HTTP_MACHINE;
    b->hc->created = true;
}

static Armmap__V1__MachineRef *machine_ref(struct build *b)
{
    Armmap__V1__MachineRef *r = BNEW(&b->bag, Armmap__V1__MachineRef,
                                     ARMMAP__V1__MACHINE_REF__INIT);

    r->machine = b->machine;
    return r;
}

/* The argument names of each op, in the order of Op.args; a trailing
 * '?' marks an optional last one. */
static const char *const op_args[MM_OP_COUNT][3] = {
    [MM_OP_ALLOC] = { "zone", "order?" },
    [MM_OP_FREE] = { "pfn", "order?" },
    [MM_OP_KMAP] = { "pfn" },
    [MM_OP_KUNMAP] = { "pfn" },
    [MM_OP_KMAP_ATOMIC] = { "pfn", "slot?" },
    [MM_OP_KUNMAP_ATOMIC] = { "va" },
    [MM_OP_VMALLOC] = { "size" },
    [MM_OP_VFREE] = { "va" },
    [MM_OP_VMAP] = { "pfns" },
    [MM_OP_VUNMAP] = { "va" },
    [MM_OP_IOREMAP] = { "phys", "size" },
    [MM_OP_IOUNMAP] = { "va" },
    [MM_OP_MODULE_ALLOC] = { "size" },
    [MM_OP_MODULE_FREE] = { "va" },
    [MM_OP_MODULE_ENABLE_RO] = { "va", "text_size", "ro_size" },
};

/* Op.zone: a name or its number. */
static bool zone_arg(const json_t *v, uint64_t *out)
{
    size_t i;

    if (json_is_string(v)) {
        for (i = 0; i < 3; i++) {
            if (strcasecmp(json_string_value(v), zone_names[i]) == 0) {
                *out = i;
                return true;
            }
        }
    }
    return json_u64(v, 2, out);
}

/* A size: a number, or a string with K, M or G as the settings take. */
static bool size_arg(const json_t *v, uint64_t *out)
{
    if (json_u64(v, UINT32_MAX, out))
        return true;
    return json_is_string(v) && srv_parse_size(json_string_value(v), out) &&
           *out <= UINT32_MAX;
}

/* One argument of op @o called @name into args[*n]; vmap's "pfns" is an
 * array.  Return: false with hc failed. */
static bool op_arg(struct build *b, const char *where, const json_t *o,
                   const char *name, uint32_t *args, size_t *n)
{
    size_t len = strcspn(name, "?");
    char key[16];
    const json_t *v;
    uint64_t x;
    size_t i;

    snprintf(key, sizeof(key), "%.*s", (int)len, name);
    v = json_object_get(o, key);
    if (v == NULL) {
        if (name[len] == '?')
            return true;
        fail(b->hc, MM_INVALID_ARGUMENT, "%s: field '%s' is missing", where,
             key);
        return false;
    }
    if (strcmp(key, "pfns") == 0) {
        if (!json_is_array(v) || json_array_size(v) == 0 ||
            json_array_size(v) > MM_OP_MAX_ARGS) {
            fail(b->hc, MM_INVALID_ARGUMENT,
                 "%s: field 'pfns' must be an "
                 "array of 1 to %d pfns",
                 where, MM_OP_MAX_ARGS);
            return false;
        }
        for (i = 0; i < json_array_size(v); i++) {
            if (!json_u64(json_array_get(v, i), UINT32_MAX, &x)) {
                fail(b->hc, MM_INVALID_ARGUMENT,
                     "%s: pfns[%zu] is not a "
                     "32-bit number",
                     where, i);
                return false;
            }
            args[(*n)++] = (uint32_t)x;
        }
        return true;
    }
    if (strcmp(key, "zone") == 0   ? !zone_arg(v, &x)
        : strcmp(key, "size") == 0 ? !size_arg(v, &x)
                                   : !json_u64(v, UINT32_MAX, &x)) {
        fail(b->hc, MM_INVALID_ARGUMENT, "%s: field '%s' must be %s", where,
             key,
             strcmp(key, "zone") == 0 ? "dma, normal or highmem"
             : strcmp(key, "size") == 0
                 ? "a size below 4G (4096, \"0x1000\", \"8K\", \"1M\")"
                 : "a 32-bit number or a \"0x...\" string");
        return false;
    }
    args[(*n)++] = (uint32_t)x;
    return true;
}

/* {"op":"kmap","pfn":"0xff2fe","cpu":0,"wait_ms":0} (or "args":[...]). */
static Armmap__V1__Op *parse_op(struct build *b, const json_t *o,
                                const char *where)
{
    Armmap__V1__Op *op = BNEW(&b->bag, Armmap__V1__Op, ARMMAP__V1__OP__INIT);
    const json_t *name = json_object_get(o, "op"), *raw;
    enum mm_opcode code;
    uint64_t x = 0;
    size_t n = 0, i;

    if (!json_is_object(o)) {
        fail(b->hc, MM_INVALID_ARGUMENT, "%s: an object is expected", where);
        return NULL;
    }
    code = json_is_string(name) ? mm_op_lookup(json_string_value(name))
                                : MM_OP_NONE;
    if (code == MM_OP_NONE) {
        fail(b->hc, MM_INVALID_ARGUMENT,
             "%s: field 'op' must name an "
             "operation (alloc, free, kmap, kunmap, kmap_atomic, ...)",
             where);
        return NULL;
    }
    op->machine = b->machine;
    op->code = (Armmap__V1__OpCode)code;
    raw = json_object_get(o, "args");
    /* Room for what this op can take: "args", vmap's "pfns", or 3. */
    op->args = bag_alloc(&b->bag,
                         (json_array_size(raw) +
                          json_array_size(json_object_get(o, "pfns")) + 3) *
                             sizeof(*op->args));
    if (raw != NULL) {
        for (i = 0; json_is_array(raw) && i < json_array_size(raw) &&
                    i < MM_OP_MAX_ARGS;
             i++) {
            if (!json_u64(json_array_get(raw, i), UINT32_MAX, &x))
                break;
            op->args[n++] = (uint32_t)x;
        }
        if (!json_is_array(raw) || i != json_array_size(raw)) {
            fail(b->hc, MM_INVALID_ARGUMENT,
                 "%s: field 'args' must be an "
                 "array of at most %d 32-bit numbers",
                 where, MM_OP_MAX_ARGS);
            return NULL;
        }
    } else {
        for (i = 0; i < 3 && op_args[code][i] != NULL; i++) {
            if (!op_arg(b, where, o, op_args[code][i], op->args, &n))
                return NULL;
        }
        /* alloc and free take an order; 0 when not given. */
        if ((code == MM_OP_ALLOC || code == MM_OP_FREE) && n == 1)
            op->args[n++] = 0;
    }
    op->n_args = n;
    if (json_object_get(o, "cpu") != NULL) {
        if (!json_u64(json_object_get(o, "cpu"), UINT32_MAX, &x)) {
            fail(b->hc, MM_INVALID_ARGUMENT,
                 "%s: field 'cpu' must be a "
                 "number",
                 where);
            return NULL;
        }
        op->cpu = (uint32_t)x;
    }
    if (json_object_get(o, "wait_ms") != NULL) {
        if (!json_u64(json_object_get(o, "wait_ms"), UINT32_MAX, &x)) {
            fail(b->hc, MM_INVALID_ARGUMENT,
                 "%s: field 'wait_ms' must be a "
                 "number",
                 where);
            return NULL;
        }
        op->wait_ms = (uint32_t)x;
    }
    return op;
}

/* One op, or {"ops":[...],"stop_on_error":true} as one Batch. */
static void build_ops(struct build *b)
{
    const json_t *ops = json_object_get(b->body, "ops");
    Armmap__V1__Batch *bt;
    char where[32];
    size_t i;

    if (ops == NULL) {
        Armmap__V1__Op *op = parse_op(b, b->body, "op");

        if (op == NULL)
            return;
        b->req->body_case = ARMMAP__V1__REQUEST__BODY_OP;
        b->req->op = op;
        b->hc->shape = SRV_HTTP_OP;
        b->hc->opcode = (int)op->code;
        return;
    }
    if (!json_is_array(ops)) {
        fail(b->hc, MM_INVALID_ARGUMENT, "ops: an array is expected");
        return;
    }
    bt = BNEW(&b->bag, Armmap__V1__Batch, ARMMAP__V1__BATCH__INIT);
    bt->machine = b->machine;
    bt->stop_on_error = json_is_true(json_object_get(b->body, "stop_on_error"));
    bt->ops = bag_alloc(&b->bag, (json_array_size(ops) + 1) * sizeof(*bt->ops));
    for (i = 0; i < json_array_size(ops); i++) {
        snprintf(where, sizeof(where), "ops[%zu]", i);
        bt->ops[i] = parse_op(b, json_array_get(ops, i), where);
        if (bt->ops[i] == NULL)
            return;
    }
    bt->n_ops = i;
    b->hc->addr = malloc((i + 1) * sizeof(*b->hc->addr));
    if (b->hc->addr == NULL)
        abort();
    for (i = 0; i < bt->n_ops; i++)
        b->hc->addr[i] = (uint32_t)bt->ops[i]->code;
    b->hc->n_addr = bt->n_ops;
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    b->req->batch = bt;
    b->hc->shape = SRV_HTTP_BATCH;
}

/* Access letters r, w, x, u as Translate.access bits. */
static bool parse_access(const char *text, uint32_t *out)
{
    *out = 0;
    for (; *text != '\0'; text++) {
        const char *p = strchr("rwxu", *text);

        if (p == NULL)
            return false;
        *out |= 1u << (p - "rwxu");
    }
    return true;
}

/* Addresses from the query's comma-separated @key, or the body's array
 * @jkey, into a bag array; false with hc failed. */
static bool addresses(struct build *b, bool post, const char *key,
                      const char *jkey, uint32_t **out, size_t *n)
{
    size_t i, cap;

    if (post) {
        const json_t *a = json_object_get(b->body, jkey);

        if (!json_is_array(a) || json_array_size(a) == 0) {
            fail(b->hc, MM_INVALID_ARGUMENT,
                 "%s: field '%s' must be a "
                 "non-empty array of addresses",
                 key, jkey);
            return false;
        }
        *out = bag_alloc(&b->bag, json_array_size(a) * sizeof(**out));
        for (i = 0; i < json_array_size(a); i++) {
            uint64_t x;

            if (!json_u64(json_array_get(a, i), UINT32_MAX, &x)) {
                fail(b->hc, MM_INVALID_ARGUMENT,
                     "%s: %s[%zu] is not a 32-bit "
                     "address",
                     key, jkey, i);
                return false;
            }
            (*out)[i] = (uint32_t)x;
        }
        *n = i;
        return true;
    } else {
        char buf[8192], *save = NULL, *tok;

        if (!query_get(b->query, key, buf, sizeof(buf)) || buf[0] == '\0') {
            fail(b->hc, MM_INVALID_ARGUMENT,
                 "query parameter '%s' is "
                 "missing (one address, or several separated by commas)",
                 key);
            return false;
        }
        cap = 1;
        for (i = 0; buf[i] != '\0'; i++)
            cap += buf[i] == ',';
        *out = bag_alloc(&b->bag, cap * sizeof(**out));
        *n = 0;
        for (tok = strtok_r(buf, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            uint64_t x;

            if (!text_u64(tok, &x) || x > UINT32_MAX) {
                fail(b->hc, MM_INVALID_ARGUMENT,
                     "query parameter '%s': "
                     "'%.40s' is not a 32-bit address",
                     key, tok);
                return false;
            }
            (*out)[(*n)++] = (uint32_t)x;
        }
        return true;
    }
}

/* Keeps @n values for the rendering (addresses echoed, batch opcodes). */
static void keep(struct srv_http_call *hc, const uint32_t *v, size_t n)
{
    hc->addr = malloc((n + 1) * sizeof(*hc->addr));
    if (hc->addr == NULL)
        abort();
    memcpy(hc->addr, v, n * sizeof(*v));
    hc->n_addr = n;
}

static void build_translate(struct build *b, bool post)
{
    Armmap__V1__Translate *t = BNEW(&b->bag, Armmap__V1__Translate,
                                    ARMMAP__V1__TRANSLATE__INIT);
    char acc[16] = "";
    bool have_acc;

    t->machine = b->machine;
    if (!addresses(b, post, "va", "vas", &t->va, &t->n_va))
        return;
    if (post) {
        const json_t *a = json_object_get(b->body, "access");

        t->walk = json_is_true(json_object_get(b->body, "walk"));
        have_acc = json_is_string(a);
        if (have_acc)
            snprintf(acc, sizeof(acc), "%s", json_string_value(a));
        else if (a != NULL)
            acc[0] = '?';
        have_acc = a != NULL;
    } else {
        t->walk = query_bool(b->query, "walk");
        have_acc = query_get(b->query, "access", acc, sizeof(acc));
    }
    if (have_acc && !parse_access(acc, &t->access)) {
        fail(b->hc, MM_INVALID_ARGUMENT,
             "access: '%.16s' is not made of "
             "the letters r, w, x and u",
             acc);
        return;
    }
    keep(b->hc, t->va, t->n_va);
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    b->req->translate = t;
    b->hc->shape = SRV_HTTP_TRANSLATE;
}

static void build_phys(struct build *b, bool post)
{
    Armmap__V1__Phys *p = BNEW(&b->bag, Armmap__V1__Phys,
                               ARMMAP__V1__PHYS__INIT);

    p->machine = b->machine;
    if (!addresses(b, post, "pa", "pas", &p->pa, &p->n_pa))
        return;
    keep(b->hc, p->pa, p->n_pa);
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_PHYS;
    b->req->phys = p;
    b->hc->shape = SRV_HTTP_PHYS;
}

static void build_report(struct build *b, const char *name)
{
    Armmap__V1__Report *r = BNEW(&b->bag, Armmap__V1__Report,
                                 ARMMAP__V1__REPORT__INIT);
    enum mm_report kind;

    if (!mm_report_lookup(name, &kind)) {
        fail(b->hc, MM_NOT_FOUND,
             "report '%.40s' does not exist (layout, "
             "memory, iomem, buddyinfo, meminfo, vmallocinfo, pkmap, "
             "fixmap, pagetables, regions)",
             name);
        return;
    }
    r->machine = b->machine;
    r->kind = (Armmap__V1__ReportKind)kind;
    /* The Accept header is read after the Request is built: ask for both,
     * render one (srv_http_render()). */
    r->format = ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT_AND_JSON;
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    b->req->report = r;
    b->hc->shape = SRV_HTTP_REPORT;
}

static void build_history(struct build *b)
{
    Armmap__V1__History *h = BNEW(&b->bag, Armmap__V1__History,
                                  ARMMAP__V1__HISTORY__INIT);
    uint64_t limit = 0;
    char op[32];

    h->machine = b->machine;
    if (!query_u64(b->hc, b->query, "since", UINT64_MAX, &h->since_seq) ||
        !query_u64(b->hc, b->query, "until", UINT64_MAX, &h->until_seq) ||
        !query_u64(b->hc, b->query, "after", UINT64_MAX, &h->after_seq) ||
        !query_u64(b->hc, b->query, "limit", UINT32_MAX, &limit))
        return;
    h->limit = (uint32_t)limit;
    h->newest_first = query_bool(b->query, "newest_first");
    if (query_get(b->query, "op", op, sizeof(op))) {
        h->op = (Armmap__V1__OpCode)mm_op_lookup(op);
        if (h->op == ARMMAP__V1__OP_CODE__OP_NONE) {
            fail(b->hc, MM_INVALID_ARGUMENT,
                 "query parameter 'op': '%.31s' "
                 "is not an operation",
                 op);
            return;
        }
    }
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    b->req->history = h;
    b->hc->shape = SRV_HTTP_HISTORY;
}

/* The event stream: a Describe finds the machine as its tenant sees it
 * (or answers 404); http.c then hands the request to sse.c.  ?since=N
 * resumes after seq N, as Last-Event-ID does. */
static void build_events(struct build *b)
{
    char buf[32];

    b->hc->has_since = query_get(b->query, "since", buf, sizeof(buf));
    if (b->hc->has_since &&
        !query_u64(b->hc, b->query, "since", UINT64_MAX - 1, &b->hc->since))
        return;
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    b->req->describe = machine_ref(b);
    b->hc->shape = SRV_HTTP_EVENTS;
}

static const char *body_name(struct build *b)
{
    const json_t *n = json_object_get(b->body, "name");

    if (n != NULL && !json_is_string(n)) {
        fail(b->hc, MM_INVALID_ARGUMENT, "field 'name' must be a string");
        return NULL;
    }
    return bag_strdup(&b->bag, n ? json_string_value(n) : "");
}

static void build_fork(struct build *b)
{
    Armmap__V1__Fork *f = BNEW(&b->bag, Armmap__V1__Fork,
                               ARMMAP__V1__FORK__INIT);
    const char *name = body_name(b);

    if (name == NULL)
        return;
    if (!json_u64(json_object_get(b->body, "at"), UINT64_MAX, &f->at_seq)) {
        fail(b->hc, MM_INVALID_ARGUMENT, "fork: field 'at' must be a seq");
        return;
    }
    f->machine = b->machine;
    f->name = (char *)name;
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    b->req->fork = f;
    b->hc->shape = SRV_HTTP_MACHINE;
    b->hc->created = true;
}

static void build_clone(struct build *b)
{
    Armmap__V1__Clone *c = BNEW(&b->bag, Armmap__V1__Clone,
                                ARMMAP__V1__CLONE__INIT);
    const char *name = body_name(b);

    if (name == NULL)
        return;
    c->machine = b->machine;
    c->name = (char *)name;
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    b->req->clone = c;
    b->hc->shape = SRV_HTTP_MACHINE;
    b->hc->created = true;
}

/* Splits @path after "/api/v1/" into at most @max segments. */
static size_t split_path(char *path, char **seg, size_t max)
{
    size_t n = 0;
    char *save = NULL, *tok;

    for (tok = strtok_r(path, "/", &save); tok != NULL;
         tok = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return max + 1;
        seg[n++] = tok;
    }
    return n;
}

static void no_route(struct build *b, const char *method, const char *path)
{
    fail(b->hc, MM_NOT_FOUND, "no such resource: %.8s %.200s", method, path);
}

static void wrong_method(struct build *b, const char *method, const char *path,
                         const char *allowed)
{
    fail(b->hc, MM_INVALID_ARGUMENT, "%.8s is not allowed on %.200s (%s)",
         method, path, allowed);
    b->hc->http_status = 405;
    snprintf(b->hc->allow, sizeof(b->hc->allow), "%s", allowed);
}

/* The reads, of now or of the past: @seg[0] is "reports" (then @seg[1]
 * the name), "translate" or "phys".  Return: false if it is none of them
 * (nothing is built or refused). */
static bool route_read(struct build *b, const char *method, const char *path,
                       char **seg, size_t n)
{
    bool get = strcmp(method, "GET") == 0;
    bool post = strcmp(method, "POST") == 0;

    if (n == 2 && strcmp(seg[0], "reports") == 0) {
        if (get)
            build_report(b, seg[1]);
        else
            wrong_method(b, method, path, "GET");
        return true;
    }
    if (n != 1 ||
        (strcmp(seg[0], "translate") != 0 && strcmp(seg[0], "phys") != 0))
        return false;
    if (!get && !post)
        wrong_method(b, method, path, "GET, POST");
    else if (seg[0][0] == 't')
        build_translate(b, post);
    else
        build_phys(b, post);
    return true;
}

/*
 * /machines/{id}/at/{seq}/(reports/{name}|translate|phys): the read is
 * built as for the machine now, its arguments kept in @hc, and the frame
 * sent is a Describe, which finds the machine as its tenant sees it (or
 * answers 404); at_cache.c then answers from the past state.
 */
static void route_at(struct build *b, const char *method, const char *path,
                     char **seg, size_t n)
{
    if (!text_u64(seg[2], &b->hc->at_seq)) {
        fail(b->hc, MM_NOT_FOUND, "at: '%.40s' is not a seq", seg[2]);
        return;
    }
    if (n < 4 || !route_read(b, method, path, seg + 3, n - 3))
        no_route(b, method, path);
    if (b->hc->http_status != 0)
        return;
    if (b->req->body_case == ARMMAP__V1__REQUEST__BODY_TRANSLATE) {
        b->hc->walk = b->req->translate->walk;
        b->hc->access = b->req->translate->access;
    } else if (b->req->body_case == ARMMAP__V1__REQUEST__BODY_REPORT) {
        b->hc->report_kind = (int)b->req->report->kind;
    }
    b->hc->at = true;
    b->req->body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    b->req->describe = machine_ref(b);
}

/* /machines/{id}/... with @seg[0] the id. */
static void route_machine(struct build *b, const char *method, const char *path,
                          char **seg, size_t n)
{
    bool get = strcmp(method, "GET") == 0;
    bool post = strcmp(method, "POST") == 0;
    const char *what = n > 1 ? seg[1] : "";

    if (!text_u64(seg[0], &b->machine) || b->machine == 0) {
        fail(b->hc, MM_NOT_FOUND, "machine '%.40s' does not exist", seg[0]);
        return;
    }
    b->hc->machine = b->machine;
    if (n >= 3 && strcmp(what, "at") == 0) {
        route_at(b, method, path, seg, n);
        return;
    }
    if (n > 3) {
        no_route(b, method, path);
        return;
    }
    if (n == 1) {
        if (get) {
            b->req->body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
            b->req->describe = machine_ref(b);
            b->hc->shape = SRV_HTTP_MACHINE;
        } else if (strcmp(method, "DELETE") == 0) {
            b->req->body_case = ARMMAP__V1__REQUEST__BODY_DESTROY;
            b->req->destroy = machine_ref(b);
            b->hc->shape = SRV_HTTP_DELETED;
        } else {
            wrong_method(b, method, path, "GET, DELETE");
        }
        return;
    }
    if (route_read(b, method, path, seg + 1, n - 1))
        return;
    if (n == 2 && strcmp(what, "ops") == 0) {
        if (post)
            build_ops(b);
        else
            wrong_method(b, method, path, "POST");
    } else if (n == 2 && strcmp(what, "history") == 0) {
        if (get)
            build_history(b);
        else
            wrong_method(b, method, path, "GET");
    } else if (n == 2 && strcmp(what, "events") == 0) {
        if (get)
            build_events(b);
        else
            wrong_method(b, method, path, "GET");
    } else if (n == 2 &&
               (strcmp(what, "fork") == 0 || strcmp(what, "clone") == 0)) {
        if (!post)
            wrong_method(b, method, path, "POST");
        else if (what[0] == 'f')
            build_fork(b);
        else
            build_clone(b);
    } else {
        no_route(b, method, path);
    }
}

static void route(struct build *b, const char *method, const char *path)
{
    char copy[512], *seg[8];
    bool get = strcmp(method, "GET") == 0;
    bool post = strcmp(method, "POST") == 0;
    size_t n;

    if (strncmp(path, "/api/v1/", 8) != 0 || strlen(path) >= sizeof(copy)) {
        no_route(b, method, path);
        return;
    }
    snprintf(copy, sizeof(copy), "%s", path + 8);
    n = split_path(copy, seg, 7);
    if (n == 1 && strcmp(seg[0], "presets") == 0) {
        if (get)
            build_presets(b);
        else
            wrong_method(b, method, path, "GET");
    } else if (n == 1 && strcmp(seg[0], "machines") == 0) {
        if (get)
            build_list(b);
        else if (post)
            build_create(b);
        else
            wrong_method(b, method, path, "GET, POST");
    } else if (n >= 2 && n <= 6 && strcmp(seg[0], "machines") == 0) {
        route_machine(b, method, path, seg + 1, n - 1);
    } else {
        no_route(b, method, path);
    }
}

int srv_http_build(struct srv_http_call *hc, const char *method,
                   const char *path, const char *query, const char *body,
                   size_t len)
{
    struct build b;
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    size_t n;

    memset(hc, 0, sizeof(*hc));
    memset(&b, 0, sizeof(b));
    b.hc = hc;
    b.req = &req;
    b.query = query ? query : "";
    req.id = HTTP_REQ_ID;
    if (need_object(&b, body, len))
        route(&b, method, path);
    if (hc->http_status == 0 &&
        req.body_case == ARMMAP__V1__REQUEST__BODY__NOT_SET)
        fail(hc, MM_INTERNAL, "route built nothing");
    if (hc->http_status == 0) {
        n = armmap__v1__request__get_packed_size(&req);
        hc->frame = malloc(n + 4);
        if (hc->frame == NULL)
            abort();
        hc->frame[0] = (uint8_t)(n >> 24);
        hc->frame[1] = (uint8_t)(n >> 16);
        hc->frame[2] = (uint8_t)(n >> 8);
        hc->frame[3] = (uint8_t)n;
        armmap__v1__request__pack(&req, hc->frame + 4);
        hc->len = n + 4;
    }
    json_decref(b.body);
    bag_free(&b.bag);
    if (hc->http_status != 0)
        srv_http_call_free(hc);
    return hc->http_status;
}

void srv_http_call_free(struct srv_http_call *hc)
{
    free(hc->frame);
    free(hc->addr);
    hc->frame = NULL;
    hc->addr = NULL;
}

/* ------------------------------------------------------------------ */
/* Rendering Responses                                                 */
/* ------------------------------------------------------------------ */

static json_t *hex(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    return json_string(buf);
}

static json_t *dec(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

static json_t *zone_json(const Armmap__V1__ZoneInfo *z)
{
    json_t *nf = json_array();
    size_t i;

    for (i = 0; i < z->n_nr_free; i++)
        json_array_append_new(nf, json_integer(z->nr_free[i]));
    return json_pack("{s:s,s:o,s:o,s:I,s:I,s:I,s:o}", "name", z->name,
                     "start_pfn", hex(z->start_pfn), "end_pfn", hex(z->end_pfn),
                     "present", (json_int_t)z->present, "managed",
                     (json_int_t)z->managed, "free", (json_int_t)z->free,
                     "nr_free", nf);
}

static json_t *machine_json(const Armmap__V1__Machine *m)
{
    json_t *zones = json_array(), *parked = json_array();
    json_t *o;
    size_t i;

    for (i = 0; i < m->n_zones; i++)
        json_array_append_new(zones, zone_json(m->zones[i]));
    for (i = 0; i < m->n_parked; i++)
        json_array_append_new(parked, json_pack("{s:o,s:I}", "pfn",
                                                hex(m->parked[i]->pfn), "cpu",
                                                (json_int_t)m->parked[i]->cpu));
    o = json_pack("{s:o,s:s,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,"
                  "s:o,s:o}",
                  "id", dec(m->id), "name", m->name, "tenant", m->tenant,
                  "config", m->config, "seq", dec(m->seq), "created_ms",
                  dec((uint64_t)m->created_ms), "zones", zones, "pkmap_in_use",
                  (json_int_t)m->pkmap_in_use, "pkmap_flushes",
                  (json_int_t)m->pkmap_flushes, "tlb_flushes",
                  (json_int_t)m->tlb_flushes, "vmalloc_areas",
                  (json_int_t)m->vmalloc_areas, "vmalloc_pages",
                  (json_int_t)m->vmalloc_pages, "pte_pages",
                  (json_int_t)m->pte_pages, "host_bytes", dec(m->host_bytes),
                  "events", dec(m->events));
    if (m->broken != NULL && m->broken[0] != '\0')
        json_object_set_new(o, "broken", json_string(m->broken));
    json_object_set_new(o, "parked_kmaps", json_integer(m->parked_kmaps));
    json_object_set_new(o, "parked", parked);
    return o;
}

static json_t *flags_json(uint32_t flags)
{
    static const char *const names[] = { "displaced", "wake", "flushed" };
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < 3; i++) {
        if (flags & (1u << i))
            json_array_append_new(a, json_string(names[i]));
    }
    return a;
}

static json_t *op_result_json(int opcode, const Armmap__V1__OpResult *r)
{
    const char *name = mm_op_name((enum mm_opcode)opcode);
    int code = r && r->status ? (int)r->status->code : MM_OK;
    json_t *o = json_pack("{s:s,s:s}", "op", name ? name : "none", "code",
                          mm_status_name((enum mm_status)code));

    if (r == NULL)
        return o;
    if (code != MM_OK) {
        json_object_set_new(o, "message", json_string(r->status->message));
        return o;
    }
    json_object_set_new(o, "value", hex(r->value));
    json_object_set_new(o, "aux", json_integer(r->aux));
    json_object_set_new(o, "flags", flags_json(r->flags));
    json_object_set_new(o, "seq", dec(r->seq));
    return o;
}

static json_t *walk_json(const Armmap__V1__Walk *w)
{
    json_t *steps = json_array();
    size_t i;

    for (i = 0; i < w->n_steps; i++) {
        const Armmap__V1__WalkStep *s = w->steps[i];

        json_array_append_new(
            steps,
            json_pack("{s:I,s:s,s:o,s:o,s:I,s:I,s:I,s:b,s:b,s:b,s:b,s:b,s:o}",
                      "level", (json_int_t)s->level, "kind", s->kind, "addr",
                      hex(s->addr), "desc", hex(s->desc), "domain",
                      (json_int_t)s->domain, "ap", (json_int_t)s->ap, "tex",
                      (json_int_t)s->tex, "c", s->c, "b", s->b, "s", s->s, "ng",
                      s->ng, "xn", s->xn, "next", hex(s->next)));
    }
    return json_pack("{s:o,s:s}", "steps", steps, "text", w->text);
}

static json_t *translate_json(const struct srv_http_call *hc,
                              const Armmap__V1__TranslateResult *t)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < t->n_pa; i++) {
        unsigned f = i < t->n_fault ? (unsigned)t->fault[i] : 0;
        unsigned r = i < t->n_region ? (unsigned)t->region[i] : 0;
        json_t *o = json_pack("{s:o,s:o,s:s,s:s}", "va",
                              hex(i < hc->n_addr ? hc->addr[i] : 0), "pa",
                              f ? json_null() : hex(t->pa[i]), "region",
                              region_name(r), "fault", fault_name(f));

        if (i < t->n_walks)
            json_object_set_new(o, "walk", walk_json(t->walks[i]));
        json_array_append_new(a, o);
    }
    return json_pack("{s:o}", "results", a);
}

static json_t *phys_json(const struct srv_http_call *hc,
                         const Armmap__V1__PhysResult *p)
{
    json_t *a = json_array();
    size_t i, j;

    for (i = 0; i < p->n_aliases; i++) {
        const Armmap__V1__PhysResult__Aliases *al = p->aliases[i];
        json_t *vas = json_array();

        for (j = 0; j < al->n_va; j++)
            json_array_append_new(
                vas,
                json_pack("{s:o,s:s}", "va", hex(al->va[j]), "region",
                          region_name(j < al->n_region ? (unsigned)al->region[j]
                                                       : 0)));
        json_array_append_new(a,
                              json_pack("{s:o,s:o}", "pa",
                                        hex(i < hc->n_addr ? hc->addr[i] : 0),
                                        "aliases", vas));
    }
    return json_pack("{s:o}", "results", a);
}

static json_t *history_json(const Armmap__V1__HistoryResult *h)
{
    json_t *events = json_array(), *counts = json_object();
    size_t i, j;

    for (i = 0; i < h->n_events; i++) {
        const Armmap__V1__Event *e = h->events[i];
        json_t *args = json_array();
        const char *name = mm_op_name((enum mm_opcode)e->op);

        for (j = 0; j < e->n_args; j++)
            json_array_append_new(args, hex(e->args[j]));
        json_array_append_new(
            events,
            json_pack("{s:o,s:o,s:s,s:I,s:o,s:o}", "seq", dec(e->seq),
                      "time_ms", dec((uint64_t)e->time_ms), "op",
                      name ? name : "none", "cpu", (json_int_t)e->cpu, "args",
                      args, "result", op_result_json(e->op, e->result)));
    }
    for (i = 0; i < h->n_counts; i++) {
        const char *name = mm_op_name((enum mm_opcode)h->counts[i]->op);

        json_object_set_new(counts, name ? name : "none",
                            dec(h->counts[i]->count));
    }
    return json_pack("{s:o,s:o,s:o}", "events", events, "next_after_seq",
                     dec(h->next_after_seq), "counts", counts);
}

/* The engine's structured report (docs/api-reports.md) with the kernel's
 * text beside it as "text"; NULL if the daemon sent no JSON. */
static json_t *report_json(const Armmap__V1__ReportResult *rr)
{
    json_t *o = rr->json != NULL ? json_loads(rr->json, 0, NULL) : NULL;

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "text", json_string(rr->text));
    return o;
}
/* The Response body each shape renders: the body is a oneof (a union), so
 * a shape reads it only when it is that case. */
static const Armmap__V1__Response__BodyCase shape_body[] = {
    [SRV_HTTP_PRESETS] = ARMMAP__V1__RESPONSE__BODY_PRESETS,
    [SRV_HTTP_MACHINES] = ARMMAP__V1__RESPONSE__BODY_MACHINES,
    [SRV_HTTP_MACHINE] = ARMMAP__V1__RESPONSE__BODY_MACHINE,
    [SRV_HTTP_OP] = ARMMAP__V1__RESPONSE__BODY_OP,
    [SRV_HTTP_BATCH] = ARMMAP__V1__RESPONSE__BODY_BATCH,
    [SRV_HTTP_TRANSLATE] = ARMMAP__V1__RESPONSE__BODY_TRANSLATE,
    [SRV_HTTP_PHYS] = ARMMAP__V1__RESPONSE__BODY_PHYS,
    [SRV_HTTP_REPORT] = ARMMAP__V1__RESPONSE__BODY_REPORT,
    [SRV_HTTP_HISTORY] = ARMMAP__V1__RESPONSE__BODY_HISTORY,
};

static json_t *body_json(const struct srv_http_call *hc,
                         const Armmap__V1__Response *r)
{
    json_t *a;
    size_t i;

    if ((size_t)hc->shape >= sizeof(shape_body) / sizeof(shape_body[0]) ||
        r->body_case != shape_body[hc->shape])
        return NULL;
    switch (hc->shape) {
    case SRV_HTTP_PRESETS:
        a = json_array();
        for (i = 0; r->presets && i < r->presets->n_presets; i++)
            json_array_append_new(
                a, json_pack("{s:s,s:s}", "name", r->presets->presets[i]->name,
                             "summary", r->presets->presets[i]->summary));
        return json_pack("{s:o}", "presets", a);
    case SRV_HTTP_MACHINES:
        a = json_array();
        for (i = 0; r->machines && i < r->machines->n_machines; i++)
            json_array_append_new(a, machine_json(r->machines->machines[i]));
        return json_pack("{s:o}", "machines", a);
    case SRV_HTTP_MACHINE:
        return r->machine ? machine_json(r->machine) : NULL;
    case SRV_HTTP_OP:
        return op_result_json(hc->opcode, r->op);
    case SRV_HTTP_BATCH:
        a = json_array();
        for (i = 0; r->batch && i < r->batch->n_results; i++)
            json_array_append_new(a, op_result_json(i < hc->n_addr
                                                        ? (int)hc->addr[i]
                                                        : 0,
                                                    r->batch->results[i]));
        return json_pack("{s:o}", "results", a);
    case SRV_HTTP_TRANSLATE:
        return r->translate ? translate_json(hc, r->translate) : NULL;
    case SRV_HTTP_PHYS:
        return r->phys ? phys_json(hc, r->phys) : NULL;
    case SRV_HTTP_REPORT:
        return r->report ? report_json(r->report) : NULL;
    case SRV_HTTP_HISTORY:
        return r->history ? history_json(r->history) : NULL;
    default:
        return NULL;
    }
}

char *srv_http_render(const struct srv_http_call *hc,
                      const Armmap__V1__Response *r, bool want_text,
                      int *status, const char **ctype)
{
    json_t *o;
    char *text;

    *ctype = "application/json";
    if (r->status != NULL && (int)r->status->code != MM_OK) {
        *status = srv_http_status((int)r->status->code);
        return srv_http_error_json((int)r->status->code, r->status->message);
    }
    *status = hc->created ? 201 : 200;
    if (hc->shape == SRV_HTTP_DELETED) {
        *status = 204;
        return NULL;
    }
    if (hc->shape == SRV_HTTP_REPORT && want_text &&
        r->body_case == ARMMAP__V1__RESPONSE__BODY_REPORT &&
        r->report != NULL) {
        *ctype = "text/plain; charset=utf-8";
        text = strdup(r->report->text);
        if (text == NULL)
            abort();
        return text;
    }
    o = body_json(hc, r);
    if (o == NULL) {
        *status = 500;
        return srv_http_error_json(MM_INTERNAL,
                                   "the daemon's answer had no body");
    }
    return dump_line(o);
}

/* ------------------------------------------------------------------ */
/* Events (the event stream, sse.c)                                    */
/* ------------------------------------------------------------------ */

/* Sets on @o the named fields of op @code, as the ops API takes them
 * (op_args[]), from @n argument words. */
static void named_args(json_t *o, uint32_t code, const uint32_t *args, size_t n)
{
    size_t i, len;
    json_t *a;
    char key[16];

    if (code >= MM_OP_COUNT)
        return;
    for (i = 0; i < 3 && op_args[code][i] != NULL && i < n; i++) {
        len = strcspn(op_args[code][i], "?");
        snprintf(key, sizeof(key), "%.*s", (int)len, op_args[code][i]);
        if (strcmp(key, "pfns") == 0) {
            a = json_array();
            for (; i < n; i++)
                json_array_append_new(a, hex(args[i]));
            json_object_set_new(o, key, a);
            return;
        }
        if (strcmp(key, "zone") == 0 && args[i] < 3)
            json_object_set_new(o, key, json_string(zone_names[args[i]]));
        else if (strcmp(key, "order") == 0 || strcmp(key, "slot") == 0)
            json_object_set_new(o, key, json_integer(args[i]));
        else
            json_object_set_new(o, key, hex(args[i]));
    }
}

char *srv_http_event_json(const struct store_event *ev)
{
    Armmap__V1__OpResult r = ARMMAP__V1__OP_RESULT__INIT;
    const char *name = mm_op_name((enum mm_opcode)ev->op);
    json_t *args = json_array(), *o;
    char *text;
    uint32_t i;

    for (i = 0; i < ev->nargs; i++)
        json_array_append_new(args, hex(ev->args[i]));
    r.value = ev->value;
    r.aux = ev->aux;
    r.flags = ev->flags;
    r.seq = ev->seq;
    o = json_pack("{s:o,s:o,s:s,s:I,s:o}", "seq", dec(ev->seq), "time_ms",
                  dec((uint64_t)ev->time_ms), "op", name ? name : "none", "cpu",
                  (json_int_t)ev->cpu, "args", args);
    if (o == NULL)
        abort();
    named_args(o, ev->op, ev->args, ev->nargs);
    json_object_set_new(o, "result", op_result_json((int)ev->op, &r));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        abort();
    return text;
}
