/* engine/vmalloc.c - the vmalloc area and the module area.
 *
 * vmalloc()/vfree(), vmap()/vunmap(), ioremap()/iounmap() and
 * module_alloc()/module_free(), with the kernel's placement, guard pages,
 * lazy freeing and purges, and /proc/vmallocinfo.
 *
 * Design.  Every reserved range of kernel VA is one struct area in an array
 * kept sorted by address (the kernel's vmap_area rb-tree and its address-
 * sorted list in one): live areas, and areas freed lazily (VM_LAZY_FREE)
 * whose PTEs are gone but whose VA is not reusable until a purge.  Host
 * memory grows with the number of areas and the pages they map.  An area
 * is PAGE_ALIGN(size) plus one guard page, in [VMALLOC_START, VMALLOC_END)
 * or, for module_alloc(), [MODULES_VADDR, MODULES_END).  The search for a
 * free range is the kernel's own, selected by version: up to 5.1 the
 * first-fit walk with 3.4's next-fit cache (free_vmap_cache,
 * cached_hole_size, cached_vstart, cached_align), from 5.2 the lowest fit
 * of the augmented free-space tree (68ad4a330433, "mm/vmalloc.c: keep track
 * of free blocks for vmap allocation", merged for 5.2), which has no cache.
 *
 * Atomicity.  An operation that fails changes nothing: it first plans on a
 * read-only view of the areas (the range, and whether finding it needs the
 * purge the kernel does before its one retry), then counts the pages it will
 * take from the buddy allocator (data pages, page-array pages and the PTE
 * pages of 2 MiB steps that have none) zone by zone in the kernel's order,
 * and only then commits by running the same search for real.  A failed
 * operation therefore never purges, never flushes and never moves the cache.
 *
 * Results: vmalloc, module_alloc: value = VA, aux = pages.  vmap: value =
 * VA, aux = pages.  ioremap: value = VA + (phys & ~PAGE_MASK), aux = pages
 * mapped.  vfree, module_free: value = pages freed, aux = pages of the
 * vmalloc'd page array freed with them (VM_VPAGES, areas over 4 MiB).
 * vunmap, iounmap: value = pages unmapped.  module_enable_ro: value =
 * read-only pages (0 where STRICT_MODULE_RWX is off).
 *
 * Decisions where the kernel has no error path: an address that is not the
 * start of a live area of the operation's own kind is refused with
 * INVALID_ARGUMENT (the kernel WARNs, or frees an area of another kind); a
 * failure is never half done (the kernel would leave a lazily freed area).
 * Not modelled: per-CPU vmap blocks (vm_map_ram), static iotable mappings,
 * supersections (only for physical addresses above 4 GiB), 6.x's deferred
 * purge work (the purge runs at once), module_alloc's fallback to the
 * vmalloc area (CONFIG_ARM_MODULE_PLTS), and, from 5.2, the tree shape: for
 * alignments above PAGE_SIZE (ioremap only) the kernel's search looks for
 * blocks of size + align - 1 and may miss a lower block that fits exactly;
 * here the lowest block that fits is taken.
 *
 * Emulates: mm/vmalloc.c alloc_vmap_area(), __free_vmap_area(),
 * free_vmap_area_noflush(), lazy_max_pages(), __purge_vmap_area_lazy(),
 * __get_vm_area_node(), __vmalloc_node_range(), __vmalloc_area_node(),
 * map_vm_area(), remove_vm_area(), __vunmap(), vfree(), vunmap(), vmap(),
 * s_show(); 5.2+ find_vmap_lowest_match(); arch/arm/kernel/module.c
 * module_alloc(); arch/arm/mm/ioremap.c __arm_ioremap_pfn_caller(),
 * remap_area_sections(), unmap_area_sections(), __iounmap(); 6.1
 * kernel/module/strict_rwx.c module_enable_ro(), module_enable_nx(),
 * module_enable_x(); mm/vmalloc.c vm_remove_mappings().
 */
#include "mm_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SZ  ((uint64_t)MM_PAGE_SIZE)
#define VA_LIMIT 0xffffffffull

/* KERNEL: 3.4 mm/vmalloc.c __vmalloc_area_node(): the page array is
 * vmalloc'd when nr_pages * sizeof(struct page *) > PAGE_SIZE. */
#define PAGE_PTR_SIZE 4u
#define VPAGES_MIN    (MM_PAGE_SIZE / PAGE_PTR_SIZE + 1)

/* KERNEL: 3.4 mm/vmalloc.c lazy_max_pages(): fls(cpus) * 32 MiB of pages */
#define LAZY_UNIT (32u * 1024 * 1024 / MM_PAGE_SIZE)

/* KERNEL: 3.4 arch/arm/include/asm/memory.h IOREMAP_MAX_ORDER 24; from the
 * 2015 patch "ARM: use default ioremap alignment for SMP or LPAE" only for
 * !SMP, SMP kernels use include/linux/vmalloc.h's 7 + PAGE_SHIFT. */
#define IOREMAP_ORDER_UP  24u
#define IOREMAP_ORDER_SMP (7u + MM_PAGE_SHIFT)

/* The MT_DEVICE section on ARMv7 with TEX remap: PMD_TYPE_SECT | XN |
 * DOMAIN(DOMAIN_IO = 2) | AP_WRITE | TEX(1) | S.  KERNEL: 3.4
 * arch/arm/mm/mmu.c mem_types[MT_DEVICE] .prot_sect = PROT_SECT_DEVICE |
 * PMD_SECT_S, build_mem_type_table() adds XN, TEX(1) and the domain. */
#define SECT_DEVICE   0x00011452u
#define L1_TYPE_MASK  0x3u
#define L1_TYPE_TABLE 0x1u
#define L1_TYPE_SECT  0x2u

enum area_kind {
    AREA_VMALLOC,  /* vmalloc() */
    AREA_MODULE,   /* module_alloc() */
    AREA_VPAGES,   /* the vmalloc'd page array of a big one */
    AREA_VMAP,     /* vmap() */
    AREA_IOREMAP,  /* ioremap() */
    AREA_RESERVED, /* the coherent-DMA window, PCI I/O */
    AREA_DMA,      /* boot: the DMA atomic pool's remap (pages from phys,
                    * or VA only if phys is 0) */
    AREA_PCPU      /* boot: the per-CPU second chunk (VA only) */
};
#define AREA_LAST AREA_PCPU

/* Areas of up to this many pages keep their page list in the bytes of
 * the pointer that would point to it: most vmallocs are of a page or
 * two, and a malloc'd array of 4-8 bytes each cost glibc a tenth of a
 * recovery's replay (sorting a thousand freed ones per machine). */
#define INLINE_PFNS 2u

/* The 32-bit fields first and the pointer last: 32 bytes, not 40 with
 * the pointer between them (the array is most of a busy vmalloc area's
 * host memory, and its growth copies it).  Whether an area has a page
 * list follows from its kind (has_pfns()), where it is from nr_pages
 * (pfns_inline()): pfns_of() reads it either way. */
struct area {
    mm_vaddr_t start;  /* va_start */
    mm_vaddr_t end;    /* va_end: the guard page included */
    uint32_t nr_pages; /* pages mapped, the guard excluded */
    union {
        mm_paddr_t phys; /* ioremap, DMA: physical base, page aligned */
        uint32_t rox;    /* module: what complete_formation() protected,
                          * vmalloc: what mm__vmap_lock_ro() did (ROX_*
                          * below), 0 if nothing */
    };
    mm_vaddr_t link; /* VPAGES area of a big one, or its owner */
    uint8_t kind;    /* enum area_kind */
    uint8_t caller;  /* kind of the operation that made it, or
                        * MM_BOOT_CALLER + a boot caller (vmboot61.c) */
    bool lazy;       /* VM_LAZY_FREE: unmapped, VA still taken */
    bool section;    /* ioremap mapped with 1 MiB sections */
    union {
        uint32_t *heap;           /* the pages mapped, malloc'd */
        uint32_t in[INLINE_PFNS]; /* the pages of a small area */
    } pfns;                       /* none for ioremap, reserved, lazy */
};
_Static_assert(sizeof(struct area) <= 32, "struct area stays 32 bytes");

/* 3.4's next-fit cache; valid == false is free_vmap_cache == NULL. */
struct vcache {
    bool valid;
    mm_vaddr_t at;   /* start of the area free_vmap_cache names */
    uint32_t hole;   /* cached_hole_size */
    uint32_t vstart; /* cached_vstart */
    uint32_t align;  /* cached_align */
};

struct mm_vmap {
    struct area *a; /* sorted by start, non-overlapping */
    size_t n, cap;
    struct vcache cache;
    uint32_t lazy_nr; /* vmap_lazy_nr: pages of lazy areas */
    size_t pfn_bytes; /* host bytes of the pfn arrays */
    size_t hint;      /* index find_area() last found: a guess it checks */
};

/* What an allocation search sees: the areas, optionally without the lazy
 * ones (after a purge), plus one planned area not inserted yet. */
struct view {
    const struct mm_vmap *v;
    bool purged;
    bool extra;
    mm_vaddr_t xs, xe;
};

struct span {
    mm_vaddr_t start, end;
    size_t next; /* the first index of v->a starting above start, so that
                    view_next() need not search; NO_NEXT: not known */
};

#define NO_NEXT SIZE_MAX

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* fls() as the kernel defines it: 1-based index of the top bit, 0 for 0. */
static unsigned fls32(uint32_t x)
{
    unsigned r = 0;

    while (x != 0) {
        r++;
        x >>= 1;
    }
    return r;
}

/* get_count_order(): ceil(log2(x)) for x > 0. */
static unsigned count_order(uint32_t x)
{
    unsigned r = fls32(x) - 1;

    return (x & (x - 1)) ? r + 1 : r;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) & ~(a - 1);
}

static bool lowest_fit(const struct mm_machine *m)
{
    return m->cfg.kernel >= MM_KVER(5, 2, 0);
}

static uint32_t lazy_max_pages(const struct mm_machine *m)
{
    return fls32(m->cfg.cpus) * LAZY_UNIT;
}

static bool holds_pages(const struct area *ar)
{
    return ar->kind == AREA_VMALLOC || ar->kind == AREA_MODULE || ar->kind == AREA_VPAGES;
}

/* Whether @ar has a page list: a live area that is not an ioremap (its
 * pages are phys + i), the reserved window or a boot area that holds an
 * address range only (AREA_DMA, AREA_PCPU). */
static bool has_pfns(const struct area *ar)
{
    return !ar->lazy && ar->kind != AREA_IOREMAP && ar->kind < AREA_RESERVED;
}

static bool pfns_inline(uint32_t nr_pages)
{
    return nr_pages <= INLINE_PFNS;
}

/* @ar's page list (nr_pages entries), or NULL if it has none. */
static const uint32_t *pfns_of(const struct area *ar)
{
    if (!has_pfns(ar))
        return NULL;
    return pfns_inline(ar->nr_pages) ? ar->pfns.in : ar->pfns.heap;
}

/* The malloc'd page list for @n pages (NULL for an inline one: check
 * with pfns_inline() whether NULL is a failure); heap_bytes() its size. */
static uint32_t *pfns_alloc(uint32_t n)
{
    return pfns_inline(n) ? NULL : malloc(n * sizeof(uint32_t));
}

static size_t heap_bytes(uint32_t n)
{
    return pfns_inline(n) ? 0 : n * sizeof(uint32_t);
}

static const char *caller_name(unsigned kind)
{
    if (kind >= MM_BOOT_CALLER)
        return mm__boot_caller_name(kind - MM_BOOT_CALLER);
    switch (kind) {
    case AREA_VMALLOC:
        return "vmalloc";
    case AREA_MODULE:
        return "module_alloc";
    case AREA_VMAP:
        return "vmap";
    case AREA_IOREMAP:
        return "ioremap";
    default:
        return "reserved";
    }
}

