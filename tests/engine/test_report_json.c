/* tests/engine/test_report_json.c - mm_report_json(): the structured reports.
 *
 * Each report's JSON is parsed with jansson and checked field by field
 * against the kernel text mm_report() renders for the same machine (the
 * two share their data helpers, so they must agree), and exactly for known
 * machines.  docs/api-reports.md is read as the schema: every report of
 * every preset and era must hold exactly the fields it documents, with the
 * documented types, and every documented field must occur somewhere.
 */
#include "check_engine.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHEMA_DOC "docs/api-reports.md"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Renders report @r as JSON, parses it, and checks the envelope. */
static json_t *report_json(const struct mm_machine *m, enum mm_report r)
{
    struct mm_buf b = {0};
    json_error_t err;
    json_t *o;

    ck_assert_int_eq(mm_report_json(m, r, &b), MM_OK);
    o = json_loads(b.data, 0, &err);
    ck_assert_msg(o != NULL, "%s: %s at %d: %s", mm_report_name(r), err.text,
                  err.position, b.data);
    mm_buf_free(&b);
    ck_assert(json_is_object(o));
    ck_assert_str_eq(json_string_value(json_object_get(o, "report")), mm_report_name(r));
    return o;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static long long jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "%s is not a number", key);
    return json_integer_value(v);
}

/* A "0x..." field as a number. */
static unsigned long long jhex(json_t *o, const char *key)
{
    const char *s = jstr(o, key);
    char *end;
    unsigned long long v;

    ck_assert_msg(strncmp(s, "0x", 2) == 0, "%s = %s", key, s);
    v = strtoull(s + 2, &end, 16);
    ck_assert_msg(*end == '\0' && end != s + 2, "%s = %s", key, s);
    return v;
}

static json_t *jarr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_array(v), "%s is not an array", key);
    return v;
}

/* Asserts the whole JSON text of a report. */
static void expect_json(const struct mm_machine *m, enum mm_report r, const char *want)
{
    struct mm_buf b = {0};

    ck_assert_int_eq(mm_report_json(m, r, &b), MM_OK);
    ck_assert_str_eq(b.data, want);
    mm_buf_free(&b);
}

static mm_pfn_t alloc_high(struct mm_machine *m)
{
    struct mm_result res;

    ck_assert_int_eq(mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &res), MM_OK);
    return res.value;
}

/* The next line of @text after *@p (NUL-terminated copy in @line). */
static bool next_line(const char **p, char *line, size_t size)
{
    const char *nl;
    size_t n;

    if (**p == '\0')
        return false;
    nl = strchr(*p, '\n');
    n = nl != NULL ? (size_t)(nl - *p) : strlen(*p);
    snprintf(line, size, "%.*s", (int)n, *p);
    *p += n + (nl != NULL);
    return true;
}

/* ------------------------------------------------------------------ */
/* pkmap                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_pkmap_json_aries_after_kmaps)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result res;
    mm_pfn_t a = alloc_high(m), b = alloc_high(m), c = alloc_high(m);

    /* the buddy allocator's order: the split's upper half comes first */
    ck_assert_uint_eq(a, 0xff2fe);
    ck_assert_uint_eq(b, 0xff2fc);
    ck_assert_uint_eq(c, 0xff2fd);
    ck_assert_int_eq(mm_kmap(m, a, &res), MM_OK);
    ck_assert_int_eq(mm_kmap(m, a, &res), MM_OK);
    ck_assert_int_eq(mm_kmap(m, b, &res), MM_OK);
    ck_assert_int_eq(mm_kmap(m, c, &res), MM_OK);
    ck_assert_int_eq(mm_kunmap(m, b, &res), MM_OK);
    /* KERNEL: mm/highmem.c pkmap_count: 1 = unused but not flushed, n = n-1 users */
    expect_json(m, MM_REPORT_PKMAP,
                "{\"report\":\"pkmap\",\"kernel\":\"3.4.0\",\"seq\":\"8\","
                "\"highmem\":true,\"start\":\"0xbfe00000\",\"end\":\"0xc0000000\","
                "\"nr_slots\":512,\"last_pkmap_nr\":3,\"in_use\":2,\"unused\":1,"
                "\"free\":509,\"flushes\":0,\"slots\":["
                "{\"slot\":1,\"address\":\"0xbfe01000\",\"count\":3,\"users\":2,"
                "\"pfn\":\"0xff2fe\",\"state\":\"in-use\"},"
                "{\"slot\":2,\"address\":\"0xbfe02000\",\"count\":1,\"users\":0,"
                "\"pfn\":\"0xff2fc\",\"state\":\"unused\"},"
                "{\"slot\":3,\"address\":\"0xbfe03000\",\"count\":2,\"users\":1,"
                "\"pfn\":\"0xff2fd\",\"state\":\"in-use\"}]}");
    mm_destroy(m);
}
END_TEST

