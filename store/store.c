/* store/store.c - the store's front: picks the backend at open and
 * forwards every store_* call of store.h to it (store_backend.h).
 *
 * A database string starting "postgresql://" or "postgres://" opens
 * PostgreSQL (store_pg*.c); anything else is an SQLite file or ":memory:"
 * as before.  The front keeps no state of its own: a store or reader
 * carries its backend's table in its first member.
 */
#include <stdio.h>
#include <string.h>

#include "store_backend.h"

/* The backend of a store or reader (see the layout contract). */
#define BE(s)  (*(const struct store_backend *const *)(const void *)(s))
#define RBE(r) BE(*(struct store *const *)(const void *)(r))

const struct store_backend store_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .open_warning = sq_open_warning,
    .close = sq_close,
    .errmsg = sq_errmsg,
    .submit_event = sq_submit_event,
    .submit_events = sq_submit_events,
    .submit_machine_create = sq_submit_machine_create,
    .submit_machine_fork = sq_submit_machine_fork,
    .submit_machine_destroy = sq_submit_machine_destroy,
    .submit_checkpoint = sq_submit_checkpoint,
    .hold = sq_hold,
    .submit_rkey = sq_submit_rkey,
    .rkeys = sq_rkeys,
    .notify_fd = sq_notify_fd,
    .reap = sq_reap,
    .flush = sq_flush,
    .reset = sq_reset,
    .stats = sq_stats,
    .set_max_bytes = sq_set_max_bytes,
    .history = sq_history,
    .op_counts = sq_op_counts,
    .op_counts_page = sq_op_counts_page,
    .list_machines = sq_list_machines,
    .machine_dup = sq_machine_dup,
    .foreach_live_machine = sq_foreach_live_machine,
    .foreach_event = sq_foreach_event,
    .checkpoint_get = sq_checkpoint_get,
    .foreach_event_after = sq_foreach_event_after,
    .reader_open = sq_reader_open,
    .reader_close = sq_reader_close,
    .main_reader = sq_main_reader,
    .reader_errmsg = sq_reader_errmsg,
    .reader_events = sq_reader_events,
    .reader_checkpoint = sq_reader_checkpoint,
    .reader_parent = sq_reader_parent,
    .max_machine_id = sq_max_machine_id,
    .purge = sq_purge,
    .purge_r = sq_purge_r,
    .verify = sq_verify,
};

bool store_is_pg_url(const char *path)
{
    return path != NULL && (strncmp(path, "postgresql://", 13) == 0 ||
                            strncmp(path, "postgres://", 11) == 0);
}

static const struct store_backend *backend_of(const char *path)
{
    return store_is_pg_url(path) ? &store_pg_backend : &store_sqlite_backend;
}

enum store_status store_open(const char *path, const struct store_options *opt,
                             struct store **out, char err[STORE_MSG_MAX])
{
    const struct store_backend *be = backend_of(path);
    enum store_status st;

    if (opt != NULL && opt->node != NULL && be == &store_sqlite_backend) {
        snprintf(err, STORE_MSG_MAX, "cluster mode needs PostgreSQL");
        return STORE_INVALID_ARGUMENT;
    }
    st = be->open(path, opt, out, err);

    if (st == STORE_OK)
        *(const struct store_backend **)(void *)*out = be;
    return st;
}

enum store_status store_verify(const char *path,
                               void (*report)(void *arg, const char *line),
                               void *arg, uint64_t *problems,
                               char err[STORE_MSG_MAX])
{
    return backend_of(path)->verify(path, report, arg, problems, err);
}

void store_close(struct store *s)
{
    if (s != NULL)
        BE(s)->close(s);
}

void store_reader_close(struct store_reader *r)
{
    if (r != NULL)
        RBE(r)->reader_close(r);
}

const char *store_open_warning(const struct store *s)
{
    return BE(s)->open_warning(s);
}

const char *store_errmsg(const struct store *s)
{
    return BE(s)->errmsg(s);
}

enum store_status store_submit_event(struct store *s,
                                     const struct store_event *ev, void *cookie)
{
    return BE(s)->submit_event(s, ev, cookie);
}

void store_hold(struct store *s)
{
    BE(s)->hold(s, true);
}

void store_release(struct store *s)
{
    BE(s)->hold(s, false);
}

enum store_status store_submit_rkey(struct store *s, const struct store_rkey *k,
                                    void *cookie)
{
    return BE(s)->submit_rkey(s, k, cookie);
}

enum store_status store_rkeys(struct store *s, uint64_t machine,
                              const char *tenant, uint64_t key,
                              int (*fn)(void *arg, const struct store_rkey *k),
                              void *arg)
{
    return BE(s)->rkeys(s, machine, tenant, key, fn, arg);
}

