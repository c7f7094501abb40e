/* daemon/rkeys.c - idempotent retries: changes made with a request key.
 *
 * A change (Create, Destroy, Op, Batch, Fork, Clone) whose Request has a
 * request_key != 0 is remembered with the reply it got, and a retry with
 * the same key is answered with that reply (its own request id in front)
 * and applies nothing.  What a key names:
 *  - Create and Destroy: the tenant's scope (machine 0): a key means one
 *    creation or destruction of that tenant, whichever machine it named;
 *  - Op, Batch (the whole batch: one key, one reply), Fork and Clone: the
 *    scope of the machine the request names (a fork's key is the
 *    parent's).
 * Each scope keeps its last STORE_RKEYS_KEPT keys, in memory here and in
 * the store (table request_keys), where the key is written in the
 * transaction of the change (store_hold() around the two submits), so a
 * change committed is remembered and one lost is forgotten together.
 *
 * Memory is loaded from the store the first time a scope is touched in
 * this process (after a restart, or on a node that took the machine
 * over), so a scope costs one read once; in cluster mode a Create or
 * Destroy key missing from memory is also looked up in the store
 * (another node may have made it).  A retry arriving while the first's commit is in flight
 * waits for that commit, and answers UNAVAILABLE if it failed; a failed
 * write forgets its key.  A machine's scope leaves memory when its
 * destroy commits (the store's rows go at purge).
 *
 * Not remembered: a change answered without a write (refused before
 * the engine, or failed in it without an event), a kmap that waited for
 * a pkmap slot (answered later).  Requests without a key cost one test.
 */
#include "srv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "armmap.pb-c.h"
#include "envelope.h"
#include "store.h"
#include "wire.h"

struct rk_entry {
    uint64_t key;    /* 0: forgotten (its write failed) */
    uint64_t ord;    /* 1, 2, ... in its scope */
    uint64_t ticket; /* its change's write */
    uint8_t *reply;  /* the Response without its id */
    size_t len;
};

/* One scope's last STORE_RKEYS_KEPT keys: a ring, oldest at @head, and
 * an open-addressing index of ring slot + 1 by key. */
struct rk_scope {
    uint64_t machine; /* 0: @tenant's creates and destroys */
    char tenant[SRV_TENANT_MAX + 1];
    struct rk_entry *ring;
    uint32_t cap, head, n;
    uint32_t *ix;
    uint32_t ixcap; /* 2 * cap */
    uint64_t last_ord;
    struct rk_scope *next; /* hash chain */
};

struct srv_rkeys {
    struct rk_scope **b;
    size_t nb, n;
};

static uint64_t mix(uint64_t v)
{
    v *= UINT64_C(0x9e3779b97f4a7c15);
    return v ^ v >> 31;
}

static uint64_t scope_hash(uint64_t machine, const char *tenant)
{
    uint64_t h = mix(machine + 1);

    for (; *tenant != '\0'; tenant++)
        h = mix(h ^ (unsigned char)*tenant);
    return h;
}

int srv_rkeys_open(struct srv *s)
{
    struct srv_rkeys *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->b = calloc(256, sizeof(*t->b))) == NULL) {
        free(t);
        return -1;
    }
    t->nb = 256;
    s->rkeys = t;
    return 0;
}

static void scope_free(struct rk_scope *sc)
{
    uint32_t i;

    for (i = 0; i < sc->cap; i++)
        free(sc->ring[i].reply);
    free(sc->ring);
    free(sc->ix);
    free(sc);
}

void srv_rkeys_close(struct srv *s)
{
    struct srv_rkeys *t = s->rkeys;
    struct rk_scope *sc, *next;
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nb; i++)
        for (sc = t->b[i]; sc != NULL; sc = next) {
            next = sc->next;
            scope_free(sc);
        }
    free(t->b);
    free(t);
    s->rkeys = NULL;
}

/* ---- one scope's index ------------------------------------------- */

static struct rk_entry *slot_entry(struct rk_scope *sc, uint32_t v)
{
    return &sc->ring[v - 1];
}

