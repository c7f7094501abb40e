/* client/calls.c - libarmmap's blocking calls and their result structs.
 *
 * Every call builds a Request on the stack (protobuf-c *__INIT values
 * pointing at the caller's data: nothing is copied), queues it, waits for
 * the reply with the same id, and converts the reply's body into the
 * public struct.  The unpacked Response is freed here, by whoever unpacked
 * it (STYLE.md 5); the public structs own copies of everything.
 *
 * A reply whose body is not the one the request expects is ARMMAP_PROTOCOL.
 */
#include "armmap_int.h"
#include "envelope.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sends @req and waits for its reply; on success *@out is the caller's. */
/* Checks the reply @resp to request @id: its status, and a body of case
 * @want (unless NOT_SET); frees it unless it is handed out in *@out. */
static enum armmap_status check_reply(struct armmap_conn *conn, uint64_t id,
                                      Armmap__V1__Response *resp,
                                      Armmap__V1__Response__BodyCase want,
                                      Armmap__V1__Response **out)
{
    enum armmap_status st = armmap__reply_status(conn, resp);

    if (st != ARMMAP_OK && resp->body_case != want) {
        armmap__v1__response__free_unpacked(resp, NULL);
        return st;
    }
    if (want != ARMMAP__V1__RESPONSE__BODY__NOT_SET &&
        resp->body_case != want) {
        armmap__v1__response__free_unpacked(resp, NULL);
        return armmap__fail(conn, ARMMAP_PROTOCOL,
                            "reply %llu has body %d where %d was expected",
                            (unsigned long long)id, (int)resp->body_case,
                            (int)want);
    }
    *out = resp;
    return st;
}

static enum armmap_status call(struct armmap_conn *conn,
                               Armmap__V1__Request *req,
                               Armmap__V1__Response__BodyCase want,
                               Armmap__V1__Response **out)
{
    Armmap__V1__Response *resp;
    enum armmap_status st;
    uint64_t id;

    *out = NULL;
    st = armmap__exchange(conn, req, &resp);
    if (st != ARMMAP_OK)
        return st;
    id = resp->id;
    return check_reply(conn, id, resp, want, out);
}

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

void armmap_free(void *p)
{
    free(p);
}

/* ---- machines ---------------------------------------------------------- */

static void machine_fini(struct armmap_machine *m)
{
    free(m->name);
    free(m->tenant);
    free(m->config);
    free(m->broken);
    free(m->parked);
}

void armmap_machine_free(struct armmap_machine *m)
{
    if (!m)
        return;
    machine_fini(m);
    free(m);
}

void armmap_machine_list_free(struct armmap_machine_list *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->n; i++)
        machine_fini(&l->items[i]);
    free(l->items);
    free(l);
}

static bool machine_from(struct armmap_machine *dst,
                         const Armmap__V1__Machine *src)
{
    size_t i, j;

    memset(dst, 0, sizeof(*dst));
    dst->id = src->id;
    dst->seq = src->seq;
    dst->created_ms = src->created_ms;
    dst->pkmap_in_use = src->pkmap_in_use;
    dst->pkmap_flushes = src->pkmap_flushes;
    dst->tlb_flushes = src->tlb_flushes;
    dst->vmalloc_areas = src->vmalloc_areas;
    dst->vmalloc_pages = src->vmalloc_pages;
    dst->pte_pages = src->pte_pages;
    dst->host_bytes = src->host_bytes;
    dst->events = src->events;
    for (i = 0; i < src->n_zones && i < ARMMAP_MAX_ZONES; i++) {
        const Armmap__V1__ZoneInfo *z = src->zones[i];
        struct armmap_zone_info *d = &dst->zones[i];

        snprintf(d->name, sizeof(d->name), "%s", z->name);
        d->start_pfn = z->start_pfn;
        d->end_pfn = z->end_pfn;
        d->present = z->present;
        d->managed = z->managed;
        d->free = z->free;
        for (j = 0; j < z->n_nr_free && j < ARMMAP_MAX_ORDERS; j++)
            d->nr_free[j] = z->nr_free[j];
        d->nr_orders = (unsigned)j;
    }
    dst->nzones = (unsigned)i;
    dst->name = dup_str(src->name);
    dst->tenant = dup_str(src->tenant);
    dst->config = dup_str(src->config);
    dst->broken = dup_str(src->broken);
    dst->parked_kmaps = src->parked_kmaps;
    if (src->n_parked > 0)
        dst->parked = calloc(src->n_parked, sizeof(*dst->parked));
    for (i = 0; dst->parked && i < src->n_parked; i++) {
        dst->parked[i].pfn = src->parked[i]->pfn;
        dst->parked[i].cpu = src->parked[i]->cpu;
    }
    if (!dst->name || !dst->tenant || !dst->config || !dst->broken ||
        (src->n_parked > 0 && !dst->parked)) {
        machine_fini(dst);
        return false;
    }
    return true;
}

static enum armmap_status machine_reply(struct armmap_conn *conn,
                                        Armmap__V1__Request *req,
                                        struct armmap_machine **out)
{
    Armmap__V1__Response *resp;
    enum armmap_status st;
    struct armmap_machine *m;

    if (out)
        *out = NULL;
    st = call(conn, req, ARMMAP__V1__RESPONSE__BODY_MACHINE, &resp);
    if (st != ARMMAP_OK || !resp) {
        if (resp)
            armmap__v1__response__free_unpacked(resp, NULL);
        return st;
    }
    if (out) {
        m = malloc(sizeof(*m));
        if (!m || !machine_from(m, resp->machine)) {
            free(m);
            armmap__v1__response__free_unpacked(resp, NULL);
            return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
        }
        *out = m;
    }
    armmap__v1__response__free_unpacked(resp, NULL);
    return ARMMAP_OK;
}

