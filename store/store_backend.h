/* store/store_backend.h - the store's backends behind one interface.
 *
 * store/store.c (the front) owns the public store_* names of store.h and
 * forwards each call through a struct store_backend table:
 *  - store_sqlite_backend (sq_*: store_open.c, store_writer.c,
 *    store_read.c, store_counts.c, store_verify.c): an SQLite file, the
 *    embedded default;
 *  - store_pg_backend (pg_*: store_pg*.c): a PostgreSQL database, chosen by
 *    a "postgresql://" or "postgres://" database string (libpq's URI).
 *
 * Layout contract the front relies on: each backend's own struct store
 * begins with `const struct store_backend *be` (the front sets it after
 * the backend's open succeeded), and each backend's struct store_reader
 * begins with `struct store *s` (its store).  The two structs are each
 * defined in their backend's files only; the front sees them incomplete.
 * Every function keeps the contract store.h states for its store_* name.
 */
#ifndef ARMMAP_STORE_STORE_BACKEND_H
#define ARMMAP_STORE_STORE_BACKEND_H

#include "store.h"

struct store_backend {
    const char *name; /* "sqlite", "postgresql" */
    enum store_status (*open)(const char *path, const struct store_options *opt,
                              struct store **out, char err[STORE_MSG_MAX]);
    const char *(*open_warning)(const struct store *s);
    void (*close)(struct store *s);
    const char *(*errmsg)(const struct store *s);
    enum store_status (*submit_event)(struct store *s,
                                      const struct store_event *ev,
                                      void *cookie);
    enum store_status (*submit_events)(struct store *s,
                                       const struct store_event *ev, size_t n,
                                       void *cookie);
    enum store_status (*submit_machine_create)(
        struct store *s, const char *tenant, const char *name,
        const char *config, int64_t created_ms, void *cookie, uint64_t *id);
    enum store_status (*submit_machine_fork)(
        struct store *s, uint64_t parent, uint64_t parent_seq,
        const char *tenant, const char *name, const char *config,
        int64_t created_ms, void *cookie, uint64_t *id);
    enum store_status (*submit_machine_destroy)(struct store *s, uint64_t id,
                                                int64_t destroyed_ms,
                                                void *cookie);
    enum store_status (*submit_checkpoint)(struct store *s, uint64_t machine,
                                           uint64_t seq, const void *blob,
                                           size_t len, void *cookie);
    void (*hold)(struct store *s, bool on);
    enum store_status (*submit_rkey)(struct store *s,
                                     const struct store_rkey *k, void *cookie);
    enum store_status (*rkeys)(struct store *s, uint64_t machine,
                               const char *tenant, uint64_t key,
                               int (*fn)(void *arg, const struct store_rkey *k),
                               void *arg);
    int (*notify_fd)(const struct store *s);
    size_t (*reap)(struct store *s,
                   void (*done)(void *arg, void *cookie,
                                enum store_status status, const char *msg),
                   void *arg);
    void (*flush)(struct store *s);
    enum store_status (*reset)(struct store *s);
    void (*stats)(struct store *s, struct store_stats *st);
    enum store_status (*set_max_bytes)(struct store *s, uint64_t bytes);
    enum store_status (*history)(struct store *s,
                                 const struct store_history_query *q,
                                 int (*fn)(void *arg,
                                           const struct store_event *ev),
                                 void *arg, struct store_page *page);
    enum store_status (*op_counts)(struct store *s, uint64_t machine,
                                   void (*fn)(void *arg, uint32_t op,
                                              uint64_t count),
                                   void *arg);
    enum store_status (*op_counts_page)(struct store *s, uint64_t machine,
                                        uint64_t after_seq, uint32_t limit,
                                        void (*fn)(void *arg, uint32_t op,
                                                   uint64_t count),
                                        void *arg, uint64_t *last_seq);
    enum store_status (*list_machines)(struct store *s,
                                       const struct store_machine_filter *f,
                                       int (*fn)(void *arg,
                                                 const struct store_machine *m),
                                       void *arg, bool *more);
    enum store_status (*machine_dup)(struct store *s, uint64_t id,
                                     struct store_machine **out);
    enum store_status (*foreach_live_machine)(
        struct store *s, int (*fn)(void *arg, const struct store_machine *m),
        void *arg);
    enum store_status (*foreach_event)(struct store *s, uint64_t machine,
                                       uint64_t upto_seq,
                                       int (*fn)(void *arg,
                                                 const struct store_event *ev),
                                       void *arg, uint64_t *count);
    enum store_status (*checkpoint_get)(struct store *s, uint64_t machine,
                                        uint64_t at_most, uint64_t *seq,
                                        void **blob, size_t *len);
    enum store_status (*foreach_event_after)(
        struct store *s, uint64_t machine, uint64_t after_seq,
        uint64_t upto_seq, int (*fn)(void *arg, const struct store_event *ev),
        void *arg, uint64_t *count);
    enum store_status (*reader_open)(struct store *s,
                                     struct store_reader **out);
    void (*reader_close)(struct store_reader *r);
    struct store_reader *(*main_reader)(struct store *s);
    const char *(*reader_errmsg)(const struct store_reader *r);
    enum store_status (*reader_events)(struct store_reader *r, uint64_t machine,
                                       uint64_t after_seq, uint64_t upto_seq,
                                       int (*fn)(void *arg,
                                                 const struct store_event *ev),
                                       void *arg, uint64_t *count);
    enum store_status (*reader_checkpoint)(struct store_reader *r,
                                           uint64_t machine, uint64_t at_most,
                                           uint64_t *seq, void **blob,
                                           size_t *len);
    enum store_status (*reader_parent)(struct store_reader *r, uint64_t id,
                                       uint64_t *parent, uint64_t *parent_seq);
    enum store_status (*max_machine_id)(struct store *s, uint64_t *id);
    enum store_status (*purge)(struct store *s, const char *tenant,
                               int64_t older_than_ms, int64_t now_ms,
                               uint64_t *purged, uint64_t *events);
    enum store_status (*purge_r)(struct store *s, const char *tenant,
                                 int64_t older_than_ms, int64_t now_ms,
                                 uint64_t *purged, uint64_t *events, char *err,
                                 size_t errsz);
    enum store_status (*verify)(const char *path,
                                void (*report)(void *arg, const char *line),
                                void *arg, uint64_t *problems,
                                char err[STORE_MSG_MAX]);
    /* Cluster mode; NULL: the backend has none (SQLite). */
    enum store_status (*node_register)(struct store *s,
                                       const struct store_node *n,
                                       int64_t *epoch, char err[STORE_MSG_MAX]);
    enum store_status (*node_heartbeat)(struct store *s,
                                        char err[STORE_MSG_MAX]);
    enum store_status (*machine_owner)(struct store *s, uint64_t id,
                                       struct store_owner *o,
                                       char err[STORE_MSG_MAX]);
    enum store_status (*machine_claim)(struct store *s, uint64_t id, bool *won,
                                       char err[STORE_MSG_MAX]);
    enum store_status (*reader_machine_owner)(struct store_reader *r,
                                              uint64_t id,
                                              struct store_owner *o,
                                              char err[STORE_MSG_MAX]);
    enum store_status (*reader_machine_claim)(struct store_reader *r,
                                              uint64_t id, bool *won,
                                              char err[STORE_MSG_MAX]);
    /* store_set_next_id(); NULL: the backend cannot (SQLite). */
    enum store_status (*set_next_id)(struct store *s, uint64_t id);
};

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend; /* store_pg.c, or
                                                        store_nopg.c */