/* Every row of the text table is a slot of the JSON, value for value. */
START_TEST(test_pkmap_json_matches_text)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result res;
    char *text, line[256];
    const char *p;
    unsigned last, in_use, unused, flushes, nslots, i = 0;
    json_t *o, *slots;

    for (unsigned k = 0; k < 40; k++) {
        mm_pfn_t pfn = alloc_high(m);

        ck_assert_int_eq(mm_kmap(m, pfn, &res), MM_OK);
        if (k % 3 == 0)
            ck_assert_int_eq(mm_kunmap(m, pfn, &res), MM_OK);
    }
    text = t_report(m, MM_REPORT_PKMAP);
    o = report_json(m, MM_REPORT_PKMAP);
    p = text;
    ck_assert(next_line(&p, line, sizeof(line)));
    ck_assert_int_eq(sscanf(line, "pkmap: 0x%*x-0x%*x, %u slots, last_pkmap_nr %u, %u in "
                            "use, %u unused (awaiting flush), %u flushes", &nslots, &last,
                            &in_use, &unused, &flushes), 5);
    ck_assert_int_eq(jnum(o, "nr_slots"), nslots);
    ck_assert_int_eq(jnum(o, "last_pkmap_nr"), last);
    ck_assert_int_eq(jnum(o, "in_use"), in_use);
    ck_assert_int_eq(jnum(o, "unused"), unused);
    ck_assert_int_eq(jnum(o, "flushes"), flushes);
    ck_assert_int_eq(jnum(o, "free"), 512 - in_use - unused);
    ck_assert_int_eq(in_use, 26);
    ck_assert_int_eq(unused, 14);
    ck_assert(next_line(&p, line, sizeof(line)));       /* the column header */
    slots = jarr(o, "slots");
    while (next_line(&p, line, sizeof(line))) {
        unsigned slot, addr, pfn;
        int count, users;
        json_t *s = json_array_get(slots, i++);

        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(sscanf(line, "%u 0x%x %d %d 0x%x", &slot, &addr, &count, &users,
                                &pfn), 5);
        ck_assert_int_eq(jnum(s, "slot"), slot);
        ck_assert_uint_eq(jhex(s, "address"), addr);
        ck_assert_int_eq(jnum(s, "count"), count);
        ck_assert_int_eq(jnum(s, "users"), users);
        ck_assert_uint_eq(jhex(s, "pfn"), pfn);
        ck_assert_str_eq(jstr(s, "state"), count >= 2 ? "in-use" : "unused");
    }
    ck_assert_int_eq(i, json_array_size(slots));
    ck_assert_int_eq(i, 40);
    json_decref(o);
    free(text);
    mm_destroy(m);
}
END_TEST

START_TEST(test_pkmap_json_without_highmem)
{
    struct mm_machine *m = t_machine("qemu-virt", "highmem=off", NULL);

    expect_json(m, MM_REPORT_PKMAP,
                "{\"report\":\"pkmap\",\"kernel\":\"4.19.0\",\"seq\":\"0\","
                "\"highmem\":false,\"start\":null,\"end\":null,\"nr_slots\":0,"
                "\"last_pkmap_nr\":0,\"in_use\":0,\"unused\":0,\"free\":0,"
                "\"flushes\":0,\"slots\":[]}");
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* regions                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_regions_json_qemu_virt_61)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", NULL);
    char *text = t_report(m, MM_REPORT_REGIONS), line[256];
    const char *p = text;
    json_t *o = report_json(m, MM_REPORT_REGIONS), *rows = jarr(o, "regions");
    static const char *const names[] = {
        "user", "modules", "pkmap", "lowmem", "vmalloc", "pci-io", "fdt", "fixmap",
        "vector",
    };
    static const unsigned long long bounds[][2] = {
        {0x0, 0xbf000000}, {0xbf000000, 0xbfe00000}, {0xbfe00000, 0xc0000000},
        {0xc0000000, 0xf0000000}, {0xf0800000, 0xff800000}, {0xfee00000, 0xff000000},
        {0xff800000, 0xffa00000}, {0xffc80000, 0xfff00000}, {0xffff0000, 0xffff2000},
    };
    size_t i = 0;

    ck_assert_str_eq(jstr(o, "kernel"), "6.1.0");
    ck_assert_str_eq(jstr(o, "reference"), mm_config_reference(mm_machine_config(m)));
    ck_assert_int_eq(json_array_size(rows), 9);
    ck_assert_str_eq(jstr(json_array_get(rows, 7), "mapped_by"),
                     "kmap_local(): fixmap PTEs per CPU");
    ck_assert(next_line(&p, line, sizeof(line)));       /* # Linux 6.1.0; ... */
    ck_assert(next_line(&p, line, sizeof(line)));       /* the column header */
    while (next_line(&p, line, sizeof(line))) {
        json_t *r = json_array_get(rows, i);
        char name[16], what[128];
        unsigned long long lo, hi;

        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(sscanf(line, "%15s 0x%llx 0x%llx %*s %127[^\n]", name, &lo, &hi,
                                what), 4);
        ck_assert_str_eq(jstr(r, "name"), names[i]);
        ck_assert_str_eq(jstr(r, "name"), name);
        ck_assert_uint_eq(jhex(r, "start"), lo);
        ck_assert_uint_eq(jhex(r, "end"), hi);
        ck_assert_uint_eq(lo, bounds[i][0]);
        ck_assert_uint_eq(hi, bounds[i][1]);
        ck_assert_int_eq(jnum(r, "size"), hi - lo);
        ck_assert_str_eq(jstr(r, "mapped_by"), what);
        i++;
    }
    ck_assert_int_eq(i, 9);
    json_decref(o);
    free(text);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* buddyinfo, meminfo                                                  */
/* ------------------------------------------------------------------ */

