/* client/armmap.h - libarmmap, the C client library of armmapd.
 *
 * A struct armmap_conn is one connection to armmapd over a Unix or TCP
 * socket.  Every request is a 4-byte big-endian length followed by one
 * armmap.v1.Request; every reply the same with an armmap.v1.Response
 * (proto/armmap.proto).  The library knows only that wire format and the
 * socket: it never links the engine.
 *
 * Two ways to talk:
 * - one blocking call per operation (armmap_ping(), armmap_create(),
 *   armmap_kmap(), armmap_translate(), ...), each returning an
 *   enum armmap_status equal in value to the wire's Code, with the daemon's
 *   message kept in the connection (armmap_errmsg());
 * - pipelining: armmap_send_*() queue requests (at most max_inflight at a
 *   time) and armmap_recv() returns replies as they come, matched by id;
 *   armmap_translate_stream() uses this to keep the socket busy in both
 *   directions while translating millions of addresses.
 *
 * Results are plain C structs.  Fixed-size ones are filled in place; the
 * variable-sized ones are allocated by the library, owned by the caller and
 * freed with the named *_free() function (each accepts NULL).
 *
 * Threads: there is no global state; a connection must be used by one
 * thread at a time (one connection per thread).  The library ignores
 * SIGPIPE on its sockets (MSG_NOSIGNAL) and never calls exit().
 */
#ifndef ARMMAP_CLIENT_ARMMAP_H
#define ARMMAP_CLIENT_ARMMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libarmmap is built with -fvisibility=hidden: what this header declares is
 * its whole exported API (libarmmap.map versions it). */
#pragma GCC visibility push(default)

#define ARMMAP_ERR_MAX           512 /* error message buffers */
#define ARMMAP_MSG_MAX           512 /* per-operation messages */
#define ARMMAP_MAX_ZONES         4
#define ARMMAP_MAX_WALK_STEPS    4
#define ARMMAP_MAX_CODES         16 /* errors_by_code entries kept */
#define ARMMAP_DEFAULT_TENANT    "default"
#define ARMMAP_DEFAULT_MAX_FRAME (64u << 20)

/*
 * Status of every call.  0..12 equal the wire's Code (and the engine's
 * enum mm_status); the codes from 20 on are produced by the library itself
 * for failures on this side of the socket.
 */
enum armmap_status {
    ARMMAP_OK = 0,
    ARMMAP_INVALID_ARGUMENT = 1,
    ARMMAP_NOT_FOUND = 2,
    ARMMAP_ALREADY_EXISTS = 3,
    ARMMAP_NO_MEMORY = 4,   /* the emulated machine is out of memory */
    ARMMAP_WOULD_BLOCK = 5, /* the real kernel would sleep (pkmap full) */
    ARMMAP_FAULT = 6,       /* translation, domain or permission fault */
    ARMMAP_ORDER = 7,       /* kunmap_atomic out of stack order */
    ARMMAP_PERMISSION_DENIED = 8,
    ARMMAP_UNAUTHENTICATED = 9,
    /* a limit, named in the message: a daemon setting, the client's
     * pipelining window, or the engine's per-CPU kmap_atomic stack depth
     * (KM_TYPE_NR; the real kernel BUG()s there) */
    ARMMAP_RESOURCE_EXHAUSTED = 10,
    ARMMAP_UNAVAILABLE = 11, /* the store is failing */
    ARMMAP_INTERNAL = 12,
    ARMMAP_MOVED = 13, /* another cluster node owns the machine */
    /* Client-side failures: */
    ARMMAP_NO_SOCKET = 20,     /* the socket path does not exist / bad host */
    ARMMAP_REFUSED = 21,       /* nobody listens there */
    ARMMAP_TIMEOUT = 22,       /* connect or I/O timeout expired */
    ARMMAP_IO = 23,            /* read/write failed or the daemon hung up */
    ARMMAP_PROTOCOL = 24,      /* malformed or oversized frame, bad reply */
    ARMMAP_CANCELLED = 25,     /* a caller's callback stopped the call */
    ARMMAP_NO_HOST_MEMORY = 26 /* malloc failed in the client */
};