enum armmap_status armmap_ping(struct armmap_conn *conn)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Ping ping = ARMMAP__V1__PING__INIT;
    Armmap__V1__Response *resp;
    enum armmap_status st;

    req.body_case = ARMMAP__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_PONG, &resp);
    if (resp)
        armmap__v1__response__free_unpacked(resp, NULL);
    return st;
}

void armmap_preset_list_free(struct armmap_preset_list *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].summary);
    }
    free(l->items);
    free(l);
}

enum armmap_status armmap_presets(struct armmap_conn *conn,
                                  struct armmap_preset_list **out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Presets p = ARMMAP__V1__PRESETS__INIT;
    Armmap__V1__Response *resp;
    struct armmap_preset_list *l;
    enum armmap_status st;
    size_t i;

    *out = NULL;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PRESETS;
    req.presets = &p;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_PRESETS, &resp);
    if (st != ARMMAP_OK || !resp) {
        if (resp)
            armmap__v1__response__free_unpacked(resp, NULL);
        return st;
    }
    l = calloc(1, sizeof(*l));
    if (l)
        l->items = calloc(resp->presets->n_presets + 1, sizeof(*l->items));
    if (!l || !l->items) {
        free(l);
        armmap__v1__response__free_unpacked(resp, NULL);
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    }
    for (i = 0; i < resp->presets->n_presets; i++) {
        l->items[i].name = dup_str(resp->presets->presets[i]->name);
        l->items[i].summary = dup_str(resp->presets->presets[i]->summary);
        l->n++;
    }
    armmap__v1__response__free_unpacked(resp, NULL);
    *out = l;
    return ARMMAP_OK;
}

enum armmap_status armmap_create(struct armmap_conn *conn, const char *preset,
                                 const struct armmap_setting *settings,
                                 size_t n, const char *name,
                                 struct armmap_machine **out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create c = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Setting *sv = NULL, **sp = NULL;
    enum armmap_status st;
    size_t i;

    if (n > 0) {
        sv = calloc(n, sizeof(*sv));
        sp = calloc(n, sizeof(*sp));
        if (!sv || !sp) {
            free(sv);
            free(sp);
            return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
        }
    }
    for (i = 0; i < n; i++) {
        armmap__v1__setting__init(&sv[i]);
        sv[i].key = (char *)settings[i].key;
        sv[i].value = (char *)settings[i].value;
        sp[i] = &sv[i];
    }
    c.preset = (char *)(preset ? preset : "");
    c.name = (char *)(name ? name : "");
    c.n_settings = n;
    c.settings = sp;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &c;
    st = machine_reply(conn, &req, out);
    free(sv);
    free(sp);
    return st;
}

static enum armmap_status ref_call(struct armmap_conn *conn, uint64_t machine,
                                   Armmap__V1__Request__BodyCase body,
                                   Armmap__V1__Response__BodyCase want,
                                   Armmap__V1__Response **resp)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    ref.machine = machine;
    req.body_case = body;
    req.destroy = &ref; /* every MachineRef member aliases */
    return call(conn, &req, want, resp);
}

enum armmap_status armmap_destroy(struct armmap_conn *conn, uint64_t machine)
{
    Armmap__V1__Response *resp;
    enum armmap_status st;

    st = ref_call(conn, machine, ARMMAP__V1__REQUEST__BODY_DESTROY,
                  ARMMAP__V1__RESPONSE__BODY__NOT_SET, &resp);
    if (resp)
        armmap__v1__response__free_unpacked(resp, NULL);
    return st;
}

enum armmap_status armmap_list(struct armmap_conn *conn,
                               struct armmap_machine_list **out)
{
    Armmap__V1__Response *resp;
    struct armmap_machine_list *l;
    enum armmap_status st;
    size_t i;

    *out = NULL;
    st = ref_call(conn, 0, ARMMAP__V1__REQUEST__BODY_LIST,
                  ARMMAP__V1__RESPONSE__BODY_MACHINES, &resp);
    if (st != ARMMAP_OK || !resp) {
        if (resp)
            armmap__v1__response__free_unpacked(resp, NULL);
        return st;
    }
    l = calloc(1, sizeof(*l));
    if (l)
        l->items = calloc(resp->machines->n_machines + 1, sizeof(*l->items));
    if (!l || !l->items) {
        free(l);
        armmap__v1__response__free_unpacked(resp, NULL);
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    }
    for (i = 0; i < resp->machines->n_machines; i++) {
        if (!machine_from(&l->items[i], resp->machines->machines[i]))
            break;
        l->n++;
    }
    i = resp->machines->n_machines;
    armmap__v1__response__free_unpacked(resp, NULL);
    if (l->n != i) {
        armmap_machine_list_free(l);
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    }
    *out = l;
    return ARMMAP_OK;
}

enum armmap_status armmap_describe(struct armmap_conn *conn, uint64_t machine,
                                   struct armmap_machine **out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    ref.machine = machine;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DESCRIBE;
    req.describe = &ref;
    return machine_reply(conn, &req, out);
}

/* ---- operations ------------------------------------------------------- */

void armmap__op_result_from(struct armmap_op_result *dst,
                            const Armmap__V1__OpResult *src)
{
    memset(dst, 0, sizeof(*dst));
    if (!src)
        return;
    dst->value = src->value;
    dst->aux = src->aux;
    dst->flags = src->flags;
    dst->seq = src->seq;
    if (src->status) {
        dst->status = (enum armmap_status)src->status->code;
        snprintf(dst->msg, sizeof(dst->msg), "%s",
                 src->status->message ? src->status->message : "");
    }
}

