/* store/store.h - public API of armmapd's event store (SQLite).
 *
 * The store keeps every hosted machine (its tenant, name, the engine's
 * canonical config text, when it was created and destroyed) and the event
 * record of every change made to it, in order; a machine is rebuilt by
 * replaying its events from its config.  It knows nothing of sockets,
 * protobuf or the engine: it takes and returns plain C values.
 *
 * Writes are asynchronous.  A writer thread owns its own SQLite connection
 * and commits queued writes in batched transactions (group commit: every
 * write queued while one commit runs goes into the next).  The daemon's
 * event loop submits writes, which never touches the disk, watches
 * store_notify_fd() and calls store_reap() to learn which writes committed.
 * A reply to a change is sent only once its write is reaped with STORE_OK.
 *
 * Reads are synchronous, on a second connection of their own (WAL lets them
 * run beside the writer): history queries, machine lists, and the ordered
 * iteration used by recovery and fork.
 *
 * Threads: store_submit_*(), store_purge_r(), store_flush() and
 * store_stats() may be called from any thread.  Everything else (queries,
 * store_reap(), store_purge() and store_set_max_bytes(), which set
 * store_errmsg() when they fail, and store_errmsg() itself) belongs to one
 * thread at a time, the daemon's loop thread.
 */
#ifndef ARMMAP_STORE_STORE_H
#define ARMMAP_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STORE_SCHEMA_VERSION      6     /* PRAGMA user_version we write */
#define STORE_MSG_MAX             512   /* error messages, NUL included */
#define STORE_MAX_ARGS            1024  /* argument words per event (vmap) */
#define STORE_QUEUE_DEFAULT       65536 /* writes in flight */
#define STORE_QUEUE_BYTES_DEFAULT (64u << 20) /* their copied data */

struct store; /* opaque; one per database file */

enum store_status {
    STORE_OK = 0,
    STORE_INVALID_ARGUMENT, /* a value the store cannot take */
    STORE_NOT_FOUND,        /* no such machine (or destroyed) */
    STORE_ALREADY_EXISTS,   /* that event is already stored */
    STORE_BUSY,             /* the write queue is full */
    STORE_UNAVAILABLE,      /* SQLite failed: disk, I/O, ... */
    STORE_CONFLICT,         /* an event's seq is not the
                                           machine's last seq + 1 */
    STORE_CORRUPT,          /* stored data fails its checksum,
                                           or a history has a hole */
    STORE_FENCED            /* cluster: this node's lease expired,
                                           or another node owns the
                                           machine; nothing was written */
};

/* "OK", "INVALID_ARGUMENT", ...; "?" for a value out of range. */
const char *store_status_name(enum store_status st);

/*
 * Durability of a committed write.
 *
 * STORE_NORMAL: WAL with synchronous=NORMAL.  A commit is a write() to the
 * WAL file; fsync happens only when a checkpoint copies the WAL into the
 * database.  Committed writes survive a crash or kill of the daemon; after
 * a power loss or kernel crash the database is consistent but the last
 * commits before it may be missing.
 *
 * STORE_FULL: WAL with synchronous=FULL.  Every commit also fsyncs the WAL,
 * so committed writes survive power loss.  The cost is one fsync per group
 * commit, not per write, and it shows as latency, not throughput.  Measured
 * on the 2-core development VM (tests/store/check_store.c, STORE_BENCH=1):
 * an idle store answers a lone write after 0.05-0.15 ms with STORE_NORMAL
 * and 5.2-5.5 ms with STORE_FULL (one fsync); under load, 1,000,000 events
 * went in about 32 commits either way, the writer spent the same CPU
 * (1.2-1.4 s), and the rates were within the noise of each other
 * (160,000-250,000 events/s on a machine shared with other jobs).  Where
 * fsync is slower (spinning disks) each reply waits longer, and group
 * commit keeps the throughput up by making each batch bigger.
 */
enum store_durability { STORE_NORMAL = 0, STORE_FULL };

struct store_options {
    enum store_durability durability; /* default STORE_NORMAL */
    uint32_t queue_max;     /* writes in flight; 0: STORE_QUEUE_DEFAULT */
    size_t queue_bytes_max; /* their data; 0: STORE_QUEUE_BYTES_DEFAULT */
    uint64_t max_bytes;     /* size limit, 0: none; store_set_max_bytes */
    const char *node;       /* cluster mode (PostgreSQL only): this
                               node's name; NULL: the only armmapd */
};

/*
 * One event record, as the engine produced it.  In results, @args points
 * into the store's memory and is valid only during the callback.
 */
struct store_event {
    uint64_t machine; /* machine id, >= 1 */
    uint64_t seq;     /* the machine's sequence, >= 1 */
    int64_t time_ms;  /* unix time in ms, for history */
    uint32_t op;      /* the engine's opcode */
    uint32_t cpu;
    uint32_t nargs;       /* 0..STORE_MAX_ARGS */
    const uint32_t *args; /* @nargs words; borrowed */
    uint32_t value;       /* the result's value and aux */
    uint32_t aux;
    uint32_t flags;
    int32_t status; /* the result's status code */
};

/* One machine row.  Strings are borrowed (see each function). */
struct store_machine {
    uint64_t id;
    const char *tenant;
    const char *name;
    const char *config; /* the engine's canonical text */
    int64_t created_ms;
    bool destroyed;
    int64_t destroyed_ms; /* 0 unless @destroyed */
    uint64_t nevents;     /* events stored for it */
    uint64_t last_seq;    /* highest seq stored, 0 if none */
    uint64_t parent;      /* forked from it; 0: not a fork */
    uint64_t parent_seq;  /* ...after its event parent_seq */
    const char *corrupt;  /* NULL, or why the row fails its
                                           checksum (recovery, dup) */
};