/* The zone vmalloc pages come from: __GFP_HIGHMEM where the kernel asks for
 * it.  KERNEL: 3.4 vmalloc() GFP_KERNEL | __GFP_HIGHMEM, module_alloc()
 * GFP_KERNEL; 19809c2da28a "mm, vmalloc: use __GFP_HIGHMEM implicitly"
 * (4.12) adds it to every vmalloc, module_alloc() included (6.6 read). */
static enum mm_zone data_zone(const struct mm_machine *m, unsigned kind)
{
    bool high = kind != AREA_MODULE || m->cfg.kernel >= MM_KVER(4, 12, 0);

    return high && m->cfg.highmem ? MM_ZONE_HIGHMEM : MM_ZONE_NORMAL;
}

/* A module area's rox: ROX_SET, the text pages, the text and rodata pages.
 * A vmalloc area's (mm__vmap_lock_ro()): ROX_SET, 0 text pages, all its
 * pages read-only. */
#define ROX_SET       (1u << 31)
#define ROX_PAGES_MAX 0x7fffu
#define ROX_TEXT(rox) ((rox)&ROX_PAGES_MAX)
#define ROX_RO(rox)   (((rox) >> 15) & ROX_PAGES_MAX)

static enum mm_prot area_prot(const struct area *ar)
{
    switch (ar->kind) {
    case AREA_MODULE:
        return MM_PROT_KERNEL_EXEC;
    case AREA_IOREMAP:
        return MM_PROT_DEVICE;
    default:
        return MM_PROT_KERNEL;
    }
}

/* Whether @ar's union holds a rox (0 if never protected). */
static bool has_rox(const struct area *ar)
{
    return ar->kind == AREA_MODULE || ar->kind == AREA_VMALLOC;
}

/* The Linux PTE bits (mk_pte() of pfn 0) of page @i of @ar: area_prot()'s,
 * and in a module complete_formation() protected, L_PTE_RDONLY on its text
 * and rodata and L_PTE_XN past its text (set_memory_ro(), set_memory_nx());
 * in a vmalloc area mm__vmap_lock_ro() protected, L_PTE_RDONLY (its pages
 * are XN already). */
static uint32_t page_bits(const struct mm_machine *m, const struct area *ar, uint32_t i)
{
    uint32_t bits = mm__mk_pte(m, 0, area_prot(ar));

    if (ar->kind == AREA_DMA)
        return MM_PTE_DMACOHERENT(bits);

    if (!has_rox(ar) || (ar->rox & ROX_SET) == 0)
        return bits;
    if (i < ROX_RO(ar->rox))
        bits |= MM_L_PTE_RDONLY;
    if (i >= ROX_TEXT(ar->rox))
        bits |= MM_L_PTE_XN;
    return bits;
}

/* Marks the machine broken: a step that the plan proved possible failed. */
static enum mm_status broken(struct mm_machine *m, struct mm_result *res, const char *op,
                             const char *what)
{
    char why[MM_MSG_MAX];

    snprintf(why, sizeof(why), "%.16s: %.40s after planning: %.160s", op, what, res->msg);
    mm_oops(m, why);
    return mm__fail(res->msg, MM_INTERNAL, "%s", why);
}

/* ------------------------------------------------------------------ */
/* The sorted array                                                    */
/* ------------------------------------------------------------------ */

/* First index whose start is >= @start. */
static size_t lower_start(const struct mm_vmap *v, uint64_t start)
{
    size_t lo = 0, hi = v->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v->a[mid].start >= start)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static struct area *find_start(const struct mm_vmap *v, mm_vaddr_t start)
{
    size_t i = lower_start(v, start);

    return i < v->n && v->a[i].start == start ? &v->a[i] : NULL;
}

/* find_start() for the operations that change @v, trying first the area
 * found last and the one after it (a vfree of the area just found, frees
 * in address order) before the binary search; the guess is checked, so a
 * stale one costs only the search.  Only changing operations update the
 * guess: reading functions stay free of writes. */
static struct area *find_area(struct mm_vmap *v, mm_vaddr_t start)
{
    size_t i = v->hint;

    if (i < v->n && v->a[i].start == start)
        return &v->a[i];
    if (i + 1 < v->n && v->a[i + 1].start == start) {
        v->hint = i + 1;
        return &v->a[i + 1];
    }
    i = lower_start(v, start);
    v->hint = i;
    return i < v->n && v->a[i].start == start ? &v->a[i] : NULL;
}

bool mm__vmap_is_ioremap(const struct mm_machine *m, mm_vaddr_t va)
{
    const struct mm_vmap *v = m->vmap;
    size_t i = lower_start(v, (uint64_t)va + 1);
    const struct area *ar = i > 0 ? &v->a[i - 1] : NULL;

    return ar != NULL && va < ar->end && ar->kind == AREA_IOREMAP && !ar->lazy;
}

/* Room for @extra more areas, so that a commit cannot run out. */
static bool reserve_areas(struct mm_vmap *v, size_t extra)
{
    size_t want = v->n + extra;
    struct area *na;
    size_t ncap;

    if (want <= v->cap)
        return true;
    ncap = v->cap ? v->cap * 2 : 16;
    while (ncap < want)
        ncap *= 2;
    na = realloc(v->a, ncap * sizeof(*na));
    if (na == NULL)
        return false;
    v->a = na;
    v->cap = ncap;
    return true;
}

static struct area *insert_area(struct mm_vmap *v, const struct area *ar)
{
    size_t i = lower_start(v, ar->start);

    assert(v->n < v->cap);
    assert(i == v->n || v->a[i].start >= ar->end);
    assert(i == 0 || v->a[i - 1].end <= ar->start);
    memmove(&v->a[i + 1], &v->a[i], (v->n - i) * sizeof(*v->a));
    v->a[i] = *ar;
    v->n++;
    return &v->a[i];
}

/* Gives @ar (with a page list) its list: @heap, from pfns_alloc() for
 * its nr_pages, taken over (NULL for an inline one); the entries are the
 * caller's to fill, through pfns_w(). */
static void set_pfns(struct mm_vmap *v, struct area *ar, uint32_t *heap)
{
    assert(has_pfns(ar) && (heap == NULL) == pfns_inline(ar->nr_pages));
    if (heap != NULL)
        ar->pfns.heap = heap;
    v->pfn_bytes += heap_bytes(ar->nr_pages);
}

static uint32_t *pfns_w(struct area *ar)
{
    assert(has_pfns(ar));
    return pfns_inline(ar->nr_pages) ? ar->pfns.in : ar->pfns.heap;
}

/* ------------------------------------------------------------------ */
/* Views: what a search sees                                           */
/* ------------------------------------------------------------------ */

static bool view_skips(const struct view *w, size_t i)
{
    return w->purged && w->v->a[i].lazy;
}

/* *@out: area @i of the view's array. */
static void span_area(const struct mm_vmap *v, size_t i, struct span *out)
{
    out->start = v->a[i].start;
    out->end = v->a[i].end;
    out->next = i + 1;
}

/* *@out: the view's extra span (the area a plan has placed already). */
static void span_extra(const struct view *w, struct span *out)
{
    out->start = w->xs;
    out->end = w->xe;
    out->next = NO_NEXT;
}

/* The lowest area whose end is >= @addr (the rb-tree descent that finds
 * where the walk begins). */
static bool view_first_end(const struct view *w, uint64_t addr, struct span *out)
{
    const struct mm_vmap *v = w->v;
    size_t lo = 0, hi = v->n;
    bool found;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v->a[mid].end >= addr)
            hi = mid;
        else
            lo = mid + 1;
    }
    while (lo < v->n && view_skips(w, lo))
        lo++;
    found = lo < v->n;
    if (found)
        span_area(v, lo, out);
    if (w->extra && w->xe >= addr && (!found || w->xs < out->start)) {
        span_extra(w, out);
        found = true;
    }
    return found;
}

/* rb_next(): the area after @cur (which @out may be), from the index
 * @cur's lookup left, else a search. */
static bool view_next(const struct view *w, const struct span *cur, struct span *out)
{
    const struct mm_vmap *v = w->v;
    mm_vaddr_t start = cur->start;
    size_t i = cur->next != NO_NEXT ? cur->next : lower_start(v, (uint64_t)start + 1);
    bool found;

    while (i < v->n && view_skips(w, i))
        i++;
    found = i < v->n;
    if (found)
        span_area(v, i, out);
    if (w->extra && w->xs > start && (!found || w->xs < out->start)) {
        span_extra(w, out);
        found = true;
    }
    return found;
}

/* rb_prev() while a purge runs: the lazy areas below are already gone. */
static bool view_prev_live(const struct view *w, mm_vaddr_t start, struct span *out)
{
    const struct mm_vmap *v = w->v;
    size_t i = lower_start(v, start);
    bool found = false;

    while (i > 0 && v->a[i - 1].lazy)
        i--;
    if (i > 0) {
        span_area(v, i - 1, out);
        found = true;
    }
    if (w->extra && w->xs < start && (!found || w->xs > out->start)) {
        span_extra(w, out);
        found = true;
    }
    return found;
}

static bool view_find(const struct view *w, mm_vaddr_t start, struct span *out)
{
    const struct mm_vmap *v = w->v;
    size_t i = lower_start(v, start);

    if (w->extra && w->xs == start) {
        span_extra(w, out);
        return true;
    }
    if (i == v->n || v->a[i].start != start || (w->purged && v->a[i].lazy))
        return false;
    span_area(v, i, out);
    return true;
}

