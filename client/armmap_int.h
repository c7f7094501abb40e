/* client/armmap_int.h - internals shared by the files of libarmmap.
 *
 * Only the files of client/ include this.  It defines struct armmap_conn and
 * the framing layer every call is built on: armmap__queue() packs a Request
 * into the connection's write buffer, armmap__wait() drives the socket in
 * both directions until the reply with a given id is in, armmap__next()
 * until any reply is.  Replies that arrive for another id than the one
 * waited for are stashed, in arrival order, for a later wait.
 */
#ifndef ARMMAP_CLIENT_ARMMAP_INT_H
#define ARMMAP_CLIENT_ARMMAP_INT_H

#include "armmap.h"
#include "armmap.pb-c.h"

#define ARMMAP__PEERS  16  /* connections to other nodes kept */
#define ARMMAP__ROUTES 256 /* machine -> owner remembered */
#define ARMMAP__HOPS   4   /* redirects one call follows */
#define ARMMAP__KEYS   32  /* random keys read at once */

/* A machine's owner node, as a MOVED reply named it. */
struct armmap__route {
    uint64_t machine; /* 0: unused */
    uint64_t used;    /* LRU clock */
    char owner[128];  /* "HOST:PORT" */
};

struct armmap_conn {
    int fd;
    int io_timeout_ms;     /* per wait on the socket; < 0 forever */
    uint32_t wait_ms;      /* longest kmap wait in flight: added to waits */
    uint32_t max_frame;    /* largest reply accepted */
    unsigned max_inflight; /* pipelining window */
    unsigned inflight;     /* requests queued, reply not taken */
    uint64_t next_id;
    bool dead;     /* an I/O or framing error happened */
    uint8_t *wbuf; /* bytes to write: [woff, wlen) */
    size_t woff, wlen, wcap;
    uint8_t *rbuf; /* bytes read: [roff, rlen) */
    size_t roff, rlen, rcap;
    Armmap__V1__Response **stash; /* replies not yet asked for */
    size_t nstash, stash_cap;
    char errmsg[ARMMAP_ERR_MAX];
    char server[64];
    /* Reconnecting and redirecting (conn.c): how it was connected. */
    struct armmap_options opt; /* its strings below */
    char *tenant, *token_file; /* copies; NULL if none */
    char addr[256];            /* the socket path or HOST:PORT */
    bool tcp;
    /* Request keys. */
    uint64_t next_key; /* armmap_set_request_key() */
    uint64_t last_key;
    uint64_t keys[ARMMAP__KEYS];
    unsigned nkeys; /* unused ones at the end of @keys */
    /* Other nodes (a base connection's only; a peer's are NULL). */
    struct armmap_conn *peers[ARMMAP__PEERS];
    uint64_t peer_used[ARMMAP__PEERS];
    struct armmap__route *routes; /* ARMMAP__ROUTES, or NULL */
    uint64_t clock;
    /* Pipelined requests naming a machine, packed, until their reply is
     * taken (max_inflight slots, the oldest reused): resent to the owner
     * when the reply is MOVED. */
    struct armmap__kept *kept;
};

struct armmap__kept {
    uint64_t id; /* 0: free */
    uint8_t *buf;
    size_t len, cap;
};

/* After @conn (a pipeline) was lost: if every request outstanding on it
 * is kept and safe to send again (a read, or a change with a request
 * key), reconnects (backing off, within retry_ms) and resends them all in
 * order under their own ids.  Return: ARMMAP_OK (resent: wait for the
 * replies again), else the status the caller had (nothing done). */
enum armmap_status armmap__pipeline_resume(struct armmap_conn *conn,
                                           enum armmap_status st);

/* Forgets the kept copy of request @id (its reply was taken). */
void armmap__kept_drop(struct armmap_conn *conn, uint64_t id);

/* A MOVED reply @resp (owner named) to pipelined request @resp->id: the
 * kept request is sent to the owner as armmap__exchange() does (further
 * hops, routes, peers) and its reply, given @resp's id, replaces *@resp.
 * Return: false (nothing changed) if no copy was kept or it could not be
 * resent; @resp is then answered as it came. */
bool armmap__resend_moved(struct armmap_conn *conn,
                          Armmap__V1__Response **resp);

/* Gives @req (a change without one) the key armmap_set_request_key() set,
 * else, if @fresh (a synchronous call, which libarmmap resends itself), a
 * fresh random one; a pipelined change without a set key goes unkeyed. */
void armmap__key(struct armmap_conn *conn, Armmap__V1__Request *req,
                 bool fresh);