/* True for a database string that names a PostgreSQL database. */
bool store_is_pg_url(const char *path);

/* The SQLite backend (store_open.c and its siblings). */
enum store_status sq_open(const char *path, const struct store_options *opt,
                          struct store **out, char err[STORE_MSG_MAX]);
const char *sq_open_warning(const struct store *s);
void sq_close(struct store *s);
const char *sq_errmsg(const struct store *s);
enum store_status sq_submit_event(struct store *s, const struct store_event *ev,
                                  void *cookie);
enum store_status sq_submit_events(struct store *s,
                                   const struct store_event *ev, size_t n,
                                   void *cookie);
enum store_status sq_submit_machine_create(struct store *s, const char *tenant,
                                           const char *name, const char *config,
                                           int64_t created_ms, void *cookie,
                                           uint64_t *id);
enum store_status sq_submit_machine_fork(struct store *s, uint64_t parent,
                                         uint64_t parent_seq,
                                         const char *tenant, const char *name,
                                         const char *config, int64_t created_ms,
                                         void *cookie, uint64_t *id);
enum store_status sq_submit_machine_destroy(struct store *s, uint64_t id,
                                            int64_t destroyed_ms, void *cookie);
enum store_status sq_submit_checkpoint(struct store *s, uint64_t machine,
                                       uint64_t seq, const void *blob,
                                       size_t len, void *cookie);