/* Write outcomes, counted since store_open(). */
struct store_stats {
    uint64_t commits;          /* write transactions committed */
    uint64_t failed_batches;   /* transactions rolled back (disk, I/O) */
    uint64_t events;           /* events committed */
    uint64_t machines_created; /* machine rows committed */
    uint64_t machines_destroyed;
    uint64_t writes_failed; /* writes reaped with a status other than OK */
    uint64_t largest_batch; /* most writes in one transaction */
    uint64_t writer_cpu_ns; /* CPU time the writer thread has used */
    uint32_t queued;        /* writes submitted and not yet reaped */
    int synchronous;        /* the writer's PRAGMA synchronous: 1, 2 */
    uint32_t reset_deletes; /* tables the last store_reset() emptied (the
                               others were empty: not touched) */
};

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */
/* ------------------------------------------------------------------ */

/**
 * store_open - open (or create) the database at @path and start its writer
 * @path: the database file; its directory must be writable (WAL files)
 * @opt: options, or NULL for the defaults
 * @out: receives the store
 * @err: receives a message naming @path and the reason on failure
 * Context: creates the file and schema if missing, runs forward migrations
 * (PRAGMA user_version), switches to WAL, takes an exclusive flock() on
 * "<path>-lock" (created if missing and left in place) so that a second
 * daemon cannot open the same database, and starts the writer thread.
 * New databases get 16 KiB pages and auto_vacuum=INCREMENTAL.  Refuses a
 * file that is not a database, that belongs to something else (tables but
 * no user_version), whose user_version is newer than STORE_SCHEMA_VERSION,
 * that is read-only, or in use, and a path that cannot be created
 * (directory missing or not writable).  Deeper corruption is not looked
 * for at open (PRAGMA quick_check reads the whole file); it surfaces later
 * as STORE_UNAVAILABLE with SQLite's "database disk image is malformed".
 * The daemon does not start if this fails.
 * @path ":memory:" keeps the database in this process's memory (SQLite's
 * memdb, shared by the writer's and the reader's connections, private to
 * this store): no files, no lock, no WAL, so reads wait while the writer
 * commits, and everything is gone at store_close().  For fuzzing, tests
 * and the bench's measure of what the disk costs.
 * Return: STORE_OK; STORE_UNAVAILABLE (with @err) for any of the above;
 * STORE_INVALID_ARGUMENT for a NULL or empty @path or a "file:" URI.
 */
enum store_status store_open(const char *path, const struct store_options *opt,
                             struct store **out, char err[STORE_MSG_MAX]);

/**
 * store_open_warning - what store_open() found wrong without refusing
 * @s: the store
 * Context: read-only.  Set when the database lacks the last commit that
 * the head record (kept in "<path>-lock", outside the WAL) says was made:
 * committed WAL frames were lost after a crash (a truncated or deleted
 * WAL).  The daemon logs it at error level.
 * Return: the message, "" if none; owned by @s.
 */
const char *store_open_warning(const struct store *s);

/**
 * store_close - commit what is queued, stop the writer, close the database
 * @s: the store, or NULL (nothing happens)
 * Context: blocks until the queue is committed and the final checkpoint is
 * done.  Completions not yet reaped are dropped without callbacks: call
 * store_flush() and store_reap() first to learn them.
 */
void store_close(struct store *s);

/**
 * store_errmsg - the message of the last failed call on @s
 * Context: read-only.  Written by queries, purge and failed submits; a
 * writer failure reaches the caller through store_reap() instead.
 * Return: a string owned by @s, "" if nothing failed; valid until the next
 * call on @s.
 */
const char *store_errmsg(const struct store *s);

/* ------------------------------------------------------------------ */
/* Writing (asynchronous, group commit)                                */
/* ------------------------------------------------------------------ */

/*
 * The queue is bounded: a write counts from its submit until store_reap()
 * reports it, and while opt.queue_max writes (STORE_QUEUE_DEFAULT) or
 * opt.queue_bytes_max bytes of them (STORE_QUEUE_BYTES_DEFAULT) are in
 * flight, every submit returns STORE_BUSY and queues nothing (one write is
 * always accepted into an empty queue, however big).  The daemon then stops
 * reading from the client that sent the change, and resumes after the next
 * reap.  The bound is also the largest possible group commit.
 *
 * Every submitted write is reported exactly once by store_reap(), in
 * submission order, with its cookie.  The writes of one transaction share
 * its fate: if the disk is full or an I/O error occurs, every write in that
 * batch is reported STORE_UNAVAILABLE with SQLite's message, and the next
 * batch is tried afresh, so writing resumes when the disk does.  A single
 * write can also fail on its own (STORE_NOT_FOUND, STORE_ALREADY_EXISTS)
 * while the rest of its batch commits.
 */

