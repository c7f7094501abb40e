/* tests/daemon/test_ops.c - every request type and its errors, on a real
 * armmapd, with exact codes, messages and addresses.
 *
 * The machine is the "qemu-virt" preset: 1 GiB at 0x40000000, 3G/1G split,
 * Linux 4.19, HIGHMEM.  Its lowmem ends at pfn 0x70000 (768 MiB direct
 * map at 0xc0000000); the first highmem page the buddy allocator hands out
 * is pfn 0x7fc00, and the pkmap window starts at 0xbfe00000 (slot 0 is
 * skipped by the kernel's first search, so the first kmap gets slot 1).
 */
#include "check_daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tdaemon d;
static int fd;
static uint64_t m;
static char tenant[48];                 /* this test's (td_tenant_name) */

/* One daemon for the whole case (started in the runner process); each test
 * gets its own tenant and machine, so tests do not see each other. */
static void start_daemon(void)
{
    td_init(&d);
    td_start(&d, "--max-translate-batch=8", "--max-batch-ops=16",
             "--max-machines-per-tenant=4", "--max-history-rows=3", NULL);
}

static void stop_daemon(void)
{
    td_cleanup(&d);
}

static void setup(void)
{
    fd = td_session(&d, td_tenant_name("lab", tenant, sizeof(tenant)));
    m = td_create(fd, "qemu-virt", NULL);
}

static void teardown(void)
{
    close(fd);
}

static Armmap__V1__Response *ref_call(int body, uint64_t id, uint64_t machine)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__MachineRef ref = ARMMAP__V1__MACHINE_REF__INIT;

    ref.machine = machine;
    req.id = id;
    req.body_case = (Armmap__V1__Request__BodyCase)body;
    req.destroy = &ref;                 /* one union: every MachineRef body */
    return td_call(fd, &req);
}

static Armmap__V1__Response *create_with(const char *preset, const char *key,
                                         const char *value)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Create cr = ARMMAP__V1__CREATE__INIT;
    Armmap__V1__Setting kv = ARMMAP__V1__SETTING__INIT, *kvp = &kv;

    cr.preset = (char *)preset;
    if (key != NULL) {
        kv.key = (char *)key;
        kv.value = (char *)value;
        cr.n_settings = 1;
        cr.settings = &kvp;
    }
    req.id = 20;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CREATE;
    req.create = &cr;
    return td_call(fd, &req);
}

START_TEST(test_create_describe_zones)
{
    Armmap__V1__Response *r =
        ref_call(ARMMAP__V1__REQUEST__BODY_DESCRIBE, 3, m);
    Armmap__V1__Machine *mm;

    ck_assert_status(r, 3, 0, "");
    mm = r->machine;
    ck_assert_uint_eq(mm->id, m);
    ck_assert_uint_eq(strncmp(mm->tenant, "lab", 3), 0);
    ck_assert_uint_eq(mm->seq, 0);
    ck_assert_ptr_nonnull(strstr(mm->config, "preset=qemu-virt\n"));
    ck_assert_ptr_nonnull(strstr(mm->config, "ram=0x40000000+1G\n"));
    ck_assert_uint_eq(mm->n_zones, 2);
    ck_assert_str_eq(mm->zones[0]->name, "Normal");
    ck_assert_uint_eq(mm->zones[0]->start_pfn, 262144);
    ck_assert_uint_eq(mm->zones[0]->end_pfn, 458752);
    ck_assert_str_eq(mm->zones[1]->name, "HighMem");
    ck_assert_uint_eq(mm->zones[1]->start_pfn, 458752);
    ck_assert_uint_eq(mm->zones[1]->end_pfn, 524288);
    ck_assert_uint_eq(mm->zones[1]->n_nr_free, 11);
    ck_assert_str_eq(mm->broken, "");
    td_free(r);
}
END_TEST