enum store_status store_submit_events(struct store *s,
                                      const struct store_event *ev, size_t n,
                                      void *cookie)
{
    return BE(s)->submit_events(s, ev, n, cookie);
}

enum store_status store_submit_machine_create(
    struct store *s, const char *tenant, const char *name, const char *config,
    int64_t created_ms, void *cookie, uint64_t *id)
{
    return BE(s)->submit_machine_create(s, tenant, name, config, created_ms,
                                        cookie, id);
}

enum store_status store_submit_machine_fork(
    struct store *s, uint64_t parent, uint64_t parent_seq, const char *tenant,
    const char *name, const char *config, int64_t created_ms, void *cookie,
    uint64_t *id)
{
    return BE(s)->submit_machine_fork(s, parent, parent_seq, tenant, name,
                                      config, created_ms, cookie, id);
}

enum store_status store_submit_machine_destroy(struct store *s, uint64_t id,
                                               int64_t destroyed_ms,
                                               void *cookie)
{
    return BE(s)->submit_machine_destroy(s, id, destroyed_ms, cookie);
}

enum store_status store_submit_checkpoint(struct store *s, uint64_t machine,
                                          uint64_t seq, const void *blob,
                                          size_t len, void *cookie)
{
    return BE(s)->submit_checkpoint(s, machine, seq, blob, len, cookie);
}

int store_notify_fd(const struct store *s)
{
    return BE(s)->notify_fd(s);
}

size_t store_reap(struct store *s,
                  void (*done)(void *arg, void *cookie,
                               enum store_status status, const char *msg),
                  void *arg)
{
    return BE(s)->reap(s, done, arg);
}

void store_flush(struct store *s)
{
    BE(s)->flush(s);
}

enum store_status store_reset(struct store *s)
{
    return BE(s)->reset(s);
}

void store_stats(struct store *s, struct store_stats *st)
{
    BE(s)->stats(s, st);
}

enum store_status store_set_max_bytes(struct store *s, uint64_t bytes)
{
    return BE(s)->set_max_bytes(s, bytes);
}

enum store_status store_history(struct store *s,
                                const struct store_history_query *q,
                                int (*fn)(void *arg,
                                          const struct store_event *ev),
                                void *arg, struct store_page *page)
{
    return BE(s)->history(s, q, fn, arg, page);
}

enum store_status store_op_counts(struct store *s, uint64_t machine,
                                  void (*fn)(void *arg, uint32_t op,
                                             uint64_t count),
                                  void *arg)
{
    return BE(s)->op_counts(s, machine, fn, arg);
}

enum store_status store_op_counts_page(struct store *s, uint64_t machine,
                                       uint64_t after_seq, uint32_t limit,
                                       void (*fn)(void *arg, uint32_t op,
                                                  uint64_t count),
                                       void *arg, uint64_t *last_seq)
{
    return BE(s)->op_counts_page(s, machine, after_seq, limit, fn, arg,
                                 last_seq);
}

enum store_status store_list_machines(
    struct store *s, const struct store_machine_filter *f,
    int (*fn)(void *arg, const struct store_machine *m), void *arg, bool *more)
{
    return BE(s)->list_machines(s, f, fn, arg, more);
}

enum store_status store_machine_dup(struct store *s, uint64_t id,
                                    struct store_machine **out)
{
    return BE(s)->machine_dup(s, id, out);
}

enum store_status store_foreach_live_machine(
    struct store *s, int (*fn)(void *arg, const struct store_machine *m),
    void *arg)
{
    return BE(s)->foreach_live_machine(s, fn, arg);
}

enum store_status store_foreach_event(struct store *s, uint64_t machine,
                                      uint64_t upto_seq,
                                      int (*fn)(void *arg,
                                                const struct store_event *ev),
                                      void *arg, uint64_t *count)
{
    return BE(s)->foreach_event(s, machine, upto_seq, fn, arg, count);
}

enum store_status store_checkpoint_get(struct store *s, uint64_t machine,
                                       uint64_t at_most, uint64_t *seq,
                                       void **blob, size_t *len)
{
    return BE(s)->checkpoint_get(s, machine, at_most, seq, blob, len);
}

enum store_status store_foreach_event_after(
    struct store *s, uint64_t machine, uint64_t after_seq, uint64_t upto_seq,
    int (*fn)(void *arg, const struct store_event *ev), void *arg,
    uint64_t *count)
{
    return BE(s)->foreach_event_after(s, machine, after_seq, upto_seq, fn, arg,
                                      count);
}

