/* daemon/srv.h - the one header of armmapd, the daemon.
 *
 * armmapd is one thread with one libevent base (Redis's model): engine
 * calls are bounded, so nothing blocks the loop except the store's reads
 * (history, recovery), which are local SQLite queries.  The daemon is the
 * only part that knows the engine, the store and the wire protocol at once:
 * a frame comes in (conn.c), is decoded and routed through a table
 * (dispatch.c) to a handler that calls the engine on a machine of the
 * caller's tenant (machines.c); a change is handed to the store (persist.c)
 * and its reply is held in the connection's ordered reply queue until the
 * store reports the commit.
 *
 * Modules and their prefixes:
 *   settings.c  srv_settings_*   flags, config file, --help, --check-config
 *   log.c       srv_log*         levelled stderr (or --log-file) logging
 *   notify.c    srv_notify*      sd_notify datagrams, written directly
 *   listen.c    srv_listen_*     Unix, TCP and systemd-activated listeners
 *   conn.c      srv_conn_*       connections: framing, state machine, replies
 *   dispatch.c  srv_dispatch     request type -> handler table
 *   machines.c  srv_machine_*    per-tenant registry
 *   park.c      srv_park_*       kmaps waiting for a pkmap slot
 *   tenants.c   srv_tenant*      tenants file, per-tenant state, quotas,
 *                                idle machine reaping
 *   sha256.c    srv_sha256       SHA-256 of tokens (tenants file)
 *   persist.c   srv_persist_*    the store: events, commits, recovery
 *   commit.c    srv_commit_*     the commit path: tickets, fence, undo
 *   rkeys.c     srv_rkeys_*      idempotent retries (request keys)
 *   cluster.c   srv_cluster_*    --node: lease, owners, MOVED, claims
 *   dump.c      srv_dump_elf     ELF32 ARM core files
 *   stream.c    srv_stream_*     large replies produced a slice at a time
 *   purge.c     srv_purge_*      purges on worker threads
 *   jobs.c      srv_jobs_*       worker jobs of fork replays and claims
 *   http.c      srv_http_*       --http: the HTTP/JSON API over evhttp
 *   http_json.c srv_http_*       JSON <-> Request/Response for it
 *   http_static.c srv_http_static the teaching page's files (--http-root)
 *   main.c      main()           thin: settings, srv_create, run, destroy
 */
#ifndef ARMMAP_DAEMON_SRV_H
#define ARMMAP_DAEMON_SRV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>

#include "mm.h"

#define SRV_NAME        "armmapd"
#define SRV_VERSION     "0.1"
#define SRV_PROTOCOL    1
#define SRV_TENANT_MAX  64
#define SRV_NAME_MAX    128  /* bytes of a machine name */
#define SRV_MSG_MAX     320  /* status messages we compose */
#define SRV_CALL_INLINE 1024 /* a call's arena on the stack */

struct event_base;
struct event;
struct evbuffer;
struct evconnlistener;
struct bufferevent;
struct srv;
struct conn;
struct srv_http;
struct srv_sse;
struct srv_at;
struct evhttp_request;

/* ------------------------------------------------------------------ */
/* Settings (settings.c)                                               */
/* ------------------------------------------------------------------ */

enum srv_log_level {
    SRV_LOG_ERROR = 0,
    SRV_LOG_WARN,
    SRV_LOG_INFO,
    SRV_LOG_DEBUG
};

enum srv_durability {
    SRV_DURABILITY_NORMAL = 0, /* commit per group, fsync at checkpoints */
    SRV_DURABILITY_FULL        /* fsync every group commit */
};

/*
 * Every setting, by value.  The same names serve as flags ("--max-frame")
 * and as config file keys ("max-frame = 16M").  Strings are owned (freed
 * by srv_settings_free()); NULL means "not given".
 */
struct srv_settings {
    char *config;          /* --config FILE */
    char *state_dir;       /* --state-dir */
    char *database;        /* --database; ":memory:" */
    char *socket_path;     /* --socket */
    char *listen;          /* --listen HOST:PORT */
    char *http;            /* --http HOST:PORT (http.c) */
    char *http_cors;       /* --http-cors ORIGIN,... */
    char *http_root;       /* --http-root DIR; NULL: SRV_WEB_ROOT */
    char *auth_token_file; /* --auth-token-file */
    char *tenants_file;    /* --tenants-file */
    char *admin_tenant;    /* --admin-tenant (no tenants file) */
    char *log_file;        /* --log-file; NULL = stderr */
    int durability;        /* enum srv_durability */
    int log_level;         /* enum srv_log_level */
    uint64_t max_frame;    /* bytes */
    uint64_t max_connections;
    uint64_t max_machines;
    uint64_t max_machines_per_tenant;
    uint64_t max_translate_batch; /* addresses per translate */
    uint64_t max_batch_ops;
    uint64_t max_history_rows;
    uint64_t max_queued_bytes;     /* unsent reply bytes per connection */
    uint64_t max_db_size;          /* bytes; 0 = no quota */
    uint64_t checkpoint_every;     /* events between checkpoints */
    uint64_t idle_timeout;         /* seconds; 0 = never */
    uint64_t max_hello_frame;      /* bytes before Hello succeeds */
    uint64_t hello_timeout;        /* seconds to complete Hello */
    uint64_t max_parked_kmaps;     /* per tenant */
    uint64_t max_host_bytes;       /* per tenant, mm_host_bytes() */
    uint64_t max_inflight_bytes;   /* per tenant, unsent reply bytes */
    uint64_t max_events;           /* per tenant, events stored */
    uint64_t machine_idle_ttl;     /* seconds; 0 = never reap */
    uint64_t http_max_body;        /* bytes of an HTTP request body */
    uint64_t http_heartbeat;       /* seconds between SSE heartbeats */
    uint64_t http_max_subscribers; /* event streams per tenant */
    uint64_t http_rate;            /* requests/s per tenant; 0 = off */
    uint64_t http_burst;           /* its bucket; 0 = the rate */
    uint64_t http_at_cache;        /* machines the /at/ cache keeps */
    uint64_t http_at_cache_bytes;  /* their host bytes, at most */
    char *node;                    /* --node NAME: cluster mode (cluster.c) */
    char *advertise;               /* --advertise HOST:PORT (MOVED) */
    char *advertise_http;          /* --advertise-http HOST:PORT (307) */
    uint64_t lease_ms;             /* --lease-ms: the node's lease */
    bool help;                     /* --help */
    bool check_config;             /* --check-config */
    bool verify;                   /* --verify */
    char *copy_to;                 /* --copy-to DATABASE (copy.c) */
    bool version;                  /* --version */
};

/* Fills @st with every default.  Strings stay NULL until finished. */
void srv_settings_init(struct srv_settings *st);

/**
 * srv_settings_parse - apply a config file (if --config names one) and then
 * the command line, so that flags win over the file
 * @st: initialised with srv_settings_init()
 * @argc, @argv: main()'s arguments
 * @err: receives "armmapd: --max-frame: 'abc' is not a size" and the like
 * Context: allocates strings in @st; reads the config file.
 * Return: 0, or -1 with @err set.
 */
int srv_settings_parse(struct srv_settings *st, int argc, char **argv,
                       char *err, size_t errsz);

/**
 * srv_settings_finish - derive what depends on other settings and check
 * the combination (a non-loopback --listen needs --auth-token-file)
 * Return: 0, or -1 with @err set.
 */
int srv_settings_finish(struct srv_settings *st, char *err, size_t errsz);

/* Prints every setting with its default and a one-line description. */
void srv_settings_usage(FILE *f);

/* Frees the strings.  srv_settings_free(NULL) does nothing. */
void srv_settings_free(struct srv_settings *st);

/* Parses "16M", "4096", "1KiB"... into bytes; false if not a size. */
bool srv_parse_size(const char *text, uint64_t *out);