START_TEST(test_create_errors_carry_engine_messages)
{
    Armmap__V1__Response *r = create_with("qemu-virt", "cpus", "99");

    ck_assert_status(r, 20, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "cpus: 99 (1 to 32)");
    td_free(r);
    r = create_with("qemu-virt", "bogus", "1");
    ck_assert_status(r, 20, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "config: unknown key 'bogus'");
    td_free(r);
    r = create_with("nosuch", NULL, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->status->code, ARMMAP__V1__CODE__NOT_FOUND);
    ck_assert_msg(
        strncmp(r->status->message, "preset: unknown preset 'nosuch'", 31) == 0,
        "%s", r->status->message);
    td_free(r);
}
END_TEST

START_TEST(test_create_limit_per_tenant)
{
    Armmap__V1__Response *r;
    char want[160];
    int i;

    for (i = 0; i < 3; i++)
        td_create(fd, "qemu-virt", NULL);
    r = create_with("qemu-virt", NULL, NULL);
    snprintf(want, sizeof(want), "create: tenant '%s' has 4 machines "
             "(--max-machines-per-tenant)", tenant);
    ck_assert_status(r, 20, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED, want);
    td_free(r);
}
END_TEST

START_TEST(test_kmap_translate_kunmap)
{
    uint32_t alloc[2] = { 2, 0 }, pfn, va, pa;
    Armmap__V1__Response *r;
    uint8_t fault;

    pfn = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    ck_assert_uint_eq(pfn, 0x7fc00);
    r = td_op(fd, 30, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0, &pfn, 1, 0);
    ck_assert_status(r, 30, 0, "");
    ck_assert_uint_eq(r->op->value, 0xbfe01000);
    ck_assert_uint_eq(r->op->seq, 2);
    va = r->op->value;
    td_free(r);
    td_translate(fd, m, &va, 1, &pa, &fault);
    ck_assert_uint_eq(pa, 0x7fc00000);
    ck_assert_uint_eq(fault, 0);
    r = td_op(fd, 31, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &pfn, 1, 0);
    ck_assert_status(r, 31, 0, "");
    ck_assert_uint_eq(r->op->value, 0xbfe01000);
    ck_assert_uint_eq(r->op->flags, 2);             /* MM_RES_WAKE */
    td_free(r);
    r = td_op(fd, 32, m, ARMMAP__V1__OP_CODE__OP_KUNMAP, 0, &pfn, 1, 0);
    ck_assert_status(r, 32, ARMMAP__V1__CODE__NOT_FOUND,
                     "kunmap: pfn 0x7fc00 has no kmap users (pkmap slot 1 at "
                     "0xbfe01000 awaits a flush)");
    td_free(r);
}
END_TEST

START_TEST(test_op_errors)
{
    uint32_t bad = 0x1000;
    Armmap__V1__Response *r = td_op(fd, 33, m, ARMMAP__V1__OP_CODE__OP_KMAP, 0,
                                    &bad, 1, 0);
    char want[80];

    ck_assert_status(r, 33, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "kmap: pfn 0x1000 is not RAM");
    td_free(r);
    r = td_op(fd, 34, m + 99, ARMMAP__V1__OP_CODE__OP_KMAP, 0, &bad, 1, 0);
    snprintf(want, sizeof(want), "kmap: machine %llu does not exist",
             (unsigned long long)(m + 99));
    ck_assert_status(r, 34, ARMMAP__V1__CODE__NOT_FOUND, want);
    td_free(r);
    /* A failed op takes no sequence number. */
    r = ref_call(ARMMAP__V1__REQUEST__BODY_DESCRIBE, 35, m);
    ck_assert_uint_eq(r->machine->seq, 0);
    td_free(r);
}
END_TEST