/**
 * store_submit_event - queue one event record for the next group commit
 * @s: the store
 * @ev: the event; @ev->args is copied
 * @cookie: handed back by store_reap()
 * Context: copies @ev into the queue; never touches the disk.  The event's
 * machine must have been submitted for creation before (it may still be in
 * flight) and not destroyed; otherwise the write fails with
 * STORE_NOT_FOUND when it is committed.  The store appends with an
 * expected version: the event's seq must be the machine's last stored seq
 * + 1 (a fork's first event: its parent_seq + 1), or the write fails with
 * STORE_CONFLICT and a message naming the machine, the seq expected and
 * the seq given; so a history never has a gap or a reordering, even after
 * an earlier write of the machine failed.
 * Return: STORE_OK (queued), STORE_BUSY (queue full: nothing queued),
 * STORE_INVALID_ARGUMENT (machine or seq 0, nargs over STORE_MAX_ARGS,
 * args NULL with nargs), STORE_UNAVAILABLE (out of memory, store closing).
 */
enum store_status store_submit_event(struct store *s,
                                     const struct store_event *ev,
                                     void *cookie);

/**
 * store_submit_events - queue @n events of one machine as one unit
 * @s: the store
 * @ev: the events, of one machine, with consecutive seqs (copied)
 * @n: how many, >= 1
 * @cookie: handed back by store_reap(), once for the whole unit
 * Context: the unit goes whole into one transaction (the writer never
 * splits it across group commits) inside a savepoint: when committed,
 * either every event of it is stored, or none is and store_reap()
 * reports the first refusal for the unit.  store_submit_event() is a
 * unit of one.
 * Return: as store_submit_event(); STORE_INVALID_ARGUMENT also for @n 0,
 * events of several machines or seqs that are not consecutive.
 */
enum store_status store_submit_events(struct store *s,
                                      const struct store_event *ev, size_t n,
                                      void *cookie);

/**
 * store_submit_machine_create - reserve a machine id and queue its row
 * @s: the store
 * @tenant: owner, copied (NULL is stored as "")
 * @name: the machine's name, copied (NULL is stored as "")
 * @config: the engine's canonical config text, copied; not NULL
 * @created_ms: unix time in ms
 * @cookie: handed back by store_reap()
 * @id: receives the machine id, at once
 * Context: ids are assigned here, synchronously, from a counter loaded at
 * open, and are never reused, even after a purge; the daemon can create the
 * engine machine and queue its first events before the row is committed.
 * An id whose write fails is lost (not reused while the daemon runs).
 * Return: STORE_OK, STORE_BUSY, STORE_INVALID_ARGUMENT (NULL @config or
 * @id), STORE_UNAVAILABLE (out of memory, store closing).
 */
enum store_status store_submit_machine_create(
    struct store *s, const char *tenant, const char *name, const char *config,
    int64_t created_ms, void *cookie, uint64_t *id);

/**
 * store_submit_machine_fork - as store_submit_machine_create(), for a fork
 * @s: the store
 * @parent: the machine this one continues (a fork or a clone)
 * @parent_seq: the parent's last event before the branch (0: none)
 * @tenant: as store_submit_machine_create(), and so are the others
 * @name: as store_submit_machine_create()
 * @config: as store_submit_machine_create()
 * @created_ms: as store_submit_machine_create()
 * @cookie: as store_submit_machine_create()
 * @id: as store_submit_machine_create()
 * Context: the store records @parent and @parent_seq without interpreting
 * them (a fork's own events may start at @parent_seq + 1), and returns them
 * in struct store_machine.  It uses them for one thing: store_purge() keeps
 * a destroyed machine, however old, while a machine it keeps descends from
 * it, since replaying that machine starts with its ancestors' events.  When
 * committed, the write fails with STORE_NOT_FOUND if @parent does not exist
 * (it may be destroyed), and with STORE_CONFLICT if @parent's events stored
 * by then end before @parent_seq.
 * Return: as store_submit_machine_create(); also STORE_INVALID_ARGUMENT for
 * @parent 0.
 */
enum store_status store_submit_machine_fork(
    struct store *s, uint64_t parent, uint64_t parent_seq, const char *tenant,
    const char *name, const char *config, int64_t created_ms, void *cookie,
    uint64_t *id);

/**
 * store_submit_machine_destroy - queue marking machine @id destroyed
 * @s: the store
 * @id: the machine
 * @destroyed_ms: unix time in ms; store_purge() compares it to its cutoff
 * @cookie: handed back by store_reap()
 * Context: the row and history stay until store_purge() removes them.
 * Events for @id submitted after this fail with STORE_NOT_FOUND.
 * Return: STORE_OK, STORE_BUSY, STORE_INVALID_ARGUMENT (@id 0),
 * STORE_UNAVAILABLE.  When committed, the write itself fails with
 * STORE_NOT_FOUND if @id does not exist or is already destroyed.
 */
enum store_status store_submit_machine_destroy(struct store *s, uint64_t id,
                                               int64_t destroyed_ms,
                                               void *cookie);

/**
 * store_submit_checkpoint - queue a checkpoint: machine @machine's engine
 * state after its event @seq, as opaque bytes (the engine's snapshot)
 * @s: the store
 * @machine: the machine
 * @seq: the last event the state includes, >= 1
 * @blob: the bytes (copied), @len of them, >= 1
 * @len: see @blob
 * @cookie: handed back by store_reap()
 * Context: a write like the others (group commit, reaped in order); one
 * checkpoint per (machine, seq), a second replaces the first.  Stored with
 * a checksum; store_purge() deletes them with their machine.
 * Return: as store_submit_event(); when committed, STORE_NOT_FOUND if the
 * machine does not exist or is destroyed, STORE_CONFLICT if its stored
 * events do not reach @seq.
 */
