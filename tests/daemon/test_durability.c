/* tests/daemon/test_durability.c - end-to-end durability of the change log.
 *
 * kill -9: one libarmmap connection pipelines mixed mapping changes at
 * three machines and records every change the daemon ANSWERED as applied
 * (op, arguments, value, seq).  At a pseudo-random moment (fixed seeds,
 * bounded) the test sends SIGKILL to armmapd, reads the replies that had
 * already reached its socket, and restarts the daemon on the same state
 * directory.  Then, per machine:
 *   - every answered change is in the history, same seq, op, args, value;
 *   - the machine's seq is at least its last answered seq;
 *   - the recovered machine equals a replay: a fresh machine of the same
 *     preset is fed the whole history through armmap_batch() (each result
 *     must match the logged one), then the translations of every address
 *     the history ever mapped, and the reports (vmallocinfo, pkmap,
 *     fixmap, buddyinfo, pagetables), are compared.
 *
 * Group commit: four threads, each with its own connection and machine,
 * pipeline 5,000 changes each; all are answered, all are in the history,
 * and the daemon's Stats show fewer commits than changes.
 *
 * The recorded-mismatch case (a tampered event row breaks that machine
 * only) is test_mismatch_at_recovery_breaks_only_that_machine in
 * test_life.c and is not repeated here.
 */
#include "check_daemon.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "armmap.h"

#define NMACH           3
#define MAX_REC         200000          /* answered changes kept */
#define POOL            256             /* per-machine pools of values */
#define NCPU            2
#define ATOMIC_DEPTH    8
#define IO_BASE         0x09000000u     /* qemu-virt device space */

static struct tdaemon d;

static void setup(void)
{
    td_init(&d);
}

static void teardown(void)
{
    td_cleanup(&d);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* xorshift64*: the test's only randomness, seeded per kill moment. */
static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static uint32_t rnd(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rnd_next(s) % n);
}

static struct armmap_conn *dconnect(void)
{
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    char err[ARMMAP_ERR_MAX];
    enum armmap_status st;

    memset(&opt, 0, sizeof(opt));
    opt.tenant = "dur";
    opt.io_timeout_ms = 10000;
    st = armmap_connect_unix(d.sock, opt, &c, err);
    ck_assert_msg(st == ARMMAP_OK, "connect: %s: %s", armmap_strerror(st), err);
    return c;
}

static uint64_t dcreate(struct armmap_conn *c, const char *preset)
{
    struct armmap_machine *m = NULL;
    uint64_t id;

    ck_assert_int_eq(armmap_create(c, preset, NULL, 0, NULL, &m), ARMMAP_OK);
    id = m->id;
    armmap_machine_free(m);
    return id;
}

/* ------------------------------------------------------------------ */
/* The client's model of each machine, built from answered changes      */
/* ------------------------------------------------------------------ */

struct pool {
    uint32_t v[POOL];
    unsigned n;
};

struct mstate {
    uint64_t id;
    struct pool low, high;              /* allocated pfns */
    struct pool kmapped;                /* pfns kmapped (one per kmap) */
    struct pool vm;                     /* vmalloc addresses */
    struct pool io;                     /* ioremap addresses */
    uint32_t astack[NCPU][ATOMIC_DEPTH]; /* kmap_atomic addresses */
    unsigned adepth[NCPU];
    unsigned apending[NCPU];            /* kmap_atomic in flight */
    uint32_t next_io;
    uint64_t last_seq;                  /* the last answered seq */
};

static void pool_add(struct pool *p, uint32_t v)
{
    if (p->n < POOL)
        p->v[p->n++] = v;
}

static bool pool_take(struct pool *p, uint64_t *s, uint32_t *out)
{
    uint32_t i;

    if (p->n == 0)
        return false;
    i = rnd(s, p->n);
    *out = p->v[i];
    p->v[i] = p->v[--p->n];
    return true;
}

static bool pool_pick(const struct pool *p, uint64_t *s, uint32_t *out)
{
    if (p->n == 0)
        return false;
    *out = p->v[rnd(s, p->n)];
    return true;
}