START_TEST(test_batch_results_and_stop_on_error)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Batch b = ARMMAP__V1__BATCH__INIT;
    Armmap__V1__Op ops[17], *opp[17];
    uint32_t alloc[2] = { 2, 0 }, bad = 0x1000;
    Armmap__V1__Response *r;
    int i;

    for (i = 0; i < 17; i++) {
        armmap__v1__op__init(&ops[i]);
        opp[i] = &ops[i];
    }
    ops[0].code = ARMMAP__V1__OP_CODE__OP_ALLOC;
    ops[0].n_args = 2;
    ops[0].args = alloc;
    ops[1].code = ARMMAP__V1__OP_CODE__OP_KMAP;
    ops[1].n_args = 1;
    ops[1].args = &bad;
    ops[2].code = ARMMAP__V1__OP_CODE__OP_ALLOC;
    ops[2].n_args = 2;
    ops[2].args = alloc;
    b.machine = m;
    b.n_ops = 3;
    b.ops = opp;
    req.id = 40;
    req.body_case = ARMMAP__V1__REQUEST__BODY_BATCH;
    req.batch = &b;
    r = td_call(fd, &req);
    ck_assert_status(r, 40, 0, "");
    ck_assert_uint_eq(r->batch->n_results, 3);
    ck_assert_uint_eq(r->batch->results[0]->value, 0x7fc00);
    ck_assert_uint_eq(r->batch->results[0]->seq, 1);
    ck_assert_int_eq(r->batch->results[1]->status->code,
                     ARMMAP__V1__CODE__INVALID_ARGUMENT);
    ck_assert_str_eq(r->batch->results[1]->status->message,
                     "kmap: pfn 0x1000 is not RAM");
    ck_assert_uint_eq(r->batch->results[1]->seq, 0);
    ck_assert_uint_eq(r->batch->results[2]->seq, 2);
    td_free(r);

    b.stop_on_error = 1;
    r = td_call(fd, &req);
    ck_assert_status(r, 40, 0, "");
    ck_assert_uint_eq(r->batch->n_results, 2);
    ck_assert_uint_eq(r->batch->results[0]->seq, 3);
    td_free(r);

    b.n_ops = 17;
    r = td_call(fd, &req);
    ck_assert_status(r, 40, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "batch: 17 ops exceed --max-batch-ops (16)");
    td_free(r);
}
END_TEST

START_TEST(test_translate_regions_walk_and_limit)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    uint32_t va[9] = { 0xc0001000, 0x00001000, 0xbfe00000, 0xffff0000,
                       0xc0001000, 0xc0001000, 0xc0001000, 0xc0001000, 0 };
    Armmap__V1__Response *r;

    t.machine = m;
    t.n_va = 2;
    t.va = va;
    t.walk = 1;
    req.id = 50;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    r = td_call(fd, &req);
    ck_assert_status(r, 50, 0, "");
    ck_assert_uint_eq(r->translate->pa[0], 0x40001000);
    ck_assert_uint_eq(r->translate->fault[0], 0);
    ck_assert_uint_eq(r->translate->region[0],
                      ARMMAP__V1__REGION__REGION_LOWMEM);
    ck_assert_uint_eq(r->translate->fault[1], 1);      /* translation L1 */
    ck_assert_uint_eq(r->translate->region[1],
                      ARMMAP__V1__REGION__REGION_USER);
    ck_assert_uint_eq(r->translate->n_walks, 2);
    ck_assert_uint_eq(r->translate->walks[0]->n_steps, 1);
    ck_assert_str_eq(r->translate->walks[0]->steps[0]->kind, "section");
    ck_assert_uint_eq(r->translate->walks[0]->steps[0]->addr, 0x40007000);
    ck_assert_uint_eq(r->translate->walks[0]->steps[0]->desc, 0x4000040e);
    ck_assert_ptr_nonnull(strstr(r->translate->walks[0]->text,
                                 "VA 0xc0001000 -> PA 0x40001000"));
    td_free(r);

    t.walk = 0;
    t.n_va = 4;
    r = td_call(fd, &req);
    ck_assert_status(r, 50, 0, "");
    ck_assert_uint_eq(r->translate->region[2],
                      ARMMAP__V1__REGION__REGION_PKMAP);
    ck_assert_uint_eq(r->translate->region[3],
                      ARMMAP__V1__REGION__REGION_VECTOR);
    ck_assert_uint_eq(r->translate->n_walks, 0);
    td_free(r);

    t.n_va = 9;
    r = td_call(fd, &req);
    ck_assert_status(r, 50, ARMMAP__V1__CODE__RESOURCE_EXHAUSTED,
                     "translate: 9 addresses exceed --max-translate-batch (8)");
    td_free(r);
}
END_TEST

