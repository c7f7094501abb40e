/* engine/report_json.c - every report as one structured JSON object.
 *
 * mm_report_json() renders the same report mm_report() does, as data: one
 * JSON object per report, its schema in docs/api-reports.md.  The figures
 * come from the helpers the text reports use (mm__region_rows(),
 * mm__layout_rows(), mm__memory_figs(), mm__iomem_children(),
 * mm__meminfo_fields(), mm__pkmap_view(), mm__katomic_slot(),
 * mm__vm_area_next(), mm__ptdump_walk()), never from parsing the text, so
 * the two forms cannot disagree.
 *
 * Design.  The engine has no JSON library and does no I/O, so this file
 * writes JSON text into an mm_buf with a small writer that tracks only
 * whether a comma is due.  Conventions, for every report: addresses and
 * page frame numbers are "0x..." strings (lower case, no padding); numbers
 * that may pass 2^53 are decimal strings (the seq); counts and sizes are
 * JSON numbers (all below 2^33 here); enums are their names.  Every object
 * opens with "report" (its name), "kernel" ("3.4.0") and "seq" (the
 * machine's sequence number, a decimal string).  A report without a
 * structured form here (none today) is still valid JSON: the envelope plus
 * "text", the kernel's text.
 */
#include "mm_int.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define KVER_ARGS(k) (k) >> 16, ((k) >> 8) & 0xff, (k)&0xff

/* The writer: appends to @b; @comma says a value precedes at this level. */
struct jw {
    struct mm_buf *b;
    bool comma;
};

/* A JSON string literal: quotes, backslashes and control bytes escaped. */
static void jw_quote(struct mm_buf *b, const char *s)
{
    mm__buf_append(b, "\"", 1);
    while (*s != '\0') {
        size_t n = 0;
        unsigned char c;

        /* the run of bytes that need no escape, in one append */
        while ((c = (unsigned char)s[n]) >= 0x20 && c != '"' && c != '\\')
            n++;
        if (n > 0) {
            mm__buf_append(b, s, n);
            s += n;
            continue;
        }
        if (c == '"' || c == '\\')
            mm__buf_printf(b, "\\%c", c);
        else
            mm__buf_printf(b, "\\u%04x", c);
        s++;
    }
    mm__buf_append(b, "\"", 1);
}

/* The comma and "key": before a value (@key NULL inside an array). */
static void jw_key(struct jw *w, const char *key)
{
    if (w->comma)
        mm__buf_append(w->b, ",", 1);
    w->comma = true;
    if (key != NULL) {
        jw_quote(w->b, key);
        mm__buf_append(w->b, ":", 1);
    }
}

static void jw_open(struct jw *w, const char *key, char bracket)
{
    jw_key(w, key);
    mm__buf_append(w->b, &bracket, 1);
    w->comma = false;
}

static void jw_close(struct jw *w, char bracket)
{
    mm__buf_append(w->b, &bracket, 1);
    w->comma = true;
}

static void jw_str(struct jw *w, const char *key, const char *s)
{
    jw_key(w, key);
    jw_quote(w->b, s);
}

/* A string without its padding: "KERNEL " -> "KERNEL", "x " -> "x". */
static void jw_trimmed(struct jw *w, const char *key, const char *s)
{
    char t[32];
    size_t n;

    while (*s == ' ')
        s++;
    n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n > sizeof(t) - 1)
        n = sizeof(t) - 1; /* as snprintf() would cut it */
    memcpy(t, s, n);
    t[n] = '\0';
    jw_str(w, key, t);
}

/* An address or pfn: "0x1f". */
static void jw_hex(struct jw *w, const char *key, uint64_t v)
{
    jw_key(w, key);
    mm__buf_printf(w->b, "\"0x%llx\"", (unsigned long long)v);
}

/* A count or size; every caller's value is far below 2^53. */
static void jw_num(struct jw *w, const char *key, uint64_t v)
{
    assert(v < (1ull << 53));
    jw_key(w, key);
    mm__buf_printf(w->b, "%llu", (unsigned long long)v);
}

static void jw_bool(struct jw *w, const char *key, bool v)
{
    jw_key(w, key);
    mm__buf_printf(w->b, "%s", v ? "true" : "false");
}

static void jw_null(struct jw *w, const char *key)
{
    jw_key(w, key);
    mm__buf_printf(w->b, "null");
}

