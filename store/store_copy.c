/* store/store_copy.c - store_copy(): an SQLite database into an empty
 * PostgreSQL one (an operator growing from one node to a cluster).
 *
 * Only the store's own calls (store.h): the source is read with
 * store_verify(), store_list_machines(), store_machine_dup(),
 * store_foreach_event() (which checks each history's checksum chain),
 * store_checkpoint_get() and store_rkeys(); the target is written with the
 * submit calls under one store_hold(), ids kept with store_set_next_id().
 * So the copy follows either backend's storage as it changes.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"

struct copy {
    struct store *from, *to;
    struct store_copy_counts n;
    uint64_t *ids;  /* the source's machines, by id */
    char **tenants; /* their distinct tenants */
    size_t nids, nten, cap, tcap;
    uint64_t submitted; /* writes reaped by store_reap() */
    uint64_t failed;
    bool dry; /* the first pass: reads (and checks) only */
    char err[STORE_MSG_MAX];
};

/* The cookie every write of machine @id carries (store_submit_rkey()
 * attaches a key to the nearest earlier write of its cookie). */
static void *cookie_of(uint64_t id)
{
    return (void *)(uintptr_t)id;
}

static int collect(void *arg, const struct store_machine *m)
{
    struct copy *c = arg;
    size_t i;

    if (c->nids == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        uint64_t *n = realloc(c->ids, cap * sizeof(*n));

        if (n == NULL)
            return 1;
        c->ids = n;
        c->cap = cap;
    }
    c->ids[c->nids++] = m->id;
    for (i = 0; i < c->nten; i++)
        if (strcmp(c->tenants[i], m->tenant) == 0)
            return 0;
    if (c->nten == c->tcap) {
        size_t cap = c->tcap ? c->tcap * 2 : 16;
        char **n = realloc(c->tenants, cap * sizeof(*n));

        if (n == NULL)
            return 1;
        c->tenants = n;
        c->tcap = cap;
    }
    if ((c->tenants[c->nten] = strdup(m->tenant)) == NULL)
        return 1;
    c->nten++;
    return 0;
}

/* A submit's refusal, in @c->err; false. */
static bool refused(struct copy *c, enum store_status st, const char *what,
                    uint64_t id)
{
    snprintf(c->err, sizeof(c->err),
             "target: %s of machine %" PRIu64 ": %s: %s", what, id,
             store_status_name(st), store_errmsg(c->to));
    return false;
}

static int copy_event(void *arg, const struct store_event *ev)
{
    struct copy *c = arg;
    enum store_status st = STORE_OK;

    if (!c->dry)
        st = store_submit_event(c->to, ev, cookie_of(ev->machine));
    if (st != STORE_OK)
        return refused(c, st, "event", ev->machine), 1;
    c->submitted += !c->dry;
    c->n.events++;
    return 0;
}

static int copy_rkey(void *arg, const struct store_rkey *k)
{
    struct copy *c = arg;
    uint64_t scope = k->machine != 0 ? k->machine : c->ids[c->nids - 1];
    enum store_status st = STORE_OK;

    if (!c->dry)
        st = store_submit_rkey(c->to, k, cookie_of(scope));

    if (st != STORE_OK)
        return refused(c, st, "request key", scope), 1;
    c->n.rkeys++;
    return 0;
}

/* The machine row, as its create or fork, with its own id. */
static bool copy_row(struct copy *c, const struct store_machine *m)
{
    enum store_status st;
    uint64_t id = m->id;

    if (c->dry) {
        c->n.machines++;
        return true;
    }
    st = store_set_next_id(c->to, m->id);
    if (st == STORE_OK && m->parent != 0)
        st = store_submit_machine_fork(c->to, m->parent, m->parent_seq,
                                       m->tenant, m->name, m->config,
                                       m->created_ms, cookie_of(m->id), &id);
    else if (st == STORE_OK)
        st = store_submit_machine_create(c->to, m->tenant, m->name, m->config,
                                         m->created_ms, cookie_of(m->id), &id);
    if (st != STORE_OK)
        return refused(c, st, "row", m->id);
    if (id != m->id) {
        snprintf(c->err, sizeof(c->err),
                 "target: machine %" PRIu64 " got id %" PRIu64, m->id, id);
        return false;
    }
    c->submitted++;
    c->n.machines++;
    return true;
}