enum store_status store_submit_checkpoint(struct store *s, uint64_t machine,
                                          uint64_t seq, const void *blob,
                                          size_t len, void *cookie);

/* ---- Request keys (idempotent retries) --------------------------------
 *
 * A change made with a client's request key is remembered with the reply
 * it got (table request_keys), in the transaction of the change itself:
 * both commit or neither does.  Keys live in scopes: a machine (the keys of
 * changes that named it: ops, batches, forks, clones) or, with machine 0,
 * a tenant (its creates and destroys).  Each scope keeps its last
 * STORE_RKEYS_KEPT keys by ord (and up to STORE_RKEYS_TRIM - 1 older
 * ones, deleted in one go: store_rkeys() callers keep the newest); a
 * purge drops the keys whose scope or target machine it deletes. */
#define STORE_RKEYS_KEPT 4096
#define STORE_RKEYS_TRIM \
    64 /* the store deletes old keys every 64th ord:
                               it may hold up to 63 more, oldest first */

struct store_rkey {
    uint64_t machine;   /* scope: the machine named; 0: @tenant's */
    const char *tenant; /* the tenant that made the change */
    uint64_t key;       /* the client's key, != 0 */
    uint64_t ord;       /* 1, 2, ... in its scope; keeping a multiple of
                           STORE_RKEYS_TRIM deletes the keys up to ord -
                           STORE_RKEYS_KEPT */
    uint64_t target;    /* the machine made or changed (purge) */
    const void *reply;  /* the reply's bytes, @len of them */
    size_t len;
};

/**
 * store_hold - keep the next writes in one transaction
 * @s: the store
 * Context: the caller's thread; until store_release(), the writer starts
 * no new batch, so writes submitted between the two are committed
 * together (a change and its key, store_submit_rkey()).  Hold it for
 * microseconds only: commits wait.  Holds nest.
 */
void store_hold(struct store *s);
/* store_release - ends a store_hold() */
void store_release(struct store *s);

/**
 * store_submit_rkey - queue @k, to be kept with the write of @cookie
 * @s: the store
 * @k: the key and the reply (copied)
 * @cookie: the cookie of the change's write(s), submitted before this
 *          under the same store_hold()
 * Context: never reported by store_reap(): it commits in the transaction
 * of that write if that write commits, and is dropped if it fails.
 * Return: STORE_OK, STORE_INVALID_ARGUMENT (key 0, no reply, machine or
 * ord beyond 2^63-1), STORE_UNAVAILABLE (host memory, closing).  It is
 * let in beyond the queue bound (its change was).
 */
enum store_status store_submit_rkey(struct store *s, const struct store_rkey *k,
                                    void *cookie);

/**
 * store_rkeys - the remembered keys of a scope, oldest first
 * @s: the store
 * @machine: the scope's machine; 0 with @tenant: that tenant's scope
 * @tenant: see @machine; ignored for a machine's scope
 * @key: 0 for all the scope's keys, else only that one
 * @fn: called for each; a non-zero return stops the walk
 * @arg: passed to @fn
 * Context: the caller's thread (its read connection); sees committed keys.
 * Return: STORE_OK (none is not an error) or STORE_UNAVAILABLE.
 */
enum store_status store_rkeys(struct store *s, uint64_t machine,
                              const char *tenant, uint64_t key,
                              int (*fn)(void *arg, const struct store_rkey *k),
                              void *arg);

/**
 * store_notify_fd - a descriptor that becomes readable when writes complete
 * @s: the store
 * Context: an eventfd owned by @s (never close it).  Watch it for
 * EV_READ|EV_PERSIST; store_reap() drains it.
 * Return: the descriptor.
 */
int store_notify_fd(const struct store *s);

/**
 * store_reap - report every write completed since the last reap
 * @s: the store
 * @done: called once per write, in submission order, with @arg, the write's
 * cookie, STORE_OK or why it failed, and a message ("" on success; borrowed,
 * valid during the call)
 * @arg: passed to @done
 * Context: drains store_notify_fd(), takes the completed batches and calls
 * @done without holding any lock, so @done may submit new writes.  Frees
 * the queue space of the reported writes.  Not reentrant.
 * Return: the number of writes reported.
 */
size_t store_reap(struct store *s,
                  void (*done)(void *arg, void *cookie,
                               enum store_status status, const char *msg),
                  void *arg);

/**
 * store_flush - wait until every write submitted so far is committed or failed
 * @s: the store
 * Context: blocks on the writer: for shutdown and tests, not for the loop.
 * Completions still have to be reaped.
 */
void store_flush(struct store *s);

/**
 * store_reset - empty an in-memory store, as if just opened
 * @s: a store opened on ":memory:", every write reaped
 * Context: runs on the writer thread between batches and waits for it:
 * deletes every machine, event and checkpoint, hands out machine ids from
 * 1 again and zeroes the write counters of store_stats().  For tests and
 * fuzzing (srv_reset()), which start each case from an identical store
 * without a new database and threads.
 * Return: STORE_OK, STORE_INVALID_ARGUMENT (a database file: never
 * emptied), STORE_BUSY (writes still queued or unreaped; nothing done),
 * STORE_UNAVAILABLE (SQLite failed; the store may be half emptied).
 */
enum store_status store_reset(struct store *s);

/**
 * store_stats - copy the write counters
 * @s: the store
 * @st: receives them
 * Context: read-only.
 */
void store_stats(struct store *s, struct store_stats *st);