/* One sent change: what it was, and (once answered) what it gave. */
struct rec {
    unsigned mi;
    enum armmap_opcode code;
    uint32_t cpu, nargs, args[2];
    uint32_t value;
    uint64_t seq;
};

struct run {
    struct mstate m[NMACH];
    struct rec *sent;                   /* indexed by request id % MAX_REC */
    struct rec *ans;                    /* answered changes, in order */
    size_t nans;
    uint64_t rs;                        /* the random state */
};

/* Chooses the next change for machine @mi from the answered model.  A
 * choice may still fail at the daemon (it raced another in flight); a
 * failed change is not logged and the test only records successes. */
static void choose(struct run *r, unsigned mi, struct rec *o)
{
    struct mstate *m = &r->m[mi];
    uint32_t v, cpu = rnd(&r->rs, NCPU);

    memset(o, 0, sizeof(*o));
    o->mi = mi;
    o->cpu = 0;
    switch (rnd(&r->rs, 12)) {
    case 0:
    case 1:
        o->code = ARMMAP_OP_ALLOC;
        o->nargs = 2;
        o->args[0] = rnd(&r->rs, 2) ? ARMMAP_ZONE_HIGHMEM : ARMMAP_ZONE_NORMAL;
        if ((o->args[0] == ARMMAP_ZONE_HIGHMEM ? m->high.n : m->low.n) >=
            POOL - 8)
            break;
        return;
    case 2:
    case 3:
        if (!pool_pick(&m->high, &r->rs, &v) &&
            !pool_pick(&m->low, &r->rs, &v))
            break;
        o->code = ARMMAP_OP_KMAP;
        o->nargs = 1;
        o->args[0] = v;
        return;
    case 4:
    case 5:
        if (!pool_take(&m->kmapped, &r->rs, &v))
            break;
        o->code = ARMMAP_OP_KUNMAP;
        o->nargs = 1;
        o->args[0] = v;
        return;
    case 6:
        if (m->vm.n >= 32)
            break;
        o->code = ARMMAP_OP_VMALLOC;
        o->nargs = 1;
        o->args[0] = (1 + rnd(&r->rs, 8)) * 4096u;
        return;
    case 7:
        if (!pool_take(&m->vm, &r->rs, &v))
            break;
        o->code = ARMMAP_OP_VFREE;
        o->nargs = 1;
        o->args[0] = v;
        return;
    case 8:
        if (m->adepth[cpu] + m->apending[cpu] >= 4 ||
            !pool_pick(&m->high, &r->rs, &v))
            break;
        m->apending[cpu]++;
        o->code = ARMMAP_OP_KMAP_ATOMIC;
        o->cpu = cpu;
        o->nargs = 1;
        o->args[0] = v;
        return;
    case 9:
        if (m->apending[cpu] > 0 || m->adepth[cpu] == 0)
            break;
        o->code = ARMMAP_OP_KUNMAP_ATOMIC;
        o->cpu = cpu;
        o->nargs = 1;
        o->args[0] = m->astack[cpu][--m->adepth[cpu]];
        return;
    case 10:
        if (m->io.n >= 16)
            break;
        o->code = ARMMAP_OP_IOREMAP;
        o->nargs = 2;
        o->args[0] = IO_BASE + 0x1000u * (m->next_io++ % 64);
        o->args[1] = 0x1000u * (1 + rnd(&r->rs, 2));
        return;
    default:
        if (!pool_take(&m->io, &r->rs, &v))
            break;
        o->code = ARMMAP_OP_IOUNMAP;
        o->nargs = 1;
        o->args[0] = v;
        return;
    }
    o->code = ARMMAP_OP_KMAP_FLUSH;     /* always possible */
    o->nargs = 0;
}