static bool view_has_lazy(const struct view *w)
{
    if (w->purged)
        return false;
    for (size_t i = 0; i < w->v->n; i++) {
        if (w->v->a[i].lazy)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* The searches                                                        */
/* ------------------------------------------------------------------ */

/*
 * One pass of 3.4's alloc_vmap_area(), from "retry:" to "found:" or
 * "overflow:", updating the cache as the kernel updates its globals.
 * KERNEL: 3.4 mm/vmalloc.c alloc_vmap_area().
 */
static bool search_nextfit(const struct view *w, struct vcache *c, uint32_t size,
                           uint32_t align, mm_vaddr_t vstart, mm_vaddr_t vend,
                           mm_vaddr_t *out)
{
    struct span first;
    uint64_t addr = 0;
    bool from_cache = false;

    if (!c->valid || size < c->hole || vstart < c->vstart || align < c->align) {
        c->hole = 0;
        c->valid = false;
    }
    c->vstart = vstart;
    c->align = align;
    if (c->valid) {
        bool ok = view_find(w, c->at, &first);

        assert(ok);
        (void)ok;
        addr = align_up(first.end, align);
        if (addr < vstart) {
            c->hole = 0; /* goto nocache */
            c->valid = false;
        } else {
            from_cache = true;
        }
    }
    if (!from_cache) {
        addr = align_up(vstart, align);
        if (addr + size - 1 > VA_LIMIT)
            return false;
        if (!view_first_end(w, addr, &first))
            goto found;
    } else if (addr + size - 1 > VA_LIMIT) {
        return false;
    }
    while (addr + size > first.start && addr + size <= vend) {
        if (addr + c->hole < first.start)
            c->hole = (uint32_t)(first.start - addr);
        addr = align_up(first.end, align);
        if (addr + size - 1 > VA_LIMIT)
            return false;
        if (!view_next(w, &first, &first))
            break;
    }
found:
    if (addr + size > vend)
        return false;
    *out = (mm_vaddr_t)addr;
    return true;
}

/* 5.2+: the lowest free range in [vstart, vend) that fits once aligned.
 * KERNEL: 6.6 mm/vmalloc.c __alloc_vmap_area(), find_vmap_lowest_match(),
 * is_within_this_va() (the linear equivalent, as
 * find_vmap_lowest_linear_match() checks it). */
static bool search_lowest(const struct view *w, uint32_t size, uint32_t align,
                          mm_vaddr_t vstart, mm_vaddr_t vend, mm_vaddr_t *out)
{
    uint64_t addr = align_up(vstart, align);
    struct span first;
    bool more = view_first_end(w, addr, &first);

    while (more && addr + size > first.start) {
        addr = align_up(first.end, align);
        if (addr + size > vend)
            return false;
        more = view_next(w, &first, &first);
    }
    if (addr + size > vend)
        return false;
    *out = (mm_vaddr_t)addr;
    return true;
}

static bool search(const struct mm_machine *m, const struct view *w, struct vcache *c,
                   uint32_t size, uint32_t align, mm_vaddr_t vstart, mm_vaddr_t vend,
                   mm_vaddr_t *out)
{
    if (lowest_fit(m))
        return search_lowest(w, size, align, vstart, vend, out);
    return search_nextfit(w, c, size, align, vstart, vend, out);
}

/*
 * What a purge does to the cache: __free_vmap_area() of each lazy area in
 * address order drops the cache when the area ends below cached_vstart and
 * moves it to the area's predecessor when the area is at or below it.
 * KERNEL: 3.4 mm/vmalloc.c __free_vmap_area(), __purge_vmap_area_lazy().
 */
static void purge_cache_effect(const struct view *w, struct vcache *c)
{
    const struct mm_vmap *v = w->v;

    for (size_t i = 0; i < v->n && c->valid; i++) {
        const struct area *ar = &v->a[i];
        struct span prev;

        if (!ar->lazy)
            continue;
        if (ar->end < c->vstart) {
            c->valid = false;
        } else if (ar->start <= c->at) {
            c->valid = view_prev_live(w, ar->start, &prev);
            c->at = c->valid ? prev.start : 0;
        }
    }
}

/*
 * Plans one alloc_vmap_area() on @w: a search, and on overflow the purge
 * and the one retry.  Marks @w purged and sets *@purge when the purge has
 * lazy areas to free.  Return: whether a range was found (*@out).
 */
static bool plan_area(const struct mm_machine *m, struct view *w, struct vcache *c,
                      uint32_t size, uint32_t align, mm_vaddr_t vstart, mm_vaddr_t vend,
                      mm_vaddr_t *out, bool *purge)
{
    if (search(m, w, c, size, align, vstart, vend, out))
        return true;
    if (!w->purged) {
        if (!lowest_fit(m))
            purge_cache_effect(w, c);
        *purge = *purge || view_has_lazy(w);
        w->purged = true;
    }
    return search(m, w, c, size, align, vstart, vend, out);
}

/* ------------------------------------------------------------------ */
/* Purge                                                               */
/* ------------------------------------------------------------------ */

/*
 * purge_vmap_area_lazy(): frees the VA of every lazy area, with one TLB
 * flush over the range they span.  Nothing to free: no flush.
 * KERNEL: 3.4 mm/vmalloc.c __purge_vmap_area_lazy().
 */
static void purge_areas(struct mm_machine *m)
{
    struct mm_vmap *v = m->vmap;
    uint64_t lo = VA_LIMIT + 1, hi = 0;
    size_t j = 0;

    for (size_t i = 0; i < v->n; i++) {
        if (v->a[i].lazy) {
            lo = lo < v->a[i].start ? lo : v->a[i].start;
            hi = hi > v->a[i].end ? hi : v->a[i].end;
            continue;
        }
        v->a[j++] = v->a[i];
    }
    if (j == v->n)
        return;
    v->n = j;
    v->lazy_nr = 0;
    mm__flush_tlb_range(m, (mm_vaddr_t)lo, (mm_vaddr_t)hi);
}

/* purge_areas() with its effect on the cache first, as the kernel frees
 * them one by one. */
static void purge(struct mm_machine *m)
{
    struct view w = { m->vmap, false, false, 0, 0 };

    if (!lowest_fit(m))
        purge_cache_effect(&w, &m->vmap->cache);
    purge_areas(m);
}

/*
 * Commits one alloc_vmap_area() that plan_area() found possible: search,
 * purge and retry on overflow, insert, and point the cache at it.
 */
static struct area *commit_area(struct mm_machine *m, const struct area *tmpl,
                                uint32_t align, mm_vaddr_t vstart, mm_vaddr_t vend)
{
    struct mm_vmap *v = m->vmap;
    struct view w = { v, false, false, 0, 0 };
    struct vcache c = v->cache;
    uint32_t size = tmpl->end - tmpl->start;
    struct area ar = *tmpl;
    mm_vaddr_t addr = 0;
    bool ok = search(m, &w, &c, size, align, vstart, vend, &addr);

    if (!ok) {
        v->cache = c;
        purge(m);
        c = v->cache;
        ok = search(m, &w, &c, size, align, vstart, vend, &addr);
    }
    assert(ok);
    (void)ok;
    if (!lowest_fit(m)) {
        c.valid = true;
        c.at = addr;
    }
    v->cache = c;
    ar.start = addr;
    ar.end = addr + size;
    return insert_area(v, &ar);
}

/* ------------------------------------------------------------------ */
/* Pages: counting, taking, mapping                                    */
/* ------------------------------------------------------------------ */

struct zfree {
    uint32_t f[MM_NR_ZONES];
};

/* Free pages per zone and totalram_pages (pages managed by the buddy).
 * Called by every vmalloc, so it reads the three zones' counters directly
 * rather than through mm__buddy_stats(). */
static uint32_t zone_free(const struct mm_machine *m, struct zfree *z)
{
    uint32_t total = 0;

    for (unsigned k = 0; k < MM_NR_ZONES; k++) {
        uint32_t managed;

        mm__buddy_zone_pages(m, (enum mm_zone)k, &z->f[k], &managed);
        total += managed;
    }
    return total;
}

/* @k order-0 allocations from @zone and the zones below it, in turn. */
static bool take(struct zfree *z, enum mm_zone zone, uint32_t k)
{
    for (int i = (int)zone; i >= 0 && k > 0; i--) {
        uint32_t t = z->f[i] < k ? z->f[i] : k;

        z->f[i] -= t;
        k -= t;
    }
    return k == 0;
}

/* 2 MiB steps of [start, start + npages pages) with no PTE page, leaving out
 * the steps of [skip_lo, skip_hi) (tables a planned area creates first). */
static uint32_t missing_tables(const struct mm_machine *m, mm_vaddr_t start,
                               uint32_t npages, uint64_t skip_lo, uint64_t skip_hi)
{
    uint64_t end = (uint64_t)start + npages * PAGE_SZ;
    uint32_t n = 0;

    for (uint64_t s = start & ~(uint64_t)(MM_PMD_SIZE - 1); s < end; s += MM_PMD_SIZE) {
        if (s >= skip_lo && s < skip_hi)
            continue;
        if (!mm__has_pte_page(m, (mm_vaddr_t)s))
            n++;
    }
    return n;
}

static void step_range(mm_vaddr_t start, uint32_t npages, uint64_t *lo, uint64_t *hi)
{
    uint64_t end = (uint64_t)start + npages * PAGE_SZ;

    *lo = start & ~(uint64_t)(MM_PMD_SIZE - 1);
    *hi = align_up(end, MM_PMD_SIZE);
    if (npages == 0)
        *lo = *hi = 0;
}

/* Takes the order-0 pages of @ar from the buddy, filling its pfns in order. */
static enum mm_status alloc_area_pages(struct mm_machine *m, struct area *ar,
                                       const char *op, struct mm_result *res)
{
    enum mm_zone zone = data_zone(m, ar->kind == AREA_VPAGES ? AREA_VMALLOC : ar->caller);
    uint32_t *pfns = pfns_w(ar);

    for (uint32_t i = 0; i < ar->nr_pages; i++) {
        enum mm_status st = mm__alloc_pages(m, zone, 0, MM_OWN_VMALLOC, &pfns[i], op,
                                            res->msg);

        if (st != MM_OK)
            return st;
    }
    return MM_OK;
}

/* map_vm_area() / vmap_page_range(): a PTE table per 2 MiB step where
 * missing (pte_alloc_kernel), then one PTE per page. */
static enum mm_status map_area(struct mm_machine *m, const struct area *ar,
                               const char *op, struct mm_result *res)
{
    /* mk_pte()'s protection bits, the same for every page of the area */
    uint32_t bits = mm__mk_pte(m, 0, area_prot(ar));
    const uint32_t *pfns = pfns_of(ar);

    for (uint32_t i = 0; i < ar->nr_pages; i++) {
        mm_vaddr_t va = ar->start + i * MM_PAGE_SIZE;
        mm_pfn_t pfn = pfns != NULL ? pfns[i] : MM_PFN(ar->phys) + i;
        enum mm_status st = mm__pte_alloc(m, va, op, res->msg);

        if (st != MM_OK)
            return st;
        assert(pfn < (1u << 20)); /* as mm__mk_pte() asserts */
        mm__set_pte(m, va, (pfn << MM_PAGE_SHIFT) | bits);
    }
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* ioremap sections                                                    */
/* ------------------------------------------------------------------ */

/*
 * unmap_area_sections(): clears each pgd entry of [virt, virt + size
 * rounded down to 1 MiB), freeing a PTE page found there, then one TLB
 * flush.  KERNEL: 3.4 arch/arm/mm/ioremap.c unmap_area_sections().
 */
static enum mm_status unmap_sections(struct mm_machine *m, mm_vaddr_t virt, uint32_t size,
                                     const char *op, char msg[MM_MSG_MAX])
{
    uint64_t end = (uint64_t)virt + (size & ~(MM_SECTION_SIZE - 1));
    uint64_t addr = virt;

    do {
        unsigned idx = (unsigned)(addr >> 20);
        uint32_t e = mm__l1_read(m, idx);

        if (e != 0) {
            mm_paddr_t pte = mm__pte_page(m, (mm_vaddr_t)addr);

            mm__l1_write(m, idx, 0);
            mm__l1_write(m, idx + 1, 0);
            if ((e & L1_TYPE_MASK) == L1_TYPE_TABLE) {
                enum mm_status st = mm__free_pages(m, MM_PFN(pte), 0, MM_OWN_PGTABLE, op,
                                                   msg);

                if (st != MM_OK)
                    return st;
                m->cnt.pte_pages--;
            }
        }
        addr += MM_PMD_SIZE;
    } while (addr < end);
    mm__flush_tlb_range(m, virt, (mm_vaddr_t)end);
    return MM_OK;
}

/* remap_area_sections(): two 1 MiB MT_DEVICE sections per pgd entry.
 * KERNEL: 3.4 arch/arm/mm/ioremap.c remap_area_sections(). */
static enum mm_status remap_sections(struct mm_machine *m, const struct area *ar,
                                     const char *op, char msg[MM_MSG_MAX])
{
    uint32_t size = ar->nr_pages * MM_PAGE_SIZE;
    enum mm_status st = unmap_sections(m, ar->start, size, op, msg);

    if (st != MM_OK)
        return st;
    for (uint32_t off = 0; off < size; off += MM_SECTION_SIZE)
        mm__l1_write(m, (ar->start + off) >> 20, (ar->phys + off) | SECT_DEVICE);
    return MM_OK;
}

/* Whether every table a section ioremap would free is a buddy PTE page. */
static bool sections_freeable(const struct mm_machine *m, mm_vaddr_t virt, uint32_t size)
{
    for (uint64_t a = virt; a < (uint64_t)virt + size; a += MM_PMD_SIZE) {
        struct mm_page_info pi;

        if (!mm__has_pte_page(m, (mm_vaddr_t)a))
            continue;
        mm__page_info(m, MM_PFN(mm__pte_page(m, (mm_vaddr_t)a)), &pi);
        if (pi.state != MM_PAGE_USED || pi.owner != MM_OWN_PGTABLE || pi.order != 0)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Create, clone, destroy                                              */
/* ------------------------------------------------------------------ */

struct mm_vmap *mm__vmap_create(const struct mm_machine *m)
{
    struct mm_vmap *v = calloc(1, sizeof(*v));
    const struct mm_layout *lay = &m->lay;

    if (v == NULL)
        return NULL;
    /* The coherent-DMA window is never handed out: where it overlaps a
     * window it is kept as a permanent area (3.4 refuses a window that
     * reaches below VMALLOC_END, so normally it does not). */
    if (lay->consistent_end > lay->consistent_start &&
        ((lay->consistent_start < lay->vmalloc_end &&
          lay->consistent_end > lay->vmalloc_start) ||
         (lay->consistent_start < lay->modules_end &&
          lay->consistent_end > lay->modules_vaddr))) {
        struct area r = { 0 };

        if (!reserve_areas(v, 1)) {
            free(v);
            return NULL;
        }
        r.start = lay->consistent_start;
        r.end = lay->consistent_end;
        r.kind = r.caller = AREA_RESERVED;
        insert_area(v, &r);
    }
    /* KERNEL: 6.1 arch/arm/mm/mmu.c pci_reserve_io(): vm_reserve_area_early(
     * PCI_IO_VIRT_BASE, SZ_2M) is a vmlist entry vmalloc_init() imports as
     * busy, so no allocation is placed over it. */
    if (lay->pci_io_base != 0) {
        struct area r = { 0 };

        if (!reserve_areas(v, 1)) {
            free(v->a);
            free(v);
            return NULL;
        }
        r.start = lay->pci_io_base;
        r.end = lay->pci_io_base + MM_PCI_IO_SIZE;
        r.kind = r.caller = AREA_RESERVED;
        insert_area(v, &r);
    }
    return v;
}

struct mm_vmap *mm__vmap_clone(const struct mm_vmap *v)
{
    struct mm_vmap *c = malloc(sizeof(*c));

    if (c == NULL)
        return NULL;
    *c = *v;
    c->a = NULL;
    c->cap = c->n = 0;
    if (v->n > 0) {
        c->a = malloc(v->n * sizeof(*c->a));
        if (c->a == NULL) {
            free(c);
            return NULL;
        }
        c->cap = v->n;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct area *ar = &v->a[i];

        c->a[i] = *ar; /* an inline page list with it */
        c->n = i + 1;
        if (has_pfns(ar) && !pfns_inline(ar->nr_pages)) {
            size_t bytes = heap_bytes(ar->nr_pages);

            c->a[i].pfns.heap = malloc(bytes);
            if (c->a[i].pfns.heap == NULL) {
                mm__vmap_destroy(c);
                return NULL;
            }
            memcpy(c->a[i].pfns.heap, ar->pfns.heap, bytes);
        }
    }
    return c;
}

void mm__vmap_destroy(struct mm_vmap *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n; i++) {
        if (has_pfns(&v->a[i]) && !pfns_inline(v->a[i].nr_pages))
            free(v->a[i].pfns.heap);
    }
    free(v->a);
    free(v);
}

size_t mm__vmap_host_bytes(const struct mm_vmap *v)
{
    return sizeof(*v) + v->cap * sizeof(*v->a) + v->pfn_bytes;
}

/* ------------------------------------------------------------------ */
/* vmalloc and module_alloc                                            */
/* ------------------------------------------------------------------ */

struct vplan {
    mm_vaddr_t addr, naddr;   /* the area, its page-array area (0: none) */
    uint32_t npages, nnpages; /* their pages */
    uint32_t *pfns, *npfns;   /* host arrays, taken before committing
                                 (NULL if inline: pfns_alloc()) */
    uint32_t align;           /* of the area: 1 (PAGE_SIZE) but for boot stacks */
    bool purge;               /* a search overflowed with lazy areas to free */
    struct vcache cache;      /* free_vmap_cache once both areas are in */
};

/* Counts what a vmalloc will take from the buddy allocator, in the
 * kernel's order: the page array's pages and tables, then the area's. */
static bool vmalloc_pages_fit(const struct mm_machine *m, unsigned kind,
                              const struct vplan *p, uint32_t *need)
{
    struct zfree z;
    uint64_t lo, hi;
    uint32_t nt = 0, t;

    zone_free(m, &z);
    step_range(p->naddr, p->nnpages, &lo, &hi);
    if (p->nnpages > 0)
        nt = missing_tables(m, p->naddr, p->nnpages, 0, 0);
    t = missing_tables(m, p->addr, p->npages, lo, hi);
    *need = p->nnpages + nt + p->npages + t;
    return take(&z, data_zone(m, AREA_VMALLOC), p->nnpages) &&
           take(&z, MM_ZONE_NORMAL, nt) && take(&z, data_zone(m, kind), p->npages) &&
           take(&z, MM_ZONE_NORMAL, t);
}

/* Plans the VA of a vmalloc and of its page array.  KERNEL: 3.4
 * __vmalloc_node_range(), __get_vm_area_node() (size + guard page),
 * __vmalloc_area_node() (array > PAGE_SIZE: __vmalloc_node() in
 * VMALLOC_START..VMALLOC_END). */
static enum mm_status vmalloc_plan(struct mm_machine *m, unsigned kind, uint32_t size,
                                   struct vplan *p, const char *op, struct mm_result *res)
{
    const struct mm_layout *lay = &m->lay;
    mm_vaddr_t vstart = kind == AREA_MODULE ? lay->modules_vaddr : lay->vmalloc_start;
    mm_vaddr_t vend = kind == AREA_MODULE ? lay->modules_end : lay->vmalloc_end;
    struct view w = { m->vmap, false, false, 0, 0 };
    struct vcache c = m->vmap->cache;
    uint64_t asize = align_up(size, PAGE_SZ);
    bool purge = false;
    uint32_t need;

    p->npages = (uint32_t)(asize >> MM_PAGE_SHIFT);
    if (asize + PAGE_SZ > (uint64_t)vend - vstart ||
        !plan_area(m, &w, &c, (uint32_t)asize + MM_PAGE_SIZE, p->align, vstart, vend,
                   &p->addr, &purge))
        return mm__fail(res->msg, MM_NO_MEMORY,
                        "%s: vmap allocation for size %llu failed: use vmalloc=<size> "
                        "to increase size (no room in 0x%08x-0x%08x)",
                        op, (unsigned long long)asize + MM_PAGE_SIZE, vstart, vend);
    if (!lowest_fit(m)) {
        c.valid = true; /* free_vmap_cache = the new area */
        c.at = p->addr;
    }
    if (p->npages >= VPAGES_MIN) {
        uint64_t nsize = align_up((uint64_t)p->npages * PAGE_PTR_SIZE, PAGE_SZ);

        p->nnpages = (uint32_t)(nsize >> MM_PAGE_SHIFT);
        w.extra = true;
        w.xs = p->addr;
        w.xe = p->addr + (uint32_t)asize + MM_PAGE_SIZE;
        if (!plan_area(m, &w, &c, (uint32_t)nsize + MM_PAGE_SIZE, 1, lay->vmalloc_start,
                       lay->vmalloc_end, &p->naddr, &purge))
            return mm__fail(res->msg, MM_NO_MEMORY,
                            "%s: vmap allocation for size %llu (the page array) failed: "
                            "use vmalloc=<size> to increase size",
                            op, (unsigned long long)nsize + MM_PAGE_SIZE);
        if (!lowest_fit(m)) {
            c.valid = true;
            c.at = p->naddr;
        }
    }
    p->purge = purge;
    p->cache = c;
    if (!vmalloc_pages_fit(m, kind, p, &need))
        return mm__fail(res->msg, MM_NO_MEMORY,
                        "%s: out of memory: %u pages needed (%u data, %u page array, "
                        "the rest page tables)",
                        op, need, p->npages, p->nnpages);
    return MM_OK;
}

/* Takes the host memory a commit needs, so that it cannot fail. */
static enum mm_status vmalloc_host(struct mm_vmap *v, struct vplan *p, const char *op,
                                   struct mm_result *res)
{
    p->pfns = pfns_alloc(p->npages);
    p->npfns = p->nnpages ? pfns_alloc(p->nnpages) : NULL;
    if ((p->pfns == NULL && !pfns_inline(p->npages)) ||
        (p->npfns == NULL && !pfns_inline(p->nnpages)) || !reserve_areas(v, 2)) {
        free(p->pfns);
        free(p->npfns);
        return mm__fail(res->msg, MM_NO_MEMORY, "%s: out of host memory", op);
    }
    return MM_OK;
}

/* Commits what vmalloc_plan() found: the searches there ran on the same
 * areas and cache as commit_area() would (the first area seen as an extra
 * span by the second search, the purge as its view), so their addresses
 * and cache are taken as they are rather than searched for again. */
static enum mm_status vmalloc_commit(struct mm_machine *m, unsigned kind, struct vplan *p,
                                     const char *op, struct mm_result *res)
{
    struct mm_vmap *v = m->vmap;
    struct area t = { 0 }, *ar, *nar;
    mm_vaddr_t addr = p->addr;

    if (p->purge)
        purge_areas(m); /* the plan's cache has its effect already */
    t.start = addr;
    t.end = addr + p->npages * MM_PAGE_SIZE + MM_PAGE_SIZE;
    t.nr_pages = p->npages;
    t.kind = t.caller = (uint8_t)kind;
    ar = insert_area(v, &t);
    set_pfns(v, ar, p->pfns);
    v->cache = p->cache;
    if (p->nnpages > 0) {
        t.start = p->naddr;
        t.end = p->naddr + p->nnpages * MM_PAGE_SIZE + MM_PAGE_SIZE;
        t.nr_pages = p->nnpages;
        t.kind = AREA_VPAGES;
        t.link = addr;
        nar = insert_area(v, &t);
        set_pfns(v, nar, p->npfns);
        find_area(v, addr)->link = nar->start;
        if (alloc_area_pages(m, nar, op, res) != MM_OK)
            return broken(m, res, op, "a page-array page");
        if (map_area(m, nar, op, res) != MM_OK)
            return broken(m, res, op, "a page table");
    }
    ar = find_area(v, addr);
    if (alloc_area_pages(m, ar, op, res) != MM_OK)
        return broken(m, res, op, "a page");
    if (map_area(m, ar, op, res) != MM_OK)
        return broken(m, res, op, "a page table");
    res->value = addr;
    res->aux = p->npages;
    return MM_OK;
}

/* vmalloc() and module_alloc(): __vmalloc_node_range() in their window. */
static enum mm_status do_vmalloc(struct mm_machine *m, unsigned kind, uint32_t size,
                                 uint32_t align, struct mm_result *res)
{
    const char *op = caller_name(kind);
    struct vplan p;
    struct zfree z;
    uint32_t totalram = zone_free(m, &z);
    uint64_t pages = align_up(size, PAGE_SZ) >> MM_PAGE_SHIFT;
    enum mm_status st;

    memset(&p, 0, sizeof(p));
    p.align = align;
    /* KERNEL: 3.4 __vmalloc_node_range(): size = PAGE_ALIGN(size); fail if
     * !size or (size >> PAGE_SHIFT) > totalram_pages. */
    if (size == 0)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT, "%s: size 0", op);
    if (pages > totalram)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: size 0x%x is %llu pages, more than totalram_pages (%u)", op,
                        size, (unsigned long long)pages, totalram);
    st = vmalloc_plan(m, kind, size, &p, op, res);
    if (st == MM_OK)
        st = vmalloc_host(m->vmap, &p, op, res);
    if (st != MM_OK)
        return st;
    return vmalloc_commit(m, kind, &p, op, res);
}

enum mm_status mm__vmalloc(struct mm_machine *m, uint32_t size, struct mm_result *res)
{
    assert(m != NULL && res != NULL);
    return do_vmalloc(m, AREA_VMALLOC, size, 1, res);
}

/* __vmalloc_node() with an alignment (a power of two, PAGE_SIZE or more):
 * the kernel's VMAP_STACK thread stacks.  KERNEL: 6.1 kernel/fork.c
 * alloc_thread_stack_node() __vmalloc_node_range(THREAD_SIZE, THREAD_ALIGN,
 * VMALLOC_START, VMALLOC_END, ...). */
enum mm_status mm__vmalloc_aligned(struct mm_machine *m, uint32_t size, uint32_t align,
                                   struct mm_result *res)
{
    assert(m != NULL && res != NULL && (align & (align - 1)) == 0 && align >= PAGE_SZ);
    return do_vmalloc(m, AREA_VMALLOC, size, align, res);
}

/* KERNEL: 3.4 arch/arm/kernel/module.c module_alloc():
 * __vmalloc_node_range(size, 1, MODULES_VADDR, MODULES_END, GFP_KERNEL,
 * PAGE_KERNEL_EXEC, -1, ...). */
enum mm_status mm__module_alloc(struct mm_machine *m, uint32_t size,
                                struct mm_result *res)
{
    assert(m != NULL && res != NULL);
    return do_vmalloc(m, AREA_MODULE, size, 1, res);
}

/* ------------------------------------------------------------------ */
/* Freeing                                                             */
/* ------------------------------------------------------------------ */

/* "a vmalloc area; use vfree", ... for the refusal messages. */
static const char *kind_phrase(unsigned kind)
{
    switch (kind) {
    case AREA_VMALLOC:
        return "a vmalloc area; use vfree";
    case AREA_MODULE:
        return "a module_alloc area; use module_free";
    case AREA_VMAP:
        return "a vmap area; use vunmap";
    case AREA_IOREMAP:
        return "an ioremap area; use iounmap";
    default:
        return "the coherent DMA window";
    }
}

static const char *kind_noun(unsigned kind)
{
    switch (kind) {
    case AREA_VMALLOC:
        return "a vmalloc";
    case AREA_MODULE:
        return "a module_alloc";
    case AREA_VMAP:
        return "a vmap";
    default:
        return "an ioremap";
    }
}

/* Finds the live area of @kind starting at @va, or explains why not. */
static enum mm_status find_own(struct mm_vmap *v, mm_vaddr_t va, unsigned kind,
                               const char *op, struct mm_result *res)
{
    const struct area *ar = find_area(v, va);

    if (ar == NULL || ar->lazy)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: 0x%08x is not the start of %s area%s", op, va,
                        kind_noun(kind),
                        ar != NULL ? " (it was freed and awaits a purge)" : "");
    if (ar->kind == AREA_VPAGES)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: 0x%08x is the page array of the %s area at 0x%08x; "
                        "it is freed with that area",
                        op, va, caller_name(ar->caller), ar->link);
    if (ar->kind != kind)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT, "%s: 0x%08x is %s", op, va,
                        kind_phrase(ar->kind));
    return MM_OK;
}