void sq_hold(struct store *s, bool on);
enum store_status sq_submit_rkey(struct store *s, const struct store_rkey *k,
                                 void *cookie);
enum store_status sq_rkeys(struct store *s, uint64_t machine,
                           const char *tenant, uint64_t key,
                           int (*fn)(void *arg, const struct store_rkey *k),
                           void *arg);
int sq_notify_fd(const struct store *s);
size_t sq_reap(struct store *s,
               void (*done)(void *arg, void *cookie, enum store_status status,
                            const char *msg),
               void *arg);
void sq_flush(struct store *s);
/* Test mode, for the fuzz harnesses (tests/fuzz/fuzz_conn.c), SQLite
 * ":memory:" stores only: sq_test_inline_writer() stops the writer thread
 * of a store nothing has used yet (call it right after store_open(), on
 * the thread that will submit); from then on sq_test_pump() commits the
 * filling batch on its caller's thread, as the writer would have (one
 * transaction, then sq_reap()'s completions and the eventfd), and
 * store_flush(), store_reset(), store_purge() and store_set_max_bytes()
 * run the writer's work on their caller's thread (serialized).  Writes
 * stay queued until the next pump or flush.  -1 (nothing changed) for a
 * file or PostgreSQL store. */
int sq_test_inline_writer(struct store *s);
void sq_test_pump(struct store *s);
enum store_status sq_reset(struct store *s);
void sq_stats(struct store *s, struct store_stats *st);
enum store_status sq_set_max_bytes(struct store *s, uint64_t bytes);
enum store_status sq_history(struct store *s,
                             const struct store_history_query *q,
                             int (*fn)(void *arg, const struct store_event *ev),
                             void *arg, struct store_page *page);
enum store_status sq_op_counts(struct store *s, uint64_t machine,
                               void (*fn)(void *arg, uint32_t op,
                                          uint64_t count),
                               void *arg);
enum store_status sq_op_counts_page(struct store *s, uint64_t machine,
                                    uint64_t after_seq, uint32_t limit,
                                    void (*fn)(void *arg, uint32_t op,
                                               uint64_t count),
                                    void *arg, uint64_t *last_seq);
enum store_status sq_list_machines(
    struct store *s, const struct store_machine_filter *f,
    int (*fn)(void *arg, const struct store_machine *m), void *arg, bool *more);
enum store_status sq_machine_dup(struct store *s, uint64_t id,
                                 struct store_machine **out);
enum store_status sq_foreach_live_machine(
    struct store *s, int (*fn)(void *arg, const struct store_machine *m),
    void *arg);
enum store_status sq_foreach_event(struct store *s, uint64_t machine,
                                   uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count);