void armmap__op_to(Armmap__V1__Op *dst, uint64_t machine,
                   const struct armmap_op *op)
{
    armmap__v1__op__init(dst);
    dst->machine = machine;
    dst->code = (Armmap__V1__OpCode)op->code;
    dst->cpu = op->cpu;
    dst->n_args = op->nargs;
    dst->args = (uint32_t *)op->args;
    dst->wait_ms = op->wait_ms;
}

enum armmap_status armmap_op(struct armmap_conn *conn, uint64_t machine,
                             const struct armmap_op *op,
                             struct armmap_op_result *res)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op wop;
    Armmap__V1__Response *resp;
    enum armmap_status st;

    if (res)
        memset(res, 0, sizeof(*res));
    armmap__op_to(&wop, machine, op);
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &wop;
    if (op->wait_ms > conn->wait_ms)
        conn->wait_ms = op->wait_ms; /* it may stay silent that long */
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_OP, &resp);
    if (resp) {
        if (res) {
            armmap__op_result_from(res, resp->op);
            res->status = st;
            if (st != ARMMAP_OK && !res->msg[0])
                snprintf(res->msg, sizeof(res->msg), "%s", conn->errmsg);
        }
        armmap__v1__response__free_unpacked(resp, NULL);
    } else if (res) {
        res->status = st;
        snprintf(res->msg, sizeof(res->msg), "%s", conn->errmsg);
    }
    return st;
}

static enum armmap_status op_n(struct armmap_conn *conn, uint64_t machine,
                               enum armmap_opcode code, uint32_t cpu,
                               const uint32_t *args, uint32_t nargs,
                               struct armmap_op_result *res)
{
    struct armmap_op op;

    memset(&op, 0, sizeof(op));
    op.code = code;
    op.cpu = cpu;
    op.args = args;
    op.nargs = nargs;
    return armmap_op(conn, machine, &op, res);
}

enum armmap_status armmap_alloc(struct armmap_conn *conn, uint64_t machine,
                                enum armmap_zone zone, uint32_t order,
                                struct armmap_op_result *res)
{
    uint32_t a[2] = { (uint32_t)zone, order };

    return op_n(conn, machine, ARMMAP_OP_ALLOC, 0, a, 2, res);
}

enum armmap_status armmap_free_pages(struct armmap_conn *conn, uint64_t machine,
                                     uint32_t pfn, uint32_t order,
                                     struct armmap_op_result *res)
{
    uint32_t a[2] = { pfn, order };

    return op_n(conn, machine, ARMMAP_OP_FREE, 0, a, 2, res);
}

enum armmap_status armmap_kmap(struct armmap_conn *conn, uint64_t machine,
                               uint32_t pfn, uint32_t wait_ms,
                               struct armmap_op_result *res)
{
    struct armmap_op op;

    memset(&op, 0, sizeof(op));
    op.code = ARMMAP_OP_KMAP;
    op.args = &pfn;
    op.nargs = 1;
    op.wait_ms = wait_ms;
    return armmap_op(conn, machine, &op, res);
}

enum armmap_status armmap_kunmap(struct armmap_conn *conn, uint64_t machine,
                                 uint32_t pfn, struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_KUNMAP, 0, &pfn, 1, res);
}

enum armmap_status armmap_kmap_atomic(struct armmap_conn *conn,
                                      uint64_t machine, uint32_t cpu,
                                      uint32_t pfn, int slot,
                                      struct armmap_op_result *res)
{
    uint32_t a[2] = { pfn, (uint32_t)slot };

    return op_n(conn, machine, ARMMAP_OP_KMAP_ATOMIC, cpu, a, slot < 0 ? 1 : 2,
                res);
}

enum armmap_status armmap_kunmap_atomic(struct armmap_conn *conn,
                                        uint64_t machine, uint32_t cpu,
                                        uint32_t va,
                                        struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_KUNMAP_ATOMIC, cpu, &va, 1, res);
}

enum armmap_status armmap_vmalloc(struct armmap_conn *conn, uint64_t machine,
                                  uint32_t size, struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_VMALLOC, 0, &size, 1, res);
}

enum armmap_status armmap_vfree(struct armmap_conn *conn, uint64_t machine,
                                uint32_t va, struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_VFREE, 0, &va, 1, res);
}

enum armmap_status armmap_vmap(struct armmap_conn *conn, uint64_t machine,
                               const uint32_t *pfns, uint32_t n,
                               struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_VMAP, 0, pfns, n, res);
}

enum armmap_status armmap_vunmap(struct armmap_conn *conn, uint64_t machine,
                                 uint32_t va, struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_VUNMAP, 0, &va, 1, res);
}

enum armmap_status armmap_ioremap(struct armmap_conn *conn, uint64_t machine,
                                  uint32_t phys, uint32_t size,
                                  struct armmap_op_result *res)
{
    uint32_t a[2] = { phys, size };

    return op_n(conn, machine, ARMMAP_OP_IOREMAP, 0, a, 2, res);
}

enum armmap_status armmap_iounmap(struct armmap_conn *conn, uint64_t machine,
                                  uint32_t va, struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_IOUNMAP, 0, &va, 1, res);
}

enum armmap_status armmap_module_alloc(struct armmap_conn *conn,
                                       uint64_t machine, uint32_t size,
                                       struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_MODULE_ALLOC, 0, &size, 1, res);
}

enum armmap_status armmap_module_free(struct armmap_conn *conn,
                                      uint64_t machine, uint32_t va,
                                      struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_MODULE_FREE, 0, &va, 1, res);
}

enum armmap_status armmap_kmap_flush(struct armmap_conn *conn, uint64_t machine,
                                     struct armmap_op_result *res)
{
    return op_n(conn, machine, ARMMAP_OP_KMAP_FLUSH, 0, NULL, 0, res);
}