/* Gives @ar the protection @rox: each page's PTE gets page_bits() (its pfn
 * kept; set_pte_ext() derives APX / XN), then one flush of the range. */
static void set_rox(struct mm_machine *m, struct area *ar, uint32_t rox)
{
    ar->rox = rox;
    for (uint32_t i = 0; i < ar->nr_pages; i++) {
        mm_vaddr_t p = ar->start + i * MM_PAGE_SIZE;

        mm__set_pte(m, p, (mm__pte_get(m, p) & ~(uint32_t)0xfff) | page_bits(m, ar, i));
    }
    mm__flush_tlb_range(m, ar->start, ar->start + ar->nr_pages * MM_PAGE_SIZE);
}

/*
 * complete_formation(): module_enable_ro(mod, false), module_enable_nx(),
 * module_enable_x() on the core layout at @va (mm_int.h).  set_memory_ro()
 * and set_memory_nx() set L_PTE_RDONLY / L_PTE_XN in each page's PTE
 * (set_pte_ext() derives APX / XN), then flush the range once.
 * KERNEL: 6.1 kernel/module/main.c complete_formation();
 * kernel/module/strict_rwx.c frob_text(), frob_rodata(), frob_writable_data()
 * (STRICT_MODULE_RWX and rodata_enabled; the data layout is the core one);
 * arch/arm/mm/pageattr.c change_memory_common() (module or vmalloc range).
 */