/* Folds an answered change into the model and the record. */
static void answered(struct run *r, const struct rec *o,
                     const struct armmap_reply *rp)
{
    struct mstate *m = &r->m[o->mi];
    bool ok = rp->status == ARMMAP_OK && rp->kind == ARMMAP_REPLY_OP &&
              rp->op.status == ARMMAP_OK;
    struct rec *a;

    if (o->code == ARMMAP_OP_KMAP_ATOMIC)
        m->apending[o->cpu]--;
    if (!ok)
        return;
    ck_assert_uint_gt(rp->op.seq, m->last_seq);
    m->last_seq = rp->op.seq;
    ck_assert_uint_lt(r->nans, MAX_REC);
    a = &r->ans[r->nans++];
    *a = *o;
    a->value = rp->op.value;
    a->seq = rp->op.seq;
    switch (o->code) {
    case ARMMAP_OP_ALLOC:
        pool_add(o->args[0] == ARMMAP_ZONE_HIGHMEM ? &m->high : &m->low,
                 rp->op.value);
        break;
    case ARMMAP_OP_KMAP:
        pool_add(&m->kmapped, o->args[0]);
        break;
    case ARMMAP_OP_VMALLOC:
        pool_add(&m->vm, rp->op.value);
        break;
    case ARMMAP_OP_IOREMAP:
        pool_add(&m->io, rp->op.value);
        break;
    case ARMMAP_OP_KMAP_ATOMIC:
        if (m->adepth[o->cpu] < ATOMIC_DEPTH)
            m->astack[o->cpu][m->adepth[o->cpu]++] = rp->op.value;
        break;
    default:
        break;
    }
}

static void send_one(struct run *r, struct armmap_conn *c)
{
    struct armmap_op op;
    struct rec o;
    uint64_t id;
    unsigned mi = rnd(&r->rs, NMACH);

    choose(r, mi, &o);
    memset(&op, 0, sizeof(op));
    op.code = o.code;
    op.cpu = o.cpu;
    op.nargs = o.nargs;
    op.args = o.args;
    ck_assert_int_eq(armmap_send_op(c, r->m[mi].id, &op, &id), ARMMAP_OK);
    r->sent[id % MAX_REC] = o;
}

/* Receives one reply; false once the daemon is gone. */
static bool recv_one(struct run *r, struct armmap_conn *c)
{
    struct armmap_reply *rp = NULL;
    enum armmap_status st = armmap_recv(c, &rp);

    if (st != ARMMAP_OK) {
        ck_assert_msg(st == ARMMAP_IO || st == ARMMAP_TIMEOUT,
                      "recv: %s", armmap_strerror(st));
        return false;
    }
    answered(r, &r->sent[rp->id % MAX_REC], rp);
    armmap_reply_free(rp);
    return true;
}

/* ------------------------------------------------------------------ */
/* Verification after the restart                                       */
/* ------------------------------------------------------------------ */

/* The whole history of @machine, paged; the caller frees the array. */
static struct armmap_event *full_history(struct armmap_conn *c,
                                         uint64_t machine, size_t *n,
                                         struct armmap_history ***pages,
                                         size_t *npages)
{
    struct armmap_history_query q;
    struct armmap_event *all = NULL;
    size_t cap = 0;
    int guard;

    *n = 0;
    *npages = 0;
    *pages = NULL;
    memset(&q, 0, sizeof(q));
    for (guard = 0; guard < 10000; guard++) {
        struct armmap_history *h = NULL;

        ck_assert_int_eq(armmap_history(c, machine, &q, &h), ARMMAP_OK);
        if (*n + h->n > cap) {
            cap = (*n + h->n) * 2 + 64;
            all = realloc(all, cap * sizeof(*all));
            ck_assert_ptr_nonnull(all);
        }
        if (h->n > 0)                   /* memcpy(NULL, ..., 0) is undefined */
            memcpy(all + *n, h->events, h->n * sizeof(*all));
        *n += h->n;
        *pages = realloc(*pages, (*npages + 1) * sizeof(**pages));
        ck_assert_ptr_nonnull(*pages);
        (*pages)[(*npages)++] = h;      /* owns the args arrays */
        if (h->next_after_seq == 0)
            return all;
        q.after_seq = h->next_after_seq;
    }
    ck_abort_msg("history of machine %llu did not end",
                 (unsigned long long)machine);
    return NULL;
}

static bool returns_va(enum armmap_opcode op)
{
    return op == ARMMAP_OP_KMAP || op == ARMMAP_OP_KMAP_ATOMIC ||
           op == ARMMAP_OP_VMALLOC || op == ARMMAP_OP_IOREMAP;
}