enum armmap_status armmap_module_enable_ro(struct armmap_conn *conn,
                                           uint64_t machine, uint32_t va,
                                           uint32_t text_size, uint32_t ro_size,
                                           struct armmap_op_result *res)
{
    uint32_t a[3] = { va, text_size, ro_size };

    return op_n(conn, machine, ARMMAP_OP_MODULE_ENABLE_RO, 0, a, 3, res);
}

bool armmap__batch_build(Armmap__V1__Batch *b, uint64_t machine,
                         const struct armmap_op *ops, size_t n, bool stop,
                         Armmap__V1__Op **wops, Armmap__V1__Op ***wptrs)
{
    size_t i;

    armmap__v1__batch__init(b);
    *wops = calloc(n + 1, sizeof(**wops));
    *wptrs = calloc(n + 1, sizeof(**wptrs));
    if (!*wops || !*wptrs) {
        free(*wops);
        free(*wptrs);
        return false;
    }
    for (i = 0; i < n; i++) {
        armmap__op_to(&(*wops)[i], 0, &ops[i]);
        (*wptrs)[i] = &(*wops)[i];
    }
    b->machine = machine;
    b->n_ops = n;
    b->ops = *wptrs;
    b->stop_on_error = stop;
    return true;
}

enum armmap_status armmap_batch(struct armmap_conn *conn, uint64_t machine,
                                const struct armmap_op *ops, size_t n,
                                bool stop_on_error,
                                struct armmap_op_result *results,
                                size_t *nresults)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b;
    Armmap__V1__Op *wops, **wptrs;
    Armmap__V1__Response *resp;
    enum armmap_status st;
    size_t i;

    *nresults = 0;
    if (!armmap__batch_build(&b, machine, ops, n, stop_on_error, &wops, &wptrs))
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_BATCH, &resp);
    free(wops);
    free(wptrs);
    if (!resp)
        return st;
    if (st == ARMMAP_OK) {
        if (resp->batch->n_results > n) {
            armmap__v1__response__free_unpacked(resp, NULL);
            return armmap__fail(conn, ARMMAP_PROTOCOL,
                                "batch of %zu ops answered with %zu results", n,
                                resp->batch->n_results);
        }
        for (i = 0; i < resp->batch->n_results; i++)
            armmap__op_result_from(&results[i], resp->batch->results[i]);
        *nresults = resp->batch->n_results;
    }
    armmap__v1__response__free_unpacked(resp, NULL);
    return st;
}

/* ---- reads ------------------------------------------------------------ */

void armmap_translate_result_free(struct armmap_translate_result *r)
{
    size_t i;

    if (!r)
        return;
    if (r->walks) {
        for (i = 0; i < r->n; i++)
            free(r->walks[i].text);
    }
    free(r); /* the arrays live in its block */
}

static void walk_from(struct armmap_walk *dst, const Armmap__V1__Walk *src)
{
    size_t i;

    for (i = 0; i < src->n_steps && i < ARMMAP_MAX_WALK_STEPS; i++) {
        const Armmap__V1__WalkStep *s = src->steps[i];
        struct armmap_walk_step *d = &dst->steps[i];

        d->level = s->level;
        snprintf(d->kind, sizeof(d->kind), "%s", s->kind);
        d->addr = s->addr;
        d->desc = s->desc;
        d->domain = s->domain;
        d->ap = s->ap;
        d->tex = s->tex;
        d->c = s->c;
        d->b = s->b;
        d->s = s->s;
        d->ng = s->ng;
        d->xn = s->xn;
        d->next = s->next;
    }
    dst->nsteps = (unsigned)i;
    dst->text = strdup(src->text ? src->text : "");
}

/* A result for @n addresses in one allocation: the struct, then its walks
 * (if asked), pa, fault and region arrays, zeroed.  One malloc instead of
 * five matters when a pipeline asks for one address at a time. */
struct armmap_translate_result *armmap__result_block(size_t n, bool walk)
{
    size_t walks = walk ? (n + 1) * sizeof(struct armmap_walk) : 0;
    size_t pa = (n + 1) * sizeof(uint32_t);
    struct armmap_translate_result *r;
    char *p;

    if (n > (SIZE_MAX - sizeof(*r)) / (sizeof(struct armmap_walk) + 8))
        return NULL;
    r = calloc(1, sizeof(*r) + walks + pa + 2 * (n + 1));
    if (!r)
        return NULL;
    p = (char *)(r + 1);
    r->n = n;
    r->walks = walk ? (struct armmap_walk *)p : NULL;
    r->pa = (uint32_t *)(p + walks);
    r->fault = (uint8_t *)(p + walks + pa);
    r->region = r->fault + n + 1;
    return r;
}

enum armmap_status armmap__translate_from(
    struct armmap_conn *conn, const Armmap__V1__TranslateResult *src, size_t n,
    bool walk, struct armmap_translate_result **out)
{
    struct armmap_translate_result *r;
    size_t i;

    *out = NULL;
    if (src->n_pa != n || (src->n_fault != n && src->n_fault != 0) ||
        (src->n_region != n && src->n_region != 0) ||
        (walk && src->n_walks != n))
        return armmap__fail(conn, ARMMAP_PROTOCOL,
                            "translate of %zu addresses answered with %zu "
                            "addresses, %zu faults, %zu regions, %zu walks",
                            n, src->n_pa, src->n_fault, src->n_region,
                            src->n_walks);
    r = armmap__result_block(n, walk);
    if (!r)
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    if (n) {
        memcpy(r->pa, src->pa, n * sizeof(*r->pa));
        /* Every named value fits a byte (proto/names.h). */
        for (i = 0; i < src->n_fault; i++)
            r->fault[i] = (uint8_t)src->fault[i];
        for (i = 0; i < src->n_region; i++)
            r->region[i] = (uint8_t)src->region[i];
    }
    if (walk) {
        for (i = 0; i < n; i++)
            walk_from(&r->walks[i], src->walks[i]);
    }
    *out = r;
    return ARMMAP_OK;
}