enum mm_status mm__module_enable_ro(struct mm_machine *m, mm_vaddr_t va,
                                    uint32_t text_size, uint32_t ro_size,
                                    struct mm_result *res)
{
    const char *op = "module_enable_ro";
    enum mm_status st = find_own(m->vmap, va, AREA_MODULE, op, res);
    struct area *ar;

    if (st != MM_OK)
        return st;
    ar = find_area(m->vmap, va);
    if (((text_size | ro_size) & (MM_PAGE_SIZE - 1)) != 0 || text_size > ro_size ||
        ro_size > ar->nr_pages * MM_PAGE_SIZE)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: text 0x%x and rodata end 0x%x must be page aligned, "
                        "in order, within the module's 0x%x bytes",
                        op, text_size, ro_size, ar->nr_pages * MM_PAGE_SIZE);
    if (ar->rox != 0)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: the module at 0x%08x is protected already", op, va);
    res->value = 0;
    if (!mm__config_strict_module_rwx(&m->cfg))
        return MM_OK; /* module_enable_x() alone: PAGE_KERNEL_EXEC already */
    set_rox(m, ar,
            ROX_SET | ((ro_size >> MM_PAGE_SHIFT) << 15) | (text_size >> MM_PAGE_SHIFT));
    res->value = ro_size >> MM_PAGE_SHIFT;
    return MM_OK;
}

/*
 * bpf_prog_lock_ro() of a program not JITed: set_vm_flush_reset_perms(),
 * then set_memory_ro() of all the vmalloc area's pages (fp->pages): each
 * PTE gets L_PTE_RDONLY, then one flush of the range.  The area keeps
 * VM_FLUSH_RESET_PERMS: its vfree purges the lazy areas at once, as a
 * protected module's does (release()).  KERNEL: 6.1 include/linux/filter.h
 * bpf_prog_lock_ro() (CONFIG_BPF_JIT_ALWAYS_ON unset in the armmp build);
 * kernel/bpf/core.c bpf_prog_select_runtime(); arch/arm/mm/pageattr.c
 * set_memory_ro() -> change_memory_common() (a vmalloc range).
 */
enum mm_status mm__vmap_lock_ro(struct mm_machine *m, mm_vaddr_t va,
                                struct mm_result *res)
{
    const char *op = "bpf_prog_lock_ro";
    enum mm_status st = find_own(m->vmap, va, AREA_VMALLOC, op, res);
    struct area *ar;

    if (st != MM_OK)
        return st;
    ar = find_area(m->vmap, va);
    if (ar->rox != 0)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: the vmalloc area at 0x%08x is read-only already", op, va);
    if (ar->nr_pages > ROX_PAGES_MAX)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "%s: the vmalloc area at 0x%08x has %u pages, more than %u", op,
                        va, ar->nr_pages, ROX_PAGES_MAX);
    set_rox(m, ar, ROX_SET | (ar->nr_pages << 15));
    res->value = ar->nr_pages;
    return MM_OK;
}

/*
 * remove_vm_area() and what __vunmap() does after it: unmap at once (no
 * TLB flush), mark the VA lazy and purge if the lazy pages now exceed
 * lazy_max_pages(), then give the pages back, then free the vmalloc'd
 * page array the same way.  *@pages and *@array receive the page counts.
 * KERNEL: 3.4 mm/vmalloc.c remove_vm_area(), free_unmap_vmap_area(),
 * free_vmap_area_noflush(), __vunmap(); arch/arm/mm/ioremap.c __iounmap().
 *
 * A module complete_formation() protected carries VM_FLUSH_RESET_PERMS
 * (module_enable_ro()'s set_vm_flush_reset_perms()), so its vfree also
 * purges every lazy area at once, before the pages go back.  Its PTEs are
 * cleared, not made writable first: the set_memory_nx()/set_memory_rw()
 * that 5.2's vm_remove_mappings() did for architectures without
 * ARCH_HAS_SET_DIRECT_MAP (ARM) is gone before 6.1, and ARM's
 * set_direct_map_*() are the generic no-ops, so what remains is the
 * _vm_unmap_aliases() flush.  KERNEL: 6.1 kernel/module/strict_rwx.c
 * module_enable_ro(); mm/vmalloc.c __vunmap(), vm_remove_mappings(),
 * _vm_unmap_aliases() -> __purge_vmap_area_lazy().
 */
static enum mm_status release(struct mm_machine *m, mm_vaddr_t start, const char *op,
                              struct mm_result *res, uint32_t *pages, uint32_t *array)
{
    struct mm_vmap *v = m->vmap;
    struct area *ar = find_area(v, start);
    uint32_t n = ar->nr_pages, small[INLINE_PFNS];
    uint32_t *heap = has_pfns(ar) && !pfns_inline(n) ? ar->pfns.heap : NULL;
    const uint32_t *pfns = heap;
    mm_vaddr_t link = ar->kind == AREA_VPAGES ? 0 : ar->link;
    bool free_pages = holds_pages(ar), reset_perms;

    if (has_pfns(ar) && pfns_inline(n)) {
        /* purge() below moves the areas: keep an inline list here */
        memcpy(small, ar->pfns.in, sizeof(small));
        pfns = small;
    }
    if (ar->section) {
        if (unmap_sections(m, ar->start, ar->end - ar->start, op, res->msg) != MM_OK)
            return broken(m, res, op, "freeing a page table");
    } else {
        for (uint32_t i = 0; i < n; i++)
            mm__pte_clear(m, ar->start + i * MM_PAGE_SIZE);
    }
    if (has_pfns(ar))
        v->pfn_bytes -= heap_bytes(n);
    ar->pfns.heap = NULL;
    ar->lazy = true;
    ar->link = 0;
    reset_perms = has_rox(ar) && ar->rox != 0;
    if (has_rox(ar))
        ar->rox = 0; /* the next area here maps its kind's protection */
    v->lazy_nr += (ar->end - ar->start) >> MM_PAGE_SHIFT;
    if (v->lazy_nr > lazy_max_pages(m) || reset_perms)
        purge(m); /* try_purge_vmap_area_lazy(), or vm_unmap_aliases() */
    assert(!free_pages || n == 0 || pfns != NULL); /* areas holding pages
                                                       keep their pfns */
    for (uint32_t i = 0; free_pages && i < n; i++) {
        if (mm__free_pages(m, pfns[i], 0, MM_OWN_VMALLOC, op, res->msg) != MM_OK) {
            free(heap);
            return broken(m, res, op, "freeing a page");
        }
    }
    free(heap);
    *pages = n;
    if (link != 0) {
        uint32_t ignored;

        return release(m, link, op, res, array, &ignored);
    }
    return MM_OK;
}

static enum mm_status do_free(struct mm_machine *m, mm_vaddr_t va, unsigned kind,
                              const char *op, struct mm_result *res)
{
    uint32_t pages = 0, array = 0;
    enum mm_status st = find_own(m->vmap, va, kind, op, res);

    if (st != MM_OK)
        return st;
    st = release(m, va, op, res, &pages, &array);
    if (st != MM_OK)
        return st;
    res->value = pages;
    res->aux = array;
    return MM_OK;
}

enum mm_status mm__vfree(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res)
{
    assert(m != NULL && res != NULL);
    return do_free(m, va, AREA_VMALLOC, "vfree", res);
}

/* KERNEL: 3.4 arch/arm/kernel/module.c module_free() is vfree(). */
enum mm_status mm__module_free(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res)
{
    assert(m != NULL && res != NULL);
    return do_free(m, va, AREA_MODULE, "module_free", res);
}

enum mm_status mm__vunmap(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res)
{
    assert(m != NULL && res != NULL);
    return do_free(m, va, AREA_VMAP, "vunmap", res);
}

/* KERNEL: 3.4 arch/arm/mm/ioremap.c __iounmap(): the cookie is masked to
 * its page, so the address ioremap() returned is accepted. */
enum mm_status mm__iounmap(struct mm_machine *m, mm_vaddr_t va, struct mm_result *res)
{
    assert(m != NULL && res != NULL);
    return do_free(m, va & ~(MM_PAGE_SIZE - 1), AREA_IOREMAP, "iounmap", res);
}

