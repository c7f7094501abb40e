/* tests/fuzz/mkseeds.c - write the seed inputs of fuzz_conn.
 *
 *   fuzz_mkseeds DIR        (make fuzz-seeds: DIR = tests/fuzz/corpus/conn)
 *
 * Each seed is what fuzz_conn reads: one byte of write size, then request
 * frames (4-byte big-endian length, one packed armmap.v1.Request) starting
 * with a Hello that carries the harness's token.  The ops in the seeds use
 * real page frames and addresses: every op is also applied to a local
 * engine machine of the same preset, which gives the values the daemon will
 * return (the engine is deterministic and each input meets a fresh server,
 * so the first machine created is machine 1).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "armmap.pb-c.h"
#include "mm.h"

#define SEED_MAX    (256 * 1024)
#define FUZZ_TOKEN  "fuzz-token"
#define TENANTS     0x80                /* byte 0: fuzz_conn's tenants server */
/* Machine 1's id on the tenants server, where ids are opaque: srv_id_out(1)
 * under the fixed key fuzz_conn.c writes to its id-key file. */
#define TENANTS_M1  141840823724283ull

struct seed {
    uint8_t buf[SEED_MAX];
    size_t len;
    uint64_t next_id;
    uint64_t mid;                       /* machine 1's id as clients see it */
    struct mm_machine *m;               /* the local mirror of machine 1 */
};

static void die(const char *what)
{
    fprintf(stderr, "fuzz_mkseeds: %s\n", what);
    exit(1);
}

static void begin(struct seed *s, uint8_t chunk)
{
    s->len = 0;
    s->next_id = 1;
    s->mid = chunk & TENANTS ? TENANTS_M1 : 1;
    s->buf[s->len++] = chunk;
    mm_destroy(s->m);
    s->m = NULL;
}

static void put(struct seed *s, Armmap__V1__Request *req)
{
    size_t n;

    req->id = s->next_id++;
    n = armmap__v1__request__get_packed_size(req);
    if (s->len + 4 + n > SEED_MAX)
        die("seed too large");
    s->buf[s->len++] = (uint8_t)(n >> 24);
    s->buf[s->len++] = (uint8_t)(n >> 16);
    s->buf[s->len++] = (uint8_t)(n >> 8);
    s->buf[s->len++] = (uint8_t)n;
    s->len += armmap__v1__request__pack(req, s->buf + s->len);
}

static void save(struct seed *s, const char *dir, const char *name)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0)
        die(path);
}

static void hello_as(struct seed *s, const char *tenant, const char *token)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Hello h = ARMMAP__V1__HELLO__INIT;

    h.protocol = 1;
    h.tenant = (char *)tenant;
    h.token.data = (uint8_t *)token;
    h.token.len = strlen(token);
    req.body_case = ARMMAP__V1__REQUEST__BODY_HELLO;
    req.hello = &h;
    put(s, &req);
}

static void hello(struct seed *s)
{
    hello_as(s, "fuzz", FUZZ_TOKEN);
}

/* A request whose body is an empty or machine-only message. */
static void simple(struct seed *s, int body, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;
    Armmap__V1__Ping ping = ARMMAP__V1__PING__INIT;
    Armmap__V1__Stats stats = ARMMAP__V1__STATS__INIT;
    Armmap__V1__Presets presets = ARMMAP__V1__PRESETS__INIT;
    Armmap__V1__Dump dump = ARMMAP__V1__DUMP__INIT;

    ref.machine = machine;
    dump.machine = machine;
    req.body_case = (Armmap__V1__Request__BodyCase)body;
    switch (body) {
    case ARMMAP__V1__REQUEST__BODY_PING:
        req.ping = &ping;
        break;
    case ARMMAP__V1__REQUEST__BODY_STATS:
        req.stats = &stats;
        break;
    case ARMMAP__V1__REQUEST__BODY_PRESETS:
        req.presets = &presets;
        break;
    case ARMMAP__V1__REQUEST__BODY_DUMP:
        req.dump = &dump;
        break;
    case ARMMAP__V1__REQUEST__BODY_DESTROY:
        req.destroy = &ref;
        break;
    case ARMMAP__V1__REQUEST__BODY_LIST:
        req.list = &ref;
        break;
    case ARMMAP__V1__REQUEST__BODY_DESCRIBE:
        req.describe = &ref;
        break;
    default:
        die("simple: unknown body");
    }
    put(s, &req);
}