enum armmap_status armmap_translate(struct armmap_conn *conn, uint64_t machine,
                                    const uint32_t *va, size_t n,
                                    unsigned access, bool walk,
                                    struct armmap_translate_result **out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    Armmap__V1__Response *resp;
    enum armmap_status st;

    *out = NULL;
    t.machine = machine;
    t.n_va = n;
    t.va = (uint32_t *)va;
    t.access = access;
    t.walk = walk;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_TRANSLATE, &resp);
    if (st == ARMMAP_OK && resp)
        st = armmap__translate_from(conn, resp->translate, n, walk, out);
    if (resp)
        armmap__v1__response__free_unpacked(resp, NULL);
    return st;
}

/* A phys result is one block: the struct, n items, then every item's va
 * and region arrays back to back (each item points into them). */
void armmap_phys_result_free(struct armmap_phys_result *r)
{
    free(r);
}

/* A zeroed phys result of @n items and @total aliases in one block; the
 * items' arrays are for the caller to point. */
static struct armmap_phys_result *phys_block(size_t n, size_t total)
{
    struct armmap_phys_result *r;

    r = calloc(1, sizeof(*r) + (n + 1) * sizeof(*r->items) +
                      (total + 1) * (sizeof(uint32_t) + 1));
    if (!r)
        return NULL;
    r->n = n;
    r->items = (struct armmap_aliases *)(r + 1);
    return r;
}

/* The first of the va and of the region arrays of @r's block, which has
 * @total aliases. */
static uint32_t *phys_vas(struct armmap_phys_result *r)
{
    return (uint32_t *)(r->items + r->n + 1);
}

static uint8_t *phys_regions(struct armmap_phys_result *r, size_t total)
{
    return (uint8_t *)(phys_vas(r) + total + 1);
}

/*
 * The PhysResult body [p, end) as armmapd writes it (per address an Aliases
 * holding packed va and packed region, as many of each, each field at
 * most once, every region code one byte), counted into *@n and *@total,
 * and written into @r when it is not NULL (then the counts are known: @r
 * was made by phys_block() for them).  False for any other shape: then
 * protobuf-c decodes it.
 */
static bool phys_walk(const uint8_t *p, const uint8_t *end,
                      struct armmap_phys_result *r, size_t *n, size_t *total)
{
    const uint8_t *a, *aend, *va, *rg;
    uint32_t *vout = NULL;
    uint8_t *rout = NULL;
    uint64_t key, len, vlen, rlen, k;

    if (r) {
        vout = phys_vas(r);
        rout = phys_regions(r, *total);
    }
    *n = *total = 0;
    while (p < end) {
        /* The usual items first: no alias ("0a 00"), or one alias
         * ("0a 09" "0a 04" va "12 01" region). */
        if (end - p >= 2 && p[0] == 0x0a && p[1] == 0) {
            if (r) {
                r->items[*n].va = vout;
                r->items[*n].region = rout;
            }
            p += 2;
            (*n)++;
            continue;
        }
        if (end - p >= 11 && memcmp(p, "\x0a\x09\x0a\x04", 4) == 0 &&
            p[8] == 0x12 && p[9] == 0x01 && !(p[10] & 0x80)) {
            if (r) {
                r->items[*n].n = 1;
                r->items[*n].va = vout;
                r->items[*n].region = rout;
                *vout++ = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
                          (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
                *rout++ = p[10];
            }
            p += 11;
            (*n)++;
            (*total)++;
            continue;
        }
        if (!wire_get_varint5(&p, end, &key) || key != (1 << 3 | 2) ||
            !wire_get_varint5(&p, end, &len) || len > (uint64_t)(end - p))
            return false;
        a = p;
        aend = p + len;
        p = aend;
        va = rg = NULL;
        vlen = rlen = 0;
        while (a < aend) {
            if (!wire_get_varint5(&a, aend, &key) ||
                !wire_get_varint5(&a, aend, &len) || len > (uint64_t)(aend - a))
                return false;
            if (key == (1 << 3 | 2) && !va && len % 4 == 0) {
                va = a;
                vlen = len / 4;
            } else if (key == (2 << 3 | 2) && !rg) {
                rg = a;
                rlen = len;
            } else {
                return false;
            }
            a += len;
        }
        if (vlen != rlen)
            return false;
        for (k = 0; k < rlen; k++)
            if (rg[k] & 0x80)
                return false; /* a code of two bytes or more */
        if (r) {
            r->items[*n].n = (size_t)vlen;
            r->items[*n].va = vout;
            r->items[*n].region = rout;
            for (k = 0; k < vlen; k++)
                *vout++ = (uint32_t)va[4 * k] | (uint32_t)va[4 * k + 1] << 8 |
                          (uint32_t)va[4 * k + 2] << 16 |
                          (uint32_t)va[4 * k + 3] << 24;
            if (rlen)
                memcpy(rout, rg, (size_t)rlen);
            rout += rlen;
        }
        (*n)++;
        *total += (size_t)vlen;
    }
    return true;
}

bool armmap__phys_fast(const uint8_t *p, size_t len, uint64_t id,
                       struct armmap_phys_result **out)
{
    const uint8_t *end = p + len, *body = NULL, *s, *send;
    uint64_t key, v, n = 0, got_id = 0;
    size_t items, total;