/* Every address the history ever mapped: each page of each mapping. */
static uint32_t *mapped_addresses(const struct armmap_event *ev, size_t n,
                                  size_t *nva)
{
    size_t cap = 1024, k = 0, i;
    uint32_t *va = malloc(cap * sizeof(*va));

    ck_assert_ptr_nonnull(va);
    for (i = 0; i < n; i++) {
        uint32_t pages = 1, p;

        if (!returns_va(ev[i].op))
            continue;
        if (ev[i].op == ARMMAP_OP_VMALLOC && ev[i].nargs >= 1)
            pages = (ev[i].args[0] + 4095) / 4096;
        if (ev[i].op == ARMMAP_OP_IOREMAP && ev[i].nargs >= 2)
            pages = (ev[i].args[1] + 4095) / 4096;
        for (p = 0; p <= pages; p++) {    /* and the guard page after */
            if (k == cap) {
                cap *= 2;
                va = realloc(va, cap * sizeof(*va));
                ck_assert_ptr_nonnull(va);
            }
            va[k++] = (ev[i].result.value & ~0xfffu) + p * 4096u;
        }
    }
    *nva = k;
    return va;
}

/* Replays @ev into a fresh machine of @preset through batches; every
 * result must equal the logged one.  Returns the new machine's id. */
static uint64_t replay(struct armmap_conn *c, const char *preset,
                       const struct armmap_event *ev, size_t n)
{
    enum { CHUNK = 512 };
    struct armmap_op ops[CHUNK];
    struct armmap_op_result *res = calloc(CHUNK, sizeof(*res));
    uint64_t fresh = dcreate(c, preset);
    size_t i, k, got;

    ck_assert_ptr_nonnull(res);
    for (i = 0; i < n; i += k) {
        for (k = 0; k < CHUNK && i + k < n; k++) {
            memset(&ops[k], 0, sizeof(ops[k]));
            ops[k].code = ev[i + k].op;
            ops[k].cpu = ev[i + k].cpu;
            ops[k].nargs = (uint32_t)ev[i + k].nargs;
            ops[k].args = ev[i + k].args;
        }
        ck_assert_int_eq(armmap_batch(c, fresh, ops, k, true, res, &got),
                         ARMMAP_OK);
        ck_assert_uint_eq(got, k);
        for (got = 0; got < k; got++) {
            const struct armmap_event *e = &ev[i + got];

            ck_loop_assert_msg(res[got].status == ARMMAP_OK,
                               "replay of seq %llu (%s): %s",
                               (unsigned long long)e->seq,
                               armmap_op_name(e->op), res[got].msg);
            ck_loop_assert_uint_eq(res[got].value, e->result.value);
            ck_loop_assert_uint_eq(res[got].seq, e->seq);
        }
    }
    free(res);
    return fresh;
}

static void same_translations(struct armmap_conn *c, uint64_t a, uint64_t b,
                              const uint32_t *va, size_t n)
{
    struct armmap_translate_result *ra = NULL, *rb = NULL;
    size_t i;

    if (n == 0)
        return;
    ck_assert_int_eq(armmap_translate(c, a, va, n, 0, false, &ra), ARMMAP_OK);
    ck_assert_int_eq(armmap_translate(c, b, va, n, 0, false, &rb), ARMMAP_OK);
    ck_assert_uint_eq(ra->n, n);
    ck_assert_uint_eq(rb->n, n);
    for (i = 0; i < n; i++) {
        ck_loop_assert_msg(ra->pa[i] == rb->pa[i] &&
                               ra->fault[i] == rb->fault[i],
                           "va 0x%08x: recovered pa 0x%08x fault %u, replayed "
                           "pa 0x%08x fault %u", va[i], ra->pa[i],
                           ra->fault[i], rb->pa[i], rb->fault[i]);
    }
    armmap_translate_result_free(ra);
    armmap_translate_result_free(rb);
}