enum store_status sq_checkpoint_get(struct store *s, uint64_t machine,
                                    uint64_t at_most, uint64_t *seq,
                                    void **blob, size_t *len);
enum store_status sq_foreach_event_after(
    struct store *s, uint64_t machine, uint64_t after_seq, uint64_t upto_seq,
    int (*fn)(void *arg, const struct store_event *ev), void *arg,
    uint64_t *count);
enum store_status sq_reader_open(struct store *s, struct store_reader **out);
void sq_reader_close(struct store_reader *r);
struct store_reader *sq_main_reader(struct store *s);
const char *sq_reader_errmsg(const struct store_reader *r);
enum store_status sq_reader_events(struct store_reader *r, uint64_t machine,
                                   uint64_t after_seq, uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count);
enum store_status sq_reader_checkpoint(struct store_reader *r, uint64_t machine,
                                       uint64_t at_most, uint64_t *seq,
                                       void **blob, size_t *len);
enum store_status sq_reader_parent(struct store_reader *r, uint64_t id,
                                   uint64_t *parent, uint64_t *parent_seq);
enum store_status sq_max_machine_id(struct store *s, uint64_t *id);
enum store_status sq_purge(struct store *s, const char *tenant,
                           int64_t older_than_ms, int64_t now_ms,
                           uint64_t *purged, uint64_t *events);
enum store_status sq_purge_r(struct store *s, const char *tenant,
                             int64_t older_than_ms, int64_t now_ms,
                             uint64_t *purged, uint64_t *events, char *err,
                             size_t errsz);
enum store_status sq_verify(const char *path,
                            void (*report)(void *arg, const char *line),
                            void *arg, uint64_t *problems,
                            char err[STORE_MSG_MAX]);

/* The PostgreSQL backend (store_pg*.c). */
enum store_status pg_open(const char *path, const struct store_options *opt,
                          struct store **out, char err[STORE_MSG_MAX]);
const char *pg_open_warning(const struct store *s);
void pg_close(struct store *s);
const char *pg_errmsg(const struct store *s);
enum store_status pg_submit_event(struct store *s, const struct store_event *ev,
                                  void *cookie);
enum store_status pg_submit_events(struct store *s,
                                   const struct store_event *ev, size_t n,
                                   void *cookie);
enum store_status pg_submit_machine_create(struct store *s, const char *tenant,
                                           const char *name, const char *config,
                                           int64_t created_ms, void *cookie,
                                           uint64_t *id);
enum store_status pg_submit_machine_fork(struct store *s, uint64_t parent,
                                         uint64_t parent_seq,
                                         const char *tenant, const char *name,
                                         const char *config, int64_t created_ms,
                                         void *cookie, uint64_t *id);
enum store_status pg_submit_machine_destroy(struct store *s, uint64_t id,
                                            int64_t destroyed_ms, void *cookie);
enum store_status pg_submit_checkpoint(struct store *s, uint64_t machine,
                                       uint64_t seq, const void *blob,
                                       size_t len, void *cookie);
void pg_hold(struct store *s, bool on);
enum store_status pg_submit_rkey(struct store *s, const struct store_rkey *k,
                                 void *cookie);
enum store_status pg_rkeys(struct store *s, uint64_t machine,
                           const char *tenant, uint64_t key,
                           int (*fn)(void *arg, const struct store_rkey *k),
                           void *arg);
int pg_notify_fd(const struct store *s);
size_t pg_reap(struct store *s,
               void (*done)(void *arg, void *cookie, enum store_status status,
                            const char *msg),
               void *arg);
void pg_flush(struct store *s);
enum store_status pg_reset(struct store *s);
void pg_stats(struct store *s, struct store_stats *st);
enum store_status pg_set_max_bytes(struct store *s, uint64_t bytes);
enum store_status pg_history(struct store *s,
                             const struct store_history_query *q,
                             int (*fn)(void *arg, const struct store_event *ev),
                             void *arg, struct store_page *page);