/* ------------------------------------------------------------------ */
/* Boots (boots.c)                                                     */
/* ------------------------------------------------------------------ */

#define SRV_BOOTS_MAX   32                 /* booted templates kept */
#define SRV_BOOTS_BYTES ((size_t)32 << 20) /* their host bytes, at most */

/* As mm_create(), through the process's template cache: a clone of the
 * machine booted from the same config.  Any thread. */
enum mm_status srv_boot(const struct mm_config *cfg, struct mm_machine **out,
                        char err[MM_MSG_MAX]);
/* As mm_config_text(@cfg) (malloc'd, the caller frees it; NULL if host
 * memory runs out), from a small process-wide memo of recent configs.
 * Any thread. */
char *srv_config_text(const struct mm_config *cfg);

/* ------------------------------------------------------------------ */
/* Logging (log.c) and sd_notify (notify.c)                            */
/* ------------------------------------------------------------------ */

/* Sets the level and the file (NULL: stderr).  Return: 0 or -1 (errno). */
int srv_log_open(int level, const char *path);
/* Reopens the log file (SIGHUP), keeping stderr if none was given. */
int srv_log_reopen(void);
void srv_log_close(void);
bool srv_log_enabled(int level);
void srv_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends one sd_notify datagram ("READY=1", "STATUS=...") to $NOTIFY_SOCKET;
 * does nothing without it.  Return: 0, or -1 if the send failed. */
int srv_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------------ */
/* Machines (machines.c)                                               */
/* ------------------------------------------------------------------ */

struct srv_park;

/* One hosted machine, owned by the registry. */
struct srv_machine {
    uint64_t id;     /* the store's; daemon-wide */
    uint64_t ext_id; /* what clients see (srv_id_out) */
    char tenant[SRV_TENANT_MAX + 1];
    char *name;   /* owned; "" if none */
    char *config; /* owned; mm_config_format() text */
    int64_t created_ms;
    struct mm_machine *m;    /* NULL while broken at recovery */
    char *broken;            /* owned; recovery mismatch, or NULL */
    uint64_t parent;         /* clone/fork source, 0 if none */
    uint64_t parent_seq;     /* its state was parent's at this seq */
    uint64_t events;         /* events in the store */
    uint64_t events_counted; /* of them, in its tenant's sum */
    /* The commit path (commit.c). */
    uint32_t inflight;             /* writes submitted, not reaped */
    uint64_t committed_seq;        /* its last event known committed */
    bool fenced;                   /* a write failed: no changes until
                                           rebuilt from the store */
    bool rebuild_queued;           /* on the commit path's queue */
    bool gone;                     /* destroyed, or its creation failed:
                                           freed once inflight is 0 */
    bool lost;                     /* cluster: no longer this node's;
                                           dropped once inflight is 0 */
    struct srv_machine *rnext;     /* the rebuild queue */
    int64_t touched_ms;            /* monotonic; last request naming it */
    uint64_t host_bytes;           /* mm_host_bytes() when last counted */
    size_t tenant_ix;              /* registry's tenant entry + 1 */
    TAILQ_HEAD(, srv_park) parked; /* kmaps waiting for a pkmap slot */
    struct srv_stream *streams;    /* streamed replies reading it live
                                           (stream.c) */
    struct srv_machine *hnext;     /* hash chain */
};

/* A kmap waiting for a slot (Op.wait_ms), on its machine and connection;
 * it holds its machine (whose parks are answered before it is freed) and
 * counts against its tenant's --max-parked-kmaps. */
struct srv_park {
    struct srv *s;
    struct conn *c;
    uint64_t req_id;
    struct srv_machine *sm;
    struct srv_tenant *t;
    uint32_t cpu;
    uint32_t pfn;
    struct event *timer;
    char msg[MM_MSG_MAX];        /* the last WOULD_BLOCK message */
    TAILQ_ENTRY(srv_park) mlink; /* srv_machine.parked */
    TAILQ_ENTRY(srv_park) clink; /* conn's parked list */
};

struct srv_registry;

struct srv_registry *srv_registry_create(void);

/**
 * srv_registry_set_id_key - make machine ids opaque (--tenants-file): a
 * client sees a keyed 48-bit permutation of the store's id, so ids say
 * nothing about other tenants' machines; without a key ids are the
 * store's own, 1, 2, 3...
 * @key: 32 bytes, kept in the state directory so ids survive restarts
 */
void srv_registry_set_id_key(struct srv_registry *r, const uint8_t key[32]);
/* The id clients see for store id @id, and back (0 if @ext is no id). */
uint64_t srv_id_out(const struct srv_registry *r, uint64_t id);
uint64_t srv_id_in(const struct srv_registry *r, uint64_t ext);
/* Destroys every machine.  srv_registry_destroy(NULL) does nothing. */
void srv_registry_destroy(struct srv_registry *r);

/**
 * srv_machine_lookup - the machine @id of @tenant
 * @id: as clients see it (srv_id_out())
 * Return: the machine (borrowed), or NULL with @err set to "machine 7 does
 * not exist": another tenant's machine answers exactly as a missing one.
 */
struct srv_machine *srv_machine_lookup(struct srv_registry *r,
                                       const char *tenant, uint64_t id,
                                       char *err, size_t errsz);
/* The machine @id whatever its tenant (store callbacks), or NULL. */
struct srv_machine *srv_machine_get(struct srv_registry *r, uint64_t id);

/* Creates the registry entry (takes @m); NULL on host memory shortage. */
struct srv_machine *srv_machine_add(struct srv_registry *r, uint64_t id,
                                    const char *tenant, const char *name,
                                    const char *config, int64_t created_ms,
                                    struct mm_machine *m);
/* Marks @sm broken with @why: every request but describe, list and destroy
 * answers INTERNAL with it. */
void srv_machine_set_broken(struct srv_machine *sm, const char *why);

/* Unlinks the entry and returns it (the caller destroys it). */
struct srv_machine *srv_machine_unlink(struct srv_registry *r, uint64_t id);
/* Links back an entry srv_machine_unlink() returned. */
void srv_machine_relink(struct srv_registry *r, struct srv_machine *sm);
/* Frees an unlinked entry; parked kmaps must have been answered. */
void srv_machine_free(struct srv_machine *sm);

/* Recounts mm_host_bytes() of @sm after a change, into its tenant's sum
 * (--max-host-bytes-per-tenant) if it is linked. */
void srv_machine_account(struct srv_registry *r, struct srv_machine *sm);
/* Host bytes held for @tenant outside its machines (the copy a streamed
 * reply answers from) count with theirs: @add more, then @sub fewer. */
void srv_registry_hold_bytes(struct srv_registry *r, const char *tenant,
                             uint64_t add, uint64_t sub);
/* Host bytes the linked machines of @tenant hold, as last counted, with
 * the copies srv_registry_hold_bytes() added. */
uint64_t srv_registry_tenant_host_bytes(const struct srv_registry *r,
                                        const char *tenant);
/* The same for the tenant of the linked machine @sm, without a search
 * (the per-op check). */
uint64_t srv_machine_tenant_host_bytes(struct srv_registry *r,
                                       const struct srv_machine *sm);

/* Events the store holds for the tenant of @sm (its live machines and
 * its destroyed ones not purged), a running count: @sm's own changes
 * are brought into it first (--max-events-per-tenant). */
uint64_t srv_machine_tenant_events(struct srv_registry *r,
                                   struct srv_machine *sm);
/* Adds @n events of a destroyed machine of @tenant (a recount). */
void srv_registry_add_events(struct srv_registry *r, const char *tenant,
                             uint64_t n);
/* @tenant's purge removed @n of its events. */
void srv_registry_sub_events(struct srv_registry *r, const char *tenant,
                             uint64_t n);
/* Restarts every tenant's count from its live machines' events alone
 * (srv_registry_add_events() then adds the destroyed ones). */
void srv_registry_reset_events(struct srv_registry *r);

