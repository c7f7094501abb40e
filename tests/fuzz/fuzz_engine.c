/* tests/fuzz/fuzz_engine.c - engine operation sequences from bytes.
 *
 * The input picks a machine and then a sequence of operations, each applied
 * with mm_apply() (or a read such as mm_translate()), and mm_check() must
 * pass after every one of them.  At the end the recorded events, replayed
 * with mm_replay() onto a fresh machine of the same config, must give the
 * same results and the same reports, and so must a clone.
 *
 * Input layout:
 *   byte 0      bit 7 set: the config is text for mm_config_parse() up to
 *               the first NUL (at most 512 bytes; the rest are ops);
 *               clear: a preset (byte 0 mod (presets + 1), 0 = defaults)
 *               and byte 1 tweaks it (highmem, cpus, atomic style, kernel,
 *               split), see pick_config()
 *   then ops    one selector byte each, its operands after it
 *
 * Operands refer back to earlier results where they can: a "pfn" or "va"
 * operand byte below 0xc0 names one of the last values recorded (allocated
 * pfns, mapped addresses), otherwise four raw bytes follow.  Selector bit 7
 * sends a raw op instead: any opcode, cpu and argument count, as a client
 * on the wire could.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS     512                 /* per input */
#define RING        64                  /* remembered pfns and vas */
#define MAX_EVENTS  MAX_OPS

struct input {
    const uint8_t *p;
    size_t left;
};

struct event {
    struct mm_op op;
    uint32_t args[MM_OP_MAX_ARGS];
    struct mm_result res;
};

struct state {
    struct input in;
    struct mm_machine *m;
    unsigned cpus;
    uint32_t pfn[RING], va[RING];
    unsigned npfn, nva;
    struct event *ev;
    unsigned nev;
    bool vmap_big;                      /* the one vmap of many pages done */
};

static uint8_t u8(struct input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static uint32_t u32(struct input *in)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v = v << 8 | u8(in);
    return v;
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_engine: %s: %s\n", what, detail);
    abort();
}

static void remember(uint32_t *ring, unsigned *n, uint32_t v)
{
    ring[*n % RING] = v;
    (*n)++;
}

static uint32_t pick(struct state *s, const uint32_t *ring, unsigned n)
{
    uint8_t b = u8(&s->in);

    if (b < 0xc0 && n > 0) {
        unsigned have = n < RING ? n : RING;

        return ring[(n - 1 - b % have) % RING];
    }
    return u32(&s->in);
}

static uint32_t pick_pfn(struct state *s)
{
    return pick(s, s->pfn, s->npfn);
}

static uint32_t pick_va(struct state *s)
{
    return pick(s, s->va, s->nva);
}

/* A size: mostly a few pages, sometimes up to 1 MiB, rarely anything
 * (most of those fail; the few that fit make mm_check() slow). */
static uint32_t pick_size(struct state *s)
{
    uint8_t b = u8(&s->in);

    if (b < 0xe0)
        return (uint32_t)(b % 32 + 1) * MM_PAGE_SIZE - (b & 0x20 ? 1 : 0);
    if (b < 0xff)
        return u32(&s->in) % (1u << 20) + 1;
    return u32(&s->in);
}

static void set_or_fail(struct mm_config *cfg, const char *k, const char *v)
{
    char err[MM_MSG_MAX];

    if (mm_config_set(cfg, k, v, err) != MM_OK)
        fail("config", err);
}

