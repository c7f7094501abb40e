/* daemon/machines.c - the machine registry, per tenant.
 *
 * The registry is a hash table from machine id to struct srv_machine (ids
 * come from the store and only grow), plus a small table of per-tenant
 * counts for --max-machines-per-tenant.  Lookups always go through a
 * tenant: another tenant's machine answers NOT_FOUND with exactly the text
 * a missing one gets, so ids reveal nothing across tenants.
 */
#include "srv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>


struct tenant_count {
    char name[SRV_TENANT_MAX + 1];
    size_t n;
    uint64_t host_bytes; /* of its linked machines */
    uint64_t events;     /* stored: live and destroyed */
};

struct srv_registry {
    struct srv_machine **bucket;
    size_t nbuckets; /* a power of two */
    size_t count;
    struct tenant_count *tenants;
    size_t ntenants, tenants_cap;
    bool opaque; /* ids permuted with id_key */
    uint8_t id_key[32];
};

/* ------------------------------------------------------------------ */
/* Opaque ids                                                          */
/* ------------------------------------------------------------------ */

/*
 * With --tenants-file, sequential ids would tell a tenant how many
 * machines the others made.  Clients then see a permutation of the
 * 48-bit id space instead: a balanced Feistel network of 4 rounds on
 * 24-bit halves, whose round function is SHA-256 of the key, the round
 * and the half.  A permutation needs no table: the inverse runs the
 * rounds backwards.  Store ids stay below 2^48 (2.8e14 machines); 48
 * bits also keep ids exact in JSON doubles.
 */
#define ID_BITS   48
#define HALF_MASK 0xffffffu

static uint32_t round_fn(const struct srv_registry *r, unsigned round,
                         uint32_t half)
{
    uint8_t in[32 + 4], dg[32];

    memcpy(in, r->id_key, 32);
    in[32] = (uint8_t)round;
    in[33] = (uint8_t)(half >> 16);
    in[34] = (uint8_t)(half >> 8);
    in[35] = (uint8_t)half;
    srv_sha256(in, sizeof(in), dg);
    return ((uint32_t)dg[0] << 16 | (uint32_t)dg[1] << 8 | dg[2]) & HALF_MASK;
}

void srv_registry_set_id_key(struct srv_registry *r, const uint8_t key[32])
{
    memcpy(r->id_key, key, 32);
    r->opaque = true;
}

uint64_t srv_id_out(const struct srv_registry *r, uint64_t id)
{
    uint32_t left, right, t;
    unsigned i;

    if (!r->opaque || id == 0 || id >> ID_BITS != 0)
        return id;
    left = (uint32_t)(id >> 24) & HALF_MASK;
    right = (uint32_t)id & HALF_MASK;
    for (i = 0; i < 4; i++) {
        t = right;
        right = left ^ round_fn(r, i, right);
        left = t;
    }
    return (uint64_t)left << 24 | right;
}

uint64_t srv_id_in(const struct srv_registry *r, uint64_t ext)
{
    uint32_t left, right, t;
    unsigned i;

    if (!r->opaque)
        return ext;
    if (ext == 0 || ext >> ID_BITS != 0)
        return 0;
    left = (uint32_t)(ext >> 24) & HALF_MASK;
    right = (uint32_t)ext & HALF_MASK;
    for (i = 4; i-- > 0;) {
        t = left;
        left = right ^ round_fn(r, i, left);
        right = t;
    }
    return (uint64_t)left << 24 | right;
}

static size_t slot(const struct srv_registry *r, uint64_t id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 20) & (r->nbuckets - 1);
}

struct srv_registry *srv_registry_create(void)
{
    struct srv_registry *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->nbuckets = 256;
    r->bucket = calloc(r->nbuckets, sizeof(*r->bucket));
    if (r->bucket == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void srv_machine_free(struct srv_machine *sm)
{
    if (sm == NULL)
        return;
    assert(TAILQ_EMPTY(&sm->parked));
    srv_stream_detach_all(sm);
    mm_destroy(sm->m);
    free(sm->name);
    free(sm->config);
    free(sm->broken);
    free(sm);
}

void srv_registry_destroy(struct srv_registry *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->nbuckets; i++) {
        struct srv_machine *sm = r->bucket[i], *next;

        for (; sm != NULL; sm = next) {
            next = sm->hnext;
            while (!TAILQ_EMPTY(&sm->parked))
                srv_park_cancel(TAILQ_FIRST(&sm->parked));
            srv_machine_free(sm);
        }
    }
    free(r->bucket);
    free(r->tenants);
    free(r);
}

static struct tenant_count *tenant_find(struct srv_registry *r, const char *t,
                                        bool add)
{
    size_t i;

    for (i = 0; i < r->ntenants; i++) {
        if (strcmp(r->tenants[i].name, t) == 0)
            return &r->tenants[i];
    }
    if (!add)
        return NULL;
    if (r->ntenants == r->tenants_cap) {
        size_t cap = r->tenants_cap ? r->tenants_cap * 2 : 16;
        struct tenant_count *n = realloc(r->tenants, cap * sizeof(*n));

        if (n == NULL)
            return NULL;
        r->tenants = n;
        r->tenants_cap = cap;
    }
    snprintf(r->tenants[r->ntenants].name, sizeof(r->tenants[0].name), "%s", t);
    r->tenants[r->ntenants].n = 0;
    r->tenants[r->ntenants].host_bytes = 0;
    r->tenants[r->ntenants].events = 0;
    return &r->tenants[r->ntenants++];
}

struct srv_machine *srv_machine_get(struct srv_registry *r, uint64_t id)
{
    struct srv_machine *sm;