size_t srv_registry_count(const struct srv_registry *r);
size_t srv_registry_tenant_count(const struct srv_registry *r,
                                 const char *tenant);
/* Calls @fn on each machine of @tenant (all if NULL), ascending by id. */
void srv_registry_foreach(struct srv_registry *r, const char *tenant,
                          void (*fn)(void *arg, struct srv_machine *sm),
                          void *arg);

/* ------------------------------------------------------------------ */
/* Parked kmaps (park.c)                                               */
/* ------------------------------------------------------------------ */

/* Parks a kmap until a wake or @wait_ms; it counts against @t.
 * Return: 0, or -1 (host memory). */
int srv_park_kmap(struct srv *s, struct conn *c, struct srv_tenant *t,
                  struct srv_machine *sm, uint64_t req_id, uint32_t cpu,
                  uint32_t pfn, uint32_t wait_ms, const char *msg);
/* Retries the parked kmaps of @sm in arrival order after a wake. */
void srv_park_wake(struct srv *s, struct srv_machine *sm);
/* Answers every parked kmap of @sm with @code and @msg (machine gone). */
void srv_park_fail_machine(struct srv *s, struct srv_machine *sm, int code,
                           const char *msg);
/* Cancels and frees @p without an answer (its connection closed). */
void srv_park_cancel(struct srv_park *p);
/* The number of kmaps parked on @sm; the pfn and cpu of the first @max of
 * them, oldest first, go to @pfn and @cpu (either may be NULL if @max is 0).
 * Context: reads only. */
size_t srv_park_list(const struct srv_machine *sm, uint32_t *pfn, uint32_t *cpu,
                     size_t max);

/* ------------------------------------------------------------------ */
/* Tenants (tenants.c, sha256.c)                                       */
/* ------------------------------------------------------------------ */

/* True if @name is 1-64 bytes of [A-Za-z0-9._-] (Hello, tenants file). */
bool srv_valid_tenant(const char *name);

/* SHA-256 of @len bytes at @data (FIPS 180-4) into @out. */
void srv_sha256(const void *data, size_t len, uint8_t out[32]);

/* One line of the tenants file: a tenant, its token's digest, its quotas
 * (0: the setting's default applies). */
struct srv_tenant_conf {
    char name[SRV_TENANT_MAX + 1];
    uint8_t digest[32]; /* SHA-256 of the token */
    bool admin;         /* daemon-wide stats and purge */
    uint64_t max_machines;
    uint64_t max_parked_kmaps;
    uint64_t max_host_bytes;
    uint64_t max_inflight_bytes;
    uint64_t max_events;
    uint64_t machine_idle_ttl;
    bool has_idle_ttl; /* machine_idle_ttl given (0 = never) */
    unsigned line;
};

struct srv_tenants; /* a loaded tenants file */

/**
 * srv_tenants_load - read and check a tenants file
 * @out: receives the table (free with srv_tenants_free())
 * @err: "armmapd: FILE:LINE: what is wrong"
 * Return: 0, or -1 with @err set.
 */
int srv_tenants_load(const char *path, struct srv_tenants **out, char *err,
                     size_t errsz);
void srv_tenants_free(struct srv_tenants *t);
size_t srv_tenants_count(const struct srv_tenants *t);

/* The entry whose digest is SHA-256(@token), or NULL.  Every entry is
 * compared, each in constant time, so the time taken says nothing about
 * which entry (or how much of one) matched. */
const struct srv_tenant_conf *srv_tenants_match(const struct srv_tenants *t,
                                                const uint8_t *token,
                                                size_t len);

/* A tenant as the daemon serves it: its counters and effective quotas.
 * Created at the first Hello, freed once it has neither connections nor
 * machines. */
struct srv_tenant {
    char name[SRV_TENANT_MAX + 1];
    uint8_t digest[32]; /* its token's, with --tenants-file */
    bool revoked;       /* its line changed or went away */
    bool admin;
    uint64_t max_machines;
    bool own_max_machines; /* max_machines from the file */
    uint64_t max_parked_kmaps;
    uint64_t max_host_bytes;
    bool own_max_host_bytes;
    uint64_t machine_idle_ttl; /* seconds; 0 = never */
    uint64_t max_inflight_bytes;
    bool own_max_inflight_bytes;
    uint64_t max_events; /* events stored */
    bool own_max_events;
    uint64_t inflight_bytes;  /* unsent replies, all connections */
    uint64_t sse_subscribers; /* event streams open (sse.c) */
    uint64_t connections, requests, changes, parked_kmaps;
    uint64_t errors_by_code[MM_STATUS_COUNT];
    struct srv_tenant *next;
};

/* Reads --tenants-file (if given) into @s; at start.  Return 0 or -1. */
int srv_tenants_open(struct srv *s, char *err, size_t errsz);
/* SIGHUP: reloads it; a file with an error keeps the old table. */
void srv_tenants_reload(struct srv *s);
/* The state of tenant @name (created), with quotas from the file or the
 * settings; NULL on host memory shortage. */
struct srv_tenant *srv_tenant_get(struct srv *s, const char *name,
                                  const struct srv_tenant_conf *conf);
/* Frees @t if nothing refers to it any more. */
void srv_tenant_release(struct srv *s, struct srv_tenant *t);
/* Frees every tenant state (shutdown). */
void srv_tenants_close(struct srv *s);
/* Counts every tenant's stored events afresh: live machines from the
 * registry, destroyed ones from the store (at start, after an admin
 * purge).  Return: MM_OK or MM_UNAVAILABLE. */
enum mm_status srv_tenants_count_events(struct srv *s);
/* Starts the --machine-idle-ttl reaper.  Return 0 or -1. */
int srv_reaper_start(struct srv *s);
/* Monotonic milliseconds (coarse), for touched_ms. */
int64_t srv_mono_ms(void);

/* ------------------------------------------------------------------ */
/* The store (persist.c)                                               */
/* ------------------------------------------------------------------ */

struct srv_persist;

/**
 * srv_persist_open - open (or create) the --database store and start its
 * writer; commit notifications arrive through an event on @s->base
 * Return: 0, or -1 with @err naming the path and the store's reason.
 */
int srv_persist_open(struct srv *s, char *err, size_t errsz);
/* Waits for every submitted change, reports them, closes the store.
 * srv_persist_close() on a server without a store does nothing. */
void srv_persist_close(struct srv *s);

/**
 * srv_persist_verify - armmapd --verify: check @st's database offline,
 * print each problem and a summary line to stdout
 * Return: the exit code: 0 if no problem, 1 if any or the check failed.
 */
int srv_persist_verify(const struct srv_settings *st);

/**
 * srv_copy_store - armmapd --copy-to: store_copy() of @st's database into
 * st->copy_to, offline; prints the counts
 * Return: the exit code, 0 if copied, 1 if not (the reason on stderr).
 */
int srv_copy_store(const struct srv_settings *st);

/**
 * srv_persist_recover - rebuild every live machine from its events
 * Context: fills the registry; a machine whose replay mismatches is added
 * broken.  Logs the counts and the time taken.
 * Return: 0, or -1 with @err if the store could not be read.
 */
int srv_persist_recover(struct srv *s, char *err, size_t errsz);

/* True if the store's queue has room for one more request's writes. */
bool srv_persist_has_room(const struct srv *s);

/* True if the kernel has transparent huge pages and their mode is not
 * "never": recovery then builds machines on a huge-page heap. */
bool srv_thp_allowed(void);

/* Submissions: each returns the ticket whose commit the reply waits for,
 * or 0 with @err set if the store refused at once (UNAVAILABLE).
 * srv_persist_create also assigns @sm->id. */
uint64_t srv_persist_create(struct srv *s, struct srv_machine *sm, char *err,
                            size_t errsz);
uint64_t srv_persist_destroy(struct srv *s, struct srv_machine *sm, char *err,
                             size_t errsz);