static void same_reports(struct armmap_conn *c, uint64_t a, uint64_t b)
{
    static const enum armmap_report kinds[] = {
        ARMMAP_REPORT_VMALLOCINFO, ARMMAP_REPORT_PKMAP, ARMMAP_REPORT_FIXMAP,
        ARMMAP_REPORT_BUDDYINFO, ARMMAP_REPORT_PAGETABLES
    };
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char *ta = NULL, *tb = NULL;

        ck_assert_int_eq(armmap_report(c, a, kinds[i], &ta), ARMMAP_OK);
        ck_assert_int_eq(armmap_report(c, b, kinds[i], &tb), ARMMAP_OK);
        ck_assert_msg(strcmp(ta, tb) == 0, "report %s differs:\n%s\n--\n%s",
                      armmap_report_name(kinds[i]), ta, tb);
        armmap_free(ta);
        armmap_free(tb);
    }
}

static void verify_machine(struct armmap_conn *c, const struct run *r,
                           unsigned mi)
{
    const struct mstate *m = &r->m[mi];
    struct armmap_history **pages;
    struct armmap_machine *desc = NULL;
    struct armmap_event *ev;
    size_t n, npages, i, j, nva;
    uint32_t *va;
    uint64_t fresh;

    ck_assert_int_eq(armmap_describe(c, m->id, &desc), ARMMAP_OK);
    ck_assert_str_eq(desc->broken, "");
    ck_assert_uint_ge(desc->seq, m->last_seq);
    ev = full_history(c, m->id, &n, &pages, &npages);
    ck_assert_uint_eq(n, desc->seq);
    fprintf(stderr, "  machine %llu: last answered seq %llu, recovered seq "
            "%llu\n", (unsigned long long)m->id,
            (unsigned long long)m->last_seq, (unsigned long long)n);
    armmap_machine_free(desc);
    for (i = 0; i < n; i++)
        ck_loop_assert_uint_eq(ev[i].seq, i + 1);
    /* Every answered change, exactly. */
    for (i = 0; i < r->nans; i++) {
        const struct rec *a = &r->ans[i];
        const struct armmap_event *e;

        if (a->mi != mi)
            continue;
        ck_loop_assert_msg(a->seq >= 1 && a->seq <= n,
                           "machine %llu: answered seq %llu lost (history %zu)",
                           (unsigned long long)m->id,
                           (unsigned long long)a->seq, n);
        e = &ev[a->seq - 1];
        ck_loop_assert_int_eq(e->op, a->code);
        ck_loop_assert_uint_eq(e->result.value, a->value);
        ck_loop_assert_uint_eq(e->nargs, a->nargs);
        for (j = 0; j < a->nargs; j++)
            ck_loop_assert_uint_eq(e->args[j], a->args[j]);
        if (a->code == ARMMAP_OP_KMAP_ATOMIC ||
            a->code == ARMMAP_OP_KUNMAP_ATOMIC)
            ck_loop_assert_uint_eq(e->cpu, a->cpu);
    }
    /* The recovered state equals a replay of the history. */
    fresh = replay(c, "qemu-virt", ev, n);
    va = mapped_addresses(ev, n, &nva);
    same_translations(c, m->id, fresh, va, nva);
    same_reports(c, m->id, fresh);
    free(va);
    free(ev);
    for (i = 0; i < npages; i++)
        armmap_history_free(pages[i]);
    free(pages);
}