/* Wire OpCode values. */
enum armmap_opcode {
    ARMMAP_OP_NONE = 0,
    ARMMAP_OP_ALLOC = 1,             /* args: zone, order        value: pfn */
    ARMMAP_OP_FREE = 2,              /* args: pfn, order */
    ARMMAP_OP_KMAP = 3,              /* args: pfn                value: va */
    ARMMAP_OP_KUNMAP = 4,            /* args: pfn */
    ARMMAP_OP_KMAP_ATOMIC = 5,       /* args: pfn [, slot]       value: va */
    ARMMAP_OP_KUNMAP_ATOMIC = 6,     /* args: va                 value: pfn */
    ARMMAP_OP_VMALLOC = 7,           /* args: size               value: va */
    ARMMAP_OP_VFREE = 8,             /* args: va */
    ARMMAP_OP_VMAP = 9,              /* args: pfn...             value: va */
    ARMMAP_OP_VUNMAP = 10,           /* args: va */
    ARMMAP_OP_IOREMAP = 11,          /* args: phys, size         value: va */
    ARMMAP_OP_IOUNMAP = 12,          /* args: va */
    ARMMAP_OP_MODULE_ALLOC = 13,     /* args: size               value: va */
    ARMMAP_OP_MODULE_FREE = 14,      /* args: va */
    ARMMAP_OP_KMAP_FLUSH = 15,       /* kmap_flush_unused() */
    ARMMAP_OP_MODULE_ENABLE_RO = 16, /* args: va, text, ro  value: pages */
    ARMMAP_OP_COUNT
};

enum armmap_zone {
    ARMMAP_ZONE_DMA = 0,
    ARMMAP_ZONE_NORMAL = 1,
    ARMMAP_ZONE_HIGHMEM = 2
};

/* Wire ReportKind values. */
enum armmap_report {
    ARMMAP_REPORT_LAYOUT = 0,
    ARMMAP_REPORT_MEMORY,
    ARMMAP_REPORT_IOMEM,
    ARMMAP_REPORT_BUDDYINFO,
    ARMMAP_REPORT_MEMINFO,
    ARMMAP_REPORT_VMALLOCINFO,
    ARMMAP_REPORT_PKMAP,
    ARMMAP_REPORT_FIXMAP,
    ARMMAP_REPORT_PAGETABLES,
    ARMMAP_REPORT_REGIONS,
    ARMMAP_REPORT_ZONEINFO,
    ARMMAP_REPORT_COUNT
};

#define ARMMAP_ACC_READ  0x1
#define ARMMAP_ACC_WRITE 0x2
#define ARMMAP_ACC_EXEC  0x4
#define ARMMAP_ACC_USER  0x8

#define ARMMAP_RES_DISPLACED 0x1 /* OpResult flags */
#define ARMMAP_RES_WAKE      0x2
#define ARMMAP_RES_FLUSHED   0x4

/* ------------------------------------------------------------------ */
/* Names and parsing helpers (no connection needed)                    */
/* ------------------------------------------------------------------ */

/* "OK", "WOULD_BLOCK", "NO_SOCKET", ...; "UNKNOWN" for other values. */
const char *armmap_strerror(enum armmap_status st);
/* "alloc", "kmap_atomic", ...; NULL out of range. */
const char *armmap_op_name(enum armmap_opcode op);
/* Parses an op name, '-' and '_' alike; ARMMAP_OP_NONE if unknown. */
enum armmap_opcode armmap_op_lookup(const char *name);
/* Region byte of a translation as text: "gap", "user", "lowmem", ... */
const char *armmap_region_name(unsigned region);
/* Fault byte of a translation: "translation-l1", ...; "none" for 0. */
const char *armmap_fault_name(unsigned fault);
/* "layout", "memory", "iomem", "buddyinfo", "meminfo", "vmallocinfo",
 * "pkmap", "fixmap", "pagetables"; lookup returns false if unknown. */
const char *armmap_report_name(enum armmap_report r);
bool armmap_report_lookup(const char *name, enum armmap_report *out);

/**
 * armmap_parse_u32 - parse a 32-bit number, hex with 0x or decimal
 * @what: names the value in @err, e.g. "pfn".
 * Return: true with *@out set, or false with @err naming @what and @text
 * ("bad pfn 'xyz': not a number", "... out of range (max 0xffffffff)").
 */
bool armmap_parse_u32(const char *text, const char *what, uint32_t *out,
                      char err[ARMMAP_ERR_MAX]);

/**
 * armmap_parse_u64 - as armmap_parse_u32() for 64-bit values (ids, seqs).
 */
bool armmap_parse_u64(const char *text, const char *what, uint64_t *out,
                      char err[ARMMAP_ERR_MAX]);

/**
 * armmap_parse_size - parse a size: a number with an optional K, M or G
 * suffix (powers of 1024), at most 4 GiB - 1.
 * Return: true with *@out set, or false with @err naming @what and @text.
 */
bool armmap_parse_size(const char *text, const char *what, uint32_t *out,
                       char err[ARMMAP_ERR_MAX]);

/**
 * armmap_parse_duration_ms - parse an age: a number with an s, m, h or d
 * suffix (seconds if none), into milliseconds.
 * Return: true, or false with @err naming @text.
 */
bool armmap_parse_duration_ms(const char *text, uint64_t *out,
                              char err[ARMMAP_ERR_MAX]);

/**
 * armmap_parse_access - parse an access string of the letters r, w, x, u
 * (any order, each once at most; "" or "-" is a plain lookup).
 * Return: true with *@out the ARMMAP_ACC_* bits, or false with @err.
 */