uint64_t srv_persist_event(struct srv *s, struct srv_machine *sm,
                           const struct mm_op *op, const struct mm_result *res,
                           char *err, size_t errsz);

/**
 * srv_persist_replay - rebuild the state of machine @id at seq @upto (0:
 * everything committed) onto *@m, a machine fresh from its config: from
 * the machine's nearest checkpoint at or below @upto if it has one (then
 * *@m is replaced by the restored machine), else the ancestors' events
 * first (clones and forks), then its own, comparing each result with the
 * recorded one
 * Return: MM_OK; MM_INTERNAL with @err naming the mismatch; MM_UNAVAILABLE
 * with @err if the store failed; MM_NOT_FOUND if history is missing.
 */
enum mm_status srv_persist_replay(struct srv *s, uint64_t id, uint64_t upto,
                                  struct mm_machine **m, char *err,
                                  size_t errsz);
/**
 * srv_persist_fork_replay - machine @id's state at seq @upto for a Fork,
 * built from @config (the source's) on a worker thread
 * @m: receives the machine (MM_OK only)
 * Context: loop thread, from the Fork's handler.  The first call for
 * (@id, @upto) starts the replay and answers MM_WOULD_BLOCK: the caller
 * defers its frame (srv_conn_defer()); when the replay is done the
 * deferred connections are processed again (srv_conn_store_room()) and
 * the call answers the outcome.  With no worker free it replays at once.
 * @upto 0 (no Fork asks for it): the whole committed history, for the
 * rebuild of a fenced machine (commit.c), which srv_commit_replays_done()
 * calls back instead.
 * Return: MM_OK, MM_WOULD_BLOCK, or srv_persist_replay()'s failures
 * (MM_INTERNAL also for a config that does not parse) with @err.
 */
enum mm_status srv_persist_fork_replay(struct srv *s, uint64_t id,
                                       const char *config, uint64_t upto,
                                       struct mm_machine **m, char *err,
                                       size_t errsz);

/* Blocks until everything submitted is committed: for tests and the
 * fuzz harness, never on the loop (handlers do not wait for the store). */
void srv_persist_flush(struct srv *s);
/* srv_reset(): flushes and reaps every write, then empties the store
 * (store_reset()) unless nothing was submitted to it (no change, request
 * key, checkpoint or purge) since it was last emptied.
 * Return: MM_OK, or MM_UNAVAILABLE with @err. */
enum mm_status srv_persist_reset(struct srv *s, char *err, size_t errsz);
/* How many times srv_persist_reset() emptied the store (tests). */
uint64_t srv_persist_store_resets(const struct srv *s);

/* ------------------------------------------------------------------ */
/* The commit path (commit.c)                                          */
/* ------------------------------------------------------------------ */

/* What a write does, for its undo if it fails. */
enum srv_write {
    SRV_WRITE_EVENTS = 1, /* events of a machine */
    SRV_WRITE_CREATE,     /* a machine's row (create, fork) */
    SRV_WRITE_DESTROY,    /* marking it destroyed */
    SRV_WRITE_CHECKPOINT  /* its engine state at a seq */
};

struct srv_commit;

/* Return: 0, or -1 (host memory). */
int srv_commit_open(struct srv *s);
/* After the store's last reap: frees what is left. */
void srv_commit_close(struct srv *s);
/* The ticket the next write will have (its store cookie). */
uint64_t srv_commit_next_ticket(const struct srv *s);
/**
 * srv_commit_track - the store took the write of ticket
 * srv_commit_next_ticket() for @sm: count it in flight until its reap
 * @seq: for SRV_WRITE_EVENTS, the seq of its last event
 * @nwrites: the store writes it holds (its events; 1 for a machine row)
 * Return: the ticket.
 */
uint64_t srv_commit_track(struct srv *s, struct srv_machine *sm,
                          enum srv_write kind, uint64_t seq, size_t nwrites);
/**
 * srv_commit_reaped - the store reports the write of @ticket (persist.c
 * calls it in ticket order)
 * Context: releases the replies waiting for it (srv_commit_done()); if it
 * failed, undoes it: a creation unlinks the machine, a destroy links it
 * back, events fence their machine, which is rebuilt from the store once
 * none of its writes is in flight, from a deferred callback.
 * Return: the store writes the ticket held (see srv_commit_track()).
 */
size_t srv_commit_reaped(struct srv *s, uint64_t ticket, bool ok,
                         const char *msg);
/* The store refused @sm's change at submit, after the engine applied it:
 * fence @sm and rebuild it once its writes are reaped. */
void srv_commit_refused(struct srv *s, struct srv_machine *sm);
/* persist.c, on the loop, when worker replays finished: the rebuilds
 * waiting for theirs take them (from a deferred callback). */
void srv_commit_replays_done(struct srv *s);
/* True while the write of @ticket is not reaped yet. */
bool srv_commit_pending(const struct srv *s, uint64_t ticket);
/* The write of @ticket (in flight) carries request key @key of scope
 * @scope: a failure of it forgets the key (srv_rkeys_failed()). */
void srv_commit_set_rkey(struct srv *s, uint64_t ticket, uint64_t scope,
                         uint64_t key);

/* ---- rkeys.c: idempotent retries (Request.request_key) ---------------- */

struct srv_call;
struct Armmap__V1__Request;
struct Armmap__V1__Response;
struct store_rkey;
/* At start (and after a reset): the empty table.  Return 0 or -1. */
int srv_rkeys_open(struct srv *s);
void srv_rkeys_close(struct srv *s);
/**
 * srv_rkeys_retry - answers a keyed change's retry as the first time
 * @call: the call (its connection, id)
 * @req: a request with request_key != 0
 * Return: true if answered (the handler must not run); false otherwise,
 * with call->rkey/rscope set for a change to remember.
 */
bool srv_rkeys_retry(struct srv_call *call,
                     const struct Armmap__V1__Request *req);
/**
 * srv_rkeys_held - in cluster mode, makes sure this node holds the machine
 * a keyed change names before its key is looked up: a claim that
 * rebuilds it at once would otherwise let the change run without the key
 * its last owner stored (applied twice)
 * Return: true if the key can be looked up; false with the call failed
 * (MOVED, NOT_FOUND, UNAVAILABLE) or parked until the rebuild is done.
 */
bool srv_rkeys_held(struct srv_call *call,
                    const struct Armmap__V1__Request *req);
/* From srv_conn_reply(): remembers the reply of call->rkey's change,
 * whose write is call->ticket (under srv_persist_hold()). */
void srv_rkeys_remember(struct srv_call *call,
                        struct Armmap__V1__Response *resp);
/* A write of @ticket carrying @key failed: the key is forgotten. */
void srv_rkeys_failed(struct srv *s, uint64_t scope, const char *tenant,
                      uint64_t key, uint64_t ticket);
/* Forgets a scope's memory (destroyed, rebuilt: reloaded when needed). */
void srv_rkeys_drop(struct srv *s, uint64_t machine, const char *tenant);
/* A retry's frame: length, Response.id @id, then @body; malloc'ed. */
uint8_t *srv_rkeys_frame(uint64_t id, const uint8_t *body, size_t len,
                         size_t *flen);

/* Write transactions the store has committed: with group commit, fewer
 * than the changes they hold.  0 once the store is closed. */
uint64_t srv_persist_commits(struct srv *s);

struct store_history_query;
struct store_event;
struct store_page;

/* Request keys (rkeys.c): hold the store's next batch open (@on) or let
 * it go, so a change and its key commit together; queue key @k for the
 * write of @ticket; read a scope's keys (store_rkeys()).  Return MM_OK or
 * MM_UNAVAILABLE (logged). */
struct store_rkey;
void srv_persist_hold(struct srv *s, bool on);
enum mm_status srv_persist_rkey(struct srv *s, const struct store_rkey *k,
                                uint64_t ticket);