/* Creates machine 1 from @preset and @nset "key", "value" pairs, mirrored
 * locally. */
static void create(struct seed *s, const char *preset, int nset, ...)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create c = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Setting set[8], *setp[8];
    struct mm_config cfg;
    char err[MM_MSG_MAX];
    va_list ap;

    mm_config_default(&cfg);
    if (mm_config_preset(&cfg, preset, err) != MM_OK)
        die(err);
    va_start(ap, nset);
    for (int i = 0; i < nset; i++) {
        armmap__v1__setting__init(&set[i]);
        set[i].key = va_arg(ap, char *);
        set[i].value = va_arg(ap, char *);
        setp[i] = &set[i];
        if (mm_config_set(&cfg, set[i].key, set[i].value, err) != MM_OK)
            die(err);
    }
    va_end(ap);
    if (s->m == NULL && mm_create(&cfg, &s->m, err) != MM_OK)
        die(err);
    c.preset = (char *)preset;
    c.name = "fuzz";
    c.n_settings = (size_t)nset;
    c.settings = setp;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &c;
    put(s, &req);
}

/* Sends op @code on machine 1 and returns the value the engine gives. */
static uint32_t op(struct seed *s, enum mm_opcode code, uint32_t cpu,
                   uint32_t nargs, const uint32_t *args)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op o = ARMMAP__V1__OP__INIT;
    struct mm_op mo = { code, cpu, nargs, args };
    struct mm_result res;

    o.machine = s->mid;
    o.code = (Armmap__V1__OpCode)code;
    o.cpu = cpu;
    o.n_args = nargs;
    o.args = (uint32_t *)args;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &o;
    put(s, &req);
    mm_apply(s->m, &mo, &res);
    return res.value;
}

static uint32_t op1(struct seed *s, enum mm_opcode code, uint32_t a)
{
    return op(s, code, 0, 1, &a);
}

static uint32_t op2(struct seed *s, enum mm_opcode code, uint32_t a,
                    uint32_t b)
{
    uint32_t args[2] = { a, b };

    return op(s, code, 0, 2, args);
}

static uint32_t op3(struct seed *s, enum mm_opcode code, uint32_t a,
                    uint32_t b, uint32_t c)
{
    uint32_t args[3] = { a, b, c };

    return op(s, code, 0, 3, args);
}

static void translate(struct seed *s, const uint32_t *va, size_t n,
                      uint32_t access, bool walk)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;

    t.machine = s->mid;
    t.n_va = n;
    t.va = (uint32_t *)va;
    t.access = access;
    t.walk = walk;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    put(s, &req);
}

static void phys(struct seed *s, const uint32_t *pa, size_t n)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Phys p = ARMMAP__V1__PHYS__INIT;

    p.machine = s->mid;
    p.n_pa = n;
    p.pa = (uint32_t *)pa;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PHYS;
    req.phys = &p;
    put(s, &req);
}

static void report(struct seed *s, int kind)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Report r = ARMMAP__V1__REPORT__INIT;

    r.machine = s->mid;
    r.kind = (Armmap__V1__ReportKind)kind;
    req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    req.report = &r;
    put(s, &req);
}

/* A report in both text and JSON. */
static void report_both(struct seed *s, int kind)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Report r = ARMMAP__V1__REPORT__INIT;

    r.machine = s->mid;
    r.kind = (Armmap__V1__ReportKind)kind;
    r.format = ARMMAP__V1__REPORT_FORMAT__REPORT_FORMAT_TEXT_AND_JSON;
    req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    req.report = &r;
    put(s, &req);
}

static void history(struct seed *s, uint64_t since, uint32_t limit,
                    int opcode, uint32_t lo, uint32_t hi, bool newest)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;

    h.machine = s->mid;
    h.since_seq = since;
    h.limit = limit;
    h.op = (Armmap__V1__OpCode)opcode;
    h.addr_lo = lo;
    h.addr_hi = hi;
    h.newest_first = newest;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    put(s, &req);
}