/* Returns false if the config is not one to run (invalid text). */
static bool pick_config(struct state *s, struct mm_config *cfg)
{
    static const char *const kernels[] = { NULL, "2.6.35", "3.4", "6.1" };
    static const char *const atomics[] = { NULL, "km_type", "stack", "local" };
    static const char *const cpus[] = { NULL, "1", "2", "4" };
    char err[MM_MSG_MAX];
    uint8_t b0 = u8(&s->in), b1;
    size_t n;

    if (b0 & 0x80) {
        char text[513];
        size_t i = 0;

        while (s->in.left > 0 && i < sizeof(text) - 1) {
            uint8_t c = u8(&s->in);

            if (c == 0)
                break;
            text[i++] = (char)c;
        }
        text[i] = '\0';
        mm_config_default(cfg);
        return mm_config_parse(cfg, text, err) == MM_OK;
    }
    mm_presets(&n);
    mm_config_default(cfg);
    if (b0 % (n + 1) != 0 &&
        mm_config_preset(cfg, mm_presets(&n)[b0 % (n + 1) - 1].name, err) !=
            MM_OK)
        fail("preset", err);
    b1 = u8(&s->in);
    if (b1 & 1)
        set_or_fail(cfg, "highmem", cfg->highmem ? "off" : "on");
    if (cpus[b1 >> 1 & 3] != NULL)
        set_or_fail(cfg, "cpus", cpus[b1 >> 1 & 3]);
    if (kernels[b1 >> 3 & 3] != NULL)
        set_or_fail(cfg, "kernel", kernels[b1 >> 3 & 3]);
    if (atomics[b1 >> 5 & 3] != NULL)
        set_or_fail(cfg, "atomic", atomics[b1 >> 5 & 3]);
    if (b1 & 0x80)
        set_or_fail(cfg, "split", "2G");
    return true;
}

static void check(struct state *s, const char *after)
{
    char err[MM_MSG_MAX];

    if (mm_check(s->m, err) != MM_OK)
        fail(after, err);
    if (mm_broken(s->m) != NULL)
        fail(after, mm_broken(s->m));
}

static void record(struct state *s, const struct mm_op *op,
                   const struct mm_result *res)
{
    struct event *e;

    if (res->status != MM_OK)
        return;
    if (s->nev == MAX_EVENTS)
        fail("record", "more events than ops");
    e = &s->ev[s->nev++];
    e->op = *op;
    memcpy(e->args, op->args, op->nargs * sizeof(uint32_t));
    e->op.args = e->args;
    e->res = *res;
}

/* Applies @op, checks, records, remembers what it returned. */
static void apply(struct state *s, const struct mm_op *op)
{
    struct mm_result res;
    uint64_t seq = mm_seq(s->m);

    memset(&res, 0, sizeof(res));
    mm_apply(s->m, op, &res);
    if (getenv("FUZZ_ENGINE_TRACE") != NULL) {
        fprintf(stderr, "op %s cpu %u nargs %u [", mm_op_name(op->code),
                op->cpu, op->nargs);
        for (uint32_t i = 0; i < op->nargs && i < 8; i++)
            fprintf(stderr, " 0x%x", op->args[i]);
        fprintf(stderr, " ] -> %s value 0x%x aux 0x%x seq %llu %s\n",
                mm_status_name(res.status), res.value, res.aux,
                (unsigned long long)res.seq, res.msg);
    }
    if (res.status == MM_OK && res.seq != seq + 1)
        fail(mm_op_name(op->code), "seq did not advance by one");
    if (res.status != MM_OK && (res.seq != 0 || mm_seq(s->m) != seq))
        fail(mm_op_name(op->code), "a failed op took a seq");
    if (res.status == MM_INTERNAL)
        fail(mm_op_name(op->code), res.msg);
    check(s, mm_op_name(op->code) ? mm_op_name(op->code) : "raw op");
    record(s, op, &res);
    if (res.status != MM_OK)
        return;
    switch (op->code) {
    case MM_OP_ALLOC:
        remember(s->pfn, &s->npfn, res.value);
        break;
    case MM_OP_KMAP:
    case MM_OP_KMAP_ATOMIC:
    case MM_OP_VMALLOC:
    case MM_OP_VMAP:
    case MM_OP_IOREMAP:
    case MM_OP_MODULE_ALLOC:
        remember(s->va, &s->nva, res.value);
        break;
    default:
        break;
    }
}