enum store_status pg_op_counts(struct store *s, uint64_t machine,
                               void (*fn)(void *arg, uint32_t op,
                                          uint64_t count),
                               void *arg);
enum store_status pg_op_counts_page(struct store *s, uint64_t machine,
                                    uint64_t after_seq, uint32_t limit,
                                    void (*fn)(void *arg, uint32_t op,
                                               uint64_t count),
                                    void *arg, uint64_t *last_seq);
enum store_status pg_list_machines(
    struct store *s, const struct store_machine_filter *f,
    int (*fn)(void *arg, const struct store_machine *m), void *arg, bool *more);
enum store_status pg_machine_dup(struct store *s, uint64_t id,
                                 struct store_machine **out);
enum store_status pg_foreach_live_machine(
    struct store *s, int (*fn)(void *arg, const struct store_machine *m),
    void *arg);
enum store_status pg_foreach_event(struct store *s, uint64_t machine,
                                   uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count);
enum store_status pg_checkpoint_get(struct store *s, uint64_t machine,
                                    uint64_t at_most, uint64_t *seq,
                                    void **blob, size_t *len);
enum store_status pg_foreach_event_after(
    struct store *s, uint64_t machine, uint64_t after_seq, uint64_t upto_seq,
    int (*fn)(void *arg, const struct store_event *ev), void *arg,
    uint64_t *count);
enum store_status pg_reader_open(struct store *s, struct store_reader **out);
void pg_reader_close(struct store_reader *r);
struct store_reader *pg_main_reader(struct store *s);
const char *pg_reader_errmsg(const struct store_reader *r);
enum store_status pg_reader_events(struct store_reader *r, uint64_t machine,
                                   uint64_t after_seq, uint64_t upto_seq,
                                   int (*fn)(void *arg,
                                             const struct store_event *ev),
                                   void *arg, uint64_t *count);
enum store_status pg_reader_checkpoint(struct store_reader *r, uint64_t machine,
                                       uint64_t at_most, uint64_t *seq,
                                       void **blob, size_t *len);
enum store_status pg_reader_parent(struct store_reader *r, uint64_t id,
                                   uint64_t *parent, uint64_t *parent_seq);
enum store_status pg_max_machine_id(struct store *s, uint64_t *id);
enum store_status pg_purge(struct store *s, const char *tenant,
                           int64_t older_than_ms, int64_t now_ms,
                           uint64_t *purged, uint64_t *events);
enum store_status pg_purge_r(struct store *s, const char *tenant,
                             int64_t older_than_ms, int64_t now_ms,
                             uint64_t *purged, uint64_t *events, char *err,
                             size_t errsz);
enum store_status pg_verify(const char *path,
                            void (*report)(void *arg, const char *line),
                            void *arg, uint64_t *problems,
                            char err[STORE_MSG_MAX]);

/* The PostgreSQL backend's cluster mode (store_pg_cluster.c). */
enum store_status pg_node_register(struct store *s, const struct store_node *n,
                                   int64_t *epoch, char err[STORE_MSG_MAX]);
enum store_status pg_node_heartbeat(struct store *s, char err[STORE_MSG_MAX]);
enum store_status pg_machine_owner(struct store *s, uint64_t id,
                                   struct store_owner *o,
                                   char err[STORE_MSG_MAX]);
enum store_status pg_machine_claim(struct store *s, uint64_t id, bool *won,
                                   char err[STORE_MSG_MAX]);
enum store_status pg_set_next_id(struct store *s, uint64_t id);
enum store_status pg_reader_machine_owner(struct store_reader *r, uint64_t id,
                                          struct store_owner *o,
                                          char err[STORE_MSG_MAX]);
enum store_status pg_reader_machine_claim(struct store_reader *r, uint64_t id,
                                          bool *won, char err[STORE_MSG_MAX]);

#endif /* ARMMAP_STORE_STORE_BACKEND_H */