/**
 * store_set_max_bytes - change the database size limit
 * @s: the store
 * @bytes: the new limit, rounded down to whole pages (16 KiB in databases
 * this version creates); 0 restores SQLite's maximum
 * Context: sets PRAGMA max_page_count on the writer's connection between
 * two batches, and blocks until it has.  Writes that would grow the file
 * past the limit fail as on a full disk (SQLITE_FULL, "database or disk is
 * full").  SQLite never sets the limit below the current size.  It exists
 * for tests of the disk-full path and for a deployment that wants a quota.
 * Return: STORE_OK, STORE_UNAVAILABLE (store_errmsg() says why).
 */
enum store_status store_set_max_bytes(struct store *s, uint64_t bytes);

/* ------------------------------------------------------------------ */
/* Queries (synchronous, on the read connection)                       */
/* ------------------------------------------------------------------ */

/*
 * A history query selects one machine's events, in sequence order or
 * newest first, a page at a time.  All filters combine (AND):
 *  - sequence range: @seq_first..@seq_last inclusive (0 means unbounded);
 *  - op: when @by_op, only events whose op is @op;
 *  - address range: when @by_addr, only events that touch an address in
 *    @addr_first..@addr_last inclusive.  An event touches an address if one
 *    of its argument words or its value is that address.  This is the
 *    store's whole notion of an address: it does not know which argument
 *    of which op is an address, a pfn or a size, so a pfn or a size that
 *    falls in the range matches too; the daemon filters further if it wants.
 * Paging: @limit rows at most per call (0 means no limit).  The first page
 * has @cursor 0; each later page passes back the @cursor that the previous
 * call returned in struct store_page, the sequence number of the last row
 * it gave; the next page continues after it in the query's order.
 *
 * Cost: events are packed up to 16 a row keyed (machine, first_seq)
 * (schema 6), so a sequence range is a range scan; op and address filters
 * unpack that machine's rows (in the range) until the page is full.  No index serves them.  Measured with 1,000,000
 * events: an index on (machine, value) made the writer spend 3 to 4 times
 * the CPU per event (45,000-71,000 events/s against 156,000-250,000
 * without), one on (machine, op, seq) 1.6 to 2 times (83,000-129,000/s),
 * and an address index would still miss the argument words; while a scan
 * that matches nothing takes 0.12 s of CPU (op) or 0.24 s (address) for all
 * of a 1,000,000-event machine.  History pages are small and bounded by the
 * daemon's "history rows per query" limit, so the scan is the better deal.
 */
struct store_history_query {
    uint64_t machine;
    uint64_t seq_first; /* 0: from the first */
    uint64_t seq_last;  /* 0: to the last */
    bool by_op;
    uint32_t op;
    bool by_addr;
    uint32_t addr_first; /* inclusive */
    uint32_t addr_last;  /* inclusive */
    bool newest_first;
    uint64_t cursor; /* 0, or the previous page's */
    uint32_t limit;  /* rows per page; 0: all */
};

struct store_page {
    uint32_t rows;   /* rows given to the callback */
    bool more;       /* another page follows */
    uint64_t cursor; /* for the next page's query */
};

/**
 * store_history - one page of a machine's history
 * @s: the store
 * @q: the query (see above)
 * @fn: called per row in order with @arg; its event's args are borrowed for
 * the call; a non-zero return stops the page there (then @page->more is
 * true and @page->cursor resumes after that row)
 * @arg: passed to @fn
 * @page: receives the row count, whether more rows match, the next cursor
 * Context: reads only.  Not for use inside another query's callback of the
 * same kind (STORE_INVALID_ARGUMENT).
 * Return: STORE_OK (also when no row matches, or the machine is unknown),
 * STORE_INVALID_ARGUMENT (machine 0, empty address range, reentered),
 * STORE_UNAVAILABLE (SQLite failed; store_errmsg()).
 */
enum store_status store_history(struct store *s,
                                const struct store_history_query *q,
                                int (*fn)(void *arg,
                                          const struct store_event *ev),
                                void *arg, struct store_page *page);

/**
 * store_op_counts - how many events of each op machine @machine has
 * @s: the store
 * @machine: the machine
 * @fn: called once per op that occurs, in increasing op order
 * @arg: passed to @fn
 * Context: reads only; scans the machine's events.
 * Return: STORE_OK, STORE_UNAVAILABLE.
 */
enum store_status store_op_counts(struct store *s, uint64_t machine,
                                  void (*fn)(void *arg, uint32_t op,
                                             uint64_t count),
                                  void *arg);

/**
 * store_op_counts_page - store_op_counts() a slice at a time: the ops of
 * the next @limit events of @machine whose seq is above @after_seq, in
 * seq order
 * @fn: called with counts of this slice; an op may be given more than
 * once (add them up), in no particular order
 * @last_seq: receives the seq of the last event counted; 0 once none is
 * left (the next slice starts after it)
 * Context: reads only, as store_op_counts(); at most @limit rows read.
 * Return: STORE_OK, STORE_INVALID_ARGUMENT (@machine or @limit 0),
 * STORE_UNAVAILABLE.
 */
enum store_status store_op_counts_page(struct store *s, uint64_t machine,
                                       uint64_t after_seq, uint32_t limit,
                                       void (*fn)(void *arg, uint32_t op,
                                                  uint64_t count),
                                       void *arg, uint64_t *last_seq);

/*
 * Which machines store_list_machines() gives, by increasing id, a page at
 * a time: after @after_id (0 first), at most @limit (0: all).
 */