/* ------------------------------------------------------------------ */
/* vmap and ioremap                                                    */
/* ------------------------------------------------------------------ */

/* Plans and commits a single area whose pages exist already (vmap,
 * ioremap): VA, PTE pages, then the mapping.  @tmpl gives kind, pages,
 * phys; @pfns (vmap; NULL for ioremap) is copied into the area. */
static enum mm_status map_existing(struct mm_machine *m, struct area *tmpl,
                                   uint32_t align, const mm_pfn_t *pfns, const char *op,
                                   struct mm_result *res)
{
    const struct mm_layout *lay = &m->lay;
    struct view w = { m->vmap, false, false, 0, 0 };
    struct vcache c = m->vmap->cache;
    uint32_t size = tmpl->nr_pages * MM_PAGE_SIZE + MM_PAGE_SIZE;
    struct zfree z;
    mm_vaddr_t addr;
    bool purge = false;
    struct area *ar;
    uint32_t *heap;

    if (!plan_area(m, &w, &c, size, align, lay->vmalloc_start, lay->vmalloc_end, &addr,
                   &purge)) {
        return mm__fail(res->msg, MM_NO_MEMORY,
                        "%s: vmap allocation for size %u failed: use vmalloc=<size> to "
                        "increase size (no room in 0x%08x-0x%08x)",
                        op, size, lay->vmalloc_start, lay->vmalloc_end);
    }
    /* KERNEL: 3.4 ioremap.c: sections only on !SMP, when phys, size and
     * VA are all PMD_SIZE (2 MiB) aligned. */
    tmpl->section = tmpl->kind == AREA_IOREMAP && !m->lay.smp &&
                    ((tmpl->phys | (size - MM_PAGE_SIZE) | addr) & (MM_PMD_SIZE - 1)) ==
                        0 &&
                    sections_freeable(m, addr, size - MM_PAGE_SIZE);
    zone_free(m, &z);
    if (!tmpl->section &&
        !take(&z, MM_ZONE_NORMAL, missing_tables(m, addr, tmpl->nr_pages, 0, 0))) {
        return mm__fail(res->msg, MM_NO_MEMORY, "%s: out of memory for page tables", op);
    }
    heap = pfns != NULL ? pfns_alloc(tmpl->nr_pages) : NULL;
    if ((pfns != NULL && heap == NULL && !pfns_inline(tmpl->nr_pages)) ||
        !reserve_areas(m->vmap, 1)) {
        free(heap);
        return mm__fail(res->msg, MM_NO_MEMORY, "%s: out of host memory", op);
    }
    tmpl->end = size;
    ar = commit_area(m, tmpl, align, lay->vmalloc_start, lay->vmalloc_end);
    assert(ar->start == addr);
    if (pfns != NULL) {
        set_pfns(m->vmap, ar, heap);
        memcpy(pfns_w(ar), pfns, ar->nr_pages * sizeof(*pfns));
    }
    if (ar->section) {
        if (remap_sections(m, ar, op, res->msg) != MM_OK)
            return broken(m, res, op, "freeing a page table");
    } else if (map_area(m, ar, op, res) != MM_OK) {
        return broken(m, res, op, "a page table");
    }
    res->value = addr;
    res->aux = ar->nr_pages;
    return MM_OK;
}

/* KERNEL: 3.4 mm/vmalloc.c vmap(): count > totalram_pages fails; the area
 * is get_vm_area_caller(count << PAGE_SHIFT, VM_MAP) mapped PAGE_KERNEL;
 * the pages are not allocated and their use is not checked. */
enum mm_status mm__vmap(struct mm_machine *m, const mm_pfn_t *pfns, uint32_t n,
                        struct mm_result *res)
{
    struct area t = { 0 };
    struct zfree z;
    uint32_t totalram = zone_free(m, &z);

    assert(m != NULL && res != NULL && (n == 0 || pfns != NULL));
    if (n == 0)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT, "vmap: no pages");
    if (n > totalram)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "vmap: %u pages is more than totalram_pages (%u)", n, totalram);
    for (uint32_t i = 0; i < n; i++) {
        if (!mm__pfn_valid(m, pfns[i]))
            return mm__fail(res->msg, MM_INVALID_ARGUMENT, "vmap: pfn 0x%x is not RAM",
                            pfns[i]);
    }
    t.nr_pages = n;
    t.kind = t.caller = AREA_VMAP;
    return map_existing(m, &t, 1, pfns, "vmap", res);
}

/* The VM_IOREMAP alignment.  KERNEL: 3.4 mm/vmalloc.c __get_vm_area_node():
 * 1 << clamp(fls(size), PAGE_SHIFT, IOREMAP_MAX_ORDER), so 4 KiB is 8 KiB
 * aligned; "mm/vmalloc.c: fix align value calculation error" (2016, taken
 * as 4.9) uses get_count_order_long(size) (6.6 read). */
static uint32_t ioremap_align(const struct mm_machine *m, uint32_t size)
{
    unsigned bit = m->cfg.kernel >= MM_KVER(4, 9, 0) ? count_order(size) : fls32(size);
    unsigned max = m->lay.smp && m->cfg.kernel >= MM_KVER(4, 0, 0) ? IOREMAP_ORDER_SMP
                                                                   : IOREMAP_ORDER_UP;

    if (bit > max)
        bit = max;
    if (bit < MM_PAGE_SHIFT)
        bit = MM_PAGE_SHIFT;
    return 1u << bit;
}

/*
 * ioremap(): MT_DEVICE pages, or sections on a UP kernel.  RAM is refused
 * as __arm_ioremap_pfn_caller() refuses it: WARN_ON(pfn_valid(pfn)) on the
 * first page only.  KERNEL: 3.4 arch/arm/mm/ioremap.c
 * __arm_ioremap_caller(), __arm_ioremap_pfn_caller().
 */
enum mm_status mm__ioremap(struct mm_machine *m, mm_paddr_t phys, uint32_t size,
                           struct mm_result *res)
{
    uint32_t offset = phys & (MM_PAGE_SIZE - 1);
    mm_pfn_t pfn = MM_PFN(phys);
    uint64_t asize = align_up((uint64_t)offset + size, PAGE_SZ);
    struct area t = { 0 };
    enum mm_status st;

    assert(m != NULL && res != NULL);
    if (size == 0)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT, "ioremap: size 0");
    if ((uint64_t)phys + size - 1 > VA_LIMIT || asize > VA_LIMIT - MM_PAGE_SIZE)
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "ioremap: 0x%08x + 0x%x wraps past 4 GiB", phys, size);
    if (mm__pfn_valid(m, pfn))
        return mm__fail(res->msg, MM_INVALID_ARGUMENT,
                        "ioremap: 0x%08x-0x%08x is RAM; ARM refuses to ioremap RAM",
                        pfn << MM_PAGE_SHIFT, (pfn << MM_PAGE_SHIFT) + MM_PAGE_SIZE - 1);
    t.nr_pages = (uint32_t)(asize >> MM_PAGE_SHIFT);
    t.phys = pfn << MM_PAGE_SHIFT;
    t.kind = t.caller = AREA_IOREMAP;
    st = map_existing(m, &t, ioremap_align(m, (uint32_t)asize), NULL, "ioremap", res);
    if (st == MM_OK)
        res->value += offset;
    return st;
}

/* ------------------------------------------------------------------ */
/* Stats, report, check                                                */
/* ------------------------------------------------------------------ */

void mm__vmap_stats(const struct mm_machine *m, struct mm_stats *st)
{
    const struct mm_vmap *v = m->vmap;

    st->vmalloc_areas = st->vmalloc_pages = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct area *ar = &v->a[i];

        if (ar->lazy || ar->kind == AREA_RESERVED)
            continue;
        st->vmalloc_areas++;
        if (holds_pages(ar))
            st->vmalloc_pages += ar->nr_pages;
    }
    st->vmalloc_lazy_pages = v->lazy_nr;
}

/* show_purge_info(): "unpurged vm_area" lines, after the live areas.
 * KERNEL: 6.1 mm/vmalloc.c show_purge_info(), s_show(). */
static void report_unpurged(const struct mm_machine *m, struct mm_buf *out)
{
    mm_vaddr_t start, end;
    size_t pos = 0;

    while (mm__vm_unpurged_next(m, &pos, &start, &end))
        mm__buf_printf(out, "0x%08x-0x%08x %7u unpurged vm_area\n", start, end,
                       end - start);
}

/*
 * /proc/vmallocinfo: the vmlist, which holds live areas only (remove_vm_area()
 * unlinks an area before it is freed lazily).  The caller is the
 * operation's name where the kernel prints %pS of the return address.
 * KERNEL: 3.4 mm/vmalloc.c s_show(); 3.4 ioremap sets no phys_addr, later
 * __arm_ioremap_pfn_caller() sets it (taken as 3.9, with static_vm).
 */
enum mm_status mm__report_vmallocinfo(const struct mm_machine *m, struct mm_buf *out)
{
    bool phys = m->cfg.kernel >= MM_KVER(3, 9, 0);
    /* %pa: "0x" and 8 digits for a 32-bit phys_addr_t.  KERNEL: 4.19 and 6.1
     * mm/vmalloc.c s_show() " phys=%pa"; "mm: cleanups for printing
     * phys_addr_t and dma_addr_t" (posted 2017-02-09, after 4.10) replaced
     * " phys=%llx": bound, taken as 4.11. */
    bool phys_pa = m->cfg.kernel >= MM_KVER(4, 11, 0);

    struct mm_vm_area a;
    size_t pos = 0;

    while (mm__vm_area_next(m, &pos, &a)) {
        mm__buf_printf(out, "0x%08x-0x%08x %7u %s", a.start, a.end, a.end - a.start,
                       a.caller);
        if (a.has_pages)
            mm__buf_printf(out, " pages=%u", a.nr_pages);
        if (a.ioremap && phys && a.phys != 0 && phys_pa)
            mm__buf_printf(out, " phys=0x%08x", a.phys);
        else if (a.ioremap && phys && a.phys != 0)
            mm__buf_printf(out, " phys=%x", a.phys);
        if (a.ioremap)
            mm__buf_printf(out, " ioremap");
        if (a.vm_alloc)
            mm__buf_printf(out, " vmalloc");
        if (a.vmap)
            mm__buf_printf(out, " vmap");
        if (a.dma_coherent)
            mm__buf_printf(out, " dma-coherent");
        if (a.vpages)
            mm__buf_printf(out, " vpages");
        mm__buf_printf(out, "\n");
    }
    if (mm__config_boot_vmap(&m->cfg))
        report_unpurged(m, out);
    return MM_OK;
}

/*
 * The static vm areas of a config-version-3 boot that s_show() lists:
 * iotable_init()'s remap of a lowmem CMA area (phys_addr set, VM_IOREMAP,
 * no guard page; its address is lowmem, below every other area) and
 * pci_reserve_io()'s vm_reserve_area_early() (VM_IOREMAP, no phys_addr).
 * Older configs keep the listing they were stored with.  KERNEL: 6.1
 * arch/arm/mm/mmu.c iotable_init(), pci_reserve_io(),
 * arch/arm/mm/ioremap.c vm_reserve_area_early(), mm/vmalloc.c s_show().
 */
static bool static_area(const struct mm_machine *m, const struct area *ar,
                        struct mm_vm_area *a)
{
    const struct mm_layout *lay = &m->lay;

    memset(a, 0, sizeof(*a));
    a->ioremap = true;
    if (ar == NULL) {
        a->start = (mm_vaddr_t)(m->cma_base - lay->phys_offset + lay->page_offset);
        a->end = a->start + m->cma_remap_bytes;
        a->caller = "iotable_init";
        a->phys = m->cma_base;
        return m->cma_remap_bytes != 0;
    }
    a->start = ar->start;
    a->end = ar->end;
    a->caller = "pci_reserve_io";
    return ar->kind == AREA_RESERVED && lay->pci_io_base != 0 &&
           ar->start == lay->pci_io_base && mm__config_late_boot(&m->cfg);
}