bool armmap_parse_access(const char *text, unsigned *out,
                         char err[ARMMAP_ERR_MAX]);

/**
 * armmap_km_type_lookup - the 2.6 enum km_type slot called @name
 * Only the names every 2.6 ARM kernel shares (KM_BOUNCE_READ .. KM_SOFTIRQ1)
 * are known; numbers are accepted by the CLI too.
 * Return: the slot number, or -1 if unknown.
 */
int armmap_km_type_lookup(const char *name);

/* One operation, for armmap_op() and armmap_batch(). */
struct armmap_op {
    enum armmap_opcode code;
    uint32_t cpu; /* kmap_atomic / kunmap_atomic */
    uint32_t nargs;
    const uint32_t *args; /* borrowed: meaning per opcode */
    uint32_t wait_ms;     /* kmap only: wait for a pkmap slot */
};

#define ARMMAP_LINE_MAX_ARGS 1024 /* vmap of at most 1024 pages */

/* A parsed batch line: an op with its own argument storage. */
struct armmap_op_line {
    struct armmap_op op; /* op.args points into args below */
    uint32_t args[ARMMAP_LINE_MAX_ARGS];
    bool empty; /* blank or comment: no op */
};

/**
 * armmap_parse_op_line - parse one batch line as the CLI's op commands
 * name them, without the machine: "kmap 0x9f000", "vmalloc 16K",
 * "alloc --zone highmem --order 2", "kmap-atomic 0x9f000 --cpu 1",
 * "kunmap-atomic 0xffef0000 --cpu 1", "vmap 0x9f000 0x9f001".  '#' starts
 * a comment; blank lines give @out->empty.
 * Return: true, or false with @err naming the word that was wrong.
 */
bool armmap_parse_op_line(const char *line, struct armmap_op_line *out,
                          char err[ARMMAP_ERR_MAX]);

/**
 * armmap_parse_op_argv - as armmap_parse_op_line() from words already split
 * (argv[0] is the op name).
 */
bool armmap_parse_op_argv(int argc, char **argv, struct armmap_op_line *out,
                          char err[ARMMAP_ERR_MAX]);

/**
 * armmap_format_op - write @op as a batch line armmap_parse_op_line()
 * reads back: "kmap 0x9f000", "alloc --zone highmem --order 2", ...
 * Return: the length it needs (as snprintf); @buf is always terminated.
 */