    for (sm = r->bucket[slot(r, id)]; sm != NULL; sm = sm->hnext) {
        if (sm->id == id)
            return sm;
    }
    return NULL;
}

struct srv_machine *srv_machine_lookup(struct srv_registry *r,
                                       const char *tenant, uint64_t id,
                                       char *err, size_t errsz)
{
    uint64_t own = srv_id_in(r, id);
    struct srv_machine *sm = own != 0 ? srv_machine_get(r, own) : NULL;

    if (sm == NULL || strcmp(sm->tenant, tenant) != 0) {
        snprintf(err, errsz, "machine %" PRIu64 " does not exist", id);
        return NULL;
    }
    return sm;
}

static void grow(struct srv_registry *r)
{
    size_t n = r->nbuckets * 2, i;
    struct srv_machine **b = calloc(n, sizeof(*b));
    struct srv_machine **old = r->bucket;
    size_t oldn = r->nbuckets;

    if (b == NULL)
        return; /* longer chains; still correct */
    r->bucket = b;
    r->nbuckets = n;
    for (i = 0; i < oldn; i++) {
        struct srv_machine *sm = old[i], *next;

        for (; sm != NULL; sm = next) {
            size_t k = slot(r, sm->id);

            next = sm->hnext;
            sm->hnext = b[k];
            b[k] = sm;
        }
    }
    free(old);
}

void srv_machine_relink(struct srv_registry *r, struct srv_machine *sm)
{
    struct tenant_count *tc;
    size_t k;

    if (r->count + 1 > r->nbuckets)
        grow(r);
    sm->ext_id = srv_id_out(r, sm->id);
    k = slot(r, sm->id);
    sm->hnext = r->bucket[k];
    r->bucket[k] = sm;
    r->count++;
    tc = tenant_find(r, sm->tenant, true);
    if (tc != NULL) {
        tc->n++;
        tc->host_bytes += sm->host_bytes;
        sm->tenant_ix = (size_t)(tc - r->tenants) + 1;
    }
}

/* @sm's entry in the per-tenant table (entries are never removed, so the
 * index stays valid), or NULL. */
static struct tenant_count *tenant_of(struct srv_registry *r,
                                      const struct srv_machine *sm)
{
    if (sm->tenant_ix == 0 || sm->tenant_ix > r->ntenants)
        return NULL;
    return &r->tenants[sm->tenant_ix - 1];
}

uint64_t srv_machine_tenant_host_bytes(struct srv_registry *r,
                                       const struct srv_machine *sm)
{
    struct tenant_count *tc = tenant_of(r, sm);

    return tc != NULL ? tc->host_bytes : 0;
}

/* Brings @sm's event count into its tenant's sum.  A machine unlinked
 * (destroyed) stays in it: its events stay in the store until purged. */
static void events_sync(struct srv_registry *r, struct srv_machine *sm)
{
    struct tenant_count *tc = tenant_of(r, sm);

    if (tc == NULL || sm->events == sm->events_counted)
        return;
    tc->events = tc->events + sm->events - sm->events_counted;
    sm->events_counted = sm->events;
}

uint64_t srv_machine_tenant_events(struct srv_registry *r,
                                   struct srv_machine *sm)
{
    struct tenant_count *tc = tenant_of(r, sm);