static void fork_at(struct seed *s, uint64_t at)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Fork f = ARMMAP__V1__FORK__INIT;

    f.machine = s->mid;
    f.at_seq = at;
    f.name = "forked";
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &f;
    put(s, &req);
}

static void clone1(struct seed *s)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone c = ARMMAP__V1__CLONE__INIT;

    c.machine = s->mid;
    c.name = "cloned";
    req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    req.clone = &c;
    put(s, &req);
}

static void purge(struct seed *s)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Purge p = ARMMAP__V1__PURGE__INIT;

    req.body_case = ARMMAP__V1__REQUEST__BODY_PURGE;
    req.purge = &p;
    put(s, &req);
}

/* A batch of alloc, kmap, vmalloc, vmap, kunmap (and a failing free). */
static void batch(struct seed *s, bool stop)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    Armmap__V1__Op o[6], *op[6];
    uint32_t a[6][2];
    struct mm_result res;
    struct mm_op mo;

    for (int i = 0; i < 6; i++) {
        armmap__v1__op__init(&o[i]);
        op[i] = &o[i];
        o[i].args = a[i];
    }
    /* Computed against the mirror in order, as the daemon applies them. */
    o[0].code = ARMMAP__V1__OP_CODE__OP_ALLOC;
    a[0][0] = MM_ZONE_HIGHMEM;
    a[0][1] = 0;
    o[0].n_args = 2;
    mo = (struct mm_op){ MM_OP_ALLOC, 0, 2, a[0] };
    mm_apply(s->m, &mo, &res);
    o[1].code = ARMMAP__V1__OP_CODE__OP_KMAP;
    a[1][0] = res.value;
    o[1].n_args = 1;
    o[2].code = ARMMAP__V1__OP_CODE__OP_VMALLOC;
    a[2][0] = 3 * MM_PAGE_SIZE;
    o[2].n_args = 1;
    o[3].code = ARMMAP__V1__OP_CODE__OP_VMAP;
    a[3][0] = res.value;
    a[3][1] = res.value;
    o[3].n_args = 2;
    o[4].code = ARMMAP__V1__OP_CODE__OP_KUNMAP;
    a[4][0] = res.value;
    o[4].n_args = 1;
    o[5].code = ARMMAP__V1__OP_CODE__OP_FREE;
    a[5][0] = 1;
    a[5][1] = 0;
    o[5].n_args = 2;
    for (int i = 1; i < 6; i++) {
        mo = (struct mm_op){ (enum mm_opcode)o[i].code, 0,
                             (uint32_t)o[i].n_args, a[i] };
        mm_apply(s->m, &mo, &res);
    }
    b.machine = s->mid;
    b.n_ops = 6;
    b.ops = op;
    b.stop_on_error = stop;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    put(s, &req);
}

/* One batch of @n kmaps of the pages from @pfn on, mirrored locally. */
static void batch_kmaps(struct seed *s, uint32_t pfn, size_t n)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    static Armmap__V1__Op o[256];
    static Armmap__V1__Op *op[256];
    static uint32_t a[256];
    struct mm_result res;
    struct mm_op mo;

    if (n > 256)
        die("batch_kmaps: too many");
    for (size_t i = 0; i < n; i++) {
        armmap__v1__op__init(&o[i]);
        op[i] = &o[i];
        a[i] = pfn + (uint32_t)i;
        o[i].code = ARMMAP__V1__OP_CODE__OP_KMAP;
        o[i].n_args = 1;
        o[i].args = &a[i];
        mo = (struct mm_op){ MM_OP_KMAP, 0, 1, &a[i] };
        mm_apply(s->m, &mo, &res);
    }
    b.machine = s->mid;
    b.n_ops = n;
    b.ops = op;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    put(s, &req);
}

/* One batch of @n vmallocs of one page each (@n areas, each with its
 * guard page), mirrored locally. */