/* {"name":..,"start":..,"end":..,"size":..: the shape every range takes. */
static void jw_range(struct jw *w, const char *name, uint64_t start, uint64_t end)
{
    jw_open(w, NULL, '{');
    jw_str(w, "name", name);
    jw_hex(w, "start", start);
    jw_hex(w, "end", end);
    jw_num(w, "size", end - start);
}

/* ------------------------------------------------------------------ */
/* The reports                                                         */
/* ------------------------------------------------------------------ */

/* "layout": the lines of the boot block (3.x/4.x and 2.6.35 forms). */
static enum mm_status json_layout(const struct mm_machine *m, struct jw *w)
{
    struct mm_layout_row r[MM_MAX_LAYOUT_ROWS];
    unsigned nareas, n = mm__layout_rows(m, r, &nareas);

    if (n == 0)
        return MM_NOT_FOUND; /* 5.1+ print no layout block */
    jw_bool(w, "hashed", m->lay.era->layout_fmt == 3);
    jw_open(w, "areas", '[');
    for (unsigned i = 0; i < nareas; i++) {
        jw_range(w, r[i].name, r[i].lo, r[i].hi);
        jw_str(w, "unit", r[i].mb ? "MB" : "kB");
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_open(w, "sections", '[');
    for (unsigned i = nareas; i < n; i++) {
        jw_range(w, r[i].name, r[i].lo, r[i].hi);
        jw_close(w, '}');
    }
    jw_close(w, ']');
    return MM_OK;
}

static void json_memory(const struct mm_machine *m, struct jw *w)
{
    static const char *const forms[] = { "none", "banks", "regions", "info", "info-cma" };
    const struct mm_layout *lay = &m->lay;
    struct mm_memory_figs f;

    mm__memory_figs(m, &f);
    jw_str(w, "form", f.form >= 1 && f.form <= 4 ? forms[f.form] : "info-cma");
    if (lay->ignored_end != 0) {
        jw_open(w, "ignored", '{');
        jw_hex(w, "start", lay->ignored_start);
        jw_hex(w, "end", lay->ignored_end);
        jw_close(w, '}');
    } else {
        jw_null(w, "ignored");
    }
    jw_open(w, "banks", '[');
    for (unsigned i = 0; i < lay->nr_regions; i++) {
        uint64_t pages = (lay->regions[i].end >> MM_PAGE_SHIFT) -
                         (lay->regions[i].start >> MM_PAGE_SHIFT);

        jw_open(w, NULL, '{');
        jw_hex(w, "start", lay->regions[i].start);
        jw_hex(w, "end", lay->regions[i].end);
        jw_num(w, "pages", pages);
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_num(w, "available_kb", f.managed_kb);
    jw_num(w, "present_kb", f.present_kb);
    jw_num(w, "reserved_kb", f.reserved_kb);
    if (f.has_highmem)
        jw_num(w, "highmem_kb", f.highmem_kb);
    else
        jw_null(w, "highmem_kb");
    if (f.form >= 3) {
        jw_num(w, "kernel_code_kb", f.code_kb);
        jw_num(w, "rwdata_kb", f.rwdata_kb);
        jw_num(w, "rodata_kb", f.rodata_kb);
        jw_num(w, "init_kb", f.init_kb);
        jw_num(w, "bss_kb", f.bss_kb);
    }
    if (f.form >= 4)
        jw_num(w, "cma_reserved_kb", f.cma_kb);
}

/* One resource and its children; ends inclusive, as /proc/iomem. */
static void json_resource(struct jw *w, const struct mm_iomem_res *r)
{
    jw_open(w, NULL, '{');
    jw_str(w, "name", r->name);
    jw_hex(w, "start", r->start);
    jw_hex(w, "end", r->end);
}

static void json_iomem(const struct mm_machine *m, struct jw *w)
{
    const struct mm_layout *lay = &m->lay;

    struct mm_iomem_res dev[MM_MAX_IOMEM_DEVS], claim[MM_MAX_IOMEM_DEVS];
    unsigned nd = mm__iomem_devices(m, dev, claim), d = 0;

    jw_open(w, "resources", '[');
    for (unsigned i = 0; i <= lay->nr_regions; i++) {
        uint64_t next = i < lay->nr_regions ? lay->regions[i].start : UINT64_MAX;
        struct mm_iomem_res ram, kids[MM_MAX_IOMEM_KIDS];
        unsigned n;

        for (; d < nd && dev[d].start < next; d++) {
            json_resource(w, &dev[d]);
            jw_open(w, "children", '[');
            json_resource(w, &claim[d]);
            jw_close(w, '}');
            jw_close(w, ']');
            jw_close(w, '}');
        }
        if (i == lay->nr_regions)
            break;
        ram = (struct mm_iomem_res){ "System RAM", lay->regions[i].start,
                                     lay->regions[i].end - 1 };
        n = mm__iomem_children(m, &ram, kids);
        json_resource(w, &ram);
        jw_open(w, "children", '[');
        for (unsigned k = 0; k < n; k++) {
            json_resource(w, &kids[k]);
            jw_close(w, '}');
        }
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

/* "buddyinfo": the populated zones, as frag_show_print() lists them. */
static void json_buddyinfo(const struct mm_machine *m, struct jw *w)
{
    struct mm_stats st;

    mm_get_stats(m, &st);
    jw_open(w, "zones", '[');
    for (unsigned i = 0; i < st.nr_zones && i < MM_NR_ZONES; i++) {
        const struct mm_zone_stats *z = &st.zone[i];

        if (z->present == 0 || z->name == NULL)
            continue;
        jw_open(w, NULL, '{');
        jw_str(w, "name", z->name);
        jw_hex(w, "start_pfn", z->start_pfn);
        jw_hex(w, "end_pfn", z->end_pfn);
        jw_num(w, "present", z->present);
        jw_num(w, "managed", z->managed);
        jw_num(w, "free", z->free);
        jw_open(w, "free_areas", '[');
        for (unsigned o = 0; o < st.nr_orders; o++)
            jw_num(w, NULL, z->nr_free[o]);
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

static void json_meminfo(const struct mm_machine *m, struct jw *w)
{
    struct mm_meminfo_field f[MM_MAX_MEMINFO];
    unsigned n = mm__meminfo_fields(m, f);

    jw_open(w, "fields", '{');
    for (unsigned i = 0; i < n; i++)
        jw_num(w, f[i].name, f[i].kb);
    jw_close(w, '}');
}

static void json_vmallocinfo(const struct mm_machine *m, struct jw *w)
{
    struct mm_vm_area a;
    size_t pos = 0;

    jw_open(w, "areas", '[');
    while (mm__vm_area_next(m, &pos, &a)) {
        jw_open(w, NULL, '{');
        jw_hex(w, "start", a.start);
        jw_hex(w, "end", a.end);
        jw_num(w, "size", (uint64_t)a.end - a.start);
        jw_str(w, "caller", a.caller);
        if (a.has_pages)
            jw_num(w, "pages", a.nr_pages);
        else
            jw_null(w, "pages");
        if (a.ioremap)
            jw_hex(w, "phys", a.phys);
        else
            jw_null(w, "phys");
        jw_open(w, "flags", '[');
        if (a.ioremap)
            jw_str(w, NULL, "ioremap");
        if (a.vm_alloc)
            jw_str(w, NULL, "vmalloc");
        if (a.vmap)
            jw_str(w, NULL, "vmap");
        if (a.dma_coherent)
            jw_str(w, NULL, "dma-coherent");
        if (a.vpages)
            jw_str(w, NULL, "vpages");
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

static void json_pkmap(const struct mm_machine *m, struct jw *w)
{
    struct mm_pkmap_view v;
    bool on = mm__pkmap_view(m, &v);

    jw_bool(w, "highmem", on);
    if (!on) {
        jw_null(w, "start");
        jw_null(w, "end");
        jw_num(w, "nr_slots", 0);
    } else {
        jw_hex(w, "start", m->lay.pkmap_base);
        jw_hex(w, "end", (uint64_t)m->lay.pkmap_base + MM_LAST_PKMAP * MM_PAGE_SIZE);
        jw_num(w, "nr_slots", MM_LAST_PKMAP);
    }
    jw_num(w, "last_pkmap_nr", v.last_pkmap_nr);
    jw_num(w, "in_use", v.in_use);
    jw_num(w, "unused", v.unused);
    jw_num(w, "free", on ? MM_LAST_PKMAP - v.in_use - v.unused : 0);
    jw_num(w, "flushes", m->cnt.pkmap_flushes);
    jw_open(w, "slots", '[');
    for (unsigned i = 0; on && i < MM_LAST_PKMAP; i++) {
        if (v.count[i] == 0)
            continue;
        jw_open(w, NULL, '{');
        jw_num(w, "slot", i);
        jw_hex(w, "address", m->lay.pkmap_base + i * MM_PAGE_SIZE);
        jw_num(w, "count", (uint64_t)v.count[i]);
        jw_num(w, "users", (uint64_t)v.count[i] - 1);
        jw_hex(w, "pfn", v.pfn[i]);
        jw_str(w, "state", v.count[i] >= 2 ? "in-use" : "unused");
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

static void json_fixmap(const struct mm_machine *m, struct jw *w)
{
    struct mm_katomic_view v;
    bool km;

    mm__katomic_view(m, &v);
    km = strcmp(v.style, "km_type") == 0;
    jw_str(w, "style", v.style);
    jw_num(w, "slots_per_cpu", v.nslots);
    jw_num(w, "nr_cpus", v.ncpus);
    jw_hex(w, "fixmap_start", m->lay.fixaddr_start);
    jw_open(w, "cpus", '[');
    for (unsigned c = 0; c < v.ncpus; c++) {
        struct mm_katomic_slot s;
        unsigned live = 0;

        for (unsigned i = 0; i < v.nslots; i++)
            live += mm__katomic_slot(m, c, i, &s) && s.live;
        jw_open(w, NULL, '{');
        jw_num(w, "cpu", c);
        if (km)
            jw_null(w, "depth");
        else
            jw_num(w, "depth", v.depth[c]);
        jw_num(w, "live", live);
        jw_open(w, "slots", '[');
        for (unsigned i = 0; i < v.nslots; i++) {
            if (!mm__katomic_slot(m, c, i, &s))
                continue;
            jw_open(w, NULL, '{');
            jw_num(w, "slot", i);
            jw_num(w, "index", s.index);
            jw_hex(w, "address", s.va);
            jw_hex(w, "pfn", s.pfn);
            jw_str(w, "state", s.live ? "live" : "stale");
            if (s.name != NULL)
                jw_str(w, "name", s.name);
            else
                jw_null(w, "name");
            jw_close(w, '}');
        }
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

/* The pagetables sink: markers open sections, runs fill them. */
struct pt_json {
    struct jw *w;
    bool open; /* a section's runs array is open */
};

static void pt_marker(void *arg, const char *name, uint32_t addr)
{
    struct pt_json *p = arg;

    if (p->open) {
        jw_close(p->w, ']');
        jw_close(p->w, '}');
    }
    jw_open(p->w, NULL, '{');
    jw_str(p->w, "name", name);
    jw_hex(p->w, "start", addr);
    jw_open(p->w, "runs", '[');
    p->open = true;
}

static void pt_run(void *arg, const struct mm_pt_run *run)
{
    struct pt_json *p = arg;
    struct jw *w = p->w;

    jw_open(w, NULL, '{');
    jw_hex(w, "start", run->start);
    jw_hex(w, "end", run->end);
    jw_num(w, "size", run->end - run->start);
    jw_str(w, "level", run->section ? "pgd" : "pte");
    if (run->domain >= 0)
        jw_str(w, "domain", mm__ptdump_domain(run->domain));
    else
        jw_null(w, "domain");
    jw_open(w, "attrs", '[');
    for (unsigned i = 0; i < run->nattrs; i++) {
        if (strspn(run->attrs[i], " ") != strlen(run->attrs[i]))
            jw_trimmed(w, NULL, run->attrs[i]);
    }
    jw_close(w, ']');
    jw_close(w, '}');
}

static void json_pagetables(const struct mm_machine *m, struct jw *w)
{
    static const char *const forms[] = { "plain", "domain", "level" };
    struct pt_json p = { w, false };
    const struct mm_pt_sink sink = { pt_marker, pt_run, &p };

    jw_str(w, "form", forms[mm__ptdump_form(m)]);
    jw_open(w, "sections", '[');
    mm__ptdump_walk(m, &sink);
    if (p.open) {
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

static void json_regions(const struct mm_machine *m, struct jw *w)
{
    struct mm_region_row r[MM_MAX_REGION_ROWS];
    char text[MM_REGION_TEXT_MAX];
    unsigned n = mm__region_rows(m, r, text);

    jw_str(w, "reference", mm_config_reference(&m->cfg));
    jw_open(w, "regions", '[');
    for (unsigned i = 0; i < n; i++) {
        jw_range(w, r[i].name, r[i].start, r[i].end);
        jw_str(w, "mapped_by", r[i].what);
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

/* "zoneinfo": each zone block of 6.1 /proc/zoneinfo, from the figures its
 * text prints (zoneinfo.c). */
static enum mm_status json_zoneinfo(const struct mm_machine *m, struct jw *w)
{
    struct mm_zoneinfo z[MM_ZONEINFO_MAX];
    unsigned n;

    if (mm__zoneinfo(m, z, &n) != MM_OK)
        return MM_NOT_FOUND;
    jw_open(w, "zones", '[');
    for (unsigned i = 0; i < n; i++) {
        jw_open(w, NULL, '{');
        jw_str(w, "name", z[i].name);
        jw_num(w, "pages_free", z[i].free);
        jw_num(w, "boost", 0);
        jw_num(w, "min", z[i].min);
        jw_num(w, "low", z[i].low);
        jw_num(w, "high", z[i].high);
        jw_num(w, "spanned", z[i].spanned);
        jw_num(w, "present", z[i].present);
        jw_num(w, "managed", z[i].managed);
        jw_num(w, "cma", z[i].cma);
        jw_open(w, "protection", '[');
        for (unsigned j = 0; j < z[i].nr_protection; j++)
            jw_num(w, NULL, z[i].protection[j]);
        jw_close(w, ']');
        if (z[i].present != 0)
            jw_hex(w, "start_pfn", z[i].start_pfn);
        else
            jw_null(w, "start_pfn");
        jw_close(w, '}');
    }
    jw_close(w, ']');
    return MM_OK;
}

/* A report with no structured form: its text. */
static enum mm_status json_text(const struct mm_machine *m, enum mm_report r,
                                struct jw *w)
{
    struct mm_buf t = { 0 };
    enum mm_status st = mm_report(m, r, &t);

    if (st == MM_OK)
        jw_str(w, "text", t.data != NULL ? t.data : "");
    mm_buf_free(&t);
    return st;
}

static enum mm_status json_body(const struct mm_machine *m, enum mm_report r,
                                struct jw *w)
{
    switch (r) {
    case MM_REPORT_LAYOUT:
        return json_layout(m, w);
    case MM_REPORT_MEMORY:
        json_memory(m, w);
        break;
    case MM_REPORT_IOMEM:
        json_iomem(m, w);
        break;
    case MM_REPORT_BUDDYINFO:
        json_buddyinfo(m, w);
        break;
    case MM_REPORT_MEMINFO:
        json_meminfo(m, w);
        break;
    case MM_REPORT_VMALLOCINFO:
        json_vmallocinfo(m, w);
        break;
    case MM_REPORT_PKMAP:
        json_pkmap(m, w);
        break;
    case MM_REPORT_FIXMAP:
        json_fixmap(m, w);
        break;
    case MM_REPORT_PAGETABLES:
        json_pagetables(m, w);
        break;
    case MM_REPORT_REGIONS:
        json_regions(m, w);
        break;
    case MM_REPORT_ZONEINFO:
        return json_zoneinfo(m, w);
    default:
        return json_text(m, r, w);
    }
    return MM_OK;
}

enum mm_status mm_report_json(const struct mm_machine *m, enum mm_report r,
                              struct mm_buf *out)
{
    struct mm_buf body = { 0 };
    struct jw w = { &body, true }; /* the envelope precedes the body */
    enum mm_status st;

    assert(m != NULL && out != NULL);
    if ((unsigned)r >= MM_REPORT_COUNT) {
        mm__buf_printf(out, "report: unknown report %u\n", (unsigned)r);
        return out->oom ? MM_NO_MEMORY : MM_INVALID_ARGUMENT;
    }
    st = json_body(m, r, &w);
    if (st == MM_OK) {
        mm__buf_printf(out,
                       "{\"report\":\"%s\",\"kernel\":\"%u.%u.%u\","
                       "\"seq\":\"%llu\"",
                       mm_report_name(r), KVER_ARGS(m->cfg.kernel),
                       (unsigned long long)mm_seq(m));
        mm__buf_append(out, body.data != NULL ? body.data : "", body.len);
        mm__buf_append(out, "}", 1);
    } else if (st == MM_NOT_FOUND) {
        st = mm_report(m, r, out); /* the reason, as the text gives it */
    }
    if (body.oom)
        st = MM_NO_MEMORY;
    mm_buf_free(&body);
    return out->oom ? MM_NO_MEMORY : st;
}