enum store_status store_reader_open(struct store *s, struct store_reader **out)
{
    return BE(s)->reader_open(s, out);
}

struct store_reader *store_main_reader(struct store *s)
{
    return BE(s)->main_reader(s);
}

const char *store_reader_errmsg(const struct store_reader *r)
{
    return RBE(r)->reader_errmsg(r);
}

enum store_status store_reader_events(struct store_reader *r, uint64_t machine,
                                      uint64_t after_seq, uint64_t upto_seq,
                                      int (*fn)(void *arg,
                                                const struct store_event *ev),
                                      void *arg, uint64_t *count)
{
    return RBE(r)->reader_events(r, machine, after_seq, upto_seq, fn, arg,
                                 count);
}

enum store_status store_reader_checkpoint(struct store_reader *r,
                                          uint64_t machine, uint64_t at_most,
                                          uint64_t *seq, void **blob,
                                          size_t *len)
{
    return RBE(r)->reader_checkpoint(r, machine, at_most, seq, blob, len);
}

enum store_status store_reader_parent(struct store_reader *r, uint64_t id,
                                      uint64_t *parent, uint64_t *parent_seq)
{
    return RBE(r)->reader_parent(r, id, parent, parent_seq);
}

enum store_status store_max_machine_id(struct store *s, uint64_t *id)
{
    return BE(s)->max_machine_id(s, id);
}

enum store_status store_purge(struct store *s, const char *tenant,
                              int64_t older_than_ms, int64_t now_ms,
                              uint64_t *purged, uint64_t *events)
{
    return BE(s)->purge(s, tenant, older_than_ms, now_ms, purged, events);
}

enum store_status store_purge_r(struct store *s, const char *tenant,
                                int64_t older_than_ms, int64_t now_ms,
                                uint64_t *purged, uint64_t *events, char *err,
                                size_t errsz)
{
    return BE(s)->purge_r(s, tenant, older_than_ms, now_ms, purged, events, err,
                          errsz);
}

/* ------------------------------------------------------------------ */
/* Cluster mode: PostgreSQL only                                       */
/* ------------------------------------------------------------------ */

/* True (with @err) if @s's backend has no cluster mode. */
static bool no_cluster(const struct store *s, char err[STORE_MSG_MAX])
{
    if (BE(s)->node_register != NULL)
        return false;
    snprintf(err, STORE_MSG_MAX, "cluster mode needs PostgreSQL");
    return true;
}

enum store_status store_node_register(struct store *s,
                                      const struct store_node *n,
                                      int64_t *epoch, char err[STORE_MSG_MAX])
{
    if (no_cluster(s, err))
        return STORE_INVALID_ARGUMENT;
    return BE(s)->node_register(s, n, epoch, err);
}

enum store_status store_node_heartbeat(struct store *s, char err[STORE_MSG_MAX])
{
    if (no_cluster(s, err))
        return STORE_INVALID_ARGUMENT;
    return BE(s)->node_heartbeat(s, err);
}

enum store_status store_machine_owner(struct store *s, uint64_t id,
                                      struct store_owner *o,
                                      char err[STORE_MSG_MAX])
{
    if (no_cluster(s, err))
        return STORE_INVALID_ARGUMENT;
    return BE(s)->machine_owner(s, id, o, err);
}

enum store_status store_machine_claim(struct store *s, uint64_t id, bool *won,
                                      char err[STORE_MSG_MAX])
{
    if (no_cluster(s, err))
        return STORE_INVALID_ARGUMENT;
    return BE(s)->machine_claim(s, id, won, err);
}

enum store_status store_set_next_id(struct store *s, uint64_t id)
{
    if (BE(s)->set_next_id == NULL)
        return STORE_INVALID_ARGUMENT;
    return BE(s)->set_next_id(s, id);
}

enum store_status store_reader_machine_owner(struct store_reader *r,
                                             uint64_t id, struct store_owner *o,
                                             char err[STORE_MSG_MAX])
{
    if (RBE(r)->reader_machine_owner == NULL) {
        snprintf(err, STORE_MSG_MAX, "cluster mode needs PostgreSQL");
        return STORE_INVALID_ARGUMENT;
    }
    return RBE(r)->reader_machine_owner(r, id, o, err);
}

enum store_status store_reader_machine_claim(struct store_reader *r,
                                             uint64_t id, bool *won,
                                             char err[STORE_MSG_MAX])
{
    if (RBE(r)->reader_machine_claim == NULL) {
        snprintf(err, STORE_MSG_MAX, "cluster mode needs PostgreSQL");
        return STORE_INVALID_ARGUMENT;
    }
    return RBE(r)->reader_machine_claim(r, id, won, err);
}