/* Sends @req and waits for its reply, following MOVED to the owner and
 * resending after a lost connection (see armmap.h); *@out the reply. */
enum armmap_status armmap__exchange(struct armmap_conn *conn,
                                    Armmap__V1__Request *req,
                                    Armmap__V1__Response **out);

/* Sets conn->errmsg (printf-style) and returns @st (marking the
 * connection dead for IO, TIMEOUT and PROTOCOL).  A macro, so that the
 * status is visible where it is returned (to clang's static analyzer too,
 * which does not follow a variadic call's return value). */
#define armmap__fail(conn, st, ...) \
    (armmap__failf((conn), (st), __VA_ARGS__), (st))
void armmap__failf(struct armmap_conn *conn, enum armmap_status st,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Formats into @err (ARMMAP_ERR_MAX bytes) unless it is NULL (names.c). */
void armmap__set_err(char err[ARMMAP_ERR_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Assigns @req an id and appends its frame to the write buffer.  Fails
 * with RESOURCE_EXHAUSTED when the window is full (unless @force). */
enum armmap_status armmap__queue(struct armmap_conn *conn,
                                 Armmap__V1__Request *req, bool force,
                                 uint64_t *id);

/* Writes what the socket takes now, without waiting. */
enum armmap_status armmap__flush_some(struct armmap_conn *conn);
/* As armmap__flush_some(), once enough is queued to be worth a send(). */
enum armmap_status armmap__flush_if_full(struct armmap_conn *conn);

/* Waits for the reply to @id (writing queued requests meanwhile). */
enum armmap_status armmap__wait(struct armmap_conn *conn, uint64_t id,
                                Armmap__V1__Response **out);

/* Waits for the next reply, whatever its id. */
enum armmap_status armmap__next(struct armmap_conn *conn,
                                Armmap__V1__Response **out);

/* Waits for the next reply and hands out its frame's body, consumed but
 * valid until the next call on @conn; *@body NULL when replies are stashed
 * (then use armmap__next()). */
enum armmap_status armmap__next_raw(struct armmap_conn *conn,
                                    const uint8_t **body, size_t *len);

/* A zeroed translate result of @n entries in one block (calls.c). */
struct armmap_translate_result *armmap__result_block(size_t n, bool walk);

/* The status of a reply: its op or batch's own status is the op's. */
enum armmap_status armmap__reply_status(struct armmap_conn *conn,
                                        const Armmap__V1__Response *resp);

/* Conversions from wire to public structs (calls.c). */
void armmap__op_result_from(struct armmap_op_result *dst,
                            const Armmap__V1__OpResult *src);
enum armmap_status armmap__translate_from(
    struct armmap_conn *conn, const Armmap__V1__TranslateResult *src, size_t n,
    bool walk, struct armmap_translate_result **out);
/* The reply frame body [p, p + len) to request @id as armmapd writes a
 * successful phys reply (id, an OK status, the PhysResult), decoded into
 * *@out by hand.  False for any other shape (an error, too): then the
 * general path decodes it.  *@out stays NULL and true is returned if
 * memory ran out.  Whatever it accepts, it decodes as protobuf-c and
 * armmap__phys_from() do (tests/fuzz/fuzz_codec.c holds it to that). */
bool armmap__phys_fast(const uint8_t *p, size_t len, uint64_t id,
                       struct armmap_phys_result **out);
/* armmap_recv()'s fast path: the common replies (an OK pong, op result or
 * translation without walks) decoded straight from the frame's @len body
 * bytes.  NULL for anything else, or if memory ran out: the general path
 * then decodes it.  Whatever it accepts, it decodes as protobuf-c does
 * (tests/fuzz/fuzz_codec.c holds it to that). */
struct armmap_reply *armmap__reply_fast(const uint8_t *body, size_t len);
/* A phys result from the decoded message @pr (the general path); NULL if
 * memory ran out. */
struct armmap_phys_result *armmap__phys_from(const Armmap__V1__PhysResult *pr);
/* Fills a wire Op from a public op (borrowing its args). */
void armmap__op_to(Armmap__V1__Op *dst, uint64_t machine,
                   const struct armmap_op *op);

/* Builds a Batch request body borrowing @ops' args; *@wops and *@wptrs
 * are the caller's to free.  Returns false if host memory ran out. */
bool armmap__batch_build(Armmap__V1__Batch *b, uint64_t machine,
                         const struct armmap_op *ops, size_t n, bool stop,
                         Armmap__V1__Op **wops, Armmap__V1__Op ***wptrs);

#endif /* ARMMAP_CLIENT_ARMMAP_INT_H */