/* Reads that never change the machine: they must not, and must not crash. */
static void reads(struct state *s)
{
    uint32_t va = pick_va(s), pa, pfn;
    unsigned acc = u8(&s->in) & 0xf;
    uint64_t seq = mm_seq(s->m);
    struct mm_alias al[8];
    char err[MM_MSG_MAX], text[1024];
    mm_paddr_t pas[4];
    mm_vaddr_t vas[4];
    uint8_t faults[4];
    struct mm_walk w;

    if (mm_translate(s->m, va, acc, &w) == MM_OK) {
        mm_phys_aliases(s->m, w.pa, al, 8);
        if (mm_pa(s->m, va, &pa, err) == MM_OK && pa != w.pa)
            fail("mm_pa", "disagrees with the walk");
    }
    mm_walk_format(&w, text, sizeof(text));
    mm_region_name(s->m, va);
    mm_virt_to_page(s->m, va, &pfn, err);
    pfn = pick_pfn(s);
    mm_page_address(s->m, pfn, &va, err);
    mm_va(s->m, pfn << MM_PAGE_SHIFT, &va, err);
    for (int i = 0; i < 4; i++)
        vas[i] = pick_va(s) + (uint32_t)i * 0x800;
    mm_translate_batch(s->m, vas, 4, acc, pas, faults);
    for (int i = 0; i < 4; i++) {
        if (mm_translate(s->m, vas[i], acc, &w) == MM_OK
                ? faults[i] != 0 || pas[i] != w.pa
                : faults[i] != (uint8_t)w.fault)
            fail("mm_translate_batch", "disagrees with mm_translate");
    }
    if (mm_seq(s->m) != seq)
        fail("reads", "changed the sequence number");
}

static void report(struct state *s, enum mm_report r)
{
    struct mm_buf b;

    memset(&b, 0, sizeof(b));
    mm_report(s->m, r, &b);
    mm_buf_free(&b);
}

static void one_op(struct state *s)
{
    uint8_t sel = u8(&s->in);
    uint32_t args[MM_OP_MAX_ARGS];
    struct mm_op op;

    memset(&op, 0, sizeof(op));
    op.args = args;
    if (sel & 0x80) {
        /* Raw: as a client could send it. */
        op.code = (enum mm_opcode)(sel & 0x1f);
        op.cpu = u8(&s->in);
        op.nargs = u8(&s->in) % 5;
        for (uint32_t i = 0; i < op.nargs; i++)
            args[i] = u8(&s->in) & 1 ? pick_va(s) : pick_pfn(s);
        apply(s, &op);
        return;
    }
    op.cpu = s->cpus > 1 ? u8(&s->in) % s->cpus : 0;
    switch (sel % 18) {
    case 0:
        op.code = MM_OP_ALLOC;
        args[0] = u8(&s->in) % 4;
        args[1] = u8(&s->in) % 12;
        op.nargs = 2;
        break;
    case 1:
        op.code = MM_OP_FREE;
        args[0] = pick_pfn(s);
        args[1] = u8(&s->in) % 12;
        op.nargs = 2;
        break;
    case 2:
    case 3:
        op.code = sel % 18 == 2 ? MM_OP_KMAP : MM_OP_KUNMAP;
        args[0] = pick_pfn(s);
        op.nargs = 1;
        break;
    case 4:
        op.code = MM_OP_KMAP_ATOMIC;
        args[0] = pick_pfn(s);
        args[1] = u8(&s->in) % 24;
        op.nargs = sel & 0x40 ? 2 : 1;
        break;
    case 5:
        op.code = MM_OP_KUNMAP_ATOMIC;
        args[0] = pick_va(s);
        op.nargs = 1;
        break;
    case 6:
    case 12:
        op.code = sel % 18 == 6 ? MM_OP_VMALLOC : MM_OP_MODULE_ALLOC;
        args[0] = pick_size(s);
        op.nargs = 1;
        break;
    case 7:
    case 9:
    case 11:
    case 13:
        op.code = sel % 18 == 7 ? MM_OP_VFREE :
                  sel % 18 == 9 ? MM_OP_VUNMAP :
                  sel % 18 == 11 ? MM_OP_IOUNMAP : MM_OP_MODULE_FREE;
        args[0] = pick_va(s);
        op.nargs = 1;
        break;
    case 8:
        op.code = MM_OP_VMAP;
        op.nargs = u8(&s->in) % 9;
        if (op.nargs == 0 && (sel & 0x40) && !s->vmap_big) {
            /* Once per input: the largest vmap, of one page repeated. */
            s->vmap_big = true;
            op.nargs = MM_OP_MAX_ARGS + (sel & 0x20 ? 1 : 0);
            args[0] = pick_pfn(s);
            for (uint32_t i = 1; i < op.nargs && i < MM_OP_MAX_ARGS; i++)
                args[i] = args[0] + i;
            if (op.nargs > MM_OP_MAX_ARGS)
                op.nargs = MM_OP_MAX_ARGS;  /* never past our array */
            break;
        }
        for (uint32_t i = 0; i < op.nargs; i++)
            args[i] = pick_pfn(s);
        break;
    case 10:
        op.code = MM_OP_IOREMAP;
        args[0] = u8(&s->in) & 1 ? pick_pfn(s) << MM_PAGE_SHIFT : u32(&s->in);
        args[1] = pick_size(s);
        op.nargs = 2;
        break;
    case 14:
        op.code = MM_OP_KMAP_FLUSH;
        break;
    case 15:
        reads(s);
        return;
    case 16:
        report(s, (enum mm_report)(u8(&s->in) % MM_REPORT_COUNT));
        return;
    default:
        mm_km_type_name(s->m, (int)(int8_t)u8(&s->in));
        return;
    }
    apply(s, &op);
}