START_TEST(test_phys_aliases)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Phys ph = ARMMAP__V1__PHYS__INIT;
    uint32_t alloc[2] = { 2, 0 }, pfn, pa[2];
    Armmap__V1__Response *r;

    pfn = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);
    pa[0] = 0x40001000;
    pa[1] = pfn << 12;
    ph.machine = m;
    ph.n_pa = 2;
    ph.pa = pa;
    req.id = 60;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PHYS;
    req.phys = &ph;
    r = td_call(fd, &req);
    ck_assert_status(r, 60, 0, "");
    ck_assert_uint_eq(r->phys->n_aliases, 2);
    ck_assert_uint_eq(r->phys->aliases[0]->n_va, 1);
    ck_assert_uint_eq(r->phys->aliases[0]->va[0], 0xc0001000);
    ck_assert_int_eq(r->phys->aliases[0]->region[0],
                     ARMMAP__V1__REGION__REGION_LOWMEM);
    ck_assert_uint_eq(r->phys->aliases[1]->n_va, 1);
    ck_assert_uint_eq(r->phys->aliases[1]->va[0], 0xbfe01000);
    ck_assert_int_eq(r->phys->aliases[1]->region[0],
                     ARMMAP__V1__REGION__REGION_PKMAP);
    td_free(r);
}
END_TEST

START_TEST(test_report_layout_and_bad_kind)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Report rep = ARMMAP__V1__REPORT__INIT;
    Armmap__V1__Response *r;

    rep.machine = m;
    rep.kind = ARMMAP__V1__REPORT_KIND__REPORT_LAYOUT;
    req.id = 70;
    req.body_case = ARMMAP__V1__REQUEST__BODY_REPORT;
    req.report = &rep;
    r = td_call(fd, &req);
    ck_assert_status(r, 70, 0, "");
    ck_assert_ptr_nonnull(strstr(r->report->text,
        "    pkmap   : 0xbfe00000 - 0xc0000000   (   2 MB)\n"));
    td_free(r);
    rep.kind = (Armmap__V1__ReportKind)42;
    r = td_call(fd, &req);
    ck_assert_status(r, 70, ARMMAP__V1__CODE__INVALID_ARGUMENT,
                     "report: unknown kind 42");
    td_free(r);
}
END_TEST

START_TEST(test_presets_list)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Presets p = ARMMAP__V1__PRESETS__INIT;
    Armmap__V1__Response *r;
    bool aries = false, virt = false;
    size_t i;

    req.id = 80;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PRESETS;
    req.presets = &p;
    r = td_call(fd, &req);
    ck_assert_status(r, 80, 0, "");
    for (i = 0; i < r->presets->n_presets; i++) {
        aries |= strcmp(r->presets->presets[i]->name, "aries") == 0;
        virt |= strcmp(r->presets->presets[i]->name, "qemu-virt") == 0;
        ck_assert_str_ne(r->presets->presets[i]->summary, "");
    }
    ck_assert(aries && virt);
    td_free(r);
}
END_TEST

