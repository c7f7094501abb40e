/* daemon/dispatch.c - the table from request type to handler, and handlers.
 *
 * srv_dispatch() decodes one frame into an armmap.v1.Request (in a bump
 * arena on its stack, released after the answer), checks the session
 * (Hello first), and calls the handler that the table names for the
 * request's body.  A handler fills a struct srv_call: a code and message,
 * a Response body built from memory of the call's arena (its first
 * SRV_CALL_INLINE bytes inside the call itself; freed once packed), and
 * for a change the store ticket its reply waits for.  srv_conn_reply()
 * then packs and queues the answer in request order.  A pipelined ping or
 * one-address translation thus touches the heap not at all.
 *
 * Changes (create, destroy, op, batch, clone, fork) are applied to the
 * engine at once and handed to the store, a Batch as one unit; if the
 * store refuses a write outright the answer is UNAVAILABLE and commit.c
 * fences the machine and rebuilds it from its committed events once its
 * writes in flight are reaped; a fenced machine answers UNAVAILABLE.
 * Reads run against the engine and answer at once (queued behind earlier
 * changes of the same connection).  History reads the store, so while
 * this connection has changes not yet answered it is deferred until they
 * are (srv_conn_defer()); nothing here waits for the store.
 *
 * A machine whose recovery mismatched, or that the engine found
 * inconsistent, answers INTERNAL with the reason to everything but
 * describe, list and destroy.
 */
#include "srv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "armmap.pb-c.h"
#include "store.h"
#include "envelope.h"
#include "names.h"
#include "wire.h"

/* Requests slower than this are logged (a warning).  A debug build may
 * lower it to find what holds the loop: make CFLAGS+=-DSRV_SLOW_MS=5. */
#ifndef SRV_SLOW_MS
#define SRV_SLOW_MS 100
#endif
#define SLOW_MS          SRV_SLOW_MS
#define MAX_WAIT_MS      3600000u /* longest kmap wait we honour */
#define WALK_REPLY_BYTES 160u     /* a packed Walk, about (measured) */


struct srv_arena_block {
    struct srv_arena_block *next;
    max_align_t data[];
};

void *srv_call_alloc(struct srv_call *call, size_t size)
{
    size_t align = sizeof(max_align_t);
    size_t need = (size + 1 + align - 1) / align * align;
    struct srv_arena_block *b;

    if (need <= sizeof(call->inline_buf) - call->inline_used) {
        void *p = (char *)call->inline_buf + call->inline_used;

        call->inline_used += need;
        memset(p, 0, need);
        return p;
    }
    b = calloc(1, sizeof(*b) + size + 1);
    if (b == NULL)
        abort();
    b->next = call->arena;
    call->arena = b;
    return b->data;
}

char *srv_call_strdup(struct srv_call *call, const char *s)
{
    size_t n = strlen(s);
    char *d = srv_call_alloc(call, n + 1);

    memcpy(d, s, n + 1);
    return d;
}

static void call_free(struct srv_call *call)
{
    struct srv_arena_block *b, *next;

    for (b = call->arena; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    call->arena = NULL;
    call->inline_used = 0;
}

void srv_call_fail(struct srv_call *call, int code, const char *fmt, ...)
{
    va_list ap;

    call->code = code;
    va_start(ap, fmt);
    vsnprintf(call->msg, sizeof(call->msg), fmt, ap);
    va_end(ap);
}

static void *new_msg(struct srv_call *call, size_t size, const void *init)
{
    void *p = srv_call_alloc(call, size);

    memcpy(p, init, size);
    return p;
}

/* A protobuf-c message of type T, initialised, in the call's arena. */
#define NEW(call, T, INIT) ((T *)new_msg((call), sizeof(T), &(T)INIT))

static void call_init(struct srv_call *call, struct srv *s, struct conn *c,
                      uint64_t id, Armmap__V1__Response *resp)
{
    memset(call, 0, offsetof(struct srv_call, inline_buf));
    call->s = s;
    call->c = c;
    call->id = id;
    call->resp = resp;
    call->code = MM_OK;
}

/* Finds the caller's machine; fails the call and returns NULL if missing
 * (or broken, unless @broken_ok). */
static struct srv_machine *need_machine(struct srv_call *call, const char *what,
                                        uint64_t id, bool broken_ok)
{
    char err[SRV_MSG_MAX];
    struct srv_machine *sm;
    const char *why;

    if (!srv_cluster_serving(call->s)) {
        srv_call_fail(call, MM_UNAVAILABLE, "%s: node lease expired", what);
        return NULL;
    }
    sm = srv_machine_lookup(call->s->reg, srv_conn_tenant(call->c), id, err,
                            sizeof(err));
    if (sm == NULL && call->s->cluster != NULL) /* another node's? */
        sm = srv_cluster_find(call, what, id, err);
    else if (sm == NULL)
        srv_call_fail(call, MM_NOT_FOUND, "%s: %s", what, err);
    if (sm == NULL)
        return NULL;
    if (sm->lost) {
        srv_call_fail(call, MM_UNAVAILABLE,
                      "%s: machine %" PRIu64 " is moving to another node; "
                      "retry",
                      what, id);
        return NULL;
    }
    sm->touched_ms = srv_mono_ms(); /* --machine-idle-ttl */
    if (!broken_ok && sm->fenced) {
        srv_call_fail(call, MM_UNAVAILABLE,
                      "%s: machine %" PRIu64 ": a "
                      "write of it failed; it is being rebuilt from its log",
                      what, id);
        return NULL;
    }
    why = sm->broken != NULL ? sm->broken
          : sm->m != NULL    ? mm_broken(sm->m)
                             : NULL;
    if (!broken_ok && (why != NULL || sm->m == NULL)) {
        srv_call_fail(call, MM_INTERNAL,
                      "%s: machine %" PRIu64 " is broken: %s", what, id,
                      why != NULL ? why : "no state");
        return NULL;
    }
    return sm;
}

/* One more change, daemon-wide and for the caller's tenant. */
static void count_change(struct srv_call *call)
{
    struct srv_tenant *t = call->c != NULL ? srv_conn_tenant_state(call->c)
                                           : NULL;

    call->s->n.changes++;
    if (t != NULL)
        t->changes++;
}

/* False (and the call failed) if @name is longer than SRV_NAME_MAX. */
static bool name_ok(struct srv_call *call, const char *what, const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n <= SRV_NAME_MAX)
        return true;
    srv_call_fail(call, MM_INVALID_ARGUMENT,
                  "%s: name is %zu bytes; at most "
                  "%d",
                  what, n, SRV_NAME_MAX);
    return false;
}

/* A change the engine applied could not be logged: commit.c fences the
 * machine and brings it back to its log, off this request's path. */
static void unlogged(struct srv_call *call, struct srv_machine *sm,
                     const char *err)
{
    srv_commit_refused(call->s, sm);
    srv_call_fail(call, MM_UNAVAILABLE, "%s", err);
}

/* ------------------------------------------------------------------ */
/* Session                                                             */
/* ------------------------------------------------------------------ */

/* Constant-time comparison: the time taken does not depend on where the
 * bytes differ (only on the lengths, which are not secret). */
static bool token_equal(const uint8_t *a, size_t alen, const uint8_t *b,
                        size_t blen)
{
    volatile uint8_t diff = (uint8_t)(alen != blen);
    size_t i, n = alen > blen ? alen : blen;

    for (i = 0; i < n; i++) {
        uint8_t x = i < alen ? a[i] : 0, y = i < blen ? b[i] : 0;

        diff |= x ^ y;
    }
    return diff == 0;
}

static void hello_reply(struct srv_call *call)
{
    Armmap__V1__HelloReply *r;
    Armmap__V1__Response *resp = call->resp;

    r = NEW(call, Armmap__V1__HelloReply, ARMMAP__V1__HELLO_REPLY__INIT);
    r->protocol = SRV_PROTOCOL;
    r->server = SRV_NAME " " SRV_VERSION;
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_HELLO;
    resp->hello = r;
}

/* --tenants-file: the token decides the tenant; Hello's name, if any,
 * must be the same. */
static void hello_by_token(struct srv_call *call, const Armmap__V1__Hello *h)
{
    const struct srv_tenant_conf *conf;
    struct srv_tenant *t;

    call->close_after = true; /* unless it succeeds */
    if (h->token.len == 0) {
        srv_call_fail(call, MM_UNAUTHENTICATED,
                      "hello: this daemon requires a token");
        return;
    }
    conf = srv_tenants_match(call->s->tenants_file, h->token.data,
                             h->token.len);
    if (conf == NULL) {
        srv_call_fail(call, MM_UNAUTHENTICATED,
                      "hello: the token is not valid");
        srv_log(SRV_LOG_WARN, "hello refused: a token of no tenant");
        return;
    }
    if (h->tenant[0] != '\0' && strcmp(h->tenant, conf->name) != 0) {
        srv_call_fail(call, MM_PERMISSION_DENIED,
                      "hello: this token belongs "
                      "to tenant '%s', not '%.80s'",
                      conf->name, h->tenant);
        return;
    }
    t = srv_tenant_get(call->s, conf->name, conf);
    if (t == NULL) {
        srv_call_fail(call, MM_NO_MEMORY, "hello: out of host memory");
        return;
    }
    call->close_after = false;
    srv_conn_hello_done(call->c, t);
    hello_reply(call);
}

static void h_hello(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__Hello *h = req->hello;
    struct srv_tenant *t;

    if (!srv_conn_in_hello(call->c)) {
        srv_call_fail(
            call, MM_INVALID_ARGUMENT,
            "hello: this connection already said hello as tenant '%s'",
            srv_conn_tenant(call->c));
        return;
    }
    if (h->protocol != SRV_PROTOCOL) {
        srv_call_fail(call, MM_INVALID_ARGUMENT,
                      "hello: protocol %" PRIu32
                      " is not supported (this daemon speaks %d)",
                      h->protocol, SRV_PROTOCOL);
        call->close_after = true;
        return;
    }
    if (call->s->tenants_file != NULL) {
        hello_by_token(call, h);
        return;
    }
    if (!srv_valid_tenant(h->tenant)) {
        srv_call_fail(call, MM_INVALID_ARGUMENT,
                      "hello: tenant '%.80s' is not "
                      "1-64 bytes of [A-Za-z0-9._-]",
                      h->tenant);
        call->close_after = true;
        return;
    }
    if (call->s->token != NULL &&
        !token_equal(h->token.data, h->token.len, call->s->token,
                     call->s->token_len)) {
        srv_call_fail(call, MM_UNAUTHENTICATED, "hello: %s",
                      h->token.len == 0 ? "this daemon requires a token"
                                        : "the token is not valid");
        call->close_after = true;
        srv_log(SRV_LOG_WARN, "hello as '%s' refused: bad token", h->tenant);
        return;
    }
    t = srv_tenant_get(call->s, h->tenant, NULL);
    if (t == NULL) {
        srv_call_fail(call, MM_NO_MEMORY, "hello: out of host memory");
        call->close_after = true;
        return;
    }
    srv_conn_hello_done(call->c, t);
    hello_reply(call);
}

static void h_ping(struct srv_call *call, const Armmap__V1__Request *req)
{
    Armmap__V1__Response *resp = call->resp;

    (void)req;
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_PONG;
    resp->pong = NEW(call, Armmap__V1__Pong, ARMMAP__V1__PONG__INIT);
}