    *out = NULL;
    while (p < end) {
        if (!wire_get_varint5(&p, end, &key))
            return false;
        if (key == (1 << 3 | 0)) {
            if (!wire_get_varint(&p, end, &got_id))
                return false;
            continue;
        }
        if ((key & 7) != 2 || !wire_get_varint5(&p, end, &v) ||
            v > (uint64_t)(end - p))
            return false;
        if (key >> 3 == 2) { /* the status: OK and nothing else */
            for (s = p, send = p + v; s < send;)
                if (!wire_get_varint5(&s, send, &key) || key != (1 << 3) ||
                    !wire_get_varint(&s, send, &key) || key != 0)
                    return false;
        } else if (key >> 3 == ARMMAP__V1__RESPONSE__BODY_PHYS && !body) {
            body = p;
            n = v;
        } else {
            return false;
        }
        p += v;
    }
    if (!body || got_id != id ||
        !phys_walk(body, body + n, NULL, &items, &total))
        return false;
    *out = phys_block(items, total);
    if (*out)
        phys_walk(body, body + n, *out, &items, &total);
    return true;
}

struct armmap_phys_result *armmap__phys_from(const Armmap__V1__PhysResult *pr)
{
    struct armmap_phys_result *r;
    size_t i, j, total = 0;
    uint32_t *va;
    uint8_t *rg;

    for (i = 0; i < pr->n_aliases; i++)
        total += pr->aliases[i]->n_va;
    r = phys_block(pr->n_aliases, total);
    if (!r)
        return NULL;
    va = phys_vas(r);
    rg = phys_regions(r, total);
    for (i = 0; i < r->n; i++) {
        const Armmap__V1__PhysResult__Aliases *a = pr->aliases[i];
        struct armmap_aliases *d = &r->items[i];

        d->n = a->n_va;
        d->va = va;
        d->region = rg;
        for (j = 0; j < a->n_va; j++) {
            *va++ = a->va[j];
            *rg++ = j < a->n_region ? (uint8_t)a->region[j] : 0;
        }
    }
    return r;
}

/* The phys reply frame body [body, body + len) to request @id into *@out:
 * by armmap__phys_fast(), else through the envelope codec. */
static enum armmap_status phys_reply(struct armmap_conn *conn,
                                     const uint8_t *body, size_t len,
                                     uint64_t id,
                                     struct armmap_phys_result **out)
{
    Armmap__V1__Response *resp, *ok = NULL;
    enum armmap_status st;

    if (armmap__phys_fast(body, len, id, out)) {
        if (!*out)
            return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
        conn->errmsg[0] = '\0';
        return ARMMAP_OK;
    }
    resp = envelope_response_unpack(len, body);
    if (!resp)
        return armmap__fail(conn, ARMMAP_PROTOCOL,
                            "malformed reply frame of %zu bytes", len);
    if (resp->id != id) {
        armmap__v1__response__free_unpacked(resp, NULL);
        return armmap__fail(conn, ARMMAP_PROTOCOL,
                            "reply %llu where %llu was expected",
                            (unsigned long long)resp->id,
                            (unsigned long long)id);
    }
    st = check_reply(conn, id, resp, ARMMAP__V1__RESPONSE__BODY_PHYS, &ok);
    if (st != ARMMAP_OK) {
        if (ok)
            armmap__v1__response__free_unpacked(ok, NULL);
        return st;
    }
    *out = armmap__phys_from(ok->phys);
    armmap__v1__response__free_unpacked(ok, NULL);
    return *out ? ARMMAP_OK
                : armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
}

/* Queues a Phys request for @n addresses at @pa; its id in *@id. */
static enum armmap_status phys_queue(struct armmap_conn *conn, uint64_t machine,
                                     const uint32_t *pa, size_t n, uint64_t *id)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Phys p = ARMMAP__V1__PHYS__INIT;

    p.machine = machine;
    p.n_pa = n;
    p.pa = (uint32_t *)pa;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PHYS;
    req.phys = &p;
    return armmap__queue(conn, &req, true, id);
}

/*
 * Phys.  A big reply is decoded straight from the frame into one block
 * when it is the only request in flight (armmap__phys_fast()): protobuf-c
 * would allocate an Aliases message and two arrays per address.
 */
enum armmap_status armmap_phys(struct armmap_conn *conn, uint64_t machine,
                               const uint32_t *pa, size_t n,
                               struct armmap_phys_result **out)
{
    Armmap__V1__Response *resp = NULL, *ok = NULL;
    enum armmap_status st;
    const uint8_t *body = NULL;
    size_t len = 0;
    uint64_t id;

    *out = NULL;
    st = phys_queue(conn, machine, pa, n, &id);
    if (st != ARMMAP_OK)
        return st;
    if (conn->inflight == 1 && conn->nstash == 0) {
        st = armmap__next_raw(conn, &body, &len);
        return st == ARMMAP_OK ? phys_reply(conn, body, len, id, out) : st;
    }
    st = armmap__wait(conn, id, &resp);
    if (st != ARMMAP_OK)
        return st;
    st = check_reply(conn, id, resp, ARMMAP__V1__RESPONSE__BODY_PHYS, &ok);
    if (st != ARMMAP_OK) {
        if (ok)
            armmap__v1__response__free_unpacked(ok, NULL);
        return st;
    }
    *out = armmap__phys_from(ok->phys);
    armmap__v1__response__free_unpacked(ok, NULL);
    return *out ? ARMMAP_OK
                : armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
}

/* ---- streaming phys --------------------------------------------------- */

#define PHYS_STREAM_CHUNK  4096
#define PHYS_STREAM_WINDOW 4

struct phys_chunk {
    uint64_t id;
    size_t n;
    uint32_t *pa;
};

/* Reads and drops the replies of the @count chunks still in flight, so the
 * connection stays usable; keeps conn's message. */
static void phys_drain(struct armmap_conn *conn, unsigned count)
{
    char msg[ARMMAP_ERR_MAX];
    const uint8_t *body;
    size_t len;

    snprintf(msg, sizeof(msg), "%s", conn->errmsg);
    while (count-- > 0 && !conn->dead &&
           armmap__next_raw(conn, &body, &len) == ARMMAP_OK)
        ;
    snprintf(conn->errmsg, sizeof(conn->errmsg), "%s", msg);
}