START_TEST(test_history_pages_and_counts)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__History h = ARMMAP__V1__HISTORY__INIT;
    uint32_t alloc[2] = { 2, 0 };
    Armmap__V1__Response *r;
    int i;

    for (i = 0; i < 5; i++)
        td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
    h.machine = m;
    req.id = 90;
    req.body_case = ARMMAP__V1__REQUEST__BODY_HISTORY;
    req.history = &h;
    r = td_call(fd, &req);
    ck_assert_status(r, 90, 0, "");
    ck_assert_uint_eq(r->history->n_events, 3);     /* --max-history-rows */
    ck_assert_uint_eq(r->history->events[0]->seq, 1);
    ck_assert_int_eq(r->history->events[0]->op, ARMMAP__V1__OP_CODE__OP_ALLOC);
    ck_assert_uint_eq(r->history->events[0]->n_args, 2);
    ck_assert_uint_eq(r->history->events[0]->args[0], 2);
    ck_assert_uint_eq(r->history->events[0]->result->value, 0x7fc00);
    ck_assert_uint_eq(r->history->next_after_seq, 3);
    ck_assert_uint_eq(r->history->n_counts, 2);
    ck_assert_int_eq(r->history->counts[0]->op, ARMMAP__V1__OP_CODE__OP_ALLOC);
    ck_assert_uint_eq(r->history->counts[0]->count, 5);
    ck_assert_int_eq(r->history->counts[1]->op,
                     ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH);
    ck_assert_uint_eq(r->history->counts[1]->count, 1);
    td_free(r);
    h.after_seq = 3;
    r = td_call(fd, &req);
    ck_assert_uint_eq(r->history->n_events, 3);
    ck_assert_uint_eq(r->history->events[0]->seq, 4);
    ck_assert_uint_eq(r->history->events[2]->seq, 6);
    ck_assert_uint_eq(r->history->next_after_seq, 0);
    td_free(r);
    /* Filter by op, newest first. */
    h.after_seq = 0;
    h.op = ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH;
    h.newest_first = 1;
    r = td_call(fd, &req);
    ck_assert_uint_eq(r->history->n_events, 1);
    ck_assert_uint_eq(r->history->events[0]->seq, 6);
    td_free(r);
}
END_TEST

START_TEST(test_clone_is_independent)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Clone cl = ARMMAP__V1__CLONE__INIT;
    uint32_t alloc[2] = { 2, 0 }, pfn, va, pa;
    Armmap__V1__Response *r;
    uint64_t c;
    uint8_t fault;

    pfn = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    va = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);
    cl.machine = m;
    cl.name = "copy";
    req.id = 100;
    req.body_case = ARMMAP__V1__REQUEST__BODY_CLONE;
    req.clone = &cl;
    r = td_call(fd, &req);
    ck_assert_status(r, 100, 0, "");
    c = r->machine->id;
    ck_assert_uint_ne(c, m);
    ck_assert_uint_eq(r->machine->seq, 2);
    ck_assert_str_eq(r->machine->name, "copy");
    td_free(r);
    td_translate(fd, c, &va, 1, &pa, &fault);
    ck_assert_uint_eq(pa, 0x7fc00000);
    /* kunmap + flush on the clone; the source keeps its mapping. */
    td_op_ok(fd, c, ARMMAP__V1__OP_CODE__OP_KUNMAP, &pfn, 1);
    td_op_ok(fd, c, ARMMAP__V1__OP_CODE__OP_KMAP_FLUSH, NULL, 0);
    td_translate(fd, c, &va, 1, &pa, &fault);
    ck_assert_uint_eq(fault, 2);                    /* translation L2 */
    td_translate(fd, m, &va, 1, &pa, &fault);
    ck_assert_uint_eq(fault, 0);
    ck_assert_uint_eq(pa, 0x7fc00000);
}
END_TEST