/* The areas s_show() lists, for both report forms and VmallocUsed: live ones
 * (lazily freed areas and the reserved windows are not listed, the static
 * areas are).  *@pos is 0 before the lowmem static area, then 1 + the index
 * of the next area to look at. */
bool mm__vm_area_next(const struct mm_machine *m, size_t *pos, struct mm_vm_area *a)
{
    const struct mm_vmap *v = m->vmap;

    if (*pos == 0) {
        *pos = 1;
        if (static_area(m, NULL, a))
            return true;
    }
    for (; *pos - 1 < v->n; (*pos)++) {
        const struct area *ar = &v->a[*pos - 1];

        if (ar->kind == AREA_RESERVED && static_area(m, ar, a)) {
            (*pos)++;
            return true;
        }
        if (ar->lazy || ar->kind == AREA_RESERVED)
            continue;
        (*pos)++;
        memset(a, 0, sizeof(*a));
        a->start = ar->start;
        a->end = ar->end;
        a->caller = caller_name(ar->caller);
        a->has_pages = holds_pages(ar);
        a->nr_pages = a->has_pages ? ar->nr_pages : 0;
        a->ioremap = ar->kind == AREA_IOREMAP;
        a->phys = a->ioremap ? ar->phys : 0;
        a->vmap = ar->kind == AREA_VMAP;
        a->vpages = ar->kind != AREA_VPAGES && ar->link != 0;
        a->vpages_area = ar->kind == AREA_VPAGES;
        a->vm_alloc = a->has_pages || ar->kind == AREA_PCPU;
        a->dma_coherent = ar->kind == AREA_DMA;
        return true;
    }
    return false;
}

/*
 * The lazily freed ranges show_purge_info() lists after the live areas:
 * purge_vmap_area_list in address order, each run of touching lazy areas
 * one entry (free_vmap_area_noflush() merges it into the purge tree with
 * merge_or_add_vmap_area()).  *@pos: index of the next area to look at.
 * KERNEL: 6.1 mm/vmalloc.c show_purge_info(), free_vmap_area_noflush().
 */
bool mm__vm_unpurged_next(const struct mm_machine *m, size_t *pos, mm_vaddr_t *start,
                          mm_vaddr_t *end)
{
    const struct mm_vmap *v = m->vmap;

    while (*pos < v->n && !v->a[*pos].lazy)
        (*pos)++;
    if (*pos >= v->n)
        return false;
    *start = v->a[*pos].start;
    *end = v->a[*pos].end;
    for ((*pos)++; *pos < v->n && v->a[*pos].lazy && v->a[*pos].start == *end; (*pos)++)
        *end = v->a[*pos].end;
    return true;
}

/*
 * A boot-time area (AREA_DMA: the atomic pool's remap, placed like vmap(),
 * PAGE_SIZE aligned with a guard page; AREA_PCPU: the per-CPU second chunk,
 * no guard, at the top of the vmalloc area as pcpu_get_vm_areas() places
 * it, aligned to pcpu_atom_size = PAGE_SIZE).  @pages: the pages it spans
 * (without the guard).  @phys: for AREA_DMA, the pool's pages (contiguous),
 * mapped with pgprot_dmacoherent(PAGE_KERNEL) (page_bits()); 0 maps
 * nothing.  Return: its start in res->value.  KERNEL: 6.1
 * kernel/dma/remap.c dma_common_contiguous_remap() -> vmap(),
 * mm/vmalloc.c pcpu_get_vm_areas(), pvm_determine_end_from_reverse().
 */
enum mm_status mm__vmap_boot_area(struct mm_machine *m, bool pcpu, uint32_t pages,
                                  mm_paddr_t phys, struct mm_result *res)
{
    const struct mm_layout *lay = &m->lay;
    struct mm_vmap *v = m->vmap;
    struct view w = { v, false, false, 0, 0 };
    struct vcache c = v->cache;
    struct area t = { 0 }, *ar;
    uint32_t size = pages * MM_PAGE_SIZE + (pcpu ? 0 : MM_PAGE_SIZE);
    mm_vaddr_t addr = lay->vmalloc_end - size;
    struct span first;
    bool purge = false;

    t.nr_pages = pages;
    t.kind = t.caller = pcpu ? AREA_PCPU : AREA_DMA;
    if (!reserve_areas(v, 1))
        return mm__fail(res->msg, MM_NO_MEMORY, "boot: out of host memory");
    if (pcpu) {
        if (size > lay->vmalloc_end - lay->vmalloc_start ||
            (view_first_end(&w, addr + 1, &first) && first.start < lay->vmalloc_end))
            return mm__fail(res->msg, MM_NO_MEMORY,
                            "boot: no room for the per-CPU chunk below 0x%08x",
                            lay->vmalloc_end);
        t.start = addr;
        t.end = addr + size;
        res->value = insert_area(v, &t)->start;
        return MM_OK;
    }
    if (!plan_area(m, &w, &c, size, 1, lay->vmalloc_start, lay->vmalloc_end, &addr,
                   &purge))
        return mm__fail(res->msg, MM_NO_MEMORY, "boot: no room for a %u-page remap",
                        pages);
    t.end = size;
    t.phys = phys;
    addr = commit_area(m, &t, 1, lay->vmalloc_start, lay->vmalloc_end)->start;
    res->value = addr;
    ar = find_area(v, addr);
    for (uint32_t i = 0; phys != 0 && i < pages; i++) {
        mm_vaddr_t va = addr + i * MM_PAGE_SIZE;

        if (mm__pte_alloc(m, va, "boot", res->msg) != MM_OK)
            return broken(m, res, "boot", "a page table");
        mm__set_pte(m, va, (phys + i * MM_PAGE_SIZE) | page_bits(m, ar, i));
    }
    return MM_OK;
}

/* Names the area at @va with boot caller @idx (vmboot61.c's table). */
void mm__vmap_set_caller(struct mm_machine *m, mm_vaddr_t va, unsigned idx)
{
    struct area *ar = find_area(m->vmap, va & ~(MM_PAGE_SIZE - 1));

    if (ar != NULL)
        ar->caller = (uint8_t)(MM_BOOT_CALLER + idx);
}

static bool l1_is_section(const struct mm_machine *m, mm_vaddr_t va)
{
    return (mm__l1_read(m, va >> 20) & L1_TYPE_MASK) == L1_TYPE_SECT;
}

/* The Linux PTEs of @va's 2 MiB step, read once per step (the checks run
 * after every operation): NULL when the step has no PTE page, or one never
 * written (all zero). */
static const uint32_t *step_ptes(const struct mm_machine *m, mm_vaddr_t va)
{
    if (!mm__has_pte_page(m, va))
        return NULL;
    return mm__phys_page(m->phys, MM_PFN(mm__pte_page(m, va)));
}

static unsigned pte_index(mm_vaddr_t va)
{
    return (va >> MM_PAGE_SHIFT) & (MM_PTRS_PER_PTE - 1);
}

/* Nothing of [start, end) is mapped: the guard page, a lazy area. */
static enum mm_status check_unmapped(const struct mm_machine *m, mm_vaddr_t start,
                                     mm_vaddr_t end, const char *what,
                                     char err[MM_MSG_MAX])
{
    uint64_t va = start;

    while (va < end) {
        uint64_t step_end = (va | (MM_PMD_SIZE - 1)) + 1;
        const uint32_t *pte = step_ptes(m, (mm_vaddr_t)va);
        bool sect = l1_is_section(m, (mm_vaddr_t)va) ||
                    l1_is_section(m, (mm_vaddr_t)va | MM_SECTION_SIZE);

        for (; va < end && va < step_end; va += PAGE_SZ) {
            if ((pte != NULL && pte[pte_index((mm_vaddr_t)va)] != 0) ||
                (sect && l1_is_section(m, (mm_vaddr_t)va)))
                return mm__fail(err, MM_INTERNAL, "vmalloc: %s page 0x%08x is mapped",
                                what, (uint32_t)va);
        }
    }
    return MM_OK;
}

/* The sections of a section ioremap hold its physical range. */
static enum mm_status check_sections(const struct mm_machine *m, const struct area *ar,
                                     char err[MM_MSG_MAX])
{
    for (uint32_t off = 0; off < ar->nr_pages * MM_PAGE_SIZE; off += MM_SECTION_SIZE) {
        unsigned idx = (ar->start + off) >> 20;
        uint32_t want = (ar->phys + off) | SECT_DEVICE;

        if (mm__l1_read(m, idx) != want)
            return mm__fail(err, MM_INTERNAL,
                            "vmalloc: L1[0x%03x] 0x%08x, ioremap wants 0x%08x", idx,
                            mm__l1_read(m, idx), want);
    }
    return MM_OK;
}

/* Each page of a live area maps what the area says, with its protection. */
static enum mm_status check_mapped(const struct mm_machine *m, const struct area *ar,
                                   char err[MM_MSG_MAX])
{
    const uint32_t *pte = NULL, *pfns = pfns_of(ar);

    if (ar->section)
        return check_sections(m, ar, err);
    for (uint32_t i = 0; i < ar->nr_pages; i++) {
        mm_vaddr_t va = ar->start + i * MM_PAGE_SIZE;
        mm_pfn_t pfn = pfns != NULL ? pfns[i] : MM_PFN(ar->phys) + i;
        uint32_t want = (pfn << MM_PAGE_SHIFT) | page_bits(m, ar, i);

        if (i == 0 || pte_index(va) == 0)
            pte = step_ptes(m, va);
        if (pte == NULL || pte[pte_index(va)] != want)
            return mm__fail(err, MM_INTERNAL,
                            "vmalloc: PTE of 0x%08x is 0x%08x, the area maps pfn 0x%x",
                            va, mm__pte_get(m, va), pfn);
    }
    return MM_OK;
}

/*
 * Each page a live vmalloc area holds is an order-0 block the buddy gives
 * to MM_OWN_VMALLOC, and no page is in two areas (a map of the RAM pfns
 * seen).  With machine.c's count of the buddy's MM_OWN_VMALLOC pages
 * this makes the two sets equal.  The map is skipped if host memory runs
 * out.
 */
static enum mm_status check_owned(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_vmap *v = m->vmap;
    /* The span of the pfns the areas hold only: a map of all 2^20
     * (128 KiB) cost an mmap and a munmap per check under ASan, most of
     * mm_check()'s time, and one of all RAM's pfns (16 KiB for 512 MiB)
     * cleared per check was 3% of fuzz_engine's; most checks see none. */
    mm_pfn_t base = UINT32_MAX, top = 0;
    uint32_t *seen = NULL;
    enum mm_status st = MM_OK;

    for (size_t i = 0; i < v->n; i++) {
        const struct area *ar = &v->a[i];

        const uint32_t *pfns = pfns_of(ar);

        for (uint32_t k = 0; !ar->lazy && holds_pages(ar) && k < ar->nr_pages; k++) {
            base = pfns[k] < base ? pfns[k] : base;
            top = pfns[k] > top ? pfns[k] : top;
        }
    }
    if (base <= top)
        seen = calloc((top - base) / 32 + 1, sizeof(*seen));
    for (size_t i = 0; st == MM_OK && i < v->n; i++) {
        const struct area *ar = &v->a[i];

        for (uint32_t k = 0; !ar->lazy && holds_pages(ar) && k < ar->nr_pages; k++) {
            mm_pfn_t pfn = pfns_of(ar)[k];
            struct mm_page_info pi;

            mm__page_info(m, pfn, &pi);
            if (pi.state != MM_PAGE_USED || pi.owner != MM_OWN_VMALLOC ||
                pi.head != pfn || pi.order != 0 ||
                (seen != NULL &&
                 (seen[(pfn - base) >> 5] & (1u << ((pfn - base) & 31))))) {
                st = mm__fail(err, MM_INTERNAL,
                              "vmalloc: page pfn 0x%x of 0x%08x is "
                              "not a vmalloc page of its own",
                              pfn, ar->start + k * MM_PAGE_SIZE);
                break;
            }
            if (seen != NULL)
                seen[(pfn - base) >> 5] |= 1u << ((pfn - base) & 31);
        }
    }
    free(seen);
    return st;
}