/* Asks @source for chunk @c's addresses and queues them; *@eof at the
 * end (then nothing is queued). */
static enum armmap_status phys_send(struct armmap_conn *conn, uint64_t machine,
                                    struct phys_chunk *c, size_t chunk,
                                    long (*source)(void *arg, uint32_t *pa,
                                                   size_t max),
                                    void *arg, bool *eof)
{
    enum armmap_status st;
    long n = source(arg, c->pa, chunk);

    if (n < 0)
        return armmap__fail(conn, ARMMAP_CANCELLED,
                            "stopped by the address source");
    if (n == 0) {
        *eof = true;
        return ARMMAP_OK;
    }
    c->n = (size_t)n > chunk ? chunk : (size_t)n;
    st = phys_queue(conn, machine, c->pa, c->n, &c->id);
    return st == ARMMAP_OK ? armmap__flush_some(conn) : st;
}

enum armmap_status armmap_phys_stream(
    struct armmap_conn *conn, uint64_t machine, size_t chunk,
    long (*source)(void *arg, uint32_t *pa, size_t max),
    bool (*sink)(void *arg, const uint32_t *pa,
                 const struct armmap_phys_result *r),
    void *arg)
{
    struct phys_chunk ring[PHYS_STREAM_WINDOW], *c;
    struct armmap_phys_result *r = NULL;
    enum armmap_status st = ARMMAP_OK;
    unsigned window, head = 0, count = 0, i;
    const uint8_t *body;
    bool eof = false;
    size_t len;

    if (conn->inflight || conn->nstash)
        return armmap__fail(conn, ARMMAP_INVALID_ARGUMENT,
                            "%u replies pending: receive them before a "
                            "phys stream",
                            conn->inflight);
    chunk = chunk ? chunk : PHYS_STREAM_CHUNK;
    window = conn->max_inflight < PHYS_STREAM_WINDOW ? conn->max_inflight
                                                     : PHYS_STREAM_WINDOW;
    window = window ? window : 1;
    memset(ring, 0, sizeof(ring));
    for (i = 0; i < window; i++)
        if (!(ring[i].pa = malloc(chunk * sizeof(uint32_t))))
            st = armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    while (st == ARMMAP_OK && (!eof || count > 0)) {
        while (st == ARMMAP_OK && !eof && count < window) {
            st = phys_send(conn, machine, &ring[(head + count) % window], chunk,
                           source, arg, &eof);
            count += st == ARMMAP_OK && !eof;
        }
        if (st != ARMMAP_OK || count == 0)
            break;
        /* Replies come in request order: the oldest chunk's is next. */
        c = &ring[head];
        st = armmap__next_raw(conn, &body, &len);
        if (st != ARMMAP_OK)
            break;
        head = (head + 1) % window;
        count--;
        st = phys_reply(conn, body, len, c->id, &r);
        if (st == ARMMAP_OK && r->n != c->n)
            st = armmap__fail(conn, ARMMAP_PROTOCOL,
                              "phys of %zu addresses answered with %zu", c->n,
                              r->n);
        if (st == ARMMAP_OK && !sink(arg, c->pa, r))
            st = armmap__fail(conn, ARMMAP_CANCELLED,
                              "stopped by the result callback");
        armmap_phys_result_free(r);
        r = NULL;
    }
    if (st != ARMMAP_OK)
        phys_drain(conn, count);
    for (i = 0; i < window; i++)
        free(ring[i].pa);
    if (st == ARMMAP_OK)
        conn->errmsg[0] = '\0';
    return st;
}

/* A Report in @format; *@out receives its text or its JSON. */
static enum armmap_status report_call(struct armmap_conn *conn,
                                      uint64_t machine, enum armmap_report kind,
                                      Armmap__V1__ReportFormat format,
                                      char **out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Report r = ARMMAP__V1__REPORT__INIT;
    Armmap__V1__Response *resp;
    enum armmap_status st;

    *out = NULL;
    r.machine = machine;
    r.kind = (Armmap__V1__ReportKind)kind;
    r.format = format;
    req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    req.report = &r;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_REPORT, &resp);
    if (st == ARMMAP_OK && resp) {
        *out = dup_str(format == ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_JSON
                           ? resp->report->json
                           : resp->report->text);
        if (!*out)
            st = armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    }
    if (resp)
        armmap__v1__response__free_unpacked(resp, NULL);
    return st;
}

enum armmap_status armmap_report(struct armmap_conn *conn, uint64_t machine,
                                 enum armmap_report kind, char **text)
{
    return report_call(conn, machine, kind,
                       ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT, text);
}

enum armmap_status armmap_report_json(struct armmap_conn *conn,
                                      uint64_t machine, enum armmap_report kind,
                                      char **json)
{
    return report_call(conn, machine, kind,
                       ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_JSON, json);
}

void armmap_history_free(struct armmap_history *h)
{
    size_t i;

    if (!h)
        return;
    for (i = 0; i < h->n; i++)
        free(h->events[i].args);
    free(h->events);
    free(h->counts);
    free(h);
}

static bool event_from(struct armmap_event *d, const Armmap__V1__Event *e)
{
    d->seq = e->seq;
    d->time_ms = e->time_ms;
    d->op = (enum armmap_opcode)e->op;
    d->cpu = e->cpu;
    d->nargs = e->n_args;
    d->args = calloc(e->n_args + 1, sizeof(*d->args));
    if (!d->args)
        return false;
    if (e->n_args)
        memcpy(d->args, e->args, e->n_args * sizeof(*d->args));
    armmap__op_result_from(&d->result, e->result);
    return true;
}