static void render_all(const struct mm_machine *m, struct mm_buf *b)
{
    for (int r = 0; r < MM_REPORT_COUNT; r++)
        mm_report(m, (enum mm_report)r, b);
}

static void same_reports(const struct mm_machine *a, const struct mm_machine *b,
                         const char *what)
{
    struct mm_buf x, y;

    memset(&x, 0, sizeof(x));
    memset(&y, 0, sizeof(y));
    render_all(a, &x);
    render_all(b, &y);
    if (x.len != y.len || (x.len > 0 && memcmp(x.data, y.data, x.len) != 0))
        fail(what, "reports differ");
    mm_buf_free(&x);
    mm_buf_free(&y);
}

/* Replays the recorded events on a fresh machine; it must end the same. */
static void replay(struct state *s, const struct mm_config *cfg)
{
    struct mm_machine *r, *c;
    char err[MM_MSG_MAX];

    if (mm_create(cfg, &r, err) != MM_OK)
        fail("re-create", err);
    for (unsigned i = 0; i < s->nev; i++) {
        if (mm_replay(r, &s->ev[i].op, &s->ev[i].res, err) != MM_OK)
            fail("mm_replay", err);
    }
    if (mm_check(r, err) != MM_OK)
        fail("mm_check after replay", err);
    if (mm_seq(r) != mm_seq(s->m))
        fail("replay", "sequence numbers differ");
    same_reports(s->m, r, "replay");
    mm_destroy(r);
    c = mm_clone(s->m);
    if (c == NULL)
        fail("mm_clone", "out of memory");
    if (mm_check(c, err) != MM_OK)
        fail("mm_check after clone", err);
    same_reports(s->m, c, "clone");
    mm_destroy(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct event events[MAX_EVENTS];
    struct mm_config cfg;
    struct state s;
    char err[MM_MSG_MAX];
    unsigned n = 0;

    memset(&s, 0, sizeof(s));
    s.in.p = data;
    s.in.left = size;
    s.ev = events;
    if (!pick_config(&s, &cfg))
        return 0;
    if (mm_create(&cfg, &s.m, err) != MM_OK)
        return 0;
    s.cpus = mm_machine_config(s.m)->cpus;
    check(&s, "mm_create");
    while (s.in.left > 0 && n++ < MAX_OPS)
        one_op(&s);
    replay(&s, &cfg);
    mm_destroy(s.m);
    return 0;
}