static void h_presets(struct srv_call *call, const Armmap__V1__Request *req)
{
    Armmap__V1__PresetList *pl = NEW(call, Armmap__V1__PresetList,
                                     ARMMAP__V1__PRESET_LIST__INIT);
    const struct mm_preset_info *info;
    Armmap__V1__Response *resp = call->resp;
    size_t n, i;

    (void)req;
    info = mm_presets(&n);
    pl->n_presets = n;
    pl->presets = srv_call_alloc(call, (n + 1) * sizeof(*pl->presets));
    for (i = 0; i < n; i++) {
        Armmap__V1__PresetList__Preset *p =
            NEW(call, Armmap__V1__PresetList__Preset,
                ARMMAP__V1__PRESET_LIST__PRESET__INIT);

        p->name = (char *)info[i].name;
        p->summary = (char *)info[i].summary;
        pl->presets[i] = p;
    }
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_PRESETS;
    resp->presets = pl;
}

/* ------------------------------------------------------------------ */
/* Machines                                                            */
/* ------------------------------------------------------------------ */

static Armmap__V1__Machine *machine_msg(struct srv_call *call,
                                        const struct srv_machine *sm, bool full)
{
    Armmap__V1__Machine *mm = NEW(call, Armmap__V1__Machine,
                                  ARMMAP__V1__MACHINE__INIT);
    const char *why;

    mm->id = sm->ext_id;
    mm->name = sm->name;
    mm->tenant = (char *)sm->tenant;
    mm->config = sm->config;
    mm->seq = sm->m != NULL ? mm_seq(sm->m) : 0;
    mm->created_ms = sm->created_ms;
    mm->events = sm->events;
    why = sm->broken != NULL ? sm->broken
          : sm->m != NULL    ? mm_broken(sm->m)
                             : NULL;
    if (why != NULL)
        mm->broken = srv_call_strdup(call, why);
    if (full && sm->m != NULL) {
        struct mm_stats st;
        unsigned z;

        mm_get_stats(sm->m, &st);
        mm->n_zones = st.nr_zones;
        mm->zones = srv_call_alloc(call,
                                   (st.nr_zones + 1) * sizeof(*mm->zones));
        for (z = 0; z < st.nr_zones; z++) {
            Armmap__V1__ZoneInfo *zi = NEW(call, Armmap__V1__ZoneInfo,
                                           ARMMAP__V1__ZONE_INFO__INIT);

            zi->name = (char *)st.zone[z].name;
            zi->start_pfn = st.zone[z].start_pfn;
            zi->end_pfn = st.zone[z].end_pfn;
            zi->present = st.zone[z].present;
            zi->managed = st.zone[z].managed;
            zi->free = st.zone[z].free;
            zi->n_nr_free = st.nr_orders; /* 12 on a version-3 armmp machine */
            zi->nr_free = srv_call_alloc(call, sizeof(uint32_t) * st.nr_orders);
            memcpy(zi->nr_free, st.zone[z].nr_free,
                   sizeof(uint32_t) * st.nr_orders);
            mm->zones[z] = zi;
        }
        mm->pkmap_in_use = st.pkmap_in_use;
        mm->pkmap_flushes = st.pkmap_flushes;
        mm->tlb_flushes = st.tlb_flushes;
        mm->vmalloc_areas = st.vmalloc_areas;
        mm->vmalloc_pages = st.vmalloc_pages;
        mm->pte_pages = st.pte_pages;
        mm->host_bytes = st.host_bytes;
    }
    return mm;
}

static bool check_limits(struct srv_call *call, const char *what)
{
    struct srv *s = call->s;
    const char *tenant = srv_conn_tenant(call->c);
    const struct srv_tenant *t = srv_conn_tenant_state(call->c);

    if (srv_registry_count(s->reg) >= s->st->max_machines) {
        srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                      "%s: the daemon holds %" PRIu64
                      " machines (--max-machines)",
                      what, s->st->max_machines);
        return false;
    }
    if (srv_registry_tenant_host_bytes(s->reg, tenant) >= t->max_host_bytes) {
        srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                      "%s: tenant '%s' holds %" PRIu64
                      " host bytes (%s %" PRIu64 ")",
                      what, tenant,
                      srv_registry_tenant_host_bytes(s->reg, tenant),
                      t->own_max_host_bytes
                          ? "max-host-bytes-per-tenant in --tenants-file"
                          : "--max-host-bytes-per-tenant",
                      t->max_host_bytes);
        return false;
    }
    if (srv_registry_tenant_count(s->reg, tenant) >= t->max_machines) {
        srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                      "%s: tenant '%s' has %" PRIu64 " machines (%s)", what,
                      tenant, t->max_machines,
                      t->own_max_machines
                          ? "max-machines-per-tenant in --tenants-file"
                          : "--max-machines-per-tenant");
        return false;
    }
    return true;
}

/* --max-host-bytes-per-tenant for what adds @more host bytes at once (a
 * new machine, a clone, a streamed reply's copy): refused, naming both
 * figures, if the caller's tenant would then hold more than its quota. */
static bool host_room(struct srv_call *call, const char *what, uint64_t more)
{
    const char *tenant = srv_conn_tenant(call->c);
    const struct srv_tenant *t = srv_conn_tenant_state(call->c);
    uint64_t held;

    if (t == NULL)
        return true;
    held = srv_registry_tenant_host_bytes(call->s->reg, tenant);
    if (held <= t->max_host_bytes && more <= t->max_host_bytes - held)
        return true;
    srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                  "%s: tenant '%s' holds %" PRIu64 " host bytes and would "
                  "need %" PRIu64 " more (%s %" PRIu64 ")",
                  what, tenant, held, more,
                  t->own_max_host_bytes
                      ? "max-host-bytes-per-tenant in --tenants-file"
                      : "--max-host-bytes-per-tenant",
                  t->max_host_bytes);
    return false;
}

/* Registers a new machine (@m taken), logs its creation, answers with it. */
static void new_machine(struct srv_call *call, const char *what,
                        struct mm_machine *m, const char *name,
                        const char *config, uint64_t parent,
                        uint64_t parent_seq)
{
    struct srv *s = call->s;
    struct srv_machine *sm;
    char err[SRV_MSG_MAX];
    Armmap__V1__Response *resp = call->resp;

    sm = srv_machine_add(s->reg, 0, srv_conn_tenant(call->c), name, config,
                         srv_now_ms(), m);
    if (sm == NULL) {
        srv_call_fail(call, MM_NO_MEMORY, "%s: out of host memory", what);
        return;
    }
    sm->parent = parent;
    sm->parent_seq = parent_seq;
    call->ticket = srv_persist_create(s, sm, err, sizeof(err));
    if (call->ticket == 0) {
        srv_machine_free(sm);
        srv_call_fail(call, MM_UNAVAILABLE, "%s: %s", what, err);
        return;
    }
    srv_machine_relink(s->reg, sm);
    count_change(call);
    call->rtarget = sm->id;
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_MACHINE;
    resp->machine = machine_msg(call, sm, true);
}

static void h_create(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__Create *cr = req->create;
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    char err[MM_MSG_MAX];
    enum mm_status st = MM_OK;
    char *text;
    size_t i;

    if (!name_ok(call, "create", cr->name) || !check_limits(call, "create"))
        return;
    mm_config_default(&cfg);
    if (cr->preset != NULL && cr->preset[0] != '\0')
        st = mm_config_preset(&cfg, cr->preset, err);
    for (i = 0; st == MM_OK && i < cr->n_settings; i++) {
        const Armmap__V1__Setting *kv = cr->settings[i];

        st = mm_config_set(&cfg, kv->key, kv->value, err);
    }
    if (st == MM_OK)
        st = srv_boot(&cfg, &m, err);
    if (st != MM_OK) {
        srv_call_fail(call, st, "%s", err);
        return;
    }
    if (!host_room(call, "create", mm_host_bytes(m))) {
        mm_destroy(m);
        return;
    }
    text = srv_config_text(mm_machine_config(m));
    if (text == NULL) {
        mm_destroy(m);
        srv_call_fail(call, MM_NO_MEMORY, "create: out of host memory");
        return;
    }
    new_machine(call, "create", m, cr->name, text, 0, 0);
    free(text);
}

static void h_destroy(struct srv_call *call, const Armmap__V1__Request *req)
{
    struct srv *s = call->s;
    struct srv_machine *sm;
    char err[SRV_MSG_MAX], msg[SRV_MSG_MAX];

    sm = need_machine(call, "destroy", req->destroy->machine, true);
    if (sm == NULL)
        return;
    if (sm->fenced) {
        srv_call_fail(call, MM_UNAVAILABLE,
                      "destroy: machine %" PRIu64 ": a "
                      "write of it failed; it is being rebuilt from its log",
                      sm->id);
        return;
    }
    call->ticket = srv_persist_destroy(s, sm, err, sizeof(err));
    if (call->ticket == 0) {
        srv_call_fail(call, MM_UNAVAILABLE, "destroy: %s", err);
        return;
    }
    srv_machine_unlink(s->reg, sm->id);
    call->rtarget = sm->id;
    snprintf(msg, sizeof(msg), "kmap: machine %" PRIu64 " was destroyed",
             sm->ext_id);
    srv_park_fail_machine(s, sm, MM_NOT_FOUND, msg);
    count_change(call);
}

struct list_ctx {
    struct srv_call *call;
    Armmap__V1__MachineList *ml;
    size_t cap;
};

static void list_one(void *arg, struct srv_machine *sm)
{
    struct list_ctx *lc = arg;

    if (lc->ml->n_machines < lc->cap)
        lc->ml->machines[lc->ml->n_machines++] = machine_msg(lc->call, sm,
                                                             false);
}

/* Cluster mode: one machine row of the shared table, as this node holds
 * it if it does (its engine's seq), else as the row says. */
static int list_row(void *arg, const struct store_machine *row)
{
    struct list_ctx *lc = arg;
    struct srv_call *call = lc->call;
    struct srv_machine *sm = srv_machine_get(call->s->reg, row->id);
    Armmap__V1__Machine *mm;

    if (lc->ml->n_machines == lc->cap) {
        Armmap__V1__Machine **v = srv_call_alloc(call,
                                                 2 * lc->cap * sizeof(*v));

        memcpy(v, lc->ml->machines, lc->cap * sizeof(*v));
        lc->ml->machines = v;
        lc->cap *= 2;
    }
    if (sm != NULL && !sm->lost) {
        mm = machine_msg(call, sm, false);
    } else {
        mm = NEW(call, Armmap__V1__Machine, ARMMAP__V1__MACHINE__INIT);
        mm->id = srv_id_out(call->s->reg, row->id);
        mm->name = srv_call_strdup(call, row->name != NULL ? row->name : "");
        mm->tenant = srv_call_strdup(call,
                                     row->tenant != NULL ? row->tenant : "");
        mm->config = (char *)"";
        mm->seq = row->last_seq > row->parent_seq ? row->last_seq
                                                  : row->parent_seq;
        mm->created_ms = row->created_ms;
        mm->events = row->nevents;
    }
    lc->ml->machines[lc->ml->n_machines++] = mm;
    return 0;
}

/* Cluster mode: every node's machines of the tenant (the shared table). */
static void list_shared(struct srv_call *call, struct list_ctx *lc)
{
    struct store_machine_filter f;

    memset(&f, 0, sizeof(f));
    f.tenant = srv_conn_tenant(call->c);
    lc->cap = 64;
    lc->ml->machines = srv_call_alloc(call,
                                      lc->cap * sizeof(*lc->ml->machines));
    if (store_list_machines(srv_persist_store(call->s), &f, list_row, lc,
                            NULL) != STORE_OK)
        srv_call_fail(call, MM_UNAVAILABLE, "list: store: %s",
                      store_errmsg(srv_persist_store(call->s)));
}