START_TEST(test_fork_at_seq)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Fork fk = ARMMAP__V1__FORK__INIT;
    uint32_t alloc[2] = { 2, 0 }, pfn, va, pa;
    Armmap__V1__Response *r;
    uint8_t fault;
    char want[120];

    pfn = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    va = td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_KMAP, &pfn, 1);
    fk.machine = m;
    fk.at_seq = 1;                      /* after the alloc, before the kmap */
    req.id = 110;
    req.body_case = ARMMAP__V1__REQUEST__BODY_FORK;
    req.fork = &fk;
    r = td_call(fd, &req);
    ck_assert_status(r, 110, 0, "");
    ck_assert_uint_eq(r->machine->seq, 1);
    td_translate(fd, r->machine->id, &va, 1, &pa, &fault);
    ck_assert_uint_ne(fault, 0);
    /* The fork kmaps the same page into the same slot. */
    ck_assert_uint_eq(td_op_ok(fd, r->machine->id, ARMMAP__V1__OP_CODE__OP_KMAP,
                               &pfn, 1), va);
    td_free(r);
    fk.at_seq = 3;
    r = td_call(fd, &req);
    snprintf(want, sizeof(want),
             "fork: machine %llu has 2 changes; at_seq 3 is "
             "beyond them",
             (unsigned long long)m);
    ck_assert_status(r, 110, ARMMAP__V1__CODE__INVALID_ARGUMENT, want);
    td_free(r);
}
END_TEST

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

START_TEST(test_dump_is_an_arm_core_file)
{
    Armmap__V1__Response *r = ref_call(ARMMAP__V1__REQUEST__BODY_DUMP, 120, m);
    const uint8_t *e, *ph, *note;
    uint16_t phnum, i;
    size_t len;

    ck_assert_status(r, 120, 0, "");
    e = r->dump->elf.data;
    len = r->dump->elf.len;
    ck_assert_uint_ge(len, 52);
    ck_assert(memcmp(e, "\177ELF\1\1\1", 7) == 0);
    ck_assert_uint_eq(e[16] | e[17] << 8, 4);       /* ET_CORE */
    ck_assert_uint_eq(e[18] | e[19] << 8, 40);      /* EM_ARM */
    phnum = (uint16_t)(e[44] | e[45] << 8);
    ck_assert_uint_ge(phnum, 2);
    ph = e + le32(e + 28);
    ck_assert_uint_eq(le32(ph), 4);                 /* PT_NOTE first */
    note = e + le32(ph + 4);
    ck_assert_uint_eq(le32(note), 7);
    ck_assert_uint_eq(le32(note + 4), 16);
    ck_assert_uint_eq(le32(note + 8), 0x41524d31);
    ck_assert_str_eq((const char *)note + 12, "ARMMAP");
    /* TTBR0 points at swapper_pg_dir, 16 KiB at 0x40004000. */
    ck_assert_uint_eq(le32(note + 20) & ~0x3fffu, 0x40004000);
    for (i = 1; i < phnum; i++) {
        const uint8_t *p = ph + 32 * i;

        ck_assert_uint_eq(le32(p), 1);              /* PT_LOAD */
        ck_assert_uint_eq(le32(p + 8), le32(p + 12));   /* vaddr == paddr */
        ck_assert_uint_eq(le32(p + 16) % 4096, 0);
        ck_assert_uint_le(le32(p + 4) + le32(p + 16), len);
    }
    ck_assert_uint_eq(le32(ph + 32 + 8), 0x40004000);
    td_free(r);
}
END_TEST