enum armmap_status armmap_history(struct armmap_conn *conn, uint64_t machine,
                                  const struct armmap_history_query *q,
                                  struct armmap_history **out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History hq = ARMMAP__V1__HISTORY__INIT;
    Armmap__V1__Response *resp;
    const Armmap__V1__HistoryResult *hr;
    struct armmap_history *h;
    enum armmap_status st;
    size_t i;

    *out = NULL;
    hq.machine = machine;
    if (q) {
        hq.since_seq = q->since_seq;
        hq.until_seq = q->until_seq;
        hq.op = (Armmap__V1__OpCode)q->op;
        hq.addr_lo = q->addr_lo;
        hq.addr_hi = q->addr_hi;
        hq.limit = q->limit;
        hq.newest_first = q->newest_first;
        hq.after_seq = q->after_seq;
    }
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &hq;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_HISTORY, &resp);
    if (st != ARMMAP_OK || !resp) {
        if (resp)
            armmap__v1__response__free_unpacked(resp, NULL);
        return st;
    }
    hr = resp->history;
    h = calloc(1, sizeof(*h));
    if (h) {
        h->events = calloc(hr->n_events + 1, sizeof(*h->events));
        h->counts = calloc(hr->n_counts + 1, sizeof(*h->counts));
    }
    if (!h || !h->events || !h->counts) {
        if (h) {
            free(h->events);
            free(h->counts);
        }
        free(h);
        armmap__v1__response__free_unpacked(resp, NULL);
        return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
    }
    for (i = 0; i < hr->n_events; i++) {
        if (!event_from(&h->events[i], hr->events[i])) {
            armmap_history_free(h);
            armmap__v1__response__free_unpacked(resp, NULL);
            return armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
        }
        h->n++;
    }
    for (i = 0; i < hr->n_counts; i++) {
        h->counts[i].op = (enum armmap_opcode)hr->counts[i]->op;
        h->counts[i].count = hr->counts[i]->count;
    }
    h->ncounts = hr->n_counts;
    h->next_after_seq = hr->next_after_seq;
    armmap__v1__response__free_unpacked(resp, NULL);
    *out = h;
    return ARMMAP_OK;
}

enum armmap_status armmap_fork(struct armmap_conn *conn, uint64_t machine,
                               uint64_t at_seq, const char *name,
                               struct armmap_machine **out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Fork f = ARMMAP__V1__FORK__INIT;

    f.machine = machine;
    f.at_seq = at_seq;
    f.name = (char *)(name ? name : "");
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &f;
    return machine_reply(conn, &req, out);
}

enum armmap_status armmap_clone(struct armmap_conn *conn, uint64_t machine,
                                const char *name, struct armmap_machine **out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone c = ARMMAP__V1__CLONE__INIT;

    c.machine = machine;
    c.name = (char *)(name ? name : "");
    req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    req.clone = &c;
    return machine_reply(conn, &req, out);
}

enum armmap_status armmap_dump(struct armmap_conn *conn, uint64_t machine,
                               uint8_t **elf, size_t *len)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Dump d = ARMMAP__V1__DUMP__INIT;
    Armmap__V1__Response *resp;
    enum armmap_status st;

    *elf = NULL;
    *len = 0;
    d.machine = machine;
    req.body_case = ARMMAP__V1__REQUEST__BODY_DUMP;
    req.dump = &d;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_DUMP, &resp);
    if (st == ARMMAP_OK && resp) {
        *elf = malloc(resp->dump->elf.len + 1);
        if (!*elf) {
            st = armmap__fail(conn, ARMMAP_NO_HOST_MEMORY, "out of memory");
        } else {
            if (resp->dump->elf.len)
                memcpy(*elf, resp->dump->elf.data, resp->dump->elf.len);
            *len = resp->dump->elf.len;
        }
    }
    if (resp)
        armmap__v1__response__free_unpacked(resp, NULL);
    return st;
}

enum armmap_status armmap_stats(struct armmap_conn *conn,
                                struct armmap_stats *out)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Stats s = ARMMAP__V1__STATS__INIT;
    Armmap__V1__Response *resp;
    enum armmap_status st;
    size_t i;

    memset(out, 0, sizeof(*out));
    req.body_case = ARMMAP__V1__REQUEST__BODY_STATS;
    req.stats = &s;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_STATS, &resp);
    if (st == ARMMAP_OK && resp) {
        const Armmap__V1__StatsResult *r = resp->stats;

        out->connections = r->connections;
        out->machines = r->machines;
        out->requests = r->requests;
        out->changes = r->changes;
        out->commits = r->commits;
        out->parked_kmaps = r->parked_kmaps;
        out->uptime_ms = r->uptime_ms;
        for (i = 0; i < r->n_errors_by_code && i < ARMMAP_MAX_CODES; i++)
            out->errors_by_code[i] = r->errors_by_code[i];
        out->ncodes = i;
    }
    if (resp)
        armmap__v1__response__free_unpacked(resp, NULL);
    return st;
}

enum armmap_status armmap_purge(struct armmap_conn *conn,
                                uint64_t older_than_ms, uint64_t *machines,
                                uint64_t *events)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Purge p = ARMMAP__V1__PURGE__INIT;
    Armmap__V1__Response *resp;
    enum armmap_status st;

    p.older_than_ms = older_than_ms;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PURGE;
    req.purge = &p;
    st = call(conn, &req, ARMMAP__V1__RESPONSE__BODY_PURGE, &resp);
    if (st == ARMMAP_OK && resp) {
        if (machines)
            *machines = resp->purge->machines;
        if (events)
            *events = resp->purge->events;
    }
    if (resp)
        armmap__v1__response__free_unpacked(resp, NULL);
    return st;
}