/* The index position of @key, or where it would go. */
static uint32_t ix_find(const struct rk_scope *sc, uint64_t key)
{
    uint32_t m = sc->ixcap - 1, i = (uint32_t)mix(key) & m;

    while (sc->ix[i] != 0 && sc->ring[sc->ix[i] - 1].key != key)
        i = (i + 1) & m;
    return i;
}

/* Removes index position @i, shifting later ones of its run back. */
static void ix_remove(struct rk_scope *sc, uint32_t i)
{
    uint32_t m = sc->ixcap - 1, j = i, k;

    sc->ix[i] = 0;
    for (;;) {
        j = (j + 1) & m;
        if (sc->ix[j] == 0)
            return;
        k = (uint32_t)mix(slot_entry(sc, sc->ix[j])->key) & m;
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            sc->ix[i] = sc->ix[j];
            sc->ix[j] = 0;
            i = j;
        }
    }
}

/* Doubles the ring (oldest first again) and rebuilds the index. */
static bool scope_grow(struct rk_scope *sc)
{
    uint32_t cap = sc->cap ? sc->cap * 2 : 8, i;
    struct rk_entry *ring = calloc(cap, sizeof(*ring));
    uint32_t *ix = calloc(2 * (size_t)cap, sizeof(*ix));

    if (ring == NULL || ix == NULL) {
        free(ring);
        free(ix);
        return false;
    }
    if (sc->n > 0) { /* then the old ring exists */
        assert(sc->ring != NULL && sc->cap >= sc->n);
        for (i = 0; i < sc->n; i++)
            ring[i] = sc->ring[(sc->head + i) % sc->cap];
    }
    free(sc->ring);
    free(sc->ix);
    sc->ring = ring;
    sc->ix = ix;
    sc->cap = cap;
    sc->ixcap = 2 * cap;
    sc->head = 0;
    for (i = 0; i < sc->n; i++)
        if (ring[i].key != 0)
            sc->ix[ix_find(sc, ring[i].key)] = i + 1;
    return true;
}

static struct rk_entry *scope_find(struct rk_scope *sc, uint64_t key)
{
    uint32_t i;

    if (sc->n == 0)
        return NULL;
    i = ix_find(sc, key);
    return sc->ix[i] != 0 ? slot_entry(sc, sc->ix[i]) : NULL;
}

/* Forgets @e (freed; its ring slot stays, keyless, until evicted). */
static void entry_forget(struct rk_scope *sc, struct rk_entry *e)
{
    if (e->key != 0)
        ix_remove(sc, ix_find(sc, e->key));
    e->key = 0;
    free(e->reply);
    e->reply = NULL;
    e->len = 0;
}

/* Adds @key at @ord (taking @reply), evicting the oldest beyond
 * STORE_RKEYS_KEPT; false if out of host memory (@reply freed). */
static bool scope_add(struct rk_scope *sc, uint64_t key, uint64_t ord,
                      uint64_t ticket, uint8_t *reply, size_t len)
{
    struct rk_entry *e;
    uint32_t slot;

    if ((e = scope_find(sc, key)) != NULL)
        entry_forget(sc, e); /* the same key again: the later wins */
    if (sc->n == sc->cap && sc->cap < STORE_RKEYS_KEPT) {
        if (!scope_grow(sc)) {
            free(reply);
            return false;
        }
    } else if (sc->n == sc->cap) { /* full: the oldest goes */
        assert(sc->ring != NULL);
        entry_forget(sc, &sc->ring[sc->head]);
        sc->head = (sc->head + 1) % sc->cap;
        sc->n--;
    }
    assert(sc->ring != NULL && sc->n < sc->cap);
    slot = (sc->head + sc->n) % sc->cap;
    e = &sc->ring[slot];
    e->key = key;
    e->ord = ord;
    e->ticket = ticket;
    e->reply = reply;
    e->len = len;
    sc->n++;
    sc->ix[ix_find(sc, key)] = slot + 1;
    if (ord > sc->last_ord)
        sc->last_ord = ord;
    return true;
}

/* ---- scopes -------------------------------------------------------- */

static struct rk_scope **scope_link(struct srv_rkeys *t, uint64_t machine,
                                    const char *tenant)
{
    struct rk_scope **p = &t->b[scope_hash(machine, tenant) & (t->nb - 1)];

    while (*p != NULL &&
           ((*p)->machine != machine || strcmp((*p)->tenant, tenant) != 0))
        p = &(*p)->next;
    return p;
}