/* Every checkpoint of @m, newest first. */
static bool copy_checkpoints(struct copy *c, const struct store_machine *m)
{
    uint64_t at_most = 0, seq;
    enum store_status st;
    void *blob;
    size_t len;

    for (;;) {
        st = store_checkpoint_get(c->from, m->id, at_most, &seq, &blob, &len);
        if (st == STORE_NOT_FOUND)
            return true;
        if (st != STORE_OK) {
            snprintf(c->err, sizeof(c->err),
                     "source: checkpoint of machine %" PRIu64 ": %s", m->id,
                     store_errmsg(c->from));
            return false;
        }
        if (!c->dry)
            st = store_submit_checkpoint(c->to, m->id, seq, blob, len,
                                         cookie_of(m->id));
        free(blob);
        if (st != STORE_OK)
            return refused(c, st, "checkpoint", m->id);
        c->submitted += !c->dry;
        c->n.checkpoints++;
        if (seq <= 1 || seq <= m->parent_seq + 1)
            return true;
        at_most = seq - 1;
    }
}

/* Machine @id whole: row, events, checkpoints, keys, destruction. */
static bool copy_machine(struct copy *c, uint64_t id)
{
    struct store_machine *m = NULL;
    enum store_status st;
    bool ok;

    st = store_machine_dup(c->from, id, &m);
    if (st != STORE_OK) {
        snprintf(c->err, sizeof(c->err), "source: machine %" PRIu64 ": %s", id,
                 store_errmsg(c->from));
        return false;
    }
    ok = copy_row(c, m);
    if (ok) {
        st = store_foreach_event(c->from, id, 0, copy_event, c, NULL);
        if (st != STORE_OK && c->err[0] == '\0')
            snprintf(c->err, sizeof(c->err), "source: %s: %s",
                     store_status_name(st), store_errmsg(c->from));
        ok = st == STORE_OK && c->err[0] == '\0';
    }
    ok = ok && copy_checkpoints(c, m);
    ok = ok && store_rkeys(c->from, id, NULL, 0, copy_rkey, c) == STORE_OK &&
         c->err[0] == '\0';
    if (ok && m->destroyed) {
        if (!c->dry)
            st = store_submit_machine_destroy(c->to, id, m->destroyed_ms,
                                              cookie_of(id));
        ok = st == STORE_OK || refused(c, st, "destruction", id);
        c->submitted += ok && !c->dry;
        c->n.destroyed += ok;
    }
    if (!ok && c->err[0] == '\0')
        snprintf(c->err, sizeof(c->err), "source: machine %" PRIu64 ": %s", id,
                 store_errmsg(c->from));
    free(m);
    return ok;
}

/* The tenants' own keys (creates, destroys), after every machine: each
 * rides on the last machine's write. */
static bool copy_tenant_keys(struct copy *c)
{
    size_t i;

    for (i = 0; i < c->nten && c->nids > 0; i++)
        if (store_rkeys(c->from, 0, c->tenants[i], 0, copy_rkey, c) !=
                STORE_OK ||
            c->err[0] != '\0') {
            if (c->err[0] == '\0')
                snprintf(c->err, sizeof(c->err),
                         "source: request keys of tenant '%s': %s",
                         c->tenants[i], store_errmsg(c->from));
            return false;
        }
    return true;
}

static void reaped(void *arg, void *cookie, enum store_status st,
                   const char *msg)
{
    struct copy *c = arg;

    if (st != STORE_OK && c->failed++ == 0)
        snprintf(c->err, sizeof(c->err), "target: machine %" PRIu64 ": %s: %s",
                 (uint64_t)(uintptr_t)cookie, store_status_name(st), msg);
}

/* Everything submitted, committed (or not). */
static bool commit(struct copy *c)
{
    uint64_t done = 0;

    store_release(c->to);
    while (done < c->submitted) {
        store_flush(c->to);
        done += store_reap(c->to, reaped, c);
    }
    return c->failed == 0;
}