START_TEST(test_destroy_then_not_found_and_purge)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Purge pu = ARMMAP__V1__PURGE__INIT;
    Armmap__V1__Response *r;
    uint32_t alloc[2] = { 2, 0 };
    char want[80];

    td_op_ok(fd, m, ARMMAP__V1__OP_CODE__OP_ALLOC, alloc, 2);
    r = ref_call(ARMMAP__V1__REQUEST__BODY_DESTROY, 130, m);
    ck_assert_status(r, 130, 0, "");
    td_free(r);
    r = ref_call(ARMMAP__V1__REQUEST__BODY_DESCRIBE, 131, m);
    snprintf(want, sizeof(want), "describe: machine %llu does not exist",
             (unsigned long long)m);
    ck_assert_status(r, 131, ARMMAP__V1__CODE__NOT_FOUND, want);
    td_free(r);
    r = ref_call(ARMMAP__V1__REQUEST__BODY_DESTROY, 132, m);
    snprintf(want, sizeof(want), "destroy: machine %llu does not exist",
             (unsigned long long)m);
    ck_assert_status(r, 132, ARMMAP__V1__CODE__NOT_FOUND, want);
    td_free(r);
    /* Purge older_than 0 takes what was destroyed before the current ms. */
    ck_assert(spawn_wait_clock_past(spawn_wall_ms()));
    pu.older_than_ms = 0;
    req.id = 133;
    req.body_case = ARMMAP__V1__REQUEST__BODY_PURGE;
    req.purge = &pu;
    r = td_call(fd, &req);
    ck_assert_status(r, 133, 0, "");
    ck_assert_uint_eq(r->purge->machines, 1);
    ck_assert_uint_eq(r->purge->events, 1);
    td_free(r);
}
END_TEST

/* The hardware second-level descriptor's low 12 bits (APX, XN, AP, TEX,
 * C, B) of @va, from a translate walk on @machine (0 if no second step). */
static uint32_t l2_attrs(int c, uint64_t machine, uint32_t va)
{
    Armmap__V1__Request req = ARMMAP__V1__REQUEST__INIT;
    Armmap__V1__Translate t = ARMMAP__V1__TRANSLATE__INIT;
    Armmap__V1__Response *r;
    uint32_t attrs = 0;

    t.machine = machine;
    t.n_va = 1;
    t.va = &va;
    t.walk = 1;
    req.id = 140;
    req.body_case = ARMMAP__V1__REQUEST__BODY_TRANSLATE;
    req.translate = &t;
    r = td_call(c, &req);
    ck_assert_status(r, 140, 0, "");
    ck_assert_uint_eq(r->translate->n_walks, 1);
    if (r->translate->walks[0]->n_steps == 2)
        attrs = r->translate->walks[0]->steps[1]->desc & 0xfffu;
    td_free(r);
    return attrs;
}

/* Sends module_enable_ro of @a (va, text_size, ro_size) as request @id
 * and asserts it is refused with @msg (INVALID_ARGUMENT). */
static void enable_ro_refused(int c, uint64_t id, uint64_t machine, const uint32_t *a,
                              const char *msg)
{
    Armmap__V1__Response *r =
        td_op(c, id, machine, ARMMAP__V1__OP_CODE__OP_MODULE_ENABLE_RO, 0, a, 3, 0);

    ck_assert_status(r, id, ARMMAP__V1__CODE__INVALID_ARGUMENT, msg);
    td_free(r);
}

/* The second-level attributes of the module's text, rodata and data
 * pages after module_enable_ro(0xbf000000, 0x1000, 0x2000): 0x65e (APX:
 * read-only, executable), 0x65f (read-only, XN), 0x45f (XN). */
static void assert_protected(int c, uint64_t machine)
{
    ck_assert_uint_eq(l2_attrs(c, machine, 0xbf000000), 0x65e);
    ck_assert_uint_eq(l2_attrs(c, machine, 0xbf001000), 0x65f);
    ck_assert_uint_eq(l2_attrs(c, machine, 0xbf002000), 0x45f);
    ck_assert_uint_eq(l2_attrs(c, machine, 0xbf003000), 0x45f);
}

/* module_enable_ro travels as an op: applied, refused with the engine's
 * exact messages taking no sequence number (not a module, misaligned,
 * twice), committed, and replayed by a restarted daemon: the protection
 * is back and a second call is still refused; module_free then purges
 * the range at once.  Its own daemon: it restarts it. */