size_t armmap_format_op(const struct armmap_op *op, char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

struct armmap_conn; /* opaque */

/* Passed by value to armmap_connect_*(); zero fields take the default. */
struct armmap_options {
    const char *tenant;     /* NULL: "default" */
    const char *token_file; /* NULL: no token; else its bytes
                             * (a trailing newline dropped) */
    int connect_timeout_ms; /* 0: 5000 */
    int io_timeout_ms;      /* 0: 30000; < 0: wait forever */
    uint32_t max_frame;     /* 0: 64 MiB; bigger replies fail */
    unsigned max_inflight;  /* 0: 64 pipelined requests */
    /* Added in ARMMAP_1 (libarmmap.map): a call whose connection is lost
     * while it waits reconnects to the same address (same Hello) and
     * sends the request again, with the same request key for a change,
     * for up to this long.  0: 30000; < 0 (ARMMAP_RETRY_OFF): never. */
    int retry_ms;
};

#define ARMMAP_RETRY_OFF (-1)

/*
 * Idempotent changes, redirects, retries (ABI version ARMMAP_1).
 *
 * Every change a synchronous call sends (create, destroy, op, batch, fork,
 * clone) carries a request key: a fresh random 64-bit number (getrandom),
 * or the one armmap_set_request_key() set for the next change.  A
 * pipelined change (armmap_send_*) carries one only when it was set: a
 * keyed change costs armmapd a remembered reply (about twice the CPU of
 * an unkeyed one), and libarmmap resends a pipelined change after a lost
 * connection only when it is keyed (see below).  armmapd answers a
 * change sent again with a key it has seen on that machine (or, for create
 * and destroy, for that tenant) with the first answer, applying nothing.
 *
 * A synchronous call answered ARMMAP_MOVED (a cluster node that does not
 * own the machine) is sent again, same key, to the owner the reply names,
 * over a connection of this one's (same tenant and token; at most 16 kept,
 * and the last 256 machines' owners remembered), at most 4 hops; the
 * caller sees the owner's answer.  A synchronous call whose connection is
 * lost while it waits (the node died or restarted) reconnects and resends
 * within retry_ms.  Pipelined requests (armmap_send_*) naming a machine
 * are copied (up to 64 KiB each) until armmap_recv() takes their reply:
 * a reply ARMMAP_MOVED is followed as for a synchronous call (the request
 * resent to the owner, when its reply is taken, so requests of one
 * machine go in order) and armmap_recv() gives the owner's reply under
 * the id the send returned.  When the connection is lost and every
 * request outstanding on it is a read or a keyed change, armmap_recv()
 * reconnects (within retry_ms) and resends them all in order under their
 * ids; otherwise (an unkeyed change outstanding, a ping, a request over
 * 64 KiB) it returns ARMMAP_IO as before, and the caller resends.
 */

/**
 * armmap_set_request_key - the request key of the next change sent on
 * @conn (then back to fresh random keys); 0 cancels.  A caller retrying a
 * change on its own, on any connection, sends it with the same key.
 */
void armmap_set_request_key(struct armmap_conn *conn, uint64_t key);

/**
 * armmap_last_request_key - the key the last keyed change sent on @conn
 * carried (0 if none yet).
 */
uint64_t armmap_last_request_key(const struct armmap_conn *conn);

/**
 * armmap_connect_unix - connect to armmapd's Unix socket at @path and Hello
 * @opt: options by value (zero-initialise for the defaults).
 * @out: receives the connection; free it with armmap_close().
 * @err: receives the reason on failure.
 * Return: ARMMAP_OK; ARMMAP_NO_SOCKET (no such file), ARMMAP_REFUSED (no
 * daemon listening), ARMMAP_TIMEOUT, ARMMAP_IO, ARMMAP_INVALID_ARGUMENT
 * (path too long, token file unreadable), ARMMAP_PROTOCOL, or the daemon's
 * code if it rejects the Hello (e.g. ARMMAP_UNAUTHENTICATED) with its
 * message in @err.
 */
enum armmap_status armmap_connect_unix(const char *path,
                                       struct armmap_options opt,
                                       struct armmap_conn **out,
                                       char err[ARMMAP_ERR_MAX]);

/**
 * armmap_connect_tcp - as armmap_connect_unix() to "HOST:PORT" over TCP
 * ("[::1]:7070" for IPv6).  An unknown host gives ARMMAP_NO_SOCKET.
 */
enum armmap_status armmap_connect_tcp(const char *hostport,
                                      struct armmap_options opt,
                                      struct armmap_conn **out,
                                      char err[ARMMAP_ERR_MAX]);

/* Closes the socket and frees @conn; armmap_close(NULL) does nothing. */
void armmap_close(struct armmap_conn *conn);

/* The message of the last failed call on @conn ("" after a success);
 * valid until the next call on @conn. */
const char *armmap_errmsg(const struct armmap_conn *conn);

/* The daemon's name and version from its HelloReply, e.g. "armmapd 0.1". */
const char *armmap_server(const struct armmap_conn *conn);

/* ------------------------------------------------------------------ */
/* Result structs                                                      */
/* ------------------------------------------------------------------ */

/* Buddy orders a zone can have: 11 (MAX_ORDER) in most kernels, 12 on
 * Debian's 6.1 armmp reference (ARCH_FORCE_MAX_ORDER). */
#define ARMMAP_MAX_ORDERS 12

struct armmap_zone_info {
    char name[16]; /* "DMA", "Normal", "HighMem" */
    uint32_t start_pfn, end_pfn;
    uint32_t present, managed, free;
    unsigned nr_orders;                  /* the machine's buddy orders */
    uint32_t nr_free[ARMMAP_MAX_ORDERS]; /* free blocks per order; 0 from
                                            nr_orders on */
};

/* A kmap waiting for a pkmap slot (armmap_op's wait_ms). */
struct armmap_parked_kmap {
    uint32_t pfn;
    uint32_t cpu;
};

struct armmap_machine {
    uint64_t id;
    char *name; /* never NULL ("" if none) */
    char *tenant;
    char *config; /* canonical "key=value\n" lines */
    uint64_t seq;
    int64_t created_ms;
    unsigned nzones;
    struct armmap_zone_info zones[ARMMAP_MAX_ZONES];
    uint32_t pkmap_in_use, pkmap_flushes, tlb_flushes;
    uint32_t vmalloc_areas, vmalloc_pages, pte_pages;
    uint64_t host_bytes;
    char *broken;          /* "" unless the machine oopsed */
    uint64_t events;       /* list only */
    uint32_t parked_kmaps; /* describe only: kmaps waiting for a slot */
    struct armmap_parked_kmap *parked; /* parked_kmaps of them, oldest
                                          first; NULL if none */
};

struct armmap_machine_list {
    size_t n;
    struct armmap_machine *items;
};

struct armmap_preset {
    char *name;
    char *summary;
};

struct armmap_preset_list {
    size_t n;
    struct armmap_preset *items;
};

/* One config key, as the create flags name it. */
struct armmap_setting {
    const char *key; /* "ram", "kernel", "consistent_dma", ... */
    const char *value;
};

struct armmap_op_result {
    enum armmap_status status;
    uint32_t value; /* per opcode: pfn, va, pages... */
    uint32_t aux;
    uint32_t flags;           /* ARMMAP_RES_* */
    uint64_t seq;             /* 0 if it failed */
    char msg[ARMMAP_MSG_MAX]; /* the error; "" on success */
};

struct armmap_walk_step {
    uint32_t level;
    char kind[24];       /* "fault", "page table", "section", ... */
    uint32_t addr, desc; /* descriptor address and value */
    uint32_t domain, ap, tex;
    bool c, b, s, ng, xn;
    uint32_t next;
};

struct armmap_walk {
    unsigned nsteps;
    struct armmap_walk_step steps[ARMMAP_MAX_WALK_STEPS];
    char *text; /* the engine's rendering */
};

struct armmap_translate_result {
    size_t n;
    uint32_t *pa;              /* n entries */
    uint8_t *fault;            /* n entries: 0 translated */
    uint8_t *region;           /* n entries: armmap_region_name() */
    struct armmap_walk *walks; /* n entries when asked, else NULL */
};

struct armmap_aliases {
    size_t n;
    uint32_t *va;
    uint8_t *region;
};

struct armmap_phys_result {
    size_t n; /* one per physical address asked */
    struct armmap_aliases *items;
};

/* History filters; zero fields filter nothing. */
struct armmap_history_query {
    uint64_t since_seq, until_seq; /* inclusive */
    enum armmap_opcode op;
    uint32_t addr_lo, addr_hi;
    uint32_t limit;
    bool newest_first;
    uint64_t after_seq; /* paging cursor */
};

struct armmap_event {
    uint64_t seq;
    int64_t time_ms;
    enum armmap_opcode op;
    uint32_t cpu;
    size_t nargs;
    uint32_t *args;
    struct armmap_op_result result;
};

struct armmap_op_count {
    enum armmap_opcode op;
    uint64_t count;
};

struct armmap_history {
    size_t n;
    struct armmap_event *events;
    uint64_t next_after_seq; /* 0: no more pages */
    size_t ncounts;
    struct armmap_op_count *counts;
};

struct armmap_stats {
    uint64_t connections, machines, requests, changes, commits;
    uint64_t parked_kmaps, uptime_ms;
    size_t ncodes;
    uint64_t errors_by_code[ARMMAP_MAX_CODES];
};

/* Free functions: each frees everything its argument owns and the struct
 * itself; NULL does nothing. */
void armmap_machine_free(struct armmap_machine *m);
void armmap_machine_list_free(struct armmap_machine_list *l);
void armmap_preset_list_free(struct armmap_preset_list *l);
void armmap_translate_result_free(struct armmap_translate_result *r);
void armmap_phys_result_free(struct armmap_phys_result *r);
void armmap_history_free(struct armmap_history *h);
/* Frees text and byte buffers the library returned (reports, dumps). */
void armmap_free(void *p);

/* ------------------------------------------------------------------ */
/* Blocking calls: one request, one reply                              */
/* ------------------------------------------------------------------ */

/*
 * Unless said otherwise every call below returns ARMMAP_OK or the daemon's
 * code (NOT_FOUND for an unknown machine, INVALID_ARGUMENT,
 * RESOURCE_EXHAUSTED for a daemon limit, UNAVAILABLE, INTERNAL, ...) with
 * its message in armmap_errmsg(), or a client-side code (ARMMAP_TIMEOUT,
 * ARMMAP_IO, ARMMAP_PROTOCOL, ARMMAP_NO_HOST_MEMORY).  After ARMMAP_IO,
 * ARMMAP_TIMEOUT or ARMMAP_PROTOCOL the connection is unusable: close it.
 */

/**
 * armmap_ping - one round trip with no effect
 * @conn: the connection.
 * Context: blocks for one reply.
 * Return: ARMMAP_OK, or a client-side code.
 */
enum armmap_status armmap_ping(struct armmap_conn *conn);

/**
 * armmap_presets - the daemon's machine presets, names and summaries
 * @out: receives the list, the caller's (armmap_preset_list_free()).
 * Return: ARMMAP_OK, or a code as above.
 */
enum armmap_status armmap_presets(struct armmap_conn *conn,
                                  struct armmap_preset_list **out);

/**
 * armmap_create - boot a machine
 * @preset: NULL or "" for the defaults; @settings: @n key/value pairs
 * applied in order; @name: optional label (NULL or "").
 * @out: receives the new machine (armmap_machine_free()); may be NULL.
 * Return: as above; INVALID_ARGUMENT names a bad setting, NOT_FOUND an
 * unknown preset.
 */
enum armmap_status armmap_create(struct armmap_conn *conn, const char *preset,
                                 const struct armmap_setting *settings,
                                 size_t n, const char *name,
                                 struct armmap_machine **out);

/**
 * armmap_destroy - destroy @machine; its history stays until purged
 * Return: ARMMAP_OK; NOT_FOUND if the tenant has no such machine.
 */
enum armmap_status armmap_destroy(struct armmap_conn *conn, uint64_t machine);

/**
 * armmap_list - the tenant's machines, with their event counts
 * @out: receives the list, the caller's (armmap_machine_list_free()).
 * Return: ARMMAP_OK, or a code as above.
 */
enum armmap_status armmap_list(struct armmap_conn *conn,
                               struct armmap_machine_list **out);

/**
 * armmap_describe - one machine in full: config, zones, counters
 * @out: receives the machine, the caller's (armmap_machine_free()); NULL
 * on failure.
 * Return: ARMMAP_OK; NOT_FOUND if the tenant has no such machine.
 */
enum armmap_status armmap_describe(struct armmap_conn *conn, uint64_t machine,
                                   struct armmap_machine **out);

/**
 * armmap_op - apply one operation to @machine
 * @res: receives the result (may be NULL); res->status equals the return.
 * Context: a kmap with wait_ms may take that long to answer.
 * Return: ARMMAP_OK or the engine's code for the op (WOULD_BLOCK, ORDER,
 * NOT_FOUND, INVALID_ARGUMENT, NO_MEMORY, ...), or a code as above.
 */
enum armmap_status armmap_op(struct armmap_conn *conn, uint64_t machine,
                             const struct armmap_op *op,
                             struct armmap_op_result *res);

/*
 * Named wrappers of armmap_op(), one per OpCode, with its arguments
 * spelled out (armmap_free_pages() is OP_FREE: armmap_free() frees
 * memory).  Each returns what armmap_op() returns.
 */
enum armmap_status armmap_alloc(struct armmap_conn *conn, uint64_t machine,
                                enum armmap_zone zone, uint32_t order,
                                struct armmap_op_result *res);
enum armmap_status armmap_free_pages(struct armmap_conn *conn, uint64_t machine,
                                     uint32_t pfn, uint32_t order,
                                     struct armmap_op_result *res);
enum armmap_status armmap_kmap(struct armmap_conn *conn, uint64_t machine,
                               uint32_t pfn, uint32_t wait_ms,
                               struct armmap_op_result *res);
enum armmap_status armmap_kunmap(struct armmap_conn *conn, uint64_t machine,
                                 uint32_t pfn, struct armmap_op_result *res);
/* @slot: a km_type slot on 2.6-style machines, or -1 for none. */
enum armmap_status armmap_kmap_atomic(struct armmap_conn *conn,
                                      uint64_t machine, uint32_t cpu,
                                      uint32_t pfn, int slot,
                                      struct armmap_op_result *res);
enum armmap_status armmap_kunmap_atomic(struct armmap_conn *conn,
                                        uint64_t machine, uint32_t cpu,
                                        uint32_t va,
                                        struct armmap_op_result *res);
enum armmap_status armmap_vmalloc(struct armmap_conn *conn, uint64_t machine,
                                  uint32_t size, struct armmap_op_result *res);
enum armmap_status armmap_vfree(struct armmap_conn *conn, uint64_t machine,
                                uint32_t va, struct armmap_op_result *res);
enum armmap_status armmap_vmap(struct armmap_conn *conn, uint64_t machine,
                               const uint32_t *pfns, uint32_t n,
                               struct armmap_op_result *res);
enum armmap_status armmap_vunmap(struct armmap_conn *conn, uint64_t machine,
                                 uint32_t va, struct armmap_op_result *res);
enum armmap_status armmap_ioremap(struct armmap_conn *conn, uint64_t machine,
                                  uint32_t phys, uint32_t size,
                                  struct armmap_op_result *res);
enum armmap_status armmap_iounmap(struct armmap_conn *conn, uint64_t machine,
                                  uint32_t va, struct armmap_op_result *res);
enum armmap_status armmap_module_alloc(struct armmap_conn *conn,
                                       uint64_t machine, uint32_t size,
                                       struct armmap_op_result *res);
enum armmap_status armmap_module_free(struct armmap_conn *conn,
                                      uint64_t machine, uint32_t va,
                                      struct armmap_op_result *res);
enum armmap_status armmap_kmap_flush(struct armmap_conn *conn, uint64_t machine,
                                     struct armmap_op_result *res);
/* complete_formation() on the module at @va: [0, @text_size) read-only,
 * [@text_size, @ro_size) read-only and not executable, the rest not
 * executable; res->value = read-only pages (0 on builds without
 * STRICT_MODULE_RWX, where nothing changes).  INVALID_ARGUMENT if @va is
 * not a live module_alloc area, the sizes are not page aligned, in order
 * and within the module, or the module is protected already. */
enum armmap_status armmap_module_enable_ro(struct armmap_conn *conn,
                                           uint64_t machine, uint32_t va,
                                           uint32_t text_size, uint32_t ro_size,
                                           struct armmap_op_result *res);

/**
 * armmap_batch - apply @n operations in one round trip
 * @results: room for @n results; *@nresults receives how many were applied
 * (fewer than @n only when @stop_on_error stopped at a failure).
 * Return: ARMMAP_OK when the batch was answered (each result has its own
 * status), or a code for the batch as a whole (NOT_FOUND machine,
 * RESOURCE_EXHAUSTED too many ops, ...).
 */
enum armmap_status armmap_batch(struct armmap_conn *conn, uint64_t machine,
                                const struct armmap_op *ops, size_t n,
                                bool stop_on_error,
                                struct armmap_op_result *results,
                                size_t *nresults);

/**
 * armmap_translate - translate @n virtual addresses in one request
 * @access: ARMMAP_ACC_* bits or 0; @walk: also return every walk.
 * @out: receives the result (armmap_translate_result_free()).
 * Return: ARMMAP_OK (faults are per address, in out->fault), or a code.
 */
enum armmap_status armmap_translate(struct armmap_conn *conn, uint64_t machine,
                                    const uint32_t *va, size_t n,
                                    unsigned access, bool walk,
                                    struct armmap_translate_result **out);

/**
 * armmap_translate_stream - translate an unbounded stream of addresses
 * Sends chunks of up to @chunk addresses (0: 4096), up to the connection's
 * max_inflight chunks ahead, while reading earlier replies; the results
 * reach @sink in input order.
 * @source: fills up to @max addresses into @va; returns how many (0 at the
 * end) or a negative number to stop (the call returns ARMMAP_CANCELLED).
 * @sink: receives @n results; returns false to stop (ARMMAP_CANCELLED).
 * Return: ARMMAP_OK when @source ended and every result reached @sink, or
 * the code of the first failed chunk, or ARMMAP_CANCELLED.
 */
enum armmap_status armmap_translate_stream(
    struct armmap_conn *conn, uint64_t machine, unsigned access, size_t chunk,
    long (*source)(void *arg, uint32_t *va, size_t max),
    bool (*sink)(void *arg, const uint32_t *va, const uint32_t *pa,
                 const uint8_t *fault, const uint8_t *region, size_t n),
    void *arg);

/**
 * armmap_phys - every virtual alias of each of @n physical addresses
 * @out: receives one alias list per address, the caller's
 * (armmap_phys_result_free()).
 * Return: ARMMAP_OK, or a code as above (RESOURCE_EXHAUSTED past the
 * daemon's per-request limit).
 */
enum armmap_status armmap_phys(struct armmap_conn *conn, uint64_t machine,
                               const uint32_t *pa, size_t n,
                               struct armmap_phys_result **out);

/**
 * armmap_phys_stream - armmap_phys() over an unbounded stream of addresses
 * Sends chunks of up to @chunk physical addresses (0: 4096), a few chunks
 * ahead, while reading earlier replies; each chunk's aliases reach @sink
 * in input order (@r is freed when @sink returns).  Needs a connection
 * with no reply pending (else ARMMAP_INVALID_ARGUMENT).
 * @source: fills up to @max addresses into @pa; returns how many (0 at the
 * end) or a negative number to stop (the call returns ARMMAP_CANCELLED).
 * @sink: receives a chunk's addresses and aliases; returns false to stop
 * (ARMMAP_CANCELLED).
 * Return: ARMMAP_OK when @source ended and every result reached @sink, or
 * the code of the first failed chunk, or ARMMAP_CANCELLED.
 */
enum armmap_status armmap_phys_stream(
    struct armmap_conn *conn, uint64_t machine, size_t chunk,
    long (*source)(void *arg, uint32_t *pa, size_t max),
    bool (*sink)(void *arg, const uint32_t *pa,
                 const struct armmap_phys_result *r),
    void *arg);

/**
 * armmap_report - render report @kind exactly as the kernel prints it
 * @text: receives NUL-terminated text, the caller's (armmap_free()).
 * Return: ARMMAP_OK; NOT_FOUND if this kernel version never printed it
 * (the layout block after 5.0; the reason in armmap_errmsg()).
 */
enum armmap_status armmap_report(struct armmap_conn *conn, uint64_t machine,
                                 enum armmap_report kind, char **text);

/**
 * armmap_report_json - report @kind as one JSON object: the same data as
 * armmap_report(), structured (schemas in docs/api-reports.md)
 * @json: receives NUL-terminated JSON text, the caller's (armmap_free()).
 * Return: as armmap_report().
 */
enum armmap_status armmap_report_json(struct armmap_conn *conn,
                                      uint64_t machine, enum armmap_report kind,
                                      char **json);

/**
 * armmap_history - the machine's event log, filtered and paged
 * @q: filters (NULL or zeroed: every event, from the start); to read the
 * next page set q->after_seq to the previous (*out)->next_after_seq.
 * @out: receives the page, the caller's (armmap_history_free()).
 * Return: ARMMAP_OK, or a code as above.
 */
enum armmap_status armmap_history(struct armmap_conn *conn, uint64_t machine,
                                  const struct armmap_history_query *q,
                                  struct armmap_history **out);

/**
 * armmap_fork - a new machine replayed from the first @at_seq events
 * @name: its label (NULL or ""); @out: the new machine (may be NULL;
 * armmap_machine_free()).
 * Return: ARMMAP_OK; NOT_FOUND for an unknown machine; INVALID_ARGUMENT
 * for a sequence number past its history.
 */
enum armmap_status armmap_fork(struct armmap_conn *conn, uint64_t machine,
                               uint64_t at_seq, const char *name,
                               struct armmap_machine **out);

/**
 * armmap_clone - a new machine in @machine's present state
 * @name: its label (NULL or ""); @out: as for armmap_fork().
 * Return: ARMMAP_OK; NOT_FOUND for an unknown machine.
 */
enum armmap_status armmap_clone(struct armmap_conn *conn, uint64_t machine,
                                const char *name, struct armmap_machine **out);

/**
 * armmap_dump - the ELF32 ARM core file of the machine's memory
 * @elf: receives the bytes, the caller's (armmap_free()); @len their count.
 * Return: ARMMAP_OK, or a code as above (ARMMAP_PROTOCOL if the core is
 * larger than the connection's max_frame).
 */
enum armmap_status armmap_dump(struct armmap_conn *conn, uint64_t machine,
                               uint8_t **elf, size_t *len);

/**
 * armmap_stats - the daemon's counters
 * @out: filled in place.
 * Return: ARMMAP_OK, or a client-side code.
 */
enum armmap_status armmap_stats(struct armmap_conn *conn,
                                struct armmap_stats *out);

/**
 * armmap_purge - delete the histories of machines destroyed more than
 * @older_than_ms ago
 * @machines, @events: receive how many went (each may be NULL).
 * Return: ARMMAP_OK, or a code as above.
 */
enum armmap_status armmap_purge(struct armmap_conn *conn,
                                uint64_t older_than_ms, uint64_t *machines,
                                uint64_t *events);

/* ------------------------------------------------------------------ */
/* Pipelining                                                          */
/* ------------------------------------------------------------------ */

enum armmap_reply_kind {
    ARMMAP_REPLY_NONE = 0, /* failed, or a body this API keeps not */
    ARMMAP_REPLY_PONG,
    ARMMAP_REPLY_OP,
    ARMMAP_REPLY_BATCH,
    ARMMAP_REPLY_TRANSLATE
};

struct armmap_reply {
    uint64_t id;               /* the id the send returned */
    enum armmap_status status; /* of the request as a whole */
    char msg[ARMMAP_MSG_MAX];
    enum armmap_reply_kind kind;
    struct armmap_op_result op; /* ARMMAP_REPLY_OP */
    size_t nbatch;              /* ARMMAP_REPLY_BATCH */
    struct armmap_op_result *batch;
    struct armmap_translate_result *translate; /* ARMMAP_REPLY_TRANSLATE */
};

/* Frees a reply from armmap_recv(); NULL does nothing. */
void armmap_reply_free(struct armmap_reply *r);

/**
 * armmap_send_ping, armmap_send_op, armmap_send_batch, armmap_send_translate
 * - queue one request without waiting for its reply
 * @id: receives the request id its reply will carry.
 * Requests are buffered and written when the buffer fills or at the next
 * armmap_recv(); while writing, replies already arriving are read, so a
 * daemon that stops reading us until we read it cannot deadlock us.
 * Return: ARMMAP_OK; ARMMAP_RESOURCE_EXHAUSTED when max_inflight requests
 * are already unanswered (call armmap_recv() first); ARMMAP_IO/TIMEOUT.
 */
enum armmap_status armmap_send_ping(struct armmap_conn *conn, uint64_t *id);
enum armmap_status armmap_send_op(struct armmap_conn *conn, uint64_t machine,
                                  const struct armmap_op *op, uint64_t *id);
enum armmap_status armmap_send_batch(struct armmap_conn *conn, uint64_t machine,
                                     const struct armmap_op *ops, size_t n,
                                     bool stop_on_error, uint64_t *id);
enum armmap_status armmap_send_translate(struct armmap_conn *conn,
                                         uint64_t machine, const uint32_t *va,
                                         size_t n, unsigned access,
                                         uint64_t *id);

/**
 * armmap_recv - wait for the next reply to a pipelined request
 * Replies come in request order except a waiting kmap; match by id.
 * @out: receives the reply (armmap_reply_free()); its status is the
 * request's, while the return is about the connection.
 * Return: ARMMAP_OK; ARMMAP_NOT_FOUND if nothing is in flight; ARMMAP_IO,
 * ARMMAP_TIMEOUT, ARMMAP_PROTOCOL.
 */
enum armmap_status armmap_recv(struct armmap_conn *conn,
                               struct armmap_reply **out);

/* Requests sent and not yet received. */
unsigned armmap_inflight(const struct armmap_conn *conn);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* ARMMAP_CLIENT_ARMMAP_H */