static void batch_vmallocs(struct seed *s, size_t n)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    static Armmap__V1__Op o[256];
    static Armmap__V1__Op *op[256];
    static uint32_t a = MM_PAGE_SIZE;
    struct mm_result res;
    struct mm_op mo = { MM_OP_VMALLOC, 0, 1, &a };

    if (n > 256)
        die("batch_vmallocs: too many");
    for (size_t i = 0; i < n; i++) {
        armmap__v1__op__init(&o[i]);
        op[i] = &o[i];
        o[i].code = ARMMAP__V1__OP_CODE__OP_VMALLOC;
        o[i].n_args = 1;
        o[i].args = &a;
        mm_apply(s->m, &mo, &res);
    }
    b.machine = s->mid;
    b.n_ops = n;
    b.ops = op;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    put(s, &req);
}

/* A kmap that waits for a pkmap slot (Op.wait_ms), woken by a kunmap. */
static void kmap_wait(struct seed *s)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Op o = ARMMAP__V1__OP__INIT;
    uint32_t big = op2(s, MM_OP_ALLOC, MM_ZONE_HIGHMEM, 9);
    uint32_t one = op2(s, MM_OP_ALLOC, MM_ZONE_HIGHMEM, 0);

    batch_kmaps(s, big, 256);
    batch_kmaps(s, big + 256, 256);
    o.machine = s->mid;
    o.code = ARMMAP__V1__OP_CODE__OP_KMAP;
    o.n_args = 1;
    o.args = &one;
    o.wait_ms = 200;
    req.body_case = ARMMAP__V1__REQUEST__BODY_OP;
    req.op = &o;
    put(s, &req);                       /* parks: every slot is in use */
    op1(s, MM_OP_KUNMAP, big);          /* frees a slot: the kmap completes */
    mm_destroy(s->m);                   /* the mirror cannot follow a park */
    s->m = NULL;
}

/* Every op kind once, with real operands. */
static void all_ops(struct seed *s)
{
    uint32_t hi = op2(s, MM_OP_ALLOC, MM_ZONE_HIGHMEM, 0);
    uint32_t lo = op2(s, MM_OP_ALLOC, MM_ZONE_NORMAL, 1);
    uint32_t va, pfns[3] = { hi, lo, lo + 1 };

    op1(s, MM_OP_KMAP, hi);
    op1(s, MM_OP_KUNMAP, hi);
    va = op(s, MM_OP_KMAP_ATOMIC, 0, 1, &hi);
    op(s, MM_OP_KUNMAP_ATOMIC, 0, 1, &va);
    va = op1(s, MM_OP_VMALLOC, 5 * MM_PAGE_SIZE);
    op1(s, MM_OP_VFREE, va);
    va = op(s, MM_OP_VMAP, 0, 3, pfns);
    op1(s, MM_OP_VUNMAP, va);
    va = op2(s, MM_OP_IOREMAP, 0x09000000, 0x1000);
    op1(s, MM_OP_IOUNMAP, va);
    va = op1(s, MM_OP_MODULE_ALLOC, 0x3000);
    op3(s, MM_OP_MODULE_ENABLE_RO, va, 0x1000, 0x2000);
    op1(s, MM_OP_MODULE_FREE, va);
    op1(s, MM_OP_KMAP, hi);
    op1(s, MM_OP_KUNMAP, hi);
    op(s, MM_OP_KMAP_FLUSH, 0, 0, NULL);
    op2(s, MM_OP_FREE, lo, 1);
}

/* A module load: module_alloc, complete_formation()'s protection, the
 * refusals (misaligned, not a module; twice on a STRICT_MODULE_RWX build),
 * writes and fetches through it, and module_free.  On qemu-virt with 6.1,
 * Debian's armmp build, where STRICT_MODULE_RWX protects the pages. */
static void module_protect(struct seed *s)
{
    uint32_t va = op1(s, MM_OP_MODULE_ALLOC, 0x4000);
    uint32_t probe[3] = { va, va + 0x1000, va + 0x2000 };

    op3(s, MM_OP_MODULE_ENABLE_RO, va, 0x1000, 0x2000);
    op3(s, MM_OP_MODULE_ENABLE_RO, va, 0x1000, 0x2000);
    op3(s, MM_OP_MODULE_ENABLE_RO, va, 0x800, 0x1000);
    op3(s, MM_OP_MODULE_ENABLE_RO, va + 0x1000, 0, 0);
    translate(s, probe, 3, 2, true);
    translate(s, probe, 3, 4, false);
    op1(s, MM_OP_MODULE_FREE, va);
    op1(s, MM_OP_MODULE_ALLOC, 0x2000);
}