enum mm_status srv_persist_rkeys(
    struct srv *s, uint64_t machine, const char *tenant, uint64_t key,
    int (*fn)(void *arg, const struct store_rkey *k), void *arg);

/* Submits the @n events of one Batch as one unit (all kept or none); the
 * ticket, or 0 with @err set.  As srv_persist_event(). */
uint64_t srv_persist_events(struct srv *s, struct srv_machine *sm,
                            const struct store_event *ev, size_t n, char *err,
                            size_t errsz);

/* One page of history; see store_history().  Return MM_OK/MM_UNAVAILABLE. */
enum mm_status srv_persist_history(
    struct srv *s, const struct store_history_query *q,
    int (*fn)(void *arg, const struct store_event *e), void *arg,
    struct store_page *page, void (*count)(void *arg, uint32_t op, uint64_t n),
    char *err, size_t errsz);
/* The tenant of machine @id, destroyed or not, into @tenant; MM_OK,
 * MM_NOT_FOUND (no such id, or purged), MM_UNAVAILABLE. */
enum mm_status srv_persist_machine_tenant(struct srv *s, uint64_t id,
                                          char tenant[SRV_TENANT_MAX + 1]);
/* Calls @fn with the tenant and event count of every destroyed machine
 * the store still holds.  Return: MM_OK or MM_UNAVAILABLE. */
enum mm_status srv_persist_foreach_destroyed(
    struct srv *s, void (*fn)(void *arg, const char *tenant, uint64_t events),
    void *arg);
/* @tenant NULL: every tenant's destroyed machines.  Any thread (purge.c):
 * the store's store_errmsg(), the loop's, is not touched. */
enum mm_status srv_persist_purge(struct srv *s, const char *tenant,
                                 uint64_t older_than_ms, uint64_t *machines,
                                 uint64_t *events, char *err, size_t errsz);

/* ------------------------------------------------------------------ */
/* The server (conn.c, listen.c, dispatch.c)                           */
/* ------------------------------------------------------------------ */

struct srv_counters {
    uint64_t connections; /* open now */
    uint64_t refusing;    /* refused, closing now (not in connections) */
    uint64_t requests;
    uint64_t changes;
    uint64_t committed;    /* changes answered after their commit */
    uint64_t parked_kmaps; /* parked now */
    uint64_t errors_by_code[MM_STATUS_COUNT];
    uint64_t recovered_machines, recovered_events;
};

struct srv_reply;
TAILQ_HEAD(srv_reply_list, srv_reply);
TAILQ_HEAD(srv_conn_list, conn);

struct srv {
    struct event_base *base;
    struct srv_settings *st; /* borrowed from main() */
    struct evconnlistener *lis[4];
    unsigned nlis;
    char *unix_path; /* the socket we created, to unlink */
    uint8_t *token;  /* --auth-token-file contents */
    size_t token_len;
    struct srv_tenants *tenants_file; /* --tenants-file, or NULL */
    struct srv_tenant *tenants;       /* served tenants, a list */
    struct event *reaper;             /* --machine-idle-ttl timer */
    struct srv_registry *reg;
    struct srv_rkeys *rkeys; /* request keys (rkeys.c) */
    struct srv_persist *persist;
    struct srv_commit *commit;
    struct srv_purges *purges;            /* purge.c, once one ran */
    struct srv_history_job *history_jobs; /* paged history queries */
    struct srv_conn_list conns;
    struct srv_reply_list waiting; /* replies waiting for a commit, by ticket */
    struct srv_conn_list to_send;  /* conns to write to after a commit report */
    struct event *sig_term, *sig_int, *sig_hup, *sig_pipe;
    unsigned store_waiters; /* conns paused for store queue room */
    int64_t start_ms;
    bool stopping;
    struct srv_counters n;
    struct srv_http *http;       /* --http (http.c), or NULL */
    struct srv_sse *sse;         /* event streams (sse.c), or NULL
                                           while none was ever opened */
    struct srv_at *at;           /* the /at/ cache (at_cache.c) */
    struct srv_cluster *cluster; /* --node (cluster.c), or NULL */
};

/**
 * srv_create - everything before the loop: read the token, open the store,
 * recover the machines, bind the listeners, install the signal events
 * Return: the server, or NULL with @err naming what failed.
 */
struct srv *srv_create(struct srv_settings *st, char *err, size_t errsz);
/* Runs the loop until SIGTERM/SIGINT and the drain; returns the exit code. */
int srv_run(struct srv *s);
/* Frees everything.  srv_destroy(NULL) does nothing. */
void srv_destroy(struct srv *s);
/**
 * srv_reset - take a server back to the state srv_create() left it in
 * @s: a server whose store is ":memory:" (--database :memory:)
 * Context: for tests and fuzzing, from outside the loop.  Waits for every
 * write in flight, then drops every connection (no replies are sent) and
 * every machine, empties the store (machine ids start from 1 again),
 * forgets the served tenants (their usage and counters) and zeroes the
 * server's counters.  Keeps the settings, the token, the tenants file,
 * the listeners, the event base and the store's threads, so the next
 * connection meets the same server as after srv_create(): the same
 * requests get the same replies, byte for byte, except where a reply
 * states the time (stats uptime, created times).
 * Return: 0, or -1 with @err naming what failed (a database file).
 */
int srv_reset(struct srv *s, char *err, size_t errsz);

/* Milliseconds since the epoch (wall clock, for records). */
int64_t srv_now_ms(void);

/* listen.c: binds the Unix socket and --listen, or adopts systemd's fds. */
int srv_listen_start(struct srv *s, char *err, size_t errsz);
/* Stops accepting (shutdown) and frees the listeners. */
void srv_listen_stop(struct srv *s);

/* conn.c: takes ownership of @fd, closed on failure too. */
void srv_conn_accept(struct srv *s, int fd);
/* The same for one end of a socketpair whose other end this process
 * reads (http.c): closed at once, never with a lingering close, so a
 * stopping daemon leaves its loop as soon as the drain is done and
 * http.c answers what is left itself. */
void srv_conn_accept_local(struct srv *s, int fd);
/* Destroys every connection (shutdown, after the drain). */
void srv_conn_close_all(struct srv *s);
/* The tenant a connection said hello as. */
const char *srv_conn_tenant(const struct conn *c);
/* Its state (NULL before Hello). */
struct srv_tenant *srv_conn_tenant_state(const struct conn *c);
/* Detaches a park from its connection's list (the park is being freed). */
void srv_conn_unpark(struct conn *c, struct srv_park *p);
void srv_conn_add_park(struct conn *c, struct srv_park *p);

bool srv_conn_in_hello(const struct conn *c);
/* Hello accepted: the connection serves @t from now on. */
void srv_conn_hello_done(struct conn *c, struct srv_tenant *t);
/* After a tenants file reload: closes, with UNAUTHENTICATED, every
 * connection whose tenant was revoked. */
void srv_conn_revoke(struct srv *s);
/* SIGTERM: answer what is buffered and pending on every connection. */
void srv_conn_drain_all(struct srv *s);
/* Frees replies still waiting at the very end (store closed). */
void srv_conn_free_waiting(struct srv *s);
/* The store has room again, or commits were reported: resume connections
 * paused for room or deferred. */
void srv_conn_store_room(struct srv *s);
/* True if replies of @c wait for commits (changes not yet answered). */
bool srv_conn_has_waiting(const struct conn *c);
/* From a handler, while srv_conn_has_waiting(@c) or a fork replay runs
 * for it (srv_persist_fork_replay()): answer this request later; its frame
 * is dispatched again once a commit report came or the replay is done,
 * and nothing is answered now (the handler must not reply). */
void srv_conn_defer(struct conn *c);

/* Called by persist.c, in ticket order, when the store reports commits up
 * to @ticket; @ok false means those failed with @msg (UNAVAILABLE). */
void srv_commit_done(struct srv *s, uint64_t ticket, bool ok, const char *msg);
/* Queues the retry of a keyed change: the first reply's @body (without
 * its id) under @call's id; after the commit of ticket @wait (0: none). */