START_TEST(test_module_enable_ro_travels_and_replays)
{
    static const char twice[] = "module_enable_ro: the module at 0xbf000000 is "
                                "protected already";
    struct tdaemon own;
    uint32_t size = 0x4000, a[3] = { 0xbf000000, 0x1000, 0x2000 };
    uint32_t bad[3] = { 0xbf001000, 0x1000, 0x1000 };
    uint32_t odd[3] = { 0xbf000000, 0x800, 0x1000 };
    Armmap__V1__Response *r;
    uint64_t mm61;
    int c;

    td_init(&own);
    td_start(&own, NULL);
    c = td_session(&own, "modrox");
    mm61 = td_create(c, "qemu-virt", "kernel=6.1", "ram=0x40000000+1G", NULL);
    ck_assert_uint_eq(td_op_ok(c, mm61, ARMMAP__V1__OP_CODE__OP_MODULE_ALLOC, &size, 1),
                      0xbf000000);
    ck_assert_uint_eq(l2_attrs(c, mm61, 0xbf000000), 0x45e);
    enable_ro_refused(c, 141, mm61, bad,
                      "module_enable_ro: 0xbf001000 is not the start of a "
                      "module_alloc area");
    enable_ro_refused(c, 142, mm61, odd,
                      "module_enable_ro: text 0x800 and rodata end 0x1000 must be "
                      "page aligned, in order, within the module's 0x4000 bytes");
    r = td_op(c, 143, mm61, ARMMAP__V1__OP_CODE__OP_MODULE_ENABLE_RO, 0, a, 3, 0);
    ck_assert_status(r, 143, 0, "");
    ck_assert_uint_eq(r->op->value, 2);
    ck_assert_uint_eq(r->op->seq, 2); /* the refusals took none */
    td_free(r);
    assert_protected(c, mm61);
    enable_ro_refused(c, 144, mm61, a, twice);
    close(c);
    ck_assert_msg(td_stop(&own) == 0, "%s", td_log(&own));

    td_start(&own, NULL);
    c = td_session(&own, "modrox");
    assert_protected(c, mm61);
    enable_ro_refused(c, 145, mm61, a, twice);
    r = td_op(c, 146, mm61, ARMMAP__V1__OP_CODE__OP_MODULE_FREE, 0, a, 1, 0);
    ck_assert_status(r, 146, 0, "");
    ck_assert_uint_eq(r->op->value, 4);
    ck_assert_uint_eq(r->op->seq, 3);
    td_free(r);
    ck_assert_uint_eq(td_op_ok(c, mm61, ARMMAP__V1__OP_CODE__OP_MODULE_ALLOC, &size, 1),
                      0xbf000000);
    close(c);
    td_cleanup(&own);
}
END_TEST

Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");

    tcase_add_unchecked_fixture(tc, start_daemon, stop_daemon);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_create_describe_zones);
    tcase_add_test(tc, test_create_errors_carry_engine_messages);
    tcase_add_test(tc, test_create_limit_per_tenant);
    tcase_add_test(tc, test_kmap_translate_kunmap);
    tcase_add_test(tc, test_op_errors);
    tcase_add_test(tc, test_batch_results_and_stop_on_error);
    tcase_add_test(tc, test_translate_regions_walk_and_limit);
    tcase_add_test(tc, test_phys_aliases);
    tcase_add_test(tc, test_report_layout_and_bad_kind);
    tcase_add_test(tc, test_presets_list);
    tcase_add_test(tc, test_history_pages_and_counts);
    tcase_add_test(tc, test_clone_is_independent);
    tcase_add_test(tc, test_fork_at_seq);
    tcase_add_test(tc, test_dump_is_an_arm_core_file);
    tcase_add_test(tc, test_destroy_then_not_found_and_purge);
    suite_add_tcase(s, tc);
    tc = tcase_create("modrox");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_module_enable_ro_travels_and_replays);
    suite_add_tcase(s, tc);
    return s;
}