int main(int argc, char **argv)
{
    static struct seed s;
    uint32_t va[4] = { 0xc0000000, 0xc0008000, 0xffff0000, 0x00001000 };
    uint32_t pa[2] = { 0x40000000, 0x40008000 };
    const char *dir;

    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_mkseeds DIR\n");
        return 2;
    }
    dir = argv[1];

    begin(&s, 0);
    hello(&s);
    simple(&s, ARMMAP__V1__REQUEST__BODY_PING, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_PRESETS, 0);
    save(&s, dir, "hello-ping");

    begin(&s, 0);
    hello_as(&s, "fuzz", "wrong-token");
    simple(&s, ARMMAP__V1__REQUEST__BODY_PING, 0);
    save(&s, dir, "hello-bad-token");

    begin(&s, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_PING, 0);
    save(&s, dir, "no-hello");

    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 0);
    all_ops(&s);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DESCRIBE, 1);
    save(&s, dir, "create-ops");

    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 1, "kernel", "6.1");
    module_protect(&s);
    save(&s, dir, "module-protect");

    begin(&s, 7);
    hello(&s);
    create(&s, "qemu-virt", 0);
    all_ops(&s);
    save(&s, dir, "create-ops-pieces");

    begin(&s, 0);
    hello(&s);
    create(&s, "aries", 2, "cpus", "2", "atomic", "km_type");
    {
        uint32_t hi = op2(&s, MM_OP_ALLOC, MM_ZONE_HIGHMEM, 0);
        uint32_t args[2] = { hi, 3 }, va1;

        va1 = op(&s, MM_OP_KMAP_ATOMIC, 1, 2, args);
        op(&s, MM_OP_KUNMAP_ATOMIC, 1, 1, &va1);
    }
    save(&s, dir, "create-settings-km-type");

    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 0);
    op2(&s, MM_OP_ALLOC, MM_ZONE_NORMAL, 0);
    translate(&s, va, 4, 0, false);
    translate(&s, va, 4, 3, true);
    phys(&s, pa, 2);
    save(&s, dir, "translate-phys");

    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 0);
    batch(&s, false);
    batch(&s, true);
    save(&s, dir, "batch");

    begin(&s, 0);
    hello(&s);
    create(&s, "beaglebone-black", 0);
    for (int k = 0; k <= 8; k++)
        report(&s, k);
    save(&s, dir, "report");

    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 0);
    all_ops(&s);
    history(&s, 0, 0, 0, 0, 0, false);
    history(&s, 2, 3, MM_OP_KMAP, 0, 0xffffffff, true);
    save(&s, dir, "history");

    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 0);
    all_ops(&s);
    fork_at(&s, 3);
    clone1(&s);
    simple(&s, ARMMAP__V1__REQUEST__BODY_LIST, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DESTROY, 1);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DESCRIBE, 2);
    purge(&s);
    save(&s, dir, "fork-clone-destroy");

    begin(&s, 0);
    hello(&s);
    create(&s, "rpi2", 0);
    op2(&s, MM_OP_ALLOC, MM_ZONE_NORMAL, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DUMP, 1);
    save(&s, dir, "dump");

    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 0);
    kmap_wait(&s);
    simple(&s, ARMMAP__V1__REQUEST__BODY_STATS, 0);
    save(&s, dir, "kmap-wait");

    /* Replies faster than they are read: backpressure (--max-queued-bytes
     * is 1M in the harness). */
    begin(&s, 0);
    hello(&s);
    create(&s, "aries", 0);
    for (int k = 0; k < 24; k++)
        report(&s, 8);
    save(&s, dir, "many-reports");

    /* Past --max-machines-per-tenant (16), with forks and clones. */
    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 0);
    op2(&s, MM_OP_ALLOC, MM_ZONE_NORMAL, 0);
    for (int k = 0; k < 9; k++) {
        clone1(&s);
        fork_at(&s, (uint64_t)(k % 2));
    }
    simple(&s, ARMMAP__V1__REQUEST__BODY_LIST, 0);
    save(&s, dir, "many-machines");

    /* A second Hello, as another tenant. */
    begin(&s, 3);
    hello(&s);
    create(&s, "qemu-virt", 0);
    hello_as(&s, "other", FUZZ_TOKEN);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DESCRIBE, 1);
    save(&s, dir, "hello-twice");

    begin(&s, 0);
    hello(&s);
    simple(&s, ARMMAP__V1__REQUEST__BODY_STATS, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_LIST, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DESCRIBE, 9);
    save(&s, dir, "stats-list");

    /* Streamed replies (stream.c): 356 areas make a pagetables report
     * past 64 KiB in text and JSON, and 356 events a history answer of
     * --max-history-rows (256) rows; then a dump. */
    begin(&s, 0);
    hello(&s);
    create(&s, "qemu-virt", 0);
    batch_vmallocs(&s, 256);
    batch_vmallocs(&s, 100);
    report_both(&s, ARMMAP__V1__REPORT_KIND__REPORT_PAGETABLES);
    report_both(&s, ARMMAP__V1__REPORT_KIND__REPORT_VMALLOCINFO);
    history(&s, 0, 0, 0, 0, 0, false);
    history(&s, 0, 0, 0, 0, 0, true);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DUMP, 1);
    save(&s, dir, "streams");

    /* The tenants server: a tenant past its quota of three machines;
     * the admin tenant's daemon-wide stats and purge. */
    begin(&s, TENANTS);
    hello_as(&s, "fuzz-a", "fuzz-token-a");
    create(&s, "qemu-virt", 0);
    all_ops(&s);
    for (int k = 0; k < 3; k++)
        clone1(&s);
    simple(&s, ARMMAP__V1__REQUEST__BODY_STATS, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DESTROY, s.mid);
    purge(&s);
    save(&s, dir, "tenants-quota");

    begin(&s, TENANTS);
    hello_as(&s, "fuzz-ops", "fuzz-token-ops");
    create(&s, "aries", 0);
    op2(&s, MM_OP_ALLOC, MM_ZONE_HIGHMEM, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_DESTROY, s.mid);
    simple(&s, ARMMAP__V1__REQUEST__BODY_STATS, 0);
    simple(&s, ARMMAP__V1__REQUEST__BODY_LIST, 0);
    purge(&s);
    save(&s, dir, "tenants-admin");

    /* The token decides the tenant: a name that is not the token's, an
     * unknown token, no name at all (each Hello refused ends its
     * connection, so one a seed). */
    begin(&s, TENANTS | 5);
    hello_as(&s, "fuzz-ops", "fuzz-token-a");
    save(&s, dir, "tenants-hello-other-name");
    begin(&s, TENANTS);
    hello_as(&s, "fuzz-a", "no-such-token");
    save(&s, dir, "tenants-hello-bad-token");
    begin(&s, TENANTS);
    hello_as(&s, "", "fuzz-token-a");
    simple(&s, ARMMAP__V1__REQUEST__BODY_STATS, 0);
    save(&s, dir, "tenants-hello-no-name");

    begin(&s, 0);
    hello(&s);
    s.buf[s.len++] = 0x7f;              /* a frame far above --max-frame */
    s.buf[s.len++] = 0xff;
    s.buf[s.len++] = 0xff;
    s.buf[s.len++] = 0xff;
    save(&s, dir, "frame-too-large");

    begin(&s, 0);
    hello(&s);
    s.buf[s.len++] = 0;                 /* a frame that is not a Request */
    s.buf[s.len++] = 0;
    s.buf[s.len++] = 0;
    s.buf[s.len++] = 3;
    s.buf[s.len++] = 0xff;
    s.buf[s.len++] = 0xff;
    s.buf[s.len++] = 0xff;
    save(&s, dir, "bad-frame");
    mm_destroy(s.m);
    return 0;
}