START_TEST(test_buddyinfo_json_matches_text)
{
    struct mm_machine *m = t_machine("aries", NULL);
    struct mm_result res;
    char *text, line[256];
    const char *p;
    json_t *o, *zones;
    size_t z = 0;

    for (unsigned k = 0; k < 11; k++)
        ck_assert_int_eq(mm_alloc_pages(m, k % 2 ? MM_ZONE_NORMAL : MM_ZONE_HIGHMEM, k,
                                        &res), MM_OK);
    text = t_report(m, MM_REPORT_BUDDYINFO);
    o = report_json(m, MM_REPORT_BUDDYINFO);
    zones = jarr(o, "zones");
    p = text;
    while (next_line(&p, line, sizeof(line))) {
        json_t *zj = json_array_get(zones, z++), *fa;
        char name[16];
        int at;
        const char *q;

        ck_assert_ptr_nonnull(zj);
        ck_assert_int_eq(sscanf(line, "Node 0, zone %15s%n", name, &at), 1);
        ck_assert_str_eq(jstr(zj, "name"), name);
        fa = jarr(zj, "free_areas");
        ck_assert_int_eq(json_array_size(fa), MM_MAX_ORDER);
        q = line + at;
        for (unsigned o2 = 0; o2 < MM_MAX_ORDER; o2++) {
            long v = strtol(q, (char **)&q, 10);

            ck_assert_int_eq(json_integer_value(json_array_get(fa, o2)), v);
        }
    }
    ck_assert_int_eq(z, 2);
    /* the zones of aries: lowmem up to pfn 0xafa00, highmem to the end of RAM */
    ck_assert_str_eq(jstr(json_array_get(zones, 0), "start_pfn"), "0x80200");
    ck_assert_str_eq(jstr(json_array_get(zones, 0), "end_pfn"), "0xafa00");
    ck_assert_str_eq(jstr(json_array_get(zones, 1), "name"), "HighMem");
    ck_assert_str_eq(jstr(json_array_get(zones, 1), "end_pfn"), "0xff2ff");
    ck_assert_int_eq(jnum(json_array_get(zones, 1), "managed"), 325887);
    json_decref(o);
    free(text);
    mm_destroy(m);
}
END_TEST