/* store_verify()'s first problem line, into the copy's message. */
static void first_problem(void *arg, const char *line)
{
    struct copy *c = arg;

    if (c->err[0] == '\0')
        snprintf(c->err, sizeof(c->err), "%s", line);
}

/* The source sound, the target empty. */
static enum store_status check_ends(struct copy *c, const char *from)
{
    uint64_t problems = 0, max = 0;
    enum store_status st;

    char first[STORE_MSG_MAX];

    st = store_verify(from, first_problem, c, &problems, first);
    if (st != STORE_OK) {
        snprintf(c->err, sizeof(c->err), "%s", first);
        return st;
    }
    if (problems > 0) {
        snprintf(first, sizeof(first), "%s", c->err);
        snprintf(c->err, sizeof(c->err),
                 "refusing a corrupt source %.120s: %.300s (%" PRIu64
                 " problem%s in all; armmapd --verify lists them)",
                 from, first, problems, problems == 1 ? "" : "s");
        return STORE_CORRUPT;
    }
    st = store_max_machine_id(c->to, &max);
    if (st != STORE_OK) {
        snprintf(c->err, sizeof(c->err), "target: %s", store_errmsg(c->to));
        return st;
    }
    if (max != 0) {
        snprintf(c->err, sizeof(c->err),
                 "target is not empty (it has held machines up to id %" PRIu64
                 "): refusing to copy into it",
                 max);
        return STORE_ALREADY_EXISTS;
    }
    return STORE_OK;
}

/* One pass over every machine and tenant. */
static bool copy_pass(struct copy *c)
{
    size_t i;
    bool ok = true;

    memset(&c->n, 0, sizeof(c->n));
    for (i = 0; i < c->nids && ok; i++)
        ok = copy_machine(c, c->ids[i]);
    return ok && copy_tenant_keys(c);
}

/* Lists, reads everything once (a source that fails, e.g. a broken
 * checksum chain, is refused before anything is queued: a queued write
 * cannot be taken back), then copies every machine under one hold. */
static enum store_status copy_all(struct copy *c)
{
    struct store_machine_filter f = { .include_destroyed = true };

    if (store_list_machines(c->from, &f, collect, c, NULL) != STORE_OK) {
        snprintf(c->err, sizeof(c->err), "source: %s", store_errmsg(c->from));
        return STORE_UNAVAILABLE;
    }
    c->dry = true;
    if (!copy_pass(c))
        return strstr(c->err, "CORRUPT") ? STORE_CORRUPT : STORE_UNAVAILABLE;
    c->dry = false;
    store_hold(c->to);
    if (!copy_pass(c)) {
        /* Only the target's own refusal (host memory): what was queued
         * commits at store_close(); the message says so. */
        size_t len = strlen(c->err);

        snprintf(c->err + len, sizeof(c->err) - len,
                 " (the target may hold part of the copy)");
        store_release(c->to);
        return STORE_UNAVAILABLE;
    }
    return commit(c) ? STORE_OK : STORE_UNAVAILABLE;
}

enum store_status store_copy(const char *from, const char *to,
                             struct store_copy_counts *n,
                             char err[STORE_MSG_MAX])
{
    struct store_options opt = { .queue_max = UINT32_MAX,
                                 .queue_bytes_max = SIZE_MAX };
    struct copy c;
    enum store_status st;
    size_t i;

    memset(&c, 0, sizeof(c));
    if (from == NULL || to == NULL || store_is_pg_url(from) ||
        !store_is_pg_url(to)) {
        snprintf(err, STORE_MSG_MAX,
                 "copy: from an SQLite file to a postgresql:// database only");
        return STORE_INVALID_ARGUMENT;
    }
    st = store_open(from, NULL, &c.from, err);
    if (st == STORE_OK && (st = store_open(to, &opt, &c.to, err)) == STORE_OK &&
        (st = check_ends(&c, from)) == STORE_OK)
        st = copy_all(&c);
    if (st != STORE_OK && c.err[0] != '\0')
        snprintf(err, STORE_MSG_MAX, "%s", c.err);
    if (n != NULL)
        *n = c.n;
    store_close(c.to);
    store_close(c.from);
    for (i = 0; i < c.nten; i++)
        free(c.tenants[i]);
    free(c.tenants);
    free(c.ids);
    return st;
}