/* kill -9 at three moments: 0.3 .. 2.3 s into the load. */
START_TEST(test_kill9_keeps_every_answered_change)
{
    static const uint64_t seeds[] = { 0x9e3779b97f4a7c15ull, 42, 20261123 };
    struct armmap_conn *c;
    struct run *r = calloc(1, sizeof(*r));
    double t0, kill_at;
    unsigned i, inflight_max = 48;
    size_t per[NMACH] = { 0 }, kinds[ARMMAP_OP_COUNT] = { 0 }, before_kill;
    unsigned in_flight;
    int status;

    ck_assert_ptr_nonnull(r);
    r->sent = calloc(MAX_REC, sizeof(*r->sent));
    r->ans = calloc(MAX_REC, sizeof(*r->ans));
    ck_assert(r->sent != NULL && r->ans != NULL);
    r->rs = seeds[_i];
    kill_at = 300.0 + rnd(&r->rs, 2000);

    td_start(&d, NULL);
    c = dconnect();
    for (i = 0; i < NMACH; i++)
        r->m[i].id = dcreate(c, "qemu-virt");
    t0 = now_ms();
    while (now_ms() - t0 < kill_at && r->nans < MAX_REC - 1000) {
        while (armmap_inflight(c) < inflight_max)
            send_one(r, c);
        ck_assert(recv_one(r, c));
    }
    ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
    before_kill = r->nans;
    in_flight = armmap_inflight(c);
    /* The replies already written before the kill are answers too. */
    while (armmap_inflight(c) > 0 && recv_one(r, c))
        ;
    fprintf(stderr, "kill -9 at %.0f ms: %zu changes answered (%zu read "
            "after the kill, %u requests were in flight)\n", kill_at,
            r->nans, r->nans - before_kill, in_flight);
    armmap_close(c);
    ck_assert_int_eq(waitpid(d.pid, &status, 0), d.pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    d.pid = 0;
    for (i = 0; i < r->nans; i++)
        per[r->ans[i].mi]++;
    for (i = 0; i < r->nans; i++)
        kinds[r->ans[i].code]++;
    for (i = 1; i <= ARMMAP_OP_KMAP_FLUSH; i++) {
        if (i == ARMMAP_OP_FREE || i == ARMMAP_OP_VMAP ||
            i == ARMMAP_OP_VUNMAP || i == ARMMAP_OP_MODULE_ALLOC ||
            i == ARMMAP_OP_MODULE_FREE)
            continue;                   /* not in the mix */
        ck_assert_msg(kinds[i] >= 5, "only %zu %s answered", kinds[i],
                      armmap_op_name((enum armmap_opcode)i));
    }
    for (i = 0; i < NMACH; i++)
        ck_assert_msg(per[i] >= 20, "machine %u: only %zu changes answered",
                      i, per[i]);

    td_start(&d, NULL);
    ck_assert_ptr_nonnull(strstr(td_log(&d), "machines (0 broken)"));
    c = dconnect();
    for (i = 0; i < NMACH; i++)
        verify_machine(c, r, i);
    armmap_close(c);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
    free(r->sent);
    free(r->ans);
    free(r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Group commit under concurrent load                                  */
/* ------------------------------------------------------------------ */

#define GC_THREADS      4
#define GC_CHANGES      5000

struct gc_worker {
    pthread_t th;
    uint64_t machine;
    unsigned ok, failed;
    uint64_t last_seq;
    bool seq_in_order;
    char err[ARMMAP_ERR_MAX];
};

static void *gc_run(void *arg)
{
    struct gc_worker *w = arg;
    struct armmap_options opt;
    struct armmap_conn *c = NULL;
    struct armmap_machine *m = NULL;
    unsigned sent = 0, got = 0;

    memset(&opt, 0, sizeof(opt));
    opt.tenant = "dur";
    opt.max_inflight = 128;
    opt.io_timeout_ms = 20000;
    if (armmap_connect_unix(d.sock, opt, &c, w->err) != ARMMAP_OK)
        return NULL;
    if (armmap_create(c, "qemu-virt", NULL, 0, NULL, &m) != ARMMAP_OK) {
        snprintf(w->err, sizeof(w->err), "create: %s", armmap_errmsg(c));
        armmap_close(c);
        return NULL;
    }
    w->machine = m->id;
    armmap_machine_free(m);
    w->seq_in_order = true;
    while (got < GC_CHANGES) {
        struct armmap_reply *rp = NULL;

        while (sent < GC_CHANGES && armmap_inflight(c) < 128) {
            /* alloc of one Normal page and kmap_flush: both changes */
            uint32_t args[2] = { ARMMAP_ZONE_NORMAL, 0 };
            struct armmap_op op;
            uint64_t id;

            memset(&op, 0, sizeof(op));
            op.code = sent % 2 ? ARMMAP_OP_KMAP_FLUSH : ARMMAP_OP_ALLOC;
            op.nargs = sent % 2 ? 0 : 2;
            op.args = args;
            if (armmap_send_op(c, w->machine, &op, &id) != ARMMAP_OK)
                goto out;
            sent++;
        }
        if (armmap_recv(c, &rp) != ARMMAP_OK)
            goto out;
        got++;
        if (rp->status == ARMMAP_OK && rp->op.status == ARMMAP_OK) {
            w->ok++;
            if (rp->op.seq != w->last_seq + 1)
                w->seq_in_order = false;
            w->last_seq = rp->op.seq;
        } else {
            w->failed++;
        }
        armmap_reply_free(rp);
    }
out:
    if (got < GC_CHANGES)
        snprintf(w->err, sizeof(w->err), "after %u replies: %s", got,
                 armmap_errmsg(c));
    armmap_close(c);
    return NULL;
}

START_TEST(test_group_commit_under_concurrent_load)
{
    struct gc_worker w[GC_THREADS];
    struct armmap_stats before, after;
    struct armmap_conn *c;
    uint64_t changes, commits;
    int i;

    td_start(&d, "--admin-tenant=dur", NULL);   /* daemon-wide commits */
    c = dconnect();
    ck_assert_int_eq(armmap_stats(c, &before), ARMMAP_OK);
    memset(w, 0, sizeof(w));
    for (i = 0; i < GC_THREADS; i++)
        ck_assert_int_eq(pthread_create(&w[i].th, NULL, gc_run, &w[i]), 0);
    for (i = 0; i < GC_THREADS; i++)
        ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
    for (i = 0; i < GC_THREADS; i++) {
        struct armmap_history_query q;
        struct armmap_history *h = NULL;
        struct armmap_machine *m = NULL;

        ck_assert_msg(w[i].err[0] == '\0', "worker %d: %s", i, w[i].err);
        ck_assert_uint_eq(w[i].ok, GC_CHANGES);
        ck_assert_uint_eq(w[i].failed, 0);
        ck_assert(w[i].seq_in_order);
        ck_assert_uint_eq(w[i].last_seq, GC_CHANGES);
        ck_assert_int_eq(armmap_describe(c, w[i].machine, &m), ARMMAP_OK);
        ck_assert_uint_eq(m->seq, GC_CHANGES);
        armmap_machine_free(m);
        /* The last answered change is in the history, and the history
         * holds exactly GC_CHANGES events. */
        memset(&q, 0, sizeof(q));
        q.newest_first = true;
        q.limit = 1;
        ck_assert_int_eq(armmap_history(c, w[i].machine, &q, &h), ARMMAP_OK);
        ck_assert_uint_eq(h->n, 1);
        ck_assert_uint_eq(h->events[0].seq, GC_CHANGES);
        ck_assert_int_eq(h->events[0].op, ARMMAP_OP_KMAP_FLUSH);
        armmap_history_free(h);
    }
    ck_assert_int_eq(armmap_stats(c, &after), ARMMAP_OK);
    changes = after.changes - before.changes;
    commits = after.commits - before.commits;
    ck_assert_uint_ge(changes, GC_THREADS * GC_CHANGES);
    ck_assert_msg(commits < changes,
                  "%llu commits for %llu changes: no group commit",
                  (unsigned long long)commits, (unsigned long long)changes);
    fprintf(stderr, "group commit: %llu changes in %llu commits\n",
            (unsigned long long)changes, (unsigned long long)commits);
    armmap_close(c);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));

    /* And all of it survives a restart. */
    td_start(&d, NULL);
    c = dconnect();
    for (i = 0; i < GC_THREADS; i++) {
        struct armmap_machine_list *l = NULL;
        size_t k;
        bool found = false;

        ck_assert_int_eq(armmap_list(c, &l), ARMMAP_OK);
        for (k = 0; k < l->n; k++) {
            if (l->items[k].id == w[i].machine) {
                ck_assert_uint_eq(l->items[k].seq, GC_CHANGES);
                found = true;
            }
        }
        armmap_machine_list_free(l);
        ck_assert(found);
    }
    armmap_close(c);
    ck_assert_msg(td_stop(&d) == 0, "%s", td_log(&d));
}
END_TEST

Suite *durability_suite(void)
{
    Suite *s = suite_create("durability");
    TCase *tc = tcase_create("durability");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_kill9_keeps_every_answered_change, 0, 3);
    tcase_add_test(tc, test_group_commit_under_concurrent_load);
    suite_add_tcase(s, tc);
    return s;
}