static void table_grow(struct srv_rkeys *t)
{
    size_t nb = t->nb * 2, i;
    struct rk_scope **b = calloc(nb, sizeof(*b)), *sc, *next;

    if (b == NULL)
        return; /* longer chains */
    for (i = 0; i < t->nb; i++)
        for (sc = t->b[i]; sc != NULL; sc = next) {
            size_t h = scope_hash(sc->machine, sc->tenant) & (nb - 1);

            next = sc->next;
            sc->next = b[h];
            b[h] = sc;
        }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

static int load_one(void *arg, const struct store_rkey *k)
{
    struct rk_scope *sc = arg;
    uint8_t *copy = malloc(k->len ? k->len : 1);

    if (copy == NULL)
        return 1;
    if (k->len > 0)
        memcpy(copy, k->reply, k->len);
    return scope_add(sc, k->key, k->ord, 0, copy, k->len) ? 0 : 1;
}

/* The scope, loaded from the store the first time; NULL if the store
 * or host memory failed (the request is then served without its key). */
static struct rk_scope *scope_get(struct srv *s, uint64_t machine,
                                  const char *tenant)
{
    struct srv_rkeys *t = s->rkeys;
    struct rk_scope **p = scope_link(t, machine, tenant), *sc;

    if (*p != NULL)
        return *p;
    sc = calloc(1, sizeof(*sc));
    if (sc == NULL)
        return NULL;
    sc->machine = machine;
    snprintf(sc->tenant, sizeof(sc->tenant), "%s", tenant);
    if (srv_persist_rkeys(s, machine, tenant, 0, load_one, sc) != MM_OK) {
        srv_log(SRV_LOG_ERROR,
                "request keys of %s %" PRIu64 " (tenant %s): cannot load them",
                machine ? "machine" : "scope", machine, tenant);
        scope_free(sc);
        return NULL;
    }
    *p = sc;
    if (++t->n > t->nb)
        table_grow(t);
    return sc;
}

void srv_rkeys_drop(struct srv *s, uint64_t machine, const char *tenant)
{
    struct rk_scope **p, *sc;

    if (s->rkeys == NULL)
        return;
    p = scope_link(s->rkeys, machine, tenant);
    if ((sc = *p) == NULL)
        return;
    *p = sc->next;
    s->rkeys->n--;
    scope_free(sc);
}

void srv_rkeys_failed(struct srv *s, uint64_t scope, const char *tenant,
                      uint64_t key, uint64_t ticket)
{
    struct rk_scope *sc = s->rkeys ? *scope_link(s->rkeys, scope, tenant)
                                   : NULL;
    struct rk_entry *e = sc != NULL ? scope_find(sc, key) : NULL;

    if (e != NULL && e->ticket == ticket)
        entry_forget(sc, e);
}

/* ---- requests -------------------------------------------------------- */

/* The scope's machine of a keyed change (0: the tenant's); false for a
 * request that is no change, or names a machine the caller has not (the
 * handler answers it). */
/* The machine a change names in *@ext (0: a tenant's change, Create or
 * Destroy); false for a request that is no change. */
static bool change_machine(const Armmap__V1__Request *req, uint64_t *ext)
{
    switch (req->body_case) {
    case ARMMAP__V1__REQUEST__BODY_CREATE:
    case ARMMAP__V1__REQUEST__BODY_DESTROY:
        *ext = 0;
        return true;
    case ARMMAP__V1__REQUEST__BODY_OP:
        *ext = req->op->machine;
        return true;
    case ARMMAP__V1__REQUEST__BODY_BATCH:
        *ext = req->batch->machine;
        return true;
    case ARMMAP__V1__REQUEST__BODY_FORK:
        *ext = req->fork->machine;
        return true;
    case ARMMAP__V1__REQUEST__BODY_CLONE:
        *ext = req->clone->machine;
        return true;
    default:
        return false;
    }
}

static bool key_scope(struct srv_call *call, const Armmap__V1__Request *req,
                      uint64_t *scope)
{
    char err[SRV_MSG_MAX];
    struct srv_machine *sm;
    uint64_t ext;

    if (!change_machine(req, &ext))
        return false;
    if (ext == 0) {
        *scope = 0;
        return true;
    }
    sm = srv_machine_lookup(call->s->reg, srv_conn_tenant(call->c), ext, err,
                            sizeof(err));
    if (sm == NULL)
        return false;
    *scope = sm->id;
    return true;
}

/* A Create or Destroy key made by another node since this one loaded
 * the tenant's scope: read from the store. */
static int found_one(void *arg, const struct store_rkey *k)
{
    load_one(arg, k);
    return 1; /* one row at most */
}

bool srv_rkeys_held(struct srv_call *call, const Armmap__V1__Request *req)
{
    char err[SRV_MSG_MAX];
    uint64_t ext;

    if (call->s->cluster == NULL || !srv_cluster_serving(call->s) ||
        !change_machine(req, &ext) || ext == 0 ||
        srv_machine_lookup(call->s->reg, srv_conn_tenant(call->c), ext, err,
                           sizeof(err)) != NULL)
        return true;
    return srv_cluster_find(call, "request", ext, err) != NULL;
}

bool srv_rkeys_retry(struct srv_call *call, const Armmap__V1__Request *req)
{
    const char *tenant = srv_conn_tenant(call->c);
    struct rk_scope *sc;
    struct rk_entry *e;
    uint64_t scope;

    if (!key_scope(call, req, &scope) ||
        (sc = scope_get(call->s, scope, tenant)) == NULL)
        return false;
    e = scope_find(sc, req->request_key);
    if (e == NULL && scope == 0 && call->s->st->node != NULL &&
        srv_persist_rkeys(call->s, 0, tenant, req->request_key, found_one,
                          sc) == MM_OK)
        e = scope_find(sc, req->request_key);
    if (e != NULL) {
        srv_conn_reply_again(call, e->reply, e->len,
                             srv_commit_pending(call->s, e->ticket) ? e->ticket
                                                                    : 0);
        return true;
    }
    call->rkey = req->request_key;
    call->rscope = scope;
    return false;
}

void srv_rkeys_remember(struct srv_call *call,
                        struct Armmap__V1__Response *resp)
{
    struct srv *s = call->s;
    const char *tenant = srv_conn_tenant(call->c);
    struct rk_scope *sc = scope_get(s, call->rscope, tenant);
    struct envelope_sizes z;
    struct store_rkey k;
    uint64_t id = resp->id;
    uint8_t *body;
    size_t n;

    if (sc == NULL)
        return;
    resp->id = 0; /* a retry has its own */
    n = envelope_response_size(resp, &z);
    body = malloc(n ? n : 1);
    if (body == NULL) {
        resp->id = id;
        return;
    }
    envelope_response_pack(resp, &z, body);
    resp->id = id;
    memset(&k, 0, sizeof(k));
    k.machine = call->rscope;
    k.tenant = tenant;
    k.key = call->rkey;
    k.ord = sc->last_ord + 1;
    k.target = call->rtarget != 0 ? call->rtarget : call->rscope;
    k.reply = body;
    k.len = n;
    if (srv_persist_rkey(s, &k, call->ticket) != MM_OK) {
        free(body);
        return; /* served, not remembered (logged there) */
    }
    if (scope_add(sc, k.key, k.ord, call->ticket, body, n))
        srv_commit_set_rkey(s, call->ticket, call->rscope, call->rkey);
}

/* The frame of a retry: its own id, then the first reply's bytes. */
uint8_t *srv_rkeys_frame(uint64_t id, const uint8_t *body, size_t len,
                         size_t *flen)
{
    uint8_t head[1 + 10], *p = head, *frame;
    size_t hn;

    if (id != 0) {
        *p++ = 1 << 3; /* field 1, varint: Response.id */
        p = wire_put_varint(p, id);
    }
    hn = (size_t)(p - head);
    frame = malloc(4 + hn + len);
    if (frame == NULL)
        abort(); /* host memory, as elsewhere */
    envelope_put_length(frame, hn + len);
    memcpy(frame + 4, head, hn);
    if (len > 0)
        memcpy(frame + 4 + hn, body, len);
    *flen = 4 + hn + len;
    return frame;
}