struct store_machine_filter {
    const char *tenant; /* NULL: every tenant */
    bool include_destroyed;
    uint64_t after_id;
    uint32_t limit;
};

/**
 * store_list_machines - list machines with their event counts
 * @s: the store
 * @f: which machines, or NULL for all live ones
 * @fn: called per machine; its strings are borrowed for the call, and its
 * config is NULL (lists do not read configs: store_machine_dup() does); a
 * non-zero return stops the listing
 * @arg: passed to @fn
 * @more: receives whether more machines match past the last one given
 * (may be NULL)
 * Context: reads only.
 * Return: STORE_OK, STORE_INVALID_ARGUMENT (reentered), STORE_UNAVAILABLE.
 */
enum store_status store_list_machines(
    struct store *s, const struct store_machine_filter *f,
    int (*fn)(void *arg, const struct store_machine *m), void *arg, bool *more);

/**
 * store_machine_dup - fetch one machine's row
 * @s: the store
 * @id: the machine
 * @out: receives a copy in one allocation (strings included) that the
 * caller frees with free()
 * Context: reads only.
 * Return: STORE_OK, STORE_NOT_FOUND (no such id, or purged),
 * STORE_UNAVAILABLE (SQLite failed or out of memory).
 */
enum store_status store_machine_dup(struct store *s, uint64_t id,
                                    struct store_machine **out);

/**
 * store_foreach_live_machine - every machine not destroyed, by id
 * @s: the store
 * @fn: called per machine with its config text (borrowed for the call); a
 * non-zero return stops the walk
 * @arg: passed to @fn
 * Context: reads only; the daemon's recovery calls this and, from @fn,
 * store_foreach_event() to replay each machine.
 * Return: STORE_OK, STORE_INVALID_ARGUMENT (reentered), STORE_UNAVAILABLE.
 */
enum store_status store_foreach_live_machine(
    struct store *s, int (*fn)(void *arg, const struct store_machine *m),
    void *arg);

/**
 * store_foreach_event - a machine's events in sequence order
 * @s: the store
 * @machine: the machine
 * @upto_seq: the last sequence number wanted (inclusive); 0 for all
 * @fn: called per event (args borrowed for the call); a non-zero return
 * stops the walk
 * @arg: passed to @fn
 * @count: receives the number of events given to @fn (may be NULL)
 * Context: reads only, from one consistent snapshot.  For recovery and
 * fork; it reads several million events a second.
 * Return: STORE_OK, STORE_INVALID_ARGUMENT (reentered), STORE_UNAVAILABLE.
 */
enum store_status store_foreach_event(struct store *s, uint64_t machine,
                                      uint64_t upto_seq,
                                      int (*fn)(void *arg,
                                                const struct store_event *ev),
                                      void *arg, uint64_t *count);

/**
 * store_checkpoint_get - machine @machine's checkpoint nearest at or below
 * @at_most (0: the latest)
 * @s: the store
 * @seq: receives its seq (the state after that event)
 * @blob: receives a malloc'ed copy of its bytes; the caller frees it
 * @len: receives their length
 * Context: reads only; checks the checkpoint's checksum.
 * Return: STORE_OK, STORE_NOT_FOUND (none; replay from the start),
 * STORE_CORRUPT (it fails its checksum; store_errmsg() says so),
 * STORE_UNAVAILABLE, STORE_INVALID_ARGUMENT (reentered).
 */
enum store_status store_checkpoint_get(struct store *s, uint64_t machine,
                                       uint64_t at_most, uint64_t *seq,
                                       void **blob, size_t *len);

/**
 * store_foreach_event_after - as store_foreach_event(), from the event
 * after @after_seq (a checkpoint's seq); the checksum chain continues from
 * event @after_seq's stored sum
 * Return: as store_foreach_event(); STORE_CORRUPT also if event
 * @after_seq is missing.
 */
enum store_status store_foreach_event_after(
    struct store *s, uint64_t machine, uint64_t after_seq, uint64_t upto_seq,
    int (*fn)(void *arg, const struct store_event *ev), void *arg,
    uint64_t *count);

/**
 * struct store_reader - a read connection of its own for replay reads
 * (events, checkpoints, ancestry), so another thread (a recovery worker,
 * a fork's replay) reads beside the loop thread's connection.
 */
struct store_reader;

/**
 * store_reader_open - open a reader on @s's database
 * @s: the store (open until every reader is closed)
 * @out: receives the reader
 * Context: any thread; afterwards the reader belongs to one thread at a
 * time (it may be handed from thread to thread, never shared).
 * Return: STORE_OK, STORE_UNAVAILABLE (store_errmsg() says why).
 */
enum store_status store_reader_open(struct store *s, struct store_reader **out);

/** store_reader_close - close @r (NULL is fine) */
void store_reader_close(struct store_reader *r);

/**
 * store_main_reader - the reader on @s's own read connection (the loop
 * thread's); its calls behave as the store_foreach_event_after() family
 */
struct store_reader *store_main_reader(struct store *s);

/** store_reader_errmsg - the message of @r's last failed call */
const char *store_reader_errmsg(const struct store_reader *r);

/* As store_foreach_event_after() and store_checkpoint_get(), on @r. */
enum store_status store_reader_events(struct store_reader *r, uint64_t machine,
                                      uint64_t after_seq, uint64_t upto_seq,
                                      int (*fn)(void *arg,
                                                const struct store_event *ev),
                                      void *arg, uint64_t *count);