START_TEST(test_meminfo_json_matches_text)
{
    static const char *const presets[] = {"aries", "qemu-virt", "rpi2"};

    for (size_t i = 0; i < 3; i++) {
        struct mm_machine *m = t_machine(presets[i], i == 1 ? "kernel=6.1" : NULL, NULL);
        char *text = t_report(m, MM_REPORT_MEMINFO), line[128];
        json_t *o = report_json(m, MM_REPORT_MEMINFO), *f = json_object_get(o, "fields");
        const char *p = text, *key;
        json_t *v;
        size_t n = 0;

        ck_assert(json_is_object(f));
        while (next_line(&p, line, sizeof(line))) {
            char name[32];
            unsigned long long kb;

            ck_assert_int_eq(sscanf(line, "%31[^:]: %llu kB", name, &kb), 2);
            ck_assert_int_eq(jnum(f, name), kb);
            n++;
        }
        ck_assert_int_eq(json_object_size(f), n);
        /* the text's order */
        p = text;
        json_object_foreach(f, key, v) {
            ck_assert(next_line(&p, line, sizeof(line)));
            ck_assert(strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':');
        }
        json_decref(o);
        free(text);
        mm_destroy(m);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* fixmap, vmallocinfo                                                 */
/* ------------------------------------------------------------------ */

/* Each slot line of the text under its CPU line is a slot of that CPU. */
static void fixmap_matches_text(const struct mm_machine *m)
{
    char *text = t_report(m, MM_REPORT_FIXMAP), line[256];
    json_t *o = report_json(m, MM_REPORT_FIXMAP), *cpus = jarr(o, "cpus"), *cj = NULL;
    const char *p = text;
    size_t slot_i = 0, ncpu = 0, nslot = 0;
    unsigned per_cpu, ncpus;
    char style[16];

    ck_assert(next_line(&p, line, sizeof(line)));
    ck_assert_int_eq(sscanf(line, "kmap_atomic: %15s style, %u slots per CPU, %u CPU", style,
                            &per_cpu, &ncpus), 3);
    ck_assert_str_eq(jstr(o, "style"), style);
    ck_assert_int_eq(jnum(o, "slots_per_cpu"), per_cpu);
    ck_assert_int_eq(jnum(o, "nr_cpus"), ncpus);
    while (next_line(&p, line, sizeof(line))) {
        unsigned cpu, n, slot, index, va, pfn;
        char state[8], name[32];

        if (sscanf(line, "cpu %u: depth %u", &cpu, &n) == 2 ||
            sscanf(line, "cpu %u: %u live", &cpu, &n) == 2) {
            cj = json_array_get(cpus, ncpu++);
            ck_assert_ptr_nonnull(cj);
            ck_assert_int_eq(jnum(cj, "cpu"), cpu);
            if (strstr(line, "live") != NULL)
                ck_assert_int_eq(jnum(cj, "live"), n);
            else
                ck_assert_int_eq(jnum(cj, "depth"), n);
            slot_i = 0;
            continue;
        }
        if (strstr(line, "slot  index") != NULL)
            continue;
        name[0] = '\0';
        ck_assert_int_ge(sscanf(line, "%u %u 0x%x 0x%x %7s %31s", &slot, &index, &va,
                                &pfn, state, name), 5);
        {
            json_t *s = json_array_get(jarr(cj, "slots"), slot_i++);

            ck_assert_ptr_nonnull(s);
            ck_assert_int_eq(jnum(s, "slot"), slot);
            ck_assert_int_eq(jnum(s, "index"), index);
            ck_assert_uint_eq(jhex(s, "address"), va);
            ck_assert_uint_eq(jhex(s, "pfn"), pfn);
            ck_assert_str_eq(jstr(s, "state"), state);
            if (name[0] != '\0')
                ck_assert_str_eq(jstr(s, "name"), name);
            else
                ck_assert(json_is_null(json_object_get(s, "name")));
            nslot++;
        }
    }
    ck_assert_int_eq(ncpu, ncpus);
    ck_assert_int_gt(nslot, 0);
    json_decref(o);
    free(text);
}

START_TEST(test_fixmap_json_every_style)
{
    struct mm_result res;
    struct mm_machine *m;
    mm_pfn_t a, b;

    /* 3.4 stack: CPU1's slots start at 0xfff10000 on aries */
    m = t_machine("aries", NULL);
    a = alloc_high(m);
    b = alloc_high(m);
    ck_assert_int_eq(mm_kmap_atomic(m, 1, a, -1, &res), MM_OK);
    ck_assert_int_eq(res.value, 0xfff10000);
    ck_assert_int_eq(mm_kmap_atomic(m, 1, b, -1, &res), MM_OK);
    ck_assert_int_eq(mm_kunmap_atomic(m, 1, 0xfff11000, &res), MM_OK);
    fixmap_matches_text(m);
    {
        json_t *o = report_json(m, MM_REPORT_FIXMAP);
        json_t *c1 = json_array_get(jarr(o, "cpus"), 1);
        json_t *s1 = json_array_get(jarr(c1, "slots"), 1);

        ck_assert_int_eq(jnum(c1, "depth"), 1);
        ck_assert_int_eq(jnum(c1, "live"), 1);
        ck_assert_str_eq(jstr(s1, "address"), "0xfff11000");
        ck_assert_str_eq(jstr(s1, "state"), "stale");
        json_decref(o);
    }
    mm_destroy(m);
    /* 2.6.35 km_type: named slots, no depth */
    m = t_machine(NULL, "kernel=2.6.35", "vmalloc_end=0xfe800000", "ram=0x80000000+1G",
                  NULL);
    a = alloc_high(m);
    ck_assert_int_eq(mm_kmap_atomic(m, 0, a, 3, &res), MM_OK);
    fixmap_matches_text(m);
    {
        json_t *o = report_json(m, MM_REPORT_FIXMAP);
        json_t *c0 = json_array_get(jarr(o, "cpus"), 0);

        ck_assert_str_eq(jstr(o, "style"), "km_type");
        ck_assert(json_is_null(json_object_get(c0, "depth")));
        ck_assert_str_eq(jstr(json_array_get(jarr(c0, "slots"), 0), "name"), "KM_USER0");
        json_decref(o);
    }
    mm_destroy(m);
    /* 6.1 kmap_local */
    m = t_machine("qemu-virt", "kernel=6.1", NULL);
    a = alloc_high(m);
    ck_assert_int_eq(mm_kmap_atomic(m, 0, a, -1, &res), MM_OK);
    fixmap_matches_text(m);
    mm_destroy(m);
}
END_TEST

START_TEST(test_vmallocinfo_json_matches_text)
{
    struct mm_machine *m = t_machine("qemu-virt", "kernel=4.19", NULL);
    struct mm_result res;
    char *text, line[256];
    const char *p;
    json_t *o, *areas;
    size_t i = 0;

    ck_assert_int_eq(mm_vmalloc(m, 8192, &res), MM_OK);
    ck_assert_int_eq(mm_vmalloc(m, 5 << 20, &res), MM_OK);     /* with vpages */
    ck_assert_int_eq(mm_ioremap(m, 0x09000000, 0x1000, &res), MM_OK);
    ck_assert_int_eq(mm_module_alloc(m, 0x3000, &res), MM_OK);
    ck_assert_int_eq(mm_vmap(m, (mm_pfn_t[]){alloc_high(m)}, 1, &res), MM_OK);
    text = t_report(m, MM_REPORT_VMALLOCINFO);
    o = report_json(m, MM_REPORT_VMALLOCINFO);
    areas = jarr(o, "areas");
    p = text;
    while (next_line(&p, line, sizeof(line))) {
        json_t *a = json_array_get(areas, i++), *flags;
        unsigned lo, hi, size;
        char caller[32], want[256];
        int at;

        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(sscanf(line, "0x%x-0x%x %u %31s%n", &lo, &hi, &size, caller, &at),
                         4);
        ck_assert_uint_eq(jhex(a, "start"), lo);
        ck_assert_uint_eq(jhex(a, "end"), hi);
        ck_assert_int_eq(jnum(a, "size"), size);
        ck_assert_str_eq(jstr(a, "caller"), caller);
        /* the rest of the line, rebuilt from the JSON */
        want[0] = '\0';
        if (!json_is_null(json_object_get(a, "pages")))
            snprintf(want, sizeof(want), " pages=%lld", jnum(a, "pages"));
        if (!json_is_null(json_object_get(a, "phys")))
            snprintf(want + strlen(want), sizeof(want) - strlen(want), " phys=0x%08llx",
                     jhex(a, "phys"));
        flags = jarr(a, "flags");
        for (size_t k = 0; k < json_array_size(flags); k++)
            snprintf(want + strlen(want), sizeof(want) - strlen(want), " %s",
                     json_string_value(json_array_get(flags, k)));
        ck_assert_str_eq(line + at, want);
    }
    ck_assert_int_eq(i, json_array_size(areas));
    ck_assert_int_eq(i, 6);
    json_decref(o);
    free(text);
    mm_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* layout, memory, iomem, pagetables                                   */
/* ------------------------------------------------------------------ */

START_TEST(test_layout_json_matches_text)
{
    struct mm_machine *m = t_machine("aries", NULL);
    char *text = t_report(m, MM_REPORT_LAYOUT), want[128];
    json_t *o = report_json(m, MM_REPORT_LAYOUT), *areas = jarr(o, "areas");
    json_t *secs = jarr(o, "sections");

    ck_assert(json_is_false(json_object_get(o, "hashed")));
    ck_assert_int_eq(json_array_size(areas), 7);
    for (size_t i = 0; i < json_array_size(areas); i++) {
        json_t *a = json_array_get(areas, i);
        bool mb = strcmp(jstr(a, "unit"), "MB") == 0;

        snprintf(want, sizeof(want), "    %-8s: 0x%08llx - 0x%08llx   (%4lld %s)\n",
                 jstr(a, "name"), jhex(a, "start"), jhex(a, "end"),
                 jnum(a, "size") >> (mb ? 20 : 10), mb ? "MB" : "kB");
        ck_assert_msg(strstr(text, want) != NULL, "%s not in %s", want, text);
    }
    ck_assert_int_eq(json_array_size(secs), 4);
    for (size_t i = 0; i < json_array_size(secs); i++) {
        json_t *s = json_array_get(secs, i);

        snprintf(want, sizeof(want), "%11s : 0x%08llx - 0x%08llx", jstr(s, "name"),
                 jhex(s, "start"), jhex(s, "end"));
        ck_assert_msg(strstr(text, want) != NULL, "%s not in %s", want, text);
    }
    json_decref(o);
    free(text);
    mm_destroy(m);
}
END_TEST

START_TEST(test_memory_json_matches_text)
{
    struct mm_machine *m = t_machine("aries", NULL);
    json_t *o = report_json(m, MM_REPORT_MEMORY), *banks = jarr(o, "banks");
    char *text = t_report(m, MM_REPORT_MEMORY), want[256] = "Memory:";
    long long pages = 0;

    ck_assert_str_eq(jstr(o, "form"), "regions");
    ck_assert(json_is_null(json_object_get(o, "ignored")));
    for (size_t i = 0; i < json_array_size(banks); i++) {
        long long n = jnum(json_array_get(banks, i), "pages");

        pages += n;
        snprintf(want + strlen(want), sizeof(want) - strlen(want), " %lldMB", n >> 8);
    }
    snprintf(want + strlen(want), sizeof(want) - strlen(want),
             " = %lldMB total\nMemory: %lldk/%lldk available, %lldk reserved, "
             "%lldK highmem\n", pages >> 8, jnum(o, "available_kb"),
             jnum(o, "available_kb"), jnum(o, "reserved_kb"), jnum(o, "highmem_kb"));
    ck_assert_str_eq(text, want);
    /* KERNEL: msm-3.4 mem_init() on aries, tests/data/aries.txt dmesg */
    ck_assert_int_eq(jnum(o, "available_kb"), 2006560);
    json_decref(o);
    free(text);
    mm_destroy(m);
    m = t_machine("qemu-virt", "kernel=6.1", NULL);
    o = report_json(m, MM_REPORT_MEMORY);
    text = t_report(m, MM_REPORT_MEMORY);
    snprintf(want, sizeof(want), "Memory: %lldK/%lldK available (%lldK kernel code, "
             "%lldK rwdata, %lldK rodata, %lldK init, %lldK bss, %lldK reserved, "
             "%lldK cma-reserved, %lldK highmem)\n", jnum(o, "available_kb"),
             jnum(o, "present_kb"), jnum(o, "kernel_code_kb"), jnum(o, "rwdata_kb"),
             jnum(o, "rodata_kb"), jnum(o, "init_kb"), jnum(o, "bss_kb"),
             jnum(o, "reserved_kb"), jnum(o, "cma_reserved_kb"), jnum(o, "highmem_kb"));
    ck_assert_str_eq(jstr(o, "form"), "info-cma");
    /* 6.1 logs its zone ranges (bootlog61.c) before the Memory: line and
     * the init sections it frees after it */
    strcat(want, "Freeing unused kernel image (initmem) memory: 2048K\n");
    ck_assert_ptr_nonnull(strstr(text, "\nMemory: "));
    ck_assert_str_eq(strstr(text, "\nMemory: ") + 1, want);
    json_decref(o);
    free(text);
    mm_destroy(m);
}
END_TEST

/* The text rebuilt from the JSON's resources; @first is the first
 * child's name of the first resource. */
static void iomem_matches_text(struct mm_machine *m, const char *first)
{
    json_t *o = report_json(m, MM_REPORT_IOMEM), *res = jarr(o, "resources");
    char *text = t_report(m, MM_REPORT_IOMEM);
    struct mm_buf want = {0};

    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *r = json_array_get(res, i), *kids = jarr(r, "children");

        mm__buf_printf(&want, "%08llx-%08llx : %s\n", jhex(r, "start"), jhex(r, "end"),
                       jstr(r, "name"));
        for (size_t k = 0; k < json_array_size(kids); k++) {
            json_t *c = json_array_get(kids, k);

            mm__buf_printf(&want, "  %08llx-%08llx : %s\n", jhex(c, "start"),
                           jhex(c, "end"), jstr(c, "name"));
        }
    }
    ck_assert_str_eq(text, want.data);
    ck_assert_str_eq(jstr(json_array_get(jarr(json_array_get(res, 0), "children"), 0),
                          "name"), first);
    mm_buf_free(&want);
    json_decref(o);
    free(text);
    mm_destroy(m);
}

START_TEST(test_iomem_json_matches_text)
{
    iomem_matches_text(t_machine("aries", NULL), "Kernel code");
    /* QEMU virt's devices on the 6.1 reference build come first */
    iomem_matches_text(t_machine("qemu-virt", "kernel=6.1", NULL),
                       "9000000.pl011 pl011@9000000");
}
END_TEST

/* The text rebuilt from the JSON's markers and runs, line for line, in
 * each ptdump form. */
static void pagetables_match_text(const struct mm_machine *m)
{
    json_t *o = report_json(m, MM_REPORT_PAGETABLES), *secs = jarr(o, "sections");
    char *text = t_report(m, MM_REPORT_PAGETABLES);
    const char *form = jstr(o, "form"), *p = text;
    char line[256];

    for (size_t i = 0; i < json_array_size(secs); i++) {
        json_t *s = json_array_get(secs, i), *runs = jarr(s, "runs");
        char want[256];

        ck_assert(next_line(&p, line, sizeof(line)));
        snprintf(want, sizeof(want), "---[ %s ]---", jstr(s, "name"));
        ck_assert_str_eq(line, want);
        for (size_t k = 0; k < json_array_size(runs); k++) {
            json_t *r = json_array_get(runs, k), *attrs = jarr(r, "attrs");
            const char *q;

            ck_assert(next_line(&p, line, sizeof(line)));
            snprintf(want, sizeof(want), "0x%08llx-0x%08llx   ", jhex(r, "start"),
                     jhex(r, "end") & 0xffffffffull);
            ck_assert(strncmp(line, want, strlen(want)) == 0);
            if (strcmp(form, "level") == 0)
                ck_assert(strstr(line, strcmp(jstr(r, "level"), "pgd") == 0 ? " PGD "
                                                                              : " PTE ")
                          != NULL);
            if (strcmp(form, "plain") == 0)
                ck_assert(json_is_null(json_object_get(r, "domain")));
            else
                ck_assert(strstr(line, jstr(r, "domain")) != NULL);
            /* every attribute, in order */
            q = line;
            for (size_t a = 0; a < json_array_size(attrs); a++) {
                q = strstr(q, json_string_value(json_array_get(attrs, a)));
                ck_assert_ptr_nonnull(q);
            }
        }
    }
    ck_assert(!next_line(&p, line, sizeof(line)));
    json_decref(o);
    free(text);
}

START_TEST(test_pagetables_json_matches_text)
{
    static const char *const kernels[] = {"kernel=3.4", "kernel=4.19", "kernel=6.1"};
    struct mm_result res;

    for (size_t i = 0; i < 3; i++) {
        struct mm_machine *m = t_machine("qemu-virt", kernels[i], NULL);

        ck_assert_int_eq(mm_kmap(m, alloc_high(m), &res), MM_OK);
        ck_assert_int_eq(mm_vmalloc(m, 0x3000, &res), MM_OK);
        ck_assert_int_eq(mm_ioremap(m, 0x09000000, 0x1000, &res), MM_OK);
        pagetables_match_text(m);
        mm_destroy(m);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* zoneinfo                                                            */
/* ------------------------------------------------------------------ */

/* Checks one line of a zoneinfo zone block against its zone's JSON;
 * returns how many fields it checked. */
static unsigned zoneinfo_line(json_t *zj, const char *line)
{
    static const char *const keys[][2] = {
        {"pages free", "pages_free"}, {"boost", "boost"}, {"min", "min"},
        {"low", "low"}, {"high", "high"}, {"spanned", "spanned"},
        {"present", "present"}, {"managed", "managed"}, {"cma", "cma"},
    };
    const char *p = line + strspn(line, " ");
    json_t *pr;
    char *end;

    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        size_t n = strlen(keys[k][0]);

        if (strncmp(p, keys[k][0], n) == 0 && p[n] == ' ') {
            ck_assert_int_eq(jnum(zj, keys[k][1]), strtoll(p + n, NULL, 10));
            return 1;
        }
    }
    if (strncmp(p, "protection: (", 13) == 0) {
        size_t k = 0;

        pr = jarr(zj, "protection");
        for (p += 13; *p != ')'; k++) {
            ck_assert_ptr_nonnull(json_array_get(pr, k));
            ck_assert_int_eq(json_integer_value(json_array_get(pr, k)),
                             strtoll(p, &end, 10));
            p = *end == ',' ? end + 2 : end;
        }
        ck_assert_uint_eq(json_array_size(pr), k);
        return 1;
    }
    if (strcmp(p, "node_unreclaimable:  0") == 0)
        return 0;
    ck_assert_msg(strncmp(p, "start_pfn:", 10) == 0, "unknown line: %s", line);
    ck_assert_uint_eq(jhex(zj, "start_pfn"), strtoull(p + 10, NULL, 10));
    return 1;
}

/* Every zone and field of the 6.1 text, in the JSON with the same values;
 * an empty zone's start_pfn (not printed) is null.  Exact for the oracle
 * boot of test_zoneinfo_61_debian_armmp (QEMU virt, 3 GiB). */
START_TEST(test_zoneinfo_json_matches_text)
{
    static const char *const ram[] = {"ram=0x40000000+3G", "ram=0x40000000+768M"};

    for (size_t i = 0; i < 2; i++) {
        struct mm_machine *m = t_machine("qemu-virt", "kernel=6.1", ram[i], NULL);
        char *text = t_report(m, MM_REPORT_ZONEINFO), line[256], name[16];
        json_t *o = report_json(m, MM_REPORT_ZONEINFO), *zones = jarr(o, "zones");
        json_t *zj = NULL;
        const char *p = text;
        unsigned fields = 0;
        size_t z = 0;

        while (next_line(&p, line, sizeof(line))) {
            if (sscanf(line, "Node 0, zone %15s", name) == 1) {
                if (zj != NULL)
                    ck_assert_uint_eq(fields, json_object_size(zj) - 1);
                zj = json_array_get(zones, z++);
                ck_assert_ptr_nonnull(zj);
                ck_assert_str_eq(jstr(zj, "name"), name);
                fields = json_is_null(json_object_get(zj, "start_pfn"));
                continue;
            }
            fields += zoneinfo_line(zj, line);
        }
        ck_assert_uint_eq(fields, json_object_size(zj) - 1);
        ck_assert_uint_eq(z, json_array_size(zones));
        ck_assert_uint_eq(z, 4);
        if (i == 0) {
            json_t *dma = json_array_get(zones, 0), *hi = json_array_get(zones, 2);

            ck_assert_str_eq(jstr(dma, "start_pfn"), "0x40000");
            ck_assert_int_eq(json_integer_value(json_array_get(jarr(dma, "protection"), 2)),
                             2303);
            ck_assert_str_eq(jstr(hi, "name"), "HighMem");
            ck_assert_int_eq(jnum(hi, "min"), 128);
            ck_assert_int_eq(jnum(hi, "managed"), 589823);
            ck_assert_int_eq(jnum(hi, "cma"), 4096);
            ck_assert_str_eq(jstr(hi, "start_pfn"), "0x70000");
            ck_assert(json_is_null(json_object_get(json_array_get(zones, 1), "start_pfn")));
            ck_assert_int_eq(jnum(json_array_get(zones, 3), "min"), 32);
        }
        json_decref(o);
        free(text);
        mm_destroy(m);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* The documented schema, every report of every preset and era         */
/* ------------------------------------------------------------------ */

#define MAX_DOC_FIELDS 256

struct doc_field {
    char section[32];                   /* report name, or "" for every report */
    char path[96];
    char type[32];
    bool seen;
};

struct doc {
    size_t n;
    struct doc_field f[MAX_DOC_FIELDS];
};

/* Opens docs/api-reports.md from the tree's root (see test_report.c). */
static FILE *open_doc(void)
{
    char self[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    const char *up[] = {NULL, "/..", "/../.."};
    FILE *f = NULL;

    ck_assert_int_gt(n, 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    for (size_t i = 0; i < 3 && f == NULL; i++) {
        if (up[i] == NULL)
            snprintf(path, sizeof(path), "%s", SCHEMA_DOC);
        else
            snprintf(path, sizeof(path), "%s%s/%s", self, up[i], SCHEMA_DOC);
        f = fopen(path, "r");
    }
    ck_assert_msg(f != NULL, "cannot find %s", SCHEMA_DOC);
    return f;
}

/* Reads the field tables: "### `name`" starts a report's section, each
 * "| `path` | type | meaning |" row is a field. */
static void load_doc(struct doc *d)
{
    FILE *f = open_doc();
    char line[512], section[32] = "";
    bool in = false;

    d->n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        struct doc_field *df;
        char *a, *b;

        if (strncmp(line, "### ", 4) == 0) {
            in = true;
            if (sscanf(line, "### `%31[^`]`", section) != 1)
                section[0] = '\0';              /* "### every report" */
            continue;
        }
        if (strncmp(line, "## ", 3) == 0)
            in = false;
        if (!in || strncmp(line, "| `", 3) != 0)
            continue;
        ck_assert_int_lt(d->n, MAX_DOC_FIELDS);
        df = &d->f[d->n++];
        snprintf(df->section, sizeof(df->section), "%s", section);
        a = line + 3;
        b = strchr(a, '`');
        ck_assert_ptr_nonnull(b);
        snprintf(df->path, sizeof(df->path), "%.*s", (int)(b - a), a);
        a = strchr(b, '|') + 1;
        b = strchr(a, '|');
        ck_assert_ptr_nonnull(b);
        while (*a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        snprintf(df->type, sizeof(df->type), "%.*s", (int)(b - a), a);
        df->seen = false;
    }
    fclose(f);
    ck_assert_int_gt(d->n, 100);
}

static struct doc_field *doc_find(struct doc *d, const char *report, const char *path)
{
    for (size_t i = 0; i < d->n; i++) {
        if ((d->f[i].section[0] == '\0' || strcmp(d->f[i].section, report) == 0) &&
            strcmp(d->f[i].path, path) == 0)
            return &d->f[i];
    }
    return NULL;
}

static bool all_of(const char *s, const char *chars)
{
    return *s != '\0' && strspn(s, chars) == strlen(s);
}

/* Whether @v has documented type @type ("address", "number or null", ...). */
static bool type_ok(const char *type, json_t *v)
{
    char base[32];
    const char *s;

    if (json_is_null(v))
        return strstr(type, " or null") != NULL;
    snprintf(base, sizeof(base), "%.*s", (int)strcspn(type, " "), type);
    s = json_is_string(v) ? json_string_value(v) : NULL;
    if (strcmp(base, "string") == 0)
        return s != NULL;
    if (strcmp(base, "address") == 0)
        return s != NULL && strncmp(s, "0x", 2) == 0 && all_of(s + 2, "0123456789abcdef");
    if (strcmp(base, "decimal") == 0)
        return s != NULL && all_of(s, "0123456789");
    if (strcmp(base, "number") == 0)
        return json_is_integer(v) && json_integer_value(v) >= 0;
    if (strcmp(base, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(base, "array") == 0)
        return json_is_array(v);
    if (strcmp(base, "object") == 0)
        return json_is_object(v);
    return false;
}

/* Checks @v at @path (and all below it) against the documented fields. */
static void check_value(struct doc *d, const char *report, const char *path, json_t *v)
{
    char sub[128];
    const char *key;
    json_t *c;
    size_t i;

    if (path[0] != '\0') {
        struct doc_field *df = doc_find(d, report, path);

        ck_assert_msg(df != NULL, "%s: field %s is not documented", report, path);
        ck_assert_msg(type_ok(df->type, v), "%s: %s is not %s", report, path, df->type);
        df->seen = true;
    }
    if (json_is_object(v)) {
        json_object_foreach(v, key, c) {
            snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
            check_value(d, report, sub, c);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c) {
            snprintf(sub, sizeof(sub), "%s[]", path);
            if (json_is_object(c)) {
                /* an array of objects documents its elements' fields */
                const char *k2;
                json_t *c2;

                json_object_foreach(c, k2, c2) {
                    char sub2[160];

                    snprintf(sub2, sizeof(sub2), "%s.%s", sub, k2);
                    check_value(d, report, sub2, c2);
                }
            } else {
                check_value(d, report, sub, c);
            }
        }
    }
}

/* Drives @m through a little of everything, ignoring refusals. */
static void exercise(struct mm_machine *m)
{
    struct mm_result res;
    mm_pfn_t pfn[4];
    unsigned n = 0;

    for (unsigned i = 0; i < 4; i++) {
        if (mm_alloc_pages(m, MM_ZONE_HIGHMEM, 0, &res) == MM_OK)
            pfn[n++] = res.value;
    }
    if (n >= 3) {
        mm_kmap(m, pfn[0], &res);
        mm_kmap(m, pfn[1], &res);
        mm_kunmap(m, pfn[1], &res);
        mm_kmap_atomic(m, 0, pfn[2], 3, &res);
        mm_kmap_atomic(m, 0, pfn[3], 4, &res);
        mm_kunmap_atomic(m, 0, res.value, &res);
    }
    mm_vmalloc(m, 0x2000, &res);
    mm_vmalloc(m, 5u << 20, &res);
    mm_ioremap(m, 0x10000000, 0x1000, &res);
    mm_module_alloc(m, 0x2000, &res);
    if (n >= 1)
        mm_vmap(m, pfn, 1, &res);
}

/* One machine: every report parses, its JSON fails exactly when the text
 * does and with the text's message (the layout of 5.1+), and it holds only
 * documented fields of documented types. */
static void check_machine(struct doc *d, struct mm_machine *m)
{
    for (unsigned r = 0; r < MM_REPORT_COUNT; r++) {
        struct mm_buf text = {0}, json = {0};
        enum mm_status st_t = mm_report(m, (enum mm_report)r, &text);
        enum mm_status st_j = mm_report_json(m, (enum mm_report)r, &json);
        json_error_t err;
        json_t *o;

        ck_assert_int_eq(st_j, st_t);
        if (st_j != MM_OK) {
            ck_assert_str_eq(json.data, text.data);
        } else {
            o = json_loads(json.data, 0, &err);
            ck_assert_msg(o != NULL, "%s: %s: %s", mm_report_name(r), err.text, json.data);
            ck_assert_str_eq(jstr(o, "report"), mm_report_name(r));
            check_value(d, mm_report_name(r), "", o);
            json_decref(o);
        }
        mm_buf_free(&text);
        mm_buf_free(&json);
    }
}

START_TEST(test_every_report_every_era_follows_the_doc)
{
    static const char *const more[] = {"4.19", "6.1", NULL};
    static struct doc d;
    unsigned booted = 0;

    load_doc(&d);
    for (size_t p = 0; t_presets[p] != NULL; p++) {
        for (size_t pass = 0; pass < 2; pass++) {
            const char *const *list = pass == 0 ? t_era_kernels : more;

            for (size_t k = 0; list[k] != NULL; k++) {
                struct mm_machine *m = t_machine_era(t_presets[p], list[k]);

                if (m == NULL)
                    continue;
                booted++;
                check_machine(&d, m);
                exercise(m);
                check_machine(&d, m);
                mm_destroy(m);
            }
        }
    }
    {
        /* no highmem, a coherent-DMA window, RAM past 4 GiB ignored */
        struct mm_machine *m = t_machine("qemu-virt", "highmem=off", NULL);

        check_machine(&d, m);
        mm_destroy(m);
        m = t_machine(NULL, "consistent_dma=14M", NULL);
        exercise(m);
        check_machine(&d, m);
        mm_destroy(m);
        m = t_machine("qemu-virt", "kernel=6.1", "ram=0x40000000+4G", NULL);
        check_machine(&d, m);
        mm_destroy(m);
    }
    ck_assert_int_gt(booted, 40);
    for (size_t i = 0; i < d.n; i++)
        ck_assert_msg(d.f[i].seen, "documented field %s of %s never occurs", d.f[i].path,
                      d.f[i].section[0] ? d.f[i].section : "every report");
}
END_TEST

Suite *report_json_suite(void)
{
    Suite *s = suite_create("report_json");
    TCase *tc = tcase_create("report_json");
    TCase *all = tcase_create("schema");

    tcase_add_test(tc, test_pkmap_json_aries_after_kmaps);
    tcase_add_test(tc, test_pkmap_json_matches_text);
    tcase_add_test(tc, test_pkmap_json_without_highmem);
    tcase_add_test(tc, test_regions_json_qemu_virt_61);
    tcase_add_test(tc, test_buddyinfo_json_matches_text);
    tcase_add_test(tc, test_meminfo_json_matches_text);
    tcase_add_test(tc, test_fixmap_json_every_style);
    tcase_add_test(tc, test_vmallocinfo_json_matches_text);
    tcase_add_test(tc, test_layout_json_matches_text);
    tcase_add_test(tc, test_memory_json_matches_text);
    tcase_add_test(tc, test_iomem_json_matches_text);
    tcase_add_test(tc, test_pagetables_json_matches_text);
    tcase_add_test(tc, test_zoneinfo_json_matches_text);
    tcase_add_test(all, test_every_report_every_era_follows_the_doc);
    tcase_set_timeout(all, 60);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, all);
    return s;
}