void srv_conn_reply_again(struct srv_call *call, const uint8_t *body,
                          size_t len, uint64_t wait);
/* After a reap: writes the replies srv_commit_done() released, once per
 * connection. */
void srv_conn_send_pending(struct srv *s);

/* ------------------------------------------------------------------ */
/* Calls: one request being answered (dispatch.c)                      */
/* ------------------------------------------------------------------ */

struct srv_arena_block;

struct srv_call {
    struct srv *s;
    struct conn *c;
    uint64_t id;
    int code; /* enum mm_status of the answer */
    char msg[SRV_MSG_MAX];
    void *resp;                    /* Armmap__V1__Response * */
    uint64_t first_ticket, ticket; /* commits to wait for; 0 = none */
    bool parked;                   /* answered later (kmap wait) */
    uint64_t wake;                 /* machine whose waiters to retry */
    bool close_after;              /* close the connection after it */
    const char *owner;             /* MOVED: Status.owner (arena) */
    struct srv_stream *stream;     /* the answer is streamed (stream.c) */
    uint64_t rkey;                 /* a keyed change: its key (rkeys.c) */
    uint64_t rscope;               /* ... its scope (0: the tenant's) */
    uint64_t rtarget;              /* ... the machine made or destroyed */
    struct srv_arena_block *arena; /* freed after packing */
    /* The call's first SRV_CALL_INLINE bytes of srv_call_alloc() come from
     * here, so small answers (ping, one op, one translation) allocate
     * nothing on the heap.  Not zeroed by call_init: srv_call_alloc()
     * zeroes what it hands out. */
    size_t inline_used;
    max_align_t inline_buf[SRV_CALL_INLINE / sizeof(max_align_t)];
};

/* Allocates zeroed memory that lives until the reply is packed; never NULL
 * (host memory exhaustion aborts, as zmalloc does). */