    events_sync(r, sm);
    return tc != NULL ? tc->events : 0;
}

void srv_registry_add_events(struct srv_registry *r, const char *tenant,
                             uint64_t n)
{
    struct tenant_count *tc = tenant_find(r, tenant, true);

    if (tc != NULL)
        tc->events += n;
}

void srv_registry_sub_events(struct srv_registry *r, const char *tenant,
                             uint64_t n)
{
    struct tenant_count *tc = tenant_find(r, tenant, false);

    if (tc != NULL)
        tc->events = tc->events > n ? tc->events - n : 0;
}

void srv_registry_reset_events(struct srv_registry *r)
{
    struct srv_machine *sm;
    size_t i;

    for (i = 0; i < r->ntenants; i++)
        r->tenants[i].events = 0;
    for (i = 0; i < r->nbuckets; i++) {
        for (sm = r->bucket[i]; sm != NULL; sm = sm->hnext) {
            sm->events_counted = 0;
            events_sync(r, sm);
        }
    }
}

void srv_machine_account(struct srv_registry *r, struct srv_machine *sm)
{
    uint64_t now = sm->m != NULL ? mm_host_bytes(sm->m) : 0;
    struct tenant_count *tc;

    events_sync(r, sm);
    if (now == sm->host_bytes)
        return;
    if (sm->hnext != NULL || srv_machine_get(r, sm->id) == sm) {
        tc = tenant_of(r, sm);
        if (tc != NULL)
            tc->host_bytes = tc->host_bytes - sm->host_bytes + now;
    }
    sm->host_bytes = now;
}

void srv_registry_hold_bytes(struct srv_registry *r, const char *tenant,
                             uint64_t add, uint64_t sub)
{
    struct tenant_count *tc = tenant_find(r, tenant, true);

    if (tc == NULL)
        return;
    tc->host_bytes += add;
    tc->host_bytes = tc->host_bytes > sub ? tc->host_bytes - sub : 0;
}

uint64_t srv_registry_tenant_host_bytes(const struct srv_registry *r,
                                        const char *tenant)
{
    struct tenant_count *tc = tenant_find((struct srv_registry *)r, tenant,
                                          false);

    return tc != NULL ? tc->host_bytes : 0;
}

struct srv_machine *srv_machine_add(struct srv_registry *r, uint64_t id,
                                    const char *tenant, const char *name,
                                    const char *config, int64_t created_ms,
                                    struct mm_machine *m)
{
    struct srv_machine *sm = calloc(1, sizeof(*sm));

    if (sm == NULL)
        goto err;
    sm->name = strdup(name != NULL ? name : "");
    sm->config = strdup(config != NULL ? config : "");
    if (sm->name == NULL || sm->config == NULL)
        goto err;
    sm->id = id;
    snprintf(sm->tenant, sizeof(sm->tenant), "%s", tenant);
    sm->created_ms = created_ms;
    sm->touched_ms = srv_mono_ms();
    sm->m = m;
    sm->host_bytes = m != NULL ? mm_host_bytes(m) : 0;
    TAILQ_INIT(&sm->parked);
    if (id != 0)
        srv_machine_relink(r, sm);
    return sm;
err:
    if (sm != NULL) {
        free(sm->name);
        free(sm->config);
        free(sm);
    }
    mm_destroy(m);
    return NULL;
}

struct srv_machine *srv_machine_unlink(struct srv_registry *r, uint64_t id)
{
    struct srv_machine **pp = &r->bucket[slot(r, id)], *sm;
    struct tenant_count *tc;

    for (; (sm = *pp) != NULL; pp = &sm->hnext) {
        if (sm->id == id) {
            *pp = sm->hnext;
            sm->hnext = NULL;
            r->count--;
            events_sync(r, sm);
            tc = tenant_find(r, sm->tenant, false);
            if (tc != NULL && tc->n > 0) {
                tc->n--;
                tc->host_bytes -= sm->host_bytes;
            }
            return sm;
        }
    }
    return NULL;
}

size_t srv_registry_count(const struct srv_registry *r)
{
    return r->count;
}

size_t srv_registry_tenant_count(const struct srv_registry *r,
                                 const char *tenant)
{
    struct tenant_count *tc = tenant_find((struct srv_registry *)r, tenant,
                                          false);

    return tc != NULL ? tc->n : 0;
}

static int by_id(const void *a, const void *b)
{
    const struct srv_machine *x = *(struct srv_machine *const *)a;
    const struct srv_machine *y = *(struct srv_machine *const *)b;

    return x->id < y->id ? -1 : x->id > y->id;
}

void srv_registry_foreach(struct srv_registry *r, const char *tenant,
                          void (*fn)(void *arg, struct srv_machine *sm),
                          void *arg)
{
    struct srv_machine **v, *sm;
    size_t i, n = 0;

    if (r->count == 0)
        return;
    v = malloc(r->count * sizeof(*v));
    if (v == NULL)
        return;
    for (i = 0; i < r->nbuckets; i++) {
        for (sm = r->bucket[i]; sm != NULL; sm = sm->hnext) {
            if (tenant == NULL || strcmp(sm->tenant, tenant) == 0)
                v[n++] = sm;
        }
    }
    qsort(v, n, sizeof(*v), by_id);
    for (i = 0; i < n; i++)
        fn(arg, v[i]);
    free(v);
}

void srv_machine_set_broken(struct srv_machine *sm, const char *why)
{
    char *dup = strdup(why);

    if (dup == NULL)
        return;
    free(sm->broken);
    sm->broken = dup;
    if (sm->m != NULL) {
        srv_stream_detach_all(sm);
        mm_oops(sm->m, why);
    }
}