enum store_status store_reader_checkpoint(struct store_reader *r,
                                          uint64_t machine, uint64_t at_most,
                                          uint64_t *seq, void **blob,
                                          size_t *len);

/**
 * store_reader_parent - machine @id's parent and parent_seq (0, 0 for a
 * machine that is no clone or fork)
 * Return: STORE_OK, STORE_NOT_FOUND (no row: purged or never committed),
 * STORE_UNAVAILABLE.
 */
enum store_status store_reader_parent(struct store_reader *r, uint64_t id,
                                      uint64_t *parent, uint64_t *parent_seq);

/**
 * store_max_machine_id - the largest machine id ever committed
 * @s: the store
 * @id: receives it, 0 if none; purged machines still count
 * Context: reads only.  Ids reserved but not yet committed are not seen.
 * Return: STORE_OK, STORE_UNAVAILABLE.
 */
enum store_status store_max_machine_id(struct store *s, uint64_t *id);

/* ------------------------------------------------------------------ */
/* Retention                                                           */
/* ------------------------------------------------------------------ */

/**
 * store_purge - delete the histories of machines destroyed long enough ago
 * @s: the store
 * @tenant: only this tenant's machines; NULL: every tenant's
 * @older_than_ms: keep machines destroyed within this many ms of @now_ms
 * @now_ms: the current unix time in ms
 * @purged: receives the number of machines whose row and events were
 * deleted (may be NULL)
 * @events: receives the number of events deleted with them (may be NULL)
 * Context: runs on the writer's connection between two batches, and blocks
 * until it is done (one transaction).  Live machines and machines destroyed
 * at or after @now_ms - @older_than_ms are kept, and so is every ancestor
 * (store_submit_machine_fork()) of a kept machine.  Vacuum strategy: new
 * databases are created with auto_vacuum=INCREMENTAL, and after a purge
 * that deleted something the writer runs PRAGMA incremental_vacuum, which
 * moves the freed pages to the end of the file and truncates it, giving the
 * space back to the file system without the full rewrite of VACUUM.  Pages
 * freed but not yet vacuumed (and pages in a database created with
 * auto_vacuum off) are reused by later inserts.
 * Return: STORE_OK, STORE_UNAVAILABLE (store_errmsg() says why; nothing
 * was deleted).
 */
enum store_status store_purge(struct store *s, const char *tenant,
                              int64_t older_than_ms, int64_t now_ms,
                              uint64_t *purged, uint64_t *events);

/**
 * store_purge_r - store_purge() for any thread (the daemon's purge
 * workers): the same work and results, but a failure's message goes to
 * @err (@errsz bytes) and store_errmsg() is left as it was
 * Return: as store_purge().
 */
enum store_status store_purge_r(struct store *s, const char *tenant,
                                int64_t older_than_ms, int64_t now_ms,
                                uint64_t *purged, uint64_t *events, char *err,
                                size_t errsz);

/* ------------------------------------------------------------------ */
/* Verification (offline)                                              */
/* ------------------------------------------------------------------ */

/**
 * store_verify - check a whole database file, read-only
 * @path: the database
 * @report: called with one line per problem found (may be NULL)
 * @arg: passed to @report
 * @problems: receives how many were found (may be NULL)
 * @err: receives why the check could not run
 * Context: opens its own read-only connection (a running daemon may have
 * the file open).  Checks PRAGMA integrity_check, every machine row's
 * checksum, every history's seqs and chained checksums, the counts of
 * rows that are exact, and events without a machine row.
 * Return: STORE_OK (the check ran; see @problems), STORE_UNAVAILABLE (the
 * file cannot be read as a database), STORE_INVALID_ARGUMENT (another
 * schema version: an older one must be opened by armmapd first).
 */
enum store_status store_verify(const char *path,
                               void (*report)(void *arg, const char *line),
                               void *arg, uint64_t *problems,
                               char err[STORE_MSG_MAX]);

/* ------------------------------------------------------------------ */
/* Cluster mode (PostgreSQL only: store_pg_cluster.c)                  */
/* ------------------------------------------------------------------ */

/*
 * Several armmapd nodes share one PostgreSQL database (store_options.node
 * set: the nodes share the database's advisory lock instead of holding it
 * alone).  A table `nodes` holds each node's name, epoch (its
 * incarnation), advertised addresses and lease (expires_at, by the
 * database's clock, the only clock); each machine row holds its owner
 * (owner_node, owner_epoch).  A machine is live-owned iff its owner's row
 * has the same epoch and expires_at > now().  In cluster mode the writer
 * checks, inside every write transaction, that this node's row still has
 * its epoch and an unexpired lease, and locks (FOR SHARE) and checks the
 * owner of every machine it writes; a write that fails those checks
 * writes nothing and is reaped STORE_FENCED, naming the machine or node.
 * New machines are owned by this node, and their ids are reserved from
 * the database (a block at a time) so that nodes never hand out the same.
 * On an SQLite store every function here fails with STORE_INVALID_ARGUMENT
 * and "cluster mode needs PostgreSQL".
 */
#define STORE_NODE_MAX 64  /* bytes of a node name */
#define STORE_ADDR_MAX 256 /* bytes of an advertised HOST:PORT */

struct store_node {
    const char *name;         /* 1-64 bytes of [A-Za-z0-9._-] */
    const char *address;      /* binary protocol HOST:PORT */
    const char *http_address; /* HTTP HOST:PORT, or NULL */
    uint32_t lease_ms;        /* the lease a heartbeat renews */
};