void *srv_call_alloc(struct srv_call *call, size_t size);
char *srv_call_strdup(struct srv_call *call, const char *s);
/* Sets the answer's code and message (printf-style). */
void srv_call_fail(struct srv_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct ProtobufCAllocator;
struct Armmap__V1__Request;
struct Armmap__V1__Response;

/**
 * srv_response_pack - frame @resp: the 4-byte big-endian length, then the
 * bytes protobuf-c would write for it (proto/envelope.c codes them)
 * @len: receives the frame's length
 * Return: the frame, malloc'ed; aborts when out of memory.
 */
uint8_t *srv_response_pack(const struct Armmap__V1__Response *resp,
                           size_t *len);

/**
 * srv_dispatch - decode @len bytes of a Request and answer it
 * Context: may queue a reply on @c, submit changes, park a kmap, or ask
 * for the connection to close (bad frames).
 */
void srv_dispatch(struct srv *s, struct conn *c, const uint8_t *buf,
                  size_t len);

/**
 * srv_conn_reply - queue the answer of @call on its connection, in order
 * (after the commit of @call->ticket, if any); with @call->parked nothing is
 * queued.  Frees the call's arena.
 */
void srv_conn_reply(struct srv_call *call);

/**
 * srv_conn_hold - an answer to request @id that comes later (a purge on a
 * worker): its place in @c's replies is kept, and @c reads no frame
 * until it is given
 * Return: the reply, for srv_conn_release().
 */
struct srv_reply *srv_conn_hold(struct conn *c, uint64_t id);
/* Gives the held reply @r its answer and sends it in its place; frees
 * @r if its connection closed meanwhile. */
void srv_conn_release(struct srv_reply *r,
                      const struct Armmap__V1__Response *resp);
/* Answers held reply @r with stream @st (taken), sent as the socket
 * drains; frees both if @r's connection closed meanwhile. */
void srv_conn_release_stream(struct srv_reply *r, struct srv_stream *st);

/* Sends a Response with only a status on @c, in order; for parked kmaps,
 * limits and decode errors.  @close closes the connection after it. */
void srv_conn_reply_status(struct conn *c, uint64_t id, int code,
                           const char *msg, bool close);

/* Applies a kmap retry for a parked request; used by machines.c.  Returns
 * true if it completed (reply queued), false if it must keep waiting. */
bool srv_dispatch_kmap_retry(struct srv *s, struct srv_park *p);

struct Armmap__V1__Walk;
struct Armmap__V1__WalkStep;

/* Fills @wm, and @steps and @ptrs (room for 2 each), with what a Walk
 * message says of @w; @text is mm_walk_format()'s, borrowed. */
void srv_walk_fill(struct Armmap__V1__Walk *wm,
                   struct Armmap__V1__WalkStep *steps,
                   struct Armmap__V1__WalkStep **ptrs, const struct mm_walk *w,
                   char *text);

/* ------------------------------------------------------------------ */
/* Streamed replies (stream.c)                                         */
/* ------------------------------------------------------------------ */

/*
 * A reply too large to hold whole (a translate with 1M walks is 160 MB)
 * is produced as the socket drains: conn.c asks it for a slice whenever
 * the connection's output falls below a low-water mark, from a zero
 * timer, so other connections are served between slices.  Its exact size
 * is counted first (also in slices), since the frame's length comes
 * first; until then an estimate stands in for it against
 * --max-queued-bytes.  The stream answers from the machine as it was when
 * the request arrived (read live until a change comes, which first gives
 * the stream a copy), so changes made meanwhile by other connections
 * neither block nor show.
 */
struct srv_stream;

#define SRV_STREAM_MIN      (1u << 20) /* replies above this are streamed */
#define SRV_STREAM_PHYS_MIN 16384u     /* phys of more addresses too */

/* A streamed Translate reply (walks included) to request @id for @n
 * addresses at @va (copied) on @sm as it is now.  NULL on host memory. */
struct srv_stream *srv_stream_translate(struct srv_machine *sm, uint64_t id,
                                        const uint32_t *va, size_t n,
                                        unsigned access);
/* A streamed Phys reply to request @id for the @n addresses at @pa. */
struct srv_stream *srv_stream_phys(struct srv_machine *sm, uint64_t id,
                                   const uint32_t *pa, size_t n);
/* A streamed Dump reply (the ELF file of srv_dump_elf(), byte for byte)
 * to request @id, of @sm as it is now.  NULL on host memory. */
struct srv_stream *srv_stream_dump(struct srv_machine *sm, uint64_t id);
struct Armmap__V1__HistoryResult;
/* A streamed History reply to request @id: @hr's events are sized and
 * packed a slice per turn (the frame is what srv_response_pack() makes of
 * it); @release(@arg) frees what holds @hr when the stream is freed.  NULL
 * on host memory (@release not called). */
struct srv_stream *srv_stream_history(
    uint64_t id, const struct Armmap__V1__HistoryResult *hr,
    void (*release)(void *), void *arg);
/* A streamed Report reply to request @id: @text and @json (either may be
 * empty) are taken (zeroed here) and written a slice at a time. */
struct srv_stream *srv_stream_report(uint64_t id, struct mm_buf *text,
                                     struct mm_buf *json);
/* The same over @m, which belongs to no registered machine (a past state
 * from the at-cache): the caller keeps @m unchanged and alive until
 * srv_stream_free(). */
struct srv_stream *srv_stream_translate_of(const struct mm_machine *m,
                                           uint64_t id, const uint32_t *va,
                                           size_t n, unsigned access);
struct srv_stream *srv_stream_phys_of(const struct mm_machine *m, uint64_t id,
                                      const uint32_t *pa, size_t n);
/* Every stream still reading @sm's machine live takes its own copy of it
 * now: called before anything changes, replaces or frees sm->m.  Aborts
 * on host memory shortage (the copy's bytes were reserved). */
void srv_stream_detach_all(struct srv_machine *sm);
/* Counts the stream's copy of the machine in @tenant's host bytes
 * (srv_registry_hold_bytes()) until srv_stream_free(); @r must outlive
 * the stream. */
void srv_stream_charge(struct srv_stream *st, struct srv_registry *r,
                       const char *tenant);
/* Frame bytes still to produce: the exact count once sized, before that
 * an estimate. */
uint64_t srv_stream_left(const struct srv_stream *st);
/* Counts a slice of the reply's size.  Return: true once it is known. */
bool srv_stream_size(struct srv_stream *st);
/* Appends a slice of the frame (about @budget bytes, at least one item) to
 * @out; only once sized.  Return: true once the whole frame is out. */
bool srv_stream_emit(struct srv_stream *st, struct evbuffer *out,
                     size_t budget);
/* srv_stream_free(NULL) does nothing. */
void srv_stream_free(struct srv_stream *st);

/* ------------------------------------------------------------------ */
/* Purges (purge.c)                                                    */
/* ------------------------------------------------------------------ */

struct srv_purges;

/**
 * srv_purge_start - run the purge @call asks on a worker thread: of
 * @tenant's destroyed machines (NULL: every tenant's) older than
 * @older_than_ms; the answer keeps its place on the connection and is
 * sent when the purge is done
 * Return: true if started (or answered), false if no worker could be had
 * (the caller answers).
 */
bool srv_purge_start(struct srv_call *call, const char *tenant,
                     uint64_t older_than_ms);
/* Waits for the purges running and frees their state (after the
 * connections closed, before the store does). */
void srv_purge_close(struct srv *s);

struct srv_history_job;
/* Frees the history queries still being paged (dispatch.c; shutdown). */
void srv_history_close(struct srv *s);

/* Events per op over machine @id, to @fn.  MM_OK or MM_UNAVAILABLE. */
enum mm_status srv_persist_op_counts(struct srv *s, uint64_t id,
                                     void (*fn)(void *arg, uint32_t op,
                                                uint64_t n),
                                     void *arg);

/* The same for the next @limit events after @after_seq only (a slice of
 * the scan, store_op_counts_page()); *@last_seq is 0 once none is left. */
enum mm_status srv_persist_op_counts_page(struct srv *s, uint64_t id,
                                          uint64_t after_seq, uint32_t limit,
                                          void (*fn)(void *arg, uint32_t op,
                                                     uint64_t n),
                                          void *arg, uint64_t *last_seq);

/* ------------------------------------------------------------------ */
/* The HTTP/JSON API (http.c, http_json.c)                             */
/* ------------------------------------------------------------------ */

/* --http: binds HOST:PORT and serves /api/v1/ (after the listeners).
 * Return: 0 (also without --http), or -1 with @err. */
int srv_http_start(struct srv *s, char *err, size_t errsz);
/* SIGTERM: stop accepting HTTP connections; requests in flight go on. */
void srv_http_stop_accepting(struct srv *s);
/* Frees everything, answering nothing more.  Safe without --http. */
void srv_http_free(struct srv *s);

/* The page's directory when --http-root is not given: the installed web/
 * (the Makefile passes $(PREFIX)/share/armmapd/web). */
#ifndef SRV_WEB_ROOT
#define SRV_WEB_ROOT "/usr/local/share/armmapd/web"
#endif
/* Largest file served from --http-root, bytes. */
#define SRV_HTTP_STATIC_MAX (8u << 20)

struct evhttp_request;
/**
 * srv_http_static - answer @req, a path outside /api/, with a file under
 * --http-root (http_static.c says which): 200, 304, 404 or 405.
 */
void srv_http_static(struct srv *s, struct evhttp_request *req);

/* What an API reply renders as. */
enum srv_http_shape {
    SRV_HTTP_NONE = 0,
    SRV_HTTP_PRESETS,
    SRV_HTTP_MACHINES,
    SRV_HTTP_MACHINE,
    SRV_HTTP_DELETED,
    SRV_HTTP_OP,
    SRV_HTTP_BATCH,
    SRV_HTTP_TRANSLATE,
    SRV_HTTP_PHYS,
    SRV_HTTP_REPORT,
    SRV_HTTP_HISTORY,
    SRV_HTTP_EVENTS /* a Describe; then sse.c streams */
};

/* One API request: the Request frame it became, how to render its answer. */
struct srv_http_call {
    int http_status;       /* 0: built; else the refusal's */
    int code;              /* enum mm_status of a refusal */
    char msg[SRV_MSG_MAX]; /* its message */
    char allow[32];        /* 405: the methods allowed */
    enum srv_http_shape shape;
    bool created;   /* 201 on success */
    int opcode;     /* SRV_HTTP_OP */
    uint32_t *addr; /* translate/phys addresses, batch
                                           opcodes; malloc'd */
    size_t n_addr;
    uint8_t *frame; /* length prefix + Request (id 2) */
    size_t len;
    uint64_t machine; /* the id in the path, or 0 */
    bool has_since;   /* ?since= given (SRV_HTTP_EVENTS) */
    uint64_t since;   /* its value */
    bool at;          /* .../at/{seq}/...: a Describe,
                                           then at_cache.c answers */
    uint64_t at_seq;
    bool walk;       /* translate: walks wanted */
    unsigned access; /* translate: MM_ACCESS_ bits */
    int report_kind; /* report: enum mm_report */
};

/**
 * srv_http_build - route @method @path?@query with JSON @body (@len bytes,
 * may be 0) to the Request the protobuf path would receive
 * Return: 0 with @hc->frame set (free with srv_http_call_free()), or the
 * HTTP status of a refusal with @hc->code and @hc->msg set.
 */
int srv_http_build(struct srv_http_call *hc, const char *method,
                   const char *path, const char *query, const char *body,
                   size_t len);
void srv_http_call_free(struct srv_http_call *hc);
/* The HTTP status of a Status code (400 INVALID_ARGUMENT, ...). */
int srv_http_status(int code);
/* {"code":"NOT_FOUND","message":"..."}, malloc'd. */
char *srv_http_error_json(int code, const char *msg);
/**
 * srv_http_render - the HTTP reply to @r, the answer of @hc's Request
 * @want_text: the client accepts text/plain (reports are sent as text)
 * Return: the body, malloc'd (NULL for 204), with *@status and *@ctype.
 */
char *srv_http_render(const struct srv_http_call *hc,
                      const struct Armmap__V1__Response *r, bool want_text,
                      int *status, const char **ctype);

struct store_event;
/* One event as the JSON of the event stream and of history: seq, op,
 * cpu, args (and the op's named fields, as the ops API takes them),
 * result; one line without a newline, malloc'd. */
char *srv_http_event_json(const struct store_event *ev);

/* ------------------------------------------------------------------ */
/* Event streams (sse.c)                                               */
/* ------------------------------------------------------------------ */

/**
 * srv_sse_subscribe - answer @req as the Server-Sent Events stream of
 * machine @sm, which its tenant was just found to see
 * @after: resume after this seq (Last-Event-ID, ?since=); UINT64_MAX:
 * from the machine's head (new changes only)
 * @token: the bearer token it came with (copied), or NULL: with
 * --tenants-file, a stream whose token no longer names its tenant after a
 * SIGHUP reload ends, as a revoked socket connection does
 * Context: takes @req; answers it 429 if the tenant has
 * --http-max-subscribers streams open.  One event per committed change,
 * in seq order, never twice; events before the head are read from the
 * store in slices, off the request path.
 */
void srv_sse_subscribe(struct srv *s, struct evhttp_request *req,
                       struct srv_machine *sm, uint64_t after,
                       const char *token);
/* commit.c: @sm's events up to sm->committed_seq are durable. */
void srv_sse_committed(struct srv *s, struct srv_machine *sm);
/* commit.c: @sm's destroy is durable: its streams end ("destroyed"). */
void srv_sse_destroyed(struct srv *s, struct srv_machine *sm);
/* Ends every stream and frees the state.  Safe with s->sse NULL. */
void srv_sse_free(struct srv *s);

/* ------------------------------------------------------------------ */
/* Reads of the past: GET .../at/{seq}/... (at_cache.c)                */
/* ------------------------------------------------------------------ */

/**
 * srv_at_answer - the HTTP reply to @hc (a report, translate or phys
 * read with hc->at set) on machine @sm as it was at hc->at_seq
 * @want_text: the client accepts text/plain (reports)
 * Context: replays the machine from the store (from its nearest
 * checkpoint, or from a kept state just before) into a small LRU cache
 * bounded by --http-at-cache machines and --http-at-cache-bytes; creates
 * no machine and counts against no machine quota.
 * Return: the body, malloc'd, with *@status and *@ctype.
 */
char *srv_at_answer(struct srv *s, struct srv_machine *sm,
                    const struct srv_http_call *hc, bool want_text, int *status,
                    const char **ctype);
/* Frees the cache.  Safe with s->at NULL. */
void srv_at_free(struct srv *s);
/* persist.c: replays machine @id's own events after seq @after up to
 * @upto onto @m (a state at @after).  MM_OK, MM_NOT_FOUND (fewer events),
 * MM_INTERNAL (a mismatch), MM_UNAVAILABLE (the store). */
enum mm_status srv_persist_replay_after(struct srv *s, uint64_t id,
                                        uint64_t after, uint64_t upto,
                                        struct mm_machine *m, char *err,
                                        size_t errsz);

/* ------------------------------------------------------------------ */
/* Dumps (dump.c)                                                      */
/* ------------------------------------------------------------------ */

/**
 * srv_dump_elf - write machine @m as an ELF32 little-endian ARM core file
 * @out: receives a malloc'd buffer (caller frees) of *@len bytes
 * Return: MM_OK, or MM_NO_MEMORY.
 */
enum mm_status srv_dump_elf(const struct mm_machine *m, uint8_t **out,
                            size_t *len);

/* A dump read a slice at a time (the same bytes as srv_dump_elf()). */
struct srv_dump;
/* Opens a dump of @m as it is now; @m must stay unchanged and alive until
 * srv_dump_close() or srv_dump_rebind().  Return: MM_OK, MM_NO_MEMORY. */
enum mm_status srv_dump_open(const struct mm_machine *m, struct srv_dump **out);
/* The file's size in bytes, known from the start. */
uint64_t srv_dump_len(const struct srv_dump *d);
/* Reads the next bytes of the file, at most @max; returns how many (0 at
 * the end). */
size_t srv_dump_read(struct srv_dump *d, uint8_t *buf, size_t max);
/* The dump reads @m from now on, a copy (mm_clone()) of the machine it was
 * opened on.  Aborts on host memory shortage. */
void srv_dump_rebind(struct srv_dump *d, const struct mm_machine *m);
/* srv_dump_close(NULL) does nothing. */
void srv_dump_close(struct srv_dump *d);

#define SRV_NOTE_NAME "ARMMAP"    /* PT_NOTE owner name */
#define SRV_NOTE_MMU  0x41524d31u /* note type "ARM1": struct of 4 words */

/* ------------------------------------------------------------------ */
/* Cluster mode (cluster.c)                                            */
/* ------------------------------------------------------------------ */

struct srv_cluster;
struct store;

/**
 * srv_cluster_open - --node: register this node (a new epoch) in @st and
 * start its heartbeat thread; nothing without --node
 * Context: at start, before the listeners, instead of recovery (a new
 * epoch owns no machine: machines are claimed when asked for).
 * Return: 0, or -1 with @err.
 */
int srv_cluster_open(struct srv *s, struct store *st, char *err, size_t errsz);
/* Stops the heartbeat thread and frees the cluster state (NULL: none). */
void srv_cluster_close(struct srv *s);
/* True without --node, or while this node's lease is valid by its own
 * clock and the machines it holds are of its current epoch. */
bool srv_cluster_serving(const struct srv *s);
/**
 * srv_cluster_find - the caller's machine @ext that this node does not
 * hold: MOVED to a live owner, or claimed and rebuilt here
 * @missing: the "machine 7 does not exist" text for NOT_FOUND
 * Context: the loop thread; one or two queries, maybe a claim.  While
 * the rebuild runs on a worker the call is deferred (call->parked) and
 * dispatched again when it is done.
 * Return: the machine, registered; or NULL with the call failed
 * (NOT_FOUND, MOVED with call->owner, UNAVAILABLE) or parked.
 */
struct srv_machine *srv_cluster_find(struct srv_call *call, const char *what,
                                     uint64_t ext, const char *missing);
/* The HTTP address of the node whose binary address is @address (as a
 * MOVED of this node named it), or NULL if unknown or it has none. */
const char *srv_cluster_http_of(const struct srv *s, const char *address);
/* GET /api/v1/health: the body (malloc'd) and *@status (200, or 503
 * while the lease is not valid). */
char *srv_cluster_health(const struct srv *s, int *status);
/* The store, for cluster.c's queries (persist.c). */
struct store *srv_persist_store(struct srv *s);
/* Cluster: @sm is no longer this node's; it is unlinked and freed once
 * its writes in flight are reaped (commit.c). */
void srv_commit_lose(struct srv *s, struct srv_machine *sm);
/* Cluster: the write about to be reaped was refused STORE_FENCED; its
 * machine is lost (persist.c, before srv_commit_reaped()). */
void srv_commit_head_lost(struct srv *s);

/* ------------------------------------------------------------------ */
/* Worker jobs (jobs.c): fork replays (persist.c), claims (cluster.c)  */
/* ------------------------------------------------------------------ */

struct srv_jobs;
struct srv_job;
struct store_reader;

/* What a kind of job does.  work() runs on the job's thread; the others
 * on the loop: joined() after a finished job's thread is joined (may be
 * NULL), all_done() once after the joins of one wake-up, clear() when a
 * slot is cleared, to free what its data holds (may be NULL; the data is
 * the kind's to reset, the reader the pool's). */
struct srv_job_ops {
    void (*work)(struct srv_job *j);
    void (*joined)(struct srv_job *j);
    void (*all_done)(void *arg);
    void (*clear)(struct srv_job *j);
};

/* A pool of @n (at most 8) slots on @base; slot i's data is element i of
 * the kind's array @data (elements of @size bytes); @arg goes to
 * all_done().  NULL if its eventfd or event cannot be had. */
struct srv_jobs *srv_jobs_create(struct event_base *base, size_t n,
                                 const struct srv_job_ops *ops, void *arg,
                                 void *data, size_t size);
/* Waits for running jobs, clears every slot, closes the spare readers.
 * NULL: nothing. */
void srv_jobs_destroy(struct srv_jobs *p);
/* The used slot whose data @is(data, @key) says is the one, or NULL. */
struct srv_job *srv_jobs_find(struct srv_jobs *p,
                              bool (*is)(const void *data, const void *key),
                              const void *key);
/* A slot for a new job: a free one, else the oldest finished one
 * (cleared); marked used, with a spare reader if one was kept (else its
 * reader is NULL).  NULL if every slot holds a running job. */
struct srv_job *srv_jobs_slot(struct srv_jobs *p);
/* Starts @j's thread; false (and @j cleared) if it cannot. */
bool srv_jobs_start(struct srv_job *j);
/* Frees @j's slot (a finished or never started job); its reader is kept
 * for the next job. */
void srv_jobs_clear(struct srv_job *j);
/* Clears the finished jobs; @running: waits for the running ones and
 * clears them too. */
void srv_jobs_drop(struct srv_jobs *p, bool running);
void *srv_job_data(const struct srv_job *j);
/* Done and its thread joined: its result may be taken. */
bool srv_job_joined(const struct srv_job *j);
/* The job's store reader (the kind may open one there). */
struct store_reader **srv_job_reader(struct srv_job *j);

#endif /* ARMMAP_DAEMON_SRV_H */