static void h_list(struct srv_call *call, const Armmap__V1__Request *req)
{
    struct srv *s = call->s;
    const char *tenant = srv_conn_tenant(call->c);
    struct list_ctx lc;
    Armmap__V1__Response *resp = call->resp;

    (void)req;
    if (s->cluster != NULL) {
        lc.call = call;
        lc.ml = NEW(call, Armmap__V1__MachineList,
                    ARMMAP__V1__MACHINE_LIST__INIT);
        list_shared(call, &lc);
        resp->body_case = ARMMAP__V1__RESPONSE__BODY_MACHINES;
        resp->machines = lc.ml;
        return;
    }
    lc.call = call;
    lc.cap = srv_registry_tenant_count(s->reg, tenant);
    lc.ml = NEW(call, Armmap__V1__MachineList, ARMMAP__V1__MACHINE_LIST__INIT);
    lc.ml->machines = srv_call_alloc(call,
                                     (lc.cap + 1) * sizeof(*lc.ml->machines));
    srv_registry_foreach(s->reg, tenant, list_one, &lc);
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_MACHINES;
    resp->machines = lc.ml;
}

/* Adds the kmaps parked on @sm (park.c's list, oldest first) to @mm. */
static void machine_parked(struct srv_call *call, const struct srv_machine *sm,
                           Armmap__V1__Machine *mm)
{
    size_t n = srv_park_list(sm, NULL, NULL, 0), i;
    uint32_t *pfn = srv_call_alloc(call, (n + 1) * sizeof(*pfn));
    uint32_t *cpu = srv_call_alloc(call, (n + 1) * sizeof(*cpu));

    srv_park_list(sm, pfn, cpu, n);
    mm->parked_kmaps = (uint32_t)n;
    mm->n_parked = n;
    mm->parked = srv_call_alloc(call, (n + 1) * sizeof(*mm->parked));
    for (i = 0; i < n; i++) {
        Armmap__V1__Machine__Parked *p = NEW(call, Armmap__V1__Machine__Parked,
                                             ARMMAP__V1__MACHINE__PARKED__INIT);

        p->pfn = pfn[i];
        p->cpu = cpu[i];
        mm->parked[i] = p;
    }
}

static void h_describe(struct srv_call *call, const Armmap__V1__Request *req)
{
    struct srv_machine *sm = need_machine(call, "describe",
                                          req->describe->machine, true);
    Armmap__V1__Response *resp = call->resp;

    if (sm == NULL)
        return;
    /* Fenced, its engine state still holds the changes the store refused
     * (seq, counts) until the rebuild: not to be shown as the machine. */
    if (sm->fenced) {
        srv_call_fail(call, MM_UNAVAILABLE,
                      "describe: machine %" PRIu64 ": a "
                      "write of it failed; it is being rebuilt from its log",
                      req->describe->machine);
        return;
    }
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_MACHINE;
    resp->machine = machine_msg(call, sm, true);
    machine_parked(call, sm, resp->machine);
}

static void h_clone(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__Clone *cl = req->clone;
    struct srv_machine *src = need_machine(call, "clone", cl->machine, false);
    struct mm_machine *m;

    if (src == NULL || !name_ok(call, "clone", cl->name) ||
        !check_limits(call, "clone") ||
        !host_room(call, "clone", mm_host_bytes(src->m)))
        return;
    m = mm_clone(src->m);
    if (m == NULL) {
        srv_call_fail(call, MM_NO_MEMORY, "clone: out of host memory");
        return;
    }
    new_machine(call, "clone", m, cl->name, src->config, src->id,
                mm_seq(src->m));
}