/* Who owns a machine, as store_machine_owner() read it. */
struct store_owner {
    bool exists;    /* a row (live or destroyed) */
    bool destroyed; /* destroyed (not purged yet) */
    bool owned;     /* an owner is recorded */
    bool live;      /* that owner's lease is valid at this epoch */
    bool mine;      /* live, and this node at its epoch */
    int64_t epoch;  /* owner_epoch */
    char node[STORE_NODE_MAX + 1];
    char address[STORE_ADDR_MAX];      /* "" if none */
    char http_address[STORE_ADDR_MAX]; /* "" if none */
};

/**
 * store_node_register - (re)register this node: a new incarnation
 * @s: a store opened with store_options.node
 * @n: the node (its name must be store_options.node)
 * @epoch: receives the new epoch (the old one + 1; 1 for a new node)
 * @err: receives why not
 * Context: one round trip on the cluster's connection (the heartbeat's);
 * sets the epoch every later write transaction is fenced by, so writes
 * of machines owned by the old epoch now fail STORE_FENCED.  Call from
 * one thread at a time with store_node_heartbeat().
 * Return: STORE_OK, STORE_UNAVAILABLE (the server failed),
 * STORE_INVALID_ARGUMENT (not in cluster mode).
 */
enum store_status store_node_register(struct store *s,
                                      const struct store_node *n,
                                      int64_t *epoch, char err[STORE_MSG_MAX]);

/**
 * store_node_heartbeat - renew this node's lease (expires_at = now() +
 * lease) if its row still has this node's epoch
 * Context: one round trip on the cluster's connection.
 * Return: STORE_OK, STORE_FENCED (the row has another epoch: replaced;
 * register again), STORE_UNAVAILABLE, STORE_INVALID_ARGUMENT.
 */
enum store_status store_node_heartbeat(struct store *s,
                                       char err[STORE_MSG_MAX]);

/**
 * store_machine_owner - who owns machine @id
 * @o: receives it; o->exists false for no row (never, or purged)
 * Context: one query on the caller's read connection (the loop thread's).
 * Return: STORE_OK, STORE_UNAVAILABLE, STORE_INVALID_ARGUMENT.
 */
enum store_status store_machine_owner(struct store *s, uint64_t id,
                                      struct store_owner *o,
                                      char err[STORE_MSG_MAX]);

/**
 * store_machine_claim - take machine @id for this node if no live node
 * owns it (one conditional UPDATE: of nodes racing, one wins)
 * @won: receives whether this node now owns it
 * Context: the caller's read connection; a claim needs this node's own
 * lease to be valid.  The writer forgets what it knew of @id.
 * Return: STORE_OK (see @won), STORE_UNAVAILABLE, STORE_INVALID_ARGUMENT.
 */
enum store_status store_machine_claim(struct store *s, uint64_t id, bool *won,
                                      char err[STORE_MSG_MAX]);

/* store_machine_owner() and store_machine_claim() on reader @r's own
 * connection (store_reader_open()), for a thread off the loop: a claim
 * waiting for a row lock then stalls only that thread. */
enum store_status store_reader_machine_owner(struct store_reader *r,
                                             uint64_t id, struct store_owner *o,
                                             char err[STORE_MSG_MAX]);
enum store_status store_reader_machine_claim(struct store_reader *r,
                                             uint64_t id, bool *won,
                                             char err[STORE_MSG_MAX]);

/* ------------------------------------------------------------------ */
/* Copying a database (store_copy.c)                                   */
/* ------------------------------------------------------------------ */

/**
 * store_set_next_id - the next machine store_submit_machine_create() or
 * _fork() reserves on @s gets id @id (for store_copy(), which keeps ids)
 * Context: the submitting thread; PostgreSQL outside cluster mode only.
 * Return: STORE_OK; STORE_INVALID_ARGUMENT (@id below the next id, id 0,
 * or a backend that cannot: store_errmsg() says which).
 */
enum store_status store_set_next_id(struct store *s, uint64_t id);

/* What store_copy() copied. */
struct store_copy_counts {
    uint64_t machines, destroyed, events, checkpoints, rkeys;
};

/**
 * store_copy - copy the SQLite database @from into the empty PostgreSQL
 * database @to: every machine row (ids, tenants, names, configs, times,
 * forks and clones, destroyed ones), every event (each history's checksum
 * chain verified as it is read), every checkpoint and every request key
 * @from: an SQLite database file (no daemon may have it open)
 * @to: a postgresql:// database string, whose store holds no machine
 * @n: receives what was copied (may be NULL)
 * @err: receives why not
 * Context: runs store_verify() on @from first and refuses any problem;
 * reads @from through the store's read calls and writes @to through its
 * submit calls under one store_hold(), so the target's writer commits the
 * whole copy in one transaction (it holds the copy in memory until then).
 * The target recomputes every checksum itself.
 * Return: STORE_OK; STORE_CORRUPT (@from fails verification, its first
 * problem, naming machine and seq, in @err); STORE_ALREADY_EXISTS (@to
 * not empty); STORE_INVALID_ARGUMENT (@from not SQLite, @to not
 * PostgreSQL); STORE_UNAVAILABLE (either cannot be opened or written).
 */
enum store_status store_copy(const char *from, const char *to,
                             struct store_copy_counts *n,
                             char err[STORE_MSG_MAX]);

#ifdef __cplusplus
}
#endif

#endif /* ARMMAP_STORE_STORE_H */