static bool in_window(const struct mm_machine *m, const struct area *ar)
{
    const struct mm_layout *lay = &m->lay;

    if (ar->kind == AREA_RESERVED)
        return true;
    if (ar->kind == AREA_MODULE)
        return ar->start >= lay->modules_vaddr && ar->end <= lay->modules_end;
    return ar->start >= lay->vmalloc_start && ar->end <= lay->vmalloc_end;
}

/* The link between a big area and its page array goes both ways. */
static enum mm_status check_link(const struct mm_vmap *v, const struct area *ar,
                                 char err[MM_MSG_MAX])
{
    const struct area *o;

    if (ar->link == 0 || ar->lazy)
        return ar->kind == AREA_VPAGES && !ar->lazy
                   ? mm__fail(err, MM_INTERNAL, "vmalloc: page array 0x%08x has no owner",
                              ar->start)
                   : MM_OK;
    o = find_start(v, ar->link);
    if (o == NULL || o->lazy || o->link != ar->start ||
        (o->kind == AREA_VPAGES) == (ar->kind == AREA_VPAGES))
        return mm__fail(err, MM_INTERNAL,
                        "vmalloc: area 0x%08x links to 0x%08x, which "
                        "does not link back",
                        ar->start, ar->link);
    return MM_OK;
}

/* A module area's rox is 0, or what mm__module_enable_ro() sets: ROX_SET,
 * text <= read-only <= its pages, on a live area of a STRICT_MODULE_RWX
 * build (bit 30 clear).  A vmalloc area's is 0, or what mm__vmap_lock_ro()
 * sets: ROX_SET, no text, all its pages read-only, on a live area of a
 * build whose boot locks its BPF program (mm__config_boot_maps()). */
static bool is_rox_valid(const struct mm_machine *m, const struct area *ar)
{
    uint32_t rox = ar->rox;

    if (rox == 0)
        return true;
    if ((rox & ROX_SET) == 0 || (rox & (1u << 30)) != 0 || ar->lazy)
        return false;
    if (ar->kind == AREA_VMALLOC)
        return ROX_TEXT(rox) == 0 && ROX_RO(rox) == ar->nr_pages &&
               mm__config_boot_maps(&m->cfg);
    return ROX_TEXT(rox) <= ROX_RO(rox) && ROX_RO(rox) <= ar->nr_pages &&
           mm__config_strict_module_rwx(&m->cfg);
}

static enum mm_status check_area(const struct mm_machine *m, size_t i, uint32_t *lazy,
                                 char err[MM_MSG_MAX])
{
    const struct mm_vmap *v = m->vmap;
    const struct area *ar = &v->a[i];
    enum mm_status st;

    if (ar->start >= ar->end || (ar->start | ar->end) & (MM_PAGE_SIZE - 1) ||
        !in_window(m, ar))
        return mm__fail(err, MM_INTERNAL,
                        "vmalloc: area 0x%08x-0x%08x is malformed or "
                        "outside its window",
                        ar->start, ar->end);
    if (i + 1 < v->n && ar->end > v->a[i + 1].start)
        return mm__fail(err, MM_INTERNAL, "vmalloc: area 0x%08x-0x%08x overlaps 0x%08x",
                        ar->start, ar->end, v->a[i + 1].start);
    if (ar->kind >= AREA_RESERVED && !(ar->kind == AREA_DMA && ar->phys != 0))
        return MM_OK; /* maps nothing followed here */
    if ((uint64_t)ar->nr_pages * PAGE_SZ + PAGE_SZ != (uint64_t)ar->end - ar->start)
        return mm__fail(err, MM_INTERNAL, "vmalloc: area 0x%08x: %u pages in 0x%x bytes",
                        ar->start, ar->nr_pages, ar->end - ar->start);
    if (ar->kind == AREA_MODULE && !is_rox_valid(m, ar))
        return mm__fail(err, MM_INTERNAL,
                        "vmalloc: module 0x%08x%s: protection 0x%08x is not text <= "
                        "read-only <= its %u pages on a STRICT_MODULE_RWX build",
                        ar->start, ar->lazy ? " (lazily freed)" : "", ar->rox,
                        ar->nr_pages);
    if (ar->kind == AREA_VMALLOC && !is_rox_valid(m, ar))
        return mm__fail(err, MM_INTERNAL,
                        "vmalloc: area 0x%08x%s: protection 0x%08x is not all its %u "
                        "pages read-only on a build that locks its BPF program",
                        ar->start, ar->lazy ? " (lazily freed)" : "", ar->rox,
                        ar->nr_pages);
    if (ar->lazy) {
        *lazy += (ar->end - ar->start) >> MM_PAGE_SHIFT;
        return check_unmapped(m, ar->start, ar->end, "lazily freed", err);
    }
    if (ar->kind == AREA_IOREMAP || ar->kind == AREA_DMA
            ? ar->pfns.heap != NULL
            : !pfns_inline(ar->nr_pages) && ar->pfns.heap == NULL)
        return mm__fail(err, MM_INTERNAL, "vmalloc: area 0x%08x has no page list",
                        ar->start);
    st = check_link(v, ar, err);
    if (st == MM_OK)
        st = check_mapped(m, ar, err);
    if (st == MM_OK)
        st = check_unmapped(m, ar->end - MM_PAGE_SIZE, ar->end, "guard", err);
    return st;
}

enum mm_status mm__vmap_check(const struct mm_machine *m, char err[MM_MSG_MAX])
{
    const struct mm_vmap *v = m->vmap;
    uint32_t lazy = 0;

    for (size_t i = 0; i < v->n; i++) {
        enum mm_status st = check_area(m, i, &lazy, err);

        if (st != MM_OK)
            return st;
    }
    if (check_owned(m, err) != MM_OK)
        return MM_INTERNAL;
    if (lazy != v->lazy_nr || lazy > lazy_max_pages(m))
        return mm__fail(
            err, MM_INTERNAL,
            "vmalloc: %u lazy pages in the areas, %u counted (purge above %u)", lazy,
            v->lazy_nr, lazy_max_pages(m));
    if (!lowest_fit(m) && v->cache.valid && find_start(v, v->cache.at) == NULL)
        return mm__fail(err, MM_INTERNAL,
                        "vmalloc: free_vmap_cache names 0x%08x, "
                        "which is no area",
                        v->cache.at);
    return MM_OK;
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/*
 * Payload: u32 vmap_lazy_nr; the next-fit cache (u8 valid, u32 at, hole,
 * vstart, align); u32 area count, then per area ascending: u32 start, end,
 * nr_pages, phys (module and vmalloc areas: rox), link; u8 kind, caller, flags (1 lazy, 2 section, 4 has
 * a page list), and with a page list nr_pages u32 pfns.
 */
#define SNAP_LAZY    1u
#define SNAP_SECTION 2u
#define SNAP_PFNS    4u

void mm__vmap_save(const struct mm_vmap *v, struct mm_buf *out)
{
    mm__wr_u32(out, v->lazy_nr);
    mm__wr_u8(out, v->cache.valid);
    mm__wr_u32(out, v->cache.at);
    mm__wr_u32(out, v->cache.hole);
    mm__wr_u32(out, v->cache.vstart);
    mm__wr_u32(out, v->cache.align);
    mm__wr_u32(out, (uint32_t)v->n);
    for (size_t i = 0; i < v->n; i++) {
        const struct area *ar = &v->a[i];
        const uint32_t *pfns = pfns_of(ar);

        mm__wr_u32(out, ar->start);
        mm__wr_u32(out, ar->end);
        mm__wr_u32(out, ar->nr_pages);
        mm__wr_u32(out, ar->phys);
        mm__wr_u32(out, ar->link);
        mm__wr_u8(out, ar->kind);
        mm__wr_u8(out, ar->caller);
        mm__wr_u8(out, (uint8_t)((ar->lazy ? SNAP_LAZY : 0) |
                                 (ar->section ? SNAP_SECTION : 0) |
                                 (pfns != NULL ? SNAP_PFNS : 0)));
        for (uint32_t k = 0; pfns != NULL && k < ar->nr_pages; k++)
            mm__wr_u32(out, pfns[k]);
    }
}

/* Reads one area into the end of @v (room reserved); areas must ascend. */
static void load_area(struct mm_vmap *v, struct mm_rd *rd)
{
    struct area ar = { 0 };
    uint8_t flags;
    bool want_pfns;

    ar.start = mm__rd_u32(rd);
    ar.end = mm__rd_u32(rd);
    ar.nr_pages = mm__rd_u32(rd);
    ar.phys = mm__rd_u32(rd);
    ar.link = mm__rd_u32(rd);
    ar.kind = mm__rd_u8(rd);
    ar.caller = mm__rd_u8(rd);
    flags = mm__rd_u8(rd);
    if (rd->st != MM_OK)
        return;
    ar.lazy = flags & SNAP_LAZY;
    ar.section = flags & SNAP_SECTION;
    want_pfns = has_pfns(&ar);
    if (ar.start >= ar.end || ar.kind > AREA_LAST ||
        (ar.caller > AREA_LAST &&
         (ar.caller < MM_BOOT_CALLER ||
          mm__boot_caller_name(ar.caller - MM_BOOT_CALLER) == NULL)) ||
        flags > 7 || ((flags & SNAP_PFNS) != 0) != want_pfns ||
        (v->n > 0 && v->a[v->n - 1].end > ar.start)) {
        mm__rd_fail(rd,
                    "area 0x%08x-0x%08x: kind %u, caller %u, flags %u (malformed, "
                    "or overlapping the one before)",
                    ar.start, ar.end, ar.kind, ar.caller, flags);
        return;
    }
    if (want_pfns) {
        if (!mm__rd_count(rd, ar.nr_pages, 4, (ar.end - ar.start) >> MM_PAGE_SHIFT,
                          "pages in an area"))
            return;
        uint32_t *heap = pfns_alloc(ar.nr_pages), *pfns;

        if (heap == NULL && !pfns_inline(ar.nr_pages)) {
            mm__rd_oom(rd);
            return;
        }
        set_pfns(v, &ar, heap);
        pfns = pfns_w(&ar);
        for (uint32_t k = 0; k < ar.nr_pages; k++)
            pfns[k] = mm__rd_u32(rd);
        for (uint32_t k = 0; k < ar.nr_pages && rd->st == MM_OK; k++)
            if (pfns[k] >= (1u << 20))
                mm__rd_fail(rd, "area 0x%08x page %u: pfn 0x%x", ar.start, k, pfns[k]);
        if (rd->st != MM_OK) {
            v->pfn_bytes -= heap_bytes(ar.nr_pages);
            free(heap);
            return;
        }
    }
    v->a[v->n++] = ar;
}

void mm__vmap_load(struct mm_machine *m, struct mm_rd *rd)
{
    struct mm_vmap *v = calloc(1, sizeof(*v));
    uint32_t n;

    if (v == NULL) {
        mm__rd_oom(rd);
        return;
    }
    v->lazy_nr = mm__rd_u32(rd);
    v->cache.valid = mm__rd_u8(rd) != 0;
    v->cache.at = mm__rd_u32(rd);
    v->cache.hole = mm__rd_u32(rd);
    v->cache.vstart = mm__rd_u32(rd);
    v->cache.align = mm__rd_u32(rd);
    n = mm__rd_u32(rd);
    if (mm__rd_count(rd, n, 23, 1u << 20, "areas")) {
        if (n > 0 && !reserve_areas(v, n))
            mm__rd_oom(rd);
        else
            for (uint32_t i = 0; i < n && rd->st == MM_OK; i++)
                load_area(v, rd);
    }
    if (rd->st != MM_OK) {
        mm__vmap_destroy(v);
        return;
    }
    mm__vmap_destroy(m->vmap);
    m->vmap = v;
}