static void h_fork(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__Fork *fk = req->fork;
    struct srv_machine *src = need_machine(call, "fork", fk->machine, false);
    struct mm_config cfg;
    struct mm_machine *m = NULL;
    char err[SRV_MSG_MAX], emsg[MM_MSG_MAX];
    enum mm_status st;

    if (src == NULL || !name_ok(call, "fork", fk->name) ||
        !check_limits(call, "fork"))
        return;
    if (fk->at_seq > mm_seq(src->m)) {
        srv_call_fail(call, MM_INVALID_ARGUMENT,
                      "fork: machine %" PRIu64 " has %" PRIu64
                      " changes; at_seq %" PRIu64 " is beyond them",
                      src->ext_id, mm_seq(src->m), fk->at_seq);
        return;
    }
    if (fk->at_seq == mm_seq(src->m) && fk->at_seq != 0) {
        if (!host_room(call, "fork", mm_host_bytes(src->m)))
            return;
        m = mm_clone(src->m);
        if (m == NULL) {
            srv_call_fail(call, MM_NO_MEMORY, "fork: out of host memory");
            return;
        }
    } else if (fk->at_seq == 0) {
        mm_config_default(&cfg);
        st = mm_config_parse(&cfg, src->config, emsg);
        if (st == MM_OK)
            st = srv_boot(&cfg, &m, emsg);
        if (st != MM_OK) {
            srv_call_fail(call, MM_INTERNAL, "fork: %s", emsg);
            return;
        }
    } else {
        if (fk->at_seq > src->committed_seq) {
            /* Replay reads the store: wait for this connection's own
             * changes; others' are not answered yet, so not promised. */
            if (srv_conn_has_waiting(call->c)) {
                srv_conn_defer(call->c);
                call->parked = true;
                return;
            }
            srv_call_fail(call, MM_UNAVAILABLE,
                          "fork: machine %" PRIu64
                          " is committed up to seq %" PRIu64 ", not %" PRIu64
                          " yet; retry",
                          src->id, src->committed_seq, fk->at_seq);
            return;
        }
        /* On a worker thread: this frame is dispatched again when the
         * replay is done (persist.c, "Fork replays"). */
        st = srv_persist_fork_replay(call->s, src->id, src->config, fk->at_seq,
                                     &m, err, sizeof(err));
        if (st == MM_WOULD_BLOCK) {
            srv_conn_defer(call->c);
            call->parked = true;
            return;
        }
        if (st != MM_OK) {
            srv_call_fail(call, st, "fork: %s", err);
            return;
        }
    }
    /* Replayed, its size is known only now: refused before it joins. */
    if (!host_room(call, "fork", mm_host_bytes(m))) {
        mm_destroy(m);
        return;
    }
    new_machine(call, "fork", m, fk->name, src->config,
                fk->at_seq != 0 ? src->id : 0, fk->at_seq);
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

static Armmap__V1__OpResult *op_result(struct srv_call *call,
                                       const struct mm_result *res)
{
    Armmap__V1__OpResult *r = NEW(call, Armmap__V1__OpResult,
                                  ARMMAP__V1__OP_RESULT__INIT);
    Armmap__V1__Status *st = NEW(call, Armmap__V1__Status,
                                 ARMMAP__V1__STATUS__INIT);

    st->code = (Armmap__V1__Code)res->status;
    st->message = srv_call_strdup(call, res->msg);
    r->status = st;
    r->value = res->value;
    r->aux = res->aux;
    r->flags = res->flags;
    r->seq = res->seq;
    return r;
}

/* snprintf("%s") without the formatting machinery: one per op adds up. */
static void copy_msg(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The reply of @call waits for @ticket's commit. */
static void wait_for(struct srv_call *call, uint64_t ticket)
{
    if (call->first_ticket == 0)
        call->first_ticket = ticket;
    call->ticket = ticket;
}

/* Records the event of op @op with result @res into @ev (args borrowed
 * from the request, which outlives the submit). */
static void batch_event(const struct srv_machine *sm, const struct mm_op *op,
                        const struct mm_result *res, struct store_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->machine = sm->id;
    ev->seq = res->seq;
    ev->time_ms = srv_now_ms();
    ev->op = op->code;
    ev->cpu = op->cpu;
    ev->nargs = op->nargs;
    ev->args = op->args;
    ev->value = res->value;
    ev->aux = res->aux;
    ev->flags = res->flags;
    ev->status = (int32_t)res->status;
}

/* Ops that may make a machine hold more host memory. */
static bool may_grow(enum mm_opcode code)
{
    switch (code) {
    case MM_OP_ALLOC:
    case MM_OP_KMAP:
    case MM_OP_KMAP_ATOMIC:
    case MM_OP_VMALLOC:
    case MM_OP_VMAP:
    case MM_OP_IOREMAP:
    case MM_OP_MODULE_ALLOC:
        return true;
    default:
        return false;
    }
}

/* --max-host-bytes-per-tenant: once a tenant's machines hold that much
 * host memory, ops that may grow one are refused (frees and unmaps still
 * run).  Fills @res and returns true if @op is refused. */
static bool over_host_bytes(struct srv_call *call, struct srv_machine *sm,
                            const struct mm_op *op, struct mm_result *res)
{
    const struct srv_tenant *t = srv_conn_tenant_state(call->c);
    uint64_t held;

    if (t == NULL || !may_grow(op->code))
        return false;
    held = srv_machine_tenant_host_bytes(call->s->reg, sm);
    if (held < t->max_host_bytes)
        return false;
    res->status = MM_RESOURCE_EXHAUSTED;
    snprintf(res->msg, sizeof(res->msg),
             "%s: tenant '%s' holds %" PRIu64 " host bytes (%s %" PRIu64 ")",
             mm_op_name(op->code), t->name, held,
             t->own_max_host_bytes
                 ? "max-host-bytes-per-tenant in --tenants-file"
                 : "--max-host-bytes-per-tenant",
             t->max_host_bytes);
    return true;
}

/* --max-events-per-tenant: the store holds at most that many events for
 * a tenant's machines, live or destroyed and not purged.  Fills @msg (of
 * @size bytes) and returns true if @n more events are refused. */
static bool over_events(struct srv_call *call, struct srv_machine *sm,
                        const char *what, size_t n, char *msg, size_t size)
{
    const struct srv_tenant *t = srv_conn_tenant_state(call->c);
    uint64_t held;

    if (t == NULL)
        return false;
    held = srv_machine_tenant_events(call->s->reg, sm);
    if (held + n <= t->max_events)
        return false;
    snprintf(msg, size,
             "%s: tenant '%s' has %" PRIu64 " events stored "
             "(%s %" PRIu64 "); destroy and purge machines",
             what, t->name, held,
             t->own_max_events ? "max-events-per-tenant in --tenants-file"
                               : "--max-events-per-tenant",
             t->max_events);
    return true;
}

/* Applies one op and logs it; returns its status (UNAVAILABLE if the store
 * refused: the machine is then fenced until rebuilt). */
static enum mm_status apply_logged(struct srv_call *call,
                                   struct srv_machine *sm,
                                   const struct mm_op *op,
                                   struct mm_result *res)
{
    char err[SRV_MSG_MAX];
    uint64_t ticket;

    memset(res, 0, sizeof(*res));
    if (over_host_bytes(call, sm, op, res))
        return res->status;
    if (over_events(call, sm,
                    mm_op_name(op->code) ? mm_op_name(op->code) : "op", 1,
                    res->msg, sizeof(res->msg))) {
        res->status = MM_RESOURCE_EXHAUSTED;
        return res->status;
    }
    srv_stream_detach_all(sm); /* before the change */
    if (mm_apply(sm->m, op, res) != MM_OK)
        return res->status;
    srv_machine_account(call->s->reg, sm);
    ticket = srv_persist_event(call->s, sm, op, res, err, sizeof(err));
    if (ticket == 0) {
        unlogged(call, sm, err);
        res->status = MM_UNAVAILABLE;
        snprintf(res->msg, sizeof(res->msg), "%.*s", (int)sizeof(res->msg) - 1,
                 err);
        return MM_UNAVAILABLE;
    }
    wait_for(call, ticket);
    count_change(call);
    return MM_OK;
}

static void h_op(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__Op *o = req->op;
    struct srv_machine *sm =
        need_machine(call,
                     mm_op_name((enum mm_opcode)o->code)
                         ? mm_op_name((enum mm_opcode)o->code)
                         : "op",
                     o->machine, false);
    struct mm_result res;
    struct mm_op op;
    Armmap__V1__Response *resp = call->resp;

    if (sm == NULL)
        return;
    if (o->n_args > MM_OP_MAX_ARGS) {
        srv_call_fail(call, MM_INVALID_ARGUMENT,
                      "op: %zu arguments; at most %d", o->n_args,
                      MM_OP_MAX_ARGS);
        return;
    }
    op.code = (enum mm_opcode)o->code;
    op.cpu = o->cpu;
    op.nargs = (uint32_t)o->n_args;
    op.args = o->args;
    apply_logged(call, sm, &op, &res);
    if (res.status == MM_WOULD_BLOCK && op.code == MM_OP_KMAP &&
        o->wait_ms > 0 && o->n_args >= 1) {
        uint32_t wait = o->wait_ms < MAX_WAIT_MS ? o->wait_ms : MAX_WAIT_MS;
        struct srv_tenant *t = srv_conn_tenant_state(call->c);

        if (t->parked_kmaps >= t->max_parked_kmaps) {
            srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                          "kmap: tenant '%s' has "
                          "%" PRIu64 " parked kmaps (--max-parked-kmaps)",
                          t->name, t->parked_kmaps);
            return;
        }
        if (srv_park_kmap(call->s, call->c, t, sm, call->id, o->cpu, o->args[0],
                          wait, res.msg) == 0) {
            call->parked = true;
            return;
        }
    }
    if (res.status == MM_OK && (res.flags & MM_RES_WAKE))
        call->wake = sm->id;
    call->code = res.status;
    copy_msg(call->msg, sizeof(call->msg), res.msg);
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_OP;
    resp->op = op_result(call, &res);
}

bool srv_dispatch_kmap_retry(struct srv *s, struct srv_park *p)
{
    struct srv_machine *sm = p->sm;
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    uint32_t args[1] = { p->pfn };
    struct srv_call call;
    struct mm_result res;
    struct mm_op op;

    if (sm == NULL || sm->m == NULL || sm->fenced)
        return false;
    op.code = MM_OP_KMAP;
    op.cpu = p->cpu;
    op.nargs = 1;
    op.args = args;
    call_init(&call, s, p->c, p->req_id, &resp);
    apply_logged(&call, sm, &op, &res);
    if (res.status == MM_WOULD_BLOCK) {
        snprintf(p->msg, sizeof(p->msg), "%s", res.msg);
        call_free(&call);
        return false;
    }
    call.code = res.status;
    snprintf(call.msg, sizeof(call.msg), "%s", res.msg);
    resp.body_case = ARMMAP__V1__RESPONSE__BODY_OP;
    resp.op = op_result(&call, &res);
    srv_conn_reply(&call);
    call_free(&call);
    return true;
}

static void h_batch(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__Batch *b = req->batch;
    struct srv_machine *sm = need_machine(call, "batch", b->machine, false);
    Armmap__V1__BatchResult *br;
    Armmap__V1__Response *resp = call->resp;
    struct store_event *ev;
    char err[SRV_MSG_MAX];
    bool wake = false;
    size_t i, nev = 0;

    if (sm == NULL)
        return;
    if (b->n_ops > call->s->st->max_batch_ops) {
        srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                      "batch: %zu ops exceed "
                      "--max-batch-ops (%" PRIu64 ")",
                      b->n_ops, call->s->st->max_batch_ops);
        return;
    }
    if (over_events(call, sm, "batch", b->n_ops, call->msg,
                    sizeof(call->msg))) {
        call->code = MM_RESOURCE_EXHAUSTED;
        return;
    }
    srv_stream_detach_all(sm); /* before the changes */
    br = NEW(call, Armmap__V1__BatchResult, ARMMAP__V1__BATCH_RESULT__INIT);
    br->results = srv_call_alloc(call, (b->n_ops + 1) * sizeof(*br->results));
    ev = srv_call_alloc(call, (b->n_ops + 1) * sizeof(*ev));
    for (i = 0; i < b->n_ops; i++) {
        const Armmap__V1__Op *o = b->ops[i];
        struct mm_result res;
        struct mm_op op;

        op.code = (enum mm_opcode)o->code;
        op.cpu = o->cpu;
        op.nargs = (uint32_t)(o->n_args <= MM_OP_MAX_ARGS ? o->n_args
                                                          : MM_OP_MAX_ARGS + 1);
        op.args = o->args;
        memset(&res, 0, sizeof(res));
        if (over_host_bytes(call, sm, &op, &res)) {
            /* refused as a single op would be */
        } else if (mm_apply(sm->m, &op, &res) == MM_OK) {
            batch_event(sm, &op, &res, &ev[nev++]);
            if (may_grow(op.code))
                srv_machine_account(call->s->reg, sm);
        }
        br->results[br->n_results++] = op_result(call, &res);
        if (res.status == MM_OK && (res.flags & MM_RES_WAKE))
            wake = true;
        if (res.status != MM_OK && b->stop_on_error)
            break;
    }
    srv_machine_account(call->s->reg, sm);
    /* The whole Batch is one unit in the store: kept whole or not at all. */
    if (nev > 0) {
        uint64_t ticket = srv_persist_events(call->s, sm, ev, nev, err,
                                             sizeof(err));

        if (ticket == 0) {
            unlogged(call, sm, err);
            return;
        }
        wait_for(call, ticket);
        call->s->n.changes += nev;
    }
    if (wake)
        call->wake = sm->id;
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_BATCH;
    resp->batch = br;
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */
/* ------------------------------------------------------------------ */

/* The engine's enums and the wire's are the same numbers (proto/names.h):
 * values cross between them by a cast. */
#define SAME_CODE(s, name) \
    _Static_assert((int)MM_##s == (int)ARMMAP__V1__CODE__##s, "code " #s);
#define SAME_OP(s, name) \
    _Static_assert((int)MM_OP_##s == (int)ARMMAP__V1__OP_CODE__OP_##s, \
                   "op " #s);
#define SAME_REGION(s, name) \
    _Static_assert((int)MM_VREGION_##s == (int)ARMMAP__V1__REGION__REGION_##s, \
                   "region " #s);
#define SAME_FAULT(s, name) \
    _Static_assert((int)MM_FAULT_##s == (int)ARMMAP__V1__FAULT__FAULT_##s, \
                   "fault " #s);
ARMMAP_STATUS_LIST(SAME_CODE)
ARMMAP_OP_LIST(SAME_OP)
ARMMAP_REGION_LIST(SAME_REGION)
ARMMAP_FAULT_LIST(SAME_FAULT)
_Static_assert((int)MM_STATUS_COUNT == (int)NAMES_STATUS_COUNT, "status count");
_Static_assert((int)MM_OP_COUNT == (int)NAMES_OP_COUNT, "op count");
_Static_assert((int)MM_VREGION_COUNT == (int)NAMES_REGION_COUNT,
               "region count");
_Static_assert((int)MM_FAULT_PERMISSION_L2 + 1 == (int)NAMES_FAULT_COUNT,
               "fault count");
/* Each region and fault is one byte as a varint (stream.c writes them so). */
_Static_assert(NAMES_REGION_COUNT <= 128 && NAMES_FAULT_COUNT <= 128,
               "one-byte varints");

static const char *const kind_names[] = { "fault",      "page table",
                                          "section",    "supersection",
                                          "large page", "small page" };

void srv_walk_fill(Armmap__V1__Walk *wm, Armmap__V1__WalkStep *steps,
                   Armmap__V1__WalkStep **ptrs, const struct mm_walk *w,
                   char *text)
{
    unsigned i;

    armmap__v1__walk__init(wm);
    wm->text = text;
    wm->n_steps = w->nsteps < 2 ? w->nsteps : 2;
    wm->steps = ptrs;
    for (i = 0; i < wm->n_steps; i++) {
        const struct mm_walk_step *st = &w->step[i];
        Armmap__V1__WalkStep *ws = &steps[i];

        armmap__v1__walk_step__init(ws);
        ws->level = st->level;
        ws->kind = (char *)(st->kind < 6 ? kind_names[st->kind] : "unknown");
        ws->addr = st->addr;
        ws->desc = st->desc;
        ws->domain = st->domain;
        ws->ap = st->ap;
        ws->tex = st->tex;
        ws->c = st->c;
        ws->b = st->b;
        ws->s = st->s;
        ws->ng = st->ng;
        ws->xn = st->xn;
        ws->next = st->next;
        ptrs[i] = ws;
    }
}

static Armmap__V1__Walk *walk_msg(struct srv_call *call,
                                  const struct mm_walk *w)
{
    Armmap__V1__Walk *wm = NEW(call, Armmap__V1__Walk, ARMMAP__V1__WALK__INIT);
    Armmap__V1__WalkStep *steps =
        srv_call_alloc(call, 2 * sizeof(Armmap__V1__WalkStep));
    Armmap__V1__WalkStep **ptrs =
        srv_call_alloc(call, 3 * sizeof(Armmap__V1__WalkStep *));
    size_t n = mm_walk_format(w, NULL, 0);
    char *text = srv_call_alloc(call, n + 1);

    mm_walk_format(w, text, n + 1);
    srv_walk_fill(wm, steps, ptrs, w, text);
    return wm;
}

static void h_translate(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__Translate *t = req->translate;
    struct srv_machine *sm = need_machine(call, "translate", t->machine, false);
    Armmap__V1__TranslateResult *tr;
    Armmap__V1__Response *resp = call->resp;
    size_t n = t->n_va, i;
    uint8_t *fault;

    if (sm == NULL)
        return;
    if (n > call->s->st->max_translate_batch) {
        srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                      "translate: %zu addresses "
                      "exceed --max-translate-batch (%" PRIu64 ")",
                      n, call->s->st->max_translate_batch);
        return;
    }
    /* A walk is ~160 bytes of reply: a reply of walks larger than
     * SRV_STREAM_MIN is never built whole but streamed as the socket
     * drains (stream.c), from a clone of the machine. */
    if (t->walk && (uint64_t)n * WALK_REPLY_BYTES > SRV_STREAM_MIN) {
        if (!host_room(call, "translate", mm_host_bytes(sm->m)))
            return;
        call->stream = srv_stream_translate(sm, call->id, t->va, n, t->access);
        if (call->stream == NULL)
            srv_call_fail(call, MM_NO_MEMORY,
                          "translate: out of host "
                          "memory");
        else
            srv_stream_charge(call->stream, call->s->reg,
                              srv_conn_tenant(call->c));
        return;
    }
    tr = NEW(call, Armmap__V1__TranslateResult,
             ARMMAP__V1__TRANSLATE_RESULT__INIT);
    tr->n_pa = n;
    tr->pa = srv_call_alloc(call, (n + 1) * sizeof(uint32_t));
    tr->n_fault = tr->n_region = n;
    tr->fault = srv_call_alloc(call, (n + 1) * sizeof(*tr->fault));
    tr->region = srv_call_alloc(call, (n + 1) * sizeof(*tr->region));
    fault = srv_call_alloc(call, n + 1);
    mm_translate_batch(sm->m, t->va, n, t->access, tr->pa, fault);
    for (i = 0; i < n; i++) {
        tr->fault[i] = (Armmap__V1__Fault)fault[i];
        tr->region[i] = (Armmap__V1__Region)mm_region_of(sm->m, t->va[i]);
    }
    if (t->walk) {
        tr->n_walks = n;
        tr->walks = srv_call_alloc(call, (n + 1) * sizeof(*tr->walks));
        for (i = 0; i < n; i++) {
            struct mm_walk w;

            memset(&w, 0, sizeof(w));
            mm_translate(sm->m, t->va[i], t->access, &w);
            tr->walks[i] = walk_msg(call, &w);
        }
    }
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_TRANSLATE;
    resp->translate = tr;
}

/*
 * Phys replies are built in memory kept from one call to the next: the
 * reply is packed (srv_conn_reply()) before the next request is
 * dispatched, and the daemon dispatches on one thread.  Fresh arena blocks
 * per call went back to the system after each reply and came back as page
 * faults, ~20,000 per million addresses at 8,192 a request, five times
 * the work itself.  A request over PHYS_KEEP addresses grows the scratch;
 * the next smaller one lets it go.
 */
#define PHYS_KEEP 65536

struct phys_scratch {
    size_t cap_n, cap_a; /* addresses, aliases of room */
    size_t *counts;      /* cap_n: aliases per address */
    Armmap__V1__PhysResult__Aliases *as, **ptrs; /* cap_n */
    struct mm_alias *all;   /* cap_a: every alias, in order */
    uint32_t *va;           /* cap_a */
    Armmap__V1__Region *rg; /* cap_a */
};

static struct phys_scratch phys_mem;

static void phys_scratch_free(struct phys_scratch *ps)
{
    free(ps->counts);
    free(ps->as);
    free(ps->ptrs);
    free(ps->all);
    free(ps->va);
    free(ps->rg);
    memset(ps, 0, sizeof(*ps));
}

/* Room for @n addresses (+1) in the per-address arrays. */
static bool phys_room_n(struct phys_scratch *ps, size_t n)
{
    size_t *c;
    Armmap__V1__PhysResult__Aliases *as, **pt;

    if (ps->cap_n > PHYS_KEEP && n <= PHYS_KEEP)
        phys_scratch_free(ps);
    if (n + 1 <= ps->cap_n)
        return true;
    c = realloc(ps->counts, (n + 1) * sizeof(*c));
    if (c != NULL)
        ps->counts = c;
    as = realloc(ps->as, (n + 1) * sizeof(*as));
    if (as != NULL)
        ps->as = as;
    pt = realloc(ps->ptrs, (n + 1) * sizeof(*pt));
    if (pt != NULL)
        ps->ptrs = pt;
    if (c == NULL || as == NULL || pt == NULL)
        return false;
    ps->cap_n = n + 1;
    return true;
}

/* Room for @k aliases (+1) in the per-alias arrays. */
static bool phys_room_a(struct phys_scratch *ps, size_t k)
{
    struct mm_alias *all;
    uint32_t *va;
    Armmap__V1__Region *rg;

    if (k + 1 <= ps->cap_a)
        return true;
    k = k + 1 > 2 * ps->cap_a ? k + 1 : 2 * ps->cap_a;
    all = realloc(ps->all, k * sizeof(*all));
    if (all != NULL)
        ps->all = all;
    va = realloc(ps->va, k * sizeof(*va));
    if (va != NULL)
        ps->va = va;
    rg = realloc(ps->rg, k * sizeof(*rg));
    if (rg != NULL)
        ps->rg = rg;
    if (all == NULL || va == NULL || rg == NULL)
        return false;
    ps->cap_a = k;
    return true;
}

/* The aliases of every pa into ps->all, each pa's count in ps->counts;
 * their total in *@used.  False if host memory ran out. */
static bool phys_gather(const struct mm_machine *m, struct phys_scratch *ps,
                        const uint32_t *pa, size_t n, size_t *used)
{
    size_t i, k;

    *used = 0;
    for (i = 0; i < n; i++) {
        if (!phys_room_a(ps, *used + 64))
            return false;
        k = mm_phys_aliases(m, pa[i], ps->all + *used, ps->cap_a - *used);
        if (k > ps->cap_a - *used) { /* more than room: grow, ask again */
            if (!phys_room_a(ps, *used + k))
                return false;
            k = mm_phys_aliases(m, pa[i], ps->all + *used, ps->cap_a - *used);
        }
        ps->counts[i] = k;
        *used += k;
    }
    return true;
}

/* Phys: the aliases of each pa, in phys_mem (see above). */
static void h_phys(struct srv_call *call, const Armmap__V1__Request *req)
{
    static const Armmap__V1__PhysResult__Aliases init =
        ARMMAP__V1__PHYS_RESULT__ALIASES__INIT;
    const Armmap__V1__Phys *ph = req->phys;
    struct srv_machine *sm = need_machine(call, "phys", ph->machine, false);
    struct phys_scratch *ps = &phys_mem;
    Armmap__V1__Response *resp = call->resp;
    Armmap__V1__PhysResult *pr;
    size_t total, i, k, at;

    if (sm == NULL)
        return;
    if (ph->n_pa > call->s->st->max_translate_batch) {
        srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                      "phys: %zu addresses exceed "
                      "--max-translate-batch (%" PRIu64 ")",
                      ph->n_pa, call->s->st->max_translate_batch);
        return;
    }
    /* Many addresses: answered a slice at a time (stream.c), as walks. */
    if (ph->n_pa > SRV_STREAM_PHYS_MIN) {
        if (!host_room(call, "phys", mm_host_bytes(sm->m)))
            return;
        call->stream = srv_stream_phys(sm, call->id, ph->pa, ph->n_pa);
        if (call->stream == NULL)
            srv_call_fail(call, MM_NO_MEMORY, "phys: out of host memory");
        else
            srv_stream_charge(call->stream, call->s->reg,
                              srv_conn_tenant(call->c));
        return;
    }
    if (!phys_room_n(ps, ph->n_pa) ||
        !phys_gather(sm->m, ps, ph->pa, ph->n_pa, &total)) {
        srv_call_fail(call, MM_RESOURCE_EXHAUSTED, "phys: out of host memory");
        return;
    }
    for (i = 0, at = 0; i < ph->n_pa; i++) {
        ps->as[i] = init;
        ps->as[i].n_va = ps->as[i].n_region = ps->counts[i];
        ps->as[i].va = ps->va + at;
        ps->as[i].region = ps->rg + at;
        for (k = 0; k < ps->counts[i]; k++, at++) {
            ps->va[at] = ps->all[at].va;
            ps->rg[at] = (Armmap__V1__Region)ps->all[at].region;
        }
        ps->ptrs[i] = &ps->as[i];
    }
    pr = NEW(call, Armmap__V1__PhysResult, ARMMAP__V1__PHYS_RESULT__INIT);
    pr->n_aliases = ph->n_pa;
    pr->aliases = ps->ptrs;
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_PHYS;
    resp->phys = pr;
}

/* Renders report @kind of @m as text or JSON into a string of @call's
 * arena; false after failing @call with the engine's reason. */
static bool render_report(struct srv_call *call, const struct mm_machine *m,
                          enum mm_report kind, bool json, char **out)
{
    struct mm_buf buf;
    enum mm_status st;

    memset(&buf, 0, sizeof(buf));
    st = json ? mm_report_json(m, kind, &buf) : mm_report(m, kind, &buf);
    if (st != MM_OK) {
        srv_call_fail(call, st, "%.*s", (int)(buf.data != NULL ? buf.len : 0),
                      buf.data != NULL ? buf.data : "");
        if (buf.data == NULL)
            srv_call_fail(call, st, "report: %s", mm_status_name(st));
        mm_buf_free(&buf);
        return false;
    }
    *out = srv_call_alloc(call, buf.len + 1);
    if (buf.len > 0)
        memcpy(*out, buf.data, buf.len);
    mm_buf_free(&buf);
    return true;
}

/* A report past REPORT_STREAM_MIN bytes (pagetables of a large machine)
 * is answered with a stream (stream.c): the rendered text is written as
 * the socket drains, not copied into the call and packed whole; a smaller
 * one is copied into @call's reply.  False (nothing answered) if the
 * engine refused: render_report() then renders it again to name why. */
#define REPORT_STREAM_MIN (64u << 10)

/* @b's text as a string of @call's arena (@b freed). */
static char *arena_text(struct srv_call *call, struct mm_buf *b)
{
    char *s = srv_call_alloc(call, b->len + 1);

    if (b->len > 0)
        memcpy(s, b->data, b->len);
    mm_buf_free(b);
    return s;
}

/* Answers @call with the rendered @text and @json (NULL: not asked). */
static void report_whole(struct srv_call *call, struct mm_buf *text,
                         struct mm_buf *json)
{
    Armmap__V1__ReportResult *rr = NEW(call, Armmap__V1__ReportResult,
                                       ARMMAP__V1__REPORT_RESULT__INIT);
    Armmap__V1__Response *resp = call->resp;

    if (text != NULL)
        rr->text = arena_text(call, text);
    if (json != NULL)
        rr->json = arena_text(call, json);
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_REPORT;
    resp->report = rr;
}

static bool report_stream(struct srv_call *call, const struct mm_machine *m,
                          enum mm_report kind, bool text, bool json)
{
    struct mm_buf b[2];
    enum mm_status st = MM_OK;

    memset(b, 0, sizeof(b));
    if (text)
        st = mm_report(m, kind, &b[0]);
    if (st == MM_OK && json)
        st = mm_report_json(m, kind, &b[1]);
    if (st != MM_OK) {
        mm_buf_free(&b[0]);
        mm_buf_free(&b[1]);
        return false;
    }
    if (b[0].len + b[1].len < REPORT_STREAM_MIN) {
        report_whole(call, text ? &b[0] : NULL, json ? &b[1] : NULL);
        return true;
    }
    call->stream = srv_stream_report(call->id, &b[0], &b[1]);
    mm_buf_free(&b[0]);
    mm_buf_free(&b[1]);
    if (call->stream == NULL)
        srv_call_fail(call, MM_NO_MEMORY, "report: out of host memory");
    return true;
}

static void h_report(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__Report *rp = req->report;
    struct srv_machine *sm = need_machine(call, "report", rp->machine, false);
    Armmap__V1__ReportResult *rr;
    Armmap__V1__Response *resp = call->resp;
    bool text, json;

    if (sm == NULL)
        return;
    if ((unsigned)rp->kind >= MM_REPORT_COUNT) {
        srv_call_fail(call, MM_INVALID_ARGUMENT, "report: unknown kind %d",
                      (int)rp->kind);
        return;
    }
    if ((unsigned)rp->format >
        ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT_AND_JSON) {
        srv_call_fail(call, MM_INVALID_ARGUMENT, "report: unknown format %d",
                      (int)rp->format);
        return;
    }
    text = rp->format != ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_JSON;
    json = rp->format != ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT;
    if (report_stream(call, sm->m, (enum mm_report)rp->kind, text, json))
        return;
    rr = NEW(call, Armmap__V1__ReportResult, ARMMAP__V1__REPORT_RESULT__INIT);
    if (text &&
        !render_report(call, sm->m, (enum mm_report)rp->kind, false, &rr->text))
        return;
    if (json &&
        !render_report(call, sm->m, (enum mm_report)rp->kind, true, &rr->json))
        return;
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_REPORT;
    resp->report = rr;
}

/* Stats of the caller's tenant; an admin tenant (a tenants file's, or
 * --admin-tenant without one) sees the daemon's. */
static void h_stats(struct srv_call *call, const Armmap__V1__Request *req)
{
    struct srv *s = call->s;
    const struct srv_tenant *t = srv_conn_tenant_state(call->c);
    Armmap__V1__StatsResult *sr = NEW(call, Armmap__V1__StatsResult,
                                      ARMMAP__V1__STATS_RESULT__INIT);
    Armmap__V1__Response *resp = call->resp;

    (void)req;
    sr->n_errors_by_code = MM_STATUS_COUNT;
    sr->errors_by_code = srv_call_alloc(call,
                                        sizeof(uint64_t) * MM_STATUS_COUNT);
    if (t->admin) {
        sr->connections = s->n.connections;
        sr->machines = srv_registry_count(s->reg);
        sr->requests = s->n.requests;
        sr->changes = s->n.changes;
        sr->commits = srv_persist_commits(s);
        sr->parked_kmaps = s->n.parked_kmaps;
        memcpy(sr->errors_by_code, s->n.errors_by_code,
               sizeof(uint64_t) * MM_STATUS_COUNT);
    } else {
        /* The caller's own counters; the store's commits are shared by
         * every tenant, so they are the admin's to see. */
        sr->connections = t->connections;
        sr->machines = srv_registry_tenant_count(s->reg, t->name);
        sr->requests = t->requests + 1; /* this one is counted after */
        sr->changes = t->changes;
        sr->parked_kmaps = t->parked_kmaps;
        memcpy(sr->errors_by_code, t->errors_by_code,
               sizeof(uint64_t) * MM_STATUS_COUNT);
    }
    sr->uptime_ms = (uint64_t)(srv_now_ms() - s->start_ms);
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_STATS;
    resp->stats = sr;
}

/* A dump is always streamed (stream.c): its bytes are read from the
 * machine as the socket drains and the file never exists whole here. */
static void h_dump(struct srv_call *call, const Armmap__V1__Request *req)
{
    struct srv_machine *sm = need_machine(call, "dump", req->dump->machine,
                                          false);

    if (sm == NULL)
        return;
    if (!host_room(call, "dump", mm_host_bytes(sm->m)))
        return;
    call->stream = srv_stream_dump(sm, call->id);
    if (call->stream == NULL)
        srv_call_fail(call, MM_NO_MEMORY, "dump: out of host memory");
    else
        srv_stream_charge(call->stream, call->s->reg, srv_conn_tenant(call->c));
}

/* ------------------------------------------------------------------ */
/* History and retention                                               */
/* ------------------------------------------------------------------ */

struct history_ctx {
    struct srv_call *call;
    Armmap__V1__HistoryResult *hr;
    size_t cap;
};

static int history_row(void *arg, const struct store_event *ev)
{
    struct history_ctx *hc = arg;
    struct srv_call *call = hc->call;
    Armmap__V1__Event *e;
    struct mm_result res;

    if (hc->hr->n_events >= hc->cap)
        return 1;
    e = NEW(call, Armmap__V1__Event, ARMMAP__V1__EVENT__INIT);
    e->seq = ev->seq;
    e->time_ms = ev->time_ms;
    e->op = (Armmap__V1__OpCode)ev->op;
    e->cpu = ev->cpu;
    e->n_args = ev->nargs;
    e->args = srv_call_alloc(call, (ev->nargs + 1) * sizeof(uint32_t));
    if (ev->nargs > 0)
        memcpy(e->args, ev->args, ev->nargs * sizeof(uint32_t));
    memset(&res, 0, sizeof(res));
    res.status = (enum mm_status)ev->status;
    res.value = ev->value;
    res.aux = ev->aux;
    res.flags = ev->flags;
    res.seq = ev->seq;
    e->result = op_result(call, &res);
    hc->hr->events[hc->hr->n_events++] = e;
    return 0;
}

static void history_count(void *arg, uint32_t op, uint64_t n)
{
    struct history_ctx *hc = arg;
    Armmap__V1__HistoryResult__Count *c;

    if (hc->hr->n_counts >= MM_OP_COUNT + 1)
        return;
    c = NEW(hc->call, Armmap__V1__HistoryResult__Count,
            ARMMAP__V1__HISTORY_RESULT__COUNT__INIT);
    c->op = (Armmap__V1__OpCode)op;
    c->count = n;
    hc->hr->counts[hc->hr->n_counts++] = c;
}

/* History is readable for the caller's machines, live or destroyed (until
 * purged); another tenant's answers as a missing one does.  @id is as the
 * client sees it. */
static bool history_visible(struct srv_call *call, uint64_t id)
{
    char owner[SRV_TENANT_MAX + 1];
    uint64_t own = srv_id_in(call->s->reg, id);
    enum mm_status st = MM_NOT_FOUND;

    if (own != 0 && srv_machine_get(call->s->reg, own) != NULL)
        return need_machine(call, "history", id, true) != NULL;
    if (own != 0)
        st = srv_persist_machine_tenant(call->s, own, owner);
    if (st == MM_UNAVAILABLE) {
        srv_call_fail(call, st, "history: the store cannot be read");
        return false;
    }
    if (st != MM_OK || strcmp(owner, srv_conn_tenant(call->c)) != 0) {
        srv_call_fail(call, MM_NOT_FOUND,
                      "history: machine %" PRIu64 " does not exist", id);
        return false;
    }
    return true;
}

/*
 * A history is answered over loop turns (a zero timer, so other
 * connections are served in between): first its op counts, COUNT_SLICE
 * events per turn (one scan held the loop 118 ms for 200,000 events),
 * which also finds its last seq; then its rows, a page (HISTORY_PAGE
 * rows) per turn.  A filtered query (by op or address) reads a window of
 * WINDOW seqs per turn, since a page of matches may lie behind any number
 * of events that do not match; once it has its rows it looks on, a window
 * per turn, for one more match, which decides next_after_seq exactly as a
 * single query would.  The reply keeps its place on the connection
 * (srv_conn_hold()) and is sent whole at the end; the rows are built in
 * the job's own call arena.
 */
#define HISTORY_PAGE 500u
#define COUNT_SLICE  2000u
#define WINDOW       2000u

enum job_phase {
    JOB_COUNT = 0, /* counting ops, finding the end */
    JOB_ROWS,      /* reading rows */
    JOB_PROBE      /* rows in; is there one more? */
};

#define HISTORY_STREAM_ROWS 256u /* answers of this many rows stream */

struct srv_history_job {
    struct srv_call call; /* its arena holds the rows */
    struct history_ctx hc;
    struct store_history_query q; /* as asked; q.cursor advances */
    uint32_t left;                /* rows still wanted */
    enum job_phase phase;
    bool windowed;                /* filtered: a window per turn */
    uint64_t win;                 /* the window's first seq (its
                                           last, newest first) */
    uint64_t last_row;            /* seq of the last row taken */
    uint64_t max_seq;             /* the machine's last event */
    uint64_t counts[MM_OP_COUNT]; /* events per op */
    struct srv_reply *r;
    struct event *ev;
    struct srv_history_job *next; /* srv.history_jobs */
};

/* Frees @j, off s->history_jobs already (the rows go with its call). */
static void history_job_release(void *arg)
{
    struct srv_history_job *j = arg;

    if (j->ev != NULL)
        event_free(j->ev);
    call_free(&j->call);
    free(j);
}

static void history_job_unlink(struct srv *s, struct srv_history_job *j)
{
    struct srv_history_job **pp;

    for (pp = &s->history_jobs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
}

static void history_job_free(struct srv *s, struct srv_history_job *j)
{
    history_job_unlink(s, j);
    history_job_release(j);
}

/* Answers @j's rows with a stream (stream.c), which then owns @j: packed
 * HISTORY_STREAM_ROWS-odd rows per loop turn as the socket drains, where
 * srv_conn_release() packs them all at once (10,000 rows: 38-47 ms).
 * False (nothing done) on host memory. */
static bool history_job_stream(struct srv_history_job *j)
{
    struct srv *s = j->call.s;
    struct srv_stream *st;

    st = srv_stream_history(j->call.id, j->hc.hr, history_job_release, j);
    if (st == NULL)
        return false;
    history_job_unlink(s, j);
    event_free(j->ev);
    j->ev = NULL;
    srv_conn_release_stream(j->r, st);
    return true;
}

/* The answer: the rows, the op counts, the cursor; or a failure. */
static void history_job_answer(struct srv_history_job *j, bool more,
                               uint64_t cursor)
{
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    Armmap__V1__Status status = ARMMAP__V1__STATUS__INIT;
    struct srv *s = j->call.s;

    uint32_t op;

    for (op = 0; j->call.code == MM_OK && op < MM_OP_COUNT; op++) {
        if (j->counts[op] != 0)
            history_count(&j->hc, op, j->counts[op]);
    }
    status.code = (Armmap__V1__Code)j->call.code;
    status.message = j->call.msg;
    resp.id = j->call.id;
    resp.status = &status;
    if (j->call.code == MM_OK) {
        j->hc.hr->next_after_seq = more ? cursor : 0;
        if (j->hc.hr->n_events >= HISTORY_STREAM_ROWS && history_job_stream(j))
            return;
        resp.body_case = ARMMAP__V1__RESPONSE__BODY_HISTORY;
        resp.history = j->hc.hr;
    } else {
        s->n.errors_by_code[j->call.code]++;
    }
    srv_conn_release(j->r, &resp);
    history_job_free(s, j);
}

static void job_count(void *arg, uint32_t op, uint64_t n)
{
    struct srv_history_job *j = arg;

    if (op < MM_OP_COUNT) /* the only ops events hold */
        j->counts[op] += n;
}

static void job_next_turn(struct srv_history_job *j)
{
    static const struct timeval zero = { 0, 0 };

    evtimer_add(j->ev, &zero);
}

/* The seqs the query asks for, within the machine's. */
static uint64_t job_lo(const struct srv_history_job *j)
{
    return j->q.seq_first > 1 ? j->q.seq_first : 1;
}

static uint64_t job_hi(const struct srv_history_job *j)
{
    return j->q.seq_last != 0 && j->q.seq_last < j->max_seq ? j->q.seq_last
                                                            : j->max_seq;
}

/* The first window, once the last seq is known. */
static void job_first_window(struct srv_history_job *j)
{
    j->win = j->q.newest_first ? job_hi(j) : job_lo(j);
    if (j->q.cursor != 0 && !j->q.newest_first && j->q.cursor >= j->win)
        j->win = j->q.cursor + 1;
    if (j->q.cursor != 0 && j->q.newest_first && j->q.cursor <= j->win)
        j->win = j->q.cursor - 1;
}

/* True if the current window is the last one the query reaches. */
static bool job_last_window(const struct srv_history_job *j)
{
    if (!j->windowed)
        return true;
    if (j->q.newest_first)
        return j->win < job_lo(j) + WINDOW;
    return j->win + WINDOW > job_hi(j);
}

/* Moves to the next window; false if there is none. */
static bool job_advance(struct srv_history_job *j)
{
    if (job_last_window(j))
        return false;
    j->win = j->q.newest_first ? j->win - WINDOW : j->win + WINDOW;
    return true;
}

/* The store query of this turn: the current window of @j's. */
static void job_window_query(const struct srv_history_job *j,
                             struct store_history_query *q)
{
    *q = j->q;
    if (!j->windowed)
        return;
    if (j->q.newest_first) {
        q->seq_last = j->win;
        q->seq_first = j->win >= job_lo(j) + WINDOW - 1 ? j->win - WINDOW + 1
                                                        : job_lo(j);
    } else {
        q->seq_first = j->win;
        q->seq_last = j->win + WINDOW - 1 < job_hi(j) ? j->win + WINDOW - 1
                                                      : job_hi(j);
    }
}

/* JOB_COUNT: one slice of the op counts. */
static void history_job_count(struct srv_history_job *j)
{
    uint64_t last = 0;

    if (srv_persist_op_counts_page(j->call.s, j->q.machine, j->max_seq,
                                   COUNT_SLICE, job_count, j, &last) != MM_OK) {
        srv_call_fail(&j->call, MM_UNAVAILABLE,
                      "history: the store cannot "
                      "be read");
        history_job_answer(j, false, 0);
        return;
    }
    if (last != 0) {
        j->max_seq = last;
        job_next_turn(j);
        return;
    }
    if (j->windowed && (j->max_seq == 0 || job_lo(j) > job_hi(j))) {
        history_job_answer(j, false, 0); /* nothing to read */
        return;
    }
    job_first_window(j);
    j->phase = JOB_ROWS;
    job_next_turn(j);
}

static int probe_row(void *arg, const struct store_event *ev)
{
    (void)arg;
    (void)ev;
    return 1; /* one is enough */
}

/* JOB_PROBE: is there a match past the last row taken? */
static void history_job_probe(struct srv_history_job *j,
                              const struct store_history_query *q)
{
    struct store_page page;
    char err[SRV_MSG_MAX];

    memset(&page, 0, sizeof(page));
    if (srv_persist_history(j->call.s, q, probe_row, NULL, &page, NULL, err,
                            sizeof(err)) != MM_OK) {
        srv_call_fail(&j->call, MM_UNAVAILABLE, "%s", err);
        history_job_answer(j, false, 0);
    } else if (page.rows > 0) {
        history_job_answer(j, true, j->last_row);
    } else if (!job_advance(j)) {
        history_job_answer(j, false, 0);
    } else {
        job_next_turn(j);
    }
}

static void history_job_turn(evutil_socket_t fd, short what, void *arg)
{
    struct srv_history_job *j = arg;
    struct store_history_query q;
    struct store_page page;
    char err[SRV_MSG_MAX];
    enum mm_status st;

    (void)fd;
    (void)what;
    if (j->phase == JOB_COUNT) {
        history_job_count(j);
        return;
    }
    job_window_query(j, &q);
    if (j->phase == JOB_PROBE) {
        q.limit = 1;
        history_job_probe(j, &q);
        return;
    }
    memset(&page, 0, sizeof(page));
    q.limit = j->left < HISTORY_PAGE ? j->left : HISTORY_PAGE;
    st = srv_persist_history(j->call.s, &q, history_row, &j->hc, &page, NULL,
                             err, sizeof(err));
    if (st != MM_OK) {
        srv_call_fail(&j->call, st, "%s", err);
        history_job_answer(j, false, 0);
        return;
    }
    j->left -= page.rows < j->left ? page.rows : j->left;
    if (page.rows > 0) {
        j->last_row = page.cursor;
        j->q.cursor = page.cursor;
    }
    if (page.more && j->left == 0) {
        history_job_answer(j, true, page.cursor);
    } else if (page.more) {
        job_next_turn(j); /* more in this window */
    } else if (!job_advance(j)) {
        history_job_answer(j, false, 0);
    } else {
        if (j->left == 0)
            j->phase = JOB_PROBE;
        job_next_turn(j);
    }
}

/* Starts answering @q for @call over loop turns; false if out of host
 * memory (the caller answers in one piece). */
static bool history_job_start(struct srv_call *call,
                              const struct store_history_query *q)
{
    struct srv_history_job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return false;
    j->ev = evtimer_new(call->s->base, history_job_turn, j);
    if (j->ev == NULL) {
        free(j);
        return false;
    }
    call_init(&j->call, call->s, NULL, call->id, NULL);
    j->q = *q;
    j->left = q->limit;
    j->windowed = q->by_op || q->by_addr;
    j->hc.call = &j->call;
    j->hc.cap = q->limit;
    j->hc.hr = NEW(&j->call, Armmap__V1__HistoryResult,
                   ARMMAP__V1__HISTORY_RESULT__INIT);
    j->hc.hr->events = srv_call_alloc(&j->call, (j->hc.cap + 1) *
                                                    sizeof(*j->hc.hr->events));
    j->hc.hr->counts = srv_call_alloc(&j->call, (MM_OP_COUNT + 2) *
                                                    sizeof(*j->hc.hr->counts));
    j->r = srv_conn_hold(call->c, call->id);
    j->next = call->s->history_jobs;
    call->s->history_jobs = j;
    call->parked = true; /* answered by history_job_answer() */
    job_next_turn(j);
    return true;
}

/* Fails every history job; each is taken off the list before its answer
 * frees it. */
void srv_history_close(struct srv *s)
{
    struct srv_history_job *j;

    while ((j = s->history_jobs) != NULL) {
        s->history_jobs = j->next;
        srv_call_fail(&j->call, MM_UNAVAILABLE,
                      "history: the daemon is shutting down");
        history_job_answer(j, false, 0);
    }
}

static void h_history(struct srv_call *call, const Armmap__V1__Request *req)
{
    const Armmap__V1__History *h = req->history;
    struct store_history_query q;
    struct store_page page;
    struct history_ctx hc;
    char err[SRV_MSG_MAX];
    Armmap__V1__Response *resp = call->resp;
    uint64_t max = call->s->st->max_history_rows;
    enum mm_status st;

    /* History includes this connection's earlier changes (a destroy among
     * them): answer it once they are answered (committed), without waiting
     * for the store. */
    if (srv_conn_has_waiting(call->c)) {
        srv_conn_defer(call->c);
        call->parked = true;
        return;
    }
    if (!history_visible(call, h->machine))
        return;
    if (h->addr_lo > h->addr_hi) {
        srv_call_fail(call, MM_INVALID_ARGUMENT,
                      "history: addr_lo 0x%08" PRIx32
                      " is above addr_hi 0x%08" PRIx32,
                      h->addr_lo, h->addr_hi);
        return;
    }
    memset(&q, 0, sizeof(q));
    q.machine = srv_id_in(call->s->reg, h->machine);
    q.seq_first = h->since_seq;
    q.seq_last = h->until_seq;
    q.by_op = h->op != ARMMAP__V1__OP_CODE__OP_NONE;
    q.op = (uint32_t)h->op;
    q.by_addr = h->addr_lo != 0 || h->addr_hi != 0;
    q.addr_first = h->addr_lo;
    q.addr_last = h->addr_hi;
    q.newest_first = h->newest_first;
    q.cursor = h->after_seq;
    q.limit = (uint32_t)(h->limit != 0 && h->limit < max ? h->limit : max);
    hc.call = call;
    hc.cap = q.limit;
    hc.hr = NEW(call, Armmap__V1__HistoryResult,
                ARMMAP__V1__HISTORY_RESULT__INIT);
    hc.hr->events = srv_call_alloc(call, (hc.cap + 1) * sizeof(*hc.hr->events));
    hc.hr->counts = srv_call_alloc(call,
                                   (MM_OP_COUNT + 2) * sizeof(*hc.hr->counts));
    /* Paged, and its op counts counted, over loop turns; in one piece
     * only if no job could be had. */
    if (history_job_start(call, &q))
        return;
    memset(&page, 0, sizeof(page));
    st = srv_persist_history(call->s, &q, history_row, &hc, &page,
                             history_count, err, sizeof(err));
    if (st != MM_OK) {
        srv_call_fail(call, st, "%s", err);
        return;
    }
    hc.hr->next_after_seq = page.more ? page.cursor : 0;
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_HISTORY;
    resp->history = hc.hr;
}

static void h_purge(struct srv_call *call, const Armmap__V1__Request *req)
{
    Armmap__V1__PurgeResult *pr = NEW(call, Armmap__V1__PurgeResult,
                                      ARMMAP__V1__PURGE_RESULT__INIT);
    Armmap__V1__Response *resp = call->resp;
    const struct srv_tenant *t = srv_conn_tenant_state(call->c);
    uint64_t older = req->purge->older_than_ms;
    int64_t now = srv_now_ms();
    char err[SRV_MSG_MAX];
    enum mm_status st;

    /* An age beyond the epoch keeps everything: clamp it, so that "now -
     * age" cannot overflow (2^63 ms was signed overflow in the store).
     * An admin tenant purges every tenant's machines, others their own. */
    if (now < 0)
        now = 0;
    if (older > (uint64_t)now)
        older = (uint64_t)now;
    /* On a worker, answered when done (purge.c); else here, as before. */
    if (srv_purge_start(call, t->admin ? NULL : t->name, older))
        return;
    st = srv_persist_purge(call->s, t->admin ? NULL : t->name, older,
                           &pr->machines, &pr->events, err, sizeof(err));
    if (st != MM_OK) {
        srv_call_fail(call, st, "purge: %s", err);
        return;
    }
    /* The tenants' stored events: an admin's purge spans tenants, so
     * they are counted afresh; a tenant's own comes off its count. */
    if (!t->admin)
        srv_registry_sub_events(call->s->reg, t->name, pr->events);
    else if (srv_tenants_count_events(call->s) != MM_OK)
        srv_log(SRV_LOG_WARN, "purge: cannot recount stored events");
    resp->body_case = ARMMAP__V1__RESPONSE__BODY_PURGE;
    resp->purge = pr;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

struct handler {
    const char *name;
    void (*fn)(struct srv_call *call, const Armmap__V1__Request *req);
};

static const struct handler handlers[] = {
    [ARMMAP__V1__REQUEST__BODY_HELLO] = { "hello", h_hello },
    [ARMMAP__V1__REQUEST__BODY_PING] = { "ping", h_ping },
    [ARMMAP__V1__REQUEST__BODY_CREATE] = { "create", h_create },
    [ARMMAP__V1__REQUEST__BODY_DESTROY] = { "destroy", h_destroy },
    [ARMMAP__V1__REQUEST__BODY_LIST] = { "list", h_list },
    [ARMMAP__V1__REQUEST__BODY_DESCRIBE] = { "describe", h_describe },
    [ARMMAP__V1__REQUEST__BODY_OP] = { "op", h_op },
    [ARMMAP__V1__REQUEST__BODY_BATCH] = { "batch", h_batch },
    [ARMMAP__V1__REQUEST__BODY_TRANSLATE] = { "translate", h_translate },
    [ARMMAP__V1__REQUEST__BODY_PHYS] = { "phys", h_phys },
    [ARMMAP__V1__REQUEST__BODY_REPORT] = { "report", h_report },
    [ARMMAP__V1__REQUEST__BODY_HISTORY] = { "history", h_history },
    [ARMMAP__V1__REQUEST__BODY_FORK] = { "fork", h_fork },
    [ARMMAP__V1__REQUEST__BODY_CLONE] = { "clone", h_clone },
    [ARMMAP__V1__REQUEST__BODY_DUMP] = { "dump", h_dump },
    [ARMMAP__V1__REQUEST__BODY_STATS] = { "stats", h_stats },
    [ARMMAP__V1__REQUEST__BODY_PRESETS] = { "presets", h_presets },
    [ARMMAP__V1__REQUEST__BODY_PURGE] = { "purge", h_purge },
};

#define NHANDLERS (sizeof(handlers) / sizeof(handlers[0]))

/* The coarse clock (a few ms of resolution, read from memory without a
 * system call or a TSC read) is plenty for a 100 ms threshold. */
static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The decoded request lives in a bump arena: UNPACK_INLINE bytes on the
 * stack, then heap blocks, all released at once after the answer (protobuf-c
 * frees nothing itself through it).  A ping or an op decodes without a
 * malloc, and without free_unpacked()'s walk over the message. */
#define UNPACK_INLINE 2048

struct unpack_arena {
    size_t used;
    struct srv_arena_block *big;
    struct srv_arena_block *largest; /* of big, the one to keep */
    size_t largest_size;
    max_align_t buf[UNPACK_INLINE / sizeof(max_align_t)];
};

/*
 * The largest block of a request (a 1M-address translate decodes 4 MiB of
 * addresses) is kept for the next one: fresh from malloc, its pages fault
 * in one at a time, which in a VM cost more than the decoding itself.
 * At most UNPACK_KEEP bytes are held between requests (the loop thread
 * only, like phys_mem).
 */
#define UNPACK_KEEP (8u << 20)

static struct srv_arena_block *unpack_kept;
static size_t unpack_kept_size;

static struct srv_arena_block *unpack_block(struct unpack_arena *a, size_t size)
{
    struct srv_arena_block *b;

    if (unpack_kept != NULL && size <= unpack_kept_size) {
        b = unpack_kept;
        size = unpack_kept_size;
        unpack_kept = NULL;
    } else {
        b = malloc(sizeof(*b) + size);
        if (b == NULL)
            return NULL;
    }
    if (size > a->largest_size) {
        a->largest = b;
        a->largest_size = size;
    }
    return b;
}

static void *unpack_alloc(void *data, size_t size)
{
    struct unpack_arena *a = data;
    size_t align = sizeof(max_align_t);
    size_t need = (size + align - 1) / align * align;
    struct srv_arena_block *b;

    if (need <= sizeof(a->buf) - a->used) {
        void *p = (char *)a->buf + a->used;

        a->used += need;
        return p;
    }
    b = unpack_block(a, size);
    if (b == NULL)
        return NULL; /* the request does not decode */
    b->next = a->big;
    a->big = b;
    return b->data;
}

static void unpack_free(void *data, void *p)
{
    (void)data;
    (void)p; /* released with the whole arena */
}

static void unpack_release(struct unpack_arena *a)
{
    struct srv_arena_block *b, *next;

    for (b = a->big; b != NULL; b = next) {
        next = b->next;
        if (b == a->largest && a->largest_size <= UNPACK_KEEP &&
            a->largest_size > unpack_kept_size) {
            free(unpack_kept);
            unpack_kept = b;
            unpack_kept_size = a->largest_size;
        } else {
            free(b);
        }
    }
    a->big = NULL;
    a->largest = NULL;
    a->largest_size = 0;
}

/* ------------------------------------------------------------------ */
/* Checks on the bytes, before decoding                                */
/* ------------------------------------------------------------------ */

/* Before Hello only a Hello is decoded: the envelope is read for its id
 * and its body's field number, and any other body is refused unread.
 * Tags and length prefixes are read as protobuf-c reads them, 5 bytes at
 * most (wire_get_varint5()): a longer one is left to it, and it refuses
 * the frame.
 * Returns the body case, 0 if there is none or the envelope is not the
 * plain shape (protobuf-c then decodes it: a frame of a few KiB). */
static int peek_body(const uint8_t *p, size_t len, uint64_t *id)
{
    const uint8_t *end = p + len;
    uint64_t key, v;
    int body = 0;

    *id = 0;
    while (p < end) {
        if (!wire_get_varint5(&p, end, &key))
            return body;
        switch (key & 7) {
        case PROTOBUF_C_WIRE_TYPE_VARINT:
            if (!wire_get_varint(&p, end, &v))
                return body;
            if (key >> 3 == 1)
                *id = v;
            break;
        case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
            if (!wire_get_varint5(&p, end, &v) || v > (uint64_t)(end - p))
                return body;
            p += v;
            if (key >> 3 < 64)
                body = (int)(key >> 3);
            break;
        default:
            return body;
        }
    }
    return body;
}

/* Offset of the first byte of @p that is not valid UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF) or is a NUL;
 * @len if none. */
static size_t utf8_bad(const uint8_t *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t b = p[i];
        size_t n, k;
        uint32_t cp, min;

        if (b == 0)
            return i;
        if (b < 0x80) {
            i++;
            continue;
        }
        if ((b & 0xe0) == 0xc0) {
            n = 1, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            n = 2, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            n = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return len;
}

/* True if message type @d holds a string field, itself or nested. */
static bool has_strings(const ProtobufCMessageDescriptor *d, unsigned depth)
{
    unsigned i;

    if (depth > 8)
        return false;
    for (i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];

        if (f->type == PROTOBUF_C_TYPE_STRING ||
            (f->type == PROTOBUF_C_TYPE_MESSAGE &&
             has_strings(f->descriptor, depth + 1)))
            return true;
    }
    return false;
}

/* "@prefix.name" of field @f, or its name alone below the body. */
static void field_path(char *path, size_t size, const char *prefix,
                       const ProtobufCFieldDescriptor *f)
{
    snprintf(path, size, "%s%s%s", prefix, *prefix ? "." : "", f->name);
}

/*
 * Every string field of a message of type @d in @p..@end must be valid
 * UTF-8 without a NUL (proto3 requires the first; protobuf-c would cut a
 * string at the second without a word).  On a bad one, fills @err with
 * "name is not valid UTF-8 (at byte 2)" (the field's path below the body,
 * "settings.value" for a nested one) and returns false.  Bytes that do
 * not parse are left to the decoder, which refuses them: a tag or length
 * prefix longer than 5 bytes too, as for peek_body().
 */
static bool check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                          const uint8_t *end, const char *prefix,
                          unsigned depth, char *err, size_t errsz)
{
    uint64_t key, v;

    while (p < end && depth <= 8) {
        const ProtobufCFieldDescriptor *f;
        char path[128];
        size_t bad;

        if (!wire_get_varint5(&p, end, &key))
            return true;
        switch (key & 7) {
        case PROTOBUF_C_WIRE_TYPE_VARINT:
            if (!wire_get_varint(&p, end, &v))
                return true;
            continue;
        case PROTOBUF_C_WIRE_TYPE_64BIT:
            p += (size_t)(end - p) < 8 ? (size_t)(end - p) : 8;
            continue;
        case PROTOBUF_C_WIRE_TYPE_32BIT:
            p += (size_t)(end - p) < 4 ? (size_t)(end - p) : 4;
            continue;
        case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
            break;
        default:
            return true;
        }
        if (!wire_get_varint5(&p, end, &v) || v > (uint64_t)(end - p))
            return true;
        f = key >> 3 <= UINT32_MAX
                ? protobuf_c_message_descriptor_get_field(d,
                                                          (unsigned)(key >> 3))
                : NULL;
        if (f == NULL) {
            p += v;
            continue;
        }
        /* The path only where it is used (an error, a nested prefix): it
         * was a snprintf() for every field of every request. */
        if (f->type == PROTOBUF_C_TYPE_STRING &&
            (bad = utf8_bad(p, (size_t)v)) < v) {
            field_path(path, sizeof(path), prefix, f);
            snprintf(err, errsz, "%s %s (at byte %zu)", path,
                     p[bad] == 0 ? "contains a NUL" : "is not valid UTF-8",
                     bad);
            return false;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
            has_strings(f->descriptor, 0)) {
            if (depth > 0)
                field_path(path, sizeof(path), prefix, f);
            if (!check_strings(f->descriptor, p, p + v, depth == 0 ? "" : path,
                               depth + 1, err, errsz))
                return false;
        }
        p += v;
    }
    return true;
}

/* Answers a request refused before decoding; true if it was. */
static bool refuse_undecoded(struct srv *s, struct conn *c, const uint8_t *buf,
                             size_t len)
{
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    const ProtobufCFieldDescriptor *f;
    struct srv_call call;
    char err[SRV_MSG_MAX - 64];
    uint64_t id;
    int body = peek_body(buf, len, &id);

    f = body != 0
            ? wire_body_field(&armmap__v1__request__descriptor, (uint64_t)body)
            : NULL;
    if (srv_conn_in_hello(c) && f != NULL &&
        body != ARMMAP__V1__REQUEST__BODY_HELLO) {
        call_init(&call, s, c, id, &resp);
        srv_call_fail(&call, MM_UNAUTHENTICATED, "%s: say hello first",
                      f->name);
        srv_conn_reply(&call);
        return true;
    }
    if (f == NULL || !has_strings(f->descriptor, 0) ||
        check_strings(&armmap__v1__request__descriptor, buf, buf + len, "", 0,
                      err, sizeof(err)))
        return false;
    call_init(&call, s, c, id, &resp);
    srv_call_fail(&call, MM_INVALID_ARGUMENT, "%s: %s", f->name, err);
    call.close_after = body == ARMMAP__V1__REQUEST__BODY_HELLO;
    srv_conn_reply(&call);
    return true;
}

/* --max-inflight-bytes-per-tenant: while a tenant's connections hold
 * that many unsent reply bytes (peers that do not read), its new requests
 * are refused; each connection's own --max-queued-bytes still pauses it. */
static bool over_inflight(struct srv_call *call, const char *what)
{
    const struct srv_tenant *t = srv_conn_tenant_state(call->c);

    if (t == NULL || t->inflight_bytes < t->max_inflight_bytes)
        return false;
    srv_call_fail(call, MM_RESOURCE_EXHAUSTED,
                  "%s: tenant '%s' has %" PRIu64
                  " or more reply bytes unsent (%s)",
                  what, t->name, t->max_inflight_bytes,
                  t->own_max_inflight_bytes
                      ? "max-inflight-bytes-per-tenant in --tenants-file"
                      : "--max-inflight-bytes-per-tenant");
    return true;
}

void srv_dispatch(struct srv *s, struct conn *c, const uint8_t *buf, size_t len)
{
    Armmap__V1__Response resp = ARMMAP__V1__RESPONSE__INIT;
    const struct handler *h = NULL;
    struct unpack_arena arena;
    ProtobufCAllocator alloc;
    struct srv_call call;
    struct timespec t0;
    Armmap__V1__Request *req;
    double ms;

    if (refuse_undecoded(s, c, buf, len))
        return;
    arena.used = 0;
    arena.big = NULL;
    arena.largest = NULL;
    arena.largest_size = 0;
    alloc.alloc = unpack_alloc;
    alloc.free = unpack_free;
    alloc.allocator_data = &arena;
    req = envelope_request_unpack(&alloc, len, buf);
    if (req == NULL) {
        char msg[SRV_MSG_MAX];

        snprintf(msg, sizeof(msg),
                 "frame of %zu bytes does not decode as an "
                 "armmap.v1.Request",
                 len);
        srv_log(SRV_LOG_INFO, "%s; closing", msg);
        srv_conn_reply_status(c, 0, MM_INVALID_ARGUMENT, msg, true);
        unpack_release(&arena);
        return;
    }
    call_init(&call, s, c, req->id, &resp);
    if ((size_t)req->body_case < NHANDLERS)
        h = &handlers[req->body_case];
    if (h == NULL || h->fn == NULL) {
        srv_call_fail(&call, MM_INVALID_ARGUMENT,
                      "request %" PRIu64 " has no "
                      "body this daemon knows",
                      req->id);
    } else if (srv_conn_in_hello(c) &&
               req->body_case != ARMMAP__V1__REQUEST__BODY_HELLO) {
        srv_call_fail(&call, MM_UNAUTHENTICATED, "%s: say hello first",
                      h->name);
    } else if (over_inflight(&call, h->name)) {
        /* answered RESOURCE_EXHAUSTED */
    } else if (req->request_key != 0 && !srv_rkeys_held(&call, req)) {
        /* answered by the owner lookup, or parked for the rebuild */
    } else if (req->request_key != 0 && srv_rkeys_retry(&call, req)) {
        call_free(&call); /* answered as the first time */
        unpack_release(&arena);
        return;
    } else {
        clock_gettime(CLOCK_MONOTONIC_COARSE, &t0);
        if (call.rkey != 0) /* the change and its key: one commit */
            srv_persist_hold(s, true);
        h->fn(&call, req);
        ms = elapsed_ms(&t0);
        if (ms >= SLOW_MS)
            srv_log(SRV_LOG_WARN,
                    "slow request: %s (id %" PRIu64 ") took %.0f ms", h->name,
                    req->id, ms);
    }
    srv_conn_reply(&call);
    if (call.rkey != 0)
        srv_persist_hold(s, false);
    call_free(&call);
    unpack_release(&arena);
    /* Waiters retry only now, so that their replies (and tickets) follow
     * the reply of the change that woke them. */
    if (call.wake != 0) {
        struct srv_machine *sm = srv_machine_get(s->reg, call.wake);

        if (sm != NULL)
            srv_park_wake(s, sm);
    }
}
